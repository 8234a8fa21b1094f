# SPDX-License-Identifier: MIT
"""Client.cancel() and SMTP.cancel() (from a thread, from a signal handler), the progress callback,
and the re-entry rule for Python callbacks. Each test checks the bytes the server received."""
from __future__ import annotations

import signal
import smtplib as std
import threading
import time

import pytest

import smtpc
from smtpc import smtplib as sp

HOST = "127.0.0.1"
LOCAL = "client.test"
GREETING = {"send": "220 fault.test ESMTP\r\n"}
EHLO = {"send": "250-fault.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"}
END_OF_DATA = b"\r\n.\r\n"
# Generous bound for "promptly" on a loaded machine; the timeouts below are 60 s.
PROMPT = 10.0


def _envelope_steps():
    return [GREETING, {"expect": "EHLO"}, EHLO, {"expect_lines": 2},
            {"send": "250 ok\r\n250 ok\r\n"}, {"expect": "DATA"}, {"send": "354 go\r\n"}]


def _body(size):
    line = b"x" * 76 + b"\r\n"
    return b"Subject: big\r\n\r\n" + line * (size // len(line))


# A server that stops reading mid-body (small receive buffer), or reads the body and never replies.
STALL_STEPS = {
    "stops_reading": _envelope_steps() + [{"read_bytes": 4096}, {"stop_reading": True, "max": 60}],
    "never_replies": _envelope_steps() + [{"read_until": "\r\n.\r\n"}, {"sleep": 60}],
}


def _cancel_later(obj, delay):
    t = threading.Timer(delay, obj.cancel)
    t.start()
    return t


@pytest.mark.parametrize("stall", sorted(STALL_STEPS))
def test_client_cancel_from_thread(fault, stall):
    srv = fault(STALL_STEPS[stall], 1, "--rcvbuf", "4096", max_time=90)
    c = smtpc.Client(HOST, srv.port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.NONE, command_timeout=60)
    body = _body(8 << 20 if stall == "stops_reading" else 4000)
    t0 = time.monotonic()
    timer = _cancel_later(c, 0.5)
    with pytest.raises(smtpc.SMTPCancelledError) as ei:
        c.send(body, "a@example.org", ["b@example.org"])
    elapsed = time.monotonic() - t0
    timer.join()
    assert elapsed < PROMPT, elapsed
    e = ei.value
    assert e.status == "SMTPC_ECANCELLED"
    assert isinstance(e, smtpc.SMTPServerDisconnected) and isinstance(e, std.SMTPServerDisconnected)
    assert not c.connected
    srv.stop()
    raw = srv.transcript_path.read_bytes()
    assert raw.startswith(b"EHLO client.test\r\nMAIL FROM:<a@example.org>")
    if stall == "stops_reading":
        # Withdrawn: the end of data never left, the recipient is still only accepted.
        assert not raw.endswith(END_OF_DATA) and len(raw) < len(body)
        assert [r.state for r in e.result] == [smtpc.RecipientState.ACCEPTED]
    else:
        # Cancelled while waiting for the reply to the end of data: the fate is unknown.
        assert raw.endswith(END_OF_DATA)
        assert [r.state for r in e.result] == [smtpc.RecipientState.UNKNOWN]
    c.close()


def test_dropin_cancel_from_thread(fault):
    srv = fault(STALL_STEPS["stops_reading"], 1, "--rcvbuf", "4096", max_time=90)
    s = sp.SMTP(HOST, srv.port, local_hostname=LOCAL, timeout=60)
    body = _body(8 << 20)
    t0 = time.monotonic()
    timer = _cancel_later(s, 0.5)
    with pytest.raises(std.SMTPServerDisconnected) as ei:
        s.sendmail("a@example.org", ["b@example.org"], body)
    timer.join()
    assert time.monotonic() - t0 < PROMPT
    assert isinstance(ei.value, sp.SMTPCancelledError) and ei.value.status == "SMTPC_ECANCELLED"
    assert s.sock is None
    srv.stop()
    raw = srv.transcript_path.read_bytes()
    assert b"DATA\r\n" in raw and not raw.endswith(END_OF_DATA) and len(raw) < len(body)


@pytest.mark.parametrize("api", ["client", "dropin"])
def test_cancel_on_signal(fault, api):
    """SIGALRM cancels a call waiting for the reply to the end of data; the Python handler it
    replaced still runs (once the call returns) and is restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers run in the main thread only")
    srv = fault(STALL_STEPS["never_replies"], 1, max_time=90)
    if api == "client":
        c = smtpc.Client(HOST, srv.port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.NONE, command_timeout=60)
        send = lambda: c.send(_body(4000), "a@example.org", ["b@example.org"])  # noqa: E731
    else:
        c = sp.SMTP(HOST, srv.port, local_hostname=LOCAL, timeout=60)
        send = lambda: c.sendmail("a@example.org", ["b@example.org"], _body(4000))  # noqa: E731
    fired = []

    def handler(signum, frame):
        fired.append(signum)
    old = signal.signal(signal.SIGALRM, handler)
    try:
        t0 = time.monotonic()
        with c.cancel_on_signal(signal.SIGALRM):
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            with pytest.raises(smtpc.SMTPCancelledError):
                send()
            elapsed = time.monotonic() - t0
        assert signal.getsignal(signal.SIGALRM) is handler
        assert fired == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert elapsed < PROMPT, elapsed
    srv.stop()
    assert srv.transcript_path.read_bytes().endswith(END_OF_DATA)
    c.close()


def test_python_signal_handler_cancel_is_late(fault):
    """Documented limitation: a Python handler that calls cancel() runs only when the call returns
    (here at the command timeout), so it cannot stop the call it interrupted; it does stop the next
    one, before that one sends anything."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers run in the main thread only")
    srv = fault([GREETING, {"expect": "EHLO"}, EHLO, {"expect": "NOOP"}, {"sleep": 3},
                 {"expect_eof": True}], 1)
    c = smtpc.Client(HOST, srv.port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.NONE, command_timeout=2)
    c.ehlo()
    old = signal.signal(signal.SIGALRM, lambda signum, frame: c.cancel())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(TimeoutError):
            c.noop()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    c.close()
    assert srv.transcript() == b"EHLO client.test\r\nNOOP\r\n"


