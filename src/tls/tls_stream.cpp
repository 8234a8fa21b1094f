// SPDX-License-Identifier: MIT
#include "tls_stream.hpp"

#include "../util/text.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

namespace smtpc::detail {

namespace {

// poll() for the direction OpenSSL asked for; >0 ready, 0 deadline passed, -1 error.
int wait_for(int fd, int ssl_error, const Deadline &deadline) {
    return poll_until(fd, ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, deadline);
}

bool is_ip_literal(const std::string &name) {
    unsigned char buf[16];
    return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

TlsFacts read_facts(SSL *ssl) {
    TlsFacts f;
    f.verify_result = SSL_get_verify_result(ssl);
    f.version = SSL_get_version(ssl);
    const char *cipher = SSL_get_cipher_name(ssl);
    f.cipher = cipher ? cipher : "";
    // Owned here, so that a string that cannot be allocated (std::bad_alloc) leaks neither.
    std::unique_ptr<X509, void (*)(X509 *)> cert(SSL_get1_peer_certificate(ssl), X509_free);
    if (cert) {
        std::unique_ptr<BIO, int (*)(BIO *)> bio(BIO_new(BIO_s_mem()), BIO_free);
        if (bio &&
            X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert.get()), 0, XN_FLAG_RFC2253) >= 0) {
            char *data = nullptr;
            long len = BIO_get_mem_data(bio.get(), &data);
            if (data && len > 0) f.peer_subject.assign(data, static_cast<std::size_t>(len));
        }
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        if (X509_digest(cert.get(), EVP_sha256(), md, &md_len) == 1) f.peer_fingerprint = to_hex(md, md_len);
    }
    return f;
}

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own socket BIO uses write(), which raises
// SIGPIPE when the peer has reset the connection (for example when close_notify is sent on close).
int bio_write(BIO *bio, const char *buf, int len) {
    BIO_clear_retry_flags(bio);
    for (;;) {
        ssize_t n = ::send(static_cast<int>(BIO_get_fd(bio, nullptr)), buf, static_cast<std::size_t>(len),
                           MSG_NOSIGNAL);
        if (n >= 0) return static_cast<int>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
        return -1;
    }
}

const BIO_METHOD *nosignal_socket_method() {
    static BIO_METHOD *method = [] {
        // Everything but writing is the standard socket BIO's behaviour.
        const BIO_METHOD *base = BIO_s_socket();
        BIO_METHOD *m =
            BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "smtpc socket");
        if (!m) return m;
        BIO_meth_set_write(m, bio_write);
        BIO_meth_set_read(m, BIO_meth_get_read(base));
        BIO_meth_set_puts(m, BIO_meth_get_puts(base));
        BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(base));
        BIO_meth_set_create(m, BIO_meth_get_create(base));
        BIO_meth_set_destroy(m, BIO_meth_get_destroy(base));
        return m;
    }();
    return method;
}

class TlsStream final : public Stream {
  public:
    TlsStream(std::unique_ptr<Stream> inner, std::shared_ptr<TlsConfig> config, SSL *ssl,
              std::unique_ptr<SessionSlot> slot)
        : inner_(std::move(inner)), config_(std::move(config)), slot_(std::move(slot)), ssl_(ssl),
          quickack_pending_(SSL_version(ssl) == TLS1_3_VERSION) {
        if (quickack_pending_) quick_ack();  // implicit TLS: the greeting follows the tickets
    }
    ~TlsStream() override { close(); }

    IoResult read(char *buf, std::size_t cap, const Deadline &deadline) override {
        if (failed_) return failure_;  // found by peek_idle(): report it with its reason
        int want = static_cast<int>(cap > INT_MAX ? INT_MAX : cap);
        for (;;) {
            ERR_clear_error();
            int n = SSL_read(ssl_, buf, want);
            if (n > 0) return {SMTPC_OK, static_cast<std::size_t>(n), 0, {}};
            int e = SSL_get_error(ssl_, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                // Non-blocking mode: the socket said EAGAIN, the caller's loop does the waiting; a
                // zero-timeout poll would only repeat what it said (the step checks for a cancel).
                if (deadline.is_immediate())
                    return IoResult::again(e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN);
                int w = wait_for(native_handle(), e, deadline);
                if (w == 0) return {SMTPC_ETIMEOUT, 0, 0, "timed out waiting for the server's reply"};
                if (w < 0) return {SMTPC_EIO, 0, errno, "poll failed"};
                continue;
            }
            return failure(e, n, "TLS read");
        }
    }

