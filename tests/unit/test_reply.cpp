// SPDX-License-Identifier: MIT
// Unit tests of the incremental reply parser (src/proto/reply.*): catalogue section B.
//
// Every expected value is exact: codes, lines, the smtplib-joined text, the enhanced status code,
// and for malformed input the parser's own error message. A differential test checks that a
// transcript gives the same replies whole, byte by byte, and split anywhere into 2 or 3 pieces.
#include "proto/reply.hpp"

#include "alloc_tracker.hpp"
#include "unit_common.hpp"

#include <string>
#include <vector>

using smtpc::detail::Reply;
using smtpc::detail::ReplyLimits;
using smtpc::detail::ReplyParser;

namespace {

struct Outcome {
    std::vector<Reply> replies;
    bool error = false;
    std::string message;
    std::size_t consumed = 0;  // total bytes the parser took
    bool mid_reply = false;    // parser state after the last chunk
};

// Feeds the chunks in order, taking every completed reply; stops at the first error.
Outcome parse_chunks(const std::vector<std::string_view> &chunks, ReplyLimits limits = {}) {
    ReplyParser p(limits);
    Outcome o;
    for (std::string_view c : chunks) {
        std::size_t off = 0;
        while (off < c.size()) {
            std::size_t used = 0;
            ReplyParser::Result r = p.feed(c.data() + off, c.size() - off, used);
            off += used;
            o.consumed += used;
            if (r == ReplyParser::Result::Error) {
                o.error = true;
                o.message = p.error();
                o.mid_reply = p.mid_reply();
                return o;
            }
            if (r == ReplyParser::Result::Complete) {
                o.replies.push_back(p.take_reply());
                continue;
            }
            // NeedMore must have taken the whole chunk, or the caller would loop forever.
            if (off != c.size()) fail_msg("NeedMore with %zu bytes left unconsumed", c.size() - off);
        }
    }
    o.mid_reply = p.mid_reply();
    return o;
}

Outcome parse_whole(std::string_view s, ReplyLimits limits = {}) { return parse_chunks({s}, limits); }

Outcome parse_bytewise(std::string_view s, ReplyLimits limits = {}) {
    std::vector<std::string_view> chunks;
    for (std::size_t i = 0; i < s.size(); ++i) chunks.push_back(s.substr(i, 1));
    return parse_chunks(chunks, limits);
}

void expect_reply(const Reply &r, int code, const std::vector<std::string> &lines, std::string_view text,
                  std::string_view enhanced) {
    assert_int_equal(r.code, code);
    assert_int_equal(r.lines.size(), lines.size());
    for (std::size_t i = 0; i < lines.size(); ++i) EXPECT_BYTES(r.lines[i], lines[i]);
    EXPECT_BYTES(r.text, text);
    EXPECT_BYTES(r.enhanced, enhanced);
}

bool same_reply(const Reply &a, const Reply &b) {
    return a.code == b.code && a.lines == b.lines && a.text == b.text && a.enhanced == b.enhanced;
}

void expect_same_outcome(const Outcome &got, const Outcome &want, const char *how) {
    if (got.error != want.error || got.message != want.message || got.replies.size() != want.replies.size()) {
        fail_msg("%s: error %d/%d message \"%s\"/\"%s\" replies %zu/%zu", how, got.error, want.error,
                 got.message.c_str(), want.message.c_str(), got.replies.size(), want.replies.size());
    }
    for (std::size_t i = 0; i < want.replies.size(); ++i)
        if (!same_reply(got.replies[i], want.replies[i]))
            fail_msg("%s: reply %zu differs (code %d vs %d, text \"%s\" vs \"%s\")", how, i,
                     got.replies[i].code, want.replies[i].code, unit::escaped(got.replies[i].text).c_str(),
                     unit::escaped(want.replies[i].text).c_str());
}

// One complete reply, fed whole and byte by byte.
Reply parse_one(std::string_view s) {
    Outcome whole = parse_whole(s);
    if (whole.error)
        fail_msg("unexpected error \"%s\" for \"%s\"", whole.message.c_str(), unit::escaped(s).c_str());
    assert_int_equal(whole.replies.size(), 1);
    assert_int_equal(whole.consumed, s.size());
    assert_false(whole.mid_reply);
    expect_same_outcome(parse_bytewise(s), whole, "byte by byte");
    return whole.replies[0];
}

// A malformed input: Error with exactly `message`, whole and byte by byte.
void expect_error(std::string_view s, std::string_view message, ReplyLimits limits = {}) {
    Outcome whole = parse_whole(s, limits);
    if (!whole.error) fail_msg("no error for \"%s\"", unit::escaped(s).c_str());
    EXPECT_BYTES(whole.message, message);
    Outcome bytewise = parse_bytewise(s, limits);
    if (!bytewise.error) fail_msg("no error byte by byte for \"%s\"", unit::escaped(s).c_str());
    EXPECT_BYTES(bytewise.message, message);
}

// -------------------------------------------------------------------------------------------------
// Well-formed replies

void test_single_line(void **) {
    expect_reply(parse_one("250 OK\r\n"), 250, {"OK"}, "OK", "");
    expect_reply(parse_one("220 mx.example.org ESMTP Postfix\r\n"), 220, {"mx.example.org ESMTP Postfix"},
                 "mx.example.org ESMTP Postfix", "");
    expect_reply(parse_one("599 x\r\n"), 599, {"x"}, "x", "");
    expect_reply(parse_one("200 x\r\n"), 200, {"x"}, "x", "");
}

void test_multiline(void **) {
    expect_reply(parse_one("250-mx.example.org Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"), 250,
                 {"mx.example.org Hello", "PIPELINING", "SIZE 1000"},
                 "mx.example.org Hello\nPIPELINING\nSIZE 1000", "");
    // A continuation line with no text, and a last line with nothing after the space.
    expect_reply(parse_one("250-\r\n250-a\r\n250 \r\n"), 250, {"", "a", ""}, "\na\n", "");
}

void test_code_without_text(void **) {
    expect_reply(parse_one("250\r\n"), 250, {""}, "", "");
    expect_reply(parse_one("250 \r\n"), 250, {""}, "", "");
    expect_reply(parse_one("354\r\n"), 354, {""}, "", "");
    // A continuation line given as a bare code ends the reply (no '-' follows), as smtplib reads it.
    expect_reply(parse_one("250-a\r\n250\r\n"), 250, {"a", ""}, "a\n", "");
}

void test_text_joined_as_smtplib(void **) {
    // smtplib: line[4:].strip(b' \t\r\n'), joined with "\n". Lines keep their bytes as received.
    expect_reply(parse_one("250-  a b \t\r\n250-\tc\r\n250 d  \r\n"), 250, {"  a b \t", "\tc", "d  "},
                 "a b\nc\nd", "");
    // 8-bit bytes and escape bytes are passed through as bytes (B.22).
    expect_reply(parse_one("550 \xff\xfe \x1b[31mred\r\n"), 550, {"\xff\xfe \x1b[31mred"},
                 "\xff\xfe \x1b[31mred", "");
}

void test_enhanced_status(void **) {
    expect_reply(parse_one("250 2.1.0 Ok\r\n"), 250, {"2.1.0 Ok"}, "2.1.0 Ok", "2.1.0");
    expect_reply(parse_one("550 5.1.1 No such user\r\n"), 550, {"5.1.1 No such user"}, "5.1.1 No such user",
                 "5.1.1");
    expect_reply(parse_one("451 4.3.0\r\n"), 451, {"4.3.0"}, "4.3.0", "4.3.0");
    expect_reply(parse_one("250 2.123.456 x\r\n"), 250, {"2.123.456 x"}, "2.123.456 x", "2.123.456");
    // Class must match the reply code's first digit.
    expect_reply(parse_one("550 2.1.0 x\r\n"), 550, {"2.1.0 x"}, "2.1.0 x", "");
    expect_reply(parse_one("250 5.1.0 x\r\n"), 250, {"5.1.0 x"}, "5.1.0 x", "");
    // Must be followed by a space or the end of the line.
    expect_reply(parse_one("250 2.1.0x\r\n"), 250, {"2.1.0x"}, "2.1.0x", "");
    // Malformed forms.
    expect_reply(parse_one("250 2.1000.0 x\r\n"), 250, {"2.1000.0 x"}, "2.1000.0 x", "");
    expect_reply(parse_one("250 2.1.1000 x\r\n"), 250, {"2.1.1000 x"}, "2.1.1000 x", "");
    expect_reply(parse_one("250 2..0 x\r\n"), 250, {"2..0 x"}, "2..0 x", "");
    expect_reply(parse_one("250 2.1. x\r\n"), 250, {"2.1. x"}, "2.1. x", "");
    expect_reply(parse_one("250 2.1\r\n"), 250, {"2.1"}, "2.1", "");
    expect_reply(parse_one("250 Ok 2.1.0\r\n"), 250, {"Ok 2.1.0"}, "Ok 2.1.0", "");
    // Only the first line is looked at.
    expect_reply(parse_one("250-2.0.0 a\r\n250 2.0.0 b\r\n"), 250, {"2.0.0 a", "2.0.0 b"}, "2.0.0 a\n2.0.0 b",
                 "2.0.0");
    expect_reply(parse_one("250-a\r\n250 2.0.0 b\r\n"), 250, {"a", "2.0.0 b"}, "a\n2.0.0 b", "");
}

void test_line_observer(void **) {
    ReplyParser p;
    std::vector<std::string> seen;
    p.set_line_observer([&seen](std::string_view line) { seen.emplace_back(line); });
    std::string_view in = "250-a\r\n250 b\r\n";
    std::size_t used = 0;
    assert_true(p.feed(in.data(), in.size(), used) == ReplyParser::Result::Complete);
    assert_int_equal(used, in.size());
    assert_int_equal(seen.size(), 2);
    EXPECT_BYTES(seen[0], "250-a\r\n");
    EXPECT_BYTES(seen[1], "250 b\r\n");
}

void test_incremental_state(void **) {
    ReplyParser p;
    std::size_t used = 0;
    assert_false(p.mid_reply());
    assert_true(p.feed("250", 3, used) == ReplyParser::Result::NeedMore);
    assert_int_equal(used, 3);
    assert_true(p.mid_reply());  // B.15: "250" then EOF is a reply cut short
    assert_true(p.feed("-a\r\n", 4, used) == ReplyParser::Result::NeedMore);
    assert_true(p.mid_reply());
    // The reply ends here; the bytes after it are left for the next feed.
    assert_true(p.feed("250 b\r\n221 x", 12, used) == ReplyParser::Result::Complete);
    assert_int_equal(used, 7);
    Reply r = p.take_reply();
    expect_reply(r, 250, {"a", "b"}, "a\nb", "");
    assert_false(p.mid_reply());
    assert_true(p.feed("221 x\r\n", 7, used) == ReplyParser::Result::Complete);
    expect_reply(p.take_reply(), 221, {"x"}, "x", "");
}

void test_error_is_sticky_until_reset(void **) {
    ReplyParser p;
    std::size_t used = 0;
    assert_true(p.feed("250 a\n", 6, used) == ReplyParser::Result::Error);
    EXPECT_BYTES(p.error(), "bare LF in reply");
    assert_true(p.feed("250 ok\r\n", 8, used) == ReplyParser::Result::Error);
    assert_int_equal(used, 0);
    EXPECT_BYTES(p.error(), "bare LF in reply");
    p.reset();
    EXPECT_BYTES(p.error(), "");
    assert_false(p.mid_reply());
    assert_true(p.feed("250 ok\r\n", 8, used) == ReplyParser::Result::Complete);
    expect_reply(p.take_reply(), 250, {"ok"}, "ok", "");
}

// -------------------------------------------------------------------------------------------------
// Malformed replies

void test_mismatched_codes(void **) {
    expect_error("250-a\r\n251 b\r\n", "multiline reply with mismatched codes 250 and 251");
    expect_error("250-a\r\n250-b\r\n550 c\r\n", "multiline reply with mismatched codes 250 and 550");
    expect_error("220-a\r\n250 b\r\n", "multiline reply with mismatched codes 220 and 250");
}

void test_bad_codes(void **) {
    const char *no_code = "malformed reply line (no valid code 200-599)";
    expect_error("099 x\r\n", no_code);
    expect_error("600 x\r\n", no_code);
    expect_error("199 x\r\n", no_code);
    expect_error("100 x\r\n", no_code);
    expect_error("000\r\n", no_code);
    expect_error("25 \r\n", no_code);
    expect_error("25\r\n", no_code);
    expect_error(" 250 x\r\n", no_code);
    expect_error("+250 x\r\n", no_code);
    expect_error("\r\n", no_code);
    expect_error("abc def\r\n", no_code);
    expect_error("\xef\xbc\x92\xef\xbc\x95\xef\xbc\x90 fullwidth\r\n", no_code);
    // A bad continuation line inside a multiline reply.
    expect_error("250-a\r\nxyz b\r\n", no_code);

    const char *bad_sep = "malformed reply line (bad separator)";
    expect_error("2500\r\n", bad_sep);
    expect_error("2500 x\r\n", bad_sep);
    expect_error("250OK\r\n", bad_sep);
    expect_error("250\tOK\r\n", bad_sep);
    expect_error("250_OK\r\n", bad_sep);
}

void test_bare_lf_cr_nul(void **) {
    expect_error("250 OK\n", "bare LF in reply");
    expect_error("\n", "bare LF in reply");
    expect_error("250-a\r\n250 b\n", "bare LF in reply");
    expect_error("250 O\rK\r\n", "bare CR in reply");
    expect_error("250 OK\r\r\n", "bare CR in reply");
    expect_error("250-a\r250 b\r\n", "bare CR in reply");
    expect_error(SV("250 O\0K\r\n"), "NUL in reply");
    expect_error(SV("\0"), "NUL in reply");
    expect_error(SV("250-a\r\n250 \0\r\n"), "NUL in reply");

    // Bare LF is found at once: nothing after it is needed.
    ReplyParser p;
    std::size_t used = 0;
    assert_true(p.feed("250 OK\n", 7, used) == ReplyParser::Result::Error);
    // A CR at the end of the input waits for the next byte; a non-LF then is an error at once.
    ReplyParser q;
    assert_true(q.feed("250 OK\r", 7, used) == ReplyParser::Result::NeedMore);
    assert_true(q.feed("X", 1, used) == ReplyParser::Result::Error);
    EXPECT_BYTES(q.error(), "bare CR in reply");
}

void test_line_length_limit(void **) {
    // Default max_line is 4096 octets with the CRLF.
    std::string ok = "250 " + std::string(4090, 'a') + "\r\n";
    assert_int_equal(ok.size(), 4096);
    Reply r = parse_one(ok);
    assert_int_equal(r.code, 250);
    assert_int_equal(r.lines[0].size(), 4090);

    std::string over = "250 " + std::string(4091, 'a') + "\r\n";
    expect_error(over, "reply line longer than 4096 octets");
    // A continuation line just over the limit.
    expect_error("250-x\r\n" + over, "reply line longer than 4096 octets");

    ReplyLimits small{512, 1000, 64 * 1024};
    std::string ok512 = "250 " + std::string(506, 'b') + "\r\n";
    Outcome o = parse_whole(ok512, small);
    assert_false(o.error);
    assert_int_equal(o.replies.size(), 1);
    std::string over512 = "250 " + std::string(507, 'b') + "\r\n";
    expect_error(over512, "reply line longer than 512 octets", small);
}

void test_megabyte_line_memory_bounded(void **) {
    const std::string huge = "250 " + std::string(1024 * 1024, 'a');  // 1 MB, no CRLF ever

    // Whole: refused in the first call, without buffering the line.
    {
        ReplyParser p;
        std::size_t used = 0;
        unit::alloc_tracking(true);
        ReplyParser::Result r = p.feed(huge.data(), huge.size(), used);
        unit::alloc_tracking(false);
        assert_true(r == ReplyParser::Result::Error);
        EXPECT_BYTES(p.error(), "reply line longer than 4096 octets");
        if (unit::alloc_tracked_max() > 16 * 1024)
            fail_msg("parser allocated %zu bytes at once for a refused line", unit::alloc_tracked_max());
    }
    // In 1 KB reads: the error comes with the read that crosses 4096 octets (the 4th).
    {
        ReplyParser p;
        std::size_t total = 0, calls = 0;
        ReplyParser::Result r = ReplyParser::Result::NeedMore;
        unit::alloc_tracking(true);
        for (std::size_t off = 0; off < huge.size() && r == ReplyParser::Result::NeedMore; off += 1024) {
            std::size_t used = 0;
            r = p.feed(huge.data() + off, 1024, used);
            total += used;
            ++calls;
        }
        unit::alloc_tracking(false);
        assert_true(r == ReplyParser::Result::Error);
        assert_int_equal(calls, 4);
        assert_int_equal(total, 3072);
        if (unit::alloc_tracked_max() > 16 * 1024)
            fail_msg("parser allocated %zu bytes at once", unit::alloc_tracked_max());
    }
    // Byte by byte: the 4095th byte of the line is refused (4094 + CRLF would be 4096).
    {
        ReplyParser p;
        std::size_t total = 0;
        ReplyParser::Result r = ReplyParser::Result::NeedMore;
        for (std::size_t off = 0; off < huge.size() && r == ReplyParser::Result::NeedMore; ++off) {
            std::size_t used = 0;
            r = p.feed(huge.data() + off, 1, used);
            total += used;
        }
        assert_true(r == ReplyParser::Result::Error);
        assert_int_equal(total, 4094);
        EXPECT_BYTES(p.error(), "reply line longer than 4096 octets");
    }
}

std::string continuation_lines(std::size_t n, std::string_view line) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.append(line);
    return s;
}

