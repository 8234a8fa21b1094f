// SPDX-License-Identifier: MIT
#include "engine.hpp"

#include "../auth/base64.hpp"

#include <openssl/crypto.h>

namespace smtpc::detail {

namespace {

constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);

bool positive(const Reply &r) { return r.code >= 200 && r.code < 300; }
bool rcpt_accepted(const Reply &r) { return r.code == 250 || r.code == 251; }  // as smtplib

}  // namespace

Engine::Engine(smtpc_protocol protocol, ReplyLimits limits) : protocol_(protocol), parser_(limits) {
    parser_.set_line_observer([this](std::string_view line) {
        if (trace_) trace_->trace(SMTPC_TRACE_RECV, line);
    });
}

namespace {

// Server text made safe for an error message: control and 8-bit bytes escaped, length capped.
std::string printable(std::string_view text) {
    static const char hex[] = "0123456789abcdef";
    std::string s;
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if (s.size() > 300) {
            s.append("...");
            break;
        }
        if (c == '\n') s.append(" / ");
        else if (c < 0x20 || c >= 0x7f) s.append("\\x").append(1, hex[c >> 4]).append(1, hex[c & 15]);
        else s.push_back(ch);
    }
    return s;
}

}  // namespace

std::string Engine::describe(const Reply &r) const {
    std::string s = std::to_string(r.code);
    if (!r.text.empty()) s.append(" ").append(printable(r.text));
    return s;
}

void Engine::begin_connection() {
    end_connection();
    parser_.reset();
    close_ = false;
    last_reply_.reset();
    queued_bytes_ = written_bytes_ = 0;
    start(Op::Greeting);
    pending_.push_back({Cmd::Greeting, 0, false, 0});
    ++step_;
}

void Engine::end_connection() {
    forget_credentials();  // an AUTH line dropped unsent is wiped too
    helo_reply_.reset();
    ehlo_reply_.reset();
    does_esmtp_ = false;
    features_.clear();
    pending_.clear();
    out_.clear();
    out_pos_ = 0;
    awaiting_body_ = false;
    chunk_.clear();
}

void Engine::start(Op op) {
    forget_credentials();
    auth_challenges_ = 0;
    auth_failure_ = SMTPC_OK;
    auth_failure_message_.clear();
    queued_bytes_ -= out_.size() - out_pos_;  // output dropped unwritten is not on the wire
    op_ = op;
    done_ = false;
    status_ = SMTPC_OK;
    message_.clear();
    pending_.clear();
    out_.clear();
    out_pos_ = 0;
    awaiting_body_ = false;
    reply_locked_ = false;
    early_reply_ = false;
    send_ = Send{};
    chunk_.clear();
    encoder_.reset();
}

void Engine::queue(Cmd cmd, std::string_view line, std::size_t index, bool internal, std::string_view shown) {
    out_.append(line);
    queued_bytes_ += line.size();
    pending_.push_back({cmd, index, internal, queued_bytes_});
    ++step_;
    if (trace_) trace_->trace(SMTPC_TRACE_SEND, shown.empty() ? line : shown);
}

void Engine::finish(smtpc_status status, std::string message) {
    done_ = true;
    status_ = status;
    message_ = std::move(message);
}

void Engine::fatal(smtpc_status status, std::string message) {
    close_ = true;
    pending_.clear();
    awaiting_body_ = false;
    finish(status, std::move(message));
}

Check Engine::build_mail(const Address &sender, std::vector<std::string> options, std::string &line) const {
    if (!does_esmtp_) options.clear();  // as smtplib: parameters only for an ESMTP server
    bool utf8 = false;
    for (const auto &o : options) utf8 = utf8 || option_is(o, "SMTPUTF8");
    if (utf8 && !features_.has("smtputf8"))
        return {SMTPC_ENOTSUPPORTED, "SMTPUTF8 requested but the server does not offer it"};
    if (sender.non_ascii && !utf8)
        return Check::invalid("a non-ASCII address needs the SMTPUTF8 mail option");
    return make_path_command("MAIL FROM:", sender, options, line);
}

Check Engine::build_rcpt(const Address &rcpt, const std::vector<std::string> &options, bool utf8,
                         std::string &line) const {
    if (rcpt.non_ascii && !utf8) return Check::invalid("a non-ASCII address needs the SMTPUTF8 mail option");
    static const std::vector<std::string> none;
    return make_path_command("RCPT TO:", rcpt, does_esmtp_ ? options : none, line);
}

