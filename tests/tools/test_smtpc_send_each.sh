#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send with several messages over one connection (--each FILE... --, --mbox, --maildir), each
# case checked on the bytes the server got:
#   1. --each with -t: three files, the second refused after its data (aiosmtpd: "fail" recipient)
#      -> one line per message in order, a summary, exit 65; the others spooled byte for byte, one session
#   2. --mbox (mboxrd): ">From " unquoted, the separating empty line dropped; --json: one object a message
#   3. --maildir: cur/ then new/, by name; a file over 1 MiB sent in place with its SIZE
#   4. bad inputs reported before anything is sent: a missing or unreadable file, a directory (66), an empty file,
#      an empty mbox, a file that is not an mbox, a maildir without new/ (66), an empty maildir (65)
#   5. fault server: message 2 refused at its end of data, message 3 still delivered -> exit 65
#   6. fault server: the connection closes after message 2's end of data -> 2 unknown, 3 and 4 not sent,
#      exit 75, each named
#   7. usage: --each without a file, -t with recipients, --each with --mbox -> exit 64
#   8. SIGINT while waiting for message 1's reply -> 1 unknown, 2 and 3 not sent, exit 75
#   9. LMTP: one recipient delivered, one refused at RCPT, one after the data -> "partial", exit 67
#
# Usage: test_smtpc_send_each.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

in=$work/in
mkdir -p "$in"
printf 'From: a@example.org\nTo: b@example.org\nSubject: one\n\nbody one\n' > "$in/1.eml"
printf 'From: a@example.org\r\nTo: fail@example.org\r\nSubject: two\r\n\r\nbody two\r\n' > "$in/2.eml"
printf 'From: a@example.org\r\nTo: c@example.org\r\nBcc: d@example.org\r\nSubject: three\r\n\r\n.dot\r\n' > "$in/3.eml"
printf 'Subject: one\n\n1\n' > "$in/f1"
printf 'Subject: two\n\n2\n' > "$in/f2"
printf 'Subject: three\n\n3\n' > "$in/f3"
printf 'Subject: four\n\n4\n' > "$in/f4"

# run_files NAME ARGS...: smtpc-send without standard input, 60 s at most; sets rc, out, err.
run_files() {
    local name=$1
    shift
    timeout 60 "$send" "$@" > "$work/$name.stdout" 2> "$work/$name.stderr" < /dev/null
    rc=$?
    out=$(cat "$work/$name.stdout"; printf '|')
    err=$(cat "$work/$name.stderr"; printf '|')
}

# content N: the bytes of spooled message N of aiosmtpd "srv" (1-based), with a final "|".
content() { json_field "$work/srv/spool/msg-$(printf '%06d' "$1").json" content_hex; }

aiosmtpd srv
srv=smtp://127.0.0.1:$port
common=(--server "$srv" --helo client.test --tls none)

# --- 1. --each -t, a refusal in the middle ----------------------------------------------------------
run_files each "${common[@]}" -t --each "$in/1.eml" "$in/2.eml" "$in/3.eml"
expect "each: exit 65 (the refused message's content)" 65 "$rc"
expect "each: one line per message in order, then the summary" "smtpc-send: $in/1.eml: delivered: 250 2.0.0 OK: queued as 1
smtpc-send: $in/2.eml: refused: 554 5.6.0 Message refused
smtpc-send: $in/3.eml: delivered: 250 2.0.0 OK: queued as 3
smtpc-send: 3 messages: 2 delivered, 0 partial, 1 refused, 0 not sent, 0 unknown
|" "$err"
expect "each: nothing on stdout" "|" "$out"
expect "each: message 1 as sent" $'From: a@example.org\r\nTo: b@example.org\r\nSubject: one\r\n\r\nbody one\r\n|' "$(content 1)"
expect "each: message 3 as sent, Bcc removed" $'From: a@example.org\r\nTo: c@example.org\r\nSubject: three\r\n\r\n.dot\r\n|' \
    "$(content 3)"
expect "each: recipients of message 3 from its fields" '["c@example.org", "d@example.org"]|' \
    "$(json_field "$work/srv/spool/msg-000003.json" rcpt_tos)"
expect "each: one connection" 1 "$(ls "$work/srv/sessions" | wc -l)"

# --- 2. --mbox, --json ----------------------------------------------------------------------------------
printf 'From a@example.org Thu Jan  1 00:00:00 2026\nSubject: mb1\n\n>From here\n>>From there\nend\n\nFrom b@example.org Thu Jan  1 00:00:00 2026\nSubject: mb2\n\nsecond\n\n' \
    > "$in/box.mbox"
