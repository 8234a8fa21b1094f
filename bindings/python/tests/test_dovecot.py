# SPDX-License-Identifier: MIT
"""smtpc.smtplib.LMTP against a real Dovecot LMTP over its Unix socket, side by side with the standard
smtplib.LMTP: the same return values and the same bytes in the users' Maildirs.

tests/servers/dovecot_server.py starts one private, unprivileged Dovecot for this module; the tests
skip when Dovecot (Debian dovecot-core, dovecot-lmtpd) is missing or does not start here.
"""
from __future__ import annotations

import email.message
import os
import pathlib
import select
import smtplib as std
import subprocess
import sys
import time

import pytest

from smtpc import smtplib as sp

SRC = pathlib.Path(os.environ.get("SMTPC_SOURCE_DIR") or pathlib.Path(__file__).resolve().parents[3])
SCRIPT = SRC / "tests" / "servers" / "dovecot_server.py"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
USERS = ["alice", "bob", "carol", "dave", "erin", "tiny"]
SENDER = "sender@example.org"


class Dovecot:
    def __init__(self, proc, sock, port, maildirs):
        self.proc = proc
        self.sock = sock
        self.port = port
        self.maildirs = pathlib.Path(maildirs)

    def delivered(self, user):
        """The messages in the user's Maildir, as Dovecot stored them (bytes), oldest first."""
        new = self.maildirs / user / "Maildir" / "new"
        if not new.is_dir():
            return []
        return [p.read_bytes() for p in sorted(new.iterdir(), key=lambda p: p.stat().st_mtime_ns)]

    def clear(self):
        for user in USERS:
            new = self.maildirs / user / "Maildir" / "new"
            if new.is_dir():
                for p in new.iterdir():
                    p.unlink()


