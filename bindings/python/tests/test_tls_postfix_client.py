# SPDX-License-Identifier: MIT
"""TLS (STARTTLS, implicit TLS, SSLContext carry-over, native CA/client-certificate arguments), Postfix,
and the modern smtpc.Client API."""
from __future__ import annotations

import email.message
import smtplib as std
import ssl
import threading
import time

import pytest

import smtpc
from smtpc import smtplib as sp

HOST = "127.0.0.1"


def ctx_for(pki, **kw):
    return ssl.create_default_context(cafile=str(pki / "ca.pem"), **kw)


# --- STARTTLS / SMTP_SSL against aiosmtpd -------------------------------------------------------------

@pytest.mark.parametrize("mod", [std, sp], ids=["stdlib", "smtpc"])
def test_starttls_with_context(aiosmtpd, pki, mod):
    srv = aiosmtpd("--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key")
    with mod.SMTP(HOST, srv.port) as s:
        s.ehlo()
        code, _ = s.starttls(context=ctx_for(pki))
        assert code == 220 and s.ehlo_resp is None and s.esmtp_features == {}
        s.ehlo()
        assert not s.has_extn("starttls")
        assert s.sendmail("a@example.org", ["b@example.org"], b"Subject: tls\r\n\r\nx\r\n") == {}
    assert srv.messages(1)[0]["tls"] == "starttls"


def test_starttls_verifies_by_default(aiosmtpd, pki):
    """smtplib's starttls() without a context does not verify; smtpc does (the test CA is not in the
    system store), and sends nothing in plaintext after the failure."""
    srv = aiosmtpd("--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key")
    s = sp.SMTP(HOST, srv.port)
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        s.starttls()
    assert info.value.verify_code == 20  # unable to get local issuer certificate
    assert s.sock is None
    # native keyword arguments as the way to trust a CA without an SSLContext
    for kw in ({"cafile": str(pki / "ca.pem")}, {"capath": str(pki / "capath")}):
        with sp.SMTP(HOST, srv.port, **kw) as s:
            assert s.starttls()[0] == 220
    # CERT_NONE maps to the library's testing-only skip-verify switch
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with sp.SMTP(HOST, srv.port) as s:
        assert s.starttls(context=ctx)[0] == 220
        assert not smtpc.smtpc_native.client_tls_verified(s._client.ptr)


def test_starttls_hostname_check(aiosmtpd, pki):
    srv = aiosmtpd("--tls-cert", pki / "wronghost.pem", "--tls-key", pki / "wronghost.key")
    with sp.SMTP(HOST, srv.port) as s:
        with pytest.raises(ssl.SSLCertVerificationError):
            s.starttls(context=ctx_for(pki))
    ctx = ctx_for(pki)
    ctx.check_hostname = False
    with sp.SMTP(HOST, srv.port) as s:
        assert s.starttls(context=ctx)[0] == 220


def test_minimum_version_carried_over(aiosmtpd, pki):
    srv = aiosmtpd("--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key", "--tls-max-version", "1.2")
    ctx = ctx_for(pki)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with sp.SMTP(HOST, srv.port) as s:
        with pytest.raises(ssl.SSLError):
            s.starttls(context=ctx)
    with sp.SMTP(HOST, srv.port) as s:
        assert s.starttls(context=ctx_for(pki))[0] == 220


@pytest.mark.parametrize("mod", [std, sp], ids=["stdlib", "smtpc"])
def test_smtp_ssl(aiosmtpd, pki, mod):
    srv = aiosmtpd("--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key", "--implicit-tls")
    with mod.SMTP_SSL(HOST, srv.port, context=ctx_for(pki)) as s:
        assert s.noop() == (250, b"OK")
        assert s.send_message(_msg()) == {}
    assert srv.messages(1)[0]["tls"] == "implicit"


def test_smtp_ssl_client_certificate(aiosmtpd, pki):
    srv = aiosmtpd("--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key", "--implicit-tls",
                   "--require-client-cert", pki / "ca.pem")
    with sp.SMTP_SSL(HOST, srv.port, certfile=str(pki / "client.pem"), keyfile=str(pki / "client.key"),
                     cafile=str(pki / "ca.pem")) as s:
        assert s.noop()[0] == 250
    with pytest.raises((ssl.SSLError, sp.SMTPServerDisconnected, OSError)):
        sp.SMTP_SSL(HOST, srv.port, cafile=str(pki / "ca.pem"), timeout=10).noop()


