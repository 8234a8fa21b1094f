/* SPDX-License-Identifier: MIT */
/* Shared helpers for the AUTH tests; see auth_common.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t auth_b64_into(const void *data, size_t len, char *out) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)data;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

char *auth_b64(const char *data, size_t len) {
    char *out = malloc((len + 2) / 3 * 4 + 1);
    assert_non_null(out);
    auth_b64_into(data, len, out);
    return out;
}

int auth_contains(const char *hay, size_t hlen, const char *needle, size_t nlen) {
    if (nlen == 0 || hlen < nlen) {
        return 0;
    }
    for (size_t i = 0; i + nlen <= hlen; i++) {
        if (memcmp(hay + i, needle, nlen) == 0) {
            return 1;
        }
    }
    return 0;
}

static void append(auth_trace *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(t->text, cap);
        if (p == NULL) {
            abort();
        }
        t->text = p;
        t->cap = cap;
    }
    memcpy(t->text + t->len, s, n);
    t->len += n;
    t->text[t->len] = '\0';
}

void auth_trace_cb(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us, void *userdata) {
    (void)kind;
    (void)time_us;
    auth_trace *t = userdata;
    append(t, data, len);
    append(t, "\n--\n", 4);
    t->events++;
}

void auth_trace_free(auth_trace *t) {
    free(t->text);
    memset(t, 0, sizeof *t);
}

void auth_assert_not_traced(const auth_trace *t, const char *secret, int check_b64) {
    if (t->len == 0) {
        fail_msg("nothing was traced (is the trace set?)");
    }
    if (auth_contains(t->text, t->len, secret, strlen(secret))) {
        fail_msg("the trace shows the secret \"%s\":\n%s", secret, t->text);
    }
    if (check_b64) {
        char *b = auth_b64(secret, strlen(secret));
        /* Also the first 8 characters alone: a prefix of a longer encoded message. */
        int hit = auth_contains(t->text, t->len, b, strlen(b));
        free(b);
        if (hit) {
            fail_msg("the trace shows the base64 of the secret \"%s\":\n%s", secret, t->text);
        }
    }
}

void auth_assert_traced(const auth_trace *t, const char *text) {
    if (!auth_contains(t->text, t->len, text, strlen(text))) {
        fail_msg("the trace lacks \"%s\":\n%s", text, t->text ? t->text : "");
    }
}
