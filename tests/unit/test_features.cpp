// SPDX-License-Identifier: MIT
// Unit tests of the EHLO feature map (src/proto/features.*), against smtplib's ehlo() parsing:
//
//   for each in ehlo_resp.split('\n')[1:]:
//       if re.match(r'auth=(.*)', each, re.I): features["auth"] += " " + rest; continue
//       m = re.match(r'(?P<feature>[A-Za-z0-9][A-Za-z0-9\-]*) ?', each)
//       if m: feature = lower(...); params = rest.strip()
//             "auth" accumulates " " + params, anything else is overwritten
//
// The expected maps below are what smtplib builds for the same reply (dict order = first listed).
#include "proto/features.hpp"

#include "unit_common.hpp"

#include <string>
#include <utility>
#include <vector>

using smtpc::detail::Features;
using smtpc::detail::Reply;

namespace {

Reply ehlo_reply(std::vector<std::string> lines) {
    Reply r;
    r.code = 250;
    r.lines = std::move(lines);
    smtpc::detail::finish_reply(r);
    return r;
}

using Map = std::vector<std::pair<std::string, std::string>>;

void expect_map(const Features &f, const Map &want) {
    if (f.size() != want.size()) {
        std::string got;
        for (std::size_t i = 0; i < f.size(); ++i) got += "[" + f.at(i).first + "=" + f.at(i).second + "] ";
        fail_msg("feature map has %zu entries, expected %zu: %s", f.size(), want.size(), got.c_str());
    }
    for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_BYTES(f.at(i).first, want[i].first);
        EXPECT_BYTES(f.at(i).second, want[i].second);
    }
}

void test_typical_postfix(void **) {
    Features f;
    f.parse(ehlo_reply({"mx.example.org", "PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS",
                        "AUTH PLAIN LOGIN", "AUTH=PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN",
                        "SMTPUTF8", "CHUNKING"}));
    expect_map(f, {{"pipelining", ""},
                   {"size", "10240000"},
                   {"vrfy", ""},
                   {"etrn", ""},
                   {"starttls", ""},
                   {"auth", " PLAIN LOGIN PLAIN LOGIN"},
                   {"enhancedstatuscodes", ""},
                   {"8bitmime", ""},
                   {"dsn", ""},
                   {"smtputf8", ""},
                   {"chunking", ""}});
    assert_true(f.has("PIPELINING"));
    assert_true(f.has("pipelining"));
    assert_true(f.has("PiPeLiNiNg"));
    assert_false(f.has("pipelinin"));
    assert_false(f.has(""));
    assert_non_null(f.params("SIZE"));
    EXPECT_BYTES(*f.params("Size"), "10240000");
    assert_null(f.params("XCLIENT"));
}

void test_first_line_is_not_a_feature(void **) {
    Features f;
    f.parse(ehlo_reply({"PIPELINING"}));  // a one-line reply: only the greeting part
    expect_map(f, {});
    assert_false(f.has("pipelining"));
    f.parse(ehlo_reply({"mx Hello", "SIZE"}));
    expect_map(f, {{"size", ""}});
}

void test_lowercase_and_stripped(void **) {
    Features f;
    f.parse(
        ehlo_reply({"mx", "StartTLS", "  SIZE   1000  ", "X-Custom-Ext  a  b ", "8bitMIME\t", "XFOO\tbar"}));
    // Leading blanks are stripped from each line (smtplib strips the reply text), params are stripped.
    expect_map(
        f, {{"starttls", ""}, {"size", "1000"}, {"x-custom-ext", "a  b"}, {"8bitmime", ""}, {"xfoo", "bar"}});
}

