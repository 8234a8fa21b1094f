/* SPDX-License-Identifier: MIT */
/*
 * Against a private Postfix instance (tests/servers/postfix_server.py; needs root): PIPELINING and
 * CHUNKING (Postfix offers both), pipelined sendmail with several recipients and the message in one
 * BDAT (checked through the trace), refusals in a pipelined batch, DATA when chunking is turned
 * off, and delivery of the exact message through Postfix to an aiosmtpd sink.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

static itest_server g_pf;

static int group_setup(void **state) {
    (void)state;
    const char *why = harness_postfix_unavailable(0);
    if (why != NULL) harness_skip_program("test_postfix", why);
    return itest_start_postfix(&g_pf);
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_pf);
    return 0;
}

static smtpc_client *pf_client(itest_trace *t) {
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_non_null(c);
    if (t != NULL) assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, t), SMTPC_OK);
    assert_int_equal(itest_connect(c, &g_pf), SMTPC_OK);
    return c;
}

static smtpc_envelope *make_env(const char *sender, const char *const rcpts[]) {
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, sender, SMTPC_NTS), SMTPC_OK);
    for (size_t i = 0; rcpts[i] != NULL; i++)
        assert_int_equal(smtpc_envelope_add_recipient(env, rcpts[i], SMTPC_NTS), SMTPC_OK);
    return env;
}

static int starts_nocase(const itest_event *e, const char *prefix) {
    size_t n = strlen(prefix);
    return e->len >= n && itest_eq_nocase(e->data, n, prefix, n);
}

/* Index of the first RECV event that is the last line of the EHLO reply ("250 ..."), after the
 * SEND of EHLO. */
static size_t after_ehlo(const itest_trace *t) {
    size_t i = 0;
    while (i < t->n && !(t->ev[i].kind == SMTPC_TRACE_SEND && starts_nocase(&t->ev[i], "EHLO "))) i++;
    assert_true(i < t->n);
    for (; i < t->n; i++)
        if (t->ev[i].kind == SMTPC_TRACE_RECV && t->ev[i].len >= 4 && memcmp(t->ev[i].data, "250 ", 4) == 0)
            return i + 1;
    fail_msg("no end of EHLO reply in the trace");
    return 0;
}

static void dump_trace(const itest_trace *t) {
    for (size_t i = 0; i < t->n; i++) {
        const char *k = t->ev[i].kind == SMTPC_TRACE_SEND   ? "SEND"
                        : t->ev[i].kind == SMTPC_TRACE_RECV ? "RECV"
                        : t->ev[i].kind == SMTPC_TRACE_DATA ? "DATA"
                                                            : "INFO";
        itest_dump(k, t->ev[i].data, t->ev[i].len > 200 ? 200 : t->ev[i].len);
    }
}

static void test_postfix_ehlo(void **state) {
    (void)state;
    smtpc_client *c = pf_client(NULL);
    const smtpc_reply *g = smtpc_client_last_reply(c);
    assert_int_equal(smtpc_reply_code(g), 220);
    assert_memory_equal(smtpc_reply_text(g, NULL), "smtpc-postfix.test ESMTP smtpc-postfix-", 39);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_has_extn(c, "PIPELINING", SMTPC_NTS), 1);
    assert_string_equal(smtpc_client_extn_params(c, "size", SMTPC_NTS, NULL), "10240000");
    assert_int_equal(smtpc_client_has_extn(c, "8bitmime", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "dsn", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "smtputf8", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "enhancedstatuscodes", SMTPC_NTS), 1);
    assert_string_equal(smtpc_client_extn_name(c, 0, NULL), "pipelining");
    assert_string_equal(smtpc_client_extn_params_at(c, 0, NULL), "");
    assert_string_equal(smtpc_client_extn_name(c, 1, NULL), "size");
    assert_string_equal(smtpc_client_extn_params_at(c, 1, NULL), "10240000");
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "2.0.0 Ok");
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 221, "2.0.0 Bye");
    smtpc_client_free(c);
}

