/* SPDX-License-Identifier: MIT */
/*
 * TLS session resumption against aiosmtpd (one SSLContext per server process, so it resumes what it
 * issued, and records in each session file whether it did: "tls_resumed"). A configuration resumes
 * its own sessions with the same peer, name and verification settings, over STARTTLS and implicit
 * TLS, TLS 1.3 and 1.2; each TLS 1.3 ticket is offered once (the PSK identities in the ClientHellos
 * the server received differ); another server name, another configuration (another CA file), other
 * verification settings and the off switch do not resume; a session recorded as unverified under the
 * opportunistic policy stays unverified when resumed and is never offered under an enforcing
 * policy; tickets that arrived after the handshake are read when the connection is closed without
 * another command; clients on several threads share one configuration's sessions.
 * Every test checks the server's view and the exact bytes it received over TLS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tls_common.h"

static itest_server g_tls;        /* STARTTLS, server.pem, TLS 1.3 */
static itest_server g_tls12;      /* STARTTLS, server.pem, at most TLS 1.2 */
static itest_server g_implicit;   /* TLS from the first byte, server.pem */
static itest_server g_selfsigned; /* STARTTLS, selfsigned.pem (the test CA does not sign it) */

static const char k_body[] = "Subject: resume\r\nMessage-ID: <resume@example.org>\r\n\r\n"
                             "line one\r\n.leading dot\r\nlast line";
static const char k_want[] = "Subject: resume\r\nMessage-ID: <resume@example.org>\r\n\r\n"
                             "line one\r\n.leading dot\r\nlast line\r\n";
static const char k_wire_body[] = "Subject: resume\r\nMessage-ID: <resume@example.org>\r\n\r\n"
                                  "line one\r\n..leading dot\r\nlast line\r\n.\r\n";

static int group_setup(void **state) {
    (void)state;
    if (tls_pki_setup() != 0) return -1;
    static const char *const v12[] = {"--tls-max-version", "1.2", NULL};
    static const char *const implicit[] = {"--implicit-tls", NULL};
    if (tls_start_aiosmtpd(&g_tls, "server", NULL) != 0 || tls_start_aiosmtpd(&g_tls12, "server", v12) != 0 ||
        tls_start_aiosmtpd(&g_implicit, "server", implicit) != 0 ||
        tls_start_aiosmtpd(&g_selfsigned, "selfsigned", NULL) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_tls);
    itest_stop(&g_tls12);
    itest_stop(&g_implicit);
    itest_stop(&g_selfsigned);
    tls_pki_teardown();
    return 0;
}

static smtpc_tls_config *ca_config(const char *cafile) {
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    if (smtpc_tls_config_set_ca_file(cfg, cafile, SMTPC_NTS) != SMTPC_OK)
        fail_msg("set_ca_file: %s", smtpc_tls_config_errmsg(cfg));
    return cfg;
}

/* What one session showed: the client's facts, the server's view, the ClientHello's PSK identity. */
typedef struct outcome {
    int resumed, verified, server_resumed;
    long verify_result;
    char version[16];
    unsigned char psk[1024];
    size_t psk_len;             /* 0: the ClientHello offered no PSK (no TLS 1.3 ticket) */
    size_t traced_resumed;      /* INFO lines saying "session resumed" */
    size_t traced_not_verified; /* INFO lines saying "certificate NOT verified" */
} outcome;

/* The first PSK identity (RFC 8446 4.2.11) of the ClientHello at the start of `wire` (TLS records as
 * the server received them). 0 when there is none; fails the test when the bytes are no ClientHello. */
