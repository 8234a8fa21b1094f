/* SPDX-License-Identifier: MIT */
/*
 * Non-blocking mode against aiosmtpd: one session (connect, EHLO, AUTH PLAIN, sendmail, two queued
 * messages and their results, QUIT) is run once with blocking calls, then by N clients at once from
 * one epoll loop. Every non-blocking session must send exactly the blocking session's bytes, every
 * operation must end as the blocking one did, and the spool must hold every message byte for byte.
 * A host name is resolved off the loop (the descriptor is the resolver's pipe meanwhile). An
 * envelope may be freed as soon as the call that took it returned SMTPC_EAGAIN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "itest.h"
#include "nb_loop.h"

#define N_CLIENTS 12
#define LIMIT_MS 30000

static itest_server g_aio;
static itest_server *g_target = &g_aio; /* the server the sessions talk to */
static int g_auth = 1;                  /* AUTH PLAIN in the session (aiosmtpd), or not (Postfix) */
static const char *g_rcpt = "rcpt@example.org";

static const char *const kBodies[3] = {
    "Subject: first\r\n\r\nsent with sendmail\r\n",
    "Subject: second\r\n\r\n.a line that starts with a dot\r\nqueued\r\n",
    "Subject: third\r\n\r\nqueued too\r\n",
};

static int group_setup(void **state) {
    (void)state;
    static const char *const extra[] = {"--auth", "user:secret", "--auth-plaintext", NULL};
    return itest_start_aiosmtpd(&g_aio, 0, extra);
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_aio);
    return 0;
}

/* One client's session as a sequence of operations. */
typedef struct session {
    nb_slot slot;
    smtpc_envelope *env;
    smtpc_message *msg;
    int op;      /* the operation in progress or next */
    int results; /* queued results taken */
    int failed;  /* an operation ended other than SMTPC_OK */
    char why[256];
} session;

enum { OP_CONNECT, OP_EHLO, OP_AUTH, OP_SENDMAIL, OP_ENQUEUE1, OP_ENQUEUE2, OP_RESULTS, OP_QUIT, OP_DONE };

static smtpc_status start_op(session *s) {
    smtpc_client *c = s->slot.c;
    switch (s->op) {
    case OP_CONNECT: return smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)g_target->proc.port);
    case OP_EHLO: return smtpc_client_ehlo(c, NULL, 0);
    case OP_AUTH:
        if (!g_auth) return smtpc_client_noop(c);
        return smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "user", SMTPC_NTS, "secret", SMTPC_NTS, 1);
    case OP_SENDMAIL: return smtpc_client_sendmail(c, s->env, kBodies[0], SMTPC_NTS);
    case OP_ENQUEUE1:
    case OP_ENQUEUE2: {
        int i = s->op == OP_ENQUEUE1 ? 1 : 2;
        if (smtpc_message_set_body(s->msg, kBodies[i], SMTPC_NTS) != SMTPC_OK ||
            smtpc_message_set_tag(s->msg, (uint64_t)i) != SMTPC_OK)
            return SMTPC_EINTERNAL;
        return smtpc_client_enqueue(c, s->msg);
    }
    case OP_RESULTS: {
        smtpc_message_result *r = NULL;
        smtpc_status st = smtpc_client_next_result(c, &r);
        if (st != SMTPC_OK) return st;
        if (!r) return SMTPC_EINTERNAL;
        if (smtpc_message_result_tag(r) != (uint64_t)(s->results + 1) ||
            smtpc_message_result_state(r) != SMTPC_MESSAGE_DELIVERED ||
            smtpc_message_result_status(r) != SMTPC_OK)
            snprintf(s->why, sizeof s->why, "result %d: tag %llu, state %d, %s", s->results,
                     (unsigned long long)smtpc_message_result_tag(r), (int)smtpc_message_result_state(r),
                     smtpc_status_name(smtpc_message_result_status(r)));
        smtpc_message_result_free(r);
        s->results++;
        return SMTPC_OK;
    }
    default: return smtpc_client_quit(c);
    }
}

