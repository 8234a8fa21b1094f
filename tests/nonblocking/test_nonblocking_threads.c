/* SPDX-License-Identifier: MIT */
/*
 * Thread safety of non-blocking mode (issue 12), meant to run under ThreadSanitizer
 * (scripts/tsan.sh) as well as in the ordinary builds:
 *  - several threads, each with its own epoll loop driving several clients against one aiosmtpd
 *    (STARTTLS required, then a message and QUIT, two rounds): every client of a thread shares one
 *    smtpc_tls_config with the clients of the other threads (its OpenSSL context and its session
 *    cache: the second round resumes sessions saved by any thread), and one client per thread has
 *    no configuration, so that the process-wide default one (and its system trust store, loaded at
 *    the first handshake that needs it) is set up by whichever thread gets there first;
 *  - the clients are made on the main thread and freed on the threads that drove them;
 *  - smtpc_client_cancel() from another thread while a loop steps the client;
 *  - clients freed on several threads while the resolver helper thread is still resolving
 *    "localhost" for them.
 * Every message is checked in the server's spool, byte for byte.
 */
#include "fault_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nb_loop.h"
#include "tls_common.h"

#define N_THREADS 3
#define N_CLIENTS 3 /* per thread; the last one without a TLS configuration */
#define N_ROUNDS 2
#define LIMIT_MS 60000 /* per round; ThreadSanitizer makes everything several times slower */

static itest_server g_srv;
static smtpc_tls_config *g_cfg; /* shared by every thread's clients but one per thread */

static int group_setup(void **state) {
    (void)state;
    if (tls_pki_setup() != 0) return -1;
    if (tls_start_aiosmtpd(&g_srv, "server", NULL) != 0) return -1;
    if (smtpc_tls_config_new(&g_cfg) != SMTPC_OK) return -1;
    if (smtpc_tls_config_set_ca_file(g_cfg, tls_pki("ca.pem"), SMTPC_NTS) != SMTPC_OK) return -1;
    return smtpc_tls_config_set_session_resumption(g_cfg, 1) == SMTPC_OK ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    smtpc_tls_config_free(g_cfg);
    itest_stop(&g_srv);
    tls_pki_teardown();
    return 0;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------------------------------------- */
/* Loops in threads                                                                               */
/* ---------------------------------------------------------------------------------------------- */

enum { OP_CONNECT, OP_HELLO, OP_SENDMAIL, OP_QUIT, OP_DONE };

typedef struct session {
    nb_slot slot; /* first: epoll's data.ptr is the session */
    smtpc_envelope *env;
    char body[96];
    int op;
    int round;
    int resumed;
    int verified;
    char why[300];
} session;

typedef struct worker {
    int index;
    session s[N_CLIENTS];
    int resumed; /* second-round handshakes that resumed a session */
    char why[400];
} worker;

static smtpc_status start_op(session *x) {
    smtpc_client *c = x->slot.c;
    switch (x->op) {
    case OP_CONNECT: return smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)g_srv.proc.port);
    case OP_HELLO: return smtpc_client_ehlo_or_helo_if_needed(c);
    case OP_SENDMAIL: return smtpc_client_sendmail(c, x->env, x->body, SMTPC_NTS);
    default: return smtpc_client_quit(c);
    }
}

/* The session's operation ended with `st`: checks it, then starts the next ones until one is in
 * progress or the session ends. */