def _read_lines(proc, count, timeout):
    """The first `count` lines of the server's stdout, waiting at most `timeout` seconds in all."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while buf.count(b"\n") < count:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        buf += chunk
    return buf.decode().splitlines()[:count]


@pytest.fixture(scope="module")
def dovecot():
    if not SCRIPT.exists():
        pytest.skip("%s is missing" % SCRIPT)
    check = subprocess.run([PYTHON, str(SCRIPT), "--check"], stdout=subprocess.PIPE, text=True, timeout=30)
    if check.returncode != 0:
        pytest.skip("Dovecot LMTP cannot run here: " + check.stdout.strip())
    args = [PYTHON, str(SCRIPT)]
    for u in USERS:
        args += ["--user", u]
    args += ["--quota", "tiny=1000"]  # a 3 KB message is refused for tiny after DATA (552 5.2.2)
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    lines = _read_lines(proc, 3, 30)
    if not lines or not lines[0].startswith("READY /"):
        proc.kill()
        proc.wait()
        pytest.skip("Dovecot did not start here (dovecot_server.py's reason is on stderr)")
    srv = Dovecot(proc, lines[0].split(" ", 1)[1], int(lines[1].split()[1]), lines[2].split(" ", 1)[1])
    yield srv
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def split_prelude(data):
    """(Return-Path value, Delivered-To value or None, the message after Dovecot's Received field)."""
    lines = data.split(b"\n")
    assert lines[0].startswith(b"Return-Path: "), data[:200]
    return_path = lines[0][len(b"Return-Path: "):]
    i = 1
    delivered_to = None
    if lines[i].startswith(b"Delivered-To: "):
        delivered_to = lines[i][len(b"Delivered-To: "):]
        i += 1
    assert lines[i].startswith(b"Received: from "), data[:300]
    i += 1
    while lines[i].startswith(b"\t"):
        i += 1
    return return_path, delivered_to, b"\n".join(lines[i:])


def run_both(dovecot, scenario):
    """scenario(mod, s) with the standard smtplib.LMTP and with smtpc's; each result and what every
    user then had in the Maildir (Dovecot's prelude split off). The connection is closed without QUIT:
    the standard smtplib reads one reply after the message whatever the number of recipients, so after
    a transaction with several it is out of step (see test_in_step_after_several_recipients)."""
    out = {}
    for mod in (std, sp):
        dovecot.clear()
        s = mod.LMTP(dovecot.sock)
        try:
            res = scenario(mod, s)
        finally:
            s.close()
        boxes = {u: [split_prelude(m) for m in dovecot.delivered(u)] for u in USERS}
        out[mod] = (res, boxes)
    return out[std], out[sp]


MSG = (b"From: sender@example.org\r\n"
       b"To: alice@example.org, bob@example.org\r\n"
       b"Subject: LMTP to Dovecot\r\n"
       b"\r\n"
       b"first line\r\n"
       b".a line with a leading dot\r\n"
       b".\r\n"
       b"last line\r\n")


def test_sendmail_refused_recipient_same_as_smtplib(dovecot):
    (std_res, std_boxes), (sp_res, sp_boxes) = run_both(
        dovecot, lambda mod, s: s.sendmail(SENDER, ["alice@example.org", "nobody@example.org",
                                                    "bob@example.org"], MSG))
    assert sp_res == std_res
    assert list(sp_res) == ["nobody@example.org"]
    code, text = sp_res["nobody@example.org"]
    assert code == 550 and text.startswith(b"5.1.1 <nobody@example.org> ")
    want = MSG.replace(b"\r\n", b"\n")
    for user in ("alice", "bob"):
        assert sp_boxes[user] == std_boxes[user] == [(b"<" + SENDER.encode() + b">", None, want)]
    assert sp_boxes["carol"] == std_boxes["carol"] == []


def test_sendmail_one_recipient_same_as_smtplib(dovecot):
    (std_res, std_boxes), (sp_res, sp_boxes) = run_both(
        dovecot, lambda mod, s: s.sendmail(SENDER, "carol@example.org", MSG))
    assert sp_res == std_res == {}
    want = [(b"<" + SENDER.encode() + b">", b"carol@example.org", MSG.replace(b"\r\n", b"\n"))]
    assert sp_boxes["carol"] == std_boxes["carol"] == want


def test_send_message_bcc_same_as_smtplib(dovecot):
    def scenario(mod, s):
        m = email.message.EmailMessage()
        m["From"] = "Sender <sender@example.org>"
        m["To"] = "dave@example.org"
        m["Cc"] = "Erin <erin@example.org>"
        m["Bcc"] = "alice@example.org"
        m["Subject"] = "blind copy"
        m.set_content("Bcc: body text, kept\n.leading dot\n")
        return s.send_message(m)

    (std_res, std_boxes), (sp_res, sp_boxes) = run_both(dovecot, scenario)
    assert sp_res == std_res == {}
    for user in ("dave", "erin", "alice"):
        assert len(sp_boxes[user]) == 1, user
        assert sp_boxes[user] == std_boxes[user], user
        body = sp_boxes[user][0][2]
        assert b"\nBcc:" not in body.split(b"\n\n", 1)[0] and not body.startswith(b"Bcc:"), body
        assert b"\n\nBcc: body text, kept\n.leading dot\n" in body
    assert sp_boxes["bob"] == std_boxes["bob"] == []


def test_all_refused_raises_same_as_smtplib(dovecot):
    def scenario(mod, s):
        with pytest.raises(mod.SMTPRecipientsRefused) as e:
            s.sendmail(SENDER, ["nobody@example.org", "noone@example.org"], MSG)
        return e.value.recipients

    (std_res, _), (sp_res, sp_boxes) = run_both(dovecot, scenario)
    assert sp_res == std_res
    assert sorted(sp_res) == ["nobody@example.org", "noone@example.org"]
    assert all(v == [] for v in sp_boxes.values())


def test_in_step_after_several_recipients(dovecot):
    """Where the drop-in differs on purpose: it reads every recipient's reply (RFC 2033), so the next
    command gets its own reply; the standard smtplib reads only the first and takes the second
    recipient's 250 for the reply to NOOP."""
    rcpts = ["alice@example.org", "bob@example.org"]
    dovecot.clear()
    s = std.LMTP(dovecot.sock)
    try:
        assert s.sendmail(SENDER, rcpts, MSG) == {}
        code, text = s.noop()
        assert code == 250 and b"<bob@example.org>" in text and b"Saved" in text
    finally:
        s.close()
    with sp.LMTP(dovecot.sock) as s:
        assert s.sendmail(SENDER, rcpts, MSG) == {}
        assert s.noop() == (250, b"2.0.0 OK")
    assert len(dovecot.delivered("alice")) == len(dovecot.delivered("bob")) == 2


BIG = b"Subject: larger than tiny's quota\r\n\r\n" + b"0123456789abcdef" * 64 * 3 + b"\r\n"


def test_refused_after_data_in_the_dict(dovecot):
    """Where the drop-in differs on purpose (docs/python.md, LMTP): a recipient refused after the
    message is in the returned dictionary; smtplib reads one reply and returns {}. Both deliver the
    same bytes to the others."""
    rcpts = ["alice@example.org", "tiny@example.org", "bob@example.org"]
    (std_res, std_boxes), (sp_res, sp_boxes) = run_both(
        dovecot, lambda mod, s: s.sendmail(SENDER, rcpts, BIG))
    assert std_res == {}
    assert list(sp_res) == ["tiny@example.org"]
    code, text = sp_res["tiny@example.org"]
    assert code == 552 and text.startswith(b"5.2.2 <tiny@example.org> "), text
    for user in ("alice", "bob"):
        want = [(b"<" + SENDER.encode() + b">", None, BIG.replace(b"\r\n", b"\n"))]
        assert sp_boxes[user] == std_boxes[user] == want
    assert sp_boxes["tiny"] == std_boxes["tiny"] == []


def test_refused_after_data_for_all(dovecot):
    """Refused after the message for its only recipient: SMTPDataError in both, with the same reply."""
    def scenario(mod, s):
        with pytest.raises(mod.SMTPDataError) as e:
            s.sendmail(SENDER, ["tiny@example.org"], BIG)
        return e.value.smtp_code, e.value.smtp_error

    (std_res, _), (sp_res, sp_boxes) = run_both(dovecot, scenario)
    assert sp_res == std_res
    assert sp_res[0] == 552 and sp_res[1].startswith(b"5.2.2 <tiny@example.org> ")
    assert sp_boxes["tiny"] == []
