// SPDX-License-Identifier: MIT
// SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677), without channel binding ("n,," GS2 header).
// The server's signature is always verified: a server that cannot prove it knows the password is
// refused even if it answers 235.
#include "base64.hpp"
#include "sasl.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <vector>

namespace smtpc::detail {

namespace {

// saslname: '=' and ',' escaped (RFC 5802 section 5.1).
std::string escape_name(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '=') out.append("=3D");
        else if (c == ',') out.append("=2C");
        else out.push_back(c);
    }
    return out;
}

// Splits "a=...,b=...": attribute letters with their values, in order.
bool parse_attributes(std::string_view msg, std::vector<std::pair<char, std::string_view>> &out) {
    out.clear();
    std::size_t pos = 0;
    while (pos <= msg.size()) {
        std::size_t end = msg.find(',', pos);
        if (end == std::string_view::npos) end = msg.size();
        std::string_view part = msg.substr(pos, end - pos);
        if (part.size() < 2 || part[1] != '=') return false;
        out.emplace_back(part[0], part.substr(2));
        pos = end + 1;
    }
    return !out.empty();
}

class Scram final : public SaslMechanism {
  public:
    Scram(std::string_view hash, std::string_view authzid, std::string_view user, std::string_view password,
          std::string_view nonce)
        : md_(hash == "SHA-256" ? EVP_sha256() : EVP_sha1()),
          name_(hash == "SHA-256" ? "SCRAM-SHA-256" : "SCRAM-SHA-1"), password_(password) {
        gs2_ = authzid.empty() ? "n,," : "n,a=" + escape_name(authzid) + ",";
        nonce_.assign(nonce);
        user_ = escape_name(user);
    }
    std::string_view name() const override { return name_; }

    Step initial(SecretString &out, std::string &error) override {
        if (nonce_.empty()) {
            unsigned char raw[24];
            if (RAND_bytes(raw, sizeof raw) != 1) {
                error = "no random bytes for the SCRAM nonce";
                return Step::Abort;
            }
            nonce_ = base64_encode(std::string_view(reinterpret_cast<char *>(raw), sizeof raw));
        }
        client_first_bare_ = "n=" + user_ + ",r=" + nonce_;
        out.assign(gs2_ + client_first_bare_);
        stage_ = 1;
        return Step::Respond;
    }

    Step respond(std::string_view challenge, SecretString &out, std::string &error) override {
        if (stage_ == 0) {  // initial response not allowed: the server sent an empty challenge first
            if (!challenge.empty()) {
                error = "unexpected SCRAM challenge before the client's first message";
                return Step::Abort;
            }
            return initial(out, error);
        }
        if (stage_ == 1) return server_first(challenge, out, error);
        if (stage_ == 2) return server_final(challenge, out, error);
        error = "unexpected challenge after SCRAM completed";
        return Step::Abort;
    }

    bool complete() const override { return stage_ == 3; }

  private:
    bool hmac(std::string_view key, std::string_view data, unsigned char *out) const {
        unsigned int len = 0;
        return HMAC(md_, key.data(), static_cast<int>(key.size()),
                    reinterpret_cast<const unsigned char *>(data.data()), data.size(), out, &len) != nullptr;
    }

