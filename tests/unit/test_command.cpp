// SPDX-License-Identifier: MIT
// Unit tests of caller-input checks and command lines (src/proto/command.*): catalogue section C.
//
// Every refusal is checked for its status (SMTPC_EINVAL) and its exact message, and for leaving the
// output Address untouched. Embedded NULs are passed as std::string_view with an explicit length.
#include "proto/command.hpp"

#include "unit_common.hpp"

#include <string>
#include <vector>

using smtpc::detail::Address;
using smtpc::detail::Check;
using smtpc::detail::check_hostname;
using smtpc::detail::check_option;
using smtpc::detail::check_text_argument;
using smtpc::detail::iequals;
using smtpc::detail::make_line;
using smtpc::detail::make_path_command;
using smtpc::detail::option_is;
using smtpc::detail::parse_address;
using smtpc::detail::parse_options;

namespace {

void expect_ok(const Check &c, const char *what) {
    if (c.status != SMTPC_OK || !c.message.empty())
        fail_msg("%s: expected OK, got status %d \"%s\"", what, c.status, c.message.c_str());
    assert_true(static_cast<bool>(c));
}

void expect_invalid(const Check &c, std::string_view message, const char *what) {
    if (c.status != SMTPC_EINVAL)
        fail_msg("%s: expected SMTPC_EINVAL, got %d \"%s\"", what, c.status, c.message.c_str());
    assert_false(static_cast<bool>(c));
    if (c.message != message)
        fail_msg("%s: message \"%s\", expected \"%s\"", what, c.message.c_str(),
                 std::string(message).c_str());
}

// parse_address accepts `in` and gives `value`.
void accept(std::string_view in, std::string_view value, bool non_ascii = false, bool allow_empty = false) {
    Address a{"sentinel", true};
    Check c = parse_address(in, allow_empty, a);
    std::string what = "parse_address(\"" + unit::escaped(in) + "\")";
    expect_ok(c, what.c_str());
    EXPECT_BYTES(a.value, value);
    if (a.non_ascii != non_ascii)
        fail_msg("%s: non_ascii %d, expected %d", what.c_str(), a.non_ascii, non_ascii);
}

// parse_address refuses `in` with `message` and leaves the output alone.
void refuse(std::string_view in, std::string_view message, bool allow_empty = true) {
    Address a{"sentinel", true};
    Check c = parse_address(in, allow_empty, a);
    std::string what = "parse_address(\"" + unit::escaped(in) + "\")";
    expect_invalid(c, message, what.c_str());
    EXPECT_BYTES(a.value, "sentinel");
    assert_true(a.non_ascii);
}

const char kControl[] = "control character (CR, LF, NUL, ...) in address";
const char kTooLong[] = "address longer than 254 octets";
const char kLocalTooLong[] = "address local part longer than 64 octets";
const char kNotUtf8[] = "address is not valid UTF-8";

// -------------------------------------------------------------------------------------------------
// parse_address

void test_address_accepted(void **) {
    accept("a@example.org", "a@example.org");
    accept("<a@example.org>", "a@example.org");
    accept("postmaster", "postmaster");
    accept("<postmaster>", "postmaster");
    accept("first.last+tag@sub.example.org", "first.last+tag@sub.example.org");
    accept("a@[192.0.2.1]", "a@[192.0.2.1]");
    // Quoted local parts may hold spaces, '@', '<', escaped quotes.
    accept("\"john doe\"@example.org", "\"john doe\"@example.org");
    accept("<\"john doe\"@example.org>", "\"john doe\"@example.org");
    accept("\"a@b <c>\"@example.org", "\"a@b <c>\"@example.org");
    accept("\"a\\\"b\"@example.org", "\"a\\\"b\"@example.org");
    accept("first.\"x y\"@example.org", "first.\"x y\"@example.org");
    // A source route (obsolete but legal).
    accept("<@relay.example:user@example.org>", "@relay.example:user@example.org");
    // UTF-8 addresses are accepted and flagged for SMTPUTF8.
    accept("j\xc3\xb6rg@b\xc3\xbc"
           "cher.example",
           "j\xc3\xb6rg@b\xc3\xbc"
           "cher.example",
           true);
    accept("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a",
           "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a", true);
    accept("\xf0\x9f\x98\x80@example.org", "\xf0\x9f\x98\x80@example.org", true);  // U+1F600, 4 bytes
    accept("\xf4\x8f\xbf\xbf@example.org", "\xf4\x8f\xbf\xbf@example.org", true);  // U+10FFFF
    accept("\xef\xbf\xbd@example.org", "\xef\xbf\xbd@example.org", true);          // U+FFFD
}

void test_address_null_sender(void **) {
    accept("", "", false, true);
    accept("<>", "", false, true);
    Address a{"sentinel", true};
    expect_invalid(parse_address("", false, a), "empty address", "empty, not allowed");
    expect_invalid(parse_address("<>", false, a), "empty address", "<>, not allowed");
    EXPECT_BYTES(a.value, "sentinel");
}

void test_address_controls(void **) {
    refuse("a\r@example.org", kControl);
    refuse("a\n@example.org", kControl);
    refuse("a@example.org\r\nRSET", kControl);
    refuse("<a@example.org\r\n>", kControl);
    refuse("a@example.org\r\n", kControl);
    // NUL as an embedded byte with an explicit length (C ABI pointer + length): never cut short.
    refuse(SV("a@x.org\0@evil.org"), kControl);
    refuse(SV("\0"), kControl);
    refuse(SV("a@x.org\0"), kControl);
    refuse("a\t@example.org", kControl);
    refuse("a\x01@example.org", kControl);
    refuse("a\x1b@example.org", kControl);
    refuse("a\x1f@example.org", kControl);
    refuse("a\x7f@example.org", kControl);
    // Inside quotes too (MimeKit case, C.30).
    refuse("\"a\r\nRCPT TO:<z@evil>\"@x.org", kControl);
    refuse("<\"a\r\nRCPT TO:<z@evil>\"@x.org>", kControl);
    refuse("\"a\\\r\"@x.org", kControl);
    refuse(SV("\"a\0b\"@x.org"), kControl);
}

void test_address_bad_characters(void **) {
    refuse("a<b@example.org", "character '<' not allowed in address");
    refuse("a>b@example.org", "character '>' not allowed in address");
    refuse("<a@example.org", "character '<' not allowed in address");
    refuse("a@example.org>", "character '>' not allowed in address");
    refuse("<<a@example.org>>", "character '<' not allowed in address");
    refuse("a b@example.org", "character ' ' not allowed in address");
    refuse("a@example.org SIZE=1", "character ' ' not allowed in address");
    refuse(" a@example.org", "character ' ' not allowed in address");
    refuse("a\\b@example.org", "character '\\' not allowed in address");
    refuse("a\"b\"@example.org", "character '\"' not allowed in address");
    refuse("\"abc@example.org", "unterminated quoted local part in address");
    refuse("\"abc\\\"@example.org", "unterminated quoted local part in address");
    refuse("@example.org", "address has an empty local part");
    refuse("a@", "address has an empty domain");
}

void test_address_lengths(void **) {
    // Local part: 64 accepted, 65 refused (with and without a domain).
    std::string l64(64, 'l'), l65(65, 'l');
    accept(l64 + "@example.org", l64 + "@example.org");
    refuse(l65 + "@example.org", kLocalTooLong);
    accept(l64, l64);
    refuse(l65, kLocalTooLong);
    // A quoted local part counts its quotes.
    refuse("\"" + std::string(63, 'q') + "\"@example.org", kLocalTooLong);

    // Path: 256 octets with the angle brackets. 254 inside accepted, 255 refused.
    std::string d189(189, 'd'), d190(190, 'd');
    accept(l64 + "@" + d189, l64 + "@" + d189);
    accept("<" + l64 + "@" + d189 + ">", l64 + "@" + d189);
    refuse(l64 + "@" + d190, kTooLong);
    refuse("<" + l64 + "@" + d190 + ">", kTooLong);

    // Domain over 255: refused. The path limit (254 inside the brackets) is reached first, so the
    // message is the path one.
    refuse("a@" + std::string(256, 'd'), kTooLong);
    refuse("a@" + std::string(300, 'd'), kTooLong);
    // A very long address is refused without trouble.
    refuse(std::string(100000, 'x') + "@example.org", kTooLong);
}

void test_address_invalid_utf8(void **) {
    refuse("\xc0\x80@example.org", kNotUtf8);                  // overlong NUL (Java modified UTF-8)
    refuse("\xc1\xbf@example.org", kNotUtf8);                  // overlong
    refuse("\xe0\x80\xaf@example.org", kNotUtf8);              // overlong '/'
    refuse("\xf0\x80\x80\xaf@example.org", kNotUtf8);          // overlong, 4 bytes
    refuse("\xed\xa0\x80@example.org", kNotUtf8);              // U+D800, high surrogate
    refuse("\xed\xbf\xbf@example.org", kNotUtf8);              // U+DFFF, low surrogate
    refuse("\xed\xa0\xbd\xed\xb8\x80@example.org", kNotUtf8);  // CESU-8 surrogate pair
    refuse("\xf4\x90\x80\x80@example.org", kNotUtf8);          // above U+10FFFF
    refuse("\xf5\x80\x80\x80@example.org", kNotUtf8);
    refuse("\xff@example.org", kNotUtf8);
    refuse("\x80@example.org", kNotUtf8);          // lone continuation byte
    refuse("\xc3@example.org", kNotUtf8);          // truncated before '@'
    refuse("a@example.or\xc3", kNotUtf8);          // truncated at the end
    refuse("a@example.or\xe2\x82", kNotUtf8);      // truncated 3-byte sequence at the end
    refuse("a@example.or\xf0\x9f\x98", kNotUtf8);  // truncated 4-byte sequence at the end
    refuse("\xe2\x28\xa1@example.org", kNotUtf8);  // bad continuation
}

// -------------------------------------------------------------------------------------------------
// ESMTP parameters

void test_check_option(void **) {
    expect_ok(check_option("BODY=8BITMIME"), "BODY=8BITMIME");
    expect_ok(check_option("SMTPUTF8"), "SMTPUTF8");
    expect_ok(check_option("NOTIFY=SUCCESS,FAILURE"), "NOTIFY");
    expect_ok(check_option("ORCPT=rfc822;a+2Bb@example.org"), "ORCPT");
    expect_ok(check_option("~!"), "printable");
    expect_invalid(check_option(""), "empty ESMTP parameter", "empty");
    const char *bad = "ESMTP parameter with a space, control or non-ASCII byte";
    expect_invalid(check_option("A B"), bad, "space");
    expect_invalid(check_option("A\r"), bad, "CR");
    expect_invalid(check_option("A\n"), bad, "LF");
    expect_invalid(check_option("A\rRSET"), bad, "CR inside");
    expect_invalid(check_option(SV("A\0B")), bad, "NUL");
    expect_invalid(check_option("A\tB"), bad, "TAB");
    expect_invalid(check_option("A\x7f"), bad, "DEL");
    expect_invalid(check_option("A=\xc3\xa9"), bad, "non-ASCII");
}

void test_parse_options(void **) {
    std::vector<std::string> out{"stale"};
    expect_ok(parse_options("", out), "empty list");
    assert_int_equal(out.size(), 0);

    expect_ok(parse_options("BODY=8BITMIME SMTPUTF8", out), "two");
    assert_int_equal(out.size(), 2);
    EXPECT_BYTES(out[0], "BODY=8BITMIME");
    EXPECT_BYTES(out[1], "SMTPUTF8");

    expect_ok(parse_options("  A=1   B  ", out), "extra spaces");
    assert_int_equal(out.size(), 2);
    EXPECT_BYTES(out[0], "A=1");
    EXPECT_BYTES(out[1], "B");

    expect_ok(parse_options("   ", out), "only spaces");
    assert_int_equal(out.size(), 0);

    const char *bad = "ESMTP parameter with a space, control or non-ASCII byte";
    expect_invalid(parse_options("A=1\r\nRSET", out), bad, "CRLF");
    expect_invalid(parse_options(SV("A=1 B\0"), out), bad, "NUL");
    expect_invalid(parse_options("A=1\tB", out), bad, "TAB separator");
    expect_invalid(parse_options("A=\xff", out), bad, "8-bit");
}

void test_option_is(void **) {
    assert_true(option_is("SMTPUTF8", "SMTPUTF8"));
    assert_true(option_is("smtputf8", "SMTPUTF8"));
    assert_true(option_is("SIZE=100", "SIZE"));
    assert_true(option_is("size=100", "SIZE"));
    assert_true(option_is("SIZE=", "SIZE"));
    assert_true(option_is("SMTPUTF8=x", "smtputf8"));
    assert_false(option_is("SIZEX=1", "SIZE"));
    assert_false(option_is("SIZ", "SIZE"));
    assert_false(option_is("XSIZE", "SIZE"));
    assert_false(option_is("BODY=8BITMIME", "SIZE"));
    assert_false(option_is("", "SIZE"));
    assert_false(option_is("=SIZE", "SIZE"));
}

void test_iequals(void **) {
    assert_true(iequals("PIPELINING", "pipelining"));
    assert_true(iequals("", ""));
    assert_false(iequals("size", "sizes"));
    assert_false(iequals("a", "b"));
    // ASCII only: no locale-dependent folding of 8-bit bytes.
    assert_false(iequals("\xc3\x89", "\xc3\xa9"));
}

// -------------------------------------------------------------------------------------------------
// Host names, free text, command lines

void test_check_hostname(void **) {
    expect_ok(check_hostname("mx.example.org"), "fqdn");
    expect_ok(check_hostname("[192.0.2.1]"), "v4 literal");
    expect_ok(check_hostname("[IPv6:2001:db8::1]"), "v6 literal");
    expect_ok(check_hostname(std::string(255, 'h')), "255 octets");
    expect_invalid(check_hostname(""), "empty host name", "empty");
    expect_invalid(check_hostname(std::string(256, 'h')), "host name longer than 255 octets", "256 octets");
    const char *bad = "space or control character in host name";
    expect_invalid(check_hostname("a b"), bad, "space");
    expect_invalid(check_hostname("a\r"), bad, "CR");
    expect_invalid(check_hostname("a\nMAIL FROM:<x>"), bad, "LF");
    expect_invalid(check_hostname(SV("a\0b")), bad, "NUL");
    expect_invalid(check_hostname("a\tb"), bad, "TAB");
    expect_invalid(check_hostname("a\x7f"), bad, "DEL");
}

void test_check_text_argument(void **) {
    expect_ok(check_text_argument("postmaster", "VRFY argument"), "plain");
    expect_ok(check_text_argument("a\tb c", "VRFY argument"), "TAB allowed");
    expect_ok(check_text_argument("", "HELP argument"), "empty");
    expect_invalid(check_text_argument("a\r\nRSET", "VRFY argument"),
                   "control character (CR, LF, NUL, ...) in VRFY argument", "CRLF");
    expect_invalid(check_text_argument(SV("a\0b"), "EXPN argument"),
                   "control character (CR, LF, NUL, ...) in EXPN argument", "NUL");
    expect_invalid(check_text_argument("\x7f", "HELP argument"),
                   "control character (CR, LF, NUL, ...) in HELP argument", "DEL");
}

void test_make_line(void **) {
    std::string out = "stale";
    expect_ok(make_line("NOOP", "", 512, out), "NOOP");
    EXPECT_BYTES(out, "NOOP\r\n");
    expect_ok(make_line("VRFY", "postmaster", 512, out), "VRFY");
    EXPECT_BYTES(out, "VRFY postmaster\r\n");

    // "VRFY " + arg + CRLF: 505 octets of argument make exactly 512.
    std::string arg505(505, 'v'), arg506(506, 'v');
    expect_ok(make_line("VRFY", arg505, smtpc::detail::kMaxCommandLine, out), "512 octets");
    assert_int_equal(out.size(), 512);
    EXPECT_BYTES(out, "VRFY " + arg505 + "\r\n");
    expect_invalid(make_line("VRFY", arg506, smtpc::detail::kMaxCommandLine, out),
                   "command line longer than 512 octets", "513 octets");
    // A verb alone: 510 + CRLF accepted, 511 + CRLF refused.
    expect_ok(make_line(std::string(510, 'X'), "", 512, out), "verb 512");
    assert_int_equal(out.size(), 512);
    expect_invalid(make_line(std::string(511, 'X'), "", 512, out), "command line longer than 512 octets",
                   "verb 513");
}

void test_make_path_command(void **) {
    Address a;
    expect_ok(parse_address("<a@example.org>", false, a), "parse");
    std::string out;
    expect_ok(make_path_command("MAIL FROM:", a, {}, out), "MAIL");
    EXPECT_BYTES(out, "MAIL FROM:<a@example.org>\r\n");
    expect_ok(make_path_command("MAIL FROM:", a, {"SIZE=1000", "BODY=8BITMIME"}, out), "MAIL with options");
    EXPECT_BYTES(out, "MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME\r\n");
    expect_ok(make_path_command("RCPT TO:", a, {"NOTIFY=NEVER"}, out), "RCPT");
    EXPECT_BYTES(out, "RCPT TO:<a@example.org> NOTIFY=NEVER\r\n");

    Address null_sender;
    expect_ok(parse_address("", true, null_sender), "null");
    expect_ok(make_path_command("MAIL FROM:", null_sender, {}, out), "MAIL null");
    EXPECT_BYTES(out, "MAIL FROM:<>\r\n");

    // With parameters the limit is 2048 octets. "MAIL FROM:<a@example.org>" is 25 octets; one
    // parameter of n octets adds n + 1, and CRLF 2: n = 2020 makes 2048.
    std::string p2020 = "X=" + std::string(2018, 'p');
    std::string p2021 = "X=" + std::string(2019, 'p');
    expect_ok(make_path_command("MAIL FROM:", a, {p2020}, out), "2048 octets");
    assert_int_equal(out.size(), 2048);
    expect_invalid(make_path_command("MAIL FROM:", a, {p2021}, out), "command line longer than 2048 octets",
                   "2049 octets");
    EXPECT_BYTES(out, "");
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_accepted), cmocka_unit_test(test_address_null_sender),
        cmocka_unit_test(test_address_controls), cmocka_unit_test(test_address_bad_characters),
        cmocka_unit_test(test_address_lengths),  cmocka_unit_test(test_address_invalid_utf8),
        cmocka_unit_test(test_check_option),     cmocka_unit_test(test_parse_options),
        cmocka_unit_test(test_option_is),        cmocka_unit_test(test_iequals),
        cmocka_unit_test(test_check_hostname),   cmocka_unit_test(test_check_text_argument),
        cmocka_unit_test(test_make_line),        cmocka_unit_test(test_make_path_command),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
