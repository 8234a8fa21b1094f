/* SPDX-License-Identifier: MIT */
/*
 * multi_send: sends a set of messages over N concurrent connections from one thread, with an epoll
 * loop driving smtpc clients in non-blocking mode, and prints each message's result.
 *
 *   multi_send HOST PORT CONNECTIONS COUNT [FROM TO]
 *
 * Each connection connects, queues its share of the COUNT messages (smtpc_client_enqueue), takes
 * their results in order (smtpc_client_next_result) and quits. A connection that fails reports its
 * messages not sent. Exit status 0 when every message was delivered, 1 otherwise, 2 for bad usage.
 *
 * The pattern for any loop: start an operation; SMTPC_EAGAIN means "in progress": watch
 * smtpc_client_fd() for smtpc_client_wants() until smtpc_client_deadline_ms(), call
 * smtpc_client_step() when it is ready or the deadline passed, and re-register the descriptor after
 * every step (it may change). Any other status is the operation's result.
 */
#include <smtpc.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

enum stage { CONNECTING, ENQUEUING, RESULTS, QUITTING, FINISHED };

typedef struct conn {
    smtpc_client *client;
    enum stage stage;
    int busy;         /* the operation in progress returned SMTPC_EAGAIN */
    int fd;           /* registered with epoll, -1 when none */
    int first, count; /* its messages: numbers first .. first+count-1 */
    int queued, taken;
} conn;

static const char *g_host, *g_from = "sender@example.com", *g_to = "rcpt@example.org";
static int g_port, g_delivered, g_failed;
static smtpc_envelope *g_env;
static char (*g_bodies)[160];

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Watch the client's descriptor for what it wants (MOD, else ADD: the library may have closed the
 * descriptor and opened another with the same number, which epoll then no longer knows). */
static void watch(int ep, conn *c) {
    int fd = c->busy ? smtpc_client_fd(c->client) : -1;
    int w = c->busy ? smtpc_client_wants(c->client) : 0;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = ((w & SMTPC_WANT_READ) ? EPOLLIN : 0) | ((w & SMTPC_WANT_WRITE) ? EPOLLOUT : 0);
    ev.data.ptr = c;
    if (c->fd >= 0 && (fd != c->fd || !ev.events)) epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (fd < 0 || !ev.events) {
        c->fd = -1;
        return;
    }
    int rc = fd == c->fd ? epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) : -1;
    if (rc != 0) rc = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    c->fd = rc == 0 ? fd : -1;
}

static void report(int number, const char *what, smtpc_status st, const char *text) {
    printf("message %d: %s (%s%s%s)\n", number, what, smtpc_status_name(st), text && *text ? ": " : "",
           text ? text : "");
}

/* The connection failed: its messages without a result are not sent. */
static void give_up(conn *c, smtpc_status st) {
    for (int i = c->taken; i < c->count; i++) {
        report(c->first + i, "not sent", st, smtpc_client_errmsg(c->client));
        g_failed++;
    }
    c->taken = c->count;
    smtpc_client_close(c->client);
    c->stage = FINISHED;
}

