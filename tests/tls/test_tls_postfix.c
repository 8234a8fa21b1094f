/* SPDX-License-Identifier: MIT */
/*
 * TLS against a private Postfix (tests/servers/postfix_server.py --tls-cert ...; needs root):
 * STARTTLS with smtpd_tls_security_level=may under the REQUIRED policy, with sendmail pipelined over
 * TLS (checked through the trace), implicit TLS on the smtpd_tls_wrappermode=yes port, an untrusted
 * certificate under each policy (REQUIRED and IMPLICIT deliver nothing, OPPORTUNISTIC and AUTO on
 * loopback deliver over TLS, unverified), and a second Postfix with a self-signed certificate (as
 * Debian's snakeoil) reached with every default, from the C API and from examples/send_simple.
 * Messages are checked in the sink behind Postfix.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tls_common.h"

#define PF_DELIVERY_MS 30000

static itest_server g_pf;
static int g_tls_port;

static int group_setup(void **state) {
    (void)state;
    const char *why = harness_postfix_unavailable(0);
    if (why != NULL) harness_skip_program("test_tls_postfix", why);
    if (tls_pki_setup() != 0) return -1;
    const char *extra[] = {"--tls-cert", tls_pki("server.pem"), "--tls-key", tls_pki("server.key"), NULL};
    if (itest_start_postfix_args(&g_pf, extra) != 0) return -1;
    char line[128];
    if (harness_server_read_line(&g_pf.proc, line, sizeof line, 10000) < 0 ||
        strncmp(line, "TLSPORT ", 8) != 0) {
        fprintf(stderr, "test_tls_postfix: no TLSPORT line from postfix_server.py\n");
        return -1;
    }
    g_tls_port = atoi(line + 8);
    return g_tls_port > 0 && g_tls_port < 65536 ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_pf);
    tls_pki_teardown();
    return 0;
}

static void dump_trace(const itest_trace *t) {
    for (size_t i = 0; i < t->n; i++) {
        const char *k = t->ev[i].kind == SMTPC_TRACE_SEND   ? "SEND"
                        : t->ev[i].kind == SMTPC_TRACE_RECV ? "RECV"
                        : t->ev[i].kind == SMTPC_TRACE_DATA ? "DATA"
                                                            : "INFO";
        itest_dump(k, t->ev[i].data, t->ev[i].len);
    }
}

static int starts_nocase(const itest_event *e, const char *prefix) {
    size_t n = strlen(prefix);
    return e->len >= n && strncasecmp(e->data, prefix, n) == 0;
}

static smtpc_client *pf_client(smtpc_tls_policy policy, itest_trace *t) {
    smtpc_client *c = tls_client(policy, 1);
    if (t != NULL) assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, t), SMTPC_OK);
    return c;
}

/* REQUIRED: EHLO and STARTTLS in clear, then EHLO again and MAIL, every RCPT and DATA in one batch
 * over TLS; the message reaches the sink unchanged. */
static void test_postfix_starttls_required_pipelined(void **state) {
    (void)state;
    itest_trace t = {0};
    smtpc_client *c = pf_client(SMTPC_TLS_REQUIRED, &t);
    static const char *const rcpts[] = {"one@example.org", "reject1@example.org", "two@example.org", NULL};
    static const char body[] = "Subject: postfix over TLS\r\nMessage-ID: <pftls1@example.org>\r\n\r\n"
                               ".dot line\r\nlast line";
    static const char want[] = "Subject: postfix over TLS\r\nMessage-ID: <pftls1@example.org>\r\n\r\n"
                               ".dot line\r\nlast line\r\n";
    smtpc_envelope *env = tls_envelope(rcpts);
    size_t msgs = itest_msg_count(&g_pf);
    TLS_ASSERT_STATUS(c, smtpc_client_connect(c, "localhost", SMTPC_NTS, (uint16_t)g_pf.proc.port), SMTPC_OK);
    smtpc_status st = smtpc_client_sendmail(c, env, body, sizeof body - 1);
    if (st != SMTPC_OK) {
        dump_trace(&t);
        fail_msg("sendmail: %s: %s", smtpc_status_name(st), smtpc_client_errmsg(c));
    }
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), 1);
    assert_string_equal(smtpc_client_tls_version(c), "TLSv1.3");
    assert_int_equal(smtpc_client_has_extn(c, "PIPELINING", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "STARTTLS", SMTPC_NTS), 0); /* the post-TLS EHLO */
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_count(res), 3);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 2), SMTPC_RCPT_DELIVERED);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);

    /* The commands as sent: EHLO, STARTTLS, (TLS) EHLO, then one batch: MAIL, the RCPTs and, as
     * Postfix offers CHUNKING, BDAT with the whole message (no DATA and no 354 to wait for). */
    static const char *const order[] = {"EHLO ", "STARTTLS\r\n", "EHLO "};
    size_t i = 0, k = 0;
    for (; i < t.n && k < 3; i++) {
        if (t.ev[i].kind != SMTPC_TRACE_SEND) continue;
        if (!starts_nocase(&t.ev[i], order[k])) {
            dump_trace(&t);
            fail_msg("command %zu is not %s", k, order[k]);
        }
        k++;
    }
    assert_int_equal(k, 3);
    while (i < t.n && t.ev[i].kind != SMTPC_TRACE_SEND) i++;
    static const char *const batch[] = {"MAIL FROM:<sender@example.org>", "RCPT TO:<one@example.org>",
                                        "RCPT TO:<reject1@example.org>", "RCPT TO:<two@example.org>",
                                        "BDAT "};
    for (k = 0; i < t.n && t.ev[i].kind != SMTPC_TRACE_RECV; i++) {
        if (t.ev[i].kind != SMTPC_TRACE_SEND) continue;
        if (k >= 5 || !starts_nocase(&t.ev[i], batch[k])) {
            dump_trace(&t);
            fail_msg("pipelined batch over TLS: unexpected command #%zu", k);
        }
        k++;
    }
    if (k != 5) {
        dump_trace(&t);
        fail_msg("only %zu of MAIL, 3 RCPT and BDAT were sent before the first reply over TLS", k);
    }

    itest_msg m;
    assert_int_equal(itest_load_msg(&g_pf, msgs, PF_DELIVERY_MS, &m), 0);
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(want));
    ITEST_ASSERT_BYTES(m.mail_from, m.mail_from_len, ITEST_STR("sender@example.org"));
    assert_int_equal(m.rcpt_count, 2);
    itest_msg_free(&m);
    smtpc_envelope_free(env);
    smtpc_client_free(c);
    itest_trace_clear(&t);
}

