/* SPDX-License-Identifier: MIT */
/*
 * Fault tests: the server closes the connection at every step of a session
 * (catalogue F.45, F.46, F.47, F.49).
 */
#include "fault_common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MSG "Subject: t\r\n\r\nhello\r\n"
#define MSG_WIRE MSG ".\r\n"

/* Disconnect cases never wait for a timeout: the client's timeouts are 5 s, these bound the call. */
#define FAST_MS 2000

static void assert_not_connected(const fault_fixture *f) {
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
}

static void assert_rcpt_state(const smtpc_client *c, size_t i, smtpc_rcpt_state want) {
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_non_null(res);
    smtpc_rcpt_state got = smtpc_result_state(res, i);
    if (got != want) {
        fail_msg("recipient %zu: state %d, expected %d", i, (int)got, (int)want);
    }
}

static void run_sendmail(fault_fixture *f, smtpc_status want) {
    fault_clock_start(f);
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS);
    long long ms = fault_elapsed_ms(f);
    ASSERT_STATUS(f, st, want);
    assert_int_equal(smtpc_client_last_status(f->client), want);
    assert_true(ms < FAST_MS);
}

/* The server closes before sending anything. */
static void test_close_before_greeting(void **state) {
    fault_fixture *f = *state;
    sc_close(f);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_clock_start(f);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_EDISCONNECTED);
    assert_true(fault_elapsed_ms(f) < FAST_MS);
    assert_not_connected(f);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
    /* The handle is still usable: a command now fails without sending anything. */
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ENOTCONN);
}

/* Half a greeting line, then close: a disconnection, not a protocol error. */
static void test_close_mid_greeting(void **state) {
    fault_fixture *f = *state;
    sc_send(f, "220 fault.te");
    sc_close(f);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_clock_start(f);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_EDISCONNECTED);
    assert_true(fault_elapsed_ms(f) < FAST_MS);
    assert_not_connected(f);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

/* Exactly the three bytes of a code, then end of file (no over-read, curl CVE-2019-3823). */
static void test_close_after_bare_code(void **state) {
    fault_fixture *f = *state;
    sc_send(f, "220");
    sc_close(f);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_EDISCONNECTED);
    assert_not_connected(f);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

/* The first line of a multiline greeting, then close. */
static void test_close_mid_multiline_greeting(void **state) {
    fault_fixture *f = *state;
    sc_send(f, "220-fault.test\r\n");
    sc_close(f);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_EDISCONNECTED);
    assert_not_connected(f);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

/* The server reads EHLO and closes without answering. */
static void test_close_after_ehlo_sent(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_close(f);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_EDISCONNECTED);
    assert_true(fault_elapsed_ms(f) < FAST_MS);
    assert_not_connected(f);
    assert_int_equal(smtpc_client_does_esmtp(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
    /* Nothing more is sent on a closed handle. */
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ENOTCONN);
}

/* EHLO answered, then the server reads MAIL and closes. */
static void test_close_after_mail_sent(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_close(f);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", "r2@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    run_sendmail(f, SMTPC_EDISCONNECTED);
    assert_not_connected(f);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_non_null(res);
    assert_int_equal(smtpc_result_count(res), 2);
    assert_null(smtpc_result_mail_reply(res));
    assert_rcpt_state(f->client, 0, SMTPC_RCPT_NOT_ATTEMPTED);
    assert_rcpt_state(f->client, 1, SMTPC_RCPT_NOT_ATTEMPTED);
    assert_int_equal(smtpc_result_delivered_count(res), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org"));
}

/* MAIL accepted, then the server reads the first RCPT and closes (no pipelining). */
static void test_close_after_rcpt_sent(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_close(f);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", "r2@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    run_sendmail(f, SMTPC_EDISCONNECTED);
    assert_not_connected(f);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    fault_assert_reply(smtpc_result_mail_reply(res), 250, NULL);
    assert_rcpt_state(f->client, 0, SMTPC_RCPT_NOT_ATTEMPTED);
    assert_rcpt_state(f->client, 1, SMTPC_RCPT_NOT_ATTEMPTED);
    assert_null(smtpc_result_rcpt_reply(res, 0));
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org"));
}

/*
 * PIPELINING: MAIL, three RCPT and DATA arrive in one batch; the server answers MAIL and the first
 * k RCPT, then closes. Recipients answered are accepted (message not sent), the rest not attempted.
 */
static void close_after_kth_rcpt(fault_fixture *f, int k) {
    sc_hello(f, 1);
    sc_expect(f, "MAIL ");
    sc_expect(f, "RCPT ");
    sc_expect(f, "RCPT ");
    sc_expect(f, "RCPT ");
    sc_expect(f, "DATA");
    sc_send(f, RPL_OK);
    for (int i = 0; i < k; i++) {
        sc_send(f, "250 2.1.5 rcpt ok\r\n");
    }
    sc_close(f);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", "r2@example.org", "r3@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    run_sendmail(f, SMTPC_EDISCONNECTED);
    assert_not_connected(f);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_non_null(res);
    assert_int_equal(smtpc_result_count(res), 3);
    fault_assert_reply(smtpc_result_mail_reply(res), 250, NULL);
    for (int i = 0; i < 3; i++) {
        if (i < k) {
            assert_rcpt_state(f->client, (size_t)i, SMTPC_RCPT_ACCEPTED);
            fault_assert_reply(smtpc_result_rcpt_reply(res, (size_t)i), 250, "2.1.5 rcpt ok");
        } else {
            assert_rcpt_state(f->client, (size_t)i, SMTPC_RCPT_NOT_ATTEMPTED);
            assert_null(smtpc_result_rcpt_reply(res, (size_t)i));
        }
    }
    assert_int_equal(smtpc_result_delivered_count(res), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org")
                                   W_RCPT("r2@example.org") W_RCPT("r3@example.org") W_DATA);
}

static void test_pipelined_close_after_mail_reply(void **state) { close_after_kth_rcpt(*state, 0); }

static void test_pipelined_close_after_rcpt_1(void **state) { close_after_kth_rcpt(*state, 1); }

static void test_pipelined_close_after_rcpt_2(void **state) { close_after_kth_rcpt(*state, 2); }

/* All three RCPT answered, DATA not: still nothing sent of the message. */
static void test_pipelined_close_before_data_reply(void **state) { close_after_kth_rcpt(*state, 3); }

/* The server reads DATA and closes before its reply (no pipelining). */
static void test_close_after_data_sent(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_close(f);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    run_sendmail(f, SMTPC_EDISCONNECTED);
    assert_not_connected(f);
    assert_rcpt_state(f->client, 0, SMTPC_RCPT_ACCEPTED);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA);
}

