/* SPDX-License-Identifier: MIT */
/*
 * Fault tests: 421 (service closing) at every step (catalogue B.24). After a 421 the reply is kept,
 * the connection is closed by the client, nothing more is sent (no RSET, no QUIT), and recipients
 * whose RCPT was never answered are reported as not attempted.
 *
 * Every server script ends by reading until the client closes (expect_eof), so the transcript shows
 * any byte the client sent after the 421.
 */
#include "fault_common.h"

#include <string.h>

#define MSG "Subject: t\r\n\r\nhello\r\n"
#define MSG_WIRE MSG ".\r\n"
#define FAST_MS 2000

static void assert_closed_with_421(const fault_fixture *f) {
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    fault_assert_reply(smtpc_client_last_reply(f->client), 421, "4.3.2 fault.test closing");
}

static void assert_rcpt(const smtpc_result *res, size_t i, smtpc_rcpt_state want, int reply_code) {
    assert_non_null(res);
    smtpc_rcpt_state got = smtpc_result_state(res, i);
    if (got != want) {
        fail_msg("recipient %zu: state %d, expected %d", i, (int)got, (int)want);
    }
    if (reply_code == 0) {
        assert_null(smtpc_result_rcpt_reply(res, i));
    } else {
        fault_assert_reply(smtpc_result_rcpt_reply(res, i), reply_code, NULL);
    }
}

/* Greeting 421: SMTPC_EGREETING with the reply kept; nothing sent, not even QUIT. */
static void test_421_greeting(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_421);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_clock_start(f);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_EGREETING);
    assert_true(fault_elapsed_ms(f) < FAST_MS);
    assert_closed_with_421(f);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

/* A multiline 421 greeting: the whole reply is kept. */
static void test_421_greeting_multiline(void **state) {
    fault_fixture *f = *state;
    sc_send(f, "421-fault.test\r\n421 too busy\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_EGREETING);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    const smtpc_reply *r = smtpc_client_last_reply(f->client);
    fault_assert_reply(r, 421, "fault.test\ntoo busy");
    assert_int_equal(smtpc_reply_line_count(r), 2);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

/* EHLO answered with 421: SMTPC_ECLOSING, connection closed, no HELO fallback. */
static void test_421_ehlo(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_421);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_ECLOSING);
    assert_true(fault_elapsed_ms(f) < FAST_MS);
    assert_closed_with_421(f);
    assert_int_equal(smtpc_client_does_esmtp(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ENOTCONN);
}

/* ehlo_or_helo_if_needed(): a 421 to EHLO must not be followed by HELO on a closed connection. */
static void test_421_ehlo_no_helo_fallback(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_421);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo_or_helo_if_needed(f->client), SMTPC_ECLOSING);
    assert_closed_with_421(f);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
}

/* sendmail(): MAIL answered with 421 -> sender refused, reply kept, no RSET. */
static void test_421_mail_sendmail(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_421);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", "r2@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_ESENDER_REFUSED);
    assert_true(fault_elapsed_ms(f) < FAST_MS);
    assert_closed_with_421(f);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_non_null(res);
    fault_assert_reply(smtpc_result_mail_reply(res), 421, NULL);
    assert_rcpt(res, 0, SMTPC_RCPT_NOT_ATTEMPTED, 0);
    assert_rcpt(res, 1, SMTPC_RCPT_NOT_ATTEMPTED, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org"));
}

/* smtpc_client_mail() answered with 421 -> SMTPC_ECLOSING. */
static void test_421_mail_command(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_421);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_mail(f->client, "s@example.org", SMTPC_NTS, NULL, 0), SMTPC_ECLOSING);
    assert_closed_with_421(f);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org"));
    ASSERT_STATUS(f, smtpc_client_rcpt(f->client, "r@example.org", SMTPC_NTS, NULL, 0), SMTPC_ENOTCONN);
}

/*
 * PIPELINING: the batch MAIL, RCPT x3, DATA; replies 250 (MAIL), 250 (RCPT 1), 421 (RCPT 2).
 * The client stops there: recipient 1 accepted, recipient 2 refused with the 421, recipient 3 not
 * attempted, no message, no RSET, no QUIT.
 */
