/* SPDX-License-Identifier: MIT */
/*
 * Certificate verification against aiosmtpd servers presenting bad certificates (expired,
 * self-signed, unknown CA, wrong host name, partial wildcard, no IP address): under REQUIRED and
 * STARTTLS by hand, SMTPC_ETLS_VERIFY with the right X509_V_ERR_* code, the connection closed, and
 * nothing sent in clear after STARTTLS (a certificate failure is never answered by a plaintext
 * fallback); under OPPORTUNISTIC and AUTO to loopback (opportunistic security, RFC 7435), the
 * session goes on encrypted with the failure recorded (verified 0, the X509 code) and the message
 * goes over TLS. Also: the TLS server name, IP address SANs (IPv4 and IPv6), the testing-only switch
 * that skips verification, and the configuration's verification switches.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_common.h"

/* OpenSSL's X509_V_ERR_* codes (stable numbers; the tests do not include OpenSSL's headers). */
enum {
    X509_CERT_HAS_EXPIRED = 10,
    X509_DEPTH_ZERO_SELF_SIGNED_CERT = 18,
    X509_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20,
    X509_HOSTNAME_MISMATCH = 62,
    X509_IP_ADDRESS_MISMATCH = 64
};

typedef struct bad_cert {
    const char *cert; /* PKI base name */
    long code;        /* expected smtpc_client_tls_verify_result() */
    itest_server srv;
} bad_cert;

static bad_cert g_bad[] = {
    {.cert = "expired", .code = X509_CERT_HAS_EXPIRED},
    {.cert = "selfsigned", .code = X509_DEPTH_ZERO_SELF_SIGNED_CERT},
    {.cert = "unknownca", .code = X509_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
    {.cert = "wronghost", .code = X509_HOSTNAME_MISMATCH},
    {.cert = "wildcard", .code = X509_HOSTNAME_MISMATCH},
};
#define N_BAD (sizeof g_bad / sizeof g_bad[0])

static itest_server g_good;             /* server.pem on 127.0.0.1 */
static itest_server g_good6;            /* server.pem on ::1 (port 0 when IPv6 is unavailable) */
static itest_server g_noip;             /* noip.pem: DNS:localhost only */
static itest_server g_expired_implicit; /* expired.pem, TLS from the first byte */

static const char k_body[] = "Subject: verify\r\n\r\nbody\r\n";
static const char k_clear[] = "EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n";

static bad_cert *bad(const char *name) {
    for (size_t i = 0; i < N_BAD; i++)
        if (strcmp(g_bad[i].cert, name) == 0) return &g_bad[i];
    fail_msg("no server for %s", name);
    return NULL;
}

static int group_setup(void **state) {
    (void)state;
    if (tls_pki_setup() != 0) return -1;
    for (size_t i = 0; i < N_BAD; i++)
        if (tls_start_aiosmtpd(&g_bad[i].srv, g_bad[i].cert, NULL) != 0) return -1;
    static const char *const implicit[] = {"--implicit-tls", NULL};
    static const char *const v6[] = {"--host", "::1", NULL};
    if (tls_start_aiosmtpd(&g_good, "server", NULL) != 0 || tls_start_aiosmtpd(&g_noip, "noip", NULL) != 0 ||
        tls_start_aiosmtpd(&g_expired_implicit, "expired", implicit) != 0)
        return -1;
    if (tls_start_aiosmtpd(&g_good6, "server", v6) != 0) {
        fprintf(stderr, "test_tls_verify: no server on ::1 (no IPv6 loopback?); the IPv6 test is skipped\n");
        memset(&g_good6, 0, sizeof g_good6);
    }
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    for (size_t i = 0; i < N_BAD; i++) itest_stop(&g_bad[i].srv);
    itest_stop(&g_good);
    itest_stop(&g_good6);
    itest_stop(&g_noip);
    itest_stop(&g_expired_implicit);
    tls_pki_teardown();
    return 0;
}

/* After a verification failure: closed, not encrypted, code and message set, no silent reconnect. */
static void check_verify_failure(smtpc_client *c, smtpc_status st, long code) {
    TLS_ASSERT_STATUS(c, st, SMTPC_ETLS_VERIFY);
    assert_int_equal(smtpc_client_tls_verify_result(c), code);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(smtpc_client_tls_active(c), 0);
    assert_int_equal(smtpc_client_tls_verified(c), 0);
    assert_string_equal(smtpc_client_tls_peer_fingerprint(c), "");
    assert_true(strlen(smtpc_client_errmsg(c)) > 0);
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_ENOTCONN);
    smtpc_envelope_free(env);
}

