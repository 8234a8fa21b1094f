/* SPDX-License-Identifier: MIT */
/*
 * smtpc-bench-client HOST PORT COUNT SIZE: one connection, EHLO, COUNT messages from
 * bench@example.com to sink@example.com (bench_message.h), through the fastest API the library
 * offers today: smtpc_client_sendmail() with PIPELINING (and BDAT when CHUNKING is offered). Exit 0
 * only when every message got a 2xx after its data. Prints connections=, messages= and xfer_seconds=
 * (from after EHLO to the last message's reply).
 */
#include "bench_message.h"
#include "smtpc.h"

int main(int argc, char **argv) {
    const char *host;
    unsigned port;
    unsigned long count, sent = 0;
    size_t size, len = 0;
    bench_args(argc, argv, "smtpc-bench-client", &host, &port, &count, &size);
    char *msg = bench_message(size, &len);
    smtpc_envelope *env = NULL;
    smtpc_client *c = NULL;
    smtpc_status st;
    if (!msg || (st = smtpc_envelope_new(&env)) != SMTPC_OK ||
        (st = smtpc_envelope_set_sender(env, BENCH_SENDER, SMTPC_NTS)) != SMTPC_OK ||
        (st = smtpc_envelope_add_recipient(env, BENCH_RECIPIENT, SMTPC_NTS)) != SMTPC_OK ||
        (st = smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP)) != SMTPC_OK) {
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
    for (; sent < count; ++sent) {
        st = smtpc_client_sendmail(c, env, msg, len);
        if (st != SMTPC_OK) {
            fprintf(stderr, "smtpc-bench-client: message %lu: %s: %s\n", sent + 1, smtpc_status_name(st),
                    smtpc_client_errmsg(c));
            break;
        }
    }
    double t1 = bench_now();
    if (sent == count) smtpc_client_quit(c);
    bench_report(1, sent, t1 - t0);
    smtpc_client_free(c);
    smtpc_envelope_free(env);
    free(msg);
    return sent == count ? 0 : 1;
}
