/* SPDX-License-Identifier: MIT */
/*
 * The message queue (smtpc_client_enqueue / smtpc_client_next_result) against the scripted fault
 * server (tests/servers/fault_server.py): the exact bytes the server received, and each message's
 * state when the connection is lost at every step of a batch, on 421, on a cancel, on a refusal
 * inside a BDAT window, and for bad input at enqueue (nothing sent).
 */
#include "fault_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPL_EHLO_CHUNK "250-fault.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n"
#define GROUP(rcpt) W_MAIL("s@example.org") W_RCPT(rcpt) W_DATA

/* Message i's body: "m<i>\r\n". */
static const char *const kBody[] = {"m1\r\n", "m2\r\n", "m3\r\n", "m4\r\n", "m5\r\n"};

typedef struct batch {
    smtpc_message *msg;
    smtpc_message_result *res[8];
    size_t n;
} batch;

static void enqueue_n(fault_fixture *f, batch *b, size_t n) {
    assert_int_equal(smtpc_message_new(&b->msg), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(b->msg, f->env), SMTPC_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(smtpc_message_set_body(b->msg, kBody[i], SMTPC_NTS), SMTPC_OK);
        assert_int_equal(smtpc_message_set_tag(b->msg, 100 + i), SMTPC_OK);
        ASSERT_STATUS(f, smtpc_client_enqueue(f->client, b->msg), SMTPC_OK);
    }
    assert_int_equal(smtpc_client_queued(f->client), n);
}

/* Takes every result, in order; checks the tags. */
static void take_all(fault_fixture *f, batch *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        ASSERT_STATUS(f, smtpc_client_next_result(f->client, &b->res[i]), SMTPC_OK);
        assert_non_null(b->res[i]);
        assert_int_equal(smtpc_message_result_tag(b->res[i]), 100 + i);
    }
    smtpc_message_result *none = (smtpc_message_result *)1;
    ASSERT_STATUS(f, smtpc_client_next_result(f->client, &none), SMTPC_OK);
    assert_null(none);
    assert_int_equal(smtpc_client_queued(f->client), 0);
    b->n = n;
}

static void batch_free(batch *b) {
    for (size_t i = 0; i < b->n; i++) smtpc_message_result_free(b->res[i]);
    smtpc_message_free(b->msg);
}

static void assert_result(const smtpc_message_result *r, smtpc_message_state state, smtpc_status st) {
    if (smtpc_message_result_state(r) != state || smtpc_message_result_status(r) != st)
        fail_msg("message tag %llu: state %d status %s (\"%s\"), expected state %d status %s",
                 (unsigned long long)smtpc_message_result_tag(r), (int)smtpc_message_result_state(r),
                 smtpc_status_name(smtpc_message_result_status(r)), smtpc_message_result_errmsg(r, NULL),
                 (int)state, smtpc_status_name(st));
}

static void start(fault_fixture *f) {
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
}

/* Four messages over DATA: each message's group goes behind the previous one's final dot, in the same
 * write. The connection is lost with message 2's dot and message 3's group on the wire: 1 delivered,
 * 2 unknown, 3 and 4 not sent. */
static void test_disconnect_after_dot(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 1);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_until(f, "\r\n.\r\n");
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_OK RPL_354);
    sc_read_until(f, "\r\n.\r\n");
    sc_expect_lines(f, 3);
    sc_close(f);
    start(f);
    batch b = {0};
    enqueue_n(f, &b, 4);
    take_all(f, &b, 4);
    assert_result(b.res[0], SMTPC_MESSAGE_DELIVERED, SMTPC_OK);
    assert_result(b.res[1], SMTPC_MESSAGE_UNKNOWN, SMTPC_EDELIVERY_UNKNOWN);
    assert_int_equal(smtpc_result_state(smtpc_message_result_recipients(b.res[1]), 0), SMTPC_RCPT_UNKNOWN);
    assert_result(b.res[2], SMTPC_MESSAGE_NOT_SENT, SMTPC_EDISCONNECTED);
    assert_result(b.res[3], SMTPC_MESSAGE_NOT_SENT, SMTPC_EDISCONNECTED);
    fault_assert_reply(smtpc_message_result_reply(b.res[0]), 250, "2.0.0 ok");
    assert_null(smtpc_message_result_reply(b.res[2]));
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 10000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO GROUP("r@example.org") "m1\r\n.\r\n" GROUP(
                                   "r@example.org") "m2\r\n.\r\n" GROUP("r@example.org"));
    batch_free(&b);
}

