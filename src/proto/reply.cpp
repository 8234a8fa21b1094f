// SPDX-License-Identifier: MIT
#include "reply.hpp"

#include <cstring>

namespace smtpc::detail {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view strip_blanks(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Length of a run of 1 to 3 digits at the start of s (0 when there is none or more than 3).
std::size_t digit_run(std::string_view s) {
    std::size_t n = 0;
    while (n < s.size() && is_digit(s[n])) ++n;
    return n <= 3 ? n : 0;
}

// RFC 3463: class "." subject "." detail, followed by a space or the end of the line.
std::string parse_enhanced(int code, std::string_view text) {
    if (text.size() < 5 || text[0] != static_cast<char>('0' + code / 100) || text[1] != '.') return {};
    std::size_t pos = 2;
    std::size_t n = digit_run(text.substr(pos));
    if (n == 0 || pos + n >= text.size() || text[pos + n] != '.') return {};
    pos += n + 1;
    n = digit_run(text.substr(pos));
    if (n == 0) return {};
    pos += n;
    if (pos != text.size() && text[pos] != ' ') return {};
    return std::string(text.substr(0, pos));
}

}  // namespace

void finish_reply(Reply &reply) {
    reply.text.clear();
    for (std::size_t i = 0; i < reply.lines.size(); ++i) {
        if (i) reply.text.push_back('\n');
        reply.text.append(strip_blanks(reply.lines[i]));
    }
    reply.enhanced = reply.lines.empty() ? std::string() : parse_enhanced(reply.code, reply.lines.front());
}

void ReplyParser::reset() {
    line_.clear();
    saw_cr_ = false;
    current_ = Reply();
    reply_bytes_ = 0;
    error_.clear();
}

ReplyParser::Result ReplyParser::fail(std::string msg) {
    error_ = std::move(msg);
    return Result::Error;
}

Reply ReplyParser::take_reply() {
    Reply out = std::move(current_);
    current_ = Reply();
    reply_bytes_ = 0;
    return out;
}

ReplyParser::Result ReplyParser::feed(const char *data, std::size_t len, std::size_t &consumed) {
    consumed = 0;
    if (!error_.empty()) return Result::Error;
    while (consumed < len) {
        if (saw_cr_) {
            if (data[consumed] != '\n') return fail("bare CR in reply");
            ++consumed;
            saw_cr_ = false;
            Result r = end_line();
            if (r != Result::NeedMore) return r;
            continue;
        }
        // Copy the run of ordinary bytes up to the next CR, LF or NUL in one step.
        const char *p = data + consumed;
        std::size_t n = 0, avail = len - consumed;
        while (n < avail && p[n] != '\r' && p[n] != '\n' && p[n] != '\0') ++n;
        if (line_.size() + n + 2 > limits_.max_line)
            return fail("reply line longer than " + std::to_string(limits_.max_line) + " octets");
        line_.append(p, n);
        consumed += n;
        if (n == avail) break;
        char c = p[n];
        ++consumed;
        if (c == '\0') return fail("NUL in reply");
        if (c == '\n') return fail("bare LF in reply");
        saw_cr_ = true;
    }
    return Result::NeedMore;
}

ReplyParser::Result ReplyParser::end_line() {
    // The line is judged in place and cleared on every way out: line_ keeps its capacity from one
    // line to the next (moving it out cost an allocation per line).
    struct ClearOnExit {
        std::string &s;
        ~ClearOnExit() { s.clear(); }
    } clear_on_exit{line_};
    std::string &line = line_;
    reply_bytes_ += line.size() + 2;
    if (on_line_) {
        line.append("\r\n");
        on_line_(line);
        line.resize(line.size() - 2);
    }
    if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) || line[0] < '2' ||
        line[0] > '5')
        return fail("malformed reply line (no valid code 200-599)");
    if (line.size() > 3 && line[3] != ' ' && line[3] != '-')
        return fail("malformed reply line (bad separator)");
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (!current_.lines.empty() && code != current_.code)
        return fail("multiline reply with mismatched codes " + std::to_string(current_.code) + " and " +
                    std::to_string(code));
    if (current_.lines.size() >= limits_.max_lines)
        return fail("reply has more than " + std::to_string(limits_.max_lines) + " lines");
    if (reply_bytes_ > limits_.max_reply)
        return fail("reply longer than " + std::to_string(limits_.max_reply) + " octets");
    current_.code = code;
    bool last = line.size() == 3 || line[3] == ' ';
    if (line.size() > 4) current_.lines.emplace_back(line, 4);
    else current_.lines.emplace_back();
    if (!last) return Result::NeedMore;
    finish_reply(current_);
    return Result::Complete;
}

}  // namespace smtpc::detail
