/* SPDX-License-Identifier: MIT */
/*
 * smtpc_client_sendmail() / sendmail_stream() against aiosmtpd (tests/servers/aiosmtpd_server.py):
 * the exact bytes and envelope that arrive, SIZE and options, per-recipient results and refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

static itest_server g_srv;    /* SIZE 33554432, 8BITMIME, SMTPUTF8 */
static itest_server g_plain;  /* no SMTPUTF8, no SIZE */
static itest_server g_noehlo; /* EHLO refused: HELO only */

static int group_setup(void **state) {
    (void)state;
    if (itest_start_aiosmtpd(&g_srv, 0, NULL) != 0) return -1;
    const char *plain[] = {"--no-smtputf8", "--size", "0", NULL};
    if (itest_start_aiosmtpd(&g_plain, 0, plain) != 0) return -1;
    const char *noehlo[] = {"--no-ehlo", NULL};
    if (itest_start_aiosmtpd(&g_noehlo, 0, noehlo) != 0) return -1;
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_srv);
    itest_stop(&g_plain);
    itest_stop(&g_noehlo);
    return 0;
}

static smtpc_client *connected_client(itest_server *srv) {
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(itest_connect(c, srv), SMTPC_OK);
    return c;
}

static void quit_and_free(smtpc_client *c) {
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
}

/* An envelope: sender, then recipients, NULL-terminated. */
static smtpc_envelope *make_env(const char *sender, ...) {
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    if (sender != NULL) assert_int_equal(smtpc_envelope_set_sender(env, sender, SMTPC_NTS), SMTPC_OK);
    va_list ap;
    va_start(ap, sender);
    const char *r;
    while ((r = va_arg(ap, const char *)) != NULL)
        assert_int_equal(smtpc_envelope_add_recipient(env, r, SMTPC_NTS), SMTPC_OK);
    va_end(ap);
    return env;
}

/* Start of the last case-insensitive occurrence of needle in hay, or NULL. */
static const char *find_last_nocase(const char *hay, size_t hlen, const char *needle) {
    size_t nlen = strlen(needle);
    if (nlen > hlen) return NULL;
    for (size_t i = hlen - nlen + 1; i-- > 0;)
        if (itest_eq_nocase(hay + i, nlen, needle, nlen)) return hay + i;
    return NULL;
}

/* What went on the wire after the last DATA command of a recorded message. */
static void wire_data(const itest_msg *m, const char **p, size_t *len) {
    const char *d = find_last_nocase(m->raw, m->raw_len, "\r\nDATA\r\n");
    assert_non_null(d);
    d += 8;
    *p = d;
    *len = m->raw_len - (size_t)(d - m->raw);
}

/* ---- exact bytes ---- */

