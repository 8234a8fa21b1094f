// SPDX-License-Identifier: MIT
//! The safe API against aiosmtpd (tests/servers/aiosmtpd_server.py): what reached the server is
//! checked byte for byte in its spool and session files.

mod common;

use common::*;
use smtpc::{CancelHandle, Client, Envelope, RcptState, SaslStep, Status, TlsConfig, TlsPolicy, TraceKind, TraceLevel};
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HOST: &str = "127.0.0.1";

fn client() -> Client {
    let mut c = Client::smtp().unwrap();
    c.set_local_hostname("client.test").unwrap();
    c.set_connect_timeout(Some(Duration::from_secs(20))).unwrap();
    c.set_command_timeout(Some(Duration::from_secs(30))).unwrap();
    c
}

#[test]
fn client_is_send_and_cancel_handle_is_send_sync() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<Client>();
    send::<Envelope>();
    send::<TlsConfig>();
    send_sync::<CancelHandle>();
    send_sync::<smtpc::Error>();
    assert!(smtpc::version_number() >= 100);
    assert_eq!(Status::from_raw(-17), Status::RecipientsRefused);
    assert_eq!(Status::RecipientsRefused.name(), "SMTPC_ERECIPIENTS_REFUSED");
    assert_eq!(Status::from_raw(-9999), Status::Unknown(-9999));
}

