// SPDX-License-Identifier: MIT
#include "socket.hpp"

#include "address.hpp"
#include "cancel.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

namespace smtpc::detail {

namespace {

std::string os_message(int err) {
    char buf[256];
    // GNU strerror_r may return a static string instead of filling buf.
    const char *s = strerror_r(err, buf, sizeof buf);
    return s ? std::string(s) : std::string("error ") + std::to_string(err);
}

class SocketStream final : public Stream {
  public:
    explicit SocketStream(int fd) : fd_(fd) {}
    ~SocketStream() override { close(); }

    // One receive when the reply is already there, poll and receive when it is not, and as rarely
    // as possible a receive that finds nothing (EAGAIN) before the poll. Which case is common depends
    // on the server and the scheduler (a server on the same CPU has usually answered by the time the
    // client reads; one on another CPU or machine has not), so the stream learns it: it receives
    // first while that finds data, and after a receive that found nothing it polls first for the
    // next kPollFirstReads reads before it tries again. A receive that filled the buffer is always
    // followed by a receive: more is probably waiting. With an immediate deadline (non-blocking
    // mode) there is no poll at all: a zero-timeout poll costs a system call as a receive that finds
    // nothing does, and only repeats what the caller's loop already said; one receive, then EAGAIN.
    // Nor, in that mode, a receive right after a send (a command written, its reply awaited): the
    // reply is almost never there yet, and a receive that finds nothing costs a system call where
    // the caller's loop waits anyway; nor for the first read of a connection just made (the server's
    // greeting). Safe for an edge-triggered loop too: the last receive (if any) drained the socket
    // (it did not fill its buffer), so whatever arrives now raises a new edge.
    IoResult read(char *buf, std::size_t cap, const Deadline &deadline) override {
        const bool immediate = deadline.is_immediate();
        const bool after_send = sent_last_;
        sent_last_ = false;
        if (immediate && after_send && !more_waiting_) return IoResult::again(POLLIN);
        bool try_first = immediate || more_waiting_ || poll_first_left_ == 0;
        if (!try_first) --poll_first_left_;
        for (;;) {
            if (!try_first) {
                if (immediate) {
                    // A cancel is seen by the caller's step (one atomic exchange per step).
                    return IoResult::again(POLLIN);
                }
                int ev = poll_until(fd_, POLLIN, deadline);
                if (ev == 0) return {SMTPC_ETIMEOUT, 0, 0, "timed out waiting for the server's reply"};
                if (ev < 0) return fail(errno, "poll");
            }
            ssize_t n = ::recv(fd_, buf, cap, MSG_DONTWAIT);
            if (n >= 0) {
                more_waiting_ = static_cast<std::size_t>(n) == cap;
                return {SMTPC_OK, static_cast<std::size_t>(n), 0, {}};
            }
            if (errno == EINTR) {
                try_first = true;
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(errno, "receive");
            if (try_first && !more_waiting_) poll_first_left_ = kPollFirstReads;
            more_waiting_ = false;
            try_first = false;
        }
    }

    IoResult write(const char *buf, std::size_t len, const Deadline &deadline, bool also_readable,
                   bool &readable) override {
        readable = false;
        for (;;) {
            ssize_t n = ::send(fd_, buf, len, MSG_NOSIGNAL);
            if (n >= 0) {
                sent_last_ = true;
                return {SMTPC_OK, static_cast<std::size_t>(n), 0, {}};
            }
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(errno, "send");
            short events = static_cast<short>(POLLOUT | (also_readable ? POLLIN : 0));
            int ev = poll_until(fd_, events, deadline);
            if (ev == 0 && deadline.is_immediate()) return IoResult::again(events);
            if (ev == 0)
                return {SMTPC_ETIMEOUT, 0, 0, "timed out sending to the server (it stopped reading)"};
            if (ev < 0) return fail(errno, "poll");
            // Input first, even when the socket is also writable: a server that refused the message
            // part-way and keeps draining it would otherwise receive all of it before we looked.
            if (also_readable && (ev & POLLIN)) {
                sent_last_ = false;  // the reader must receive: input is known to be there
                readable = true;
                return {SMTPC_OK, 0, 0, {}};
            }
        }
    }

    int peek_idle() override {
        char c;
        sent_last_ = false;  // a look: what the next read finds is known, it must receive
        for (;;) {
            ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n > 0) return 1;
            if (n == 0) return -1;
            if (errno == EINTR) continue;
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        }
    }

