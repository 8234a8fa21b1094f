#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install test (run by ctest, see CMakeLists.txt here): install the build tree into a temporary
# prefix, then build examples/send_simple.c against that prefix the two ways users do
#   1. cc send_simple.c $(pkg-config --cflags --libs smtpc)
#   2. a CMake project with find_package(smtpc CONFIG REQUIRED) and target smtpc::smtpc
# and run both (no arguments: they print the library version) with LD_LIBRARY_PATH set to the
# prefix. Also checks the installed file set, the package version rules, the .pc contents, that no
# installed file names the build or source tree, that a shared-only install needs neither openssl.pc
# nor OpenSSL's CMake package from its users, and that smtpc-send and the Python package run from the
# prefix without LD_LIBRARY_PATH (their RUNPATH is relative to themselves).
# With SMTPC_TEST_STATIC=1 (a build with SMTPC_BUILD_STATIC=ON) also links send_simple statically
# against libsmtpc.a both ways. SMTPC_TEST_PYTHON names the interpreter of the Python package, if built.
#
# usage: install_test.sh BUILD_DIR SOURCE_DIR VERSION SOVERSION CMAKE C_COMPILER [EXTRA_CFLAGS]
set -euo pipefail

build=$1 src=$2 version=$3 soversion=$4 cmake=$5 cc=$6 extra_cflags=${7:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtpc-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

step() { echo "--- $*"; }
die() {
    echo "FAIL: $*" >&2
    exit 1
}
run_logged() { # run a command; show its output only when it fails
    local log=$tmp/log.txt
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        die "command failed: $*"
    fi
}

step "cmake --install into a temporary prefix"
run_logged "$cmake" --install "$build" --prefix "$prefix"

pc=$(find "$prefix" -name smtpc.pc -path '*/pkgconfig/*' | head -n 1)
[[ -n $pc ]] || die "smtpc.pc was not installed"
config=$(find "$prefix" -name smtpcConfig.cmake | head -n 1)
[[ -n $config ]] || die "smtpcConfig.cmake was not installed"
[[ -f $prefix/include/smtpc.h ]] || die "include/smtpc.h was not installed"
libdir=$(dirname "$(dirname "$pc")")
for f in "libsmtpc.so" "libsmtpc.so.$soversion" "libsmtpc.so.$version"; do
    [[ -e $libdir/$f ]] || die "$libdir/$f was not installed"
done
[[ -L $libdir/libsmtpc.so && -L $libdir/libsmtpc.so.$soversion ]] || die "libsmtpc.so symlinks missing"
[[ -f $(dirname "$config")/smtpcConfigVersion.cmake && -f $(dirname "$config")/smtpcTargets.cmake ]] ||
    die "CMake package files incomplete"
static=${SMTPC_TEST_STATIC:-0}
python=${SMTPC_TEST_PYTHON:-}
if [[ $static == 1 ]]; then
    [[ -f $libdir/libsmtpc.a ]] || die "libsmtpc.a was not installed (SMTPC_BUILD_STATIC=ON)"
else
    [[ ! -e $libdir/libsmtpc.a ]] || die "libsmtpc.a was installed without SMTPC_BUILD_STATIC"
fi

step "no installed file names the build or source tree"
# Binary files included (a RUNPATH into the build tree, an assert()'s __FILE__), except their debug
# information, which names the sources by design (distributions split it off and remap it).
mentions() { # FILE: the build/source paths FILE contains outside debug information
    local f=$1
    local magic
    magic=$(head -c 7 "$f" | tr -d '\0')
    if [[ $magic == $'\x7fELF'* || $magic == '!<arch>' ]] && command -v objcopy >/dev/null; then
        objcopy --strip-debug "$f" "$tmp/nodebug" && f=$tmp/nodebug
    fi
    grep -aoF -e "$build" -e "$src" "$f" | sort -u
}
if [[ -n $extra_cflags ]]; then
    # A sanitizer build records source paths for its diagnostics; it is never installed for real.
    echo "(skipped: built with $extra_cflags)"
else
    found=0
    while IFS= read -r -d '' f; do
        if hits=$(mentions "$f") && [[ -n $hits ]]; then
            echo "  $f:" >&2
            sed 's/^/    /' <<<"$hits" >&2
            found=1
        fi
    done < <(find "$prefix" -type f -print0)
    [[ $found == 0 ]] || die "installed files mention the build or source tree"
fi

step "pkg-config"
export PKG_CONFIG_PATH=$(dirname "$pc")
[[ $(pkg-config --modversion smtpc) == "$version" ]] || die "pkg-config --modversion is not $version"
cflags=$(pkg-config --cflags smtpc)
libs=$(pkg-config --libs smtpc)
echo "cflags: $cflags"
echo "libs:   $libs"
[[ $cflags == *"-I$prefix/include"* || $cflags == "" ]] || die "Cflags do not point into the prefix: $cflags"
[[ $libs == *"-L$libdir"* && $libs == *-lsmtpc* ]] || die "Libs do not point into the prefix: $libs"
[[ $(pkg-config --variable=libdir smtpc) == "$libdir" ]] || die "libdir variable is not $libdir"
# A shared-only install names no private dependency: its users need no openssl.pc (pkg-config
# checks Requires.private even for --cflags). PKG_CONFIG_LIBDIR hides every other .pc file.
if [[ $static == 1 ]]; then
    grep -q '^Requires.private: openssl' "$pc" || die "smtpc.pc lacks Requires.private: openssl for libsmtpc.a"
    static_libs=$(pkg-config --static --libs smtpc) || die "pkg-config --static --libs smtpc failed"
    echo "static: $static_libs"
    [[ $static_libs == *-lssl* && $static_libs == *-lcrypto* ]] || die "static Libs lack OpenSSL: $static_libs"
    [[ $static_libs == *-lstdc++* || $static_libs == *-lc++* ]] || die "Libs.private lacks the C++ runtime: $static_libs"
else
    if grep -n '^Requires.private\|^Libs.private' "$pc" >&2; then
        die "smtpc.pc of a shared-only install has private (static-link) dependencies"
    fi
    PKG_CONFIG_LIBDIR=$(dirname "$pc") PKG_CONFIG_PATH= pkg-config --cflags --libs smtpc >/dev/null ||
        die "pkg-config --cflags --libs smtpc needs other .pc files"
fi

# shellcheck disable=SC2086 # word splitting of the flags is intended
run_logged "$cc" -std=c99 -Wall -Wextra -Werror $extra_cflags -o "$tmp/send_simple_pc" \
    "$src/examples/send_simple.c" $cflags $libs
out=$(LD_LIBRARY_PATH=$libdir "$tmp/send_simple_pc") || die "send_simple (pkg-config build) failed"
echo "$out"
[[ $out == *"smtpc $version"* ]] || die "unexpected output from send_simple: $out"
if command -v ldd >/dev/null && [[ -z $extra_cflags ]]; then
    LD_LIBRARY_PATH=$libdir ldd "$tmp/send_simple_pc" | grep -F "$libdir/libsmtpc.so.$soversion" >/dev/null ||
        die "send_simple did not load the installed library"
fi

if [[ $static == 1 ]]; then
    step "pkg-config --static: send_simple linked with libsmtpc.a"
    static_link=${static_libs/-lsmtpc/-l:libsmtpc.a}
    # shellcheck disable=SC2086 # word splitting of the flags is intended
    run_logged "$cc" -std=c99 -Wall -Wextra -Werror $extra_cflags -o "$tmp/send_simple_static" \
        "$src/examples/send_simple.c" $cflags $static_link
    out=$(env -u LD_LIBRARY_PATH "$tmp/send_simple_static") || die "send_simple (static) failed"
    [[ $out == *"smtpc $version"* ]] || die "unexpected output from send_simple (static): $out"
    if command -v ldd >/dev/null && env -u LD_LIBRARY_PATH ldd "$tmp/send_simple_static" | grep -F libsmtpc.so; then
        die "send_simple (static) loads libsmtpc.so"
    fi
fi

step "find_package(smtpc CONFIG) from a CMake project"
mkdir -p "$tmp/consumer"
cp "$src/examples/send_simple.c" "$tmp/consumer/"
cat >"$tmp/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(smtpc_consumer LANGUAGES C)

# SameMajorVersion: another major version must not be accepted.
find_package(smtpc 999 CONFIG QUIET)
if(smtpc_FOUND)
  message(FATAL_ERROR "find_package(smtpc 999) accepted version ${smtpc_VERSION}")
endif()

find_package(smtpc 0.1 CONFIG REQUIRED)
message(STATUS "found smtpc ${smtpc_VERSION} in ${smtpc_DIR}")
add_executable(send_simple send_simple.c)
target_link_libraries(send_simple PRIVATE smtpc::smtpc)
if(SMTPC_TEST_STATIC)
  find_package(smtpc 0.1 CONFIG REQUIRED COMPONENTS static)
  add_executable(send_simple_static send_simple.c)
  target_link_libraries(send_simple_static PRIVATE smtpc::smtpc_static)
endif()
CMAKE
# A shared-only package must not look for OpenSSL or Threads: its target does not need them.
no_deps=()
if [[ $static != 1 ]]; then
    no_deps=(-DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON -DCMAKE_DISABLE_FIND_PACKAGE_Threads=ON)
fi
run_logged "$cmake" -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$extra_cflags" -DCMAKE_EXE_LINKER_FLAGS="$extra_cflags" \
    -DSMTPC_TEST_STATIC="$static" "${no_deps[@]}"
grep -F "found smtpc $version in $prefix" "$tmp/log.txt" || die "the consumer did not find smtpc in $prefix"
run_logged "$cmake" --build "$tmp/consumer/build"
out=$(LD_LIBRARY_PATH=$libdir "$tmp/consumer/build/send_simple") || die "send_simple (CMake build) failed"
echo "$out"
[[ $out == *"smtpc $version"* ]] || die "unexpected output from send_simple: $out"

if [[ $static == 1 ]]; then
    out=$(env -u LD_LIBRARY_PATH "$tmp/consumer/build/send_simple_static") || die "send_simple_static (CMake) failed"
    [[ $out == *"smtpc $version"* ]] || die "unexpected output from send_simple_static: $out"
fi

# smtpc-send and the Python extension: a RUNPATH relative to themselves ($ORIGIN/...) when the
# configured install directory of the library is not a system one, and then they run from the
# prefix without LD_LIBRARY_PATH; none for a system directory (e.g. the prefix /usr of a
# distribution build), and then they need LD_LIBRARY_PATH here, installed elsewhere.
runpath() { readelf -d "$1" | sed -n 's/.*(\(RPATH\|RUNPATH\)).*\[\(.*\)\].*/\2/p'; }
env_for() { # FILE: the environment to run FILE (or load it) from the prefix
    local rp
    rp=$(runpath "$1")
    if [[ -n $rp ]]; then
        [[ $rp == '$ORIGIN'* ]] || die "$1 has a RUNPATH that is not relative to itself: $rp"
        echo "-u LD_LIBRARY_PATH"
    else
        echo "LD_LIBRARY_PATH=$libdir"
    fi
}
step "smtpc-send from the prefix"
send=$prefix/bin/smtpc-send
[[ -x $send ]] || die "bin/smtpc-send was not installed"
command -v readelf >/dev/null || die "readelf (binutils) is needed"
[[ -z $(runpath "$libdir/libsmtpc.so.$version") ]] || die "libsmtpc.so has a RUNPATH"
if [[ -z $extra_cflags ]]; then
    # shellcheck disable=SC2046 # the words of env_for are separate arguments of env
    out=$(env $(env_for "$send") "$send" --version) || die "installed smtpc-send --version failed ($(env_for "$send"))"
    echo "$out ($(env_for "$send"))"
    [[ $out == *"$version"* ]] || die "installed smtpc-send --version: $out"
fi

if [[ -n $python ]]; then
    step "the Python package from the prefix"
    ext=$(find "$prefix" -path '*/smtpc/_smtpc_native*.so' | head -n 1)
    [[ -n $ext ]] || die "the Python extension _smtpc_native was not installed"
    pydir=$(dirname "$(dirname "$ext")")
    if [[ -z $extra_cflags ]]; then
        # shellcheck disable=SC2046
        out=$(cd "$tmp" && env $(env_for "$ext") PYTHONPATH="$pydir" PYTHONDONTWRITEBYTECODE=1 "$python" -c \
            'import smtpc; print(smtpc.__file__); print(smtpc.__version__)') ||
            die "importing the installed Python package failed"
        echo "$out"
        [[ $out == "$pydir/smtpc/__init__.py"* && $out == *"$version"* ]] ||
            die "the installed Python package is not the one imported, or the wrong version: $out"
    fi
fi

echo "install test passed"