#[test]
fn plain_sendmail_exact_bytes() {
    skip_unless!(skip_reason_python());
    let srv = aiosmtpd(&[]);
    let mut c = client();
    let greeting = c.connect(HOST, srv.port).unwrap();
    assert_eq!(greeting.code(), 220);
    let env = Envelope::with("a@example.org", ["b@example.org", "c@example.org"]).unwrap();
    // Bare LF line ends and a line starting with '.': the library sends CRLF and dot-stuffs.
    let res = c
        .sendmail(&env, b"Subject: hi\nFrom: a@example.org\n\n.dot line\nbody\n")
        .unwrap();
    assert_eq!(res.delivered_count(), 2);
    for r in res.recipients() {
        assert_eq!(r.state(), RcptState::Delivered);
        assert_eq!(r.data_reply().unwrap().code(), 250);
        assert_eq!(r.rcpt_reply().unwrap().code(), 250);
    }
    assert_eq!(res.mail_reply().unwrap().code(), 250);
    assert!(c.has_extn("size"));
    assert_eq!(c.extn_params("SIZE").as_deref(), Some("33554432"));
    assert!(
        c.extensions().iter().any(|(k, p)| k == "size" && p == "33554432"),
        "{:?}",
        c.extensions()
    );
    c.quit().unwrap();
    assert!(!c.is_connected());

    let msgs = srv.messages(1);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.get("mail_from").str(), "a@example.org");
    assert_eq!(m.strings("rcpt_tos"), ["b@example.org", "c@example.org"]);
    assert_eq!(m.get("helo").str(), "client.test");
    assert_eq!(
        m.hex("content_hex"),
        b"Subject: hi\r\nFrom: a@example.org\r\n\r\n.dot line\r\nbody\r\n".to_vec()
    );
    let sessions = srv.session_files(1);
    let raw = sessions[0].hex("raw_hex");
    assert!(
        raw.starts_with(b"EHLO client.test\r\n"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
    // Dot-stuffed on the wire.
    assert!(raw.windows(13).any(|w| w == b"\r\n..dot line\r"));
    assert!(raw.ends_with(b"QUIT\r\n"));
}

#[test]
fn refused_recipients_and_sender() {
    skip_unless!(skip_reason_python());
    let srv = aiosmtpd(&[]);
    let mut c = client();
    c.connect(HOST, srv.port).unwrap();

    // Some refused: the message goes to the others, and the result says who got it.
    let res = c
        .send_mail(
            "a@example.org",
            ["ok@example.org", "reject1@example.org", "defer1@example.org"],
            b"Subject: x\r\n\r\nx\r\n",
        )
        .unwrap();
    let states: Vec<RcptState> = res.recipients().iter().map(|r| r.state()).collect();
    assert_eq!(states, [RcptState::Delivered, RcptState::Refused, RcptState::Refused]);
    assert_eq!(
        res.get("reject1@example.org").unwrap().rcpt_reply().unwrap().code(),
        550
    );
    let deferred = res.get("defer1@example.org").unwrap().reply().unwrap();
    assert_eq!(deferred.code(), 450);
    assert_eq!(deferred.enhanced(), Some("4.2.1"));
    let msgs = srv.messages(1);
    assert_eq!(msgs[0].strings("rcpt_tos"), ["ok@example.org"]);

    // All refused: an error that carries every recipient's reply.
    let err = c
        .send_mail(
            "a@example.org",
            ["reject2@example.org", "defer2@example.org"],
            b"Subject: y\r\n\r\ny\r\n",
        )
        .unwrap_err();
    assert_eq!(err.status(), Status::RecipientsRefused);
    let res = err.result().expect("the error carries the result");
    assert_eq!(res.recipients().len(), 2);
    assert_eq!(res.recipients()[0].rcpt_reply().unwrap().code(), 550);
    assert_eq!(res.recipients()[1].rcpt_reply().unwrap().code(), 450);
    assert!(err.to_string().contains("SMTPC_ERECIPIENTS_REFUSED"), "{}", err);

    // Sender refused.
    let err = c
        .send_mail("refuse@example.org", ["ok@example.org"], b"x\r\n")
        .unwrap_err();
    assert_eq!(err.status(), Status::SenderRefused);
    assert_eq!(err.code(), Some(550));
    assert!(!err.is_temporary());
    assert!(c.is_connected(), "a refusal keeps the connection");
    c.quit().unwrap();
    // Nothing but the first message arrived.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(srv.messages(1).len(), 1);
}

#[test]
fn envelope_errors_carry_a_message() {
    let mut env = Envelope::new();
    let err = env.add_recipient("bad\r\nRCPT TO:<x@example.org>").unwrap_err();
    assert_eq!(err.status(), Status::Invalid);
    assert!(
        !err.message().is_empty() && err.message() != Status::Invalid.description(),
        "{}",
        err
    );
    assert_eq!(env.recipient_count(), 0, "a refused address is not added");
    // A NUL inside the string reaches the library and is refused, never cut short.
    assert_eq!(
        env.set_sender("a@example.org\0evil").unwrap_err().status(),
        Status::Invalid
    );
}

#[test]
fn lmtp_per_recipient_replies() {
    skip_unless!(skip_reason_python());
    let srv = aiosmtpd(&["--mode", "lmtp"]);
    let mut c = Client::lmtp().unwrap();
    c.set_local_hostname("client.test").unwrap();
    c.connect(HOST, srv.port).unwrap();
    let res = c
        .send_mail(
            "a@example.org",
            ["alice@example.org", "fail1@example.org", "bob@example.org"],
            b"Subject: l\r\n\r\nlmtp\r\n",
        )
        .unwrap();
    let alice = res.get("alice@example.org").unwrap();
    let fail = res.get("fail1@example.org").unwrap();
    assert_eq!(alice.state(), RcptState::Delivered);
    assert_eq!(alice.data_reply().unwrap().code(), 250);
    assert_eq!(fail.state(), RcptState::Failed);
    assert_eq!(fail.data_reply().unwrap().code(), 550);
    assert_eq!(res.delivered_count(), 2);
    c.quit().unwrap();
    let msgs = srv.messages(1);
    assert_eq!(msgs[0].get("mode").str(), "lmtp");
    assert_eq!(msgs[0].hex("content_hex"), b"Subject: l\r\n\r\nlmtp\r\n".to_vec());
    let raw = srv.session_files(1)[0].hex("raw_hex");
    assert!(raw.starts_with(b"LHLO client.test\r\n"));
}

/// A deterministic message of `len` bytes, produced as it is read.
struct Generated {
    pos: usize,
    len: usize,
}

fn generated_byte(i: usize) -> u8 {
    // 64-byte lines: 63 letters and LF.
    if i % 64 == 63 {
        b'\n'
    } else {
        b'a' + ((i / 64 + i % 64) % 26) as u8
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Odd-sized reads, to cross the library's blocks at every offset.
        let n = buf.len().min(self.len - self.pos).min(7919);
        for (k, b) in buf[..n].iter_mut().enumerate() {
            *b = generated_byte(self.pos + k);
        }
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn large_streamed_body() {
    skip_unless!(skip_reason_python());
    let srv = aiosmtpd(&[]);
    let mut c = client();
    c.connect(HOST, srv.port).unwrap();
    const LEN: usize = 2 << 20;
    let seen = Arc::new(Mutex::new((0u64, 0usize)));
    let seen2 = seen.clone();
    c.set_progress(move |sent, _total| {
        let mut s = seen2.lock().unwrap();
        assert!(sent >= s.0, "progress goes forward");
        *s = (sent, s.1 + 1);
        ControlFlow::Continue(())
    })
    .unwrap();
    let env = Envelope::with("a@example.org", ["big@example.org"]).unwrap();
    let res = c.sendmail_stream(&env, Generated { pos: 0, len: LEN }, None).unwrap();
    assert_eq!(res.delivered_count(), 1);
    let (last, calls) = *seen.lock().unwrap();
    assert_eq!(last, LEN as u64);
    assert!(
        calls > 1 && calls < LEN / 1024,
        "progress once per block, not per byte: {}",
        calls
    );
    c.quit().unwrap();

    let content = srv.messages(1)[0].hex("content_hex");
    // Every LF became CRLF.
    assert_eq!(content.len(), LEN + LEN / 64);
    let mut expected = Vec::with_capacity(content.len());
    for i in 0..LEN {
        let b = generated_byte(i);
        if b == b'\n' {
            expected.push(b'\r');
        }
        expected.push(b);
    }
    assert!(content == expected, "the streamed body arrived unchanged");
}

struct FailingReader(usize);

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::new(io::ErrorKind::Other, "disk on fire"));
        }
        let n = buf.len().min(self.0).min(100);
        buf[..n].fill(b'x');
        self.0 -= n;
        Ok(n)
    }
}

