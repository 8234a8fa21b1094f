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
    std::uint64_t size = len;
    for (std::size_t i = 0; i < len; ++i) {
        if (data[i] == '\r') {
            if (i + 1 < len && data[i + 1] == '\n') ++i;
            else ++size;  // lone CR gains an LF
        } else if (data[i] == '\n') {
            ++size;  // lone LF gains a CR
        }
    }
    bool ends_with_eol = len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r');
    if (!ends_with_eol) size += 2;
    return size;
}

}  // namespace smtpc::detail