    IoResult write(const char *buf, std::size_t len, const Deadline &deadline, bool also_readable,
                   bool &readable) override {
        readable = false;
        // A write OpenSSL could not finish must be retried with the same length (the buffer may move).
        std::size_t n = retry_len_ ? retry_len_ : (len > 65536 ? 65536 : len);
        if (n > len) n = len;
        for (;;) {
            ERR_clear_error();
            int w = SSL_write(ssl_, buf, static_cast<int>(n));
            if (w > 0) {
                retry_len_ = 0;
                if (quickack_pending_) {  // STARTTLS: our first command went out before the tickets came
                    quickack_pending_ = false;
                    quick_ack();
                }
                return {SMTPC_OK, static_cast<std::size_t>(w), 0, {}};
            }
            int e = SSL_get_error(ssl_, w);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                retry_len_ = 0;
                return failure(e, w, "TLS write");
            }
            retry_len_ = n;
            short events = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
            if (also_readable) events = static_cast<short>(events | POLLIN);
            int ev = poll_until(native_handle(), events, deadline);
            if (ev == 0 && deadline.is_immediate()) return IoResult::again(events);
            if (ev == 0)
                return {SMTPC_ETIMEOUT, 0, 0, "timed out sending to the server (it stopped reading)"};
            if (ev < 0) return {SMTPC_EIO, 0, errno, "poll failed"};
            if (also_readable && e == SSL_ERROR_WANT_WRITE && (ev & POLLIN)) {  // input first, as above
                readable = true;
                return {SMTPC_OK, 0, 0, {}};
            }
        }
    }

    int peek_idle() override {
        if (SSL_pending(ssl_) > 0) return 1;
        int s = inner_->peek_idle();
        if (s <= 0) return s;
        // Bytes on the socket may be a record without application data (a TLS 1.3 session ticket):
        // let OpenSSL look.
        char c;
        ERR_clear_error();
        int n = SSL_peek(ssl_, &c, 1);
        if (n > 0) return 1;
        int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
        // An alert or end of stream: keep what it was, so that the next read reports it.
        failure_ = failure(e, n, "TLS read");
        failed_ = true;
        return -1;
    }

    bool peer_address(sockaddr_storage &out) const override { return inner_->peer_address(out); }
    int native_handle() const override { return inner_ ? inner_->native_handle() : -1; }

    void close() override {
        if (ssl_) {
            ERR_clear_error();
            // TLS 1.3 tickets come after the handshake, and the engine reads only the replies it
            // expects: a connection closed right after its handshake (STARTTLS, then close) may
            // have them unread on the socket. Take what has already arrived, without waiting.
            if (!broken_ && slot_ && !slot_->key.empty() && slot_->saved == 0 &&
                SSL_version(ssl_) == TLS1_3_VERSION && config_->session_resumption()) {
                char c;
                (void)SSL_peek(ssl_, &c, 1);  // non-blocking descriptor: never waits
                ERR_clear_error();
            }
            if (!broken_) SSL_shutdown(ssl_);  // send close_notify; the peer's is not waited for
            ERR_clear_error();
            SSL_free(ssl_);
            ssl_ = nullptr;
        }
        if (inner_) inner_->close();
    }

  private:
    // A TLS 1.3 server sends its session tickets after our Finished, so they arrive just after the
    // handshake, or just after our first command. Left to the delayed-ACK timer their acknowledgement
    // waits up to 40 ms, and a server with Nagle's algorithm on (Postfix) holds its next small write
    // (the greeting with implicit TLS, the EHLO reply after STARTTLS) behind the unacknowledged
    // tickets: every TLS session paid 40 ms. TCP_QUICKACK asks the kernel to acknowledge at once;
    // it is not sticky (sending soon after receiving turns delayed ACKs back on), hence once after
    // the handshake and once after our first write. Failure only costs the delay.
    void quick_ack() {
        int on = 1;
        int fd = native_handle();
        if (fd >= 0) (void)::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
    }

    IoResult failure(int e, int rc, const char *what) {
        broken_ = true;  // no close_notify on a failed connection: the write could only fail
        if (e == SSL_ERROR_ZERO_RETURN) return {SMTPC_OK, 0, 0, {}};  // close_notify: a clean end
        if (e == SSL_ERROR_SYSCALL) {
            int err = errno;
            ERR_clear_error();
            if (rc == 0 || err == 0)
                return {SMTPC_EDISCONNECTED, 0, 0,
                        "connection closed by the server without TLS close_notify"};
            if (err == ECONNRESET || err == EPIPE)
                return {SMTPC_EDISCONNECTED, 0, err, "connection reset by the server"};
            return {SMTPC_EIO, 0, err, std::string(what) + " failed"};
        }
        unsigned long code = ERR_peek_error();
        if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            ERR_clear_error();
            return {SMTPC_EDISCONNECTED, 0, 0, "connection closed by the server without TLS close_notify"};
        }
        return {SMTPC_ETLS, 0, 0, std::string(what) + " failed: " + openssl_error_text("TLS error")};
    }

    std::unique_ptr<Stream> inner_;
    std::shared_ptr<TlsConfig> config_;  // keeps the SSL_CTX alive as long as the SSL
    std::unique_ptr<SessionSlot> slot_;  // the SSL points to it: freed after the SSL (in close())
    SSL *ssl_;
    std::size_t retry_len_ = 0;
    bool failed_ = false;  // peek_idle() met a failure that the next read() reports
    IoResult failure_;
    bool broken_ = false;
    bool quickack_pending_;  // TLS 1.3: acknowledge the server's tickets promptly (see above)
};

