/* SPDX-License-Identifier: MIT */
/* Shared fixture for the fault-injection tests; see fault_common.h. */
#include "fault_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVER_SCRIPT "fault_server.py"
/* Bound on waiting for the server to finish its script after the client returned. */
#define FINISH_TIMEOUT_MS 15000

int fault_setup(void **state) {
    fault_fixture *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return -1;
    }
    f->srv.stdout_fd = -1;
    if (harness_make_temp_dir("smtpc-fault", f->dir, sizeof f->dir) != 0) {
        free(f);
        return -1;
    }
    snprintf(f->script_path, sizeof f->script_path, "%s/script.json", f->dir);
    snprintf(f->transcript_path, sizeof f->transcript_path, "%s/transcript.bin", f->dir);
    snprintf(f->sock_path, sizeof f->sock_path, "%s/smtp.sock", f->dir);
    *state = f;
    return 0;
}

int fault_teardown(void **state) {
    fault_fixture *f = *state;
    if (f == NULL) {
        return 0;
    }
    smtpc_client_free(f->client);
    smtpc_envelope_free(f->env);
    if (f->started) {
        harness_server_stop(&f->srv);
    }
    harness_remove_tree(f->dir);
    free(f->script);
    free(f->transcript);
    free(f->msg);
    free(f->expect);
    free(f);
    *state = NULL;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Script building                                                                                */
/* ---------------------------------------------------------------------------------------------- */

static void append(fault_fixture *f, const char *s, size_t n) {
    if (f->script_len + n + 1 > f->script_cap) {
        size_t cap = f->script_cap ? f->script_cap : 1024;
        while (cap < f->script_len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(f->script, cap);
        assert_non_null(p);
        f->script = p;
        f->script_cap = cap;
    }
    memcpy(f->script + f->script_len, s, n);
    f->script_len += n;
    f->script[f->script_len] = '\0';
}

static void append_str(fault_fixture *f, const char *s) { append(f, s, strlen(s)); }

/* Bytes as a JSON string whose code points are the byte values (the server reads it as Latin-1). */
static void append_json_bytes(fault_fixture *f, const char *bytes, size_t len) {
    append_str(f, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)bytes[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            append(f, esc, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            append(f, esc, 6);
        } else {
            append(f, (const char *)&bytes[i], 1);
        }
    }
    append_str(f, "\"");
}

static void begin_step(fault_fixture *f) { append_str(f, f->steps++ ? ",\n {" : "[\n {"); }

void sc_raw(fault_fixture *f, const char *json) {
    append_str(f, f->steps++ ? ",\n " : "[\n ");
    append_str(f, json);
}

static void step_bytes(fault_fixture *f, const char *key, const char *bytes, size_t len, const char *tail) {
    begin_step(f);
    append_str(f, "\"");
    append_str(f, key);
    append_str(f, "\": ");
    append_json_bytes(f, bytes, len);
    if (tail != NULL) {
        append_str(f, tail);
    }
    append_str(f, "}");
}

void sc_send_n(fault_fixture *f, const char *bytes, size_t len) { step_bytes(f, "send", bytes, len, NULL); }

void sc_send(fault_fixture *f, const char *bytes) { sc_send_n(f, bytes, strlen(bytes)); }

void sc_send_repeat(fault_fixture *f, const char *bytes, long repeat) {
    char tail[64];
    snprintf(tail, sizeof tail, ", \"repeat\": %ld", repeat);
    step_bytes(f, "send", bytes, strlen(bytes), tail);
}

void sc_send_slowly(fault_fixture *f, const char *bytes, double interval) {
    char tail[64];
    snprintf(tail, sizeof tail, ", \"interval\": %.3f", interval);
    step_bytes(f, "send_slowly", bytes, strlen(bytes), tail);
}

void sc_send_then_close(fault_fixture *f, const char *bytes) {
    step_bytes(f, "send_then_close", bytes, strlen(bytes), NULL);
}

void sc_send_then_rst(fault_fixture *f, const char *bytes) {
    step_bytes(f, "send_then_rst", bytes, strlen(bytes), NULL);
}

void sc_expect(fault_fixture *f, const char *prefix) {
    step_bytes(f, "expect", prefix, strlen(prefix), NULL);
}

void sc_expect_lines(fault_fixture *f, int n) {
    char buf[64];
    snprintf(buf, sizeof buf, "{\"expect_lines\": %d}", n);
    sc_raw(f, buf);
}

void sc_read_bytes(fault_fixture *f, long n) {
    char buf[64];
    snprintf(buf, sizeof buf, "{\"read_bytes\": %ld}", n);
    sc_raw(f, buf);
}

void sc_read_until(fault_fixture *f, const char *delim) {
    step_bytes(f, "read_until", delim, strlen(delim), NULL);
}

void sc_read_data(fault_fixture *f) { sc_read_until(f, "\r\n.\r\n"); }

void sc_expect_eof(fault_fixture *f, double timeout) {
    char buf[64];
    snprintf(buf, sizeof buf, "{\"expect_eof\": true, \"timeout\": %.3f}", timeout);
    sc_raw(f, buf);
}

void sc_sleep(fault_fixture *f, double seconds) {
    char buf[64];
    snprintf(buf, sizeof buf, "{\"sleep\": %.3f}", seconds);
    sc_raw(f, buf);
}

void sc_close(fault_fixture *f) { sc_raw(f, "{\"close\": true}"); }

void sc_shutdown_write(fault_fixture *f) { sc_raw(f, "{\"shutdown_write\": true}"); }

void sc_rst(fault_fixture *f) { sc_raw(f, "{\"rst\": true}"); }

void sc_stop_reading(fault_fixture *f, double max_seconds) {
    char buf[64];
    snprintf(buf, sizeof buf, "{\"stop_reading\": true, \"max\": %.3f}", max_seconds);
    sc_raw(f, buf);
}

void sc_hello(fault_fixture *f, int pipelining) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, pipelining ? RPL_EHLO_PIPE : RPL_EHLO);
}

