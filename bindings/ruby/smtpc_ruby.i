/* SPDX-License-Identifier: MIT */
/*
 * Ruby extension smtpc/native (module Smtpc::Native): the flat C API of smtpc through the shared
 * interface bindings/smtpc.i. The Ruby layer (lib/smtpc.rb: Smtpc::SMTP, Net::SMTP's API) is built
 * on it.
 *
 *  - A failing call raises Smtpc::Native::Error (message: the handle's error text; #code: the
 *    negative SMTPC_E* value); the Ruby layer turns it into Net::SMTP's exception classes.
 *  - (const char *, size_t) arguments take a String (its bytes, whatever its encoding, with its
 *    length: an embedded NUL reaches the library, which refuses it) or nil (NULL, 0). Returned
 *    strings are binary (ASCII-8BIT) Strings.
 *  - client_sendmail_stream(client, env, size_hint, io) reads the body with io.read(n) (nil or ""
 *    at the end). message_set_body_reader is left out: the library would call the reader after
 *    the call returned, when nothing keeps the Ruby object from the GC. An exception raised by io.read aborts the transaction
 *    (SMTPC_EUSER in C) and is re-raised by the call. No other callback is wrapped (trace, AUTH
 *    callbacks, progress): the password mechanisms need none.
 *  - The GVL is held during calls: other Ruby threads wait while one talks to a server.
 */
%module "smtpc::native"

%{
#include <ruby.h>

#include "smtpc.h"

static VALUE smtpc_rb_error = Qnil;

static void smtpc_rb_raise(int code, const char *detail) {
    const char *message = (detail != NULL && detail[0] != '\0') ? detail : smtpc_strerror((smtpc_status)code);
    VALUE exc = rb_exc_new_cstr(smtpc_rb_error, message);
    rb_iv_set(exc, "@code", INT2NUM(code));
    rb_iv_set(exc, "@name", rb_str_new_cstr(smtpc_status_name((smtpc_status)code)));
    rb_exc_raise(exc);
}

/* A Ruby exception raised by a callback during the running call, kept (rb_protect's state) until the
 * call returns; then re-raised. The GVL serialises Ruby threads, so one slot is enough. */
static int smtpc_rb_pending = 0;

static int smtpc_rb_rethrow_pending(void) {
    int state = smtpc_rb_pending;
    if (state != 0) {
        smtpc_rb_pending = 0;
        rb_jump_tag(state);
    }
    return 0;
}

#define SMTPC_SWIG_RAISE(code, detail) smtpc_rb_raise((code), (detail))
#define SMTPC_SWIG_VOID_RESULT Qnil
#define SMTPC_SWIG_PENDING_ERROR() smtpc_rb_rethrow_pending()

/* The body source: io.read(cap) under rb_protect, so that no Ruby exception unwinds through the
 * library. */
static VALUE smtpc_rb_read_call(VALUE arg) {
    VALUE *a = (VALUE *)arg;
    return rb_funcall(a[0], rb_intern("read"), 1, a[1]);
}

static VALUE smtpc_rb_read_check(VALUE r) {
    if (!NIL_P(r)) {
        Check_Type(r, T_STRING);
    }
    return r;
}

static int smtpc_rb_read_trampoline(char *buf, size_t cap, size_t *len, void *userdata) {
    VALUE args[2];
    VALUE r;
    int state = 0;
    size_t n;
    if (smtpc_rb_pending != 0) {
        return 1;
    }
    args[0] = (VALUE)userdata;
    args[1] = SIZET2NUM(cap);
    r = rb_protect(smtpc_rb_read_call, (VALUE)args, &state);
    if (state == 0) {
        r = rb_protect(smtpc_rb_read_check, r, &state);
    }
    if (state != 0) {
        smtpc_rb_pending = state;
        return 1;
    }
    if (NIL_P(r)) {
        *len = 0;
        return 0;
    }
    n = (size_t)RSTRING_LEN(r);
    if (n > cap) {
        /* io.read(n) never returns more than n bytes; anything else is a broken source. */
        r = rb_protect(smtpc_rb_read_check, Qfalse, &state);
        smtpc_rb_pending = state;
        return 1;
    }
    memcpy(buf, RSTRING_PTR(r), n);
    *len = n;
    return 0;
}
%}

%init %{
    smtpc_rb_error = rb_define_class_under(mNative, "Error", rb_eStandardError);
    rb_define_attr(smtpc_rb_error, "code", 1, 0);
    rb_define_attr(smtpc_rb_error, "name", 1, 0);
%}

/* (const char *, size_t): a String's bytes and length, or nil. */
#define SMTPC_SWIG_HAVE_BYTES_TYPEMAP
%typemap(in) (const char *SMTPC_BYTES, size_t SMTPC_LENGTH) {
    if (NIL_P($input)) {
        $1 = NULL;
        $2 = 0;
    } else {
        Check_Type($input, T_STRING);
        $1 = ($1_ltype)RSTRING_PTR($input);
        $2 = (size_t)RSTRING_LEN($input);
    }
}
%typemap(typecheck, precedence=SWIG_TYPECHECK_STRING) (const char *SMTPC_BYTES, size_t SMTPC_LENGTH) {
    $1 = (NIL_P($input) || RB_TYPE_P($input, T_STRING)) ? 1 : 0;
}

/* Returned strings: binary Strings (a reply may carry any bytes of UTF-8 or not). */
%typemap(out) const char * {
    $result = ($1 != NULL) ? rb_str_new_cstr($1) : Qnil;
}

/* The body source: any object with read(n). The object is an argument of the call, so the GC keeps
 * it while the library uses it. */
#define SMTPC_SWIG_HAVE_READ_CALLBACK
%typemap(in) (smtpc_read_fn read, void *userdata) {
    if (!rb_respond_to($input, rb_intern("read"))) {
        rb_raise(rb_eTypeError, "the body source must respond to read(n)");
    }
    $1 = smtpc_rb_read_trampoline;
    $2 = (void *)$input;
}

%ignore smtpc_message_set_body_reader;

%include "smtpc_scripting.i"
%include "smtpc.i"
