// SPDX-License-Identifier: MIT
// C facade: authentication.
#include "guard.hpp"

#include "../auth/sasl.hpp"

using namespace smtpc::detail;

namespace {

// The AUTH and token callbacks with the user's inside: a close or free asked for by any callback of
// the running call aborts the exchange (as the callback returning non-zero would).
int auth_trampoline(const char *challenge, size_t len, int is_initial, smtpc_auth_response *resp,
                    void *userdata) {
    auto *c = static_cast<smtpc_client *>(userdata);
    int r = c->auth_fn(challenge, len, is_initial, resp, c->auth_userdata);
    return r == 0 && stop_requested(c) ? 1 : r;
}

int token_trampoline(smtpc_auth_response *token, void *userdata) {
    auto *c = static_cast<smtpc_client *>(userdata);
    int r = c->token_fn(token, c->token_userdata);
    return r == 0 && stop_requested(c) ? 1 : r;
}

}  // namespace

extern "C" {

smtpc_status smtpc_client_set_allow_insecure_auth(smtpc_client *client, int allow) {
    return client_call(client, [&] {
        client->impl.set_allow_insecure_auth(allow != 0);
        return client->impl.record(SMTPC_OK);
    });
}

smtpc_status smtpc_client_set_authzid(smtpc_client *client, const char *authzid, size_t len) {
    return client_call(client, [&] {
        std::string_view v;
        if (!to_view(authzid, len, v))
            return client->impl.record(SMTPC_EINVAL, "NULL pointer with a non-zero length");
        return client->impl.set_authzid(v);
    });
}

smtpc_status smtpc_client_login(smtpc_client *client, const char *user, size_t user_len, const char *password,
                                size_t password_len) {
    return client_call(client, [&] {
        std::string_view u, p;
        if (!user || !password || !to_view(user, user_len, u) || !to_view(password, password_len, p))
            return client->impl.record(SMTPC_EINVAL, "NULL user name or password");
        return client->impl.login(u, p);
    });
}

smtpc_status smtpc_client_auth_password(smtpc_client *client, const char *mechanism, size_t mech_len,
                                        const char *user, size_t user_len, const char *password,
                                        size_t password_len, int initial_response_ok) {
    return client_call(client, [&] {
        std::string_view m, u, p;
        if (!mechanism || !user || !password || !to_view(mechanism, mech_len, m) ||
            !to_view(user, user_len, u) || !to_view(password, password_len, p))
            return client->impl.record(SMTPC_EINVAL, "NULL mechanism, user name or password");
        return client->impl.auth_password(m, u, p, initial_response_ok != 0);
    });
}

smtpc_status smtpc_client_auth_oauth2(smtpc_client *client, const char *mechanism, size_t mech_len,
                                      const char *user, size_t user_len, const char *token, size_t token_len,
                                      smtpc_token_fn fn, void *userdata) {
    return client_call(client, [&] {
        std::string_view m, u, t;
        if (!mechanism || !user || !to_view(mechanism, mech_len, m) || !to_view(user, user_len, u) ||
            !to_view(token, token_len, t))
            return client->impl.record(SMTPC_EINVAL, "NULL mechanism or user name");
        client->token_fn = fn;
        client->token_userdata = userdata;
        return client->impl.auth_oauth2(m, u, t, fn ? token_trampoline : nullptr, client);
    });
}

smtpc_status smtpc_client_auth(smtpc_client *client, const char *mechanism, size_t mech_len,
                               int initial_response_ok, smtpc_auth_fn fn, void *userdata) {
    return client_call(client, [&] {
        std::string_view m;
        if (!mechanism || !to_view(mechanism, mech_len, m))
            return client->impl.record(SMTPC_EINVAL, "NULL mechanism");
        client->auth_fn = fn;
        client->auth_userdata = userdata;
        return client->impl.auth_custom(m, fn ? auth_trampoline : nullptr, client, initial_response_ok != 0);
    });
}

const char *smtpc_client_auth_mechanism(const smtpc_client *client) {
    return client ? client->impl.auth_mechanism().c_str() : "";
}

smtpc_status smtpc_auth_response_set(smtpc_auth_response *resp, const char *data, size_t len) {
    std::string_view v;
    if (!resp || !resp->out || !to_view(data, len, v)) return SMTPC_EINVAL;
    return guarded(nullptr, [&] {
        resp->out->assign(v);
        resp->set = true;
        return SMTPC_OK;
    });
}

}  // extern "C"
