/* SPDX-License-Identifier: MIT */
/*
 * Fault tests: reply parsing against a live socket (catalogue B.13-B.23). A malformed reply gives
 * SMTPC_EPROTOCOL at once (not a wait for the timeout) and closes the connection; nothing more is
 * sent. Valid edge cases parse, the same whether they arrive in one piece or one byte at a time.
 */
#include "fault_common.h"
#include "fault_malformed_cases.h"

#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Protocol errors are found at once: the client's timeouts are 5 s, this bounds each call. */
#define FAST_MS 2000

/* The malformed bytes as the greeting: connect() fails, nothing is sent. */
static void bad_greeting(fault_fixture *f, const char *bytes, size_t len) {
    sc_send_n(f, bytes, len);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_clock_start(f);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_EPROTOCOL);
    long long ms = fault_elapsed_ms(f);
    if (ms >= FAST_MS) {
        fail_msg("connect took %lld ms: a protocol error must not wait for the timeout", ms);
    }
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

/* The malformed bytes as the reply to NOOP: noop() fails, nothing more is sent. */
static void bad_reply(fault_fixture *f, const char *bytes, size_t len) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_send_n(f, bytes, len);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_EPROTOCOL);
    long long ms = fault_elapsed_ms(f);
    if (ms >= FAST_MS) {
        fail_msg("noop took %lld ms: a protocol error must not wait for the timeout", ms);
    }
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ENOTCONN);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

#define BAD_CASE(name, greeting, reply)                                                                      \
    static void test_greeting_##name(void **state) { bad_greeting(*state, greeting, sizeof(greeting) - 1); } \
    static void test_reply_##name(void **state) { bad_reply(*state, reply, sizeof(reply) - 1); }

FAULT_MALFORMED_CASES(BAD_CASE)

/* A single 1 MiB line: refused at the line limit, fast, and the connection closed. */
static void test_reply_1mb_line(void **state) {
    fault_fixture *f = *state;
    char chunk[1025];
    memset(chunk, 'x', 1024);
    chunk[1024] = '\0';
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_send(f, "250 ");
    sc_send_repeat(f, chunk, 1024);
    sc_send(f, "\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_EPROTOCOL);
    assert_true(fault_elapsed_ms(f) < FAST_MS);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

/* A 1 MiB greeting line with no line end at all. */
static void test_greeting_1mb_no_crlf(void **state) {
    fault_fixture *f = *state;
    char chunk[1025];
    memset(chunk, 'y', 1024);
    chunk[1024] = '\0';
    sc_send(f, "220 ");
    sc_send_repeat(f, chunk, 1024);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_clock_start(f);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_EPROTOCOL);
    assert_true(fault_elapsed_ms(f) < FAST_MS);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

static long max_rss_kib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return 0;
    }
    return ru.ru_maxrss;
}

