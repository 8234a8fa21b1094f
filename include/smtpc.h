/* SPDX-License-Identifier: MIT */
/*
 * smtpc — an SMTP/LMTP client library.
 *
 * This file is the whole public API. Anything not declared here is private and may change at any time.
 *
 * Conventions (see docs/api-conventions.md):
 *  - Every fallible function returns an smtpc_status: SMTPC_OK (0) or a negative SMTPC_E* code.
 *    smtpc_strerror() gives static text for a code; the detail of the last failure is kept on the
 *    handle the call failed on: smtpc_client_errmsg(), smtpc_envelope_errmsg(),
 *    smtpc_tls_config_errmsg().
 *  - Enums: every enum type is int-sized (its values fit an int; the library is built with the
 *    compiler's default enum size, so -fshort-enums is not supported) and may gain values in later
 *    versions, never renumbered. A caller must handle a value it does not know (a status code, a
 *    recipient state, a trace kind): bindings must not map them to closed enum types that reject
 *    unknown values. Enum arguments out of range are refused with SMTPC_EINVAL.
 *  - Handles are opaque. A handle returned through a `**out` parameter is owned by the caller and is
 *    released with its matching *_free() function; *_free(NULL) does nothing. On failure *out is
 *    set to NULL.
 *  - Returned pointers are never owned by the caller (never free them). Each function says which
 *    of these lifetimes its result has:
 *     - "Static": valid for the life of the process.
 *     - "Borrowed from the client": valid until the next call that takes that client as a non-const
 *       `smtpc_client *` (a command, connect, sendmail, a setter, smtpc_client_close(),
 *       smtpc_client_free(); smtpc_client_cancel() excepted) and no longer. Calls that take a
 *       `const smtpc_client *` (the getters) leave it valid. Inside a callback the running call is
 *       such a call, so what a getter returns there is valid until the callback returns.
 *     - "Borrowed from the reply" (the result, the envelope, the configuration): valid while that
 *       object is, under the same rule for that object (a reply borrowed from a client lives as the
 *       client's borrowed pointers do; smtpc_reply_dup() and smtpc_result_dup() make copies that
 *       the caller owns).
 *    Pointers passed to a callback are valid only until the callback returns.
 *  - Absent values: a string getter whose value can legitimately be empty returns NULL for "absent"
 *    (smtpc_client_extn_params() of an extension not listed, an index out of range); a getter whose
 *    value is never empty when present returns "" for "none" and never NULL (errmsg after a success,
 *    TLS facts when not encrypted, the enhanced status code of a reply without one), so it can be
 *    printed without a check. Arguments: NULL and "" both mean "none" wherever "none" is allowed.
 *  - Strings passed in are (pointer, length) pairs. A length of SMTPC_NTS ((size_t)-1, SIZE_MAX)
 *    means "NUL-terminated", for every string argument of every function; a NULL pointer with length
 *    0 or SMTPC_NTS is the empty string. Data passed in is validated as the bytes that would go on
 *    the wire: CR, LF and NUL are refused in every command argument, so a string cut short at an
 *    embedded NUL is never sent silently. Bytes are `char` everywhere (also binary data such as a
 *    DER certificate). Length parameters are named `len` (or `<name>_len`) for input and `out_len`
 *    for a length the library writes back (optional: NULL when not wanted).
 *  - Callbacks take a `void *userdata` last, and the function that registers or runs a callback
 *    takes (fn, userdata) as its last two parameters. A callback must not unwind (C++ exceptions,
 *    longjmp, Rust panics) into the library.
 *  - Finalizers: smtpc_client_free(), smtpc_envelope_free(), smtpc_reply_free(),
 *    smtpc_result_free() and smtpc_tls_config_free() call no callback, so a garbage collector's
 *    finalizer (on any thread, while no call on the handle is running) may call them.
 *    smtpc_client_close() is an ordinary call and may trace.
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

/**
 * Length value meaning "the string is NUL-terminated; measure it": (size_t)-1, which is SIZE_MAX.
 * Written as SIZE_MAX (a plain integer constant) so that FFI generators that drop cast expressions
 * (bindgen, SWIG) keep it.
 */
#define SMTPC_NTS SIZE_MAX

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
 * Result of every fallible call: SMTPC_OK (0) or a negative code. One type for the status and its
 * codes. Int-sized; codes are only ever appended (more negative values), never renumbered, so a
 * caller must treat an unknown negative value as a failure (smtpc_strerror() gives "unknown status").
 * The comment after each code names the Python smtplib exception it corresponds to, where one does.
 */
typedef enum smtpc_status {
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
    SMTPC_ECANCELLED = -28,
    /** Non-blocking mode (smtpc_client_set_nonblocking): the operation is in progress; watch
     *  smtpc_client_fd() for smtpc_client_wants() until smtpc_client_deadline_ms(), then call
     *  smtpc_client_step(). Never returned by a client in blocking mode. */
    SMTPC_EAGAIN = -29
} smtpc_status;

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
 * whose class matches the reply code. Borrowed from the reply. "" for a NULL reply; never NULL.
 */
SMTPC_API const char *smtpc_reply_enhanced(const smtpc_reply *reply);

/**
 * The reply text joined as Python's smtplib joins it: each line's text after the code and separator,
 * stripped of spaces and tabs at both ends, joined with "\n". The enhanced status code, if any, stays
 * in the text. NUL-terminated (replies never contain NUL); *out_len (if not NULL) gets the length.
 * Borrowed from the reply. "" for a NULL reply; never NULL.
 */
SMTPC_API const char *smtpc_reply_text(const smtpc_reply *reply, size_t *out_len);

/** Number of lines in the reply (at least 1). 0 for a NULL reply. */
SMTPC_API size_t smtpc_reply_line_count(const smtpc_reply *reply);

/**
 * Line `index` of the reply as received, after the code and separator and without the CRLF,
 * NUL-terminated (possibly empty); *out_len (if not NULL) gets its length. Borrowed from the reply.
 * NULL when index is out of range or reply is NULL.
 */
