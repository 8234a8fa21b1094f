# SPDX-License-Identifier: MIT
"""Thin owners of the C handles (client, envelope, TLS configuration) and the translation of C
status codes into Python exceptions. Private: use smtpc.Client or smtpc.smtplib."""
from __future__ import annotations

import contextlib
import errno as _errno
import re
import socket
import ssl
import weakref
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Optional, Tuple

from . import smtpc_native as _n
from .errors import (
    SMTPAuthenticationError, SMTPConnectError, SMTPDataError, SMTPDeliveryUnknown, SMTPException,
    SMTPHeloError, SMTPInsecureAuthError, SMTPNotSupportedError, SMTPProtocolError,
    SMTPCancelledError, SMTPRecipientsRefused, SMTPReentryError, SMTPResponseException,
    SMTPSenderRefused, SMTPServerDisconnected, SMTPStateError, SMTPTLSRequiredError,
)

NativeError = _n.Error


def to_bytes(text: str) -> bytes:
    """Strings from the C layer are decoded as UTF-8 with surrogateescape: this gives the bytes back."""
    return text.encode("utf-8", "surrogateescape")


class Reply(NamedTuple):
    """A server reply."""

    code: int
    """The three-digit reply code."""
    enhanced: str
    """The RFC 3463 enhanced status code ("2.1.0"), or ""."""
    text: str
    """The text as smtplib joins it (lines stripped, joined with "\\n")."""
    lines: Tuple[str, ...]
    """Each line as received, after the code and separator."""

    @property
    def message(self) -> bytes:
        """The text as bytes, as smtplib returns it."""
        return to_bytes(self.text)

    @classmethod
    def from_native(cls, r: Any) -> Optional["Reply"]:
        if r is None:
            return None
        n = _n.reply_line_count(r)
        return cls(_n.reply_code(r), _n.reply_enhanced(r), _n.reply_text(r),
                   tuple(_n.reply_line(r, i) for i in range(n)))

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


def reply_tuple(r: Any) -> Tuple[int, bytes]:
    """(code, bytes) as smtplib returns replies; (-1, b"") when there is none."""
    if r is None:
        return (-1, b"")
    return (_n.reply_code(r), to_bytes(_n.reply_text(r)))


