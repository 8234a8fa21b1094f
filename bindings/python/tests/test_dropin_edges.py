# SPDX-License-Identifier: MIT
"""smtpc.smtplib where a program can tell it from the standard smtplib: argument handling (ports,
timeouts, wrong types), exception classes at the edges (timeouts, a greeting that is not SMTP, no
recipients, over-long reply lines, refusals followed by a close), send_message through
self.sendmail, TLS errors and debug output. Each case runs the same calls through both modules
against the same kind of server (aiosmtpd, Postfix, or tests/servers/fault_server.py with a
transcript of every byte received) and compares what a program sees."""
from __future__ import annotations

import email.message
import email.utils
import io
import json
import re
import smtplib as std
import socket
import ssl
from contextlib import redirect_stderr
from unittest import mock

import pytest

from smtpc import smtplib as sp

HOST = "127.0.0.1"
LOCAL = "client.test"
USER_ = "user@example.org"
BOTH = pytest.mark.parametrize("mod", [std, sp], ids=["stdlib", "smtpc"])

GREETING = {"send": "220 fault.test ESMTP\r\n"}


def ehlo_reply(*extensions):
    lines = ["fault.test", *extensions]
    return {"send": "".join(f"250{'-' if i < len(lines) - 1 else ' '}{l}\r\n" for i, l in enumerate(lines))}


def binding_internals(e):
    """Text that only SWIG's generated wrappers produce."""
    return re.search(r"in method '|argument \d+ of |uint16_t|uint32_t|size_t", str(e)) is not None


def outcome(call):
    try:
        return ("ok", call())
    except Exception as e:  # noqa: BLE001 - compared below
        return (type(e), e)


def commands(raw):
    """The command lines of a transcript, the verb upper-cased and smtplib's SIZE= dropped (the only
    spelling differences between the two modules)."""
    out = []
    for line in raw.split(b"\r\n"):
        if not line:
            continue
        verb, _, rest = line.partition(b" ")
        rest = re.sub(rb"(?i) size=\d+", b"", rest)
        out.append(verb.upper() + (b" " + rest if rest else b""))
    return out


# --- 1. ports and other arguments ------------------------------------------------------------------

@BOTH
def test_port_as_string(server, mod):
    for port in (str(server.port), str(server.port).encode()):
        with mod.SMTP(HOST, port, local_hostname=LOCAL) as s:
            assert s.noop() == (250, b"OK")
    s = mod.SMTP(local_hostname=LOCAL)
    assert s.connect(HOST, str(server.port))[0] == 220
    s.close()
    raw = server.session_bytes(n=3)
    assert len(raw) == 3 and all(b"NOOP" in r.upper() for r in raw[:2])


@pytest.mark.parametrize("port", ["abc", "25x", -1, 2525.0, [25], True, "0"])
def test_bad_port_same_exception(port):
    got = []
    for mod in (std, sp):
        kind, exc = outcome(lambda: mod.SMTP(HOST, port, timeout=5))
        assert kind != "ok"
        got.append((kind, getattr(exc, "errno", None)))
        assert not binding_internals(exc), exc
    assert got[0] == got[1]


@pytest.mark.parametrize("port", [65536, 70000, 2 ** 64])
def test_port_out_of_range(port):
    # getaddrinfo() wraps an out-of-range number (smtplib then connects to port % 65536); the
    # drop-in refuses it with the error getaddrinfo() gives a port it cannot use.
    with pytest.raises(socket.gaierror, match="out of range") as info:
        sp.SMTP(HOST, port, timeout=5)
    assert info.value.errno == socket.EAI_SERVICE


CONSTRUCTOR_CASES = {
    "timeout str": dict(timeout="5"),
    "timeout negative": dict(timeout=-1),
    "timeout nan": dict(timeout=float("nan")),
    "timeout huge": dict(timeout=1e300),
    "source port too big": dict(source_address=(HOST, 70000)),
    "source port str": dict(source_address=(HOST, "x")),
    "source host int": dict(source_address=(5, 0)),
}


@pytest.mark.parametrize("case", list(CONSTRUCTOR_CASES))
def test_constructor_arguments_same_exception(server, case):
    kw = CONSTRUCTOR_CASES[case]
    got = []
    for mod in (std, sp):
        kind, exc = outcome(lambda: mod.SMTP(HOST, server.port, local_hostname=LOCAL, **kw))
        assert kind != "ok"
        assert not binding_internals(exc), exc
        got.append(kind)
    assert got[0] == got[1]