Check Engine::begin_command(Cmd cmd, std::string line, std::string_view rcpt_address) {
    start(Op::Command);
    verb_ = line.substr(0, line.find_first_of(" \r"));
    std::size_t index = 0;
    if (cmd == Cmd::Mail) {
        result_.emplace();
    } else if (cmd == Cmd::Rcpt) {
        if (!result_) result_.emplace();
        result_->recipients.push_back(
            RecipientResult{std::string(rcpt_address), SMTPC_RCPT_NOT_ATTEMPTED, {}, {}});
        index = result_->recipients.size() - 1;
    }
    queue(cmd, line, index);
    return {};
}

Check Engine::begin_raw(std::string_view bytes) {
    start(Op::Raw);
    verb_ = "raw send";
    out_.append(bytes);
    queued_bytes_ += bytes.size();
    ++step_;
    if (trace_) trace_->trace(SMTPC_TRACE_SEND, bytes);
    return {};
}

Check Engine::begin_read_reply() {
    start(Op::Command);
    verb_ = "command";
    pending_.push_back({Cmd::Other, 0, false, queued_bytes_});
    ++step_;
    return {};
}

Check Engine::begin_data() {
    start(Op::Data);
    verb_ = "DATA";
    queue(Cmd::Data, "DATA\r\n");
    return {};
}

// RFC 6531: an envelope with a non-ASCII address goes with SMTPUTF8, chosen here when the caller did
// not (as smtplib's send_message() does), with BODY=8BITMIME unless the caller set BODY. A server
// that does not offer SMTPUTF8 cannot take the message: refused before anything is sent.
Check Engine::add_international_options(const Envelope &env, std::vector<std::string> &options) const {
    const Address *wide = env.sender.non_ascii ? &env.sender : nullptr;
    for (const auto &r : env.recipients)
        if (!wide && r.non_ascii) wide = &r;
    if (!wide) return {};
    auto has = [&](std::string_view keyword) {
        for (const auto &o : options)
            if (option_is(o, keyword)) return true;
        return false;
    };
    if (has("SMTPUTF8")) return {};  // the caller's own choice, checked by build_mail()
    if (!does_esmtp_ || !features_.has("smtputf8"))
        return {SMTPC_ENOTSUPPORTED,
                "the address " + (wide->original.empty() ? wide->value : wide->original) +
                    " is not ASCII and needs SMTPUTF8 (RFC 6531), which the server does not offer"};
    options.emplace_back("SMTPUTF8");
    if (!has("BODY")) options.emplace_back("BODY=8BITMIME");
    return {};
}

Check Engine::begin_sendmail(const Envelope &env, std::optional<std::uint64_t> size, bool allow_pipelining,
                             bool allow_chunking) {
    if (env.recipients.empty()) return Check::invalid("no recipients");
    std::vector<std::string> options;
    if (size && features_.has("size")) options.push_back("SIZE=" + std::to_string(*size));
    options.insert(options.end(), env.mail_options.begin(), env.mail_options.end());
    if (Check c = add_international_options(env, options); !c) return c;
    std::string mail_line;
    if (Check c = build_mail(env.sender, options, mail_line); !c) return c;
    bool utf8 = false;
    for (const auto &o : options) utf8 = utf8 || option_is(o, "SMTPUTF8");
    utf8 = utf8 && does_esmtp_;
    std::vector<std::string> rcpt_lines(env.recipients.size());
    for (std::size_t i = 0; i < env.recipients.size(); ++i)
        if (Check c = build_rcpt(env.recipients[i], env.rcpt_options, utf8, rcpt_lines[i]); !c) return c;

    start(Op::Sendmail);
    result_.emplace();
    result_->recipients.reserve(env.recipients.size());
    for (const auto &r : env.recipients)
        result_->recipients.push_back(RecipientResult{r.original, SMTPC_RCPT_NOT_ATTEMPTED, {}, {}});
    send_.rcpt_lines = std::move(rcpt_lines);
    send_.pipelined = allow_pipelining && does_esmtp_ && features_.has("pipelining");
    send_.chunking = allow_chunking && does_esmtp_ && features_.has("chunking");
    encoder_.set_chunked(send_.chunking);
    queue(Cmd::Mail, mail_line);
    if (send_.pipelined) {
        for (std::size_t i = 0; i < send_.rcpt_lines.size(); ++i) queue(Cmd::Rcpt, send_.rcpt_lines[i], i);
        // BDAT needs no 354: the message follows the RCPTs in the same write (RFC 3030 section 4.2).
        if (send_.chunking) awaiting_body_ = true;
        else queue(Cmd::Data, "DATA\r\n");
    }
    return {};
}

