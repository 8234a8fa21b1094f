#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds smtpc and runs the whole test suite twice:
#   1. build/       warnings as errors (-DSMTPC_WERROR=ON), every test including the Python binding,
#                   with the static library as well (-DSMTPC_BUILD_STATIC=ON, for tests/install);
#   2. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer (-DSMTPC_SANITIZE=ON), every test
#                   except the Python binding (label "python": an instrumented extension module needs
#                   libasan preloaded into the interpreter) and the format check (label "style": it
#                   reads sources only, and stage 1 ran it); Go, Ruby and SWIG tests are not
#                   registered in a sanitizer build for the same reason as Python.
# Then a ThreadSanitizer build of the library and its threaded tests (scripts/tsan.sh) and the fuzz
# smoke run (scripts/fuzz-smoke.sh); each skips (77) when the compiler lacks what it needs.
# Exits non-zero on the first failure. Build directories can be moved with BUILD_DIR/ASAN_BUILD_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
asan_dir=${ASAN_BUILD_DIR:-build-asan}
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/install-deps.sh

# Debian's interpreter: it is the one with python3-pytest and python3-aiosmtpd.
python_args=()
if [[ -x /usr/bin/python3 ]]; then
    python_args=(-DPython3_EXECUTABLE=/usr/bin/python3)
fi

# Build type: optimised by default (GCC finds more warnings with optimisation on); the sanitizer
# build below is Debug. SMTPC_CI_BUILD_TYPE overrides it.
build_type=${SMTPC_CI_BUILD_TYPE:-RelWithDebInfo}
echo "=== [1/2] build with warnings as errors ($build_dir, $build_type)"
# The static library too (the same objects, archived): install.consumers then links a program with
# `pkg-config --static`; the sanitizer build below stays shared-only, the default.
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" -DSMTPC_WERROR=ON -DSMTPC_BUILD_STATIC=ON \
    "${python_args[@]}"
cmake --build "$build_dir" --parallel "$jobs"
echo "=== [1/2] ctest ($build_dir)"
(cd "$build_dir" && ctest --output-on-failure --no-tests=error --timeout 600)

echo "=== [2/2] build with ASan + UBSan ($asan_dir)"
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cmake -S . -B "$asan_dir" -DCMAKE_BUILD_TYPE=Debug -DSMTPC_WERROR=ON -DSMTPC_SANITIZE=ON \
    -DSMTPC_BUILD_PYTHON=OFF "${python_args[@]}"
cmake --build "$asan_dir" --parallel "$jobs"
echo "=== [2/2] ctest ($asan_dir)"
(cd "$asan_dir" && ctest --output-on-failure --no-tests=error --timeout 600 --label-exclude "python|style")

echo "=== ThreadSanitizer (${TSAN_BUILD_DIR:-build-tsan})"
bash scripts/tsan.sh "${TSAN_BUILD_DIR:-build-tsan}" || { rc=$?; [[ $rc -eq 77 ]] || exit "$rc"; }

bash scripts/fuzz-smoke.sh "${FUZZ_BUILD_DIR:-build-fuzz}" || { rc=$?; [[ $rc -eq 77 ]] || exit "$rc"; }

echo "=== all tests passed (normal, AddressSanitizer and ThreadSanitizer builds, fuzz smoke)"
