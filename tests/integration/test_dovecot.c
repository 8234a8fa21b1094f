/* SPDX-License-Identifier: MIT */
/*
 * LMTP against a real Dovecot (tests/servers/dovecot_server.py: a private, unprivileged instance with
 * only its LMTP service, on a Unix socket and on a loopback TCP port, offering STARTTLS with a
 * self-signed certificate). Every test reads what Dovecot delivered into the users' Maildirs: the
 * lines Dovecot puts first (Return-Path, Delivered-To for a single recipient, Received), then the
 * client's message byte for byte (Dovecot stores LF line ends and undoes the dot-stuffing).
 *
 * Skips (77) when Dovecot is not installed or does not start here. The certificate is selfsigned.pem of
 * the test PKI named by SMTPC_TEST_PKI_DIR (ctest's tls_pki fixture) or, when the program runs on its
 * own, one made here with the openssl tool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "itest.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROGRAM "test_dovecot"
#define SENDER "sender@example.org"

static harness_server g_dc;
static char g_maildirs[600];
static char g_dir[512]; /* private temp dir: the certificate when no PKI was given */
static char g_cert[700];
static char g_key[700];

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static const char *dovecot_unavailable(void) {
    if (access("/usr/sbin/dovecot", X_OK) != 0) return "dovecot is not installed (Debian: dovecot-core)";
    if (access("/usr/lib/dovecot/lmtp", X_OK) != 0)
        return "Dovecot's LMTP service is not installed (Debian: dovecot-lmtpd)";
    if (geteuid() == 0 && getpwnam("dovecot") == NULL)
        return "running as root and there is no 'dovecot' user to run Dovecot as";
    if (access(HARNESS_PYTHON, X_OK) != 0) return HARNESS_PYTHON " is missing";
    return NULL;
}

static int run_quiet(const char *const argv[]) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

/* A self-signed certificate naming localhost and 127.0.0.1. */
static int find_or_make_cert(void) {
    const char *env = getenv("SMTPC_TEST_PKI_DIR");
    if (env != NULL && env[0] != '\0') {
        snprintf(g_cert, sizeof g_cert, "%s/selfsigned.pem", env);
        snprintf(g_key, sizeof g_key, "%s/selfsigned.key", env);
        if (file_exists(g_cert) && file_exists(g_key)) return 0;
    }
    snprintf(g_cert, sizeof g_cert, "%s/cert.pem", g_dir);
    snprintf(g_key, sizeof g_key, "%s/key.pem", g_dir);
    const char *argv[] = {"/usr/bin/openssl",
                          "req",
                          "-x509",
                          "-newkey",
                          "ec",
                          "-pkeyopt",
                          "ec_paramgen_curve:P-256",
                          "-nodes",
                          "-days",
                          "2",
                          "-subj",
                          "/CN=localhost",
                          "-addext",
                          "subjectAltName=DNS:localhost,IP:127.0.0.1",
                          "-keyout",
                          g_key,
                          "-out",
                          g_cert,
                          NULL};
    if (run_quiet(argv) != 0) {
        fprintf(stderr, PROGRAM ": openssl req failed\n");
        return -1;
    }
    return 0;
}

static int read_tagged_line(const char *tag, char *out, size_t cap) {
    char line[700];
    size_t tl = strlen(tag);
    if (harness_server_read_line(&g_dc, line, sizeof line, 10000) < 0 || strncmp(line, tag, tl) != 0 ||
        line[tl] != ' ') {
        fprintf(stderr, PROGRAM ": expected a %s line from dovecot_server.py\n", tag);
        return -1;
    }
    snprintf(out, cap, "%s", line + tl + 1);
    return 0;
}

