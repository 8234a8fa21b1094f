// SPDX-License-Identifier: MIT
#include "client.hpp"

#include "../auth/policy.hpp"
#include "../message/headers.hpp"
#include "../proto/command.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

namespace smtpc::detail {

namespace {

constexpr std::size_t kBufferSize = 64 * 1024;
// Writes at least this large (blocks of a message body) are preceded by a look at the input.
constexpr std::size_t kLookBeforeWrite = 16 * 1024;

}  // namespace

Client::Client(smtpc_protocol protocol) : engine_(protocol) { engine_.set_trace(this); }

Client::~Client() { drop_connection(); }

namespace {

// A cancel stopped a wait: whatever the layer that was waiting made of it (an I/O or TLS error,
// delivery unknown, a refusal and then a failure), the outcome is the cancel.
void as_cancelled(smtpc_status &status, std::string &message) {
    if (status == SMTPC_OK) return;
    std::string why = "cancelled by smtpc_client_cancel()";
    if (status == SMTPC_EDELIVERY_UNKNOWN)
        why += " after the message was sent: it may or may not have been delivered";
    else if (status == SMTPC_ECANCELLED) why = std::move(message);
    else if (status != SMTPC_EIO && status != SMTPC_ETLS && status != SMTPC_ECONNECT) why += "; " + message;
    status = SMTPC_ECANCELLED;
    message = std::move(why);
}

const char kQueueBusy[] = "messages are queued: take their results with smtpc_client_next_result() first";

}  // namespace

// Left uninitialised: a reply touches only the pages it fills (a zero-filled buffer cost 16 page faults
// and a 64 KiB memset per client, which a connection per message pays every time).
char *Client::io_buffer() {
    if (!buffer_) buffer_.reset(new char[kBufferSize]);
    return buffer_.get();
}

smtpc_status Client::record(smtpc_status status, std::string message, int os_error) {
    if (cancel_.fired()) {
        // A cancel stopped a wait of this call: the call reports the cancel.
        cancel_.clear_fired();
        if (status != SMTPC_OK) {
            drop_connection();  // closed already on every path; the rule is stated here once
            as_cancelled(status, message);
            os_error = 0;
        }
    }
    status_ = status;
    errmsg_ = status == SMTPC_OK ? std::string() : std::move(message);
    os_error_ = os_error;
    return status;
}

void Client::trace(smtpc_trace_kind kind, std::string_view text) {
    if (trace_level_ <= 0 || !trace_fn_) return;
    std::int64_t us = 0;
    if (trace_level_ >= 2)
        us = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    trace_fn_(kind, text.data(), text.size(), us, trace_userdata_);
}

smtpc_status Client::set_local_hostname(std::string_view name) {
    if (Check c = check_hostname(name); !c) return record(c);
    local_hostname_.assign(name);
    return record(SMTPC_OK);
}

smtpc_status Client::set_source_address(std::string_view host, std::uint16_t port) {
    if (Check c = check_text_argument(host, "source address"); !c) return record(c);
    if (host.find_first_of(" \t") != std::string_view::npos)
        return record(Check::invalid("space in source address"));
    source_host_.assign(host);
    source_port_ = port;
    return record(SMTPC_OK);
}

smtpc_status Client::set_trace(int level, smtpc_trace_fn fn, void *userdata) {
    if (level < 0 || level > 2) return record(Check::invalid("trace level must be 0, 1 or 2"));
    if (level > 0 && !fn) return record(Check::invalid("trace level > 0 needs a callback"));
    trace_level_ = level;
    trace_fn_ = fn;
    trace_userdata_ = userdata;
    return record(SMTPC_OK);
}

std::string Client::hello_name(std::string_view name) {
    if (!name.empty()) return std::string(name);
    if (!local_hostname_.empty()) return local_hostname_;
    // The lookup may ask DNS: never on the loop's thread in non-blocking mode, where the connect's
    // resolver thread made it. A connection made otherwise (connected in blocking mode, or no thread
    // to be had) gets the name without a lookup, not kept: the next hello may find the real one.
    if (!nonblocking_) local_hostname_ = local_hostname_lookup();
    else if (!local_hostname_cached(local_hostname_)) return hostname_without_lookup();
    return local_hostname_;
}

// gethostname() when it is qualified, else the address literal of our end of the connection.
std::string Client::hostname_without_lookup() const {
    char name[256] = {0};
    if (::gethostname(name, sizeof name - 1) == 0 && std::strchr(name, '.')) return name;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    char text[INET6_ADDRSTRLEN] = {0};
    int fd = stream_ ? stream_->native_handle() : -1;
    if (fd >= 0 && ::getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len) == 0) {
        if (ss.ss_family == AF_INET &&
            ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in *>(&ss)->sin_addr, text, sizeof text))
            return std::string("[") + text + "]";
        if (ss.ss_family == AF_INET6 &&
            ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_addr, text, sizeof text))
            return std::string("[IPv6:") + text + "]";
    }
    return "[127.0.0.1]";
}

void Client::drop_connection() {
    if (stream_) {
        stream_->close();
        stream_.reset();
        info("connection closed");
    }
    tls_facts_.reset();
    auth_mechanism_.clear();
    engine_.end_connection();
}

smtpc_status Client::set_tls_server_name(std::string_view name) {
    if (!name.empty())
        if (Check c = check_hostname(name); !c) return record(c);
    tls_server_name_.assign(name);
    return record(SMTPC_OK);
}

std::shared_ptr<TlsConfig> Client::tls_config() {
    if (!tls_config_) {  // none given: the process-wide default, one SSL_CTX for every such client
        std::string error;
        tls_config_ = TlsConfig::shared_default(error);
        if (!tls_config_) record(SMTPC_ETLS, "cannot set up TLS: " + error);
    }
    return tls_config_;
}

// The policy in force on this connection: SMTPC_TLS_AUTO resolved by the kind of peer, judged from
// the connected socket (getpeername, once at connect), never from the host name: a Unix socket gets
// no TLS, a loopback address opportunistic TLS, anything else (or an unknown peer) required TLS.
smtpc_tls_policy Client::effective_tls_policy() const {
    // A message with REQUIRETLS (RFC 8689) goes only over verified TLS, whatever the policy.
    if (require_tls_for_message_ && tls_policy_ != SMTPC_TLS_IMPLICIT) return SMTPC_TLS_REQUIRED;
    if (tls_policy_ != SMTPC_TLS_AUTO) return tls_policy_;
    if (!stream_ || !peer_known_) return SMTPC_TLS_REQUIRED;
    if (peer_.ss_family == AF_UNIX) return SMTPC_TLS_NONE;
    return is_local_address(peer_) ? SMTPC_TLS_OPPORTUNISTIC : SMTPC_TLS_REQUIRED;
}