    bool peer_address(sockaddr_storage &out) const override {
        socklen_t len = sizeof out;
        return ::getpeername(fd_, reinterpret_cast<sockaddr *>(&out), &len) == 0;
    }

    int native_handle() const override { return fd_; }

    void close() override {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

  private:
    static IoResult fail(int err, const char *what) {
        if (err == ECANCELED) return {SMTPC_ECANCELLED, 0, 0, "cancelled by smtpc_client_cancel()"};
        smtpc_status st = (err == EPIPE || err == ECONNRESET) ? SMTPC_EDISCONNECTED : SMTPC_EIO;
        std::string msg = std::string(what) + ": " + os_message(err);
        if (err == ECONNRESET) msg = "connection reset by the server";
        if (err == EPIPE) msg = "connection closed by the server";
        return {st, 0, err, msg};
    }

    int fd_;
    static constexpr int kPollFirstReads = 8;
    bool more_waiting_ = false;  // the last receive filled its buffer
    int poll_first_left_ = 0;    // reads left that poll before they receive
    bool sent_last_ = true;      // the last call was a send, or none yet (no receive since)
};

smtpc_status connect_status(int err) {
    return err == ETIMEDOUT ? SMTPC_ETIMEOUT : err == ECANCELED ? SMTPC_ECANCELLED : SMTPC_ECONNECT;
}

}  // namespace

// The source address (set_source_address), resolved per address family as the destination's
// addresses need it: getaddrinfo(host, port, AI_PASSIVE) with the family of the address being
// connected to. Blocking mode resolves each family the first time an address of it is tried;
// non-blocking mode resolves the families the destination has on the resolver thread, so that no
// getaddrinfo runs on the caller's loop.
struct SourceAddrs {
    std::string host;  // empty: any address
    std::uint16_t port = 0;
    bool resolved[2] = {false, false};  // [0] AF_INET, [1] AF_INET6
    int rc[2] = {0, 0};
    addrinfo *list[2] = {nullptr, nullptr};

    SourceAddrs(std::string h, std::uint16_t p) : host(std::move(h)), port(p) {}
    SourceAddrs(const SourceAddrs &) = delete;
    SourceAddrs &operator=(const SourceAddrs &) = delete;
    ~SourceAddrs() {
        for (addrinfo *l : list)
            if (l) ::freeaddrinfo(l);
    }
    static int slot(int family) { return family == AF_INET6 ? 1 : 0; }
    void resolve(int family) {
        int i = slot(family);
        if (resolved[i]) return;
        addrinfo hints{};
        hints.ai_family = family;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        std::string p = std::to_string(port);
        rc[i] = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), p.c_str(), &hints, &list[i]);
        if (rc[i] != 0 && list[i]) {
            ::freeaddrinfo(list[i]);
            list[i] = nullptr;
        }
        if (rc[i] == 0 && !list[i]) rc[i] = EAI_NONAME;
        resolved[i] = true;
    }
    // Resolves the family unless done already: the caller's thread in blocking mode only.
    const addrinfo *get(int family, int &error) {
        resolve(family);
        error = rc[slot(family)];
        return list[slot(family)];
    }
    // Resolves every family that occurs in `dest` (the resolver thread, or a literal's list).
    void resolve_for(const addrinfo *dest) {
        for (const addrinfo *ai = dest; ai; ai = ai->ai_next)
            if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) resolve(ai->ai_family);
    }
};

namespace {

// Starts a non-blocking connect: the fd, with `pending` set when connect() is still in progress
// (finished by poll() for POLLOUT plus SO_ERROR, never by a second connect); -1 on failure. `src`
// is the source address to bind to (nullptr: none).
int start_connect(int family, const sockaddr *addr, socklen_t addrlen, SourceAddrs *src, int &err,
                  std::string &what, bool &pending) {
    pending = false;
    int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        err = errno;
        what = "socket";
        return -1;
    }
    if (family != AF_UNIX) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (src) {
            int rc = 0;
            const addrinfo *a = src->get(family, rc);
            if (rc != 0 || !a) {
                ::close(fd);
                err = EADDRNOTAVAIL;
                what = "source address " + src->host + ": " + gai_strerror(rc);
                return -1;
            }
            if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0) {
                err = errno;
                ::close(fd);
                what = "bind to source address";
                return -1;
            }
        }
    }
    int rc;
    do rc = ::connect(fd, addr, addrlen);
    while (rc != 0 && errno == EINTR);  // Linux: a retried connect is safe until it reports EALREADY
    if (rc == 0) return fd;
    if (errno != EINPROGRESS && errno != EALREADY) {
        err = errno;
        what = "connect";
        ::close(fd);
        return -1;
    }
    pending = true;
    return fd;
}

