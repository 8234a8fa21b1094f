#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A TCP proxy that counts connections, for the multi-session driver's tests (tests/multi).

    count_proxy.py --stats FILE (--target PORT | --reply-421 | --silent) [--record FILE]
                   [--cut-first BYTES]

Listens on a free loopback port, prints "READY <port>" (flushed) and forwards each connection to
127.0.0.1:PORT. After every connection opened or closed it rewrites FILE (atomically) with one JSON
object: {"total": connections accepted, "current": open now, "max": the most open at once}, so the
test reads, on the server's side, how many connections the client made and how many it held at once.
A connection counts as closed when the server side closes it (421, cut) or sees the client's close;
in the second case the client may have opened its next connection a moment before the proxy saw
the close, so "max" can exceed the client's own count by the connections closing at that instant.

--reply-421: no target; each connection gets "220" then, after its first line (EHLO), "421 4.3.2"
and is closed (a server that turns every session away). --silent: no target; each connection is
accepted and never answered (a server that hangs) until the client closes it. --record FILE
appends every byte received from clients there. --cut-first BYTES: the first connection is closed
(both sides) once BYTES bytes from the client have been forwarded, in the middle of whatever was
being sent. Stops on SIGTERM.
"""

import argparse
import asyncio
import json
import os
import signal

STATE = {"total": 0, "current": 0, "max": 0}
ARGS = None


def write_stats():
    tmp = ARGS.stats + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        json.dump(STATE, f)
    os.replace(tmp, ARGS.stats)


def record(data):
    if ARGS.record:
        with open(ARGS.record, "ab") as f:
            f.write(data)


async def pipe(reader, writer, limit=None, on_cut=None):
    sent = 0
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if limit is not None and sent + len(data) >= limit:
                data = data[: limit - sent]
                writer.write(data)
                await writer.drain()
                on_cut()
                return
            sent += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


async def handle(creader, cwriter):
    STATE["total"] += 1
    STATE["current"] += 1
    STATE["max"] = max(STATE["max"], STATE["current"])
    number = STATE["total"]
    counted = [True]
    write_stats()

    def closing():  # counted as closed from the moment the server decides to close it
        if counted[0]:
            counted[0] = False
            STATE["current"] -= 1
            write_stats()

    try:
        if ARGS.silent:
            while True:
                data = await creader.read(65536)
                if not data:
                    return
                record(data)
        if ARGS.reply_421:
            cwriter.write(b"220 proxy.example ESMTP\r\n")
            await cwriter.drain()
            line = await asyncio.wait_for(creader.readline(), 10)
            record(line)
            # Closed before the client can see the 421: the client cannot open its next connection
            # before this one is counted closed, so "max" is exact.
            closing()
            cwriter.write(b"421 4.3.2 Service not available, closing channel\r\n")
            await cwriter.drain()
            try:  # whatever the client sends after the 421 is recorded too (it should send nothing)
                record(await asyncio.wait_for(creader.read(65536), 0.2))
            except asyncio.TimeoutError:
                pass
            cwriter.close()
            return
        sreader, swriter = await asyncio.open_connection("127.0.0.1", ARGS.target)
        limit = ARGS.cut_first if number == 1 and ARGS.cut_first else None

        def cut():
            closing()
            for w in (cwriter, swriter):
                w.transport.abort()

        await asyncio.gather(pipe(creader, swriter, limit, cut), pipe(sreader, cwriter))
    except (ConnectionError, OSError, asyncio.TimeoutError):
        pass
    finally:
        try:
            cwriter.close()
        except (ConnectionError, OSError):
            pass
        closing()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
    write_stats()
    print("READY %d" % server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--stats", required=True)
    p.add_argument("--target", type=int)
    p.add_argument("--reply-421", action="store_true")
    p.add_argument("--silent", action="store_true")
    p.add_argument("--record")
    p.add_argument("--cut-first", type=int, default=0)
    ARGS = p.parse_args()
    if not ARGS.reply_421 and not ARGS.silent and not ARGS.target:
        p.error("--target, --reply-421 or --silent")
    asyncio.run(main())