static void session_init(session *s, int nonblocking) {
    memset(s, 0, sizeof *s);
    s->slot.fd = -1;
    s->slot.c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_non_null(s->slot.c);
    assert_int_equal(smtpc_client_set_nonblocking(s->slot.c, nonblocking), SMTPC_OK);
    assert_int_equal(smtpc_envelope_new(&s->env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(s->env, "nb@example.com", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(s->env, g_rcpt, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_message_new(&s->msg), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(s->msg, s->env), SMTPC_OK);
}

static void session_free(session *s) {
    smtpc_message_free(s->msg);
    smtpc_envelope_free(s->env);
    smtpc_client_free(s->slot.c);
}

/* The operation ended with `st`: on to the next one (next_result is asked again after a wait). */
static void op_ended(session *s, smtpc_status st) {
    if (st != SMTPC_OK) {
        s->failed = 1;
        snprintf(s->why, sizeof s->why, "operation %d: %s (%s)", s->op, smtpc_status_name(st),
                 smtpc_client_errmsg(s->slot.c));
        s->op = OP_DONE;
        return;
    }
    if (s->op == OP_RESULTS && s->results < 2) return;
    s->op++;
}

/* Starts operations until one is in progress (or the session is over). */
static void advance(int ep, session *s) {
    while (s->op != OP_DONE && !s->slot.busy) {
        int results_before = s->results;
        smtpc_status st = start_op(s);
        nb_started(ep, &s->slot, st);
        if (s->slot.busy) return;
        /* next_result after a wait that ended: it is asked again; a result taken moves on */
        if (s->op == OP_RESULTS && st == SMTPC_OK && s->results == results_before) continue;
        op_ended(s, st);
    }
}

/* N clients at once, from one thread, each through the whole session. */
static void run_clients(void) {
    static session s[N_CLIENTS];
    nb_slot *slots[N_CLIENTS];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    assert_true(ep >= 0);
    for (int i = 0; i < N_CLIENTS; i++) {
        session_init(&s[i], 1);
        slots[i] = &s[i].slot;
        advance(ep, &s[i]);
    }
    int64_t end = nb_now_ms() + LIMIT_MS;
    long steps = 0;
    for (;;) {
        int open = 0;
        for (int i = 0; i < N_CLIENTS; i++) open += s[i].op != OP_DONE;
        if (!open || nb_now_ms() > end) break;
        /* nb_turn wants an array of slots: step what is ready, then start what follows. */
        int64_t now = nb_now_ms();
        int timeout = 100;
        for (int i = 0; i < N_CLIENTS; i++) {
            int64_t d = s[i].slot.busy ? smtpc_client_deadline_ms(s[i].slot.c) : -1;
            if (d >= 0 && d - now < timeout) timeout = d - now < 0 ? 0 : (int)(d - now);
        }
        struct epoll_event evs[N_CLIENTS];
        int got = epoll_wait(ep, evs, N_CLIENTS, timeout);
        for (int k = 0; k < got; k++) {
            nb_slot *sl = evs[k].data.ptr;
            nb_step(ep, sl);
            steps++;
        }
        for (int i = 0; i < N_CLIENTS; i++) {
            session *x = &s[i];
            if (x->slot.busy) {
                int64_t d = smtpc_client_deadline_ms(x->slot.c);
                if (d >= 0 && d <= nb_now_ms()) nb_step(ep, &x->slot);
            }
            if (!x->slot.busy && x->op != OP_DONE) {
                /* The operation in progress ended with x->slot.last (next_result: ask again). */
                if (x->op != OP_RESULTS || x->slot.last != SMTPC_OK) op_ended(x, x->slot.last);
                advance(ep, x);
            }
        }
        (void)slots;
    }
    close(ep);
    for (int i = 0; i < N_CLIENTS; i++) {
        if (s[i].op != OP_DONE) fail_msg("client %d did not finish (operation %d)", i, s[i].op);
        if (s[i].failed || s[i].why[0]) fail_msg("client %d: %s", i, s[i].why);
        session_free(&s[i]);
    }
    assert_true(steps > 0);
}

static void test_many_clients_one_loop(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_aio);
    size_t first_conn = g_aio.connections;

    /* The reference: the same session with blocking calls. */
    session ref;
    session_init(&ref, 0);
    for (ref.op = OP_CONNECT; ref.op != OP_DONE;) {
        smtpc_status st = start_op(&ref);
        assert_int_not_equal(st, SMTPC_EAGAIN);
        op_ended(&ref, st);
    }
    if (ref.failed || ref.why[0]) fail_msg("blocking session: %s", ref.why);
    session_free(&ref);
    g_aio.connections++;
    char *want = NULL;
    size_t want_len = 0;
    assert_int_equal(itest_load_session(&g_aio, first_conn, 10000, &want, &want_len), 0);

    run_clients();
    g_aio.connections += N_CLIENTS;

    /* Every session sent the blocking session's bytes. */
    for (size_t i = 0; i < N_CLIENTS; i++) {
        char *raw = NULL;
        size_t len = 0;
        assert_int_equal(itest_load_session(&g_aio, first_conn + 1 + i, 10000, &raw, &len), 0);
        ITEST_ASSERT_BYTES(raw, len, want, want_len);
        free(raw);
    }
    free(want);

    /* And the spool holds 3 messages per session, byte for byte. */
    size_t total = 3 * (N_CLIENTS + 1);
    int per_body[3] = {0, 0, 0};
    for (size_t i = 0; i < total; i++) {
        itest_msg m;
        assert_int_equal(itest_load_msg(&g_aio, before + i, 10000, &m), 0);
        int found = -1;
        for (int b = 0; b < 3; b++)
            if (m.content_len == strlen(kBodies[b]) && memcmp(m.content, kBodies[b], m.content_len) == 0)
                found = b;
        if (found < 0) itest_dump("unexpected message", m.content, m.content_len);
        assert_true(found >= 0);
        per_body[found]++;
        assert_string_equal(m.mail_from, "nb@example.com");
        itest_msg_free(&m);
    }
    for (int b = 0; b < 3; b++) assert_int_equal(per_body[b], N_CLIENTS + 1);
}

/* Callbacks given to an operation are called after the call that started it has returned: an AUTH
 * callback (PLAIN by hand) and a body reader, each started from a function whose stack frame is then
 * overwritten before the steps run. */
static int plain_cb(const char *challenge, size_t len, int is_initial, smtpc_auth_response *resp,
                    void *userdata) {
    (void)challenge;
    (void)len;
    (void)is_initial;
    int *calls = userdata;
    (*calls)++;
    return smtpc_auth_response_set(resp, "\0user\0secret", 12) == SMTPC_OK ? 0 : 1;
}

typedef struct body_reader {
    const char *data;
    size_t left;
    int calls;
} body_reader;

static int read_cb(char *buf, size_t cap, size_t *len, void *userdata) {
    body_reader *r = userdata;
    size_t n = r->left < 7 ? r->left : 7; /* small blocks: many calls, over several steps */
    if (n > cap) n = cap;
    memcpy(buf, r->data, n);
    r->data += n;
    r->left -= n;
    *len = n;
    r->calls++;
    return 0;
}

static __attribute__((noinline)) smtpc_status start_auth(smtpc_client *c, int *calls) {
    return smtpc_client_auth(c, "PLAIN", SMTPC_NTS, 1, plain_cb, calls);
}

static __attribute__((noinline)) smtpc_status start_stream(smtpc_client *c, smtpc_envelope *env,
                                                           body_reader *r) {
    return smtpc_client_sendmail_stream(c, env, 0, read_cb, r);
}

static __attribute__((noinline)) void scribble_stack(void) {
    volatile char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)0xA5;
}

/* A non-blocking session connected to aiosmtpd (no EHLO yet). */
static smtpc_client *connected_session(session *x) {
    session_init(x, 1);
    smtpc_client *c = x->slot.c;
    smtpc_status st = smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)g_aio.proc.port);
    assert_int_equal(nb_finish(&x->slot, st, LIMIT_MS), SMTPC_OK);
    g_aio.connections++;
    return c;
}

