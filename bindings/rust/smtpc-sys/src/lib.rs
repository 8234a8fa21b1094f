// SPDX-License-Identifier: MIT
//! Raw declarations of `include/smtpc.h`, the C API of libsmtpc, written by hand (no bindgen).
//!
//! Everything here is `unsafe` to call and follows the C header's rules; the `smtpc` crate is the
//! safe API. The test `rust.sys_drift` (bindings/rust/check_sys.py) compiles these declarations,
//! turned back into C, against the header: a function, a parameter type or a constant that differs
//! fails it.
//!
//! Enumerations are plain `c_int` aliases with constants, not Rust enums: the C library may add
//! values in a later release, and an unknown value in a Rust enum would be undefined behaviour.
#![allow(non_camel_case_types)]

use std::marker::{PhantomData, PhantomPinned};
pub use std::os::raw::{c_char, c_int, c_longlong, c_uint, c_ulonglong, c_void};

macro_rules! opaque {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[repr(C)]
        pub struct $name {
            _data: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}

opaque! {
    /// A server reply (code, enhanced status code, text lines).
    smtpc_reply;
    /// A message envelope: sender, recipients and their ESMTP parameters.
    smtpc_envelope;
    /// The per-recipient outcome of a mail transaction.
    smtpc_result;
    /// One SMTP or LMTP client session.
    smtpc_client;
    /// A reference-counted TLS configuration.
    smtpc_tls_config;
    /// Output buffer of an AUTH or token callback.
    smtpc_auth_response;
    /// A message to queue on a client (envelope, body source, tag).
    smtpc_message;
    /// The outcome of one queued message.
    smtpc_message_result;
}

/// Length meaning "NUL-terminated": `(size_t)-1`.
pub const SMTPC_NTS: usize = usize::MAX;
pub const SMTPC_SMTP_PORT: u16 = 25;
pub const SMTPC_LMTP_PORT: u16 = 2003;
pub const SMTPC_VERSION_MAJOR: c_uint = 0;
pub const SMTPC_VERSION_MINOR: c_uint = 1;
pub const SMTPC_VERSION_PATCH: c_uint = 0;

/// `SMTPC_OK` (0) or a negative `SMTPC_E*` code; codes may be added in later releases.
pub type smtpc_status = c_int;
pub const SMTPC_OK: smtpc_status = 0;
pub const SMTPC_EINVAL: smtpc_status = -1;
pub const SMTPC_ENOMEM: smtpc_status = -2;
pub const SMTPC_EINTERNAL: smtpc_status = -3;
pub const SMTPC_ESTATE: smtpc_status = -4;
pub const SMTPC_ENOTCONN: smtpc_status = -5;
pub const SMTPC_ERESOLVE: smtpc_status = -6;
pub const SMTPC_ECONNECT: smtpc_status = -7;
pub const SMTPC_ETIMEOUT: smtpc_status = -8;
pub const SMTPC_EIO: smtpc_status = -9;
pub const SMTPC_EDISCONNECTED: smtpc_status = -10;
pub const SMTPC_EPROTOCOL: smtpc_status = -11;
pub const SMTPC_EGREETING: smtpc_status = -12;
pub const SMTPC_EHELO: smtpc_status = -13;
pub const SMTPC_EREPLY: smtpc_status = -14;
pub const SMTPC_ECLOSING: smtpc_status = -15;
pub const SMTPC_ESENDER_REFUSED: smtpc_status = -16;
pub const SMTPC_ERECIPIENTS_REFUSED: smtpc_status = -17;
pub const SMTPC_EDATA_REFUSED: smtpc_status = -18;
pub const SMTPC_EDELIVERY_UNKNOWN: smtpc_status = -19;
pub const SMTPC_ENOTSUPPORTED: smtpc_status = -20;
pub const SMTPC_EAUTH: smtpc_status = -21;
pub const SMTPC_EUSER: smtpc_status = -22;
pub const SMTPC_ETLS: smtpc_status = -23;
pub const SMTPC_ETLS_VERIFY: smtpc_status = -24;
pub const SMTPC_ETLS_REQUIRED: smtpc_status = -25;
pub const SMTPC_EAUTH_MECHANISM: smtpc_status = -26;
pub const SMTPC_EAUTH_INSECURE: smtpc_status = -27;
pub const SMTPC_ECANCELLED: smtpc_status = -28;
pub const SMTPC_EAGAIN: smtpc_status = -29;

/// The bits of `smtpc_client_wants` (non-blocking mode).
pub type smtpc_want = c_int;
pub const SMTPC_WANT_READ: smtpc_want = 1;
pub const SMTPC_WANT_WRITE: smtpc_want = 2;

/// DSN RET (RFC 3461) for `smtpc_envelope_set_dsn`.
pub type smtpc_dsn_ret = c_int;
pub const SMTPC_DSN_RET_UNSET: smtpc_dsn_ret = 0;
pub const SMTPC_DSN_RET_FULL: smtpc_dsn_ret = 1;
pub const SMTPC_DSN_RET_HDRS: smtpc_dsn_ret = 2;

/// DSN NOTIFY flags (RFC 3461) for `smtpc_envelope_add_recipient_dsn`.
pub type smtpc_dsn_notify = c_int;
pub const SMTPC_DSN_NOTIFY_NEVER: smtpc_dsn_notify = 1;
pub const SMTPC_DSN_NOTIFY_SUCCESS: smtpc_dsn_notify = 2;
pub const SMTPC_DSN_NOTIFY_FAILURE: smtpc_dsn_notify = 4;
pub const SMTPC_DSN_NOTIFY_DELAY: smtpc_dsn_notify = 8;

/// `smtpc_envelope_set_mt_priority` value that removes the parameter.
pub const SMTPC_MT_PRIORITY_UNSET: c_int = 100;

/// DELIVERBY (RFC 2852) by-mode.
pub type smtpc_deliverby_mode = c_int;
pub const SMTPC_DELIVERBY_UNSET: smtpc_deliverby_mode = 0;
pub const SMTPC_DELIVERBY_RETURN: smtpc_deliverby_mode = 1;
pub const SMTPC_DELIVERBY_NOTIFY: smtpc_deliverby_mode = 2;

/// The BODY parameter (RFC 6152, RFC 3030).
pub type smtpc_body = c_int;
pub const SMTPC_BODY_AUTO: smtpc_body = 0;
pub const SMTPC_BODY_7BIT: smtpc_body = 1;
pub const SMTPC_BODY_8BITMIME: smtpc_body = 2;
pub const SMTPC_BODY_BINARYMIME: smtpc_body = 3;

/// When SMTPUTF8 (RFC 6531) is put on MAIL FROM.
pub type smtpc_smtputf8 = c_int;
pub const SMTPC_SMTPUTF8_AUTO: smtpc_smtputf8 = 0;
pub const SMTPC_SMTPUTF8_ON: smtpc_smtputf8 = 1;
pub const SMTPC_SMTPUTF8_OFF: smtpc_smtputf8 = 2;

/// What became of a queued message; values may be added.
pub type smtpc_message_state = c_int;
pub const SMTPC_MESSAGE_DELIVERED: smtpc_message_state = 0;
pub const SMTPC_MESSAGE_PARTIAL: smtpc_message_state = 1;
pub const SMTPC_MESSAGE_REFUSED: smtpc_message_state = 2;
pub const SMTPC_MESSAGE_NOT_SENT: smtpc_message_state = 3;
pub const SMTPC_MESSAGE_UNKNOWN: smtpc_message_state = 4;

pub type smtpc_rcpt_state = c_int;
pub const SMTPC_RCPT_NOT_ATTEMPTED: smtpc_rcpt_state = 0;
pub const SMTPC_RCPT_REFUSED: smtpc_rcpt_state = 1;
pub const SMTPC_RCPT_ACCEPTED: smtpc_rcpt_state = 2;
pub const SMTPC_RCPT_DELIVERED: smtpc_rcpt_state = 3;
pub const SMTPC_RCPT_FAILED: smtpc_rcpt_state = 4;
pub const SMTPC_RCPT_UNKNOWN: smtpc_rcpt_state = 5;

pub type smtpc_protocol = c_int;
pub const SMTPC_PROTOCOL_SMTP: smtpc_protocol = 0;
pub const SMTPC_PROTOCOL_LMTP: smtpc_protocol = 1;

pub type smtpc_trace_kind = c_int;
pub const SMTPC_TRACE_SEND: smtpc_trace_kind = 1;
pub const SMTPC_TRACE_RECV: smtpc_trace_kind = 2;
pub const SMTPC_TRACE_DATA: smtpc_trace_kind = 3;
pub const SMTPC_TRACE_INFO: smtpc_trace_kind = 4;

pub type smtpc_tls_version = c_int;
pub const SMTPC_TLS_VERSION_1_2: smtpc_tls_version = 12;
pub const SMTPC_TLS_VERSION_1_3: smtpc_tls_version = 13;

pub type smtpc_tls_policy = c_int;
pub const SMTPC_TLS_AUTO: smtpc_tls_policy = 0;
pub const SMTPC_TLS_NONE: smtpc_tls_policy = 1;
pub const SMTPC_TLS_OPPORTUNISTIC: smtpc_tls_policy = 2;
pub const SMTPC_TLS_REQUIRED: smtpc_tls_policy = 3;
pub const SMTPC_TLS_IMPLICIT: smtpc_tls_policy = 4;

pub type smtpc_trace_fn = Option<
    unsafe extern "C" fn(kind: smtpc_trace_kind, data: *const c_char, len: usize, time_us: i64, userdata: *mut c_void),
>;
pub type smtpc_read_fn =
    Option<unsafe extern "C" fn(buf: *mut c_char, cap: usize, len: *mut usize, userdata: *mut c_void) -> c_int>;
pub type smtpc_progress_fn = Option<unsafe extern "C" fn(sent: u64, total: u64, userdata: *mut c_void) -> c_int>;
pub type smtpc_token_fn = Option<unsafe extern "C" fn(token: *mut smtpc_auth_response, userdata: *mut c_void) -> c_int>;
pub type smtpc_auth_fn = Option<
    unsafe extern "C" fn(
        challenge: *const c_char,
        challenge_len: usize,
        is_initial: c_int,
        resp: *mut smtpc_auth_response,
        userdata: *mut c_void,
    ) -> c_int,
>;

extern "C" {
    // Version and status codes
    pub fn smtpc_version_number() -> c_uint;
    pub fn smtpc_version() -> *const c_char;
    pub fn smtpc_strerror(status: smtpc_status) -> *const c_char;
    pub fn smtpc_status_name(status: smtpc_status) -> *const c_char;

    // Replies
    pub fn smtpc_reply_code(reply: *const smtpc_reply) -> c_int;
    pub fn smtpc_reply_enhanced(reply: *const smtpc_reply) -> *const c_char;
    pub fn smtpc_reply_text(reply: *const smtpc_reply, out_len: *mut usize) -> *const c_char;
    pub fn smtpc_reply_line_count(reply: *const smtpc_reply) -> usize;
    pub fn smtpc_reply_line(reply: *const smtpc_reply, index: usize, out_len: *mut usize) -> *const c_char;
    pub fn smtpc_reply_dup(out: *mut *mut smtpc_reply, reply: *const smtpc_reply) -> smtpc_status;
    pub fn smtpc_reply_free(reply: *mut smtpc_reply);
    pub fn smtpc_reply_enhanced_parts(
        reply: *const smtpc_reply,
        klass: *mut c_int,
        subject: *mut c_int,
        detail: *mut c_int,
    ) -> c_int;

    // Envelopes
    pub fn smtpc_envelope_new(out: *mut *mut smtpc_envelope) -> smtpc_status;
    pub fn smtpc_envelope_free(env: *mut smtpc_envelope);
    pub fn smtpc_envelope_errmsg(env: *const smtpc_envelope) -> *const c_char;
    pub fn smtpc_envelope_set_sender(env: *mut smtpc_envelope, addr: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_envelope_add_recipient(env: *mut smtpc_envelope, addr: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_envelope_add_mail_option(env: *mut smtpc_envelope, opt: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_envelope_add_rcpt_option(env: *mut smtpc_envelope, opt: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_envelope_recipient_count(env: *const smtpc_envelope) -> usize;

    // Typed ESMTP parameters on the envelope
    pub fn smtpc_envelope_set_dsn(
        env: *mut smtpc_envelope,
        ret: c_int,
        envid: *const c_char,
        envid_len: usize,
    ) -> smtpc_status;
    pub fn smtpc_envelope_set_dsn_optional(env: *mut smtpc_envelope, drop: c_int) -> smtpc_status;
    pub fn smtpc_envelope_add_recipient_dsn(
        env: *mut smtpc_envelope,
        addr: *const c_char,
        len: usize,
        notify: c_uint,
        orcpt: *const c_char,
        orcpt_len: usize,
    ) -> smtpc_status;
    pub fn smtpc_envelope_set_requiretls(env: *mut smtpc_envelope, on: c_int) -> smtpc_status;
    pub fn smtpc_envelope_set_mt_priority(env: *mut smtpc_envelope, priority: c_int) -> smtpc_status;
    pub fn smtpc_envelope_set_deliver_by(
        env: *mut smtpc_envelope,
        seconds: i64,
        mode: c_int,
        trace: c_int,
    ) -> smtpc_status;
    pub fn smtpc_envelope_set_hold_for(env: *mut smtpc_envelope, seconds: u64) -> smtpc_status;
    pub fn smtpc_envelope_set_hold_until(env: *mut smtpc_envelope, time: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_envelope_set_auth(env: *mut smtpc_envelope, identity: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_envelope_set_body(env: *mut smtpc_envelope, body: c_int) -> smtpc_status;
    pub fn smtpc_envelope_set_smtputf8(env: *mut smtpc_envelope, mode: c_int) -> smtpc_status;

    // Per-recipient results
    pub fn smtpc_result_dup(out: *mut *mut smtpc_result, res: *const smtpc_result) -> smtpc_status;
    pub fn smtpc_result_free(res: *mut smtpc_result);
    pub fn smtpc_result_count(res: *const smtpc_result) -> usize;
    pub fn smtpc_result_mail_reply(res: *const smtpc_result) -> *const smtpc_reply;
    pub fn smtpc_result_recipient(res: *const smtpc_result, index: usize, out_len: *mut usize) -> *const c_char;
    pub fn smtpc_result_state(res: *const smtpc_result, index: usize) -> smtpc_rcpt_state;
    pub fn smtpc_result_rcpt_reply(res: *const smtpc_result, index: usize) -> *const smtpc_reply;
    pub fn smtpc_result_data_reply(res: *const smtpc_result, index: usize) -> *const smtpc_reply;
    pub fn smtpc_result_delivered_count(res: *const smtpc_result) -> usize;
    pub fn smtpc_result_reply(res: *const smtpc_result, index: usize) -> *const smtpc_reply;

    // Clients
    pub fn smtpc_client_new(out: *mut *mut smtpc_client, protocol: smtpc_protocol) -> smtpc_status;
    pub fn smtpc_client_free(client: *mut smtpc_client);
    pub fn smtpc_client_protocol(client: *const smtpc_client) -> smtpc_protocol;
    pub fn smtpc_client_errmsg(client: *const smtpc_client) -> *const c_char;
    pub fn smtpc_client_last_status(client: *const smtpc_client) -> smtpc_status;
    pub fn smtpc_client_os_error(client: *const smtpc_client) -> c_int;
    pub fn smtpc_client_set_local_hostname(client: *mut smtpc_client, name: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_client_local_hostname(client: *const smtpc_client) -> *const c_char;
    pub fn smtpc_client_set_connect_timeout(client: *mut smtpc_client, ms: u32) -> smtpc_status;
    pub fn smtpc_client_set_command_timeout(client: *mut smtpc_client, ms: u32) -> smtpc_status;
    pub fn smtpc_client_set_source_address(
        client: *mut smtpc_client,
        host: *const c_char,
        len: usize,
        port: u16,
    ) -> smtpc_status;
    pub fn smtpc_client_set_pipelining(client: *mut smtpc_client, enabled: c_int) -> smtpc_status;
    pub fn smtpc_client_set_chunking(client: *mut smtpc_client, enabled: c_int) -> smtpc_status;
    pub fn smtpc_client_set_trace(
        client: *mut smtpc_client,
        level: c_int,
        fn_: smtpc_trace_fn,
        userdata: *mut c_void,
    ) -> smtpc_status;
    pub fn smtpc_client_connect(client: *mut smtpc_client, host: *const c_char, len: usize, port: u16) -> smtpc_status;
    pub fn smtpc_client_is_connected(client: *const smtpc_client) -> c_int;
    pub fn smtpc_client_quit(client: *mut smtpc_client) -> smtpc_status;
    pub fn smtpc_client_close(client: *mut smtpc_client);
    pub fn smtpc_client_last_reply(client: *const smtpc_client) -> *const smtpc_reply;
    pub fn smtpc_client_helo_reply(client: *const smtpc_client) -> *const smtpc_reply;
    pub fn smtpc_client_ehlo_reply(client: *const smtpc_client) -> *const smtpc_reply;
    pub fn smtpc_client_does_esmtp(client: *const smtpc_client) -> c_int;
    pub fn smtpc_client_has_extn(client: *const smtpc_client, name: *const c_char, len: usize) -> c_int;
    pub fn smtpc_client_extn_params(
        client: *const smtpc_client,
        name: *const c_char,
        len: usize,
        out_len: *mut usize,
    ) -> *const c_char;
    pub fn smtpc_client_extn_count(client: *const smtpc_client) -> usize;
    pub fn smtpc_client_extn_name(client: *const smtpc_client, index: usize, out_len: *mut usize) -> *const c_char;
    pub fn smtpc_client_extn_params_at(client: *const smtpc_client, index: usize, out_len: *mut usize)
        -> *const c_char;

    // Commands
    pub fn smtpc_client_helo(client: *mut smtpc_client, name: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_client_ehlo(client: *mut smtpc_client, name: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_client_ehlo_or_helo_if_needed(client: *mut smtpc_client) -> smtpc_status;
    pub fn smtpc_client_docmd(
        client: *mut smtpc_client,
        cmd: *const c_char,
        cmd_len: usize,
        args: *const c_char,
        args_len: usize,
    ) -> smtpc_status;
    pub fn smtpc_client_noop(client: *mut smtpc_client) -> smtpc_status;
    pub fn smtpc_client_rset(client: *mut smtpc_client) -> smtpc_status;
    pub fn smtpc_client_vrfy(client: *mut smtpc_client, what: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_client_expn(client: *mut smtpc_client, what: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_client_help(client: *mut smtpc_client, what: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_client_mail(
        client: *mut smtpc_client,
        addr: *const c_char,
        addr_len: usize,
        options: *const c_char,
        options_len: usize,
    ) -> smtpc_status;
    pub fn smtpc_client_rcpt(
        client: *mut smtpc_client,
        addr: *const c_char,
        addr_len: usize,
        options: *const c_char,
        options_len: usize,
    ) -> smtpc_status;
    pub fn smtpc_client_data(client: *mut smtpc_client, msg: *const c_char, msg_len: usize) -> smtpc_status;
    pub fn smtpc_client_send_raw(client: *mut smtpc_client, data: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_client_read_reply(client: *mut smtpc_client) -> smtpc_status;

    // Sending mail
    pub fn smtpc_client_sendmail(
        client: *mut smtpc_client,
        env: *const smtpc_envelope,
        msg: *const c_char,
        msg_len: usize,
    ) -> smtpc_status;
    pub fn smtpc_client_sendmail_stream(
        client: *mut smtpc_client,
        env: *const smtpc_envelope,
        size_hint: u64,
        read: smtpc_read_fn,
        userdata: *mut c_void,
    ) -> smtpc_status;
    pub fn smtpc_client_set_progress(
        client: *mut smtpc_client,
        fn_: smtpc_progress_fn,
        userdata: *mut c_void,
    ) -> smtpc_status;
    pub fn smtpc_client_cancel(client: *mut smtpc_client);
    pub fn smtpc_client_set_nonblocking(client: *mut smtpc_client, enabled: c_int) -> smtpc_status;
    pub fn smtpc_client_nonblocking(client: *const smtpc_client) -> c_int;
    pub fn smtpc_client_fd(client: *const smtpc_client) -> c_int;
    pub fn smtpc_client_wants(client: *const smtpc_client) -> c_int;
    pub fn smtpc_client_deadline_ms(client: *const smtpc_client) -> i64;
    pub fn smtpc_client_step(client: *mut smtpc_client) -> smtpc_status;
    pub fn smtpc_client_send_message(
        client: *mut smtpc_client,
        env: *const smtpc_envelope,
        msg: *const c_char,
        msg_len: usize,
    ) -> smtpc_status;
    pub fn smtpc_client_last_result(client: *const smtpc_client) -> *const smtpc_result;

    // Many messages over one connection
    pub fn smtpc_message_new(out: *mut *mut smtpc_message) -> smtpc_status;
    pub fn smtpc_message_free(msg: *mut smtpc_message);
    pub fn smtpc_message_set_envelope(msg: *mut smtpc_message, env: *const smtpc_envelope) -> smtpc_status;
    pub fn smtpc_message_set_body(msg: *mut smtpc_message, data: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_message_set_body_reader(
        msg: *mut smtpc_message,
        size_hint: u64,
        read: smtpc_read_fn,
        userdata: *mut c_void,
    ) -> smtpc_status;
    pub fn smtpc_message_set_envelope_from_headers(msg: *mut smtpc_message, enabled: c_int) -> smtpc_status;
    pub fn smtpc_message_set_tag(msg: *mut smtpc_message, tag: u64) -> smtpc_status;
    pub fn smtpc_client_enqueue(client: *mut smtpc_client, msg: *const smtpc_message) -> smtpc_status;
    pub fn smtpc_client_next_result(client: *mut smtpc_client, out: *mut *mut smtpc_message_result) -> smtpc_status;
    pub fn smtpc_client_set_window(client: *mut smtpc_client, messages: u32, bytes: u64) -> smtpc_status;
    pub fn smtpc_client_queued(client: *const smtpc_client) -> usize;
    pub fn smtpc_client_in_flight(client: *const smtpc_client) -> usize;
    pub fn smtpc_message_result_free(res: *mut smtpc_message_result);
    pub fn smtpc_message_result_tag(res: *const smtpc_message_result) -> u64;
    pub fn smtpc_message_result_state(res: *const smtpc_message_result) -> smtpc_message_state;
    pub fn smtpc_message_result_status(res: *const smtpc_message_result) -> smtpc_status;
    pub fn smtpc_message_result_errmsg(res: *const smtpc_message_result, out_len: *mut usize) -> *const c_char;
    pub fn smtpc_message_result_recipients(res: *const smtpc_message_result) -> *const smtpc_result;
    pub fn smtpc_message_result_reply(res: *const smtpc_message_result) -> *const smtpc_reply;

    // TLS
    pub fn smtpc_tls_config_new(out: *mut *mut smtpc_tls_config) -> smtpc_status;
    pub fn smtpc_tls_config_free(cfg: *mut smtpc_tls_config);
    pub fn smtpc_tls_config_errmsg(cfg: *const smtpc_tls_config) -> *const c_char;
    pub fn smtpc_tls_config_set_ca_file(cfg: *mut smtpc_tls_config, path: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_tls_config_set_ca_path(cfg: *mut smtpc_tls_config, path: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_tls_config_add_ca_der(cfg: *mut smtpc_tls_config, der: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_tls_config_set_client_cert(
        cfg: *mut smtpc_tls_config,
        cert_path: *const c_char,
        cert_len: usize,
        key_path: *const c_char,
        key_len: usize,
        password: *const c_char,
        password_len: usize,
    ) -> smtpc_status;
    pub fn smtpc_tls_config_set_verify_peer(cfg: *mut smtpc_tls_config, enabled: c_int) -> smtpc_status;
    pub fn smtpc_tls_config_set_verify_hostname(cfg: *mut smtpc_tls_config, enabled: c_int) -> smtpc_status;
    pub fn smtpc_tls_config_set_min_version(cfg: *mut smtpc_tls_config, version: smtpc_tls_version) -> smtpc_status;
    pub fn smtpc_tls_config_set_session_resumption(cfg: *mut smtpc_tls_config, enabled: c_int) -> smtpc_status;
    pub fn smtpc_tls_config_set_ciphers(cfg: *mut smtpc_tls_config, list: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_client_set_tls_config(client: *mut smtpc_client, cfg: *mut smtpc_tls_config) -> smtpc_status;
    pub fn smtpc_client_set_tls_policy(client: *mut smtpc_client, policy: smtpc_tls_policy) -> smtpc_status;
    pub fn smtpc_client_set_tls_server_name(client: *mut smtpc_client, name: *const c_char, len: usize)
        -> smtpc_status;
    pub fn smtpc_client_set_tls_insecure_skip_verify_for_testing(
        client: *mut smtpc_client,
        enabled: c_int,
    ) -> smtpc_status;
    pub fn smtpc_client_starttls(client: *mut smtpc_client) -> smtpc_status;
    pub fn smtpc_client_tls_active(client: *const smtpc_client) -> c_int;
    pub fn smtpc_client_tls_verified(client: *const smtpc_client) -> c_int;
    pub fn smtpc_client_tls_resumed(client: *const smtpc_client) -> c_int;
    pub fn smtpc_client_tls_version(client: *const smtpc_client) -> *const c_char;
    pub fn smtpc_client_tls_cipher(client: *const smtpc_client) -> *const c_char;
    pub fn smtpc_client_tls_peer_subject(client: *const smtpc_client) -> *const c_char;
    pub fn smtpc_client_tls_peer_fingerprint(client: *const smtpc_client) -> *const c_char;
    pub fn smtpc_client_tls_verify_result(client: *const smtpc_client) -> c_int;

    // Authentication
    pub fn smtpc_client_set_allow_insecure_auth(client: *mut smtpc_client, allow: c_int) -> smtpc_status;
    pub fn smtpc_client_set_authzid(client: *mut smtpc_client, authzid: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_client_login(
        client: *mut smtpc_client,
        user: *const c_char,
        user_len: usize,
        password: *const c_char,
        password_len: usize,
    ) -> smtpc_status;
    pub fn smtpc_client_auth_password(
        client: *mut smtpc_client,
        mechanism: *const c_char,
        mech_len: usize,
        user: *const c_char,
        user_len: usize,
        password: *const c_char,
        password_len: usize,
        initial_response_ok: c_int,
    ) -> smtpc_status;
    pub fn smtpc_auth_response_set(resp: *mut smtpc_auth_response, data: *const c_char, len: usize) -> smtpc_status;
    pub fn smtpc_client_auth_oauth2(
        client: *mut smtpc_client,
        mechanism: *const c_char,
        mech_len: usize,
        user: *const c_char,
        user_len: usize,
        token: *const c_char,
        token_len: usize,
        fn_: smtpc_token_fn,
        userdata: *mut c_void,
    ) -> smtpc_status;
    pub fn smtpc_client_auth(
        client: *mut smtpc_client,
        mechanism: *const c_char,
        mech_len: usize,
        initial_response_ok: c_int,
        fn_: smtpc_auth_fn,
        userdata: *mut c_void,
    ) -> smtpc_status;
    pub fn smtpc_client_auth_mechanism(client: *const smtpc_client) -> *const c_char;
}
