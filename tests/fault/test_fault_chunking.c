/* SPDX-License-Identifier: MIT */
/*
 * Fault tests: CHUNKING / BDAT (RFC 3030) against a scripted server that offers it.
 *
 * The exact bytes the server received are checked: BDAT counts, LAST, the message without
 * dot-stuffing and with every line end CRLF, no more chunks after a refusal, RSET; and the outcome
 * when the server refuses, closes after a refusal, or the connection is lost before or after
 * "BDAT ... LAST" was written.
 */
#include "fault_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPL_EHLO_CHUNK "250-fault.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n"
#define RPL_EHLO_CHUNK_LOCKSTEP "250-fault.test\r\n250-CHUNKING\r\n250 8BITMIME\r\n"

#define S_MAIL W_MAIL("s@example.org")
#define S_R1 W_RCPT("r1@example.org")
#define S_R2 W_RCPT("r2@example.org")

/* A bare LF, a line starting with '.', a lone ".": sent as they are (no dot-stuffing), LF made CRLF,
 * the final CRLF added. */
#define MSG "Subject: t\n\n.dot\r\n.\r\nend"
#define MSG_WIRE "Subject: t\r\n\r\n.dot\r\n.\r\nend\r\n"
#define MSG_BDAT "BDAT 28 LAST\r\n" MSG_WIRE

/* 1300 lines of 78 bytes: a first chunk of 65536 bytes (the driver's block), then 35864. */
#define BIG_LINES 1300
#define BIG_LEN (BIG_LINES * 78)

static void sc_hello_chunking(fault_fixture *f, int pipelining) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, pipelining ? RPL_EHLO_CHUNK : RPL_EHLO_CHUNK_LOCKSTEP);
}

static smtpc_status start_and_send(fault_fixture *f, const char *msg, size_t len) {
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", "r2@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    return smtpc_client_sendmail(f->client, f->env, msg, len);
}

static char *big_message(fault_fixture *f) {
    f->msg = malloc(BIG_LEN + 1);
    assert_non_null(f->msg);
    for (int i = 0; i < BIG_LINES; i++) {
        memset(f->msg + i * 78, 'a' + i % 26, 76);
        memcpy(f->msg + i * 78 + 76, "\r\n", 2);
    }
    f->msg[BIG_LEN] = '\0';
    return f->msg;
}

static void assert_state(const fault_fixture *f, size_t i, smtpc_rcpt_state want) {
    smtpc_rcpt_state got = smtpc_result_state(smtpc_client_last_result(f->client), i);
    if (got != want) {
        fail_msg("recipient %zu: state %d, expected %d", i, (int)got, (int)want);
    }
}

/* The server received `head`, then `body` (len bytes), then `tail`. */
static void assert_wire3(fault_fixture *f, const char *head, const char *body, size_t len, const char *tail) {
    size_t h = strlen(head), t = strlen(tail);
    f->expect = malloc(h + len + t + 1);
    assert_non_null(f->expect);
    memcpy(f->expect, head, h);
    memcpy(f->expect + h, body, len);
    memcpy(f->expect + h + len, tail, t + 1);
    fault_assert_transcript(f, f->expect, h + len + t);
}

/* MAIL, the RCPTs and the whole message in one BDAT LAST, then QUIT on the same connection. */
static void test_pipelined_transcript(void **state) {
    fault_fixture *f = *state;
    sc_hello_chunking(f, 1);
    sc_expect(f, "MAIL ");
    sc_expect(f, "RCPT ");
    sc_expect(f, "RCPT ");
    sc_expect(f, "BDAT 28 LAST");
    sc_read_bytes(f, 28);
    sc_send(f, RPL_OK RPL_OK "550 5.1.1 r2 unknown\r\n250 2.0.0 queued as C1\r\n");
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    ASSERT_STATUS(f, start_and_send(f, MSG, SMTPC_NTS), SMTPC_OK);
    fault_assert_reply(smtpc_client_last_reply(f->client), 250, "2.0.0 queued as C1");
    assert_state(f, 0, SMTPC_RCPT_DELIVERED);
    assert_state(f, 1, SMTPC_RCPT_REFUSED);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO S_MAIL S_R1 S_R2 MSG_BDAT W_QUIT);
}