std::string verify_error_text(long vr) {
    return std::string(X509_verify_cert_error_string(vr)) + " (X509 error " + std::to_string(vr) + ")";
}

}  // namespace

// The cache key of a connection's sessions: the peer, the name verified (and sent as SNI), and every
// setting that decides what a verification proves. Trust anchors, client certificate, versions and
// ciphers are the configuration's own, and the cache belongs to the configuration.
std::string session_key(const std::string &peer, const std::string &server_name, TlsVerify mode, bool verify,
                        bool want_name) {
    std::string key;
    key.reserve(peer.size() + server_name.size() + 8);
    key += peer;
    key += '\n';
    key += server_name;
    key += '\n';
    key += mode == TlsVerify::Enforce ? 'E' : mode == TlsVerify::Record ? 'R' : 'S';
    key += verify ? 'P' : '-';
    key += want_name ? 'H' : '-';
    return key;
}

// What a handshake in progress holds between steps.
struct TlsHandshake::State {
    HandshakeResult res;
    std::unique_ptr<Stream> inner;
    std::shared_ptr<TlsConfig> config;
    std::string server_name;
    TlsVerify mode = TlsVerify::Enforce;
    bool verify = false, enforce = false, want_name = false, check_name = false;
    // Declared before the SSL's owner: the SSL points to it until it is freed.
    std::unique_ptr<SessionSlot> slot;
    SSL *ssl = nullptr;              // owned until the stream takes it
    SSL_SESSION *offered = nullptr;  // the saved session offered, if any
    bool failed = false;             // set-up failed: step() reports res
    ~State() {
        SSL_free(ssl);
        SSL_SESSION_free(offered);
    }
};

TlsHandshake::~TlsHandshake() = default;

int TlsHandshake::fd() const { return s_->inner ? s_->inner->native_handle() : -1; }

TlsHandshake::TlsHandshake(std::unique_ptr<Stream> inner_in, std::shared_ptr<TlsConfig> config_in,
                           const std::string &server_name, TlsVerify mode, const std::string &peer_id)
    : s_(std::make_unique<State>()) {
    State &st = *s_;
    st.inner = std::move(inner_in);
    st.config = std::move(config_in);
    st.server_name = server_name;
    st.mode = mode;
    setup(st, peer_id);
}

