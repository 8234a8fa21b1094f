/* SPDX-License-Identifier: MIT */
/*
 * LMTP against aiosmtpd's LMTP server (tests/servers/aiosmtpd_server.py --mode lmtp), over TCP and
 * over a Unix socket: LHLO, and one reply per accepted recipient after the message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

static itest_server g_tcp;
static itest_server g_unix;

static int group_setup(void **state) {
    (void)state;
    const char *lmtp[] = {"--mode", "lmtp", NULL};
    if (itest_start_aiosmtpd(&g_tcp, 0, lmtp) != 0) return -1;
    if (itest_start_aiosmtpd(&g_unix, 1, lmtp) != 0) return -1;
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_tcp);
    itest_stop(&g_unix);
    return 0;
}

static smtpc_client *lmtp_client(itest_server *srv) {
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_LMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(smtpc_client_protocol(c), SMTPC_PROTOCOL_LMTP);
    assert_int_equal(itest_connect(c, srv), SMTPC_OK);
    return c;
}

static void quit_and_free(smtpc_client *c) {
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
}

static void check_lhlo(itest_server *srv) {
    smtpc_client *c = lmtp_client(srv);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 220, "smtpc.test smtpc-test-server");
    /* HELO is not part of LMTP. */
    assert_int_equal(smtpc_client_helo(c, NULL, 0), SMTPC_ESTATE);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_ehlo_reply(c), 250,
                       "smtpc.test\nSIZE 33554432\n8BITMIME\nSMTPUTF8\nHELP");
    assert_int_equal(smtpc_client_does_esmtp(c), 1);
    assert_int_equal(smtpc_client_extn_count(c), 4);
    assert_string_equal(smtpc_client_extn_params(c, "size", SMTPC_NTS, NULL), "33554432");
    assert_int_equal(smtpc_client_ehlo_or_helo_if_needed(c), SMTPC_OK); /* already done: nothing sent */
    quit_and_free(c);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen, ITEST_STR("LHLO client.example\r\nQUIT\r\n"));
    free(raw);

    /* ehlo_or_helo_if_needed sends LHLO. */
    c = lmtp_client(srv);
    assert_int_equal(smtpc_client_ehlo_or_helo_if_needed(c), SMTPC_OK);
    assert_int_equal(smtpc_client_does_esmtp(c), 1);
    quit_and_free(c);
    assert_int_equal(itest_last_session(srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen, ITEST_STR("LHLO client.example\r\nQUIT\r\n"));
    free(raw);
}

static void test_lhlo_tcp(void **state) {
    (void)state;
    check_lhlo(&g_tcp);
}

static void test_lhlo_unix(void **state) {
    (void)state;
    check_lhlo(&g_unix);
}

static void check_delivered(const smtpc_reply *r, const char *rcpt) {
    assert_non_null(r);
    assert_int_equal(smtpc_reply_code(r), 250);
    assert_string_equal(smtpc_reply_enhanced(r), "2.0.0");
    char prefix[128];
    snprintf(prefix, sizeof prefix, "2.0.0 <%s>: delivered as ", rcpt);
    const char *t = smtpc_reply_text(r, NULL);
    assert_memory_equal(t, prefix, strlen(prefix));
}