Engine::Want Engine::want() const {
    if (done_) return Want::Done;
    // Body blocks smaller than a socket-sized write are gathered first: a short message goes out
    // with its terminator in one write rather than two.
    // Without PIPELINING a BDAT chunk's reply comes before anything else is sent.
    bool body_wanted = awaiting_body_ && !(send_.chunking && !send_.pipelined && !pending_.empty());
    if (body_wanted && out_.size() - out_pos_ < kBodyWriteSize) return Want::Body;
    if (out_pos_ < out_.size()) return Want::Write;
    if (body_wanted) return Want::Body;
    if (op_ == Op::Raw) return Want::Done;  // raw bytes written, no reply expected
    return Want::Read;
}

void Engine::output_written(std::size_t n) {
    if (wipe_output_) OPENSSL_cleanse(&out_[out_pos_], n);
    out_pos_ += n;
    written_bytes_ += n;
    if (out_pos_ >= out_.size()) {
        out_.clear();
        out_pos_ = 0;
    }
}

void Engine::body(const char *data, std::size_t len) {
    if (send_.chunking) {
        // Sized from the encoded bytes: the BDAT count must be the bytes that follow it.
        encoder_.encode(data, len, chunk_);
        ++step_;
        if (chunk_.size() >= kBodyWriteSize) flush_chunk(false);
        return;
    }
    std::size_t before = out_.size();
    encoder_.encode(data, len, out_);
    queued_bytes_ += out_.size() - before;
    ++step_;
    if (trace_ && out_.size() > before)
        trace_->trace(SMTPC_TRACE_DATA, std::string_view(out_).substr(before));
}

void Engine::flush_chunk(bool last) {
    std::string line = "BDAT " + std::to_string(chunk_.size()) + (last ? " LAST\r\n" : "\r\n");
    out_.append(line);
    out_.append(chunk_);
    queued_bytes_ += line.size() + chunk_.size();
    if (trace_) {
        trace_->trace(SMTPC_TRACE_SEND, line);
        if (!chunk_.empty()) trace_->trace(SMTPC_TRACE_DATA, chunk_);
    }
    chunk_.clear();
    ++step_;
    if (!last) pending_.push_back({Cmd::Bdat, kNoIndex, false, queued_bytes_});
}

void Engine::stop_chunks() {
    awaiting_body_ = false;
    chunk_.clear();
}

void Engine::body_end() {
    if (send_.chunking) {
        encoder_.finish(chunk_);
        flush_chunk(true);
        awaiting_body_ = false;
        // LMTP: the RCPT replies may not be in yet; the per-recipient replies are counted when the
        // first reply to BDAT LAST arrives (on_sendmail_reply).
        pending_.push_back({Cmd::DataEnd, kNoIndex, false, queued_bytes_});
        send_.final_received = 0;
        send_.final_expected = 1;
        return;
    }
    std::size_t before = out_.size();
    encoder_.finish(out_);
    queued_bytes_ += out_.size() - before;
    if (trace_) trace_->trace(SMTPC_TRACE_DATA, std::string_view(out_).substr(before));
    awaiting_body_ = false;
    ++step_;
    send_.final_received = 0;
    if (protocol_ == SMTPC_PROTOCOL_LMTP && result_) {
        for (std::size_t i = 0; i < result_->recipients.size(); ++i)
            if (result_->recipients[i].state == SMTPC_RCPT_ACCEPTED)
                pending_.push_back({Cmd::DataEnd, i, false, queued_bytes_});
    }
    if (pending_.empty()) pending_.push_back({Cmd::DataEnd, kNoIndex, false, queued_bytes_});
    send_.final_expected = pending_.size();
}

void Engine::body_aborted(std::string why) {
    fatal(SMTPC_EUSER, "message source aborted: " + why + " (connection closed so nothing is delivered)");
}

