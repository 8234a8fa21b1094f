/* SPDX-License-Identifier: MIT */
/*
 * Random call sequences through the C API, with calls made from inside callbacks, against aiosmtpd
 * (AUTH PLAIN/LOGIN offered in plaintext on loopback). A fixed seed makes a run reproducible
 * (SMTPC_RANDOM_SEED and SMTPC_RANDOM_STEPS override the defaults). Invariants checked after every
 * call:
 *  - every status is a known code, and smtpc_client_last_status() is the status just returned;
 *  - a call on a client that is not connected (other than connect) sends nothing and returns
 *    SMTPC_ENOTCONN, SMTPC_EINVAL or, for options and local checks, another status without I/O;
 *  - a status that closes the connection leaves smtpc_client_is_connected() at 0;
 *  - a call from inside a callback returns SMTPC_ESTATE and changes neither the connection nor the
 *    last status; a close or free asked for from a callback is done when the outer call returns;
 *  - nothing is sent while not connected, and for each connection the bytes the server received are
 *    exactly the commands and message blocks the trace reported (credentials, masked in the trace,
 *    are matched as any text up to the line end).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "itest.h"

#define MAX_CONNECTIONS 400

typedef struct conn_log {
    char *bytes; /* what the trace says was sent on this connection */
    size_t len, cap;
    size_t last_send; /* where the last SMTPC_TRACE_SEND event starts */
} conn_log;

static struct {
    itest_server srv;
    smtpc_client *c;
    smtpc_envelope *env;
    unsigned long long rng;
    int depth;           /* > 0 while inside a call on the client */
    int in_callback;     /* > 0 while a callback of the client runs */
    int connected_model; /* what the test believes about the connection */
    int close_requested, free_requested;
    conn_log conns[MAX_CONNECTIONS];
    int nconn; /* connections made (index of the next one) */
    int sent_while_closed;
    long failures;
    char first[600];
    long calls, callback_calls;
    int lost_lines; /* connections whose last traced line the server never got */
    long status_seen[32];
} g;

static void failf(const char *fmt, ...) {
    if (g.failures++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g.first, sizeof g.first, fmt, ap);
        va_end(ap);
    }
}

static unsigned rnd(unsigned n) {
    g.rng = g.rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((g.rng >> 33) % n);
}

static void log_append(conn_log *l, const char *p, size_t n) {
    if (l->len + n > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        while (cap < l->len + n) cap *= 2;
        char *b = realloc(l->bytes, cap);
        if (b == NULL) {
            failf("out of memory in the test");
            return;
        }
        l->bytes = b;
        l->cap = cap;
    }
    memcpy(l->bytes + l->len, p, n);
    l->len += n;
}

static int random_op(int from_callback);

static void trace_cb(smtpc_trace_kind kind, const char *data, size_t len, int64_t t, void *ud) {
    (void)t, (void)ud;
    if (kind == SMTPC_TRACE_SEND || kind == SMTPC_TRACE_DATA) {
        if (!smtpc_client_is_connected(g.c)) g.sent_while_closed++;
        if (g.nconn > 0 && g.nconn <= MAX_CONNECTIONS) {
            conn_log *l = &g.conns[g.nconn - 1];
            if (kind == SMTPC_TRACE_SEND) l->last_send = l->len;
            log_append(l, data, len);
        }
    }
    if (rnd(8) == 0) random_op(1);
}

static int read_cb(char *buf, size_t cap, size_t *len, void *ud) {
    int *blocks = ud;
    if (rnd(3) == 0) random_op(1);
    if ((*blocks)++ >= 3 || cap < 16) {
        *len = 0;
        return 0;
    }
    memcpy(buf, "line\r\n.dot\r\n", 12);
    *len = 12;
    return rnd(40) == 0; /* now and then the callback aborts */
}

static int auth_cb(const char *ch, size_t chlen, int initial, smtpc_auth_response *resp, void *ud) {
    (void)ch, (void)chlen, (void)initial, (void)ud;
    random_op(1);
    return smtpc_auth_response_set(resp, "x", SMTPC_NTS) == SMTPC_OK ? 0 : 1;
}

