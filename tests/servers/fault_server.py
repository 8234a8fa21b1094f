#!/usr/bin/python3
"""A scripted, fault-injecting SMTP server for smtpc's fault tests.

Plain standard library, one thread, blocking sockets with timeouts (every wait is bounded).

Usage:
    fault_server.py --script FILE --transcript FILE [--unix PATH] [--connections N]
                    [--rcvbuf BYTES] [--log FILE] [--max-time SECONDS]

It listens on a free loopback TCP port (127.0.0.1, port 0; --host ADDR for another loopback or
test-namespace address) or on the Unix socket PATH, prints
"READY <port|path>" on stdout (flushed), accepts N connections (default 1) one after the other and
plays the script on each. Every byte received is appended to the transcript file, exactly and as
soon as it arrives (the file is created empty before READY). When the script has been played on
every connection it prints "DONE 0" (every step ran as scripted) or "DONE 1" on stdout, flushed,
and exits; by then the transcript is complete. It also exits on SIGTERM, or after --max-time
seconds (default 60).

Exit status: 0 when every step ran as scripted; 1 when an "expect" did not match or a read step
hit end of file or its timeout; 2 on a usage or script error.

The script is a JSON file: either a list of steps, or an object {"steps": [...], "connections": N,
"rcvbuf": BYTES} (command-line options win). Each step is an object with one action key. Byte
strings are JSON strings whose code points are all below 256, taken as Latin-1 (so "\\u0000" is a
NUL byte and "\\r\\n" is CRLF).

Send steps:
  {"send": "220 hi\\r\\n", "repeat": N}   send the bytes (N times, default 1) in one write each
  {"send_slowly": "250 ok\\r\\n", "interval": 0.2}
                                         send one byte at a time, sleeping `interval` s between
  {"send_then_close": "421 bye\\r\\n"}     send, then close (FIN) and end the script
  {"send_then_rst": "..."}               send, then reset the connection and end the script
  A send to a peer that has gone away is logged and does not stop the script.

Read steps (each waits at most "timeout" seconds, default 10; on timeout or end of file the
script stops, the connection is closed and the exit status becomes 1, unless "optional": true):
  {"expect": "EHLO"}                     read one line (up to LF); check that it starts with the
                                         given prefix ("" or true: no check)
  {"expect_lines": N}                    read N lines, no check (e.g. a pipelined batch)
  {"read_bytes": N}                      read exactly N bytes
  {"read_until": "\\r\\n.\\r\\n"}            read up to and including the delimiter
  {"expect_eof": true}                   read (and record) until the peer closes; "timeout"
                                         bounds the wait (default 10 s)
  {"read_some": true}                    wait for at least one byte (record what arrives)

Connection steps:
  {"sleep": 0.5}                         sleep
  {"close": true}                        close; ends the script. Bytes the peer sent that were not
                                         read turn the close into a reset (that is the kernel's
                                         rule); add "drain": true to read what is already queued
                                         (up to 1 MiB) first
  {"shutdown_write": true}               shutdown(SHUT_WR): FIN, but keep reading
  {"rst": true}                          SO_LINGER 0 then close: the peer sees a reset; ends
  {"stop_reading": true, "max": 30}      stop reading, keep the socket open until killed (or
                                         `max` seconds, default 30), then close
  {"set_rcvbuf": BYTES}                  SO_RCVBUF on the accepted socket (prefer --rcvbuf,
                                         which is set on the listening socket before accept)

When the steps run out the connection is closed, after reading what the peer already sent (up to
1 MiB, without waiting), so that the close is a FIN rather than a reset. send_then_close does the
same.
"""

import argparse
import json
import os
import select
import signal
import socket
import struct
import sys
import time

DEFAULT_TIMEOUT = 10.0
MAX_BUFFER = 256 * 1024 * 1024


class ScriptError(Exception):
    pass


class StepFailed(Exception):
    pass


class PeerGone(Exception):
    pass


def to_bytes(value, what):
    if isinstance(value, bool) or value is None:
        return b""
    if not isinstance(value, str):
        raise ScriptError("%s: expected a string, got %r" % (what, value))
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise ScriptError("%s: code points must be below 256" % what)


class Log:
    def __init__(self, path):
        self.fh = open(path, "a", buffering=1) if path else None

    def __call__(self, msg):
        line = "fault_server: %s\n" % msg
        if self.fh:
            self.fh.write(line)
        else:
            sys.stderr.write(line)
            sys.stderr.flush()