/* The server saw EHLO and STARTTLS in clear, then only TLS records (a ClientHello at least). */
static void check_nothing_after_starttls(const itest_server *srv, size_t idx) {
    tls_check_session(srv, idx, ITEST_STR(k_clear), 0);
    size_t len;
    char *wire = tls_session_text(srv, idx, "tls_wire_hex", &len);
    assert_true(len > 0);
    free(wire);
}

/* One bad certificate under one way of upgrading that enforces verification: sendmail with
 * `policy`, or STARTTLS by hand. */
static void run_bad(bad_cert *b, smtpc_tls_policy policy, int by_hand) {
    smtpc_client *c = tls_client(policy, 1);
    TLS_ASSERT_STATUS(c, tls_connect(c, &b->srv, "localhost"), SMTPC_OK);
    size_t idx = b->srv.connections - 1;
    size_t msgs = itest_msg_count(&b->srv);
    smtpc_status st;
    if (by_hand) {
        st = smtpc_client_starttls(c);
    } else {
        smtpc_envelope *env = tls_envelope(NULL);
        st = smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1);
        smtpc_envelope_free(env);
    }
    if (st != SMTPC_ETLS_VERIFY)
        fprintf(stderr, "certificate %s, policy %d%s:\n", b->cert, (int)policy,
                by_hand ? ", STARTTLS by hand" : "");
    check_verify_failure(c, st, b->code);
    smtpc_client_free(c);
    check_nothing_after_starttls(&b->srv, idx);
    assert_int_equal(itest_msg_count(&b->srv), msgs);
}

static void test_bad_certificates_required(void **state) {
    (void)state;
    for (size_t i = 0; i < N_BAD; i++) run_bad(&g_bad[i], SMTPC_TLS_REQUIRED, 0);
}

/* One bad certificate under a policy that records verification and does not enforce it: the
 * message goes over TLS, the failure is recorded and traced, nothing went in clear after STARTTLS. */
static void run_bad_recorded(bad_cert *b, smtpc_tls_policy policy) {
    smtpc_client *c = tls_client(policy, 1);
    itest_trace t = {0};
    assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, &t), SMTPC_OK);
    TLS_ASSERT_STATUS(c, tls_connect(c, &b->srv, "localhost"), SMTPC_OK);
    size_t idx = b->srv.connections - 1;
    size_t msgs = itest_msg_count(&b->srv);
    smtpc_envelope *env = tls_envelope(NULL);
    smtpc_status st = smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1);
    smtpc_envelope_free(env);
    if (st != SMTPC_OK) fprintf(stderr, "certificate %s, policy %d:\n", b->cert, (int)policy);
    TLS_ASSERT_STATUS(c, st, SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), 0);
    assert_int_equal(smtpc_client_tls_verify_result(c), b->code);
    assert_int_equal(strlen(smtpc_client_tls_peer_fingerprint(c)), 64);
    assert_int_equal(tls_count_info(&t, "certificate NOT verified"), 1);
    assert_int_equal(tls_count_info(&t, "opportunistic"), 1);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    itest_trace_clear(&t);
    /* EHLO and STARTTLS in clear, everything else over TLS, and the message arrived over TLS. */
    tls_check_session(&b->srv, idx, ITEST_STR(k_clear), 1);
    size_t len;
    char *tls = tls_session_text(&b->srv, idx, "tls_hex", &len);
    assert_non_null(tls_memmem(tls, len, "MAIL FROM:<sender@example.org>", 30));
    free(tls);
    itest_msg m;
    assert_int_equal(itest_load_msg(&b->srv, msgs, TLS_WAIT_MS, &m), 0);
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(k_body));
    itest_msg_free(&m);
    char *mode = tls_msg_text(&b->srv, msgs, "tls", NULL);
    assert_string_equal(mode, "starttls");
    free(mode);
}

/* OPPORTUNISTIC (RFC 7435, Postfix's "may"): verified and recorded, not enforced. */
static void test_bad_certificates_opportunistic_recorded(void **state) {
    (void)state;
    for (size_t i = 0; i < N_BAD; i++) run_bad_recorded(&g_bad[i], SMTPC_TLS_OPPORTUNISTIC);
}

