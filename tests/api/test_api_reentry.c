/* SPDX-License-Identifier: MIT */
/*
 * Callback re-entry (include/smtpc.h, "Callbacks"): every call on a client made from inside one of its
 * own callbacks (trace, read, AUTH, token) returns SMTPC_ESTATE without touching the connection or the
 * error state of the running call; getters are allowed; smtpc_client_close() and smtpc_client_free()
 * from a callback take effect when the running call returns (and abort it at the next read, AUTH or
 * token callback). Each test checks the exact bytes the scripted server received, so a stray command
 * in the middle of a message or an AUTH exchange shows.
 *
 * Callbacks never fail a cmocka assertion themselves (that would longjmp through the library): they
 * record what went wrong and the test asserts afterwards. tests/api/check_reentry_coverage.sh checks
 * that probe() below calls every function of the header that takes a client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_common.h"

#define RPL_EHLO_AUTH "250-fault.test\r\n250-AUTH X-TEST XOAUTH2\r\n250 8BITMIME\r\n"
#define RPL_235 "235 2.7.0 ok\r\n"
#define MSG "Subject: t\r\n\r\nbody\r\n"

/* What the callbacks saw and did. */
typedef struct probe_state {
    smtpc_client *client;
    int probes;      /* probe() runs */
    int failures;    /* checks that failed inside callbacks */
    char first[512]; /* the first failure */
    /* What a callback does besides probing. */
    int close_in; /* call smtpc_client_close() at the first callback */
    int free_in;  /* call smtpc_client_free() at the first callback */
    int skip;     /* callbacks to let pass before acting */
    int acted;
    /* Read callback state. */
    const char *body;
    size_t body_pos;
    int reads;
    int auth_calls;
    int stray_callbacks; /* a callback handed to a refused call ran */
} probe_state;

static void failf(probe_state *p, const char *fmt, ...) {
    if (p->failures++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->first, sizeof p->first, fmt, ap);
        va_end(ap);
    }
}

