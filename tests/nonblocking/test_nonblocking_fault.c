/* SPDX-License-Identifier: MIT */
/*
 * Non-blocking mode against the scripted fault server: every case runs twice on the same script,
 * once with blocking calls and once through an epoll loop in non-blocking mode, and the two runs
 * must end alike: the same status and message for every operation, the same bytes on the wire.
 * Cases: the server closes at each step of a session, replies come a few bytes at a time, and a
 * deadline passes while the caller's loop is busy elsewhere (the step reports SMTPC_ETIMEOUT).
 */
#include "fault_common.h"
#include "fault_malformed_cases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "nb_compare.h"
#include "nb_loop.h"

#define MSG "Subject: t\r\n\r\nhello\r\n"
#define MSG_WIRE MSG ".\r\n"
#define LIMIT_MS 10000

typedef void (*script_fn)(fault_fixture *f, int variant);

/* What one run of a session gave: each operation's status and message, and the transcript. */
typedef struct outcome {
    int ops;
    smtpc_status st[4];
    char msg[4][512];
    char *transcript;
    size_t transcript_len;
} outcome;

/* Runs connect, sendmail, quit (stopping at the first failure), blocking or through the loop. */
static smtpc_status run_op(fault_fixture *f, int nonblocking, int op) {
    smtpc_client *c = f->client;
    smtpc_status st;
    switch (op) {
    case 0: st = fault_connect(f); break;
    case 1: st = smtpc_client_sendmail(c, f->env, MSG, SMTPC_NTS); break;
    default: st = smtpc_client_quit(c); break;
    }
    if (!nonblocking) {
        assert_int_not_equal(st, SMTPC_EAGAIN);
        return st;
    }
    nb_slot s = {c, 0, SMTPC_OK, -1, 0, 0};
    return nb_finish(&s, st, LIMIT_MS);
}

static void run_session(script_fn script, int variant, int nonblocking, uint32_t command_ms, outcome *out) {
    void *state = NULL;
    assert_int_equal(fault_setup(&state), 0);
    fault_fixture *f = state;
    script(f, variant);
    fault_start(f);
    fault_client(f, 5000, command_ms);
    assert_int_equal(smtpc_client_set_nonblocking(f->client, nonblocking), SMTPC_OK);
    f->env = fault_envelope(f, "r@example.org", NULL);
    memset(out, 0, sizeof *out);
    for (int op = 0; op < 3; op++) {
        smtpc_status st = run_op(f, nonblocking, op);
        out->st[op] = st;
        snprintf(out->msg[op], sizeof out->msg[op], "%s", smtpc_client_errmsg(f->client));
        out->ops = op + 1;
        assert_int_equal(smtpc_client_last_status(f->client), st);
        if (st != SMTPC_OK) break;
    }
    fault_finish(f, 5000);
    out->transcript = malloc(f->transcript_len + 1);
    assert_non_null(out->transcript);
    memcpy(out->transcript, f->transcript, f->transcript_len);
    out->transcript_len = f->transcript_len;
    fault_teardown(&state);
}

static void compare(script_fn script, int variant, uint32_t command_ms, smtpc_status want_last) {
    outcome b, n;
    run_session(script, variant, 0, command_ms, &b);
    run_session(script, variant, 1, command_ms, &n);
    if (b.ops != n.ops)
        fail_msg("variant %d: %d operations blocking, %d non-blocking", variant, b.ops, n.ops);
    for (int i = 0; i < b.ops; i++) {
        if (b.st[i] != n.st[i] || strcmp(b.msg[i], n.msg[i]) != 0)
            fail_msg("variant %d, operation %d: blocking %s (%s), non-blocking %s (%s)", variant, i,
                     smtpc_status_name(b.st[i]), b.msg[i], smtpc_status_name(n.st[i]), n.msg[i]);
    }
    if (b.st[b.ops - 1] != want_last)
        fail_msg("variant %d: ended with %s, expected %s", variant, smtpc_status_name(b.st[b.ops - 1]),
                 smtpc_status_name(want_last));
    if (b.transcript_len != n.transcript_len || memcmp(b.transcript, n.transcript, b.transcript_len) != 0)
        fail_msg("variant %d: the transcripts differ (%zu and %zu bytes)", variant, b.transcript_len,
                 n.transcript_len);
    free(b.transcript);
    free(n.transcript);
}

