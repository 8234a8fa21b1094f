// SPDX-License-Identifier: MIT
// fuzz_session: the whole session engine over in-memory bytes, as the blocking client drives it.
//
// Input: byte 0 = flags, byte 1 = chunk seed, then fields separated by "\n#\n":
//   sender, recipients (space-separated), mail options (space-separated), message body, and then
//   any number of server chunks: each chunk is what one read returns. When they run out the server
//   closes the connection (flag bit 2: the read times out instead).
// Flags: bit 0 LMTP; bit 1 pipelining allowed; bit 2 time out instead of EOF; bit 3 a second
// transaction after the first; bit 4 deliver server bytes while output is pending (the client reads
// when the socket turns readable during a write); bit 5 QUIT at the end; bit 6 low-level
// MAIL/RCPT/DATA instead of sendmail for the second transaction.
// The driver runs greeting, EHLO (HELO if refused), sendmail to every recipient, and more.
// Oracles: every command line is one line of at most 2048 octets (512 unless MAIL/RCPT) with no
// bare CR, LF or NUL; the DATA stream has no bare CR or LF, is dot-stuffed and ends with exactly one
// terminator; sendmail never sends a message when no recipient is accepted, and the low-level
// DATA (which, like smtplib's data(), does not look at the RCPT replies) only after a 354; nothing is
// sent after the
// engine asked for the connection to be closed or after a fatal error; the engine never waits for a
// reply to no command (no queue underflow) and ends an operation that keeps the connection with no
// reply outstanding and nothing queued unsent; a reply line read in the same read after a command
// was queued (a reply to a command not yet written) is refused; the bytes written are exactly those
// traced; SMTPC_OK from sendmail means at least one recipient delivered; every operation terminates.
#include "fuzz_common.hpp"
#include "proto/engine.hpp"

#include <cstdint>
#include <deque>
#include <vector>

namespace d = smtpc::detail;

namespace {

bool debug() {
    static const bool on = [] {
        const char *v = std::getenv("FUZZ_SESSION_DEBUG");
        return v && *v == '1';
    }();
    return on;
}

struct Tracer final : d::TraceSink {
    std::string traced;  // every SEND and DATA byte, in order
    std::string data;    // the DATA stream of the current message
    bool in_data = false;
    // Within one received() call: a command was queued, then another reply line was read. That
    // line can only be unsolicited (fatal) or taken as the reply to a command not yet sent.
    bool in_receive = false, sent_in_receive = false, read_after_send = false;
    void trace(smtpc_trace_kind kind, std::string_view text) override {
        if (debug()) std::fprintf(stderr, "  trace %d: %s\n", kind, fuzz::escape(text, 400).c_str());
        if (kind == SMTPC_TRACE_RECV && in_receive && sent_in_receive) read_after_send = true;
        if (kind == SMTPC_TRACE_SEND) {
            if (in_receive) sent_in_receive = true;
            FUZZ_CHECK(!in_data, "command line '%s' inside the DATA stream", fuzz::escape(text).c_str());
            FUZZ_CHECK(text.size() >= 2 && text.size() <= d::kMaxCommandLineWithParams,
                       "command line of %zu octets", text.size());
            bool path_cmd = text.compare(0, 10, "MAIL FROM:") == 0 || text.compare(0, 8, "RCPT TO:") == 0;
            FUZZ_CHECK(path_cmd || text.size() <= d::kMaxCommandLine, "command line of %zu octets: '%s'",
                       text.size(), fuzz::escape(text).c_str());
            FUZZ_CHECK(text.compare(text.size() - 2, 2, "\r\n") == 0, "no CRLF after '%s'",
                       fuzz::escape(text).c_str());
            FUZZ_CHECK(text.find_first_of(std::string("\r\n\0", 3)) == text.size() - 2,
                       "bare CR, LF or NUL in command line '%s'", fuzz::escape(text).c_str());
        } else if (kind == SMTPC_TRACE_DATA) {
            in_data = true;
            data.append(text);
        } else {
            return;
        }
        traced.append(text);
    }
    // Called when the driver ended the message: the stream must end with one terminator.
    void end_data() {
        FUZZ_CHECK(in_data, "no DATA stream traced for the message");
        FUZZ_CHECK(data.size() >= 5 && data.compare(data.size() - 5, 5, "\r\n.\r\n") == 0,
                   "DATA stream '%s' without its terminator", fuzz::escape(data).c_str());
        FUZZ_CHECK(fuzz::no_bare_cr_lf(data), "bare CR or LF in the DATA stream '%s'",
                   fuzz::escape(data).c_str());
        std::string_view rest(data.data(), data.size() - 3);
        while (!rest.empty()) {
            std::size_t eol = rest.find("\r\n");
            std::string_view line = rest.substr(0, eol);
            FUZZ_CHECK(line.empty() || line[0] != '.' || (line.size() > 1 && line[1] == '.'),
                       "unstuffed line '%s' in the DATA stream", fuzz::escape(line).c_str());
            FUZZ_CHECK(line != ".", "terminator before the end of the DATA stream");
            rest.remove_prefix(eol + 2);
        }
        in_data = false;
        data.clear();
    }
};

// Sizes of writes and body blocks, and whether to read while writing: a small PRNG seeded by the input.
class Rng {
  public:
    explicit Rng(std::uint8_t seed = 0) : x_(0x9e3779b9u ^ (seed * 0x01000193u)) {}
    std::size_t next() {
        x_ ^= x_ << 13;
        x_ ^= x_ >> 17;
        x_ ^= x_ << 5;
        return 1 + (x_ >> 8) % 97;
    }