SMTPC_API const char *smtpc_reply_line(const smtpc_reply *reply, size_t index, size_t *out_len);

/**
 * Copy a reply so that it outlives the object it was borrowed from.
 * @param[out] out the copy, owned by the caller; release it with smtpc_reply_free().
 * @return SMTPC_OK; SMTPC_EINVAL when out or reply is NULL; SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_reply_dup(smtpc_reply **out, const smtpc_reply *reply);

/** Free a reply made by smtpc_reply_dup(). NULL is a no-op. Never pass a borrowed reply. Calls no
 *  callback (safe from a finalizer). */
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

/** Free an envelope. NULL is a no-op. Calls no callback (safe from a finalizer). */
SMTPC_API void smtpc_envelope_free(smtpc_envelope *env);

/**
 * Why the last call on this envelope failed: NUL-terminated English text naming the argument and
 * the rule it broke (e.g. "recipient address: local part over 64 octets"). Every setter that fails
 * on a non-NULL envelope sets it; a successful call clears it to "". Borrowed from the envelope
 * (valid until the next call that changes it, or its free). "" for a NULL envelope; never NULL.
 */
SMTPC_API const char *smtpc_envelope_errmsg(const smtpc_envelope *env);

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
 * adds SIZE itself when the server offers it. The typed setters below are the checked way to pass
 * DSN, REQUIRETLS, MT-PRIORITY, DELIVERBY, FUTURERELEASE, AUTH=, BODY and SMTPUTF8; a raw option
 * whose keyword a typed parameter also sets (or a keyword given twice) makes the send fail with
 * SMTPC_EINVAL.
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
/* Typed ESMTP parameters on the envelope (docs/extensions.md)                                    */
/* ---------------------------------------------------------------------------------------------- */
/*
 * Each parameter below is checked when it is set (SMTPC_EINVAL for a bad value, the envelope
 * unchanged), encoded as its RFC says, and checked again at send time against what the server
 * offered in its EHLO reply: a parameter the server does not offer makes the send fail with
 * SMTPC_ENOTSUPPORTED before MAIL FROM is sent (nothing after EHLO, or STARTTLS and EHLO), with
 * smtpc_client_errmsg() naming the extension. Typed and raw parameters (smtpc_envelope_add_*_option)
 * may be mixed, but the same keyword given twice (typed and raw, or raw twice) is SMTPC_EINVAL at
 * send time. Setting a typed parameter again replaces it.
 */

/** DSN (RFC 3461) RET: which part of the message a failure notification returns. */
typedef enum smtpc_dsn_ret {
    SMTPC_DSN_RET_UNSET = 0, /**< no RET parameter (the server's default) */
    SMTPC_DSN_RET_FULL = 1,  /**< RET=FULL: the whole message */
    SMTPC_DSN_RET_HDRS = 2   /**< RET=HDRS: the headers only */
} smtpc_dsn_ret;

/** DSN (RFC 3461) NOTIFY flags for smtpc_envelope_add_recipient_dsn(): NEVER alone, or any of
 *  SUCCESS, FAILURE and DELAY or'ed together; 0 for no NOTIFY parameter. */
typedef enum smtpc_dsn_notify {
    SMTPC_DSN_NOTIFY_NEVER = 1,
    SMTPC_DSN_NOTIFY_SUCCESS = 2,
    SMTPC_DSN_NOTIFY_FAILURE = 4,
    SMTPC_DSN_NOTIFY_DELAY = 8
} smtpc_dsn_notify;

/**
 * DSN (RFC 3461) parameters of MAIL FROM: RET and ENVID. `envid` (NULL for none) is the envelope
 * identifier: 1..100 printable ASCII characters (spaces allowed), sent xtext-encoded ('+', '=' and
 * spaces as "+HH"). SMTPC_DSN_RET_UNSET with a NULL envid removes both.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL env, ret out of range, bad or over-long envid); SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_envelope_set_dsn(smtpc_envelope *env, int ret, const char *envid,
                                              size_t envid_len);

/**
 * When `drop` is non-zero, the DSN parameters (RET, ENVID, NOTIFY, ORCPT given here) are left out
 * silently when the server does not offer DSN, instead of SMTPC_ENOTSUPPORTED (the default).
 * @return SMTPC_OK; SMTPC_EINVAL for a NULL env.
 */
SMTPC_API smtpc_status smtpc_envelope_set_dsn_optional(smtpc_envelope *env, int drop);

/**
 * Append a recipient, as smtpc_envelope_add_recipient(), with its DSN parameters (RFC 3461):
 * `notify` is 0 (no NOTIFY), SMTPC_DSN_NOTIFY_NEVER alone, or any of SUCCESS|FAILURE|DELAY;
 * `orcpt` (NULL for none) is the original recipient address, sent as "ORCPT=rfc822;" + xtext when it
 * is ASCII, or "ORCPT=utf-8;" + the RFC 6533 form when it is not (its UTF-8 as is when the
 * transaction uses SMTPUTF8, else each non-ASCII character as "\x{HEX}"). A recipient added with
 * notify 0 and orcpt NULL is an ordinary recipient.
 * @return SMTPC_OK; SMTPC_EINVAL (bad address, bad flags such as NEVER with another, bad or
 *         over-long orcpt: control characters, invalid UTF-8, more than 500 octets encoded);
 *         SMTPC_ENOMEM. On error the envelope is unchanged.
 */
SMTPC_API smtpc_status smtpc_envelope_add_recipient_dsn(smtpc_envelope *env, const char *addr, size_t len,
                                                        unsigned int notify, const char *orcpt,
                                                        size_t orcpt_len);

/**
 * REQUIRETLS (RFC 8689) on MAIL FROM when `on` is non-zero. The message then goes only over TLS
 * with a verified certificate to a server that offers REQUIRETLS after STARTTLS: sending it makes
 * the client use TLS as with SMTPC_TLS_REQUIRED whatever its policy (STARTTLS, certificate
 * verified), and fails with SMTPC_ETLS_REQUIRED (no STARTTLS), SMTPC_ETLS_VERIFY (certificate not
 * trusted) or SMTPC_ENOTSUPPORTED (REQUIRETLS not offered, or verification turned off), with
 * nothing sent past EHLO.
 * @return SMTPC_OK; SMTPC_EINVAL for a NULL env.
 */