#define EXPECT_ESTATE(p, call)                                                              \
    do {                                                                                    \
        smtpc_status st_ = (call);                                                          \
        if (st_ != SMTPC_ESTATE)                                                            \
            failf((p), "%s returned %s, want SMTPC_ESTATE", #call, smtpc_status_name(st_)); \
    } while (0)

/* Callbacks handed to refused calls: they must never run. */
static void stray_trace(smtpc_trace_kind kind, const char *data, size_t len, int64_t t, void *ud) {
    (void)kind, (void)data, (void)len, (void)t;
    ((probe_state *)ud)->stray_callbacks++;
}
static int stray_read(char *buf, size_t cap, size_t *len, void *ud) {
    (void)buf, (void)cap;
    *len = 0;
    ((probe_state *)ud)->stray_callbacks++;
    return 1;
}
static int stray_auth(const char *ch, size_t chlen, int initial, smtpc_auth_response *resp, void *ud) {
    (void)ch, (void)chlen, (void)initial, (void)resp;
    ((probe_state *)ud)->stray_callbacks++;
    return 1;
}
static int stray_token(smtpc_auth_response *tok, void *ud) {
    (void)tok;
    ((probe_state *)ud)->stray_callbacks++;
    return 1;
}

/*
 * From inside a callback: every call that takes the client. The getters must work and agree with
 * each other before and after; everything else must be refused with SMTPC_ESTATE and change nothing.
 */
static void probe(probe_state *p) {
    smtpc_client *c = p->client;
    p->probes++;
    int connected = smtpc_client_is_connected(c);
    smtpc_status last = smtpc_client_last_status(c);
    char errmsg[512];
    snprintf(errmsg, sizeof errmsg, "%s", smtpc_client_errmsg(c));
    const smtpc_reply *reply = smtpc_client_last_reply(c);
    int reply_code = smtpc_reply_code(reply);
    size_t extn = smtpc_client_extn_count(c);

    /* Getters are allowed. */
    if (smtpc_client_protocol(c) != SMTPC_PROTOCOL_SMTP) failf(p, "protocol changed");
    (void)smtpc_client_os_error(c);
    if (strcmp(smtpc_client_local_hostname(c), FAULT_HELO_NAME) != 0) failf(p, "local host name changed");
    (void)smtpc_client_helo_reply(c);
    (void)smtpc_client_ehlo_reply(c);
    (void)smtpc_client_does_esmtp(c);
    (void)smtpc_client_has_extn(c, "8bitmime", SMTPC_NTS);
    (void)smtpc_client_extn_params(c, "auth", SMTPC_NTS, NULL);
    if (extn > 0 &&
        (smtpc_client_extn_name(c, 0, NULL) == NULL || smtpc_client_extn_params_at(c, 0, NULL) == NULL))
        failf(p, "extn_name/extn_params_at(0) is NULL with %zu extensions", extn);
    (void)smtpc_client_last_result(c);
    (void)smtpc_client_queued(c);
    (void)smtpc_client_in_flight(c);
    if (smtpc_client_nonblocking(c)) failf(p, "non-blocking mode seen inside a blocking call's callback");
    (void)smtpc_client_fd(c);
    (void)smtpc_client_wants(c);
    (void)smtpc_client_deadline_ms(c);
    if (smtpc_client_tls_active(c) || smtpc_client_tls_verified(c))
        failf(p, "TLS active on a plain connection");
    if (*smtpc_client_tls_version(c) || *smtpc_client_tls_cipher(c) || *smtpc_client_tls_peer_subject(c) ||
        *smtpc_client_tls_peer_fingerprint(c))
        failf(p, "TLS facts on a plain connection");
    (void)smtpc_client_tls_verify_result(c);
    if (smtpc_client_tls_resumed(c)) failf(p, "TLS session resumed on a plain connection");
    (void)smtpc_client_auth_mechanism(c);

    /* Everything else is refused. */
    EXPECT_ESTATE(p, smtpc_client_set_local_hostname(c, "other.test", SMTPC_NTS));
    EXPECT_ESTATE(p, smtpc_client_set_connect_timeout(c, 1));
    EXPECT_ESTATE(p, smtpc_client_set_command_timeout(c, 1));
    EXPECT_ESTATE(p, smtpc_client_set_source_address(c, "127.0.0.1", SMTPC_NTS, 0));
    EXPECT_ESTATE(p, smtpc_client_set_pipelining(c, 0));
    EXPECT_ESTATE(p, smtpc_client_set_chunking(c, 0));
    EXPECT_ESTATE(p, smtpc_client_set_trace(c, 1, stray_trace, p));
    EXPECT_ESTATE(p, smtpc_client_set_progress(c, NULL, NULL));
    /* smtpc_client_cancel() is the documented exception (allowed from callbacks; it would stop this
     * call): test_api_cancel.c calls it from a trace callback. */
    EXPECT_ESTATE(p, smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, 1));
    EXPECT_ESTATE(p, smtpc_client_quit(c));
    EXPECT_ESTATE(p, smtpc_client_helo(c, NULL, 0));
    EXPECT_ESTATE(p, smtpc_client_ehlo(c, NULL, 0));
    EXPECT_ESTATE(p, smtpc_client_ehlo_or_helo_if_needed(c));
    EXPECT_ESTATE(p, smtpc_client_docmd(c, "XSTRAY", SMTPC_NTS, NULL, 0));
    EXPECT_ESTATE(p, smtpc_client_noop(c));
    EXPECT_ESTATE(p, smtpc_client_rset(c));
    EXPECT_ESTATE(p, smtpc_client_vrfy(c, "x", SMTPC_NTS));
    EXPECT_ESTATE(p, smtpc_client_expn(c, "x", SMTPC_NTS));
    EXPECT_ESTATE(p, smtpc_client_help(c, NULL, 0));
    EXPECT_ESTATE(p, smtpc_client_mail(c, "x@example.org", SMTPC_NTS, NULL, 0));
    EXPECT_ESTATE(p, smtpc_client_rcpt(c, "x@example.org", SMTPC_NTS, NULL, 0));
    EXPECT_ESTATE(p, smtpc_client_data(c, "stray\r\n", SMTPC_NTS));
    EXPECT_ESTATE(p, smtpc_client_send_raw(c, "STRAY\r\n", SMTPC_NTS));
    EXPECT_ESTATE(p, smtpc_client_read_reply(c));
    smtpc_envelope *env = NULL;
    if (smtpc_envelope_new(&env) != SMTPC_OK ||
        smtpc_envelope_add_recipient(env, "x@example.org", SMTPC_NTS) != SMTPC_OK) {
        failf(p, "envelope set-up failed inside a callback");
    }
    EXPECT_ESTATE(p, smtpc_client_sendmail(c, env, "stray\r\n", SMTPC_NTS));
    smtpc_message *msg = NULL;
    if (smtpc_message_new(&msg) != SMTPC_OK || smtpc_message_set_envelope(msg, env) != SMTPC_OK ||
        smtpc_message_set_body(msg, "stray\r\n", SMTPC_NTS) != SMTPC_OK)
        failf(p, "message set-up failed inside a callback");
    EXPECT_ESTATE(p, smtpc_client_enqueue(c, msg));
    smtpc_message_free(msg);
    smtpc_message_result *mres = NULL;
    EXPECT_ESTATE(p, smtpc_client_next_result(c, &mres));
    if (mres != NULL) failf(p, "next_result gave a result inside a callback");
    EXPECT_ESTATE(p, smtpc_client_set_window(c, 4, 4096));
    EXPECT_ESTATE(p, smtpc_client_set_nonblocking(c, 1));
    EXPECT_ESTATE(p, smtpc_client_step(c));
    EXPECT_ESTATE(p, smtpc_client_sendmail_stream(c, env, 0, stray_read, p));
    EXPECT_ESTATE(p, smtpc_client_send_message(
                         c, env, "From: a@example.org\r\nTo: b@example.org\r\n\r\nx\r\n", SMTPC_NTS));
    smtpc_envelope_free(env);
    smtpc_tls_config *cfg = NULL;
    if (smtpc_tls_config_new(&cfg) != SMTPC_OK) failf(p, "TLS configuration set-up failed inside a callback");
    EXPECT_ESTATE(p, smtpc_client_set_tls_config(c, cfg));
    smtpc_tls_config_free(cfg);
    EXPECT_ESTATE(p, smtpc_client_set_tls_policy(c, SMTPC_TLS_NONE));
    EXPECT_ESTATE(p, smtpc_client_set_tls_server_name(c, "other.test", SMTPC_NTS));
    EXPECT_ESTATE(p, smtpc_client_set_tls_insecure_skip_verify_for_testing(c, 1));
    EXPECT_ESTATE(p, smtpc_client_starttls(c));
    EXPECT_ESTATE(p, smtpc_client_set_allow_insecure_auth(c, 1));
    EXPECT_ESTATE(p, smtpc_client_set_authzid(c, "az", SMTPC_NTS));
    EXPECT_ESTATE(p, smtpc_client_login(c, "u", SMTPC_NTS, "p", SMTPC_NTS));
    EXPECT_ESTATE(p, smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "u", SMTPC_NTS, "p", SMTPC_NTS, 1));
    EXPECT_ESTATE(p,
                  smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, "u", SMTPC_NTS, NULL, 0, stray_token, p));
    EXPECT_ESTATE(p, smtpc_client_auth(c, "X-TEST", SMTPC_NTS, 1, stray_auth, p));

    /* Nothing changed: not the connection, not the running call's error state. */
    if (smtpc_client_is_connected(c) != connected) failf(p, "is_connected changed from %d", connected);
    if (smtpc_client_last_status(c) != last) failf(p, "last_status changed from %s", smtpc_status_name(last));
    if (strcmp(smtpc_client_errmsg(c), errmsg) != 0) failf(p, "errmsg changed from \"%s\"", errmsg);
    if (smtpc_client_last_reply(c) != reply || smtpc_reply_code(reply) != reply_code)
        failf(p, "last reply changed");
    if (smtpc_client_extn_count(c) != extn) failf(p, "feature map changed");
}

