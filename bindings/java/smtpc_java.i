/* SPDX-License-Identifier: MIT */
/*
 * Java module (package org.smtpc, class org.smtpc.smtpc, JNI library libsmtpc_java.so) from the
 * shared interface bindings/smtpc.i. It shows that the shared interface serves a compiled, statically
 * typed SWIG backend; it is built and checked by tests/swig, not shipped.
 *
 *  - Enums are int constants (enumtypeunsafe), not Java enums: the header lets every enum gain
 *    values, and a Java enum would throw on a value it does not know.
 *  - (const char *, size_t) pairs are byte[] (SWIG's (char *STRING, size_t LENGTH)); returned strings
 *    are String.
 *  - A status is returned as an int (SMTPC_OK or a negative code); the detail is client_errmsg(),
 *    envelope_errmsg() or tls_config_errmsg().
 *  - Handle constructors take a pointer made by new_client_out() and friends (cpointer.i).
 *  - Callbacks are not wrapped.
 */
%module smtpc

%include "enumtypeunsafe.swg"
%javaconst(1);
/* Spelled SIZE_MAX in C: its value comes from the JNI library (a Java long, -1). */
%javaconst(0) SMTPC_NTS;

/* The library is loaded by the program (System.loadLibrary("smtpc_java")): no static block here,
 * so that the caller chooses how to find it. */

%include "smtpc.i"