/* AUTO to a loopback peer is OPPORTUNISTIC. */
static void test_bad_certificates_auto_loopback_recorded(void **state) {
    (void)state;
    for (size_t i = 0; i < N_BAD; i++) run_bad_recorded(&g_bad[i], SMTPC_TLS_AUTO);
}

/* REQUIRED to a loopback peer: the error says how to get through without turning TLS off. */
static void test_required_loopback_message_names_the_fixes(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 0);
    TLS_ASSERT_STATUS(c, tls_connect(c, &bad("selfsigned")->srv, "127.0.0.1"), SMTPC_OK);
    size_t idx = bad("selfsigned")->srv.connections - 1;
    smtpc_envelope *env = tls_envelope(NULL);
    smtpc_status st = smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1);
    smtpc_envelope_free(env);
    const char *msg = smtpc_client_errmsg(c);
    if (strstr(msg, "smtpc_tls_config_set_ca_file") == NULL ||
        strstr(msg, "SMTPC_TLS_OPPORTUNISTIC") == NULL || strstr(msg, "self-signed") == NULL)
        fail_msg("the message does not name the fixes: %s", msg);
    check_verify_failure(c, st, X509_DEPTH_ZERO_SELF_SIGNED_CERT);
    smtpc_client_free(c);
    check_nothing_after_starttls(&bad("selfsigned")->srv, idx);
}

static void test_bad_certificates_starttls_by_hand(void **state) {
    (void)state;
    for (size_t i = 0; i < N_BAD; i++) run_bad(&g_bad[i], SMTPC_TLS_NONE, 1);
}

/* m*.smtpc.test would match mail.smtpc.test under OpenSSL's default rules (make_test_pki.sh checks
 * that): only the client's refusal of partial wildcards makes this fail. */
static void test_partial_wildcard_refused(void **state) {
    (void)state;
    bad_cert *b = bad("wildcard");
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 1);
    assert_int_equal(smtpc_client_set_tls_server_name(c, "mail.smtpc.test", SMTPC_NTS), SMTPC_OK);
    TLS_ASSERT_STATUS(c, tls_connect(c, &b->srv, "127.0.0.1"), SMTPC_OK);
    size_t idx = b->srv.connections - 1;
    smtpc_envelope *env = tls_envelope(NULL);
    check_verify_failure(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), X509_HOSTNAME_MISMATCH);
    smtpc_envelope_free(env);
    smtpc_client_free(c);
    check_nothing_after_starttls(&b->srv, idx);
}

static void send_ok_verified(itest_server *srv, smtpc_client *c, const char *host, int verified) {
    TLS_ASSERT_STATUS(c, tls_connect(c, srv, host), SMTPC_OK);
    size_t idx = srv->connections - 1;
    size_t msgs = itest_msg_count(srv);
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    smtpc_envelope_free(env);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), verified);
    if (verified) assert_int_equal(smtpc_client_tls_verify_result(c), 0);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    tls_check_session(srv, idx, ITEST_STR(k_clear), 1);
    char *mode = tls_msg_text(srv, msgs, "tls", NULL);
    assert_string_equal(mode, "starttls");
    free(mode);
}

/* Control: the wrong-host certificate is fine when the name asked for is the one it carries, so the
 * failure above comes from the name alone. */
static void test_wronghost_verifies_under_its_own_name(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 1);
    assert_int_equal(smtpc_client_set_tls_server_name(c, "mail.example.org", SMTPC_NTS), SMTPC_OK);
    send_ok_verified(&bad("wronghost")->srv, c, "127.0.0.1", 1);
    smtpc_client_free(c);
}

/* smtpc_client_set_tls_server_name lets a connection to 127.0.0.1 verify as localhost. */
static void test_server_name_for_ip_connection(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 1);
    assert_int_equal(smtpc_client_set_tls_server_name(c, "localhost", SMTPC_NTS), SMTPC_OK);
    send_ok_verified(&g_noip, c, "127.0.0.1", 1);
    /* Back to the host given to connect: the certificate has no IP address, so this fails. */
    assert_int_equal(smtpc_client_set_tls_server_name(c, NULL, 0), SMTPC_OK);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_noip, "127.0.0.1"), SMTPC_OK);
    size_t idx = g_noip.connections - 1;
    smtpc_envelope *env = tls_envelope(NULL);
    check_verify_failure(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1),
                         X509_IP_ADDRESS_MISMATCH);
    smtpc_envelope_free(env);
    smtpc_client_free(c);
    check_nothing_after_starttls(&g_noip, idx);
}