void test_max_lines(void **) {
    // Default 1000 lines: exactly 1000 is a reply, 1001 is an error.
    std::string ok = continuation_lines(999, "250-x\r\n") + "250 x\r\n";
    Outcome o = parse_whole(ok);
    assert_false(o.error);
    assert_int_equal(o.replies.size(), 1);
    assert_int_equal(o.replies[0].lines.size(), 1000);
    expect_error(continuation_lines(1000, "250-x\r\n") + "250 x\r\n", "reply has more than 1000 lines");

    // 100 000 continuation lines (B.18): refused by the 1001st, without reading the rest.
    std::string flood = continuation_lines(100000, "250-x\r\n");
    Outcome f = parse_whole(flood);
    assert_true(f.error);
    EXPECT_BYTES(f.message, "reply has more than 1000 lines");
    assert_true(f.consumed <= 1001 * 7);

    ReplyLimits three{4096, 3, 64 * 1024};
    Outcome t = parse_whole("250-a\r\n250-b\r\n250 c\r\n", three);
    assert_false(t.error);
    assert_int_equal(t.replies.size(), 1);
    expect_error("250-a\r\n250-b\r\n250-c\r\n250 d\r\n", "reply has more than 3 lines", three);
}

void test_max_reply_bytes(void **) {
    // Default 64 KiB: 16 lines of 4096 octets is exactly 65536; one more line is over.
    std::string line = "250-" + std::string(4090, 'x') + "\r\n";
    std::string last = "250 " + std::string(4090, 'x') + "\r\n";
    std::string ok = continuation_lines(15, line) + last;
    assert_int_equal(ok.size(), 65536);
    Outcome o = parse_whole(ok);
    assert_false(o.error);
    assert_int_equal(o.replies.size(), 1);
    assert_int_equal(o.replies[0].lines.size(), 16);
    expect_error(continuation_lines(16, line) + "250 \r\n", "reply longer than 65536 octets");

    // A small limit: 100 octets accepted, 101 refused; the count starts again for each reply.
    ReplyLimits small{4096, 1000, 100};
    std::string a = "250-" + std::string(44, 'y') + "\r\n";   // 50
    std::string b = "250 " + std::string(44, 'y') + "\r\n";   // 50
    std::string b1 = "250 " + std::string(45, 'y') + "\r\n";  // 51
    Outcome two = parse_whole(a + b + a + b, small);
    assert_false(two.error);
    assert_int_equal(two.replies.size(), 2);
    expect_error(a + b1, "reply longer than 100 octets", small);
}

