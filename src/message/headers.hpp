// RFC 5322 message headers, as send_message needs them: the header fields (with their exact bytes, so
// that some can be left out when sending) and address lists reduced to their addr-specs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace smtpc::detail {

struct HeaderField {
    std::string_view name;  // as written
    std::string_view raw;   // the whole field: first line, continuation lines, line ends
    std::string value() const;  // unfolded value after the colon
};

struct MessageHeaders {
    std::vector<HeaderField> fields;
    std::size_t body_offset = 0;  // where the header section (and its blank line, if any) ends

    // Every field named `name` (case-insensitive), in order.
    std::vector<const HeaderField *> all(std::string_view name) const;
    const HeaderField *first(std::string_view name) const;
};

// Splits the header section off `msg`. Lines end in LF or CRLF; a line that is neither a field nor a
// continuation ends the header section, as does the first empty line.
MessageHeaders parse_headers(std::string_view msg);

// The addr-specs of an RFC 5322 address list: display names, comments, groups, quoted local parts,
// angle brackets and obsolete routes are understood; empty entries (an empty group) are skipped.
std::vector<std::string> parse_address_list(std::string_view value);

}  // namespace smtpc::detail
