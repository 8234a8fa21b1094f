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

    // Typed ESMTP parameters: checked when set, and at send time against the server's EHLO reply
    // (a parameter it does not offer fails the send with Status::NotSupported before MAIL FROM).

    /// DSN (RFC 3461) RET and ENVID on MAIL FROM (`DsnRet::Unset` and `None` remove both).
    pub fn set_dsn(&mut self, ret: DsnRet, envid: Option<&str>) -> Result<()> {
        let (p, n) = match envid {
            Some(e) => arg(e.as_bytes()),
            None => (std::ptr::null(), 0),
        };
        self.check(unsafe { sys::smtpc_envelope_set_dsn(self.raw.as_ptr(), ret.raw(), p, n) })
    }

    /// Leave the DSN parameters out, silently, when the server does not offer DSN (instead of
    /// failing with [`Status::NotSupported`]).
    pub fn set_dsn_optional(&mut self, drop: bool) -> Result<()> {
        self.check(unsafe { sys::smtpc_envelope_set_dsn_optional(self.raw.as_ptr(), drop as _) })
    }

    /// Append a recipient with its DSN NOTIFY flags and original recipient (ORCPT).
    pub fn add_recipient_dsn(&mut self, addr: &str, notify: DsnNotify, orcpt: Option<&str>) -> Result<()> {
        let (ap, an) = arg(addr.as_bytes());
        let (op, on) = match orcpt {
            Some(o) => arg(o.as_bytes()),
            None => (std::ptr::null(), 0),
        };
        self.check(unsafe { sys::smtpc_envelope_add_recipient_dsn(self.raw.as_ptr(), ap, an, notify.0, op, on) })
    }

    /// REQUIRETLS (RFC 8689): the message goes only over verified TLS to a server offering it.
    pub fn set_requiretls(&mut self, on: bool) -> Result<()> {
        self.check(unsafe { sys::smtpc_envelope_set_requiretls(self.raw.as_ptr(), on as _) })
    }

    /// MT-PRIORITY (RFC 6710): -9 ..= 9, `None` to remove it.
    pub fn set_mt_priority(&mut self, priority: Option<i32>) -> Result<()> {
        let p = priority.unwrap_or(sys::SMTPC_MT_PRIORITY_UNSET);
        self.check(unsafe { sys::smtpc_envelope_set_mt_priority(self.raw.as_ptr(), p) })
    }

    /// DELIVERBY (RFC 2852): deliver within `seconds`, else return (`DeliverBy::Return`) or notify.
    pub fn set_deliver_by(&mut self, seconds: i64, mode: DeliverBy, trace: bool) -> Result<()> {
        let m = match mode {
            DeliverBy::Unset => sys::SMTPC_DELIVERBY_UNSET,
            DeliverBy::Return => sys::SMTPC_DELIVERBY_RETURN,
            DeliverBy::Notify => sys::SMTPC_DELIVERBY_NOTIFY,
        };
        self.check(unsafe { sys::smtpc_envelope_set_deliver_by(self.raw.as_ptr(), seconds as _, m, trace as _) })
    }

    /// FUTURERELEASE (RFC 4865) HOLDFOR, in seconds (0 removes it).
    pub fn set_hold_for(&mut self, seconds: u64) -> Result<()> {
        self.check(unsafe { sys::smtpc_envelope_set_hold_for(self.raw.as_ptr(), seconds as _) })
    }

    /// FUTURERELEASE (RFC 4865) HOLDUNTIL, an RFC 3339 date-time (`None` removes it).
    pub fn set_hold_until(&mut self, time: Option<&str>) -> Result<()> {
        let (p, n) = match time {
            Some(t) => arg(t.as_bytes()),
            None => (std::ptr::null(), 0),
        };
        self.check(unsafe { sys::smtpc_envelope_set_hold_until(self.raw.as_ptr(), p, n) })
    }

    /// AUTH= on MAIL FROM (RFC 4954): the submitting identity ("" sends "AUTH=<>"; `None` removes).
    pub fn set_auth(&mut self, identity: Option<&str>) -> Result<()> {
        let (p, n) = match identity {
            Some(i) => arg(i.as_bytes()),
            None => (std::ptr::null(), 0),
        };
        self.check(unsafe { sys::smtpc_envelope_set_auth(self.raw.as_ptr(), p, n) })
    }

    /// The BODY parameter (default [`BodyType::Auto`]).
    pub fn set_body(&mut self, body: BodyType) -> Result<()> {
        let b = match body {
            BodyType::Auto => sys::SMTPC_BODY_AUTO,
            BodyType::SevenBit => sys::SMTPC_BODY_7BIT,
            BodyType::EightBitMime => sys::SMTPC_BODY_8BITMIME,
            BodyType::BinaryMime => sys::SMTPC_BODY_BINARYMIME,
        };
        self.check(unsafe { sys::smtpc_envelope_set_body(self.raw.as_ptr(), b) })
    }

    /// When SMTPUTF8 is used (default [`Smtputf8::Auto`]).
    pub fn set_smtputf8(&mut self, mode: Smtputf8) -> Result<()> {
        let m = match mode {
            Smtputf8::Auto => sys::SMTPC_SMTPUTF8_AUTO,
            Smtputf8::On => sys::SMTPC_SMTPUTF8_ON,
            Smtputf8::Off => sys::SMTPC_SMTPUTF8_OFF,
        };
        self.check(unsafe { sys::smtpc_envelope_set_smtputf8(self.raw.as_ptr(), m) })
    }
}