SMTPC_API smtpc_status smtpc_envelope_set_requiretls(smtpc_envelope *env, int on);

/** smtpc_envelope_set_mt_priority() value that removes the parameter. */
enum { SMTPC_MT_PRIORITY_UNSET = 100 };

/**
 * MT-PRIORITY (RFC 6710) on MAIL FROM: -9 (lowest) .. 9 (highest), or SMTPC_MT_PRIORITY_UNSET.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL env, out of range).
 */
SMTPC_API smtpc_status smtpc_envelope_set_mt_priority(smtpc_envelope *env, int priority);

/** DELIVERBY (RFC 2852) by-mode. */
typedef enum smtpc_deliverby_mode {
    SMTPC_DELIVERBY_UNSET = 0,  /**< no BY parameter */
    SMTPC_DELIVERBY_RETURN = 1, /**< "R": return the message if not delivered in time */
    SMTPC_DELIVERBY_NOTIFY = 2  /**< "N": send a delay notification if not delivered in time */
} smtpc_deliverby_mode;

/**
 * DELIVERBY (RFC 2852): "BY=<seconds>;R" or ";N", with "T" (trace) when `trace` is non-zero.
 * `seconds` is -999999999..999999999, and positive for SMTPC_DELIVERBY_RETURN; at send time a
 * RETURN time below the server's advertised minimum ("DELIVERBY 240") is SMTPC_ENOTSUPPORTED.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL env, mode out of range, seconds out of range).
 */
SMTPC_API smtpc_status smtpc_envelope_set_deliver_by(smtpc_envelope *env, int64_t seconds, int mode,
                                                     int trace);

/**
 * FUTURERELEASE (RFC 4865) HOLDFOR: hold the message for `seconds` (1..999999999) before delivery;
 * 0 removes it. At send time it must not exceed the server's advertised maximum interval.
 * Replaces a HOLDUNTIL.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL env, out of range).
 */
SMTPC_API smtpc_status smtpc_envelope_set_hold_for(smtpc_envelope *env, uint64_t seconds);

/**
 * FUTURERELEASE (RFC 4865) HOLDUNTIL: hold the message until `time`, an RFC 3339 date-time
 * ("2026-12-24T18:00:00Z", "2026-12-24T19:00:00+01:00"); NULL removes it. At send time it must
 * not be later than the server's advertised latest release time. Replaces a HOLDFOR.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL env, not an RFC 3339 date-time); SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_envelope_set_hold_until(smtpc_envelope *env, const char *time, size_t len);

/**
 * AUTH= on MAIL FROM (RFC 4954 section 5): the identity that submitted the message, sent
 * xtext-encoded; "" sends "AUTH=<>" (identity unknown or not to be passed on); NULL removes it.
 * Needs a server that offers AUTH.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL env, control characters or invalid UTF-8); SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_envelope_set_auth(smtpc_envelope *env, const char *identity, size_t len);

/** The BODY parameter (RFC 6152, RFC 3030). */
typedef enum smtpc_body {
    /** Chosen from the message (default): BODY=8BITMIME when a message given in memory has 8-bit
     *  bytes and the server offers 8BITMIME (or SMTPUTF8 is used); BODY=BINARYMIME, sent with BDAT
     *  exactly as given, when it is not valid 8BITMIME text (a NUL, a CR not followed by LF, a line
     *  over 998 octets) and the server offers BINARYMIME and CHUNKING (CHUNKING not turned off);
     *  otherwise none. A LF without CR is a line end, not binary. Nothing for a streamed message. */
    SMTPC_BODY_AUTO = 0,
    SMTPC_BODY_7BIT = 1,     /**< BODY=7BIT */
    SMTPC_BODY_8BITMIME = 2, /**< BODY=8BITMIME (SMTPC_ENOTSUPPORTED when not offered) */
    /** BODY=BINARYMIME: the message goes with BDAT exactly as given, never normalised; needs
     *  BINARYMIME and CHUNKING offered and CHUNKING not turned off, else SMTPC_ENOTSUPPORTED. */
    SMTPC_BODY_BINARYMIME = 3
} smtpc_body;

/**
 * Set the BODY parameter; see smtpc_body.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL env, value out of range).
 */
SMTPC_API smtpc_status smtpc_envelope_set_body(smtpc_envelope *env, int body);

/** When SMTPUTF8 (RFC 6531) is put on MAIL FROM. */
typedef enum smtpc_smtputf8 {
    /** When an address is not ASCII (SMTPC_ENOTSUPPORTED if not offered), or when the headers of a
     *  message in memory are not ASCII and the server offers it (default). */
    SMTPC_SMTPUTF8_AUTO = 0,
    SMTPC_SMTPUTF8_ON = 1, /**< always (SMTPC_ENOTSUPPORTED when not offered) */
    SMTPC_SMTPUTF8_OFF = 2 /**< never (a non-ASCII address is then SMTPC_EINVAL at send time) */
} smtpc_smtputf8;

/**
 * Set when SMTPUTF8 is used; see smtpc_smtputf8. A raw "SMTPUTF8" mail option is the same as ON.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL env, value out of range).
 */
SMTPC_API smtpc_status smtpc_envelope_set_smtputf8(smtpc_envelope *env, int mode);

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

/**
 * Copy a result (recipients, states and every reply) so that it outlives the client it was
 * borrowed from.
 * @param[out] out the copy, owned by the caller; release it with smtpc_result_free().
 * @return SMTPC_OK; SMTPC_EINVAL when out or res is NULL; SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_result_dup(smtpc_result **out, const smtpc_result *res);

/** Free a result made by smtpc_result_dup(). NULL is a no-op. Never pass a borrowed result. Calls no
 *  callback (safe from a finalizer). */
