/* SPDX-License-Identifier: MIT */
/*
 * TLS configuration against aiosmtpd: client certificates (required by the server; missing, given,
 * encrypted key with the right and a wrong pass phrase), the protocol floor against a server limited
 * to TLS 1.2, cipher lists, and the trust anchors (CA in DER form, CA directory, CA file errors).
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

static itest_server g_cc;          /* STARTTLS, client certificate required */
static itest_server g_cc_implicit; /* implicit TLS, client certificate required */
static itest_server g_tls12;       /* STARTTLS, at most TLS 1.2 */
static itest_server g_tls;         /* STARTTLS */

static const char k_body[] = "Subject: config\r\n\r\nbody\r\n";
static const char k_clear[] = "EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n";

static int group_setup(void **state) {
    (void)state;
    if (tls_pki_setup() != 0) return -1;
    const char *cc[] = {"--require-client-cert", tls_pki("ca.pem"), NULL};
    const char *cc_implicit[] = {"--require-client-cert", tls_pki("ca.pem"), "--implicit-tls", NULL};
    static const char *const tls12[] = {"--tls-max-version", "1.2", NULL};
    if (tls_start_aiosmtpd(&g_cc, "server", cc) != 0 ||
        tls_start_aiosmtpd(&g_cc_implicit, "server", cc_implicit) != 0 ||
        tls_start_aiosmtpd(&g_tls12, "server", tls12) != 0 || tls_start_aiosmtpd(&g_tls, "server", NULL) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_cc);
    itest_stop(&g_cc_implicit);
    itest_stop(&g_tls12);
    itest_stop(&g_tls);
    tls_pki_teardown();
    return 0;
}

/* A configuration trusting the test CA. */
static smtpc_tls_config *ca_config(void) {
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_string_equal(smtpc_tls_config_errmsg(cfg), "");
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, tls_pki("ca.pem"), SMTPC_NTS), SMTPC_OK);
    return cfg;
}

static smtpc_client *client_with(smtpc_tls_policy policy, smtpc_tls_config *cfg) {
    smtpc_client *c = tls_client(policy, 0);
    assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
    return c;
}

/* Connect to srv as localhost, sendmail, quit; check the message came over TLS. */
static void send_ok(itest_server *srv, smtpc_client *c, const char *tls_mode) {
    TLS_ASSERT_STATUS(c, tls_connect(c, srv, "localhost"), SMTPC_OK);
    size_t msgs = itest_msg_count(srv);
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    smtpc_envelope_free(env);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), 1);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    char *mode = tls_msg_text(srv, msgs, "tls", NULL);
    assert_string_equal(mode, tls_mode);
    free(mode);
}

static void check_client_cn(const itest_server *srv, const char *want) {
    char *cn = tls_session_text(srv, srv->connections - 1, "client_cert_cn", NULL);
    assert_string_equal(cn, want);
    free(cn);
}

static int is_tls_failure(smtpc_status st) { return st == SMTPC_ETLS || st == SMTPC_EDISCONNECTED; }

/* Without a client certificate the server refuses the handshake (TLS 1.2), or the first read after
 * it fails (TLS 1.3: the server checks the certificate after the client finished): SMTPC_ETLS or
 * SMTPC_EDISCONNECTED, the connection closed, nothing delivered, nothing decrypted by the server. */
static void test_client_cert_required_missing(void **state) {
    (void)state;
    smtpc_tls_config *cfg = ca_config();
    smtpc_client *c = client_with(SMTPC_TLS_REQUIRED, cfg);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_cc, "localhost"), SMTPC_OK);
    size_t msgs = itest_msg_count(&g_cc);
    smtpc_envelope *env = tls_envelope(NULL);
    smtpc_status st = smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1);
    if (!is_tls_failure(st))
        fail_msg("sendmail without a client certificate: %s (%s)", smtpc_status_name(st),
                 smtpc_client_errmsg(c));
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_true(strlen(smtpc_client_errmsg(c)) > 0);
    tls_check_session(&g_cc, g_cc.connections - 1, ITEST_STR(k_clear), 0);
    assert_int_equal(itest_msg_count(&g_cc), msgs);

    /* Implicit TLS: connect (the greeting is the first read) fails the same way. */
    smtpc_client_free(c);
    c = client_with(SMTPC_TLS_IMPLICIT, cfg);
    st = tls_connect(c, &g_cc_implicit, "localhost");
    if (!is_tls_failure(st))
        fail_msg("implicit TLS without a client certificate: %s (%s)", smtpc_status_name(st),
                 smtpc_client_errmsg(c));
    assert_int_equal(smtpc_client_is_connected(c), 0);
    tls_check_session(&g_cc_implicit, g_cc_implicit.connections - 1, "", 0, 0);
    smtpc_envelope_free(env);
    smtpc_client_free(c);
    smtpc_tls_config_free(cfg);
}