std::unique_ptr<SourceAddrs> source_of(const ConnectSpec &spec) {
    if (spec.source_host.empty() && !spec.source_port) return nullptr;
    return std::make_unique<SourceAddrs>(spec.source_host, spec.source_port);
}

// The outcome of a pending connect that poll() reported (`ev` its revents, or <0): 0 or the error.
int finish_connect(int fd, int ev) {
    int soerr = 0;
    socklen_t slen = sizeof soerr;
    if (ev < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0) soerr = errno;
    return soerr;
}

// Starts a non-blocking connect and waits for it; on success the fd is returned connected.
int connect_one(int family, const sockaddr *addr, socklen_t addrlen, SourceAddrs *src,
                const Deadline &deadline, int &err, std::string &what) {
    bool pending = false;
    int fd = start_connect(family, addr, addrlen, src, err, what, pending);
    if (fd < 0 || !pending) return fd;
    // An interrupted or pending connect is finished by poll() plus SO_ERROR, never by a second connect.
    int ev = poll_until(fd, POLLOUT, deadline);
    if (ev == 0) {
        ::close(fd);
        err = ETIMEDOUT;
        what = "timeout";
        return -1;
    }
    int soerr = finish_connect(fd, ev);
    if (soerr != 0) {
        err = soerr;
        what = "connect";
        ::close(fd);
        return -1;
    }
    return fd;
}

int resolve(const std::string &host, const std::string &port, int extra_flags, addrinfo **list) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    // An address literal first, without AI_ADDRCONFIG: that flag costs an interface dump (a netlink
    // socket, about 7 system calls) at every call, and a literal is one address, which AI_ADDRCONFIG
    // could only refuse (and the refusal is retried without it below). No system call, no lookup;
    // scope ids (fe80::1%lo) and the inet_aton forms are read as before.
    hints.ai_flags = AI_NUMERICHOST | extra_flags;
    int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, list);
    if (rc == 0 || (extra_flags & AI_NUMERICHOST)) return rc;
    hints.ai_flags = AI_ADDRCONFIG | extra_flags;
    rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, list);
    if (rc == EAI_NONAME || rc == EAI_ADDRFAMILY) {
        // AI_ADDRCONFIG hides ::1 on hosts without a global IPv6 address; ask again without it.
        hints.ai_flags = extra_flags;
        rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, list);
    }
    return rc;
}

std::string connect_failure_text(const ConnectSpec &spec, int err, const std::string &what) {
    std::string where =
        spec.host.front() == '/' ? spec.host : spec.host + " port " + std::to_string(spec.port);
    return "connect to " + where + ": " +
           (what.rfind("source", 0) == 0 ? what
            : err == ECANCELED           ? std::string("cancelled by smtpc_client_cancel()")
                                         : os_message(err));
}

}  // namespace

namespace {

// Never destroyed: a detached resolver thread may still store the name while the process exits.
struct LocalName {
    std::mutex mutex;
    std::string name;  // empty: not looked up yet
};
LocalName &local_name_state() {
    static LocalName *state = new LocalName;
    return *state;
}

std::string local_fqdn() {
    char name[256] = {0};
    if (::gethostname(name, sizeof name - 1) != 0) name[0] = '\0';
    std::string fqdn = name;
    addrinfo hints{};
    hints.ai_flags = AI_CANONNAME;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *res = nullptr;
    if (name[0] && ::getaddrinfo(name, nullptr, &hints, &res) == 0 && res) {
        if (res->ai_canonname) fqdn = res->ai_canonname;
    }
    if (fqdn.find('.') != std::string::npos) {
        if (res) ::freeaddrinfo(res);
        return fqdn;
    }
    std::string addr = "127.0.0.1";
    for (addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET) continue;
        char text[INET_ADDRSTRLEN];
        auto *in = reinterpret_cast<sockaddr_in *>(ai->ai_addr);
        if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text)) addr = text;
        break;
    }
    if (res) ::freeaddrinfo(res);
    return "[" + addr + "]";
}

}  // namespace

