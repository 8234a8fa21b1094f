# SPDX-License-Identifier: MIT
"""smtpc.aio: an asyncio SMTP client that follows aiosmtplib's API (``SMTP``, ``send``).

Every operation is one operation of the library's non-blocking mode, driven by the running event
loop's own reader/writer callbacks on the client's descriptor (``loop.add_reader``/``add_writer``)
and one ``loop.call_at`` timer for its deadline: no thread per connection, no executor. A step of
the library runs inside such a callback, on the loop's thread; the trace callback runs there too.

Differences from aiosmtplib (see docs/python-aio.md): exceptions are smtpc's (smtplib-compatible,
``smtp_code``/``smtp_error`` as bytes), with ``code``/``message`` (str) added to those that carry a
reply, and aliases with aiosmtplib's names where smtpc has no class of its own; the transaction of
``sendmail`` is the library's (pipelined when the server offers PIPELINING, ``SIZE=`` after line-end
normalisation); credentials are not sent in clear to a non-local server (``allow_insecure_auth``).
"""
from __future__ import annotations

import asyncio
import copy
import email.charset
import email.generator
import email.header
import email.headerregistry
import email.message
import email.policy
import email.utils
import io
import os
import re
import socket
import ssl
import time
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

from . import smtpc_native as _n
from ._core import Envelope, NativeClient, NativeError, TLSConfig, exception_from, to_bytes
from .client import _ms  # seconds as the library's milliseconds; None (no limit) is 0
from .errors import (
    SMTPAuthenticationError, SMTPConnectError, SMTPDataError, SMTPException, SMTPHeloError,
    SMTPNotSupportedError, SMTPRecipientsRefused, SMTPResponseException, SMTPSenderRefused,
    SMTPServerDisconnected,
)

__all__ = [
    "SMTP", "send", "SMTPResponse", "SMTPTimeoutError", "SMTPConnectTimeoutError", "SMTPReadTimeoutError",
    "SMTPRecipientRefused", "SMTPNotSupported", "SMTPException", "SMTPServerDisconnected", "SMTPConnectError",
    "SMTPResponseException", "SMTPHeloError", "SMTPDataError", "SMTPAuthenticationError", "SMTPSenderRefused",
    "SMTPRecipientsRefused", "SMTPNotSupportedError", "DEFAULT_TIMEOUT",
]

DEFAULT_TIMEOUT = 60.0
SMTP_PORT, SMTP_TLS_PORT, SMTP_STARTTLS_PORT = 25, 465, 587

_EAGAIN = _n.SMTPC_EAGAIN
_WANT_READ = _n.SMTPC_WANT_READ
_WANT_WRITE = _n.SMTPC_WANT_WRITE
_step = _n.client_step
_fd = _n.client_fd
_wants = _n.client_wants
_deadline_ms = _n.client_deadline_ms
_monotonic = time.monotonic


class _Default:
    """aiosmtplib's marker for "the value given to the constructor/connect"."""

    def __repr__(self) -> str:
        return "_default"


_default: Any = _Default()

# The library's default EHLO name (the host's canonical name, found with a blocking getaddrinfo()
# the first time a client needs it): taken from the first client that computed it and given to
# the next ones, so that a process pays that lookup on its loop once, not once per connection.
_local_hostname_cache: Optional[str] = None


# --- replies and exceptions ----------------------------------------------------------------------

class SMTPResponse(NamedTuple):
    """A server reply as aiosmtplib gives it: ``code`` and ``message`` (the text, lines joined with
    "\\n", decoded as UTF-8 with surrogateescape)."""

    code: int
    message: str

    def __repr__(self) -> str:
        return f"({self.code}, {self.message})"

    def __str__(self) -> str:
        return f"{self.code} {self.message}"


def _response(r: Any) -> Optional[SMTPResponse]:
    if r is None:
        return None
    return SMTPResponse(_n.reply_code(r), _n.reply_text(r))


# asyncio.TimeoutError is the built-in TimeoutError from Python 3.11 on, a class of its own before.
_TIMEOUT_BASES = (TimeoutError,) if asyncio.TimeoutError is TimeoutError else (TimeoutError, asyncio.TimeoutError)


class SMTPTimeoutError(SMTPException, *_TIMEOUT_BASES):  # type: ignore[misc]
    """An operation's deadline passed (the connection is closed). Also a TimeoutError (what
    smtpc.Client raises for the same status) and an asyncio.TimeoutError, as aiosmtplib's is."""


class SMTPConnectTimeoutError(SMTPTimeoutError):
    """The connection (resolution, TCP, greeting, implicit TLS) did not complete in time."""


class SMTPReadTimeoutError(SMTPTimeoutError):
    """The server did not answer a command in time."""


class SMTPRecipientRefused(SMTPResponseException):
    """rcpt() was refused: ``recipient``, ``smtp_code``/``code``, ``smtp_error``/``message``."""

    def __init__(self, code: int, msg: Any, recipient: str) -> None:
        super().__init__(code, msg)
        self.recipient = recipient
        self.args = (code, msg, recipient)


SMTPNotSupported = SMTPNotSupportedError
"""aiosmtplib's name for smtpc's SMTPNotSupportedError."""


def _with_reply(exc: BaseException) -> BaseException:
    """aiosmtplib's attributes (``code``, ``message`` as str) beside smtplib's on reply errors."""
    if isinstance(exc, SMTPResponseException):
        err = exc.smtp_error
        exc.code = exc.smtp_code  # type: ignore[attr-defined]
        exc.message = err.decode("utf-8", "surrogateescape") if isinstance(err, bytes) else str(err)  # type: ignore[attr-defined]
    return exc


# --- message helpers (aiosmtplib's, so that the same message gives the same bytes) ---------------

# An address that parseaddr() gives back unchanged (the common case), without parsing it.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                            r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def _parse_address(address: str) -> str:
    if _PLAIN_ADDRESS.fullmatch(address):
        return address
    _, parsed = email.utils.parseaddr(address)
    return parsed or address.strip()


def _quote_address(address: str) -> str:
    return f"<{_parse_address(address)}>"


