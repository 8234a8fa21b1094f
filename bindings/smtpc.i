/* SPDX-License-Identifier: MIT */
/*
 * smtpc.i — the SWIG interface shared by every language binding.
 *
 * It wraps include/smtpc.h as it is (the header is the reference) and adds only the rules every
 * language needs. A per-language file (e.g. python/smtpc_python.i) declares the %module, may define
 * the macros and typemaps listed under "Language hooks" and then %includes this file.
 *
 *  - The smtpc_ prefix of functions is stripped: smtpc_client_new -> client_new. Constants keep
 *    their SMTPC_ prefix (SMTPC_EINVAL), since "EINVAL" alone would clash with errno names.
 *  - (const char *, size_t) pairs are one argument of the target language, passed with its true
 *    length, so an embedded NUL reaches the library (which refuses it) instead of cutting the
 *    string short.
 *  - `**out` handle constructors return the handle: client_new(SMTPC_PROTOCOL_SMTP) -> client.
 *    Handles are plain pointers: free them with client_free(), envelope_free(), reply_free().
 *  - A function returning smtpc_status raises an exception for a negative code and returns nothing
 *    on success (smtpc_client_last_status(), a getter, returns the code as an integer).
 *  - `size_t *len` outputs are dropped (replies never contain NUL, the strings are complete).
 *  - Callbacks (trace, custom AUTH mechanism, OAuth token source) are wrapped only when the language
 *    file provides trampolines (SMTPC_SWIG_HAVE_CALLBACKS); otherwise those functions are ignored.
 *    The streaming sendmail (smtpc_read_fn) is not wrapped yet.
 *
 * Handles stay plain pointers at this level (the flat C API, one function per C function); each
 * language wraps them in classes that own and free them (Python: smtpc/_core.py), as the thin
 * wrapper layer is easier to keep in step with the header than %extend blocks per language.
 */

%{
#include "smtpc.h"
%}

%include <stdint.i>

/* --- Language hooks ------------------------------------------------------------------------------- */
/*
 * SMTPC_SWIG_RAISE(code, detail): set the target language's error for a negative status `code`,
 *   with `detail` (a C string, may be NULL) naming what failed. Required.
 * SMTPC_SWIG_VOID_RESULT: the value a successful status-returning call gives. Required.
 * SMTPC_SWIG_HAVE_BYTES_TYPEMAP: define it when the language file provides its own typemaps for
 *   (const char *SMTPC_BYTES, size_t SMTPC_LENGTH); otherwise SWIG's (char *STRING, size_t LENGTH)
 *   is used.
 */
/* SMTPC_SWIG_HAVE_CALLBACKS: define it when the language file provides typemaps for
 *   (smtpc_trace_fn fn, void *userdata), (smtpc_auth_fn fn, void *userdata),
 *   (smtpc_token_fn fn, void *userdata) and (smtpc_progress_fn fn, void *userdata); otherwise the
 *   functions taking them are ignored.
 * SMTPC_SWIG_PENDING_ERROR(): a C expression, non-zero when a callback of the target language
 *   failed during the call and its error is already set; the status is then not turned into the
 *   generic error. Optional (default 0).
 */
%{
#ifndef SMTPC_SWIG_PENDING_ERROR
#define SMTPC_SWIG_PENDING_ERROR() 0
#endif
%}
#ifndef SMTPC_SWIG_HAVE_BYTES_TYPEMAP
%apply (char *STRING, size_t LENGTH) { (const char *SMTPC_BYTES, size_t SMTPC_LENGTH) };
#endif

/* --- Names ---------------------------------------------------------------------------------------- */
%rename("%(strip:[smtpc_])s") "";

