/* SPDX-License-Identifier: MIT */
/*
 * Fault tests: a refusal followed by a close (issue 8, item 1), and an accepted message followed by
 * data out of turn (item 5).
 *
 * Exim's "drop" ACL and many anti-spam front ends answer MAIL, RCPT, DATA or the end of the message
 * with 4xx/5xx and close at once. Every reply that came before the close is processed first; once the
 * transaction's outcome is decided (sender refused, every recipient refused, DATA or the message
 * refused) a close while the client waits for the RSET reply or the rest of a pipelined batch ends the
 * call with that outcome, the reply kept, and the connection closed.
 *
 * Each step is played three ways:
 *   HALF   the server sends the refusal, shuts its sending side (FIN) and keeps reading, so the
 *          transcript shows exactly what the client sent afterwards (RSET);
 *   CLOSE  the server sends the refusal and closes (what Exim does): the client's RSET may or may not
 *          reach it before the close, so the transcript may end with a part of it;
 *   RST    the server sends the refusal and resets the connection: the client's next write fails
 *          with EPIPE/ECONNRESET, nothing after the refused command reaches the server.
 */
#include "fault_common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSG "Subject: t\r\n\r\nhello\r\n"
#define MSG_WIRE MSG ".\r\n"
#define FAST_MS 3000

#define W_LHLO "LHLO " FAULT_HELO_NAME "\r\n"
#define S_MAIL W_MAIL("s@example.org")
#define S_R1 W_RCPT("r1@example.org")
#define S_R2 W_RCPT("r2@example.org")
#define S_BATCH S_MAIL S_R1 S_R2 W_DATA

#define AFTER_REFUSING "the server closed the connection after refusing"

enum how { HALF, CLOSE, RST };

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The server sends `bytes` (ending with the refusal), then closes as `how` says. */
static void sc_refuse(fault_fixture *f, const char *bytes, enum how how) {
    switch (how) {
    case HALF:
        sc_send(f, bytes);
        sc_shutdown_write(f);
        sc_expect_eof(f, 5.0);
        break;
    case CLOSE: sc_send_then_close(f, bytes); break;
    case RST: sc_send_then_rst(f, bytes); break;
    }
}

/* The server received `cmds`, then `after` (what the client sends once it has the refusal) as far as
 * the close let it arrive. */
static void assert_wire(fault_fixture *f, const char *cmds, const char *after, enum how how) {
    assert_int_equal(fault_finish(f, 0), 0);
    if (how == HALF) {
        size_t n = strlen(cmds), m = strlen(after);
        f->expect = malloc(n + m + 1);
        assert_non_null(f->expect);
        memcpy(f->expect, cmds, n);
        memcpy(f->expect + n, after, m + 1);
        fault_assert_transcript(f, f->expect, n + m);
    } else if (how == CLOSE) {
        fault_assert_transcript_prefix(f, cmds, strlen(cmds), after, strlen(after));
    } else {
        fault_assert_transcript(f, cmds, strlen(cmds));
    }
}

static void assert_rcpt(const fault_fixture *f, size_t i, smtpc_rcpt_state want, int rcpt_code,
                        int data_code) {
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_non_null(res);
    smtpc_rcpt_state got = smtpc_result_state(res, i);
    if (got != want) {
        fail_msg("recipient %zu: state %d, expected %d", i, (int)got, (int)want);
    }
    if (rcpt_code == 0) {
        assert_null(smtpc_result_rcpt_reply(res, i));
    } else {
        fault_assert_reply(smtpc_result_rcpt_reply(res, i), rcpt_code, NULL);
    }
    if (data_code == 0) {
        assert_null(smtpc_result_data_reply(res, i));
    } else {
        fault_assert_reply(smtpc_result_data_reply(res, i), data_code, NULL);
    }
}

static void assert_errmsg_has(const fault_fixture *f, const char *part) {
    const char *msg = smtpc_client_errmsg(f->client);
    if (strstr(msg, part) == NULL) {
        fail_msg("errmsg \"%s\" does not say \"%s\"", msg, part);
    }
}

