/* SPDX-License-Identifier: MIT */
/*
 * What a non-blocking step costs and where it may wait, seen through getaddrinfo(), poll() and
 * recv() defined in this program: the library's calls to them (a shared library, through the PLT)
 * come here first and are counted, then passed on to the C library's (dlsym RTLD_NEXT). No
 * LD_PRELOAD, nothing patched in the library.
 *
 * - The EHLO name of a client that has none (this machine's name, a getaddrinfo with AI_CANONNAME
 *   that may ask DNS) is looked up off the loop's thread, on the connect's resolver thread, even for
 *   an IP literal: with that lookup made slow (1 s), no call or step takes long, and the name sent
 *   is the one a blocking client sends.
 * - An IP literal destination is resolved without AI_ADDRCONFIG (which costs an interface dump,
 *   about 7 system calls, at every connect), blocking and non-blocking.
 * - A command in non-blocking mode: no poll() (the caller's loop said the socket was ready), and no
 *   receive right after its write (its reply is not there yet): one receive, which finds the reply.
 * - The eventfd through which smtpc_client_cancel() wakes a wait (seen through eventfd()) is made by
 *   the first wait that sleeps: once per blocking client, never for a non-blocking one.
 */
#define _GNU_SOURCE
#include "fault_common.h"

#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nb_loop.h"

#define LIMIT_MS 10000
#define SLOW_LOOKUP_MS 1000

static pthread_t main_thread;
static int over_unix;            /* the EHLO name case over a Unix socket (a path: no resolution otherwise) */
static atomic_int canon_calls;   /* getaddrinfo with AI_CANONNAME (the EHLO name) */
static atomic_int canon_on_main; /* ... on the thread that drives the loop */
static atomic_int literal_addrconfig; /* getaddrinfo("127.0.0.1") with AI_ADDRCONFIG */
static atomic_int polls;              /* poll() on the client's descriptor */
static atomic_int recvs;              /* recv() on it without MSG_PEEK */
static atomic_int empty_recvs;        /* ... that found nothing (EAGAIN) */
static atomic_int any_empty_recvs;    /* recv() without MSG_PEEK that found nothing, any descriptor */
static atomic_int watched_fd = -1;    /* the client's descriptor, -1 none */
static atomic_int eventfds;           /* eventfd() calls */

typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
typedef int (*poll_fn)(struct pollfd *, nfds_t, int);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef int (*eventfd_fn)(unsigned int, int);

/* The C library's function (ISO C has no cast from an object pointer to a function pointer). */
static void next_symbol(const char *name, void *fn, size_t size) {
    void *p = dlsym(RTLD_NEXT, name);
    if (!p || size != sizeof p) abort();
    memcpy(fn, &p, size);
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
    static getaddrinfo_fn real;
    if (!real) next_symbol("getaddrinfo", &real, sizeof real);
    if (hints && (hints->ai_flags & AI_CANONNAME)) {
        atomic_fetch_add(&canon_calls, 1);
        if (pthread_equal(pthread_self(), main_thread)) atomic_fetch_add(&canon_on_main, 1);
        struct timespec ts = {SLOW_LOOKUP_MS / 1000, (SLOW_LOOKUP_MS % 1000) * 1000000L};
        nanosleep(&ts, NULL); /* a slow resolver */
    }
    if (node && strcmp(node, "127.0.0.1") == 0 && hints && (hints->ai_flags & AI_ADDRCONFIG))
        atomic_fetch_add(&literal_addrconfig, 1);
    return real(node, service, hints, res);
}

int poll(struct pollfd *fds, nfds_t n, int timeout) {
    static poll_fn real;
    if (!real) next_symbol("poll", &real, sizeof real);
    int fd = atomic_load(&watched_fd);
    for (nfds_t i = 0; i < n; i++)
        if (fd >= 0 && fds[i].fd == fd) atomic_fetch_add(&polls, 1);
    return real(fds, n, timeout);
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    static recv_fn real;
    if (!real) next_symbol("recv", &real, sizeof real);
    ssize_t r = real(fd, buf, len, flags);
    int saved = errno;
    if (r < 0 && (saved == EAGAIN || saved == EWOULDBLOCK) && !(flags & MSG_PEEK))
        atomic_fetch_add(&any_empty_recvs, 1);
    if (fd >= 0 && fd == atomic_load(&watched_fd) && !(flags & MSG_PEEK)) {
        atomic_fetch_add(&recvs, 1);
        if (r < 0 && (saved == EAGAIN || saved == EWOULDBLOCK)) atomic_fetch_add(&empty_recvs, 1);
    }
    errno = saved;
    return r;
}

