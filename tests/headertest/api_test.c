/* SPDX-License-Identifier: MIT */
/*
 * Pure-C test of the public API (cmocka): every function declared in include/smtpc.h is called at
 * least once from C, through the shared library, and checked against the codes its documentation
 * promises.
 *
 *  - Without a server: NULL handles give SMTPC_EINVAL, commands on a fresh client give
 *    SMTPC_ENOTCONN, every status has distinct text and its symbolic name, envelopes refuse CR, LF,
 *    NUL, invalid UTF-8 and over-long addresses and leave the envelope unchanged.
 *  - With a scripted server: a child process on a free loopback port answers one command at a time
 *    (no PIPELINING), so that connect, the reply accessors, the feature map, the commands, sendmail,
 *    sendmail_stream and the per-recipient result are exercised from C as well.
 */
#define _POSIX_C_SOURCE 200809L

#include <smtpc.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define NUM_CODES 29 /* SMTPC_OK .. SMTPC_ECANCELLED: extend the table below with every new code */

static const char *const status_names[NUM_CODES] = {
    "SMTPC_OK",
    "SMTPC_EINVAL",
    "SMTPC_ENOMEM",
    "SMTPC_EINTERNAL",
    "SMTPC_ESTATE",
    "SMTPC_ENOTCONN",
    "SMTPC_ERESOLVE",
    "SMTPC_ECONNECT",
    "SMTPC_ETIMEOUT",
    "SMTPC_EIO",
    "SMTPC_EDISCONNECTED",
    "SMTPC_EPROTOCOL",
    "SMTPC_EGREETING",
    "SMTPC_EHELO",
    "SMTPC_EREPLY",
    "SMTPC_ECLOSING",
    "SMTPC_ESENDER_REFUSED",
    "SMTPC_ERECIPIENTS_REFUSED",
    "SMTPC_EDATA_REFUSED",
    "SMTPC_EDELIVERY_UNKNOWN",
    "SMTPC_ENOTSUPPORTED",
    "SMTPC_EAUTH",
    "SMTPC_EUSER",
    "SMTPC_ETLS",
    "SMTPC_ETLS_VERIFY",
    "SMTPC_ETLS_REQUIRED",
    "SMTPC_EAUTH_MECHANISM",
    "SMTPC_EAUTH_INSECURE",
    "SMTPC_ECANCELLED",
};

/* ---------------------------------------------------------------------------------------------- */
/* Version and status codes                                                                        */
/* ---------------------------------------------------------------------------------------------- */

static void test_version(void **state) {
    (void)state;
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", SMTPC_VERSION_MAJOR, SMTPC_VERSION_MINOR,
             SMTPC_VERSION_PATCH);
    assert_string_equal(SMTPC_VERSION_STRING, expected);
    assert_string_equal(smtpc_version(), SMTPC_VERSION_STRING);
    assert_int_equal(smtpc_version_number(), SMTPC_VERSION_NUMBER);
}

