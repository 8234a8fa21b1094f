#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send's exit statuses (sysexits.h) not covered by the other scripts, each with the bytes the
# scripted fault server got:
#   1. the server's host name does not resolve (.invalid)          -> exit 68, nothing sent
#   2. connection refused (a closed port)                          -> exit 75
#   3. 450 to RCPT TO, the only recipient                          -> exit 75, no DATA
#   4. 552 5.3.4 to the end of data (message too big)              -> exit 65
#   5. one recipient 550 (permanent), one 451 (temporary)          -> exit 75: the temporary wins
#   6. a reply that is not SMTP ("HTTP/1.1 400")                   -> exit 76
#   7. 421 greeting                                                -> exit 75
#   8. 554 to MAIL FROM                                            -> exit 69
#
# Usage: test_smtpc_send_exit.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

greet='{"send": "220 fault.test ESMTP\r\n"}, {"expect": "EHLO"}'
ehlo='{"send": "250-fault.test\r\n250 8BITMIME\r\n"}'
args=(--helo client.test -f a@example.org)

run_send nohost --server smtp://nonexistent.invalid "${args[@]}" b@example.org
expect "unknown host: exit 68" 68 "$rc"
expect_true "unknown host: the message names the connect stage" grep -q '^smtpc-send: connect: .*(SMTPC_ERESOLVE)$' \
    "$work/nohost.stderr"

# A port just closed: nothing listens there.
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
run_send refused --server "smtp://127.0.0.1:$port" "${args[@]}" b@example.org
expect "connection refused: exit 75" 75 "$rc"
expect_true "connection refused: SMTPC_ECONNECT" grep -q '(SMTPC_ECONNECT)$' "$work/refused.stderr"

fault rcpt_450 << EOF
[$greet, $ehlo, {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"},
 {"send": "450 4.2.0 greylisted\r\n"}, {"expect": "RSET"}, {"send": "250 ok\r\n"}, {"expect": "QUIT"},
 {"send": "221 bye\r\n"}]
EOF
run_send rcpt_450 --server "smtp://127.0.0.1:$port" "${args[@]}" b@example.org
expect "450 to the only RCPT: exit 75" 75 "$rc"
expect "450 to the only RCPT: no DATA sent" \
    $'EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRSET\r\nQUIT\r\n|' \
    "$(fault_done rcpt_450 > /dev/null; transcript rcpt_450)"

fault too_big << EOF
[$greet, $ehlo, {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"}, {"send": "250 ok\r\n"},
 {"expect": "DATA"}, {"send": "354 go\r\n"}, {"read_until": "\r\n.\r\n"},
 {"send": "552 5.3.4 message too big\r\n"}, {"expect": "QUIT"}, {"send": "221 bye\r\n"}]
EOF
run_send too_big --server "smtp://127.0.0.1:$port" "${args[@]}" b@example.org
expect "552 5.3.4 to the message: exit 65" 65 "$rc"
expect "552 5.3.4: the refusal printed" 'smtpc-send: end of data: message refused: 552 5.3.4 message too big
|' "$err"

fault mixed << EOF
[$greet, $ehlo, {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"}, {"send": "550 5.1.1 unknown\r\n"},
 {"expect": "RCPT"}, {"send": "451 4.3.0 try later\r\n"}, {"expect": "RSET"}, {"send": "250 ok\r\n"}, {"expect": "QUIT"}, {"send": "221 bye\r\n"}]
EOF
run_send mixed --server "smtp://127.0.0.1:$port" "${args[@]}" bad@example.org later@example.org
expect "one recipient 550, one 451: exit 75 (a retry is the only way the second gets it)" 75 "$rc"
expect "one recipient 550, one 451: both printed" 'smtpc-send: RCPT TO: <bad@example.org> refused: 550 5.1.1 unknown
smtpc-send: RCPT TO: <later@example.org> refused: 451 4.3.0 try later
smtpc-send: RCPT TO: no recipient was accepted; the message was not sent
|' "$err"

fault not_smtp <<< '[{"send_then_close": "HTTP/1.1 400 Bad Request\r\n\r\n"}]'
run_send not_smtp --server "smtp://127.0.0.1:$port" "${args[@]}" b@example.org
expect "a reply that is not SMTP: exit 76" 76 "$rc"
expect_true "not SMTP: SMTPC_EPROTOCOL" grep -q '(SMTPC_EPROTOCOL)$' "$work/not_smtp.stderr"

fault greet_421 <<< '[{"send_then_close": "421 4.3.2 busy\r\n"}]'
run_send greet_421 --server "smtp://127.0.0.1:$port" "${args[@]}" b@example.org
expect "421 greeting: exit 75" 75 "$rc"

fault mail_554 << EOF
[$greet, $ehlo, {"expect": "MAIL"}, {"send": "554 5.7.1 go away\r\n"}, {"expect": "RSET"}, {"send": "250 ok\r\n"},
 {"expect": "QUIT"}, {"send": "221 bye\r\n"}]
EOF
run_send mail_554 --server "smtp://127.0.0.1:$port" "${args[@]}" b@example.org
expect "554 to MAIL FROM: exit 69" 69 "$rc"
expect "554 to MAIL FROM: nothing after MAIL but RSET and QUIT" \
    $'EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRSET\r\nQUIT\r\n|' \
    "$(fault_done mail_554 > /dev/null; transcript mail_554)"

finish