/* The call returned `want` with `code text` kept as the last reply, the connection closed, and the
 * message saying that the server closed after refusing. */
static void assert_refused_closed(const fault_fixture *f, smtpc_status st, smtpc_status want, int code,
                                  const char *text) {
    ASSERT_STATUS(f, st, want);
    assert_int_equal(smtpc_client_last_status(f->client), want);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    fault_assert_reply(smtpc_client_last_reply(f->client), code, text);
    assert_errmsg_has(f, AFTER_REFUSING);
}

static smtpc_client *lmtp_client(fault_fixture *f) {
    assert_null(f->client);
    assert_int_equal(smtpc_client_new(&f->client, SMTPC_PROTOCOL_LMTP), SMTPC_OK);
    assert_int_equal(smtpc_client_set_local_hostname(f->client, FAULT_HELO_NAME, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_set_connect_timeout(f->client, 5000), SMTPC_OK);
    assert_int_equal(smtpc_client_set_command_timeout(f->client, 5000), SMTPC_OK);
    return f->client;
}

/* Start the server, connect an SMTP client (LMTP when lmtp) and run sendmail to r1 and r2. */
static smtpc_status run_sendmail(fault_fixture *f, int lmtp) {
    fault_start(f);
    if (lmtp) {
        lmtp_client(f);
    } else {
        fault_client(f, 5000, 5000);
    }
    fault_envelope(f, "r1@example.org", "r2@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS);
    if (fault_elapsed_ms(f) >= FAST_MS) {
        fail_msg("sendmail took %lld ms: it waited for a deadline", fault_elapsed_ms(f));
    }
    return st;
}

static void sc_batch(fault_fixture *f) {
    sc_expect(f, "MAIL ");
    sc_expect(f, "RCPT ");
    sc_expect(f, "RCPT ");
    sc_expect(f, "DATA");
}

/* ---- MAIL ---------------------------------------------------------------------------------------- */

/* One command at a time: MAIL refused, RSET sent into the closed connection. */
static void mail_lockstep(fault_fixture *f, enum how how) {
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_refuse(f, "550 5.7.1 sender blocked\r\n", how);
    smtpc_status st = run_sendmail(f, 0);
    assert_refused_closed(f, st, SMTPC_ESENDER_REFUSED, 550, "5.7.1 sender blocked");
    fault_assert_reply(smtpc_result_mail_reply(smtpc_client_last_result(f->client)), 550,
                       "5.7.1 sender blocked");
    assert_rcpt(f, 0, SMTPC_RCPT_NOT_ATTEMPTED, 0, 0);
    assert_rcpt(f, 1, SMTPC_RCPT_NOT_ATTEMPTED, 0, 0);
    assert_wire(f, W_EHLO S_MAIL, W_RSET, how);
}

/* Pipelined: MAIL refused and the rest of the batch never answered. No RSET: the batch is open. */
static void mail_pipelined(fault_fixture *f, enum how how) {
    sc_hello(f, 1);
    sc_batch(f);
    sc_refuse(f, "550 5.7.1 sender blocked\r\n", how);
    smtpc_status st = run_sendmail(f, 0);
    assert_refused_closed(f, st, SMTPC_ESENDER_REFUSED, 550, "5.7.1 sender blocked");
    assert_rcpt(f, 0, SMTPC_RCPT_NOT_ATTEMPTED, 0, 0);
    assert_rcpt(f, 1, SMTPC_RCPT_NOT_ATTEMPTED, 0, 0);
    assert_wire(f, W_EHLO S_BATCH, "", how);
}

/* Pipelined: the whole batch answered (MAIL refused, the rest 503), then the close. */
static void mail_pipelined_answered(fault_fixture *f, enum how how) {
    sc_hello(f, 1);
    sc_batch(f);
    sc_refuse(f,
              "550 5.7.1 sender blocked\r\n503 5.5.1 MAIL first\r\n503 5.5.1 MAIL first\r\n"
              "503 5.5.1 MAIL first\r\n",
              how);
    smtpc_status st = run_sendmail(f, 0);
    assert_refused_closed(f, st, SMTPC_ESENDER_REFUSED, 550, "5.7.1 sender blocked");
    assert_rcpt(f, 0, SMTPC_RCPT_REFUSED, 503, 0);
    assert_rcpt(f, 1, SMTPC_RCPT_REFUSED, 503, 0);
    assert_wire(f, W_EHLO S_BATCH, W_RSET, how);
}

/* ---- RCPT ---------------------------------------------------------------------------------------- */

/* One at a time: both recipients refused, the second refusal followed by the close. */
static void rcpt_lockstep_last(fault_fixture *f, enum how how) {
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, "550 5.1.1 r1 unknown\r\n");
    sc_expect(f, "RCPT ");
    sc_refuse(f, "550 5.1.1 r2 unknown\r\n", how);
    smtpc_status st = run_sendmail(f, 0);
    assert_refused_closed(f, st, SMTPC_ERECIPIENTS_REFUSED, 550, "5.1.1 r2 unknown");
    assert_rcpt(f, 0, SMTPC_RCPT_REFUSED, 550, 0);
    assert_rcpt(f, 1, SMTPC_RCPT_REFUSED, 550, 0);
    assert_wire(f, W_EHLO S_MAIL S_R1 S_R2, W_RSET, how);
}

/*
 * One at a time: the first recipient refused and the close. Nothing is decided (the second recipient
 * was never asked for), so this is a disconnection, as with smtplib; the refusal is in the result.
 */
static void rcpt_lockstep_first(fault_fixture *f, enum how how) {
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_refuse(f, "550 5.1.1 r1 unknown\r\n", how);
    smtpc_status st = run_sendmail(f, 0);
    ASSERT_STATUS(f, st, SMTPC_EDISCONNECTED);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_rcpt(f, 0, SMTPC_RCPT_REFUSED, 550, 0);
    assert_rcpt(f, 1, SMTPC_RCPT_NOT_ATTEMPTED, 0, 0);
    assert_wire(f, W_EHLO S_MAIL S_R1, S_R2, how);
}

/* Pipelined: every recipient refused, the close comes before the reply to DATA. */
static void rcpt_pipelined(fault_fixture *f, enum how how) {
    sc_hello(f, 1);
    sc_batch(f);
    sc_refuse(f, RPL_OK "550 5.1.1 r1 unknown\r\n550 5.1.1 r2 unknown\r\n", how);
    smtpc_status st = run_sendmail(f, 0);
    assert_refused_closed(f, st, SMTPC_ERECIPIENTS_REFUSED, 550, "5.1.1 r2 unknown");
    assert_rcpt(f, 0, SMTPC_RCPT_REFUSED, 550, 0);
    assert_rcpt(f, 1, SMTPC_RCPT_REFUSED, 550, 0);
    assert_wire(f, W_EHLO S_BATCH, "", how);
}

/* ---- DATA ---------------------------------------------------------------------------------------- */

static void data_lockstep(fault_fixture *f, enum how how) {
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_refuse(f, "554 5.7.1 no thanks\r\n", how);
    smtpc_status st = run_sendmail(f, 0);
    assert_refused_closed(f, st, SMTPC_EDATA_REFUSED, 554, "5.7.1 no thanks");
    assert_rcpt(f, 0, SMTPC_RCPT_FAILED, 250, 554);
    assert_rcpt(f, 1, SMTPC_RCPT_FAILED, 250, 554);
    assert_wire(f, W_EHLO S_MAIL S_R1 S_R2 W_DATA, W_RSET, how);
}

static void data_pipelined(fault_fixture *f, enum how how) {
    sc_hello(f, 1);
    sc_batch(f);
    sc_refuse(f, RPL_OK RPL_OK RPL_OK "554 5.7.1 no thanks\r\n", how);
    smtpc_status st = run_sendmail(f, 0);
    assert_refused_closed(f, st, SMTPC_EDATA_REFUSED, 554, "5.7.1 no thanks");
    assert_rcpt(f, 0, SMTPC_RCPT_FAILED, 250, 554);
    assert_rcpt(f, 1, SMTPC_RCPT_FAILED, 250, 554);
    assert_wire(f, W_EHLO S_BATCH, W_RSET, how);
}

/* ---- End of data --------------------------------------------------------------------------------- */

static void final_lockstep(fault_fixture *f, enum how how) {
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_refuse(f, "554 5.7.1 spam\r\n", how);
    smtpc_status st = run_sendmail(f, 0);
    assert_refused_closed(f, st, SMTPC_EDATA_REFUSED, 554, "5.7.1 spam");
    assert_rcpt(f, 0, SMTPC_RCPT_FAILED, 250, 554);
    assert_rcpt(f, 1, SMTPC_RCPT_FAILED, 250, 554);
    assert_wire(f, W_EHLO S_MAIL S_R1 S_R2 W_DATA MSG_WIRE, W_RSET, how);
}

static void final_pipelined(fault_fixture *f, enum how how) {
    sc_hello(f, 1);
    sc_batch(f);
    sc_send(f, RPL_OK RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_refuse(f, "554 5.7.1 spam\r\n", how);
    smtpc_status st = run_sendmail(f, 0);
    assert_refused_closed(f, st, SMTPC_EDATA_REFUSED, 554, "5.7.1 spam");
    assert_rcpt(f, 0, SMTPC_RCPT_FAILED, 250, 554);
    assert_rcpt(f, 1, SMTPC_RCPT_FAILED, 250, 554);
    assert_wire(f, W_EHLO S_BATCH MSG_WIRE, W_RSET, how);
}

/* ---- LMTP ---------------------------------------------------------------------------------------- */

static void sc_lhlo(fault_fixture *f) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "LHLO ");
    sc_send(f, RPL_EHLO_PIPE);
}

