// SPDX-License-Identifier: MIT
// Unit tests of the typed ESMTP parameters (src/proto/extensions.*): every encoder (xtext, ORCPT in
// its three forms, RFC 3339), every value check, and build_params against EHLO feature maps that
// offer or lack each extension, with the exact parameters that would reach the wire. The engine
// test at the end checks the MAIL/RCPT bytes and a BINARYMIME body going out as is.
#include "proto/engine.hpp"
#include "proto/extensions.hpp"

#include "unit_common.hpp"

#include <string>
#include <vector>

using namespace smtpc::detail;

namespace {

Features features(std::vector<std::string> lines) {
    Reply r;
    r.code = 250;
    lines.insert(lines.begin(), "mx.example.org");
    r.lines = std::move(lines);
    finish_reply(r);
    Features f;
    f.parse(r);
    return f;
}

const std::vector<std::string> kAll = {
    "PIPELINING",         "SIZE 1000000",  "8BITMIME",
    "SMTPUTF8",           "DSN",           "REQUIRETLS",
    "MT-PRIORITY",        "DELIVERBY 240", "FUTURERELEASE 604800 2012-10-10T00:00:00Z",
    "BINARYMIME",         "CHUNKING",      "AUTH PLAIN",
    "ENHANCEDSTATUSCODES"};

Envelope envelope(std::vector<std::string> rcpts = {"rcpt@example.org"}) {
    Envelope env;
    assert_true(static_cast<bool>(parse_address("sender@example.org", true, env.sender)));
    for (const auto &r : rcpts) {
        Address a;
        assert_true(static_cast<bool>(parse_address(r, false, a)));
        env.recipients.push_back(a);
    }
    return env;
}

std::string join(const std::vector<std::string> &v) {
    std::string s;
    for (const auto &p : v) s += (s.empty() ? "" : " ") + p;
    return s;
}

struct Built {
    Check check;
    Params params;
};

Built build(const Envelope &env, const std::vector<std::string> &ehlo, BodyFacts facts = {},
            std::optional<std::uint64_t> size = std::nullopt, bool chunking = true, bool esmtp = true) {
    Features f = features(ehlo);
    Built b;
    b.check = build_params(env, SessionFacts{&f, esmtp, chunking}, facts, size, b.params);
    return b;
}

Built checked(Check c) {
    Built b;
    b.check = std::move(c);
    return b;
}

#define EXPECT_MAIL(b, want)                                                            \
    do {                                                                                \
        if (!(b).check) fail_msg("build_params failed: %s", (b).check.message.c_str()); \
        EXPECT_BYTES(join((b).params.mail), (want));                                    \
    } while (0)

#define EXPECT_REFUSED(b, st, needle)                                                              \
    do {                                                                                           \
        if ((b).check.status != (st))                                                              \
            fail_msg("status %s (%s), expected %s", smtpc_status_name((b).check.status),           \
                     (b).check.message.c_str(), smtpc_status_name(st));                            \
        if ((b).check.message.find(needle) == std::string::npos)                                   \
            fail_msg("message \"%s\" does not mention \"%s\"", (b).check.message.c_str(), needle); \
    } while (0)

// --- encoders

void test_xtext(void **) {
    EXPECT_BYTES(xtext_encode("abc@example.org"), "abc@example.org");
    EXPECT_BYTES(xtext_encode("a+b=c d"), "a+2Bb+3Dc+20d");
    EXPECT_BYTES(xtext_encode(SV("\x01\x7f\xff\x00")), "+01+7F+FF+00");
    EXPECT_BYTES(xtext_encode("!~"), "!~");
    EXPECT_BYTES(xtext_encode(""), "");
    // Round trip over every octet.
    std::string all;
    for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
    std::string enc = xtext_encode(all), dec;
    for (char ch : enc) assert_true(ch > 0x20 && ch < 0x7f && ch != '=');
    assert_true(xtext_decode(enc, dec));
    EXPECT_BYTES(dec, all);
    // Malformed xtext.
    assert_false(xtext_decode("+2", dec));
    assert_false(xtext_decode("+", dec));
    assert_false(xtext_decode("+2b", dec));  // lower-case hex is not xtext
    assert_false(xtext_decode("+G0", dec));
    assert_false(xtext_decode("a=b", dec));
    assert_false(xtext_decode("a b", dec));
    assert_true(xtext_decode("a+2Bb", dec));
    EXPECT_BYTES(dec, "a+b");
}

void test_orcpt(void **) {
    EXPECT_BYTES(orcpt_encode("user@example.org", false), "rfc822;user@example.org");
    EXPECT_BYTES(orcpt_encode("user+tag=x@example.org", true), "rfc822;user+2Btag+3Dx@example.org");
    // RFC 6533: unitext under SMTPUTF8, \x{HEX} otherwise; '+', '=', '\' always escaped.
    EXPECT_BYTES(orcpt_encode("j\xc3\xb6rg+1@b\xc3\xbc"
                              "cher.example",
                              true),
                 "utf-8;j\xc3\xb6rg\\x{2B}1@b\xc3\xbc"
                 "cher.example");
    EXPECT_BYTES(orcpt_encode("j\xc3\xb6rg+1@b\xc3\xbc"
                              "cher.example",
                              false),
                 "utf-8;j\\x{F6}rg\\x{2B}1@b\\x{FC}cher.example");
    EXPECT_BYTES(orcpt_encode("\xe2\x82\xac=\xf0\x9f\x98\x80@x", false),
                 "utf-8;\\x{20AC}\\x{3D}\\x{1F600}@x");
    EXPECT_BYTES(orcpt_encode("\"a\\\\b\"\xc3\xa9@x", false), "utf-8;\"a\\x{5C}\\x{5C}b\"\\x{E9}@x");
}

void test_rfc3339(void **) {
    long long t = 0;
    assert_true(parse_rfc3339("1970-01-01T00:00:00Z", t));
    assert_int_equal(t, 0);
    assert_true(parse_rfc3339("2012-10-10T00:00:00Z", t));
    assert_int_equal(t, 1349827200);
    assert_true(parse_rfc3339("2012-10-10T02:00:00+02:00", t));
    assert_int_equal(t, 1349827200);
    assert_true(parse_rfc3339("2012-10-09T23:30:00.25-00:30", t));
    assert_int_equal(t, 1349827200);
    assert_true(parse_rfc3339("2024-02-29t12:00:00z", t));
    for (const char *bad :
         {"", "2012-10-10", "2012-10-10T00:00:00", "2012-10-10 00:00:00Z", "2012-13-01T00:00:00Z",
          "2023-02-29T00:00:00Z", "2012-10-10T24:00:00Z", "2012-10-10T00:00:00+2:00", "2012-10-10T00:00:00.Z",
          "2012-10-10T00:00:00Zjunk", "2012-10-10T00:60:00Z"})
        if (parse_rfc3339(bad, t)) fail_msg("\"%s\" taken as RFC 3339", bad);
}

// --- value checks

void test_value_checks(void **) {
    assert_true(static_cast<bool>(check_envid("QQ314159 with spaces+=")));
    assert_false(static_cast<bool>(check_envid("")));
    assert_false(static_cast<bool>(check_envid("tab\there")));
    assert_false(static_cast<bool>(check_envid("caf\xc3\xa9")));
    assert_true(static_cast<bool>(check_envid(std::string(100, 'a'))));
    assert_false(static_cast<bool>(check_envid(std::string(101, 'a'))));
    assert_false(static_cast<bool>(check_envid(std::string(34, '+'))));  // 102 once encoded

    assert_true(static_cast<bool>(check_notify(0)));
    assert_true(static_cast<bool>(check_notify(SMTPC_DSN_NOTIFY_NEVER)));
    assert_true(static_cast<bool>(
        check_notify(SMTPC_DSN_NOTIFY_SUCCESS | SMTPC_DSN_NOTIFY_FAILURE | SMTPC_DSN_NOTIFY_DELAY)));
    assert_false(static_cast<bool>(check_notify(SMTPC_DSN_NOTIFY_NEVER | SMTPC_DSN_NOTIFY_FAILURE)));
    assert_false(static_cast<bool>(check_notify(16)));

    assert_true(static_cast<bool>(check_orcpt("a@b")));
    assert_true(static_cast<bool>(check_orcpt("\xc3\xa9@b")));
    assert_false(static_cast<bool>(check_orcpt("")));
    assert_false(static_cast<bool>(check_orcpt("a\r\n@b")));
    assert_false(static_cast<bool>(check_orcpt("\xc3@b")));              // truncated UTF-8
    assert_false(static_cast<bool>(check_orcpt("\xc0\xaf@b")));          // overlong
    assert_true(static_cast<bool>(check_orcpt(std::string(493, 'a'))));  // "rfc822;" + 493 = 500
    assert_false(static_cast<bool>(check_orcpt(std::string(494, 'a'))));

    assert_true(static_cast<bool>(check_auth_identity("")));
    assert_true(static_cast<bool>(check_auth_identity("user+1@example.org")));
    assert_false(static_cast<bool>(check_auth_identity(SV("a\0b"))));

    assert_true(static_cast<bool>(check_deliver_by(3600, SMTPC_DELIVERBY_RETURN)));
    assert_true(static_cast<bool>(check_deliver_by(-60, SMTPC_DELIVERBY_NOTIFY)));
    assert_true(static_cast<bool>(check_deliver_by(0, SMTPC_DELIVERBY_NOTIFY)));
    assert_false(static_cast<bool>(check_deliver_by(0, SMTPC_DELIVERBY_RETURN)));
    assert_false(static_cast<bool>(check_deliver_by(-5, SMTPC_DELIVERBY_RETURN)));
    assert_false(static_cast<bool>(check_deliver_by(1000000000, SMTPC_DELIVERBY_NOTIFY)));
    assert_false(static_cast<bool>(check_deliver_by(-1000000000, SMTPC_DELIVERBY_NOTIFY)));
    assert_false(static_cast<bool>(check_deliver_by(60, 3)));

    assert_true(static_cast<bool>(check_hold_until("2012-10-09T00:00:00Z")));
    assert_false(static_cast<bool>(check_hold_until("tomorrow")));
}

// --- body facts

void test_scan_body(void **) {
    BodyFacts f = scan_body({"Subject: hi\r\n\r\nplain\r\n"});
    assert_true(f.known);
    assert_false(f.eight_bit);
    assert_null(f.binary);
    f = scan_body({"Subject: hi\n\ncaf\xc3\xa9\n"});  // bare LF: a line end, not binary
    assert_true(f.eight_bit);
    assert_false(f.header_utf8);
    assert_null(f.binary);
    f = scan_body({"Subject: caf\xc3\xa9\r", "\n\r\nx\r\n"});  // CRLF split across pieces
    assert_true(f.header_utf8);
    assert_null(f.binary);
    f = scan_body({SV("a\r\n\r\nx\0y\r\n")});
    assert_string_equal(f.binary, "a NUL byte");
    f = scan_body({"a\r\n\r\nx\ry\r\n"});
    assert_string_equal(f.binary, "a CR not followed by LF");
    f = scan_body({"a\r\n\r\nxy\r"});
    assert_string_equal(f.binary, "a CR not followed by LF");
    f = scan_body({"a\r\n\r\n" + std::string(998, 'x') + "\r\n"});
    assert_null(f.binary);
    f = scan_body({"a\r\n\r\n" + std::string(500, 'x'), std::string(499, 'x') + "\r\n"});
    assert_string_equal(f.binary, "a line longer than 998 octets");
    // Pieces split anywhere: a CR ending one piece and its LF (or not) starting the next; empty pieces.
    f = scan_body({"", "a\r\n\r\n" + std::string(998, 'x') + "\r", "", "\ny\r\n", ""});
    assert_null(f.binary);
    f = scan_body({"a\r\n\r", "x\r\n"});
    assert_string_equal(f.binary, "a CR not followed by LF");
    // The earliest reason is reported.
    f = scan_body({std::string(SV("a\r\n\r\nx\ry\0z\r\n"))});
    assert_string_equal(f.binary, "a CR not followed by LF");
    f = scan_body({std::string(SV("a\r\n\r\nx\0y\rz\r\n"))});
    assert_string_equal(f.binary, "a NUL byte");
    // 8-bit only in the body after a header section ended by a bare LF line.
    f = scan_body({"A: b\n\nc\xc3\xa9\n"});
    assert_true(f.eight_bit);
    assert_false(f.header_utf8);
}

// --- build_params: each extension, offered and not

void test_dsn(void **) {
    Envelope env = envelope({"a@example.org", "b@example.org", "c@example.org"});
    env.ext.dsn_ret = SMTPC_DSN_RET_HDRS;
    env.ext.envid = "QQ314159+x=y z";
    env.rcpt_ext.resize(2);
    env.rcpt_ext[0].notify = SMTPC_DSN_NOTIFY_FAILURE | SMTPC_DSN_NOTIFY_DELAY | SMTPC_DSN_NOTIFY_SUCCESS;
    env.rcpt_ext[0].orcpt = "a+1@example.org";
    env.rcpt_ext[1].notify = SMTPC_DSN_NOTIFY_NEVER;
    Built b = build(env, kAll);
    EXPECT_MAIL(b, "RET=HDRS ENVID=QQ314159+2Bx+3Dy+20z");
    EXPECT_BYTES(join(b.params.rcpt[0]), "NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;a+2B1@example.org");
    EXPECT_BYTES(join(b.params.rcpt[1]), "NOTIFY=NEVER");
    EXPECT_BYTES(join(b.params.rcpt[2]), "");

    b = build(env, {"8BITMIME", "SIZE"});
    EXPECT_REFUSED(b, SMTPC_ENOTSUPPORTED, "DSN");
    // Only a per-recipient parameter: refused as well.
    Envelope r = envelope();
    r.rcpt_ext.resize(1);
    r.rcpt_ext[0].orcpt = "x@example.org";
    EXPECT_REFUSED(build(r, {"8BITMIME"}), SMTPC_ENOTSUPPORTED, "DSN");
    // Dropped silently on request, and only then.
    env.ext.dsn_optional = true;
    b = build(env, {"8BITMIME"});
    EXPECT_MAIL(b, "");
    EXPECT_BYTES(join(b.params.rcpt[0]), "");
    // Not ESMTP at all: the typed parameter still needs the extension.
    env.ext.dsn_optional = false;
    EXPECT_REFUSED(build(env, kAll, {}, std::nullopt, true, false), SMTPC_ENOTSUPPORTED, "DSN");
}

void test_orcpt_utf8(void **) {
    Envelope env = envelope({"j\xc3\xb6rg@example.org"});
    env.rcpt_ext.resize(1);
    env.rcpt_ext[0].notify = SMTPC_DSN_NOTIFY_FAILURE;
    env.rcpt_ext[0].orcpt = "j\xc3\xb6rg@example.org";
    Built b = build(env, kAll);
    EXPECT_MAIL(b, "SMTPUTF8 BODY=8BITMIME");
    EXPECT_BYTES(join(b.params.rcpt[0]), "NOTIFY=FAILURE ORCPT=utf-8;j\xc3\xb6rg@example.org");
    // An ASCII recipient whose original address was not ASCII, without SMTPUTF8: the 7-bit form.
    Envelope a = envelope();
    a.rcpt_ext.resize(1);
    a.rcpt_ext[0].orcpt = "j\xc3\xb6rg@example.org";
    b = build(a, {"DSN"});
    EXPECT_BYTES(join(b.params.rcpt[0]), "ORCPT=utf-8;j\\x{F6}rg@example.org");
}

void test_requiretls_param(void **) {
    Envelope env = envelope();
    env.ext.requiretls = true;
    EXPECT_MAIL(build(env, kAll), "REQUIRETLS");
    EXPECT_REFUSED(build(env, {"DSN", "STARTTLS"}), SMTPC_ENOTSUPPORTED, "REQUIRETLS");
    Features all = features(kAll), none = features({"DSN"});
    SessionFacts s{&all, true, true};
    EXPECT_REFUSED(checked(check_requiretls(env, s, false, false)), SMTPC_ENOTSUPPORTED, "not encrypted");
    EXPECT_REFUSED(checked(check_requiretls(env, s, true, false)), SMTPC_ENOTSUPPORTED, "verified");
    assert_true(static_cast<bool>(check_requiretls(env, s, true, true)));
    SessionFacts n{&none, true, true};
    EXPECT_REFUSED(checked(check_requiretls(env, n, true, true)), SMTPC_ENOTSUPPORTED, "REQUIRETLS");
    env.ext.requiretls = false;
    assert_true(static_cast<bool>(check_requiretls(env, n, false, false)));
}

void test_mt_priority(void **) {
    Envelope env = envelope();
    env.ext.mt_priority = -9;
    EXPECT_MAIL(build(env, kAll), "MT-PRIORITY=-9");
    env.ext.mt_priority = 0;
    EXPECT_MAIL(build(env, kAll), "MT-PRIORITY=0");
    env.ext.mt_priority = 9;
    EXPECT_MAIL(build(env, kAll), "MT-PRIORITY=9");
    EXPECT_REFUSED(build(env, {"DSN"}), SMTPC_ENOTSUPPORTED, "MT-PRIORITY");
}

void test_deliverby(void **) {
    Envelope env = envelope();
    env.ext.deliver_by = MailExtensions::DeliverBy{3600, false, false};
    EXPECT_MAIL(build(env, kAll), "BY=3600;R");
    env.ext.deliver_by = MailExtensions::DeliverBy{-60, true, true};
    EXPECT_MAIL(build(env, kAll), "BY=-60;NT");
    env.ext.deliver_by = MailExtensions::DeliverBy{240, false, true};
    EXPECT_MAIL(build(env, kAll), "BY=240;RT");
    env.ext.deliver_by = MailExtensions::DeliverBy{239, false, false};
    EXPECT_REFUSED(build(env, kAll), SMTPC_ENOTSUPPORTED, "minimum deliver-by time of 240");
    EXPECT_MAIL(build(env, {"DELIVERBY"}), "BY=239;R");  // no minimum advertised
    env.ext.deliver_by = MailExtensions::DeliverBy{100, true, false};
    EXPECT_MAIL(build(env, kAll), "BY=100;N");  // the minimum is for R
    EXPECT_REFUSED(build(env, {"DSN"}), SMTPC_ENOTSUPPORTED, "DELIVERBY");
}

void test_futurerelease(void **) {
    Envelope env = envelope();
    env.ext.hold_for = 604800;
    EXPECT_MAIL(build(env, kAll), "HOLDFOR=604800");
    env.ext.hold_for = 604801;
    EXPECT_REFUSED(build(env, kAll), SMTPC_ENOTSUPPORTED, "maximum of 604800");
    EXPECT_REFUSED(build(env, {"DSN"}), SMTPC_ENOTSUPPORTED, "FUTURERELEASE");
    env.ext.hold_for.reset();
    env.ext.hold_until = "2012-10-09T12:00:00+02:00";
    EXPECT_MAIL(build(env, kAll), "HOLDUNTIL=2012-10-09T12:00:00+02:00");
    env.ext.hold_until = "2012-10-10T01:00:00+01:00";  // exactly the latest
    EXPECT_MAIL(build(env, kAll), "HOLDUNTIL=2012-10-10T01:00:00+01:00");
    env.ext.hold_until = "2012-10-10T00:00:01Z";
    EXPECT_REFUSED(build(env, kAll), SMTPC_ENOTSUPPORTED, "latest release time 2012-10-10T00:00:00Z");
    EXPECT_REFUSED(build(env, {"DSN"}), SMTPC_ENOTSUPPORTED, "HOLDUNTIL");
}

void test_auth_param(void **) {
    Envelope env = envelope();
    env.ext.auth = "user+1@example.org";
    EXPECT_MAIL(build(env, kAll), "AUTH=user+2B1@example.org");
    env.ext.auth = "";
    EXPECT_MAIL(build(env, kAll), "AUTH=<>");
    EXPECT_REFUSED(build(env, {"DSN"}), SMTPC_ENOTSUPPORTED, "AUTH");
}

void test_body_and_smtputf8(void **) {
    Envelope env = envelope();
    BodyFacts text = scan_body({"Subject: x\r\n\r\nhello\r\n"});
    BodyFacts eight = scan_body({"Subject: x\r\n\r\ncaf\xc3\xa9\r\n"});
    BodyFacts utf8hdr = scan_body({"Subject: caf\xc3\xa9\r\n\r\nx\r\n"});
    BodyFacts binary = scan_body({SV("Subject: x\r\n\r\n\0\x01\r\n")});
    EXPECT_MAIL(build(env, kAll, text, 42), "SIZE=42");
    EXPECT_MAIL(build(env, kAll, eight), "BODY=8BITMIME");
    EXPECT_MAIL(build(env, {"SIZE"}, eight), "");  // 8BITMIME not offered: as before, no BODY
    EXPECT_MAIL(build(env, kAll, utf8hdr), "SMTPUTF8 BODY=8BITMIME");
    EXPECT_MAIL(build(env, {"8BITMIME"}, utf8hdr), "BODY=8BITMIME");  // SMTPUTF8 not offered: 8BITMIME
    Built b = build(env, kAll, binary);
    EXPECT_MAIL(b, "BODY=BINARYMIME");
    assert_true(b.params.binary);
    b = build(env, kAll, binary, std::nullopt, false);  // CHUNKING turned off: sent as before
    EXPECT_MAIL(b, "");
    assert_false(b.params.binary);
    EXPECT_MAIL(build(env, {"CHUNKING", "8BITMIME"}, binary), "");
    // A raw BODY decides.
    env.mail_options = {"BODY=7BIT"};
    EXPECT_MAIL(build(env, kAll, binary), "BODY=7BIT");
    // Explicit BODY values.
    env.mail_options.clear();
    env.ext.body = SMTPC_BODY_BINARYMIME;
    b = build(env, kAll, {});
    EXPECT_MAIL(b, "BODY=BINARYMIME");
    assert_true(b.params.binary);
    EXPECT_REFUSED(build(env, {"CHUNKING"}), SMTPC_ENOTSUPPORTED, "BINARYMIME");
    EXPECT_REFUSED(build(env, {"BINARYMIME"}), SMTPC_ENOTSUPPORTED, "CHUNKING");
    EXPECT_REFUSED(build(env, kAll, {}, std::nullopt, false), SMTPC_ENOTSUPPORTED, "CHUNKING is turned off");
    env.ext.body = SMTPC_BODY_8BITMIME;
    EXPECT_MAIL(build(env, kAll, binary), "BODY=8BITMIME");
    EXPECT_REFUSED(build(env, {"DSN"}), SMTPC_ENOTSUPPORTED, "8BITMIME");
    env.ext.body = SMTPC_BODY_7BIT;
    EXPECT_MAIL(build(env, kAll, text), "BODY=7BIT");
    EXPECT_REFUSED(build(env, kAll, eight), SMTPC_EINVAL, "8-bit");
    env.ext.body = SMTPC_BODY_AUTO;
    // SMTPUTF8 ON / OFF.
    env.ext.smtputf8 = SMTPC_SMTPUTF8_ON;
    EXPECT_MAIL(build(env, kAll, text), "SMTPUTF8 BODY=8BITMIME");
    EXPECT_REFUSED(build(env, {"8BITMIME"}, text), SMTPC_ENOTSUPPORTED, "SMTPUTF8");
    env.ext.smtputf8 = SMTPC_SMTPUTF8_OFF;
    EXPECT_MAIL(build(env, kAll, utf8hdr), "BODY=8BITMIME");
    Envelope wide = envelope({"j\xc3\xb6rg@example.org"});
    wide.ext.smtputf8 = SMTPC_SMTPUTF8_OFF;
    EXPECT_REFUSED(build(wide, kAll), SMTPC_EINVAL, "turned off");
    wide.ext.smtputf8 = SMTPC_SMTPUTF8_AUTO;
    EXPECT_REFUSED(build(wide, {"8BITMIME"}), SMTPC_ENOTSUPPORTED, "SMTPUTF8");
    Built w = build(wide, kAll);
    EXPECT_MAIL(w, "SMTPUTF8 BODY=8BITMIME");
    assert_true(w.params.utf8);
}

void test_conflicts(void **) {
    Envelope env = envelope();
    env.ext.dsn_ret = SMTPC_DSN_RET_FULL;
    env.mail_options = {"RET=HDRS"};
    EXPECT_REFUSED(build(env, kAll), SMTPC_EINVAL, "RET parameter of MAIL FROM is given twice");
    env = envelope();
    env.mail_options = {"SMTPUTF8"};
    env.ext.smtputf8 = SMTPC_SMTPUTF8_ON;
    EXPECT_REFUSED(build(env, kAll), SMTPC_EINVAL, "SMTPUTF8");
    env = envelope();
    env.mail_options = {"BODY=8BITMIME"};
    env.ext.body = SMTPC_BODY_8BITMIME;
    EXPECT_REFUSED(build(env, kAll), SMTPC_EINVAL, "BODY");
    env = envelope();
    env.mail_options = {"mt-priority=3", "MT-PRIORITY=4"};  // raw twice, case-insensitive
    EXPECT_REFUSED(build(env, kAll), SMTPC_EINVAL, "MT-PRIORITY");
    env = envelope();
    env.rcpt_options = {"NOTIFY=NEVER"};
    env.rcpt_ext.resize(1);
    env.rcpt_ext[0].notify = SMTPC_DSN_NOTIFY_FAILURE;
    EXPECT_REFUSED(build(env, kAll), SMTPC_EINVAL, "NOTIFY parameter of RCPT TO");
    // Raw options alone are passed through as before, after SIZE.
    env = envelope();
    env.mail_options = {"XFOO=1"};
    env.rcpt_options = {"XBAR"};
    Built b = build(env, kAll, {}, 7);
    EXPECT_MAIL(b, "SIZE=7 XFOO=1");
    EXPECT_BYTES(join(b.params.rcpt[0]), "XBAR");
}

// --- through the engine: the bytes on the wire

void connect(Engine &e, std::string_view ehlo) {
    e.begin_connection();
    e.received("220 hi\r\n", 8);
    assert_true(e.want() == Engine::Want::Done);
    assert_true(static_cast<bool>(e.begin_command(Cmd::Ehlo, "EHLO me\r\n")));
    e.output_written(e.output().size());
    e.received(ehlo.data(), ehlo.size());
    assert_true(e.want() == Engine::Want::Done);
    assert_int_equal(e.status(), SMTPC_OK);
}

void test_engine_wire(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    connect(e, "250-mx\r\n250-PIPELINING\r\n250-DSN\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-MT-PRIORITY\r\n"
               "250 DELIVERBY 240\r\n");
    Envelope env = envelope({"a@example.org"});
    env.ext.dsn_ret = SMTPC_DSN_RET_FULL;
    env.ext.mt_priority = 3;
    env.ext.deliver_by = MailExtensions::DeliverBy{300, false, false};
    env.rcpt_ext.resize(1);
    env.rcpt_ext[0].notify = SMTPC_DSN_NOTIFY_SUCCESS;
    env.rcpt_ext[0].orcpt = "a@example.org";
    std::string msg(SV("Subject: x\n\nbin\0ary\rbare\n"));
    BodyFacts facts = scan_body({msg});
    assert_true(static_cast<bool>(e.begin_sendmail(env, std::nullopt, true, true, facts)));
    assert_true(e.want() == Engine::Want::Body);
    e.body(msg.data(), msg.size());
    e.body_end();
    EXPECT_BYTES(e.output(),
                 "MAIL FROM:<sender@example.org> BODY=BINARYMIME RET=FULL MT-PRIORITY=3 BY=300;R\r\n"
                 "RCPT TO:<a@example.org> NOTIFY=SUCCESS ORCPT=rfc822;a@example.org\r\n"
                 "BDAT " +
                     std::to_string(msg.size()) + " LAST\r\n" + msg);
    // A refused parameter queues nothing.
    Engine f(SMTPC_PROTOCOL_SMTP);
    connect(f, "250-mx\r\n250 PIPELINING\r\n");
    Check c = f.begin_sendmail(env, std::nullopt, true, true, facts);
    assert_int_equal(c.status, SMTPC_ENOTSUPPORTED);
    EXPECT_BYTES(f.output(), "");
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xtext),
        cmocka_unit_test(test_orcpt),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_value_checks),
        cmocka_unit_test(test_scan_body),
        cmocka_unit_test(test_dsn),
        cmocka_unit_test(test_orcpt_utf8),
        cmocka_unit_test(test_requiretls_param),
        cmocka_unit_test(test_mt_priority),
        cmocka_unit_test(test_deliverby),
        cmocka_unit_test(test_futurerelease),
        cmocka_unit_test(test_auth_param),
        cmocka_unit_test(test_body_and_smtputf8),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_engine_wire),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
