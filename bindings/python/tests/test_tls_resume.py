# SPDX-License-Identifier: MIT
"""TLS session resumption from Python (docs/tls.md, "Session resumption"), against aiosmtpd with the
test PKI: the connections of one ssl.SSLContext (the drop-in and smtpc.Client keep one library
configuration per context), of one smtpc.TLSConfig and of one drop-in SMTP object given cafile=
resume each other's sessions, over STARTTLS and implicit TLS, TLS 1.3 and 1.2; another context, a
context changed since and a configuration with session_resumption=False do not. Client.tls_resumed,
the drop-in's SMTP.tls_resumed and sock.session_reused (ssl.SSLSocket's name) say so, aiosmtpd's
record of each session (its ssl object's session_reused) agrees, and each message arrives as sent,
through TLS. The Postfix counterpart is test_tls_resume_postfix.py."""
from __future__ import annotations

import json
import ssl
import time

import pytest

import smtpc
from smtpc import smtplib as sp

HOST = "127.0.0.1"
LOCAL = "client.test"
BODY = b"Subject: resume\r\nMessage-ID: <resume@example.org>\r\n\r\nline one\r\n.leading dot\r\nlast line\r\n"
WIRE = b"line one\r\n..leading dot\r\nlast line\r\n.\r\n"  # the body as sent: dot-stuffed, ended


def tls_server(aiosmtpd, pki, *extra):
    return aiosmtpd("--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key", *extra)


def ctx_for(pki):
    return ssl.create_default_context(cafile=str(pki / "ca.pem"))


def check_server(srv, resumed, version="TLSv1.3", tls="starttls"):
    """aiosmtpd's view of the connections so far (each record is written at the connection's close):
    resumed or not as `resumed` says, the TLS version, and BODY received over TLS on each."""
    n = len(resumed)
    deadline = time.monotonic() + 10
    while True:
        recs = [json.loads(p.read_text()) for p in sorted(srv.sessions.glob("session-*.json"))]
        if len(recs) >= n or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [r["tls_resumed"] for r in recs] == resumed
    assert [(r["tls"], r["tls_established"], r["tls_version"]) for r in recs] == [(tls, True, version)] * n
    for r in recs:
        assert WIRE in bytes.fromhex(r["tls_hex"]) and WIRE not in bytes.fromhex(r["plain_hex"])
    msgs = srv.messages(n)
    assert [bytes.fromhex(m["content_hex"]) for m in msgs] == [BODY] * n
    assert [m["tls"] for m in msgs] == [tls] * n


def dropin_send(port, ctx=None, implicit=False, smtp=None, **native):
    """One message through the drop-in, STARTTLS with `ctx` (SMTP_SSL when `implicit`; on the SMTP
    object `smtp` when given); returns its tls_resumed, checked against sock.session_reused."""
    if implicit:
        s = sp.SMTP_SSL(HOST, port, local_hostname=LOCAL, context=ctx, **native)
    else:
        s = smtp if smtp is not None else sp.SMTP(local_hostname=LOCAL, **native)
        s.connect(HOST, port)
        assert s.starttls(context=ctx)[0] == 220
    try:
        assert s.sendmail("a@example.org", ["b@example.org"], BODY) == {}
        resumed = s.tls_resumed
        assert s.sock.session_reused is resumed
    finally:
        s.quit()
    assert not s.tls_resumed and s.sock is None  # closed
    return resumed


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_dropin_resumes_per_context(aiosmtpd, pki, version):
    srv = tls_server(aiosmtpd, pki, "--tls-max-version", version)
    ctx, other = ctx_for(pki), ctx_for(pki)
    # The context's later connections resume; another context (same settings) has sessions of its
    # own: its first connection is a full handshake; the first context's sessions are still there.
    got = [dropin_send(srv.port, ctx) for _ in range(3)]
    got.append(dropin_send(srv.port, other))
    got.append(dropin_send(srv.port, ctx))
    assert got == [False, True, True, False, True]
    check_server(srv, got, version="TLSv" + version)


def test_smtp_ssl_resumes(aiosmtpd, pki):
    srv = tls_server(aiosmtpd, pki, "--implicit-tls")
    ctx = ctx_for(pki)
    got = [dropin_send(srv.port, ctx, implicit=True) for _ in range(2)]
    assert got == [False, True]
    check_server(srv, got, tls="implicit")


class CountingContext(ssl.SSLContext):
    """An SSLContext that counts the reads of its CA certificates."""

    reads = 0

    def get_ca_certs(self, binary_form=False):
        self.reads += 1
        return super().get_ca_certs(binary_form)


def test_context_read_once_and_changes_seen(aiosmtpd, pki):
    # The context's CA certificates are read at its first use and when it changed, not for every
    # connection; a change (here a CA added, then check_hostname) gets a new configuration, which
    # starts without the old one's sessions.
    srv = tls_server(aiosmtpd, pki)
    ctx = CountingContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(pki / "ca.pem"))
    got = [dropin_send(srv.port, ctx) for _ in range(3)]
    assert ctx.reads == 1
    ctx.load_verify_locations(cafile=str(pki / "ca2.pem"))
    got += [dropin_send(srv.port, ctx) for _ in range(2)]
    assert ctx.reads == 2
    ctx.load_verify_locations(cafile=str(pki / "ca.pem"))  # already there: no change
    got.append(dropin_send(srv.port, ctx))
    ctx.check_hostname = False
    got.append(dropin_send(srv.port, ctx))
    assert ctx.reads == 3
    assert got == [False, True, True, False, True, True, False]
    check_server(srv, got)


def test_dropin_native_cafile_resumes_per_object(aiosmtpd, pki):
    # Without a context, cafile= gives a configuration per SMTP object: its own reconnections
    # resume, another object's first connection does not.
    srv = tls_server(aiosmtpd, pki)
    s = sp.SMTP(local_hostname=LOCAL, cafile=str(pki / "ca.pem"))
    got = [dropin_send(srv.port, smtp=s) for _ in range(2)]
    got.append(dropin_send(srv.port, cafile=str(pki / "ca.pem")))
    assert got == [False, True, False]
    check_server(srv, got)


def client_send(port, **kw):
    with smtpc.Client(HOST, port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.REQUIRED, **kw) as c:
        assert c.send(BODY, "a@example.org", ["b@example.org"]).ok
        assert c.tls_verified and c.tls_info["resumed"] is c.tls_resumed
        return c.tls_resumed


def test_client_tls_resumed(aiosmtpd, pki):
    srv = tls_server(aiosmtpd, pki)
    ctx = ctx_for(pki)
    cfg = smtpc.TLSConfig(cafile=str(pki / "ca.pem"))
    off = smtpc.TLSConfig(cafile=str(pki / "ca.pem"), session_resumption=False)
    got = [client_send(srv.port, ssl_context=ctx) for _ in range(2)]
    got += [client_send(srv.port, tls_config=cfg) for _ in range(2)]
    got += [client_send(srv.port, tls_config=off) for _ in range(2)]
    got.append(client_send(srv.port, cafile=str(pki / "ca.pem")))  # a configuration of its own
    assert got == [False, True, False, True, False, False, False]
    # The drop-in and Client given one context share its configuration, and so its sessions.
    assert dropin_send(srv.port, ctx) is True
    check_server(srv, got + [True])
    with smtpc.Client(HOST, srv.port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.NONE) as c:
        c.ehlo()
        assert not c.tls_resumed and not c.tls_info["resumed"]
