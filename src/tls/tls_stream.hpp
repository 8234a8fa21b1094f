// SPDX-License-Identifier: MIT
// A TLS stream over an already-connected socket stream: OpenSSL on the non-blocking descriptor,
// driven by poll() with the caller's deadlines, for implicit TLS and for STARTTLS alike.
#pragma once

#include "../transport/stream.hpp"
#include "tls_config.hpp"

#include <memory>
#include <string>

namespace smtpc::detail {

struct TlsFacts {
    bool verified = false;         // chain and name verified
    long verify_result = 0;        // X509_V_OK or the X509_V_ERR_* code
    std::string not_verified_why;  // when !verified and verification was asked for: why, as text
    bool resumed = false;          // an earlier session was resumed (no certificate was sent: the
                                   // verification result is the one kept in the session)
    std::string version, cipher, peer_subject, peer_fingerprint;
};

// What a certificate verification failure does to the handshake.
enum class TlsVerify {
    Enforce,  // abort the handshake (SMTPC_ETLS_VERIFY)
    Record,   // complete it and record the result (opportunistic TLS, RFC 7435)
    Skip,     // do not verify at all (the testing-only switch)
};

struct HandshakeResult {
    smtpc_status status = SMTPC_OK;  // SMTPC_OK, SMTPC_ETLS, SMTPC_ETLS_VERIFY, SMTPC_ETIMEOUT, SMTPC_ENOMEM
    std::string message;
    std::unique_ptr<Stream> stream;  // the TLS stream on success
    std::unique_ptr<Stream> inner;   // on failure, the plain stream handed back (to be closed)
    TlsFacts facts;
    bool system_store_loaded = false;  // this handshake loaded the process's system trust store
    bool offered_session = false;      // a saved session was offered (facts.resumed: and taken)
};

// Runs the client handshake over `inner`. The certificate is verified against `server_name` (as an IP
// address when it is one, else as a DNS name, which is also sent as SNI) as `verify` and the
// configuration's switches say. Marks `config` as in use. `peer` names the endpoint (host or socket
// path, and port) for session resumption: a session saved by a connection to the same peer, for the
// same name, under the same verification settings is offered; empty: none is offered or saved.
HandshakeResult tls_handshake(std::unique_ptr<Stream> inner, std::shared_ptr<TlsConfig> config,
                              const std::string &server_name, TlsVerify verify, const Deadline &deadline,
                              const std::string &peer = {});

// tls_handshake() in steps, for non-blocking mode: the set-up is done when it is made; step() runs
// the handshake until it ends, or with an immediate deadline (Deadline::immediate) until it would
// wait, returning SMTPC_EAGAIN and the events (POLLIN or POLLOUT) it waits for in `wants`.
class TlsHandshake {
  public:
    TlsHandshake(std::unique_ptr<Stream> inner, std::shared_ptr<TlsConfig> config,
                 const std::string &server_name, TlsVerify verify, const std::string &peer = {});
    ~TlsHandshake();
    TlsHandshake(const TlsHandshake &) = delete;
    TlsHandshake &operator=(const TlsHandshake &) = delete;
    HandshakeResult step(const Deadline &deadline, short &wants);
    int fd() const;

  private:
    struct State;
    static void setup(State &st, const std::string &peer);
    std::unique_ptr<State> s_;
};

}  // namespace smtpc::detail
