#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send: each error names the stage that failed, with the exit status the usage text promises,
# against the scripted fault server:
#   1. EHLO and HELO refused (502)                             -> exit 69, "HELO:"
#   2. STARTTLS refused (454) under --tls required             -> exit 75, "STARTTLS:"
#   3. certificate failure during STARTTLS with --user given   -> exit 69, "TLS handshake:" (it was
#      "authentication:"), advice naming --cafile and --tls opportunistic, no AUTH sent
#   4. AUTH refused (535)                                      -> exit 77, "AUTH:"
#   5. connection closed while waiting for the RCPT reply      -> exit 75, "RCPT TO:"
#   6. connection closed after the message, before its reply   -> exit 75, "end of data:" per recipient
#   7. standard input unreadable (read before connecting)      -> exit 74, nothing sent
#   8. one recipient refused, the other accepted                -> exit 67, only the refusal printed
#   9. LMTP: one recipient refused after the message           -> exit 67, "end of data: ... for <c>"
#  10. no reply to QUIT after the message was accepted          -> exit 0, a warning
#  11. extra bytes after the final 250 (issue 8 item 5)        -> exit 0, at most a warning
#  12. usage errors: wrong option combinations, before anything is sent -> exit 64, exact messages;
#      configuration errors (password file empty or too long, variable unset) -> exit 78
#
# Usage: test_smtpc_send_stages.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"
need_pki

greet='{"send": "220 fault.test ESMTP\r\n"}, {"expect": "EHLO"}'
ehlo='{"send": "250-fault.test\r\n250 8BITMIME\r\n"}'
accept_to_data='{"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"}, {"send": "250 ok\r\n"},
 {"expect": "DATA"}, {"send": "354 go\r\n"}, {"read_until": "\r\n.\r\n"}'
server=(--helo client.test -f a@example.org)

fault helo << EOF
[$greet, {"send": "502 5.5.1 no EHLO\r\n"}, {"expect": "HELO"}, {"send": "502 5.5.1 no HELO either\r\n"},
 {"expect": "QUIT"}, {"send": "221 bye\r\n"}]
EOF
run_send helo --server "smtp://127.0.0.1:$port" "${server[@]}" b@example.org
expect "EHLO and HELO refused: exit 69" 69 "$rc"
expect "EHLO and HELO refused: stage HELO" \
    'smtpc-send: HELO: EHLO and HELO refused; HELO failed: 502 5.5.1 no HELO either (SMTPC_EHELO)
|' "$err"

fault starttls_refused << EOF
[$greet, {"send": "250-fault.test\r\n250 STARTTLS\r\n"}, {"expect": "STARTTLS"},
 {"send": "454 4.7.0 TLS not available\r\n"}, {"expect_eof": true}]
EOF
run_send starttls_refused --server "smtp://127.0.0.1:$port" --tls required "${server[@]}" b@example.org
expect "STARTTLS refused (454), --tls required: exit 75" 75 "$rc"
expect "STARTTLS refused: stage STARTTLS" \
    'smtpc-send: STARTTLS: TLS is required and the server refused it: STARTTLS refused: 454 4.7.0 TLS not available (SMTPC_ETLS_REQUIRED)
|' "$err"
expect "STARTTLS refused: only EHLO and STARTTLS sent" $'EHLO client.test\r\nSTARTTLS\r\n|' \
    "$(fault_done starttls_refused > /dev/null; transcript starttls_refused)"

fault cert_unknown --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" << EOF
[$greet, {"send": "250-fault.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"}, {"expect": "STARTTLS"},
 {"send": "220 go ahead\r\n"}, {"starttls": true}, {"expect_eof": true}]
EOF
SMTPC_TEST_PW=secret run_send cert_unknown --server "smtp://localhost:$port" --tls required --user u \
    --password-env SMTPC_TEST_PW "${server[@]}" b@example.org
expect "certificate failure during STARTTLS with --user: exit 69" 69 "$rc"
first=$(head -n 1 "$work/cert_unknown.stderr")
expect_true "certificate failure: stage TLS handshake, SMTPC_ETLS_VERIFY ($first)" \
    test "${first#smtpc-send: TLS handshake: certificate verification failed: }" != "$first" -a \
    "${first% (SMTPC_ETLS_VERIFY)}" != "$first"
expect "certificate failure: the advice names --cafile and --tls opportunistic" \
    'smtpc-send: hint: the server is on this machine: trust its certificate with --cafile FILE (the CA or the certificate itself, PEM), or use --tls opportunistic (encrypted, verification not enforced)' \
    "$(sed -n 2,\$p "$work/cert_unknown.stderr")"
expect_true "certificate failure: not labelled authentication" \
    test "$(grep -ci -e auth "$work/cert_unknown.stderr")" = 0