class NativeClient:
    """Owns one smtpc_client."""

    __slots__ = ("_p", "_busy", "__weakref__")

    def __init__(self, protocol: int) -> None:
        self._p = _n.client_new(protocol)
        self._busy = 0  # calls in progress on this client (a callback's call is a re-entry)

    @property
    def ptr(self) -> Any:
        if self._p is None:
            raise ValueError("the client has been freed")
        return self._p

    def __getattr__(self, name: str) -> Callable[..., Any]:
        """client.noop() calls smtpc_client_noop(ptr)."""
        fn = getattr(_n, "client_" + name)
        return lambda *args: self.invoke(fn, *args)

    def invoke(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(ptr, *args), counted as a call in progress: an SMTPC_ESTATE from a call made while
        another is in progress is a callback's re-entry (SMTPReentryError)."""
        p = self.ptr
        self._busy += 1
        try:
            return fn(p, *args)
        finally:
            self._busy -= 1

    def cancel(self) -> None:
        """smtpc_client_cancel(): from any thread or a signal handler; a no-op once freed. The
        native call keeps the GIL, so the handle cannot be freed under it."""
        p = self._p
        if p is not None:
            _n.client_cancel(p)

    @contextlib.contextmanager
    def cancel_on_signal(self, signum: int) -> Iterator[None]:
        """While in the block, signal `signum` cancels the running call (see Client)."""
        import threading
        if threading.current_thread() is not threading.main_thread():
            raise ValueError("cancel_on_signal only works in the main thread")
        signum = int(signum)
        _n._cancel_on_signal(self.ptr, signum)
        try:
            yield
        finally:
            _n._cancel_on_signal_clear(signum)

    def free(self) -> None:
        if self._busy:
            # From a callback of a running call: the library would defer the free, but the
            # callables it still calls are released with the handle. Close now; free later.
            _n.client_close(self._p)
            return
        p, self._p = self._p, None
        if p is not None:
            _n.client_free(p)

    def __del__(self) -> None:
        try:
            self.free()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def reply(self) -> Tuple[int, bytes]:
        return reply_tuple(_n.client_last_reply(self.ptr))

    def features(self) -> dict:
        feats = {}
        for i in range(_n.client_extn_count(self.ptr)):
            feats[_n.client_extn_name(self.ptr, i)] = _n.client_extn_params_at(self.ptr, i)
        return feats


class Envelope:
    """Owns one smtpc_envelope."""

    __slots__ = ("_p",)

    def __init__(self, sender: Optional[Any] = None, recipients: Iterable[Any] = (),
                 mail_options: Iterable[Any] = (), rcpt_options: Iterable[Any] = ()) -> None:
        self._p = _n.envelope_new()
        if sender is not None:
            _n.envelope_set_sender(self._p, sender)
        for r in recipients:
            _n.envelope_add_recipient(self._p, r)
        for o in mail_options:
            _n.envelope_add_mail_option(self._p, o)
        for o in rcpt_options:
            _n.envelope_add_rcpt_option(self._p, o)

    @property
    def ptr(self) -> Any:
        return self._p

    def __del__(self) -> None:
        p, self._p = getattr(self, "_p", None), None
        if p is not None:
            _n.envelope_free(p)


class TLSConfig:
    """A TLS configuration of the library (the analogue of an ssl.SSLContext).

    Keyword arguments: ``cafile`` (PEM file), ``capath`` (hashed directory), ``cadata`` (DER bytes of
    one CA certificate, or an iterable of them), ``certfile``/``keyfile``/``key_password`` (client
    certificate), ``verify`` (default True), ``check_hostname`` (default True),
    ``minimum_version`` ("1.2", "1.3", or an ssl.TLSVersion), ``ciphers`` (OpenSSL list for TLS 1.2),
    ``session_resumption`` (default True: the clients using this configuration resume the TLS
    sessions of its earlier connections to the same server; see docs/tls.md).
    """

    __slots__ = ("_p",)

    def __init__(self, *, cafile: Optional[str] = None, capath: Optional[str] = None,
                 cadata: Any = None, certfile: Optional[str] = None, keyfile: Optional[str] = None,
                 key_password: Any = None, verify: bool = True, check_hostname: bool = True,
                 minimum_version: Any = None, ciphers: Optional[str] = None,
                 session_resumption: bool = True) -> None:
        self._p = None
        p = _n.tls_config_new()
        self._p = p
        try:
            if cafile is not None:
                _n.tls_config_set_ca_file(p, _fspath(cafile))
            if capath is not None:
                _n.tls_config_set_ca_path(p, _fspath(capath))
            if cadata is not None:
                for der in ([cadata] if isinstance(cadata, (bytes, bytearray, memoryview)) else cadata):
                    _n.tls_config_add_ca_der(p, der)
            if certfile is not None:
                if callable(key_password):
                    key_password = key_password()
                _n.tls_config_set_client_cert(p, _fspath(certfile),
                                              _fspath(keyfile) if keyfile is not None else None,
                                              key_password)
            _n.tls_config_set_verify_peer(p, 1 if verify else 0)
            _n.tls_config_set_verify_hostname(p, 1 if check_hostname else 0)
            if minimum_version is not None:
                _n.tls_config_set_min_version(p, _tls_version(minimum_version))
            if ciphers is not None:
                _n.tls_config_set_ciphers(p, ciphers)
            if not session_resumption:
                _n.tls_config_set_session_resumption(p, 0)
        except NativeError as e:
            raise exception_from(e) from None

    @property
    def ptr(self) -> Any:
        return self._p

    def __del__(self) -> None:
        p, self._p = getattr(self, "_p", None), None
        if p is not None:
            _n.tls_config_free(p)

    @classmethod
    def from_context(cls, context: Optional[ssl.SSLContext], **native: Any) -> Tuple["TLSConfig", bool]:
        """Carry over what can be read from an ssl.SSLContext: check_hostname, the minimum version,
        and the CA certificates loaded into it (get_ca_certs(binary_form=True); when it has none the
        system store is used). Returns (config, skip_verify): skip_verify is True for
        verify_mode == CERT_NONE, which maps to the client's testing-only skip-verify switch.
        Native keyword arguments (cafile, capath, certfile, keyfile, key_password) are added.

        One configuration per context and native arguments is kept (cached, dropped with the
        context): an SSLContext is made once for many connections, and so its connections share
        one SSL_CTX, CA certificates parsed once, and resume each other's TLS sessions. A context
        changed since gets a new configuration (without the sessions of the old one); the change is
        seen from a cheap stamp (verify_mode, check_hostname, minimum_version, and the counts of
        cert_store_stats(), which every certificate added to its store raises), so the CA
        certificates are read once per change, not per connection."""
        native = {k: v for k, v in native.items() if v is not None}
        if context is None:
            return cls(**native), False
        skip_verify = context.verify_mode == ssl.CERT_NONE
        try:
            stamp = (context.verify_mode, context.check_hostname, context.minimum_version,
                     tuple(sorted(context.cert_store_stats().items())))
            native_key = tuple(sorted(native.items()))
            per_context = _CONTEXT_CONFIGS.setdefault(context, {})
        except TypeError:  # a context object that takes no weak reference, an unhashable argument
            per_context, stamp, native_key = None, None, None
        cached = per_context.get(native_key) if per_context is not None else None
        if cached is not None and cached[0] == stamp:
            return cached[1], skip_verify
        kw = dict(native)
        kw.setdefault("check_hostname", bool(context.check_hostname))
        if context.minimum_version == ssl.TLSVersion.TLSv1_3:
            kw.setdefault("minimum_version", "1.3")
        if not skip_verify:
            ders = context.get_ca_certs(binary_form=True)
            if ders:
                kw["cadata"] = ders
        cfg = cls(**kw)
        if per_context is not None:
            per_context[native_key] = (stamp, cfg)
        return cfg, skip_verify


# TLSConfig.from_context()'s cache: {SSLContext: {native arguments: (stamp, TLSConfig)}}, dropped
# with the context.
_CONTEXT_CONFIGS: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def _fspath(p: Any) -> Any:
    import os
    return os.fspath(p)


def _tls_version(v: Any) -> int:
    if isinstance(v, ssl.TLSVersion):
        if v == ssl.TLSVersion.TLSv1_3:
            return _n.SMTPC_TLS_VERSION_1_3
        if v == ssl.TLSVersion.MAXIMUM_SUPPORTED:
            return _n.SMTPC_TLS_VERSION_1_3
        return _n.SMTPC_TLS_VERSION_1_2
    s = str(v).lower().replace("tlsv", "").replace("tls", "").strip()
    if s in ("1.3", "13"):
        return _n.SMTPC_TLS_VERSION_1_3
    if s in ("1.2", "12"):
        return _n.SMTPC_TLS_VERSION_1_2
    raise ValueError(f"unknown TLS version {v!r} (1.2 or 1.3)")


# --- Status codes -> exceptions -----------------------------------------------------------------

_RESPONSE_CLASSES = {
    "SMTPC_EGREETING": SMTPConnectError,
    "SMTPC_EHELO": SMTPHeloError,
    "SMTPC_EREPLY": SMTPResponseException,
    "SMTPC_ECLOSING": SMTPResponseException,
    "SMTPC_EDATA_REFUSED": SMTPDataError,
    "SMTPC_EAUTH": SMTPAuthenticationError,
}


# OpenSSL's error text, as ERR_error_string_n() writes it into the library's messages:
# "error:0A00010B:SSL routines::wrong version number".
_OPENSSL_ERROR = re.compile(r"error:([0-9A-Fa-f]{8}):([^:]*):[^:]*:([^()]+?)\s*(?:\)|$)")
_VERIFY_TEXT = re.compile(r"certificate verification failed: (.*?) \(X509 error -?\d+\)")


def _openssl_names(code: int, lib_text: str, reason_text: str) -> Tuple[Optional[str], Optional[str]]:
    """ssl.SSLError's (library, reason) for a packed OpenSSL error code: the ssl module's own
    tables when it has them (the names it would print), else the texts made into names."""
    import _ssl  # the tables ssl.SSLError's names come from
    if ssl.OPENSSL_VERSION_INFO[0] >= 3:
        lib, reason = ((2, code & 0x7FFFFFFF) if code & 0x80000000 else ((code >> 23) & 0xFF, code & 0x7FFFFF))
    else:
        lib, reason = (code >> 24) & 0xFF, code & 0xFFF
    library = getattr(_ssl, "lib_codes_to_names", {}).get(lib)
    name = getattr(_ssl, "err_codes_to_names", {}).get((lib, reason))
    if library is None:
        library = lib_text.split(" ")[0].upper() or None
    if name is None:
        name = re.sub(r"[^A-Za-z0-9]+", "_", reason_text).strip("_").upper() or None
    return library, name


def tls_exception(name: str, message: str, verify_code: Optional[int] = None) -> ssl.SSLError:
    """ssl.SSLError (ssl.SSLCertVerificationError for SMTPC_ETLS_VERIFY) as the ssl module makes
    them: args (1, text) so that str() is the text, and `reason`/`library` (OpenSSL's names, as in
    "[SSL: CERTIFICATE_VERIFY_FAILED] ..."), `verify_code`/`verify_message` for verification."""
    library: Optional[str] = None
    reason: Optional[str] = None
    if name == "SMTPC_ETLS_VERIFY":
        library, reason = "SSL", "CERTIFICATE_VERIFY_FAILED"
    else:
        m = _OPENSSL_ERROR.search(message)
        if m is not None:
            library, reason = _openssl_names(int(m.group(1), 16), m.group(2).strip(), m.group(3).strip())
    text = f"[{library}: {reason}] {message}" if library and reason else message
    # ssl.SSL_ERROR_SSL is the errno the ssl module gives a failed handshake or record.
    exc: ssl.SSLError
    if name == "SMTPC_ETLS_VERIFY":
        exc = ssl.SSLCertVerificationError(ssl.SSL_ERROR_SSL, text)
        m = _VERIFY_TEXT.search(message)
        exc.verify_code = verify_code  # type: ignore[attr-defined]
        exc.verify_message = m.group(1) if m is not None else message  # type: ignore[attr-defined]
    else:
        exc = ssl.SSLError(ssl.SSL_ERROR_SSL, text)
    exc.library = library  # type: ignore[misc]
    exc.reason = reason  # type: ignore[misc]
    return exc


def exception_from(err: BaseException, client: Optional[NativeClient] = None, *,
                   sender: Any = None, refused: Optional[dict] = None) -> BaseException:
    """The Python exception for a smtpc_native.Error (any other exception is returned as is)."""
    if not isinstance(err, NativeError):
        return err
    code, name, message = err.args
    reply = client.reply() if client is not None and client._p is not None else (-1, b"")
    os_err = 0
    if client is not None and client._p is not None:
        os_err = _n.client_os_error(client.ptr)
    exc: BaseException
    if name == "SMTPC_EINVAL":
        exc = ValueError(message)
    elif name == "SMTPC_ENOMEM":
        exc = MemoryError(message)
    elif name == "SMTPC_ENOTCONN":
        exc = SMTPServerDisconnected("please run connect() first")
    elif name == "SMTPC_ERESOLVE":
        exc = socket.gaierror(socket.EAI_NONAME, message)
    elif name in ("SMTPC_ECONNECT", "SMTPC_EIO"):
        exc = OSError(os_err or _errno.EIO, message)
    elif name == "SMTPC_ETIMEOUT":
        exc = TimeoutError(message)
    elif name == "SMTPC_EDISCONNECTED":
        exc = SMTPServerDisconnected("Connection unexpectedly closed")
    elif name == "SMTPC_EPROTOCOL":
        exc = SMTPProtocolError(message)
    elif name == "SMTPC_EDELIVERY_UNKNOWN":
        exc = SMTPDeliveryUnknown(message)
    elif name == "SMTPC_ESENDER_REFUSED":
        exc = SMTPSenderRefused(reply[0], reply[1], sender)
    elif name == "SMTPC_ERECIPIENTS_REFUSED":
        exc = SMTPRecipientsRefused(refused if refused is not None else {})
    elif name in _RESPONSE_CLASSES:
        exc = _RESPONSE_CLASSES[name](reply[0], reply[1])
    elif name == "SMTPC_ENOTSUPPORTED":
        exc = SMTPNotSupportedError(message)
    elif name == "SMTPC_ETLS_REQUIRED":
        exc = SMTPTLSRequiredError(message)
    elif name == "SMTPC_EAUTH_MECHANISM":
        exc = SMTPException("No suitable authentication method found.")
    elif name == "SMTPC_EAUTH_INSECURE":
        exc = SMTPInsecureAuthError(message)
    elif name in ("SMTPC_ETLS", "SMTPC_ETLS_VERIFY"):
        verify_code = None
        if name == "SMTPC_ETLS_VERIFY" and client is not None and client._p is not None:
            verify_code = _n.client_tls_verify_result(client.ptr)
        exc = tls_exception(name, message, verify_code)
    elif name == "SMTPC_ESTATE":
        if client is not None and getattr(client, "_busy", 0) > 0:
            exc = SMTPReentryError(f"the client is inside a call: a callback of that call cannot "
                                   f"use it ({message})")
        else:
            exc = SMTPStateError(message)
    elif name == "SMTPC_ECANCELLED":
        exc = SMTPCancelledError(message)
    else:  # EINTERNAL, EUSER without an exception, codes added later
        exc = SMTPException(f"{name}: {message}")
    try:
        exc.status = name  # type: ignore[attr-defined]
    except AttributeError:
        pass
    return exc
