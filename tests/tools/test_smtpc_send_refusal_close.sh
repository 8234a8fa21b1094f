#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send: a refusal followed by a close is reported as the refusal, with the server's code and
# text, not as a connection error (issue 8 item 1; Exim's "drop" ACL answers and closes). Against the
# scripted fault server, for MAIL FROM, RCPT TO, DATA and the end of data, one command at a time and
# pipelined (MAIL, RCPT and DATA in one write):
#   exit 69 (67 for RCPT TO), stderr exactly the refusal line(s), no "connection closed", and the bytes the server got.
#
# Usage: test_smtpc_send_refusal_close.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

greet='{"send": "220 fault.test ESMTP\r\n"}, {"expect": "EHLO"}'
plain_ehlo='{"send": "250-fault.test\r\n250 8BITMIME\r\n"}'
pipe_ehlo='{"send": "250-fault.test\r\n250-8BITMIME\r\n250 PIPELINING\r\n"}'

# case NAME EXIT EXPECTED_STDERR EXPECTED_TRANSCRIPT < SCRIPT: one session; the transcript may end with the
# RSET the client sends after a refusal when the server read it before closing (a race the server
# decides).
case_() {
    local name=$1 want_rc=$2 want_err=$3 want_transcript=$4 got
    fault "$name"
    run_send "$name" --server "smtp://127.0.0.1:$port" --helo client.test -f a@example.org b@example.org
    expect "$name: exit $want_rc" "$want_rc" "$rc"
    expect "$name: the refusal is reported" "$want_err" "$err"
    fault_done "$name" > /dev/null
    got=$(transcript "$name")
    [[ $got == "${want_transcript%|}RSET"$'\r\n|' ]] && got=$want_transcript
    expect "$name: transcript" "$want_transcript" "$got"
}

mail=$'EHLO client.test\r\nMAIL FROM:<a@example.org>\r\n'
rcpt=$'RCPT TO:<b@example.org>\r\n'
body=$'DATA\r\nFrom: a@example.org\r\nTo: b@example.org\r\nSubject: smtpc-send test\r\n\r\nhello\r\n.\r\n'

case_ mail_refused 69 'smtpc-send: MAIL FROM: <a@example.org> refused: 550 5.7.1 sender blocked
|' "$mail|" << EOF
[$greet, $plain_ehlo, {"expect": "MAIL"}, {"send_then_close": "550 5.7.1 sender blocked\r\n"}]
EOF

case_ mail_refused_pipelined 69 'smtpc-send: MAIL FROM: <a@example.org> refused: 550 5.7.1 sender blocked
|' "$mail${rcpt}DATA"$'\r\n|' << EOF
[$greet, $pipe_ehlo, {"expect_lines": 3}, {"send_then_close": "550 5.7.1 sender blocked\r\n"}]
EOF

case_ rcpt_refused 67 'smtpc-send: RCPT TO: <b@example.org> refused: 550 5.1.1 no such user
smtpc-send: RCPT TO: no recipient was accepted; the message was not sent
|' "$mail$rcpt|" << EOF
[$greet, $plain_ehlo, {"expect": "MAIL"}, {"send": "250 ok\r\n"},
 {"expect": "RCPT"}, {"send_then_close": "550 5.1.1 no such user\r\n"}]
EOF

case_ rcpt_refused_pipelined 67 'smtpc-send: RCPT TO: <b@example.org> refused: 550 5.1.1 no such user
smtpc-send: RCPT TO: no recipient was accepted; the message was not sent
|' "$mail${rcpt}DATA"$'\r\n|' << EOF
[$greet, $pipe_ehlo, {"expect_lines": 3}, {"send": "250 ok\r\n"},
 {"send_then_close": "550 5.1.1 no such user\r\n"}]
EOF

case_ data_refused 69 'smtpc-send: DATA: message refused: 554 5.7.1 no thanks
|' "$mail${rcpt}DATA"$'\r\n|' << EOF
[$greet, $plain_ehlo, {"expect": "MAIL"}, {"send": "250 ok\r\n"},
 {"expect": "RCPT"}, {"send": "250 ok\r\n"}, {"expect": "DATA"}, {"send_then_close": "554 5.7.1 no thanks\r\n"}]
EOF

case_ data_refused_pipelined 69 'smtpc-send: DATA: message refused: 554 5.7.1 no thanks
|' "$mail${rcpt}DATA"$'\r\n|' << EOF
[$greet, $pipe_ehlo, {"expect_lines": 3}, {"send": "250 ok\r\n250 ok\r\n"},
 {"send_then_close": "554 5.7.1 no thanks\r\n"}]
EOF

case_ end_of_data_refused 69 'smtpc-send: end of data: message refused: 554 5.7.1 looks like spam
|' "$mail$rcpt$body|" << EOF
[$greet, $plain_ehlo, {"expect": "MAIL"}, {"send": "250 ok\r\n"},
 {"expect": "RCPT"}, {"send": "250 ok\r\n"}, {"expect": "DATA"}, {"send": "354 go\r\n"},
 {"read_until": "\r\n.\r\n"}, {"send_then_close": "554 5.7.1 looks like spam\r\n"}]
EOF

case_ end_of_data_refused_pipelined 69 'smtpc-send: end of data: message refused: 554 5.7.1 looks like spam
|' "$mail$rcpt$body|" << EOF
[$greet, $pipe_ehlo, {"expect_lines": 3}, {"send": "250 ok\r\n250 ok\r\n354 go\r\n"},
 {"read_until": "\r\n.\r\n"}, {"send_then_close": "554 5.7.1 looks like spam\r\n"}]
EOF

finish
