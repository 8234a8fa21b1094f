#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Generates and compiles wrappers from the one shared SWIG interface (bindings/smtpc.i, through each
# language's file) for several backends, against the library of a build tree:
#   python  generated, compiled, imported; version() called
#   ruby    generated, compiled, required; version() called
#   java    generated, compiled (the JNI library and, with javac, the classes); a small program loads
#           the library and calls version(), a client's setter and its errmsg (tests/swig/Main.java)
#   go, csharp  generated only (their toolchains are not part of the build): shows the shared
#           interface is accepted by non-scripting backends
# A backend whose toolchain is missing is reported as skipped; the test is skipped (77) when swig
# itself is missing or no backend could be compiled. Also checks that smtpc.i maps every
# (const char *, size_t) pair of the header.
#
# usage: check_backends.sh SOURCE_DIR LIB_DIR WORK_DIR EXPECTED_VERSION
set -euo pipefail
src=$1 libdir=$2 work=$3 version=$4
inc=$src/include
cc=${CC:-cc}
cflags=(-std=c11 -fPIC -shared -O0 -Wall -Wextra -Werror -Wno-unused-parameter)

command -v swig >/dev/null || {
    echo "SKIP: swig not found (Debian: swig)"
    exit 77
}
python3 "$src/tests/swig/check_pairs.py" "$inc/smtpc.h" "$src/bindings/smtpc.i"

rm -rf "$work"
mkdir -p "$work"
built=0 failed=0
ok() {
    echo "PASS: $1"
    built=$((built + 1))
}
skipped() { echo "SKIPPED: $1"; }
fail() {
    echo "FAIL: $1"
    failed=$((failed + 1))
}
swig_gen() { # LANG OUTFILE INTERFACE ARGS...
    local lang=$1 out=$2 iface=$3
    shift 3
    swig "-$lang" -I"$inc" -I"$src/bindings" "$@" -o "$out" "$iface"
}

# --- Python ---------------------------------------------------------------------------------------
if py_inc=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null) &&
    [[ -f $py_inc/Python.h ]]; then
    d=$work/python/smtpc
    mkdir -p "$d"
    touch "$d/__init__.py"
    if swig_gen python "$work/python/wrap.c" "$src/bindings/python/smtpc_python.i" -outdir "$d" &&
        "$cc" "${cflags[@]}" -I"$py_inc" -I"$inc" "$work/python/wrap.c" \
            -o "$d/_smtpc_native$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')" \
            -L"$libdir" -Wl,-rpath,"$libdir" -lsmtpc &&
        PYTHONPATH=$work/python python3 -c "
import sys
from smtpc import smtpc_native as n
assert n.version() == sys.argv[1], n.version()
assert n.SMTPC_NTS == 2**64 - 1
c = n.client_new(n.SMTPC_PROTOCOL_SMTP)
n.client_free(c)" "$version"; then
        ok python
    else
        fail python
    fi
else
    skipped "python (no Python.h: Debian python3-dev)"
fi

# --- Ruby -----------------------------------------------------------------------------------------
if command -v ruby >/dev/null && rb_hdr=$(ruby -rrbconfig -e 'print RbConfig::CONFIG["rubyhdrdir"]') &&
    [[ -f $rb_hdr/ruby.h ]]; then
    rb_arch=$(ruby -rrbconfig -e 'print RbConfig::CONFIG["rubyarchhdrdir"]')
    rb_lib=$(ruby -rrbconfig -e 'print RbConfig::CONFIG["LIBRUBYARG_SHARED"]')
    mkdir -p "$work/ruby/smtpc"
    # shellcheck disable=SC2086 # rb_lib is a list of linker flags
    if swig_gen ruby "$work/ruby/wrap.c" "$src/bindings/ruby/smtpc_ruby.i" &&
        "$cc" "${cflags[@]}" -I"$rb_hdr" -I"$rb_arch" -I"$inc" "$work/ruby/wrap.c" -o "$work/ruby/smtpc/native.so" \
            -L"$libdir" -Wl,-rpath,"$libdir" -lsmtpc $rb_lib &&
        ruby -I"$work/ruby" -e 'require "smtpc/native"
            exit 1 unless Smtpc::Native.version == ARGV[0] && Smtpc::Native::SMTPC_NTS == 2**64 - 1' "$version"; then
        ok ruby
    else
        fail ruby
    fi
else
    skipped "ruby (no ruby.h: Debian ruby-dev)"
fi

# --- Java -----------------------------------------------------------------------------------------
if command -v javac >/dev/null && command -v java >/dev/null; then
    jhome=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
    if [[ -f $jhome/include/jni.h ]]; then
        j=$work/java
        mkdir -p "$j/src/org/smtpc" "$j/classes" "$j/lib"
        if swig_gen java "$j/wrap.c" "$src/bindings/java/smtpc_java.i" -package org.smtpc -outdir "$j/src/org/smtpc" &&
            "$cc" "${cflags[@]}" -I"$jhome/include" -I"$jhome/include/linux" -I"$inc" "$j/wrap.c" \
                -o "$j/lib/libsmtpc_java.so" -L"$libdir" -Wl,-rpath,"$libdir" -lsmtpc &&
            javac -Xlint:all -Werror -d "$j/classes" "$j"/src/org/smtpc/*.java "$src/tests/swig/Main.java" &&
            java -Djava.library.path="$j/lib" -cp "$j/classes" Main "$version"; then
            ok java
        else
            fail java
        fi
    else
        skipped "java (no jni.h under $jhome: Debian default-jdk-headless)"
    fi
else
    skipped "java (no javac: Debian default-jdk-headless)"
fi

# --- Go and C#: generation only -----------------------------------------------------------------------
# No language file of their own: the shared interface alone, as a new backend would start.
printf '%%module smtpc\n%%include "smtpc.i"\n' >"$work/neutral.i"
for lang in go csharp; do
    mkdir -p "$work/$lang"
    extra=()
    [[ $lang == go ]] && extra=(-cgo -intgosize 64)
    if swig_gen "$lang" "$work/$lang/wrap.c" "$work/neutral.i" "${extra[@]}" -outdir "$work/$lang"; then
        echo "PASS: $lang (generated)"
    else
        fail "$lang (generation)"
    fi
done

if [[ $failed -ne 0 ]]; then
    echo "FAIL: $failed backend(s) failed"
    exit 1
fi
if [[ $built -eq 0 ]]; then
    echo "SKIP: no backend toolchain found"
    exit 77
fi
echo "shared interface built for $built compiled backend(s)"