/* The server closes at step `variant` of a session. */
static void script_disconnect(fault_fixture *f, int variant) {
    if (variant == 0) { /* before the greeting */
        sc_close(f);
        return;
    }
    if (variant == 1) { /* half a greeting */
        sc_send(f, "220 fault.te");
        sc_close(f);
        return;
    }
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    if (variant == 2) { /* at EHLO */
        sc_close(f);
        return;
    }
    sc_send(f, RPL_EHLO);
    sc_expect(f, "MAIL FROM:");
    if (variant == 3) {
        sc_close(f);
        return;
    }
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT TO:");
    if (variant == 4) {
        sc_close(f);
        return;
    }
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    if (variant == 5) {
        sc_close(f);
        return;
    }
    sc_send(f, RPL_354);
    sc_read_data(f);
    if (variant == 6) { /* after the message, before its reply: delivery unknown */
        sc_close(f);
        return;
    }
    sc_send(f, RPL_OK);
    sc_expect(f, "QUIT");
    if (variant == 7) {
        sc_close(f);
        return;
    }
    sc_send(f, RPL_BYE);
    sc_close(f);
}

static void test_disconnect_at_each_step(void **state) {
    (void)state;
    static const smtpc_status want[] = {SMTPC_EDISCONNECTED,     SMTPC_EDISCONNECTED, SMTPC_EDISCONNECTED,
                                        SMTPC_EDISCONNECTED,     SMTPC_EDISCONNECTED, SMTPC_EDISCONNECTED,
                                        SMTPC_EDELIVERY_UNKNOWN, SMTPC_EDISCONNECTED, SMTPC_OK};
    for (int v = 0; v < (int)(sizeof want / sizeof want[0]); v++)
        compare(script_disconnect, v, 5000, want[v]);
}

/* Every reply a few bytes at a time: the step takes partial replies and waits for the rest. */
static void script_slow(fault_fixture *f, int variant) {
    (void)variant;
    sc_send_slowly(f, RPL_GREETING, 0.002);
    sc_expect(f, "EHLO ");
    sc_send_slowly(f, RPL_EHLO, 0.002);
    sc_expect(f, "MAIL FROM:");
    sc_send_slowly(f, RPL_OK, 0.002);
    sc_expect(f, "RCPT TO:");
    sc_send_slowly(f, RPL_OK, 0.002);
    sc_expect(f, "DATA");
    sc_send_slowly(f, RPL_354, 0.002);
    sc_read_data(f);
    sc_send_slowly(f, RPL_OK, 0.002);
    sc_expect(f, "QUIT");
    sc_send_slowly(f, RPL_BYE, 0.002);
    sc_close(f);
}

static void test_slow_replies(void **state) {
    (void)state;
    compare(script_slow, 0, 5000, SMTPC_OK);
}

/* A server that does not answer MAIL within the command timeout. */
static void script_silent(fault_fixture *f, int variant) {
    (void)variant;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO);
    sc_expect(f, "MAIL FROM:");
    sc_sleep(f, 3);
    sc_close(f);
}

static void test_timeout_same_as_blocking(void **state) {
    (void)state;
    compare(script_silent, 0, 300, SMTPC_ETIMEOUT);
}

/* The deadline passes while the caller's loop is busy elsewhere: the next step (made late, without
 * the descriptor being ready) ends the operation with SMTPC_ETIMEOUT at once. */
static void test_deadline_passes_while_busy(void **state) {
    fault_fixture *f = *state;
    script_silent(f, 0);
    fault_start(f);
    fault_client(f, 5000, 300);
    assert_int_equal(smtpc_client_set_nonblocking(f->client, 1), SMTPC_OK);
    f->env = fault_envelope(f, "r@example.org", NULL);
    nb_slot s = {f->client, 0, SMTPC_OK, -1, 0, 0};
    assert_int_equal(nb_finish(&s, fault_connect(f), LIMIT_MS), SMTPC_OK);
    int64_t t0 = nb_now_ms();
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS);
    /* EHLO goes out and its reply is read by steps; stop once MAIL is waiting for its reply. */
    while (st == SMTPC_EAGAIN && smtpc_client_deadline_ms(f->client) >= 0 && nb_now_ms() - t0 < 200) {
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
        st = smtpc_client_step(f->client);
    }
    assert_int_equal(st, SMTPC_EAGAIN);
    int64_t deadline = smtpc_client_deadline_ms(f->client);
    assert_true(deadline > 0);
    /* Busy elsewhere, well past the deadline. */
    struct timespec busy = {0, 700 * 1000000};
    nanosleep(&busy, NULL);
    assert_true(nb_now_ms() > deadline);
    int64_t t1 = nb_now_ms();
    st = smtpc_client_step(f->client);
    ASSERT_STATUS(f, st, SMTPC_ETIMEOUT);
    assert_true(nb_now_ms() - t1 < 100);
    assert_string_equal(smtpc_client_errmsg(f->client), "timed out waiting for the server's reply");
    assert_int_equal(smtpc_client_wants(f->client), 0);
    assert_int_equal(smtpc_client_deadline_ms(f->client), -1);
    fault_finish(f, 5000);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org"));
}

