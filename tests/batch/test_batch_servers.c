/* SPDX-License-Identifier: MIT */
/*
 * The message queue against real servers: aiosmtpd (the exact bytes of many messages in its spool,
 * results in order, a refusal in the middle, per-recipient results, a streamed body), Postfix (a
 * BDAT window, then DATA with CHUNKING off), and bench/compare/sink.py, which counts round trips:
 * at most 1 per message (plus the first group's) with DATA, at most 0.1 with CHUNKING; and a 10 000
 * message batch through a window of 32 whose heap does not grow.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "itest.h"

static itest_server g_aio;

static int group_setup(void **state) {
    (void)state;
    return itest_start_aiosmtpd(&g_aio, 0, NULL);
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_aio);
    return 0;
}

static smtpc_envelope *make_env(const char *rcpt1, const char *rcpt2) {
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "bench@example.com", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, rcpt1, SMTPC_NTS), SMTPC_OK);
    if (rcpt2) assert_int_equal(smtpc_envelope_add_recipient(env, rcpt2, SMTPC_NTS), SMTPC_OK);
    return env;
}

/* A streamed body: `left` bytes of 'x' lines, in blocks no larger than the library's buffer. */
typedef struct reader {
    size_t left;
    size_t col;
} reader;

static int read_lines(char *buf, size_t cap, size_t *len, void *userdata) {
    reader *r = userdata;
    size_t n = 0;
    while (n < cap && r->left > 0) {
        buf[n++] = r->col == 76 ? '\r' : r->col == 77 ? '\n' : 'x';
        r->col = (r->col + 1) % 78;
        r->left--;
    }
    *len = n;
    return 0;
}

#define N_AIO 20
#define STREAMED 15
#define STREAMED_LEN (78 * 3000)

static void body_of(char *buf, size_t cap, int i) {
    snprintf(buf, cap, "Subject: message %d\r\nX-Seq: %d\r\n\r\n.line %d starts with a dot\r\nend\r\n", i, i,
             i);
}

/* 20 messages queued on one connection: message 7 is refused (its only recipient), message 12 has a
 * refused recipient beside an accepted one, message 15's body is streamed. The results come in order
 * with their tags; the spool holds the other 19 messages in order, byte for byte. */
static void test_aiosmtpd_many_messages(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_aio);
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(itest_connect(c, &g_aio), SMTPC_OK);
    smtpc_envelope *ok = make_env("sink@example.com", NULL);
    smtpc_envelope *refused = make_env("reject7@example.com", NULL);
    smtpc_envelope *partial = make_env("sink@example.com", "reject12@example.com");
    static char bodies[N_AIO + 1][200];
    reader rd = {STREAMED_LEN, 0};
    smtpc_message *m = NULL;
    assert_int_equal(smtpc_message_new(&m), SMTPC_OK);
    for (int i = 1; i <= N_AIO; i++) {
        body_of(bodies[i], sizeof bodies[i], i);
        assert_int_equal(smtpc_message_set_envelope(m, i == 7 ? refused : i == 12 ? partial : ok), SMTPC_OK);
        if (i == STREAMED) assert_int_equal(smtpc_message_set_body_reader(m, 0, read_lines, &rd), SMTPC_OK);
        else assert_int_equal(smtpc_message_set_body(m, bodies[i], SMTPC_NTS), SMTPC_OK);
        assert_int_equal(smtpc_message_set_tag(m, (uint64_t)i), SMTPC_OK);
        assert_int_equal(smtpc_client_enqueue(c, m), SMTPC_OK);
    }
    smtpc_message_free(m);
    for (int i = 1; i <= N_AIO; i++) {
        smtpc_message_result *r = NULL;
        assert_int_equal(smtpc_client_next_result(c, &r), SMTPC_OK);
        assert_non_null(r);
        assert_int_equal(smtpc_message_result_tag(r), (uint64_t)i);
        const smtpc_result *rr = smtpc_message_result_recipients(r);
        if (i == 7) {
            assert_int_equal(smtpc_message_result_state(r), SMTPC_MESSAGE_REFUSED);
            assert_int_equal(smtpc_message_result_status(r), SMTPC_ERECIPIENTS_REFUSED);
            assert_int_equal(smtpc_result_state(rr, 0), SMTPC_RCPT_REFUSED);
            ITEST_ASSERT_REPLY(smtpc_message_result_reply(r), 550,
                               "5.1.1 <reject7@example.com>: Recipient address rejected");
        } else if (i == 12) {
            assert_int_equal(smtpc_message_result_state(r), SMTPC_MESSAGE_PARTIAL);
            assert_int_equal(smtpc_message_result_status(r), SMTPC_OK);
            assert_int_equal(smtpc_result_state(rr, 0), SMTPC_RCPT_DELIVERED);
            assert_int_equal(smtpc_result_state(rr, 1), SMTPC_RCPT_REFUSED);
        } else {
            assert_int_equal(smtpc_message_result_state(r), SMTPC_MESSAGE_DELIVERED);
            assert_int_equal(smtpc_message_result_status(r), SMTPC_OK);
            assert_string_equal(smtpc_message_result_errmsg(r, NULL), "");
        }
        /* The message's per-recipient result is also the client's last result. */
        assert_ptr_equal(smtpc_client_last_result(c), rr);
        smtpc_message_result_free(r);
    }
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(ok);
    smtpc_envelope_free(refused);
    smtpc_envelope_free(partial);

    size_t k = before;
    for (int i = 1; i <= N_AIO; i++) {
        if (i == 7) continue;
        itest_msg msg;
        assert_int_equal(itest_load_msg(&g_aio, k++, 10000, &msg), 0);
        if (i == STREAMED) {
            assert_int_equal(msg.content_len, STREAMED_LEN);
            for (size_t j = 0; j < msg.content_len; j++)
                assert_int_equal(msg.content[j], j % 78 == 76 ? '\r' : j % 78 == 77 ? '\n' : 'x');
        } else {
            ITEST_ASSERT_BYTES(msg.content, msg.content_len, bodies[i], strlen(bodies[i]));
        }
        assert_int_equal(msg.rcpt_count, 1);
        itest_msg_free(&msg);
    }
    assert_int_equal(itest_msg_count(&g_aio), before + N_AIO - 1);
}

