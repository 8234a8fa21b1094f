/* SPDX-License-Identifier: MIT */
/*
 * smtp_pool: the multi-session driver described in smtp_pool.h. C99 + Linux epoll; public API only.
 *
 * Shape: a destination (host:port) owns a FIFO of jobs waiting for a connection. A connection
 * belongs to one destination and runs one chain: connect, EHLO (and the TLS policy), optional
 * login, then a work loop that keeps `window` messages queued on the client (enqueue), takes the
 * oldest result when the window is full or nothing is left to queue (next_result), and says QUIT
 * when its destination's FIFO is empty. Every client call may return SMTPC_EAGAIN; the epoll loop
 * then steps the client when its descriptor is ready or its deadline has passed, and the chain
 * resumes where it stopped with the call's final status.
 */
#define _POSIX_C_SOURCE 200809L
#include "smtp_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

typedef struct dest dest;

typedef struct job {
    struct job *next; /* in its destination's FIFO while waiting */
    dest *d;
    smtpc_message *msg; /* envelope copy, borrowed body, tag = this job */
    void *data;
    unsigned attempts;
} job;

struct dest {
    dest *next;
    char *host;
    uint16_t port;
    job *head, *tail; /* waiting for a connection */
    size_t waiting;
    unsigned open;       /* connections open to it */
    unsigned connecting; /* of those, not yet past EHLO/login */
    unsigned failures;   /* connections in a row that failed without a server answer to a message */
    smtpc_status last_status;
    int last_code;
    char last_err[256];
};

/* The operation in progress (or that just ended) on a connection. */
enum op { OP_CONNECT, OP_HELLO, OP_LOGIN, OP_WORK, OP_ENQUEUE, OP_RESULT, OP_QUIT };

typedef struct conn {
    struct conn *next, *prev; /* open connections, or the list of ended ones */
    smtp_pool *pool;
    smtpc_client *client;
    dest *d;
    enum op op;
    int busy;                 /* the operation returned SMTPC_EAGAIN: step it when ready */
    int connecting;           /* counted in d->connecting */
    int answered;             /* the server answered one of its messages (delivered, refused...) */
    smtpc_status lost_status; /* how the connection was lost, from a message's result */
    int lost_code;
    char lost_err[256];
    int fd; /* registered with epoll, -1 when none */
    uint32_t events;
} conn;

