/* SPDX-License-Identifier: MIT */
/*
 * smtpc — an SMTP/LMTP client library.
 *
 * This file is the whole public API. Anything not declared here is private and may change at any time.
 *
 * Conventions (see docs/api-conventions.md):
 *  - Every fallible function returns an smtpc_status: SMTPC_OK (0) or a negative SMTPC_E* code.
 *    smtpc_strerror() gives static text for a code; smtpc_client_errmsg() gives the detail of the last
 *    failure on a client handle.
 *  - Handles are opaque. A handle returned through a `**out` parameter is owned by the caller and is
 *    released with its matching *_free() function; *_free(NULL) does nothing.
 *  - Pointers returned directly (const) are borrowed: they stay valid for the lifetime stated on the
 *    function, and must not be freed.
 *  - Strings passed in are (pointer, length) pairs. A length of SMTPC_NTS means "NUL-terminated",
 *    for every string argument of every function; a NULL pointer with length 0 or SMTPC_NTS is the
 *    empty string. Data passed in is validated as the bytes that would go on the wire: CR, LF and NUL
 *    are refused in every command argument, so a string cut short at an embedded NUL is never sent
 *    silently.
 *  - Callbacks take a `void *userdata` last. A callback must not unwind (C++ exceptions, longjmp,
 *    Rust panics) into the library.
 *  - Callbacks and their own client (re-entry): while a client is inside one of its calls, a callback
 *    of that call (trace, read, AUTH, token, progress) may use the client only as follows.
 *     - Every function returning smtpc_status returns SMTPC_ESTATE and does nothing: nothing is sent
 *       or read, no option changes, and the error state (errmsg, last status) stays that of the
 *       running call.
 *     - The getters (const smtpc_client *: errmsg, last status, replies, features, result, TLS facts,
 *       is_connected, ...) work and describe the session as it is at that moment; what they return
 *       is borrowed until the callback returns.
 *     - smtpc_client_close() is deferred: the connection is closed when the running call returns,
 *       keeping that call's status, reply and result. smtpc_client_free() is deferred likewise: the
 *       handle is freed when the running call returns, which the caller of that call must then no
 *       longer use. Either one also aborts the running call at its next read, AUTH, token or
 *       progress callback (as if that callback had returned non-zero: SMTPC_EUSER); trace callbacks
 *       cannot abort, so a call whose only callback is the trace completes first.
 *     - smtpc_client_cancel() is the exception: it works from any callback (it only raises a flag)
 *       and stops the running call at its next wait, as from another thread.
 *    Other handles (another client, envelopes, replies, TLS configurations) may be used freely, but
 *    the envelope and message buffers passed to the running call must stay valid until it returns.
 *
 * Threads: distinct handles may be used from distinct threads at the same time. One handle must be
 * used by one thread at a time, except smtpc_client_cancel(), which any thread (or a signal handler)
 * may call while another thread is inside a call on the handle. smtpc_strerror() and the version
 * functions are safe from any thread.
 * The library changes no process-global state (no signal handlers, no locale).
 */
#ifndef SMTPC_H
#define SMTPC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Version and export                                                                             */
/* ---------------------------------------------------------------------------------------------- */

/** Release version of these headers. The library's own version is smtpc_version_number(). */
#define SMTPC_VERSION_MAJOR 0
#define SMTPC_VERSION_MINOR 1
#define SMTPC_VERSION_PATCH 0
#define SMTPC_VERSION_STRING "0.1.0"
/** Version as one number, MAJOR * 10000 + MINOR * 100 + PATCH (0.1.0 is 100). */
#define SMTPC_VERSION_NUMBER (SMTPC_VERSION_MAJOR * 10000 + SMTPC_VERSION_MINOR * 100 + SMTPC_VERSION_PATCH)

#ifndef SMTPC_API
#if defined(_WIN32) && defined(SMTPC_BUILDING_DLL)
#define SMTPC_API __declspec(dllexport)
#elif defined(_WIN32) && defined(SMTPC_USING_DLL)
#define SMTPC_API __declspec(dllimport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define SMTPC_API __attribute__((visibility("default")))
#else
#define SMTPC_API
#endif
#endif

/** Length value meaning "the string is NUL-terminated; measure it". */
#define SMTPC_NTS ((size_t)-1)

/** Default TCP ports. */
#define SMTPC_SMTP_PORT 25
#define SMTPC_LMTP_PORT 2003

/**
 * The library's version as SMTPC_VERSION_NUMBER computes it, for comparing the library actually
 * loaded with the headers a program was built against. Thread-safe.
 */
SMTPC_API unsigned int smtpc_version_number(void);

/** The library's version as a static NUL-terminated string such as "0.1.0". Thread-safe. */
SMTPC_API const char *smtpc_version(void);

/* ---------------------------------------------------------------------------------------------- */
/* Status codes                                                                                   */
/* ---------------------------------------------------------------------------------------------- */

/**
 * Result of every fallible call. Values are stable: codes are only ever appended, never renumbered.
 * The comment after each code names the Python smtplib exception it corresponds to, where one does.
 */
typedef int smtpc_status;

enum smtpc_status_code {
    SMTPC_OK = 0,
    /** An argument was invalid (NULL handle, CR/LF/NUL in a command argument, over a length limit,
     *  malformed address). Nothing was sent. (ValueError) */
    SMTPC_EINVAL = -1,
    /** Memory could not be allocated. On a client the call is abandoned and the connection closed (a
     *  session cut short is in an unknown state); the handle stays usable (connect again) and can be
     *  freed. A failure inside OpenSSL is reported as OpenSSL reports it: usually SMTPC_ETLS with its
     *  reason ("malloc failure"), SMTPC_EDELIVERY_UNKNOWN when it hit the reply to a sent message;
     *  OpenSSL hides some (a certificate check then fails, SMTPC_ETLS_VERIFY), but always closed: never
     *  a plaintext fallback. (MemoryError) */
    SMTPC_ENOMEM = -2,
    /** A bug in the library: an unexpected internal error was caught at the API boundary. */
    SMTPC_EINTERNAL = -3,
    /** The call is not valid in the handle's current state, e.g. connect() while connected. */
    SMTPC_ESTATE = -4,
    /** The client is not connected. (SMTPServerDisconnected: "please run connect() first") */
    SMTPC_ENOTCONN = -5,
    /** The host name could not be resolved. (socket.gaierror) */
    SMTPC_ERESOLVE = -6,
    /** No connection could be made to any address of the host; see smtpc_client_os_error(). (OSError) */
    SMTPC_ECONNECT = -7,
    /** A deadline passed: connect, a reply, or a write. The connection is closed. (TimeoutError) */
    SMTPC_ETIMEOUT = -8,
    /** A socket error other than a clean close (e.g. connection reset); see smtpc_client_os_error().
     *  The connection is closed. (OSError) */
    SMTPC_EIO = -9,
    /** The server closed the connection unexpectedly. When it sent a reply first, on a connection that
     *  was idle before a command, that reply is smtpc_client_last_reply(). (SMTPServerDisconnected) */
    SMTPC_EDISCONNECTED = -10,
    /** The server sent something that is not a valid SMTP reply (bad code, mismatched multiline codes,
     *  bare CR or LF, NUL, over-long line or reply, unsolicited data). The connection is closed. */
    SMTPC_EPROTOCOL = -11,
    /** The greeting was not 220. The reply is kept; the connection is closed. (SMTPConnectError) */
    SMTPC_EGREETING = -12,
    /** Neither EHLO nor HELO was accepted. The reply is kept. (SMTPHeloError) */
    SMTPC_EHELO = -13,
    /** The command got a 4xx or 5xx reply. The reply is kept. (SMTPResponseException) */
    SMTPC_EREPLY = -14,
    /** The server answered 421 (service closing), or sent it on an idle connection, found before the
     *  next command was sent. The reply is kept and the connection is closed. */
    SMTPC_ECLOSING = -15,
    /** MAIL FROM was refused. The reply is kept. (SMTPSenderRefused) */
    SMTPC_ESENDER_REFUSED = -16,
    /** Every recipient was refused; each one's reply is in the result. (SMTPRecipientsRefused) */
    SMTPC_ERECIPIENTS_REFUSED = -17,
    /** DATA, or the message after it, was refused. The reply is kept. (SMTPDataError) */
    SMTPC_EDATA_REFUSED = -18,
    /** The connection was lost after the whole message had been sent and before the server's reply
     *  to it: the message may or may not have been delivered. Resending risks a duplicate. */
    SMTPC_EDELIVERY_UNKNOWN = -19,
    /** The server does not offer an extension the call needs (e.g. SMTPUTF8). Nothing was sent.
     *  (SMTPNotSupportedError) */
    SMTPC_ENOTSUPPORTED = -20,
    /** Authentication failed. The reply is kept. (SMTPAuthenticationError) */
    SMTPC_EAUTH = -21,
    /** A user callback asked to abort the operation. */
    SMTPC_EUSER = -22,
    /** The TLS handshake or TLS I/O failed (protocol error, alert, unexpected end of the TLS stream).
     *  smtpc_client_errmsg() has OpenSSL's reason. The connection is closed. (ssl.SSLError) */
    SMTPC_ETLS = -23,
    /** The server's certificate failed verification (untrusted, expired, self-signed, name mismatch);
     *  smtpc_client_tls_verify_result() tells which. The connection is closed; there is never a
     *  plaintext fallback. (ssl.SSLCertVerificationError) */
    SMTPC_ETLS_VERIFY = -24,
    /** The TLS policy requires TLS and the server does not offer STARTTLS, refused it, or only HELO
     *  works. Nothing but EHLO/HELO was sent in plaintext; the connection is closed. */
    SMTPC_ETLS_REQUIRED = -25,
    /** The server offers AUTH, but none of the mechanisms the call may use. Nothing was sent. */
    SMTPC_EAUTH_MECHANISM = -26,
    /** Authentication refused by the client: the connection is neither TLS with a verified
     *  certificate nor to a peer on this machine, and smtpc_client_set_allow_insecure_auth() was not
     *  called. No credential was sent. */
    SMTPC_EAUTH_INSECURE = -27,
    /** smtpc_client_cancel() stopped the call. The connection is closed (the session's state is
     *  unknown). A message being sent has its recipients SMTPC_RCPT_ACCEPTED (not sent: cancelled
     *  before its end of data was written) or SMTPC_RCPT_UNKNOWN (cancelled after: it may have been
     *  delivered). */
    SMTPC_ECANCELLED = -28
};