/* LMTP, MAIL refused with the whole batch answered, then the close (RSET as in SMTP). */
static void lmtp_mail(fault_fixture *f, enum how how) {
    sc_lhlo(f);
    sc_batch(f);
    sc_refuse(f,
              "550 5.7.1 sender blocked\r\n503 5.5.1 MAIL first\r\n503 5.5.1 MAIL first\r\n"
              "503 5.5.1 MAIL first\r\n",
              how);
    smtpc_status st = run_sendmail(f, 1);
    assert_refused_closed(f, st, SMTPC_ESENDER_REFUSED, 550, "5.7.1 sender blocked");
    assert_rcpt(f, 0, SMTPC_RCPT_REFUSED, 503, 0);
    assert_rcpt(f, 1, SMTPC_RCPT_REFUSED, 503, 0);
    assert_wire(f, W_LHLO S_BATCH, W_RSET, how);
}

/* LMTP, DATA refused, then the close. */
static void lmtp_data(fault_fixture *f, enum how how) {
    sc_lhlo(f);
    sc_batch(f);
    sc_refuse(f, RPL_OK RPL_OK RPL_OK "554 5.7.1 no thanks\r\n", how);
    smtpc_status st = run_sendmail(f, 1);
    assert_refused_closed(f, st, SMTPC_EDATA_REFUSED, 554, "5.7.1 no thanks");
    assert_rcpt(f, 0, SMTPC_RCPT_FAILED, 250, 554);
    assert_rcpt(f, 1, SMTPC_RCPT_FAILED, 250, 554);
    assert_wire(f, W_LHLO S_BATCH, W_RSET, how);
}

