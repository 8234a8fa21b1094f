/* SPDX-License-Identifier: MIT */
/*
 * smtpc-bench-client HOST PORT COUNT SIZE: one connection, EHLO, COUNT messages from
 * bench@example.com to sink@example.com (bench_message.h), through the fastest API the library
 * offers: the message queue (smtpc_client_enqueue / smtpc_client_next_result) with its default
 * window (32 messages, 1 MiB), PIPELINING across messages, and BDAT when CHUNKING is offered. A
 * message of 1 MiB or more is streamed through a reader that makes the same bytes as it goes, so the
 * whole message is never in memory. Exit 0 only when every message got a 2xx after its data. Prints
 * connections=, messages= and xfer_seconds= (from after EHLO to the last message's reply).
 */
#include "bench_message.h"
#include "smtpc.h"

#define STREAM_FROM (1024 * 1024)

/* Makes bench_message()'s bytes block by block: the headers, then its lines, without holding them. */
typedef struct stream {
    size_t size; /* body bytes */
    size_t off;  /* bytes of the whole message made so far */
    size_t line;
} stream;

static int stream_read(char *buf, size_t cap, size_t *len, void *userdata) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    stream *s = userdata;
    size_t hlen = sizeof bench_headers - 1, total = hlen + s->size, n = 0;
    while (n < cap && s->off < hlen) buf[n++] = bench_headers[s->off++];
    /* Whole lines only (a line is at most 79 bytes), as bench_message() lays them out. */
    while (s->off < total) {
        size_t left = total - s->off;
        size_t chars = left >= 78 ? 76 : (left >= 2 ? left - 2 : 0);
        if (left >= 78 && left - 78 == 1) chars = 77;
        size_t need = chars + (s->off + chars + 2 <= total ? 2 : 1);
        if (n + need > cap) break;
        for (size_t i = 0; i < chars; ++i) buf[n++] = alphabet[(s->line + i) % (sizeof alphabet - 1)];
        if (need == chars + 2) {
            buf[n++] = '\r';
            buf[n++] = '\n';
        } else {
            buf[n++] = 'x';
        }
        s->off += need;
        ++s->line;
    }
    *len = n;
    return 0;
}

int main(int argc, char **argv) {
    const char *host;
    unsigned port;
    unsigned long count, queued = 0, done = 0;
    size_t size, len = 0;
    bench_args(argc, argv, "smtpc-bench-client", &host, &port, &count, &size);
    int streamed = size >= STREAM_FROM;
    char *msg = streamed ? NULL : bench_message(size, &len);
    smtpc_envelope *env = NULL;
    smtpc_message *m = NULL;
    smtpc_client *c = NULL;
    smtpc_status st;
    if ((!streamed && !msg) || (st = smtpc_envelope_new(&env)) != SMTPC_OK ||
        (st = smtpc_envelope_set_sender(env, BENCH_SENDER, SMTPC_NTS)) != SMTPC_OK ||
        (st = smtpc_envelope_add_recipient(env, BENCH_RECIPIENT, SMTPC_NTS)) != SMTPC_OK ||
        (st = smtpc_message_new(&m)) != SMTPC_OK || (st = smtpc_message_set_envelope(m, env)) != SMTPC_OK ||
        (st = smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP)) != SMTPC_OK) {
        fprintf(stderr, "smtpc-bench-client: set-up failed\n");
        return 1;
    }
    stream *streams = NULL;
    if (streamed) {
        /* One reader state per message in the window (each message is read once, as it is sent). */
        streams = calloc(count, sizeof *streams);
        if (!streams) {
            fprintf(stderr, "smtpc-bench-client: out of memory\n");
            return 1;
        }
    } else if ((st = smtpc_message_set_body(m, msg, len)) != SMTPC_OK) {
        fprintf(stderr, "smtpc-bench-client: set-up failed\n");
        return 1;
    }
    /* A benchmark of the wire, not of TLS: the sinks offer none, and none is asked for. */
    if ((st = smtpc_client_set_tls_policy(c, SMTPC_TLS_NONE)) != SMTPC_OK ||
        (st = smtpc_client_set_local_hostname(c, "bench.example.com", SMTPC_NTS)) != SMTPC_OK ||
        (st = smtpc_client_connect(c, host, SMTPC_NTS, (uint16_t)port)) != SMTPC_OK ||
        (st = smtpc_client_ehlo_or_helo_if_needed(c)) != SMTPC_OK) {
        fprintf(stderr, "smtpc-bench-client: connect/EHLO: %s: %s\n", smtpc_status_name(st),
                smtpc_client_errmsg(c));
        return 1;
    }
    double t0 = bench_now();
    int failed = 0;
    while (done < count && !failed) {
        /* Keep the window full: enqueue drives the connection itself once it is. */
        while (queued < count && smtpc_client_queued(c) < 32) {
            if (streamed) {
                streams[queued].size = size;
                st = smtpc_message_set_body_reader(m, (uint64_t)0, stream_read, &streams[queued]);
            }
            if (st == SMTPC_OK) st = smtpc_client_enqueue(c, m);
            if (st != SMTPC_OK) {
                fprintf(stderr, "smtpc-bench-client: enqueue %lu: %s: %s\n", queued + 1,
                        smtpc_status_name(st), smtpc_client_errmsg(c));
                failed = 1;
                break;
            }
            ++queued;
        }
        smtpc_message_result *r = NULL;
        st = smtpc_client_next_result(c, &r);
        if (st != SMTPC_OK || !r) break;
        if (smtpc_message_result_status(r) != SMTPC_OK) {
            fprintf(stderr, "smtpc-bench-client: message %lu: %s: %s\n", done + 1,
                    smtpc_status_name(smtpc_message_result_status(r)), smtpc_message_result_errmsg(r, NULL));
            failed = 1;
        } else {
            ++done;
        }
        smtpc_message_result_free(r);
    }
    double t1 = bench_now();
    if (done == count) smtpc_client_quit(c);
    bench_report(1, done, t1 - t0);
    smtpc_client_free(c);
    smtpc_message_free(m);
    smtpc_envelope_free(env);
    free(streams);
    free(msg);
    return done == count ? 0 : 1;
}