// Replaces the plain stream by a TLS stream over it. On failure the connection is closed.
smtpc_status Client::start_tls_on_stream_k(const Deadline &deadline, Then k) {
    std::shared_ptr<TlsConfig> cfg = tls_config();
    if (!cfg) {
        drop_connection();
        return then(k, status_);
    }
    // Opportunistic TLS (RFC 7435, Postfix's "may") verifies and records, but does not abort: whoever
    // can forge a certificate can also strip STARTTLS, so failing closed would protect nothing.
    bool opportunistic = effective_tls_policy() == SMTPC_TLS_OPPORTUNISTIC;
    TlsVerify mode = tls_skip_verify_ ? TlsVerify::Skip
                     : opportunistic  ? TlsVerify::Record
                                      : TlsVerify::Enforce;
    const std::string &name = tls_server_name_.empty() ? connected_host_ : tls_server_name_;
    info("TLS handshake" + (name.empty() ? std::string() : " with " + name));
    // Sessions are resumed only with the same peer (host or socket path, and port) and name.
    std::string peer =
        connected_path_.empty() ? connected_host_ + " " + std::to_string(connected_port_) : connected_path_;
    if (!nonblocking_) {
        HandshakeResult hs = tls_handshake(std::move(stream_), cfg, name, mode, deadline, peer);
        return then(k, finish_tls(hs, mode));
    }
    handshake_ = std::make_unique<TlsHandshake>(std::move(stream_), cfg, name, mode, peer);
    wait_ = Wait::Handshake;
    wait_deadline_ = deadline;
    wait_events_ = 0;
    wait_then_ = [this, mode, k = std::move(k)](smtpc_status) {
        HandshakeResult hs = std::move(handshake_result_);
        handshake_result_ = HandshakeResult{};
        return then(k, finish_tls(hs, mode));
    };
    return resume();
}

// The handshake is over: the TLS stream replaces the plain one, or the connection is closed.
smtpc_status Client::finish_tls(HandshakeResult &hs, TlsVerify mode) {
    if (hs.system_store_loaded) info("loaded the system trust store (once per process)");
    tls_verify_result_ = hs.facts.verify_result;
    if (hs.status != SMTPC_OK) {
        stream_ = std::move(hs.inner);
        // A local server with a certificate nobody signed is the common case (Debian's snakeoil):
        // say how to get through without turning TLS off.
        if (hs.status == SMTPC_ETLS_VERIFY && stream_ && peer_known_ && is_local_address(peer_))
            hs.message += "; the server is on this machine: trust its certificate "
                          "(smtpc_tls_config_set_ca_file), or use SMTPC_TLS_OPPORTUNISTIC (encrypted, "
                          "verification recorded but not enforced)";
        drop_connection();
        return record(hs.status, hs.message);
    }
    stream_ = std::move(hs.stream);
    tls_facts_ = std::make_unique<TlsFacts>(std::move(hs.facts));
    std::string established = "TLS established: " + tls_facts_->version + " " + tls_facts_->cipher;
    if (tls_facts_->resumed) established += ", session resumed";
    else if (hs.offered_session) established += ", saved session declined by the server (full handshake)";
    if (tls_facts_->verified) info(established + ", certificate verified");
    else
        info(established + ", certificate NOT verified: " + tls_facts_->not_verified_why +
             (mode == TlsVerify::Record ? " (opportunistic TLS: recorded, not enforced)" : ""));
    return record(SMTPC_OK);
}

smtpc_status Client::connect(std::string_view host_in, std::uint16_t port) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    if (stream_) return record(SMTPC_ESTATE, "already connected; quit or close first");
    if (host_in.empty()) return record(Check::invalid("empty host"));
    for (char ch : host_in) {
        auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c == 0x7f) return record(Check::invalid("space or control character in host"));
    }
    ConnectSpec spec;
    spec.host.assign(host_in);
    spec.port = port;
    if (spec.host.front() != '/' && !split_host_port(spec.host, spec.port))
        return record(Check::invalid("nonnumeric or out-of-range port in host"));
    if (spec.host.empty()) return record(Check::invalid("empty host"));
    if (spec.port == 0) {
        if (tls_policy_ == SMTPC_TLS_IMPLICIT && engine_.protocol() == SMTPC_PROTOCOL_SMTP) spec.port = 465;
        else spec.port = engine_.protocol() == SMTPC_PROTOCOL_LMTP ? SMTPC_LMTP_PORT : SMTPC_SMTP_PORT;
    }
    bool implicit = tls_policy_ == SMTPC_TLS_IMPLICIT ||
                    (tls_policy_ == SMTPC_TLS_AUTO && spec.port == 465 && spec.host.front() != '/');
    spec.source_host = source_host_;
    spec.source_port = source_port_;
    spec.local_hostname = nonblocking_ && local_hostname_.empty();

    engine_.clear_result();
    if (cancel_.take())
        return record(SMTPC_ECANCELLED, "cancelled by smtpc_client_cancel() before connecting");
    Deadline deadline = deadline_after(connect_timeout_ms_);
    info("connecting to " + spec.host +
         (spec.host.front() == '/' ? "" : " port " + std::to_string(spec.port)));
    std::string host = spec.host;
    std::uint16_t to_port = spec.port;
    Then connected = [this, host, to_port, implicit, deadline](smtpc_status) {
        ConnectResult cr = std::move(connect_result_);
        connect_result_ = ConnectResult{};
        if (cr.status != SMTPC_OK) return record(cr.status, cr.message, cr.os_error);
        stream_ = std::move(cr.stream);
        peer_ = sockaddr_storage{};
        peer_known_ = stream_->peer_address(peer_);
        connected_host_ = host.front() == '/' ? std::string() : host;
        connected_path_ = host.front() == '/' ? host : std::string();
        starttls_refused_ = false;
        connected_port_ = to_port;
        tls_verify_result_ = 0;
        info("connected");
        Then greeting = [this, deadline](smtpc_status st) {
            if (st != SMTPC_OK) return st;
            engine_.begin_connection();
            return await_pump(nullptr, &deadline, {});
        };
        if (implicit) return start_tls_on_stream_k(deadline, std::move(greeting));
        return greeting(SMTPC_OK);
    };
    if (!nonblocking_) {
        connect_result_ = connect_socket(spec, deadline);
        return connected(SMTPC_OK);
    }
    connector_.start(spec, deadline);
    wait_ = Wait::Connect;
    wait_deadline_ = deadline;
    wait_then_ = std::move(connected);
    return end_call(resume());
}

void Client::close() {
    abandon_wait();
    drop_connection();
    engine_.clear_result();
}

// An operation in progress (non-blocking mode) is abandoned with the connection.
void Client::abandon_wait() {
    if (wait_ != Wait::None) abandoned_ = true;
    wait_ = Wait::None;
    wait_then_ = nullptr;
    wait_until_ = nullptr;
    wait_body_ = nullptr;
    wait_events_ = 0;
    connector_.reset();
    handshake_.reset();  // closes the socket it holds
    handshake_result_ = HandshakeResult{};
    direct_body_.reset();
    require_tls_for_message_ = false;
}

