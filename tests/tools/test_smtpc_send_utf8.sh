#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send with non-ASCII (UTF-8) addresses against aiosmtpd:
#   1. the server offers SMTPUTF8: exit 0; MAIL FROM carries SMTPUTF8 and BODY=8BITMIME, the
#      recipient arrives byte for byte
#   2. a non-ASCII sender, same server: exit 0, the sender arrives byte for byte
#   3. the server does not offer SMTPUTF8 (--no-smtputf8): exit 69, a message naming the address and
#      SMTPUTF8, nothing but EHLO and QUIT sent, nothing spooled
#   4. ASCII addresses: no SMTPUTF8 parameter is added
#
# Usage: test_smtpc_send_utf8.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

aiosmtpd utf8
utf8_port=$port
aiosmtpd ascii --no-smtputf8
ascii_port=$port

LC_ALL=C.UTF-8 run_send to_utf8 --server "smtp://127.0.0.1:$utf8_port" --helo client.test -f a@example.org \
    jürgen@example.org
expect "non-ASCII recipient, SMTPUTF8 offered: exit 0" 0 "$rc"
expect "non-ASCII recipient: nothing printed" "||" "$out$err"
expect "non-ASCII recipient: MAIL FROM with SIZE (spooled), SMTPUTF8 and BODY=8BITMIME" \
    "[\"SIZE=${#msg}\", \"SMTPUTF8\", \"BODY=8BITMIME\"]|" \
    "$(json_field "$work/utf8/spool/msg-000001.json" mail_options)"
expect "non-ASCII recipient: received byte for byte" '["jürgen@example.org"]|' \
    "$(json_field "$work/utf8/spool/msg-000001.json" rcpt_tos)"
expect "non-ASCII recipient: the message intact" "$msg|" \
    "$(json_field "$work/utf8/spool/msg-000001.json" content_hex)"

LC_ALL=C.UTF-8 run_send from_utf8 --server "smtp://127.0.0.1:$utf8_port" --helo client.test \
    -f "δοκιμή@παράδειγμα.δοκιμή" b@example.org
expect "non-ASCII sender, SMTPUTF8 offered: exit 0" 0 "$rc"
expect "non-ASCII sender: received byte for byte" "δοκιμή@παράδειγμα.δοκιμή|" \
    "$(json_field "$work/utf8/spool/msg-000002.json" mail_from)"

LC_ALL=C.UTF-8 run_send ascii --server "smtp://127.0.0.1:$utf8_port" --helo client.test -f a@example.org \
    b@example.org
expect "ASCII addresses: exit 0" 0 "$rc"
expect "ASCII addresses: no SMTPUTF8 parameter" "[\"SIZE=${#msg}\"]|" \
    "$(json_field "$work/utf8/spool/msg-000003.json" mail_options)"

for locale in C.UTF-8 C; do
    LC_ALL=$locale run_send "no_smtputf8_$locale" --server "smtp://127.0.0.1:$ascii_port" --helo client.test \
        -f a@example.org b@example.org jürgen@example.org
    expect "SMTPUTF8 not offered, LC_ALL=$locale: exit 69" 69 "$rc"
    if [[ $locale == C ]]; then shown='j\xc3\xbcrgen@example.org'; else shown='jürgen@example.org'; fi
    expect "SMTPUTF8 not offered, LC_ALL=$locale: says why" \
        "smtpc-send: MAIL FROM: the address <$shown> is not ASCII and the server does not offer SMTPUTF8 (RFC 6531); nothing was sent
|" "$err"
done
expect "SMTPUTF8 not offered: nothing spooled" 0 "$(spooled ascii)"
expect "SMTPUTF8 not offered: only EHLO and QUIT sent" $'EHLO client.test\r\nQUIT\r\n|' \
    "$(json_field "$work/ascii/sessions/session-000001.json" raw_hex)"

finish
