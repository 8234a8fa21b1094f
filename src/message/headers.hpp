// SPDX-License-Identifier: MIT
// RFC 5322 message headers, as send_message needs them: the header fields (with their exact bytes, so
// that some can be left out when sending) and address lists reduced to their addr-specs.
//
// Lines are split exactly as the DATA encoder (src/proto/data_encoder.hpp) will send them: CRLF, a
// lone CR and a lone LF each end a line. Whatever the encoder turns into a line of its own is a line
// here too, so a field hidden behind a lone CR ("Subject: x\rBcc: y") is seen as the field it becomes
// on the wire.
#pragma once

#include "../proto/transaction.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace smtpc::detail {

struct HeaderField {
    std::string_view name;      // as written, without the white space an obsolete field puts before the colon
    std::string_view raw;       // the whole field: first line, continuation lines, final line end
    std::size_t value_pos = 0;  // offset in raw just after the colon
    std::size_t eol = 0;        // length of raw's final line end (0: the message ends without one)
    std::string value() const;  // unfolded value after the colon
};

struct MessageHeaders {
    std::vector<HeaderField> fields;  // contiguous: each starts where the previous one ends, the first at 0
    std::size_t body_offset = 0;      // where the header section (and its blank line, if any) ends

    // Every field named `name` (case-insensitive), in order.
    std::vector<const HeaderField *> all(std::string_view name) const;
    const HeaderField *first(std::string_view name) const;
};

// The length of the line that starts at `pos`, its line end included; *eol is the length of that line
// end: 2 (CRLF), 1 (lone CR or lone LF) or 0 (the text ends without one). The DATA encoder's rule.
std::size_t line_length(std::string_view text, std::size_t pos, std::size_t *eol);

// Splits the header section off `msg`. A field is a name of printable ASCII but ':' (RFC 5322 3.6.8),
// optionally followed by white space (the obsolete syntax of 4.5.3, which MTAs still read as a
// field), then ':'; a line starting with white space continues the field before it. The first empty
// line ends the header section, and so does a line that is neither: the body starts there.
MessageHeaders parse_headers(std::string_view msg);

// The addr-specs of an RFC 5322 address list: display names, comments, groups, quoted local parts,
// angle brackets and obsolete routes are understood; empty entries (an empty group) are skipped.
std::vector<std::string> parse_address_list(std::string_view value);

// What smtplib's send_message() does before it sends, without the connection: the envelope parts
// the caller did not give come from the headers (the sender from (Resent-)Sender or (Resent-)From,
// the recipients from (Resent-)To, Bcc and Cc), and the message is sent minus its Bcc and
// Resent-Bcc fields. `pieces` point into `msg` (no copy); fed to the DATA encoder one after the
// other, they encode exactly as the message without those fields would.
struct OutgoingMessage {
    Envelope envelope;
    std::vector<std::string_view> pieces;
};
Check prepare_message(std::string_view msg, const Envelope *given, OutgoingMessage &out);

// The pieces of `msg` without the given fields (which must be among h.fields, in order).
std::vector<std::string_view> without_fields(std::string_view msg, const MessageHeaders &h,
                                             const std::vector<const HeaderField *> &drop);

}  // namespace smtpc::detail
