/* SPDX-License-Identifier: MIT */
/*
 * TLS chosen by the kind of peer (SMTPC_TLS_AUTO, the default), against aiosmtpd servers whose
 * certificate the client cannot verify, with no TLS configuration at all (the system trust store),
 * as a first program would run:
 *  - AUTO to 127.0.0.1 with a self-signed certificate and with one from an unknown CA: the mail goes
 *    over TLS, verified 0 and the X509 code recorded, an INFO trace line says so;
 *  - OPPORTUNISTIC set explicitly: the same;
 *  - REQUIRED to 127.0.0.1: SMTPC_ETLS_VERIFY with a message naming the fixes, nothing in clear after
 *    STARTTLS, no message;
 *  - AUTO over a Unix socket: no STARTTLS although it is offered (the message arrives in clear);
 *    OPPORTUNISTIC over the same socket does upgrade, unverified (no name to check).
 * What reached the server is checked in its session and message records.
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

enum { X509_DEPTH_ZERO_SELF_SIGNED_CERT = 18, X509_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20 };

static itest_server g_self; /* selfsigned.pem, STARTTLS */
static itest_server g_ca;   /* server.pem (test CA, unknown to the system store), STARTTLS */
static itest_server g_unix; /* server.pem, STARTTLS, on a Unix socket */

static const char k_body[] = "Subject: peer kind\r\n\r\nbody line\r\n";
static const char k_clear[] = "EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n";

static int group_setup(void **state) {
    (void)state;
    if (tls_pki_setup() != 0) return -1;
    if (tls_start_aiosmtpd(&g_self, "selfsigned", NULL) != 0 ||
        tls_start_aiosmtpd(&g_ca, "server", NULL) != 0)
        return -1;
    const char *unix_args[] = {"--tls-cert", tls_pki("server.pem"), "--tls-key", tls_pki("server.key"), NULL};
    return itest_start_aiosmtpd(&g_unix, 1, unix_args);
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_self);
    itest_stop(&g_ca);
    itest_stop(&g_unix);
    tls_pki_teardown();
    return 0;
}

/* A client with no TLS configuration of its own, tracing into `t`. */
static smtpc_client *plain_client(smtpc_tls_policy policy, itest_trace *t) {
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, TLS_CLIENT_NAME);
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_tls_policy(c, policy), SMTPC_OK);
    assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, t), SMTPC_OK);
    return c;
}

static smtpc_status send_one(smtpc_client *c) {
    smtpc_envelope *env = tls_envelope(NULL);
    smtpc_status st = smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1);
    smtpc_envelope_free(env);
    return st;
}

/* The message `msgs` arrived intact, encrypted as `mode` says ("starttls" or "none"). */
static void check_arrived(const itest_server *srv, size_t msgs, const char *mode) {
    itest_msg m;
    assert_int_equal(itest_load_msg(srv, msgs, TLS_WAIT_MS, &m), 0);
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(k_body));
    ITEST_ASSERT_BYTES(m.mail_from, m.mail_from_len, ITEST_STR("sender@example.org"));
    itest_msg_free(&m);
    char *got = tls_msg_text(srv, msgs, "tls", NULL);
    assert_string_equal(got, mode);
    free(got);
}

/* An unverifiable certificate under a policy that records verification: delivered over TLS. */
static void run_recorded(itest_server *srv, smtpc_tls_policy policy, long code) {
    itest_trace t = {0};
    smtpc_client *c = plain_client(policy, &t);
    TLS_ASSERT_STATUS(c, tls_connect(c, srv, "127.0.0.1"), SMTPC_OK);
    size_t idx = srv->connections - 1, msgs = itest_msg_count(srv);
    TLS_ASSERT_STATUS(c, send_one(c), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), 0);
    assert_int_equal(smtpc_client_tls_verify_result(c), code);
    assert_int_equal(tls_count_info(&t, "certificate NOT verified"), 1);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    itest_trace_clear(&t);
    tls_check_session(srv, idx, ITEST_STR(k_clear), 1);
    size_t len;
    char *tls = tls_session_text(srv, idx, "tls_hex", &len);
    assert_non_null(tls_memmem(tls, len, "MAIL FROM:<sender@example.org>", 30));
    assert_non_null(tls_memmem(tls, len, "QUIT\r\n", 6));
    free(tls);
    check_arrived(srv, msgs, "starttls");
}

static void test_auto_loopback_self_signed(void **state) {
    (void)state;
    run_recorded(&g_self, SMTPC_TLS_AUTO, X509_DEPTH_ZERO_SELF_SIGNED_CERT);
}

