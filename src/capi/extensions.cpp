// SPDX-License-Identifier: MIT
// C facade: the typed ESMTP parameters of an envelope (src/proto/extensions.*) and the enhanced status
// codes of results.
#include "guard.hpp"

using namespace smtpc::detail;

extern "C" {

smtpc_status smtpc_envelope_set_dsn(smtpc_envelope *env, int ret, const char *envid, size_t envid_len) {
    return env_call(env, "DSN", [&] {
        if (ret < SMTPC_DSN_RET_UNSET || ret > SMTPC_DSN_RET_HDRS)
            return env_record(env, SMTPC_EINVAL, "DSN", "RET must be SMTPC_DSN_RET_UNSET, _FULL or _HDRS");
        std::optional<std::string> id;
        if (envid) {
            std::string_view v;
            to_view(envid, envid_len, v);
            if (Check c = check_envid(v); !c) return env_record(env, c.status, "DSN", c.message);
            id.emplace(v);
        } else if (envid_len != 0 && envid_len != SMTPC_NTS) {
            return env_record(env, SMTPC_EINVAL, "DSN", "NULL ENVID with a length");
        }
        env->ext.dsn_ret = ret;
        env->ext.envid = std::move(id);
        return env_record(env, SMTPC_OK, {});
    });
}

smtpc_status smtpc_envelope_set_dsn_optional(smtpc_envelope *env, int drop) {
    return env_call(env, "DSN", [&] {
        env->ext.dsn_optional = drop != 0;
        return env_record(env, SMTPC_OK, {});
    });
}

smtpc_status smtpc_envelope_add_recipient_dsn(smtpc_envelope *env, const char *addr, size_t len,
                                              unsigned int notify, const char *orcpt, size_t orcpt_len) {
    return env_call(env, "recipient address", [&] {
        std::string_view a;
        if (!addr || !to_view(addr, len, a))
            return env_record(env, SMTPC_EINVAL, "recipient address", "NULL address");
        Address parsed;
        if (Check c = parse_address(a, false, parsed); !c)
            return env_record(env, c.status, "recipient address", c.message);
        if (Check c = check_notify(notify); !c) return env_record(env, c.status, "DSN NOTIFY", c.message);
        RcptExtensions x;
        x.notify = notify;
        if (orcpt) {
            std::string_view o;
            to_view(orcpt, orcpt_len, o);
            if (Check c = check_orcpt(o); !c) return env_record(env, c.status, "DSN ORCPT", c.message);
            x.orcpt.emplace(o);
        } else if (orcpt_len != 0 && orcpt_len != SMTPC_NTS) {
            return env_record(env, SMTPC_EINVAL, "DSN ORCPT", "NULL with a length");
        }
        // Both vectors grow or neither does: the envelope is unchanged on failure.
        env->rcpt_ext.reserve(env->recipients.size() + 1);
        env->recipients.reserve(env->recipients.size() + 1);
        env->rcpt_ext.resize(env->recipients.size());
        env->rcpt_ext.push_back(std::move(x));
        env->recipients.push_back(std::move(parsed));
        return env_record(env, SMTPC_OK, {});
    });
}

smtpc_status smtpc_envelope_set_requiretls(smtpc_envelope *env, int on) {
    return env_call(env, "REQUIRETLS", [&] {
        env->ext.requiretls = on != 0;
        return env_record(env, SMTPC_OK, {});
    });
}

smtpc_status smtpc_envelope_set_mt_priority(smtpc_envelope *env, int priority) {
    return env_call(env, "MT-PRIORITY", [&] {
        if (priority == SMTPC_MT_PRIORITY_UNSET) env->ext.mt_priority.reset();
        else if (priority < -9 || priority > 9)
            return env_record(env, SMTPC_EINVAL, "MT-PRIORITY",
                              "the priority must be within -9..9 (RFC 6710)");
        else env->ext.mt_priority = priority;
        return env_record(env, SMTPC_OK, {});
    });
}

smtpc_status smtpc_envelope_set_deliver_by(smtpc_envelope *env, int64_t seconds, int mode, int trace) {
    return env_call(env, "DELIVERBY", [&] {
        if (mode == SMTPC_DELIVERBY_UNSET) {
            env->ext.deliver_by.reset();
            return env_record(env, SMTPC_OK, {});
        }
        if (Check c = check_deliver_by(seconds, mode); !c)
            return env_record(env, c.status, "DELIVERBY", c.message);
        env->ext.deliver_by = MailExtensions::DeliverBy{seconds, mode == SMTPC_DELIVERBY_NOTIFY, trace != 0};
        return env_record(env, SMTPC_OK, {});
    });
}

smtpc_status smtpc_envelope_set_hold_for(smtpc_envelope *env, uint64_t seconds) {
    return env_call(env, "HOLDFOR", [&] {
        if (seconds > 999999999ULL)
            return env_record(env, SMTPC_EINVAL, "HOLDFOR", "at most 999999999 seconds (RFC 4865)");
        if (seconds == 0) {
            env->ext.hold_for.reset();
        } else {
            env->ext.hold_for = seconds;
            env->ext.hold_until.reset();
        }
        return env_record(env, SMTPC_OK, {});
    });
}

smtpc_status smtpc_envelope_set_hold_until(smtpc_envelope *env, const char *time, size_t len) {
    return env_call(env, "HOLDUNTIL", [&] {
        if (!time) {
            if (len != 0 && len != SMTPC_NTS)
                return env_record(env, SMTPC_EINVAL, "HOLDUNTIL", "NULL with a length");
            env->ext.hold_until.reset();
            return env_record(env, SMTPC_OK, {});
        }
        std::string_view t;
        to_view(time, len, t);
        if (Check c = check_hold_until(t); !c) return env_record(env, c.status, "HOLDUNTIL", c.message);
        env->ext.hold_until.emplace(t);
        env->ext.hold_for.reset();
        return env_record(env, SMTPC_OK, {});
    });
}

smtpc_status smtpc_envelope_set_auth(smtpc_envelope *env, const char *identity, size_t len) {
    return env_call(env, "AUTH=", [&] {
        if (!identity) {
            if (len != 0 && len != SMTPC_NTS)
                return env_record(env, SMTPC_EINVAL, "AUTH=", "NULL with a length");
            env->ext.auth.reset();
            return env_record(env, SMTPC_OK, {});
        }
        std::string_view v;
        to_view(identity, len, v);
        if (Check c = check_auth_identity(v); !c) return env_record(env, c.status, "AUTH=", c.message);
        env->ext.auth.emplace(v);
        return env_record(env, SMTPC_OK, {});
    });
}

smtpc_status smtpc_envelope_set_body(smtpc_envelope *env, int body) {
    return env_call(env, "BODY", [&] {
        if (body < SMTPC_BODY_AUTO || body > SMTPC_BODY_BINARYMIME)
            return env_record(env, SMTPC_EINVAL, "BODY", "unknown smtpc_body value");
        env->ext.body = body;
        return env_record(env, SMTPC_OK, {});
    });
}

smtpc_status smtpc_envelope_set_smtputf8(smtpc_envelope *env, int mode) {
    return env_call(env, "SMTPUTF8", [&] {
        if (mode < SMTPC_SMTPUTF8_AUTO || mode > SMTPC_SMTPUTF8_OFF)
            return env_record(env, SMTPC_EINVAL, "SMTPUTF8", "unknown smtpc_smtputf8 value");
        env->ext.smtputf8 = mode;
        return env_record(env, SMTPC_OK, {});
    });
}

const smtpc_reply *smtpc_result_reply(const smtpc_result *res, size_t index) {
    if (!res || index >= res->recipients.size()) return nullptr;
    const RecipientResult &r = res->recipients[index];
    if (r.data_reply) return &*r.data_reply;
    return r.rcpt_reply ? &*r.rcpt_reply : nullptr;
}

int smtpc_reply_enhanced_parts(const smtpc_reply *reply, int *klass, int *subject, int *detail) {
    int v[3] = {0, 0, 0};
    bool ok = false;
    if (reply && !reply->enhanced.empty()) {
        // The parser keeps only a well-formed code ("class.subject.detail", 1-3 digits each).
        std::size_t part = 0;
        ok = true;
        for (char c : reply->enhanced) {
            if (c == '.') {
                if (++part > 2) ok = false;
            } else if (c >= '0' && c <= '9' && part < 3) {
                v[part] = v[part] * 10 + (c - '0');
            } else {
                ok = false;
            }
        }
        if (!ok || part != 2) v[0] = v[1] = v[2] = 0, ok = false;
    }
    if (klass) *klass = v[0];
    if (subject) *subject = v[1];
    if (detail) *detail = v[2];
    return ok ? 1 : 0;
}

}  // extern "C"
