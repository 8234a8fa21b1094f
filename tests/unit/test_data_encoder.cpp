// SPDX-License-Identifier: MIT
// Unit tests of the streaming DATA encoder (src/proto/data_encoder.*): catalogue section D.
//
// Each case is checked against an exact expected byte string (smtplib's data(): lone CR and LF become
// CRLF, a leading '.' is doubled, a missing final CRLF is added, then ".\r\n"). Then, for every case
// and for every short string over an alphabet of '.', CR, LF, NUL and a letter:
//  - any split of the input into blocks gives the same output as the whole input;
//  - the output has no bare CR or LF, and no line that is exactly "." before the terminator;
//  - un-stuffing the output gives back the normalised input;
//  - normalized_size() is the length of the un-stuffed output.
#include "proto/data_encoder.hpp"

#include "unit_common.hpp"

#include <string>
#include <vector>

using smtpc::detail::DataEncoder;

namespace {

std::string encode_blocks(const std::vector<std::string_view> &blocks) {
    DataEncoder enc;
    std::string out;
    for (std::string_view b : blocks) enc.encode(b.data(), b.size(), out);
    enc.finish(out);
    return out;
}

std::string encode_whole(std::string_view in) { return encode_blocks({in}); }

std::string encode_bytewise(std::string_view in) {
    std::vector<std::string_view> blocks;
    for (std::size_t i = 0; i < in.size(); ++i) blocks.push_back(in.substr(i, 1));
    return encode_blocks(blocks);
}

// Reference normalisation, written independently of the encoder: CRLF, lone CR and lone LF each
// become CRLF; then CRLF is appended unless the result already ends with one (an empty message too).
std::string normalise(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\r') {
            out.append("\r\n");
            if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
        } else if (in[i] == '\n') {
            out.append("\r\n");
        } else {
            out.push_back(in[i]);
        }
    }
    if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out.append("\r\n");
    return out;
}

// Reference un-stuffing decoder, as a server reads DATA (RFC 5321 4.5.2). Returns false when the
// encoded form is not well formed: a bare CR or LF, a line "." before the end, no terminator, or
// bytes after it.
bool unstuff(std::string_view wire, std::string &message, std::string &why) {
    message.clear();
    std::size_t pos = 0;
    for (;;) {
        std::size_t eol = wire.find("\r\n", pos);
        if (eol == std::string_view::npos) {
            why = "no CRLF-terminated line at offset " + std::to_string(pos);
            return false;
        }
        std::string_view line = wire.substr(pos, eol - pos);
        if (line.find_first_of("\r\n") != std::string_view::npos) {
            why = "bare CR or LF in line at offset " + std::to_string(pos);
            return false;
        }
        pos = eol + 2;
        if (line == ".") {
            if (pos != wire.size()) {
                why = "line \".\" before the end of the data at offset " + std::to_string(eol - 1);
                return false;
            }
            return true;
        }
        if (!line.empty() && line.front() == '.') line.remove_prefix(1);
        message.append(line).append("\r\n");
    }
}

// Every property of one input. `label` names it in failure messages.
void check_properties(std::string_view in, const char *label) {
    std::string whole = encode_whole(in);
    std::string decoded, why;
    if (!unstuff(whole, decoded, why))
        fail_msg("%s: output \"%s\" is not well formed: %s", label, unit::escaped(whole).c_str(),
                 why.c_str());
    std::string norm = normalise(in);
    if (decoded != norm)
        fail_msg("%s: un-stuffed output \"%s\" differs from the normalised input \"%s\"", label,
                 unit::escaped(decoded).c_str(), unit::escaped(norm).c_str());
    std::uint64_t size = DataEncoder::normalized_size(in.data(), in.size());
    if (size != decoded.size())
        fail_msg("%s: normalized_size %llu, un-stuffed output is %zu bytes (input \"%s\")", label,
                 static_cast<unsigned long long>(size), decoded.size(), unit::escaped(in).c_str());

    std::string bytewise = encode_bytewise(in);
    if (bytewise != whole)
        fail_msg("%s: 1-byte blocks give \"%s\", whole gives \"%s\"", label, unit::escaped(bytewise).c_str(),
                 unit::escaped(whole).c_str());
    for (std::size_t i = 0; i <= in.size(); ++i) {
        std::string two = encode_blocks({in.substr(0, i), in.substr(i)});
        if (two != whole)
            fail_msg("%s: split at %zu gives \"%s\", whole gives \"%s\"", label, i,
                     unit::escaped(two).c_str(), unit::escaped(whole).c_str());
    }
    // Empty blocks in between change nothing.
    std::vector<std::string_view> with_empties;
    for (std::size_t i = 0; i < in.size(); ++i) {
        with_empties.push_back(in.substr(i, 0));
        with_empties.push_back(in.substr(i, 1));
    }
    with_empties.push_back(in.substr(in.size()));
    if (encode_blocks(with_empties) != whole) fail_msg("%s: empty blocks change the output", label);
}

