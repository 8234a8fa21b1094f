/* SPDX-License-Identifier: MIT */
/*
 * Integration tests against aiosmtpd (tests/servers/aiosmtpd_server.py) in SMTP mode: connection,
 * greeting, EHLO/HELO and the feature map, simple commands, low-level MAIL/RCPT/DATA, argument
 * validation, reconnecting, host:port parsing and the trace callback.
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

#define GREETING "smtpc.test smtpc-test-server"
#define HELP_ALL "Supported commands: AUTH DATA EHLO HELO HELP MAIL NOOP QUIT RCPT RSET VRFY"

static itest_server g_srv;    /* default aiosmtpd, with a few extra EHLO lines */
static itest_server g_noehlo; /* refuses EHLO with 502 */

static int group_setup(void **state) {
    (void)state;
    const char *extra[] = {"--ehlo-extra",
                           "AUTH CRAM-MD5",
                           "--ehlo-extra",
                           "X-SMTPC-TEST  alpha  beta  ",
                           "--ehlo-extra",
                           "AUTH=LOGIN PLAIN",
                           NULL};
    if (itest_start_aiosmtpd(&g_srv, 0, extra) != 0) return -1;
    const char *extra2[] = {"--no-ehlo", NULL};
    if (itest_start_aiosmtpd(&g_noehlo, 0, extra2) != 0) {
        itest_stop(&g_srv);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_srv);
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

static void test_connect_greeting(void **state) {
    (void)state;
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(smtpc_client_protocol(c), SMTPC_PROTOCOL_SMTP);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_null(smtpc_client_last_reply(c));

    assert_int_equal(itest_connect(c, &g_srv), SMTPC_OK);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    assert_int_equal(smtpc_client_last_status(c), SMTPC_OK);
    assert_string_equal(smtpc_client_errmsg(c), "");
    const smtpc_reply *r = smtpc_client_last_reply(c);
    ITEST_ASSERT_REPLY(r, 220, GREETING);
    assert_int_equal(smtpc_reply_line_count(r), 1);
    size_t len = 0;
    assert_string_equal(smtpc_reply_line(r, 0, &len), GREETING);
    assert_int_equal(len, strlen(GREETING));
    assert_null(smtpc_reply_line(r, 1, NULL));
    assert_string_equal(smtpc_reply_enhanced(r), "");
    assert_int_equal(smtpc_client_does_esmtp(c), 0);
    assert_null(smtpc_client_ehlo_reply(c));
    assert_null(smtpc_client_helo_reply(c));

    /* A second connect on a connected handle is a state error and leaves the connection alone. */
    assert_int_equal(itest_connect(c, &g_srv), SMTPC_ESTATE);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);

    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 221, "Bye");
    assert_int_equal(smtpc_client_is_connected(c), 0);
    smtpc_client_free(c);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen, ITEST_STR("NOOP\r\nQUIT\r\n"));
    free(raw);
}

static void test_not_connected(void **state) {
    (void)state;
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(smtpc_client_noop(c), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_quit(c), SMTPC_ENOTCONN);
    smtpc_client_close(c); /* safe when not connected */
    assert_int_equal(smtpc_client_is_connected(c), 0);
    smtpc_client_free(c);
}

