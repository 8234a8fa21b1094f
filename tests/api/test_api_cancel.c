/* SPDX-License-Identifier: MIT */
/*
 * smtpc_client_cancel() and smtpc_client_set_progress() (include/smtpc.h), as a C caller sees them.
 *
 * Cancel from another thread stops every kind of wait promptly: a connect to a listener whose
 * backlog is full (a blackhole), the greeting, a reply, a body write to a server that stopped
 * reading, the TLS handshake (a server that stalls it); from a SIGALRM handler during a reply wait;
 * from one of the client's own callbacks. Each returns SMTPC_ECANCELLED with the connection closed,
 * and the latency from the cancel to the return is printed ("cancel latency: ... ms"). A message is
 * reported as not sent (recipients accepted, no end of data on the wire) or delivery unknown.
 * A cancel with no call running stops the next call before it sends anything, once. With no
 * descriptor left for the wake-up, a cancel still stops a reply wait promptly.
 *
 * Progress: monotonic counts ending at the total, at most one call per block; a non-zero return
 * aborts with SMTPC_EUSER, the connection closed without the end of data, nothing delivered.
 * Every case checks the exact bytes the fault server received.
 */
#include "fault_common.h"
#include "tls_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Under load (2 shared cores, sanitizers) a prompt cancel may still take a while to be scheduled. */
#define MAX_LATENCY_MS 1500
/* How long the canceller waits before cancelling: the call is blocked in its wait by then. */
#define CANCEL_AFTER_MS 300

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- Cancel from another thread. */

typedef struct canceller {
    pthread_t thread;
    smtpc_client *client;
    int delay_ms;
    long long cancelled_at_us;
} canceller;

static void *cancel_main(void *arg) {
    canceller *k = arg;
    struct timespec ts = {k->delay_ms / 1000, (long)(k->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    k->cancelled_at_us = now_us();
    smtpc_client_cancel(k->client);
    return NULL;
}

static void cancel_later(canceller *k, smtpc_client *c, int delay_ms) {
    memset(k, 0, sizeof *k);
    k->client = c;
    k->delay_ms = delay_ms;
    assert_int_equal(pthread_create(&k->thread, NULL, cancel_main, k), 0);
}

/* Joins the canceller and checks and prints the latency from the cancel to `returned_us`. */
static void check_latency(canceller *k, long long returned_us, const char *what) {
    assert_int_equal(pthread_join(k->thread, NULL), 0);
    assert_true(k->cancelled_at_us > 0);
    double ms = (double)(returned_us - k->cancelled_at_us) / 1000.0;
    printf("cancel latency: %-38s %7.3f ms\n", what, ms);
    if (ms > MAX_LATENCY_MS) fail_msg("%s: the call returned %.1f ms after the cancel", what, ms);
    if (ms < 0) fail_msg("%s: the call returned before the cancel (%.1f ms)", what, ms);
}

static void assert_cancelled(fault_fixture *f, smtpc_status st) {
    ASSERT_STATUS(f, st, SMTPC_ECANCELLED);
    assert_int_equal(smtpc_client_last_status(f->client), SMTPC_ECANCELLED);
    assert_non_null(strstr(smtpc_client_errmsg(f->client), "cancelled"));
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
}

static int find(const fault_fixture *f, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; f->transcript && i + n <= f->transcript_len; i++)
        if (memcmp(f->transcript + i, needle, n) == 0) return 1;
    return 0;
}

/* A loopback listener whose accept queue is full: a further connect stays pending (its SYN is
 * dropped). Returns the listener (and its port) with the sockets that filled it, or -1. */
static int blackhole(uint16_t *port, int fill[8], int *nfill) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 0) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &alen) != 0) {
        close(l);
        return -1;
    }
    *port = ntohs(a.sin_port);
    *nfill = 0;
    for (int i = 0; i < 8; i++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s < 0) break;
        fill[(*nfill)++] = s;
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) continue;
        if (errno != EINPROGRESS) break;
        struct pollfd p = {s, POLLOUT, 0};
        if (poll(&p, 1, 300) == 0) return l; /* this one hangs: so will the client's */
    }
    for (int i = 0; i < *nfill; i++) close(fill[i]);
    close(l);
    return -1;
}

static void test_cancel_connect_blackhole(void **state) {
    fault_fixture *f = *state;
    uint16_t port = 0;
    int fill[8], nfill = 0;
    int l = blackhole(&port, fill, &nfill);
    if (l < 0) skip(); /* the kernel completed every connect: no deterministic blackhole here */
    fault_client(f, 30000, 30000);
    canceller k;
    cancel_later(&k, f->client, CANCEL_AFTER_MS);
    smtpc_status st = smtpc_client_connect(f->client, "127.0.0.1", SMTPC_NTS, port);
    check_latency(&k, now_us(), "connect (blackhole)");
    for (int i = 0; i < nfill; i++) close(fill[i]);
    close(l);
    assert_cancelled(f, st);
}

