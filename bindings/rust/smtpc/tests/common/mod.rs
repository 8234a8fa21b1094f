// SPDX-License-Identifier: MIT
//! Test harness: the servers of tests/servers (aiosmtpd, Postfix, the fault server) started as
//! child processes, the test PKI, private temporary directories, and a small JSON reader for the
//! servers' spool files (no crates from outside).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const PYTHON: &str = "/usr/bin/python3";

/// The source tree (SMTPC_SOURCE_DIR, else three levels above this crate).
pub fn source_dir() -> PathBuf {
    match std::env::var_os("SMTPC_SOURCE_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.."),
    }
}

pub fn servers_dir() -> PathBuf {
    source_dir().join("tests/servers")
}

/// Why these tests cannot run here, if they cannot: printed, and the test passes as skipped (ctest
/// runs every test binary; the wrapper turns "every test skipped" into exit code 77).
pub fn skip_reason_python() -> Option<String> {
    if !Path::new(PYTHON).exists() {
        return Some(format!("{} is missing", PYTHON));
    }
    let ok = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        None
    } else {
        Some("python3-aiosmtpd is not installed".into())
    }
}

#[macro_export]
macro_rules! skip_unless {
    ($reason:expr) => {
        if let Some(why) = $reason {
            eprintln!("SKIP: {}", why);
            println!("SKIP: {}", why);
            return;
        }
    };
}

/// A private temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "smtpc-rust-{}-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            nanos
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Lines of a child's stdout, read on a thread so that every wait is bounded.
pub struct Lines(mpsc::Receiver<String>);

impl Lines {
    fn new(out: ChildStdout) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        Lines(rx)
    }

    pub fn next(&self, timeout: Duration) -> Option<String> {
        self.0.recv_timeout(timeout).ok()
    }
}

/// A server child process, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Server {
    pub child: Child,
    pub lines: Lines,
    pub port: u16,
    pub tls_port: Option<u16>,
    pub dir: TempDir,
}

impl Server {
    pub fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }
    pub fn sessions(&self) -> PathBuf {
        self.dir.path().join("sessions")
    }

    /// The messages received so far (waiting up to 10 s for at least `n`).
    pub fn messages(&self, n: usize) -> Vec<Json> {
        read_json_files(&self.spool(), "msg-", n)
    }

    /// The finished sessions (waiting up to 10 s for at least `n`).
    pub fn session_files(&self, n: usize) -> Vec<Json> {
        read_json_files(&self.sessions(), "session-", n)
    }

    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_json_files(dir: &Path, prefix: &str, n: usize) -> Vec<Json> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| {
                        let name = p.file_name().unwrap().to_string_lossy().into_owned();
                        name.starts_with(prefix) && name.ends_with(".json")
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        if names.len() >= n || Instant::now() > deadline {
            return names
                .iter()
                .map(|p| Json::parse(&std::fs::read_to_string(p).unwrap()))
                .collect();
        }
        std::thread::sleep(Duration::from_millis(30));
    }
}

fn spawn(cmd: &mut Command, dir: TempDir, want_tls_port: bool, timeout: Duration) -> Server {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("start a test server");
    let lines = Lines::new(child.stdout.take().unwrap());
    let line = lines.next(timeout).unwrap_or_default();
    let port = match line.strip_prefix("READY ").and_then(|p| p.trim().parse::<u16>().ok()) {
        Some(p) => p,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the test server did not start: {:?} printed {:?}", cmd, line);
        }
    };
    let mut tls_port = None;
    if want_tls_port {
        if let Some(l) = lines.next(Duration::from_secs(10)) {
            tls_port = l.strip_prefix("TLSPORT ").and_then(|p| p.trim().parse().ok());
        }
    }
    Server {
        child,
        lines,
        port,
        tls_port,
        dir,
    }
}

/// tests/servers/aiosmtpd_server.py with these options, recording messages and sessions.
pub fn aiosmtpd(args: &[&str]) -> Server {
    let dir = TempDir::new("aiosmtpd");
    let spool = dir.path().join("spool");
    let sessions = dir.path().join("sessions");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::create_dir_all(&sessions).unwrap();
    let mut cmd = Command::new(PYTHON);
    cmd.arg(servers_dir().join("aiosmtpd_server.py"))
        .args(args)
        .arg("--spool")
        .arg(&spool)
        .arg("--sessions")
        .arg(&sessions);
    spawn(&mut cmd, dir, false, Duration::from_secs(30))
}

/// Why Postfix cannot run here, if it cannot.
pub fn skip_reason_postfix() -> Option<String> {
    if let Some(r) = skip_reason_python() {
        return Some(r);
    }
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.as_deref().unwrap_or("") != "0" {
        return Some("the Postfix tests need root".into());
    }
    if !Path::new("/usr/sbin/postfix").exists() {
        return Some("postfix is not installed".into());
    }
    None
}

/// A private Postfix relaying to an aiosmtpd sink, with STARTTLS (the test PKI) and SASL users.
pub fn postfix(pki: &Path, sasl: &[&str]) -> Server {
    let dir = TempDir::new("postfix");
    let spool = dir.path().join("spool");
    let sessions = dir.path().join("sessions");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::create_dir_all(&sessions).unwrap();
    let mut cmd = Command::new(PYTHON);
    cmd.arg(servers_dir().join("postfix_server.py"))
        .arg("--spool")
        .arg(&spool)
        .arg("--sessions")
        .arg(&sessions)
        .arg("--tls-cert")
        .arg(pki.join("server.pem"))
        .arg("--tls-key")
        .arg(pki.join("server.key"));
    for s in sasl {
        cmd.arg("--sasl").arg(s);
    }
    spawn(&mut cmd, dir, true, Duration::from_secs(90))
}

