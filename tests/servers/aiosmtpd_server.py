#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""SMTP/LMTP test server for the smtpc integration tests, built on aiosmtpd.

Run it with /usr/bin/python3 (the Debian python3-aiosmtpd package exists only for that interpreter).

It listens on loopback (a free TCP port chosen by the kernel, or a Unix socket path), prints
"READY <port>" or "READY <path>" on stdout, and records every message it receives into the spool
directory as one JSON file per message (msg-NNNNNN.json, written atomically). With --sessions DIR it
also writes one JSON file per connection (session-NNNNNN.json) with every byte the client sent, when
the connection closes. It stops cleanly on SIGTERM or SIGINT.

Behaviour that tests rely on (addresses are matched on their local part, case-insensitively):
  MAIL FROM  local part starting with "refuse"  -> 550 5.7.1 (sender refused)
  RCPT TO    local part starting with "reject"  -> 550 5.1.1 (recipient refused)
             local part starting with "defer"   -> 450 4.2.1 (recipient refused, temporary)
  After DATA, LMTP: local part starting with "fail" -> 550 5.1.1 for that recipient, others 250
  After DATA, SMTP: any recipient starting with "fail" -> 554 5.6.0 for the message
Mail parameters accepted: BODY=7BIT|8BITMIME, SIZE=n, SMTPUTF8 (only when offered), RET, ENVID.
Recipient parameters accepted: NOTIFY, ORCPT. Anything else -> 555 5.5.4.
MAIL FROM:<> (null sender) is accepted.

