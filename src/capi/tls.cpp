// SPDX-License-Identifier: MIT
// C facade: TLS configurations and the client's TLS calls.
#include "guard.hpp"

#include <openssl/crypto.h>

using namespace smtpc::detail;

struct smtpc_tls_config {
    std::shared_ptr<TlsConfig> ref;
    // Why the last call through this handle failed (smtpc_tls_config_errmsg). Kept on the handle, not
    // on the shared TlsConfig, so that clients using the configuration on other threads never race
    // with the caller reading it.
    std::string errmsg;
};

namespace {

// A path argument: non-empty, no NUL inside (it goes to C functions that stop at NUL). Only checked
// here: the copy is made inside cfg_call(), where an allocation failure becomes SMTPC_ENOMEM.
bool path_arg(const char *p, size_t len, std::string_view &out) {
    return p && to_view(p, len, out) && !out.empty() && out.find('\0') == std::string_view::npos;
}

// Records a call's outcome on the handle: "" after a success, else "<what>: <why>".
smtpc_status cfg_record(smtpc_tls_config *cfg, smtpc_status st, std::string_view what = {},
                        std::string_view why = {}) noexcept {
    try {
        cfg->errmsg.clear();
        if (st != SMTPC_OK) {
            cfg->errmsg.assign(what);
            cfg->errmsg.append(": ").append(why.empty() ? std::string_view(smtpc_strerror(st)) : why);
        }
    } catch (...) {
        cfg->errmsg.clear();  // no memory for the text; the status says why
    }
    return st;
}

// Every call on a configuration: NULL is SMTPC_EINVAL (nowhere to record it), exceptions become
// statuses, and the outcome is recorded with TlsConfig's reason (OpenSSL's) when it has one.
template <class F> smtpc_status cfg_call(smtpc_tls_config *cfg, std::string_view what, F &&f) {
    if (!cfg) return SMTPC_EINVAL;
    smtpc_status st = guarded(nullptr, [&] { return f(*cfg->ref); });
    if (st == SMTPC_OK) return cfg_record(cfg, st);
    std::string_view why = cfg->ref->error();
    if (st == SMTPC_ENOMEM) why = "out of memory";
    if (why.empty()) why = smtpc_strerror(st);
    return cfg_record(cfg, st, what, why);
}

constexpr std::string_view kBadPath = "NULL, empty, or NUL inside";

const TlsFacts *facts(const smtpc_client *c) { return c ? c->impl.tls_facts() : nullptr; }

}  // namespace