/* smtpc_client_cancel() (any thread) ends the operation in progress at the next step, as a blocking
 * call's wait: SMTPC_ECANCELLED, the connection closed, nothing more sent. */
static void test_cancel_at_next_step(void **state) {
    fault_fixture *f = *state;
    script_silent(f, 0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    assert_int_equal(smtpc_client_set_nonblocking(f->client, 1), SMTPC_OK);
    f->env = fault_envelope(f, "r@example.org", NULL);
    nb_slot s = {f->client, 0, SMTPC_OK, -1, 0, 0};
    assert_int_equal(nb_finish(&s, fault_connect(f), LIMIT_MS), SMTPC_OK);
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS);
    int64_t t0 = nb_now_ms();
    while (st == SMTPC_EAGAIN && nb_now_ms() - t0 < 200) {
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
        st = smtpc_client_step(f->client);
    }
    assert_int_equal(st, SMTPC_EAGAIN); /* MAIL waits for its reply */
    smtpc_client_cancel(f->client);
    ASSERT_STATUS(f, smtpc_client_step(f->client), SMTPC_ECANCELLED);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(smtpc_client_wants(f->client), 0);
    fault_finish(f, 5000);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org"));
}

/* One operation at a time; close abandons the one in progress. */
static void test_one_operation_at_a_time(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_sleep(f, 1);
    sc_close(f);
    fault_start(f);
    fault_client(f, 5000, 5000);
    assert_int_equal(smtpc_client_set_nonblocking(f->client, 1), SMTPC_OK);
    nb_slot s = {f->client, 0, SMTPC_OK, -1, 0, 0};
    assert_int_equal(nb_finish(&s, fault_connect(f), LIMIT_MS), SMTPC_OK);
    assert_int_equal(smtpc_client_ehlo(f->client, NULL, 0), SMTPC_EAGAIN);
    assert_int_equal(smtpc_client_last_status(f->client), SMTPC_EAGAIN);
    assert_true(smtpc_client_fd(f->client) >= 0);
    assert_true(smtpc_client_wants(f->client) != 0);
    assert_int_equal(smtpc_client_noop(f->client), SMTPC_ESTATE);
    assert_int_equal(smtpc_client_set_nonblocking(f->client, 0), SMTPC_ESTATE);
    smtpc_client_close(f->client);
    assert_int_equal(smtpc_client_wants(f->client), 0);
    /* The loop stepping the abandoned operation learns that it ended; then nothing is in progress. */
    assert_int_equal(smtpc_client_step(f->client), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_step(f->client), SMTPC_OK);
    assert_int_equal(smtpc_client_last_status(f->client), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_noop(f->client), SMTPC_ENOTCONN);
    fault_finish(f, 5000);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
}

/* ---------------------------------------------------------------------------------------------- */
/* The same cases as the blocking fault tests, through both paths (nb_compare.h)                  */
/* ---------------------------------------------------------------------------------------------- */

#define NB_WIRE(lit) lit, sizeof(lit) - 1

/* 421 at each step (tests/fault/test_fault_421.c): the server then reads until the client closes,
 * so that anything sent after the 421 is in the transcript. */
enum at421 {
    A_GREETING,
    A_GREETING_MULTI,
    A_EHLO,
    A_MAIL,
    A_RCPT_PIPELINED,
    A_RCPT_LOCKSTEP,
    A_DATA,
    A_DOT,
    A_NOOP
};

