/* SPDX-License-Identifier: MIT */
/*
 * Non-blocking mode against the scripted fault server: every case runs twice on the same script,
 * once with blocking calls and once through an epoll loop in non-blocking mode, and the two runs
 * must end alike: the same status and message for every operation, the same bytes on the wire.
 * Cases: the server closes at each step of a session, replies come a few bytes at a time, and a
 * deadline passes while the caller's loop is busy elsewhere (the step reports SMTPC_ETIMEOUT).
 */
#include "fault_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disconnect_at_each_step),
        cmocka_unit_test(test_slow_replies),
        cmocka_unit_test(test_timeout_same_as_blocking),
        cmocka_unit_test_setup_teardown(test_deadline_passes_while_busy, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_one_operation_at_a_time, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_at_next_step, fault_setup, fault_teardown),
    };
    return cmocka_run_group_tests_name("nonblocking_fault", tests, NULL, NULL);
}
