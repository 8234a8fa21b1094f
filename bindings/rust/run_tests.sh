#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the Rust binding's tests (cargo test, offline) against the library of a CMake build tree.
#
#   run_tests.sh SOURCE_DIR CARGO_TARGET_DIR LIB_DIR [cargo test arguments...]
#
# Exits 77 (ctest's skip) with the reason when cargo or rustc is missing (Debian: cargo, rustc).
# CARGO and RUSTC choose the tools (default: the first on PATH).
set -euo pipefail
if [[ $# -lt 3 ]]; then
    echo "usage: $0 SOURCE_DIR CARGO_TARGET_DIR LIB_DIR [cargo test arguments...]" >&2
    exit 2
fi
src=$1 target=$2 libdir=$3
shift 3

cargo=${CARGO:-$(command -v cargo || true)}
rustc=${RUSTC:-$(command -v rustc || true)}
if [[ -z $cargo || -z $rustc ]]; then
    echo "SKIP: the Rust binding's tests need cargo and rustc (Debian: apt-get install cargo rustc)"
    exit 77
fi
export RUSTC=$rustc
export CARGO_TARGET_DIR=$target
# build.rs links the build tree's library; the test programs find it at run time through this.
export SMTPC_LIB_DIR=$libdir
export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export SMTPC_SOURCE_DIR=$src
# Warnings are errors when the C build makes them so (SMTPC_WERROR, passed on by CMake).
if [[ ${SMTPC_RUST_WERROR:-0} == 1 ]]; then
    export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"
fi
cd "$src/bindings/rust"
echo "run_tests: $("$cargo" --version), $("$rustc" --version)"
exec "$cargo" test --offline --locked "$@"