/* Find the delivered message whose body is exactly `body`, waiting for Postfix to relay it. */
static int find_delivered(const char *body, size_t body_len, itest_msg *out) {
    long long deadline = harness_now_ms() + 20000;
    for (;;) {
        size_t n = itest_msg_count(&g_pf);
        for (size_t i = 0; i < n; i++) {
            itest_msg m;
            if (itest_load_msg(&g_pf, i, 1000, &m) != 0) continue;
            if (m.content_len == body_len && memcmp(m.content, body, body_len) == 0) {
                *out = m;
                return 0;
            }
            itest_msg_free(&m);
        }
        if (harness_now_ms() >= deadline) return -1;
        usleep(50 * 1000);
    }
}

static void test_postfix_pipelined_sendmail(void **state) {
    (void)state;
    itest_trace t = {0};
    static const char *const rcpts[] = {"one@example.org", "reject1@example.org", "two@example.org",
                                        "three@example.org", NULL};
    smtpc_envelope *env = make_env("sender@example.org", rcpts);
    static const char body[] = "Subject: through postfix\r\nMessage-ID: <pf1@example.org>\r\n\r\n"
                               ".dot line\r\n..two dots\r\nlast line";
    static const char want[] = "Subject: through postfix\r\nMessage-ID: <pf1@example.org>\r\n\r\n"
                               ".dot line\r\n..two dots\r\nlast line\r\n";
    smtpc_client *c = pf_client(&t);
    smtpc_status st = smtpc_client_sendmail(c, env, body, sizeof body - 1);
    if (st != SMTPC_OK) {
        dump_trace(&t);
        fail_msg("sendmail: %s: %s", smtpc_status_name(st), smtpc_client_errmsg(c));
    }
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_count(res), 4);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 2), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 3), SMTPC_RCPT_DELIVERED);
    ITEST_ASSERT_REPLY(smtpc_result_mail_reply(res), 250, "2.1.0 Ok");
    ITEST_ASSERT_REPLY(smtpc_result_rcpt_reply(res, 0), 250, "2.1.5 Ok");
    ITEST_ASSERT_REPLY(
        smtpc_result_rcpt_reply(res, 1), 550,
        "5.1.1 <reject1@example.org>: Recipient address rejected: Recipient address rejected (test)");
    assert_int_equal(smtpc_reply_code(smtpc_result_data_reply(res, 0)), 250);
    /* Postfix's reply to BDAT LAST counts the bytes it took: the message exactly, no dot-stuffing. */
    assert_memory_equal(smtpc_reply_text(smtpc_result_data_reply(res, 0), NULL),
                        "2.0.0 Ok: 93 bytes queued as ", 29);

    /* Pipelining with CHUNKING: MAIL, every RCPT and the whole message (BDAT LAST, no dot-stuffing)
     * were all written before the first reply was read. */
    size_t i = after_ehlo(&t);
    static const char *const batch[] = {"MAIL FROM:<sender@example.org> SIZE=93\r\n",
                                        "RCPT TO:<one@example.org>\r\n",
                                        "RCPT TO:<reject1@example.org>\r\n",
                                        "RCPT TO:<two@example.org>\r\n",
                                        "RCPT TO:<three@example.org>\r\n",
                                        "BDAT 93 LAST\r\n"};
    size_t k = 0;
    for (; i < t.n && t.ev[i].kind != SMTPC_TRACE_RECV; i++) {
        if (t.ev[i].kind != SMTPC_TRACE_SEND) continue;
        if (k >= 6) {
            dump_trace(&t);
            fail_msg("more than MAIL, 4 RCPT and BDAT sent before the first reply");
        }
        ITEST_ASSERT_BYTES_NOCASE(t.ev[i].data, t.ev[i].len, batch[k], strlen(batch[k]));
        k++;
    }
    if (k != 6) {
        dump_trace(&t);
        fail_msg("only %zu of MAIL, 4 RCPT and BDAT were sent before the first reply was read", k);
    }
    /* Then the replies: MAIL, 4 x RCPT, and the message's (no 354 with BDAT). */
    static const char *const replies[] = {"250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n",
                                          "550 5.1.1 <reject1@example.org>: Recipient address rejected: "
                                          "Recipient address rejected (test)\r\n",
                                          "250 2.1.5 Ok\r\n", "250 2.1.5 Ok\r\n"};
    for (k = 0; k < 5; i++) {
        assert_true(i < t.n);
        if (t.ev[i].kind == SMTPC_TRACE_INFO) continue;
        assert_int_equal(t.ev[i].kind, SMTPC_TRACE_RECV);
        ITEST_ASSERT_BYTES(t.ev[i].data, t.ev[i].len, replies[k], strlen(replies[k]));
        k++;
    }
    while (i < t.n && t.ev[i].kind == SMTPC_TRACE_INFO) i++;
    assert_true(i < t.n);
    assert_int_equal(t.ev[i].kind, SMTPC_TRACE_RECV);
    assert_memory_equal(t.ev[i].data, "250 2.0.0 Ok: 93 bytes queued as ", 33);

    /* Still in sync. */
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "2.0.0 Ok");
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    itest_trace_clear(&t);

    /* The message arrives intact through Postfix (its Received: line is removed by header_checks). */
    itest_msg m;
    if (find_delivered(want, sizeof want - 1, &m) != 0) {
        size_t n = itest_msg_count(&g_pf);
        fprintf(stderr, "%zu messages in the sink spool\n", n);
        for (size_t j = 0; j < n; j++) {
            if (itest_load_msg(&g_pf, j, 1000, &m) == 0) {
                itest_dump("delivered", m.content, m.content_len);
                itest_msg_free(&m);
            }
        }
        fail_msg("the message did not arrive intact at the sink");
    }
    assert_string_equal(m.mail_from, "sender@example.org");
    /* Postfix's queue manager may reorder recipients: compare as a set. */
    assert_int_equal(m.rcpt_count, 3);
    static const char *const delivered[] = {"one@example.org", "two@example.org", "three@example.org"};
    for (size_t d = 0; d < 3; d++) {
        int found = 0;
        for (size_t j = 0; j < m.rcpt_count; j++) found += strcmp(m.rcpt_tos[j], delivered[d]) == 0;
        if (found != 1) fail_msg("recipient %s delivered %d times", delivered[d], found);
    }
    itest_msg_free(&m);
}

