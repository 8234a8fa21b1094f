// SPDX-License-Identifier: MIT
// Building command lines from caller input. Everything that reaches the wire is checked here first:
// no CR, LF, NUL or other control character can come from an argument, and RFC 5321 length limits
// hold (section 4.5.3.1).
#pragma once

#include "smtpc.h"

#include "../util/text.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace smtpc::detail {

constexpr std::size_t kMaxCommandLine = 512;             // octets, CRLF included (RFC 5321 4.5.3.1.4)
constexpr std::size_t kMaxCommandLineWithParams = 2048;  // MAIL/RCPT lines carrying ESMTP parameters
constexpr std::size_t kMaxPath = 256;                    // reverse/forward path, angle brackets included
constexpr std::size_t kMaxLocalPart = 64;
constexpr std::size_t kMaxDomain = 255;

// Outcome of a check: SMTPC_OK, or an error status with a message for the client's errmsg.
struct Check {
    smtpc_status status = SMTPC_OK;
    std::string message;
    explicit operator bool() const { return status == SMTPC_OK; }
    static Check invalid(std::string msg) { return {SMTPC_EINVAL, std::move(msg)}; }
};

// A mailbox for MAIL FROM or RCPT TO, without its angle brackets.
struct Address {
    std::string value;       // without angle brackets, as sent
    bool non_ascii = false;  // needs SMTPUTF8
    std::string original{};  // as the caller gave it, for results
};

// Checks an address given bare or in angle brackets. An empty address is the null reverse-path and
// is allowed only when allow_empty is set.
Check parse_address(std::string_view in, bool allow_empty, Address &out);

// Checks one ESMTP parameter ("BODY=8BITMIME"): printable ASCII, no space.
Check check_option(std::string_view opt);

// Splits a space-separated parameter list and checks each parameter.
Check parse_options(std::string_view list, std::vector<std::string> &out);

// True when `opt` is the parameter `keyword` (case-insensitive), with or without "=value".
bool option_is(std::string_view opt, std::string_view keyword);

// Checks a HELO/EHLO/LHLO domain argument.
Check check_hostname(std::string_view name);

// Checks free text for VRFY/EXPN/HELP and docmd arguments: no control characters but TAB.
Check check_text_argument(std::string_view text, const char *what);

// Joins "VERB" and an optional argument into a CRLF-terminated line, checking the length limit.
Check make_line(std::string_view verb, std::string_view arg, std::size_t limit, std::string &out);

// "MAIL FROM:<addr> opt..." / "RCPT TO:<addr> opt...".
Check make_path_command(std::string_view prefix, const Address &addr, const std::vector<std::string> &options,
                        std::string &out);

}  // namespace smtpc::detail