static void test_callbacks_outlive_the_call(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_aio);
    session x;
    smtpc_client *c = connected_session(&x);
    int calls = 0;
    smtpc_status st = start_auth(c, &calls);
    scribble_stack();
    assert_int_equal(nb_finish(&x.slot, st, LIMIT_MS), SMTPC_OK);
    assert_true(calls >= 1);
    body_reader r = {kBodies[1], strlen(kBodies[1]), 0};
    st = start_stream(c, x.env, &r);
    scribble_stack();
    assert_int_equal(nb_finish(&x.slot, st, LIMIT_MS), SMTPC_OK);
    assert_true(r.calls > 2);
    assert_int_equal(nb_finish(&x.slot, smtpc_client_quit(c), LIMIT_MS), SMTPC_OK);
    itest_msg m;
    assert_int_equal(itest_load_msg(&g_aio, before, 10000, &m), 0);
    ITEST_ASSERT_BYTES(m.content, m.content_len, kBodies[1], strlen(kBodies[1]));
    itest_msg_free(&m);
    session_free(&x);
}

/* An envelope built for one call, freed (and its memory reused) as soon as sendmail returned
 * SMTPC_EAGAIN on a connection that must say EHLO first: the library copied it (include/smtpc.h,
 * non-blocking mode), and the message goes with that envelope. */