void TlsHandshake::setup(State &st, const std::string &peer_id) {
    const std::string &server_name = st.server_name;
    TlsVerify mode = st.mode;
    HandshakeResult &res = st.res;
    std::unique_ptr<Stream> &inner = st.inner;
    std::shared_ptr<TlsConfig> &config = st.config;
    auto fail = [&](smtpc_status status, std::string msg) {
        res.status = status;
        res.message = std::move(msg);
        st.failed = true;
    };
    SSL_CTX *ctx = config->use();  // frozen from here on: SSL_new may run on several threads
    bool verify = st.verify = mode != TlsVerify::Skip && config->verify_peer();  // the chain is checked
    bool enforce = st.enforce = verify && mode == TlsVerify::Enforce;            // and a failure aborts
    bool want_name = st.want_name = verify && config->verify_hostname();
    bool check_name = st.check_name = want_name && !server_name.empty();
    if (enforce && want_name && server_name.empty())
        return fail(
            SMTPC_ETLS_VERIFY,
            "no server name to verify the certificate against (see smtpc_client_set_tls_server_name)");

    st.slot = std::make_unique<SessionSlot>();
    std::unique_ptr<SessionSlot> &slot = st.slot;
    slot->config = config.get();
    if (!peer_id.empty() && config->session_resumption())
        slot->key = session_key(peer_id, server_name, mode, verify, want_name);
    ERR_clear_error();
    SSL *ssl = st.ssl = SSL_new(ctx);  // freed with the state unless the stream takes it
    if (!ssl) return fail(SMTPC_ENOMEM, "SSL_new: " + openssl_error_text("out of memory"));
    if (!slot->attach(ssl)) return fail(SMTPC_ENOMEM, "SSL_set_ex_data: out of memory");
    if (!slot->key.empty()) {
        st.offered = config->take_session(slot->key);
        if (st.offered && SSL_set_session(ssl, st.offered) == 1) res.offered_session = true;
    } else {
        SSL_set_options(ssl, SSL_OP_NO_TICKET);  // resumption off: TLS 1.2 servers need not send one
    }
    // Trust anchors: the configuration's own, else the system store shared by the whole process.
    // It is attached even when verification is off, so that the result can still be reported.
    if (mode != TlsVerify::Skip && !config->own_trust_anchors()) {
        std::string error;
        X509_STORE *store = system_trust_store(error, res.system_store_loaded);
        if (!store) return fail(SMTPC_ETLS, error);
        if (SSL_set1_verify_cert_store(ssl, store) != 1)
            return fail(SMTPC_ENOMEM,
                        "cannot use the system trust store: " + openssl_error_text("out of memory"));
    }
    const BIO_METHOD *method = nosignal_socket_method();
    BIO *bio = method ? BIO_new(method) : nullptr;
    if (!bio) return fail(SMTPC_ENOMEM, "cannot create the TLS socket BIO");
    BIO_set_fd(bio, inner->native_handle(), BIO_NOCLOSE);
    SSL_set_bio(ssl, bio, bio);  // the SSL owns the BIO from here on

    // Under TlsVerify::Record, OpenSSL still verifies the chain and the name (the result is kept in
    // SSL_get_verify_result) but does not abort the handshake.
    SSL_set_verify(ssl, enforce ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    bool ip = is_ip_literal(server_name);
    if (!ip && !server_name.empty() && SSL_set_tlsext_host_name(ssl, server_name.c_str()) != 1)
        return fail(SMTPC_ETLS, "server name " + server_name + ": " + openssl_error_text("cannot set SNI"));
    if (check_name) {
        if (ip) {
            if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str()) != 1)
                return fail(SMTPC_ETLS, "cannot verify IP address " + server_name);
        } else {
            SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (SSL_set1_host(ssl, server_name.c_str()) != 1)
                return fail(SMTPC_ETLS, "cannot verify host name " + server_name);
        }
    }
}

