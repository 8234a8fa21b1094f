// SPDX-License-Identifier: MIT
#include "command.hpp"

namespace smtpc::detail {

namespace {

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

// Strict UTF-8 check (no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n;
        unsigned cp;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else return false;
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

}  // namespace

Check parse_address(std::string_view in, bool allow_empty, Address &out) {
    std::string_view a = in;
    if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = a.substr(1, a.size() - 2);
    if (a.empty()) {
        if (!allow_empty) return Check::invalid("empty address");
        out = Address{};
        out.original.assign(in.data(), in.size());
        return {};
    }
    if (a.size() + 2 > kMaxPath)
        return Check::invalid("address longer than " + std::to_string(kMaxPath - 2) + " octets");
    bool quoted = false, escaped = false, non_ascii = false;
    std::size_t at = std::string_view::npos;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto c = static_cast<unsigned char>(a[i]);
        if (is_control(c)) return Check::invalid("control character (CR, LF, NUL, ...) in address");
        if (c >= 0x80) non_ascii = true;
        if (escaped) {
            escaped = false;
            continue;
        }
        if (quoted) {
            if (c == '\\') escaped = true;
            else if (c == '"') quoted = false;
            continue;
        }
        if (c == '"' && (i == 0 || a[i - 1] == '.')) {
            quoted = true;
            continue;
        }
        if (c == '<' || c == '>' || c == ' ' || c == '\\' || c == '"')
            return Check::invalid(std::string("character '") + static_cast<char>(c) +
                                  "' not allowed in address");
        if (c == '@') at = i;
    }
    if (quoted || escaped) return Check::invalid("unterminated quoted local part in address");
    if (non_ascii && !valid_utf8(a)) return Check::invalid("address is not valid UTF-8");
    if (at != std::string_view::npos) {
        std::string_view local = a.substr(0, at);
        // A source route ("@a,@b:user@d") is obsolete but legal: measure the mailbox after the colon.
        std::size_t colon = local.rfind(':');
        if (colon != std::string_view::npos && local.front() == '@') local = local.substr(colon + 1);
        if (local.empty()) return Check::invalid("address has an empty local part");
        if (local.size() > kMaxLocalPart)
            return Check::invalid("address local part longer than " + std::to_string(kMaxLocalPart) +
                                  " octets");
        if (a.size() - at - 1 == 0) return Check::invalid("address has an empty domain");
        if (a.size() - at - 1 > kMaxDomain)
            return Check::invalid("address domain longer than " + std::to_string(kMaxDomain) + " octets");
    } else if (a.size() > kMaxLocalPart) {
        return Check::invalid("address local part longer than " + std::to_string(kMaxLocalPart) + " octets");
    }
    out.value.assign(a.data(), a.size());
    out.original.assign(in.data(), in.size());
    out.non_ascii = non_ascii;
    return {};
}

Check check_option(std::string_view opt) {
    if (opt.empty()) return Check::invalid("empty ESMTP parameter");
    for (char ch : opt) {
        auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c >= 0x7f)
            return Check::invalid("ESMTP parameter with a space, control or non-ASCII byte");
    }
    return {};
}

Check parse_options(std::string_view list, std::vector<std::string> &out) {
    out.clear();
    std::size_t pos = 0;
    while (pos < list.size()) {
        if (list[pos] == ' ') {
            ++pos;
            continue;
        }
        std::size_t end = list.find(' ', pos);
        if (end == std::string_view::npos) end = list.size();
        std::string_view opt = list.substr(pos, end - pos);
        if (Check c = check_option(opt); !c) return c;
        out.emplace_back(opt);
        pos = end;
    }
    return {};
}

bool option_is(std::string_view opt, std::string_view keyword) {
    std::size_t eq = opt.find('=');
    return iequals(opt.substr(0, eq), keyword);
}

Check check_hostname(std::string_view name) {
    if (name.empty()) return Check::invalid("empty host name");
    if (name.size() > 255) return Check::invalid("host name longer than 255 octets");
    for (char ch : name) {
        auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c == 0x7f) return Check::invalid("space or control character in host name");
    }
    return {};
}

Check check_text_argument(std::string_view text, const char *what) {
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if (is_control(c) && c != '\t')
            return Check::invalid(std::string("control character (CR, LF, NUL, ...) in ") + what);
    }
    return {};
}

Check make_line(std::string_view verb, std::string_view arg, std::size_t limit, std::string &out) {
    std::size_t n = verb.size() + (arg.empty() ? 0 : 1 + arg.size()) + 2;
    if (n > limit) return Check::invalid("command line longer than " + std::to_string(limit) + " octets");
    out.clear();
    out.reserve(n);
    out.append(verb);
    if (!arg.empty()) {
        out.push_back(' ');
        out.append(arg);
    }
    out.append("\r\n");
    return {};
}

Check make_path_command(std::string_view prefix, const Address &addr, const std::vector<std::string> &options,
                        std::string &out) {
    out.clear();
    out.append(prefix);
    out.push_back('<');
    out.append(addr.value);
    out.push_back('>');
    for (const auto &o : options) {
        out.push_back(' ');
        out.append(o);
    }
    out.append("\r\n");
    std::size_t limit = options.empty() ? kMaxCommandLine : kMaxCommandLineWithParams;
    if (out.size() > limit) {
        out.clear();
        return Check::invalid("command line longer than " + std::to_string(limit) + " octets");
    }
    return {};
}

}  // namespace smtpc::detail
