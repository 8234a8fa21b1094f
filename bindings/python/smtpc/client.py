# SPDX-License-Identifier: MIT
"""smtpc.Client: the modern API (keyword arguments, TLS policy, per-recipient results)."""
from __future__ import annotations

import collections
import email.generator
import email.message
import enum
import io
import os
import ssl
from typing import (Any, Callable, ContextManager, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple,
                    Union)

from . import smtpc_native as _n
from ._core import Envelope, NativeClient, NativeError, Reply, TLSConfig, exception_from, to_bytes
from .errors import SMTPException, SMTPResponseException, SMTPSenderRefused

__all__ = ["Client", "TLSPolicy", "RecipientState", "RecipientResult", "SendResult", "Reply",
           "TLSConfig", "TraceKind", "Recipient", "DeliverBy", "MessageState", "MessageResult"]


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


_NOTIFY = {"never": _n.SMTPC_DSN_NOTIFY_NEVER, "success": _n.SMTPC_DSN_NOTIFY_SUCCESS,
           "failure": _n.SMTPC_DSN_NOTIFY_FAILURE, "delay": _n.SMTPC_DSN_NOTIFY_DELAY}
_RET = {None: _n.SMTPC_DSN_RET_UNSET, "full": _n.SMTPC_DSN_RET_FULL, "hdrs": _n.SMTPC_DSN_RET_HDRS}
_BODY = {None: _n.SMTPC_BODY_AUTO, "7bit": _n.SMTPC_BODY_7BIT, "8bitmime": _n.SMTPC_BODY_8BITMIME,
         "binarymime": _n.SMTPC_BODY_BINARYMIME}


def _notify_flags(notify: Union[None, str, Iterable[str]]) -> int:
    """"never", "success,failure", or an iterable of those words, as smtpc_dsn_notify flags."""
    if notify is None:
        return 0
    words = notify.split(",") if isinstance(notify, str) else list(notify)
    flags = 0
    for w in words:
        flag = _NOTIFY.get(str(w).strip().lower())
        if flag is None:
            raise ValueError(f"DSN notify takes never, success, failure or delay, not {w!r}")
        flags |= flag
    if not flags:
        raise ValueError("DSN notify needs at least one of never, success, failure, delay")
    return flags


class Recipient:
    """A recipient with its DSN parameters (RFC 3461), for Client.send(recipients=[...]).

    ``notify``: "never", or any of "success", "failure", "delay" (a comma-separated string or an
    iterable); None takes send()'s ``notify``. ``orcpt``: the original recipient address sent as
    ORCPT (encoded as RFC 3461/6533 say); True (default) is the address itself when NOTIFY is sent,
    False or None for none."""

    __slots__ = ("address", "notify", "orcpt")

    def __init__(self, address: str, *, notify: Union[None, str, Iterable[str]] = None,
                 orcpt: Union[bool, None, str] = True) -> None:
        self.address = address
        self.notify = notify
        self.orcpt = orcpt

    def __repr__(self) -> str:
        return f"Recipient({self.address!r}, notify={self.notify!r}, orcpt={self.orcpt!r})"


class DeliverBy:
    """DELIVERBY (RFC 2852): deliver within ``seconds``, else return the message (``mode="R"``, the
    default) or send a delay notification (``mode="N"``); ``trace`` asks for a trace."""

    __slots__ = ("seconds", "mode", "trace")

    def __init__(self, seconds: int, mode: str = "R", trace: bool = False) -> None:
        if mode.upper() not in ("R", "N"):
            raise ValueError(f"DeliverBy mode is 'R' or 'N', not {mode!r}")
        self.seconds, self.mode, self.trace = int(seconds), mode.upper(), bool(trace)

    def __repr__(self) -> str:
        return f"DeliverBy({self.seconds}, {self.mode!r}, trace={self.trace})"


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
    def enhanced_parts(self) -> Optional[Tuple[int, int, int]]:
        """The enhanced status code (RFC 3463) as (class, subject, detail), or None."""
        e = self.enhanced
        return tuple(int(x) for x in e.split(".")) if e else None  # type: ignore[return-value]

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


