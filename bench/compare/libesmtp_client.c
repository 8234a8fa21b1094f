/* SPDX-License-Identifier: MIT */
/*
 * bench-libesmtp-client HOST PORT COUNT SIZE: the comparison's message (bench_message.h) COUNT times
 * through libESMTP, all queued on one session so that libESMTP sends them over one connection, with
 * PIPELINING and CHUNKING as libESMTP uses them by default. Exit 0 only when every message's transfer
 * status is 2xx. xfer_seconds runs from the connect event (so it includes the greeting and EHLO, one
 * round trip more than the other clients count).
 */
#include "bench_message.h"

#include <libesmtp.h>

struct counters {
    unsigned long connects;
    double t0;
};

static void on_event(smtp_session_t session, int event_no, void *arg, ...) {
    struct counters *c = (struct counters *)arg;
    (void)session;
    if (event_no == SMTP_EV_CONNECT) {
        if (c->connects++ == 0) c->t0 = bench_now();
    }
}

int main(int argc, char **argv) {
    const char *host;
    unsigned port;
    unsigned long count, ok = 0;
    size_t size, len = 0;
    char server[300];
    struct counters counters = {0, 0.0};
    bench_args(argc, argv, "bench-libesmtp-client", &host, &port, &count, &size);
    char *msg = bench_message(size, &len);
    smtp_session_t session = smtp_create_session();
    smtp_message_t *messages = calloc(count, sizeof *messages);
    if (!msg || !session || !messages) {
        fprintf(stderr, "bench-libesmtp-client: set-up failed\n");
        return 1;
    }
    snprintf(server, sizeof server, "%s:%u", host, port);
    smtp_set_server(session, server);
    smtp_set_hostname(session, "bench.example.com");
    smtp_set_eventcb(session, on_event, &counters);
    for (unsigned long i = 0; i < count; ++i) {
        messages[i] = smtp_add_message(session);
        if (!messages[i] || !smtp_set_reverse_path(messages[i], BENCH_SENDER) ||
            !smtp_add_recipient(messages[i], BENCH_RECIPIENT) || !smtp_set_message_str(messages[i], msg)) {
            fprintf(stderr, "bench-libesmtp-client: cannot queue message %lu\n", i + 1);
            return 1;
        }
    }
    if (!smtp_start_session(session)) {
        char buf[256];
        fprintf(stderr, "bench-libesmtp-client: %s\n", smtp_strerror(smtp_errno(), buf, sizeof buf));
    }
    double t1 = bench_now();
    for (unsigned long i = 0; i < count; ++i) {
        const smtp_status_t *s = smtp_message_transfer_status(messages[i]);
        if (s && s->code >= 200 && s->code < 300) ++ok;
    }
    bench_report(counters.connects, ok, counters.connects ? t1 - counters.t0 : 0.0);
    smtp_destroy_session(session);
    free(messages);
    free(msg);
    if (ok != count) {
        fprintf(stderr, "bench-libesmtp-client: %lu of %lu messages accepted\n", ok, count);
        return 1;
    }
    return 0;
}