bool local_hostname_cached(std::string &out) {
    LocalName &st = local_name_state();
    std::lock_guard<std::mutex> lock(st.mutex);
    if (st.name.empty()) return false;
    out = st.name;
    return true;
}

std::string local_hostname_lookup() {
    std::string name;
    if (local_hostname_cached(name)) return name;
    // Not under the lock: a slow resolver must not hold up the callers that only look at the cache.
    // Two first lookups at once give the same name; the first stored is kept.
    name = local_fqdn();
    LocalName &st = local_name_state();
    std::lock_guard<std::mutex> lock(st.mutex);
    if (st.name.empty()) st.name = name;
    return st.name;
}

int poll_until(int fd, short events, const Deadline &deadline) {
    const CancelSignal *cancel = deadline.cancel();
    // A wait that may sleep needs the wake-up descriptor, made before the flag is looked at below.
    int wake = cancel && deadline.poll_timeout() != 0 ? cancel->wake_fd() : -1;
    for (;;) {
        if (cancel && cancel->take()) {
            errno = ECANCELED;
            return -1;
        }
        int timeout = deadline.poll_timeout();
        // No descriptor could be made (none left): the flag is looked at now and then instead.
        if (cancel && wake < 0 && (timeout < 0 || timeout > CancelSignal::kSliceMs))
            timeout = CancelSignal::kSliceMs;
        // The wake-up descriptor rides along in the same poll: no extra system call per wait.
        pollfd p[2] = {{fd, events, 0}, {wake, POLLIN, 0}};
        int n = ::poll(p, wake >= 0 ? 2 : 1, timeout);
        if (n > 0) {
            if (p[1].revents) {  // a request (taken at the top of the loop) or a stale wake-up
                if (!cancel->take()) cancel->drain();
                else {
                    errno = ECANCELED;
                    return -1;
                }
            }
            if (p[0].revents) return p[0].revents;
            continue;
        }
        if (n == 0) {
            if (deadline.expired()) return 0;
            continue;  // woke up early (rounding): the deadline has not passed yet
        }
        if (errno != EINTR) return -1;
    }
}

bool is_local_address(const sockaddr_storage &ss) {
    if (ss.ss_family == AF_UNIX) return true;
    if (ss.ss_family == AF_INET) {
        auto *in = reinterpret_cast<const sockaddr_in *>(&ss);
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        auto *in6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

bool split_host_port(std::string &host, std::uint16_t &port) {
    std::string port_text;
    if (!host.empty() && host.front() == '[') {
        std::size_t close = host.find(']');
        if (close == std::string::npos) return false;
        std::string rest = host.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            port_text = rest.substr(1);
            if (port_text.empty()) return false;
        }
        host = host.substr(1, close - 1);
    } else if (host.find(':') != std::string::npos && host.find(':') == host.rfind(':')) {
        std::size_t colon = host.find(':');
        port_text = host.substr(colon + 1);
        host.resize(colon);
        if (port_text.empty()) return false;
    }
    if (port_text.empty()) return true;
    unsigned long value = 0;
    for (char c : port_text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<unsigned long>(c - '0');
        if (value > 65535) return false;
    }
    if (port == 0) port = static_cast<std::uint16_t>(value);
    return true;
}

ConnectResult connect_socket(const ConnectSpec &spec, const Deadline &deadline) {
    ConnectResult res;
    if (!spec.host.empty() && spec.host.front() == '/') {
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        if (spec.host.size() >= sizeof sun.sun_path) {
            res.status = SMTPC_EINVAL;
            res.message =
                "Unix socket path longer than " + std::to_string(sizeof sun.sun_path - 1) + " octets";
            return res;
        }
        std::memcpy(sun.sun_path, spec.host.data(), spec.host.size());
        int err = 0;
        std::string what;
        int fd = connect_one(AF_UNIX, reinterpret_cast<sockaddr *>(&sun), sizeof sun, nullptr, deadline, err,
                             what);
        if (fd < 0) {
            res.status = connect_status(err);
            res.os_error = err;
            res.message = "connect to " + spec.host + ": " +
                          (err == ECANCELED ? "cancelled by smtpc_client_cancel()" : os_message(err));
            return res;
        }
        res.stream = std::make_unique<SocketStream>(fd);
        return res;
    }

    addrinfo *list = nullptr;
    std::string port = std::to_string(spec.port);
    int rc = resolve(spec.host, port, 0, &list);
    if (rc != 0 || !list) {
        if (list) ::freeaddrinfo(list);
        res.status = SMTPC_ERESOLVE;
        res.message = "cannot resolve " + spec.host + ": " + gai_strerror(rc);
        return res;
    }
    int last_err = 0;
    std::string last_what;
    // The resolver cannot be interrupted: a cancel raised while it ran is honoured as soon as it returns.
    if (deadline.cancel() && deadline.cancel()->take()) {
        ::freeaddrinfo(list);
        res.status = SMTPC_ECANCELLED;
        res.message = "cancelled by smtpc_client_cancel() (while resolving " + spec.host + ")";
        return res;
    }
    std::unique_ptr<SourceAddrs> src = source_of(spec);
    for (addrinfo *ai = list; ai; ai = ai->ai_next) {
        if (deadline.expired()) {
            last_err = ETIMEDOUT;
            break;
        }
        int err = 0;
        std::string what;
        int fd = connect_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen, src.get(), deadline, err, what);
        if (fd >= 0) {
            ::freeaddrinfo(list);
            res.stream = std::make_unique<SocketStream>(fd);
            return res;
        }
        last_err = err;
        last_what = what;
        if (err == ECANCELED) break;  // no other address is tried for a caller who gave up
    }
    ::freeaddrinfo(list);
    res.status = connect_status(last_err);
    res.os_error = last_err;
    res.message = "connect to " + spec.host + " port " + port + ": " +
                  (last_what.rfind("source", 0) == 0 ? last_what
                   : last_err == ECANCELED           ? "cancelled by smtpc_client_cancel()"
                                                     : os_message(last_err));
    return res;
}

}  // namespace smtpc::detail

