// SPDX-License-Identifier: MIT
// Helpers shared by the fuzz targets.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// An oracle failed: print why and abort, so libFuzzer saves the input as a crash.
#define FUZZ_CHECK(cond, ...)                                                                    \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                                                   \
            std::fputc('\n', stderr);                                                            \
            std::abort();                                                                        \
        }                                                                                        \
    } while (0)

namespace fuzz {

// Cycles through chunk lengths given by the input; a length byte of 0 means 1.
class Chunker {
  public:
    Chunker() = default;
    Chunker(const unsigned char *lens, std::size_t n) : lens_(lens), n_(n) {}
    std::size_t next() {
        if (n_ == 0) return 1;
        std::size_t v = lens_[i_++ % n_];
        return v ? v : 1;
    }

  private:
    const unsigned char *lens_ = nullptr;
    std::size_t n_ = 0;
    std::size_t i_ = 0;
};

// True when every CR is followed by LF and every LF preceded by CR.
inline bool no_bare_cr_lf(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n')) return false;
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
    }
    return true;
}

// Printable excerpt of bytes for an oracle message.
inline std::string escape(std::string_view s, std::size_t max = 200) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < s.size() && i < max; ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') out.push_back(static_cast<char>(c));
        else out.append("\\x").append(1, hex[c >> 4]).append(1, hex[c & 15]);
    }
    if (s.size() > max) out.append("...");
    return out;
}

}  // namespace fuzz
