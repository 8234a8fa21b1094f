/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE 1

#include "itest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int dir_join(char *buf, size_t cap, const char *a, const char *b) {
    int n = snprintf(buf, cap, "%s/%s", a, b);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int make_dirs(itest_server *srv) {
    memset(srv, 0, sizeof *srv);
    srv->proc.stdout_fd = -1;
    if (harness_make_temp_dir("smtpc-itest", srv->dir, sizeof srv->dir) != 0) return -1;
    if (dir_join(srv->spool, sizeof srv->spool, srv->dir, "spool") != 0 ||
        dir_join(srv->sessions, sizeof srv->sessions, srv->dir, "sessions") != 0)
        return -1;
    if (mkdir(srv->spool, 0700) != 0 || mkdir(srv->sessions, 0700) != 0) return -1;
    return 0;
}

int itest_start_aiosmtpd(itest_server *srv, int unix_socket, const char *const extra[]) {
    if (make_dirs(srv) != 0) return -1;
    char script[1024];
    if (harness_server_script(script, sizeof script, "aiosmtpd_server.py") != 0) return -1;
    const char *argv[64];
    size_t n = 0;
    argv[n++] = HARNESS_PYTHON;
    argv[n++] = script;
    argv[n++] = "--spool";
    argv[n++] = srv->spool;
    argv[n++] = "--sessions";
    argv[n++] = srv->sessions;
    if (unix_socket) {
        if (dir_join(srv->sock, sizeof srv->sock, srv->dir, "lmtp.sock") != 0) return -1;
        argv[n++] = "--unix";
        argv[n++] = srv->sock;
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 62; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    if (harness_server_start(argv, &srv->proc) != 0) {
        harness_remove_tree(srv->dir);
        srv->dir[0] = '\0';
        return -1;
    }
    return 0;
}

int itest_start_postfix(itest_server *srv) { return itest_start_postfix_args(srv, NULL); }

int itest_start_postfix_args(itest_server *srv, const char *const extra[]) {
    if (make_dirs(srv) != 0) return -1;
    char script[1024];
    if (harness_server_script(script, sizeof script, "postfix_server.py") != 0) return -1;
    const char *argv[32] = {HARNESS_PYTHON, script, "--spool", srv->spool, "--sessions", srv->sessions};
    size_t n = 6;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 31; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    if (harness_server_start_timeout(argv, 60000, &srv->proc) != 0) {
        harness_remove_tree(srv->dir);
        srv->dir[0] = '\0';
        return -1;
    }
    return 0;
}

void itest_stop(itest_server *srv) {
    if (srv == NULL) return;
    harness_server_stop(&srv->proc);
    if (srv->dir[0] != '\0') harness_remove_tree(srv->dir);
    srv->dir[0] = '\0';
}

/* ---- the JSON written by aiosmtpd_server.py (json.dump(sort_keys=True, indent=1)) ---- */

static const char *find_key(const char *json, const char *key) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (p == NULL) return NULL;
    p += strlen(pat);
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    return p;
}

/* Read a JSON string at p (pointing at '"'); escapes are kept as they are (tests use plain text). */
static char *read_string(const char *p, const char **end) {
    if (*p != '"') return NULL;
    p++;
    const char *q = p;
    while (*q != '\0' && *q != '"') {
        if (*q == '\\' && q[1] != '\0') q++;
        q++;
    }
    if (*q != '"') return NULL;
    char *s = strndup(p, (size_t)(q - p));
    if (end != NULL) *end = q + 1;
    return s;
}

static int get_hex(const char *json, const char *key, char **out, size_t *len) {
    const char *p = find_key(json, key);
    if (p == NULL) return -1;
    char *hex = read_string(p, NULL);
    if (hex == NULL) return -1;
    int rc = harness_hex_decode(hex, strlen(hex), out, len);
    free(hex);
    return rc;
}

static int get_hex_list(const char *json, const char *key, char ***out, size_t *count) {
    *out = NULL;
    *count = 0;
    const char *p = find_key(json, key);
    if (p == NULL || *p != '[') return -1;
    p++;
    size_t cap = 8, n = 0;
    char **list = calloc(cap, sizeof *list);
    if (list == NULL) return -1;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == ',' || *p == '\r' || *p == '\t') p++;
        if (*p == ']') break;
        const char *end;
        char *hex = read_string(p, &end);
        if (hex == NULL) goto fail;
        if (n == cap) {
            char **nl = realloc(list, cap * 2 * sizeof *list);
            if (nl == NULL) {
                free(hex);
                goto fail;
            }
            list = nl;
            cap *= 2;
        }
        int rc = harness_hex_decode(hex, strlen(hex), &list[n], NULL);
        free(hex);
        if (rc != 0) goto fail;
        n++;
        p = end;
    }
    *out = list;
    *count = n;
    return 0;
fail:
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
    return -1;
}

static long get_long(const char *json, const char *key) {
    const char *p = find_key(json, key);
    return p == NULL ? -1 : strtol(p, NULL, 10);
}

