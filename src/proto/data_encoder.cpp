// SPDX-License-Identifier: MIT
#include "data_encoder.hpp"

#include "../util/wipe.hpp"

#include <cstring>

namespace smtpc::detail {

template <class Out> void DataEncoder::encode(const char *data, std::size_t len, Out &out) {
    if (len == 0) return;
    any_ = true;
    std::size_t i = 0;
    std::size_t next_lf = 0;  // position of the next LF at or after i (len: none), once looked up
    bool lf_known = false;
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
        if (line_start_ && data[i] == '.' && !chunked_) out.push_back('.');
        // The run up to the next CR or LF, found with memchr (vectorised in the C library). The next LF
        // is remembered, so that a block full of lone CRs is still scanned once, not once per CR.
        if (!lf_known || next_lf < i) {
            lf_known = true;
            const void *lf = std::memchr(data + i, '\n', len - i);
            next_lf = lf ? static_cast<std::size_t>(static_cast<const char *>(lf) - data) : len;
        }
        const void *cr = std::memchr(data + i, '\r', next_lf - i);
        std::size_t j = cr ? static_cast<std::size_t>(static_cast<const char *>(cr) - data) : next_lf;
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

template <class Out> void DataEncoder::finish(Out &out) {
    if (pending_cr_) {
        pending_cr_ = false;
        out.append("\r\n", 2);
        line_start_ = true;
    }
    if (chunked_) {
        if (!line_start_) out.append("\r\n", 2);
        return;
    }
    if (!line_start_ || !any_) out.append("\r\n", 2);  // smtplib also ends an empty message with CRLF
    out.append(".\r\n", 3);
    line_start_ = true;
}

template void DataEncoder::encode(const char *, std::size_t, std::string &);
template void DataEncoder::finish(std::string &);
template void DataEncoder::encode(const char *, std::size_t, WipingString &);
template void DataEncoder::finish(WipingString &);

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
            if (after_cr && c != '\n') ++size;   // the lone CR before gains an LF
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