static void test_envelope_freed_after_the_call(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_aio);
    session x;
    smtpc_client *c = connected_session(&x);
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "once@example.com", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "copied@example.org", SMTPC_NTS), SMTPC_OK);
    smtpc_status st = smtpc_client_sendmail(c, env, kBodies[2], SMTPC_NTS);
    assert_int_equal(st, SMTPC_EAGAIN); /* EHLO first: the check of the message waits for it */
    smtpc_envelope_free(env);
    /* Freed memory of the same sizes, written over. */
    smtpc_envelope *other = NULL;
    assert_int_equal(smtpc_envelope_new(&other), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(other, "wrong@example.net", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(other, "wrong@example.net", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(nb_finish(&x.slot, st, LIMIT_MS), SMTPC_OK);
    smtpc_envelope_free(other);
    assert_int_equal(nb_finish(&x.slot, smtpc_client_quit(c), LIMIT_MS), SMTPC_OK);
    itest_msg m;
    assert_int_equal(itest_load_msg(&g_aio, before, 10000, &m), 0);
    ITEST_ASSERT_BYTES(m.mail_from, m.mail_from_len, "once@example.com", strlen("once@example.com"));
    assert_int_equal(m.rcpt_count, 1);
    assert_string_equal(m.rcpt_tos[0], "copied@example.org");
    ITEST_ASSERT_BYTES(m.content, m.content_len, kBodies[2], strlen(kBodies[2]));
    itest_msg_free(&m);
    session_free(&x);
}

/* A host name: resolved on a helper thread while the loop watches its pipe. */
static void test_resolve_off_the_loop(void **state) {
    (void)state;
    session x;
    session_init(&x, 1);
    char host[64];
    snprintf(host, sizeof host, "localhost:%d", g_aio.proc.port);
    smtpc_status st = smtpc_client_connect(x.slot.c, host, SMTPC_NTS, 0);
    if (st == SMTPC_EAGAIN) {
        assert_true(smtpc_client_fd(x.slot.c) >= 0);
        assert_true(smtpc_client_wants(x.slot.c) != 0);
        assert_true(smtpc_client_deadline_ms(x.slot.c) > 0);
    }
    assert_int_equal(nb_finish(&x.slot, st, LIMIT_MS), SMTPC_OK);
    g_aio.connections++;
    assert_int_equal(smtpc_client_is_connected(x.slot.c), 1);
    assert_int_equal(nb_finish(&x.slot, smtpc_client_quit(x.slot.c), LIMIT_MS), SMTPC_OK);
    /* An unknown name fails as in blocking mode, without blocking the caller. */
    int64_t t0 = nb_now_ms();
    st = smtpc_client_connect(x.slot.c, "no-such-host.invalid", SMTPC_NTS, 25);
    assert_true(nb_now_ms() - t0 < 200);
    assert_int_equal(nb_finish(&x.slot, st, LIMIT_MS), SMTPC_ERESOLVE);
    session_free(&x);
}

/* The same sessions (without AUTH) against Postfix, all at once: every message relayed to its sink,
 * byte for byte after Postfix's own header. */
static void test_postfix_many_clients(void **state) {
    (void)state;
    const char *why = harness_postfix_unavailable(0);
    if (why != NULL) {
        print_message("postfix: skipped (%s)\n", why);
        skip();
    }
    itest_server pf;
    memset(&pf, 0, sizeof pf);
    assert_int_equal(itest_start_postfix(&pf), 0);
    g_target = &pf;
    g_auth = 0;
    g_rcpt = "sink@example.com";
    run_clients();
    int per_body[3] = {0, 0, 0};
    for (int tries = 0; tries < 400; tries++) {
        if (itest_msg_count(&pf) >= 3 * N_CLIENTS) break;
        usleep(50 * 1000);
    }
    size_t n = itest_msg_count(&pf);
    for (size_t j = 0; j < n; j++) {
        itest_msg m;
        assert_int_equal(itest_load_msg(&pf, j, 1000, &m), 0);
        for (int b = 0; b < 3; b++) {
            size_t bl = strlen(kBodies[b]);
            if (m.content_len >= bl && memcmp(m.content + m.content_len - bl, kBodies[b], bl) == 0)
                per_body[b]++;
        }
        itest_msg_free(&m);
    }
    g_target = &g_aio;
    g_auth = 1;
    g_rcpt = "rcpt@example.org";
    itest_stop(&pf);
    for (int b = 0; b < 3; b++) assert_int_equal(per_body[b], N_CLIENTS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_clients_one_loop),
        cmocka_unit_test(test_resolve_off_the_loop),
        cmocka_unit_test(test_callbacks_outlive_the_call),
        cmocka_unit_test(test_envelope_freed_after_the_call),
        cmocka_unit_test(test_postfix_many_clients),
    };
    return cmocka_run_group_tests_name("nonblocking_servers", tests, group_setup, group_teardown);
}
