// SPDX-License-Identifier: MIT
//! Many messages over one connection: a queue of messages sent back to back, one result each.

use crate::envelope::Envelope;
use crate::error::{BoxError, Error, Status};
use crate::reply::{Reply, SendResult};
use std::io::Read;

/// The body of a queued message.
pub(crate) enum Body {
    Bytes(Vec<u8>),
    Reader(Box<dyn Read + Send>, Option<u64>),
}

/// A message for [`Client::enqueue`](crate::Client::enqueue): an envelope (copied when queued), a
/// body (owned by the client until the message's result is taken) and a tag of the caller's.
pub struct Message<'e> {
    pub(crate) envelope: Option<&'e Envelope>,
    pub(crate) body: Body,
    pub(crate) tag: u64,
    pub(crate) from_headers: bool,
}

impl<'e> Message<'e> {
    /// A message whose body is these bytes (encoded as [`Client::sendmail`](crate::Client::sendmail)
    /// encodes them).
    pub fn new<B: Into<Vec<u8>>>(envelope: &'e Envelope, body: B) -> Message<'e> {
        Message {
            envelope: Some(envelope),
            body: Body::Bytes(body.into()),
            tag: 0,
            from_headers: false,
        }
    }

    /// A message whose body is read from `reader` while it is sent, in constant memory;
    /// `size_hint` is declared as SIZE and counts towards the window.
    pub fn from_reader<R: Read + Send + 'static>(
        envelope: &'e Envelope,
        reader: R,
        size_hint: Option<u64>,
    ) -> Message<'e> {
        Message {
            envelope: Some(envelope),
            body: Body::Reader(Box::new(reader), size_hint),
            tag: 0,
            from_headers: false,
        }
    }

    /// An RFC 5322 message whose envelope comes from its headers, as
    /// [`Client::send_message`](crate::Client::send_message) takes it (Bcc never transmitted).
    pub fn from_headers<B: Into<Vec<u8>>>(body: B) -> Message<'static> {
        Message {
            envelope: None,
            body: Body::Bytes(body.into()),
            tag: 0,
            from_headers: true,
        }
    }

    /// Set the tag echoed by [`MessageResult::tag`].
    pub fn tag(mut self, tag: u64) -> Self {
        self.tag = tag;
        self
    }
}

/// What became of a queued message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageState {
    /// Accepted for every recipient.
    Delivered,
    /// Accepted for some recipients only.
    Partial,
    /// Refused by the server (MAIL, every RCPT, DATA or the message).
    Refused,
    /// Not sent (its end of data never went out): nothing was delivered; it may be sent again.
    NotSent,
    /// Its end of data went out and the connection was lost before the reply: it may or may not
    /// have been delivered.
    Unknown,
    /// A state this version of the crate does not know.
    Other(i32),
}

impl MessageState {
    pub(crate) fn from_raw(raw: i32) -> MessageState {
        use smtpc_sys as sys;
        match raw {
            sys::SMTPC_MESSAGE_DELIVERED => MessageState::Delivered,
            sys::SMTPC_MESSAGE_PARTIAL => MessageState::Partial,
            sys::SMTPC_MESSAGE_REFUSED => MessageState::Refused,
            sys::SMTPC_MESSAGE_NOT_SENT => MessageState::NotSent,
            sys::SMTPC_MESSAGE_UNKNOWN => MessageState::Unknown,
            other => MessageState::Other(other),
        }
    }
}

/// The outcome of one queued message.
#[derive(Debug)]
pub struct MessageResult {
    pub(crate) tag: u64,
    pub(crate) state: MessageState,
    pub(crate) recipients: SendResult,
    pub(crate) reply: Option<Reply>,
    pub(crate) error: Option<Error>,
}

impl MessageResult {
    /// The message's tag.
    pub fn tag(&self) -> u64 {
        self.tag
    }
    /// What became of it.
    pub fn state(&self) -> MessageState {
        self.state
    }
    /// Each recipient's outcome.
    pub fn recipients(&self) -> &SendResult {
        &self.recipients
    }
    /// The reply that decided the message.
    pub fn reply(&self) -> Option<&Reply> {
        self.reply.as_ref()
    }
    /// The error [`Client::sendmail`](crate::Client::sendmail) would have returned, if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }
    /// `Ok(recipients)` when the message was accepted (for at least one recipient), else the error.
    pub fn into_result(self) -> crate::Result<SendResult> {
        match self.error {
            None => Ok(self.recipients),
            Some(e) => Err(e),
        }
    }
}

pub(crate) fn result_error(
    status: i32,
    message: String,
    reply: Option<Reply>,
    recipients: &SendResult,
    source: Option<BoxError>,
    panic: Option<String>,
) -> Error {
    let mut e = Error::new(Status::from_raw(status), message);
    e.reply = reply;
    e.result = Some(recipients.clone());
    if let Some(src) = source {
        e.message = format!("{}: {}", e.message(), src);
        e.source = Some(src);
    }
    if let Some(p) = panic {
        e.message = format!("{}: {}", e.message(), p);
        e.panic = Some(p);
    }
    e
}
