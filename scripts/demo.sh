#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Demo: build smtpc, start an aiosmtpd SMTP server on a free loopback port with a Maildir spool that
# offers STARTTLS with a self-signed certificate (as a stock local server does: Debian's Postfix has
# its "snakeoil" one), send a real message through it with the smtpc-send tool and no option but the
# server (protocol trace on), show the message as the server stored it, and stop the server.
# smtpc's default TLS policy takes STARTTLS to a server on this machine, verifies the certificate and
# records that it could not be verified, and goes on encrypted (docs/tls.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
python=/usr/bin/python3 # Debian's interpreter, which has python3-aiosmtpd

bash scripts/install-deps.sh

echo "=== building smtpc-send ($build_dir)"
cmake -S . -B "$build_dir" -DPython3_EXECUTABLE="$python" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc 2>/dev/null || echo 2)" --target smtpc-send >/dev/null
send=$build_dir/tools/smtpc-send
"$send" --version

work=$(mktemp -d "${TMPDIR:-/tmp}/smtpc-demo.XXXXXX")
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_open() {
    "$python" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()' "$1" \
        2>/dev/null
}

# A self-signed certificate for the server, made fresh for this run.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" -keyout "$work/server.key" \
    -out "$work/server.pem" 2>/dev/null

# Start aiosmtpd; retry with another port if the free one got taken meanwhile.
for attempt in 1 2 3; do
    port=$(free_port)
    "$python" -m aiosmtpd -n -l "127.0.0.1:$port" --tlscert "$work/server.pem" --tlskey "$work/server.key" \
        -c aiosmtpd.handlers.Mailbox "$work/Maildir" >"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 50); do
        if port_open "$port"; then break; fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null && port_open "$port"; then break; fi
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    echo "server did not start on port $port (attempt $attempt)"
done
[[ -n $server_pid ]] || { cat "$work/server.log"; exit 1; }
echo "=== aiosmtpd listening on 127.0.0.1:$port (STARTTLS required, self-signed certificate), spool $work/Maildir"

cat >"$work/message.eml" <<MSG
From: Demo Sender <sender@example.org>
To: Alice <alice@example.org>, Bob <bob@example.org>
Subject: Hello from smtpc $("$send" --version | head -n 1 | awk '{print $NF}')
Date: $(LC_ALL=C date -R)
Message-ID: <demo.$$.$(date +%s)@example.org>

This message was sent by scripts/demo.sh through the smtpc library.
.A line starting with a dot is dot-stuffed on the wire and restored by the server.
MSG

echo "=== smtpc-send --server smtp://127.0.0.1:$port -f sender@example.org alice@example.org bob@example.org"
status=0
"$send" --server "smtp://127.0.0.1:$port" -f sender@example.org --trace \
    alice@example.org bob@example.org <"$work/message.eml" || status=$?
echo "=== smtpc-send exited with status $status"
[[ $status -eq 0 ]] || exit "$status"

echo "=== the message as the server stored it"
stored=$(find "$work/Maildir/new" -type f | head -n 1)
[[ -n $stored ]] || { echo "no message arrived"; exit 1; }
cat "$stored"
echo "=== done; stopping the server"
