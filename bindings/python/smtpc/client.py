# SPDX-License-Identifier: MIT
"""smtpc.Client: the modern API (keyword arguments, TLS policy, per-recipient results)."""
from __future__ import annotations

import email.generator
import email.message
import enum
import io
import os
import ssl
from typing import Any, Callable, ContextManager, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import smtpc_native as _n
from ._core import Envelope, NativeClient, NativeError, Reply, TLSConfig, exception_from, to_bytes
from .errors import SMTPException

__all__ = ["Client", "TLSPolicy", "RecipientState", "RecipientResult", "SendResult", "Reply",
           "TLSConfig", "TraceKind"]


class TLSPolicy(enum.IntEnum):
    """When the client uses TLS (smtpc_tls_policy)."""

    AUTO = _n.SMTPC_TLS_AUTO
    """Default, by the kind of peer (the connected socket, not the host name): a Unix socket, no
    TLS; a loopback address, OPPORTUNISTIC (STARTTLS when offered, the certificate verified and
    the result recorded but not enforced); any other peer, REQUIRED with verification. Port 465:
    implicit TLS (verification enforced except on loopback)."""
    NONE = _n.SMTPC_TLS_NONE
    """No TLS unless starttls() is called (smtplib's behaviour)."""
    OPPORTUNISTIC = _n.SMTPC_TLS_OPPORTUNISTIC
    """STARTTLS when offered, plaintext otherwise."""
    REQUIRED = _n.SMTPC_TLS_REQUIRED
    """STARTTLS or fail before anything but EHLO is sent."""
    IMPLICIT = _n.SMTPC_TLS_IMPLICIT
    """TLS from the first byte (SMTPS)."""


class RecipientState(enum.IntEnum):
    """What became of one recipient (smtpc_rcpt_state)."""

    NOT_ATTEMPTED = _n.SMTPC_RCPT_NOT_ATTEMPTED
    REFUSED = _n.SMTPC_RCPT_REFUSED
    ACCEPTED = _n.SMTPC_RCPT_ACCEPTED
    DELIVERED = _n.SMTPC_RCPT_DELIVERED
    FAILED = _n.SMTPC_RCPT_FAILED
    UNKNOWN = _n.SMTPC_RCPT_UNKNOWN


class TraceKind(enum.IntEnum):
    SEND = _n.SMTPC_TRACE_SEND
    RECV = _n.SMTPC_TRACE_RECV
    DATA = _n.SMTPC_TRACE_DATA
    INFO = _n.SMTPC_TRACE_INFO


class RecipientResult:
    """The outcome for one recipient: ``state``, and the reply that decided it (``reply``, with
    ``code``, ``enhanced`` and ``text`` as shortcuts; None when there was none)."""

    __slots__ = ("recipient", "state", "rcpt_reply", "data_reply")

    def __init__(self, recipient: str, state: RecipientState, rcpt_reply: Optional[Reply],
                 data_reply: Optional[Reply]) -> None:
        self.recipient = recipient
        self.state = state
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply

    @property
    def reply(self) -> Optional[Reply]:
        if self.state in (RecipientState.REFUSED, RecipientState.ACCEPTED, RecipientState.NOT_ATTEMPTED):
            return self.rcpt_reply
        return self.data_reply or self.rcpt_reply

    @property
    def code(self) -> Optional[int]:
        r = self.reply
        return r.code if r is not None else None

    @property
    def enhanced(self) -> str:
        r = self.reply
        return r.enhanced if r is not None else ""

    @property
    def text(self) -> str:
        r = self.reply
        return r.text if r is not None else ""

    @property
    def delivered(self) -> bool:
        return self.state == RecipientState.DELIVERED

    def __repr__(self) -> str:
        return (f"RecipientResult({self.recipient!r}, {self.state.name}, code={self.code}, "
                f"enhanced={self.enhanced!r}, text={self.text!r})")