static void test_auto_loopback_unknown_ca(void **state) {
    (void)state;
    run_recorded(&g_ca, SMTPC_TLS_AUTO, X509_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

static void test_opportunistic_explicit(void **state) {
    (void)state;
    run_recorded(&g_self, SMTPC_TLS_OPPORTUNISTIC, X509_DEPTH_ZERO_SELF_SIGNED_CERT);
    run_recorded(&g_ca, SMTPC_TLS_OPPORTUNISTIC, X509_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

/* REQUIRED to loopback: refused with the fixes named; nothing after STARTTLS but TLS records. */
static void test_required_loopback_fails_with_advice(void **state) {
    (void)state;
    itest_trace t = {0};
    smtpc_client *c = plain_client(SMTPC_TLS_REQUIRED, &t);
    TLS_ASSERT_STATUS(c, tls_connect(c, &g_self, "127.0.0.1"), SMTPC_OK);
    size_t idx = g_self.connections - 1, msgs = itest_msg_count(&g_self);
    TLS_ASSERT_STATUS(c, send_one(c), SMTPC_ETLS_VERIFY);
    const char *msg = smtpc_client_errmsg(c);
    if (strstr(msg, "smtpc_tls_config_set_ca_file") == NULL || strstr(msg, "SMTPC_TLS_OPPORTUNISTIC") == NULL)
        fail_msg("the message does not name the fixes: %s", msg);
    assert_int_equal(smtpc_client_tls_verify_result(c), X509_DEPTH_ZERO_SELF_SIGNED_CERT);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    smtpc_client_free(c);
    itest_trace_clear(&t);
    tls_check_session(&g_self, idx, ITEST_STR(k_clear), 0);
    assert_int_equal(itest_msg_count(&g_self), msgs);
}

/* AUTO over a Unix socket: STARTTLS is offered and not used; the message goes in clear. */
static void test_auto_unix_socket_no_tls(void **state) {
    (void)state;
    itest_trace t = {0};
    smtpc_client *c = plain_client(SMTPC_TLS_AUTO, &t);
    TLS_ASSERT_STATUS(c, smtpc_client_connect(c, g_unix.sock, SMTPC_NTS, 0), SMTPC_OK);
    size_t idx = g_unix.connections++, msgs = itest_msg_count(&g_unix);
    TLS_ASSERT_STATUS(c, send_one(c), SMTPC_OK);
    assert_int_equal(smtpc_client_has_extn(c, "STARTTLS", SMTPC_NTS), 1); /* offered, not taken */
    assert_int_equal(smtpc_client_tls_active(c), 0);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    itest_trace_clear(&t);
    char *raw = NULL;
    size_t len = 0;
    assert_int_equal(itest_load_session_field(&g_unix, idx, TLS_WAIT_MS, "raw_hex", &raw, &len), 0);
    if (tls_memmem(raw, len, "STARTTLS", 8) != NULL) {
        itest_dump("sent", raw, len);
        fail_msg("STARTTLS sent over a Unix socket under AUTO");
    }
    assert_non_null(tls_memmem(raw, len, "MAIL FROM:<sender@example.org>", 30));
    free(raw);
    check_arrived(&g_unix, msgs, "none");

    /* OPPORTUNISTIC asked for explicitly: upgrades, and cannot verify (no host name to check). */
    c = plain_client(SMTPC_TLS_OPPORTUNISTIC, &t);
    TLS_ASSERT_STATUS(c, smtpc_client_connect(c, g_unix.sock, SMTPC_NTS, 0), SMTPC_OK);
    idx = g_unix.connections++;
    msgs = itest_msg_count(&g_unix);
    TLS_ASSERT_STATUS(c, send_one(c), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), 0);
    assert_int_equal(smtpc_client_tls_verify_result(c), X509_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    assert_int_equal(tls_count_info(&t, "certificate NOT verified"), 1);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    itest_trace_clear(&t);
    tls_check_session(&g_unix, idx, ITEST_STR(k_clear), 1);
    check_arrived(&g_unix, msgs, "starttls");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_loopback_self_signed),
        cmocka_unit_test(test_auto_loopback_unknown_ca),
        cmocka_unit_test(test_opportunistic_explicit),
        cmocka_unit_test(test_required_loopback_fails_with_advice),
        cmocka_unit_test(test_auto_unix_socket_no_tls),
    };
    return cmocka_run_group_tests_name("tls_peer_kind", tests, group_setup, group_teardown);
}