static void check_feature_map(smtpc_client *c) {
    assert_int_equal(smtpc_client_does_esmtp(c), 1);
    const smtpc_reply *r = smtpc_client_ehlo_reply(c);
    ITEST_ASSERT_REPLY(
        r, 250,
        "smtpc.test\nSIZE 33554432\n8BITMIME\nSMTPUTF8\nAUTH CRAM-MD5\nX-SMTPC-TEST  alpha  beta\n"
        "AUTH=LOGIN PLAIN\nHELP");
    assert_int_equal(smtpc_reply_line_count(r), 8);
    size_t len = 0;
    /* Lines are kept as received: the trailing spaces stay. */
    assert_string_equal(smtpc_reply_line(r, 5, &len), "X-SMTPC-TEST  alpha  beta  ");
    assert_int_equal(len, strlen("X-SMTPC-TEST  alpha  beta  "));
    assert_string_equal(smtpc_reply_line(r, 0, NULL), "smtpc.test");
    assert_string_equal(smtpc_reply_line(r, 7, NULL), "HELP");

    assert_int_equal(smtpc_client_has_extn(c, "size", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "SIZE", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "8bitMIME", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "smtputf8", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "auth", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "x-smtpc-test", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "help", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "pipelining", SMTPC_NTS), 0);
    assert_int_equal(smtpc_client_has_extn(c, "starttls", SMTPC_NTS), 0);
    assert_int_equal(smtpc_client_has_extn(c, "smtpc", SMTPC_NTS), 0); /* the greeting line is no feature */
    assert_int_equal(smtpc_client_has_extn(c, "sizex", 4), 1);         /* explicit length: "size" */

    size_t plen = 99;
    assert_string_equal(smtpc_client_extn_params(c, "Size", SMTPC_NTS, &plen), "33554432");
    assert_int_equal(plen, 8);
    assert_string_equal(smtpc_client_extn_params(c, "8bitmime", SMTPC_NTS, &plen), "");
    assert_int_equal(plen, 0);
    assert_string_equal(smtpc_client_extn_params(c, "AUTH", SMTPC_NTS, NULL), " CRAM-MD5 LOGIN PLAIN");
    assert_string_equal(smtpc_client_extn_params(c, "x-smtpc-test", SMTPC_NTS, NULL), "alpha  beta");
    assert_null(smtpc_client_extn_params(c, "pipelining", SMTPC_NTS, NULL));

    static const char *const keys[] = {"size", "8bitmime", "smtputf8", "auth", "x-smtpc-test", "help"};
    static const char *const params[] = {"33554432", "", "", " CRAM-MD5 LOGIN PLAIN", "alpha  beta", ""};
    assert_int_equal(smtpc_client_extn_count(c), 6);
    for (size_t i = 0; i < 6; i++) {
        const char *k = smtpc_client_extn_name(c, i, NULL);
        const char *p = smtpc_client_extn_params_at(c, i, NULL);
        assert_non_null(k);
        assert_string_equal(k, keys[i]);
        assert_non_null(p);
        assert_string_equal(p, params[i]);
    }
    assert_null(smtpc_client_extn_name(c, 6, NULL));
    assert_null(smtpc_client_extn_params_at(c, 6, NULL));
}

static void test_ehlo_feature_map(void **state) {
    (void)state;
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_extn_count(c), 0);
    assert_int_equal(smtpc_client_has_extn(c, "size", SMTPC_NTS), 0);

    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK); /* uses the name set on the client */
    assert_string_equal(smtpc_client_local_hostname(c), "client.example");
    check_feature_map(c);
    /* last_reply is the EHLO reply too. */
    assert_int_equal(smtpc_reply_code(smtpc_client_last_reply(c)), 250);
    assert_int_equal(smtpc_reply_line_count(smtpc_client_last_reply(c)), 8);

    /* An explicit name overrides the client's. */
    assert_int_equal(smtpc_client_ehlo(c, "other.example", SMTPC_NTS), SMTPC_OK);
    check_feature_map(c);
    quit_and_free(c);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen,
                              ITEST_STR("EHLO client.example\r\nEHLO other.example\r\nQUIT\r\n"));
    free(raw);

    /* After QUIT the feature map and EHLO state are gone. */
}

static void test_quit_clears_state_and_reconnect(void **state) {
    (void)state;
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_extn_count(c), 6);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(smtpc_client_does_esmtp(c), 0);
    assert_int_equal(smtpc_client_extn_count(c), 0);
    assert_int_equal(smtpc_client_has_extn(c, "size", SMTPC_NTS), 0);
    assert_null(smtpc_client_ehlo_reply(c));
    assert_int_equal(smtpc_client_noop(c), SMTPC_ENOTCONN);

    /* Same handle, new connection. */
    assert_int_equal(itest_connect(c, &g_srv), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 220, GREETING);
    assert_int_equal(smtpc_client_ehlo_or_helo_if_needed(c), SMTPC_OK);
    assert_int_equal(smtpc_client_extn_count(c), 6);
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);

    /* close() drops the connection without QUIT; connect again once more. */
    smtpc_client_close(c);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(smtpc_client_does_esmtp(c), 0);
    assert_int_equal(smtpc_client_extn_count(c), 0);
    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen, ITEST_STR("EHLO client.example\r\nNOOP\r\n"));
    free(raw);

    assert_int_equal(itest_connect(c, &g_srv), SMTPC_OK);
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    quit_and_free(c);
}

