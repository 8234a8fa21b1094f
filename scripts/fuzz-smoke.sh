#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bounded fuzzing for CI (see fuzz/README.md): builds the libFuzzer targets with clang, replays each
# target's seed corpus and saved regressions once, then fuzzes each target for FUZZ_SECONDS (default
# 15) from its seed corpus. New inputs go to a temporary directory, never into the source tree; a
# crash or a failed oracle stops the script with the reproducer's path (kept) and exit status 1.
#
#   scripts/fuzz-smoke.sh [BUILD_DIR]      default build-fuzz; FUZZ_SECONDS=0 only replays
#
# Exits 77 (skipped) with a message when clang with libFuzzer is not installed (Debian: clang and
# libclang-rt-dev, which scripts/install-deps.sh installs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${1:-build-fuzz}
seconds=${FUZZ_SECONDS:-15}
jobs=$(nproc 2>/dev/null || echo 2)
targets=(fuzz_reply fuzz_features fuzz_data_encoder fuzz_address fuzz_session fuzz_auth fuzz_message)

cxx=${FUZZ_CXX:-clang++}
cc=${FUZZ_CC:-clang}
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t *, size_t) { return 0; }\n' \
    >"$probe/probe.cpp"
if ! command -v "$cxx" >/dev/null 2>&1 || ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz-smoke: SKIPPED: $cxx/$cc not found (Debian: clang libclang-rt-dev)"
    exit 77
fi
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/probe.cpp" -o "$probe/probe" >"$probe/log" 2>&1; then
    echo "fuzz-smoke: SKIPPED: $cxx cannot link -fsanitize=fuzzer (Debian: libclang-rt-dev):"
    sed 's/^/  /' "$probe/log" | head -5
    exit 77
fi

echo "=== fuzz-smoke: build ($build_dir)"
CC=$cc CXX=$cxx cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMTPC_BUILD_FUZZERS=ON \
    -DSMTPC_BUILD_TESTS=OFF -DSMTPC_BUILD_PYTHON=OFF -DSMTPC_BUILD_EXAMPLES=OFF -DSMTPC_WERROR=ON >/dev/null
cmake --build "$build_dir" --parallel "$jobs" --target "${targets[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/smtpc-fuzz.XXXXXX")
trap 'rm -rf "$probe"' EXIT  # $work holds the reproducer on failure: removed below on success only
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in "${targets[@]}"; do
    bin=$build_dir/fuzz/$t
    inputs=(fuzz/corpus/$t)
    [[ -d fuzz/regressions/$t ]] && inputs+=(fuzz/regressions/$t)
    n=$(find "${inputs[@]}" -type f | wc -l)
    if ! "$bin" -runs=0 -dict=fuzz/smtp.dict "${inputs[@]}" >"$work/$t.replay.log" 2>&1; then
        echo "fuzz-smoke: $t FAILED replaying its corpus and regressions:"
        tail -40 "$work/$t.replay.log"
        echo "fuzz-smoke: log kept in $work"
        exit 1
    fi
    echo "fuzz-smoke: $t replayed $n inputs"
    [[ $seconds -gt 0 ]] || continue
    mkdir -p "$work/$t.corpus"
    if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -dict=fuzz/smtp.dict -artifact_prefix="$work/" "$work/$t.corpus" "fuzz/corpus/$t" \
        >"$work/$t.log" 2>&1; then
        echo "fuzz-smoke: $t FAILED while fuzzing:"
        grep -E 'FUZZ_CHECK|ERROR|SUMMARY|^  ' "$work/$t.log" | head -30 || true
        echo "fuzz-smoke: reproducer and log kept in $work (run: $bin <reproducer>)"
        exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
    added=$(find "$work/$t.corpus" -type f | wc -l)
    echo "fuzz-smoke: $t fuzzed ${seconds}s: ${execs:-?} executions, $added new inputs, no failure"
done
rm -rf "$work"
echo "=== fuzz-smoke: all ${#targets[@]} targets passed"
