/* SPDX-License-Identifier: MIT */
/*
 * A small epoll loop for the non-blocking tests: it drives any number of smtpc clients, each with
 * its operation in progress, re-registering a client's descriptor whenever it or the events wanted
 * change and stepping a client whose descriptor is ready or whose deadline has passed.
 */
#ifndef SMTPC_NB_LOOP_H
#define SMTPC_NB_LOOP_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "smtpc.h"

typedef struct nb_slot {
    smtpc_client *c;
    int busy;          /* an operation returned SMTPC_EAGAIN and has not ended */
    smtpc_status last; /* the final status of the last operation */
    int fd;            /* registered descriptor, -1 none */
    uint32_t events;   /* registered events */
    long steps;        /* steps made */
} nb_slot;

static inline int64_t nb_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Registers (or re-registers) the slot's descriptor for what its client wants. Always after a step:
 * the library may have closed the descriptor and opened another with the same number, which epoll
 * has forgotten (MOD then fails with ENOENT, and ADD registers the new one). A descriptor the client
 * no longer has was closed by the library (and so left epoll): it is not passed to epoll_ctl again,
 * since in a program with other threads its number may already be theirs. */
static inline void nb_watch(int ep, nb_slot *s) {
    int cur = smtpc_client_fd(s->c);
    int fd = s->busy ? cur : -1;
    int w = s->busy ? smtpc_client_wants(s->c) : 0;
    uint32_t ev =
        (uint32_t)((w & SMTPC_WANT_READ) ? EPOLLIN : 0) | (uint32_t)((w & SMTPC_WANT_WRITE) ? EPOLLOUT : 0);
    if (s->fd >= 0 && s->fd == cur && (fd != s->fd || !ev)) epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
    if (fd < 0 || !ev) {
        s->fd = -1;
        s->events = 0;
        return;
    }
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = ev;
    e.data.ptr = s;
    int rc = -1;
    if (fd == s->fd) rc = epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
    if (rc != 0) rc = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    s->fd = rc == 0 ? fd : -1;
    s->events = rc == 0 ? ev : 0;
}

/* What an operation started on the slot returned: SMTPC_EAGAIN makes it busy. */
static inline void nb_started(int ep, nb_slot *s, smtpc_status st) {
    s->busy = st == SMTPC_EAGAIN;
    if (!s->busy) s->last = st;
    nb_watch(ep, s);
}

static inline void nb_step(int ep, nb_slot *s) {
    smtpc_status st = smtpc_client_step(s->c);
    s->steps++;
    nb_started(ep, s, st);
}

/* One turn of the loop: waits (at most max_ms, and not past the nearest deadline) and steps every
 * ready or expired slot. Returns the number of busy slots left. */
static inline int nb_turn(int ep, nb_slot *slots, int n, int max_ms) {
    int64_t now = nb_now_ms();
    int timeout = max_ms;
    int busy = 0;
    for (int i = 0; i < n; i++) {
        if (!slots[i].busy) continue;
        busy++;
        int64_t d = smtpc_client_deadline_ms(slots[i].c);
        if (d >= 0) {
            int64_t left = d - now;
            if (left < 0) left = 0;
            if (left < timeout) timeout = (int)left;
        }
    }
    if (!busy) return 0;
    struct epoll_event evs[64];
    int got = epoll_wait(ep, evs, 64, timeout);
    for (int i = 0; i < got; i++) nb_step(ep, (nb_slot *)evs[i].data.ptr);
    now = nb_now_ms();
    busy = 0;
    for (int i = 0; i < n; i++) {
        if (!slots[i].busy) continue;
        int64_t d = smtpc_client_deadline_ms(slots[i].c);
        if (d >= 0 && d <= now) nb_step(ep, &slots[i]);
        /* No descriptor to watch (cannot happen while busy; guards against a hang). */
        else if (slots[i].fd < 0) nb_step(ep, &slots[i]);
        if (slots[i].busy) busy++;
    }
    return busy;
}

/* Runs one client's operation to its end through the loop (bounded by limit_ms). */
static inline smtpc_status nb_finish(nb_slot *s, smtpc_status started, int limit_ms) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    s->fd = -1;
    s->events = 0;
    nb_started(ep, s, started);
    int64_t end = nb_now_ms() + limit_ms;
    while (s->busy && nb_now_ms() < end) nb_turn(ep, s, 1, 100);
    if (s->fd >= 0 && s->fd == smtpc_client_fd(s->c)) epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
    s->fd = -1;
    close(ep);
    return s->busy ? SMTPC_EAGAIN : s->last;
}

#endif
