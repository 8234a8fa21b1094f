/* SPDX-License-Identifier: MIT */
/*
 * The plaintext rule end to end: credentials go only over TLS with a verified certificate, to a peer
 * on this machine, or when smtpc_client_set_allow_insecure_auth() allowed it.
 *
 * A remote peer is made without leaving the machine: the test creates its own network namespace and
 * a veth pair with private test addresses (10.231.0.1 here, 10.231.0.2 in the namespace), runs the
 * server inside it with `ip netns exec`, and removes both at the end whatever happens. Needs root and
 * iproute2; the program is skipped (exit status 77, the reason on stderr) otherwise, also where the
 * namespace or the veth pair cannot be made. Traffic never leaves the pair.
 *
 *  - fault_server.py in the namespace, plaintext: every AUTH call returns SMTPC_EAUTH_INSECURE and the
 *    server receives no AUTH line; after smtpc_client_set_allow_insecure_auth() the same call goes out.
 *  - aiosmtpd_server.py with the test PKI in the namespace, STARTTLS with verification skipped
 *    (smtpc_client_set_tls_insecure_skip_verify_for_testing): still SMTPC_EAUTH_INSECURE, nothing sent;
 *    with the test CA and the certificate's name (verified TLS): AUTH is allowed to the remote peer.
 *  - the same server reached over loopback: allowed (for contrast), on the same machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth_common.h"
#include "fault_common.h"
#include "itest.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS_LOCAL_ADDR "10.231.0.1"
#define NS_PEER_ADDR "10.231.0.2"

static char g_ns[32];
static char g_veth_out[16], g_veth_in[16];
static const char *g_ip;
static const char *g_skip;
static int g_ns_made, g_veth_made;
static char g_pki[512];
static int g_own_pki;
static auth_trace g_trace;

/* Run a command (argv NULL-terminated), output to /dev/null; returns its exit status or -1. */
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

static int ip(const char *a, const char *b, const char *c, const char *d, const char *e, const char *f,
              const char *g, const char *h) {
    const char *argv[] = {g_ip, a, b, c, d, e, f, g, h, NULL};
    return run(argv);
}

static void remove_namespace(void) {
    if (g_veth_made) ip("link", "del", g_veth_out, NULL, NULL, NULL, NULL, NULL);
    g_veth_made = 0;
    if (g_ns_made) ip("netns", "del", g_ns, NULL, NULL, NULL, NULL, NULL);
    g_ns_made = 0;
}

