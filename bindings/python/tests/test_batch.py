# SPDX-License-Identifier: MIT
"""Client.send_many(): many messages over one connection, one result per message in order. Checked on
the bytes the servers got: aiosmtpd's spool, the fault server's transcript, Postfix's sink."""
from __future__ import annotations

import email.message
import itertools

import pytest

import smtpc

HOST = "127.0.0.1"
LOCAL = "client.test"
S = smtpc.MessageState


def _client(port, **kw):
    return smtpc.Client(HOST, port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.NONE, command_timeout=60, **kw)


def _body(i):
    return b"Subject: m%d\r\n\r\nbody %d\r\n.leading dot\r\n" % (i, i)


def test_results_in_order_with_a_refusal_in_the_middle(server):
    m = email.message.EmailMessage()
    m["From"] = "hdr@example.org"
    m["To"] = "to@example.org"
    m["Bcc"] = "hidden@example.org"
    m["Subject"] = "from headers"
    m.set_content("from the headers\n")
    items = [
        _body(1),                                                     # send_many's envelope
        (_body(2), "a@example.org", "fail@example.org"),             # 554 after the data
        (_body(3), "other@example.org", ["x@example.org", "reject@example.org"]),  # partial
        (m, None, None),                                              # envelope from the headers
        "Subject: m5\n\nstr body\n",                                  # str, bare LF line ends
    ]
    with _client(server.port) as c:
        results = list(c.send_many(iter(items), "a@example.org", ["b@example.org"]))
    assert [r.state for r in results] == [S.DELIVERED, S.REFUSED, S.PARTIAL, S.DELIVERED, S.DELIVERED]
    assert [r.item for r in results] == items
    assert [r.status for r in results] == ["SMTPC_OK", "SMTPC_EDATA_REFUSED", "SMTPC_OK", "SMTPC_OK", "SMTPC_OK"]
    refused = results[1]
    assert (refused.reply.code, refused.reply.enhanced) == (554, "5.6.0")
    assert isinstance(refused.exception, smtpc.SMTPDataError)
    assert refused.exception.smtp_code == 554 and refused.exception.result is refused.result
    assert results[0].exception is None and results[0].ok and results[0].reply.code == 250
    partial = results[2]
    assert partial.result.delivered == ["x@example.org"]
    assert partial.result.failed["reject@example.org"].code == 550
    msgs = server.messages(5)
    assert len(msgs) == 5  # the spool keeps the refused one too, with its 554
    assert len({m["session"] for m in msgs}) == 1  # one connection
    assert [(m["mail_from"], m["rcpt_tos"]) for m in msgs] == [
        ("a@example.org", ["b@example.org"]), ("a@example.org", ["fail@example.org"]),
        ("other@example.org", ["x@example.org"]),
        ("hdr@example.org", ["to@example.org", "hidden@example.org"]), ("a@example.org", ["b@example.org"])]
    assert msgs[1]["replies"][-1].startswith("554") and msgs[2]["replies"][-1].startswith("250")
    content = [bytes.fromhex(m["content_hex"]) for m in msgs]
    assert content[:3] == [_body(1), _body(2), _body(3)]
    assert b"Bcc" not in content[3] and content[3].startswith(b"From: hdr@example.org\r\nTo: to@example.org\r\n")
    assert content[4] == b"Subject: m5\r\n\r\nstr body\r\n"
    # The refused message went out too (its data was refused), between the others.
    raw = server.session_bytes()[0]
    assert raw.count(b"MAIL FROM:") == 5 and b"RCPT TO:<fail@example.org>" in raw


def test_iterable_consumed_lazily_and_break_finishes_the_queued(server):
    taken = []

    def endless():
        for i in itertools.count(1):
            taken.append(i)
            yield _body(i)
    with _client(server.port) as c:
        gen = c.send_many(endless(), "a@example.org", ["b@example.org"], window=4)
        first = list(itertools.islice(gen, 3))
        assert [r.state for r in first] == [S.DELIVERED] * 3
        assert len(taken) <= 3 + 4 + 1, len(taken)  # never more than the window ahead
        gen.close()  # the messages already queued are finished, no more are taken
        assert smtpc.smtpc_native.client_queued(c._c.ptr) == 0
        assert c.noop().code == 250  # the connection is usable again
    msgs = server.messages(len(taken))
    assert [bytes.fromhex(m["content_hex"]) for m in msgs] == [_body(i) for i in taken]


