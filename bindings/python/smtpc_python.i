/*
 * Python module smtpc.smtpc_native (extension smtpc._smtpc_native): the flat C API of smtpc through
 * bindings/smtpc.i. The pythonic layer (smtpc._core, smtpc.Client, smtpc.smtplib) is built on it.
 *
 * GIL: threads="1" releases the GIL around every call into the library, so network waits do not
 * block other threads (an in-process test server, for instance). Callbacks re-acquire it with
 * PyGILState_Ensure().
 *
 * Callbacks: a Python callable stands for (fn, userdata).
 *  - client_set_trace(client, level, fn): fn(kind, data: bytes, time_us) for every traced event. The
 *    module keeps a reference to fn until it is replaced or the client is freed with client_free().
 *  - client_auth(client, mechanism, fn, initial_response_ok): fn(challenge: bytes | None,
 *    is_initial: bool) -> bytes | str | None (None: no initial response / empty response).
 *  - client_auth_oauth2(client, mechanism, user, token, fn): fn() -> bytes | str, used when token is
 *    None.
 * An exception raised by a callback aborts the operation where the C API allows it (AUTH and token
 * callbacks return non-zero, so the library cancels the exchange and returns SMTPC_EUSER) and is
 * re-raised by the call instead of the status error. A trace callback cannot abort (it returns
 * void): its exception is kept, later trace events of the call are skipped, and it is re-raised
 * when the call returns.
 */
%module(package="smtpc", threads="1") smtpc_native

%{
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "smtpc.h"

/* smtpc_native.Error: args are (code, name, message). */
static PyObject *smtpc_py_error = NULL;

static void smtpc_py_raise(int code, const char *detail) {
    const char *message = (detail != NULL && detail[0] != '\0') ? detail : smtpc_strerror(code);
    PyObject *args = Py_BuildValue("(iss)", code, smtpc_status_name(code), message);
    if (args != NULL) {
        PyErr_SetObject(smtpc_py_error, args);
        Py_DECREF(args);
    }
}
#define SMTPC_SWIG_RAISE(code, detail) smtpc_py_raise((code), (detail))
#define SMTPC_SWIG_VOID_RESULT SWIG_Py_Void()
/* A callback raised: its exception is set on this thread and wins over the status. */
#define SMTPC_SWIG_PENDING_ERROR() (PyErr_Occurred() != NULL)

/* --- Callback trampolines (called by the library with the GIL released) ---------------------- */

/* Store a callback's return value (None, str as UTF-8, or a bytes-like object) as the response.
 * Returns 0, or -1 with a Python exception set. */
static int smtpc_py_set_response(PyObject *value, smtpc_auth_response *resp) {
    smtpc_status st;
    if (value == Py_None) {
        return 0;
    }
    if (PyUnicode_Check(value)) {
        Py_ssize_t n = 0;
        const char *p = PyUnicode_AsUTF8AndSize(value, &n);
        if (p == NULL) {
            return -1;
        }
        st = smtpc_auth_response_set(resp, p, (size_t)n);
    } else {
        Py_buffer view;
        if (PyObject_GetBuffer(value, &view, PyBUF_SIMPLE) != 0) {
            PyErr_Format(PyExc_TypeError, "an AUTH callback must return str, bytes or None, not %.100s",
                         Py_TYPE(value)->tp_name);
            return -1;
        }
        st = smtpc_auth_response_set(resp, (const char *)view.buf, (size_t)view.len);
        PyBuffer_Release(&view);
    }
    if (st != SMTPC_OK) {
        smtpc_py_raise(st, NULL);
        return -1;
    }
    return 0;
}

static void smtpc_py_trace_trampoline(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us,
                                      void *userdata) {
    PyGILState_STATE gil = PyGILState_Ensure();
    if (PyErr_Occurred() == NULL) { /* after a failure, the rest of the call's events are dropped */
        PyObject *r = PyObject_CallFunction((PyObject *)userdata, "iy#L", (int)kind, data, (Py_ssize_t)len,
                                            (long long)time_us);
        Py_XDECREF(r);
    }
    PyGILState_Release(gil);
}

static int smtpc_py_auth_trampoline(const char *challenge, size_t challenge_len, int is_initial,
                                    smtpc_auth_response *resp, void *userdata) {
    int rc = 1;
    PyGILState_STATE gil = PyGILState_Ensure();
    if (PyErr_Occurred() == NULL) {
        PyObject *r;
        if (is_initial) {
            r = PyObject_CallFunction((PyObject *)userdata, "OO", Py_None, Py_True);
        } else {
            r = PyObject_CallFunction((PyObject *)userdata, "y#O", challenge != NULL ? challenge : "",
                                      (Py_ssize_t)challenge_len, Py_False);
        }
        if (r != NULL) {
            rc = smtpc_py_set_response(r, resp) == 0 ? 0 : 1;
            Py_DECREF(r);
        }
    }
    PyGILState_Release(gil);
    return rc;
}

static int smtpc_py_token_trampoline(smtpc_auth_response *token, void *userdata) {
    int rc = 1;
    PyGILState_STATE gil = PyGILState_Ensure();
    if (PyErr_Occurred() == NULL) {
        PyObject *r = PyObject_CallNoArgs((PyObject *)userdata);
        if (r != NULL) {
            if (r == Py_None) {
                PyErr_SetString(PyExc_ValueError, "the OAuth token callback returned None");
            } else {
                rc = smtpc_py_set_response(r, token) == 0 ? 0 : 1;
            }
            Py_DECREF(r);
        }
    }
    PyGILState_Release(gil);
    return rc;
}

/* Trace callables kept alive while a client uses them: {id(client): callable}. */
static PyObject *smtpc_py_traces = NULL;

static int smtpc_py_keep_trace(const void *client, PyObject *fn) {
    PyObject *key = PyLong_FromVoidPtr((void *)(uintptr_t)client);
    int rc;
    if (key == NULL) {
        return -1;
    }
    if (fn != NULL && fn != Py_None) {
        rc = PyDict_SetItem(smtpc_py_traces, key, fn);
    } else {
        rc = 0;
        if (PyDict_Contains(smtpc_py_traces, key) == 1) {
            rc = PyDict_DelItem(smtpc_py_traces, key);
        }
    }
    Py_DECREF(key);
    return rc;
}

static int smtpc_py_callable_arg(PyObject *input, const char *what, int none_ok) {
    if ((none_ok && input == Py_None) || PyCallable_Check(input)) {
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "%s must be callable%s, not %.100s", what, none_ok ? " or None" : "",
                 Py_TYPE(input)->tp_name);
    return -1;
}
%}