extern "C" {

smtpc_status smtpc_tls_config_new(smtpc_tls_config **out) {
    if (!out) return SMTPC_EINVAL;
    *out = nullptr;
    return guarded(nullptr, [&] {
        std::string error;
        std::shared_ptr<TlsConfig> cfg = TlsConfig::create(error);
        if (!cfg) return SMTPC_ETLS;
        *out = new smtpc_tls_config{std::move(cfg), {}};
        return SMTPC_OK;
    });
}

void smtpc_tls_config_free(smtpc_tls_config *cfg) { delete cfg; }

const char *smtpc_tls_config_errmsg(const smtpc_tls_config *cfg) { return cfg ? cfg->errmsg.c_str() : ""; }

smtpc_status smtpc_tls_config_set_ca_file(smtpc_tls_config *cfg, const char *path, size_t len) {
    if (!cfg) return SMTPC_EINVAL;
    std::string_view p;
    if (!path_arg(path, len, p)) return cfg_record(cfg, SMTPC_EINVAL, "CA file", kBadPath);
    return cfg_call(cfg, "CA file", [&](TlsConfig &c) { return c.set_ca_file(std::string(p)); });
}

smtpc_status smtpc_tls_config_set_ca_path(smtpc_tls_config *cfg, const char *path, size_t len) {
    if (!cfg) return SMTPC_EINVAL;
    std::string_view p;
    if (!path_arg(path, len, p)) return cfg_record(cfg, SMTPC_EINVAL, "CA directory", kBadPath);
    return cfg_call(cfg, "CA directory", [&](TlsConfig &c) { return c.set_ca_path(std::string(p)); });
}

smtpc_status smtpc_tls_config_add_ca_der(smtpc_tls_config *cfg, const char *der, size_t len) {
    if (!cfg) return SMTPC_EINVAL;
    std::string_view d;  // SMTPC_NTS is accepted as everywhere, though DER nearly always holds a NUL
    if (!der || !to_view(der, len, d) || d.empty())
        return cfg_record(cfg, SMTPC_EINVAL, "DER CA certificate", "NULL or empty");
    if (d.size() > 1024 * 1024)
        return cfg_record(cfg, SMTPC_EINVAL, "DER CA certificate", "over 1 MiB, not a certificate");
    return cfg_call(cfg, "DER CA certificate", [&](TlsConfig &c) {
        return c.add_ca_der(reinterpret_cast<const unsigned char *>(d.data()), d.size());
    });
}

smtpc_status smtpc_tls_config_set_client_cert(smtpc_tls_config *cfg, const char *cert_path, size_t cert_len,
                                              const char *key_path, size_t key_len, const char *password,
                                              size_t password_len) {
    if (!cfg) return SMTPC_EINVAL;
    std::string_view cert, k, pw;
    if (!path_arg(cert_path, cert_len, cert))
        return cfg_record(cfg, SMTPC_EINVAL, "client certificate file", kBadPath);
    if (!to_view(key_path, key_len, k) || k.find('\0') != std::string_view::npos)
        return cfg_record(cfg, SMTPC_EINVAL, "client key file", "NULL with a length, or NUL inside");
    if (!to_view(password, password_len, pw))
        return cfg_record(cfg, SMTPC_EINVAL, "client key password", "NULL with a length");
    return cfg_call(cfg, "client certificate", [&](TlsConfig &c) {
        std::string cert_copy(cert), key_copy(k);  // first: failing here leaves no copy of the secret
        std::string secret(pw);
        smtpc_status st = c.set_client_cert(cert_copy, key_copy, secret);
        if (!secret.empty()) OPENSSL_cleanse(&secret[0], secret.size());
        return st;
    });
}

smtpc_status smtpc_tls_config_set_verify_peer(smtpc_tls_config *cfg, int enabled) {
    return cfg_call(cfg, "verify peer", [&](TlsConfig &c) {
        c.set_verify_peer(enabled != 0);
        return SMTPC_OK;
    });
}

smtpc_status smtpc_tls_config_set_verify_hostname(smtpc_tls_config *cfg, int enabled) {
    return cfg_call(cfg, "verify host name", [&](TlsConfig &c) {
        c.set_verify_hostname(enabled != 0);
        return SMTPC_OK;
    });
}

smtpc_status smtpc_tls_config_set_session_resumption(smtpc_tls_config *cfg, int enabled) {
    return cfg_call(cfg, "session resumption", [&](TlsConfig &c) {
        c.set_session_resumption(enabled != 0);
        return SMTPC_OK;
    });
}

smtpc_status smtpc_tls_config_set_min_version(smtpc_tls_config *cfg, smtpc_tls_version version) {
    if (!cfg) return SMTPC_EINVAL;
    int v = enum_value(version);
    if (v != SMTPC_TLS_VERSION_1_2 && v != SMTPC_TLS_VERSION_1_3)
        return cfg_record(cfg, SMTPC_EINVAL, "minimum TLS version", "unknown smtpc_tls_version value");
    return cfg_call(cfg, "minimum TLS version", [&](TlsConfig &c) { return c.set_min_version(version); });
}

smtpc_status smtpc_tls_config_set_ciphers(smtpc_tls_config *cfg, const char *list, size_t len) {
    if (!cfg) return SMTPC_EINVAL;
    std::string_view l;
    if (!path_arg(list, len, l))
        return cfg_record(cfg, SMTPC_EINVAL, "cipher list", "NULL, empty, or NUL inside");
    return cfg_call(cfg, "cipher list", [&](TlsConfig &c) { return c.set_ciphers(std::string(l)); });
}

smtpc_status smtpc_client_set_tls_config(smtpc_client *client, smtpc_tls_config *cfg) {
    return client_call(client, [&] {
        client->impl.set_tls_config(cfg ? cfg->ref : nullptr);
        return client->impl.record(SMTPC_OK);
    });
}

smtpc_status smtpc_client_set_tls_policy(smtpc_client *client, smtpc_tls_policy policy) {
    return client_call(client, [&] {
        int p = enum_value(policy);
        if (p < SMTPC_TLS_AUTO || p > SMTPC_TLS_IMPLICIT)
            return client->impl.record(SMTPC_EINVAL, "unknown TLS policy");
        client->impl.set_tls_policy(policy);
        return client->impl.record(SMTPC_OK);
    });
}

smtpc_status smtpc_client_set_tls_server_name(smtpc_client *client, const char *name, size_t len) {
    return client_call(client, [&] {
        std::string_view v;
        if (!to_view(name, len, v))
            return client->impl.record(SMTPC_EINVAL, "NULL pointer with a non-zero length");
        return client->impl.set_tls_server_name(v);
    });
}

smtpc_status smtpc_client_set_tls_insecure_skip_verify_for_testing(smtpc_client *client, int enabled) {
    return client_call(client, [&] {
        client->impl.set_tls_skip_verify(enabled != 0);
        return client->impl.record(SMTPC_OK);
    });
}

smtpc_status smtpc_client_starttls(smtpc_client *client) {
    return client_call(client, [&] { return client->impl.starttls(); });
}

int smtpc_client_tls_active(const smtpc_client *client) { return facts(client) ? 1 : 0; }

int smtpc_client_tls_verified(const smtpc_client *client) {
    const TlsFacts *f = facts(client);
    return f && f->verified ? 1 : 0;
}

int smtpc_client_tls_resumed(const smtpc_client *client) {
    const TlsFacts *f = facts(client);
    return f && f->resumed ? 1 : 0;
}

const char *smtpc_client_tls_version(const smtpc_client *client) {
    const TlsFacts *f = facts(client);
    return f ? f->version.c_str() : "";
}

const char *smtpc_client_tls_cipher(const smtpc_client *client) {
    const TlsFacts *f = facts(client);
    return f ? f->cipher.c_str() : "";
}

const char *smtpc_client_tls_peer_subject(const smtpc_client *client) {
    const TlsFacts *f = facts(client);
    return f ? f->peer_subject.c_str() : "";
}

const char *smtpc_client_tls_peer_fingerprint(const smtpc_client *client) {
    const TlsFacts *f = facts(client);
    return f ? f->peer_fingerprint.c_str() : "";
}

int smtpc_client_tls_verify_result(const smtpc_client *client) {
    // X509_V_ERR_* codes are small positive ints; OpenSSL returns them as long.
    return client ? static_cast<int>(client->impl.tls_verify_result()) : 0;
}

}  // extern "C"