int eventfd(unsigned int initval, int flags) {
    static eventfd_fn real;
    if (!real) next_symbol("eventfd", &real, sizeof real);
    atomic_fetch_add(&eventfds, 1);
    return real(initval, flags);
}

static void reset_counts(int fd) {
    atomic_store(&watched_fd, fd);
    atomic_store(&polls, 0);
    atomic_store(&recvs, 0);
    atomic_store(&empty_recvs, 0);
}

static long long now_ms(void) { return (long long)nb_now_ms(); }

/* Runs an operation through an epoll loop, recording the longest single call (start or step). */
static smtpc_status nb_run_timed(smtpc_client *c, smtpc_status started, long long *longest) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    assert_true(ep >= 0);
    nb_slot s = {c, 0, SMTPC_OK, -1, 0, 0};
    nb_started(ep, &s, started);
    long long end = now_ms() + LIMIT_MS;
    while (s.busy && now_ms() < end) {
        struct epoll_event ev;
        int64_t d = smtpc_client_deadline_ms(c);
        int timeout = 100;
        if (d >= 0 && d - nb_now_ms() < timeout) timeout = d - nb_now_ms() < 0 ? 0 : (int)(d - nb_now_ms());
        (void)epoll_wait(ep, &ev, 1, timeout);
        long long t0 = now_ms();
        nb_step(ep, &s);
        long long took = now_ms() - t0;
        if (took > *longest) *longest = took;
    }
    if (s.fd >= 0 && s.fd == smtpc_client_fd(c)) epoll_ctl(ep, EPOLL_CTL_DEL, s.fd, NULL);
    close(ep);
    return s.busy ? SMTPC_EAGAIN : s.last;
}

/* The EHLO line of a transcript ("EHLO name\r\n"), copied into out. */
static void ehlo_line(const fault_fixture *f, char *out, size_t cap) {
    assert_non_null(f->transcript);
    const char *end = memchr(f->transcript, '\n', f->transcript_len);
    assert_non_null(end);
    size_t n = (size_t)(end - f->transcript) + 1;
    assert_true(n < cap);
    memcpy(out, f->transcript, n);
    out[n] = '\0';
    assert_memory_equal(out, "EHLO ", 5);
}

/* Connect and EHLO without a local host name, blocking or through the loop; the EHLO line sent. */
static void session_without_name(int nonblocking, char *ehlo, size_t cap, long long *longest,
                                 long long *total) {
    void *state = NULL;
    assert_int_equal(fault_setup(&state), 0);
    fault_fixture *f = state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    f->use_unix = over_unix;
    fault_start(f);
    assert_int_equal(smtpc_client_new(&f->client, SMTPC_PROTOCOL_SMTP), SMTPC_OK);
    assert_int_equal(smtpc_client_set_nonblocking(f->client, nonblocking), SMTPC_OK);
    smtpc_status st;
    long long t0 = now_ms();
    *longest = 0;
    if (nonblocking) {
        long long c0 = now_ms();
        st = fault_connect(f);
        *longest = now_ms() - c0;
        assert_int_equal(nb_run_timed(f->client, st, longest), SMTPC_OK);
        c0 = now_ms();
        st = smtpc_client_ehlo(f->client, NULL, SMTPC_NTS);
        if (now_ms() - c0 > *longest) *longest = now_ms() - c0;
        assert_int_equal(nb_run_timed(f->client, st, longest), SMTPC_OK);
        st = smtpc_client_quit(f->client);
        assert_int_equal(nb_run_timed(f->client, st, longest), SMTPC_OK);
    } else {
        assert_int_equal(fault_connect(f), SMTPC_OK);
        assert_int_equal(smtpc_client_ehlo(f->client, NULL, SMTPC_NTS), SMTPC_OK);
        assert_int_equal(smtpc_client_quit(f->client), SMTPC_OK);
    }
    *total = now_ms() - t0;
    assert_int_equal(fault_finish(f, 5000), 0);
    ehlo_line(f, ehlo, cap);
    fault_teardown(&state);
}

