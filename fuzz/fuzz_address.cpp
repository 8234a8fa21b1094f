// SPDX-License-Identifier: MIT
// fuzz_address: address, option and argument checks and the command lines built from them.
//
// Input: byte 0 = flags (bit 0: allow the empty reverse-path; bit 1: MAIL, else RCPT); the rest is
// split at the first TAB into an address and a space-separated ESMTP parameter list.
// Oracles: whatever parse_address() accepts holds no control character, keeps the RFC 5321 length
// limits, serialises to exactly one command line (CRLF only at its end, no CR, LF or NUL before it,
// at most 512 octets without parameters and 2048 with) that parses back to the same address. The
// same one-line property holds for HELO/EHLO names and free-text arguments that are accepted.
#include "fuzz_common.hpp"
#include "proto/command.hpp"

#include <cstdint>

namespace d = smtpc::detail;

namespace {

void check_one_line(const std::string &line, std::size_t limit) {
    FUZZ_CHECK(line.size() >= 2 && line.size() <= limit, "line of %zu octets (limit %zu)", line.size(),
               limit);
    FUZZ_CHECK(line.compare(line.size() - 2, 2, "\r\n") == 0, "line '%s' without CRLF",
               fuzz::escape(line).c_str());
    FUZZ_CHECK(line.find_first_of(std::string("\r\n\0", 3)) == line.size() - 2, "CR/LF/NUL inside '%s'",
               fuzz::escape(line).c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    if (size < 1) return 0;
    bool allow_empty = data[0] & 1;
    bool mail = data[0] & 2;
    std::string_view in(reinterpret_cast<const char *>(data + 1), size - 1);
    std::size_t tab = in.find('\t');
    std::string_view addr_in = in.substr(0, tab);
    std::string_view opts_in = tab == std::string_view::npos ? std::string_view() : in.substr(tab + 1);

    d::Address a;
    d::Check c = d::parse_address(addr_in, allow_empty, a);
    if (c) {
        FUZZ_CHECK(allow_empty || !a.value.empty(), "empty address accepted");
        FUZZ_CHECK(a.value.size() + 2 <= d::kMaxPath, "address of %zu octets", a.value.size());
        for (char ch : a.value) {
            auto u = static_cast<unsigned char>(ch);
            FUZZ_CHECK(u >= 0x20 && u != 0x7f, "control byte 0x%02x in accepted address", u);
            if (u >= 0x80) FUZZ_CHECK(a.non_ascii, "non-ASCII address not flagged");
        }
        std::size_t at = a.value.rfind('@');
        if (at != std::string::npos && a.value.find('"') == std::string::npos) {
            FUZZ_CHECK(a.value.size() - at - 1 <= d::kMaxDomain, "domain of %zu octets",
                       a.value.size() - at - 1);
        }
        std::string line;
        std::vector<std::string> none;
        std::string_view prefix = mail ? "MAIL FROM:" : "RCPT TO:";
        if (d::make_path_command(prefix, a, none, line)) {
            check_one_line(line, d::kMaxCommandLine);
            // Parse back: the path between the angle brackets is the same address.
            FUZZ_CHECK(line.compare(0, prefix.size(), prefix) == 0, "prefix");
            std::string_view path(line);
            path.remove_prefix(prefix.size());
            path.remove_suffix(2);
            FUZZ_CHECK(path.size() >= 2 && path.front() == '<' && path.back() == '>', "path '%s'",
                       fuzz::escape(path).c_str());
            d::Address back;
            FUZZ_CHECK(d::parse_address(path, allow_empty, back), "serialised path '%s' refused",
                       fuzz::escape(path).c_str());
            FUZZ_CHECK(back.value == a.value && back.non_ascii == a.non_ascii, "round trip '%s' -> '%s'",
                       fuzz::escape(a.value).c_str(), fuzz::escape(back.value).c_str());
        }
        std::vector<std::string> opts;
        if (d::parse_options(opts_in, opts)) {
            for (const auto &o : opts) FUZZ_CHECK(d::check_option(o), "accepted option fails check_option");
            if (d::make_path_command(prefix, a, opts, line)) {
                check_one_line(line, opts.empty() ? d::kMaxCommandLine : d::kMaxCommandLineWithParams);
            } else {
                FUZZ_CHECK(line.empty(), "refused line not cleared");
            }
        }
    } else {
        FUZZ_CHECK(c.status == SMTPC_EINVAL && !c.message.empty(), "refusal without EINVAL and message");
    }

    // HELO/EHLO names and free-text arguments.
    std::string line;
    if (d::check_hostname(addr_in) && d::make_line("EHLO", addr_in, d::kMaxCommandLine, line))
        check_one_line(line, d::kMaxCommandLine);
    if (d::check_text_argument(in, "argument") && d::make_line("VRFY", in, d::kMaxCommandLine, line))
        check_one_line(line, d::kMaxCommandLine);
    return 0;
}