static const struct {
    const char *name;
    const char *in;
    size_t in_len;
    const char *content; /* as stored by the server after un-stuffing */
    const char *wire;    /* as sent after DATA, with the terminating ".\r\n" */
} k_cases[] = {
#define C(name, in, content, wire) \
    { name, in, sizeof(in) - 1, content, wire }
    C("dot-stuffing", "Subject: dots\r\n\r\n.leading\r\n..two\r\nmid.dle\r\n.\r\nend",
      "Subject: dots\r\n\r\n.leading\r\n..two\r\nmid.dle\r\n.\r\nend\r\n",
      "Subject: dots\r\n\r\n..leading\r\n...two\r\nmid.dle\r\n..\r\nend\r\n.\r\n"),
    C("only a dot", ".", ".\r\n", "..\r\n.\r\n"),
    C("only a dot line", ".\r\n", ".\r\n", "..\r\n.\r\n"),
    C("CRLF.CRLF inside", "a\r\n.\r\nb\r\n", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"),
    C("lone LF and CR", "a\nb\rc\r\nd", "a\r\nb\r\nc\r\nd\r\n", "a\r\nb\r\nc\r\nd\r\n.\r\n"),
    C("CR before CRLF, LF LF, final CR", "x\r\r\ny\n\nz\r", "x\r\n\r\ny\r\n\r\nz\r\n",
      "x\r\n\r\ny\r\n\r\nz\r\n.\r\n"),
    C("dot after lone LF", "a\n..b\n.", "a\r\n..b\r\n.\r\n", "a\r\n...b\r\n..\r\n.\r\n"),
    C("final CRLF added", "no final newline", "no final newline\r\n", "no final newline\r\n.\r\n"),
    C("8-bit bytes", "caf\xc3\xa9 \xff\r\n", "caf\xc3\xa9 \xff\r\n", "caf\xc3\xa9 \xff\r\n.\r\n"),
    C("empty message", "", "\r\n", "\r\n.\r\n"),
#undef C
};

static void test_sendmail_exact_bytes(void **state) {
    (void)state;
    size_t n = sizeof k_cases / sizeof k_cases[0];
    size_t before = itest_msg_count(&g_srv);
    smtpc_envelope *env = make_env("sender@example.org", "rcpt@example.org", NULL);
    smtpc_client *c = connected_client(&g_srv);
    for (size_t i = 0; i < n; i++) {
        smtpc_status st = smtpc_client_sendmail(c, env, k_cases[i].in, k_cases[i].in_len);
        if (st != SMTPC_OK)
            fail_msg("case '%s': sendmail returned %s: %s", k_cases[i].name, smtpc_status_name(st),
                     smtpc_client_errmsg(c));
        const smtpc_result *res = smtpc_client_last_result(c);
        assert_non_null(res);
        assert_int_equal(smtpc_result_count(res), 1);
        assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    }
    quit_and_free(c);
    smtpc_envelope_free(env);

    for (size_t i = 0; i < n; i++) {
        itest_msg m;
        assert_int_equal(itest_load_msg(&g_srv, before + i, 10000, &m), 0);
        fprintf(stderr, "case '%s'\n", k_cases[i].name);
        ITEST_ASSERT_BYTES(m.content, m.content_len, k_cases[i].content, strlen(k_cases[i].content));
        const char *w;
        size_t wlen;
        wire_data(&m, &w, &wlen);
        ITEST_ASSERT_BYTES(w, wlen, k_cases[i].wire, strlen(k_cases[i].wire));
        assert_string_equal(m.mail_from, "sender@example.org");
        assert_int_equal(m.rcpt_count, 1);
        assert_string_equal(m.rcpt_tos[0], "rcpt@example.org");
        itest_msg_free(&m);
    }
}

/* ---- SIZE and options ---- */

static void send_with_options(itest_server *srv, const char *msg, itest_msg *m, smtpc_status want) {
    size_t before = itest_msg_count(srv);
    smtpc_envelope *env = make_env("sender@example.org", "r1@example.org", "r2@example.org", NULL);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "BODY=8BITMIME", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_rcpt_option(env, "NOTIFY=SUCCESS,FAILURE", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_recipient_count(env), 2);
    smtpc_client *c = connected_client(srv);
    assert_int_equal(smtpc_client_sendmail(c, env, msg, strlen(msg)), want);
    quit_and_free(c);
    smtpc_envelope_free(env);
    assert_int_equal(itest_load_msg(srv, before, 10000, m), 0);
}

static void test_sendmail_size_and_options(void **state) {
    (void)state;
    /* "Subject: s\r\n\r\nbody\r\n" after line-end normalisation: 20 octets. */
    static const char msg[] = "Subject: s\n\nbody\n";
    static const char norm[] = "Subject: s\r\n\r\nbody\r\n";
    itest_msg m;

    send_with_options(&g_srv, msg, &m, SMTPC_OK);
    assert_true(m.esmtp);
    ITEST_ASSERT_BYTES_NOCASE(m.mail_options, strlen(m.mail_options), ITEST_STR("SIZE=20 BODY=8BITMIME"));
    assert_int_equal(m.rcpt_count, 2);
    assert_string_equal(m.rcpt_tos[0], "r1@example.org");
    assert_string_equal(m.rcpt_tos[1], "r2@example.org");
    ITEST_ASSERT_BYTES_NOCASE(m.rcpt_options[0], strlen(m.rcpt_options[0]),
                              ITEST_STR("NOTIFY=SUCCESS,FAILURE"));
    ITEST_ASSERT_BYTES_NOCASE(m.rcpt_options[1], strlen(m.rcpt_options[1]),
                              ITEST_STR("NOTIFY=SUCCESS,FAILURE"));
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(norm));
    ITEST_ASSERT_BYTES_NOCASE(
        m.raw, m.raw_len,
        ITEST_STR("EHLO client.example\r\nMAIL FROM:<sender@example.org> SIZE=20 BODY=8BITMIME\r\n"
                  "RCPT TO:<r1@example.org> NOTIFY=SUCCESS,FAILURE\r\n"
                  "RCPT TO:<r2@example.org> NOTIFY=SUCCESS,FAILURE\r\nDATA\r\n"
                  "Subject: s\r\n\r\nbody\r\n.\r\n"));
    itest_msg_free(&m);

    /* No SIZE offered: no SIZE sent; the options still are. */
    send_with_options(&g_plain, msg, &m, SMTPC_OK);
    assert_true(m.esmtp);
    ITEST_ASSERT_BYTES_NOCASE(m.mail_options, strlen(m.mail_options), ITEST_STR("BODY=8BITMIME"));
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(norm));
    itest_msg_free(&m);

    /* Server without EHLO: HELO, and neither SIZE nor options (as smtplib). */
    send_with_options(&g_noehlo, msg, &m, SMTPC_OK);
    assert_false(m.esmtp);
    assert_string_equal(m.mail_options, "");
    assert_string_equal(m.rcpt_options[0], "");
    assert_string_equal(m.rcpt_options[1], "");
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(norm));
    ITEST_ASSERT_BYTES_NOCASE(
        m.raw, m.raw_len,
        ITEST_STR("EHLO client.example\r\nHELO client.example\r\n"
                  "MAIL FROM:<sender@example.org>\r\nRCPT TO:<r1@example.org>\r\n"
                  "RCPT TO:<r2@example.org>\r\nDATA\r\nSubject: s\r\n\r\nbody\r\n.\r\n"));
    itest_msg_free(&m);
}

