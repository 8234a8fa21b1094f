#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ABI compatibility check (run by ctest, see CMakeLists.txt here): compares the built libsmtpc.so with
# the committed description of the released ABI, abi/smtpc.abi (made by abidw, see
# scripts/update-abi-baseline.sh), using libabigail's abidiff.
#
#  - compatible changes (added functions or types) pass, and are listed;
#  - an incompatible change (a function removed, a type or signature changed) fails, unless the
#    SONAME differs from the baseline's (the ABI version was bumped: then regenerate the baseline);
#  - skipped (exit status 77) where abidiff (Debian abigail-tools) is missing, or the library has no
#    debug information to compare types with.
#
# usage: check_abidiff.sh LIBRARY BASELINE_ABI HEADERS_DIR [ABIDIFF] [READELF]
set -euo pipefail

lib=$1 baseline=$2 headers=$3
abidiff=${4:-abidiff} readelf=${5:-readelf}
skip() {
    echo "skipped: $*"
    exit 77
}

command -v "$abidiff" >/dev/null 2>&1 || skip "abidiff not found (Debian: abigail-tools)"
[[ -f $baseline ]] || { echo "FAIL: no ABI baseline $baseline (scripts/update-abi-baseline.sh makes it)"; exit 1; }
"$readelf" -S "$lib" | grep -q '\.debug_info' || skip "$lib has no debug information (build with -g)"

soname=$("$readelf" -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
base_soname=$(sed -n "s/.*<abi-corpus [^>]*soname='\([^']*\)'.*/\1/p" "$baseline" | head -n 1)

# abidiff's exit status is a bit field: 1 error, 2 usage error, 4 ABI change, 8 incompatible change
# (a removed function). Added functions and variables are not counted (--no-added-syms), nor are the
# changes libabigail calls harmless (an enumerator added at the end); every other change to an exported
# function or a type it reaches (a parameter or return type, a public struct, an enumerator's value)
# sets bit 4 and breaks existing binaries.
diff_args=(--exported-interfaces-only --drop-private-types --headers-dir2 "$headers")
status=0
"$abidiff" "${diff_args[@]}" --no-added-syms "$baseline" "$lib" >"${TMPDIR:-/tmp}/abidiff.$$" 2>&1 || status=$?
report=$(cat "${TMPDIR:-/tmp}/abidiff.$$")
rm -f "${TMPDIR:-/tmp}/abidiff.$$"
if ((status & 3)); then
    echo "$report"
    echo "FAIL: abidiff could not compare (exit status $status)"
    exit 1
fi
if ((status & 12)); then
    echo "$report"
    if [[ -n $base_soname && $soname != "$base_soname" ]]; then
        echo "ABI OK: incompatible changes come with a new SONAME ($base_soname -> $soname);" \
            "regenerate the baseline with scripts/update-abi-baseline.sh"
        exit 0
    fi
    echo "FAIL: incompatible ABI change without a SONAME bump (still $soname): either keep the ABI," \
        "or bump SMTPC_SOVERSION in CMakeLists.txt (and the package names in debian/)"
    exit 1
fi
# Compatible: list what was added, for the record.
added=0
"$abidiff" "${diff_args[@]}" "$baseline" "$lib" || added=$?
if ((added & 4)); then
    echo "ABI OK: compatible additions only against the baseline ($soname)"
else
    echo "ABI OK: identical to the baseline ($soname)"
fi