smtpc_status Client::quit() {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    Then rest = [this](smtpc_status) {
        if (smtpc_status st = ready_for_command(); st != SMTPC_OK) return st;
        return run_k(engine_.begin_command(Cmd::Quit, "QUIT\r\n"), nullptr, [this](smtpc_status st) {
            close();
            return st;
        });
    };
    // Queued messages are completed first; their results wait to be taken.
    if (engine_.unfinished() != 0)
        return end_call(drive_k([this] { return engine_.unfinished() == 0; }, std::move(rest)));
    return end_call(rest(SMTPC_OK));
}

// A command may go out only on an open connection on which the server has nothing to say: a reply
// waiting now would otherwise be taken as the answer to our command. What is waiting is read (a server
// that closes an idle connection usually says why: "421 timeout", "554 too many errors") and the
// engine judges it; the connection is closed whatever it was.
smtpc_status Client::ready_for_command() {
    if (smtpc_status st = queue_busy(); st != SMTPC_OK) return st;
    if (!stream_) return record(SMTPC_ENOTCONN, "not connected; call connect first");
    int idle = stream_->peek_idle();
    if (idle == 0) return SMTPC_OK;
    char *buffer = io_buffer();
    std::string got;
    bool closed = idle < 0;
    while (idle > 0 && got.size() < kBufferSize) {
        IoResult r = stream_->read(buffer, kBufferSize, Deadline::after_ms(1));
        if (!r.ok() || r.bytes == 0) {
            closed = r.status != SMTPC_ETIMEOUT;
            break;
        }
        got.append(buffer, r.bytes);
        idle = stream_->peek_idle();
        closed = idle < 0;
    }
    if (got.empty()) {
        if (!closed) return SMTPC_OK;  // a TLS record without data
        drop_connection();
        return record(SMTPC_EDISCONNECTED, "connection closed by the server");
    }
    engine_.received_while_idle(got.data(), got.size(), closed);
    drop_connection();
    return record(engine_.status(), engine_.message());
}

void Client::supply_body(BodySource &body) {
    // What the previous block added is in the outgoing stream (written, or gathered for the next
    // write): report it before the next block, and before the end of data, which the callback can
    // still prevent by aborting.
    if (progress_fn_ && body.taken > body.reported) {
        body.reported = body.taken;
        if (int rc = progress_fn_(body.taken, body.total, progress_userdata_); rc != 0) {
            engine_.body_aborted("the progress callback returned " + std::to_string(rc));
            return;
        }
    }
    if (!body.read) {
        while (!body.memory.empty() && body.memory.front().empty()) body.memory.erase(body.memory.begin());
        if (body.memory.empty()) {
            engine_.body_end();
            return;
        }
        std::string_view &piece = body.memory.front();
        std::size_t n = piece.size() < kBufferSize ? piece.size() : kBufferSize;
        engine_.body(piece.data(), n);
        piece.remove_prefix(n);
        body.taken += n;
        return;
    }
    char *buffer = io_buffer();
    std::size_t got = 0;
    int rc = body.read(buffer, kBufferSize, &got, body.userdata);
    if (rc == 0 && stop_check_ && stop_check_(stop_arg_)) rc = 1;
    if (rc != 0) {
        engine_.body_aborted("the read callback returned " + std::to_string(rc));
        return;
    }
    if (got > kBufferSize) {
        engine_.body_aborted("the read callback reported more bytes than the buffer holds");
        return;
    }
    if (got == 0) engine_.body_end();
    else {
        engine_.body(buffer, got);
        body.taken += got;
    }
}

smtpc_status Client::op_guard() {
    if (wait_ == Wait::None) {
        abandoned_ = false;
        return SMTPC_OK;
    }
    return record(SMTPC_ESTATE,
                  "an operation is in progress: call smtpc_client_step() until it ends (or close)");
}

smtpc_status Client::end_call(smtpc_status st) {
    if (st == SMTPC_EAGAIN) {
        status_ = SMTPC_EAGAIN;
        errmsg_ = "in progress: call smtpc_client_step() when the descriptor is ready";
        os_error_ = 0;
    }
    return st;
}

smtpc_status Client::set_nonblocking(bool on) {
    if (wait_ != Wait::None) return record(SMTPC_ESTATE, "an operation is in progress");
    nonblocking_ = on;
    return record(SMTPC_OK);
}

int Client::fd() const {
    if (wait_ == Wait::Connect) return connector_.fd();
    if (wait_ == Wait::Handshake) return handshake_ ? handshake_->fd() : -1;
    return stream_ ? stream_->native_handle() : -1;
}

int Client::wants() const {
    if (wait_ == Wait::None) return 0;
    short ev = wait_ == Wait::Connect ? connector_.events() : wait_events_;
    int w = 0;
    if (ev & POLLIN) w |= SMTPC_WANT_READ;
    if (ev & POLLOUT) w |= SMTPC_WANT_WRITE;
    return w;
}

std::int64_t Client::deadline_ms() const {
    if (wait_ == Wait::None) return -1;
    return wait_deadline_.monotonic_ms();
}

smtpc_status Client::step() {
    if (wait_ == Wait::None) {
        // An operation abandoned by a close ends here, so that a loop stepping it learns of it.
        if (abandoned_) {
            abandoned_ = false;
            return record(SMTPC_ENOTCONN, "the connection was closed while the operation was in progress");
        }
        return SMTPC_OK;  // nothing in progress: the last call's status stays
    }
    return end_call(resume());
}

smtpc_status Client::await_io(BodySource *body, const Deadline *fixed, std::function<bool()> until, Then k) {
    os_error_ = 0;
    wait_ = Wait::Io;
    wait_body_ = body;
    wait_until_ = std::move(until);
    wait_fixed_ = fixed != nullptr;
    wait_step_ = engine_.step();
    wait_deadline_ = fixed ? *fixed : deadline_after(command_timeout_ms_);
    wait_then_ = std::move(k);
    wait_events_ = 0;
    return resume();
}

smtpc_status Client::await_pump(BodySource *body, const Deadline *fixed, Then k) {
    return await_io(body, fixed, {}, [this, k = std::move(k)](smtpc_status) {
        smtpc_status st = engine_.status();
        return then(
            k, record(st, engine_.message(), st == SMTPC_EIO || st == SMTPC_EDISCONNECTED ? os_error_ : 0));
    });
}

