#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send: --timeout and --connect-timeout bound every wait, against the scripted fault server
# (tests/servers/fault_server.py):
#   1. a server that accepts and never greets, --timeout 2           -> exit 75 within seconds, "greeting:"
#   2. the same with --connect-timeout 1 (the --timeout default 300)  -> exit 75 within seconds
#   3. smtps://, the server stalls the TLS handshake, --timeout 2      -> exit 75, "TLS handshake:"
#   4. STARTTLS, the server stalls the handshake after its 220, --timeout 2 -> exit 75, "TLS handshake:"
#   5. no reply to MAIL FROM, --timeout 2                             -> exit 75, "MAIL FROM:"
# Before --timeout covered the connection, cases 1 and 3 waited the library's 30 s.
#
# Usage: test_smtpc_send_timeout.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"
need_pki

# Each case must end well before the 30 s the library waits by default; the margin is for a loaded
# machine.
quick() { [[ $elapsed_ms -lt 12000 ]]; }

fault never_greets <<< '[{"expect_eof": true, "timeout": 40}]'
run_send never_greets --server "smtp://127.0.0.1:$port" --timeout 2 --helo client.test b@example.org
expect "never greets, --timeout 2: exit 75" 75 "$rc"
expect_true "never greets, --timeout 2: gave up after ${elapsed_ms} ms (2 s expected)" quick
expect "never greets: the message names the greeting" \
    "smtpc-send: greeting: timed out waiting for the server's reply (SMTPC_ETIMEOUT)
|" "$err"
expect "never greets: the fault server saw the client close, nothing sent" "0" "$(fault_done never_greets)"
expect "never greets: nothing sent" "|" "$(transcript never_greets)"

fault connect_timeout <<< '[{"expect_eof": true, "timeout": 40}]'
run_send connect_timeout --server "smtp://127.0.0.1:$port" --connect-timeout 1 --helo client.test b@example.org
expect "never greets, --connect-timeout 1: exit 75" 75 "$rc"
expect_true "never greets, --connect-timeout 1: gave up after ${elapsed_ms} ms (1 s expected)" quick
expect "never greets, --connect-timeout 1: message" \
    "smtpc-send: greeting: timed out waiting for the server's reply (SMTPC_ETIMEOUT)
|" "$err"

fault implicit_stall --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" \
    <<< '{"implicit_tls": {"stall": 40}, "steps": []}'
run_send implicit_stall --server "smtps://localhost:$port" --cafile "$pki/ca.pem" --timeout 2 \
    --helo client.test b@example.org
expect "smtps:// handshake stalled, --timeout 2: exit 75" 75 "$rc"
expect_true "smtps:// handshake stalled: gave up after ${elapsed_ms} ms (2 s expected)" quick
expect "smtps:// handshake stalled: the message names the TLS handshake" \
    "smtpc-send: TLS handshake: timed out during the TLS handshake (SMTPC_ETIMEOUT)
|" "$err"
expect "smtps:// handshake stalled: the fault server saw the client give up" "0" "$(fault_done implicit_stall)"

fault starttls_stall --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" << 'EOF'
[{"send": "220 fault.test ESMTP\r\n"},
 {"expect": "EHLO"}, {"send": "250-fault.test\r\n250 STARTTLS\r\n"},
 {"expect": "STARTTLS"}, {"send": "220 go ahead\r\n"},
 {"starttls": {"stall": 40}}]
EOF
run_send starttls_stall --server "smtp://localhost:$port" --tls required --cafile "$pki/ca.pem" --timeout 2 \
    --helo client.test b@example.org
expect "STARTTLS handshake stalled, --timeout 2: exit 75" 75 "$rc"
expect_true "STARTTLS handshake stalled: gave up after ${elapsed_ms} ms (2 s expected)" quick
expect "STARTTLS handshake stalled: the message names the TLS handshake" \
    "smtpc-send: TLS handshake: timed out during the TLS handshake (SMTPC_ETIMEOUT)
|" "$err"
expect "STARTTLS handshake stalled: the fault server saw the client give up" "0" "$(fault_done starttls_stall)"
expect "STARTTLS handshake stalled: EHLO and STARTTLS, nothing else in clear" \
    $'EHLO client.test\r\nSTARTTLS\r\n--TLS--\r\n|' "$(transcript starttls_stall)"

fault mail_stall << 'EOF'
[{"send": "220 fault.test ESMTP\r\n"},
 {"expect": "EHLO"}, {"send": "250-fault.test\r\n250 8BITMIME\r\n"},
 {"expect": "MAIL FROM:<a@example.org>"}, {"expect_eof": true, "timeout": 40}]
EOF
run_send mail_stall --server "smtp://127.0.0.1:$port" --timeout 2 --helo client.test -f a@example.org b@example.org
expect "no reply to MAIL FROM, --timeout 2: exit 75" 75 "$rc"
expect_true "no reply to MAIL FROM: gave up after ${elapsed_ms} ms (2 s expected)" quick
expect "no reply to MAIL FROM: the message names MAIL FROM" \
    "smtpc-send: MAIL FROM: timed out waiting for the server's reply (SMTPC_ETIMEOUT)
|" "$err"
expect "no reply to MAIL FROM: transcript" $'EHLO client.test\r\nMAIL FROM:<a@example.org>\r\n|' \
    "$(fault_done mail_stall >/dev/null; transcript mail_stall)"

finish
