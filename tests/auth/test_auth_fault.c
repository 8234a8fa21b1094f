/* SPDX-License-Identifier: MIT */
/*
 * AUTH against the scripted fault server (tests/servers/fault_server.py) on loopback: hostile and
 * broken challenges, the challenge limit, OAuth error challenges, token and mechanism callbacks, and
 * 421 during AUTH. Every test checks the status, the connection state and the exact bytes the server
 * received, and that no credential reached the trace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth_common.h"
#include "fault_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define RPL_EHLO_AUTH                                                                                \
    "250-fault.test\r\n250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER " \
    "X-CUSTOM\r\n"                                                                                   \
    "250 8BITMIME\r\n"
#define RPL_ABORTED "501 5.7.0 Authentication aborted\r\n"

static auth_trace g_trace;

static int setup(void **state) {
    memset(&g_trace, 0, sizeof g_trace);
    return fault_setup(state);
}

static int teardown(void **state) {
    auth_trace_free(&g_trace);
    return fault_teardown(state);
}

static void hello_auth(fault_fixture *f) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AUTH);
}

/* Start the server, make a traced client and connect it. */
static smtpc_client *start_and_connect(fault_fixture *f) {
    fault_start(f);
    smtpc_client *c = fault_client(f, 5000, 5000);
    assert_int_equal(smtpc_client_set_trace(c, 1, auth_trace_cb, &g_trace), SMTPC_OK);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    return c;
}

static void assert_transcript_str(const fault_fixture *f, const char *want) {
    fault_assert_transcript(f, want, strlen(want));
}

/* ---- challenges the client must refuse ------------------------------------------------------- */

static void test_invalid_base64_challenge(void **state) {
    fault_fixture *f = *state;
    hello_auth(f);
    sc_expect(f, "AUTH CRAM-MD5\r\n");
    sc_send(f, "334 this is not base64!\r\n");
    sc_expect(f, "*\r\n");
    sc_send(f, RPL_ABORTED);
    sc_expect_eof(f, 5.0);
    smtpc_client *c = start_and_connect(f);

    ASSERT_STATUS(
        f, smtpc_client_auth_password(c, "CRAM-MD5", SMTPC_NTS, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS, 1),
        SMTPC_EAUTH);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    assert_string_equal(smtpc_client_auth_mechanism(c), "");
    smtpc_client_close(c);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "AUTH CRAM-MD5\r\n*\r\n");
    auth_assert_not_traced(&g_trace, "pw-secret", 1);
}

static long maxrss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A challenge line of `len` base64 characters. */
static char *long_challenge(size_t len) {
    char *s = malloc(len + 7);
    assert_non_null(s);
    memcpy(s, "334 ", 4);
    for (size_t i = 0; i < len; i++) {
        s[4 + i] = "QUFB"[i % 4];
    }
    memcpy(s + 4 + len, "\r\n", 3);
    return s;
}

static void test_huge_challenge_line(void **state) {
    fault_fixture *f = *state;
    /* 100 KB, then 16 MiB: the reply line limit ends it at the first 4 KiB, memory stays flat. */
    f->msg = long_challenge(100 * 1024);
    char *huge = long_challenge(16u << 20);
    hello_auth(f);
    sc_expect(f, "AUTH CRAM-MD5\r\n");
    sc_send(f, f->msg);
    sc_expect_eof(f, 5.0);
    smtpc_client *c = start_and_connect(f);
    fault_clock_start(f);
    ASSERT_STATUS(
        f, smtpc_client_auth_password(c, "CRAM-MD5", SMTPC_NTS, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS, 1),
        SMTPC_EPROTOCOL);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_true(fault_elapsed_ms(f) < 3000);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "AUTH CRAM-MD5\r\n");

    /* The 16 MiB line, on a second server. */
    smtpc_client_free(f->client);
    f->client = NULL;
    free(f->script);
    f->script = NULL;
    f->script_len = f->script_cap = 0;
    f->steps = 0;
    hello_auth(f);
    sc_expect(f, "AUTH CRAM-MD5\r\n");
    sc_send(f, huge);
    sc_expect_eof(f, 5.0);
    free(huge);
    c = start_and_connect(f);
    long before = maxrss_kib();
    ASSERT_STATUS(
        f, smtpc_client_auth_password(c, "CRAM-MD5", SMTPC_NTS, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS, 1),
        SMTPC_EPROTOCOL);
    long grown = maxrss_kib() - before;
    assert_int_equal(smtpc_client_is_connected(c), 0);
    if (grown > 4096) {
        fail_msg("peak memory grew by %ld KiB while refusing a 16 MiB challenge line", grown);
    }
    fault_finish(f, 0); /* the server's send fails once the client has closed: its status may be 1 */
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "AUTH CRAM-MD5\r\n");
}

