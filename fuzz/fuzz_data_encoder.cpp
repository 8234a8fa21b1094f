// SPDX-License-Identifier: MIT
// fuzz_data_encoder: the DATA body encoder.
//
// Input: byte 0 = (n & 7) number of split-length bytes that follow (cycled; 0 counts as 1; n = 0
// means one byte at a time); the rest is the message body.
// Oracles: encoding in blocks gives the same bytes as encoding in one piece and as a tiny reference
// encoder; the output has no bare CR or LF; it ends with the terminator and no "." line comes
// before it; every line starting with '.' is stuffed; removing the stuffing gives back the body with
// line ends normalised to CRLF and a final CRLF; normalized_size() is the size of that.
#include "fuzz_common.hpp"
#include "proto/data_encoder.hpp"

#include <cstdint>

using smtpc::detail::DataEncoder;

namespace {

// The body with lone CR and lone LF made CRLF and a final CRLF added when missing ("" -> CRLF).
std::string normalise(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\r') {
            if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
            out.append("\r\n");
        } else if (in[i] == '\n') {
            out.append("\r\n");
        } else {
            out.push_back(in[i]);
        }
    }
    if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out.append("\r\n");
    return out;
}

// Reference encoder: normalise, then stuff line by line, then the terminator.
std::string reference(std::string_view in) {
    std::string norm = normalise(in), out;
    bool line_start = true;
    for (char c : norm) {
        if (line_start && c == '.') out.push_back('.');
        out.push_back(c);
        line_start = c == '\n';
    }
    return out + ".\r\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    if (size < 1) return 0;
    std::size_t nlens = data[0] & 7;
    if (size < 1 + nlens) return 0;
    std::string_view body(reinterpret_cast<const char *>(data + 1 + nlens), size - 1 - nlens);

    std::string whole;
    DataEncoder e1;
    e1.encode(body.data(), body.size(), whole);
    e1.finish(whole);

    std::string chunked;
    DataEncoder e2;
    fuzz::Chunker chunker(data + 1, nlens);
    for (std::size_t off = 0; off < body.size();) {
        std::size_t n = chunker.next();
        if (n > body.size() - off) n = body.size() - off;
        e2.encode(body.data() + off, n, chunked);
        if ((off & 3) == 0) e2.encode(body.data() + off, 0, chunked);  // empty blocks change nothing
        off += n;
    }
    e2.finish(chunked);

    FUZZ_CHECK(whole == chunked, "split changes the output: '%s' vs '%s'", fuzz::escape(whole).c_str(),
               fuzz::escape(chunked).c_str());
    std::string ref = reference(body);
    FUZZ_CHECK(whole == ref, "output '%s' differs from the reference '%s'", fuzz::escape(whole).c_str(),
               fuzz::escape(ref).c_str());
    FUZZ_CHECK(fuzz::no_bare_cr_lf(whole), "bare CR or LF in '%s'", fuzz::escape(whole).c_str());
    FUZZ_CHECK(whole.size() >= 5 && whole.compare(whole.size() - 5, 5, "\r\n.\r\n") == 0,
               "no CRLF.CRLF at the end of '%s'", fuzz::escape(whole).c_str());

    // Walk the lines before the terminator: no lone ".", stuffing undone gives the normalised body.
    std::string_view rest(whole.data(), whole.size() - 3);
    std::string unstuffed;
    while (!rest.empty()) {
        std::size_t eol = rest.find("\r\n");
        FUZZ_CHECK(eol != std::string_view::npos, "unterminated line before the terminator");
        std::string_view line = rest.substr(0, eol);
        FUZZ_CHECK(line != ".", "lone '.' line before the terminator");
        if (!line.empty() && line[0] == '.') {
            FUZZ_CHECK(line.size() >= 2 && line[1] == '.', "unstuffed line '%s'", fuzz::escape(line).c_str());
            line.remove_prefix(1);
        }
        unstuffed.append(line).append("\r\n");
        rest.remove_prefix(eol + 2);
    }
    std::string norm = normalise(body);
    FUZZ_CHECK(unstuffed == norm, "unstuffing gives '%s', expected '%s'", fuzz::escape(unstuffed).c_str(),
               fuzz::escape(norm).c_str());
    std::uint64_t declared = DataEncoder::normalized_size(body.data(), body.size());
    FUZZ_CHECK(declared == norm.size(), "normalized_size %llu, actual %zu",
               static_cast<unsigned long long>(declared), norm.size());
    return 0;
}