run_files mbox "${common[@]}" -f a@example.org --json --mbox "$in/box.mbox" -- b@example.org
expect "mbox: exit 0" 0 "$rc"
expect "mbox: message 1 unquoted" $'Subject: mb1\r\n\r\nFrom here\r\n>From there\r\nend\r\n|' "$(content 4)"
expect "mbox: message 2" $'Subject: mb2\r\n\r\nsecond\r\n|' "$(content 5)"
expect "mbox: one JSON object per message" "{\"message\": \"$in/box.mbox#1\", \"index\": 1, \"state\": \"delivered\", \"status\": \"SMTPC_OK\", \"exit_status\": 0, \"reply\": {\"code\": 250, \"enhanced\": \"2.0.0\", \"text\": \"OK: queued as 4\"}, \"recipients\": [{\"address\": \"b@example.org\", \"state\": \"delivered\", \"code\": 250, \"enhanced\": \"2.0.0\", \"text\": \"OK: queued as 4\"}], \"error\": null}
{\"message\": \"$in/box.mbox#2\", \"index\": 2, \"state\": \"delivered\", \"status\": \"SMTPC_OK\", \"exit_status\": 0, \"reply\": {\"code\": 250, \"enhanced\": \"2.0.0\", \"text\": \"OK: queued as 5\"}, \"recipients\": [{\"address\": \"b@example.org\", \"state\": \"delivered\", \"code\": 250, \"enhanced\": \"2.0.0\", \"text\": \"OK: queued as 5\"}], \"error\": null}
|" "$out"

# --- 3. --maildir -------------------------------------------------------------------------------------
mkdir -p "$in/md/cur" "$in/md/new" "$in/md/tmp"
printf 'Subject: new-b\n\nb\n' > "$in/md/new/b"
printf 'Subject: new-a\n\na\n' > "$in/md/new/a"
printf 'Subject: cur\n\nc\n' > "$in/md/cur/x:2,S"
printf 'ignored\n' > "$in/md/new/.hidden"
run_files maildir "${common[@]}" --maildir "$in/md" b@example.org
expect "maildir: exit 0" 0 "$rc"
expect "maildir: cur/ then new/, by name" "smtpc-send: $in/md/cur/x:2,S: delivered: 250 2.0.0 OK: queued as 6
smtpc-send: $in/md/new/a: delivered: 250 2.0.0 OK: queued as 7
smtpc-send: $in/md/new/b: delivered: 250 2.0.0 OK: queued as 8
smtpc-send: 3 messages: 3 delivered, 0 partial, 0 refused, 0 not sent, 0 unknown
|" "$err"
expect "maildir: bytes of the last" $'Subject: new-b\r\n\r\nb\r\n|' "$(content 8)"

# --- 3b. a file over 1 MiB is sent in place (SIZE from its size after CRLF), beside a small one --------
"$python" -c 'import sys; sys.stdout.buffer.write(b"Subject: big\n\n" + b"".join(b"%06d %s\n" % (i, b"x" * 69) for i in range(40000)))' \
    > "$in/big.eml"
big_crlf=$(($(stat -c %s "$in/big.eml") + 40002))
run_files big "${common[@]}" -f a@example.org --each "$in/big.eml" "$in/f1" -- b@example.org
expect "big: exit 0" 0 "$rc"
expect "big: SIZE declared (the size sent)" "[\"SIZE=$big_crlf\"]|" "$(json_field "$work/srv/spool/msg-000009.json" mail_options)"
expect_true "big: the bytes as sent" "$python" -c '
import json, sys
got = bytes.fromhex(json.load(open(sys.argv[1]))["content_hex"])
sys.exit(got != open(sys.argv[2], "rb").read().replace(b"\n", b"\r\n"))' "$work/srv/spool/msg-000009.json" "$in/big.eml"
expect "big: the small one after it" $'Subject: one\r\n\r\n1\r\n|' "$(content 10)"

# --- 4. bad inputs: nothing sent ------------------------------------------------------------------------
sessions=$(ls "$work/srv/sessions" | wc -l)
: > "$in/empty"
printf 'Subject: not an mbox\n\nx\n' > "$in/plain"
mkdir -p "$in/nonew/cur" "$in/emptymd/cur" "$in/emptymd/new"
run_files missing "${common[@]}" --each "$in/1.eml" "$in/nope" -- b@example.org
expect "missing file: exit 66" 66 "$rc"
expect "missing file: named" "smtpc-send: $in/nope: No such file or directory; nothing was sent
|" "$err"
run_files dir "${common[@]}" --each "$in/md" -- b@example.org
expect "directory: exit 66" "66 smtpc-send: $in/md: not a regular file; nothing was sent
|" "$rc $err"
run_files emptyfile "${common[@]}" --each "$in/1.eml" "$in/empty" -- b@example.org
expect "empty file: exit 65" "65 smtpc-send: $in/empty: empty file, no message in it; nothing was sent
|" "$rc $err"
run_files emptymbox "${common[@]}" --mbox "$in/empty" b@example.org
expect "empty mbox: exit 65" "65 smtpc-send: $in/empty: empty file, no message in it; nothing was sent
|" "$rc $err"
run_files notmbox "${common[@]}" --mbox "$in/plain" b@example.org
expect "not an mbox: exit 65" "65 smtpc-send: $in/plain: not an mbox file (it does not start with a \"From \" line); nothing was sent
|" "$rc $err"
run_files nonew "${common[@]}" --maildir "$in/nonew" b@example.org
expect "maildir without new/: exit 66" "66 smtpc-send: $in/nonew/new: No such file or directory (--maildir needs the cur and new directories of a maildir); nothing was sent
|" "$rc $err"
run_files emptymd "${common[@]}" --maildir "$in/emptymd" b@example.org
expect "empty maildir: exit 65" "65 smtpc-send: $in/emptymd: no message in cur/ or new/; nothing was sent
|" "$rc $err"
# unreadable: root reads anything, so as nobody (when root and setpriv are there)
if [[ $(id -u) == 0 ]] && command -v setpriv > /dev/null &&
    setpriv --reuid=65534 --regid=65534 --clear-groups "$send" --version > /dev/null 2>&1; then
    mkdir -m 755 "$work/pub"
    printf 'Subject: x\n\nx\n' > "$work/pub/secret.eml"
    chmod 000 "$work/pub/secret.eml"
    chmod 711 "$work"
    timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups "$send" "${common[@]}" \
        --each "$work/pub/secret.eml" -- b@example.org > "$work/unreadable.stdout" 2> "$work/unreadable.stderr" < /dev/null
    rc=$?
    chmod 700 "$work"
    expect "unreadable file: exit 66" "66 smtpc-send: $work/pub/secret.eml: Permission denied; nothing was sent" \
        "$rc $(cat "$work/unreadable.stderr")"
else
    echo "ok - unreadable file # SKIP needs root, setpriv, and smtpc-send executable by nobody"
fi
sleep 0.3
expect "bad inputs: no connection was made" "$sessions" "$(ls "$work/srv/sessions" | wc -l)"

# --- 5 and 6. the fault server: a refusal, a disconnect ----------------------------------------------
greet='{"send": "220 fault.test ESMTP\r\n"}, {"expect": "EHLO"}, {"send": "250-fault.test\r\n250 PIPELINING\r\n"}'
fault refusal << EOF
[$greet,
 {"expect_lines": 3}, {"send": "250 ok\r\n250 ok\r\n354 go\r\n"}, {"read_until": "\r\n.\r\n"},
 {"expect_lines": 3}, {"send": "250 one\r\n250 ok\r\n250 ok\r\n354 go\r\n"}, {"read_until": "\r\n.\r\n"},
 {"expect_lines": 3}, {"send": "550 5.7.1 spam\r\n250 ok\r\n250 ok\r\n354 go\r\n"}, {"read_until": "\r\n.\r\n"},
 {"send": "250 three\r\n"}, {"expect": "QUIT"}, {"send": "221 bye\r\n"}]
EOF
run_files refusal --server "smtp://127.0.0.1:$port" --helo client.test --tls none -f a@example.org \
    --each "$in/f1" "$in/f2" "$in/f3" -- b@example.org
expect "fault refusal: exit 69 (the server refused the message)" 69 "$rc"
expect "fault refusal: lines" "smtpc-send: $in/f1: delivered: 250 one
smtpc-send: $in/f2: refused: 550 5.7.1 spam
smtpc-send: $in/f3: delivered: 250 three
smtpc-send: 3 messages: 2 delivered, 0 partial, 1 refused, 0 not sent, 0 unknown
|" "$err"
expect "fault refusal: script played (next MAIL pipelined behind each end of data)" 0 "$(fault_done refusal)"
group=$'MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n'
expect "fault refusal: transcript" "EHLO client.test"$'\r\n'"$group"$'Subject: one\r\n\r\n1\r\n.\r\n'"$group"$'Subject: two\r\n\r\n2\r\n.\r\n'"$group"$'Subject: three\r\n\r\n3\r\n.\r\nQUIT\r\n|' \
    "$(transcript refusal)"

fault lost << EOF
[$greet,
 {"expect_lines": 3}, {"send": "250 ok\r\n250 ok\r\n354 go\r\n"}, {"read_until": "\r\n.\r\n"},
 {"expect_lines": 3}, {"send": "250 one\r\n250 ok\r\n250 ok\r\n354 go\r\n"}, {"read_until": "\r\n.\r\n"},
 {"expect_lines": 3, "timeout": 5}, {"close": true, "drain": true}]
EOF
run_files lost --server "smtp://127.0.0.1:$port" --helo client.test --tls none -f a@example.org \
    --each "$in/f1" "$in/f2" "$in/f3" "$in/f4" -- b@example.org
expect "lost: exit 75" 75 "$rc"
expect_true "lost: message 1 delivered" grep -qx "smtpc-send: $in/f1: delivered: 250 one" "$work/lost.stderr"
expect_true "lost: message 2 unknown" grep -q "^smtpc-send: $in/f2: unknown: .*(SMTPC_EDELIVERY_UNKNOWN); it may have been delivered\$" "$work/lost.stderr"
expect_true "lost: message 3 not sent" grep -q "^smtpc-send: $in/f3: not sent: " "$work/lost.stderr"
expect_true "lost: message 4 not sent" grep -q "^smtpc-send: $in/f4: not sent: " "$work/lost.stderr"
expect_true "lost: summary" grep -qx "smtpc-send: 4 messages: 1 delivered, 0 partial, 0 refused, 2 not sent, 1 unknown" "$work/lost.stderr"
expect "lost: lines in order" "f1 f2 f3 f4 " "$(sed -n "s|^smtpc-send: $in/\(f[0-9]\):.*|\1|p" "$work/lost.stderr" | tr '\n' ' ')"
expect "lost: script played" 0 "$(fault_done lost)"

# --- 7. usage ------------------------------------------------------------------------------------------
run_files nofile "${common[@]}" --each -- b@example.org
expect "usage: --each without a file" 64 "$rc"
run_files trcpt "${common[@]}" -t --each "$in/1.eml" -- b@example.org
expect "usage: -t with recipients" 64 "$rc"
run_files both "${common[@]}" --each "$in/1.eml" --mbox "$in/box.mbox" -- b@example.org
expect "usage: --each with --mbox" 64 "$rc"

# --- 8. SIGINT while waiting for the reply to message 1's end of data -----------------------------------
fault stall << EOF
[$greet,
 {"expect_lines": 3}, {"send": "250 ok\r\n250 ok\r\n354 go\r\n"}, {"read_until": "\r\n.\r\n"},
 {"expect_lines": 3, "timeout": 5}, {"sleep": 8}]
EOF
# --foreground: the SIGINT goes to smtpc-send once (without it timeout(1) sends it to its process
# group as well, which smtpc-send takes as the same interrupt: test_smtpc_send_interrupt.sh, case 4b).
timeout --foreground 60 "$send" --server "smtp://127.0.0.1:$port" --helo client.test --tls none -f a@example.org \
    --each "$in/f1" "$in/f2" "$in/f3" -- b@example.org > "$work/int.stdout" 2> "$work/int.stderr" < /dev/null &
spid=$!
for _ in $(seq 100); do # until message 2's commands have arrived behind message 1's end of data
    [[ $(grep -c '^DATA' "$work/stall.transcript" 2> /dev/null) == 2 ]] && break
    sleep 0.1
done
start=$(date +%s%N)
kill -INT "$spid"
wait "$spid"
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
expect "SIGINT: exit 75" 75 "$rc"
expect_true "SIGINT: promptly ($elapsed_ms ms)" test "$elapsed_ms" -lt 5000
expect "SIGINT: message 1 unknown, 2 and 3 not sent" "f1 unknown
f2 not sent
f3 not sent
" "$(sed -n "s|^smtpc-send: $in/\(f[0-9]\): \([a-z ]*\): .*|\1 \2|p" "$work/int.stderr")
"
expect_true "SIGINT: summary" grep -qx "smtpc-send: 3 messages: 0 delivered, 0 partial, 0 refused, 2 not sent, 1 unknown" \
    "$work/int.stderr"

# --- 9. LMTP: a partial delivery, the recipients that did not get it listed -------------------------------
aiosmtpd lmtp --mode lmtp
run_files lmtp --server "lmtp://127.0.0.1:$port" --helo client.test --tls none -f a@example.org \
    --each "$in/f1" -- b@example.org fail@example.org reject@example.org
expect "lmtp: exit 67" 67 "$rc"
expect "lmtp: partial, with each refusal" "smtpc-send: $in/f1: partial: <fail@example.org> 550 5.1.1 <fail@example.org>: delivery failed; <reject@example.org> 550 5.1.1 <reject@example.org>: Recipient address rejected
smtpc-send: 1 message: 0 delivered, 1 partial, 0 refused, 0 not sent, 0 unknown
|" "$err"
expect "lmtp: the recipients accepted at RCPT" '["b@example.org", "fail@example.org"]|' \
    "$(json_field "$work/lmtp/spool/msg-000001.json" rcpt_tos)"
expect "lmtp: the message as sent" $'Subject: one\r\n\r\n1\r\n|' "$(json_field "$work/lmtp/spool/msg-000001.json" content_hex)"

finish
