#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the Go binding's tests (go test) against the library of a build tree; the ctest entries of
# bindings/go/CMakeLists.txt call it. Exit 77 (skipped) when the machine lacks what they need.
#
# Usage: run_tests.sh SOURCE_DIR INCLUDE_DIR LIB_DIR WORK_DIR [postfix] [-- go test arguments]
#   WORK_DIR holds the Go build cache, so that a second run compiles nothing.
#   "postfix" runs only the tests against a private Postfix (root and Debian postfix needed).
set -euo pipefail

if [[ $# -lt 4 ]]; then
    echo "usage: $0 SOURCE_DIR INCLUDE_DIR LIB_DIR WORK_DIR [postfix] [-- go test args]" >&2
    exit 2
fi
src=$1 inc=$2 lib=$3 work=$4
shift 4
mode=all
if [[ ${1:-} == postfix ]]; then
    mode=postfix
    shift
fi
[[ ${1:-} == -- ]] && shift

if ! command -v go >/dev/null 2>&1; then
    echo "SKIP: the go tool is not installed (Debian: golang-go)"
    exit 77
fi
if [[ $mode == postfix ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "SKIP: the Postfix tests need root"
        exit 77
    fi
    if ! command -v postfix >/dev/null 2>&1 && [[ ! -x /usr/sbin/postfix ]]; then
        echo "SKIP: the Postfix tests need postfix"
        exit 77
    fi
fi

mkdir -p "$work"
export GOCACHE="$work/cache" GOPATH="$work/gopath" GOFLAGS=-mod=mod GOPROXY=off GOWORK=off \
    GOTOOLCHAIN=local GOTELEMETRY=off GOENV=off CGO_ENABLED=1
export CGO_CFLAGS="-I$inc ${SMTPC_GO_CFLAGS:-}"
export CGO_LDFLAGS="-L$lib -Wl,-rpath,$lib"
export SMTPC_SOURCE_DIR="$src"
cd "$src/bindings/go"

unformatted=$(gofmt -l . || true)
if [[ -n $unformatted ]]; then
    echo "FAIL: not gofmt-formatted: $unformatted"
    exit 1
fi

if [[ $mode == postfix ]]; then
    export SMTPC_GO_POSTFIX=1
    exec go test -tags smtpc_buildtree -count=1 -timeout 300s -run 'Postfix' "$@" .
fi
go vet -tags smtpc_buildtree ./...
exec go test -tags smtpc_buildtree -count=1 -timeout 300s -v "$@" ./...
