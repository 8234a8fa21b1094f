// SPDX-License-Identifier: MIT
//! Server replies and per-recipient results, copied out of the library into plain Rust values
//! (the library's own are borrowed and short-lived).

use crate::util::{owned_counted, owned_cstr};
use smtpc_sys as sys;
use std::fmt;

/// A server reply: code, enhanced status code (RFC 3463) and text lines. Text that is not UTF-8
/// is kept with U+FFFD in place of the invalid bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    enhanced: Option<String>,
    lines: Vec<String>,
    text: String,
}

impl Reply {
    /// Copy a reply of the library; `None` for NULL.
    pub(crate) unsafe fn from_raw(r: *const sys::smtpc_reply) -> Option<Reply> {
        if r.is_null() {
            return None;
        }
        let code = sys::smtpc_reply_code(r);
        let enhanced = owned_cstr(sys::smtpc_reply_enhanced(r));
        let mut len = 0usize;
        let text = owned_counted(sys::smtpc_reply_text(r, &mut len), len).unwrap_or_default();
        let n = sys::smtpc_reply_line_count(r);
        let mut lines = Vec::with_capacity(n);
        for i in 0..n {
            let mut len = 0usize;
            lines.push(owned_counted(sys::smtpc_reply_line(r, i, &mut len), len).unwrap_or_default());
        }
        Some(Reply {
            code: u16::try_from(code).unwrap_or(0),
            enhanced: if enhanced.is_empty() { None } else { Some(enhanced) },
            lines,
            text,
        })
    }

    pub(crate) fn empty() -> Reply {
        Reply {
            code: 0,
            enhanced: None,
            lines: Vec::new(),
            text: String::new(),
        }
    }

    /// The three-digit reply code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The enhanced status code ("2.1.0") when the reply starts with one.
    pub fn enhanced(&self) -> Option<&str> {
        self.enhanced.as_deref()
    }

    /// The text as Python's smtplib joins it: each line's text, stripped, joined with "\n".
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Each line as received, after the code and separator.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.text.replace('\n', " "))
    }
}

/// What became of one recipient of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RcptState {
    /// Not attempted: the transaction stopped before its RCPT TO was answered.
    NotAttempted,
    /// RCPT TO was refused.
    Refused,
    /// RCPT TO was accepted and the message was not sent (yet, or withdrawn).
    Accepted,
    /// The message was accepted for this recipient.
    Delivered,
    /// The message was refused for this recipient.
    Failed,
    /// The connection was lost after the message was sent: it may or may not have been delivered.
    Unknown,
    /// A state this version of the crate does not know.
    Other(i32),
}

impl RcptState {
    fn from_raw(raw: sys::smtpc_rcpt_state) -> RcptState {
        match raw {
            sys::SMTPC_RCPT_NOT_ATTEMPTED => RcptState::NotAttempted,
            sys::SMTPC_RCPT_REFUSED => RcptState::Refused,
            sys::SMTPC_RCPT_ACCEPTED => RcptState::Accepted,
            sys::SMTPC_RCPT_DELIVERED => RcptState::Delivered,
            sys::SMTPC_RCPT_FAILED => RcptState::Failed,
            sys::SMTPC_RCPT_UNKNOWN => RcptState::Unknown,
            other => RcptState::Other(other),
        }
    }
}

/// One recipient's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    address: String,
    state: RcptState,
    rcpt_reply: Option<Reply>,
    data_reply: Option<Reply>,
}

impl RecipientResult {
    /// The address as given.
    pub fn address(&self) -> &str {
        &self.address
    }
    /// What became of it.
    pub fn state(&self) -> RcptState {
        self.state
    }
    /// The reply to its RCPT TO, when answered.
    pub fn rcpt_reply(&self) -> Option<&Reply> {
        self.rcpt_reply.as_ref()
    }
    /// The reply that decided the message's fate for it (DATA's refusal, the final reply, or in
    /// LMTP its own reply after the message).
    pub fn data_reply(&self) -> Option<&Reply> {
        self.data_reply.as_ref()
    }
    /// The reply that decided this recipient's state: the data reply, else the RCPT reply.
    pub fn reply(&self) -> Option<&Reply> {
        self.data_reply.as_ref().or(self.rcpt_reply.as_ref())
    }
    /// The message was accepted for this recipient.
    pub fn is_delivered(&self) -> bool {
        self.state == RcptState::Delivered
    }
}

/// The outcome of a mail transaction, recipient by recipient (in LMTP each recipient has its own
/// reply after the message).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendResult {
    mail_reply: Option<Reply>,
    recipients: Vec<RecipientResult>,
}

impl SendResult {
    /// Copy a result of the library (empty for NULL).
    pub(crate) unsafe fn from_raw(res: *const sys::smtpc_result) -> SendResult {
        if res.is_null() {
            return SendResult::default();
        }
        let n = sys::smtpc_result_count(res);
        let mut recipients = Vec::with_capacity(n);
        for i in 0..n {
            let mut len = 0usize;
            let address = owned_counted(sys::smtpc_result_recipient(res, i, &mut len), len).unwrap_or_default();
            recipients.push(RecipientResult {
                address,
                state: RcptState::from_raw(sys::smtpc_result_state(res, i)),
                rcpt_reply: Reply::from_raw(sys::smtpc_result_rcpt_reply(res, i)),
                data_reply: Reply::from_raw(sys::smtpc_result_data_reply(res, i)),
            });
        }
        SendResult {
            mail_reply: Reply::from_raw(sys::smtpc_result_mail_reply(res)),
            recipients,
        }
    }

    /// The reply to MAIL FROM, when answered.
    pub fn mail_reply(&self) -> Option<&Reply> {
        self.mail_reply.as_ref()
    }
    /// Every recipient, in the order given.
    pub fn recipients(&self) -> &[RecipientResult] {
        &self.recipients
    }
    /// The recipients the message was delivered to.
    pub fn delivered(&self) -> impl Iterator<Item = &RecipientResult> {
        self.recipients.iter().filter(|r| r.state == RcptState::Delivered)
    }
    /// The recipients it was not delivered to, whatever the reason.
    pub fn not_delivered(&self) -> impl Iterator<Item = &RecipientResult> {
        self.recipients.iter().filter(|r| r.state != RcptState::Delivered)
    }
    /// How many recipients it was delivered to.
    pub fn delivered_count(&self) -> usize {
        self.delivered().count()
    }
    /// The outcome for one address (the first recipient given with it).
    pub fn get(&self, address: &str) -> Option<&RecipientResult> {
        self.recipients.iter().find(|r| r.address == address)
    }
}