/* LMTP (aiosmtpd in LMTP mode on a Unix socket): one reply per accepted recipient after each message;
 * a recipient failed after the data makes its message PARTIAL without disturbing the next. */
static void test_lmtp_many_messages(void **state) {
    (void)state;
    itest_server lm;
    memset(&lm, 0, sizeof lm);
    const char *const extra[] = {"--mode", "lmtp", NULL};
    assert_int_equal(itest_start_aiosmtpd(&lm, 1, extra), 0);
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_LMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(itest_connect(c, &lm), SMTPC_OK);
    smtpc_envelope *both = make_env("one@example.com", "two@example.com");
    smtpc_envelope *half = make_env("one@example.com", "fail2@example.com");
    smtpc_message *m = NULL;
    assert_int_equal(smtpc_message_new(&m), SMTPC_OK);
    static char bodies[5][100];
    for (int i = 0; i < 5; i++) {
        snprintf(bodies[i], sizeof bodies[i], "Subject: lmtp %d\r\n\r\nbody %d\r\n", i, i);
        assert_int_equal(smtpc_message_set_envelope(m, i == 2 ? half : both), SMTPC_OK);
        assert_int_equal(smtpc_message_set_body(m, bodies[i], SMTPC_NTS), SMTPC_OK);
        assert_int_equal(smtpc_message_set_tag(m, (uint64_t)i), SMTPC_OK);
        assert_int_equal(smtpc_client_enqueue(c, m), SMTPC_OK);
    }
    smtpc_message_free(m);
    for (int i = 0; i < 5; i++) {
        smtpc_message_result *r = NULL;
        assert_int_equal(smtpc_client_next_result(c, &r), SMTPC_OK);
        assert_int_equal(smtpc_message_result_tag(r), (uint64_t)i);
        assert_int_equal(smtpc_message_result_status(r), SMTPC_OK);
        const smtpc_result *rr = smtpc_message_result_recipients(r);
        assert_int_equal(smtpc_result_state(rr, 0), SMTPC_RCPT_DELIVERED);
        if (i == 2) {
            assert_int_equal(smtpc_message_result_state(r), SMTPC_MESSAGE_PARTIAL);
            assert_int_equal(smtpc_result_state(rr, 1), SMTPC_RCPT_FAILED);
            assert_int_equal(smtpc_reply_code(smtpc_result_data_reply(rr, 1)), 550);
        } else {
            assert_int_equal(smtpc_message_result_state(r), SMTPC_MESSAGE_DELIVERED);
            assert_int_equal(smtpc_result_state(rr, 1), SMTPC_RCPT_DELIVERED);
        }
        smtpc_message_result_free(r);
    }
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(both);
    smtpc_envelope_free(half);
    for (size_t i = 0; i < 5; i++) {
        itest_msg msg;
        assert_int_equal(itest_load_msg(&lm, i, 10000, &msg), 0);
        ITEST_ASSERT_BYTES(msg.content, msg.content_len, bodies[i], strlen(bodies[i]));
        itest_msg_free(&msg);
    }
    itest_stop(&lm);
}

