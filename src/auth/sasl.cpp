// SPDX-License-Identifier: MIT
// PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195), XOAUTH2, OAUTHBEARER (RFC 7628) and caller-supplied
// mechanisms.
#include "sasl.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace smtpc::detail {

namespace {

class Plain final : public SaslMechanism {
  public:
    Plain(std::string_view authzid, std::string_view user, std::string_view password) {
        message_.append(authzid).append(std::string_view("\0", 1)).append(user);
        message_.append(std::string_view("\0", 1)).append(password);
    }
    std::string_view name() const override { return "PLAIN"; }
    Step initial(SecretString &out, std::string &) override {
        out.assign(message_.view());
        return Step::Respond;
    }
    Step respond(std::string_view challenge, SecretString &out, std::string &error) override {
        if (!challenge.empty() || sent_) {
            error = "unexpected challenge for PLAIN";
            return Step::Abort;
        }
        sent_ = true;
        out.assign(message_.view());
        return Step::Respond;
    }

  private:
    SecretString message_;
    bool sent_ = false;
};

// LOGIN: the user name, then the password, whatever the prompts say (they differ between servers).
class Login final : public SaslMechanism {
  public:
    Login(std::string_view user, std::string_view password) : user_(user), password_(password) {}
    std::string_view name() const override { return "LOGIN"; }
    Step initial(SecretString &out, std::string &) override {
        out.assign(user_.view());
        stage_ = 1;
        return Step::Respond;
    }
    Step respond(std::string_view, SecretString &out, std::string &error) override {
        if (stage_ >= 2) {
            error = "unexpected third challenge for LOGIN";
            return Step::Abort;
        }
        out.assign(stage_ == 0 ? user_.view() : password_.view());
        ++stage_;
        return Step::Respond;
    }

  private:
    SecretString user_, password_;
    int stage_ = 0;
};

class CramMd5 final : public SaslMechanism {
  public:
    CramMd5(std::string_view user, std::string_view password) : user_(user), password_(password) {}
    std::string_view name() const override { return "CRAM-MD5"; }
    Step respond(std::string_view challenge, SecretString &out, std::string &error) override {
        if (done_ || challenge.empty()) {
            error = done_ ? "unexpected second challenge for CRAM-MD5" : "empty CRAM-MD5 challenge";
            return Step::Abort;
        }
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (!HMAC(EVP_md5(), password_.str().data(), static_cast<int>(password_.str().size()),
                  reinterpret_cast<const unsigned char *>(challenge.data()), challenge.size(), mac, &len)) {
            error = "HMAC-MD5 is not available";
            return Step::Abort;
        }
        // The digest stands in for the password: hex-encoded straight into the wiped response.
        static const char hex[] = "0123456789abcdef";
        out.assign(user_.view());
        out.append(" ");
        for (unsigned int i = 0; i < len; ++i) {
            out.str().push_back(hex[mac[i] >> 4]);
            out.str().push_back(hex[mac[i] & 15]);
        }
        OPENSSL_cleanse(mac, sizeof mac);
        done_ = true;
        return Step::Respond;
    }

  private:
    SecretString user_, password_;
    bool done_ = false;
};

// XOAUTH2 and OAUTHBEARER: one message with the token; an error challenge (JSON) is answered with the
// empty response (XOAUTH2) or a lone 0x01 (OAUTHBEARER), after which the server sends its failure.
class OAuth final : public SaslMechanism {
  public:
    OAuth(std::string_view mechanism, std::string_view user, std::string_view token, std::string_view host,
          unsigned port)
        : bearer_(mechanism == "OAUTHBEARER") {
        WipingString &m = message_.str();
        if (bearer_) {
            m.append("n,a=").append(user).append(",\x01");
            if (!host.empty()) m.append("host=").append(host).append("\x01");
            if (port) m.append("port=").append(std::to_string(port)).append("\x01");
            m.append("auth=Bearer ").append(token).append("\x01\x01");
        } else {
            m.append("user=")
                .append(user)
                .append("\x01"
                        "auth=Bearer ")
                .append(token)
                .append("\x01\x01");
        }
    }
    std::string_view name() const override { return bearer_ ? "OAUTHBEARER" : "XOAUTH2"; }
    Step initial(SecretString &out, std::string &) override {
        out.assign(message_.view());
        sent_ = true;
        return Step::Respond;
    }
    Step respond(std::string_view challenge, SecretString &out, std::string &error) override {
        if (!sent_ && challenge.empty()) {  // initial response not allowed: send it now
            sent_ = true;
            out.assign(message_.view());
            return Step::Respond;
        }
        if (!detail_.empty()) {
            error = "unexpected second challenge for " + std::string(name());
            return Step::Abort;
        }
        detail_.assign(challenge.substr(0, 512));
        if (detail_.empty()) detail_ = "(empty error challenge)";
        out.assign(bearer_ ? "\x01" : "");
        return Step::Respond;
    }
    std::string failure_detail() const override { return detail_; }

  private:
    bool bearer_;
    bool sent_ = false;
    SecretString message_;
    std::string detail_;
};

class Callback final : public SaslMechanism {
  public:
    Callback(std::string_view mechanism, smtpc_auth_fn fn, void *userdata)
        : name_(mechanism), fn_(fn), userdata_(userdata) {}
    std::string_view name() const override { return name_; }
    Step initial(SecretString &out, std::string &error) override {
        smtpc_auth_response resp{&out};
        if (fn_(nullptr, 0, 1, &resp, userdata_) != 0) {
            error = "the authentication callback aborted";
            return Step::Abort;
        }
        return resp.set ? Step::Respond : Step::None;
    }
    Step respond(std::string_view challenge, SecretString &out, std::string &error) override {
        smtpc_auth_response resp{&out};
        if (fn_(challenge.data(), challenge.size(), 0, &resp, userdata_) != 0) {
            error = "the authentication callback aborted";
            return Step::Abort;
        }
        if (!resp.set) out.wipe();
        return Step::Respond;
    }
    smtpc_status abort_status() const override { return SMTPC_EUSER; }

  private:
    std::string name_;
    smtpc_auth_fn fn_;
    void *userdata_;
};

}  // namespace

std::unique_ptr<SaslMechanism> make_plain(std::string_view authzid, std::string_view user,
                                          std::string_view password) {
    return std::make_unique<Plain>(authzid, user, password);
}

std::unique_ptr<SaslMechanism> make_login(std::string_view user, std::string_view password) {
    return std::make_unique<Login>(user, password);
}

std::unique_ptr<SaslMechanism> make_cram_md5(std::string_view user, std::string_view password) {
    return std::make_unique<CramMd5>(user, password);
}

std::unique_ptr<SaslMechanism> make_oauth(std::string_view mechanism, std::string_view user,
                                          std::string_view token, std::string_view host, unsigned port) {
    return std::make_unique<OAuth>(mechanism, user, token, host, port);
}

std::unique_ptr<SaslMechanism> make_callback(std::string_view mechanism, smtpc_auth_fn fn, void *userdata) {
    return std::make_unique<Callback>(mechanism, fn, userdata);
}

}  // namespace smtpc::detail

// smtpc_auth_response_set(), the C entry point that fills smtpc_auth_response, is in src/capi/auth.cpp.