SMTPC_API void smtpc_result_free(smtpc_result *res);

/** Number of recipients in the result (0 for NULL). */
SMTPC_API size_t smtpc_result_count(const smtpc_result *res);

/** The reply to MAIL FROM, or NULL when it was not answered. Borrowed from the result. */
SMTPC_API const smtpc_reply *smtpc_result_mail_reply(const smtpc_result *res);

/**
 * Recipient `index` as given by the caller, NUL-terminated; *out_len (if not NULL) gets its length.
 * Borrowed from the result. NULL when index is out of range.
 */
SMTPC_API const char *smtpc_result_recipient(const smtpc_result *res, size_t index, size_t *out_len);

/** State of recipient `index`; SMTPC_RCPT_NOT_ATTEMPTED when index is out of range. States may be
 *  added (see "Enums" at the top). */
SMTPC_API smtpc_rcpt_state smtpc_result_state(const smtpc_result *res, size_t index);

/** The reply to RCPT TO for recipient `index`, or NULL when it was not answered. Borrowed from the
 *  result. */
SMTPC_API const smtpc_reply *smtpc_result_rcpt_reply(const smtpc_result *res, size_t index);

/**
 * The reply that decided the message's fate for recipient `index`: the reply to DATA when DATA was
 * refused, else the reply after the message (for LMTP, this recipient's own). NULL when none
 * applies. Borrowed from the result.
 */
SMTPC_API const smtpc_reply *smtpc_result_data_reply(const smtpc_result *res, size_t index);

/** Number of recipients in state SMTPC_RCPT_DELIVERED. */
SMTPC_API size_t smtpc_result_delivered_count(const smtpc_result *res);

/**
 * The reply that decided recipient `index`'s state: its smtpc_result_data_reply() when there is
 * one, else its smtpc_result_rcpt_reply(); NULL when neither was received. Borrowed.
 */
SMTPC_API const smtpc_reply *smtpc_result_reply(const smtpc_result *res, size_t index);

/**
 * The enhanced status code (RFC 3463) of a reply as numbers: class (2, 4 or 5), subject and
 * detail; each pointer may be NULL. Returns 1 when the reply has one, else 0 with the outputs set
 * to 0 (also for a NULL reply). With smtpc_result_reply(), every recipient's code.
 */
SMTPC_API int smtpc_reply_enhanced_parts(const smtpc_reply *reply, int *klass, int *subject, int *detail);

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
 * A client holds no descriptor until it connects; the first wait that sleeps (blocking mode) makes
 * the eventfd (close-on-exec) through which smtpc_client_cancel() wakes it, kept until the client is
 * freed. A client in non-blocking mode never makes one.
 * @return SMTPC_OK; SMTPC_EINVAL (out NULL or unknown protocol); SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_client_new(smtpc_client **out, smtpc_protocol protocol);

/**
 * Close the connection (without QUIT) and free the client. NULL is a no-op. No callback is called,
 * not even the trace (the close is not traced), so a garbage collector's finalizer may call it on
 * any thread, provided no call on the client is running. From a callback of this client the free is
 * deferred until the running call returns (see the re-entry rule at the top).
 */
SMTPC_API void smtpc_client_free(smtpc_client *client);

/** The protocol the client was created with. */
SMTPC_API smtpc_protocol smtpc_client_protocol(const smtpc_client *client);

/**
 * Detail of the last failure on this client: NUL-terminated English text naming what failed, e.g.
 * "RCPT TO refused: 550 5.1.1 no such user" or "connect to 127.0.0.1:2525: Connection refused".
 * "" after a successful call. Borrowed from the client. Never NULL (a NULL client gives "").
 */
SMTPC_API const char *smtpc_client_errmsg(const smtpc_client *client);

/** The status returned by the last call on this client (SMTPC_OK after a success); SMTPC_EINVAL
 *  for a NULL client. */
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
 * looked up, else "". Borrowed from the client.
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
 * A name is resolved for the address family of each destination address tried; in non-blocking
 * mode on the resolver thread, with the destination, never on the caller's thread. A source that
 * cannot be resolved or bound fails the connect with SMTPC_ECONNECT. Ignored for Unix sockets.
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
 * Trace callback. `data`/`len` is the traced text, valid until the callback returns (not
 * NUL-terminated). Kinds may be added (see "Enums" at the top): ignore a kind you do not know.
 * `time_us` is the wall-clock time in microseconds since the Unix epoch at trace level 2 and 0 at
 * level 1. Calls on the same client from here follow the re-entry rule of the
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
 * Safe to call when not connected. The trace callback, if set, sees the close (an INFO line), so do
 * not call this from a finalizer that must not run the callback: smtpc_client_free() alone closes
 * without tracing. From a callback of this client the close is deferred until the running call
 * returns (see the re-entry rule at the top).
 */
SMTPC_API void smtpc_client_close(smtpc_client *client);

/* --- Replies and server features -------------------------------------------------------------- */

/**
 * The last reply received on this client (the greeting after connect, then each command's reply;
 * after smtpc_client_sendmail(), the reply that ended it). NULL when none. Borrowed from the client.
 */
SMTPC_API const smtpc_reply *smtpc_client_last_reply(const smtpc_client *client);

/**
 * The reply to the last HELO (smtplib's helo_resp), or NULL when no HELO was answered on this
 * connection. Borrowed from the client.
 */
SMTPC_API const smtpc_reply *smtpc_client_helo_reply(const smtpc_client *client);

/**
 * The reply to the last EHLO or LHLO (smtplib's ehlo_resp), or NULL when none was answered on this
 * connection. Borrowed from the client.
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
 * and AUTH= line, each preceded by a space; "" for an extension without parameters).
 * NUL-terminated; *out_len (if not NULL) gets the length. Borrowed from the client. NULL when the
 * server did not list the extension.
 */
SMTPC_API const char *smtpc_client_extn_params(const smtpc_client *client, const char *name, size_t len,
                                               size_t *out_len);