/* ---- bench/compare/sink.py: round trips per message, memory */

typedef struct sink {
    harness_server proc;
    char stats[256];
} sink;

static void sink_start(sink *s, const char *delay, int chunking) {
    snprintf(s->stats, sizeof s->stats, "/tmp/smtpc-batch-sink-%ld.json", (long)getpid());
    unlink(s->stats);
    const char *argv[] = {HARNESS_PYTHON,
                          SMTPC_SINK_PY,
                          "--delay",
                          delay,
                          "--stats",
                          s->stats,
                          chunking ? "--chunking" : NULL,
                          NULL};
    if (harness_server_start(argv, &s->proc) != 0) fail_msg("sink.py did not start");
}

/* The sink's round trips per message on the connection just closed. */
static double sink_rtt(sink *s) {
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(s->stats, "r");
        if (f) {
            char line[512];
            const char *key = "\"round_trips_per_message\": ";
            if (fgets(line, sizeof line, f) && strstr(line, key)) {
                fclose(f);
                return strtod(strstr(line, key) + strlen(key), NULL);
            }
            fclose(f);
        }
        usleep(50 * 1000);
    }
    fail_msg("no stats from sink.py");
    return 0;
}

static void sink_stop(sink *s) {
    harness_server_stop(&s->proc);
    unlink(s->stats);
}

#define BENCH_BODY                                                              \
    "From: bench@example.com\r\nTo: sink@example.com\r\nSubject: bench\r\n\r\n" \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"

/* Sends `count` messages through a window of `window`, taking results as they complete; returns the
 * heap growth (bytes) between message `count / 10` and the largest reading after it. */
static long send_batch(smtpc_client *c, int count, uint32_t window) {
    assert_int_equal(smtpc_client_set_window(c, window, 1024 * 1024), SMTPC_OK);
    smtpc_envelope *env = make_env("sink@example.com", NULL);
    smtpc_message *m = NULL;
    assert_int_equal(smtpc_message_new(&m), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(m, env), SMTPC_OK);
    assert_int_equal(smtpc_message_set_body(m, BENCH_BODY, SMTPC_NTS), SMTPC_OK);
    long base = -1, peak = 0;
    int sent = 0, done = 0;
    while (done < count) {
        while (sent < count && smtpc_client_queued(c) < window) {
            assert_int_equal(smtpc_message_set_tag(m, (uint64_t)sent), SMTPC_OK);
            assert_int_equal(smtpc_client_enqueue(c, m), SMTPC_OK);
            sent++;
        }
        smtpc_message_result *r = NULL;
        assert_int_equal(smtpc_client_next_result(c, &r), SMTPC_OK);
        assert_non_null(r);
        assert_int_equal(smtpc_message_result_tag(r), (uint64_t)done);
        if (smtpc_message_result_status(r) != SMTPC_OK)
            fail_msg("message %d: %s", done, smtpc_message_result_errmsg(r, NULL));
        smtpc_message_result_free(r);
        done++;
        if (done % 100 == 0 && done >= count / 10) {
            long used = (long)mallinfo2().uordblks;
            if (base < 0) base = used;
            if (used - base > peak) peak = used - base;
        }
    }
    smtpc_message_free(m);
    smtpc_envelope_free(env);
    return peak;
}

static void test_round_trips_data(void **state) {
    (void)state;
    sink s;
    sink_start(&s, "0.005", 0);
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)s.proc.port), SMTPC_OK);
    send_batch(c, 100, 32);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    double rtt = sink_rtt(&s);
    sink_stop(&s);
    print_message("DATA: %.3f round trips per message (100 messages)\n", rtt);
    /* One round trip per message, plus the first message's MAIL/RCPT/DATA group (1.01); one stray
     * turn of the sink on a loaded machine is tolerated. One message at a time costs 2.0. */
    assert_true(rtt <= 1.0 + 2.0 / 100 + 1e-9);
}

