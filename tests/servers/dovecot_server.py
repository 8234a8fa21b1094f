#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Start a private Dovecot instance with only its LMTP service, for the smtpc integration tests.

Usage: /usr/bin/python3 dovecot_server.py [--user NAME ...] [--quota NAME=BYTES ...]
                                         [--tls-cert FILE --tls-key FILE] [--check]

Needs Debian's dovecot-core and dovecot-lmtpd; root is not needed. It:
  1. writes a private configuration in a fresh temporary directory (base_dir, state_dir, log, users,
     mail all under it); Dovecot runs unprivileged: as the calling user, or when started by root as
     the "dovecot" system user (the temporary directory is handed to it), so it never binds a
     privileged port, never touches the system's Dovecot and never delivers as root;
  2. serves LMTP only (protocols = lmtp) on a Unix socket <tempdir>/lmtp and on a free 127.0.0.1
     port; users come from a passwd-file: each --user NAME (default: alice and bob) is looked up by the
     local part of the recipient address (any domain); an unknown one is refused at RCPT TO
     (550 5.1.1); mail goes to <maildirs>/NAME/Maildir (new/ holds each delivered message, as
     Dovecot wrote it: its Return-Path, Delivered-To and Received lines, then the client's message);
  3. with --tls-cert/--tls-key (PEM, copied into the temporary directory), both listeners offer
     STARTTLS (ssl = yes: offered, not required); with --quota NAME=BYTES (may repeat) user NAME gets
     a storage quota of BYTES: a message that does not fit is accepted at RCPT TO and refused after
     the message, for that recipient alone (552 5.2.2), as LMTP allows (RFC 2033);
  4. prints, once the TCP port answers with this instance's own greeting:
         READY <socket path>
         PORT <tcp port>
         MAILDIRS <directory holding one NAME/Maildir per user>
  5. on SIGTERM/SIGINT stops Dovecot (waits for its master, bounded, then kills it) and removes the
     temporary directory.
Every wait is bounded. Dovecot's log goes to <tempdir>/dovecot.log and is copied to stderr at exit when
SMTPC_DOVECOT_LOG=1 (or when the start fails).
"""

import argparse
import grp
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

DOVECOT = "/usr/sbin/dovecot"
LMTP_BINARY = "/usr/lib/dovecot/lmtp"
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 5


def log(msg):
    sys.stderr.write("dovecot_server: %s\n" % msg)
    sys.stderr.flush()


def unavailable():
    """Why Dovecot LMTP cannot run here (a sentence), or None."""
    if not os.access(DOVECOT, os.X_OK):
        return "dovecot is not installed (Debian: dovecot-core)"
    if not os.access(LMTP_BINARY, os.X_OK):
        return "Dovecot's LMTP service is not installed (Debian: dovecot-lmtpd)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("dovecot")
        except KeyError:
            return "running as root and there is no 'dovecot' user to run Dovecot as"
    return None


def temp_parent():
    """Where to make the instance's directory: the usual temporary directory, unless running as root
    and a directory above it is closed to others (the dovecot user must reach its files), or the
    path would make the socket's name too long for a sockaddr_un; then /tmp."""
    parent = tempfile.gettempdir()
    if len(parent) > 60:
        return "/tmp"
    if os.geteuid() == 0:
        d = os.path.abspath(parent)
        while True:
            if not os.stat(d).st_mode & 0o001:
                return "/tmp"
            if d == "/":
                break
            d = os.path.dirname(d)
    return parent


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def greeting_ok(port, token, deadline):
    """True once 127.0.0.1:port greets with this instance's banner (before the deadline)."""
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
                if token.encode() in data:
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def config(top, port, token, uid, gid, user, group, tls, quota):
    lines = [
        "# private smtpc test instance: LMTP only",
        "base_dir = %s/run" % top,
        "state_dir = %s/state" % top,
        "instance_name = %s" % token,
        "log_path = %s/dovecot.log" % top,
        "protocols = lmtp",
        "listen = 127.0.0.1",
        "login_greeting = %s ready" % token,
        "default_internal_user = %s" % user,
        "default_internal_group = %s" % group,
        "default_login_user = %s" % user,
        "first_valid_uid = %d" % uid,
        "last_valid_uid = %d" % uid,
        "first_valid_gid = %d" % gid,
        "last_valid_gid = %d" % gid,
        "mail_location = maildir:~/Maildir",
        # recipients are looked up by their local part, whatever the domain
        "auth_username_format = %Ln",
        "passdb {",
        "  driver = passwd-file",
        "  args = %s/users" % top,
        "}",
        "userdb {",
        "  driver = passwd-file",
        "  args = %s/users" % top,
        "  default_fields = uid=%d gid=%d home=%s/mail/%%n" % (uid, gid, top),
        "}",
        "service anvil {",
        "  chroot =",
        "}",
        "service lmtp {",
        "  unix_listener %s/lmtp {" % top,
        "    mode = 0666",
        "  }",
        "  inet_listener lmtp {",
        "    address = 127.0.0.1",
        "    port = %d" % port,
        "  }",
        "}",
    ]
    if quota:
        lines += ["mail_plugins = $mail_plugins quota", "plugin {", "  quota = maildir:User quota", "}"]
    if tls:
        lines += ["ssl = yes", "ssl_cert = <%s/tls/cert.pem" % top, "ssl_key = <%s/tls/key.pem" % top]
    else:
        lines += ["ssl = no"]
    return "\n".join(lines) + "\n"


class Instance:
    def __init__(self, users, tls_cert=None, tls_key=None, quota=None):
        self.users = users
        self.quota = quota or {}
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.top = None
        self.proc = None
        self.port = None

    def start(self):
        self.top = tempfile.mkdtemp(prefix="smtpc-dovecot-", dir=temp_parent())
        os.chmod(self.top, 0o755)  # the socket inside must be reachable by the test client
        if os.geteuid() == 0:
            pw = pwd.getpwnam("dovecot")
        else:
            pw = pwd.getpwuid(os.geteuid())
        uid, gid = pw.pw_uid, pw.pw_gid
        group = grp.getgrgid(gid).gr_name
        for d in ("state", "mail", "tls"):
            os.mkdir(os.path.join(self.top, d), 0o700)
        os.mkdir(os.path.join(self.top, "run"), 0o755)  # Dovecot wants its base_dir world-readable
        with open(os.path.join(self.top, "users"), "w") as f:
            for u in self.users:
                extra = "userdb_quota_rule=*:storage=%dB" % self.quota[u] if u in self.quota else ""
                f.write("%s:{PLAIN}unused-%s::::::%s\n" % (u, secrets.token_hex(4), extra))
        if self.tls_cert:
            shutil.copyfile(self.tls_cert, os.path.join(self.top, "tls", "cert.pem"))
            shutil.copyfile(self.tls_key, os.path.join(self.top, "tls", "key.pem"))
        token = "smtpc-dovecot-" + secrets.token_hex(6)
        self.port = free_port()
        conf = os.path.join(self.top, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(config(self.top, self.port, token, uid, gid, pw.pw_name, group, bool(self.tls_cert),
                           bool(self.quota)))
        if os.geteuid() == 0:
            for root, dirs, files in os.walk(self.top):
                for name in dirs + files:
                    os.lchown(os.path.join(root, name), uid, gid)
            os.lchown(self.top, uid, gid)

        def drop():
            # Root hands the whole instance to the dovecot user: Dovecot then runs as in its
            # documented non-root mode, every service as that one user.
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
            # Dovecot goes when this script does, even killed (after setuid, which clears it).
            try:
                import ctypes
                ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
            except (OSError, AttributeError):
                pass

        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.top}
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=drop, env=env, cwd=self.top)
        deadline = time.monotonic() + START_TIMEOUT_S
        sock = os.path.join(self.top, "lmtp")
        while time.monotonic() < deadline and self.proc.poll() is None and not os.path.exists(sock):
            time.sleep(0.02)
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode(errors="replace").strip()
            raise RuntimeError("dovecot exited at start (status %d): %s%s"
                               % (self.proc.returncode, err, self.log_tail()))
        if not greeting_ok(self.port, token, deadline):
            raise RuntimeError("dovecot did not greet on 127.0.0.1:%d within %d s%s"
                               % (self.port, START_TIMEOUT_S, self.log_tail()))
        return sock

    def log_tail(self):
        try:
            with open(os.path.join(self.top, "dovecot.log"), errors="replace") as f:
                text = f.read()
        except OSError:
            return ""
        return "\n" + "\n".join(text.splitlines()[-20:]) if text else ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log("dovecot did not stop within %d s: killed" % STOP_TIMEOUT_S)
                self.proc.kill()
                self.proc.wait()
        if self.top:
            if os.environ.get("SMTPC_DOVECOT_LOG") == "1":
                sys.stderr.write(self.log_tail())
            shutil.rmtree(self.top, ignore_errors=True)
            self.top = None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--user", metavar="NAME", action="append", default=[],
                    help="a mailbox user (local part); may repeat; default: alice and bob")
    ap.add_argument("--tls-cert", metavar="FILE", help="server certificate (PEM): offer STARTTLS")
    ap.add_argument("--tls-key", metavar="FILE", help="private key (PEM) of --tls-cert")
    ap.add_argument("--quota", metavar="NAME=BYTES", action="append", default=[],
                    help="give user NAME (also a --user) a storage quota of BYTES; may repeat")
    ap.add_argument("--check", action="store_true",
                    help="print why Dovecot cannot run here and exit 1, or exit 0 when it can")
    args = ap.parse_args()
    why = unavailable()
    if args.check:
        if why:
            print(why)
            return 1
        return 0
    if why:
        log(why)
        return 2
    users = args.user or ["alice", "bob"]
    for u in users:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", u):
            ap.error("--user takes a plain local part: %r" % u)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    quota = {}
    for spec in args.quota:
        name, sep, size = spec.partition("=")
        if not sep or name not in users or not size.isdigit():
            ap.error("--quota takes NAME=BYTES for a NAME given with --user: %r" % spec)
        quota[name] = int(size)

    stopping = {"flag": False}

    def on_signal(signum, frame):
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    inst = Instance(users, args.tls_cert, args.tls_key, quota)
    try:
        sock = inst.start()
        sys.stdout.write("READY %s\nPORT %d\nMAILDIRS %s/mail\n" % (sock, inst.port, inst.top))
        sys.stdout.flush()
        while not stopping["flag"]:
            time.sleep(0.1)
            if inst.proc.poll() is not None:
                log("dovecot exited unexpectedly (status %d)%s" % (inst.proc.returncode, inst.log_tail()))
                break
    except Exception as e:
        log("error: %s" % e)
        inst.stop()
        return 1
    inst.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
