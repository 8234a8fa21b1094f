// SPDX-License-Identifier: MIT
// A byte stream to the server: plain socket now, TLS later (a TLS stream wraps the socket, so STARTTLS
// can replace the stream in the middle of a session).
#pragma once

#include "address.hpp"
#include "deadline.hpp"

#include "smtpc.h"

#include <cstddef>
#include <string>

namespace smtpc::detail {

struct IoResult {
    // SMTPC_OK, SMTPC_ETIMEOUT, SMTPC_EIO, SMTPC_EDISCONNECTED; SMTPC_EAGAIN with an immediate
    // deadline (Deadline::immediate) when the call would have to wait, `wants` saying for what.
    smtpc_status status = SMTPC_OK;
    std::size_t bytes = 0;  // bytes moved; 0 with SMTPC_OK from read() means end of stream
    int os_error = 0;
    std::string message;
    short wants = 0;  // with SMTPC_EAGAIN: POLLIN and/or POLLOUT (TLS: a read may want a write)
    bool ok() const { return status == SMTPC_OK; }
    static IoResult again(short events) {
        IoResult r;
        r.status = SMTPC_EAGAIN;
        r.wants = events;
        return r;
    }
};

class Stream {
  public:
    virtual ~Stream() = default;

    // Reads what is available (at least one byte), waiting until the deadline.
    virtual IoResult read(char *buf, std::size_t cap, const Deadline &deadline) = 0;
    // Writes some of buf (at least one byte), waiting until the deadline. When `also_readable` is set
    // and input arrives before the socket becomes writable, returns with bytes == 0 and
    // `readable` set, so the caller can drain replies and avoid a pipelining deadlock.
    virtual IoResult write(const char *buf, std::size_t len, const Deadline &deadline, bool also_readable,
                           bool &readable) = 0;
    // Without waiting: 0 when nothing is waiting to be read, 1 when data is, -1 at end of stream or error.
    virtual int peek_idle() = 0;
    // The connected peer's address, from the socket itself (getpeername); false when unknown.
    virtual bool peer_address(sockaddr_storage &out) const = 0;
    // True when the peer is on this machine (loopback address or Unix socket).
    bool peer_is_local() const {
        sockaddr_storage ss{};
        return peer_address(ss) && is_local_address(ss);
    }
    // Shut the stream down in an orderly way where the protocol has one (TLS close_notify), then close.
    virtual void close() = 0;
    // The socket's file descriptor, for a TLS layer to run on; -1 once closed.
    virtual int native_handle() const = 0;
};

}  // namespace smtpc::detail