/* A custom mechanism: answers each challenge with "r:" + the challenge; aborts at call `abort_at`. */
typedef struct custom_state {
    int calls;
    int abort_at;
    int initial_calls;
    char seen[8][64];
    size_t seen_len[8];
} custom_state;

static int custom_cb(const char *challenge, size_t len, int is_initial, smtpc_auth_response *resp,
                     void *userdata) {
    custom_state *st = userdata;
    int n = st->calls++;
    if (is_initial) {
        st->initial_calls++;
    } else if (n < 8 && len < 64) {
        memcpy(st->seen[n], challenge, len);
        st->seen_len[n] = len;
    }
    if (n == st->abort_at) {
        return 1;
    }
    if (is_initial) {
        return smtpc_auth_response_set(resp, "init\0ial", 8) == SMTPC_OK ? 0 : 1;
    }
    char buf[80];
    memcpy(buf, "r:", 2);
    memcpy(buf + 2, challenge, len < 64 ? len : 64);
    return smtpc_auth_response_set(resp, buf, 2 + (len < 64 ? len : 64)) == SMTPC_OK ? 0 : 1;
}

static void test_endless_challenges(void **state) {
    fault_fixture *f = *state;
    char expect[1024] = W_EHLO "AUTH X-CUSTOM\r\n";
    hello_auth(f);
    sc_expect(f, "AUTH X-CUSTOM\r\n");
    for (int i = 1; i <= 5; i++) {
        char ch[16], line[64];
        snprintf(ch, sizeof ch, "round %d", i);
        char *b = auth_b64(ch, strlen(ch));
        snprintf(line, sizeof line, "334 %s\r\n", b);
        free(b);
        sc_send(f, line);
        sc_expect(f, "");
        char resp[16];
        snprintf(resp, sizeof resp, "r:round %d", i);
        b = auth_b64(resp, strlen(resp));
        strcat(expect, b);
        strcat(expect, "\r\n");
        free(b);
    }
    sc_send(f, "334 cm91bmQgNg==\r\n"); /* "round 6": one too many */
    sc_expect(f, "*\r\n");
    sc_send(f, RPL_ABORTED);
    sc_expect_eof(f, 5.0);
    strcat(expect, "*\r\n");
    smtpc_client *c = start_and_connect(f);

    custom_state st = {.abort_at = -1};
    ASSERT_STATUS(f, smtpc_client_auth(c, "X-CUSTOM", SMTPC_NTS, 0, custom_cb, &st), SMTPC_EAUTH);
    assert_int_equal(st.calls, 5);
    assert_int_equal(st.initial_calls, 0);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    smtpc_client_close(c);
    assert_int_equal(fault_finish(f, 0), 0);
    assert_transcript_str(f, expect);
}

/* ---- SCRAM: a server that cannot prove it knows the password --------------------------------- */