def test_cancel_before_call_stops_next_call(fault):
    srv = fault([GREETING, {"expect": "EHLO"}, EHLO, {"expect_eof": True}], 1)
    c = smtpc.Client(HOST, srv.port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.NONE)
    c.ehlo()
    c.cancel()
    with pytest.raises(smtpc.SMTPCancelledError):
        c.noop()
    c.close()
    assert srv.transcript() == b"EHLO client.test\r\n"  # no NOOP


def test_progress_counts_rise_to_total(server):
    body = _body(300 << 10)
    seen = []
    with smtpc.Client(server.host, server.port, tls=smtpc.TLSPolicy.NONE,
                      progress=lambda sent, total: seen.append((sent, total))) as c:
        res = c.send(body, "a@example.org", ["b@example.org"])
    assert res.ok
    assert len(seen) >= 2
    assert all(total == len(body) for _, total in seen)
    sents = [s for s, _ in seen]
    assert sents == sorted(sents) and sents[-1] == len(body)
    msgs = server.messages(1)
    assert len(msgs) == 1 and bytes.fromhex(msgs[0]["content_hex"]) == body


@pytest.mark.parametrize("how", ["true", "raise"])
def test_progress_abort_delivers_nothing(fault, how):
    srv = fault(_envelope_steps() + [{"expect_eof": True, "timeout": 30}], 1)
    body = _body(300 << 10)

    class Stop(Exception):
        pass

    def progress(sent, total):
        if sent > 0:
            if how == "raise":
                raise Stop()
            return True
        return False
    c = smtpc.Client(HOST, srv.port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.NONE, progress=progress)
    with pytest.raises(Stop if how == "raise" else smtpc.SMTPException) as ei:
        c.send(body, "a@example.org", ["b@example.org"])
    if how == "true":
        assert ei.value.status == "SMTPC_EUSER"
        assert [r.state for r in ei.value.result] == [smtpc.RecipientState.ACCEPTED]
    assert c.last_result[0].state == smtpc.RecipientState.ACCEPTED
    assert not c.connected
    raw = srv.transcript()
    assert b"DATA\r\n" in raw and not raw.endswith(END_OF_DATA)
    c.close()