/* After EHLO then HELO the session is not ESMTP any more (the server said so by accepting HELO, and
 * the header says HELO clears the feature map): no SIZE and no options may follow. aiosmtpd answers
 * MAIL parameters after HELO with 501. */
static void test_sendmail_after_helo_sends_no_esmtp_parameters(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_srv);
    smtpc_envelope *env = make_env("sender@example.org", "r1@example.org", NULL);
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_helo(c, NULL, 0), SMTPC_OK);
    smtpc_status st = smtpc_client_sendmail(c, env, "hi\r\n", 4);
    if (st != SMTPC_OK)
        fprintf(stderr, "sendmail after EHLO+HELO: %s: %s\n", smtpc_status_name(st), smtpc_client_errmsg(c));
    quit_and_free(c);
    smtpc_envelope_free(env);
    assert_int_equal(st, SMTPC_OK);
    itest_msg m;
    assert_int_equal(itest_load_msg(&g_srv, before, 10000, &m), 0);
    assert_string_equal(m.mail_options, "");
    itest_msg_free(&m);
}

/* ---- refusals ---- */

static void test_sendmail_some_recipients_refused(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_srv);
    smtpc_envelope *env = make_env("sender@example.org", "ok1@example.org", "reject1@example.org",
                                   "ok2@example.org", "defer1@example.org", NULL);
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR("Subject: partial\r\n\r\nhello\r\n")), SMTPC_OK);
    const smtpc_reply *last = smtpc_client_last_reply(c);
    assert_int_equal(smtpc_reply_code(last), 250);
    assert_memory_equal(smtpc_reply_text(last, NULL), "2.0.0 OK: queued as ", 20);

    const smtpc_result *res = smtpc_client_last_result(c);
    assert_non_null(res);
    assert_int_equal(smtpc_result_count(res), 4);
    ITEST_ASSERT_REPLY(smtpc_result_mail_reply(res), 250, "2.1.0 Sender OK");
    static const char *const rc[] = {"ok1@example.org", "reject1@example.org", "ok2@example.org",
                                     "defer1@example.org"};
    for (size_t i = 0; i < 4; i++) assert_string_equal(smtpc_result_recipient(res, i, NULL), rc[i]);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 2), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 3), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_delivered_count(res), 2);
    ITEST_ASSERT_REPLY(smtpc_result_rcpt_reply(res, 0), 250, "2.1.5 Recipient OK");
    ITEST_ASSERT_REPLY(smtpc_result_rcpt_reply(res, 1), 550,
                       "5.1.1 <reject1@example.org>: Recipient address rejected");
    assert_string_equal(smtpc_reply_enhanced(smtpc_result_rcpt_reply(res, 1)), "5.1.1");
    ITEST_ASSERT_REPLY(smtpc_result_rcpt_reply(res, 3), 450,
                       "4.2.1 <defer1@example.org>: Mailbox busy, try later");
    assert_string_equal(smtpc_reply_enhanced(smtpc_result_rcpt_reply(res, 3)), "4.2.1");
    assert_int_equal(smtpc_reply_code(smtpc_result_data_reply(res, 0)), 250);
    assert_int_equal(smtpc_reply_code(smtpc_result_data_reply(res, 2)), 250);
    assert_null(smtpc_result_data_reply(res, 1));
    assert_null(smtpc_result_data_reply(res, 3));
    quit_and_free(c);
    smtpc_envelope_free(env);

    itest_msg m;
    assert_int_equal(itest_load_msg(&g_srv, before, 10000, &m), 0);
    assert_int_equal(m.rcpt_count, 2);
    assert_string_equal(m.rcpt_tos[0], "ok1@example.org");
    assert_string_equal(m.rcpt_tos[1], "ok2@example.org");
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR("Subject: partial\r\n\r\nhello\r\n"));
    itest_msg_free(&m);
}