def _extract_addresses(header: Any) -> List[str]:
    out: List[str] = []
    if isinstance(header, email.headerregistry.AddressHeader):
        for address in header.addresses:
            if isinstance(address, email.headerregistry.Address):
                out.append(address.addr_spec)
            else:
                out.append(_parse_address(address))
    elif isinstance(header, email.header.Header):
        for value, charset in email.header.decode_header(header):
            out.append(_parse_address(str(value, encoding=charset or "ascii")))
    else:
        out.extend(addr for _, addr in email.utils.getaddresses([header]))
    return out


def _resent_prefix(message: email.message.Message) -> str:
    dates = message.get_all("Resent-Date")
    if dates is not None and len(dates) > 1:
        raise ValueError("Message has more than one 'Resent-' header block")
    return "Resent-" if dates else ""


def _extract_sender(message: email.message.Message) -> Optional[str]:
    prefix = _resent_prefix(message)
    header = message[prefix + "Sender"] if (prefix + "Sender") in message else message[prefix + "From"]
    if header is None:
        return None
    addrs = _extract_addresses(header)
    return addrs[0] if addrs else None


def _extract_recipients(message: email.message.Message) -> List[str]:
    prefix = _resent_prefix(message)
    out: List[str] = []
    for name in ("To", "Cc", "Bcc"):
        for value in message.get_all(prefix + name, failobj=[]):
            out.extend(_extract_addresses(value))
    return out


def _flatten(message: email.message.Message, utf8: bool, cte_type: str) -> bytes:
    """The message without Bcc/Resent-Bcc, CRLF line ends (as aiosmtplib flattens it)."""
    msg = copy.copy(message)
    del msg["Bcc"]
    del msg["Resent-Bcc"]
    if isinstance(message, email.message.EmailMessage):
        policy = email.policy.default.clone(linesep="\r\n", utf8=utf8, cte_type=cte_type)
    else:
        policy = email.policy.compat32.clone(linesep="\r\n", cte_type=cte_type)
    with io.BytesIO() as buf:
        email.generator.BytesGenerator(buf, policy=policy).flatten(msg)
        return buf.getvalue()


def _check_line(name: str, value: Optional[str]) -> None:
    if value is not None and ("\r" in value or "\n" in value):
        raise ValueError(f"The {name} param contains prohibited newline characters")


# --- the driver -----------------------------------------------------------------------------------

class _Driver:
    """Runs one operation at a time of one client on the running loop.

    After the call that started it returned SMTPC_EAGAIN, the client's descriptor is watched for
    what it wants, and smtpc_client_step() is called from the loop's callback when it is ready or
    when the deadline passed.

    The descriptor may change from one step to the next while connecting (the resolver's pipe,
    each address tried): then the watch is removed before every step, while the descriptor it
    names is still open (the library may close it and open another with the same number, which
    epoll would have forgotten), and set again after it. Once connected the descriptor is the
    connection's until it closes, so the watch stays from one step, and one operation, to the
    next while it asks for the same events; between operations a readiness event (the server
    closed, or spoke out of turn) removes it, and the next operation finds out what happened.
    It is removed as soon as an operation leaves the client without that descriptor (closed), in
    the same callback: asyncio has no way to forget a descriptor without epoll_ctl(DEL), which then
    finds nothing (the kernel dropped the closed file from the epoll set; selectors ignores the
    error), and cannot touch another file that took the number meanwhile: only this thread adds to
    this loop's epoll, and it has not run in between. One timer per connection, moved only when a
    deadline comes nearer."""

    __slots__ = ("native", "loop", "fut", "fd", "wants", "timer", "when", "stepping", "borrowed", "stable")

    def __init__(self, native: NativeClient) -> None:
        self.native = native
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.fut: Optional[asyncio.Future] = None
        self.fd = -1
        self.wants = 0
        self.timer: Optional[asyncio.TimerHandle] = None
        self.when = -1.0
        self.stepping = False
        self.borrowed: Any = None
        self.stable = False

    async def run(self, fn: Any, *args: Any, borrowed: Any = None, stable: bool = True) -> None:
        """fn(client, *args), then steps until it ends. Raises NativeError for a failure (never
        SMTPC_EAGAIN), or what a callback raised. `stable`: false for connect (see above)."""
        p = self.native.ptr
        loop = asyncio.get_running_loop()
        if loop is not self.loop:
            self.release()
            self.loop = loop
        if not stable:
            self._unwatch()
        try:
            fn(p, *args)
            self._settle(p)
            return
        except NativeError as e:
            if e.args[0] != _EAGAIN:
                self._settle(p)
                raise
        except BaseException:
            self._settle(p)
            raise
        fut = self.fut = loop.create_future()
        self.stable = stable or bool(_n.client_is_connected(p))
        # The library borrows message bodies until the operation ends.
        self.borrowed = borrowed
        try:
            self._watch(p)
            await fut
        except BaseException:
            # Cancelled (or the loop is going away): the operation is half done and the session's
            # state unknown, so the connection is closed with it. Nothing stays registered.
            if self.fut is fut:
                self.fut = None
                self.release()
                if self.native._p is not None:
                    _n.client_close(self.native._p)
            raise
        finally:
            if self.fut is fut:
                self.fut = None
            self.borrowed = None

    def _settle(self, p: Any) -> None:
        """An operation ended: drop the watch and the timer when the connection is gone."""
        if self.fd >= 0 and _fd(p) != self.fd:
            self._unwatch()
        if self.fd < 0 and self.timer is not None and not _n.client_is_connected(p):
            self._clear_timer()

    def _watch(self, p: Any) -> None:
        """Watch what the client asks for now."""
        loop = self.loop
        fd = _fd(p)
        w = _wants(p) if fd >= 0 else 0
        if fd != self.fd:
            self._unwatch()
        old = self.wants
        if w != old:
            if (old & _WANT_READ) and not (w & _WANT_READ):
                loop.remove_reader(fd)  # type: ignore[union-attr]
            if (old & _WANT_WRITE) and not (w & _WANT_WRITE):
                loop.remove_writer(fd)  # type: ignore[union-attr]
            if (w & _WANT_READ) and not (old & _WANT_READ):
                loop.add_reader(fd, self._ready)  # type: ignore[union-attr]
            if (w & _WANT_WRITE) and not (old & _WANT_WRITE):
                loop.add_writer(fd, self._ready)  # type: ignore[union-attr]
        self.fd, self.wants = fd, w
        dl = _deadline_ms(p)
        if dl < 0:
            return
        # CLOCK_MONOTONIC ms to the loop's clock, a millisecond late rather than early so that the
        # step finds the deadline passed (an early step only waits again); a later deadline is
        # taken when the timer fires.
        when = loop.time() + max(0.0, dl / 1000.0 - _monotonic()) + 0.001  # type: ignore[union-attr]
        if self.timer is None or when < self.when - 0.001:
            self._clear_timer()
            self.when = when
            self.timer = loop.call_at(when, self._expired)  # type: ignore[union-attr]

    def _unwatch(self) -> None:
        fd, w = self.fd, self.wants
        self.fd, self.wants = -1, 0
        if fd >= 0 and self.loop is not None and not self.loop.is_closed():
            if w & _WANT_READ:
                self.loop.remove_reader(fd)
            if w & _WANT_WRITE:
                self.loop.remove_writer(fd)

    def _clear_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.when = -1.0

    def release(self) -> None:
        """No watch and no timer left on the loop."""
        self._unwatch()
        self._clear_timer()

    def _expired(self) -> None:
        self.timer = None
        if self.fut is not None:
            self._ready()

    def _ready(self) -> None:
        fut = self.fut
        if fut is None or fut.done():
            # Between operations: the next one finds out what the server did.
            if not self.stepping:
                self._unwatch()
            return
        if self.stepping:
            return
        if not self.stable:
            self._unwatch()
        native = self.native
        p = native._p
        if p is None:
            self._finish(fut, SMTPServerDisconnected("the client was freed"))
            return
        self.stepping = True
        try:
            _step(p)
        except NativeError as e:
            if e.args[0] == _EAGAIN:
                if not self.stable and _n.client_is_connected(p):
                    self.stable = True  # connected (the greeting is awaited): the socket stays
                self._watch(p)
                return
            self._finish(fut, e)
        except BaseException as e:  # noqa: BLE001 - a callback raised inside the step
            if _wants(p):  # the operation is still in progress: its state is unknown
                _n.client_close(p)
            self._finish(fut, e)
        else:
            self._finish(fut, None)
        finally:
            self.stepping = False

    def _finish(self, fut: asyncio.Future, exc: Optional[BaseException]) -> None:
        self.fut = None  # ended: run() must not close the connection for it
        p = self.native._p
        if p is not None:
            self._settle(p)
        else:
            self.release()
        if not fut.done():
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)

    def abandon(self) -> None:
        """close(): no watch, no timer; an operation in progress ends with SMTPServerDisconnected
        (from a callback inside a step, the library defers the close to the step's end)."""
        if self.stepping:
            return
        self.release()
        fut, self.fut = self.fut, None
        if fut is not None and not fut.done():
            fut.set_exception(SMTPServerDisconnected("Connection closed while the operation was in progress"))


