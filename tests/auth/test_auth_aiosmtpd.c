/* SPDX-License-Identifier: MIT */
/*
 * AUTH PLAIN and LOGIN against aiosmtpd (tests/servers/aiosmtpd_server.py --auth USER:PASSWORD
 * --auth-plaintext) on loopback: success with and without an initial response, wrong password and
 * unknown user (535), smtpc_client_login's choice, a message after AUTH, AUTH not advertised
 * (SMTPC_ENOTSUPPORTED) and a mechanism not offered (SMTPC_EAUTH_MECHANISM), each with the exact
 * bytes the server received (its raw capture).
 *
 * aiosmtpd 1.4.3 (Debian 12) answers failed credentials at once (no failure delay), so the command
 * timeout stays the integration tests' 15 s.
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

static itest_server g_auth;   /* --auth alice:s3cret-pw --auth-plaintext */
static itest_server g_noauth; /* AUTH not advertised without TLS */

#define EHLO_LINE "EHLO client.test\r\n"

static int group_setup(void **state) {
    (void)state;
    static const char *const auth_args[] = {
        "--auth", "alice:s3cret-pw", "--auth", "bob@example.org:pw2", "--auth-plaintext", NULL};
    if (itest_start_aiosmtpd(&g_auth, 0, auth_args) != 0) return -1;
    if (itest_start_aiosmtpd(&g_noauth, 0, NULL) != 0) {
        itest_stop(&g_auth);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_auth);
    itest_stop(&g_noauth);
    return 0;
}

static auth_trace g_trace;

static int setup(void **state) {
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    auth_trace_free(&g_trace);
    return 0;
}

static smtpc_client *connect_to(itest_server *srv) {
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.test");
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_trace(c, 1, auth_trace_cb, &g_trace), SMTPC_OK);
    assert_int_equal(itest_connect(c, srv), SMTPC_OK);
    return c;
}

#define ASSERT_ST(c, got, want)                                                                  \
    do {                                                                                         \
        smtpc_status st_ = (got);                                                                \
        if (st_ != (want))                                                                       \
            fail_msg("%s returned %s, expected %s; errmsg \"%s\"", #got, smtpc_status_name(st_), \
                     smtpc_status_name(want), smtpc_client_errmsg(c));                           \
    } while (0)

/* Quit, then compare every byte the client sent on this connection with `want`. */
static void quit_and_check_session(smtpc_client *c, itest_server *srv, const char *want) {
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    char *raw = NULL;
    size_t len = 0;
    assert_int_equal(itest_last_session(srv, &raw, &len), 0);
    if (len != strlen(want) || memcmp(raw, want, len) != 0) {
        itest_dump("server received", raw, len);
        itest_dump("expected       ", want, strlen(want));
        free(raw);
        fail_msg("the server's raw capture differs");
    }
    free(raw);
}

static void test_plain_success(void **state) {
    (void)state;
    smtpc_client *c = connect_to(&g_auth);
    ASSERT_ST(
        c, smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "alice", SMTPC_NTS, "s3cret-pw", SMTPC_NTS, 1),
        SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 235, "2.7.0 Authentication successful");
    assert_string_equal(smtpc_client_auth_mechanism(c), "PLAIN");
    auth_assert_traced(&g_trace, "AUTH PLAIN ****\r\n");
    auth_assert_not_traced(&g_trace, "s3cret-pw", 0);
    char *b = auth_b64("\0alice\0s3cret-pw", 16);
    auth_assert_not_traced(&g_trace, b, 0);
    char want[512];
    snprintf(want, sizeof want, EHLO_LINE "AUTH PLAIN %s\r\nQUIT\r\n", b);
    free(b);
    quit_and_check_session(c, &g_auth, want);
}

static void test_plain_without_initial_response(void **state) {
    (void)state;
    smtpc_client *c = connect_to(&g_auth);
    ASSERT_ST(
        c, smtpc_client_auth_password(c, "plain", SMTPC_NTS, "alice", SMTPC_NTS, "s3cret-pw", SMTPC_NTS, 0),
        SMTPC_OK);
    char *b = auth_b64("\0alice\0s3cret-pw", 16);
    char want[512];
    snprintf(want, sizeof want, EHLO_LINE "AUTH PLAIN\r\n%s\r\nQUIT\r\n", b);
    free(b);
    quit_and_check_session(c, &g_auth, want);
}

static void test_login_success(void **state) {
    (void)state;
    for (int initial = 0; initial <= 1; initial++) {
        smtpc_client *c = connect_to(&g_auth);
        ASSERT_ST(c,
                  smtpc_client_auth_password(c, "LOGIN", SMTPC_NTS, "bob@example.org", SMTPC_NTS, "pw2",
                                             SMTPC_NTS, initial),
                  SMTPC_OK);
        assert_string_equal(smtpc_client_auth_mechanism(c), "LOGIN");
        /* aiosmtpd prompts "User Name\0" and "Password\0"; the client never parses prompts. */
        quit_and_check_session(c, &g_auth,
                               initial ? EHLO_LINE "AUTH LOGIN Ym9iQGV4YW1wbGUub3Jn\r\ncHcy\r\nQUIT\r\n"
                                       : EHLO_LINE "AUTH LOGIN\r\nYm9iQGV4YW1wbGUub3Jn\r\ncHcy\r\nQUIT\r\n");
    }
    auth_assert_not_traced(&g_trace, "cHcy", 0);
}

