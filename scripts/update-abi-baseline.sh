#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regenerates abi/smtpc.abi, the description of the released ABI that the ctest abi.abidiff compares
# each build against (tests/abi/check_abidiff.sh). Run it when a release fixes the ABI: after the last
# change to include/smtpc.h, and after an intended SONAME bump. Needs abigail-tools (abidw).
#
# It builds only the shared library, with debug information, in BUILD_DIR (default: build-abi).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build-abi}
command -v abidw >/dev/null || { echo "abidw not found (Debian: abigail-tools)" >&2; exit 1; }

# Source paths in the debug information relative to the tree, so the file names no local path.
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Debug -DSMTPC_BUILD_TESTS=OFF -DSMTPC_BUILD_PYTHON=OFF \
    -DSMTPC_BUILD_EXAMPLES=OFF -DSMTPC_INSTALL=OFF \
    -DCMAKE_C_FLAGS="-ffile-prefix-map=$PWD/=" -DCMAKE_CXX_FLAGS="-ffile-prefix-map=$PWD/=" >/dev/null
cmake --build "$build_dir" --target smtpc --parallel 2 >/dev/null
lib=$(find "$build_dir/src" -maxdepth 1 -name 'libsmtpc.so.*.*' -type f | head -n 1)
[[ -n $lib ]] || { echo "libsmtpc.so was not built in $build_dir" >&2; exit 1; }

# Only the exported functions and what the public header declares (the handles stay opaque: their
# definitions are private); no source locations, so the file changes only when the ABI does.
abidw --exported-interfaces-only --headers-dir include --drop-private-types --no-corpus-path \
    --no-comp-dir-path --no-show-locs --type-id-style hash --out-file abi/smtpc.abi "$lib"
echo "abi/smtpc.abi: $(grep -c '<elf-symbol ' abi/smtpc.abi) symbols, $(sed -n "s/.*soname='\([^']*\)'.*/\1/p" abi/smtpc.abi | head -n 1)"

# debian/libsmtpc0.symbols (dpkg-gensymbols' format) from the same library: each symbol with its
# version node; a symbol keeps the release it first appeared in, a new one gets the current release.
version=$(sed -n 's/^#define SMTPC_VERSION_STRING "\(.*\)"/\1/p' include/smtpc.h)
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
package=libsmtpc${soname##*.so.}
symfile=debian/$package.symbols
declare -A since=()
if [[ -f $symfile ]]; then
    while read -r sym ver; do
        since[$sym]=$ver
    done < <(sed -n 's/^ \([^ ]*\) \([^ ]*\)$/\1 \2/p' "$symfile")
fi
{
    echo "$soname $package #MINVER#"
    echo "* Build-Depends-Package: libsmtpc-dev"
    nm -D --defined-only --with-symbol-versions "$lib" | awk '{ print $NF }' | sed 's/@@/@/' | LC_ALL=C sort -u |
        while read -r sym; do
            [[ $sym == *@* ]] || sym=$sym@$sym # a version node's own symbol, as dpkg-gensymbols names it
            echo " $sym ${since[$sym]:-$version}"
        done
} >"$symfile.new"
mv "$symfile.new" "$symfile"
echo "$symfile: $(grep -c '^ ' "$symfile") symbols"