void Engine::received(const char *data, std::size_t len) {
    std::size_t off = 0;
    while (off < len && !done_) {
        // A reply may only begin once the command it answers is on the wire: otherwise the server is
        // talking out of turn, and its words would be taken as the answer to a later command. The one
        // exception is a reply while the message is being sent: a server may refuse the message
        // early (a size limit) and close, and that refusal is the message's outcome.
        bool unsolicited = false;
        if (!parser_.mid_reply()) {
            early_reply_ = sending_body();
            unsolicited = pending_.empty() && !early_reply_;  // parsed anyway, so the message can show it
            if (!unsolicited && !early_reply_ && written_bytes_ < pending_.front().sent_at) {
                fatal(SMTPC_EPROTOCOL, "the server replied to a command not yet sent");
                return;
            }
        }
        std::size_t used = 0;
        ReplyParser::Result r = parser_.feed(data + off, len - off, used);
        off += used;
        if (r == ReplyParser::Result::Error) {
            fatal(SMTPC_EPROTOCOL, "invalid reply from the server: " + parser_.error());
            return;
        }
        if (early_reply_) {
            if (r == ReplyParser::Result::NeedMore) break;
            early_reply_ = false;
            on_early_reply(parser_.take_reply());
            continue;
        }
        if (unsolicited || pending_.empty()) {
            if (r == ReplyParser::Result::NeedMore)
                fatal(SMTPC_EPROTOCOL, "unsolicited data from the server");
            else
                fatal(SMTPC_EPROTOCOL,
                      "unsolicited reply from the server: " + describe(parser_.take_reply()));
            return;
        }
        if (r == ReplyParser::Result::NeedMore) break;
        Reply reply = parser_.take_reply();
        Pending p = pending_.front();
        pending_.pop_front();
        on_reply(p, std::move(reply));
    }
    // Nothing may follow the last expected reply: a server that talks out of turn would otherwise
    // have its words taken as the reply to our next command.
    if (done_ && !close_ && (off < len || parser_.mid_reply()))
        on_trailing_data(std::string_view(data + off, len - off));
}

// Bytes after the reply that ended the operation close the connection. When that reply decided a
// transaction, its outcome stands: a message the server accepted stays accepted (reporting a failure
// would have it sent again: a duplicate), and a refusal stays a refusal. The bytes are reported in the
// trace (and in the message of a failure; success leaves no message, as every success does).
void Engine::on_trailing_data(std::string_view extra) {
    if (op_ != Op::Sendmail && op_ != Op::Data) {
        fatal(SMTPC_EPROTOCOL, "unexpected data from the server after its reply");
        return;
    }
    close_ = true;
    pending_.clear();
    awaiting_body_ = false;
    std::string note =
        "unexpected data from the server after its reply: \"" + printable(extra) + "\"; connection closed";
    if (status_ == SMTPC_OK) note += " (the message was accepted)";
    else message_ += " (then " + note + ")";
    if (trace_) trace_->trace(SMTPC_TRACE_INFO, note);
}

bool Engine::sending_body() const {
    if (op_ != Op::Sendmail && op_ != Op::Data) return false;
    if (send_.chunking) {
        // Replies to earlier commands (and chunks) may come while the message is being sent; only a
        // reply to a chunk not yet all written is early.
        if (pending_.empty()) return false;
        const Pending &p = pending_.front();
        return (p.cmd == Cmd::Bdat || p.cmd == Cmd::DataEnd) && written_bytes_ < p.sent_at;
    }
    if (awaiting_body_) return true;
    // The message is complete in the output, but its end is not all on the wire yet.
    return !pending_.empty() && pending_.front().cmd == Cmd::DataEnd &&
           written_bytes_ < pending_.front().sent_at;
}

// A reply that began while the message was still being sent. A refusal (a size limit, a filter that
// reads as it goes) is the message's outcome, and the connection is closed since the rest of the
// message cannot be withdrawn. An acceptance is not possible: the server has not seen the end.
void Engine::on_early_reply(const Reply &r) {
    if (r.code < 400) {
        fatal(SMTPC_EPROTOCOL,
              std::string(pending_.empty() ? "unsolicited reply from the server: "
                                           : "the server replied to a command not yet sent: ") +
                  describe(r));
        return;
    }
    last_reply_ = r;
    reply_locked_ = true;
    if (result_)
        for (auto &rr : result_->recipients)
            if (rr.state == SMTPC_RCPT_ACCEPTED) {
                rr.state = SMTPC_RCPT_FAILED;
                rr.data_reply = r;
            }
    std::string msg = "message refused before it was complete: " + describe(r) + " (connection closed)";
    if (op_ == Op::Data) fatal(r.code == 421 ? SMTPC_ECLOSING : SMTPC_EREPLY, std::move(msg));
    else fatal(SMTPC_EDATA_REFUSED, std::move(msg));
}

