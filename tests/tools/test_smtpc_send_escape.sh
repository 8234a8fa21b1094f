#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send: text from the server never reaches the terminal raw (issue 8 item 6). A scripted server
# puts ESC sequences, BEL, a raw C1 byte (0x9b, CSI) and a UTF-8 encoded C1 (U+009B) in its greeting,
# EHLO reply, AUTH list, RCPT and final replies; smtpc-send's stdout and stderr, with and without
# --trace, in a UTF-8 and in the C locale, must hold no control byte but LF, and the escaped text must
# read exactly as expected.
#   1. refusals (RCPT, end of data) with hostile text                 -> exit 69, exact escaped lines
#   2. the same with --trace                                          -> every trace line escaped
#   3. --auth CRAM-MD5 against a hostile AUTH list (not offered)      -> exit 78, list escaped
#   4. a hostile greeting refusal                                     -> exit 69, escaped
#   5. valid UTF-8 in a reply: kept in a UTF-8 locale, \xNN in the C locale
#
# Usage: test_smtpc_send_escape.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

# Steps of a session whose every reply carries control bytes. JSON \u00XX is the byte XX.
refusals='[{"send": "220 fault.test \u001b[2J\u001b[H\u0007 ready\r\n"},
 {"expect": "EHLO"},
 {"send": "250-fault.test \u001b]0;owned\u0007\r\n250-AUTH PLAIN \u001b[31mEVIL\r\n250 8BITMIME\r\n"},
 {"expect": "MAIL FROM:<a@example.org>"}, {"send": "250 ok \u001b[5m\r\n"},
 {"expect": "RCPT TO:<bad@example.org>"}, {"send": "550 5.1.1 \u001b[2Kno\u009b such\r\n"},
 {"expect": "RCPT TO:<b@example.org>"}, {"send": "250 ok\r\n"},
 {"expect": "DATA"}, {"send": "354 go\r\n"},
 {"read_until": "\r\n.\r\n"},
 {"send": "554-5.7.1 \u001b[1A\u001b[2Ksmtpc-send: delivered\u00c2\u009b\r\n554 5.7.1 second\u007fline\r\n"},
 {"expect": "RSET"}, {"send": "250 ok\r\n"},
 {"expect": "QUIT"}, {"send": "221 bye \u001b[0m\r\n"}]'

