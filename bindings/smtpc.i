/* SPDX-License-Identifier: MIT */
/*
 * smtpc.i — the SWIG interface shared by every language binding.
 *
 * It wraps include/smtpc.h as it is (the header is the reference) and adds only rules that hold for
 * every SWIG target language (Python, Ruby, Java, C#, Go, ...): no typemap here uses a helper that
 * only the scripting languages have (SWIG_AppendOutput, SWIG_NewPointerObj, SWIG_fail, ...). A
 * per-language file (python/smtpc_python.i, ruby/smtpc_ruby.i, java/smtpc_java.i) declares the
 * %module, may provide the hooks listed below, and then %includes this file. The scripting languages
 * share their common typemaps through smtpc_scripting.i.
 *
 * What every language gets:
 *  - The smtpc_ prefix of functions is stripped: smtpc_client_new -> client_new. Constants keep
 *    their SMTPC_ prefix (SMTPC_EINVAL), since "EINVAL" alone would clash with errno names.
 *  - SMTPC_NTS as a constant of its own ((size_t)-1), although the header spells it SIZE_MAX, which
 *    SWIG cannot evaluate.
 *  - (const char *, size_t) pairs are one argument of the target language (its bytes or string type),
 *    passed with its true length, so an embedded NUL reaches the library (which refuses it) instead
 *    of cutting the string short.
 *  - `size_t *out_len` outputs are dropped (the strings are NUL-terminated and never contain NUL).
 *  - Callbacks (trace, progress, custom AUTH mechanism, OAuth token source) need per-language
 *    trampolines: they are wrapped only when the language file provides them
 *    (SMTPC_SWIG_HAVE_CALLBACKS); otherwise those functions are left out. The streaming sendmail
 *    (smtpc_read_fn) is left out likewise unless SMTPC_SWIG_HAVE_READ_CALLBACK is defined.
 *  - Handles are plain pointers (the flat C API, one function per C function); each language wraps
 *    them in classes that own and free them (Python: smtpc/_core.py, Ruby: smtpc.rb), as a thin
 *    layer in the language is easier to keep in step with the header than %extend blocks.
 *
 * Language hooks (all optional):
 *  SMTPC_SWIG_HAVE_BYTES_TYPEMAP: the language file provides typemaps for
 *    (const char *SMTPC_BYTES, size_t SMTPC_LENGTH); otherwise SWIG's (char *STRING, size_t LENGTH)
 *    is used.
 *  SMTPC_SWIG_HAVE_OUT_HANDLE: the language file defines the SWIG macro SMTPC_OUT_HANDLE(TYPE, NAME) that
 *    turns a `TYPE **out` constructor argument into the return value (client_new(protocol) ->
 *    client). Otherwise cpointer.i's functions are generated for each handle type:
 *    new_client_out() / client_out_value(p) / delete_client_out(p) (likewise envelope_out,
 *    reply_out, result_out, tls_config_out), so that client_new(p, protocol) can be called.
 *  SMTPC_SWIG_HAVE_STATUS_TYPEMAP: the language file provides %typemap(out) smtpc_status (e.g. to
 *    raise its exception for a negative code: smtpc_swig_detail() below gives the handle's text).
 *    Otherwise a status is returned as the language's integer, and the codes are constants. Enums
 *    may gain values (see the header): a language that maps C enums to closed types (Java, C#) must
 *    use integer constants instead (java/smtpc_java.i does).
 *  SMTPC_SWIG_HAVE_CALLBACKS: the language file provides typemaps for
 *    (smtpc_trace_fn fn, void *userdata), (smtpc_auth_fn fn, void *userdata),
 *    (smtpc_token_fn fn, void *userdata) and (smtpc_progress_fn fn, void *userdata).
 *  SMTPC_SWIG_HAVE_READ_CALLBACK: likewise for (smtpc_read_fn read, void *userdata).
 */