static void test_strerror_and_names(void **state) {
    (void)state;
    const char *texts[NUM_CODES];
    for (int i = 0; i < NUM_CODES; i++) {
        smtpc_status code = -i;
        texts[i] = smtpc_strerror(code);
        assert_non_null(texts[i]);
        assert_true(strlen(texts[i]) > 0);
        assert_string_not_equal(texts[i], "unknown status");
        assert_string_equal(smtpc_status_name(code), status_names[i]);
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(texts[i], texts[j]);
        }
    }
    const smtpc_status unknown[] = {1, 42, -1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(smtpc_strerror(unknown[i]), "unknown status");
        assert_string_equal(smtpc_status_name(unknown[i]), "SMTPC_UNKNOWN");
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* NULL handles                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

static void test_null_reply_and_result(void **state) {
    (void)state;
    size_t len = 99;
    assert_int_equal(smtpc_reply_code(NULL), 0);
    assert_string_equal(smtpc_reply_enhanced(NULL), "");
    assert_string_equal(smtpc_reply_text(NULL, &len), "");
    assert_int_equal(len, 0);
    assert_string_equal(smtpc_reply_text(NULL, NULL), "");
    assert_int_equal(smtpc_reply_line_count(NULL), 0);
    assert_null(smtpc_reply_line(NULL, 0, &len));
    smtpc_reply *copy = NULL;
    assert_int_equal(smtpc_reply_dup(&copy, NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_reply_dup(NULL, NULL), SMTPC_EINVAL);
    smtpc_reply_free(NULL);

    assert_int_equal(smtpc_result_count(NULL), 0);
    assert_null(smtpc_result_mail_reply(NULL));
    assert_null(smtpc_result_recipient(NULL, 0, &len));
    assert_int_equal(smtpc_result_state(NULL, 0), SMTPC_RCPT_NOT_ATTEMPTED);
    assert_null(smtpc_result_rcpt_reply(NULL, 0));
    assert_null(smtpc_result_data_reply(NULL, 0));
    assert_int_equal(smtpc_result_delivered_count(NULL), 0);
}

static int never_read(char *buf, size_t cap, size_t *len, void *userdata) {
    (void)buf;
    (void)cap;
    (void)len;
    (*(int *)userdata)++;
    return 1;
}

static int progress_none(uint64_t sent, uint64_t total, void *userdata) {
    (void)sent;
    (void)total;
    (void)userdata;
    return 0;
}

static void test_null_client(void **state) {
    (void)state;
    assert_int_equal(smtpc_client_new(NULL, SMTPC_PROTOCOL_SMTP), SMTPC_EINVAL);
    smtpc_client_free(NULL);
    assert_string_equal(smtpc_client_errmsg(NULL), "");
    assert_int_equal(smtpc_client_is_connected(NULL), 0);
    assert_int_equal(smtpc_client_set_local_hostname(NULL, "a.example", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_connect_timeout(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_command_timeout(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_source_address(NULL, NULL, 0, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_pipelining(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_chunking(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_trace(NULL, 0, NULL, NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_progress(NULL, NULL, NULL), SMTPC_EINVAL);
    smtpc_client_cancel(NULL);
    assert_int_equal(smtpc_client_connect(NULL, "127.0.0.1", SMTPC_NTS, 25), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_helo(NULL, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_ehlo(NULL, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_ehlo_or_helo_if_needed(NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_docmd(NULL, "NOOP", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_noop(NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_rset(NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_vrfy(NULL, "x", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_expn(NULL, "x", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_help(NULL, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_mail(NULL, "a@example.org", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_rcpt(NULL, "a@example.org", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_data(NULL, "x\r\n", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_quit(NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_starttls(NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_tls_config(NULL, NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_tls_policy(NULL, SMTPC_TLS_NONE), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_tls_server_name(NULL, "mail.example.org", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_tls_insecure_skip_verify_for_testing(NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_allow_insecure_auth(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_authzid(NULL, "a", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_login(NULL, "user", SMTPC_NTS, "secret", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_auth_response_set(NULL, "x", 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_send_raw(NULL, "NOOP\r\n", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_read_reply(NULL), SMTPC_EINVAL);
    assert_int_equal(
        smtpc_client_send_message(NULL, NULL, "From: a@example.org\nTo: b@example.org\n\nx\n", SMTPC_NTS),
        SMTPC_EINVAL);

    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "b@example.org", SMTPC_NTS), SMTPC_OK);
    int calls = 0;
    assert_int_equal(smtpc_client_sendmail(NULL, env, "x\r\n", 3), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_sendmail_stream(NULL, env, 0, never_read, &calls), SMTPC_EINVAL);
    assert_int_equal(calls, 0);
    smtpc_envelope_free(env);
}

/* ---------------------------------------------------------------------------------------------- */
/* A client that is not connected                                                                 */
/* ---------------------------------------------------------------------------------------------- */

static void test_new_and_protocol(void **state) {
    (void)state;
    smtpc_client *c = NULL;
    assert_int_equal(smtpc_client_new(&c, (smtpc_protocol)7), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_new(&c, (smtpc_protocol)-1), SMTPC_EINVAL);

    assert_int_equal(smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP), SMTPC_OK);
    assert_non_null(c);
    assert_int_equal(smtpc_client_protocol(c), SMTPC_PROTOCOL_SMTP);
    smtpc_client_free(c);

    c = NULL;
    assert_int_equal(smtpc_client_new(&c, SMTPC_PROTOCOL_LMTP), SMTPC_OK);
    assert_non_null(c);
    assert_int_equal(smtpc_client_protocol(c), SMTPC_PROTOCOL_LMTP);
    smtpc_client_free(c);
}

static void trace_count(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us,
                        void *userdata) {
    (void)data;
    (void)len;
    int *counts = userdata;
    if (kind >= SMTPC_TRACE_SEND && kind <= SMTPC_TRACE_INFO) {
        counts[kind]++;
    }
    if (time_us != 0) {
        counts[0]++; /* timestamps seen: level 2 only */
    }
}

/* A custom SASL mechanism that must never be called in these tests. */
static int auth_never(const char *challenge, size_t challenge_len, int is_initial, smtpc_auth_response *resp,
                      void *userdata) {
    (void)challenge;
    (void)challenge_len;
    (void)is_initial;
    (void)resp;
    (*(int *)userdata)++;
    return 1;
}

static void test_fresh_client(void **state) {
    (void)state;
    int calls_auth = 0;
    smtpc_client *c = NULL;
    assert_int_equal(smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP), SMTPC_OK);

    assert_string_equal(smtpc_client_errmsg(c), "");
    assert_int_equal(smtpc_client_last_status(c), SMTPC_OK);
    assert_int_equal(smtpc_client_os_error(c), 0);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_string_equal(smtpc_client_local_hostname(c), "");
    assert_null(smtpc_client_last_reply(c));
    assert_null(smtpc_client_helo_reply(c));
    assert_null(smtpc_client_ehlo_reply(c));
    assert_int_equal(smtpc_client_does_esmtp(c), 0);
    assert_int_equal(smtpc_client_has_extn(c, "SIZE", SMTPC_NTS), 0);
    assert_null(smtpc_client_extn_params(c, "SIZE", SMTPC_NTS, NULL));
    assert_int_equal(smtpc_client_extn_count(c), 0);
    size_t extn_len = 99;
    assert_null(smtpc_client_extn_name(c, 0, &extn_len));
    assert_int_equal(extn_len, 0);
    extn_len = 99;
    assert_null(smtpc_client_extn_params_at(c, 0, &extn_len));
    assert_int_equal(extn_len, 0);
    assert_null(smtpc_client_last_result(c));

    /* Options. */
    assert_int_equal(smtpc_client_set_connect_timeout(c, 5000), SMTPC_OK);
    assert_int_equal(smtpc_client_set_command_timeout(c, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_set_source_address(c, "127.0.0.1", SMTPC_NTS, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_set_source_address(c, NULL, 0, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_set_source_address(c, "127.0.0.1\n", SMTPC_NTS, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_pipelining(c, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_set_pipelining(c, 1), SMTPC_OK);
    assert_int_equal(smtpc_client_set_chunking(c, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_set_chunking(c, 1), SMTPC_OK);

    int counts[5] = {0};
    assert_int_equal(smtpc_client_set_trace(c, 1, NULL, NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_trace(c, 3, trace_count, counts), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_trace(c, -1, trace_count, counts), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_trace(c, 2, trace_count, counts), SMTPC_OK);
    assert_int_equal(smtpc_client_set_trace(c, 0, NULL, NULL), SMTPC_OK);
    assert_int_equal(smtpc_client_set_progress(c, progress_none, counts), SMTPC_OK);
    assert_int_equal(smtpc_client_set_progress(c, NULL, NULL), SMTPC_OK);
    /* A cancel with no call running stops the next call that talks to a server, before it sends. */
    smtpc_client_cancel(c);
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, 9), SMTPC_ECANCELLED);
    assert_int_equal(smtpc_client_is_connected(c), 0);

    /* Local host name: 1..255 octets, no space or control character. */
    char name[300];
    memset(name, 'a', sizeof name);
    assert_int_equal(smtpc_client_set_local_hostname(c, name, 255), SMTPC_OK);
    assert_int_equal(strlen(smtpc_client_local_hostname(c)), 255);
    assert_int_equal(smtpc_client_set_local_hostname(c, name, 256), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_local_hostname(c, "", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_local_hostname(c, "a b", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_local_hostname(c, "a\r\nQUIT", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_local_hostname(c, "ab\0cd", 5), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_local_hostname(c, "client.example.org", SMTPC_NTS), SMTPC_OK);
    assert_string_equal(smtpc_client_local_hostname(c), "client.example.org");
    assert_int_equal(smtpc_client_set_local_hostname(c, "client.example.orgXYZ", 18), SMTPC_OK);
    assert_string_equal(smtpc_client_local_hostname(c), "client.example.org");

    /* TLS settings and facts of a client that is not connected. */
    assert_int_equal(smtpc_client_tls_active(c), 0);
    assert_int_equal(smtpc_client_tls_verified(c), 0);
    assert_string_equal(smtpc_client_tls_version(c), "");
    assert_string_equal(smtpc_client_tls_cipher(c), "");
    assert_string_equal(smtpc_client_tls_peer_subject(c), "");
    assert_string_equal(smtpc_client_tls_peer_fingerprint(c), "");
    assert_int_equal(smtpc_client_tls_verify_result(c), 0);
    assert_int_equal(smtpc_client_tls_resumed(c), 0);
    assert_int_equal(smtpc_client_tls_resumed(NULL), 0);
    assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_REQUIRED), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_policy(c, (smtpc_tls_policy)99), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_AUTO), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_server_name(c, "mail.example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_server_name(c, "mail example", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_tls_server_name(c, "mail\r\n", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_tls_server_name(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_insecure_skip_verify_for_testing(c, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_config(c, NULL), SMTPC_OK);
    assert_int_equal(smtpc_client_starttls(c), SMTPC_ENOTCONN);

    /* AUTH settings and calls on a client that is not connected. */
    assert_string_equal(smtpc_client_auth_mechanism(c), "");
    assert_int_equal(smtpc_client_set_allow_insecure_auth(c, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_set_authzid(c, "admin", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_set_authzid(c, "ad\r\nmin", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_authzid(c, "ad\0min", 6), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_authzid(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_login(c, "user", SMTPC_NTS, "secret", SMTPC_NTS), SMTPC_ENOTCONN);
    assert_int_equal(
        smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "user", SMTPC_NTS, "secret", SMTPC_NTS, 1),
        SMTPC_ENOTCONN);
    assert_int_equal(
        smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, "user", SMTPC_NTS, "token", SMTPC_NTS, NULL, NULL),
        SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_auth(c, "X-TEST", SMTPC_NTS, 1, auth_never, &calls_auth), SMTPC_ENOTCONN);
    assert_int_equal(calls_auth, 0);

    /* Every command on a client that is not connected: SMTPC_ENOTCONN, nothing sent. */
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_helo(c, "x.example", SMTPC_NTS), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_ehlo_or_helo_if_needed(c), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_docmd(c, "XFOO", SMTPC_NTS, "bar", SMTPC_NTS), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_noop(c), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_last_status(c), SMTPC_ENOTCONN);
    assert_true(strlen(smtpc_client_errmsg(c)) > 0);
    assert_int_equal(smtpc_client_rset(c), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_vrfy(c, "user", SMTPC_NTS), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_expn(c, "list", SMTPC_NTS), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_help(c, NULL, 0), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_mail(c, "a@example.org", SMTPC_NTS, NULL, 0), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_rcpt(c, "b@example.org", SMTPC_NTS, NULL, 0), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_data(c, "Subject: x\r\n\r\nbody\r\n", SMTPC_NTS), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_quit(c), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_send_raw(c, "NOOP\r\n", SMTPC_NTS), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_read_reply(c), SMTPC_ENOTCONN);
    assert_int_equal(
        smtpc_client_send_message(c, NULL, "From: a@example.org\nTo: b@example.org\n\nx\n", SMTPC_NTS),
        SMTPC_ENOTCONN);
    smtpc_client_close(c); /* safe when not connected */
    assert_int_equal(smtpc_client_is_connected(c), 0);

    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "a@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "b@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail(c, env, "x\r\n", 3), SMTPC_ENOTCONN);
    int calls = 0;
    assert_int_equal(smtpc_client_sendmail_stream(c, env, 0, never_read, &calls), SMTPC_ENOTCONN);
    assert_int_equal(calls, 0);
    smtpc_envelope_free(env);

    assert_int_equal(counts[SMTPC_TRACE_SEND], 0);
    smtpc_client_free(c);
}

/* A loopback port on which nothing listens (bound once to get it from the kernel, then closed). */
static uint16_t closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void test_connect_arguments(void **state) {
    (void)state;
    smtpc_client *c = NULL;
    assert_int_equal(smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP), SMTPC_OK);
    assert_int_equal(smtpc_client_set_connect_timeout(c, 5000), SMTPC_OK);

    assert_int_equal(smtpc_client_connect(c, NULL, 0, 25), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_connect(c, "", SMTPC_NTS, 25), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1\r\n", SMTPC_NTS, 25), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1\0x", 11, 25), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1:smtp", SMTPC_NTS, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1:70000", SMTPC_NTS, 0), SMTPC_EINVAL);
    char path[300];
    memset(path, 'x', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    assert_int_equal(smtpc_client_connect(c, path, SMTPC_NTS, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_is_connected(c), 0);

    /* Nothing listens there: SMTPC_ECONNECT with the errno kept. */
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%u", (unsigned)closed_port());
    assert_int_equal(smtpc_client_connect(c, host, SMTPC_NTS, 0), SMTPC_ECONNECT);
    assert_int_equal(smtpc_client_os_error(c), ECONNREFUSED);
    assert_int_equal(smtpc_client_last_status(c), SMTPC_ECONNECT);
    assert_true(strlen(smtpc_client_errmsg(c)) > 0);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    smtpc_client_free(c);
}

/* ---------------------------------------------------------------------------------------------- */
/* TLS configuration                                                                               */
/* ---------------------------------------------------------------------------------------------- */

static void test_tls_config(void **state) {
    (void)state;
    assert_int_equal(smtpc_tls_config_new(NULL), SMTPC_EINVAL);
    smtpc_tls_config_free(NULL);
    assert_int_equal(smtpc_tls_config_set_ca_file(NULL, "ca.pem", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_set_ca_path(NULL, "certs", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_add_ca_der(NULL, "x", 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_set_client_cert(NULL, "c.pem", SMTPC_NTS, NULL, 0, NULL, 0),
                     SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_set_verify_peer(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_set_verify_hostname(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_set_session_resumption(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_set_min_version(NULL, SMTPC_TLS_VERSION_1_2), SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_set_ciphers(NULL, "HIGH", SMTPC_NTS), SMTPC_EINVAL);

    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_non_null(cfg);
    assert_string_equal(smtpc_tls_config_errmsg(cfg), "");

    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, NULL, 0), SMTPC_EINVAL);
    /* Every failing call says why on the handle, SMTPC_EINVAL too; a success clears it. */
    assert_non_null(strstr(smtpc_tls_config_errmsg(cfg), "CA file: "));
    assert_int_equal(smtpc_tls_config_set_verify_peer(cfg, 1), SMTPC_OK);
    assert_string_equal(smtpc_tls_config_errmsg(cfg), "");
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, "", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, "ca\0.pem", 6), SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, "/nonexistent/smtpc-ca.pem", SMTPC_NTS), SMTPC_ETLS);
    assert_true(strlen(smtpc_tls_config_errmsg(cfg)) > 0);
    assert_int_equal(smtpc_tls_config_set_ca_path(cfg, "", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_add_ca_der(cfg, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_tls_config_add_ca_der(cfg, "not DER", 7), SMTPC_ETLS);
    assert_int_equal(
        smtpc_tls_config_set_client_cert(cfg, "/nonexistent/smtpc-client.pem", SMTPC_NTS, NULL, 0, NULL, 0),
        SMTPC_ETLS);
    assert_int_equal(smtpc_tls_config_set_verify_peer(cfg, 1), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_verify_hostname(cfg, 1), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_session_resumption(cfg, 0), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_session_resumption(cfg, 1), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_min_version(cfg, SMTPC_TLS_VERSION_1_3), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_min_version(cfg, SMTPC_TLS_VERSION_1_2), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_min_version(cfg, (smtpc_tls_version)11), SMTPC_EINVAL);
    assert_non_null(strstr(smtpc_tls_config_errmsg(cfg), "minimum TLS version: "));
    assert_int_equal(smtpc_tls_config_add_ca_der(cfg, NULL, 0), SMTPC_EINVAL);
    assert_non_null(strstr(smtpc_tls_config_errmsg(cfg), "DER CA certificate: "));
    assert_int_equal(smtpc_tls_config_set_ciphers(cfg, "ECDHE+AESGCM", SMTPC_NTS), SMTPC_OK);
    assert_string_equal(smtpc_tls_config_errmsg(cfg), "");
    assert_int_equal(smtpc_tls_config_set_ciphers(cfg, "", SMTPC_NTS), SMTPC_EINVAL);
    assert_non_null(strstr(smtpc_tls_config_errmsg(cfg), "cipher list: "));
    assert_int_equal(smtpc_tls_config_set_ciphers(cfg, "NO-SUCH-CIPHER", SMTPC_NTS), SMTPC_ETLS);

    /* A client keeps its own reference: the caller may drop its reference first. */
    smtpc_client *c = NULL;
    assert_int_equal(smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
    smtpc_tls_config_free(cfg);
    assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_NONE), SMTPC_OK);
    smtpc_client_free(c);
}

/* ---------------------------------------------------------------------------------------------- */
/* Envelopes                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

/* Every failing envelope call says why (smtpc_envelope_errmsg); a success clears it. */
static void test_envelope_errmsg(void **state) {
    (void)state;
    assert_string_equal(smtpc_envelope_errmsg(NULL), "");
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_string_equal(smtpc_envelope_errmsg(env), "");

    assert_int_equal(smtpc_envelope_add_recipient(env, "a\r@example.org", SMTPC_NTS), SMTPC_EINVAL);
    const char *msg = smtpc_envelope_errmsg(env);
    assert_non_null(strstr(msg, "recipient address: "));
    assert_true(strlen(msg) > strlen("recipient address: "));
    assert_int_equal(smtpc_envelope_add_recipient(env, "b@example.org", SMTPC_NTS), SMTPC_OK);
    assert_string_equal(smtpc_envelope_errmsg(env), "");

    char addr[80];
    memset(addr, 'l', 65);
    strcpy(addr + 65, "@example.org");
    assert_int_equal(smtpc_envelope_set_sender(env, addr, SMTPC_NTS), SMTPC_EINVAL);
    assert_non_null(strstr(smtpc_envelope_errmsg(env), "sender address: "));
    assert_int_equal(smtpc_envelope_add_recipient(env, NULL, 0), SMTPC_EINVAL);
    assert_string_equal(smtpc_envelope_errmsg(env), "recipient address: NULL address");
    assert_int_equal(smtpc_envelope_add_mail_option(env, "SIZE=10", SMTPC_NTS), SMTPC_EINVAL);
    assert_non_null(strstr(smtpc_envelope_errmsg(env), "mail option: SIZE"));
    assert_int_equal(smtpc_envelope_add_rcpt_option(env, "A B", SMTPC_NTS), SMTPC_EINVAL);
    assert_non_null(strstr(smtpc_envelope_errmsg(env), "recipient option: "));
    assert_int_equal(smtpc_envelope_add_rcpt_option(env, "NOTIFY=NEVER", SMTPC_NTS), SMTPC_OK);
    assert_string_equal(smtpc_envelope_errmsg(env), "");
    assert_int_equal(smtpc_envelope_recipient_count(env), 1);
    smtpc_envelope_free(env);
}

static void test_envelope(void **state) {
    (void)state;
    assert_int_equal(smtpc_envelope_new(NULL), SMTPC_EINVAL);
    smtpc_envelope_free(NULL);
    assert_int_equal(smtpc_envelope_recipient_count(NULL), 0);
    assert_int_equal(smtpc_envelope_set_sender(NULL, "a@example.org", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_recipient(NULL, "a@example.org", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_mail_option(NULL, "BODY=8BITMIME", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_rcpt_option(NULL, "NOTIFY=NEVER", SMTPC_NTS), SMTPC_EINVAL);

    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_non_null(env);
    assert_int_equal(smtpc_envelope_recipient_count(env), 0);

    /* Sender: bare, bracketed, or the null reverse-path. */
    assert_int_equal(smtpc_envelope_set_sender(env, "a@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "<a@example.org>", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "a@example.orgGARBAGE", 13), SMTPC_OK);

    /* CR, LF, NUL and other control characters are refused, wherever they are. */
    const char *bad[] = {"a\r@example.org", "a@example.org\r\n",
                         "a@exa\nmple.org", "a@example.org\rRCPT TO:<x@y>",
                         "a\t@example.org", "a@example.org\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(smtpc_envelope_set_sender(env, bad[i], SMTPC_NTS), SMTPC_EINVAL);
        assert_int_equal(smtpc_envelope_add_recipient(env, bad[i], SMTPC_NTS), SMTPC_EINVAL);
    }
    assert_int_equal(smtpc_envelope_set_sender(env, "a@ex\0ample.org", 14), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_recipient(env, "a@ex\0ample.org", 14), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_recipient(env, "a@example.org\0", 14), SMTPC_EINVAL);
    /* Invalid UTF-8. */
    assert_int_equal(smtpc_envelope_add_recipient(env, "\xff\xfe@example.org", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_recipient(env, "a\xc3@example.org", SMTPC_NTS), SMTPC_EINVAL);
    /* "" is the null path: a sender only. */
    assert_int_equal(smtpc_envelope_add_recipient(env, "", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_recipient_count(env), 0);

    /* Length limits (RFC 5321 4.5.3.1): local part 64, domain 255, path 256 octets. */
    char addr[400];
    memset(addr, 'l', 64);
    strcpy(addr + 64, "@example.org");
    assert_int_equal(smtpc_envelope_add_recipient(env, addr, SMTPC_NTS), SMTPC_OK);
    memset(addr, 'l', 65);
    strcpy(addr + 65, "@example.org");
    assert_int_equal(smtpc_envelope_add_recipient(env, addr, SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_sender(env, addr, SMTPC_NTS), SMTPC_EINVAL);
    /* A domain of 259 octets: four labels of 63 and "abc". */
    strcpy(addr, "a@");
    for (int i = 0; i < 4; i++) {
        size_t at = strlen(addr);
        memset(addr + at, 'd', 63);
        strcpy(addr + at + 63, ".");
    }
    strcat(addr, "abc");
    assert_true(strlen(addr) - 2 > 255);
    assert_int_equal(smtpc_envelope_add_recipient(env, addr, SMTPC_NTS), SMTPC_EINVAL);
    /* A path over 256 octets made of a valid local part and a valid domain. */
    memset(addr, 'l', 64);
    addr[64] = '@';
    addr[65] = '\0';
    for (int i = 0; i < 3; i++) {
        size_t at = strlen(addr);
        memset(addr + at, 'd', 63);
        strcpy(addr + at + 63, ".");
    }
    strcat(addr, "org");
    assert_true(strlen(addr) > 258);
    assert_int_equal(smtpc_envelope_add_recipient(env, addr, SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_sender(env, addr, SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_recipient_count(env), 1);

    /* Order and duplicates are kept. */
    assert_int_equal(smtpc_envelope_add_recipient(env, "b@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "<b@example.org>", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_recipient_count(env), 3);

    /* ESMTP options. */
    assert_int_equal(smtpc_envelope_add_mail_option(env, "BODY=8BITMIME", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "RET=HDRS", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "BODY=8BITMIME SMTPUTF8", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "RET=HDRS\r\n", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "RET=\0HDRS", 9), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "X=\xc3\xa9", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_mail_option(env, "SIZE=1000", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_rcpt_option(env, "NOTIFY=SUCCESS,FAILURE", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_rcpt_option(env, "", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_rcpt_option(env, "NOTIFY=NEVER ORCPT=x", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_rcpt_option(env, "NOTIFY=NEVER\n", SMTPC_NTS), SMTPC_EINVAL);
    smtpc_envelope_free(env);
}

/* Typed ESMTP parameters: every setter refuses NULL and bad values and leaves the envelope unchanged. */
static void test_envelope_extensions(void **state) {
    (void)state;
    assert_int_equal(smtpc_envelope_set_dsn(NULL, SMTPC_DSN_RET_FULL, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_dsn_optional(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_recipient_dsn(NULL, "a@b", SMTPC_NTS, 0, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_requiretls(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_mt_priority(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_deliver_by(NULL, 60, SMTPC_DELIVERBY_RETURN, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_hold_for(NULL, 60), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_hold_until(NULL, "2030-01-01T00:00:00Z", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_auth(NULL, "", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_body(NULL, SMTPC_BODY_AUTO), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_smtputf8(NULL, SMTPC_SMTPUTF8_AUTO), SMTPC_EINVAL);

    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_dsn(env, SMTPC_DSN_RET_HDRS, "id+1", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_dsn(env, SMTPC_DSN_RET_UNSET, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_dsn(env, 3, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_dsn(env, -1, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_dsn(env, SMTPC_DSN_RET_FULL, NULL, 5), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_dsn(env, SMTPC_DSN_RET_FULL, "", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_dsn(env, SMTPC_DSN_RET_FULL, "a\r\nb", SMTPC_NTS), SMTPC_EINVAL);
    assert_true(strstr(smtpc_envelope_errmsg(env), "ENVID") != NULL);
    assert_int_equal(smtpc_envelope_set_dsn_optional(env, 1), SMTPC_OK);

    assert_int_equal(smtpc_envelope_add_recipient_dsn(env, "a@example.org", SMTPC_NTS,
                                                      SMTPC_DSN_NOTIFY_SUCCESS | SMTPC_DSN_NOTIFY_FAILURE,
                                                      "a@example.org", SMTPC_NTS),
                     SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient_dsn(env, "b@example.org", SMTPC_NTS, 0, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient_dsn(env, "c@example.org", SMTPC_NTS,
                                                      SMTPC_DSN_NOTIFY_NEVER | SMTPC_DSN_NOTIFY_DELAY, NULL,
                                                      0),
                     SMTPC_EINVAL);
    assert_true(strstr(smtpc_envelope_errmsg(env), "NEVER") != NULL);
    assert_int_equal(smtpc_envelope_add_recipient_dsn(env, "c@example.org", SMTPC_NTS, 16, NULL, 0),
                     SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_recipient_dsn(env, "c@example.org", SMTPC_NTS, 0, "x\n@y", SMTPC_NTS),
                     SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_recipient_dsn(env, "c@example.org", SMTPC_NTS, 0, "", SMTPC_NTS),
                     SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_recipient_dsn(env, "c\r@example.org", SMTPC_NTS, 0, NULL, 0),
                     SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_add_recipient_dsn(env, NULL, 0, 0, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_recipient_count(env), 2);

    assert_int_equal(smtpc_envelope_set_requiretls(env, 1), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_requiretls(env, 0), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_mt_priority(env, -9), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_mt_priority(env, 9), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_mt_priority(env, SMTPC_MT_PRIORITY_UNSET), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_mt_priority(env, 10), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_mt_priority(env, -10), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_deliver_by(env, 3600, SMTPC_DELIVERBY_RETURN, 1), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_deliver_by(env, -60, SMTPC_DELIVERBY_NOTIFY, 0), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_deliver_by(env, 0, SMTPC_DELIVERBY_RETURN, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_deliver_by(env, 1000000000LL, SMTPC_DELIVERBY_NOTIFY, 0),
                     SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_deliver_by(env, 60, 3, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_deliver_by(env, 0, SMTPC_DELIVERBY_UNSET, 0), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_hold_for(env, 604800), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_hold_for(env, 1000000000ULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_hold_for(env, 0), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_hold_until(env, "2030-01-01T00:00:00Z", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_hold_until(env, "2030-01-01", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_hold_until(env, "2030-01-01T00:00:00Zjunk", 20), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_hold_until(env, NULL, 3), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_hold_until(env, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_auth(env, "user@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_auth(env, "", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_auth(env, "a\0b", 3), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_auth(env, "\xff", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_auth(env, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_body(env, SMTPC_BODY_BINARYMIME), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_body(env, 4), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_body(env, -1), SMTPC_EINVAL);
    assert_int_equal(smtpc_envelope_set_smtputf8(env, SMTPC_SMTPUTF8_OFF), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_smtputf8(env, 3), SMTPC_EINVAL);
    smtpc_envelope_free(env);

    /* Results and enhanced codes on NULL. */
    assert_null(smtpc_result_reply(NULL, 0));
    int k = -1, s = -1, d = -1;
    assert_int_equal(smtpc_reply_enhanced_parts(NULL, &k, &s, &d), 0);
    assert_int_equal(k, 0);
    assert_int_equal(s, 0);
    assert_int_equal(d, 0);
    assert_int_equal(smtpc_reply_enhanced_parts(NULL, NULL, NULL, NULL), 0);
}

/* ---------------------------------------------------------------------------------------------- */
/* Against a scripted server                                                                       */
/* ---------------------------------------------------------------------------------------------- */

struct server {
    pid_t pid;
    uint16_t port;
};

static int write_all(int fd, const char *s) {
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n <= 0) {
            return -1;
        }
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read one line ending in LF into line (NUL-terminated, CRLF kept); -1 at EOF. */
static int read_line(int fd, char *line, size_t cap) {
    size_t used = 0;
    while (used + 1 < cap) {
        char ch;
        ssize_t n = read(fd, &ch, 1);
        if (n <= 0) {
            return -1;
        }
        line[used++] = ch;
        if (ch == '\n') {
            break;
        }
    }
    line[used] = '\0';
    return 0;
}

static int starts_with(const char *s, const char *prefix) {
    for (; *prefix != '\0'; s++, prefix++) {
        char a = *s >= 'a' && *s <= 'z' ? (char)(*s - 'a' + 'A') : *s;
        if (a != *prefix) {
            return 0;
        }
    }
    return 1;
}

/*
 * One session: greeting, then one reply per command line. EHLO/LHLO lists SIZE, 8BITMIME and HELP.
 * RCPT TO a local part "bad" is refused. After DATA the reply to the message says how many bytes
 * arrived between the 354 and the final ".\r\n" (as sent: CRLF line ends, dot-stuffed); in LMTP
 * mode one such reply is sent per accepted recipient.
 */
static void serve_session(int fd) {
    char line[2048];
    char reply[2200];
    int lmtp = 0, accepted = 0;
    write_all(fd, "220 fake.test ESMTP smtpc-api-test\r\n");
    while (read_line(fd, line, sizeof line) == 0) {
        if (starts_with(line, "EHLO") || starts_with(line, "LHLO")) {
            lmtp = starts_with(line, "LHLO");
            write_all(fd, "250-fake.test greets you\r\n250-SIZE 100000\r\n250-8BITMIME\r\n250 HELP\r\n");
        } else if (starts_with(line, "HELO")) {
            write_all(fd, "250 fake.test\r\n");
        } else if (starts_with(line, "MAIL FROM:")) {
            accepted = 0;
            line[strcspn(line, "\r\n")] = '\0';
            snprintf(reply, sizeof reply, "250 2.1.0 Ok %s\r\n", line);
            write_all(fd, reply);
        } else if (starts_with(line, "RCPT TO:<BAD@")) {
            write_all(fd, "550 5.1.1 No such user\r\n");
        } else if (starts_with(line, "RCPT TO:")) {
            accepted++;
            write_all(fd, "250 2.1.5 Ok\r\n");
        } else if (starts_with(line, "DATA")) {
            write_all(fd, "354 End data with <CR><LF>.<CR><LF>\r\n");
            size_t bytes = 0;
            while (read_line(fd, line, sizeof line) == 0 && strcmp(line, ".\r\n") != 0) {
                bytes += strlen(line);
            }
            snprintf(reply, sizeof reply, "250 2.0.0 Ok: %zu bytes\r\n", bytes);
            for (int i = 0; i < (lmtp ? accepted : 1); i++) {
                write_all(fd, reply);
            }
        } else if (starts_with(line, "RSET") || starts_with(line, "NOOP")) {
            write_all(fd, "250 2.0.0 Ok\r\n");
        } else if (starts_with(line, "VRFY")) {
            write_all(fd, "252 2.0.0 Cannot VRFY user\r\n");
        } else if (starts_with(line, "EXPN")) {
            write_all(fd, "502 5.5.2 EXPN not implemented\r\n");
        } else if (starts_with(line, "HELP")) {
            write_all(fd, "214-Commands:\r\n214 NOOP QUIT\r\n");
        } else if (starts_with(line, "XCUSTOM ")) {
            write_all(fd, "250 custom ok\r\n");
        } else if (starts_with(line, "QUIT")) {
            write_all(fd, "221 2.0.0 Bye\r\n");
            break;
        } else {
            write_all(fd, "500 5.5.1 Unknown command\r\n");
        }
    }
}

static int server_setup(void **state) {
    static struct server srv;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) {
        return -1;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 8) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
        close(lfd);
        return -1;
    }
    srv.port = ntohs(sa.sin_port);
    fflush(NULL);
    srv.pid = fork();
    if (srv.pid < 0) {
        close(lfd);
        return -1;
    }
    if (srv.pid == 0) {
        /* The server and its per-connection children form a process group, stopped together. A
         * session that a failed test leaves open does not hold up the next one. */
        setpgid(0, 0);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGCHLD, SIG_IGN); /* no zombies */
        alarm(120);               /* never outlive a stuck test */
        for (;;) {
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0) {
                continue;
            }
            if (fork() == 0) {
                close(lfd);
                serve_session(fd);
                _exit(0);
            }
            close(fd);
        }
    }
    setpgid(srv.pid, srv.pid); /* also here, so that the group exists before teardown */
    close(lfd);
    *state = &srv;
    return 0;
}

static int server_teardown(void **state) {
    struct server *srv = *state;
    kill(-srv->pid, SIGTERM);
    waitpid(srv->pid, NULL, 0);
    return 0;
}

static smtpc_client *connect_client(const struct server *srv, smtpc_protocol proto) {
    smtpc_client *c = NULL;
    assert_int_equal(smtpc_client_new(&c, proto), SMTPC_OK);
    assert_int_equal(smtpc_client_set_local_hostname(c, "client.test", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_set_connect_timeout(c, 10000), SMTPC_OK);
    assert_int_equal(smtpc_client_set_command_timeout(c, 10000), SMTPC_OK);
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, srv->port), SMTPC_OK);
    return c;
}

static void test_session_commands(void **state) {
    const struct server *srv = *state;
    int counts[5] = {0};
    smtpc_client *c = NULL;
    assert_int_equal(smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP), SMTPC_OK);
    assert_int_equal(smtpc_client_set_trace(c, 1, trace_count, counts), SMTPC_OK);
    assert_int_equal(smtpc_client_set_local_hostname(c, "client.test", SMTPC_NTS), SMTPC_OK);
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%u", (unsigned)srv->port);
    assert_int_equal(smtpc_client_connect(c, host, SMTPC_NTS, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_is_connected(c), 1);
    assert_int_equal(smtpc_client_connect(c, host, SMTPC_NTS, 0), SMTPC_ESTATE);
    assert_int_equal(smtpc_client_is_connected(c), 1);

    /* The greeting and the reply accessors. */
    const smtpc_reply *r = smtpc_client_last_reply(c);
    assert_non_null(r);
    assert_int_equal(smtpc_reply_code(r), 220);
    assert_string_equal(smtpc_reply_enhanced(r), "");
    size_t len = 0;
    assert_string_equal(smtpc_reply_text(r, &len), "fake.test ESMTP smtpc-api-test");
    assert_int_equal(len, strlen("fake.test ESMTP smtpc-api-test"));
    assert_int_equal(smtpc_reply_line_count(r), 1);
    assert_string_equal(smtpc_reply_line(r, 0, &len), "fake.test ESMTP smtpc-api-test");
    assert_null(smtpc_reply_line(r, 1, &len));

    /* EHLO and the feature map. */
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_does_esmtp(c), 1);
    assert_non_null(smtpc_client_ehlo_reply(c));
    assert_int_equal(smtpc_reply_code(smtpc_client_ehlo_reply(c)), 250);
    assert_int_equal(smtpc_reply_line_count(smtpc_client_ehlo_reply(c)), 4);
    assert_null(smtpc_client_helo_reply(c));
    assert_int_equal(smtpc_client_has_extn(c, "size", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "SIZE", SMTPC_NTS), 1);
    assert_int_equal(smtpc_client_has_extn(c, "8BITMIMEX", 8), 1);
    assert_int_equal(smtpc_client_has_extn(c, "STARTTLS", SMTPC_NTS), 0);
    size_t plen = 0;
    assert_string_equal(smtpc_client_extn_params(c, "Size", SMTPC_NTS, &plen), "100000");
    assert_int_equal(plen, 6);
    assert_string_equal(smtpc_client_extn_params(c, "8bitmime", SMTPC_NTS, NULL), "");
    assert_null(smtpc_client_extn_params(c, "PIPELINING", SMTPC_NTS, NULL));
    assert_int_equal(smtpc_client_extn_count(c), 3);
    size_t klen = 0;
    assert_string_equal(smtpc_client_extn_name(c, 0, &klen), "size");
    assert_int_equal(klen, 4);
    assert_string_equal(smtpc_client_extn_params_at(c, 0, &plen), "100000");
    assert_int_equal(plen, 6);
    assert_string_equal(smtpc_client_extn_name(c, 1, NULL), "8bitmime");
    assert_string_equal(smtpc_client_extn_params_at(c, 1, &plen), "");
    assert_int_equal(plen, 0);
    assert_string_equal(smtpc_client_extn_name(c, 2, NULL), "help");
    assert_null(smtpc_client_extn_name(c, 3, &klen));
    assert_int_equal(klen, 0);
    assert_null(smtpc_client_extn_params_at(c, 3, NULL));
    assert_int_equal(smtpc_client_ehlo_or_helo_if_needed(c), SMTPC_OK);
    assert_string_equal(smtpc_client_local_hostname(c), "client.test");

    /* Simple commands; an owned copy of a reply outlives the next command. */
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    assert_int_equal(smtpc_client_last_status(c), SMTPC_OK);
    assert_string_equal(smtpc_client_errmsg(c), "");
    assert_string_equal(smtpc_reply_enhanced(smtpc_client_last_reply(c)), "2.0.0");
    smtpc_reply *copy = NULL;
    assert_int_equal(smtpc_reply_dup(NULL, smtpc_client_last_reply(c)), SMTPC_EINVAL);
    assert_int_equal(smtpc_reply_dup(&copy, smtpc_client_last_reply(c)), SMTPC_OK);
    assert_non_null(copy);
    assert_int_equal(smtpc_client_rset(c), SMTPC_OK);
    assert_int_equal(smtpc_client_vrfy(c, "someone", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_reply_code(smtpc_client_last_reply(c)), 252);
    assert_int_equal(smtpc_reply_code(copy), 250);
    assert_string_equal(smtpc_reply_text(copy, NULL), "2.0.0 Ok");
    smtpc_reply_free(copy);

    assert_int_equal(smtpc_client_expn(c, "list", SMTPC_NTS), SMTPC_EREPLY);
    assert_int_equal(smtpc_client_last_status(c), SMTPC_EREPLY);
    assert_int_equal(smtpc_reply_code(smtpc_client_last_reply(c)), 502);
    assert_true(strlen(smtpc_client_errmsg(c)) > 0);
    assert_int_equal(smtpc_client_is_connected(c), 1);

    assert_int_equal(smtpc_client_help(c, NULL, 0), SMTPC_OK);
    r = smtpc_client_last_reply(c);
    assert_int_equal(smtpc_reply_code(r), 214);
    assert_int_equal(smtpc_reply_line_count(r), 2);
    assert_string_equal(smtpc_reply_line(r, 1, NULL), "NOOP QUIT");
    assert_string_equal(smtpc_reply_text(r, NULL), "Commands:\nNOOP QUIT");

    assert_int_equal(smtpc_client_docmd(c, "XCUSTOM", SMTPC_NTS, "a b", SMTPC_NTS), SMTPC_OK);
    /* Raw bytes and a reply read by hand (smtplib's send() and getreply()). */
    assert_int_equal(smtpc_client_send_raw(c, "NOOP\r\n", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_read_reply(c), SMTPC_OK);
    assert_int_equal(smtpc_reply_code(smtpc_client_last_reply(c)), 250);
    assert_int_equal(smtpc_client_docmd(c, "X CUSTOM", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_docmd(c, "", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_docmd(c, "XCUSTOM", SMTPC_NTS, "a\r\nQUIT", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_vrfy(c, "a\nb", SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_is_connected(c), 1);

    /* AUTH is not offered by this server: refused before anything is sent (a loopback peer, so the
     * plaintext rule allows it). */
    assert_int_equal(smtpc_client_login(c, "user", SMTPC_NTS, "secret", SMTPC_NTS), SMTPC_ENOTSUPPORTED);
    assert_string_equal(smtpc_client_auth_mechanism(c), "");
    assert_int_equal(smtpc_client_is_connected(c), 1);

    /* STARTTLS is not offered by this server: refused before anything is sent. */
    assert_int_equal(smtpc_client_starttls(c), SMTPC_ENOTSUPPORTED);
    assert_int_equal(smtpc_client_tls_active(c), 0);

    /* An accepted HELO makes the session plain SMTP: feature map cleared, does_esmtp 0. */
    assert_int_equal(smtpc_client_helo(c, NULL, 0), SMTPC_OK);
    assert_non_null(smtpc_client_helo_reply(c));
    assert_int_equal(smtpc_reply_code(smtpc_client_helo_reply(c)), 250);
    assert_int_equal(smtpc_client_extn_count(c), 0);
    assert_int_equal(smtpc_client_has_extn(c, "SIZE", SMTPC_NTS), 0);
    assert_int_equal(smtpc_client_does_esmtp(c), 0);

    /* QUIT closes; the client can connect again; close() closes without QUIT. */
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(smtpc_client_quit(c), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, srv->port), SMTPC_OK);
    smtpc_client_close(c);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_int_equal(smtpc_client_extn_count(c), 0);

    /* Level 1 trace saw lines both ways, without timestamps. */
    assert_true(counts[SMTPC_TRACE_SEND] > 0);
    assert_true(counts[SMTPC_TRACE_RECV] > 0);
    assert_int_equal(counts[0], 0);
    smtpc_client_free(c);
}

/* "Subject: t\n\n.dot\nend" on the wire: CRLF line ends, the dot doubled, a final CRLF added. */
static const char message[] = "Subject: t\n\n.dot\nend";
#define MESSAGE_WIRE_BYTES "26" /* "Subject: t\r\n" 12 + "\r\n" 2 + "..dot\r\n" 7 + "end\r\n" 5 */

static void test_transaction_by_commands(void **state) {
    smtpc_client *c = connect_client(*state, SMTPC_PROTOCOL_SMTP);
    assert_int_equal(smtpc_client_ehlo(c, "client.test", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_mail(c, "a@example.org\r\n", SMTPC_NTS, NULL, 0), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_mail(c, "a@example.org", SMTPC_NTS, "BODY=8BITMIME", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_rcpt(c, "b@example.org", SMTPC_NTS, NULL, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_rcpt(c, "bad@example.org", SMTPC_NTS, NULL, 0), SMTPC_EREPLY);
    assert_int_equal(smtpc_client_data(c, message, sizeof message - 1), SMTPC_OK);
    assert_string_equal(smtpc_reply_text(smtpc_client_last_reply(c), NULL),
                        "2.0.0 Ok: " MESSAGE_WIRE_BYTES " bytes");

    const smtpc_result *res = smtpc_client_last_result(c);
    assert_non_null(res);
    assert_int_equal(smtpc_result_count(res), 2);
    assert_non_null(smtpc_result_mail_reply(res));
    assert_int_equal(smtpc_reply_code(smtpc_result_mail_reply(res)), 250);
    size_t len = 0;
    assert_string_equal(smtpc_result_recipient(res, 0, &len), "b@example.org");
    assert_int_equal(len, strlen("b@example.org"));
    assert_string_equal(smtpc_result_recipient(res, 1, NULL), "bad@example.org");
    assert_null(smtpc_result_recipient(res, 2, &len));
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 2), SMTPC_RCPT_NOT_ATTEMPTED);
    assert_int_equal(smtpc_reply_code(smtpc_result_rcpt_reply(res, 0)), 250);
    assert_int_equal(smtpc_reply_code(smtpc_result_rcpt_reply(res, 1)), 550);
    assert_string_equal(smtpc_reply_enhanced(smtpc_result_rcpt_reply(res, 1)), "5.1.1");
    assert_null(smtpc_result_rcpt_reply(res, 2));
    assert_int_equal(smtpc_reply_code(smtpc_result_data_reply(res, 0)), 250);
    assert_null(smtpc_result_data_reply(res, 2));
    assert_int_equal(smtpc_result_delivered_count(res), 1);
    /* The deciding reply of each recipient, and its enhanced code as numbers. */
    assert_ptr_equal(smtpc_result_reply(res, 0), smtpc_result_data_reply(res, 0));
    assert_ptr_equal(smtpc_result_reply(res, 1), smtpc_result_rcpt_reply(res, 1));
    assert_null(smtpc_result_reply(res, 2));
    int klass = 0, subject = 0, detail = 0;
    assert_int_equal(smtpc_reply_enhanced_parts(smtpc_result_reply(res, 1), &klass, &subject, &detail), 1);
    assert_int_equal(klass, 5);
    assert_int_equal(subject, 1);
    assert_int_equal(detail, 1);

    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
}

static void count_trace(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us,
                        void *userdata) {
    (void)kind;
    (void)data;
    (void)len;
    (void)time_us;
    (*(int *)userdata)++;
}

/* smtpc_client_free() calls no callback, so that a garbage collector's finalizer may call it;
 * smtpc_client_close() is an ordinary call and traces the close. */
static void test_free_calls_no_callback(void **state) {
    int traced = 0;
    smtpc_client *c = connect_client(*state, SMTPC_PROTOCOL_SMTP);
    assert_int_equal(smtpc_client_set_trace(c, 1, count_trace, &traced), SMTPC_OK);
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    assert_int_equal(traced, 2); /* NOOP and its reply */
    smtpc_client_free(c);        /* connected: closed without a trace */
    assert_int_equal(traced, 2);

    c = connect_client(*state, SMTPC_PROTOCOL_SMTP);
    assert_int_equal(smtpc_client_set_trace(c, 1, count_trace, &traced), SMTPC_OK);
    smtpc_client_close(c);
    assert_int_equal(traced, 3); /* "connection closed" */
    smtpc_client_free(c);
    assert_int_equal(traced, 3);
}

/* A copied result outlives the transaction, the connection and the client it came from. */
static void test_result_dup(void **state) {
    smtpc_client *c = connect_client(*state, SMTPC_PROTOCOL_SMTP);
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "a@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "bad@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "b@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail(c, env, message, SMTPC_NTS), SMTPC_OK);

    smtpc_result *copy = (smtpc_result *)(void *)&copy;
    assert_int_equal(smtpc_result_dup(NULL, smtpc_client_last_result(c)), SMTPC_EINVAL);
    assert_int_equal(smtpc_result_dup(&copy, NULL), SMTPC_EINVAL);
    assert_null(copy);
    assert_int_equal(smtpc_result_dup(&copy, smtpc_client_last_result(c)), SMTPC_OK);
    assert_non_null(copy);
    assert_true(copy != smtpc_client_last_result(c));

    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    assert_null(smtpc_client_last_result(c)); /* the client's own is gone */
    smtpc_client_free(c);
    smtpc_envelope_free(env);

    size_t len = 0;
    assert_int_equal(smtpc_result_count(copy), 2);
    assert_string_equal(smtpc_result_recipient(copy, 0, &len), "bad@example.org");
    assert_int_equal(len, strlen("bad@example.org"));
    assert_int_equal(smtpc_result_state(copy, 0), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_reply_code(smtpc_result_rcpt_reply(copy, 0)), 550);
    assert_null(smtpc_result_data_reply(copy, 0));
    assert_string_equal(smtpc_result_recipient(copy, 1, NULL), "b@example.org");
    assert_int_equal(smtpc_result_state(copy, 1), SMTPC_RCPT_DELIVERED);
    assert_string_equal(smtpc_reply_text(smtpc_result_data_reply(copy, 1), NULL),
                        "2.0.0 Ok: " MESSAGE_WIRE_BYTES " bytes");
    assert_int_equal(smtpc_reply_code(smtpc_result_mail_reply(copy)), 250);
    assert_int_equal(smtpc_result_delivered_count(copy), 1);
    smtpc_result_free(copy);
    smtpc_result_free(NULL);
}

static void test_sendmail(void **state) {
    smtpc_client *c = connect_client(*state, SMTPC_PROTOCOL_SMTP);
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "a@example.org", SMTPC_NTS), SMTPC_OK);

    /* Bad arguments: nothing is sent, the connection stays. */
    assert_int_equal(smtpc_client_sendmail(c, NULL, message, SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_sendmail(c, env, message, SMTPC_NTS), SMTPC_EINVAL); /* no recipients */
    assert_int_equal(smtpc_client_is_connected(c), 1);

    /* Every recipient refused. */
    assert_int_equal(smtpc_envelope_add_recipient(env, "bad@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail(c, env, message, SMTPC_NTS), SMTPC_ERECIPIENTS_REFUSED);
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_count(res), 1);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_delivered_count(res), 0);
    assert_int_equal(smtpc_client_is_connected(c), 1);

    /* One refused, one delivered: SMTPC_OK with the outcome per recipient. SIZE is declared. */
    assert_int_equal(smtpc_envelope_add_recipient(env, "b@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail(c, env, message, SMTPC_NTS), SMTPC_OK);
    res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_count(res), 2);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_delivered_count(res), 1);
    assert_string_equal(smtpc_reply_text(smtpc_result_data_reply(res, 1), NULL),
                        "2.0.0 Ok: " MESSAGE_WIRE_BYTES " bytes");
    assert_non_null(strstr(smtpc_reply_text(smtpc_result_mail_reply(res), NULL), "SIZE="));

    /* send_message: the envelope from the headers (To, then Bcc); Bcc is not transmitted. */
    static const char headers_msg[] = "From: A <a@example.org>\nTo: b@example.org\nBcc: bad@example.org\n"
                                      "Subject: t\n\nbody\n";
    assert_int_equal(smtpc_client_send_message(c, NULL, headers_msg, SMTPC_NTS), SMTPC_OK);
    res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_count(res), 2);
    assert_string_equal(smtpc_result_recipient(res, 0, NULL), "b@example.org");
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_client_send_message(c, NULL, "Subject: no sender\n\nbody\n", SMTPC_NTS),
                     SMTPC_EINVAL);

    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
}

struct reader {
    const char *data;
    size_t left;
    int calls;
};

/* Hands out the message a few bytes at a time. */
static int read_chunks(char *buf, size_t cap, size_t *len, void *userdata) {
    struct reader *rd = userdata;
    size_t n = rd->left < 5 ? rd->left : 5;
    if (n > cap) {
        n = cap;
    }
    memcpy(buf, rd->data, n);
    rd->data += n;
    rd->left -= n;
    *len = n;
    rd->calls++;
    return 0;
}

static void test_sendmail_stream(void **state) {
    smtpc_client *c = connect_client(*state, SMTPC_PROTOCOL_SMTP);
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "b@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail_stream(c, env, 0, NULL, NULL), SMTPC_EINVAL);

    struct reader rd = {message, sizeof message - 1, 0};
    assert_int_equal(smtpc_client_sendmail_stream(c, env, 0, read_chunks, &rd), SMTPC_OK);
    assert_true(rd.calls > 1);
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    assert_string_equal(smtpc_reply_text(smtpc_result_data_reply(res, 0), NULL),
                        "2.0.0 Ok: " MESSAGE_WIRE_BYTES " bytes");
    /* size_hint 0: no SIZE parameter. */
    assert_null(strstr(smtpc_reply_text(smtpc_result_mail_reply(res), NULL), "SIZE="));

    smtpc_client_close(c);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
}

/* The message queue: every function, its NULL cases and documented codes. */
/* Non-blocking mode: NULL handling and the state with no operation in progress. The protocol itself
 * is tested in tests/nonblocking. */
static void test_nonblocking_calls(void **state) {
    (void)state;
    assert_int_equal(smtpc_client_set_nonblocking(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_nonblocking(NULL), 0);
    assert_int_equal(smtpc_client_fd(NULL), -1);
    assert_int_equal(smtpc_client_wants(NULL), 0);
    assert_int_equal(smtpc_client_deadline_ms(NULL), -1);
    assert_int_equal(smtpc_client_step(NULL), SMTPC_EINVAL);
    assert_string_equal(smtpc_status_name(SMTPC_EAGAIN), "SMTPC_EAGAIN");
    smtpc_client *c = NULL;
    assert_int_equal(smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP), SMTPC_OK);
    assert_int_equal(smtpc_client_nonblocking(c), 0);
    assert_int_equal(smtpc_client_set_nonblocking(c, 1), SMTPC_OK);
    assert_int_equal(smtpc_client_nonblocking(c), 1);
    assert_int_equal(smtpc_client_fd(c), -1);
    assert_int_equal(smtpc_client_wants(c), 0);
    assert_int_equal(smtpc_client_deadline_ms(c), -1);
    assert_int_equal(smtpc_client_step(c), SMTPC_OK); /* nothing in progress */
    /* What needs no I/O ends at once, as in blocking mode. */
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_ENOTCONN);
    assert_int_equal(smtpc_client_connect(c, "", 0, 25), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_nonblocking(c, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_nonblocking(c), 0);
    smtpc_client_free(c);
}

static void test_message_queue(void **state) {
    smtpc_client *c = connect_client(*state, SMTPC_PROTOCOL_SMTP);
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "a@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "b@example.org", SMTPC_NTS), SMTPC_OK);

    assert_int_equal(smtpc_message_new(NULL), SMTPC_EINVAL);
    smtpc_message_free(NULL);
    smtpc_message *m = NULL;
    assert_int_equal(smtpc_message_new(&m), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(NULL, env), SMTPC_EINVAL);
    assert_int_equal(smtpc_message_set_envelope(m, NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_message_set_body(NULL, message, SMTPC_NTS), SMTPC_EINVAL);
    assert_int_equal(smtpc_message_set_body_reader(m, 0, NULL, NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_message_set_envelope_from_headers(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_message_set_tag(NULL, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_enqueue(c, m), SMTPC_EINVAL); /* no body */
    assert_int_equal(smtpc_client_enqueue(NULL, m), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_window(NULL, 1, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_window(c, 0, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_set_window(c, 2, 65536), SMTPC_OK);
    assert_int_equal(smtpc_client_queued(NULL), 0);
    assert_int_equal(smtpc_client_in_flight(NULL), 0);
    assert_int_equal(smtpc_client_next_result(NULL, NULL), SMTPC_EINVAL);
    assert_int_equal(smtpc_client_next_result(c, NULL), SMTPC_EINVAL);
    smtpc_message_result *r = NULL;
    assert_int_equal(smtpc_client_next_result(c, &r), SMTPC_OK); /* nothing queued */
    assert_null(r);

    /* One message from memory, one from a reader, one refused. */
    assert_int_equal(smtpc_message_set_envelope(m, env), SMTPC_OK);
    assert_int_equal(smtpc_message_set_body(m, message, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_message_set_tag(m, 1), SMTPC_OK);
    assert_int_equal(smtpc_client_enqueue(c, m), SMTPC_OK);
    struct reader rd = {message, sizeof message - 1, 0};
    assert_int_equal(smtpc_message_set_body_reader(m, 0, read_chunks, &rd), SMTPC_OK);
    assert_int_equal(smtpc_message_set_tag(m, 2), SMTPC_OK);
    assert_int_equal(smtpc_client_enqueue(c, m), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "bad@example.org", SMTPC_NTS), SMTPC_OK);
    smtpc_envelope *bad = NULL;
    assert_int_equal(smtpc_envelope_new(&bad), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(bad, "bad@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope(m, bad), SMTPC_OK);
    assert_int_equal(smtpc_message_set_body(m, message, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_message_set_envelope_from_headers(m, 0), SMTPC_OK);
    assert_int_equal(smtpc_message_set_tag(m, 3), SMTPC_OK);
    assert_int_equal(smtpc_client_enqueue(c, m), SMTPC_OK);
    assert_int_equal(smtpc_client_queued(c), 3);
    assert_true(smtpc_client_in_flight(c) <= 2);
    smtpc_message_free(m);
    for (uint64_t tag = 1; tag <= 3; tag++) {
        assert_int_equal(smtpc_client_next_result(c, &r), SMTPC_OK);
        assert_non_null(r);
        assert_int_equal(smtpc_message_result_tag(r), tag);
        size_t len = 99;
        const char *why = smtpc_message_result_errmsg(r, &len);
        assert_int_equal(len, strlen(why));
        if (tag < 3) {
            assert_int_equal(smtpc_message_result_state(r), SMTPC_MESSAGE_DELIVERED);
            assert_int_equal(smtpc_message_result_status(r), SMTPC_OK);
            assert_string_equal(why, "");
            assert_int_equal(smtpc_result_state(smtpc_message_result_recipients(r), 0), SMTPC_RCPT_DELIVERED);
            assert_string_equal(smtpc_reply_text(smtpc_message_result_reply(r), NULL),
                                "2.0.0 Ok: " MESSAGE_WIRE_BYTES " bytes");
        } else {
            assert_int_equal(smtpc_message_result_state(r), SMTPC_MESSAGE_REFUSED);
            assert_int_equal(smtpc_message_result_status(r), SMTPC_ERECIPIENTS_REFUSED);
            assert_int_equal(smtpc_reply_code(smtpc_message_result_reply(r)), 550);
        }
        smtpc_message_result_free(r);
    }
    assert_int_equal(smtpc_client_queued(c), 0);
    assert_int_equal(smtpc_client_in_flight(c), 0);
    smtpc_message_result_free(NULL);
    assert_int_equal(smtpc_message_result_tag(NULL), 0);
    assert_int_equal(smtpc_message_result_state(NULL), SMTPC_MESSAGE_NOT_SENT);
    assert_int_equal(smtpc_message_result_status(NULL), SMTPC_EINVAL);
    assert_string_equal(smtpc_message_result_errmsg(NULL, NULL), "");
    assert_null(smtpc_message_result_recipients(NULL));
    assert_null(smtpc_message_result_reply(NULL));

    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    smtpc_envelope_free(bad);
}

static void test_lmtp(void **state) {
    smtpc_client *c = connect_client(*state, SMTPC_PROTOCOL_LMTP);
    assert_int_equal(smtpc_client_helo(c, NULL, 0), SMTPC_ESTATE);
    assert_int_equal(smtpc_client_ehlo(c, NULL, 0), SMTPC_OK); /* LHLO */
    assert_int_equal(smtpc_client_does_esmtp(c), 1);

    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "a@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "b@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "bad@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(env, "c@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail(c, env, message, SMTPC_NTS), SMTPC_OK);
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_count(res), 3);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 2), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_delivered_count(res), 2);
    /* One reply each after the message; the connection is in sync afterwards. */
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
}

int main(void) {
    const struct CMUnitTest offline[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_strerror_and_names),
        cmocka_unit_test(test_null_reply_and_result),
        cmocka_unit_test(test_null_client),
        cmocka_unit_test(test_new_and_protocol),
        cmocka_unit_test(test_fresh_client),
        cmocka_unit_test(test_connect_arguments),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_envelope_errmsg),
        cmocka_unit_test(test_envelope_extensions),
        cmocka_unit_test(test_tls_config),
        cmocka_unit_test(test_nonblocking_calls),
    };
    const struct CMUnitTest online[] = {
        cmocka_unit_test(test_session_commands), cmocka_unit_test(test_transaction_by_commands),
        cmocka_unit_test(test_sendmail),         cmocka_unit_test(test_free_calls_no_callback),
        cmocka_unit_test(test_result_dup),       cmocka_unit_test(test_sendmail_stream),
        cmocka_unit_test(test_message_queue),    cmocka_unit_test(test_lmtp),
    };
    int failed = cmocka_run_group_tests_name("api_offline", offline, NULL, NULL);
    failed += cmocka_run_group_tests_name("api_scripted_server", online, server_setup, server_teardown);
    return failed == 0 ? 0 : 1;
}
