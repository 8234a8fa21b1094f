/* SPDX-License-Identifier: MIT */
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
 *  - client_auth(client, mechanism, initial_response_ok, fn): fn(challenge: bytes | None,
 *    is_initial: bool) -> bytes | str | None (None: no initial response / empty response).
 *  - client_auth_oauth2(client, mechanism, user, token, fn): fn() -> bytes | str, used when token is
 *    None.
 *  - client_set_progress(client, fn): fn(sent: int, total: int) -> bool | None for each block of a
 *    message body; a true result or an exception aborts the send (SMTPC_EUSER, no end of data). Kept
 *    like the trace callable (until replaced, or the client is freed).
 *  - client_cancel(client) takes no callback: any thread may call it while another is inside a call
 *    on the client (that one has released the GIL).
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

#include <signal.h>
#include <string.h>

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

/* Non-zero aborts the body: a true result, or an exception (kept and re-raised by the call). */
static int smtpc_py_progress_trampoline(uint64_t sent, uint64_t total, void *userdata) {
    int rc = 1;
    PyGILState_STATE gil = PyGILState_Ensure();
    if (PyErr_Occurred() == NULL) {
        PyObject *r = PyObject_CallFunction((PyObject *)userdata, "KK", (unsigned long long)sent,
                                            (unsigned long long)total);
        if (r != NULL) {
            int truth = PyObject_IsTrue(r);
            rc = truth != 0; /* -1 (an exception from __bool__) aborts too */
            Py_DECREF(r);
        }
    }
    PyGILState_Release(gil);
    return rc;
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

/* Trace and progress callables kept alive while a client uses them: {id(client): callable}. */
static PyObject *smtpc_py_traces = NULL;
static PyObject *smtpc_py_progress = NULL;

static int smtpc_py_keep(PyObject *dict, const void *client, PyObject *fn) {
    PyObject *key = PyLong_FromVoidPtr((void *)(uintptr_t)client);
    int rc;
    if (key == NULL) {
        return -1;
    }
    if (fn != NULL && fn != Py_None) {
        rc = PyDict_SetItem(dict, key, fn);
    } else {
        rc = 0;
        if (PyDict_Contains(dict, key) == 1) {
            rc = PyDict_DelItem(dict, key);
        }
    }
    Py_DECREF(key);
    return rc;
}

static int smtpc_py_keep_trace(const void *client, PyObject *fn) {
    return smtpc_py_keep(smtpc_py_traces, client, fn);
}

/* --- Cancel from a signal ----------------------------------------------------------------------
 * A Python signal handler runs in the main thread only once the running C call returns, so it
 * cannot cancel that call. cancel_on_signal(client, signum) installs a C handler for signum that
 * calls smtpc_client_cancel() (async-signal-safe) and then the handler it replaced (Python's own,
 * whose Python function runs when the call returns); cancel_on_signal_clear(signum) puts the
 * replaced handler back. One client per signal; the caller keeps it alive until the clear. */
static smtpc_client *volatile smtpc_py_sig_client[NSIG];
static struct sigaction smtpc_py_sig_old[NSIG];
static volatile sig_atomic_t smtpc_py_sig_installed[NSIG];

static void smtpc_py_sig_handler(int signo, siginfo_t *info, void *uctx) {
    smtpc_client *c;
    const struct sigaction *old;
    if (signo <= 0 || signo >= NSIG) {
        return;
    }
    c = smtpc_py_sig_client[signo];
    if (c != NULL) {
        smtpc_client_cancel(c);
    }
    old = &smtpc_py_sig_old[signo];
    if ((old->sa_flags & SA_SIGINFO) != 0) {
        if (old->sa_sigaction != NULL) {
            old->sa_sigaction(signo, info, uctx);
        }
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN && old->sa_handler != NULL) {
        old->sa_handler(signo);
    }
}

static PyObject *smtpc_py_cancel_on_signal(smtpc_client *client, int signum) {
    struct sigaction sa;
    if (client == NULL || signum <= 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP) {
        PyErr_Format(PyExc_ValueError, "cannot cancel on signal %d", signum);
        return NULL;
    }
    if (smtpc_py_sig_installed[signum]) {
        smtpc_py_sig_client[signum] = client;
        Py_RETURN_NONE;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = smtpc_py_sig_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    smtpc_py_sig_client[signum] = client;
    if (sigaction(signum, &sa, &smtpc_py_sig_old[signum]) != 0) {
        smtpc_py_sig_client[signum] = NULL;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    smtpc_py_sig_installed[signum] = 1;
    Py_RETURN_NONE;
}

static PyObject *smtpc_py_cancel_on_signal_clear(int signum) {
    if (signum <= 0 || signum >= NSIG) {
        PyErr_Format(PyExc_ValueError, "invalid signal %d", signum);
        return NULL;
    }
    smtpc_py_sig_client[signum] = NULL;
    if (smtpc_py_sig_installed[signum]) {
        if (sigaction(signum, &smtpc_py_sig_old[signum], NULL) != 0) {
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        smtpc_py_sig_installed[signum] = 0;
    }
    Py_RETURN_NONE;
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
    smtpc_py_progress = PyDict_New();
    if (smtpc_py_progress == NULL || PyModule_AddObject(m, "_progress", smtpc_py_progress) < 0) {
        return NULL;
    }
    Py_INCREF(smtpc_py_progress);
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
/* Progress: kept in smtpc_py_progress like the trace callable. */
%typemap(in) (smtpc_progress_fn fn, void *userdata) {
    if (smtpc_py_callable_arg($input, "the progress function", 1) != 0) {
        SWIG_fail;
    }
    $1 = ($input == Py_None) ? NULL : smtpc_py_progress_trampoline;
    $2 = ($input == Py_None) ? NULL : (void *)$input;
}
%typemap(argout) (smtpc_progress_fn fn, void *userdata) {
    if (smtpc_py_keep(smtpc_py_progress, arg1, $input) != 0) {
        SWIG_fail;
    }
}
/* The callables are released with the client (smtpc_client_free() calls none of them). */
%exception smtpc_client_free {
    $action
    if (smtpc_py_keep_trace(arg1, NULL) != 0 || smtpc_py_keep(smtpc_py_progress, arg1, NULL) != 0) {
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

/* client_cancel keeps the GIL: the Python layer clears its handle under the GIL before it frees
 * it, so a cancel from another thread that read the handle completes before the free can start
 * (the C API wants the handle valid until smtpc_client_cancel() returns). It never blocks. */
%nothread smtpc_client_cancel;

/* Binding helpers (not C API functions): see smtpc_py_cancel_on_signal above. They run with the
 * GIL (Python's signal functions are main-thread only; the caller checks that). */
%nothread smtpc_py_cancel_on_signal;
%nothread smtpc_py_cancel_on_signal_clear;
%rename(_cancel_on_signal) smtpc_py_cancel_on_signal;
%rename(_cancel_on_signal_clear) smtpc_py_cancel_on_signal_clear;
PyObject *smtpc_py_cancel_on_signal(smtpc_client *client, int signum);
PyObject *smtpc_py_cancel_on_signal_clear(int signum);

%include "smtpc_scripting.i"
/* A message's status is data (what sendmail would have returned), not a failure of the call. */
%typemap(out) smtpc_status smtpc_message_result_status = int;
%include "smtpc.i"
