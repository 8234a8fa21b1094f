#include "headers.hpp"

#include "../proto/command.hpp"

namespace smtpc::detail {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::string_view line_content(std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    return line;
}

// A field name is one or more printable ASCII characters other than ':' (RFC 5322 section 3.6.8).
bool field_name(std::string_view line, std::string_view &name) {
    std::size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    for (std::size_t i = 0; i < colon; ++i) {
        auto c = static_cast<unsigned char>(line[i]);
        if (c <= 32 || c >= 127) return false;
    }
    name = line.substr(0, colon);
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
    std::string_view v = raw.substr(name.size() + 1);
    std::string out;
    out.reserve(v.size());
    for (char c : v)
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

MessageHeaders parse_headers(std::string_view msg) {
    MessageHeaders h;
    std::size_t pos = 0;
    while (pos < msg.size()) {
        std::size_t nl = msg.find('\n', pos);
        std::size_t end = nl == std::string_view::npos ? msg.size() : nl + 1;
        std::string_view line = msg.substr(pos, end - pos);
        if (line_content(line).empty()) {  // the blank line that ends the header section
            pos = end;
            break;
        }
        std::string_view name;
        if (is_wsp(line[0]) && !h.fields.empty()) {
            HeaderField &f = h.fields.back();  // a continuation line: extend the field
            f.raw = msg.substr(f.raw.data() - msg.data(), end - static_cast<std::size_t>(f.raw.data() - msg.data()));
        } else if (field_name(line, name)) {
            h.fields.push_back(HeaderField{name, line});
        } else {
            break;  // not a header: the body starts here (no blank line)
        }
        pos = end;
    }
    h.body_offset = pos;
    return h;
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