def test_progress_validation_and_removal(server):
    with pytest.raises(TypeError):
        smtpc.Client(progress=42)
    seen = []
    with smtpc.Client(server.host, server.port, tls=smtpc.TLSPolicy.NONE, progress=seen.append) as c:
        c.set_progress(None)
        c.send(b"Subject: x\r\n\r\nhi\r\n", "a@example.org", ["b@example.org"])
    assert seen == []


def test_trace_callback_reentry(server):
    """A trace callback that calls its own client gets SMTPReentryError; nothing is sent for it and
    the outer call completes."""
    errors = []

    def trace(kind, data, time_us):
        if kind == smtpc.TraceKind.SEND and data.startswith(b"MAIL"):
            try:
                c.noop()
            except smtpc.SMTPException as e:
                errors.append(e)
            assert c.connected  # getters work
    c = smtpc.Client(tls=smtpc.TLSPolicy.NONE, local_hostname=LOCAL, trace=trace)
    with c:
        c.connect(server.host, server.port)
        res = c.send(b"Subject: r\r\n\r\nbody\r\n", "a@example.org", ["b@example.org"])
    assert res.ok
    assert len(errors) == 1 and isinstance(errors[0], smtpc.SMTPReentryError)
    assert isinstance(errors[0], smtpc.SMTPStateError) and errors[0].status == "SMTPC_ESTATE"
    msgs = server.messages(1)
    assert len(msgs) == 1 and bytes.fromhex(msgs[0]["content_hex"]) == b"Subject: r\r\n\r\nbody\r\n"


def test_trace_callback_reentry_dropin(fault):
    """The drop-in: a debug print hook is not a callback, but a trace set on the native client is;
    the re-entrant NOOP never reaches the server."""
    srv = fault([GREETING, {"expect": "EHLO"}, EHLO, {"expect": "NOOP"}, {"send": "250 ok\r\n"},
                 {"expect_eof": True}], 1)
    s = sp.SMTP(HOST, srv.port, local_hostname=LOCAL)
    errors = []

    def trace(kind, data, time_us):
        if data.startswith(b"EHLO"):
            try:
                s.noop()
            except sp.SMTPException as e:
                errors.append(e)
    s._client.set_trace(1, trace)
    assert s.ehlo()[0] == 250
    s._client.set_trace(0, None)
    assert s.noop()[0] == 250
    s.close()
    assert [type(e) for e in errors] == [sp.SMTPReentryError]
    assert srv.transcript() == b"EHLO client.test\r\nNOOP\r\n"


def test_auth_callback_reentry(auth_server):
    """An AUTH callback that calls its own client gets SMTPReentryError and the exchange goes on."""
    errors = []
    handler, port = auth_server
    with smtpc.Client(HOST, port, tls=smtpc.TLSPolicy.NONE, allow_insecure_auth=True) as c:
        c.ehlo()

        def step(challenge, is_initial):
            try:
                c.rset()
            except smtpc.SMTPException as e:
                errors.append(e)
            return b"hi" if is_initial else b"pong"
        reply = c.auth("X-ECHO", step)
        assert reply.code == 235
    assert handler.events == [("X-ECHO", b"hi", b"pong")]
    assert [type(e) for e in errors] and all(isinstance(e, smtpc.SMTPReentryError) for e in errors)


