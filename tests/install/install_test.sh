#!/usr/bin/env bash
# Install test (run by ctest, see CMakeLists.txt here): install the build tree into a temporary
# prefix, then build examples/send_simple.c against that prefix the two ways users do
#   1. cc send_simple.c $(pkg-config --cflags --libs smtpc)
#   2. a CMake project with find_package(smtpc CONFIG REQUIRED) and target smtpc::smtpc
# and run both (no arguments: they print the library version) with LD_LIBRARY_PATH set to the
# prefix. Also checks the installed file set, the package version rules and the .pc contents.
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
if grep -rlF -e "$build" -e "$src" "$pc" "$(dirname "$config")" >/dev/null; then
    die "installed package files mention the build or source tree"
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
static_libs=$(pkg-config --static --libs smtpc 2>/dev/null || true)
[[ $static_libs == *-lstdc++* || $static_libs == *-lc++* ]] || die "Libs.private lacks the C++ runtime: $static_libs"

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
CMAKE
run_logged "$cmake" -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$extra_cflags" -DCMAKE_EXE_LINKER_FLAGS="$extra_cflags"
grep -F "found smtpc $version in $prefix" "$tmp/log.txt" || die "the consumer did not find smtpc in $prefix"
run_logged "$cmake" --build "$tmp/consumer/build"
out=$(LD_LIBRARY_PATH=$libdir "$tmp/consumer/build/send_simple") || die "send_simple (CMake build) failed"
echo "$out"
[[ $out == *"smtpc $version"* ]] || die "unexpected output from send_simple: $out"

echo "install test passed"