/* LMTP, every recipient refused after the message, then the close: the last reply ends the
 * transaction (no RSET), each recipient keeps its own reply. */
static void lmtp_final(fault_fixture *f, enum how how) {
    sc_lhlo(f);
    sc_batch(f);
    sc_send(f, RPL_OK RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_refuse(f, "550 5.2.2 r1 over quota\r\n452 4.2.2 r2 mailbox full\r\n", how);
    smtpc_status st = run_sendmail(f, 1);
    ASSERT_STATUS(f, st, SMTPC_EDATA_REFUSED);
    fault_assert_reply(smtpc_client_last_reply(f->client), 452, "4.2.2 r2 mailbox full");
    assert_rcpt(f, 0, SMTPC_RCPT_FAILED, 250, 550);
    assert_rcpt(f, 1, SMTPC_RCPT_FAILED, 250, 452);
    /* The close is noticed by the next command, which sends nothing. */
    if (how == HALF) {
        sleep_ms(100); /* let the FIN that follows the replies arrive */
        ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_EDISCONNECTED);
    }
    assert_wire(f, W_LHLO S_BATCH MSG_WIRE, "", how);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), how == HALF ? SMTPC_ENOTCONN : SMTPC_EDISCONNECTED);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
}

/* ---- Low-level MAIL/RCPT/DATA -------------------------------------------------------------------- */