/** Number of extensions in the feature map (0 when no EHLO was answered). */
SMTPC_API size_t smtpc_client_extn_count(const smtpc_client *client);

/**
 * The keyword of extension `index` of the feature map, in the order the server first listed it, in
 * lower case (as smtplib's dict keys), NUL-terminated; *out_len (if not NULL) gets its length.
 * Borrowed from the client. NULL when index is out of range.
 */
SMTPC_API const char *smtpc_client_extn_name(const smtpc_client *client, size_t index, size_t *out_len);

/**
 * The parameters of extension `index` of the feature map, as smtpc_client_extn_params() gives them
 * ("" when it has none); *out_len (if not NULL) gets the length. Borrowed from the client. NULL when
 * index is out of range.
 */
SMTPC_API const char *smtpc_client_extn_params_at(const smtpc_client *client, size_t index, size_t *out_len);

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
 *         SMTPC_ESTATE (messages queued with smtpc_client_enqueue() are not complete: sendmail is
 *         that queue with one message, and waits its turn only as part of it);
 *         SMTPC_ENOTSUPPORTED (SMTPUTF8 asked for, or needed by a non-ASCII address, and not offered;
 *         or a typed parameter of the envelope the server does not offer, see "Typed ESMTP
 *         parameters"; nothing sent after EHLO, errmsg says which address or extension);
 *         SMTPC_EINVAL also for the same ESMTP keyword given twice (typed and raw, or raw twice);
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
                                                    uint64_t size_hint, smtpc_read_fn read, void *userdata);

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
 * Safe from any thread, from a signal handler (async-signal-safe: an atomic flag and a write() to
 * the descriptor the client's first sleeping wait made; errno is kept) and from the client's own
 * callbacks. When no descriptor could be made for it (none left), a wait looks at the request every
 * 50 ms. The handle must stay valid until smtpc_client_cancel() returns.
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
 * sent one by one, or the message whose result smtpc_client_next_result() gave last), or NULL when
 * none was started. It survives a connection the server or a failure
 * closed, so the outcome can be read after any error. Borrowed from the client; smtpc_result_dup()
 * keeps a copy.
 */
SMTPC_API const smtpc_result *smtpc_client_last_result(const smtpc_client *client);

/* --- Many messages over one connection ---------------------------------------------------------- */
/*
 * A queue of messages on one client, sent back to back over its connection at the wire's pace (RFC
 * 2920 section 3.1: a message's end of data opens the next message's pipelined group; with CHUNKING,
 * RFC 3030, a window of whole messages is in flight), with one result per message taken in the
 * order the messages were queued:
 *
 *     smtpc_client_enqueue(c, m1); smtpc_client_enqueue(c, m2); ...
 *     while (smtpc_client_next_result(c, &r) == SMTPC_OK && r) { ...; smtpc_message_result_free(r); }
 *
 * smtpc_client_sendmail() is this queue with one message. A refusal of one message does not disturb
 * the next. When the connection is lost, each message not yet answered is concluded: delivery unknown
 * when its end of data (the final dot, or BDAT LAST) went out unanswered, not sent otherwise, so a
 * caller can retry exactly the SMTPC_MESSAGE_NOT_SENT ones and must decide about the
 * SMTPC_MESSAGE_UNKNOWN ones. Memory stays bounded by the window (smtpc_client_set_window()): bodies
 * are read from the caller's buffer or reader as they are sent, never copied whole.
 */

/** A message to queue: envelope, body source and tag. Reusable; not tied to a client. */
typedef struct smtpc_message smtpc_message;

/** What became of a queued message. Values may be added in later versions. */
typedef enum smtpc_message_state {
    /** Accepted for every recipient. */
    SMTPC_MESSAGE_DELIVERED = 0,
    /** Accepted for some recipients only (others refused at RCPT, or in LMTP refused after the
     *  message, or with delivery unknown): smtpc_message_result_recipients() tells which. */
    SMTPC_MESSAGE_PARTIAL = 1,
    /** Refused by the server (MAIL, every RCPT, DATA or the message); the reply is kept. */
    SMTPC_MESSAGE_REFUSED = 2,
    /** Not sent: its end of data never went out (the connection was lost or closed first, a cancel,
     *  a reader or progress callback aborted). Nothing was delivered; it may be sent again. */
    SMTPC_MESSAGE_NOT_SENT = 3,
    /** Its end of data went out and the connection was lost before the reply: it may or may not
     *  have been delivered. Resending risks a duplicate. */
    SMTPC_MESSAGE_UNKNOWN = 4
} smtpc_message_state;

/** The outcome of one queued message, owned by the caller (smtpc_message_result_free()). */
typedef struct smtpc_message_result smtpc_message_result;

/**
 * Create an empty message: no envelope, no body, tag 0, envelope not taken from the headers.
 * @param[out] out the message, owned by the caller; release with smtpc_message_free().
 * @return SMTPC_OK; SMTPC_EINVAL when out is NULL; SMTPC_ENOMEM.
 */
SMTPC_API smtpc_status smtpc_message_new(smtpc_message **out);

/** Free a message. NULL is a no-op. Messages already queued are not affected (enqueue copied what it
 *  needs). Calls no callback (safe from a finalizer). */
SMTPC_API void smtpc_message_free(smtpc_message *msg);

/**
 * Set the envelope (sender, recipients, options), copied: `env` may be changed or freed afterwards.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL msg or env); SMTPC_ENOMEM (the message is unchanged).
 */
SMTPC_API smtpc_status smtpc_message_set_envelope(smtpc_message *msg, const smtpc_envelope *env);

/**
 * Set the body to `len` bytes at `data` (or a NUL-terminated string with SMTPC_NTS), encoded as
 * smtpc_client_sendmail() encodes it. Borrowed, not copied: the bytes must stay valid and unchanged
 * until the result of every queued copy of this message has been taken with
 * smtpc_client_next_result() (or the client is closed or freed). Replaces a reader.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL msg, or NULL data with a length other than 0 and SMTPC_NTS).
 */
SMTPC_API smtpc_status smtpc_message_set_body(smtpc_message *msg, const char *data, size_t len);

