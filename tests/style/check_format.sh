#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fails when a tracked C or C++ file does not follow .clang-format. Skips (77) without clang-format 14,
# the version .clang-format is written for (Debian 12's): other versions format some constructs
# differently, and a style check must not fail for the tool's version.
# usage: check_format.sh SOURCE_DIR
set -euo pipefail
src="${1:?usage: check_format.sh SOURCE_DIR}"
cf="$(command -v clang-format-14 || command -v clang-format || true)"
if [[ -z $cf ]]; then
    echo "SKIP: clang-format not installed (Debian: clang-format)"
    exit 77
fi
if ! "$cf" --version | grep -q 'version 14\.'; then
    echo "SKIP: $("$cf" --version) is not clang-format 14, which .clang-format is written for"
    exit 77
fi
cd "$src"
if ! command -v git >/dev/null; then
    echo "SKIP: git not installed (it lists the tracked files to check)"
    exit 77
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "SKIP: not a git checkout (the check covers tracked files)"
    exit 77
fi
bad=()
while IFS= read -r -d '' f; do
    "$cf" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files -z -- '*.c' '*.h' '*.cpp' '*.hpp')
if ((${#bad[@]})); then
    printf 'not formatted with .clang-format (run: %s -i FILE):\n' "$cf"
    printf '  %s\n' "${bad[@]}"
    exit 1
fi
echo "all C and C++ files follow .clang-format"
