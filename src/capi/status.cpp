// SPDX-License-Identifier: MIT
// Version, status texts and the exception translation of the C facade.
#include "guard.hpp"

using smtpc::detail::translate_current_exception;

namespace {

struct StatusInfo {
    smtpc_status code;
    const char *name;
    const char *text;
};

constexpr StatusInfo kStatuses[] = {
    {SMTPC_OK, "SMTPC_OK", "success"},
    {SMTPC_EINVAL, "SMTPC_EINVAL", "invalid argument"},
    {SMTPC_ENOMEM, "SMTPC_ENOMEM", "out of memory"},
    {SMTPC_EINTERNAL, "SMTPC_EINTERNAL", "internal error in the library"},
    {SMTPC_ESTATE, "SMTPC_ESTATE", "call not valid in the current state"},
    {SMTPC_ENOTCONN, "SMTPC_ENOTCONN", "not connected"},
    {SMTPC_ERESOLVE, "SMTPC_ERESOLVE", "host name could not be resolved"},
    {SMTPC_ECONNECT, "SMTPC_ECONNECT", "could not connect to the server"},
    {SMTPC_ETIMEOUT, "SMTPC_ETIMEOUT", "timed out"},
    {SMTPC_EIO, "SMTPC_EIO", "input/output error"},
    {SMTPC_EDISCONNECTED, "SMTPC_EDISCONNECTED", "server closed the connection unexpectedly"},
    {SMTPC_EPROTOCOL, "SMTPC_EPROTOCOL", "invalid reply from the server"},
    {SMTPC_EGREETING, "SMTPC_EGREETING", "server greeting was not 220"},
    {SMTPC_EHELO, "SMTPC_EHELO", "server refused EHLO and HELO"},
    {SMTPC_EREPLY, "SMTPC_EREPLY", "server replied with an error"},
    {SMTPC_ECLOSING, "SMTPC_ECLOSING", "server is closing the connection (421)"},
    {SMTPC_ESENDER_REFUSED, "SMTPC_ESENDER_REFUSED", "sender address refused"},
    {SMTPC_ERECIPIENTS_REFUSED, "SMTPC_ERECIPIENTS_REFUSED", "all recipients refused"},
    {SMTPC_EDATA_REFUSED, "SMTPC_EDATA_REFUSED", "message data refused"},
    {SMTPC_EDELIVERY_UNKNOWN, "SMTPC_EDELIVERY_UNKNOWN",
     "connection lost after the message was sent; delivery unknown"},
    {SMTPC_ENOTSUPPORTED, "SMTPC_ENOTSUPPORTED", "server does not support the requested extension"},
    {SMTPC_EAUTH, "SMTPC_EAUTH", "authentication failed"},
    {SMTPC_EUSER, "SMTPC_EUSER", "aborted by a callback"},
    {SMTPC_ETLS, "SMTPC_ETLS", "TLS failure"},
    {SMTPC_ETLS_VERIFY, "SMTPC_ETLS_VERIFY", "server certificate verification failed"},
    {SMTPC_ETLS_REQUIRED, "SMTPC_ETLS_REQUIRED", "TLS is required but not available"},
    {SMTPC_EAUTH_MECHANISM, "SMTPC_EAUTH_MECHANISM", "no suitable authentication mechanism"},
    {SMTPC_EAUTH_INSECURE, "SMTPC_EAUTH_INSECURE",
     "refusing to send credentials over an insecure connection"},
    {SMTPC_ECANCELLED, "SMTPC_ECANCELLED", "cancelled"},
    {SMTPC_EAGAIN, "SMTPC_EAGAIN", "operation in progress (non-blocking mode)"},
};

const StatusInfo *find_status(smtpc_status code) {
    for (const auto &s : kStatuses)
        if (s.code == code) return &s;
    return nullptr;
}

}  // namespace

extern "C" {

unsigned int smtpc_version_number(void) { return SMTPC_VERSION_NUMBER; }

const char *smtpc_version(void) { return SMTPC_VERSION_STRING; }

const char *smtpc_strerror(smtpc_status status) {
    const StatusInfo *s = find_status(status);
    return s ? s->text : "unknown status";
}

const char *smtpc_status_name(smtpc_status status) {
    const StatusInfo *s = find_status(status);
    return s ? s->name : "SMTPC_UNKNOWN";
}

}  // extern "C"

namespace smtpc::detail {

smtpc_status translate_current_exception(smtpc_client *client) noexcept {
    smtpc_status status = SMTPC_EINTERNAL;
    const char *what = "unknown exception";
    try {
        throw;
    } catch (const std::bad_alloc &) {
        status = SMTPC_ENOMEM;
        what = "out of memory";
    } catch (const std::exception &e) {
        what = e.what();
    } catch (...) {
    }
    if (client) {
        try {
            client->impl.close();
            client->impl.record(status, std::string("operation abandoned, connection closed: ") + what);
        } catch (...) {
            client->impl.record(status);  // no message: there is no memory for one
        }
    }
    return status;
}

}  // namespace smtpc::detail
