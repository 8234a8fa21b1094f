// SPDX-License-Identifier: MIT
// Socket address facts used by security decisions.
#pragma once

#include <sys/socket.h>

namespace smtpc::detail {

// True for a peer on this machine: 127.0.0.0/8, ::1, an IPv4-mapped loopback address, or a Unix socket.
bool is_local_address(const sockaddr_storage &addr);

}  // namespace smtpc::detail
