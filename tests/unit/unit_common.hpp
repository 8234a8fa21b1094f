// SPDX-License-Identifier: MIT
// Shared helpers for the cmocka unit tests of the sans-IO core (tests/unit/).
//
// cmocka's assert_string_equal stops at a NUL and cannot show CR/LF, so byte strings are compared
// with EXPECT_BYTES, which prints both sides with control bytes escaped.
#pragma once

#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

// cmocka.h has no extern "C" block of its own.
extern "C" {
#include <cmocka.h>
}

namespace unit {

// The bytes of s with CR, LF, NUL and other non-printable bytes escaped, for failure messages.
inline std::string escaped(std::string_view s, std::size_t cap = 400) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (char ch : s) {
        if (out.size() >= cap) {
            out.append("...(" + std::to_string(s.size()) + " bytes)");
            break;
        }
        auto c = static_cast<unsigned char>(ch);
        if (c == '\r') out.append("\\r");
        else if (c == '\n') out.append("\\n");
        else if (c == '\t') out.append("\\t");
        else if (c == '\\') out.append("\\\\");
        else if (c == '"') out.append("\\\"");
        else if (c < 0x20 || c >= 0x7f) out.append("\\x").append(1, hex[c >> 4]).append(1, hex[c & 15]);
        else out.push_back(ch);
    }
    return out;
}

inline void check_bytes(std::string_view actual, std::string_view expected, const char *what,
                        const char *file, int line) {
    if (actual == expected) return;
    print_error("%s differs\n  actual:   \"%s\" (%zu bytes)\n  expected: \"%s\" (%zu bytes)\n", what,
                escaped(actual).c_str(), actual.size(), escaped(expected).c_str(), expected.size());
    _fail(file, line);
}

}  // namespace unit

// Compare two byte strings (std::string / std::string_view / literals built with SV()).
#define EXPECT_BYTES(actual, expected) unit::check_bytes((actual), (expected), #actual, __FILE__, __LINE__)

// A string literal as a std::string_view that keeps embedded NUL bytes.
#define SV(lit) std::string_view((lit), sizeof(lit) - 1)
