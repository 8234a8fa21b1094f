/* SPDX-License-Identifier: MIT */
/*
 * SMTPUTF8 chosen by sendmail (issue 9, "UTF-8 addresses work"): when the sender or a recipient is
 * not ASCII, smtpc_client_sendmail(), smtpc_client_sendmail_stream() and smtpc_client_send_message()
 * add SMTPUTF8 and BODY=8BITMIME (unless the caller set BODY) when the server offers SMTPUTF8, and
 * fail with SMTPC_ENOTSUPPORTED, saying why, before MAIL when it does not. The MAIL and RCPT bytes
 * are checked in the scripted server's transcript.
 */
#include "fault_common.h"

#include <string.h>

#define JUERGEN "j\xc3\xbcrgen@example.org"
#define MSG "Subject: t\r\n\r\nhello\r\n"
#define MSG_WIRE MSG ".\r\n"
#define RPL_EHLO_UTF8 "250-fault.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"

static int g_read_calls;

static int read_once(char *buf, size_t cap, size_t *len, void *userdata) {
    int *done = userdata;
    g_read_calls++;
    *len = 0;
    if (!*done && cap >= sizeof MSG - 1) {
        memcpy(buf, MSG, sizeof MSG - 1);
        *len = sizeof MSG - 1;
        *done = 1;
    }
    return 0;
}

/* The server offers SMTPUTF8: the options are added and the addresses go out as they are. */
static void offered(fault_fixture *f, int how) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_UTF8);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_status st;
    if (how == 2) {
        st = smtpc_client_send_message(
            f->client, NULL, "From: s@example.org\r\nTo: r1@example.org, " JUERGEN "\r\n" MSG, SMTPC_NTS);
    } else {
        fault_envelope(f, "r1@example.org", JUERGEN, NULL);
        if (how == 1) {
            int done = 0;
            g_read_calls = 0;
            st = smtpc_client_sendmail_stream(f->client, f->env, 0, read_once, &done);
        } else {
            st = smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS);
        }
    }
    ASSERT_STATUS(f, st, SMTPC_OK);
    assert_int_equal(smtpc_result_delivered_count(smtpc_client_last_result(f->client)), 2);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    if (how == 2) {
        FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "MAIL FROM:<s@example.org> SMTPUTF8 BODY=8BITMIME\r\n" W_RCPT(
                                       "r1@example.org") W_RCPT(JUERGEN) W_DATA
                                "From: s@example.org\r\nTo: r1@example.org, " JUERGEN "\r\n" MSG_WIRE W_QUIT);
    } else {
        /* SIZE is not offered, so the line has only the two options. */
        FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "MAIL FROM:<s@example.org> SMTPUTF8 BODY=8BITMIME\r\n" W_RCPT(
                                       "r1@example.org") W_RCPT(JUERGEN) W_DATA MSG_WIRE W_QUIT);
    }
}

static void test_offered_sendmail(void **state) { offered(*state, 0); }

static void test_offered_sendmail_stream(void **state) { offered(*state, 1); }

static void test_offered_send_message(void **state) { offered(*state, 2); }

/* A non-ASCII sender, and BODY set by the caller: BODY is left as it is. */
static void test_offered_sender_body_kept(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_UTF8);
    sc_expect(f, "MAIL ");
    sc_send(f, "550 5.7.1 not today\r\n");
    sc_expect(f, "RSET");
    sc_send(f, RPL_OK);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    assert_int_equal(smtpc_envelope_new(&f->env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(f->env, JUERGEN, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(f->env, "r1@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_mail_option(f->env, "BODY=7BIT", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_ESENDER_REFUSED);
    smtpc_client_close(f->client);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "MAIL FROM:<" JUERGEN "> BODY=7BIT SMTPUTF8\r\n" W_RSET);
}

/*
 * The server does not offer SMTPUTF8: SMTPC_ENOTSUPPORTED with a message naming the address and
 * the extension, nothing after EHLO, the connection still usable (NOOP then QUIT), the read callback
 * never called.
 */
static void not_offered(fault_fixture *f, int how) {
    sc_hello(f, 1);
    sc_expect(f, "NOOP");
    sc_send(f, RPL_OK);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_status st;
    g_read_calls = 0;
    if (how == 2) {
        st = smtpc_client_send_message(f->client, NULL, "From: " JUERGEN "\r\nTo: r1@example.org\r\n" MSG,
                                       SMTPC_NTS);
    } else {
        fault_envelope(f, "r1@example.org", JUERGEN, NULL);
        if (how == 1) {
            int done = 0;
            st = smtpc_client_sendmail_stream(f->client, f->env, 0, read_once, &done);
        } else {
            st = smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS);
        }
    }
    ASSERT_STATUS(f, st, SMTPC_ENOTSUPPORTED);
    assert_int_equal(g_read_calls, 0);
    const char *msg = smtpc_client_errmsg(f->client);
    if (strstr(msg, JUERGEN) == NULL || strstr(msg, "SMTPUTF8") == NULL ||
        strstr(msg, "the server does not offer") == NULL) {
        fail_msg("errmsg \"%s\" does not say which address needs SMTPUTF8 and that the server lacks it", msg);
    }
    assert_int_equal(smtpc_client_is_connected(f->client), 1);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_NOOP W_QUIT);
}

static void test_not_offered_sendmail(void **state) { not_offered(*state, 0); }

static void test_not_offered_sendmail_stream(void **state) { not_offered(*state, 1); }

static void test_not_offered_send_message(void **state) { not_offered(*state, 2); }

#define T(name) cmocka_unit_test_setup_teardown(test_##name, fault_setup, fault_teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(offered_sendmail),         T(offered_sendmail_stream), T(offered_send_message),
        T(offered_sender_body_kept), T(not_offered_sendmail),    T(not_offered_sendmail_stream),
        T(not_offered_send_message),
    };
    return cmocka_run_group_tests_name("fault_smtputf8", tests, NULL, NULL);
}
