#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every benchmark: the core micro-benchmarks (Google Benchmark) and the end-to-end sendmail
# benchmark through the C API against Postfix's smtp-sink, pipelining on and off, with Python's
# smtplib as a reference. Figures and how to read them: docs/performance.md.
#
# usage: bench/run.sh [BUILD_DIR]      (default: build-bench in the source tree)
# env:   REPEAT (3) runs per end-to-end case, the median is reported;
#        MESSAGES (1000) messages per small-message case; SIZE (10240) their size in bytes;
#        BIG_MESSAGES (100) and BIG_SIZE (1048576) for the large-message case;
#        SKIP_CORE=1 / SKIP_E2E=1 to skip a part.
# Needs: cmake, a C/C++ compiler, libbenchmark-dev (else bench_core is skipped), postfix (smtp-sink),
#        /usr/bin/python3.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$SRC/build-bench}"
REPEAT="${REPEAT:-3}"
MESSAGES="${MESSAGES:-1000}"
SIZE="${SIZE:-10240}"
BIG_MESSAGES="${BIG_MESSAGES:-100}"
BIG_SIZE="${BIG_SIZE:-1048576}"

cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSMTPC_BUILD_BENCH=ON -DSMTPC_BUILD_TESTS=OFF \
  -DSMTPC_BUILD_EXAMPLES=OFF -DSMTPC_INSTALL=OFF >/dev/null
cmake --build "$BUILD" --target bench_sendmail -j "$(nproc)" >/dev/null
HAVE_CORE=0
if cmake --build "$BUILD" --target bench_core -j "$(nproc)" >/dev/null 2>&1; then HAVE_CORE=1; fi

echo "# machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "# commit: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)"

if [ "${SKIP_CORE:-0}" != 1 ]; then
  if [ "$HAVE_CORE" = 1 ]; then
    echo "## core micro-benchmarks"
    "$BUILD/bench/bench_core" --benchmark_repetitions="$REPEAT" --benchmark_report_aggregates_only=true \
      --benchmark_counters_tabular=true
  else
    echo "## core micro-benchmarks skipped: Google Benchmark not found (apt-get install libbenchmark-dev)"
  fi
fi

[ "${SKIP_E2E:-0}" = 1 ] && exit 0

SINK="$(command -v smtp-sink || true)"
[ -n "$SINK" ] || [ ! -x /usr/sbin/smtp-sink ] || SINK=/usr/sbin/smtp-sink
if [ -z "$SINK" ]; then
  echo "smtp-sink not found (apt-get install postfix)" >&2
  exit 1
fi

# A free loopback port: bind to port 0 and take what the kernel gives.
PORT="$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
SINK_ARGS=(-a -C)
[ "$(id -u)" = 0 ] && SINK_ARGS+=(-u nobody)
"$SINK" "${SINK_ARGS[@]}" "127.0.0.1:$PORT" 1000 &
SINK_PID=$!
trap 'kill "$SINK_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2).close()" 2>/dev/null && break
  sleep 0.1
done

# Runs a command REPEAT times and prints the run with the median msg/s.
median() {
  local out=()
  for _ in $(seq "$REPEAT"); do out+=("$("$@")"); done
  printf '%s\n' "${out[@]}" | sort -t= -k7 -g | sed -n "$(( (REPEAT + 1) / 2 ))p"
}

echo "## end to end: smtp-sink on 127.0.0.1:$PORT, one connection, median of $REPEAT runs"
for size_case in "$MESSAGES $SIZE" "$BIG_MESSAGES $BIG_SIZE"; do
  set -- $size_case
  n=$1 s=$2
  for r in 1 10 100; do
    [ "$s" = "$BIG_SIZE" ] && [ "$r" != 1 ] && continue
    median "$BUILD/bench/bench_sendmail" 127.0.0.1 "$PORT" "$n" "$s" "$r" 1
    median "$BUILD/bench/bench_sendmail" 127.0.0.1 "$PORT" "$n" "$s" "$r" 0
    median /usr/bin/python3 "$SRC/bench/bench_smtplib.py" 127.0.0.1 "$PORT" "$n" "$s" "$r"
  done
done
