#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send over TLS against aiosmtpd (tests/servers/aiosmtpd_server.py, Debian python3-aiosmtpd),
# whose certificate is signed by the test CA (unknown to the system store):
#   1. smtps://localhost --cafile CA                        -> exit 0, spooled over implicit TLS
#   2. --tls implicit with an smtp:// URL                    -> the same
#   3. --tls required --cafile CA                            -> exit 0, spooled over STARTTLS
#   4. --tls required to a server without STARTTLS           -> exit 69, only EHLO sent, "STARTTLS:"
#   5. smtps:// without --cafile                             -> exit 69, "TLS handshake:", advice
#      naming --cafile (not --tls opportunistic: there is no plaintext to fall back from)
#   6. --tls required without --cafile, server on loopback   -> exit 69, advice naming --cafile FILE and
#      --tls opportunistic; only EHLO and STARTTLS in clear
#   7. no --tls (auto) without --cafile, server on loopback  -> exit 0 over STARTTLS (opportunistic:
#      verification recorded in the trace, not enforced)
#   8. --tls opportunistic without --cafile                  -> exit 0 over STARTTLS
#   9. --tls opportunistic to a server without STARTTLS      -> exit 0 in plaintext
#  10. --tls none to a server offering STARTTLS              -> exit 0, no STARTTLS sent
#  11. lmtp:///socket (auto) to a server offering STARTTLS   -> exit 0, no STARTTLS (nothing to verify
#      a certificate against; was "no server name to verify the certificate against")
#  12. a certificate for another name                        -> exit 69, advice naming --tls-server-name;
#      with --tls-server-name that name                      -> exit 0
#
# Usage: test_smtpc_send_tls.sh SMTPC_SEND SERVERS_DIR
# The PKI comes from $SMTPC_TEST_PKI_DIR (ctest fixture tls_pki) or is made here with make_test_pki.sh.
send=$1
servers=$2
source "$(dirname "$0")/../tools/send_lib.sh"
need_pki

tls=(--tls-cert "$pki/server.pem" --tls-key "$pki/server.key")
aiosmtpd implicit "${tls[@]}" --implicit-tls
implicit_port=$port
aiosmtpd starttls "${tls[@]}"
starttls_port=$port
aiosmtpd plain
plain_port=$port
aiosmtpd lmtp --mode lmtp --unix "$work/lmtp.sock" "${tls[@]}"
aiosmtpd wronghost --tls-cert "$pki/wronghost.pem" --tls-key "$pki/wronghost.key"
wronghost_port=$port

common=(--helo client.test -f sender@example.org rcpt@example.org)
# spool_field SERVER N KEY: field KEY of the Nth message SERVER spooled
spool_field() { json_field "$work/$1/spool/msg-$(printf %06d "$2").json" "$3"; }
session_field() { json_field "$work/$1/sessions/session-$(printf %06d "$2").json" "$3"; }

# 1, 2: implicit TLS
run_send implicit --server "smtps://localhost:$implicit_port" --cafile "$pki/ca.pem" "${common[@]}"
expect "smtps:// with --cafile: exit 0" "0|" "$rc$err"
expect "smtps:// with --cafile: spooled intact over implicit TLS" "$msg|implicit|" \
    "$(spool_field implicit 1 content_hex)$(spool_field implicit 1 tls)"
run_send implicit_opt --server "smtp://localhost:$implicit_port" --tls implicit --cafile "$pki/ca.pem" \
    "${common[@]}"
expect "--tls implicit with smtp://: exit 0" "0|" "$rc$err"
expect "--tls implicit with smtp://: spooled over implicit TLS" "implicit|" "$(spool_field implicit 2 tls)"

# 3: STARTTLS required and verified
run_send required --server "smtp://localhost:$starttls_port" --tls required --cafile "$pki/ca.pem" "${common[@]}"
expect "--tls required with --cafile: exit 0" "0|" "$rc$err"
expect "--tls required with --cafile: spooled intact over STARTTLS" "$msg|starttls|" \
    "$(spool_field starttls 1 content_hex)$(spool_field starttls 1 tls)"
expect "--tls required with --cafile: EHLO and STARTTLS in clear" $'EHLO client.test\r\nSTARTTLS\r\n|' \
    "$(session_field starttls 1 plain_hex)"

# 4: STARTTLS required, not offered
run_send required_plain --server "smtp://localhost:$plain_port" --tls required --cafile "$pki/ca.pem" \
    "${common[@]}"
expect "--tls required without STARTTLS: exit 69" 69 "$rc"
expect "--tls required without STARTTLS: stage STARTTLS" \
    "smtpc-send: STARTTLS: TLS is required and the server does not offer STARTTLS (SMTPC_ETLS_REQUIRED)
|" "$err"
expect "--tls required without STARTTLS: only EHLO sent" $'EHLO client.test\r\n|' "$(session_field plain 1 raw_hex)"
expect "--tls required without STARTTLS: nothing spooled" 0 "$(spooled plain)"

