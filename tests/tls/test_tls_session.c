/* SPDX-License-Identifier: MIT */
/*
 * TLS sessions against aiosmtpd: STARTTLS by hand (facts, state forgotten after the upgrade, the
 * message intact), the TLS policies (required, opportunistic, none, auto on loopback; required
 * against a server without STARTTLS; the low-level MAIL/RCPT/DATA guard) and implicit TLS.
 * Each test checks what the server received in clear and over TLS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tls_common.h"

static itest_server g_tls;      /* STARTTLS offered, certificate server.pem */
static itest_server g_plain;    /* no STARTTLS */
static itest_server g_implicit; /* TLS from the first byte, server.pem */

static const char k_body[] = "Subject: tls test\r\nMessage-ID: <tls1@example.org>\r\n\r\n"
                             "line one\r\n.leading dot\r\nlast line";
static const char k_want[] = "Subject: tls test\r\nMessage-ID: <tls1@example.org>\r\n\r\n"
                             "line one\r\n.leading dot\r\nlast line\r\n";
static const char k_wire_body[] = "Subject: tls test\r\nMessage-ID: <tls1@example.org>\r\n\r\n"
                                  "line one\r\n..leading dot\r\nlast line\r\n.\r\n";

static int group_setup(void **state) {
    (void)state;
    if (tls_pki_setup() != 0) return -1;
    static const char *const implicit[] = {"--implicit-tls", NULL};
    if (tls_start_aiosmtpd(&g_tls, "server", NULL) != 0 || tls_start_aiosmtpd(&g_plain, NULL, NULL) != 0 ||
        tls_start_aiosmtpd(&g_implicit, "server", implicit) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_tls);
    itest_stop(&g_plain);
    itest_stop(&g_implicit);
    tls_pki_teardown();
    return 0;
}

static int contains_nocase(const char *data, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (strncasecmp(data + i, needle, n) == 0) return 1;
    return 0;
}

/* The exact bytes of a lock-step sendmail of k_body to rcpt@example.org after EHLO, then QUIT. */
static size_t expected_transaction(char *buf, size_t cap, int with_ehlo) {
    int n = snprintf(
        buf, cap,
        "%sMAIL FROM:<sender@example.org> SIZE=%zu\r\nRCPT TO:<rcpt@example.org>\r\nDATA\r\n%sQUIT\r\n",
        with_ehlo ? "EHLO " TLS_CLIENT_NAME "\r\n" : "", sizeof k_want - 1, k_wire_body);
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

static void check_message(itest_server *srv, size_t index, const char *tls_mode) {
    itest_msg m;
    assert_int_equal(itest_load_msg(srv, index, TLS_WAIT_MS, &m), 0);
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(k_want));
    ITEST_ASSERT_BYTES(m.mail_from, m.mail_from_len, ITEST_STR("sender@example.org"));
    assert_int_equal(m.rcpt_count, 1);
    assert_string_equal(m.rcpt_tos[0], "rcpt@example.org");
    itest_msg_free(&m);
    char *mode = tls_msg_text(srv, index, "tls", NULL);
    assert_string_equal(mode, tls_mode);
    free(mode);
}

static void check_facts_verified(smtpc_client *c) {
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), 1);
    assert_int_equal(smtpc_client_tls_verify_result(c), 0);
    assert_string_equal(smtpc_client_tls_version(c), "TLSv1.3");
    assert_memory_equal(smtpc_client_tls_cipher(c), "TLS_", 4);
    char *subject = tls_pki_text("server.subject");
    char *fp = tls_pki_text("server.fp");
    assert_non_null(subject);
    assert_non_null(fp);
    assert_string_equal(smtpc_client_tls_peer_subject(c), subject);
    assert_non_null(strstr(smtpc_client_tls_peer_subject(c), "CN=localhost"));
    assert_string_equal(smtpc_client_tls_peer_fingerprint(c), fp);
    assert_int_equal(strlen(fp), 64);
    free(subject);
    free(fp);
}

static void check_facts_plain(smtpc_client *c) {
    assert_int_equal(smtpc_client_tls_active(c), 0);
    assert_int_equal(smtpc_client_tls_verified(c), 0);
    assert_string_equal(smtpc_client_tls_version(c), "");
    assert_string_equal(smtpc_client_tls_cipher(c), "");
    assert_string_equal(smtpc_client_tls_peer_subject(c), "");
    assert_string_equal(smtpc_client_tls_peer_fingerprint(c), "");
}