/*
 * The reply is the call's result; the close is noticed by the next call, which sends nothing. With
 * HALF the next call is made while the server still reads, so the transcript proves it sent nothing.
 */
static void next_call_disconnected(fault_fixture *f, const char *cmds, enum how how) {
    if (how != HALF) {
        assert_int_equal(fault_finish(f, 0), 0);
    } else {
        sleep_ms(100); /* let the FIN that follows the reply arrive */
    }
    ASSERT_STATUS(f, smtpc_client_rcpt(f->client, "r9@example.org", SMTPC_NTS, NULL, 0), SMTPC_EDISCONNECTED);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    if (how == HALF) {
        assert_int_equal(fault_finish(f, 0), 0);
    }
    fault_assert_transcript(f, cmds, strlen(cmds));
}

static void low_mail(fault_fixture *f, enum how how) {
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_refuse(f, "550 5.7.1 sender blocked\r\n", how);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_mail(f->client, "s@example.org", SMTPC_NTS, NULL, 0), SMTPC_EREPLY);
    fault_assert_reply(smtpc_client_last_reply(f->client), 550, "5.7.1 sender blocked");
    fault_assert_reply(smtpc_result_mail_reply(smtpc_client_last_result(f->client)), 550, NULL);
    next_call_disconnected(f, W_EHLO S_MAIL, how);
    fault_assert_reply(smtpc_client_last_reply(f->client), 550, "5.7.1 sender blocked");
}

static void low_rcpt(fault_fixture *f, enum how how) {
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_refuse(f, "550 5.1.1 r1 unknown\r\n", how);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_mail(f->client, "s@example.org", SMTPC_NTS, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_rcpt(f->client, "r1@example.org", SMTPC_NTS, NULL, 0), SMTPC_EREPLY);
    fault_assert_reply(smtpc_client_last_reply(f->client), 550, "5.1.1 r1 unknown");
    assert_rcpt(f, 0, SMTPC_RCPT_REFUSED, 550, 0);
    next_call_disconnected(f, W_EHLO S_MAIL S_R1, how);
}

static void low_data(fault_fixture *f, enum how how) {
    sc_hello(f, 0);
    sc_expect(f, "DATA");
    sc_refuse(f, "554 5.5.1 no valid recipients\r\n", how);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_data(f->client, MSG, SMTPC_NTS), SMTPC_EDATA_REFUSED);
    fault_assert_reply(smtpc_client_last_reply(f->client), 554, "5.5.1 no valid recipients");
    next_call_disconnected(f, W_EHLO W_DATA, how);
}

static void low_final(fault_fixture *f, enum how how) {
    sc_hello(f, 0);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_refuse(f, "554 5.7.1 spam\r\n", how);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_data(f->client, MSG, SMTPC_NTS), SMTPC_EREPLY);
    fault_assert_reply(smtpc_client_last_reply(f->client), 554, "5.7.1 spam");
    next_call_disconnected(f, W_EHLO W_DATA MSG_WIRE, how);
}

#define HOWS(name)                                                         \
    static void test_##name##_half(void **state) { name(*state, HALF); }   \
    static void test_##name##_close(void **state) { name(*state, CLOSE); } \
    static void test_##name##_rst(void **state) { name(*state, RST); }

