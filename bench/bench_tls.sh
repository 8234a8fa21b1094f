#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TLS session cost: bench_tls (C API) in each of its modes, and 20 STARTTLS sessions through Python's
# smtplib and through smtpc's drop-in (smtpc.smtplib), against one local aiosmtpd with STARTTLS.
# Then full against resumed handshakes (bench_tls full/resumed: one configuration, session
# resumption off/on) against aiosmtpd (TLS 1.3 and 1.2 STARTTLS, TLS 1.3 implicit) and, as root
# with Postfix installed, against Postfix (STARTTLS and its implicit-TLS port).
# Figures and how to read them: docs/performance.md, "TLS", and docs/tls.md, "Session resumption".
#
# usage: bench/bench_tls.sh BUILD_DIR      (a build with -DSMTPC_BUILD_BENCH=ON and the Python bindings)
# env:   SESSIONS (20) sessions per run, REPEAT (5) runs per case (the median is reported),
#        RESUME_ONLY=1 to run only the resumption section.
# Needs: /usr/bin/python3 with python3-aiosmtpd, openssl (the test PKI); Postfix (optional, root).
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
extra_pids=()
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    # postfix_server.py stops its Postfix on SIGTERM: wait for each, so the directory goes last.
    for pid in "${extra_pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
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
if [[ ${RESUME_ONLY:-0} != 1 ]]; then
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
fi

# start_server NAME ARGS...: another server in the background (stopped by cleanup); its port (the
# READY line) in $started_port. Not called in a subshell, so that cleanup knows its process.
start_server() {
    local name=$1
    shift
    started_port=
    "$@" > "$work/$name.out" 2>"$work/$name.err" &
    extra_pids+=($!)
    for _ in $(seq 300); do
        started_port=$(sed -n 's/^READY \([0-9][0-9]*\)$/\1/p' "$work/$name.out")
        [[ -n $started_port ]] && return 0
        sleep 0.1
    done
    return 1
}

# full_vs_resumed LABEL PORT [implicit]: bench_tls full and resumed, with and without a message.
full_vs_resumed() {
    local label=$1 p=$2 implicit=${3:-0}
    echo "### $label"
    for hs in 1 0; do
        for mode in full resumed; do
            BENCH_TLS_IMPLICIT=$implicit BENCH_TLS_HANDSHAKE_ONLY=$hs median "$BUILD/bench/bench_tls" localhost "$p" \
                "$SESSIONS" "$mode" "$work/pki/ca.pem"
        done
    done
}

echo "## Session resumption: full against resumed handshakes, $SESSIONS sessions, median of $REPEAT"
echo "## (+handshake: connect, TLS, QUIT; otherwise connect, TLS, EHLO, one message, QUIT)"
full_vs_resumed "aiosmtpd, STARTTLS, TLS 1.3" "$port"
if start_server aio12 "$PY" "$SRC/tests/servers/aiosmtpd_server.py" --spool "$work/spool" \
    --tls-cert "$work/pki/server.pem" --tls-key "$work/pki/server.key" --tls-max-version 1.2; then
    full_vs_resumed "aiosmtpd, STARTTLS, TLS 1.2" "$started_port"
fi
if start_server aioimp "$PY" "$SRC/tests/servers/aiosmtpd_server.py" --spool "$work/spool" \
    --tls-cert "$work/pki/server.pem" --tls-key "$work/pki/server.key" --implicit-tls; then
    full_vs_resumed "aiosmtpd, implicit TLS 1.3" "$started_port" 1
fi
if [[ $(id -u) -eq 0 ]] && command -v postfix >/dev/null; then
    mkdir -m 700 "$work/pfspool"
    if start_server postfix "$PY" "$SRC/tests/servers/postfix_server.py" --spool "$work/pfspool" \
        --tls-cert "$work/pki/server.pem" --tls-key "$work/pki/server.key"; then
        ppf=$started_port
        ptls=$(sed -n 's/^TLSPORT \([0-9][0-9]*\)$/\1/p' "$work/postfix.out")
        full_vs_resumed "Postfix $(postconf -dh mail_version), STARTTLS, TLS 1.3" "$ppf"
        [[ -n $ptls ]] && full_vs_resumed "Postfix, implicit TLS 1.3 (smtpd_tls_wrappermode)" "$ptls" 1
    else
        echo "### Postfix did not start: $(tail -n 2 "$work/postfix.err")"
    fi
else
    echo "### Postfix skipped (needs root and postfix)"
fi
