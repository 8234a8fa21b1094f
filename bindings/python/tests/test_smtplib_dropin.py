# SPDX-License-Identifier: MIT
"""smtpc.smtplib against the standard smtplib: same return values, exceptions and received
messages for the same calls against the same aiosmtpd server; code written as smtplib users write it."""
from __future__ import annotations

import email.message
import email.utils
import io
import smtplib as std
import subprocess
import sys
import textwrap
from contextlib import redirect_stderr

import pytest

from smtpc import smtplib as sp
from smtpc import smtpc_native as native

HOST = "127.0.0.1"
LOCAL = "client.test"
BOTH = pytest.mark.parametrize("mod", [std, sp], ids=["stdlib", "smtpc"])


def envelope_of(msg):
    # ESMTP keywords are case-insensitive: smtplib sends "size=N", the library "SIZE=N".
    # SIZE: smtplib declares len(msg) before the final CRLF it adds, the library the exact size sent.
    opts = [o.upper() for o in msg["mail_options"]]
    opts = ["SIZE=n" if o.startswith("SIZE=") else o for o in opts]
    return (msg["mail_from"], msg["rcpt_tos"], opts, msg["rcpt_options"],
            bytes.fromhex(msg["content_hex"]))


def side_by_side(server, scenario):
    """Run scenario(mod, s) with std and smtpc; return both results and both received messages."""
    out = {}
    for mod in (std, sp):
        server.clear()
        with mod.SMTP(HOST, server.port, local_hostname=LOCAL) as s:
            res = scenario(mod, s)
        out[mod] = (res, [envelope_of(m) for m in server.messages(n=None)])
    return out[std], out[sp]


# --- the smtplib documentation's example, unchanged but for the input -------------------------------

def test_documentation_example(server, capsys):
    fromaddr = "sender@example.org"
    toaddrs = ["rcpt1@example.org", "rcpt2@example.org"]
    lines = ["Hello,", "this is the smtplib example.", ".a line with a dot"]
    msg = ("From: %s\r\nTo: %s\r\n\r\n" % (fromaddr, ", ".join(toaddrs)))
    for line in lines:
        msg = msg + line + "\r\n"
    print("Message length is", len(msg))

    server_ = sp.SMTP(HOST, server.port)
    server_.set_debuglevel(1)
    server_.sendmail(fromaddr, toaddrs, msg)
    server_.quit()

    err = capsys.readouterr().err
    assert "send: 'mail FROM:<sender@example.org> size=%d\\r\\n'" % len(msg) in err.replace("MAIL", "mail").replace("SIZE", "size")
    assert "reply: b'250" in err and "reply: retcode (250); Msg: b'" in err
    got = server.messages(1)
    assert envelope_of(got[0])[:2] == (fromaddr, toaddrs)
    assert bytes.fromhex(got[0]["content_hex"]) == msg.encode()


@BOTH
def test_with_statement_noop(server, mod):
    with mod.SMTP(HOST, server.port) as s:
        assert s.noop() == (250, b"OK")
    assert s.sock is None


