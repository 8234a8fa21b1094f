#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send's delivery options (docs/extensions.md) against aiosmtpd:
#   1. --dsn-notify, --dsn-ret, --dsn-envid to a server offering DSN: exit 0; RET, ENVID (xtext) on
#      MAIL FROM, NOTIFY and ORCPT (each recipient's own address) on each RCPT TO, byte for byte
#   2. the same to a server without DSN: exit 69, a message naming DSN, nothing but EHLO and QUIT
#   3. sendmail's -N, -R, -V to the server without DSN: left out as sendmail does, exit 0
#   4. -N, -R, -V to the server with DSN: as the --dsn-* options (ORCPT from each recipient)
#   5. --priority, --deliver-by, --hold-for, --hold-until, --requiretls to a server offering none
#      of them: exit 69 (69 or 76 for --requiretls: STARTTLS is required), naming the extension,
#      nothing sent after EHLO
#
# Usage: test_smtpc_send_extensions.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

aiosmtpd dsn --ehlo-extra DSN
dsn_port=$port
aiosmtpd plain
plain_port=$port

run_send dsn --server "smtp://127.0.0.1:$dsn_port" --helo client.test -f a@example.org \
    --dsn-notify success,failure --dsn-ret hdrs --dsn-envid "id+1=x y" b+1@example.org c@example.org
expect "DSN offered: exit 0" 0 "$rc"
expect "DSN offered: RET and ENVID (xtext) on MAIL FROM" \
    "SIZE=${#msg} RET=HDRS ENVID=id+2B1+3Dx+20y|" \
    "$(json_field "$work/dsn/spool/msg-000001.json" mail_options_hex)"
expect "DSN offered: NOTIFY and ORCPT on each RCPT TO" \
    '[["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;b+2B1@example.org"], ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;c@example.org"]]|' \
    "$(json_field "$work/dsn/spool/msg-000001.json" rcpt_options)"

run_send nodsn --server "smtp://127.0.0.1:$plain_port" --helo client.test -f a@example.org \
    --dsn-notify never b@example.org
expect "DSN not offered: exit 69" 69 "$rc"
case "$err" in
*DSN*) ok "DSN not offered: the message names DSN" ;;
*) not_ok "DSN not offered: the message names DSN: $err" ;;
esac
expect "DSN not offered: only EHLO and QUIT sent" $'EHLO client.test\r\nQUIT\r\n|' \
    "$(json_field "$work/plain/sessions/session-000001.json" raw_hex)"

run_send sendmail_dsn --server "smtp://127.0.0.1:$plain_port" --helo client.test -f a@example.org \
    -N success -R full -V env1 b@example.org
expect "-N -R -V without DSN offered: exit 0 (left out, as sendmail)" 0 "$rc"
expect "-N -R -V without DSN offered: MAIL FROM without them" "[\"SIZE=${#msg}\"]|" \
    "$(json_field "$work/plain/spool/msg-000001.json" mail_options)"

run_send sendmail_dsn2 --server "smtp://127.0.0.1:$dsn_port" --helo client.test -f a@example.org \
    -N never -R full -V env1 b@example.org
expect "-N -R -V with DSN offered: exit 0" 0 "$rc"
expect "-N -R -V with DSN offered: RET and ENVID" "[\"SIZE=${#msg}\", \"RET=FULL\", \"ENVID=env1\"]|" \
    "$(json_field "$work/dsn/spool/msg-000002.json" mail_options)"
expect "-N -R -V with DSN offered: NOTIFY and ORCPT" '[["NOTIFY=NEVER", "ORCPT=rfc822;b@example.org"]]|' \
    "$(json_field "$work/dsn/spool/msg-000002.json" rcpt_options)"

n=2
for opt in "--priority 5:MT-PRIORITY" "--deliver-by 600:DELIVERBY" "--hold-for 60:FUTURERELEASE" \
    "--hold-until 2030-01-01T00:00:00Z:FUTURERELEASE"; do
    args=${opt%:*}
    name=${opt##*:}
    n=$((n + 1))
    # shellcheck disable=SC2086
    run_send "no_$n" --server "smtp://127.0.0.1:$plain_port" --helo client.test -f a@example.org $args b@example.org
    expect "$args not offered: exit 69" 69 "$rc"
    case "$err" in
    *"$name"*) ok "$args not offered: the message names $name" ;;
    *) not_ok "$args not offered: the message names $name: $err" ;;
    esac
    expect "$args not offered: only EHLO and QUIT sent" $'EHLO client.test\r\nQUIT\r\n|' \
        "$(json_field "$work/plain/sessions/session-$(printf %06d $n).json" raw_hex)"
done

run_send requiretls --server "smtp://127.0.0.1:$plain_port" --helo client.test -f a@example.org \
    --requiretls b@example.org
expect "--requiretls without STARTTLS: exit 69" 69 "$rc"
case "$err" in
*STARTTLS*) ok "--requiretls without STARTTLS: the message names STARTTLS" ;;
*) not_ok "--requiretls without STARTTLS: the message names STARTTLS: $err" ;;
esac
expect "--requiretls without STARTTLS: only EHLO sent" $'EHLO client.test\r\n|' \
    "$(json_field "$work/plain/sessions/session-000007.json" raw_hex)"
run_send ret_only --server "smtp://127.0.0.1:$dsn_port" --helo client.test -f a@example.org --dsn-ret full \
    b@example.org
expect "--dsn-ret alone: exit 0" 0 "$rc"
expect "--dsn-ret alone: ORCPT all the same" '[["ORCPT=rfc822;b@example.org"]]|' \
    "$(json_field "$work/dsn/spool/msg-000003.json" rcpt_options)"
expect "-N -R -V without DSN offered: RCPT TO without them" '[[]]|' \
    "$(json_field "$work/plain/spool/msg-000001.json" rcpt_options)"
expect "nothing spooled by the refusals" 1 "$(spooled plain)"

finish