/* Starts the connection's next operations until one is in progress (or it is finished). */
static void advance(int ep, conn *c, smtpc_status st) {
    for (;;) {
        if (st == SMTPC_EAGAIN) {
            c->busy = 1;
            watch(ep, c);
            return;
        }
        c->busy = 0;
        watch(ep, c);
        if (c->stage == QUITTING || c->stage == FINISHED) {
            c->stage = FINISHED;
            return;
        }
        if (st != SMTPC_OK) {
            give_up(c, st);
            return;
        }
        if (c->stage == CONNECTING) c->stage = c->count ? ENQUEUING : QUITTING;
        if (c->stage == ENQUEUING && c->queued == c->count) c->stage = RESULTS;
        if (c->stage == ENQUEUING) {
            smtpc_message *m = NULL;
            int n = c->first + c->queued;
            if (smtpc_message_new(&m) != SMTPC_OK || smtpc_message_set_envelope(m, g_env) != SMTPC_OK ||
                smtpc_message_set_body(m, g_bodies[n], SMTPC_NTS) != SMTPC_OK ||
                smtpc_message_set_tag(m, (uint64_t)n) != SMTPC_OK) {
                smtpc_message_free(m);
                give_up(c, SMTPC_ENOMEM);
                return;
            }
            st = smtpc_client_enqueue(c->client, m); /* copies what it needs; the body is borrowed */
            smtpc_message_free(m);
            if (st == SMTPC_OK || st == SMTPC_EAGAIN) c->queued++;
            continue;
        }
        if (c->stage == RESULTS && c->taken < c->count) {
            smtpc_message_result *r = NULL;
            st = smtpc_client_next_result(c->client, &r);
            if (st == SMTPC_OK && r) { /* SMTPC_EAGAIN: asked again once the step says SMTPC_OK */
                int n = (int)smtpc_message_result_tag(r);
                int ok = smtpc_message_result_state(r) == SMTPC_MESSAGE_DELIVERED;
                report(n, ok ? "delivered" : "failed", smtpc_message_result_status(r),
                       smtpc_message_result_errmsg(r, NULL));
                ok ? g_delivered++ : g_failed++;
                smtpc_message_result_free(r);
                c->taken++;
            }
            continue;
        }
        c->stage = QUITTING;
        st = smtpc_client_quit(c->client);
    }
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 7) {
        fprintf(stderr, "usage: %s HOST PORT CONNECTIONS COUNT [FROM TO]\n", argv[0]);
        return 2;
    }
    g_host = argv[1];
    g_port = atoi(argv[2]);
    int nconn = atoi(argv[3]), count = atoi(argv[4]);
    if (argc == 7) {
        g_from = argv[5];
        g_to = argv[6];
    }
    if (g_port <= 0 || g_port > 65535 || nconn <= 0 || nconn > 10000 || count < 0 || count > 1000000) {
        fprintf(stderr, "%s: bad port, connection count or message count\n", argv[0]);
        return 2;
    }
    g_bodies = calloc((size_t)count + 1, sizeof *g_bodies);
    conn *conns = calloc((size_t)nconn, sizeof *conns);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!g_bodies || !conns || ep < 0 || smtpc_envelope_new(&g_env) != SMTPC_OK ||
        smtpc_envelope_set_sender(g_env, g_from, SMTPC_NTS) != SMTPC_OK ||
        smtpc_envelope_add_recipient(g_env, g_to, SMTPC_NTS) != SMTPC_OK) {
        fprintf(stderr, "%s: set-up failed (bad address?)\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < count; i++)
        snprintf(g_bodies[i], sizeof g_bodies[i], "Subject: message %d\r\nX-Number: %d\r\n\r\nmessage %d\r\n",
                 i, i, i);

    for (int i = 0, next = 0; i < nconn; i++) {
        conn *c = &conns[i];
        c->fd = -1;
        c->first = next;
        c->count = count / nconn + (i < count % nconn);
        next += c->count;
        if (smtpc_client_new(&c->client, SMTPC_PROTOCOL_SMTP) != SMTPC_OK ||
            smtpc_client_set_nonblocking(c->client, 1) != SMTPC_OK) {
            fprintf(stderr, "%s: cannot create a client\n", argv[0]);
            return 2;
        }
        advance(ep, c, smtpc_client_connect(c->client, g_host, SMTPC_NTS, (uint16_t)g_port));
    }

    for (;;) {
        int busy = 0, timeout = -1;
        int64_t now = now_ms();
        for (int i = 0; i < nconn; i++) {
            if (!conns[i].busy) continue;
            busy++;
            int64_t d = smtpc_client_deadline_ms(conns[i].client);
            if (d >= 0 && (timeout < 0 || d - now < timeout)) timeout = d - now < 0 ? 0 : (int)(d - now);
        }
        if (!busy) break;
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (c->busy) advance(ep, c, smtpc_client_step(c->client));
        }
        /* A deadline that passed: the step ends the operation with SMTPC_ETIMEOUT. */
        now = now_ms();
        for (int i = 0; i < nconn; i++) {
            int64_t d = conns[i].busy ? smtpc_client_deadline_ms(conns[i].client) : -1;
            if (d >= 0 && d <= now) advance(ep, &conns[i], smtpc_client_step(conns[i].client));
        }
    }
    for (int i = 0; i < nconn; i++) smtpc_client_free(conns[i].client);
    smtpc_envelope_free(g_env);
    free(conns);
    free(g_bodies);
    close(ep);
    printf("%d delivered, %d failed\n", g_delivered, g_failed);
    return g_failed == 0 && g_delivered == count ? 0 : 1;
}
