#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send's AUTH options against aiosmtpd (AUTH PLAIN/LOGIN offered on loopback):
#   1. --user with --password-env                 -> exit 0, message spooled, password not in the trace
#   2. --user with --password-file, --auth LOGIN  -> exit 0
#   3. a wrong password                           -> exit 77, nothing spooled
#   4. --auth CRAM-MD5 (not offered)              -> exit 78, no AUTH line sent
#   5. --user without a password source           -> exit 64
# Usage: test_smtpc_send_auth.sh SMTPC_SEND SERVERS_DIR
set -uo pipefail

send=$1
servers=$2
python=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/smtpc-send-auth.XXXXXX")
server_pid=
passed=0
failed=0

cleanup() {
    if [[ -n $server_pid ]]; then
        kill -TERM "$server_pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/spool" "$work/sessions"
"$python" "$servers/aiosmtpd_server.py" --spool "$work/spool" --sessions "$work/sessions" \
    --auth user:pencil --auth-plaintext > "$work/out" < /dev/null &
server_pid=$!
port=
for _ in $(seq 200); do
    port=$(sed -n 's/^READY \([0-9][0-9]*\)$/\1/p' "$work/out")
    [[ -n $port ]] && break
    sleep 0.1
done
[[ -n $port ]] || { echo "server did not start"; exit 1; }

check() { # check NAME EXPECTED ACTUAL
    if [[ $2 == "$3" ]]; then
        passed=$((passed + 1)); echo "ok: $1"
    else
        failed=$((failed + 1)); echo "FAIL: $1: expected $2, got $3"
    fi
}
count() { compgen -G "$work/spool/msg-*.json" | wc -l; }
msg=$'From: a@example.org\r\nTo: b@example.org\r\nSubject: auth\r\n\r\nhello\r\n'

SMTPC_TEST_PW=pencil "$send" --server "smtp://127.0.0.1:$port" --user user --password-env SMTPC_TEST_PW \
    --trace -f a@example.org b@example.org <<< "$msg" 2> "$work/trace1"
check "password from the environment" 0 $?
for _ in $(seq 50); do [[ $(count) -ge 1 ]] && break; sleep 0.1; done
check "message spooled" 1 "$(count)"
grep -q "AUTH PLAIN \*\*\*\*" "$work/trace1"; check "trace redacts the AUTH line" 0 $?
grep -q -e pencil -e "$(printf '\0user\0pencil' | base64)" "$work/trace1"; check "no password in the trace" 1 $?

printf 'pencil\n' > "$work/pw"
"$send" --server "smtp://127.0.0.1:$port" --user user --password-file "$work/pw" --auth LOGIN \
    -f a@example.org b@example.org <<< "$msg" 2> "$work/err2"
check "password file with LOGIN" 0 $?

before=$(count)
printf 'wrong\n' > "$work/bad"
"$send" --server "smtp://127.0.0.1:$port" --user user --password-file "$work/bad" \
    -f a@example.org b@example.org <<< "$msg" 2> "$work/err3"
check "wrong password exits 77" 77 $?
grep -q "535" "$work/err3"; check "the 535 reply is printed" 0 $?
sleep 0.3
check "nothing spooled after a failed login" "$before" "$(count)"

"$send" --server "smtp://127.0.0.1:$port" --user user --password-file "$work/pw" --auth CRAM-MD5 --trace \
    -f a@example.org b@example.org <<< "$msg" 2> "$work/trace4"
check "mechanism not offered exits 78" 78 $?
grep -q "^> AUTH" "$work/trace4"; check "no AUTH line sent" 1 $?

"$send" --server "smtp://127.0.0.1:$port" --user user -f a@example.org b@example.org <<< "$msg" 2> /dev/null
check "no password source exits 64" 64 $?

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