/* Makes the namespace and the veth pair; sets g_skip to the reason when this machine cannot. */
static void make_namespace(void) {
    snprintf(g_ns, sizeof g_ns, "smtpc-auth-%ld", (long)getpid());
    snprintf(g_veth_out, sizeof g_veth_out, "sa%ldo", (long)getpid() % 1000000);
    snprintf(g_veth_in, sizeof g_veth_in, "sa%ldi", (long)getpid() % 1000000);
    if (ip("netns", "add", g_ns, NULL, NULL, NULL, NULL, NULL) != 0) {
        g_skip = "'ip netns add' failed (no network namespace support here)";
        return;
    }
    g_ns_made = 1;
    if (ip("link", "add", g_veth_out, "type", "veth", "peer", "name", g_veth_in) != 0) {
        g_skip = "'ip link add ... type veth' failed";
        return;
    }
    g_veth_made = 1;
    const char *in_ns_addr[] = {g_ip, "-n", g_ns, "addr", "add", NS_PEER_ADDR "/24", "dev", g_veth_in, NULL};
    const char *in_ns_up[] = {g_ip, "-n", g_ns, "link", "set", g_veth_in, "up", NULL};
    const char *in_ns_lo[] = {g_ip, "-n", g_ns, "link", "set", "lo", "up", NULL};
    if (ip("link", "set", g_veth_in, "netns", g_ns, NULL, NULL, NULL) != 0 ||
        ip("addr", "add", NS_LOCAL_ADDR "/24", "dev", g_veth_out, NULL, NULL, NULL) != 0 ||
        ip("link", "set", g_veth_out, "up", NULL, NULL, NULL, NULL) != 0 || run(in_ns_addr) != 0 ||
        run(in_ns_up) != 0 || run(in_ns_lo) != 0)
        g_skip = "setting up the veth pair failed (moving it into the namespace, addresses or links)";
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static const char *pki(const char *name) {
    static char buf[4][700];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", g_pki, name);
    return buf[i];
}

static int make_pki(void) {
    const char *env = getenv("SMTPC_TEST_PKI_DIR");
    if (env != NULL && env[0] != '\0') {
        snprintf(g_pki, sizeof g_pki, "%s", env);
        if (file_exists(pki("server.pem")) && file_exists(pki("ca.pem"))) return 0;
    }
    char script[1024];
    if (harness_server_script(script, sizeof script, "make_test_pki.sh") != 0 || !file_exists(script))
        return -1;
    if (harness_make_temp_dir("smtpc-auth-pki", g_pki, sizeof g_pki) != 0) return -1;
    g_own_pki = 1;
    const char *argv[] = {"/bin/bash", script, g_pki, NULL};
    return run(argv) == 0 ? 0 : -1;
}

static int group_setup(void **state) {
    (void)state;
    /* What this machine cannot give (root, iproute2, a namespace with a veth pair) skips the program
       (exit status 77) rather than failing each test. */
    if (geteuid() != 0) harness_skip_program("test_auth_plaintext", "needs root to make a network namespace");
    g_ip = access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip"
           : access("/sbin/ip", X_OK) == 0   ? "/sbin/ip"
                                             : NULL;
    if (g_ip == NULL)
        harness_skip_program("test_auth_plaintext", "the ip command (Debian iproute2) is not installed");
    make_namespace();
    if (g_skip != NULL) {
        remove_namespace();
        harness_skip_program("test_auth_plaintext", g_skip);
    }
    if (make_pki() != 0) g_pki[0] = '\0'; /* the TLS cases are skipped */
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    remove_namespace();
    if (g_own_pki) harness_remove_tree(g_pki);
    return 0;
}

static int setup(void **state) {
    memset(&g_trace, 0, sizeof g_trace);
    return fault_setup(state);
}

static int teardown(void **state) {
    auth_trace_free(&g_trace);
    return fault_teardown(state);
}

/* As fault_start(), with the server run inside the namespace, listening on NS_PEER_ADDR. */
static void ns_fault_start(fault_fixture *f) {
    assert_false(f->started);
    sc_raw(f, "{\"sleep\": 0}");
    char *script = malloc(f->script_len + 8);
    assert_non_null(script);
    memcpy(script, f->script, f->script_len);
    memcpy(script + f->script_len, "\n]\n", 4);
    assert_int_equal(harness_write_file(f->script_path, script, f->script_len + 3), 0);
    free(script);
    char server[1024];
    assert_int_equal(harness_server_script(server, sizeof server, "fault_server.py"), 0);
    const char *argv[] = {g_ip,     "netns",      "exec",         g_ns,           HARNESS_PYTHON,
                          server,   "--script",   f->script_path, "--transcript", f->transcript_path,
                          "--host", NS_PEER_ADDR, "--max-time",   "30",           NULL};
    if (harness_server_start(argv, &f->srv) != 0) fail_msg("fault server did not start in the namespace");
    f->started = 1;
}

#define RPL_EHLO_AUTH \
    "250-fault.test\r\n250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256 XOAUTH2 X-CUSTOM\r\n250 8BITMIME\r\n"

static int g_cb_calls;

static int never_cb(const char *challenge, size_t len, int is_initial, smtpc_auth_response *resp,
                    void *userdata) {
    (void)challenge;
    (void)len;
    (void)is_initial;
    (void)resp;
    (void)userdata;
    g_cb_calls++;
    return 1;
}

static int never_token(smtpc_auth_response *token, void *userdata) {
    (void)token;
    (void)userdata;
    g_cb_calls++;
    return 1;
}

static void test_plaintext_remote_refused(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AUTH);
    /* After the refusals, the explicit opt-in. */
    sc_expect(f, "AUTH PLAIN AHVzZXIAcHctc2VjcmV0\r\n");
    sc_send(f, "235 2.7.0 ok\r\n");
    sc_expect_eof(f, 5.0);
    ns_fault_start(f);

    smtpc_client *c = fault_client(f, 5000, 5000);
    assert_int_equal(smtpc_client_set_trace(c, 1, auth_trace_cb, &g_trace), SMTPC_OK);
    /* TLS_NONE: the default policy would require STARTTLS from a remote server before AUTH. */
    assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_NONE), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_connect(c, NS_PEER_ADDR, SMTPC_NTS, (uint16_t)f->srv.port), SMTPC_OK);

    ASSERT_STATUS(
        f, smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS, 1),
        SMTPC_EAUTH_INSECURE);
    ASSERT_STATUS(f,
                  smtpc_client_auth_password(c, "SCRAM-SHA-256", SMTPC_NTS, "user", SMTPC_NTS, "pw-secret",
                                             SMTPC_NTS, 1),
                  SMTPC_EAUTH_INSECURE);
    ASSERT_STATUS(f, smtpc_client_login(c, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS), SMTPC_EAUTH_INSECURE);
    ASSERT_STATUS(
        f, smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, "user", SMTPC_NTS, NULL, 0, never_token, NULL),
        SMTPC_EAUTH_INSECURE);
    ASSERT_STATUS(f, smtpc_client_auth(c, "X-CUSTOM", SMTPC_NTS, 1, never_cb, NULL), SMTPC_EAUTH_INSECURE);
    assert_int_equal(g_cb_calls, 0); /* no callback was even asked */
    assert_int_equal(smtpc_client_is_connected(c), 1);

    assert_int_equal(smtpc_client_set_allow_insecure_auth(c, 1), SMTPC_OK);
    ASSERT_STATUS(
        f, smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS, 1),
        SMTPC_OK);
    smtpc_client_close(c);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "AUTH PLAIN AHVzZXIAcHctc2VjcmV0\r\n");
    auth_assert_not_traced(&g_trace, "pw-secret", 1);
}