struct PanickingReader;

impl Read for PanickingReader {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        panic!("reader bug");
    }
}

#[test]
fn reader_errors_and_panics_abort_the_message() {
    skip_unless!(skip_reason_python());
    let srv = aiosmtpd(&[]);
    let env = Envelope::with("a@example.org", ["r@example.org"]).unwrap();

    let mut c = client();
    c.connect(HOST, srv.port).unwrap();
    let err = c.sendmail_stream(&env, FailingReader(1000), None).unwrap_err();
    assert_eq!(err.status(), Status::User);
    let src = std::error::Error::source(&err).expect("the reader's error is the source");
    let io = src.downcast_ref::<io::Error>().expect("an io::Error");
    assert_eq!(io.to_string(), "disk on fire");
    assert!(err.to_string().contains("disk on fire"), "{}", err);
    assert!(err.panic_message().is_none());
    // The message cannot be withdrawn after DATA, so the connection was closed without its end.
    assert!(!c.is_connected());

    let mut c = client();
    c.connect(HOST, srv.port).unwrap();
    let err = c.sendmail_stream(&env, PanickingReader, None).unwrap_err();
    assert_eq!(err.status(), Status::User);
    assert!(err.panic_message().unwrap().contains("reader bug"), "{:?}", err);

    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(srv.messages(0).len(), 0, "no aborted message was delivered");
}

#[test]
fn progress_abort_withdraws_the_message() {
    skip_unless!(skip_reason_python());
    let srv = aiosmtpd(&[]);
    let mut c = client();
    c.set_progress(|_, _| ControlFlow::Break(())).unwrap();
    c.connect(HOST, srv.port).unwrap();
    let err = c
        .send_mail("a@example.org", ["p@example.org"], b"Subject: p\r\n\r\nnever\r\n")
        .unwrap_err();
    assert_eq!(err.status(), Status::User);
    let res = err.result().unwrap();
    assert_eq!(
        res.recipients()[0].state(),
        RcptState::Accepted,
        "withdrawn before its end of data"
    );

    // A panicking progress closure aborts the same way, and says why.
    let mut c = client();
    c.set_progress(|_, _| panic!("progress bug")).unwrap();
    c.connect(HOST, srv.port).unwrap();
    let err = c
        .send_mail("a@example.org", ["p@example.org"], b"Subject: p\r\n\r\nnever\r\n")
        .unwrap_err();
    assert_eq!(err.status(), Status::User);
    assert!(err.panic_message().unwrap().contains("progress bug"));

    // The closure can be removed; the next message goes.
    c.connect(HOST, srv.port).unwrap();
    c.clear_progress().unwrap();
    c.send_mail("a@example.org", ["p@example.org"], b"Subject: p\r\n\r\nsent\r\n")
        .unwrap();
    let msgs = srv.messages(1);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].hex("content_hex"), b"Subject: p\r\n\r\nsent\r\n".to_vec());
}

