/* SPDX-License-Identifier: MIT */
/*
 * bench_tls: the cost of TLS sessions through the public C API (docs/performance.md, "TLS").
 *
 *   bench_tls HOST PORT SESSIONS MODE [CAFILE]
 *
 * Each session: connect, sendmail of one small message (the default policy on loopback upgrades
 * with STARTTLS: a full handshake, no resumption), QUIT. MODE says how clients and configurations
 * are made, as programs do:
 *   default     a new client per session, no TLS configuration (the shared default, system store)
 *   newconfig   a new client and a new configuration without CA per session (system store)
 *   cafile      a new client per session, one configuration with CAFILE for all
 *   cafile-new  a new client and a new configuration with CAFILE per session
 *   reuse       one client, reconnecting for every session, no configuration
 * Prints one line: mode, sessions, seconds, ms per session, whether the last one was verified.
 */
#include <smtpc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char k_msg[] =
    "From: bench@example.org\r\nTo: sink@example.org\r\nSubject: tls bench\r\n\r\nhello\r\n";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(smtpc_client *c, const char *what, smtpc_status st) {
    fprintf(stderr, "bench_tls: %s: %s: %s\n", what, smtpc_status_name(st), c ? smtpc_client_errmsg(c) : "");
    exit(1);
}

static smtpc_tls_config *ca_config(const char *cafile) {
    smtpc_tls_config *cfg = NULL;
    if (smtpc_tls_config_new(&cfg) != SMTPC_OK) die(NULL, "smtpc_tls_config_new", SMTPC_ENOMEM);
    if (cafile != NULL && smtpc_tls_config_set_ca_file(cfg, cafile, SMTPC_NTS) != SMTPC_OK) {
        fprintf(stderr, "bench_tls: %s\n", smtpc_tls_config_errmsg(cfg));
        exit(1);
    }
    return cfg;
}

static int session(smtpc_client *c, const char *host, unsigned port, const smtpc_envelope *env) {
    smtpc_status st = smtpc_client_connect(c, host, SMTPC_NTS, (uint16_t)port);
    if (st != SMTPC_OK) die(c, "connect", st);
    if ((st = smtpc_client_sendmail(c, env, k_msg, sizeof k_msg - 1)) != SMTPC_OK) die(c, "sendmail", st);
    if (!smtpc_client_tls_active(c))
        die(c, "not encrypted (does the server offer STARTTLS?)", SMTPC_ETLS_REQUIRED);
    int verified = smtpc_client_tls_verified(c);
    if ((st = smtpc_client_quit(c)) != SMTPC_OK) die(c, "quit", st);
    return verified;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr,
                "usage: bench_tls HOST PORT SESSIONS default|newconfig|cafile|cafile-new|reuse [CAFILE]\n");
        return 2;
    }
    const char *host = argv[1], *mode = argv[4], *cafile = argc > 5 ? argv[5] : NULL;
    unsigned port = (unsigned)strtoul(argv[2], NULL, 10);
    long sessions = strtol(argv[3], NULL, 10);
    int own_cfg = strcmp(mode, "cafile") == 0,
        new_cfg = strcmp(mode, "newconfig") == 0 || strcmp(mode, "cafile-new") == 0;
    if ((own_cfg || strcmp(mode, "cafile-new") == 0) && cafile == NULL) {
        fprintf(stderr, "bench_tls: mode %s needs CAFILE\n", mode);
        return 2;
    }
    smtpc_envelope *env = NULL;
    if (smtpc_envelope_new(&env) != SMTPC_OK ||
        smtpc_envelope_set_sender(env, "bench@example.org", SMTPC_NTS) != SMTPC_OK ||
        smtpc_envelope_add_recipient(env, "sink@example.org", SMTPC_NTS) != SMTPC_OK)
        die(NULL, "envelope", SMTPC_ENOMEM);
    smtpc_tls_config *shared = own_cfg ? ca_config(cafile) : NULL;
    smtpc_client *reused = NULL;
    int verified = 0;
    double t0 = now();
    for (long i = 0; i < sessions; i++) {
        smtpc_client *c = reused;
        if (c == NULL && smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP) != SMTPC_OK)
            die(NULL, "smtpc_client_new", SMTPC_ENOMEM);
        smtpc_client_set_local_hostname(c, "bench.example.org", SMTPC_NTS);
        smtpc_tls_config *cfg = new_cfg ? ca_config(strcmp(mode, "cafile-new") == 0 ? cafile : NULL) : shared;
        if (cfg != NULL) smtpc_client_set_tls_config(c, cfg);
        verified = session(c, host, port, env);
        if (new_cfg) smtpc_tls_config_free(cfg);
        if (strcmp(mode, "reuse") == 0) reused = c;
        else smtpc_client_free(c);
    }
    double t = now() - t0;
    smtpc_client_free(reused);
    smtpc_tls_config_free(shared);
    smtpc_envelope_free(env);
    printf("smtpc mode=%s sessions=%ld seconds=%.3f ms_per_session=%.2f verified=%d\n", mode, sessions, t,
           t * 1000.0 / (double)sessions, verified);
    return 0;
}
