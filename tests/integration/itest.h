/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the smtpc integration tests: start the aiosmtpd/Postfix test servers through the
 * harness, read what they recorded (tests/servers/aiosmtpd_server.py's JSON spool), and record the
 * client's trace.
 */
#ifndef SMTPC_ITEST_H
#define SMTPC_ITEST_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "smtpc.h"

/** Bounds used by every test client. */
#define ITEST_CONNECT_TIMEOUT_MS 10000u
#define ITEST_COMMAND_TIMEOUT_MS 15000u

/** A server started for a test group, with its private spool and sessions directories. */
typedef struct itest_server {
    harness_server proc;
    char dir[512];      /* temp dir holding spool/ and sessions/ (and the socket, if any) */
    char spool[600];    /* msg-*.json */
    char sessions[600]; /* session-*.json */
    char sock[600];     /* Unix socket path ("" for TCP) */
    size_t connections; /* connections made by itest_connect() (or counted by hand), in order */
} itest_server;

/**
 * Start tests/servers/aiosmtpd_server.py with the given extra arguments (NULL-terminated list, may be
 * NULL). When unix_socket is non-zero, it listens on <dir>/lmtp.sock. Returns 0 or -1.
 */
int itest_start_aiosmtpd(itest_server *srv, int unix_socket, const char *const extra[]);

/** Start tests/servers/postfix_server.py (spool = its sink's). Returns 0 or -1. */
int itest_start_postfix(itest_server *srv);

/**
 * As itest_start_postfix(), with extra arguments for postfix_server.py (NULL-terminated list, may be
 * NULL), e.g. "--tls-cert", FILE, "--tls-key", FILE (the TLS port is then the next line on the
 * server's stdout: "TLSPORT <port>", see harness_server_read_line()).
 */
int itest_start_postfix_args(itest_server *srv, const char *const extra[]);

/** Stop the server and remove its directory. Safe on a zeroed struct. */
void itest_stop(itest_server *srv);

/** A message as recorded by aiosmtpd_server.py. Every string is malloc()ed and NUL-terminated. */
typedef struct itest_msg {
    long seq, session;
    int esmtp;
    char *helo;
    char *mail_from;
    size_t mail_from_len;
    char *mail_options; /* joined with one space */
    size_t rcpt_count;
    char **rcpt_tos;
    char **rcpt_options; /* per recipient, joined with one space */
    char *content;
    size_t content_len;
    char *raw;
    size_t raw_len;
} itest_msg;

/** Number of msg-*.json files in the spool now. */
size_t itest_msg_count(const itest_server *srv);

/**
 * Wait (bounded by timeout_ms) for at least `n` messages in the spool, then load message number
 * `index` (0-based, in arrival order). Returns 0 or -1.
 */
int itest_load_msg(const itest_server *srv, size_t index, int timeout_ms, itest_msg *out);

/** Free what itest_load_msg() allocated. */
void itest_msg_free(itest_msg *m);

/**
 * Wait (bounded) for the session file of the `index`th connection (0-based, in order of arrival)
 * and return every byte the client sent on it. Session files are written when the connection
 * closes. Returns 0 or -1; *raw is malloc()ed.
 */
int itest_load_session(const itest_server *srv, size_t index, int timeout_ms, char **raw, size_t *len);

/**
 * One field of a record written by aiosmtpd_server.py: the session file of the `index`th connection
 * (0-based, waiting as itest_load_session() does) or message number `index` (0-based, waiting for it
 * as itest_load_msg() does). A key ending in "_hex" gives the decoded bytes, another string key its
 * text, a number or true/false its literal text. *out is malloc()ed and NUL-terminated (not counted
 * in *len; len may be NULL). Returns 0 or -1 (no record in time, or no such key).
 */
int itest_load_session_field(const itest_server *srv, size_t index, int timeout_ms, const char *key,
                             char **out, size_t *len);
int itest_load_msg_field(const itest_server *srv, size_t index, int timeout_ms, const char *key, char **out,
                         size_t *len);

/** Number of session-*.json files now (connections closed so far). */
size_t itest_session_count(const itest_server *srv);

/** One traced event. */
typedef struct itest_event {
    smtpc_trace_kind kind;
    char *data;
    size_t len;
    int64_t time_us;
} itest_event;

/** A trace recorder: pass itest_trace_cb and a pointer to it to smtpc_client_set_trace(). */
typedef struct itest_trace {
    itest_event *ev;
    size_t n, cap;
} itest_trace;

void itest_trace_cb(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us, void *userdata);
void itest_trace_clear(itest_trace *t);

/** Create a client with the test timeouts and, when name is not NULL, that local host name. */
smtpc_client *itest_client(smtpc_protocol proto, const char *name);

/**
 * Connect the client to the server (TCP 127.0.0.1:port, or the Unix socket) and count the
 * connection in srv->connections when it got past the greeting. Returns the status.
 */
smtpc_status itest_connect(smtpc_client *c, itest_server *srv);

/**
 * The bytes the client sent on the last connection counted in srv->connections, waiting (bounded)
 * for the server to write them when the connection closes. Returns 0 or -1; *raw is malloc()ed.
 */
int itest_last_session(const itest_server *srv, char **raw, size_t *len);

/** 1 when a and b have the same length and bytes ignoring ASCII case, else 0. */
int itest_eq_nocase(const char *a, size_t alen, const char *b, size_t blen);

/** Wall clock in microseconds since the epoch. */
int64_t itest_wall_us(void);

/** Print a buffer with escapes to stderr (for failure messages). */
void itest_dump(const char *label, const char *data, size_t len);

/* ---- assertions (include <cmocka.h> before this header) ---- */

/** Assert a reply's code and joined text exactly. */
#define ITEST_ASSERT_REPLY(reply, code, text)                      \
    do {                                                           \
        const smtpc_reply *itr_ = (reply);                         \
        assert_non_null(itr_);                                     \
        assert_int_equal(smtpc_reply_code(itr_), (code));          \
        assert_string_equal(smtpc_reply_text(itr_, NULL), (text)); \
    } while (0)

/**
 * 1 when got/glen equals exp/elen (ignoring ASCII case when nocase), else 0 after dumping both to
 * stderr.
 */
int itest_bytes_match(const char *got, size_t glen, const char *exp, size_t elen, int nocase);

/** Assert that got/glen holds exactly the expected bytes (given as pointer, length: ITEST_STR works). */
#define ITEST_ASSERT_BYTES(got, glen, ...)                                               \
    do {                                                                                 \
        if (!itest_bytes_match((got), (glen), __VA_ARGS__, 0)) fail_msg("bytes differ"); \
    } while (0)

/** As ITEST_ASSERT_BYTES, ignoring ASCII case (SMTP verbs and keywords are case-insensitive). */
#define ITEST_ASSERT_BYTES_NOCASE(got, glen, ...)                                                        \
    do {                                                                                                 \
        if (!itest_bytes_match((got), (glen), __VA_ARGS__, 1)) fail_msg("bytes differ (ignoring case)"); \
    } while (0)

#define ITEST_STR(s) (s), (sizeof(s) - 1)

#endif