namespace smtpc::detail {

// What the resolver thread shares with the connector: it may outlive the connector (getaddrinfo
// cannot be interrupted), so the last owner frees the result. The wake-up descriptors are not
// shared: the connector owns the end the loop watches and closes it on its own thread (never
// another thread, which could close it while the loop has it registered, or after its number was
// reused: ThreadSanitizer saw the thread's last reference close it); the thread owns the other end,
// writes one byte to it (a socket: MSG_NOSIGNAL, no SIGPIPE when the connector is gone) and closes it.
struct Resolution {
    std::mutex mutex;
    bool done = false;
    int rc = 0;
    addrinfo *list = nullptr;
    std::unique_ptr<SourceAddrs> source;  // resolved by the thread, for the destination's families
    ~Resolution() {
        if (list) ::freeaddrinfo(list);
    }
};

struct Connector::State {
    enum class Phase { Resolving, Connecting, Done };
    Phase phase = Phase::Done;
    ConnectSpec spec;
    Deadline deadline;
    std::shared_ptr<Resolution> resolution;
    addrinfo *list = nullptr;  // from getaddrinfo
    addrinfo *cur = nullptr;   // the address being tried, or the next to try
    addrinfo unix_ai{};        // a Unix socket path, tried as a one-address list
    sockaddr_un sun{};
    int fd = -1;  // pending connect
    int last_err = 0;
    std::string last_what;
    ConnectResult early;  // a failure found by start()
    bool failed_early = false;
    std::unique_ptr<SourceAddrs> source;  // resolved before the first connect() (never on step())
    int wake_fd = -1;                     // while resolving: readable when the thread is done

