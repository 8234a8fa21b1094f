// SPDX-License-Identifier: MIT
// When the client may send credentials (the plaintext rule of include/smtpc.h).
#pragma once

#include <sys/socket.h>

namespace smtpc::detail {

// `peer` is the connected socket's peer address (nullptr when unknown, which never counts as local).
// Credentials may go over TLS with a verified certificate and host name, to a peer on this machine,
// or anywhere when the caller explicitly allowed it.
bool credentials_permitted(const sockaddr_storage *peer, bool tls_verified, bool allow_insecure);

}  // namespace smtpc::detail