void Engine::received_while_idle(const char *data, std::size_t len, bool closed) {
    start(Op::None);
    std::size_t used = 0;
    ReplyParser::Result r = parser_.feed(data, len, used);
    if (r == ReplyParser::Result::Error) {
        fatal(SMTPC_EPROTOCOL,
              "invalid data from the server while the connection was idle: " + parser_.error());
        return;
    }
    if (r == ReplyParser::Result::NeedMore) {
        if (closed)
            fatal(SMTPC_EDISCONNECTED,
                  "connection closed by the server in the middle of a reply it sent while "
                  "the connection was idle");
        else fatal(SMTPC_EPROTOCOL, "unsolicited data from the server while the connection was idle");
        return;
    }
    last_reply_ = parser_.take_reply();
    std::string said = describe(*last_reply_);
    if (last_reply_->code == 421)
        fatal(SMTPC_ECLOSING, "service closing: the server sent " + said + " while the connection was idle");
    else if (closed && used == len)
        fatal(SMTPC_EDISCONNECTED,
              "the server sent " + said + " while the connection was idle, then closed it");
    else fatal(SMTPC_EPROTOCOL, "unsolicited reply from the server while the connection was idle: " + said);
}

void Engine::received_eof() {
    failed(SMTPC_EDISCONNECTED, parser_.mid_reply()
                                    ? "connection closed by the server in the middle of a reply"
                                    : "connection closed by the server");
}

void Engine::failed(smtpc_status status, std::string message) {
    if (done_) return;
    if (op_ == Op::Sendmail && send_.verdict != SMTPC_OK) {
        // A refusal decided the transaction before the connection failed (Exim's "drop" ACL refuses
        // and closes at once): the refusal is the answer, whatever became of the RSET or the rest of
        // a pipelined batch.
        fatal(send_.verdict,
              send_.verdict_message + (status == SMTPC_EDISCONNECTED
                                           ? "; the server closed the connection after refusing"
                                           : "; then " + message + " (connection closed)"));
        return;
    }
    // Its end is on the wire (the final dot, or BDAT LAST and its chunk), even if replies to earlier
    // chunks are still outstanding.
    bool message_sent = false;
    for (const Pending &p : pending_)
        if (p.cmd == Cmd::DataEnd && written_bytes_ >= p.sent_at) message_sent = true;
    if (message_sent) {
        if (result_)
            for (const Pending &p : pending_) {
                if (p.cmd != Cmd::DataEnd) continue;
                if (p.index != kNoIndex) result_->recipients[p.index].state = SMTPC_RCPT_UNKNOWN;
                else
                    for (auto &rr : result_->recipients)
                        if (rr.state == SMTPC_RCPT_ACCEPTED) rr.state = SMTPC_RCPT_UNKNOWN;
            }
        fatal(SMTPC_EDELIVERY_UNKNOWN,
              message + " after the message was sent: it may or may not have been delivered");
        return;
    }
    fatal(status, std::move(message));
}

void Engine::on_reply(const Pending &p, Reply &&r) {
    if (!reply_locked_ && !p.internal) last_reply_ = r;
    switch (op_) {
    case Op::Greeting:
        if (r.code == 220) finish(SMTPC_OK);
        else fatal(SMTPC_EGREETING, "greeting refused: " + describe(r));
        break;
    case Op::Command: on_command_reply(p, r); break;
    case Op::Raw: fatal(SMTPC_EPROTOCOL, "unsolicited reply from the server: " + describe(r)); break;
    case Op::Data: on_data_reply(p, r); break;
    case Op::Sendmail: on_sendmail_reply(p, r); break;
    case Op::Auth: on_auth_reply(p, r); break;
    case Op::None: fatal(SMTPC_EINTERNAL, "reply with no operation in progress"); break;
    }
}

void Engine::on_command_reply(const Pending &p, const Reply &r) {
    switch (p.cmd) {
    case Cmd::Helo:
        helo_reply_ = r;
        if (positive(r)) {  // the server now speaks plain SMTP: no ESMTP parameter may follow
            does_esmtp_ = false;
            features_.clear();
        }
        break;
    case Cmd::Ehlo:
        ehlo_reply_ = r;
        features_.clear();
        if (r.code == 250) {
            does_esmtp_ = true;
            features_.parse(r);
        }
        break;
    case Cmd::Mail: result_->mail_reply = r; break;
    case Cmd::Rcpt: {
        RecipientResult &rr = result_->recipients[p.index];
        rr.rcpt_reply = r;
        rr.state = rcpt_accepted(r) ? SMTPC_RCPT_ACCEPTED : SMTPC_RCPT_REFUSED;
        break;
    }
    case Cmd::Quit: close_ = true; break;
    default: break;
    }
    if (r.code == 421 && p.cmd != Cmd::Quit) fatal(SMTPC_ECLOSING, "service closing: " + describe(r));
    else if (p.cmd == Cmd::StartTls && r.code != 220)
        finish(SMTPC_EREPLY, "STARTTLS refused: " + describe(r));
    else if (r.code >= 400) finish(SMTPC_EREPLY, verb_ + " failed: " + describe(r));
    else finish(SMTPC_OK);
}