/* The close/free a test asks for, done once, at the first callback. */
static void act(probe_state *p) {
    if (p->acted) return;
    if (p->skip > 0) {
        p->skip--;
        return;
    }
    p->acted = 1;
    if (p->close_in) smtpc_client_close(p->client);
    if (p->free_in) smtpc_client_free(p->client);
}

static void probe_trace(smtpc_trace_kind kind, const char *data, size_t len, int64_t t, void *ud) {
    (void)kind, (void)data, (void)len, (void)t;
    probe_state *p = ud;
    if (p->acted && p->free_in) return; /* the handle is gone, or going: nothing to probe */
    probe(p);
    act(p);
}

static int probe_read(char *buf, size_t cap, size_t *len, void *ud) {
    probe_state *p = ud;
    p->reads++;
    probe(p);
    act(p);
    /* Two blocks, so that a stray command would land in the middle of the body. */
    size_t left = strlen(p->body) - p->body_pos;
    size_t n = left > 8 ? 8 : left;
    if (n > cap) n = cap;
    memcpy(buf, p->body + p->body_pos, n);
    p->body_pos += n;
    *len = n;
    return 0;
}

static int probe_auth(const char *ch, size_t chlen, int initial, smtpc_auth_response *resp, void *ud) {
    probe_state *p = ud;
    p->auth_calls++;
    probe(p);
    act(p);
    if (initial) return smtpc_auth_response_set(resp, "init", SMTPC_NTS) == SMTPC_OK ? 0 : 1;
    if (chlen != 4 || memcmp(ch, "chal", 4) != 0) failf(p, "unexpected challenge");
    return smtpc_auth_response_set(resp, "resp2", SMTPC_NTS) == SMTPC_OK ? 0 : 1;
}

