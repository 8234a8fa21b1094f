#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Many connections from one thread (smtpc-bench-multi, on examples/smtp_pool.c) against the best
# single connection (smtpc-bench-client, the message queue), both sending to Postfix's smtp-sink;
# docs/performance.md, "Many connections".
#
# usage: bench/compare/multi.sh [BUILD_DIR] [OUT_CSV]
#   BUILD_DIR: a build with -DSMTPC_BUILD_BENCH=ON (default: build-bench, configured and built here)
#   OUT_CSV:   default bench/results/multi.csv (overwritten)
# env: COUNT (20000) messages per run; SIZE (1024) body bytes; CONNECTIONS (200); REPEAT (3) runs
#      per case, the median (by messages per second) is kept; SWEEP ("1 4 16 64 200"): connection
#      counts for a last series, one sink, unpinned and then client CPU 0 / sink CPU 1 (SWEEP= to
#      skip it).
#
# Cases: the single connection and the CONNECTIONS connections, each with the client and the sink
# on separate CPUs (taskset: client CPU 0, sink CPU 1), sharing one CPU (both on CPU 0), and free
# (no pinning); then CONNECTIONS connections spread over two smtp-sink processes (one per CPU, the
# client free), to see past a single-process sink. For each run: messages per second (wall time
# from the first connect of the multi client, from after EHLO for the single one), the client's CPU
# per message (user + system, /usr/bin/time) and the sinks' (from /proc/PID/stat).
# Needs: postfix (smtp-sink), python3, taskset (util-linux), /usr/bin/time (package time).
set -euo pipefail

SRC="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${1:-$SRC/build-bench}"
OUT="${2:-$SRC/bench/results/multi.csv}"
COUNT="${COUNT:-20000}"
SIZE="${SIZE:-1024}"
CONNECTIONS="${CONNECTIONS:-200}"
REPEAT="${REPEAT:-3}"
SWEEP="${SWEEP-1 4 16 64 200}"

if [ ! -x "$BUILD/bench/smtpc-bench-multi" ]; then
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSMTPC_BUILD_BENCH=ON -DSMTPC_BUILD_TESTS=OFF \
    -DSMTPC_BUILD_EXAMPLES=OFF -DSMTPC_INSTALL=OFF -DSMTPC_BUILD_PYTHON=OFF >/dev/null
fi
cmake --build "$BUILD" -j "$(nproc)" --target smtpc-bench-client smtpc-bench-multi >/dev/null

SINK="$(command -v smtp-sink || echo /usr/sbin/smtp-sink)"
[ -x "$SINK" ] || { echo "smtp-sink not found (apt-get install postfix)" >&2; exit 1; }
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "/usr/bin/time not found (apt-get install time)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset not found (util-linux)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "needs 2 CPUs (the client and the sink on separate ones)" >&2; exit 1; }

# Each connection is a descriptor on both sides; smtp-sink's listen backlog is its last argument.
max_conns=$CONNECTIONS
for c in $SWEEP; do [ "$c" -gt "$max_conns" ] && max_conns=$c; done
ulimit -n $((max_conns * 2 + 256))
BACKLOG=$((max_conns + 100))

tmp="$(mktemp -d)"
sink_pids=()
cleanup() { for p in "${sink_pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2).close()" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2; exit 1
}
sink_args=(-a -C)
[ "$(id -u)" = 0 ] && sink_args+=(-u nobody)
start_sink() {  # cpu-list port: starts smtp-sink (PIPELINING, no CHUNKING), appends its pid
  taskset -c "$1" "$SINK" "${sink_args[@]}" "127.0.0.1:$2" "$BACKLOG" &
  sink_pids+=($!)
  wait_port "$2"
}
stop_sinks() { for p in "${sink_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; sink_pids=(); }
sink_ticks() {  # utime + stime of every sink, in clock ticks
  local t=0 p f
  for p in "${sink_pids[@]}"; do
    read -r -a f <"/proc/$p/stat"
    t=$((t + f[13] + f[14]))
  done
  echo "$t"
}
HZ="$(getconf CLK_TCK)"

mkdir -p "$(dirname "$OUT")"
echo "case,client_cpus,sink_cpus,connections,count,size,status,seconds,msg_per_s,client_cpu_us_per_msg,sink_cpu_us_per_msg" >"$OUT"

run() {  # case client-cpus sink-cpus ports-csv connections
  local name=$1 ccpu=$2 scpu=$3 ports=$4 conns=$5 lines=() pin=()
  [ "$ccpu" != all ] && pin=(taskset -c "$ccpu")
  for _ in $(seq "$REPEAT"); do
    local before after status=0 out secs cpu
    before="$(sink_ticks)"
    if [ "$name" = single ]; then
      out="$("$TIME" -f 'cpu=%U %S' -o "$tmp/time" "${pin[@]}" "$BUILD/bench/smtpc-bench-client" 127.0.0.1 "$ports" "$COUNT" "$SIZE")" || status=$?
    else
      out="$("$TIME" -f 'cpu=%U %S' -o "$tmp/time" "${pin[@]}" "$BUILD/bench/smtpc-bench-multi" 127.0.0.1 "$ports" "$conns" "$COUNT" "$SIZE")" || status=$?
    fi
    after="$(sink_ticks)"
    secs="$(echo "$out" | sed -n 's/^xfer_seconds=//p')"
    cpu="$(sed -n 's/^cpu=//p' "$tmp/time" | awk '{print $1 + $2}')"
    lines+=("$(awk -v n="$name" -v cc="$ccpu" -v sc="$scpu" -v c="$conns" -v k="$COUNT" -v z="$SIZE" -v st="$status" \
      -v s="${secs:-0}" -v cpu="${cpu:-0}" -v d="$((after - before))" -v hz="$HZ" \
      'BEGIN { printf "%s,%s,%s,%s,%s,%s,%s,%.3f,%.0f,%.1f,%.1f\n", n, cc, sc, c, k, z, st, s, (s > 0 ? k / s : 0), cpu * 1e6 / k, d / hz * 1e6 / k }')")
  done
  # the median by messages per second
  printf '%s\n' "${lines[@]}" | sort -t, -k9,9n | sed -n "$(((REPEAT + 1) / 2))p" | tee -a "$OUT"
}

P1="$(free_port)"
start_sink 1 "$P1"
run single 0 1 "$P1" 1
run multi 0 1 "$P1" "$CONNECTIONS"
stop_sinks
start_sink 0 "$P1"
run single 0 0 "$P1" 1
run multi 0 0 "$P1" "$CONNECTIONS"
stop_sinks
start_sink 0,1 "$P1"
run single all all "$P1" 1
run multi all all "$P1" "$CONNECTIONS"
stop_sinks
P2="$(free_port)"
start_sink 0 "$P1"
start_sink 1 "$P2"
run multi-2-sinks all "0;1" "$P1,$P2" "$CONNECTIONS"
stop_sinks
if [ -n "$SWEEP" ]; then
  start_sink 0,1 "$P1"
  for c in $SWEEP; do run "sweep-$c" all all "$P1" "$c"; done
  stop_sinks
  # The same series with the client and the sink on separate CPUs: which side saturates first.
  start_sink 1 "$P1"
  for c in $SWEEP; do run "sweep-$c" 0 1 "$P1" "$c"; done
  stop_sinks
fi
echo "written: $OUT" >&2
