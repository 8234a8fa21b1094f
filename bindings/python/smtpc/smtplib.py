# SPDX-License-Identifier: MIT
"""smtpc.smtplib: a drop-in replacement for Python's smtplib, on the smtpc C library.

    from smtpc import smtplib            # or: sys.modules["smtplib"] = smtpc.smtplib

The classes, methods, return values, attributes and exceptions are those of the standard module;
the protocol is spoken by the C library. Where the library is stricter for security (certificates
verified by default, CR/LF injection refused, no credentials over plaintext to a remote host) the
strictness is kept. docs/python.md lists every difference.
"""
from __future__ import annotations

import collections
import copy
import datetime
import email.generator
import email.message
import email.utils
import errno
import hmac
import io
import math
import re
import socket
import ssl
import sys
import weakref
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import smtpc_native as _n
from ._core import Envelope, NativeClient, NativeError, TLSConfig, exception_from, reply_tuple
from .errors import (  # the smtpc additions too: smtpc.smtplib.SMTPProtocolError...
    SMTPAuthenticationError, SMTPConnectError, SMTPDataError, SMTPDeliveryUnknown, SMTPException,
    SMTPHeloError, SMTPInsecureAuthError, SMTPNotSupportedError, SMTPProtocolError,
    SMTPRecipientsRefused, SMTPResponseException, SMTPSenderRefused, SMTPServerDisconnected,
    SMTPTLSRequiredError, SMTPCancelledError, SMTPStateError, SMTPReentryError,
)

__all__ = ["SMTPException", "SMTPNotSupportedError", "SMTPServerDisconnected", "SMTPResponseException",
           "SMTPSenderRefused", "SMTPRecipientsRefused", "SMTPDataError",
           "SMTPConnectError", "SMTPHeloError", "SMTPAuthenticationError",
           "quoteaddr", "quotedata", "SMTP", "SMTP_SSL"]

SMTP_PORT = 25
SMTP_SSL_PORT = 465
LMTP_PORT = 2003
CRLF = "\r\n"
bCRLF = b"\r\n"
_MAXLINE = 8192
_MAXCHALLENGE = 5

OLDSTYLE_AUTH = re.compile(r"auth=(.*)", re.I)

_Reply = Tuple[int, bytes]


def quoteaddr(addrstring: str) -> str:
    """Quote a subset of the email addresses defined by RFC 821."""
    displayname, addr = email.utils.parseaddr(addrstring)
    if (displayname, addr) == ("", ""):
        # parseaddr couldn't parse it, use it as is and hope for the best.
        if addrstring.strip().startswith("<"):
            return addrstring
        return "<%s>" % addrstring
    return "<%s>" % addr


def _addr_only(addrstring: str) -> str:
    displayname, addr = email.utils.parseaddr(addrstring)
    if (displayname, addr) == ("", ""):
        return addrstring
    return addr


def quotedata(data: str) -> str:
    """Quote data for email: double leading '.', and change Unix newlines to DOS newlines."""
    return re.sub(r"(?m)^\.", "..", re.sub(r"(?:\r\n|\n|\r(?!\n))", CRLF, data))


def _quote_periods(bindata: bytes) -> bytes:
    return re.sub(br"(?m)^\.", b"..", bindata)


def _fix_eols(data: str) -> str:
    return re.sub(r"(?:\r\n|\n|\r(?!\n))", CRLF, data)


def _check_newlines(s: str) -> None:
    if "\r" in s or "\n" in s:
        s = s.replace("\n", "\\n").replace("\r", "\\r")
        raise ValueError(f"command and arguments contain prohibited newline characters: {s}")


# The library's EPROTOCOL text for a reply line over its limit (src/proto/reply.cpp).
_LINE_TOO_LONG = "reply line longer than"


def _is_connect_failure(client: NativeClient) -> bool:
    """The last failure was the TCP connect itself (the library records the OS error there)."""
    return client._p is not None and _n.client_os_error(client.ptr) != 0 and \
        _n.client_errmsg(client.ptr).startswith("connect to ")


def _port_number(port: Any) -> int:
    """The port as socket.create_connection() takes it (smtplib passes it through): an int, or a
    str/bytes holding a number or a service name ("2525", "smtp"). What getaddrinfo() refuses
    raises what it raises (socket.gaierror; OSError for other types); an int outside 0-65535, which
    getaddrinfo() would silently wrap, raises socket.gaierror too."""
    if isinstance(port, bool):
        raise OSError("Int or String expected")  # getaddrinfo() refuses a bool
    if isinstance(port, int):
        number = port
    else:
        if isinstance(port, (bytes, bytearray)):
            text = bytes(port).decode("ascii", "replace")
        elif isinstance(port, str):
            text = port
        else:
            # Exactly what socket.getaddrinfo() raises for this type (smtplib's error).
            socket.getaddrinfo("127.0.0.1", port, socket.AF_INET, socket.SOCK_STREAM, 0,
                               socket.AI_NUMERICHOST)
            raise OSError("Int or String expected")
        if text.isdigit() and text.isascii():
            number = int(text)
        else:
            info = socket.getaddrinfo("127.0.0.1", port, socket.AF_INET, socket.SOCK_STREAM, 0,
                                      socket.AI_NUMERICHOST)
            number = info[0][4][1]
    if not 0 <= number <= 65535:
        raise socket.gaierror(socket.EAI_SERVICE, f"port {number} is out of range (0-65535)")
    if number == 0:
        # smtplib connects to port 0 ("0" is not replaced by the default port): always refused.
        raise ConnectionRefusedError(errno.ECONNREFUSED, "connect to port 0: Connection refused")
    return number


def _source_port(port: Any) -> int:
    """source_address's port, checked as socket.bind() checks it (smtplib binds with it)."""
    if port is None:
        return 0
    if not isinstance(port, int):
        raise TypeError(f"'{type(port).__name__}' object cannot be interpreted as an integer")
    if not 0 <= port <= 65535:
        raise OverflowError("bind(): port must be 0-65535.")
    return port


def _arg(value: Any) -> str:
    """A command argument as smtplib's putcmd() formats it (f"{cmd} {args}")."""
    return value if isinstance(value, str) else f"{value}"