static void test_cancel_greeting_wait(void **state) {
    fault_fixture *f = *state;
    sc_expect_eof(f, 20.0); /* accepts, says nothing, waits for the client to close */
    fault_start(f);
    fault_client(f, 30000, 30000);
    canceller k;
    cancel_later(&k, f->client, CANCEL_AFTER_MS);
    smtpc_status st = fault_connect(f);
    check_latency(&k, now_us(), "greeting wait");
    assert_cancelled(f, st);
    assert_int_equal(fault_finish(f, 10000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

static void test_cancel_reply_wait(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_expect_eof(f, 20.0); /* never answers */
    fault_start(f);
    fault_client(f, 30000, 30000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    canceller k;
    cancel_later(&k, f->client, CANCEL_AFTER_MS);
    smtpc_status st = smtpc_client_noop(f->client);
    check_latency(&k, now_us(), "reply wait");
    assert_cancelled(f, st);
    assert_int_equal(fault_finish(f, 10000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

/* Descriptors of this process that are eventfds. */
static int count_eventfds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len <= 0) continue;
        target[len] = '\0';
        n += strcmp(target, "anon_inode:[eventfd]") == 0;
    }
    closedir(d);
    return n;
}

/* No descriptor left for the wake-up when the client's first wait sleeps (its socket took the last
 * one): the waits look at the request every 50 ms instead, and the cancel still stops the reply wait
 * promptly. */
static void test_cancel_without_wakeup_descriptor(void **state) {
    fault_fixture *f = *state;
    enum { MAX_FILL = 4096 };
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_expect_eof(f, 20.0); /* never answers */
    fault_start(f);
    fault_client(f, 30000, 30000);
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    if (low.rlim_cur > 1024) low.rlim_cur = 1024; /* filling a large limit would take long */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    static int fill[MAX_FILL];
    int n = 0;
    while (n < MAX_FILL) {
        int d = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (d < 0) break;
        fill[n++] = d;
    }
    int full = n > 0 && n < MAX_FILL && errno == EMFILE;
    if (full) close(fill[--n]); /* one left: the client's socket */
    smtpc_status st_connect = full ? fault_connect(f) : SMTPC_EINTERNAL;
    canceller k;
    smtpc_status st = SMTPC_EINTERNAL;
    long long returned = 0;
    int wakeups = -1;
    if (st_connect == SMTPC_OK) {
        cancel_later(&k, f->client, CANCEL_AFTER_MS + 25); /* between two looks at the flag */
        st = smtpc_client_noop(f->client);
        returned = now_us();
        close(fill[--n]); /* one for reading the descriptor list */
        wakeups = count_eventfds();
    }
    for (int i = 0; i < n; i++) close(fill[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    if (!full) fail_msg("could not use up the descriptors (%d opened)", n);
    ASSERT_STATUS(f, st_connect, SMTPC_OK);
    check_latency(&k, returned, "reply wait, no wake-up descriptor");
    assert_int_equal(wakeups, 0); /* the case meant: the waits had no eventfd */
    assert_cancelled(f, st);
    assert_int_equal(fault_finish(f, 10000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

/* A 32 MiB body to a server that stops reading after the 354: the write blocks, the cancel stops it.
 * The message is not sent: no end of data reached the server, the recipient stays accepted. */
static void test_cancel_body_write(void **state) {
    fault_fixture *f = *state;
    f->extra_args[0] = "--rcvbuf";
    f->extra_args[1] = "4096";
    sc_hello(f, 1);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_stop_reading(f, 5.0);
    fault_start(f);
    fault_client(f, 30000, 30000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    size_t len = 32u << 20;
    f->msg = malloc(len);
    assert_non_null(f->msg);
    for (size_t i = 0; i < len; i++) f->msg[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : 'x';
    smtpc_envelope *env = fault_envelope(f, "r@example.org", NULL);
    canceller k;
    cancel_later(&k, f->client, CANCEL_AFTER_MS + 200);
    smtpc_status st = smtpc_client_sendmail(f->client, env, f->msg, len);
    check_latency(&k, now_us(), "body write (server stopped reading)");
    assert_cancelled(f, st);
    const smtpc_result *r = smtpc_client_last_result(f->client);
    assert_non_null(r);
    assert_int_equal(smtpc_result_state(r, 0), SMTPC_RCPT_ACCEPTED);
    assert_int_equal(smtpc_result_delivered_count(r), 0);
    assert_int_equal(fault_finish(f, 15000), 0);
    static const char head[] = W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA;
    fault_assert_transcript_prefix(f, head, sizeof head - 1, f->msg, len);
    assert_true(f->transcript_len < sizeof head - 1 + len);
}

/* The cancel comes after the end of data was written, while the reply to it is awaited: the
 * message may have been delivered, and each recipient says so. */
static void test_cancel_after_end_of_data(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 1);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_expect_eof(f, 20.0); /* no reply to the message */
    fault_start(f);
    fault_client(f, 30000, 30000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_envelope *env = fault_envelope(f, "r@example.org", NULL);
    canceller k;
    cancel_later(&k, f->client, CANCEL_AFTER_MS);
    smtpc_status st = smtpc_client_sendmail(f->client, env, "Subject: x\r\n\r\nbody\r\n", SMTPC_NTS);
    check_latency(&k, now_us(), "final reply wait");
    assert_cancelled(f, st);
    assert_non_null(strstr(smtpc_client_errmsg(f->client), "may or may not have been delivered"));
    const smtpc_result *r = smtpc_client_last_result(f->client);
    assert_non_null(r);
    assert_int_equal(smtpc_result_state(r, 0), SMTPC_RCPT_UNKNOWN);
    assert_int_equal(fault_finish(f, 10000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA
                            "Subject: x\r\n\r\nbody\r\n.\r\n");
}

static void test_cancel_tls_handshake(void **state) {
    fault_fixture *f = *state;
    f->extra_args[0] = "--tls-cert";
    f->extra_args[1] = tls_pki("server.pem");
    f->extra_args[2] = "--tls-key";
    f->extra_args[3] = tls_pki("server.key");
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO");
    sc_send(f, "250-fault.test\r\n250 STARTTLS\r\n");
    sc_expect(f, "STARTTLS");
    sc_send(f, "220 2.0.0 go ahead\r\n");
    sc_raw(f, "{\"starttls\": {\"stall\": 20}}");
    fault_start(f);
    fault_client(f, 30000, 30000);
    assert_int_equal(smtpc_client_set_tls_policy(f->client, SMTPC_TLS_OPPORTUNISTIC), SMTPC_OK);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    canceller k;
    cancel_later(&k, f->client, CANCEL_AFTER_MS);
    smtpc_status st = smtpc_client_starttls(f->client);
    check_latency(&k, now_us(), "TLS handshake (stalled server)");
    assert_cancelled(f, st);
    assert_int_equal(smtpc_client_tls_active(f->client), 0);
    assert_int_equal(fault_finish(f, 10000), 0);
    /* EHLO, STARTTLS, then the switch; the ClientHello is consumed by the server's TLS layer. */
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "STARTTLS\r\n--TLS--\r\n");
}

/* ---- Cancel from a signal handler. */

static smtpc_client *volatile g_signal_client;
static volatile long long g_signal_at_us;

static void on_alarm(int sig) {
    (void)sig;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe */
    g_signal_at_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    smtpc_client_cancel(g_signal_client);
}

static void test_cancel_from_signal_handler(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_expect_eof(f, 20.0);
    fault_start(f);
    fault_client(f, 30000, 30000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    g_signal_client = f->client;
    g_signal_at_us = 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* the cancel must not rely on EINTR */
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_usec = CANCEL_AFTER_MS * 1000;
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
    errno = 0;
    smtpc_status st = smtpc_client_noop(f->client);
    long long returned = now_us();
    sigaction(SIGALRM, &old, NULL);
    assert_true(g_signal_at_us > 0);
    double ms = (double)(returned - g_signal_at_us) / 1000.0;
    printf("cancel latency: %-38s %7.3f ms\n", "reply wait (SIGALRM handler)", ms);
    assert_true(ms < MAX_LATENCY_MS);
    assert_cancelled(f, st);
    assert_int_equal(fault_finish(f, 10000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_NOOP);
}

/* ---- A cancel with no call running; a cancel from a callback. */

static void test_cancel_while_idle_stops_next_call_once(void **state) {
    fault_fixture *f = *state;
    f->extra_args[0] = "--connections";
    f->extra_args[1] = "2";
    sc_send(f, RPL_GREETING);
    sc_expect_eof(f, 10.0);
    fault_start(f);
    fault_client(f, 30000, 30000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_client_cancel(f->client);
    smtpc_client_cancel(f->client); /* counts as one */
    /* Options and getters ignore it. */
    ASSERT_STATUS(f, smtpc_client_set_pipelining(f->client, 1), SMTPC_OK);
    assert_int_equal(smtpc_client_is_connected(f->client), 1);
    assert_cancelled(f, smtpc_client_noop(f->client)); /* before NOOP was sent */
    /* Consumed: the next connection works. */
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_client_close(f->client);
    assert_int_equal(fault_finish(f, 10000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

static void cancel_on_connected(smtpc_trace_kind kind, const char *text, size_t len, int64_t us,
                                void *userdata) {
    (void)us;
    if (kind == SMTPC_TRACE_INFO && len == 9 && memcmp(text, "connected", 9) == 0)
        smtpc_client_cancel((smtpc_client *)userdata); /* the documented exception to the re-entry rule */
}

static void test_cancel_from_callback(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect_eof(f, 10.0);
    fault_start(f);
    fault_client(f, 30000, 30000);
    ASSERT_STATUS(f, smtpc_client_set_trace(f->client, 1, cancel_on_connected, f->client), SMTPC_OK);
    assert_cancelled(f, fault_connect(f));
    assert_int_equal(fault_finish(f, 10000), 0);
    FAULT_ASSERT_TRANSCRIPT(f, "");
}

/* ---- Progress. */

typedef struct progress_log {
    uint64_t sent[4096];
    uint64_t total[4096];
    int calls;
    int abort_at; /* 1-based call that returns non-zero; 0: never */
} progress_log;

static int on_progress(uint64_t sent, uint64_t total, void *userdata) {
    progress_log *p = userdata;
    if (p->calls < 4096) {
        p->sent[p->calls] = sent;
        p->total[p->calls] = total;
    }
    p->calls++;
    return p->abort_at && p->calls == p->abort_at ? 1 : 0;
}

static char *make_body(size_t len) {
    char *m = malloc(len);
    assert_non_null(m);
    for (size_t i = 0; i < len; i++)
        m[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : (char)('a' + i % 26);
    return m;
}

static void test_progress_counts(void **state) {
    fault_fixture *f = *state;
    size_t len = 1000 * 78; /* 76 KiB: two blocks of the 64 KiB buffer */
    f->msg = make_body(len);
    sc_hello(f, 1);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    sc_expect_eof(f, 10.0);
    fault_start(f);
    fault_client(f, 30000, 30000);
    static progress_log p;
    memset(&p, 0, sizeof p);
    ASSERT_STATUS(f, smtpc_client_set_progress(f->client, on_progress, &p), SMTPC_OK);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_envelope *env = fault_envelope(f, "r@example.org", NULL);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, env, f->msg, len), SMTPC_OK);
    assert_true(p.calls >= 2);
    assert_true(p.calls <= 3); /* once per block, never per byte */
    for (int i = 0; i < p.calls; i++) {
        assert_int_equal(p.total[i], len);
        if (i) assert_true(p.sent[i] > p.sent[i - 1]);
    }
    assert_int_equal(p.sent[p.calls - 1], len);
    smtpc_client_close(f->client);
    assert_int_equal(fault_finish(f, 10000), 0);
    static const char head[] = W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA;
    assert_int_equal(f->transcript_len, sizeof head - 1 + len + 3);
    assert_memory_equal(f->transcript, head, sizeof head - 1);
    assert_memory_equal(f->transcript + sizeof head - 1, f->msg, len);
    assert_memory_equal(f->transcript + sizeof head - 1 + len, ".\r\n", 3);
}

/* Streamed: the total is the size hint (0 here: unknown), the count still ends at every byte. */
typedef struct reader {
    const char *data;
    size_t len, pos;
} reader;

static int read_block(char *buf, size_t cap, size_t *len, void *userdata) {
    reader *r = userdata;
    size_t n = r->len - r->pos;
    if (n > cap) n = cap;
    if (n > 10000) n = 10000;
    memcpy(buf, r->data + r->pos, n);
    r->pos += n;
    *len = n;
    return 0;
}

static void test_progress_stream_total_unknown(void **state) {
    fault_fixture *f = *state;
    size_t len = 500 * 78;
    f->msg = make_body(len);
    sc_hello(f, 1);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    sc_expect_eof(f, 10.0);
    fault_start(f);
    fault_client(f, 30000, 30000);
    static progress_log p;
    memset(&p, 0, sizeof p);
    ASSERT_STATUS(f, smtpc_client_set_progress(f->client, on_progress, &p), SMTPC_OK);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_envelope *env = fault_envelope(f, "r@example.org", NULL);
    reader r = {f->msg, len, 0};
    ASSERT_STATUS(f, smtpc_client_sendmail_stream(f->client, env, 0, read_block, &r), SMTPC_OK);
    assert_int_equal(p.calls, 4); /* 10000, 20000, 30000, 39000 */
    for (int i = 0; i < p.calls; i++) assert_int_equal(p.total[i], 0);
    assert_int_equal(p.sent[0], 10000);
    assert_int_equal(p.sent[p.calls - 1], len);
    smtpc_client_close(f->client);
    assert_int_equal(fault_finish(f, 10000), 0);
    assert_true(find(f, ".\r\n"));
}

/* Abort at the last call (every byte written, the end of data not yet): not sent. */
static void test_progress_abort_withdraws_message(void **state) {
    fault_fixture *f = *state;
    size_t len = 1000 * 78;
    f->msg = make_body(len);
    sc_hello(f, 1);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_expect_eof(f, 10.0);
    fault_start(f);
    fault_client(f, 30000, 30000);
    static progress_log p;
    memset(&p, 0, sizeof p);
    p.abort_at = 2;
    ASSERT_STATUS(f, smtpc_client_set_progress(f->client, on_progress, &p), SMTPC_OK);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_envelope *env = fault_envelope(f, "r@example.org", NULL);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, env, f->msg, len), SMTPC_EUSER);
    assert_int_equal(p.calls, 2);
    assert_int_equal(p.sent[1], len);
    assert_non_null(strstr(smtpc_client_errmsg(f->client), "progress callback"));
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    const smtpc_result *r = smtpc_client_last_result(f->client);
    assert_non_null(r);
    assert_int_equal(smtpc_result_state(r, 0), SMTPC_RCPT_ACCEPTED);
    assert_int_equal(smtpc_result_delivered_count(r), 0);
    assert_int_equal(fault_finish(f, 10000), 0);
    static const char head[] = W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA;
    /* Part of the message (the block gathered for the next write is dropped), and no end of data. */
    fault_assert_transcript_prefix(f, head, sizeof head - 1, f->msg, len);
    assert_true(f->transcript_len < sizeof head - 1 + len + 3);
    assert_false(find(f, "\r\n.\r\n"));
}

/* A cancel from the progress callback: the transfer never blocks (the server reads everything), so
 * only the check at every step can see it. The message is withdrawn: no end of data is sent. */
static int cancel_from_progress(uint64_t sent, uint64_t total, void *userdata) {
    (void)sent;
    (void)total;
    smtpc_client_cancel((smtpc_client *)userdata);
    return 0;
}

static void test_cancel_from_progress_callback(void **state) {
    fault_fixture *f = *state;
    size_t len = 1000 * 78;
    f->msg = make_body(len);
    sc_hello(f, 1);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_expect_eof(f, 10.0);
    fault_start(f);
    fault_client(f, 30000, 30000);
    ASSERT_STATUS(f, smtpc_client_set_progress(f->client, cancel_from_progress, f->client), SMTPC_OK);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_envelope *env = fault_envelope(f, "r@example.org", NULL);
    assert_cancelled(f, smtpc_client_sendmail(f->client, env, f->msg, len));
    const smtpc_result *r = smtpc_client_last_result(f->client);
    assert_non_null(r);
    assert_int_equal(smtpc_result_state(r, 0), SMTPC_RCPT_ACCEPTED);
    assert_int_equal(fault_finish(f, 10000), 0);
    static const char head[] = W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA;
    fault_assert_transcript_prefix(f, head, sizeof head - 1, f->msg, len);
    assert_false(find(f, "\r\n.\r\n"));
}

static int cancel_setup(void **state) {
    int rc = fault_setup(state);
    if (rc == 0) {
        fault_fixture *f = *state;
        memset(f->extra_args, 0, sizeof f->extra_args);
    }
    return rc;
}

int main(void) {
    if (tls_pki_setup() != 0) {
        printf("SKIP: cannot make the test PKI\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cancel_connect_blackhole, cancel_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_greeting_wait, cancel_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_reply_wait, cancel_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_body_write, cancel_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_after_end_of_data, cancel_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_tls_handshake, cancel_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_without_wakeup_descriptor, cancel_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_from_signal_handler, cancel_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_idle_stops_next_call_once, cancel_setup,
                                        fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_from_callback, cancel_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_from_progress_callback, cancel_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_progress_counts, cancel_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_progress_stream_total_unknown, cancel_setup, fault_teardown),
        cmocka_unit_test_setup_teardown(test_progress_abort_withdraws_message, cancel_setup, fault_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tls_pki_teardown();
    return rc;
}