class Connection:
    """One accepted connection: a receive buffer fed by recv(), every byte written to the transcript."""

    def __init__(self, sock, transcript, log):
        self.sock = sock
        self.transcript = transcript
        self.log = log
        self.buf = bytearray()
        self.eof = False
        self.closed = False

    def _recv(self, deadline, limit=65536):
        """Receive once (waiting until deadline). Returns False on timeout."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                r, _, _ = select.select([self.sock], [], [], remaining)
            except InterruptedError:
                continue
            if not r:
                return False
            try:
                data = self.sock.recv(limit)
            except InterruptedError:
                continue
            except (ConnectionResetError, BrokenPipeError, OSError) as e:
                self.log("recv: %s" % e)
                self.eof = True
                return True
            if not data:
                self.eof = True
                return True
            self.transcript.write(data)
            self.transcript.flush()
            self.buf += data
            if len(self.buf) > MAX_BUFFER:
                raise ScriptError("receive buffer over %d bytes" % MAX_BUFFER)
            return True

    def read_line(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                return line
            if self.eof:
                raise PeerGone("end of file while reading a line (have %r)" % bytes(self.buf[:80]))
            if not self._recv(deadline):
                raise StepFailed("timeout while reading a line (have %r)" % bytes(self.buf[:80]))

    def read_bytes(self, n, timeout):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if self.eof:
                raise PeerGone("end of file after %d of %d bytes" % (len(self.buf), n))
            # Never take more from the socket than the step asks for: the rest stays unread in the
            # kernel (this is what lets a script leave a sender blocked).
            if not self._recv(deadline, min(65536, n - len(self.buf))):
                raise StepFailed("timeout after %d of %d bytes" % (len(self.buf), n))
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_until(self, delim, timeout):
        deadline = time.monotonic() + timeout
        start = 0
        while True:
            i = self.buf.find(delim, start)
            if i >= 0:
                data = bytes(self.buf[: i + len(delim)])
                del self.buf[: i + len(delim)]
                return data
            start = max(0, len(self.buf) - len(delim) + 1)
            if self.eof:
                raise PeerGone("end of file before %r (%d bytes read)" % (delim, len(self.buf)))
            if not self._recv(deadline):
                raise StepFailed("timeout before %r (%d bytes read)" % (delim, len(self.buf)))

    def read_to_eof(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.eof:
            if not self._recv(deadline):
                raise StepFailed("timeout waiting for end of file (%d bytes unread)" % len(self.buf))
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def read_some(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.buf:
            if self.eof:
                raise PeerGone("end of file while waiting for data")
            if not self._recv(deadline):
                raise StepFailed("timeout waiting for data")
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def drain_pending(self, cap=1024 * 1024):
        """Read what is already queued (no waiting, at most `cap` bytes), so that a close is a FIN,
        not a reset caused by unread data."""
        start = len(self.buf)
        while not self.eof and len(self.buf) - start < cap:
            try:
                r, _, _ = select.select([self.sock], [], [], 0)
            except InterruptedError:
                continue
            if not r or not self._recv(time.monotonic() + 1.0):
                break

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, OSError) as e:
            self.log("send: %s" % e)
            return False

    def shutdown_write(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.log("shutdown: %s" % e)

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def rst(self):
        if not self.closed:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError as e:
                self.log("SO_LINGER: %s" % e)
            self.close()


def number(step, key, default=None):
    v = step.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ScriptError("%s: expected a non-negative number, got %r" % (key, v))
    return v


def play(conn, steps, log):
    """Play the steps on one connection. Returns True when every step ran as scripted."""
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or not step:
            raise ScriptError("step %d: expected a non-empty object" % index)
        timeout = number(step, "timeout", DEFAULT_TIMEOUT)
        optional = bool(step.get("optional", False))
        try:
            if "send" in step:
                data = to_bytes(step["send"], "send")
                for _ in range(int(number(step, "repeat", 1))):
                    if not conn.send(data):
                        break
            elif "send_slowly" in step:
                data = to_bytes(step["send_slowly"], "send_slowly")
                interval = number(step, "interval", 0.1)
                for i in range(len(data)):
                    if i:
                        time.sleep(interval)
                    if not conn.send(data[i : i + 1]):
                        break
            elif "send_then_close" in step:
                conn.send(to_bytes(step["send_then_close"], "send_then_close"))
                conn.drain_pending()
                conn.close()
                return True
            elif "send_then_rst" in step:
                conn.send(to_bytes(step["send_then_rst"], "send_then_rst"))
                conn.rst()
                return True
            elif "expect" in step:
                prefix = to_bytes(step["expect"], "expect")
                line = conn.read_line(timeout)
                if not line.startswith(prefix):
                    raise StepFailed("expected a line starting with %r, got %r" % (prefix, line[:200]))
            elif "expect_lines" in step:
                for _ in range(int(number(step, "expect_lines"))):
                    conn.read_line(timeout)
            elif "read_bytes" in step:
                conn.read_bytes(int(number(step, "read_bytes")), timeout)
            elif "read_until" in step:
                delim = to_bytes(step["read_until"], "read_until")
                if not delim:
                    raise ScriptError("read_until: empty delimiter")
                conn.read_until(delim, timeout)
            elif "expect_eof" in step:
                rest = conn.read_to_eof(timeout)
                if rest:
                    log("step %d: %d bytes before end of file: %r" % (index, len(rest), rest[:200]))
            elif "read_some" in step:
                conn.read_some(timeout)
            elif "sleep" in step:
                time.sleep(number(step, "sleep"))
            elif "close" in step:
                if step.get("drain"):
                    conn.drain_pending()
                conn.close()
                return True
            elif "shutdown_write" in step:
                conn.shutdown_write()
            elif "rst" in step:
                conn.rst()
                return True
            elif "stop_reading" in step:
                time.sleep(number(step, "max", 30))
                conn.rst()
                return True
            elif "set_rcvbuf" in step:
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(number(step, "set_rcvbuf")))
            else:
                raise ScriptError("step %d: unknown action in %r" % (index, sorted(step)))
        except (StepFailed, PeerGone) as e:
            if optional:
                log("step %d (optional): %s" % (index, e))
                continue
            log("step %d %s: %s" % (index, json.dumps(step)[:120], e))
            conn.close()
            return False
    conn.drain_pending()
    conn.close()
    return True


def main(argv):
    ap = argparse.ArgumentParser(description="scripted fault-injecting SMTP server")
    ap.add_argument("--script", required=True)
    ap.add_argument("--transcript", required=True)
    ap.add_argument("--unix", help="listen on this Unix socket path instead of loopback TCP")
    ap.add_argument("--connections", type=int)
    ap.add_argument("--rcvbuf", type=int, help="SO_RCVBUF for accepted sockets (set before listen)")
    ap.add_argument("--log", help="append log lines to this file instead of stderr")
    ap.add_argument("--max-time", type=float, default=60.0)
    ap.add_argument("--accept-timeout", type=float, default=30.0)
    ap.add_argument("--host", default="127.0.0.1",
                    help="IPv4 address to listen on: loopback, or 10.231.0.0/16 for a server run with "
                         "'ip netns exec' inside a network namespace a test made (tests/auth)")
    args = ap.parse_args(argv)

    log = Log(args.log)

    def on_term(signum, frame):
        if signum != signal.SIGTERM:
            log("--max-time reached, exiting")
        os._exit(0 if signum == signal.SIGTERM else 1)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGALRM, on_term)
    signal.setitimer(signal.ITIMER_REAL, args.max_time)

    try:
        with open(args.script, "rb") as fh:
            script = json.load(fh)
        if isinstance(script, list):
            script = {"steps": script}
        if not isinstance(script, dict) or not isinstance(script.get("steps"), list):
            raise ScriptError("the script must be a list of steps or an object with \"steps\"")
        connections = args.connections or int(script.get("connections", 1))
        rcvbuf = args.rcvbuf or script.get("rcvbuf")
        steps = script["steps"]
    except (OSError, ValueError, ScriptError) as e:
        log("bad script: %s" % e)
        return 2

    transcript = open(args.transcript, "wb")

    if args.unix:
        try:
            os.unlink(args.unix)
        except FileNotFoundError:
            pass
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(args.unix)
        where = args.unix
    else:
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if not (args.host.startswith("127.") or args.host.startswith("10.231.")):
            log("--host must be a loopback or test-namespace (10.231.0.0/16) address")
            return 2
        lsock.bind((args.host, 0))
        where = str(lsock.getsockname()[1])
    if rcvbuf:
        # Set before listen() so that accepted sockets inherit it and the window is small from the start.
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(rcvbuf))
    lsock.listen(8)
    sys.stdout.write("READY %s\n" % where)
    sys.stdout.flush()

    ok = True
    try:
        for n in range(connections):
            r, _, _ = select.select([lsock], [], [], args.accept_timeout)
            if not r:
                log("no connection %d within %.1f s" % (n + 1, args.accept_timeout))
                ok = False
                break
            sock, _ = lsock.accept()
            conn = Connection(sock, transcript, log)
            try:
                if not play(conn, steps, log):
                    ok = False
            finally:
                conn.close()
    except ScriptError as e:
        log("bad script: %s" % e)
        return 2
    finally:
        lsock.close()
        transcript.close()
        if args.unix:
            try:
                os.unlink(args.unix)
            except OSError:
                pass
    # Tell the test that the script is over and every byte received is in the transcript.
    sys.stdout.write("DONE %d\n" % (0 if ok else 1))
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
