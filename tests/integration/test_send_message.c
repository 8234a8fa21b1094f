/* SPDX-License-Identifier: MIT */
/*
 * smtpc_client_send_message() against aiosmtpd (tests/servers/aiosmtpd_server.py): the envelope taken
 * from the headers and the Bcc fields left out, checked on every byte the client sent.
 *
 * The header fields must be read with the line ends the DATA encoder sends (CRLF, lone CR, lone LF):
 * a Bcc field behind a lone CR once went out as a real header line, its address missing from the
 * envelope.
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

static itest_server g_srv; /* SIZE, 8BITMIME, SMTPUTF8 */

static int group_setup(void **state) {
    (void)state;
    return itest_start_aiosmtpd(&g_srv, 0, NULL);
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_srv);
    return 0;
}

#define EHLO "EHLO client.example\r\n"

static const struct {
    const char *name;
    const char *msg;
    size_t msg_len;
    const char *content; /* as the server stored it (un-stuffed) */
    const char *raw;     /* every byte the client sent up to the end of the message */
} k_cases[] = {
#define C(name, msg, content, raw) \
    { name, msg, sizeof(msg) - 1, content, raw }
    /* As reported: the Bcc line went out to every recipient, secret@ was not in the envelope. */
    C("Subject: x CR Bcc",
      "From: sender@example.org\nTo: rcpt@example.org\nSubject: x\rBcc: secret@example.org\n\nbody\n",
      "From: sender@example.org\r\nTo: rcpt@example.org\r\nSubject: x\r\n\r\nbody\r\n",
      EHLO "MAIL FROM:<sender@example.org> SIZE=68\r\nRCPT TO:<rcpt@example.org>\r\n"
           "RCPT TO:<secret@example.org>\r\nDATA\r\n"
           "From: sender@example.org\r\nTo: rcpt@example.org\r\nSubject: x\r\n\r\nbody\r\n.\r\n"),
    C("lone CR before Bcc",
      "From: sender@example.org\rSubject: x\rBcc: secret@example.org\rTo: rcpt@example.org\r\rbody\r",
      "From: sender@example.org\r\nSubject: x\r\nTo: rcpt@example.org\r\n\r\nbody\r\n",
      EHLO "MAIL FROM:<sender@example.org> SIZE=68\r\nRCPT TO:<rcpt@example.org>\r\n"
           "RCPT TO:<secret@example.org>\r\nDATA\r\n"
           "From: sender@example.org\r\nSubject: x\r\nTo: rcpt@example.org\r\n\r\nbody\r\n.\r\n"),
    /* Cut with its own line end, the Bcc field would leave the CR before it to join the blank line's
     * LF into one CRLF: the body's To line would become a header. */
    C("lone CR, Bcc, blank line of LF",
      "From: sender@example.org\rBcc: secret@example.org\n\nTo: evil@example.org\n",
      "From: sender@example.org\r\n\r\nTo: evil@example.org\r\n",
      EHLO "MAIL FROM:<sender@example.org> SIZE=50\r\nRCPT TO:<secret@example.org>\r\nDATA\r\n"
           "From: sender@example.org\r\n\r\nTo: evil@example.org\r\n.\r\n"),
    C("folded Bcc behind lone CRs",
      "From: sender@example.org\rBcc: a@example.org,\r b@example.org\rTo: rcpt@example.org\r\rbody",
      "From: sender@example.org\r\nTo: rcpt@example.org\r\n\r\nbody\r\n",
      EHLO "MAIL FROM:<sender@example.org> SIZE=56\r\nRCPT TO:<rcpt@example.org>\r\n"
           "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
           "From: sender@example.org\r\nTo: rcpt@example.org\r\n\r\nbody\r\n.\r\n"),
    C("Resent- block behind lone CRs",
      "Resent-Date: now\rResent-From: resender@example.org\rResent-Bcc: hidden@example.org\r"
      "Resent-To: new@example.org\rFrom: sender@example.org\rBcc: old@example.org\rTo: "
      "rcpt@example.org\r\rbody\r",
      "Resent-Date: now\r\nResent-From: resender@example.org\r\nResent-To: new@example.org\r\n"
      "From: sender@example.org\r\nTo: rcpt@example.org\r\n\r\nbody\r\n",
      EHLO "MAIL FROM:<resender@example.org> SIZE=137\r\nRCPT TO:<new@example.org>\r\n"
           "RCPT TO:<hidden@example.org>\r\nDATA\r\n"
           "Resent-Date: now\r\nResent-From: resender@example.org\r\nResent-To: new@example.org\r\n"
           "From: sender@example.org\r\nTo: rcpt@example.org\r\n\r\nbody\r\n.\r\n"),
    /* Behind a blank lone CR, a Bcc line is body text: sent, and not a recipient. */
    C("Bcc in the body after a blank lone CR",
      "From: sender@example.org\rTo: rcpt@example.org\r\rBcc: body@example.org\r",
      "From: sender@example.org\r\nTo: rcpt@example.org\r\n\r\nBcc: body@example.org\r\n",
      EHLO "MAIL FROM:<sender@example.org> SIZE=73\r\nRCPT TO:<rcpt@example.org>\r\nDATA\r\n"
           "From: sender@example.org\r\nTo: rcpt@example.org\r\n\r\nBcc: body@example.org\r\n.\r\n"),
#undef C
};

static void test_send_message_bcc_line_ends(void **state) {
    (void)state;
    size_t n = sizeof k_cases / sizeof k_cases[0];
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        size_t before = itest_msg_count(&g_srv);
        smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.example");
        assert_non_null(c);
        assert_int_equal(itest_connect(c, &g_srv), SMTPC_OK);
        smtpc_status st = smtpc_client_send_message(c, NULL, k_cases[i].msg, k_cases[i].msg_len);
        if (st != SMTPC_OK) {
            fprintf(stderr, "case '%s': send_message returned %s: %s\n", k_cases[i].name,
                    smtpc_status_name(st), smtpc_client_errmsg(c));
            failed++;
            smtpc_client_free(c);
            continue;
        }
        assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
        smtpc_client_free(c);

        /* Every case is checked (and reported) before the test fails. */
        itest_msg m;
        assert_int_equal(itest_load_msg(&g_srv, before, 10000, &m), 0);
        if (!itest_bytes_match(m.content, m.content_len, k_cases[i].content, strlen(k_cases[i].content), 0) ||
            !itest_bytes_match(m.raw, m.raw_len, k_cases[i].raw, strlen(k_cases[i].raw), 0)) {
            fprintf(stderr, "case '%s': the server received other bytes (above)\n", k_cases[i].name);
            failed++;
        }
        itest_msg_free(&m);
    }
    if (failed) fail_msg("%d of %zu cases failed", failed, n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_message_bcc_line_ends),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