static void test_helo(void **state) {
    (void)state;
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_extn_count(c), 6);

    assert_int_equal(smtpc_client_helo(c, "helo.example", SMTPC_NTS), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_helo_reply(c), 250, "smtpc.test");
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "smtpc.test");
    /* HELO clears the feature map. (does_esmtp is not checked here: smtplib leaves it set after an
     * earlier EHLO, and the header only says "accepted EHLO on this connection".) Checked after the
     * session is closed, so that a failure leaks nothing. */
    size_t count_after_helo = smtpc_client_extn_count(c);
    int has_size_after_helo = smtpc_client_has_extn(c, "size", SMTPC_NTS);
    int params_after_helo = smtpc_client_extn_params(c, "size", SMTPC_NTS, NULL) != NULL;

    /* HELO with the client's own name. */
    assert_int_equal(smtpc_client_helo(c, NULL, 0), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_helo_reply(c), 250, "smtpc.test");
    quit_and_free(c);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(
        raw, rawlen,
        ITEST_STR("EHLO client.example\r\nHELO helo.example\r\nHELO client.example\r\nQUIT\r\n"));
    free(raw);

    assert_int_equal(count_after_helo, 0);
    assert_int_equal(has_size_after_helo, 0);
    assert_int_equal(params_after_helo, 0);
}

static void test_ehlo_or_helo_if_needed(void **state) {
    (void)state;
    /* ESMTP server: EHLO once, then nothing more. */
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_ehlo_or_helo_if_needed(c), SMTPC_OK);
    assert_int_equal(smtpc_client_does_esmtp(c), 1);
    assert_int_equal(smtpc_reply_code(smtpc_client_ehlo_reply(c)), 250);
    assert_null(smtpc_client_helo_reply(c));
    assert_int_equal(smtpc_client_ehlo_or_helo_if_needed(c), SMTPC_OK);
    quit_and_free(c);
    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen, ITEST_STR("EHLO client.example\r\nQUIT\r\n"));
    free(raw);

    /* HELO already answered: nothing is sent. */
    c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_helo(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_ehlo_or_helo_if_needed(c), SMTPC_OK);
    assert_int_equal(smtpc_client_does_esmtp(c), 0);
    quit_and_free(c);
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen, ITEST_STR("HELO client.example\r\nQUIT\r\n"));
    free(raw);

    /* Server refusing EHLO: falls back to HELO. */
    c = connected_client(&g_noehlo);
    assert_int_equal(smtpc_client_ehlo_or_helo_if_needed(c), SMTPC_OK);
    assert_int_equal(smtpc_client_does_esmtp(c), 0);
    ITEST_ASSERT_REPLY(smtpc_client_helo_reply(c), 250, "smtpc.test");
    assert_int_equal(smtpc_client_extn_count(c), 0);
    quit_and_free(c);
    assert_int_equal(itest_last_session(&g_noehlo, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen,
                              ITEST_STR("EHLO client.example\r\nHELO client.example\r\nQUIT\r\n"));
    free(raw);

    /* An explicit EHLO that is refused is a reply error, and the client is not ESMTP. */
    c = connected_client(&g_noehlo);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_EREPLY);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 502, "5.5.1 EHLO not supported here");
    assert_string_equal(smtpc_reply_enhanced(smtpc_client_last_reply(c)), "5.5.1");
    assert_int_equal(smtpc_client_does_esmtp(c), 0);
    assert_int_equal(smtpc_client_extn_count(c), 0);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    quit_and_free(c);
    assert_int_equal(itest_last_session(&g_noehlo, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen, ITEST_STR("EHLO client.example\r\nQUIT\r\n"));
    free(raw);
}

