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
    // Messages still unfinished when the caller closes the connection (a failure concluded them already).
    if (op_ == Op::Sendmail && unfinished() != 0) close_queue(SMTPC_ENOTCONN, "the connection was closed");
    forget_credentials();  // an AUTH line dropped unsent is wiped too
    helo_reply_.reset();
    ehlo_reply_.reset();
    does_esmtp_ = false;
    features_.clear();
    pending_.clear();
    out_.clear();
    out_pos_ = 0;
    awaiting_body_ = false;
    body_txn_ = nullptr;
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
    body_txn_ = nullptr;
    last_finished_ = nullptr;
    data_final_expected_ = data_final_received_ = 0;
    chunk_.clear();
    encoder_.reset();
}

void Engine::queue(Cmd cmd, std::string_view line, std::size_t index, bool internal, std::string_view shown,
                   Txn *txn) {
    out_.append(line);
    queued_bytes_ += line.size();
    pending_.push_back({cmd, index, internal, queued_bytes_, txn});
    if (txn) ++txn->outstanding;
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
    awaiting_body_ = false;
    body_txn_ = nullptr;
    if (op_ == Op::Sendmail && unfinished() != 0) {
        lose_all(status, message, true);
        pending_.clear();
        return;
    }
    pending_.clear();
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
        result_ = std::make_shared<Result>();
    } else if (cmd == Cmd::Rcpt) {
        if (!result_) result_ = std::make_shared<Result>();
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

Check Engine::begin_sendmail(const Envelope &env, std::optional<std::uint64_t> size, bool allow_pipelining,
                             bool allow_chunking, const BodyFacts &facts) {
    // A queue of one message; completed messages nobody took are dropped.
    for (auto it = txns_.begin(); it != txns_.end();) {
        if (!(*it)->done) {
            ++it;
            continue;
        }
        if (last_finished_ == it->get()) last_finished_ = nullptr;
        it = txns_.erase(it);
    }
    std::uint64_t id = txns_.empty() ? 1 : txns_.back()->id + 1;
    if (Check c = enqueue(id, env, size, allow_pipelining, allow_chunking, facts); !c) return c;
    publish_result(id);
    return {};
}

Check Engine::enqueue(std::uint64_t id, const Envelope &env, std::optional<std::uint64_t> size,
                      bool allow_pipelining, bool allow_chunking, const BodyFacts &facts,
                      std::uint64_t body_size) {
    if (env.recipients.empty()) return Check::invalid("no recipients");
    // Typed and raw parameters, checked against the features (src/proto/extensions.cpp).
    Params params;
    if (Check c =
            build_params(env, SessionFacts{&features_, does_esmtp_, allow_chunking}, facts, size, params);
        !c)
        return c;
    std::string mail_line;
    if (Check c = build_mail(env.sender, std::move(params.mail), mail_line); !c) return c;
    std::vector<std::string> rcpt_lines(env.recipients.size());
    for (std::size_t i = 0; i < env.recipients.size(); ++i)
        if (Check c = build_rcpt(env.recipients[i], params.rcpt[i], params.utf8, rcpt_lines[i]); !c) return c;

    auto t = std::make_unique<Txn>();
    t->id = id;
    t->result = std::make_shared<Result>();
    t->result->recipients.reserve(env.recipients.size());
    for (const auto &r : env.recipients)
        t->result->recipients.push_back(RecipientResult{r.original, SMTPC_RCPT_NOT_ATTEMPTED, {}, {}});
    t->mail_line = std::move(mail_line);
    t->rcpt_lines = std::move(rcpt_lines);
    t->pipelined = allow_pipelining && does_esmtp_ && features_.has("pipelining");
    t->chunking = allow_chunking && does_esmtp_ && features_.has("chunking");
    t->binary = params.binary;  // build_params checked that CHUNKING is on
    t->body_size = body_size;
    if (op_ != Op::Sendmail || done_) start(Op::Sendmail);  // idle: a new operation
    txns_.push_back(std::move(t));
    ++unfinished_;
    advance();
    return {};
}

std::uint64_t Engine::body_id() const { return body_txn_ ? body_txn_->id : 0; }

Engine::Txn *Engine::find(std::uint64_t id) const {
    // Ids grow along the queue, usually one by one (a message is seldom taken out of order): look
    // first where the id would be without gaps. The queue is looked up several times per message, and
    // with many connections every look at a Txn is a cache miss.
    if (txns_.empty() || id < txns_.front()->id) return nullptr;
    std::uint64_t offset = id - txns_.front()->id;
    if (offset < txns_.size() && txns_[offset]->id == id) return txns_[offset].get();
    for (const auto &t : txns_)
        if (t->id == id) return t.get();
    return nullptr;
}

bool Engine::complete(std::uint64_t id) const {
    const Txn *t = find(id);
    return t && t->done;
}

bool Engine::concluded_since(std::uint64_t id, std::uint64_t mark) const {
    const Txn *t = find(id);
    return t && t->done && t->concluded_seq > mark;
}

bool Engine::oldest_complete(std::uint64_t &id) const {
    if (txns_.empty() || !txns_.front()->done) return false;
    id = txns_.front()->id;
    return true;
}

Engine::Outcome Engine::take(std::uint64_t id) {
    Outcome o;
    for (auto it = txns_.begin(); it != txns_.end(); ++it) {
        Txn &t = **it;
        if (t.id != id || !t.done) continue;
        o.id = t.id;
        o.state = t.state;
        o.status = t.status;
        o.message = std::move(t.message);
        o.result = std::move(t.result);
        o.final_reply = std::move(t.decisive);
        if (last_finished_ == &t) last_finished_ = nullptr;
        // A complete message has no command left unanswered; were one left, its reply would find no
        // message (an internal error) rather than freed memory.
        for (Pending &p : pending_)
            if (p.txn == &t) p.txn = nullptr;
        txns_.erase(it);
        break;
    }
    return o;
}

void Engine::publish_result(std::uint64_t id) {
    if (const Txn *t = find(id)) result_ = t->result;
}

void Engine::close_queue(smtpc_status status, const std::string &message) {
    if (op_ != Op::Sendmail || unfinished() == 0) return;
    close_ = true;
    awaiting_body_ = false;
    body_txn_ = nullptr;
    lose_all(status, message, false);
    pending_.clear();
}

std::uint64_t Engine::window_bytes_of(const Txn &t) {
    return t.body_size > t.body_bytes ? t.body_size : t.body_bytes;
}

Engine::Flight Engine::flight() const {
    Flight f;
    for (const auto &t : txns_) {
        if (!t->started && !t->done) break;  // messages start in order: none started past this one
        if (t->done) continue;
        f.last = t.get();
        f.bytes += window_bytes_of(*t);
    }
    return f;
}

// Whether `next` may go out now, behind what is in flight.
bool Engine::can_start(const Flight &f, const Txn &next) const {
    const Txn *prev = f.last;
    if (!prev) return true;
    // Without PIPELINING one transaction at a time; a change of mode waits for the queue to drain.
    if (!prev->pipelined || !next.pipelined || prev->chunking != next.chunking) return false;
    if (body_txn_ || awaiting_body_) return false;  // the next MAIL goes behind a complete body
    // DATA (RFC 2920 section 3.1): behind the final dot of a message whose DATA got its 354, or behind
    // the RSET of a refused one, never into an open transaction. BDAT: behind the last chunk.
    if (!(prev->body_done || prev->body_stopped || prev->rset_queued)) return false;
    return in_flight_ < window_messages_ && f.bytes < window_bytes_;
}

void Engine::start_txn(Txn &t, const Txn *prev) {
    t.started = true;
    ++in_flight_;
    // BDAT window: a message refused inside the window may have left its transaction open (MAIL
    // accepted, every RCPT refused, BDAT LAST refused), and this MAIL, its RCPTs and its chunks would
    // then meet it: 503 at best, at worst these RCPTs join that transaction and the message goes with
    // the wrong sender. An RSET ahead of every MAIL written while an earlier message is unanswered
    // closes whatever that one left open (index 1 marks it as this guard).
    if (t.chunking && prev && !prev->rset_queued) queue(Cmd::Rset, "RSET\r\n", 1, true, {}, &t);
    queue(Cmd::Mail, t.mail_line, 0, false, {}, &t);
    if (t.pipelined) {
        for (std::size_t i = 0; i < t.rcpt_lines.size(); ++i)
            queue(Cmd::Rcpt, t.rcpt_lines[i], i, false, {}, &t);
        // BDAT needs no 354: the message follows the RCPTs in the same write (RFC 3030 section 4.2).
        if (t.chunking) {
            awaiting_body_ = true;
            body_txn_ = &t;
            encoder_.reset();
            encoder_.set_chunked(true);
            chunk_.clear();
        } else {
            queue(Cmd::Data, "DATA\r\n", 0, false, {}, &t);
        }
    }
}

void Engine::advance() {
    if (op_ != Op::Sendmail || done_) return;
    // Messages not started wait in order behind the started ones; one look at what is in flight serves
    // them all (this runs after every reply).
    if (!close_ && unfinished_ > in_flight_) {
        Flight f = flight();
        for (auto &tp : txns_) {
            if (tp->done || tp->started) continue;
            if (!can_start(f, *tp)) break;
            start_txn(*tp, f.last);
            f.last = tp.get();
            f.bytes += window_bytes_of(*tp);
        }
    }
    if (unfinished_ == 0 && pending_.empty()) done_ = true;
}

void Engine::conclude(Txn &t, smtpc_status status, std::string message) {
    if (!t.done) {
        --unfinished_;
        if (t.started) --in_flight_;
        t.concluded_seq = ++conclusions_;
    }
    t.done = true;
    t.status = status;
    t.message = std::move(message);
    if (body_txn_ == &t) {
        body_txn_ = nullptr;
        awaiting_body_ = false;
        chunk_.clear();
    }
    std::size_t delivered = 0, unknown = 0;
    for (const auto &rr : t.result->recipients) {
        delivered += rr.state == SMTPC_RCPT_DELIVERED;
        unknown += rr.state == SMTPC_RCPT_UNKNOWN;
    }
    bool end_unanswered = false;
    for (const Pending &p : pending_)
        if (p.txn == &t && p.cmd == Cmd::DataEnd && written_bytes_ >= p.sent_at) end_unanswered = true;
    if (delivered)
        t.state = delivered == t.result->recipients.size() ? SMTPC_MESSAGE_DELIVERED : SMTPC_MESSAGE_PARTIAL;
    else if (unknown || end_unanswered) t.state = SMTPC_MESSAGE_UNKNOWN;
    else if (t.reply_locked) t.state = SMTPC_MESSAGE_REFUSED;
    else t.state = SMTPC_MESSAGE_NOT_SENT;
    last_finished_ = &t;
}

void Engine::finish_txn(Txn &t, smtpc_status status, std::string message) {
    conclude(t, status, std::move(message));
    status_ = t.status;
    message_ = t.message;
    advance();
}

void Engine::lose(Txn &t, smtpc_status status, const std::string &message) {
    if (t.verdict != SMTPC_OK) {
        // A refusal decided the transaction before the connection failed (Exim's "drop" ACL refuses
        // and closes at once): the refusal is the answer, whatever became of the RSET or the rest of
        // a pipelined batch.
        conclude(t, t.verdict,
                 t.verdict_message + (status == SMTPC_EDISCONNECTED
                                          ? "; the server closed the connection after refusing"
                                          : "; then " + message + " (connection closed)"));
        return;
    }
    // Its end is on the wire (the final dot, or BDAT LAST and its chunk), even if replies to earlier
    // chunks are still outstanding.
    bool sent = false;
    for (const Pending &p : pending_)
        if (p.txn == &t && p.cmd == Cmd::DataEnd && written_bytes_ >= p.sent_at) sent = true;
    if (sent) {
        for (const Pending &p : pending_) {
            if (p.txn != &t || p.cmd != Cmd::DataEnd) continue;
            if (p.index != kNoIndex) t.result->recipients[p.index].state = SMTPC_RCPT_UNKNOWN;
            else
                for (auto &rr : t.result->recipients)
                    if (rr.state == SMTPC_RCPT_ACCEPTED) rr.state = SMTPC_RCPT_UNKNOWN;
        }
        conclude(t, SMTPC_EDELIVERY_UNKNOWN,
                 message + " after the message was sent: it may or may not have been delivered");
        return;
    }
    conclude(t, status, t.started ? message : message + " (the message was not sent)");
}

void Engine::lose_all(smtpc_status status, const std::string &message, bool first_as_is) {
    Txn *first = nullptr;
    for (auto &tp : txns_) {
        Txn &t = *tp;
        if (t.done) continue;
        if (!first && first_as_is) conclude(t, status, message);
        else lose(t, status, message);
        if (!first) first = &t;
    }
    done_ = true;
    status_ = first ? first->status : status;
    message_ = first ? first->message : message;
}

void Engine::txn_fatal(Txn &t, smtpc_status status, std::string message, smtpc_status rest,
                       const std::string &rest_message) {
    close_ = true;
    awaiting_body_ = false;
    body_txn_ = nullptr;
    conclude(t, status, std::move(message));
    for (auto &tp : txns_)
        if (!tp->done) lose(*tp, rest, rest_message);
    pending_.clear();
    done_ = true;
    status_ = t.status;
    message_ = t.message;
    last_finished_ = &t;
}

Engine::Want Engine::want() const {
    if (done_) return Want::Done;
    // Body blocks smaller than a socket-sized write are gathered first: a short message goes out
    // with its terminator in one write rather than two.
    // Without PIPELINING a BDAT chunk's reply comes before anything else is sent.
    bool chunking = body_txn_ && body_txn_->chunking;
    bool pipelined = body_txn_ && body_txn_->pipelined;
    bool body_wanted = awaiting_body_ && !(chunking && !pipelined && !pending_.empty());
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
    Txn *t = body_txn_;
    if (t) t->body_bytes += len;
    if (t && t->chunking) {
        // Sized from the encoded bytes: the BDAT count must be the bytes that follow it. BINARYMIME
        // content goes as is (RFC 3030 3): no line-end normalisation.
        if (t->binary) chunk_.append(data, len);
        else encoder_.encode(data, len, chunk_);
        ++step_;
        if (chunk_.size() >= kBodyWriteSize) flush_chunk(false, t);
        return;
    }
    std::size_t before = out_.size();
    encoder_.encode(data, len, out_);
    queued_bytes_ += out_.size() - before;
    ++step_;
    if (trace_ && out_.size() > before)
        trace_->trace(SMTPC_TRACE_DATA, std::string_view(out_).substr(before));
}

void Engine::flush_chunk(bool last, Txn *t) {
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
    if (!last) {
        pending_.push_back({Cmd::Bdat, kNoIndex, false, queued_bytes_, t});
        if (t) ++t->outstanding;
    }
}

void Engine::stop_chunks(Txn &t) {
    if (body_txn_ != &t) return;
    awaiting_body_ = false;
    body_txn_ = nullptr;
    t.body_stopped = true;
    chunk_.clear();
}

void Engine::body_end() {
    Txn *t = body_txn_;
    if (t && t->chunking) {
        if (!t->binary) encoder_.finish(chunk_);
        flush_chunk(true, t);
        awaiting_body_ = false;
        body_txn_ = nullptr;
        // LMTP: the RCPT replies may not be in yet; the per-recipient replies are counted when the
        // first reply to BDAT LAST arrives (on_sendmail_reply).
        pending_.push_back({Cmd::DataEnd, kNoIndex, false, queued_bytes_, t});
        ++t->outstanding;
        t->final_received = 0;
        t->final_expected = 1;
        t->body_done = true;
        advance();  // the next message may follow in the same write
        return;
    }
    std::size_t before = out_.size();
    encoder_.finish(out_);
    queued_bytes_ += out_.size() - before;
    if (trace_) trace_->trace(SMTPC_TRACE_DATA, std::string_view(out_).substr(before));
    awaiting_body_ = false;
    body_txn_ = nullptr;
    ++step_;
    const Result *res = t ? t->result.get() : result_.get();
    std::size_t n = 0;
    if (protocol_ == SMTPC_PROTOCOL_LMTP && res) {
        for (std::size_t i = 0; i < res->recipients.size(); ++i)
            if (res->recipients[i].state == SMTPC_RCPT_ACCEPTED) {
                pending_.push_back({Cmd::DataEnd, i, false, queued_bytes_, t});
                ++n;
            }
    }
    if (n == 0) {
        pending_.push_back({Cmd::DataEnd, kNoIndex, false, queued_bytes_, t});
        n = 1;
    }
    if (!t) {
        data_final_received_ = 0;
        data_final_expected_ = pending_.size();
        return;
    }
    t->outstanding += n;
    t->final_received = 0;
    t->final_expected = n;
    t->body_done = true;
    // RFC 2920 section 3.1: the end of data may open the next group (the transaction is closed by the
    // dot whatever its reply).
    advance();
}

void Engine::body_aborted(std::string why) {
    std::string msg = "message source aborted: " + why + " (connection closed so nothing is delivered)";
    if (op_ == Op::Sendmail && body_txn_) {
        txn_fatal(*body_txn_, SMTPC_EUSER, std::move(msg), SMTPC_EUSER,
                  "the connection was closed when an earlier message's source aborted: " + why);
        return;
    }
    fatal(SMTPC_EUSER, std::move(msg));
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
        if (p.txn) --p.txn->outstanding;
        on_reply(p, std::move(reply));
    }
    // Nothing may follow the last expected reply: a server that talks out of turn would otherwise
    // have its words taken as the reply to our next command.
    if (done_ && !close_ && (off < len || parser_.mid_reply()))
        on_trailing_data(std::string_view(data + off, len - off));
}

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
    if (status_ == SMTPC_OK) {
        note += " (the message was accepted)";
    } else {
        message_ += " (then " + note + ")";
        if (op_ == Op::Sendmail && last_finished_) last_finished_->message = message_;
    }
    if (trace_) trace_->trace(SMTPC_TRACE_INFO, note);
}