/* aiosmtpd_server.py with TLS and AUTH, inside the namespace (or on loopback). */
static void start_tls_aiosmtpd(itest_server *srv, int in_namespace) {
    assert_int_equal(harness_make_temp_dir("smtpc-auth-ns", srv->dir, sizeof srv->dir), 0);
    snprintf(srv->spool, sizeof srv->spool, "%s/spool", srv->dir);
    snprintf(srv->sessions, sizeof srv->sessions, "%s/sessions", srv->dir);
    assert_int_equal(mkdir(srv->spool, 0700), 0);
    assert_int_equal(mkdir(srv->sessions, 0700), 0);
    char script[1024];
    assert_int_equal(harness_server_script(script, sizeof script, "aiosmtpd_server.py"), 0);
    char cert[700], key[700];
    snprintf(cert, sizeof cert, "%s", pki("server.pem"));
    snprintf(key, sizeof key, "%s", pki("server.key"));
    const char *tail[] = {HARNESS_PYTHON,
                          script,
                          "--spool",
                          srv->spool,
                          "--sessions",
                          srv->sessions,
                          "--tls-cert",
                          cert,
                          "--tls-key",
                          key,
                          "--auth",
                          "user:pw-secret",
                          "--host",
                          in_namespace ? NS_PEER_ADDR : "127.0.0.1",
                          NULL};
    const char *argv[32];
    size_t n = 0;
    if (in_namespace) {
        argv[n++] = g_ip;
        argv[n++] = "netns";
        argv[n++] = "exec";
        argv[n++] = g_ns;
    }
    for (size_t i = 0; tail[i] != NULL; i++) argv[n++] = tail[i];
    argv[n] = NULL;
    if (harness_server_start(argv, &srv->proc) != 0)
        fail_msg("aiosmtpd did not start%s", in_namespace ? " in the namespace" : "");
}

static smtpc_client *tls_client(int verify, smtpc_tls_config **cfg) {
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, "client.test");
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_trace(c, 1, auth_trace_cb, &g_trace), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_REQUIRED), SMTPC_OK);
    if (verify) {
        assert_int_equal(smtpc_tls_config_new(cfg), SMTPC_OK);
        assert_int_equal(smtpc_tls_config_set_ca_file(*cfg, pki("ca.pem"), SMTPC_NTS), SMTPC_OK);
        assert_int_equal(smtpc_client_set_tls_config(c, *cfg), SMTPC_OK);
        /* The certificate names localhost and 127.0.0.1, not the namespace's address. */
        assert_int_equal(smtpc_client_set_tls_server_name(c, "localhost", SMTPC_NTS), SMTPC_OK);
    } else {
        assert_int_equal(smtpc_client_set_tls_insecure_skip_verify_for_testing(c, 1), SMTPC_OK);
    }
    return c;
}

/* What the client sent over TLS on the server's first connection (decrypted). */
static char *session_tls_bytes(itest_server *srv, size_t *len) {
    char *tls = NULL;
    assert_int_equal(itest_load_session_field(srv, 0, 10000, "tls_hex", &tls, len), 0);
    return tls;
}

