/* SPDX-License-Identifier: MIT */
/*
 * bench-raw-client HOST PORT COUNT SIZE: the wire's limit for one connection. After the greeting and
 * EHLO it writes every message's MAIL, RCPT, DATA, body and final dot as one continuous pipelined
 * stream, without waiting for any reply (not a correct SMTP client: it does not wait for 354), while
 * reading and counting the replies: 4 per message (MAIL, RCPT, DATA, end of data). Exit 0 only when
 * every message's end-of-data reply is 2xx. The body is the bench_message.h message, already
 * dot-stuffed (none of its lines starts with '.').
 */
#include "bench_message.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_to(const char *host, unsigned port) {
    char portstr[16];
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof portstr, "%u", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0) return -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Reply reader: counts complete replies (a line whose 4th byte is a space) and their codes. */
struct replies {
    char line[4096];
    size_t used;
    unsigned long count, final_ok, final_seen;
};

static void feed(struct replies *r, const char *buf, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (r->used < sizeof r->line) r->line[r->used++] = buf[i];
        if (buf[i] != '\n') continue;
        if (r->used >= 4 && r->line[3] == ' ') {
            ++r->count;
            /* After greeting and EHLO, every 4th reply answers an end of data. */
            if (r->count > 2 && (r->count - 2) % 4 == 0) {
                ++r->final_seen;
                if (r->line[0] == '2') ++r->final_ok;
            }
        }
        r->used = 0;
    }
}

/* Blocks until `want` replies have been counted. */
static int wait_replies(int fd, struct replies *r, unsigned long want) {
    char buf[65536];
    while (r->count < want) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return -1;
        feed(r, buf, (size_t)n);
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *host;
    unsigned port;
    unsigned long count;
    size_t size, len = 0;
    bench_args(argc, argv, "bench-raw-client", &host, &port, &count, &size);
    char *msg = bench_message(size, &len);
    static const char envelope[] =
        "MAIL FROM:<" BENCH_SENDER ">\r\nRCPT TO:<" BENCH_RECIPIENT ">\r\nDATA\r\n";
    /* One message's bytes: envelope, body, terminator. */
    size_t elen = sizeof envelope - 1, unit = elen + len + 3;
    char *one = msg ? malloc(unit) : NULL;
    struct replies r;
    memset(&r, 0, sizeof r);
    int fd = connect_to(host, port);
    if (!one || fd < 0) {
        fprintf(stderr, "bench-raw-client: %s\n", fd < 0 ? "cannot connect" : "out of memory");
        return 1;
    }
    memcpy(one, envelope, elen);
    memcpy(one + elen, msg, len);
    memcpy(one + elen + len, ".\r\n", 3);
    static const char ehlo[] = "EHLO bench.example.com\r\n";
    if (wait_replies(fd, &r, 1) != 0 || send(fd, ehlo, sizeof ehlo - 1, MSG_NOSIGNAL) < 0 ||
        wait_replies(fd, &r, 2) != 0) {
        fprintf(stderr, "bench-raw-client: greeting/EHLO failed\n");
        return 1;
    }
    double t0 = bench_now();
    unsigned long msgs_written = 0;
    size_t off = 0; /* within the current message unit */
    unsigned long want = 2 + 4 * count;
    char buf[65536];
    while (r.count < want) {
        struct pollfd p = {fd, POLLIN | (msgs_written < count ? POLLOUT : 0), 0};
        if (poll(&p, 1, 30000) <= 0) break;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN)) break;
            if (n > 0) feed(&r, buf, (size_t)n);
        }
        if ((p.revents & POLLOUT) && msgs_written < count) {
            ssize_t n = send(fd, one + off, unit - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN) break;
            if (n > 0) {
                off += (size_t)n;
                if (off == unit) {
                    off = 0;
                    ++msgs_written;
                }
            }
        }
    }
    double t1 = bench_now();
    (void)!send(fd, "QUIT\r\n", 6, MSG_NOSIGNAL);
    close(fd);
    bench_report(1, r.final_ok, t1 - t0);
    free(one);
    free(msg);
    if (r.final_ok != count) {
        fprintf(stderr, "bench-raw-client: %lu of %lu messages accepted\n", r.final_ok, count);
        return 1;
    }
    return 0;
}
