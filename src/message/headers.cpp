// SPDX-License-Identifier: MIT
#include "headers.hpp"

#include "../proto/command.hpp"

namespace smtpc::detail {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// A field name is one or more printable ASCII characters other than ':' (RFC 5322 section 3.6.8); the
// obsolete syntax (section 4.5.3) allows white space between it and the colon. Sets the name and the
// offset just after the colon.
bool field_name(std::string_view line, std::string_view &name, std::size_t &value_pos) {
    std::size_t i = 0;
    while (i < line.size()) {
        auto c = static_cast<unsigned char>(line[i]);
        if (c <= 32 || c >= 127 || c == ':') break;
        ++i;
    }
    if (i == 0) return false;
    std::size_t colon = i;
    while (colon < line.size() && is_wsp(line[colon])) ++colon;
    if (colon == line.size() || line[colon] != ':') return false;
    name = line.substr(0, i);
    value_pos = colon + 1;
    return true;
}

// Strips comments and the white space outside quoted strings from an addr-spec.
std::string clean_addr_spec(std::string_view s) {
    std::string out;
    int depth = 0;
    bool quoted = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quoted) {
            out.push_back(c);
            if (c == '\\' && i + 1 < s.size()) out.push_back(s[++i]);
            else if (c == '"') quoted = false;
        } else if (depth > 0) {
            if (c == '\\') ++i;
            else if (c == '(') ++depth;
            else if (c == ')') --depth;
        } else if (c == '(') {
            depth = 1;
        } else if (c == '"') {
            quoted = true;
            out.push_back(c);
        } else if (!is_wsp(c) && c != '\r' && c != '\n') {
            out.push_back(c);
        }
    }
    // An obsolete route ("@a,@b:user@d") is not part of the mailbox.
    if (!out.empty() && out.front() == '@') {
        std::size_t colon = out.find(':');
        if (colon != std::string::npos) out.erase(0, colon + 1);
    }
    return out;
}

}  // namespace

std::string HeaderField::value() const {
    std::string_view v = raw.substr(value_pos);
    std::string out;
    out.reserve(v.size());
    for (char c : v)  // unfolding: every line end goes (each one is followed by white space)
        if (c != '\r' && c != '\n') out.push_back(c);
    std::size_t b = 0;
    while (b < out.size() && is_wsp(out[b])) ++b;
    return out.substr(b);
}

std::vector<const HeaderField *> MessageHeaders::all(std::string_view name) const {
    std::vector<const HeaderField *> out;
    for (const auto &f : fields)
        if (iequals(f.name, name)) out.push_back(&f);
    return out;
}

const HeaderField *MessageHeaders::first(std::string_view name) const {
    for (const auto &f : fields)
        if (iequals(f.name, name)) return &f;
    return nullptr;
}

std::size_t line_length(std::string_view text, std::size_t pos, std::size_t *eol) {
    std::size_t e = text.find_first_of("\r\n", pos);
    if (e == std::string_view::npos) {
        *eol = 0;
        return text.size() - pos;
    }
    *eol = text[e] == '\r' && e + 1 < text.size() && text[e + 1] == '\n' ? 2 : 1;
    return e - pos + *eol;
}

MessageHeaders parse_headers(std::string_view msg) {
    MessageHeaders h;
    std::size_t pos = 0;
    while (pos < msg.size()) {
        std::size_t eol = 0;
        std::size_t len = line_length(msg, pos, &eol);
        std::string_view line = msg.substr(pos, len);
        if (len == eol) {  // the blank line that ends the header section
            pos += len;
            break;
        }
        std::string_view name;
        std::size_t value_pos = 0;
        if (is_wsp(line[0]) && !h.fields.empty()) {
            HeaderField &f = h.fields.back();  // a continuation line: extend the field
            f.raw = std::string_view(f.raw.data(), f.raw.size() + len);
            f.eol = eol;
        } else if (field_name(line, name, value_pos)) {
            h.fields.push_back(HeaderField{name, line, value_pos, eol});
        } else {
            break;  // not a header: the body starts here (no blank line)
        }
        pos += len;
    }
    h.body_offset = pos;
    return h;
}