%init %{
    smtpc_py_error = PyErr_NewExceptionWithDoc("smtpc.smtpc_native.Error",
        "A call of the smtpc C API failed. args: (code, name, message); code is a negative SMTPC_E* value.",
        NULL, NULL);
    if (smtpc_py_error == NULL || PyModule_AddObject(m, "Error", smtpc_py_error) < 0) {
        return NULL;
    }
    Py_INCREF(smtpc_py_error);
    smtpc_py_traces = PyDict_New();
    if (smtpc_py_traces == NULL || PyModule_AddObject(m, "_traces", smtpc_py_traces) < 0) {
        return NULL;
    }
    Py_INCREF(smtpc_py_traces);
%}

%pythoncode %{
Error = _smtpc_native.Error
%}

/*
 * (const char *, size_t): str (encoded as UTF-8; a lone surrogate raises UnicodeEncodeError before
 * anything is sent), bytes or any bytes-like object, with its true length (an embedded NUL reaches
 * the library, which refuses it where it is not allowed); None means (NULL, 0).
 */
#define SMTPC_SWIG_HAVE_BYTES_TYPEMAP
%typemap(in) (const char *SMTPC_BYTES, size_t SMTPC_LENGTH) (Py_buffer view, int have_view = 0) {
    if ($input == Py_None) {
        $1 = NULL;
        $2 = 0;
    } else if (PyUnicode_Check($input)) {
        Py_ssize_t n = 0;
        const char *p = PyUnicode_AsUTF8AndSize($input, &n);
        if (p == NULL) {
            SWIG_fail;
        }
        $1 = ($1_ltype)p;
        $2 = (size_t)n;
    } else if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) == 0) {
        have_view = 1;
        $1 = ($1_ltype)view.buf;
        $2 = (size_t)view.len;
    } else {
        PyErr_Format(PyExc_TypeError, "argument $argnum of $symname: expected str, bytes or a bytes-like object, not %.100s",
                     Py_TYPE($input)->tp_name);
        SWIG_fail;
    }
}
%typemap(typecheck, precedence=SWIG_TYPECHECK_STRING) (const char *SMTPC_BYTES, size_t SMTPC_LENGTH) {
    $1 = ($input == Py_None || PyUnicode_Check($input) || PyObject_CheckBuffer($input)) ? 1 : 0;
}
%typemap(freearg) (const char *SMTPC_BYTES, size_t SMTPC_LENGTH) {
    if (have_view$argnum) {
        PyBuffer_Release(&view$argnum);
    }
}

/* --- Callbacks --------------------------------------------------------------------------------- */
#define SMTPC_SWIG_HAVE_CALLBACKS

/* A trace callback may fail during a call that returns no status (client_close): raise it. */
%exception {
    $action
    if (PyErr_Occurred() != NULL) {
        SWIG_fail;
    }
}

/* Trace: the callable is kept in smtpc_py_traces (keyed by the client) once the call succeeded. */
%typemap(in) (smtpc_trace_fn fn, void *userdata) {
    if (smtpc_py_callable_arg($input, "the trace function", 1) != 0) {
        SWIG_fail;
    }
    $1 = ($input == Py_None) ? NULL : smtpc_py_trace_trampoline;
    $2 = ($input == Py_None) ? NULL : (void *)$input;
}
%typemap(argout) (smtpc_trace_fn fn, void *userdata) {
    if (smtpc_py_keep_trace(arg1, $input) != 0) {
        SWIG_fail;
    }
}
/* The trace callable is released with the client (after the close it may trace). */
%exception smtpc_client_free {
    $action
    if (smtpc_py_keep_trace(arg1, NULL) != 0) {
        SWIG_fail;
    }
}

/* AUTH and token callbacks: borrowed for the duration of the call (the argument tuple holds them). */
%typemap(in) (smtpc_auth_fn fn, void *userdata) {
    if (smtpc_py_callable_arg($input, "the AUTH callback", 0) != 0) {
        SWIG_fail;
    }
    $1 = smtpc_py_auth_trampoline;
    $2 = (void *)$input;
}
%typemap(in) (smtpc_token_fn fn, void *userdata) {
    if (smtpc_py_callable_arg($input, "the token callback", 1) != 0) {
        SWIG_fail;
    }
    $1 = ($input == Py_None) ? NULL : smtpc_py_token_trampoline;
    $2 = ($input == Py_None) ? NULL : (void *)$input;
}

%include "smtpc.i"
