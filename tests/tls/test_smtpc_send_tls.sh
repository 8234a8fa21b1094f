#!/usr/bin/env bash
# smtpc-send over TLS against aiosmtpd (tests/servers/aiosmtpd_server.py, Debian python3-aiosmtpd):
#   1. --server smtps://localhost:PORT --cafile CA   (implicit TLS)          -> exit 0, message spooled
#   2. --server smtp://localhost:PORT --tls required --cafile CA        -> exit 0, message spooled
#   3. --tls required against a server without STARTTLS                -> exit 3, nothing spooled,
#      nothing but EHLO received
#   4. smtps:// with the system trust store (no --cafile): the test CA is unknown -> exit 3
#
# Usage: test_smtpc_send_tls.sh SMTPC_SEND SERVERS_DIR
# The PKI comes from $SMTPC_TEST_PKI_DIR (ctest fixture tls_pki) or is made here with make_test_pki.sh.
# Every server is started here, bound to loopback, and stopped on exit; every wait is bounded.
set -uo pipefail

send=$1
servers=$2
python=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/smtpc-send-tls.XXXXXX")
pids=()
passed=0
failed=0

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT

pki=${SMTPC_TEST_PKI_DIR:-}
if [[ -z $pki || ! -f $pki/server.fp ]]; then
    pki=$work/pki
    mkdir -m 700 "$pki"
    bash "$servers/make_test_pki.sh" "$pki" || { echo "make_test_pki.sh failed"; exit 1; }
fi

# start_server NAME ARGS...: starts aiosmtpd, sets $port once it printed READY (20 s at most).
start_server() {
    local name=$1
    shift
    mkdir -p "$work/$name/spool" "$work/$name/sessions"
    "$python" "$servers/aiosmtpd_server.py" --spool "$work/$name/spool" --sessions "$work/$name/sessions" "$@" \
        > "$work/$name/out" < /dev/null &
    pids+=($!)
    port=
    for _ in $(seq 200); do
        port=$(sed -n 's/^READY \([0-9][0-9]*\)$/\1/p' "$work/$name/out")
        [[ -n $port ]] && return 0
        sleep 0.1
    done
    echo "server $name did not start"
    exit 1
}

# Hex field KEY of the one JSON file matching GLOB, decoded (or the plain value for other keys),
# followed by "|" so that command substitution keeps its final line end.
field() {
    "$python" - "$1" "$2" <<'EOF'
import glob, json, sys
files = sorted(glob.glob(sys.argv[1]))
if len(files) != 1:
    sys.exit("expected one file for %s, found %d" % (sys.argv[1], len(files)))
value = json.load(open(files[0]))[sys.argv[2]]
sys.stdout.write((bytes.fromhex(value).decode("latin-1") if sys.argv[2].endswith("_hex") else str(value)) + "|")
EOF
}

wait_for() { # wait_for GLOB: up to 10 s for a file to match (records are written as connections close)
    for _ in $(seq 100); do
        compgen -G "$1" > /dev/null && return 0
        sleep 0.1
    done
    return 1
}

check() { # check DESCRIPTION CONDITION-RESULT
    if [[ $2 == 0 ]]; then
        echo "ok - $1"
        passed=$((passed + 1))
    else
        echo "not ok - $1"
        failed=$((failed + 1))
    fi
}

msg=$'Subject: smtpc-send over TLS\r\nMessage-ID: <send-tls@example.org>\r\n\r\nhello over TLS\r\n'

start_server implicit --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" --implicit-tls
implicit_port=$port
start_server starttls --tls-cert "$pki/server.pem" --tls-key "$pki/server.key"
starttls_port=$port
start_server plain
plain_port=$port

# 1. implicit TLS
printf '%s' "$msg" | timeout 60 "$send" --server "smtps://localhost:$implicit_port" --cafile "$pki/ca.pem" \
    --helo client.test -f sender@example.org rcpt@example.org
rc=$?
ok=1
if [[ $rc == 0 && $(field "$work/implicit/spool/msg-*.json" content_hex) == "$msg|" &&
      $(field "$work/implicit/spool/msg-*.json" tls) == "implicit|" ]]; then ok=0; fi
check "smtps:// with --cafile: exit 0 (got $rc), message spooled intact over implicit TLS" $ok

# 2. STARTTLS required
printf '%s' "$msg" | timeout 60 "$send" --server "smtp://localhost:$starttls_port" --tls required \
    --cafile "$pki/ca.pem" --helo client.test -f sender@example.org rcpt@example.org
rc=$?
ok=1
wait_for "$work/starttls/sessions/session-*.json"
if [[ $rc == 0 && $(field "$work/starttls/spool/msg-*.json" content_hex) == "$msg|" &&
      $(field "$work/starttls/spool/msg-*.json" tls) == "starttls|" &&
      $(field "$work/starttls/sessions/session-*.json" plain_hex) == $'EHLO client.test\r\nSTARTTLS\r\n|' ]]; then
    ok=0
fi
check "--tls required with --cafile: exit 0 (got $rc), message spooled intact over STARTTLS" $ok

# 3. STARTTLS required, server without STARTTLS
printf '%s' "$msg" | timeout 60 "$send" --server "smtp://localhost:$plain_port" --tls required \
    --cafile "$pki/ca.pem" --helo client.test -f sender@example.org rcpt@example.org
rc=$?
ok=1
wait_for "$work/plain/sessions/session-*.json"
if [[ $rc == 3 ]] && ! compgen -G "$work/plain/spool/msg-*.json" > /dev/null &&
    [[ $(field "$work/plain/sessions/session-*.json" plain_hex) == $'EHLO client.test\r\n|' ]]; then
    ok=0
fi
check "--tls required to a server without STARTTLS: exit 3 (got $rc), only EHLO sent, nothing spooled" $ok

# 4. implicit TLS without the test CA: verification fails, exit 3
printf '%s' "$msg" | timeout 60 "$send" --server "smtps://localhost:$implicit_port" \
    --helo client.test -f sender@example.org rcpt@example.org
rc=$?
ok=1
if [[ $rc == 3 && $(ls "$work/implicit/spool" | wc -l) == 1 ]]; then ok=0; fi
check "smtps:// without --cafile (unknown CA): exit 3 (got $rc), nothing more spooled" $ok

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
