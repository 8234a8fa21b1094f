// SPDX-License-Identifier: MIT
//! TLS configuration and the facts of an encrypted connection.

use crate::error::{Error, Result, Status};
use crate::util::{arg, owned_cstr, path_bytes, OK};
use smtpc_sys as sys;
use std::path::Path;
use std::ptr::NonNull;

/// The lowest TLS version to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 (the default floor).
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// When a client uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    /// The default: none on a Unix socket, opportunistic to a loopback address, required and
    /// verified to any other peer (implicit TLS on port 465).
    Auto,
    /// No TLS unless [`Client::starttls`](crate::Client::starttls) is called.
    None,
    /// STARTTLS when offered; a certificate that fails verification is recorded, not fatal.
    Opportunistic,
    /// STARTTLS or fail ([`Status::TlsRequired`]) before anything but EHLO is sent.
    Required,
    /// TLS from the first byte (SMTPS, RFC 8314).
    Implicit,
}

impl TlsPolicy {
    pub(crate) fn raw(self) -> sys::smtpc_tls_policy {
        match self {
            TlsPolicy::Auto => sys::SMTPC_TLS_AUTO,
            TlsPolicy::None => sys::SMTPC_TLS_NONE,
            TlsPolicy::Opportunistic => sys::SMTPC_TLS_OPPORTUNISTIC,
            TlsPolicy::Required => sys::SMTPC_TLS_REQUIRED,
            TlsPolicy::Implicit => sys::SMTPC_TLS_IMPLICIT,
        }
    }
}

/// A TLS configuration (trust anchors, client certificate, verification switches, protocol floor,
/// ciphers), the analogue of Python's `ssl.SSLContext`. Secure by default: the system trust store,
/// peer and host-name verification, TLS 1.2 or later.
///
/// A client given a configuration keeps its own reference, so this value may be dropped as soon
/// as it was handed over. Make one and share it: its OpenSSL context is built once. Its first
/// handshake freezes it (trust, certificate, version and cipher setters then fail with
/// [`Status::State`]).
pub struct TlsConfig {
    raw: NonNull<sys::smtpc_tls_config>,
}

// One thread at a time per handle (the C contract), so Send and not Sync.
unsafe impl Send for TlsConfig {}

impl TlsConfig {
    /// A configuration with the secure defaults.
    pub fn new() -> Result<TlsConfig> {
        let mut raw = std::ptr::null_mut();
        let st = unsafe { sys::smtpc_tls_config_new(&mut raw) };
        match NonNull::new(raw) {
            Some(raw) if st == OK => Ok(TlsConfig { raw }),
            _ => Err(Error::new(
                Status::from_raw(st),
                "could not create a TLS configuration".into(),
            )),
        }
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::smtpc_tls_config {
        self.raw.as_ptr()
    }

    fn check(&self, st: sys::smtpc_status) -> Result<()> {
        if st == OK {
            return Ok(());
        }
        let msg = unsafe { owned_cstr(sys::smtpc_tls_config_errmsg(self.raw.as_ptr())) };
        Err(Error::new(Status::from_raw(st), msg))
    }

    /// Trust the CA certificates of a PEM file instead of the system store (read now).
    pub fn set_ca_file<P: AsRef<Path>>(&mut self, path: P) -> Result<()> {
        let (p, n) = arg(path_bytes(path.as_ref()));
        self.check(unsafe { sys::smtpc_tls_config_set_ca_file(self.raw.as_ptr(), p, n) })
    }

    /// Trust the CA certificates of a hashed directory (`openssl rehash`) instead of the system
    /// store.
    pub fn set_ca_path<P: AsRef<Path>>(&mut self, path: P) -> Result<()> {
        let (p, n) = arg(path_bytes(path.as_ref()));
        self.check(unsafe { sys::smtpc_tls_config_set_ca_path(self.raw.as_ptr(), p, n) })
    }

    /// Trust one CA certificate in DER form instead of the system store.
    pub fn add_ca_der(&mut self, der: &[u8]) -> Result<()> {
        let (p, n) = arg(der);
        self.check(unsafe { sys::smtpc_tls_config_add_ca_der(self.raw.as_ptr(), p, n) })
    }

    /// Present a client certificate: a PEM file with the certificate (and chain), the key file
    /// (`None` when the key is in the certificate file) and the key's pass phrase (`None` when it
    /// is not encrypted; it is not kept).
    pub fn set_client_cert<P: AsRef<Path>, Q: AsRef<Path>>(
        &mut self,
        cert: P,
        key: Option<Q>,
        password: Option<&[u8]>,
    ) -> Result<()> {
        let (cp, cn) = arg(path_bytes(cert.as_ref()));
        let key_bytes: &[u8] = match &key {
            Some(k) => path_bytes(k.as_ref()),
            None => b"",
        };
        let (kp, kn) = arg(key_bytes);
        let (pp, pn) = match password {
            Some(pw) => arg(pw),
            None => (std::ptr::null(), 0),
        };
        self.check(unsafe { sys::smtpc_tls_config_set_client_cert(self.raw.as_ptr(), cp, cn, kp, kn, pp, pn) })
    }

    /// Verify the server's certificate chain (default on). Off also turns off the host-name check,
    /// and the connection then counts as unauthenticated for AUTH.
    pub fn set_verify_peer(&mut self, on: bool) -> Result<()> {
        self.check(unsafe { sys::smtpc_tls_config_set_verify_peer(self.raw.as_ptr(), on as _) })
    }

    /// Verify that the certificate names the server (default on).
    pub fn set_verify_hostname(&mut self, on: bool) -> Result<()> {
        self.check(unsafe { sys::smtpc_tls_config_set_verify_hostname(self.raw.as_ptr(), on as _) })
    }

    /// The lowest TLS version to accept (default 1.2).
    pub fn set_min_version(&mut self, v: TlsVersion) -> Result<()> {
        let raw = match v {
            TlsVersion::Tls12 => sys::SMTPC_TLS_VERSION_1_2,
            TlsVersion::Tls13 => sys::SMTPC_TLS_VERSION_1_3,
        };
        self.check(unsafe { sys::smtpc_tls_config_set_min_version(self.raw.as_ptr(), raw) })
    }

    /// Keep TLS sessions and resume them on the next connection to the same peer (default on);
    /// off also forgets every saved session.
    pub fn set_session_resumption(&mut self, on: bool) -> Result<()> {
        self.check(unsafe { sys::smtpc_tls_config_set_session_resumption(self.raw.as_ptr(), on as _) })
    }

    /// OpenSSL cipher list for TLS 1.2.
    pub fn set_ciphers(&mut self, list: &str) -> Result<()> {
        let (p, n) = arg(list.as_bytes());
        self.check(unsafe { sys::smtpc_tls_config_set_ciphers(self.raw.as_ptr(), p, n) })
    }
}

impl Drop for TlsConfig {
    fn drop(&mut self) {
        unsafe { sys::smtpc_tls_config_free(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

/// The facts of an encrypted connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The protocol version, e.g. "TLSv1.3".
    pub version: String,
    /// The cipher suite, e.g. "TLS_AES_256_GCM_SHA384".
    pub cipher: String,
    /// The server certificate's subject, RFC 2253 form ("CN=localhost").
    pub peer_subject: String,
    /// SHA-256 of the server certificate, 64 lower-case hex digits.
    pub peer_fingerprint: String,
    /// The certificate and name were verified.
    pub verified: bool,
    /// OpenSSL's X509_V_ERR_* code of the verification (0: none failed).
    pub verify_result: i64,
    /// The session was resumed from an earlier connection.
    pub resumed: bool,
}