static void test_simple_commands(void **state) {
    (void)state;
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);

    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "OK");
    assert_int_equal(smtpc_client_rset(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "OK");

    assert_int_equal(smtpc_client_vrfy(c, "user@example.org", SMTPC_NTS), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 252,
                       "Cannot VRFY user, but will accept message and attempt delivery");

    assert_int_equal(smtpc_client_expn(c, "staff", SMTPC_NTS), SMTPC_EREPLY);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 502, "EXPN not implemented");

    assert_int_equal(smtpc_client_help(c, NULL, 0), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, HELP_ALL);
    assert_int_equal(smtpc_client_help(c, "NOOP", SMTPC_NTS), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "Syntax: NOOP [ignored]");
    assert_int_equal(smtpc_client_help(c, "XYZZY", SMTPC_NTS), SMTPC_EREPLY);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 501, HELP_ALL);

    assert_int_equal(smtpc_client_docmd(c, "NOOP", SMTPC_NTS, "ignored words", SMTPC_NTS), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "OK");
    assert_int_equal(smtpc_client_docmd(c, "RSET", SMTPC_NTS, NULL, 0), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "OK");
    assert_int_equal(smtpc_client_docmd(c, "XYZZY", SMTPC_NTS, "", 0), SMTPC_EREPLY);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 500, "Error: command \"XYZZY\" not recognized");
    assert_int_not_equal(smtpc_client_errmsg(c)[0], '\0');
    assert_int_equal(smtpc_client_last_status(c), SMTPC_EREPLY);
    assert_int_equal(smtpc_client_is_connected(c), 1); /* a 5xx reply keeps the connection */

    /* A reply copy outlives the next command. */
    smtpc_reply *copy = NULL;
    assert_int_equal(smtpc_reply_dup(&copy, smtpc_client_last_reply(c)), SMTPC_OK);
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(copy, 500, "Error: command \"XYZZY\" not recognized");
    smtpc_reply_free(copy);
    assert_string_equal(smtpc_client_errmsg(c), "");
    quit_and_free(c);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(
        raw, rawlen,
        ITEST_STR("EHLO client.example\r\nNOOP\r\nRSET\r\nVRFY user@example.org\r\n"
                  "EXPN staff\r\nHELP\r\nHELP NOOP\r\nHELP XYZZY\r\nNOOP ignored words\r\n"
                  "RSET\r\nXYZZY\r\nNOOP\r\nQUIT\r\n"));
    free(raw);
}

