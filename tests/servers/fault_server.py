#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A scripted, fault-injecting SMTP server for smtpc's fault tests.

Plain standard library, one thread, blocking sockets with timeouts (every wait is bounded).

Usage:
    fault_server.py --script FILE --transcript FILE [--unix PATH] [--connections N]
                    [--rcvbuf BYTES] [--log FILE] [--max-time SECONDS]
                    [--tls-cert PEM --tls-key PEM] [--implicit-tls]

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

TLS (Python's ssl module as the server, over memory BIOs so that the script controls every byte on
the wire). --tls-cert/--tls-key give the default certificate and key; --implicit-tls (or the script
object key "implicit_tls": true or {starttls options}) runs a handshake on each connection before the
first step (RFC 8314). Once TLS is in force the send steps encrypt, the read steps record the
*decrypted* bytes, and the transcript gets the line "--TLS--\r\n" at the switch (written just
before the handshake starts), so a transcript reads: plaintext bytes received, "--TLS--\r\n",
decrypted bytes received. Bytes the client sends that the server never takes into TLS (e.g. its
ClientHello when the script answers with tls_garbage or a plain read step) are recorded raw.
  {"expect_quiet": 0.2}                  wait that many seconds; fail if any byte arrives (it is
                                         recorded). E.g. after reading STARTTLS, before the 220:
                                         nothing may be pipelined behind it.
  {"starttls": {"cert": PEM, "key": PEM, "min_version": "1.2"|"1.3", "max_version": ...,
                "tickets": N, "ticket_delay": S, "stall": S, "timeout": S}}
                                         server handshake (all keys optional; {"starttls": true}
                                         uses --tls-cert/--tls-key). "tickets": TLS 1.3 session
                                         tickets sent after the handshake (OpenSSL's default, 2,
                                         when absent); "ticket_delay": hold them back S seconds.
                                         "stall": S: answer the ClientHello with only the first
                                         16 bytes of the server's flight, then wait (up to S s, not
                                         recording) for the client to give up and close; the script
                                         ends there. A failed handshake fails the step.
  {"tls_garbage": "bytes", "wait_hello": true}
                                         instead of a handshake: wait for the first bytes of the
                                         ClientHello (recorded raw; "wait_hello": false to skip),
                                         then send the bytes in plaintext. The connection stays
                                         plaintext for the following steps.
  {"tls_alert": true}                    make the server's TLS layer send a fatal alert
                                         (bad_record_mac, provoked by feeding it a forged record).
                                         Application data the client sent before is decrypted and
                                         recorded first. Afterwards reads drain the raw socket
                                         without recording (there is no TLS any more).
  {"close_notify": true}                 send TLS close_notify (without waiting for the peer's)
                                         and keep the socket open
  {"close_without_notify": true}         close the TCP connection without TLS close_notify (a
                                         truncation attack, or a crashed server); ends the script
  In TLS mode "close", "send_then_close" and the end of the steps send close_notify before the
  FIN; "rst" and "send_then_rst" do not. {"expect_eof": true, "close_notify": true} fails unless
  the peer ended its TLS stream with close_notify (not just a FIN).
"""

import argparse
import json
import os
import select
import signal
import socket
import ssl
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
        self.tls = None  # ssl.SSLObject once TLS is in force
        self.tls_in = None
        self.tls_out = None
        self.tls_raw = bytearray()  # a partial TLS record, not yet given to the TLS layer
        self.tls_dead = False  # after a fatal alert: raw reads, not recorded
        self.tls_eof = None  # how the peer ended its TLS stream: "close_notify", "abrupt", "error"

    def _record(self, data):
        self.transcript.write(data)
        self.transcript.flush()
        self.buf += data
        if len(self.buf) > MAX_BUFFER:
            raise ScriptError("receive buffer over %d bytes" % MAX_BUFFER)

    def _raw_read(self, deadline, limit=65536):
        """One recv() on the raw socket, waiting until deadline: bytes, b"" at end of file (or
        reset), None on timeout."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                r, _, _ = select.select([self.sock], [], [], remaining)
            except InterruptedError:
                continue
            if not r:
                return None
            try:
                return self.sock.recv(limit)
            except InterruptedError:
                continue
            except (ConnectionResetError, BrokenPipeError, OSError) as e:
                self.log("recv: %s" % e)
                return b""

    def _tls_feed(self, raw):
        """Give the TLS layer the complete records of what arrived; keep a partial record back (so
        that tls_alert's forged record always starts at a record boundary)."""
        self.tls_raw += raw
        end = 0
        while len(self.tls_raw) - end >= 5:
            if not 20 <= self.tls_raw[end] <= 23 or self.tls_raw[end + 1] != 3:
                end = len(self.tls_raw)  # not TLS: let the TLS layer fail on it now
                break
            n = 5 + ((self.tls_raw[end + 3] << 8) | self.tls_raw[end + 4])
            if len(self.tls_raw) - end < n:
                break
            end += n
        if end:
            self.tls_in.write(bytes(self.tls_raw[:end]))
            del self.tls_raw[:end]

    def _tls_flush(self):
        """Send what the TLS layer wrote (records, alerts). False when the peer has gone."""
        data = self.tls_out.read() if self.tls_out is not None else b""
        return self._raw_send(data) if data else True

    def _tls_recv(self, deadline, limit):
        while True:
            try:
                data = self.tls.read(limit)
            except ssl.SSLWantReadError:
                self._tls_flush()
                raw = self._raw_read(deadline)
                if raw is None:
                    return False
                if raw:
                    self._tls_feed(raw)
                else:
                    self.tls_in.write_eof()
                continue
            except ssl.SSLZeroReturnError:
                data = b""
            except ssl.SSLEOFError as e:
                self.log("TLS read: %s" % e)
                self.tls_eof = "abrupt"
                data = b""
            except ssl.SSLError as e:
                self.log("TLS read: %s" % e)
                self._tls_flush()
                self.tls_eof = "error"
                self.eof = True
                return True
            self._tls_flush()
            if not data:
                if self.tls_eof is None:
                    self.tls_eof = "close_notify"
                self.eof = True
                return True
            self._record(data)
            return True

    def _recv(self, deadline, limit=65536):
        """Receive once (waiting until deadline). Returns False on timeout."""
        if self.tls is not None:
            return self._tls_recv(deadline, limit)
        if self.tls_dead:
            raw = self._raw_read(deadline, limit)
            if raw is None:
                return False
            if not raw:
                self.eof = True
            else:
                self.log("%d raw bytes after the TLS alert (not recorded)" % len(raw))
            return True
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
            self._record(data)
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
            if self.tls is not None and self.tls.pending():
                self._recv(time.monotonic() + 1.0)
                continue
            try:
                r, _, _ = select.select([self.sock], [], [], 0)
            except InterruptedError:
                continue
            if not r or not self._recv(time.monotonic() + 1.0):
                break

    def _raw_send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, OSError) as e:
            self.log("send: %s" % e)
            return False

    def send(self, data):
        if self.tls is None:
            return self._raw_send(data)
        try:
            self.tls.write(data)
        except ssl.SSLError as e:
            self.log("TLS write: %s" % e)
            return False
        return self._tls_flush()

    def expect_quiet(self, seconds):
        """Wait `seconds`; anything that arrives is recorded and fails the step."""
        deadline = time.monotonic() + seconds
        have = len(self.buf)
        while not self.eof and self._recv(deadline):
            pass
        if len(self.buf) > have:
            raise StepFailed("%d unexpected bytes: %r" % (len(self.buf) - have, bytes(self.buf[have : have + 200])))

    def start_tls(self, opts, defaults, timeout):
        """Server-side handshake over memory BIOs. Returns False when the script must end (stall)."""
        cert = opts.get("cert") or defaults.get("cert")
        key = opts.get("key") or defaults.get("key")
        if not cert or not key:
            raise ScriptError("starttls: no certificate (give cert/key or --tls-cert/--tls-key)")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        versions = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
        for k, attr in (("min_version", "minimum_version"), ("max_version", "maximum_version")):
            if k in opts:
                if str(opts[k]) not in versions:
                    raise ScriptError("starttls: %s must be \"1.2\" or \"1.3\"" % k)
                setattr(ctx, attr, versions[str(opts[k])])
        if "tickets" in opts:
            ctx.num_tickets = int(number(opts, "tickets"))
        stall = number(opts, "stall") if "stall" in opts else None
        self.transcript.write(b"--TLS--\r\n")
        self.transcript.flush()
        self.tls_in = ssl.MemoryBIO()
        self.tls_out = ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.tls_in, self.tls_out, server_side=True)
        self.tls_raw = bytearray()
        if self.buf:  # bytes received before the switch are the start of the handshake
            self._tls_feed(bytes(self.buf))
            self.buf.clear()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                out = self.tls_out.read()
                if stall is not None and out:
                    part = min(len(out) // 2, 16)
                    self._raw_send(out[:part])
                    self.log("handshake stalled after %d of %d bytes" % (part, len(out)))
                    self.tls = None
                    end = time.monotonic() + stall
                    while True:
                        raw = self._raw_read(end)
                        if raw is None:
                            raise StepFailed("the client did not give up within %.1f s" % stall)
                        if not raw:
                            self.eof = True
                            return False
                if out and not self._raw_send(out):
                    raise PeerGone("peer gone during the TLS handshake")
                raw = self._raw_read(deadline)
                if raw is None:
                    raise StepFailed("timeout during the TLS handshake")
                if not raw:
                    raise PeerGone("end of file during the TLS handshake")
                self._tls_feed(raw)
            except ssl.SSLError as e:
                self._tls_flush()
                self.tls = None
                self.tls_dead = True
                raise StepFailed("TLS handshake failed: %s" % e)
        self.log("TLS established: %s %s" % (self.tls.version(), self.tls.cipher()[0]))
        if "ticket_delay" in opts:
            time.sleep(number(opts, "ticket_delay"))
        self._tls_flush()  # TLS 1.3: the session tickets OpenSSL wrote after the handshake
        return True

    def tls_alert(self):
        """Provoke a fatal alert (bad_record_mac) from the server's TLS layer and send it."""
        if self.tls is None:
            raise ScriptError("tls_alert: TLS is not in force")
        # A forged application-data record (at a record boundary: see _tls_feed): the server cannot
        # decrypt it and sends bad_record_mac.
        self.tls_in.write(b"\x17\x03\x03\x00\x20" + b"\x5a" * 32)
        while True:
            try:
                data = self.tls.read(65536)
            except ssl.SSLWantReadError:
                raise ScriptError("tls_alert: the forged record did not cause an alert")
            except ssl.SSLError as e:
                self.log("tls_alert: %s" % e)
                break
            if not data:
                break
            self._record(data)
        self._tls_flush()
        self.tls = None
        self.tls_dead = True

    def send_close_notify(self):
        if self.tls is None:
            return
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass  # our close_notify is written; the peer's is not waited for
        except ssl.SSLError as e:
            self.log("close_notify: %s" % e)
        self._tls_flush()

    def shutdown_write(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.log("shutdown: %s" % e)

    def close(self, notify=True):
        if not self.closed and notify:
            self.send_close_notify()
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
            self.close(notify=False)


def number(step, key, default=None):
    v = step.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ScriptError("%s: expected a non-negative number, got %r" % (key, v))
    return v


def play(conn, steps, log, tls_defaults=None):
    """Play the steps on one connection. Returns True when every step ran as scripted."""
    tls_defaults = tls_defaults or {}
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
                if step.get("close_notify") and conn.tls_eof != "close_notify":
                    raise StepFailed("the peer ended TLS without close_notify (%s)" % conn.tls_eof)
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
            elif "expect_quiet" in step:
                conn.expect_quiet(number(step, "expect_quiet"))
            elif "starttls" in step:
                opts = step["starttls"]
                if opts is True:
                    opts = {}
                if not isinstance(opts, dict):
                    raise ScriptError("starttls: expected true or an object")
                if conn.tls is not None:
                    raise ScriptError("starttls: TLS is already in force")
                if not conn.start_tls(opts, tls_defaults, number(opts, "timeout", timeout)):
                    conn.close()
                    return True
            elif "tls_garbage" in step:
                if step.get("wait_hello", True):
                    conn.read_some(timeout)
                conn.send(to_bytes(step["tls_garbage"], "tls_garbage"))
            elif "tls_alert" in step:
                conn.tls_alert()
            elif "close_notify" in step:
                conn.send_close_notify()
            elif "close_without_notify" in step:
                conn.close(notify=False)
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
    ap.add_argument("--tls-cert", help="PEM certificate for TLS steps and --implicit-tls")
    ap.add_argument("--tls-key", help="PEM private key for TLS steps and --implicit-tls")
    ap.add_argument("--implicit-tls", action="store_true", help="TLS handshake before the first step")
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
        tls_defaults = {"cert": args.tls_cert, "key": args.tls_key}
        implicit = script.get("implicit_tls", False)
        if args.implicit_tls and implicit is False:
            implicit = True
        if implicit is True:
            implicit = {}
        if implicit is not False:
            if not isinstance(implicit, dict):
                raise ScriptError("implicit_tls: expected true or an object")
            steps = [{"starttls": implicit}] + steps
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
                if not play(conn, steps, log, tls_defaults):
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
