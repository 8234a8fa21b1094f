// SPDX-License-Identifier: MIT
// The message body encoder for DATA (RFC 5321 sections 2.3.8 and 4.5.2).
//
// Streaming: the message may arrive in blocks split anywhere (even between CR and LF) and the output
// is the same as for the whole message at once. Lone CR and lone LF become CRLF, so no bare CR or LF
// ever reaches the wire (SMTP smuggling); a '.' starting a line is doubled; a final CRLF is added
// when missing, then the ".\r\n" terminator. For BDAT (RFC 3030) the line ends are normalised the
// same way, but there is no dot-stuffing and no terminator: the chunk sizes delimit the message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smtpc::detail {

class DataEncoder {
  public:
    void reset() { *this = DataEncoder(); }
    // BDAT mode: no dot-stuffing; finish() adds only the missing final CRLF (none for an empty message).
    void set_chunked(bool chunked) { chunked_ = chunked; }
    // Appends the encoding of data[0..len) to out (a std::string, or the engine's WipingString).
    template <class Out> void encode(const char *data, std::size_t len, Out &out);
    // Appends the missing final CRLF, if any, and the terminator (none in BDAT mode).
    template <class Out> void finish(Out &out);

    // The size of the message after line-end normalisation, before dot-stuffing: what SIZE declares.
    static std::uint64_t normalized_size(const char *data, std::size_t len);
    // The same for a message held in pieces (which may split a CRLF).
    static std::uint64_t normalized_size(const std::vector<std::string_view> &pieces);

  private:
    bool line_start_ = true;
    bool pending_cr_ = false;
    bool any_ = false;
    bool chunked_ = false;
};

}  // namespace smtpc::detail