static void test_postfix_pipelining_disabled(void **state) {
    (void)state;
    itest_trace t = {0};
    static const char *const rcpts[] = {"four@example.org", "five@example.org", NULL};
    smtpc_envelope *env = make_env("sender@example.org", rcpts);
    smtpc_client *c = pf_client(&t);
    assert_int_equal(smtpc_client_set_pipelining(c, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR("Subject: one by one\r\n\r\nbody\r\n")),
                     SMTPC_OK);
    /* Strict alternation after EHLO: each SEND is followed by its reply before the next SEND. */
    size_t i = after_ehlo(&t);
    int last_send = 0;
    size_t sends = 0;
    for (; i < t.n; i++) {
        if (t.ev[i].kind == SMTPC_TRACE_SEND) {
            if (last_send) {
                dump_trace(&t);
                fail_msg("two commands sent without reading a reply with pipelining off");
            }
            last_send = 1;
            sends++;
        } else if (t.ev[i].kind == SMTPC_TRACE_RECV) {
            last_send = 0;
        }
    }
    assert_int_equal(sends, 4); /* MAIL, RCPT, RCPT, BDAT LAST */
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    itest_trace_clear(&t);
}

/* smtpc_client_set_chunking(0): DATA and a dot-stuffed message, delivered intact all the same. */
static void test_postfix_chunking_disabled(void **state) {
    (void)state;
    itest_trace t = {0};
    static const char *const rcpts[] = {"nine@example.org", NULL};
    smtpc_envelope *env = make_env("sender@example.org", rcpts);
    static const char body[] = "Subject: with DATA\r\n\r\n.leading dot\r\nend\r\n";
    smtpc_client *c = pf_client(&t);
    assert_int_equal(smtpc_client_set_chunking(c, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail(c, env, body, sizeof body - 1), SMTPC_OK);
    int data = 0, bdat = 0;
    for (size_t i = after_ehlo(&t); i < t.n; i++) {
        if (t.ev[i].kind != SMTPC_TRACE_SEND) continue;
        data += t.ev[i].len == 6 && memcmp(t.ev[i].data, "DATA\r\n", 6) == 0;
        bdat += t.ev[i].len >= 4 && memcmp(t.ev[i].data, "BDAT", 4) == 0;
    }
    if (data != 1 || bdat != 0) {
        dump_trace(&t);
        fail_msg("chunking off: %d DATA and %d BDAT sent, expected 1 and 0", data, bdat);
    }
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    itest_trace_clear(&t);
    itest_msg m;
    assert_int_equal(find_delivered(body, sizeof body - 1, &m), 0);
    assert_int_equal(m.rcpt_count, 1);
    assert_string_equal(m.rcpt_tos[0], "nine@example.org");
    itest_msg_free(&m);
}

static void test_postfix_pipelined_refusals_stay_in_sync(void **state) {
    (void)state;
    smtpc_client *c = pf_client(NULL);

    /* Sender refused inside a pipelined batch: the RCPT and DATA replies must be read too. */
    static const char *const r1[] = {"six@example.org", "seven@example.org", NULL};
    smtpc_envelope *env = make_env("refuse-x@example.org", r1);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR("x\r\n")), SMTPC_ESENDER_REFUSED);
    ITEST_ASSERT_REPLY(
        smtpc_result_mail_reply(smtpc_client_last_result(c)), 550,
        "5.7.1 <refuse-x@example.org>: Sender address rejected: Sender address rejected (test)");
    assert_int_equal(smtpc_result_delivered_count(smtpc_client_last_result(c)), 0);
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "2.0.0 Ok");
    smtpc_envelope_free(env);

    /* Every recipient refused: DATA's reply (554 no valid recipients) must be consumed. */
    static const char *const r2[] = {"reject2@example.org", "reject3@example.org", NULL};
    env = make_env("sender@example.org", r2);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR("x\r\n")), SMTPC_ERECIPIENTS_REFUSED);
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    ITEST_ASSERT_REPLY(
        smtpc_result_rcpt_reply(res, 0), 550,
        "5.1.1 <reject2@example.org>: Recipient address rejected: Recipient address rejected (test)");
    ITEST_ASSERT_REPLY(
        smtpc_result_rcpt_reply(res, 1), 550,
        "5.1.1 <reject3@example.org>: Recipient address rejected: Recipient address rejected (test)");
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "2.0.0 Ok");
    smtpc_envelope_free(env);

    /* And a good transaction still works on the same connection. */
    static const char *const r3[] = {"eight@example.org", NULL};
    env = make_env("sender@example.org", r3);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR("Subject: after refusals\r\n\r\nok\r\n")),
                     SMTPC_OK);
    assert_int_equal(smtpc_result_state(smtpc_client_last_result(c), 0), SMTPC_RCPT_DELIVERED);
    smtpc_envelope_free(env);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);

    itest_msg m;
    assert_int_equal(find_delivered(ITEST_STR("Subject: after refusals\r\n\r\nok\r\n"), &m), 0);
    assert_int_equal(m.rcpt_count, 1);
    assert_string_equal(m.rcpt_tos[0], "eight@example.org");
    itest_msg_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postfix_ehlo),
        cmocka_unit_test(test_postfix_pipelined_sendmail),
        cmocka_unit_test(test_postfix_pipelining_disabled),
        cmocka_unit_test(test_postfix_chunking_disabled),
        cmocka_unit_test(test_postfix_pipelined_refusals_stay_in_sync),
    };
    return cmocka_run_group_tests_name("postfix", tests, group_setup, group_teardown);
}