/**
 * Read the body from `read` in blocks when the message is sent (as smtpc_client_sendmail_stream()
 * does), so a message of any size is sent in constant memory. `size_hint` is declared as SIZE= when
 * not 0 and counts towards the window's bytes. `read` is called only from a call on the client the
 * message was queued on (enqueue, next_result, quit) while its body is being sent, never
 * after it returned 0 bytes or non-zero; non-zero aborts the message (not sent; the connection is
 * closed, so messages behind it are not sent either and those answered before it keep their result).
 * `userdata` must stay valid as data set with smtpc_message_set_body() does. Replaces a body.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL msg or read).
 */
SMTPC_API smtpc_status smtpc_message_set_body_reader(smtpc_message *msg, uint64_t size_hint,
                                                     smtpc_read_fn read, void *userdata);

/**
 * With `enabled` non-zero, take what the envelope leaves unset from the body's headers and never
 * transmit its Bcc and Resent-Bcc fields, as smtpc_client_send_message() does (the body must then
 * be set with smtpc_message_set_body(), not a reader; the envelope may be unset).
 * @return SMTPC_OK; SMTPC_EINVAL (NULL msg).
 */
SMTPC_API smtpc_status smtpc_message_set_envelope_from_headers(smtpc_message *msg, int enabled);

/** Set the caller's tag, echoed by smtpc_message_result_tag(). @return SMTPC_OK; SMTPC_EINVAL (NULL). */
SMTPC_API smtpc_status smtpc_message_set_tag(smtpc_message *msg, uint64_t tag);

/**
 * Queue a message for sending on `client`'s connection. Everything is checked before the message is
 * queued, and a message that fails a check is not queued (nothing of it is sent): no envelope or no
 * body, no recipients, an address or option the server cannot take (SMTPUTF8 not offered, ...), the
 * headers with send_message()'s rules. On an idle connection this first says EHLO (and applies the
 * TLS policy) as sendmail does. The message's commands go out as soon as the pipelining rules and
 * the window allow, during this or a later call on the client (enqueue, next_result, quit): enqueue
 * drives the connection only while the window is full (smtpc_client_set_window(): the messages
 * queued and not yet complete reach its message count), until one completes.
 * enqueue copies what it needs from `msg`, which may be changed, queued again or freed at once; the
 * body's bytes or reader stay borrowed (smtpc_message_set_body()).
 * While messages are queued and not complete, every other call that talks to the server (a command,
 * sendmail, STARTTLS, AUTH) returns SMTPC_ESTATE: take the results first.
 * Thread-safety and re-entry as every call on the client: SMTPC_ESTATE from the client's callbacks.
 * @return SMTPC_OK (queued); SMTPC_EINVAL (NULL argument, no envelope, no body, no recipients, a
 *         reader with envelope-from-headers, headers without a usable sender or recipient);
 *         SMTPC_ENOTCONN; SMTPC_ENOTSUPPORTED (as sendmail; nothing queued); SMTPC_ENOMEM; the
 *         errors of EHLO and the TLS policy (SMTPC_EHELO, SMTPC_ETLS_REQUIRED, ...) on an idle
 *         connection. A failure of the connection while enqueue drives a full window does not fail
 *         enqueue: the messages in flight get their results, and this message is queued and
 *         concluded as not sent.
 */
SMTPC_API smtpc_status smtpc_client_enqueue(smtpc_client *client, const smtpc_message *msg);

/**
 * Take the result of the oldest queued message, driving the connection until it is complete (its
 * final reply, a refusal, or the end of the connection). Results come in the order the messages
 * were queued, one per message.
 * @param[out] out the result, owned by the caller (smtpc_message_result_free()); NULL when no message
 *             is queued (and SMTPC_OK is returned).
 * @return SMTPC_OK when *out is a result (whatever became of the message: see its state and status)
 *         or NULL; SMTPC_EINVAL (NULL argument); SMTPC_ENOMEM (the result stays queued).
 *         The client's errmsg and last status are those of this call (SMTPC_OK after a result), not
 *         the message's; smtpc_client_last_result() becomes the message's per-recipient result.
 */
SMTPC_API smtpc_status smtpc_client_next_result(smtpc_client *client, smtpc_message_result **out);

/**
 * Bound the queue: at most `messages` messages queued and not complete (enqueue waits for one to
 * complete beyond that; with CHUNKING that many can be in flight), and no further message started
 * while the bodies of those in flight add up to `bytes` or more (default 32 messages, 1 MiB). A
 * window of 1 sends one message at a time. Applies from the next message started.
 * @return SMTPC_OK; SMTPC_EINVAL (NULL client, or 0 for either bound).
 */
SMTPC_API smtpc_status smtpc_client_set_window(smtpc_client *client, uint32_t messages, uint64_t bytes);

/** Messages queued on the client whose results have not been taken (complete or not); 0 for NULL. */
SMTPC_API size_t smtpc_client_queued(const smtpc_client *client);

/** Of those, the messages whose commands went out and whose outcome is not known yet; 0 for NULL. */
SMTPC_API size_t smtpc_client_in_flight(const smtpc_client *client);

/*
 * Queued messages and the end of the connection: smtpc_client_close() (and a failure that closes
 * the connection) concludes every queued message that is not complete (not sent, or delivery unknown
 * when its end of data went out); their results stay available from smtpc_client_next_result(), also
 * after a new connect. smtpc_client_quit() first completes every queued message (results wait), then
 * says QUIT. smtpc_client_free() drops queued messages and their results.
 */

/** Free a result. NULL is a no-op. Calls no callback (safe from a finalizer). */
SMTPC_API void smtpc_message_result_free(smtpc_message_result *res);

/** The tag set with smtpc_message_set_tag() (0 for NULL). */
SMTPC_API uint64_t smtpc_message_result_tag(const smtpc_message_result *res);

/** What became of the message (SMTPC_MESSAGE_NOT_SENT for NULL). */
SMTPC_API smtpc_message_state smtpc_message_result_state(const smtpc_message_result *res);