  private:
    std::uint32_t x_;
};

struct Input {
    std::uint8_t flags = 0;
    Rng chunks;
    std::string sender, rcpts, options, body;
    std::deque<std::string_view> server;
};

class Driver {
  public:
    Driver(const Input &in) : in_(in), engine_(in.flags & 1 ? SMTPC_PROTOCOL_LMTP : SMTPC_PROTOCOL_SMTP) {
        engine_.set_trace(&tracer_);
    }

    void run() {
        engine_.begin_connection();
        if (pump(nullptr) != SMTPC_OK) return;
        if (!hello()) return;
        d::Envelope env = envelope();
        if (!sendmail(env)) return;
        if (in_.flags & 8) {
            bool ok = (in_.flags & 64) ? lowlevel(env) : sendmail(env);
            if (!ok) return;
        }
        if (in_.flags & 32) command(d::Cmd::Quit, "QUIT\r\n");
    }

  private:
    bool connected() const { return open_; }

    // `body`: the message, for sendmail (`sendmail` set) or the low-level DATA.
    smtpc_status pump(std::string_view *body, bool sendmail = false) {
        std::size_t guard = 0;
        for (;;) {
            FUZZ_CHECK(++guard < 1000000, "operation does not terminate");
            check_state();
            d::Engine::Want want = engine_.want();
            if (want == d::Engine::Want::Done) break;
            FUZZ_CHECK(open_, "engine wants to go on after the connection was closed");
            if (want == d::Engine::Want::Write) {
                if ((in_.flags & 16) && engine_.expects_reply() && !in_.server.empty() &&
                    (in_.chunks.next() & 1)) {
                    deliver();
                    continue;
                }
                std::string_view out = engine_.output();
                FUZZ_CHECK(!out.empty(), "Write wanted with nothing to write");
                std::size_t n = in_.chunks.next() * 7;  // 7..679
                if (n > out.size()) n = out.size();
                wire_.append(out.substr(0, n));
                if (debug())
                    std::fprintf(stderr, "  write: %s\n", fuzz::escape(out.substr(0, n), 400).c_str());
                engine_.output_written(n);
            } else if (want == d::Engine::Want::Body) {
                FUZZ_CHECK(body != nullptr, "body wanted outside DATA");
                if (sendmail) check_some_accepted();
                else check_data_accepted();
                if (body->empty()) {
                    engine_.body_end();
                    tracer_.end_data();
                } else {
                    std::size_t n = in_.chunks.next() * 3;
                    if (n > body->size()) n = body->size();
                    engine_.body(body->data(), n);
                    body->remove_prefix(n);
                }
            } else {
                FUZZ_CHECK(engine_.expects_reply(), "engine waits for a reply with no command outstanding");
                deliver();
            }
        }
        // The bytes written are exactly the start of those traced (queued) so far.
        std::string &traced = tracer_.traced;
        FUZZ_CHECK(wire_.size() <= traced.size() && traced.compare(0, wire_.size(), wire_) == 0,
                   "written bytes differ from the traced ones");
        smtpc_status st = engine_.status();
        if (debug())
            std::fprintf(stderr, "  done: status %d close %d '%s'\n", st, engine_.must_close(),
                         engine_.message().c_str());
        if (engine_.must_close()) {
            open_ = false;
            engine_.end_connection();
        } else {
            FUZZ_CHECK(!engine_.expects_reply(), "operation ended (status %d) with replies outstanding", st);
            // Every queued byte was written: no reply was taken as the answer to a command that had
            // not gone out (see fuzz/README.md, "Findings").
            FUZZ_CHECK(wire_.size() == traced.size(),
                       "operation ended (status %d) with %zu queued bytes unsent", st,
                       traced.size() - wire_.size());
        }
        return st;
    }

