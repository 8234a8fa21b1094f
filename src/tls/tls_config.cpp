// SPDX-License-Identifier: MIT
#include "tls_config.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <new>
#include <unordered_map>

#include <sys/stat.h>

namespace smtpc::detail {

namespace {

std::atomic<unsigned long> g_contexts{0};
std::atomic<unsigned long> g_store_loads{0};
std::atomic<unsigned long> g_der_parsed{0};

int password_cb(char *buf, int size, int, void *userdata) {
    const std::string *pw = static_cast<const std::string *>(userdata);
    if (!pw || pw->size() > static_cast<std::size_t>(size)) return -1;
    pw->copy(buf, pw->size());
    return static_cast<int>(pw->size());
}

// Fills a certificate's cached X509v3 data (key identifiers, extension flags) now. OpenSSL fills it
// lazily, at the first verification that looks at the certificate, behind a per-certificate lock
// with a lock-free fast path; trust anchors are shared by handshakes on any number of threads, so
// it is done once here, before the certificate is published to them (ThreadSanitizer reported the
// lazy fill racing a concurrent handshake's read: tests/nonblocking, nonblocking_threads).
void cache_x509_extensions(X509 *x) {
    if (x) (void)X509_check_purpose(x, -1, 0);
}

void cache_store_extensions(X509_STORE *store) {
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
        cache_x509_extensions(X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i)));
}

// The ex_data index under which each SSL carries its SessionSlot.
int slot_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// OpenSSL hands over every new session here: TLS 1.2 at the end of the handshake, TLS 1.3 each
// ticket as it is read after the handshake. Returning 1 takes OpenSSL's reference.
int new_session_cb(SSL *ssl, SSL_SESSION *sess) {
    auto *slot = static_cast<SessionSlot *>(SSL_get_ex_data(ssl, slot_index()));
    if (!slot || slot->key.empty() || !slot->config->session_resumption() || !SSL_SESSION_is_resumable(sess))
        return 0;
    if (!slot->accepted) {  // not yet known to be a session this client would trust: held back
        SSL_SESSION_free(slot->held);
        slot->held = sess;
        return 1;
    }
    slot->config->save_session(slot->key, sess);
    slot->saved++;
    return 1;
}

// Expired, or not resumable at all. A TLS 1.3 ticket lives as long as the server's lifetime hint
// says, and never more than seven days (RFC 8446 4.6.1); OpenSSL's own timeout bounds every session.
bool session_expired(SSL_SESSION *sess, std::time_t now) {
    if (!SSL_SESSION_is_resumable(sess)) return true;
    long life = SSL_SESSION_get_timeout(sess);
    if (SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION) {
        unsigned long hint = SSL_SESSION_get_ticket_lifetime_hint(sess);
        if (hint > 0 && hint < static_cast<unsigned long>(life)) life = static_cast<long>(hint);
        life = std::min(life, 7L * 24 * 3600);
    }
    return now >= static_cast<std::time_t>(SSL_SESSION_get_time(sess)) + life;
}

}  // namespace

bool SessionSlot::attach(SSL *ssl) { return SSL_set_ex_data(ssl, slot_index(), this) == 1; }

void SessionSlot::accept() {
    accepted = true;
    if (held && !key.empty() && config->session_resumption()) {
        config->save_session(key, held);
        saved++;
    } else {
        SSL_SESSION_free(held);
    }
    held = nullptr;
}