static size_t psk_identity(const char *wire, size_t len, unsigned char *out, size_t cap) {
    const unsigned char *p = (const unsigned char *)wire;
    assert_true(len > 9 && p[0] == 22 && p[5] == 1); /* a handshake record holding a ClientHello */
    size_t rec = ((size_t)p[3] << 8) | p[4];
    size_t hs = ((size_t)p[6] << 16) | ((size_t)p[7] << 8) | p[8];
    assert_true(rec >= 4 + hs && len >= 5 + rec); /* one record (as every client sends it here) */
    const unsigned char *q = p + 9, *end = p + 9 + hs;
    q += 2 + 32; /* legacy_version, random */
    assert_true(q < end);
    q += 1 + q[0]; /* legacy_session_id */
    assert_true(q + 2 <= end);
    q += 2 + (((size_t)q[0] << 8) | q[1]); /* cipher_suites */
    assert_true(q < end);
    q += 1 + q[0]; /* legacy_compression_methods */
    assert_true(q + 2 <= end);
    const unsigned char *ext_end = q + 2 + (((size_t)q[0] << 8) | q[1]);
    assert_true(ext_end <= end);
    q += 2;
    while (q + 4 <= ext_end) {
        unsigned type = ((unsigned)q[0] << 8) | q[1];
        size_t elen = ((size_t)q[2] << 8) | q[3];
        assert_true(q + 4 + elen <= ext_end);
        if (type == 41) { /* pre_shared_key: identities<7..2^16-1>, each identity<1..2^16-1> + age */
            assert_true(elen >= 2 + 2 + 1 + 4);
            size_t id_len = ((size_t)q[6] << 8) | q[7];
            assert_true(id_len > 0 && id_len <= cap && 8 + id_len <= 4 + elen);
            memcpy(out, q + 8, id_len);
            return id_len;
        }
        q += 4 + elen;
    }
    return 0;
}

/* The exact bytes of a sendmail of k_body to rcpt@example.org after EHLO, then QUIT. */
static size_t expected_transaction(char *buf, size_t cap) {
    int n = snprintf(buf, cap,
                     "EHLO " TLS_CLIENT_NAME "\r\nMAIL FROM:<sender@example.org> SIZE=%zu\r\n"
                     "RCPT TO:<rcpt@example.org>\r\nDATA\r\n%sQUIT\r\n",
                     sizeof k_want - 1, k_wire_body);
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

/*
 * One session on a client of its own: connect to `host` at `srv`, sendmail, QUIT; `cfg` NULL for the
 * default configuration. Checks the message and the exact bytes the server received (in clear: EHLO
 * and STARTTLS, unless `implicit`; over TLS: the transaction), and fills `o`.
 */
static void session(itest_server *srv, smtpc_tls_config *cfg, smtpc_tls_policy policy, const char *host,
                    const char *server_name, int implicit, outcome *o) {
    memset(o, 0, sizeof *o);
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, TLS_CLIENT_NAME);
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_tls_policy(c, policy), SMTPC_OK);
    if (cfg != NULL) assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
    if (server_name != NULL)
        assert_int_equal(smtpc_client_set_tls_server_name(c, server_name, SMTPC_NTS), SMTPC_OK);
    itest_trace t = {0};
    assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, &t), SMTPC_OK);
    TLS_ASSERT_STATUS(c, tls_connect(c, srv, host), SMTPC_OK);
    size_t idx = srv->connections - 1;
    size_t msgs = itest_msg_count(srv);
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    o->resumed = smtpc_client_tls_resumed(c);
    o->verified = smtpc_client_tls_verified(c);
    o->verify_result = smtpc_client_tls_verify_result(c);
    snprintf(o->version, sizeof o->version, "%s", smtpc_client_tls_version(c));
    /* The facts of a resumed session are those of its first handshake. */
    char *subject = tls_pki_text(srv == &g_selfsigned ? "selfsigned.subject" : "server.subject");
    if (subject != NULL) assert_string_equal(smtpc_client_tls_peer_subject(c), subject);
    free(subject);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_resumed(c), 0); /* closed: no TLS, nothing resumed */
    o->traced_resumed = tls_count_info(&t, "session resumed");
    o->traced_not_verified = tls_count_info(&t, "certificate NOT verified");
    itest_trace_clear(&t);
    smtpc_envelope_free(env);
    smtpc_client_free(c);

    itest_msg m;
    assert_int_equal(itest_load_msg(srv, msgs, TLS_WAIT_MS, &m), 0);
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(k_want));
    itest_msg_free(&m);
    if (implicit) tls_check_session(srv, idx, "", 0, 1);
    else tls_check_session(srv, idx, ITEST_STR("EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n"), 1);
    char want[2048];
    size_t want_len = expected_transaction(want, sizeof want);
    size_t len;
    char *got = tls_session_text(srv, idx, "tls_hex", &len);
    ITEST_ASSERT_BYTES_NOCASE(got, len, want, want_len);
    free(got);
    char *resumed = tls_session_text(srv, idx, "tls_resumed", NULL);
    o->server_resumed = strcmp(resumed, "true") == 0;
    free(resumed);
    char *wire = tls_session_text(srv, idx, "tls_wire_hex", &len);
    o->psk_len = psk_identity(wire, len, o->psk, sizeof o->psk);
    free(wire);
}