expected_refusals='smtpc-send: RCPT TO: <bad@example.org> refused: 550 5.1.1 \x1b[2Kno\x9b such
smtpc-send: end of data: message refused: 554 5.7.1 \x1b[1A\x1b[2Ksmtpc-send: delivered\xc2\x9b / 5.7.1 second\x7fline
|'

for locale in C.UTF-8 C; do
    fault "refusals_$locale" <<< "$refusals"
    LC_ALL=$locale run_send "refusals_$locale" --server "smtp://127.0.0.1:$port" --helo client.test \
        -f a@example.org bad@example.org b@example.org
    expect "hostile replies, LC_ALL=$locale: exit 69 (550 to RCPT, 554 5.7.1 to the message)" 69 "$rc"
    expect "hostile replies, LC_ALL=$locale: each refusal printed, escaped" "$expected_refusals" "$err"
    expect "hostile replies, LC_ALL=$locale: nothing on stdout" "|" "$out"
    expect_true "hostile replies, LC_ALL=$locale: no control byte on stderr" no_control "$work/refusals_$locale.stderr"
    expect "hostile replies, LC_ALL=$locale: the session ran as scripted" 0 "$(fault_done "refusals_$locale")"

    fault "trace_$locale" <<< "$refusals"
    LC_ALL=$locale run_send "trace_$locale" --server "smtp://127.0.0.1:$port" --helo client.test --trace \
        -f a@example.org bad@example.org b@example.org
    expect "hostile replies with --trace, LC_ALL=$locale: exit 69" 69 "$rc"
    expect_true "hostile replies with --trace, LC_ALL=$locale: no control byte on stderr" \
        no_control "$work/trace_$locale.stderr"
    expect "hostile replies with --trace, LC_ALL=$locale: the greeting line escaped" \
        '< 220 fault.test \x1b[2J\x1b[H\x07 ready' "$(grep '^< 220' "$work/trace_$locale.stderr")"
    expect "hostile replies with --trace, LC_ALL=$locale: the EHLO lines escaped" \
        '< 250-fault.test \x1b]0;owned\x07
< 250-AUTH PLAIN \x1b[31mEVIL' "$(grep '^< 250-' "$work/trace_$locale.stderr")"
    expect "hostile replies with --trace, LC_ALL=$locale: the final reply escaped" \
        '< 554-5.7.1 \x1b[1A\x1b[2Ksmtpc-send: delivered\xc2\x9b
< 554 5.7.1 second\x7fline' "$(grep '^< 554' "$work/trace_$locale.stderr")"
    fault_done "trace_$locale" > /dev/null
done

fault auth_list << 'EOF'
[{"send": "220 fault.test ready\r\n"},
 {"expect": "EHLO"}, {"send": "250-fault.test\r\n250 AUTH PLAIN \u001b[2J\u001b[31mEVIL\u0007\r\n"},
 {"expect": "QUIT"}, {"send": "221 bye\r\n"}]
EOF
SMTPC_TEST_PW=secret LC_ALL=C.UTF-8 run_send auth_list --server "smtp://127.0.0.1:$port" --helo client.test \
    --user u --password-env SMTPC_TEST_PW --auth CRAM-MD5 -f a@example.org b@example.org
expect "hostile AUTH list, mechanism not offered: exit 78" 78 "$rc"
expect "hostile AUTH list: the list is escaped" \
    'smtpc-send: AUTH: the server does not offer CRAM-MD5 (it offers: PLAIN \x1b[2J\x1b[31mEVIL\x07) (SMTPC_EAUTH_MECHANISM)
|' "$err"
expect_true "hostile AUTH list: no control byte on stderr" no_control "$work/auth_list.stderr"
expect "hostile AUTH list: no AUTH sent, the session ended with QUIT" $'EHLO client.test\r\nQUIT\r\n|' \
    "$(fault_done auth_list > /dev/null; transcript auth_list)"

fault greeting <<< '[{"send_then_close": "554 \u001b[2J\u001b[Hsmtpc-send: sent\r\n"}]'
LC_ALL=C.UTF-8 run_send greeting --server "smtp://127.0.0.1:$port" --helo client.test b@example.org
expect "hostile greeting refusal (554): exit 69" 69 "$rc"
expect "hostile greeting refusal: escaped" \
    'smtpc-send: greeting: greeting refused: 554 \x1b[2J\x1b[Hsmtpc-send: sent (SMTPC_EGREETING)
|' "$err"

# U+00FC (ü) is shown as UTF-8 in a UTF-8 locale and as \xNN in the C locale; U+202E (right-to-left
# override), which makes text read backwards, is escaped in both.
utf8_reply='[{"send": "220 fault.test ready\r\n"},
 {"expect": "EHLO"}, {"send": "250 fault.test\r\n"},
 {"expect": "MAIL"}, {"send": "250 ok\r\n"},
 {"expect": "RCPT"}, {"send": "550 5.1.1 j\u00c3\u00bcrgen \u00e2\u0080\u00aeunknown\r\n"},
 {"expect": "QUIT"}, {"send": "221 bye\r\n"}]'
fault utf8_utf8 <<< "$utf8_reply"
LC_ALL=C.UTF-8 run_send utf8_utf8 --server "smtp://127.0.0.1:$port" --helo client.test b@example.org
expect "UTF-8 reply, UTF-8 locale: ü kept, U+202E escaped" \
    'smtpc-send: RCPT TO: <b@example.org> refused: 550 5.1.1 jürgen \xe2\x80\xaeunknown
smtpc-send: RCPT TO: no recipient was accepted; the message was not sent
|' "$err"
fault utf8_c <<< "$utf8_reply"
LC_ALL=C run_send utf8_c --server "smtp://127.0.0.1:$port" --helo client.test b@example.org
expect "UTF-8 reply, C locale: every non-ASCII byte escaped" \
    'smtpc-send: RCPT TO: <b@example.org> refused: 550 5.1.1 j\xc3\xbcrgen \xe2\x80\xaeunknown
smtpc-send: RCPT TO: no recipient was accepted; the message was not sent
|' "$err"

finish