/**
 * The status smtpc_client_sendmail() would have returned for this message: SMTPC_OK,
 * SMTPC_ESENDER_REFUSED, SMTPC_ERECIPIENTS_REFUSED, SMTPC_EDATA_REFUSED, SMTPC_EDELIVERY_UNKNOWN,
 * SMTPC_EDISCONNECTED, SMTPC_ECLOSING, SMTPC_ECANCELLED, SMTPC_EUSER, ... (SMTPC_EINVAL for NULL).
 */
SMTPC_API smtpc_status smtpc_message_result_status(const smtpc_message_result *res);

/** Why, as smtpc_client_errmsg() would have said after sendmail: "" on success, never NULL;
 *  *out_len (if not NULL) gets the length. Borrowed from the result. */
SMTPC_API const char *smtpc_message_result_errmsg(const smtpc_message_result *res, size_t *out_len);

/** The per-recipient outcome (as smtpc_client_last_result() after sendmail). Borrowed from the
 *  result; NULL for NULL. */
SMTPC_API const smtpc_result *smtpc_message_result_recipients(const smtpc_message_result *res);

/** The reply that decided the message: the refusal, or the reply to its end of data (LMTP: the last
 *  recipient's); NULL when none came. Borrowed from the result. */
SMTPC_API const smtpc_reply *smtpc_message_result_reply(const smtpc_message_result *res);

/* --- Non-blocking mode ------------------------------------------------------------------------- */
/*
 * A client in non-blocking mode is driven by the caller's event loop (epoll, poll, libuv, asyncio...)
 * instead of blocking its thread. Every operation (connect, helo/ehlo, starttls, login and the
 * auth calls, mail/rcpt/data/docmd/send_raw/read_reply, sendmail, sendmail_stream, send_message,
 * enqueue, next_result, quit) starts as in blocking mode and returns SMTPC_EAGAIN as soon as it would
 * have to wait (or its final status when it needs no wait). The loop then watches
 * smtpc_client_fd() for smtpc_client_wants() until smtpc_client_deadline_ms(), and calls
 * smtpc_client_step() when the descriptor is ready or the deadline has passed; step returns
 * SMTPC_EAGAIN until the operation ends, then exactly the status (and leaves exactly the replies,
 * results and errmsg) the blocking call would have. The blocking calls are the same state machine
 * with waits that wait: there is one implementation of the protocol.
 *
 * Rules:
 *  - One operation at a time per client: another operation started before the one in progress
 *    ended is SMTPC_ESTATE (and changes nothing). Getters may be called at any time;
 *    smtpc_client_close() abandons the operation in progress (the next smtpc_client_step()
 *    returns SMTPC_ENOTCONN); smtpc_client_cancel() ends it with SMTPC_ECANCELLED at the next step.
 *  - Borrowed data (a message body given to sendmail, data, send_message or an smtpc_message, and
 *    the body reader) must stay valid until the operation ends; envelopes and credentials are copied.
 *  - The descriptor may change between steps (connect tries several addresses; while a name is being
 *    resolved on a helper thread it is a socket the thread wakes): re-read smtpc_client_fd() after
 *    every step and re-register it if it changed. Do not read, write or close it. A descriptor that
 *    changed was closed by the step (epoll forgets it by itself): do not pass it to epoll_ctl or
 *    poll again, its number may already be in use elsewhere (another thread's file).
 *  - smtpc_client_next_result() returns SMTPC_EAGAIN while the oldest message has no result: step
 *    until step returns SMTPC_OK, then call next_result again. smtpc_client_enqueue() returns
 *    SMTPC_EAGAIN when the window is full (the message is queued): step until SMTPC_OK before the
 *    next enqueue. Queued messages advance only while an operation is in progress (enqueue on a full
 *    window, next_result, quit).
 *  - Nothing blocks the loop: a host name is resolved by getaddrinfo on a short-lived helper thread
 *    (address literals and Unix socket paths need none), the TCP connect and the TLS handshake
 *    (STARTTLS, implicit TLS: OpenSSL's WANT_READ/WANT_WRITE become smtpc_client_wants()) run in
 *    steps like every exchange. A source address (smtpc_client_set_source_address) given as a
 *    name is resolved on the same helper thread.
 *  - Threads: a client is driven from one thread at a time (the handle is not locked); different
 *    clients may be driven by different threads at once. smtpc_client_cancel() may be called from
 *    any thread, as in blocking mode.
 *  - Callbacks (trace, progress, body reader, AUTH) are called from inside the step that needs them.
 */

/** The bits of smtpc_client_wants(). */
typedef enum smtpc_want {
    /** Wait until the descriptor is readable (POLLIN, EPOLLIN). */
    SMTPC_WANT_READ = 1,
    /** Wait until the descriptor is writable (POLLOUT, EPOLLOUT). */
    SMTPC_WANT_WRITE = 2
} smtpc_want;

/**
 * Switches the client between blocking mode (the default, enabled 0) and non-blocking mode (enabled
 * non-zero). Only between operations.
 * @return SMTPC_OK; SMTPC_EINVAL for a NULL client; SMTPC_ESTATE while an operation is in progress.
 */
SMTPC_API smtpc_status smtpc_client_set_nonblocking(smtpc_client *client, int enabled);

/** Non-zero when the client is in non-blocking mode; 0 otherwise and for NULL. */
SMTPC_API int smtpc_client_nonblocking(const smtpc_client *client);

/**
 * The descriptor the operation in progress waits on (the connection's socket, or while a host name
 * is resolved, a socket the resolver thread writes to), else the connection's socket, or -1 when there
 * is none (and for NULL). Owned by the client: watch it, never read, write or close it.
 */
SMTPC_API int smtpc_client_fd(const smtpc_client *client);

/**
 * What the operation in progress waits for: SMTPC_WANT_READ and/or SMTPC_WANT_WRITE (a TLS read
 * may want a write, and a write also wants to read the replies that come meanwhile); 0 when no
 * operation is in progress (and for NULL).
 */
