/* SPDX-License-Identifier: MIT */
/*
 * The cost defect of TLS (a trust store loaded and an SSL_CTX made for every connection), checked
 * with the library's internal counters (this program links the internal static library; see
 * tls_counters_shim.cpp) in a fresh process:
 *  - a configuration with a CA file never loads the system trust store;
 *  - clients given no configuration share one default configuration (one SSL_CTX), and the system
 *    trust store is loaded once, by the first handshake that needs it (and said so in the trace);
 *  - a configuration without trust anchors of its own uses that same store, not a new copy;
 *  - a configuration serves many connections, from several threads at once, with one SSL_CTX;
 *  - once used, a configuration refuses changes to its context (SMTPC_ESTATE), keeps accepting the
 *    verification switches, and a fresh one accepts everything;
 *  - a CA certificate given in DER form to many configurations (as the Python drop-in does with an
 *    SSLContext's certificates on every STARTTLS) is parsed once, and still verifies the server.
 * Every session is checked to have delivered its message over TLS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_common.h"

void tls_test_counters(unsigned long *contexts, unsigned long *system_store_loads);
unsigned long tls_test_ca_der_parsed(void);

static itest_server g_srv; /* server.pem (test CA), STARTTLS */
static const char k_body[] = "Subject: shared\r\n\r\nbody\r\n";

static int group_setup(void **state) {
    (void)state;
    if (tls_pki_setup() != 0) return -1;
    return tls_start_aiosmtpd(&g_srv, "server", NULL);
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_srv);
    tls_pki_teardown();
    return 0;
}

static void counters(unsigned long *contexts, unsigned long *loads) { tls_test_counters(contexts, loads); }

/* One session over STARTTLS on 127.0.0.1 with `c` (policy AUTO: opportunistic on loopback); checks
 * the message arrived over TLS. Returns how many "loaded the system trust store" lines it traced. */
static size_t session(smtpc_client *c, int want_verified) {
    itest_trace t = {0};
    assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, &t), SMTPC_OK);
    smtpc_status st = tls_connect(c, &g_srv, "127.0.0.1");
    size_t msgs = itest_msg_count(&g_srv);
    smtpc_envelope *env = tls_envelope(NULL);
    if (st == SMTPC_OK) st = smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1);
    smtpc_envelope_free(env);
    TLS_ASSERT_STATUS(c, st, SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), want_verified);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    assert_int_equal(smtpc_client_set_trace(c, 0, NULL, NULL), SMTPC_OK);
    size_t loads = tls_count_info(&t, "loaded the system trust store");
    itest_trace_clear(&t);
    char *mode = tls_msg_text(&g_srv, msgs, "tls", NULL);
    assert_string_equal(mode, "starttls");
    free(mode);
    return loads;
}

static smtpc_client *client_with(smtpc_tls_config *cfg) {
    smtpc_client *c = tls_client(SMTPC_TLS_AUTO, 0);
    if (cfg != NULL) assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
    return c;
}

/* Runs first, in a process that has not used TLS yet. */
static void test_store_loaded_once_default_shared(void **state) {
    (void)state;
    unsigned long ctx0, loads0, ctx, loads;
    counters(&ctx0, &loads0);
    assert_int_equal(ctx0, 0);
    assert_int_equal(loads0, 0);

    /* A CA file: verified sessions, and the system store is never loaded. */
    smtpc_tls_config *own = NULL;
    assert_int_equal(smtpc_tls_config_new(&own), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_ca_file(own, tls_pki("ca.pem"), SMTPC_NTS), SMTPC_OK);
    smtpc_client *a = client_with(own);
    assert_int_equal(session(a, 1), 0);
    assert_int_equal(session(a, 1), 0);
    counters(&ctx, &loads);
    assert_int_equal(ctx, 1);
    assert_int_equal(loads, 0);

    /* Two clients with no configuration: one shared default context, the store loaded once. */
    smtpc_client *b = client_with(NULL), *c = client_with(NULL);
    assert_int_equal(session(b, 0), 1); /* the first handshake that needs the store loads it */
    assert_int_equal(session(c, 0), 0);
    assert_int_equal(session(b, 0), 0);
    counters(&ctx, &loads);
    assert_int_equal(ctx, 2);
    assert_int_equal(loads, 1);
    smtpc_client_free(b);
    smtpc_client_free(c);
    /* The default outlives its clients: a later client gets the same context. */
    c = client_with(NULL);
    assert_int_equal(session(c, 0), 0);
    smtpc_client_free(c);
    counters(&ctx, &loads);
    assert_int_equal(ctx, 2);
    assert_int_equal(loads, 1);

    /* A new configuration without trust anchors: its own context, the same system store. */
    smtpc_tls_config *bare = NULL;
    assert_int_equal(smtpc_tls_config_new(&bare), SMTPC_OK);
    smtpc_client *d = client_with(bare), *e = client_with(bare);
    assert_int_equal(session(d, 0), 0);
    assert_int_equal(session(e, 0), 0);
    counters(&ctx, &loads);
    assert_int_equal(ctx, 3);
    assert_int_equal(loads, 1);
    smtpc_client_free(d);
    smtpc_client_free(e);
    smtpc_tls_config_free(bare);
    smtpc_client_free(a);
    smtpc_tls_config_free(own);
}