def test_host_of_wrong_type(server):
    for mod in (std, sp):
        with pytest.raises(TypeError) as info:
            mod.SMTP(5, server.port)
    assert not binding_internals(info.value)
    with mod.SMTP(HOST.encode(), server.port) as s:  # bytes, as getaddrinfo() takes it
        assert s.noop()[0] == 250


def _connected(mod, server):
    s = mod.SMTP(HOST, server.port, local_hostname=LOCAL)
    s.ehlo()
    return s


MSG = b"Subject: x\r\n\r\nx\r\n"

METHOD_CASES = {
    "sendmail msg int": lambda s: s.sendmail("a@example.org", ["b@example.org"], 5),
    "sendmail msg None": lambda s: s.sendmail("a@example.org", ["b@example.org"], None),
    "sendmail to None": lambda s: s.sendmail("a@example.org", None, MSG),
    "sendmail to int": lambda s: s.sendmail("a@example.org", 5, MSG),
    "sendmail rcpt int": lambda s: s.sendmail("a@example.org", [5], MSG),
    "sendmail from None": lambda s: s.sendmail(None, ["b@example.org"], MSG),
    "sendmail mail option int": lambda s: s.sendmail("a@example.org", ["b@example.org"], MSG, [5]),
    "sendmail rcpt option int": lambda s: s.sendmail("a@example.org", ["b@example.org"], MSG, [], [5]),
    "sendmail options None": lambda s: s.sendmail("a@example.org", ["b@example.org"], MSG, None),
    "mail int": lambda s: s.mail(5),
    "mail option int": lambda s: s.mail("a@example.org", [5]),
    "rcpt None": lambda s: s.rcpt(None),
    "rcpt options None": lambda s: (s.mail("a@example.org"), s.rcpt("b@example.org", None)),
    "data int in a transaction": lambda s: (s.mail("a@example.org"), s.rcpt("b@example.org"), s.data(5)),
    "docmd int": lambda s: s.docmd(5),
    "docmd args int": lambda s: s.docmd("NOOP", 5),
    "putcmd None": lambda s: s.putcmd(None),
    "send int": lambda s: s.send(5),
    "send None": lambda s: s.send(None),
    "helo int": lambda s: s.helo(5),
    "ehlo int": lambda s: s.ehlo(5),
    "ehlo None": lambda s: s.ehlo(None),
    "vrfy int": lambda s: s.vrfy(5),
    "expn int": lambda s: s.expn(5),
    "help int": lambda s: s.help(5),
    "help None": lambda s: s.help(None),
    "has_extn int": lambda s: s.has_extn(5),
    "auth authobject int": lambda s: s.auth("PLAIN", 5),
    "auth mechanism int": lambda s: s.auth(5, lambda challenge=None: "x"),
    "send_message int": lambda s: s.send_message(5),
    "sock.settimeout str": lambda s: s.sock.settimeout("x"),
    "sock.settimeout negative": lambda s: s.sock.settimeout(-1),
    "connect port str": lambda s: s.connect(HOST, str(s._test_port)),
    "connect port float": lambda s: s.connect(HOST, 1.5),
    "connect host None": lambda s: s.connect(None),
}


@pytest.mark.parametrize("case", list(METHOD_CASES))
def test_method_arguments_same_outcome(server, case):
    """The same call gives the same kind of outcome (accepted, or the same exception class) in both
    modules, and never an error text of the SWIG layer."""
    got = []
    for mod in (std, sp):
        s = _connected(mod, server)
        s._test_port = server.port
        try:
            kind, exc = outcome(lambda: METHOD_CASES[case](s))
        finally:
            s.close()
        if kind != "ok":
            assert not binding_internals(exc), exc
        got.append(kind)
    if case == "data int in a transaction":
        # smtplib sends DATA and fails after the 354, mid-transaction; the drop-in refuses the
        # argument before sending anything. Same exception class.
        assert got == [TypeError, TypeError]
        return
    assert got[0] == got[1], got


@pytest.mark.parametrize("user, password", [(5, "x"), (USER_, 5), (None, None)])
def test_login_arguments(auth_server, user, password):
    handler, port = auth_server
    for mod in (std, sp):
        # smtplib fails in the middle of the exchange (no `with`: its QUIT would be taken as the
        # AUTH response); the drop-in before sending AUTH.
        s = mod.SMTP(HOST, port, local_hostname=LOCAL)
        try:
            with pytest.raises((TypeError, AttributeError)) as info:
                s.login(user, password)
            assert not binding_internals(info.value), info.value
            if mod is sp:
                assert isinstance(info.value, TypeError) and s.noop() == (250, b"OK")
        finally:
            s.close()


