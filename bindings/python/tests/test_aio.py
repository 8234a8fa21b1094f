# SPDX-License-Identifier: MIT
"""smtpc.aio (asyncio) side by side with aiosmtplib: the same messages sent by both to aiosmtpd and to
Postfix, the bytes the server received compared (spool, session), the replies and return shapes
compared; STARTTLS, implicit TLS and AUTH with the test PKI; 50 concurrent sends from one loop;
refusals, connection refused, a silent server (timeouts within the deadline), cancellation in the
middle of DATA (nothing left registered on the loop, nothing delivered), bad input refused before
anything is sent."""
from __future__ import annotations

import asyncio
import copy
import email.message
import email.policy
import re
import socket
import ssl
import threading
import time

import pytest

import smtpc
from smtpc import aio

aiosmtplib = pytest.importorskip("aiosmtplib")

HOST = "127.0.0.1"
LOCAL = "client.test"
USER, PASSWORD = "user@example.org", "s3cret pass"


def run(coro, timeout=30):
    """asyncio.run with an overall bound, so that a hang fails the test instead of the suite."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


def queue_id(text):
    """The reply text with the queue id (different for each message) taken out."""
    return re.sub(r"(queued as )\S+", r"\1ID", text)


def _email_message():
    m = email.message.EmailMessage()
    m["From"] = "Sender <sender@example.org>"
    m["To"] = "one@example.org, Two <two@example.org>"
    m["Cc"] = "three@example.org"
    m["Bcc"] = "hidden@example.org"
    m["Subject"] = "side by side: caf\u00e9"
    m.set_content("Line one\n.leading dot\n\u00e9t\u00e9 (8-bit)\n")
    return m


def _compat32_message():
    m = email.message.Message()
    m["From"] = "sender@example.org"
    m["To"] = "one@example.org"
    m["Bcc"] = "hidden@example.org"
    m["Subject"] = "compat32"
    m.set_payload("body\r\n.dot\r\n")
    return m


RAW_BYTES = b"Subject: raw\r\n\r\nlone LF\nlone CR\r.leading dot\r\n..two dots\r\nno final line end"
RAW_STR = "Subject: str\n\nplain text\n.\nafter a lone dot\n"

# (name, message, sender, recipients): None takes them from the headers.
CASES = [
    ("bytes", RAW_BYTES, "a@example.org", ["b@example.org", "c@example.org"]),
    ("str", RAW_STR, "a@example.org", "b@example.org"),
    ("email", _email_message(), None, None),
    ("compat32", _compat32_message(), None, None),
    ("partly_refused", RAW_BYTES, "a@example.org", ["b@example.org", "reject@example.org"]),
]


def _shape(result):
    """(refused {address: (code, text)}, reply text) with the queue id taken out."""
    errors, message = result
    return ({k: (v.code, v.message) for k, v in errors.items()}, queue_id(message))


def _spooled(srv, n):
    msgs = srv.messages(n)
    assert len(msgs) == n
    return [(m["mail_from"], m["rcpt_tos"], m["content_hex"]) for m in msgs]


# --- side by side against aiosmtpd ----------------------------------------------------------------

@pytest.mark.parametrize("name,message,sender,recipients", CASES, ids=[c[0] for c in CASES])
def test_send_side_by_side_aiosmtpd(aiosmtpd, name, message, sender, recipients):
    ours, theirs = aiosmtpd(), aiosmtpd()

    async def both():
        kw = dict(sender=sender, recipients=recipients, hostname=HOST, local_hostname=LOCAL)
        a = await aio.send(message, port=ours.port, **kw)
        b = await aiosmtplib.send(message, port=theirs.port, **kw)
        return a, b
    a, b = run(both())
    assert isinstance(a, tuple) and isinstance(a[1], str)
    assert _shape(a) == _shape(b)
    assert all(isinstance(v, aio.SMTPResponse) for v in a[0].values())
    assert _spooled(ours, 1) == _spooled(theirs, 1)
    if name == "email":
        body = bytes.fromhex(ours.messages(1)[0]["content_hex"])
        assert b"hidden@example.org" not in body and b"Bcc" not in body
        assert ours.messages(1)[0]["rcpt_tos"] == ["one@example.org", "two@example.org", "three@example.org",
                                                   "hidden@example.org"]


def test_smtp_methods_side_by_side(aiosmtpd):
    ours, theirs = aiosmtpd(), aiosmtpd()

    async def session(lib, port):
        out = []
        smtp = lib.SMTP(hostname=HOST, port=port, local_hostname=LOCAL, start_tls=False)
        out.append(await smtp.connect())
        assert smtp.is_connected and smtp.is_ehlo_or_helo_needed
        out.append(await smtp.ehlo())
        assert not smtp.is_ehlo_or_helo_needed
        out += [smtp.last_ehlo_response, smtp.esmtp_extensions, smtp.supports_extension("SIZE"),
                smtp.supports_extension("starttls")]
        out.append(await smtp.noop())
        out.append(await smtp.execute_command(b"XUNKNOWN", b"arg"))
        out.append(await smtp.mail("a@example.org"))
        out.append(await smtp.rcpt("b@example.org"))
        with pytest.raises(lib.SMTPRecipientRefused) as info:
            await smtp.rcpt("reject@example.org")
        out.append((info.value.code, info.value.message, info.value.recipient))
        r = await smtp.data(b"Subject: parts\r\n\r\nsent with mail, rcpt, data\r\n")
        out.append((r.code, queue_id(r.message)))
        out.append(await smtp.rset())
        with pytest.raises(lib.SMTPSenderRefused) as info:
            await smtp.mail("refuse@example.org")
        out.append((info.value.code, info.value.message, info.value.sender))
        out.append(await smtp.quit())
        assert not smtp.is_connected
        return out

    async def both():
        return await session(aio, ours.port), await session(aiosmtplib, theirs.port)
    a, b = run(both())
    assert [tuple(x) if isinstance(x, tuple) else x for x in a] == b
    assert _spooled(ours, 1) == _spooled(theirs, 1)
    # The same commands reached each server; the only difference is SIZE= (aiosmtplib: none here,
    # as mail() was called directly).
    assert ours.session_bytes() == theirs.session_bytes()


def test_refusals_side_by_side(aiosmtpd):
    ours, theirs = aiosmtpd(), aiosmtpd()

    async def refusals(lib, port):
        out = []
        async with lib.SMTP(hostname=HOST, port=port, local_hostname=LOCAL, start_tls=False) as smtp:
            with pytest.raises(lib.SMTPSenderRefused) as info:
                await smtp.sendmail("refuse@example.org", ["b@example.org"], b"Subject: x\r\n\r\nx\r\n")
            out.append((info.value.code, info.value.sender))
            with pytest.raises(lib.SMTPRecipientsRefused):
                await smtp.sendmail("a@example.org", ["reject@example.org", "defer@example.org"],
                                    b"Subject: x\r\n\r\nx\r\n")
            with pytest.raises(lib.SMTPDataError) as info:
                await smtp.sendmail("a@example.org", ["fail@example.org"], b"Subject: x\r\n\r\nx\r\n")
            out.append(info.value.code)
            r = await smtp.sendmail("a@example.org", ["b@example.org"], b"Subject: after\r\n\r\nx\r\n")
            out.append(_shape(r))
        return out

    async def both():
        return await refusals(aio, ours.port), await refusals(aiosmtplib, theirs.port)
    a, b = run(both())
    assert a == b == [(550, "refuse@example.org"), 554, ({}, "2.0.0 OK: queued as ID")]
    # smtpc's exceptions: smtplib's classes, with aiosmtplib's code/message beside smtp_code/smtp_error.
    assert issubclass(aio.SMTPRecipientRefused, smtpc.SMTPResponseException)
    assert _spooled(ours, 2) == _spooled(theirs, 2)  # the refused message is recorded too


def test_recipients_refused_details(server):
    async def go():
        async with aio.SMTP(hostname=HOST, port=server.port, local_hostname=LOCAL) as smtp:
            with pytest.raises(smtpc.SMTPRecipientsRefused) as info:
                await smtp.sendmail("a@example.org", ["reject@example.org", "defer@example.org"], b"x")
            return info.value
    exc = run(go())
    assert {k: v[0] for k, v in exc.recipients.items()} == {"reject@example.org": 550, "defer@example.org": 450}
    assert exc.status == "SMTPC_ERECIPIENTS_REFUSED"


# --- TLS and AUTH ----------------------------------------------------------------------------------

def _tls_server(aiosmtpd, pki, *extra):
    return aiosmtpd("--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key",
                    "--auth", f"{USER}:{PASSWORD}", *extra)


@pytest.mark.parametrize("start_tls", [True, None], ids=["required", "opportunistic"])
def test_starttls_login_side_by_side(aiosmtpd, pki, start_tls):
    ours, theirs = _tls_server(aiosmtpd, pki), _tls_server(aiosmtpd, pki)
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    msg = b"Subject: tls\r\n\r\nover STARTTLS, after AUTH\r\n"

    async def both():
        kw = dict(sender="a@example.org", recipients=["b@example.org"], hostname=HOST, local_hostname=LOCAL,
                  username=USER, password=PASSWORD, start_tls=start_tls)
        a = await aio.send(msg, port=ours.port, cert_bundle=str(pki / "ca.pem"), **kw)
        b = await aiosmtplib.send(msg, port=theirs.port, tls_context=ctx, **kw)
        c = await aio.send(msg, port=ours.port, tls_context=ctx, **kw)
        return a, b, c
    a, b, c = run(both())
    assert _shape(a) == _shape(b) == _shape(c)
    got = ours.messages(2)
    assert [m["tls"] for m in got] == ["starttls", "starttls"]
    assert _spooled(ours, 2)[0] == _spooled(theirs, 1)[0]
    # The same bytes in clear (EHLO, STARTTLS) and over TLS (EHLO, AUTH PLAIN, MAIL ...), but for the
    # case of the SIZE keyword (aiosmtplib writes "size=").
    theirs_session = theirs.session_bytes(n=1)[0].replace(b" size=", b" SIZE=")
    assert ours.session_bytes(n=2) == [theirs_session, theirs_session]
    assert theirs_session.startswith(b"EHLO client.test\r\nSTARTTLS\r\nEHLO client.test\r\nAUTH PLAIN ")


def test_starttls_verifies_certificate(aiosmtpd, pki):
    srv = aiosmtpd("--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key")

    async def go():
        with pytest.raises(ssl.SSLCertVerificationError):
            await aio.send(b"x", sender="a@example.org", recipients=["b@example.org"], hostname=HOST,
                           port=srv.port, local_hostname=LOCAL, start_tls=True)  # test CA not trusted
        # validate_certs=False: encrypted, not verified (aiosmtplib's switch).
        await aio.send(b"Subject: unverified\r\n\r\nx\r\n", sender="a@example.org", recipients=["b@example.org"],
                       hostname=HOST, port=srv.port, local_hostname=LOCAL, start_tls=True, validate_certs=False)
        async with aio.SMTP(hostname=HOST, port=srv.port, local_hostname=LOCAL, start_tls=True,
                            cert_bundle=str(pki / "ca.pem")) as smtp:
            assert smtp.tls_active and smtp.get_transport_info("cipher")[0]
            assert smtp.get_transport_info("peername")[1] == srv.port
            assert "starttls" not in smtp.esmtp_extensions  # EHLO again after TLS
            return await smtp.sendmail("a@example.org", ["b@example.org"], b"Subject: verified\r\n\r\nx\r\n")
    run(go())
    assert [m["tls"] for m in srv.messages(2)] == ["starttls", "starttls"]


def test_implicit_tls(aiosmtpd, pki):
    srv = _tls_server(aiosmtpd, pki, "--implicit-tls")

    async def go():
        return await aio.send(b"Subject: smtps\r\n\r\nx\r\n", sender="a@example.org", recipients="b@example.org",
                              hostname=HOST, port=srv.port, use_tls=True, cert_bundle=str(pki / "ca.pem"),
                              local_hostname=LOCAL)
    assert run(go())[0] == {}
    assert srv.messages(1)[0]["tls"] == "implicit"


def test_login_refused_and_auth_methods(aiosmtpd, pki):
    srv = aiosmtpd("--auth", f"{USER}:{PASSWORD}", "--auth-plaintext")

    async def go():
        async with aio.SMTP(hostname=HOST, port=srv.port, local_hostname=LOCAL, start_tls=False) as smtp:
            await smtp.ehlo()
            assert smtp.supported_auth_methods == ["plain", "login"]
            with pytest.raises(smtpc.SMTPAuthenticationError) as info:
                await smtp.login(USER, "wrong")
            assert info.value.code == 535
            r = await smtp.auth_login(USER, PASSWORD)
            assert r.code == 235
    run(go())


# --- Postfix -------------------------------------------------------------------------------------------

def _postfix_view(m):
    """What Postfix delivered, without the header it adds (Received, with a time and a queue id)."""
    content = bytes.fromhex(m["content_hex"])
    content = re.sub(rb"^Received: .*?\r\n(?![ \t])", b"", content, flags=re.S)
    return m["mail_from"], m["rcpt_tos"], content


@pytest.mark.postfix
def test_postfix_side_by_side(postfix, pki):
    postfix.clear()
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))

    async def both():
        out = []
        for lib, tag in ((aio, "smtpc"), (aiosmtplib, "aiosmtplib")):
            for name, message, sender, recipients in CASES[:4]:
                if isinstance(message, email.message.Message):
                    message = copy.deepcopy(message)
                    message["X-Lib"] = tag
                    r = await lib.send(message, hostname=HOST, port=postfix.port, local_hostname=LOCAL,
                                       tls_context=ctx, start_tls=True, timeout=60)
                else:
                    body = (f"X-Lib: {tag}\r\n".encode() + message) if isinstance(message, bytes) else (
                        f"X-Lib: {tag}\n" + message)
                    r = await lib.send(body, sender=sender, recipients=recipients, hostname=HOST,
                                       port=postfix.port, local_hostname=LOCAL, tls_context=ctx, start_tls=True,
                                       timeout=60)
                out.append((tag, name, r[0], r[1][:6]))
        return out
    results = run(both(), timeout=120)
    ours = [(n, e, m) for t, n, e, m in results if t == "smtpc"]
    theirs = [(n, e, m) for t, n, e, m in results if t == "aiosmtplib"]
    assert ours == theirs
    got = postfix.messages(8, timeout=60)
    assert len(got) == 8
    by_lib = {"smtpc": [], "aiosmtplib": []}
    for m in got:
        sender, rcpts, content = _postfix_view(m)
        tag = re.search(rb"X-Lib: (\S+)\r\n", content).group(1).decode()
        by_lib[tag].append((sender, sorted(rcpts), content.replace(b"X-Lib: " + tag.encode(), b"X-Lib: LIB")))
    assert sorted(by_lib["smtpc"]) == sorted(by_lib["aiosmtplib"])


# --- many at once -------------------------------------------------------------------------------------

def test_fifty_concurrent_sends(server):
    async def go():
        return await asyncio.gather(*(
            aio.send(f"Subject: concurrent {i}\r\n\r\nmessage {i}\r\n".encode(), sender="a@example.org",
                     recipients=[f"r{i}@example.org"], hostname=HOST, port=server.port, local_hostname=LOCAL)
            for i in range(50)))
    results = run(go(), timeout=60)
    assert all(r[0] == {} for r in results)
    got = server.messages(50)
    assert sorted(m["rcpt_tos"][0] for m in got) == sorted(f"r{i}@example.org" for i in range(50))
    for m in got:
        i = m["rcpt_tos"][0][1:].split("@")[0]
        assert bytes.fromhex(m["content_hex"]) == f"Subject: concurrent {i}\r\n\r\nmessage {i}\r\n".encode()


def test_one_object_shared_by_tasks(server):
    """Operations on one SMTP object are serialised: ten tasks, one connection, ten transactions."""
    async def go():
        async with aio.SMTP(hostname=HOST, port=server.port, local_hostname=LOCAL) as smtp:
            return await asyncio.gather(*(
                smtp.sendmail("a@example.org", [f"t{i}@example.org"], f"Subject: {i}\r\n\r\n{i}\r\n".encode())
                for i in range(10)))
    assert all(r[0] == {} for r in run(go()))
    got = server.messages(10)
    assert len({m["session"] for m in got}) == 1
    assert sorted(m["rcpt_tos"][0] for m in got) == sorted(f"t{i}@example.org" for i in range(10))


def test_trace_runs_on_the_loop_thread(server):
    seen = []

    def trace(kind, data, time_us):
        seen.append((threading.get_ident(), kind, bytes(data)))

    async def go():
        async with aio.SMTP(hostname=HOST, port=server.port, local_hostname=LOCAL, trace=trace) as smtp:
            await smtp.sendmail("a@example.org", ["b@example.org"], b"Subject: t\r\n\r\nx\r\n")
        return threading.get_ident()
    loop_thread = run(go())
    assert seen and {t for t, _, _ in seen} == {loop_thread}
    sent = b"".join(d for _, k, d in seen if k == smtpc.TraceKind.SEND)
    assert b"EHLO client.test\r\n" in sent and b"MAIL FROM:<a@example.org>" in sent


# --- errors, timeouts, cancellation -------------------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def test_connection_refused():
    port = _free_port()

    async def go():
        t0 = time.monotonic()
        with pytest.raises(ConnectionRefusedError):
            await aio.send(b"x", sender="a@example.org", recipients=["b@example.org"], hostname=HOST, port=port)
        with pytest.raises(ConnectionError):  # what aiosmtplib users catch (its SMTPConnectError is one)
            await aio.SMTP(hostname=HOST, port=port).connect()
        return time.monotonic() - t0
    assert run(go()) < 5


def test_silent_server_connect_timeout():
    """A server that accepts and never greets: SMTPConnectTimeoutError after the timeout, not later."""
    lsock = socket.socket()
    lsock.bind((HOST, 0))
    lsock.listen(8)  # never accepted: the kernel completes the handshake, nobody speaks
    try:
        async def go():
            t0 = time.monotonic()
            with pytest.raises(aio.SMTPConnectTimeoutError) as info:
                await aio.send(b"x", sender="a@example.org", recipients=["b@example.org"], hostname=HOST,
                               port=lsock.getsockname()[1], timeout=0.5)
            return time.monotonic() - t0, info.value
        elapsed, exc = run(go())
        assert isinstance(exc, TimeoutError) and isinstance(exc, aio.SMTPTimeoutError)
        assert 0.45 <= elapsed < 3.0
    finally:
        lsock.close()


def test_silent_server_read_timeout(fault):
    srv = fault([{"send": "220 fault ESMTP\r\n"}, {"expect": "EHLO"}, {"sleep": 1.2}])

    async def go():
        smtp = aio.SMTP(hostname=HOST, port=srv.port, local_hostname=LOCAL, timeout=0.5)
        t0 = time.monotonic()
        with pytest.raises(aio.SMTPReadTimeoutError):
            await smtp.connect()  # EHLO (for STARTTLS, opportunistic) gets no reply
        return time.monotonic() - t0, smtp.is_connected
    elapsed, connected = run(go())
    assert 0.45 <= elapsed < 3.0 and not connected
    assert srv.transcript() == b"EHLO client.test\r\n"


_GREET = [{"send": "220 fault ESMTP\r\n"}, {"expect": "EHLO"}]
_MESSAGE = [{"send": "250 fault\r\n"}, {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"},
            {"send": "250 ok\r\n"}, {"expect": "DATA"}, {"send": "354 go\r\n"},
            {"read_until": "\r\n.\r\n"}, {"send": "250 queued as X1\r\n"}, {"expect": "QUIT"}]


_HELO_REFUSED = _GREET + [{"send": "502 no\r\n"}, {"expect": "HELO"}, {"send": "502 no\r\n"}]


@pytest.mark.parametrize("case,start_tls,steps,outcome", [
    # EHLO and then HELO refused. With start_tls=False the hello goes with the message, and the
    # refusal is followed by QUIT; with start_tls=None (opportunistic STARTTLS) it is part of
    # connecting, and the connection is closed.
    ("hello refused, with the message", False,
     _HELO_REFUSED + [{"expect": "QUIT", "timeout": 3}, {"send": "221 bye\r\n"}], "SMTPHeloError 502"),
    ("hello refused, with the connect", None, _HELO_REFUSED + [{"expect_eof": True, "timeout": 3}],
     "SMTPHeloError 502"),
    # QUIT unanswered or refused: the message's result stands.
    ("quit closed", False, _GREET + _MESSAGE + [{"close": True}], "({}, 'queued as X1')"),
    ("quit refused", None, _GREET + _MESSAGE + [{"send": "500 what\r\n"}], "({}, 'queued as X1')"),
])
def test_send_failure_points_side_by_side(fault, case, start_tls, steps, outcome):
    """send() fails at the hello (with start_tls=False after the connect, with the message; with
    start_tls=None as part of connecting) or at QUIT as aiosmtplib.send does, the same bytes on the
    wire."""
    ours, theirs = fault(steps), fault(steps)

    async def one(lib, port):
        try:
            r = await lib.send(b"Subject: x\r\n\r\nbody\r\n", sender="a@example.org",
                               recipients=["b@example.org"], hostname=HOST, port=port,
                               local_hostname=LOCAL, start_tls=start_tls, timeout=5)
            return repr((r[0], r[1]))
        except lib.SMTPHeloError as e:
            return f"SMTPHeloError {e.code}"

    async def both():
        return await one(aio, ours.port), await one(aiosmtplib, theirs.port)
    a, b = run(both())
    assert a == b == outcome, case
    assert ours.transcript() == theirs.transcript()


def test_cancel_mid_data_leaves_nothing(fault):
    """wait_for() cancels sendmail() while the body is going out to a server that stopped reading:
    the connection is closed, no reader or writer stays registered, the end of data never went out."""
    srv = fault([{"send": "220 fault ESMTP\r\n"}, {"expect": "EHLO"}, {"send": "250 fault\r\n"},
                 {"expect": "MAIL"}, {"send": "250 ok\r\n"}, {"expect": "RCPT"}, {"send": "250 ok\r\n"},
                 {"expect": "DATA"}, {"send": "354 go\r\n"}, {"stop_reading": True, "max": 1}],
                1, "--rcvbuf", 4096)
    body = b"Subject: big\r\n\r\n" + b"0123456789abcdef" * 4 * 1024 * 256 + b"\r\n"  # 16 MiB
    seen = {}

    async def go():
        loop = asyncio.get_running_loop()
        smtp = aio.SMTP(hostname=HOST, port=srv.port, local_hostname=LOCAL, start_tls=False, timeout=10)
        await smtp.connect()
        task = asyncio.ensure_future(smtp.sendmail("a@example.org", ["b@example.org"], body))
        for _ in range(200):  # until the body is under way (the driver watches for writing)
            await asyncio.sleep(0.01)
            if smtp._d.wants & aio._WANT_WRITE:
                break
        fd = seen["fd"] = smtp._d.fd
        assert fd >= 0
        t0 = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(task, 0.2)
        seen["elapsed"] = time.monotonic() - t0
        seen["reader"] = loop.remove_reader(fd)
        seen["writer"] = loop.remove_writer(fd)
        seen["connected"] = smtp.is_connected
        # The object is usable again: a new connection would need connect(); commands say so.
        with pytest.raises(smtpc.SMTPServerDisconnected):
            await smtp.noop()
    run(go())
    assert seen["reader"] is False and seen["writer"] is False and seen["connected"] is False
    assert seen["elapsed"] < 2.0
    transcript = srv.transcript()
    assert transcript.startswith(b"EHLO client.test\r\nMAIL FROM:<a@example.org>")
    assert not transcript.endswith(b"\r\n.\r\n") and len(transcript) < len(body)


def test_close_during_operation(fault):
    srv = fault([{"send": "220 fault ESMTP\r\n"}, {"expect": "EHLO"}, {"sleep": 2}])

    async def go():
        smtp = aio.SMTP(hostname=HOST, port=srv.port, local_hostname=LOCAL, start_tls=False)
        await smtp.connect()
        task = asyncio.ensure_future(smtp.ehlo())
        await asyncio.sleep(0.1)
        smtp.close()
        with pytest.raises(smtpc.SMTPServerDisconnected):
            await task
        return smtp._d.fd, smtp._d.timer
    fd, timer = run(go())
    assert fd == -1 and timer is None


@pytest.mark.parametrize("sender,recipient", [
    ("a@example.org\r\nRCPT TO:<evil@example.org>", "b@example.org"),
    ("a@example.org", "b@example.org\nDATA"),
    ("a@example.org", "b@exa\rmple.org"),
])
def test_bad_input_refused_before_sending(server, sender, recipient):
    async def go():
        async with aio.SMTP(hostname=HOST, port=server.port, local_hostname=LOCAL, start_tls=False) as smtp:
            await smtp.ehlo()
            with pytest.raises(ValueError):
                await smtp.sendmail(sender, [recipient], b"Subject: x\r\n\r\nx\r\n")
            with pytest.raises(ValueError):
                await smtp.execute_command(b"NOOP", b"x\r\nRSET")
            assert (await smtp.noop()).code == 250
    run(go())
    assert server.session_bytes() == [b"EHLO client.test\r\nNOOP\r\nQUIT\r\n"]
    assert server.messages() == []


def test_bad_arguments():
    with pytest.raises(ValueError):
        aio.SMTP(hostname="host\r\nname")
    with pytest.raises(ValueError):
        aio.SMTP(use_tls=True, start_tls=True)
    with pytest.raises(ValueError):
        run(aio.send(b"x", hostname=HOST, port=1))  # a raw message needs sender and recipients
    with pytest.raises(TypeError):
        run(aio.send(42, sender="a@example.org", recipients=["b@example.org"], hostname=HOST, port=1))


def test_not_connected():
    async def go():
        smtp = aio.SMTP(hostname=HOST, port=1)
        with pytest.raises(smtpc.SMTPServerDisconnected):
            await smtp.noop()
        with pytest.raises(smtpc.SMTPServerDisconnected):
            await smtp.sendmail("a@example.org", ["b@example.org"], b"x")
    run(go())


def test_default_local_hostname_found_once(server):
    """The library's default EHLO name needs a blocking lookup: done by the first client only, the
    next ones are given its result."""
    aio._local_hostname_cache = None

    async def go():
        for _ in range(2):
            await aio.send(b"Subject: n\r\n\r\nx\r\n", sender="a@example.org", recipients=["b@example.org"],
                           hostname=HOST, port=server.port)
    run(go())
    name = aio._local_hostname_cache
    assert name
    assert server.session_bytes(n=2)[0].startswith(f"EHLO {name}\r\n".encode())
    assert [m["helo"] for m in server.messages(2)] == [name, name]


def test_reconnect_after_cancel(fault):
    """A cancelled operation closes the connection; the object connects again and works."""
    srv = fault([{"send": "220 fault ESMTP\r\n"}, {"expect": "EHLO", "optional": True},
                 {"sleep": 0.5, "optional": True}, {"send": "250 late\r\n"},
                 {"expect": "EHLO", "optional": True}, {"send": "250 fault\r\n"},
                 {"expect": "NOOP", "optional": True}, {"send": "250 ok\r\n"},
                 {"expect": "QUIT", "optional": True}, {"send": "221 bye\r\n"}], 2)

    async def go():
        smtp = aio.SMTP(hostname=HOST, port=srv.port, local_hostname=LOCAL, start_tls=False)
        await smtp.connect()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(smtp.ehlo(), 0.1)
        assert not smtp.is_connected and smtp._d.fd == -1
        await smtp.connect()  # the second connection of the script: EHLO "late", then the rest
        r = await smtp.ehlo()
        assert (await smtp.noop()).code == 250
        await smtp.quit()
        return r
    assert run(go()).code == 250
    assert srv.transcript().startswith(b"EHLO client.test\r\nEHLO client.test\r\n")


def test_progress_callback_aborts(server):
    """A progress callback runs inside a step; its exception aborts the message before the end of
    data, closes the connection and reaches the awaiting task."""
    calls = []

    class Stop(Exception):
        pass

    def progress(sent, total):
        calls.append((threading.get_ident(), sent, total))
        raise Stop()

    async def go():
        smtp = aio.SMTP(hostname=HOST, port=server.port, local_hostname=LOCAL, progress=progress)
        await smtp.connect()
        with pytest.raises(Stop):
            await smtp.sendmail("a@example.org", ["b@example.org"], b"Subject: p\r\n\r\n" + b"x" * 100000)
        assert not smtp.is_connected and smtp._d.fd == -1 and smtp._d.timer is None
        return threading.get_ident()
    loop_thread = run(go())
    assert calls and calls[0][0] == loop_thread
    assert server.messages(timeout=0.5) == []


def test_unix_socket_and_lmtp(aiosmtpd, tmp_path):
    """socket_path (a Unix socket) and LMTP (lmtp=True): a recipient the message failed for after
    DATA is in the refusal dictionary with its own reply, the others are delivered."""
    path = tmp_path / "lmtp.sock"
    srv = aiosmtpd("--mode", "lmtp", "--unix", path)

    async def go():
        async with aio.SMTP(hostname=None, socket_path=path, lmtp=True, local_hostname=LOCAL) as smtp:
            return await smtp.sendmail("a@example.org", ["ok@example.org", "fail@example.org"],
                                       b"Subject: lmtp\r\n\r\nx\r\n")
    errors, _ = run(go())
    assert list(errors) == ["fail@example.org"] and errors["fail@example.org"].code == 550
    got = srv.messages(1)[0]
    assert got["mode"] == "lmtp" and got["helo"] == LOCAL
    assert bytes.fromhex(got["content_hex"]) == b"Subject: lmtp\r\n\r\nx\r\n"
