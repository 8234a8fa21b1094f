/* SPDX-License-Identifier: MIT */
/*
 * SMTPC_NTS means "NUL-terminated" for every string argument of the API (include/smtpc.h,
 * "Conventions"). Every function that takes a (const char *, size_t) string is called here with
 * SMTPC_NTS, and the effect is checked: the exact bytes the scripted server received, or the value
 * read back. tests/api/check_nts_coverage.py takes the list of such functions from the header and
 * fails when one is not called here with SMTPC_NTS.
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
#include "tls_common.h"

#define RPL_EHLO_NTS "250-fault.test\r\n250-AUTH PLAIN LOGIN X-TEST XOAUTH2\r\n250 8BITMIME\r\n"
#define RPL_235 "235 2.7.0 ok\r\n"
#define B64_PLAIN "YXoAdXNlcgBwYXNz" /* "az\0user\0pass" */
#define B64_XOAUTH2 "dXNlcj11QGV4YW1wbGUub3JnAWF1dGg9QmVhcmVyIHRvazEyMwEB"
#define MSG "Subject: d\r\n\r\nx\r\n"
#define MSG2 "From: a@example.org\r\nTo: b@example.org\r\n\r\nm\r\n"

/* The custom mechanism's callback answers with smtpc_auth_response_set(..., SMTPC_NTS). */
static int nts_auth(const char *ch, size_t chlen, int initial, smtpc_auth_response *resp, void *ud) {
    (void)ch, (void)chlen, (void)initial;
    *(smtpc_status *)ud = smtpc_auth_response_set(resp, "init", SMTPC_NTS);
    return 0;
}