static void check_sendmail_one_fails(itest_server *srv) {
    size_t before = itest_msg_count(srv);
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "sender@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "ok1@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "fail1@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "ok2@example.org", SMTPC_NTS), SMTPC_OK);

    smtpc_client *c = lmtp_client(srv);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR("Subject: lmtp\n\n.body\n")), SMTPC_OK);
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_non_null(res);
    assert_int_equal(smtpc_result_count(res), 3);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_FAILED);
    assert_int_equal(smtpc_result_state(res, 2), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_delivered_count(res), 2);
    for (size_t i = 0; i < 3; i++)
        ITEST_ASSERT_REPLY(smtpc_result_rcpt_reply(res, i), 250, "2.1.5 Recipient OK");
    check_delivered(smtpc_result_data_reply(res, 0), "ok1@example.org");
    ITEST_ASSERT_REPLY(smtpc_result_data_reply(res, 1), 550, "5.1.1 <fail1@example.org>: delivery failed");
    assert_string_equal(smtpc_reply_enhanced(smtpc_result_data_reply(res, 1)), "5.1.1");
    check_delivered(smtpc_result_data_reply(res, 2), "ok2@example.org");
    /* The last reply read is the last recipient's. */
    check_delivered(smtpc_client_last_reply(c), "ok2@example.org");

    /* Every reply was consumed: the next command gets its own reply. */
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "OK");

    /* Everyone fails after DATA. */
    smtpc_envelope *env2 = NULL;
    assert_int_equal(smtpc_envelope_new(&env2), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env2, "fail2@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env2, "fail3@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail(c, env2, ITEST_STR("x\r\n")), SMTPC_EDATA_REFUSED);
    res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_FAILED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_FAILED);
    ITEST_ASSERT_REPLY(smtpc_result_data_reply(res, 0), 550, "5.1.1 <fail2@example.org>: delivery failed");
    ITEST_ASSERT_REPLY(smtpc_result_data_reply(res, 1), 550, "5.1.1 <fail3@example.org>: delivery failed");
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "OK");

    /* A recipient refused at RCPT gets no reply after DATA: 2 replies for 3 recipients. */
    smtpc_envelope *env3 = NULL;
    assert_int_equal(smtpc_envelope_new(&env3), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env3, "reject1@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env3, "fail4@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env3, "ok3@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail(c, env3, ITEST_STR("y\r\n")), SMTPC_OK);
    res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_FAILED);
    assert_int_equal(smtpc_result_state(res, 2), SMTPC_RCPT_DELIVERED);
    ITEST_ASSERT_REPLY(smtpc_result_rcpt_reply(res, 0), 550,
                       "5.1.1 <reject1@example.org>: Recipient address rejected");
    assert_null(smtpc_result_data_reply(res, 0));
    ITEST_ASSERT_REPLY(smtpc_result_data_reply(res, 1), 550, "5.1.1 <fail4@example.org>: delivery failed");
    check_delivered(smtpc_result_data_reply(res, 2), "ok3@example.org");
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "OK");
    quit_and_free(c);
    smtpc_envelope_free(env);
    smtpc_envelope_free(env2);
    smtpc_envelope_free(env3);

    itest_msg m;
    assert_int_equal(itest_load_msg(srv, before, 10000, &m), 0);
    assert_string_equal(m.mail_from, "sender@example.org");
    assert_int_equal(m.rcpt_count, 3);
    assert_string_equal(m.rcpt_tos[0], "ok1@example.org");
    assert_string_equal(m.rcpt_tos[1], "fail1@example.org");
    assert_string_equal(m.rcpt_tos[2], "ok2@example.org");
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR("Subject: lmtp\r\n\r\n.body\r\n"));
    ITEST_ASSERT_BYTES_NOCASE(
        m.raw, m.raw_len,
        ITEST_STR("LHLO client.example\r\nMAIL FROM:<sender@example.org> SIZE=24\r\n"
                  "RCPT TO:<ok1@example.org>\r\nRCPT TO:<fail1@example.org>\r\n"
                  "RCPT TO:<ok2@example.org>\r\nDATA\r\nSubject: lmtp\r\n\r\n..body\r\n.\r\n"));
    itest_msg_free(&m);
}

static void test_lmtp_sendmail_tcp(void **state) {
    (void)state;
    check_sendmail_one_fails(&g_tcp);
}

static void test_lmtp_sendmail_unix(void **state) {
    (void)state;
    check_sendmail_one_fails(&g_unix);
}

/* MAIL/RCPT/DATA one by one: data() reads one reply per accepted recipient. */
static void test_lmtp_low_level_data(void **state) {
    (void)state;
    smtpc_client *c = lmtp_client(&g_unix);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_mail(c, "s@example.org", SMTPC_NTS, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_rcpt(c, "fail9@example.org", SMTPC_NTS, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_rcpt(c, "reject9@example.org", SMTPC_NTS, NULL, 0), SMTPC_EREPLY);
    assert_int_equal(smtpc_client_rcpt(c, "ok9@example.org", SMTPC_NTS, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_data(c, ITEST_STR("z\r\n")), SMTPC_OK);
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_non_null(res);
    assert_int_equal(smtpc_result_count(res), 3);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_FAILED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 2), SMTPC_RCPT_DELIVERED);
    ITEST_ASSERT_REPLY(smtpc_result_data_reply(res, 0), 550, "5.1.1 <fail9@example.org>: delivery failed");
    check_delivered(smtpc_result_data_reply(res, 2), "ok9@example.org");
    check_delivered(smtpc_client_last_reply(c), "ok9@example.org");
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "OK");

    /* Only failures: data() reports the refusal. */
    assert_int_equal(smtpc_client_mail(c, "s@example.org", SMTPC_NTS, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_rcpt(c, "fail8@example.org", SMTPC_NTS, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_data(c, ITEST_STR("z\r\n")), SMTPC_EREPLY);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 550, "5.1.1 <fail8@example.org>: delivery failed");
    assert_int_equal(smtpc_result_state(smtpc_client_last_result(c), 0), SMTPC_RCPT_FAILED);
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    quit_and_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lhlo_tcp),
        cmocka_unit_test(test_lhlo_unix),
        cmocka_unit_test(test_lmtp_sendmail_tcp),
        cmocka_unit_test(test_lmtp_sendmail_unix),
        cmocka_unit_test(test_lmtp_low_level_data),
    };
    return cmocka_run_group_tests_name("lmtp", tests, group_setup, group_teardown);
}
