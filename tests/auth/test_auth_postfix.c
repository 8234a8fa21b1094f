/* SPDX-License-Identifier: MIT */
/*
 * AUTH against a private Postfix with Cyrus SASL (tests/servers/postfix_server.py --sasl USER:PASSWORD;
 * Debian postfix, sasl2-bin, libsasl2-modules; needs root), over STARTTLS with the test PKI
 * (tests/servers/make_test_pki.sh; the client trusts only the test CA, so the connection is
 * verified): PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1 and SCRAM-SHA-256 with and without an initial
 * response (success, wrong password and unknown user -> SMTPC_EAUTH with 535), smtpc_client_login's
 * choice of SCRAM-SHA-256, and a message relayed after AUTH. One SCRAM-SHA-256 login also runs over
 * plaintext loopback, which the plaintext rule allows.
 *
 * The PKI is the one named by SMTPC_TEST_PKI_DIR (ctest's tls_pki fixture) or, when the program runs on
 * its own, a private one made in a temp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth_common.h"
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define USER "alice"
#define PASSWORD "Pf-s3cret pw"

static itest_server g_pf;
static char g_pki[512];
static int g_own_pki;

static const char *pki(const char *name) {
    static char buf[4][700];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", g_pki, name);
    return buf[i];
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int make_pki(void) {
    const char *env = getenv("SMTPC_TEST_PKI_DIR");
    if (env != NULL && env[0] != '\0') {
        snprintf(g_pki, sizeof g_pki, "%s", env);
        if (file_exists(pki("server.pem")) && file_exists(pki("ca.pem"))) return 0;
    }
    if (harness_make_temp_dir("smtpc-auth-pki", g_pki, sizeof g_pki) != 0) return -1;
    g_own_pki = 1;
    char script[1024];
    if (harness_server_script(script, sizeof script, "make_test_pki.sh") != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 1);
        execl("/bin/bash", "bash", script, g_pki, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "test_auth_postfix: make_test_pki.sh failed\n");
        return -1;
    }
    return 0;
}

static int group_setup(void **state) {
    (void)state;
    const char *why = harness_postfix_unavailable(1);
    if (why != NULL) harness_skip_program("test_auth_postfix", why);
    if (make_pki() != 0) return -1;
    const char *args[] = {"--tls-cert",      pki("server.pem"), "--tls-key",
                          pki("server.key"), "--sasl",          USER ":" PASSWORD,
                          "--sasl",          "bob:other-pw",    NULL};
    /* pki() keeps 4 buffers: copy the two paths before the next call. */
    char cert[700], key[700];
    snprintf(cert, sizeof cert, "%s", pki("server.pem"));
    snprintf(key, sizeof key, "%s", pki("server.key"));
    args[1] = cert;
    args[3] = key;
    return itest_start_postfix_args(&g_pf, args);
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_pf);
    if (g_own_pki) harness_remove_tree(g_pki);
    return 0;
}

static auth_trace g_trace;
static smtpc_tls_config *g_cfg;

static int setup(void **state) {
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    auth_trace_free(&g_trace);
    smtpc_tls_config_free(g_cfg);
    g_cfg = NULL;
    return 0;
}

#define ASSERT_ST(c, got, want)                                                                  \
    do {                                                                                         \
        smtpc_status st_ = (got);                                                                \
        if (st_ != (want))                                                                       \
            fail_msg("%s returned %s, expected %s; errmsg \"%s\"", #got, smtpc_status_name(st_), \
                     smtpc_status_name(want), smtpc_client_errmsg(c));                           \
    } while (0)

/* A connected client; with tls, STARTTLS is required and the server's certificate is verified
 * against the test CA (it happens at the first high-level call). */
static smtpc_client *pf_client(int tls) {
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.test");
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_trace(c, 2, auth_trace_cb, &g_trace), SMTPC_OK);
    if (tls) {
        if (g_cfg == NULL) { /* one configuration per test, shared by its clients */
            assert_int_equal(smtpc_tls_config_new(&g_cfg), SMTPC_OK);
            assert_int_equal(smtpc_tls_config_set_ca_file(g_cfg, pki("ca.pem"), SMTPC_NTS), SMTPC_OK);
        }
        assert_int_equal(smtpc_client_set_tls_config(c, g_cfg), SMTPC_OK);
        assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_REQUIRED), SMTPC_OK);
    } else {
        assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_NONE), SMTPC_OK);
    }
    assert_int_equal(itest_connect(c, &g_pf), SMTPC_OK);
    return c;
}

static const char *const g_mechs[] = {"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"};

static void check_no_secret(void) {
    auth_assert_not_traced(&g_trace, PASSWORD, 1);
    auth_assert_not_traced(&g_trace, "wrong pw", 1);
    auth_assert_not_traced(&g_trace, "other-pw", 1);
}