static void script_421(fault_fixture *f, int at, const char *bytes, size_t len) {
    (void)bytes;
    (void)len;
    switch (at) {
    case A_GREETING: sc_send(f, RPL_421); break;
    case A_GREETING_MULTI: sc_send(f, "421-fault.test\r\n421 too busy\r\n"); break;
    case A_EHLO:
        sc_send(f, RPL_GREETING);
        sc_expect(f, "EHLO ");
        sc_send(f, RPL_421);
        break;
    case A_MAIL:
        sc_hello(f, 0);
        sc_expect(f, "MAIL ");
        sc_send(f, RPL_421);
        break;
    case A_RCPT_PIPELINED:
        sc_hello(f, 1);
        sc_expect_lines(f, 5); /* MAIL, RCPT x3, DATA */
        sc_send(f, RPL_OK RPL_OK RPL_421);
        break;
    case A_RCPT_LOCKSTEP:
        sc_hello(f, 0);
        sc_expect(f, "MAIL ");
        sc_send(f, RPL_OK);
        sc_expect(f, "RCPT ");
        sc_send(f, RPL_OK);
        sc_expect(f, "RCPT ");
        sc_send(f, RPL_421);
        break;
    case A_DATA:
        sc_hello(f, 1);
        sc_expect_lines(f, 3);
        sc_send(f, RPL_OK RPL_OK RPL_421);
        break;
    case A_DOT:
        sc_hello(f, 0);
        sc_expect(f, "MAIL ");
        sc_send(f, RPL_OK);
        sc_expect(f, "RCPT ");
        sc_send(f, RPL_OK);
        sc_expect(f, "DATA");
        sc_send(f, RPL_354);
        sc_read_data(f);
        sc_send(f, RPL_421);
        break;
    case A_NOOP:
        sc_send(f, RPL_GREETING);
        sc_expect(f, "NOOP");
        sc_send(f, RPL_421);
        break;
    }
    sc_expect_eof(f, 5.0);
}

/* The low-level calls: MAIL, RCPT, the final dot after DATA answered with 421. */
static void script_421_lowlevel(fault_fixture *f, int at, const char *bytes, size_t len) {
    (void)bytes;
    (void)len;
    sc_hello(f, 0);
    if (at == A_DOT) {
        sc_expect(f, "DATA");
        sc_send(f, RPL_354);
        sc_read_data(f);
    } else {
        sc_expect(f, "MAIL ");
        if (at == A_RCPT_LOCKSTEP) {
            sc_send(f, RPL_OK);
            sc_expect(f, "RCPT ");
        }
    }
    sc_send(f, RPL_421);
    sc_expect_eof(f, 5.0);
}

#define S_MAIL W_MAIL("s@example.org")
#define S_R(n) W_RCPT("r" #n "@example.org")