// -------------------------------------------------------------------------------------------------
// Differential test: the same replies however the transcript is cut.

const char kTranscript[] = "220-mx.example.org ESMTP ready\r\n"
                           "220 second line\r\n"
                           "250-mx.example.org Hello [192.0.2.1]\r\n"
                           "250-PIPELINING\r\n"
                           "250-SIZE 10240000\r\n"
                           "250-AUTH PLAIN LOGIN\r\n"
                           "250 8BITMIME\r\n"
                           "250 2.1.0 Ok\r\n"
                           "250\r\n"
                           "550 5.1.1 <x@y>: Recipient address rejected\r\n"
                           "354 End data with <CR><LF>.<CR><LF>\r\n"
                           "250-  spaced \t\r\n"
                           "250 2.0.0 \r\n"
                           "421 4.3.0 bye\r\n";

void check_transcript_replies(const Outcome &o) {
    assert_false(o.error);
    assert_int_equal(o.replies.size(), 8);
    expect_reply(o.replies[0], 220, {"mx.example.org ESMTP ready", "second line"},
                 "mx.example.org ESMTP ready\nsecond line", "");
    expect_reply(
        o.replies[1], 250,
        {"mx.example.org Hello [192.0.2.1]", "PIPELINING", "SIZE 10240000", "AUTH PLAIN LOGIN", "8BITMIME"},
        "mx.example.org Hello [192.0.2.1]\nPIPELINING\nSIZE 10240000\nAUTH PLAIN LOGIN\n8BITMIME", "");
    expect_reply(o.replies[2], 250, {"2.1.0 Ok"}, "2.1.0 Ok", "2.1.0");
    expect_reply(o.replies[3], 250, {""}, "", "");
    expect_reply(o.replies[4], 550, {"5.1.1 <x@y>: Recipient address rejected"},
                 "5.1.1 <x@y>: Recipient address rejected", "5.1.1");
    expect_reply(o.replies[5], 354, {"End data with <CR><LF>.<CR><LF>"}, "End data with <CR><LF>.<CR><LF>",
                 "");
    expect_reply(o.replies[6], 250, {"  spaced \t", "2.0.0 "}, "spaced\n2.0.0", "");
    expect_reply(o.replies[7], 421, {"4.3.0 bye"}, "4.3.0 bye", "4.3.0");
    assert_false(o.mid_reply);
}

