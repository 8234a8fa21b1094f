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
#pragma once

#include "smtpc.h"

#include <openssl/ssl.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

namespace smtpc::detail {

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
