/* SPDX-License-Identifier: MIT */
/*
 * TLS session resumption against a private Postfix (tests/servers/postfix_server.py --tls-cert ...
 * --print-maillog --tls-loglevel 2; needs root, else skipped), over STARTTLS and on the implicit-TLS
 * port. Postfix issues one TLS 1.3 ticket after a full handshake and none after a resumed one, and
 * the client uses each ticket once (RFC 8446 C.4): four connections with one configuration go full,
 * resumed, full, resumed. Postfix agrees: its log says "Issuing session ticket" for the full ones
 * and "Reusing old session" for the others. Every message reaches the sink behind Postfix unchanged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tls_common.h"

#define PF_DELIVERY_MS 30000

static itest_server g_pf;
static int g_tls_port;
static char g_maillog[700];

static int group_setup(void **state) {
    (void)state;
    const char *why = harness_postfix_unavailable(0);
    if (why != NULL) harness_skip_program("test_tls_resume_postfix", why);
    if (tls_pki_setup() != 0) return -1;
    const char *extra[] = {"--tls-cert",      tls_pki("server.pem"), "--tls-key", tls_pki("server.key"),
                           "--print-maillog", "--tls-loglevel",      "2",         NULL};
    if (itest_start_postfix_args(&g_pf, extra) != 0) return -1;
    char line[700];
    if (harness_server_read_line(&g_pf.proc, line, sizeof line, 10000) < 0 ||
        strncmp(line, "TLSPORT ", 8) != 0)
        return -1;
    g_tls_port = atoi(line + 8);
    if (harness_server_read_line(&g_pf.proc, line, sizeof line, 10000) < 0 ||
        strncmp(line, "MAILLOG ", 8) != 0)
        return -1;
    snprintf(g_maillog, sizeof g_maillog, "%s", line + 8);
    return g_tls_port > 0 && g_tls_port < 65536 ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_pf);
    tls_pki_teardown();
    return 0;
}

/* Lines of Postfix's log containing `needle`. */
static size_t log_count(const char *needle) {
    char *text = NULL;
    size_t len = 0, n = 0;
    if (harness_read_file(g_maillog, &text, &len) != 0) return 0;
    for (const char *p = text; (p = tls_memmem(p, len - (size_t)(p - text), needle, strlen(needle))) != NULL;
         p += strlen(needle))
        n++;
    free(text);
    return n;
}

/* Waits (bounded) until Postfix has logged `want` more `needle` lines than `before`; fails unless
 * exactly `want` more. */
static void wait_log(const char *needle, size_t before, size_t want) {
    for (int i = 0; i < 100; i++) {
        if (log_count(needle) >= before + want) break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    size_t got = log_count(needle) - before;
    if (got != want) fail_msg("Postfix logged %zu \"%s\" lines, expected %zu", got, needle, want);
}

/* `n` sessions with one configuration on `port` under `policy`: whether each was resumed (the
 * client's view; its INFO lines are printed when that is not the alternation run() expects), and
 * each message checked in the sink. */
static void sessions(smtpc_tls_config *cfg, int port, smtpc_tls_policy policy, int n, int resumed[]) {
    static const char body[] = "Subject: resumed through postfix\r\n\r\n.dot line\r\nlast line\r\n";
    for (int i = 0; i < n; i++) {
        smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, TLS_CLIENT_NAME);
        assert_non_null(c);
        assert_int_equal(smtpc_client_set_tls_policy(c, policy), SMTPC_OK);
        assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
        itest_trace t = {0};
        assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, &t), SMTPC_OK);
        smtpc_envelope *env = tls_envelope(NULL);
        size_t msgs = itest_msg_count(&g_pf);
        TLS_ASSERT_STATUS(c, smtpc_client_connect(c, "localhost", SMTPC_NTS, (uint16_t)port), SMTPC_OK);
        TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, body, sizeof body - 1), SMTPC_OK);
        assert_int_equal(smtpc_client_tls_verified(c), 1);
        assert_int_equal(smtpc_client_tls_verify_result(c), 0);
        resumed[i] = smtpc_client_tls_resumed(c);
        TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
        if (resumed[i] != (i % 2))
            for (size_t k = 0; k < t.n; k++)
                if (t.ev[k].kind == SMTPC_TRACE_INFO) itest_dump("INFO", t.ev[k].data, t.ev[k].len);
        itest_trace_clear(&t);
        smtpc_client_free(c);
        smtpc_envelope_free(env);
        itest_msg m;
        assert_int_equal(itest_load_msg(&g_pf, msgs, PF_DELIVERY_MS, &m), 0);
        ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(body));
        itest_msg_free(&m);
    }
}

static void run(int port, smtpc_tls_policy policy) {
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, tls_pki("ca.pem"), SMTPC_NTS), SMTPC_OK);
    size_t issued = log_count("Issuing session ticket");
    size_t reused = log_count("Reusing old session");
    int resumed[4];
    sessions(cfg, port, policy, 4, resumed);
    assert_int_equal(resumed[0], 0);
    assert_int_equal(resumed[1], 1);
    assert_int_equal(resumed[2], 0); /* the ticket was used once; the resumed session brought none */
    assert_int_equal(resumed[3], 1);
    wait_log("Reusing old session", reused, 2);
    wait_log("Issuing session ticket", issued, 2);
    smtpc_tls_config_free(cfg);
}

static void test_postfix_starttls_resumes(void **state) {
    (void)state;
    run(g_pf.proc.port, SMTPC_TLS_REQUIRED);
}

static void test_postfix_implicit_resumes(void **state) {
    (void)state;
    run(g_tls_port, SMTPC_TLS_IMPLICIT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postfix_starttls_resumes),
        cmocka_unit_test(test_postfix_implicit_resumes),
    };
    return cmocka_run_group_tests_name("tls_resume_postfix", tests, group_setup, group_teardown);
}
