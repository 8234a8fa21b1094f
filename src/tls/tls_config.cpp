#include "tls_config.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <new>

#include <sys/stat.h>

namespace smtpc::detail {

std::string openssl_error_text(const char *fallback) {
    unsigned long first = ERR_get_error();
    if (first == 0) return fallback;
    char buf[256];
    ERR_error_string_n(first, buf, sizeof buf);
    ERR_clear_error();
    const char *reason = ERR_reason_error_string(first);
    return reason ? std::string(reason) + " (" + buf + ")" : std::string(buf);
}

std::shared_ptr<TlsConfig> TlsConfig::create(std::string &error) {
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        error = openssl_error_text("SSL_CTX_new failed");
        return nullptr;
    }
    std::shared_ptr<TlsConfig> cfg(new TlsConfig(ctx));  // owns ctx from here on
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // No renegotiation, no compression; session tickets are accepted but no session is ever resumed
    // (there is no session cache), so a ticket from one host can never be offered to another.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    SSL_CTX_set_security_level(ctx, 2);
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        error = openssl_error_text("cannot load the system trust store");
        return nullptr;
    }
    return cfg;
}

TlsConfig::~TlsConfig() { SSL_CTX_free(ctx_); }

smtpc_status TlsConfig::fail(const std::string &what) {
    error_ = what + ": " + openssl_error_text("unknown OpenSSL error");
    return SMTPC_ETLS;
}

void TlsConfig::use_own_trust_store() {
    if (own_trust_store_) return;
    X509_STORE *store = X509_STORE_new();
    if (!store) throw std::bad_alloc();
    SSL_CTX_set_cert_store(ctx_, store);  // frees the system store
    own_trust_store_ = true;
}

smtpc_status TlsConfig::set_ca_file(const std::string &path) {
    ERR_clear_error();
    use_own_trust_store();
    if (SSL_CTX_load_verify_locations(ctx_, path.c_str(), nullptr) != 1) return fail("CA file " + path);
    error_.clear();
    return SMTPC_OK;
}

smtpc_status TlsConfig::set_ca_path(const std::string &path) {
    ERR_clear_error();
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        error_ = "CA directory " + path + ": not a readable directory";
        return SMTPC_ETLS;
    }
    use_own_trust_store();
    if (SSL_CTX_load_verify_locations(ctx_, nullptr, path.c_str()) != 1) return fail("CA directory " + path);
    error_.clear();
    return SMTPC_OK;
}

smtpc_status TlsConfig::add_ca_der(const unsigned char *der, std::size_t len) {
    ERR_clear_error();
    const unsigned char *p = der;
    X509 *cert = d2i_X509(nullptr, &p, static_cast<long>(len));
    if (!cert || p != der + len) {
        X509_free(cert);
        return fail("CA certificate is not one DER certificate");
    }
    use_own_trust_store();
    int ok = X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), cert);
    X509_free(cert);
    if (ok != 1) return fail("cannot add CA certificate");
    error_.clear();
    return SMTPC_OK;
}

namespace {

int password_cb(char *buf, int size, int, void *userdata) {
    const std::string *pw = static_cast<const std::string *>(userdata);
    if (!pw || pw->size() > static_cast<std::size_t>(size)) return -1;
    pw->copy(buf, pw->size());
    return static_cast<int>(pw->size());
}

}  // namespace

smtpc_status TlsConfig::set_client_cert(const std::string &cert, const std::string &key,
                                        const std::string &password) {
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1) return fail("client certificate " + cert);
    SSL_CTX_set_default_passwd_cb(ctx_, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx_, const_cast<std::string *>(&password));
    const std::string &key_file = key.empty() ? cert : key;
    int ok = SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_set_default_passwd_cb(ctx_, nullptr);
    SSL_CTX_set_default_passwd_cb_userdata(ctx_, nullptr);
    if (ok != 1) return fail("client key " + key_file);
    if (SSL_CTX_check_private_key(ctx_) != 1) return fail("client key does not match the certificate");
    error_.clear();
    return SMTPC_OK;
}

smtpc_status TlsConfig::set_min_version(smtpc_tls_version v) {
    int version = v == SMTPC_TLS_VERSION_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    ERR_clear_error();
    if (SSL_CTX_set_min_proto_version(ctx_, version) != 1) return fail("minimum TLS version");
    error_.clear();
    return SMTPC_OK;
}

smtpc_status TlsConfig::set_ciphers(const std::string &list) {
    ERR_clear_error();
    if (SSL_CTX_set_cipher_list(ctx_, list.c_str()) != 1) return fail("cipher list");
    error_.clear();
    return SMTPC_OK;
}

}  // namespace smtpc::detail