/* The connection is lost before message 1's 354: nothing was sent; every message is NOT_SENT. */
static void test_disconnect_before_354(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 1);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK);
    sc_close(f);
    start(f);
    batch b = {0};
    enqueue_n(f, &b, 3);
    take_all(f, &b, 3);
    for (size_t i = 0; i < 3; i++) assert_result(b.res[i], SMTPC_MESSAGE_NOT_SENT, SMTPC_EDISCONNECTED);
    assert_int_equal(fault_finish(f, 10000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO GROUP("r@example.org"));
    batch_free(&b);
}

/* 421 to message 2's MAIL: message 1 stays delivered, message 2 is refused with the 421 kept (retry
 * later), message 3 is not sent (service closing). */
static void test_421_mid_batch(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 1);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_until(f, "\r\n.\r\n");
    sc_expect_lines(f, 3);
    sc_send_then_close(f, RPL_OK RPL_421);
    start(f);
    batch b = {0};
    enqueue_n(f, &b, 3);
    take_all(f, &b, 3);
    assert_result(b.res[0], SMTPC_MESSAGE_DELIVERED, SMTPC_OK);
    assert_result(b.res[1], SMTPC_MESSAGE_REFUSED, SMTPC_ESENDER_REFUSED);
    fault_assert_reply(smtpc_message_result_reply(b.res[1]), 421, "4.3.2 fault.test closing");
    assert_result(b.res[2], SMTPC_MESSAGE_NOT_SENT, SMTPC_ECLOSING);
    assert_int_equal(fault_finish(f, 10000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO GROUP("r@example.org") "m1\r\n.\r\n" GROUP("r@example.org"));
    batch_free(&b);
}

static int cancel_on_m2(uint64_t sent, uint64_t total, void *userdata) {
    (void)sent;
    (void)total;
    fault_fixture *f = userdata;
    /* Message 2's body is the second body taken: cancel there. */
    static int calls;
    if (++calls == 2) smtpc_client_cancel(f->client);
    return 0;
}

/* smtpc_client_cancel() while message 2's body goes out: message 1 delivered, 2 and 3 cancelled and
 * not sent (message 2's final dot never reached the server). */
static void test_cancel_mid_batch(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 1);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_until(f, "\r\n.\r\n");
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_OK RPL_354);
    sc_expect_eof(f, 5);
    start(f);
    assert_int_equal(smtpc_client_set_progress(f->client, cancel_on_m2, f), SMTPC_OK);
    batch b = {0};
    enqueue_n(f, &b, 3);
    take_all(f, &b, 3);
    assert_result(b.res[0], SMTPC_MESSAGE_DELIVERED, SMTPC_OK);
    assert_result(b.res[1], SMTPC_MESSAGE_NOT_SENT, SMTPC_ECANCELLED);
    assert_result(b.res[2], SMTPC_MESSAGE_NOT_SENT, SMTPC_ECANCELLED);
    assert_int_equal(fault_finish(f, 10000), 0);
    /* Message 2's body may or may not have reached the server; its end of data never did. */
    const char head[] = W_EHLO GROUP("r@example.org") "m1\r\n.\r\n" GROUP("r@example.org");
    fault_assert_transcript_prefix(f, head, sizeof head - 1, "m2\r\n", 4);
    assert_null(strstr(f->transcript, "m2\r\n.\r\n"));
    batch_free(&b);
}

/* BDAT: the window goes out in one write, an RSET ahead of each MAIL written behind an unanswered
 * message. Message 1's only recipient is refused, its BDAT LAST too: it is reported refused, and the
 * RSET ahead of message 2 closes whatever message 1 left open, so message 2 is delivered. */
