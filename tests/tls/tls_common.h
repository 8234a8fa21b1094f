/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the smtpc TLS tests (tests/tls): the test PKI (tests/servers/make_test_pki.sh),
 * TLS-enabled aiosmtpd servers (tests/servers/aiosmtpd_server.py --tls-cert ...), TLS clients, and
 * checks of what the server received in clear and over TLS.
 *
 * Include <cmocka.h> (with its prerequisites) before this header.
 */
#ifndef SMTPC_TLS_COMMON_H
#define SMTPC_TLS_COMMON_H

#include <stddef.h>

#include "itest.h"

/** The EHLO name every TLS test client uses. */
#define TLS_CLIENT_NAME "client.test"

/** Bound for waiting for a server's records (session and message files). */
#define TLS_WAIT_MS 10000

/**
 * Make the PKI available: the directory named by the environment variable SMTPC_TEST_PKI_DIR when it
 * holds one (ctest's fixture tls_pki makes it once for the whole suite), else a fresh private temp
 * dir filled by make_test_pki.sh and removed by tls_pki_teardown(). Returns 0 or -1.
 */
int tls_pki_setup(void);
void tls_pki_teardown(void);

/**
 * "<pki dir>/<name>". The result stays valid for the next 15 calls (a ring of buffers), which is
 * enough to build one argument list.
 */
const char *tls_pki(const char *name);

/** The contents of PKI file `name` without its final line end, malloc()ed; NULL on failure. */
char *tls_pki_text(const char *name);

/**
 * Start aiosmtpd_server.py with the certificate and key "<cert>.pem"/"<cert>.key" from the PKI (cert
 * NULL: no TLS at all), then the extra arguments (NULL-terminated list, may be NULL), e.g.
 * "--implicit-tls". Returns 0 or -1.
 */
int tls_start_aiosmtpd(itest_server *srv, const char *cert, const char *const extra[]);

/**
 * A client for the TLS tests: itest_client() with TLS_CLIENT_NAME, the given policy and, when
 * trust_ca is non-zero, a TLS configuration trusting only the test CA (ca.pem). Fails the test on
 * error.
 */
smtpc_client *tls_client(smtpc_tls_policy policy, int trust_ca);

/**
 * Connect to `host` ("localhost", "127.0.0.1", "::1", ...) at the server's port. Counts the
 * connection in srv->connections whenever the server accepted it (any outcome but a resolve or
 * connect failure), because the server numbers its sessions by accepted connections.
 */
smtpc_status tls_connect(smtpc_client *c, itest_server *srv, const char *host);

/**
 * An envelope from sender@example.org to each recipient of the NULL-terminated list (a single
 * "rcpt@example.org" when NULL). Fails the test on error.
 */
smtpc_envelope *tls_envelope(const char *const rcpts[]);

/**
 * 1 when data/len is a sequence of TLS records (content type 20..23, version 3.x, a length), the
 * last one possibly cut short, and not empty; else 0. Encrypted traffic passes; SMTP commands sent
 * in clear ("MAIL FROM:...") never do.
 */
int tls_is_tls_records(const char *data, size_t len);

/**
 * Check what the server recorded for the `index`th connection (it must be closed): exactly
 * `plain`/`plain_len` received in clear; when `expect_tls` is 0, nothing received over TLS, the
 * handshake not completed, and every byte after the clear part TLS records (so nothing was sent in
 * clear after STARTTLS, not even after a failed handshake); when `expect_tls` is 1, a completed
 * handshake. Fails the test otherwise.
 */
void tls_check_session(const itest_server *srv, size_t index, const char *plain, size_t plain_len,
                       int expect_tls);

/** The session field `key` of the `index`th connection as text (malloc()ed); fails the test if absent. */
char *tls_session_text(const itest_server *srv, size_t index, const char *key, size_t *len);

/** The message field `key` of message `index` as text (malloc()ed); fails the test if absent. */
char *tls_msg_text(const itest_server *srv, size_t index, const char *key, size_t *len);

/** The first occurrence of needle/nlen in data/len, or NULL. */
const char *tls_memmem(const char *data, size_t len, const char *needle, size_t nlen);

/** How many INFO events of the trace contain the text `needle`. */
size_t tls_count_info(const itest_trace *t, const char *needle);

/** Fail the test with the client's status name and error message when st != want. */
#define TLS_ASSERT_STATUS(c, st, want)                                                           \
    do {                                                                                         \
        smtpc_status tas_ = (st);                                                                \
        if (tas_ != (want))                                                                      \
            fail_msg("%s:%d: got %s (%s), want %s", __FILE__, __LINE__, smtpc_status_name(tas_), \
                     smtpc_client_errmsg(c), smtpc_status_name(want));                           \
    } while (0)

#endif