static void test_low_level_transaction(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_srv);
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    assert_null(smtpc_client_last_result(c));

    assert_int_equal(smtpc_client_mail(c, "alice@example.org", SMTPC_NTS, "BODY=8BITMIME", SMTPC_NTS),
                     SMTPC_OK);
    const smtpc_reply *r = smtpc_client_last_reply(c);
    ITEST_ASSERT_REPLY(r, 250, "2.1.0 Sender OK");
    assert_string_equal(smtpc_reply_enhanced(r), "2.1.0");

    assert_int_equal(smtpc_client_rcpt(c, "bob@example.org", SMTPC_NTS, NULL, 0), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "2.1.5 Recipient OK");
    assert_int_equal(smtpc_client_rcpt(c, "reject-carol@example.org", SMTPC_NTS, NULL, 0), SMTPC_EREPLY);
    r = smtpc_client_last_reply(c);
    ITEST_ASSERT_REPLY(r, 550, "5.1.1 <reject-carol@example.org>: Recipient address rejected");
    assert_string_equal(smtpc_reply_enhanced(r), "5.1.1");
    assert_int_equal(smtpc_client_rcpt(c, "dave@example.org", SMTPC_NTS, "NOTIFY=FAILURE", SMTPC_NTS),
                     SMTPC_OK);

    const smtpc_result *res = smtpc_client_last_result(c);
    assert_non_null(res);
    assert_int_equal(smtpc_result_count(res), 3);
    assert_string_equal(smtpc_result_recipient(res, 0, NULL), "bob@example.org");
    assert_string_equal(smtpc_result_recipient(res, 1, NULL), "reject-carol@example.org");
    assert_string_equal(smtpc_result_recipient(res, 2, NULL), "dave@example.org");
    assert_null(smtpc_result_recipient(res, 3, NULL));
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_ACCEPTED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 2), SMTPC_RCPT_ACCEPTED);
    assert_int_equal(smtpc_result_state(res, 3), SMTPC_RCPT_NOT_ATTEMPTED);
    ITEST_ASSERT_REPLY(smtpc_result_rcpt_reply(res, 1), 550,
                       "5.1.1 <reject-carol@example.org>: Recipient address rejected");
    ITEST_ASSERT_REPLY(smtpc_result_mail_reply(res), 250, "2.1.0 Sender OK");

    static const char msg[] = "Subject: low level\r\n\r\n.starts with a dot\nlone LF\r\n";
    assert_int_equal(smtpc_client_data(c, msg, sizeof msg - 1), SMTPC_OK);
    r = smtpc_client_last_reply(c);
    assert_int_equal(smtpc_reply_code(r), 250);
    assert_memory_equal(smtpc_reply_text(r, NULL), "2.0.0 OK: queued as ", 20);

    res = smtpc_client_last_result(c);
    assert_non_null(res);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 2), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_delivered_count(res), 2);
    assert_int_equal(smtpc_reply_code(smtpc_result_data_reply(res, 0)), 250);
    quit_and_free(c);

    itest_msg m;
    assert_int_equal(itest_load_msg(&g_srv, before, 10000, &m), 0);
    assert_string_equal(m.mail_from, "alice@example.org");
    assert_true(itest_eq_nocase(m.mail_options, strlen(m.mail_options), ITEST_STR("BODY=8BITMIME")));
    assert_int_equal(m.rcpt_count, 2);
    assert_string_equal(m.rcpt_tos[0], "bob@example.org");
    assert_string_equal(m.rcpt_tos[1], "dave@example.org");
    assert_string_equal(m.rcpt_options[0], "");
    assert_true(itest_eq_nocase(m.rcpt_options[1], strlen(m.rcpt_options[1]), ITEST_STR("NOTIFY=FAILURE")));
    assert_string_equal(m.helo, "client.example");
    assert_true(m.esmtp);
    ITEST_ASSERT_BYTES(m.content, m.content_len,
                       ITEST_STR("Subject: low level\r\n\r\n.starts with a dot\r\nlone LF\r\n"));
    itest_msg_free(&m);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(
        raw, rawlen,
        ITEST_STR("EHLO client.example\r\nMAIL FROM:<alice@example.org> BODY=8BITMIME\r\n"
                  "RCPT TO:<bob@example.org>\r\nRCPT TO:<reject-carol@example.org>\r\n"
                  "RCPT TO:<dave@example.org> NOTIFY=FAILURE\r\nDATA\r\n"
                  "Subject: low level\r\n\r\n..starts with a dot\r\nlone LF\r\n.\r\n"
                  "QUIT\r\n"));
    free(raw);
}

/* smtpc_result_recipient(): "Recipient `index` as given by the caller" -- also when the caller gave
 * the address in angle brackets (which the header allows for every address argument). */
static void test_result_recipient_as_given(void **state) {
    (void)state;
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_mail(c, "<alice@example.org>", SMTPC_NTS, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_rcpt(c, "<bob@example.org>", SMTPC_NTS, NULL, 0), SMTPC_OK);
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_non_null(res);
    assert_int_equal(smtpc_result_count(res), 1);
    size_t len = 0;
    const char *r0 = smtpc_result_recipient(res, 0, &len);
    assert_non_null(r0);
    assert_int_equal(smtpc_client_rset(c), SMTPC_OK);
    quit_and_free(c);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen,
                              ITEST_STR("EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\n"
                                        "RCPT TO:<bob@example.org>\r\nRSET\r\nQUIT\r\n"));
    free(raw);
}

static void test_result_recipient_keeps_brackets(void **state) {
    (void)state;
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_mail(c, "<alice@example.org>", SMTPC_NTS, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_rcpt(c, "<bob@example.org>", SMTPC_NTS, NULL, 0), SMTPC_OK);
    char got[128];
    snprintf(got, sizeof got, "%s", smtpc_result_recipient(smtpc_client_last_result(c), 0, NULL));
    assert_int_equal(smtpc_client_rset(c), SMTPC_OK);
    quit_and_free(c);
    assert_string_equal(got, "<bob@example.org>");
}