def test_nothing_sent_for_refused_arguments(server):
    with sp.SMTP(HOST, server.port, local_hostname=LOCAL) as s:
        s.ehlo()
        s.mail("a@example.org")
        s.rcpt("b@example.org")
        with pytest.raises(TypeError):
            s.data(5)
        with pytest.raises(TypeError):
            s.send(5)
        with pytest.raises(TypeError):
            s.sendmail("a@example.org", ["b@example.org"], 5)
        assert s.rset() == (250, b"OK")
    raw = b"".join(server.session_bytes())
    assert commands(raw) == [b"EHLO client.test", b"MAIL FROM:<a@example.org>", b"RCPT TO:<b@example.org>",
                             b"RSET", b"QUIT"]


# --- 2. exceptions --------------------------------------------------------------------------------

def test_exceptions_are_the_standard_classes():
    for name in ("SMTPException", "SMTPNotSupportedError", "SMTPServerDisconnected", "SMTPResponseException",
                 "SMTPSenderRefused", "SMTPRecipientsRefused", "SMTPDataError", "SMTPConnectError",
                 "SMTPHeloError", "SMTPAuthenticationError"):
        assert issubclass(getattr(sp, name), getattr(std, name)), name
    for name, parent in (("SMTPInsecureAuthError", "SMTPException"), ("SMTPTLSRequiredError", "SMTPNotSupportedError"),
                         ("SMTPProtocolError", "SMTPServerDisconnected"),
                         ("SMTPDeliveryUnknown", "SMTPServerDisconnected")):
        assert issubclass(getattr(sp, name), getattr(std, parent)), name
    e = sp.SMTPSenderRefused(550, b"no", "a@b")
    assert isinstance(e, std.SMTPResponseException) and e.args == (550, b"no", "a@b") and e.sender == "a@b"


def test_standard_except_clause_catches(server):
    # Code written against the standard module, given the drop-in's exceptions.
    with sp.SMTP(HOST, server.port) as s:
        try:
            s.sendmail("refuse@example.org", ["b@example.org"], MSG)
        except std.SMTPSenderRefused as e:
            caught = (e.smtp_code, e.sender)
    assert caught == (550, "refuse@example.org")


def _side_by_side_fault(fault, steps, call, tls=()):
    """Run call(mod, port) for both modules, each against its own fault server with `steps` (and
    the server options `tls`). Returns [(outcome, transcript), (outcome, transcript)] for (std, smtpc)."""
    out = []
    for mod in (std, sp):
        srv = fault(steps, 1, *tls)
        res = outcome(lambda: call(mod, srv.port))
        out.append((res, srv.transcript()))
    return out


def test_reply_timeout_is_server_disconnected(fault):
    steps = [GREETING, {"expect": ""}, ehlo_reply("8BITMIME"), {"expect": ""}, {"sleep": 4}]

    def call(mod, port):
        s = mod.SMTP(HOST, port, local_hostname=LOCAL, timeout=1)
        s.ehlo()
        try:
            return s.noop()
        finally:
            assert s.sock is None  # closed, as smtplib's getreply() does
    (a, ta), (b, tb) = _side_by_side_fault(fault, steps, call)
    assert a[0] is std.SMTPServerDisconnected and isinstance(b[1], std.SMTPServerDisconnected)
    assert str(a[1]) == str(b[1]) == "Connection unexpectedly closed: timed out"
    assert commands(ta) == commands(tb) == [b"EHLO client.test", b"NOOP"]


def test_getreply_timeout_is_server_disconnected(fault):
    steps = [GREETING, {"expect": ""}, {"sleep": 4}]

    def call(mod, port):
        s = mod.SMTP(HOST, port, local_hostname=LOCAL, timeout=1)
        s.putcmd("NOOP")
        return s.getreply()
    (a, ta), (b, tb) = _side_by_side_fault(fault, steps, call)
    assert a[0] is std.SMTPServerDisconnected and isinstance(b[1], std.SMTPServerDisconnected)
    assert str(a[1]) == str(b[1]) == "Connection unexpectedly closed: timed out"
    assert ta == tb == b"NOOP\r\n"


