/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE 1

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tls_common.h"

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char g_pki[512];
static int g_pki_owned;

/* Run `bash make_test_pki.sh dir`, bounded to 120 s. */
static int run_pki_script(const char *dir) {
    char script[1024];
    if (harness_server_script(script, sizeof script, "make_test_pki.sh") != 0) return -1;
    char *const argv[] = {"bash", script, (char *)dir, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "bash", NULL, NULL, argv, environ) != 0) {
        fprintf(stderr, "tls_common: cannot run %s\n", script);
        return -1;
    }
    long long deadline = harness_now_ms() + 120000;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
        if (r < 0) return -1;
        if (harness_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "tls_common: make_test_pki.sh did not finish in time\n");
            return -1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int tls_pki_setup(void) {
    const char *env = getenv("SMTPC_TEST_PKI_DIR");
    if (env != NULL && env[0] != '\0') {
        char probe[600];
        snprintf(probe, sizeof probe, "%s/server.fp", env);
        if (strlen(env) < sizeof g_pki && access(probe, R_OK) == 0) {
            snprintf(g_pki, sizeof g_pki, "%s", env);
            g_pki_owned = 0;
            return 0;
        }
        fprintf(stderr, "tls_common: SMTPC_TEST_PKI_DIR=%s holds no PKI; making a private one\n", env);
    }
    if (harness_make_temp_dir("smtpc-pki", g_pki, sizeof g_pki) != 0) return -1;
    g_pki_owned = 1;
    if (run_pki_script(g_pki) != 0) {
        fprintf(stderr, "tls_common: make_test_pki.sh failed\n");
        tls_pki_teardown();
        return -1;
    }
    return 0;
}

void tls_pki_teardown(void) {
    if (g_pki_owned && g_pki[0] != '\0') harness_remove_tree(g_pki);
    g_pki[0] = '\0';
    g_pki_owned = 0;
}

const char *tls_pki(const char *name) {
    static char ring[16][640];
    static unsigned next;
    char *buf = ring[next++ % 16];
    int n = snprintf(buf, sizeof ring[0], "%s/%s", g_pki, name);
    if (n < 0 || (size_t)n >= sizeof ring[0]) {
        fprintf(stderr, "tls_pki: path too long for %s\n", name);
        abort();
    }
    return buf;
}

char *tls_pki_text(const char *name) {
    char *data;
    size_t len;
    if (harness_read_file(tls_pki(name), &data, &len) != 0) return NULL;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r')) data[--len] = '\0';
    return data;
}

int tls_start_aiosmtpd(itest_server *srv, const char *cert, const char *const extra[]) {
    const char *argv[40];
    size_t n = 0;
    char pem[256], key[256];
    if (cert != NULL) {
        snprintf(pem, sizeof pem, "%s.pem", cert);
        snprintf(key, sizeof key, "%s.key", cert);
        argv[n++] = "--tls-cert";
        argv[n++] = tls_pki(pem);
        argv[n++] = "--tls-key";
        argv[n++] = tls_pki(key);
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 39; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    return itest_start_aiosmtpd(srv, 0, argv);
}

smtpc_client *tls_client(smtpc_tls_policy policy, int trust_ca) {
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, TLS_CLIENT_NAME);
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_tls_policy(c, policy), SMTPC_OK);
    if (trust_ca) {
        smtpc_tls_config *cfg = NULL;
        assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
        if (smtpc_tls_config_set_ca_file(cfg, tls_pki("ca.pem"), SMTPC_NTS) != SMTPC_OK)
            fail_msg("set_ca_file: %s", smtpc_tls_config_errmsg(cfg));
        assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
        smtpc_tls_config_free(cfg); /* the client keeps its own reference */
    }
    return c;
}

smtpc_status tls_connect(smtpc_client *c, itest_server *srv, const char *host) {
    smtpc_status st = smtpc_client_connect(c, host, SMTPC_NTS, (uint16_t)srv->proc.port);
    if (st != SMTPC_ERESOLVE && st != SMTPC_ECONNECT && st != SMTPC_EINVAL && st != SMTPC_ESTATE &&
        st != SMTPC_ENOMEM)
        srv->connections++;
    return st;
}