def test_sys_modules_replacement(server):
    code = textwrap.dedent(f"""
        import sys, smtpc.smtplib
        sys.modules["smtplib"] = smtpc.smtplib
        import smtplib
        from email.message import EmailMessage
        m = EmailMessage(); m["From"] = "a@example.org"; m["To"] = "b@example.org"; m["Subject"] = "x"
        m.set_content("hello")
        with smtplib.SMTP("{HOST}", {server.port}) as s:
            print(s.send_message(m), type(s).__module__)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "{} smtpc.smtplib"
    assert server.messages(1)[0]["rcpt_tos"] == ["b@example.org"]


# --- side by side -----------------------------------------------------------------------------------

def test_same_session_values(server):
    def scenario(mod, s):
        r = [s.ehlo(), s.ehlo_resp, s.does_esmtp, dict(s.esmtp_features), s.has_extn("SIZE"),
             s.has_extn("starttls"), s.noop(), s.rset(), s.verify("someone@example.org"), s.vrfy("x"),
             s.expn("list"), s.help(), s.help("MAIL"), s.docmd("NOOP"), s.docmd("MAIL", "FROM:<d@example.org>"),
             s.rset()]
        s.putcmd("NOOP")
        r.append(s.getreply())
        s.send("NOOP\r\n")
        r.append(s.getreply())
        r.append(s.helo())
        r.append(s.helo_resp)
        return r
    (a, _), (b, _) = side_by_side(server, scenario)
    assert a[:-2] == b[:-2]
    assert a[-2:] == b[-2:]


def test_same_transaction(server):
    def scenario(mod, s):
        s.ehlo_or_helo_if_needed()
        return [s.mail("Sender <s@example.org>", ["BODY=8BITMIME"]), s.rcpt("r1@example.org", ["NOTIFY=NEVER"]),
                s.rcpt("reject@example.org"), s.data("Subject: t\n\nline\n.dot\r\nlast"), s.rset()]
    (a, ma), (b, mb) = side_by_side(server, scenario)
    assert a[:3] == b[:3] and a[4] == b[4]
    assert a[3][0] == b[3][0] == 250
    assert ma == mb


@pytest.mark.parametrize("msg", ["Subject: str\n\nunix lines\n", b"Subject: bytes\r\n\r\nCRLF lines\r\n.\r\n",
                                 "Subject: no final newline\r\n\r\nx"])
def test_same_sendmail(server, msg):
    def scenario(mod, s):
        return s.sendmail("a@example.org", ["b@example.org", "reject@example.org", "c@example.org"], msg,
                          mail_options=["BODY=8BITMIME"], rcpt_options=["NOTIFY=SUCCESS"])
    (a, ma), (b, mb) = side_by_side(server, scenario)
    assert a == b == {"reject@example.org": (550, b"5.1.1 <reject@example.org>: Recipient address rejected")}
    assert ma == mb and len(ma) == 1


def test_same_sendmail_single_string_recipient_and_null_sender(server):
    def scenario(mod, s):
        return s.sendmail("", "b@example.org", b"Subject: bounce\r\n\r\nx\r\n")
    (a, ma), (b, mb) = side_by_side(server, scenario)
    assert a == b == {}
    assert ma == mb and ma[0][0] == ""


def _message():
    m = email.message.EmailMessage()
    m["From"] = "Anne Sender <anne@example.org>"
    m["To"] = "Bob <bob@example.org>, undisclosed: ;"
    m["Cc"] = '"Carol, C." <carol@example.org>'
    m["Bcc"] = "hidden@example.org"
    m["Subject"] = "send_message test"
    m.set_content("Body line\n.starts with a dot\n")
    return m


def test_same_send_message(server):
    def scenario(mod, s):
        return s.send_message(_message())
    (a, ma), (b, mb) = side_by_side(server, scenario)
    # smtplib turns the empty group "undisclosed: ;" into RCPT TO:<> (refused); the library skips it.
    assert a == {"": (501, b"5.1.3 Bad recipient address syntax")}
    assert b == {}
    assert ma == mb
    assert ma[0][1] == ["bob@example.org", "hidden@example.org", "carol@example.org"]
    assert b"hidden" not in ma[0][4] and b"Bcc" not in mb[0][4]


def test_same_send_message_resent(server):
    m = _message()
    m["Resent-Date"] = email.utils.formatdate()
    m["Resent-From"] = "resender@example.org"
    m["Resent-To"] = "new@example.org"
    m["Resent-Bcc"] = "secret@example.org"

    def scenario(mod, s):
        return s.send_message(m)
    (a, ma), (b, mb) = side_by_side(server, scenario)
    assert a == b == {}
    assert ma == mb
    assert ma[0][0] == "resender@example.org" and ma[0][1] == ["new@example.org", "secret@example.org"]
    assert b"secret@" not in mb[0][4] and b"hidden@" not in mb[0][4]  # neither Bcc is transmitted
    m["Resent-Date"] = email.utils.formatdate()
    for mod in (std, sp):
        with mod.SMTP(HOST, server.port) as s, pytest.raises(ValueError, match="more than one 'Resent-'"):
            s.send_message(m)


def test_same_send_message_explicit_envelope(server):
    def scenario(mod, s):
        return s.send_message(_message(), "env@example.org", ["x@example.org", "reject@example.org"])
    (a, ma), (b, mb) = side_by_side(server, scenario)
    assert a == b and list(a) == ["reject@example.org"]
    assert ma == mb


def test_same_smtputf8(server):
    m = email.message.EmailMessage()
    m["From"] = "Jörg <jörg@exämple.org>"
    m["To"] = "δοκιμή@παράδειγμα.δοκιμή"
    m["Subject"] = "Grüße"
    m.set_content("Grüße\n")

    def scenario(mod, s):
        return [s.send_message(m), s.sendmail("ü@example.org", ["ö@example.org"], "Subject: x\r\n\r\nx\r\n".encode(),
                                             mail_options=["SMTPUTF8"])]
    (a, ma), (b, mb) = side_by_side(server, scenario)
    assert a == b == [{}, {}]
    assert ma == mb
    assert ma[0][0] == "jörg@exämple.org" and "SMTPUTF8" in ma[0][2]


# --- non-ASCII without SMTPUTF8, lone surrogates, NUL ---------------------------------------------------

@BOTH
def test_non_ascii_without_smtputf8(aiosmtpd, mod):
    srv = aiosmtpd("--no-smtputf8")
    m = email.message.EmailMessage()
    m["From"] = "jörg@example.org"
    m["To"] = "b@example.org"
    m.set_content("x")
    with mod.SMTP(HOST, srv.port) as s:
        with pytest.raises(mod.SMTPNotSupportedError):
            s.send_message(m)
        with pytest.raises(UnicodeEncodeError):
            s.sendmail("jörg@example.org", ["b@example.org"], b"x")
        with pytest.raises(mod.SMTPNotSupportedError):
            s.sendmail("a@example.org", ["b@example.org"], b"x", mail_options=["SMTPUTF8"])
        with pytest.raises(UnicodeEncodeError):
            s.sendmail("a@example.org", ["b@example.org"], "Subject: Grüße\r\n\r\n")
    assert srv.messages() == []


def test_lone_surrogate_nothing_sent(aiosmtpd):
    srv = aiosmtpd()
    with sp.SMTP(HOST, srv.port) as s:
        s.ehlo()
        s.command_encoding = "utf-8"
        for call in (lambda: s.mail("a\udcff@example.org"), lambda: s.rcpt("a\ud800@example.org"),
                     lambda: s.sendmail("a@example.org", ["b\udc80@example.org"], b"x"),
                     lambda: s.vrfy("\udcff"), lambda: s.helo("host\udcff")):
            with pytest.raises((UnicodeEncodeError, ValueError)):
                call()
        assert s.noop() == (250, b"OK")
    raw = b"".join(srv.session_bytes())
    assert b"MAIL" not in raw and b"RCPT" not in raw and b"VRFY" not in raw and b"HELO" not in raw
    # At the SWIG level a lone surrogate is refused by the UTF-8 encoding, before the C call.
    c = native.client_new(native.SMTPC_PROTOCOL_SMTP)
    try:
        with pytest.raises(UnicodeEncodeError):
            native.client_set_local_hostname(c, "host\udcff")
    finally:
        native.client_free(c)


def test_nul_in_python_string_refused_by_library(aiosmtpd):
    srv = aiosmtpd()
    with sp.SMTP(HOST, srv.port) as s:
        s.ehlo()
        for call in (lambda: s.mail("a\0b@example.org"), lambda: s.rcpt("x@exa\0mple.org"),
                     lambda: s.sendmail("a@example.org", ["b@ex\0ample.org"], b"x"),
                     lambda: s.vrfy("a\0b"), lambda: s.mail("a@example.org", ["BODY=8BIT\0MIME"])):
            with pytest.raises(ValueError):
                call()
        assert s.noop() == (250, b"OK")
    raw = b"".join(srv.session_bytes())
    assert b"\0" not in raw and b"MAIL" not in raw and b"VRFY" not in raw


@BOTH
def test_newline_injection_refused(server, mod):
    with mod.SMTP(HOST, server.port) as s:
        with pytest.raises(ValueError):
            s.mail("a@example.org\r\nRCPT TO:<evil@example.org>")
        with pytest.raises(ValueError):
            s.docmd("NOOP\r\nRSET")
        with pytest.raises(ValueError):
            s.sendmail("a@example.org", ["b@example.org>\r\nRCPT TO:<c@example.org"], b"x")
    assert server.messages() == []


# --- exceptions and their attributes, side by side ----------------------------------------------------

def test_exception_hierarchy():
    for name in std.__all__:
        assert hasattr(sp, name), name
    pairs = [("SMTPException", "OSError")] + [(n, "SMTPException") for n in
             ("SMTPNotSupportedError", "SMTPServerDisconnected", "SMTPResponseException", "SMTPRecipientsRefused")] + \
        [(n, "SMTPResponseException") for n in ("SMTPSenderRefused", "SMTPDataError", "SMTPConnectError",
                                                "SMTPHeloError", "SMTPAuthenticationError")]
    for child, parent in pairs:
        p = OSError if parent == "OSError" else getattr(sp, parent)
        assert issubclass(getattr(sp, child), p)
    e = sp.SMTPSenderRefused(550, b"no", "a@b")
    assert (e.smtp_code, e.smtp_error, e.sender, e.args) == (550, b"no", "a@b", (550, b"no", "a@b"))
    e2 = sp.SMTPRecipientsRefused({"a": (550, b"x")})
    assert e2.recipients == {"a": (550, b"x")} and e2.args == ({"a": (550, b"x")},)
    assert sp.quoteaddr("A <a@b>") == std.quoteaddr("A <a@b>") == "<a@b>"
    assert sp.quotedata(".x\ny") == std.quotedata(".x\ny")
    assert (sp.SMTP_PORT, sp.SMTP_SSL_PORT, sp.LMTP_PORT, sp.CRLF, sp.bCRLF) == \
        (std.SMTP_PORT, std.SMTP_SSL_PORT, std.LMTP_PORT, std.CRLF, std.bCRLF)


def _exc_info(e):
    return (type(e).__name__, e.args, getattr(e, "smtp_code", None), getattr(e, "smtp_error", None),
            getattr(e, "sender", None), getattr(e, "recipients", None))


def test_same_send_exceptions(server):
    cases = [
        lambda s: s.sendmail("refuse@example.org", ["b@example.org"], b"x"),
        lambda s: s.sendmail("a@example.org", ["reject@example.org", "defer@example.org"], b"x"),
        lambda s: s.sendmail("a@example.org", ["fail@example.org", "ok@example.org"], b"x"),
        lambda s: s.data(b"x"),  # DATA without MAIL: 503
    ]
    for case in cases:
        got = []
        for mod in (std, sp):
            with mod.SMTP(HOST, server.port) as s:
                s.ehlo()
                with pytest.raises(mod.SMTPException) as info:
                    case(s)
                got.append(_exc_info(info.value))
                assert s.noop()[0] == 250  # RSET was sent, the session goes on
        assert got[0] == got[1]


@BOTH
def test_connect_error(scripted, mod):
    srv = scripted(b"554 5.3.2 go away\r\n")
    with pytest.raises(mod.SMTPConnectError) as info:
        mod.SMTP(HOST, srv.port)
    assert (info.value.smtp_code, info.value.smtp_error) == (554, b"5.3.2 go away")


@BOTH
def test_helo_error(scripted, mod):
    srv = scripted(replies={"EHLO": b"502 5.5.1 no\r\n", "HELO": b"501 5.5.4 no helo either\r\n"})
    with mod.SMTP(HOST, srv.port) as s:
        with pytest.raises(mod.SMTPHeloError) as info:
            s.sendmail("a@example.org", ["b@example.org"], b"x")
        assert info.value.args == (501, b"5.5.4 no helo either")


@BOTH
def test_server_disconnected(scripted, mod):
    s = mod.SMTP()
    with pytest.raises(mod.SMTPServerDisconnected, match="please run connect"):
        s.noop()
    with pytest.raises(mod.SMTPServerDisconnected):
        s.sendmail("a@example.org", ["b@example.org"], b"x")
    srv = scripted(replies={"NOOP": None})
    s.connect(HOST, srv.port)
    with pytest.raises(mod.SMTPServerDisconnected):
        s.noop()
    assert s.sock is None
    with pytest.raises(mod.SMTPServerDisconnected):
        s.noop()


@BOTH
def test_421_in_rcpt(scripted, mod):
    srv = scripted(replies={"RCPT": b"421 4.3.2 shutting down\r\n"})
    s = mod.SMTP(HOST, srv.port)
    with pytest.raises(mod.SMTPRecipientsRefused) as info:
        s.sendmail("a@example.org", ["b@example.org", "c@example.org"], b"x")
    assert info.value.recipients == {"b@example.org": (421, b"4.3.2 shutting down")}
    assert s.sock is None


@BOTH
def test_starttls_not_supported_and_auth_not_supported(server, mod):
    with mod.SMTP(HOST, server.port) as s:
        with pytest.raises(mod.SMTPNotSupportedError):
            s.starttls()
        with pytest.raises(mod.SMTPNotSupportedError):
            s.login("u", "p")


@BOTH
def test_starttls_refused_is_response_exception(scripted, mod):
    srv = scripted(replies={"EHLO": b"250-scripted\r\n250 STARTTLS\r\n", "STARTTLS": b"454 4.7.0 TLS not available\r\n"})
    with mod.SMTP(HOST, srv.port) as s:
        with pytest.raises(mod.SMTPResponseException) as info:
            s.starttls()
        assert info.value.args == (454, b"4.7.0 TLS not available")


@BOTH
def test_connect_failures(mod):
    import socket
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(ConnectionRefusedError):
        mod.SMTP(HOST, port, timeout=5)
    with pytest.raises(OSError, match="nonnumeric port"):
        mod.SMTP().connect("localhost:smtp")
    with pytest.raises(socket.gaierror):
        mod.SMTP("no-such-host.invalid", 25, timeout=5)


# --- debug output --------------------------------------------------------------------------------------

def test_debug_levels(server):
    outputs = {}
    for mod in (std, sp):
        for level in (1, 2):
            buf = io.StringIO()
            with redirect_stderr(buf):
                with mod.SMTP(HOST, server.port, local_hostname=LOCAL) as s:
                    s.set_debuglevel(level)
                    s.noop()
            outputs[(mod, level)] = buf.getvalue().splitlines()
    for mod in (std, sp):
        lines = outputs[(mod, 1)]
        assert "send: 'noop\\r\\n'" in [l.replace("NOOP", "noop") for l in lines]
        assert "reply: b'250 OK\\r\\n'" in lines
        assert "reply: retcode (250); Msg: b'OK'" in lines
        for l in outputs[(mod, 2)]:  # "HH:MM:SS.ffffff send: ..."
            stamp, rest = l.split(" ", 1)
            assert stamp.count(":") == 2 and rest.split(":")[0] in ("send", "reply", "connect")


def test_debug_never_shows_credentials(auth_server):
    from conftest import PASSWORD, USER
    import base64
    handler, port = auth_server
    buf = io.StringIO()
    with redirect_stderr(buf):
        with sp.SMTP(HOST, port) as s:
            s.set_debuglevel(2)
            s.login(USER, PASSWORD)
            s.auth("PLAIN", s.auth_plain)
    out = buf.getvalue()
    assert "AUTH" in out and "****" in out
    for secret in (PASSWORD, base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()):
        assert secret not in out


# --- AUTH ------------------------------------------------------------------------------------------------

@BOTH
def test_login(auth_server, mod):
    from conftest import PASSWORD, USER
    handler, port = auth_server
    with mod.SMTP(HOST, port) as s:
        code, resp = s.login(USER, PASSWORD)
        assert code == 235
        assert handler.events[-1] == ("CRAM-MD5", USER)
        assert s.sendmail("a@example.org", ["b@example.org"], b"Subject: x\r\n\r\nx\r\n") == {}


def test_auth_same_error(auth_server):
    handler, port = auth_server
    got = []
    for mod in (std, sp):
        with mod.SMTP(HOST, port) as s:
            s.ehlo()
            s.user, s.password = "user@example.org", "wrong"
            with pytest.raises(mod.SMTPAuthenticationError) as info:
                s.auth("PLAIN", s.auth_plain)
            got.append(_exc_info(info.value))
    assert got[0] == got[1] and got[0][2] == 535


def test_login_wrong_password(auth_server):
    handler, port = auth_server
    with sp.SMTP(HOST, port) as s:
        with pytest.raises(sp.SMTPAuthenticationError) as info:
            s.login("user@example.org", "wrong")
        assert info.value.smtp_code == 535


@BOTH
@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
@pytest.mark.parametrize("iro", [True, False])
def test_auth_with_authobjects(auth_server, mod, mech, iro):
    from conftest import PASSWORD, USER
    handler, port = auth_server
    with mod.SMTP(HOST, port) as s:
        s.ehlo()
        s.user, s.password = USER, PASSWORD
        obj = getattr(s, "auth_" + mech.lower().replace("-", "_"))
        assert s.auth(mech, obj, initial_response_ok=iro)[0] == 235


@BOTH
def test_custom_authobject(auth_server, mod):
    handler, port = auth_server
    calls = []

    def echo(challenge=None):
        calls.append(challenge)
        return "hi" if challenge is None else "pong"
    with mod.SMTP(HOST, port) as s:
        s.ehlo()
        assert s.auth("x-echo", echo)[0] == 235
    assert calls == [None, b"ping"]
    assert handler.events[-1] == ("X-ECHO", b"hi", b"pong")


def test_authobject_exception_aborts_and_is_reraised(auth_server):
    handler, port = auth_server

    class Boom(Exception):
        pass

    def bad(challenge=None):
        if challenge is None:
            return None
        raise Boom("from the authobject")
    with sp.SMTP(HOST, port) as s:
        s.ehlo()
        with pytest.raises(Boom):
            s.auth("X-ECHO", bad)
        assert s.noop() == (250, b"OK")  # the exchange was cancelled with "*", the session goes on


def test_login_subclass_authobject_is_used(auth_server):
    from conftest import PASSWORD, USER
    handler, port = auth_server
    used = []

    class My(sp.SMTP):
        def auth_cram_md5(self, challenge=None):
            used.append(challenge)
            return super().auth_cram_md5(challenge)
    with My(HOST, port) as s:
        assert s.login(USER, PASSWORD)[0] == 235
    assert used == [None, b"<1896.697170952@smtpc.test>"]


def test_auth_refused_over_plaintext_to_remote_host(auth_server):
    from conftest import PASSWORD, USER, non_loopback_address
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("no non-loopback address on this machine")
    controller_mod = pytest.importorskip("aiosmtpd.controller")
    from conftest import AuthHandler, start_controller
    ctrl, port = start_controller(controller_mod, AuthHandler(), addr)
    try:
        with sp.SMTP(addr, port) as s:
            with pytest.raises(sp.SMTPInsecureAuthError):
                s.login(USER, PASSWORD)
        with sp.SMTP(addr, port, allow_insecure_auth=True) as s:
            assert s.login(USER, PASSWORD)[0] == 235
    finally:
        ctrl.stop()


# --- LMTP -------------------------------------------------------------------------------------------------

def test_lmtp_tcp_and_unix(aiosmtpd, tmp_path):
    tcp = aiosmtpd("--mode", "lmtp")
    path = str(tmp_path / "lmtp.sock")
    unix = aiosmtpd("--mode", "lmtp", "--unix", path)
    for host, port, srv in ((HOST, tcp.port, tcp), (path, 0, unix)):
        with sp.LMTP(host, port) as s:
            assert s.ehlo()[0] == 250
            refused = s.sendmail("a@example.org", ["ok@example.org", "fail@example.org", "reject@example.org"],
                                 b"Subject: lmtp\r\n\r\nx\r\n")
            assert refused["reject@example.org"][0] == 550
            assert refused["fail@example.org"][0] == 550  # refused after DATA: LMTP per-recipient reply
            assert "ok@example.org" not in refused
        msgs = srv.messages(1)
        assert msgs[0]["mode"] == "lmtp" and msgs[0]["rcpt_tos"] == ["ok@example.org", "fail@example.org"]


def test_lmtp_std_same_one_recipient(aiosmtpd):
    # With one recipient only: smtplib reads one reply after the message whatever the number of
    # recipients, and its session is out of step after that (the next command gets the second reply).
    srv = aiosmtpd("--mode", "lmtp")
    got = []
    for mod in (std, sp):
        with mod.LMTP(HOST, srv.port) as s:
            got.append((s.ehlo(), s.sendmail("a@example.org", ["ok@example.org"], b"x\r\n"), s.noop()))
    assert got[0] == got[1]


def test_lmtp_all_failed_raises_data_error(aiosmtpd):
    srv = aiosmtpd("--mode", "lmtp")
    with sp.LMTP(HOST, srv.port) as s:
        with pytest.raises(sp.SMTPDataError) as info:
            s.sendmail("a@example.org", ["fail1@example.org", "fail2@example.org"], b"x\r\n")
        assert info.value.smtp_code == 550


# --- attributes -----------------------------------------------------------------------------------------

def test_attributes(server):
    s = sp.SMTP(timeout=7, source_address=(HOST, 0))
    assert s.timeout == 7 and s.source_address == (HOST, 0) and s.sock is None
    assert s.command_encoding == "ascii" and s.debuglevel == 0
    assert s.local_hostname == std.SMTP().local_hostname
    s.connect(HOST, server.port)
    assert s.sock and s.helo_resp is None and s.ehlo_resp is None
    s.ehlo("named.test")
    assert isinstance(s.ehlo_resp, bytes) and s.ehlo_resp.startswith(b"smtpc.test")
    s.sock.settimeout(3)
    assert s.timeout == 3 and s.sock.gettimeout() == 3
    assert s.quit()[0] == 221
    assert s.sock is None and s.ehlo_resp is None and s.esmtp_features == {} and not s.does_esmtp
    with pytest.raises(ValueError):
        sp.SMTP(HOST, server.port, timeout=0)