HOWS(mail_lockstep)
HOWS(mail_pipelined)
HOWS(mail_pipelined_answered)
HOWS(rcpt_lockstep_last)
HOWS(rcpt_lockstep_first)
HOWS(rcpt_pipelined)
HOWS(data_lockstep)
HOWS(data_pipelined)
HOWS(final_lockstep)
HOWS(final_pipelined)
HOWS(lmtp_mail)
HOWS(lmtp_data)
HOWS(lmtp_final)
HOWS(low_mail)
HOWS(low_rcpt)
HOWS(low_data)
HOWS(low_final)

/* ---- Refused while the client is still writing the message ------------------------------------- */

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
 * After 354 the server reads 64 KiB of a 16 MiB message, refuses it (552, as a size limit does) and
 * closes. The client's write fails (EPIPE/ECONNRESET): the refusal that came first is still read
 * and reported, as the message's refusal. The message was not completely sent, so nothing else
 * goes out.
 */
static void refused_mid_body(fault_fixture *f, enum how how, int low_level) {
    sc_hello(f, 0);
    if (!low_level) {
        sc_expect(f, "MAIL ");
        sc_send(f, RPL_OK);
        sc_expect(f, "RCPT ");
        sc_send(f, RPL_OK);
    }
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_bytes(f, 65536);
    sc_refuse(f, "552 5.3.4 message too big\r\n", how);
    f->extra_args[0] = "--rcvbuf";
    f->extra_args[1] = "65536";
    fault_start(f);
    fault_client(f, 5000, 5000);
    f->msg = plain_message(16u << 20);
    size_t len = strlen(f->msg);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    smtpc_status st;
    if (low_level) {
        ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
        st = smtpc_client_data(f->client, f->msg, len);
        ASSERT_STATUS(f, st, SMTPC_EREPLY);
    } else {
        fault_envelope(f, "r1@example.org", NULL);
        st = smtpc_client_sendmail(f->client, f->env, f->msg, len);
        ASSERT_STATUS(f, st, SMTPC_EDATA_REFUSED);
        assert_rcpt(f, 0, SMTPC_RCPT_FAILED, 250, 552);
    }
    assert_true(fault_elapsed_ms(f) < 4000);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    fault_assert_reply(smtpc_client_last_reply(f->client), 552, "5.3.4 message too big");
    assert_errmsg_has(f, "before it was complete");
    assert_int_equal(fault_finish(f, 0), 0);
    static const char cmds[] = W_EHLO S_MAIL S_R1 W_DATA;
    const char *c = low_level ? W_EHLO W_DATA : cmds;
    fault_assert_transcript_prefix(f, c, strlen(c), f->msg, len);
    /* Not the whole message: the server cannot have taken it. */
    assert_true(f->transcript_len < strlen(c) + len);
}

static void test_mid_body_close(void **state) { refused_mid_body(*state, CLOSE, 0); }

static void test_mid_body_rst(void **state) { refused_mid_body(*state, RST, 0); }

static void test_mid_body_half(void **state) { refused_mid_body(*state, HALF, 0); }

static void test_mid_body_low_level_rst(void **state) { refused_mid_body(*state, RST, 1); }

/* ---- A reply waiting on an idle connection, then the close --------------------------------------- */

/*
 * After EHLO the connection is idle; the server sends `reply` and closes. The next call reads it,
 * keeps it as the last reply and sends nothing: 421 is SMTPC_ECLOSING, anything else followed by a
 * close SMTPC_EDISCONNECTED (with the reply in errmsg).
 */
static void idle_reply(fault_fixture *f, const char *reply, enum how how, int code, const char *text,
                       const char *errpart, smtpc_status want, int use_sendmail) {
    sc_hello(f, 1);
    sc_sleep(f, 0.2); /* the reply must not come with the EHLO reply */
    if (how == RST) {
        sc_send_then_rst(f, reply);
    } else {
        sc_send_then_close(f, reply);
    }
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0); /* the server has sent its reply and closed */
    sleep_ms(50);
    smtpc_status st;
    if (use_sendmail) {
        fault_envelope(f, "r1@example.org", NULL);
        st = smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS);
    } else {
        st = smtpc_client_noop(f->client);
    }
    ASSERT_STATUS(f, st, want);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    fault_assert_reply(smtpc_client_last_reply(f->client), code, text);
    assert_errmsg_has(f, errpart);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
}