    ~State() { clear(); }
    void clear() {
        if (fd >= 0) ::close(fd);
        fd = -1;
        if (wake_fd >= 0) ::close(wake_fd);
        wake_fd = -1;
        if (list) ::freeaddrinfo(list);
        list = nullptr;
        cur = nullptr;
        resolution.reset();
        source.reset();
    }
};

Connector::Connector() : s_(std::make_unique<State>()) {}
Connector::~Connector() = default;

void Connector::reset() {
    s_->clear();
    s_->phase = State::Phase::Done;
    s_->failed_early = false;
}

bool Connector::active() const { return s_->phase != State::Phase::Done; }

int Connector::fd() const {
    if (s_->phase == State::Phase::Resolving) return s_->wake_fd;
    return s_->fd;
}

short Connector::events() const {
    if (s_->phase == State::Phase::Resolving) return POLLIN;
    return s_->fd >= 0 ? POLLOUT : 0;
}

void Connector::start(const ConnectSpec &spec, const Deadline &deadline) {
    reset();
    State &s = *s_;
    s.spec = spec;
    s.deadline = deadline;
    s.last_err = 0;
    s.last_what.clear();
    s.phase = State::Phase::Connecting;
    // The process's EHLO name, still unknown: the thread looks it up too, even for a literal or a
    // path, so that the loop's thread never waits for the resolver (the next connects find it kept).
    std::string known_name;
    const bool want_name = spec.local_hostname && !local_hostname_cached(known_name);
    const bool is_path = spec.host.front() == '/';
    if (is_path) {
        s.sun = sockaddr_un{};
        s.sun.sun_family = AF_UNIX;
        if (spec.host.size() >= sizeof s.sun.sun_path) {
            s.failed_early = true;
            s.early.status = SMTPC_EINVAL;
            s.early.message =
                "Unix socket path longer than " + std::to_string(sizeof s.sun.sun_path - 1) + " octets";
            return;
        }
        std::memcpy(s.sun.sun_path, spec.host.data(), spec.host.size());
        s.unix_ai = addrinfo{};
        s.unix_ai.ai_family = AF_UNIX;
        s.unix_ai.ai_addr = reinterpret_cast<sockaddr *>(&s.sun);
        s.unix_ai.ai_addrlen = sizeof s.sun;
        s.cur = &s.unix_ai;
        if (!want_name) return;
    }
    std::string port = std::to_string(spec.port);
    std::unique_ptr<SourceAddrs> source = is_path ? nullptr : source_of(spec);
    // A source given as a name is resolved with the destination, on the resolver thread; a literal
    // (or none: any address, a port alone) needs no resolver.
    bool source_literal = !source || source->host.empty();
    if (!source_literal) {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST;
        addrinfo *probe = nullptr;
        source_literal = ::getaddrinfo(source->host.c_str(), nullptr, &hints, &probe) == 0;
        if (probe) ::freeaddrinfo(probe);
    }
    // An address literal needs no resolver: no thread for it.
    if (!is_path && resolve(spec.host, port, AI_NUMERICHOST, &s.list) == 0 && s.list) {
        s.cur = s.list;
        if (source_literal) {
            if (source) source->resolve_for(s.list);
            s.source = std::move(source);
            if (!want_name) return;
        }
    } else {
        if (s.list) ::freeaddrinfo(s.list);
        s.list = nullptr;
    }
    // The destination's name, or the source's, or the EHLO name, or several, on the thread.
    auto r = std::make_shared<Resolution>();
    int p[2];
    // Only the EHLO name wanted: without a thread the connect goes on (the client then says a name
    // found without a lookup).
    const bool name_only = (is_path || s.list) && !source;
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, p) != 0) {
        if (name_only) return;
        s.failed_early = true;
        s.early.status = SMTPC_ERESOLVE;
        s.early.os_error = errno;
        s.early.message = "cannot resolve " + spec.host + ": socketpair: " + os_message(errno);
        return;
    }
    int wake_w = p[1];
    std::string host = spec.host;
    // The families of a literal destination, for the source (a name) to be resolved in.
    int families = 0;
    for (const addrinfo *ai = s.list; ai; ai = ai->ai_next)
        families |= ai->ai_family == AF_INET6 ? 2 : ai->ai_family == AF_INET ? 1 : 0;
    bool resolve_dest = s.list == nullptr && !is_path;
    bool want_source = source != nullptr;
    std::string source_host = source ? source->host : std::string();
    std::uint16_t source_port = source ? source->port : 0;
    // Detached: the connector (and its client) may be freed while getaddrinfo runs; the thread then
    // finishes on its own and the last reference frees the result.
    try {
        std::thread([r, host, port, resolve_dest, families, want_source, source_host, source_port, want_name,
                     wake_w] {
            addrinfo *list = nullptr;
            int rc = resolve_dest ? resolve(host, port, 0, &list) : 0;
            if (want_name && rc == 0) (void)local_hostname_lookup();  // kept for the client's EHLO
            std::unique_ptr<SourceAddrs> src;
            if (want_source && rc == 0) {
                src = std::make_unique<SourceAddrs>(source_host, source_port);
                if (resolve_dest) src->resolve_for(list);
                if (families & 1) src->resolve(AF_INET);
                if (families & 2) src->resolve(AF_INET6);
            }
            {
                std::lock_guard<std::mutex> lock(r->mutex);
                r->rc = rc;
                r->list = list;
                r->source = std::move(src);
                r->done = true;
            }
            char c = 1;
            ssize_t n;
            do n = ::send(wake_w, &c, 1, MSG_NOSIGNAL);
            while (n < 0 && errno == EINTR);
            ::close(wake_w);
        }).detach();
    } catch (const std::system_error &e) {  // no thread to be had (resource limits)
        ::close(p[0]);
        ::close(p[1]);
        if (name_only) return;
        s.failed_early = true;
        s.early.status = SMTPC_ERESOLVE;
        s.early.os_error = e.code().value();
        s.early.message = "cannot resolve " + spec.host + ": cannot start the resolver thread: " + e.what();
        return;
    }
    s.wake_fd = p[0];
    s.resolution = std::move(r);
    s.phase = State::Phase::Resolving;
}

