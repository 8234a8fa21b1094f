#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send when the message or the user gives up half way:
#   1. a regular file on standard input truncated by another process while the server is receiving it
#      -> exit 74 and a clear message (not SIGBUS: the file is read, not mapped); SIZE declared; the
#      transcript holds a prefix of the file and no end of data
#   2. SIGINT while the body is going to a server that stopped reading -> exit 75, the recipient
#      named as not sent, the stage "message"; no end of data in the transcript
#   3. SIGTERM while waiting for the reply to the end of data -> exit 75, delivery unknown
#   4. SIGINT while standard input is still being read -> exit 75, nothing sent; 4b. the same signal
#      delivered twice at once (twice back to back, SIGINT and SIGTERM pending together, timeout(1)
#      relaying to the process and its group) -> the same: one interrupt, not exit 128+N
#   5. progress: on a terminal (a pty) for a 1.5 MiB message, "\rX of 1.5 MiB (P%)" then the line blanked;
#      nothing when standard error is a file or with --json; --progress forces it into a file
#
# Usage: test_smtpc_send_interrupt.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

# 16 MiB of 64-byte CRLF lines: more than the loopback socket buffers hold, so the tool is still
# reading the file when the server stops reading
"$python" -c '
import sys
line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"
sys.stdout.buffer.write(b"Subject: big\r\n\r\n" + line * (16 * 16384))' > "$work/big.orig"
size=$(stat -c %s "$work/big.orig")

# wait_bytes FILE N: up to 30 s for FILE to hold at least N bytes.
wait_bytes() {
    for _ in $(seq 300); do
        [[ -f $1 && $(stat -c %s "$1") -ge $2 ]] && return 0
        sleep 0.1
    done
    echo "# $1 never reached $2 bytes"
    return 1
}

# check_prefix NAME HEAD: the transcript of NAME is HEAD followed by a proper prefix of the message
# as sent (the file's bytes, none dot-stuffed here), with no end of data.
check_prefix() {
    "$python" - "$work/$1.transcript" "$2" "$work/big.orig" << 'EOF'
import sys
t = open(sys.argv[1], "rb").read()
head = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
body = open(sys.argv[3], "rb").read()
if not t.startswith(head):
    sys.exit("#   transcript starts %r" % t[:200])
rest = t[len(head):]
if not (0 < len(rest) < len(body)) or not body.startswith(rest):
    sys.exit("#   %d bytes after DATA, not a proper prefix of the message" % len(rest))
if b"\r\n.\r\n" in rest:
    sys.exit("#   end of data sent")
EOF
}