/**
 * Static, NUL-terminated English text describing a status code ("unknown status" for an unknown
 * code). Never NULL. Thread-safe.
 */
SMTPC_API const char *smtpc_strerror(smtpc_status status);

/**
 * Static, NUL-terminated symbolic name of a status code, e.g. "SMTPC_EPROTOCOL" ("SMTPC_UNKNOWN"
 * for an unknown code). Never NULL. Thread-safe.
 */
SMTPC_API const char *smtpc_status_name(smtpc_status status);

/* ---------------------------------------------------------------------------------------------- */
/* Replies                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

/** A server reply: a code, an optional enhanced status code (RFC 3463) and one or more text lines. */
typedef struct smtpc_reply smtpc_reply;

/** The three-digit reply code (200..599). 0 for a NULL reply. */
SMTPC_API int smtpc_reply_code(const smtpc_reply *reply);

/**
 * The enhanced status code ("2.1.0"), NUL-terminated, or "" when the reply does not start with one
 * whose class matches the reply code. Borrowed from the reply. "" for a NULL reply.
 */
SMTPC_API const char *smtpc_reply_enhanced(const smtpc_reply *reply);

/**
 * The reply text joined as Python's smtplib joins it: each line's text after the code and separator,
 * stripped of spaces and tabs at both ends, joined with "\n". The enhanced status code, if any, stays
 * in the text. NUL-terminated (replies never contain NUL); *len (if len is not NULL) gets the length.
 * Borrowed from the reply. "" for a NULL reply.
 */
SMTPC_API const char *smtpc_reply_text(const smtpc_reply *reply, size_t *len);

/** Number of lines in the reply (at least 1). 0 for a NULL reply. */
SMTPC_API size_t smtpc_reply_line_count(const smtpc_reply *reply);

/**
 * Line `index` of the reply as received, after the code and separator and without the CRLF,
 * NUL-terminated; *len (if not NULL) gets its length. Borrowed from the reply. NULL when index is out
 * of range or reply is NULL.
 */
SMTPC_API const char *smtpc_reply_line(const smtpc_reply *reply, size_t index, size_t *len);

/**
 * Copy a reply so that it outlives the object it was borrowed from.
 * @param[out] out the copy, owned by the caller; release it with smtpc_reply_free().
 * @return SMTPC_OK; SMTPC_EINVAL when out or reply is NULL; SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_reply_dup(smtpc_reply **out, const smtpc_reply *reply);

/** Free a reply made by smtpc_reply_dup(). NULL is a no-op. Never pass a borrowed reply. */
SMTPC_API void smtpc_reply_free(smtpc_reply *reply);

/* ---------------------------------------------------------------------------------------------- */
/* Envelopes: sender, recipients and their ESMTP options for smtpc_client_sendmail()              */
/* ---------------------------------------------------------------------------------------------- */

/** A message envelope. Not tied to a client: one envelope may be sent through several clients. */
typedef struct smtpc_envelope smtpc_envelope;

/**
 * Create an empty envelope (sender "", the null reverse-path; no recipients; no options).
 * @param[out] out the new envelope, owned by the caller; release with smtpc_envelope_free().
 * @return SMTPC_OK; SMTPC_EINVAL when out is NULL; SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_envelope_new(smtpc_envelope **out);

/** Free an envelope. NULL is a no-op. */
SMTPC_API void smtpc_envelope_free(smtpc_envelope *env);

/**
 * Set the sender (reverse-path). `addr` is a bare address ("a@example.org"), the same in angle
 * brackets, or "" for the null reverse-path "<>". The address is checked as smtpc_client_mail()
 * checks it.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL env, CR/LF/NUL or other control character, malformed or
 *         over-long address: local part > 64, domain > 255, path > 256 octets, or invalid UTF-8);
 *         SMTPC_ENOMEM. On error the envelope is unchanged.
 */
SMTPC_API smtpc_status smtpc_envelope_set_sender(smtpc_envelope *env, const char *addr, size_t len);

/**
 * Append a recipient (forward-path), checked as the sender is; "" is refused. Recipients keep their
 * order; duplicates are kept (the server decides).
 * @return SMTPC_OK; SMTPC_EINVAL; SMTPC_ENOMEM. On error the envelope is unchanged.
 */
SMTPC_API smtpc_status smtpc_envelope_add_recipient(smtpc_envelope *env, const char *addr, size_t len);

/**
 * Append an ESMTP parameter for MAIL FROM (e.g. "BODY=8BITMIME", "SMTPUTF8", "RET=HDRS"). As in
 * smtplib, options are sent only to a server that answered EHLO. "SMTPUTF8" is refused with
 * SMTPC_ENOTSUPPORTED at send time when the server does not offer it. Do not pass SIZE: the library
 * adds SIZE itself when the server offers it.
 * @return SMTPC_OK; SMTPC_EINVAL (empty, contains a space, a control character or a non-ASCII byte,
 *         or is a SIZE parameter); SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_envelope_add_mail_option(smtpc_envelope *env, const char *opt, size_t len);

/**
 * Append an ESMTP parameter sent with every RCPT TO (e.g. "NOTIFY=SUCCESS,FAILURE").
 * @return SMTPC_OK; SMTPC_EINVAL (as for mail options); SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_envelope_add_rcpt_option(smtpc_envelope *env, const char *opt, size_t len);

/** Number of recipients in the envelope (0 for NULL). */
SMTPC_API size_t smtpc_envelope_recipient_count(const smtpc_envelope *env);

/* ---------------------------------------------------------------------------------------------- */
/* Per-recipient results                                                                          */
/* ---------------------------------------------------------------------------------------------- */

/** What became of one recipient of a transaction. */
typedef enum smtpc_rcpt_state {
    /** Not attempted: the transaction stopped before its RCPT TO was answered. */
    SMTPC_RCPT_NOT_ATTEMPTED = 0,
    /** RCPT TO was refused; smtpc_result_rcpt_reply() has the reply. */
    SMTPC_RCPT_REFUSED = 1,
    /** RCPT TO was accepted and the message has not been sent (yet). */
    SMTPC_RCPT_ACCEPTED = 2,
    /** The message was accepted for this recipient; smtpc_result_data_reply() has the reply. */
    SMTPC_RCPT_DELIVERED = 3,
    /** The message was refused for this recipient (DATA or the final reply failed). */
    SMTPC_RCPT_FAILED = 4,
    /** The connection was lost after the message was sent and before this recipient's reply. */
    SMTPC_RCPT_UNKNOWN = 5
} smtpc_rcpt_state;

