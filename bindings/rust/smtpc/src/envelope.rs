// SPDX-License-Identifier: MIT
//! Envelopes: sender, recipients and ESMTP parameters.

use crate::error::{Error, Result, Status};
use crate::util::{arg, owned_cstr, OK};
use smtpc_sys as sys;
use std::ptr::NonNull;

/// A message envelope (sender, recipients, MAIL and RCPT parameters). Not tied to a client: one
/// envelope may be sent through several clients. Every address and parameter is checked when it
/// is added, and a bad one is refused with [`Status::Invalid`] and the reason, leaving the
/// envelope unchanged.
pub struct Envelope {
    raw: NonNull<sys::smtpc_envelope>,
}

// An envelope is an independent handle with no callbacks: it may move between threads (the C
// contract: one thread at a time per handle, hence not Sync).
unsafe impl Send for Envelope {}

impl Envelope {
    /// An empty envelope: the null sender `<>`, no recipients.
    pub fn new() -> Envelope {
        let mut raw = std::ptr::null_mut();
        let st = unsafe { sys::smtpc_envelope_new(&mut raw) };
        match NonNull::new(raw) {
            Some(raw) if st == OK => Envelope { raw },
            _ => panic!("smtpc_envelope_new failed: {}", Status::from_raw(st)),
        }
    }

    /// An envelope from a sender and a list of recipients.
    pub fn with<I, S>(sender: &str, recipients: I) -> Result<Envelope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut env = Envelope::new();
        env.set_sender(sender)?;
        for r in recipients {
            env.add_recipient(r.as_ref())?;
        }
        Ok(env)
    }

    pub(crate) fn as_ptr(&self) -> *const sys::smtpc_envelope {
        self.raw.as_ptr()
    }

    fn check(&self, st: sys::smtpc_status) -> Result<()> {
        if st == OK {
            return Ok(());
        }
        let msg = unsafe { owned_cstr(sys::smtpc_envelope_errmsg(self.raw.as_ptr())) };
        Err(Error::new(Status::from_raw(st), msg))
    }

    /// Set the sender: a bare address, the same in angle brackets, or "" for the null sender.
    pub fn set_sender(&mut self, addr: &str) -> Result<()> {
        let (p, n) = arg(addr.as_bytes());
        self.check(unsafe { sys::smtpc_envelope_set_sender(self.raw.as_ptr(), p, n) })
    }

    /// Append a recipient (kept in order; duplicates are kept).
    pub fn add_recipient(&mut self, addr: &str) -> Result<()> {
        let (p, n) = arg(addr.as_bytes());
        self.check(unsafe { sys::smtpc_envelope_add_recipient(self.raw.as_ptr(), p, n) })
    }

    /// Append an ESMTP parameter for MAIL FROM, e.g. `"BODY=8BITMIME"` (not SIZE: the library adds
    /// it).
    pub fn add_mail_option(&mut self, opt: &str) -> Result<()> {
        let (p, n) = arg(opt.as_bytes());
        self.check(unsafe { sys::smtpc_envelope_add_mail_option(self.raw.as_ptr(), p, n) })
    }

    /// Append an ESMTP parameter sent with every RCPT TO, e.g. `"NOTIFY=SUCCESS,FAILURE"`.
    pub fn add_rcpt_option(&mut self, opt: &str) -> Result<()> {
        let (p, n) = arg(opt.as_bytes());
        self.check(unsafe { sys::smtpc_envelope_add_rcpt_option(self.raw.as_ptr(), p, n) })
    }

    /// The number of recipients.
    pub fn recipient_count(&self) -> usize {
        unsafe { sys::smtpc_envelope_recipient_count(self.raw.as_ptr()) }
    }
}

impl Default for Envelope {
    fn default() -> Self {
        Envelope::new()
    }
}

impl Drop for Envelope {
    fn drop(&mut self) {
        unsafe { sys::smtpc_envelope_free(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("recipients", &self.recipient_count())
            .finish()
    }
}