GREETING = {"send": "220 fault.test ESMTP\r\n"}
EHLO = {"send": "250-fault.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"}


def test_pipelined_across_messages_one_round_trip_each(fault):
    # The server answers message 1's end of data only after it has read message 2's MAIL, RCPT and
    # DATA: a client that waits for each 250 before the next MAIL times the script out (DONE 1).
    group = {"expect_lines": 3}
    srv = fault([GREETING, {"expect": "EHLO"}, EHLO,
                 group, {"send": "250 ok\r\n250 ok\r\n354 go\r\n"}, {"read_until": "\r\n.\r\n"},
                 dict(group, timeout=5), {"send": "250 one\r\n250 ok\r\n250 ok\r\n354 go\r\n"},
                 {"read_until": "\r\n.\r\n"},
                 dict(group, timeout=5), {"send": "250 two\r\n250 ok\r\n250 ok\r\n354 go\r\n"},
                 {"read_until": "\r\n.\r\n"}, {"send": "250 three\r\n"},
                 {"expect": "QUIT"}, {"send": "221 bye\r\n"}])
    with _client(srv.port) as c:
        res = list(c.send_many([_body(i) for i in (1, 2, 3)], "a@example.org", ["b@example.org"]))
    assert [r.state for r in res] == [S.DELIVERED] * 3
    assert [r.reply.text for r in res] == ["one", "two", "three"]
    assert srv.done(), "the client did not pipeline the next message behind the end of data"
    group_bytes = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
    stuffed = [b"Subject: m%d\r\n\r\nbody %d\r\n..leading dot\r\n.\r\n" % (i, i) for i in (1, 2, 3)]
    assert srv.transcript() == (b"EHLO client.test\r\n" + group_bytes + stuffed[0] + group_bytes + stuffed[1]
                                + group_bytes + stuffed[2] + b"QUIT\r\n")


def test_disconnect_mid_batch_states(fault):
    # Message 1 delivered; message 2's end of data goes out and the server closes without a reply
    # after reading message 3's commands: 2 is UNKNOWN, 3 (and 4, queued behind it) NOT_SENT.
    srv = fault([GREETING, {"expect": "EHLO"}, EHLO,
                 {"expect_lines": 3}, {"send": "250 ok\r\n250 ok\r\n354 go\r\n"}, {"read_until": "\r\n.\r\n"},
                 {"expect_lines": 3}, {"send": "250 one\r\n250 ok\r\n250 ok\r\n354 go\r\n"},
                 {"read_until": "\r\n.\r\n"}, {"expect_lines": 3, "timeout": 5}, {"close": True, "drain": True}])
    with _client(srv.port) as c:
        res = list(c.send_many([_body(i) for i in (1, 2, 3, 4)], "a@example.org", ["b@example.org"]))
        assert not c.connected
    assert [r.state for r in res] == [S.DELIVERED, S.UNKNOWN, S.NOT_SENT, S.NOT_SENT]
    assert res[1].status == "SMTPC_EDELIVERY_UNKNOWN"
    assert isinstance(res[1].exception, smtpc.SMTPDeliveryUnknown)
    assert isinstance(res[2].exception, smtpc.SMTPServerDisconnected)
    assert res[1].result[0].state == smtpc.RecipientState.UNKNOWN
    tr = srv.transcript()
    assert tr.count(b"MAIL FROM:") == 3 and tr.count(b"\r\n.\r\n") == 2  # 4 never started


def test_one_bad_message_does_not_stop_the_rest(server):
    no_rcpt = b"From: a@example.org\r\nSubject: nobody\r\n\r\nx\r\n"  # headers give no recipient
    with _client(server.port) as c:
        res = list(c.send_many([(_body(1), "a@example.org", ["b@example.org"]), no_rcpt,
                                (_body(3), "a@example.org", ["b@example.org"])]))
    assert [r.state for r in res] == [S.DELIVERED, S.NOT_SENT, S.DELIVERED]
    assert isinstance(res[1].exception, ValueError) and res[1].status == "SMTPC_EINVAL"
    msgs = server.messages(2)
    assert [bytes.fromhex(m["content_hex"]) for m in msgs[-2:]] == [_body(1), _body(3)]