/* An empty message: BDAT 0 LAST. */
static void test_empty_message(void **state) {
    fault_fixture *f = *state;
    sc_hello_chunking(f, 1);
    sc_expect_lines(f, 4);
    sc_send(f, RPL_OK RPL_OK RPL_OK RPL_OK);
    ASSERT_STATUS(f, start_and_send(f, "", 0), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO S_MAIL S_R1 S_R2 "BDAT 0 LAST\r\n");
}

/* smtpc_client_set_chunking(0): DATA, dot-stuffed, as before. */
static void test_chunking_off(void **state) {
    fault_fixture *f = *state;
    sc_hello_chunking(f, 1);
    sc_expect_lines(f, 4);
    sc_send(f, RPL_OK RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, smtpc_client_set_chunking(f->client, 0), SMTPC_OK);
    fault_envelope(f, "r1@example.org", "r2@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f,
                            W_EHLO S_MAIL S_R1 S_R2 W_DATA "Subject: t\r\n\r\n..dot\r\n..\r\nend\r\n.\r\n");
}

/* Without PIPELINING: a message of two chunks, each answered before the next command. */
static void test_lockstep_two_chunks(void **state) {
    fault_fixture *f = *state;
    sc_hello_chunking(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "BDAT 65536\r");
    sc_read_bytes(f, 65536);
    sc_send(f, "250 2.0.0 65536 octets\r\n");
    sc_expect(f, "BDAT 35864 LAST\r");
    sc_read_bytes(f, 35864);
    sc_send(f, "250 2.0.0 queued\r\n");
    char *msg = big_message(f);
    ASSERT_STATUS(f, start_and_send(f, msg, BIG_LEN), SMTPC_OK);
    assert_state(f, 0, SMTPC_RCPT_DELIVERED);
    assert_state(f, 1, SMTPC_RCPT_DELIVERED);
    assert_int_equal(fault_finish(f, 0), 0);
    char mid[64];
    snprintf(mid, sizeof mid, "BDAT 35864 LAST\r\n");
    size_t h = strlen(W_EHLO S_MAIL S_R1 S_R2 "BDAT 65536\r\n");
    assert_true(f->transcript_len == h + 65536 + strlen(mid) + 35864);
    assert_memory_equal(f->transcript, W_EHLO S_MAIL S_R1 S_R2 "BDAT 65536\r\n", h);
    assert_memory_equal(f->transcript + h, msg, 65536);
    assert_memory_equal(f->transcript + h + 65536, mid, strlen(mid));
    assert_memory_equal(f->transcript + h + 65536 + strlen(mid), msg + 65536, 35864);
}

/* A refused chunk: no further chunk, RSET, SMTPC_EDATA_REFUSED, the connection kept. */
static void test_chunk_refused(void **state) {
    fault_fixture *f = *state;
    sc_hello_chunking(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "BDAT 65536\r");
    sc_read_bytes(f, 65536);
    sc_send(f, "552 5.3.4 message too big\r\n");
    sc_expect(f, "RSET");
    sc_send(f, RPL_OK);
    char *msg = big_message(f);
    ASSERT_STATUS(f, start_and_send(f, msg, BIG_LEN), SMTPC_EDATA_REFUSED);
    assert_string_equal(smtpc_client_errmsg(f->client), "BDAT refused: 552 5.3.4 message too big");
    fault_assert_reply(smtpc_client_last_reply(f->client), 552, "5.3.4 message too big");
    assert_int_equal(smtpc_client_is_connected(f->client), 1);
    assert_state(f, 0, SMTPC_RCPT_FAILED);
    assert_state(f, 1, SMTPC_RCPT_FAILED);
    assert_int_equal(fault_finish(f, 0), 0);
    assert_wire3(f, W_EHLO S_MAIL S_R1 S_R2 "BDAT 65536\r\n", msg, 65536, W_RSET);
}

