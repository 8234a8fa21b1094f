#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TLS session cost: bench_tls (C API) in each of its modes, and 20 STARTTLS sessions through Python's
# smtplib and through smtpc's drop-in (smtpc.smtplib), against one local aiosmtpd with STARTTLS.
# Figures and how to read them: docs/performance.md, "TLS".
#
# usage: bench/bench_tls.sh BUILD_DIR      (a build with -DSMTPC_BUILD_BENCH=ON and the Python bindings)
# env:   SESSIONS (20) sessions per run, REPEAT (5) runs per case (the median is reported).
# Needs: /usr/bin/python3 with python3-aiosmtpd, openssl (the test PKI).
#
# The server's certificate comes from the test CA (tests/servers/make_test_pki.sh); SSL_CERT_FILE is
# set to the system bundle plus that CA, so that the "system trust store" of every client (smtpc's
# default configuration, Python's ssl.create_default_context()) has its real size and also trusts
# the server: every session is verified, as against a real server.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: bench_tls.sh BUILD_DIR}"
SESSIONS="${SESSIONS:-20}"
REPEAT="${REPEAT:-5}"
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/smtpc-bench-tls.XXXXXX")
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -m 700 "$work/pki" "$work/spool"
bash "$SRC/tests/servers/make_test_pki.sh" "$work/pki" >/dev/null
system_bundle=/etc/ssl/certs/ca-certificates.crt
[[ -f $system_bundle ]] || system_bundle=$(openssl version -d | sed 's/.*"\(.*\)"/\1/')/cert.pem
cat "$system_bundle" "$work/pki/ca.pem" > "$work/bundle.pem"
export SSL_CERT_FILE="$work/bundle.pem"

"$PY" "$SRC/tests/servers/aiosmtpd_server.py" --spool "$work/spool" --tls-cert "$work/pki/server.pem" \
    --tls-key "$work/pki/server.key" > "$work/server.out" 2>/dev/null &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^READY \([0-9][0-9]*\)$/\1/p' "$work/server.out")
    [[ -n $port ]] && break
    sleep 0.1
done
[[ -n $port ]] || { echo "aiosmtpd did not start"; exit 1; }

# median CMD...: runs CMD REPEAT times, prints the run with the median ms_per_session.
median() {
    for _ in $(seq "$REPEAT"); do "$@"; done | sort -t= -k5 -n | awk -v r="$REPEAT" '{ l[NR] = $0 } END { print l[int((r + 1) / 2)] }'
}

echo "# $(nproc) cores, $(uname -sr), $(openssl version), commit $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "## C API (bench_tls), $SESSIONS sessions, median of $REPEAT"
for mode in default newconfig cafile cafile-new reuse; do
    median "$BUILD/bench/bench_tls" 127.0.0.1 "$port" "$SESSIONS" "$mode" "$work/pki/ca.pem"
done
pkg="$BUILD/bindings/python/pkg"
if [[ -d $pkg/smtpc ]]; then
    echo "## Python, $SESSIONS STARTTLS sessions, median of $REPEAT"
    for ctx in none default-once default-each; do
        for module in smtplib smtpc; do
            median env PYTHONPATH="$pkg" "$PY" "$SRC/bench/bench_tls_smtplib.py" 127.0.0.1 "$port" "$SESSIONS" "$module" "$ctx"
        done
    done
else
    echo "## Python skipped: no $pkg/smtpc (configure with the Python bindings and build them)"
fi