Message JSON keys (hex values are the exact bytes):
  seq, session, mode ("smtp"|"lmtp"), helo, esmtp (bool), mail_from, mail_from_hex,
  mail_options (list), mail_options_hex (hex of the options joined with one space),
  rcpt_tos (list), rcpt_tos_hex (list), rcpt_options (list of lists, one per recipient),
  rcpt_options_hex (list: hex of each recipient's options joined with one space),
  content_hex (message after dot-unstuffing, as received, CRLF line ends kept),
  raw_hex (every byte the client sent on this connection up to the end of the message),
  replies (list: the final reply line(s) sent after the message),
  tls ("none" | "starttls" | "implicit": how the connection was encrypted when the message came),
  tls_version ("" or e.g. "TLSv1.3").

Session JSON keys: session, raw_hex (every byte the client sent, decrypted after TLS), and for TLS:
  plain_hex (bytes received in clear, before STARTTLS), tls_hex (bytes received decrypted over TLS),
  tls_wire_hex (the encrypted bytes as they came on the wire after STARTTLS or from the first byte
  with --implicit-tls), tls ("none" | "starttls" | "implicit"), tls_established (the handshake
  completed), tls_version, client_cert_cn (common name of the client's verified certificate, or ""),
  tls_resumed (the client resumed an earlier TLS session: the server's own view).
One SSLContext serves every connection, so TLS sessions (tickets, session IDs) can be resumed.

TLS (all off by default; without them the server behaves exactly as before):
  --tls-cert FILE --tls-key FILE   offer STARTTLS with this certificate and key (PEM)
  --implicit-tls                   TLS from the first byte instead of STARTTLS (SMTPS, RFC 8314)
  --require-client-cert CAFILE     ask for a client certificate and refuse the handshake without
                                   one signed by a CA in CAFILE
  --tls-max-version 1.2|1.3        highest TLS version offered (default: OpenSSL's)

AUTH (off by default; without --auth AUTH is offered only after STARTTLS and every login fails):
  --auth USER:PASSWORD             accept this user name and password (AUTH PLAIN and LOGIN, aiosmtpd's
                                   built-in mechanisms); may repeat. Anything else gets 535 5.7.8.
  --auth-plaintext                 offer AUTH before TLS too (auth_require_tls=False): for loopback tests
"""

import argparse
import asyncio
import asyncio.sslproto
import json
import logging
import os
import re
import signal
import ssl
import sys

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult, TLSSetupException, syntax

ARGS = None
COUNTERS = {"msg": 0, "session": 0}


def local_part(addr):
    return addr.rpartition("@")[0].lower() if "@" in addr else addr.lower()


def write_json(directory, name, obj):
    tmp = os.path.join(directory, "." + name + ".tmp")
    with open(tmp, "w", encoding="ascii") as f:
        json.dump(obj, f, sort_keys=True, indent=1)
        f.write("\n")
    os.rename(tmp, os.path.join(directory, name))


def parse_path(arg):
    """Split '<addr> params' or 'addr params'; returns (addr, [params]) or (None, None)."""
    arg = arg.strip()
    m = re.match(r"^<([^<>]*)>(.*)$", arg)
    if m:
        return m.group(1), m.group(2).split()
    m = re.match(r"^([^\s<>]+)(.*)$", arg)
    if m:
        return m.group(1), m.group(2).split()
    return None, None


_OriginalSSLProtocol = asyncio.sslproto.SSLProtocol


class TapSSLProtocol(_OriginalSSLProtocol):
    """asyncio's TLS layer, recording the encrypted bytes it receives into the SMTP protocol's
    x_wire (so a test can check that nothing came in clear after STARTTLS). Installed for both
    STARTTLS (aiosmtpd builds an SSLProtocol itself) and implicit TLS (the event loop does)."""

    def _x_record(self, data):
        app = getattr(self, "_app_protocol", None)
        if isinstance(app, Mixin):
            app.x_wire += data

    def get_buffer(self, n):  # Python >= 3.11: a buffered protocol
        self._x_buffer = super().get_buffer(n)
        return self._x_buffer

    def buffer_updated(self, nbytes):
        self._x_record(bytes(self._x_buffer[:nbytes]))
        super().buffer_updated(nbytes)

    def data_received(self, data):  # older Pythons
        self._x_record(bytes(data))
        super().data_received(data)

    def connection_lost(self, exc):
        app = getattr(self, "_app_protocol", None)
        if isinstance(app, Mixin) and not app.x_made:
            # An implicit-TLS handshake that failed: the SMTP protocol never saw the connection,
            # but the test still gets its session record.
            app.x_tls_mode = "implicit"
            app.x_write_session()
        super().connection_lost(exc)


if not hasattr(_OriginalSSLProtocol, "buffer_updated"):  # pragma: no cover
    del TapSSLProtocol.get_buffer
    del TapSSLProtocol.buffer_updated
elif not hasattr(_OriginalSSLProtocol, "data_received"):
    del TapSSLProtocol.data_received


class Mixin:
    """Shared by the SMTP and LMTP servers: raw capture, MAIL and RCPT with our own rules."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        COUNTERS["session"] += 1
        self.x_session = COUNTERS["session"]
        self.x_raw = bytearray()
        self.x_plain = bytearray()  # received in clear
        self.x_tls = bytearray()    # received decrypted over TLS
        self.x_wire = bytearray()   # received encrypted (after STARTTLS, or all with implicit TLS)
        self.x_tls_mode = "none"
        self.x_tls_ok = False
        self.x_tls_version = ""
        self.x_tls_resumed = False
        self.x_client_cn = ""
        self.x_made = False

    def connection_made(self, transport):
        after_starttls = self.x_made and self.x_tls_mode == "starttls"
        self.x_made = True
        if not after_starttls and transport.get_extra_info("sslcontext") is not None:
            self.x_tls_mode = "implicit"
        super().connection_made(transport)
        if self.x_tls_mode != "none":
            # Both calls come after a completed handshake: the loop calls us only then for implicit
            # TLS, and aiosmtpd's TLS layer calls us again once STARTTLS's handshake is done.
            self.x_tls_ok = True
            obj = transport.get_extra_info("ssl_object")
            if obj is not None:
                self.x_tls_version = obj.version() or ""
                self.x_tls_resumed = bool(obj.session_reused)
                cert = obj.getpeercert()
                for rdn in (cert or {}).get("subject", ()):
                    for key, value in rdn:
                        if key == "commonName":
                            self.x_client_cn = value

    def data_received(self, data):
        self.x_raw += data
        if self.x_tls_mode == "none":
            self.x_plain += data
        else:
            self.x_tls += data
        super().data_received(data)

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg):
        if not arg and self.tls_context:
            self.x_tls_mode = "starttls"  # what arrives from now on comes through the TLS layer
        await super().smtp_STARTTLS(arg)

    def x_write_session(self):
        if not ARGS.sessions:
            return
        try:
            write_json(ARGS.sessions, "session-%06d.json" % self.x_session,
                       {"session": self.x_session, "raw_hex": bytes(self.x_raw).hex(),
                        "plain_hex": bytes(self.x_plain).hex(), "tls_hex": bytes(self.x_tls).hex(),
                        "tls_wire_hex": bytes(self.x_wire).hex(), "tls": self.x_tls_mode,
                        "tls_established": self.x_tls_ok, "tls_version": self.x_tls_version,
                        "client_cert_cn": self.x_client_cn, "tls_resumed": self.x_tls_resumed})
        except OSError as e:  # pragma: no cover
            print("aiosmtpd_server: cannot write session: %s" % e, file=sys.stderr)

    def connection_lost(self, error):
        self.x_write_session()
        super().connection_lost(error)

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg):
        if await self.check_helo_needed():
            return
        if arg is None or arg[:5].upper() != "FROM:":
            await self.push("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        addr, params = parse_path(arg[5:])
        if addr is None:
            await self.push("501 5.1.7 Bad sender address syntax")
            return
        if params and not self.session.extended_smtp:
            await self.push("501 5.5.4 Parameters need EHLO")
            return
        if getattr(self.envelope, "x_have_mail", False):
            await self.push("503 5.5.1 Error: nested MAIL command")
            return
        for p in params:
            key, eq, value = p.partition("=")
            key = key.upper()
            if key == "BODY" and value.upper() in ("7BIT", "8BITMIME"):
                continue
            if key == "SMTPUTF8" and not eq and self.enable_SMTPUTF8:
                continue
            if key == "SIZE" and value.isdigit():
                if self.data_size_limit and int(value) > self.data_size_limit:
                    await self.push("552 5.3.4 Message size exceeds fixed limit")
                    return
                continue
            if key in ("RET", "ENVID") and value:
                continue
            await self.push("555 5.5.4 Unsupported MAIL parameter: %s" % key)
            return
        if local_part(addr).startswith("refuse"):
            await self.push("550 5.7.1 <%s>: Sender address rejected" % addr)
            return
        self.envelope.x_have_mail = True
        self.envelope.mail_from = addr
        self.envelope.mail_options = list(params)
        self.envelope.x_rcpt_options = []
        await self.push("250 2.1.0 Sender OK")

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg):
        if await self.check_helo_needed():
            return
        if not getattr(self.envelope, "x_have_mail", False):
            await self.push("503 5.5.1 Error: need MAIL command")
            return
        if arg is None or arg[:3].upper() != "TO:":
            await self.push("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        addr, params = parse_path(arg[3:])
        if not addr:
            await self.push("501 5.1.3 Bad recipient address syntax")
            return
        if params and not self.session.extended_smtp:
            await self.push("501 5.5.4 Parameters need EHLO")
            return
        for p in params:
            key, _, value = p.partition("=")
            if key.upper() in ("NOTIFY", "ORCPT") and value:
                continue
            await self.push("555 5.5.4 Unsupported RCPT parameter: %s" % key.upper())
            return
        lp = local_part(addr)
        if lp.startswith("reject"):
            await self.push("550 5.1.1 <%s>: Recipient address rejected" % addr)
            return
        if lp.startswith("defer"):
            await self.push("450 4.2.1 <%s>: Mailbox busy, try later" % addr)
            return
        self.envelope.rcpt_tos.append(addr)
        self.envelope.x_rcpt_options.append(list(params))
        await self.push("250 2.1.5 Recipient OK")


class TestSMTP(Mixin, SMTP):
    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname):
        if ARGS.no_ehlo:
            await self.push("502 5.5.1 EHLO not supported here")
            return
        await super().smtp_EHLO(hostname)


class TestLMTP(Mixin, LMTP):
    pass


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # The 5-argument hook replaces aiosmtpd's own bookkeeping of the name.
        session.host_name = hostname
        last = responses[-1]
        body = responses[:-1]
        for extra in ARGS.ehlo_extra:
            body.append("250-" + extra)
        return body + [last]

    async def handle_exception(self, error):
        if isinstance(error, TLSSetupException):
            # A failed STARTTLS handshake is what the TLS tests provoke: one line, no traceback.
            cause = error.__cause__
            print("aiosmtpd_server: STARTTLS handshake failed: %r" % (cause,), file=sys.stderr)
        else:
            logging.getLogger("aiosmtpd_server").exception("SMTP session exception")
        return "500 Error: (%s) %s" % (error.__class__.__name__, error)

    async def handle_DATA(self, server, session, envelope):
        COUNTERS["msg"] += 1
        seq = COUNTERS["msg"]
        rcpts = list(envelope.rcpt_tos)
        ropts = list(getattr(envelope, "x_rcpt_options", [[] for _ in rcpts]))
        if ARGS.mode == "lmtp":
            replies = []
            for r in rcpts:
                if local_part(r).startswith("fail"):
                    replies.append("550 5.1.1 <%s>: delivery failed" % r)
                else:
                    replies.append("250 2.0.0 <%s>: delivered as %d" % (r, seq))
        else:
            if any(local_part(r).startswith("fail") for r in rcpts):
                replies = ["554 5.6.0 Message refused"]
            else:
                replies = ["250 2.0.0 OK: queued as %d" % seq]
        record = {
            "seq": seq,
            "session": server.x_session,
            "mode": ARGS.mode,
            "helo": session.host_name,
            "esmtp": bool(session.extended_smtp),
            "mail_from": envelope.mail_from,
            "mail_from_hex": envelope.mail_from.encode("utf-8", "surrogateescape").hex(),
            "mail_options": list(envelope.mail_options),
            "mail_options_hex": " ".join(envelope.mail_options).encode("utf-8", "surrogateescape").hex(),
            "rcpt_tos": rcpts,
            "rcpt_tos_hex": [r.encode("utf-8", "surrogateescape").hex() for r in rcpts],
            "rcpt_options": ropts,
            "rcpt_options_hex": [" ".join(o).encode("utf-8", "surrogateescape").hex() for o in ropts],
            "content_hex": bytes(envelope.original_content).hex(),
            "raw_hex": bytes(server.x_raw).hex(),
            "replies": replies,
            "tls": server.x_tls_mode if server.x_tls_ok else "none",
            "tls_version": server.x_tls_version,
        }
        write_json(ARGS.spool, "msg-%06d.json" % seq, record)
        return "\r\n".join(replies)


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("smtp", "lmtp"), default="smtp")
    ap.add_argument("--host", default="127.0.0.1", help="loopback address to bind (127.0.0.1 or ::1; "
                    "10.231.0.0/16 inside a test-made network namespace)")
    ap.add_argument("--unix", metavar="PATH", help="listen on this Unix socket path instead of TCP")
    ap.add_argument("--spool", required=True, help="directory for msg-*.json files")
    ap.add_argument("--sessions", help="directory for session-*.json files (raw bytes per connection)")
    ap.add_argument("--hostname", default="smtpc.test", help="server name in the greeting and EHLO")
    ap.add_argument("--ident", default="smtpc-test-server", help="text after the name in the greeting")
    ap.add_argument("--no-smtputf8", action="store_true", help="do not offer SMTPUTF8")
    ap.add_argument("--size", type=int, default=33554432, help="SIZE limit to offer (0: no SIZE)")
    ap.add_argument("--no-ehlo", action="store_true", help="refuse EHLO with 502 (SMTP mode)")
    ap.add_argument("--ehlo-extra", action="append", default=[], metavar="LINE",
                    help="extra EHLO keyword line (without the 250-), may repeat")
    ap.add_argument("--tls-cert", metavar="FILE", help="certificate (PEM): offer STARTTLS")
    ap.add_argument("--tls-key", metavar="FILE", help="private key (PEM) of --tls-cert")
    ap.add_argument("--implicit-tls", action="store_true",
                    help="TLS from the first byte (needs --tls-cert/--tls-key); no STARTTLS")
    ap.add_argument("--require-client-cert", metavar="CAFILE",
                    help="require a client certificate signed by a CA in CAFILE")
    ap.add_argument("--tls-max-version", choices=("1.2", "1.3"), help="highest TLS version offered")
    ap.add_argument("--auth", metavar="USER:PASSWORD", action="append", default=[],
                    help="accept this login for AUTH PLAIN/LOGIN; may repeat")
    ap.add_argument("--auth-plaintext", action="store_true",
                    help="offer AUTH without TLS (auth_require_tls=False)")
    ARGS = ap.parse_args()

    # 10.231.0.0/16: only inside a network namespace that a test made (tests/auth, ip netns exec).
    if ARGS.host not in ("127.0.0.1", "::1", "localhost") and not ARGS.host.startswith("10.231."):
        ap.error("--host must be a loopback address (or 10.231.0.0/16 inside a test's namespace)")
    for d in (ARGS.spool, ARGS.sessions):
        if d and not os.path.isdir(d):
            ap.error("no such directory: %s" % d)
    if bool(ARGS.tls_cert) != bool(ARGS.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if (ARGS.implicit_tls or ARGS.require_client_cert or ARGS.tls_max_version) and not ARGS.tls_cert:
        ap.error("--implicit-tls, --require-client-cert and --tls-max-version need --tls-cert/--tls-key")

    tls_context = None
    if ARGS.tls_cert:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        if ARGS.require_client_cert:
            tls_context.verify_mode = ssl.CERT_REQUIRED
            tls_context.load_verify_locations(cafile=ARGS.require_client_cert)
            # aiosmtpd warns about CERT_REQUIRED on every connection: that is what we want here.
            logging.getLogger("mail.log").setLevel(logging.ERROR)
        if ARGS.tls_max_version == "1.2":
            tls_context.maximum_version = ssl.TLSVersion.TLSv1_2
        elif ARGS.tls_max_version == "1.3":
            tls_context.maximum_version = ssl.TLSVersion.TLSv1_3
        asyncio.sslproto.SSLProtocol = TapSSLProtocol

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="aiosmtpd_server: %(levelname)s %(name)s: %(message)s")

    logins = set()
    for spec in ARGS.auth:
        user, sep, password = spec.partition(":")
        if not sep or not user:
            ap.error("--auth takes USER:PASSWORD")
        logins.add((user.encode("utf-8"), password.encode("utf-8")))

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (getattr(auth_data, "login", None), getattr(auth_data, "password", None)) in logins
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    handler = Handler()
    cls = TestLMTP if ARGS.mode == "lmtp" else TestSMTP
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        kwargs = {}
        if tls_context is not None and not ARGS.implicit_tls:
            kwargs["tls_context"] = tls_context
        if ARGS.auth:
            kwargs["authenticator"] = authenticator
        if ARGS.auth_plaintext:
            kwargs["auth_require_tls"] = False
        return cls(handler, hostname=ARGS.hostname, ident=ARGS.ident,
                   enable_SMTPUTF8=not ARGS.no_smtputf8,
                   data_size_limit=ARGS.size if ARGS.size > 0 else None,
                   decode_data=False, loop=loop, **kwargs)

    implicit = tls_context if ARGS.implicit_tls else None

    async def run():
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if ARGS.unix:
            if os.path.exists(ARGS.unix):
                os.unlink(ARGS.unix)
            server = await loop.create_unix_server(factory, path=ARGS.unix, ssl=implicit)
            where = ARGS.unix
        else:
            server = await loop.create_server(factory, host=ARGS.host, port=0, reuse_address=False,
                                              ssl=implicit)
            where = str(server.sockets[0].getsockname()[1])
        sys.stdout.write("READY %s\n" % where)
        sys.stdout.flush()
        await stop.wait()
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), 2)
        except asyncio.TimeoutError:
            pass
        # Close what is still open (a client may not have said QUIT yet) so no task is left pending.
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)
        if ARGS.unix:
            try:
                os.unlink(ARGS.unix)
            except OSError:
                pass

    try:
        loop.run_until_complete(run())
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