/* STARTTLS by hand: facts, pre-TLS state forgotten, EHLO again, the message arrives intact. */
static void test_starttls_by_hand(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_NONE, 1);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls, "localhost"), SMTPC_OK);
    size_t idx = g_tls.connections - 1;
    size_t msgs = itest_msg_count(&g_tls);
    check_facts_plain(c);
    TLS_ASSERT_STATUS(c, smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_has_extn(c, "STARTTLS", SMTPC_NTS), 1);
    assert_true(smtpc_client_extn_count(c) > 0);

    TLS_ASSERT_STATUS(c, smtpc_client_starttls(c), SMTPC_OK);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    check_facts_verified(c);
    /* RFC 3207 4.2: everything learnt before TLS is forgotten until the next EHLO. */
    assert_null(smtpc_client_ehlo_reply(c));
    assert_null(smtpc_client_helo_reply(c));
    assert_int_equal(smtpc_client_extn_count(c), 0);
    assert_int_equal(smtpc_client_does_esmtp(c), 0);
    assert_int_equal(smtpc_client_has_extn(c, "SIZE", SMTPC_NTS), 0);
    assert_null(smtpc_client_extn_name(c, 0, NULL));
    /* A second STARTTLS is refused without a byte sent. */
    TLS_ASSERT_STATUS(c, smtpc_client_starttls(c), SMTPC_ESTATE);

    TLS_ASSERT_STATUS(c, smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    assert_non_null(smtpc_client_ehlo_reply(c));
    assert_true(smtpc_client_extn_count(c) > 0);
    assert_int_equal(smtpc_client_has_extn(c, "SIZE", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "STARTTLS", SMTPC_NTS), 0); /* not offered over TLS */

    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    check_facts_verified(c);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    check_facts_plain(c);
    smtpc_envelope_free(env);
    smtpc_client_free(c);

    check_message(&g_tls, msgs, "starttls");
    char *version = tls_msg_text(&g_tls, msgs, "tls_version", NULL);
    assert_string_equal(version, "TLSv1.3");
    free(version);
    tls_check_session(&g_tls, idx, ITEST_STR("EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n"), 1);
    char want[2048];
    size_t want_len = expected_transaction(want, sizeof want, 1);
    size_t len;
    char *tls = tls_session_text(&g_tls, idx, "tls_hex", &len);
    ITEST_ASSERT_BYTES_NOCASE(tls, len, want, want_len);
    free(tls);
}

/* REQUIRED: sendmail says EHLO, upgrades with STARTTLS, says EHLO again and sends over TLS. */
static void test_required_sendmail_upgrades(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 1);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls, "localhost"), SMTPC_OK);
    size_t idx = g_tls.connections - 1;
    size_t msgs = itest_msg_count(&g_tls);
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    check_facts_verified(c);
    assert_int_equal(smtpc_client_has_extn(c, "STARTTLS", SMTPC_NTS), 0); /* the post-TLS EHLO's map */
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_envelope_free(env);
    smtpc_client_free(c);

    check_message(&g_tls, msgs, "starttls");
    tls_check_session(&g_tls, idx, ITEST_STR("EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n"), 1);
    char want[2048];
    size_t want_len = expected_transaction(want, sizeof want, 1);
    size_t len;
    char *tls = tls_session_text(&g_tls, idx, "tls_hex", &len);
    ITEST_ASSERT_BYTES_NOCASE(tls, len, want, want_len);
    free(tls);
}

/* OPPORTUNISTIC: upgrades when offered ... */
static void test_opportunistic_upgrades_when_offered(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_OPPORTUNISTIC, 1);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls, "localhost"), SMTPC_OK);
    size_t idx = g_tls.connections - 1;
    size_t msgs = itest_msg_count(&g_tls);
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    check_facts_verified(c);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_envelope_free(env);
    smtpc_client_free(c);
    check_message(&g_tls, msgs, "starttls");
    tls_check_session(&g_tls, idx, ITEST_STR("EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n"), 1);
}

/* ... and sends in plaintext to a server without STARTTLS. */
static void test_opportunistic_plaintext_without_starttls(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_OPPORTUNISTIC, 1);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_plain, "localhost"), SMTPC_OK);
    size_t idx = g_plain.connections - 1;
    size_t msgs = itest_msg_count(&g_plain);
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    check_facts_plain(c);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_envelope_free(env);
    smtpc_client_free(c);
    check_message(&g_plain, msgs, "none");
    char want[2048];
    size_t want_len = expected_transaction(want, sizeof want, 1);
    size_t len;
    char *plain = tls_session_text(&g_plain, idx, "plain_hex", &len);
    ITEST_ASSERT_BYTES_NOCASE(plain, len, want, want_len);
    free(plain);
}