#[test]
fn trace_lines_and_trace_panic() {
    skip_unless!(skip_reason_python());
    let srv = aiosmtpd(&[]);
    let mut c = client();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l2 = lines.clone();
    c.set_trace(TraceLevel::Timestamps, move |ev| {
        assert!(ev.time.is_some());
        l2.lock().unwrap().push((ev.kind, ev.data.to_vec()));
    })
    .unwrap();
    c.connect(HOST, srv.port).unwrap();
    c.noop().unwrap();
    let got = lines.lock().unwrap().clone();
    assert!(
        got.iter().any(|(k, d)| *k == TraceKind::Send && d == b"NOOP\r\n"),
        "{:?}",
        got
    );
    assert!(got.iter().any(|(k, d)| *k == TraceKind::Recv && d.starts_with(b"250")));

    // A panic in the trace closure is caught; the call reports it (its own work was done).
    c.set_trace(TraceLevel::Lines, |ev| {
        if ev.data.starts_with(b"NOOP") {
            panic!("trace bug");
        }
    })
    .unwrap();
    let err = c.noop().unwrap_err();
    assert!(err.panic_message().unwrap().contains("trace bug"));
    assert!(c.is_connected());
    c.clear_trace().unwrap();
    c.noop().unwrap();
    c.quit().unwrap();
}

#[test]
fn starttls_with_verification() {
    skip_unless!(skip_reason_python());
    let pki = pki();
    let cert = pki.join("server.pem");
    let key = pki.join("server.key");
    let srv = aiosmtpd(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);

    let mut cfg = TlsConfig::new().unwrap();
    cfg.set_ca_file(pki.join("ca.pem")).unwrap();
    let mut c = client();
    c.set_tls_config(&cfg).unwrap();
    drop(cfg); // the client keeps its own reference
    c.set_tls_policy(TlsPolicy::Required).unwrap();
    c.connect(HOST, srv.port).unwrap();
    c.send_mail("a@example.org", ["t@example.org"], b"Subject: tls\r\n\r\nover TLS\r\n")
        .unwrap();
    let info = c.tls_info().expect("encrypted");
    assert!(info.verified);
    assert_eq!(info.verify_result, 0);
    assert!(info.version.starts_with("TLSv1."), "{:?}", info);
    let fp = std::fs::read_to_string(pki.join("server.fp")).unwrap();
    assert_eq!(info.peer_fingerprint, fp.trim());
    c.quit().unwrap();
    let m = &srv.messages(1)[0];
    assert_eq!(m.get("tls").str(), "starttls");
    assert_eq!(m.hex("content_hex"), b"Subject: tls\r\n\r\nover TLS\r\n".to_vec());

    // A CA that did not sign the server's certificate: refused, nothing sent after STARTTLS.
    let mut other = TlsConfig::new().unwrap();
    other.set_ca_file(pki.join("ca2.pem")).unwrap();
    let mut c = client();
    c.set_tls_config(&other).unwrap();
    c.set_tls_policy(TlsPolicy::Required).unwrap();
    c.connect(HOST, srv.port).unwrap();
    let err = c
        .send_mail("a@example.org", ["t@example.org"], b"Subject: no\r\n\r\nno\r\n")
        .unwrap_err();
    assert_eq!(err.status(), Status::TlsVerify);
    assert!(!err.message().is_empty());
    assert!(!c.is_connected());
    let sessions = srv.session_files(2);
    let last = sessions.last().unwrap();
    assert_eq!(last.hex("plain_hex"), b"EHLO client.test\r\nSTARTTLS\r\n".to_vec());
    assert_eq!(
        last.hex("tls_hex"),
        Vec::<u8>::new(),
        "no byte after the failed handshake"
    );
    assert_eq!(srv.messages(1).len(), 1);

    // A bad CA file: the TLS configuration's own error message.
    let mut bad = TlsConfig::new().unwrap();
    let err = bad.set_ca_file(pki.join("no-such-file.pem")).unwrap_err();
    assert_eq!(err.status(), Status::Tls);
    assert!(!err.message().is_empty());
}

