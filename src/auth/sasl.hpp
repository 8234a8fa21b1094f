// SPDX-License-Identifier: MIT
// SASL mechanisms for SMTP AUTH (RFC 4954). IO-free: each mechanism turns server challenges into
// responses; the engine carries them over the wire (base64, 334 rounds, limits).
#pragma once

#include "smtpc.h"

#include "../util/wipe.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace smtpc::detail {

// A credential, or anything made from one (a SASL message, its base64, an AUTH line). Its bytes live in
// one allocated block (reserved beyond the small-string buffer on construction) from a wiping
// allocator, so that growth, wipe() and destruction all leave zeros behind. Not copyable: a copy is a
// new SecretString, made on purpose.
class SecretString {
  public:
    SecretString() { s_.reserve(kWipingMinCapacity); }
    explicit SecretString(std::string_view s) : SecretString() { s_.append(s.data(), s.size()); }
    SecretString(const SecretString &) = delete;
    SecretString &operator=(const SecretString &) = delete;
    ~SecretString() { wipe(); }
    void assign(std::string_view s) {
        wipe();
        s_.append(s.data(), s.size());
    }
    SecretString &append(std::string_view s) {
        s_.append(s.data(), s.size());
        return *this;
    }
    void wipe() noexcept { smtpc::detail::wipe(s_); }
    bool empty() const { return s_.empty(); }
    std::size_t size() const { return s_.size(); }
    std::string_view view() const { return std::string_view(s_.data(), s_.size()); }
    WipingString &str() { return s_; }
    const WipingString &str() const { return s_; }

  private:
    WipingString s_;
};

}  // namespace smtpc::detail

// The public opaque type, completed here: a callback's view of the buffer it fills.
struct smtpc_auth_response {
    smtpc::detail::SecretString *out;
    bool set = false;
};

namespace smtpc::detail {

class SaslMechanism {
  public:
    enum class Step { Respond, None, Abort };

    virtual ~SaslMechanism() = default;
    virtual std::string_view name() const = 0;
    // The initial response to send with the AUTH command (RFC 4954), or Step::None for none.
    virtual Step initial(SecretString &out, std::string &error) {
        (void)out;
        (void)error;
        return Step::None;
    }
    // The response to a decoded server challenge.
    virtual Step respond(std::string_view challenge, SecretString &out, std::string &error) = 0;
    // False until the mechanism has seen everything it needs from the server (SCRAM: the server's
    // signature). A 235 before that is not trusted.
    virtual bool complete() const { return true; }
    // The status when the mechanism itself aborts.
    virtual smtpc_status abort_status() const { return SMTPC_EAUTH; }
    // Detail the server gave in a challenge before refusing (the XOAUTH2/OAUTHBEARER JSON error).
    virtual std::string failure_detail() const { return {}; }
};

std::unique_ptr<SaslMechanism> make_plain(std::string_view authzid, std::string_view user,
                                          std::string_view password);
std::unique_ptr<SaslMechanism> make_login(std::string_view user, std::string_view password);
std::unique_ptr<SaslMechanism> make_cram_md5(std::string_view user, std::string_view password);
// `hash` is "SHA-1" or "SHA-256". `nonce` empty: a fresh random nonce (tests pass a fixed one).
std::unique_ptr<SaslMechanism> make_scram(std::string_view hash, std::string_view authzid,
                                          std::string_view user, std::string_view password,
                                          std::string_view nonce = {});
// "XOAUTH2" or "OAUTHBEARER" (RFC 7628; host and port are sent as the RFC suggests).
std::unique_ptr<SaslMechanism> make_oauth(std::string_view mechanism, std::string_view user,
                                          std::string_view token, std::string_view host, unsigned port);
// A mechanism implemented by the caller through the C callback.
std::unique_ptr<SaslMechanism> make_callback(std::string_view mechanism, smtpc_auth_fn fn, void *userdata);

// The SCRAM mechanisms' iteration count is capped so that a hostile server cannot make the client
// burn CPU for minutes.
constexpr unsigned long kMaxScramIterations = 1000000;

}  // namespace smtpc::detail
