// SPDX-License-Identifier: MIT
//! The client session.

use crate::batch::{result_error, Body, Message, MessageResult, MessageState};
use crate::envelope::Envelope;
use crate::error::{BoxError, Error, Result, Status};
use crate::reply::{Reply, SendResult};
use crate::tls::{TlsConfig, TlsInfo, TlsPolicy};
use crate::util::{arg, owned_counted, owned_cstr, panic_text, wipe, OK};
use smtpc_sys as sys;
use std::cell::Cell;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which protocol a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// SMTP (RFC 5321), default port 25.
    Smtp,
    /// LMTP (RFC 2033), default port 2003: one reply per recipient after the message.
    Lmtp,
}

/// What a trace line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceKind {
    /// A command line the client sent (with its CRLF).
    Send,
    /// A reply line the client received (with its CRLF).
    Recv,
    /// A block of the message as sent.
    Data,
    /// A note from the library (connection opened or closed, address tried).
    Info,
    /// A kind this version of the crate does not know.
    Other(i32),
}

/// How much the trace shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceLevel {
    /// Every line sent and received.
    Lines,
    /// The same, each with its wall-clock time.
    Timestamps,
}

/// One traced protocol event. Credentials never appear in clear ("AUTH PLAIN ****").
#[derive(Debug)]
pub struct TraceEvent<'a> {
    /// What it is.
    pub kind: TraceKind,
    /// The bytes (borrowed for the callback).
    pub data: &'a [u8],
    /// When, at [`TraceLevel::Timestamps`].
    pub time: Option<SystemTime>,
}

/// A step of a custom SASL exchange (see [`Client::auth`]).
#[derive(Debug, Clone, Copy)]
pub enum SaslStep<'a> {
    /// The library asks for an initial response: return `Ok(None)` for none.
    Initial,
    /// A decoded challenge of the server: return the response (`Ok(None)` sends an empty one).
    Challenge(&'a [u8]),
}

type TraceFn = Box<dyn FnMut(&TraceEvent<'_>) + Send>;
type ProgressFn = Box<dyn FnMut(u64, Option<u64>) -> ControlFlow<()> + Send>;

/// The closures registered on a client. Allocated once and handed to the library as userdata; the
/// library calls them only during a call on the client, one at a time.
#[derive(Default)]
struct Callbacks {
    trace: Option<TraceFn>,
    progress: Option<ProgressFn>,
    /// The first panic of a callback during the running call, reported as an error when it returns.
    panic: Option<String>,
}

/// Owner of the C handle. Shared with [`CancelHandle`]s only through weak references, so the
/// handle lives while a cancel is being delivered and is freed as soon as both are done.
struct Handle(*mut sys::smtpc_client);

// The handle is used by the Client (one thread at a time) and, concurrently, only through
// smtpc_client_cancel, which the C contract makes safe from any thread.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // Calls no callback (the header says so, and Client::drop detached them first anyway).
        unsafe { sys::smtpc_client_free(self.0) }
    }
}

/// One SMTP or LMTP session (reusable: after `quit` or `close` it may connect again).
///
/// A client may move to another thread (`Send`) but not be shared (`!Sync`): calls take
/// `&mut self`. To stop a call from elsewhere, use a [`CancelHandle`].
///
/// Every call that fails returns an [`Error`] with the status, the library's detail text and the
/// server's reply; the mail-sending calls also carry the per-recipient [`SendResult`].
pub struct Client {
    handle: Arc<Handle>,
    callbacks: *mut Callbacks,
    /// The bodies of queued messages, which the library borrows until each result is taken (in
    /// queue order). Kept here, not in a guard the caller could forget, so that they always
    /// outlive the library's use of them.
    queue: VecDeque<Queued>,
    _not_sync: PhantomData<Cell<()>>,
}

enum Queued {
    Bytes(#[allow(dead_code)] Vec<u8>),
    Reader(Box<QueuedReader>),
}

struct QueuedReader {
    reader: Box<dyn Read + Send>,
    error: Option<io::Error>,
    panic: Option<String>,
}

// The C contract lets a client move between threads; the closures it holds are Send.
unsafe impl Send for Client {}

/// Stops the call running on a client, from any thread (`Send + Sync`, `Clone`). The call returns
/// [`Status::Cancelled`] promptly and the connection is closed; a cancel with no call running stops
/// the next call that would talk to the server, before it sends anything.
///
/// It does not keep the client alive: once the client is dropped (and any cancel running on another
/// thread at that moment has returned), [`cancel`](Self::cancel) does nothing and returns `false`.
#[derive(Clone)]
pub struct CancelHandle {
    handle: Weak<Handle>,
}

impl CancelHandle {
    /// Ask the client's running (or next) call to stop. `false` when the client no longer exists.
    pub fn cancel(&self) -> bool {
        match self.handle.upgrade() {
            Some(h) => {
                unsafe { sys::smtpc_client_cancel(h.0) };
                true
            }
            None => false,
        }
    }
}

impl std::fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelHandle")
            .field("alive", &(self.handle.strong_count() > 0))
            .finish()
    }
}

