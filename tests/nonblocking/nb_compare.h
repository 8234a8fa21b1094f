/* SPDX-License-Identifier: MIT */
/*
 * Blocking against non-blocking on the same fault-server script: a case is a script and a list of
 * operations; it is run twice (each run a fresh server and client), once with blocking calls and
 * once in non-blocking mode through the epoll loop of nb_loop.h, and everything observable must be
 * the same: each operation's status, smtpc_client_errmsg(), the last reply, whether the client is
 * still connected and in TLS, the per-recipient results, each queued message's result, and the bytes
 * the server received.
 */
#ifndef SMTPC_NB_COMPARE_H
#define SMTPC_NB_COMPARE_H

#include "fault_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nb_loop.h"

#define NB_MSG "Subject: t\r\n\r\nhello\r\n"
#define NB_MSG_WIRE NB_MSG ".\r\n"
/* Bounds one non-blocking operation (a case that hangs fails instead of waiting for ctest). */
#define NB_LIMIT_MS 15000

typedef enum nb_op {
    NB_END = 0,
    NB_CONNECT,
    NB_EHLO,
    NB_EHLO_OR_HELO,
    NB_NOOP,
    NB_SENDMAIL,
    NB_QUIT,
    NB_STARTTLS,
    NB_LOGIN,
    NB_MAIL,
    NB_RCPT,
    NB_DATA,
    NB_ENQUEUE,     /* queues message i ("m<i>\r\n", tag 100 + i), i counting enqueues */
    NB_NEXT_RESULT, /* takes the oldest result */
    NB_PAUSE,       /* 400 ms without calling the library (data arrives meanwhile) */
} nb_op;

#define NB_MAX_OPS 12

typedef struct nb_case {
    const char *name;
    /* Builds the server's script (may set f->extra_args); `variant` and `bytes` are the case's. */
    void (*script)(fault_fixture *f, int variant, const char *bytes, size_t len);
    int variant;
    const char *bytes;
    size_t len;
    /* Makes the fixture (NULL: fault_setup; tests/tls_fault: tf_setup). */
    int (*setup)(void **state);
    /* Makes f->client (NULL: fault_client(f, 5000, command_ms)). */
    smtpc_client *(*make_client)(fault_fixture *f, uint32_t command_ms);
    uint32_t command_ms; /* 0: 5000 */
    int rcpts;           /* recipients r1..r<n>@example.org (0: 1) */
    const char *body;    /* for sendmail and data (NULL: NB_MSG) */
    size_t body_len;
    nb_op ops[NB_MAX_OPS];
    /* The first status other than SMTPC_OK (SMTPC_OK when every operation succeeded). */
    smtpc_status want;
    /* The server reads a body cut short at a moment that depends on timing: the two transcripts
     * need only agree up to the shorter one. */
    int transcript_timing;
    /* The bytes the server must have received (NULL: only the two runs are compared). */
    const char *wire;
    size_t wire_len;
} nb_case;

/* Everything observable after one operation, as text (so that a difference reads plainly). */
#define NB_REC_LEN 1536

typedef struct nb_run {
    int ops;
    smtpc_status st[NB_MAX_OPS];
    char rec[NB_MAX_OPS][NB_REC_LEN];
    char *transcript;
    size_t transcript_len;
} nb_run;

static const char *const nb_bodies[] = {"m1\r\n", "m2\r\n", "m3\r\n", "m4\r\n", "m5\r\n"};

static void nb_reply_text(char *out, size_t cap, const smtpc_reply *r) {
    if (r == NULL) {
        snprintf(out, cap, "none");
        return;
    }
    size_t n = 0;
    const char *t = smtpc_reply_text(r, &n);
    snprintf(out, cap, "%d \"%.*s\"", smtpc_reply_code(r), (int)(n > 200 ? 200 : n), t ? t : "");
}

static void nb_record(fault_fixture *f, smtpc_status st, const smtpc_message_result *mr, char *out) {
    smtpc_client *c = f->client;
    char reply[300];
    nb_reply_text(reply, sizeof reply, smtpc_client_last_reply(c));
    int n = snprintf(out, NB_REC_LEN, "%s errmsg \"%s\" reply %s connected %d tls %d", smtpc_status_name(st),
                     smtpc_client_errmsg(c), reply, smtpc_client_is_connected(c), smtpc_client_tls_active(c));
    const smtpc_result *res = mr ? smtpc_message_result_recipients(mr) : smtpc_client_last_result(c);
    if (res != NULL && n > 0 && n < NB_REC_LEN) {
        for (size_t i = 0; i < smtpc_result_count(res) && i < 4; i++) {
            nb_reply_text(reply, sizeof reply, smtpc_result_rcpt_reply(res, i));
            n += snprintf(out + n, (size_t)(NB_REC_LEN - n), " rcpt%zu %d %s", i,
                          (int)smtpc_result_state(res, i), reply);
            if (n >= NB_REC_LEN) return;
        }
    }
    if (mr != NULL && n > 0 && n < NB_REC_LEN) {
        nb_reply_text(reply, sizeof reply, smtpc_message_result_reply(mr));
        snprintf(out + n, (size_t)(NB_REC_LEN - n), " message tag %llu state %d %s \"%s\" %s",
                 (unsigned long long)smtpc_message_result_tag(mr), (int)smtpc_message_result_state(mr),
                 smtpc_status_name(smtpc_message_result_status(mr)), smtpc_message_result_errmsg(mr, NULL),
                 reply);
    }
}