    void deliver() {
        if (in_.server.empty()) {
            if (in_.flags & 4) engine_.failed(SMTPC_ETIMEOUT, "timed out");
            else engine_.received_eof();
            return;
        }
        std::string_view chunk = in_.server.front();
        in_.server.pop_front();
        if (debug()) std::fprintf(stderr, "  server: %s\n", fuzz::escape(chunk, 400).c_str());
        tracer_.in_receive = true;
        tracer_.sent_in_receive = tracer_.read_after_send = false;
        engine_.received(chunk.data(), chunk.size());
        tracer_.in_receive = false;
        // A reply to a command not yet written is refused (see the unsent-bytes check in pump()).
        FUZZ_CHECK(!tracer_.read_after_send || (engine_.must_close() && engine_.status() == SMTPC_EPROTOCOL),
                   "a reply line read after a command was queued in the same read was not refused");
    }

    void check_state() {
        // Once the connection must close, nothing more is sent. (LMTP: after a 421 for one recipient
        // the engine still reads the other recipients' replies, so Read is allowed.)
        if (engine_.must_close()) {
            d::Engine::Want w = engine_.want();
            FUZZ_CHECK(w == d::Engine::Want::Done || w == d::Engine::Want::Read, "must_close but wants to %s",
                       w == d::Engine::Want::Write ? "write" : "send body");
        }
    }

    void check_some_accepted() {
        const d::Result *r = engine_.result();
        std::size_t accepted = 0;
        if (r)
            for (const auto &rr : r->recipients) accepted += rr.state == SMTPC_RCPT_ACCEPTED;
        FUZZ_CHECK(accepted > 0 || (r && r->recipients.empty()),
                   "message body asked for with no recipient accepted");
    }

    // The low-level DATA sends the body once the server said 354, whatever the RCPT replies were
    // (smtplib's data() does the same; the caller decides): the result of an earlier sendmail says
    // nothing about it.
    void check_data_accepted() {
        const d::Reply *r = engine_.last_reply();
        FUZZ_CHECK(r && r->code == 354, "message body asked for without a 354 reply to DATA");
    }

    smtpc_status command(d::Cmd cmd, std::string line, std::string_view rcpt = {}) {
        FUZZ_CHECK(open_, "command on a closed connection");
        d::Check c = engine_.begin_command(cmd, std::move(line), rcpt);
        if (!c) return c.status;
        return pump(nullptr);
    }