bool Engine::sending_body() const {
    if (op_ != Op::Sendmail && op_ != Op::Data) return false;
    const Txn *t = body_txn_ ? body_txn_ : (pending_.empty() ? nullptr : pending_.front().txn);
    if (t && t->chunking) {
        // Replies to earlier commands (and chunks, and earlier messages) may come while the message is
        // being sent; only a reply to a chunk not yet all written is early.
        if (pending_.empty()) return false;
        const Pending &p = pending_.front();
        return (p.cmd == Cmd::Bdat || p.cmd == Cmd::DataEnd) && written_bytes_ < p.sent_at;
    }
    if (awaiting_body_) return true;
    // The message is complete in the output, but its end is not all on the wire yet.
    return !pending_.empty() && pending_.front().cmd == Cmd::DataEnd &&
           written_bytes_ < pending_.front().sent_at;
}

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
    Txn *t = nullptr;
    if (op_ == Op::Sendmail) t = body_txn_ ? body_txn_ : (pending_.empty() ? nullptr : pending_.front().txn);
    Result *res = t ? t->result.get() : result_.get();
    if (res)
        for (auto &rr : res->recipients)
            if (rr.state == SMTPC_RCPT_ACCEPTED) {
                rr.state = SMTPC_RCPT_FAILED;
                rr.data_reply = r;
            }
    std::string msg = "message refused before it was complete: " + describe(r) + " (connection closed)";
    if (op_ == Op::Data) {
        fatal(r.code == 421 ? SMTPC_ECLOSING : SMTPC_EREPLY, std::move(msg));
    } else if (t) {
        t->reply_locked = true;
        t->decisive = r;
        txn_fatal(*t, SMTPC_EDATA_REFUSED, std::move(msg), SMTPC_EDISCONNECTED,
                  "the connection was closed after an earlier message was refused while it was being sent");
    } else {
        fatal(SMTPC_EDATA_REFUSED, std::move(msg));
    }
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
    if (op_ == Op::Sendmail) {
        // Each unfinished message: its refusal stands, or delivery is unknown (its end of data went
        // out), or it was not sent.
        close_ = true;
        awaiting_body_ = false;
        body_txn_ = nullptr;
        lose_all(status, message, false);
        pending_.clear();
        return;
    }
    // Its end is on the wire (the final dot), even if replies to earlier commands are still outstanding.
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
    bool locked = p.txn ? p.txn->reply_locked : reply_locked_;
    if (!locked && !p.internal) last_reply_ = r;
    switch (op_) {
    case Op::Greeting:
        if (r.code == 220) finish(SMTPC_OK);
        else fatal(SMTPC_EGREETING, "greeting refused: " + describe(r));
        break;
    case Op::Command: on_command_reply(p, r); break;
    case Op::Raw: fatal(SMTPC_EPROTOCOL, "unsolicited reply from the server: " + describe(r)); break;
    case Op::Data: on_data_reply(p, r); break;
    case Op::Sendmail:
        if (p.txn) on_sendmail_reply(p, r);
        else fatal(SMTPC_EINTERNAL, "reply to a command of no message");
        break;
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
        on_data_final_reply(p, r);
        return;
    }
    if (r.code == 354) {
        awaiting_body_ = true;
        encoder_.reset();
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

// The reply after the message sent by smtpc_client_data (LMTP: one per accepted recipient).
void Engine::on_data_final_reply(const Pending &p, const Reply &r) {
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
    ++data_final_received_;
    if (r.code == 421) close_ = true;
    if (!pending_.empty()) return;  // LMTP: more recipients' replies to come

    std::size_t delivered = 0;
    if (result_)
        for (const auto &rr : result_->recipients) delivered += rr.state == SMTPC_RCPT_DELIVERED;
    bool ok = data_final_expected_ > 1 ? delivered > 0 : positive(r);
    if (ok) {
        finish(SMTPC_OK);
        if (close_) pending_.clear();
        return;
    }
    if (close_) fatal(SMTPC_ECLOSING, "service closing: " + describe(r));
    else
        finish(SMTPC_EREPLY,
               (data_final_expected_ > 1 ? "message refused for every recipient: " : "message refused: ") +
                   describe(r));
}

void Engine::on_final_reply(Txn &t, const Pending &p, const Reply &r) {
    auto settle = [&](RecipientResult &rr) {
        rr.data_reply = r;
        rr.state = positive(r) ? SMTPC_RCPT_DELIVERED : SMTPC_RCPT_FAILED;
    };
    if (p.index != kNoIndex) settle(t.result->recipients[p.index]);
    else
        for (auto &rr : t.result->recipients)
            if (rr.state == SMTPC_RCPT_ACCEPTED) settle(rr);
    ++t.final_received;
    if (r.code == 421) close_ = true;
    if (t.final_received < t.final_expected) return;  // LMTP: more recipients' replies to come

    std::size_t delivered = 0;
    for (const auto &rr : t.result->recipients) delivered += rr.state == SMTPC_RCPT_DELIVERED;
    bool ok = t.final_expected > 1 ? delivered > 0 : positive(r);
    if (!t.reply_locked) t.decisive = r;
    if (ok) {
        finish_txn(t, SMTPC_OK, {});
        if (close_) {
            // 421 after an accepted message: what follows it will not be answered.
            for (auto &tp : txns_)
                if (!tp->done) lose(*tp, SMTPC_ECLOSING, "service closing: " + describe(r));
            pending_.clear();
            done_ = true;
        }
        return;
    }
    std::string msg =
        (t.final_expected > 1 ? "message refused for every recipient: " : "message refused: ") + describe(r);
    last_reply_ = r;
    t.reply_locked = true;
    if (close_ || protocol_ == SMTPC_PROTOCOL_LMTP) {
        // LMTP transactions end with the last reply; an RSET would add nothing.
        if (close_)
            txn_fatal(t, SMTPC_EDATA_REFUSED, std::move(msg), SMTPC_ECLOSING,
                      "service closing: " + describe(r));
        else finish_txn(t, SMTPC_EDATA_REFUSED, std::move(msg));
        return;
    }
    t.verdict = SMTPC_EDATA_REFUSED;
    t.verdict_message = std::move(msg);
    end_refused(t);
}

std::size_t Engine::accepted_count(const Result &res) const {
    std::size_t n = 0;
    for (const auto &rr : res.recipients) n += rr.state == SMTPC_RCPT_ACCEPTED;
    return n;
}

void Engine::abandon(Txn &t, smtpc_status status, std::string message, const Reply &decisive) {
    if (t.chunking) stop_chunks(t);
    if (!t.reply_locked) {
        last_reply_ = decisive;
        t.decisive = decisive;
        t.reply_locked = true;
        t.verdict = status;
        t.verdict_message = std::move(message);
    }
    if (decisive.code == 421) {
        txn_fatal(t, t.verdict, t.verdict_message + " (service closing)", SMTPC_ECLOSING,
                  "service closing: " + describe(decisive));
        return;
    }
    if (t.outstanding > 0) return;  // RSET once its whole batch is answered
    end_refused(t);
}

void Engine::end_refused(Txn &t) {
    bool later = false;
    for (auto it = txns_.rbegin(); it != txns_.rend() && it->get() != &t; ++it)
        later = later || (*it)->started;
    if (later) {
        // A later message already went out behind this one: with DATA only once this one's 354 came
        // (its final dot closed the transaction), with BDAT behind an RSET of its own.
        finish_txn(t, t.verdict, t.verdict_message);
        return;
    }
    queue(Cmd::Rset, "RSET\r\n", 0, true, {}, &t);
    t.rset_queued = true;
    advance();  // the next message may follow the RSET
}

void Engine::decide_if_all_refused(Txn &t) {
    if (t.mail_failed || t.reply_locked || accepted_count(*t.result) != 0) return;
    const Reply &last = *t.result->recipients.back().rcpt_reply;
    last_reply_ = last;
    t.decisive = last;
    t.reply_locked = true;
    t.verdict = SMTPC_ERECIPIENTS_REFUSED;
    t.verdict_message =
        "all " + std::to_string(t.result->recipients.size()) + " recipients refused; last: " + describe(last);
}

void Engine::after_rcpts(Txn &t) {
    if (accepted_count(*t.result) == 0) {
        const Reply &last = *t.result->recipients.back().rcpt_reply;
        abandon(t, SMTPC_ERECIPIENTS_REFUSED,
                "all " + std::to_string(t.result->recipients.size()) +
                    " recipients refused; last: " + describe(last),
                last);
        return;
    }
    if (t.chunking) {
        awaiting_body_ = true;
        body_txn_ = &t;
        encoder_.reset();
        encoder_.set_chunked(true);
        chunk_.clear();
    } else {
        queue(Cmd::Data, "DATA\r\n", 0, false, {}, &t);
    }
}

void Engine::on_sendmail_reply(const Pending &p, const Reply &r) {
    Txn &t = *p.txn;
    switch (p.cmd) {
    case Cmd::Mail:
        t.result->mail_reply = r;
        if (r.code != 250) {
            t.mail_failed = true;
            abandon(t, SMTPC_ESENDER_REFUSED, "MAIL FROM refused: " + describe(r), r);
            return;
        }
        if (!t.pipelined) queue(Cmd::Rcpt, t.rcpt_lines[0], 0, false, {}, &t);
        return;
    case Cmd::Rcpt: {
        RecipientResult &rr = t.result->recipients[p.index];
        rr.rcpt_reply = r;
        rr.state = rcpt_accepted(r) ? SMTPC_RCPT_ACCEPTED : SMTPC_RCPT_REFUSED;
        if (r.code == 421) {
            abandon(t, t.mail_failed ? SMTPC_ESENDER_REFUSED : SMTPC_ERECIPIENTS_REFUSED,
                    "RCPT TO refused: " + describe(r), r);
            return;
        }
        // Decided now, not at DATA's reply: a server that closes before it stays decided.
        if (t.pipelined && p.index + 1 == t.rcpt_lines.size()) {
            decide_if_all_refused(t);
            // BDAT: nothing was waiting for a 354; the transaction is over once the chunks sent are answered.
            if (t.chunking && t.reply_locked) {
                stop_chunks(t);
                if (t.outstanding == 0) end_refused(t);
                else advance();  // the next message may go, behind its RSET
                return;
            }
        }
        if (t.pipelined || t.mail_failed) return;
        if (p.index + 1 < t.rcpt_lines.size())
            queue(Cmd::Rcpt, t.rcpt_lines[p.index + 1], p.index + 1, false, {}, &t);
        else after_rcpts(t);
        return;
    }
    case Cmd::Data: {
        decide_if_all_refused(t);
        if (r.code == 354) {
            if (t.reply_locked) {
                // The server waits for a message we must not send; only closing discards the transaction.
                txn_fatal(t, t.verdict,
                          t.verdict_message + " (server accepted DATA anyway; connection closed)",
                          SMTPC_EDISCONNECTED,
                          "the connection was closed after the server accepted DATA for an earlier message "
                          "without recipients");
                return;
            }
            awaiting_body_ = true;
            body_txn_ = &t;
            encoder_.reset();
            encoder_.set_chunked(false);
            return;
        }
        if (!t.reply_locked)
            for (auto &rr : t.result->recipients)
                if (rr.state == SMTPC_RCPT_ACCEPTED) {
                    rr.state = SMTPC_RCPT_FAILED;
                    rr.data_reply = r;
                }
        abandon(t, SMTPC_EDATA_REFUSED, "DATA refused: " + describe(r), r);
        return;
    }
    case Cmd::Bdat:
        if (positive(r) && !t.reply_locked) return;
        if (!t.reply_locked)
            for (auto &rr : t.result->recipients)
                if (rr.state == SMTPC_RCPT_ACCEPTED) {
                    rr.state = SMTPC_RCPT_FAILED;
                    rr.data_reply = r;
                }
        abandon(t, SMTPC_EDATA_REFUSED, "BDAT refused: " + describe(r), r);
        return;
    case Cmd::DataEnd: {
        if (t.chunking && t.reply_locked) {
            // The last chunk of a transaction already refused (MAIL, every RCPT, or an earlier chunk).
            abandon(t, t.verdict, t.verdict_message, r);
            return;
        }
        Pending first = p;
        if (t.chunking && protocol_ == SMTPC_PROTOCOL_LMTP && !t.lmtp_expanded) {
            // LMTP (RFC 2033 section 4.2 with RFC 3030): one reply per accepted recipient, in RCPT order.
            t.lmtp_expanded = true;
            std::vector<std::size_t> accepted;
            for (std::size_t i = 0; i < t.result->recipients.size(); ++i)
                if (t.result->recipients[i].state == SMTPC_RCPT_ACCEPTED) accepted.push_back(i);
            if (!accepted.empty()) {
                first.index = accepted[0];
                for (std::size_t k = accepted.size(); k-- > 1;) {
                    pending_.push_front({Cmd::DataEnd, accepted[k], false, p.sent_at, &t});
                    ++t.outstanding;
                }
                t.final_expected = accepted.size();
            }
        }
        on_final_reply(t, first, r);
        return;
    }
    case Cmd::Rset:
        if (p.index == 1) {
            // The guard ahead of a MAIL in a BDAT window: only a closing server matters here.
            if (r.code == 421)
                txn_fatal(t, SMTPC_ECLOSING, "service closing: " + describe(r), SMTPC_ECLOSING,
                          "service closing: " + describe(r));
            return;
        }
        if (r.code == 421) close_ = true;
        finish_txn(t, t.verdict, t.verdict_message);
        if (close_) {
            for (auto &tp : txns_)
                if (!tp->done) lose(*tp, SMTPC_ECLOSING, "service closing: " + describe(r));
            pending_.clear();
            done_ = true;
        }
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