static void test_unverified_tls_remote_refused(void **state) {
    (void)state;
    if (g_pki[0] == '\0') {
        fprintf(stderr, "test_auth_plaintext: skipped: no test PKI (tests/servers/make_test_pki.sh)\n");
        skip();
    }
    itest_server srv;
    memset(&srv, 0, sizeof srv);
    srv.proc.stdout_fd = -1;
    start_tls_aiosmtpd(&srv, 1);
    smtpc_tls_config *cfg = NULL;
    smtpc_client *c = tls_client(0, &cfg);
    smtpc_status st = smtpc_client_connect(c, NS_PEER_ADDR, SMTPC_NTS, (uint16_t)srv.proc.port);
    if (st != SMTPC_OK) {
        itest_stop(&srv);
        fail_msg("connect: %s", smtpc_client_errmsg(c));
    }
    st = smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS, 1);
    int active = smtpc_client_tls_active(c), verified = smtpc_client_tls_verified(c);
    smtpc_status st2 = smtpc_client_login(c, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS);
    char err[512];
    snprintf(err, sizeof err, "%s", smtpc_client_errmsg(c));
    smtpc_client_quit(c);
    smtpc_client_free(c);
    size_t len = 0;
    char *tls = session_tls_bytes(&srv, &len);
    itest_stop(&srv);
    if (st != SMTPC_EAUTH_INSECURE || st2 != SMTPC_EAUTH_INSECURE)
        fail_msg("AUTH over unverified TLS to a remote peer: %s / %s (%s), expected SMTPC_EAUTH_INSECURE",
                 smtpc_status_name(st), smtpc_status_name(st2), err);
    assert_int_equal(active, 1);
    assert_int_equal(verified, 0);
    const char want[] = "EHLO client.test\r\nQUIT\r\n";
    if (len != sizeof want - 1 || memcmp(tls, want, len) != 0) {
        itest_dump("sent over TLS", tls, len);
        free(tls);
        fail_msg("the client sent more than EHLO and QUIT over unverified TLS");
    }
    free(tls);
    auth_assert_not_traced(&g_trace, "pw-secret", 1);
}

static void test_verified_tls_remote_allowed(void **state) {
    (void)state;
    if (g_pki[0] == '\0') {
        fprintf(stderr, "test_auth_plaintext: skipped: no test PKI (tests/servers/make_test_pki.sh)\n");
        skip();
    }
    itest_server srv;
    memset(&srv, 0, sizeof srv);
    srv.proc.stdout_fd = -1;
    start_tls_aiosmtpd(&srv, 1);
    smtpc_tls_config *cfg = NULL;
    smtpc_client *c = tls_client(1, &cfg);
    smtpc_status st = smtpc_client_connect(c, NS_PEER_ADDR, SMTPC_NTS, (uint16_t)srv.proc.port);
    if (st == SMTPC_OK)
        st = smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS, 1);
    int verified = smtpc_client_tls_verified(c);
    char err[512];
    snprintf(err, sizeof err, "%s", smtpc_client_errmsg(c));
    smtpc_client_quit(c);
    smtpc_client_free(c);
    smtpc_tls_config_free(cfg);
    itest_stop(&srv);
    if (st != SMTPC_OK)
        fail_msg("AUTH over verified TLS to a remote peer: %s (%s), expected SMTPC_OK", smtpc_status_name(st),
                 err);
    assert_int_equal(verified, 1);
    auth_assert_not_traced(&g_trace, "pw-secret", 1);
}

static void test_unverified_tls_loopback_allowed(void **state) {
    (void)state;
    if (g_pki[0] == '\0') {
        fprintf(stderr, "test_auth_plaintext: skipped: no test PKI (tests/servers/make_test_pki.sh)\n");
        skip();
    }
    /* Loopback is always permitted, verified or not. */
    itest_server srv;
    memset(&srv, 0, sizeof srv);
    srv.proc.stdout_fd = -1;
    start_tls_aiosmtpd(&srv, 0);
    smtpc_tls_config *cfg = NULL;
    smtpc_client *c = tls_client(0, &cfg);
    smtpc_status st = smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)srv.proc.port);
    if (st == SMTPC_OK)
        st = smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "user", SMTPC_NTS, "pw-secret", SMTPC_NTS, 1);
    int verified = smtpc_client_tls_verified(c), active = smtpc_client_tls_active(c);
    char err[512];
    snprintf(err, sizeof err, "%s", smtpc_client_errmsg(c));
    smtpc_client_quit(c);
    smtpc_client_free(c);
    itest_stop(&srv);
    if (st != SMTPC_OK)
        fail_msg("AUTH over unverified TLS on loopback: %s (%s), expected SMTPC_OK", smtpc_status_name(st),
                 err);
    assert_int_equal(active, 1);
    assert_int_equal(verified, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plaintext_remote_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unverified_tls_remote_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verified_tls_remote_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unverified_tls_loopback_allowed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
