// SPDX-License-Identifier: MIT
// C facade: client sessions. Each entry point checks its handle and arguments, then calls the C++
// client inside client_call(), so that no exception escapes and no call re-enters a busy handle.
#include "guard.hpp"

using namespace smtpc::detail;

namespace {

smtpc_status bad_pair(smtpc_client *c) {
    return c->impl.record(SMTPC_EINVAL, "NULL pointer with a non-zero length");
}

// Calls f(view) after converting (p, len); an invalid pair is recorded on the client as SMTPC_EINVAL.
template <class F> smtpc_status with_view(smtpc_client *c, const char *p, size_t len, F &&f) {
    return client_call(c, [&] {
        std::string_view v;
        if (!to_view(p, len, v)) return bad_pair(c);
        return f(v);
    });
}

template <class F>
smtpc_status with_views(smtpc_client *c, const char *p1, size_t l1, const char *p2, size_t l2, F &&f) {
    return client_call(c, [&] {
        std::string_view v1, v2;
        if (!to_view(p1, l1, v1) || !to_view(p2, l2, v2)) return bad_pair(c);
        return f(v1, v2);
    });
}

// Closes and frees without calling back: the trace is switched off first, so that a finalizer of a
// garbage-collected language (which must not re-enter the language) may free a client.
void destroy(smtpc_client *c) noexcept {
    c->busy = true;
    c->impl.set_trace(0, nullptr, nullptr);
    try {
        c->impl.close();
    } catch (...) {
        // Only the trace of the close can throw (no memory for its text); the destructor finishes it.
    }
    delete c;
}

// The message source of sendmail_stream, with the user's callback inside: a close or free asked for
// by any callback during the transaction aborts it at the next block.
int read_trampoline(char *buf, size_t cap, size_t *len, void *userdata) {
    auto *c = static_cast<smtpc_client *>(userdata);
    int r = c->read_fn(buf, cap, len, c->read_userdata);
    return r == 0 && stop_requested(c) ? 1 : r;
}

// The progress callback: a close or free asked for by any callback withdraws the message at the
// next block (the progress callback is called before the end of data is queued).
int progress_trampoline(uint64_t sent, uint64_t total, void *userdata) {
    auto *c = static_cast<smtpc_client *>(userdata);
    int r = c->progress_fn(sent, total, c->progress_userdata);
    return r == 0 && stop_requested(c) ? 1 : r;
}

}  // namespace

namespace smtpc::detail {

smtpc_status leave_client(smtpc_client *client, smtpc_status status) noexcept {
    if (client->close_requested && !client->free_requested) {
        client->close_requested = false;
        try {
            client->impl.close_keeping_result();
            if (status != SMTPC_OK)
                client->impl.record(
                    status, client->impl.errmsg() +
                                "; connection closed: smtpc_client_close() was called from a callback");
        } catch (...) {
            // The connection is closed already; only the note could not be allocated.
        }
    }
    if (client->free_requested) {
        destroy(client);  // the trace callback of this close could ask again: it is busy, so that is ignored
        return status;
    }
    client->busy = false;
    return status;
}

}  // namespace smtpc::detail