static void assert_full(const outcome *o) {
    assert_int_equal(o->resumed, 0);
    assert_int_equal(o->server_resumed, 0);
    assert_int_equal(o->traced_resumed, 0);
}

static void assert_resumed(const outcome *o) {
    assert_int_equal(o->resumed, 1);
    assert_int_equal(o->server_resumed, 1); /* the server agrees */
    assert_int_equal(o->traced_resumed, 1);
}

static int same_psk(const outcome *a, const outcome *b) {
    return a->psk_len == b->psk_len && memcmp(a->psk, b->psk, a->psk_len) == 0;
}

/* STARTTLS, TLS 1.3: the second and third connections with one configuration resume, each with a
 * ticket of its own (single use), and report the first handshake's verification. */
static void test_starttls_tls13_resumes_tickets_once(void **state) {
    (void)state;
    smtpc_tls_config *cfg = ca_config(tls_pki("ca.pem"));
    outcome o[4];
    for (int i = 0; i < 4; i++) {
        session(&g_tls, cfg, SMTPC_TLS_REQUIRED, "localhost", NULL, 0, &o[i]);
        assert_string_equal(o[i].version, "TLSv1.3");
        assert_int_equal(o[i].verified, 1);
        assert_int_equal(o[i].verify_result, 0);
    }
    assert_full(&o[0]);
    assert_int_equal(o[0].psk_len, 0); /* nothing to offer yet */
    for (int i = 1; i < 4; i++) {
        assert_resumed(&o[i]);
        assert_true(o[i].psk_len > 0);
        for (int j = 1; j < i; j++)
            if (same_psk(&o[i], &o[j])) fail_msg("connections %d and %d offered the same ticket", j, i);
    }
    smtpc_tls_config_free(cfg);
}

/* Implicit TLS (the tickets come before the greeting) resumes as well. */
static void test_implicit_resumes(void **state) {
    (void)state;
    smtpc_tls_config *cfg = ca_config(tls_pki("ca.pem"));
    outcome a, b;
    session(&g_implicit, cfg, SMTPC_TLS_IMPLICIT, "localhost", NULL, 1, &a);
    session(&g_implicit, cfg, SMTPC_TLS_IMPLICIT, "localhost", NULL, 1, &b);
    assert_full(&a);
    assert_resumed(&b);
    assert_int_equal(b.verified, 1);
    smtpc_tls_config_free(cfg);
}

/* TLS 1.2: a session ID or ticket, which may be resumed more than once. */
static void test_tls12_resumes(void **state) {
    (void)state;
    smtpc_tls_config *cfg = ca_config(tls_pki("ca.pem"));
    outcome o[3];
    for (int i = 0; i < 3; i++) {
        session(&g_tls12, cfg, SMTPC_TLS_REQUIRED, "localhost", NULL, 0, &o[i]);
        assert_string_equal(o[i].version, "TLSv1.2");
        assert_int_equal(o[i].verified, 1);
        assert_int_equal(o[i].psk_len, 0); /* TLS 1.3's PSK is never offered to a TLS 1.2 server */
    }
    assert_full(&o[0]);
    assert_resumed(&o[1]);
    assert_resumed(&o[2]);
    smtpc_tls_config_free(cfg);
}

