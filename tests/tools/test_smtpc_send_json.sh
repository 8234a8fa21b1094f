#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send --json: one JSON object on standard output, parsed with python3's json module.
#   1. aiosmtpd over STARTTLS with --cafile: tls active, verified, its version; the message's reply;
#      each recipient delivered with code, enhanced code and text; nothing else on stdout
#   2. the fault server: a refused recipient among accepted ones, replies with control bytes, a
#      quote, a backslash, valid UTF-8 and invalid UTF-8 -> exit 67; the texts escaped as JSON, the
#      invalid bytes as U+FFFD, the output valid UTF-8
#   3. LMTP: one reply per recipient after the message (delivered, failed)
#   4. the connection closed after the message: state unknown, the error's stage and status
#   5. a connection refused: the object all the same, no recipient, the error
#
# Usage: test_smtpc_send_json.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"
need_pki

# check NAME PYTHON_EXPRESSION: the expression, on `j` (the parsed stdout of run NAME), is true.
check() {
    local name=$1 expr=$2
    if "$python" - "$work/$name.stdout" "$expr" << 'EOF'
import json, sys
raw = open(sys.argv[1], "rb").read()
raw.decode("utf-8")  # strict: the output is valid UTF-8
assert raw.endswith(b"}\n") and raw.count(b"\n") == 1, "one line, one object"
j = json.loads(raw)
if not eval(sys.argv[2]):
    sys.stdout.write("#   %s\n#   is false for %s\n" % (sys.argv[2], json.dumps(j, ensure_ascii=True)))
    sys.exit(1)
EOF
    then ok "$name: $expr"; else not_ok "$name: $expr"; fi
}

aiosmtpd tls --tls-cert "$pki/server.pem" --tls-key "$pki/server.key"
run_send tls --json --server "smtp://localhost:$port" --tls required --cafile "$pki/ca.pem" --helo client.test \
    -f a@example.org b@example.org c@example.org
expect "STARTTLS, verified: exit 0" 0 "$rc"
check tls 'j["server"].startswith("smtp://localhost:") and j["protocol"] == "smtp" and j["exit_status"] == 0'
check tls 'j["tls"]["active"] is True and j["tls"]["verified"] is True and j["tls"]["version"].startswith("TLSv1.")'
check tls 'j["sender"] == "a@example.org" and j["mail"]["code"] == 250 and j["error"] is None'
check tls 'j["reply"]["code"] == 250 and j["reply"]["text"] != ""'
check tls '[(r["address"], r["state"], r["code"]) for r in j["recipients"]] == [("b@example.org", "delivered", 250), ("c@example.org", "delivered", 250)]'

fault hostile << 'EOF'
[{"send": "220 fault.test ESMTP\r\n"}, {"expect": "EHLO"}, {"send": "250-fault.test\r\n250 PIPELINING\r\n"},
 {"expect_lines": 4}, {"send": "250 ok\r\n550 5.1.1 \"quoted\" back\\slash \u001b[2J tab\there\r\n250 2.1.5 j\u00c3\u00bcrgen ok\r\n354 go\r\n"},
 {"read_until": "\r\n.\r\n"}, {"send": "250-2.0.0 first \u00ff\u00fe bytes\r\n250 2.0.0 queued as X\r\n"},
 {"expect": "QUIT"}, {"send": "221 bye\r\n"}]
EOF
run_send hostile --json --server "smtp://127.0.0.1:$port" --helo client.test -f a@example.org bad@example.org b@example.org
expect "a refused recipient among accepted ones: exit 67" 67 "$rc"
check hostile 'j["exit_status"] == 67 and j["tls"] == {"active": False, "version": None, "verified": False}'
check hostile 'j["recipients"][0] == {"address": "bad@example.org", "state": "refused", "code": 550, "enhanced": "5.1.1", "text": "\"quoted\" back\\slash \x1b[2J tab\there"}'
check hostile 'j["recipients"][1] == {"address": "b@example.org", "state": "delivered", "code": 250, "enhanced": "2.0.0", "text": "first \ufffd\ufffd bytes\nqueued as X"}'
check hostile 'j["reply"] == {"code": 250, "enhanced": "2.0.0", "text": "first \ufffd\ufffd bytes\nqueued as X"}'
expect_true "hostile: no raw control byte on stdout" no_control "$work/hostile.stdout"

fault lmtp << 'EOF'
[{"send": "220 fault.test LMTP\r\n"}, {"expect": "LHLO"}, {"send": "250 fault.test\r\n"},
 {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"}, {"send": "250 ok\r\n"},
 {"expect": "RCPT"}, {"send": "250 ok\r\n"}, {"expect": "DATA"}, {"send": "354 go\r\n"},
 {"read_until": "\r\n.\r\n"}, {"send": "250 2.0.0 b delivered\r\n452 4.2.2 c over quota\r\n"},
 {"expect": "QUIT"}, {"send": "221 bye\r\n"}]
EOF
run_send lmtp --json --server "lmtp://127.0.0.1:$port" --helo client.test -f a@example.org b@example.org c@example.org
expect "LMTP, one recipient 452 after the message: exit 75" 75 "$rc"
check lmtp 'j["protocol"] == "lmtp" and j["reply"]["code"] is None'
check lmtp '[(r["state"], r["code"], r["text"]) for r in j["recipients"]] == [("delivered", 250, "b delivered"), ("failed", 452, "c over quota")]'

fault unknown << 'EOF'
[{"send": "220 fault.test ESMTP\r\n"}, {"expect": "EHLO"}, {"send": "250 fault.test\r\n"},
 {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"}, {"send": "250 ok\r\n"},
 {"expect": "DATA"}, {"send": "354 go\r\n"}, {"read_until": "\r\n.\r\n"}, {"close": true}]
EOF
run_send unknown --json --server "smtp://127.0.0.1:$port" --helo client.test -f a@example.org b@example.org
expect "closed after the message: exit 75" 75 "$rc"
check unknown 'j["recipients"][0]["state"] == "unknown" and j["recipients"][0]["code"] is None'
check unknown 'j["error"]["stage"] == "end of data" and j["error"]["status"] == "SMTPC_EDELIVERY_UNKNOWN"'

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
run_send refused --json --server "smtp://127.0.0.1:$port" -f a@example.org b@example.org
expect "connection refused: exit 75" 75 "$rc"
check refused 'j["recipients"] == [] and j["sender"] is None and j["error"]["stage"] == "connect" and j["error"]["status"] == "SMTPC_ECONNECT"'

finish