/**
 * The outcome of a mail transaction, recipient by recipient. In LMTP mode every accepted recipient
 * gets its own reply after the message (RFC 2033); in SMTP mode the one final reply applies to all.
 */
typedef struct smtpc_result smtpc_result;

/** Number of recipients in the result (0 for NULL). */
SMTPC_API size_t smtpc_result_count(const smtpc_result *res);

/** The reply to MAIL FROM, or NULL when it was not answered. Borrowed from the result. */
SMTPC_API const smtpc_reply *smtpc_result_mail_reply(const smtpc_result *res);

/**
 * Recipient `index` as given by the caller, NUL-terminated; *len (if not NULL) gets its length.
 * Borrowed from the result. NULL when index is out of range.
 */
SMTPC_API const char *smtpc_result_recipient(const smtpc_result *res, size_t index, size_t *len);

/** State of recipient `index`; SMTPC_RCPT_NOT_ATTEMPTED when index is out of range. */
SMTPC_API smtpc_rcpt_state smtpc_result_state(const smtpc_result *res, size_t index);

/** The reply to RCPT TO for recipient `index`, or NULL when it was not answered. Borrowed. */
SMTPC_API const smtpc_reply *smtpc_result_rcpt_reply(const smtpc_result *res, size_t index);

/**
 * The reply that decided the message's fate for recipient `index`: the reply to DATA when DATA was
 * refused, else the reply after the message (for LMTP, this recipient's own). NULL when none
 * applies. Borrowed.
 */
SMTPC_API const smtpc_reply *smtpc_result_data_reply(const smtpc_result *res, size_t index);

/** Number of recipients in state SMTPC_RCPT_DELIVERED. */
SMTPC_API size_t smtpc_result_delivered_count(const smtpc_result *res);

/* ---------------------------------------------------------------------------------------------- */
/* Client sessions                                                                                */
/* ---------------------------------------------------------------------------------------------- */

/** One SMTP or LMTP client session. Reusable: after quit/close it may connect again. */
typedef struct smtpc_client smtpc_client;

/** Which protocol a client speaks. */
typedef enum smtpc_protocol {
    /** SMTP (RFC 5321): EHLO/HELO, default port 25. */
    SMTPC_PROTOCOL_SMTP = 0,
    /** LMTP (RFC 2033): LHLO, default port 2003, one reply per recipient after the message. */
    SMTPC_PROTOCOL_LMTP = 1
} smtpc_protocol;

/**
 * Create a client. Nothing is sent until smtpc_client_connect().
 * Defaults: local host name = this machine's fully qualified name (looked up at the first HELO/EHLO,
 * as smtplib does: when it has no dot, the literal "[a.b.c.d]" of the local address is used);
 * connect timeout 30 s; command timeout 300 s; no source address; no trace.
 * @param[out] out the new client, owned by the caller; release with smtpc_client_free().
 * @return SMTPC_OK; SMTPC_EINVAL (out NULL or unknown protocol); SMTPC_ENOMEM; SMTPC_EIO when no file
 *         descriptor is left for the wake-up of smtpc_client_cancel() (each client holds one eventfd,
 *         close-on-exec).
 */
SMTPC_API smtpc_status smtpc_client_new(smtpc_client **out, smtpc_protocol protocol);

/**
 * Close the connection (without QUIT) and free the client. NULL is a no-op. From a callback of this
 * client the free is deferred until the running call returns (see the re-entry rule at the top).
 */
SMTPC_API void smtpc_client_free(smtpc_client *client);

/** The protocol the client was created with. */
SMTPC_API smtpc_protocol smtpc_client_protocol(const smtpc_client *client);

/**
 * Detail of the last failure on this client: NUL-terminated English text naming what failed, e.g.
 * "RCPT TO refused: 550 5.1.1 no such user" or "connect to 127.0.0.1:2525: Connection refused".
 * "" after a successful call. Borrowed; valid until the next call on this client. Never NULL
 * (a NULL client gives "").
 */
SMTPC_API const char *smtpc_client_errmsg(const smtpc_client *client);

/** The status returned by the last call on this client (SMTPC_OK after a success). */
SMTPC_API smtpc_status smtpc_client_last_status(const smtpc_client *client);

/**
 * The operating-system error number (errno) behind the last SMTPC_ECONNECT or SMTPC_EIO, else 0.
 */
SMTPC_API int smtpc_client_os_error(const smtpc_client *client);

/* --- Options (take effect at the next connect or command) ------------------------------------- */

/**
 * Set the name sent with HELO/EHLO/LHLO. A copy is kept. SMTPC_NTS length allowed.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL client, empty, over 255 octets, space or control character);
 *         SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_client_set_local_hostname(smtpc_client *client, const char *name, size_t len);

/**
 * The local host name used for HELO/EHLO: the one set, or the looked-up default once it has been
 * looked up, else "". Borrowed; valid until the next call on this client that changes it.
 */
SMTPC_API const char *smtpc_client_local_hostname(const smtpc_client *client);

/**
 * Timeout for establishing the TCP or Unix-socket connection (all addresses together) and
 * receiving the greeting, in milliseconds. 0 means no limit.
 * @return SMTPC_OK; SMTPC_EINVAL when client is NULL.
 */
SMTPC_API smtpc_status smtpc_client_set_connect_timeout(smtpc_client *client, uint32_t ms);

/**
 * Timeout for each command: from sending it until its whole reply has arrived, in milliseconds.
 * Each step of a transaction (a pipelined batch, each block of the message, the final reply) gets a
 * fresh absolute deadline; it is not reset by each byte that arrives. 0 means no limit.
 * @return SMTPC_OK; SMTPC_EINVAL when client is NULL.
 */
SMTPC_API smtpc_status smtpc_client_set_command_timeout(smtpc_client *client, uint32_t ms);

/**
 * Bind the outgoing socket to a local address before connecting (smtplib's source_address).
 * `host` is a numeric address or a name (NULL or "" for any address); `port` 0 for any port.
 * Ignored for Unix sockets.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL client, control character in host); SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_client_set_source_address(smtpc_client *client, const char *host, size_t len,
                                                       uint16_t port);

/**
 * Use the PIPELINING extension (RFC 2920) in smtpc_client_sendmail() when the server offers it.
 * On by default; turn it off to force one command per round trip.
 * @return SMTPC_OK; SMTPC_EINVAL when client is NULL.
 */
SMTPC_API smtpc_status smtpc_client_set_pipelining(smtpc_client *client, int enabled);

/**
 * Use the CHUNKING extension (RFC 3030) in smtpc_client_sendmail(), smtpc_client_sendmail_stream()
 * and smtpc_client_send_message() when the server offers it: the message goes in BDAT chunks of
 * about 64 KiB ("BDAT 0 LAST" for an empty one), with no dot-stuffing and no wait for a 354 reply;
 * with PIPELINING the first chunk goes in the same write as MAIL and the RCPTs. Line ends are
 * normalised to CRLF as with DATA (no bare CR or LF is sent), and a missing final CRLF is added to a
 * non-empty message. Results are reported exactly as with DATA: a refused chunk is
 * SMTPC_EDATA_REFUSED (no further chunk is sent, then RSET); a connection lost once "BDAT ... LAST"
 * and its chunk are written is SMTPC_EDELIVERY_UNKNOWN; with LMTP each accepted recipient gets its
 * own reply after the last chunk. smtpc_client_data() always uses DATA. BODY=BINARYMIME is not used.
 * On by default; turn it off to send every message with DATA.
 * @return SMTPC_OK; SMTPC_EINVAL when client is NULL.
 */
SMTPC_API smtpc_status smtpc_client_set_chunking(smtpc_client *client, int enabled);

/** Direction or nature of a traced protocol event. */
typedef enum smtpc_trace_kind {
    /** A command line the client sent (with its CRLF). */
    SMTPC_TRACE_SEND = 1,
    /** A reply line the client received (with its CRLF). */
    SMTPC_TRACE_RECV = 2,
    /** A block of the message body as sent (dot-stuffed, CRLF line ends, and the final ".\r\n"; with
     * BDAT a chunk's bytes, traced after its BDAT command line). */
    SMTPC_TRACE_DATA = 3,
    /** A note from the library (connection opened or closed, address tried). */
    SMTPC_TRACE_INFO = 4
} smtpc_trace_kind;