/* With the client certificate, both servers accept it (and see its name). */
static void test_client_cert_given(void **state) {
    (void)state;
    smtpc_tls_config *cfg = ca_config();
    assert_int_equal(smtpc_tls_config_set_client_cert(cfg, tls_pki("client.pem"), SMTPC_NTS,
                                                      tls_pki("client.key"), SMTPC_NTS, NULL, 0),
                     SMTPC_OK);
    assert_string_equal(smtpc_tls_config_errmsg(cfg), "");
    char *cn = tls_pki_text("client.cn");
    assert_non_null(cn);

    smtpc_client *c = client_with(SMTPC_TLS_REQUIRED, cfg);
    send_ok(&g_cc, c, "starttls");
    tls_check_session(&g_cc, g_cc.connections - 1, ITEST_STR(k_clear), 1);
    check_client_cn(&g_cc, cn);
    smtpc_client_free(c);

    c = client_with(SMTPC_TLS_IMPLICIT, cfg);
    send_ok(&g_cc_implicit, c, "implicit");
    check_client_cn(&g_cc_implicit, cn);
    smtpc_client_free(c);

    /* A server that does not ask for one gets none. */
    c = client_with(SMTPC_TLS_REQUIRED, cfg);
    send_ok(&g_tls, c, "starttls");
    check_client_cn(&g_tls, "");
    smtpc_client_free(c);
    free(cn);
    smtpc_tls_config_free(cfg);
}

