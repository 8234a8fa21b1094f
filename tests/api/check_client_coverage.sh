#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that a test source calls every function of the public header that takes a client handle
# (smtpc_client * or const smtpc_client * as its first parameter), so that a function added later
# cannot escape the re-entry rule's test.
# usage: check_client_coverage.sh HEADER TEST_SOURCE
set -euo pipefail
header=$1 source=$2
# One declaration per line, then the names of those whose first parameter is a client.
fns=$(tr '\n' ' ' <"$header" | sed 's/;/;\n/g' |
    sed -n 's/.*SMTPC_API[^(]*[^a-z0-9_]\(smtpc_[a-z0-9_]*\)( *\(const \)\{0,1\}smtpc_client \*[a-z].*/\1/p')
count=0 missing=0
for fn in $fns; do
    count=$((count + 1))
    if ! grep -q "\\b$fn(" "$source"; then
        echo "not called by $(basename "$source"): $fn"
        missing=$((missing + 1))
    fi
done
if [[ $count -lt 40 ]]; then
    echo "FAIL: found only $count functions taking a client in $(basename "$header"): is the pattern out of date?"
    exit 1
fi
if [[ $missing -ne 0 ]]; then
    echo "FAIL: $missing of $count function(s) taking a client are not exercised by $(basename "$source")"
    exit 1
fi
echo "all $count functions of $(basename "$header") that take a client are called by $(basename "$source")"