static void test_421_pipelined_rcpt(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 1);
    sc_expect(f, "MAIL ");
    sc_expect(f, "RCPT ");
    sc_expect(f, "RCPT ");
    sc_expect(f, "RCPT ");
    sc_expect(f, "DATA");
    sc_send(f, RPL_OK RPL_OK RPL_421);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", "r2@example.org", "r3@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS);
    assert_true(fault_elapsed_ms(f) < FAST_MS);
    /* As smtplib's sendmail(), which raises SMTPRecipientsRefused on a 421 to RCPT. */
    ASSERT_STATUS(f, st, SMTPC_ERECIPIENTS_REFUSED);
    assert_closed_with_421(f);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_int_equal(smtpc_result_count(res), 3);
    assert_rcpt(res, 0, SMTPC_RCPT_ACCEPTED, 250);
    assert_rcpt(res, 1, SMTPC_RCPT_REFUSED, 421);
    assert_rcpt(res, 2, SMTPC_RCPT_NOT_ATTEMPTED, 0);
    assert_int_equal(smtpc_result_delivered_count(res), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org")
                                   W_RCPT("r2@example.org") W_RCPT("r3@example.org") W_DATA);
}

/* The same without pipelining: RCPT 3 is never sent. */
static void test_421_rcpt_lockstep(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_421);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", "r2@example.org", "r3@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_ERECIPIENTS_REFUSED);
    assert_closed_with_421(f);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_rcpt(res, 0, SMTPC_RCPT_ACCEPTED, 250);
    assert_rcpt(res, 1, SMTPC_RCPT_REFUSED, 421);
    assert_rcpt(res, 2, SMTPC_RCPT_NOT_ATTEMPTED, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f,
                            W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_RCPT("r2@example.org"));
}

/* DATA answered with 421 (after pipelined MAIL and RCPT): data refused, no message sent. */
static void test_421_data(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 1);
    sc_expect(f, "MAIL ");
    sc_expect(f, "RCPT ");
    sc_expect(f, "DATA");
    sc_send(f, RPL_OK RPL_OK RPL_421);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_EDATA_REFUSED);
    assert_closed_with_421(f);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_FAILED);
    fault_assert_reply(smtpc_result_data_reply(res, 0), 421, NULL);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA);
}

/* 421 after the final dot: the message is refused, no QUIT. */
static void test_421_final_dot(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_421);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_EDATA_REFUSED);
    assert_closed_with_421(f);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_FAILED);
    fault_assert_reply(smtpc_result_data_reply(res, 0), 421, NULL);
    assert_int_equal(smtpc_result_delivered_count(res), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA MSG_WIRE);
}

/* smtpc_client_rcpt() answered with 421 -> SMTPC_ECLOSING; the recipient is refused with the 421. */
static void test_421_rcpt_command(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_421);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_mail(f->client, "s@example.org", SMTPC_NTS, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_rcpt(f->client, "r1@example.org", SMTPC_NTS, NULL, 0), SMTPC_ECLOSING);
    assert_closed_with_421(f);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_int_equal(smtpc_result_count(res), 1);
    assert_rcpt(res, 0, SMTPC_RCPT_REFUSED, 421);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org"));
}

/* smtpc_client_data(): 421 after the final dot -> SMTPC_ECLOSING, connection closed, no QUIT. */
static void test_421_final_dot_data_command(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_421);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_data(f->client, MSG, SMTPC_NTS), SMTPC_ECLOSING);
    assert_closed_with_421(f);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_DATA MSG_WIRE);
}

/* NOOP answered with 421: SMTPC_ECLOSING; the next command fails without being sent. */
static void test_421_noop(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_send(f, RPL_421);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ECLOSING);
    assert_closed_with_421(f);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ENOTCONN);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_ENOTCONN);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

/* After a 421 the same handle connects again (the handle is reusable). */
static void test_421_then_reconnect(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_send(f, RPL_421);
    sc_expect_eof(f, 5.0);
    f->extra_args[0] = "--connections";
    f->extra_args[1] = "2";
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ECLOSING);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    assert_int_equal(smtpc_client_is_connected(f->client), 1);
    fault_assert_reply(smtpc_client_last_reply(f->client), 220, NULL);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ECLOSING);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP W_NOOP);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fault_setup, fault_teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_421_greeting),       T(test_421_greeting_multiline),
        T(test_421_ehlo),           T(test_421_ehlo_no_helo_fallback),
        T(test_421_mail_sendmail),  T(test_421_mail_command),
        T(test_421_pipelined_rcpt), T(test_421_rcpt_lockstep),
        T(test_421_data),           T(test_421_final_dot),
        T(test_421_rcpt_command),   T(test_421_final_dot_data_command),
        T(test_421_noop),           T(test_421_then_reconnect),
    };
    return cmocka_run_group_tests_name("fault_421", tests, NULL, NULL);
}
