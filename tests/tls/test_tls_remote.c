/* SPDX-License-Identifier: MIT */
/*
 * TLS to a peer that is not on this machine: SMTPC_TLS_AUTO keeps requiring verified TLS, and
 * opportunistic TLS that could not be verified does not let credentials out.
 *
 * A remote peer is made without leaving the machine: a private network namespace and a veth pair
 * with test addresses (10.231.9.1 here, 10.231.9.2 in the namespace); aiosmtpd runs inside it with
 * `ip netns exec`. Needs root and iproute2: the program exits 77 (skipped, reason on stderr) when the
 * namespace cannot be made. Both are removed at exit.
 *
 *  - AUTO, no configuration, certificate from the test CA (unknown to the system store):
 *    SMTPC_ETLS_VERIFY, nothing in clear after STARTTLS, no message, no advice meant for local servers;
 *  - AUTO with the test CA and the certificate's name: verified, delivered over TLS;
 *  - AUTO against a server without STARTTLS: SMTPC_ETLS_REQUIRED, only EHLO sent;
 *  - OPPORTUNISTIC explicitly: encrypted, unverified; every AUTH call refused with
 *    SMTPC_EAUTH_INSECURE and no AUTH line sent; the mail itself goes over TLS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tls_common.h"

#define NS_LOCAL_ADDR "10.231.9.1"
#define NS_PEER_ADDR "10.231.9.2"

static char g_ns[32], g_veth_out[16], g_veth_in[16];
static const char *g_ip;
static int g_ns_made, g_veth_made;
static itest_server g_tls;   /* server.pem, STARTTLS, AUTH user:pw-secret, in the namespace */
static itest_server g_plain; /* no STARTTLS, in the namespace */

static const char k_body[] = "Subject: remote\r\n\r\nbody\r\n";
static const char k_clear[] = "EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n";

/* Runs argv (NULL-terminated) with its output to /dev/null; its exit status or -1. */
static int run(const char *const argv[]) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

static void remove_namespace(void) {
    if (g_veth_made) {
        const char *argv[] = {g_ip, "link", "del", g_veth_out, NULL};
        run(argv);
        g_veth_made = 0;
    }
    if (g_ns_made) {
        const char *argv[] = {g_ip, "netns", "del", g_ns, NULL};
        run(argv);
        g_ns_made = 0;
    }
}

