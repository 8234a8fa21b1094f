// SPDX-License-Identifier: MIT
//! Faults from the scripted server (tests/servers/fault_server.py): its transcript holds every byte
//! the client sent.

mod common;

use common::*;
use smtpc::{Client, RcptState, Status};
use std::time::Duration;

fn client() -> Client {
    let mut c = Client::smtp().unwrap();
    c.set_local_hostname("client.test").unwrap();
    c.set_command_timeout(Some(Duration::from_secs(20))).unwrap();
    c
}

#[test]
fn connection_lost_after_the_message_is_delivery_unknown() {
    skip_unless!(skip_reason_python());
    let srv = fault_server(
        r#"[{"send": "220 fault.test ESMTP\r\n"},
            {"expect": "EHLO client.test"}, {"send": "250 fault.test\r\n"},
            {"expect": "MAIL FROM:<a@example.org>"}, {"send": "250 2.1.0 ok\r\n"},
            {"expect": "RCPT TO:<b@example.org>"}, {"send": "250 2.1.5 ok\r\n"},
            {"expect": "DATA"}, {"send": "354 go ahead\r\n"},
            {"read_until": "\r\n.\r\n"},
            {"close": true}]"#,
        1,
    );
    let mut c = client();
    c.connect("127.0.0.1", srv.port).unwrap();
    let err = c
        .send_mail("a@example.org", ["b@example.org"], b"Subject: f\r\n\r\nfault\r\n")
        .unwrap_err();
    assert_eq!(err.status(), Status::DeliveryUnknown);
    let res = err.result().unwrap();
    assert_eq!(res.recipients()[0].state(), RcptState::Unknown);
    assert_eq!(res.recipients()[0].rcpt_reply().unwrap().enhanced(), Some("2.1.5"));
    assert!(!c.is_connected());
    let (done, transcript) = srv.transcript();
    assert_eq!(done.as_deref(), Some("DONE 0"));
    assert_eq!(
        String::from_utf8_lossy(&transcript),
        "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n\
         Subject: f\r\n\r\nfault\r\n.\r\n"
    );
}

#[test]
fn garbage_reply_is_a_protocol_error() {
    skip_unless!(skip_reason_python());
    let srv = fault_server(
        r#"[{"send": "220 fault.test ESMTP\r\n"},
            {"expect": "EHLO"}, {"send": "250 fault.test\r\n"},
            {"expect": "NOOP"}, {"send": "25x what\r\n"},
            {"expect_eof": true, "optional": true}]"#,
        1,
    );
    let mut c = client();
    c.connect("127.0.0.1", srv.port).unwrap();
    c.ehlo("").unwrap();
    let err = c.noop().unwrap_err();
    assert_eq!(err.status(), Status::Protocol);
    assert!(!c.is_connected(), "the connection is closed after a protocol error");
    let (_, transcript) = srv.transcript();
    assert_eq!(transcript, b"EHLO client.test\r\nNOOP\r\n".to_vec());
}

#[test]
fn greeting_421_is_a_greeting_error_with_the_reply() {
    skip_unless!(skip_reason_python());
    let srv = fault_server(r#"[{"send_then_close": "421 4.3.2 busy, try later\r\n"}]"#, 1);
    let mut c = client();
    let err = c.connect("127.0.0.1", srv.port).unwrap_err();
    assert_eq!(err.status(), Status::Greeting);
    assert_eq!(err.code(), Some(421));
    assert!(err.is_temporary());
    assert_eq!(err.reply().unwrap().enhanced(), Some("4.3.2"));
    assert_eq!(err.reply().unwrap().text(), "4.3.2 busy, try later");
    let (_, transcript) = srv.transcript();
    assert!(transcript.is_empty());
}

#[test]
fn connection_refused_carries_the_os_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut c = client();
    let err = c.connect("127.0.0.1", port).unwrap_err();
    assert_eq!(err.status(), Status::Connect);
    assert_eq!(
        err.os_error().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionRefused),
        "{:?}",
        err
    );
    assert!(err.reply().is_none());
    assert!(err.message().contains("127.0.0.1"), "{}", err);
    // Not connected: a command says so, and sends nothing.
    assert_eq!(c.noop().unwrap_err().status(), Status::NotConnected);
    // A bad argument never reaches the wire.
    assert_eq!(c.connect("bad\nhost", 25).unwrap_err().status(), Status::Invalid);
}