static void test_low_level_errors(void **state) {
    (void)state;
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    /* DATA without an accepted recipient: 503 from the server. */
    assert_int_equal(smtpc_client_mail(c, "", 0, NULL, 0), SMTPC_OK); /* null reverse-path */
    assert_int_equal(smtpc_client_data(c, "x\r\n", 3), SMTPC_EDATA_REFUSED);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 503, "Error: need RCPT command");
    /* Nested MAIL is refused by the server. */
    assert_int_equal(smtpc_client_mail(c, "a@example.org", SMTPC_NTS, NULL, 0), SMTPC_EREPLY);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 503, "5.5.1 Error: nested MAIL command");
    assert_int_equal(smtpc_client_rset(c), SMTPC_OK);
    /* Sender refused. */
    assert_int_equal(smtpc_client_mail(c, "refuse@example.org", SMTPC_NTS, NULL, 0), SMTPC_EREPLY);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 550,
                       "5.7.1 <refuse@example.org>: Sender address rejected");
    /* RCPT without MAIL. */
    assert_int_equal(smtpc_client_rcpt(c, "b@example.org", SMTPC_NTS, NULL, 0), SMTPC_EREPLY);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 503, "5.5.1 Error: need MAIL command");
    quit_and_free(c);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(
        raw, rawlen,
        ITEST_STR("EHLO client.example\r\nMAIL FROM:<>\r\nDATA\r\nMAIL FROM:<a@example.org>\r\n"
                  "RSET\r\nMAIL FROM:<refuse@example.org>\r\nRCPT TO:<b@example.org>\r\n"
                  "QUIT\r\n"));
    free(raw);
}