def test_smtp_ssl_untrusted(aiosmtpd, pki):
    srv = aiosmtpd("--tls-cert", pki / "selfsigned.pem", "--tls-key", pki / "selfsigned.key", "--implicit-tls")
    with pytest.raises(ssl.SSLCertVerificationError):
        sp.SMTP_SSL(HOST, srv.port, context=ctx_for(pki))
    assert srv.messages() == []


def _msg(to="rcpt@example.org"):
    m = email.message.EmailMessage()
    m["From"] = "sender@example.org"
    m["To"] = to
    m["Subject"] = "postfix"
    m.set_content("through postfix\n")
    return m


# --- Postfix --------------------------------------------------------------------------------------------

@pytest.mark.postfix  # ctest entry python.postfix (labels postfix, root)
def test_postfix_plain_side_by_side(postfix):
    got = []
    for mod in (std, sp):
        postfix.clear()
        with mod.SMTP(HOST, postfix.port) as s:
            r = [s.ehlo()[0], s.has_extn("pipelining"), s.has_extn("starttls"),
                 s.sendmail("a@example.org", ["b@example.org", "reject@example.org"], b"Subject: pf\r\n\r\nx\r\n")]
            with pytest.raises(mod.SMTPSenderRefused) as info:
                s.sendmail("refuse@example.org", ["b@example.org"], b"x\r\n")
            r.append((info.value.smtp_code, info.value.sender))
            with pytest.raises(mod.SMTPRecipientsRefused) as info2:
                s.sendmail("a@example.org", ["reject1@example.org"], b"x\r\n")
            r.append({k: v[0] for k, v in info2.value.recipients.items()})
        got.append(r)
        msgs = postfix.messages(1, timeout=30)
        assert [m["rcpt_tos"] for m in msgs] == [["b@example.org"]]
        assert bytes.fromhex(msgs[0]["content_hex"]) == b"Subject: pf\r\n\r\nx\r\n"
    assert got[0][:3] == got[1][:3] and got[0][4:] == got[1][4:]
    assert set(got[1][3]) == {"reject@example.org"} and got[0][3].keys() == got[1][3].keys()


@pytest.mark.postfix
def test_postfix_starttls_and_implicit(postfix, pki):
    postfix.clear()
    with sp.SMTP("localhost", postfix.port) as s:
        s.starttls(context=ctx_for(pki))
        assert s.send_message(_msg("tls1@example.org")) == {}
    assert postfix.tls_port, "postfix_server.py printed no TLSPORT"
    with sp.SMTP_SSL(HOST, postfix.tls_port, context=ctx_for(pki)) as s:
        assert s.send_message(_msg("tls2@example.org")) == {}
    rcpts = sorted(m["rcpt_tos"][0] for m in postfix.messages(2, timeout=30))
    assert rcpts == ["tls1@example.org", "tls2@example.org"]


# --- smtpc.Client ---------------------------------------------------------------------------------------

def test_client_send_results(server):
    with smtpc.Client(HOST, server.port, local_hostname="client.test") as c:
        res = c.send(b"Subject: x\r\n\r\nbody\r\n", "a@example.org", ["ok@example.org", "reject@example.org"])
        assert [r.state for r in res] == [smtpc.RecipientState.DELIVERED, smtpc.RecipientState.REFUSED]
        assert res[1].code == 550 and res[1].enhanced == "5.1.1" and "rejected" in res[1].text
        assert res.delivered == ["ok@example.org"] and not res.ok and list(res.failed) == ["reject@example.org"]
        assert res[0].code == 250 and res[0].delivered
        with pytest.raises(smtpc.SMTPRecipientsRefused) as info:
            c.send(b"x", "a@example.org", "reject@example.org")
        assert info.value.result[0].state == smtpc.RecipientState.REFUSED
        assert info.value.status == "SMTPC_ERECIPIENTS_REFUSED"
        res = c.send(_msg())  # envelope from the headers
        assert res.ok and res[0].recipient == "rcpt@example.org"
        assert c.features["size"] and c.esmtp and c.has_extn("SIZE")
        assert c.noop().code == 250


def test_client_lmtp_per_recipient(aiosmtpd):
    srv = aiosmtpd("--mode", "lmtp")
    with smtpc.Client(HOST, srv.port, lmtp=True) as c:
        res = c.send(b"Subject: l\r\n\r\nx\r\n", "a@example.org", ["one@example.org", "fail@example.org", "two@example.org"])
    assert [r.state.name for r in res] == ["DELIVERED", "FAILED", "DELIVERED"]
    assert res[1].code == 550 and res[0].text.startswith("2.0.0")