class SendResult(Sequence[RecipientResult]):
    """The per-recipient outcome of a transaction; a sequence of RecipientResult in envelope order."""

    def __init__(self, mail_reply: Optional[Reply], recipients: List[RecipientResult]) -> None:
        self.mail_reply = mail_reply
        self._recipients = recipients

    @classmethod
    def from_native(cls, res: Any) -> Optional["SendResult"]:
        if res is None:
            return None
        rcpts = []
        for i in range(_n.result_count(res)):
            rcpts.append(RecipientResult(_n.result_recipient(res, i), RecipientState(_n.result_state(res, i)),
                                         Reply.from_native(_n.result_rcpt_reply(res, i)),
                                         Reply.from_native(_n.result_data_reply(res, i))))
        return cls(Reply.from_native(_n.result_mail_reply(res)), rcpts)

    def __getitem__(self, i: Any) -> Any:
        return self._recipients[i]

    def __len__(self) -> int:
        return len(self._recipients)

    @property
    def delivered(self) -> List[str]:
        return [r.recipient for r in self._recipients if r.state == RecipientState.DELIVERED]

    @property
    def failed(self) -> Dict[str, RecipientResult]:
        """Every recipient not delivered, with its result."""
        return {r.recipient: r for r in self._recipients if r.state != RecipientState.DELIVERED}

    @property
    def ok(self) -> bool:
        """True when every recipient was delivered."""
        return bool(self._recipients) and all(r.delivered for r in self._recipients)

    def __repr__(self) -> str:
        return f"SendResult({self._recipients!r})"


Message = Union[bytes, bytearray, memoryview, str, email.message.Message]