/* Another server name for the same peer (127.0.0.1, verified as an IP address, then as "localhost")
 * does not resume; a session is offered only to the name it was verified for. */
static void test_other_server_name_does_not_resume(void **state) {
    (void)state;
    smtpc_tls_config *cfg = ca_config(tls_pki("ca.pem"));
    outcome a, b, c;
    session(&g_tls, cfg, SMTPC_TLS_REQUIRED, "127.0.0.1", NULL, 0, &a);
    session(&g_tls, cfg, SMTPC_TLS_REQUIRED, "127.0.0.1", "localhost", 0, &b);
    session(&g_tls, cfg, SMTPC_TLS_REQUIRED, "127.0.0.1", "localhost", 0, &c);
    assert_full(&a);
    assert_int_equal(a.verified, 1);
    assert_full(&b);
    assert_int_equal(b.psk_len, 0); /* nothing was offered */
    assert_int_equal(b.verified, 1);
    assert_resumed(&c); /* its own name's session */
    smtpc_tls_config_free(cfg);
}

/* Another configuration (here another CA file that also trusts the server, and the process default)
 * does not resume a session of this one: trust settings are never mixed. */
static void test_other_configuration_does_not_resume(void **state) {
    (void)state;
    char dir[512], bundle[600];
    assert_int_equal(harness_make_temp_dir("smtpc-resume", dir, sizeof dir), 0);
    snprintf(bundle, sizeof bundle, "%s/bundle.pem", dir);
    char *ca = NULL, *ca2 = NULL;
    size_t ca_len = 0, ca2_len = 0;
    assert_int_equal(harness_read_file(tls_pki("ca2.pem"), &ca2, &ca2_len), 0);
    assert_int_equal(harness_read_file(tls_pki("ca.pem"), &ca, &ca_len), 0);
    FILE *fp = fopen(bundle, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(ca2, 1, ca2_len, fp), ca2_len);
    assert_int_equal(fwrite(ca, 1, ca_len, fp), ca_len);
    assert_int_equal(fclose(fp), 0);
    free(ca);
    free(ca2);

    smtpc_tls_config *one = ca_config(tls_pki("ca.pem"));
    smtpc_tls_config *other = ca_config(bundle);
    outcome a, b, c;
    session(&g_tls, one, SMTPC_TLS_REQUIRED, "localhost", NULL, 0, &a);
    session(&g_tls, other, SMTPC_TLS_REQUIRED, "localhost", NULL, 0, &b);
    session(&g_tls, one, SMTPC_TLS_REQUIRED, "localhost", NULL, 0, &c);
    assert_full(&a);
    assert_full(&b);
    assert_int_equal(b.psk_len, 0);
    assert_int_equal(b.verified, 1);
    assert_resumed(&c);
    smtpc_tls_config_free(one);
    smtpc_tls_config_free(other);
    harness_remove_tree(dir);
}

/* The off switch: nothing offered, nothing resumed; switching it off forgets what was saved. */
static void test_off_switch(void **state) {
    (void)state;
    smtpc_tls_config *cfg = ca_config(tls_pki("ca.pem"));
    assert_int_equal(smtpc_tls_config_set_session_resumption(cfg, 0), SMTPC_OK);
    outcome a, b, c, d;
    session(&g_tls, cfg, SMTPC_TLS_REQUIRED, "localhost", NULL, 0, &a);
    session(&g_tls, cfg, SMTPC_TLS_REQUIRED, "localhost", NULL, 0, &b);
    assert_full(&a);
    assert_full(&b);
    assert_int_equal(b.psk_len, 0);
    /* On again: the next connection saves tickets, the one after resumes... */
    assert_int_equal(smtpc_tls_config_set_session_resumption(cfg, 1), SMTPC_OK);
    session(&g_tls, cfg, SMTPC_TLS_REQUIRED, "localhost", NULL, 0, &c);
    session(&g_tls, cfg, SMTPC_TLS_REQUIRED, "localhost", NULL, 0, &d);
    assert_full(&c);
    assert_resumed(&d);
    /* ...and off forgets them, although the configuration is in use. */
    assert_int_equal(smtpc_tls_config_set_session_resumption(cfg, 0), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_session_resumption(cfg, 1), SMTPC_OK);
    session(&g_tls, cfg, SMTPC_TLS_REQUIRED, "localhost", NULL, 0, &a);
    assert_full(&a);
    assert_int_equal(a.psk_len, 0);
    assert_int_equal(smtpc_tls_config_set_session_resumption(NULL, 1), SMTPC_EINVAL);
    smtpc_tls_config_free(cfg);
}

