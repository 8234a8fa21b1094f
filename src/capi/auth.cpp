// C facade: authentication.
#include "guard.hpp"

using namespace smtpc::detail;

extern "C" {

smtpc_status smtpc_client_set_allow_insecure_auth(smtpc_client *client, int allow) {
    if (!client) return SMTPC_EINVAL;
    client->impl.set_allow_insecure_auth(allow != 0);
    return client->impl.record(SMTPC_OK);
}

smtpc_status smtpc_client_set_authzid(smtpc_client *client, const char *authzid, size_t len) {
    if (!client) return SMTPC_EINVAL;
    std::string_view v;
    if (!to_view(authzid, len, v)) return client->impl.record(SMTPC_EINVAL, "NULL pointer with a non-zero length");
    return guarded(client, [&] { return client->impl.set_authzid(v); });
}

smtpc_status smtpc_client_login(smtpc_client *client, const char *user, size_t user_len, const char *password,
                                size_t password_len) {
    if (!client) return SMTPC_EINVAL;
    std::string_view u, p;
    if (!user || !password || !to_view(user, user_len, u) || !to_view(password, password_len, p))
        return client->impl.record(SMTPC_EINVAL, "NULL user name or password");
    return guarded(client, [&] { return client->impl.login(u, p); });
}

smtpc_status smtpc_client_auth_password(smtpc_client *client, const char *mechanism, size_t mech_len,
                                        const char *user, size_t user_len, const char *password, size_t password_len,
                                        int initial_response_ok) {
    if (!client) return SMTPC_EINVAL;
    std::string_view m, u, p;
    if (!mechanism || !user || !password || !to_view(mechanism, mech_len, m) || !to_view(user, user_len, u) ||
        !to_view(password, password_len, p))
        return client->impl.record(SMTPC_EINVAL, "NULL mechanism, user name or password");
    return guarded(client, [&] { return client->impl.auth_password(m, u, p, initial_response_ok != 0); });
}

smtpc_status smtpc_client_auth_oauth2(smtpc_client *client, const char *mechanism, size_t mech_len, const char *user,
                                      size_t user_len, const char *token, size_t token_len, smtpc_token_fn fn,
                                      void *userdata) {
    if (!client) return SMTPC_EINVAL;
    std::string_view m, u, t;
    if (!mechanism || !user || !to_view(mechanism, mech_len, m) || !to_view(user, user_len, u) ||
        !to_view(token, token_len, t))
        return client->impl.record(SMTPC_EINVAL, "NULL mechanism or user name");
    return guarded(client, [&] { return client->impl.auth_oauth2(m, u, t, fn, userdata); });
}

smtpc_status smtpc_client_auth(smtpc_client *client, const char *mechanism, size_t mech_len, smtpc_auth_fn fn,
                               void *userdata, int initial_response_ok) {
    if (!client) return SMTPC_EINVAL;
    std::string_view m;
    if (!mechanism || !to_view(mechanism, mech_len, m)) return client->impl.record(SMTPC_EINVAL, "NULL mechanism");
    return guarded(client, [&] { return client->impl.auth_custom(m, fn, userdata, initial_response_ok != 0); });
}

const char *smtpc_client_auth_mechanism(const smtpc_client *client) {
    return client ? client->impl.auth_mechanism().c_str() : "";
}

}  // extern "C"