static void test_invalid_arguments_send_nothing(void **state) {
    (void)state;
    smtpc_client *c = connected_client(&g_srv);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);

    assert_int_equal(smtpc_client_mail(c, "a\r\n@example.org", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_not_equal(smtpc_client_errmsg(c)[0], '\0');
    assert_int_equal(smtpc_client_last_status(c), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_mail(c, "a@exam\nple.org", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_mail(c, "a@exam\rple.org", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_mail(c, "a@example.org\0RSET", 18, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_mail(c, "a@example.org", SMTPC_NTS, "BODY=8BITMIME\r\nRSET", SMTPC_NTS),
                     SMTPC_EINVAL);
    assert_int_equal(smtpc_client_rcpt(c, "b\n@example.org", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_rcpt(c, "b@example.org\r\nDATA", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_rcpt(c, "b@exa\0mple.org", 14, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_rcpt(c, "b@example.org", SMTPC_NTS, "NOTIFY=NEVER\n", SMTPC_NTS),
                     SMTPC_EINVAL);
    assert_int_equal(smtpc_client_ehlo(c, "bad\r\nname", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_ehlo(c, "bad\0name", 8), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_helo(c, "bad\nname", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_docmd(c, "NOOP", SMTPC_NTS, "x\r\nQUIT", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_docmd(c, "NOOP", SMTPC_NTS, "x\rQUIT", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_docmd(c, "NOOP", SMTPC_NTS, "a\0b", 3), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_docmd(c, "NO OP", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_docmd(c, "NOOP\r\n", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_docmd(c, "", 0, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_docmd(c, NULL, 0, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_vrfy(c, "x\r\ny", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_expn(c, "x\ny", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_help(c, "x\ry", SMTPC_NTS), SMTPC_EINVAL);
    /* A 600-byte argument does not fit in a 512-octet command line. */
    char big[601];
    memset(big, 'a', 600);
    big[600] = '\0';
    assert_int_equal(smtpc_client_docmd(c, "NOOP", SMTPC_NTS, big, SMTPC_NTS), SMTPC_EINVAL);

    assert_int_equal(smtpc_client_set_local_hostname(c, "bad\r\nname", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_local_hostname(c, "bad name", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_local_hostname(c, "", 0), SMTPC_EINVAL);
    assert_string_equal(smtpc_client_local_hostname(c), "client.example");

    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "a\r\n@example.org", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_sender(env, "a@exa\0mple.org", 14), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_recipient(env, "", 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_recipient(env, "b\n@example.org", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_recipient_count(env), 0);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "BODY=8BITMIME\r\n", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "SIZE=100", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "", 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "A B", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_rcpt_option(env, "NOTIFY=NEVER X", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_rcpt_option(env, "NOTIFY=\rNEVER", SMTPC_NTS), SMTPC_EINVAL);
    /* No recipients: refused before anything is sent. */
    assert_int_equal(smtpc_client_sendmail(c, env, "x\r\n", 3), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_sendmail(c, NULL, "x\r\n", 3), SMTPC_EINVAL);
    smtpc_envelope_free(env);

    /* The connection is intact and in sync. */
    assert_int_equal(smtpc_client_is_connected(c), 1);
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "OK");
    quit_and_free(c);

    char *raw;
    size_t rawlen;
    assert_int_equal(itest_last_session(&g_srv, &raw, &rawlen), 0);
    ITEST_ASSERT_BYTES_NOCASE(raw, rawlen, ITEST_STR("EHLO client.example\r\nNOOP\r\nQUIT\r\n"));
    free(raw);
}

static void test_host_port_suffix(void **state) {
    (void)state;
    char host[64];
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_non_null(c);

    snprintf(host, sizeof host, "127.0.0.1:%d", g_srv.proc.port);
    assert_int_equal(smtpc_client_connect(c, host, SMTPC_NTS, 0), SMTPC_OK);
    g_srv.connections++;
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 220, GREETING);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);

    /* A name that resolves to several addresses (localhost: maybe ::1 first, then 127.0.0.1). */
    snprintf(host, sizeof host, "localhost:%d", g_srv.proc.port);
    assert_int_equal(smtpc_client_connect(c, host, SMTPC_NTS, 0), SMTPC_OK);
    g_srv.connections++;
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 220, GREETING);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);

    /* Explicit length: the suffix is inside the given bytes only. */
    snprintf(host, sizeof host, "127.0.0.1:%dgarbage", g_srv.proc.port);
    assert_int_equal(smtpc_client_connect(c, host, strlen(host) - 7, 0), SMTPC_OK);
    g_srv.connections++;
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);

    static const char *const bad[] = {"127.0.0.1:",       "127.0.0.1:abc",
                                      "127.0.0.1:65536",  "127.0.0.1:-25",
                                      "127.0.0.1:25x",    "127.0.0.1:99999999999999999999",
                                      "127.0.0.1\r\n:25", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(smtpc_client_connect(c, bad[i], SMTPC_NTS, 0), SMTPC_EINVAL);
        assert_int_equal(smtpc_client_is_connected(c), 0);
    }
    assert_int_equal(smtpc_client_connect(c, NULL, 0, 25), SMTPC_EINVAL);
    smtpc_client_free(c);
}

static void test_ipv6_bracketed(void **state) {
    (void)state;
    itest_server v6;
    const char *extra[] = {"--host", "::1", NULL};
    if (itest_start_aiosmtpd(&v6, 0, extra) != 0) {
        itest_stop(&v6);
        skip(); /* no IPv6 loopback on this machine */
    }
    char host[64];
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_non_null(c);
    snprintf(host, sizeof host, "[::1]:%d", v6.proc.port);
    smtpc_status st = smtpc_client_connect(c, host, SMTPC_NTS, 0);
    if (st == SMTPC_OK) ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 220, GREETING);
    if (st == SMTPC_OK) st = smtpc_client_quit(c);
    smtpc_status st2 = smtpc_client_connect(c, "::1", SMTPC_NTS, (uint16_t)v6.proc.port);
    if (st2 == SMTPC_OK) st2 = smtpc_client_quit(c);
    smtpc_status st3 = smtpc_client_connect(c, "[::1]", SMTPC_NTS, (uint16_t)v6.proc.port);
    if (st3 == SMTPC_OK) st3 = smtpc_client_quit(c);
    smtpc_client_free(c);
    itest_stop(&v6);
    assert_int_equal(st, SMTPC_OK);
    assert_int_equal(st2, SMTPC_OK);
    assert_int_equal(st3, SMTPC_OK);
}

static size_t count_kind(const itest_trace *t, smtpc_trace_kind kind) {
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->ev[i].kind == kind) n++;
    return n;
}

/* The SEND and RECV events, in order, must be exactly these lines. */
static void check_trace_lines(const itest_trace *t) {
    static const struct {
        smtpc_trace_kind kind;
        const char *text;
    } want[] = {
        {SMTPC_TRACE_RECV, "220 " GREETING "\r\n"},
        {SMTPC_TRACE_SEND, "EHLO client.example\r\n"},
        {SMTPC_TRACE_RECV, "250-smtpc.test\r\n"},
        {SMTPC_TRACE_RECV, "250-SIZE 33554432\r\n"},
        {SMTPC_TRACE_RECV, "250-8BITMIME\r\n"},
        {SMTPC_TRACE_RECV, "250-SMTPUTF8\r\n"},
        {SMTPC_TRACE_RECV, "250-AUTH CRAM-MD5\r\n"},
        {SMTPC_TRACE_RECV, "250-X-SMTPC-TEST  alpha  beta  \r\n"},
        {SMTPC_TRACE_RECV, "250-AUTH=LOGIN PLAIN\r\n"},
        {SMTPC_TRACE_RECV, "250 HELP\r\n"},
        {SMTPC_TRACE_SEND, "NOOP\r\n"},
        {SMTPC_TRACE_RECV, "250 OK\r\n"},
        {SMTPC_TRACE_SEND, "QUIT\r\n"},
        {SMTPC_TRACE_RECV, "221 Bye\r\n"},
    };
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        const itest_event *e = &t->ev[i];
        if (e->kind != SMTPC_TRACE_SEND && e->kind != SMTPC_TRACE_RECV) continue;
        if (k >= sizeof want / sizeof want[0]) fail_msg("unexpected extra trace line %zu: %s", k, e->data);
        assert_int_equal(e->kind, want[k].kind);
        if (e->kind == SMTPC_TRACE_SEND)
            ITEST_ASSERT_BYTES_NOCASE(e->data, e->len, want[k].text, strlen(want[k].text));
        else ITEST_ASSERT_BYTES(e->data, e->len, want[k].text, strlen(want[k].text));
        k++;
    }
    assert_int_equal(k, sizeof want / sizeof want[0]);
    assert_int_equal(count_kind(t, SMTPC_TRACE_DATA), 0);
}

static void run_traced_session(smtpc_client *c) {
    assert_int_equal(itest_connect(c, &g_srv), SMTPC_OK);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
}

static void test_trace_level1(void **state) {
    (void)state;
    itest_trace t = {0};
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_trace(c, 1, NULL, NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_trace(c, 3, itest_trace_cb, &t), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_trace(c, -1, itest_trace_cb, &t), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, &t), SMTPC_OK);
    run_traced_session(c);
    check_trace_lines(&t);
    for (size_t i = 0; i < t.n; i++) assert_int_equal(t.ev[i].time_us, 0);

    /* Level 0 turns tracing off. */
    size_t n = t.n;
    assert_int_equal(smtpc_client_set_trace(c, 0, NULL, NULL), SMTPC_OK);
    run_traced_session(c);
    assert_int_equal(t.n, n);
    smtpc_client_free(c);
    itest_trace_clear(&t);
}

static void test_trace_level2_timestamps(void **state) {
    (void)state;
    itest_trace t = {0};
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_trace(c, 2, itest_trace_cb, &t), SMTPC_OK);
    int64_t t0 = itest_wall_us();
    run_traced_session(c);
    int64_t t1 = itest_wall_us();
    check_trace_lines(&t);
    assert_true(t.n > 0);
    for (size_t i = 0; i < t.n; i++) {
        assert_true(t.ev[i].time_us != 0);
        /* Wall clock, microseconds: within the session (1 s slack for clock granularity). */
        assert_true(t.ev[i].time_us >= t0 - 1000000);
        assert_true(t.ev[i].time_us <= t1 + 1000000);
    }
    smtpc_client_free(c);
    itest_trace_clear(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_greeting),
        cmocka_unit_test(test_not_connected),
        cmocka_unit_test(test_ehlo_feature_map),
        cmocka_unit_test(test_quit_clears_state_and_reconnect),
        cmocka_unit_test(test_helo),
        cmocka_unit_test(test_ehlo_or_helo_if_needed),
        cmocka_unit_test(test_simple_commands),
        cmocka_unit_test(test_low_level_transaction),
        cmocka_unit_test(test_result_recipient_as_given),
        cmocka_unit_test(test_result_recipient_keeps_brackets),
        cmocka_unit_test(test_low_level_errors),
        cmocka_unit_test(test_invalid_arguments_send_nothing),
        cmocka_unit_test(test_host_port_suffix),
        cmocka_unit_test(test_ipv6_bracketed),
        cmocka_unit_test(test_trace_level1),
        cmocka_unit_test(test_trace_level2_timestamps),
    };
    return cmocka_run_group_tests_name("smtp_session", tests, group_setup, group_teardown);
}