struct Case {
    const char *name;
    std::string_view in;
    std::string_view out;
};

const Case kCases[] = {
    {"CRLF.CRLF inside", SV("a\r\n.\r\nb"), SV("a\r\n..\r\nb\r\n.\r\n")},
    {"CRLF CRLF .x", SV("a\r\n\r\n.x\r\n"), SV("a\r\n\r\n..x\r\n.\r\n")},
    {"dot at start", SV(".a\r\n"), SV("..a\r\n.\r\n")},
    {"dot-dot", SV("..\r\n"), SV("...\r\n.\r\n")},
    {"dot-dot at start, no CRLF", SV(".."), SV("...\r\n.\r\n")},
    {"only a dot", SV("."), SV("..\r\n.\r\n")},
    {"only a dot line", SV(".\r\n"), SV("..\r\n.\r\n")},
    {"LF.LF", SV("\n.\n"), SV("\r\n..\r\n.\r\n")},
    {"LF.CRLF", SV("\n.\r\n"), SV("\r\n..\r\n.\r\n")},
    {"CR.CR", SV("\r.\r"), SV("\r\n..\r\n.\r\n")},
    {"CRLF.LF", SV("\r\n.\n"), SV("\r\n..\r\n.\r\n")},
    {"text LF.LF text", SV("a\n.\nb"), SV("a\r\n..\r\nb\r\n.\r\n")},
    {"lone CR", SV("a\rb"), SV("a\r\nb\r\n.\r\n")},
    {"lone LF", SV("a\nb"), SV("a\r\nb\r\n.\r\n")},
    {"CR CRLF", SV("a\r\r\nb"), SV("a\r\n\r\nb\r\n.\r\n")},
    {"LF CR", SV("a\n\rb"), SV("a\r\n\r\nb\r\n.\r\n")},
    {"CRLF kept", SV("a\r\nb\r\n"), SV("a\r\nb\r\n.\r\n")},
    {"empty body", SV(""), SV("\r\n.\r\n")},
    {"only CRLF", SV("\r\n"), SV("\r\n.\r\n")},
    {"only LF", SV("\n"), SV("\r\n.\r\n")},
    {"only CR", SV("\r"), SV("\r\n.\r\n")},
    {"no final CRLF", SV("Subject: x\r\n\r\nbody"), SV("Subject: x\r\n\r\nbody\r\n.\r\n")},
    {"ends in lone CR", SV("abc\r"), SV("abc\r\n.\r\n")},
    {"ends in lone LF", SV("abc\n"), SV("abc\r\n.\r\n")},
    {"dot not at line start", SV("a.b\r\n x.\r\n"), SV("a.b\r\n x.\r\n.\r\n")},
    {"NUL then dot", SV("\0.\r\n"), SV("\0.\r\n.\r\n")},
    {"dot NUL", SV("a\r\n.\0\r\n"), SV("a\r\n..\0\r\n.\r\n")},
    {"LF dot NUL LF", SV("\n.\0\n"), SV("\r\n..\0\r\n.\r\n")},
    {"dot line at end without CRLF", SV("a\r\n."), SV("a\r\n..\r\n.\r\n")},
};

