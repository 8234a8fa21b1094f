# SPDX-License-Identifier: MIT
"""Exceptions of the smtpc package.

The classes named as in Python's smtplib are subclasses of the standard module's classes (and keep
their hierarchy, constructor arguments and attributes: ``smtp_code``, ``smtp_error``, ``sender``,
``recipients``, ``args``), so ``except smtplib.SMTPException`` written against the standard module
catches what smtpc raises. The others are smtpc additions, each a subclass of the smtplib class that
``except`` clauses written for smtplib already catch.

Every exception raised for a status of the C library also carries ``status`` (the symbolic name,
e.g. ``"SMTPC_ESENDER_REFUSED"``) and, after a send, ``result`` (a :class:`smtpc.SendResult`)
when the library recorded one. They are ``None`` otherwise.
"""
from __future__ import annotations

import smtplib as _std
from typing import Any, Optional

__all__ = [
    "SMTPException", "SMTPNotSupportedError", "SMTPServerDisconnected", "SMTPResponseException",
    "SMTPSenderRefused", "SMTPRecipientsRefused", "SMTPDataError", "SMTPConnectError",
    "SMTPHeloError", "SMTPAuthenticationError",
    "SMTPInsecureAuthError", "SMTPTLSRequiredError", "SMTPProtocolError", "SMTPDeliveryUnknown",
    "SMTPCancelledError", "SMTPStateError", "SMTPReentryError",
]

# Each class derives from the standard class of the same name first (its __init__, attributes and
# place under smtplib.SMTPException), then from smtpc's parent, so that `except smtpc.X` and
# `except smtplib.X` both catch it.


class SMTPException(_std.SMTPException):
    """Base class for all exceptions raised by this module."""

    status: Optional[str] = None
    result: Any = None


class SMTPNotSupportedError(_std.SMTPNotSupportedError, SMTPException):
    """The command or option is not supported by the SMTP server."""


class SMTPServerDisconnected(_std.SMTPServerDisconnected, SMTPException):
    """Not connected to any SMTP server, or the server closed the connection unexpectedly."""


class SMTPResponseException(_std.SMTPResponseException, SMTPException):
    """Base class for the errors that carry the server's reply: ``smtp_code`` and ``smtp_error``."""


class SMTPSenderRefused(_std.SMTPSenderRefused, SMTPResponseException):
    """Sender address refused; ``sender`` is the address as given."""


class SMTPRecipientsRefused(_std.SMTPRecipientsRefused, SMTPException):
    """All recipients were refused; ``recipients`` maps each address to its ``(code, msg)``."""


class SMTPDataError(_std.SMTPDataError, SMTPResponseException):
    """The SMTP server didn't accept the data."""


class SMTPConnectError(_std.SMTPConnectError, SMTPResponseException):
    """Error during connection establishment (the greeting was not 220, or not SMTP at all)."""


class SMTPHeloError(_std.SMTPHeloError, SMTPResponseException):
    """The server refused our HELO reply."""


class SMTPAuthenticationError(_std.SMTPAuthenticationError, SMTPResponseException):
    """Authentication error: the server refused the username/password combination."""


# --- smtpc additions ------------------------------------------------------------------------------

class SMTPInsecureAuthError(SMTPException):
    """smtpc refused to send credentials: the connection is neither TLS with a verified certificate
    nor to this machine. Pass ``allow_insecure_auth=True`` to allow it. Nothing was sent."""


class SMTPTLSRequiredError(SMTPNotSupportedError):
    """The TLS policy requires TLS and the server does not offer STARTTLS (or refused it)."""


class SMTPProtocolError(SMTPServerDisconnected):
    """The server sent something that is not a valid SMTP reply; the connection was closed."""


class SMTPDeliveryUnknown(SMTPServerDisconnected):
    """The connection was lost after the whole message was sent and before the server's reply: the
    message may or may not have been delivered; resending risks a duplicate."""


class SMTPCancelledError(SMTPServerDisconnected):
    """cancel() stopped the call (from another thread, a signal handler or a callback). The library
    closed the connection, so, as for any lost connection, it is an SMTPServerDisconnected: code
    written for smtplib that reconnects on that exception does the right thing. A message being
    sent was withdrawn (its recipients stay ACCEPTED: the end of data was never sent) unless the
    cancel came after its end of data (recipients UNKNOWN: it may have been delivered)."""


class SMTPStateError(SMTPException):
    """The call does not fit the client's state (SMTPC_ESTATE): e.g. connect() when already
    connected, starttls() when already encrypted. Nothing was sent."""


class SMTPReentryError(SMTPStateError):
    """A callback of a running call (trace, AUTH, token, progress) called a method of its own client
    that talks to the server or changes an option. The library refuses it (SMTPC_ESTATE) and sends
    nothing; the running call goes on. Getters, close() and cancel() are allowed from callbacks."""
