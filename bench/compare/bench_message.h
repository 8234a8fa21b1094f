/* SPDX-License-Identifier: MIT */
/*
 * The message every client of the comparison sends (bench/compare/README.md): headers From, To,
 * Subject, Date and Message-ID, a blank line, then a body of exactly `size` bytes made of lines of
 * 76 printable characters plus CRLF, none starting with '.'. When `size` is not a multiple of 78 the
 * last line is shorter (a remainder of 1 byte lengthens the line before it instead, so that every
 * line still ends with CRLF). Header-only so that each client is one translation unit.
 */
#ifndef SMTPC_BENCH_MESSAGE_H
#define SMTPC_BENCH_MESSAGE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_SENDER "bench@example.com"
#define BENCH_RECIPIENT "sink@example.com"

static const char bench_headers[] = "From: <" BENCH_SENDER ">\r\n"
                                    "To: <" BENCH_RECIPIENT ">\r\n"
                                    "Subject: smtpc comparison benchmark\r\n"
                                    "Date: Wed, 02 Dec 2026 00:00:00 +0000\r\n"
                                    "Message-ID: <bench.1@example.com>\r\n"
                                    "\r\n";

/* The whole message (headers and body), NUL-terminated; *len gets its length. NULL on ENOMEM. */
static char *bench_message(size_t size, size_t *len) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t hlen = sizeof bench_headers - 1;
    char *m = (char *)malloc(hlen + size + 1);
    size_t off = hlen;
    size_t line = 0;
    if (!m) return NULL;
    memcpy(m, bench_headers, hlen);
    while (off < hlen + size) {
        size_t left = hlen + size - off;
        size_t chars = left >= 78 ? 76 : (left >= 2 ? left - 2 : 0);
        if (left >= 78 && left - 78 == 1) chars = 77; /* absorb a lone trailing byte */
        for (size_t i = 0; i < chars; ++i) m[off + i] = alphabet[(line + i) % (sizeof alphabet - 1)];
        off += chars;
        if (off + 2 <= hlen + size) {
            m[off++] = '\r';
            m[off++] = '\n';
        } else {
            m[off++] = 'x'; /* size 1: no room for a line end at all */
        }
        ++line;
    }
    m[off] = '\0';
    *len = off;
    return m;
}

static double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses "HOST PORT COUNT SIZE"; exits with status 2 and a usage line on bad arguments. */
static void bench_args(int argc, char **argv, const char *name, const char **host, unsigned *port,
                       unsigned long *count, size_t *size) {
    char *end = NULL;
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST PORT COUNT SIZE\n", name);
        exit(2);
    }
    *host = argv[1];
    *port = (unsigned)strtoul(argv[2], &end, 10);
    if (!*argv[2] || *end || *port == 0 || *port > 65535) goto bad;
    *count = strtoul(argv[3], &end, 10);
    if (!*argv[3] || *end || *count == 0) goto bad;
    *size = (size_t)strtoul(argv[4], &end, 10);
    if (!*argv[4] || *end) goto bad;
    return;
bad:
    fprintf(stderr, "%s: bad arguments (HOST PORT COUNT SIZE; port 1..65535, COUNT >= 1)\n", name);
    exit(2);
}

static void bench_report(unsigned long connections, unsigned long messages, double seconds) {
    printf("connections=%lu\nmessages=%lu\nxfer_seconds=%.6f\n", connections, messages, seconds);
}

#endif
