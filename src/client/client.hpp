// SPDX-License-Identifier: MIT
// The blocking client: drives the sans-IO engine over a transport stream, with deadlines, tracing
// and the error state the C API reports. One method per C API call; all return an smtpc_status and
// leave the detail in status()/errmsg()/os_error().
#pragma once

#include "../proto/engine.hpp"
#include "../tls/tls_stream.hpp"
#include "../transport/cancel.hpp"
#include "../transport/socket.hpp"

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace smtpc::detail {

class Client final : private TraceSink {
  public:
    explicit Client(smtpc_protocol protocol);
    ~Client();
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;

    smtpc_protocol protocol() const { return engine_.protocol(); }

    // --- error state of the last call
    smtpc_status status() const { return status_; }
    const std::string &errmsg() const { return errmsg_; }
    int os_error() const { return os_error_; }
    smtpc_status record(smtpc_status status, std::string message = {}, int os_error = 0);
    smtpc_status record(const Check &c) { return record(c.status, c.message); }

    // --- options
    smtpc_status set_local_hostname(std::string_view name);
    const std::string &local_hostname() const { return local_hostname_; }
    void set_connect_timeout(std::uint32_t ms) { connect_timeout_ms_ = ms; }
    void set_command_timeout(std::uint32_t ms) { command_timeout_ms_ = ms; }
    smtpc_status set_source_address(std::string_view host, std::uint16_t port);
    void set_pipelining(bool on) { pipelining_ = on; }
    void set_chunking(bool on) { chunking_ = on; }
    smtpc_status set_trace(int level, smtpc_trace_fn fn, void *userdata);
    void set_tls_config(std::shared_ptr<TlsConfig> cfg) { tls_config_ = std::move(cfg); }
    void set_tls_policy(smtpc_tls_policy p) { tls_policy_ = p; }
    smtpc_status set_tls_server_name(std::string_view name);
    void set_tls_skip_verify(bool on) { tls_skip_verify_ = on; }
    void set_progress(smtpc_progress_fn fn, void *userdata) {
        progress_fn_ = fn;
        progress_userdata_ = userdata;
    }

    // --- cancel (smtpc_client_cancel): any thread, signal handlers included
    void cancel() noexcept { cancel_.raise(); }

    // --- AUTH
    void set_allow_insecure_auth(bool on) { allow_insecure_auth_ = on; }
    smtpc_status set_authzid(std::string_view authzid);
    smtpc_status login(std::string_view user, std::string_view password);
    smtpc_status auth_password(std::string_view mechanism, std::string_view user, std::string_view password,
                               bool initial_response_ok);
    smtpc_status auth_oauth2(std::string_view mechanism, std::string_view user, std::string_view token,
                             smtpc_token_fn fn, void *userdata);
    smtpc_status auth_custom(std::string_view mechanism, smtpc_auth_fn fn, void *userdata,
                             bool initial_response_ok);
    const std::string &auth_mechanism() const { return auth_mechanism_; }

    // --- TLS
    smtpc_status starttls();
    bool tls_active() const { return tls_facts_ != nullptr; }
    const TlsFacts *tls_facts() const { return tls_facts_.get(); }
    long tls_verify_result() const { return tls_verify_result_; }

    // --- connection
    smtpc_status connect(std::string_view host, std::uint16_t port);
    bool connected() const { return stream_ != nullptr; }
    smtpc_status quit();
    void close();
    // As close(), keeping the last transaction's result (a close a callback asked for, done after the call).
    void close_keeping_result() {
        abandon_wait();
        drop_connection();
    }

    // --- commands
    smtpc_status helo(std::string_view name);
    smtpc_status ehlo(std::string_view name);
    smtpc_status ehlo_or_helo_if_needed();
    smtpc_status docmd(std::string_view cmd, std::string_view args);
    smtpc_status simple(Cmd cmd, std::string_view verb, std::string_view arg, const char *what);
    smtpc_status mail(std::string_view addr, std::string_view options);
    smtpc_status rcpt(std::string_view addr, std::string_view options);
    smtpc_status data(std::string_view msg);
    smtpc_status send_raw(std::string_view bytes);
    smtpc_status read_reply();
    smtpc_status sendmail(const Envelope &env, std::string_view msg);
    smtpc_status sendmail_stream(const Envelope &env, smtpc_read_fn read, void *userdata,
                                 std::uint64_t size_hint);
    // `env` may be null; what it leaves unset comes from the message's headers.
    smtpc_status send_message(const Envelope *env, std::string_view msg);

    // --- the message queue (smtpc_client_enqueue and friends); sendmail is a queue of one
    struct MessageSpec {
        const Envelope *env = nullptr;  // null: none set
        bool from_headers = false;      // send_message's rules
        bool body_set = false;
        std::string_view body;         // borrowed until the result is taken
        smtpc_read_fn read = nullptr;  // or the body from a reader
        void *userdata = nullptr;
        std::uint64_t size_hint = 0;
        std::uint64_t tag = 0;
    };
    struct MessageResult {
        std::uint64_t tag = 0;
        Engine::Outcome outcome;
    };
    smtpc_status enqueue(const MessageSpec &m);
    // `got` is false when nothing is queued.
    smtpc_status next_result(MessageResult &out, bool &got);
    smtpc_status set_window(std::uint32_t messages, std::uint64_t bytes);
    std::size_t queued() const { return queue_.size(); }
    std::size_t in_flight() const { return engine_.in_flight(); }
    // Called after each block a reader gives: true aborts the message (a close or free asked for by
    // a callback, see src/capi/guard.hpp).
    void set_stop_check(bool (*fn)(const void *), const void *arg) {
        stop_check_ = fn;
        stop_arg_ = arg;
    }

    const Engine &engine() const { return engine_; }

    // --- non-blocking mode (smtpc_client_set_nonblocking): every operation above is the same state
    // machine in both modes. In blocking mode its waits wait; in non-blocking mode a wait that would
    // block returns SMTPC_EAGAIN and step() resumes it when fd() is ready for wants() or the deadline
    // passed. One operation at a time: another is SMTPC_ESTATE until step() ends the one in progress.
    smtpc_status set_nonblocking(bool on);
    bool nonblocking() const { return nonblocking_; }
    bool op_pending() const { return wait_ != Wait::None; }
    int fd() const;
    int wants() const;  // SMTPC_WANT_READ | SMTPC_WANT_WRITE; 0 with no operation in progress
    std::int64_t deadline_ms() const;
    smtpc_status step();

  private:
    // What an operation does once the wait it started is over, given the status so far. Operations
    // that wait are written as a chain of these: in blocking mode the chain runs before the call
    // returns, in non-blocking mode step() runs the rest of it.
    using Then = std::function<smtpc_status(smtpc_status)>;
    static smtpc_status then(const Then &k, smtpc_status st) { return k ? k(st) : st; }
    enum class Wait { None, Io, Connect, Handshake };
    // A message being admitted. Its envelope is the caller's, borrowed while the admission runs
    // within the call; own() copies it before the admission may go on after the call returned
    // (EHLO or STARTTLS first, in non-blocking mode), or takes one made here.
    struct Admission {
        const Envelope *env = nullptr;
        std::optional<Envelope> owned;
        void own() {
            if (!owned) owned = *env;
            env = &*owned;
        }
        void own(Envelope &&e) {
            owned = std::move(e);
            env = &*owned;
        }
        std::optional<std::uint64_t> size;
        std::uint64_t id = 0;
        std::uint64_t tag = 0;
    };
    // Where the message body comes from while the engine wants it.
    struct BodySource {
        std::vector<std::string_view> memory;  // the message in memory, possibly in pieces
        smtpc_read_fn read = nullptr;
        void *userdata = nullptr;
        std::uint64_t total = 0;     // for the progress callback: the caller's bytes, 0 when unknown
        std::uint64_t taken = 0;     // bytes taken from the caller so far
        std::uint64_t reported = 0;  // bytes last reported to the progress callback
    };

    void trace(smtpc_trace_kind kind, std::string_view text) override;
    void info(const std::string &text) { trace(SMTPC_TRACE_INFO, text); }
    smtpc_status ready_for_command();
    std::string hostname_without_lookup() const;
    // An operation is in progress (non-blocking mode): no other may start.
    smtpc_status op_guard();
    // A public call's status: SMTPC_EAGAIN is recorded as such.
    smtpc_status end_call(smtpc_status st);
    // Waits: the engine until it is done or `until` holds (body from `body`, else from the queue),
    // or the connector. `k` runs when the wait is over.
    smtpc_status await_io(BodySource *body, const Deadline *fixed, std::function<bool()> until, Then k);
    // await_io() for one operation: `k` gets the engine's outcome, recorded (as pump() did).
    smtpc_status await_pump(BodySource *body, const Deadline *fixed, Then k);
    smtpc_status resume();
    // Forgets the operation in progress (the connection is being closed).
    void abandon_wait();
    // One pass of the I/O loop: true when the wait is over, false when it needs wait_events_.
    bool pump_step(bool may_wait);
    bool read_some_step(const Deadline &deadline);
    bool would_wait(short events, const char *timeout_message);
    smtpc_status run_k(const Check &started, BodySource *body, Then k);
    smtpc_status simple_k(Cmd cmd, std::string_view verb, std::string_view arg, const char *what, Then k);
    smtpc_status helo_k(std::string_view name, Then k);
    smtpc_status ehlo_k(std::string_view name, Then k);
    smtpc_status hello_if_needed_k(Then k);
    smtpc_status ehlo_or_helo_if_needed_k(Then k);
    smtpc_status apply_tls_policy_k(Then k);
    smtpc_status starttls_k(Then k);
    smtpc_status prepare_auth_k(std::string mechanism, Then k);
    smtpc_status authenticate_k(std::shared_ptr<std::unique_ptr<SaslMechanism>> mech,
                                bool initial_response_ok, Then k);
    smtpc_status auth_password_k(std::string_view mechanism, std::string_view user, std::string_view password,
                                 bool initial_response_ok);
    smtpc_status drive_k(std::function<bool()> until, Then k);
    smtpc_status admit_k(std::shared_ptr<Admission> a, std::shared_ptr<BodySource> body, Then k);
    smtpc_status admit_checked(const Admission &a, const BodySource &body);
    smtpc_status transact_k(std::shared_ptr<Admission> a, std::shared_ptr<BodySource> body);
    smtpc_status hello_if_needed();
    // EHLO if needed, then the checks every AUTH call makes before sending anything.
    smtpc_status prepare_auth(std::string_view mechanism);
    bool server_offers_mechanism(std::string_view mechanism) const;
    smtpc_status authenticate(std::unique_ptr<SaslMechanism> mech, bool initial_response_ok);
    smtpc_status apply_tls_policy();
    smtpc_status tls_required_guard();
    smtpc_status plaintext_guard();
    bool tls_required_now() const;
    smtpc_tls_policy effective_tls_policy() const;
    smtpc_status start_tls_on_stream_k(const Deadline &deadline, Then k);
    smtpc_status finish_tls(HandshakeResult &hs, TlsVerify mode);
    std::shared_ptr<TlsConfig> tls_config();
    // "Messages are queued": every call that talks to the server outside the queue.
    smtpc_status queue_busy();
    void supply_body(BodySource &body);
    void drop_connection();
    std::string hello_name(std::string_view name);
    Deadline deadline_after(std::uint32_t ms) const { return Deadline::after_ms(ms).cancellable(&cancel_); }

    Engine engine_;
    std::unique_ptr<Stream> stream_;
    std::unique_ptr<char[]> buffer_;  // receive and message-source buffer (io_buffer())
    char *io_buffer();

    smtpc_status status_ = SMTPC_OK;
    std::string errmsg_;
    int os_error_ = 0;

    std::string local_hostname_;
    std::uint32_t connect_timeout_ms_ = 30000;
    std::uint32_t command_timeout_ms_ = 300000;
    std::string source_host_;
    std::uint16_t source_port_ = 0;
    bool pipelining_ = true;
    bool chunking_ = true;
    int trace_level_ = 0;
    smtpc_trace_fn trace_fn_ = nullptr;
    void *trace_userdata_ = nullptr;

    std::shared_ptr<TlsConfig> tls_config_;
    smtpc_tls_policy tls_policy_ = SMTPC_TLS_AUTO;
    std::string tls_server_name_;
    bool tls_skip_verify_ = false;
    std::string connected_host_;  // host given to connect, for SNI and certificate checks
    std::string connected_path_;  // the Unix socket connected to (TLS sessions are saved per peer)
    std::unique_ptr<TlsFacts> tls_facts_;
    long tls_verify_result_ = 0;
    bool require_tls_for_message_ = false;  // REQUIRETLS: TLS policy REQUIRED for this transaction
    bool starttls_refused_ = false;  // opportunistic policy: the server refused STARTTLS on this connection
    std::uint16_t connected_port_ = 0;
    // The peer's address, read once at connect: the TLS and AUTH policies ask for it on every
    // transaction, and after a reset getpeername() fails (a loopback peer would then look remote).
    sockaddr_storage peer_{};
    bool peer_known_ = false;

    // The message queue: one entry per message whose result was not taken, in order.
    struct Queued {
        std::uint64_t id = 0;
        std::uint64_t tag = 0;
        BodySource body;
        bool cancelled = false;  // concluded by smtpc_client_cancel(): its status says so
    };
    std::deque<Queued> queue_;

    // The wait in progress (see await_io).
    bool nonblocking_ = false;
    Wait wait_ = Wait::None;
    bool abandoned_ = false;  // a close abandoned the operation in progress: the next step says so
    Then wait_then_;
    BodySource *wait_body_ = nullptr;
    std::function<bool()> wait_until_;
    Deadline wait_deadline_;
    bool wait_fixed_ = false;
    std::uint64_t wait_step_ = 0;
    short wait_events_ = 0;  // POLLIN/POLLOUT the wait needs
    Connector connector_;
    std::unique_ptr<TlsHandshake> handshake_;  // holds the socket while the handshake runs
    HandshakeResult handshake_result_;
    ConnectResult connect_result_;
    std::shared_ptr<BodySource> direct_body_;  // smtpc_client_data()'s message while it is sent
    std::uint64_t next_id_ = 0;
    std::uint32_t window_messages_ = 32;
    bool (*stop_check_)(const void *) = nullptr;
    const void *stop_arg_ = nullptr;

    smtpc_progress_fn progress_fn_ = nullptr;
    void *progress_userdata_ = nullptr;
    CancelSignal cancel_;

    bool allow_insecure_auth_ = false;
    std::string authzid_;
    std::string auth_mechanism_;  // after a successful AUTH on this connection
};

}  // namespace smtpc::detail