/* Makes the namespace and the veth pair; returns NULL, or why this machine cannot. */
static const char *make_namespace(void) {
    if (geteuid() != 0) return "needs root to make a network namespace";
    g_ip = access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip"
           : access("/sbin/ip", X_OK) == 0   ? "/sbin/ip"
                                             : NULL;
    if (g_ip == NULL) return "the ip command (Debian iproute2) is not installed";
    snprintf(g_ns, sizeof g_ns, "smtpc-tls-%ld", (long)getpid());
    snprintf(g_veth_out, sizeof g_veth_out, "st%ldo", (long)getpid() % 1000000);
    snprintf(g_veth_in, sizeof g_veth_in, "st%ldi", (long)getpid() % 1000000);
    const char *add_ns[] = {g_ip, "netns", "add", g_ns, NULL};
    if (run(add_ns) != 0) return "'ip netns add' failed (no network namespace support here)";
    g_ns_made = 1;
    const char *add_veth[] = {g_ip,   "link", "add",  g_veth_out, "type",
                              "veth", "peer", "name", g_veth_in,  NULL};
    if (run(add_veth) != 0) return "'ip link add ... type veth' failed";
    g_veth_made = 1;
    const char *steps[][10] = {
        {g_ip, "link", "set", g_veth_in, "netns", g_ns, NULL},
        {g_ip, "addr", "add", NS_LOCAL_ADDR "/24", "dev", g_veth_out, NULL},
        {g_ip, "link", "set", g_veth_out, "up", NULL},
        {g_ip, "-n", g_ns, "addr", "add", NS_PEER_ADDR "/24", "dev", g_veth_in, NULL},
        {g_ip, "-n", g_ns, "link", "set", g_veth_in, "up", NULL},
        {g_ip, "-n", g_ns, "link", "set", "lo", "up", NULL},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (run(steps[i]) != 0) return "setting up the veth pair failed";
    return NULL;
}

/* aiosmtpd in the namespace on NS_PEER_ADDR, with the test PKI's server.pem when tls is set. */
static int start_in_namespace(itest_server *srv, int tls) {
    memset(srv, 0, sizeof *srv);
    srv->proc.stdout_fd = -1;
    if (harness_make_temp_dir("smtpc-tls-ns", srv->dir, sizeof srv->dir) != 0) return -1;
    snprintf(srv->spool, sizeof srv->spool, "%s/spool", srv->dir);
    snprintf(srv->sessions, sizeof srv->sessions, "%s/sessions", srv->dir);
    if (mkdir(srv->spool, 0700) != 0 || mkdir(srv->sessions, 0700) != 0) return -1;
    char script[1024];
    if (harness_server_script(script, sizeof script, "aiosmtpd_server.py") != 0) return -1;
    const char *argv[32] = {
        g_ip,       "netns",      "exec",        g_ns,     HARNESS_PYTHON, script,   "--spool",
        srv->spool, "--sessions", srv->sessions, "--host", NS_PEER_ADDR,   "--auth", "user:pw-secret"};
    size_t n = 14;
    if (tls) {
        argv[n++] = "--tls-cert";
        argv[n++] = tls_pki("server.pem");
        argv[n++] = "--tls-key";
        argv[n++] = tls_pki("server.key");
    }
    argv[n] = NULL;
    return harness_server_start(argv, &srv->proc);
}

static smtpc_status connect_remote(smtpc_client *c, itest_server *srv) {
    smtpc_status st = smtpc_client_connect(c, NS_PEER_ADDR, SMTPC_NTS, (uint16_t)srv->proc.port);
    if (st != SMTPC_ECONNECT && st != SMTPC_EINVAL) srv->connections++;
    return st;
}

static smtpc_status send_one(smtpc_client *c) {
    smtpc_envelope *env = tls_envelope(NULL);
    smtpc_status st = smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1);
    smtpc_envelope_free(env);
    return st;
}

static void test_auto_remote_untrusted_fails(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_AUTO, 0);
    TLS_ASSERT_STATUS(c, connect_remote(c, &g_tls), SMTPC_OK);
    size_t idx = g_tls.connections - 1, msgs = itest_msg_count(&g_tls);
    TLS_ASSERT_STATUS(c, send_one(c), SMTPC_ETLS_VERIFY);
    assert_int_equal(smtpc_client_tls_verify_result(c), 20);
    assert_null(strstr(smtpc_client_errmsg(c), "on this machine"));
    assert_int_equal(smtpc_client_is_connected(c), 0);
    smtpc_client_free(c);
    tls_check_session(&g_tls, idx, ITEST_STR(k_clear), 0);
    assert_int_equal(itest_msg_count(&g_tls), msgs);
}

static void test_auto_remote_verified(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_AUTO, 1);
    /* The certificate names localhost and 127.0.0.1, not the namespace's address. */
    assert_int_equal(smtpc_client_set_tls_server_name(c, "localhost", SMTPC_NTS), SMTPC_OK);
    TLS_ASSERT_STATUS(c, connect_remote(c, &g_tls), SMTPC_OK);
    size_t idx = g_tls.connections - 1, msgs = itest_msg_count(&g_tls);
    TLS_ASSERT_STATUS(c, send_one(c), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_verified(c), 1);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    tls_check_session(&g_tls, idx, ITEST_STR(k_clear), 1);
    char *mode = tls_msg_text(&g_tls, msgs, "tls", NULL);
    assert_string_equal(mode, "starttls");
    free(mode);
}

