/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture for the fault-injection tests: builds a script for tests/servers/fault_server.py,
 * starts it through the test harness, drives an smtpc client and checks what the server received.
 *
 * Every test gets a fresh `fault_fixture` (cmocka setup/teardown), so that whatever an assertion
 * leaves behind (server process, client, temp dir, buffers) is released in the teardown.
 */
#ifndef SMTPC_FAULT_COMMON_H
#define SMTPC_FAULT_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"
#include "smtpc.h"

/* The EHLO name every test client uses, so that the expected wire bytes are fixed. */
#define FAULT_HELO_NAME "client.test"

/* The command lines the client is expected to send (exact bytes). */
#define W_EHLO "EHLO " FAULT_HELO_NAME "\r\n"
#define W_HELO "HELO " FAULT_HELO_NAME "\r\n"
#define W_MAIL(addr) "MAIL FROM:<" addr ">\r\n"
#define W_RCPT(addr) "RCPT TO:<" addr ">\r\n"
#define W_DATA "DATA\r\n"
#define W_QUIT "QUIT\r\n"
#define W_NOOP "NOOP\r\n"
#define W_RSET "RSET\r\n"

/* Replies the server sends. */
#define RPL_GREETING "220 fault.test ESMTP ready\r\n"
#define RPL_EHLO "250-fault.test\r\n250 8BITMIME\r\n"
#define RPL_EHLO_PIPE "250-fault.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
#define RPL_OK "250 2.0.0 ok\r\n"
#define RPL_354 "354 go ahead\r\n"
#define RPL_421 "421 4.3.2 fault.test closing\r\n"
#define RPL_BYE "221 2.0.0 bye\r\n"

#define FAULT_MAX_STEPS_BYTES (256 * 1024)

typedef struct fault_fixture {
    char dir[512];
    char script_path[600];
    char transcript_path[600];
    char sock_path[600];
    /* The script being built, a JSON array of steps. */
    char *script;
    size_t script_len;
    size_t script_cap;
    int steps;
    /* Extra server arguments (e.g. "--rcvbuf", "4096"), NULL-terminated. */
    const char *extra_args[8];
    int use_unix;
    harness_server srv;
    int started;
    /* What the server received, after fault_finish(). */
    char *transcript;
    size_t transcript_len;
    /* The client under test, created by fault_client() and freed in the teardown. */
    smtpc_client *client;
    smtpc_envelope *env;
    /* Scratch buffers freed in the teardown. */
    char *msg;
    char *expect;
    long long t0;
} fault_fixture;

int fault_setup(void **state);
int fault_teardown(void **state);

/* ---- Script building. Byte strings are raw bytes (NUL-terminated, or with an explicit length). */
void sc_send(fault_fixture *f, const char *bytes);
void sc_send_n(fault_fixture *f, const char *bytes, size_t len);
void sc_send_repeat(fault_fixture *f, const char *bytes, long repeat);
void sc_send_slowly(fault_fixture *f, const char *bytes, double interval);
void sc_send_then_close(fault_fixture *f, const char *bytes);
void sc_send_then_rst(fault_fixture *f, const char *bytes);
void sc_expect(fault_fixture *f, const char *prefix);
void sc_expect_lines(fault_fixture *f, int n);
void sc_read_bytes(fault_fixture *f, long n);
void sc_read_until(fault_fixture *f, const char *delim);
void sc_read_data(fault_fixture *f); /* read_until "\r\n.\r\n" */
void sc_expect_eof(fault_fixture *f, double timeout);
void sc_sleep(fault_fixture *f, double seconds);
void sc_close(fault_fixture *f);
void sc_shutdown_write(fault_fixture *f);
void sc_rst(fault_fixture *f);
void sc_stop_reading(fault_fixture *f, double max_seconds);
/* A raw JSON step object, e.g. "{\"sleep\": 1}". */
void sc_raw(fault_fixture *f, const char *json);

/* Greeting, EHLO and its reply (PIPELINING offered when pipelining != 0). */
void sc_hello(fault_fixture *f, int pipelining);

/* ---- Server and client. */
/* Write the script and start the server; fails the test when it does not start. */
void fault_start(fault_fixture *f);
/* Wait (bounded) for the server's DONE line, then load the transcript. Returns the DONE status
 * (0 = every step as scripted), or -1 when the server did not finish in time. */
int fault_finish(fault_fixture *f, int timeout_ms);
/* A new client with the test's EHLO name and the given timeouts (ms). */
smtpc_client *fault_client(fault_fixture *f, uint32_t connect_ms, uint32_t command_ms);
/* Connect the fixture's client to the server; returns the status. */
smtpc_status fault_connect(fault_fixture *f);
/* An envelope from s@example.org to the given recipients (NULL-terminated list). */
smtpc_envelope *fault_envelope(fault_fixture *f, const char *rcpt, ...);

/* ---- Timing. */
void fault_clock_start(fault_fixture *f);
long long fault_elapsed_ms(const fault_fixture *f);

/* ---- Assertions (fail the test with a readable message). */
void fault_assert_status(const fault_fixture *f, smtpc_status got, smtpc_status want, const char *what);
void fault_assert_reply(const smtpc_reply *reply, int code, const char *text);
void fault_assert_transcript(const fault_fixture *f, const char *want, size_t want_len);
#define FAULT_ASSERT_TRANSCRIPT(f, lit) fault_assert_transcript((f), (lit), sizeof(lit) - 1)
/* The transcript starts with `prefix` and what follows it is a prefix of `rest`. */
void fault_assert_transcript_prefix(const fault_fixture *f, const char *prefix, size_t prefix_len,
                                    const char *rest, size_t rest_len);

#define ASSERT_STATUS(f, got, want) fault_assert_status((f), (got), (want), #got)

#endif /* SMTPC_FAULT_COMMON_H */
