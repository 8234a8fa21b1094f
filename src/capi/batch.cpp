// SPDX-License-Identifier: MIT
// C facade: many messages over one connection (smtpc_message, smtpc_client_enqueue,
// smtpc_client_next_result, smtpc_message_result). The queue itself is the engine's (src/proto) and
// the blocking client's (src/client); this file only converts and owns the handles.
#include "guard.hpp"

using namespace smtpc::detail;

// What enqueue copies: the envelope (copied here too, so the caller's may go), the body source
// (borrowed), the tag.
struct smtpc_message {
    smtpc_envelope env;
    bool env_set = false;
    bool body_set = false;
    const char *data = nullptr;
    std::size_t len = 0;
    smtpc_read_fn read = nullptr;
    void *userdata = nullptr;
    std::uint64_t size_hint = 0;
    bool from_headers = false;
    std::uint64_t tag = 0;
};

struct smtpc_message_result {
    Client::MessageResult r;
};

extern "C" {

smtpc_status smtpc_message_new(smtpc_message **out) {
    if (!out) return SMTPC_EINVAL;
    *out = nullptr;
    return guarded(nullptr, [&] {
        *out = new smtpc_message();
        return SMTPC_OK;
    });
}

void smtpc_message_free(smtpc_message *msg) { delete msg; }

smtpc_status smtpc_message_set_envelope(smtpc_message *msg, const smtpc_envelope *env) {
    if (!msg || !env) return SMTPC_EINVAL;
    return guarded(nullptr, [&] {
        smtpc_envelope copy = *env;  // may throw: the message stays as it was
        copy.errmsg.clear();
        msg->env = std::move(copy);
        msg->env_set = true;
        return SMTPC_OK;
    });
}

smtpc_status smtpc_message_set_body(smtpc_message *msg, const char *data, size_t len) {
    std::string_view v;
    if (!msg || !to_view(data, len, v)) return SMTPC_EINVAL;
    msg->body_set = true;
    msg->data = v.data();
    msg->len = v.size();
    msg->read = nullptr;
    msg->userdata = nullptr;
    msg->size_hint = 0;
    return SMTPC_OK;
}

smtpc_status smtpc_message_set_body_reader(smtpc_message *msg, uint64_t size_hint, smtpc_read_fn read,
                                           void *userdata) {
    if (!msg || !read) return SMTPC_EINVAL;
    msg->body_set = false;
    msg->data = nullptr;
    msg->len = 0;
    msg->read = read;
    msg->userdata = userdata;
    msg->size_hint = size_hint;
    return SMTPC_OK;
}

smtpc_status smtpc_message_set_envelope_from_headers(smtpc_message *msg, int enabled) {
    if (!msg) return SMTPC_EINVAL;
    msg->from_headers = enabled != 0;
    return SMTPC_OK;
}

smtpc_status smtpc_message_set_tag(smtpc_message *msg, uint64_t tag) {
    if (!msg) return SMTPC_EINVAL;
    msg->tag = tag;
    return SMTPC_OK;
}

smtpc_status smtpc_client_enqueue(smtpc_client *client, const smtpc_message *msg) {
    return client_call(client, [&] {
        if (!msg) return client->impl.record(SMTPC_EINVAL, "NULL message");
        Client::MessageSpec m;
        m.env = msg->env_set ? &msg->env : nullptr;
        m.from_headers = msg->from_headers;
        m.body_set = msg->body_set;
        m.body = std::string_view(msg->data ? msg->data : "", msg->len);
        m.read = msg->read;
        m.userdata = msg->userdata;
        m.size_hint = msg->size_hint;
        m.tag = msg->tag;
        return client->impl.enqueue(m);
    });
}

smtpc_status smtpc_client_next_result(smtpc_client *client, smtpc_message_result **out) {
    if (out) *out = nullptr;
    return client_call(client, [&] {
        if (!out) return client->impl.record(SMTPC_EINVAL, "NULL result pointer");
        // Allocated first: once taken from the queue, a result must not be lost to a failed allocation.
        auto res = std::make_unique<smtpc_message_result>();
        bool got = false;
        smtpc_status st = client->impl.next_result(res->r, got);
        if (st == SMTPC_OK && got) *out = res.release();
        return st;
    });
}

smtpc_status smtpc_client_set_window(smtpc_client *client, uint32_t messages, uint64_t bytes) {
    return client_call(client, [&] { return client->impl.set_window(messages, bytes); });
}

size_t smtpc_client_queued(const smtpc_client *client) { return client ? client->impl.queued() : 0; }

size_t smtpc_client_in_flight(const smtpc_client *client) { return client ? client->impl.in_flight() : 0; }

void smtpc_message_result_free(smtpc_message_result *res) { delete res; }

uint64_t smtpc_message_result_tag(const smtpc_message_result *res) { return res ? res->r.tag : 0; }

smtpc_message_state smtpc_message_result_state(const smtpc_message_result *res) {
    return res ? res->r.outcome.state : SMTPC_MESSAGE_NOT_SENT;
}

smtpc_status smtpc_message_result_status(const smtpc_message_result *res) {
    return res ? res->r.outcome.status : SMTPC_EINVAL;
}

const char *smtpc_message_result_errmsg(const smtpc_message_result *res, size_t *out_len) {
    const std::string *m = res ? &res->r.outcome.message : nullptr;
    if (out_len) *out_len = m ? m->size() : 0;
    return m ? m->c_str() : "";
}

const smtpc_result *smtpc_message_result_recipients(const smtpc_message_result *res) {
    return res ? res->r.outcome.result.get() : nullptr;
}

const smtpc_reply *smtpc_message_result_reply(const smtpc_message_result *res) {
    return res && res->r.outcome.final_reply ? &*res->r.outcome.final_reply : nullptr;
}

}  // extern "C"