/* A message of `size` bytes that the encoder leaves as it is (CRLF lines, no leading dot). */
static char *plain_message(size_t size) {
    char *m = malloc(size + 1);
    assert_non_null(m);
    static const char line[] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd\r\n";
    for (size_t i = 0; i < size; i++) {
        m[i] = line[i % (sizeof line - 1)];
    }
    size -= size % (sizeof line - 1);
    m[size] = '\0';
    return m;
}

/*
 * 354, then the server reads the first 64 KiB of a 16 MiB message and closes while the client is
 * still writing (the unread data turns the close into a reset). A connection error, nothing
 * reported as delivered or unknown: the message was never completely sent.
 */
static void test_close_while_body_sent(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_bytes(f, 65536);
    sc_close(f);
    /* A fixed, small receive buffer: with autotuning (up to tcp_rmem max) the server's kernel could
     * take in the whole message before the close, and then it was in fact sent. */
    f->extra_args[0] = "--rcvbuf";
    f->extra_args[1] = "65536";
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    f->msg = plain_message(16u << 20);
    size_t len = strlen(f->msg);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, f->msg, len);
    long long ms = fault_elapsed_ms(f);
    if (st != SMTPC_EIO && st != SMTPC_EDISCONNECTED) {
        fail_msg("sendmail returned %s, expected SMTPC_EIO or SMTPC_EDISCONNECTED (errmsg \"%s\")",
                 smtpc_status_name(st), smtpc_client_errmsg(f->client));
    }
    if (st == SMTPC_EIO) {
        int e = smtpc_client_os_error(f->client);
        if (e != EPIPE && e != ECONNRESET) {
            fail_msg("os_error %d (%s), expected EPIPE or ECONNRESET", e, strerror(e));
        }
    }
    assert_true(ms < 4000);
    assert_not_connected(f);
    assert_rcpt_state(f->client, 0, SMTPC_RCPT_ACCEPTED);
    assert_int_equal(smtpc_result_delivered_count(smtpc_client_last_result(f->client)), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    static const char cmds[] = W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA;
    fault_assert_transcript_prefix(f, cmds, sizeof cmds - 1, f->msg, len);
    assert_true(f->transcript_len >= sizeof cmds - 1 + 65536);
}

/*
 * The whole message and its final dot were sent; the server closes before its reply: the message
 * may or may not have been delivered (F.46).
 */
static void delivery_unknown(fault_fixture *f, int pipelining) {
    sc_hello(f, pipelining);
    if (pipelining) {
        sc_expect(f, "MAIL ");
        sc_expect(f, "RCPT ");
        sc_expect(f, "RCPT ");
        sc_expect(f, "DATA");
        sc_send(f, RPL_OK RPL_OK RPL_OK RPL_354);
    } else {
        sc_expect(f, "MAIL ");
        sc_send(f, RPL_OK);
        sc_expect(f, "RCPT ");
        sc_send(f, RPL_OK);
        sc_expect(f, "RCPT ");
        sc_send(f, RPL_OK);
        sc_expect(f, "DATA");
        sc_send(f, RPL_354);
    }
    sc_read_data(f);
    sc_close(f);
    fault_start(f);
    fault_client(f, 5000, 5000);
    if (!pipelining) {
        assert_int_equal(smtpc_client_set_pipelining(f->client, 0), SMTPC_OK);
    }
    fault_envelope(f, "r1@example.org", "r2@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    run_sendmail(f, SMTPC_EDELIVERY_UNKNOWN);
    assert_not_connected(f);
    assert_rcpt_state(f->client, 0, SMTPC_RCPT_UNKNOWN);
    assert_rcpt_state(f->client, 1, SMTPC_RCPT_UNKNOWN);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_int_equal(smtpc_result_delivered_count(res), 0);
    assert_null(smtpc_result_data_reply(res, 0));
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org")
                                   W_RCPT("r2@example.org") W_DATA MSG_WIRE);
}