static void test_sendmail_all_recipients_refused(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_srv);
    smtpc_envelope *env = make_env("sender@example.org", "reject1@example.org", "defer2@example.org", NULL);
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR("hello\r\n")), SMTPC_ERECIPIENTS_REFUSED);
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_non_null(res);
    assert_int_equal(smtpc_result_count(res), 2);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    ITEST_ASSERT_REPLY(smtpc_result_rcpt_reply(res, 0), 550,
                       "5.1.1 <reject1@example.org>: Recipient address rejected");
    ITEST_ASSERT_REPLY(smtpc_result_rcpt_reply(res, 1), 450,
                       "4.2.1 <defer2@example.org>: Mailbox busy, try later");
    assert_int_equal(smtpc_result_delivered_count(res), 0);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    /* RSET was sent; the session goes on. */
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "OK");
    quit_and_free(c);
    smtpc_envelope_free(env);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(
        raw, rawlen,
        ITEST_STR("EHLO client.example\r\nMAIL FROM:<sender@example.org> SIZE=7\r\n"
                  "RCPT TO:<reject1@example.org>\r\nRCPT TO:<defer2@example.org>\r\nRSET\r\n"
                  "NOOP\r\nQUIT\r\n"));
    free(raw);
    assert_int_equal(itest_msg_count(&g_srv), before);
}

static void test_sendmail_sender_refused(void **state) {
    (void)state;
    smtpc_envelope *env = make_env("refuse-me@example.org", "ok1@example.org", "ok2@example.org", NULL);
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR("hello\r\n")), SMTPC_ESENDER_REFUSED);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 550,
                       "5.7.1 <refuse-me@example.org>: Sender address rejected");
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_non_null(res);
    ITEST_ASSERT_REPLY(smtpc_result_mail_reply(res), 550,
                       "5.7.1 <refuse-me@example.org>: Sender address rejected");
    assert_int_equal(smtpc_result_count(res), 2);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_NOT_ATTEMPTED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_NOT_ATTEMPTED);
    assert_null(smtpc_result_rcpt_reply(res, 0));
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    quit_and_free(c);
    smtpc_envelope_free(env);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen,
                              ITEST_STR("EHLO client.example\r\nMAIL FROM:<refuse-me@example.org> SIZE=7\r\n"
                                        "RSET\r\nNOOP\r\nQUIT\r\n"));
    free(raw);
}

static void test_sendmail_data_refused(void **state) {
    (void)state;
    smtpc_envelope *env = make_env("sender@example.org", "ok1@example.org", "fail1@example.org", NULL);
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR("hello\r\n")), SMTPC_EDATA_REFUSED);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 554, "5.6.0 Message refused");
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_non_null(res);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_FAILED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_FAILED);
    ITEST_ASSERT_REPLY(smtpc_result_data_reply(res, 0), 554, "5.6.0 Message refused");
    ITEST_ASSERT_REPLY(smtpc_result_data_reply(res, 1), 554, "5.6.0 Message refused");
    assert_int_equal(smtpc_result_delivered_count(res), 0);
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    quit_and_free(c);
    smtpc_envelope_free(env);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen,
                              ITEST_STR("EHLO client.example\r\nMAIL FROM:<sender@example.org> SIZE=7\r\n"
                                        "RCPT TO:<ok1@example.org>\r\nRCPT TO:<fail1@example.org>\r\nDATA\r\n"
                                        "hello\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n"));
    free(raw);
}