%{
#include "smtpc.h"

/* The detail of a failed call, for a language's status typemap: the error text of the handle the
 * call failed on (its first argument: a client, an envelope or a TLS configuration), or NULL when it
 * has none (the status text is then the message). Plain C11, for every language's wrapper. */
#define smtpc_swig_detail(arg)                                                                          \
    _Generic((arg),                                                                                     \
        smtpc_client *: smtpc_client_errmsg((const smtpc_client *)(const void *)(arg)),                 \
        smtpc_envelope *: smtpc_envelope_errmsg((const smtpc_envelope *)(const void *)(arg)),           \
        smtpc_tls_config *: smtpc_tls_config_errmsg((const smtpc_tls_config *)(const void *)(arg)),     \
        default: (const char *)NULL)
%}

%include <stdint.i>

/* --- Names ---------------------------------------------------------------------------------------- */
%rename("%(strip:[smtpc_])s") "";

/* --- Constants the header spells in a form SWIG cannot evaluate ---------------------------------- */
%constant size_t SMTPC_NTS = SIZE_MAX;

/* --- (pointer, length) strings ------------------------------------------------------------------- */
#ifndef SMTPC_SWIG_HAVE_BYTES_TYPEMAP
%apply (char *STRING, size_t LENGTH) { (const char *SMTPC_BYTES, size_t SMTPC_LENGTH) };
#endif
/* Every (const char *, size_t) pair of the header. SWIG matches multi-argument typemaps by name, so
 * each pair is listed: tests/swig/check_pairs.py fails when the header has one this list lacks. */
%apply (const char *SMTPC_BYTES, size_t SMTPC_LENGTH) {
    (const char *addr, size_t addr_len),
    (const char *addr, size_t len),
    (const char *args, size_t args_len),
    (const char *authzid, size_t len),
    (const char *cert_path, size_t cert_len),
    (const char *cmd, size_t cmd_len),
    (const char *data, size_t len),
    (const char *der, size_t len),
    (const char *envid, size_t envid_len),
    (const char *host, size_t len),
    (const char *identity, size_t len),
    (const char *key_path, size_t key_len),
    (const char *list, size_t len),
    (const char *mechanism, size_t mech_len),
    (const char *msg, size_t msg_len),
    (const char *name, size_t len),
    (const char *opt, size_t len),
    (const char *options, size_t options_len),
    (const char *orcpt, size_t orcpt_len),
    (const char *password, size_t password_len),
    (const char *path, size_t len),
    (const char *time, size_t len),
    (const char *token, size_t token_len),
    (const char *user, size_t user_len),
    (const char *what, size_t len)
};

/* --- Output parameters ---------------------------------------------------------------------------- */
/* Lengths of returned strings: not needed by languages that measure the string themselves. */
%typemap(in, numinputs=0) size_t *out_len (size_t temp = 0) {
    $1 = &temp;
}

/* smtpc_reply_enhanced_parts: class, subject and detail returned beside the result. */
%include <typemaps.i>
%apply int *OUTPUT { int *klass, int *subject, int *detail };

/* Handle constructors. */
#ifndef SMTPC_SWIG_HAVE_OUT_HANDLE
%include <cpointer.i>
%define SMTPC_OUT_HANDLE(TYPE, NAME)
%pointer_functions(TYPE *, NAME##_out)
%enddef
#endif
SMTPC_OUT_HANDLE(smtpc_client, client)
SMTPC_OUT_HANDLE(smtpc_envelope, envelope)
SMTPC_OUT_HANDLE(smtpc_reply, reply)
SMTPC_OUT_HANDLE(smtpc_result, result)
SMTPC_OUT_HANDLE(smtpc_tls_config, tls_config)
SMTPC_OUT_HANDLE(smtpc_message, message)
SMTPC_OUT_HANDLE(smtpc_message_result, message_result)

/* --- Callbacks ----------------------------------------------------------------------------------- */
#ifndef SMTPC_SWIG_HAVE_CALLBACKS
%ignore smtpc_client_set_trace;
%ignore smtpc_client_auth;
%ignore smtpc_client_auth_oauth2;
%ignore smtpc_client_set_progress;
#endif
#ifndef SMTPC_SWIG_HAVE_READ_CALLBACK
%ignore smtpc_client_sendmail_stream;
%ignore smtpc_message_set_body_reader;
#endif
/* Only meaningful inside a callback, which the trampolines call for the target language. */
%ignore smtpc_auth_response_set;

/* Export macro only. */
#define SMTPC_API

%include "smtpc.h"
