/* SPDX-License-Identifier: MIT */
/*
 * smtpc-bench-multi HOST PORT CONNECTIONS COUNT SIZE: one thread, CONNECTIONS concurrent connections
 * to HOST:PORT, COUNT messages in all, each the message of smtpc-bench-client (bench_message.h: SIZE
 * body bytes from bench@example.com to sink@example.com). It runs on the multi-session driver of
 * examples/smtp_pool.h (epoll, non-blocking clients, each connection sending its share through the
 * message queue with a window of 32). Exit 0 only when every message was accepted.
 *
 * PORT may be a list, PORT,PORT,...: the messages are then spread evenly over the listeners, with
 * CONNECTIONS divided between them (to measure past one single-process sink: bench/compare/multi.sh).
 *
 * Prints the figures of smtpc-bench-client (connections=, messages=, xfer_seconds=, here from the
 * first connect to the last result: connection set-up included) and wall_seconds, msg_per_s,
 * mb_per_s (message bytes), cpu_seconds and cpu_us_per_msg (getrusage of this process, user +
 * system), max_open (the most connections open at once).
 */
#include "bench_message.h"
#include "smtp_pool.h"

#include <sys/resource.h>

typedef struct tally {
    unsigned long ok, failed;
} tally;

static void on_result(void *arg, const smtp_pool_result *r) {
    tally *t = arg;
    if (r->state == SMTPC_MESSAGE_DELIVERED) {
        t->ok++;
        return;
    }
    if (t->failed++ < 10)
        fprintf(stderr, "smtpc-bench-multi: message %lu: %s (%d): %s\n",
                (unsigned long)(uintptr_t)r->job_data, smtpc_status_name(r->status), r->code, r->errmsg);
}

static int setup(void *arg, smtpc_client *c, const char *host, uint16_t port) {
    (void)arg;
    (void)host;
    (void)port;
    /* A benchmark of the wire, not of TLS: the sinks offer none, and none is asked for. */
    if (smtpc_client_set_tls_policy(c, SMTPC_TLS_NONE) != SMTPC_OK ||
        smtpc_client_set_local_hostname(c, "bench.example.com", SMTPC_NTS) != SMTPC_OK)
        return -1;
    return 0;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    const char *host;
    unsigned port;
    unsigned long count, conns;
    size_t size, len = 0;
    char *end = NULL;
    if (argc != 6) {
        fprintf(stderr, "usage: smtpc-bench-multi HOST PORT CONNECTIONS COUNT SIZE\n");
        return 2;
    }
    conns = strtoul(argv[3], &end, 10);
    if (!*argv[3] || *end || conns == 0 || conns > 100000) {
        fprintf(stderr, "smtpc-bench-multi: bad CONNECTIONS (1..100000)\n");
        return 2;
    }
    /* PORT[,PORT...]; the other arguments as smtpc-bench-client takes them. */
    uint16_t ports[16];
    size_t nports = 0;
    char portlist[128];
    snprintf(portlist, sizeof portlist, "%s", argv[2]);
    for (char *tok = strtok(portlist, ","); tok; tok = strtok(NULL, ",")) {
        char *rest[5] = {argv[0], argv[1], tok, argv[4], argv[5]};
        bench_args(5, rest, "smtpc-bench-multi", &host, &port, &count, &size);
        if (nports == sizeof ports / sizeof ports[0]) {
            fprintf(stderr, "smtpc-bench-multi: at most 16 ports\n");
            return 2;
        }
        ports[nports++] = (uint16_t)port;
    }
    if (!nports || conns < nports) {
        fprintf(stderr, "smtpc-bench-multi: bad PORT list (or fewer CONNECTIONS than ports)\n");
        return 2;
    }

    char *msg = bench_message(size, &len);
    smtpc_envelope *env = NULL;
    tally t = {0, 0};
    smtp_pool_options opt;
    memset(&opt, 0, sizeof opt);
    opt.max_connections = (unsigned)conns;
    opt.max_per_host = (unsigned)(conns / nports);
    opt.on_result = on_result;
    opt.result_arg = &t;
    opt.setup = setup;
    /* SMTPC_BENCH_WINDOW: messages queued per connection (the driver's default: 32). */
    const char *window = getenv("SMTPC_BENCH_WINDOW");
    if (window) opt.window = (unsigned)strtoul(window, NULL, 10);
    smtp_pool *pool = smtp_pool_new(&opt);
    if (!msg || !pool || smtpc_envelope_new(&env) != SMTPC_OK ||
        smtpc_envelope_set_sender(env, BENCH_SENDER, SMTPC_NTS) != SMTPC_OK ||
        smtpc_envelope_add_recipient(env, BENCH_RECIPIENT, SMTPC_NTS) != SMTPC_OK) {
        fprintf(stderr, "smtpc-bench-multi: set-up failed (out of memory, or too many descriptors?)\n");
        return 1;
    }
    for (unsigned long i = 0; i < count; i++) {
        /* The same body for every message: borrowed by each job until it is reported. */
        smtpc_status st = smtp_pool_add(pool, host, ports[i % nports], env, msg, len, (void *)(uintptr_t)i);
        if (st != SMTPC_OK) {
            fprintf(stderr, "smtpc-bench-multi: add: %s\n", smtpc_status_name(st));
            return 1;
        }
    }
    double c0 = cpu_seconds(), t0 = bench_now();
    int rc = smtp_pool_run(pool);
    double t1 = bench_now(), c1 = cpu_seconds();
    smtp_pool_stats stats;
    smtp_pool_get_stats(pool, &stats);
    if (rc != 0) perror("smtpc-bench-multi: epoll_wait");
    double secs = t1 - t0, cpu = c1 - c0;
    bench_report(stats.connections_opened, t.ok, secs);
    printf("wall_seconds=%.6f\nmsg_per_s=%.0f\nmb_per_s=%.2f\ncpu_seconds=%.3f\ncpu_us_per_msg=%.1f\n"
           "max_open=%u\nfailed_connections=%lu\n",
           secs, secs > 0 ? (double)t.ok / secs : 0.0,
           secs > 0 ? (double)t.ok * (double)len / secs / 1e6 : 0.0, cpu,
           t.ok ? cpu * 1e6 / (double)t.ok : 0.0, stats.max_open, stats.connections_failed);
    smtp_pool_free(pool);
    smtpc_envelope_free(env);
    free(msg);
    return rc == 0 && t.ok == count && t.failed == 0 ? 0 : 1;
}