/* Names in dir starting with prefix, sorted. */
static int list_prefixed(const char *dir, const char *prefix, char ***names, size_t *count) {
    char **all;
    size_t n;
    *names = NULL;
    *count = 0;
    if (harness_list_dir(dir, &all, &n) != 0) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(all[i], prefix, strlen(prefix)) == 0) all[k++] = all[i];
        else free(all[i]);
    }
    *names = all;
    *count = k;
    return 0;
}

static size_t count_prefixed(const char *dir, const char *prefix) {
    char **names;
    size_t n;
    if (list_prefixed(dir, prefix, &names, &n) != 0) return 0;
    harness_free_list(names, n);
    return n;
}

size_t itest_msg_count(const itest_server *srv) { return count_prefixed(srv->spool, "msg-"); }

size_t itest_session_count(const itest_server *srv) { return count_prefixed(srv->sessions, "session-"); }

static int load_nth(const char *dir, const char *prefix, size_t index, int timeout_ms, char **json) {
    *json = NULL;
    long long deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        char **names;
        size_t n;
        if (list_prefixed(dir, prefix, &names, &n) != 0) return -1;
        if (index < n) {
            char path[1200];
            int rc = dir_join(path, sizeof path, dir, names[index]);
            harness_free_list(names, n);
            if (rc != 0) return -1;
            return harness_read_file(path, json, NULL);
        }
        harness_free_list(names, n);
        if (harness_now_ms() >= deadline) {
            fprintf(stderr, "itest: no %s file #%zu in %s after %d ms\n", prefix, index, dir, timeout_ms);
            return -1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int itest_load_msg(const itest_server *srv, size_t index, int timeout_ms, itest_msg *out) {
    memset(out, 0, sizeof *out);
    char *json;
    if (load_nth(srv->spool, "msg-", index, timeout_ms, &json) != 0) return -1;
    int rc = -1;
    size_t nopts = 0;
    out->seq = get_long(json, "seq");
    out->session = get_long(json, "session");
    const char *e = find_key(json, "esmtp");
    out->esmtp = e != NULL && strncmp(e, "true", 4) == 0;
    const char *h = find_key(json, "helo");
    out->helo = h != NULL ? read_string(h, NULL) : NULL;
    if (get_hex(json, "mail_from_hex", &out->mail_from, &out->mail_from_len) != 0) goto done;
    if (get_hex(json, "mail_options_hex", &out->mail_options, NULL) != 0) goto done;
    if (get_hex_list(json, "rcpt_tos_hex", &out->rcpt_tos, &out->rcpt_count) != 0) goto done;
    if (get_hex_list(json, "rcpt_options_hex", &out->rcpt_options, &nopts) != 0 || nopts != out->rcpt_count)
        goto done;
    if (get_hex(json, "content_hex", &out->content, &out->content_len) != 0) goto done;
    if (get_hex(json, "raw_hex", &out->raw, &out->raw_len) != 0) goto done;
    rc = 0;
done:
    free(json);
    if (rc != 0) {
        fprintf(stderr, "itest: malformed message record #%zu\n", index);
        if (out->rcpt_options == NULL) nopts = 0;
        for (size_t i = 0; i < nopts; i++) free(out->rcpt_options[i]);
        free(out->rcpt_options);
        out->rcpt_options = NULL;
        itest_msg_free(out);
    }
    return rc;
}

void itest_msg_free(itest_msg *m) {
    if (m == NULL) return;
    free(m->helo);
    free(m->mail_from);
    free(m->mail_options);
    for (size_t i = 0; i < m->rcpt_count; i++) {
        if (m->rcpt_tos != NULL) free(m->rcpt_tos[i]);
        if (m->rcpt_options != NULL) free(m->rcpt_options[i]);
    }
    free(m->rcpt_tos);
    free(m->rcpt_options);
    free(m->content);
    free(m->raw);
    memset(m, 0, sizeof *m);
}

static int load_session_json(const itest_server *srv, size_t index, int timeout_ms, char **json) {
    *json = NULL;
    /* aiosmtpd_server.py numbers connections from 1 in order of arrival. */
    char name[64], path[1200];
    snprintf(name, sizeof name, "session-%06zu.json", index + 1);
    if (dir_join(path, sizeof path, srv->sessions, name) != 0) return -1;
    long long deadline = harness_now_ms() + timeout_ms;
    while (access(path, F_OK) != 0) {
        if (harness_now_ms() >= deadline) {
            fprintf(stderr, "itest: %s did not appear within %d ms\n", path, timeout_ms);
            return -1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return harness_read_file(path, json, NULL);
}

int itest_load_session(const itest_server *srv, size_t index, int timeout_ms, char **raw, size_t *len) {
    *raw = NULL;
    *len = 0;
    char *json;
    if (load_session_json(srv, index, timeout_ms, &json) != 0) return -1;
    int rc = get_hex(json, "raw_hex", raw, len);
    free(json);
    return rc;
}

/* The value of `key` in json: hex-decoded for "*_hex" keys, else the string, number or literal. */
static int get_field(const char *json, const char *key, char **out, size_t *len) {
    size_t dummy;
    if (len == NULL) len = &dummy;
    *out = NULL;
    *len = 0;
    size_t klen = strlen(key);
    if (klen > 4 && strcmp(key + klen - 4, "_hex") == 0) return get_hex(json, key, out, len);
    const char *p = find_key(json, key);
    if (p == NULL) return -1;
    if (*p == '"') {
        *out = read_string(p, NULL);
    } else {
        size_t n = strcspn(p, ",\n\r}]");
        while (n > 0 && p[n - 1] == ' ') n--;
        *out = strndup(p, n);
    }
    if (*out == NULL) return -1;
    *len = strlen(*out);
    return 0;
}

int itest_load_session_field(const itest_server *srv, size_t index, int timeout_ms, const char *key,
                             char **out, size_t *len) {
    *out = NULL;
    char *json;
    if (load_session_json(srv, index, timeout_ms, &json) != 0) return -1;
    int rc = get_field(json, key, out, len);
    if (rc != 0) fprintf(stderr, "itest: no key %s in session record #%zu\n", key, index);
    free(json);
    return rc;
}

int itest_load_msg_field(const itest_server *srv, size_t index, int timeout_ms, const char *key, char **out,
                         size_t *len) {
    *out = NULL;
    char *json;
    if (load_nth(srv->spool, "msg-", index, timeout_ms, &json) != 0) return -1;
    int rc = get_field(json, key, out, len);
    if (rc != 0) fprintf(stderr, "itest: no key %s in message record #%zu\n", key, index);
    free(json);
    return rc;
}

/* ---- trace ---- */

void itest_trace_cb(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us, void *userdata) {
    itest_trace *t = userdata;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        itest_event *ne = realloc(t->ev, ncap * sizeof *ne);
        if (ne == NULL) abort();
        t->ev = ne;
        t->cap = ncap;
    }
    itest_event *e = &t->ev[t->n++];
    e->kind = kind;
    e->len = len;
    e->time_us = time_us;
    e->data = malloc(len + 1);
    if (e->data == NULL) abort();
    if (len > 0) memcpy(e->data, data, len);
    e->data[len] = '\0';
}

void itest_trace_clear(itest_trace *t) {
    for (size_t i = 0; i < t->n; i++) free(t->ev[i].data);
    free(t->ev);
    t->ev = NULL;
    t->n = t->cap = 0;
}

/* ---- clients ---- */

smtpc_client *itest_client(smtpc_protocol proto, const char *name) {
    smtpc_client *c = NULL;
    if (smtpc_client_new(&c, proto) != SMTPC_OK || c == NULL) return NULL;
    if (smtpc_client_set_connect_timeout(c, ITEST_CONNECT_TIMEOUT_MS) != SMTPC_OK ||
        smtpc_client_set_command_timeout(c, ITEST_COMMAND_TIMEOUT_MS) != SMTPC_OK ||
        (name != NULL && smtpc_client_set_local_hostname(c, name, SMTPC_NTS) != SMTPC_OK)) {
        smtpc_client_free(c);
        return NULL;
    }
    return c;
}

smtpc_status itest_connect(smtpc_client *c, itest_server *srv) {
    smtpc_status st;
    if (srv->sock[0] != '\0') st = smtpc_client_connect(c, srv->sock, SMTPC_NTS, 0);
    else st = smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)srv->proc.port);
    if (st == SMTPC_OK || st == SMTPC_EGREETING) srv->connections++;
    return st;
}

int itest_last_session(const itest_server *srv, char **raw, size_t *len) {
    *raw = NULL;
    *len = 0;
    if (srv->connections == 0) return -1;
    return itest_load_session(srv, srv->connections - 1, 10000, raw, len);
}

int itest_eq_nocase(const char *a, size_t alen, const char *b, size_t blen) {
    if (alen != blen) return 0;
    for (size_t i = 0; i < alen; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return 0;
    return 1;
}

int64_t itest_wall_us(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

void itest_dump(const char *label, const char *data, size_t len) {
    fprintf(stderr, "%s (%zu bytes): \"", label, len);
    for (size_t i = 0; data != NULL && i < len; i++) {
        unsigned char ch = (unsigned char)data[i];
        if (ch == '\r') fputs("\\r", stderr);
        else if (ch == '\n') fputs("\\n", stderr);
        else if (ch == '"' || ch == '\\') fprintf(stderr, "\\%c", ch);
        else if (ch < 32 || ch >= 127) fprintf(stderr, "\\x%02x", ch);
        else fputc(ch, stderr);
    }
    fputs("\"\n", stderr);
}

int itest_bytes_match(const char *got, size_t glen, const char *exp, size_t elen, int nocase) {
    int ok;
    if (nocase) ok = itest_eq_nocase(got, glen, exp, elen);
    else ok = glen == elen && (elen == 0 || memcmp(got, exp, elen) == 0);
    if (!ok) {
        itest_dump("expected", exp, elen);
        itest_dump("got     ", got, glen);
    }
    return ok;
}