// Continues the wait in progress; when it is over, runs what the operation does next (which may
// start another wait). In blocking mode every wait is over when this returns.
smtpc_status Client::resume() {
    if (wait_ == Wait::Io) {
        if (!pump_step(!nonblocking_)) return SMTPC_EAGAIN;
        if (engine_.must_close()) drop_connection();
    } else if (wait_ == Wait::Connect) {
        if (cancel_.take()) {
            connector_.reset();
            connect_result_ = ConnectResult{};
            connect_result_.status = SMTPC_ECANCELLED;
            connect_result_.message = "cancelled by smtpc_client_cancel() while connecting";
        } else {
            ConnectResult r = connector_.step();
            if (r.status == SMTPC_EAGAIN) return SMTPC_EAGAIN;
            connect_result_ = std::move(r);
        }
    } else if (wait_ == Wait::Handshake) {
        // Past the deadline, one last attempt whose wait times out (the handshake then hands the
        // socket back with SMTPC_ETIMEOUT, as in blocking mode).
        Deadline d = wait_deadline_.expired() ? wait_deadline_ : Deadline::immediate().cancellable(&cancel_);
        short events = 0;
        HandshakeResult r = handshake_->step(d, events);
        if (r.status == SMTPC_EAGAIN) {
            wait_events_ = events;
            return SMTPC_EAGAIN;
        }
        handshake_result_ = std::move(r);
        handshake_.reset();
    } else {
        return status_;
    }
    wait_ = Wait::None;
    wait_body_ = nullptr;
    wait_until_ = nullptr;
    wait_events_ = 0;
    Then k = std::move(wait_then_);
    wait_then_ = nullptr;
    return then(k, SMTPC_OK);
}

bool Client::pump_step(bool may_wait) {
    for (;;) {
        if (!wait_fixed_ && engine_.step() != wait_step_) {
            wait_step_ = engine_.step();
            wait_deadline_ = deadline_after(command_timeout_ms_);
        }
        Engine::Want want = engine_.want();
        if (want == Engine::Want::Done) return true;
        if (wait_until_ && wait_until_()) return true;
        // Checked at every step, not only in the waits: a transfer the socket never blocks (a fast
        // server) stops too. A cancel raised while no call was running stops this one before it
        // sends anything. One atomic exchange, no system call.
        if (cancel_.take()) {
            engine_.failed(SMTPC_ECANCELLED, "cancelled by smtpc_client_cancel()");
            continue;
        }
        Deadline deadline = may_wait ? wait_deadline_ : Deadline::immediate().cancellable(&cancel_);
        if (want == Engine::Want::Write) {
            std::string_view out = engine_.output();
            // Before a large write, one look at the input: a server that refused a message part-way
            // and keeps draining it never makes the socket block, so the write's own watch would
            // never see the refusal and the whole message would go out first. One recv(MSG_PEEK)
            // per block of body; small writes (command groups) skip it.
            if (out.size() >= kLookBeforeWrite && stream_->peek_idle() != 0) {
                if (!read_some_step(deadline)) return false;
                continue;
            }
            bool readable = false;
            // Input is watched while writing: replies to a pipelined batch are drained so that neither
            // side blocks on a full buffer, and a server that gives up mid-message (an error reply, a
            // TLS alert, a close) is noticed at once rather than at the deadline.
            IoResult r = stream_->write(out.data(), out.size(), deadline, true, readable);
            if (r.status == SMTPC_EAGAIN) {
                if (!would_wait(r.wants, "timed out sending to the server (it stopped reading)")) continue;
                return false;
            }
            if (!r.ok()) {
                os_error_ = r.os_error;
                // The server may have said why before it closed (a refusal, an alert): every reply that
                // arrived before the close is taken before the close is.
                while (engine_.want() != Engine::Want::Done && stream_->peek_idle() > 0)
                    read_some_step(Deadline::after_ms(1));
                engine_.failed(r.status, r.message);
            } else if (readable) {
                // Readable may mean only a TLS record without data (a session ticket): look first.
                if (stream_->peek_idle() != 0)
                    if (!read_some_step(deadline)) return false;
            } else {
                engine_.output_written(r.bytes);
            }
        } else if (want == Engine::Want::Body) {
            BodySource *source = wait_body_;
            if (!source)
                for (Queued &q : queue_)
                    if (q.id == engine_.body_id()) source = &q.body;
            if (!source) {
                engine_.body_aborted("no message to send");
                continue;
            }
            supply_body(*source);
        } else {
            if (!read_some_step(deadline)) return false;
        }
    }
}

// Non-blocking mode: the stream would wait for `events`. Nothing waits in the stream, so the deadline
// is judged here, after the attempt (what arrived while the caller's loop was busy elsewhere is
// taken first), with the words of the stream's own wait. False: the operation timed out.
bool Client::would_wait(short events, const char *timeout_message) {
    if (wait_deadline_.expired()) {
        engine_.failed(SMTPC_ETIMEOUT, timeout_message);
        return false;
    }
    wait_events_ = events;
    return true;
}

// False when the read would wait (non-blocking mode): wait_events_ says for what.
bool Client::read_some_step(const Deadline &deadline) {
    char *buffer = io_buffer();
    IoResult r = stream_->read(buffer, kBufferSize, deadline);
    if (r.status == SMTPC_EAGAIN) return !would_wait(r.wants, "timed out waiting for the server's reply");
    if (!r.ok()) {
        os_error_ = r.os_error;
        engine_.failed(r.status, r.message);
    } else if (r.bytes == 0) {
        engine_.received_eof();
    } else {
        engine_.received(buffer, r.bytes);
    }
    return true;
}

smtpc_status Client::run_k(const Check &started, BodySource *body, Then k) {
    if (!started) return then(k, record(started));
    return await_pump(body, nullptr, std::move(k));
}

smtpc_status Client::simple_k(Cmd cmd, std::string_view verb, std::string_view arg, const char *what,
                              Then k) {
    if (Check c = check_text_argument(arg, what); !c) return then(k, record(c));
    std::string line;
    if (Check c = make_line(verb, arg, kMaxCommandLine, line); !c) return then(k, record(c));
    if (smtpc_status st = ready_for_command(); st != SMTPC_OK) return then(k, st);
    return run_k(engine_.begin_command(cmd, std::move(line)), nullptr, std::move(k));
}

smtpc_status Client::simple(Cmd cmd, std::string_view verb, std::string_view arg, const char *what) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    if (smtpc_status st = plaintext_guard(); st != SMTPC_OK) return st;
    return end_call(simple_k(cmd, verb, arg, what, {}));
}

smtpc_status Client::helo_k(std::string_view name, Then k) {
    if (engine_.protocol() == SMTPC_PROTOCOL_LMTP)
        return then(k, record(SMTPC_ESTATE, "HELO is not part of LMTP; use LHLO"));
    std::string n = hello_name(name);
    if (Check c = check_hostname(n); !c) return then(k, record(c));
    return simple_k(Cmd::Helo, "HELO", n, "HELO name", std::move(k));
}

smtpc_status Client::helo(std::string_view name) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    return end_call(helo_k(name, {}));
}

