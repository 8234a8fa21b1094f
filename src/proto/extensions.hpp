// SPDX-License-Identifier: MIT
// Typed ESMTP parameters of a mail transaction: DSN (RFC 3461, RFC 6533), REQUIRETLS (RFC 8689),
// MT-PRIORITY (RFC 6710), DELIVERBY (RFC 2852), FUTURERELEASE (RFC 4865), AUTH= (RFC 4954 section
// 5), BODY (RFC 6152, RFC 3030) and SMTPUTF8 (RFC 6531).
//
// Sans-IO: values are checked when the caller sets them (check_* below), and encoded and checked
// against the server's EHLO features when a transaction starts (build_params), before anything is
// queued. Nothing here touches a socket or a clock.
#pragma once

#include "command.hpp"
#include "features.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct smtpc_envelope;

namespace smtpc::detail {

// The typed parameters of MAIL FROM, as the caller set them (already checked).
struct MailExtensions {
    int dsn_ret = SMTPC_DSN_RET_UNSET;
    std::optional<std::string> envid;  // unencoded
    bool dsn_optional = false;         // drop DSN parameters silently when DSN is not offered
    bool requiretls = false;
    std::optional<int> mt_priority;
    struct DeliverBy {
        long long seconds = 0;
        bool notify = false;  // N, else R
        bool trace = false;
    };
    std::optional<DeliverBy> deliver_by;
    std::optional<std::uint64_t> hold_for;
    std::optional<std::string> hold_until;  // RFC 3339, as given
    std::optional<std::string> auth;        // unencoded; "" is "<>"
    int body = SMTPC_BODY_AUTO;
    int smtputf8 = SMTPC_SMTPUTF8_AUTO;

    bool has_dsn() const { return dsn_ret != SMTPC_DSN_RET_UNSET || envid.has_value(); }
};

// The typed parameters of one RCPT TO.
struct RcptExtensions {
    unsigned notify = 0;
    std::optional<std::string> orcpt;  // the original recipient address, unencoded
    bool has_dsn() const { return notify != 0 || orcpt.has_value(); }
};

// What a message held in memory looks like, found in one pass before it is sent.
struct BodyFacts {
    bool known = false;            // false for a streamed message: nothing is chosen from the content
    bool eight_bit = false;        // a byte >= 0x80 anywhere
    bool header_utf8 = false;      // a byte >= 0x80 in the header section
    const char *binary = nullptr;  // why it is not 8BITMIME text (NUL, bare CR, long line), or null
};

BodyFacts scan_body(const std::vector<std::string_view> &pieces);

// xtext (RFC 3461 section 4): '!'..'~' except '+' and '=' as is, every other octet as "+HH".
std::string xtext_encode(std::string_view raw);
// Decodes xtext; false for a malformed "+HH" (lower-case hex is refused, as the RFC's grammar says).
bool xtext_decode(std::string_view xtext, std::string &raw);

// The ORCPT value: "rfc822;" + xtext for an ASCII address; "utf-8;" + RFC 6533 utf-8-addr-unitext
// (UTF-8 as is) when `utf8_session`, else utf-8-addr-xtext (non-ASCII as "\x{HEX}"). '+', '=', '\\'
// and non-printables are escaped in the utf-8 forms. The address must be valid UTF-8.
std::string orcpt_encode(std::string_view address, bool utf8_session);

// Checks of the values the caller gives; each fails with SMTPC_EINVAL and says why.
Check check_envid(std::string_view envid);
Check check_notify(unsigned notify);
Check check_orcpt(std::string_view address);
Check check_auth_identity(std::string_view identity);
Check check_hold_until(std::string_view time);
Check check_deliver_by(long long seconds, int mode);

// RFC 3339 date-time to seconds since the epoch (UTC); false when malformed.
bool parse_rfc3339(std::string_view text, long long &epoch);

// The EHLO facts build_params needs.
struct SessionFacts {
    const Features *features = nullptr;
    bool esmtp = false;
    bool chunking_allowed = true;  // smtpc_client_set_chunking
};

// The parameters to send, built from the envelope's typed and raw parameters.
struct Params {
    std::vector<std::string> mail;               // SIZE (when given) first, then typed, then raw
    std::vector<std::vector<std::string>> rcpt;  // one list per recipient
    bool utf8 = false;                           // SMTPUTF8 is on MAIL FROM
    bool binary = false;                         // BODY=BINARYMIME: the body goes as is, with BDAT
};

// True when the message goes as BINARYMIME (typed, or chosen from its content); the driver needs to
// know before the transaction starts (SIZE counts the message as is, not normalised).
bool body_is_binary(const ::smtpc_envelope &env, const BodyFacts &facts, const SessionFacts &session);

// Builds MAIL and RCPT parameters; SMTPC_ENOTSUPPORTED (naming the extension) when the server does
// not offer what a typed parameter needs, SMTPC_EINVAL for a conflict (the same keyword twice) or
// an address that needs SMTPUTF8 when it is off. `size` is the SIZE= value, if any.
Check build_params(const ::smtpc_envelope &env, const SessionFacts &session, const BodyFacts &facts,
                   std::optional<std::uint64_t> size, Params &out);

// REQUIRETLS (RFC 8689 section 4.1): the session must be TLS with a verified certificate and the
// server must offer REQUIRETLS in its EHLO reply after STARTTLS. OK when REQUIRETLS is not asked for.
Check check_requiretls(const ::smtpc_envelope &env, const SessionFacts &session, bool tls, bool verified);

}  // namespace smtpc::detail