void Engine::on_data_reply(const Pending &p, const Reply &r) {
    if (p.cmd == Cmd::DataEnd) {
        on_final_reply(p, r);
        return;
    }
    if (r.code == 354) {
        awaiting_body_ = true;
        return;
    }
    if (result_)
        for (auto &rr : result_->recipients)
            if (rr.state == SMTPC_RCPT_ACCEPTED) {
                rr.state = SMTPC_RCPT_FAILED;
                rr.data_reply = r;
            }
    if (r.code == 421) fatal(SMTPC_EDATA_REFUSED, "DATA refused, service closing: " + describe(r));
    else finish(SMTPC_EDATA_REFUSED, "DATA refused: " + describe(r));
}

void Engine::on_final_reply(const Pending &p, const Reply &r) {
    if (result_) {
        auto settle = [&](RecipientResult &rr) {
            rr.data_reply = r;
            rr.state = positive(r) ? SMTPC_RCPT_DELIVERED : SMTPC_RCPT_FAILED;
        };
        if (p.index != kNoIndex) settle(result_->recipients[p.index]);
        else
            for (auto &rr : result_->recipients)
                if (rr.state == SMTPC_RCPT_ACCEPTED) settle(rr);
    }
    ++send_.final_received;
    if (r.code == 421) close_ = true;
    if (!pending_.empty()) return;  // LMTP: more recipients' replies to come

    std::size_t delivered = 0;
    if (result_)
        for (const auto &rr : result_->recipients) delivered += rr.state == SMTPC_RCPT_DELIVERED;
    bool ok = send_.final_expected > 1 ? delivered > 0 : positive(r);
    if (ok) {
        finish(SMTPC_OK);
        if (close_) pending_.clear();
        return;
    }
    std::string msg =
        (send_.final_expected > 1 ? "message refused for every recipient: " : "message refused: ") +
        describe(r);
    if (op_ == Op::Data) {
        if (close_) fatal(SMTPC_ECLOSING, "service closing: " + describe(r));
        else finish(SMTPC_EREPLY, msg);
        return;
    }
    last_reply_ = r;
    reply_locked_ = true;
    if (close_ || protocol_ == SMTPC_PROTOCOL_LMTP) {
        // LMTP transactions end with the last reply; an RSET would add nothing.
        if (close_) fatal(SMTPC_EDATA_REFUSED, msg);
        else finish(SMTPC_EDATA_REFUSED, msg);
        return;
    }
    send_.verdict = SMTPC_EDATA_REFUSED;
    send_.verdict_message = std::move(msg);
    queue(Cmd::Rset, "RSET\r\n", 0, true);
}

std::size_t Engine::accepted_count() const {
    std::size_t n = 0;
    if (result_)
        for (const auto &rr : result_->recipients) n += rr.state == SMTPC_RCPT_ACCEPTED;
    return n;
}

// Records a failed transaction's outcome, keeps the reply that decided it, and ends the transaction
// with RSET as smtplib does (a 421 closes instead).
void Engine::abandon(smtpc_status status, std::string message, const Reply &decisive) {
    if (send_.chunking) stop_chunks();
    if (!reply_locked_) {
        last_reply_ = decisive;
        reply_locked_ = true;
        send_.verdict = status;
        send_.verdict_message = std::move(message);
    }
    if (decisive.code == 421) {
        fatal(send_.verdict, send_.verdict_message + " (service closing)");
        return;
    }
    if (send_.pipelined && !pending_.empty()) return;  // RSET once the whole batch is answered
    queue(Cmd::Rset, "RSET\r\n", 0, true);
}

void Engine::decide_if_all_refused() {
    if (send_.mail_failed || reply_locked_ || accepted_count() != 0) return;
    const Reply &last = *result_->recipients.back().rcpt_reply;
    last_reply_ = last;
    reply_locked_ = true;
    send_.verdict = SMTPC_ERECIPIENTS_REFUSED;
    send_.verdict_message =
        "all " + std::to_string(result_->recipients.size()) + " recipients refused; last: " + describe(last);
}

