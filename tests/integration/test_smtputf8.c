/* SPDX-License-Identifier: MIT */
/*
 * SMTPUTF8 chosen by smtpc_client_sendmail() and smtpc_client_sendmail_stream() against aiosmtpd
 * (issue 9, "UTF-8 addresses work"): with a non-ASCII sender or recipient and no SMTPUTF8 in the
 * envelope, the library adds SMTPUTF8 and BODY=8BITMIME when the server offers SMTPUTF8 (as
 * send_message() does), and refuses with SMTPC_ENOTSUPPORTED before MAIL when it does not. The
 * envelope and options that arrived are read from aiosmtpd's spool, the bytes from its session file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "itest.h"

#define JUERGEN "j\xc3\xbcrgen@example.org"
#define YONGHU                           \
    "\xe7\x94\xa8\xe6\x88\xb7@b\xc3\xbc" \
    "cher.example"

static itest_server g_utf8;  /* offers SMTPUTF8 (aiosmtpd_server.py's default) */
static itest_server g_plain; /* --no-smtputf8 */

static int group_setup(void **state) {
    (void)state;
    if (itest_start_aiosmtpd(&g_utf8, 0, NULL) != 0) return -1;
    const char *plain[] = {"--no-smtputf8", NULL};
    if (itest_start_aiosmtpd(&g_plain, 0, plain) != 0) return -1;
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_utf8);
    itest_stop(&g_plain);
    return 0;
}

static smtpc_client *connected_client(itest_server *srv) {
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(itest_connect(c, srv), SMTPC_OK);
    return c;
}

static smtpc_envelope *make_env(const char *sender, const char *r1, const char *r2) {
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, sender, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, r1, SMTPC_NTS), SMTPC_OK);
    if (r2 != NULL) assert_int_equal(smtpc_envelope_add_recipient(env, r2, SMTPC_NTS), SMTPC_OK);
    return env;
}

#define BODY "Subject: utf8\r\n\r\n\xe2\x9c\x93\r\n"

static int read_body(char *buf, size_t cap, size_t *len, void *userdata) {
    int *done = userdata;
    *len = 0;
    if (!*done && cap >= sizeof BODY - 1) {
        memcpy(buf, BODY, sizeof BODY - 1);
        *len = sizeof BODY - 1;
        *done = 1;
    }
    return 0;
}

/* A non-ASCII recipient, no options given: SMTPUTF8 and BODY=8BITMIME added, the message arrives. */
static void offered(int stream) {
    size_t before = itest_msg_count(&g_utf8);
    smtpc_envelope *env = make_env("sender@example.org", "r1@example.org", JUERGEN);
    smtpc_client *c = connected_client(&g_utf8);
    if (stream) {
        int done = 0;
        assert_int_equal(smtpc_client_sendmail_stream(c, env, 0, read_body, &done), SMTPC_OK);
    } else {
        assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR(BODY)), SMTPC_OK);
    }
    assert_int_equal(smtpc_result_delivered_count(smtpc_client_last_result(c)), 2);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);

    itest_msg m;
    assert_int_equal(itest_load_msg(&g_utf8, before, 10000, &m), 0);
    ITEST_ASSERT_BYTES(m.mail_from, m.mail_from_len, ITEST_STR("sender@example.org"));
    assert_int_equal(m.rcpt_count, 2);
    assert_string_equal(m.rcpt_tos[0], "r1@example.org");
    assert_string_equal(m.rcpt_tos[1], JUERGEN);
    if (stream) /* no size hint: no SIZE */
        ITEST_ASSERT_BYTES_NOCASE(m.mail_options, strlen(m.mail_options),
                                  ITEST_STR("SMTPUTF8 BODY=8BITMIME"));
    else
        ITEST_ASSERT_BYTES_NOCASE(m.mail_options, strlen(m.mail_options),
                                  ITEST_STR("SIZE=22 SMTPUTF8 BODY=8BITMIME"));
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(BODY));
    itest_msg_free(&m);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_utf8, &raw, &rawlen), 0);
    if (stream)
        ITEST_ASSERT_BYTES(
            raw, rawlen,
            ITEST_STR("EHLO client.example\r\nMAIL FROM:<sender@example.org> SMTPUTF8 BODY=8BITMIME\r\n"
                      "RCPT TO:<r1@example.org>\r\nRCPT TO:<" JUERGEN ">\r\nDATA\r\n" BODY ".\r\nQUIT\r\n"));
    else
        ITEST_ASSERT_BYTES(raw, rawlen,
                           ITEST_STR("EHLO client.example\r\nMAIL FROM:<sender@example.org> SIZE=22 SMTPUTF8 "
                                     "BODY=8BITMIME\r\nRCPT TO:<r1@example.org>\r\nRCPT TO:<" JUERGEN
                                     ">\r\nDATA\r\n" BODY ".\r\nQUIT\r\n"));
    free(raw);
}

static void test_offered_sendmail(void **state) {
    (void)state;
    offered(0);
}

static void test_offered_sendmail_stream(void **state) {
    (void)state;
    offered(1);
}

/* A non-ASCII sender and recipient: the addresses arrive as the UTF-8 bytes given. */
static void test_offered_sender(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_utf8);
    smtpc_envelope *env = make_env(JUERGEN, YONGHU, NULL);
    smtpc_client *c = connected_client(&g_utf8);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR(BODY)), SMTPC_OK);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    itest_msg m;
    assert_int_equal(itest_load_msg(&g_utf8, before, 10000, &m), 0);
    ITEST_ASSERT_BYTES(m.mail_from, m.mail_from_len, ITEST_STR(JUERGEN));
    assert_int_equal(m.rcpt_count, 1);
    assert_string_equal(m.rcpt_tos[0], YONGHU);
    ITEST_ASSERT_BYTES_NOCASE(m.mail_options, strlen(m.mail_options),
                              ITEST_STR("SIZE=22 SMTPUTF8 BODY=8BITMIME"));
    itest_msg_free(&m);
}

/* Not offered: SMTPC_ENOTSUPPORTED naming the address, nothing after EHLO, the connection usable. */
static void test_not_offered(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_plain);
    smtpc_envelope *env = make_env("sender@example.org", "r1@example.org", JUERGEN);
    smtpc_client *c = connected_client(&g_plain);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR(BODY)), SMTPC_ENOTSUPPORTED);
    const char *msg = smtpc_client_errmsg(c);
    if (strstr(msg, JUERGEN) == NULL || strstr(msg, "SMTPUTF8") == NULL)
        fail_msg("errmsg \"%s\" does not name the address and SMTPUTF8", msg);
    int done = 0;
    assert_int_equal(smtpc_client_sendmail_stream(c, env, 0, read_body, &done), SMTPC_ENOTSUPPORTED);
    assert_int_equal(done, 0);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_plain, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES(raw, rawlen, ITEST_STR("EHLO client.example\r\nQUIT\r\n"));
    free(raw);
    assert_int_equal(itest_msg_count(&g_plain), before);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offered_sendmail),
        cmocka_unit_test(test_offered_sendmail_stream),
        cmocka_unit_test(test_offered_sender),
        cmocka_unit_test(test_not_offered),
    };
    return cmocka_run_group_tests_name("integration_smtputf8", tests, group_setup, group_teardown);
}
