/* SPDX-License-Identifier: MIT */
/*
 * TLS session resumption against tests/servers/fault_server.py, whose TLS layer is a new
 * SSLContext on every connection: a ticket or session ID saved from one connection is unknown to
 * the next, so the server declines the session the client offers. The client must then complete a
 * full handshake (certificate verified again), say so in the trace, and go on exactly as without
 * resumption: STARTTLS with TLS 1.3 and 1.2, and implicit TLS. The transcript holds every byte.
 */
#include "tls_fault_common.h"

#include <stdio.h>
#include <string.h>

#include "smtpc.h"

#define W_HELLO_TLS W_EHLO W_STARTTLS

typedef struct trace_count {
    int declined, resumed, established;
} trace_count;

static int contains(const char *data, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i + n <= len; i++)
        if (memcmp(data + i, needle, n) == 0) return 1;
    return 0;
}

static void count_cb(smtpc_trace_kind kind, const char *data, size_t len, int64_t us, void *userdata) {
    (void)us;
    trace_count *t = userdata;
    if (kind != SMTPC_TRACE_INFO) return;
    if (contains(data, len, "TLS established")) t->established++;
    if (contains(data, len, "saved session declined by the server (full handshake)")) t->declined++;
    if (contains(data, len, "session resumed")) t->resumed++;
}

/* Two connections of one client (one configuration): the second offers the first's session, the
 * server declines it, and the session goes on after a full, verified handshake. */
static void run_declined(fault_fixture *f, const char *starttls_opts, int implicit, const char *version) {
    tf_server_connections(f, 2);
    if (implicit) {
        tf_server_implicit(f);
        sc_send(f, RPL_GREETING);
    } else {
        sc_send(f, RPL_GREETING);
        sc_expect(f, "EHLO ");
        sc_send(f, RPL_EHLO_TLS);
        sc_expect(f, "STARTTLS");
        sc_expect_quiet(f, 0.1);
        sc_send(f, RPL_220_GO);
        sc_starttls_opts(f, starttls_opts);
    }
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AFTER);
    sc_expect(f, "NOOP");
    sc_send(f, RPL_OK);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    sc_expect_eof_notify(f, 5.0);
    fault_start(f);
    tf_client(f, implicit ? SMTPC_TLS_IMPLICIT : SMTPC_TLS_REQUIRED, 5000, 5000);
    trace_count t = {0, 0, 0};
    assert_int_equal(smtpc_client_set_trace(f->client, 1, count_cb, &t), SMTPC_OK);
    for (int i = 0; i < 2; i++) {
        fault_assert_status(f, fault_connect(f), SMTPC_OK, "connect");
        if (!implicit) fault_assert_status(f, smtpc_client_starttls(f->client), SMTPC_OK, "starttls");
        assert_string_equal(smtpc_client_tls_version(f->client), version);
        assert_int_equal(smtpc_client_tls_verified(f->client), 1);
        assert_int_equal(smtpc_client_tls_verify_result(f->client), 0);
        assert_int_equal(smtpc_client_tls_resumed(f->client), 0);
        fault_assert_status(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK, "ehlo");
        fault_assert_status(f, smtpc_client_noop(f->client), SMTPC_OK, "noop");
        fault_assert_status(f, smtpc_client_quit(f->client), SMTPC_OK, "quit");
    }
    assert_int_equal(t.established, 2);
    assert_int_equal(t.declined, 1); /* the second connection offered a session */
    assert_int_equal(t.resumed, 0);
    assert_int_equal(fault_finish(f, 10000), 0);
    if (implicit) FAULT_ASSERT_TRANSCRIPT(f, W_TLS W_EHLO W_NOOP W_QUIT W_TLS W_EHLO W_NOOP W_QUIT);
    else
        FAULT_ASSERT_TRANSCRIPT(
            f, W_HELLO_TLS W_TLS W_EHLO W_NOOP W_QUIT W_HELLO_TLS W_TLS W_EHLO W_NOOP W_QUIT);
}

static void test_declined_tls13_starttls(void **state) {
    run_declined(*state, "\"min_version\": \"1.3\"", 0, "TLSv1.3");
}

static void test_declined_tls12_starttls(void **state) {
    run_declined(*state, "\"max_version\": \"1.2\"", 0, "TLSv1.2");
}

static void test_declined_implicit(void **state) { run_declined(*state, NULL, 1, "TLSv1.3"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_declined_tls13_starttls, tf_setup, tf_teardown),
        cmocka_unit_test_setup_teardown(test_declined_tls12_starttls, tf_setup, tf_teardown),
        cmocka_unit_test_setup_teardown(test_declined_implicit, tf_setup, tf_teardown),
    };
    return cmocka_run_group_tests_name("tls_resume_fault", tests, tf_group_setup, tf_group_teardown);
}
