// SPDX-License-Identifier: MIT
// The session cache of a TLS configuration (src/tls/tls_config.*) on its own, with sessions made in
// memory: the bound on peers (least recently used dropped), TLS 1.2 sessions kept after a take, a
// renewed TLS 1.2 session replacing the old one, expired sessions and sessions that cannot be
// resumed dropped, forget_session(), the off switch, and every session freed (run under ASan/LSan).
// No network, no server.
// Before cmocka.h, whose fail() macro would rewrite the class's fail().
#include "tls/tls_config.hpp"

#include <ctime>
#include <string>

#include <cstdarg>
#include <cstddef>
#include <csetjmp>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

using smtpc::detail::TlsConfig;

namespace {

std::shared_ptr<TlsConfig> make_config() {
    std::string error;
    std::shared_ptr<TlsConfig> cfg = TlsConfig::create(error);
    assert_non_null(cfg.get());
    return cfg;
}

// A resumable TLS 1.2 session in memory (a session ID). TLS 1.3 sessions need a ticket, which
// OpenSSL only takes from the wire: their single use is tested end to end (test_tls_resume.c).
SSL_SESSION *tls12(unsigned char id, long age = 0, long timeout = 7200) {
    SSL_SESSION *s = SSL_SESSION_new();
    assert_non_null(s);
    assert_int_equal(SSL_SESSION_set_protocol_version(s, TLS1_2_VERSION), 1);
    unsigned char sid[32] = {id};
    assert_int_equal(SSL_SESSION_set1_id(s, sid, sizeof sid), 1);
    SSL_SESSION_set_time(s, static_cast<long>(std::time(nullptr)) - age);
    SSL_SESSION_set_timeout(s, timeout);
    assert_int_equal(SSL_SESSION_is_resumable(s), 1);
    return s;
}

SSL_SESSION *not_resumable() {
    SSL_SESSION *s = SSL_SESSION_new();
    assert_non_null(s);
    assert_int_equal(SSL_SESSION_set_protocol_version(s, TLS1_2_VERSION), 1);
    assert_int_equal(SSL_SESSION_is_resumable(s), 0);  // no ID, no ticket
    return s;
}

std::string key(int n) { return "peer" + std::to_string(n) + " 25\nname\nEPH"; }

void test_take_keeps_tls12_and_counts(void **) {
    auto cfg = make_config();
    assert_null(cfg->take_session(key(1)));
    SSL_SESSION *s = tls12(1);
    cfg->save_session(key(1), s);
    assert_int_equal(cfg->saved_sessions(), 1);
    // A TLS 1.2 session may be offered again: taken twice, still there.
    SSL_SESSION *a = cfg->take_session(key(1));
    SSL_SESSION *b = cfg->take_session(key(1));
    assert_ptr_equal(a, s);
    assert_ptr_equal(b, s);
    assert_int_equal(cfg->saved_sessions(), 1);
    SSL_SESSION_free(a);
    SSL_SESSION_free(b);
    assert_null(cfg->take_session(key(2)));  // another key: nothing
    // A renewed session replaces it; a declined one is forgotten.
    SSL_SESSION *renewed = tls12(2);
    cfg->save_session(key(1), renewed);
    assert_int_equal(cfg->saved_sessions(), 1);
    SSL_SESSION *c = cfg->take_session(key(1));
    assert_ptr_equal(c, renewed);
    cfg->forget_session(key(1), c);
    SSL_SESSION_free(c);
    assert_int_equal(cfg->saved_sessions(), 0);
    assert_null(cfg->take_session(key(1)));
}

void test_expired_and_unresumable_dropped(void **) {
    auto cfg = make_config();
    cfg->save_session(key(1), tls12(1, 7300, 7200));  // ended 100 s ago
    assert_null(cfg->take_session(key(1)));
    assert_int_equal(cfg->saved_sessions(), 0);
    cfg->save_session(key(1), tls12(1, 100, 7200));
    SSL_SESSION *s = cfg->take_session(key(1));
    assert_non_null(s);
    SSL_SESSION_free(s);
    cfg->save_session(key(2), not_resumable());  // kept by nobody, freed
    assert_null(cfg->take_session(key(2)));
}

void test_peer_bound_drops_least_recently_used(void **) {
    auto cfg = make_config();
    const int n = static_cast<int>(TlsConfig::kMaxPeers);
    for (int i = 0; i < n; i++) cfg->save_session(key(i), tls12(static_cast<unsigned char>(i)));
    assert_int_equal(cfg->saved_sessions(), n);
    // Peer 0 used now: peer 1 is the least recently used when a new peer comes.
    SSL_SESSION *s = cfg->take_session(key(0));
    SSL_SESSION_free(s);
    cfg->save_session(key(n), tls12(0xfe));
    assert_int_equal(cfg->saved_sessions(), n);
    assert_null(cfg->take_session(key(1)));
    s = cfg->take_session(key(0));
    assert_non_null(s);
    SSL_SESSION_free(s);
    s = cfg->take_session(key(n));
    assert_non_null(s);
    SSL_SESSION_free(s);
}

void test_off_switch_forgets(void **) {
    auto cfg = make_config();
    assert_true(cfg->session_resumption());
    cfg->save_session(key(1), tls12(1));
    cfg->save_session(key(2), tls12(2));
    cfg->set_session_resumption(false);
    assert_int_equal(cfg->saved_sessions(), 0);
    cfg->save_session(key(1), tls12(3));  // not kept while off
    assert_int_equal(cfg->saved_sessions(), 0);
    assert_null(cfg->take_session(key(1)));
    cfg->set_session_resumption(true);
    cfg->save_session(key(1), tls12(4));
    assert_int_equal(cfg->saved_sessions(), 1);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_keeps_tls12_and_counts),
        cmocka_unit_test(test_expired_and_unresumable_dropped),
        cmocka_unit_test(test_peer_bound_drops_least_recently_used),
        cmocka_unit_test(test_off_switch_forgets),
    };
    return cmocka_run_group_tests_name("tls_session_cache", tests, nullptr, nullptr);
}