def _str_items(items: Iterable[Any]) -> List[str]:
    """ESMTP options: str items, as smtplib's " ".join() wants them."""
    out = list(items)
    for i, x in enumerate(out):
        if not isinstance(x, str):
            raise TypeError(f"sequence item {i}: expected str instance, {type(x).__name__} found")
    return out


def _smtplib_reply(lines: List[bytes]) -> _Reply:
    """(code, msg) as smtplib's getreply() reads these reply lines: -1 at the first line without a
    numeric code (never 220: the library has closed the connection)."""
    resp = []
    code = -1
    for line in lines:
        resp.append(line[4:].strip(b" \t\r\n"))
        try:
            code = int(line[:3])
        except ValueError:
            code = -1
            break
        if line[3:4] != b"-":
            break
    return (code if code != 220 else -1, b"\n".join(resp))


class _SocketInfo:
    """What ``SMTP.sock`` holds while connected: the socket is owned by the C library, so this is a
    stand-in that is true while connected and offers the few socket methods smtplib code uses on it
    (settimeout/gettimeout apply to the library's timeouts, close closes the connection). No file
    descriptor or socket address is available from it."""

    def __init__(self, owner: "SMTP") -> None:
        self._owner = weakref.ref(owner)

    def settimeout(self, value: Optional[float]) -> None:
        owner = self._owner()
        if owner is not None:
            old, owner.timeout = owner.timeout, value
            try:
                owner._apply_timeout()
            except BaseException:
                owner.timeout = old
                raise

    def gettimeout(self) -> Optional[float]:
        owner = self._owner()
        return owner.timeout if owner is not None else None  # type: ignore[return-value]

    @property
    def session_reused(self) -> bool:
        """As ssl.SSLSocket.session_reused: the TLS session was resumed (False without TLS)."""
        owner = self._owner()
        return owner.tls_resumed if owner is not None else False

    def close(self) -> None:
        owner = self._owner()
        if owner is not None:
            owner.close()

    def __repr__(self) -> str:
        return "<smtpc connection>"


def _make_trace(owner: "SMTP") -> Callable[[int, bytes, int], None]:
    """The trace callback behind set_debuglevel(): the lines smtplib prints, in its format, from the
    library's trace of what was actually sent and received. A command line is shown as smtplib's
    putcmd() shows it (the str), or as bytes when send() was given bytes; the message is shown as
    one `send: b'...'` (dot-stuffed, with the final ".\r\n"), and the replies to DATA and to the
    message are followed by smtplib's `data: (code, msg)` line."""
    ref = weakref.ref(owner)  # the module keeps the trace function: no strong reference to owner
    state: Dict[str, Any] = {"lines": [], "sent": collections.deque(), "data": None}

    def flush_data(self: "SMTP", time_us: int) -> None:
        if state["data"] is not None:
            self._print_debug_at(time_us, "send:", repr(bytes(state["data"])))
            state["data"] = None

    def trace(kind: int, data: bytes, time_us: int) -> None:
        self = ref()
        if self is None:
            return
        if kind == _n.SMTPC_TRACE_INFO:
            if data.startswith(b"connecting"):
                state.update(lines=[], sent=collections.deque(), data=None)
            return
        if kind == _n.SMTPC_TRACE_DATA:
            buf = state["data"] if state["data"] is not None else bytearray()
            buf += data
            state["data"] = buf
            if buf == b".\r\n" or buf.endswith(b"\r\n.\r\n"):
                flush_data(self, time_us)
                state["sent"].append(b"<message>")
            return
        flush_data(self, time_us)  # a message cut short by a failure
        if kind == _n.SMTPC_TRACE_SEND:
            if self.__dict__.get("_send_as_bytes"):
                shown: Any = data
            else:
                try:
                    shown = data.decode("utf-8")
                except UnicodeDecodeError:
                    shown = data
            self._print_debug_at(time_us, "send:", repr(shown))
            for line in data.split(b"\r\n")[:-1] or [data]:
                state["sent"].append(line.split(b" ", 1)[0].upper())
        elif kind == _n.SMTPC_TRACE_RECV:
            self._print_debug_at(time_us, "reply:", repr(data))
            state["lines"].append(data[4:].strip(b" \t\r\n"))
            if data[3:4] != b"-":
                try:
                    code = int(data[:3])
                except ValueError:
                    code = -1
                msg = b"\n".join(state["lines"])
                state["lines"] = []
                self._print_debug_at(time_us, "reply: retcode (%s); Msg: %a" % (code, msg))
                answered = state["sent"].popleft() if state["sent"] else None
                if answered in (b"DATA", b"<message>"):
                    self._print_debug_at(time_us, "data:", (code, msg))
    return trace


