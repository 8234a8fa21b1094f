// SPDX-License-Identifier: MIT
//! The safe API against a real server: a private Postfix (tests/servers/postfix_server.py, root
//! only) relaying to an aiosmtpd sink, with STARTTLS, implicit TLS and Cyrus SASL. One test, so that
//! one Postfix instance serves every case and is stopped at the end.

mod common;

use common::*;
use smtpc::{Client, Envelope, RcptState, Status, TlsConfig, TlsPolicy};
use std::io::Read;
use std::time::Duration;

const HOST: &str = "127.0.0.1";
const USER: &str = "pfuser";
const PASSWORD: &str = "s3cret pass";

fn client(cfg: &TlsConfig, policy: TlsPolicy) -> Client {
    let mut c = Client::smtp().unwrap();
    c.set_local_hostname("client.test").unwrap();
    c.set_connect_timeout(Some(Duration::from_secs(30))).unwrap();
    c.set_command_timeout(Some(Duration::from_secs(60))).unwrap();
    c.set_tls_config(cfg).unwrap();
    c.set_tls_policy(policy).unwrap();
    c
}

/// Waits for the sink to hold `n` messages and returns the last one's content and recipients.
fn last_message(srv: &Server, n: usize) -> (Vec<u8>, Vec<String>) {
    let msgs = srv.messages(n);
    assert!(
        msgs.len() >= n,
        "the sink holds {} messages, expected {}",
        msgs.len(),
        n
    );
    let m = msgs.last().unwrap();
    (m.hex("content_hex"), m.strings("rcpt_tos"))
}

#[test]
fn against_postfix() {
    skip_unless!(skip_reason_postfix());
    let pki = pki();
    let creds = format!("{}:{}", USER, PASSWORD);
    let srv = postfix(&pki, &[&creds]);
    let mut cfg = TlsConfig::new().unwrap();
    cfg.set_ca_file(pki.join("ca.pem")).unwrap();

    // Plain SMTP (no TLS asked for), pipelined, with a refused recipient among accepted ones.
    let mut c = client(&cfg, TlsPolicy::None);
    c.connect(HOST, srv.port).unwrap();
    let res = c
        .send_mail(
            "a@example.org",
            ["one@example.org", "reject1@example.org", "two@example.org"],
            b"Subject: pf\n\nplain\n",
        )
        .unwrap();
    let states: Vec<RcptState> = res.recipients().iter().map(|r| r.state()).collect();
    assert_eq!(states, [RcptState::Delivered, RcptState::Refused, RcptState::Delivered]);
    assert_eq!(
        res.get("reject1@example.org").unwrap().rcpt_reply().unwrap().code(),
        550
    );
    assert!(!c.tls_active());
    c.quit().unwrap();
    let (content, rcpts) = last_message(&srv, 1);
    assert_eq!(content, b"Subject: pf\r\n\r\nplain\r\n".to_vec());
    assert_eq!(rcpts, ["one@example.org", "two@example.org"]);

    // STARTTLS, verified against the test CA, then AUTH (SCRAM or the strongest offered).
    let mut c = client(&cfg, TlsPolicy::Required);
    c.connect(HOST, srv.port).unwrap();
    c.ehlo_or_helo_if_needed().unwrap();
    let info = c.tls_info().expect("STARTTLS was used");
    assert!(info.verified, "{:?}", info);
    assert_eq!(
        info.peer_subject,
        std::fs::read_to_string(pki.join("server.subject")).unwrap().trim()
    );
    let wrong = c.login(USER, "not the password").unwrap_err();
    assert_eq!(wrong.status(), Status::Auth);
    assert_eq!(wrong.code(), Some(535));
    assert_eq!(c.login(USER, PASSWORD).unwrap().code(), 235);
    assert!(
        c.auth_mechanism().unwrap().starts_with("SCRAM-SHA-"),
        "{:?}",
        c.auth_mechanism()
    );
    c.send_mail(
        "a@example.org",
        ["tls@example.org"],
        b"Subject: tls\r\n\r\nafter AUTH\r\n",
    )
    .unwrap();
    c.quit().unwrap();
    let (content, rcpts) = last_message(&srv, 2);
    assert_eq!(content, b"Subject: tls\r\n\r\nafter AUTH\r\n".to_vec());
    assert_eq!(rcpts, ["tls@example.org"]);

    // Implicit TLS (the second listener).
    let tls_port = srv.tls_port.expect("postfix_server printed TLSPORT");
    let mut c = client(&cfg, TlsPolicy::Implicit);
    c.connect(HOST, tls_port).unwrap();
    assert!(c.tls_info().unwrap().verified);
    c.send_mail(
        "a@example.org",
        ["smtps@example.org"],
        b"Subject: smtps\r\n\r\nimplicit\r\n",
    )
    .unwrap();
    c.quit().unwrap();
    assert_eq!(last_message(&srv, 3).0, b"Subject: smtps\r\n\r\nimplicit\r\n".to_vec());

    // A large streamed body, with CHUNKING (Postfix offers it) and then with DATA.
    for chunking in [true, false] {
        let len = 1_000_000; // whole 100-byte lines: no final CRLF to add
                             // A header first: Postfix puts an empty line before a body that starts without one.
        let mut body = b"Subject: big\n\n".to_vec();
        body.extend((0..len).map(|i| if i % 100 == 99 { b'\n' } else { b'A' + (i % 23) as u8 }));
        let len = body.len();
        let mut c = client(&cfg, TlsPolicy::None);
        c.set_chunking(chunking).unwrap();
        c.connect(HOST, srv.port).unwrap();
        let env = Envelope::with("a@example.org", ["big@example.org"]).unwrap();
        let hint = (len + body.iter().filter(|&&b| b == b'\n').count()) as u64;
        let res = c
            .sendmail_stream(&env, (&body[..]).take(len as u64), Some(hint))
            .unwrap();
        assert_eq!(res.delivered_count(), 1);
        c.quit().unwrap();
        let n = if chunking { 4 } else { 5 };
        let (content, _) = last_message(&srv, n);
        let expected: Vec<u8> = body
            .iter()
            .flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] })
            .collect();
        let first_diff = content
            .iter()
            .zip(expected.iter())
            .position(|(a, b)| a != b)
            .unwrap_or(content.len().min(expected.len()));
        assert!(
            content == expected,
            "first difference at {}: got {:?}, expected {:?}",
            first_diff,
            String::from_utf8_lossy(&content[first_diff.saturating_sub(20)..(first_diff + 20).min(content.len())]),
            String::from_utf8_lossy(&expected[first_diff.saturating_sub(20)..(first_diff + 20).min(expected.len())])
        );
        assert!(
            content == expected,
            "the {} body arrived unchanged ({} bytes, expected {})",
            if chunking { "BDAT" } else { "DATA" },
            content.len(),
            expected.len()
        );
    }

    // A verification failure against Postfix: another CA.
    let mut other = TlsConfig::new().unwrap();
    other.set_ca_file(pki.join("ca2.pem")).unwrap();
    let mut c = client(&other, TlsPolicy::Required);
    c.connect(HOST, srv.port).unwrap();
    let err = c.send_mail("a@example.org", ["no@example.org"], b"x\r\n").unwrap_err();
    assert_eq!(err.status(), Status::TlsVerify);
    assert!(!c.is_connected());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(srv.messages(5).len(), 5, "nothing more was relayed");
}