    Step server_first(std::string_view msg, SecretString &out, std::string &error) {
        std::vector<std::pair<char, std::string_view>> attrs;
        if (!parse_attributes(msg, attrs) || attrs.size() < 3 || attrs[0].first != 'r' ||
            attrs[1].first != 's' || attrs[2].first != 'i') {
            if (!attrs.empty() && attrs[0].first == 'e')
                error = "server error: " + std::string(attrs[0].second);
            else if (!attrs.empty() && attrs[0].first == 'm') error = "unsupported mandatory SCRAM extension";
            else error = "malformed SCRAM server-first message";
            return Step::Abort;
        }
        std::string_view nonce = attrs[0].second;
        if (nonce.size() <= nonce_.size() || nonce.substr(0, nonce_.size()) != nonce_) {
            error = "SCRAM server nonce does not extend the client nonce";
            return Step::Abort;
        }
        std::string salt;
        if (!base64_decode(attrs[1].second, salt) || salt.empty()) {
            error = "malformed SCRAM salt";
            return Step::Abort;
        }
        unsigned long iterations = 0;
        for (char c : attrs[2].second) {
            if (c < '0' || c > '9' || iterations > kMaxScramIterations) {
                error = "malformed or excessive SCRAM iteration count";
                return Step::Abort;
            }
            iterations = iterations * 10 + static_cast<unsigned long>(c - '0');
        }
        if (iterations == 0 || iterations > kMaxScramIterations) {
            error = "SCRAM iteration count out of range (1.." + std::to_string(kMaxScramIterations) + ")";
            return Step::Abort;
        }

        const int dlen = EVP_MD_size(md_);
        const auto n = static_cast<std::size_t>(dlen);
        // Everything derived from the password lets its holder log in (ClientKey = proof ^ HMAC(StoredKey,
        // AuthMessage)): wiped before return, as OpenSSL wipes its own copies in the HMAC and KDF contexts.
        struct Keys {
            unsigned char salted[EVP_MAX_MD_SIZE], client_key[EVP_MAX_MD_SIZE], stored_key[EVP_MAX_MD_SIZE];
            unsigned char client_sig[EVP_MAX_MD_SIZE], server_key[EVP_MAX_MD_SIZE], proof[EVP_MAX_MD_SIZE];
            ~Keys() { OPENSSL_cleanse(this, sizeof *this); }
        } k;
        const SecretString &pw = password_;
        std::string without_proof = "c=" + base64_encode(gs2_) + ",r=" + std::string(nonce);
        std::string auth_message = client_first_bare_ + "," + std::string(msg) + "," + without_proof;
        auto as_view = [](const unsigned char *p, std::size_t len) {
            return std::string_view(reinterpret_cast<const char *>(p), len);
        };
        bool ok = PKCS5_PBKDF2_HMAC(pw.view().data(), static_cast<int>(pw.size()),
                                    reinterpret_cast<const unsigned char *>(salt.data()),
                                    static_cast<int>(salt.size()), static_cast<int>(iterations), md_, dlen,
                                    k.salted) == 1 &&
                  hmac(as_view(k.salted, n), "Client Key", k.client_key) &&
                  EVP_Digest(k.client_key, n, k.stored_key, nullptr, md_, nullptr) == 1 &&
                  hmac(as_view(k.stored_key, n), auth_message, k.client_sig) &&
                  hmac(as_view(k.salted, n), "Server Key", k.server_key) &&
                  hmac(as_view(k.server_key, n), auth_message, server_signature_);
        signature_len_ = n;
        if (!ok) {
            error = "SCRAM computation failed";
            return Step::Abort;
        }
        for (std::size_t i = 0; i < n; ++i) k.proof[i] = k.client_key[i] ^ k.client_sig[i];
        out.assign(without_proof);
        out.append(",p=");
        base64_encode(as_view(k.proof, n), out.str());
        stage_ = 2;
        return Step::Respond;
    }

    Step server_final(std::string_view msg, SecretString &out, std::string &error) {
        std::vector<std::pair<char, std::string_view>> attrs;
        if (!parse_attributes(msg, attrs)) {
            error = "malformed SCRAM server-final message";
            return Step::Abort;
        }
        if (attrs[0].first == 'e') {
            error = "server error: " + std::string(attrs[0].second);
            return Step::Abort;
        }
        std::string sig;
        if (attrs[0].first != 'v' || !base64_decode(attrs[0].second, sig) || sig.size() != signature_len_ ||
            CRYPTO_memcmp(sig.data(), server_signature_, signature_len_) != 0) {
            error = "the server's SCRAM signature does not verify: it does not know the password";
            return Step::Abort;
        }
        stage_ = 3;
        out.wipe();  // RFC 4954: the client answers the final challenge with an empty response
        return Step::Respond;
    }

    const EVP_MD *md_;
    std::string name_;
    SecretString password_;
    std::string gs2_, user_, nonce_, client_first_bare_;
    unsigned char server_signature_[EVP_MAX_MD_SIZE] = {};
    std::size_t signature_len_ = 0;
    int stage_ = 0;  // 0 nothing sent, 1 client-first sent, 2 client-final sent, 3 verified
};

}  // namespace

std::unique_ptr<SaslMechanism> make_scram(std::string_view hash, std::string_view authzid,
                                          std::string_view user, std::string_view password,
                                          std::string_view nonce) {
    return std::make_unique<Scram>(hash, authzid, user, password, nonce);
}

}  // namespace smtpc::detail
