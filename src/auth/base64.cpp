// SPDX-License-Identifier: MIT
#include "base64.hpp"

namespace smtpc::detail {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value_of(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

template <class Out> void encode(std::string_view in, Out &out) {
    out.reserve(out.size() + (in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(in[k])); };
    for (; i + 3 <= in.size(); i += 3) {
        unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        out.push_back(kAlphabet[v >> 18 & 63]);
        out.push_back(kAlphabet[v >> 12 & 63]);
        out.push_back(kAlphabet[v >> 6 & 63]);
        out.push_back(kAlphabet[v & 63]);
    }
    if (i + 1 == in.size()) {
        unsigned v = byte(i) << 16;
        out.push_back(kAlphabet[v >> 18 & 63]);
        out.push_back(kAlphabet[v >> 12 & 63]);
        out.append("==");
    } else if (i + 2 == in.size()) {
        unsigned v = byte(i) << 16 | byte(i + 1) << 8;
        out.push_back(kAlphabet[v >> 18 & 63]);
        out.push_back(kAlphabet[v >> 12 & 63]);
        out.push_back(kAlphabet[v >> 6 & 63]);
        out.push_back('=');
    }
}

template <class Out> bool decode(std::string_view in, Out &out) {
    out.clear();
    if (in.size() % 4 != 0) return false;
    out.reserve(in.size() / 4 * 3);
    for (std::size_t i = 0; i < in.size(); i += 4) {
        bool last = i + 4 == in.size();
        int a = value_of(in[i]), b = value_of(in[i + 1]);
        if (a < 0 || b < 0) return false;
        char c3 = in[i + 2], c4 = in[i + 3];
        if (last && c3 == '=' && c4 == '=') {
            if (b & 15) return false;  // non-canonical trailing bits
            out.push_back(static_cast<char>(a << 2 | b >> 4));
            return true;
        }
        int c = value_of(c3);
        if (c < 0) return false;
        if (last && c4 == '=') {
            if (c & 3) return false;
            out.push_back(static_cast<char>(a << 2 | b >> 4));
            out.push_back(static_cast<char>((b & 15) << 4 | c >> 2));
            return true;
        }
        int d = value_of(c4);
        if (d < 0) return false;
        out.push_back(static_cast<char>(a << 2 | b >> 4));
        out.push_back(static_cast<char>((b & 15) << 4 | c >> 2));
        out.push_back(static_cast<char>((c & 3) << 6 | d));
    }
    return true;
}

}  // namespace

std::string base64_encode(std::string_view in) {
    std::string out;
    encode(in, out);
    return out;
}

void base64_encode(std::string_view in, WipingString &out) { encode(in, out); }

bool base64_decode(std::string_view in, std::string &out) { return decode(in, out); }

bool base64_decode(std::string_view in, WipingString &out) {
    if (decode(in, out)) return true;
    wipe(out);  // a partial decoding is no more public than a whole one
    return false;
}

}  // namespace smtpc::detail