static void test_nts_session(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "HELO h.test\r\n");
    sc_send(f, "250 fault.test\r\n");
    sc_expect(f, "EHLO e.test\r\n");
    sc_send(f, RPL_EHLO_NTS);
    sc_expect(f, "XCMD arg\r\n");
    sc_send(f, RPL_OK);
    sc_expect(f, "VRFY v@example.org\r\n");
    sc_send(f, "252 2.1.5 maybe\r\n");
    sc_expect(f, "EXPN list\r\n");
    sc_send(f, RPL_OK);
    sc_expect(f, "HELP topic\r\n");
    sc_send(f, "214 2.0.0 help\r\n");
    sc_expect(f, "MAIL FROM:<s@example.org> BODY=8BITMIME\r\n");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT TO:<r@example.org> NOTIFY=NEVER\r\n");
    sc_send(f, RPL_OK);
    sc_expect(f, W_DATA);
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    sc_expect(f, W_RSET);
    sc_send(f, RPL_OK);
    /* sendmail with an envelope made with SMTPC_NTS */
    sc_expect(f, "MAIL FROM:<es@example.org> BODY=8BITMIME\r\n");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT TO:<er@example.org> NOTIFY=SUCCESS\r\n");
    sc_send(f, RPL_OK);
    sc_expect(f, W_DATA);
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    /* send_message */
    sc_expect(f, "MAIL FROM:<a@example.org>\r\n");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT TO:<b@example.org>\r\n");
    sc_send(f, RPL_OK);
    sc_expect(f, W_DATA);
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    /* AUTH: auth_password, login, auth_oauth2, auth */
    sc_expect(f, "AUTH PLAIN " B64_PLAIN "\r\n");
    sc_send(f, RPL_235);
    sc_expect(f, "AUTH PLAIN " B64_PLAIN "\r\n");
    sc_send(f, RPL_235);
    sc_expect(f, "AUTH XOAUTH2 " B64_XOAUTH2 "\r\n");
    sc_send(f, RPL_235);
    sc_expect(f, "AUTH X-TEST aW5pdA==\r\n");
    sc_send(f, RPL_235);
    sc_expect(f, W_QUIT);
    sc_send(f, RPL_BYE);
    fault_start(f);

    smtpc_client *c = fault_client(f, 10000, 10000);
    ASSERT_STATUS(f, smtpc_client_set_local_hostname(c, "nts.test", SMTPC_NTS), SMTPC_OK);
    assert_string_equal(smtpc_client_local_hostname(c), "nts.test");
    ASSERT_STATUS(f, smtpc_client_set_source_address(c, "127.0.0.1", SMTPC_NTS, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_set_authzid(c, "az", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_set_tls_server_name(c, "mail.example.org", SMTPC_NTS), SMTPC_OK);
    char port[16];
    snprintf(port, sizeof port, "%d", f->srv.port);
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%s", port);
    ASSERT_STATUS(f, smtpc_client_connect(c, host, SMTPC_NTS, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_helo(c, "h.test", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(c, "e.test", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_has_extn(c, "8bitmime", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "8bitmim", SMTPC_NTS), 0);
    size_t len = 0;
    const char *params = smtpc_client_extn_params(c, "auth", SMTPC_NTS, &len);
    assert_non_null(params);
    assert_string_equal(params, " PLAIN LOGIN X-TEST XOAUTH2");
    assert_int_equal(len, strlen(params));
    ASSERT_STATUS(f, smtpc_client_docmd(c, "XCMD", SMTPC_NTS, "arg", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_vrfy(c, "v@example.org", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_expn(c, "list", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_help(c, "topic", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_mail(c, "s@example.org", SMTPC_NTS, "BODY=8BITMIME", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_rcpt(c, "r@example.org", SMTPC_NTS, "NOTIFY=NEVER", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_data(c, MSG, SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_send_raw(c, W_RSET, SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_read_reply(c), SMTPC_OK);

    assert_int_equal(smtpc_envelope_new(&f->env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(f->env, "es@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(f->env, "er@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_mail_option(f->env, "BODY=8BITMIME", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_rcpt_option(f->env, "NOTIFY=SUCCESS", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(c, f->env, MSG, SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_send_message(c, NULL, MSG2, SMTPC_NTS), SMTPC_OK);

    ASSERT_STATUS(f,
                  smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "user", SMTPC_NTS, "pass", SMTPC_NTS, 1),
                  SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_login(c, "user", SMTPC_NTS, "pass", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f,
                  smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, "u@example.org", SMTPC_NTS, "tok123",
                                           SMTPC_NTS, NULL, NULL),
                  SMTPC_OK);
    smtpc_status set_status = SMTPC_EINTERNAL;
    ASSERT_STATUS(f, smtpc_client_auth(c, "X-TEST", SMTPC_NTS, 1, nts_auth, &set_status), SMTPC_OK);
    assert_int_equal(set_status, SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(c), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(
        f,
        "HELO h.test\r\nEHLO e.test\r\nXCMD arg\r\nVRFY v@example.org\r\nEXPN list\r\n"
        "HELP topic\r\nMAIL FROM:<s@example.org> BODY=8BITMIME\r\n"
        "RCPT TO:<r@example.org> NOTIFY=NEVER\r\n" W_DATA MSG ".\r\n" W_RSET
        "MAIL FROM:<es@example.org> BODY=8BITMIME\r\nRCPT TO:<er@example.org> NOTIFY=SUCCESS\r\n" W_DATA MSG
        ".\r\n" W_MAIL("a@example.org") W_RCPT("b@example.org") W_DATA MSG2
        ".\r\n"
        "AUTH PLAIN " B64_PLAIN "\r\nAUTH PLAIN " B64_PLAIN "\r\nAUTH XOAUTH2 " B64_XOAUTH2
        "\r\nAUTH X-TEST aW5pdA==\r\n" W_QUIT);
}

/* The typed ESMTP parameters' strings with SMTPC_NTS: each reaches the wire whole. */
static void test_nts_envelope_extensions(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(
        f,
        "250-fault.test\r\n250-DSN\r\n250-AUTH PLAIN\r\n250 FUTURERELEASE 604800 2099-01-01T00:00:00Z\r\n");
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, W_DATA);
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    sc_expect(f, W_QUIT);
    sc_send(f, RPL_BYE);
    fault_start(f);
    smtpc_client *c = fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    assert_int_equal(smtpc_envelope_new(&f->env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(f->env, "es@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient_dsn(f->env, "er@example.org", SMTPC_NTS,
                                                      SMTPC_DSN_NOTIFY_FAILURE, "orig@example.org",
                                                      SMTPC_NTS),
                     SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_dsn(f->env, SMTPC_DSN_RET_HDRS, "envid-1", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_hold_until(f->env, "2030-01-02T03:04:05Z", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_auth(f->env, "who@example.org", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(c, f->env, MSG, SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(c), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(
        f, W_EHLO "MAIL FROM:<es@example.org> RET=HDRS ENVID=envid-1 AUTH=who@example.org "
                  "HOLDUNTIL=2030-01-02T03:04:05Z\r\n"
                  "RCPT TO:<er@example.org> NOTIFY=FAILURE ORCPT=rfc822;orig@example.org\r\n" W_DATA MSG
                  ".\r\n" W_QUIT);
}

/* NULL with SMTPC_NTS is the empty string, as NULL with 0 is. */
static void test_nts_null_is_empty(void **state) {
    (void)state;
    smtpc_client *c = NULL;
    assert_int_equal(smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP), SMTPC_OK);
    assert_int_equal(smtpc_client_set_authzid(c, NULL, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_server_name(c, NULL, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_set_source_address(c, NULL, SMTPC_NTS, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_set_local_hostname(c, NULL, SMTPC_NTS), SMTPC_EINVAL); /* "" is refused */
    assert_int_equal(smtpc_client_connect(c, NULL, SMTPC_NTS, 25), SMTPC_EINVAL);
    smtpc_client_free(c);
}

/* The TLS configuration's strings, with files of the test PKI. */
static void test_nts_tls_config(void **state) {
    (void)state;
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    const char *ca = tls_pki("ca.pem");
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, ca, SMTPC_NTS), SMTPC_OK);
    const char *capath = tls_pki("capath");
    assert_int_equal(smtpc_tls_config_set_ca_path(cfg, capath, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_ciphers(cfg, "ECDHE+AESGCM", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_ciphers(cfg, "NO-SUCH-CIPHER", SMTPC_NTS), SMTPC_ETLS);
    /* Measured (7 bytes), then refused as not DER, not as a length over the limit. */
    assert_int_equal(smtpc_tls_config_add_ca_der(cfg, "not DER", SMTPC_NTS), SMTPC_ETLS);
    assert_null(strstr(smtpc_tls_config_errmsg(cfg), "1 MiB"));
    char *pass = tls_pki_text("client.pass");
    assert_non_null(pass);
    const char *cert = tls_pki("client.pem");
    const char *key = tls_pki("client-enc.key");
    assert_int_equal(smtpc_tls_config_set_client_cert(cfg, cert, SMTPC_NTS, key, SMTPC_NTS, pass, SMTPC_NTS),
                     SMTPC_OK);
    /* The pass phrase really was measured: one byte short fails. */
    assert_int_equal(
        smtpc_tls_config_set_client_cert(cfg, cert, SMTPC_NTS, key, SMTPC_NTS, pass, strlen(pass) - 1),
        SMTPC_ETLS);
    free(pass);
    smtpc_tls_config_free(cfg);
}

static int pki_setup(void **state) {
    (void)state;
    return tls_pki_setup();
}

static int pki_teardown(void **state) {
    (void)state;
    tls_pki_teardown();
    return 0;
}

/* A queued message's body with SMTPC_NTS: the whole string reaches the wire. */
static void test_nts_message_body(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 1);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    sc_expect(f, W_QUIT);
    sc_send(f, RPL_BYE);
    fault_start(f);
    smtpc_client *c = fault_client(f, 5000, 5000);
    fault_envelope(f, "r@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_message *m = NULL;
    assert_int_equal(smtpc_message_new(&m), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(m, f->env), SMTPC_OK);
    assert_int_equal(smtpc_message_set_body(m, MSG, SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_enqueue(c, m), SMTPC_OK);
    smtpc_message_free(m);
    smtpc_message_result *r = NULL;
    ASSERT_STATUS(f, smtpc_client_next_result(c, &r), SMTPC_OK);
    assert_int_equal(smtpc_message_result_state(r), SMTPC_MESSAGE_DELIVERED);
    smtpc_message_result_free(r);
    ASSERT_STATUS(f, smtpc_client_quit(c), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f,
                            W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA MSG ".\r\n" W_QUIT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nts_session, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_nts_envelope_extensions, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_nts_message_body, fault_setup, fault_teardown),
        cmocka_unit_test(test_nts_null_is_empty),
        cmocka_unit_test(test_nts_tls_config),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