static void test_421_at_each_step(void **state) {
    (void)state;
    static const nb_case cases[] = {
        {.name = "421 greeting",
         .script = script_421,
         .variant = A_GREETING,
         .ops = {NB_CONNECT, NB_NOOP},
         .want = SMTPC_EGREETING,
         .wire = NB_WIRE("")},
        {.name = "421 multiline greeting",
         .script = script_421,
         .variant = A_GREETING_MULTI,
         .ops = {NB_CONNECT},
         .want = SMTPC_EGREETING,
         .wire = NB_WIRE("")},
        {.name = "421 to EHLO",
         .script = script_421,
         .variant = A_EHLO,
         .ops = {NB_CONNECT, NB_EHLO, NB_NOOP},
         .want = SMTPC_ECLOSING,
         .wire = NB_WIRE(W_EHLO)},
        {.name = "421 to EHLO (ehlo_or_helo_if_needed)",
         .script = script_421,
         .variant = A_EHLO,
         .ops = {NB_CONNECT, NB_EHLO_OR_HELO},
         .want = SMTPC_ECLOSING,
         .wire = NB_WIRE(W_EHLO)},
        {.name = "421 to MAIL (sendmail)",
         .script = script_421,
         .variant = A_MAIL,
         .rcpts = 2,
         .ops = {NB_CONNECT, NB_SENDMAIL, NB_QUIT},
         .want = SMTPC_ESENDER_REFUSED,
         .wire = NB_WIRE(W_EHLO S_MAIL)},
        {.name = "421 to a pipelined RCPT",
         .script = script_421,
         .variant = A_RCPT_PIPELINED,
         .rcpts = 3,
         .ops = {NB_CONNECT, NB_SENDMAIL},
         .want = SMTPC_ERECIPIENTS_REFUSED,
         .wire = NB_WIRE(W_EHLO S_MAIL S_R(1) S_R(2) S_R(3) W_DATA)},
        {.name = "421 to a lock-step RCPT",
         .script = script_421,
         .variant = A_RCPT_LOCKSTEP,
         .rcpts = 3,
         .ops = {NB_CONNECT, NB_SENDMAIL},
         .want = SMTPC_ERECIPIENTS_REFUSED,
         .wire = NB_WIRE(W_EHLO S_MAIL S_R(1) S_R(2))},
        {.name = "421 to DATA",
         .script = script_421,
         .variant = A_DATA,
         .ops = {NB_CONNECT, NB_SENDMAIL},
         .want = SMTPC_EDATA_REFUSED,
         .wire = NB_WIRE(W_EHLO S_MAIL S_R(1) W_DATA)},
        {.name = "421 after the dot",
         .script = script_421,
         .variant = A_DOT,
         .ops = {NB_CONNECT, NB_SENDMAIL},
         .want = SMTPC_EDATA_REFUSED,
         .wire = NB_WIRE(W_EHLO S_MAIL S_R(1) W_DATA NB_MSG_WIRE)},
        {.name = "421 to NOOP",
         .script = script_421,
         .variant = A_NOOP,
         .ops = {NB_CONNECT, NB_NOOP, NB_NOOP, NB_QUIT},
         .want = SMTPC_ECLOSING,
         .wire = NB_WIRE(W_NOOP)},
        {.name = "421 to mail()",
         .script = script_421_lowlevel,
         .variant = A_MAIL,
         .ops = {NB_CONNECT, NB_EHLO, NB_MAIL, NB_RCPT},
         .want = SMTPC_ECLOSING,
         .wire = NB_WIRE(W_EHLO S_MAIL)},
        {.name = "421 to rcpt()",
         .script = script_421_lowlevel,
         .variant = A_RCPT_LOCKSTEP,
         .ops = {NB_CONNECT, NB_EHLO, NB_MAIL, NB_RCPT},
         .want = SMTPC_ECLOSING,
         .wire = NB_WIRE(W_EHLO S_MAIL S_R(1))},
        {.name = "421 after the dot (data())",
         .script = script_421_lowlevel,
         .variant = A_DOT,
         .ops = {NB_CONNECT, NB_EHLO, NB_DATA},
         .want = SMTPC_ECLOSING,
         .wire = NB_WIRE(W_EHLO W_DATA NB_MSG_WIRE)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) nb_compare_case(&cases[i]);
}

/* 421 in a queued batch (tests/batch/test_batch_fault.c): message 1 delivered, message 2's MAIL
 * answered with 421 and the connection closed, message 3 not sent. */
static void script_421_batch(fault_fixture *f, int variant, const char *bytes, size_t len) {
    (void)variant;
    (void)bytes;
    (void)len;
    sc_hello(f, 1);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_until(f, "\r\n.\r\n");
    sc_expect_lines(f, 3);
    sc_send_then_close(f, RPL_OK RPL_421);
}

static void test_421_in_a_queued_batch(void **state) {
    (void)state;
    static const nb_case k = {
        .name = "421 in a queued batch",
        .script = script_421_batch,
        .ops = {NB_CONNECT, NB_ENQUEUE, NB_ENQUEUE, NB_ENQUEUE, NB_NEXT_RESULT, NB_NEXT_RESULT,
                NB_NEXT_RESULT, NB_NEXT_RESULT},
        .want = SMTPC_OK,
        .wire = NB_WIRE(W_EHLO S_MAIL S_R(1) W_DATA "m1\r\n.\r\n" S_MAIL S_R(1) W_DATA),
    };
    nb_compare_case(&k);
}

/* Malformed replies: the table of tests/fault/test_fault_malformed.c, as the greeting and as the reply
 * to NOOP; then the long, unsolicited and early replies of the same file. */
static void script_bad_greeting(fault_fixture *f, int variant, const char *bytes, size_t len) {
    (void)variant;
    sc_send_n(f, bytes, len);
    sc_expect_eof(f, 5.0);
}

static void script_bad_reply(fault_fixture *f, int variant, const char *bytes, size_t len) {
    (void)variant;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_send_n(f, bytes, len);
    sc_expect_eof(f, 5.0);
}

typedef struct bad_bytes {
    const char *name, *greeting, *reply;
    size_t greeting_len, reply_len;
} bad_bytes;

#define BAD_ENTRY(name, g, r) {#name, g, r, sizeof(g) - 1, sizeof(r) - 1},
static const bad_bytes kBad[] = {FAULT_MALFORMED_CASES(BAD_ENTRY)};

static void test_malformed_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof kBad / sizeof kBad[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "malformed greeting %s", kBad[i].name);
        nb_case g = {.name = name,
                     .script = script_bad_greeting,
                     .bytes = kBad[i].greeting,
                     .len = kBad[i].greeting_len,
                     .ops = {NB_CONNECT, NB_NOOP},
                     .want = SMTPC_EPROTOCOL,
                     .wire = NB_WIRE("")};
        nb_compare_case(&g);
        snprintf(name, sizeof name, "malformed reply %s", kBad[i].name);
        nb_case r = {.name = name,
                     .script = script_bad_reply,
                     .bytes = kBad[i].reply,
                     .len = kBad[i].reply_len,
                     .ops = {NB_CONNECT, NB_NOOP, NB_NOOP},
                     .want = SMTPC_EPROTOCOL,
                     .wire = NB_WIRE(W_NOOP)};
        nb_compare_case(&r);
    }
}