/// Standard base64, for checking what went on the wire.
fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn oauth2_token_from_a_closure() {
    skip_unless!(skip_reason_python());
    let srv = fault_server(
        r#"[{"send": "220 fault.test ESMTP\r\n"},
            {"expect": "EHLO client.test"}, {"send": "250-fault.test\r\n250 AUTH XOAUTH2\r\n"},
            {"expect": "AUTH XOAUTH2 "}, {"send": "235 2.7.0 ok\r\n"},
            {"expect": "QUIT"}, {"send": "221 bye\r\n"}]"#,
        1,
    );
    let mut c = client();
    c.connect("127.0.0.1", srv.port).unwrap();
    let mut asked = 0;
    let reply = c
        .auth_oauth2_with("XOAUTH2", "user@example.org", || {
            asked += 1;
            Ok("ya29.token".to_string())
        })
        .unwrap();
    assert_eq!(reply.code(), 235);
    assert_eq!(asked, 1);
    assert_eq!(c.auth_mechanism().as_deref(), Some("XOAUTH2"));
    c.quit().unwrap();
    let (done, transcript) = srv.transcript();
    assert_eq!(done.as_deref(), Some("DONE 0"));
    let expected = format!(
        "EHLO client.test\r\nAUTH XOAUTH2 {}\r\nQUIT\r\n",
        b64(b"user=user@example.org\x01auth=Bearer ya29.token\x01\x01")
    );
    assert_eq!(String::from_utf8_lossy(&transcript), expected);
}

#[test]
fn failing_or_panicking_token_closure_sends_nothing() {
    skip_unless!(skip_reason_python());
    let srv = fault_server(
        r#"[{"send": "220 fault.test ESMTP\r\n"},
            {"expect": "EHLO client.test"}, {"send": "250-fault.test\r\n250 AUTH XOAUTH2\r\n"},
            {"expect": "NOOP"}, {"send": "250 ok\r\n"},
            {"expect": "NOOP"}, {"send": "250 ok\r\n"},
            {"expect": "QUIT"}, {"send": "221 bye\r\n"}]"#,
        1,
    );
    let mut c = client();
    c.connect("127.0.0.1", srv.port).unwrap();
    let err = c
        .auth_oauth2_with("XOAUTH2", "user@example.org", || Err("token expired".into()))
        .unwrap_err();
    assert_eq!(err.status(), Status::User);
    assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "token expired");
    c.noop().unwrap();
    let err = c
        .auth_oauth2_with("XOAUTH2", "user@example.org", || panic!("token bug"))
        .unwrap_err();
    assert_eq!(err.status(), Status::User);
    assert!(err.panic_message().unwrap().contains("token bug"));
    c.noop().unwrap();
    c.quit().unwrap();
    let (done, transcript) = srv.transcript();
    assert_eq!(done.as_deref(), Some("DONE 0"));
    assert_eq!(transcript, b"EHLO client.test\r\nNOOP\r\nNOOP\r\nQUIT\r\n".to_vec());
}

#[test]
fn cancel_racing_the_drop_of_its_client() {
    // Cancels from several threads while the client is dropped: the handle lives until the last
    // cancel in progress returns, then every later cancel is a no-op.
    for _ in 0..20 {
        let c = client();
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let h = c.cancel_handle();
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        h.cancel();
                    }
                    h
                })
            })
            .collect();
        std::thread::sleep(Duration::from_micros(200));
        drop(c);
        let handles: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        for h in handles {
            assert!(!h.cancel(), "no cancel reaches a dropped client");
        }
    }
}