static int probe_token(smtpc_auth_response *tok, void *ud) {
    probe_state *p = ud;
    p->auth_calls++;
    probe(p);
    act(p);
    return smtpc_auth_response_set(tok, "tok123", SMTPC_NTS) == SMTPC_OK ? 0 : 1;
}

static int probe_progress(uint64_t sent, uint64_t total, void *ud) {
    (void)sent, (void)total;
    probe_state *p = ud;
    p->reads++;
    if (p->acted && p->free_in) return 0;
    probe(p);
    act(p);
    return 0;
}

static void assert_probes_clean(const probe_state *p, int min_probes) {
    if (p->failures) fail_msg("%d check(s) failed inside callbacks; first: %s", p->failures, p->first);
    if (p->stray_callbacks)
        fail_msg("a callback handed to a refused call ran %d time(s)", p->stray_callbacks);
    if (p->probes < min_probes) fail_msg("only %d probe(s), expected at least %d", p->probes, min_probes);
}

static smtpc_client *traced_client(fault_fixture *f, probe_state *p) {
    smtpc_client *c = fault_client(f, 10000, 10000);
    p->client = c;
    assert_int_equal(smtpc_client_set_trace(c, 1, probe_trace, p), SMTPC_OK);
    return c;
}

/* ---------------------------------------------------------------------------------------------- */
/* Probes from every kind of callback; the outer calls complete as without them                  */
/* ---------------------------------------------------------------------------------------------- */

/* Every trace event of a session (connect, commands, a pipelined sendmail, quit) probes the client. */
static void test_trace_session(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    sc_send(f, RPL_GREETING);
    sc_expect(f, W_NOOP);
    sc_send(f, RPL_OK);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_PIPE);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_send(f, "250 2.0.0 queued\r\n");
    sc_expect(f, W_QUIT);
    sc_send(f, RPL_BYE);
    fault_start(f);
    smtpc_client *c = traced_client(f, &p);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_noop(c), SMTPC_OK);
    smtpc_envelope *env = fault_envelope(f, "r@example.org", NULL);
    ASSERT_STATUS(f, smtpc_client_sendmail(c, env, MSG, SMTPC_NTS), SMTPC_OK);
    fault_assert_reply(smtpc_client_last_reply(c), 250, "2.0.0 queued");
    assert_int_equal(smtpc_result_delivered_count(smtpc_client_last_result(c)), 1);
    ASSERT_STATUS(f, smtpc_client_quit(c), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA MSG
                            ".\r\n" W_QUIT);
    assert_probes_clean(&p, 10);
}

