// TLS configuration: an OpenSSL SSL_CTX with secure defaults plus the verification switches.
#pragma once

#include "smtpc.h"

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace smtpc::detail {

class TlsConfig {
public:
    // Throws std::bad_alloc; returns nullptr with `error` set when OpenSSL cannot set up a context.
    static std::shared_ptr<TlsConfig> create(std::string &error);
    ~TlsConfig();
    TlsConfig(const TlsConfig &) = delete;
    TlsConfig &operator=(const TlsConfig &) = delete;

    SSL_CTX *ctx() const { return ctx_; }
    bool verify_peer() const { return verify_peer_; }
    bool verify_hostname() const { return verify_hostname_; }

    // Each returns SMTPC_OK or an error status with `error_` set.
    smtpc_status set_ca_file(const std::string &path);
    smtpc_status set_ca_path(const std::string &path);
    smtpc_status add_ca_der(const unsigned char *der, std::size_t len);
    smtpc_status set_client_cert(const std::string &cert, const std::string &key, const std::string &password);
    void set_verify_peer(bool on) { verify_peer_ = on; }
    void set_verify_hostname(bool on) { verify_hostname_ = on; }
    smtpc_status set_min_version(smtpc_tls_version v);
    smtpc_status set_ciphers(const std::string &list);
    const std::string &error() const { return error_; }

private:
    explicit TlsConfig(SSL_CTX *ctx) : ctx_(ctx) {}
    smtpc_status fail(const std::string &what);
    // The first explicit trust anchor replaces the system store.
    void use_own_trust_store();

    SSL_CTX *ctx_;
    bool verify_peer_ = true;
    bool verify_hostname_ = true;
    bool own_trust_store_ = false;
    std::string error_;
};

// OpenSSL's error queue as text (the first reason), emptying it.
std::string openssl_error_text(const char *fallback);

}  // namespace smtpc::detail
