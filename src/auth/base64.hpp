// SPDX-License-Identifier: MIT
// Strict base64 (RFC 4648, with padding) for SASL exchanges (RFC 4954).
#pragma once

#include "../util/wipe.hpp"

#include <string>
#include <string_view>

namespace smtpc::detail {

std::string base64_encode(std::string_view in);
// Appends the base64 of `in` to `out`: for credentials, whose encoding must not outlive them.
void base64_encode(std::string_view in, WipingString &out);
// False for anything but canonical base64: bad characters, bad length or padding, whitespace.
bool base64_decode(std::string_view in, std::string &out);
bool base64_decode(std::string_view in, WipingString &out);

}  // namespace smtpc::detail