/**
 * Trace callback. `data`/`len` is the traced text, borrowed for the duration of the call (not
 * NUL-terminated). `time_us` is the wall-clock time in microseconds since the Unix epoch at trace
 * level 2 and 0 at level 1. Calls on the same client from here follow the re-entry rule of the
 * conventions at the top: they return SMTPC_ESTATE (getters work; close and free are deferred).
 */
typedef void (*smtpc_trace_fn)(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us,
                               void *userdata);

/**
 * Set the trace level and callback, as smtplib's set_debuglevel(): 0 off, 1 every line sent and
 * received, 2 the same with timestamps. Authentication payloads are never traced in clear.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL client, level outside 0..2, level > 0 with a NULL fn).
 */
SMTPC_API smtpc_status smtpc_client_set_trace(smtpc_client *client, int level, smtpc_trace_fn fn,
                                              void *userdata);

/* --- Connection ------------------------------------------------------------------------------- */

/**
 * Connect and read the greeting (smtplib's connect()).
 * `host` is a host name, an IPv4 or IPv6 address ("::1", or "[::1]"), or, when it starts with '/',
 * the path of a Unix-domain socket. When `port` is 0, a ":port" suffix of host is used as smtplib
 * does (only when host holds exactly one ':'; "[v6]:port" is understood too), else the protocol's
 * default port. Every address the name resolves to is tried in turn, within the connect timeout.
 * The greeting is smtpc_client_last_reply() afterwards.
 * @return SMTPC_OK (greeting 220); SMTPC_EINVAL (NULL, empty, control characters, non-numeric or
 *         out-of-range port suffix, over-long socket path); SMTPC_ESTATE (already connected);
 *         SMTPC_ERESOLVE; SMTPC_ECONNECT; SMTPC_ETIMEOUT; SMTPC_EGREETING (non-220 greeting, reply
 *         kept, connection closed); SMTPC_EDISCONNECTED; SMTPC_EPROTOCOL; SMTPC_EIO; SMTPC_ENOMEM;
 *         with implicit TLS (see smtpc_client_set_tls_policy()) also SMTPC_ETLS and SMTPC_ETLS_VERIFY.
 */
SMTPC_API smtpc_status smtpc_client_connect(smtpc_client *client, const char *host, size_t len,
                                            uint16_t port);

/** 1 when the client holds an open connection, else 0. */
SMTPC_API int smtpc_client_is_connected(const smtpc_client *client);

/**
 * Send QUIT, read its reply and close the connection (smtplib's quit()). The connection is closed
 * and the HELO/EHLO state and features cleared whatever the outcome.
 * @return SMTPC_OK; SMTPC_ENOTCONN; SMTPC_EREPLY (non-2xx reply); SMTPC_EDISCONNECTED, SMTPC_EIO,
 *         SMTPC_ETIMEOUT, SMTPC_EPROTOCOL.
 */
SMTPC_API smtpc_status smtpc_client_quit(smtpc_client *client);

/**
 * Close the connection without QUIT (smtplib's close()) and clear the HELO/EHLO state and features.
 * Safe to call when not connected. From a callback of this client the close is deferred until the
 * running call returns (see the re-entry rule at the top).
 */
SMTPC_API void smtpc_client_close(smtpc_client *client);

/* --- Replies and server features -------------------------------------------------------------- */

/**
 * The last reply received on this client (the greeting after connect, then each command's reply;
 * after smtpc_client_sendmail(), the reply that ended it). NULL when none. Borrowed: valid until the
 * next call on this client that talks to the server, or smtpc_client_free().
 */
SMTPC_API const smtpc_reply *smtpc_client_last_reply(const smtpc_client *client);

/**
 * The reply to the last HELO (smtplib's helo_resp), or NULL when no HELO was answered on this
 * connection. Borrowed: valid until the next HELO/EHLO, close, quit or free.
 */
SMTPC_API const smtpc_reply *smtpc_client_helo_reply(const smtpc_client *client);

/**
 * The reply to the last EHLO or LHLO (smtplib's ehlo_resp), or NULL when none was answered on this
 * connection. Borrowed: valid until the next HELO/EHLO, close, quit or free.
 */
SMTPC_API const smtpc_reply *smtpc_client_ehlo_reply(const smtpc_client *client);

/** 1 when the server accepted EHLO/LHLO on this connection (smtplib's does_esmtp), else 0. */
SMTPC_API int smtpc_client_does_esmtp(const smtpc_client *client);

/**
 * 1 when the server's EHLO reply lists the extension `name` (case-insensitive, smtplib's
 * has_extn()), else 0. An "AUTH=..." line counts as AUTH.
 */
SMTPC_API int smtpc_client_has_extn(const smtpc_client *client, const char *name, size_t len);

/**
 * The parameters of extension `name` (case-insensitive) as smtplib's esmtp_features holds them:
 * the text after the keyword, stripped ("10240000" for SIZE; for AUTH every mechanism of every AUTH
 * and AUTH= line, each preceded by a space). NUL-terminated; *out_len (if not NULL) gets the length.
 * Borrowed: valid until the next HELO/EHLO, close, quit or free. NULL when the server did not
 * list the extension.
 */
SMTPC_API const char *smtpc_client_extn_params(const smtpc_client *client, const char *name, size_t len,
                                               size_t *out_len);

/** Number of extensions in the feature map (0 when no EHLO was answered). */
SMTPC_API size_t smtpc_client_extn_count(const smtpc_client *client);

/**
 * Extension `index` of the feature map, in the order the server first listed it: its keyword in
 * lower case (as smtplib's dict keys), NUL-terminated. *params (if not NULL) gets its parameters as
 * smtpc_client_extn_params() gives them. Borrowed as for smtpc_client_extn_params(). NULL when index
 * is out of range.
 */
SMTPC_API const char *smtpc_client_extn_at(const smtpc_client *client, size_t index, const char **params);

/* --- Commands ----------------------------------------------------------------------------------- */
/*
 * Unless stated otherwise each command below:
 *  - returns SMTPC_OK for a 2xx or 3xx reply and SMTPC_EREPLY for a 4xx or 5xx reply, with the reply
 *    in smtpc_client_last_reply();
 *  - returns SMTPC_ECLOSING for a 421 reply, after closing the connection;
 *  - returns SMTPC_ENOTCONN when not connected and SMTPC_EINVAL for a bad argument, having sent nothing;
 *  - may return SMTPC_EDISCONNECTED, SMTPC_EIO, SMTPC_ETIMEOUT or SMTPC_EPROTOCOL, after closing the
 *    connection, and SMTPC_ENOMEM.
 */

/**
 * Send HELO (smtplib's helo()). `name` NULL or empty uses the local host name. An accepted HELO makes
 * the session a plain SMTP one: the feature map of an earlier EHLO is cleared and
 * smtpc_client_does_esmtp() becomes 0, so no ESMTP parameter follows (smtplib keeps the stale map,
 * and a server then refuses those parameters). In LMTP mode HELO is not part of the protocol and
 * SMTPC_ESTATE is returned.
 */
SMTPC_API smtpc_status smtpc_client_helo(smtpc_client *client, const char *name, size_t len);

/**
 * Send EHLO (LHLO in LMTP mode) and, on 250, fill the feature map (smtplib's ehlo()). `name` NULL or
 * empty uses the local host name.
 */
SMTPC_API smtpc_status smtpc_client_ehlo(smtpc_client *client, const char *name, size_t len);

/**
 * Send EHLO, and HELO if EHLO is refused, unless either was already answered on this connection
 * (smtplib's ehlo_or_helo_if_needed()).
 * @return SMTPC_OK; SMTPC_EHELO when both were refused (the HELO reply is kept); the connection
 *         errors listed above.
 */
SMTPC_API smtpc_status smtpc_client_ehlo_or_helo_if_needed(smtpc_client *client);

/**
 * Send an arbitrary command (smtplib's docmd()): "cmd" alone or "cmd args". For private extensions.
 * cmd must be non-empty and contain no space or control character; args may be NULL or empty and
 * must contain no CR, LF or NUL. The whole line must fit in 512 octets with its CRLF.
 */
SMTPC_API smtpc_status smtpc_client_docmd(smtpc_client *client, const char *cmd, size_t cmd_len,
                                          const char *args, size_t args_len);

/** Send NOOP (smtplib's noop()). */
SMTPC_API smtpc_status smtpc_client_noop(smtpc_client *client);

/** Send RSET (smtplib's rset()): ends the current mail transaction. */
SMTPC_API smtpc_status smtpc_client_rset(smtpc_client *client);