/// tests/servers/fault_server.py playing `script` (JSON) on `connections` connections.
pub fn fault_server(script: &str, connections: usize) -> Server {
    let dir = TempDir::new("fault");
    let script_path = dir.path().join("script.json");
    std::fs::write(&script_path, script).unwrap();
    let mut cmd = Command::new(PYTHON);
    cmd.arg(servers_dir().join("fault_server.py"))
        .arg("--script")
        .arg(&script_path)
        .arg("--transcript")
        .arg(dir.path().join("transcript"))
        .arg("--connections")
        .arg(connections.to_string())
        .arg("--max-time")
        .arg("30");
    spawn(&mut cmd, dir, false, Duration::from_secs(30))
}

impl Server {
    /// For the fault server: wait for "DONE n" (the script was played) and return every byte it
    /// received.
    pub fn transcript(&self) -> (Option<String>, Vec<u8>) {
        let done = self.lines.next(Duration::from_secs(20));
        let mut bytes = Vec::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.path().join("transcript")) {
            f.read_to_end(&mut bytes).unwrap();
        }
        (done, bytes)
    }
}

/// The test PKI (tests/servers/make_test_pki.sh), made once per test program. The directory is
/// removed when the program exits only if the OS cleans its temporary directory: it holds test
/// keys, nothing secret.
pub fn pki() -> PathBuf {
    static PKI: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut guard = PKI.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = guard.as_ref() {
        return p.clone();
    }
    let dir = std::env::temp_dir().join(format!("smtpc-rust-pki-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = Command::new("bash")
        .arg(servers_dir().join("make_test_pki.sh"))
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "make_test_pki.sh failed");
    *guard = Some(dir.clone());
    dir
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A JSON value (enough for the servers' spool and session files).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    pub fn parse(text: &str) -> Json {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value();
        p.ws();
        assert_eq!(p.i, p.s.len(), "trailing data in JSON");
        v
    }

    pub fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(m) => m.get(key).unwrap_or_else(|| panic!("no key {:?} in {:?}", key, self)),
            _ => panic!("not an object: {:?}", self),
        }
    }

    pub fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            _ => panic!("not a string: {:?}", self),
        }
    }

    pub fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            _ => panic!("not an array: {:?}", self),
        }
    }

    /// The bytes of a "..._hex" field.
    pub fn hex(&self, key: &str) -> Vec<u8> {
        unhex(self.get(key).str())
    }

    pub fn strings(&self, key: &str) -> Vec<String> {
        self.get(key).arr().iter().map(|v| v.str().to_string()).collect()
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && (self.s[self.i] as char).is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(self.s[self.i], c, "JSON: expected {:?} at {}", c as char, self.i);
        self.i += 1;
    }
    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s[self.i] == b'}' {
                    self.i += 1;
                    return Json::Obj(m);
                }
                loop {
                    self.ws();
                    let k = self.string();
                    self.eat(b':');
                    let v = self.value();
                    m.insert(k, v);
                    self.ws();
                    let c = self.s[self.i];
                    self.i += 1;
                    if c == b'}' {
                        return Json::Obj(m);
                    }
                    assert_eq!(c, b',');
                }
            }
            b'[' => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s[self.i] == b']' {
                    self.i += 1;
                    return Json::Arr(a);
                }
                loop {
                    a.push(self.value());
                    self.ws();
                    let c = self.s[self.i];
                    self.i += 1;
                    if c == b']' {
                        return Json::Arr(a);
                    }
                    assert_eq!(c, b',');
                }
            }
            b'"' => Json::Str(self.string()),
            b't' => {
                self.i += 4;
                Json::Bool(true)
            }
            b'f' => {
                self.i += 5;
                Json::Bool(false)
            }
            b'n' => {
                self.i += 4;
                Json::Null
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"+-0123456789.eE".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                Json::Num(std::str::from_utf8(&self.s[start..self.i]).unwrap().parse().unwrap())
            }
        }
    }
    fn string(&mut self) -> String {
        self.eat(b'"');
        let mut out: Vec<u16> = Vec::new();
        let mut bytes = Vec::new();
        loop {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.s[self.i];
                    self.i += 1;
                    let ch = match e {
                        b'n' => '\n' as u16,
                        b't' => '\t' as u16,
                        b'r' => '\r' as u16,
                        b'b' => 8,
                        b'f' => 12,
                        b'u' => {
                            let h = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                            self.i += 4;
                            u16::from_str_radix(h, 16).unwrap()
                        }
                        other => other as u16,
                    };
                    if !bytes.is_empty() {
                        out.extend(String::from_utf8(std::mem::take(&mut bytes)).unwrap().encode_utf16());
                    }
                    out.push(ch);
                }
                _ => bytes.push(c),
            }
        }
        out.extend(String::from_utf8(bytes).unwrap().encode_utf16());
        String::from_utf16_lossy(&out)
    }
}