static void test_auto_remote_without_starttls(void **state) {
    (void)state;
    smtpc_client *c = tls_client(SMTPC_TLS_AUTO, 0);
    TLS_ASSERT_STATUS(c, connect_remote(c, &g_plain), SMTPC_OK);
    size_t idx = g_plain.connections - 1;
    TLS_ASSERT_STATUS(c, send_one(c), SMTPC_ETLS_REQUIRED);
    smtpc_client_free(c);
    char *raw = NULL;
    size_t len = 0;
    assert_int_equal(itest_load_session_field(&g_plain, idx, TLS_WAIT_MS, "raw_hex", &raw, &len), 0);
    ITEST_ASSERT_BYTES(raw, len, ITEST_STR("EHLO " TLS_CLIENT_NAME "\r\n"));
    free(raw);
    assert_int_equal(itest_msg_count(&g_plain), 0);
}

static int never_cb(const char *challenge, size_t len, int is_initial, smtpc_auth_response *resp,
                    void *userdata) {
    (void)challenge;
    (void)len;
    (void)is_initial;
    (void)resp;
    *(int *)userdata += 1;
    return 1;
}

static void opportunistic_remote_auth_refused(int resumed) {
    itest_trace t = {0};
    smtpc_client *c = tls_client(SMTPC_TLS_OPPORTUNISTIC, 0);
    assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, &t), SMTPC_OK);
    TLS_ASSERT_STATUS(c, connect_remote(c, &g_tls), SMTPC_OK);
    size_t idx = g_tls.connections - 1, msgs = itest_msg_count(&g_tls);
    TLS_ASSERT_STATUS(
        c, smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS, 1),
        SMTPC_EAUTH_INSECURE);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), 0);
    assert_int_equal(smtpc_client_tls_verify_result(c), 20);
    assert_int_equal(smtpc_client_tls_resumed(c), resumed);
    TLS_ASSERT_STATUS(c, smtpc_client_login(c, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS),
                      SMTPC_EAUTH_INSECURE);
    int calls = 0;
    TLS_ASSERT_STATUS(c, smtpc_client_auth(c, "PLAIN", SMTPC_NTS, 1, never_cb, &calls), SMTPC_EAUTH_INSECURE);
    assert_int_equal(calls, 0);
    /* Opportunistic TLS is enough for the mail itself. */
    TLS_ASSERT_STATUS(c, send_one(c), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    tls_check_session(&g_tls, idx, ITEST_STR(k_clear), 1);
    size_t len;
    char *tls = tls_session_text(&g_tls, idx, "tls_hex", &len);
    if (tls_memmem(tls, len, "AUTH", 4) != NULL || tls_memmem(tls, len, "pw-secret", 9) != NULL) {
        itest_dump("sent over TLS", tls, len);
        fail_msg("credentials went over unverified TLS to a remote peer");
    }
    assert_non_null(tls_memmem(tls, len, "MAIL FROM:<sender@example.org>", 30));
    free(tls);
    for (size_t i = 0; i < t.n; i++) assert_null(tls_memmem(t.ev[i].data, t.ev[i].len, "pw-secret", 9));
    itest_trace_clear(&t);
    char *mode = tls_msg_text(&g_tls, msgs, "tls", NULL);
    assert_string_equal(mode, "starttls");
    free(mode);
}

static void test_opportunistic_remote_auth_refused(void **state) {
    (void)state;
    opportunistic_remote_auth_refused(0);
    /* Again over the session the default configuration kept: resumed, still unverified, still refused. */
    opportunistic_remote_auth_refused(1);
}

static void cleanup(void) {
    itest_stop(&g_tls);
    itest_stop(&g_plain);
    remove_namespace();
    tls_pki_teardown();
}

int main(void) {
    const char *why = make_namespace();
    if (why != NULL) {
        remove_namespace();
        fprintf(stderr, "test_tls_remote: skipped: %s\n", why);
        return 77;
    }
    atexit(cleanup);
    if (tls_pki_setup() != 0 || start_in_namespace(&g_tls, 1) != 0 || start_in_namespace(&g_plain, 0) != 0) {
        fprintf(stderr, "test_tls_remote: could not start the servers in the namespace\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_remote_untrusted_fails),
        cmocka_unit_test(test_auto_remote_verified),
        cmocka_unit_test(test_auto_remote_without_starttls),
        cmocka_unit_test(test_opportunistic_remote_auth_refused),
    };
    return cmocka_run_group_tests_name("tls_remote", tests, NULL, NULL);
}
