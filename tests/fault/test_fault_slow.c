/* SPDX-License-Identifier: MIT */
/*
 * Fault tests: slow and silent servers (catalogue F.50, F.51). Deadlines are absolute: a reply that
 * trickles in does not extend them, and a server that stops reading cannot block a write forever.
 */
#include "fault_common.h"

#include <stdlib.h>
#include <string.h>

/* How far past its deadline a call may return. */
#define SLACK_MS 1000

static void assert_elapsed_about(long long ms, long long timeout_ms) {
    if (ms < timeout_ms - 100 || ms >= timeout_ms + SLACK_MS) {
        fail_msg("returned after %lld ms; the deadline was %lld ms", ms, timeout_ms);
    }
}

/* A greeting trickled over ~1 s, well within a 4 s connect timeout, succeeds. */
static void test_slow_greeting_within_deadline(void **state) {
    fault_fixture *f = *state;
    sc_send_slowly(f, "220 fault.test\r\n", 0.07);
    sc_expect(f, "NOOP");
    sc_send(f, RPL_OK);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 4000, 4000);
    fault_clock_start(f);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    long long ms = fault_elapsed_ms(f);
    assert_true(ms >= 900);
    assert_true(ms < 4000);
    fault_assert_reply(smtpc_client_last_reply(f->client), 220, "fault.test");
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_OK);
    smtpc_client_close(f->client);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

/* A greeting trickled one byte every 0.2 s against a 1 s connect timeout: SMTPC_ETIMEOUT at ~1 s. */
static void test_trickled_greeting_times_out(void **state) {
    fault_fixture *f = *state;
    sc_send_slowly(f, "220 fault.test is far too slow\r\n", 0.2);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 1000, 1000);
    fault_clock_start(f);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_ETIMEOUT);
    assert_elapsed_about(fault_elapsed_ms(f), 1000);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

/*
 * A NOOP reply trickled one byte every 0.2 s against a 1 s command timeout: SMTPC_ETIMEOUT at ~1 s,
 * not reset by each byte (the whole reply would take ~6 s).
 */
static void test_trickled_reply_absolute_deadline(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_send_slowly(f, "250 this reply is much too slow\r\n", 0.2);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 1000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ETIMEOUT);
    assert_elapsed_about(fault_elapsed_ms(f), 1000);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

/* The same for a multiline EHLO reply whose lines come 0.3 s apart. */
static void test_trickled_multiline_absolute_deadline(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    for (int i = 0; i < 10; i++) {
        sc_send(f, "250-SLOW\r\n");
        sc_sleep(f, 0.3);
    }
    sc_send(f, "250 HELP\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 1000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_ETIMEOUT);
    assert_elapsed_about(fault_elapsed_ms(f), 1000);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(smtpc_client_does_esmtp(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
}

/* A server that never answers EHLO: SMTPC_ETIMEOUT at the command timeout, nothing more sent. */
static void test_no_ehlo_reply(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 1000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, "x\r\n", SMTPC_NTS), SMTPC_ETIMEOUT);
    assert_elapsed_about(fault_elapsed_ms(f), 1000);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    if (res != NULL) {
        assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_NOT_ATTEMPTED);
    }
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
}

/* A greeting that never comes: the connect timeout covers it. */
static void test_no_greeting(void **state) {
    fault_fixture *f = *state;
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 800, 5000);
    fault_clock_start(f);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_ETIMEOUT);
    assert_elapsed_about(fault_elapsed_ms(f), 800);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

/* No reply after the final dot: SMTPC_ETIMEOUT (the message may have arrived: not "delivered"). */
static void test_no_reply_after_final_dot(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 1000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, "x\r\n", SMTPC_NTS);
    long long ms = fault_elapsed_ms(f);
    if (st != SMTPC_ETIMEOUT && st != SMTPC_EDELIVERY_UNKNOWN) {
        fail_msg("sendmail returned %s, expected SMTPC_ETIMEOUT (or SMTPC_EDELIVERY_UNKNOWN)",
                 smtpc_status_name(st));
    }
    assert_elapsed_about(ms, 1000);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    /* The message may have arrived: never "delivered"; "unknown" when reported as such. */
    smtpc_rcpt_state rs = smtpc_result_state(smtpc_client_last_result(f->client), 0);
    assert_int_equal(rs, st == SMTPC_EDELIVERY_UNKNOWN ? SMTPC_RCPT_UNKNOWN : SMTPC_RCPT_ACCEPTED);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA "x\r\n.\r\n");
}

/*
 * The server accepts DATA, then stops reading (its receive window closes). A 16 MiB message cannot
 * be written: SMTPC_ETIMEOUT about the command timeout after the write stalls (per block), no hang.
 */
static void test_server_stops_reading_during_data(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_stop_reading(f, 20.0);
    f->extra_args[0] = "--rcvbuf";
    f->extra_args[1] = "4096";
    fault_start(f);
    fault_client(f, 5000, 1000);
    fault_envelope(f, "r1@example.org", NULL);
    size_t size = 16u << 20;
    f->msg = malloc(size);
    assert_non_null(f->msg);
    for (size_t i = 0; i < size; i++) {
        f->msg[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : 'm';
    }
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, f->msg, size), SMTPC_ETIMEOUT);
    long long ms = fault_elapsed_ms(f);
    /* Each block gets a fresh deadline, so the clock starts at the block that stalls, after the
     * client has filled its socket buffer (megabytes of encoding: slow under sanitizers and load).
     * A client that hangs would only return when the server gives up after 20 s. */
    if (ms >= 1000 + 3 * SLACK_MS) {
        fail_msg("sendmail returned after %lld ms; the stalled write should have timed out after 1000 ms",
                 ms);
    }
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    smtpc_rcpt_state rs = smtpc_result_state(smtpc_client_last_result(f->client), 0);
    assert_int_not_equal(rs, SMTPC_RCPT_DELIVERED);
    assert_int_not_equal(rs, SMTPC_RCPT_UNKNOWN);
    /* The server is still asleep in stop_reading: stop it; the transcript holds the commands. */
    fault_finish(f, 1);
    static const char cmds[] = W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA;
    fault_assert_transcript(f, cmds, sizeof cmds - 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fault_setup, fault_teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_slow_greeting_within_deadline),
        T(test_trickled_greeting_times_out),
        T(test_trickled_reply_absolute_deadline),
        T(test_trickled_multiline_absolute_deadline),
        T(test_no_ehlo_reply),
        T(test_no_greeting),
        T(test_no_reply_after_final_dot),
        T(test_server_stops_reading_during_data),
    };
    return cmocka_run_group_tests_name("fault_slow", tests, NULL, NULL);
}
