// SPDX-License-Identifier: MIT
// Unit tests of send_message's header handling (src/message/headers.*): line ends as the DATA encoder
// reads them (CRLF, lone CR, lone LF), continuation lines, the blank line, obsolete white space before
// the colon, Resent- blocks, and the removal of Bcc and Resent-Bcc.
//
// Each prepare_message() case is checked on what the server would receive: the pieces are run
// through the DataEncoder and the result compared with exact bytes, and with an independent reference
// (fuzz/message_reference.hpp, the fuzz_message oracle): the message's lines minus the Bcc fields,
// no Bcc field in the header section, every Bcc address in the envelope. The same check then runs over
// every short message built from a handful of tokens (fields, line ends, continuation lines).
#include "message/headers.hpp"
#include "proto/data_encoder.hpp"

#include "../../fuzz/message_reference.hpp"
#include "unit_common.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace d = smtpc::detail;

namespace {

std::string encode(const std::vector<std::string_view> &pieces) {
    d::DataEncoder enc;
    std::string out;
    for (std::string_view p : pieces) enc.encode(p.data(), p.size(), out);
    enc.finish(out);
    return out;
}

std::vector<std::string> recipients(const d::Envelope &env) {
    std::vector<std::string> out;
    for (const auto &r : env.recipients) out.push_back(r.value);
    return out;
}

std::string joined(const std::vector<std::string> &v) {
    std::string out;
    for (const auto &s : v) out.append(out.empty() ? "" : " ").append(s);
    return out;
}

// The reference checks; returns "" or what failed.
std::string reference_failure(std::string_view msg, const d::OutgoingMessage &out,
                              bool recipients_from_headers) {
    std::string wire = encode(out.pieces);
    std::string got, why;
    if (!msgref::unstuff(wire, got, why)) return "malformed DATA stream: " + why;
    std::string want = msgref::expected_without_bcc(msg);
    if (got != want) return "sent \"" + unit::escaped(got) + "\", expected \"" + unit::escaped(want) + "\"";
    std::string bcc = msgref::bcc_in_header_section(got);
    if (!bcc.empty()) return "a " + bcc + " field reached the server";
    if (d::DataEncoder::normalized_size(out.pieces) != got.size())
        return "normalized_size differs from what is sent";
    if (!recipients_from_headers) return {};
    std::string norm = msgref::normalise(msg);
    msgref::Parsed p = msgref::parse(msgref::lines(norm));
    std::size_t resent = 0;
    for (const auto &f : p.fields) resent += msgref::eq_nocase(f.name, "Resent-Date");
    std::string bcc_name = resent == 1 ? "Resent-Bcc" : "Bcc";
    std::vector<std::string> env = recipients(out.envelope);
    for (const auto &f : p.fields) {
        if (!msgref::eq_nocase(f.name, bcc_name)) continue;
        for (const std::string &a : d::parse_address_list(f.value)) {
            bool found = false;
            for (const auto &r : env) found = found || r == a;
            if (!found) return "Bcc address " + a + " not in the envelope (" + joined(env) + ")";
        }
    }
    return {};
}

struct Case {
    const char *name;
    std::string_view msg;
    const char *sender;
    const char *rcpts;      // space-separated, in envelope order
    std::string_view wire;  // the DATA stream
};

void run_case(const Case &c) {
    d::OutgoingMessage out;
    d::Check ck = d::prepare_message(c.msg, nullptr, out);
    if (!ck) fail_msg("%s: refused: %s", c.name, ck.message.c_str());
    if (out.envelope.sender.value != c.sender)
        fail_msg("%s: sender %s, expected %s", c.name, out.envelope.sender.value.c_str(), c.sender);
    std::string r = joined(recipients(out.envelope));
    if (r != c.rcpts) fail_msg("%s: recipients \"%s\", expected \"%s\"", c.name, r.c_str(), c.rcpts);
    std::string wire = encode(out.pieces);
    if (wire != c.wire)
        fail_msg("%s: sent \"%s\", expected \"%s\"", c.name, unit::escaped(wire).c_str(),
                 unit::escaped(c.wire).c_str());
    std::string ref = reference_failure(c.msg, out, true);
    if (!ref.empty()) fail_msg("%s: %s", c.name, ref.c_str());
}

void test_line_ends(void **) {
    // Every line end the encoder knows ends a field here too.
    std::string_view msg = SV("A: 1\rB: 2\nC: 3\r\nD: 4\r\r\nbody");
    d::MessageHeaders h = d::parse_headers(msg);
    assert_int_equal(h.fields.size(), 4);
    const char *names[] = {"A", "B", "C", "D"};
    const std::size_t eols[] = {1, 1, 2, 1};
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_BYTES(h.fields[i].name, names[i]);
        assert_int_equal(h.fields[i].eol, eols[i]);
    }
    EXPECT_BYTES(h.fields[0].raw, "A: 1\r");
    EXPECT_BYTES(h.fields[3].raw, "D: 4\r");
    EXPECT_BYTES(msg.substr(h.body_offset), "body");  // "\r\n" after "D: 4\r" is the blank line

