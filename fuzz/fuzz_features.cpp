// SPDX-License-Identifier: MIT
// fuzz_features: EHLO/LHLO reply -> feature map.
//
// Input: an EHLO reply as a server sends it. When it parses as one reply it is used as such;
// otherwise its lines (split at LF, a CR before the LF dropped) become the lines of a 250 reply, so
// that bytes the reply parser refuses still reach the feature parser.
// Oracles: no crash; keywords are non-empty, lower case, made of letters, digits and '-', and listed
// once; parameters have no blanks at either end (AUTH: each mechanism list is preceded by a space);
// lookups find every keyword in any case; parsing twice gives the same map.
#include "fuzz_common.hpp"
#include "proto/features.hpp"

#include <cstdint>

using smtpc::detail::Features;
using smtpc::detail::Reply;
using smtpc::detail::ReplyParser;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const char *p = reinterpret_cast<const char *>(data);
    Reply reply;
    ReplyParser parser;
    std::size_t used = 0;
    if (parser.feed(p, size, used) == ReplyParser::Result::Complete) {
        reply = parser.take_reply();
    } else {
        reply.code = 250;
        std::string_view in(p, size);
        while (!in.empty()) {
            std::size_t nl = in.find('\n');
            std::string_view line = in.substr(0, nl);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (line.size() >= 4) line.remove_prefix(4);
            reply.lines.emplace_back(line);
            if (nl == std::string_view::npos) break;
            in.remove_prefix(nl + 1);
        }
        if (reply.lines.empty()) reply.lines.emplace_back();
        smtpc::detail::finish_reply(reply);
    }

    Features f;
    f.parse(reply);
    FUZZ_CHECK(f.size() < reply.lines.size() || f.size() == 0, "%zu features from %zu lines", f.size(),
               reply.lines.size());
    for (std::size_t i = 0; i < f.size(); ++i) {
        const auto &[key, params] = f.at(i);
        FUZZ_CHECK(!key.empty(), "empty keyword");
        for (char c : key)
            FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-', "bad keyword '%s'",
                       fuzz::escape(key).c_str());
        for (std::size_t j = 0; j < i; ++j)
            FUZZ_CHECK(f.at(j).first != key, "keyword '%s' twice", key.c_str());
        std::string upper = key;
        for (char &c : upper)
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        FUZZ_CHECK(f.has(key) && f.has(upper), "lookup of '%s' fails", key.c_str());
        FUZZ_CHECK(f.params(upper) == &params, "params lookup of '%s'", key.c_str());
        if (key == "auth") {
            FUZZ_CHECK(params.empty() || params.front() == ' ', "AUTH params '%s'",
                       fuzz::escape(params).c_str());
        } else if (!params.empty()) {
            auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
            FUZZ_CHECK(!blank(params.front()) && !blank(params.back()), "params '%s' not stripped",
                       fuzz::escape(params).c_str());
        }
    }
    Features g;
    g.parse(reply);
    FUZZ_CHECK(g.size() == f.size(), "reparse gives %zu features, not %zu", g.size(), f.size());
    for (std::size_t i = 0; i < f.size(); ++i) FUZZ_CHECK(g.at(i) == f.at(i), "reparse differs at %zu", i);
    return 0;
}