# The signals go to smtpc-send only (timeout --foreground), except in case 4b, which checks that the
# relay of timeout(1) without --foreground, to the process and to its group, is one interrupt.
greeting='{"send": "220 fault.test ESMTP\r\n"}, {"expect": "EHLO"}, {"send": "250-fault.test\r\n250 SIZE 100000000\r\n"},
 {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"}, {"send": "250 ok\r\n"},
 {"expect": "DATA"}, {"send": "354 go\r\n"}'
head="EHLO client.test\\r\\nMAIL FROM:<a@example.org> SIZE=$size\\r\\nRCPT TO:<b@example.org>\\r\\nDATA\\r\\n"
args=(--tls none --helo client.test -f a@example.org)

# 1. the file shrinks while it is being sent
cp "$work/big.orig" "$work/big"
fault shrink << EOF
[$greeting, {"read_bytes": 200000}, {"sleep": 2}, {"expect_eof": true, "timeout": 30}]
EOF
timeout --foreground 60 "$send" --server "smtp://127.0.0.1:$port" "${args[@]}" b@example.org < "$work/big" \
    > "$work/shrink.stdout" 2> "$work/shrink.stderr" &
pid=$!
wait_bytes "$work/shrink.transcript" 200000 && truncate -s 100000 "$work/big"
wait "$pid"
rc=$?
expect "a file truncated while being sent: exit 74 (not SIGBUS)" 74 "$rc"
expect_true "a file truncated while being sent: the message" grep -qxE \
    "smtpc-send: message: standard input ended [0-9]+ bytes before the end of the message \(the file was truncated while being sent\); the connection was closed, so nothing was delivered" \
    "$work/shrink.stderr"
expect "a file truncated: one line on stderr" 1 "$(wc -l < "$work/shrink.stderr")"
expect "a file truncated: server done" 0 "$(fault_done shrink)"
expect_true "a file truncated: SIZE declared, a prefix of the file sent, no end of data" check_prefix shrink "$head"

# 2. SIGINT while the body is being sent to a server that stopped reading (piped: the spool)
fault body << EOF
[$greeting, {"read_bytes": 200000}, {"stop_reading": true, "max": 30}]
EOF
body_server=${pids[-1]}
timeout --foreground 60 "$send" --server "smtp://127.0.0.1:$port" "${args[@]}" b@example.org < <(cat "$work/big.orig") \
    > "$work/body.stdout" 2> "$work/body.stderr" &
pid=$!
wait_bytes "$work/body.transcript" 200000 && sleep 0.5
kill -INT "$pid"
wait "$pid"
rc=$?
expect "SIGINT during the message: exit 75" 75 "$rc"
expect "SIGINT during the message: stderr" "smtpc-send: message: not sent to <b@example.org>
smtpc-send: message: interrupted by SIGINT; the connection was closed (SMTPC_ECANCELLED)
|" "$(cat "$work/body.stderr"; printf '|')"
# The server cannot see the close (the end of the stream waits behind the body it no longer reads):
# it is still at its last step, so every step before ran as scripted. End it rather than wait.
expect "SIGINT during the message: the server still at its last step" "running|" \
    "$(kill -0 "$body_server" 2> /dev/null && echo running)|$(sed -n 's/^DONE //p' "$work/body.out")"
kill -TERM "$body_server"
expect_true "SIGINT during the message: a prefix of the body, no end of data" check_prefix body "$head"

# 3. SIGTERM while waiting for the reply to the end of data
fault eod << EOF
[{"send": "220 fault.test ESMTP\r\n"}, {"expect": "EHLO"}, {"send": "250 fault.test\r\n"},
 {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"}, {"send": "250 ok\r\n"},
 {"expect": "DATA"}, {"send": "354 go\r\n"}, {"read_until": "\r\n.\r\n"}, {"expect_eof": true, "timeout": 30}]
EOF
printf '%s' "$msg" | timeout --foreground 60 "$send" --server "smtp://127.0.0.1:$port" "${args[@]}" b@example.org \
    > "$work/eod.stdout" 2> "$work/eod.stderr" &
pid=$!
for _ in $(seq 300); do
    grep -q $'^\\.\r$' "$work/eod.transcript" 2> /dev/null && break
    sleep 0.1
done
sleep 0.3
kill -TERM "$pid"
wait "$pid"
rc=$?
expect "SIGTERM awaiting the reply to the end of data: exit 75" 75 "$rc"
expect "SIGTERM awaiting the reply: stderr" "smtpc-send: end of data: delivery to <b@example.org> unknown (interrupted while waiting for the reply)
smtpc-send: end of data: interrupted by SIGTERM; the connection was closed (SMTPC_ECANCELLED)
|" "$(cat "$work/eod.stderr"; printf '|')"
expect "SIGTERM awaiting the reply: server done" 0 "$(fault_done eod)"
expect "SIGTERM awaiting the reply: the whole message was sent" \
    "EHLO client.test|MAIL FROM:<a@example.org>|RCPT TO:<b@example.org>|DATA|From: a@example.org|To: b@example.org|Subject: smtpc-send test||hello|.|" \
    "$(tr -d '\r' < "$work/eod.transcript" | tr '\n' '|')"

# reading NAME [TIMEOUT_OPTION]: starts smtpc-send under timeout(1) (with that option), reading
# standard input from a FIFO this shell holds open without writing (a writer process such as
# "sleep 30 |" would outlive the test and keep its output open); nothing connects. Returns once the
# tool catches SIGINT (a slow start, e.g. under the sanitizers, would otherwise meet the default
# action): its SigCgt mask has SIGINT (bit 1), at most 20 s. Sets $pid (timeout's), $child (the tool's).
reading() {
    local name=$1
    shift
    rm -f "$work/stdin.fifo"
    mkfifo "$work/stdin.fifo"
    timeout "$@" 60 "$send" --server "smtp://127.0.0.1:9" "${args[@]}" b@example.org \
        < "$work/stdin.fifo" > "$work/$name.stdout" 2> "$work/$name.stderr" &
    pid=$!
    exec 9> "$work/stdin.fifo"
    for _ in $(seq 200); do
        child=$(cat "/proc/$pid/task/$pid/children" 2> /dev/null | awk '{print $1}')
        if [[ -n $child ]] && (( 0x$(awk '/^SigCgt:/ {print $2}' "/proc/$child/status" 2> /dev/null || echo 0) & 2 )); then
            break
        fi
        sleep 0.1
    done
    sleep 0.2
}
# read_ended NAME: waits for the tool started by reading(); sets $ended to "STATUS|STDERR|".
read_ended() {
    wait "$pid"
    ended="$?|$(cat "$work/$1.stderr")|"
    exec 9>&-
}
interrupted_reading="75|smtpc-send: reading the message: interrupted by SIGINT; nothing was sent|"

# 4. SIGINT while standard input is still being read: nothing connects
reading stdin --foreground
kill -INT "$pid"
read_ended stdin
expect "SIGINT reading standard input: exit 75, the message" "$interrupted_reading" "$ended"

# 4b. A signal delivered twice at once is one interrupt (a second signal ends the tool with 128 + N
# only when it comes 200 ms or more after the first): SIGINT twice back to back; SIGINT and SIGTERM
# both pending while the tool is stopped, so that the second is delivered as the first handler
# returns; and timeout(1) without --foreground, which relays the SIGINT it gets to the tool and to
# its process group.
reading twice --foreground
kill -INT "$child"
kill -INT "$child"
read_ended twice
expect "SIGINT twice back to back: exit 75, the first signal's message" "$interrupted_reading" "$ended"
reading pending --foreground
kill -STOP "$child"
kill -INT "$child"
kill -TERM "$child"
kill -CONT "$child"
read_ended pending
expect "SIGINT and SIGTERM delivered together: exit 75, the first signal's message" "$interrupted_reading" \
    "$ended"
reading group
kill -INT "$pid"
read_ended group
expect "SIGINT relayed by timeout to the tool and its group: exit 75, the message" "$interrupted_reading" \
    "$ended"

# 5. progress
aiosmtpd mx
head -c $((3 * 512 * 1024)) "$work/big.orig" > "$work/big1.5" # above the 1 MiB threshold
# on_pty NAME ARGS...: runs smtpc-send with $work/big1.5 on standard input and standard error on a
# pty; the bytes written to the pty go to $work/NAME.stderr. Sets $rc.
on_pty() {
    local name=$1
    shift
    "$python" - "$work/big1.5" "$work/$name.stdout" "$work/$name.stderr" "$send" "$@" << 'EOF'
import os, pty, subprocess, sys
master, slave = pty.openpty()
p = subprocess.Popen(sys.argv[4:], stdin=open(sys.argv[1], "rb"), stdout=open(sys.argv[2], "wb"), stderr=slave)
os.close(slave)
data = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the last holder of the pty's other side is gone
        break
    if not chunk:
        break
    data += chunk
open(sys.argv[3], "wb").write(data)
sys.exit(p.wait())
EOF
    rc=$?
}
mx=(--server "smtp://127.0.0.1:$port" "${args[@]}")
on_pty tty "${mx[@]}" b@example.org
expect "progress on a terminal: exit 0" 0 "$rc"
# progress_line FILE: FILE holds "\rX of 1.5 MiB (P%)" (padded with spaces) one or more times, then
# the line blanked: "\r", spaces, "\r"; nothing else.
progress_line() {
    "$python" -c '
import re, sys
d = open(sys.argv[1], "rb").read()
if not re.fullmatch(rb"(\r[0-9]+\.[0-9] of 1\.5 MiB \([0-9]+%\) *)+\r +\r", d):
    sys.exit("#   %r" % d)' "$1"
}
expect_true "progress on a terminal: \\r<sent> of 1.5 MiB (<p>%), then the line blanked" progress_line "$work/tty.stderr"
on_pty tty_json "${mx[@]}" --json b@example.org
expect "--json on a terminal: no progress" "0||" "$rc|$(cat "$work/tty_json.stderr")|"
on_pty tty_off "${mx[@]}" --no-progress b@example.org
expect "--no-progress on a terminal: nothing" "0||" "$rc|$(cat "$work/tty_off.stderr")|"
timeout 60 "$send" "${mx[@]}" b@example.org < "$work/big1.5" > "$work/file.stdout" 2> "$work/file.stderr"
expect "stderr a file: no progress" "0||" "$?|$(cat "$work/file.stderr")|"
timeout 60 "$send" "${mx[@]}" --progress b@example.org < "$work/big1.5" > "$work/forced.stdout" 2> "$work/forced.stderr"
expect "--progress into a file: exit 0" 0 "$?"
expect_true "--progress into a file: the progress line, then blanked" progress_line "$work/forced.stderr"
expect "progress: the 5 messages delivered" 5 "$(spooled mx)"

finish