class Client:
    """An SMTP or LMTP client session.

    ``Client(host, port=0, *, lmtp=False, tls=TLSPolicy.AUTO, ...)`` connects at once when ``host``
    is given (else call connect()). It is a context manager: QUIT (or close on error) on exit.

    Keyword arguments: ``local_hostname``; ``timeout`` (seconds to connect and get the greeting,
    default 30) and ``command_timeout`` (seconds per command, default 300; None: no limit);
    ``source_address`` ((host, port)); ``tls`` (a TLSPolicy); ``tls_config`` (a TLSConfig) or
    ``ssl_context`` (an ssl.SSLContext, carried over as smtpc.smtplib does) and/or ``cafile``,
    ``capath``, ``certfile``, ``keyfile``, ``key_password``; ``server_name`` (the name to verify
    the certificate against, when connecting to an address or a Unix socket);
    ``allow_insecure_auth``; ``pipelining`` (default True); ``chunking`` (BDAT when the server
    offers CHUNKING, default True); ``trace`` (a callable
    ``trace(kind: TraceKind, data: bytes, time_us: int)``) and ``trace_level`` (1 or 2);
    ``progress`` (see set_progress()).

    Callbacks run in the thread of the call, with the GIL held. From a callback, the methods that
    talk to the server or change an option raise SMTPReentryError (nothing is sent; the running
    call goes on); the properties, close() (done when the running call returns) and cancel() work.
    """

    def __init__(self, host: Optional[str] = None, port: int = 0, *, lmtp: bool = False,
                 local_hostname: Optional[str] = None, timeout: Optional[float] = 30.0,
                 command_timeout: Optional[float] = 300.0, source_address: Optional[Tuple[str, int]] = None,
                 tls: TLSPolicy = TLSPolicy.AUTO, tls_config: Optional[TLSConfig] = None,
                 ssl_context: Optional[ssl.SSLContext] = None, cafile: Optional[str] = None,
                 capath: Optional[str] = None, certfile: Optional[str] = None, keyfile: Optional[str] = None,
                 key_password: Any = None, server_name: Optional[str] = None,
                 allow_insecure_auth: bool = False, pipelining: bool = True, chunking: bool = True,
                 trace: Optional[Callable[[TraceKind, bytes, int], None]] = None, trace_level: int = 1,
                 progress: Optional[Callable[[int, int], Any]] = None) -> None:
        self._c = NativeClient(_n.SMTPC_PROTOCOL_LMTP if lmtp else _n.SMTPC_PROTOCOL_SMTP)
        self._tls_config: Optional[TLSConfig] = None
        try:
            c = self._c
            if local_hostname is not None:
                c.set_local_hostname(local_hostname)
            c.set_connect_timeout(_ms(timeout))
            c.set_command_timeout(_ms(command_timeout))
            if source_address:
                c.set_source_address(source_address[0] or None, int(source_address[1] or 0))
            c.set_tls_policy(int(tls))
            skip = False
            if tls_config is None and (ssl_context is not None or cafile or capath or certfile):
                tls_config, skip = TLSConfig.from_context(ssl_context, cafile=cafile, capath=capath,
                                                          certfile=certfile, keyfile=keyfile,
                                                          key_password=key_password)
            if tls_config is not None:
                self._tls_config = tls_config
                c.set_tls_config(tls_config.ptr)
            if skip:
                c.set_tls_insecure_skip_verify_for_testing(1)
            if server_name:
                c.set_tls_server_name(server_name)
            if allow_insecure_auth:
                c.set_allow_insecure_auth(1)
            c.set_pipelining(1 if pipelining else 0)
            if hasattr(_n, "client_set_chunking"):  # a library without it never uses BDAT
                c.set_chunking(1 if chunking else 0)
            if trace is not None:
                def _trace(kind: int, data: bytes, time_us: int) -> None:
                    trace(TraceKind(kind), data, time_us)
                c.set_trace(max(1, min(2, trace_level)), _trace)
            if progress is not None:
                c.set_progress(progress)
        except NativeError as e:
            raise self._exc(e) from None
        if host:
            self.connect(host, port)

    # --- helpers -----------------------------------------------------------------------------------
    def _exc(self, e: BaseException, **kw: Any) -> BaseException:
        exc = exception_from(e, self._c, **kw)
        if isinstance(exc, SMTPException) or hasattr(exc, "status"):
            try:
                exc.result = self.last_result  # type: ignore[attr-defined]
            except AttributeError:
                pass
        return exc

    def _call(self, name: str, *args: Any) -> Reply:
        try:
            getattr(self._c, name)(*args)
        except NativeError as e:
            raise self._exc(e) from None
        return self.last_reply  # type: ignore[return-value]

    # --- properties --------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return bool(_n.client_is_connected(self._c.ptr))

    @property
    def last_reply(self) -> Optional[Reply]:
        return Reply.from_native(_n.client_last_reply(self._c.ptr))

    @property
    def last_result(self) -> Optional[SendResult]:
        return SendResult.from_native(_n.client_last_result(self._c.ptr))

    @property
    def features(self) -> Dict[str, str]:
        """The EHLO feature map (keywords in lower case, as smtplib's esmtp_features)."""
        return self._c.features()

    @property
    def esmtp(self) -> bool:
        return bool(_n.client_does_esmtp(self._c.ptr))

    def has_extn(self, name: str) -> bool:
        return bool(_n.client_has_extn(self._c.ptr, name))

    @property
    def local_hostname(self) -> str:
        return _n.client_local_hostname(self._c.ptr)

    @property
    def tls_active(self) -> bool:
        return bool(_n.client_tls_active(self._c.ptr))

    @property
    def tls_verified(self) -> bool:
        return bool(_n.client_tls_verified(self._c.ptr))

    @property
    def tls_info(self) -> Dict[str, Any]:
        """version, cipher, peer_subject, peer_fingerprint (SHA-256 hex), verified, verify_result."""
        p = self._c.ptr
        return {"version": _n.client_tls_version(p), "cipher": _n.client_tls_cipher(p),
                "peer_subject": _n.client_tls_peer_subject(p),
                "peer_fingerprint": _n.client_tls_peer_fingerprint(p),
                "verified": bool(_n.client_tls_verified(p)),
                "verify_result": _n.client_tls_verify_result(p)}

    @property
    def auth_mechanism(self) -> str:
        return _n.client_auth_mechanism(self._c.ptr)

    # --- session -----------------------------------------------------------------------------------
    def connect(self, host: str, port: int = 0) -> Reply:
        """Connect and read the greeting. `host` may be a name, an address or a Unix socket path."""
        return self._call("connect", os.fspath(host), int(port))

    def ehlo(self, name: Optional[str] = None) -> Reply:
        return self._call("ehlo", name)

    def helo(self, name: Optional[str] = None) -> Reply:
        return self._call("helo", name)

    def ehlo_or_helo_if_needed(self) -> None:
        self._call("ehlo_or_helo_if_needed")

    def starttls(self) -> Reply:
        return self._call("starttls")

    def noop(self) -> Reply:
        return self._call("noop")

    def rset(self) -> Reply:
        return self._call("rset")

    def vrfy(self, what: str) -> Reply:
        return self._call("vrfy", what)

    def expn(self, what: str) -> Reply:
        return self._call("expn", what)

    def help(self, what: Optional[str] = None) -> Reply:
        return self._call("help", what)

    def docmd(self, cmd: str, args: Optional[str] = None) -> Reply:
        return self._call("docmd", cmd, args)

    def login(self, user: str, password: str, mechanism: Optional[str] = None, *,
              initial_response_ok: bool = True, authzid: Optional[str] = None) -> Reply:
        """Authenticate with the strongest password mechanism offered (SCRAM-SHA-256, SCRAM-SHA-1,
        CRAM-MD5, PLAIN, LOGIN), or the one named."""
        if authzid is not None:
            self._call("set_authzid", authzid)
        if mechanism is None:
            return self._call("login", user, password)
        return self._call("auth_password", mechanism, user, password, 1 if initial_response_ok else 0)

    def auth_oauth2(self, user: str, token: Union[None, str, bytes] = None,
                    token_source: Optional[Callable[[], Union[str, bytes]]] = None,
                    mechanism: str = "XOAUTH2") -> Reply:
        """OAuth 2.0 bearer token (XOAUTH2 or OAUTHBEARER): `token`, or `token_source()` called when
        the library needs it."""
        return self._call("auth_oauth2", mechanism, user, token, token_source)

    def auth(self, mechanism: str, step: Callable[[Optional[bytes], bool], Union[None, str, bytes]], *,
             initial_response_ok: bool = True) -> Reply:
        """A custom SASL mechanism: ``step(challenge, is_initial)`` returns the response (str/bytes,
        not base64) to each decoded challenge; with is_initial=True (challenge None) the initial
        response, or None for none. An exception in `step` cancels the exchange and is re-raised."""
        return self._call("auth", mechanism, step, 1 if initial_response_ok else 0)

    def send(self, message: Message, sender: Optional[str] = None,
             recipients: Union[None, str, Iterable[str]] = None, *, mail_options: Iterable[str] = (),
             rcpt_options: Iterable[str] = ()) -> SendResult:
        """Send one message and return its per-recipient result.

        When `sender` or `recipients` is None they are taken from the message's headers (Sender or
        From; To, Cc, Bcc; the Resent- block when there is one) and Bcc is not transmitted; the
        message may then be an email.message.Message (serialised with its policy, CRLF line ends)
        or the bytes of one. Raises SMTPSenderRefused, SMTPRecipientsRefused, SMTPDataError ...
        (each with ``.result``) when nothing was delivered; a partial success returns normally:
        check ``result.failed``."""
        if isinstance(recipients, str):
            recipients = [recipients]
        data = _serialise(message)
        try:
            env = Envelope(sender, recipients or (), mail_options, rcpt_options)
        except NativeError as e:
            raise self._exc(e) from None
        headers_needed = sender is None or recipients is None
        try:
            if headers_needed:
                self._c.send_message(env.ptr, data)
            else:
                self._c.sendmail(env.ptr, data)
        except NativeError as e:
            res = self.last_result
            refused = ({r.recipient: (r.code or -1, to_bytes(r.text)) for r in res if r.state ==
                        RecipientState.REFUSED} if res is not None else {})
            raise self._exc(e, sender=sender, refused=refused) from None
        result = self.last_result
        assert result is not None
        return result

    def quit(self) -> Reply:
        return self._call("quit")

    def set_progress(self, fn: Optional[Callable[[int, int], Any]]) -> None:
        """Call ``fn(sent, total)`` as a message body goes out (send): ``sent`` bytes of the message
        as given (before dot-stuffing) taken into the outgoing stream, rising, the last call with
        sent == total before the end of data; once per block, never per byte. A true result or an
        exception aborts the send before its end of data (the connection is closed, nothing is
        delivered): send() raises the callback's exception, or SMTPException with status
        "SMTPC_EUSER" for a true result. None removes the callback."""
        self._call("set_progress", fn)

    def cancel(self) -> None:
        """Stop the call running on this client, from another thread, a signal handler or a
        callback: it raises SMTPCancelledError promptly and the connection is closed. A message
        being sent is withdrawn when its end of data was not yet sent (result: ACCEPTED), else its
        fate is unknown (UNKNOWN). With no call running, the next call that would talk to the
        server raises SMTPCancelledError before it sends anything."""
        self._c.cancel()

    def cancel_on_signal(self, signum: int) -> ContextManager[None]:
        """A context manager: while in the block, the signal `signum` (e.g. signal.SIGALRM) cancels
        the call running on this client. Use it rather than calling cancel() from a Python signal
        handler: Python runs its handlers in the main thread between bytecodes, so not until the
        running call returns. A C handler calls cancel() at once, then the handler it replaced (the
        Python handler, if any, still runs when the call returns). Main thread only; one client per
        signal at a time; the previous handler is restored on exit."""
        return self._c.cancel_on_signal(signum)

    def close(self) -> None:
        if self._c._p is not None:
            self._c.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, exc_type: Any, *args: Any) -> None:
        try:
            if exc_type is None and self.connected:
                self.quit()
        finally:
            self.close()


def _serialise(message: Message) -> bytes:
    if isinstance(message, email.message.Message):
        policy = message.policy
        try:
            b"".join([])
            str(message).encode("ascii")
        except UnicodeEncodeError:
            policy = policy.clone(utf8=True)
        with io.BytesIO() as buf:
            email.generator.BytesGenerator(buf, policy=policy).flatten(message, linesep="\r\n")
            return buf.getvalue()
    if isinstance(message, str):
        return message.encode("utf-8")
    return bytes(message)


def _ms(seconds: Optional[float]) -> int:
    if seconds is None:
        return 0
    if seconds <= 0:
        raise ValueError("timeout must be positive or None")
    return max(1, int(round(seconds * 1000)))
