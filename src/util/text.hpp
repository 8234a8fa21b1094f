// SPDX-License-Identifier: MIT
// Small ASCII text helpers shared by the protocol, SASL and TLS code.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace smtpc::detail {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Case-insensitive ASCII comparison.
bool iequals(std::string_view a, std::string_view b);

std::string ascii_upper(std::string_view s);

// Lower-case hexadecimal of n bytes.
std::string to_hex(const unsigned char *p, std::size_t n);

}  // namespace smtpc::detail