extern "C" {

smtpc_status smtpc_client_new(smtpc_client **out, smtpc_protocol protocol) {
    if (!out) return SMTPC_EINVAL;
    *out = nullptr;
    int p = enum_value(protocol);
    if (p != SMTPC_PROTOCOL_SMTP && p != SMTPC_PROTOCOL_LMTP) return SMTPC_EINVAL;
    return guarded(nullptr, [&] {
        auto *c = new smtpc_client(protocol);
        // A close or free asked for by a callback aborts a queued message's reader at its next block.
        c->impl.set_stop_check(
            [](const void *h) { return stop_requested(static_cast<const smtpc_client *>(h)); }, c);
        *out = c;
        return SMTPC_OK;
    });
}

// Not through client_call(): it must work while the handle is busy, from another thread, a signal
// handler or a callback, so it touches nothing but the cancel signal (an atomic flag and a write()).
void smtpc_client_cancel(smtpc_client *client) {
    if (client) client->impl.cancel();
}

smtpc_status smtpc_client_set_progress(smtpc_client *client, smtpc_progress_fn fn, void *userdata) {
    return client_call(client, [&] {
        client->progress_fn = fn;
        client->progress_userdata = userdata;
        client->impl.set_progress(fn ? progress_trampoline : nullptr, client);
        return client->impl.record(SMTPC_OK);
    });
}

void smtpc_client_free(smtpc_client *client) {
    if (!client) return;
    if (client->busy) {
        client->free_requested = true;  // from a callback: freed when the running call returns
        return;
    }
    destroy(client);
}

smtpc_protocol smtpc_client_protocol(const smtpc_client *client) {
    return client ? client->impl.protocol() : SMTPC_PROTOCOL_SMTP;
}

const char *smtpc_client_errmsg(const smtpc_client *client) {
    return client ? client->impl.errmsg().c_str() : "";
}

smtpc_status smtpc_client_last_status(const smtpc_client *client) {
    return client ? client->impl.status() : SMTPC_EINVAL;
}

int smtpc_client_os_error(const smtpc_client *client) { return client ? client->impl.os_error() : 0; }

smtpc_status smtpc_client_set_local_hostname(smtpc_client *client, const char *name, size_t len) {
    return with_view(client, name, len,
                     [&](std::string_view v) { return client->impl.set_local_hostname(v); });
}

const char *smtpc_client_local_hostname(const smtpc_client *client) {
    return client ? client->impl.local_hostname().c_str() : "";
}

smtpc_status smtpc_client_set_connect_timeout(smtpc_client *client, uint32_t ms) {
    return client_call(client, [&] {
        client->impl.set_connect_timeout(ms);
        return client->impl.record(SMTPC_OK);
    });
}

smtpc_status smtpc_client_set_command_timeout(smtpc_client *client, uint32_t ms) {
    return client_call(client, [&] {
        client->impl.set_command_timeout(ms);
        return client->impl.record(SMTPC_OK);
    });
}

smtpc_status smtpc_client_set_source_address(smtpc_client *client, const char *host, size_t len,
                                             uint16_t port) {
    return with_view(client, host, len,
                     [&](std::string_view v) { return client->impl.set_source_address(v, port); });
}

smtpc_status smtpc_client_set_pipelining(smtpc_client *client, int enabled) {
    return client_call(client, [&] {
        client->impl.set_pipelining(enabled != 0);
        return client->impl.record(SMTPC_OK);
    });
}

smtpc_status smtpc_client_set_chunking(smtpc_client *client, int enabled) {
    return client_call(client, [&] {
        client->impl.set_chunking(enabled != 0);
        return client->impl.record(SMTPC_OK);
    });
}

smtpc_status smtpc_client_set_trace(smtpc_client *client, int level, smtpc_trace_fn fn, void *userdata) {
    return client_call(client, [&] { return client->impl.set_trace(level, fn, userdata); });
}

smtpc_status smtpc_client_connect(smtpc_client *client, const char *host, size_t len, uint16_t port) {
    return with_view(client, host, len, [&](std::string_view v) {
        if (!host) return client->impl.record(SMTPC_EINVAL, "NULL host");
        return client->impl.connect(v, port);
    });
}

int smtpc_client_is_connected(const smtpc_client *client) {
    return client && client->impl.connected() ? 1 : 0;
}

smtpc_status smtpc_client_quit(smtpc_client *client) {
    return client_call(client, [&] { return client->impl.quit(); });
}

void smtpc_client_close(smtpc_client *client) {
    if (!client) return;
    if (client->busy) {
        client->close_requested = true;  // from a callback: closed when the running call returns
        return;
    }
    client_call(client, [&] {
        client->impl.close();
        return client->impl.record(SMTPC_OK);
    });
}

const smtpc_reply *smtpc_client_last_reply(const smtpc_client *client) {
    return client ? client->impl.engine().last_reply() : nullptr;
}

const smtpc_reply *smtpc_client_helo_reply(const smtpc_client *client) {
    return client ? client->impl.engine().helo_reply() : nullptr;
}

const smtpc_reply *smtpc_client_ehlo_reply(const smtpc_client *client) {
    return client ? client->impl.engine().ehlo_reply() : nullptr;
}

int smtpc_client_does_esmtp(const smtpc_client *client) {
    return client && client->impl.engine().does_esmtp() ? 1 : 0;
}

int smtpc_client_has_extn(const smtpc_client *client, const char *name, size_t len) {
    std::string_view v;
    if (!client || !name || !to_view(name, len, v)) return 0;
    return client->impl.engine().features().has(v) ? 1 : 0;
}

const char *smtpc_client_extn_params(const smtpc_client *client, const char *name, size_t len,
                                     size_t *out_len) {
    std::string_view v;
    const std::string *p = nullptr;
    if (client && name && to_view(name, len, v)) p = client->impl.engine().features().params(v);
    if (out_len) *out_len = p ? p->size() : 0;
    return p ? p->c_str() : nullptr;
}

size_t smtpc_client_extn_count(const smtpc_client *client) {
    return client ? client->impl.engine().features().size() : 0;
}

// Feature `index` as (keyword, params), or nullptr when out of range.
static const std::pair<std::string, std::string> *extn_item(const smtpc_client *client, size_t index) {
    if (!client || index >= client->impl.engine().features().size()) return nullptr;
    return &client->impl.engine().features().at(index);
}

static const char *out_string(const std::string *s, size_t *out_len) {
    if (out_len) *out_len = s ? s->size() : 0;
    return s ? s->c_str() : nullptr;
}

const char *smtpc_client_extn_name(const smtpc_client *client, size_t index, size_t *out_len) {
    const auto *item = extn_item(client, index);
    return out_string(item ? &item->first : nullptr, out_len);
}

const char *smtpc_client_extn_params_at(const smtpc_client *client, size_t index, size_t *out_len) {
    const auto *item = extn_item(client, index);
    return out_string(item ? &item->second : nullptr, out_len);
}

smtpc_status smtpc_client_helo(smtpc_client *client, const char *name, size_t len) {
    return with_view(client, name, len, [&](std::string_view v) { return client->impl.helo(v); });
}

smtpc_status smtpc_client_ehlo(smtpc_client *client, const char *name, size_t len) {
    return with_view(client, name, len, [&](std::string_view v) { return client->impl.ehlo(v); });
}

smtpc_status smtpc_client_ehlo_or_helo_if_needed(smtpc_client *client) {
    return client_call(client, [&] { return client->impl.ehlo_or_helo_if_needed(); });
}

smtpc_status smtpc_client_docmd(smtpc_client *client, const char *cmd, size_t cmd_len, const char *args,
                                size_t args_len) {
    return with_views(client, cmd, cmd_len, args, args_len,
                      [&](std::string_view c, std::string_view a) { return client->impl.docmd(c, a); });
}

smtpc_status smtpc_client_noop(smtpc_client *client) {
    return client_call(client, [&] { return client->impl.simple(Cmd::Other, "NOOP", {}, "NOOP"); });
}

smtpc_status smtpc_client_rset(smtpc_client *client) {
    return client_call(client, [&] { return client->impl.simple(Cmd::Rset, "RSET", {}, "RSET"); });
}

smtpc_status smtpc_client_vrfy(smtpc_client *client, const char *what, size_t len) {
    return with_view(client, what, len, [&](std::string_view v) {
        if (v.empty()) return client->impl.record(SMTPC_EINVAL, "VRFY needs an argument");
        return client->impl.simple(Cmd::Other, "VRFY", v, "VRFY argument");
    });
}

smtpc_status smtpc_client_expn(smtpc_client *client, const char *what, size_t len) {
    return with_view(client, what, len, [&](std::string_view v) {
        if (v.empty()) return client->impl.record(SMTPC_EINVAL, "EXPN needs an argument");
        return client->impl.simple(Cmd::Other, "EXPN", v, "EXPN argument");
    });
}

smtpc_status smtpc_client_help(smtpc_client *client, const char *what, size_t len) {
    return with_view(client, what, len, [&](std::string_view v) {
        return client->impl.simple(Cmd::Other, "HELP", v, "HELP argument");
    });
}

smtpc_status smtpc_client_mail(smtpc_client *client, const char *addr, size_t addr_len, const char *options,
                               size_t options_len) {
    return with_views(client, addr, addr_len, options, options_len,
                      [&](std::string_view a, std::string_view o) { return client->impl.mail(a, o); });
}

smtpc_status smtpc_client_rcpt(smtpc_client *client, const char *addr, size_t addr_len, const char *options,
                               size_t options_len) {
    return with_views(client, addr, addr_len, options, options_len,
                      [&](std::string_view a, std::string_view o) { return client->impl.rcpt(a, o); });
}

smtpc_status smtpc_client_data(smtpc_client *client, const char *msg, size_t msg_len) {
    return with_view(client, msg, msg_len, [&](std::string_view m) { return client->impl.data(m); });
}

smtpc_status smtpc_client_send_raw(smtpc_client *client, const char *data, size_t len) {
    return with_view(client, data, len, [&](std::string_view d) { return client->impl.send_raw(d); });
}

smtpc_status smtpc_client_read_reply(smtpc_client *client) {
    return client_call(client, [&] { return client->impl.read_reply(); });
}

smtpc_status smtpc_client_sendmail(smtpc_client *client, const smtpc_envelope *env, const char *msg,
                                   size_t msg_len) {
    return with_view(client, msg, msg_len, [&](std::string_view m) {
        if (!env) return client->impl.record(SMTPC_EINVAL, "NULL envelope");
        return client->impl.sendmail(*env, m);
    });
}

smtpc_status smtpc_client_sendmail_stream(smtpc_client *client, const smtpc_envelope *env, uint64_t size_hint,
                                          smtpc_read_fn read, void *userdata) {
    return client_call(client, [&] {
        if (!env) return client->impl.record(SMTPC_EINVAL, "NULL envelope");
        client->read_fn = read;
        client->read_userdata = userdata;
        return client->impl.sendmail_stream(*env, read ? read_trampoline : nullptr, client, size_hint);
    });
}

smtpc_status smtpc_client_send_message(smtpc_client *client, const smtpc_envelope *env, const char *msg,
                                       size_t msg_len) {
    return with_view(client, msg, msg_len,
                     [&](std::string_view m) { return client->impl.send_message(env, m); });
}

const smtpc_result *smtpc_client_last_result(const smtpc_client *client) {
    return client ? client->impl.engine().result() : nullptr;
}

}  // extern "C"