/** Send VRFY with an address or name (smtplib's verify()/vrfy()). */
SMTPC_API smtpc_status smtpc_client_vrfy(smtpc_client *client, const char *what, size_t len);

/** Send EXPN with a list name (smtplib's expn()). */
SMTPC_API smtpc_status smtpc_client_expn(smtpc_client *client, const char *what, size_t len);

/** Send HELP, with an optional argument (NULL or empty for none) (smtplib's help()). */
SMTPC_API smtpc_status smtpc_client_help(smtpc_client *client, const char *what, size_t len);

/**
 * Send MAIL FROM:<addr> with optional ESMTP parameters (smtplib's mail()). `options` is a
 * space-separated parameter list ("BODY=8BITMIME SMTPUTF8"), NULL or empty for none; as in smtplib,
 * it is sent only when the server answered EHLO. The line may be up to 512 octets with its CRLF, or
 * 2048 when it carries parameters. Starts a new transaction: the recipient list of
 * smtpc_client_last_result() is cleared.
 * @return as above, and SMTPC_ENOTSUPPORTED when the options ask for SMTPUTF8 and the server does not
 *         offer it; SMTPC_EINVAL for a malformed address (see smtpc_envelope_set_sender()), an option
 *         with a control character, or a non-ASCII address without SMTPUTF8.
 */
SMTPC_API smtpc_status smtpc_client_mail(smtpc_client *client, const char *addr, size_t addr_len,
                                         const char *options, size_t options_len);

/**
 * Send RCPT TO:<addr> with optional ESMTP parameters (smtplib's rcpt()); the recipient and its reply
 * are added to smtpc_client_last_result(). Address and length rules as for smtpc_client_mail(); a
 * non-ASCII address is accepted only when the server offers SMTPUTF8.
 */
SMTPC_API smtpc_status smtpc_client_rcpt(smtpc_client *client, const char *addr, size_t addr_len,
                                         const char *options, size_t options_len);

/**
 * Send DATA and, after a 354, the message (smtplib's data()). The message is sent as
 * smtpc_client_sendmail() sends it: lone CR and lone LF become CRLF, lines starting with '.' are
 * dot-stuffed, a final CRLF is added when missing, then ".\r\n". In LMTP mode one reply is read for
 * each recipient accepted since MAIL, and recorded in smtpc_client_last_result(); the last reply read
 * is smtpc_client_last_reply().
 * @return SMTPC_OK when the message was accepted (LMTP: for at least one recipient);
 *         SMTPC_EDATA_REFUSED when DATA got a reply other than 354; SMTPC_EREPLY when the message was
 *         refused (LMTP: for every recipient), also while it was still being sent (connection closed);
 *         SMTPC_EDELIVERY_UNKNOWN when the connection was lost after the message was sent; and the
 *         errors above. Data after the reply that accepted the message leaves SMTPC_OK and closes
 *         the connection, as for smtpc_client_sendmail().
 */
SMTPC_API smtpc_status smtpc_client_data(smtpc_client *client, const char *msg, size_t msg_len);

/**
 * Send bytes exactly as given, reading nothing (smtplib's send(); putcmd() is send() of "cmd args\r\n").
 * Unlike every other call, nothing is checked: the caller is responsible for the bytes, including
 * CR, LF and NUL. Meant for the Python drop-in and for protocol experiments.
 * @return SMTPC_OK; SMTPC_ENOTCONN; SMTPC_EINVAL (NULL data with a length); SMTPC_EDISCONNECTED,
 *         SMTPC_EIO, SMTPC_ETIMEOUT (connection closed).
 */
SMTPC_API smtpc_status smtpc_client_send_raw(smtpc_client *client, const char *data, size_t len);

/**
 * Read one reply (smtplib's getreply()), after smtpc_client_send_raw(). The reply is
 * smtpc_client_last_reply().
 * @return SMTPC_OK for 2xx/3xx; SMTPC_EREPLY for 4xx/5xx; SMTPC_ECLOSING for 421 (connection closed);
 *         SMTPC_ENOTCONN; SMTPC_EDISCONNECTED, SMTPC_EIO, SMTPC_ETIMEOUT, SMTPC_EPROTOCOL.
 */
SMTPC_API smtpc_status smtpc_client_read_reply(smtpc_client *client);

/* --- Sending mail -------------------------------------------------------------------------------- */

/**
 * Send one message to every recipient of `env`, with smtplib's sendmail() semantics:
 *  - EHLO, or HELO if EHLO is refused, unless already done on this connection;
 *  - MAIL FROM with SIZE=<n> when the server offers SIZE (n = the message size after line-end
 *    normalisation), then the envelope's mail options, both only to an ESMTP server; when the sender
 *    or a recipient is not ASCII and the options do not name SMTPUTF8, SMTPUTF8 and (unless BODY is
 *    set) BODY=8BITMIME are added if the server offers SMTPUTF8 (RFC 6531), as send_message() does;
 *  - RCPT TO for each recipient with the envelope's recipient options;
 *  - DATA and the message, encoded as smtpc_client_data() describes (no bare CR or LF ever reaches
 *    the wire). When the server offers PIPELINING (and it is enabled) MAIL, every RCPT and DATA go out
 *    in one write and the replies are read afterwards.
 * After a refused sender, all recipients refused, or a refused message, RSET is sent (unless the
 * reply was 421, which closes the connection). Every recipient's outcome is in
 * smtpc_client_last_result(), whatever the status.
 * Every reply that arrived before the server closed the connection is processed before the close is:
 * once a refusal has decided the transaction, a close (or reset, or timeout) instead of the reply to
 * RSET or to the rest of a pipelined batch ends the call with that refusal, its reply kept, the
 * connection closed and smtpc_client_errmsg() saying the server closed after refusing. A 4xx/5xx
 * reply while the message is still being sent (a size limit) is the message's refusal
 * (SMTPC_EDATA_REFUSED, connection closed).
 * A message the server accepted stays accepted: when more bytes follow the reply that decided the
 * transaction, the status is unchanged (SMTPC_OK, errmsg "" as after every success), the connection
 * is closed (smtpc_client_is_connected() is 0: the server is out of step and not trusted with
 * another command), and a SMTPC_TRACE_INFO line shows the bytes ("unexpected data from the server
 * after its reply: ..."); after a failure the same words are appended to errmsg.
 * @return SMTPC_OK when at least one recipient was accepted and the message was accepted (LMTP: for
 *         at least one recipient; the others are SMTPC_RCPT_FAILED in the result);
 *         SMTPC_EINVAL (NULL argument, no recipients); SMTPC_ENOTCONN; SMTPC_EHELO;
 *         SMTPC_ENOTSUPPORTED (SMTPUTF8 asked for, or needed by a non-ASCII address, and not offered;
 *         nothing sent after EHLO, errmsg says which address);
 *         SMTPC_ESENDER_REFUSED; SMTPC_ERECIPIENTS_REFUSED; SMTPC_EDATA_REFUSED (reply kept);
 *         SMTPC_EDELIVERY_UNKNOWN; SMTPC_EDISCONNECTED, SMTPC_EIO, SMTPC_ETIMEOUT, SMTPC_EPROTOCOL
 *         (connection closed); SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_client_sendmail(smtpc_client *client, const smtpc_envelope *env, const char *msg,
                                             size_t msg_len);

/**
 * Message source for smtpc_client_sendmail_stream(): copy up to `cap` bytes of the message into
 * `buf` and store the number copied in *len; store 0 at the end of the message. Return 0 to go on,
 * non-zero to abort the transaction (the connection is then closed, since a message cannot be
 * withdrawn once DATA was accepted, and SMTPC_EUSER is returned). Calls on the same client from here
 * return SMTPC_ESTATE (re-entry rule at the top of this file).
 */
typedef int (*smtpc_read_fn)(char *buf, size_t cap, size_t *len, void *userdata);

/**
 * As smtpc_client_sendmail(), with the message read from `read` in blocks, so that a message of any
 * size is sent in constant memory. SIZE is declared only when `size_hint` is not 0 (the caller's
 * claim of the message size after line-end normalisation). `read` is not called before the server
 * has accepted DATA, and never after it returned 0 bytes or non-zero.
 * @return as smtpc_client_sendmail(), and SMTPC_EUSER when `read` aborted.
 */
SMTPC_API smtpc_status smtpc_client_sendmail_stream(smtpc_client *client, const smtpc_envelope *env,
                                                    smtpc_read_fn read, void *userdata, uint64_t size_hint);

