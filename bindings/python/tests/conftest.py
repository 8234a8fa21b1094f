# SPDX-License-Identifier: MIT
"""Fixtures for the smtpc Python tests: test servers from tests/servers (aiosmtpd, Postfix), the test
PKI, an in-process aiosmtpd with AUTH, and a scripted raw server for the error paths."""
from __future__ import annotations

import base64
import hmac
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

SRC = pathlib.Path(os.environ.get("SMTPC_SOURCE_DIR") or pathlib.Path(__file__).resolve().parents[3])
SERVERS = SRC / "tests" / "servers"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class Server:
    def __init__(self, proc, addr, spool, sessions, tls_port=None):
        self.proc = proc
        self.addr = addr          # port (int) or Unix socket path (str)
        self.port = addr
        self.spool = spool
        self.sessions = sessions
        self.tls_port = tls_port
        self.host = "127.0.0.1"

    def messages(self, n=None, timeout=10.0):
        """The messages received so far (waiting for at least n when given)."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = [json.loads(p.read_text()) for p in sorted(self.spool.glob("msg-*.json"))]
            if n is None or len(msgs) >= n or time.monotonic() > deadline:
                return msgs
            time.sleep(0.05)

    def clear(self):
        for p in self.spool.glob("msg-*.json"):
            p.unlink()

    def session_bytes(self, timeout=5.0, n=1):
        """Every byte each finished connection sent, in order (waiting for at least n of them)."""
        deadline = time.monotonic() + timeout
        out = []
        while time.monotonic() < deadline:
            out = [bytes.fromhex(json.loads(p.read_text())["raw_hex"]) for p in sorted(self.sessions.glob("session-*.json"))]
            if len(out) >= n:
                break
            time.sleep(0.05)
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _start(cmd, tmp, want_tls_port=False, timeout=60):
    spool = tmp / "spool"
    sessions = tmp / "sessions"
    spool.mkdir(parents=True, exist_ok=True)
    sessions.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([*cmd, "--spool", str(spool), "--sessions", str(sessions)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        pytest.fail(f"server did not start: {cmd!r}: {line!r}")
    value = line.split(None, 1)[1].strip()
    addr = int(value) if value.isdigit() else value
    tls_port = None
    if want_tls_port:
        tl = proc.stdout.readline()
        if tl.startswith("TLSPORT "):
            tls_port = int(tl.split()[1])
    return Server(proc, addr, spool, sessions, tls_port)


@pytest.fixture
def aiosmtpd(tmp_path):
    """Factory: aiosmtpd(*options) starts tests/servers/aiosmtpd_server.py with those options."""
    servers = []

    def start(*args):
        d = tmp_path / f"srv{len(servers)}"
        srv = _start([PYTHON, str(SERVERS / "aiosmtpd_server.py"), *map(str, args)], d)
        servers.append(srv)
        return srv
    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def server(aiosmtpd):
    return aiosmtpd()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    script = SERVERS / "make_test_pki.sh"
    if not script.exists() or shutil.which("openssl") is None:
        pytest.skip("test PKI script or openssl missing")
    d = tmp_path_factory.mktemp("pki")
    subprocess.run(["bash", str(script), str(d)], check=True, stdout=subprocess.DEVNULL)
    return d


@pytest.fixture(scope="session")
def postfix(tmp_path_factory, pki):
    if os.geteuid() != 0 or not (shutil.which("postfix") or os.path.exists("/usr/sbin/postfix")):
        pytest.skip("Postfix tests need root and postfix")
    d = tmp_path_factory.mktemp("postfix")
    srv = _start([PYTHON, str(SERVERS / "postfix_server.py"), "--tls-cert", str(pki / "server.pem"),
                  "--tls-key", str(pki / "server.key")], d, want_tls_port=True)
    yield srv
    srv.stop()


# --- in-process aiosmtpd with AUTH (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, X-ECHO) --------------------------

USER, PASSWORD = "user@example.org", "s3cret pass"
TOKEN = "ya29.token"


class AuthHandler:
    def __init__(self):
        self.messages = []
        self.events = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 OK"

    async def auth_CRAM__MD5(self, server, args):
        from aiosmtpd.smtp import AuthResult, MISSING
        challenge = b"<1896.697170952@smtpc.test>"
        resp = await server.challenge_auth(challenge)
        if resp is MISSING:
            return AuthResult(success=False, handled=True)
        user, _, digest = resp.decode().rpartition(" ")
        good = hmac.HMAC(PASSWORD.encode(), challenge, "md5").hexdigest()
        self.events.append(("CRAM-MD5", user))
        return AuthResult(success=(user == USER and digest == good), handled=False)

    async def auth_XOAUTH2(self, server, args):
        from aiosmtpd.smtp import AuthResult
        raw = base64.b64decode(args[1]) if len(args) > 1 else b""
        self.events.append(("XOAUTH2", raw))
        return AuthResult(success=raw == f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01".encode(), handled=False)

    async def auth_X__ECHO(self, server, args):
        """A custom mechanism: sends challenge "ping", wants "pong"; initial response must be "hi"."""
        from aiosmtpd.smtp import AuthResult, MISSING
        initial = base64.b64decode(args[1]) if len(args) > 1 else None
        resp = await server.challenge_auth(b"ping")
        if resp is MISSING:
            return AuthResult(success=False, handled=True)
        self.events.append(("X-ECHO", initial, resp))
        return AuthResult(success=resp == b"pong" and initial in (None, b"hi"), handled=False)


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def auth_server():
    """(handler, port) of an in-process aiosmtpd offering AUTH without TLS (loopback)."""
    controller_mod = pytest.importorskip("aiosmtpd.controller")
    handler = AuthHandler()
    ctrl, port = start_controller(controller_mod, handler, "127.0.0.1")
    yield handler, port
    ctrl.stop()


def free_port(host):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_controller(controller_mod, handler, host):
    last = None
    for _ in range(5):  # the free port may be taken between the probe and the bind
        port = free_port(host)
        ctrl = controller_mod.Controller(handler, hostname=host, port=port, authenticator=_authenticator,
                                         auth_require_tls=False, server_hostname="auth.test")
        try:
            ctrl.start()
        except Exception as exc:  # noqa: BLE001
            last = exc
            continue
        return ctrl, port
    pytest.fail(f"could not start aiosmtpd: {last!r}")


# --- scripted raw server ---------------------------------------------------------------------------

class Scripted:
    """A one-connection server: sends `greeting`, then answers each received line from `replies`
    (a dict: command word (upper) -> reply bytes, or None to close the connection)."""

    def __init__(self, greeting, replies, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.greeting = greeting
        self.replies = replies
        self.received = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            f = conn.makefile("rb")
            try:
                conn.sendall(self.greeting)
                for line in f:
                    self.received.append(line)
                    word = line.split(b" ")[0].strip().upper().decode("ascii", "replace")
                    reply = self.replies.get(word, b"221 Bye\r\n" if word == "QUIT" else b"250 OK\r\n")
                    if reply is None:
                        break
                    conn.sendall(reply)
                    if word == "QUIT":
                        break
            except OSError:
                pass
            finally:
                f.close()
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def scripted():
    made = []

    def make(greeting=b"220 scripted ESMTP\r\n", replies=None):
        s = Scripted(greeting, replies or {})
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


def non_loopback_address():
    """An address of this machine that is not loopback, or None."""
    for target in ("192.0.2.1", "10.255.255.255"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((target, 9))
                addr = s.getsockname()[0]
                if not addr.startswith("127.") and addr != "0.0.0.0":
                    return addr
        except OSError:
            continue
    return None


# --- tests/servers/fault_server.py: a scripted server with a transcript of every byte received -----

class Fault:
    """One fault_server.py process playing `steps` on each of `connections` connections."""

    def __init__(self, proc, port, transcript_path):
        self.proc = proc
        self.port = port
        self.transcript_path = transcript_path
        self._done = None

    def done(self, timeout=30.0):
        """Wait until the script has run on every connection; True when every step ran as scripted."""
        if self._done is None:
            try:
                out, _ = self.proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.stop()
                out = ""
            self._done = "DONE 0" in out
        return self._done

    def transcript(self, timeout=30.0):
        """Every byte the server received (complete once the script has run)."""
        self.done(timeout)
        return self.transcript_path.read_bytes()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()
        elif self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()


@pytest.fixture
def fault(tmp_path):
    """Factory: fault(steps, connections=1, *options) starts tests/servers/fault_server.py on a free
    loopback port with that script; .port, .transcript() (bytes received), .done()."""
    started = []

    def start(steps, connections=1, *args, max_time=60):
        n = len(started)
        script = tmp_path / f"fault{n}.json"
        script.write_text(json.dumps({"steps": steps, "connections": connections}))
        transcript = tmp_path / f"fault{n}.transcript"
        proc = subprocess.Popen([PYTHON, str(SERVERS / "fault_server.py"), "--script", str(script),
                                 "--transcript", str(transcript), "--log", str(tmp_path / f"fault{n}.log"),
                                 "--max-time", str(max_time), *map(str, args)],
                                stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            proc.kill()
            pytest.fail(f"fault_server did not start: {line!r}")
        f = Fault(proc, int(line.split()[1]), transcript)
        started.append(f)
        return f
    yield start
    for f in started:
        f.stop()
