// SPDX-License-Identifier: MIT
// Replies and the incremental reply parser (RFC 5321 section 4.2).
//
// The parser is sans-IO: bytes go in, complete replies come out. It gives the same result whether a
// reply arrives in one piece or one byte at a time, and its memory is bounded by Limits.
#pragma once

#include "smtpc.h"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

// The public opaque type, completed here: the engine works with it directly, so a borrowed
// `const smtpc_reply *` handed to C callers needs no conversion.
struct smtpc_reply {
    int code = 0;
    std::string enhanced;            // "2.1.0" or empty
    std::vector<std::string> lines;  // text after "NNN-"/"NNN " without CRLF, as received
    std::string text;                // lines stripped of blanks and joined with '\n' (smtplib)
};

namespace smtpc::detail {

using Reply = ::smtpc_reply;

struct ReplyLimits {
    std::size_t max_line = 4096;        // octets per line including CRLF (RFC minimum is 512)
    std::size_t max_lines = 1000;       // lines per reply
    std::size_t max_reply = 64 * 1024;  // octets per reply
};

// Builds the derived fields (text, enhanced) once code and lines are set.
void finish_reply(Reply &reply);

class ReplyParser {
  public:
    enum class Result { NeedMore, Complete, Error };

    explicit ReplyParser(ReplyLimits limits = {}) : limits_(limits) {}

    // Consumes bytes from `data` until a whole reply is complete, an error is found, or the input is
    // used up. `consumed` gets the number of bytes taken. On Result::Complete, take_reply() gives it.
    // When a line is complete, on_line (if set) is called with it, CRLF included.
    Result feed(const char *data, std::size_t len, std::size_t &consumed);

    Reply take_reply();
    const std::string &error() const { return error_; }
    // True while part of a reply has been received but not all of it.
    bool mid_reply() const { return !line_.empty() || !current_.lines.empty(); }
    void reset();

    template <class F> void set_line_observer(F &&f) { on_line_ = std::forward<F>(f); }

  private:
    Result fail(std::string msg);
    Result end_line();  // called with a complete line (without CRLF) in line_

    ReplyLimits limits_;
    std::string line_;  // the line being received, without its CR
    bool saw_cr_ = false;
    Reply current_;
    std::size_t reply_bytes_ = 0;
    std::string error_;
    std::function<void(std::string_view)> on_line_;
};

}  // namespace smtpc::detail