TlsCounters tls_counters() { return {g_contexts.load(), g_store_loads.load(), g_der_parsed.load()}; }

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
    TlsConfig *raw;
    try {
        raw = new TlsConfig(ctx);  // owns ctx from here on
    } catch (...) {
        SSL_CTX_free(ctx);
        throw;
    }
    std::shared_ptr<TlsConfig> cfg(raw);  // deletes raw (and so ctx) if it throws
    g_contexts.fetch_add(1, std::memory_order_relaxed);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // No renegotiation, no compression. Sessions: OpenSSL's client cache mode only to have its
    // new-session callback called; they are kept in this configuration's own cache (keyed by peer,
    // name and verification settings), never in OpenSSL's, so a session from one host can never be
    // offered to another.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    (void)slot_index();  // allocated now, outside any handshake
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    SSL_CTX_set_security_level(ctx, 2);
    // The context's own store stays empty unless the caller adds trust anchors to it; without them,
    // each connection verifies against the shared system store (system_trust_store()).
    return cfg;
}

std::shared_ptr<TlsConfig> TlsConfig::shared_default(std::string &error) {
    // OpenSSL first: its clean-up at exit must run after this object's destructor, and exit
    // handlers run in the reverse order of their registration.
    OPENSSL_init_ssl(0, nullptr);
    static std::mutex mutex;
    static std::shared_ptr<TlsConfig> shared;
    std::lock_guard<std::mutex> lock(mutex);
    if (!shared) shared = create(error);  // a failure is not remembered: the next call tries again
    return shared;
}

X509_STORE *system_trust_store(std::string &error, bool &loaded_now) {
    loaded_now = false;
    OPENSSL_init_ssl(0, nullptr);  // as in shared_default(): freed before OpenSSL's own clean-up
    struct Holder {
        std::mutex mutex;
        X509_STORE *store = nullptr;
        ~Holder() { X509_STORE_free(store); }
    };
    static Holder holder;
    std::lock_guard<std::mutex> lock(holder.mutex);
    if (holder.store) return holder.store;
    ERR_clear_error();
    X509_STORE *store = X509_STORE_new();
    if (!store) {
        error = "cannot load the system trust store: " + openssl_error_text("out of memory");
        return nullptr;
    }
    if (X509_STORE_set_default_paths(store) != 1) {
        X509_STORE_free(store);
        error = "cannot load the system trust store: " + openssl_error_text("unknown OpenSSL error");
        return nullptr;
    }
    ERR_clear_error();  // a missing default file or directory is not an error (as in OpenSSL)
    cache_store_extensions(store);
    holder.store = store;
    g_store_loads.fetch_add(1, std::memory_order_relaxed);
    loaded_now = true;
    return store;
}

TlsConfig::~TlsConfig() {
    for (auto &entry : cache_)
        for (SSL_SESSION *sess : entry.second.sessions) SSL_SESSION_free(sess);
    SSL_CTX_free(ctx_);
}

void TlsConfig::set_session_resumption(bool on) {
    resumption_.store(on, std::memory_order_relaxed);
    if (on) return;
    std::lock_guard<std::mutex> lock(cache_mutex_);
    for (auto &entry : cache_)
        for (SSL_SESSION *sess : entry.second.sessions) SSL_SESSION_free(sess);
    cache_.clear();
}

void TlsConfig::drop_expired(Saved &saved) {
    std::time_t now = std::time(nullptr);
    auto &v = saved.sessions;
    auto keep = std::remove_if(v.begin(), v.end(), [&](SSL_SESSION *sess) {
        if (!session_expired(sess, now)) return false;
        SSL_SESSION_free(sess);
        return true;
    });
    v.erase(keep, v.end());
}

SSL_SESSION *TlsConfig::take_session(const std::string &key) {
    if (!session_resumption()) return nullptr;
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it == cache_.end()) return nullptr;
    drop_expired(it->second);
    auto &v = it->second.sessions;
    if (v.empty()) {
        cache_.erase(it);
        return nullptr;
    }
    it->second.used = ++cache_clock_;
    SSL_SESSION *sess = v.back();  // the newest: the longest life left
    if (SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION) {
        v.pop_back();  // a ticket is used once: a second use would let the connections be linked
        if (v.empty()) cache_.erase(it);
    } else {
        SSL_SESSION_up_ref(sess);
    }
    return sess;
}