static int group_setup(void **state) {
    (void)state;
    const char *why = dovecot_unavailable();
    if (why != NULL) harness_skip_program(PROGRAM, why);
    if (harness_make_temp_dir("smtpc-dovecot-test", g_dir, sizeof g_dir) != 0 || find_or_make_cert() != 0)
        return -1;
    char script[1024];
    if (harness_server_script(script, sizeof script, "dovecot_server.py") != 0) return -1;
    const char *argv[] = {HARNESS_PYTHON, script,  "--user",    "alice", "--user",  "bob",
                          "--user",       "carol", "--user",    "dave",  "--user",  "eve",
                          "--user",       "frank", "--user",    "grace", "--user",  "henry",
                          "--user",       "ivan",  "--user",    "judy",  "--user",  "kate",
                          "--user",       "tiny",  "--user",    "leo",   "--quota", "tiny=1000",
                          "--tls-cert",   g_cert,  "--tls-key", g_key,   NULL};
    long long t0 = harness_now_ms();
    if (harness_server_start(argv, &g_dc) != 0) {
        harness_remove_tree(g_dir);
        harness_skip_program(PROGRAM, "Dovecot did not start here (its reason is printed above)");
    }
    char port[32];
    if (read_tagged_line("PORT", port, sizeof port) != 0 ||
        read_tagged_line("MAILDIRS", g_maildirs, sizeof g_maildirs) != 0)
        return -1;
    g_dc.port = atoi(port);
    fprintf(stderr, PROGRAM ": Dovecot LMTP ready in %lld ms on %s and 127.0.0.1:%d\n", harness_now_ms() - t0,
            g_dc.path, g_dc.port);
    return g_dc.port > 0 ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    harness_server_stop(&g_dc);
    if (g_dir[0] != '\0') harness_remove_tree(g_dir);
    return 0;
}

/* ---- what Dovecot delivered ---- */

static void new_dir(const char *user, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s/Maildir/new", g_maildirs, user);
}

/* Number of messages in the user's Maildir (0 when Dovecot never created it). */
static size_t delivered_count(const char *user) {
    char dir[800];
    new_dir(user, dir, sizeof dir);
    if (!file_exists(dir)) return 0;
    char **names = NULL;
    size_t n = 0;
    if (harness_list_dir(dir, &names, &n) != 0) return 0;
    harness_free_list(names, n);
    return n;
}

/* The one message in the user's Maildir (malloc()ed). */
static char *load_only_message(const char *user, size_t *len) {
    char dir[800];
    new_dir(user, dir, sizeof dir);
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(harness_list_dir(dir, &names, &n), 0);
    assert_int_equal(n, 1);
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, names[0]);
    harness_free_list(names, n);
    char *data = NULL;
    assert_int_equal(harness_read_file(path, &data, len), 0);
    return data;
}

/* The message as Dovecot stores it: every CRLF (and lone CR) becomes LF. */
static char *to_lf(const char *msg, size_t len, size_t *out_len) {
    char *out = malloc(len + 1);
    assert_non_null(out);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (msg[i] == '\r') {
            out[o++] = '\n';
            if (i + 1 < len && msg[i + 1] == '\n') i++;
        } else {
            out[o++] = msg[i];
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static int starts_with(const char *p, const char *end, const char *s) {
    size_t n = strlen(s);
    return (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}

/* Exact comparison; on a difference, the offset and a little context (the bodies may be MiB long). */
static void assert_same_bytes(const char *got, size_t glen, const char *exp, size_t elen) {
    size_t i = 0;
    while (i < glen && i < elen && got[i] == exp[i]) i++;
    if (i == glen && i == elen) return;
    size_t from = i > 40 ? i - 40 : 0;
    fprintf(stderr, "first difference at offset %zu (got %zu bytes, expected %zu)\n", i, glen, elen);
    itest_dump("got", got + from, (glen - from) < 120 ? glen - from : 120);
    itest_dump("expected", exp + from, (elen - from) < 120 ? elen - from : 120);
    fail_msg("delivered message differs");
}

/*
 * Check the user's one delivered message: "Return-Path: <sender>", then "Delivered-To: <rcpt>" when
 * delivered_to is not NULL (Dovecot writes it for a single-recipient transaction) and none otherwise,
 * then Dovecot's Received field (folded), then exactly `msg` with LF line ends.
 */
static void check_delivered(const char *user, const char *sender, const char *delivered_to, const char *msg,
                            size_t msg_len) {
    size_t len = 0;
    char *data = load_only_message(user, &len);
    const char *p = data, *end = data + len;
    char line[600];
    snprintf(line, sizeof line, "Return-Path: <%s>\n", sender);
    if (!starts_with(p, end, line)) {
        itest_dump("delivered", data, len < 300 ? len : 300);
        fail_msg("no Return-Path <%s> first", sender);
    }
    p += strlen(line);
    if (delivered_to != NULL) {
        snprintf(line, sizeof line, "Delivered-To: %s\n", delivered_to);
        if (!starts_with(p, end, line)) {
            itest_dump("delivered", data, len < 300 ? len : 300);
            fail_msg("no Delivered-To %s after Return-Path", delivered_to);
        }
        p += strlen(line);
    }
    assert_true(starts_with(p, end, "Received: from "));
    do {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        p = nl + 1;
    } while (p < end && *p == '\t');
    size_t exp_len = 0;
    char *exp = to_lf(msg, msg_len, &exp_len);
    assert_same_bytes(p, (size_t)(end - p), exp, exp_len);
    free(exp);
    free(data);
}

/* ---- client helpers ---- */

static int trace_has(const itest_trace *t, smtpc_trace_kind kind, const char *needle) {
    size_t nl = strlen(needle);
    for (size_t i = 0; i < t->n; i++) {
        const itest_event *e = &t->ev[i];
        if (e->kind != kind || e->len < nl) continue;
        for (size_t j = 0; j + nl <= e->len; j++)
            if (strncasecmp(e->data + j, needle, nl) == 0) return 1;
    }
    return 0;
}

static smtpc_client *client_with_trace(itest_trace *t) {
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_LMTP, "client.example");
    assert_non_null(c);
    memset(t, 0, sizeof *t);
    assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, t), SMTPC_OK);
    return c;
}