static void finished(int ep, session *x, smtpc_status st) {
    for (;;) {
        if (st != SMTPC_OK) {
            snprintf(x->why, sizeof x->why, "round %d, operation %d: %s (%s)", x->round, x->op,
                     smtpc_status_name(st), smtpc_client_errmsg(x->slot.c));
            x->op = OP_DONE;
            return;
        }
        if (x->op == OP_HELLO) {
            if (!smtpc_client_tls_active(x->slot.c)) snprintf(x->why, sizeof x->why, "not over TLS");
            x->resumed = smtpc_client_tls_resumed(x->slot.c);
            x->verified = smtpc_client_tls_verified(x->slot.c);
        }
        if (++x->op == OP_DONE) return;
        st = start_op(x);
        nb_started(ep, &x->slot, st);
        if (x->slot.busy) return;
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    for (int round = 0; round < N_ROUNDS && !w->why[0]; round++) {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        for (int i = 0; i < N_CLIENTS; i++) {
            session *x = &w->s[i];
            x->op = OP_CONNECT;
            x->round = round;
            x->slot.fd = -1;
            x->slot.last = SMTPC_OK;
            snprintf(x->body, sizeof x->body, "Subject: thread %d client %d round %d\r\n\r\nbody\r\n",
                     w->index, i, round);
            smtpc_status st = start_op(x);
            nb_started(ep, &x->slot, st);
            if (!x->slot.busy) finished(ep, x, st);
        }
        int64_t end = nb_now_ms() + LIMIT_MS;
        for (;;) {
            int open = 0;
            for (int i = 0; i < N_CLIENTS; i++) open += w->s[i].op != OP_DONE;
            if (!open || nb_now_ms() > end) break;
            struct epoll_event evs[N_CLIENTS];
            int got = epoll_wait(ep, evs, N_CLIENTS, 50);
            for (int k = 0; k < got; k++) nb_step(ep, &((session *)evs[k].data.ptr)->slot);
            for (int i = 0; i < N_CLIENTS; i++) {
                session *x = &w->s[i];
                if (x->slot.busy) {
                    int64_t d = smtpc_client_deadline_ms(x->slot.c);
                    if (d >= 0 && d <= nb_now_ms()) nb_step(ep, &x->slot);
                }
                if (!x->slot.busy && x->op != OP_DONE) finished(ep, x, x->slot.last);
            }
        }
        close(ep);
        for (int i = 0; i < N_CLIENTS; i++) {
            session *x = &w->s[i];
            if (x->op != OP_DONE && !w->why[0])
                snprintf(w->why, sizeof w->why, "client %d, round %d: did not finish (operation %d)", i,
                         round, x->op);
            if (x->why[0] && !w->why[0]) snprintf(w->why, sizeof w->why, "client %d: %s", i, x->why);
            if (round == 1 && i < N_CLIENTS - 1) w->resumed += x->resumed;
            if (i < N_CLIENTS - 1 && !x->verified && !w->why[0])
                snprintf(w->why, sizeof w->why, "client %d, round %d: not verified", i, round);
        }
    }
    /* Freed here, on the thread that drove them; made on the main thread. */
    for (int i = 0; i < N_CLIENTS; i++) {
        smtpc_client_free(w->s[i].slot.c);
        smtpc_envelope_free(w->s[i].env);
        w->s[i].slot.c = NULL;
        w->s[i].env = NULL;
    }
    return NULL;
}

static void test_loops_in_threads(void **state) {
    (void)state;
    size_t before = itest_msg_count(&g_srv);
    static worker w[N_THREADS];
    pthread_t th[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t].index = t;
        for (int i = 0; i < N_CLIENTS; i++) {
            smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, TLS_CLIENT_NAME);
            assert_non_null(c);
            if (i < N_CLIENTS - 1) {
                assert_int_equal(smtpc_client_set_tls_config(c, g_cfg), SMTPC_OK);
                assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_REQUIRED), SMTPC_OK);
            } else {
                /* The process-wide default configuration: the system trust store does not know the
                 * test CA, so the session goes on encrypted and unverified. */
                assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_OPPORTUNISTIC), SMTPC_OK);
            }
            assert_int_equal(smtpc_client_set_nonblocking(c, 1), SMTPC_OK);
            w[t].s[i].slot.c = c;
            w[t].s[i].env = tls_envelope(NULL);
        }
    }
    for (int t = 0; t < N_THREADS; t++) assert_int_equal(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
    int resumed = 0;
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(th[t], NULL);
        if (w[t].why[0]) fail_msg("thread %d: %s", t, w[t].why);
        resumed += w[t].resumed;
    }
    /* The second round resumed sessions the first one saved, whichever thread saved them. */
    if (resumed == 0) fail_msg("no second-round handshake resumed a session");
    size_t total = (size_t)N_THREADS * N_CLIENTS * N_ROUNDS;
    int seen[N_THREADS][N_CLIENTS][N_ROUNDS];
    memset(seen, 0, sizeof seen);
    for (size_t k = 0; k < total; k++) {
        itest_msg m;
        assert_int_equal(itest_load_msg(&g_srv, before + k, 20000, &m), 0);
        int t = -1, i = -1, r = -1;
        char want[96];
        if (sscanf(m.content, "Subject: thread %d client %d round %d", &t, &i, &r) != 3 || t < 0 ||
            t >= N_THREADS || i < 0 || i >= N_CLIENTS || r < 0 || r >= N_ROUNDS)
            fail_msg("unexpected message %.80s", m.content);
        snprintf(want, sizeof want, "Subject: thread %d client %d round %d\r\n\r\nbody\r\n", t, i, r);
        ITEST_ASSERT_BYTES(m.content, m.content_len, want, strlen(want));
        seen[t][i][r]++;
        itest_msg_free(&m);
    }
    for (int t = 0; t < N_THREADS; t++)
        for (int i = 0; i < N_CLIENTS; i++)
            for (int r = 0; r < N_ROUNDS; r++)
                if (seen[t][i][r] != 1)
                    fail_msg("thread %d client %d round %d: %d messages", t, i, r, seen[t][i][r]);
    assert_int_equal(itest_msg_count(&g_srv), before + total);
}