def test_client_tls_policy_required(server, aiosmtpd, pki):
    with pytest.raises(smtpc.SMTPTLSRequiredError):
        with smtpc.Client(HOST, server.port, tls=smtpc.TLSPolicy.REQUIRED) as c:
            c.send(b"x", "a@example.org", "b@example.org")
    assert server.messages() == []
    tls = aiosmtpd("--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key")
    with smtpc.Client(HOST, tls.port, tls=smtpc.TLSPolicy.REQUIRED, cafile=str(pki / "ca.pem")) as c:
        assert c.send(b"x\r\n", "a@example.org", "b@example.org").ok
        info = c.tls_info
        assert info["verified"] and info["version"].startswith("TLSv1.")
        assert info["peer_fingerprint"] == (pki / "server.fp").read_text().strip()
    cfg = smtpc.TLSConfig(cadata=ssl.PEM_cert_to_DER_cert((pki / "ca.pem").read_text()), minimum_version="1.2")
    with smtpc.Client(HOST, tls.port, tls=smtpc.TLSPolicy.OPPORTUNISTIC, tls_config=cfg) as c:
        c.ehlo_or_helo_if_needed()
        assert c.tls_verified


def test_client_auth_callbacks(auth_server):
    from conftest import PASSWORD, TOKEN, USER
    handler, port = auth_server
    with smtpc.Client(HOST, port) as c:
        assert c.login(USER, PASSWORD).code == 235
        assert c.auth_mechanism == "CRAM-MD5"
    with smtpc.Client(HOST, port) as c:
        asked = []
        assert c.auth_oauth2(USER, token_source=lambda: asked.append(1) or TOKEN).code == 235
        assert asked == [1]
    with smtpc.Client(HOST, port) as c:
        assert c.auth("X-ECHO", lambda ch, initial: "hi" if initial else b"pong").code == 235
    with smtpc.Client(HOST, port) as c:
        with pytest.raises(KeyError):
            c.auth_oauth2(USER, token_source=lambda: {}["missing"])
        with pytest.raises(smtpc.SMTPAuthenticationError):
            c.login(USER, "wrong", "PLAIN")


def test_client_trace_and_exception_in_trace(server):
    events = []
    with smtpc.Client(HOST, server.port, trace=lambda k, d, t: events.append((k, d))) as c:
        c.noop()
    assert (smtpc.TraceKind.SEND, b"NOOP\r\n") in events
    assert any(k == smtpc.TraceKind.RECV for k, _ in events)

    failures = []

    def bad(kind, data, t):
        if data.startswith(b"NOOP") and not failures:
            failures.append(1)
            raise RuntimeError("trace failed")
    c = smtpc.Client(HOST, server.port, trace=bad)
    with pytest.raises(RuntimeError, match="trace failed"):
        c.noop()  # re-raised when the call returns (a trace callback cannot abort it)
    assert c.noop().code == 250  # the session is still usable afterwards
    c.close()


def test_gil_released_during_network_wait(scripted):
    """A slow server reply must not block other Python threads."""
    import socket as socketmod
    lsock = socketmod.socket()
    lsock.bind((HOST, 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]

    def serve():
        conn, _ = lsock.accept()
        with conn:
            conn.sendall(b"220 slow\r\n")
            conn.recv(100)
            time.sleep(1.0)
            conn.sendall(b"250 OK\r\n")
            conn.recv(100)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)
    c = smtpc.Client(HOST, port)
    th = threading.Thread(target=ticker)
    th.start()
    try:
        assert c.noop().code == 250
    finally:
        stop.set()
        th.join()
        c.close()
        lsock.close()
    assert len(ticks) > 20


def test_native_exceptions_have_status():
    c = smtpc.Client()
    with pytest.raises(smtpc.SMTPServerDisconnected) as info:
        c.noop()
    assert info.value.status == "SMTPC_ENOTCONN"
    with pytest.raises(ValueError):
        smtpc.Client(local_hostname="bad name")
    with pytest.raises(ValueError):
        smtpc.Client(local_hostname="a\0b")


def test_package_metadata():
    import importlib.resources
    import pathlib
    import os
    assert smtpc.__version__ == smtpc.smtpc_native.SMTPC_VERSION_STRING
    expected = os.environ.get("SMTPC_EXPECTED_VERSION")
    if expected:
        assert smtpc.__version__ == expected
    assert (pathlib.Path(smtpc.__file__).parent / "py.typed").exists()


def test_setuptools_metadata():
    """The setuptools build (wheels/sdists) at least configures: setup.py --version."""
    import os
    import pathlib
    import subprocess
    import sys
    here = pathlib.Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "setup.py", "--version"], cwd=here, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == smtpc.__version__
