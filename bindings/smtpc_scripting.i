/* SPDX-License-Identifier: MIT */
/*
 * smtpc_scripting.i — typemaps shared by the scripting languages whose SWIG runtime has the common
 * helpers SWIG_AppendOutput, SWIG_NewPointerObj and SWIG_fail (Python, Ruby). Included by their
 * language file before smtpc.i; never by Java, C# or Go.
 *
 *  - `**out` handle constructors return the handle: client_new(SMTPC_PROTOCOL_SMTP) -> client.
 *  - A function returning smtpc_status raises the language's error for a negative code, with the
 *    failing handle's text (smtpc_swig_detail()), and returns nothing on success;
 *    smtpc_client_last_status(), a getter, returns the code as an integer.
 *
 * The language file defines, before including this file:
 *  SMTPC_SWIG_RAISE(code, detail): set the language's error for a negative status `code`, with
 *    `detail` (a C string, may be NULL) naming what failed.
 *  SMTPC_SWIG_VOID_RESULT: the value a successful status-returning call gives.
 *  SMTPC_SWIG_PENDING_ERROR(): optional; a C expression, non-zero when a callback of the language
 *    failed during the call and its error is already set (it then wins over the status).
 */

%{
#ifndef SMTPC_SWIG_PENDING_ERROR
#define SMTPC_SWIG_PENDING_ERROR() 0
#endif
%}

#define SMTPC_SWIG_HAVE_OUT_HANDLE
%define SMTPC_OUT_HANDLE(TYPE, NAME)
%typemap(in, numinputs=0) TYPE **out (TYPE *temp = NULL) {
    $1 = &temp;
}
%typemap(argout) TYPE **out {
    $result = SWIG_AppendOutput($result, SWIG_NewPointerObj(SWIG_as_voidptr(*$1), $*1_descriptor, 0));
}
%enddef

#define SMTPC_SWIG_HAVE_STATUS_TYPEMAP
%typemap(out) smtpc_status {
    if (SMTPC_SWIG_PENDING_ERROR()) {
        SWIG_fail;
    }
    if ($1 < 0) {
        SMTPC_SWIG_RAISE($1, smtpc_swig_detail(arg1));
        SWIG_fail;
    }
    $result = SMTPC_SWIG_VOID_RESULT;
}
/* A getter, not a call that can fail. */
%typemap(out) smtpc_status smtpc_client_last_status = int;
