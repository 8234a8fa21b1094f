// SPDX-License-Identifier: MIT
// Allocation failure through a whole session: for every N, the Nth allocation (C++ operator new, or
// OpenSSL's through CRYPTO_set_mem_functions) fails, once, during a session that connects, upgrades
// with STARTTLS, logs in, sends with sendmail and send_message and quits, against aiosmtpd with TLS
// and AUTH. Every call must return SMTPC_OK or an honest status (SMTPC_ENOMEM; SMTPC_ETLS when the
// failure was OpenSSL's, inside the handshake or a TLS read or write), never crash; a failed call must
// leave the client closed and reusable (the same handle then completes a session), and after
// smtpc_client_free() no C++ allocation may be left, nor more OpenSSL ones than its caches keep
// (LeakSanitizer checks every allocation in the sanitizer build).
//
// Outcomes that fail closed but do not say "out of memory" are tolerated and counted in the summary
// (SMTPC_ALLOC_STRICT=1 makes them failures); they come from below the C facade:
//  - OpenSSL swallows some allocation failures and reports success (SSL_CTX_new, loading a CA file):
//    the configuration is then incomplete and the next handshake fails with SMTPC_ETLS or
//    SMTPC_ETLS_VERIFY;
//  - a failed allocation inside OpenSSL's certificate verification is reported by OpenSSL as a
//    verification error (e.g. X509 error 66, "EE certificate key too weak"): SMTPC_ETLS_VERIFY;
//  - a TLS error found by the idle check before a command (TlsStream::peek_idle) is reported as
//    SMTPC_EDISCONNECTED, "connection closed by the server".
//
// Environment: SMTPC_ALLOC_FROM / SMTPC_ALLOC_TO bound N (default: 1 to the count of a clean session),
// SMTPC_ALLOC_STRIDE steps it (default 1), SMTPC_ALLOC_VERBOSE=1 prints every N.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka.h and the C test helpers have no extern "C" block of their own.
extern "C" {
#include <cmocka.h>

#include "tls_common.h"
}

#include <openssl/crypto.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <string>

// ---------------------------------------------------------------------------------------------
// The allocation hooks. Single-threaded: the library makes no threads.

namespace {

long g_count = 0;    // allocations since the sweep's counter was armed
long g_fail_at = 0;  // the allocation (1-based) to fail; 0: none
bool g_armed = false;
bool g_failed = false;  // the Nth allocation was failed in this run
bool g_openssl_failed = false;
long g_live_new = 0;    // C++ allocations not yet deleted
long g_live_ossl = 0;   // OpenSSL allocations not yet freed
bool g_strict = false;  // SMTPC_ALLOC_STRICT=1: the known misreports below fail the test too

bool fail_now(bool openssl) {
    if (!g_armed) return false;
    if (++g_count != g_fail_at) return false;
    g_failed = true;
    g_openssl_failed = openssl;
    return true;
}

void *ossl_malloc(size_t n, const char *, int) {
    if (fail_now(true)) return nullptr;
    void *p = std::malloc(n ? n : 1);
    if (p) ++g_live_ossl;
    return p;
}

void *ossl_realloc(void *p, size_t n, const char *file, int line) {
    if (!p) return ossl_malloc(n, file, line);
    if (n == 0) {
        std::free(p);
        --g_live_ossl;
        return nullptr;
    }
    if (fail_now(true)) return nullptr;
    return std::realloc(p, n);
}

void ossl_free(void *p, const char *, int) {
    if (!p) return;
    --g_live_ossl;
    std::free(p);
}

void *new_impl(std::size_t n) {
    if (fail_now(false)) return nullptr;
    void *p = std::malloc(n ? n : 1);
    if (p) ++g_live_new;
    return p;
}

void delete_impl(void *p) {
    if (!p) return;
    --g_live_new;
    std::free(p);
}

}  // namespace