    bool hello() {
        bool lmtp = in_.flags & 1;
        smtpc_status st = command(d::Cmd::Ehlo, lmtp ? "LHLO client.example\r\n" : "EHLO client.example\r\n");
        if (!open_) return false;
        if (st == SMTPC_OK && engine_.last_reply() && engine_.last_reply()->code / 100 == 2) return true;
        if (lmtp) return false;
        st = command(d::Cmd::Helo, "HELO client.example\r\n");
        return open_ && st == SMTPC_OK;
    }

    d::Envelope envelope() {
        d::Envelope env;
        if (!d::parse_address(in_.sender, true, env.sender)) env.sender = d::Address{};
        std::string_view r(in_.rcpts);
        while (!r.empty() && env.recipients.size() < 100) {
            std::size_t sp = r.find(' ');
            d::Address a;
            if (d::parse_address(r.substr(0, sp), false, a)) env.recipients.push_back(a);
            if (sp == std::string_view::npos) break;
            r.remove_prefix(sp + 1);
        }
        if (env.recipients.empty()) {
            d::Address a;
            d::parse_address("rcpt@example.org", false, a);
            env.recipients.push_back(a);
        }
        std::vector<std::string> opts;
        if (d::parse_options(in_.options, opts))
            for (auto &o : opts)
                if (!d::option_is(o, "SIZE")) env.mail_options.push_back(o);
        return env;
    }

    bool sendmail(const d::Envelope &env) {
        if (!open_) return false;
        bool pipelining = in_.flags & 2;
        std::uint64_t size = d::DataEncoder::normalized_size(in_.body.data(), in_.body.size());
        d::Check c = engine_.begin_sendmail(env, size, pipelining);
        if (!c) return true;  // refused before anything was sent (e.g. SMTPUTF8 not offered)
        std::string_view body(in_.body);
        smtpc_status st = pump(&body, true);
        check_result(st);
        return open_;
    }

    bool lowlevel(const d::Envelope &env) {
        if (!open_) return false;
        std::string line;
        if (!engine_.build_mail(env.sender, env.mail_options, line)) return true;
        if (command(d::Cmd::Mail, line) != SMTPC_OK || !open_) return open_;
        for (const auto &r : env.recipients) {
            if (!engine_.build_rcpt(r, env.rcpt_options, true, line)) continue;
            command(d::Cmd::Rcpt, line, r.value);
            if (!open_) return false;
        }
        if (!engine_.begin_data()) return true;
        std::string_view body(in_.body);
        pump(&body);
        return open_;
    }

    void check_result(smtpc_status st) {
        const d::Result *r = engine_.result();
        FUZZ_CHECK(r != nullptr, "no result after sendmail");
        std::size_t delivered = 0;
        for (const auto &rr : r->recipients) delivered += rr.state == SMTPC_RCPT_DELIVERED;
        if (st == SMTPC_OK) FUZZ_CHECK(delivered > 0, "SMTPC_OK with no recipient delivered");
        if (delivered > 0)
            FUZZ_CHECK(st == SMTPC_OK || st == SMTPC_EDELIVERY_UNKNOWN || st == SMTPC_EPROTOCOL ||
                           st == SMTPC_EDISCONNECTED || st == SMTPC_ETIMEOUT,
                       "%zu delivered yet status %d", delivered, st);
    }

    Input in_;
    d::Engine engine_;
    Tracer tracer_;
    std::string wire_;
    bool open_ = true;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    if (size < 2) return 0;
    Input in;
    in.flags = data[0];
    in.chunks = Rng(data[1]);
    std::string_view rest(reinterpret_cast<const char *>(data + 2), size - 2);
    std::vector<std::string_view> fields;
    static constexpr std::string_view kSep = "\n#\n";
    for (;;) {
        std::size_t p = rest.find(kSep);
        fields.push_back(rest.substr(0, p));
        if (p == std::string_view::npos) break;
        rest.remove_prefix(p + kSep.size());
    }
    if (fields.size() < 5) return 0;
    in.sender = fields[0];
    in.rcpts = fields[1];
    in.options = fields[2];
    in.body = fields[3];
    for (std::size_t i = 4; i < fields.size(); ++i) in.server.push_back(fields[i]);
    Driver(in).run();
    return 0;
}