/* REQUIRED against a server without STARTTLS: SMTPC_ETLS_REQUIRED after EHLO, nothing else sent. */
static void test_required_without_starttls_fails(void **state) {
    (void)state;
    size_t msgs = itest_msg_count(&g_plain);
    smtpc_envelope *env = tls_envelope(NULL);
    static const char plain_ehlo[] = "EHLO " TLS_CLIENT_NAME "\r\n";

    /* sendmail, with no credentials configured anywhere. */
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 1);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_plain, "localhost"), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_ETLS_REQUIRED);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(smtpc_client_tls_active(c), 0);
    assert_true(strlen(smtpc_client_errmsg(c)) > 0);
    /* No silent reconnect: the next call finds no connection. */
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_ENOTCONN);
    tls_check_session(&g_plain, g_plain.connections - 1, ITEST_STR(plain_ehlo), 0);

    /* ehlo_or_helo_if_needed applies the policy too. */
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_plain, "localhost"), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_ehlo_or_helo_if_needed(c), SMTPC_ETLS_REQUIRED);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    tls_check_session(&g_plain, g_plain.connections - 1, ITEST_STR(plain_ehlo), 0);
    smtpc_client_free(c);

    /* The same with the default trust store (no TLS configuration at all). */
    c = tls_client(SMTPC_TLS_REQUIRED, 0);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_plain, "localhost"), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_ETLS_REQUIRED);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    tls_check_session(&g_plain, g_plain.connections - 1, ITEST_STR(plain_ehlo), 0);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    assert_int_equal(itest_msg_count(&g_plain), msgs);
}

/* NONE never upgrades, even when the server offers STARTTLS. */
static void test_none_never_upgrades(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_NONE, 1);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls, "localhost"), SMTPC_OK);
    size_t idx = g_tls.connections - 1;
    size_t msgs = itest_msg_count(&g_tls);
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    assert_int_equal(smtpc_client_has_extn(c, "STARTTLS", SMTPC_NTS), 1);
    check_facts_plain(c);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_envelope_free(env);
    smtpc_client_free(c);
    check_message(&g_tls, msgs, "none");
    char want[2048];
    size_t want_len = expected_transaction(want, sizeof want, 1);
    tls_check_session(&g_tls, idx, want, want_len, 0);
}

/* Low-level MAIL/RCPT/DATA under REQUIRED on a plaintext connection: SMTPC_ETLS_REQUIRED, the
 * command not sent, and (as for every SMTPC_ETLS_REQUIRED, see the status code) the connection
 * closed. */
enum guarded_cmd { GUARD_MAIL, GUARD_RCPT, GUARD_DATA };

static void run_guard(itest_server *srv, enum guarded_cmd cmd, int say_ehlo) {
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 1);
    TLS_ASSERT_STATUS(c, tls_connect(c, srv, "localhost"), SMTPC_OK);
    size_t idx = srv->connections - 1;
    if (say_ehlo) TLS_ASSERT_STATUS(c, smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    smtpc_status st = cmd == GUARD_MAIL   ? smtpc_client_mail(c, "sender@example.org", SMTPC_NTS, NULL, 0)
                      : cmd == GUARD_RCPT ? smtpc_client_rcpt(c, "rcpt@example.org", SMTPC_NTS, NULL, 0)
                                          : smtpc_client_data(c, k_body, sizeof k_body - 1);
    TLS_ASSERT_STATUS(c, st, SMTPC_ETLS_REQUIRED);
    assert_true(strlen(smtpc_client_errmsg(c)) > 0);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    smtpc_client_free(c);
    if (say_ehlo) tls_check_session(srv, idx, ITEST_STR("EHLO " TLS_CLIENT_NAME "\r\n"), 0);
    else tls_check_session(srv, idx, "", 0, 0);
}

static void test_required_guards_low_level_commands(void **state) {
    (void)state;
    size_t msgs = itest_msg_count(&g_tls);
    /* On a server that offers STARTTLS (the caller did not use it) and on one that does not. */
    itest_server *servers[] = {&g_tls, &g_plain};
    for (size_t s = 0; s < 2; s++) {
        run_guard(servers[s], GUARD_MAIL, 0);
        run_guard(servers[s], GUARD_MAIL, 1);
        run_guard(servers[s], GUARD_RCPT, 1);
        run_guard(servers[s], GUARD_DATA, 1);
    }
    assert_int_equal(itest_msg_count(&g_tls), msgs);

    /* Once upgraded by hand, the same commands go through. */
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 1);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls, "localhost"), SMTPC_OK);
    size_t idx = g_tls.connections - 1;
    TLS_ASSERT_STATUS(c, smtpc_client_starttls(c), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_mail(c, "sender@example.org", SMTPC_NTS, NULL, 0), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_rcpt(c, "rcpt@example.org", SMTPC_NTS, NULL, 0), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_data(c, k_body, sizeof k_body - 1), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    check_message(&g_tls, msgs, "starttls");
    /* In clear: only EHLO (said by starttls) and STARTTLS. */
    tls_check_session(&g_tls, idx, ITEST_STR("EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n"), 1);
}