    // A lone CR alone is a blank line: what follows is the body, even if it looks like a field.
    h = d::parse_headers(SV("A: 1\r\rBcc: x@y\r\n"));
    assert_int_equal(h.fields.size(), 1);
    assert_int_equal(h.body_offset, 6);

    // CR LF split by nothing else is one line end; CR CR is two.
    h = d::parse_headers(SV("A: 1\r\r\nB: 2\n"));
    assert_int_equal(h.fields.size(), 1);
    assert_int_equal(h.body_offset, 7);

    // No line end at the very end.
    h = d::parse_headers(SV("A: 1\rB: 2"));
    assert_int_equal(h.fields.size(), 2);
    assert_int_equal(h.fields[1].eol, 0);
    assert_int_equal(h.body_offset, 9);

    std::size_t eol = 9;
    assert_int_equal(d::line_length(SV("ab\r"), 0, &eol), 3);
    assert_int_equal(eol, 1);
    assert_int_equal(d::line_length(SV("ab\r\n"), 0, &eol), 4);
    assert_int_equal(eol, 2);
    assert_int_equal(d::line_length(SV("ab\n\r"), 0, &eol), 3);
    assert_int_equal(eol, 1);
    assert_int_equal(d::line_length(SV("ab"), 1, &eol), 1);
    assert_int_equal(eol, 0);
}

void test_folding(void **) {
    // Continuation lines after any line end belong to the field; the value is unfolded.
    d::MessageHeaders h = d::parse_headers(SV("Bcc: a@x,\r b@x,\n\tc@x\r\nTo: t@x\r\r\n"));
    assert_int_equal(h.fields.size(), 2);
    EXPECT_BYTES(h.fields[0].raw, "Bcc: a@x,\r b@x,\n\tc@x\r\n");
    EXPECT_BYTES(h.fields[0].value(), "a@x, b@x,\tc@x");
    assert_int_equal(h.fields[0].eol, 2);
    EXPECT_BYTES(h.fields[1].raw, "To: t@x\r");

    // A continuation line with no field before it is not a header: the body starts there.
    h = d::parse_headers(SV(" Bcc: a@x\nTo: t@x\n"));
    assert_int_equal(h.fields.size(), 0);
    assert_int_equal(h.body_offset, 0);

    // A line of white space only continues the field (as MTAs read it).
    h = d::parse_headers(SV("To: t@x\r \rBcc: b@x\r"));
    assert_int_equal(h.fields.size(), 2);
    EXPECT_BYTES(h.fields[0].raw, "To: t@x\r \r");
}

void test_field_names(void **) {
    // Obsolete syntax (RFC 5322 4.5.3): white space before the colon; MTAs such as Postfix read it as
    // the field, so it is one here too.
    d::MessageHeaders h = d::parse_headers(SV("Bcc :a@x\nBCC\t \t: b@x\nX-A-b.c: 1\n\n"));
    assert_int_equal(h.fields.size(), 3);
    EXPECT_BYTES(h.fields[0].name, "Bcc");
    EXPECT_BYTES(h.fields[0].value(), "a@x");
    EXPECT_BYTES(h.fields[1].name, "BCC");
    EXPECT_BYTES(h.fields[1].value(), "b@x");
    assert_int_equal(h.all("bcc").size(), 2);

    // Not fields: no name, a control or 8-bit byte or a space inside the name, no colon.
    for (std::string_view bad : {SV(": x\n"), SV("B cc: x\n"),
                                 SV("B\x01"
                                    "cc: x\n"),
                                 SV("B\xc3\xa9: x\n"), SV("Bcc x\n"), SV("Bcc\n")}) {
        h = d::parse_headers(bad);
        if (!h.fields.empty()) fail_msg("\"%s\" taken as a field", unit::escaped(bad).c_str());
        assert_int_equal(h.body_offset, 0);
    }
}

