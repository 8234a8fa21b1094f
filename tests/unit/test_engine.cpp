// SPDX-License-Identifier: MIT
// Unit tests of the sans-IO session engine (src/proto/engine.*): transcripts driven as the blocking
// client (src/client/client.cpp) drives it: begin_*(), then want() answered with output()/
// output_written(), received()/received_eof(), body()/body_end() or failed(), until Done.
//
// Every test checks the exact bytes the engine asks to write, the status and message, must_close(),
// last_reply() and the per-recipient result.
#include "proto/engine.hpp"

#include "unit_common.hpp"

#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

using smtpc::detail::Address;
using smtpc::detail::Check;
using smtpc::detail::Cmd;
using smtpc::detail::Engine;
using smtpc::detail::Envelope;
using smtpc::detail::Reply;
using smtpc::detail::Result;
using Want = smtpc::detail::Engine::Want;

namespace {

// -------------------------------------------------------------------------------------------------
// Driver helpers. Each takes the caller's file and line so a failure points at the test.

const char *want_name(Want w) {
    switch (w) {
    case Want::Write: return "Write";
    case Want::Read: return "Read";
    case Want::Body: return "Body";
    case Want::Done: return "Done";
    }
    return "?";
}

void expect_want(const Engine &e, Want w, const char *file, int line) {
    if (e.want() == w) return;
    print_error("want() is %s, expected %s (status %s \"%s\", pending output \"%s\")\n", want_name(e.want()),
                want_name(w), smtpc_status_name(e.status()), e.message().c_str(),
                unit::escaped(e.output()).c_str());
    _fail(file, line);
}
#define EXPECT_WANT(e, w) expect_want((e), (w), __FILE__, __LINE__)

// The engine wants to write exactly `bytes`; they are then marked written.
void expect_output(Engine &e, std::string_view bytes, const char *file, int line) {
    expect_want(e, Want::Write, file, line);
    if (e.output() != bytes) {
        print_error("output differs\n  actual:   \"%s\"\n  expected: \"%s\"\n",
                    unit::escaped(e.output()).c_str(), unit::escaped(bytes).c_str());
        _fail(file, line);
    }
    e.output_written(bytes.size());
}
#define EXPECT_OUTPUT(e, bytes) expect_output((e), (bytes), __FILE__, __LINE__)

// The engine waits for a reply; `bytes` arrive.
void feed(Engine &e, std::string_view bytes, const char *file, int line) {
    expect_want(e, Want::Read, file, line);
    e.received(bytes.data(), bytes.size());
}
#define FEED(e, bytes) feed((e), (bytes), __FILE__, __LINE__)

void expect_status(const Engine &e, smtpc_status st, std::string_view message, const char *file, int line) {
    expect_want(e, Want::Done, file, line);
    if (e.status() != st || e.message() != message) {
        print_error("status %s \"%s\"\n  expected %s \"%s\"\n", smtpc_status_name(e.status()),
                    e.message().c_str(), smtpc_status_name(st), std::string(message).c_str());
        _fail(file, line);
    }
}
#define EXPECT_STATUS(e, st, msg) expect_status((e), (st), (msg), __FILE__, __LINE__)

void expect_reply(const Reply *r, int code, std::string_view text, const char *what, const char *file,
                  int line) {
    if (!r) {
        print_error("%s: no reply, expected %d \"%s\"\n", what, code, std::string(text).c_str());
        _fail(file, line);
        return;
    }
    if (r->code != code || r->text != text) {
        print_error("%s: reply %d \"%s\", expected %d \"%s\"\n", what, r->code,
                    unit::escaped(r->text).c_str(), code, unit::escaped(text).c_str());
        _fail(file, line);
    }
}
#define EXPECT_LAST_REPLY(e, code, text) \
    expect_reply((e).last_reply(), (code), (text), "last_reply", __FILE__, __LINE__)
#define EXPECT_REPLY(r, code, text) expect_reply((r), (code), (text), #r, __FILE__, __LINE__)

const char *state_name(smtpc_rcpt_state s) {
    switch (s) {
    case SMTPC_RCPT_NOT_ATTEMPTED: return "NOT_ATTEMPTED";
    case SMTPC_RCPT_REFUSED: return "REFUSED";
    case SMTPC_RCPT_ACCEPTED: return "ACCEPTED";
    case SMTPC_RCPT_DELIVERED: return "DELIVERED";
    case SMTPC_RCPT_FAILED: return "FAILED";
    case SMTPC_RCPT_UNKNOWN: return "UNKNOWN";
    }
    return "?";
}

void expect_states(const Engine &e, std::initializer_list<smtpc_rcpt_state> states, const char *file,
                   int line) {
    const Result *res = e.result();
    if (!res) {
        print_error("no result\n");
        _fail(file, line);
        return;
    }
    std::string got, want;
    for (const auto &r : res->recipients) got += std::string(state_name(r.state)) + " ";
    for (smtpc_rcpt_state s : states) want += std::string(state_name(s)) + " ";
    if (got != want) {
        print_error("recipient states: %s\n  expected:        %s\n", got.c_str(), want.c_str());
        _fail(file, line);
    }
}
#define EXPECT_STATES(e, ...) expect_states((e), {__VA_ARGS__}, __FILE__, __LINE__)

const smtpc::detail::RecipientResult &rcpt(const Engine &e, std::size_t i) {
    assert_non_null(e.result());
    assert_true(i < e.result()->recipients.size());
    return e.result()->recipients[i];
}

Envelope envelope(std::string_view sender, std::initializer_list<std::string_view> rcpts,
                  std::vector<std::string> mail_options = {}, std::vector<std::string> rcpt_options = {}) {
    Envelope env;
    if (Check c = smtpc::detail::parse_address(sender, true, env.sender); !c)
        fail_msg("bad test sender: %s", c.message.c_str());
    for (std::string_view r : rcpts) {
        Address a;
        if (Check c = smtpc::detail::parse_address(r, false, a); !c)
            fail_msg("bad test recipient: %s", c.message.c_str());
        env.recipients.push_back(a);
    }
    env.mail_options = std::move(mail_options);
    env.rcpt_options = std::move(rcpt_options);
    return env;
}

void expect_started(const Check &c, const char *file, int line) {
    if (c) return;
    print_error("operation refused to start: %s \"%s\"\n", smtpc_status_name(c.status), c.message.c_str());
    _fail(file, line);
}
#define EXPECT_STARTED(check) expect_started((check), __FILE__, __LINE__)

// Collects the INFO lines the engine traces, one per line.
struct TraceLog final : smtpc::detail::TraceSink {
    std::string info;
    void trace(smtpc_trace_kind kind, std::string_view text) override {
        if (kind == SMTPC_TRACE_INFO) info.append(text).append("\n");
    }
};

const char kGreeting[] = "220 mx.example.org ESMTP\r\n";
const char kEhloPipelining[] = "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE "
                               "10240000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";
const char kEhloNoPipelining[] = "250-mx.example.org\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n";
const char kEhloNoSize[] = "250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
const char kEhloUtf8[] = "250-mx.example.org\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n";

void connect(Engine &e) {
    e.begin_connection();
    FEED(e, kGreeting);
    EXPECT_STATUS(e, SMTPC_OK, "");
}

// Greeting, then EHLO (LHLO for LMTP) answered with `reply`.
void connect_ehlo(Engine &e, std::string_view reply) {
    connect(e);
    bool lmtp = e.protocol() == SMTPC_PROTOCOL_LMTP;
    EXPECT_STARTED(e.begin_command(Cmd::Ehlo, lmtp ? "LHLO client.example\r\n" : "EHLO client.example\r\n"));
    EXPECT_OUTPUT(e, lmtp ? "LHLO client.example\r\n" : "EHLO client.example\r\n");
    FEED(e, reply);
    EXPECT_STATUS(e, SMTPC_OK, "");
    assert_true(e.does_esmtp());
}

void connect_helo(Engine &e) {
    connect(e);
    EXPECT_STARTED(e.begin_command(Cmd::Helo, "HELO client.example\r\n"));
    EXPECT_OUTPUT(e, "HELO client.example\r\n");
    FEED(e, "250 mx.example.org\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    assert_false(e.does_esmtp());
}

// After 354: supply `body` in one block and end it; the engine writes `wire` (the dot-stuffed body and
// the terminator, possibly in several writes).
void send_body(Engine &e, std::string_view body, std::string_view wire, const char *file, int line) {
    expect_want(e, Want::Body, file, line);
    std::string written;
    if (!body.empty()) {
        e.body(body.data(), body.size());
        while (e.want() == Want::Write) {
            written.append(e.output());
            e.output_written(e.output().size());
        }
        expect_want(e, Want::Body, file, line);
    }
    e.body_end();
    while (e.want() == Want::Write) {
        written.append(e.output());
        e.output_written(e.output().size());
    }
    if (written != wire) {
        print_error("message bytes differ\n  actual:   \"%s\"\n  expected: \"%s\"\n",
                    unit::escaped(written).c_str(), unit::escaped(wire).c_str());
        _fail(file, line);
    }
    expect_want(e, Want::Read, file, line);
}
#define SEND_BODY(e, body, wire) send_body((e), (body), (wire), __FILE__, __LINE__)

// -------------------------------------------------------------------------------------------------
// Greeting

void test_greeting_ok(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    std::uint64_t step = e.step();
    e.begin_connection();
    assert_true(e.step() > step);
    EXPECT_WANT(e, Want::Read);
    EXPECT_BYTES(e.output(), "");
    assert_true(e.expects_reply());
    FEED(e, "220 mx.example.org ESMTP ready\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    assert_false(e.must_close());
    assert_false(e.expects_reply());
    EXPECT_LAST_REPLY(e, 220, "mx.example.org ESMTP ready");
    assert_false(e.does_esmtp());
    assert_null(e.helo_reply());
    assert_null(e.ehlo_reply());
    assert_null(e.result());

    // The same greeting one byte at a time.
    Engine b(SMTPC_PROTOCOL_SMTP);
    b.begin_connection();
    std::string_view g = "220-mx.example.org\r\n220 ESMTP ready\r\n";
    for (std::size_t i = 0; i < g.size(); ++i) FEED(b, g.substr(i, 1));
    EXPECT_STATUS(b, SMTPC_OK, "");
    EXPECT_LAST_REPLY(b, 220, "mx.example.org\nESMTP ready");
}

void test_greeting_refused(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    e.begin_connection();
    FEED(e, "554 5.3.2 No service here\r\n");
    EXPECT_STATUS(e, SMTPC_EGREETING, "greeting refused: 554 5.3.2 No service here");
    assert_true(e.must_close());
    EXPECT_LAST_REPLY(e, 554, "5.3.2 No service here");
    assert_string_equal(e.last_reply()->enhanced.c_str(), "5.3.2");

    Engine m(SMTPC_PROTOCOL_SMTP);
    m.begin_connection();
    FEED(m, "554-mx.example.org\r\n554 go away\r\n");
    EXPECT_STATUS(m, SMTPC_EGREETING, "greeting refused: 554 mx.example.org / go away");
    assert_true(m.must_close());

    Engine c(SMTPC_PROTOCOL_SMTP);
    c.begin_connection();
    FEED(c, "421 4.3.2 busy\r\n");
    EXPECT_STATUS(c, SMTPC_EGREETING, "greeting refused: 421 4.3.2 busy");
    assert_true(c.must_close());

    // A new connection on the same engine starts clean.
    c.begin_connection();
    assert_false(c.must_close());
    assert_null(c.last_reply());
    FEED(c, kGreeting);
    EXPECT_STATUS(c, SMTPC_OK, "");
}

void test_greeting_protocol_errors(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    e.begin_connection();
    FEED(e, "220 mx ready\n");
    EXPECT_STATUS(e, SMTPC_EPROTOCOL, "invalid reply from the server: bare LF in reply");
    assert_true(e.must_close());
    assert_null(e.last_reply());

    e.begin_connection();
    FEED(e, "220Go\r\n");
    EXPECT_STATUS(e, SMTPC_EPROTOCOL, "invalid reply from the server: malformed reply line (bad separator)");
    assert_true(e.must_close());

    // A second reply in the same segment as the greeting (A.1-style injection).
    e.begin_connection();
    FEED(e, "220 mx ready\r\n250 extra\r\n");
    EXPECT_STATUS(e, SMTPC_EPROTOCOL, "unexpected data from the server after its reply");
    assert_true(e.must_close());

    // A partial line after it counts too (nodemailer #1835 case).
    e.begin_connection();
    FEED(e, "220 mx ready\r\n250-AUTH PLAIN");
    EXPECT_STATUS(e, SMTPC_EPROTOCOL, "unexpected data from the server after its reply");
    assert_true(e.must_close());

    e.begin_connection();
    e.received_eof();
    EXPECT_STATUS(e, SMTPC_EDISCONNECTED, "connection closed by the server");
    assert_true(e.must_close());

    // "250" then EOF: a reply cut short (B.15).
    e.begin_connection();
    FEED(e, "220");
    EXPECT_WANT(e, Want::Read);
    e.received_eof();
    EXPECT_STATUS(e, SMTPC_EDISCONNECTED, "connection closed by the server in the middle of a reply");
    assert_true(e.must_close());

    e.begin_connection();
    e.failed(SMTPC_ETIMEOUT, "timed out waiting for the greeting");
    EXPECT_STATUS(e, SMTPC_ETIMEOUT, "timed out waiting for the greeting");
    assert_true(e.must_close());
}

// -------------------------------------------------------------------------------------------------
// EHLO / HELO

void test_ehlo_fills_features(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect(e);
    EXPECT_STARTED(e.begin_command(Cmd::Ehlo, "EHLO client.example\r\n"));
    EXPECT_OUTPUT(e, "EHLO client.example\r\n");
    EXPECT_WANT(e, Want::Read);
    FEED(e, "250-mx.example.org Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH PLAIN\r\n"
            "250-AUTH=LOGIN\r\n250 8BITMIME\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    assert_true(e.does_esmtp());
    assert_false(e.must_close());
    EXPECT_REPLY(e.ehlo_reply(), 250,
                 "mx.example.org Hello\nPIPELINING\nSIZE 10240000\nAUTH PLAIN\nAUTH=LOGIN\n8BITMIME");
    EXPECT_LAST_REPLY(e, 250,
                      "mx.example.org Hello\nPIPELINING\nSIZE 10240000\nAUTH PLAIN\nAUTH=LOGIN\n8BITMIME");
    assert_null(e.helo_reply());
    assert_int_equal(e.features().size(), 4);
    assert_true(e.features().has("PIPELINING"));
    EXPECT_BYTES(*e.features().params("size"), "10240000");
    EXPECT_BYTES(*e.features().params("AUTH"), " PLAIN LOGIN");
    assert_true(e.features().has("8bitmime"));
}

void test_ehlo_refused_then_helo(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect(e);
    EXPECT_STARTED(e.begin_command(Cmd::Ehlo, "EHLO client.example\r\n"));
    EXPECT_OUTPUT(e, "EHLO client.example\r\n");
    FEED(e, "502 5.5.2 Error: command not recognized\r\n");
    EXPECT_STATUS(e, SMTPC_EREPLY, "EHLO failed: 502 5.5.2 Error: command not recognized");
    assert_false(e.must_close());
    assert_false(e.does_esmtp());
    assert_int_equal(e.features().size(), 0);
    EXPECT_REPLY(e.ehlo_reply(), 502, "5.5.2 Error: command not recognized");

    EXPECT_STARTED(e.begin_command(Cmd::Helo, "HELO client.example\r\n"));
    EXPECT_OUTPUT(e, "HELO client.example\r\n");
    FEED(e, "250 mx.example.org\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    EXPECT_REPLY(e.helo_reply(), 250, "mx.example.org");
    assert_false(e.does_esmtp());

    // end_connection forgets HELO/EHLO state.
    e.end_connection();
    assert_null(e.helo_reply());
    assert_null(e.ehlo_reply());
    assert_false(e.does_esmtp());
}

void test_lhlo(void **) {
    Engine e(SMTPC_PROTOCOL_LMTP);
    connect_ehlo(e, kEhloPipelining);
    assert_true(e.features().has("pipelining"));
    Engine r(SMTPC_PROTOCOL_LMTP);
    connect(r);
    EXPECT_STARTED(r.begin_command(Cmd::Ehlo, "LHLO client.example\r\n"));
    EXPECT_OUTPUT(r, "LHLO client.example\r\n");
    FEED(r, "500 5.5.1 what\r\n");
    EXPECT_STATUS(r, SMTPC_EREPLY, "LHLO failed: 500 5.5.1 what");
}

// -------------------------------------------------------------------------------------------------
// sendmail: pipelined and lock-step batches

const char kBatchMixed[] = "MAIL FROM:<a@x.org> SIZE=123\r\n"
                           "RCPT TO:<b@y.org>\r\n"
                           "RCPT TO:<c@y.org>\r\n"
                           "RCPT TO:<d@y.org>\r\n"
                           "RCPT TO:<e@y.org>\r\n"
                           "DATA\r\n";
const char kRepliesMixed[] = "250 2.1.0 Ok\r\n"
                             "250 2.1.5 Ok\r\n"
                             "251 2.1.5 User not local; will forward\r\n"
                             "550 5.1.1 <d@y.org>: Recipient address rejected\r\n"
                             "452 4.2.2 Mailbox full\r\n"
                             "354 End data with <CR><LF>.<CR><LF>\r\n";

Envelope mixed_envelope() { return envelope("<a@x.org>", {"b@y.org", "<c@y.org>", "d@y.org", "e@y.org"}); }

// After the mixed batch's replies: states and replies as recorded, then the message and a final 250.
void finish_mixed(Engine &e) {
    EXPECT_WANT(e, Want::Body);
    EXPECT_STATES(e, SMTPC_RCPT_ACCEPTED, SMTPC_RCPT_ACCEPTED, SMTPC_RCPT_REFUSED, SMTPC_RCPT_REFUSED);
    EXPECT_REPLY(&*e.result()->mail_reply, 250, "2.1.0 Ok");
    EXPECT_REPLY(&*rcpt(e, 0).rcpt_reply, 250, "2.1.5 Ok");
    EXPECT_REPLY(&*rcpt(e, 1).rcpt_reply, 251, "2.1.5 User not local; will forward");
    EXPECT_REPLY(&*rcpt(e, 2).rcpt_reply, 550, "5.1.1 <d@y.org>: Recipient address rejected");
    EXPECT_REPLY(&*rcpt(e, 3).rcpt_reply, 452, "4.2.2 Mailbox full");
    EXPECT_BYTES(rcpt(e, 2).rcpt_reply->enhanced, "5.1.1");
    EXPECT_BYTES(rcpt(e, 0).address, "b@y.org");
    EXPECT_BYTES(rcpt(e, 1).address, "<c@y.org>");  // as the caller gave it (smtpc_result_recipient)
    SEND_BODY(e, "Subject: t\r\n\r\n.hidden\r\nend", "Subject: t\r\n\r\n..hidden\r\nend\r\n.\r\n");
    FEED(e, "250 2.0.0 Ok: queued as ABC123\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    assert_false(e.must_close());
    EXPECT_STATES(e, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_REFUSED, SMTPC_RCPT_REFUSED);
    EXPECT_REPLY(&*rcpt(e, 0).data_reply, 250, "2.0.0 Ok: queued as ABC123");
    EXPECT_REPLY(&*rcpt(e, 1).data_reply, 250, "2.0.0 Ok: queued as ABC123");
    assert_false(rcpt(e, 2).data_reply.has_value());
    assert_false(rcpt(e, 3).data_reply.has_value());
    EXPECT_LAST_REPLY(e, 250, "2.0.0 Ok: queued as ABC123");
}

void test_sendmail_pipelined_batch(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_sendmail(mixed_envelope(), 123, true));
    // MAIL, every RCPT and DATA in one write, before any reply.
    EXPECT_OUTPUT(e, kBatchMixed);
    EXPECT_WANT(e, Want::Read);
    assert_true(e.expects_reply());
    EXPECT_STATES(e, SMTPC_RCPT_NOT_ATTEMPTED, SMTPC_RCPT_NOT_ATTEMPTED, SMTPC_RCPT_NOT_ATTEMPTED,
                  SMTPC_RCPT_NOT_ATTEMPTED);
    FEED(e, kRepliesMixed);
    finish_mixed(e);
}

// The reply batch fed whole, byte by byte, and split in two at every position: the same outcome.
void test_sendmail_pipelined_splits(void **) {
    std::string_view replies = SV(kRepliesMixed);
    for (std::size_t mode = 0; mode <= replies.size() + 1; ++mode) {
        Engine e(SMTPC_PROTOCOL_SMTP);
        connect_ehlo(e, kEhloPipelining);
        EXPECT_STARTED(e.begin_sendmail(mixed_envelope(), 123, true));
        EXPECT_OUTPUT(e, kBatchMixed);
        if (mode == replies.size() + 1) {
            for (std::size_t i = 0; i < replies.size(); ++i) FEED(e, replies.substr(i, 1));
        } else {
            if (mode > 0) FEED(e, replies.substr(0, mode));
            if (mode < replies.size()) FEED(e, replies.substr(mode));
        }
        finish_mixed(e);
    }
}

void test_sendmail_lockstep(void **) {
    // The server does not offer PIPELINING: one command, one reply.
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloNoPipelining);
    EXPECT_STARTED(e.begin_sendmail(mixed_envelope(), 123, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=123\r\n");
    EXPECT_WANT(e, Want::Read);
    FEED(e, "250 2.1.0 Ok\r\n");
    EXPECT_OUTPUT(e, "RCPT TO:<b@y.org>\r\n");
    EXPECT_WANT(e, Want::Read);
    FEED(e, "250 2.1.5 Ok\r\n");
    EXPECT_OUTPUT(e, "RCPT TO:<c@y.org>\r\n");
    FEED(e, "251 2.1.5 User not local; will forward\r\n");
    EXPECT_OUTPUT(e, "RCPT TO:<d@y.org>\r\n");
    FEED(e, "550 5.1.1 <d@y.org>: Recipient address rejected\r\n");
    EXPECT_OUTPUT(e, "RCPT TO:<e@y.org>\r\n");
    FEED(e, "452 4.2.2 Mailbox full\r\n");
    EXPECT_OUTPUT(e, "DATA\r\n");
    EXPECT_WANT(e, Want::Read);
    FEED(e, "354 End data with <CR><LF>.<CR><LF>\r\n");
    finish_mixed(e);

    // PIPELINING offered but disabled by the caller: lock-step too.
    Engine d(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(d, kEhloPipelining);
    EXPECT_STARTED(d.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 10, false));
    EXPECT_OUTPUT(d, "MAIL FROM:<a@x.org> SIZE=10\r\n");
    FEED(d, "250 ok\r\n");
    EXPECT_OUTPUT(d, "RCPT TO:<b@y.org>\r\n");
    FEED(d, "250 ok\r\n");
    EXPECT_OUTPUT(d, "RCPT TO:<c@y.org>\r\n");
    FEED(d, "250 ok\r\n");
    EXPECT_OUTPUT(d, "DATA\r\n");
    FEED(d, "354 go\r\n");
    SEND_BODY(d, "hi\n", "hi\r\n.\r\n");
    FEED(d, "250 ok\r\n");
    EXPECT_STATUS(d, SMTPC_OK, "");
    EXPECT_STATES(d, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_DELIVERED);

    // A HELO session is never pipelined, whatever the caller allows.
    Engine h(SMTPC_PROTOCOL_SMTP);
    connect_helo(h);
    EXPECT_STARTED(h.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 10, true));
    EXPECT_OUTPUT(h, "MAIL FROM:<a@x.org>\r\n");
    EXPECT_WANT(h, Want::Read);
}

// -------------------------------------------------------------------------------------------------
// MAIL FROM options

void test_size_and_options(void **) {
    // SIZE listed: SIZE=<n> first, then the caller's options; RCPT options on every RCPT.
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_sendmail(
        envelope("", {"b@y.org", "c@y.org"}, {"BODY=8BITMIME", "RET=HDRS"}, {"NOTIFY=SUCCESS,FAILURE"}), 4096,
        true));
    EXPECT_OUTPUT(e, "MAIL FROM:<> SIZE=4096 BODY=8BITMIME RET=HDRS\r\n"
                     "RCPT TO:<b@y.org> NOTIFY=SUCCESS,FAILURE\r\n"
                     "RCPT TO:<c@y.org> NOTIFY=SUCCESS,FAILURE\r\n"
                     "DATA\r\n");

    // SIZE not listed: no SIZE, even with a size given.
    Engine n(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(n, kEhloNoSize);
    EXPECT_STARTED(n.begin_sendmail(envelope("a@x.org", {"b@y.org"}, {"BODY=8BITMIME"}), 4096, true));
    EXPECT_OUTPUT(n, "MAIL FROM:<a@x.org> BODY=8BITMIME\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");

    // SIZE listed but no size known (streaming without a hint): no SIZE.
    Engine u(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(u, kEhloPipelining);
    EXPECT_STARTED(u.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true));
    EXPECT_OUTPUT(u, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");

    // SIZE=0 for an empty size is still declared when given.
    Engine z(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(z, kEhloPipelining);
    EXPECT_STARTED(z.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 0, true));
    EXPECT_OUTPUT(z, "MAIL FROM:<a@x.org> SIZE=0\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
}

void test_helo_session_drops_options(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_helo(e);
    EXPECT_STARTED(e.begin_sendmail(
        envelope("a@x.org", {"b@y.org"}, {"BODY=8BITMIME", "SMTPUTF8"}, {"NOTIFY=NEVER"}), 999, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_OUTPUT(e, "RCPT TO:<b@y.org>\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_OUTPUT(e, "DATA\r\n");

    // EHLO refused (so features empty, not ESMTP) then HELO: same.
    Engine r(SMTPC_PROTOCOL_SMTP);
    connect(r);
    EXPECT_STARTED(r.begin_command(Cmd::Ehlo, "EHLO c\r\n"));
    EXPECT_OUTPUT(r, "EHLO c\r\n");
    FEED(r, "502 no\r\n");
    EXPECT_STARTED(r.begin_command(Cmd::Helo, "HELO c\r\n"));
    EXPECT_OUTPUT(r, "HELO c\r\n");
    FEED(r, "250 ok\r\n");
    EXPECT_STARTED(r.begin_sendmail(envelope("a@x.org", {"b@y.org"}, {"BODY=8BITMIME"}), 999, true));
    EXPECT_OUTPUT(r, "MAIL FROM:<a@x.org>\r\n");
}

void test_smtputf8(void **) {
    // Requested and not offered: ENOTSUPPORTED, nothing queued, nothing changed.
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    std::uint64_t step = e.step();
    Check c = e.begin_sendmail(envelope("a@x.org", {"b@y.org"}, {"SMTPUTF8"}), 10, true);
    assert_int_equal(c.status, SMTPC_ENOTSUPPORTED);
    EXPECT_BYTES(c.message, "SMTPUTF8 requested but the server does not offer it");
    EXPECT_WANT(e, Want::Done);
    EXPECT_BYTES(e.output(), "");
    assert_false(e.expects_reply());
    assert_null(e.result());
    assert_int_equal(e.step(), step);
    // Case-insensitive option name.
    c = e.begin_sendmail(envelope("a@x.org", {"b@y.org"}, {"smtputf8"}), 10, true);
    assert_int_equal(c.status, SMTPC_ENOTSUPPORTED);
    EXPECT_WANT(e, Want::Done);

    // A non-ASCII address to a server without SMTPUTF8: ENOTSUPPORTED, saying why, nothing queued.
    c = e.begin_sendmail(envelope("j\xc3\xb6rg@x.org", {"b@y.org"}), 10, true);
    assert_int_equal(c.status, SMTPC_ENOTSUPPORTED);
    EXPECT_BYTES(c.message, "the address j\xc3\xb6rg@x.org is not ASCII and needs SMTPUTF8 (RFC 6531), which "
                            "the server does not offer");
    c = e.begin_sendmail(envelope("a@x.org", {"b@y.org", "j\xc3\xb6rg@y.org"}), 10, true);
    assert_int_equal(c.status, SMTPC_ENOTSUPPORTED);
    EXPECT_BYTES(c.message, "the address j\xc3\xb6rg@y.org is not ASCII and needs SMTPUTF8 (RFC 6531), which "
                            "the server does not offer");
    EXPECT_WANT(e, Want::Done);
    EXPECT_BYTES(e.output(), "");
    assert_null(e.result());
    assert_int_equal(e.step(), step);

    // No recipients.
    c = e.begin_sendmail(envelope("a@x.org", {}), 10, true);
    assert_int_equal(c.status, SMTPC_EINVAL);
    EXPECT_BYTES(c.message, "no recipients");
    EXPECT_WANT(e, Want::Done);

    // Offered and requested: UTF-8 addresses go out as they are.
    Engine u(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(u, kEhloUtf8);
    EXPECT_STARTED(
        u.begin_sendmail(envelope("j\xc3\xb6rg@x.org", {"\xe7\x94\xa8@y.org"}, {"SMTPUTF8"}), 10, true));
    EXPECT_OUTPUT(u, "MAIL FROM:<j\xc3\xb6rg@x.org> SMTPUTF8\r\nRCPT TO:<\xe7\x94\xa8@y.org>\r\nDATA\r\n");

    // Offered and not requested: chosen for a non-ASCII sender or recipient, as smtplib's send_message
    // does, with BODY=8BITMIME unless the caller set BODY.
    Engine a(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(a, kEhloUtf8);
    EXPECT_STARTED(a.begin_sendmail(envelope("a@x.org", {"b@y.org", "j\xc3\xbcrgen@y.org"}), 10, true));
    EXPECT_OUTPUT(a, "MAIL FROM:<a@x.org> SMTPUTF8 BODY=8BITMIME\r\nRCPT TO:<b@y.org>\r\n"
                     "RCPT TO:<j\xc3\xbcrgen@y.org>\r\nDATA\r\n");
    Engine b(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(b, kEhloUtf8);
    EXPECT_STARTED(b.begin_sendmail(envelope("j\xc3\xb6rg@x.org", {"b@y.org"}, {"BODY=7BIT"}), 10, true));
    EXPECT_OUTPUT(b, "MAIL FROM:<j\xc3\xb6rg@x.org> BODY=7BIT SMTPUTF8\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    // ASCII addresses: nothing added.
    Engine n(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(n, kEhloUtf8);
    EXPECT_STARTED(n.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 10, true));
    EXPECT_OUTPUT(n, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    // After HELO there are no extensions: refused.
    Engine h(SMTPC_PROTOCOL_SMTP);
    connect_helo(h);
    c = h.begin_sendmail(envelope("a@x.org", {"j\xc3\xbcrgen@y.org"}), 10, true);
    assert_int_equal(c.status, SMTPC_ENOTSUPPORTED);
    EXPECT_WANT(h, Want::Done);
    EXPECT_BYTES(h.output(), "");
}

// -------------------------------------------------------------------------------------------------
// Refusals

void test_mail_refused_lockstep(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloNoPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 5, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\n");
    FEED(e, "550 5.7.1 Sender rejected\r\n");
    EXPECT_OUTPUT(e, "RSET\r\n");
    FEED(e, "250 2.0.0 Ok\r\n");
    EXPECT_STATUS(e, SMTPC_ESENDER_REFUSED, "MAIL FROM refused: 550 5.7.1 Sender rejected");
    assert_false(e.must_close());
    EXPECT_LAST_REPLY(e, 550, "5.7.1 Sender rejected");
    EXPECT_REPLY(&*e.result()->mail_reply, 550, "5.7.1 Sender rejected");
    EXPECT_STATES(e, SMTPC_RCPT_NOT_ATTEMPTED, SMTPC_RCPT_NOT_ATTEMPTED);
    assert_false(rcpt(e, 0).rcpt_reply.has_value());
}

void test_mail_refused_pipelined(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 5, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");
    FEED(e, "550 5.7.1 Sender rejected\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n");
    // RSET only once the whole batch is answered.
    EXPECT_WANT(e, Want::Read);
    FEED(e, "503 5.5.1 need RCPT\r\n");
    EXPECT_OUTPUT(e, "RSET\r\n");
    FEED(e, "250 2.0.0 Ok\r\n");
    EXPECT_STATUS(e, SMTPC_ESENDER_REFUSED, "MAIL FROM refused: 550 5.7.1 Sender rejected");
    assert_false(e.must_close());
    EXPECT_LAST_REPLY(e, 550, "5.7.1 Sender rejected");
    EXPECT_STATES(e, SMTPC_RCPT_REFUSED, SMTPC_RCPT_REFUSED);
}

void test_mail_421(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloNoPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\n");
    FEED(e, "421 4.3.2 Shutting down\r\n");
    EXPECT_STATUS(e, SMTPC_ESENDER_REFUSED, "MAIL FROM refused: 421 4.3.2 Shutting down (service closing)");
    assert_true(e.must_close());
    EXPECT_BYTES(e.output(), "");  // no RSET after 421
    EXPECT_LAST_REPLY(e, 421, "4.3.2 Shutting down");
    EXPECT_STATES(e, SMTPC_RCPT_NOT_ATTEMPTED);
}

void test_mixed_rcpt_results_pipelined_four_codes(void **) {
    // 250, 251 accepted; 550, 452 refused (452 is temporary but still a refusal of that recipient).
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_sendmail(mixed_envelope(), 123, true));
    EXPECT_OUTPUT(e, kBatchMixed);
    FEED(e, kRepliesMixed);
    finish_mixed(e);
    assert_int_equal(e.result()->recipients.size(), 4);
}

void test_all_refused_lockstep(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloNoPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 5, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_OUTPUT(e, "RCPT TO:<b@y.org>\r\n");
    FEED(e, "550 5.1.1 no such user b\r\n");
    EXPECT_OUTPUT(e, "RCPT TO:<c@y.org>\r\n");
    FEED(e, "550 5.1.1 no such user c\r\n");
    EXPECT_OUTPUT(e, "RSET\r\n");  // no DATA
    FEED(e, "250 ok\r\n");
    EXPECT_STATUS(e, SMTPC_ERECIPIENTS_REFUSED, "all 2 recipients refused; last: 550 5.1.1 no such user c");
    assert_false(e.must_close());
    EXPECT_LAST_REPLY(e, 550, "5.1.1 no such user c");
    EXPECT_STATES(e, SMTPC_RCPT_REFUSED, SMTPC_RCPT_REFUSED);
    EXPECT_REPLY(&*rcpt(e, 0).rcpt_reply, 550, "5.1.1 no such user b");
}

void test_all_refused_pipelined(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 5, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n550 5.1.1 no b\r\n452 4.5.3 too many\r\n554 5.5.1 Error: no valid recipients\r\n");
    EXPECT_OUTPUT(e, "RSET\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_STATUS(e, SMTPC_ERECIPIENTS_REFUSED, "all 2 recipients refused; last: 452 4.5.3 too many");
    assert_false(e.must_close());
    EXPECT_LAST_REPLY(e, 452, "4.5.3 too many");
    EXPECT_STATES(e, SMTPC_RCPT_REFUSED, SMTPC_RCPT_REFUSED);
    assert_false(rcpt(e, 0).data_reply.has_value());
}

// RFC 2920: a server may answer DATA with 354 although every RCPT failed; the message must not go.
void test_354_after_all_refused_pipelined(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 5, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n550 5.1.1 no b\r\n550 5.1.1 no c\r\n354 go ahead\r\n");
    EXPECT_STATUS(
        e, SMTPC_ERECIPIENTS_REFUSED,
        "all 2 recipients refused; last: 550 5.1.1 no c (server accepted DATA anyway; connection closed)");
    assert_true(e.must_close());
    EXPECT_BYTES(e.output(), "");  // not one message byte, no RSET, no terminator
    EXPECT_LAST_REPLY(e, 550, "5.1.1 no c");
    EXPECT_STATES(e, SMTPC_RCPT_REFUSED, SMTPC_RCPT_REFUSED);
}

void test_data_refused(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloNoPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 5, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_OUTPUT(e, "RCPT TO:<b@y.org>\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_OUTPUT(e, "RCPT TO:<c@y.org>\r\n");
    FEED(e, "550 no\r\n");
    EXPECT_OUTPUT(e, "DATA\r\n");
    FEED(e, "554 5.5.1 Error: no valid recipients\r\n");
    EXPECT_OUTPUT(e, "RSET\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_STATUS(e, SMTPC_EDATA_REFUSED, "DATA refused: 554 5.5.1 Error: no valid recipients");
    assert_false(e.must_close());
    EXPECT_LAST_REPLY(e, 554, "5.5.1 Error: no valid recipients");
    EXPECT_STATES(e, SMTPC_RCPT_FAILED, SMTPC_RCPT_REFUSED);
    EXPECT_REPLY(&*rcpt(e, 0).data_reply, 554, "5.5.1 Error: no valid recipients");

    // Pipelined, DATA 421: closes, no RSET.
    Engine c(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(c, kEhloPipelining);
    EXPECT_STARTED(c.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(c, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(c, "250 ok\r\n250 ok\r\n421 4.3.0 bye\r\n");
    EXPECT_STATUS(c, SMTPC_EDATA_REFUSED, "DATA refused: 421 4.3.0 bye (service closing)");
    assert_true(c.must_close());
    EXPECT_BYTES(c.output(), "");
    EXPECT_LAST_REPLY(c, 421, "4.3.0 bye");
    EXPECT_STATES(c, SMTPC_RCPT_FAILED);
}

void test_message_refused(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 5, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n");
    SEND_BODY(e, "spam", "spam\r\n.\r\n");
    FEED(e, "554 5.7.1 Message rejected as spam\r\n");
    EXPECT_OUTPUT(e, "RSET\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_STATUS(e, SMTPC_EDATA_REFUSED, "message refused: 554 5.7.1 Message rejected as spam");
    assert_false(e.must_close());
    EXPECT_LAST_REPLY(e, 554, "5.7.1 Message rejected as spam");
    EXPECT_STATES(e, SMTPC_RCPT_FAILED, SMTPC_RCPT_REFUSED);
    EXPECT_REPLY(&*rcpt(e, 0).data_reply, 554, "5.7.1 Message rejected as spam");

    Engine c(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(c, kEhloPipelining);
    EXPECT_STARTED(c.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(c, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(c, "250 ok\r\n250 ok\r\n354 go\r\n");
    SEND_BODY(c, "x\r\n", "x\r\n.\r\n");
    FEED(c, "421 4.3.0 shutting down\r\n");
    EXPECT_STATUS(c, SMTPC_EDATA_REFUSED, "message refused: 421 4.3.0 shutting down");
    assert_true(c.must_close());
    EXPECT_BYTES(c.output(), "");
    EXPECT_STATES(c, SMTPC_RCPT_FAILED);
}

// -------------------------------------------------------------------------------------------------
// Delivery unknown, 421 mid-batch

void test_eof_after_final_dot(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org", "d@y.org"}), 5, true));
    EXPECT_OUTPUT(
        e, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nRCPT TO:<d@y.org>\r\n"
           "DATA\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n");
    SEND_BODY(e, "hello\r\n", "hello\r\n.\r\n");
    e.received_eof();
    EXPECT_STATUS(
        e, SMTPC_EDELIVERY_UNKNOWN,
        "connection closed by the server after the message was sent: it may or may not have been delivered");
    assert_true(e.must_close());
    EXPECT_STATES(e, SMTPC_RCPT_UNKNOWN, SMTPC_RCPT_REFUSED, SMTPC_RCPT_UNKNOWN);
    EXPECT_LAST_REPLY(e, 354, "go");

    // A timeout or reset after the dot is the same.
    Engine t(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(t, kEhloPipelining);
    EXPECT_STARTED(t.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(t, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(t, "250 ok\r\n250 ok\r\n354 go\r\n");
    SEND_BODY(t, "x", "x\r\n.\r\n");
    t.failed(SMTPC_ETIMEOUT, "timed out waiting for a reply");
    EXPECT_STATUS(
        t, SMTPC_EDELIVERY_UNKNOWN,
        "timed out waiting for a reply after the message was sent: it may or may not have been delivered");
    EXPECT_STATES(t, SMTPC_RCPT_UNKNOWN);

    // A partial final reply then EOF: still unknown.
    Engine p(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(p, kEhloPipelining);
    EXPECT_STARTED(p.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(p, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(p, "250 ok\r\n250 ok\r\n354 go\r\n");
    SEND_BODY(p, "x", "x\r\n.\r\n");
    FEED(p, "25");
    p.received_eof();
    EXPECT_STATUS(
        p, SMTPC_EDELIVERY_UNKNOWN,
        "connection closed by the server in the middle of a reply after the message was sent: it may or "
        "may not have been delivered");
    EXPECT_STATES(p, SMTPC_RCPT_UNKNOWN);
}

void test_eof_before_final_dot(void **) {
    // The terminator was not (fully) written: the server cannot have taken the message.
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n354 go\r\n");
    EXPECT_WANT(e, Want::Body);
    e.body("abc", 3);
    e.body_end();
    EXPECT_WANT(e, Want::Write);
    EXPECT_BYTES(e.output(), "abc\r\n.\r\n");
    e.output_written(6);  // "abc\r\n." written, "\r\n" not
    EXPECT_WANT(e, Want::Write);
    e.failed(SMTPC_EIO, "write failed: Connection reset by peer");
    EXPECT_STATUS(e, SMTPC_EIO, "write failed: Connection reset by peer");
    assert_true(e.must_close());
    EXPECT_STATES(e, SMTPC_RCPT_ACCEPTED);

    // EOF while the engine waits for the body.
    Engine b(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(b, kEhloPipelining);
    EXPECT_STARTED(b.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(b, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(b, "250 ok\r\n250 ok\r\n354 go\r\n");
    EXPECT_WANT(b, Want::Body);
    b.received_eof();
    EXPECT_STATUS(b, SMTPC_EDISCONNECTED, "connection closed by the server");
    EXPECT_STATES(b, SMTPC_RCPT_ACCEPTED);

    // EOF after MAIL and the first RCPT reply of a lock-step transaction.
    Engine l(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(l, kEhloNoPipelining);
    EXPECT_STARTED(l.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 5, true));
    EXPECT_OUTPUT(l, "MAIL FROM:<a@x.org> SIZE=5\r\n");
    FEED(l, "250 ok\r\n");
    EXPECT_OUTPUT(l, "RCPT TO:<b@y.org>\r\n");
    FEED(l, "250 ok\r\n");
    EXPECT_OUTPUT(l, "RCPT TO:<c@y.org>\r\n");
    l.received_eof();
    EXPECT_STATUS(l, SMTPC_EDISCONNECTED, "connection closed by the server");
    EXPECT_STATES(l, SMTPC_RCPT_ACCEPTED, SMTPC_RCPT_NOT_ATTEMPTED);
}

void test_421_in_pipelined_rcpts(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(
        e.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org", "d@y.org", "e@y.org"}), 5, true));
    EXPECT_OUTPUT(
        e, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nRCPT TO:<d@y.org>\r\n"
           "RCPT TO:<e@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n421 4.7.0 Too many errors, closing\r\n");
    // smtplib raises SMTPRecipientsRefused on a 421 to RCPT; the connection is closed, no RSET.
    EXPECT_STATUS(e, SMTPC_ERECIPIENTS_REFUSED,
                  "RCPT TO refused: 421 4.7.0 Too many errors, closing (service closing)");
    assert_true(e.must_close());
    EXPECT_BYTES(e.output(), "");
    EXPECT_LAST_REPLY(e, 421, "4.7.0 Too many errors, closing");
    EXPECT_STATES(e, SMTPC_RCPT_ACCEPTED, SMTPC_RCPT_REFUSED, SMTPC_RCPT_NOT_ATTEMPTED,
                  SMTPC_RCPT_NOT_ATTEMPTED);
    EXPECT_REPLY(&*rcpt(e, 1).rcpt_reply, 421, "4.7.0 Too many errors, closing");
    assert_false(rcpt(e, 2).rcpt_reply.has_value());
    assert_false(rcpt(e, 3).rcpt_reply.has_value());
}

// -------------------------------------------------------------------------------------------------
// LMTP

// LHLO, then a pipelined batch for b, c, d (+ refused x when with_refused) answered, then the body.
void lmtp_to_final(Engine &e, bool with_refused) {
    connect_ehlo(e, kEhloPipelining);
    if (with_refused) {
        EXPECT_STARTED(
            e.begin_sendmail(envelope("a@x.org", {"b@y.org", "x@y.org", "c@y.org", "d@y.org"}), 5, true));
        EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<x@y.org>\r\n"
                         "RCPT TO:<c@y.org>\r\nRCPT TO:<d@y.org>\r\nDATA\r\n");
        FEED(e, "250 ok\r\n250 ok\r\n550 5.1.1 no x\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    } else {
        EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org", "d@y.org"}), 5, true));
        EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\n"
                         "RCPT TO:<d@y.org>\r\nDATA\r\n");
        FEED(e, "250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    }
    SEND_BODY(e, "hi\r\n", "hi\r\n.\r\n");
}

void test_lmtp_mixed_final_replies(void **) {
    Engine e(SMTPC_PROTOCOL_LMTP);
    lmtp_to_final(e, false);
    FEED(e, "250 2.1.5 b delivered\r\n");
    EXPECT_WANT(e, Want::Read);  // two more replies expected
    assert_true(e.expects_reply());
    FEED(e, "550 5.1.1 c unknown\r\n452 4.2.2 d over quota\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    assert_false(e.must_close());
    EXPECT_STATES(e, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_FAILED, SMTPC_RCPT_FAILED);
    EXPECT_REPLY(&*rcpt(e, 0).data_reply, 250, "2.1.5 b delivered");
    EXPECT_REPLY(&*rcpt(e, 1).data_reply, 550, "5.1.1 c unknown");
    EXPECT_REPLY(&*rcpt(e, 2).data_reply, 452, "4.2.2 d over quota");
    EXPECT_LAST_REPLY(e, 452, "4.2.2 d over quota");
    EXPECT_BYTES(e.output(), "");  // no RSET

    // Only accepted recipients get a final reply: 3 expected of 4 recipients.
    Engine r(SMTPC_PROTOCOL_LMTP);
    lmtp_to_final(r, true);
    FEED(r, "250 ok b\r\n250 ok c\r\n");
    EXPECT_WANT(r, Want::Read);
    FEED(r, "250 ok d\r\n");
    EXPECT_STATUS(r, SMTPC_OK, "");
    EXPECT_STATES(r, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_REFUSED, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_DELIVERED);
    EXPECT_REPLY(&*rcpt(r, 2).data_reply, 250, "ok c");
    assert_false(rcpt(r, 1).data_reply.has_value());
}

void test_lmtp_none_delivered(void **) {
    Engine e(SMTPC_PROTOCOL_LMTP);
    lmtp_to_final(e, false);
    FEED(e, "550 5.1.1 b unknown\r\n550 5.1.1 c unknown\r\n452 4.2.2 d over quota\r\n");
    EXPECT_STATUS(e, SMTPC_EDATA_REFUSED, "message refused for every recipient: 452 4.2.2 d over quota");
    assert_false(e.must_close());
    EXPECT_BYTES(e.output(), "");  // the transaction ended with the last reply: no RSET
    EXPECT_STATES(e, SMTPC_RCPT_FAILED, SMTPC_RCPT_FAILED, SMTPC_RCPT_FAILED);
    EXPECT_LAST_REPLY(e, 452, "4.2.2 d over quota");
}

void test_lmtp_final_replies_split(void **) {
    std::string_view replies = "250 2.1.5 b delivered\r\n550 5.1.1 c unknown\r\n452 4.2.2 d over quota\r\n";
    for (std::size_t i = 1; i < replies.size(); ++i) {
        Engine e(SMTPC_PROTOCOL_LMTP);
        lmtp_to_final(e, false);
        FEED(e, replies.substr(0, i));
        FEED(e, replies.substr(i));
        EXPECT_STATUS(e, SMTPC_OK, "");
        EXPECT_STATES(e, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_FAILED, SMTPC_RCPT_FAILED);
        EXPECT_LAST_REPLY(e, 452, "4.2.2 d over quota");
    }
}

void test_lmtp_eof_between_final_replies(void **) {
    Engine e(SMTPC_PROTOCOL_LMTP);
    lmtp_to_final(e, true);
    FEED(e, "250 ok b\r\n");
    e.received_eof();
    EXPECT_STATUS(
        e, SMTPC_EDELIVERY_UNKNOWN,
        "connection closed by the server after the message was sent: it may or may not have been delivered");
    assert_true(e.must_close());
    EXPECT_STATES(e, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_REFUSED, SMTPC_RCPT_UNKNOWN, SMTPC_RCPT_UNKNOWN);
}

void test_lmtp_extra_reply(void **) {
    // A fourth final reply for three accepted recipients: the message was delivered and stays so; the
    // connection is closed, since the server is out of step.
    Engine e(SMTPC_PROTOCOL_LMTP);
    lmtp_to_final(e, true);
    FEED(e, "250 ok b\r\n250 ok c\r\n250 ok d\r\n250 ok x\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    assert_true(e.must_close());
    EXPECT_STATES(e, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_REFUSED, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_DELIVERED);
    EXPECT_LAST_REPLY(e, 250, "ok d");
}

// -------------------------------------------------------------------------------------------------
// Unsolicited and extra data

void test_unsolicited_reply_while_sending_body(void **) {
    // A reply while nothing is pending (the engine waits for the body after 354).
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n354 go\r\n");
    EXPECT_WANT(e, Want::Body);
    assert_false(e.expects_reply());
    e.received("250 2.0.0 Ok\r\n", 14);  // as the client's pump does when the socket is readable
    EXPECT_STATUS(e, SMTPC_EPROTOCOL, "unsolicited reply from the server: 250 2.0.0 Ok");
    assert_true(e.must_close());
    EXPECT_BYTES(e.output(), "");

    // The same reply glued to the 354.
    Engine g(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(g, kEhloPipelining);
    EXPECT_STARTED(g.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(g, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(g, "250 ok\r\n250 ok\r\n354 go\r\n250 2.0.0 Ok\r\n");
    EXPECT_STATUS(g, SMTPC_EPROTOCOL, "unsolicited reply from the server: 250 2.0.0 Ok");
    assert_true(g.must_close());
    EXPECT_STATES(g, SMTPC_RCPT_ACCEPTED);
}

void test_extra_data_after_last_reply(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect(e);
    EXPECT_STARTED(e.begin_command(Cmd::Other, "NOOP\r\n"));
    EXPECT_OUTPUT(e, "NOOP\r\n");
    FEED(e, "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n");
    EXPECT_STATUS(e, SMTPC_EPROTOCOL, "unexpected data from the server after its reply");
    assert_true(e.must_close());

    e.begin_connection();
    FEED(e, kGreeting);
    EXPECT_STARTED(e.begin_command(Cmd::Other, "NOOP\r\n"));
    EXPECT_OUTPUT(e, "NOOP\r\n");
    FEED(e, "250 2.0.0 Ok\r\nX");
    EXPECT_STATUS(e, SMTPC_EPROTOCOL, "unexpected data from the server after its reply");
    assert_true(e.must_close());

    // After the final reply of a transaction: the message was accepted and stays accepted (a failure
    // would have it sent again); the connection is closed and the trace says why.
    Engine s(SMTPC_PROTOCOL_SMTP);
    TraceLog log;
    s.set_trace(&log);
    connect_ehlo(s, kEhloPipelining);
    EXPECT_STARTED(s.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(s, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(s, "250 ok\r\n250 ok\r\n354 go\r\n");
    SEND_BODY(s, "x", "x\r\n.\r\n");
    FEED(s, "250 2.0.0 queued\r\n221 bye\r\n");
    EXPECT_STATUS(s, SMTPC_OK, "");
    assert_true(s.must_close());
    EXPECT_BYTES(s.output(), "");
    EXPECT_STATES(s, SMTPC_RCPT_DELIVERED);
    EXPECT_LAST_REPLY(s, 250, "2.0.0 queued");
    EXPECT_BYTES(log.info,
                 "unexpected data from the server after its reply: \"221 bye\\x0d / \"; connection closed "
                 "(the message was accepted)\n");

    // The same through low-level DATA, the extra bytes in the next segment of the same read.
    Engine d(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(d, kEhloPipelining);
    EXPECT_STARTED(d.begin_data());
    EXPECT_OUTPUT(d, "DATA\r\n");
    FEED(d, "354 go\r\n");
    SEND_BODY(d, "x", "x\r\n.\r\n");
    FEED(d, "250 2.0.0 queued\r\nX");
    EXPECT_STATUS(d, SMTPC_OK, "");
    assert_true(d.must_close());

    // A refusal decided before the bytes (here, behind the reply to RSET) stays the outcome.
    Engine r(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(r, kEhloNoPipelining);
    EXPECT_STARTED(r.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(r, "MAIL FROM:<a@x.org> SIZE=5\r\n");
    FEED(r, "550 5.7.1 no\r\n");
    EXPECT_OUTPUT(r, "RSET\r\n");
    FEED(r, "250 ok\r\n250 again\r\n");
    EXPECT_STATUS(r, SMTPC_ESENDER_REFUSED,
                  "MAIL FROM refused: 550 5.7.1 no (then unexpected data from the server after its reply: "
                  "\"250 again\\x0d / \"; connection closed)");
    assert_true(r.must_close());
    EXPECT_LAST_REPLY(r, 550, "5.7.1 no");

    // A malformed reply inside a pipelined batch.
    Engine m(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(m, kEhloPipelining);
    EXPECT_STARTED(m.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(m, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(m, "250 ok\r\n250-ok\r\n251 ok\r\n354 go\r\n");
    EXPECT_STATUS(m, SMTPC_EPROTOCOL,
                  "invalid reply from the server: multiline reply with mismatched codes 250 and 251");
    assert_true(m.must_close());
    EXPECT_STATES(m, SMTPC_RCPT_NOT_ATTEMPTED);
}

// KNOWN CORE BUG (see the unit-test report): the two tests below fail against the current engine.
//
// A reply that arrives before its command was written answers nothing the client sent (catalogue
// B.23: "unsolicited bytes before the client sends a command -> E_PROTOCOL; in lock-step mode the
// read buffer must be empty before each write"). The engine matches replies against its pending
// queue, which already holds commands still waiting in output(), so it takes such a reply as the
// answer to a command the server has not seen. The client's pump calls received() while output is
// pending (when the socket is readable), so this is reachable with a real server.
// Expected: SMTPC_EPROTOCOL, must_close(), nothing more to write. (The message text is the fix's
// choice and is not checked.)

// Empty when the engine failed as expected, else a description of what it did. The failure is
// reported after the Engine is destroyed, so that cmocka's longjmp leaks nothing under ASan.
std::string protocol_failure_verdict(const Engine &e, const char *what) {
    if (e.want() == Want::Done && e.status() == SMTPC_EPROTOCOL && e.must_close()) return {};
    return std::string("CORE BUG: ") + what + "; want()=" + want_name(e.want()) +
           " status=" + smtpc_status_name(e.status()) + " \"" + e.message() +
           "\" must_close=" + (e.must_close() ? "1" : "0") + ", pending output \"" +
           unit::escaped(e.output()) + "\"";
}

void test_lockstep_reply_before_command_written(void **) {
    char verdict[1024] = "";
    {
        Engine e(SMTPC_PROTOCOL_SMTP);
        connect_ehlo(e, kEhloNoPipelining);
        EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
        EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\n");
        // Two replies to the one MAIL command: the second cannot answer RCPT, which was not sent yet.
        FEED(e, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
        std::snprintf(verdict, sizeof verdict, "%s",
                      protocol_failure_verdict(
                          e, "lock-step: a reply that came before RCPT was written was taken as RCPT's reply")
                          .c_str());
    }
    if (verdict[0]) fail_msg("%s", verdict);
}

void test_pipelined_reply_before_command_written(void **) {
    char verdict[1024] = "";
    {
        Engine e(SMTPC_PROTOCOL_SMTP);
        connect_ehlo(e, kEhloPipelining);
        EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
        EXPECT_WANT(e, Want::Write);
        EXPECT_BYTES(e.output(), "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
        // Only the MAIL line has been written when three replies arrive (the pump reads while writing).
        e.output_written(std::string_view("MAIL FROM:<a@x.org> SIZE=5\r\n").size());
        EXPECT_WANT(e, Want::Write);
        e.received("250 ok\r\n250 ok\r\n354 go\r\n", 24);
        std::snprintf(
            verdict, sizeof verdict, "%s",
            protocol_failure_verdict(
                e, "pipelined: replies to RCPT and DATA came before they were written and were accepted")
                .c_str());
    }
    if (verdict[0]) fail_msg("%s", verdict);
}

// -------------------------------------------------------------------------------------------------
// Low-level commands

void run_command(Engine &e, std::string_view line, std::string_view reply) {
    EXPECT_STARTED(e.begin_command(Cmd::Other, std::string(line)));
    EXPECT_OUTPUT(e, line);
    EXPECT_WANT(e, Want::Read);
    FEED(e, reply);
}

void test_low_level_commands(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect(e);
    run_command(e, "NOOP\r\n", "250 2.0.0 Ok\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    EXPECT_LAST_REPLY(e, 250, "2.0.0 Ok");

    run_command(e, "VRFY postmaster\r\n", "252 2.0.0 postmaster\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");

    // 3xx is not a failure for a low-level command.
    run_command(e, "XDATA\r\n", "354 go on\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");

    run_command(e, "VRFY nobody\r\n", "550 5.1.1 <nobody>: Recipient address rejected\r\n");
    EXPECT_STATUS(e, SMTPC_EREPLY, "VRFY failed: 550 5.1.1 <nobody>: Recipient address rejected");
    assert_false(e.must_close());
    EXPECT_LAST_REPLY(e, 550, "5.1.1 <nobody>: Recipient address rejected");

    run_command(e, "HELP\r\n", "450 4.7.1 later\r\n");
    EXPECT_STATUS(e, SMTPC_EREPLY, "HELP failed: 450 4.7.1 later");
    assert_false(e.must_close());

    // Reply text in messages: newlines shown as " / ", control and 8-bit bytes escaped.
    run_command(e, "NOOP\r\n", "502-first\r\n502 bad \x1b[31mred\xff\r\n");
    EXPECT_STATUS(e, SMTPC_EREPLY, "NOOP failed: 502 first / bad \\x1b[31mred\\xff");

    run_command(e, "NOOP\r\n", "421 4.3.2 Service shutting down\r\n");
    EXPECT_STATUS(e, SMTPC_ECLOSING, "service closing: 421 4.3.2 Service shutting down");
    assert_true(e.must_close());
    EXPECT_LAST_REPLY(e, 421, "4.3.2 Service shutting down");

    // QUIT: 221 closes without error.
    Engine q(SMTPC_PROTOCOL_SMTP);
    connect(q);
    EXPECT_STARTED(q.begin_command(Cmd::Quit, "QUIT\r\n"));
    EXPECT_OUTPUT(q, "QUIT\r\n");
    FEED(q, "221 2.0.0 Bye\r\n");
    EXPECT_STATUS(q, SMTPC_OK, "");
    assert_true(q.must_close());

    // EOF while waiting for a command's reply.
    Engine d(SMTPC_PROTOCOL_SMTP);
    connect(d);
    run_command(d, "NOOP\r\n", "250-a\r\n");
    EXPECT_WANT(d, Want::Read);
    d.received_eof();
    EXPECT_STATUS(d, SMTPC_EDISCONNECTED, "connection closed by the server in the middle of a reply");
    assert_true(d.must_close());
}

// -------------------------------------------------------------------------------------------------
// A refusal followed by a close (Exim's "drop" ACL): the refusal decides, the close only ends the call

constexpr char kClosedAfter[] = "; the server closed the connection after refusing";

void test_refusal_then_close(void **) {
    // One at a time: MAIL refused, the server closes instead of answering RSET.
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloNoPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\n");
    FEED(e, "550 5.7.1 go away\r\n");
    EXPECT_OUTPUT(e, "RSET\r\n");
    e.received_eof();
    EXPECT_STATUS(e, SMTPC_ESENDER_REFUSED,
                  std::string("MAIL FROM refused: 550 5.7.1 go away") + kClosedAfter);
    assert_true(e.must_close());
    EXPECT_LAST_REPLY(e, 550, "5.7.1 go away");
    EXPECT_REPLY(&*e.result()->mail_reply, 550, "5.7.1 go away");
    EXPECT_STATES(e, SMTPC_RCPT_NOT_ATTEMPTED);

    // The RSET cannot even be written (EPIPE, the server had reset): the same.
    Engine w(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(w, kEhloNoPipelining);
    EXPECT_STARTED(w.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(w, "MAIL FROM:<a@x.org> SIZE=5\r\n");
    FEED(w, "550 5.7.1 go away\r\n");
    EXPECT_WANT(w, Want::Write);
    w.failed(SMTPC_EDISCONNECTED, "connection reset by the server");
    EXPECT_STATUS(w, SMTPC_ESENDER_REFUSED,
                  std::string("MAIL FROM refused: 550 5.7.1 go away") + kClosedAfter);
    assert_true(w.must_close());

    // No reply to RSET before the deadline: the refusal stands, the message says what followed.
    Engine t(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(t, kEhloNoPipelining);
    EXPECT_STARTED(t.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(t, "MAIL FROM:<a@x.org> SIZE=5\r\n");
    FEED(t, "550 5.7.1 go away\r\n");
    EXPECT_OUTPUT(t, "RSET\r\n");
    t.failed(SMTPC_ETIMEOUT, "timed out waiting for the server's reply");
    EXPECT_STATUS(
        t, SMTPC_ESENDER_REFUSED,
        "MAIL FROM refused: 550 5.7.1 go away; then timed out waiting for the server's reply (connection "
        "closed)");
    assert_true(t.must_close());

    // Pipelined: MAIL refused and the rest of the batch never answered.
    Engine p(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(p, kEhloPipelining);
    EXPECT_STARTED(p.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 5, true));
    EXPECT_OUTPUT(p, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");
    FEED(p, "550 5.7.1 go away\r\n");
    EXPECT_WANT(p, Want::Read);
    p.received_eof();
    EXPECT_STATUS(p, SMTPC_ESENDER_REFUSED,
                  std::string("MAIL FROM refused: 550 5.7.1 go away") + kClosedAfter);
    EXPECT_STATES(p, SMTPC_RCPT_NOT_ATTEMPTED, SMTPC_RCPT_NOT_ATTEMPTED);

    // Pipelined: every RCPT refused, the close comes before DATA's reply. Decided at the last RCPT.
    Engine r(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(r, kEhloPipelining);
    EXPECT_STARTED(r.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 5, true));
    EXPECT_OUTPUT(r, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");
    FEED(r, "250 ok\r\n550 5.1.1 no b\r\n550 5.1.1 no c\r\n");
    EXPECT_WANT(r, Want::Read);
    r.received_eof();
    EXPECT_STATUS(r, SMTPC_ERECIPIENTS_REFUSED,
                  std::string("all 2 recipients refused; last: 550 5.1.1 no c") + kClosedAfter);
    EXPECT_LAST_REPLY(r, 550, "5.1.1 no c");
    EXPECT_STATES(r, SMTPC_RCPT_REFUSED, SMTPC_RCPT_REFUSED);

    // Not decided (a recipient was accepted): a close before DATA's reply is a disconnection.
    Engine o(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(o, kEhloPipelining);
    EXPECT_STARTED(o.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 5, true));
    EXPECT_OUTPUT(o, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");
    FEED(o, "250 ok\r\n550 5.1.1 no b\r\n250 ok\r\n");
    o.received_eof();
    EXPECT_STATUS(o, SMTPC_EDISCONNECTED, "connection closed by the server");
    EXPECT_STATES(o, SMTPC_RCPT_REFUSED, SMTPC_RCPT_ACCEPTED);

    // DATA refused, then the close.
    Engine d(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(d, kEhloPipelining);
    EXPECT_STARTED(d.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(d, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(d, "250 ok\r\n250 ok\r\n554 5.7.1 no thanks\r\n");
    EXPECT_OUTPUT(d, "RSET\r\n");
    d.received_eof();
    EXPECT_STATUS(d, SMTPC_EDATA_REFUSED, std::string("DATA refused: 554 5.7.1 no thanks") + kClosedAfter);
    EXPECT_STATES(d, SMTPC_RCPT_FAILED);
    EXPECT_REPLY(&*rcpt(d, 0).data_reply, 554, "5.7.1 no thanks");

    // The message refused, then the close.
    Engine m(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(m, kEhloPipelining);
    EXPECT_STARTED(m.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(m, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(m, "250 ok\r\n250 ok\r\n354 go\r\n");
    SEND_BODY(m, "x", "x\r\n.\r\n");
    FEED(m, "554 5.7.1 spam\r\n");
    EXPECT_OUTPUT(m, "RSET\r\n");
    m.received_eof();
    EXPECT_STATUS(m, SMTPC_EDATA_REFUSED, std::string("message refused: 554 5.7.1 spam") + kClosedAfter);
    EXPECT_LAST_REPLY(m, 554, "5.7.1 spam");
    EXPECT_STATES(m, SMTPC_RCPT_FAILED);
}

void test_refused_while_sending_body(void **) {
    // 552 while a body block is still unwritten (a size limit): the message's refusal, closed.
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 5, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n");
    EXPECT_WANT(e, Want::Body);
    e.body("abc\r\n", 5);
    EXPECT_WANT(e, Want::Body);  // gathered, not yet written
    e.received("552 5.3.4 too big\r\n", 19);
    EXPECT_STATUS(e, SMTPC_EDATA_REFUSED,
                  "message refused before it was complete: 552 5.3.4 too big (connection closed)");
    assert_true(e.must_close());
    EXPECT_LAST_REPLY(e, 552, "5.3.4 too big");
    EXPECT_STATES(e, SMTPC_RCPT_FAILED, SMTPC_RCPT_REFUSED);
    EXPECT_REPLY(&*rcpt(e, 0).data_reply, 552, "5.3.4 too big");

    // In two pieces, the terminator queued but not all written.
    Engine s(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(s, kEhloPipelining);
    EXPECT_STARTED(s.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(s, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(s, "250 ok\r\n250 ok\r\n354 go\r\n");
    s.body("x", 1);
    s.body_end();
    EXPECT_WANT(s, Want::Write);
    s.output_written(2);  // "x\r" of "x\r\n.\r\n"
    s.received("552 5.3", 7);
    EXPECT_WANT(s, Want::Write);
    s.received(".4 too big\r\n", 12);
    EXPECT_STATUS(s, SMTPC_EDATA_REFUSED,
                  "message refused before it was complete: 552 5.3.4 too big (connection closed)");
    EXPECT_STATES(s, SMTPC_RCPT_FAILED);

    // An acceptance before the end is still a protocol error.
    Engine a(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(a, kEhloPipelining);
    EXPECT_STARTED(a.begin_sendmail(envelope("a@x.org", {"b@y.org"}), 5, true));
    EXPECT_OUTPUT(a, "MAIL FROM:<a@x.org> SIZE=5\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(a, "250 ok\r\n250 ok\r\n354 go\r\n");
    a.body("x", 1);
    a.body_end();
    a.output_written(2);
    a.received("250 ok\r\n", 8);
    EXPECT_STATUS(a, SMTPC_EPROTOCOL, "the server replied to a command not yet sent: 250 ok");
    EXPECT_STATES(a, SMTPC_RCPT_ACCEPTED);

    // Low-level DATA: SMTPC_EREPLY, and SMTPC_ECLOSING for 421.
    Engine d(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(d, kEhloPipelining);
    EXPECT_STARTED(d.begin_data());
    EXPECT_OUTPUT(d, "DATA\r\n");
    FEED(d, "354 go\r\n");
    EXPECT_WANT(d, Want::Body);
    d.received("421 4.3.2 bye\r\n", 15);
    EXPECT_STATUS(d, SMTPC_ECLOSING,
                  "message refused before it was complete: 421 4.3.2 bye (connection closed)");
    assert_true(d.must_close());
    EXPECT_LAST_REPLY(d, 421, "4.3.2 bye");
}

void test_body_gathered_for_one_write(void **) {
    // A short message and its terminator go out in one write, not two (issue 10: the lone ".\r\n").
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n354 go\r\n");
    EXPECT_WANT(e, Want::Body);
    e.body("Subject: x\r\n\r\n.hi", 17);
    EXPECT_WANT(e, Want::Body);
    e.body("\nbye\r\n", 6);
    EXPECT_WANT(e, Want::Body);
    e.body_end();
    EXPECT_OUTPUT(e, "Subject: x\r\n\r\n..hi\r\nbye\r\n.\r\n");
    FEED(e, "250 queued\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    EXPECT_STATES(e, SMTPC_RCPT_DELIVERED);

    // A block of a socket-sized write goes out at once; what is left of a short write is topped up.
    Engine b(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(b, kEhloPipelining);
    EXPECT_STARTED(b.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true));
    EXPECT_OUTPUT(b, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(b, "250 ok\r\n250 ok\r\n354 go\r\n");
    std::string block(smtpc::detail::kBodyWriteSize, 'x');
    b.body(block.data(), block.size());
    EXPECT_WANT(b, Want::Write);
    assert_int_equal(b.output().size(), block.size());
    b.output_written(10);
    EXPECT_WANT(b, Want::Body);
    b.body(block.data(), 10);
    EXPECT_WANT(b, Want::Write);
    assert_int_equal(b.output().size(), block.size());
    b.output_written(block.size());
    EXPECT_WANT(b, Want::Body);
    b.body_end();
    EXPECT_OUTPUT(b, "\r\n.\r\n");
    FEED(b, "250 queued\r\n");
    EXPECT_STATUS(b, SMTPC_OK, "");
}

void test_received_while_idle(void **) {
    struct Case {
        const char *bytes;
        bool closed;
        smtpc_status status;
        const char *message;
        int code;  // the reply kept, 0: the EHLO reply stays the last one
    };
    const Case cases[] = {
        {"421 4.4.2 timeout\r\n", true, SMTPC_ECLOSING,
         "service closing: the server sent 421 4.4.2 timeout while the connection was idle", 421},
        {"421 4.4.2 timeout\r\n", false, SMTPC_ECLOSING,
         "service closing: the server sent 421 4.4.2 timeout while the connection was idle", 421},
        {"554 5.7.0 too many errors\r\n", true, SMTPC_EDISCONNECTED,
         "the server sent 554 5.7.0 too many errors while the connection was idle, then closed it", 554},
        {"554 5.7.0 too many errors\r\n", false, SMTPC_EPROTOCOL,
         "unsolicited reply from the server while the connection was idle: 554 5.7.0 too many errors", 554},
        {"554 5.7.0 bye\r\n250 more\r\n", true, SMTPC_EPROTOCOL,
         "unsolicited reply from the server while the connection was idle: 554 5.7.0 bye", 554},
        {"554 5.7.0 to", true, SMTPC_EDISCONNECTED,
         "connection closed by the server in the middle of a reply it sent while the connection was idle", 0},
        {"554 5.7.0 to", false, SMTPC_EPROTOCOL,
         "unsolicited data from the server while the connection was idle", 0},
    };
    for (const Case &c : cases) {
        Engine e(SMTPC_PROTOCOL_SMTP);
        connect_ehlo(e, kEhloPipelining);
        e.received_while_idle(c.bytes, std::strlen(c.bytes), c.closed);
        EXPECT_STATUS(e, c.status, c.message);
        assert_true(e.must_close());
        assert_int_equal(e.last_reply()->code, c.code ? c.code : 250);
    }
    Engine g(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(g, kEhloPipelining);
    g.received_while_idle("HTTP/1.1 400\r\n", 14, true);
    EXPECT_WANT(g, Want::Done);
    assert_int_equal(g.status(), SMTPC_EPROTOCOL);
    assert_true(g.must_close());
}

void test_low_level_transaction(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloPipelining);
    EXPECT_STARTED(e.begin_command(Cmd::Mail, "MAIL FROM:<a@x.org>\r\n"));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\n");
    FEED(e, "250 2.1.0 Ok\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    assert_non_null(e.result());
    EXPECT_REPLY(&*e.result()->mail_reply, 250, "2.1.0 Ok");
    assert_int_equal(e.result()->recipients.size(), 0);

    EXPECT_STARTED(e.begin_command(Cmd::Rcpt, "RCPT TO:<b@y.org>\r\n", "b@y.org"));
    EXPECT_OUTPUT(e, "RCPT TO:<b@y.org>\r\n");
    FEED(e, "250 2.1.5 Ok\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    EXPECT_STARTED(e.begin_command(Cmd::Rcpt, "RCPT TO:<c@y.org>\r\n", "c@y.org"));
    EXPECT_OUTPUT(e, "RCPT TO:<c@y.org>\r\n");
    FEED(e, "550 5.1.1 no\r\n");
    EXPECT_STATUS(e, SMTPC_EREPLY, "RCPT failed: 550 5.1.1 no");
    EXPECT_STATES(e, SMTPC_RCPT_ACCEPTED, SMTPC_RCPT_REFUSED);
    EXPECT_BYTES(rcpt(e, 1).address, "c@y.org");

    EXPECT_STARTED(e.begin_data());
    EXPECT_OUTPUT(e, "DATA\r\n");
    FEED(e, "354 go\r\n");
    SEND_BODY(e, ".\r\n", "..\r\n.\r\n");
    FEED(e, "250 2.0.0 queued\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    EXPECT_STATES(e, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_REFUSED);

    // DATA refused at the low level: SMTPC_EDATA_REFUSED, no RSET of its own.
    EXPECT_STARTED(e.begin_command(Cmd::Mail, "MAIL FROM:<a@x.org>\r\n"));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_STARTED(e.begin_command(Cmd::Rcpt, "RCPT TO:<b@y.org>\r\n", "b@y.org"));
    EXPECT_OUTPUT(e, "RCPT TO:<b@y.org>\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_STARTED(e.begin_data());
    EXPECT_OUTPUT(e, "DATA\r\n");
    FEED(e, "554 5.5.1 no\r\n");
    EXPECT_STATUS(e, SMTPC_EDATA_REFUSED, "DATA refused: 554 5.5.1 no");
    EXPECT_BYTES(e.output(), "");
    EXPECT_STATES(e, SMTPC_RCPT_FAILED);

    // Message refused at the low level: SMTPC_EREPLY.
    EXPECT_STARTED(e.begin_command(Cmd::Mail, "MAIL FROM:<a@x.org>\r\n"));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_STARTED(e.begin_command(Cmd::Rcpt, "RCPT TO:<b@y.org>\r\n", "b@y.org"));
    EXPECT_OUTPUT(e, "RCPT TO:<b@y.org>\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_STARTED(e.begin_data());
    EXPECT_OUTPUT(e, "DATA\r\n");
    FEED(e, "354 go\r\n");
    SEND_BODY(e, "x", "x\r\n.\r\n");
    FEED(e, "550 5.7.1 rejected\r\n");
    EXPECT_STATUS(e, SMTPC_EREPLY, "message refused: 550 5.7.1 rejected");
    EXPECT_BYTES(e.output(), "");
    EXPECT_STATES(e, SMTPC_RCPT_FAILED);
}

// -------------------------------------------------------------------------------------------------
// CHUNKING / BDAT (RFC 3030)

const char kEhloChunking[] =
    "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-CHUNKING\r\n250 8BITMIME\r\n";
const char kEhloChunkingNoPipelining[] = "250-mx.example.org\r\n250-CHUNKING\r\n250 8BITMIME\r\n";

// Everything the engine wants written, marked written.
std::string take_output(Engine &e) {
    std::string s;
    while (e.want() == Want::Write) {
        s.append(e.output());
        e.output_written(e.output().size());
    }
    return s;
}

// MAIL, the RCPTs and the whole message (one chunk, LAST) in one write: no 354 to wait for. The body
// is not dot-stuffed, its bare line ends become CRLF, the final CRLF is added, and BDAT counts the
// bytes after normalisation.
void test_bdat_pipelined_one_write(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloChunking);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), 25, true, true));
    EXPECT_WANT(e, Want::Body);
    std::string_view body = "Subject: t\n\n.hidden\r\na\rb\r\n.\r\nend";
    e.body(body.data(), body.size());
    EXPECT_WANT(e, Want::Body);  // gathered for one write
    e.body_end();
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org> SIZE=25\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\n"
                     "BDAT 37 LAST\r\nSubject: t\r\n\r\n.hidden\r\na\r\nb\r\n.\r\nend\r\n");
    EXPECT_WANT(e, Want::Read);
    FEED(e, "250 ok\r\n250 ok\r\n550 5.1.1 no c\r\n250 2.0.0 Ok: queued as X1\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    assert_false(e.must_close());
    EXPECT_STATES(e, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_REFUSED);
    EXPECT_REPLY(&*rcpt(e, 0).data_reply, 250, "2.0.0 Ok: queued as X1");
    EXPECT_LAST_REPLY(e, 250, "2.0.0 Ok: queued as X1");

    // An empty message is "BDAT 0 LAST".
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    e.body_end();
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 0 LAST\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n250 ok\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    EXPECT_STATES(e, SMTPC_RCPT_DELIVERED);

    // Chunking turned off: DATA as before, though the server offers CHUNKING.
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true, false));
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n354 go\r\n");
    SEND_BODY(e, ".x", "..x\r\n.\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");

    // A server that does not offer CHUNKING gets DATA.
    Engine d(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(d, kEhloPipelining);
    EXPECT_STARTED(d.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    EXPECT_OUTPUT(d, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
}

// A message bigger than a chunk: each chunk is sized from its encoded bytes (bare LFs doubled into
// CRLF); with PIPELINING the chunks do not wait for replies.
void test_bdat_several_chunks(void **) {
    std::string block;
    for (int i = 0; i < 40000; ++i) block.append("a\n");  // 80000 bytes in, 120000 on the wire
    std::string wire;
    for (int i = 0; i < 40000; ++i) wire.append("a\r\n");

    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloChunking);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    e.body(block.data(), block.size());
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 120000\r\n" + wire);
    EXPECT_WANT(e, Want::Body);
    e.body("z", 1);
    e.body_end();
    EXPECT_OUTPUT(e, "BDAT 3 LAST\r\nz\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n250 2.0.0 120000 octets received\r\n250 2.0.0 queued\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    EXPECT_STATES(e, SMTPC_RCPT_DELIVERED);

    // Without PIPELINING: one command at a time, each chunk answered before the next is sent.
    Engine s(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(s, kEhloChunkingNoPipelining);
    EXPECT_STARTED(s.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    EXPECT_OUTPUT(s, "MAIL FROM:<a@x.org>\r\n");
    FEED(s, "250 ok\r\n");
    EXPECT_OUTPUT(s, "RCPT TO:<b@y.org>\r\n");
    FEED(s, "250 ok\r\n");
    EXPECT_WANT(s, Want::Body);
    s.body(block.data(), block.size());
    EXPECT_OUTPUT(s, "BDAT 120000\r\n" + wire);
    EXPECT_WANT(s, Want::Read);  // not Body: the chunk's reply first
    FEED(s, "250 ok\r\n");
    EXPECT_WANT(s, Want::Body);
    s.body_end();
    EXPECT_OUTPUT(s, "BDAT 0 LAST\r\n");
    FEED(s, "250 queued\r\n");
    EXPECT_STATUS(s, SMTPC_OK, "");
    EXPECT_STATES(s, SMTPC_RCPT_DELIVERED);
}

// A refused chunk ends the transaction: no further chunk, then RSET; the refusal is the outcome.
void test_bdat_refused(void **) {
    std::string block(70000, 'x');
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloChunking);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    e.body(block.data(), block.size());
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 70000\r\n" + block);
    std::string_view replies = "250 ok\r\n250 ok\r\n552 5.3.4 too big\r\n";
    e.received(replies.data(), replies.size());
    EXPECT_OUTPUT(e, "RSET\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_STATUS(e, SMTPC_EDATA_REFUSED, "BDAT refused: 552 5.3.4 too big");
    assert_false(e.must_close());
    EXPECT_STATES(e, SMTPC_RCPT_FAILED);
    EXPECT_REPLY(&*rcpt(e, 0).data_reply, 552, "5.3.4 too big");
    EXPECT_LAST_REPLY(e, 552, "5.3.4 too big");

    // The last chunk refused: as a refused message after DATA.
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    e.body("hi", 2);
    e.body_end();
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 4 LAST\r\nhi\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n554 5.7.1 spam\r\n");
    EXPECT_OUTPUT(e, "RSET\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_STATUS(e, SMTPC_EDATA_REFUSED, "message refused: 554 5.7.1 spam");
    EXPECT_STATES(e, SMTPC_RCPT_FAILED);

    // Every recipient refused: the chunk went anyway (pipelined); the RCPT refusal is the outcome.
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    e.body("hi", 2);
    e.body_end();
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 4 LAST\r\nhi\r\n");
    FEED(e, "250 ok\r\n550 5.1.1 no b\r\n554 5.5.1 no valid recipients\r\n");
    EXPECT_OUTPUT(e, "RSET\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_STATUS(e, SMTPC_ERECIPIENTS_REFUSED, "all 1 recipients refused; last: 550 5.1.1 no b");
    EXPECT_STATES(e, SMTPC_RCPT_REFUSED);
    EXPECT_LAST_REPLY(e, 550, "5.1.1 no b");

    // MAIL refused while the body is still being gathered: the rest is not sent.
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    e.body(block.data(), block.size());
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 70000\r\n" + block);
    std::string_view refused = "550 5.7.1 sender refused\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no MAIL\r\n";
    e.received(refused.data(), refused.size());
    EXPECT_OUTPUT(e, "RSET\r\n");
    FEED(e, "250 ok\r\n");
    EXPECT_STATUS(e, SMTPC_ESENDER_REFUSED, "MAIL FROM refused: 550 5.7.1 sender refused");
    EXPECT_STATES(e, SMTPC_RCPT_REFUSED);
}

// The connection lost once BDAT LAST and its chunk are written: delivery unknown. Lost before: not
// delivered (the server cannot have taken an incomplete message).
void test_bdat_connection_lost(void **) {
    std::string block(70000, 'x');
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloChunking);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    e.body(block.data(), block.size());
    take_output(e);
    e.body_end();
    EXPECT_OUTPUT(e, "BDAT 2 LAST\r\n\r\n");  // the final CRLF the message lacked
    FEED(e, "250 ok\r\n250 ok\r\n");          // the first chunk's reply is still outstanding
    e.received_eof();
    EXPECT_STATUS(
        e, SMTPC_EDELIVERY_UNKNOWN,
        "connection closed by the server after the message was sent: it may or may not have been delivered");
    assert_true(e.must_close());
    EXPECT_STATES(e, SMTPC_RCPT_UNKNOWN);

    // LAST queued, not all written.
    Engine p(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(p, kEhloChunking);
    EXPECT_STARTED(p.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    p.body("hi", 2);
    p.body_end();
    EXPECT_WANT(p, Want::Write);
    p.output_written(p.output().size() - 1);
    p.failed(SMTPC_EIO, "connection reset");
    EXPECT_STATUS(p, SMTPC_EIO, "connection reset");
    EXPECT_STATES(p, SMTPC_RCPT_NOT_ATTEMPTED);

    // A non-last chunk written and answered, then the connection lost: not delivered.
    Engine n(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(n, kEhloChunking);
    EXPECT_STARTED(n.begin_sendmail(envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    n.body(block.data(), block.size());
    take_output(n);
    std::string_view replies = "250 ok\r\n250 ok\r\n250 ok\r\n";
    n.received(replies.data(), replies.size());
    n.received_eof();
    EXPECT_STATUS(n, SMTPC_EDISCONNECTED, "connection closed by the server");
    EXPECT_STATES(n, SMTPC_RCPT_ACCEPTED);
}

// LMTP: one reply per accepted recipient after BDAT LAST, counted once the RCPT replies are in.
void test_bdat_lmtp(void **) {
    Engine e(SMTPC_PROTOCOL_LMTP);
    connect_ehlo(e, kEhloChunking);
    EXPECT_STARTED(e.begin_sendmail(envelope("a@x.org", {"b@y.org", "x@y.org", "c@y.org", "d@y.org"}),
                                    std::nullopt, true, true));
    e.body("hi\r\n", 4);
    e.body_end();
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<x@y.org>\r\nRCPT TO:<c@y.org>\r\n"
                     "RCPT TO:<d@y.org>\r\nBDAT 4 LAST\r\nhi\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n550 5.1.1 no x\r\n250 ok\r\n250 ok\r\n250 2.1.5 b delivered\r\n");
    EXPECT_WANT(e, Want::Read);  // two more replies expected
    FEED(e, "550 5.1.1 c unknown\r\n");
    EXPECT_WANT(e, Want::Read);
    FEED(e, "452 4.2.2 d over quota\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    EXPECT_STATES(e, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_REFUSED, SMTPC_RCPT_FAILED, SMTPC_RCPT_FAILED);
    EXPECT_REPLY(&*rcpt(e, 2).data_reply, 550, "5.1.1 c unknown");
    EXPECT_REPLY(&*rcpt(e, 3).data_reply, 452, "4.2.2 d over quota");

    // The connection lost between the per-recipient replies: the rest unknown.
    Engine u(SMTPC_PROTOCOL_LMTP);
    connect_ehlo(u, kEhloChunking);
    EXPECT_STARTED(u.begin_sendmail(envelope("a@x.org", {"b@y.org", "c@y.org"}), std::nullopt, true, true));
    u.body_end();
    EXPECT_OUTPUT(u, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nBDAT 0 LAST\r\n");
    FEED(u, "250 ok\r\n250 ok\r\n250 ok\r\n250 b delivered\r\n");
    u.received_eof();
    EXPECT_STATUS(
        u, SMTPC_EDELIVERY_UNKNOWN,
        "connection closed by the server after the message was sent: it may or may not have been delivered");
    EXPECT_STATES(u, SMTPC_RCPT_DELIVERED, SMTPC_RCPT_UNKNOWN);
}

// -------------------------------------------------------------------------------------------------
// The message queue: many messages over one connection (docs/design-batch.md)

const char *message_state_name(smtpc_message_state s) {
    switch (s) {
    case SMTPC_MESSAGE_DELIVERED: return "DELIVERED";
    case SMTPC_MESSAGE_PARTIAL: return "PARTIAL";
    case SMTPC_MESSAGE_REFUSED: return "REFUSED";
    case SMTPC_MESSAGE_NOT_SENT: return "NOT_SENT";
    case SMTPC_MESSAGE_UNKNOWN: return "UNKNOWN";
    }
    return "?";
}

// Takes message `id`, which must be complete with this state, status and message.
void expect_outcome(Engine &e, std::uint64_t id, smtpc_message_state state, smtpc_status st,
                    std::string_view message, const char *file, int line) {
    if (!e.complete(id)) {
        print_error("message %llu is not complete\n", static_cast<unsigned long long>(id));
        _fail(file, line);
    }
    Engine::Outcome o = e.take(id);
    if (o.id != id || o.state != state || o.status != st || o.message != message) {
        print_error("message %llu: %s %s \"%s\"\n  expected %s %s \"%s\"\n",
                    static_cast<unsigned long long>(id), message_state_name(o.state),
                    smtpc_status_name(o.status), o.message.c_str(), message_state_name(state),
                    smtpc_status_name(st), std::string(message).c_str());
        _fail(file, line);
    }
}
#define EXPECT_OUTCOME(e, id, state, st, msg) \
    expect_outcome((e), (id), (state), (st), (msg), __FILE__, __LINE__)

// Answers every Body want with the body of the message asked for (bodies[id - 1], in one block) and
// collects what the engine writes until it waits for a reply.
std::string pump_out(Engine &e, const std::vector<std::string> &bodies) {
    std::string written;
    std::vector<bool> started(bodies.size() + 1, false);
    for (;;) {
        Want w = e.want();
        if (w == Want::Write) {
            written.append(e.output());
            e.output_written(e.output().size());
        } else if (w == Want::Body) {
            std::uint64_t id = e.body_id();
            assert_true(id >= 1 && id <= bodies.size());
            if (!started[id] && !bodies[id - 1].empty()) {
                started[id] = true;
                e.body(bodies[id - 1].data(), bodies[id - 1].size());
            } else {
                e.body_end();
            }
        } else {
            return written;
        }
    }
}

void expect_bytes_eq(std::string_view got, std::string_view want, const char *file, int line) {
    if (got == want) return;
    print_error("bytes differ\n  actual:   \"%s\"\n  expected: \"%s\"\n", unit::escaped(got).c_str(),
                unit::escaped(want).c_str());
    _fail(file, line);
}
#define EXPECT_EQ_BYTES(got, want) expect_bytes_eq((got), (want), __FILE__, __LINE__)

// DATA (RFC 2920 section 3.1): the next message's MAIL, RCPT and DATA follow the final dot in the same
// write, once DATA got its 354: one round trip per message.
void test_queue_data_pipelined_across_messages(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloNoSize);
    for (std::uint64_t id = 1; id <= 3; ++id)
        EXPECT_STARTED(e.enqueue(id, envelope("a@x.org", {"b@y.org"}), std::nullopt, true, false));
    assert_int_equal(e.unfinished(), 3);
    assert_int_equal(e.in_flight(), 1);  // the second waits for the first one's 354
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n354 go\r\n");
    std::vector<std::string> bodies = {"one\r\n", ".two\r\n", "three"};
    EXPECT_EQ_BYTES(pump_out(e, bodies), "one\r\n.\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    assert_int_equal(e.in_flight(), 2);
    FEED(e, "250 queued as 1\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    assert_true(e.complete(1));
    assert_false(e.complete(2));
    EXPECT_EQ_BYTES(pump_out(e, bodies),
                    "..two\r\n.\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(e, "250 queued as 2\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    EXPECT_EQ_BYTES(pump_out(e, bodies), "three\r\n.\r\n");
    FEED(e, "250 queued as 3\r\n");
    EXPECT_WANT(e, Want::Done);
    std::uint64_t oldest = 0;
    assert_true(e.oldest_complete(oldest));
    assert_int_equal(oldest, 1);
    Engine::Outcome o = e.take(1);
    assert_int_equal(o.state, SMTPC_MESSAGE_DELIVERED);
    EXPECT_REPLY(o.final_reply ? &*o.final_reply : nullptr, 250, "queued as 1");
    assert_int_equal(o.result->recipients[0].state, SMTPC_RCPT_DELIVERED);
    EXPECT_OUTCOME(e, 2, SMTPC_MESSAGE_DELIVERED, SMTPC_OK, "");
    EXPECT_OUTCOME(e, 3, SMTPC_MESSAGE_DELIVERED, SMTPC_OK, "");
    assert_int_equal(e.unfinished(), 0);
}

// A refused message does not disturb the next: every recipient refused, DATA refused, then RSET opens
// the next group in the same write.
void test_queue_refusal_in_the_middle(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloNoSize);
    EXPECT_STARTED(e.enqueue(1, envelope("a@x.org", {"b@y.org"}), std::nullopt, true, false));
    EXPECT_STARTED(e.enqueue(2, envelope("a@x.org", {"bad@y.org"}), std::nullopt, true, false));
    EXPECT_STARTED(e.enqueue(3, envelope("a@x.org", {"c@y.org", "d@y.org"}), std::nullopt, true, false));
    std::vector<std::string> bodies = {"1\r\n", "2\r\n", "3\r\n"};
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n354 go\r\n");
    EXPECT_EQ_BYTES(pump_out(e, bodies), "1\r\n.\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<bad@y.org>\r\nDATA\r\n");
    FEED(e, "250 queued\r\n250 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n");
    EXPECT_EQ_BYTES(pump_out(e, bodies),
                    "RSET\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<c@y.org>\r\nRCPT TO:<d@y.org>\r\nDATA\r\n");
    FEED(e, "250 reset\r\n250 ok\r\n250 ok\r\n452 4.2.2 mailbox full\r\n354 go\r\n");
    EXPECT_EQ_BYTES(pump_out(e, bodies), "3\r\n.\r\n");
    FEED(e, "250 queued\r\n");
    EXPECT_WANT(e, Want::Done);
    EXPECT_OUTCOME(e, 1, SMTPC_MESSAGE_DELIVERED, SMTPC_OK, "");
    Engine::Outcome o = e.take(2);
    assert_int_equal(o.state, SMTPC_MESSAGE_REFUSED);
    assert_int_equal(o.status, SMTPC_ERECIPIENTS_REFUSED);
    EXPECT_REPLY(o.final_reply ? &*o.final_reply : nullptr, 550, "5.1.1 no such user");
    assert_int_equal(o.result->recipients[0].state, SMTPC_RCPT_REFUSED);
    o = e.take(3);
    assert_int_equal(o.state, SMTPC_MESSAGE_PARTIAL);  // d refused at RCPT
    assert_int_equal(o.status, SMTPC_OK);
    assert_int_equal(o.result->recipients[0].state, SMTPC_RCPT_DELIVERED);
    assert_int_equal(o.result->recipients[1].state, SMTPC_RCPT_REFUSED);
}

// BDAT (RFC 3030): no 354, so a window of whole messages goes out in one write; each MAIL written
// while an earlier message is unanswered has an RSET ahead of it.
void test_queue_bdat_window(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloChunking);
    for (std::uint64_t id = 1; id <= 3; ++id)
        EXPECT_STARTED(e.enqueue(id, envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    std::vector<std::string> bodies = {"one\r\n", "two\r\n", ".three"};
    EXPECT_EQ_BYTES(pump_out(e, bodies),
                    "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 5 LAST\r\none\r\n"
                    "RSET\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 5 LAST\r\ntwo\r\n"
                    "RSET\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 8 LAST\r\n.three\r\n");
    assert_int_equal(e.in_flight(), 3);
    FEED(e, "250 ok\r\n250 ok\r\n250 queued 1\r\n250 reset\r\n250 ok\r\n250 ok\r\n250 queued 2\r\n"
            "250 reset\r\n250 ok\r\n250 ok\r\n250 queued 3\r\n");
    EXPECT_WANT(e, Want::Done);
    for (std::uint64_t id = 1; id <= 3; ++id) EXPECT_OUTCOME(e, id, SMTPC_MESSAGE_DELIVERED, SMTPC_OK, "");

    // A window of 2: the third message waits for the first one's reply.
    Engine w(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(w, kEhloChunking);
    w.set_window(2, 1024 * 1024);
    for (std::uint64_t id = 1; id <= 3; ++id)
        EXPECT_STARTED(w.enqueue(id, envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    EXPECT_EQ_BYTES(pump_out(w, bodies),
                    "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 5 LAST\r\none\r\n"
                    "RSET\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 5 LAST\r\ntwo\r\n");
    assert_int_equal(w.in_flight(), 2);
    FEED(w, "250 ok\r\n250 ok\r\n250 queued 1\r\n");
    EXPECT_EQ_BYTES(pump_out(w, bodies),
                    "RSET\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 8 LAST\r\n.three\r\n");
}

// A refusal inside a BDAT window: the first message's recipient is refused (its transaction may stay
// open on the server); the second message's RSET closes it, so the second is delivered and the
// first is reported refused, without an RSET of its own.
void test_queue_bdat_refusal_in_window(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloChunking);
    EXPECT_STARTED(e.enqueue(1, envelope("a@x.org", {"bad@y.org"}), std::nullopt, true, true));
    EXPECT_STARTED(e.enqueue(2, envelope("a@x.org", {"b@y.org"}), std::nullopt, true, true));
    std::vector<std::string> bodies = {"one\r\n", "two\r\n"};
    EXPECT_EQ_BYTES(pump_out(e, bodies),
                    "MAIL FROM:<a@x.org>\r\nRCPT TO:<bad@y.org>\r\nBDAT 5 LAST\r\none\r\n"
                    "RSET\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 5 LAST\r\ntwo\r\n");
    FEED(e, "250 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n"
            "250 reset\r\n250 ok\r\n250 ok\r\n250 queued 2\r\n");
    EXPECT_WANT(e, Want::Done);
    EXPECT_OUTCOME(e, 1, SMTPC_MESSAGE_REFUSED, SMTPC_ERECIPIENTS_REFUSED,
                   "all 1 recipients refused; last: 550 5.1.1 no such user");
    EXPECT_OUTCOME(e, 2, SMTPC_MESSAGE_DELIVERED, SMTPC_OK, "");

    // The last message of the window refused: nothing behind it, so it gets its own RSET.
    Engine f(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(f, kEhloChunking);
    EXPECT_STARTED(f.enqueue(1, envelope("a@x.org", {"bad@y.org"}), std::nullopt, true, true));
    EXPECT_EQ_BYTES(pump_out(f, bodies),
                    "MAIL FROM:<a@x.org>\r\nRCPT TO:<bad@y.org>\r\nBDAT 5 LAST\r\none\r\n");
    FEED(f, "250 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n");
    EXPECT_OUTPUT(f, "RSET\r\n");
    FEED(f, "250 reset\r\n");
    EXPECT_OUTCOME(f, 1, SMTPC_MESSAGE_REFUSED, SMTPC_ERECIPIENTS_REFUSED,
                   "all 1 recipients refused; last: 550 5.1.1 no such user");
}

// Connection loss with messages at every stage: the one answered stays delivered, the one whose final
// dot went out unanswered is unknown, the one whose commands were in flight without its end of data
// was not sent, and the one never started was not sent.
void test_queue_connection_loss_states(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect_ehlo(e, kEhloNoSize);
    for (std::uint64_t id = 1; id <= 4; ++id)
        EXPECT_STARTED(e.enqueue(id, envelope("a@x.org", {"b@y.org"}), std::nullopt, true, false));
    std::vector<std::string> bodies = {"1\r\n", "2\r\n", "3\r\n", "4\r\n"};
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n354 go\r\n");
    pump_out(e, bodies);
    FEED(e, "250 queued 1\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    pump_out(e, bodies);  // message 2's dot and message 3's MAIL, RCPT, DATA are on the wire
    e.received_eof();
    EXPECT_WANT(e, Want::Done);
    assert_true(e.must_close());
    EXPECT_OUTCOME(e, 1, SMTPC_MESSAGE_DELIVERED, SMTPC_OK, "");
    Engine::Outcome o = e.take(2);
    assert_int_equal(o.state, SMTPC_MESSAGE_UNKNOWN);
    assert_int_equal(o.status, SMTPC_EDELIVERY_UNKNOWN);
    assert_int_equal(o.result->recipients[0].state, SMTPC_RCPT_UNKNOWN);
    EXPECT_OUTCOME(e, 3, SMTPC_MESSAGE_NOT_SENT, SMTPC_EDISCONNECTED, "connection closed by the server");
    EXPECT_OUTCOME(e, 4, SMTPC_MESSAGE_NOT_SENT, SMTPC_EDISCONNECTED,
                   "connection closed by the server (the message was not sent)");
}

// LMTP: one reply per accepted recipient after each message, then the next message's group.
void test_queue_lmtp(void **) {
    Engine e(SMTPC_PROTOCOL_LMTP);
    connect_ehlo(e, kEhloNoSize);
    EXPECT_STARTED(e.enqueue(1, envelope("a@x.org", {"b@y.org", "c@y.org"}), std::nullopt, true, false));
    EXPECT_STARTED(e.enqueue(2, envelope("a@x.org", {"d@y.org"}), std::nullopt, true, false));
    std::vector<std::string> bodies = {"1\r\n", "2\r\n"};
    EXPECT_OUTPUT(e, "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");
    FEED(e, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    EXPECT_EQ_BYTES(pump_out(e, bodies), "1\r\n.\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<d@y.org>\r\nDATA\r\n");
    FEED(e, "250 2.0.0 b delivered\r\n552 5.2.2 c over quota\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    EXPECT_EQ_BYTES(pump_out(e, bodies), "2\r\n.\r\n");
    FEED(e, "250 2.0.0 d delivered\r\n");
    Engine::Outcome o = e.take(1);
    assert_int_equal(o.state, SMTPC_MESSAGE_PARTIAL);
    assert_int_equal(o.status, SMTPC_OK);
    assert_int_equal(o.result->recipients[0].state, SMTPC_RCPT_DELIVERED);
    assert_int_equal(o.result->recipients[1].state, SMTPC_RCPT_FAILED);
    EXPECT_OUTCOME(e, 2, SMTPC_MESSAGE_DELIVERED, SMTPC_OK, "");
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting_ok),
        cmocka_unit_test(test_queue_data_pipelined_across_messages),
        cmocka_unit_test(test_queue_refusal_in_the_middle),
        cmocka_unit_test(test_queue_bdat_window),
        cmocka_unit_test(test_queue_bdat_refusal_in_window),
        cmocka_unit_test(test_queue_connection_loss_states),
        cmocka_unit_test(test_queue_lmtp),
        cmocka_unit_test(test_greeting_refused),
        cmocka_unit_test(test_greeting_protocol_errors),
        cmocka_unit_test(test_ehlo_fills_features),
        cmocka_unit_test(test_ehlo_refused_then_helo),
        cmocka_unit_test(test_lhlo),
        cmocka_unit_test(test_sendmail_pipelined_batch),
        cmocka_unit_test(test_sendmail_pipelined_splits),
        cmocka_unit_test(test_sendmail_lockstep),
        cmocka_unit_test(test_size_and_options),
        cmocka_unit_test(test_helo_session_drops_options),
        cmocka_unit_test(test_smtputf8),
        cmocka_unit_test(test_mail_refused_lockstep),
        cmocka_unit_test(test_mail_refused_pipelined),
        cmocka_unit_test(test_mail_421),
        cmocka_unit_test(test_mixed_rcpt_results_pipelined_four_codes),
        cmocka_unit_test(test_all_refused_lockstep),
        cmocka_unit_test(test_all_refused_pipelined),
        cmocka_unit_test(test_354_after_all_refused_pipelined),
        cmocka_unit_test(test_data_refused),
        cmocka_unit_test(test_message_refused),
        cmocka_unit_test(test_eof_after_final_dot),
        cmocka_unit_test(test_eof_before_final_dot),
        cmocka_unit_test(test_421_in_pipelined_rcpts),
        cmocka_unit_test(test_lmtp_mixed_final_replies),
        cmocka_unit_test(test_lmtp_none_delivered),
        cmocka_unit_test(test_lmtp_final_replies_split),
        cmocka_unit_test(test_lmtp_eof_between_final_replies),
        cmocka_unit_test(test_lmtp_extra_reply),
        cmocka_unit_test(test_unsolicited_reply_while_sending_body),
        cmocka_unit_test(test_extra_data_after_last_reply),
        cmocka_unit_test(test_lockstep_reply_before_command_written),
        cmocka_unit_test(test_pipelined_reply_before_command_written),
        cmocka_unit_test(test_low_level_commands),
        cmocka_unit_test(test_low_level_transaction),
        cmocka_unit_test(test_refusal_then_close),
        cmocka_unit_test(test_refused_while_sending_body),
        cmocka_unit_test(test_body_gathered_for_one_write),
        cmocka_unit_test(test_received_while_idle),
        cmocka_unit_test(test_bdat_pipelined_one_write),
        cmocka_unit_test(test_bdat_several_chunks),
        cmocka_unit_test(test_bdat_refused),
        cmocka_unit_test(test_bdat_connection_lost),
        cmocka_unit_test(test_bdat_lmtp),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
