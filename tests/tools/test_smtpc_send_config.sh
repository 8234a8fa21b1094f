#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smtpc-send's configuration file (issue 15), against aiosmtpd: accounts, defaults, "account default",
# -C and -a, command-line options over the file, password_command, errors with file and line, exit 78.
#   1. -C FILE, "account default : NAME": its host/port/from/helo -> delivered with them
#   2. -a OTHER: that account; keys it lacks from "defaults"
#   3. --server and -f on the command line override the file
#   4. user + password_command (first line of its output) -> AUTH with that password, delivered
#   5. password_command failing, and one that never prints (timeout 2) -> exit 78, nothing sent
#   6. errors -> exit 78 with FILE:LINE: a "password" key, an unknown key, a key outside a section,
#      a value missing, -a with an unknown account, tls with a bad value, a file writable by others
#   7. $XDG_CONFIG_HOME/smtpc/config read when there is no -C; 8. else ~/.config/smtpc/config
#   9. $SMTPC_SYSTEM_CONFIG read in place of /etc/smtpc.conf; empty: none (how every test here runs)
#
# Usage: test_smtpc_send_config.sh SMTPC_SEND SERVERS_DIR
send=$1
servers=$2
source "$(dirname "$0")/send_lib.sh"

aiosmtpd mx --auth user:pencil --auth-plaintext
mx=$port
n=0
cfg=$work/config
# conf TEXT: writes the configuration file, mode 0600.
conf() { printf '%s\n' "$1" > "$cfg"; chmod 600 "$cfg"; }
last() { json_field "$(printf '%s/mx/spool/msg-%06d.json' "$work" "$n")" "$1"; }

conf "# test
defaults
host 127.0.0.1
port $mx
tls off
helo client.test

account work
from work@example.org

account other
from other@example.org
helo other.test

account default : work"
run_send default -C "$cfg" b@example.org
n=$((n + 1))
expect "account default: exit 0" "0|" "$rc$err"
expect "account default: its from" "work@example.org|" "$(last mail_from)"
expect "account default: helo from defaults" "client.test|" "$(last helo)"

run_send other -C "$cfg" -a other b@example.org
n=$((n + 1))
expect "-a other: exit 0" "0|" "$rc$err"
expect "-a other: its from and helo" "other@example.org other.test|" "$(last mail_from | tr -d '|') $(last helo)"

run_send override -C "$cfg" -a other -f cli@example.org --helo cli.test b@example.org
n=$((n + 1))
expect "command line over the file: exit 0" "0|" "$rc$err"
expect "command line over the file: -f and --helo win" "cli@example.org cli.test|" "$(last mail_from | tr -d '|') $(last helo)"

conf "account auth
host 127.0.0.1
port $mx
tls off
user user
password_command printf 'pencil\\nsecond line\\n'
from a@example.org"
run_send auth -C "$cfg" -a auth --trace b@example.org
n=$((n + 1))
expect "password_command: exit 0" 0 "$rc"
expect_true "password_command: AUTH sent, redacted" grep -q '^> AUTH PLAIN \*\*\*\*$' "$work/auth.stderr"
expect "password_command: delivered" "a@example.org|" "$(last mail_from)"

conf "account auth
host 127.0.0.1
port $mx
user user
password_command exit 3"
run_send cmd_fails -C "$cfg" -a auth b@example.org
expect "password_command failing: exit 78" 78 "$rc"
expect "password_command failing: the message" "smtpc-send: $cfg: 'exit 3' failed (exit status 3)
|" "$err"

conf "account auth
host 127.0.0.1
port $mx
user user
timeout 2
password_command sleep 30"
run_send cmd_hangs -C "$cfg" -a auth b@example.org
expect "password_command that never prints, timeout 2: exit 78" 78 "$rc"
expect_true "password_command that never prints: given up within 10 s (${elapsed_ms} ms)" test "$elapsed_ms" -lt 10000
expect "nothing sent by the failed cases" "$n" "$(spooled mx)"

bad() {
    local want=$1 text=$2
    shift 2
    conf "$text"
    run_send bad -C "$cfg" "$@" b@example.org
    expect "config error ($want): exit 78" 78 "$rc"
    expect "config error: message" "smtpc-send: $cfg$want
|" "$err"
}
bad ":3: no secret belongs in this file: use password_file or password_command (oauth_token_command for a token)" \
    $'account a\nuser u\npassword secret'
bad ":2: unknown key 'hots'" $'account a\nhots x'
bad ":1: 'host' outside a 'defaults' or 'account' section" $'host x\naccount a'
bad ":2: 'port' needs a value" $'defaults\nport'
bad ": no account 'nope' (-a)" $'account a\nhost x' -a nope
bad ": no account 'gone' (account default)" $'account default : gone\naccount a'
bad ": tls takes required, opportunistic, off, implicit or auto, not 'yes'" $'defaults\ntls yes'
conf $'defaults\nhost 127.0.0.1'
chmod 666 "$cfg"
run_send writable -C "$cfg" b@example.org
expect "a file writable by others: exit 78" 78 "$rc"
expect "a file writable by others: the message" "smtpc-send: $cfg: writable by others (mode 666): anyone could change the commands it runs; chmod go-w it
|" "$err"
run_send missing -C "$work/none" b@example.org
expect "-C a missing file: exit 78" "78|smtpc-send: $work/none: cannot read: No such file or directory
|" "$rc|$err"

mkdir -p "$work/xdg/smtpc"
printf 'defaults\nhost 127.0.0.1\nport %s\ntls off\nfrom xdg@example.org\n' "$mx" > "$work/xdg/smtpc/config"
chmod 644 "$work/xdg/smtpc/config"
XDG_CONFIG_HOME=$work/xdg run_send xdg --helo client.test b@example.org
n=$((n + 1))
expect "\$XDG_CONFIG_HOME/smtpc/config (mode 644: no secret in it): exit 0" "0|" "$rc$err"
expect "\$XDG_CONFIG_HOME/smtpc/config: its from" "xdg@example.org|" "$(last mail_from)"

# 8. ~/.config/smtpc/config when XDG_CONFIG_HOME is unset (send_lib.sh makes HOME an empty directory)
mkdir -p "$HOME/.config/smtpc"
printf 'defaults\nhost 127.0.0.1\nport %s\ntls off\nfrom home@example.org\n' "$mx" > "$HOME/.config/smtpc/config"
run_send home --helo client.test b@example.org
n=$((n + 1))
expect "~/.config/smtpc/config: exit 0, its from" "0|home@example.org|" "$rc$err$(last mail_from)"
rm -r "$HOME/.config"

# 9. $SMTPC_SYSTEM_CONFIG in place of /etc/smtpc.conf; empty (as send_lib.sh sets it): no file at all
printf 'defaults\nhost 127.0.0.1\nport %s\ntls off\nfrom system@example.org\n' "$mx" > "$work/system.conf"
SMTPC_SYSTEM_CONFIG=$work/system.conf run_send system --helo client.test b@example.org
n=$((n + 1))
expect "\$SMTPC_SYSTEM_CONFIG: exit 0, its from" "0|system@example.org|" "$rc$err$(last mail_from)"
run_send no_file -a work b@example.org
expect "SMTPC_SYSTEM_CONFIG empty and no user file: -a has no file, exit 78" "78|smtpc-send: -a work: there is no configuration file (-C FILE, \$XDG_CONFIG_HOME/smtpc/config, ~/.config/smtpc/config or /etc/smtpc.conf)
|" "$rc|$err"

finish