unsafe extern "C" fn trace_trampoline(
    kind: sys::smtpc_trace_kind,
    data: *const c_char,
    len: usize,
    time_us: i64,
    userdata: *mut c_void,
) {
    let cb = &mut *(userdata as *mut Callbacks);
    if cb.panic.is_some() {
        return; // the closure panicked earlier in this call: leave it alone until the call returns
    }
    let f = match cb.trace.as_mut() {
        Some(f) => f,
        None => return,
    };
    let data: &[u8] = if data.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(data as *const u8, len)
    };
    let kind = match kind {
        sys::SMTPC_TRACE_SEND => TraceKind::Send,
        sys::SMTPC_TRACE_RECV => TraceKind::Recv,
        sys::SMTPC_TRACE_DATA => TraceKind::Data,
        sys::SMTPC_TRACE_INFO => TraceKind::Info,
        other => TraceKind::Other(other),
    };
    let time = if time_us > 0 {
        Some(UNIX_EPOCH + Duration::from_micros(time_us as u64))
    } else {
        None
    };
    let ev = TraceEvent { kind, data, time };
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(&ev))) {
        cb.panic = Some(format!("trace callback panicked: {}", panic_text(p)));
    }
}

unsafe extern "C" fn progress_trampoline(sent: u64, total: u64, userdata: *mut c_void) -> c_int {
    let cb = &mut *(userdata as *mut Callbacks);
    if cb.panic.is_some() {
        return 1;
    }
    let f = match cb.progress.as_mut() {
        Some(f) => f,
        None => return 0,
    };
    let total = if total == 0 { None } else { Some(total) };
    match catch_unwind(AssertUnwindSafe(|| f(sent, total))) {
        Ok(ControlFlow::Continue(())) => 0,
        Ok(ControlFlow::Break(())) => 1,
        Err(p) => {
            cb.panic = Some(format!("progress callback panicked: {}", panic_text(p)));
            1
        }
    }
}

/// State of one `sendmail_stream` call's reader.
struct ReadState<'a> {
    reader: &'a mut dyn Read,
    error: Option<io::Error>,
    panic: Option<String>,
}

unsafe extern "C" fn read_trampoline(buf: *mut c_char, cap: usize, len: *mut usize, userdata: *mut c_void) -> c_int {
    let st = &mut *(userdata as *mut ReadState<'_>);
    read_into(&mut *st.reader, buf, cap, len, &mut st.error, &mut st.panic)
}

unsafe extern "C" fn queued_read_trampoline(
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
    userdata: *mut c_void,
) -> c_int {
    let st = &mut *(userdata as *mut QueuedReader);
    read_into(&mut *st.reader, buf, cap, len, &mut st.error, &mut st.panic)
}

unsafe fn read_into(
    reader: &mut dyn Read,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
    error: &mut Option<io::Error>,
    panic: &mut Option<String>,
) -> c_int {
    *len = 0;
    // The library's buffer may be uninitialised; a &mut [u8] over it must not be.
    std::ptr::write_bytes(buf as *mut u8, 0, cap);
    let slice = std::slice::from_raw_parts_mut(buf as *mut u8, cap);
    let r = catch_unwind(AssertUnwindSafe(|| loop {
        match reader.read(slice) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }));
    match r {
        Ok(Ok(n)) if n <= cap => {
            *len = n;
            0
        }
        Ok(Ok(n)) => {
            *error = Some(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the reader returned {} bytes for a buffer of {}", n, cap),
            ));
            1
        }
        Ok(Err(e)) => {
            *error = Some(e);
            1
        }
        Err(p) => {
            *panic = Some(format!("reader panicked: {}", panic_text(p)));
            1
        }
    }
}

type SaslFn<'a> = dyn FnMut(SaslStep<'_>) -> std::result::Result<Option<Vec<u8>>, BoxError> + 'a;
type TokenFn<'a> = dyn FnMut() -> std::result::Result<String, BoxError> + 'a;

/// State of one AUTH call's closure.
struct AuthState<'a, F: ?Sized> {
    f: &'a mut F,
    error: Option<BoxError>,
    panic: Option<String>,
}

/// Hand a response to the library, then wipe our copy (it may be a credential).
unsafe fn set_response(resp: *mut sys::smtpc_auth_response, mut bytes: Vec<u8>) -> c_int {
    let (p, n) = arg(&bytes);
    let st = sys::smtpc_auth_response_set(resp, p, n);
    wipe(&mut bytes);
    if st == OK {
        0
    } else {
        1
    }
}

unsafe extern "C" fn sasl_trampoline(
    challenge: *const c_char,
    challenge_len: usize,
    is_initial: c_int,
    resp: *mut sys::smtpc_auth_response,
    userdata: *mut c_void,
) -> c_int {
    let st = &mut *(userdata as *mut AuthState<'_, SaslFn<'_>>);
    let step = if is_initial != 0 {
        SaslStep::Initial
    } else if challenge.is_null() {
        SaslStep::Challenge(&[])
    } else {
        SaslStep::Challenge(std::slice::from_raw_parts(challenge as *const u8, challenge_len))
    };
    let f = &mut st.f;
    match catch_unwind(AssertUnwindSafe(|| f(step))) {
        Ok(Ok(Some(bytes))) => set_response(resp, bytes),
        Ok(Ok(None)) => 0,
        Ok(Err(e)) => {
            st.error = Some(e);
            1
        }
        Err(p) => {
            st.panic = Some(format!("AUTH callback panicked: {}", panic_text(p)));
            1
        }
    }
}

unsafe extern "C" fn token_trampoline(token: *mut sys::smtpc_auth_response, userdata: *mut c_void) -> c_int {
    let st = &mut *(userdata as *mut AuthState<'_, TokenFn<'_>>);
    let f = &mut st.f;
    match catch_unwind(AssertUnwindSafe(|| f())) {
        Ok(Ok(t)) => set_response(token, t.into_bytes()),
        Ok(Err(e)) => {
            st.error = Some(e);
            1
        }
        Err(p) => {
            st.panic = Some(format!("token callback panicked: {}", panic_text(p)));
            1
        }
    }
}

