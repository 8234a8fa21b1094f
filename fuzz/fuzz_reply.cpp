// SPDX-License-Identifier: MIT
// fuzz_reply: the incremental reply parser.
//
// Input: byte 0 = (n & 7) number of chunk-length bytes that follow, bit 3 = small limits; then the
// chunk lengths (cycled; 0 counts as 1; n = 0 means one byte at a time); the rest is server data.
// Oracles: parsing in those chunks gives exactly what parsing in one piece gives (the same replies,
// the same error, the same state at the end); every reply is within the limits; reply lines hold no
// CR, LF or NUL; the derived text and enhanced code agree with the lines; after an error the parser
// stays in error.
#include "fuzz_common.hpp"
#include "proto/reply.hpp"

#include <cstdint>
#include <vector>

using smtpc::detail::Reply;
using smtpc::detail::ReplyLimits;
using smtpc::detail::ReplyParser;

namespace {

struct Outcome {
    std::vector<Reply> replies;
    bool error = false;
    std::string error_text;
    bool mid_reply = false;
};

void check_reply(const Reply &r, const ReplyLimits &lim) {
    FUZZ_CHECK(r.code >= 200 && r.code <= 599, "code %d", r.code);
    FUZZ_CHECK(!r.lines.empty() && r.lines.size() <= lim.max_lines, "%zu lines", r.lines.size());
    std::size_t total = 0;
    std::string text;
    for (std::size_t i = 0; i < r.lines.size(); ++i) {
        const std::string &l = r.lines[i];
        FUZZ_CHECK(l.find_first_of(std::string("\r\n\0", 3)) == std::string::npos, "CR/LF/NUL in line '%s'",
                   fuzz::escape(l).c_str());
        FUZZ_CHECK(l.size() + 6 <= lim.max_line, "line of %zu octets over the %zu limit", l.size(),
                   lim.max_line);
        total += l.size() + 6;
        std::string_view s(l);
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        if (i) text.push_back('\n');
        text.append(s);
    }
    FUZZ_CHECK(total <= lim.max_reply + r.lines.size(), "reply of ~%zu octets over %zu", total,
               lim.max_reply);
    FUZZ_CHECK(text == r.text, "text '%s' vs '%s'", fuzz::escape(r.text).c_str(), fuzz::escape(text).c_str());
    if (!r.enhanced.empty()) {
        FUZZ_CHECK(r.lines[0].compare(0, r.enhanced.size(), r.enhanced) == 0, "enhanced '%s' not a prefix",
                   r.enhanced.c_str());
        FUZZ_CHECK(r.enhanced[0] == static_cast<char>('0' + r.code / 100), "enhanced class '%s' vs %d",
                   r.enhanced.c_str(), r.code);
    }
}

Outcome parse(const ReplyLimits &lim, const char *data, std::size_t len, fuzz::Chunker *chunker) {
    Outcome out;
    ReplyParser p(lim);
    std::size_t off = 0;
    while (off < len) {
        std::size_t n = chunker ? chunker->next() : len - off;
        if (n > len - off) n = len - off;
        std::size_t piece_off = 0;
        while (piece_off < n) {
            std::size_t used = 0;
            ReplyParser::Result r = p.feed(data + off + piece_off, n - piece_off, used);
            FUZZ_CHECK(used <= n - piece_off, "consumed %zu of %zu", used, n - piece_off);
            piece_off += used;
            if (r == ReplyParser::Result::Error) {
                out.error = true;
                out.error_text = p.error();
                FUZZ_CHECK(!out.error_text.empty(), "error without a message");
                std::size_t again = 0;
                FUZZ_CHECK(p.feed("250 ok\r\n", 8, again) == ReplyParser::Result::Error,
                           "parser left error state");
                return out;
            }
            if (r == ReplyParser::Result::NeedMore) {
                FUZZ_CHECK(piece_off == n, "NeedMore with %zu bytes left", n - piece_off);
                break;
            }
            out.replies.push_back(p.take_reply());
            check_reply(out.replies.back(), lim);
        }
        off += n;
    }
    out.mid_reply = p.mid_reply();
    return out;
}

bool same(const Reply &a, const Reply &b) {
    return a.code == b.code && a.lines == b.lines && a.text == b.text && a.enhanced == b.enhanced;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    if (size < 1) return 0;
    std::size_t nlens = data[0] & 7;
    bool small = (data[0] & 8) != 0;
    if (size < 1 + nlens) return 0;
    const char *body = reinterpret_cast<const char *>(data + 1 + nlens);
    std::size_t len = size - 1 - nlens;

    ReplyLimits lim;
    if (small) {
        lim.max_line = 40;
        lim.max_lines = 5;
        lim.max_reply = 120;
    }
    Outcome whole = parse(lim, body, len, nullptr);
    fuzz::Chunker chunker(data + 1, nlens);
    Outcome chunked = parse(lim, body, len, &chunker);

    FUZZ_CHECK(whole.replies.size() == chunked.replies.size(), "%zu replies in one piece, %zu in chunks",
               whole.replies.size(), chunked.replies.size());
    for (std::size_t i = 0; i < whole.replies.size(); ++i)
        FUZZ_CHECK(same(whole.replies[i], chunked.replies[i]), "reply %zu differs: '%s' vs '%s'", i,
                   fuzz::escape(whole.replies[i].text).c_str(),
                   fuzz::escape(chunked.replies[i].text).c_str());
    FUZZ_CHECK(whole.error == chunked.error && whole.error_text == chunked.error_text,
               "error '%s' in one piece, '%s' in chunks", whole.error_text.c_str(),
               chunked.error_text.c_str());
    FUZZ_CHECK(whole.mid_reply == chunked.mid_reply, "mid_reply %d vs %d", whole.mid_reply,
               chunked.mid_reply);
    return 0;
}