/* In non-blocking mode: steps the operation that returned `st` to its end. */
static smtpc_status nb_run_to_end(smtpc_client *c, smtpc_status st) {
    nb_slot s = {c, 0, SMTPC_OK, -1, 0, 0};
    return nb_finish(&s, st, NB_LIMIT_MS);
}

static smtpc_status nb_do_op(fault_fixture *f, const nb_case *k, nb_op op, int nonblocking,
                             smtpc_message *msg, int *enqueued, smtpc_message_result **mr) {
    smtpc_client *c = f->client;
    const char *body = k->body ? k->body : NB_MSG;
    size_t body_len = k->body ? k->body_len : SMTPC_NTS;
    smtpc_status st;
    switch (op) {
    case NB_CONNECT: st = fault_connect(f); break;
    case NB_EHLO: st = smtpc_client_ehlo(c, NULL, 0); break;
    case NB_EHLO_OR_HELO: st = smtpc_client_ehlo_or_helo_if_needed(c); break;
    case NB_NOOP: st = smtpc_client_noop(c); break;
    case NB_SENDMAIL: st = smtpc_client_sendmail(c, f->env, body, body_len); break;
    case NB_QUIT: st = smtpc_client_quit(c); break;
    case NB_STARTTLS: st = smtpc_client_starttls(c); break;
    case NB_LOGIN: st = smtpc_client_login(c, "user", SMTPC_NTS, "secret", SMTPC_NTS); break;
    case NB_MAIL: st = smtpc_client_mail(c, "s@example.org", SMTPC_NTS, NULL, 0); break;
    case NB_RCPT: st = smtpc_client_rcpt(c, "r1@example.org", SMTPC_NTS, NULL, 0); break;
    case NB_DATA: st = smtpc_client_data(c, body, body_len); break;
    case NB_ENQUEUE: {
        int i = (*enqueued)++;
        assert_int_equal(smtpc_message_set_body(msg, nb_bodies[i % 5], SMTPC_NTS), SMTPC_OK);
        assert_int_equal(smtpc_message_set_tag(msg, (uint64_t)(100 + i)), SMTPC_OK);
        st = smtpc_client_enqueue(c, msg);
        /* A full window: the message is queued; step until the window has room. */
        if (nonblocking && st == SMTPC_EAGAIN) st = nb_run_to_end(c, st);
        return st;
    }
    case NB_NEXT_RESULT:
        st = smtpc_client_next_result(c, mr);
        /* No result yet: step until SMTPC_OK, then ask again (docs/nonblocking.md). */
        for (int guard = 0; nonblocking && st == SMTPC_EAGAIN && guard < 100; guard++) {
            st = nb_run_to_end(c, st);
            if (st == SMTPC_OK) st = smtpc_client_next_result(c, mr);
        }
        return st;
    case NB_PAUSE: {
        struct timespec ts = {0, 400 * 1000 * 1000};
        nanosleep(&ts, NULL);
        return smtpc_client_last_status(c);
    }
    default: fail_msg("unknown operation %d", (int)op); return SMTPC_EINTERNAL;
    }
    if (!nonblocking) {
        if (st == SMTPC_EAGAIN) fail_msg("a blocking call returned SMTPC_EAGAIN");
        return st;
    }
    return nb_run_to_end(c, st);
}

/* One session of the case on the fixture's server: a new client, the operations, close. */
static void nb_session(fault_fixture *f, const nb_case *k, int nonblocking, nb_run *out) {
    smtpc_client_free(f->client);
    f->client = NULL;
    uint32_t command_ms = k->command_ms ? k->command_ms : 5000;
    if (k->make_client) k->make_client(f, command_ms);
    else fault_client(f, 5000, command_ms);
    assert_int_equal(smtpc_client_set_nonblocking(f->client, nonblocking), SMTPC_OK);
    if (f->env == NULL) {
        int rcpts = k->rcpts ? k->rcpts : 1;
        if (rcpts == 1) fault_envelope(f, "r1@example.org", NULL);
        else if (rcpts == 2) fault_envelope(f, "r1@example.org", "r2@example.org", NULL);
        else fault_envelope(f, "r1@example.org", "r2@example.org", "r3@example.org", NULL);
    }
    smtpc_message *msg = NULL;
    assert_int_equal(smtpc_message_new(&msg), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(msg, f->env), SMTPC_OK);
    int enqueued = 0;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < NB_MAX_OPS && k->ops[i] != NB_END; i++) {
        smtpc_message_result *mr = NULL;
        smtpc_status st = nb_do_op(f, k, k->ops[i], nonblocking, msg, &enqueued, &mr);
        out->st[i] = st;
        nb_record(f, st, mr, out->rec[i]);
        smtpc_message_result_free(mr);
        out->ops = i + 1;
    }
    smtpc_message_free(msg);
    /* The server's script ends when the client closes (or on its own). */
    smtpc_client_close(f->client);
}