/* Must run first: the EHLO name is looked up once per process. */
static void test_ehlo_name_looked_up_off_the_loop(void **state) {
    (void)state;
    char nb_ehlo[512], b_ehlo[512];
    long long longest = 0, total = 0;
    atomic_store(&canon_calls, 0);
    atomic_store(&canon_on_main, 0);
    session_without_name(1, nb_ehlo, sizeof nb_ehlo, &longest, &total);
    assert_int_equal(atomic_load(&canon_calls), 1);
    if (atomic_load(&canon_on_main) != 0) fail_msg("the EHLO name was looked up on the loop's thread");
    /* The slow lookup took place (the session waited for it), but no call or step waited for it. */
    assert_true(total >= SLOW_LOOKUP_MS - 50);
    if (longest >= SLOW_LOOKUP_MS / 2) fail_msg("a call or a step took %lld ms", longest);

    /* A blocking client sends the same name, and finds it kept (no second lookup). */
    session_without_name(0, b_ehlo, sizeof b_ehlo, &longest, &total);
    assert_string_equal(nb_ehlo, b_ehlo);
    assert_int_equal(atomic_load(&canon_calls), 1);
    assert_true(strlen(nb_ehlo) > strlen("EHLO \r\n"));
}

/* An IP literal needs no AI_ADDRCONFIG, whichever mode connects. */
static void test_literal_without_addrconfig(void **state) {
    (void)state;
    for (int nonblocking = 0; nonblocking < 2; nonblocking++) {
        void *fx = NULL;
        assert_int_equal(fault_setup(&fx), 0);
        fault_fixture *f = fx;
        sc_send(f, RPL_GREETING);
        sc_expect(f, "QUIT");
        sc_send(f, RPL_BYE);
        fault_start(f);
        fault_client(f, 5000, 5000);
        assert_int_equal(smtpc_client_set_nonblocking(f->client, nonblocking), SMTPC_OK);
        atomic_store(&literal_addrconfig, 0);
        nb_slot s = {f->client, 0, SMTPC_OK, -1, 0, 0};
        assert_int_equal(nb_finish(&s, fault_connect(f), LIMIT_MS), SMTPC_OK);
        if (atomic_load(&literal_addrconfig) != 0)
            fail_msg("%s connect: 127.0.0.1 resolved with AI_ADDRCONFIG",
                     nonblocking ? "non-blocking" : "blocking");
        assert_int_equal(nb_finish(&s, smtpc_client_quit(f->client), LIMIT_MS), SMTPC_OK);
        assert_int_equal(fault_finish(f, 5000), 0);
        fault_assert_transcript(f, W_QUIT, strlen(W_QUIT));
        fault_teardown(&fx);
    }
}