void test_send_message_cases(void **) {
    static const Case cases[] = {
        // The defect: a lone CR before Bcc made the Bcc line go out and its address stay out of the
        // envelope.
        {"lone CR before Bcc", SV("From: f@x\rSubject: x\rBcc: secret@x\rTo: t@x\r\rbody\r"), "f@x",
         "t@x secret@x", SV("From: f@x\r\nSubject: x\r\nTo: t@x\r\n\r\nbody\r\n.\r\n")},
        {"LF", SV("From: f@x\nBcc: b@x\nTo: t@x\n\nbody\n"), "f@x", "t@x b@x",
         SV("From: f@x\r\nTo: t@x\r\n\r\nbody\r\n.\r\n")},
        {"CRLF", SV("From: f@x\r\nBcc: b@x\r\nTo: t@x\r\n\r\nbody\r\n"), "f@x", "t@x b@x",
         SV("From: f@x\r\nTo: t@x\r\n\r\nbody\r\n.\r\n")},
        // Removing the field with its own line end would join the CR before it and the LF of the
        // blank line into one CRLF: the body's "To:" would become a header.
        {"lone CR, Bcc, blank LF", SV("From: f@x\rBcc: b@x\n\nTo: evil@x\n"), "f@x", "b@x",
         SV("From: f@x\r\n\r\nTo: evil@x\r\n.\r\n")},
        {"lone CR, two Bcc, blank LF", SV("From: f@x\rBcc: b@x\rbcc: c@x\n\nbody"), "f@x", "b@x c@x",
         SV("From: f@x\r\n\r\nbody\r\n.\r\n")},
        {"Bcc first", SV("Bcc: b@x\rBcc: c@x\nFrom: f@x\nTo: t@x\n\nbody"), "f@x", "t@x b@x c@x",
         SV("From: f@x\r\nTo: t@x\r\n\r\nbody\r\n.\r\n")},
        {"Bcc last, no line end", SV("From: f@x\rTo: t@x\rBcc: b@x"), "f@x", "t@x b@x",
         SV("From: f@x\r\nTo: t@x\r\n.\r\n")},
        {"Bcc only but From", SV("From: f@x\r\nBcc: b@x\r\n"), "f@x", "b@x", SV("From: f@x\r\n.\r\n")},
        {"folded Bcc", SV("From: f@x\rBcc: b@x,\r c@x,\r\n\td@x\rTo: t@x\r\rbody"), "f@x", "t@x b@x c@x d@x",
         SV("From: f@x\r\nTo: t@x\r\n\r\nbody\r\n.\r\n")},
        {"folded field before Bcc", SV("From: f@x\rSubject: a\r b\rBcc: b@x\r\nTo: t@x\r\n\r\n"), "f@x",
         "t@x b@x", SV("From: f@x\r\nSubject: a\r\n b\r\nTo: t@x\r\n\r\n.\r\n")},
        {"obsolete Bcc", SV("From: f@x\rBcc : b@x\rTo: t@x\r\r"), "f@x", "t@x b@x",
         SV("From: f@x\r\nTo: t@x\r\n\r\n.\r\n")},
        {"any case", SV("From: f@x\rbCC: b@x\rRESENT-bcc: r@x\rTo: t@x\r\r"), "f@x", "t@x b@x",
         SV("From: f@x\r\nTo: t@x\r\n\r\n.\r\n")},
        // A Bcc behind the blank line is body text, and stays.
        {"Bcc in the body", SV("From: f@x\rTo: t@x\r\rBcc: b@x\r"), "f@x", "t@x",
         SV("From: f@x\r\nTo: t@x\r\n\r\nBcc: b@x\r\n.\r\n")},
        // Resent- block: the envelope from the Resent- fields, both kinds of Bcc removed.
        {"Resent- block",
         SV("Resent-Date: now\rResent-From: r@x\rResent-To: rt@x\rResent-Bcc: rb@x\r"
            "From: f@x\rTo: t@x\rBcc: b@x\r\rbody"),
         "r@x", "rt@x rb@x",
         SV("Resent-Date: now\r\nResent-From: r@x\r\nResent-To: rt@x\r\nFrom: f@x\r\nTo: "
            "t@x\r\n\r\nbody\r\n.\r\n")},
        {"Resent-Bcc folded behind CR",
         SV("Resent-Date: now\rResent-Sender: s@x\rResent-bcc: a@x,\r b@x\n\nbody"), "s@x", "a@x b@x",
         SV("Resent-Date: now\r\nResent-Sender: s@x\r\n\r\nbody\r\n.\r\n")},
    };
    for (const Case &c : cases) run_case(c);
}

