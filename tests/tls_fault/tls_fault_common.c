/* SPDX-License-Identifier: MIT */
/* Shared fixture for the scripted TLS fault tests; see tls_fault_common.h. */
#include "tls_fault_common.h"

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char g_pki[512];
static int g_pki_owned;

/* Run `bash make_test_pki.sh dir`, bounded to 120 s. */
static int run_pki_script(const char *dir) {
    char script[1024];
    if (harness_server_script(script, sizeof script, "make_test_pki.sh") != 0) {
        return -1;
    }
    char *const argv[] = {"bash", script, (char *)dir, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "bash", NULL, NULL, argv, environ) != 0) {
        fprintf(stderr, "tls_fault: cannot run %s\n", script);
        return -1;
    }
    long long deadline = harness_now_ms() + 120000;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
        }
        if (r < 0) {
            return -1;
        }
        if (harness_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "tls_fault: make_test_pki.sh did not finish in time\n");
            return -1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int tf_group_setup(void **state) {
    (void)state;
    const char *env = getenv("SMTPC_TEST_PKI_DIR");
    if (env != NULL && env[0] != '\0' && strlen(env) < sizeof g_pki) {
        char probe[600];
        struct stat st;
        snprintf(probe, sizeof probe, "%s/server.key", env);
        if (stat(probe, &st) == 0) {
            snprintf(g_pki, sizeof g_pki, "%s", env);
            g_pki_owned = 0;
            return 0;
        }
    }
    if (harness_make_temp_dir("smtpc-tlsfault-pki", g_pki, sizeof g_pki) != 0) {
        return -1;
    }
    g_pki_owned = 1;
    if (run_pki_script(g_pki) != 0) {
        fprintf(stderr, "tls_fault: make_test_pki.sh failed\n");
        harness_remove_tree(g_pki);
        g_pki_owned = 0;
        return -1;
    }
    return 0;
}

int tf_group_teardown(void **state) {
    (void)state;
    if (g_pki_owned) {
        harness_remove_tree(g_pki);
        g_pki_owned = 0;
    }
    return 0;
}

const char *tf_pki(const char *name) {
    static char ring[8][640];
    static unsigned next;
    char *buf = ring[next++ % 8];
    snprintf(buf, sizeof ring[0], "%s/%s", g_pki, name);
    return buf;
}

/* The server's arguments live as long as the fixture: keep the paths in static storage. */
static char g_cert[640];
static char g_key[640];

static void add_arg(fault_fixture *f, const char *arg) {
    size_t n = 0;
    while (f->extra_args[n] != NULL) {
        n++;
    }
    assert_true(n + 1 < sizeof f->extra_args / sizeof f->extra_args[0]);
    f->extra_args[n] = arg;
    f->extra_args[n + 1] = NULL;
}

int tf_setup(void **state) {
    if (fault_setup(state) != 0) {
        return -1;
    }
    fault_fixture *f = *state;
    snprintf(g_cert, sizeof g_cert, "%s", tf_pki("server.pem"));
    snprintf(g_key, sizeof g_key, "%s", tf_pki("server.key"));
    f->extra_args[0] = "--tls-cert";
    f->extra_args[1] = g_cert;
    f->extra_args[2] = "--tls-key";
    f->extra_args[3] = g_key;
    f->extra_args[4] = NULL;
    return 0;
}

void tf_server_implicit(fault_fixture *f) { add_arg(f, "--implicit-tls"); }

void tf_server_connections(fault_fixture *f, int n) {
    static char buf[16];
    snprintf(buf, sizeof buf, "%d", n);
    add_arg(f, "--connections");
    add_arg(f, buf);
}

void tf_server_rcvbuf(fault_fixture *f, int bytes) {
    static char buf[16];
    snprintf(buf, sizeof buf, "%d", bytes);
    add_arg(f, "--rcvbuf");
    add_arg(f, buf);
}

smtpc_client *tf_client(fault_fixture *f, smtpc_tls_policy policy, uint32_t connect_ms, uint32_t command_ms) {
    smtpc_client *c = fault_client(f, connect_ms, command_ms);
    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    const char *ca = tf_pki("ca.pem");
    if (smtpc_tls_config_set_ca_file(cfg, ca, SMTPC_NTS) != SMTPC_OK) {
        fail_msg("cannot load %s: %s", ca, smtpc_tls_config_errmsg(cfg));
    }
    assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
    smtpc_tls_config_free(cfg); /* the client keeps a reference */
    assert_int_equal(smtpc_client_set_tls_policy(c, policy), SMTPC_OK);
    return c;
}

/* ---------------------------------------------------------------------------------------------- */
/* Script steps                                                                                   */
/* ---------------------------------------------------------------------------------------------- */

void sc_starttls(fault_fixture *f) { sc_raw(f, "{\"starttls\": true}"); }

void sc_starttls_opts(fault_fixture *f, const char *options_json) {
    char buf[512];
    snprintf(buf, sizeof buf, "{\"starttls\": {%s}}", options_json);
    sc_raw(f, buf);
}

