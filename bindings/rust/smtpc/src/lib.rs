// SPDX-License-Identifier: MIT
//! Safe Rust API of libsmtpc, an SMTP/LMTP client library with a stable C ABI.
//!
//! ```no_run
//! use smtpc::{Client, Envelope};
//!
//! fn main() -> Result<(), smtpc::Error> {
//!     let mut client = Client::smtp()?;
//!     client.connect("mail.example.org", 587)?;
//!     client.login("user@example.org", "password")?;
//!     let env = Envelope::with("me@example.org", ["you@example.org"])?;
//!     let result = client.sendmail(&env, b"Subject: hi\r\n\r\nHello.\r\n")?;
//!     for r in result.recipients() {
//!         println!("{}: {:?}", r.address(), r.state());
//!     }
//!     client.quit()?;
//!     Ok(())
//! }
//! ```
//!
//! - Every handle of the C library is an owned value freed on `Drop`: [`Client`], [`Envelope`],
//!   [`TlsConfig`]. Replies and results are copied into plain values ([`Reply`], [`SendResult`]).
//! - Every failure is an [`Error`] (`std::error::Error`) with the status, the library's detail
//!   text, the server's reply, and for mail transactions each recipient's outcome.
//! - Callbacks are closures: trace, progress, message bodies (`std::io::Read`), AUTH and OAuth
//!   token sources. A panic in one is caught at the library boundary (it must not unwind through
//!   C) and returned as an error ([`Error::panic_message`]).
//! - A [`Client`] is `Send` but not `Sync`; a [`CancelHandle`] (`Send + Sync`) stops its running
//!   call from any thread.

#![allow(clippy::needless_lifetimes)]

mod batch;
mod client;
mod envelope;
mod error;
mod reply;
mod tls;
mod util;

pub use batch::{Message, MessageResult, MessageState};
pub use client::{CancelHandle, Client, Protocol, SaslStep, TraceEvent, TraceKind, TraceLevel};
pub use envelope::{BodyType, DeliverBy, DsnNotify, DsnRet, Envelope, Smtputf8};
pub use error::{BoxError, Error, Result, Status};
pub use reply::{RcptState, RecipientResult, Reply, SendResult};
pub use smtpc_sys as sys;
pub use tls::{TlsConfig, TlsInfo, TlsPolicy, TlsVersion};

/// The version of the library loaded at run time, e.g. "0.1.0".
pub fn version() -> &'static str {
    unsafe { util::static_cstr(sys::smtpc_version()) }
}

/// The version of the library loaded at run time as MAJOR * 10000 + MINOR * 100 + PATCH.
pub fn version_number() -> u32 {
    unsafe { sys::smtpc_version_number() }
}