struct smtp_pool {
    smtp_pool_options opt;
    int ep;
    dest *dests;
    conn *conns, *ended;
    unsigned open;
    size_t pending; /* jobs not reported */
    smtp_pool_stats stats;
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy_text(char *dst, size_t cap, const char *src) {
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

/* --- jobs and destinations ------------------------------------------------------------------- */

static void job_push(dest *d, job *j, int front) {
    if (front) {
        j->next = d->head;
        d->head = j;
        if (!d->tail) d->tail = j;
    } else {
        j->next = NULL;
        if (d->tail) d->tail->next = j;
        else d->head = j;
        d->tail = j;
    }
    d->waiting++;
}

static job *job_pop(dest *d) {
    job *j = d->head;
    if (!j) return NULL;
    d->head = j->next;
    if (!d->head) d->tail = NULL;
    d->waiting--;
    j->next = NULL;
    return j;
}

/* Calls the result callback and frees the job. */
static void job_report(smtp_pool *p, job *j, smtpc_message_state state, smtpc_status st, int code,
                       const char *errmsg, const smtpc_result *rcpts) {
    smtp_pool_result r;
    r.job_data = j->data;
    r.host = j->d->host;
    r.port = j->d->port;
    r.state = state;
    r.status = st;
    r.code = code;
    r.errmsg = errmsg ? errmsg : "";
    r.recipients = rcpts;
    r.attempts = j->attempts;
    smtpc_message_free(j->msg);
    free(j);
    p->pending--;
    p->opt.on_result(p->opt.result_arg, &r);
}

/* The destination is given up: every job waiting gets its last connection's failure. Jobs the
 * callback adds meanwhile (a retry later, say) are not part of it: they get a fresh set of attempts. */
static void dest_give_up(smtp_pool *p, dest *d) {
    job *j = d->head;
    d->head = d->tail = NULL;
    d->waiting = 0;
    d->failures = 0;
    while (j) {
        job *next = j->next;
        job_report(p, j, SMTPC_MESSAGE_NOT_SENT, d->last_status, d->last_code, d->last_err, NULL);
        j = next;
    }
}

static dest *dest_get(smtp_pool *p, const char *host, uint16_t port) {
    for (dest *d = p->dests; d; d = d->next)
        if (d->port == port && strcmp(d->host, host) == 0) return d;
    dest *d = calloc(1, sizeof *d);
    size_t n = strlen(host);
    if (!d || !(d->host = malloc(n + 1))) {
        free(d);
        return NULL;
    }
    memcpy(d->host, host, n + 1);
    d->port = port;
    d->next = p->dests;
    p->dests = d;
    return d;
}

/* --- epoll registration ----------------------------------------------------------------------- */

/*
 * Registers the client's descriptor for what it wants. The library owns the descriptor and may
 * change it after any step (resolver pipe, each address tried, the connection): when the number
 * changed, the old one was closed by the library and epoll dropped it on its own (never DEL a number
 * that is no longer ours: another connection may own it now). MOD, and ADD when epoll does not know
 * the number (ENOENT: closed and reopened with the same number within the step).
 */
static void conn_watch(conn *c) {
    int cur = smtpc_client_fd(c->client);
    int fd = c->busy ? cur : -1;
    int w = c->busy ? smtpc_client_wants(c->client) : 0;
    uint32_t events = ((w & SMTPC_WANT_READ) ? EPOLLIN : 0) | ((w & SMTPC_WANT_WRITE) ? EPOLLOUT : 0);
    int ep = c->pool->ep;
    if (c->fd >= 0 && cur != c->fd) { /* closed by the library: epoll forgot it */
        c->fd = -1;
        c->events = 0;
    }
    if (fd < 0 || !events) {
        if (c->fd >= 0) epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); /* still the client's */
        c->fd = -1;
        c->events = 0;
        return;
    }
    /* Once connected the descriptor stays the same until the operation fails: skip the system call
     * when nothing changed. While connecting, a number may have been closed and reopened within a
     * step (and forgotten by epoll), also in the step that completed the connect: always
     * re-register then, and through the first exchange after it. */
    if (c->fd == fd && c->events == events && c->op != OP_CONNECT && c->op != OP_HELLO) return;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = c;
    int rc = c->fd == fd ? epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) : epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    if (rc != 0 && errno == ENOENT) rc = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    if (rc != 0 && errno == EEXIST) rc = epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    c->fd = rc == 0 ? fd : -1;
    c->events = rc == 0 ? events : 0;
    /* Not registered (out of memory in the kernel): the deadline still steps it, so it cannot
     * hang, only go slowly. */
}