static void test_close_after_final_dot(void **state) { delivery_unknown(*state, 0); }

static void test_pipelined_close_after_final_dot(void **state) { delivery_unknown(*state, 1); }

/* The same through smtpc_client_data(). */
static void test_data_close_after_final_dot(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_close(f);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_data(f->client, MSG, SMTPC_NTS), SMTPC_EDELIVERY_UNKNOWN);
    assert_not_connected(f);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_DATA MSG_WIRE);
}

/*
 * Half-close: after 354 the server shuts down its sending side and keeps reading. The body is sent
 * in full, then the wait for the final reply meets end of file (F.49).
 */
static void test_shutdown_write_after_354(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_shutdown_write(f);
    sc_read_data(f);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    run_sendmail(f, SMTPC_EDELIVERY_UNKNOWN);
    assert_not_connected(f);
    assert_rcpt_state(f->client, 0, SMTPC_RCPT_UNKNOWN);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA MSG_WIRE);
}

/* 250 to the final dot, then the server closes before answering QUIT: the mail was sent (F.47). */
static void quit_after_delivery(fault_fixture *f, int rst) {
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, "250 2.0.0 queued as 1234\r\n");
    sc_expect(f, "QUIT");
    if (rst) {
        sc_rst(f);
    } else {
        sc_close(f);
    }
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    run_sendmail(f, SMTPC_OK);
    fault_assert_reply(smtpc_client_last_reply(f->client), 250, "2.0.0 queued as 1234");
    assert_rcpt_state(f->client, 0, SMTPC_RCPT_DELIVERED);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_int_equal(smtpc_result_delivered_count(res), 1);
    fault_assert_reply(smtpc_result_data_reply(res, 0), 250, "2.0.0 queued as 1234");
    assert_int_equal(smtpc_client_is_connected(f->client), 1);

    smtpc_status st = smtpc_client_quit(f->client);
    if (rst ? (st != SMTPC_EDISCONNECTED && st != SMTPC_EIO) : st != SMTPC_EDISCONNECTED) {
        fail_msg("quit returned %s, expected SMTPC_EDISCONNECTED%s", smtpc_status_name(st),
                 rst ? " or SMTPC_EIO" : "");
    }
    assert_not_connected(f);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f,
                            W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA MSG_WIRE W_QUIT);
}

static void test_close_before_quit_reply(void **state) { quit_after_delivery(*state, 0); }

static void test_rst_before_quit_reply(void **state) { quit_after_delivery(*state, 1); }

/* The EHLO reply (no STARTTLS), then a reset. The peer is loopback, so the default policy is
 * opportunistic and the message would go in plaintext: the reset is what the caller hears. The kind
 * of peer is decided once at connect; asked of the socket after the reset (getpeername fails), a
 * loopback peer looked remote and the call failed with "TLS is required". */
static void test_rst_after_ehlo_reply_keeps_loopback_policy(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send_then_rst(f, RPL_EHLO_PIPE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_envelope(f, "r1@example.org", NULL);
    fault_clock_start(f);
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS);
    assert_true(fault_elapsed_ms(f) < FAST_MS);
    if (st != SMTPC_EDISCONNECTED && st != SMTPC_EIO) {
        fail_msg("sendmail: %s (%s), expected SMTPC_EDISCONNECTED or SMTPC_EIO", smtpc_status_name(st),
                 smtpc_client_errmsg(f->client));
    }
    assert_not_connected(f);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fault_setup, fault_teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_close_before_greeting),
        T(test_close_mid_greeting),
        T(test_close_after_bare_code),
        T(test_close_mid_multiline_greeting),
        T(test_close_after_ehlo_sent),
        T(test_close_after_mail_sent),
        T(test_close_after_rcpt_sent),
        T(test_pipelined_close_after_mail_reply),
        T(test_pipelined_close_after_rcpt_1),
        T(test_pipelined_close_after_rcpt_2),
        T(test_pipelined_close_before_data_reply),
        T(test_close_after_data_sent),
        T(test_close_while_body_sent),
        T(test_close_after_final_dot),
        T(test_pipelined_close_after_final_dot),
        T(test_data_close_after_final_dot),
        T(test_shutdown_write_after_354),
        T(test_close_before_quit_reply),
        T(test_rst_before_quit_reply),
        T(test_rst_after_ehlo_reply_keeps_loopback_policy),
    };
    return cmocka_run_group_tests_name("fault_disconnect", tests, NULL, NULL);
}