smtpc_status Client::ehlo_k(std::string_view name, Then k) {
    std::string n = hello_name(name);
    if (Check c = check_hostname(n); !c) return then(k, record(c));
    return simple_k(Cmd::Ehlo, engine_.protocol() == SMTPC_PROTOCOL_LMTP ? "LHLO" : "EHLO", n, "EHLO name",
                    std::move(k));
}

smtpc_status Client::ehlo(std::string_view name) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    return end_call(ehlo_k(name, {}));
}

smtpc_status Client::ehlo_or_helo_if_needed_k(Then k) {
    return hello_if_needed_k([this, k = std::move(k)](smtpc_status st) {
        if (st != SMTPC_OK) {
            if (st == SMTPC_EHELO && tls_required_now()) {
                drop_connection();
                return then(
                    k, record(SMTPC_ETLS_REQUIRED, "TLS is required and the server refused EHLO, so STARTTLS "
                                                   "cannot be negotiated; " +
                                                       errmsg_));
            }
            return then(k, st);
        }
        return apply_tls_policy_k(k);
    });
}

smtpc_status Client::ehlo_or_helo_if_needed() {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    return end_call(ehlo_or_helo_if_needed_k({}));
}

bool Client::tls_required_now() const {
    if (tls_active()) return false;
    smtpc_tls_policy p = effective_tls_policy();
    return p == SMTPC_TLS_REQUIRED || p == SMTPC_TLS_IMPLICIT;
}

smtpc_status Client::tls_required_guard() {
    if (!stream_ || !tls_required_now()) return SMTPC_OK;
    drop_connection();  // as every SMTPC_ETLS_REQUIRED: nothing more goes out in plaintext
    return record(SMTPC_ETLS_REQUIRED, "TLS is required and the connection is not encrypted; "
                                       "use starttls or ehlo_or_helo_if_needed first");
}

// The commands a caller sends by hand (NOOP, RSET, VRFY, EXPN, HELP, docmd, raw bytes) go out in
// plaintext only when TLS is not required: under REQUIRED nothing but EHLO/HELO, STARTTLS and QUIT
// precedes the handshake (VRFY and EXPN carry addresses; raw bytes could carry anything).
smtpc_status Client::plaintext_guard() {
    if (!stream_ || !tls_required_now()) return SMTPC_OK;
    if (smtpc_status st = ready_for_command(); st != SMTPC_OK) return st;  // closed is reported as closed
    return tls_required_guard();
}

// Upgrades the connection as the TLS policy says, then says hello again over TLS.
smtpc_status Client::apply_tls_policy_k(Then k) {
    if (tls_active() || effective_tls_policy() == SMTPC_TLS_NONE) return then(k, record(SMTPC_OK));
    bool required = tls_required_now();
    if (!engine_.does_esmtp() || !engine_.features().has("starttls")) {
        if (!required) return then(k, record(SMTPC_OK));
        drop_connection();
        return then(k, record(SMTPC_ETLS_REQUIRED, "TLS is required and the server does not offer STARTTLS"));
    }
    if (starttls_refused_) return then(k, record(SMTPC_OK));
    return starttls_k([this, required, k = std::move(k)](smtpc_status st) {
        if (st == SMTPC_EREPLY || st == SMTPC_ECLOSING) {
            if (!required && st == SMTPC_EREPLY) {  // opportunistic: go on in plaintext, and do not ask again
                starttls_refused_ = true;
                return then(k, record(SMTPC_OK));
            }
            drop_connection();
            return then(k,
                        record(SMTPC_ETLS_REQUIRED, "TLS is required and the server refused it: " + errmsg_));
        }
        if (st != SMTPC_OK) return then(k, st);
        return hello_if_needed_k(k);
    });
}

smtpc_status Client::starttls_k(Then k) {
    if (smtpc_status st = ready_for_command(); st != SMTPC_OK) return then(k, st);
    if (tls_active()) return then(k, record(SMTPC_ESTATE, "the connection is already encrypted"));
    return hello_if_needed_k([this, k = std::move(k)](smtpc_status st) {
        if (st != SMTPC_OK) return then(k, st);
        if (!engine_.does_esmtp() || !engine_.features().has("starttls"))
            return then(k, record(SMTPC_ENOTSUPPORTED, "STARTTLS extension not supported by the server"));
        return run_k(
            engine_.begin_command(Cmd::StartTls, "STARTTLS\r\n"), nullptr, [this, k](smtpc_status sent) {
                if (sent != SMTPC_OK) return then(k, sent);
                // Anything the server sent after its 220 would be taken as coming over TLS: refuse it
                // (CVE-2011-0411 class). Data in the same read as the reply was already refused by the
                // engine.
                if (int idle = stream_->peek_idle(); idle != 0) {
                    drop_connection();
                    if (idle < 0)
                        return then(k, record(SMTPC_EDISCONNECTED,
                                              "connection closed by the server after its reply to STARTTLS"));
                    return then(
                        k, record(SMTPC_EPROTOCOL,
                                  "the server sent data after its reply to STARTTLS (response injection?); "
                                  "connection closed"));
                }
                return start_tls_on_stream_k(deadline_after(command_timeout_ms_), [this, k](smtpc_status hs) {
                    if (hs != SMTPC_OK) return then(k, hs);
                    engine_.end_connection();  // RFC 3207 4.2: forget everything learnt before TLS
                    return then(k, record(SMTPC_OK));
                });
            });
    });
}

smtpc_status Client::starttls() {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    return end_call(starttls_k({}));
}

smtpc_status Client::hello_if_needed_k(Then k) {
    if (!stream_) return then(k, record(SMTPC_ENOTCONN, "not connected; call connect first"));
    if (engine_.helo_reply() || engine_.ehlo_reply()) return then(k, record(SMTPC_OK));
    return ehlo_k({}, [this, k = std::move(k)](smtpc_status st) {
        if (st != SMTPC_OK && st != SMTPC_EREPLY) return then(k, st);
        const Reply *r = engine_.last_reply();
        if (r && r->code >= 200 && r->code < 300) return then(k, record(SMTPC_OK));
        if (engine_.protocol() == SMTPC_PROTOCOL_LMTP)
            return then(k, record(SMTPC_EHELO, "LHLO refused: " + errmsg_));
        return helo_k({}, [this, k](smtpc_status st2) {
            if (st2 == SMTPC_EREPLY) return then(k, record(SMTPC_EHELO, "EHLO and HELO refused; " + errmsg_));
            return then(k, st2);
        });
    });
}

smtpc_status Client::hello_if_needed() { return hello_if_needed_k({}); }

smtpc_status Client::docmd(std::string_view cmd, std::string_view args) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    if (Check c = check_hostname(cmd); !c)
        return record(Check::invalid("command must be one word without control characters"));
    if (smtpc_status st = plaintext_guard(); st != SMTPC_OK) return st;
    return end_call(simple_k(Cmd::Other, cmd, args, "command arguments", {}));
}

