/* SPDX-License-Identifier: MIT */
/*
 * bench-libcurl-client HOST PORT COUNT SIZE: the comparison's message (bench_message.h) COUNT times
 * through libcurl's SMTP support, reusing one easy handle so that libcurl keeps one connection.
 * Exit 0 only when every transfer ends with a 2xx reply. xfer_seconds runs from the end of the
 * first transfer's connect phase (CURLINFO_CONNECT_TIME) to the end of the last transfer.
 */
#include "bench_message.h"

#include <curl/curl.h>

struct source {
    const char *data;
    size_t len, off;
};

static size_t read_cb(char *buf, size_t size, size_t nitems, void *userdata) {
    struct source *s = (struct source *)userdata;
    size_t room = size * nitems, n = s->len - s->off;
    if (n > room) n = room;
    memcpy(buf, s->data + s->off, n);
    s->off += n;
    return n;
}

int main(int argc, char **argv) {
    const char *host;
    unsigned port;
    unsigned long count, ok = 0;
    long connects = 0;
    size_t size, len = 0;
    char url[300];
    bench_args(argc, argv, "bench-libcurl-client", &host, &port, &count, &size);
    char *msg = bench_message(size, &len);
    if (!msg || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
    CURL *curl = curl_easy_init();
    struct curl_slist *rcpts = curl_slist_append(NULL, "<" BENCH_RECIPIENT ">");
    if (!curl || !rcpts) return 1;
    /* The URL's path is the EHLO name. */
    snprintf(url, sizeof url, "smtp://%s:%u/bench.example.com", host, port);
    struct source src = {msg, len, 0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, "<" BENCH_SENDER ">");
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(curl, CURLOPT_READDATA, &src);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    double t0 = 0.0;
    for (unsigned long i = 0; i < count; ++i) {
        double start = bench_now();
        src.off = 0;
        CURLcode rc = curl_easy_perform(curl);
        long code = 0, n = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &n);
        connects += n;
        if (i == 0) {
            double connect_time = 0.0;
            curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME, &connect_time);
            t0 = start + connect_time;
        }
        if (rc != CURLE_OK) {
            fprintf(stderr, "bench-libcurl-client: message %lu: %s\n", i + 1, curl_easy_strerror(rc));
            break;
        }
        if (code >= 200 && code < 300) ++ok;
    }
    double t1 = bench_now();
    bench_report((unsigned long)connects, ok, t1 - t0);
    curl_slist_free_all(rcpts);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    free(msg);
    if (ok != count) {
        fprintf(stderr, "bench-libcurl-client: %lu of %lu messages accepted\n", ok, count);
        return 1;
    }
    return 0;
}