fault_done cert_unknown > /dev/null
expect "certificate failure: EHLO and STARTTLS in clear, then the handshake" \
    $'EHLO client.test\r\nSTARTTLS\r\n--TLS--\r\n|' "$(head -c 37 "$work/cert_unknown.transcript"; printf '|')"
expect_true "certificate failure: no AUTH sent" test "$(grep -c AUTH "$work/cert_unknown.transcript")" = 0

fault auth_refused << EOF
[$greet, {"send": "250-fault.test\r\n250 AUTH PLAIN\r\n"}, {"expect": "AUTH PLAIN"},
 {"send": "535 5.7.8 bad credentials\r\n"}, {"expect": "QUIT"}, {"send": "221 bye\r\n"}]
EOF
SMTPC_TEST_PW=secret run_send auth_refused --server "smtp://127.0.0.1:$port" --user u \
    --password-env SMTPC_TEST_PW "${server[@]}" b@example.org
expect "AUTH refused: exit 77" 77 "$rc"
expect "AUTH refused: stage AUTH" \
    'smtpc-send: AUTH: PLAIN authentication failed: 535 5.7.8 bad credentials (SMTPC_EAUTH)
|' "$err"

fault rcpt_closed << EOF
[$greet, $ehlo, {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"}, {"close": true}]
EOF
run_send rcpt_closed --server "smtp://127.0.0.1:$port" "${server[@]}" b@example.org
expect "closed while waiting for the RCPT reply: exit 75" 75 "$rc"
expect "closed while waiting for the RCPT reply: stage RCPT TO" \
    'smtpc-send: RCPT TO: connection closed by the server (SMTPC_EDISCONNECTED)
|' "$err"

fault unknown << EOF
[$greet, $ehlo, {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"}, {"send": "250 ok\r\n"},
 {"expect": "RCPT"}, {"send": "250 ok\r\n"}, {"expect": "DATA"}, {"send": "354 go\r\n"},
 {"read_until": "\r\n.\r\n"}, {"close": true}]
EOF
run_send unknown --server "smtp://127.0.0.1:$port" "${server[@]}" b@example.org c@example.org
expect "closed after the message, before its reply: exit 75" 75 "$rc"
expect "closed after the message: delivery unknown, per recipient" \
    'smtpc-send: end of data: delivery to <b@example.org> unknown
smtpc-send: end of data: delivery to <c@example.org> unknown
smtpc-send: end of data: connection closed by the server after the message was sent: it may or may not have been delivered (SMTPC_EDELIVERY_UNKNOWN)
|' "$err"

# Standard input is read whole before connecting (spooled): an unreadable one stops everything.
timeout 60 "$send" --server smtp://127.0.0.1:1 "${server[@]}" b@example.org < / \
    > "$work/stdin_error.stdout" 2> "$work/stdin_error.stderr"
expect "standard input unreadable (a directory): exit 74" 74 "$?"
expect "standard input unreadable: nothing sent, no connection tried" \
    'smtpc-send: cannot read standard input: Is a directory; nothing was sent' \
    "$(cat "$work/stdin_error.stderr")"

fault partial << EOF
[$greet, $ehlo, {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"}, {"send": "550 5.1.1 unknown\r\n"},
 {"expect": "RCPT"}, {"send": "250 ok\r\n"}, {"expect": "DATA"}, {"send": "354 go\r\n"},
 {"read_until": "\r\n.\r\n"}, {"send": "250 queued\r\n"}, {"expect": "QUIT"}, {"send": "221 bye\r\n"}]
EOF
run_send partial --server "smtp://127.0.0.1:$port" "${server[@]}" bad@example.org b@example.org
expect "one recipient refused, one accepted: exit 67" 67 "$rc"
expect "one recipient refused: only its refusal printed" \
    'smtpc-send: RCPT TO: <bad@example.org> refused: 550 5.1.1 unknown
|' "$err"

fault lmtp << 'EOF'
[{"send": "220 fault.test LMTP\r\n"}, {"expect": "LHLO"}, {"send": "250-fault.test\r\n250 8BITMIME\r\n"},
 {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"}, {"send": "250 ok\r\n"},
 {"expect": "RCPT"}, {"send": "250 ok\r\n"}, {"expect": "DATA"}, {"send": "354 go\r\n"},
 {"read_until": "\r\n.\r\n"}, {"send": "250 2.0.0 b delivered\r\n552 5.2.2 c over quota\r\n"},
 {"expect": "QUIT"}, {"send": "221 bye\r\n"}]
EOF
run_send lmtp --server "lmtp://127.0.0.1:$port" "${server[@]}" b@example.org c@example.org
expect "LMTP, one recipient refused after the message: exit 67" 67 "$rc"
expect "LMTP: the refusal names its recipient" \
    'smtpc-send: end of data: message refused for <c@example.org>: 552 5.2.2 c over quota
|' "$err"

fault quit << EOF
[$greet, $ehlo, $accept_to_data, {"send": "250 queued\r\n"}, {"expect": "QUIT"}, {"close": true}]
EOF
run_send quit --server "smtp://127.0.0.1:$port" "${server[@]}" b@example.org
expect "no reply to QUIT after the message was accepted: exit 0" 0 "$rc"
expect "no reply to QUIT: a warning" \
    'smtpc-send: warning: QUIT: connection closed by the server (SMTPC_EDISCONNECTED); the message was accepted
|' "$err"

# Issue 8 item 5: bytes after the final 250 do not undo the acceptance. Exit 0; anything printed is a
# warning (the library reports the unsolicited data separately, or as the status of the call).
fault accepted_then_data << EOF
[$greet, $ehlo, $accept_to_data, {"send": "250 queued\r\n250 surplus\r\n"},
 {"expect_eof": true, "optional": true}]
EOF
run_send accepted_then_data --server "smtp://127.0.0.1:$port" "${server[@]}" b@example.org
expect "data after the final 250: exit 0 (the message was accepted)" 0 "$rc"
expect_true "data after the final 250: at most warnings on stderr" \
    test "$(grep -vc '^smtpc-send: warning: ' "$work/accepted_then_data.stderr")" = 0
want=$'EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n'"$msg"$'.\r\n'
expect "data after the final 250: the whole message reached the server" "$want|" \
    "$(fault_done accepted_then_data > /dev/null; head -c ${#want} "$work/accepted_then_data.transcript"; printf '|')"

# Usage errors: found before anything is sent (no server runs: a connection attempt would fail
# differently, with exit 75).
usage() {
    local want=$1
    shift
    run_send usage --server smtp://127.0.0.1:1 "$@"
    expect "usage: $* -> exit 64" 64 "$rc"
    expect "usage: $*" "smtpc-send: $want
Try 'smtpc-send --help' for more information.
|" "$err"
}
usage "no recipient given (or -t to take them from the message)"
usage "unknown or ambiguous option --bogus" --bogus b@example.org
usage "option --trace takes no value" --trace=yes b@example.org
usage "--tls takes auto, required, opportunistic, none or implicit, not 'maybe'" --tls maybe b@example.org
usage "--tls none does not go with an smtps:// URL, which is TLS from the first byte" \
    --server smtps://127.0.0.1:1 --tls none b@example.org
usage "--tls required over a Unix socket needs --tls-server-name NAME (the name to verify the certificate against)" \
    --server lmtp:///nonexistent/socket --tls required b@example.org
usage "--timeout takes a whole number of seconds from 0 to 4000000, not '-1'" --timeout -1 b@example.org
usage "--auth needs --user NAME" --auth PLAIN b@example.org
usage "--auth XOAUTH2 needs --oauth-token-file FILE (or oauth_token_command in the configuration file)" \
    --user u --auth XOAUTH2 b@example.org
usage "--oauth-token-file needs --auth XOAUTH2 or --auth OAUTHBEARER" --user u --oauth-token-file /dev/null \
    --password-env X b@example.org
usage "--auth takes PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2 or OAUTHBEARER, not 'NTLM'" \
    --user u --auth NTLM --password-env X b@example.org
usage "--user needs --password-file FILE or --password-env VAR (or password_file or password_command in the configuration file)" \
    --user u b@example.org
usage "give --password-file or --password-env, not both" --user u --password-file /dev/null --password-env X \
    b@example.org
usage "--server takes smtp://HOST[:PORT], smtps://HOST[:PORT], lmtp://HOST[:PORT] or lmtp:///PATH, not 'smtp:///socket'" \
    --server smtp:///socket b@example.org
usage "invalid recipient address 'b@example.org<x>'" 'b@example.org<x>'
usage "--server smtp://127.0.0.1:99999: nonnumeric or out-of-range port in host" --server smtp://127.0.0.1:99999 \
    b@example.org
run_send unset_env --server smtp://127.0.0.1:1 --user u --password-env SMTPC_TEST_UNSET b@example.org
expect "--password-env naming an unset variable: exit 78" 78 "$rc"
expect "--password-env naming an unset variable: message" \
    'smtpc-send: the environment variable SMTPC_TEST_UNSET (--password-env) is not set or empty
|' "$err"
printf '' > "$work/empty"
run_send empty_pw --server smtp://127.0.0.1:1 --user u --password-file "$work/empty" b@example.org
expect "an empty password file: exit 78" 78 "$rc"
expect "an empty password file: message" "smtpc-send: the password file $work/empty is empty (its first line is the password)
|" "$err"
head -c 9000 /dev/zero | tr '\0' x > "$work/long"
run_send long_pw --server smtp://127.0.0.1:1 --user u --password-file "$work/long" b@example.org
expect "a password longer than the buffer is refused, not cut short: exit 78" 78 "$rc"
expect "a password longer than the buffer: message" \
    "smtpc-send: the first line of the password file $work/long is longer than 8190 bytes
|" "$err"

finish