/* ---------------------------------------------------------------------------------------------- */
/* First handshakes of a configuration at once                                                    */
/* ---------------------------------------------------------------------------------------------- */

#define N_CONFIGS 6
#define N_AT_ONCE 3

typedef struct first_use {
    smtpc_tls_config *cfg;
    pthread_barrier_t *barrier;
    char why[300];
} first_use;

/* One client with the configuration, released together with the others at the barrier: connect,
 * STARTTLS (ehlo_or_helo_if_needed under REQUIRED), QUIT, through its own loop. */
static void *first_use_main(void *arg) {
    first_use *u = arg;
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, TLS_CLIENT_NAME);
    if (!c || smtpc_client_set_tls_config(c, u->cfg) != SMTPC_OK ||
        smtpc_client_set_tls_policy(c, SMTPC_TLS_REQUIRED) != SMTPC_OK ||
        smtpc_client_set_nonblocking(c, 1) != SMTPC_OK) {
        snprintf(u->why, sizeof u->why, "client set-up failed");
        pthread_barrier_wait(u->barrier);
        smtpc_client_free(c);
        return NULL;
    }
    pthread_barrier_wait(u->barrier);
    nb_slot s = {c, 0, SMTPC_OK, -1, 0, 0};
    smtpc_status st =
        nb_finish(&s, smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)g_srv.proc.port), LIMIT_MS);
    if (st == SMTPC_OK) st = nb_finish(&s, smtpc_client_ehlo_or_helo_if_needed(c), LIMIT_MS);
    if (st == SMTPC_OK && !smtpc_client_tls_verified(c)) snprintf(u->why, sizeof u->why, "not verified");
    if (st == SMTPC_OK) st = nb_finish(&s, smtpc_client_quit(c), LIMIT_MS);
    if (st != SMTPC_OK)
        snprintf(u->why, sizeof u->why, "%s (%s)", smtpc_status_name(st), smtpc_client_errmsg(c));
    smtpc_client_free(c);
    return NULL;
}

/* A configuration's first handshakes are where it is frozen and its trust anchors first used (OpenSSL
 * caches each certificate's extensions on first use): several at once on several threads, for
 * several fresh configurations. */