/* Both sessions, one after the other, on one server (--connections 2): the transcript is then the
 * two sessions' bytes in a row. Half the server start-ups: cases whose transcript is known. */
static void nb_run_both(const nb_case *k, nb_run *b, nb_run *n) {
    void *state = NULL;
    assert_int_equal((k->setup ? k->setup : fault_setup)(&state), 0);
    fault_fixture *f = state;
    k->script(f, k->variant, k->bytes, k->len);
    int a = 0;
    while (a < 6 && f->extra_args[a] != NULL) a++;
    f->extra_args[a] = "--connections";
    f->extra_args[a + 1] = "2";
    fault_start(f);
    nb_session(f, k, 0, b);
    nb_session(f, k, 1, n);
    fault_finish(f, 10000);
    b->transcript = malloc(f->transcript_len + 1);
    assert_non_null(b->transcript);
    memcpy(b->transcript, f->transcript, f->transcript_len);
    b->transcript_len = f->transcript_len;
    n->transcript = NULL;
    n->transcript_len = 0;
    fault_teardown(&state);
}

/* One session on its own server. */
static void nb_run_case(const nb_case *k, int nonblocking, nb_run *out) {
    void *state = NULL;
    assert_int_equal((k->setup ? k->setup : fault_setup)(&state), 0);
    fault_fixture *f = state;
    k->script(f, k->variant, k->bytes, k->len);
    fault_start(f);
    nb_session(f, k, nonblocking, out);
    fault_finish(f, 10000);
    out->transcript = malloc(f->transcript_len + 1);
    assert_non_null(out->transcript);
    memcpy(out->transcript, f->transcript, f->transcript_len);
    out->transcript_len = f->transcript_len;
    fault_teardown(&state);
}

static void nb_print_bytes(const char *what, const char *p, size_t n) {
    fprintf(stderr, "%s (%zu bytes): ", what, n);
    for (size_t i = 0; i < n && i < 600; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r') fputs("\\r", stderr);
        else if (ch == '\n') fputs("\\n", stderr);
        else if (ch < 0x20 || ch >= 0x7f) fprintf(stderr, "\\x%02x", ch);
        else fputc(ch, stderr);
    }
    fputc('\n', stderr);
}

/* Runs the case both ways; fails the test on the first difference. */
static void nb_compare_case(const nb_case *k) {
    int64_t t0 = nb_now_ms();
    nb_run b, n;
    int shared = k->wire != NULL && !k->transcript_timing;
    if (shared) {
        nb_run_both(k, &b, &n);
    } else {
        nb_run_case(k, 0, &b);
        nb_run_case(k, 1, &n);
    }
    for (int i = 0; i < b.ops; i++) {
        if (strcmp(b.rec[i], n.rec[i]) != 0)
            fail_msg("%s, operation %d:\n  blocking:     %s\n  non-blocking: %s", k->name, i, b.rec[i],
                     n.rec[i]);
    }
    smtpc_status first = SMTPC_OK;
    for (int i = 0; i < b.ops && first == SMTPC_OK; i++) first = b.st[i];
    if (first != k->want)
        fail_msg("%s: the first failure is %s, expected %s (%s)", k->name, smtpc_status_name(first),
                 smtpc_status_name(k->want), b.rec[0]);
    if (shared) {
        /* The expected bytes twice: once from each session. */
        size_t w = k->wire_len;
        if (b.transcript_len != 2 * w || memcmp(b.transcript, k->wire, w) != 0 ||
            memcmp(b.transcript + w, k->wire, w) != 0) {
            nb_print_bytes("received", b.transcript, b.transcript_len);
            nb_print_bytes("expected twice", k->wire, w);
            fail_msg("%s: the server did not receive the expected bytes from both sessions", k->name);
        }
        free(b.transcript);
        if (getenv("NB_TIMING")) fprintf(stderr, "%s: %lld ms\n", k->name, (long long)(nb_now_ms() - t0));
        return;
    }
    size_t common = b.transcript_len < n.transcript_len ? b.transcript_len : n.transcript_len;
    int same = k->transcript_timing ? memcmp(b.transcript, n.transcript, common) == 0
                                    : b.transcript_len == n.transcript_len &&
                                          memcmp(b.transcript, n.transcript, b.transcript_len) == 0;
    if (!same) {
        nb_print_bytes("blocking", b.transcript, b.transcript_len);
        nb_print_bytes("non-blocking", n.transcript, n.transcript_len);
        fail_msg("%s: the server received different bytes", k->name);
    }
    free(b.transcript);
    free(n.transcript);
    if (getenv("NB_TIMING")) fprintf(stderr, "%s: %lld ms\n", k->name, (long long)(nb_now_ms() - t0));
}

#endif
