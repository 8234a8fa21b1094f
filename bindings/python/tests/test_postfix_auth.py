# SPDX-License-Identifier: MIT
"""AUTH against a real server: Postfix with Cyrus SASL (sasldb; PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1
SCRAM-SHA-256), started by tests/servers/postfix_server.py --sasl with TLS, used over STARTTLS with the
test CA passed as an ssl.SSLContext. smtpc.smtplib is compared with the standard smtplib side by side;
the SCRAM mechanisms (not smtplib API) go through smtpc.Client.

OAUTHBEARER/XOAUTH2 cannot be tested here: Postfix's Cyrus SASL offers no OAuth mechanism (the
in-process aiosmtpd of test_tls_postfix_client.py covers XOAUTH2)."""
from __future__ import annotations

import os
import shutil
import smtplib as std
import ssl

import pytest

import smtpc
from smtpc import smtplib as sp

from conftest import PYTHON, SERVERS, _start

HOST = "127.0.0.1"
USER = "pfuser"
PASSWORD = "s3cret pass"
WRONG = "not the password"
MSG = b"Subject: auth\r\n\r\nsent after AUTH\r\n"


def _have(tool):
    return shutil.which(tool) or os.path.exists(os.path.join("/usr/sbin", tool))


# Marker "postfix": run by the ctest entry python.postfix (labels postfix, root), not python.pytest.
pytestmark = pytest.mark.postfix

if os.geteuid() != 0:
    pytest.skip("Postfix AUTH tests need root", allow_module_level=True)
if not _have("postfix") or not _have("saslpasswd2"):
    pytest.skip("Postfix AUTH tests need postfix and saslpasswd2 (sasl2-bin)", allow_module_level=True)


@pytest.fixture(scope="module")
def pf_sasl(tmp_path_factory, pki):
    """Postfix offering STARTTLS (the test PKI's server.pem) and AUTH for USER."""
    d = tmp_path_factory.mktemp("postfix-sasl")
    srv = _start([PYTHON, str(SERVERS / "postfix_server.py"), "--tls-cert", str(pki / "server.pem"),
                  "--tls-key", str(pki / "server.key"), "--sasl", f"{USER}:{PASSWORD}"], d, want_tls_port=True)
    yield srv
    srv.stop()


def ctx_for(pki):
    return ssl.create_default_context(cafile=str(pki / "ca.pem"))


def _starttls(mod, srv, pki):
    s = mod.SMTP(HOST, srv.port, timeout=60)
    s.ehlo()
    assert s.starttls(context=ctx_for(pki))[0] == 220
    s.ehlo()
    return s


# --- smtplib drop-in ----------------------------------------------------------------------------------

def test_auth_offered_after_starttls(pf_sasl, pki):
    with _starttls(sp, pf_sasl, pki) as s:
        mechs = set(s.esmtp_features["auth"].upper().split())
        assert {"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"} <= mechs
        assert smtpc.smtpc_native.client_tls_verified(s._client.ptr)


def test_login_then_sendmail(pf_sasl, pki):
    pf_sasl.clear()
    with _starttls(sp, pf_sasl, pki) as s:
        code, msg = s.login(USER, PASSWORD)
        assert code == 235 and msg.startswith(b"2.7.0")
        assert s.sendmail("a@example.org", ["authed@example.org"], MSG) == {}
    msgs = pf_sasl.messages(1, timeout=30)
    assert [m["rcpt_tos"] for m in msgs] == [["authed@example.org"]]
    assert bytes.fromhex(msgs[0]["content_hex"]) == MSG


def test_login_wrong_password(pf_sasl, pki):
    with _starttls(sp, pf_sasl, pki) as s:
        with pytest.raises(sp.SMTPAuthenticationError) as info:
            s.login(USER, WRONG)
        assert info.value.smtp_code == 535
        assert isinstance(info.value.smtp_error, bytes) and info.value.smtp_error.startswith(b"5.7.8")
        # the session survives a refused AUTH
        assert s.noop()[0] == 250


def test_login_side_by_side(pf_sasl, pki):
    """The standard smtplib and smtpc.smtplib against the same server: same (code, message) for a good
    login, same code and message for a refused one."""
    good, bad = [], []
    for mod in (std, sp):
        with _starttls(mod, pf_sasl, pki) as s:
            good.append(s.login(USER, PASSWORD))
        with _starttls(mod, pf_sasl, pki) as s:
            with pytest.raises(mod.SMTPAuthenticationError) as info:
                s.login(USER, WRONG)
            bad.append((info.value.smtp_code, info.value.smtp_error))
    assert good[0] == good[1]
    assert good[1][0] == 235
    assert bad[0] == bad[1]
    assert bad[1][0] == 535


# --- smtpc.Client: the mechanisms smtplib does not speak ------------------------------------------------

@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5"])
def test_client_mechanism(pf_sasl, pki, mech):
    pf_sasl.clear()
    rcpt = f"{mech.lower()}@example.org"
    with smtpc.Client(HOST, pf_sasl.port, tls=smtpc.TLSPolicy.REQUIRED, ssl_context=ctx_for(pki)) as c:
        r = c.login(USER, PASSWORD, mech)
        assert r.code == 235 and r.enhanced == "2.7.0"
        assert c.auth_mechanism == mech
        assert c.tls_active and c.tls_verified
        assert c.send(MSG, "a@example.org", rcpt).ok
    assert [m["rcpt_tos"] for m in pf_sasl.messages(1, timeout=30)] == [[rcpt]]


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5"])
def test_client_mechanism_wrong_password(pf_sasl, pki, mech):
    with smtpc.Client(HOST, pf_sasl.port, tls=smtpc.TLSPolicy.REQUIRED, ssl_context=ctx_for(pki)) as c:
        with pytest.raises(smtpc.SMTPAuthenticationError) as info:
            c.login(USER, WRONG, mech)
        assert info.value.smtp_code == 535
        assert c.auth_mechanism == ""
        assert c.noop().code == 250


def test_client_login_picks_strongest(pf_sasl, pki):
    with smtpc.Client(HOST, pf_sasl.port, tls=smtpc.TLSPolicy.REQUIRED, ssl_context=ctx_for(pki)) as c:
        assert c.login(USER, PASSWORD).code == 235
        assert c.auth_mechanism == "SCRAM-SHA-256"


@pytest.mark.skip(reason="OAUTHBEARER/XOAUTH2: Postfix's Cyrus SASL offers no OAuth 2.0 mechanism")
def test_client_oauth2():
    pass
