// Strict base64 (RFC 4648, with padding) for SASL exchanges (RFC 4954).
#pragma once

#include <string>
#include <string_view>

namespace smtpc::detail {

std::string base64_encode(std::string_view in);
// False for anything but canonical base64: bad characters, bad length or padding, whitespace.
bool base64_decode(std::string_view in, std::string &out);

}  // namespace smtpc::detail
