#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send as a sendmail stand-in (issue 15), against aiosmtpd; each case checks the exit status and
# the envelope and bytes that arrived (aiosmtpd's spool: content after dot-unstuffing).
#   1. git send-email style: -i -f FROM RCPT RCPT, a "." line inside -> exit 0, the "." line delivered
#   2. no -i, a "." line: the message ends there, the rest of standard input (a file) is left unread
#   3. -oi as -i; -oem -odi -om -oQ/x accepted and ignored
#   4. -t: recipients from To, Cc and Bcc plus an argument; the Bcc field not transmitted
#   5. -t with a Resent- block: the Resent- recipients, the argument in a Resent-Bcc that is removed
#   6. -t and no recipient anywhere -> exit 65, nothing sent after EHLO
#   7. -F NAME -f ADDRESS, no From field -> "From: NAME <ADDRESS>" generated; a From field is kept
#   8. -F with a non-ASCII and a quoted name -> encoded word, quoted string
#   9. -v prints the protocol exchange (as --trace); -r as -f; -B8BITMIME -> BODY=8BITMIME
#  10. recipients after --, one starting with '-'
#  11. -bp, -bs, -bi, -q, -B7BITX, -t with an address holding a comma -> exit 64, clear messages
#
# Usage: test_smtpc_send_sendmail.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

aiosmtpd mx
args=(--server "smtp://127.0.0.1:$port" --tls none --helo client.test)
n=0
# last FIELD: FIELD of the last message aiosmtpd spooled (waits for message number $n).
last() {
    local f
    f=$(printf '%s/mx/spool/msg-%06d.json' "$work" "$n")
    json_field "$f" "$1"
}
# sent NAME ARGS... < INPUT: runs smtpc-send with standard input from the caller; sets $rc and $err.
sent() {
    local name=$1
    shift
    timeout 60 "$send" "$@" > "$work/$name.stdout" 2> "$work/$name.stderr"
    rc=$?
    err=$(cat "$work/$name.stderr"; printf '|')
}

dotted=$'From: a@example.org\nTo: b@example.org\nSubject: patch\n\nline 1\n.\nline 3\n'
sent git "${args[@]}" -i -f a@example.org b@example.org c@example.org <<< "$dotted"
n=$((n + 1))
expect "git send-email style (-i -f FROM RCPT RCPT): exit 0" "0|" "$rc$err"
expect "-i: the '.' line is part of the message" $'From: a@example.org\r\nTo: b@example.org\r\nSubject: patch\r\n\r\nline 1\r\n.\r\nline 3\r\n\r\n|' \
    "$(last content_hex)"
expect "-i: the envelope" 'a@example.org ["b@example.org", "c@example.org"]|' \
    "$(last mail_from | tr -d '|') $(last rcpt_tos)"

printf '%s' "$dotted" > "$work/dotted"
{ sent nodot "${args[@]}" -f a@example.org b@example.org; cat > "$work/rest"; } < "$work/dotted"
n=$((n + 1))
expect "no -i, a '.' line: exit 0" "0|" "$rc$err"
expect "no -i: the message ends before the '.' line" $'From: a@example.org\r\nTo: b@example.org\r\nSubject: patch\r\n\r\nline 1\r\n|' \
    "$(last content_hex)"
expect "no -i: what follows the '.' line is left on standard input (a file)" $'line 3\n|' "$(cat "$work/rest"; printf '|')"

printf 'Subject: crlf\r\n\r\none\r\n.\r\ntwo\r\n' | sent nodot_crlf "${args[@]}" -f a@example.org b@example.org
n=$((n + 1))
expect "no -i, a '.' CRLF line: the message ends there" $'Subject: crlf\r\n\r\none\r\n|' "$(last content_hex)"

printf 'Subject: dots\n\n..\n.x\n' | sent dots "${args[@]}" -f a@example.org b@example.org
n=$((n + 1))
expect "no -i: '..' and '.x' lines are not the end" $'Subject: dots\r\n\r\n..\r\n.x\r\n|' "$(last content_hex)"

sent oi "${args[@]}" -oi -oem -odi -om -oQ/x -f a@example.org b@example.org <<< "$dotted"
n=$((n + 1))
expect "-oi -oem -odi -om -oQ/x: exit 0" "0|" "$rc$err"
expect "-oi: the '.' line is part of the message" $'From: a@example.org\r\nTo: b@example.org\r\nSubject: patch\r\n\r\nline 1\r\n.\r\nline 3\r\n\r\n|' \
    "$(last content_hex)"

tmsg=$'From: Alice <a@example.org>\nTo: Bob <b@example.org>, c@example.org\nCc: d@example.org\nBcc: Hidden <hidden@example.org>\nSubject: -t\n\nbody\n'
sent t "${args[@]}" -t -i extra@example.org <<< "$tmsg"
n=$((n + 1))
expect "-t: exit 0" "0|" "$rc$err"
expect "-t: the sender from From" 'a@example.org|' "$(last mail_from)"
expect "-t: recipients from To, Bcc (the argument's first), Cc" \
    '["b@example.org", "c@example.org", "extra@example.org", "hidden@example.org", "d@example.org"]|' \
    "$(last rcpt_tos)"
