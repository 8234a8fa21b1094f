# SPDX-License-Identifier: MIT
# Helpers for the smtpc-send tests (sourced, never run): servers started here on loopback and
# stopped on exit, every wait bounded, exact comparisons of exit status, output and transcript.
#
# The sourcing script sets $send (the smtpc-send program) and $servers (tests/servers) first.
# Results are printed TAP-like ("ok - ...", "not ok - ..."); finish() prints the counts and sets the
# exit status.
set -uo pipefail

python=/usr/bin/python3
if [[ ! -x $python ]] || ! "$python" -c 'import ssl' 2> /dev/null; then
    echo "SKIP: /usr/bin/python3 with the ssl module is needed for the test servers"
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/smtpc-send-test.XXXXXX")
# No configuration file of the machine or its user may change what is tested: an empty HOME, no
# XDG_CONFIG_HOME, and SMTPC_SYSTEM_CONFIG empty for no /etc/smtpc.conf (see smtpc-send(1)).
mkdir "$work/home"
export HOME=$work/home SMTPC_SYSTEM_CONFIG=
unset XDG_CONFIG_HOME
pids=()
passed=0
failed=0

cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do
            kill -0 "$pid" 2> /dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2> /dev/null
        wait "$pid" 2> /dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT

# The test PKI: $SMTPC_TEST_PKI_DIR (ctest fixture tls_pki), else made here. Sets $pki.
need_pki() {
    pki=${SMTPC_TEST_PKI_DIR:-}
    if [[ -z $pki || ! -f $pki/server.pem ]]; then
        pki=$work/pki
        if [[ ! -d $pki ]]; then
            command -v openssl > /dev/null || { echo "SKIP: openssl is needed to make the test PKI"; exit 77; }
            mkdir -m 700 "$pki"
            bash "$servers/make_test_pki.sh" "$pki" > "$work/pki.log" 2>&1 || { echo "make_test_pki.sh failed"; exit 1; }
        fi
    fi
}

# wait_ready FILE: up to 20 s for "READY X" in FILE; sets $ready to X.
wait_ready() {
    ready=
    for _ in $(seq 200); do
        ready=$(sed -n 's/^READY \(.*\)$/\1/p' "$1")
        [[ -n $ready ]] && return 0
        sleep 0.1
    done
    echo "server did not start: $(cat "$1")"
    exit 1
}

# fault NAME [fault_server.py options...] < SCRIPT: starts the fault server on the JSON script read
# from standard input, accepting one connection. Sets $port (or the socket path with --unix).
fault() {
    local name=$1
    shift
    cat > "$work/$name.json"
    "$python" "$servers/fault_server.py" --script "$work/$name.json" --transcript "$work/$name.transcript" \
        --log "$work/$name.log" --max-time 60 "$@" > "$work/$name.out" < /dev/null &
    pids+=($!)
    wait_ready "$work/$name.out"
    port=$ready
}

# fault_done NAME: up to 20 s for the fault server to finish; prints its DONE status (0 when every
# step ran as scripted) or "none". The transcript is complete once it is done.
fault_done() {
    local done=
    for _ in $(seq 200); do
        done=$(sed -n 's/^DONE \([0-9]*\)$/\1/p' "$work/$1.out")
        [[ -n $done ]] && break
        sleep 0.1
    done
    echo "${done:-none}"
}

# transcript NAME: the bytes the fault server received, with a final "|" so that $(...) keeps the
# line ends. Call after fault_done.
transcript() {
    cat "$work/$1.transcript"
    printf '|'
}

# aiosmtpd NAME [aiosmtpd_server.py options...]: starts aiosmtpd with spool and session directories
# $work/NAME/spool and $work/NAME/sessions. Sets $port (or the socket path with --unix).
aiosmtpd() {
    local name=$1
    shift
    "$python" -c 'import aiosmtpd' 2> /dev/null || { echo "SKIP: python3-aiosmtpd is not installed"; exit 77; }
    mkdir -p "$work/$name/spool" "$work/$name/sessions"
    "$python" "$servers/aiosmtpd_server.py" --spool "$work/$name/spool" --sessions "$work/$name/sessions" "$@" \
        > "$work/$name/out" 2> "$work/$name/log" < /dev/null &
    pids+=($!)
    wait_ready "$work/$name/out"
    port=$ready
}

# spooled NAME: number of messages aiosmtpd NAME has spooled.
spooled() { compgen -G "$work/$1/spool/msg-*.json" | wc -l; }

# json_field GLOB KEY: field KEY of the one JSON file matching GLOB (waiting up to 10 s for it; the
# session record is written when the connection closes). Hex fields (KEY ending in _hex) are
# decoded; lists are printed as JSON. A final "|" keeps the line ends.
json_field() {
    for _ in $(seq 100); do
        compgen -G "$1" > /dev/null && break
        sleep 0.1
    done
    "$python" - "$1" "$2" << 'EOF'
import glob, json, sys
files = sorted(glob.glob(sys.argv[1]))
if len(files) != 1:
    sys.exit("expected one file for %s, found %d" % (sys.argv[1], len(files)))
value = json.load(open(files[0]))[sys.argv[2]]
if sys.argv[2].endswith("_hex"):
    sys.stdout.buffer.write(bytes.fromhex(value) + b"|")
elif isinstance(value, str):
    sys.stdout.buffer.write(value.encode("utf-8") + b"|")
else:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "|")
EOF
}

# run_send NAME ARGS...: runs smtpc-send with $msg on standard input (60 s at most). Sets $rc,
# $out and $err (stdout and stderr, each with a final "|"), and $elapsed_ms. Raw bytes are kept in
# $work/NAME.stdout and $work/NAME.stderr.
msg=$'From: a@example.org\r\nTo: b@example.org\r\nSubject: smtpc-send test\r\n\r\nhello\r\n'
run_send() {
    local name=$1 start end
    shift
    start=$(date +%s%N)
    printf '%s' "$msg" | timeout 60 "$send" "$@" > "$work/$name.stdout" 2> "$work/$name.stderr"
    rc=$?
    end=$(date +%s%N)
    elapsed_ms=$(((end - start) / 1000000))
    out=$(cat "$work/$name.stdout"; printf '|')
    err=$(cat "$work/$name.stderr"; printf '|')
}

ok() {
    echo "ok - $1"
    passed=$((passed + 1))
}

not_ok() {
    echo "not ok - $1"
    failed=$((failed + 1))
}

# expect DESCRIPTION EXPECTED ACTUAL: exact comparison; on failure both are shown with bytes escaped.
expect() {
    if [[ $2 == "$3" ]]; then
        ok "$1"
    else
        not_ok "$1"
        printf '#   expected: %q\n#   actual:   %q\n' "$2" "$3"
    fi
}

# expect_true DESCRIPTION COMMAND...: the command succeeds.
expect_true() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# no_control FILE: FILE has no control byte other than LF, and no C1 control (raw or UTF-8 encoded).
no_control() {
    "$python" - "$1" << 'EOF'
import re, sys
data = open(sys.argv[1], "rb").read()
bad = re.search(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", data)
if bad:
    sys.stdout.write("#   control byte at offset %d: %r\n" % (bad.start(), data[max(0, bad.start() - 20):bad.end() + 20]))
    sys.exit(1)
try:
    text = data.decode("utf-8")
except UnicodeDecodeError as e:
    sys.stdout.write("#   not UTF-8: %s\n" % e)
    sys.exit(1)
if re.search("[\x80-\x9f]", text):
    sys.exit(1)
EOF
}

finish() {
    echo "$passed passed, $failed failed"
    [[ $failed == 0 ]]
    exit
}