/* The read callback of sendmail_stream probes at every block: nothing lands in the body. */
static void test_read_callback(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    p.body = MSG;
    sc_hello(f, 0);
    sc_expect(f, "MAIL FROM:");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT TO:");
    sc_send(f, RPL_OK);
    sc_expect(f, W_DATA);
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, "250 2.0.0 queued\r\n");
    sc_expect(f, W_QUIT);
    sc_send(f, RPL_BYE);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_envelope *env = fault_envelope(f, "r@example.org", NULL);
    ASSERT_STATUS(f, smtpc_client_sendmail_stream(c, env, 0, probe_read, &p), SMTPC_OK);
    fault_assert_reply(smtpc_client_last_reply(c), 250, "2.0.0 queued");
    assert_int_equal(smtpc_client_is_connected(c), 1);
    ASSERT_STATUS(f, smtpc_client_quit(c), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f,
                            W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA MSG ".\r\n" W_QUIT);
    assert_true(p.reads >= 3);
    assert_probes_clean(&p, 3);
}

/* A custom AUTH mechanism's callback probes for the initial response and for the challenge. */
static void test_auth_callback(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AUTH);
    sc_expect(f, "AUTH X-TEST aW5pdA==\r\n");
    sc_send(f, "334 Y2hhbA==\r\n");
    sc_expect(f, "cmVzcDI=\r\n");
    sc_send(f, RPL_235);
    sc_expect(f, W_QUIT);
    sc_send(f, RPL_BYE);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_auth(c, "X-TEST", SMTPC_NTS, 1, probe_auth, &p), SMTPC_OK);
    assert_string_equal(smtpc_client_auth_mechanism(c), "X-TEST");
    ASSERT_STATUS(f, smtpc_client_quit(c), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "AUTH X-TEST aW5pdA==\r\ncmVzcDI=\r\n" W_QUIT);
    assert_int_equal(p.auth_calls, 2);
    assert_probes_clean(&p, 2);
}

/* The OAuth token callback probes before anything of the AUTH exchange is sent. */
static void test_token_callback(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AUTH);
    sc_expect(f, "AUTH XOAUTH2 dXNlcj11QGV4YW1wbGUub3JnAWF1dGg9QmVhcmVyIHRvazEyMwEB\r\n");
    sc_send(f, RPL_235);
    sc_expect(f, W_QUIT);
    sc_send(f, RPL_BYE);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f,
                  smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, "u@example.org", SMTPC_NTS, NULL, 0,
                                           probe_token, &p),
                  SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(c), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO
                            "AUTH XOAUTH2 dXNlcj11QGV4YW1wbGUub3JnAWF1dGg9QmVhcmVyIHRvazEyMwEB\r\n" W_QUIT);
    assert_int_equal(p.auth_calls, 1);
    assert_probes_clean(&p, 1);
}

/* The progress callback probes at every block; the message goes out whole. */
static void test_progress_callback(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    sc_hello(f, 0);
    sc_expect(f, "MAIL FROM:");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT TO:");
    sc_send(f, RPL_OK);
    sc_expect(f, W_DATA);
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, "250 2.0.0 queued\r\n");
    sc_expect(f, W_QUIT);
    sc_send(f, RPL_BYE);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    assert_int_equal(smtpc_client_set_progress(c, probe_progress, &p), SMTPC_OK);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_envelope *env = fault_envelope(f, "r@example.org", NULL);
    ASSERT_STATUS(f, smtpc_client_sendmail(c, env, MSG, SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(c), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f,
                            W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA MSG ".\r\n" W_QUIT);
    assert_probes_clean(&p, 1);
}

/* A close from a trace callback during sendmail, with a progress callback set: the message is
 * withdrawn at the progress callback (no end of data), not delivered and then closed. */