static void test_scram_server_first_bad_nonce(void **state) {
    /* The scripted server cannot echo the client's random nonce: a server-first whose nonce does not
     * extend the client's is refused with "*" before any proof is sent. */
    fault_fixture *f = *state;
    hello_auth(f);
    sc_expect(f, "AUTH SCRAM-SHA-256 ");
    sc_send(f, "334 cj1mb3JnZWQscz1RU1hDUitRNnNlazhiZjkyLGk9NDA5Ng==\r\n");
    sc_expect(f, "*\r\n");
    sc_send(f, RPL_ABORTED);
    sc_expect_eof(f, 5.0);
    smtpc_client *c = start_and_connect(f);
    ASSERT_STATUS(f,
                  smtpc_client_auth_password(c, "SCRAM-SHA-256", SMTPC_NTS, "user", SMTPC_NTS,
                                             "pencil-secret", SMTPC_NTS, 1),
                  SMTPC_EAUTH);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    smtpc_client_close(c);
    assert_int_equal(fault_finish(f, 0), 0);
    /* AUTH line with client-first ("n,,n=user,r=<nonce>"), then "*": no client proof. */
    assert_true(f->transcript_len > strlen(W_EHLO "AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9"));
    assert_memory_equal(f->transcript, W_EHLO "AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9",
                        strlen(W_EHLO "AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9"));
    assert_true(f->transcript_len >= 3);
    assert_memory_equal(f->transcript + f->transcript_len - 5, "\r\n*\r\n", 5);
    auth_assert_not_traced(&g_trace, "pencil-secret", 1);
}

/* ---- OAuth ----------------------------------------------------------------------------------- */

#define OAUTH_JSON "{\"status\":\"400\",\"schemes\":\"Bearer\",\"scope\":\"https://mail.google.com/\"}"

static void test_xoauth2_error_challenge(void **state) {
    fault_fixture *f = *state;
    const char msg[] = "user=u@example.org\001auth=Bearer ya29.tok-secret\001\001";
    char *b = auth_b64(msg, sizeof msg - 1);
    char *json = auth_b64(OAUTH_JSON, strlen(OAUTH_JSON));
    char chal[512];
    snprintf(chal, sizeof chal, "334 %s\r\n", json);
    hello_auth(f);
    sc_expect(f, "AUTH XOAUTH2 ");
    sc_send(f, chal);
    sc_expect(f, "\r\n"); /* the empty response */
    sc_send(f, "535 5.7.8 Username and Password not accepted\r\n");
    sc_expect_eof(f, 5.0);
    smtpc_client *c = start_and_connect(f);
    ASSERT_STATUS(f,
                  smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, "u@example.org", SMTPC_NTS,
                                           "ya29.tok-secret", SMTPC_NTS, NULL, NULL),
                  SMTPC_EAUTH);
    fault_assert_reply(smtpc_client_last_reply(c), 535, "5.7.8 Username and Password not accepted");
    const char *err = smtpc_client_errmsg(c);
    if (strstr(err, OAUTH_JSON) == NULL) {
        fail_msg("errmsg lacks the server's JSON: \"%s\"", err);
    }
    assert_int_equal(smtpc_client_is_connected(c), 1);
    smtpc_client_close(c);
    assert_int_equal(fault_finish(f, 0), 0);
    char want[1024];
    snprintf(want, sizeof want, W_EHLO "AUTH XOAUTH2 %s\r\n\r\n", b);
    assert_transcript_str(f, want);
    auth_assert_not_traced(&g_trace, "ya29.tok-secret", 0);
    auth_assert_not_traced(&g_trace, b, 0);
    free(b);
    free(json);
}