void test_old_style_auth_merged(void **) {
    Features f;
    f.parse(ehlo_reply({"mx", "AUTH=PLAIN LOGIN"}));
    expect_map(f, {{"auth", " PLAIN LOGIN"}});
    assert_true(f.has("AUTH"));

    f.parse(ehlo_reply({"mx", "AUTH PLAIN", "AUTH=LOGIN", "auth=XOAUTH2", "Auth CRAM-MD5"}));
    expect_map(f, {{"auth", " PLAIN LOGIN XOAUTH2 CRAM-MD5"}});

    // Old form first: the entry sits where AUTH= first appeared.
    f.parse(ehlo_reply({"mx", "SIZE 5", "AUTH=LOGIN", "PIPELINING", "AUTH PLAIN"}));
    expect_map(f, {{"size", "5"}, {"auth", " LOGIN PLAIN"}, {"pipelining", ""}});

    // AUTH with no mechanisms, and "AUTH=" alone: one space each.
    f.parse(ehlo_reply({"mx", "AUTH"}));
    expect_map(f, {{"auth", " "}});
    f.parse(ehlo_reply({"mx", "AUTH="}));
    expect_map(f, {{"auth", " "}});
    f.parse(ehlo_reply({"mx", "AUTH", "AUTH"}));
    expect_map(f, {{"auth", "  "}});
}

void test_auth_listed_twice(void **) {
    Features f;
    f.parse(ehlo_reply({"mx", "AUTH PLAIN LOGIN", "AUTH CRAM-MD5"}));
    expect_map(f, {{"auth", " PLAIN LOGIN CRAM-MD5"}});
}

void test_size_values_kept_as_text(void **) {
    Features f;
    f.parse(ehlo_reply({"mx", "SIZE abc"}));
    expect_map(f, {{"size", "abc"}});
    f.parse(ehlo_reply({"mx", "SIZE -1"}));
    expect_map(f, {{"size", "-1"}});
    f.parse(ehlo_reply({"mx", "SIZE 99999999999999999999"}));
    expect_map(f, {{"size", "99999999999999999999"}});
    f.parse(ehlo_reply({"mx", "SIZE"}));
    expect_map(f, {{"size", ""}});
    // "SIZE=100" is keyword "size" with params "=100", as smtplib's regex splits it.
    f.parse(ehlo_reply({"mx", "SIZE=100"}));
    expect_map(f, {{"size", "=100"}});
}

void test_non_alnum_lines_skipped(void **) {
    Features f;
    f.parse(ehlo_reply({"mx", "-BOGUS", "_X", "=y", "", "   ", ".DOT", "\xc3\xa9TE", "PIPELINING", "*"}));
    expect_map(f, {{"pipelining", ""}});
}

void test_keyword_charset(void **) {
    Features f;
    // The keyword is [A-Za-z0-9][A-Za-z0-9-]*; anything after it is the parameter text.
    f.parse(ehlo_reply({"mx", "X_FOO bar", "X.Y z", "A-B-C", "1ABC"}));
    // "X_FOO" and "X.Y" are both keyword "x": one entry, the last value.
    expect_map(f, {{"x", ".Y z"}, {"a-b-c", ""}, {"1abc", ""}});
}

void test_duplicates_keep_first_position_last_value(void **) {
    Features f;
    f.parse(ehlo_reply({"mx", "SIZE 1000", "PIPELINING", "size 2000", "Pipelining x"}));
    // smtplib's dict: the key stays where it was first inserted; the value is the last one listed.
    expect_map(f, {{"size", "2000"}, {"pipelining", "x"}});
}

void test_reparse_and_clear(void **) {
    Features f;
    f.parse(ehlo_reply({"mx", "SIZE 1", "AUTH PLAIN"}));
    f.parse(ehlo_reply({"mx", "AUTH LOGIN"}));  // a new EHLO replaces the map; AUTH does not carry over
    expect_map(f, {{"auth", " LOGIN"}});
    f.clear();
    expect_map(f, {});
    assert_false(f.has("auth"));
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typical_postfix),
        cmocka_unit_test(test_first_line_is_not_a_feature),
        cmocka_unit_test(test_lowercase_and_stripped),
        cmocka_unit_test(test_old_style_auth_merged),
        cmocka_unit_test(test_auth_listed_twice),
        cmocka_unit_test(test_size_values_kept_as_text),
        cmocka_unit_test(test_non_alnum_lines_skipped),
        cmocka_unit_test(test_keyword_charset),
        cmocka_unit_test(test_duplicates_keep_first_position_last_value),
        cmocka_unit_test(test_reparse_and_clear),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