static void conn_unwatch(conn *c) {
    if (c->fd >= 0 && smtpc_client_fd(c->client) == c->fd) epoll_ctl(c->pool->ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->fd = -1;
    c->events = 0;
}

/* --- connections ------------------------------------------------------------------------------ */

static void conn_list_remove(conn **list, conn *c) {
    if (c->prev) c->prev->next = c->next;
    else *list = c->next;
    if (c->next) c->next->prev = c->prev;
    c->next = c->prev = NULL;
}

static void conn_list_push(conn **list, conn *c) {
    c->prev = NULL;
    c->next = *list;
    if (*list) (*list)->prev = c;
    *list = c;
}

static void conn_not_connecting(conn *c) {
    if (c->connecting) {
        c->connecting = 0;
        c->d->connecting--;
    }
}

/* The connection is over (after QUIT or a failure): freed at the end of the perform pass, so that an
 * epoll event already fetched for it never points to freed memory. */
static void conn_end(conn *c) {
    smtp_pool *p = c->pool;
    conn_unwatch(c);
    conn_not_connecting(c);
    c->busy = 0;
    c->d->open--;
    p->open--;
    conn_list_remove(&p->conns, c);
    conn_list_push(&p->ended, c);
}

/* A result taken from the client: report it, or give the job to another connection. */
static void conn_take_result(conn *c, smtpc_message_result *r) {
    smtp_pool *p = c->pool;
    job *j = (job *)(uintptr_t)smtpc_message_result_tag(r);
    smtpc_message_state state = smtpc_message_result_state(r);
    smtpc_status st = smtpc_message_result_status(r);
    const smtpc_reply *reply = smtpc_message_result_reply(r);
    if (state == SMTPC_MESSAGE_DELIVERED || state == SMTPC_MESSAGE_PARTIAL ||
        state == SMTPC_MESSAGE_REFUSED) {
        c->answered = 1;
        c->d->failures = 0;
    } else if (!c->lost_status) { /* the first message the connection's end cut short says why */
        c->lost_status = st;
        c->lost_code = reply ? smtpc_reply_code(reply) : 0;
        copy_text(c->lost_err, sizeof c->lost_err, smtpc_message_result_errmsg(r, NULL));
    }
    /* Certainly not delivered: another connection may try it, within the job's attempts. */
    if (state == SMTPC_MESSAGE_NOT_SENT && j->attempts < p->opt.max_attempts && st != SMTPC_EUSER &&
        st != SMTPC_ECANCELLED) {
        job_push(c->d, j, 1);
        return;
    }
    job_report(p, j, state, st, reply ? smtpc_reply_code(reply) : 0, smtpc_message_result_errmsg(r, NULL),
               smtpc_message_result_recipients(r));
}

/* The connection failed with `st`: close it, conclude its queued messages, count the failure. */
static void conn_fail(conn *c, smtpc_status st) {
    smtp_pool *p = c->pool;
    dest *d = c->d;
    const smtpc_reply *reply = smtpc_client_last_reply(c->client);
    int code = reply ? smtpc_reply_code(reply) : 0;
    d->last_status = st;
    d->last_code = code >= 400 ? code : 0; /* a 250 before a timeout did not decide anything */
    copy_text(d->last_err, sizeof d->last_err, smtpc_client_errmsg(c->client));
    conn_unwatch(c);
    smtpc_client_close(c->client); /* concludes what is queued: not sent, or delivery unknown */
    smtpc_message_result *r = NULL;
    while (smtpc_client_next_result(c->client, &r) == SMTPC_OK && r) { /* no I/O once closed */
        conn_take_result(c, r);
        smtpc_message_result_free(r);
        r = NULL;
    }
    if (st == SMTPC_OK) { /* found closed after a result: the messages' results said why */
        d->last_status = c->lost_status ? c->lost_status : SMTPC_EDISCONNECTED;
        d->last_code = c->lost_code;
        copy_text(d->last_err, sizeof d->last_err, c->lost_err);
    }
    if (!d->last_err[0]) copy_text(d->last_err, sizeof d->last_err, smtpc_status_name(d->last_status));
    if (!c->answered) d->failures++;
    p->stats.connections_failed++;
    conn_end(c);
    if (d->failures >= p->opt.max_attempts) dest_give_up(p, d);
}

/* Runs the connection's chain from the status of the operation that just ended (or SMTPC_EAGAIN). */
static void conn_advance(conn *c, smtpc_status st) {
    smtp_pool *p = c->pool;
    dest *d = c->d;
    for (;;) {
        if (st == SMTPC_EAGAIN) {
            c->busy = 1;
            conn_watch(c);
            return;
        }
        c->busy = 0;
        switch (c->op) {
        case OP_CONNECT:
            if (st != SMTPC_OK) {
                conn_fail(c, st);
                return;
            }
            c->op = OP_HELLO;
            st = smtpc_client_ehlo_or_helo_if_needed(c->client); /* and STARTTLS per the TLS policy */
            continue;
        case OP_HELLO:
            if (st != SMTPC_OK) {
                conn_fail(c, st);
                return;
            }
            if (p->opt.username) {
                c->op = OP_LOGIN;
                st = smtpc_client_login(c->client, p->opt.username, SMTPC_NTS, p->opt.password, SMTPC_NTS);
                continue;
            }
            break;
        case OP_LOGIN:
            if (st != SMTPC_OK) {
                conn_fail(c, st);
                return;
            }
            break;
        case OP_ENQUEUE: /* the message is queued; a failure of the connection shows in its result */
        case OP_RESULT:  /* the result is ready: next_result below gives it at once */
        case OP_WORK:
            if (st != SMTPC_OK) {
                conn_fail(c, st);
                return;
            }
            break;
        case OP_QUIT: /* whatever QUIT's reply, the connection is closed and every message answered */
            conn_unwatch(c);
            smtpc_client_close(c->client);
            conn_end(c);
            return;
        }
        /* The work loop: keep the window full, take results, QUIT when there is nothing left. */
        conn_not_connecting(c);
        c->op = OP_WORK;
        if (!smtpc_client_is_connected(c->client)) {
            conn_fail(c, smtpc_client_last_status(c->client));
            return;
        }
        size_t queued = smtpc_client_queued(c->client);
        if (queued < p->opt.window && d->head) {
            job *j = job_pop(d);
            st = smtpc_client_enqueue(c->client, j->msg);
            if (st == SMTPC_OK || st == SMTPC_EAGAIN) {
                j->attempts++;
                c->op = OP_ENQUEUE;
                continue;
            }
            if (!smtpc_client_is_connected(c->client)) {
                job_push(d, j, 1); /* never queued: not an attempt */
                conn_fail(c, st);
                return;
            }
            /* This message cannot be sent on this server (bad envelope, SMTPUTF8 not offered...). */
            job_report(p, j, SMTPC_MESSAGE_NOT_SENT, st, 0, smtpc_client_errmsg(c->client), NULL);
            st = SMTPC_OK;
            continue;
        }
        if (queued > 0) {
            smtpc_message_result *r = NULL;
            st = smtpc_client_next_result(c->client, &r);
            if (st == SMTPC_OK && r) {
                conn_take_result(c, r);
                smtpc_message_result_free(r);
            }
            c->op = st == SMTPC_OK ? OP_WORK : OP_RESULT; /* EAGAIN: step, then ask again */
            continue;
        }
        c->op = OP_QUIT;
        st = smtpc_client_quit(c->client);
    }
}

static void conn_open(smtp_pool *p, dest *d) {
    conn *c = calloc(1, sizeof *c);
    smtpc_status st = SMTPC_ENOMEM;
    if (c) {
        c->pool = p;
        c->d = d;
        c->fd = -1;
        c->op = OP_CONNECT;
        c->connecting = 1;
        d->connecting++;
        d->open++;
        p->open++;
        if (p->open > p->stats.max_open) p->stats.max_open = p->open;
        p->stats.connections_opened++;
        conn_list_push(&p->conns, c);
        st = smtpc_client_new(&c->client, p->opt.protocol);
        if (st == SMTPC_OK) st = smtpc_client_set_nonblocking(c->client, 1);
        if (st == SMTPC_OK) st = smtpc_client_set_window(c->client, p->opt.window, p->opt.window_bytes);
        if (st == SMTPC_OK && p->opt.setup &&
            p->opt.setup(p->opt.setup_arg, c->client, d->host, d->port) != 0)
            st = SMTPC_EUSER;
        if (st == SMTPC_OK) st = smtpc_client_connect(c->client, d->host, SMTPC_NTS, d->port);
        conn_advance(c, st);
        return;
    }
    /* Out of memory: count it as a failed connection so the destination's jobs end. */
    d->last_status = st;
    d->last_code = 0;
    copy_text(d->last_err, sizeof d->last_err, "out of memory");
    if (++d->failures >= p->opt.max_attempts) dest_give_up(p, d);
}

/* Opens connections where jobs wait: one per destination per round, so that destinations share
 * the total limit fairly; no more connections for a destination than it has waiting jobs. */
static void pool_start(smtp_pool *p) {
    int progress = 1;
    while (progress && p->open < p->opt.max_connections) {
        progress = 0;
        for (dest *d = p->dests; d && p->open < p->opt.max_connections; d = d->next) {
            if (d->waiting > d->connecting && d->open < p->opt.max_per_host) {
                conn_open(p, d);
                progress = 1;
            }
        }
    }
}

static void pool_reap(smtp_pool *p) {
    while (p->ended) {
        conn *c = p->ended;
        conn_list_remove(&p->ended, c);
        smtpc_client_free(c->client);
        free(c);
    }
}

/* --- public ------------------------------------------------------------------------------------ */

smtp_pool *smtp_pool_new(const smtp_pool_options *options) {
    if (!options || !options->on_result) return NULL;
    smtp_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->opt = *options;
    if (!p->opt.max_connections) p->opt.max_connections = 64;
    if (!p->opt.max_per_host) p->opt.max_per_host = 4;
    if (!p->opt.window) p->opt.window = 32;
    if (!p->opt.max_attempts) p->opt.max_attempts = 3;
    if (!p->opt.window_bytes) p->opt.window_bytes = 1024 * 1024;
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    if (p->ep < 0) {
        free(p);
        return NULL;
    }
    return p;
}

void smtp_pool_free(smtp_pool *p) {
    if (!p) return;
    while (p->conns) {
        conn *c = p->conns;
        smtpc_message_result *r = NULL;
        conn_list_remove(&p->conns, c);
        /* The jobs queued on the client are known only by their tags: close (which concludes them,
         * without I/O) and take their results to free them, unreported. */
        smtpc_client_close(c->client);
        while (smtpc_client_next_result(c->client, &r) == SMTPC_OK && r) {
            job *j = (job *)(uintptr_t)smtpc_message_result_tag(r);
            smtpc_message_free(j->msg);
            free(j);
            smtpc_message_result_free(r);
            r = NULL;
        }
        smtpc_client_free(c->client);
        free(c);
    }
    pool_reap(p);
    while (p->dests) {
        dest *d = p->dests;
        job *j;
        p->dests = d->next;
        while ((j = job_pop(d)) != NULL) {
            smtpc_message_free(j->msg);
            free(j);
        }
        free(d->host);
        free(d);
    }
    close(p->ep);
    free(p);
}

smtpc_status smtp_pool_add(smtp_pool *p, const char *host, uint16_t port, const smtpc_envelope *env,
                           const char *body, size_t len, void *job_data) {
    if (!p || !host || !*host || !port || !env || !body) return SMTPC_EINVAL;
    dest *d = dest_get(p, host, port);
    job *j = d ? calloc(1, sizeof *j) : NULL;
    if (!j) return SMTPC_ENOMEM;
    smtpc_status st = smtpc_message_new(&j->msg);
    if (st == SMTPC_OK) st = smtpc_message_set_envelope(j->msg, env);
    if (st == SMTPC_OK) st = smtpc_message_set_body(j->msg, body, len);
    if (st == SMTPC_OK) st = smtpc_message_set_tag(j->msg, (uint64_t)(uintptr_t)j);
    if (st != SMTPC_OK) {
        smtpc_message_free(j->msg);
        free(j);
        return st;
    }
    j->d = d;
    j->data = job_data;
    job_push(d, j, 0);
    p->pending++;
    return SMTPC_OK;
}

int smtp_pool_fd(const smtp_pool *p) { return p ? p->ep : -1; }

size_t smtp_pool_pending(const smtp_pool *p) { return p ? p->pending : 0; }

void smtp_pool_get_stats(const smtp_pool *p, smtp_pool_stats *out) {
    if (p && out) *out = p->stats;
}

int smtp_pool_timeout_ms(const smtp_pool *p) {
    int64_t now = now_ms(), best = -1;
    for (dest *d = p->dests; d; d = d->next)
        if (d->waiting > d->connecting && d->open < p->opt.max_per_host && p->open < p->opt.max_connections)
            return 0; /* connections to open */
    for (const conn *c = p->conns; c; c = c->next) {
        int64_t t = c->busy ? smtpc_client_deadline_ms(c->client) : -1;
        if (t < 0) continue;
        t = t > now ? t - now : 0;
        if (best < 0 || t < best) best = t;
    }
    return best > 0x7fffffff ? 0x7fffffff : (int)best;
}

/* One pass: waits up to `timeout` ms for events, steps the ready clients and those past their
 * deadline, opens the connections the waiting jobs need, frees the connections that ended. */
static int pool_pass(smtp_pool *p, int timeout) {
    struct epoll_event evs[256];
    pool_start(p);
    int n = epoll_wait(p->ep, evs, 256, timeout);
    if (n < 0 && errno != EINTR) return -1;
    for (int i = 0; i < n; i++) {
        conn *c = evs[i].data.ptr;
        if (c->busy) conn_advance(c, smtpc_client_step(c->client));
    }
    int64_t now = now_ms();
    for (conn *c = p->conns, *next; c; c = next) {
        next = c->next; /* c may end: it moves to the ended list */
        int64_t t = c->busy ? smtpc_client_deadline_ms(c->client) : -1;
        if (t >= 0 && t <= now) conn_advance(c, smtpc_client_step(c->client));
        /* A connection whose registration failed steps here too: slowly, but never stuck. */
        else if (c->busy && c->fd < 0) conn_advance(c, smtpc_client_step(c->client));
    }
    pool_start(p);
    pool_reap(p);
    return 0;
}

size_t smtp_pool_perform(smtp_pool *p) {
    if (!p) return 0;
    pool_pass(p, 0);
    return p->pending;
}

int smtp_pool_run(smtp_pool *p) {
    while (p->pending) {
        int t = smtp_pool_timeout_ms(p);
        if (!p->conns && t != 0) t = 0; /* nothing open: start what is waiting */
        if (pool_pass(p, t) < 0) return -1;
    }
    return 0;
}