expect "-t: no Bcc field sent (neither the message's nor the argument's)" \
    $'From: Alice <a@example.org>\r\nTo: Bob <b@example.org>, c@example.org\r\nCc: d@example.org\r\nSubject: -t\r\n\r\nbody\r\n\r\n|' \
    "$(last content_hex)"

rmsg=$'Resent-Date: Mon, 1 Dec 2026 10:00:00 +0000\nResent-From: r@example.org\nResent-To: r2@example.org\nFrom: a@example.org\nTo: b@example.org\nSubject: resent\n\nbody\n'
sent resent "${args[@]}" -t -i extra@example.org <<< "$rmsg"
n=$((n + 1))
expect "-t, resent: exit 0" "0|" "$rc$err"
expect "-t, resent: the Resent- envelope and the argument" 'r@example.org ["r2@example.org", "extra@example.org"]|' \
    "$(last mail_from | tr -d '|') $(last rcpt_tos)"
expect "-t, resent: the Resent-Bcc made for the argument is not sent" "0" \
    "$(last content_hex | grep -ci bcc)"

sent t_none "${args[@]}" -t -i <<< $'From: a@example.org\nSubject: nobody\n\nbody\n'
expect "-t, no recipient anywhere: exit 65" 65 "$rc"
expect_true "-t, no recipient: the message says nothing was sent" grep -q '^smtpc-send: message: .*; nothing was sent$' \
    "$work/t_none.stderr"

sent fullname "${args[@]}" -F 'Cron Daemon' -f cron@example.org -i b@example.org <<< $'Subject: no from\n\nbody\n'
n=$((n + 1))
expect "-F NAME -f ADDRESS, no From field: exit 0" "0|" "$rc$err"
expect "-F: a From field made" $'From: Cron Daemon <cron@example.org>\r\nSubject: no from\r\n\r\nbody\r\n\r\n|' \
    "$(last content_hex)"

sent fullname_kept "${args[@]}" -F 'Cron Daemon' -f cron@example.org -i b@example.org <<< $'from : x@example.org\nSubject: s\n\nbody\n'
n=$((n + 1))
expect "-F with a From field (any case, space before the colon): the message unchanged" \
    $'from : x@example.org\r\nSubject: s\r\n\r\nbody\r\n\r\n|' "$(last content_hex)"

sent fullname_utf8 "${args[@]}" -F 'Jürgen' -f j@example.org -i b@example.org <<< $'Subject: s\n\nbody\n'
n=$((n + 1))
expect "-F with a non-ASCII name: an encoded word" $'From: =?UTF-8?B?SsO8cmdlbg==?= <j@example.org>\r\nSubject: s\r\n\r\nbody\r\n\r\n|' \
    "$(last content_hex)"
sent fullname_quoted "${args[@]}" -F 'Doe, "J"' -f j@example.org -i b@example.org <<< $'Subject: s\n\nbody\n'
n=$((n + 1))
expect "-F with a comma and quotes: a quoted string" $'From: "Doe, \\"J\\"" <j@example.org>\r\nSubject: s\r\n\r\nbody\r\n\r\n|' \
    "$(last content_hex)"

sent verbose "${args[@]}" -v -r a@example.org -B8BITMIME b@example.org <<< $'Subject: v\n\nbody\n'
n=$((n + 1))
expect "-v -r -B8BITMIME: exit 0" 0 "$rc"
expect_true "-v: the exchange on standard error" grep -q '^> MAIL FROM:<a@example.org> SIZE=22 BODY=8BITMIME$' "$work/verbose.stderr"
expect "-r as -f, -B8BITMIME as BODY=8BITMIME" 'a@example.org ["SIZE=22", "BODY=8BITMIME"]|' \
    "$(last mail_from | tr -d '|') $(last mail_options)"

sent dashdash "${args[@]}" -f a@example.org -- -dash@example.org b@example.org <<< $'Subject: d\n\nbody\n'
n=$((n + 1))
expect "recipients after --, one starting with '-': exit 0" "0|" "$rc$err"
expect "recipients after --" '["-dash@example.org", "b@example.org"]|' "$(last rcpt_tos)"

refused() {
    local want=$1
    shift
    sent refused "${args[@]}" "$@" < /dev/null
    expect "refused: $* -> exit 64" 64 "$rc"
    expect "refused: $*" "smtpc-send: $want
Try 'smtpc-send --help' for more information.
|" "$err"
}
refused "-bp: smtpc-send has no mail queue (it sends at once or fails)" -bp
refused "-bs (SMTP on standard input) is not supported" -bs
refused "-bi is not supported: smtpc-send only sends mail (-bm)" -bi
refused "-q: smtpc-send has no mail queue (it sends at once or fails)" -q1h
refused "-B takes 7BIT or 8BITMIME, not '7BITX'" -B7BITX b@example.org
refused "invalid recipient address 'a,b@example.org'" -t 'a,b@example.org'
refused "option -F needs a value" b@example.org -F
expect "nothing reached the server after the refusals" "$n" "$(spooled mx)"

finish