static void test_oauthbearer_error_challenge(void **state) {
    fault_fixture *f = *state;
    char *json = auth_b64(OAUTH_JSON, strlen(OAUTH_JSON));
    char chal[512];
    snprintf(chal, sizeof chal, "334 %s\r\n", json);
    hello_auth(f);
    sc_expect(f, "AUTH OAUTHBEARER ");
    sc_send(f, chal);
    sc_expect(f, "AQ==\r\n");
    sc_send(f, "535 5.7.8 not accepted\r\n");
    sc_expect_eof(f, 5.0);
    smtpc_client *c = start_and_connect(f);
    ASSERT_STATUS(f,
                  smtpc_client_auth_oauth2(c, "oauthbearer", SMTPC_NTS, "u@example.org", SMTPC_NTS,
                                           "tok-secret", SMTPC_NTS, NULL, NULL),
                  SMTPC_EAUTH);
    if (strstr(smtpc_client_errmsg(c), OAUTH_JSON) == NULL) {
        fail_msg("errmsg lacks the server's JSON: \"%s\"", smtpc_client_errmsg(c));
    }
    smtpc_client_close(c);
    assert_int_equal(fault_finish(f, 0), 0);
    char msg[256];
    int n = snprintf(msg, sizeof msg,
                     "n,a=u@example.org,\001host=127.0.0.1\001port=%d\001auth=Bearer tok-secret\001\001",
                     f->srv.port);
    char *b = auth_b64(msg, (size_t)n);
    char want[1024];
    snprintf(want, sizeof want, W_EHLO "AUTH OAUTHBEARER %s\r\nAQ==\r\n", b);
    assert_transcript_str(f, want);
    auth_assert_not_traced(&g_trace, "tok-secret", 0);
    free(b);
    free(json);
}

typedef struct token_state {
    int calls;
    int abort;
} token_state;

static int token_cb(smtpc_auth_response *token, void *userdata) {
    token_state *st = userdata;
    st->calls++;
    if (st->abort) {
        return 1;
    }
    return smtpc_auth_response_set(token, "cb-token-secret", 15) == SMTPC_OK ? 0 : 1;
}

static void test_token_callback(void **state) {
    fault_fixture *f = *state;
    hello_auth(f);
    const char msg[] = "user=u@example.org\001auth=Bearer cb-token-secret\001\001";
    char *b = auth_b64(msg, sizeof msg - 1);
    sc_expect(f, "AUTH XOAUTH2 ");
    sc_send(f, "235 2.7.0 Accepted\r\n");
    sc_expect_eof(f, 5.0);
    smtpc_client *c = start_and_connect(f);

    /* An aborting callback: SMTPC_EUSER and no AUTH line. */
    token_state ab = {.abort = 1};
    ASSERT_STATUS(
        f,
        smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, "u@example.org", SMTPC_NTS, NULL, 0, token_cb, &ab),
        SMTPC_EUSER);
    assert_int_equal(ab.calls, 1);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    /* Then one that gives the token. */
    token_state ok = {0};
    ASSERT_STATUS(
        f,
        smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, "u@example.org", SMTPC_NTS, NULL, 0, token_cb, &ok),
        SMTPC_OK);
    assert_int_equal(ok.calls, 1);
    assert_string_equal(smtpc_client_auth_mechanism(c), "XOAUTH2");
    smtpc_client_close(c);
    assert_int_equal(fault_finish(f, 0), 0);
    char want[512];
    snprintf(want, sizeof want, W_EHLO "AUTH XOAUTH2 %s\r\n", b);
    assert_transcript_str(f, want);
    auth_assert_not_traced(&g_trace, "cb-token-secret", 0);
    free(b);
}

static void test_token_callback_abort_sends_nothing(void **state) {
    fault_fixture *f = *state;
    hello_auth(f);
    sc_expect_eof(f, 5.0);
    smtpc_client *c = start_and_connect(f);
    token_state ab = {.abort = 1};
    ASSERT_STATUS(f,
                  smtpc_client_auth_oauth2(c, "OAUTHBEARER", SMTPC_NTS, "u@example.org", SMTPC_NTS, NULL, 0,
                                           token_cb, &ab),
                  SMTPC_EUSER);
    smtpc_client_close(c);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
}

/* ---- custom mechanisms ----------------------------------------------------------------------- */

