# SPDX-License-Identifier: MIT
"""smtpc.Client.send()'s typed ESMTP parameters (docs/extensions.md) against aiosmtpd, which can be
told to offer DSN: the exact MAIL/RCPT parameters it received, refusals before MAIL when an
extension is not offered (nothing sent after EHLO), the smtplib drop-in's raw options still
validated, and per-recipient enhanced status codes."""
from __future__ import annotations

import datetime

import pytest

import smtpc
from smtpc import smtplib as dropin

MSG = b"Subject: x\r\n\r\nhello\r\n"


def _client(srv):
    return smtpc.Client("127.0.0.1", srv.port, tls=smtpc.TLSPolicy.NONE)


def test_dsn_keywords_on_the_wire(aiosmtpd):
    srv = aiosmtpd("--ehlo-extra", "DSN")
    with _client(srv) as c:
        res = c.send(MSG, "s@example.org",
                     ["a+1@example.org", smtpc.Recipient("b@example.org", notify="never", orcpt=None)],
                     notify="success,delay", ret="hdrs", envid="id+1=x y")
    assert res.ok
    m = srv.messages(1)[0]
    assert bytes.fromhex(m["mail_options_hex"]) == b"SIZE=%d RET=HDRS ENVID=id+2B1+3Dx+20y" % len(MSG)
    assert [bytes.fromhex(h) for h in m["rcpt_options_hex"]] == [
        b"NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2B1@example.org", b"NOTIFY=NEVER"]
    assert res[0].delivered and res[1].delivered


def test_dsn_not_offered_refused_before_mail(aiosmtpd):
    srv = aiosmtpd()
    with _client(srv) as c:
        with pytest.raises(smtpc.SMTPNotSupportedError, match="DSN"):
            c.send(MSG, "s@example.org", ["a@example.org"], notify="failure")
        # dsn_optional: left out, sent without it
        c.send(MSG, "s@example.org", ["a@example.org"], notify="failure", ret="full", dsn_optional=True)
    raw = srv.session_bytes()[0]
    assert raw.count(b"MAIL FROM") == 1  # the refused send wrote nothing after EHLO
    m = srv.messages(1)[0]
    assert m["mail_options"] == ["SIZE=%d" % len(MSG)]
    assert m["rcpt_options"] == [[]]


@pytest.mark.parametrize("kwargs, needle", [
    ({"priority": 3}, "MT-PRIORITY"),
    ({"deliver_by": smtpc.DeliverBy(600, "N", trace=True)}, "DELIVERBY"),
    ({"hold_for": 60}, "FUTURERELEASE"),
    ({"hold_until": datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)}, "FUTURERELEASE"),
    ({"auth": ""}, "AUTH"),
    ({"body": "binarymime"}, "BINARYMIME"),
])
def test_not_offered(aiosmtpd, kwargs, needle):
    srv = aiosmtpd()
    with _client(srv) as c:
        with pytest.raises(smtpc.SMTPNotSupportedError, match=needle):
            c.send(MSG, "s@example.org", ["a@example.org"], **kwargs)
        assert c.noop().code == 250  # still usable
    assert b"MAIL FROM" not in srv.session_bytes()[0]


def test_bad_values_refused_before_connecting():
    c = smtpc.Client()
    for kwargs in ({"notify": "never,failure"}, {"notify": "sometimes"}, {"ret": "all"},
                   {"priority": 10}, {"deliver_by": 0}, {"hold_until": "tomorrow"},
                   {"hold_until": datetime.datetime(2030, 1, 1)}, {"envid": "a\r\nb"}, {"body": "8bit"},
                   {"hold_for": 1, "hold_until": "2030-01-01T00:00:00Z"}):
        with pytest.raises((ValueError, smtpc.SMTPException)):
            c.send(MSG, "s@example.org", ["a@example.org"], **kwargs)


def test_typed_and_raw_conflict(aiosmtpd):
    srv = aiosmtpd("--ehlo-extra", "DSN")
    with _client(srv) as c:
        with pytest.raises((ValueError, smtpc.SMTPException), match="RET"):
            c.send(MSG, "s@example.org", ["a@example.org"], ret="full", mail_options=["RET=HDRS"])
    assert b"MAIL FROM" not in srv.session_bytes()[0]


def test_dropin_raw_options_validated(aiosmtpd):
    srv = aiosmtpd("--ehlo-extra", "DSN")
    with dropin.SMTP("127.0.0.1", srv.port) as s:
        s.sendmail("s@example.org", ["a@example.org"], MSG, mail_options=["RET=FULL", "ENVID=e1"],
                   rcpt_options=["NOTIFY=FAILURE"])
        with pytest.raises(ValueError):
            s.sendmail("s@example.org", ["a@example.org"], MSG, mail_options=["RET=FULL\r\nRSET"])
        with pytest.raises(ValueError):
            s.sendmail("s@example.org", ["a@example.org"], MSG, mail_options=["RET=FULL", "ret=HDRS"])
    m = srv.messages(1)[0]
    assert m["mail_options"][-2:] == ["RET=FULL", "ENVID=e1"]
    assert m["rcpt_options"] == [["NOTIFY=FAILURE"]]


def test_enhanced_parts_per_recipient(aiosmtpd):
    srv = aiosmtpd()
    with _client(srv) as c:
        res = c.send(MSG, "s@example.org", ["ok@example.org", "reject@example.org"])
    assert res[0].delivered and res[0].enhanced_parts[0] == 2
    assert res[1].state == smtpc.RecipientState.REFUSED
    assert res[1].enhanced_parts == (5, 1, 1)


@pytest.mark.postfix  # ctest entry python.postfix (labels postfix, root)
def test_postfix_dsn(postfix):
    """Postfix offers DSN. Its next hop (the sink) does not, so for NOTIFY=SUCCESS Postfix itself
    reports the message "relayed" to the sender: the report carries the ENVID and ORCPT it decoded
    from our xtext, which shows that what reached Postfix was encoded right."""
    postfix.clear()
    with smtpc.Client("127.0.0.1", postfix.port) as c:
        res = c.send(MSG, "sender@example.org",
                     [smtpc.Recipient("rcpt@example.org", notify="success,failure",
                                      orcpt="orig+1=x@example.org")],
                     ret="hdrs", envid="env+1=x y")
        assert res.ok
    msgs = postfix.messages(2, timeout=60)
    assert len(msgs) == 2, msgs
    report = next(m for m in msgs if m["mail_from"] == "")
    text = bytes.fromhex(report["content_hex"])
    assert b"Original-Envelope-Id: env+1=x y\r\n" in text, text
    assert b"Original-Recipient: rfc822;orig+1=x@example.org\r\n" in text, text
    assert b"Action: relayed" in text
    assert report["rcpt_tos"] == ["sender@example.org"]
