"""Exceptions of the smtpc package.

The classes named as in Python's smtplib have the same hierarchy, constructor arguments and
attributes (``smtp_code``, ``smtp_error``, ``sender``, ``recipients``, ``args``). The others are
smtpc additions, each a subclass of the smtplib class that ``except`` clauses written for smtplib
already catch.

Every exception raised for a status of the C library also carries ``status`` (the symbolic name,
e.g. ``"SMTPC_ESENDER_REFUSED"``) and, after a send, ``result`` (a :class:`smtpc.SendResult`)
when the library recorded one. They are ``None`` otherwise.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

__all__ = [
    "SMTPException", "SMTPNotSupportedError", "SMTPServerDisconnected", "SMTPResponseException",
    "SMTPSenderRefused", "SMTPRecipientsRefused", "SMTPDataError", "SMTPConnectError",
    "SMTPHeloError", "SMTPAuthenticationError",
    "SMTPInsecureAuthError", "SMTPTLSRequiredError", "SMTPProtocolError", "SMTPDeliveryUnknown",
]


class SMTPException(OSError):
    """Base class for all exceptions raised by this module."""

    status: Optional[str] = None
    result: Any = None


class SMTPNotSupportedError(SMTPException):
    """The command or option is not supported by the SMTP server."""


class SMTPServerDisconnected(SMTPException):
    """Not connected to any SMTP server, or the server closed the connection unexpectedly."""


class SMTPResponseException(SMTPException):
    """Base class for the errors that carry the server's reply: ``smtp_code`` and ``smtp_error``."""

    def __init__(self, code: int, msg: Any) -> None:
        self.smtp_code = code
        self.smtp_error = msg
        self.args = (code, msg)


class SMTPSenderRefused(SMTPResponseException):
    """Sender address refused; ``sender`` is the address as given."""

    def __init__(self, code: int, msg: Any, sender: Any) -> None:
        self.smtp_code = code
        self.smtp_error = msg
        self.sender = sender
        self.args = (code, msg, sender)


class SMTPRecipientsRefused(SMTPException):
    """All recipients were refused; ``recipients`` maps each address to its ``(code, msg)``."""

    def __init__(self, recipients: Dict[Any, Tuple[int, bytes]]) -> None:
        self.recipients = recipients
        self.args = (recipients,)


class SMTPDataError(SMTPResponseException):
    """The SMTP server didn't accept the data."""


class SMTPConnectError(SMTPResponseException):
    """Error during connection establishment (the greeting was not 220)."""


class SMTPHeloError(SMTPResponseException):
    """The server refused our HELO reply."""


class SMTPAuthenticationError(SMTPResponseException):
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