static void test_idle_421_close(void **state) {
    idle_reply(*state, "421 4.4.2 idle timeout\r\n", CLOSE, 421, "4.4.2 idle timeout",
               "421 4.4.2 idle timeout", SMTPC_ECLOSING, 0);
}

static void test_idle_421_rst(void **state) {
    idle_reply(*state, "421 4.4.2 idle timeout\r\n", RST, 421, "4.4.2 idle timeout", "421 4.4.2 idle timeout",
               SMTPC_ECLOSING, 0);
}

static void test_idle_554_close(void **state) {
    idle_reply(*state, "554 5.7.0 too many errors\r\n", CLOSE, 554, "5.7.0 too many errors",
               "554 5.7.0 too many errors", SMTPC_EDISCONNECTED, 0);
}

static void test_idle_554_rst_sendmail(void **state) {
    idle_reply(*state, "554 5.7.0 too many errors\r\n", RST, 554, "5.7.0 too many errors",
               "554 5.7.0 too many errors", SMTPC_EDISCONNECTED, 1);
}

static void test_idle_multiline_421_sendmail(void **state) {
    idle_reply(*state, "421-4.4.2 fault.test\r\n421 4.4.2 closing\r\n", CLOSE, 421,
               "4.4.2 fault.test\n4.4.2 closing", "4.4.2 closing", SMTPC_ECLOSING, 1);
}

/* ---- Item 5: data after the reply that accepted the message -------------------------------------- */

typedef struct trace_log {
    char text[8192];
    size_t len;
} trace_log;

static void collect_info(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us,
                         void *userdata) {
    (void)time_us;
    trace_log *log = userdata;
    if (kind != SMTPC_TRACE_INFO) {
        return;
    }
    size_t room = sizeof log->text - log->len - 2;
    if (len > room) {
        len = room;
    }
    memcpy(log->text + log->len, data, len);
    log->len += len;
    log->text[log->len++] = '\n';
    log->text[log->len] = '\0';
}

static void assert_trace_has(const trace_log *log, const char *part) {
    if (strstr(log->text, part) == NULL) {
        fail_msg("the trace does not say \"%s\":\n%s", part, log->text);
    }
}

/*
 * The final 250 arrives with more bytes behind it in the same segment. The message was accepted:
 * sendmail succeeds, the recipient is delivered, errmsg is empty (the success convention), and the
 * connection is closed because the server is not trusted any more; the trace says why.
 */
