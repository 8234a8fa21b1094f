// The C facade's plumbing: the client handle, argument conversion, and the one place where C++
// exceptions are turned into status codes so that none crosses the C boundary.
#pragma once

#include "../client/client.hpp"

#include <cstring>
#include <new>
#include <string_view>

struct smtpc_client {
    explicit smtpc_client(smtpc_protocol protocol) : impl(protocol) {}
    smtpc::detail::Client impl;
};

namespace smtpc::detail {

// (pointer, length) to a view; SMTPC_NTS measures a NUL-terminated string. NULL is the empty string
// when the length is 0 or SMTPC_NTS; NULL with a length is invalid (returns false).
inline bool to_view(const char *p, std::size_t len, std::string_view &out) {
    if (!p) {
        out = {};
        return len == 0 || len == SMTPC_NTS;
    }
    out = len == SMTPC_NTS ? std::string_view(p) : std::string_view(p, len);
    return true;
}

// The int a C caller passed for an enum parameter. C allows any int there; in C++ a value outside the
// enumerators' range may not be loaded as the enum type, so it is read as raw bytes first.
template <class E> int enum_value(const E &e) {
    static_assert(sizeof(E) == sizeof(int), "C enums are int-sized on every supported ABI");
    int v;
    std::memcpy(&v, &e, sizeof v);
    return v;
}

// Records the exception in flight on the client (if any) and returns its status. The connection is
// dropped: an operation cut short by an exception leaves the session in an unknown state.
smtpc_status translate_current_exception(smtpc_client *client) noexcept;

template <class F> smtpc_status guarded(smtpc_client *client, F &&f) noexcept {
    try {
        return f();
    } catch (...) {
        return translate_current_exception(client);
    }
}

}  // namespace smtpc::detail