class MessageState(enum.IntEnum):
    """What became of one message of Client.send_many() (smtpc_message_state)."""

    DELIVERED = _n.SMTPC_MESSAGE_DELIVERED
    """Accepted for every recipient."""
    PARTIAL = _n.SMTPC_MESSAGE_PARTIAL
    """Accepted for some recipients only: ``result.failed`` tells which were not."""
    REFUSED = _n.SMTPC_MESSAGE_REFUSED
    """Refused by the server (MAIL, every RCPT, DATA or the message): ``reply`` is the refusal."""
    NOT_SENT = _n.SMTPC_MESSAGE_NOT_SENT
    """Its end of data never went out (connection lost first, cancel, a refused check): nothing was
    delivered, it may be sent again."""
    UNKNOWN = _n.SMTPC_MESSAGE_UNKNOWN
    """Its end of data went out and the connection was lost before the reply: it may or may not have
    been delivered (resending risks a duplicate)."""


class MessageResult:
    """The outcome of one message of Client.send_many(), in the order the messages were given.

    ``item``: what the iterable gave (the message, or the tuple); ``message``: the message itself;
    ``state`` (a MessageState); ``status``: the status name send() would have failed with
    ("SMTPC_OK" on success); ``exception``: the exception send() would have raised for this message
    (None when it would have returned: DELIVERED and PARTIAL); ``errmsg``: why, as text ("" on
    success); ``reply``: the reply that decided the message (the refusal, or the reply to its end of
    data; None when none came); ``result``: the per-recipient SendResult (None when the message was
    refused before it reached the server)."""

    __slots__ = ("item", "message", "state", "status", "exception", "errmsg", "reply", "result")

    def __init__(self, item: Any, message: Any, state: MessageState, status: str,
                 exception: Optional[BaseException], errmsg: str, reply: Optional[Reply],
                 result: Optional[SendResult]) -> None:
        self.item = item
        self.message = message
        self.state = state
        self.status = status
        self.exception = exception
        self.errmsg = errmsg
        self.reply = reply
        self.result = result

    @property
    def ok(self) -> bool:
        """True when every recipient got the message (state DELIVERED)."""
        return self.state == MessageState.DELIVERED

    def raise_for_state(self) -> None:
        """Raise ``exception`` when there is one (what send() would have raised)."""
        if self.exception is not None:
            raise self.exception

    def __repr__(self) -> str:
        return (f"MessageResult({self.state.name}, status={self.status!r}, reply={self.reply!r}, "
                f"errmsg={self.errmsg!r})")


Message = Union[bytes, bytearray, memoryview, str, email.message.Message]


