# SPDX-License-Identifier: MIT
"""Smoke test of the SWIG Python binding (module smtpc.smtpc_native).

Imports the module, checks the version and the error mapping, then sends one message through the
library to an aiosmtpd server started on a free loopback port, and checks that it arrived.
"""
import os
import socket

import pytest

from smtpc import smtpc_native as smtpc

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Message accepted"


@pytest.fixture
def smtp_server():
    sink = Sink()
    last_error = None
    for _ in range(5):  # the free port may be taken between the probe and the bind
        port = free_port()
        controller = aiosmtpd_controller.Controller(sink, hostname="127.0.0.1", port=port)
        try:
            controller.start()
        except Exception as exc:  # noqa: BLE001 - aiosmtpd raises various errors on a busy port
            last_error = exc
            continue
        try:
            yield sink, port
        finally:
            controller.stop()
        return
    pytest.fail(f"could not start aiosmtpd: {last_error!r}")


@pytest.fixture
def client():
    c = smtpc.client_new(smtpc.SMTPC_PROTOCOL_SMTP)
    yield c
    smtpc.client_free(c)


def test_version():
    assert smtpc.version() == smtpc.SMTPC_VERSION_STRING
    assert smtpc.version_number() == smtpc.SMTPC_VERSION_NUMBER
    expected = os.environ.get("SMTPC_EXPECTED_VERSION")
    if expected:
        assert smtpc.version() == expected


def test_status_text():
    assert smtpc.status_name(smtpc.SMTPC_ENOTCONN) == "SMTPC_ENOTCONN"
    assert smtpc.strerror(smtpc.SMTPC_OK) != smtpc.strerror(smtpc.SMTPC_EINVAL)


def test_errors_raise(client):
    with pytest.raises(smtpc.Error) as info:
        smtpc.client_noop(client)
    code, name, message = info.value.args
    assert code == smtpc.SMTPC_ENOTCONN
    assert name == "SMTPC_ENOTCONN"
    assert message
    assert smtpc.client_last_status(client) == smtpc.SMTPC_ENOTCONN
    # Strings pass with their true length: an embedded NUL reaches the library and is refused.
    with pytest.raises(smtpc.Error) as info:
        smtpc.client_set_local_hostname(client, "client\0.test")
    assert info.value.args[0] == smtpc.SMTPC_EINVAL
    with pytest.raises(TypeError):
        smtpc.client_set_local_hostname(client, 42)


def test_send_one_message(smtp_server, client):
    sink, port = smtp_server
    smtpc.client_set_local_hostname(client, "client.test")
    smtpc.client_set_connect_timeout(client, 10000)
    smtpc.client_set_command_timeout(client, 10000)
    smtpc.client_connect(client, "127.0.0.1", port)
    assert smtpc.client_is_connected(client) == 1
    assert smtpc.reply_code(smtpc.client_last_reply(client)) == 220

    env = smtpc.envelope_new()
    try:
        smtpc.envelope_set_sender(env, "sender@example.org")
        smtpc.envelope_add_recipient(env, b"rcpt@example.org")  # bytes work as well as str
        assert smtpc.envelope_recipient_count(env) == 1
        body = "Subject: smtpc python smoke test\r\n\r\nHello from the Python binding.\r\n.dot line\r\n"
        smtpc.client_sendmail(client, env, body)
    finally:
        smtpc.envelope_free(env)

    res = smtpc.client_last_result(client)
    assert smtpc.result_count(res) == 1
    assert smtpc.result_recipient(res, 0) == "rcpt@example.org"
    assert smtpc.result_state(res, 0) == smtpc.SMTPC_RCPT_DELIVERED
    assert smtpc.result_delivered_count(res) == 1
    assert smtpc.reply_code(smtpc.result_data_reply(res, 0)) == 250
    assert smtpc.client_has_extn(client, "SIZE") == 1
    smtpc.client_quit(client)
    assert smtpc.client_is_connected(client) == 0

    assert len(sink.messages) == 1
    mail_from, rcpt_tos, content = sink.messages[0]
    assert mail_from == "sender@example.org"
    assert rcpt_tos == ["rcpt@example.org"]
    assert b"Subject: smtpc python smoke test" in content
    assert b"Hello from the Python binding." in content
    assert b"\r\n.dot line" in content or b"\n.dot line" in content  # dot-stuffing undone by the server