enum malformed_kind {
    M_1MB_LINE,
    M_1MB_GREETING_NO_CRLF,
    M_100000_LINES,
    M_AFTER_GREETING,
    M_PARTIAL_AFTER_GREETING,
    M_AFTER_REPLY,
    M_LATE_REPLY,
    M_EARLY_FINAL,
    M_EARLY_FINAL_PIPELINED,
    M_EHLO_HELO_REFUSED,
};

static void script_malformed(fault_fixture *f, int kind, const char *bytes, size_t len) {
    (void)bytes;
    (void)len;
    static char chunk[1025], lines[701];
    memset(chunk, 'x', 1024);
    for (int i = 0; i < 100; i++) memcpy(lines + 7 * i, "250-x\r\n", 7);
    switch (kind) {
    case M_1MB_LINE:
        sc_send(f, RPL_GREETING);
        sc_expect(f, "NOOP");
        sc_send(f, "250 ");
        sc_send_repeat(f, chunk, 1024);
        sc_send(f, "\r\n");
        break;
    case M_1MB_GREETING_NO_CRLF:
        sc_send(f, "220 ");
        sc_send_repeat(f, chunk, 1024);
        break;
    case M_100000_LINES:
        sc_send(f, RPL_GREETING);
        sc_expect(f, "EHLO ");
        sc_send_repeat(f, lines, 1000);
        sc_send(f, "250 end\r\n");
        break;
    case M_AFTER_GREETING: sc_send(f, RPL_GREETING "250 unsolicited\r\n"); break;
    case M_PARTIAL_AFTER_GREETING: sc_send(f, RPL_GREETING "250-AUTH PLAIN"); break;
    case M_AFTER_REPLY:
        sc_send(f, RPL_GREETING);
        sc_expect(f, "NOOP");
        sc_send(f, "250 first\r\n250 injected\r\n");
        break;
    case M_LATE_REPLY:
        sc_send(f, RPL_GREETING);
        sc_expect(f, "NOOP");
        sc_send(f, "250 first\r\n");
        sc_sleep(f, 0.1);
        sc_send(f, "250 injected\r\n");
        break;
    case M_EARLY_FINAL:
    case M_EARLY_FINAL_PIPELINED: {
        int pipelining = kind == M_EARLY_FINAL_PIPELINED;
        sc_hello(f, pipelining);
        sc_expect(f, "MAIL ");
        if (!pipelining) sc_send(f, RPL_OK);
        sc_expect(f, "RCPT ");
        if (!pipelining) sc_send(f, RPL_OK);
        sc_expect(f, "DATA");
        sc_send(f, pipelining ? RPL_OK RPL_OK RPL_354 "250 2.0.0 queued early\r\n"
                              : RPL_354 "250 2.0.0 queued early\r\n");
        break;
    }
    case M_EHLO_HELO_REFUSED:
        sc_send(f, RPL_GREETING);
        sc_expect(f, "EHLO ");
        sc_send(f, "500 5.5.1 what\r\n");
        sc_expect(f, "HELO ");
        sc_send(f, "501 5.5.4 no\r\n");
        sc_expect(f, "QUIT");
        sc_send(f, RPL_BYE);
        break;
    }
    sc_expect_eof(f, 5.0);
}

