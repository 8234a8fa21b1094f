#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that api_test.c calls every function the public header declares, so that a function added
# to include/smtpc.h without a C test of its documented codes fails the test suite.
# usage: check_coverage.sh HEADER API_TEST_SOURCE
set -euo pipefail
header=$1 source=$2
missing=0
for fn in $(sed -n 's/^SMTPC_API[^(]*[^a-z0-9_]\(smtpc_[a-z0-9_]*\)(.*/\1/p' "$header"); do
    if ! grep -q "\\b$fn(" "$source"; then
        echo "not called by $(basename "$source"): $fn"
        missing=$((missing + 1))
    fi
done
if [[ $missing -ne 0 ]]; then
    echo "FAIL: $missing function(s) of the header are not exercised by the C API test"
    exit 1
fi
echo "every function of $(basename "$header") is called by $(basename "$source")"