static void test_round_trips_chunking(void **state) {
    (void)state;
    sink s;
    sink_start(&s, "0.005", 1);
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)s.proc.port), SMTPC_OK);
    send_batch(c, 320, 32);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    double rtt = sink_rtt(&s);
    sink_stop(&s);
    print_message("CHUNKING: %.3f round trips per message (320 messages, window 32)\n", rtt);
    assert_true(rtt <= 0.1);
}

/* 10 000 messages through a window of 32: the heap does not grow with the batch. */
static void test_memory_bounded_by_window(void **state) {
    (void)state;
    sink s;
    sink_start(&s, "0", 1);
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)s.proc.port), SMTPC_OK);
    long growth = send_batch(c, 10000, 32);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    sink_stop(&s);
    print_message("heap growth from message 1000 to 10000: %ld bytes\n", growth);
    assert_true(growth < 64 * 1024);
}

/* ---- Postfix: a BDAT window, then DATA with CHUNKING turned off */

static void test_postfix_window(void **state) {
    (void)state;
    const char *why = harness_postfix_unavailable(0);
    if (why != NULL) {
        print_message("postfix: skipped (%s)\n", why);
        skip();
    }
    itest_server pf;
    memset(&pf, 0, sizeof pf);
    assert_int_equal(itest_start_postfix(&pf), 0);
    static char bodies[12][120];
    smtpc_envelope *env = make_env("sink@example.com", NULL);
    smtpc_message *m = NULL;
    assert_int_equal(smtpc_message_new(&m), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(m, env), SMTPC_OK);
    for (int pass = 0; pass < 2; pass++) {
        smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
        itest_trace t = {0};
        assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, &t), SMTPC_OK);
        if (pass == 1) assert_int_equal(smtpc_client_set_chunking(c, 0), SMTPC_OK);
        assert_int_equal(itest_connect(c, &pf), SMTPC_OK);
        for (int i = 0; i < 6; i++) {
            char *b = bodies[pass * 6 + i];
            snprintf(b, 120, "Subject: postfix batch\r\nX-Id: %d.%d\r\n\r\nhello %d\r\n", pass, i, i);
            assert_int_equal(smtpc_message_set_body(m, b, SMTPC_NTS), SMTPC_OK);
            assert_int_equal(smtpc_client_enqueue(c, m), SMTPC_OK);
        }
        for (int i = 0; i < 6; i++) {
            smtpc_message_result *r = NULL;
            assert_int_equal(smtpc_client_next_result(c, &r), SMTPC_OK);
            assert_int_equal(smtpc_message_result_state(r), SMTPC_MESSAGE_DELIVERED);
            smtpc_message_result_free(r);
        }
        assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
        /* BDAT in the first pass, DATA in the second: seen in the trace. */
        int bdat = 0, data = 0;
        for (size_t e = 0; e < t.n; e++) {
            if (t.ev[e].kind != SMTPC_TRACE_SEND) continue;
            bdat += t.ev[e].len >= 5 && memcmp(t.ev[e].data, "BDAT ", 5) == 0;
            data += t.ev[e].len == 6 && memcmp(t.ev[e].data, "DATA\r\n", 6) == 0;
        }
        assert_int_equal(bdat, pass == 0 ? 6 : 0);
        assert_int_equal(data, pass == 0 ? 0 : 6);
        itest_trace_clear(&t);
        smtpc_client_free(c);
    }
    /* Every message relayed to Postfix's sink, byte for byte after Postfix's own header. */
    for (int i = 0; i < 12; i++) {
        int found = 0;
        for (int tries = 0; tries < 400 && !found; tries++) {
            size_t n = itest_msg_count(&pf);
            for (size_t j = 0; j < n && !found; j++) {
                itest_msg msg;
                if (itest_load_msg(&pf, j, 1000, &msg) != 0) continue;
                size_t bl = strlen(bodies[i]);
                found =
                    msg.content_len >= bl && memcmp(msg.content + msg.content_len - bl, bodies[i], bl) == 0;
                itest_msg_free(&msg);
            }
            if (!found) usleep(50 * 1000);
        }
        if (!found) fail_msg("message %d not relayed by Postfix", i);
    }
    smtpc_message_free(m);
    smtpc_envelope_free(env);
    itest_stop(&pf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aiosmtpd_many_messages),   cmocka_unit_test(test_lmtp_many_messages),
        cmocka_unit_test(test_round_trips_data),         cmocka_unit_test(test_round_trips_chunking),
        cmocka_unit_test(test_memory_bounded_by_window), cmocka_unit_test(test_postfix_window),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
