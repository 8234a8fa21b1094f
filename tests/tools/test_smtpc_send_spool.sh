#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send reads the message whole before connecting (issue 15): SIZE on the MAIL line, a refusal for
# size before any byte of the message is sent, a message larger than the memory part of the spool
# delivered intact through the temporary file, a regular file on standard input used in place.
#   1. 3 MiB piped (beyond the 1 MiB kept in memory) -> exit 0, delivered byte for byte, SIZE=exact
#   2. the same with TMPDIR a missing directory -> exit 74, a clear message, no connection; a small
#      message with that TMPDIR is still sent (kept in memory)
#   3. 552 5.3.4 to MAIL FROM ... SIZE= -> exit 65; the transcript has no DATA and no body
#   4. a regular file on standard input with a "." line -> sent up to it, the file offset left after it,
#      SIZE of the part sent
#   5. the same with -i -> sent whole; 6. a file ending on a "." without a line end; SIZE exact
#
# Usage: test_smtpc_send_spool.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

aiosmtpd mx
args=(--server "smtp://127.0.0.1:$port" --tls none --helo client.test -f a@example.org)

# 3 MiB of 64-byte CRLF lines (the size after line-end normalisation is the size on the wire)
"$python" -c '
import sys
line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"
sys.stdout.buffer.write(b"Subject: big\r\n\r\n" + line * (3 * 16384))' > "$work/big"
size=$(stat -c %s "$work/big")
cat "$work/big" | timeout 120 "$send" "${args[@]}" b@example.org > "$work/big.out" 2> "$work/big.err"
expect "3 MiB piped: exit 0" "0|" "$?$(cat "$work/big.err")|"
expect "3 MiB piped: SIZE declared, exact" "[\"SIZE=$size\"]|" "$(json_field "$work/mx/spool/msg-000001.json" mail_options)"
expect_true "3 MiB piped: delivered byte for byte" "$python" -c '
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(bytes.fromhex(m["content_hex"]) != open(sys.argv[2], "rb").read())' "$work/mx/spool/msg-000001.json" "$work/big"

cat "$work/big" | TMPDIR=$work/missing timeout 60 "$send" "${args[@]}" b@example.org > /dev/null 2> "$work/notmp.err"
expect "3 MiB piped, TMPDIR missing: exit 74" 74 "$?"
expect "3 MiB piped, TMPDIR missing: the message" \
    "smtpc-send: cannot make a temporary file for the message in $work/missing: No such file or directory; nothing was sent" \
    "$(cat "$work/notmp.err")"
printf 'Subject: small\r\n\r\nhi\r\n' | TMPDIR=$work/missing timeout 60 "$send" "${args[@]}" b@example.org 2> "$work/small.err"
expect "small message, TMPDIR missing: kept in memory, exit 0" "0|" "$?$(cat "$work/small.err")|"
expect "nothing else reached the server" 2 "$(spooled mx)"

fault too_big << 'EOF'
[{"send": "220 fault.test ESMTP\r\n"}, {"expect": "EHLO"}, {"send": "250-fault.test\r\n250-SIZE 1000\r\n250 PIPELINING\r\n"},
 {"expect_lines": 3}, {"send": "552 5.3.4 message size exceeds fixed limit\r\n503 5.5.1 no\r\n503 5.5.1 no\r\n"},
 {"expect": "QUIT", "optional": true}, {"send": "221 bye\r\n", "optional": true}]
EOF
cat "$work/big" | timeout 60 "$send" --server "smtp://127.0.0.1:$port" --helo client.test -f a@example.org b@example.org \
    > /dev/null 2> "$work/too_big.err"
expect "552 5.3.4 to MAIL FROM with SIZE: exit 65" 65 "$?"
expect "552: the refusal printed" 'smtpc-send: MAIL FROM: <a@example.org> refused: 552 5.3.4 message size exceeds fixed limit' \
    "$(head -n 1 "$work/too_big.err")"
fault_done too_big > /dev/null
expect "552: SIZE on the MAIL line, no byte of the message sent" \
    "EHLO client.test|MAIL FROM:<a@example.org> SIZE=$size|RCPT TO:<b@example.org>|DATA|" \
    "$(tr -d '\r' < "$work/too_big.transcript" | grep -v '^QUIT$' | grep -v '^RSET$' | tr '\n' '|')"

printf 'Subject: file\n\none\n.\ntwo\n' > "$work/file"
{ timeout 60 "$send" "${args[@]}" b@example.org 2> "$work/file.err"; echo "rc=$?"; cat; } < "$work/file" > "$work/file.out"
expect "a file on standard input with a '.' line: exit 0, the rest left unread" $'rc=0\ntwo\n|' "$(cat "$work/file.out"; printf '|')"
expect "a file on standard input: sent up to the '.' line" $'Subject: file\r\n\r\none\r\n|' \
    "$(json_field "$work/mx/spool/msg-000003.json" content_hex)"
expect "a file on standard input: SIZE of the part sent, after normalisation" '["SIZE=22"]|' \
    "$(json_field "$work/mx/spool/msg-000003.json" mail_options)"

# 5. the same file with -i: all of it, the "." line too; bare LF and a lone CR counted as CRLF in SIZE,
#    no final line end in the file
printf 'Subject: file\n\none\n.\ntwo\rthree' > "$work/file_i"
timeout 60 "$send" "${args[@]}" -i b@example.org < "$work/file_i" 2> "$work/file_i.err"
expect "a file with -i: exit 0" "0|" "$?$(cat "$work/file_i.err")|"
expect "a file with -i: sent whole" $'Subject: file\r\n\r\none\r\n.\r\ntwo\r\nthree\r\n|' \
    "$(json_field "$work/mx/spool/msg-000004.json" content_hex)"
expect "a file with -i: SIZE exact" '["SIZE=37"]|' "$(json_field "$work/mx/spool/msg-000004.json" mail_options)"

# 6. a file whose "." line ends it with no line end, after CRLF lines
printf 'Subject: f\r\n\r\nx\r\n.' > "$work/file_dot"
timeout 60 "$send" "${args[@]}" b@example.org < "$work/file_dot" 2> "$work/file_dot.err"
expect "a file ending with '.': exit 0" "0|" "$?$(cat "$work/file_dot.err")|"
expect "a file ending with '.': sent up to it" $'Subject: f\r\n\r\nx\r\n|' \
    "$(json_field "$work/mx/spool/msg-000005.json" content_hex)"
expect "a file ending with '.': SIZE exact" '["SIZE=17"]|' "$(json_field "$work/mx/spool/msg-000005.json" mail_options)"

finish