/* Frozen after first use: context changes refused, verification switches still honoured. */
static void test_config_frozen_after_first_use(void **state) {
    (void)state;
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_min_version(cfg, SMTPC_TLS_VERSION_1_2), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, tls_pki("ca.pem"), SMTPC_NTS), SMTPC_OK);
    smtpc_client *c = client_with(cfg);
    assert_int_equal(session(c, 1), 0);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, tls_pki("ca.pem"), SMTPC_NTS), SMTPC_ESTATE);
    assert_non_null(strstr(smtpc_tls_config_errmsg(cfg), "in use"));
    assert_int_equal(smtpc_tls_config_set_ciphers(cfg, "ECDHE+AESGCM", SMTPC_NTS), SMTPC_ESTATE);
    assert_int_equal(smtpc_tls_config_set_min_version(cfg, SMTPC_TLS_VERSION_1_3), SMTPC_ESTATE);
    assert_int_equal(smtpc_tls_config_set_ca_path(cfg, tls_pki(""), SMTPC_NTS), SMTPC_ESTATE);
    /* The verification switches are per connection and still apply: host-name checks off, so the
     * session is no longer counted as verified. */
    assert_int_equal(smtpc_tls_config_set_verify_hostname(cfg, 0), SMTPC_OK);
    assert_int_equal(session(c, 0), 0);
    smtpc_client_free(c);
    smtpc_tls_config_free(cfg);
}

/* Several threads on one configuration and on the default one at the same time. */
typedef struct worker {
    smtpc_tls_config *cfg;
    int rounds;
    int failures;
    char why[256];
} worker;

static void *work(void *arg) {
    worker *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, TLS_CLIENT_NAME); /* bounded waits */
        smtpc_envelope *env = NULL;
        smtpc_status st = c == NULL ? SMTPC_ENOMEM : smtpc_envelope_new(&env);
        if (st == SMTPC_OK) st = smtpc_envelope_set_sender(env, "sender@example.org", SMTPC_NTS);
        if (st == SMTPC_OK) st = smtpc_envelope_add_recipient(env, "rcpt@example.org", SMTPC_NTS);
        if (st == SMTPC_OK && w->cfg != NULL) st = smtpc_client_set_tls_config(c, w->cfg);
        if (st == SMTPC_OK) st = smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)g_srv.proc.port);
        if (st == SMTPC_OK) st = smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1);
        if (st == SMTPC_OK && !smtpc_client_tls_active(c)) st = SMTPC_EINTERNAL;
        if (st == SMTPC_OK) st = smtpc_client_quit(c);
        if (st != SMTPC_OK && w->failures++ == 0)
            snprintf(w->why, sizeof w->why, "%s: %s", smtpc_status_name(st), c ? smtpc_client_errmsg(c) : "");
        smtpc_envelope_free(env);
        smtpc_client_free(c);
    }
    return NULL;
}

static void test_threads_share_contexts(void **state) {
    (void)state;
    unsigned long ctx0, loads0, ctx, loads;
    counters(&ctx0, &loads0);
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, tls_pki("ca.pem"), SMTPC_NTS), SMTPC_OK);
    size_t msgs = itest_msg_count(&g_srv);
    enum { N = 4, ROUNDS = 3 };
    worker w[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].cfg = i % 2 ? cfg : NULL;
        w[i].rounds = ROUNDS;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        if (w[i].failures) fail_msg("thread %d: %d failures, first: %s", i, w[i].failures, w[i].why);
    }
    g_srv.connections += N * ROUNDS;
    counters(&ctx, &loads);
    assert_int_equal(ctx, ctx0 + 1); /* only cfg's own context is new */
    assert_int_equal(loads, loads0);
    smtpc_tls_config_free(cfg);
    /* Every message arrived, over TLS. */
    for (size_t i = 0; i < N * ROUNDS; i++) {
        char *mode = tls_msg_text(&g_srv, msgs + i, "tls", NULL);
        assert_string_equal(mode, "starttls");
        free(mode);
    }
}

/* The same DER certificate for three configurations: parsed once; each verifies the server. */
static void test_ca_der_parsed_once(void **state) {
    (void)state;
    char *der = NULL;
    size_t der_len = 0;
    assert_int_equal(harness_read_file(tls_pki("ca.der"), &der, &der_len), 0);
    unsigned long before = tls_test_ca_der_parsed();
    for (int i = 0; i < 3; i++) {
        smtpc_tls_config *cfg = NULL;
        assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
        assert_int_equal(smtpc_tls_config_add_ca_der(cfg, (const char *)der, der_len), SMTPC_OK);
        smtpc_client *c = client_with(cfg);
        smtpc_tls_config_free(cfg);
        assert_int_equal(session(c, 1), 0);
        smtpc_client_free(c);
    }
    assert_int_equal(tls_test_ca_der_parsed(), before + 1);
    /* Broken input is still refused, every time (not cached). */
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_add_ca_der(cfg, (const char *)der, der_len - 1), SMTPC_ETLS);
    assert_int_equal(smtpc_tls_config_add_ca_der(cfg, (const char *)der, der_len - 1), SMTPC_ETLS);
    smtpc_tls_config_free(cfg);
    free(der);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_loaded_once_default_shared),
        cmocka_unit_test(test_config_frozen_after_first_use),
        cmocka_unit_test(test_threads_share_contexts),
        cmocka_unit_test(test_ca_der_parsed_once),
    };
    return cmocka_run_group_tests_name("tls_shared", tests, group_setup, group_teardown);
}
