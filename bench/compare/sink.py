#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A benchmark SMTP sink that counts round trips, optionally slows each one, and can offer CHUNKING.

usage: sink.py [--delay SECONDS] [--chunking] [--stats FILE] [--port N]

Listens on 127.0.0.1 (port N, default a free one), prints "READY <port>" and serves connections one
after the other until killed. It accepts every command (EHLO advertises PIPELINING, SIZE, 8BITMIME,
ENHANCEDSTATUSCODES, and with --chunking also CHUNKING and BINARYMIME) and discards messages.

Round trips: the sink answers in turns. It parses everything the client has sent so far; when no
more input is waiting and it owes replies, it sleeps --delay seconds (default 0) and writes all the
replies it owes in one write: that is one turn, one round trip for the client. A client that
pipelines well needs few turns per message; one that waits for every reply needs one per command.
Turns from the first MAIL on (the transaction phase; QUIT's excluded) divided by the messages
accepted is the client's round trips per message. With --delay D a client also cannot beat
turns x D seconds, which makes round trips visible in the timings.

Per connection, one JSON line is appended to --stats FILE (if given):
  {"messages": N, "turns": T, "setup_turns": S, "round_trips_per_message": T/N, "bytes_in": B}
"""
import argparse
import json
import select
import socket
import sys
import time


class Session:
    def __init__(self, conn, args):
        self.conn = conn
        self.args = args
        self.inbuf = bytearray()
        self.out = bytearray()
        self.mode = "cmd"  # cmd, data, bdat
        self.bdat_left = 0
        self.bdat_last = False
        self.body_start = False
        self.messages = 0
        self.turns = 0
        self.setup_turns = 0
        self.in_transactions = False
        self.bytes_in = 0
        self.closing = False

    def reply(self, text):
        self.out += text.encode() + b"\r\n"

    def ehlo(self):
        caps = ["sink.example.com", "PIPELINING", "SIZE 0", "8BITMIME", "ENHANCEDSTATUSCODES"]
        if self.args.chunking:
            caps += ["CHUNKING", "BINARYMIME"]
        for i, c in enumerate(caps):
            self.reply(("250 " if i == len(caps) - 1 else "250-") + c)

    def command(self, line):
        verb = line.split(b" ", 1)[0].upper()
        if verb in (b"EHLO", b"LHLO"):
            self.ehlo()
        elif verb == b"HELO":
            self.reply("250 sink.example.com")
        elif verb == b"MAIL":
            self.in_transactions = True
            self.reply("250 2.1.0 ok")
        elif verb == b"RCPT":
            self.reply("250 2.1.5 ok")
        elif verb == b"DATA":
            self.reply("354 go ahead")
            self.mode = "data"
            self.body_start = True
        elif verb == b"BDAT" and self.args.chunking:
            parts = line.split()
            try:
                self.bdat_left = int(parts[1])
            except (IndexError, ValueError):
                self.reply("501 5.5.4 BDAT needs a size")
                return
            self.bdat_last = len(parts) > 2 and parts[2].upper() == b"LAST"
            self.mode = "bdat"
        elif verb in (b"RSET", b"NOOP"):
            self.reply("250 2.0.0 ok")
        elif verb == b"QUIT":
            self.in_transactions = False
            self.reply("221 2.0.0 bye")
            self.closing = True
        else:
            self.reply("502 5.5.2 not implemented")

    def process(self):
        while True:
            if self.mode == "cmd":
                i = self.inbuf.find(b"\r\n")
                if i < 0:
                    return
                line = bytes(self.inbuf[:i])
                del self.inbuf[: i + 2]
                self.command(line)
                if self.closing:
                    return
            elif self.mode == "data":
                # The body starts right after DATA's line, so a terminator may also open it.
                if self.body_start and len(self.inbuf) < 3:
                    return
                if self.body_start and self.inbuf.startswith(b".\r\n"):
                    end = 0
                else:
                    self.body_start = False
                    end = self.inbuf.find(b"\r\n.\r\n")
                    if end < 0:
                        # Keep only what may hold the start of a terminator.
                        keep = 4
                        if len(self.inbuf) > keep:
                            del self.inbuf[: len(self.inbuf) - keep]
                        return
                    end += 2
                del self.inbuf[: end + 3]
                self.mode = "cmd"
                self.messages += 1
                self.reply("250 2.0.0 queued")
            else:  # bdat
                n = min(self.bdat_left, len(self.inbuf))
                del self.inbuf[:n]
                self.bdat_left -= n
                if self.bdat_left:
                    return
                self.mode = "cmd"
                if self.bdat_last:
                    self.messages += 1
                    self.reply("250 2.0.0 queued")
                else:
                    self.reply("250 2.0.0 chunk ok")

    def flush(self):
        if not self.out:
            return
        if self.args.delay:
            time.sleep(self.args.delay)
        if self.in_transactions:
            self.turns += 1
        else:
            self.setup_turns += 1
        self.conn.sendall(self.out)
        self.out.clear()

    def run(self):
        self.conn.sendall(b"220 sink.example.com ESMTP benchmark sink\r\n")
        while not self.closing:
            data = self.conn.recv(1 << 20)
            if not data:
                break
            self.bytes_in += len(data)
            self.inbuf += data
            self.process()
            # A turn ends when the client has nothing more in flight right now.
            if self.out and not self.closing:
                readable, _, _ = select.select([self.conn], [], [], 0)
                if readable:
                    continue
            self.flush()
        self.flush()

    def stats(self):
        return {
            "messages": self.messages,
            "turns": self.turns,
            "setup_turns": self.setup_turns,
            "round_trips_per_message": (self.turns / self.messages) if self.messages else None,
            "bytes_in": self.bytes_in,
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--chunking", action="store_true")
    ap.add_argument("--stats")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(16)
    print("READY", srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = Session(conn, args)
        try:
            s.run()
        except OSError as e:
            print("sink: connection error:", e, file=sys.stderr)
        finally:
            conn.close()
        if args.stats:
            with open(args.stats, "a") as f:
                f.write(json.dumps(s.stats()) + "\n")


if __name__ == "__main__":
    main()