/// DSN RET (RFC 3461): what a failure notification returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnRet {
    /// No RET parameter.
    Unset,
    /// RET=FULL: the whole message.
    Full,
    /// RET=HDRS: the headers only.
    Headers,
}

impl DsnRet {
    fn raw(self) -> i32 {
        match self {
            DsnRet::Unset => sys::SMTPC_DSN_RET_UNSET,
            DsnRet::Full => sys::SMTPC_DSN_RET_FULL,
            DsnRet::Headers => sys::SMTPC_DSN_RET_HDRS,
        }
    }
}

/// DSN NOTIFY flags (RFC 3461): `NEVER` alone, or `SUCCESS | FAILURE | DELAY` in any combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DsnNotify(u32);

impl DsnNotify {
    /// No NOTIFY parameter.
    pub const NONE: DsnNotify = DsnNotify(0);
    /// NOTIFY=NEVER.
    pub const NEVER: DsnNotify = DsnNotify(sys::SMTPC_DSN_NOTIFY_NEVER as u32);
    /// NOTIFY=SUCCESS.
    pub const SUCCESS: DsnNotify = DsnNotify(sys::SMTPC_DSN_NOTIFY_SUCCESS as u32);
    /// NOTIFY=FAILURE.
    pub const FAILURE: DsnNotify = DsnNotify(sys::SMTPC_DSN_NOTIFY_FAILURE as u32);
    /// NOTIFY=DELAY.
    pub const DELAY: DsnNotify = DsnNotify(sys::SMTPC_DSN_NOTIFY_DELAY as u32);
}

impl std::ops::BitOr for DsnNotify {
    type Output = DsnNotify;
    fn bitor(self, rhs: DsnNotify) -> DsnNotify {
        DsnNotify(self.0 | rhs.0)
    }
}

/// DELIVERBY (RFC 2852) mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverBy {
    /// No BY parameter.
    Unset,
    /// "R": return the message if not delivered in time.
    Return,
    /// "N": notify if not delivered in time.
    Notify,
}

/// The BODY parameter (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    /// Chosen from the message (8BITMIME for 8-bit text when offered, BINARYMIME when needed).
    Auto,
    /// BODY=7BIT.
    SevenBit,
    /// BODY=8BITMIME.
    EightBitMime,
    /// BODY=BINARYMIME, sent with BDAT exactly as given.
    BinaryMime,
}

/// When SMTPUTF8 (RFC 6531) is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smtputf8 {
    /// When an address (or a header of a message in memory) is not ASCII.
    Auto,
    /// Always.
    On,
    /// Never (a non-ASCII address then fails).
    Off,
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