static void test_close_from_trace_withdraws_message(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    sc_hello(f, 0);
    sc_expect(f, "MAIL FROM:");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT TO:");
    sc_send(f, RPL_OK);
    sc_expect(f, W_DATA);
    sc_send(f, RPL_354);
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    probe_state quiet = {0};
    quiet.client = c;
    assert_int_equal(smtpc_client_set_progress(c, probe_progress, &quiet), SMTPC_OK);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    assert_int_equal(smtpc_client_set_trace(c, 1, probe_trace, &p), SMTPC_OK);
    p.close_in = 1;
    smtpc_envelope *env = fault_envelope(f, "r@example.org", NULL);
    ASSERT_STATUS(f, smtpc_client_sendmail(c, env, MSG, SMTPC_NTS), SMTPC_EUSER);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(smtpc_result_state(smtpc_client_last_result(c), 0), SMTPC_RCPT_ACCEPTED);
    assert_int_equal(fault_finish(f, 0), 0);
    const char *sent = W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA;
    fault_assert_transcript_prefix(f, sent, strlen(sent), MSG, strlen(MSG));
    assert_probes_clean(&p, 1);
    assert_probes_clean(&quiet, 1);
}

/* The trace of smtpc_client_close() itself ("connection closed"); smtpc_client_free() calls no
 * callback at all (a garbage collector's finalizer may call it). */
static void test_trace_of_close_and_free(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    sc_send(f, RPL_GREETING);
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = traced_client(f, &p);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    int before = p.probes;
    smtpc_client_close(c);
    assert_true(p.probes > before);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
    assert_probes_clean(&p, 2);
}

static void test_trace_of_free(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    sc_send(f, RPL_GREETING);
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = traced_client(f, &p);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    int before = p.probes;
    /* The close of a free is not traced, so the probe (which would close and free) never runs. */
    p.acted = 0;
    p.close_in = 1;
    p.free_in = 1;
    smtpc_client_free(c);
    f->client = NULL;
    assert_int_equal(p.probes, before);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
    assert_probes_clean(&p, 2);
}

/* ---------------------------------------------------------------------------------------------- */
/* smtpc_client_close() from a callback                                                          */
/* ---------------------------------------------------------------------------------------------- */

/* From a trace callback: the running command completes, then the connection is closed; no QUIT. */
static void test_close_from_trace(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    sc_send(f, RPL_GREETING);
    sc_expect(f, W_NOOP);
    sc_send(f, RPL_OK);
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    assert_int_equal(smtpc_client_set_trace(c, 1, probe_trace, &p), SMTPC_OK);
    p.close_in = 1;
    ASSERT_STATUS(f, smtpc_client_noop(c), SMTPC_OK);
    fault_assert_reply(smtpc_client_last_reply(c), 250, "2.0.0 ok");
    assert_int_equal(smtpc_client_is_connected(c), 0);
    ASSERT_STATUS(f, smtpc_client_noop(c), SMTPC_ENOTCONN);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
    assert_probes_clean(&p, 1);
}

/* From the read callback: the transaction is aborted at once (the dot is never sent). */
static void test_close_from_read(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    p.body = MSG;
    p.close_in = 1;
    sc_hello(f, 0);
    sc_expect(f, "MAIL FROM:");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT TO:");
    sc_send(f, RPL_OK);
    sc_expect(f, W_DATA);
    sc_send(f, RPL_354);
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_envelope *env = fault_envelope(f, "r@example.org", NULL);
    ASSERT_STATUS(f, smtpc_client_sendmail_stream(c, env, 0, probe_read, &p), SMTPC_EUSER);
    assert_non_null(strstr(smtpc_client_errmsg(c), "smtpc_client_close() was called from a callback"));
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(smtpc_result_state(smtpc_client_last_result(c), 0), SMTPC_RCPT_ACCEPTED);
    assert_int_equal(p.reads, 1);
    assert_int_equal(fault_finish(f, 0), 0);
    /* At most the first block may have gone out; never the end of data, never a stray command. */
    fault_assert_transcript_prefix(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA,
                                   sizeof(W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA) - 1,
                                   "", 0);
    assert_probes_clean(&p, 1);
}

/* From an AUTH callback: the exchange is aborted as if the callback had returned non-zero. */
static void test_close_from_auth(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    p.close_in = 1;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AUTH);
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_auth(c, "X-TEST", SMTPC_NTS, 1, probe_auth, &p), SMTPC_EUSER);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_string_equal(smtpc_client_auth_mechanism(c), "");
    assert_int_equal(p.auth_calls, 1);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
    assert_probes_clean(&p, 1);
}