/* The certificate and key in one file (key_path NULL). */
static void test_client_cert_and_key_in_one_file(void **state) {
    (void)state;
    char dir[512], path[700];
    assert_int_equal(harness_make_temp_dir("smtpc-tls-cc", dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/both.pem", dir);
    char *cert, *key;
    size_t cert_len, key_len;
    assert_int_equal(harness_read_file(tls_pki("client.pem"), &cert, &cert_len), 0);
    assert_int_equal(harness_read_file(tls_pki("client.key"), &key, &key_len), 0);
    char *both = malloc(cert_len + key_len);
    assert_non_null(both);
    memcpy(both, cert, cert_len);
    memcpy(both + cert_len, key, key_len);
    assert_int_equal(harness_write_file(path, both, cert_len + key_len), 0);
    free(both);
    free(cert);
    free(key);

    smtpc_tls_config *cfg = ca_config();
    assert_int_equal(smtpc_tls_config_set_client_cert(cfg, path, SMTPC_NTS, NULL, 0, NULL, 0), SMTPC_OK);
    harness_remove_tree(dir);
    smtpc_client *c = client_with(SMTPC_TLS_IMPLICIT, cfg);
    send_ok(&g_cc_implicit, c, "implicit");
    smtpc_client_free(c);
    smtpc_tls_config_free(cfg);
}

/* An encrypted key: the right pass phrase works; a wrong or missing one is SMTPC_ETLS. */
static void test_client_cert_encrypted_key(void **state) {
    (void)state;
    char *pass = tls_pki_text("client.pass");
    assert_non_null(pass);
    smtpc_tls_config *cfg = ca_config();

    assert_int_equal(smtpc_tls_config_set_client_cert(cfg, tls_pki("client.pem"), SMTPC_NTS,
                                                      tls_pki("client-enc.key"), SMTPC_NTS,
                                                      "wrong pass phrase", SMTPC_NTS),
                     SMTPC_ETLS);
    assert_true(strlen(smtpc_tls_config_errmsg(cfg)) > 0);
    assert_int_equal(smtpc_tls_config_set_client_cert(cfg, tls_pki("client.pem"), SMTPC_NTS,
                                                      tls_pki("client-enc.key"), SMTPC_NTS, NULL, 0),
                     SMTPC_ETLS);
    assert_true(strlen(smtpc_tls_config_errmsg(cfg)) > 0);
    /* A pass phrase one character short, given by length (not NUL-terminated). */
    assert_int_equal(smtpc_tls_config_set_client_cert(cfg, tls_pki("client.pem"), SMTPC_NTS,
                                                      tls_pki("client-enc.key"), SMTPC_NTS, pass,
                                                      strlen(pass) - 1),
                     SMTPC_ETLS);

    /* The same configuration, after the failures, with the right pass phrase. */
    assert_int_equal(smtpc_tls_config_set_client_cert(cfg, tls_pki("client.pem"), SMTPC_NTS,
                                                      tls_pki("client-enc.key"), SMTPC_NTS, pass,
                                                      strlen(pass)),
                     SMTPC_OK);
    assert_string_equal(smtpc_tls_config_errmsg(cfg), "");
    smtpc_client *c = client_with(SMTPC_TLS_REQUIRED, cfg);
    send_ok(&g_cc, c, "starttls");
    char *cn = tls_pki_text("client.cn");
    check_client_cn(&g_cc, cn);
    free(cn);
    smtpc_client_free(c);
    smtpc_tls_config_free(cfg);
    free(pass);
}

/* Other client-certificate errors: missing file, key not matching the certificate. */
static void test_client_cert_errors(void **state) {
    (void)state;
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_client_cert(cfg, tls_pki("no-such-file.pem"), SMTPC_NTS,
                                                      tls_pki("client.key"), SMTPC_NTS, NULL, 0),
                     SMTPC_ETLS);
    assert_true(strlen(smtpc_tls_config_errmsg(cfg)) > 0);
    assert_int_equal(smtpc_tls_config_set_client_cert(cfg, tls_pki("client.pem"), SMTPC_NTS,
                                                      tls_pki("server.key"), SMTPC_NTS, NULL, 0),
                     SMTPC_ETLS);
    assert_true(strlen(smtpc_tls_config_errmsg(cfg)) > 0);
    smtpc_tls_config_free(cfg);
}

/* TLS 1.3 as the floor against a server that stops at TLS 1.2: SMTPC_ETLS, connection closed. */
static void test_min_version_refused(void **state) {
    (void)state;
    smtpc_tls_config *cfg = ca_config();
    assert_int_equal(smtpc_tls_config_set_min_version(cfg, SMTPC_TLS_VERSION_1_3), SMTPC_OK);
    smtpc_client *c = client_with(SMTPC_TLS_NONE, cfg);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls12, "localhost"), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_starttls(c), SMTPC_ETLS);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(smtpc_client_tls_active(c), 0);
    assert_true(strlen(smtpc_client_errmsg(c)) > 0);
    tls_check_session(&g_tls12, g_tls12.connections - 1, ITEST_STR(k_clear), 0);
    smtpc_client_free(c);

    c = client_with(SMTPC_TLS_REQUIRED, cfg);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls12, "localhost"), SMTPC_OK);
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_ETLS);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    tls_check_session(&g_tls12, g_tls12.connections - 1, ITEST_STR(k_clear), 0);
    smtpc_envelope_free(env);
    smtpc_client_free(c);

    /* The same floor against a TLS 1.3 server is fine. */
    c = client_with(SMTPC_TLS_REQUIRED, cfg);
    send_ok(&g_tls, c, "starttls");
    smtpc_client_free(c);
    smtpc_tls_config_free(cfg);
    assert_int_equal(smtpc_tls_config_set_min_version(NULL, SMTPC_TLS_VERSION_1_3), SMTPC_EINVAL);
}

/* Control for the test above: the default floor (1.2) talks to the 1.2 server, with 1.2 facts. */
static void test_tls12_server_default_floor(void **state) {
    (void)state;
    smtpc_tls_config *cfg = ca_config();
    smtpc_client *c = client_with(SMTPC_TLS_REQUIRED, cfg);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls12, "localhost"), SMTPC_OK);
    size_t msgs = itest_msg_count(&g_tls12);
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    assert_string_equal(smtpc_client_tls_version(c), "TLSv1.2");
    assert_memory_equal(smtpc_client_tls_cipher(c), "ECDHE-", 6);
    assert_int_equal(smtpc_client_tls_verified(c), 1);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    char *v = tls_msg_text(&g_tls12, msgs, "tls_version", NULL);
    assert_string_equal(v, "TLSv1.2");
    free(v);

    /* A configuration in use is frozen: a new cipher list goes into a new configuration. */
    assert_int_equal(smtpc_tls_config_set_ciphers(cfg, "ECDHE-ECDSA-CHACHA20-POLY1305", SMTPC_NTS),
                     SMTPC_ESTATE);
    smtpc_tls_config_free(cfg);
    cfg = ca_config();
    /* A chosen TLS 1.2 cipher is the one used; a list with no usable cipher is refused. */
    assert_int_equal(smtpc_tls_config_set_ciphers(cfg, "NO-SUCH-CIPHER", SMTPC_NTS), SMTPC_ETLS);
    assert_true(strlen(smtpc_tls_config_errmsg(cfg)) > 0);
    assert_int_equal(smtpc_tls_config_set_ciphers(cfg, "ECDHE-ECDSA-CHACHA20-POLY1305", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls12, "localhost"), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    assert_string_equal(smtpc_client_tls_cipher(c), "ECDHE-ECDSA-CHACHA20-POLY1305");
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_envelope_free(env);
    smtpc_client_free(c);
    smtpc_tls_config_free(cfg);
}