static void test_bdat_refusal_inside_window(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_CHUNK);
    sc_expect_lines(f, 3); /* MAIL, RCPT, BDAT 4 LAST */
    sc_read_bytes(f, 4);
    sc_expect_lines(f, 4); /* RSET, MAIL, RCPT, BDAT 4 LAST */
    sc_read_bytes(f, 4);
    sc_send(f, RPL_OK "550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n" RPL_OK RPL_OK RPL_OK
                      "250 2.0.0 queued\r\n");
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_envelope *bad = NULL;
    assert_int_equal(smtpc_envelope_new(&bad), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(bad, "s@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(bad, "bad@example.org", SMTPC_NTS), SMTPC_OK);
    batch b = {0};
    assert_int_equal(smtpc_message_new(&b.msg), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(b.msg, bad), SMTPC_OK);
    smtpc_envelope_free(bad); /* copied */
    assert_int_equal(smtpc_message_set_body(b.msg, kBody[0], SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_message_set_tag(b.msg, 100), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_enqueue(f->client, b.msg), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(b.msg, f->env), SMTPC_OK);
    assert_int_equal(smtpc_message_set_body(b.msg, kBody[1], SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_message_set_tag(b.msg, 101), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_enqueue(f->client, b.msg), SMTPC_OK);
    take_all(f, &b, 2);
    assert_result(b.res[0], SMTPC_MESSAGE_REFUSED, SMTPC_ERECIPIENTS_REFUSED);
    fault_assert_reply(smtpc_message_result_reply(b.res[0]), 550, "5.1.1 no such user");
    assert_result(b.res[1], SMTPC_MESSAGE_DELIVERED, SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 10000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT(
                                   "bad@example.org") "BDAT 4 LAST\r\nm1\r\n" W_RSET W_MAIL("s@example.org")
                                   W_RCPT("r@example.org") "BDAT 4 LAST\r\nm2\r\n" W_QUIT);
    batch_free(&b);
}

/* Bad input is refused at enqueue, before a byte of the message is sent; other calls that talk to the
 * server are refused while messages are queued; close concludes the queued messages as not sent. */
static void test_bad_input_at_enqueue(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 1);
    sc_expect_eof(f, 5);
    start(f);
    smtpc_message *m = NULL;
    assert_int_equal(smtpc_message_new(&m), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_enqueue(f->client, NULL), SMTPC_EINVAL);
    ASSERT_STATUS(f, smtpc_client_enqueue(NULL, m), SMTPC_EINVAL);
    ASSERT_STATUS(f, smtpc_client_enqueue(f->client, m), SMTPC_EINVAL); /* no body */
    assert_non_null(strstr(smtpc_client_errmsg(f->client), "no body"));
    assert_int_equal(smtpc_message_set_body(m, "x\r\n", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_enqueue(f->client, m), SMTPC_EINVAL); /* no envelope */
    smtpc_envelope *empty = NULL;
    assert_int_equal(smtpc_envelope_new(&empty), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(m, empty), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_enqueue(f->client, m), SMTPC_EINVAL); /* no recipients */
    assert_int_equal(smtpc_envelope_add_recipient(empty, "\xc3\xa9t\xc3\xa9@example.org", SMTPC_NTS),
                     SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(m, empty), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_enqueue(f->client, m), SMTPC_ENOTSUPPORTED); /* no SMTPUTF8 offered */
    assert_int_equal(smtpc_message_set_envelope_from_headers(m, 1), SMTPC_OK);
    assert_int_equal(smtpc_message_set_body(m, "Subject: no addresses\r\n\r\nx\r\n", SMTPC_NTS), SMTPC_OK);
    smtpc_envelope_free(empty);
    assert_int_equal(smtpc_envelope_new(&empty), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(m, empty), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_enqueue(f->client, m), SMTPC_EINVAL); /* no sender in the headers */
    assert_int_equal(smtpc_message_set_body(NULL, "x", 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_message_set_body(m, NULL, 3), SMTPC_EINVAL);
    assert_int_equal(smtpc_message_set_body_reader(m, 0, NULL, NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_queued(f->client), 0);
    assert_int_equal(smtpc_client_set_window(f->client, 0, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_window(f->client, 1, 0), SMTPC_EINVAL);

    /* One good message queued (the window is not full: nothing is sent yet); a command is refused. */
    assert_int_equal(smtpc_message_set_envelope_from_headers(m, 0), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(m, f->env), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_enqueue(f->client, m), SMTPC_OK);
    smtpc_message_free(m); /* enqueue copied what it needs */
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ESTATE);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, "y", 1), SMTPC_ESTATE);
    assert_non_null(strstr(smtpc_client_errmsg(f->client), "smtpc_client_next_result"));
    smtpc_client_close(f->client);
    smtpc_message_result *r = NULL;
    ASSERT_STATUS(f, smtpc_client_next_result(f->client, &r), SMTPC_OK);
    assert_non_null(r);
    assert_result(r, SMTPC_MESSAGE_NOT_SENT, SMTPC_ENOTCONN);
    smtpc_message_result_free(r);
    assert_int_equal(fault_finish(f, 10000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
    smtpc_envelope_free(empty);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disconnect_after_dot, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_before_354, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_421_mid_batch, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_mid_batch, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_bdat_refusal_inside_window, fault_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_at_enqueue, fault_setup, fault_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