/* ---- SMTPUTF8 ---- */

static void test_smtputf8_not_offered(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_plain);
    smtpc_envelope *env = make_env("sender@example.org", "r1@example.org", NULL);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "SMTPUTF8", SMTPC_NTS), SMTPC_OK);
    smtpc_client *c = connected_client(&g_plain);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR("hello\r\n")), SMTPC_ENOTSUPPORTED);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    /* Low level too. */
    assert_int_equal(smtpc_client_mail(c, "sender@example.org", SMTPC_NTS, "SMTPUTF8", SMTPC_NTS),
                     SMTPC_ENOTSUPPORTED);
    assert_int_equal(
        smtpc_client_mail(c, "sender@example.org", SMTPC_NTS, "BODY=8BITMIME SMTPUTF8", SMTPC_NTS),
        SMTPC_ENOTSUPPORTED);
    /* A non-ASCII address without SMTPUTF8. */
    assert_int_equal(smtpc_client_mail(c, "j\xc3\xb6rg@example.org", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    quit_and_free(c);
    smtpc_envelope_free(env);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_plain, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen, ITEST_STR("EHLO client.example\r\nQUIT\r\n"));
    free(raw);
    assert_int_equal(itest_msg_count(&g_plain), before);
}

static void test_smtputf8_offered(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_srv);
    smtpc_envelope *env = make_env("j\xc3\xb6rg@b\xc3\xbc"
                                   "cher.example",
                                   "\xe7\x94\xa8\xe6\x88\xb7@example.org", NULL);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "SMTPUTF8", SMTPC_NTS), SMTPC_OK);
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR("Subject: utf8\r\n\r\n\xe2\x9c\x93\r\n")),
                     SMTPC_OK);
    quit_and_free(c);
    smtpc_envelope_free(env);

    itest_msg m;
    assert_int_equal(itest_load_msg(&g_srv, before, 10000, &m), 0);
    ITEST_ASSERT_BYTES(m.mail_from, m.mail_from_len,
                       ITEST_STR("j\xc3\xb6rg@b\xc3\xbc"
                                 "cher.example"));
    assert_int_equal(m.rcpt_count, 1);
    assert_string_equal(m.rcpt_tos[0], "\xe7\x94\xa8\xe6\x88\xb7@example.org");
    /* 8-bit content and 8BITMIME offered: BODY=8BITMIME is added (RFC 6152) */
    ITEST_ASSERT_BYTES_NOCASE(m.mail_options, strlen(m.mail_options),
                              ITEST_STR("SIZE=22 SMTPUTF8 BODY=8BITMIME"));
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR("Subject: utf8\r\n\r\n\xe2\x9c\x93\r\n"));
    itest_msg_free(&m);
}

/* ---- envelopes ---- */

static void test_null_sender_and_envelope_reuse(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_srv);
    smtpc_envelope *env = make_env(NULL, "r1@example.org", NULL); /* sender "" */
    smtpc_client *a = connected_client(&g_srv);
    smtpc_client *b = connected_client(&g_srv);
    assert_int_equal(smtpc_client_sendmail(a, env, ITEST_STR("one\r\n")), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail(b, env, ITEST_STR("two\r\n")), SMTPC_OK);
    /* The envelope can change between sends. */
    assert_int_equal(smtpc_envelope_set_sender(env, "<s@example.org>", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "r2@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail(a, env, ITEST_STR("three\r\n")), SMTPC_OK);
    assert_int_equal(smtpc_result_count(smtpc_client_last_result(a)), 2);
    quit_and_free(a);
    quit_and_free(b);
    smtpc_envelope_free(env);

    static const char *const bodies[] = {"one\r\n", "two\r\n", "three\r\n"};
    int seen[3] = {0, 0, 0};
    for (size_t i = 0; i < 3; i++) {
        itest_msg m;
        assert_int_equal(itest_load_msg(&g_srv, before + i, 10000, &m), 0);
        for (size_t k = 0; k < 3; k++) {
            if (m.content_len == strlen(bodies[k]) && memcmp(m.content, bodies[k], m.content_len) == 0) {
                seen[k]++;
                if (k < 2) {
                    assert_int_equal(m.mail_from_len, 0);
                    assert_int_equal(m.rcpt_count, 1);
                } else {
                    assert_string_equal(m.mail_from, "s@example.org");
                    assert_int_equal(m.rcpt_count, 2);
                    assert_string_equal(m.rcpt_tos[1], "r2@example.org");
                }
            }
        }
        itest_msg_free(&m);
    }
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 1);
    assert_int_equal(seen[2], 1);
}