void *operator new(std::size_t n) {
    if (void *p = new_impl(n)) return p;
    throw std::bad_alloc();
}
void *operator new[](std::size_t n) {
    if (void *p = new_impl(n)) return p;
    throw std::bad_alloc();
}
void *operator new(std::size_t n, const std::nothrow_t &) noexcept { return new_impl(n); }
void *operator new[](std::size_t n, const std::nothrow_t &) noexcept { return new_impl(n); }
void operator delete(void *p) noexcept { delete_impl(p); }
void operator delete[](void *p) noexcept { delete_impl(p); }
void operator delete(void *p, std::size_t) noexcept { delete_impl(p); }
void operator delete[](void *p, std::size_t) noexcept { delete_impl(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { delete_impl(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { delete_impl(p); }

// ---------------------------------------------------------------------------------------------

namespace {

itest_server g_srv;
constexpr long kOsslCacheSlack = 8;
long g_failures = 0;  // checks that failed (reported at the end, the first few in detail)

#define MSG "From: s@example.org\r\nTo: r@example.org\r\nSubject: alloc\r\n\r\nbody\r\n"

void problem(long n, const char *fmt, ...) {
    if (++g_failures <= 20) {
        va_list ap;
        va_start(ap, fmt);
        std::fprintf(stderr, "N=%ld: ", n);
        std::vfprintf(stderr, fmt, ap);
        std::fputc('\n', stderr);
        va_end(ap);
    }
}

// Statuses after which the connection must be closed.
bool closes(smtpc_status st) {
    return st == SMTPC_ENOMEM || st == SMTPC_ETLS || st == SMTPC_ETLS_VERIFY || st == SMTPC_EIO ||
           st == SMTPC_EDISCONNECTED || st == SMTPC_ETIMEOUT || st == SMTPC_EPROTOCOL ||
           st == SMTPC_ECLOSING || st == SMTPC_ENOTCONN;
}

struct Outcome {
    long failing_step = -1;  // the step during which the Nth allocation failed (-1: none)
    smtpc_status status = SMTPC_OK;
    char errmsg[200] = "";   // not a std::string: the C++ allocation count is checked while this lives
    bool swallowed = false;  // OpenSSL reported success despite the failure; a later handshake failed closed
    bool misreported = false;  // failed closed with a status that does not say "out of memory"
};

// A whole session. With the sweep armed, the step whose call saw the failed allocation must return
// an allowed status and leave the client closed; every earlier step must succeed; later steps must
// be refused cleanly (SMTPC_ENOTCONN) or succeed.
const char *const kSteps[] = {"tls_config_new", "set_ca_file",  "client_new", "set_tls_config",
                              "connect",        "starttls",     "login",      "envelope",
                              "sendmail",       "send_message", "quit"};

Outcome session(long n, smtpc_client *reuse) {
    Outcome out;
    smtpc_tls_config *cfg = nullptr;
    smtpc_client *c = reuse;
    smtpc_envelope *env = nullptr;
    bool dead = false;  // a step failed: the rest may only fail cleanly
    auto step = [&](int i, smtpc_status st, bool on_client) {
        bool failed_here = g_failed && out.failing_step < 0;
        if (failed_here) {
            out.failing_step = i;
            out.status = st;
            std::snprintf(out.errmsg, sizeof out.errmsg, "%s", on_client && c ? smtpc_client_errmsg(c) : "");
        }
        // OpenSSL sometimes swallows a failed allocation and reports success (SSL_CTX_new, loading a CA
        // file): the configuration is then incomplete and the handshake fails closed. Counted, allowed.
        if (!g_strict && !dead && !failed_here && st != SMTPC_OK && out.failing_step >= 0 &&
            out.status == SMTPC_OK && g_openssl_failed && (st == SMTPC_ETLS || st == SMTPC_ETLS_VERIFY)) {
            out.swallowed = true;
            std::snprintf(out.errmsg, sizeof out.errmsg, "%s", c ? smtpc_client_errmsg(c) : "");
        } else if (!dead && !failed_here && st != SMTPC_OK)
            problem(n, "%s returned %s without a failed allocation: %s", kSteps[i], smtpc_status_name(st),
                    on_client && c ? smtpc_client_errmsg(c) : "");
        if (failed_here && st != SMTPC_OK) {
            // Honest: out of memory; OpenSSL's failure reported as a TLS failure with its reason; the
            // reply to a message that was sent could not be read.
            bool allowed = st == SMTPC_ENOMEM ||
                           (g_openssl_failed && (st == SMTPC_ETLS || st == SMTPC_EDELIVERY_UNKNOWN));
            // Fail-closed but misreported (see the top of this file): tolerated unless strict.
            bool known = g_openssl_failed && (st == SMTPC_ETLS_VERIFY || st == SMTPC_EDISCONNECTED);
            if (known && !g_strict) out.misreported = true;
            else if (!allowed)
                problem(n, "%s returned %s after a failed %s allocation: %s", kSteps[i],
                        smtpc_status_name(st), g_openssl_failed ? "OpenSSL" : "C++",
                        on_client && c ? smtpc_client_errmsg(c) : "");
        }
        if (on_client && c && st != SMTPC_OK && closes(st) && smtpc_client_is_connected(c))
            problem(n, "%s returned %s and the client is still connected", kSteps[i], smtpc_status_name(st));
        if (dead && st != SMTPC_OK && st != SMTPC_ENOTCONN && st != SMTPC_EINVAL)
            problem(n, "%s after an earlier failure returned %s", kSteps[i], smtpc_status_name(st));
        if (st != SMTPC_OK) dead = true;
    };

    step(0, smtpc_tls_config_new(&cfg), false);
    if (cfg) {
        smtpc_status st = smtpc_tls_config_set_ca_file(cfg, tls_pki("ca.pem"), SMTPC_NTS);
        step(1, st, false);
    }
    if (!c) step(2, smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP), false);
    if (!c) {
        smtpc_tls_config_free(cfg);
        return out;
    }
    if (!reuse) {
        // Options of a fresh client: not counted as steps (they allocate only the host name).
        bool was = g_armed;
        g_armed = false;
        smtpc_client_set_local_hostname(c, TLS_CLIENT_NAME, SMTPC_NTS);
        smtpc_client_set_connect_timeout(c, ITEST_CONNECT_TIMEOUT_MS);
        smtpc_client_set_command_timeout(c, ITEST_COMMAND_TIMEOUT_MS);
        smtpc_client_set_tls_policy(c, SMTPC_TLS_REQUIRED);
        g_armed = was;
    }
    step(3, cfg ? smtpc_client_set_tls_config(c, cfg) : SMTPC_EINVAL, true);
    smtpc_tls_config_free(cfg);
    if (!dead) {
        step(4, smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)g_srv.proc.port), true);
        step(5, smtpc_client_starttls(c), true);
        step(6, smtpc_client_login(c, "user", SMTPC_NTS, "pass", SMTPC_NTS), true);
        smtpc_status st = smtpc_envelope_new(&env);
        if (st == SMTPC_OK) st = smtpc_envelope_set_sender(env, "s@example.org", SMTPC_NTS);
        if (st == SMTPC_OK) st = smtpc_envelope_add_recipient(env, "r@example.org", SMTPC_NTS);
        step(7, st, false);
        if (env) step(8, smtpc_client_sendmail(c, env, MSG, SMTPC_NTS), true);
        step(9, smtpc_client_send_message(c, nullptr, MSG, SMTPC_NTS), true);
        step(10, smtpc_client_quit(c), true);
    }
    if (smtpc_client_is_connected(c)) problem(n, "still connected after the session");
    smtpc_envelope_free(env);
    if (!reuse) {
        // The same handle must complete a whole session after whatever happened.
        if (g_failed) {
            bool was = g_armed, openssl = g_openssl_failed;
            g_armed = false;
            g_failed = false;
            long saved = g_failures;
            session(n, c);
            if (g_failures != saved) problem(n, "the client did not complete a session after the failure");
            g_armed = was;
            g_failed = true;
            g_openssl_failed = openssl;
        }
        smtpc_client_free(c);
    }
    return out;
}

void test_alloc_sweep(void **) {
    const char *extra[] = {"--auth", "user:pass", nullptr};
    if (tls_start_aiosmtpd(&g_srv, "server", extra) != 0) fail_msg("aiosmtpd did not start");

    // Warm-up (OpenSSL's and the library's one-time initialisation), with the second session on the
    // same handle that a failed run makes; then a clean session counts the allocations.
    g_failed = true;
    session(0, nullptr);
    g_failed = false;
    long base_new = g_live_new, base_ossl = g_live_ossl;
    g_count = 0;
    g_fail_at = 0;
    g_armed = true;
    session(0, nullptr);
    g_armed = false;
    long total = g_count;
    if (g_failures) fail_msg("a clean session failed");
    if (g_live_new != base_new) fail_msg("a clean session leaks %ld C++ allocations", g_live_new - base_new);
    std::fprintf(stderr, "a clean session makes %ld allocations (C++ and OpenSSL)\n", total);

    long from = 1, to = total, stride = 1;
    if (const char *e = std::getenv("SMTPC_ALLOC_FROM")) from = std::atol(e);
    if (const char *e = std::getenv("SMTPC_ALLOC_TO")) to = std::atol(e);
    if (const char *e = std::getenv("SMTPC_ALLOC_STRIDE")) stride = std::atol(e) > 0 ? std::atol(e) : 1;
    bool verbose = std::getenv("SMTPC_ALLOC_VERBOSE") != nullptr;
    g_strict = std::getenv("SMTPC_ALLOC_STRICT") != nullptr;

    std::map<std::string, long> seen;  // "step: status (C++|OpenSSL)" -> count
    long max_ossl_growth = 0, runs = 0, untouched = 0;
    for (long n = from; n <= to; n += stride) {
        g_count = 0;
        g_fail_at = n;
        g_failed = false;
        g_openssl_failed = false;
        g_armed = true;
        long saved_failures = g_failures;
        long live_before = g_live_new, ossl_before = g_live_ossl;
        Outcome o = session(n, nullptr);
        g_armed = false;
        ++runs;
        if (!g_failed) ++untouched;              // the run took another path with fewer allocations
        long leaked = g_live_new - live_before;  // before this loop's own bookkeeping allocates
        std::string key = o.failing_step < 0
                              ? std::string("(no failure seen by a step)")
                              : std::string(kSteps[o.failing_step]) + ": " + smtpc_status_name(o.status) +
                                    (g_openssl_failed ? " (OpenSSL)" : " (C++)") +
                                    (o.swallowed ? ", then the handshake failed closed" : "") +
                                    (o.misreported ? " (misreported, fails closed)" : "");
        ++seen[key];
        if (leaked) problem(n, "%ld C++ allocation(s) left after free (%s)", leaked, key.c_str());
        // OpenSSL keeps a few allocations for its caches the first time a path runs; a leaked SSL,
        // SSL_CTX or certificate is tens to hundreds of them (LeakSanitizer names them).
        if (g_live_ossl - ossl_before > kOsslCacheSlack)
            problem(n, "%ld OpenSSL allocation(s) left after free (%s)", g_live_ossl - ossl_before,
                    key.c_str());
        if (g_live_ossl - base_ossl > max_ossl_growth) max_ossl_growth = g_live_ossl - base_ossl;
        if (verbose || g_failures != saved_failures)
            std::fprintf(stderr, "N=%ld: %s %s\n", n, key.c_str(), o.errmsg);
    }
    std::fprintf(stderr,
                 "%ld runs (N = %ld..%ld step %ld), %ld without the failure reaching a step; outcomes:\n",
                 runs, from, to, stride, untouched);
    for (const auto &kv : seen) std::fprintf(stderr, "  %6ld  %s\n", kv.second, kv.first.c_str());
    std::fprintf(stderr, "OpenSSL allocations alive after a run, above the baseline: at most %ld\n",
                 max_ossl_growth);
    itest_stop(&g_srv);
    if (g_failures) fail_msg("%ld problem(s), the first ones printed above", g_failures);
}

int setup(void **) { return tls_pki_setup(); }
int teardown(void **) {
    tls_pki_teardown();
    return 0;
}

}  // namespace

int main() {
    // Before anything can make OpenSSL allocate.
    if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free)) {
        std::fprintf(stderr, "CRYPTO_set_mem_functions refused: OpenSSL allocated before main\n");
        return 1;
    }
    const CMUnitTest tests[] = {cmocka_unit_test(test_alloc_sweep)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
