// SPDX-License-Identifier: MIT
// TLS configuration: an OpenSSL SSL_CTX with secure defaults plus the verification switches.
//
// Life cycle: a configuration is set up by its owner, then used by any number of connections on any
// number of threads. Its first handshake freezes it: from then on the SSL_CTX is never changed
// (OpenSSL allows SSL_new from several threads only on a context that no longer changes), and the
// setters that would change it return SMTPC_ESTATE. The verification switches are not part of the
// SSL_CTX (they are applied to each connection) and may be changed at any time.
//
// Trust anchors: a configuration given none (no CA file, directory or DER certificate) verifies
// against the system trust store, which is loaded once per process, on the first handshake that
// needs it, and shared by every such configuration (an X509_STORE is reference-counted and
// thread-safe). Loading it costs tens of milliseconds (OpenSSL parses the whole bundle); doing
// that once per connection was the defect this design removes.
//
// Session resumption: each configuration keeps the sessions its connections were given (TLS 1.3
// tickets, TLS 1.2 tickets and session IDs), taken from OpenSSL's new-session callback, keyed by the
// peer (host and port), the name verified and the verification settings, so that a session is only
// ever offered to the peer it was made with, under the same trust. Bounded (kMaxPeers peers,
// kSessionsPerPeer sessions each, least recently used peer dropped), guarded by its own mutex, TLS
// 1.3 tickets used once (RFC 8446 C.4), expired sessions dropped. Not part of the SSL_CTX: it may
// be switched off at any time (which also drops what it holds).
#pragma once

#include "smtpc.h"

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace smtpc::detail {

class TlsConfig;

// One connection's link to its configuration's session cache, set on its SSL (ex_data) so that the
// new-session callback knows where a session belongs. Owned beside the SSL and outlives it.
struct SessionSlot {
    TlsConfig *config = nullptr;
    std::string key;              // empty: this connection neither offers nor saves sessions
    bool accepted = false;        // the handshake passed every check: sessions now go to the cache
    SSL_SESSION *held = nullptr;  // a session that came before that (TLS 1.2: inside the handshake)
    unsigned saved = 0;           // sessions saved from this connection
    SessionSlot() = default;
    SessionSlot(const SessionSlot &) = delete;
    SessionSlot &operator=(const SessionSlot &) = delete;
    ~SessionSlot() { SSL_SESSION_free(held); }
    // Links the slot to `ssl`; false when OpenSSL cannot (out of memory).
    bool attach(SSL *ssl);
    // The handshake passed: a session held back goes to the cache, and later ones go straight there.
    void accept();
};

class TlsConfig {
  public:
    // Throws std::bad_alloc; returns nullptr with `error` set when OpenSSL cannot set up a context.
    static std::shared_ptr<TlsConfig> create(std::string &error);
    // The configuration of every client that was given none: made on first use (thread-safe), then
    // shared and kept until the process exits, so that its SSL_CTX is made once.
    static std::shared_ptr<TlsConfig> shared_default(std::string &error);
    ~TlsConfig();
    TlsConfig(const TlsConfig &) = delete;
    TlsConfig &operator=(const TlsConfig &) = delete;

    // Marks the configuration as in use (frozen) and returns its context. Call before SSL_new.
    SSL_CTX *use();
    bool in_use() const { return in_use_.load(std::memory_order_acquire); }
    // True when the caller gave trust anchors of its own: the system store is then never loaded.
    bool own_trust_anchors() const { return own_trust_store_; }
    bool verify_peer() const { return verify_peer_.load(std::memory_order_relaxed); }
    bool verify_hostname() const { return verify_hostname_.load(std::memory_order_relaxed); }

    // Each returns SMTPC_OK or an error status with error() set; SMTPC_ESTATE once in use.
    smtpc_status set_ca_file(const std::string &path);
    smtpc_status set_ca_path(const std::string &path);
    smtpc_status add_ca_der(const unsigned char *der, std::size_t len);
    smtpc_status set_client_cert(const std::string &cert, const std::string &key,
                                 const std::string &password);
    void set_verify_peer(bool on) { verify_peer_.store(on, std::memory_order_relaxed); }
    void set_verify_hostname(bool on) { verify_hostname_.store(on, std::memory_order_relaxed); }
    smtpc_status set_min_version(smtpc_tls_version v);
    smtpc_status set_ciphers(const std::string &list);
    const std::string &error() const { return error_; }

    // --- session resumption (thread-safe; see the top of this file)
    static constexpr std::size_t kMaxPeers = 256;
    static constexpr std::size_t kSessionsPerPeer = 4;
    bool session_resumption() const { return resumption_.load(std::memory_order_relaxed); }
    // Off also drops every saved session.
    void set_session_resumption(bool on);
    // A saved session for `key` as a new reference, or nullptr. A TLS 1.3 session is removed (used
    // once); a TLS 1.2 one stays (a session ID or ticket may be offered again).
    SSL_SESSION *take_session(const std::string &key);
    // Saves `sess` under `key`, taking the caller's reference (freed when not kept). Never throws.
    void save_session(const std::string &key, SSL_SESSION *sess) noexcept;
    // The server declined `sess`: it is not offered again.
    void forget_session(const std::string &key, SSL_SESSION *sess);
    // Sessions saved (all peers), for the tests.
    std::size_t saved_sessions();

  private:
    explicit TlsConfig(SSL_CTX *ctx) : ctx_(ctx) {}
    smtpc_status fail(const std::string &what);
    // Takes mutex_ and refuses (SMTPC_ESTATE) once the configuration is in use.
    smtpc_status begin_change(std::unique_lock<std::mutex> &lock);

    SSL_CTX *ctx_;
    std::mutex mutex_;  // orders changes before the first use
    std::atomic<bool> in_use_{false};
    std::atomic<bool> verify_peer_{true};
    std::atomic<bool> verify_hostname_{true};
    bool own_trust_store_ = false;
    std::string error_;

    struct Saved {
        std::vector<SSL_SESSION *> sessions;  // oldest first
        std::uint64_t used = 0;               // for the least-recently-used choice
    };
    void drop_expired(Saved &saved);
    std::atomic<bool> resumption_{true};
    std::mutex cache_mutex_;
    std::unordered_map<std::string, Saved> cache_;
    std::uint64_t cache_clock_ = 0;
};

// The system trust store (OpenSSL's default paths, SSL_CERT_FILE/SSL_CERT_DIR honoured), loaded on
// the first call and shared by the whole process. Returns a borrowed pointer, or nullptr with `error`
// set; `loaded_now` is set when this call did the loading (for the trace).
X509_STORE *system_trust_store(std::string &error, bool &loaded_now);

// Counters for the tests (linked against the internal library; not exported): contexts made, times
// the system trust store was loaded, and DER CA certificates parsed, since the process started.
struct TlsCounters {
    unsigned long contexts_created;
    unsigned long system_store_loads;
    unsigned long ca_der_parsed;
};
TlsCounters tls_counters();

// OpenSSL's error queue as text (the first reason), emptying it.
std::string openssl_error_text(const char *fallback);

}  // namespace smtpc::detail