void TlsConfig::save_session(const std::string &key, SSL_SESSION *sess) noexcept {
    if (!session_resumption()) {
        SSL_SESSION_free(sess);
        return;
    }
    try {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        auto it = cache_.find(key);
        if (it == cache_.end()) {
            if (cache_.size() >= kMaxPeers) {  // make room: the peer used least recently goes
                auto oldest =
                    std::min_element(cache_.begin(), cache_.end(), [](const auto &a, const auto &b) {
                        return a.second.used < b.second.used;
                    });
                for (SSL_SESSION *s : oldest->second.sessions) SSL_SESSION_free(s);
                cache_.erase(oldest);
            }
            it = cache_.emplace(key, Saved{}).first;
        }
        Saved &saved = it->second;
        saved.used = ++cache_clock_;
        drop_expired(saved);
        auto &v = saved.sessions;
        // A TLS 1.2 session replaces whatever was kept (a renewed ticket supersedes the old one); a
        // TLS 1.3 ticket joins the others of its kind, the oldest dropped beyond the bound.
        bool tls13 = SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION;
        auto keep = std::remove_if(v.begin(), v.end(), [&](SSL_SESSION *s) {
            if (tls13 && SSL_SESSION_get_protocol_version(s) == TLS1_3_VERSION) return false;
            SSL_SESSION_free(s);
            return true;
        });
        v.erase(keep, v.end());
        if (v.size() >= kSessionsPerPeer) {
            SSL_SESSION_free(v.front());
            v.erase(v.begin());
        }
        v.push_back(sess);
    } catch (...) {  // std::bad_alloc: the session is not kept, and not leaked
        SSL_SESSION_free(sess);
    }
}

void TlsConfig::forget_session(const std::string &key, SSL_SESSION *sess) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it == cache_.end()) return;
    auto &v = it->second.sessions;
    auto pos = std::find(v.begin(), v.end(), sess);
    if (pos == v.end()) return;
    SSL_SESSION_free(*pos);
    v.erase(pos);
    if (v.empty()) cache_.erase(it);
}

std::size_t TlsConfig::saved_sessions() {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    std::size_t n = 0;
    for (auto &entry : cache_) n += entry.second.sessions.size();
    return n;
}

SSL_CTX *TlsConfig::use() {
    if (!in_use_.load(std::memory_order_acquire)) {
        std::lock_guard<std::mutex> lock(mutex_);  // waits for a change in progress
        if (!in_use_.load(std::memory_order_relaxed)) cache_store_extensions(SSL_CTX_get_cert_store(ctx_));
        in_use_.store(true, std::memory_order_release);
    }
    return ctx_;
}

smtpc_status TlsConfig::begin_change(std::unique_lock<std::mutex> &lock) {
    lock = std::unique_lock<std::mutex>(mutex_);
    ERR_clear_error();
    if (!in_use_.load(std::memory_order_relaxed)) return SMTPC_OK;
    error_ = "the TLS configuration is in use by a connection and can no longer be changed (only its "
             "verification switches can); make a new configuration";
    return SMTPC_ESTATE;
}

smtpc_status TlsConfig::fail(const std::string &what) {
    error_ = what + ": " + openssl_error_text("unknown OpenSSL error");
    return SMTPC_ETLS;
}

smtpc_status TlsConfig::set_ca_file(const std::string &path) {
    std::unique_lock<std::mutex> lock;
    if (smtpc_status st = begin_change(lock); st != SMTPC_OK) return st;
    own_trust_store_ = true;  // even on failure: never fall back to the system store (fail closed)
    if (SSL_CTX_load_verify_locations(ctx_, path.c_str(), nullptr) != 1) return fail("CA file " + path);
    error_.clear();
    return SMTPC_OK;
}