void test_differential_splits(void **) {
    std::string_view t = SV(kTranscript);
    Outcome whole = parse_whole(t);
    check_transcript_replies(whole);
    expect_same_outcome(parse_bytewise(t), whole, "byte by byte");
    char how[64];
    for (std::size_t i = 0; i <= t.size(); ++i) {
        std::snprintf(how, sizeof how, "split at %zu", i);
        expect_same_outcome(parse_chunks({t.substr(0, i), t.substr(i)}), whole, how);
    }
    for (std::size_t i = 0; i <= t.size(); ++i)
        for (std::size_t j = i; j <= t.size(); ++j) {
            Outcome o = parse_chunks({t.substr(0, i), t.substr(i, j - i), t.substr(j)});
            if (o.error || o.replies.size() != whole.replies.size()) {
                std::snprintf(how, sizeof how, "split at %zu and %zu", i, j);
                expect_same_outcome(o, whole, how);
            }
            for (std::size_t k = 0; k < whole.replies.size(); ++k)
                if (!same_reply(o.replies[k], whole.replies[k]))
                    fail_msg("split at %zu and %zu: reply %zu differs", i, j, k);
        }
}

// A malformed transcript gives the same error at the same reply however it is cut.
void test_differential_errors(void **) {
    std::string_view t = "250 ok\r\n250-a\r\n250 b\r\n251-c\r\n252 d\r\n";
    Outcome whole = parse_whole(t);
    assert_true(whole.error);
    EXPECT_BYTES(whole.message, "multiline reply with mismatched codes 251 and 252");
    assert_int_equal(whole.replies.size(), 2);
    for (std::size_t i = 0; i <= t.size(); ++i) {
        Outcome o = parse_chunks({t.substr(0, i), t.substr(i)});
        expect_same_outcome(o, whole, "error transcript split");
    }
    expect_same_outcome(parse_bytewise(t), whole, "error transcript byte by byte");
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_line),
        cmocka_unit_test(test_multiline),
        cmocka_unit_test(test_code_without_text),
        cmocka_unit_test(test_text_joined_as_smtplib),
        cmocka_unit_test(test_enhanced_status),
        cmocka_unit_test(test_line_observer),
        cmocka_unit_test(test_incremental_state),
        cmocka_unit_test(test_error_is_sticky_until_reset),
        cmocka_unit_test(test_mismatched_codes),
        cmocka_unit_test(test_bad_codes),
        cmocka_unit_test(test_bare_lf_cr_nul),
        cmocka_unit_test(test_line_length_limit),
        cmocka_unit_test(test_megabyte_line_memory_bounded),
        cmocka_unit_test(test_max_lines),
        cmocka_unit_test(test_max_reply_bytes),
        cmocka_unit_test(test_differential_splits),
        cmocka_unit_test(test_differential_errors),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