static smtpc_envelope *envelope(const char *sender, const char *const rcpts[]) {
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, sender, SMTPC_NTS), SMTPC_OK);
    for (size_t i = 0; rcpts[i] != NULL; i++)
        assert_int_equal(smtpc_envelope_add_recipient(env, rcpts[i], SMTPC_NTS), SMTPC_OK);
    return env;
}

static void assert_text_contains(const smtpc_reply *r, const char *needle) {
    assert_non_null(r);
    const char *text = smtpc_reply_text(r, NULL);
    if (strstr(text, needle) == NULL) fail_msg("reply \"%s\" lacks \"%s\"", text, needle);
}

/* ---- tests ---- */

/*
 * Over the Unix socket: two known users and an unknown one in between. Each known user gets its own
 * 250 after the message, the unknown one is refused at RCPT; no STARTTLS although Dovecot offers it
 * (the default policy gives a Unix socket no TLS).
 */
static void unix_socket_per_recipient(void **state) {
    (void)state;
    itest_trace t;
    smtpc_client *c = client_with_trace(&t);
    assert_int_equal(smtpc_client_connect(c, g_dc.path, SMTPC_NTS, 0), SMTPC_OK);
    static const char msg[] = "From: sender@example.org\r\n"
                              "To: alice@example.org, bob@example.org\r\n"
                              "Subject: over the Unix socket\r\n"
                              "\r\n"
                              "first line\r\n"
                              ".a line starting with a dot\r\n"
                              "..two dots\r\n"
                              ".\r\n"
                              "last line\r\n";
    const char *rcpts[] = {"alice@example.org", "nobody@example.org", "bob@example.org", NULL};
    smtpc_envelope *env = envelope(SENDER, rcpts);
    assert_int_equal(smtpc_client_sendmail(c, env, msg, sizeof msg - 1), SMTPC_OK);

    /* Dovecot offered STARTTLS; the client did not take it. */
    assert_text_contains(smtpc_client_ehlo_reply(c), "STARTTLS");
    assert_int_equal(smtpc_client_tls_active(c), 0);
    assert_false(trace_has(&t, SMTPC_TRACE_SEND, "STARTTLS"));
    assert_true(trace_has(&t, SMTPC_TRACE_SEND, "LHLO client.example"));

    const smtpc_result *res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_count(res), 3);
    assert_int_equal(smtpc_result_delivered_count(res), 2);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    assert_int_equal(smtpc_result_state(res, 2), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_reply_code(smtpc_result_rcpt_reply(res, 1)), 550);
    assert_text_contains(smtpc_result_rcpt_reply(res, 1), "5.1.1 <nobody@example.org>");
    assert_null(smtpc_result_data_reply(res, 1));
    /* Each delivered recipient has its own reply, naming it. */
    assert_int_equal(smtpc_reply_code(smtpc_result_data_reply(res, 0)), 250);
    assert_text_contains(smtpc_result_data_reply(res, 0), "<alice@example.org>");
    assert_int_equal(smtpc_reply_code(smtpc_result_data_reply(res, 2)), 250);
    assert_text_contains(smtpc_result_data_reply(res, 2), "<bob@example.org>");

    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    itest_trace_clear(&t);

    check_delivered("alice", SENDER, NULL, msg, sizeof msg - 1);
    check_delivered("bob", SENDER, NULL, msg, sizeof msg - 1);
    assert_int_equal(delivered_count("nobody"), 0);
}

