#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Ruby extension smtpc/native from bindings/smtpc.i (SWIG) against the library of a build
# tree and runs the Ruby binding's minitest tests. Exit 77 (skipped) when a tool is missing.
#
# usage: run_tests.sh SOURCE_DIR INCLUDE_DIR LIB_DIR WORK_DIR [postfix]
#   without "postfix": test/test_smtp.rb (aiosmtpd, the fault server); with it: test/test_postfix.rb
#   (a private Postfix: root and Debian postfix).
# SMTPC_RUBY_CFLAGS adds compiler flags (CMake passes -Werror when SMTPC_WERROR is on).
set -euo pipefail
src=$1 inc=$2 libdir=$3 work=$4 which=${5:-main}

skip() {
    echo "SKIP: $*"
    exit 77
}
command -v ruby >/dev/null || skip "ruby not found (Debian: ruby-dev)"
hdr=$(ruby -rrbconfig -e 'print RbConfig::CONFIG["rubyhdrdir"]')
archhdr=$(ruby -rrbconfig -e 'print RbConfig::CONFIG["rubyarchhdrdir"]')
libruby=$(ruby -rrbconfig -e 'print RbConfig::CONFIG["LIBRUBYARG_SHARED"]')
[[ -f $hdr/ruby.h ]] || skip "ruby.h not found (Debian: ruby-dev)"
command -v swig >/dev/null || skip "swig not found (Debian: swig)"
ruby -e 'require "minitest"' 2>/dev/null || skip "minitest not found (Debian: ruby-minitest)"
if [[ $which == postfix ]]; then
    [[ $(id -u) -eq 0 ]] || skip "a private Postfix needs root"
    [[ -x /usr/sbin/postfix ]] || skip "Debian postfix is not installed"
fi

mkdir -p "$work/smtpc"
swig -ruby -I"$inc" -I"$src/bindings" -o "$work/native_wrap.c" "$src/bindings/ruby/smtpc_ruby.i"
# shellcheck disable=SC2086 # word splitting of the flag lists is wanted
${CC:-cc} -std=c11 -fPIC -shared -O1 -Wall -Wextra -Wno-unused-parameter ${SMTPC_RUBY_CFLAGS:-} \
    -I"$hdr" -I"$archhdr" -I"$inc" "$work/native_wrap.c" -o "$work/smtpc/native.so" \
    -L"$libdir" -Wl,-rpath,"$libdir" -lsmtpc $libruby

export SMTPC_SOURCE_DIR=$src
cd "$src/bindings/ruby"
if [[ $which == postfix ]]; then
    exec ruby -I lib -I "$work" test/test_postfix.rb
fi
exec ruby -I lib -I "$work" test/test_smtp.rb
