// SPDX-License-Identifier: MIT
// The ESMTP feature map read from an EHLO/LHLO reply, with smtplib's parsing rules: keywords lower-cased,
// parameters stripped, "AUTH=..." (the old form) merged into AUTH, AUTH lines accumulated.
#pragma once

#include "reply.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smtpc::detail {

class Features {
  public:
    void clear() { items_.clear(); }
    void parse(const Reply &ehlo_reply);

    bool has(std::string_view keyword) const { return find(keyword) != nullptr; }
    // Parameters of `keyword`, or nullptr when absent.
    const std::string *params(std::string_view keyword) const;
    std::size_t size() const { return items_.size(); }
    const std::pair<std::string, std::string> &at(std::size_t i) const { return items_[i]; }

  private:
    const std::pair<std::string, std::string> *find(std::string_view keyword) const;
    std::string &slot(const std::string &keyword);

    std::vector<std::pair<std::string, std::string>> items_;  // in first-listed order; keys lower case
};

}  // namespace smtpc::detail