smtpc_envelope *tls_envelope(const char *const rcpts[]) {
    static const char *const one[] = {"rcpt@example.org", NULL};
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, "sender@example.org", SMTPC_NTS), SMTPC_OK);
    if (rcpts == NULL) rcpts = one;
    for (size_t i = 0; rcpts[i] != NULL; i++)
        assert_int_equal(smtpc_envelope_add_recipient(env, rcpts[i], SMTPC_NTS), SMTPC_OK);
    return env;
}

int tls_is_tls_records(const char *data, size_t len) {
    const unsigned char *p = (const unsigned char *)data;
    if (len == 0) return 0;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 20 || p[i] > 23) return 0;
        if (i + 1 < len && p[i + 1] != 3) return 0;
        if (i + 5 > len) return 1; /* a header cut short: the connection ended there */
        size_t rec = ((size_t)p[i + 3] << 8) | p[i + 4];
        if (rec > 16384 + 2048) return 0;
        i += 5 + rec; /* the last record may be cut short */
    }
    return 1;
}

char *tls_session_text(const itest_server *srv, size_t index, const char *key, size_t *len) {
    char *out = NULL;
    if (itest_load_session_field(srv, index, TLS_WAIT_MS, key, &out, len) != 0)
        fail_msg("no session field %s for connection #%zu", key, index);
    return out;
}

char *tls_msg_text(const itest_server *srv, size_t index, const char *key, size_t *len) {
    char *out = NULL;
    if (itest_load_msg_field(srv, index, TLS_WAIT_MS, key, &out, len) != 0)
        fail_msg("no message field %s for message #%zu", key, index);
    return out;
}

void tls_check_session(const itest_server *srv, size_t index, const char *plain, size_t plain_len,
                       int expect_tls) {
    size_t len, tls_len, wire_len;
    char *got = tls_session_text(srv, index, "plain_hex", &len);
    if (!itest_bytes_match(got, len, plain, plain_len, 0)) {
        free(got);
        fail_msg("connection #%zu: wrong bytes received in clear", index);
    }
    free(got);
    char *established = tls_session_text(srv, index, "tls_established", NULL);
    char *tls = tls_session_text(srv, index, "tls_hex", &tls_len);
    char *wire = tls_session_text(srv, index, "tls_wire_hex", &wire_len);
    int ok = 1;
    if (expect_tls) {
        if (strcmp(established, "true") != 0) {
            fprintf(stderr, "connection #%zu: TLS handshake not completed on the server\n", index);
            ok = 0;
        }
    } else {
        if (strcmp(established, "false") != 0) {
            fprintf(stderr, "connection #%zu: TLS handshake completed on the server\n", index);
            ok = 0;
        }
        if (tls_len != 0) {
            itest_dump("received over TLS", tls, tls_len);
            ok = 0;
        }
        /* Whatever came after the clear part must be TLS records: no command in clear. */
        if (wire_len != 0 && !tls_is_tls_records(wire, wire_len)) {
            itest_dump("received after STARTTLS (not TLS records)", wire, wire_len);
            ok = 0;
        }
    }
    free(established);
    free(tls);
    free(wire);
    if (!ok) fail_msg("connection #%zu: unexpected TLS record", index);
}

const char *tls_memmem(const char *data, size_t len, const char *needle, size_t nlen) {
    for (size_t i = 0; nlen <= len && i <= len - nlen; i++)
        if (memcmp(data + i, needle, nlen) == 0) return data + i;
    return NULL;
}

size_t tls_count_info(const itest_trace *t, const char *needle) {
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->ev[i].kind == SMTPC_TRACE_INFO &&
            tls_memmem(t->ev[i].data, t->ev[i].len, needle, strlen(needle)))
            n++;
    return n;
}