static const char tls_msg[] = "From: sender@example.org\r\n"
                              "To: carol@example.org\r\n"
                              "Subject: over STARTTLS\r\n"
                              "\r\n"
                              "sent encrypted\r\n";

/* Over loopback TCP the default policy takes STARTTLS; the self-signed certificate is recorded as
 * not verified, and the message is delivered. */
static void tcp_default_policy_opportunistic(void **state) {
    (void)state;
    itest_trace t;
    smtpc_client *c = client_with_trace(&t);
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)g_dc.port), SMTPC_OK);
    const char *rcpts[] = {"carol@example.org", NULL};
    smtpc_envelope *env = envelope(SENDER, rcpts);
    assert_int_equal(smtpc_client_sendmail(c, env, tls_msg, sizeof tls_msg - 1), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), 0);
    assert_int_not_equal(smtpc_client_tls_verify_result(c), 0);
    assert_true(trace_has(&t, SMTPC_TRACE_SEND, "STARTTLS\r\n"));
    assert_true(trace_has(&t, SMTPC_TRACE_INFO, "certificate NOT verified"));
    /* LHLO again after STARTTLS, then the transaction. */
    assert_true(trace_has(&t, SMTPC_TRACE_SEND, "MAIL FROM:<sender@example.org>"));
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_delivered_count(res), 1);
    assert_text_contains(smtpc_result_data_reply(res, 0), "<carol@example.org>");
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    itest_trace_clear(&t);
    check_delivered("carol", SENDER, "carol@example.org", tls_msg, sizeof tls_msg - 1);
}

/* SMTPC_TLS_REQUIRED refuses the unverifiable certificate, says how to fix it, and sends nothing;
 * trusting the certificate (the first fix named) then delivers, verified. */
static void tcp_required_fails_then_cafile(void **state) {
    (void)state;
    itest_trace t;
    smtpc_client *c = client_with_trace(&t);
    assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_REQUIRED), SMTPC_OK);
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)g_dc.port), SMTPC_OK);
    const char *rcpts[] = {"henry@example.org", NULL};
    smtpc_envelope *env = envelope(SENDER, rcpts);
    assert_int_equal(smtpc_client_sendmail(c, env, tls_msg, sizeof tls_msg - 1), SMTPC_ETLS_VERIFY);
    const char *err = smtpc_client_errmsg(c);
    if (strstr(err, "smtpc_tls_config_set_ca_file") == NULL || strstr(err, "SMTPC_TLS_OPPORTUNISTIC") == NULL)
        fail_msg("errmsg names no fix: %s", err);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    assert_false(trace_has(&t, SMTPC_TRACE_SEND, "MAIL FROM"));
    assert_false(trace_has(&t, SMTPC_TRACE_SEND, "RCPT TO"));
    assert_int_equal(delivered_count("henry"), 0);
    itest_trace_clear(&t);

    smtpc_tls_config *cfg = NULL;
    assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
    assert_int_equal(smtpc_tls_config_set_ca_file(cfg, g_cert, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_config(c, cfg), SMTPC_OK);
    assert_int_equal(smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)g_dc.port), SMTPC_OK);
    assert_int_equal(smtpc_client_sendmail(c, env, tls_msg, sizeof tls_msg - 1), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), 1);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_tls_config_free(cfg);
    smtpc_envelope_free(env);
    itest_trace_clear(&t);
    check_delivered("henry", SENDER, "henry@example.org", tls_msg, sizeof tls_msg - 1);
}

/* ---- a large streamed body ---- */

#define BIG_TARGET (4u * 1024u * 1024u)

typedef struct big_source {
    const char *data;
    size_t len, pos, calls;
} big_source;

/* Blocks of varying sizes, so that CRLF pairs and leading dots straddle block boundaries. */
static int big_read(char *buf, size_t cap, size_t *len, void *userdata) {
    big_source *s = userdata;
    static const size_t steps[] = {1, 2, 4093, 7919, 65536, 3, 1021, 100000, 17};
    size_t want = steps[s->calls++ % (sizeof steps / sizeof steps[0])];
    size_t n = s->len - s->pos;
    if (n > want) n = want;
    if (n > cap) n = cap;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    *len = n;
    return 0;
}