static void accepted_then_junk(fault_fixture *f, int pipelining, int lmtp) {
    if (lmtp) {
        sc_lhlo(f);
    } else {
        sc_hello(f, pipelining);
    }
    if (pipelining || lmtp) {
        sc_batch(f);
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
    sc_send(f, lmtp ? "250 2.1.5 r1 ok\r\n250 2.1.5 r2 ok\r\n221 2.0.0 bye\r\n"
                    : "250 2.0.0 queued as 1234\r\n221 2.0.0 bye\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    if (lmtp) {
        lmtp_client(f);
    } else {
        fault_client(f, 5000, 5000);
    }
    trace_log log = {{0}, 0};
    assert_int_equal(smtpc_client_set_trace(f->client, 1, collect_info, &log), SMTPC_OK);
    fault_envelope(f, "r1@example.org", "r2@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_OK);
    assert_string_equal(smtpc_client_errmsg(f->client), "");
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    if (lmtp) {
        fault_assert_reply(smtpc_client_last_reply(f->client), 250, "2.1.5 r2 ok");
    } else {
        fault_assert_reply(smtpc_client_last_reply(f->client), 250, "2.0.0 queued as 1234");
    }
    assert_rcpt(f, 0, SMTPC_RCPT_DELIVERED, 250, 250);
    assert_rcpt(f, 1, SMTPC_RCPT_DELIVERED, 250, 250);
    assert_int_equal(smtpc_result_delivered_count(smtpc_client_last_result(f->client)), 2);
    assert_trace_has(&log, "unexpected data from the server after its reply");
    assert_trace_has(&log, "221 2.0.0 bye");
    assert_trace_has(&log, "the message was accepted");
    assert_int_equal(fault_finish(f, 0), 0);
    if (pipelining || lmtp) {
        fault_assert_transcript(f, lmtp ? W_LHLO S_BATCH MSG_WIRE : W_EHLO S_BATCH MSG_WIRE,
                                strlen(lmtp ? W_LHLO S_BATCH MSG_WIRE : W_EHLO S_BATCH MSG_WIRE));
    } else {
        FAULT_ASSERT_TRANSCRIPT(f, W_EHLO S_MAIL S_R1 S_R2 W_DATA MSG_WIRE);
    }
    /* Nothing more goes out on this connection. */
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ENOTCONN);
}

static void test_accepted_then_junk_lockstep(void **state) { accepted_then_junk(*state, 0, 0); }

static void test_accepted_then_junk_pipelined(void **state) { accepted_then_junk(*state, 1, 0); }

static void test_accepted_then_junk_lmtp(void **state) { accepted_then_junk(*state, 1, 1); }

/* The same through smtpc_client_data(). */
static void test_accepted_then_junk_low_level(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, "250 2.0.0 queued\r\nX");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    trace_log log = {{0}, 0};
    assert_int_equal(smtpc_client_set_trace(f->client, 1, collect_info, &log), SMTPC_OK);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_data(f->client, MSG, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    fault_assert_reply(smtpc_client_last_reply(f->client), 250, "2.0.0 queued");
    assert_trace_has(&log, "unexpected data from the server after its reply: \"X\"");
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_DATA MSG_WIRE);
}

/* A decided refusal stays the outcome when the reply to RSET has data behind it. */
static void test_refused_then_junk_after_rset(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, "550 5.7.1 sender blocked\r\n");
    sc_expect(f, "RSET");
    sc_send(f, "250 2.0.0 ok\r\n250 2.0.0 injected\r\n");
    sc_expect_eof(f, 5.0);
    smtpc_status st = run_sendmail(f, 0);
    ASSERT_STATUS(f, st, SMTPC_ESENDER_REFUSED);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    fault_assert_reply(smtpc_client_last_reply(f->client), 550, "5.7.1 sender blocked");
    assert_errmsg_has(f, "unexpected data from the server after its reply");
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO S_MAIL W_RSET);
}

#define T(name) cmocka_unit_test_setup_teardown(test_##name, fault_setup, fault_teardown)
#define T3(name) T(name##_half), T(name##_close), T(name##_rst)

int main(void) {
    const struct CMUnitTest tests[] = {
        T3(mail_lockstep),
        T3(mail_pipelined),
        T3(mail_pipelined_answered),
        T3(rcpt_lockstep_last),
        T3(rcpt_lockstep_first),
        T3(rcpt_pipelined),
        T3(data_lockstep),
        T3(data_pipelined),
        T3(final_lockstep),
        T3(final_pipelined),
        T3(lmtp_mail),
        T3(lmtp_data),
        T3(lmtp_final),
        T3(low_mail),
        T3(low_rcpt),
        T3(low_data),
        T3(low_final),
        T(mid_body_close),
        T(mid_body_rst),
        T(mid_body_half),
        T(mid_body_low_level_rst),
        T(idle_421_close),
        T(idle_421_rst),
        T(idle_554_close),
        T(idle_554_rst_sendmail),
        T(idle_multiline_421_sendmail),
        T(accepted_then_junk_lockstep),
        T(accepted_then_junk_pipelined),
        T(accepted_then_junk_lmtp),
        T(accepted_then_junk_low_level),
        T(refused_then_junk_after_rset),
    };
    return cmocka_run_group_tests_name("fault_refusal_close", tests, NULL, NULL);
}