/* ---------------------------------------------------------------------------------------------- */
/* Server and client                                                                              */
/* ---------------------------------------------------------------------------------------------- */

void fault_start(fault_fixture *f) {
    assert_false(f->started);
    if (f->steps == 0) {
        append_str(f, "[");
    }
    append_str(f, "\n]\n");
    assert_int_equal(harness_write_file(f->script_path, f->script, f->script_len), 0);

    char server[1024];
    assert_int_equal(harness_server_script(server, sizeof server, SERVER_SCRIPT), 0);
    const char *argv[24];
    int n = 0;
    argv[n++] = HARNESS_PYTHON;
    argv[n++] = server;
    argv[n++] = "--script";
    argv[n++] = f->script_path;
    argv[n++] = "--transcript";
    argv[n++] = f->transcript_path;
    if (f->use_unix) {
        argv[n++] = "--unix";
        argv[n++] = f->sock_path;
    }
    for (int i = 0; f->extra_args[i] != NULL && n < 22; i++) {
        argv[n++] = f->extra_args[i];
    }
    argv[n] = NULL;
    if (harness_server_start(argv, &f->srv) != 0) {
        fail_msg("fault server did not start (script %s)", f->script_path);
    }
    f->started = 1;
}

int fault_finish(fault_fixture *f, int timeout_ms) {
    char line[256];
    int status = -1;
    long long deadline = harness_now_ms() + (timeout_ms > 0 ? timeout_ms : FINISH_TIMEOUT_MS);
    for (;;) {
        long long left = deadline - harness_now_ms();
        if (left <= 0) {
            break;
        }
        if (harness_server_read_line(&f->srv, line, sizeof line, (int)left) < 0) {
            break;
        }
        if (strncmp(line, "DONE ", 5) == 0) {
            status = atoi(line + 5);
            break;
        }
    }
    harness_server_stop(&f->srv);
    f->started = 0;
    free(f->transcript);
    f->transcript = NULL;
    f->transcript_len = 0;
    if (harness_read_file(f->transcript_path, &f->transcript, &f->transcript_len) != 0) {
        fail_msg("cannot read the server transcript");
    }
    return status;
}