class SMTP:
    """This class manages a connection to an SMTP or ESMTP server (see smtplib.SMTP).

    smtpc keyword arguments (keyword-only, not in smtplib): ``cafile``, ``capath`` (CA certificates
    to trust for STARTTLS/SMTP_SSL instead of the system store), ``certfile``, ``keyfile``,
    ``key_password`` (a client certificate), ``allow_insecure_auth`` (allow AUTH over a connection
    that is neither TLS-verified nor to this machine)."""

    sock: Optional[_SocketInfo] = None
    file = None
    helo_resp: Optional[bytes] = None
    ehlo_msg = "ehlo"
    ehlo_resp: Optional[bytes] = None
    does_esmtp = False
    default_port = SMTP_PORT
    _protocol = _n.SMTPC_PROTOCOL_SMTP
    _implicit_tls = False

    def __init__(self, host: str = "", port: int = 0, local_hostname: Optional[str] = None,
                 timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
                 source_address: Optional[Tuple[str, int]] = None, *,
                 cafile: Optional[str] = None, capath: Optional[str] = None,
                 certfile: Optional[str] = None, keyfile: Optional[str] = None,
                 key_password: Any = None, allow_insecure_auth: bool = False) -> None:
        self._host = host
        self.timeout = timeout
        self.esmtp_features: Dict[str, str] = {}
        self.command_encoding = "ascii"
        self.source_address = source_address
        self._auth_challenge_count = 0
        self.user: Optional[str] = None
        self.password: Optional[str] = None
        self._tls_native = {"cafile": cafile, "capath": capath, "certfile": certfile,
                            "keyfile": keyfile, "key_password": key_password}
        self._tls_native_config: Optional[Tuple[Any, TLSConfig]] = None
        if not hasattr(self, "context"):
            self.context: Optional[ssl.SSLContext] = None
        self._client = NativeClient(self._protocol)
        self._trace = _make_trace(self)
        self._debuglevel = 0
        if allow_insecure_auth:
            self._client.set_allow_insecure_auth(1)
        if hasattr(_n, "client_set_chunking"):
            # smtplib sends every message with DATA: so does the drop-in (smtpc.Client uses BDAT).
            self._client.set_chunking(0)
        if local_hostname is not None:
            self.local_hostname = local_hostname
        else:
            # RFC 2821 says we should use the fqdn in the EHLO/HELO verb, and if that can't be
            # calculated, that we should use a domain literal instead (essentially an encoded IP
            # address like [A.B.C.D]).
            fqdn = socket.getfqdn()
            if "." in fqdn:
                self.local_hostname = fqdn
            else:
                addr = "127.0.0.1"
                try:
                    addr = socket.gethostbyname(socket.gethostname())
                except socket.gaierror:
                    pass
                self.local_hostname = "[%s]" % addr
        if host:
            (code, msg) = self.connect(host, port)
            if code != 220:
                self.close()
                raise SMTPConnectError(code, msg)

    # --- context manager -------------------------------------------------------------------------
    def __enter__(self) -> "SMTP":
        return self

    def __exit__(self, *args: Any) -> None:
        try:
            code, message = self.docmd("QUIT")
            if code != 221:
                raise SMTPResponseException(code, message)
        except SMTPServerDisconnected:
            pass
        finally:
            self.close()

    # --- debugging ---------------------------------------------------------------------------------
    @property
    def debuglevel(self) -> int:
        return self.__dict__.get("_debuglevel", 0)

    @debuglevel.setter
    def debuglevel(self, level: int) -> None:
        self._debuglevel = level
        lvl = self._trace_level()
        client = self.__dict__.get("_client")
        if client is not None and client._p is not None:
            client.set_trace(lvl, self._trace if lvl else None)

    def _trace_level(self) -> int:
        """The library's trace level for debuglevel (smtplib: > 0 prints, > 1 adds the time)."""
        level = self.__dict__.get("_debuglevel", 0)
        return 0 if not level or level <= 0 else (1 if level == 1 else 2)

    def set_debuglevel(self, debuglevel: int) -> None:
        """Set the debug output level: 1 prints every line sent and received on stderr, 2 the same
        with timestamps. Credentials are never printed."""
        self.debuglevel = debuglevel

    def _print_debug(self, *args: Any) -> None:
        if self.debuglevel > 1:
            print(datetime.datetime.now().time(), *args, file=sys.stderr)
        else:
            print(*args, file=sys.stderr)

    def _print_debug_at(self, time_us: int, *args: Any) -> None:
        if self.debuglevel > 1:
            t = datetime.datetime.fromtimestamp(time_us / 1e6) if time_us else datetime.datetime.now()
            print(t.time(), *args, file=sys.stderr)
        else:
            print(*args, file=sys.stderr)

    # --- internals -------------------------------------------------------------------------------------
    def _raise(self, err: BaseException, **kw: Any) -> None:
        exc = self._exception(err, **kw)
        self._sync_connected()
        if exc is err:
            raise err
        raise exc from None

    def _exception(self, err: BaseException, **kw: Any) -> BaseException:
        """The exception smtplib raises where the library returned `err`. smtplib's getreply()
        turns every OSError met while waiting for a reply (a timeout included) into
        SMTPServerDisconnected, and a reply line over its limit into SMTPResponseException(500);
        a failed TCP connect or TLS handshake stays an OSError (TimeoutError, ssl.SSLError)."""
        if not isinstance(err, NativeError):
            return err
        name, message = err.args[1], err.args[2]
        exc: BaseException
        if name == "SMTPC_ETIMEOUT" and not _is_connect_failure(self._client) and "TLS handshake" not in message:
            exc = SMTPServerDisconnected("Connection unexpectedly closed: timed out")
        elif name == "SMTPC_EIO":
            exc = SMTPServerDisconnected("Connection unexpectedly closed: " + message)
        elif name == "SMTPC_EPROTOCOL" and _LINE_TOO_LONG in message:
            exc = SMTPResponseException(500, "Line too long.")
        else:
            return exception_from(err, self._client, **kw)
        exc.status = name  # type: ignore[attr-defined]
        return exc

    def _sync_connected(self) -> None:
        if self._client._p is None or not _n.client_is_connected(self._client.ptr):
            self.sock = None
            self.file = None

    def _reply_of(self, fn: Callable[..., Any], *args: Any) -> _Reply:
        """Call a command; return (code, msg) whatever the reply (smtplib never raises for a reply)."""
        try:
            self._client.invoke(fn, *args)
        except NativeError as e:
            if e.args[1] not in ("SMTPC_EREPLY", "SMTPC_ECLOSING"):
                self._raise(e)
        self._sync_connected()
        return self._client.reply()

    def _timeout_ms(self) -> Optional[int]:
        """self.timeout in milliseconds for the library (0: no limit), checked as socket.settimeout()
        checks it (smtplib passes it to the socket); None: keep the library's defaults."""
        t = self.timeout
        if t is socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
            t = socket.getdefaulttimeout()
            if t is None:
                return None  # the library's defaults: 30 s to connect, 300 s per command
        if t is None:
            return 0
        if not isinstance(t, (int, float)):
            raise TypeError(f"'{type(t).__name__}' object cannot be interpreted as an integer")
        if math.isnan(t):
            raise ValueError("Invalid value NaN (not a number)")
        if t < 0:
            raise ValueError("Timeout value out of range")
        if t > 9223372036:  # Python's time limit (nanoseconds in 64 bits)
            raise OverflowError("timestamp too large to convert to C _PyTime_t")
        if t == 0:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        ms = math.ceil(t * 1000)
        # Beyond the library's 32-bit milliseconds (49 days) a timeout is no limit in practice.
        return ms if ms <= 0xFFFFFFFF else 0

    def _apply_timeout(self) -> None:
        ms = self._timeout_ms()
        if ms is not None:
            self._client.set_connect_timeout(ms)
            self._client.set_command_timeout(ms)

    def _set_local_hostname(self, name: Any) -> None:
        """The name EHLO/HELO send: the library refuses a malformed one before connecting."""
        name = _arg(name)
        try:
            self._client.set_local_hostname(name)
        except NativeError as e:
            if e.args[1] == "SMTPC_EINVAL":
                raise ValueError(f"invalid local_hostname {name!r}: {e.args[2]}") from None
            self._raise(e)

    def _tls_setup(self, context: Optional[ssl.SSLContext], keyfile: Optional[str] = None,
                   certfile: Optional[str] = None) -> None:
        native = dict(self._tls_native)
        if certfile is not None:
            native["certfile"] = certfile
        if keyfile is not None:
            native["keyfile"] = keyfile
        if context is None and all(v is None for v in native.values()):
            # The library's default configuration, shared by every client (system store, loaded
            # once), as smtplib would use a default context.
            self._tls_config = None
            self._client.set_tls_config(None)
            self._client.set_tls_insecure_skip_verify_for_testing(0)
            return
        try:
            if context is None:
                # No context to key a shared configuration on: this object keeps its own, so that
                # its next connections resume its TLS sessions.
                key = tuple(sorted((k, v) for k, v in native.items() if v is not None))
                if self._tls_native_config is not None and self._tls_native_config[0] == key:
                    cfg, skip = self._tls_native_config[1], False
                else:
                    cfg, skip = TLSConfig.from_context(None, **native)
                    self._tls_native_config = (key, cfg)
            else:
                cfg, skip = TLSConfig.from_context(context, **native)
        except NativeError as e:
            raise exception_from(e) from None
        self._tls_config = cfg  # keep a reference for as long as the client may use it
        self._client.set_tls_config(cfg.ptr)
        self._client.set_tls_insecure_skip_verify_for_testing(1 if skip else 0)

    # --- connection --------------------------------------------------------------------------------
    def connect(self, host: str = "localhost", port: int = 0,
                source_address: Optional[Tuple[str, int]] = None) -> _Reply:
        """Connect to a host on a given port and read the greeting; returns (code, msg)."""
        if source_address:
            self.source_address = source_address
        if not port and (host.find(":") == host.rfind(":")):
            i = host.rfind(":")
            if i >= 0:
                host, port = host[:i], host[i + 1:]  # type: ignore[assignment]
                try:
                    port = int(port)
                except ValueError:
                    raise OSError("nonnumeric port")
        if not port:
            port = self.default_port
        sys.audit("smtplib.connect", self, host, port)
        return self._connect(host, port)

    def _connect(self, host: str, port: Any, unix: bool = False) -> _Reply:
        timeout_ms = self._timeout_ms()
        if self.debuglevel > 0 and not unix:
            self._print_debug("connect: to", (host, port), self.source_address)
        if not isinstance(host, (str, bytes, bytearray)):
            raise TypeError(f"host must be str or bytes, not {type(host).__name__}")
        number = 0 if isinstance(host, str) and host.startswith("/") else _port_number(port)
        if self.source_address:
            source_host = self.source_address[0] or None
            if source_host is not None and not isinstance(source_host, (str, bytes, bytearray)):
                raise TypeError(f"str, bytes or bytearray expected, not {type(source_host).__name__}")
            source_port = _source_port(self.source_address[1])
        else:
            source_host, source_port = None, 0
        self._set_local_hostname(self.local_hostname)
        # Every argument checked: only now is a previous connection closed.
        c = self._client
        if _n.client_is_connected(c.ptr):
            c.close()
        if timeout_ms is not None:
            c.set_connect_timeout(timeout_ms)
            c.set_command_timeout(timeout_ms)
        try:
            c.set_source_address(source_host, source_port)
            if self._implicit_tls:
                self._tls_setup(self.context)
                c.set_tls_policy(_n.SMTPC_TLS_IMPLICIT)
            else:
                c.set_tls_policy(_n.SMTPC_TLS_NONE)
        except NativeError as e:
            self._raise(e)
        if not self._host:
            self._host = host
        # The greeting lines as received: when they are not SMTP (an SSH banner), the library has
        # no reply to give, and connect() returns what smtplib's getreply() makes of them.
        greeting: List[bytes] = []
        level = self._trace_level()

        def capture(kind: int, data: bytes, time_us: int) -> None:
            if kind == _n.SMTPC_TRACE_RECV:
                greeting.append(data)
            if level:
                self._trace(kind, data, time_us)
        c.set_trace(level or 1, capture)
        try:
            c.connect(host, number)
        except NativeError as e:
            if e.args[1] == "SMTPC_EPROTOCOL" and greeting and _LINE_TOO_LONG not in e.args[2]:
                self.sock = None
                return self._connected(_smtplib_reply(greeting), unix)
            if e.args[1] in ("SMTPC_ECONNECT", "SMTPC_ETIMEOUT") and unix and self.debuglevel > 0:
                self._print_debug("connect fail:", host)
            if e.args[1] != "SMTPC_EGREETING":
                self._raise(e)
        finally:
            c.set_trace(level, self._trace if level else None)
        self.sock = _SocketInfo(self) if _n.client_is_connected(c.ptr) else None
        return self._connected(c.reply(), unix)

    def _connected(self, reply: _Reply, unix: bool) -> _Reply:
        if self.debuglevel > 0:
            # smtplib prints the greeting's repr, but as it is for an LMTP Unix socket.
            self._print_debug("connect:", reply[1] if unix else repr(reply[1]))
        return reply

    def send(self, s: Union[str, bytes]) -> None:
        """Send `s` to the server, as it is."""
        if self._client._p is not None and _n.client_is_connected(self._client.ptr):
            as_str = isinstance(s, str)
            if as_str:
                s = s.encode(self.command_encoding)
            elif not isinstance(s, (bytes, bytearray, memoryview)):
                raise TypeError(f"a bytes-like object is required, not '{type(s).__name__}'")
            sys.audit("smtplib.send", self, s)
            self._send_as_bytes = not as_str  # debug output shows what was given, as smtplib does
            try:
                self._client.send_raw(s)
            except NativeError as e:
                if e.args[1] == "SMTPC_ENOTCONN":
                    raise SMTPServerDisconnected("please run connect() first") from None
                self.close()
                raise SMTPServerDisconnected("Server not connected") from None
            finally:
                self._send_as_bytes = False
        else:
            raise SMTPServerDisconnected("please run connect() first")

    def putcmd(self, cmd: str, args: str = "") -> None:
        """Send a command to the server."""
        if args == "":
            s = cmd
        else:
            s = f"{cmd} {args}"
        _check_newlines(s)
        self.send(f"{s}{CRLF}")

    def getreply(self) -> _Reply:
        """Get a reply from the server: (code, msg), msg the lines joined with b"\\n"."""
        try:
            self._client.read_reply()
        except NativeError as e:
            name = e.args[1]
            if name in ("SMTPC_EREPLY", "SMTPC_ECLOSING"):
                pass
            elif name == "SMTPC_ENOTCONN":
                raise SMTPServerDisconnected("please run connect() first") from None
            elif name == "SMTPC_EDISCONNECTED":
                self.close()
                raise SMTPServerDisconnected("Connection unexpectedly closed") from None
            elif name in ("SMTPC_EIO", "SMTPC_ETIMEOUT"):
                exc = self._exception(e)
                self.close()
                raise exc from None
            else:
                self._raise(e)
        self._sync_connected()
        return self._client.reply()

    def docmd(self, cmd: str, args: str = "") -> _Reply:
        """Send a command, and return its response code."""
        self.putcmd(cmd, args)
        return self.getreply()

    # --- std SMTP commands -----------------------------------------------------------------------------
    def helo(self, name: str = "") -> _Reply:
        """SMTP 'helo' command. Hostname to send for this command defaults to the FQDN of the local
        host."""
        if self._protocol == _n.SMTPC_PROTOCOL_LMTP:
            # LMTP has no HELO; the library refuses it, smtplib sends it anyway.
            self.putcmd("helo", name or self.local_hostname)
            code, msg = self.getreply()
        else:
            code, msg = self._helo_cmd(_n.client_helo, name)
        self.helo_resp = msg
        return (code, msg)

    def ehlo(self, name: str = "") -> _Reply:
        """SMTP 'ehlo' command (LHLO for LMTP). Hostname to send for this command defaults to the
        FQDN of the local host."""
        self.esmtp_features = {}
        code, msg = self._helo_cmd(_n.client_ehlo, name)
        self.ehlo_resp = msg
        if code != 250:
            return (code, msg)
        self.does_esmtp = True
        self.esmtp_features = self._client.features()
        return (code, msg)

    def _helo_cmd(self, fn: Callable[..., Any], name: str) -> _Reply:
        """EHLO/HELO with `name` or local_hostname; a name the library refuses is named in the
        error (ValueError, nothing sent)."""
        what, value = ("EHLO/HELO name", _arg(name)) if name else ("local_hostname", _arg(self.local_hostname))
        _check_newlines(value)
        try:
            self._client.invoke(fn, value)
        except NativeError as e:
            if e.args[1] == "SMTPC_EINVAL":
                raise ValueError(f"invalid {what} {value!r}: {e.args[2]}") from None
            if e.args[1] not in ("SMTPC_EREPLY", "SMTPC_ECLOSING"):
                self._raise(e)
        self._sync_connected()
        return self._client.reply()

    def has_extn(self, opt: str) -> bool:
        """Does the server support a given SMTP service extension?"""
        return opt.lower() in self.esmtp_features

    def help(self, args: str = "") -> bytes:
        """SMTP 'help' command. Returns help text from server."""
        return self._reply_of(_n.client_help, _arg(args))[1]

    def rset(self) -> _Reply:
        """SMTP 'rset' command -- resets session."""
        self.command_encoding = "ascii"
        return self._reply_of(_n.client_rset)

    def _rset(self) -> None:
        try:
            self.rset()
        except SMTPServerDisconnected:
            pass

    def noop(self) -> _Reply:
        """SMTP 'noop' command -- doesn't do anything :>"""
        return self._reply_of(_n.client_noop)

    def _check_encodable(self, addr: str) -> None:
        if isinstance(addr, str):
            addr.encode(self.command_encoding)

    def mail(self, sender: str, options: Sequence[str] = ()) -> _Reply:
        """SMTP 'mail' command -- begins mail xfer session."""
        optionlist = ""
        if options and self.does_esmtp:
            if any(x.lower() == "smtputf8" for x in options):
                if self.has_extn("smtputf8"):
                    self.command_encoding = "utf-8"
                else:
                    raise SMTPNotSupportedError("SMTPUTF8 not supported by server")
            optionlist = " ".join(options)
        addr = quoteaddr(sender)
        _check_newlines(addr + optionlist)
        self._check_encodable(addr)
        return self._reply_of(_n.client_mail, addr, optionlist)

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> _Reply:
        """SMTP 'rcpt' command -- indicates 1 recipient for this mail."""
        optionlist = ""
        if options and self.does_esmtp:
            optionlist = " ".join(options)
        addr = quoteaddr(recip)
        _check_newlines(addr + optionlist)
        self._check_encodable(addr)
        return self._reply_of(_n.client_rcpt, addr, optionlist)

    def data(self, msg: Union[str, bytes]) -> _Reply:
        """SMTP 'DATA' command -- sends message data to server. Raises SMTPDataError when DATA is not
        answered with 354; returns the reply to the message otherwise (LMTP: the last recipient's)."""
        if isinstance(msg, str):
            msg = _fix_eols(msg).encode("ascii")
        elif not isinstance(msg, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected string or bytes-like object, got '{type(msg).__name__}'")
        try:
            self._client.data(msg)
        except NativeError as e:
            name = e.args[1]
            if name == "SMTPC_EDATA_REFUSED":
                self._sync_connected()
                raise SMTPDataError(*self._client.reply()) from None
            if name not in ("SMTPC_EREPLY", "SMTPC_ECLOSING"):
                self._raise(e)
        self._sync_connected()
        return self._client.reply()

    def verify(self, address: str) -> _Reply:
        """SMTP 'verify' command -- checks for address validity."""
        return self._reply_of(_n.client_vrfy, _arg(_addr_only(address)))

    vrfy = verify

    def expn(self, address: str) -> _Reply:
        """SMTP 'expn' command -- expands a mailing list."""
        return self._reply_of(_n.client_expn, _arg(_addr_only(address)))

    # --- some useful methods -------------------------------------------------------------------------
    def ehlo_or_helo_if_needed(self) -> None:
        """Call self.ehlo() and/or self.helo() if needed; raises SMTPHeloError if both fail."""
        if self.helo_resp is None and self.ehlo_resp is None:
            if not (200 <= self.ehlo()[0] <= 299):
                (code, resp) = self.helo()
                if not (200 <= code <= 299):
                    raise SMTPHeloError(code, resp)

    def auth(self, mechanism: str, authobject: Callable[..., Optional[str]], *,
             initial_response_ok: bool = True) -> _Reply:
        """Authentication command: ``authobject(challenge=None)`` returns the response (str) to the
        decoded challenge (bytes), or None for no initial response; the library base64-encodes it."""
        mechanism = mechanism.upper()
        if not callable(authobject):
            raise TypeError(f"'{type(authobject).__name__}' object is not callable")
        self._auth_challenge_count = 0

        def callback(challenge: Optional[bytes], is_initial: bool) -> Optional[bytes]:
            if is_initial:
                resp = authobject()
                if resp is None:
                    return None
                self._auth_challenge_count = 1
            else:
                self._auth_challenge_count += 1
                resp = authobject(challenge)
            return resp.encode("ascii") if isinstance(resp, str) else resp
        try:
            self._client.auth(mechanism, 1 if initial_response_ok else 0, callback)
        except NativeError as e:
            return self._auth_failed(e)
        self._sync_connected()
        return self._client.reply()

    def _auth_failed(self, e: BaseException) -> _Reply:
        name = e.args[1]
        code, resp = self._client.reply()
        if name == "SMTPC_EAUTH":
            if code in (235, 503):
                return (code, resp)
            raise SMTPAuthenticationError(code, resp) from None
        if name == "SMTPC_ENOTSUPPORTED":
            raise SMTPNotSupportedError("SMTP AUTH extension not supported by server.") from None
        if name == "SMTPC_EAUTH_MECHANISM":
            raise SMTPNotSupportedError("AUTH mechanism not offered by the server") from None
        self._raise(e)
        raise AssertionError("unreachable")

    def auth_cram_md5(self, challenge: Optional[bytes] = None) -> Optional[str]:
        """Authobject to use with CRAM-MD5 authentication. Requires self.user and self.password."""
        if challenge is None:
            return None
        return self.user + " " + hmac.HMAC(  # type: ignore[operator]
            self.password.encode("ascii"), challenge, "md5").hexdigest()  # type: ignore[union-attr]

    def auth_plain(self, challenge: Optional[bytes] = None) -> str:
        """Authobject to use with PLAIN authentication. Requires self.user and self.password."""
        return "\0%s\0%s" % (self.user, self.password)

    def auth_login(self, challenge: Optional[bytes] = None) -> Optional[str]:
        """Authobject to use with LOGIN authentication. Requires self.user and self.password."""
        if challenge is None or self._auth_challenge_count < 2:
            return self.user
        return self.password

    def login(self, user: str, password: str, *, initial_response_ok: bool = True) -> _Reply:
        """Log in on an SMTP server that requires authentication, trying CRAM-MD5, PLAIN and LOGIN in
        turn (as smtplib does), each through the library."""
        for what, value in (("user", user), ("password", password)):
            if not isinstance(value, str):  # smtplib's authobjects need str (user + " ", .encode())
                raise TypeError(f"login() {what} must be str, not {type(value).__name__}")
        self.ehlo_or_helo_if_needed()
        if not self.has_extn("auth"):
            raise SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
        advertised_authlist = self.esmtp_features["auth"].split()
        preferred_auths = ["CRAM-MD5", "PLAIN", "LOGIN"]
        authlist = [auth for auth in preferred_auths if auth in advertised_authlist]
        if not authlist:
            raise SMTPException("No suitable authentication method found.")
        self.user, self.password = user, password
        last_exception: Optional[BaseException] = None
        for authmethod in authlist:
            method_name = "auth_" + authmethod.lower().replace("-", "_")
            try:
                if getattr(type(self), method_name) is not getattr(SMTP, method_name):
                    # a subclass provides its own authobject: use it as smtplib does
                    (code, resp) = self.auth(authmethod, getattr(self, method_name),
                                             initial_response_ok=initial_response_ok)
                else:
                    (code, resp) = self._auth_password(authmethod, user, password, initial_response_ok)
                if code in (235, 503):
                    return (code, resp)
            except SMTPAuthenticationError as e:
                last_exception = e
        assert last_exception is not None
        raise last_exception

    def _auth_password(self, mech: str, user: str, password: str, initial_response_ok: bool) -> _Reply:
        try:
            self._client.auth_password(mech, user, password, 1 if initial_response_ok else 0)
        except NativeError as e:
            return self._auth_failed(e)
        return self._client.reply()

    def starttls(self, keyfile: Optional[str] = None, certfile: Optional[str] = None,
                 context: Optional[ssl.SSLContext] = None) -> _Reply:
        """Puts the connection to the SMTP server into TLS mode. The server's certificate is verified
        (against the CA certificates of `context`, of the cafile/capath given to the constructor, or
        the system store) unless context.verify_mode is CERT_NONE."""
        self.ehlo_or_helo_if_needed()
        if not self.has_extn("starttls"):
            raise SMTPNotSupportedError("STARTTLS extension not supported by server.")
        if context is not None and (keyfile is not None or certfile is not None):
            raise ValueError("context and keyfile/certfile arguments are mutually exclusive")
        self._tls_setup(context if context is not None else self.context, keyfile, certfile)
        try:
            self._client.starttls()
        except NativeError as e:
            if e.args[1] == "SMTPC_EREPLY":
                raise SMTPResponseException(*self._client.reply()) from None
            self._raise(e)
        self.helo_resp = None
        self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        return self._client.reply()

    # --- sending mail --------------------------------------------------------------------------------------
    def sendmail(self, from_addr: str, to_addrs: Union[str, Sequence[str]], msg: Union[str, bytes],
                 mail_options: Sequence[str] = (), rcpt_options: Sequence[str] = ()) -> Dict[str, _Reply]:
        """This command performs an entire mail transaction; returns a dictionary with one entry for
        each recipient that was refused, as smtplib does. The transaction is run by the library
        (one pipelined batch when the server offers PIPELINING)."""
        self.ehlo_or_helo_if_needed()
        if isinstance(msg, str):
            msg = _fix_eols(msg).encode("ascii")
        elif not isinstance(msg, (bytes, bytearray, memoryview)):
            raise TypeError(f"msg must be str or a bytes-like object, not {type(msg).__name__}")
        if isinstance(to_addrs, str):
            to_addrs = [to_addrs]
        to_addrs = list(to_addrs)
        mail_options = list(mail_options) if self.does_esmtp else []
        if any(x.lower() == "smtputf8" for x in mail_options):
            if self.has_extn("smtputf8"):
                self.command_encoding = "utf-8"
            else:
                raise SMTPNotSupportedError("SMTPUTF8 not supported by server")
        mail_options = _str_items(mail_options)
        rcpt_options = _str_items(rcpt_options)
        sender = quoteaddr(from_addr)
        # An empty address (what an empty group such as "undisclosed-recipients: ;" gives
        # send_message) is skipped: smtplib sends RCPT TO:<>, which no server accepts.
        rcpts = [(a, quoteaddr(a)) for a in to_addrs]
        rcpts = [(a, q) for a, q in rcpts if q != "<>"]
        for a in [sender, *(q for _, q in rcpts), *mail_options, *rcpt_options]:
            _check_newlines(a)
        for a in [sender, *(q for _, q in rcpts)]:
            self._check_encodable(a)
        if not rcpts:
            # smtplib: every recipient refused, none to refuse: SMTPRecipientsRefused({}).
            raise SMTPRecipientsRefused({})
        try:
            env = Envelope(sender, [q for _, q in rcpts], mail_options, rcpt_options if self.does_esmtp else ())
        except NativeError as e:
            raise exception_from(e) from None
        keys = [a for a, _ in rcpts]
        try:
            self._client.sendmail(env.ptr, msg)
        except NativeError as e:
            self._send_failed(e, from_addr, keys)
        self._sync_connected()
        return self._refused(keys)

    def _refused(self, to_addrs: Optional[List[Any]], upto_421: bool = False) -> Dict[Any, _Reply]:
        """smtplib's refusal dictionary from the library's per-recipient result. LMTP: recipients
        the message was refused for after DATA are included (smtplib reads only one reply)."""
        res = _n.client_last_result(self._client.ptr)
        senderrs: Dict[Any, _Reply] = {}
        if res is None:
            return senderrs
        for i in range(_n.result_count(res)):
            key = to_addrs[i] if to_addrs is not None and i < len(to_addrs) else _n.result_recipient(res, i)
            state = _n.result_state(res, i)
            if state == _n.SMTPC_RCPT_REFUSED:
                r = reply_tuple(_n.result_rcpt_reply(res, i))
                senderrs[key] = r
                if upto_421 and r[0] == 421:
                    break
            elif state == _n.SMTPC_RCPT_FAILED and self._protocol == _n.SMTPC_PROTOCOL_LMTP:
                r = reply_tuple(_n.result_data_reply(res, i))
                if r[0] != -1:
                    senderrs[key] = r
        return senderrs

    def _send_failed(self, e: BaseException, from_addr: Any, to_addrs: Optional[List[Any]]) -> None:
        name = e.args[1]
        self._sync_connected()
        res = _n.client_last_result(self._client.ptr)
        if name == "SMTPC_ECLOSING" and res is not None:
            mail = reply_tuple(_n.result_mail_reply(res))
            if mail[0] == 421:
                raise SMTPSenderRefused(mail[0], mail[1], from_addr) from None
            if any(reply_tuple(_n.result_rcpt_reply(res, i))[0] == 421 for i in range(_n.result_count(res))):
                raise SMTPRecipientsRefused(self._refused(to_addrs, upto_421=True)) from None
            raise SMTPDataError(*self._client.reply()) from None
        if name == "SMTPC_ESENDER_REFUSED" and res is not None and _n.result_mail_reply(res) is not None:
            mail = reply_tuple(_n.result_mail_reply(res))
            raise SMTPSenderRefused(mail[0], mail[1], from_addr) from None
        if name == "SMTPC_ERECIPIENTS_REFUSED":
            raise SMTPRecipientsRefused(self._refused(to_addrs)) from None
        if name == "SMTPC_EDATA_REFUSED" and res is not None and self._protocol == _n.SMTPC_PROTOCOL_SMTP:
            for i in range(_n.result_count(res)):
                if _n.result_data_reply(res, i) is not None:
                    raise SMTPDataError(*reply_tuple(_n.result_data_reply(res, i))) from None
        if name in ("SMTPC_EREPLY", "SMTPC_EDATA_REFUSED"):
            raise SMTPDataError(*self._client.reply()) from None
        self._raise(e, sender=from_addr)

    def send_message(self, msg: email.message.Message, from_addr: Optional[str] = None,
                     to_addrs: Union[None, str, Sequence[str]] = None,
                     mail_options: Sequence[str] = (), rcpt_options: Sequence[str] = ()) -> Dict[str, _Reply]:
        """Converts message to a bytestring and passes it to sendmail, as smtplib does (the same
        envelope from the headers, the same arguments to self.sendmail): Bcc and Resent-Bcc are not
        transmitted; SMTPUTF8 and BODY=8BITMIME are asked for when an address is not ASCII."""
        # smtplib's send_message(), step for step: a subclass or a mock of sendmail() sees the
        # same call.
        self.ehlo_or_helo_if_needed()
        resent = msg.get_all("Resent-Date")
        if resent is None:
            header_prefix = ""
        elif len(resent) == 1:
            header_prefix = "Resent-"
        else:
            raise ValueError("message has more than one 'Resent-' header block")
        if from_addr is None:
            # Prefer the sender field per RFC 2822:3.6.2.
            from_addr = (msg[header_prefix + "Sender"] if (header_prefix + "Sender") in msg
                         else msg[header_prefix + "From"])
            from_addr = email.utils.getaddresses([from_addr])[0][1]
        if to_addrs is None:
            addr_fields = [f for f in (msg[header_prefix + "To"], msg[header_prefix + "Bcc"],
                                       msg[header_prefix + "Cc"]) if f is not None]
            to_addrs = [a[1] for a in email.utils.getaddresses(addr_fields)]
        # Make a local copy so we can delete the bcc headers.
        msg_copy = copy.copy(msg)
        del msg_copy["Bcc"]
        del msg_copy["Resent-Bcc"]
        international = False
        try:
            "".join([from_addr, *to_addrs]).encode("ascii")
        except UnicodeEncodeError:
            if not self.has_extn("smtputf8"):
                raise SMTPNotSupportedError(
                    "One or more source or delivery addresses require internationalized email "
                    "support, but the server does not advertise the required SMTPUTF8 capability")
            international = True
        with io.BytesIO() as bytesmsg:
            if international:
                g = email.generator.BytesGenerator(bytesmsg, policy=msg.policy.clone(utf8=True))
                mail_options = (*mail_options, "SMTPUTF8", "BODY=8BITMIME")
            else:
                g = email.generator.BytesGenerator(bytesmsg)
            g.flatten(msg_copy, linesep="\r\n")
            flatmsg = bytesmsg.getvalue()
        return self.sendmail(from_addr, to_addrs, flatmsg, mail_options, rcpt_options)

    def close(self) -> None:
        """Close the connection to the SMTP server (without QUIT)."""
        self.file = None
        self.sock = None
        client = self.__dict__.get("_client")
        if client is not None and client._p is not None:
            try:
                client.close()
            except NativeError:
                pass

    @property
    def tls_resumed(self) -> bool:
        """smtpc extension (not in smtplib): True when the connection is encrypted and its TLS
        session was resumed from an earlier connection (sock.session_reused says the same, as on
        smtplib's ssl.SSLSocket). Connections resume the sessions of the same ssl.SSLContext (one
        library configuration is kept per context), of the library's default configuration
        (starttls() without a context), or of the same SMTP object (cafile=... without a context)."""
        client = self.__dict__.get("_client")
        return bool(client is not None and client._p is not None and _n.client_tls_resumed(client.ptr))

    def cancel(self) -> None:
        """smtpc extension (not in smtplib): stop the call running on this object, from another
        thread or a signal handler. That call raises SMTPCancelledError (an SMTPServerDisconnected:
        the connection is closed). A cancel with no call running stops the next call that would
        talk to the server, before it sends anything."""
        client = self.__dict__.get("_client")
        if client is not None:
            client.cancel()

    def cancel_on_signal(self, signum: int) -> Any:
        """smtpc extension: a context manager; while in it, signal `signum` cancels the running
        call (see smtpc.Client.cancel_on_signal: a Python signal handler cannot, as it runs only
        once the call returns)."""
        return self._client.cancel_on_signal(signum)

    def quit(self) -> _Reply:
        """Terminate the SMTP session."""
        if not (self._client._p is not None and _n.client_is_connected(self._client.ptr)):
            raise SMTPServerDisconnected("please run connect() first")
        res = self._reply_of(_n.client_quit)
        self.ehlo_resp = self.helo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        self.close()
        return res


class SMTP_SSL(SMTP):
    """An SMTP connection that is encrypted from the beginning (implicit TLS, port 465). The server's
    certificate is verified unless context.verify_mode is CERT_NONE. ``keyfile``/``certfile`` give a
    client certificate (smtplib deprecated them in favour of the context; here the context cannot
    carry one, so they are the way)."""

    default_port = SMTP_SSL_PORT
    _implicit_tls = True

    def __init__(self, host: str = "", port: int = 0, local_hostname: Optional[str] = None,
                 keyfile: Optional[str] = None, certfile: Optional[str] = None,
                 timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
                 source_address: Optional[Tuple[str, int]] = None,
                 context: Optional[ssl.SSLContext] = None, **native: Any) -> None:
        if context is not None and keyfile is not None:
            raise ValueError("context and keyfile arguments are mutually exclusive")
        if context is not None and certfile is not None:
            raise ValueError("context and certfile arguments are mutually exclusive")
        self.keyfile = keyfile
        self.certfile = certfile
        self.context = context
        if keyfile is not None:
            native.setdefault("keyfile", keyfile)
        if certfile is not None:
            native.setdefault("certfile", certfile)
        SMTP.__init__(self, host, port, local_hostname, timeout, source_address, **native)


class LMTP(SMTP):
    """LMTP - Local Mail Transfer Protocol (RFC 2033). ``host`` may be the path of a Unix socket.
    After the message the server answers for each recipient: sendmail() includes the recipients it
    refused then in the returned dictionary; data() returns the last of those replies."""

    ehlo_msg = "lhlo"
    default_port = LMTP_PORT
    _protocol = _n.SMTPC_PROTOCOL_LMTP

    def __init__(self, host: str = "", port: int = LMTP_PORT, local_hostname: Optional[str] = None,
                 source_address: Optional[Tuple[str, int]] = None,
                 timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
                 **native: Any) -> None:
        super().__init__(host, port, local_hostname=local_hostname, source_address=source_address,
                         timeout=timeout, **native)

    def connect(self, host: str = "localhost", port: int = 0,
                source_address: Optional[Tuple[str, int]] = None) -> _Reply:
        """Connect to the LMTP daemon, on either a Unix or a TCP socket."""
        if host[0] != "/":
            return super().connect(host, port, source_address=source_address)
        if self.timeout is not None and not self.timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        return self._connect(host, 0, unix=True)