# 5: implicit TLS, unknown CA
run_send implicit_unknown --server "smtps://localhost:$implicit_port" "${common[@]}"
expect "smtps:// without --cafile: exit 69" 69 "$rc"
first=$(head -n 1 "$work/implicit_unknown.stderr")
expect_true "smtps:// without --cafile: stage TLS handshake, SMTPC_ETLS_VERIFY ($first)" \
    test "${first#smtpc-send: TLS handshake: certificate verification failed: }" != "$first" -a \
    "${first% (SMTPC_ETLS_VERIFY)}" != "$first"
expect "smtps:// without --cafile: advice names --cafile" \
    "smtpc-send: hint: trust the server's certificate authority with --cafile FILE or --capath DIR" \
    "$(sed -n 2,\$p "$work/implicit_unknown.stderr")"
expect "smtps:// without --cafile: nothing more spooled" 2 "$(spooled implicit)"

# 6: STARTTLS required to loopback, unknown CA
run_send required_unknown --server "smtp://localhost:$starttls_port" --tls required "${common[@]}"
expect "--tls required without --cafile to loopback: exit 69" 69 "$rc"
first=$(head -n 1 "$work/required_unknown.stderr")
expect_true "--tls required without --cafile: stage TLS handshake, SMTPC_ETLS_VERIFY ($first)" \
    test "${first#smtpc-send: TLS handshake: certificate verification failed: }" != "$first" -a \
    "${first% (SMTPC_ETLS_VERIFY)}" != "$first"
expect "--tls required without --cafile: advice names --cafile FILE and --tls opportunistic" \
    'smtpc-send: hint: the server is on this machine: trust its certificate with --cafile FILE (the CA or the certificate itself, PEM), or use --tls opportunistic (encrypted, verification not enforced)' \
    "$(sed -n 2,\$p "$work/required_unknown.stderr")"
expect "--tls required without --cafile: only EHLO and STARTTLS in clear" $'EHLO client.test\r\nSTARTTLS\r\n|' \
    "$(session_field starttls 2 plain_hex)"
expect "--tls required without --cafile: nothing more spooled" 1 "$(spooled starttls)"

# 7, 8: opportunistic to loopback, unknown CA: delivered over unverified TLS
run_send auto_unknown --server "smtp://localhost:$starttls_port" --trace "${common[@]}"
expect "auto to loopback without --cafile: exit 0" 0 "$rc"
expect "auto to loopback without --cafile: spooled over STARTTLS" "starttls|" "$(spool_field starttls 2 tls)"
expect_true "auto to loopback without --cafile: the trace says the certificate was not verified" \
    grep -q '^\* TLS established: .*certificate NOT verified' "$work/auto_unknown.stderr"
run_send opportunistic --server "smtp://localhost:$starttls_port" --tls opportunistic "${common[@]}"
expect "--tls opportunistic without --cafile: exit 0" "0|" "$rc$err"
expect "--tls opportunistic without --cafile: spooled over STARTTLS" "starttls|" "$(spool_field starttls 3 tls)"

# 9: opportunistic, no STARTTLS offered
run_send opportunistic_plain --server "smtp://localhost:$plain_port" --tls opportunistic "${common[@]}"
expect "--tls opportunistic without STARTTLS: exit 0" "0|" "$rc$err"
expect "--tls opportunistic without STARTTLS: spooled in plaintext" "none|" "$(spool_field plain 1 tls)"

# 10: none
run_send none --server "smtp://localhost:$starttls_port" --tls none "${common[@]}"
expect "--tls none: exit 0" "0|" "$rc$err"
expect "--tls none: spooled in plaintext" "none|" "$(spool_field starttls 4 tls)"
expect "--tls none: no STARTTLS sent" "none|" "$(session_field starttls 5 tls)"

# 11: LMTP over a Unix socket, STARTTLS offered
run_send lmtp --server "lmtp://$work/lmtp.sock" --trace "${common[@]}"
expect "lmtp:///socket (auto) with STARTTLS offered: exit 0" 0 "$rc"
expect "lmtp:///socket: spooled in plaintext" "none|" "$(spool_field lmtp 1 tls)"
expect_true "lmtp:///socket: no STARTTLS sent" test "$(grep -c '^> STARTTLS' "$work/lmtp.stderr")" = 0

# 12: a certificate for another name
run_send wronghost --server "smtp://localhost:$wronghost_port" --tls required --cafile "$pki/ca.pem" "${common[@]}"
expect "certificate for another name: exit 69" 69 "$rc"
expect "certificate for another name: advice names --tls-server-name" \
    'smtpc-send: hint: the certificate does not name localhost; connect with a name it lists, or give that name with --tls-server-name NAME' \
    "$(sed -n 2,\$p "$work/wronghost.stderr")"
run_send server_name --server "smtp://localhost:$wronghost_port" --tls required --cafile "$pki/ca.pem" \
    --tls-server-name mail.example.org "${common[@]}"
expect "--tls-server-name the certificate's name: exit 0" "0|" "$rc$err"
expect "--tls-server-name: spooled over STARTTLS" "starttls|" "$(spool_field wronghost 1 tls)"

finish
