#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Counts the system calls a comparison client makes per message against Postfix's smtp-sink, and its
# CPU time per message (strace -c -f, then /usr/bin/time without strace). See docs/performance.md.
#
# usage: bench/compare/syscalls.sh BUILD_DIR [CLIENT...]
#   BUILD_DIR: a build with -DSMTPC_BUILD_BENCH=ON; CLIENT: programs in BUILD_DIR/bench (default
#   smtpc-bench-client bench-raw-client)
# env: COUNT (2000) messages; SIZE (1024) body bytes; ONE_CPU (1): client and sink on CPU 0.
# Needs: postfix (smtp-sink), strace, /usr/bin/time (package time), python3.
set -euo pipefail

BUILD="${1:?usage: syscalls.sh BUILD_DIR [CLIENT...]}"
shift
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(smtpc-bench-client bench-raw-client)
COUNT="${COUNT:-2000}"
SIZE="${SIZE:-1024}"
ONE_CPU="${ONE_CPU:-1}"

SINK="$(command -v smtp-sink || echo /usr/sbin/smtp-sink)"
[ -x "$SINK" ] || { echo "smtp-sink not found (apt-get install postfix)" >&2; exit 1; }
command -v strace >/dev/null || { echo "strace not found (apt-get install strace)" >&2; exit 1; }
pin=()
[ "$ONE_CPU" = 1 ] && command -v taskset >/dev/null && pin=(taskset -c 0)

tmp="$(mktemp -d)"
sink_pid=""
cleanup() { [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

port="$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
sink_args=(-a -C)
[ "$(id -u)" = 0 ] && sink_args+=(-u nobody)
"${pin[@]}" "$SINK" "${sink_args[@]}" "127.0.0.1:$port" 1000 &
sink_pid=$!
for _ in $(seq 100); do
  /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null && break
  sleep 0.1
done

for c in "${clients[@]}"; do
  bin="$BUILD/bench/$c"
  [ -x "$bin" ] || { echo "# $c: not built, skipped" >&2; continue; }
  # The calls of the whole run (start-up, connect and EHLO included) divided by the messages: with
  # 2000 messages the fixed part adds under 0.1 per message.
  strace -c -f -o "$tmp/strace" "${pin[@]}" "$bin" 127.0.0.1 "$port" "$COUNT" "$SIZE" >/dev/null
  echo "== $c: $COUNT messages of $SIZE bytes: system calls per message"
  awk -v n="$COUNT" '$NF ~ /^[a-z_0-9]+$/ && $1 ~ /^[0-9.]+$/ && $NF != "total" {
      cnt[$NF] = $4; tot += $4 }  # columns: %time seconds usecs/call calls [errors] syscall
    END { for (s in cnt) if (cnt[s] / n >= 0.05) printf "  %-12s %6.2f\n", s, cnt[s] / n; printf "  %-12s %6.2f\n", "total", tot / n }' \
    "$tmp/strace" | sort -k2 -g -r
  /usr/bin/time -f "%U %S" -o "$tmp/time" "${pin[@]}" "$bin" 127.0.0.1 "$port" "$COUNT" "$SIZE" >"$tmp/out"
  read -r u s <"$tmp/time"
  xfer="$(sed -n 's/^xfer_seconds=//p' "$tmp/out")"
  awk -v u="$u" -v s="$s" -v n="$COUNT" -v t="${xfer:-0}" 'BEGIN {
      printf "  cpu: %.1f us/message (user %.1f, system %.1f); %s msg/s\n", (u + s) * 1e6 / n, u * 1e6 / n,
             s * 1e6 / n, (t > 0 ? sprintf("%.0f", n / t) : "?") }'
done
