/* SPDX-License-Identifier: MIT */
/*
 * Non-blocking mode over TLS: several clients from one epoll loop, each with TLS required: connect,
 * EHLO then STARTTLS and EHLO again (ehlo_or_helo_if_needed), AUTH PLAIN over TLS, sendmail, QUIT,
 * against aiosmtpd with the test PKI. The handshake runs in steps (OpenSSL's WANT_READ/WANT_WRITE
 * as the events wanted); every message arrives over STARTTLS, byte for byte, with a verified
 * certificate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nb_loop.h"
#include "tls_common.h"

#define N_CLIENTS 6
#define LIMIT_MS 30000

static itest_server g_srv;
static const char k_body[] = "Subject: over TLS\r\n\r\nsent from an epoll loop\r\n";

static int group_setup(void **state) {
    (void)state;
    if (tls_pki_setup() != 0) return -1;
    static const char *const extra[] = {"--auth", "user:secret", NULL};
    return tls_start_aiosmtpd(&g_srv, "server", extra);
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_srv);
    tls_pki_teardown();
    return 0;
}

enum { OP_CONNECT, OP_HELLO, OP_AUTH, OP_SENDMAIL, OP_QUIT, OP_DONE };

typedef struct tls_session {
    nb_slot slot;
    smtpc_envelope *env;
    int op;
    int tls_steps; /* steps made while the handshake ran */
    char why[256];
} tls_session;

static smtpc_status start_op(tls_session *s) {
    smtpc_client *c = s->slot.c;
    switch (s->op) {
    case OP_CONNECT: return smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)g_srv.proc.port);
    case OP_HELLO: return smtpc_client_ehlo_or_helo_if_needed(c);
    case OP_AUTH:
        return smtpc_client_auth_password(c, "PLAIN", SMTPC_NTS, "user", SMTPC_NTS, "secret", SMTPC_NTS, 1);
    case OP_SENDMAIL: return smtpc_client_sendmail(c, s->env, k_body, sizeof k_body - 1);
    default: return smtpc_client_quit(c);
    }
}

static void advance(int ep, tls_session *s) {
    while (s->op != OP_DONE && !s->slot.busy) {
        smtpc_status st = start_op(s);
        nb_started(ep, &s->slot, st);
        if (s->slot.busy) return;
        if (st != SMTPC_OK) {
            snprintf(s->why, sizeof s->why, "operation %d: %s (%s)", s->op, smtpc_status_name(st),
                     smtpc_client_errmsg(s->slot.c));
            s->op = OP_DONE;
            return;
        }
        if (s->op == OP_HELLO) {
            if (!smtpc_client_tls_active(s->slot.c) || !smtpc_client_tls_verified(s->slot.c))
                snprintf(s->why, sizeof s->why, "not over verified TLS after EHLO");
        }
        s->op++;
    }
}

static void test_starttls_many_clients(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_srv);
    static tls_session s[N_CLIENTS];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    assert_true(ep >= 0);
    for (int i = 0; i < N_CLIENTS; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].slot.fd = -1;
        s[i].slot.c = tls_client(SMTPC_TLS_REQUIRED, 1);
        assert_int_equal(smtpc_client_set_nonblocking(s[i].slot.c, 1), SMTPC_OK);
        s[i].env = tls_envelope(NULL);
        advance(ep, &s[i]);
    }
    int64_t end = nb_now_ms() + LIMIT_MS;
    for (;;) {
        int open = 0;
        for (int i = 0; i < N_CLIENTS; i++) open += s[i].op != OP_DONE;
        if (!open || nb_now_ms() > end) break;
        struct epoll_event evs[N_CLIENTS];
        int got = epoll_wait(ep, evs, N_CLIENTS, 100);
        for (int k = 0; k < got; k++) {
            tls_session *x = evs[k].data.ptr; /* the slot is the session's first member */
            if (x->op == OP_HELLO) x->tls_steps++;
            nb_step(ep, &x->slot);
        }
        for (int i = 0; i < N_CLIENTS; i++) {
            tls_session *x = &s[i];
            if (x->slot.busy) {
                int64_t d = smtpc_client_deadline_ms(x->slot.c);
                if (d >= 0 && d <= nb_now_ms()) nb_step(ep, &x->slot);
            }
            if (!x->slot.busy && x->op != OP_DONE) {
                smtpc_status st = x->slot.last;
                if (st != SMTPC_OK) {
                    snprintf(x->why, sizeof x->why, "operation %d: %s (%s)", x->op, smtpc_status_name(st),
                             smtpc_client_errmsg(x->slot.c));
                    x->op = OP_DONE;
                    continue;
                }
                if (x->op == OP_HELLO &&
                    (!smtpc_client_tls_active(x->slot.c) || !smtpc_client_tls_verified(x->slot.c)))
                    snprintf(x->why, sizeof x->why, "not over verified TLS after EHLO");
                x->op++;
                advance(ep, x);
            }
        }
    }
    close(ep);
    int stepped = 0;
    for (int i = 0; i < N_CLIENTS; i++) {
        if (s[i].op != OP_DONE) fail_msg("client %d did not finish (operation %d)", i, s[i].op);
        if (s[i].why[0]) fail_msg("client %d: %s", i, s[i].why);
        stepped += s[i].tls_steps > 1; /* EHLO, STARTTLS, the handshake's flights, EHLO again */
        smtpc_envelope_free(s[i].env);
        smtpc_client_free(s[i].slot.c);
    }
    assert_true(stepped > 0);
    for (size_t i = 0; i < N_CLIENTS; i++) {
        char *mode = tls_msg_text(&g_srv, before + i, "tls", NULL);
        assert_string_equal(mode, "starttls");
        free(mode);
        itest_msg m;
        assert_int_equal(itest_load_msg(&g_srv, before + i, 10000, &m), 0);
        ITEST_ASSERT_BYTES(m.content, m.content_len, k_body, sizeof k_body - 1);
        itest_msg_free(&m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starttls_many_clients),
    };
    return cmocka_run_group_tests_name("nonblocking_tls", tests, group_setup, group_teardown);
}