def test_bad_item_raises_after_earlier_results(server):
    got = []
    with _client(server.port) as c:
        with pytest.raises(TypeError):
            for r in c.send_many([_body(1), 42], "a@example.org", ["b@example.org"]):
                got.append(r.state)
    assert got == [S.DELIVERED]


def test_reentry_from_a_callback(server):
    seen = []

    def trace(kind, data, t):
        if data.startswith(b"MAIL") and not seen:
            try:
                next(c.send_many([_body(9)], "a@example.org", ["b@example.org"]))
            except smtpc.SMTPReentryError as e:
                seen.append(e)
    c = _client(server.port, trace=trace)
    with c:
        res = list(c.send_many([_body(1)], "a@example.org", ["b@example.org"]))
    assert [r.state for r in res] == [S.DELIVERED] and len(seen) == 1
    assert [bytes.fromhex(m["content_hex"]) for m in server.messages(1)] == [_body(1)]


@pytest.mark.postfix  # ctest entry python.postfix (labels postfix, root)
def test_postfix_bdat_window(postfix):
    postfix.clear()
    sent = []
    with smtpc.Client(HOST, postfix.port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.NONE,
                      trace=lambda kind, data, t: sent.append(data) if kind == smtpc.TraceKind.SEND else None) as c:
        c.ehlo()
        assert c.has_extn("chunking")
        res = list(c.send_many([(_body(1), "a@example.org", ["pf1@example.org"]),
                                (_body(2), "a@example.org", ["reject@example.org"]),
                                (_body(3), "a@example.org", ["pf3@example.org"])], window=8))
    assert [r.state for r in res] == [S.DELIVERED, S.REFUSED, S.DELIVERED]
    assert res[1].status == "SMTPC_ERECIPIENTS_REFUSED"
    assert any(d.startswith(b"BDAT ") for d in sent)
    msgs = sorted(postfix.messages(2, timeout=30), key=lambda m: m["rcpt_tos"])
    assert [m["rcpt_tos"] for m in msgs] == [["pf1@example.org"], ["pf3@example.org"]]
    for m, i in zip(msgs, (1, 3)):
        assert bytes.fromhex(m["content_hex"]).endswith(_body(i))


def test_cancel_from_a_thread(fault):
    import threading
    import time
    # Message 1 delivered; message 2's end of data is never answered: a cancel from another thread
    # stops the iteration promptly, 2 is UNKNOWN and 3 (queued behind it) NOT_SENT.
    srv = fault([GREETING, {"expect": "EHLO"}, EHLO,
                 {"expect_lines": 3}, {"send": "250 ok\r\n250 ok\r\n354 go\r\n"}, {"read_until": "\r\n.\r\n"},
                 {"expect_lines": 3}, {"send": "250 one\r\n250 ok\r\n250 ok\r\n354 go\r\n"},
                 {"read_until": "\r\n.\r\n"}, {"sleep": 6}], max_time=60)
    c = _client(srv.port)
    timer = threading.Timer(0.5, c.cancel)
    timer.start()
    t0 = time.monotonic()
    res = list(c.send_many([_body(i) for i in (1, 2, 3)], "a@example.org", ["b@example.org"]))
    timer.join()
    assert time.monotonic() - t0 < 10.0
    assert [r.state for r in res] == [S.DELIVERED, S.UNKNOWN, S.NOT_SENT]
    assert res[1].status == "SMTPC_ECANCELLED" and isinstance(res[1].exception, smtpc.SMTPCancelledError)
    assert not c.connected
    c.close()
    tr = srv.transcript(timeout=40)
    assert tr.count(b"\r\n.\r\n") == 2


def test_progress_for_each_message(server):
    calls = []
    with _client(server.port, progress=lambda sent, total: calls.append((sent, total))) as c:
        res = list(c.send_many([_body(1), _body(22)], "a@example.org", ["b@example.org"]))
    assert [r.state for r in res] == [S.DELIVERED] * 2
    assert (len(_body(1)), len(_body(1))) in calls and (len(_body(22)), len(_body(22))) in calls


def test_send_refuses_a_non_message_and_sends_nothing(server):
    with _client(server.port) as c:
        for bad in (42, None, [b"x"]):
            with pytest.raises(TypeError):
                c.send(bad, "a@example.org", ["b@example.org"])
        c.send(_body(7), "a@example.org", ["b@example.org"])
    msgs = server.messages(1)
    assert [bytes.fromhex(m["content_hex"]) for m in msgs] == [_body(7)]
