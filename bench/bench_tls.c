/* SPDX-License-Identifier: MIT */
/*
 * bench_tls: the cost of TLS sessions through the public C API (docs/performance.md, "TLS").
 *
 *   bench_tls HOST PORT SESSIONS MODE [CAFILE]
 *
 * Each session: connect, sendmail of one small message (the default policy on loopback upgrades
 * with STARTTLS; BENCH_TLS_IMPLICIT=1 in the environment: implicit TLS instead), QUIT. MODE says how
 * clients and configurations are made, as programs do:
 *   default     a new client per session, no TLS configuration (the shared default, system store)
 *   newconfig   a new client and a new configuration without CA per session (system store)
 *   cafile      a new client per session, one configuration with CAFILE for all (sessions resumed)
 *   cafile-new  a new client and a new configuration with CAFILE per session (never resumed)
 *   reuse       one client, reconnecting for every session, no configuration
 *   full        as cafile with session resumption turned off: a full handshake every time
 *   resumed     as cafile (resumption on, the default); with BENCH_TLS_HANDSHAKE_ONLY=1 in the
 *               environment, full and resumed do the handshake and QUIT only (no message)
 * Prints one line: mode, sessions, seconds, ms per session, client CPU (user + system) per
 * session, sessions resumed, whether the last one was verified.
 */
#include <smtpc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char k_msg[] =
    "From: bench@example.org\r\nTo: sink@example.org\r\nSubject: tls bench\r\n\r\nhello\r\n";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
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

static int g_resumed;

static int session(smtpc_client *c, const char *host, unsigned port, const smtpc_envelope *env,
                   int handshake_only) {
    smtpc_status st = smtpc_client_connect(c, host, SMTPC_NTS, (uint16_t)port);
    if (st != SMTPC_OK) die(c, "connect", st);
    if (handshake_only) {
        if (!smtpc_client_tls_active(c) && (st = smtpc_client_starttls(c)) != SMTPC_OK)
            die(c, "starttls", st);
    } else if ((st = smtpc_client_sendmail(c, env, k_msg, sizeof k_msg - 1)) != SMTPC_OK) {
        die(c, "sendmail", st);
    }
    if (!smtpc_client_tls_active(c))
        die(c, "not encrypted (does the server offer STARTTLS?)", SMTPC_ETLS_REQUIRED);
    int verified = smtpc_client_tls_verified(c);
    g_resumed += smtpc_client_tls_resumed(c);
    if ((st = smtpc_client_quit(c)) != SMTPC_OK) die(c, "quit", st);
    return verified;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr,
                "usage: bench_tls HOST PORT SESSIONS default|newconfig|cafile|cafile-new|reuse|full|resumed "
                "[CAFILE]\n");
        return 2;
    }
    const char *host = argv[1], *mode = argv[4], *cafile = argc > 5 ? argv[5] : NULL;
    unsigned port = (unsigned)strtoul(argv[2], NULL, 10);
    long sessions = strtol(argv[3], NULL, 10);
    int no_resume = strcmp(mode, "full") == 0;
    int own_cfg = strcmp(mode, "cafile") == 0 || no_resume || strcmp(mode, "resumed") == 0,
        new_cfg = strcmp(mode, "newconfig") == 0 || strcmp(mode, "cafile-new") == 0;
    const char *env_implicit = getenv("BENCH_TLS_IMPLICIT"), *env_hs = getenv("BENCH_TLS_HANDSHAKE_ONLY");
    int implicit = env_implicit != NULL && strcmp(env_implicit, "1") == 0;
    int handshake_only =
        env_hs != NULL && strcmp(env_hs, "1") == 0 && (no_resume || strcmp(mode, "resumed") == 0);
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
    if (no_resume) smtpc_tls_config_set_session_resumption(shared, 0);
    smtpc_client *reused = NULL;
    int verified = 0;
    double t0 = now(), c0 = cpu_seconds();
    for (long i = 0; i < sessions; i++) {
        smtpc_client *c = reused;
        if (c == NULL && smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP) != SMTPC_OK)
            die(NULL, "smtpc_client_new", SMTPC_ENOMEM);
        smtpc_client_set_local_hostname(c, "bench.example.org", SMTPC_NTS);
        if (implicit) smtpc_client_set_tls_policy(c, SMTPC_TLS_IMPLICIT);
        smtpc_tls_config *cfg = new_cfg ? ca_config(strcmp(mode, "cafile-new") == 0 ? cafile : NULL) : shared;
        if (cfg != NULL) smtpc_client_set_tls_config(c, cfg);
        verified = session(c, host, port, env, handshake_only);
        if (new_cfg) smtpc_tls_config_free(cfg);
        if (strcmp(mode, "reuse") == 0) reused = c;
        else smtpc_client_free(c);
    }
    double t = now() - t0, cpu = cpu_seconds() - c0;
    smtpc_client_free(reused);
    smtpc_tls_config_free(shared);
    smtpc_envelope_free(env);
    printf("smtpc mode=%s%s%s sessions=%ld seconds=%.3f ms_per_session=%.2f cpu_ms_per_session=%.3f "
           "per_second=%.1f resumed=%d verified=%d\n",
           mode, implicit ? "+implicit" : "", handshake_only ? "+handshake" : "", sessions, t,
           t * 1000.0 / (double)sessions, cpu * 1000.0 / (double)sessions, (double)sessions / t, g_resumed,
           verified);
    return 0;
}