HandshakeResult TlsHandshake::step(const Deadline &deadline, short &wants) {
    State &st = *s_;
    HandshakeResult &res = st.res;
    std::unique_ptr<Stream> &inner = st.inner;
    auto fail = [&](smtpc_status status, std::string msg) {
        res.status = status;
        res.message = std::move(msg);
        res.inner = std::move(inner);
        return std::move(res);
    };
    wants = 0;
    if (st.failed) return fail(res.status, res.message);
    SSL *ssl = st.ssl;
    TlsVerify mode = st.mode;
    bool verify = st.verify, enforce = st.enforce, want_name = st.want_name, check_name = st.check_name;
    std::unique_ptr<SessionSlot> &slot = st.slot;
    std::shared_ptr<TlsConfig> &config = st.config;
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(ssl);
        if (r == 1) break;
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int w = wait_for(inner->native_handle(), e, deadline);
            if (w == 0 && deadline.is_immediate()) {
                wants = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
                HandshakeResult again;
                again.status = SMTPC_EAGAIN;
                return again;
            }
            if (w == 0) return fail(SMTPC_ETIMEOUT, "timed out during the TLS handshake");
            if (w < 0) return fail(SMTPC_ETLS, "poll failed during the TLS handshake");
            continue;
        }
        long vr = SSL_get_verify_result(ssl);
        res.facts.verify_result = vr;
        if (enforce && vr != X509_V_OK)
            return fail(SMTPC_ETLS_VERIFY, "certificate verification failed: " + verify_error_text(vr));
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
            return fail(SMTPC_ETLS, "connection closed by the server during the TLS handshake");
        return fail(SMTPC_ETLS, "TLS handshake failed: " + openssl_error_text("unknown error"));
    }
    long vr = SSL_get_verify_result(ssl);
    if (enforce && vr != X509_V_OK) {  // never trust the handshake result alone
        res.facts.verify_result = vr;
        return fail(SMTPC_ETLS_VERIFY, "certificate verification failed: " + verify_error_text(vr));
    }
    // X509_V_OK is also the result when no certificate was sent at all: require one.
    X509 *peer = SSL_get1_peer_certificate(ssl);
    bool has_cert = peer != nullptr;
    X509_free(peer);
    if (enforce && !has_cert) return fail(SMTPC_ETLS_VERIFY, "the server sent no certificate");
    res.facts = read_facts(ssl);
    res.facts.resumed = SSL_session_reused(ssl) == 1;
    // The session passed every check this connection makes: it (and the tickets still to come) may
    // be offered again. One the server declined is not offered again (TLS 1.2 sessions are kept).
    slot->accept();
    if (st.offered && !res.facts.resumed) config->forget_session(slot->key, st.offered);
    res.facts.verified = check_name && has_cert && vr == X509_V_OK;
    if (!res.facts.verified) {
        if (mode == TlsVerify::Skip) res.facts.not_verified_why = "verification skipped (testing switch)";
        else if (!verify) res.facts.not_verified_why = "peer verification is off in the TLS configuration";
        else if (vr != X509_V_OK) res.facts.not_verified_why = verify_error_text(vr);
        else if (!has_cert) res.facts.not_verified_why = "the server sent no certificate";
        else if (!want_name)
            res.facts.not_verified_why = "host-name verification is off in the TLS configuration";
        else res.facts.not_verified_why = "no server name to verify the certificate against";
    }
    res.stream = std::make_unique<TlsStream>(std::move(inner), std::move(config), ssl, std::move(slot));
    st.ssl = nullptr;  // the stream owns the SSL now (not before: making it may throw std::bad_alloc)
    return std::move(res);
}

HandshakeResult tls_handshake(std::unique_ptr<Stream> inner, std::shared_ptr<TlsConfig> config,
                              const std::string &server_name, TlsVerify mode, const Deadline &deadline,
                              const std::string &peer_id) {
    TlsHandshake hs(std::move(inner), std::move(config), server_name, mode, peer_id);
    short wants = 0;
    return hs.step(deadline, wants);
}

}  // namespace smtpc::detail