/* IP address SANs: 127.0.0.1 and ::1 verify against server.pem's IP entries. */
static void test_ip_address_sans(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 1);
    send_ok_verified(&g_good, c, "127.0.0.1", 1);
    send_ok_verified(&g_good, c, "localhost", 1);
    smtpc_client_free(c);
    if (g_good6.proc.port == 0) skip();
    c = tls_client(SMTPC_TLS_REQUIRED, 1);
    send_ok_verified(&g_good6, c, "::1", 1);
    smtpc_client_free(c);
}

/* The testing-only switch accepts the self-signed (and the expired) certificate, unverified. */
static void test_insecure_skip_verify(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 1);
    assert_int_equal(smtpc_client_set_tls_insecure_skip_verify_for_testing(c, 1), SMTPC_OK);
    send_ok_verified(&bad("selfsigned")->srv, c, "localhost", 0);
    send_ok_verified(&bad("expired")->srv, c, "localhost", 0);
    /* Off again: verified as usual. */
    assert_int_equal(smtpc_client_set_tls_insecure_skip_verify_for_testing(c, 0), SMTPC_OK);
    TLS_ASSERT_STATUS(c, tls_connect(c, &bad("selfsigned")->srv, "localhost"), SMTPC_OK);
    check_verify_failure(c, smtpc_client_starttls(c), X509_DEPTH_ZERO_SELF_SIGNED_CERT);
    smtpc_client_free(c);
}

/* The configuration's switches: host-name checks off still checks the chain; peer checks off
 * accepts anything; neither connection counts as verified. */
static void test_config_verify_switches(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 0);
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, tls_pki("ca.pem"), SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_verify_hostname(cfg, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
    send_ok_verified(&bad("wronghost")->srv, c, "localhost", 0);
    TLS_ASSERT_STATUS(c, tls_connect(c, &bad("selfsigned")->srv, "localhost"), SMTPC_OK);
    check_verify_failure(c, smtpc_client_starttls(c), X509_DEPTH_ZERO_SELF_SIGNED_CERT);

    assert_int_equal(smtpc_tls_config_set_verify_peer(cfg, 0), SMTPC_OK);
    send_ok_verified(&bad("selfsigned")->srv, c, "localhost", 0);
    smtpc_tls_config_free(cfg);
    smtpc_client_free(c);
}

/* Without a CA configured the system trust store is used, and it does not know the test CA. */
static void test_default_trust_store_rejects_test_ca(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 0);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_good, "localhost"), SMTPC_OK);
    size_t idx = g_good.connections - 1;
    check_verify_failure(c, smtpc_client_starttls(c), X509_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    smtpc_client_free(c);
    check_nothing_after_starttls(&g_good, idx);
}

/* Implicit TLS with an expired certificate: connect fails; nothing was sent but TLS records. */
static void test_implicit_bad_certificate(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_IMPLICIT, 1);
    smtpc_status st = tls_connect(c, &g_expired_implicit, "localhost");
    check_verify_failure(c, st, X509_CERT_HAS_EXPIRED);
    smtpc_client_free(c);
    size_t idx = g_expired_implicit.connections - 1;
    tls_check_session(&g_expired_implicit, idx, "", 0, 0);
    size_t len;
    char *wire = tls_session_text(&g_expired_implicit, idx, "tls_wire_hex", &len);
    assert_true(len > 0);
    free(wire);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_certificates_required),
        cmocka_unit_test(test_bad_certificates_opportunistic_recorded),
        cmocka_unit_test(test_bad_certificates_auto_loopback_recorded),
        cmocka_unit_test(test_required_loopback_message_names_the_fixes),
        cmocka_unit_test(test_bad_certificates_starttls_by_hand),
        cmocka_unit_test(test_partial_wildcard_refused),
        cmocka_unit_test(test_wronghost_verifies_under_its_own_name),
        cmocka_unit_test(test_server_name_for_ip_connection),
        cmocka_unit_test(test_ip_address_sans),
        cmocka_unit_test(test_insecure_skip_verify),
        cmocka_unit_test(test_config_verify_switches),
        cmocka_unit_test(test_default_trust_store_rejects_test_ca),
        cmocka_unit_test(test_implicit_bad_certificate),
    };
    return cmocka_run_group_tests_name("tls_verify", tests, group_setup, group_teardown);
}
