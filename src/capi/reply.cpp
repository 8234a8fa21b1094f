// SPDX-License-Identifier: MIT
// C facade: replies, envelopes and per-recipient results.
#include "guard.hpp"

using namespace smtpc::detail;

extern "C" {

int smtpc_reply_code(const smtpc_reply *reply) { return reply ? reply->code : 0; }

const char *smtpc_reply_enhanced(const smtpc_reply *reply) { return reply ? reply->enhanced.c_str() : ""; }

const char *smtpc_reply_text(const smtpc_reply *reply, size_t *out_len) {
    if (out_len) *out_len = reply ? reply->text.size() : 0;
    return reply ? reply->text.c_str() : "";
}

size_t smtpc_reply_line_count(const smtpc_reply *reply) { return reply ? reply->lines.size() : 0; }

const char *smtpc_reply_line(const smtpc_reply *reply, size_t index, size_t *out_len) {
    if (!reply || index >= reply->lines.size()) {
        if (out_len) *out_len = 0;
        return nullptr;
    }
    if (out_len) *out_len = reply->lines[index].size();
    return reply->lines[index].c_str();
}

smtpc_status smtpc_reply_dup(smtpc_reply **out, const smtpc_reply *reply) {
    if (!out) return SMTPC_EINVAL;
    *out = nullptr;
    if (!reply) return SMTPC_EINVAL;
    return guarded(nullptr, [&] {
        *out = new smtpc_reply(*reply);
        return SMTPC_OK;
    });
}

void smtpc_reply_free(smtpc_reply *reply) { delete reply; }

smtpc_status smtpc_envelope_new(smtpc_envelope **out) {
    if (!out) return SMTPC_EINVAL;
    *out = nullptr;
    return guarded(nullptr, [&] {
        *out = new smtpc_envelope();
        return SMTPC_OK;
    });
}

void smtpc_envelope_free(smtpc_envelope *env) { delete env; }

const char *smtpc_envelope_errmsg(const smtpc_envelope *env) { return env ? env->errmsg.c_str() : ""; }

}  // extern "C"

extern "C" {

smtpc_status smtpc_envelope_set_sender(smtpc_envelope *env, const char *addr, size_t len) {
    if (!env) return SMTPC_EINVAL;
    return env_call(env, "sender address", [&] {
        std::string_view a;
        if (!to_view(addr, len, a))
            return env_record(env, SMTPC_EINVAL, "sender address", "NULL with a length");
        Address parsed;
        if (Check c = parse_address(a, true, parsed); !c)
            return env_record(env, c.status, "sender address", c.message);
        env->sender = std::move(parsed);
        env->sender_set = true;
        return env_record(env, SMTPC_OK);
    });
}

smtpc_status smtpc_envelope_add_recipient(smtpc_envelope *env, const char *addr, size_t len) {
    if (!env) return SMTPC_EINVAL;
    return env_call(env, "recipient address", [&] {
        std::string_view a;
        if (!addr || !to_view(addr, len, a))
            return env_record(env, SMTPC_EINVAL, "recipient address", "NULL address");
        Address parsed;
        if (Check c = parse_address(a, false, parsed); !c)
            return env_record(env, c.status, "recipient address", c.message);
        env->recipients.push_back(std::move(parsed));
        return env_record(env, SMTPC_OK);
    });
}

static smtpc_status add_option(smtpc_envelope *env, const char *opt, size_t len, bool mail) {
    if (!env) return SMTPC_EINVAL;
    const std::string_view what = mail ? "mail option" : "recipient option";
    return env_call(env, what, [&] {
        std::string_view o;
        if (!opt || !to_view(opt, len, o)) return env_record(env, SMTPC_EINVAL, what, "NULL option");
        if (Check c = check_option(o); !c) return env_record(env, c.status, what, c.message);
        if (option_is(o, "SIZE"))
            return env_record(env, SMTPC_EINVAL, what, "SIZE is added by the library, do not pass it");
        (mail ? env->mail_options : env->rcpt_options).emplace_back(o);
        return env_record(env, SMTPC_OK);
    });
}

smtpc_status smtpc_envelope_add_mail_option(smtpc_envelope *env, const char *opt, size_t len) {
    return add_option(env, opt, len, true);
}

smtpc_status smtpc_envelope_add_rcpt_option(smtpc_envelope *env, const char *opt, size_t len) {
    return add_option(env, opt, len, false);
}

size_t smtpc_envelope_recipient_count(const smtpc_envelope *env) { return env ? env->recipients.size() : 0; }

smtpc_status smtpc_result_dup(smtpc_result **out, const smtpc_result *res) {
    if (!out) return SMTPC_EINVAL;
    *out = nullptr;
    if (!res) return SMTPC_EINVAL;
    return guarded(nullptr, [&] {
        *out = new smtpc_result(*res);
        return SMTPC_OK;
    });
}

void smtpc_result_free(smtpc_result *res) { delete res; }

size_t smtpc_result_count(const smtpc_result *res) { return res ? res->recipients.size() : 0; }

const smtpc_reply *smtpc_result_mail_reply(const smtpc_result *res) {
    return res && res->mail_reply ? &*res->mail_reply : nullptr;
}

const char *smtpc_result_recipient(const smtpc_result *res, size_t index, size_t *out_len) {
    if (!res || index >= res->recipients.size()) {
        if (out_len) *out_len = 0;
        return nullptr;
    }
    if (out_len) *out_len = res->recipients[index].address.size();
    return res->recipients[index].address.c_str();
}

smtpc_rcpt_state smtpc_result_state(const smtpc_result *res, size_t index) {
    if (!res || index >= res->recipients.size()) return SMTPC_RCPT_NOT_ATTEMPTED;
    return res->recipients[index].state;
}

const smtpc_reply *smtpc_result_rcpt_reply(const smtpc_result *res, size_t index) {
    if (!res || index >= res->recipients.size() || !res->recipients[index].rcpt_reply) return nullptr;
    return &*res->recipients[index].rcpt_reply;
}

const smtpc_reply *smtpc_result_data_reply(const smtpc_result *res, size_t index) {
    if (!res || index >= res->recipients.size() || !res->recipients[index].data_reply) return nullptr;
    return &*res->recipients[index].data_reply;
}

size_t smtpc_result_delivered_count(const smtpc_result *res) {
    size_t n = 0;
    if (res)
        for (const auto &r : res->recipients) n += r.state == SMTPC_RCPT_DELIVERED;
    return n;
}

}  // extern "C"