static void test_malformed_other(void **state) {
    (void)state;
    static const nb_case cases[] = {
        {.name = "1 MiB reply line",
         .script = script_malformed,
         .variant = M_1MB_LINE,
         .ops = {NB_CONNECT, NB_NOOP},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE(W_NOOP)},
        {.name = "1 MiB greeting without CRLF",
         .script = script_malformed,
         .variant = M_1MB_GREETING_NO_CRLF,
         .ops = {NB_CONNECT},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE("")},
        {.name = "100000 reply lines",
         .script = script_malformed,
         .variant = M_100000_LINES,
         .ops = {NB_CONNECT, NB_EHLO},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE(W_EHLO)},
        {.name = "a line after the greeting",
         .script = script_malformed,
         .variant = M_AFTER_GREETING,
         .ops = {NB_CONNECT, NB_EHLO},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE("")},
        {.name = "a partial line after the greeting",
         .script = script_malformed,
         .variant = M_PARTIAL_AFTER_GREETING,
         .ops = {NB_CONNECT, NB_EHLO},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE("")},
        {.name = "a reply behind the reply",
         .script = script_malformed,
         .variant = M_AFTER_REPLY,
         .ops = {NB_CONNECT, NB_NOOP, NB_NOOP},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE(W_NOOP)},
        {.name = "a late unsolicited reply",
         .script = script_malformed,
         .variant = M_LATE_REPLY,
         .ops = {NB_CONNECT, NB_NOOP, NB_PAUSE, NB_NOOP},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE(W_NOOP)},
        {.name = "the final reply before the message",
         .script = script_malformed,
         .variant = M_EARLY_FINAL,
         .ops = {NB_CONNECT, NB_SENDMAIL},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE(W_EHLO S_MAIL S_R(1) W_DATA)},
        {.name = "the final reply before the message (pipelined)",
         .script = script_malformed,
         .variant = M_EARLY_FINAL_PIPELINED,
         .ops = {NB_CONNECT, NB_SENDMAIL},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE(W_EHLO S_MAIL S_R(1) W_DATA)},
        {.name = "EHLO and HELO refused",
         .script = script_malformed,
         .variant = M_EHLO_HELO_REFUSED,
         .ops = {NB_CONNECT, NB_SENDMAIL, NB_QUIT},
         .want = SMTPC_EHELO,
         .wire = NB_WIRE(W_EHLO W_HELO W_QUIT)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) nb_compare_case(&cases[i]);
}

/* A refusal while the body is still being written, then a close (tests/fault/
 * test_fault_refusal_close.c, refused_mid_body): the server reads 64 KiB of a 16 MiB message, sends
 * 552 and closes three ways. How much of the body arrives first depends on timing, so the two
 * transcripts agree up to the shorter one; statuses, messages and replies are the same. */
enum how { HALF, CLOSE, RST };

static void script_mid_body(fault_fixture *f, int how, const char *bytes, size_t len) {
    (void)bytes;
    (void)len;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_bytes(f, 65536);
    static const char refusal[] = "552 5.3.4 message too big\r\n";
    if (how == HALF) {
        sc_send(f, refusal);
        sc_shutdown_write(f);
        sc_expect_eof(f, 5.0);
    } else if (how == CLOSE) {
        sc_send_then_close(f, refusal);
    } else {
        sc_send_then_rst(f, refusal);
    }
    f->extra_args[0] = "--rcvbuf";
    f->extra_args[1] = "65536";
}

static void test_refusal_close_mid_body(void **state) {
    (void)state;
    size_t size = 16u << 20;
    char *body = malloc(size + 1);
    assert_non_null(body);
    static const char line[] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd\r\n";
    for (size_t i = 0; i < size; i++) body[i] = line[i % (sizeof line - 1)];
    size -= size % (sizeof line - 1);
    body[size] = '\0';
    static const char *const names[] = {"552 mid-body, then FIN", "552 mid-body, then close",
                                        "552 mid-body, then reset"};
    for (int how = HALF; how <= RST; how++) {
        nb_case k = {.name = names[how],
                     .script = script_mid_body,
                     .variant = how,
                     .body = body,
                     .body_len = size,
                     .ops = {NB_CONNECT, NB_SENDMAIL, NB_NOOP},
                     .want = SMTPC_EDATA_REFUSED,
                     .transcript_timing = 1};
        nb_compare_case(&k);
    }
    free(body);
}

/* ---------------------------------------------------------------------------------------------- */
/* A source address given as a name                                                               */
/* ---------------------------------------------------------------------------------------------- */

/* A loopback port free at the time of asking. */
static uint16_t free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* The source "localhost" (a name) with the destination 127.0.0.1 (a literal): the name is resolved on
 * the resolver thread, so connect() returns SMTPC_EAGAIN with the resolver's socket to watch (nothing
 * was resolved on this thread); the connection is then bound to 127.0.0.1 and the port asked for. */
