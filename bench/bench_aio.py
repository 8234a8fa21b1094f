#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""smtpc.aio against aiosmtplib (not a test): COUNT messages over CONCURRENCY concurrent connections
from one event loop, in two shapes:

  send        a connection per message: smtpc.aio.send vs aiosmtplib.send
  persistent  CONCURRENCY persistent SMTP objects, each sending COUNT/CONCURRENCY with sendmail

against Postfix's smtp-sink (C, fast: the server is not the bottleneck) started here, and against
tests/servers/aiosmtpd_server.py for reference. Prints one line per run: wall time, messages per
second, client CPU (user+system of this process) per message.

usage: PYTHONPATH=<build>/bindings/python/pkg bench/bench_aio.py [--count 2000] [--concurrency 50]
           [--size 1024] [--repeat 3] [--servers sink,aiosmtpd] [--one-cpu] [--profile smtpc-send]
"""
import argparse
import asyncio
import cProfile
import os
import pathlib
import pstats
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SRC = pathlib.Path(__file__).resolve().parents[1]


def make_message(size):
    head = b"From: bench@example.org\r\nTo: sink@example.org\r\nSubject: smtpc benchmark\r\n\r\n"
    line = b"The quick brown fox jumps over the lazy dog. 0123456789 abcdefghijklmnop\r\n"
    out = bytearray(head[:size])
    while len(out) < size:
        out += line[: size - len(out)]
    return bytes(out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("server exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"server on port {port} did not start")


def start_sink():
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not os.path.exists(sink):
        print("# smtp-sink not found (Debian package postfix): skipped", file=sys.stderr)
        return None, None
    port = free_port()
    args = [sink, "-a", "-C"]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    # Backlog 1000: 50 connections are opened at once, and again for every message in "send".
    proc = subprocess.Popen([*args, f"127.0.0.1:{port}", "1000"])
    wait_port(port, proc)
    return proc, port


def start_aiosmtpd(tmp):
    spool = pathlib.Path(tmp) / "spool"
    spool.mkdir()
    proc = subprocess.Popen(["/usr/bin/python3", str(SRC / "tests" / "servers" / "aiosmtpd_server.py"),
                             "--spool", str(spool)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        sys.exit(f"aiosmtpd_server did not start: {line!r}")
    return proc, int(line.split()[1])


SENDER = "bench@example.org"
RCPTS = ["sink@example.org"]


async def run_send(lib, port, msg, count, conc):
    sem = asyncio.Semaphore(conc)
    failures = []

    async def one():
        async with sem:
            try:
                errors, _ = await lib.send(msg, sender=SENDER, recipients=RCPTS, hostname="127.0.0.1",
                                           port=port, local_hostname="bench.example.org", start_tls=False)
                if errors:
                    failures.append(errors)
            except Exception as e:  # noqa: BLE001 - counted, reported
                failures.append(e)
    await asyncio.gather(*(one() for _ in range(count)))
    return failures


async def run_persistent(lib, port, msg, count, conc):
    failures = []
    per = count // conc

    async def worker():
        smtp = lib.SMTP(hostname="127.0.0.1", port=port, local_hostname="bench.example.org", start_tls=False)
        await smtp.connect()
        try:
            for _ in range(per):
                try:
                    errors, _ = await smtp.sendmail(SENDER, RCPTS, msg)
                    if errors:
                        failures.append(errors)
                except Exception as e:  # noqa: BLE001
                    failures.append(e)
        finally:
            await smtp.quit()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return failures


def proc_cpu(pid):
    """user+system seconds of a process (the server), or 0 when unknown."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def measure(lib, shape, port, msg, count, conc, profile=None):
    fn = run_send if shape == "send" else run_persistent
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    failures = asyncio.run(fn(lib, port, msg, count, conc))
    if prof:
        prof.disable()
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return wall, cpu, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the median wall time is kept")
    ap.add_argument("--servers", default="sink,aiosmtpd")
    ap.add_argument("--shapes", default="send,persistent")
    ap.add_argument("--libs", default="smtpc,aiosmtplib")
    ap.add_argument("--profile", default="", help="LIB-SHAPE to run once under cProfile (e.g. smtpc-send)")
    ap.add_argument("--one-cpu", action="store_true",
                    help="pin this process and the servers to CPU 0 (as bench/compare/compare.sh does): the wall "
                         "time is then the client's and the server's CPU together, steadier on a shared machine")
    args = ap.parse_args()
    if args.one_cpu:
        os.sched_setaffinity(0, {0})  # inherited by the servers started below

    import smtpc.aio
    libs = {}
    for name in args.libs.split(","):
        if name == "smtpc":
            libs[name] = smtpc.aio
        elif name == "aiosmtplib":
            try:
                import aiosmtplib
            except ImportError:
                print("# aiosmtplib not installed (python3-aiosmtplib): skipped", file=sys.stderr)
                continue
            libs[name] = aiosmtplib
    msg = make_message(args.size)
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            servers = []
            for s in args.servers.split(","):
                proc, port = start_sink() if s == "sink" else start_aiosmtpd(tmp)
                if proc is not None:
                    procs.append(proc)
                    servers.append((s, port, proc.pid))
            print(f"# count={args.count} concurrency={args.concurrency} size={args.size} one_cpu={int(args.one_cpu)} "
                  f"python={sys.version.split()[0]} smtpc={smtpc.__version__}")
            for server, port, pid in servers:
                for shape in args.shapes.split(","):
                    best = {}
                    for lib_name, lib in libs.items():
                        if args.profile == f"{lib_name}-{shape}" and server == servers[0][0]:
                            measure(lib, shape, port, msg, args.count, args.concurrency, profile=True)
                        runs = []
                        for _ in range(args.repeat):
                            s0 = proc_cpu(pid)
                            r = measure(lib, shape, port, msg, args.count, args.concurrency)
                            runs.append((*r, proc_cpu(pid) - s0))
                        runs.sort(key=lambda r: r[0])
                        wall, cpu, failures, server_cpu = runs[len(runs) // 2]
                        best[lib_name] = wall
                        print(f"server={server} shape={shape} lib={lib_name} wall_s={wall:.3f} "
                              f"msg_per_s={args.count / wall:.0f} cpu_ms_per_msg={cpu * 1000 / args.count:.3f} "
                              f"server_cpu_s={server_cpu:.2f} "
                              f"failures={len(failures)}" + (f" first_failure={failures[0]!r}" if failures else ""),
                              flush=True)
                    if "smtpc" in best and "aiosmtplib" in best:
                        print(f"server={server} shape={shape} speedup={best['aiosmtplib'] / best['smtpc']:.2f}x",
                              flush=True)
        finally:
            for p in procs:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    main()