static void test_wrong_password_and_unknown_user(void **state) {
    (void)state;
    const char *const mechs[] = {"PLAIN", "LOGIN"};
    for (size_t m = 0; m < 2; m++) {
        for (int unknown = 0; unknown <= 1; unknown++) {
            smtpc_client *c = connect_to(&g_auth);
            long long t0 = harness_now_ms();
            ASSERT_ST(c,
                      smtpc_client_auth_password(c, mechs[m], SMTPC_NTS, unknown ? "mallory" : "alice",
                                                 SMTPC_NTS, "wrong-pw", SMTPC_NTS, 1),
                      SMTPC_EAUTH);
            ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 535, "5.7.8 Authentication credentials invalid");
            assert_string_equal(smtpc_client_auth_mechanism(c), "");
            assert_int_equal(smtpc_client_is_connected(c), 1);
            assert_true(harness_now_ms() - t0 < 10000);
            /* No second mechanism is tried, no retry: QUIT follows at once. */
            char want[512];
            if (m == 0) {
                char msg[64];
                int n = snprintf(msg, sizeof msg, "%c%s%cwrong-pw", 0, unknown ? "mallory" : "alice", 0);
                char *b = auth_b64(msg, (size_t)n);
                snprintf(want, sizeof want, EHLO_LINE "AUTH PLAIN %s\r\nQUIT\r\n", b);
                free(b);
            } else {
                snprintf(want, sizeof want, EHLO_LINE "AUTH LOGIN %s\r\nd3JvbmctcHc=\r\nQUIT\r\n",
                         unknown ? "bWFsbG9yeQ==" : "YWxpY2U=");
            }
            quit_and_check_session(c, &g_auth, want);
        }
    }
    auth_assert_not_traced(&g_trace, "wrong-pw", 1);
}

static void test_login_picks_and_sends(void **state) {
    (void)state;
    smtpc_client *c = connect_to(&g_auth);
    ASSERT_ST(c, smtpc_client_login(c, "alice", SMTPC_NTS, "s3cret-pw", SMTPC_NTS), SMTPC_OK);
    /* aiosmtpd offers LOGIN PLAIN: PLAIN is the stronger of the two in the library's order. */
    assert_string_equal(smtpc_client_auth_mechanism(c), "PLAIN");
    /* A second AUTH on the same session is refused by the server (503) and reported as EAUTH. */
    ASSERT_ST(c, smtpc_client_login(c, "alice", SMTPC_NTS, "s3cret-pw", SMTPC_NTS), SMTPC_EAUTH);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 503, "Already authenticated");

    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "alice@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "rcpt@example.org", SMTPC_NTS), SMTPC_OK);
    const char msg[] = "Subject: after AUTH\r\n\r\nhello\r\n";
    size_t before = itest_msg_count(&g_auth);
    ASSERT_ST(c, smtpc_client_sendmail(c, env, msg, sizeof msg - 1), SMTPC_OK);
    assert_int_equal(smtpc_result_delivered_count(smtpc_client_last_result(c)), 1);
    smtpc_envelope_free(env);
    itest_msg m;
    assert_int_equal(itest_load_msg(&g_auth, before, 10000, &m), 0);
    assert_int_equal(m.content_len, sizeof msg - 1);
    assert_memory_equal(m.content, msg, sizeof msg - 1);
    itest_msg_free(&m);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
}

static void test_auth_not_advertised(void **state) {
    (void)state;
    smtpc_client *c = connect_to(&g_noauth);
    ASSERT_ST(
        c, smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "alice", SMTPC_NTS, "s3cret-pw", SMTPC_NTS, 1),
        SMTPC_ENOTSUPPORTED);
    ASSERT_ST(c, smtpc_client_login(c, "alice", SMTPC_NTS, "s3cret-pw", SMTPC_NTS), SMTPC_ENOTSUPPORTED);
    ASSERT_ST(
        c,
        smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, "alice", SMTPC_NTS, "tok", SMTPC_NTS, NULL, NULL),
        SMTPC_ENOTSUPPORTED);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    quit_and_check_session(c, &g_noauth, EHLO_LINE "QUIT\r\n");
}

static void test_mechanism_not_offered(void **state) {
    (void)state;
    smtpc_client *c = connect_to(&g_auth);
    const char *const mechs[] = {"CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"};
    for (size_t i = 0; i < 3; i++)
        ASSERT_ST(
            c,
            smtpc_client_auth_password(c, mechs[i], SMTPC_NTS, "alice", SMTPC_NTS, "s3cret-pw", SMTPC_NTS, 1),
            SMTPC_EAUTH_MECHANISM);
    ASSERT_ST(c,
              smtpc_client_auth_oauth2(c, "OAUTHBEARER", SMTPC_NTS, "alice", SMTPC_NTS, "tok", SMTPC_NTS,
                                       NULL, NULL),
              SMTPC_EAUTH_MECHANISM);
    /* An unknown mechanism name is a caller error. */
    ASSERT_ST(
        c,
        smtpc_client_auth_password(c, "DIGEST-MD5", SMTPC_NTS, "alice", SMTPC_NTS, "s3cret-pw", SMTPC_NTS, 1),
        SMTPC_EINVAL);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    quit_and_check_session(c, &g_auth, EHLO_LINE "QUIT\r\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_without_initial_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password_and_unknown_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_picks_and_sends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_not_advertised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mechanism_not_offered, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