fn ms(d: Option<Duration>) -> u32 {
    match d {
        None => 0,
        // At least 1 ms (0 would mean "no limit"), at most u32::MAX ms (about 49 days).
        Some(d) => d.as_millis().clamp(1, u32::MAX as u128) as u32,
    }
}

impl Client {
    /// A client for `protocol`. Nothing is sent until [`connect`](Self::connect).
    pub fn new(protocol: Protocol) -> Result<Client> {
        let raw_protocol = match protocol {
            Protocol::Smtp => sys::SMTPC_PROTOCOL_SMTP,
            Protocol::Lmtp => sys::SMTPC_PROTOCOL_LMTP,
        };
        let mut raw = std::ptr::null_mut();
        let st = unsafe { sys::smtpc_client_new(&mut raw, raw_protocol) };
        if st != OK || raw.is_null() {
            let mut e = Error::new(Status::from_raw(st), "could not create a client".into());
            e.os_error = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            return Err(e);
        }
        Ok(Client {
            handle: Arc::new(Handle(raw)),
            callbacks: Box::into_raw(Box::new(Callbacks::default())),
            queue: VecDeque::new(),
            _not_sync: PhantomData,
        })
    }

    /// An SMTP client.
    pub fn smtp() -> Result<Client> {
        Client::new(Protocol::Smtp)
    }

    /// An LMTP client.
    pub fn lmtp() -> Result<Client> {
        Client::new(Protocol::Lmtp)
    }

    fn raw(&self) -> *mut sys::smtpc_client {
        self.handle.0
    }

    /// The raw handle, for calls this crate does not wrap. It stays owned by the client.
    pub fn as_raw(&self) -> *mut sys::smtpc_client {
        self.raw()
    }