/* AUTO (the default) on loopback behaves as OPPORTUNISTIC. */
static void test_auto_on_loopback_is_opportunistic(void **state) {
    (void)state;
    smtpc_envelope *env = tls_envelope(NULL);
    /* Upgrades when offered (policy left at its default). */
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, TLS_CLIENT_NAME);
    assert_non_null(c);
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, tls_pki("ca.pem"), SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls, "localhost"), SMTPC_OK);
    size_t msgs = itest_msg_count(&g_tls);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    check_facts_verified(c);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    check_message(&g_tls, msgs, "starttls");
    tls_check_session(&g_tls, g_tls.connections - 1, ITEST_STR("EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n"),
                      1);

    /* Plaintext when not offered, for sendmail and for the low-level commands alike. */
    assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_AUTO), SMTPC_OK);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_plain, "localhost"), SMTPC_OK);
    msgs = itest_msg_count(&g_plain);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    check_facts_plain(c);
    TLS_ASSERT_STATUS(c, smtpc_client_mail(c, "sender@example.org", SMTPC_NTS, NULL, 0), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_rset(c), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    check_message(&g_plain, msgs, "none");
    smtpc_tls_config_free(cfg);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
}

/* smtpc_client_starttls on a server that does not offer it: SMTPC_ENOTSUPPORTED, still connected. */
static void test_starttls_not_offered(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_NONE, 1);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_plain, "localhost"), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_starttls(c), SMTPC_ENOTSUPPORTED);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    check_facts_plain(c);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    tls_check_session(&g_plain, g_plain.connections - 1, ITEST_STR("EHLO " TLS_CLIENT_NAME "\r\nQUIT\r\n"),
                      0);
}

/* IMPLICIT: the greeting already comes over TLS; sendmail over TLS; no STARTTLS anywhere. */
static void test_implicit_tls(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_IMPLICIT, 1);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_implicit, "localhost"), SMTPC_OK);
    size_t idx = g_implicit.connections - 1;
    size_t msgs = itest_msg_count(&g_implicit);
    check_facts_verified(c);
    const smtpc_reply *greeting = smtpc_client_last_reply(c);
    assert_non_null(greeting);
    assert_int_equal(smtpc_reply_code(greeting), 220);
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    assert_int_equal(smtpc_client_has_extn(c, "STARTTLS", SMTPC_NTS), 0);
    check_facts_verified(c);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_envelope_free(env);
    smtpc_client_free(c);

    check_message(&g_implicit, msgs, "implicit");
    tls_check_session(&g_implicit, idx, "", 0, 1);
    char *mode = tls_session_text(&g_implicit, idx, "tls", NULL);
    assert_string_equal(mode, "implicit");
    free(mode);
    char want[2048];
    size_t want_len = expected_transaction(want, sizeof want, 1);
    size_t len;
    char *tls = tls_session_text(&g_implicit, idx, "tls_hex", &len);
    ITEST_ASSERT_BYTES_NOCASE(tls, len, want, want_len);
    free(tls);
}

/* IMPLICIT against a plaintext server: the handshake fails (SMTPC_ETLS); never a fallback. */
static void test_implicit_against_plaintext_server(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_IMPLICIT, 1);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_plain, "localhost"), SMTPC_ETLS);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(smtpc_client_tls_active(c), 0);
    assert_true(strlen(smtpc_client_errmsg(c)) > 0);
    smtpc_client_free(c);
    /* The server got a ClientHello and nothing in clear that looks like SMTP. */
    size_t len;
    char *plain = tls_session_text(&g_plain, g_plain.connections - 1, "plain_hex", &len);
    assert_true(len > 0);
    assert_true(tls_is_tls_records(plain, len));
    assert_false(contains_nocase(plain, len, "EHLO"));
    free(plain);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starttls_by_hand),
        cmocka_unit_test(test_required_sendmail_upgrades),
        cmocka_unit_test(test_opportunistic_upgrades_when_offered),
        cmocka_unit_test(test_opportunistic_plaintext_without_starttls),
        cmocka_unit_test(test_required_without_starttls_fails),
        cmocka_unit_test(test_none_never_upgrades),
        cmocka_unit_test(test_required_guards_low_level_commands),
        cmocka_unit_test(test_auto_on_loopback_is_opportunistic),
        cmocka_unit_test(test_starttls_not_offered),
        cmocka_unit_test(test_implicit_tls),
        cmocka_unit_test(test_implicit_against_plaintext_server),
    };
    return cmocka_run_group_tests_name("tls_session", tests, group_setup, group_teardown);
}
