// SPDX-License-Identifier: MIT
//! Status codes and the error type.

use crate::reply::{Reply, SendResult};
use crate::util::static_cstr;
use smtpc_sys as sys;
use std::fmt;

macro_rules! statuses {
    ($($(#[$doc:meta])* $name:ident = $raw:path,)*) => {
        /// The status of a call: `SMTPC_OK` or one of the `SMTPC_E*` codes of the C library.
        ///
        /// A later library may return codes this crate does not know: they are `Unknown(code)`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Status {
            $($(#[$doc])* $name,)*
            /// A code this version of the crate does not know.
            Unknown(i32),
        }

        impl Status {
            /// The status for a raw `smtpc_status` value.
            pub fn from_raw(raw: i32) -> Status {
                match raw {
                    $(x if x == $raw => Status::$name,)*
                    other => Status::Unknown(other),
                }
            }

            /// The raw `smtpc_status` value.
            pub fn raw(self) -> i32 {
                match self {
                    $(Status::$name => $raw,)*
                    Status::Unknown(raw) => raw,
                }
            }
        }
    };
}

statuses! {
    /// `SMTPC_OK`.
    Ok = sys::SMTPC_OK,
    /// `SMTPC_EINVAL`: an invalid argument; nothing was sent.
    Invalid = sys::SMTPC_EINVAL,
    /// `SMTPC_ENOMEM`.
    NoMemory = sys::SMTPC_ENOMEM,
    /// `SMTPC_EINTERNAL`: a bug in the library.
    Internal = sys::SMTPC_EINTERNAL,
    /// `SMTPC_ESTATE`: the call does not fit the client's state.
    State = sys::SMTPC_ESTATE,
    /// `SMTPC_ENOTCONN`: not connected.
    NotConnected = sys::SMTPC_ENOTCONN,
    /// `SMTPC_ERESOLVE`: the host name could not be resolved.
    Resolve = sys::SMTPC_ERESOLVE,
    /// `SMTPC_ECONNECT`: no connection could be made (see [`Error::os_error`]).
    Connect = sys::SMTPC_ECONNECT,
    /// `SMTPC_ETIMEOUT`: a deadline passed; the connection is closed.
    Timeout = sys::SMTPC_ETIMEOUT,
    /// `SMTPC_EIO`: a socket error (see [`Error::os_error`]).
    Io = sys::SMTPC_EIO,
    /// `SMTPC_EDISCONNECTED`: the server closed the connection unexpectedly.
    Disconnected = sys::SMTPC_EDISCONNECTED,
    /// `SMTPC_EPROTOCOL`: the server broke the protocol; the connection is closed.
    Protocol = sys::SMTPC_EPROTOCOL,
    /// `SMTPC_EGREETING`: the greeting was not 220.
    Greeting = sys::SMTPC_EGREETING,
    /// `SMTPC_EHELO`: neither EHLO nor HELO was accepted.
    Helo = sys::SMTPC_EHELO,
    /// `SMTPC_EREPLY`: the command got a 4xx or 5xx reply.
    Reply = sys::SMTPC_EREPLY,
    /// `SMTPC_ECLOSING`: the server answered 421; the connection is closed.
    Closing = sys::SMTPC_ECLOSING,
    /// `SMTPC_ESENDER_REFUSED`: MAIL FROM was refused.
    SenderRefused = sys::SMTPC_ESENDER_REFUSED,
    /// `SMTPC_ERECIPIENTS_REFUSED`: every recipient was refused (see [`Error::result`]).
    RecipientsRefused = sys::SMTPC_ERECIPIENTS_REFUSED,
    /// `SMTPC_EDATA_REFUSED`: DATA or the message was refused.
    DataRefused = sys::SMTPC_EDATA_REFUSED,
    /// `SMTPC_EDELIVERY_UNKNOWN`: the connection was lost after the whole message was sent: it may
    /// or may not have been delivered.
    DeliveryUnknown = sys::SMTPC_EDELIVERY_UNKNOWN,
    /// `SMTPC_ENOTSUPPORTED`: the server lacks an extension the call needs.
    NotSupported = sys::SMTPC_ENOTSUPPORTED,
    /// `SMTPC_EAUTH`: authentication failed.
    Auth = sys::SMTPC_EAUTH,
    /// `SMTPC_EUSER`: a callback aborted the call (or failed: a reader's I/O error, a panic).
    User = sys::SMTPC_EUSER,
    /// `SMTPC_ETLS`: the TLS handshake or TLS I/O failed.
    Tls = sys::SMTPC_ETLS,
    /// `SMTPC_ETLS_VERIFY`: the server's certificate failed verification.
    TlsVerify = sys::SMTPC_ETLS_VERIFY,
    /// `SMTPC_ETLS_REQUIRED`: TLS is required and the server does not offer it.
    TlsRequired = sys::SMTPC_ETLS_REQUIRED,
    /// `SMTPC_EAUTH_MECHANISM`: none of the allowed mechanisms is offered.
    AuthMechanism = sys::SMTPC_EAUTH_MECHANISM,
    /// `SMTPC_EAUTH_INSECURE`: credentials would go over an unprotected connection; none was sent.
    AuthInsecure = sys::SMTPC_EAUTH_INSECURE,
    /// `SMTPC_ECANCELLED`: a [`CancelHandle`](crate::CancelHandle) stopped the call.
    Cancelled = sys::SMTPC_ECANCELLED,
}

impl Status {
    /// The symbolic name, e.g. `"SMTPC_EPROTOCOL"` (`"SMTPC_UNKNOWN"` for an unknown code).
    pub fn name(self) -> &'static str {
        unsafe { static_cstr(sys::smtpc_status_name(self.raw())) }
    }

    /// The library's English description of the code.
    pub fn description(self) -> &'static str {
        unsafe { static_cstr(sys::smtpc_strerror(self.raw())) }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A boxed error of a callback or reader, kept as [`Error`]'s source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failed call: its status, the library's detail text, the server's reply when there was one,
/// and for a mail transaction the outcome of every recipient.
pub struct Error {
    pub(crate) status: Status,
    pub(crate) message: String,
    pub(crate) reply: Option<Reply>,
    pub(crate) os_error: i32,
    pub(crate) result: Option<SendResult>,
    pub(crate) source: Option<BoxError>,
    pub(crate) panic: Option<String>,
}

/// `Result<T, smtpc::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn new(status: Status, message: String) -> Error {
        Error {
            status,
            message,
            reply: None,
            os_error: 0,
            result: None,
            source: None,
            panic: None,
        }
    }

    /// The status code of the failure.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The library's detail text (`smtpc_client_errmsg()` and the like), e.g.
    /// `"RCPT TO refused: 550 5.1.1 no such user"`; the status description when it gave none.
    pub fn message(&self) -> &str {
        if self.message.is_empty() {
            self.status.description()
        } else {
            &self.message
        }
    }

    /// The server's reply that caused the failure, when one did (the last reply on the client).
    pub fn reply(&self) -> Option<&Reply> {
        self.reply.as_ref()
    }

    /// The reply code of [`reply`](Self::reply).
    pub fn code(&self) -> Option<u16> {
        self.reply.as_ref().map(|r| r.code())
    }

    /// A 4xx reply: the server asks to try again later.
    pub fn is_temporary(&self) -> bool {
        matches!(self.code(), Some(400..=499))
    }

    /// The operating system's error behind [`Status::Connect`] or [`Status::Io`].
    pub fn os_error(&self) -> Option<std::io::Error> {
        if self.os_error != 0 {
            Some(std::io::Error::from_raw_os_error(self.os_error))
        } else {
            None
        }
    }

    /// For a failed mail transaction: what became of each recipient (delivered, refused, unknown...).
    pub fn result(&self) -> Option<&SendResult> {
        self.result.as_ref()
    }

    /// The text of the panic of a callback (trace, progress, AUTH, token) or reader, caught at the
    /// library boundary and reported as this error.
    pub fn panic_message(&self) -> Option<&str> {
        self.panic.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.message(), self.status.name())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("status", &self.status).field("message", &self.message);
        if let Some(r) = &self.reply {
            d.field("reply", r);
        }
        if self.os_error != 0 {
            d.field("os_error", &self.os_error);
        }
        if let Some(r) = &self.result {
            d.field("result", r);
        }
        if let Some(s) = &self.source {
            d.field("source", s);
        }
        if let Some(p) = &self.panic {
            d.field("panic", p);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| &**e as &(dyn std::error::Error + 'static))
    }
}