static void test_first_handshakes_at_once(void **state) {
    (void)state;
    for (int k = 0; k < N_CONFIGS; k++) {
        smtpc_tls_config *cfg = NULL;
        assert_int_equal(smtpc_tls_config_new(&cfg), SMTPC_OK);
        assert_int_equal(smtpc_tls_config_set_ca_file(cfg, tls_pki("ca.pem"), SMTPC_NTS), SMTPC_OK);
        pthread_barrier_t barrier;
        assert_int_equal(pthread_barrier_init(&barrier, NULL, N_AT_ONCE), 0);
        first_use u[N_AT_ONCE];
        pthread_t th[N_AT_ONCE];
        for (int i = 0; i < N_AT_ONCE; i++) {
            memset(&u[i], 0, sizeof u[i]);
            u[i].cfg = cfg;
            u[i].barrier = &barrier;
            assert_int_equal(pthread_create(&th[i], NULL, first_use_main, &u[i]), 0);
        }
        for (int i = 0; i < N_AT_ONCE; i++) pthread_join(th[i], NULL);
        pthread_barrier_destroy(&barrier);
        smtpc_tls_config_free(cfg);
        for (int i = 0; i < N_AT_ONCE; i++)
            if (u[i].why[0]) fail_msg("configuration %d, client %d: %s", k, i, u[i].why);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* smtpc_client_cancel() from another thread                                                      */
/* ---------------------------------------------------------------------------------------------- */

typedef struct cancel_run {
    fault_fixture *f;
    atomic_int waiting; /* the loop has MAIL waiting for its reply */
    smtpc_status st;
} cancel_run;

/* The loop: steps the client at every turn (early steps are allowed: they return SMTPC_EAGAIN), so
 * that a cancel is seen within a turn even though the server stays silent. */
static void *cancel_loop(void *arg) {
    cancel_run *r = arg;
    smtpc_client *c = r->f->client;
    nb_slot s = {c, 0, SMTPC_OK, -1, 0, 0};
    r->st = nb_finish(&s, fault_connect(r->f), 30000);
    if (r->st != SMTPC_OK) {
        atomic_store(&r->waiting, 1);
        return NULL;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    s.fd = -1;
    nb_started(ep, &s, smtpc_client_sendmail(c, r->f->env, "Subject: t\r\n\r\nx\r\n", SMTPC_NTS));
    int64_t end = nb_now_ms() + 30000;
    while (s.busy && nb_now_ms() < end) {
        struct epoll_event ev;
        epoll_wait(ep, &ev, 1, 20);
        nb_step(ep, &s);
    }
    if (s.fd >= 0 && s.fd == smtpc_client_fd(c)) epoll_ctl(ep, EPOLL_CTL_DEL, s.fd, NULL);
    close(ep);
    r->st = s.busy ? SMTPC_EAGAIN : s.last;
    atomic_store(&r->waiting, 1);
    return NULL;
}

/* On the loop's thread, inside a step: MAIL has gone out, its reply is what the loop waits for. */
static void trace_mail_sent(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us,
                            void *userdata) {
    (void)time_us;
    if (kind == SMTPC_TRACE_SEND && len >= 4 && memcmp(data, "MAIL", 4) == 0)
        atomic_store(&((cancel_run *)userdata)->waiting, 1);
}

static void test_cancel_from_another_thread(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO);
    sc_expect(f, "MAIL FROM:");
    sc_sleep(f, 5); /* no reply */
    sc_close(f);
    fault_start(f);
    fault_client(f, 10000, 10000);
    assert_int_equal(smtpc_client_set_nonblocking(f->client, 1), SMTPC_OK);
    fault_envelope(f, "r@example.org", NULL);
    cancel_run r = {f, 0, SMTPC_OK};
    assert_int_equal(smtpc_client_set_trace(f->client, 1, trace_mail_sent, &r), SMTPC_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_loop, &r), 0);
    int64_t end = nb_now_ms() + 30000;
    while (!atomic_load(&r.waiting) && nb_now_ms() < end) sleep_ms(5);
    sleep_ms(50); /* MAIL is on its way, its reply awaited */
    int64_t t0 = nb_now_ms();
    smtpc_client_cancel(f->client);
    pthread_join(th, NULL);
    ASSERT_STATUS(f, r.st, SMTPC_ECANCELLED);
    if (nb_now_ms() - t0 > 3000) fail_msg("the cancel took %lld ms", (long long)(nb_now_ms() - t0));
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    fault_finish(f, 10000);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org"));
}

/* ---------------------------------------------------------------------------------------------- */
/* The resolver helper thread outliving its client                                                */
/* ---------------------------------------------------------------------------------------------- */

#define N_FREERS 3
#define N_FREED 8

/* Each: a client connects to "localhost" (a name: the helper thread resolves it) and is freed at once,
 * before or after the resolution ended; then one that waits for it and connects. */
static void *free_while_resolving(void *arg) {
    int *failures = arg;
    for (int i = 0; i < N_FREED; i++) {
        smtpc_client *c = NULL;
        if (smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP) != SMTPC_OK ||
            smtpc_client_set_nonblocking(c, 1) != SMTPC_OK) {
            (*failures)++;
            smtpc_client_free(c);
            continue;
        }
        smtpc_status st = smtpc_client_connect(c, "localhost", SMTPC_NTS, (uint16_t)g_srv.proc.port);
        if (st != SMTPC_EAGAIN && st != SMTPC_OK) (*failures)++;
        if (i % 2) smtpc_client_cancel(c); /* a cancel racing the helper thread too */
        smtpc_client_free(c);
    }
    return NULL;
}

static void test_free_while_resolving(void **state) {
    (void)state;
    pthread_t th[N_FREERS];
    int failures[N_FREERS] = {0};
    for (int t = 0; t < N_FREERS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, free_while_resolving, &failures[t]), 0);
    for (int t = 0; t < N_FREERS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(failures[t], 0);
    }
    /* A client that waits for its resolution and connects: the helper threads of the freed ones
     * have nothing to do with it. */
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, TLS_CLIENT_NAME);
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_nonblocking(c, 1), SMTPC_OK);
    assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_NONE), SMTPC_OK);
    nb_slot s = {c, 0, SMTPC_OK, -1, 0, 0};
    TLS_ASSERT_STATUS(
        c,
        nb_finish(&s, smtpc_client_connect(c, "localhost", SMTPC_NTS, (uint16_t)g_srv.proc.port), LIMIT_MS),
        SMTPC_OK);
    TLS_ASSERT_STATUS(c, nb_finish(&s, smtpc_client_quit(c), LIMIT_MS), SMTPC_OK);
    smtpc_client_free(c);
    /* Let the detached helper threads end before the process does (not required; tidier reports). */
    sleep_ms(200);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loops_in_threads),
        cmocka_unit_test(test_first_handshakes_at_once),
        cmocka_unit_test_setup_teardown(test_cancel_from_another_thread, fault_setup, fault_teardown),
        cmocka_unit_test(test_free_while_resolving),
    };
    return cmocka_run_group_tests_name("nonblocking_threads", tests, group_setup, group_teardown);
}