/* A 64 MiB line: the client's memory must not grow with it (peak RSS grows < 16 MiB). */
static void test_reply_64mb_line_memory_bounded(void **state) {
    fault_fixture *f = *state;
    char chunk[65537];
    memset(chunk, 'z', 65536);
    chunk[65536] = '\0';
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_send(f, "250 ");
    sc_send_repeat(f, chunk, 1024);
    sc_send(f, "\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    long before = max_rss_kib();
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_EPROTOCOL);
    assert_true(fault_elapsed_ms(f) < FAST_MS);
    long grown = max_rss_kib() - before;
    if (grown > 16 * 1024) {
        fail_msg("peak RSS grew by %ld KiB while reading a 64 MiB reply line", grown);
    }
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

/* 100000 continuation lines: capped, SMTPC_EPROTOCOL, fast. */
static void test_reply_100000_lines(void **state) {
    fault_fixture *f = *state;
    char chunk[7 * 100 + 1];
    for (int i = 0; i < 100; i++) {
        memcpy(chunk + 7 * i, "250-x\r\n", 7);
    }
    chunk[700] = '\0';
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send_repeat(f, chunk, 1000);
    sc_send(f, "250 end\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_EPROTOCOL);
    assert_true(fault_elapsed_ms(f) < FAST_MS);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(smtpc_client_does_esmtp(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
}

/* An extra line after the greeting, in the same segment: the client must not send EHLO into it. */
static void test_unsolicited_after_greeting(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING "250 unsolicited\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    smtpc_status st = fault_connect(f);
    if (st == SMTPC_OK) {
        /* Detected before the first command at the latest. */
        st = smtpc_client_ehlo(f->client, NULL, 0);
    }
    ASSERT_STATUS(f, st, SMTPC_EPROTOCOL);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

/* A partial extra line (no CRLF) after the greeting counts too (nodemailer #1835 case). */
static void test_unsolicited_partial_after_greeting(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING "250-AUTH PLAIN");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    smtpc_status st = fault_connect(f);
    if (st == SMTPC_OK) {
        st = smtpc_client_ehlo(f->client, NULL, 0);
    }
    ASSERT_STATUS(f, st, SMTPC_EPROTOCOL);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

/* An extra reply behind the NOOP reply, in the same segment: the next NOOP is not sent. */
static void test_unsolicited_after_reply(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_send(f, "250 first\r\n250 injected\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_status st = smtpc_client_noop(f->client);
    if (st == SMTPC_OK) {
        fault_assert_reply(smtpc_client_last_reply(f->client), 250, "first");
        st = smtpc_client_noop(f->client);
    }
    ASSERT_STATUS(f, st, SMTPC_EPROTOCOL);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

/*
 * An extra reply that arrives a little after the NOOP reply (a separate segment, still unread in the
 * socket when the client sends the next command): it must not be taken as the next reply.
 */
static void test_unsolicited_late_reply(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_send(f, "250 first\r\n");
    sc_sleep(f, 0.1);
    sc_send(f, "250 injected\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_OK);
    fault_assert_reply(smtpc_client_last_reply(f->client), 250, "first");
    /* Let the injected line arrive. */
    struct timespec pause = {0, 400 * 1000 * 1000};
    nanosleep(&pause, NULL);
    smtpc_status st = smtpc_client_noop(f->client);
    if (st == SMTPC_OK) {
        fail_msg("the second NOOP took the unsolicited line \"%s\" as its reply",
                 smtpc_reply_text(smtpc_client_last_reply(f->client), NULL));
    }
    ASSERT_STATUS(f, st, SMTPC_EPROTOCOL);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

/*
 * The reply to the final dot arrives together with the 354, before the client has sent the message:
 * it answers nothing the client sent and must not be taken as the message's acceptance (a reply to
 * a command not yet written). Nothing of the message may be sent after it.
 */
static void early_final_reply(fault_fixture *f, int pipelining) {
    sc_hello(f, pipelining);
    sc_expect(f, "MAIL ");
    if (!pipelining) {
        sc_send(f, RPL_OK);
    }
    sc_expect(f, "RCPT ");
    if (!pipelining) {
        sc_send(f, RPL_OK);
    }
    sc_expect(f, "DATA");
    sc_send(f, pipelining ? RPL_OK RPL_OK RPL_354 "250 2.0.0 queued early\r\n"
                          : RPL_354 "250 2.0.0 queued early\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, "x\r\n", SMTPC_NTS);
    smtpc_rcpt_state rs = smtpc_result_state(smtpc_client_last_result(f->client), 0);
    if (st == SMTPC_OK || rs == SMTPC_RCPT_DELIVERED) {
        fail_msg(
            "sendmail returned %s with the recipient %s: a reply sent before the message was taken as its "
            "acceptance",
            smtpc_status_name(st), rs == SMTPC_RCPT_DELIVERED ? "delivered" : "not delivered");
    }
    ASSERT_STATUS(f, st, SMTPC_EPROTOCOL);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA);
}

static void test_final_reply_before_message(void **state) { early_final_reply(*state, 0); }

static void test_final_reply_before_message_pipelined(void **state) { early_final_reply(*state, 1); }

/* EHLO and HELO both refused: SMTPC_EHELO after one try each, no loop, no MAIL (B.21). */
static void test_ehlo_and_helo_refused_no_retry(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, "500 5.5.1 what\r\n");
    sc_expect(f, "HELO ");
    sc_send(f, "501 5.5.4 no\r\n");
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, "x\r\n", SMTPC_NTS), SMTPC_EHELO);
    fault_assert_reply(smtpc_client_last_reply(f->client), 501, "5.5.4 no");
    assert_int_equal(smtpc_client_is_connected(f->client), 1);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_HELO W_QUIT);
}

/* ---- Valid edge cases ------------------------------------------------------------------------- */

/* "250\r\n": a code with no text is a valid reply. */
static void test_code_without_text(void **state) {
    fault_fixture *f = *state;
    sc_send(f, "220\r\n");
    sc_expect(f, "NOOP");
    sc_send(f, "250\r\n");
    sc_expect(f, "QUIT");
    sc_send(f, "221\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_assert_reply(smtpc_client_last_reply(f->client), 220, "");
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_OK);
    const smtpc_reply *r = smtpc_client_last_reply(f->client);
    fault_assert_reply(r, 250, "");
    assert_int_equal(smtpc_reply_line_count(r), 1);
    size_t len = 99;
    const char *line = smtpc_reply_line(r, 0, &len);
    assert_non_null(line);
    assert_int_equal(len, 0);
    assert_string_equal(smtpc_reply_enhanced(r), "");
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP W_QUIT);
}

/* 8-bit, invalid UTF-8 and escape bytes in reply text are passed through as bytes. */
static void test_8bit_text_kept(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_send(f, "250 caf\xc3\xa9 \xff\x1b[31m ok\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_OK);
    fault_assert_reply(smtpc_client_last_reply(f->client), 250, "caf\xc3\xa9 \xff\x1b[31m ok");
    smtpc_client_close(f->client);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

/* Enhanced status codes: kept when the class matches the reply code, else "". */
static void test_enhanced_codes(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_send(f, "250 2.1.0 sender ok\r\n");
    sc_expect(f, "NOOP");
    sc_send(f, "250 5.1.0 wrong class\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_OK);
    assert_string_equal(smtpc_reply_enhanced(smtpc_client_last_reply(f->client)), "2.1.0");
    fault_assert_reply(smtpc_client_last_reply(f->client), 250, "2.1.0 sender ok");
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_OK);
    assert_string_equal(smtpc_reply_enhanced(smtpc_client_last_reply(f->client)), "");
    smtpc_client_close(f->client);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP W_NOOP);
}

/*
 * An EHLO reply with odd lines. The expected values are what Python's smtplib (3.11) stores in
 * esmtp_features for the same reply: keywords lower-cased, params stripped, AUTH and AUTH= merged
 * (each preceded by a space), a later SIZE replacing an earlier one, order of first appearance.
 */
#define ODD_EHLO                      \
    "250-fault.test\r\n"              \
    "250-AUTH\r\n"                    \
    "250-AUTH=PLAIN LOGIN\r\n"        \
    "250-SIZE abc\r\n"                \
    "250-8bitmime   \r\n"             \
    "250-Pipelining\r\n"              \
    "250-auth CRAM-MD5  XOAUTH2 \r\n" \
    "250-X-CUSTOM  a  b\t \r\n"       \
    "250-DSN\r\n"                     \
    "250-size 100\r\n"                \
    "250 HELP\r\n"

static const char *const odd_keys[] = {"auth", "size", "8bitmime", "pipelining", "x-custom", "dsn", "help"};
static const char *const odd_params[] = {"  PLAIN LOGIN CRAM-MD5  XOAUTH2", "100", "", "", "a  b", "", ""};
#define ODD_TEXT                                                                                             \
    "fault.test\nAUTH\nAUTH=PLAIN LOGIN\nSIZE abc\n8bitmime\nPipelining\nauth CRAM-MD5  XOAUTH2\nX-CUSTOM  " \
    "a  b\nDSN\nsize 100\nHELP"

static void check_odd_features(const smtpc_client *c) {
    assert_int_equal(smtpc_client_does_esmtp(c), 1);
    const smtpc_reply *r = smtpc_client_ehlo_reply(c);
    fault_assert_reply(r, 250, ODD_TEXT);
    assert_int_equal(smtpc_reply_line_count(r), 11);
    size_t len = 0;
    const char *line = smtpc_reply_line(r, 4, &len);
    assert_non_null(line);
    assert_int_equal(len, strlen("8bitmime   "));
    assert_memory_equal(line, "8bitmime   ", len);

    size_t n = smtpc_client_extn_count(c);
    assert_int_equal(n, sizeof odd_keys / sizeof odd_keys[0]);
    for (size_t i = 0; i < n; i++) {
        const char *key = smtpc_client_extn_name(c, i, NULL);
        const char *params = smtpc_client_extn_params_at(c, i, NULL);
        assert_non_null(key);
        assert_non_null(params);
        if (strcmp(key, odd_keys[i]) != 0 || strcmp(params, odd_params[i]) != 0) {
            fail_msg("extension %zu is \"%s\" = \"%s\", smtplib has \"%s\" = \"%s\"", i, key, params,
                     odd_keys[i], odd_params[i]);
        }
        const char *p = smtpc_client_extn_params(c, odd_keys[i], SMTPC_NTS, &len);
        assert_non_null(p);
        assert_string_equal(p, odd_params[i]);
        assert_int_equal(len, strlen(odd_params[i]));
    }
    assert_null(smtpc_client_extn_name(c, n, NULL));
    assert_null(smtpc_client_extn_params_at(c, n, NULL));
    assert_int_equal(smtpc_client_has_extn(c, "AUTH", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "Size", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "PIPELINING", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "8BITMIME", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "STARTTLS", SMTPC_NTS), 0);
    assert_int_equal(smtpc_client_has_extn(c, "fault.test", SMTPC_NTS), 0);
    assert_string_equal(smtpc_client_extn_params(c, "SIZE", SMTPC_NTS, NULL), "100");
    assert_string_equal(smtpc_client_extn_params(c, "x-custom", SMTPC_NTS, NULL), "a  b");
    assert_null(smtpc_client_extn_params(c, "STARTTLS", SMTPC_NTS, NULL));
}

static void odd_ehlo(fault_fixture *f, int slowly) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    if (slowly) {
        sc_send_slowly(f, ODD_EHLO, 0.002);
    } else {
        sc_send(f, ODD_EHLO);
    }
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    check_odd_features(f->client);
    smtpc_client_close(f->client);
    assert_int_equal(smtpc_client_extn_count(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
}

static void test_ehlo_odd_lines(void **state) { odd_ehlo(*state, 0); }

/* The same reply one byte per segment parses the same (differential check, B.20). */
static void test_ehlo_odd_lines_one_byte_at_a_time(void **state) { odd_ehlo(*state, 1); }

/* A greeting and a multiline reply sent one byte at a time. */
static void test_replies_one_byte_at_a_time(void **state) {
    fault_fixture *f = *state;
    sc_send_slowly(f, "220-fault.test\r\n220 ESMTP\r\n", 0.005);
    sc_expect(f, "NOOP");
    sc_send_slowly(f, "250-2.0.0 one\r\n250-  two  \r\n250 2.0.0 three\r\n", 0.005);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_assert_reply(smtpc_client_last_reply(f->client), 220, "fault.test\nESMTP");
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_OK);
    const smtpc_reply *r = smtpc_client_last_reply(f->client);
    fault_assert_reply(r, 250, "2.0.0 one\ntwo\n2.0.0 three");
    assert_string_equal(smtpc_reply_enhanced(r), "2.0.0");
    assert_int_equal(smtpc_reply_line_count(r), 3);
    assert_string_equal(smtpc_reply_line(r, 1, NULL), "  two  ");
    assert_null(smtpc_reply_line(r, 3, NULL));
    smtpc_client_close(f->client);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fault_setup, fault_teardown)
#define TB(name) T(test_greeting_##name), T(test_reply_##name)
#define TB_CASE(name, greeting, reply) TB(name),

int main(void) {
    const struct CMUnitTest tests[] = {
        FAULT_MALFORMED_CASES(TB_CASE) /* every case of the table, as greeting and as reply */
        T(test_reply_1mb_line),
        T(test_greeting_1mb_no_crlf),
        T(test_reply_64mb_line_memory_bounded),
        T(test_reply_100000_lines),
        T(test_unsolicited_after_greeting),
        T(test_unsolicited_partial_after_greeting),
        T(test_unsolicited_after_reply),
        T(test_unsolicited_late_reply),
        T(test_final_reply_before_message),
        T(test_final_reply_before_message_pipelined),
        T(test_ehlo_and_helo_refused_no_retry),
        T(test_code_without_text),
        T(test_8bit_text_kept),
        T(test_enhanced_codes),
        T(test_ehlo_odd_lines),
        T(test_ehlo_odd_lines_one_byte_at_a_time),
        T(test_replies_one_byte_at_a_time),
    };
    return cmocka_run_group_tests_name("fault_malformed", tests, NULL, NULL);
}