/* Implicit TLS on the wrappermode port: the greeting over TLS, sendmail, delivery. */
static void test_postfix_implicit_tls(void **state) {
    (void)state;
    smtpc_client *c = pf_client(SMTPC_TLS_IMPLICIT, NULL);
    static const char body[] =
        "Subject: postfix over implicit TLS\r\nMessage-ID: <pftls2@example.org>\r\n\r\nhello\r\n";
    size_t msgs = itest_msg_count(&g_pf);
    TLS_ASSERT_STATUS(c, smtpc_client_connect(c, "localhost", SMTPC_NTS, (uint16_t)g_tls_port), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), 1);
    const smtpc_reply *greeting = smtpc_client_last_reply(c);
    assert_non_null(greeting);
    assert_int_equal(smtpc_reply_code(greeting), 220);
    assert_non_null(strstr(smtpc_reply_text(greeting, NULL), "smtpc-postfix"));
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, body, sizeof body - 1), SMTPC_OK);
    assert_int_equal(smtpc_client_has_extn(c, "STARTTLS", SMTPC_NTS), 0);
    assert_int_equal(smtpc_client_has_extn(c, "PIPELINING", SMTPC_NTS), 1);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    itest_msg m;
    assert_int_equal(itest_load_msg(&g_pf, msgs, PF_DELIVERY_MS, &m), 0);
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(body));
    itest_msg_free(&m);
    smtpc_envelope_free(env);
    smtpc_client_free(c);
}

/* A certificate the client does not trust (the system store has no test CA), on loopback:
 * REQUIRED and IMPLICIT fail with SMTPC_ETLS_VERIFY and deliver nothing; OPPORTUNISTIC and AUTO
 * (opportunistic on loopback) deliver over TLS, unverified, with the X509 code recorded. */
static void test_postfix_untrusted_by_policy(void **state) {
    (void)state;
    static const char body[] = "Subject: must not arrive\r\n\r\nx\r\n";
    smtpc_envelope *env = tls_envelope(NULL);
    size_t msgs = itest_msg_count(&g_pf);
    smtpc_client *c = tls_client(SMTPC_TLS_REQUIRED, 0);
    TLS_ASSERT_STATUS(c, smtpc_client_connect(c, "localhost", SMTPC_NTS, (uint16_t)g_pf.proc.port), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, body, sizeof body - 1), SMTPC_ETLS_VERIFY);
    assert_int_equal(smtpc_client_tls_verify_result(c), 20);
    assert_non_null(strstr(smtpc_client_errmsg(c), "SMTPC_TLS_OPPORTUNISTIC"));
    assert_int_equal(smtpc_client_is_connected(c), 0);
    smtpc_client_free(c);
    c = tls_client(SMTPC_TLS_IMPLICIT, 0);
    TLS_ASSERT_STATUS(c, smtpc_client_connect(c, "localhost", SMTPC_NTS, (uint16_t)g_tls_port),
                      SMTPC_ETLS_VERIFY);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    /* Give a wrongly accepted message the time to pass through Postfix before counting. */
    usleep(1500 * 1000);
    assert_int_equal(itest_msg_count(&g_pf), msgs);

    static const char ok[] = "Subject: opportunistic through postfix\r\n\r\nx\r\n";
    env = tls_envelope(NULL);
    smtpc_tls_policy policies[] = {SMTPC_TLS_OPPORTUNISTIC, SMTPC_TLS_AUTO};
    for (size_t p = 0; p < 2; p++) {
        itest_trace t = {0};
        c = pf_client(policies[p], &t);
        assert_int_equal(smtpc_client_set_tls_config(c, NULL), SMTPC_OK); /* the system store */
        TLS_ASSERT_STATUS(c, smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)g_pf.proc.port),
                          SMTPC_OK);
        TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, ok, sizeof ok - 1), SMTPC_OK);
        assert_int_equal(smtpc_client_tls_active(c), 1);
        assert_int_equal(smtpc_client_tls_verified(c), 0);
        assert_int_equal(smtpc_client_tls_verify_result(c), 20);
        assert_int_equal(tls_count_info(&t, "certificate NOT verified"), 1);
        TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
        smtpc_client_free(c);
        itest_trace_clear(&t);
        itest_msg m;
        assert_int_equal(itest_load_msg(&g_pf, msgs + p, PF_DELIVERY_MS, &m), 0);
        ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(ok));
        itest_msg_free(&m);
    }
    smtpc_envelope_free(env);
}