static int token_cb(smtpc_auth_response *tok, void *ud) {
    (void)ud;
    random_op(1);
    return smtpc_auth_response_set(tok, "tok", SMTPC_NTS) == SMTPC_OK ? 0 : 1;
}

static int closes(smtpc_status st) {
    return st == SMTPC_ENOMEM || st == SMTPC_EINTERNAL || st == SMTPC_ETIMEOUT || st == SMTPC_EIO ||
           st == SMTPC_EDISCONNECTED || st == SMTPC_EPROTOCOL || st == SMTPC_EGREETING ||
           st == SMTPC_ECLOSING || st == SMTPC_ETLS || st == SMTPC_ETLS_VERIFY || st == SMTPC_ETLS_REQUIRED ||
           st == SMTPC_ENOTCONN || st == SMTPC_EDELIVERY_UNKNOWN;
}

static void new_client(void) {
    g.c = itest_client(SMTPC_PROTOCOL_SMTP, "random.test");
    if (smtpc_client_set_trace(g.c, 1, trace_cb, NULL) != SMTPC_OK) failf("set_trace failed");
    g.connected_model = 0;
}

#define MSG "From: s@example.org\r\nTo: r@example.org\r\n\r\nbody\r\n.dot\r\n"

/* One random call. From a callback it must be refused (or deferred: close, free). */
static int random_op(int from_callback) {
    smtpc_client *c = g.c;
    if (from_callback) {
        if (g.depth == 0) return 0; /* a trace outside any call (there is none): ignore */
        g.callback_calls++;
    } else {
        g.calls++;
    }
    int was_connected = smtpc_client_is_connected(c);
    smtpc_status last_before = smtpc_client_last_status(c);
    unsigned op = rnd(34);
    if (from_callback && (op == 0 || op == 1) && rnd(4) != 0) op = 2; /* fewer closes and frees */
    if (!from_callback && op == 1 && rnd(3) != 0) op = 2;             /* fewer frees */
    if (!from_callback && !was_connected && rnd(3) != 0) op = 3;      /* mostly reconnect */
    int is_status = 1, is_connect = 0;
    smtpc_status st = SMTPC_OK;
    int blocks = 0;
    g.depth++;
    switch (op) {
    case 0:
        is_status = 0;
        smtpc_client_close(c);
        if (from_callback) g.close_requested = 1;
        break;
    case 1:
        is_status = 0;
        smtpc_client_free(c);
        if (from_callback) g.free_requested = 1;
        else g.c = NULL;
        break;
    case 2: st = smtpc_client_noop(c); break;
    case 3:
    case 4:
        is_connect = 1;
        st = itest_connect(c, &g.srv);
        break;
    case 5: st = smtpc_client_quit(c); break;
    case 6: st = smtpc_client_rset(c); break;
    case 7: st = smtpc_client_ehlo(c, NULL, 0); break;
    case 8: st = smtpc_client_helo(c, "h.test", SMTPC_NTS); break;
    case 9: st = smtpc_client_ehlo_or_helo_if_needed(c); break;
    case 10: st = smtpc_client_docmd(c, "XFOO", SMTPC_NTS, "bar", SMTPC_NTS); break;
    case 11: st = smtpc_client_vrfy(c, "r@example.org", SMTPC_NTS); break;
    case 12: st = smtpc_client_help(c, NULL, 0); break;
    case 13:
        st = smtpc_client_mail(c, rnd(2) ? "s@example.org" : "refuse@example.org", SMTPC_NTS, NULL, 0);
        break;
    case 14:
        st = smtpc_client_rcpt(c, rnd(2) ? "r@example.org" : "reject@example.org", SMTPC_NTS, NULL, 0);
        break;
    case 15: st = smtpc_client_data(c, MSG, SMTPC_NTS); break;
    case 16:
    case 17: st = smtpc_client_sendmail(c, g.env, MSG, SMTPC_NTS); break;
    case 18: st = smtpc_client_sendmail_stream(c, g.env, 0, read_cb, &blocks); break;
    case 19: st = smtpc_client_send_message(c, NULL, MSG, SMTPC_NTS); break;
    case 20: st = smtpc_client_login(c, "user", SMTPC_NTS, rnd(2) ? "pass" : "wrong", SMTPC_NTS); break;
    case 21:
        st = smtpc_client_auth_password(c, rnd(2) ? "LOGIN" : "PLAIN", SMTPC_NTS, "user", SMTPC_NTS, "pass",
                                        SMTPC_NTS, (int)rnd(2));
        break;
    case 22: st = smtpc_client_auth(c, "LOGIN", SMTPC_NTS, (int)rnd(2), auth_cb, NULL); break;
    case 23:
        st = smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, "user", SMTPC_NTS, NULL, 0, token_cb, NULL);
        break;
    case 24: st = smtpc_client_starttls(c); break;
    case 25: st = smtpc_client_set_pipelining(c, (int)rnd(2)); break;
    case 26: st = smtpc_client_set_tls_policy(c, rnd(2) ? SMTPC_TLS_AUTO : SMTPC_TLS_NONE); break;
    case 27: st = smtpc_client_set_local_hostname(c, rnd(2) ? "random.test" : "bad name", SMTPC_NTS); break;
    case 28: st = smtpc_client_set_command_timeout(c, ITEST_COMMAND_TIMEOUT_MS); break;
    case 29: st = smtpc_client_expn(c, "list", SMTPC_NTS); break;
    case 30:
        st = smtpc_client_send_raw(c, "NOOP\r\n", SMTPC_NTS);
        if (st == SMTPC_OK && !g.free_requested && !from_callback) st = smtpc_client_read_reply(c);
        break;
    case 31: st = smtpc_client_mail(c, "bad\raddress", SMTPC_NTS, NULL, 0); break;
    case 32: st = smtpc_client_set_allow_insecure_auth(c, (int)rnd(2)); break;
    default: st = smtpc_client_set_trace(c, 1, trace_cb, NULL); break;
    }
    g.depth--;
    if (from_callback && !is_status) {
        if (smtpc_client_is_connected(c) != was_connected)
            failf("close/free from a callback acted at once (op %u)", op);
        return 0;
    }
    /* Back from an outer call: a free asked for by one of its callbacks has been done. */
    if (!from_callback && g.free_requested) {
        g.free_requested = g.close_requested = 0;
        g.c = NULL;
        return 0;
    }
    if (!is_status) {
        if (g.close_requested && g.c != NULL && smtpc_client_is_connected(c))
            failf("op %u: a close asked for from a callback was not done", op);
        g.close_requested = 0;
        return 0;
    }
    if (st <= 0 && -st < 32) g.status_seen[-st]++;
    if (strcmp(smtpc_status_name(st), "SMTPC_UNKNOWN") == 0)
        failf("op %u returned an unknown status %d", op, st);
    if (from_callback) {
        if (st != SMTPC_ESTATE) failf("op %u from a callback returned %s", op, smtpc_status_name(st));
        if (smtpc_client_is_connected(c) != was_connected)
            failf("op %u from a callback changed the connection", op);
        if (smtpc_client_last_status(c) != last_before)
            failf("op %u from a callback changed the last status", op);
        return 0;
    }
    if (smtpc_client_last_status(c) != st)
        failf("op %u returned %s but last_status is %s", op, smtpc_status_name(st),
              smtpc_status_name(smtpc_client_last_status(c)));
    if (g.close_requested) {
        g.close_requested = 0;
        if (smtpc_client_is_connected(c)) failf("op %u: a close asked for from a callback was not done", op);
    }
    if (!was_connected && !is_connect && st != SMTPC_OK && st != SMTPC_ENOTCONN && st != SMTPC_EINVAL)
        failf("op %u on a closed client returned %s", op, smtpc_status_name(st));
    if (st != SMTPC_OK && closes(st) && smtpc_client_is_connected(c))
        failf("op %u returned %s and the client is still connected", op, smtpc_status_name(st));
    return 0;
}

