// SPDX-License-Identifier: MIT
// The C facade's plumbing: the client handle, argument conversion, and the one place where C++
// exceptions are turned into status codes so that none crosses the C boundary, and where a call
// made from inside one of the handle's own callbacks is refused.
#pragma once

#include "../client/client.hpp"

#include <cstring>
#include <new>
#include <string_view>

struct smtpc_client {
    explicit smtpc_client(smtpc_protocol protocol) : impl(protocol) {}
    // Re-entry state (the "Callbacks" rule in smtpc.h). A handle is used by one thread at a time, so a
    // call that finds it busy can only come from a callback the running call made. Declared before
    // impl so that it outlives impl's destructor, whose close may still trace.
    bool busy = false;
    bool close_requested = false;  // smtpc_client_close() from a callback: done when the call returns
    bool free_requested = false;   // smtpc_client_free() from a callback: likewise
    // The caller's progress callback, called through a trampoline that also honours those requests.
    smtpc_progress_fn progress_fn = nullptr;
    void *progress_userdata = nullptr;
    // The operation's own callbacks (body reader, AUTH, token), for their trampolines: kept in the
    // handle, not on the stack, since in non-blocking mode the operation outlives the call.
    smtpc_read_fn read_fn = nullptr;
    void *read_userdata = nullptr;
    smtpc_auth_fn auth_fn = nullptr;
    void *auth_userdata = nullptr;
    smtpc_token_fn token_fn = nullptr;
    void *token_userdata = nullptr;
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

// For calls that take no client (envelopes, replies, TLS configurations): exceptions to statuses.
template <class F> smtpc_status guarded(smtpc_client *client, F &&f) noexcept {
    try {
        return f();
    } catch (...) {
        return translate_current_exception(client);
    }
}

// Ends a call on a client: carries out a close or free that one of its callbacks asked for. Returns
// `status`; after a requested free the handle no longer exists.
smtpc_status leave_client(smtpc_client *client, smtpc_status status) noexcept;

// Every status-returning call on a client goes through here: NULL is SMTPC_EINVAL; a call made while
// the handle is inside one of its own calls (that is, from a callback) is SMTPC_ESTATE and touches
// nothing, not even the error state the running call will report; otherwise f() runs with the handle
// marked busy and exceptions become statuses.
template <class F> smtpc_status client_call(smtpc_client *client, F &&f) noexcept {
    if (!client) return SMTPC_EINVAL;
    if (client->busy) return SMTPC_ESTATE;
    client->busy = true;
    smtpc_status st;
    try {
        st = f();
    } catch (...) {
        st = translate_current_exception(client);
    }
    return leave_client(client, st);
}

// True when a callback asked for the handle to be closed or freed: the callbacks that can abort the
// running operation (read, AUTH, token, progress) then do, so that nothing more is sent for a caller
// who gave up.
inline bool stop_requested(const smtpc_client *client) {
    return client->close_requested || client->free_requested;
}

// Records the outcome of an envelope call in its errmsg: "" for a success, else "<what>: <why>". An
// allocation failure while writing the message leaves it empty (the status still says ENOMEM).
inline smtpc_status env_record(smtpc_envelope *env, smtpc_status st, std::string_view what = {},
                               std::string_view why = {}) noexcept {
    try {
        env->errmsg.clear();
        if (st != SMTPC_OK) {
            env->errmsg.assign(what);
            if (!why.empty()) env->errmsg.append(": ").append(why);
        }
    } catch (...) {
        env->errmsg.clear();
    }
    return st;
}

// Every envelope call: a NULL envelope is SMTPC_EINVAL, exceptions become statuses, and the outcome is
// recorded in errmsg.
template <class F> smtpc_status env_call(smtpc_envelope *env, std::string_view what, F &&f) noexcept {
    if (!env) return SMTPC_EINVAL;
    try {
        return f();
    } catch (const std::bad_alloc &) {
        return env_record(env, SMTPC_ENOMEM, what, "out of memory");
    } catch (...) {
        return env_record(env, translate_current_exception(nullptr), what, "internal error");
    }
}

}  // namespace smtpc::detail
