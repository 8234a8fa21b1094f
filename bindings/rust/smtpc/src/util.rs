// SPDX-License-Identifier: MIT
//! Conversions at the FFI boundary.

use smtpc_sys as sys;
use std::any::Any;
use std::ffi::CStr;
use std::os::raw::c_char;

/// A borrowed NUL-terminated string from the library, copied (invalid UTF-8 replaced).
pub(crate) unsafe fn owned_cstr(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// A (pointer, length) string from the library, copied.
pub(crate) unsafe fn owned_counted(p: *const c_char, len: usize) -> Option<String> {
    if p.is_null() {
        None
    } else {
        let bytes = std::slice::from_raw_parts(p as *const u8, len);
        Some(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// A static string of the library (status names and texts).
pub(crate) unsafe fn static_cstr(p: *const c_char) -> &'static str {
    if p.is_null() {
        ""
    } else {
        CStr::from_ptr(p).to_str().unwrap_or("")
    }
}

/// Every string goes in as a counted (pointer, length) pair, never NUL-terminated: a NUL inside
/// reaches the library and is refused by its checks instead of silently cutting the string short.
pub(crate) fn arg(s: &[u8]) -> (*const c_char, usize) {
    (s.as_ptr() as *const c_char, s.len())
}

#[cfg(unix)]
pub(crate) fn path_bytes(p: &std::path::Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes()
}

/// The text of a panic payload.
pub(crate) fn panic_text(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

/// Overwrite a buffer that held a credential before it is freed (the library wipes its own
/// copies; this is ours).
pub(crate) fn wipe(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        // Volatile so that the writes to memory about to be freed are not optimised away.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

pub(crate) const OK: sys::smtpc_status = sys::SMTPC_OK;