/**
 * Progress of a message body, for smtpc_client_set_progress(). `sent` counts the bytes of the message
 * as the caller gave them (after send_message's removal of Bcc fields; before dot-stuffing and line
 * end normalisation) that the library has taken into the outgoing stream: written to the connection,
 * or gathered for its next write (at most 64 KiB; the kernel's socket buffer holds more in any case);
 * `total` is the message's size in the same bytes (sendmail, send_message, data), the size hint of
 * smtpc_client_sendmail_stream(), or 0 when unknown. Called at most once per block (never per byte),
 * with `sent` increasing; the last call has `sent` equal to the whole message and comes before the
 * end of data (".", CRLF) is queued, so the message can still be withdrawn: return non-zero to abort. The
 * connection is then closed without the end of data, so the server discards the message: the call returns
 * SMTPC_EUSER and the recipients stay SMTPC_RCPT_ACCEPTED (not sent), never delivered. Calls on the same
 * client from here return SMTPC_ESTATE, except smtpc_client_cancel() (re-entry rule at the top of this file).
 */
typedef int (*smtpc_progress_fn)(uint64_t sent, uint64_t total, void *userdata);

/**
 * Set (or, with `fn` NULL, remove) the progress callback of the message bodies this client sends
 * (sendmail, sendmail_stream, send_message, data).
 * @return SMTPC_OK; SMTPC_EINVAL for a NULL client.
 */
SMTPC_API smtpc_status smtpc_client_set_progress(smtpc_client *client, smtpc_progress_fn fn, void *userdata);

/**
 * Ask the call running on `client` to stop: it returns SMTPC_ECANCELLED promptly (within
 * milliseconds) from any wait: connect, the greeting, a reply, a write to a server that stopped
 * reading, the TLS handshake. It is also seen between two blocks of a transfer that never waits.
 * A name lookup (getaddrinfo) cannot be interrupted: the call stops as soon as the resolver returns;
 * likewise work that does not wait (the process's first load of the system trust store, a key
 * exchange) finishes first. The connection is closed; see SMTPC_ECANCELLED for a message being sent.
 *
 * Safe from any thread, from a signal handler (async-signal-safe: an atomic flag and a write() to a
 * descriptor the client made at creation; errno is kept) and from the client's own callbacks. The
 * handle must stay valid until smtpc_client_cancel() returns.
 *
 * A cancel with no call in progress is not lost: the next call that would talk to the server
 * (connect, a command, sendmail, ...) returns SMTPC_ECANCELLED at once, before it sends anything, and
 * that consumes the request (as libcurl's). Calls that only set options or read state ignore it.
 * Several cancels before the call that honours them count as one.
 */
SMTPC_API void smtpc_client_cancel(smtpc_client *client);

/**
 * Send an RFC 5322 message with the envelope taken from its headers where `env` gives none, as
 * Python's smtplib send_message() does:
 *  - when the message has exactly one Resent-Date field, the Resent- fields below are used instead
 *    (Resent-Sender, Resent-From, Resent-To, Resent-Bcc, Resent-Cc); more than one is an error;
 *  - the sender is the first address of the Sender field, else of the From field, unless `env` had
 *    smtpc_envelope_set_sender() called on it;
 *  - the recipients are every address of the To, Bcc and Cc fields (in that order), unless `env` has
 *    recipients; display names, groups, comments, quoted local parts and folded fields are understood;
 *  - the header fields are read with the line ends they are sent with: CRLF, a lone CR and a lone LF
 *    each end a line (so "Subject: x\rBcc: y" holds a Bcc field), the first empty line or the first
 *    line that is neither a field nor a continuation line ends the header section, and white space
 *    before the colon (RFC 5322's obsolete syntax) still makes a field;
 *  - the Bcc and Resent-Bcc fields are never transmitted, whatever the envelope; the rest of the
 *    message is sent as it is (encoded as for smtpc_client_sendmail()), read straight from `msg`
 *    without a copy;
 *  - when an envelope address is not ASCII, SMTPUTF8 and BODY=8BITMIME are added to the mail options
 *    if the server offers SMTPUTF8, and SMTPC_ENOTSUPPORTED is returned, with nothing sent after EHLO,
 *    if it does not.
 * `env` may be NULL; its mail and recipient options are used when given.
 * @return as smtpc_client_sendmail(); SMTPC_EINVAL also when the message has no usable sender field
 *         or no recipient, an address in the fields is malformed, or there is more than one Resent-
 *         block.
 */
SMTPC_API smtpc_status smtpc_client_send_message(smtpc_client *client, const smtpc_envelope *env,
                                                 const char *msg, size_t msg_len);

/**
 * The per-recipient outcome of the last transaction on this client (sendmail, or MAIL/RCPT/DATA
 * sent one by one), or NULL when none was started. It survives a connection the server or a failure
 * closed, so the outcome can be read after any error. Borrowed: valid until the next MAIL, sendmail,
 * connect, smtpc_client_close(), smtpc_client_quit() or smtpc_client_free().
 */
SMTPC_API const smtpc_result *smtpc_client_last_result(const smtpc_client *client);

/* ---------------------------------------------------------------------------------------------- */
/* TLS                                                                                            */
/* ---------------------------------------------------------------------------------------------- */

/**
 * A TLS configuration (the analogue of Python's ssl.SSLContext): trust store, client certificate,
 * verification switches, protocol floor and ciphers. Reference-counted: a client given a
 * configuration keeps it alive, so the caller may free its own reference at any time. One
 * configuration serves any number of connections (its OpenSSL context is made once and reused), so
 * make one and share it rather than one per connection. Clients given none share a process-wide
 * default configuration.
 * Defaults: the system trust store, peer verification and host-name verification on, TLS 1.2 as
 * the minimum version, OpenSSL's default ciphers at security level 2, no client certificate.
 * Trust anchors: without a CA file, directory or DER certificate, the system trust store is used;
 * it is loaded once per process, at the first handshake that needs it, and shared by every such
 * configuration. Giving any CA replaces the system store (as Python's
 * ssl.create_default_context(cafile=...) does); the system store is then never loaded.
 * Life cycle and threads: set it up, then hand it to clients. Its first TLS handshake freezes it:
 * from then on the setters that change trust anchors, client certificate, minimum version or
 * ciphers return SMTPC_ESTATE (make a new configuration instead); the two verification switches may
 * still be changed and apply to the next handshake. A frozen configuration may be used by clients
 * on several threads at once.
 */
typedef struct smtpc_tls_config smtpc_tls_config;

/** TLS protocol versions for smtpc_tls_config_set_min_version(). */
typedef enum smtpc_tls_version { SMTPC_TLS_VERSION_1_2 = 12, SMTPC_TLS_VERSION_1_3 = 13 } smtpc_tls_version;

/**
 * Create a TLS configuration with the secure defaults above. Cheap: nothing is read from disk here.
 * @param[out] out the configuration, owned by the caller; release with smtpc_tls_config_free().
 * @return SMTPC_OK; SMTPC_EINVAL (out NULL); SMTPC_ENOMEM; SMTPC_ETLS (OpenSSL could not set up).
 */
SMTPC_API smtpc_status smtpc_tls_config_new(smtpc_tls_config **out);

/** Drop the caller's reference. Clients that use the configuration keep theirs. NULL is a no-op. */
SMTPC_API void smtpc_tls_config_free(smtpc_tls_config *cfg);

/**
 * Detail of the last failed call on this configuration (OpenSSL's reason), "" after a success.
 * Borrowed; valid until the next call on the configuration. Never NULL.
 */
SMTPC_API const char *smtpc_tls_config_errmsg(const smtpc_tls_config *cfg);

/**
 * Trust the CA certificates in the PEM file `path` instead of the system store (may be combined with
 * smtpc_tls_config_set_ca_path() and smtpc_tls_config_add_ca_der()). The file is read now.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL, empty, NUL inside); SMTPC_ETLS (unreadable or no certificate;
 *         the system store is not used as a fallback); SMTPC_ESTATE (configuration already in use).
 */
SMTPC_API smtpc_status smtpc_tls_config_set_ca_file(smtpc_tls_config *cfg, const char *path, size_t len);

/**
 * Trust the CA certificates in directory `path` (OpenSSL's hashed-name layout, c_rehash) instead
 * of the system store.
 * @return SMTPC_OK; SMTPC_EINVAL; SMTPC_ETLS; SMTPC_ESTATE (configuration already in use).
 */