smtpc_client *fault_client(fault_fixture *f, uint32_t connect_ms, uint32_t command_ms) {
    assert_null(f->client);
    assert_int_equal(smtpc_client_new(&f->client, SMTPC_PROTOCOL_SMTP), SMTPC_OK);
    assert_int_equal(smtpc_client_set_local_hostname(f->client, FAULT_HELO_NAME, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_set_connect_timeout(f->client, connect_ms), SMTPC_OK);
    assert_int_equal(smtpc_client_set_command_timeout(f->client, command_ms), SMTPC_OK);
    return f->client;
}

smtpc_status fault_connect(fault_fixture *f) {
    assert_non_null(f->client);
    assert_true(f->started);
    if (f->srv.port == 0) {
        return smtpc_client_connect(f->client, f->srv.path, SMTPC_NTS, 0);
    }
    return smtpc_client_connect(f->client, "127.0.0.1", SMTPC_NTS, (uint16_t)f->srv.port);
}

smtpc_envelope *fault_envelope(fault_fixture *f, const char *rcpt, ...) {
    assert_null(f->env);
    assert_int_equal(smtpc_envelope_new(&f->env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(f->env, "s@example.org", SMTPC_NTS), SMTPC_OK);
    va_list ap;
    va_start(ap, rcpt);
    for (const char *r = rcpt; r != NULL; r = va_arg(ap, const char *)) {
        assert_int_equal(smtpc_envelope_add_recipient(f->env, r, SMTPC_NTS), SMTPC_OK);
    }
    va_end(ap);
    return f->env;
}

void fault_clock_start(fault_fixture *f) { f->t0 = harness_now_ms(); }

long long fault_elapsed_ms(const fault_fixture *f) { return harness_now_ms() - f->t0; }

/* ---------------------------------------------------------------------------------------------- */
/* Assertions                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

/* Print bytes with C escapes, at most `max` of them. */
static void print_escaped(const char *label, const char *p, size_t len, size_t max) {
    fprintf(stderr, "%s (%zu bytes): \"", label, len);
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r') {
            fputs("\\r", stderr);
        } else if (c == '\n') {
            fputs("\\n", stderr);
        } else if (c == '"' || c == '\\') {
            fprintf(stderr, "\\%c", c);
        } else if (c < 0x20 || c >= 0x7f) {
            fprintf(stderr, "\\x%02x", c);
        } else {
            fputc(c, stderr);
        }
    }
    fprintf(stderr, "\"%s\n", len > max ? "..." : "");
}

void fault_assert_status(const fault_fixture *f, smtpc_status got, smtpc_status want, const char *what) {
    if (got != want) {
        const char *msg = f != NULL && f->client != NULL ? smtpc_client_errmsg(f->client) : "";
        fail_msg("%s returned %s (%d), expected %s (%d); errmsg \"%s\"", what, smtpc_status_name(got), got,
                 smtpc_status_name(want), want, msg);
    }
}

void fault_assert_reply(const smtpc_reply *reply, int code, const char *text) {
    if (reply == NULL) {
        fail_msg("no reply kept, expected %d", code);
    }
    if (smtpc_reply_code(reply) != code) {
        fail_msg("reply code %d, expected %d (text \"%s\")", smtpc_reply_code(reply), code,
                 smtpc_reply_text(reply, NULL));
    }
    if (text != NULL) {
        size_t len = 0;
        const char *got = smtpc_reply_text(reply, &len);
        if (len != strlen(text) || memcmp(got, text, len) != 0) {
            fail_msg("reply text \"%s\" (%zu bytes), expected \"%s\"", got, len, text);
        }
    }
}

void fault_assert_transcript(const fault_fixture *f, const char *want, size_t want_len) {
    assert_non_null(f->transcript);
    if (f->transcript_len != want_len || memcmp(f->transcript, want, want_len) != 0) {
        size_t i = 0;
        while (i < want_len && i < f->transcript_len && f->transcript[i] == want[i]) {
            i++;
        }
        print_escaped("server received", f->transcript, f->transcript_len, 2000);
        print_escaped("expected       ", want, want_len, 2000);
        fail_msg("transcript differs at byte %zu (got %zu bytes, expected %zu)", i, f->transcript_len,
                 want_len);
    }
}

void fault_assert_transcript_prefix(const fault_fixture *f, const char *prefix, size_t prefix_len,
                                    const char *rest, size_t rest_len) {
    assert_non_null(f->transcript);
    if (f->transcript_len < prefix_len || memcmp(f->transcript, prefix, prefix_len) != 0) {
        print_escaped("server received", f->transcript, f->transcript_len, 2000);
        print_escaped("expected prefix", prefix, prefix_len, 2000);
        fail_msg("transcript does not start with the expected commands");
    }
    size_t tail = f->transcript_len - prefix_len;
    if (tail > rest_len || memcmp(f->transcript + prefix_len, rest, tail) != 0) {
        size_t i = 0;
        while (i < tail && i < rest_len && f->transcript[prefix_len + i] == rest[i]) {
            i++;
        }
        print_escaped("after the prefix", f->transcript + prefix_len + i, tail - i, 200);
        print_escaped("expected        ", rest + i, rest_len - i, 200);
        fail_msg(
            "transcript after the commands is not a prefix of the expected bytes (differs at %zu of %zu)", i,
            tail);
    }
}
