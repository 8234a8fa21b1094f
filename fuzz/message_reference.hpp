// SPDX-License-Identifier: MIT
// A reference for send_message's header handling, written independently of src/message: it works on
// the lines a receiving MTA sees (after the DATA encoder's line-end normalisation), not on raw bytes.
// The oracle of fuzz_message, and used by tests/unit/test_headers.cpp.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace msgref {

inline bool eq_nocase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// CRLF, lone CR and lone LF each become CRLF; a final CRLF is added when missing (an empty message
// becomes one CRLF), as smtplib's data() and src/proto/data_encoder do.
inline std::string normalise(std::string_view in) {
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

// The lines of normalised text, without their CRLF.
inline std::vector<std::string_view> lines(std::string_view normalised) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (pos < normalised.size()) {
        std::size_t e = normalised.find("\r\n", pos);
        if (e == std::string_view::npos) e = normalised.size();
        out.push_back(normalised.substr(pos, e - pos));
        pos = e + 2;
    }
    return out;
}

struct Field {
    std::string name;         // without white space before the colon
    std::size_t first, last;  // line indices, continuation lines included
    std::string value;        // unfolded, after the colon, leading white space removed
};

// The header section as an MTA reads it (Postfix's is_header(): a name of printable ASCII but ':',
// optional white space, ':'; a line starting with SP or HTAB continues the field before it). It
// ends at the first empty line or the first line that is neither; body_line is the first line after
// the section and its blank line.
struct Parsed {
    std::vector<Field> fields;
    std::size_t body_line = 0;
};

inline bool field_line(std::string_view line, std::string &name, std::size_t &value_pos) {
    std::size_t i = 0;
    while (i < line.size() && static_cast<unsigned char>(line[i]) > 32 &&
           static_cast<unsigned char>(line[i]) < 127 && line[i] != ':')
        ++i;
    if (i == 0) return false;
    std::size_t c = i;
    while (c < line.size() && (line[c] == ' ' || line[c] == '\t')) ++c;
    if (c >= line.size() || line[c] != ':') return false;
    name.assign(line.substr(0, i));
    value_pos = c + 1;
    return true;
}

inline Parsed parse(const std::vector<std::string_view> &ls) {
    Parsed p;
    std::size_t i = 0;
    for (; i < ls.size(); ++i) {
        std::string_view l = ls[i];
        if (l.empty()) {
            ++i;
            break;
        }
        std::string name;
        std::size_t vp = 0;
        if ((l[0] == ' ' || l[0] == '\t') && !p.fields.empty()) {
            p.fields.back().last = i;
            p.fields.back().value.append(l);
        } else if (field_line(l, name, vp)) {
            p.fields.push_back(Field{name, i, i, std::string(l.substr(vp))});
        } else {
            break;
        }
    }
    p.body_line = i;
    for (Field &f : p.fields) {
        std::size_t b = 0;
        while (b < f.value.size() && (f.value[b] == ' ' || f.value[b] == '\t')) ++b;
        f.value.erase(0, b);
    }
    return p;
}

inline bool is_bcc(std::string_view name) { return eq_nocase(name, "Bcc") || eq_nocase(name, "Resent-Bcc"); }

// What must reach the server, normalised: the message's lines minus every Bcc and Resent-Bcc field
// (with its continuation lines), each line ended by CRLF (an empty result: one CRLF).
inline std::string expected_without_bcc(std::string_view msg) {
    std::string norm = normalise(msg);
    std::vector<std::string_view> ls = lines(norm);
    Parsed p = parse(ls);
    std::vector<bool> drop(ls.size());
    for (const Field &f : p.fields)
        if (is_bcc(f.name))
            for (std::size_t i = f.first; i <= f.last; ++i) drop[i] = true;
    std::string out;
    for (std::size_t i = 0; i < ls.size(); ++i)
        if (!drop[i]) out.append(ls[i]).append("\r\n");
    if (out.empty()) out = "\r\n";
    return out;
}

// An un-stuffing reader of a DATA stream, as a server reads it (RFC 5321 4.5.2). False when it is not
// well formed: a bare CR or LF, a "." line before the end, no terminator, bytes after it.
inline bool unstuff(std::string_view wire, std::string &message, std::string &why) {
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
            why = "bare CR or LF in the line at offset " + std::to_string(pos);
            return false;
        }
        pos = eol + 2;
        if (line == ".") {
            if (pos != wire.size()) {
                why = "a \".\" line before the end";
                return false;
            }
            return true;
        }
        if (!line.empty() && line.front() == '.') line.remove_prefix(1);
        message.append(line).append("\r\n");
    }
}

// The name of a Bcc or Resent-Bcc field in the header section of normalised text, or "" when none.
inline std::string bcc_in_header_section(std::string_view normalised) {
    std::vector<std::string_view> ls = lines(normalised);
    for (const Field &f : parse(ls).fields)
        if (is_bcc(f.name)) return f.name;
    return {};
}

}  // namespace msgref
