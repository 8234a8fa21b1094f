// SPDX-License-Identifier: MIT
// Plain TCP and Unix-domain sockets: non-blocking file descriptors driven by poll() with absolute
// deadlines; MSG_NOSIGNAL on every send so a reset never raises SIGPIPE; close-on-exec everywhere.
#pragma once

#include "stream.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace smtpc::detail {

struct ConnectSpec {
    std::string host;  // name, IPv4/IPv6 literal, or absolute path of a Unix socket
    std::uint16_t port = 0;
    std::string source_host;  // empty: any
    std::uint16_t source_port = 0;
    // Non-blocking connect: the process's EHLO name is not known yet and the client will need it,
    // so the resolver thread looks it up too (local_hostname_lookup), literals and paths included.
    bool local_hostname = false;
};

// The name a client gives in EHLO when none was set: this machine's fully qualified name, or
// "[a.b.c.d]" when it has none (smtplib's rule). Looked up once per process (a blocking
// getaddrinfo with AI_CANONNAME, which may ask DNS) and kept; thread-safe.
std::string local_hostname_lookup();
// The kept name without a lookup: false when it has not been looked up yet.
bool local_hostname_cached(std::string &out);

struct ConnectResult {
    smtpc_status status = SMTPC_OK;  // SMTPC_OK, SMTPC_EINVAL, SMTPC_ERESOLVE, SMTPC_ECONNECT, SMTPC_ETIMEOUT
    int os_error = 0;
    std::string message;
    std::unique_ptr<Stream> stream;
};

// Tries each address of the host in turn until one connects or the deadline passes.
ConnectResult connect_socket(const ConnectSpec &spec, const Deadline &deadline);

// A connect that never blocks its caller (non-blocking mode): a name is resolved on a helper thread
// (getaddrinfo cannot be interrupted or polled; IP literals and Unix paths need no resolution), each
// address is tried with a non-blocking connect(). step() advances without waiting: SMTPC_EAGAIN
// while fd() must become ready for events(), else the outcome as connect_socket() gives it.
class Connector {
  public:
    Connector();
    ~Connector();
    Connector(const Connector &) = delete;
    Connector &operator=(const Connector &) = delete;

    void start(const ConnectSpec &spec, const Deadline &deadline);
    ConnectResult step();
    int fd() const;
    short events() const;
    bool active() const;
    void reset();

  private:
    struct State;
    std::unique_ptr<State> s_;
};

// Splits "host:port" as smtplib does (only when host holds exactly one ':') and "[v6]:port";
// strips brackets from "[v6]". Returns false for a non-numeric or out-of-range port.
bool split_host_port(std::string &host, std::uint16_t &port);

}  // namespace smtpc::detail