static void test_each_mechanism_success(void **state) {
    (void)state;
    for (size_t m = 0; m < sizeof g_mechs / sizeof g_mechs[0]; m++) {
        for (int initial = 1; initial >= 0; initial--) {
            smtpc_client *c = pf_client(1);
            ASSERT_ST(c,
                      smtpc_client_auth_password(c, g_mechs[m], SMTPC_NTS, USER, SMTPC_NTS, PASSWORD,
                                                 SMTPC_NTS, initial),
                      SMTPC_OK);
            assert_int_equal(smtpc_client_tls_verified(c), 1);
            ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 235, "2.7.0 Authentication successful");
            assert_string_equal(smtpc_client_auth_mechanism(c), g_mechs[m]);
            assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
            smtpc_client_free(c);
        }
    }
    check_no_secret();
}

static void test_each_mechanism_wrong_password(void **state) {
    (void)state;
    for (size_t m = 0; m < sizeof g_mechs / sizeof g_mechs[0]; m++) {
        smtpc_client *c = pf_client(1);
        ASSERT_ST(
            c,
            smtpc_client_auth_password(c, g_mechs[m], SMTPC_NTS, USER, SMTPC_NTS, "wrong pw", SMTPC_NTS, 1),
            SMTPC_EAUTH);
        const smtpc_reply *r = smtpc_client_last_reply(c);
        if (smtpc_reply_code(r) != 535)
            fail_msg("%s with a wrong password: reply %d \"%s\", expected 535", g_mechs[m],
                     smtpc_reply_code(r), smtpc_reply_text(r, NULL));
        assert_string_equal(smtpc_reply_enhanced(r), "5.7.8");
        assert_string_equal(smtpc_client_auth_mechanism(c), "");
        assert_int_equal(smtpc_client_is_connected(c), 1);
        /* The password of another user does not work either. */
        ASSERT_ST(
            c,
            smtpc_client_auth_password(c, g_mechs[m], SMTPC_NTS, USER, SMTPC_NTS, "other-pw", SMTPC_NTS, 1),
            SMTPC_EAUTH);
        assert_int_equal(smtpc_reply_code(smtpc_client_last_reply(c)), 535);
        assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
        smtpc_client_free(c);
    }
    check_no_secret();
}

static void test_each_mechanism_unknown_user(void **state) {
    (void)state;
    for (size_t m = 0; m < sizeof g_mechs / sizeof g_mechs[0]; m++) {
        smtpc_client *c = pf_client(1);
        ASSERT_ST(
            c,
            smtpc_client_auth_password(c, g_mechs[m], SMTPC_NTS, "nobody", SMTPC_NTS, PASSWORD, SMTPC_NTS, 1),
            SMTPC_EAUTH);
        const smtpc_reply *r = smtpc_client_last_reply(c);
        if (smtpc_reply_code(r) != 535)
            fail_msg("%s for an unknown user: reply %d \"%s\", expected 535", g_mechs[m], smtpc_reply_code(r),
                     smtpc_reply_text(r, NULL));
        assert_int_equal(smtpc_client_is_connected(c), 1);
        assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
        smtpc_client_free(c);
    }
    check_no_secret();
}

static void send_one(smtpc_client *c, const char *subject) {
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, USER "@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "rcpt@example.org", SMTPC_NTS), SMTPC_OK);
    char msg[256];
    int n = snprintf(msg, sizeof msg, "Subject: %s\r\nMessage-ID: <%s@smtpc.test>\r\n\r\nbody\r\n", subject,
                     subject);
    size_t before = itest_msg_count(&g_pf);
    ASSERT_ST(c, smtpc_client_sendmail(c, env, msg, (size_t)n), SMTPC_OK);
    smtpc_envelope_free(env);
    itest_msg m;
    assert_int_equal(itest_load_msg(&g_pf, before, 20000, &m), 0);
    if (!auth_contains(m.content, m.content_len, subject, strlen(subject)))
        fail_msg("the relayed message lacks \"%s\"", subject);
    itest_msg_free(&m);
}

static void test_login_picks_scram_sha256_then_sends(void **state) {
    (void)state;
    smtpc_client *c = pf_client(1);
    ASSERT_ST(c, smtpc_client_login(c, USER, SMTPC_NTS, PASSWORD, SMTPC_NTS), SMTPC_OK);
    assert_string_equal(smtpc_client_auth_mechanism(c), "SCRAM-SHA-256");
    assert_int_equal(smtpc_client_tls_verified(c), 1);
    auth_assert_traced(&g_trace, "AUTH SCRAM-SHA-256 ****");
    send_one(c, "auth-postfix-scram-tls");
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    check_no_secret();
}

static void test_login_plaintext_loopback(void **state) {
    (void)state;
    smtpc_client *c = pf_client(0);
    ASSERT_ST(c, smtpc_client_login(c, USER, SMTPC_NTS, PASSWORD, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(c), 0);
    assert_string_equal(smtpc_client_auth_mechanism(c), "SCRAM-SHA-256");
    send_one(c, "auth-postfix-scram-plain");
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    check_no_secret();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_mechanism_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_mechanism_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_mechanism_unknown_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_picks_scram_sha256_then_sends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_plaintext_loopback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
