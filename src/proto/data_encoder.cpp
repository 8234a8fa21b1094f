#include "data_encoder.hpp"

namespace smtpc::detail {

void DataEncoder::encode(const char *data, std::size_t len, std::string &out) {
    if (len == 0) return;
    any_ = true;
    std::size_t i = 0;
    while (i < len) {
        if (pending_cr_) {
            pending_cr_ = false;
            out.append("\r\n", 2);
            line_start_ = true;
            if (data[i] == '\n') {
                ++i;
                continue;
            }
        }
        if (line_start_ && data[i] == '.') out.push_back('.');
        std::size_t j = i;
        while (j < len && data[j] != '\r' && data[j] != '\n') ++j;
        if (j > i) {
            out.append(data + i, j - i);
            line_start_ = false;
        }
        if (j == len) break;
        if (data[j] == '\n') {
            out.append("\r\n", 2);
            line_start_ = true;
        } else {
            pending_cr_ = true;  // decided by the next byte, which may be in the next block
        }
        i = j + 1;
    }
}

void DataEncoder::finish(std::string &out) {
    if (pending_cr_) {
        pending_cr_ = false;
        out.append("\r\n", 2);
        line_start_ = true;
    }
    if (!line_start_ || !any_) out.append("\r\n", 2);  // smtplib also ends an empty message with CRLF
    out.append(".\r\n", 3);
    line_start_ = true;
}

std::uint64_t DataEncoder::normalized_size(const char *data, std::size_t len) {
    return normalized_size(std::vector<std::string_view>{std::string_view(data, len)});
}

std::uint64_t DataEncoder::normalized_size(const std::vector<std::string_view> &pieces) {
    std::uint64_t size = 0;
    bool after_cr = false;  // the previous byte was a CR (possibly at the end of the previous piece)
    char last = '\0';
    for (std::string_view p : pieces) {
        size += p.size();
        for (char c : p) {
            if (after_cr && c != '\n') ++size;  // the lone CR before gains an LF
            if (c == '\n' && !after_cr) ++size;  // lone LF gains a CR
            after_cr = c == '\r';
        }
        if (!p.empty()) last = p.back();
    }
    if (after_cr) ++size;
    if (size == 0 || (last != '\n' && last != '\r')) size += 2;  // final CRLF added
    return size;
}

}  // namespace smtpc::detail
