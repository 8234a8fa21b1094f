/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the AUTH tests (tests/auth): base64 for building expected wire bytes, a trace
 * recorder that checks no credential ever reaches a trace callback, and a search helper for byte
 * strings. Include <cmocka.h> (with its prerequisites) before this header.
 */
#ifndef SMTPC_AUTH_COMMON_H
#define SMTPC_AUTH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "smtpc.h"

/** Standard base64 (RFC 4648, padded) of data/len, malloc()ed and NUL-terminated. */
/* Standard base64 of data into out, which holds (len + 2) / 3 * 4 + 1 bytes; no allocation (the heap
 * scan calls it from inside its allocator). Returns the length written, without the NUL. */
size_t auth_b64_into(const void *data, size_t len, char *out);
char *auth_b64(const char *data, size_t len);

/** 1 when needle/nlen occurs in hay/hlen (nlen > 0), else 0. */
int auth_contains(const char *hay, size_t hlen, const char *needle, size_t nlen);

/** Everything a client traced, concatenated (each event's text followed by "\n--\n"). */
typedef struct auth_trace {
    char *text;
    size_t len, cap;
    size_t events;
} auth_trace;

/** Trace callback: pass it with a pointer to an auth_trace to smtpc_client_set_trace(). */
void auth_trace_cb(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us, void *userdata);
void auth_trace_free(auth_trace *t);

/**
 * Fail the test when the trace holds `secret` (NUL-terminated) or, when check_b64 is set, its base64
 * form.
 */
void auth_assert_not_traced(const auth_trace *t, const char *secret, int check_b64);

/** Fail the test unless the trace holds `text`. */
void auth_assert_traced(const auth_trace *t, const char *text);

#endif
