// SPDX-License-Identifier: MIT
// Envelopes and per-recipient results: the data of one mail transaction.
#pragma once

#include "command.hpp"
#include "extensions.hpp"
#include "reply.hpp"

#include <optional>
#include <string>
#include <vector>

// Public opaque types, completed here (see reply.hpp for why).
struct smtpc_envelope {
    smtpc::detail::Address sender;  // empty: the null reverse-path
    bool sender_set = false;        // set explicitly (send_message: else from the headers)
    std::vector<smtpc::detail::Address> recipients;
    std::vector<std::string> mail_options;
    std::vector<std::string> rcpt_options;
    // Typed ESMTP parameters (proto/extensions.hpp): MAIL FROM's, and each RCPT TO's by index (the
    // vector may be shorter than recipients: the rest have none).
    smtpc::detail::MailExtensions ext;
    std::vector<smtpc::detail::RcptExtensions> rcpt_ext;
    std::string errmsg;  // why the last call on the handle failed (smtpc_envelope_errmsg), "" after a success
};

namespace smtpc::detail {

struct RecipientResult {
    std::string address;
    smtpc_rcpt_state state = SMTPC_RCPT_NOT_ATTEMPTED;
    std::optional<Reply> rcpt_reply;
    std::optional<Reply> data_reply;
};

}  // namespace smtpc::detail

struct smtpc_result {
    std::optional<smtpc::detail::Reply> mail_reply;
    std::vector<smtpc::detail::RecipientResult> recipients;
};

namespace smtpc::detail {
using Envelope = ::smtpc_envelope;
using Result = ::smtpc_result;
}  // namespace smtpc::detail