smtpc_status TlsConfig::set_ca_path(const std::string &path) {
    std::unique_lock<std::mutex> lock;
    if (smtpc_status st = begin_change(lock); st != SMTPC_OK) return st;
    struct stat st {};
    own_trust_store_ = true;
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        error_ = "CA directory " + path + ": not a readable directory";
        return SMTPC_ETLS;
    }
    if (SSL_CTX_load_verify_locations(ctx_, nullptr, path.c_str()) != 1) return fail("CA directory " + path);
    error_.clear();
    return SMTPC_OK;
}

namespace {

// A CA certificate from its DER form, as a new reference; nullptr when it is not exactly one
// certificate. OpenSSL 3 decodes each certificate's public key through its provider framework, about
// a millisecond a certificate, and the same certificates tend to come again and again (Python's
// SSLContext carried over for every connection brings the whole system bundle each time): parsed
// certificates are kept, keyed by their exact bytes, up to a bound, for the life of the process.
X509 *parse_ca_der(const unsigned char *der, std::size_t len) {
    constexpr std::size_t kMaxCached = 1024;
    struct Cache {
        std::mutex mutex;
        std::unordered_map<std::string, X509 *> certs;
        ~Cache() {
            for (auto &entry : certs) X509_free(entry.second);
        }
    };
    OPENSSL_init_ssl(0, nullptr);  // freed before OpenSSL's own clean-up (see shared_default())
    static Cache cache;
    std::string key(reinterpret_cast<const char *>(der), len);
    {
        std::lock_guard<std::mutex> lock(cache.mutex);
        auto it = cache.certs.find(key);
        if (it != cache.certs.end()) {
            X509_up_ref(it->second);
            return it->second;
        }
    }
    const unsigned char *p = der;
    X509 *cert = d2i_X509(nullptr, &p, static_cast<long>(len));
    g_der_parsed.fetch_add(1, std::memory_order_relaxed);
    if (!cert || p != der + len) {
        X509_free(cert);
        return nullptr;
    }
    cache_x509_extensions(cert);  // before other threads can see it
    std::lock_guard<std::mutex> lock(cache.mutex);
    try {
        if (cache.certs.size() < kMaxCached && cache.certs.emplace(std::move(key), cert).second)
            X509_up_ref(cert);
    } catch (...) {  // std::bad_alloc: not cached, and not leaked
        X509_free(cert);
        throw;
    }
    return cert;
}

}  // namespace

smtpc_status TlsConfig::add_ca_der(const unsigned char *der, std::size_t len) {
    std::unique_lock<std::mutex> lock;
    if (smtpc_status st = begin_change(lock); st != SMTPC_OK) return st;
    X509 *cert = parse_ca_der(der, len);
    if (!cert) return fail("CA certificate is not one DER certificate");
    own_trust_store_ = true;
    int ok = X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), cert);
    X509_free(cert);
    if (ok != 1) return fail("cannot add CA certificate");
    error_.clear();
    return SMTPC_OK;
}

smtpc_status TlsConfig::set_client_cert(const std::string &cert, const std::string &key,
                                        const std::string &password) {
    std::unique_lock<std::mutex> lock;
    if (smtpc_status st = begin_change(lock); st != SMTPC_OK) return st;
    if (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1)
        return fail("client certificate " + cert);
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
    std::unique_lock<std::mutex> lock;
    if (smtpc_status st = begin_change(lock); st != SMTPC_OK) return st;
    int version = v == SMTPC_TLS_VERSION_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx_, version) != 1) return fail("minimum TLS version");
    error_.clear();
    return SMTPC_OK;
}

smtpc_status TlsConfig::set_ciphers(const std::string &list) {
    std::unique_lock<std::mutex> lock;
    if (smtpc_status st = begin_change(lock); st != SMTPC_OK) return st;
    if (SSL_CTX_set_cipher_list(ctx_, list.c_str()) != 1) return fail("cipher list");
    error_.clear();
    return SMTPC_OK;
}

}  // namespace smtpc::detail