void test_expected_bytes(void **) {
    for (const Case &c : kCases) {
        std::string got = encode_whole(c.in);
        if (got != c.out)
            fail_msg("%s: got \"%s\", expected \"%s\"", c.name, unit::escaped(got).c_str(),
                     unit::escaped(c.out).c_str());
    }
}

void test_case_properties(void **) {
    for (const Case &c : kCases) check_properties(c.in, c.name);
}

void test_normalized_size_values(void **) {
    struct {
        std::string_view in;
        std::uint64_t size;
    } cases[] = {
        {SV(""), 2},       {SV("abc"), 5},  {SV("abc\r\n"), 5}, {SV("abc\r"), 5},
        {SV("abc\n"), 5},  {SV("a\rb"), 6}, {SV("a\nb"), 6},    {SV("\r.\r"), 5},
        {SV("\r\r\n"), 4}, {SV("."), 3},    {SV(".\r\n"), 3},   {SV("a\r\n.\r\nb"), 9},
    };
    for (const auto &c : cases) {
        std::uint64_t got = DataEncoder::normalized_size(c.in.data(), c.in.size());
        if (got != c.size)
            fail_msg("normalized_size(\"%s\") = %llu, expected %llu", unit::escaped(c.in).c_str(),
                     static_cast<unsigned long long>(got), static_cast<unsigned long long>(c.size));
    }
}

// Every string of up to 6 bytes over {'a', '.', CR, LF, NUL}: 19 531 inputs, each with every split.
void test_exhaustive_small_inputs(void **) {
    const char alphabet[] = {'a', '.', '\r', '\n', '\0'};
    std::string in;
    for (std::size_t len = 0; len <= 6; ++len) {
        std::size_t total = 1;
        for (std::size_t k = 0; k < len; ++k) total *= 5;
        for (std::size_t n = 0; n < total; ++n) {
            in.clear();
            std::size_t v = n;
            for (std::size_t k = 0; k < len; ++k) {
                in.push_back(alphabet[v % 5]);
                v /= 5;
            }
            std::string label = "input \"" + unit::escaped(in) + "\"";
            check_properties(in, label.c_str());
        }
    }
}

// A reused encoder (reset) starts afresh: no pending CR or mid-line state leaks into the next message.
void test_reset(void **) {
    DataEncoder enc;
    std::string out;
    enc.encode("abc\r", 4, out);
    enc.reset();
    out.clear();
    enc.encode(".x", 2, out);
    enc.finish(out);
    EXPECT_BYTES(out, "..x\r\n.\r\n");
    enc.reset();
    out.clear();
    enc.finish(out);
    EXPECT_BYTES(out, "\r\n.\r\n");
}

// A large body in small blocks: output equals the whole encoding, without quadratic work.
void test_large_body_blocks(void **) {
    std::string body;
    for (int i = 0; i < 20000; ++i) body.append(i % 3 == 0 ? ".line\n" : (i % 3 == 1 ? "x\r" : "y\r\n"));
    std::string whole = encode_whole(body);
    for (std::size_t block : {1u, 2u, 3u, 7u, 4096u}) {
        DataEncoder enc;
        std::string out;
        for (std::size_t off = 0; off < body.size(); off += block) {
            std::size_t n = body.size() - off < block ? body.size() - off : block;
            enc.encode(body.data() + off, n, out);
        }
        enc.finish(out);
        if (out != whole) fail_msg("blocks of %zu bytes give a different encoding", block);
    }
    std::string decoded, why;
    assert_true(unstuff(whole, decoded, why));
    EXPECT_BYTES(decoded, normalise(body));
    assert_int_equal(DataEncoder::normalized_size(body.data(), body.size()), decoded.size());
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_bytes),
        cmocka_unit_test(test_case_properties),
        cmocka_unit_test(test_normalized_size_values),
        cmocka_unit_test(test_exhaustive_small_inputs),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_large_body_blocks),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
