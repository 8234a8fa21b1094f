/* SPDX-License-Identifier: MIT */
/*
 * smtp_pool: a multi-session driver over smtpc's non-blocking mode. One thread, one epoll set, many
 * SMTP/LMTP connections to many destinations. It is an example to copy into your program and adapt
 * (docs/nonblocking.md, "The multi-session driver"), not part of the library: queues, limits, reuse
 * and retries are policy, and policy belongs to the program. It uses only the public header.
 *
 * What it does:
 *  - Jobs: a destination (host, port) + an envelope + a message body (borrowed until its result is
 *    reported). smtp_pool_add() copies the host and the envelope.
 *  - Limits: at most `max_per_host` connections to one destination, `max_connections` in all.
 *  - Reuse: a connection takes the next jobs of its destination through the client's queue
 *    (smtpc_client_enqueue / smtpc_client_next_result, a window of `window` messages in flight), and
 *    says QUIT when its destination has no more work.
 *  - Results: the callback is called once per job with what became of it (state, status, reply code,
 *    the per-recipient outcome), in no particular order across connections.
 *  - Failures: a connection that fails (refused, 421, timeout, TLS or AUTH failure, lost) reports its
 *    unfinished jobs as the library concluded them. Jobs that were certainly not sent
 *    (SMTPC_MESSAGE_NOT_SENT) go back to their destination's queue and another connection takes them,
 *    up to `max_attempts` connections per job; a message whose delivery is unknown is reported, never
 *    sent twice. A destination whose connections fail `max_attempts` times in a row without taking a
 *    single result has its remaining jobs reported with the last connection's status. So a dead host
 *    ends with every job reported, never a hang.
 *  - Set-up: an optional callback configures each new client before it connects (TLS policy and
 *    configuration, timeouts, local name, trace); optional credentials log in after EHLO.
 *
 * The loop: smtp_pool_run() runs it to the end. To embed the pool in another loop, watch
 * smtp_pool_fd() (an epoll descriptor: readable when a connection is ready) for reading with a
 * timeout of smtp_pool_timeout_ms(), and call smtp_pool_perform() when it is readable or the timeout
 * passed; smtp_pool_pending() is 0 when every job has been reported.
 *
 * Threads: a pool is driven from one thread at a time; different pools in different threads are
 * independent. Callbacks run on that thread, from inside smtp_pool_perform()/smtp_pool_run(); they
 * may call smtp_pool_add() but not smtp_pool_free().
 */
#ifndef SMTP_POOL_H
#define SMTP_POOL_H

#include <smtpc.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smtp_pool smtp_pool;

/** What became of one job, as given to the result callback. Pointers are valid during the call. */
typedef struct smtp_pool_result {
    void *job_data;   /* the pointer given to smtp_pool_add() */
    const char *host; /* the destination */
    uint16_t port;
    smtpc_message_state state;      /* SMTPC_MESSAGE_DELIVERED, _PARTIAL, _REFUSED, _NOT_SENT, _UNKNOWN */
    smtpc_status status;            /* as smtpc_client_sendmail() would have returned it */
    int code;                       /* the reply code that decided it (250, 550, 421...), 0 when none */
    const char *errmsg;             /* why, "" on success; never NULL */
    const smtpc_result *recipients; /* per-recipient outcome; NULL when no transaction started */
    unsigned attempts;              /* connections the job was given to (0: none could be opened) */
} smtp_pool_result;

typedef void (*smtp_pool_result_fn)(void *arg, const smtp_pool_result *result);

/** Called for each new client before it connects; non-zero refuses it (the connection counts as a
 *  failed one, with SMTPC_EUSER). The client is in non-blocking mode; do not change that. */
typedef int (*smtp_pool_setup_fn)(void *arg, smtpc_client *client, const char *host, uint16_t port);

typedef struct smtp_pool_options {
    unsigned max_connections;      /* in all (default 64) */
    unsigned max_per_host;         /* per destination host:port (default 4) */
    unsigned window;               /* messages in flight per connection (default 32) */
    uint64_t window_bytes;         /* and bytes of their bodies (default 1 MiB): smtpc_client_set_window() */
    unsigned max_attempts;         /* connections per job, failed connections in a row (default 3) */
    smtpc_protocol protocol;       /* SMTPC_PROTOCOL_SMTP (0, the default) or SMTPC_PROTOCOL_LMTP */
    smtp_pool_result_fn on_result; /* required */
    void *result_arg;
    smtp_pool_setup_fn setup; /* optional */
    void *setup_arg;
    const char *username, *password; /* optional: log in after EHLO; borrowed for the pool's life */
} smtp_pool_options;

/** Statistics, for reports and tests. */
typedef struct smtp_pool_stats {
    unsigned long connections_opened; /* clients that started a connect */
    unsigned long connections_failed; /* ended by a failure rather than QUIT */
    unsigned max_open;                /* the most connections open at once */
} smtp_pool_stats;

/** A new pool (NULL options: defaults, but on_result is required so NULL fails). NULL on bad
 *  options (no on_result) or out of memory. */
smtp_pool *smtp_pool_new(const smtp_pool_options *options);

/** Frees the pool: open connections are closed without QUIT, and jobs not yet reported are dropped
 *  without a callback. */
void smtp_pool_free(smtp_pool *pool);

/**
 * Adds a job. `host` (a name or an address literal) and `env` are copied; `body` (`len` bytes, or
 * SMTPC_NTS) is borrowed until the job's result has been reported. `job_data` is returned in the
 * result. The job starts at the next smtp_pool_perform()/smtp_pool_run().
 * @return SMTPC_OK; SMTPC_EINVAL (NULL argument, port 0, an envelope the queue refuses); SMTPC_ENOMEM.
 */
smtpc_status smtp_pool_add(smtp_pool *pool, const char *host, uint16_t port, const smtpc_envelope *env,
                           const char *body, size_t len, void *job_data);

/** The epoll descriptor to watch for reading when embedding the pool in another loop. */
int smtp_pool_fd(const smtp_pool *pool);

/** Milliseconds until smtp_pool_perform() must be called even if smtp_pool_fd() is not readable;
 *  -1 when there is no deadline, 0 when it is due now. */
int smtp_pool_timeout_ms(const smtp_pool *pool);

/** Does the work that is ready without blocking: starts connections, steps ready clients and those
 *  whose deadline passed, reports results. @return the jobs not yet reported. */
size_t smtp_pool_perform(smtp_pool *pool);

/** Jobs added and not yet reported. */
size_t smtp_pool_pending(const smtp_pool *pool);

/** Runs until every job has been reported. @return 0; -1 when epoll_wait failed (errno set). */
int smtp_pool_run(smtp_pool *pool);

void smtp_pool_get_stats(const smtp_pool *pool, smtp_pool_stats *out);

#ifdef __cplusplus
}
#endif

#endif
