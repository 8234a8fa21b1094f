// A TLS stream over an already-connected socket stream: OpenSSL on the non-blocking descriptor,
// driven by poll() with the caller's deadlines, for implicit TLS and for STARTTLS alike.
#pragma once

#include "../transport/stream.hpp"
#include "tls_config.hpp"

#include <memory>
#include <string>

namespace smtpc::detail {

struct TlsFacts {
    bool verified = false;
    long verify_result = 0;  // X509_V_OK or the X509_V_ERR_* code
    std::string version, cipher, peer_subject, peer_fingerprint;
};

struct HandshakeResult {
    smtpc_status status = SMTPC_OK;  // SMTPC_OK, SMTPC_ETLS, SMTPC_ETLS_VERIFY, SMTPC_ETIMEOUT, SMTPC_ENOMEM
    std::string message;
    std::unique_ptr<Stream> stream;  // the TLS stream on success
    std::unique_ptr<Stream> inner;   // on failure, the plain stream handed back (to be closed)
    TlsFacts facts;
};

// Runs the client handshake over `inner`. `server_name` is verified (as an IP address when it is
// one, else as a DNS name sent as SNI) unless `skip_verify`.
HandshakeResult tls_handshake(std::unique_ptr<Stream> inner, std::shared_ptr<TlsConfig> config,
                              const std::string &server_name, bool skip_verify, const Deadline &deadline);

}  // namespace smtpc::detail