void Engine::after_rcpts() {
    if (accepted_count() == 0) {
        const Reply &last = *result_->recipients.back().rcpt_reply;
        abandon(SMTPC_ERECIPIENTS_REFUSED,
                "all " + std::to_string(result_->recipients.size()) +
                    " recipients refused; last: " + describe(last),
                last);
        return;
    }
    if (send_.chunking) awaiting_body_ = true;
    else queue(Cmd::Data, "DATA\r\n");
}

void Engine::on_sendmail_reply(const Pending &p, const Reply &r) {
    switch (p.cmd) {
    case Cmd::Mail:
        result_->mail_reply = r;
        if (r.code != 250) {
            send_.mail_failed = true;
            abandon(SMTPC_ESENDER_REFUSED, "MAIL FROM refused: " + describe(r), r);
            return;
        }
        if (!send_.pipelined) queue(Cmd::Rcpt, send_.rcpt_lines[0], 0);
        return;
    case Cmd::Rcpt: {
        RecipientResult &rr = result_->recipients[p.index];
        rr.rcpt_reply = r;
        rr.state = rcpt_accepted(r) ? SMTPC_RCPT_ACCEPTED : SMTPC_RCPT_REFUSED;
        if (r.code == 421) {
            abandon(send_.mail_failed ? SMTPC_ESENDER_REFUSED : SMTPC_ERECIPIENTS_REFUSED,
                    "RCPT TO refused: " + describe(r), r);
            return;
        }
        // Decided now, not at DATA's reply: a server that closes before it stays decided.
        if (send_.pipelined && p.index + 1 == send_.rcpt_lines.size()) {
            decide_if_all_refused();
            // BDAT: nothing was waiting for a 354; the transaction is over once the chunks sent are answered.
            if (send_.chunking && reply_locked_) {
                stop_chunks();
                if (pending_.empty()) queue(Cmd::Rset, "RSET\r\n", 0, true);
                return;
            }
        }
        if (send_.pipelined || send_.mail_failed) return;
        if (p.index + 1 < send_.rcpt_lines.size())
            queue(Cmd::Rcpt, send_.rcpt_lines[p.index + 1], p.index + 1);
        else after_rcpts();
        return;
    }
    case Cmd::Data: {
        decide_if_all_refused();
        if (r.code == 354) {
            if (reply_locked_) {
                // The server waits for a message we must not send; only closing discards the transaction.
                fatal(send_.verdict,
                      send_.verdict_message + " (server accepted DATA anyway; connection closed)");
                return;
            }
            awaiting_body_ = true;
            return;
        }
        if (!reply_locked_)
            for (auto &rr : result_->recipients)
                if (rr.state == SMTPC_RCPT_ACCEPTED) {
                    rr.state = SMTPC_RCPT_FAILED;
                    rr.data_reply = r;
                }
        abandon(SMTPC_EDATA_REFUSED, "DATA refused: " + describe(r), r);
        return;
    }
    case Cmd::Bdat:
        if (positive(r) && !reply_locked_) return;
        if (!reply_locked_)
            for (auto &rr : result_->recipients)
                if (rr.state == SMTPC_RCPT_ACCEPTED) {
                    rr.state = SMTPC_RCPT_FAILED;
                    rr.data_reply = r;
                }
        abandon(SMTPC_EDATA_REFUSED, "BDAT refused: " + describe(r), r);
        return;
    case Cmd::DataEnd: {
        if (send_.chunking && reply_locked_) {
            // The last chunk of a transaction already refused (MAIL, every RCPT, or an earlier chunk).
            abandon(send_.verdict, send_.verdict_message, r);
            return;
        }
        Pending first = p;
        if (send_.chunking && protocol_ == SMTPC_PROTOCOL_LMTP && !send_.lmtp_expanded) {
            // LMTP (RFC 2033 section 4.2 with RFC 3030): one reply per accepted recipient, in RCPT order.
            send_.lmtp_expanded = true;
            std::vector<std::size_t> accepted;
            for (std::size_t i = 0; i < result_->recipients.size(); ++i)
                if (result_->recipients[i].state == SMTPC_RCPT_ACCEPTED) accepted.push_back(i);
            if (!accepted.empty()) {
                first.index = accepted[0];
                for (std::size_t k = accepted.size(); k-- > 1;)
                    pending_.push_front({Cmd::DataEnd, accepted[k], false, p.sent_at});
                send_.final_expected = accepted.size();
            }
        }
        on_final_reply(first, r);
        return;
    }
    case Cmd::Rset:
        if (r.code == 421) close_ = true;
        finish(send_.verdict, send_.verdict_message);
        return;
    default: fatal(SMTPC_EINTERNAL, "unexpected command in a transaction"); return;
    }
}

}  // namespace smtpc::detail