smtpc_status Client::mail(std::string_view addr, std::string_view options) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    // A connection the server closed is reported as closed, before any other judgement of it.
    if (smtpc_status st = ready_for_command(); st != SMTPC_OK) return st;
    if (smtpc_status st = tls_required_guard(); st != SMTPC_OK) return st;
    Address a;
    if (Check c = parse_address(addr, true, a); !c) return record(c);
    std::vector<std::string> opts;
    if (Check c = parse_options(options, opts); !c) return record(c);
    std::string line;
    if (Check c = engine_.build_mail(a, std::move(opts), line); !c) return record(c);
    return end_call(run_k(engine_.begin_command(Cmd::Mail, std::move(line)), nullptr, {}));
}

smtpc_status Client::rcpt(std::string_view addr, std::string_view options) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    if (smtpc_status st = ready_for_command(); st != SMTPC_OK) return st;
    if (smtpc_status st = tls_required_guard(); st != SMTPC_OK) return st;
    Address a;
    if (Check c = parse_address(addr, false, a); !c) return record(c);
    std::vector<std::string> opts;
    if (Check c = parse_options(options, opts); !c) return record(c);
    std::string line;
    bool utf8 = engine_.does_esmtp() && engine_.features().has("smtputf8");
    if (Check c = engine_.build_rcpt(a, opts, utf8, line); !c) return record(c);
    return end_call(run_k(engine_.begin_command(Cmd::Rcpt, std::move(line), a.original), nullptr, {}));
}

smtpc_status Client::send_raw(std::string_view bytes) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    if (smtpc_status st = queue_busy(); st != SMTPC_OK) return st;
    if (!stream_) return record(SMTPC_ENOTCONN, "not connected; call connect first");
    if (smtpc_status st = plaintext_guard(); st != SMTPC_OK) return st;
    return end_call(run_k(engine_.begin_raw(bytes), nullptr, {}));
}

smtpc_status Client::read_reply() {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    if (smtpc_status st = queue_busy(); st != SMTPC_OK) return st;
    if (!stream_) return record(SMTPC_ENOTCONN, "not connected; call connect first");
    return end_call(run_k(engine_.begin_read_reply(), nullptr, {}));
}

smtpc_status Client::data(std::string_view msg) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    if (smtpc_status st = ready_for_command(); st != SMTPC_OK) return st;
    if (smtpc_status st = tls_required_guard(); st != SMTPC_OK) return st;
    // Kept here while the message is sent (the caller's bytes are borrowed until the call ends).
    direct_body_ = std::make_shared<BodySource>(BodySource{{msg}, nullptr, nullptr});
    direct_body_->total = msg.size();
    return end_call(run_k(engine_.begin_data(), direct_body_.get(), [this](smtpc_status st) {
        direct_body_.reset();
        return st;
    }));
}

// The common path of sendmail, sendmail_stream, send_message and enqueue: checks a message against
// the session (EHLO first on an idle connection, which may wait) and queues it in the engine.
smtpc_status Client::admit_k(std::shared_ptr<Admission> a, std::shared_ptr<BodySource> body, Then k) {
    if (a->env->recipients.empty()) return then(k, record(Check::invalid("no recipients")));
    bool idle = engine_.unfinished() == 0;
    if (!idle && !stream_) return then(k, record(SMTPC_ENOTCONN, "not connected; call connect first"));
    // A connection the server closed is reported as closed, before any other judgement of it. With
    // messages in flight the session is set up already, and what the server says is read in turn.
    if (idle)
        if (smtpc_status st = ready_for_command(); st != SMTPC_OK) return then(k, st);
    // REQUIRETLS: the policy is REQUIRED for as long as this message is being admitted.
    require_tls_for_message_ = a->env->ext.requiretls;
    Then done = [this, k = std::move(k)](smtpc_status st) {
        require_tls_for_message_ = false;
        return then(k, st);
    };
    if (!idle) return done(admit_checked(*a, *body));
    // The hello may wait, and in non-blocking mode the call then returns before the message is checked.
    if (nonblocking_) a->own();
    std::uint64_t step = engine_.step();
    return ehlo_or_helo_if_needed_k([this, a, body, done, step](smtpc_status st) {
        if (st != SMTPC_OK) return done(st);
        if ((st = tls_required_guard()) != SMTPC_OK) return done(st);
        // Checked again only when a hello or STARTTLS went out: otherwise nothing was read or written
        // since the check above, which stands (one system call per message saved).
        if (engine_.step() != step)
            if ((st = ready_for_command()) != SMTPC_OK) return done(st);
        return done(admit_checked(*a, *body));
    });
}

smtpc_status Client::admit_checked(const Admission &a, const BodySource &body) {
    const Envelope &env = *a.env;
    std::optional<std::uint64_t> size = a.size;
    SessionFacts session{&engine_.features(), engine_.does_esmtp(), chunking_};
    if (Check c = check_requiretls(env, session, tls_active(), tls_facts_ && tls_facts_->verified); !c)
        return record(c);
    // BODY and SMTPUTF8 are chosen from a message in memory (extensions.cpp); a stream is not read ahead.
    BodyFacts facts;
    if (!body.read) facts = scan_body(body.memory);
    bool binary = body_is_binary(env, facts, session);
    // A message in memory is counted for SIZE= only when the server offers SIZE (a pass over the
    // whole message otherwise wasted); BINARYMIME content is sent, and counted, as is.
    if (!size && !body.read && engine_.does_esmtp() && engine_.features().has("size")) {
        if (binary) {
            std::uint64_t n = 0;
            for (auto piece : body.memory) n += piece.size();
            size = n;
        } else {
            size = DataEncoder::normalized_size(body.memory);
        }
    }
    // enqueue() checks every parameter against the features, or refuses before MAIL is sent.
    if (Check c = engine_.enqueue(a.id, env, size, pipelining_, chunking_, facts, body.total); !c)
        return record(c);
    return SMTPC_OK;
}

smtpc_status Client::queue_busy() {
    if (engine_.unfinished() == 0) return SMTPC_OK;
    return record(SMTPC_ESTATE, kQueueBusy);
}

// Drives the queue until `until` holds: marks the messages concluded by a cancel (those concluded
// during this drive, when it ends with a cancel).
smtpc_status Client::drive_k(std::function<bool()> until, Then k) {
    std::uint64_t mark = engine_.conclusions();
    return await_io(nullptr, nullptr, std::move(until), [this, mark, k = std::move(k)](smtpc_status) {
        if (cancel_.fired())
            for (Queued &q : queue_)
                if (engine_.concluded_since(q.id, mark)) q.cancelled = true;
        return then(k, SMTPC_OK);
    });
}