const USER: &str = "user@example.org";
const PASSWORD: &str = "s3cret pass";

#[test]
fn auth_login_and_custom_mechanism() {
    skip_unless!(skip_reason_python());
    let creds = format!("{}:{}", USER, PASSWORD);
    let srv = aiosmtpd(&["--auth", &creds, "--auth-plaintext"]);

    // login() on loopback (the plaintext rule allows a peer on this machine); the trace masks it.
    let mut c = client();
    let trace = Arc::new(Mutex::new(Vec::new()));
    let t2 = trace.clone();
    c.set_trace(TraceLevel::Lines, move |ev| {
        t2.lock().unwrap().extend_from_slice(ev.data)
    })
    .unwrap();
    c.connect(HOST, srv.port).unwrap();
    let reply = c.login(USER, PASSWORD).unwrap();
    assert_eq!(reply.code(), 235);
    assert!(c.auth_mechanism().is_some());
    c.send_mail(USER, ["x@example.org"], b"Subject: a\r\n\r\nauthed\r\n")
        .unwrap();
    c.quit().unwrap();
    let traced = String::from_utf8_lossy(&trace.lock().unwrap()).into_owned();
    assert!(traced.contains("AUTH "), "{}", traced);
    assert!(
        !traced.contains(PASSWORD) && !traced.contains("czNjcmV0"),
        "no credential in the trace"
    );

    // Wrong password: the server's 535 in the error.
    let mut c = client();
    c.connect(HOST, srv.port).unwrap();
    let err = c.login(USER, "wrong").unwrap_err();
    assert_eq!(err.status(), Status::Auth);
    assert_eq!(err.code(), Some(535));
    c.quit().unwrap();

    // A mechanism implemented by a closure (PLAIN here, which the server knows).
    let mut c = client();
    c.connect(HOST, srv.port).unwrap();
    let mut steps = Vec::new();
    let reply = c
        .auth("PLAIN", false, |step| {
            steps.push(format!("{:?}", step));
            match step {
                SaslStep::Initial => Ok(None),
                SaslStep::Challenge(_) => Ok(Some(format!("\0{}\0{}", USER, PASSWORD).into_bytes())),
            }
        })
        .unwrap();
    assert_eq!(reply.code(), 235);
    assert_eq!(steps.len(), 1, "{:?}", steps);
    c.quit().unwrap();

    // A closure that fails, and one that panics: the exchange is cancelled, the client lives on.
    let mut c = client();
    c.connect(HOST, srv.port).unwrap();
    let err = c.auth("PLAIN", false, |_| Err("no key".into())).unwrap_err();
    assert_eq!(err.status(), Status::User);
    assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "no key");
    let err = c.auth("PLAIN", true, |_| panic!("sasl bug")).unwrap_err();
    assert_eq!(err.status(), Status::User);
    assert!(err.panic_message().unwrap().contains("sasl bug"));
    c.noop().unwrap();
    c.quit().unwrap();
    let sessions = srv.session_files(4);
    let raw = sessions.last().unwrap().hex("raw_hex");
    let text = String::from_utf8_lossy(&raw).into_owned();
    assert!(text.contains("AUTH PLAIN\r\n*\r\n"), "cancelled with '*': {:?}", text);
    assert_eq!(srv.messages(1).len(), 1);
}

