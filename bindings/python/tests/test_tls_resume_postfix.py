# SPDX-License-Identifier: MIT
"""TLS session resumption from Python against a private Postfix (tests/servers/postfix_server.py
--tls-loglevel 2 --print-maillog; root and Debian postfix, else skipped), over STARTTLS and on its
implicit-TLS port, with the drop-in and smtpc.Client. Postfix issues one TLS 1.3 ticket after a full
handshake and none after a resumed one, and the library uses each ticket once (docs/tls.md), so the
connections of one ssl.SSLContext go full, resumed, full, resumed; another context starts with a
full handshake. Postfix's log agrees ("Issuing session ticket" for each full handshake, "Reusing old
session" for each resumed one), and every message reaches the sink behind Postfix unchanged."""
from __future__ import annotations

import os
import shutil
import ssl
import time

import pytest

import smtpc
from smtpc import smtplib as sp

from conftest import PYTHON, SERVERS, _start

pytestmark = pytest.mark.postfix  # ctest entry python.postfix (labels postfix, root)

HOST = "127.0.0.1"
LOCAL = "client.test"
BODY = b"Subject: resumed through postfix\r\nMessage-ID: <pf-resume@example.org>\r\n\r\n.dot line\r\nlast line\r\n"


@pytest.fixture(scope="module")
def pf(tmp_path_factory, pki):
    if os.geteuid() != 0 or not (shutil.which("postfix") or os.path.exists("/usr/sbin/postfix")):
        pytest.skip("Postfix tests need root and postfix")
    srv = _start([PYTHON, str(SERVERS / "postfix_server.py"), "--tls-cert", str(pki / "server.pem"),
                  "--tls-key", str(pki / "server.key"), "--tls-loglevel", "2", "--print-maillog"],
                 tmp_path_factory.mktemp("postfix-resume"), want_tls_port=True)
    line = srv.proc.stdout.readline()
    if not srv.tls_port or not line.startswith("MAILLOG "):
        srv.stop()
        pytest.fail(f"postfix_server.py printed no TLSPORT or MAILLOG line ({line!r})")
    srv.maillog = line.split(None, 1)[1].strip()
    yield srv
    srv.stop()


def log_count(pf, needle):
    try:
        with open(pf.maillog, encoding="utf-8", errors="replace") as f:
            return f.read().count(needle)
    except FileNotFoundError:
        return 0


def expect_log(pf, before, want):
    """Postfix logs, beyond the counts in `before`, exactly `want` ({needle: n}); waits (bounded)."""
    deadline = time.monotonic() + 10
    while True:
        got = {k: log_count(pf, k) - before[k] for k in want}
        if got == want or time.monotonic() > deadline or any(got[k] > want[k] for k in want):
            break
        time.sleep(0.05)
    assert got == want


NEEDLES = ("Issuing session ticket", "Reusing old session")


def check(pf, resumed, run):
    """run() n times (one connection, one message each; it returns the client's tls_resumed):
    the client reports `resumed`, Postfix's log agrees, the sink gets each message unchanged."""
    pf.clear()
    before = {k: log_count(pf, k) for k in NEEDLES}
    got = [run() for _ in resumed]
    assert got == resumed
    expect_log(pf, before, {"Issuing session ticket": resumed.count(False),
                            "Reusing old session": resumed.count(True)})
    msgs = pf.messages(len(resumed), timeout=30)
    assert [bytes.fromhex(m["content_hex"]) for m in msgs] == [BODY] * len(resumed)


def dropin(pf, ctx, implicit=False):
    def run():
        if implicit:
            s = sp.SMTP_SSL(HOST, pf.tls_port, local_hostname=LOCAL, context=ctx)
        else:
            s = sp.SMTP(HOST, pf.port, local_hostname=LOCAL)
            assert s.starttls(context=ctx)[0] == 220
        with s:
            assert s.sendmail("a@example.org", ["b@example.org"], BODY) == {}
            assert s.sock.session_reused is s.tls_resumed
            return s.tls_resumed
    return run


def ctx_for(pki):
    return ssl.create_default_context(cafile=str(pki / "ca.pem"))


def test_postfix_dropin_starttls(pf, pki):
    ctx = ctx_for(pki)
    check(pf, [False], dropin(pf, ctx))
    # Another context has sessions of its own: it does not take the ticket of the first one's full
    # handshake, which the first one's next connection uses.
    check(pf, [False], dropin(pf, ctx_for(pki)))
    check(pf, [True, False, True], dropin(pf, ctx))


def test_postfix_dropin_implicit(pf, pki):
    check(pf, [False, True, False, True], dropin(pf, ctx_for(pki), implicit=True))


def test_postfix_client(pf, pki):
    ctx = ctx_for(pki)

    def run():
        with smtpc.Client(HOST, pf.port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.REQUIRED, ssl_context=ctx) as c:
            assert c.send(BODY, "a@example.org", ["b@example.org"]).ok
            assert c.tls_verified and c.tls_info["version"] == "TLSv1.3"
            return c.tls_resumed
    check(pf, [False, True], run)