#ifdef SMTPC_SEND_SIMPLE /* the examples are built (SMTPC_BUILD_EXAMPLES) */
/* Runs argv with stdout and stderr into out_path; its exit status, or -1 (also after timeout_ms,
 * when it is killed). */
static int run_bounded(const char *const argv[], int timeout_ms, const char *out_path) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    for (int waited = 0;; waited += 50) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0 || waited >= timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(50 * 1000);
    }
}
#endif

/* The first program a user writes, against a stock local Postfix: smtpd_tls_security_level=may with
 * a self-signed certificate (Debian's "snakeoil"). The library's defaults (AUTO, no configuration)
 * use STARTTLS, record the failed verification and deliver; the README's example (send_simple)
 * delivers with no option. */
static void test_postfix_self_signed_defaults(void **state) {
    (void)state;
    itest_server pf;
    memset(&pf, 0, sizeof pf);
    const char *extra[] = {"--tls-cert", tls_pki("selfsigned.pem"), "--tls-key", tls_pki("selfsigned.key"),
                           NULL};
    assert_int_equal(itest_start_postfix_args(&pf, extra), 0);
    char line[128];
    assert_true(harness_server_read_line(&pf.proc, line, sizeof line, 10000) >= 0); /* TLSPORT */

    /* The C API with every default: STARTTLS (traced), unverified (18), delivered. */
    itest_trace t = {0};
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, TLS_CLIENT_NAME);
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, &t), SMTPC_OK);
    static const char body[] = "Subject: defaults\r\n\r\nsent with every default\r\n";
    smtpc_envelope *env = tls_envelope(NULL);
    size_t msgs = itest_msg_count(&pf);
    TLS_ASSERT_STATUS(c, smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)pf.proc.port), SMTPC_OK);
    smtpc_status st = smtpc_client_sendmail(c, env, body, sizeof body - 1);
    if (st != SMTPC_OK) dump_trace(&t);
    TLS_ASSERT_STATUS(c, st, SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), 0);
    assert_int_equal(smtpc_client_tls_verify_result(c), 18);
    size_t starttls = 0;
    for (size_t i = 0; i < t.n; i++)
        if (t.ev[i].kind == SMTPC_TRACE_SEND && starts_nocase(&t.ev[i], "STARTTLS\r\n")) starttls++;
    assert_int_equal(starttls, 1);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    itest_trace_clear(&t);
    itest_msg m;
    assert_int_equal(itest_load_msg(&pf, msgs, PF_DELIVERY_MS, &m), 0);
    ITEST_ASSERT_BYTES(m.content, m.content_len, ITEST_STR(body));
    itest_msg_free(&m);

#ifdef SMTPC_SEND_SIMPLE
    /* The example program, as the README runs it: HOST:PORT FROM RCPT, nothing else. */
    char hostport[64];
    snprintf(hostport, sizeof hostport, "127.0.0.1:%d", pf.proc.port);
    const char *argv[] = {SMTPC_SEND_SIMPLE, hostport, "sender@example.org", "rcpt@example.org", NULL};
    char out[1200];
    snprintf(out, sizeof out, "%s/send_simple.out", pf.dir);
    int rc = run_bounded(argv, 30000, out);
    if (rc != 0) {
        char *text = NULL;
        size_t len = 0;
        if (harness_read_file(out, &text, &len) == 0) itest_dump("send_simple output", text, len);
        free(text);
        itest_stop(&pf);
        fail_msg("send_simple exited with %d against Postfix with a self-signed certificate", rc);
    }
    assert_int_equal(itest_load_msg(&pf, msgs + 1, PF_DELIVERY_MS, &m), 0);
    assert_non_null(tls_memmem(m.content, m.content_len, "sent by the send_simple example", 31));
    itest_msg_free(&m);
#else
    fprintf(stderr, "test_tls_postfix: examples not built; send_simple not run\n");
#endif
    itest_stop(&pf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postfix_starttls_required_pipelined),
        cmocka_unit_test(test_postfix_implicit_tls),
        cmocka_unit_test(test_postfix_untrusted_by_policy),
        cmocka_unit_test(test_postfix_self_signed_defaults),
    };
    return cmocka_run_group_tests_name("tls_postfix", tests, group_setup, group_teardown);
}