/* The CA in DER form is a trust anchor; a broken DER certificate is refused. */
static void test_ca_der(void **state) {
    (void)state;
    char *der;
    size_t der_len;
    assert_int_equal(harness_read_file(tls_pki("ca.der"), &der, &der_len), 0);
    assert_true(der_len > 100);
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_add_ca_der(cfg, (const char *)der, der_len - 1), SMTPC_ETLS);
    assert_true(strlen(smtpc_tls_config_errmsg(cfg)) > 0);
    assert_int_equal(smtpc_tls_config_add_ca_der(cfg, "not a certificate", 17), SMTPC_ETLS);
    assert_int_equal(smtpc_tls_config_add_ca_der(cfg, (const char *)der, der_len), SMTPC_OK);
    assert_string_equal(smtpc_tls_config_errmsg(cfg), "");
    free(der);
    smtpc_client *c = client_with(SMTPC_TLS_REQUIRED, cfg);
    send_ok(&g_tls, c, "starttls");
    smtpc_client_free(c);
    smtpc_tls_config_free(cfg);
}

/* A CA directory in OpenSSL's hashed layout is a trust anchor. */
static void test_ca_path(void **state) {
    (void)state;
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_ca_path(cfg, tls_pki("capath"), SMTPC_NTS), SMTPC_OK);
    smtpc_client *c = client_with(SMTPC_TLS_REQUIRED, cfg);
    send_ok(&g_tls, c, "starttls");
    smtpc_client_free(c);
    smtpc_tls_config_free(cfg);

    /* A directory that does not exist: whatever set_ca_path answers (OpenSSL only looks into the
     * directory during verification), the configuration must trust nothing: it fails closed. */
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    smtpc_status st = smtpc_tls_config_set_ca_path(cfg, tls_pki("no-such-dir"), SMTPC_NTS);
    assert_true(st == SMTPC_OK || st == SMTPC_ETLS);
    c = client_with(SMTPC_TLS_REQUIRED, cfg);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls, "localhost"), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_starttls(c), SMTPC_ETLS_VERIFY);
    assert_int_equal(smtpc_client_tls_verify_result(c), 20);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    smtpc_client_free(c);
    smtpc_tls_config_free(cfg);
}

/* CA file errors: SMTPC_ETLS with a reason; the configuration then trusts nothing (it does not fall
 * back to the system store), so verification fails closed. */
static void test_ca_file_errors(void **state) {
    (void)state;
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, tls_pki("no-such-ca.pem"), SMTPC_NTS), SMTPC_ETLS);
    assert_true(strlen(smtpc_tls_config_errmsg(cfg)) > 0);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, tls_pki("client.pass"), SMTPC_NTS), SMTPC_ETLS);
    assert_true(strlen(smtpc_tls_config_errmsg(cfg)) > 0);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, "", 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, "a\0b", 3), SMTPC_EINVAL);

    smtpc_client *c = client_with(SMTPC_TLS_REQUIRED, cfg);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_tls, "localhost"), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_starttls(c), SMTPC_ETLS_VERIFY);
    assert_int_equal(smtpc_client_tls_verify_result(c), 20);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    tls_check_session(&g_tls, g_tls.connections - 1, ITEST_STR(k_clear), 0);
    smtpc_client_free(c);
    smtpc_tls_config_free(cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_cert_required_missing),
        cmocka_unit_test(test_client_cert_given),
        cmocka_unit_test(test_client_cert_and_key_in_one_file),
        cmocka_unit_test(test_client_cert_encrypted_key),
        cmocka_unit_test(test_client_cert_errors),
        cmocka_unit_test(test_min_version_refused),
        cmocka_unit_test(test_tls12_server_default_floor),
        cmocka_unit_test(test_ca_der),
        cmocka_unit_test(test_ca_path),
        cmocka_unit_test(test_ca_file_errors),
    };
    return cmocka_run_group_tests_name("tls_config", tests, group_setup, group_teardown);
}
