/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture for the scripted TLS fault tests (tests/tls_fault): the fault-injection fixture of
 * tests/fault (fault_common.h) plus the TLS steps of tests/servers/fault_server.py, the test PKI of
 * tests/servers/make_test_pki.sh, and checks on transcripts that contain TLS.
 *
 * Transcript convention (fault_server.py): the bytes received in plaintext, then the line
 * "--TLS--\r\n" where the server switched to TLS, then the decrypted bytes. When the server never
 * took the handshake over (garbage instead of a handshake, or a plain read step), the client's TLS
 * records are recorded raw: tf_assert_transcript_then_records() checks those.
 */
#ifndef SMTPC_TLS_FAULT_COMMON_H
#define SMTPC_TLS_FAULT_COMMON_H

#include "fault_common.h"

/* The transcript marker fault_server.py writes when it switches to TLS. */
#define W_TLS "--TLS--\r\n"
#define W_STARTTLS "STARTTLS\r\n"

/* An EHLO reply offering STARTTLS (and PIPELINING, SIZE, AUTH before TLS). */
#define RPL_EHLO_TLS                                                                              \
    "250-fault.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-STARTTLS\r\n250-AUTH PLAIN\r\n250 " \
    "8BITMIME\r\n"
/* The EHLO reply after TLS in the simple cases: PIPELINING, no STARTTLS. */
#define RPL_EHLO_AFTER "250-fault.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
#define RPL_220_GO "220 2.0.0 ready to start TLS\r\n"

/* The message every test sends and its bytes on the wire. */
#define TF_MSG "Subject: t\r\n\r\nhello\r\n"
#define TF_MSG_WIRE TF_MSG ".\r\n"

/*
 * Group setup/teardown: make the PKI available (SMTPC_TEST_PKI_DIR when it holds one, as the ctest
 * fixture tls_pki provides; else a private temp dir filled by make_test_pki.sh, removed afterwards).
 */
int tf_group_setup(void **state);
int tf_group_teardown(void **state);
/* "<pki>/<name>"; valid until the next 7 calls. */
const char *tf_pki(const char *name);

/* Per-test setup: fault_setup() plus the server's --tls-cert/--tls-key (server.pem, signed by the
 * test CA for localhost and 127.0.0.1). */
int tf_setup(void **state);
#define tf_teardown fault_teardown

/* Add --implicit-tls / --connections N / --rcvbuf N to the server's arguments (before fault_start). */
void tf_server_implicit(fault_fixture *f);
void tf_server_connections(fault_fixture *f, int n);
void tf_server_rcvbuf(fault_fixture *f, int bytes);

/* A client (fault_client) that verifies the server against the test CA, with the given policy. */
smtpc_client *tf_client(fault_fixture *f, smtpc_tls_policy policy, uint32_t connect_ms, uint32_t command_ms);

/* ---- TLS script steps (see fault_server.py). */
/* {"starttls": true}: handshake with the default certificate. */
void sc_starttls(fault_fixture *f);
/* {"starttls": {<options_json>}}, e.g. "\"tickets\": 4, \"ticket_delay\": 0.2". */
void sc_starttls_opts(fault_fixture *f, const char *options_json);
void sc_expect_quiet(fault_fixture *f, double seconds);
/* {"read_some": true}: wait for at least one byte and record it. */
void sc_read_any(fault_fixture *f);
void sc_tls_garbage(fault_fixture *f, const char *bytes);
void sc_tls_alert(fault_fixture *f);
void sc_close_notify(fault_fixture *f);
void sc_close_without_notify(fault_fixture *f);
/* expect_eof that also requires the client's close_notify. */
void sc_expect_eof_notify(fault_fixture *f, double timeout);

/* Greeting, EHLO (checked: nothing more arrives before the reply), the EHLO reply `ehlo`, STARTTLS
 * (checked: nothing pipelined behind it), 220, handshake. */
void sc_hello_starttls(fault_fixture *f, const char *ehlo);

/* ---- Assertions. */
/* The transcript is exactly `prefix` followed by one or more TLS records, the first a handshake
 * record (a ClientHello): the client started a handshake and sent nothing in plaintext after
 * `prefix`. A final record may be cut short. */
void tf_assert_transcript_then_records(const fault_fixture *f, const char *prefix, size_t prefix_len);
#define TF_ASSERT_THEN_RECORDS(f, lit) tf_assert_transcript_then_records((f), (lit), sizeof(lit) - 1)
/* 1 when the transcript is exactly `prefix` followed by TLS records (as above), else 0. */
int tf_transcript_is_then_records(const fault_fixture *f, const char *prefix, size_t prefix_len);
/* smtpc_client_errmsg() contains `needle` (fails the test with the message otherwise). */
void tf_assert_errmsg_has(const fault_fixture *f, const char *needle);
void tf_assert_connected(const fault_fixture *f, int want);
/* Elapsed time since fault_clock_start() is within [min_ms, max_ms]. */
void tf_assert_elapsed(const fault_fixture *f, long long min_ms, long long max_ms);

#endif /* SMTPC_TLS_FAULT_COMMON_H */