static void test_custom_mechanism_exact_bytes(void **state) {
    fault_fixture *f = *state;
    hello_auth(f);
    sc_expect(f, "AUTH X-CUSTOM aW5pdABpYWw=\r\n"); /* "init\0ial" */
    sc_send(f, "334 AP9h\r\n");                     /* "\0\xffa" */
    sc_expect(f, "cjoA/2E=\r\n");                   /* "r:\0\xffa" */
    sc_send(f, "334 \r\n");                         /* empty challenge */
    sc_expect(f, "cjo=\r\n");                       /* "r:" */
    sc_send(f, "235 2.7.0 ok\r\n");
    sc_expect_eof(f, 5.0);
    smtpc_client *c = start_and_connect(f);
    custom_state st = {.abort_at = -1};
    ASSERT_STATUS(f, smtpc_client_auth(c, "x-custom", SMTPC_NTS, 1, custom_cb, &st), SMTPC_OK);
    assert_int_equal(st.calls, 3);
    assert_int_equal(st.initial_calls, 1);
    assert_int_equal(st.seen_len[1], 3);
    assert_memory_equal(st.seen[1],
                        "\0\xff"
                        "a",
                        3);
    assert_int_equal(st.seen_len[2], 0);
    assert_string_equal(smtpc_client_auth_mechanism(c), "X-CUSTOM");
    smtpc_client_close(c);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "AUTH X-CUSTOM aW5pdABpYWw=\r\ncjoA/2E=\r\ncjo=\r\n");
}

static void test_custom_mechanism_abort(void **state) {
    fault_fixture *f = *state;
    hello_auth(f);
    sc_expect(f, "AUTH X-CUSTOM\r\n");
    sc_send(f, "334 Zmlyc3Q=\r\n");
    sc_expect(f, "cjpmaXJzdA==\r\n");
    sc_send(f, "334 c2Vjb25k\r\n");
    sc_expect(f, "*\r\n");
    sc_send(f, RPL_ABORTED);
    sc_expect_eof(f, 5.0);
    smtpc_client *c = start_and_connect(f);
    custom_state st = {.abort_at = 1};
    ASSERT_STATUS(f, smtpc_client_auth(c, "X-CUSTOM", SMTPC_NTS, 0, custom_cb, &st), SMTPC_EUSER);
    assert_int_equal(st.calls, 2);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    smtpc_client_close(c);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "AUTH X-CUSTOM\r\ncjpmaXJzdA==\r\n*\r\n");
}

static void test_custom_mechanism_abort_initial(void **state) {
    fault_fixture *f = *state;
    hello_auth(f);
    sc_expect_eof(f, 5.0);
    smtpc_client *c = start_and_connect(f);
    custom_state st = {.abort_at = 0};
    ASSERT_STATUS(f, smtpc_client_auth(c, "X-CUSTOM", SMTPC_NTS, 1, custom_cb, &st), SMTPC_EUSER);
    smtpc_client_close(c);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
}

/* ---- 421 ------------------------------------------------------------------------------------- */

static void test_421_during_auth(void **state) {
    fault_fixture *f = *state;
    hello_auth(f);
    sc_expect(f, "AUTH LOGIN dXNlcg==\r\n");
    sc_send(f, "334 UGFzc3dvcmQ6\r\n");
    sc_expect(f, "cHctc2VjcmV0\r\n");
    sc_send_then_close(f, "421 4.3.2 fault.test closing\r\n");
    smtpc_client *c = start_and_connect(f);
    ASSERT_STATUS(
        f, smtpc_client_auth_password(c, "LOGIN", SMTPC_NTS, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS, 1),
        SMTPC_ECLOSING);
    fault_assert_reply(smtpc_client_last_reply(c), 421, "4.3.2 fault.test closing");
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_string_equal(smtpc_client_auth_mechanism(c), "");
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "AUTH LOGIN dXNlcg==\r\ncHctc2VjcmV0\r\n");
    auth_assert_not_traced(&g_trace, "pw-secret", 1);
    auth_assert_traced(&g_trace, "AUTH LOGIN ****");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invalid_base64_challenge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_challenge_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endless_challenges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scram_server_first_bad_nonce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xoauth2_error_challenge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oauthbearer_error_challenge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_callback_abort_sends_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_mechanism_exact_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_mechanism_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_mechanism_abort_initial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_421_during_auth, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