SMTPC_API int smtpc_client_wants(const smtpc_client *client);

/**
 * When the operation in progress times out: CLOCK_MONOTONIC time in milliseconds (as
 * clock_gettime(CLOCK_MONOTONIC) gives it), or -1 when there is no deadline or no operation (and
 * for NULL). Call smtpc_client_step() once it has passed, even if the descriptor is not ready: the
 * step ends the operation with SMTPC_ETIMEOUT. The deadline may move after a step (each command
 * gets the command timeout afresh, as in blocking mode).
 */
SMTPC_API int64_t smtpc_client_deadline_ms(const smtpc_client *client);

/**
 * Advances the operation in progress without blocking (callbacks excepted).
 * @return SMTPC_EAGAIN while it is still in progress; otherwise its final status, as the blocking
 *         call would have returned it. SMTPC_OK when no operation is in progress (the last call's
 *         status is left as it was); SMTPC_ENOTCONN once after smtpc_client_close() abandoned one.
 *         SMTPC_EINVAL for NULL; SMTPC_ESTATE from inside one of the client's callbacks.
 */
SMTPC_API smtpc_status smtpc_client_step(smtpc_client *client);

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
 * Session resumption: a configuration keeps the TLS sessions its connections were given (TLS 1.3
 * tickets, TLS 1.2 tickets and session IDs) and offers one on the next connection to the same peer
 * (host or socket path, and port) with the same server name and verification settings, so that
 * connection skips the certificate exchange (see smtpc_tls_config_set_session_resumption()). The
 * saved sessions are shared by every client using the configuration, on any thread (the cache has
 * its own lock).
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

/** Drop the caller's reference. Clients that use the configuration keep theirs. NULL is a no-op.
 *  Calls no callback (safe from a finalizer). */
SMTPC_API void smtpc_tls_config_free(smtpc_tls_config *cfg);

/**
 * Why the last call on this handle failed: NUL-terminated English text naming the argument or
 * OpenSSL's reason (e.g. "CA file: No such file or directory"). Every call that fails on a non-NULL
 * configuration sets it (SMTPC_EINVAL and SMTPC_ESTATE too); a successful call clears it to "".
 * Borrowed from the configuration (valid until the next call that changes it through this handle,
 * or its free). "" for a NULL configuration; never NULL.
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
SMTPC_API smtpc_status smtpc_tls_config_add_ca_der(smtpc_tls_config *cfg, const char *der, size_t len);

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
 * Resume TLS sessions on later connections made with this configuration (default 1). A session is
 * offered only to the peer it was made with (host or Unix socket path, and port), for the same
 * server name, under the same verification settings (policy, smtpc_tls_config_set_verify_peer(),
 * smtpc_tls_config_set_verify_hostname(), the testing skip switch); a TLS 1.3 ticket is used once
 * (RFC 8446); expired sessions are dropped; at most 256 peers are remembered (4 sessions each), the
 * least recently used forgotten first. A resumed connection reports the verification result of the
 * session's original handshake (smtpc_client_tls_verified(), smtpc_client_tls_verify_result()), so
 * the TLS policy and AUTH's plaintext rule judge it exactly as that handshake. A session the server
 * declines costs nothing but a full handshake. 0 turns resumption off and forgets every saved
 * session (e.g. after a server's certificate was revoked). May be changed at any time, from any
 * thread; applies from the next handshake. The process-wide default configuration resumes sessions
 * (give clients a configuration of their own to turn it off).
 * @return SMTPC_OK; SMTPC_EINVAL (NULL cfg).
 */
SMTPC_API smtpc_status smtpc_tls_config_set_session_resumption(smtpc_tls_config *cfg, int enabled);

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
    /** STARTTLS or fail with SMTPC_ETLS_REQUIRED before anything but EHLO/HELO (and QUIT) is sent. */
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
 * SMTPC_TLS_REQUIRED (or AUTO to a remote peer), MAIL, RCPT, DATA and the commands sent by hand
 * (NOOP, RSET, VRFY, EXPN, HELP, docmd, send_raw) are also refused with SMTPC_ETLS_REQUIRED, and the
 * connection closed, on a connection that is not encrypted: only EHLO/HELO, STARTTLS and QUIT go out
 * before the handshake. The policy also decides what a failed
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
 * 1 when the connection is encrypted and its TLS session was resumed from an earlier connection
 * (see smtpc_tls_config_set_session_resumption(); the INFO trace line "TLS established: ..." then
 * says "session resumed"), else 0.
 */
SMTPC_API int smtpc_client_tls_resumed(const smtpc_client *client);

/**
 * The negotiated TLS protocol version ("TLSv1.3"), NUL-terminated; "" when not encrypted. Borrowed
 * from the client.
 */
SMTPC_API const char *smtpc_client_tls_version(const smtpc_client *client);

/**
 * The negotiated cipher suite ("TLS_AES_256_GCM_SHA384"), NUL-terminated; "" when not encrypted.
 * Borrowed from the client.
 */
SMTPC_API const char *smtpc_client_tls_cipher(const smtpc_client *client);

/**
 * The server certificate's subject in OpenSSL's one-line RFC 2253 form ("CN=localhost"),
 * NUL-terminated; "" when not encrypted. Borrowed from the client.
 */
SMTPC_API const char *smtpc_client_tls_peer_subject(const smtpc_client *client);

/**
 * SHA-256 of the server certificate (DER) as 64 lower-case hex digits, NUL-terminated; "" when not
 * encrypted. Borrowed from the client.
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
SMTPC_API int smtpc_client_tls_verify_result(const smtpc_client *client);

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
                                         int initial_response_ok, smtpc_auth_fn fn, void *userdata);

/**
 * The mechanism of the last successful authentication on this connection ("SCRAM-SHA-256"), or ""
 * when not authenticated. Borrowed from the client.
 */
SMTPC_API const char *smtpc_client_auth_mechanism(const smtpc_client *client);

#ifdef __cplusplus
}
#endif

#endif /* SMTPC_H */
