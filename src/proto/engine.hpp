// SPDX-License-Identifier: MIT
// The sans-IO SMTP/LMTP session engine. The one place that holds the session state machine.
//
// It never touches a socket or a clock: an operation is started with begin_*(), then the driver
// pumps it by asking want() and answering with output()/output_written(), body()/body_end(),
// received()/received_eof() or failed(), until want() is Done; status() then tells the outcome.
//
// Commands whose replies are outstanding sit in one queue and replies are matched to them in order,
// so pipelined batches (RFC 2920) and one-at-a-time exchanges are the same code.
#pragma once

#include "../auth/sasl.hpp"
#include "data_encoder.hpp"
#include "features.hpp"
#include "reply.hpp"
#include "transaction.hpp"

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace smtpc::detail {

class TraceSink {
  public:
    virtual void trace(smtpc_trace_kind kind, std::string_view text) = 0;

  protected:
    ~TraceSink() = default;
};

enum class Cmd : std::uint8_t {
    Greeting,
    Helo,
    Ehlo,
    StartTls,
    Auth,
    AuthCancel,
    Mail,
    Rcpt,
    Data,
    Bdat,
    DataEnd,
    Rset,
    Quit,
    Other
};

// Message output is gathered up to this size before it is written (one write per body block, the
// terminator with the last one). With CHUNKING it is also the size of a BDAT chunk.
constexpr std::size_t kBodyWriteSize = 64 * 1024;

// At most this many 334 challenges in one AUTH exchange (as smtplib's _MAXCHALLENGE).
constexpr int kMaxAuthChallenges = 5;

class Engine {
  public:
    enum class Want { Write, Read, Body, Done };

    explicit Engine(smtpc_protocol protocol, ReplyLimits limits = {});

    smtpc_protocol protocol() const { return protocol_; }
    void set_trace(TraceSink *sink) { trace_ = sink; }

    // --- connection lifecycle
    // A new connection is open: forget the previous session and wait for the greeting.
    void begin_connection();
    // The connection is gone: forget HELO/EHLO state and features. The last result is kept.
    void end_connection();
    // Forget the last transaction's result (explicit close or quit by the caller).
    void clear_result() { result_.reset(); }

    // --- operations; each returns a failed Check, having queued nothing, when it cannot start
    // `rcpt_address` names the recipient of a RCPT command in the result.
    Check begin_command(Cmd cmd, std::string line, std::string_view rcpt_address = {});
    Check begin_data();
    // Raw bytes out with no reply expected (smtplib's send()/putcmd()); the caller vouches for them.
    Check begin_raw(std::string_view bytes);
    // Wait for one reply to something sent raw (smtplib's getreply()).
    Check begin_read_reply();
    // AUTH with `mech`; credentials never appear in the trace.
    Check begin_auth(std::unique_ptr<SaslMechanism> mech, bool initial_response_ok);
    // With `allow_chunking` and a server that offers CHUNKING the message goes in BDAT chunks (RFC 3030):
    // no 354 wait, and with PIPELINING the first chunk goes with MAIL and the RCPTs.
    // `facts` describes a message in memory, from which BODY and SMTPUTF8 may be chosen (extensions.hpp).
    Check begin_sendmail(const Envelope &env, std::optional<std::uint64_t> size, bool allow_pipelining,
                         bool allow_chunking = false, const BodyFacts &facts = {});

    // --- the message queue (sendmail is a queue of one message)
    // Checks `env` against the session (as begin_sendmail) and appends the message with the caller's
    // `id`; nothing is queued for output on failure. Its commands go out as soon as the pipelining
    // rules and the window allow: with DATA, after the previous message's 354 (behind its final dot);
    // with BDAT, behind the previous message's last chunk, up to the window. `body_size` (0: unknown)
    // counts towards the window's bytes.
    Check enqueue(std::uint64_t id, const Envelope &env, std::optional<std::uint64_t> size,
                  bool allow_pipelining, bool allow_chunking, const BodyFacts &facts = {},
                  std::uint64_t body_size = 0);
    // At most `messages` messages (>= 1) in flight, and no new one started while the bodies of those
    // in flight add up to `bytes` or more.
    void set_window(std::size_t messages, std::uint64_t bytes) {
        window_messages_ = messages ? messages : 1;
        window_bytes_ = bytes ? bytes : 1;
    }
    // Messages queued or in flight (without a result yet), and of those, in flight.
    std::size_t unfinished() const { return unfinished_; }
    std::size_t in_flight() const { return in_flight_; }
    // The message whose body want() == Body asks for.
    std::uint64_t body_id() const;
    // The outcome of one message, once complete.
    struct Outcome {
        std::uint64_t id = 0;
        smtpc_message_state state = SMTPC_MESSAGE_NOT_SENT;
        smtpc_status status = SMTPC_OK;
        std::string message;
        std::shared_ptr<Result> result;
        std::optional<Reply>
            final_reply;  // the reply that decided it (refusal, or the reply to the end of data)
    };
    // Whether message `id` is complete; take() removes and returns it (messages are kept in order, so
    // taking the oldest is cheap).
    bool complete(std::uint64_t id) const;
    bool oldest_complete(std::uint64_t &id) const;
    // Messages concluded so far, and whether message `id` was concluded after `mark` such messages.
    std::uint64_t conclusions() const { return conclusions_; }
    bool concluded_since(std::uint64_t id, std::uint64_t mark) const;
    Outcome take(std::uint64_t id);
    // Makes message `id`'s per-recipient result the session's last result (result()).
    void publish_result(std::uint64_t id);
    void publish_result(std::shared_ptr<Result> r) { result_ = std::move(r); }
    // The caller closes the connection with messages unfinished: each is concluded with `status`
    // (not sent, or delivery unknown when its end of data went out).
    void close_queue(smtpc_status status, const std::string &message);

    // MAIL FROM / RCPT TO lines with smtplib's rules: parameters only for an ESMTP server, SMTPUTF8
    // only when offered, a non-ASCII address only with SMTPUTF8.
    Check build_mail(const Address &sender, std::vector<std::string> options, std::string &line) const;
    Check build_rcpt(const Address &rcpt, const std::vector<std::string> &options, bool utf8,
                     std::string &line) const;

    // --- pumping
    Want want() const;
    std::string_view output() const { return std::string_view(out_).substr(out_pos_); }
    void output_written(std::size_t n);
    bool expects_reply() const { return !pending_.empty(); }
    void body(const char *data, std::size_t len);
    void body_end();
    void body_aborted(std::string why);
    void received(const char *data, std::size_t len);
    void received_eof();
    // Between operations the server sent `data` (and then closed the connection when `closed`): it
    // can only be saying goodbye. A complete reply is kept as last_reply(); the outcome is
    // SMTPC_ECLOSING for 421, SMTPC_EDISCONNECTED for another reply followed by the close, else
    // SMTPC_EPROTOCOL, and the connection must be closed.
    void received_while_idle(const char *data, std::size_t len, bool closed);
    // The transport failed (timeout, reset, end of stream, ...): the operation ends with `status`,
    // unless the message was already sent, in which case its fate is unknown, or the transaction's
    // outcome was already decided (a refusal), which then stands.
    void failed(smtpc_status status, std::string message);
    // Bumped whenever a new step starts (a command batch is queued, a body block is supplied): the
    // driver gives each step a fresh deadline.
    std::uint64_t step() const { return step_; }

    // --- outcome of the finished operation
    smtpc_status status() const { return status_; }
    const std::string &message() const { return message_; }
    // The connection must be closed: fatal error, 421, or QUIT answered.
    bool must_close() const { return close_; }

    // --- session state
    const Reply *last_reply() const { return last_reply_ ? &*last_reply_ : nullptr; }
    const Reply *helo_reply() const { return helo_reply_ ? &*helo_reply_ : nullptr; }
    const Reply *ehlo_reply() const { return ehlo_reply_ ? &*ehlo_reply_ : nullptr; }
    bool does_esmtp() const { return does_esmtp_; }
    const Features &features() const { return features_; }
    const Result *result() const { return result_.get(); }

  private:
    enum class Op { None, Greeting, Command, Raw, Data, Sendmail, Auth };
    struct Txn;
    struct Pending {
        Cmd cmd;
        std::size_t index;          // recipient index for Rcpt and DataEnd
        bool internal;              // sent by the library on its own (RSET after a failure)
        std::uint64_t sent_at = 0;  // the command is on the wire once this many bytes were written
        Txn *txn = nullptr;         // the message this command belongs to (queue mode)
    };

    void start(Op op);
    // `shown` replaces the line in the trace (credentials).
    void queue(Cmd cmd, std::string_view line, std::size_t index = 0, bool internal = false,
               std::string_view shown = {}, Txn *txn = nullptr);
    void finish(smtpc_status status, std::string message = {});
    void fatal(smtpc_status status, std::string message);
    void on_reply(const Pending &p, Reply &&r);
    void on_command_reply(const Pending &p, const Reply &r);
    void on_data_reply(const Pending &p, const Reply &r);
    void on_sendmail_reply(const Pending &p, const Reply &r);
    void on_final_reply(Txn &t, const Pending &p, const Reply &r);
    void on_data_final_reply(const Pending &p, const Reply &r);
    void on_auth_reply(const Pending &p, const Reply &r);
    void cancel_auth(smtpc_status status, std::string message);
    // The AUTH exchange is over or abandoned: drop the mechanism and wipe output that held an AUTH line.
    void forget_credentials();
    void after_rcpts(Txn &t);
    void abandon(Txn &t, smtpc_status status, std::string message, const Reply &decisive);
    // Records the verdict "every recipient refused" once the last RCPT reply is in and none was accepted.
    void decide_if_all_refused(Txn &t);
    // A refused transaction whose replies are all in: RSET, unless a later message already went out
    // (its end of data or a later message's RSET closes the transaction), then the verdict.
    void end_refused(Txn &t);
    // BDAT: the gathered chunk goes to the output behind its BDAT line (LAST: the end of the message).
    void flush_chunk(bool last, Txn *t);
    // BDAT: a refusal decided the transaction; no more chunks (RFC 3030 section 2).
    void stop_chunks(Txn &t);
    // Queue mode: the message is complete; then the next ones may start, or the operation ends.
    void finish_txn(Txn &t, smtpc_status status, std::string message);
    void conclude(Txn &t, smtpc_status status, std::string message);
    // The connection is lost (or closed) with `t` unfinished: its verdict stands, else delivery is
    // unknown when its end of data went out, else it was not sent.
    void lose(Txn &t, smtpc_status status, const std::string &message);
    // Concludes every unfinished message as lost; with `first_as_is`, the oldest gets `status` as is.
    void lose_all(smtpc_status status, const std::string &message, bool first_as_is);
    // `t` failed in a way that ends the connection; the others are lost with `rest`.
    void txn_fatal(Txn &t, smtpc_status status, std::string message, smtpc_status rest,
                   const std::string &rest_message);
    // What is in flight (started, not done; in_flight_ counts them): the last of them, their bodies'
    // bytes.
    struct Flight {
        const Txn *last = nullptr;
        std::uint64_t bytes = 0;
    };
    Flight flight() const;
    // What `t` counts towards the window's bytes: its declared size, or what is encoded if more.
    static std::uint64_t window_bytes_of(const Txn &t);
    bool can_start(const Flight &in_flight, const Txn &next) const;
    // `prev`: the last message in flight before `t`, if any.
    void start_txn(Txn &t, const Txn *prev);
    // Starts what may start, and ends the operation when nothing is left.
    void advance();
    Txn *find(std::uint64_t id) const;
    std::size_t accepted_count(const Result &r) const;
    // True while the message is being sent: after 354, until the final dot is on the wire.
    bool sending_body() const;
    // A reply that began while the message was still being sent.
    void on_early_reply(const Reply &r);
    // Bytes after the reply that ended the operation.
    void on_trailing_data(std::string_view extra);
    std::string describe(const Reply &r) const;

    smtpc_protocol protocol_;
    TraceSink *trace_ = nullptr;
    ReplyParser parser_;

    // Operation in progress.
    Op op_ = Op::None;
    bool done_ = true;
    bool close_ = false;
    smtpc_status status_ = SMTPC_OK;
    std::string message_;
    std::deque<Pending> pending_;
    WipingString out_;  // wiping allocator: growth never leaves an AUTH line in freed memory
    std::size_t out_pos_ = 0;
    std::string verb_;  // first word of the command in progress, for messages
    bool awaiting_body_ = false;
    bool reply_locked_ = false;  // last_reply_ holds the reply that decided the outcome
    bool early_reply_ = false;   // the reply being parsed began before the message was all sent
    std::uint64_t step_ = 0;
    std::uint64_t queued_bytes_ = 0;   // output queued on this connection so far
    std::uint64_t written_bytes_ = 0;  // output written on this connection so far
    DataEncoder encoder_;
    bool wipe_output_ = false;  // the output holds credentials: wipe it once written

    // AUTH exchange in progress.
    std::unique_ptr<SaslMechanism> auth_;
    int auth_challenges_ = 0;
    SecretString auth_deferred_;  // initial response too long for the AUTH line, sent after the first 334
    smtpc_status auth_failure_ = SMTPC_OK;
    std::string auth_failure_message_;

    // One message of the queue (sendmail's, or the batch API's): its commands, send state and outcome.
    struct Txn {
        std::uint64_t id = 0;
        std::string mail_line;
        std::vector<std::string> rcpt_lines;
        std::shared_ptr<Result> result;
        bool pipelined = false;
        bool chunking = false;  // the message goes with BDAT
        bool binary = false;    // BODY=BINARYMIME: BDAT chunks carry the message as is
        bool started = false;   // its first command is queued
        bool mail_failed = false;
        bool body_done = false;       // its end of data is queued
        bool body_stopped = false;    // BDAT: refused while its chunks were going out; no more
        bool rset_queued = false;     // its own RSET (after a refusal) is queued
        bool reply_locked = false;    // the reply that decided the outcome is kept
        bool lmtp_expanded = false;   // LMTP after BDAT LAST: one reply per accepted recipient now expected
        std::size_t outstanding = 0;  // its commands still waiting for a reply
        std::size_t final_expected = 0;
        std::size_t final_received = 0;
        std::uint64_t body_size = 0;   // declared, for the window (0: unknown)
        std::uint64_t body_bytes = 0;  // encoded so far
        // Decided failure, reported once RSET is answered (or the server closed).
        smtpc_status verdict = SMTPC_OK;
        std::string verdict_message;
        std::optional<Reply> decisive;
        // Outcome, once done.
        bool done = false;
        std::uint64_t concluded_seq = 0;  // conclusions_ when it was concluded
        smtpc_message_state state = SMTPC_MESSAGE_NOT_SENT;
        smtpc_status status = SMTPC_OK;
        std::string message;
    };
    std::deque<std::unique_ptr<Txn>> txns_;  // in order: done ones wait there until taken
    std::size_t unfinished_ = 0;             // of txns_, not done
    std::size_t in_flight_ = 0;              // of txns_, started and not done
    std::uint64_t conclusions_ = 0;          // messages concluded so far
    Txn *body_txn_ = nullptr;                // the message whose body is wanted (queue mode)
    Txn *last_finished_ = nullptr;           // the message that ended the operation, for trailing data
    std::size_t window_messages_ = 32;
    std::uint64_t window_bytes_ = 1024 * 1024;
    // Low-level DATA (smtpc_client_data).
    std::size_t data_final_expected_ = 0;
    std::size_t data_final_received_ = 0;
    std::string chunk_;  // BDAT: encoded message bytes gathered for the next chunk

    // Session.
    std::optional<Reply> last_reply_;
    std::optional<Reply> helo_reply_;
    std::optional<Reply> ehlo_reply_;
    bool does_esmtp_ = false;
    Features features_;
    std::shared_ptr<Result> result_;
};

}  // namespace smtpc::detail
