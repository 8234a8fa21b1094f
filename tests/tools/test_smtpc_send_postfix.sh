#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send's first use against a stock-like Postfix on loopback (tests/servers/postfix_server.py,
# Debian postfix, needs root) that offers STARTTLS with a self-signed certificate, as Debian's
# "snakeoil" set-up does (issue 9):
#   1. no TLS option at all                -> exit 0, relayed intact, over STARTTLS (opportunistic:
#      the certificate is checked and the failure noted in the trace, not enforced)
#   2. --tls required                      -> exit 69, "TLS handshake:", advice naming --cafile FILE and
#      --tls opportunistic; nothing relayed
#   3. --tls required --cafile the certificate itself -> exit 0, relayed
#   4. a refused recipient among accepted ones (PIPELINING) -> exit 67, the refusal, the others relayed
#   5. git send-email style (-i -f FROM RCPT) with a "." line, and -t with a Bcc -> relayed, Bcc not
#
# Usage: test_smtpc_send_postfix.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

[[ $(id -u) == 0 ]] || { echo "SKIP: Postfix needs root"; exit 77; }
command -v postfix > /dev/null || [[ -x /usr/sbin/postfix ]] || { echo "SKIP: postfix is not installed"; exit 77; }
"$python" -c 'import aiosmtpd' 2> /dev/null || { echo "SKIP: python3-aiosmtpd is not installed"; exit 77; }
need_pki

mkdir -p "$work/postfix/spool"
"$python" "$servers/postfix_server.py" --spool "$work/postfix/spool" --tls-cert "$pki/selfsigned.pem" \
    --tls-key "$pki/selfsigned.key" > "$work/postfix/out" 2> "$work/postfix/log" < /dev/null &
pids+=($!)
for _ in $(seq 600); do # Postfix takes a few seconds to start
    grep -q '^READY ' "$work/postfix/out" && break
    sleep 0.1
done
port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$work/postfix/out")
if [[ -z $port ]]; then
    echo "SKIP: postfix_server.py did not start: $(tail -n 5 "$work/postfix/log")"
    exit 77
fi
# wait_spooled N: up to 20 s for the sink behind Postfix to hold N messages (Postfix relays them
# asynchronously)
wait_spooled() {
    for _ in $(seq 200); do
        [[ $(spooled postfix) -ge $1 ]] && break
        sleep 0.1
    done
    spooled postfix
}
common=(--helo client.test -f sender@example.org)

run_send default --server "smtp://localhost:$port" --trace "${common[@]}" rcpt@example.org
expect "no TLS option, self-signed certificate on loopback: exit 0" 0 "$rc"
expect_true "no TLS option: STARTTLS used" grep -q '^> STARTTLS' "$work/default.stderr"
expect_true "no TLS option: the trace notes the unverified certificate" \
    grep -q '^\* TLS established: .*certificate NOT verified' "$work/default.stderr"
expect "no TLS option: relayed" 1 "$(wait_spooled 1)"
expect "no TLS option: the message intact" "$msg|" "$(json_field "$work/postfix/spool/msg-000001.json" content_hex)"

run_send required --server "smtp://localhost:$port" --tls required "${common[@]}" rcpt@example.org
expect "--tls required, self-signed: exit 69" 69 "$rc"
first=$(head -n 1 "$work/required.stderr")
expect_true "--tls required, self-signed: stage TLS handshake, SMTPC_ETLS_VERIFY ($first)" \
    test "${first#smtpc-send: TLS handshake: certificate verification failed: }" != "$first" -a \
    "${first% (SMTPC_ETLS_VERIFY)}" != "$first"
expect "--tls required, self-signed: advice naming --cafile and --tls opportunistic" \
    'smtpc-send: hint: the server is on this machine: trust its certificate with --cafile FILE (the CA or the certificate itself, PEM), or use --tls opportunistic (encrypted, verification not enforced)' \
    "$(sed -n 2,\$p "$work/required.stderr")"

run_send cafile --server "smtp://localhost:$port" --tls required --cafile "$pki/selfsigned.pem" "${common[@]}" \
    rcpt@example.org
expect "--tls required --cafile the certificate: exit 0" "0|" "$rc$err"
expect "--tls required --cafile: relayed (and nothing from the refused attempt)" 2 "$(wait_spooled 2)"

run_send partial --server "smtp://localhost:$port" --cafile "$pki/selfsigned.pem" "${common[@]}" \
    a@example.org reject@example.org b@example.org
expect "one recipient refused by Postfix: exit 67" 67 "$rc"
expect "one recipient refused by Postfix: the refusal printed" \
    'smtpc-send: RCPT TO: <reject@example.org> refused: 550 5.1.1 <reject@example.org>: Recipient address rejected: Recipient address rejected (test)
|' "$err"
expect "one recipient refused: relayed to the others" 3 "$(wait_spooled 3)"
expect "one recipient refused: the accepted recipients" '["a@example.org", "b@example.org"]|' \
    "$(json_field "$work/postfix/spool/msg-000003.json" rcpt_tos)"

# git send-email's call (-i -f FROM RCPT...), and -t with a Bcc, through Postfix
printf 'From: sender@example.org\nTo: a@example.org\nSubject: [PATCH] x\n\n.\n-- \n2.0\n' > "$work/patch"
timeout 60 "$send" --server "smtp://localhost:$port" --cafile "$pki/selfsigned.pem" --helo client.test -i \
    -f sender@example.org a@example.org < "$work/patch" > /dev/null 2> "$work/git.stderr"
expect "git send-email style through Postfix: exit 0" "0|" "$?|$(cat "$work/git.stderr")"
expect "git send-email style: relayed" 4 "$(wait_spooled 4)"
body=$(json_field "$work/postfix/spool/msg-000004.json" content_hex)
expect "git send-email style: the body with its '.' line delivered (Postfix adds header fields)" \
    $'.\r\n-- \r\n2.0\r\n|' "${body#*$'\r\n\r\n'}"
printf 'From: sender@example.org\nTo: a@example.org\nBcc: hidden@example.org\nSubject: t\n\nbody\n' |
    timeout 60 "$send" --server "smtp://localhost:$port" --cafile "$pki/selfsigned.pem" --helo client.test -t -i \
        > /dev/null 2> "$work/t.stderr"
expect "-t through Postfix: exit 0" "0|" "$?|$(cat "$work/t.stderr")"
expect "-t: relayed" 5 "$(wait_spooled 5)"
expect "-t: the Bcc address among the recipients" '["a@example.org", "hidden@example.org"]|' \
    "$(json_field "$work/postfix/spool/msg-000005.json" rcpt_tos)"
expect "-t: no Bcc field arrived" 0 "$(json_field "$work/postfix/spool/msg-000005.json" content_hex | grep -ci '^bcc:')"

finish