class Client:
    """An SMTP or LMTP client session.

    ``Client(host, port=0, *, lmtp=False, tls=TLSPolicy.AUTO, ...)`` connects at once when ``host``
    is given (else call connect()). It is a context manager: QUIT (or close on error) on exit.

    Keyword arguments: ``local_hostname``; ``timeout`` (seconds to connect and get the greeting,
    default 30) and ``command_timeout`` (seconds per command, default 300; None: no limit);
    ``source_address`` ((host, port)); ``tls`` (a TLSPolicy); ``tls_config`` (a TLSConfig) or
    ``ssl_context`` (an ssl.SSLContext, carried over as smtpc.smtplib does) and/or ``cafile``,
    ``capath``, ``certfile``, ``keyfile``, ``key_password``. TLS sessions resume between the
    clients of one TLS configuration: give them the same ``tls_config``, or the same
    ``ssl_context`` (one configuration is kept per context); ``cafile``... alone make a configuration
    per client. ``server_name`` (the name to verify
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
    def tls_resumed(self) -> bool:
        """True when the connection is encrypted and its TLS session was resumed from an earlier
        connection of the same TLS configuration (smtpc_client_tls_resumed()): no certificate was
        sent, and tls_verified is the one recorded when the session was made."""
        return bool(_n.client_tls_resumed(self._c.ptr))

    @property
    def tls_info(self) -> Dict[str, Any]:
        """version, cipher, peer_subject, peer_fingerprint (SHA-256 hex), verified, verify_result,
        resumed."""
        p = self._c.ptr
        return {"version": _n.client_tls_version(p), "cipher": _n.client_tls_cipher(p),
                "peer_subject": _n.client_tls_peer_subject(p),
                "peer_fingerprint": _n.client_tls_peer_fingerprint(p),
                "verified": bool(_n.client_tls_verified(p)),
                "verify_result": _n.client_tls_verify_result(p),
                "resumed": bool(_n.client_tls_resumed(p))}

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
        return self._call("auth", mechanism, 1 if initial_response_ok else 0, step)

    def send(self, message: Message, sender: Optional[str] = None,
             recipients: Union[None, str, Recipient, Iterable[Union[str, Recipient]]] = None, *,
             mail_options: Iterable[str] = (), rcpt_options: Iterable[str] = (),
             notify: Union[None, str, Iterable[str]] = None, ret: Optional[str] = None,
             envid: Optional[str] = None, dsn_optional: bool = False, requiretls: bool = False,
             priority: Optional[int] = None, deliver_by: Union[None, int, DeliverBy] = None,
             hold_for: Optional[int] = None, hold_until: Any = None, auth: Optional[str] = None,
             body: Optional[str] = None, smtputf8: Optional[bool] = None) -> SendResult:
        """Send one message and return its per-recipient result.

        When `sender` or `recipients` is None they are taken from the message's headers (Sender or
        From; To, Cc, Bcc; the Resent- block when there is one) and Bcc is not transmitted; the
        message may then be an email.message.Message (serialised with its policy, CRLF line ends)
        or the bytes of one. Raises SMTPSenderRefused, SMTPRecipientsRefused, SMTPDataError ...
        (each with ``.result``) when nothing was delivered; a partial success returns normally:
        check ``result.failed``.

        ESMTP extensions (docs/extensions.md), each checked before anything is sent and refused
        with SMTPNotSupportedError when the server does not offer it: ``notify`` (DSN NOTIFY for
        every recipient, with ORCPT; or per recipient with Recipient objects), ``ret`` ("full" or
        "hdrs"), ``envid``, ``dsn_optional`` (leave DSN out silently when not offered),
        ``requiretls`` (RFC 8689: verified TLS is then required), ``priority`` (MT-PRIORITY, -9..9),
        ``deliver_by`` (seconds, or a DeliverBy), ``hold_for`` (seconds) or ``hold_until`` (an RFC
        3339 string or an aware datetime), ``auth`` (AUTH= on MAIL; "" for <>), ``body`` ("7bit",
        "8bitmime", "binarymime"; default chosen from the message), ``smtputf8`` (True/False;
        default chosen from the addresses and headers). Raw options may be added too, but the same
        keyword twice raises ValueError."""
        if isinstance(recipients, (str, Recipient)):
            recipients = [recipients]
        data = _serialise(message)
        try:
            env = Envelope(sender, (), mail_options, rcpt_options)
            self._set_extensions(env, recipients, notify=notify, ret=ret, envid=envid,
                                 dsn_optional=dsn_optional, requiretls=requiretls, priority=priority,
                                 deliver_by=deliver_by, hold_for=hold_for, hold_until=hold_until,
                                 auth=auth, body=body, smtputf8=smtputf8)
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

    @staticmethod
    def _set_extensions(env: Envelope, recipients: Optional[Iterable[Union[str, Recipient]]], *,
                        notify: Any, ret: Optional[str], envid: Optional[str], dsn_optional: bool,
                        requiretls: bool, priority: Optional[int], deliver_by: Any, hold_for: Optional[int],
                        hold_until: Any, auth: Optional[str], body: Optional[str],
                        smtputf8: Optional[bool]) -> None:
        p = env.ptr
        default_notify = _notify_flags(notify)
        for r in recipients or ():
            if isinstance(r, Recipient):
                flags = _notify_flags(r.notify) if r.notify is not None else default_notify
                orcpt = r.orcpt
                address = r.address
            else:
                flags, orcpt, address = default_notify, True, r
            if orcpt is True:
                orcpt = address if flags else None
            elif orcpt is False:
                orcpt = None
            if flags or orcpt is not None:
                _n.envelope_add_recipient_dsn(p, address, flags, orcpt)
            else:
                _n.envelope_add_recipient(p, address)
        if ret is not None and ret.lower() not in _RET:
            raise ValueError(f"ret is 'full' or 'hdrs', not {ret!r}")
        if ret is not None or envid is not None:
            _n.envelope_set_dsn(p, _RET[ret.lower() if ret else None], envid)
        if dsn_optional:
            _n.envelope_set_dsn_optional(p, 1)
        if requiretls:
            _n.envelope_set_requiretls(p, 1)
        if priority is not None:
            _n.envelope_set_mt_priority(p, int(priority))
        if deliver_by is not None:
            d = deliver_by if isinstance(deliver_by, DeliverBy) else DeliverBy(int(deliver_by))
            mode = _n.SMTPC_DELIVERBY_NOTIFY if d.mode == "N" else _n.SMTPC_DELIVERBY_RETURN
            _n.envelope_set_deliver_by(p, d.seconds, mode, 1 if d.trace else 0)
        if hold_for is not None and hold_until is not None:
            raise ValueError("hold_for and hold_until are exclusive")
        if hold_for is not None:
            if int(hold_for) <= 0:
                raise ValueError("hold_for must be a positive number of seconds")
            _n.envelope_set_hold_for(p, int(hold_for))
        if hold_until is not None:
            if hasattr(hold_until, "isoformat"):
                if getattr(hold_until, "tzinfo", None) is None:
                    raise ValueError("hold_until needs an aware datetime (with a time zone)")
                hold_until = hold_until.isoformat(timespec="seconds")
            _n.envelope_set_hold_until(p, hold_until)
        if auth is not None:
            _n.envelope_set_auth(p, auth)
        if body is not None:
            if body.lower() not in _BODY:
                raise ValueError(f"body is '7bit', '8bitmime' or 'binarymime', not {body!r}")
            _n.envelope_set_body(p, _BODY[body.lower()])
        if smtputf8 is not None:
            _n.envelope_set_smtputf8(p, _n.SMTPC_SMTPUTF8_ON if smtputf8 else _n.SMTPC_SMTPUTF8_OFF)

    def send_many(self, messages: Iterable[Any], sender: Optional[str] = None,
                  recipients: Union[None, str, Recipient, Iterable[Union[str, Recipient]]] = None, *,
                  window: Optional[int] = None, window_bytes: Optional[int] = None,
                  mail_options: Iterable[str] = (), rcpt_options: Iterable[str] = (),
                  **extensions: Any) -> Iterator[MessageResult]:
        """Send many messages over this connection, pipelined across messages (RFC 2920 section 3.1;
        with CHUNKING a window of whole messages in flight), and yield one MessageResult per message,
        in the order given. A generator: nothing is sent until it is iterated, and `messages` is
        consumed lazily, at most ``window`` messages ahead of the results taken, so an endless
        iterable is sent in bounded memory.

        Each item of `messages` is a message (bytes, str or email.message.Message), sent with
        `sender` and `recipients`, or a tuple ``(message, sender, recipients)`` with its own envelope.
        When the sender or the recipients are None they are taken from the message's headers as
        send() does (Sender or From; To, Cc, Bcc; Bcc is then not transmitted).
        ``window``/``window_bytes``: messages and bytes of body in flight at most (defaults 32 and
        1 MiB). Options and ESMTP keyword arguments as send(), for every message.

        A refusal of one message does not disturb the next; nothing is raised for a message (see
        MessageResult.exception): the state tells what became of it. When the connection is lost the
        messages after it are NOT_SENT (or UNKNOWN when their end of data went out unanswered); the
        generator then stops taking messages from the iterable after yielding the result of the
        first one that found the connection gone. Errors of the session itself (not connected,
        EHLO, the TLS policy, a re-entry from a callback) raise as send() does. Breaking out of the
        loop finishes the messages already queued (their results are dropped) and sends no more."""
        if window is not None or window_bytes is not None:
            self._call("set_window", int(window if window is not None else 32),
                       int(window_bytes if window_bytes is not None else 1 << 20))
        limit = int(window) if window is not None else 32
        if isinstance(recipients, (str, Recipient)):
            recipients = [recipients]
        mail_options, rcpt_options = tuple(mail_options), tuple(rcpt_options)
        envelopes: Dict[Any, Any] = {}  # (sender, recipients) -> Envelope, reused across messages

        def envelope(s: Optional[str], r: Any) -> Any:
            key = (s, None if r is None else tuple(r))
            env = envelopes.get(key)
            if env is None:
                if len(envelopes) > 64:
                    envelopes.clear()
                env = Envelope(s, (), mail_options, rcpt_options)
                self._set_extensions(env, r, **_extension_args(extensions))
                envelopes[key] = env
            return env

        # Queued messages in order: (tag, item, message, body, sender). The library borrows each
        # body until its result is taken, so the bytes object is held here until then.
        queued: "collections.deque[Tuple[int, Any, Any, bytes, Optional[str]]]" = collections.deque()
        msg = _n.message_new()
        tag = 0
        try:
            for item in messages:
                try:
                    if isinstance(item, tuple):
                        if len(item) != 3:
                            raise ValueError("a send_many() item is a message or (message, sender, recipients)")
                        message, s, r = item
                        if isinstance(r, (str, Recipient)):
                            r = [r]
                        elif r is not None:
                            r = list(r)
                    else:
                        message, s, r = item, sender, recipients
                    if not isinstance(message, (bytes, bytearray, memoryview, str, email.message.Message)):
                        raise TypeError(f"a message is bytes, str or an email.message.Message, not "
                                        f"{type(message).__name__}")
                    body = _serialise(message)
                    env = envelope(s, r)
                    _n.message_set_envelope(msg, env.ptr)
                    _n.message_set_body(msg, body)
                    _n.message_set_envelope_from_headers(msg, 1 if (s is None or r is None) else 0)
                    tag += 1
                    _n.message_set_tag(msg, tag)
                except Exception as e:  # a bad item: the results of those before it come first
                    yield from self._take(queued, 0)
                    raise (self._exc(e) if isinstance(e, NativeError) else e) from None
                try:
                    self._c.enqueue(msg)
                except NativeError as e:
                    name = e.args[1]
                    if name in ("SMTPC_EINVAL", "SMTPC_ENOTSUPPORTED"):
                        # This message only: it was checked and refused before anything was sent.
                        yield from self._take(queued, 0)
                        exc = self._exc(e)
                        yield MessageResult(item, message, MessageState.NOT_SENT, name, exc,
                                            str(e.args[2]), None, None)
                        continue
                    if name in ("SMTPC_ENOTCONN", "SMTPC_ECANCELLED") and tag > 1:
                        # The connection went away: report the queued ones, then this one.
                        yield from self._take(queued, 0)
                        yield MessageResult(item, message, MessageState.NOT_SENT, name, self._exc(e),
                                            str(e.args[2]), None, None)
                        return
                    raise self._exc(e) from None
                queued.append((tag, item, message, body, s))
                if len(queued) >= limit:
                    yield from self._take(queued, limit - 1)
            yield from self._take(queued, 0)
        finally:
            if queued:  # the caller stopped early: finish what the library still borrows
                try:
                    while queued:
                        res = self._c.next_result()
                        if res is None:
                            break
                        _n.message_result_free(res)
                        queued.popleft()
                except (NativeError, ValueError):  # the connection or the handle is already gone
                    pass
                if queued and self._c._p is not None:
                    self._c.close()  # the bodies must not be read after they are released
                queued.clear()
            _n.message_free(msg)

    def _take(self, queued: Any, keep: int) -> Iterator[MessageResult]:
        """Yield the results of the oldest queued messages until `keep` are left."""
        while len(queued) > keep:
            try:
                res = self._c.next_result()
            except NativeError as e:
                raise self._exc(e) from None
            if res is None:  # cannot happen while messages are queued
                raise SMTPException("send_many: the library has no result for a queued message")
            try:
                tag, item, message, _body, sender = queued.popleft()
                yield self._message_result(res, item, message, sender)
            finally:
                _n.message_result_free(res)

    def _message_result(self, res: Any, item: Any, message: Any, sender: Optional[str]) -> MessageResult:
        state = MessageState(_n.message_result_state(res))
        code = _n.message_result_status(res)
        name = _n.status_name(code)
        errmsg = _n.message_result_errmsg(res)
        reply = Reply.from_native(_n.message_result_reply(res))
        result = SendResult.from_native(_n.message_result_recipients(res))
        exc: Optional[BaseException] = None
        if state not in (MessageState.DELIVERED, MessageState.PARTIAL) and code != 0:
            refused = ({r.recipient: (r.code or -1, to_bytes(r.text)) for r in result
                        if r.state == RecipientState.REFUSED} if result is not None else {})
            exc = exception_from(NativeError(code, name, errmsg or _n.strerror(code)), None,
                                 sender=sender, refused=refused)
            if isinstance(exc, SMTPResponseException) and reply is not None:
                exc.smtp_code, exc.smtp_error = reply.code, reply.message
                exc.args = ((reply.code, reply.message, sender) if isinstance(exc, SMTPSenderRefused)
                            else (reply.code, reply.message))
            try:
                exc.result = result  # type: ignore[attr-defined]
            except AttributeError:
                pass
        return MessageResult(item, message, state, name, exc, errmsg, reply, result)

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
            str(message).encode("ascii")
        except UnicodeEncodeError:
            policy = policy.clone(utf8=True)
        with io.BytesIO() as buf:
            email.generator.BytesGenerator(buf, policy=policy).flatten(message, linesep="\r\n")
            return buf.getvalue()
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    # bytes(42) would be 42 NUL bytes: refuse anything that is not a message.
    raise TypeError(f"a message must be bytes, str or email.message.Message, not {type(message).__name__}")


# send()'s ESMTP keyword arguments and their defaults, for send_many(**extensions).
_EXTENSION_DEFAULTS: Dict[str, Any] = {
    "notify": None, "ret": None, "envid": None, "dsn_optional": False, "requiretls": False, "priority": None,
    "deliver_by": None, "hold_for": None, "hold_until": None, "auth": None, "body": None, "smtputf8": None}


def _extension_args(kw: Dict[str, Any]) -> Dict[str, Any]:
    unknown = sorted(set(kw) - set(_EXTENSION_DEFAULTS))
    if unknown:
        raise TypeError(f"send_many() got unexpected keyword argument(s) {', '.join(unknown)}")
    return {**_EXTENSION_DEFAULTS, **kw}


def _ms(seconds: Optional[float]) -> int:
    if seconds is None:
        return 0
    if seconds <= 0:
        raise ValueError("timeout must be positive or None")
    return max(1, int(round(seconds * 1000)))
