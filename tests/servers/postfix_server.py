#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Start a private Postfix instance on loopback for the smtpc integration tests.

Usage: /usr/bin/python3 postfix_server.py --spool DIR [--sessions DIR] [--tls-cert FILE --tls-key FILE]
                                         [--sasl USER:PASSWORD ...]

Must run as root (Postfix's master runs as root and drops to the "postfix" user). It:
  1. starts a sink (aiosmtpd_server.py from this directory, SMTP mode) on a free loopback port that
     writes every message it receives into --spool as msg-NNNNNN.json (see aiosmtpd_server.py);
  2. writes a private Postfix configuration and queue in a fresh temporary directory: listens on a
     free 127.0.0.1 port with PIPELINING (Postfix's default), relays every message to the sink,
     adds no headers except its Received: line, which header_checks then removes, so the sink
     receives the client's message unchanged, with one exception: Postfix ends the header at the
     first line that is not a header field and puts an empty line there when the message has none
     (a body that does not start with header fields arrives after an empty line: "hello\r\n" as
     "\r\nhello\r\n"; "Subject: x\r\nbody\r\n" as "Subject: x\r\n\r\nbody\r\n");
     refuses senders whose local part starts with "refuse" at MAIL FROM (550 5.7.1) and recipients
     whose local part starts with "reject" at RCPT TO (550 5.1.1);
  3. prints "READY <port>" once the port answers with this instance's own banner;
     with --tls-cert/--tls-key, the port also offers STARTTLS (smtpd_tls_security_level=may) and a
     second listener on another free 127.0.0.1 port speaks TLS from the first byte
     (smtpd_tls_wrappermode=yes); its port follows on the next line as "TLSPORT <port>" (the READY
     line keeps its format, so callers that do not ask for TLS see no change);
     with --sasl USER:PASSWORD (may repeat), the port also offers AUTH through Cyrus SASL (Debian
     sasl2-bin, libsasl2-modules): PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 against a private
     sasldb holding each USER in realm "smtpc.test" (saslpasswd2), over plaintext as well as after
     STARTTLS (smtpd_tls_auth_only = no; the client's plaintext rule decides);
  4. on SIGTERM/SIGINT stops Postfix (waits for its master to exit), stops the sink and removes the
     temporary directory.
Postfix's own log goes to <tempdir>/maillog and is copied to stderr at exit when SMTPC_POSTFIX_LOG=1;
with --print-maillog its path follows the other lines as "MAILLOG <path>"; --tls-loglevel N sets
smtpd_tls_loglevel (default 1; 2 also logs "Issuing session ticket" and "Reusing old session").
"""

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TLS_LOGLEVEL = 1
PYTHON = "/usr/bin/python3"


def log(msg):
    sys.stderr.write("postfix_server: %s\n" % msg)
    sys.stderr.flush()


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def read_ready(proc, timeout):
    deadline = time.monotonic() + timeout
    import select
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.startswith(b"READY "):
                return line[6:].decode().strip()
    return None


def banner_ok(port, token, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.settimeout(2)
                data = b""
                while b"\r\n" not in data:
                    chunk = s.recv(1024)
                    if not chunk:
                        break
                    data += chunk
                try:
                    s.sendall(b"QUIT\r\n")
                except OSError:
                    pass
                return token.encode() in data
        except OSError:
            time.sleep(0.05)
    return False


MASTER_CF = """\
{port_line}
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def tls_banner_ok(port, token, timeout):
    """As banner_ok, over TLS from the first byte (the certificate is not checked here)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
                with ctx.wrap_socket(raw) as s:
                    s.settimeout(2)
                    data = b""
                    while b"\r\n" not in data:
                        chunk = s.recv(1024)
                        if not chunk:
                            break
                        data += chunk
                    try:
                        s.sendall(b"QUIT\r\n")
                    except OSError:
                        pass
                    return token.encode() in data
        except OSError:
            time.sleep(0.05)
    return False


def tls_cf(cert, key):
    if not cert:
        return ["smtpd_tls_security_level ="]
    return [
        "smtpd_tls_security_level = may",
        "smtpd_tls_cert_file = %s" % cert,
        "smtpd_tls_key_file = %s" % key,
        "smtpd_tls_loglevel = %d" % TLS_LOGLEVEL,
        "smtpd_tls_received_header = no",
    ]


SASL_REALM = "smtpc.test"
SASL_MECHS = "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256"


def sasl_cf(top, users):
    if not users:
        return []
    return [
        "smtpd_sasl_auth_enable = yes",
        "smtpd_sasl_type = cyrus",
        "smtpd_sasl_path = smtpd",
        # Debian's Postfix looks for smtpd.conf in <config_directory>/sasl whatever this says; both agree.
        "cyrus_sasl_config_path = %s/conf/sasl" % top,
        "smtpd_sasl_local_domain = %s" % SASL_REALM,
        "smtpd_sasl_security_options = noanonymous",
        "smtpd_sasl_tls_security_options = noanonymous",
        "smtpd_tls_auth_only = no",
        "broken_sasl_auth_clients = no",
        "smtpd_sasl_authenticated_header = no",
    ]


def write_sasl(top, users):
    """The Cyrus configuration (smtpd.conf) and a sasldb with the users, readable by Postfix's smtpd."""
    d = os.path.join(top, "conf", "sasl")
    os.mkdir(d)
    os.chmod(d, 0o755)
    db = os.path.join(d, "sasldb2")
    with open(os.path.join(d, "smtpd.conf"), "w") as f:
        f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\nmech_list: %s\n"
                "log_level: 3\n" % (db, SASL_MECHS))
    os.chmod(os.path.join(d, "smtpd.conf"), 0o644)
    for user, password in users:
        r = subprocess.run(["saslpasswd2", "-c", "-p", "-f", db, "-u", SASL_REALM, user],
                           input=password.encode(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=30)
        if r.returncode != 0:
            raise RuntimeError("saslpasswd2 failed for %s: %s" % (user, r.stderr.decode(errors="replace")))
    shutil.chown(db, "postfix", "postfix")
    os.chmod(db, 0o640)


def main_cf(top, sink_port, token, tls_cert=None, tls_key=None, sasl_users=None):
    conf = os.path.join(top, "conf")
    return "\n".join([
        "compatibility_level = 3.6",
        "queue_directory = %s/queue" % top,
        "data_directory = %s/data" % top,
        "mail_owner = postfix",
        "setgid_group = postdrop",
        "myhostname = smtpc-postfix.test",
        "mydomain = test",
        "myorigin = $myhostname",
        "mydestination =",
        "relay_domains =",
        "local_recipient_maps =",
        "alias_maps =",
        "alias_database =",
        "inet_interfaces = 127.0.0.1",
        "inet_protocols = ipv4",
        "mynetworks = 127.0.0.0/8",
        "relayhost = [127.0.0.1]:%d" % sink_port,
        "smtp_dns_support_level = disabled",
        "smtp_host_lookup = native",
        "smtpd_peername_lookup = no",
        "smtpd_banner = $myhostname ESMTP %s" % token,
        "smtpd_delay_reject = no",
        "smtpd_sender_restrictions = check_sender_access regexp:%s/sender_access" % conf,
        "smtpd_relay_restrictions = permit_mynetworks, reject",
        "smtpd_recipient_restrictions = check_recipient_access regexp:%s/rcpt_access, permit" % conf,
        "local_header_rewrite_clients =",
        "always_add_missing_headers = no",
        "header_checks = regexp:%s/header_checks" % conf,
        "smtputf8_enable = yes",
        "message_size_limit = 10240000",
        "in_flow_delay = 0",
        "queue_run_delay = 1s",
        "minimal_backoff_time = 1s",
        "maximal_backoff_time = 2s",
        "biff = no",
        "maillog_file_prefixes = %s" % top,
        "maillog_file = %s/maillog" % top,
    ] + tls_cf(tls_cert, tls_key) + sasl_cf(top, sasl_users) + [
        "smtp_tls_security_level =",
        "",
    ])


class Instance:
    def __init__(self, spool, sessions, tls_cert=None, tls_key=None, sasl_users=None):
        self.sasl_users = sasl_users or []
        self.spool = spool
        self.sessions = sessions
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.tls_port = None
        self.top = None
        self.sink = None
        self.started = False

    def start(self):
        self.top = tempfile.mkdtemp(prefix="smtpc-postfix-")
        os.chmod(self.top, 0o755)
        conf = os.path.join(self.top, "conf")
        os.mkdir(conf)
        os.mkdir(os.path.join(self.top, "queue"))
        os.mkdir(os.path.join(self.top, "data"))
        shutil.chown(os.path.join(self.top, "data"), "postfix", "postfix")
        if self.sasl_users:
            write_sasl(self.top, self.sasl_users)

        sink_cmd = [PYTHON, os.path.join(HERE, "aiosmtpd_server.py"), "--spool", self.spool,
                    "--hostname", "sink.test"]
        if self.sessions:
            sink_cmd += ["--sessions", self.sessions]
        self.sink = subprocess.Popen(sink_cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        sink_port = read_ready(self.sink, 20)
        if sink_port is None:
            raise RuntimeError("sink did not start")

        with open(os.path.join(conf, "sender_access"), "w") as f:
            f.write("/^refuse[^@]*@/ 550 5.7.1 Sender address rejected (test)\n")
        with open(os.path.join(conf, "rcpt_access"), "w") as f:
            f.write("/^reject[^@]*@/ 550 5.1.1 Recipient address rejected (test)\n")
        with open(os.path.join(conf, "header_checks"), "w") as f:
            f.write("/^Received: from .*by smtpc-postfix\\.test \\(Postfix\\)/ IGNORE\n")

        for attempt in range(5):
            port = free_port()
            token = "smtpc-postfix-" + secrets.token_hex(6)
            port_line = "127.0.0.1:%d inet n - n - - smtpd" % port
            if self.tls_cert:
                self.tls_port = free_port()
                while self.tls_port == port:
                    self.tls_port = free_port()
                port_line += ("\n127.0.0.1:%d inet n - n - - smtpd\n"
                              "  -o smtpd_tls_wrappermode=yes\n"
                              "  -o smtpd_tls_security_level=encrypt\n"
                              "tlsmgr    unix  -       -       n       1000?   1       tlsmgr" % self.tls_port)
            with open(os.path.join(conf, "main.cf"), "w") as f:
                f.write(main_cf(self.top, int(sink_port), token, self.tls_cert, self.tls_key, self.sasl_users))
            with open(os.path.join(conf, "master.cf"), "w") as f:
                f.write(MASTER_CF.format(port_line=port_line))
            if attempt == 0:
                r = subprocess.run(["postfix", "-c", conf, "check"], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
                if r.returncode != 0:
                    raise RuntimeError("postfix check failed: %s" % r.stderr.decode(errors="replace"))
            r = subprocess.run(["postfix", "-c", conf, "start"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
            if r.returncode != 0:
                raise RuntimeError("postfix start failed: %s" % r.stderr.decode(errors="replace"))
            self.started = True
            if banner_ok(port, token, 15) and (not self.tls_cert or tls_banner_ok(self.tls_port, token, 15)):
                return port
            log("port %d did not answer with our banner; retrying on another port" % port)
            self.stop_postfix()
        raise RuntimeError("postfix did not come up")

    def master_pid(self):
        try:
            with open(os.path.join(self.top, "queue", "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop_postfix(self):
        if not self.started:
            return
        pid = self.master_pid()
        subprocess.run(["postfix", "-c", os.path.join(self.top, "conf"), "abort"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        if pid:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.started = False

    def stop(self):
        try:
            self.stop_postfix()
        except Exception as e:  # keep going: the sink and the directory must go too
            log("stopping postfix: %s" % e)
        if self.sink is not None and self.sink.poll() is None:
            self.sink.terminate()
            try:
                self.sink.wait(5)
            except subprocess.TimeoutExpired:
                self.sink.kill()
                self.sink.wait()
        if self.top:
            if os.environ.get("SMTPC_POSTFIX_LOG") == "1":
                try:
                    with open(os.path.join(self.top, "maillog"), errors="replace") as f:
                        sys.stderr.write(f.read())
                except OSError:
                    pass
            shutil.rmtree(self.top, ignore_errors=True)
            self.top = None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spool", required=True, help="directory for the sink's msg-*.json files")
    ap.add_argument("--sessions", help="directory for the sink's session-*.json files")
    ap.add_argument("--tls-cert", metavar="FILE", help="server certificate (PEM): offer STARTTLS and "
                    "listen for implicit TLS on a second port")
    ap.add_argument("--tls-key", metavar="FILE", help="private key (PEM) of --tls-cert")
    ap.add_argument("--print-maillog", action="store_true", help="print \"MAILLOG <path>\" after READY")
    ap.add_argument("--tls-loglevel", type=int, choices=(0, 1, 2, 3, 4), default=1, help="smtpd_tls_loglevel")
    ap.add_argument("--sasl", metavar="USER:PASSWORD", action="append", default=[],
                    help="offer AUTH (Cyrus SASL, sasldb) with this user; may repeat")
    args = ap.parse_args()
    global TLS_LOGLEVEL
    TLS_LOGLEVEL = args.tls_loglevel
    sasl_users = []
    for spec in args.sasl:
        user, sep, password = spec.partition(":")
        if not sep or not user or not password:
            ap.error("--sasl takes USER:PASSWORD")
        sasl_users.append((user, password))
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if args.tls_cert:
        args.tls_cert = os.path.abspath(args.tls_cert)
        args.tls_key = os.path.abspath(args.tls_key)
    if os.geteuid() != 0:
        log("must run as root")
        return 2
    for d in (args.spool, args.sessions):
        if d and not os.path.isdir(d):
            log("no such directory: %s" % d)
            return 2

    stopping = {"flag": False}

    def on_signal(signum, frame):
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    inst = Instance(args.spool, args.sessions, args.tls_cert, args.tls_key, sasl_users)
    try:
        port = inst.start()
        sys.stdout.write("READY %d\n" % port)
        if inst.tls_port:
            sys.stdout.write("TLSPORT %d\n" % inst.tls_port)
        if args.print_maillog:
            sys.stdout.write("MAILLOG %s\n" % os.path.join(inst.top, "maillog"))
        sys.stdout.flush()
        while not stopping["flag"]:
            time.sleep(0.1)
            if inst.sink.poll() is not None:
                log("sink exited unexpectedly")
                break
    except Exception as e:
        log("error: %s" % e)
        inst.stop()
        return 1
    inst.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