/* Pipelined: the last chunk refused, then the server closes (Exim's "drop"): the refusal stands. */
static void test_last_refused_then_close(void **state) {
    fault_fixture *f = *state;
    sc_hello_chunking(f, 1);
    sc_expect_lines(f, 4);
    sc_read_bytes(f, 28);
    sc_send(f, RPL_OK RPL_OK RPL_OK "554 5.7.1 spam\r\n");
    sc_shutdown_write(f);
    sc_expect_eof(f, 5.0);
    ASSERT_STATUS(f, start_and_send(f, MSG, SMTPC_NTS), SMTPC_EDATA_REFUSED);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    fault_assert_reply(smtpc_client_last_reply(f->client), 554, "5.7.1 spam");
    if (strstr(smtpc_client_errmsg(f->client), "the server closed the connection after refusing") == NULL) {
        fail_msg("errmsg: %s", smtpc_client_errmsg(f->client));
    }
    assert_state(f, 0, SMTPC_RCPT_FAILED);
    assert_state(f, 1, SMTPC_RCPT_FAILED);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO S_MAIL S_R1 S_R2 MSG_BDAT W_RSET);
}

/* The connection lost once BDAT LAST and its chunk were written: delivery unknown. */
static void test_lost_after_last(void **state) {
    fault_fixture *f = *state;
    sc_hello_chunking(f, 1);
    sc_expect_lines(f, 4);
    sc_read_bytes(f, 28);
    sc_send(f, RPL_OK RPL_OK RPL_OK);
    sc_close(f);
    ASSERT_STATUS(f, start_and_send(f, MSG, SMTPC_NTS), SMTPC_EDELIVERY_UNKNOWN);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_state(f, 0, SMTPC_RCPT_UNKNOWN);
    assert_state(f, 1, SMTPC_RCPT_UNKNOWN);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO S_MAIL S_R1 S_R2 MSG_BDAT);
}

/* The connection lost after a chunk that was not the last: not delivered (EDISCONNECTED). */
static void test_lost_before_last(void **state) {
    fault_fixture *f = *state;
    sc_hello_chunking(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "BDAT 65536\r");
    sc_read_bytes(f, 65536);
    sc_close(f);
    char *msg = big_message(f);
    ASSERT_STATUS(f, start_and_send(f, msg, BIG_LEN), SMTPC_EDISCONNECTED);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_state(f, 0, SMTPC_RCPT_ACCEPTED);
    assert_state(f, 1, SMTPC_RCPT_ACCEPTED);
    assert_int_equal(fault_finish(f, 0), 0);
    assert_wire3(f, W_EHLO S_MAIL S_R1 S_R2 "BDAT 65536\r\n", msg, 65536, "");
}

/* LMTP: one reply per accepted recipient after BDAT LAST. */
static void test_lmtp(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "LHLO ");
    sc_send(f, RPL_EHLO_CHUNK);
    sc_expect_lines(f, 4);
    sc_read_bytes(f, 28);
    sc_send(f, RPL_OK RPL_OK RPL_OK "250 2.1.5 r1 delivered\r\n452 4.2.2 r2 over quota\r\n");
    fault_start(f);
    assert_int_equal(smtpc_client_new(&f->client, SMTPC_PROTOCOL_LMTP), SMTPC_OK);
    assert_int_equal(smtpc_client_set_local_hostname(f->client, FAULT_HELO_NAME, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_set_command_timeout(f->client, 5000), SMTPC_OK);
    fault_envelope(f, "r1@example.org", "r2@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_OK);
    assert_state(f, 0, SMTPC_RCPT_DELIVERED);
    assert_state(f, 1, SMTPC_RCPT_FAILED);
    fault_assert_reply(smtpc_result_data_reply(smtpc_client_last_result(f->client), 1), 452,
                       "4.2.2 r2 over quota");
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "LHLO " FAULT_HELO_NAME "\r\n" S_MAIL S_R1 S_R2 MSG_BDAT);
}

#define T(name) cmocka_unit_test_setup_teardown(test_##name, fault_setup, fault_teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(pipelined_transcript), T(empty_message),    T(chunking_off),
        T(lockstep_two_chunks),  T(chunk_refused),    T(last_refused_then_close),
        T(lost_after_last),      T(lost_before_last), T(lmtp),
    };
    return cmocka_run_group_tests_name("fault_chunking", tests, NULL, NULL);
}