def test_reentrant_progress_cancel_is_allowed(fault):
    """cancel() is the exception to the re-entry rule: from the progress callback it stops the
    send before its end of data."""
    srv = fault(_envelope_steps() + [{"expect_eof": True, "timeout": 30}], 1)
    holder = {}

    def progress(sent, total):
        holder["c"].cancel()
        return False
    c = holder["c"] = smtpc.Client(HOST, srv.port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.NONE,
                                   progress=progress)
    with pytest.raises(smtpc.SMTPCancelledError):
        c.send(_body(300 << 10), "a@example.org", ["b@example.org"])
    raw = srv.transcript()
    assert b"DATA\r\n" in raw and not raw.endswith(END_OF_DATA)
    c.close()


# --- CHUNKING (smtpc_client_set_chunking): BDAT in smtpc.Client, DATA in the drop-in as smtplib ---

CHUNK_MSG = b"Subject: x\r\n\r\nhi\r\n"
EHLO_CHUNKING = {"send": "250-fault.test\r\n250 CHUNKING\r\n"}


def _needs_chunking():
    if not hasattr(smtpc.smtpc_native, "client_set_chunking"):
        pytest.skip("the library has no smtpc_client_set_chunking")


def _mail_rcpt_steps():
    return [GREETING, {"expect": "EHLO"}, EHLO_CHUNKING, {"expect": "MAIL"}, {"send": "250 ok\r\n"},
            {"expect": "RCPT"}, {"send": "250 ok\r\n"}]


def test_client_chunking_uses_bdat(fault):
    _needs_chunking()
    srv = fault(_mail_rcpt_steps() + [{"expect": f"BDAT {len(CHUNK_MSG)} LAST"},
                                      {"read_bytes": len(CHUNK_MSG)}, {"send": "250 queued\r\n"},
                                      {"expect": "QUIT"}, {"send": "221 bye\r\n"}], 1)
    with smtpc.Client(HOST, srv.port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.NONE) as c:
        assert c.send(CHUNK_MSG, "a@example.org", ["b@example.org"]).ok
    assert srv.done()
    assert srv.transcript().endswith(b"BDAT %d LAST\r\n" % len(CHUNK_MSG) + CHUNK_MSG + b"QUIT\r\n")


@pytest.mark.parametrize("api", ["client_off", "dropin"])
def test_data_when_chunking_off_and_in_dropin(fault, api):
    _needs_chunking()
    srv = fault(_mail_rcpt_steps() + [{"expect": "DATA"}, {"send": "354 go\r\n"},
                                      {"read_until": "\r\n.\r\n"}, {"send": "250 queued\r\n"},
                                      {"expect": "QUIT"}, {"send": "221 bye\r\n"}], 1)
    if api == "dropin":
        with sp.SMTP(HOST, srv.port, local_hostname=LOCAL) as s:
            assert s.sendmail("a@example.org", ["b@example.org"], CHUNK_MSG) == {}
    else:
        with smtpc.Client(HOST, srv.port, local_hostname=LOCAL, tls=smtpc.TLSPolicy.NONE,
                          chunking=False) as c:
            assert c.send(CHUNK_MSG, "a@example.org", ["b@example.org"]).ok
    assert srv.done()
    raw = srv.transcript()
    assert b"BDAT" not in raw and raw.endswith(b"DATA\r\n" + CHUNK_MSG + b".\r\nQUIT\r\n")


def test_progress_callback_reentry(server):
    """A progress callback that calls its own client gets SMTPReentryError (nothing is sent for it);
    caught, the send completes and the message is delivered whole."""
    errors = []
    body = _body(200 << 10)
    holder = {}

    def progress(sent, total):
        try:
            holder["c"].rset()
        except smtpc.SMTPException as e:
            errors.append(e)
        return False
    with smtpc.Client(server.host, server.port, tls=smtpc.TLSPolicy.NONE, progress=progress) as c:
        holder["c"] = c
        assert c.send(body, "a@example.org", ["b@example.org"]).ok
    assert errors and all(isinstance(e, smtpc.SMTPReentryError) for e in errors)
    msgs = server.messages(1)
    assert len(msgs) == 1 and bytes.fromhex(msgs[0]["content_hex"]) == body
    assert b"RSET" not in b"".join(server.session_bytes())