void test_given_envelope(void **) {
    // Recipients given by the caller: the Bcc fields still go.
    d::Envelope given;
    d::Address a;
    assert_true(static_cast<bool>(d::parse_address("given@x", false, a)));
    given.recipients.push_back(a);
    d::OutgoingMessage out;
    std::string_view msg = SV("From: f@x\rSubject: s\rBcc: b@x\rTo: t@x\r\rbody");
    assert_true(static_cast<bool>(d::prepare_message(msg, &given, out)));
    EXPECT_BYTES(joined(recipients(out.envelope)), "given@x");
    EXPECT_BYTES(out.envelope.sender.value, "f@x");
    EXPECT_BYTES(encode(out.pieces), "From: f@x\r\nSubject: s\r\nTo: t@x\r\n\r\nbody\r\n.\r\n");
    std::string ref = reference_failure(msg, out, false);
    if (!ref.empty()) fail_msg("%s", ref.c_str());
}

void test_refusals(void **) {
    d::OutgoingMessage out;
    d::Check c = d::prepare_message(SV("Subject: x\rFrom: f@x\n"), nullptr, out);  // From, no recipient
    assert_int_equal(c.status, SMTPC_EINVAL);
    EXPECT_BYTES(c.message, "no recipient in the To, Bcc or Cc fields");
    // The From behind a blank lone CR is in the body.
    c = d::prepare_message(SV("To: t@x\r\rFrom: f@x\n"), nullptr, out);
    assert_int_equal(c.status, SMTPC_EINVAL);
    EXPECT_BYTES(c.message, "the message has no From or Sender field");
    c = d::prepare_message(SV("Resent-Date: a\rResent-Date: b\rFrom: f@x\rTo: t@x\r"), nullptr, out);
    assert_int_equal(c.status, SMTPC_EINVAL);
    EXPECT_BYTES(c.message, "the message has more than one Resent- header block");
    c = d::prepare_message(SV("From: f@x\rBcc: a\x01"
                              "b@x\r"),
                           nullptr, out);
    assert_int_equal(c.status, SMTPC_EINVAL);
}

// Every message of up to 5 tokens from a small alphabet of fields and line ends.
void test_exhaustive_small_messages(void **) {
    static const std::string_view tokens[] = {
        SV("From: f@x"), SV("To: t@x"), SV("Bcc: b@x"),       SV("bcc :c@x"),        SV(" d@x"), SV("\r"),
        SV("\n"),        SV("\r\n"),    SV("Resent-Date: 1"), SV("Resent-Bcc: r@x"), SV("x")};
    constexpr std::size_t n = sizeof tokens / sizeof tokens[0];
    std::size_t checked = 0;
    std::vector<std::size_t> idx;
    for (std::size_t len = 1; len <= 5; ++len) {
        idx.assign(len, 0);
        for (;;) {
            std::string msg;
            for (std::size_t i : idx) msg.append(tokens[i]);
            d::OutgoingMessage out;
            bool prepared = static_cast<bool>(d::prepare_message(msg, nullptr, out));
            if (!prepared) {  // no envelope (no From, no recipient): the Bcc removal alone
                d::MessageHeaders h = d::parse_headers(msg);
                std::vector<const d::HeaderField *> drop = h.all("Bcc");
                for (const d::HeaderField *f : h.all("Resent-Bcc")) drop.push_back(f);
                std::sort(drop.begin(), drop.end());
                out.pieces = d::without_fields(msg, h, drop);
            }
            std::string ref = reference_failure(msg, out, prepared);
            if (!ref.empty()) fail_msg("\"%s\": %s", unit::escaped(msg).c_str(), ref.c_str());
            checked += prepared;
            std::size_t k = 0;
            while (k < len && ++idx[k] == n) idx[k++] = 0;
            if (k == len) break;
        }
    }
    if (checked < 5000) fail_msg("only %zu messages with an envelope", checked);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_folding),
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_send_message_cases),
        cmocka_unit_test(test_given_envelope),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_exhaustive_small_messages),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