# --- SMTP -----------------------------------------------------------------------------------------

_AUTH_PREFERENCE = ("scram-sha-256", "scram-sha-1", "cram-md5", "plain", "login")


class SMTP:
    """An asyncio SMTP client session, as aiosmtplib's ``SMTP``.

    Keyword arguments as aiosmtplib 2.0: ``hostname`` (default "localhost"), ``port`` (465 with
    ``use_tls``, 587 with ``start_tls=True``, else 25), ``username``/``password`` (login on
    connect), ``local_hostname``, ``source_address`` ((host, port); give an address, not a name),
    ``timeout`` (seconds, for connect and for each command; default 60; None: no limit),
    ``use_tls`` (implicit TLS), ``start_tls`` (None: STARTTLS when the server offers it; True:
    required; False: never), ``validate_certs``, ``client_cert``/``client_key``, ``tls_context``
    (an ssl.SSLContext, carried over: its CA certificates, check_hostname, minimum version),
    ``cert_bundle`` (a CA file), ``socket_path`` (a Unix socket). smtpc's own:
    ``allow_insecure_auth`` (send credentials in clear to a non-local server), ``server_name``
    (the name to verify the certificate against), ``lmtp``, ``pipelining``, ``chunking``,
    ``trace`` (a callable ``trace(kind, data, time_us)``) and ``progress`` (``progress(sent,
    total)`` as a body goes out; an exception or a true result aborts the message before its end
    of data, the connection is closed and the exception raised), both run inside a step, on the
    loop's thread: they must not block.

    Operations on one object are serialised (an asyncio.Lock): concurrent tasks may share it. A
    cancelled operation closes the connection (its state is unknown) and re-raises."""

    AUTH_METHODS: Tuple[str, ...] = _AUTH_PREFERENCE

    def __init__(self, hostname: Optional[str] = "localhost", port: Optional[int] = None,
                 username: Optional[Union[str, bytes]] = None, password: Optional[Union[str, bytes]] = None,
                 local_hostname: Optional[str] = None, source_address: Optional[Tuple[str, int]] = None,
                 timeout: Optional[float] = DEFAULT_TIMEOUT, use_tls: bool = False,
                 start_tls: Optional[bool] = None, validate_certs: bool = True,
                 client_cert: Optional[str] = None, client_key: Optional[str] = None,
                 tls_context: Optional[ssl.SSLContext] = None, cert_bundle: Optional[str] = None,
                 socket_path: Any = None, sock: Optional[socket.socket] = None, *,
                 allow_insecure_auth: bool = False, server_name: Optional[str] = None, lmtp: bool = False,
                 pipelining: bool = True, chunking: bool = True, trace: Any = None,
                 progress: Any = None) -> None:
        self.hostname = hostname
        self.port = port
        self._login_username = username
        self._login_password = password
        self._local_hostname = local_hostname
        self.source_address = source_address
        self.timeout = timeout
        self.use_tls = use_tls
        self._start_tls_on_connect = start_tls
        self.validate_certs = validate_certs
        self.client_cert = client_cert
        self.client_key = client_key
        self.tls_context = tls_context
        self.cert_bundle = cert_bundle
        self.socket_path = socket_path
        self.sock = sock
        self.server_name = server_name
        self._lock: Optional[asyncio.Lock] = None
        self._tls_key: Any = None
        self._tls_config: Optional[TLSConfig] = None
        self._c = NativeClient(_n.SMTPC_PROTOCOL_LMTP if lmtp else _n.SMTPC_PROTOCOL_SMTP)
        self._d = _Driver(self._c)
        p = self._c.ptr
        try:
            _n.client_set_nonblocking(p, 1)
            _n.client_set_pipelining(p, 1 if pipelining else 0)
            if hasattr(_n, "client_set_chunking"):
                _n.client_set_chunking(p, 1 if chunking else 0)
            if allow_insecure_auth:
                _n.client_set_allow_insecure_auth(p, 1)
            if trace is not None:
                _n.client_set_trace(p, 1, trace)
            if progress is not None:
                _n.client_set_progress(p, progress)
        except NativeError as e:
            raise exception_from(e, self._c) from None
        self._validate_config()

    # --- configuration ------------------------------------------------------------------------------
    def _update_settings(self, **kw: Any) -> None:
        renames = {"username": "_login_username", "password": "_login_password",
                   "local_hostname": "_local_hostname", "start_tls": "_start_tls_on_connect"}
        for key, value in kw.items():
            if value is _default:
                continue
            if key in ("use_tls", "validate_certs") and value is None:
                continue
            setattr(self, renames.get(key, key), value)

    def _validate_config(self) -> None:
        if self._start_tls_on_connect and self.use_tls:
            raise ValueError("The start_tls and use_tls options are not compatible.")
        if self.tls_context is not None and self.client_cert is not None:
            raise ValueError("Either a TLS context or a certificate/key must be provided")
        if self.sock is not None:
            raise ValueError("smtpc.aio does not take an existing socket (sock): give hostname/port or socket_path")
        if self.socket_path is not None and self.port:
            raise ValueError("The socket_path option is not compatible with hostname/port")
        _check_line("local_hostname", self._local_hostname)
        _check_line("hostname", self.hostname)

    def _default_port(self) -> int:
        if self.use_tls:
            return SMTP_TLS_PORT
        if self._start_tls_on_connect:
            return SMTP_STARTTLS_PORT
        return SMTP_PORT

    def _apply_tls(self) -> None:
        """The TLS configuration from validate_certs, cert_bundle, client_cert/key, tls_context
        (one TLSConfig per set of settings, reused across connections)."""
        key = (id(self.tls_context), self.tls_context, bool(self.validate_certs), self.cert_bundle,
               self.client_cert, self.client_key)
        p = self._c.ptr
        if key != self._tls_key:
            skip = not self.validate_certs
            cfg: Optional[TLSConfig] = None
            if self.tls_context is not None:
                cfg, skip_ctx = TLSConfig.from_context(self.tls_context)
                skip = skip or skip_ctx
            elif self.cert_bundle or self.client_cert:
                cfg = TLSConfig(cafile=self.cert_bundle, certfile=self.client_cert, keyfile=self.client_key,
                                verify=bool(self.validate_certs), check_hostname=bool(self.validate_certs))
            if cfg is not None or self._tls_config is not None:
                _n.client_set_tls_config(p, cfg.ptr if cfg is not None else None)  # None: the defaults
            self._tls_config = cfg
            _n.client_set_tls_insecure_skip_verify_for_testing(p, 1 if skip else 0)
            self._tls_key = key
        if self.server_name:
            _n.client_set_tls_server_name(p, self.server_name)

    def _lock_for(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    # --- running operations -------------------------------------------------------------------------
    def _exc(self, e: BaseException, connecting: bool = False, **kw: Any) -> BaseException:
        if isinstance(e, NativeError) and e.args[1] == "SMTPC_ETIMEOUT":
            exc: BaseException = (SMTPConnectTimeoutError if connecting else SMTPReadTimeoutError)(e.args[2])
            exc.status = "SMTPC_ETIMEOUT"  # type: ignore[attr-defined]
            return exc
        return _with_reply(exception_from(e, self._c, **kw))

    async def _op(self, fn: Any, *args: Any, timeout: Any = _default, borrowed: Any = None,
                  stable: bool = True) -> None:
        """Run one library operation; a per-call timeout replaces the command timeout for it."""
        p = self._c.ptr
        if timeout is not _default:
            _n.client_set_command_timeout(p, _ms(timeout))
        try:
            await self._d.run(fn, *args, borrowed=borrowed, stable=stable)
        finally:
            if timeout is not _default and self._c._p is not None:
                _n.client_set_command_timeout(p, _ms(self.timeout))

    def _last(self) -> SMTPResponse:
        r = _response(_n.client_last_reply(self._c.ptr))
        return r if r is not None else SMTPResponse(-1, "")

    async def _command(self, fn: Any, *args: Any, timeout: Any = _default,
                       refused: Any = SMTPResponseException, **kw: Any) -> SMTPResponse:
        """A command whose 4xx/5xx reply raises `refused(code, bytes, *extra)`."""
        try:
            await self._op(fn, *args, timeout=timeout)
        except NativeError as e:
            if e.args[1] in ("SMTPC_EREPLY", "SMTPC_ECLOSING"):
                r = self._last()
                extra = kw.get("extra", ())
                raise _with_reply(refused(r.code, to_bytes(r.message), *extra)) from None
            raise self._exc(e) from None
        return self._last()

    # --- properties -----------------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self._c._p is not None and bool(_n.client_is_connected(self._c._p))

    @property
    def local_hostname(self) -> str:
        if self._local_hostname is not None:
            return self._local_hostname
        return _n.client_local_hostname(self._c.ptr)

    @property
    def last_ehlo_response(self) -> Optional[SMTPResponse]:
        return _response(_n.client_ehlo_reply(self._c.ptr))

    @property
    def last_helo_response(self) -> Optional[SMTPResponse]:
        return _response(_n.client_helo_reply(self._c.ptr))

    @property
    def is_ehlo_or_helo_needed(self) -> bool:
        p = self._c.ptr
        return _n.client_ehlo_reply(p) is None and _n.client_helo_reply(p) is None

    @property
    def supports_esmtp(self) -> bool:
        return bool(_n.client_does_esmtp(self._c.ptr))

    @property
    def esmtp_extensions(self) -> Dict[str, str]:
        """{extension (lower case): parameters} from the last EHLO, as aiosmtplib has them."""
        return {k: v.strip() for k, v in self._c.features().items()}

    @property
    def server_auth_methods(self) -> List[str]:
        params = _n.client_extn_params(self._c.ptr, "auth")
        return [m.lower() for m in params.split()] if params else []

    @property
    def supported_auth_methods(self) -> List[str]:
        offered = self.server_auth_methods
        return [m for m in self.AUTH_METHODS if m in offered]

    def supports_extension(self, extension: str) -> bool:
        return bool(_n.client_has_extn(self._c.ptr, extension))

    @property
    def tls_active(self) -> bool:
        return bool(_n.client_tls_active(self._c.ptr))

    def get_transport_info(self, key: str) -> Any:
        """``peername``, ``sockname``, ``cipher`` ((name, version, None)), ``sslcontext`` (the
        tls_context given, or True when TLS is active with the library's own, else None)."""
        p = self._c.ptr
        if not _n.client_is_connected(p):
            raise SMTPServerDisconnected("Server not connected")
        if key in ("peername", "sockname"):
            fd = _n.client_fd(p)
            s = socket.socket(fileno=os.dup(fd))
            try:
                return s.getpeername() if key == "peername" else s.getsockname()
            finally:
                s.close()
        tls = bool(_n.client_tls_active(p))
        if key == "cipher":
            return (_n.client_tls_cipher(p), _n.client_tls_version(p), None) if tls else None
        if key == "sslcontext":
            return (self.tls_context or True) if tls else None
        return None

    # --- connection ---------------------------------------------------------------------------------
    async def connect(self, hostname: Any = _default, port: Any = _default, username: Any = _default,
                      password: Any = _default, local_hostname: Any = _default, source_address: Any = _default,
                      timeout: Any = _default, use_tls: Optional[bool] = None, start_tls: Any = _default,
                      validate_certs: Optional[bool] = None, client_cert: Any = _default,
                      client_key: Any = _default, tls_context: Any = _default, cert_bundle: Any = _default,
                      socket_path: Any = _default, sock: Any = _default) -> SMTPResponse:
        """Connect, read the greeting, STARTTLS as ``start_tls`` says and log in when a username
        was given. Returns the greeting."""
        self._update_settings(hostname=hostname, port=port, username=username, password=password,
                              local_hostname=local_hostname, source_address=source_address, timeout=timeout,
                              use_tls=use_tls, start_tls=start_tls, validate_certs=validate_certs,
                              client_cert=client_cert, client_key=client_key, tls_context=tls_context,
                              cert_bundle=cert_bundle, socket_path=socket_path, sock=sock)
        self._validate_config()
        async with self._lock_for():
            return await self._connect()

    async def _connect(self) -> SMTPResponse:
        p = self._c.ptr
        if self.socket_path is not None:
            host, port_n = os.fsdecode(os.fspath(self.socket_path)), 0
        else:
            if self.hostname is None:
                raise ValueError("no hostname to connect to")
            if self.port is None:
                self.port = self._default_port()
            host, port_n = self.hostname, int(self.port)
        try:
            name = self._local_hostname if self._local_hostname is not None else _local_hostname_cache
            if name is not None:
                _n.client_set_local_hostname(p, name)
            _n.client_set_connect_timeout(p, _ms(self.timeout))
            _n.client_set_command_timeout(p, _ms(self.timeout))
            if self.source_address:
                _n.client_set_source_address(p, self.source_address[0] or None,
                                             int(self.source_address[1] or 0))
            _n.client_set_tls_policy(p, _n.SMTPC_TLS_IMPLICIT if self.use_tls else _n.SMTPC_TLS_NONE)
            self._apply_tls()
        except NativeError as e:
            raise self._exc(e) from None
        try:
            await self._op(_n.client_connect, host, port_n, stable=False)
        except NativeError as e:
            exc = self._exc(e, connecting=True)  # before close(), which clears the OS error
            self._close()
            raise exc from None
        except BaseException:
            self._close()
            raise
        greeting = self._last()
        if self._start_tls_on_connect is True:
            await self._starttls()
        elif self._start_tls_on_connect is None and not self.use_tls:
            await self._ehlo_or_helo_if_needed()
            if self.supports_extension("starttls"):
                await self._starttls()
        if self._login_username is not None:
            pw = self._login_password if self._login_password is not None else ""
            await self._login(self._login_username, pw)
        return greeting

    def _close(self) -> None:
        if self._c._p is not None:
            self._d.abandon()
            _n.client_close(self._c._p)

    def close(self) -> None:
        """Close the connection without QUIT. An operation in progress ends with
        SMTPServerDisconnected."""
        self._close()

    async def __aenter__(self) -> "SMTP":
        if not self.is_connected:
            await self.connect()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if isinstance(exc, (ConnectionError, TimeoutError, asyncio.CancelledError)) or not self.is_connected:
            self.close()
            return
        try:
            await self.quit()
        except (SMTPServerDisconnected, SMTPResponseException, SMTPTimeoutError):
            pass
        finally:
            self.close()

    # --- commands -------------------------------------------------------------------------------------
    async def execute_command(self, *args: Union[bytes, str], timeout: Any = _default) -> SMTPResponse:
        """Send one command line (``b"NOOP"``, or ``b"XCMD", b"arg"``) and return the reply,
        whatever its code. A 421 closes the connection."""
        if not args:
            raise ValueError("execute_command needs a command")
        parts = [a if isinstance(a, bytes) else str(a).encode("ascii") for a in args]
        async with self._lock_for():
            try:
                await self._op(_n.client_docmd, parts[0], b" ".join(parts[1:]) or None, timeout=timeout)
            except NativeError as e:
                if e.args[1] not in ("SMTPC_EREPLY", "SMTPC_ECLOSING"):
                    raise self._exc(e) from None
            return self._last()

    async def helo(self, hostname: Optional[str] = None, timeout: Any = _default) -> SMTPResponse:
        async with self._lock_for():
            try:
                return await self._command(_n.client_helo, hostname, timeout=timeout, refused=SMTPHeloError)
            finally:
                self._note_local_hostname()

    async def ehlo(self, hostname: Optional[str] = None, timeout: Any = _default) -> SMTPResponse:
        async with self._lock_for():
            try:
                return await self._command(_n.client_ehlo, hostname, timeout=timeout, refused=SMTPHeloError)
            finally:
                self._note_local_hostname()

    async def _ehlo_or_helo_if_needed(self) -> None:
        p = self._c.ptr
        if _n.client_does_esmtp(p) or _n.client_helo_reply(p) is not None:
            return  # answered on this connection (both are cleared when it closes)
        if not _n.client_is_connected(p):
            raise SMTPServerDisconnected("Server not connected")
        try:
            await self._op(_n.client_ehlo_or_helo_if_needed)
        except NativeError as e:
            raise self._exc(e) from None
        finally:
            self._note_local_hostname()

    def _note_local_hostname(self) -> None:
        global _local_hostname_cache
        if _local_hostname_cache is None and self._local_hostname is None and self._c._p is not None:
            _local_hostname_cache = _n.client_local_hostname(self._c._p) or None

    async def ehlo_or_helo_if_needed(self) -> None:
        async with self._lock_for():
            await self._ehlo_or_helo_if_needed()

    async def help(self, timeout: Any = _default) -> str:
        async with self._lock_for():
            await self._ehlo_or_helo_if_needed()
            return (await self._command(_n.client_help, None, timeout=timeout)).message

    async def rset(self, timeout: Any = _default) -> SMTPResponse:
        async with self._lock_for():
            await self._ehlo_or_helo_if_needed()
            return await self._command(_n.client_rset, timeout=timeout)

    async def noop(self, timeout: Any = _default) -> SMTPResponse:
        async with self._lock_for():
            await self._ehlo_or_helo_if_needed()
            return await self._command(_n.client_noop, timeout=timeout)

    async def vrfy(self, address: str, options: Optional[Iterable[str]] = None,
                   timeout: Any = _default) -> SMTPResponse:
        async with self._lock_for():
            await self._ehlo_or_helo_if_needed()
            what = " ".join([_parse_address(address), *(options or ())])
            return await self._command(_n.client_vrfy, what, timeout=timeout)

    async def expn(self, address: str, options: Optional[Iterable[str]] = None,
                   timeout: Any = _default) -> SMTPResponse:
        async with self._lock_for():
            await self._ehlo_or_helo_if_needed()
            what = " ".join([_parse_address(address), *(options or ())])
            return await self._command(_n.client_expn, what, timeout=timeout)

    async def quit(self, timeout: Any = _default) -> SMTPResponse:
        """QUIT, then close (whatever the reply)."""
        async with self._lock_for():
            return await self._quit(timeout)

    async def _quit(self, timeout: Any = _default) -> SMTPResponse:
        try:
            await self._ehlo_or_helo_if_needed()
            return await self._command(_n.client_quit, timeout=timeout)
        finally:
            self._close()

    async def mail(self, sender: str, options: Optional[Iterable[str]] = None, encoding: str = "ascii",
                   timeout: Any = _default) -> SMTPResponse:
        async with self._lock_for():
            await self._ehlo_or_helo_if_needed()
            return await self._command(_n.client_mail, _quote_address(sender), " ".join(options or ()) or None,
                                       timeout=timeout, refused=SMTPSenderRefused, extra=(sender,))

    async def rcpt(self, recipient: str, options: Optional[Iterable[str]] = None, encoding: str = "ascii",
                   timeout: Any = _default) -> SMTPResponse:
        async with self._lock_for():
            await self._ehlo_or_helo_if_needed()
            return await self._command(_n.client_rcpt, _quote_address(recipient),
                                       " ".join(options or ()) or None, timeout=timeout,
                                       refused=SMTPRecipientRefused, extra=(recipient,))

    async def data(self, message: Union[str, bytes], timeout: Any = _default) -> SMTPResponse:
        """DATA and the message (lone CR/LF made CRLF, dot-stuffed). Raises SMTPDataError."""
        if isinstance(message, str):
            message = message.encode("ascii")
        body = bytes(message)
        async with self._lock_for():
            await self._ehlo_or_helo_if_needed()
            try:
                await self._op(_n.client_data, body, timeout=timeout, borrowed=body)
            except NativeError as e:
                if e.args[1] in ("SMTPC_EREPLY", "SMTPC_ECLOSING", "SMTPC_EDATA_REFUSED"):
                    r = self._last()
                    raise _with_reply(SMTPDataError(r.code, to_bytes(r.message))) from None
                raise self._exc(e) from None
            return self._last()

    # --- TLS and AUTH ----------------------------------------------------------------------------------
    async def starttls(self, server_hostname: Optional[str] = None, validate_certs: Optional[bool] = None,
                       client_cert: Any = _default, client_key: Any = _default, cert_bundle: Any = _default,
                       tls_context: Any = _default, timeout: Any = _default) -> SMTPResponse:
        """STARTTLS and the handshake (in steps, on the loop). The server's certificate is verified
        unless validate_certs is False. Returns the reply to STARTTLS."""
        self._update_settings(validate_certs=validate_certs, client_cert=client_cert, client_key=client_key,
                              cert_bundle=cert_bundle, tls_context=tls_context, timeout=timeout)
        self._validate_config()
        async with self._lock_for():
            return await self._starttls(server_hostname)

    async def _starttls(self, server_hostname: Optional[str] = None) -> SMTPResponse:
        await self._ehlo_or_helo_if_needed()
        try:
            self._apply_tls()
            if server_hostname:
                _n.client_set_tls_server_name(self._c.ptr, server_hostname)
        except NativeError as e:
            raise self._exc(e) from None
        if not self.supports_extension("starttls"):
            raise SMTPNotSupportedError("SMTP STARTTLS extension not supported by server.")
        try:
            await self._op(_n.client_starttls)
        except NativeError as e:
            if e.args[1] in ("SMTPC_EREPLY", "SMTPC_ECLOSING"):
                r = self._last()
                raise _with_reply(SMTPResponseException(r.code, to_bytes(r.message))) from None
            raise self._exc(e) from None
        return self._last()

    async def login(self, username: Union[str, bytes], password: Union[str, bytes],
                    timeout: Any = _default) -> SMTPResponse:
        """Authenticate with the strongest password mechanism both sides support (SCRAM-SHA-256,
        SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN). Raises SMTPAuthenticationError."""
        async with self._lock_for():
            return await self._login(username, password, timeout)

    async def _login(self, username: Any, password: Any, timeout: Any = _default) -> SMTPResponse:
        await self._ehlo_or_helo_if_needed()
        return await self._auth(_n.client_login, _text(username), _text(password), timeout=timeout)

    async def _auth(self, fn: Any, *args: Any, timeout: Any = _default) -> SMTPResponse:
        try:
            await self._op(fn, *args, timeout=timeout)
        except NativeError as e:
            raise self._exc(e) from None
        return self._last()

    async def _auth_mech(self, mech: str, username: Any, password: Any, timeout: Any) -> SMTPResponse:
        async with self._lock_for():
            await self._ehlo_or_helo_if_needed()
            return await self._auth(_n.client_auth_password, mech, _text(username), _text(password), 1,
                                    timeout=timeout)

    async def auth_plain(self, username: Any, password: Any, timeout: Any = _default) -> SMTPResponse:
        return await self._auth_mech("PLAIN", username, password, timeout)

    async def auth_login(self, username: Any, password: Any, timeout: Any = _default) -> SMTPResponse:
        return await self._auth_mech("LOGIN", username, password, timeout)

    async def auth_crammd5(self, username: Any, password: Any, timeout: Any = _default) -> SMTPResponse:
        return await self._auth_mech("CRAM-MD5", username, password, timeout)

    # --- sending mail --------------------------------------------------------------------------------------
    async def sendmail(self, sender: str, recipients: Union[str, Sequence[str]], message: Union[str, bytes],
                       mail_options: Optional[Iterable[str]] = None, rcpt_options: Optional[Iterable[str]] = None,
                       timeout: Any = _default) -> Tuple[Dict[str, SMTPResponse], str]:
        """One mail transaction (EHLO when needed, MAIL, RCPT for each recipient, DATA, pipelined
        when the server offers PIPELINING). Returns ({refused recipient: SMTPResponse}, the text of
        the reply to the message). Raises SMTPSenderRefused, SMTPRecipientsRefused (every
        recipient refused), SMTPDataError; RSET follows a refusal. Addresses and options are checked
        before anything is sent (CR/LF: ValueError)."""
        env, body, recipients = self._envelope(sender, recipients, message, mail_options, rcpt_options)
        async with self._lock_for():
            return await self._sendmail(env, body, sender, recipients, timeout)

    async def _sendmail(self, env: Envelope, body: bytes, sender: str, recipients: List[str],
                        timeout: Any) -> Tuple[Dict[str, SMTPResponse], str]:
        await self._ehlo_or_helo_if_needed()
        try:
            await self._op(_n.client_sendmail, env.ptr, body, timeout=timeout, borrowed=(env, body))
        except NativeError as e:
            raise self._send_failed(e, sender, recipients) from None
        return self._refused(recipients), self._last().message

    @staticmethod
    def _envelope(sender: str, recipients: Union[str, Sequence[str]], message: Union[str, bytes],
                  mail_options: Optional[Iterable[str]], rcpt_options: Optional[Iterable[str]]) -> Any:
        """(envelope, body, recipients as a list), checked before anything is sent."""
        if isinstance(recipients, str):
            recipients = [recipients]
        recipients = list(recipients)
        if isinstance(message, str):
            message = message.encode("ascii")
        elif not isinstance(message, (bytes, bytearray, memoryview)):
            raise TypeError(f"message must be str or bytes, not {type(message).__name__}")
        body = message if type(message) is bytes else bytes(message)
        if not recipients:
            raise SMTPRecipientsRefused({})
        try:
            env = Envelope(_quote_address(sender), [_quote_address(r) for r in recipients],
                           list(mail_options or ()), list(rcpt_options or ()))
        except NativeError as e:
            raise exception_from(e) from None
        return env, body, recipients

    def _refused(self, recipients: List[str]) -> Dict[str, SMTPResponse]:
        res = _n.client_last_result(self._c.ptr)
        out: Dict[str, SMTPResponse] = {}
        if res is None:
            return out
        for i in range(_n.result_count(res)):
            st = _n.result_state(res, i)
            key = recipients[i] if i < len(recipients) else _n.result_recipient(res, i)
            if st == _n.SMTPC_RCPT_REFUSED:
                out[key] = _response(_n.result_rcpt_reply(res, i)) or SMTPResponse(-1, "")
            elif st == _n.SMTPC_RCPT_FAILED and _n.client_protocol(self._c.ptr) == _n.SMTPC_PROTOCOL_LMTP:
                r = _response(_n.result_data_reply(res, i))
                if r is not None:
                    out[key] = r
        return out

    def _send_failed(self, e: BaseException, sender: str, recipients: List[str]) -> BaseException:
        name = e.args[1]
        p = self._c.ptr
        res = _n.client_last_result(p)
        mail = _response(_n.result_mail_reply(res)) if res is not None else None
        if name == "SMTPC_ESENDER_REFUSED" or (name == "SMTPC_ECLOSING" and mail is not None and mail.code == 421):
            r = mail or self._last()
            exc: BaseException = SMTPSenderRefused(r.code, to_bytes(r.message), sender)
        elif name == "SMTPC_ERECIPIENTS_REFUSED":
            exc = SMTPRecipientsRefused({k: (v.code, to_bytes(v.message)) for k, v in self._refused(recipients).items()})
        elif name in ("SMTPC_EDATA_REFUSED", "SMTPC_EREPLY", "SMTPC_ECLOSING"):
            r = self._last()
            if res is not None:
                for i in range(_n.result_count(res)):
                    dr = _response(_n.result_data_reply(res, i))
                    if dr is not None:
                        r = dr
                        break
            exc = SMTPDataError(r.code, to_bytes(r.message))
        else:
            return self._exc(e, sender=sender)
        exc.status = name  # type: ignore[attr-defined]
        return _with_reply(exc)

    async def send_message(self, message: email.message.Message, sender: Optional[str] = None,
                           recipients: Optional[Union[str, Sequence[str]]] = None,
                           mail_options: Optional[Iterable[str]] = None, rcpt_options: Optional[Iterable[str]] = None,
                           timeout: Any = _default) -> Tuple[Dict[str, SMTPResponse], str]:
        """Send an email.message.Message: sender and recipients from its headers when not given
        (Sender or From; To, Cc, Bcc; the Resent- block when there is one), Bcc not transmitted,
        SMTPUTF8 when an address is not ASCII, BODY=8BITMIME when the server offers it."""
        mail_options = list(mail_options or ())
        if sender is None:
            sender = _extract_sender(message)
        if sender is None:
            raise ValueError("No From header provided in message")
        if isinstance(recipients, str):
            recipients = [recipients]
        elif recipients is None:
            recipients = _extract_recipients(message)
        if not recipients:
            raise ValueError("No recipient headers provided in message")
        async with self._lock_for():
            return await self._send_message(message, sender, recipients, mail_options, rcpt_options, timeout)

    async def _send_message(self, message: email.message.Message, sender: str, recipients: List[str],
                            mail_options: List[str], rcpt_options: Optional[Iterable[str]],
                            timeout: Any) -> Tuple[Dict[str, SMTPResponse], str]:
        await self._ehlo_or_helo_if_needed()
        try:
            (sender + "".join(recipients)).encode("ascii")
            utf8 = False
        except UnicodeEncodeError:
            utf8 = True
        if utf8:
            if not self.supports_extension("smtputf8"):
                raise SMTPNotSupportedError("An address containing non-ASCII characters was provided, but "
                                            "SMTPUTF8 is not supported by this server")
            if "smtputf8" not in [o.lower() for o in mail_options]:
                mail_options.append("SMTPUTF8")
        if self.supports_extension("8bitmime"):
            if "body=8bitmime" not in [o.lower() for o in mail_options]:
                mail_options.append("BODY=8BITMIME")
            cte = "8bit"
        else:
            cte = "7bit"
        flat = _flatten(message, utf8, cte)
        env, body, recipients = self._envelope(sender, recipients, flat, mail_options, rcpt_options)
        return await self._sendmail(env, body, sender, recipients, timeout)

    def __del__(self) -> None:
        d = getattr(self, "_d", None)
        if d is not None:
            try:
                d.release()
            except Exception:  # noqa: BLE001 - no loop any more (interpreter shutdown)
                pass


def _text(value: Union[str, bytes]) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


async def send(message: Union[email.message.Message, str, bytes], sender: Optional[str] = None,
               recipients: Optional[Union[str, Sequence[str]]] = None,
               mail_options: Optional[Sequence[str]] = None, rcpt_options: Optional[Sequence[str]] = None,
               hostname: Optional[str] = "localhost", port: Optional[int] = None,
               username: Optional[Union[str, bytes]] = None, password: Optional[Union[str, bytes]] = None,
               local_hostname: Optional[str] = None, source_address: Optional[Tuple[str, int]] = None,
               timeout: Optional[float] = DEFAULT_TIMEOUT, use_tls: bool = False, start_tls: Optional[bool] = None,
               validate_certs: bool = True, client_cert: Optional[str] = None, client_key: Optional[str] = None,
               tls_context: Optional[ssl.SSLContext] = None, cert_bundle: Optional[str] = None,
               socket_path: Any = None, sock: Optional[socket.socket] = None,
               **smtpc_options: Any) -> Tuple[Dict[str, SMTPResponse], str]:
    """Send one message over a connection of its own (connect, STARTTLS as ``start_tls`` says, login
    when a username is given, the message, QUIT), as aiosmtplib.send. ``message``: an
    email.message.Message (envelope from its headers unless given), or str/bytes with ``sender``
    and ``recipients``. Returns ({refused recipient: SMTPResponse}, the reply text)."""
    is_msg = isinstance(message, email.message.Message)
    if not is_msg:
        if not isinstance(message, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"message must be an email.message.Message, str or bytes, not {type(message).__name__}")
        if not recipients:
            raise ValueError("Recipients must be provided with raw messages.")
        if not sender:
            raise ValueError("Sender must be provided with raw messages.")
    client = SMTP(hostname=hostname, port=port, local_hostname=local_hostname, source_address=source_address,
                  timeout=timeout, use_tls=use_tls, start_tls=start_tls, validate_certs=validate_certs,
                  client_cert=client_cert, client_key=client_key, tls_context=tls_context,
                  cert_bundle=cert_bundle, socket_path=socket_path, sock=sock, username=username,
                  password=password, **smtpc_options)
    if not is_msg:  # checked before connecting
        env, body, rcpts = client._envelope(sender, recipients, message, mail_options, rcpt_options)  # type: ignore[arg-type]
    # The object is this call's own: its methods' lock is not needed.
    try:
        await client._connect()
        try:
            if is_msg:
                result = await client.send_message(message, sender=sender, recipients=recipients,  # type: ignore[arg-type]
                                                   mail_options=mail_options, rcpt_options=rcpt_options)
            else:
                result = await client._sendmail(env, body, sender, rcpts, _default)  # type: ignore[arg-type]
        except (ConnectionError, TimeoutError, asyncio.CancelledError):
            raise
        except BaseException:
            if client.is_connected:  # as "async with" does: QUIT after a refusal
                try:
                    await client._quit()
                except (SMTPServerDisconnected, SMTPResponseException, SMTPTimeoutError):
                    pass
            raise
        try:
            await client._quit()
        except (SMTPServerDisconnected, SMTPResponseException, SMTPTimeoutError):
            pass
        return result
    finally:
        client.close()
