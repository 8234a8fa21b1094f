#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ABI check of the built shared library (run by ctest, see CMakeLists.txt here):
#  1. abi/smtpc.symbols is sorted, without duplicates, and lists exactly the functions the header
#     declares with SMTPC_API;
#  2. every dynamic symbol the library defines starts with smtpc_ and carries an SMTPC_* version;
#  3. the set of defined dynamic symbols equals abi/smtpc.symbols;
#  4. the SONAME is the expected one.
# Adding API therefore means adding it to abi/smtpc.symbols (and a CHANGELOG line).
#
# usage: check_abi.sh LIBRARY SYMBOLS_FILE HEADER EXPECTED_SONAME [NM] [READELF]
set -euo pipefail

lib=$1 symbols=$2 header=$3 soname=$4
nm=${5:-nm} readelf=${6:-readelf}
export LC_ALL=C
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. The list itself.
if ! sort -c -u "$symbols" 2>"$tmp/sort.err"; then
    echo "FAIL: $symbols is not sorted or has duplicates: $(cat "$tmp/sort.err")"
    fail=1
fi
sed -n 's/^SMTPC_API[^(]*[^a-z0-9_]\(smtpc_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u >"$tmp/header"
if ! diff -u --label "$symbols" --label "functions declared in smtpc.h" "$symbols" "$tmp/header" >"$tmp/hdiff"; then
    echo "FAIL: $symbols does not match the SMTPC_API functions of the header:"
    cat "$tmp/hdiff"
    fail=1
fi

# 2. What the library exports. Version definitions (SMTPC_0 ...) show up as absolute symbols.
"$nm" -D --defined-only "$lib" >"$tmp/nm"
awk '$(NF-1) != "A" { print $NF }' "$tmp/nm" >"$tmp/raw"
: >"$tmp/exported"
while read -r sym; do
    name=${sym%%@*}
    version=
    [[ $sym == *@* ]] && version=${sym##*@}
    if [[ $name != smtpc_* ]]; then
        echo "FAIL: exported symbol outside the smtpc_ namespace: $sym"
        fail=1
    fi
    if [[ -n $version && $version != SMTPC_* ]]; then
        echo "FAIL: symbol $name has version $version, expected an SMTPC_* version node"
        fail=1
    fi
    echo "$name" >>"$tmp/exported"
done <"$tmp/raw"
sort -u -o "$tmp/exported" "$tmp/exported"
if [[ ! -s $tmp/exported ]]; then
    echo "FAIL: $lib exports no symbols"
    fail=1
fi

# 3. Exactly the expected set.
if ! diff -u --label "$symbols (expected)" --label "$lib (nm -D --defined-only)" "$symbols" "$tmp/exported" >"$tmp/ldiff"; then
    echo "FAIL: exported symbols differ from $symbols ('-' missing from the library, '+' unexpected):"
    cat "$tmp/ldiff"
    fail=1
fi

# 4. SONAME.
actual_soname=$("$readelf" -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [[ $actual_soname != "$soname" ]]; then
    echo "FAIL: SONAME is '${actual_soname}', expected '$soname'"
    fail=1
fi

if [[ $fail -ne 0 ]]; then
    exit 1
fi
echo "ABI OK: $(wc -l <"$tmp/exported") symbols, SONAME $actual_soname"