    /// A handle that can cancel this client's calls from another thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle {
            handle: Arc::downgrade(&self.handle),
        }
    }

    /// The status of a call, with the panic of a callback during it (reported even when the
    /// call itself succeeded: the closure did not do what it was meant to).
    fn finish(&mut self, st: sys::smtpc_status, with_result: bool) -> Result<()> {
        let panic = unsafe { (*self.callbacks).panic.take() };
        if st == OK && panic.is_none() {
            return Ok(());
        }
        Err(self.error(st, panic, with_result))
    }

    fn error(&self, st: sys::smtpc_status, panic: Option<String>, with_result: bool) -> Error {
        let raw = self.raw();
        let mut message = unsafe { owned_cstr(sys::smtpc_client_errmsg(raw)) };
        if let Some(p) = &panic {
            message = if message.is_empty() {
                p.clone()
            } else {
                format!("{}; {}", message, p)
            };
        }
        Error {
            status: if st == OK { Status::User } else { Status::from_raw(st) },
            message,
            reply: if reply_kept(st) {
                unsafe { Reply::from_raw(sys::smtpc_client_last_reply(raw)) }
            } else {
                None
            },
            os_error: unsafe { sys::smtpc_client_os_error(raw) },
            result: if with_result { Some(self.last_result()) } else { None },
            source: None,
            panic,
        }
    }

    fn reply_or_error(&mut self, st: sys::smtpc_status) -> Result<Reply> {
        self.finish(st, false)?;
        Ok(self.last_reply().unwrap_or_else(|| unreachable_reply()))
    }

    fn setter(&mut self, st: sys::smtpc_status) -> Result<()> {
        self.finish(st, false)
    }

    // --- Options ---------------------------------------------------------------------------------

    /// The name sent with HELO/EHLO/LHLO (default: this machine's fully qualified name).
    pub fn set_local_hostname(&mut self, name: &str) -> Result<()> {
        let (p, n) = arg(name.as_bytes());
        let st = unsafe { sys::smtpc_client_set_local_hostname(self.raw(), p, n) };
        self.setter(st)
    }

    /// Limit for connecting and receiving the greeting (`None`: no limit; default 30 s).
    pub fn set_connect_timeout(&mut self, t: Option<Duration>) -> Result<()> {
        let st = unsafe { sys::smtpc_client_set_connect_timeout(self.raw(), ms(t)) };
        self.setter(st)
    }

    /// Limit for each command's reply (`None`: no limit; default 300 s).
    pub fn set_command_timeout(&mut self, t: Option<Duration>) -> Result<()> {
        let st = unsafe { sys::smtpc_client_set_command_timeout(self.raw(), ms(t)) };
        self.setter(st)
    }

    /// Bind the outgoing socket to a local address first ("" for any address, port 0 for any).
    pub fn set_source_address(&mut self, host: &str, port: u16) -> Result<()> {
        let (p, n) = arg(host.as_bytes());
        let st = unsafe { sys::smtpc_client_set_source_address(self.raw(), p, n, port) };
        self.setter(st)
    }

    /// Use PIPELINING when offered (default on).
    pub fn set_pipelining(&mut self, on: bool) -> Result<()> {
        let st = unsafe { sys::smtpc_client_set_pipelining(self.raw(), on as c_int) };
        self.setter(st)
    }

    /// Use CHUNKING (BDAT) when offered (default on).
    pub fn set_chunking(&mut self, on: bool) -> Result<()> {
        let st = unsafe { sys::smtpc_client_set_chunking(self.raw(), on as c_int) };
        self.setter(st)
    }

    /// Trace every line sent and received to `f` (replacing an earlier trace). A panic in `f` is
    /// caught; the call it happened in then returns an error saying so.
    pub fn set_trace<F>(&mut self, level: TraceLevel, f: F) -> Result<()>
    where
        F: FnMut(&TraceEvent<'_>) + Send + 'static,
    {
        let lvl = match level {
            TraceLevel::Lines => 1,
            TraceLevel::Timestamps => 2,
        };
        // Detach first: the library never sees a closure being replaced.
        self.clear_trace()?;
        unsafe { (*self.callbacks).trace = Some(Box::new(f)) };
        let st = unsafe {
            sys::smtpc_client_set_trace(self.raw(), lvl, Some(trace_trampoline), self.callbacks as *mut c_void)
        };
        self.setter(st)
    }

    /// Stop tracing.
    pub fn clear_trace(&mut self) -> Result<()> {
        let st = unsafe { sys::smtpc_client_set_trace(self.raw(), 0, None, std::ptr::null_mut()) };
        unsafe { (*self.callbacks).trace = None };
        self.setter(st)
    }

    /// Report the progress of each message body: `f(sent, total)` with the bytes taken so far and
    /// the message size when known. `ControlFlow::Break(())` withdraws the message before its end
    /// of data (the call fails with [`Status::User`], nothing is delivered). A panic aborts the same
    /// way and is reported in the error.
    pub fn set_progress<F>(&mut self, f: F) -> Result<()>
    where
        F: FnMut(u64, Option<u64>) -> ControlFlow<()> + Send + 'static,
    {
        self.clear_progress()?;
        unsafe { (*self.callbacks).progress = Some(Box::new(f)) };
        let st = unsafe {
            sys::smtpc_client_set_progress(self.raw(), Some(progress_trampoline), self.callbacks as *mut c_void)
        };
        self.setter(st)
    }

    /// Remove the progress callback.
    pub fn clear_progress(&mut self) -> Result<()> {
        let st = unsafe { sys::smtpc_client_set_progress(self.raw(), None, std::ptr::null_mut()) };
        unsafe { (*self.callbacks).progress = None };
        self.setter(st)
    }

    // --- TLS -------------------------------------------------------------------------------------

    /// Use `cfg` for this client's TLS from the next connect or STARTTLS (the client keeps its own
    /// reference).
    pub fn set_tls_config(&mut self, cfg: &TlsConfig) -> Result<()> {
        let st = unsafe { sys::smtpc_client_set_tls_config(self.raw(), cfg.as_ptr()) };
        self.setter(st)
    }

    /// When TLS is used (default [`TlsPolicy::Auto`]).
    pub fn set_tls_policy(&mut self, policy: TlsPolicy) -> Result<()> {
        let st = unsafe { sys::smtpc_client_set_tls_policy(self.raw(), policy.raw()) };
        self.setter(st)
    }

    /// The name to send as SNI and check the certificate against, when it differs from the host
    /// given to connect ("" for the host).
    pub fn set_tls_server_name(&mut self, name: &str) -> Result<()> {
        let (p, n) = arg(name.as_bytes());
        let st = unsafe { sys::smtpc_client_set_tls_server_name(self.raw(), p, n) };
        self.setter(st)
    }

    /// FOR TESTING ONLY: accept any server certificate (encrypted, not authenticated).
    pub fn set_tls_insecure_skip_verify_for_testing(&mut self, on: bool) -> Result<()> {
        let st = unsafe { sys::smtpc_client_set_tls_insecure_skip_verify_for_testing(self.raw(), on as c_int) };
        self.setter(st)
    }

    /// Send STARTTLS and run the handshake (EHLO first when needed). Afterwards the caller, or the
    /// next high-level call, says EHLO again.
    pub fn starttls(&mut self) -> Result<Reply> {
        let st = unsafe { sys::smtpc_client_starttls(self.raw()) };
        self.reply_or_error(st)
    }

    /// The connection is encrypted.
    pub fn tls_active(&self) -> bool {
        unsafe { sys::smtpc_client_tls_active(self.raw()) != 0 }
    }

    /// The facts of the encrypted connection, `None` when not encrypted.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        if !self.tls_active() {
            return None;
        }
        let raw = self.raw();
        unsafe {
            Some(TlsInfo {
                version: owned_cstr(sys::smtpc_client_tls_version(raw)),
                cipher: owned_cstr(sys::smtpc_client_tls_cipher(raw)),
                peer_subject: owned_cstr(sys::smtpc_client_tls_peer_subject(raw)),
                peer_fingerprint: owned_cstr(sys::smtpc_client_tls_peer_fingerprint(raw)),
                verified: sys::smtpc_client_tls_verified(raw) != 0,
                verify_result: sys::smtpc_client_tls_verify_result(raw) as i64,
                resumed: sys::smtpc_client_tls_resumed(raw) != 0,
            })
        }
    }

    // --- Connection ------------------------------------------------------------------------------

    /// Connect and read the greeting, which is returned. `host` is a name, an address, or a Unix
    /// socket path starting with '/'; `port` 0 uses a ":port" suffix of `host`, else the
    /// protocol's default.
    pub fn connect(&mut self, host: &str, port: u16) -> Result<Reply> {
        let (p, n) = arg(host.as_bytes());
        let st = unsafe { sys::smtpc_client_connect(self.raw(), p, n, port) };
        self.reply_or_error(st)
    }

    /// The client holds an open connection.
    pub fn is_connected(&self) -> bool {
        unsafe { sys::smtpc_client_is_connected(self.raw()) != 0 }
    }

    /// Send QUIT, read its reply and close the connection (closed whatever the outcome).
    pub fn quit(&mut self) -> Result<Reply> {
        let st = unsafe { sys::smtpc_client_quit(self.raw()) };
        self.reply_or_error(st)
    }

    /// Close the connection without QUIT. Safe when not connected.
    pub fn close(&mut self) {
        unsafe { sys::smtpc_client_close(self.raw()) };
        // A trace closure may have panicked while the close was traced: nothing to report it to.
        unsafe { (*self.callbacks).panic = None };
    }

    // --- Replies and features --------------------------------------------------------------------

    /// The last reply received (the greeting, then each command's reply).
    pub fn last_reply(&self) -> Option<Reply> {
        unsafe { Reply::from_raw(sys::smtpc_client_last_reply(self.raw())) }
    }

    /// The reply to the last EHLO or LHLO on this connection.
    pub fn ehlo_reply(&self) -> Option<Reply> {
        unsafe { Reply::from_raw(sys::smtpc_client_ehlo_reply(self.raw())) }
    }

    /// The reply to the last HELO on this connection.
    pub fn helo_reply(&self) -> Option<Reply> {
        unsafe { Reply::from_raw(sys::smtpc_client_helo_reply(self.raw())) }
    }

    /// The server accepted EHLO/LHLO.
    pub fn does_esmtp(&self) -> bool {
        unsafe { sys::smtpc_client_does_esmtp(self.raw()) != 0 }
    }

    /// The server's EHLO reply lists extension `name` (case-insensitive).
    pub fn has_extn(&self, name: &str) -> bool {
        let (p, n) = arg(name.as_bytes());
        unsafe { sys::smtpc_client_has_extn(self.raw(), p, n) != 0 }
    }

    /// The parameters of extension `name` ("10240000" for SIZE), `None` when not listed.
    pub fn extn_params(&self, name: &str) -> Option<String> {
        let (p, n) = arg(name.as_bytes());
        let mut len = 0usize;
        unsafe { owned_counted(sys::smtpc_client_extn_params(self.raw(), p, n, &mut len), len) }
    }

    /// Every extension of the EHLO reply in the server's order: (lower-case keyword, parameters).
    pub fn extensions(&self) -> Vec<(String, String)> {
        let raw = self.raw();
        let count = unsafe { sys::smtpc_client_extn_count(raw) };
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let (mut nl, mut pl) = (0usize, 0usize);
            let name = unsafe { owned_counted(sys::smtpc_client_extn_name(raw, i, &mut nl), nl) };
            let params = unsafe { owned_counted(sys::smtpc_client_extn_params_at(raw, i, &mut pl), pl) };
            if let Some(name) = name {
                out.push((name, params.unwrap_or_default()));
            }
        }
        out
    }

    /// The local host name used for HELO/EHLO ("" before it was looked up).
    pub fn local_hostname(&self) -> String {
        unsafe { owned_cstr(sys::smtpc_client_local_hostname(self.raw())) }
    }

    // --- Commands --------------------------------------------------------------------------------

    /// Send HELO ("" for the local host name).
    pub fn helo(&mut self, name: &str) -> Result<Reply> {
        let (p, n) = arg(name.as_bytes());
        let st = unsafe { sys::smtpc_client_helo(self.raw(), p, n) };
        self.reply_or_error(st)
    }

    /// Send EHLO (LHLO for LMTP) ("" for the local host name).
    pub fn ehlo(&mut self, name: &str) -> Result<Reply> {
        let (p, n) = arg(name.as_bytes());
        let st = unsafe { sys::smtpc_client_ehlo(self.raw(), p, n) };
        self.reply_or_error(st)
    }

    /// EHLO, or HELO if EHLO is refused, unless already done on this connection.
    pub fn ehlo_or_helo_if_needed(&mut self) -> Result<()> {
        let st = unsafe { sys::smtpc_client_ehlo_or_helo_if_needed(self.raw()) };
        self.finish(st, false)
    }

    /// Send any command ("" args for none).
    pub fn docmd(&mut self, cmd: &str, args: &str) -> Result<Reply> {
        let (cp, cn) = arg(cmd.as_bytes());
        let (ap, an) = arg(args.as_bytes());
        let st = unsafe { sys::smtpc_client_docmd(self.raw(), cp, cn, ap, an) };
        self.reply_or_error(st)
    }

    /// Send NOOP.
    pub fn noop(&mut self) -> Result<Reply> {
        let st = unsafe { sys::smtpc_client_noop(self.raw()) };
        self.reply_or_error(st)
    }

    /// Send RSET.
    pub fn rset(&mut self) -> Result<Reply> {
        let st = unsafe { sys::smtpc_client_rset(self.raw()) };
        self.reply_or_error(st)
    }

    /// Send VRFY.
    pub fn vrfy(&mut self, what: &str) -> Result<Reply> {
        let (p, n) = arg(what.as_bytes());
        let st = unsafe { sys::smtpc_client_vrfy(self.raw(), p, n) };
        self.reply_or_error(st)
    }

    /// Send EXPN.
    pub fn expn(&mut self, what: &str) -> Result<Reply> {
        let (p, n) = arg(what.as_bytes());
        let st = unsafe { sys::smtpc_client_expn(self.raw(), p, n) };
        self.reply_or_error(st)
    }

    /// Send HELP ("" for no argument).
    pub fn help(&mut self, what: &str) -> Result<Reply> {
        let (p, n) = arg(what.as_bytes());
        let st = unsafe { sys::smtpc_client_help(self.raw(), p, n) };
        self.reply_or_error(st)
    }

    /// Send MAIL FROM with space-separated ESMTP parameters ("" for none). Starts a transaction.
    pub fn mail(&mut self, addr: &str, options: &str) -> Result<Reply> {
        let (ap, an) = arg(addr.as_bytes());
        let (op, on) = arg(options.as_bytes());
        let st = unsafe { sys::smtpc_client_mail(self.raw(), ap, an, op, on) };
        self.reply_or_error(st)
    }

    /// Send RCPT TO with ESMTP parameters ("" for none).
    pub fn rcpt(&mut self, addr: &str, options: &str) -> Result<Reply> {
        let (ap, an) = arg(addr.as_bytes());
        let (op, on) = arg(options.as_bytes());
        let st = unsafe { sys::smtpc_client_rcpt(self.raw(), ap, an, op, on) };
        self.reply_or_error(st)
    }

    /// Send DATA and the message (line ends normalised, dot-stuffed, ended with ".").
    pub fn data(&mut self, msg: &[u8]) -> Result<Reply> {
        let (p, n) = arg(msg);
        let st = unsafe { sys::smtpc_client_data(self.raw(), p, n) };
        self.finish(st, true)?;
        Ok(self.last_reply().unwrap_or_else(|| unreachable_reply()))
    }

    /// Send bytes exactly as given, unchecked (for protocol experiments). Read the reply with
    /// [`read_reply`](Self::read_reply).
    pub fn send_raw(&mut self, data: &[u8]) -> Result<()> {
        let (p, n) = arg(data);
        let st = unsafe { sys::smtpc_client_send_raw(self.raw(), p, n) };
        self.finish(st, false)
    }

    /// Read one reply.
    pub fn read_reply(&mut self) -> Result<Reply> {
        let st = unsafe { sys::smtpc_client_read_reply(self.raw()) };
        self.reply_or_error(st)
    }

    // --- Sending mail ----------------------------------------------------------------------------

    /// Send one message to every recipient of `env` (smtplib's `sendmail()`): EHLO if needed,
    /// MAIL, RCPTs, DATA (pipelined, or BDAT, when offered). `Ok` when the message was accepted for
    /// at least one recipient; the result tells each recipient's outcome. The error of a failure
    /// carries the result too ([`Error::result`]).
    pub fn sendmail(&mut self, env: &Envelope, msg: &[u8]) -> Result<SendResult> {
        let (p, n) = arg(msg);
        let st = unsafe { sys::smtpc_client_sendmail(self.raw(), env.as_ptr(), p, n) };
        self.finish(st, true)?;
        Ok(self.last_result())
    }

    /// [`sendmail`](Self::sendmail) with an envelope made of `from` and `to`.
    pub fn send_mail<I, S>(&mut self, from: &str, to: I, msg: &[u8]) -> Result<SendResult>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let env = Envelope::with(from, to)?;
        self.sendmail(&env, msg)
    }

    /// [`sendmail`](Self::sendmail) with the message read from `body` in blocks, in constant
    /// memory. `size_hint` is the message size for SIZE, when known. An I/O error of the reader
    /// aborts the transaction (the connection is closed) and is the error's
    /// [`source`](std::error::Error::source).
    pub fn sendmail_stream<R: Read>(
        &mut self,
        env: &Envelope,
        mut body: R,
        size_hint: Option<u64>,
    ) -> Result<SendResult> {
        let mut state = ReadState {
            reader: &mut body,
            error: None,
            panic: None,
        };
        let st = unsafe {
            sys::smtpc_client_sendmail_stream(
                self.raw(),
                env.as_ptr(),
                size_hint.unwrap_or(0),
                Some(read_trampoline),
                &mut state as *mut ReadState<'_> as *mut c_void,
            )
        };
        let (io_error, read_panic) = (state.error.take(), state.panic.take());
        match self.finish(st, true) {
            Ok(()) if io_error.is_none() && read_panic.is_none() => Ok(self.last_result()),
            Ok(()) => Err(self.with_cause(
                self.error(st, None, true),
                io_error.map(|e| Box::new(e) as BoxError),
                read_panic,
            )),
            Err(e) => Err(self.with_cause(e, io_error.map(|e| Box::new(e) as BoxError), read_panic)),
        }
    }

    fn with_cause(&self, mut e: Error, source: Option<BoxError>, panic: Option<String>) -> Error {
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

    /// Send an RFC 5322 message with the envelope taken from its headers where `env` gives none
    /// (smtplib's `send_message()`): sender from Sender/From, recipients from To, Cc and Bcc,
    /// Bcc never transmitted.
    pub fn send_message(&mut self, env: Option<&Envelope>, msg: &[u8]) -> Result<SendResult> {
        let (p, n) = arg(msg);
        let envp = env.map_or(std::ptr::null(), |e| e.as_ptr());
        let st = unsafe { sys::smtpc_client_send_message(self.raw(), envp, p, n) };
        self.finish(st, true)?;
        Ok(self.last_result())
    }

    /// The per-recipient outcome of the last transaction (empty when none was started).
    pub fn last_result(&self) -> SendResult {
        unsafe { SendResult::from_raw(sys::smtpc_client_last_result(self.raw())) }
    }

    // --- Many messages over one connection ---------------------------------------------------------

    /// Queue a message for sending on this connection, back to back with the others (pipelined
    /// across messages; with CHUNKING a window of whole messages in flight). Everything is checked
    /// first: a message that fails a check is not queued and nothing of it is sent. Take the
    /// results, in queue order, with [`next_result`](Self::next_result); while messages are queued,
    /// other calls that talk to the server fail with [`Status::State`].
    pub fn enqueue(&mut self, msg: Message<'_>) -> Result<()> {
        struct Raw(*mut sys::smtpc_message);
        impl Drop for Raw {
            fn drop(&mut self) {
                unsafe { sys::smtpc_message_free(self.0) }
            }
        }
        let mut raw = std::ptr::null_mut();
        let st = unsafe { sys::smtpc_message_new(&mut raw) };
        if st != OK || raw.is_null() {
            return Err(Error::new(Status::from_raw(st), "could not create a message".into()));
        }
        let m = Raw(raw);
        let check = |st: sys::smtpc_status, what: &str| -> Result<()> {
            if st == OK {
                Ok(())
            } else {
                Err(Error::new(
                    Status::from_raw(st),
                    format!("message {}: {}", what, Status::from_raw(st)),
                ))
            }
        };
        if let Some(env) = msg.envelope {
            check(
                unsafe { sys::smtpc_message_set_envelope(m.0, env.as_ptr()) },
                "envelope",
            )?;
        }
        check(unsafe { sys::smtpc_message_set_tag(m.0, msg.tag) }, "tag")?;
        check(
            unsafe { sys::smtpc_message_set_envelope_from_headers(m.0, msg.from_headers as c_int) },
            "headers",
        )?;
        let queued = match msg.body {
            Body::Bytes(bytes) => {
                let (p, n) = arg(&bytes);
                check(unsafe { sys::smtpc_message_set_body(m.0, p, n) }, "body")?;
                Queued::Bytes(bytes)
            }
            Body::Reader(reader, hint) => {
                let mut slot = Box::new(QueuedReader {
                    reader,
                    error: None,
                    panic: None,
                });
                let ud = &mut *slot as *mut QueuedReader as *mut c_void;
                check(
                    unsafe {
                        sys::smtpc_message_set_body_reader(m.0, hint.unwrap_or(0), Some(queued_read_trampoline), ud)
                    },
                    "body reader",
                )?;
                Queued::Reader(slot)
            }
        };
        let st = unsafe { sys::smtpc_client_enqueue(self.raw(), m.0) };
        if st == OK {
            // Queued: the library borrows the body until this message's result is taken.
            self.queue.push_back(queued);
            // A callback's panic while enqueue drove the window belongs to a message's result.
            return Ok(());
        }
        self.finish(st, false)
    }

    /// The result of the oldest queued message, driving the connection until it is complete;
    /// `None` when no message is queued.
    pub fn next_result(&mut self) -> Result<Option<MessageResult>> {
        let mut out = std::ptr::null_mut();
        let st = unsafe { sys::smtpc_client_next_result(self.raw(), &mut out) };
        let cb_panic = unsafe { (*self.callbacks).panic.take() };
        if out.is_null() {
            return if st == OK {
                Ok(None)
            } else {
                Err(self.error(st, cb_panic, false))
            };
        }
        struct Raw(*mut sys::smtpc_message_result);
        impl Drop for Raw {
            fn drop(&mut self) {
                unsafe { sys::smtpc_message_result_free(self.0) }
            }
        }
        let r = Raw(out);
        // The library no longer needs this message's body.
        let (source, reader_panic) = match self.queue.pop_front() {
            Some(Queued::Reader(mut slot)) => (slot.error.take().map(|e| Box::new(e) as BoxError), slot.panic.take()),
            _ => (None, None),
        };
        let (status, recipients, reply, message, tag, state) = unsafe {
            let mut len = 0usize;
            let message = owned_counted(sys::smtpc_message_result_errmsg(r.0, &mut len), len).unwrap_or_default();
            (
                sys::smtpc_message_result_status(r.0),
                SendResult::from_raw(sys::smtpc_message_result_recipients(r.0)),
                Reply::from_raw(sys::smtpc_message_result_reply(r.0)),
                message,
                sys::smtpc_message_result_tag(r.0),
                MessageState::from_raw(sys::smtpc_message_result_state(r.0)),
            )
        };
        let panic = reader_panic.or(cb_panic);
        let error = if status != OK || source.is_some() || panic.is_some() {
            let st = if status == OK { sys::SMTPC_EUSER } else { status };
            Some(result_error(st, message, reply.clone(), &recipients, source, panic))
        } else {
            None
        };
        Ok(Some(MessageResult {
            tag,
            state,
            recipients,
            reply,
            error,
        }))
    }

    /// Bound the queue: at most `messages` queued and not complete, and no new message started
    /// while the bodies in flight add up to `bytes` (default 32 messages, 1 MiB).
    pub fn set_window(&mut self, messages: u32, bytes: u64) -> Result<()> {
        let st = unsafe { sys::smtpc_client_set_window(self.raw(), messages, bytes) };
        self.setter(st)
    }

    /// Messages queued whose results have not been taken.
    pub fn queued(&self) -> usize {
        unsafe { sys::smtpc_client_queued(self.raw()) }
    }

    /// Of those, the messages whose commands went out and whose outcome is not known yet.
    pub fn in_flight(&self) -> usize {
        unsafe { sys::smtpc_client_in_flight(self.raw()) }
    }

    // --- Authentication --------------------------------------------------------------------------

    /// Allow AUTH over a connection that is neither TLS-verified nor to this machine (off by
    /// default: the password could be read on the path).
    pub fn set_allow_insecure_auth(&mut self, allow: bool) -> Result<()> {
        let st = unsafe { sys::smtpc_client_set_allow_insecure_auth(self.raw(), allow as c_int) };
        self.setter(st)
    }

    /// The authorisation identity sent by PLAIN and SCRAM ("" for none).
    pub fn set_authzid(&mut self, authzid: &str) -> Result<()> {
        let (p, n) = arg(authzid.as_bytes());
        let st = unsafe { sys::smtpc_client_set_authzid(self.raw(), p, n) };
        self.setter(st)
    }

    /// Log in with the strongest password mechanism the server offers (SCRAM-SHA-256, SCRAM-SHA-1,
    /// CRAM-MD5, PLAIN, LOGIN).
    pub fn login(&mut self, user: &str, password: &str) -> Result<Reply> {
        let (up, un) = arg(user.as_bytes());
        let (pp, pn) = arg(password.as_bytes());
        let st = unsafe { sys::smtpc_client_login(self.raw(), up, un, pp, pn) };
        self.reply_or_error(st)
    }

    /// Authenticate with one named password mechanism ("PLAIN", "LOGIN", "CRAM-MD5",
    /// "SCRAM-SHA-1", "SCRAM-SHA-256").
    pub fn auth_password(
        &mut self,
        mechanism: &str,
        user: &str,
        password: &str,
        initial_response_ok: bool,
    ) -> Result<Reply> {
        let (mp, mn) = arg(mechanism.as_bytes());
        let (up, un) = arg(user.as_bytes());
        let (pp, pn) = arg(password.as_bytes());
        let st = unsafe {
            sys::smtpc_client_auth_password(self.raw(), mp, mn, up, un, pp, pn, initial_response_ok as c_int)
        };
        self.reply_or_error(st)
    }

    /// OAuth 2.0 with a bearer token ("XOAUTH2" or "OAUTHBEARER").
    pub fn auth_oauth2(&mut self, mechanism: &str, user: &str, token: &str) -> Result<Reply> {
        let (mp, mn) = arg(mechanism.as_bytes());
        let (up, un) = arg(user.as_bytes());
        let (tp, tn) = arg(token.as_bytes());
        let st =
            unsafe { sys::smtpc_client_auth_oauth2(self.raw(), mp, mn, up, un, tp, tn, None, std::ptr::null_mut()) };
        self.reply_or_error(st)
    }

    /// OAuth 2.0 with the token fetched by `token` when the library needs it. An `Err` of the
    /// closure aborts (nothing is sent) and is the error's source.
    pub fn auth_oauth2_with<F>(&mut self, mechanism: &str, user: &str, mut token: F) -> Result<Reply>
    where
        F: FnMut() -> std::result::Result<String, BoxError>,
    {
        let (mp, mn) = arg(mechanism.as_bytes());
        let (up, un) = arg(user.as_bytes());
        let f: &mut TokenFn<'_> = &mut token;
        let mut state = AuthState {
            f,
            error: None,
            panic: None,
        };
        let st = unsafe {
            sys::smtpc_client_auth_oauth2(
                self.raw(),
                mp,
                mn,
                up,
                un,
                std::ptr::null(),
                0,
                Some(token_trampoline),
                &mut state as *mut AuthState<'_, TokenFn<'_>> as *mut c_void,
            )
        };
        let (error, panic) = (state.error.take(), state.panic.take());
        self.auth_outcome(st, error, panic)
    }

    /// A custom SASL mechanism implemented by `f`: called with [`SaslStep::Initial`] for an initial
    /// response (when `initial_response_ok`) and with each decoded challenge. Returning `Err`
    /// cancels the exchange ("*"); the error is the result's source.
    pub fn auth<F>(&mut self, mechanism: &str, initial_response_ok: bool, mut f: F) -> Result<Reply>
    where
        F: FnMut(SaslStep<'_>) -> std::result::Result<Option<Vec<u8>>, BoxError>,
    {
        let (mp, mn) = arg(mechanism.as_bytes());
        let fr: &mut SaslFn<'_> = &mut f;
        let mut state = AuthState {
            f: fr,
            error: None,
            panic: None,
        };
        let st = unsafe {
            sys::smtpc_client_auth(
                self.raw(),
                mp,
                mn,
                initial_response_ok as c_int,
                Some(sasl_trampoline),
                &mut state as *mut AuthState<'_, SaslFn<'_>> as *mut c_void,
            )
        };
        let (error, panic) = (state.error.take(), state.panic.take());
        self.auth_outcome(st, error, panic)
    }

    fn auth_outcome(&mut self, st: sys::smtpc_status, error: Option<BoxError>, panic: Option<String>) -> Result<Reply> {
        match self.finish(st, false) {
            Ok(()) if error.is_none() && panic.is_none() => {
                Ok(self.last_reply().unwrap_or_else(|| unreachable_reply()))
            }
            Ok(()) => Err(self.with_cause(self.error(st, None, false), error, panic)),
            Err(e) => Err(self.with_cause(e, error, panic)),
        }
    }

    /// The mechanism of the last successful authentication on this connection.
    pub fn auth_mechanism(&self) -> Option<String> {
        let m = unsafe { owned_cstr(sys::smtpc_client_auth_mechanism(self.raw())) };
        if m.is_empty() {
            None
        } else {
            Some(m)
        }
    }
}

/// The statuses after which the client's last reply is the server's answer that caused them (the
/// header says "the reply is kept"); after the others it may be an older, unrelated reply.
fn reply_kept(st: sys::smtpc_status) -> bool {
    matches!(
        st,
        sys::SMTPC_EGREETING
            | sys::SMTPC_EHELO
            | sys::SMTPC_EREPLY
            | sys::SMTPC_ECLOSING
            | sys::SMTPC_ESENDER_REFUSED
            | sys::SMTPC_ERECIPIENTS_REFUSED
            | sys::SMTPC_EDATA_REFUSED
            | sys::SMTPC_EAUTH
    )
}

/// Every call that succeeded after talking to the server has a last reply; this stands in should a
/// library ever return none.
fn unreachable_reply() -> Reply {
    Reply::empty()
}

impl Drop for Client {
    fn drop(&mut self) {
        unsafe {
            // close() may trace: the closures are still there. Then detach them, so that the handle,
            // which a CancelHandle may keep for an instant longer, never calls freed closures.
            sys::smtpc_client_close(self.raw());
            sys::smtpc_client_set_trace(self.raw(), 0, None, std::ptr::null_mut());
            sys::smtpc_client_set_progress(self.raw(), None, std::ptr::null_mut());
            drop(Box::from_raw(self.callbacks));
        }
        // The close concluded every queued message: the library reads no body any more.
        self.queue.clear();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}
