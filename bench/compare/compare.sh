#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the comparison clients side by side (bench/compare/README.md) and writes one CSV line per run.
#
# usage: bench/compare/compare.sh [BUILD_DIR] [OUT_CSV]
#   BUILD_DIR: a build with -DSMTPC_BUILD_BENCH=ON (default: build-bench, configured and built here)
#   OUT_CSV:   default bench/results/compare.csv (overwritten)
# env: COUNT (2000) messages per run on smtp-sink; SIZE (1024) body bytes; DELAY (0.005) seconds the
#      round-trip sinks wait before each turn; DELAY_COUNT (200) messages per run on those sinks;
#      BIG_SIZE (67108864) for the large-message run; REPEAT (3) runs per case, the median is kept;
#      ONE_CPU (1): pin client and smtp-sink to CPU 0 with taskset, as the targets are stated.
# Needs: postfix (smtp-sink), python3, taskset (util-linux), /usr/bin/time (package time).
set -euo pipefail

SRC="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${1:-$SRC/build-bench}"
OUT="${2:-$SRC/bench/results/compare.csv}"
COUNT="${COUNT:-2000}"
SIZE="${SIZE:-1024}"
DELAY="${DELAY:-0.005}"
DELAY_COUNT="${DELAY_COUNT:-200}"
BIG_SIZE="${BIG_SIZE:-67108864}"
REPEAT="${REPEAT:-3}"
ONE_CPU="${ONE_CPU:-1}"

if [ ! -x "$BUILD/bench/smtpc-bench-client" ]; then
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSMTPC_BUILD_BENCH=ON -DSMTPC_BUILD_TESTS=OFF \
    -DSMTPC_BUILD_EXAMPLES=OFF -DSMTPC_INSTALL=OFF -DSMTPC_BUILD_PYTHON=OFF >/dev/null
fi
cmake --build "$BUILD" -j "$(nproc)" --target smtpc-bench-client bench-raw-client >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target bench-libesmtp-client >/dev/null 2>&1 || true
cmake --build "$BUILD" -j "$(nproc)" --target bench-libcurl-client >/dev/null 2>&1 || true

clients=()
for c in smtpc-bench-client bench-libesmtp-client bench-libcurl-client bench-raw-client; do
  if [ -x "$BUILD/bench/$c" ]; then clients+=("$c"); else echo "# $c not built (missing library): skipped" >&2; fi
done

SINK="$(command -v smtp-sink || echo /usr/sbin/smtp-sink)"
[ -x "$SINK" ] || { echo "smtp-sink not found (apt-get install postfix)" >&2; exit 1; }
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "/usr/bin/time not found (apt-get install time)" >&2; exit 1; }
pin=()
[ "$ONE_CPU" = 1 ] && command -v taskset >/dev/null && pin=(taskset -c 0)

tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2).close()" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2; exit 1
}

# Postfix's smtp-sink: PIPELINING, no CHUNKING, answers as fast as it can.
SINK_PORT="$(free_port)"
sink_args=(-a -C)
[ "$(id -u)" = 0 ] && sink_args+=(-u nobody)
"${pin[@]}" "$SINK" "${sink_args[@]}" "127.0.0.1:$SINK_PORT" 1000 & pids+=($!)
wait_port "$SINK_PORT"

# Our round-trip counting sinks: one plain, one offering CHUNKING.
start_rt_sink() {  # name extra-args...
  local name=$1; shift
  /usr/bin/python3 "$SRC/bench/compare/sink.py" --delay "$DELAY" --stats "$tmp/$name.stats" "$@" >"$tmp/$name.ready" &
  pids+=($!)
  for _ in $(seq 100); do grep -q READY "$tmp/$name.ready" 2>/dev/null && break; sleep 0.1; done
  awk '{print $2}' "$tmp/$name.ready"
}
RT_PORT="$(start_rt_sink rt)"
CHUNK_PORT="$(start_rt_sink chunk --chunking)"

mkdir -p "$(dirname "$OUT")"
echo "sink,client,count,size,status,xfer_seconds,msg_per_s,mb_per_s,round_trips_per_message,cpu_seconds,max_rss_kb" >"$OUT"

# run SINKNAME PORT CLIENT COUNT SIZE STATSFILE -> one CSV line (median xfer_seconds of REPEAT runs)
run() {
  local sink=$1 port=$2 client=$3 count=$4 size=$5 stats=$6 lines=()
  for _ in $(seq "$REPEAT"); do
    [ -n "$stats" ] && : >"$stats"
    local status=0
    "$TIME" -f "%U %S %M" -o "$tmp/time" "${pin[@]}" "$BUILD/bench/$client" 127.0.0.1 "$port" "$count" "$size" \
      >"$tmp/out" 2>"$tmp/err" || status=$?
    sleep 0.2  # the sink writes its stats line when the connection closes
    local xfer cpu rss rt="" mps mbps
    xfer="$(sed -n 's/^xfer_seconds=//p' "$tmp/out")"
    read -r u s rss <"$tmp/time"
    cpu="$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')"
    [ -n "$stats" ] && [ -s "$stats" ] && rt="$(/usr/bin/python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["round_trips_per_message"] or "")' "$stats")"
    mps="$(awk -v n="$count" -v t="${xfer:-0}" 'BEGIN { if (t > 0) printf "%.1f", n / t; else print "" }')"
    mbps="$(awk -v n="$count" -v s="$size" -v t="${xfer:-0}" 'BEGIN { if (t > 0) printf "%.1f", n * s / t / 1e6; else print "" }')"
    [ "$status" = 0 ] || cat "$tmp/err" >&2
    lines+=("$sink,$client,$count,$size,$status,${xfer:-},$mps,$mbps,$rt,$cpu,$rss")
  done
  printf '%s\n' "${lines[@]}" | sort -t, -k6 -g | sed -n "$(( (REPEAT + 1) / 2 ))p" | tee -a "$OUT"
}

echo "# $(nproc) cores, $(uname -sr); commit $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)" >&2
for c in "${clients[@]}"; do run smtp-sink "$SINK_PORT" "$c" "$COUNT" "$SIZE" ""; done
for c in "${clients[@]}"; do run delay-sink "$RT_PORT" "$c" "$DELAY_COUNT" "$SIZE" "$tmp/rt.stats"; done
for c in "${clients[@]}"; do run chunking-sink "$CHUNK_PORT" "$c" "$DELAY_COUNT" "$SIZE" "$tmp/chunk.stats"; done
for c in smtpc-bench-client bench-raw-client; do run smtp-sink-big "$SINK_PORT" "$c" 1 "$BIG_SIZE" ""; done
echo "# results in $OUT; chart: bench/compare/chart.py $OUT" >&2