/* Opportunistic TLS to a server the configuration does not trust: the resumed session reports the
 * first handshake's failed verification (18, self-signed; the INFO line), and it is never offered
 * under an enforcing policy, which verifies in full and fails. Changing a verification switch of the
 * configuration also stops the session from being offered. */
static void test_unverified_session_stays_unverified(void **state) {
    (void)state;
    smtpc_tls_config *cfg = ca_config(tls_pki("ca.pem"));
    outcome a, b;
    session(&g_selfsigned, cfg, SMTPC_TLS_OPPORTUNISTIC, "localhost", NULL, 0, &a);
    session(&g_selfsigned, cfg, SMTPC_TLS_OPPORTUNISTIC, "localhost", NULL, 0, &b);
    assert_full(&a);
    assert_resumed(&b);
    assert_int_equal(a.verified, 0);
    assert_int_equal(a.verify_result, 18);
    assert_int_equal(b.verified, 0);
    assert_int_equal(b.verify_result, 18);
    assert_int_equal(b.traced_not_verified, 1);

    /* REQUIRED with the same configuration to the same server: a full handshake, refused. */
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 0);
    assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
    itest_trace t = {0};
    assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, &t), SMTPC_OK);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_selfsigned, "localhost"), SMTPC_OK);
    size_t idx = g_selfsigned.connections - 1;
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_ETLS_VERIFY);
    assert_int_equal(smtpc_client_tls_verify_result(c), 18);
    assert_int_equal(smtpc_client_tls_resumed(c), 0);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    smtpc_envelope_free(env);
    smtpc_client_free(c);
    itest_trace_clear(&t);
    tls_check_session(&g_selfsigned, idx, ITEST_STR("EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n"), 0);
    size_t len;
    char *wire = tls_session_text(&g_selfsigned, idx, "tls_wire_hex", &len);
    unsigned char psk[1024];
    assert_int_equal(psk_identity(wire, len, psk, sizeof psk), 0); /* no ticket offered */
    free(wire);

    /* Host-name checks switched off: other settings, so no resumption either. */
    assert_int_equal(smtpc_tls_config_set_verify_hostname(cfg, 0), SMTPC_OK);
    session(&g_selfsigned, cfg, SMTPC_TLS_OPPORTUNISTIC, "localhost", NULL, 0, &a);
    assert_full(&a);
    assert_int_equal(a.psk_len, 0);
    smtpc_tls_config_free(cfg);
}

/* STARTTLS, then close with no other command: the tickets that came after the handshake (waiting
 * unread on the socket) are taken at the close, so the next connection resumes. */
static void test_tickets_read_at_close(void **state) {
    (void)state;
    smtpc_tls_config *cfg = ca_config(tls_pki("ca.pem"));
    smtpc_client *c = tls_client(SMTPC_TLS_NONE, 0);
    assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls, "localhost"), SMTPC_OK);
    size_t idx = g_tls.connections - 1;
    TLS_ASSERT_STATUS(c, smtpc_client_starttls(c), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_resumed(c), 0);
    struct timespec ts = {0, 300 * 1000 * 1000}; /* the tickets are now on the socket */
    nanosleep(&ts, NULL);
    smtpc_client_close(c);
    smtpc_client_free(c);
    tls_check_session(&g_tls, idx, ITEST_STR("EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n"), 1);

    outcome b;
    session(&g_tls, cfg, SMTPC_TLS_REQUIRED, "localhost", NULL, 0, &b);
    assert_resumed(&b);
    smtpc_tls_config_free(cfg);
}