#[test]
fn cancel_from_another_thread() {
    skip_unless!(skip_reason_python());
    // A server that greets, then never answers.
    let srv = fault_server(
        r#"[{"send": "220 fault.test ESMTP\r\n"}, {"expect": "EHLO"}, {"expect_eof": true, "timeout": 20}]"#,
        1,
    );
    let mut c = client();
    c.connect(HOST, srv.port).unwrap();
    let cancel = c.cancel_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.cancel()
    });
    let start = std::time::Instant::now();
    let err = c.ehlo("").unwrap_err();
    assert!(t.join().unwrap());
    assert_eq!(err.status(), Status::Cancelled);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "cancelled promptly: {:?}",
        start.elapsed()
    );
    assert!(!c.is_connected());
    let (_, transcript) = srv.transcript();
    assert_eq!(transcript, b"EHLO client.test\r\n".to_vec());

    // The handle does not keep the client alive.
    let cancel = c.cancel_handle();
    drop(c);
    assert!(!cancel.cancel());
}

#[test]
fn client_moves_to_another_thread() {
    skip_unless!(skip_reason_python());
    let srv = aiosmtpd(&[]);
    let mut c = client();
    c.connect(HOST, srv.port).unwrap();
    let port = srv.port;
    let c = std::thread::spawn(move || {
        c.send_mail("a@example.org", ["thread@example.org"], b"Subject: t\r\n\r\nthread\r\n")
            .unwrap();
        c
    })
    .join()
    .unwrap();
    let mut c = c;
    c.quit().unwrap();
    assert_eq!(srv.messages(1)[0].strings("rcpt_tos"), ["thread@example.org"]);
    let _ = port;
}

#[test]
fn batch_of_messages_over_one_connection() {
    skip_unless!(skip_reason_python());
    use smtpc::{Message, MessageState};
    let srv = aiosmtpd(&[]);
    let mut c = client();
    c.connect(HOST, srv.port).unwrap();
    c.set_window(4, 1 << 20).unwrap();
    let good = Envelope::with("a@example.org", ["b@example.org"]).unwrap();
    let refused = Envelope::with("a@example.org", ["reject9@example.org"]).unwrap();
    for i in 0..10u64 {
        let env = if i == 4 { &refused } else { &good };
        let msg = if i == 7 {
            let body = format!("Subject: m{}\r\n\r\nstreamed body {}\r\n", i, i).into_bytes();
            Message::from_reader(env, io::Cursor::new(body), None)
        } else {
            Message::new(env, format!("Subject: m{}\r\n\r\nbody {}\r\n", i, i))
        };
        c.enqueue(msg.tag(100 + i)).unwrap();
    }
    assert!(c.queued() > 0);
    // A message that fails the checks is not queued.
    let empty = Envelope::new();
    assert_eq!(
        c.enqueue(Message::new(&empty, "x")).unwrap_err().status(),
        Status::Invalid
    );
    let mut results = Vec::new();
    while let Some(r) = c.next_result().unwrap() {
        results.push(r);
    }
    assert_eq!(results.len(), 10);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.tag(), 100 + i as u64, "results come in queue order");
        if i == 4 {
            assert_eq!(r.state(), MessageState::Refused);
            let e = r.error().unwrap();
            assert_eq!(e.status(), Status::RecipientsRefused);
            assert_eq!(e.result().unwrap().recipients()[0].rcpt_reply().unwrap().code(), 550);
        } else {
            assert_eq!(r.state(), MessageState::Delivered, "{:?}", r);
            assert!(r.error().is_none());
            assert_eq!(r.recipients().delivered_count(), 1);
        }
    }
    assert_eq!(c.queued(), 0);
    c.quit().unwrap();

    // Exactly the nine accepted messages, in order, with their bodies.
    let msgs = srv.messages(9);
    assert_eq!(msgs.len(), 9);
    let expected: Vec<String> = (0..10)
        .filter(|&i| i != 4)
        .map(|i| {
            if i == 7 {
                format!("Subject: m{}\r\n\r\nstreamed body {}\r\n", i, i)
            } else {
                format!("Subject: m{}\r\n\r\nbody {}\r\n", i, i)
            }
        })
        .collect();
    let got: Vec<String> = msgs
        .iter()
        .map(|m| String::from_utf8(m.hex("content_hex")).unwrap())
        .collect();
    assert_eq!(got, expected);
    // One connection carried them all.
    assert_eq!(srv.session_files(1).len(), 1);
}

