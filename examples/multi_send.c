/* SPDX-License-Identifier: MIT */
/*
 * multi_send: sends COUNT messages spread over one or more destinations from one thread, through
 * the multi-session driver smtp_pool (smtp_pool.h), and prints one line per message:
 *
 *   multi_send [--per-host N] [--connections N] [--window N] [--attempts N] [--timeout MS]
 *              [--from ADDR] [--to ADDR] HOST:PORT[,HOST:PORT...] COUNT
 *
 * Message i goes to destination i modulo the number of destinations. Each line is
 * "INDEX HOST:PORT STATUS CODE" (STATUS is smtpc_status_name() of the message's status, CODE the
 * reply code that decided it, 0 when none), followed by the reason when it failed; then a summary on
 * stderr. Exit status 0 only when every message was accepted (for every recipient), 1 otherwise, 2
 * for bad usage. --to may be given several times (the message then has several recipients); an
 * IPv6 destination is written [ADDR]:PORT.
 */
#include "smtp_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DESTS 64
#define MAX_RCPTS 16

typedef struct dest_arg {
    char host[256];
    uint16_t port;
} dest_arg;

typedef struct run {
    unsigned long delivered, failed;
    const dest_arg *dests;
} run;

static void on_result(void *arg, const smtp_pool_result *r) {
    run *state = arg;
    unsigned long index = (unsigned long)(uintptr_t)r->job_data;
    int ok = r->state == SMTPC_MESSAGE_DELIVERED;
    const char *open = strchr(r->host, ':') ? "[" : "", *close = *open ? "]" : "";
    printf("%lu %s%s%s:%u %s %d", index, open, r->host, close, (unsigned)r->port,
           smtpc_status_name(r->status), r->code);
    if (!ok) printf(" %s", r->errmsg);
    putchar('\n');
    ok ? state->delivered++ : state->failed++;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out) {
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || *s == '-' || v == 0 || v > max) return -1;
    *out = v;
    return 0;
}

/* "host:port,host:port,[v6]:port" */
static int parse_dests(char *list, dest_arg *out, size_t *n) {
    *n = 0;
    for (char *item = strtok(list, ","); item; item = strtok(NULL, ",")) {
        char *colon = strrchr(item, ':');
        unsigned long port;
        if (*n == MAX_DESTS || !colon || colon == item || parse_uint(colon + 1, 65535, &port) != 0) return -1;
        *colon = '\0';
        if (*item == '[' && colon[-1] == ']') {
            item++;
            colon[-1] = '\0';
        }
        if (strlen(item) >= sizeof out[*n].host || !*item) return -1;
        strcpy(out[*n].host, item);
        out[*n].port = (uint16_t)port;
        (*n)++;
    }
    return *n ? 0 : -1;
}

typedef struct setup_arg {
    unsigned long timeout_ms;
} setup_arg;

/* Each new client: timeouts, and no TLS unless the server offers it (a local relay or a sink). */
static int setup(void *arg, smtpc_client *c, const char *host, uint16_t port) {
    const setup_arg *s = arg;
    (void)host;
    (void)port;
    if (s->timeout_ms && (smtpc_client_set_connect_timeout(c, (uint32_t)s->timeout_ms) != SMTPC_OK ||
                          smtpc_client_set_command_timeout(c, (uint32_t)s->timeout_ms) != SMTPC_OK))
        return -1;
    return 0;
}

static int usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s [--per-host N] [--connections N] [--window N] [--attempts N] [--timeout MS]\n"
            "       [--from ADDR] [--to ADDR]... HOST:PORT[,HOST:PORT...] COUNT\n",
            argv0);
    return 2;
}

int main(int argc, char **argv) {
    smtp_pool_options opt;
    setup_arg sa = {0};
    const char *from = "sender@example.com", *to[MAX_RCPTS];
    size_t nto = 0;
    memset(&opt, 0, sizeof opt);
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        unsigned long v = 0;
        if (i + 1 >= argc) return usage(argv[0]);
        const char *name = argv[i], *val = argv[i + 1];
        if (strcmp(name, "--from") == 0) from = val;
        else if (strcmp(name, "--to") == 0 && nto < MAX_RCPTS) to[nto++] = val;
        else if (parse_uint(val, 1000000, &v) != 0) return usage(argv[0]);
        else if (strcmp(name, "--per-host") == 0) opt.max_per_host = (unsigned)v;
        else if (strcmp(name, "--connections") == 0) opt.max_connections = (unsigned)v;
        else if (strcmp(name, "--window") == 0) opt.window = (unsigned)v;
        else if (strcmp(name, "--attempts") == 0) opt.max_attempts = (unsigned)v;
        else if (strcmp(name, "--timeout") == 0) sa.timeout_ms = v;
        else return usage(argv[0]);
    }
    if (argc - i != 2) return usage(argv[0]);
    dest_arg dests[MAX_DESTS];
    size_t ndest = 0;
    unsigned long count = 0;
    if (parse_dests(argv[i], dests, &ndest) != 0 || parse_uint(argv[i + 1], 10000000, &count) != 0) {
        fprintf(stderr, "%s: bad destination list or message count\n", argv[0]);
        return 2;
    }
    if (!nto) to[nto++] = "rcpt@example.org";

    smtpc_envelope *env = NULL;
    int bad =
        smtpc_envelope_new(&env) != SMTPC_OK || smtpc_envelope_set_sender(env, from, SMTPC_NTS) != SMTPC_OK;
    for (size_t k = 0; k < nto && !bad; k++)
        bad = smtpc_envelope_add_recipient(env, to[k], SMTPC_NTS) != SMTPC_OK;
    if (bad) {
        fprintf(stderr, "%s: bad address: %s\n", argv[0], env ? smtpc_envelope_errmsg(env) : "out of memory");
        smtpc_envelope_free(env);
        return 2;
    }

    run state = {0, 0, dests};
    opt.on_result = on_result;
    opt.result_arg = &state;
    opt.setup = setup;
    opt.setup_arg = &sa;
    smtp_pool *pool = smtp_pool_new(&opt);
    /* The bodies are borrowed by the pool until each message is reported. */
    char(*bodies)[128] = calloc(count, sizeof *bodies);
    if (!pool || !bodies) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 2;
    }
    for (unsigned long n = 0; n < count; n++) {
        const dest_arg *d = &dests[n % ndest];
        int len = snprintf(bodies[n], sizeof bodies[n],
                           "Subject: message %lu\r\nX-Number: %lu\r\n\r\nmessage %lu\r\n", n, n, n);
        smtpc_status st =
            smtp_pool_add(pool, d->host, d->port, env, bodies[n], (size_t)len, (void *)(uintptr_t)n);
        if (st != SMTPC_OK) {
            fprintf(stderr, "%s: message %lu: %s\n", argv[0], n, smtpc_status_name(st));
            return 2;
        }
    }
    smtpc_envelope_free(env); /* copied by smtp_pool_add */
    int rc = smtp_pool_run(pool);
    smtp_pool_stats stats;
    smtp_pool_get_stats(pool, &stats);
    fflush(stdout);
    fprintf(stderr, "%lu delivered, %lu failed; %lu connections (%lu failed), at most %u at once\n",
            state.delivered, state.failed, stats.connections_opened, stats.connections_failed,
            stats.max_open);
    smtp_pool_free(pool);
    free(bodies);
    if (rc != 0) perror("epoll_wait");
    return rc == 0 && state.failed == 0 && state.delivered == count ? 0 : 1;
}