static void test_sendmail_not_connected(void **state) {
    (void)state;
    smtpc_envelope *env = make_env("s@example.org", "r1@example.org", NULL);
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(smtpc_client_sendmail(c, env, ITEST_STR("x\r\n")), SMTPC_ENOTCONN);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
}

/* ---- streaming ---- */

typedef struct {
    const char *data;
    size_t len, pos, chunk;
    int calls;
    int abort_at; /* call number that aborts, or 0 */
} stream_src;

static int stream_read(char *buf, size_t cap, size_t *len, void *userdata) {
    stream_src *s = userdata;
    s->calls++;
    if (s->abort_at != 0 && s->calls >= s->abort_at) return 1;
    size_t n = s->len - s->pos;
    if (n > s->chunk) n = s->chunk;
    if (n > cap) n = cap;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    *len = n;
    return 0;
}

static void test_sendmail_stream(void **state) {
    (void)state;
    /* Chunks of 3 bytes split CRLF pairs and dots across reads. */
    static const char msg[] = "Subject: stream\n\n.dot\r\nline\r\r\n..x\r";
    static const char want[] = "Subject: stream\r\n\r\n.dot\r\nline\r\n\r\n..x\r\n";
    static const char wire[] = "Subject: stream\r\n\r\n..dot\r\nline\r\n\r\n...x\r\n.\r\n";
    size_t before = itest_msg_count(&g_srv);
    smtpc_envelope *env = make_env("s@example.org", "r1@example.org", NULL);
    smtpc_client *c = connected_client(&g_srv);

    stream_src src = {msg, sizeof msg - 1, 0, 3, 0, 0};
    assert_int_equal(smtpc_client_sendmail_stream(c, env, 0, stream_read, &src), SMTPC_OK);
    stream_src src2 = {msg, sizeof msg - 1, 0, 1000, 0, 0};
    assert_int_equal(smtpc_client_sendmail_stream(c, env, sizeof want - 1, stream_read, &src2), SMTPC_OK);

    /* An abort from the callback closes the connection (the message cannot be withdrawn). */
    stream_src src3 = {msg, sizeof msg - 1, 0, 3, 0, 2};
    assert_int_equal(smtpc_client_sendmail_stream(c, env, 0, stream_read, &src3), SMTPC_EUSER);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(src3.calls, 2);
    smtpc_client_free(c);
    smtpc_envelope_free(env);

    itest_msg m;
    assert_int_equal(itest_load_msg(&g_srv, before, 10000, &m), 0);
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(want));
    assert_string_equal(m.mail_options, ""); /* no size hint: no SIZE */
    const char *w;
    size_t wlen;
    wire_data(&m, &w, &wlen);
    ITEST_ASSERT_BYTES(w, wlen, ITEST_STR(wire));
    itest_msg_free(&m);

    assert_int_equal(itest_load_msg(&g_srv, before + 1, 10000, &m), 0);
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(want));
    ITEST_ASSERT_BYTES_NOCASE(m.mail_options, strlen(m.mail_options), ITEST_STR("SIZE=38"));
    itest_msg_free(&m);
    /* The aborted message never completed. */
    assert_int_equal(itest_msg_count(&g_srv), before + 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sendmail_exact_bytes),
        cmocka_unit_test(test_sendmail_size_and_options),
        cmocka_unit_test(test_sendmail_after_helo_sends_no_esmtp_parameters),
        cmocka_unit_test(test_sendmail_some_recipients_refused),
        cmocka_unit_test(test_sendmail_all_recipients_refused),
        cmocka_unit_test(test_sendmail_sender_refused),
        cmocka_unit_test(test_sendmail_data_refused),
        cmocka_unit_test(test_smtputf8_not_offered),
        cmocka_unit_test(test_smtputf8_offered),
        cmocka_unit_test(test_null_sender_and_envelope_reuse),
        cmocka_unit_test(test_sendmail_not_connected),
        cmocka_unit_test(test_sendmail_stream),
    };
    return cmocka_run_group_tests_name("smtp_sendmail", tests, group_setup, group_teardown);
}