static void test_source_address_name(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    assert_int_equal(smtpc_client_set_nonblocking(f->client, 1), SMTPC_OK);
    uint16_t port = free_port();
    assert_int_equal(smtpc_client_set_source_address(f->client, "localhost", SMTPC_NTS, port), SMTPC_OK);
    smtpc_status st = fault_connect(f);
    /* The resolver thread may finish (/etc/hosts), the loopback connect succeed and the greeting
     * arrive before connect() returns: then the whole operation ended at once. */
    if (st == SMTPC_EAGAIN) {
        /* The resolver thread's wake-up socket (AF_UNIX), not the connection's (AF_INET). */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        memset(&ss, 0, sizeof ss);
        assert_int_equal(getsockname(smtpc_client_fd(f->client), (struct sockaddr *)&ss, &sl), 0);
        if (ss.ss_family != AF_UNIX)
            fail_msg("connect() did not hand the source's name to the resolver thread");
    }
    nb_slot s = {f->client, 0, SMTPC_OK, -1, 0, 0};
    ASSERT_STATUS(f, nb_finish(&s, st, LIMIT_MS), SMTPC_OK);
    /* Reading the local address changes nothing on the descriptor. */
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    assert_int_equal(getsockname(smtpc_client_fd(f->client), (struct sockaddr *)&local, &len), 0);
    assert_int_equal(local.sin_family, AF_INET);
    assert_int_equal(ntohl(local.sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_equal(ntohs(local.sin_port), port);
    ASSERT_STATUS(f, nb_finish(&s, smtpc_client_quit(f->client), LIMIT_MS), SMTPC_OK);
    assert_int_equal(fault_finish(f, 5000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_QUIT);
}

static smtpc_client *client_name_source(fault_fixture *f, uint32_t command_ms) {
    smtpc_client *c = fault_client(f, 5000, command_ms);
    assert_int_equal(smtpc_client_set_source_address(c, "localhost", SMTPC_NTS, 0), SMTPC_OK);
    return c;
}

static void script_greeting_quit(fault_fixture *f, int variant, const char *bytes, size_t len) {
    (void)variant;
    (void)bytes;
    (void)len;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
}

/* A source name that does not resolve: the same status and message as a blocking connect (nothing
 * reaches the port: the source fails before connect()); a name that does, the same session. */
static void test_source_address_both_ways(void **state) {
    (void)state;
    uint16_t port = free_port();
    smtpc_status st[2];
    char msg[2][512];
    for (int nonblocking = 0; nonblocking < 2; nonblocking++) {
        smtpc_client *c = NULL;
        assert_int_equal(smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP), SMTPC_OK);
        assert_int_equal(smtpc_client_set_nonblocking(c, nonblocking), SMTPC_OK);
        assert_int_equal(smtpc_client_set_source_address(c, "no-such-host.invalid", SMTPC_NTS, 0), SMTPC_OK);
        st[nonblocking] = smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, port);
        if (nonblocking) {
            nb_slot s = {c, 0, SMTPC_OK, -1, 0, 0};
            st[1] = nb_finish(&s, st[1], LIMIT_MS);
        }
        snprintf(msg[nonblocking], sizeof msg[nonblocking], "%s", smtpc_client_errmsg(c));
        assert_int_equal(smtpc_client_is_connected(c), 0);
        smtpc_client_free(c);
    }
    if (st[0] != st[1] || strcmp(msg[0], msg[1]) != 0)
        fail_msg("blocking %s (%s), non-blocking %s (%s)", smtpc_status_name(st[0]), msg[0],
                 smtpc_status_name(st[1]), msg[1]);
    assert_int_equal(st[0], SMTPC_ECONNECT);
    if (strstr(msg[0], "source address no-such-host.invalid") == NULL) fail_msg("errmsg: %s", msg[0]);
    static const nb_case good = {.name = "source address localhost",
                                 .script = script_greeting_quit,
                                 .make_client = client_name_source,
                                 .ops = {NB_CONNECT, NB_QUIT},
                                 .want = SMTPC_OK,
                                 .wire = NB_WIRE(W_QUIT)};
    nb_compare_case(&good);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disconnect_at_each_step),
        cmocka_unit_test(test_slow_replies),
        cmocka_unit_test(test_timeout_same_as_blocking),
        cmocka_unit_test_setup_teardown(test_deadline_passes_while_busy, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_one_operation_at_a_time, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_at_next_step, fault_setup, fault_teardown),
        cmocka_unit_test(test_421_at_each_step),
        cmocka_unit_test(test_421_in_a_queued_batch),
        cmocka_unit_test(test_malformed_table),
        cmocka_unit_test(test_malformed_other),
        cmocka_unit_test(test_refusal_close_mid_body),
        cmocka_unit_test_setup_teardown(test_source_address_name, fault_setup, fault_teardown),
        cmocka_unit_test(test_source_address_both_ways),
    };
    return cmocka_run_group_tests_name("nonblocking_fault", tests, NULL, NULL);
}