ConnectResult Connector::step() {
    State &s = *s_;
    ConnectResult res;
    if (s.failed_early) {
        s.phase = State::Phase::Done;
        s.failed_early = false;
        return std::move(s.early);
    }
    if (s.phase == State::Phase::Resolving) {
        bool done = false;
        int rc = 0;
        {
            std::lock_guard<std::mutex> lock(s.resolution->mutex);
            done = s.resolution->done;
            if (done) {
                rc = s.resolution->rc;
                if (!s.list) {  // else a literal destination: only the source was resolved
                    s.list = s.resolution->list;
                    s.resolution->list = nullptr;
                }
                s.source = std::move(s.resolution->source);
            }
        }
        if (done && s.wake_fd >= 0) {  // the loop's descriptor changes with this step
            ::close(s.wake_fd);
            s.wake_fd = -1;
        }
        if (!done) {
            if (!s.deadline.expired()) {
                res.status = SMTPC_EAGAIN;
                return res;
            }
            s.clear();
            s.phase = State::Phase::Done;
            res.status = SMTPC_ETIMEOUT;
            res.message = "cannot resolve " + s.spec.host + ": timed out";
            return res;
        }
        s.resolution.reset();
        if (rc != 0 || (!s.list && s.cur != &s.unix_ai)) {
            s.clear();
            s.phase = State::Phase::Done;
            res.status = SMTPC_ERESOLVE;
            res.message = "cannot resolve " + s.spec.host + ": " + gai_strerror(rc);
            return res;
        }
        if (s.list) s.cur = s.list;  // else a Unix socket path (the thread looked up the EHLO name)
        s.phase = State::Phase::Connecting;
    }
    if (s.phase != State::Phase::Connecting) {
        res.status = SMTPC_EINTERNAL;
        res.message = "no connect in progress";
        return res;
    }
    for (;;) {
        if (s.fd >= 0) {
            pollfd p{s.fd, POLLOUT, 0};
            int n = ::poll(&p, 1, 0);
            if (n == 0 || (n < 0 && errno == EINTR)) {
                if (!s.deadline.expired()) {
                    res.status = SMTPC_EAGAIN;
                    return res;
                }
                ::close(s.fd);
                s.fd = -1;
                s.last_err = ETIMEDOUT;
                s.last_what = "timeout";
                break;
            }
            int soerr = finish_connect(s.fd, n < 0 ? -1 : p.revents);
            if (soerr == 0) {
                res.stream = std::make_unique<SocketStream>(s.fd);
                s.fd = -1;
                s.clear();
                s.phase = State::Phase::Done;
                return res;
            }
            ::close(s.fd);
            s.fd = -1;
            s.last_err = soerr;
            s.last_what = "connect";
            s.cur = s.cur->ai_next;
        }
        if (!s.cur) break;
        if (s.deadline.expired()) {
            s.last_err = ETIMEDOUT;
            break;
        }
        bool pending = false;
        int err = 0;
        std::string what;
        int fd = start_connect(s.cur->ai_family, s.cur->ai_addr, s.cur->ai_addrlen, s.source.get(), err, what,
                               pending);
        if (fd < 0) {
            s.last_err = err;
            s.last_what = what;
            s.cur = s.cur->ai_next;
            continue;
        }
        s.fd = fd;
        if (!pending) {
            res.stream = std::make_unique<SocketStream>(fd);
            s.fd = -1;
            s.clear();
            s.phase = State::Phase::Done;
            return res;
        }
    }
    res.status = connect_status(s.last_err);
    res.os_error = s.last_err;
    res.message = connect_failure_text(s.spec, s.last_err, s.last_what);
    s.clear();
    s.phase = State::Phase::Done;
    return res;
}

}  // namespace smtpc::detail