// sendmail: a queue of one message, taken as soon as it is complete.
smtpc_status Client::transact_k(std::shared_ptr<Admission> a, std::shared_ptr<BodySource> body) {
    if (smtpc_status st = queue_busy(); st != SMTPC_OK) return st;
    a->id = ++next_id_;
    return admit_k(a, body, [this, a, body](smtpc_status st) {
        if (st != SMTPC_OK) return st;
        std::uint64_t id = a->id;
        engine_.publish_result(id);  // smtpc_client_last_result() during the transaction too
        queue_.push_back(Queued{id, 0, *body, false});
        return await_io(
            nullptr, nullptr, [this, id] { return engine_.complete(id); },
            [this, id](smtpc_status) {
                if (!engine_.complete(id))
                    engine_.close_queue(SMTPC_EINTERNAL, "the message was left unfinished");
                for (auto it = queue_.begin(); it != queue_.end(); ++it)
                    if (it->id == id) {
                        queue_.erase(it);
                        break;
                    }
                Engine::Outcome o = engine_.take(id);
                smtpc_status result = o.status;
                return record(result, std::move(o.message),
                              result == SMTPC_EIO || result == SMTPC_EDISCONNECTED ? os_error_ : 0);
            });
    });
}

smtpc_status Client::enqueue(const MessageSpec &m) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    auto body = std::make_shared<BodySource>();
    if (m.read) {
        body->read = m.read;
        body->userdata = m.userdata;
        body->total = m.size_hint;
    } else if (m.body_set) {
        body->memory = {m.body};
        body->total = m.body.size();
    } else {
        return record(Check::invalid("the message has no body"));
    }
    auto a = std::make_shared<Admission>();
    if (m.from_headers) {
        if (m.read)
            return record(
                Check::invalid("the envelope can be taken from the headers only for a body in memory"));
        OutgoingMessage prepared;
        if (Check c = prepare_message(m.body, m.env, prepared); !c) return record(c);
        a->own(std::move(prepared.envelope));
        body->memory = std::move(prepared.pieces);
        body->total = 0;
        for (std::string_view piece : body->memory) body->total += piece.size();
    } else if (!m.env) {
        return record(Check::invalid("the message has no envelope"));
    } else {
        a->env = m.env;
    }
    if (m.read && m.size_hint) a->size = m.size_hint;
    a->tag = m.tag;
    a->id = ++next_id_;
    return end_call(admit_k(a, body, [this, a, body](smtpc_status st) {
        if (st != SMTPC_OK) return st;
        queue_.push_back(Queued{a->id, a->tag, std::move(*body), false});
        // A full window: drive the connection until a message completes.
        if (engine_.unfinished() >= window_messages_)
            return drive_k([this] { return engine_.unfinished() < window_messages_; },
                           [this](smtpc_status) { return record(SMTPC_OK); });
        return record(SMTPC_OK);
    }));
}

smtpc_status Client::next_result(MessageResult &out, bool &got) {
    got = false;
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    if (queue_.empty()) return record(SMTPC_OK);
    std::uint64_t id = queue_.front().id;
    if (!engine_.complete(id)) {
        // Non-blocking mode: SMTPC_EAGAIN, and the caller asks again once step() has ended the wait.
        smtpc_status st = drive_k([this, id] { return engine_.complete(id); },
                                  [this](smtpc_status) { return record(SMTPC_OK); });
        if (st == SMTPC_EAGAIN) return end_call(st);
    }
    // Every path that ends the engine's work concludes each message; this is a safety net.
    if (!engine_.complete(id)) engine_.close_queue(SMTPC_EINTERNAL, "the message was left unfinished");
    Queued &q = queue_.front();
    out.tag = q.tag;
    out.outcome = engine_.take(id);
    if (q.cancelled) as_cancelled(out.outcome.status, out.outcome.message);
    queue_.pop_front();
    engine_.publish_result(out.outcome.result);
    got = true;
    return record(SMTPC_OK);
}

smtpc_status Client::set_window(std::uint32_t messages, std::uint64_t bytes) {
    if (messages == 0 || bytes == 0)
        return record(Check::invalid("the window must allow at least one message and one byte"));
    window_messages_ = messages;
    engine_.set_window(messages, bytes);
    return record(SMTPC_OK);
}

smtpc_status Client::sendmail(const Envelope &env, std::string_view msg) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    auto body = std::make_shared<BodySource>(BodySource{{msg}, nullptr, nullptr});
    body->total = msg.size();
    auto a = std::make_shared<Admission>();
    a->env = &env;
    return end_call(transact_k(a, body));
}

smtpc_status Client::sendmail_stream(const Envelope &env, smtpc_read_fn read, void *userdata,
                                     std::uint64_t size_hint) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    if (!read) return record(Check::invalid("no read callback"));
    auto body = std::make_shared<BodySource>(BodySource{{}, read, userdata});
    body->total = size_hint;
    auto a = std::make_shared<Admission>();
    a->env = &env;
    if (size_hint) a->size = size_hint;
    return end_call(transact_k(a, body));
}

}  // namespace smtpc::detail

