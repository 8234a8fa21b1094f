#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send against a real Dovecot LMTP (tests/servers/dovecot_server.py: a private, unprivileged
# instance offering STARTTLS with a self-signed certificate on its Unix socket and its loopback TCP
# port), checking what Dovecot wrote into each user's Maildir (issue 9):
#   1. --server lmtp:///SOCKET, no other option -> exit 0, no STARTTLS although offered (a Unix socket
#      gets no TLS), delivered intact with Dovecot's Return-Path and Delivered-To
#   2. --server lmtp://127.0.0.1:PORT, no TLS option -> exit 0 over STARTTLS, the unverified
#      certificate noted in the trace (opportunistic), delivered intact
#   3. the same with --tls required -> exit 69, stage "TLS handshake", the hint naming --cafile and
#      --tls opportunistic; nothing delivered
#   4. --tls required over the socket with --cafile and --tls-server-name -> exit 0, verified
#   5. an unknown user among two known ones over the socket -> exit 67, the RCPT refusal printed, the
#      known users get the message
#
# Usage: test_smtpc_send_dovecot.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

if ! why=$("$python" "$servers/dovecot_server.py" --check); then
    echo "SKIP: $why"
    exit 77
fi
need_pki

mkdir -p "$work/dovecot"
"$python" "$servers/dovecot_server.py" --user alice --user bob --user carol --user dave --user henry \
    --tls-cert "$pki/selfsigned.pem" --tls-key "$pki/selfsigned.key" > "$work/dovecot/out" \
    2> "$work/dovecot/log" < /dev/null &
pids+=($!)
for _ in $(seq 300); do
    grep -q '^MAILDIRS ' "$work/dovecot/out" && break
    sleep 0.1
done
sock=$(sed -n 's/^READY \(.*\)$/\1/p' "$work/dovecot/out")
port=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$work/dovecot/out")
maildirs=$(sed -n 's/^MAILDIRS \(.*\)$/\1/p' "$work/dovecot/out")
if [[ -z $sock || -z $port || -z $maildirs ]]; then
    echo "SKIP: dovecot_server.py did not start: $(tail -n 5 "$work/dovecot/log")"
    exit 77
fi

# delivered USER: the number of messages in USER's Maildir.
delivered() { compgen -G "$maildirs/$1/Maildir/new/*" | wc -l; }

# mailbox USER: USER's one message as Dovecot stored it, its Received field (folded, with ids and
# dates) left out, with a final "|".
mailbox() {
    "$python" - "$maildirs/$1/Maildir/new" << 'EOF'
import os, sys
names = os.listdir(sys.argv[1])
if len(names) != 1:
    sys.exit("expected one message, found %d" % len(names))
lines = open(os.path.join(sys.argv[1], names[0]), "rb").read().split(b"\n")
out, i = [], 0
while i < len(lines):
    if lines[i].startswith(b"Received: "):
        i += 1
        while i < len(lines) and lines[i].startswith(b"\t"):
            i += 1
        continue
    out.append(lines[i])
    i += 1
sys.stdout.buffer.write(b"\n".join(out) + b"|")
EOF
}

lf_msg=${msg//$'\r'/}
common=(--helo client.test -f sender@example.org)

run_send unix --server "lmtp://$sock" --trace "${common[@]}" alice@example.org
expect "lmtp:///SOCKET, no other option: exit 0" 0 "$rc"
expect_true "Unix socket: no error printed" eval '! grep -q "^smtpc-send:" "$work/unix.stderr"'
expect_true "Unix socket: Dovecot offers STARTTLS" grep -q '^< 250[- ]STARTTLS' "$work/unix.stderr"
expect_true "Unix socket: no STARTTLS sent" eval '! grep -q "^> STARTTLS" "$work/unix.stderr"'
expect "Unix socket: delivered intact" "Return-Path: <sender@example.org>
Delivered-To: alice@example.org
$lf_msg|" "$(mailbox alice)"

run_send tcp --server "lmtp://127.0.0.1:$port" --trace "${common[@]}" carol@example.org
expect "loopback TCP, no TLS option: exit 0" 0 "$rc"
expect_true "loopback TCP: no error printed" eval '! grep -q "^smtpc-send:" "$work/tcp.stderr"'
expect_true "loopback TCP: STARTTLS used" grep -q '^> STARTTLS' "$work/tcp.stderr"
expect_true "loopback TCP: the trace notes the unverified certificate" \
    grep -q '^\* TLS established: .*certificate NOT verified' "$work/tcp.stderr"
expect "loopback TCP: delivered intact" "Return-Path: <sender@example.org>
Delivered-To: carol@example.org
$lf_msg|" "$(mailbox carol)"

run_send required --server "lmtp://127.0.0.1:$port" --tls required "${common[@]}" henry@example.org
expect "--tls required, self-signed: exit 69" 69 "$rc"
first=$(head -n 1 "$work/required.stderr")
expect_true "--tls required: stage TLS handshake, SMTPC_ETLS_VERIFY ($first)" \
    test "${first#smtpc-send: TLS handshake: certificate verification failed: }" != "$first" -a \
    "${first% (SMTPC_ETLS_VERIFY)}" != "$first"
expect "--tls required: the hint names --cafile and --tls opportunistic" \
    'smtpc-send: hint: the server is on this machine: trust its certificate with --cafile FILE (the CA or the certificate itself, PEM), or use --tls opportunistic (encrypted, verification not enforced)' \
    "$(sed -n 2,\$p "$work/required.stderr")"
expect "--tls required: nothing delivered" 0 "$(delivered henry)"

run_send unixtls --server "lmtp://$sock" --tls required --cafile "$pki/selfsigned.pem" --tls-server-name localhost \
    --trace "${common[@]}" henry@example.org
expect "Unix socket, --tls required with --cafile and --tls-server-name: exit 0" 0 "$rc"
expect_true "Unix socket, --tls required: the certificate verified" \
    grep -q '^\* TLS established: .*certificate verified' "$work/unixtls.stderr"
expect "Unix socket, --tls required: delivered intact" "Return-Path: <sender@example.org>
Delivered-To: henry@example.org
$lf_msg|" "$(mailbox henry)"

run_send partial --server "lmtp://$sock" "${common[@]}" bob@example.org nobody@example.org dave@example.org
expect "an unknown user: exit 67" 67 "$rc"
expect "an unknown user: the refusal printed" \
    "smtpc-send: RCPT TO: <nobody@example.org> refused: 550 5.1.1 <nobody@example.org> User doesn't exist: nobody@example.org
|" "$err"
expect "an unknown user: the others get the message" "1 1" "$(delivered bob) $(delivered dave)"
expect "an unknown user: delivered intact (no Delivered-To with several recipients)" \
    "Return-Path: <sender@example.org>
$lf_msg|" "$(mailbox dave)"

finish