/* Clients without a configuration share the process default's sessions. */
static void test_default_configuration_resumes(void **state) {
    (void)state;
    /* The default configuration trusts the system store, not the test CA: opportunistic, and
     * recorded as unverified (20, unknown issuer) on both connections. */
    outcome a, b;
    session(&g_tls, NULL, SMTPC_TLS_OPPORTUNISTIC, "127.0.0.1", NULL, 0, &a);
    session(&g_tls, NULL, SMTPC_TLS_OPPORTUNISTIC, "127.0.0.1", NULL, 0, &b);
    (void)a; /* another test may have saved a session for this peer already */
    assert_resumed(&b);
    assert_int_equal(b.verified, 0);
    assert_int_equal(b.verify_result, a.verify_result);
    assert_true(b.verify_result != 0);
}

/* Four threads, each a few sessions, all with one configuration: every session delivered, sessions
 * resumed across threads (run under the sanitizers too). */
typedef struct worker {
    smtpc_tls_config *cfg;
    int sessions, resumed, failed;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    smtpc_envelope *env = NULL;
    if (smtpc_envelope_new(&env) != SMTPC_OK ||
        smtpc_envelope_set_sender(env, "sender@example.org", SMTPC_NTS) != SMTPC_OK ||
        smtpc_envelope_add_recipient(env, "rcpt@example.org", SMTPC_NTS) != SMTPC_OK) {
        w->failed++;
        smtpc_envelope_free(env);
        return NULL;
    }
    for (int i = 0; i < w->sessions; i++) {
        smtpc_client *c = NULL;
        if (smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP) != SMTPC_OK) {
            w->failed++;
            continue;
        }
        smtpc_client_set_local_hostname(c, TLS_CLIENT_NAME, SMTPC_NTS);
        smtpc_client_set_tls_policy(c, SMTPC_TLS_IMPLICIT);
        smtpc_client_set_tls_config(c, w->cfg);
        if (smtpc_client_connect(c, "localhost", SMTPC_NTS, (uint16_t)g_implicit.proc.port) != SMTPC_OK ||
            smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1) != SMTPC_OK ||
            !smtpc_client_tls_verified(c))
            w->failed++;
        w->resumed += smtpc_client_tls_resumed(c);
        smtpc_client_quit(c);
        smtpc_client_free(c);
    }
    smtpc_envelope_free(env);
    return NULL;
}

static void test_threads_share_sessions(void **state) {
    (void)state;
    smtpc_tls_config *cfg = ca_config(tls_pki("ca.pem"));
    enum { kThreads = 4, kSessions = 3 };
    size_t msgs = itest_msg_count(&g_implicit);
    worker w[kThreads];
    pthread_t th[kThreads];
    for (int i = 0; i < kThreads; i++) {
        w[i] = (worker){cfg, kSessions, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    int resumed = 0;
    for (int i = 0; i < kThreads; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failed, 0);
        resumed += w[i].resumed;
    }
    g_implicit.connections += kThreads * kSessions;
    /* At least every thread's later sessions: each thread's first may race the others' first. */
    assert_true(resumed >= kThreads * (kSessions - 1));
    itest_msg m;
    assert_int_equal(itest_load_msg(&g_implicit, msgs + kThreads * kSessions - 1, TLS_WAIT_MS, &m), 0);
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(k_want));
    itest_msg_free(&m);
    smtpc_tls_config_free(cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starttls_tls13_resumes_tickets_once),
        cmocka_unit_test(test_implicit_resumes),
        cmocka_unit_test(test_tls12_resumes),
        cmocka_unit_test(test_other_server_name_does_not_resume),
        cmocka_unit_test(test_other_configuration_does_not_resume),
        cmocka_unit_test(test_off_switch),
        cmocka_unit_test(test_unverified_session_stays_unverified),
        cmocka_unit_test(test_tickets_read_at_close),
        cmocka_unit_test(test_default_configuration_resumes),
        cmocka_unit_test(test_threads_share_sessions),
    };
    return cmocka_run_group_tests_name("tls_resume", tests, group_setup, group_teardown);
}