static char *make_big_message(size_t *out_len) {
    size_t cap = BIG_TARGET + 4096;
    char *m = malloc(cap);
    assert_non_null(m);
    size_t o =
        (size_t)snprintf(m, cap, "From: sender@example.org\r\nTo: dave@example.org\r\nSubject: big\r\n\r\n");
    for (unsigned i = 0; o < BIG_TARGET; i++) {
        char line[1100];
        int n;
        switch (i % 7) {
        case 0: n = snprintf(line, sizeof line, ".\r\n"); break;                /* would end DATA */
        case 1: n = snprintf(line, sizeof line, "..%u two dots\r\n", i); break; /* stuffed to three */
        case 2: n = snprintf(line, sizeof line, ".%u one dot\r\n", i); break;
        case 3: n = snprintf(line, sizeof line, "\r\n"); break; /* empty line */
        default: {
            /* lines of 0..990 characters of printable text */
            size_t w = (i * 37u) % 991u;
            for (size_t k = 0; k < w; k++) line[k] = (char)('!' + (char)((i + k) % 94u));
            line[w] = '\r';
            line[w + 1] = '\n';
            n = (int)(w + 2);
        }
        }
        memcpy(m + o, line, (size_t)n);
        o += (size_t)n;
    }
    *out_len = o;
    return m;
}

static void large_streamed_body(void **state) {
    (void)state;
    size_t len = 0;
    char *msg = make_big_message(&len);
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_LMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(smtpc_client_connect(c, g_dc.path, SMTPC_NTS, 0), SMTPC_OK);
    const char *rcpts[] = {"dave@example.org", NULL};
    smtpc_envelope *env = envelope(SENDER, rcpts);
    big_source src = {msg, len, 0, 0};
    long long t0 = harness_now_ms();
    assert_int_equal(smtpc_client_sendmail_stream(c, env, 0, big_read, &src), SMTPC_OK);
    long long ms = harness_now_ms() - t0;
    fprintf(stderr, PROGRAM ": %zu bytes streamed in %zu blocks, delivered in %lld ms\n", len, src.calls, ms);
    assert_int_equal(src.pos, len);
    assert_int_equal(smtpc_result_delivered_count(smtpc_client_last_result(c)), 1);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    check_delivered("dave", SENDER, "dave@example.org", msg, len);
    free(msg);
}

/* send_message: the Bcc recipient gets the message, and no copy holds the Bcc field. */
static void send_message_bcc(void **state) {
    (void)state;
    static const char msg[] = "From: Sender <sender@example.org>\r\n"
                              "To: eve@example.org\r\n"
                              "Cc: Frank <frank@example.org>\r\n"
                              "Bcc: grace@example.org\r\n"
                              "Subject: with a blind copy\r\n"
                              "\r\n"
                              "Bcc: this line is body text and stays\r\n";
    static const char sent[] = "From: Sender <sender@example.org>\r\n"
                               "To: eve@example.org\r\n"
                               "Cc: Frank <frank@example.org>\r\n"
                               "Subject: with a blind copy\r\n"
                               "\r\n"
                               "Bcc: this line is body text and stays\r\n";
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_LMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(smtpc_client_connect(c, g_dc.path, SMTPC_NTS, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_send_message(c, NULL, msg, sizeof msg - 1), SMTPC_OK);
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_count(res), 3);
    assert_int_equal(smtpc_result_delivered_count(res), 3);
    /* To, Bcc, Cc: smtplib's order. */
    assert_string_equal(smtpc_result_recipient(res, 0, NULL), "eve@example.org");
    assert_string_equal(smtpc_result_recipient(res, 1, NULL), "grace@example.org");
    assert_string_equal(smtpc_result_recipient(res, 2, NULL), "frank@example.org");
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    check_delivered("eve", SENDER, NULL, sent, sizeof sent - 1);
    check_delivered("frank", SENDER, NULL, sent, sizeof sent - 1);
    check_delivered("grace", SENDER, NULL, sent, sizeof sent - 1);
}

/*
 * send_message with a lone CR before the Bcc field (issue 8 item 2): the field is still found, removed
 * from the message and its address added to the envelope.
 */
