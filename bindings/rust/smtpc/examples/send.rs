// SPDX-License-Identifier: MIT
//! Send the message on standard input, streamed, and print each recipient's outcome.
//!
//!     cargo run --example send -- [--lmtp] [--ca FILE] [--user NAME] HOST[:PORT] FROM TO... < message.eml
//!
//! The password for --user is read from the SMTPC_PASSWORD environment variable. TLS follows the
//! library's default policy (required and verified to a remote server; --ca trusts a private CA).
//! Exit status: 0 delivered to every recipient, 1 to some or none, 2 on a usage error.

use smtpc::{Client, Envelope, Protocol, RcptState, TlsConfig};
use std::process::exit;

fn usage() -> ! {
    eprintln!("usage: send [--lmtp] [--ca FILE] [--user NAME] HOST[:PORT] FROM TO... < message");
    exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let (mut protocol, mut ca, mut user) = (Protocol::Smtp, None, None);
    while let Some(a) = args.peek().cloned() {
        match a.as_str() {
            "--lmtp" => protocol = Protocol::Lmtp,
            "--ca" => {
                args.next();
                ca = Some(args.peek().cloned().unwrap_or_else(|| usage()));
            }
            "--user" => {
                args.next();
                user = Some(args.peek().cloned().unwrap_or_else(|| usage()));
            }
            _ if a.starts_with("--") => usage(),
            _ => break,
        }
        args.next();
    }
    let rest: Vec<String> = args.collect();
    if rest.len() < 3 {
        usage();
    }
    match run(protocol, ca, user, &rest[0], &rest[1], &rest[2..]) {
        Ok(all) => exit(if all { 0 } else { 1 }),
        Err(e) => {
            eprintln!("send: {}", e);
            if let Some(reply) = e.reply() {
                eprintln!("send: the server said: {}", reply);
            }
            exit(1);
        }
    }
}

fn run(
    protocol: Protocol,
    ca: Option<String>,
    user: Option<String>,
    host: &str,
    from: &str,
    to: &[String],
) -> Result<bool, smtpc::Error> {
    let mut client = Client::new(protocol)?;
    if let Some(ca) = ca {
        let mut cfg = TlsConfig::new()?;
        cfg.set_ca_file(ca)?;
        client.set_tls_config(&cfg)?;
    }
    client.connect(host, 0)?;
    if let Some(user) = user {
        let password = std::env::var("SMTPC_PASSWORD").unwrap_or_default();
        client.login(&user, &password)?;
    }
    let env = Envelope::with(from, to)?;
    let result = match client.sendmail_stream(&env, std::io::stdin().lock(), None) {
        Ok(result) => result,
        Err(e) => {
            // The error carries each recipient's outcome too.
            if let Some(result) = e.result() {
                for r in result.recipients() {
                    eprintln!(
                        "{}: {:?} {}",
                        r.address(),
                        r.state(),
                        r.reply().map(|x| x.to_string()).unwrap_or_default()
                    );
                }
            }
            return Err(e);
        }
    };
    for r in result.recipients() {
        println!(
            "{}: {:?} {}",
            r.address(),
            r.state(),
            r.reply().map(|x| x.to_string()).unwrap_or_default()
        );
    }
    let _ = client.quit();
    Ok(result.recipients().iter().all(|r| r.state() == RcptState::Delivered))
}
