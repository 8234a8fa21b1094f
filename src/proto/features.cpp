// SPDX-License-Identifier: MIT
#include "features.hpp"

#include "command.hpp"

namespace smtpc::detail {

namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

std::string_view strip(std::string_view s) {
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

}  // namespace

const std::pair<std::string, std::string> *Features::find(std::string_view keyword) const {
    for (const auto &item : items_)
        if (iequals(item.first, keyword)) return &item;
    return nullptr;
}

const std::string *Features::params(std::string_view keyword) const {
    const auto *item = find(keyword);
    return item ? &item->second : nullptr;
}

std::string &Features::slot(const std::string &keyword) {
    for (auto &item : items_)
        if (item.first == keyword) return item.second;
    items_.emplace_back(keyword, std::string());
    return items_.back().second;
}

void Features::parse(const Reply &reply) {
    items_.clear();
    // The first line is the greeting part ("250-host Hello"); extensions follow, one per line.
    for (std::size_t i = 1; i < reply.lines.size(); ++i) {
        std::string_view line = strip(reply.lines[i]);
        if (line.size() >= 5 && iequals(line.substr(0, 5), "auth=")) {
            slot("auth").append(" ").append(line.substr(5));
            continue;
        }
        if (line.empty() || !is_alnum(line[0])) continue;
        std::size_t end = 1;
        while (end < line.size() && (is_alnum(line[end]) || line[end] == '-')) ++end;
        std::string keyword(line.substr(0, end));
        for (char &c : keyword) c = ascii_lower(c);
        std::string params(strip(line.substr(end)));
        if (keyword == "auth") slot(keyword).append(" ").append(params);
        else slot(keyword) = std::move(params);
    }
}

}  // namespace smtpc::detail