static void send_message_bcc_after_lone_cr(void **state) {
    (void)state;
    static const char msg[] = "From: sender@example.org\r\n"
                              "To: ivan@example.org\r\n"
                              "Subject: x\rBcc: judy@example.org\r\n"
                              "\r\n"
                              "body\r\n";
    /* The lone CR goes out as CRLF. */
    static const char sent[] = "From: sender@example.org\r\n"
                               "To: ivan@example.org\r\n"
                               "Subject: x\r\n"
                               "\r\n"
                               "body\r\n";
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_LMTP, "client.example");
    assert_non_null(c);
    assert_int_equal(smtpc_client_connect(c, g_dc.path, SMTPC_NTS, 0), SMTPC_OK);
    assert_int_equal(smtpc_client_send_message(c, NULL, msg, sizeof msg - 1), SMTPC_OK);
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_delivered_count(res), 2);
    assert_string_equal(smtpc_result_recipient(res, 1, NULL), "judy@example.org");
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    check_delivered("ivan", SENDER, NULL, sent, sizeof sent - 1);
    check_delivered("judy", SENDER, NULL, sent, sizeof sent - 1);
}

/*
 * A recipient refused after the message (Dovecot: over quota, 552 5.2.2), between two that accept it:
 * LMTP's per-recipient replies after DATA. Then the same message to that recipient alone: refused
 * for every recipient, nothing delivered.
 */
static void refused_after_message(void **state) {
    (void)state;
    size_t len = 0;
    char *msg = malloc(4000);
    assert_non_null(msg);
    len =
        (size_t)snprintf(msg, 4000, "From: sender@example.org\r\nSubject: larger than tiny's quota\r\n\r\n");
    while (len < 3000) {
        memcpy(msg + len, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 66);
        len += 66;
    }
    itest_trace t;
    smtpc_client *c = client_with_trace(&t);
    assert_int_equal(smtpc_client_connect(c, g_dc.path, SMTPC_NTS, 0), SMTPC_OK);
    const char *rcpts[] = {"kate@example.org", "tiny@example.org", "leo@example.org", NULL};
    smtpc_envelope *env = envelope(SENDER, rcpts);
    assert_int_equal(smtpc_client_sendmail(c, env, msg, len), SMTPC_OK);
    const smtpc_result *res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_count(res), 3);
    assert_int_equal(smtpc_result_delivered_count(res), 2);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_FAILED);
    assert_int_equal(smtpc_result_state(res, 2), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_reply_code(smtpc_result_rcpt_reply(res, 1)), 250);
    assert_int_equal(smtpc_reply_code(smtpc_result_data_reply(res, 1)), 552);
    assert_text_contains(smtpc_result_data_reply(res, 1), "<tiny@example.org>");
    assert_text_contains(smtpc_result_data_reply(res, 0), "<kate@example.org>");
    assert_text_contains(smtpc_result_data_reply(res, 2), "<leo@example.org>");
    /* The session is in step: the next command gets its own reply. */
    assert_int_equal(smtpc_client_noop(c), SMTPC_OK);
    ITEST_ASSERT_REPLY(smtpc_client_last_reply(c), 250, "2.0.0 OK");
    smtpc_envelope_free(env);

    const char *alone[] = {"tiny@example.org", NULL};
    env = envelope(SENDER, alone);
    smtpc_status st = smtpc_client_sendmail(c, env, msg, len);
    if (st != SMTPC_EDATA_REFUSED)
        fprintf(stderr, "all refused after the message: %s: %s\n", smtpc_status_name(st),
                smtpc_client_errmsg(c));
    assert_int_equal(st, SMTPC_EDATA_REFUSED);
    res = smtpc_client_last_result(c);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_FAILED);
    assert_int_equal(smtpc_reply_code(smtpc_result_data_reply(res, 0)), 552);
    assert_int_equal(smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    itest_trace_clear(&t);

    check_delivered("kate", SENDER, NULL, msg, len);
    check_delivered("leo", SENDER, NULL, msg, len);
    assert_int_equal(delivered_count("tiny"), 0);
    free(msg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unix_socket_per_recipient),
        cmocka_unit_test(tcp_default_policy_opportunistic),
        cmocka_unit_test(tcp_required_fails_then_cafile),
        cmocka_unit_test(large_streamed_body),
        cmocka_unit_test(send_message_bcc),
        cmocka_unit_test(send_message_bcc_after_lone_cr),
        cmocka_unit_test(refused_after_message),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
