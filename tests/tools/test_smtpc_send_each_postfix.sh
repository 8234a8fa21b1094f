#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send --each through Postfix on loopback (tests/servers/postfix_server.py, needs root), which
# offers CHUNKING: three messages over one connection with BDAT, the second to a recipient Postfix
# refuses (-t: each message's own recipients) -> exit 67, one line per message, the others relayed
# byte for byte.
#
# Usage: test_smtpc_send_each_postfix.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

[[ $(id -u) == 0 ]] || { echo "SKIP: Postfix needs root"; exit 77; }
command -v postfix > /dev/null || [[ -x /usr/sbin/postfix ]] || { echo "SKIP: postfix is not installed"; exit 77; }
"$python" -c 'import aiosmtpd' 2> /dev/null || { echo "SKIP: python3-aiosmtpd is not installed"; exit 77; }

mkdir -p "$work/postfix/spool"
"$python" "$servers/postfix_server.py" --spool "$work/postfix/spool" > "$work/postfix/out" 2> "$work/postfix/log" \
    < /dev/null &
pids+=($!)
for _ in $(seq 600); do # Postfix takes a few seconds to start
    grep -q '^READY ' "$work/postfix/out" && break
    sleep 0.1
done
port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$work/postfix/out")
if [[ -z $port ]]; then
    echo "SKIP: postfix_server.py did not start: $(tail -n 5 "$work/postfix/log")"
    exit 77
fi

in=$work/in
mkdir -p "$in"
printf 'From: a@example.org\nTo: pf1@example.org\nSubject: one\n\nbody one\n' > "$in/1.eml"
printf 'From: a@example.org\nTo: reject@example.org\nSubject: two\n\nbody two\n' > "$in/2.eml"
printf 'From: a@example.org\nTo: pf3@example.org\nSubject: three\n\n.dot\n' > "$in/3.eml"
timeout 60 "$send" --server "smtp://127.0.0.1:$port" --helo client.test --tls none --trace -t \
    --each "$in/1.eml" "$in/2.eml" "$in/3.eml" > "$work/pf.stdout" 2> "$work/pf.stderr" < /dev/null
rc=$?
expect "postfix: exit 67 (a recipient refused)" 67 "$rc"
expect_true "postfix: BDAT used" grep -q '^> BDAT [0-9]* LAST' "$work/pf.stderr"
expect "postfix: one line per message in order" "1.eml delivered
2.eml refused
3.eml delivered
" "$(sed -n "s|^smtpc-send: $in/\([0-9].eml\): \([a-z]*\).*|\1 \2|p" "$work/pf.stderr")
"
expect_true "postfix: the refusal named" grep -q "^smtpc-send: $in/2.eml: refused: .*<reject@example.org> 550 5.1.1" \
    "$work/pf.stderr"
expect_true "postfix: one connection" test "$(grep -c '^> EHLO' "$work/pf.stderr")" = 1
for _ in $(seq 200); do
    [[ $(spooled postfix) -ge 2 ]] && break
    sleep 0.1
done
expect "postfix: two relayed" 2 "$(spooled postfix)"
bodies=$("$python" - "$work/postfix/spool" << 'EOF'
import glob, json, sys
for f in sorted(glob.glob(sys.argv[1] + "/msg-*.json")):
    m = json.load(open(f))
    c = bytes.fromhex(m["content_hex"])
    sys.stdout.write("%s %r\n" % (m["rcpt_tos"], c[c.index(b"From: a@example.org"):]))
EOF
)
expect "postfix: the messages as sent (after Postfix's Received field)" "['pf1@example.org'] b'From: a@example.org\\r\\nTo: pf1@example.org\\r\\nSubject: one\\r\\n\\r\\nbody one\\r\\n'
['pf3@example.org'] b'From: a@example.org\\r\\nTo: pf3@example.org\\r\\nSubject: three\\r\\n\\r\\n.dot\\r\\n'" "$bodies"

finish
