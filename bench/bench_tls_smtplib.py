#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""TLS sessions through Python's smtplib or smtpc's drop-in (smtpc.smtplib), for bench/bench_tls.sh.

usage: bench_tls_smtplib.py HOST PORT SESSIONS smtplib|smtpc none|default-once|default-each

Each session: SMTP(host, port), starttls(context=...), sendmail of one small message, quit().
Context: "none" passes no context (smtplib then does not verify; the drop-in verifies against the
system store), "default-once" one ssl.create_default_context() for every session, "default-each" a
new one per session. Prints one line with the seconds and the milliseconds per session.
"""
import importlib
import ssl
import sys
import time

MSG = b"From: bench@example.org\r\nTo: sink@example.org\r\nSubject: tls bench\r\n\r\nhello\r\n"


def main():
    host, port, sessions, module, ctx_mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    mod = importlib.import_module("smtplib" if module == "smtplib" else "smtpc.smtplib")
    t0 = time.monotonic()  # making the context is part of the cost, as in a program
    once = ssl.create_default_context() if ctx_mode == "default-once" else None
    for _ in range(sessions):
        ctx = ssl.create_default_context() if ctx_mode == "default-each" else once
        s = mod.SMTP(host, port, local_hostname="bench.example.org")
        s.starttls(context=ctx)
        refused = s.sendmail("bench@example.org", ["sink@example.org"], MSG)
        if refused:
            sys.exit("refused: %r" % refused)
        s.quit()
    t = time.monotonic() - t0
    print("%s context=%s sessions=%d seconds=%.3f ms_per_session=%.2f" % (module, ctx_mode, sessions, t, t * 1000 / sessions))


if __name__ == "__main__":
    main()
