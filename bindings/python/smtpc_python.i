/*
 * Python module smtpc_native (extension _smtpc_native): the C API of smtpc through bindings/smtpc.i.
 * -threads releases the GIL around every call, so that network waits do not block other threads
 * (an in-process test server, for instance).
 */
%module(threads="1") smtpc_native

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
%}

%init %{
    smtpc_py_error = PyErr_NewExceptionWithDoc("smtpc_native.Error",
        "A call of the smtpc C API failed. args: (code, name, message); code is a negative SMTPC_E* value.",
        NULL, NULL);
    if (smtpc_py_error == NULL || PyModule_AddObject(m, "Error", smtpc_py_error) < 0) {
        return NULL;
    }
    Py_INCREF(smtpc_py_error);
%}

%pythoncode %{
Error = _smtpc_native.Error
%}

/*
 * (const char *, size_t): str (encoded as UTF-8), bytes or any bytes-like object, with its true
 * length; None means (NULL, 0).
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
%typemap(freearg) (const char *SMTPC_BYTES, size_t SMTPC_LENGTH) {
    if (have_view$argnum) {
        PyBuffer_Release(&view$argnum);
    }
}

%include "smtpc.i"