void sc_expect_quiet(fault_fixture *f, double seconds) {
    char buf[64];
    snprintf(buf, sizeof buf, "{\"expect_quiet\": %.3f}", seconds);
    sc_raw(f, buf);
}

void sc_read_any(fault_fixture *f) { sc_raw(f, "{\"read_some\": true}"); }

void sc_tls_garbage(fault_fixture *f, const char *bytes) {
    /* The bytes are plain printable ASCII in these tests: no JSON escaping beyond CR/LF needed. */
    char buf[512];
    size_t n = 0;
    n += (size_t)snprintf(buf, sizeof buf, "{\"tls_garbage\": \"");
    for (const char *p = bytes; *p != '\0' && n + 8 < sizeof buf; p++) {
        if (*p == '\r') {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\\r");
        } else if (*p == '\n') {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\\n");
        } else {
            assert_true(*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\');
            buf[n++] = *p;
        }
    }
    snprintf(buf + n, sizeof buf - n, "\"}");
    sc_raw(f, buf);
}

void sc_tls_alert(fault_fixture *f) { sc_raw(f, "{\"tls_alert\": true}"); }

void sc_close_notify(fault_fixture *f) { sc_raw(f, "{\"close_notify\": true}"); }

void sc_close_without_notify(fault_fixture *f) { sc_raw(f, "{\"close_without_notify\": true}"); }

void sc_expect_eof_notify(fault_fixture *f, double timeout) {
    char buf[96];
    snprintf(buf, sizeof buf, "{\"expect_eof\": true, \"close_notify\": true, \"timeout\": %.3f}", timeout);
    sc_raw(f, buf);
}

void sc_hello_starttls(fault_fixture *f, const char *ehlo) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, ehlo);
    sc_expect(f, "STARTTLS");
    sc_expect_quiet(f, 0.1);
    sc_send(f, RPL_220_GO);
    sc_starttls(f);
}

/* ---------------------------------------------------------------------------------------------- */
/* Assertions                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

static void print_escaped(const char *label, const char *p, size_t len, size_t max) {
    fprintf(stderr, "%s (%zu bytes): \"", label, len);
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r') {
            fputs("\\r", stderr);
        } else if (c == '\n') {
            fputs("\\n", stderr);
        } else if (c == '"' || c == '\\') {
            fprintf(stderr, "\\%c", c);
        } else if (c < 0x20 || c >= 0x7f) {
            fprintf(stderr, "\\x%02x", c);
        } else {
            fputc(c, stderr);
        }
    }
    fprintf(stderr, "\"%s\n", len > max ? "..." : "");
}

/* data/len is one or more TLS records (content type 20..23, version 3.x, length <= 2^14 + 2048), the
 * first a handshake record whose first message is a ClientHello; the last may be cut short. */
static int is_client_records(const unsigned char *p, size_t len) {
    if (len < 6 || p[0] != 22 || p[1] != 3 || p[5] != 1) {
        return 0;
    }
    size_t off = 0;
    while (off < len) {
        if (len - off < 5) {
            return p[off] >= 20 && p[off] <= 23 && (len - off < 2 || p[off + 1] == 3);
        }
        size_t rlen = ((size_t)p[off + 3] << 8) | p[off + 4];
        if (p[off] < 20 || p[off] > 23 || p[off + 1] != 3 || rlen > 16384 + 2048) {
            return 0;
        }
        off += 5 + rlen;
    }
    return 1;
}

int tf_transcript_is_then_records(const fault_fixture *f, const char *prefix, size_t prefix_len) {
    if (f->transcript == NULL || f->transcript_len <= prefix_len ||
        memcmp(f->transcript, prefix, prefix_len) != 0) {
        return 0;
    }
    return is_client_records((const unsigned char *)f->transcript + prefix_len,
                             f->transcript_len - prefix_len);
}

void tf_assert_transcript_then_records(const fault_fixture *f, const char *prefix, size_t prefix_len) {
    assert_non_null(f->transcript);
    if (!tf_transcript_is_then_records(f, prefix, prefix_len)) {
        print_escaped("server received", f->transcript, f->transcript_len, 600);
        print_escaped("expected prefix", prefix, prefix_len, 600);
        fail_msg("the transcript is not the expected plaintext followed by TLS records (a ClientHello)");
    }
}

void tf_assert_errmsg_has(const fault_fixture *f, const char *needle) {
    const char *msg = smtpc_client_errmsg(f->client);
    if (msg == NULL || strstr(msg, needle) == NULL) {
        fail_msg("errmsg \"%s\" does not contain \"%s\"", msg ? msg : "(null)", needle);
    }
}

void tf_assert_connected(const fault_fixture *f, int want) {
    int got = smtpc_client_is_connected(f->client);
    if (got != want) {
        fail_msg("smtpc_client_is_connected() is %d, expected %d (errmsg \"%s\")", got, want,
                 smtpc_client_errmsg(f->client));
    }
}

void tf_assert_elapsed(const fault_fixture *f, long long min_ms, long long max_ms) {
    long long ms = fault_elapsed_ms(f);
    if (ms < min_ms || ms > max_ms) {
        fail_msg("took %lld ms, expected %lld..%lld ms", ms, min_ms, max_ms);
    }
}