#[test]
fn typed_esmtp_parameters_on_the_wire() {
    skip_unless!(skip_reason_python());
    use smtpc::{DsnNotify, DsnRet};
    let srv = aiosmtpd(&["--ehlo-extra", "DSN"]);
    let mut c = client();
    c.connect(HOST, srv.port).unwrap();
    let mut env = Envelope::new();
    env.set_sender("a@example.org").unwrap();
    env.set_dsn(DsnRet::Headers, Some("id 42+x")).unwrap();
    env.add_recipient_dsn(
        "b@example.org",
        DsnNotify::SUCCESS | DsnNotify::FAILURE,
        Some("orig@example.org"),
    )
    .unwrap();
    env.add_recipient("c@example.org").unwrap();
    // Bad values are refused when set, with the reason.
    let err = env
        .add_recipient_dsn("d@example.org", DsnNotify::NEVER | DsnNotify::DELAY, None)
        .unwrap_err();
    assert_eq!(err.status(), Status::Invalid);
    assert!(!err.message().is_empty());
    assert_eq!(env.set_mt_priority(Some(10)).unwrap_err().status(), Status::Invalid);
    c.sendmail(&env, b"Subject: dsn\r\n\r\ndsn\r\n").unwrap();

    // REQUIRETLS is not offered: refused before MAIL FROM, with the extension named.
    let mut env2 = Envelope::with("a@example.org", ["b@example.org"]).unwrap();
    env2.set_requiretls(true).unwrap();
    let err = c.sendmail(&env2, b"Subject: no\r\n\r\nno\r\n").unwrap_err();
    assert!(
        matches!(err.status(), Status::NotSupported | Status::TlsRequired),
        "{:?}",
        err
    );
    assert!(
        err.message().contains("REQUIRETLS") || err.message().contains("TLS"),
        "{}",
        err
    );
    assert!(err.reply().is_none(), "no stale reply in the error: {:?}", err);
    let _ = c.quit();

    assert_eq!(srv.messages(1).len(), 1);
    let raw = String::from_utf8(srv.session_files(1)[0].hex("raw_hex")).unwrap();
    let mail = raw.lines().find(|l| l.starts_with("MAIL FROM:")).unwrap();
    assert!(
        mail.contains(" RET=HDRS") && mail.contains(" ENVID=id+2042+2Bx"),
        "{}",
        mail
    );
    let rcpts: Vec<&str> = raw.lines().filter(|l| l.starts_with("RCPT TO:")).collect();
    assert_eq!(
        rcpts,
        [
            "RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig@example.org",
            "RCPT TO:<c@example.org>"
        ]
    );
    assert_eq!(
        raw.matches("MAIL FROM:").count(),
        1,
        "nothing sent for the REQUIRETLS message: {}",
        raw
    );
}

#[test]
fn send_message_takes_the_envelope_from_the_headers() {
    skip_unless!(skip_reason_python());
    let srv = aiosmtpd(&[]);
    let mut c = client();
    c.connect(HOST, srv.port).unwrap();
    let msg = b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nBcc: secret@example.org\r\n\
                Subject: headers\r\n\r\nbody\r\n";
    let res = c.send_message(None, msg).unwrap();
    assert_eq!(res.delivered_count(), 2);
    // A message without any recipient field: refused before anything is sent, with the reason.
    let err = c
        .send_message(None, b"From: alice@example.org\r\n\r\nnobody\r\n")
        .unwrap_err();
    assert_eq!(err.status(), Status::Invalid);
    assert!(!err.message().is_empty());
    c.quit().unwrap();
    let m = &srv.messages(1)[0];
    assert_eq!(m.get("mail_from").str(), "alice@example.org");
    assert_eq!(m.strings("rcpt_tos"), ["bob@example.org", "secret@example.org"]);
    // The Bcc field is never transmitted.
    assert_eq!(
        m.hex("content_hex"),
        b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: headers\r\n\r\nbody\r\n".to_vec()
    );
}