SMTPC_API smtpc_status smtpc_tls_config_set_ca_path(smtpc_tls_config *cfg, const char *path, size_t len);

/**
 * Trust one CA certificate given in DER form (as Python's get_ca_certs(binary_form=True) gives them)
 * instead of the system store.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL or empty); SMTPC_ETLS (not a DER certificate); SMTPC_ENOMEM;
 *         SMTPC_ESTATE (configuration already in use).
 */
SMTPC_API smtpc_status smtpc_tls_config_add_ca_der(smtpc_tls_config *cfg, const unsigned char *der,
                                                   size_t len);

/**
 * Present a client certificate: `cert_path` is a PEM file with the certificate (and optionally its
 * chain), `key_path` a PEM private key (NULL or "" when the key is in cert_path), `password` the
 * key's pass phrase (NULL when unencrypted). The password is not kept.
 * @return SMTPC_OK; SMTPC_EINVAL; SMTPC_ETLS (unreadable, wrong password, or key not matching);
 *         SMTPC_ESTATE (configuration already in use).
 */
SMTPC_API smtpc_status smtpc_tls_config_set_client_cert(smtpc_tls_config *cfg, const char *cert_path,
                                                        size_t cert_len, const char *key_path, size_t key_len,
                                                        const char *password, size_t password_len);

/**
 * Verify the server's certificate chain (default 1). Turning it off also turns off host-name
 * verification; such a connection counts as unauthenticated (for AUTH's plaintext rule). May be
 * changed at any time; applies from the next handshake.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL cfg).
 */
SMTPC_API smtpc_status smtpc_tls_config_set_verify_peer(smtpc_tls_config *cfg, int enabled);

/**
 * Verify that the certificate names the server (RFC 6125; no partial wildcards; IP addresses
 * checked as addresses) (default 1). Only meaningful with peer verification on.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL cfg).
 */
SMTPC_API smtpc_status smtpc_tls_config_set_verify_hostname(smtpc_tls_config *cfg, int enabled);

/**
 * Lowest TLS version to accept (default SMTPC_TLS_VERSION_1_2).
 * @return SMTPC_OK; SMTPC_EINVAL (NULL cfg or unknown version); SMTPC_ESTATE (already in use).
 */
SMTPC_API smtpc_status smtpc_tls_config_set_min_version(smtpc_tls_config *cfg, smtpc_tls_version version);

/**
 * OpenSSL cipher list for TLS 1.2 (e.g. "ECDHE+AESGCM:ECDHE+CHACHA20"). TLS 1.3 suites are
 * OpenSSL's defaults.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL or empty); SMTPC_ETLS (no cipher in the list is usable);
 *         SMTPC_ESTATE (configuration already in use).
 */
SMTPC_API smtpc_status smtpc_tls_config_set_ciphers(smtpc_tls_config *cfg, const char *list, size_t len);

/** When the client uses TLS. */
typedef enum smtpc_tls_policy {
    /**
     * The default: chosen by the kind of peer, judged from the connected socket (getpeername), not
     * from the host name. A Unix-domain socket: no TLS (as SMTPC_TLS_NONE). A loopback address:
     * SMTPC_TLS_OPPORTUNISTIC. Any other peer: SMTPC_TLS_REQUIRED, with verification. Port 465:
     * implicit TLS (verification recorded but not enforced on loopback, enforced elsewhere).
     * Rationale: docs/tls.md.
     */
    SMTPC_TLS_AUTO = 0,
    /** No TLS unless smtpc_client_starttls() is called (Python smtplib's behaviour). */
    SMTPC_TLS_NONE = 1,
    /**
     * Opportunistic security (RFC 7435; Postfix's "may" level): STARTTLS when the server offers it,
     * plaintext otherwise. The certificate is verified and the result recorded
     * (smtpc_client_tls_verified(), smtpc_client_tls_verify_result(), an INFO trace line), but a
     * verification failure does not stop the session: it goes on encrypted, unauthenticated. Such a
     * connection counts as unencrypted for AUTH to a remote peer (SMTPC_EAUTH_INSECURE). Any other
     * TLS failure (handshake, alert) is still an error, with no plaintext fallback.
     */
    SMTPC_TLS_OPPORTUNISTIC = 2,
    /** STARTTLS or fail with SMTPC_ETLS_REQUIRED before anything but EHLO/HELO is sent. */
    SMTPC_TLS_REQUIRED = 3,
    /** TLS from the first byte (RFC 8314, smtplib's SMTP_SSL); default port 465 for SMTP. */
    SMTPC_TLS_IMPLICIT = 4
} smtpc_tls_policy;

/**
 * Use `cfg` for this client's TLS (a reference is kept). NULL returns to the default configuration
 * shared by every client that sets none. Takes effect at the next connect or STARTTLS.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL client).
 */
SMTPC_API smtpc_status smtpc_client_set_tls_config(smtpc_client *client, smtpc_tls_config *cfg);

/**
 * Set when TLS is used, for connect (SMTPC_TLS_IMPLICIT) and for the high-level calls that say
 * hello on their own (smtpc_client_ehlo_or_helo_if_needed(), smtpc_client_sendmail(), ...). With
 * SMTPC_TLS_REQUIRED (or AUTO to a remote peer), MAIL, RCPT and DATA are also refused with
 * SMTPC_ETLS_REQUIRED on a connection that is not encrypted. The policy also decides what a failed
 * certificate verification does, for smtpc_client_starttls() too: an error (SMTPC_ETLS_VERIFY,
 * connection closed) except under SMTPC_TLS_OPPORTUNISTIC (or AUTO to a loopback address).
 * @return SMTPC_OK; SMTPC_EINVAL (NULL client or unknown policy).
 */
SMTPC_API smtpc_status smtpc_client_set_tls_policy(smtpc_client *client, smtpc_tls_policy policy);

/**
 * The name to send as SNI and to verify the certificate against, when it differs from the host
 * given to connect (e.g. connecting to an address or a Unix socket). NULL or "" to use the host.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL client, space or control character); SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_client_set_tls_server_name(smtpc_client *client, const char *name, size_t len);

/**
 * FOR TESTING ONLY: accept any certificate from the server on this client. The connection is
 * encrypted but not authenticated, so a man in the middle can read everything; AUTH treats it as
 * plaintext. Off by default; never turn it on in production code.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL client).
 */
SMTPC_API smtpc_status smtpc_client_set_tls_insecure_skip_verify_for_testing(smtpc_client *client,
                                                                             int enabled);

/**
 * Send STARTTLS and run the TLS handshake (RFC 3207, smtplib's starttls()). Sends EHLO first when
 * no HELO/EHLO was answered on this connection. Afterwards all state learnt before TLS (EHLO reply,
 * features, HELO reply) is forgotten; the next high-level call, or the caller, sends EHLO again.
 * If the server sends anything after its 220 reply, even part of a line, nothing more is sent and the
 * connection is closed (response-injection defence); commands are never pipelined past STARTTLS.
 * @return SMTPC_OK; SMTPC_ENOTCONN; SMTPC_ESTATE (already encrypted); SMTPC_ENOTSUPPORTED (STARTTLS
 *         not offered); SMTPC_EHELO; SMTPC_EREPLY (refused; reply kept, connection still open);
 *         SMTPC_ECLOSING; SMTPC_EPROTOCOL (data after the 220 reply); SMTPC_ETLS; SMTPC_ETLS_VERIFY;
 *         SMTPC_ETIMEOUT; SMTPC_EDISCONNECTED; SMTPC_EIO; SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_client_starttls(smtpc_client *client);

/** 1 when the connection is encrypted, else 0. */
SMTPC_API int smtpc_client_tls_active(const smtpc_client *client);

/**
 * 1 when the connection is encrypted and the server's certificate and name were verified, else 0
 * (under SMTPC_TLS_OPPORTUNISTIC a connection may be encrypted and unverified: see
 * smtpc_client_tls_verify_result() for why).
 */
SMTPC_API int smtpc_client_tls_verified(const smtpc_client *client);

/**
 * The negotiated TLS protocol version ("TLSv1.3"), NUL-terminated; "" when not encrypted. Borrowed;
 * valid until the connection is closed.
 */
SMTPC_API const char *smtpc_client_tls_version(const smtpc_client *client);

/**
 * The negotiated cipher suite ("TLS_AES_256_GCM_SHA384"), NUL-terminated; "" when not encrypted.
 * Borrowed; valid until the connection is closed.
 */