namespace smtpc::detail {

namespace {

// What a password or token may not contain for every mechanism (and PLAIN forbids NUL, RFC 4616).
bool has_byte(std::string_view s, const char *bytes, std::size_t n) {
    return s.find_first_of(std::string_view(bytes, n)) != std::string_view::npos;
}

bool valid_mechanism_name(std::string_view m) {
    if (m.empty() || m.size() > 20) return false;
    for (char c : m)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            return false;
    return true;
}

}  // namespace

smtpc_status Client::set_authzid(std::string_view authzid) {
    if (has_byte(authzid, "\0\r\n", 3))
        return record(Check::invalid("NUL, CR or LF in the authorisation identity"));
    authzid_.assign(authzid);
    return record(SMTPC_OK);
}

bool Client::server_offers_mechanism(std::string_view mechanism) const {
    const std::string *list = engine_.features().params("auth");
    if (!list) return false;
    std::size_t pos = 0;
    while (pos < list->size()) {
        std::size_t end = list->find(' ', pos);
        if (end == std::string::npos) end = list->size();
        if (end > pos && iequals(std::string_view(*list).substr(pos, end - pos), mechanism)) return true;
        pos = end + 1;
    }
    return false;
}

smtpc_status Client::prepare_auth_k(std::string mechanism, Then k) {
    return ehlo_or_helo_if_needed_k([this, mechanism, k = std::move(k)](smtpc_status st) {
        if (st != SMTPC_OK) return then(k, st);
        if (!engine_.does_esmtp() || !engine_.features().has("auth"))
            return then(k, record(SMTPC_ENOTSUPPORTED, "AUTH extension not supported by the server"));
        if (!mechanism.empty() && !server_offers_mechanism(mechanism))
            return then(k, record(SMTPC_EAUTH_MECHANISM,
                                  "the server does not offer " + mechanism +
                                      " (it offers:" + *engine_.features().params("auth") + ")"));
        bool verified = tls_facts_ && tls_facts_->verified;
        if (!credentials_permitted(peer_known_ ? &peer_ : nullptr, verified, allow_insecure_auth_))
            return then(k,
                        record(SMTPC_EAUTH_INSECURE,
                               tls_facts_
                                   ? "refusing to authenticate: the server's TLS certificate was not verified"
                                   : "refusing to authenticate over an unencrypted connection to a remote "
                                     "server (use TLS, or allow it explicitly)"));
        return then(k, record(SMTPC_OK));
    });
}

smtpc_status Client::authenticate_k(std::shared_ptr<std::unique_ptr<SaslMechanism>> mech,
                                    bool initial_response_ok, Then k) {
    if (smtpc_status st = ready_for_command(); st != SMTPC_OK) return then(k, st);
    std::string name((*mech)->name());
    return run_k(engine_.begin_auth(std::move(*mech), initial_response_ok), nullptr,
                 [this, name, k = std::move(k)](smtpc_status st) {
                     if (st == SMTPC_OK) auth_mechanism_ = name;
                     return then(k, st);
                 });
}

smtpc_status Client::login(std::string_view user, std::string_view password) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    // Kept (and wiped when done) while EHLO or STARTTLS may still be waited for.
    auto creds = std::make_shared<std::pair<SecretString, SecretString>>();
    creds->first.assign(user);
    creds->second.assign(password);
    return end_call(prepare_auth_k({}, [this, creds](smtpc_status st) {
        if (st != SMTPC_OK) return st;
        static const char *const preference[] = {"SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN",
                                                 "LOGIN"};
        for (const char *m : preference)
            if (server_offers_mechanism(m))
                return auth_password_k(m, creds->first.view(), creds->second.view(), true);
        return record(SMTPC_EAUTH_MECHANISM, "no suitable authentication mechanism (the server offers:" +
                                                 *engine_.features().params("auth") + ")");
    }));
}

smtpc_status Client::auth_password(std::string_view mechanism, std::string_view user,
                                   std::string_view password, bool initial_response_ok) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    return end_call(auth_password_k(mechanism, user, password, initial_response_ok));
}

smtpc_status Client::auth_password_k(std::string_view mechanism_in, std::string_view user,
                                     std::string_view password, bool initial_response_ok) {
    std::string mechanism = ascii_upper(mechanism_in);
    std::unique_ptr<SaslMechanism> mech;
    if (has_byte(user, "\0", 1) || has_byte(password, "\0", 1))
        return record(Check::invalid("NUL in the user name or password"));
    if (mechanism == "PLAIN") mech = make_plain(authzid_, user, password);
    else if (mechanism == "LOGIN") mech = make_login(user, password);
    else if (mechanism == "CRAM-MD5") mech = make_cram_md5(user, password);
    else if (mechanism == "SCRAM-SHA-1") mech = make_scram("SHA-1", authzid_, user, password);
    else if (mechanism == "SCRAM-SHA-256") mech = make_scram("SHA-256", authzid_, user, password);
    else return record(Check::invalid("unknown password mechanism " + mechanism));
    auto held = std::make_shared<std::unique_ptr<SaslMechanism>>(std::move(mech));
    return prepare_auth_k(mechanism, [this, held, initial_response_ok](smtpc_status st) {
        if (st != SMTPC_OK) return st;
        return authenticate_k(held, initial_response_ok, {});
    });
}

smtpc_status Client::auth_oauth2(std::string_view mechanism_in, std::string_view user, std::string_view token,
                                 smtpc_token_fn fn, void *userdata) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    std::string mechanism = ascii_upper(mechanism_in);
    if (mechanism != "XOAUTH2" && mechanism != "OAUTHBEARER")
        return record(Check::invalid("unknown OAuth mechanism " + mechanism));
    if (token.empty() && !fn) return record(Check::invalid("no token and no token callback"));
    static const char forbidden[] = {'\0', '\r', '\n', '\x01'};
    if (has_byte(user, forbidden, sizeof forbidden))
        return record(Check::invalid("control byte in the user name"));
    auto creds = std::make_shared<std::pair<SecretString, SecretString>>();
    creds->first.assign(user);
    creds->second.assign(token);
    return end_call(prepare_auth_k(mechanism, [this, mechanism, creds, fn, userdata](smtpc_status st) {
        if (st != SMTPC_OK) return st;
        SecretString fetched;
        std::string_view tok = creds->second.view();
        if (tok.empty()) {
            smtpc_auth_response resp{&fetched};
            if (fn(&resp, userdata) != 0) return record(SMTPC_EUSER, "the token callback aborted");
            if (fetched.str().empty()) return record(Check::invalid("the token callback gave no token"));
            tok = fetched.view();
        }
        if (has_byte(tok, forbidden, sizeof forbidden))
            return record(Check::invalid("control byte in the token"));
        const std::string &host = tls_server_name_.empty() ? connected_host_ : tls_server_name_;
        auto held = std::make_shared<std::unique_ptr<SaslMechanism>>(
            make_oauth(mechanism, creds->first.view(), tok, host, connected_port_));
        return authenticate_k(held, true, {});
    }));
}

smtpc_status Client::auth_custom(std::string_view mechanism, smtpc_auth_fn fn, void *userdata,
                                 bool initial_response_ok) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    if (!fn) return record(Check::invalid("no authentication callback"));
    if (!valid_mechanism_name(mechanism)) return record(Check::invalid("invalid SASL mechanism name"));
    std::string name = ascii_upper(mechanism);
    return end_call(prepare_auth_k(name, [this, name, fn, userdata, initial_response_ok](smtpc_status st) {
        if (st != SMTPC_OK) return st;
        auto held = std::make_shared<std::unique_ptr<SaslMechanism>>(make_callback(name, fn, userdata));
        return authenticate_k(held, initial_response_ok, {});
    }));
}

}  // namespace smtpc::detail

namespace smtpc::detail {

// smtplib's send_message(): the envelope comes from the headers where the caller gives none —
// sender from (Resent-)Sender or (Resent-)From, recipients from (Resent-)To, Bcc and Cc — and the
// Bcc and Resent-Bcc fields are never transmitted. The message is sent as it is, minus those fields,
// straight from the caller's buffer.
smtpc_status Client::send_message(const Envelope *given, std::string_view msg) {
    if (smtpc_status st = op_guard(); st != SMTPC_OK) return st;
    OutgoingMessage prepared;
    if (Check c = prepare_message(msg, given, prepared); !c) return record(c);
    auto a = std::make_shared<Admission>();
    a->own(std::move(prepared.envelope));
    auto body = std::make_shared<BodySource>();
    body->memory = std::move(prepared.pieces);
    for (std::string_view piece : body->memory) body->total += piece.size();
    return end_call(transact_k(a, body));
}

}  // namespace smtpc::detail