/* --- (pointer, length) strings ------------------------------------------------------------------- */
%apply (const char *SMTPC_BYTES, size_t SMTPC_LENGTH) {
    (const char *name, size_t len),
    (const char *addr, size_t len),
    (const char *opt, size_t len),
    (const char *what, size_t len),
    (const char *host, size_t len),
    (const char *cmd, size_t cmd_len),
    (const char *args, size_t args_len),
    (const char *addr, size_t addr_len),
    (const char *options, size_t options_len),
    (const char *msg, size_t msg_len),
    (const char *path, size_t len),
    (const char *list, size_t len),
    (const char *cert_path, size_t cert_len),
    (const char *key_path, size_t key_len),
    (const char *password, size_t password_len),
    (const char *user, size_t user_len),
    (const char *mechanism, size_t mech_len),
    (const char *token, size_t token_len),
    (const char *authzid, size_t len),
    (const char *data, size_t len)
};
/* Binary data (a DER certificate). */
%apply (const char *SMTPC_BYTES, size_t SMTPC_LENGTH) { (const unsigned char *der, size_t len) };

/* --- Output parameters ---------------------------------------------------------------------------- */
/* Handle constructors: the new handle becomes the return value. */
%define SMTPC_OUT_HANDLE(TYPE)
%typemap(in, numinputs=0) TYPE **out (TYPE *temp = NULL) {
    $1 = &temp;
}
%typemap(argout) TYPE **out {
    $result = SWIG_AppendOutput($result, SWIG_NewPointerObj(SWIG_as_voidptr(*$1), $*1_descriptor, 0));
}
%enddef
SMTPC_OUT_HANDLE(smtpc_client)
SMTPC_OUT_HANDLE(smtpc_envelope)
SMTPC_OUT_HANDLE(smtpc_reply)
SMTPC_OUT_HANDLE(smtpc_tls_config)

/* Lengths of returned strings: not needed by languages that measure the string themselves. */
%typemap(in, numinputs=0) size_t *len (size_t temp = 0), size_t *out_len (size_t temp = 0) {
    $1 = &temp;
}

/* The parameters of an extension, returned next to its keyword by client_extn_at(). */
%typemap(in, numinputs=0) const char **params (const char *temp = NULL) {
    $1 = ($1_ltype)&temp;
}
%typemap(argout) const char **params {
    $result = SWIG_AppendOutput($result, SWIG_FromCharPtr(*$1));
}

/* --- Status codes ------------------------------------------------------------------------------ */
%{
/* The handle's own error text when the call's first argument is a client or a TLS configuration,
 * else NULL (the status text is used). */
#define SMTPC_SWIG_DETAIL(arg)                                                                          \
    _Generic((arg),                                                                                     \
        smtpc_client *: smtpc_client_errmsg((const smtpc_client *)(const void *)(arg)),                 \
        smtpc_tls_config *: smtpc_tls_config_errmsg((const smtpc_tls_config *)(const void *)(arg)),     \
        default: (const char *)NULL)
%}

%typemap(out) smtpc_status {
    if (SMTPC_SWIG_PENDING_ERROR()) {
        SWIG_fail;
    }
    if ($1 < 0) {
        SMTPC_SWIG_RAISE($1, SMTPC_SWIG_DETAIL(arg1));
        SWIG_fail;
    }
    $result = SMTPC_SWIG_VOID_RESULT;
}
/* A getter, not a call that can fail. */
%typemap(out) smtpc_status smtpc_client_last_status = int;

/* --- Callbacks ----------------------------------------------------------------------------------- */
#ifndef SMTPC_SWIG_HAVE_CALLBACKS
/* Callbacks need per-language trampolines. */
%ignore smtpc_client_set_trace;
%ignore smtpc_client_auth;
%ignore smtpc_client_auth_oauth2;
%ignore smtpc_client_set_progress;
#endif
/* Not wrapped yet: a message source callback. */
%ignore smtpc_client_sendmail_stream;
/* Only meaningful inside a callback, which the trampolines call for the target language. */
%ignore smtpc_auth_response_set;

/* Export macro only. */
#define SMTPC_API

%include "smtpc.h"