def test_greeting_timeout_is_server_disconnected(fault):
    (a, _), (b, _) = _side_by_side_fault(fault, [{"sleep": 4}],
                                         lambda mod, port: mod.SMTP(HOST, port, timeout=1))
    assert a[0] is std.SMTPServerDisconnected and isinstance(b[1], std.SMTPServerDisconnected)
    assert str(a[1]) == str(b[1])


def test_connect_timeout_stays_timeout_error():
    # A TCP connect that times out: smtplib's socket.create_connection() raises TimeoutError (not
    # an SMTP error). A listening socket whose accept queue is full drops further SYNs.
    listener = socket.socket()
    fill = []
    try:
        listener.bind((HOST, 0))
        listener.listen(0)
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(listener.getsockname())
            fill.append(c)
        for mod in (std, sp):
            kind, exc = outcome(lambda: mod.SMTP(HOST, listener.getsockname()[1], timeout=1))
            assert kind is TimeoutError and not isinstance(exc, std.SMTPException), exc
    finally:
        for c in fill:
            c.close()
        listener.close()


SSH_BANNER = {"send": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"}


def test_ssh_banner_is_connect_error(fault):
    steps = [SSH_BANNER, {"expect_eof": True, "timeout": 5, "optional": True}]
    (a, ta), (b, tb) = _side_by_side_fault(fault, steps, lambda mod, port: mod.SMTP(HOST, port, timeout=5))
    assert a[0] is std.SMTPConnectError and isinstance(b[1], std.SMTPConnectError)
    assert a[1].args == b[1].args == (-1, b"2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
    assert ta == tb == b""  # nothing was sent to the SSH server


def test_ssh_banner_connect_returns_minus_one(fault):
    steps = [SSH_BANNER, {"expect_eof": True, "timeout": 5, "optional": True}]

    def call(mod, port):
        s = mod.SMTP(timeout=5)
        try:
            return s.connect(HOST, port)
        finally:
            s.close()
    (a, _), (b, _) = _side_by_side_fault(fault, steps, call)
    assert a == b == ("ok", (-1, b"2.0-OpenSSH_9.2p1 Debian-2+deb12u3"))


def test_sendmail_without_recipients(server):
    got = []
    for mod in (std, sp):
        with mod.SMTP(HOST, server.port, local_hostname=LOCAL) as s:
            for to in ([], ()):
                with pytest.raises(std.SMTPRecipientsRefused) as info:
                    s.sendmail("a@example.org", to, MSG)
                got.append((type(info.value).__name__, info.value.args, info.value.recipients))
            # An empty address: smtplib sends RCPT TO:<> and reports the server's refusal; the
            # drop-in skips it (docs/python.md), so nothing is left to send. Same class.
            with pytest.raises(std.SMTPRecipientsRefused) as info:
                s.sendmail("a@example.org", "", MSG)
            assert info.value.recipients == ({"": (501, b"5.1.3 Bad recipient address syntax")} if mod is std else {})
            assert s.noop()[0] == 250
    assert got[:2] == got[2:] and got[0] == ("SMTPRecipientsRefused", ({},), {})
    assert server.messages() == []
    # smtplib sends MAIL FROM and then RSET; the drop-in sends nothing for a transaction that
    # cannot deliver anything.
    raw = server.session_bytes(n=2)
    assert b"MAIL" in raw[0].upper() and b"MAIL" not in raw[1].upper() and b"RCPT" not in raw[1].upper()


def test_send_message_without_recipients(server):
    m = email.message.EmailMessage()
    m["From"] = "a@example.org"
    m["Subject"] = "nobody"
    m.set_content("x")
    got = []
    for mod in (std, sp):
        with mod.SMTP(HOST, server.port, local_hostname=LOCAL) as s:
            with pytest.raises(std.SMTPRecipientsRefused) as info:
                s.send_message(m)
            got.append(info.value.args)
    assert got == [({},), ({},)]
    assert server.messages() == []


def test_reply_line_too_long(fault):
    steps = [GREETING, {"expect": ""}, ehlo_reply(), {"expect": ""}, {"send": "250 " + "x" * 9000 + "\r\n"},
             {"expect_eof": True, "optional": True}]

    def call(mod, port):
        s = mod.SMTP(HOST, port, local_hostname=LOCAL, timeout=10)
        s.ehlo()
        try:
            return s.noop()
        finally:
            assert s.sock is None
    (a, ta), (b, tb) = _side_by_side_fault(fault, steps, call)
    assert a[0] is std.SMTPResponseException and isinstance(b[1], std.SMTPResponseException)
    assert a[1].args == b[1].args == (500, "Line too long.")
    assert (b[1].smtp_code, b[1].smtp_error) == (500, "Line too long.")
    assert commands(ta) == commands(tb) == [b"EHLO client.test", b"NOOP"]


def test_reply_line_over_library_limit(fault):
    # The library's limit is 4096 octets a line (smtplib's 8192): between the two the drop-in
    # raises what smtplib raises over its own limit.
    steps = [GREETING, {"expect": ""}, {"send": "250 " + "x" * 5000 + "\r\n"}, {"expect_eof": True, "optional": True}]
    srv = fault(steps)
    s = sp.SMTP(HOST, srv.port, local_hostname=LOCAL, timeout=10)
    with pytest.raises(std.SMTPResponseException) as info:
        s.ehlo()
    assert info.value.args == (500, "Line too long.")


# --- 3. send_message goes through self.sendmail ------------------------------------------------------

def _messages():
    plain = email.message.EmailMessage()
    plain["From"] = "Anne <anne@example.org>"
    plain["To"] = "Bob <bob@example.org>, undisclosed: ;"
    plain["Cc"] = "carol@example.org"
    plain["Bcc"] = "hidden@example.org"
    plain["Subject"] = "hello"
    plain.set_content("Body\n.dot\n")
    resent = email.message.EmailMessage()
    resent["From"] = "a@example.org"
    resent["To"] = "b@example.org"
    resent["Resent-Date"] = email.utils.formatdate()
    resent["Resent-Sender"] = "sender@example.org"
    resent["Resent-To"] = "new@example.org"
    resent["Resent-Bcc"] = "secret@example.org"
    resent.set_content("x")
    intl = email.message.EmailMessage()
    intl["From"] = "Jörg <jörg@exämple.org>"
    intl["To"] = "δοκιμή@παράδειγμα.δοκιμή"
    intl["Subject"] = "Grüße"
    intl.set_content("Grüße\n")
    return {"plain": (plain, {}), "explicit": (plain, dict(from_addr="env@example.org", to_addrs="x@example.org",
                                                           mail_options=["BODY=8BITMIME"], rcpt_options=["NOTIFY=NEVER"])),
            "resent": (resent, {}), "international": (intl, dict(mail_options=("BODY=8BITMIME",)))}


@pytest.mark.parametrize("case", ["plain", "explicit", "resent", "international"])
def test_send_message_calls_sendmail(server, case):
    msg, kw = _messages()[case]
    calls = []
    for mod in (std, sp):
        with mock.patch.object(mod.SMTP, "sendmail", autospec=True, return_value={"x": (550, b"no")}) as m:
            with mod.SMTP(HOST, server.port, local_hostname=LOCAL) as s:
                assert s.send_message(msg, **kw) == {"x": (550, b"no")}
        assert m.call_count == 1
        args, kwargs = m.call_args
        assert args[0] is s and kwargs == {}
        calls.append(args[1:])
    assert calls[0] == calls[1]  # from_addr, to_addrs, flattened bytes, mail_options, rcpt_options
    assert b"\r\nBcc:" not in calls[1][2] and b"\r\nResent-Bcc:" not in calls[1][2]
    assert server.messages() == []  # the mock sent nothing


def test_send_message_through_subclass_sendmail(server):
    seen = []

    class Audited(sp.SMTP):
        def sendmail(self, from_addr, to_addrs, msg, mail_options=(), rcpt_options=()):
            seen.append((from_addr, list(to_addrs), msg))
            return super().sendmail(from_addr, to_addrs, msg, mail_options, rcpt_options)
    m, _ = _messages()["plain"]
    with Audited(HOST, server.port, local_hostname=LOCAL) as s:
        assert s.send_message(m) == {}
    assert seen and seen[0][0] == "anne@example.org"
    assert seen[0][1] == ["bob@example.org", "", "hidden@example.org", "carol@example.org"]
    got = server.messages(1)[0]
    # The empty group is skipped (smtplib sends RCPT TO:<>, refused); Bcc is not transmitted.
    assert got["rcpt_tos"] == ["bob@example.org", "hidden@example.org", "carol@example.org"]
    assert bytes.fromhex(got["content_hex"]) == seen[0][2]
    assert b"hidden@" not in seen[0][2]


# --- 4. TLS errors, local_hostname, debug output ------------------------------------------------------

def _starttls_steps(pki, cert):
    return [GREETING, {"expect": ""}, ehlo_reply("STARTTLS"), {"expect": ""}, {"send": "220 2.0.0 go ahead\r\n"},
            {"starttls": {"cert": str(pki / f"{cert}.pem"), "key": str(pki / f"{cert}.key")}},
            {"expect_eof": True, "optional": True, "timeout": 5}]


def _tls_fields(e):
    return (type(e), e.args[0], e.reason, e.library, getattr(e, "verify_code", None),
            getattr(e, "verify_message", None))


def test_tls_verify_error_like_ssl(fault, pki):
    def call(mod, port):
        with mod.SMTP(HOST, port, local_hostname=LOCAL, timeout=10) as s:
            return s.starttls(context=ssl.create_default_context())
    (a, ta), (b, tb) = _side_by_side_fault(fault, _starttls_steps(pki, "selfsigned"), call)
    assert a[0] is ssl.SSLCertVerificationError and b[0] is ssl.SSLCertVerificationError
    assert _tls_fields(a[1]) == _tls_fields(b[1])
    assert (b[1].reason, b[1].library, b[1].verify_code) == ("CERTIFICATE_VERIFY_FAILED", "SSL", 18)
    text = str(b[1])
    assert not text.startswith("(") and text.startswith("[SSL: CERTIFICATE_VERIFY_FAILED] ") and "self-signed" in text
    assert commands(ta.split(b"--TLS--")[0]) == commands(tb.split(b"--TLS--")[0]) == [b"EHLO client.test", b"STARTTLS"]


def test_implicit_tls_verify_error_like_ssl(fault, pki):
    def call(mod, port):
        return mod.SMTP_SSL(HOST, port, local_hostname=LOCAL, timeout=10, context=ssl.create_default_context())
    (a, _), (b, _) = _side_by_side_fault(fault, [{"expect_eof": True, "optional": True, "timeout": 5}], call,
                                         tls=("--implicit-tls", "--tls-cert", pki / "selfsigned.pem",
                                              "--tls-key", pki / "selfsigned.key"))
    assert a[0] is ssl.SSLCertVerificationError and b[0] is ssl.SSLCertVerificationError
    assert _tls_fields(a[1]) == _tls_fields(b[1])
    assert str(b[1]).startswith("[SSL: CERTIFICATE_VERIFY_FAILED] ")


def test_tls_handshake_timeout_stays_timeout_error(fault, pki):
    # smtplib's starttls() lets the ssl module's TimeoutError through (it is not a reply).
    steps = _starttls_steps(pki, "server")[:5] + [{"sleep": 3}]  # the ClientHello is never answered

    def call(mod, port):
        s = mod.SMTP(HOST, port, local_hostname=LOCAL, timeout=1)
        try:
            return s.starttls(context=ssl.create_default_context(cafile=str(pki / "ca.pem")))
        finally:
            s.close()
    (a, _), (b, _) = _side_by_side_fault(fault, steps, call)
    assert a[0] is TimeoutError and b[0] is TimeoutError, (a, b)


def test_tls_configuration_reused_per_context(aiosmtpd, pki):
    # An SSLContext is made once and used for many connections, as smtplib users do: the drop-in
    # makes one library configuration for it (one SSL_CTX, its CA certificates parsed once), and a
    # new one when the context's settings change.
    srv = aiosmtpd("--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key")
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    configs = []
    for change in (None, None, "check_hostname", "ca"):
        if change == "check_hostname":
            ctx.check_hostname = False
        elif change == "ca":
            ctx.load_verify_locations(cafile=str(pki / "ca2.pem"))
        with sp.SMTP(HOST, srv.port, local_hostname=LOCAL) as s:
            assert s.starttls(context=ctx)[0] == 220
            configs.append(s._tls_config)
            assert s.noop() == (250, b"OK")
    assert configs[0] is configs[1]
    assert configs[2] is not configs[1] and configs[3] is not configs[2]
    # Another context, without the test CA: its own configuration, and verification fails.
    with sp.SMTP(HOST, srv.port, local_hostname=LOCAL) as s:
        with pytest.raises(ssl.SSLCertVerificationError):
            s.starttls(context=ssl.create_default_context())
    srv.session_bytes(n=5)  # every session recorded
    tls = [json.loads(p.read_text()) for p in sorted(srv.sessions.glob("session-*.json"))]
    assert [t["tls_established"] for t in tls][:4] == [True] * 4


def test_tls_protocol_error_like_ssl(fault):
    steps = [GREETING, {"expect": ""}, ehlo_reply("STARTTLS"), {"expect": ""}, {"send": "220 2.0.0 go ahead\r\n"},
             {"tls_garbage": "this is not TLS\r\n"}, {"expect_eof": True, "optional": True, "timeout": 5}]

    def call(mod, port):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with mod.SMTP(HOST, port, local_hostname=LOCAL, timeout=10) as s:
            return s.starttls(context=ctx)
    (a, _), (b, _) = _side_by_side_fault(fault, steps, call)
    assert a[0] is ssl.SSLError and b[0] is ssl.SSLError
    assert (a[1].errno, a[1].reason, a[1].library) == (b[1].errno, b[1].reason, b[1].library) == \
        (ssl.SSL_ERROR_SSL, "WRONG_VERSION_NUMBER", "SSL")
    assert str(b[1]).startswith("[SSL: WRONG_VERSION_NUMBER] ") and "wrong version number" in str(b[1])


@pytest.mark.postfix
def test_tls_verify_error_postfix(postfix):
    # Postfix with a certificate from a CA the default context does not trust.
    got = []
    for mod in (std, sp):
        with mod.SMTP(HOST, postfix.port, local_hostname=LOCAL, timeout=30) as s:
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                s.starttls(context=ssl.create_default_context())
        got.append(_tls_fields(info.value)[2:])  # reason, library, verify_code, verify_message
        assert not str(info.value).startswith("(")
    assert got[0] == got[1]
    assert got[1][:2] == ("CERTIFICATE_VERIFY_FAILED", "SSL")


@BOTH
def test_invalid_local_hostname_crlf(server, mod):
    with pytest.raises(ValueError) as info:
        with mod.SMTP(HOST, server.port, local_hostname="bad\r\nname") as s:
            s.ehlo()
    if mod is sp:
        assert "local_hostname" in str(info.value)
    raw = b"".join(server.session_bytes(timeout=2))
    assert b"bad" not in raw


def test_invalid_local_hostname_named(server):
    for bad in ("bad name", "nul\0name", "x" * 300):
        with pytest.raises(ValueError, match="local_hostname"):
            sp.SMTP(HOST, server.port, local_hostname=bad)
        s = sp.SMTP(HOST, server.port, local_hostname=LOCAL)
        s.local_hostname = bad  # changed after connecting: refused at EHLO, named
        with pytest.raises(ValueError, match="local_hostname"):
            s.ehlo()
        with pytest.raises(ValueError, match="EHLO/HELO name"):
            s.helo(bad)
        assert s.ehlo("good.test")[0] == 250
        s.close()
    raw = b"".join(server.session_bytes())
    assert b"bad" not in raw and b"nul" not in raw and b"xxxx" not in raw


def _debug_lines(mod, server, level):
    buf = io.StringIO()
    with redirect_stderr(buf):
        s = mod.SMTP(local_hostname=LOCAL)
        s.set_debuglevel(level)
        s.connect(HOST, server.port)
        s.ehlo()
        s.sendmail("a@example.org", ["b@example.org", "reject@example.org"], b"Subject: dbg\r\n\r\n.dot\r\nlast\r\n")
        s.mail("a@example.org")
        s.rcpt("b@example.org")
        s.data("x\n")
        s.send(b"NOOP\r\n")
        s.getreply()
        s.send("NOOP\r\n")
        s.getreply()
        s.docmd("VRFY", "x")
        s.quit()
    lines = buf.getvalue().splitlines()
    if level > 1:
        stamps = [l.split(" ", 1)[0] for l in lines]
        assert all(re.fullmatch(r"\d\d:\d\d:\d\d(\.\d{6})?", t) for t in stamps), stamps
        lines = [l.split(" ", 1)[1] for l in lines]
    # Verbs: smtplib sends them in lower case; SIZE: see envelope_of in test_smtplib_dropin.py.
    lines = [re.sub(r"^send: '([a-z]+)", lambda m: "send: '" + m.group(1).upper(), l) for l in lines]
    return [re.sub(r"queued as \d+", "queued as N", re.sub(r"(?i) size=\d+", "", l)) for l in lines]


@pytest.mark.parametrize("level", [1, 2])
def test_debug_output_same(server, level):
    a = _debug_lines(std, server, level)
    b = _debug_lines(sp, server, level)
    assert a == b
    assert "send: b'NOOP\\r\\n'" in b and "send: 'NOOP\\r\\n'" in b
    assert "send: b'Subject: dbg\\r\\n\\r\\n..dot\\r\\nlast\\r\\n.\\r\\n'" in b
    assert b.count("data: (354, b'End data with <CR><LF>.<CR><LF>')") == 2


def test_debug_output_lmtp_unix_socket(aiosmtpd, tmp_path):
    path = str(tmp_path / "lmtp.sock")
    srv = aiosmtpd("--mode", "lmtp", "--unix", path)
    out = []
    for mod in (std, sp):
        buf = io.StringIO()
        with redirect_stderr(buf):
            s = mod.LMTP(local_hostname=LOCAL)
            s.set_debuglevel(1)
            s.connect(path)
            s.sendmail("a@example.org", ["b@example.org"], b"Subject: lmtp\r\n\r\nx\r\n")
            s.quit()
        lines = [re.sub(r"^send: '([a-z]+)", lambda m: "send: '" + m.group(1).upper(), l)
                 for l in buf.getvalue().splitlines()]
        out.append([re.sub(r"delivered as \d+", "delivered as N", re.sub(r"(?i) size=\d+", "", l)) for l in lines])
    assert out[0] == out[1]
    assert out[1][0] == "reply: b'220 smtpc.test smtpc-test-server\\r\\n'"
    assert "connect: b'smtpc.test smtpc-test-server'" in out[1]
    assert len(srv.messages(2)) == 2


# --- 5. a refusal followed by a close (issue 8) ---------------------------------------------------------

REFUSAL_STAGES = {
    # stage: (steps after EHLO, expected exception class name, expected args)
    "mail": ([{"expect": "", "timeout": 10}, {"send_then_close": "550 5.7.1 sender blocked\r\n"}],
             "SMTPSenderRefused", (550, b"5.7.1 sender blocked", "a@example.org")),
    "rcpt": ([{"expect": ""}, {"send": "250 2.1.0 ok\r\n"}, {"expect": ""},
              {"send_then_close": "550 5.1.1 no such user\r\n"}],
             "SMTPRecipientsRefused", ({"b@example.org": (550, b"5.1.1 no such user")},)),
    "data": ([{"expect": ""}, {"send": "250 2.1.0 ok\r\n"}, {"expect": ""}, {"send": "250 2.1.5 ok\r\n"},
              {"expect": ""}, {"send_then_close": "554 5.7.1 no data for you\r\n"}],
             "SMTPDataError", (554, b"5.7.1 no data for you")),
    "end of data": ([{"expect": ""}, {"send": "250 2.1.0 ok\r\n"}, {"expect": ""}, {"send": "250 2.1.5 ok\r\n"},
                     {"expect": ""}, {"send": "354 go ahead\r\n"}, {"read_until": "\r\n.\r\n"},
                     {"send_then_close": "554 5.7.1 spam\r\n"}],
                    "SMTPDataError", (554, b"5.7.1 spam")),
}


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
@pytest.mark.parametrize("stage", list(REFUSAL_STAGES))
def test_refusal_then_close(fault, stage, pipelining):
    after_ehlo, name, args = REFUSAL_STAGES[stage]
    ext = ["PIPELINING", "8BITMIME"] if pipelining else ["8BITMIME"]
    steps = [GREETING, {"expect": ""}, ehlo_reply(*ext), *after_ehlo]
    body = b"Subject: refused\r\n\r\nbody line\r\n"

    def call(mod, port):
        s = mod.SMTP(HOST, port, local_hostname=LOCAL, timeout=10)
        try:
            return s.sendmail("a@example.org", ["b@example.org"], body)
        finally:
            s.close()
    (a, ta), (b, tb) = _side_by_side_fault(fault, steps, call)
    # smtplib (no pipelining) is the reference: the refusal, not the close.
    assert a[0] is getattr(std, name) and a[1].args == args
    assert isinstance(b[1], getattr(std, name)), b
    assert type(b[1]).__name__ == name and b[1].args == args
    want = [b"EHLO client.test", b"MAIL FROM:<a@example.org>", b"RCPT TO:<b@example.org>", b"DATA"]
    upto = {"mail": 2, "rcpt": 3, "data": 4, "end of data": 4}[stage]
    got = commands(tb)
    if pipelining and stage != "end of data":
        # MAIL, RCPT and DATA went out as one batch (RFC 2920); the body was never sent.
        assert got[:4] == want
    else:
        assert got[:upto] == want[:upto]
    if stage == "end of data":
        assert b"\r\nbody line\r\n.\r\n" in tb
    else:
        assert b"body line" not in tb
    if not pipelining:
        assert commands(ta)[:upto] == want[:upto]