SMTPC_API const char *smtpc_client_tls_cipher(const smtpc_client *client);

/**
 * The server certificate's subject in OpenSSL's one-line RFC 2253 form ("CN=localhost"),
 * NUL-terminated; "" when not encrypted. Borrowed; valid until the connection is closed.
 */
SMTPC_API const char *smtpc_client_tls_peer_subject(const smtpc_client *client);

/**
 * SHA-256 of the server certificate (DER) as 64 lower-case hex digits, NUL-terminated; "" when not
 * encrypted. Borrowed; valid until the connection is closed.
 */
SMTPC_API const char *smtpc_client_tls_peer_fingerprint(const smtpc_client *client);

/**
 * The certificate verification result of the last handshake: 0 when the certificate verified (or
 * no handshake was made), else OpenSSL's X509_V_ERR_* code — also when the connection went ahead
 * anyway, under SMTPC_TLS_OPPORTUNISTIC or with verification switched off (e.g. 10 expired,
 * 18 self-signed, 20 unknown issuer, 62 host name mismatch). 0 alone does not mean verified (no name
 * to check against, host-name checks off): smtpc_client_tls_verified() says that.
 * smtpc_client_errmsg() has the matching text after an SMTPC_ETLS_VERIFY.
 */
SMTPC_API long smtpc_client_tls_verify_result(const smtpc_client *client);

/* ---------------------------------------------------------------------------------------------- */
/* Authentication (RFC 4954)                                                                      */
/* ---------------------------------------------------------------------------------------------- */
/*
 * Plaintext rule: every AUTH call below refuses with SMTPC_EAUTH_INSECURE, sending nothing, unless the
 * connection is TLS with a verified certificate and host name, or the peer is on this machine (a
 * loopback address or a Unix socket, decided from the connected socket's address, not the host name),
 * or smtpc_client_set_allow_insecure_auth() allowed it. Credentials are never traced: AUTH lines and
 * responses appear in the trace as "AUTH <MECH> ****" and "****". The library keeps credentials only
 * while an AUTH call runs: every copy it makes (the password or token, the messages built from them,
 * their base64, derived keys) is wiped before its memory is freed and before the call returns, also
 * when the connection is lost in the middle of the exchange. The caller's own buffers are the
 * caller's to wipe.
 *
 * Unless stated otherwise each AUTH call:
 *  - sends EHLO first when needed, applying the TLS policy (see smtpc_client_ehlo_or_helo_if_needed);
 *  - returns SMTPC_ENOTSUPPORTED when the server does not offer AUTH, SMTPC_EAUTH_MECHANISM when it
 *    does not offer the mechanism, SMTPC_EAUTH_INSECURE (above), SMTPC_EINVAL for a bad argument,
 *    having sent nothing;
 *  - returns SMTPC_OK on 235; SMTPC_EAUTH for any other reply (the reply is kept: 535 wrong
 *    credentials, 534, 538, 454, 503 ...), for an invalid challenge (not base64, too long), for more
 *    than 5 challenges, or for a SCRAM server signature that does not verify — after cancelling the
 *    exchange with "*" where the protocol allows; SMTPC_ECLOSING on 421;
 *  - may return the connection errors of the commands above.
 * No call retries with another mechanism after a failure.
 */

/**
 * Allow AUTH over a connection that is neither TLS-verified nor local (see the plaintext rule).
 * Off by default. For test set-ups and tunnels the library cannot see; the password can be read by
 * anyone on the path.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL client).
 */
SMTPC_API smtpc_status smtpc_client_set_allow_insecure_auth(smtpc_client *client, int allow);

/**
 * Authorisation identity (the identity to act as) sent by PLAIN and SCRAM; NULL or "" for none.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL client, NUL, CR or LF inside); SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_client_set_authzid(smtpc_client *client, const char *authzid, size_t len);

/**
 * Log in with a user name and password (smtplib's login()), with the strongest mechanism the server
 * offers among SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN and LOGIN. Initial responses are sent
 * with the AUTH command. After a failure no weaker mechanism is tried (smtplib's order of trying
 * each in turn can be had with smtpc_client_auth_password()).
 * @return see the AUTH rules above.
 */
SMTPC_API smtpc_status smtpc_client_login(smtpc_client *client, const char *user, size_t user_len,
                                          const char *password, size_t password_len);

/**
 * Authenticate with one named password mechanism: "PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1" or
 * "SCRAM-SHA-256" (case-insensitive). `initial_response_ok` as smtplib's auth(): when non-zero the
 * first response goes with the AUTH command (or after an empty 334 when the line would exceed 512
 * octets); when zero it is sent after the server's first challenge.
 * @return see the AUTH rules above; SMTPC_EINVAL also for an unknown mechanism name, or a NUL in the
 *         user name or password of PLAIN.
 */
SMTPC_API smtpc_status smtpc_client_auth_password(smtpc_client *client, const char *mechanism,
                                                  size_t mech_len, const char *user, size_t user_len,
                                                  const char *password, size_t password_len,
                                                  int initial_response_ok);

/**
 * Output buffer for a response or token that a callback hands to the library (the bytes are
 * copied, and wiped after use).
 */
typedef struct smtpc_auth_response smtpc_auth_response;

/**
 * Store `len` bytes as the response (SMTPC_NTS: `data` is NUL-terminated). May be called once per
 * callback invocation; a later call replaces the earlier bytes.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL resp, or NULL data with a length other than 0 or SMTPC_NTS);
 *         SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_auth_response_set(smtpc_auth_response *resp, const char *data, size_t len);

/**
 * Token source for OAuth mechanisms: store the access token with smtpc_auth_response_set(). Return 0
 * on success, non-zero to abort (SMTPC_EUSER, nothing sent). Calls on the same client from here
 * return SMTPC_ESTATE (re-entry rule at the top of this file).
 */
typedef int (*smtpc_token_fn)(smtpc_auth_response *token, void *userdata);

/**
 * Authenticate with an OAuth 2.0 bearer token: `mechanism` "XOAUTH2" (Google, Microsoft) or
 * "OAUTHBEARER" (RFC 7628). The token is `token` when it is not NULL, else it is asked of `fn`
 * (which may then fetch or refresh it). When the server answers with an error challenge (a JSON
 * document), the library answers as the mechanism requires and the JSON is included in
 * smtpc_client_errmsg() with the final reply.
 * @return see the AUTH rules above; SMTPC_EINVAL (unknown mechanism, no token and no fn, CR/LF/NUL or
 *         0x01 bytes in user or token); SMTPC_EUSER (fn aborted).
 */
SMTPC_API smtpc_status smtpc_client_auth_oauth2(smtpc_client *client, const char *mechanism, size_t mech_len,
                                                const char *user, size_t user_len, const char *token,
                                                size_t token_len, smtpc_token_fn fn, void *userdata);

/**
 * A custom SASL mechanism (smtplib's authobject): called with `is_initial` 1 and no challenge
 * (NULL, 0) to ask for an initial response — leave `resp` unset for none — and then with `is_initial`
 * 0 and each decoded challenge from the server. Set the response with smtpc_auth_response_set()
 * (leaving it unset sends an empty response) and return 0; return non-zero to abort (the exchange is
 * cancelled with "*" and SMTPC_EUSER returned). `challenge` is borrowed for the call. Calls on the
 * same client from here return SMTPC_ESTATE (re-entry rule at the top of this file).
 */
typedef int (*smtpc_auth_fn)(const char *challenge, size_t challenge_len, int is_initial,
                             smtpc_auth_response *resp, void *userdata);

/**
 * Authenticate with a mechanism implemented by `fn` (smtplib's auth()). `mechanism` is the SASL name
 * sent with AUTH (letters, digits, '-' and '_', at most 20 characters); the server must offer it.
 * `initial_response_ok` as for smtpc_client_auth_password().
 * @return see the AUTH rules above; SMTPC_EUSER when fn aborted.
 */
SMTPC_API smtpc_status smtpc_client_auth(smtpc_client *client, const char *mechanism, size_t mech_len,
                                         smtpc_auth_fn fn, void *userdata, int initial_response_ok);

/**
 * The mechanism of the last successful authentication on this connection ("SCRAM-SHA-256"), or ""
 * when not authenticated. Borrowed; valid until the connection is closed.
 */
SMTPC_API const char *smtpc_client_auth_mechanism(const smtpc_client *client);

#ifdef __cplusplus
}
#endif

#endif /* SMTPC_H */