namespace smtpc::detail {

Check Engine::begin_auth(std::unique_ptr<SaslMechanism> mech, bool initial_response_ok) {
    SecretString first;
    std::string error;
    SaslMechanism::Step step = initial_response_ok ? mech->initial(first, error) : SaslMechanism::Step::None;
    if (step == SaslMechanism::Step::Abort) return {mech->abort_status(), error};
    start(Op::Auth);
    wipe_output_ = true;
    // Out of the string's inline buffer before any AUTH byte goes in: the allocator wipes only blocks.
    if (out_.capacity() < kWipingMinCapacity) out_.reserve(kWipingMinCapacity);
    verb_ = "AUTH";
    std::string name(mech->name());
    std::string shown = "AUTH " + name + "\r\n";
    SecretString line("AUTH " + name);
    if (step == SaslMechanism::Step::Respond) {
        SecretString encoded;
        if (first.empty()) encoded.append("=");
        else base64_encode(first.view(), encoded.str());
        // RFC 4954 section 4: an initial response that would make the line too long waits for the 334.
        if (line.size() + 1 + encoded.size() + 2 <= kMaxCommandLine) {
            line.append(" ").append(encoded.view());
            shown = "AUTH " + name + " ****\r\n";
        } else {
            auth_deferred_.assign(encoded.view());
        }
    }
    line.append("\r\n");
    auth_ = std::move(mech);
    queue(Cmd::Auth, line.view(), 0, false, shown);
    return {};
}

void Engine::forget_credentials() {
    if (wipe_output_) OPENSSL_cleanse(&out_[0], out_.capacity());  // sent or not
    wipe_output_ = false;
    auth_.reset();
    auth_deferred_.wipe();
}

void Engine::cancel_auth(smtpc_status status, std::string message) {
    forget_credentials();
    auth_failure_ = status;
    auth_failure_message_ = std::move(message);
    queue(Cmd::AuthCancel, "*\r\n", 0, true);
}

void Engine::on_auth_reply(const Pending &p, const Reply &r) {
    if (p.cmd == Cmd::AuthCancel) {
        if (r.code == 421) close_ = true;
        finish(auth_failure_, auth_failure_message_);
        return;
    }
    if (r.code == 334) {
        if (++auth_challenges_ > kMaxAuthChallenges) {
            cancel_auth(SMTPC_EAUTH, "authentication cancelled: the server sent more than " +
                                         std::to_string(kMaxAuthChallenges) + " challenges");
            return;
        }
        std::string challenge;
        std::string_view text = r.lines.size() == 1 ? std::string_view(r.lines[0]) : std::string_view();
        while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
        if (r.lines.size() != 1 || !base64_decode(text, challenge)) {
            cancel_auth(SMTPC_EAUTH, "authentication cancelled: the server's challenge is not valid base64");
            return;
        }
        SecretString line;
        if (!auth_deferred_.empty()) {
            line.append(auth_deferred_.view());
            auth_deferred_.wipe();
        } else {
            SecretString response;
            std::string error;
            if (auth_->respond(challenge, response, error) == SaslMechanism::Step::Abort) {
                // The mechanism may quote the server (SCRAM's e=): escaped like all server text.
                cancel_auth(auth_->abort_status(), "authentication cancelled: " + printable(error));
                return;
            }
            base64_encode(response.view(), line.str());
        }
        line.append("\r\n");
        queue(Cmd::Auth, line.view(), 0, false, "****\r\n");
        return;
    }
    if (r.code == 235) {
        if (!auth_->complete()) {
            std::string msg = "the server accepted authentication without proving its identity (" +
                              std::string(auth_->name()) + " exchange incomplete); connection closed";
            forget_credentials();
            fatal(SMTPC_EAUTH, std::move(msg));
            return;
        }
        forget_credentials();
        finish(SMTPC_OK);
        return;
    }
    std::string msg = std::string(auth_->name()) + " authentication failed: " + describe(r);
    std::string detail = auth_->failure_detail();
    if (!detail.empty()) msg += " (server said: " + printable(detail) + ")";
    forget_credentials();
    if (r.code == 421) fatal(SMTPC_ECLOSING, msg);
    else finish(SMTPC_EAUTH, msg);
}

}  // namespace smtpc::detail