/* Each NOOP: no poll, no receive that finds nothing; its reply taken by one receive. */
static void test_command_reads(void **state) {
    fault_fixture *f = *state;
    enum { N = 5 };
    sc_sleep(f, 0.05); /* the greeting comes after the connect completes */
    sc_hello(f, 0);
    for (int i = 0; i < N; i++) {
        sc_expect(f, "NOOP");
        sc_sleep(f, 0.02); /* the reply is not there when the client looks right after its write */
        sc_send(f, RPL_OK);
    }
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    assert_int_equal(smtpc_client_set_nonblocking(f->client, 1), SMTPC_OK);
    nb_slot s = {f->client, 0, SMTPC_OK, -1, 0, 0};
    /* The greeting is not there when the connect completes: no receive looks for it then. */
    atomic_store(&any_empty_recvs, 0);
    assert_int_equal(nb_finish(&s, fault_connect(f), LIMIT_MS), SMTPC_OK);
    if (atomic_load(&any_empty_recvs) != 0)
        fail_msg("connect: %d receives found nothing", atomic_load(&any_empty_recvs));
    assert_int_equal(nb_finish(&s, smtpc_client_ehlo(f->client, NULL, SMTPC_NTS), LIMIT_MS), SMTPC_OK);
    for (int i = 0; i < N; i++) {
        reset_counts(smtpc_client_fd(f->client));
        smtpc_status st = smtpc_client_noop(f->client);
        assert_int_equal(st, SMTPC_EAGAIN);
        if (atomic_load(&recvs) != 0 || atomic_load(&polls) != 0)
            fail_msg("NOOP %d: %d receives and %d polls right after the write", i, atomic_load(&recvs),
                     atomic_load(&polls));
        assert_int_equal(nb_finish(&s, st, LIMIT_MS), SMTPC_OK);
        if (atomic_load(&polls) != 0 || atomic_load(&empty_recvs) != 0 || atomic_load(&recvs) != 1)
            fail_msg("NOOP %d: %d polls, %d receives (%d found nothing); expected 0, 1 (0)", i,
                     atomic_load(&polls), atomic_load(&recvs), atomic_load(&empty_recvs));
        assert_int_equal(smtpc_reply_code(smtpc_client_last_reply(f->client)), 250);
    }
    reset_counts(-1);
    assert_int_equal(nb_finish(&s, smtpc_client_quit(f->client), LIMIT_MS), SMTPC_OK);
    assert_int_equal(fault_finish(f, 5000), 0);
    const char want[] = W_EHLO W_NOOP W_NOOP W_NOOP W_NOOP W_NOOP W_QUIT;
    fault_assert_transcript(f, want, strlen(want));
}

/* A session of several commands and a cancel in between, blocking and non-blocking: the blocking
 * client makes one eventfd (at its first wait), the non-blocking one none; both honour the cancel. */
static void test_wakeup_descriptor_made_by_a_sleeping_wait(void **state) {
    (void)state;
    for (int nonblocking = 0; nonblocking < 2; nonblocking++) {
        void *fx = NULL;
        assert_int_equal(fault_setup(&fx), 0);
        fault_fixture *f = fx;
        sc_hello(f, 0);
        sc_expect(f, "NOOP");
        sc_send(f, RPL_OK);
        sc_expect_eof(f, 5.0); /* the cancelled NOOP is never sent: the client closes */
        fault_start(f);
        atomic_store(&eventfds, 0);
        fault_client(f, 5000, 5000);
        assert_int_equal(smtpc_client_set_nonblocking(f->client, nonblocking), SMTPC_OK);
        assert_int_equal(atomic_load(&eventfds), 0); /* none at creation */
        nb_slot s = {f->client, 0, SMTPC_OK, -1, 0, 0};
        assert_int_equal(nb_finish(&s, fault_connect(f), LIMIT_MS), SMTPC_OK);
        assert_int_equal(nb_finish(&s, smtpc_client_ehlo(f->client, NULL, SMTPC_NTS), LIMIT_MS), SMTPC_OK);
        assert_int_equal(nb_finish(&s, smtpc_client_noop(f->client), LIMIT_MS), SMTPC_OK);
        smtpc_client_cancel(f->client);
        smtpc_status st = smtpc_client_noop(f->client);
        assert_int_equal(nb_finish(&s, st, LIMIT_MS), SMTPC_ECANCELLED);
        if (atomic_load(&eventfds) != (nonblocking ? 0 : 1))
            fail_msg("%s client: %d eventfd() calls, expected %d", nonblocking ? "non-blocking" : "blocking",
                     atomic_load(&eventfds), nonblocking ? 0 : 1);
        assert_int_equal(fault_finish(f, 5000), 0);
        const char want[] = W_EHLO W_NOOP;
        fault_assert_transcript(f, want, strlen(want));
        fault_teardown(&fx);
    }
}

int main(int argc, char **argv) {
    main_thread = pthread_self();
    if (argc > 1 && strcmp(argv[1], "unix") == 0) { /* the EHLO name is looked up once per process */
        over_unix = 1;
        const struct CMUnitTest unix_tests[] = {cmocka_unit_test(test_ehlo_name_looked_up_off_the_loop)};
        return cmocka_run_group_tests(unix_tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ehlo_name_looked_up_off_the_loop),
        cmocka_unit_test(test_literal_without_addrconfig),
        cmocka_unit_test_setup_teardown(test_command_reads, fault_setup, fault_teardown),
        cmocka_unit_test(test_wakeup_descriptor_made_by_a_sleeping_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
