/* SPDX-License-Identifier: MIT */
/*
 * bench_sendmail: sends N messages of S bytes, each to R recipients, over one connection through the
 * public C API, and prints messages/s and MB/s (message bytes before encoding).
 *
 * usage: bench_sendmail HOST PORT MESSAGES SIZE RECIPIENTS PIPELINING(0|1)
 * Output: one line "smtpc pipelining=P rcpts=R size=S messages=N seconds=T msg_per_s=M mb_per_s=B".
 */
#include "smtpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A text message of exactly `size` bytes: headers, then lines of 72 characters with CRLF. */
static char *make_message(size_t size) {
    static const char head[] =
        "From: bench@example.org\r\nTo: sink@example.org\r\nSubject: smtpc benchmark\r\n\r\n";
    static const char line[] = "The quick brown fox jumps over the lazy dog. 0123456789 abcdefghijklmnop\r\n";
    char *m = malloc(size + 1);
    size_t off = 0;
    if (!m) return NULL;
    while (off < size) {
        const char *src = off == 0 ? head : line;
        size_t n = strlen(src);
        if (n > size - off) n = size - off;
        memcpy(m + off, src, n);
        off += n;
    }
    m[size] = '\0';
    return m;
}

static unsigned long arg(const char *s, const char *what) {
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end) {
        fprintf(stderr, "bench_sendmail: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: bench_sendmail HOST PORT MESSAGES SIZE RECIPIENTS PIPELINING\n");
        return 2;
    }
    const char *host = argv[1];
    uint16_t port = (uint16_t)arg(argv[2], "port");
    unsigned long messages = arg(argv[3], "message count");
    size_t size = (size_t)arg(argv[4], "size");
    unsigned long rcpts = arg(argv[5], "recipient count");
    int pipelining = (int)arg(argv[6], "pipelining flag");

    char *msg = make_message(size);
    smtpc_envelope *env = NULL;
    smtpc_client *c = NULL;
    smtpc_status st;
    if (!msg || smtpc_envelope_new(&env) != SMTPC_OK ||
        smtpc_envelope_set_sender(env, "bench@example.org", SMTPC_NTS) != SMTPC_OK) {
        fprintf(stderr, "bench_sendmail: setup failed\n");
        return 1;
    }
    for (unsigned long i = 0; i < rcpts; ++i) {
        char addr[64];
        snprintf(addr, sizeof addr, "rcpt%lu@example.org", i);
        if (smtpc_envelope_add_recipient(env, addr, SMTPC_NTS) != SMTPC_OK) return 1;
    }
    if ((st = smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP)) != SMTPC_OK ||
        (st = smtpc_client_set_local_hostname(c, "bench.example.org", SMTPC_NTS)) != SMTPC_OK ||
        (st = smtpc_client_set_pipelining(c, pipelining)) != SMTPC_OK ||
        (st = smtpc_client_connect(c, host, SMTPC_NTS, port)) != SMTPC_OK ||
        (st = smtpc_client_ehlo_or_helo_if_needed(c)) != SMTPC_OK) {
        fprintf(stderr, "bench_sendmail: connect/EHLO: %s: %s\n", smtpc_status_name(st),
                smtpc_client_errmsg(c));
        return 1;
    }
    double t0 = now_s();
    for (unsigned long i = 0; i < messages; ++i) {
        st = smtpc_client_sendmail(c, env, msg, size);
        if (st != SMTPC_OK) {
            fprintf(stderr, "bench_sendmail: message %lu: %s: %s\n", i, smtpc_status_name(st),
                    smtpc_client_errmsg(c));
            return 1;
        }
    }
    double t = now_s() - t0;
    smtpc_client_quit(c);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    free(msg);
    printf("smtpc pipelining=%d rcpts=%lu size=%zu messages=%lu seconds=%.3f msg_per_s=%.1f mb_per_s=%.2f\n",
           pipelining, rcpts, size, messages, t, (double)messages / t,
           (double)messages * (double)size / t / 1e6);
    return 0;
}