/* From an AUTH callback answering a challenge: cancelled with "*", then closed. */
static void test_close_from_auth_challenge(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AUTH);
    sc_expect(f, "AUTH X-TEST aW5pdA==\r\n");
    sc_send(f, "334 Y2hhbA==\r\n");
    sc_expect(f, "*\r\n");
    sc_send(f, "501 5.7.0 cancelled\r\n");
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    p.close_in = 1;
    p.skip = 1; /* not at the initial response, at the challenge */
    ASSERT_STATUS(f, smtpc_client_auth(c, "X-TEST", SMTPC_NTS, 1, probe_auth, &p), SMTPC_EUSER);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(p.auth_calls, 2);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "AUTH X-TEST aW5pdA==\r\n*\r\n");
    assert_probes_clean(&p, 2);
}

/* From the token callback: nothing of the AUTH exchange is sent. */
static void test_close_from_token(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    p.close_in = 1;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AUTH);
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f,
                  smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, "u@example.org", SMTPC_NTS, NULL, 0,
                                           probe_token, &p),
                  SMTPC_EUSER);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
    assert_probes_clean(&p, 1);
}

/* ---------------------------------------------------------------------------------------------- */
/* smtpc_client_free() from a callback: freed when the running call returns (ASan: no use after free) */
/* ---------------------------------------------------------------------------------------------- */

static void test_free_from_trace(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    sc_send(f, RPL_GREETING);
    sc_expect(f, W_NOOP);
    sc_send(f, RPL_OK);
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    assert_int_equal(smtpc_client_set_trace(c, 1, probe_trace, &p), SMTPC_OK);
    p.free_in = 1;
    f->client = NULL; /* freed by the callback's request */
    ASSERT_STATUS(NULL, smtpc_client_noop(c), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
    assert_probes_clean(&p, 1);
}

static void test_free_from_read(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    p.body = MSG;
    p.free_in = 1;
    sc_hello(f, 0);
    sc_expect(f, "MAIL FROM:");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT TO:");
    sc_send(f, RPL_OK);
    sc_expect(f, W_DATA);
    sc_send(f, RPL_354);
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_envelope *env = fault_envelope(f, "r@example.org", NULL);
    f->client = NULL;
    ASSERT_STATUS(NULL, smtpc_client_sendmail_stream(c, env, 0, probe_read, &p), SMTPC_EUSER);
    assert_int_equal(p.reads, 1);
    assert_int_equal(fault_finish(f, 0), 0);
    fault_assert_transcript_prefix(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA,
                                   sizeof(W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA) - 1,
                                   "", 0);
    assert_probes_clean(&p, 1);
}

static void test_free_from_auth(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    p.free_in = 1;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AUTH);
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    f->client = NULL;
    ASSERT_STATUS(NULL, smtpc_client_auth(c, "X-TEST", SMTPC_NTS, 1, probe_auth, &p), SMTPC_EUSER);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
    assert_probes_clean(&p, 1);
}

static void test_free_from_token(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    p.free_in = 1;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AUTH);
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = fault_client(f, 10000, 10000);
    p.client = c;
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    f->client = NULL;
    ASSERT_STATUS(NULL,
                  smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, "u@example.org", SMTPC_NTS, NULL, 0,
                                           probe_token, &p),
                  SMTPC_EUSER);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
    assert_probes_clean(&p, 1);
}

/* A free from the trace of a close: the handle is freed when the close returns. */
static void test_free_from_trace_of_close(void **state) {
    fault_fixture *f = *state;
    probe_state p = {0};
    sc_send(f, RPL_GREETING);
    sc_expect_eof(f, 10);
    fault_start(f);
    smtpc_client *c = traced_client(f, &p);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    p.acted = 0;
    p.free_in = 1;
    f->client = NULL;
    smtpc_client_close(c);
    assert_int_equal(p.acted, 1);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
    assert_probes_clean(&p, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trace_session, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_read_callback, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_auth_callback, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_token_callback, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_progress_callback, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_close_from_trace_withdraws_message, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_trace_of_close_and_free, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_trace_of_free, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_close_from_trace, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_close_from_read, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_close_from_auth, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_close_from_auth_challenge, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_close_from_token, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_free_from_trace, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_free_from_read, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_free_from_auth, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_free_from_token, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_free_from_trace_of_close, fault_setup, fault_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