static void test_random_sequences(void **state) {
    (void)state;
    const char *extra[] = {"--auth", "user:pass", "--auth-plaintext", NULL};
    if (itest_start_aiosmtpd(&g.srv, 0, extra) != 0) fail_msg("aiosmtpd did not start");
    unsigned long long seed = 20261202;
    long steps = 3000;
    if (getenv("SMTPC_RANDOM_SEED")) seed = strtoull(getenv("SMTPC_RANDOM_SEED"), NULL, 10);
    if (getenv("SMTPC_RANDOM_STEPS")) steps = atol(getenv("SMTPC_RANDOM_STEPS"));
    g.rng = seed;
    assert_int_equal(smtpc_envelope_new(&g.env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(g.env, "s@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient(g.env, "r@example.org", SMTPC_NTS), SMTPC_OK);
    new_client();
    for (long i = 0; i < steps && g.srv.connections < MAX_CONNECTIONS; i++) {
        if (g.c == NULL) new_client();
        g.nconn = (int)g.srv.connections; /* the trace of a connect is logged once it is counted */
        size_t before = g.srv.connections;
        random_op(0);
        /* itest_connect counted a new connection: what was traced during connect belongs to it. */
        g.nconn = (int)g.srv.connections;
        (void)before;
    }
    if (g.c != NULL) smtpc_client_free(g.c);
    g.c = NULL;
    smtpc_envelope_free(g.env);

    /* Each connection's bytes on the server side are the traced ones. */
    size_t compared = 0;
    for (size_t k = 0; k < g.srv.connections && k < MAX_CONNECTIONS; k++) {
        char *raw = NULL;
        size_t len = 0;
        if (itest_load_session(&g.srv, k, 10000, &raw, &len) != 0) {
            failf("no session record for connection %zu", k);
            continue;
        }
        const conn_log *l = &g.conns[k];
        /* Match, with "****" in the trace standing for any text up to the end of the line. */
        size_t i = 0, j = 0;
        int ok = 1;
        while (i < l->len && j < len && ok) {
            if (l->len - i >= 4 && memcmp(l->bytes + i, "****", 4) == 0) {
                i += 4;
                while (j < len && raw[j] != '\r') j++;
            } else if (j < len && raw[j] == l->bytes[i]) {
                i++, j++;
            } else {
                ok = 0;
            }
        }
        /* The end of what the trace shows may be missing, never anything else: the last command, written
         * as the server went away, or message blocks traced as they were queued when a callback then
         * aborted the transaction. */
        if (ok && j == len && i < l->len) {
            ok = i >= l->last_send;
            g.lost_lines++;
        }
        if (!ok || j != len) {
            itest_dump("server received", raw, len);
            itest_dump("trace says sent", l->bytes, l->len);
            failf("connection %zu: the server received other bytes than the trace reports (trace byte %zu, "
                  "server byte %zu: \"%.40s\")",
                  k, i, j, raw + (j < len ? j : len));
        }
        compared++;
        free(raw);
    }
    fprintf(stderr,
            "seed %llu: %ld calls, %ld from callbacks, %zu connections compared byte for byte (%d without "
            "the end of their trace: a command the server was gone for, or blocks of an aborted message)\n",
            seed, g.calls, g.callback_calls, compared, g.lost_lines);
    fprintf(stderr, "statuses:");
    for (int s = 0; s < 32; s++)
        if (g.status_seen[s]) fprintf(stderr, " %s=%ld", smtpc_status_name(-s), g.status_seen[s]);
    fprintf(stderr, "\n");
    for (int k = 0; k < MAX_CONNECTIONS; k++) free(g.conns[k].bytes);
    itest_stop(&g.srv);
    if (g.sent_while_closed)
        failf("%d trace event(s) of bytes sent while not connected", g.sent_while_closed);
    if (g.failures) fail_msg("%ld invariant(s) broken; first: %s", g.failures, g.first);
    assert_true(g.callback_calls > 50);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_random_sequences)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