std::vector<std::string_view> without_fields(std::string_view msg, const MessageHeaders &h,
                                             const std::vector<const HeaderField *> &drop) {
    const HeaderField *base = h.fields.data();
    std::vector<bool> dropped(h.fields.size());
    for (const HeaderField *f : drop) dropped[static_cast<std::size_t>(f - base)] = true;
    auto offset = [&](std::size_t i) {
        return static_cast<std::size_t>(h.fields[i].raw.data() - msg.data());
    };
    auto content_end = [&](std::size_t i) { return offset(i) + h.fields[i].raw.size() - h.fields[i].eol; };

    // A run of dropped fields i..j goes with the line end before it (field i-1's), and field j's line
    // end takes that one's place: field i-1's last line then ends as field j's did, and the line after
    // follows it just as it followed field j. Cutting each field with its own line end instead would
    // join a lone CR before the run to an LF after it ("a\rBcc: b\n\nbody": the CR and the blank
    // line's LF would make one CRLF, and the body would become part of the header section). A run at
    // the start of the message goes with its own line end, as nothing comes before it.
    std::vector<std::string_view> pieces;
    std::size_t from = 0;
    for (std::size_t i = 0; i < h.fields.size(); ++i) {
        if (!dropped[i]) continue;
        std::size_t j = i;
        while (j + 1 < h.fields.size() && dropped[j + 1]) ++j;
        std::size_t cut = i == 0 ? 0 : content_end(i - 1);
        std::size_t resume = i == 0 ? offset(j) + h.fields[j].raw.size() : content_end(j);
        if (cut > from) pieces.push_back(msg.substr(from, cut - from));
        from = resume;
        i = j;
    }
    pieces.push_back(msg.substr(from));
    return pieces;
}

Check prepare_message(std::string_view msg, const Envelope *given, OutgoingMessage &out) {
    MessageHeaders headers = parse_headers(msg);
    std::size_t resent_blocks = headers.all("Resent-Date").size();
    if (resent_blocks > 1) return Check::invalid("the message has more than one Resent- header block");
    std::string prefix = resent_blocks == 1 ? "Resent-" : "";

    Envelope &env = out.envelope;
    env = Envelope{};
    if (given) {
        env.mail_options = given->mail_options;
        env.rcpt_options = given->rcpt_options;
    }
    if (given && given->sender_set) {
        env.sender = given->sender;
    } else {
        const HeaderField *field = headers.first(prefix + "Sender");
        if (!field) field = headers.first(prefix + "From");
        if (!field)
            return Check::invalid("the message has no " + prefix + "From or " + prefix + "Sender field");
        std::vector<std::string> addrs = parse_address_list(field->value());
        if (addrs.empty()) return Check::invalid("no address in the " + std::string(field->name) + " field");
        if (Check c = parse_address(addrs.front(), true, env.sender); !c)
            return {c.status, std::string(field->name) + " field: " + c.message};
    }
    if (given && !given->recipients.empty()) {
        env.recipients = given->recipients;
    } else {
        for (const char *name : {"To", "Bcc", "Cc"})
            for (const HeaderField *field : headers.all(prefix + name))
                for (const std::string &a : parse_address_list(field->value())) {
                    Address addr;
                    if (Check c = parse_address(a, false, addr); !c)
                        return {c.status, std::string(field->name) + " field: " + c.message};
                    env.recipients.push_back(std::move(addr));
                }
        if (env.recipients.empty())
            return Check::invalid("no recipient in the " + prefix + "To, Bcc or Cc fields");
    }

    // Bcc and Resent-Bcc are never transmitted, whichever block the envelope came from.
    std::vector<const HeaderField *> drop;
    for (const HeaderField &f : headers.fields)
        if (iequals(f.name, "Bcc") || iequals(f.name, "Resent-Bcc")) drop.push_back(&f);
    out.pieces = without_fields(msg, headers, drop);
    return {};
}

std::vector<std::string> parse_address_list(std::string_view value) {
    std::vector<std::string> out;
    std::string_view s = value;
    std::size_t start = 0;
    int depth = 0;
    bool quoted = false, angle = false;
    std::size_t angle_start = 0, angle_end = 0;
    bool have_angle = false;
    auto finish = [&](std::size_t end) {
        std::string addr = have_angle ? clean_addr_spec(s.substr(angle_start, angle_end - angle_start))
                                      : clean_addr_spec(s.substr(start, end - start));
        if (!addr.empty()) out.push_back(std::move(addr));
        have_angle = false;
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quoted) {
            if (c == '\\') ++i;
            else if (c == '"') quoted = false;
            continue;
        }
        if (depth > 0) {
            if (c == '\\') ++i;
            else if (c == '(') ++depth;
            else if (c == ')') --depth;
            continue;
        }
        if (angle) {
            if (c == '>') {
                angle = false;
                angle_end = i;
                have_angle = true;
            }
            continue;
        }
        switch (c) {
        case '"': quoted = true; break;
        case '(': depth = 1; break;
        case '<':
            angle = true;
            angle_start = i + 1;
            break;
        case ':':  // a group's display name ends here; its members follow
            start = i + 1;
            have_angle = false;
            break;
        case ',':
        case ';':
            finish(i);
            start = i + 1;
            break;
        default: break;
        }
    }
    if (angle) {  // unterminated angle bracket: take what there is
        angle_end = s.size();
        have_angle = true;
    }
    finish(s.size());
    return out;
}

}  // namespace smtpc::detail
