#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Reference for bench_sendmail: the same messages through Python's smtplib (which never pipelines).

usage: bench_smtplib.py HOST PORT MESSAGES SIZE RECIPIENTS
"""
import smtplib
import sys
import time


def make_message(size):
    head = b"From: bench@example.org\r\nTo: sink@example.org\r\nSubject: smtpc benchmark\r\n\r\n"
    line = b"The quick brown fox jumps over the lazy dog. 0123456789 abcdefghijklmnop\r\n"
    out = bytearray(head[:size])
    while len(out) < size:
        out += line[: size - len(out)]
    return bytes(out)


def main():
    host, port, messages, size, rcpts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    msg = make_message(size)
    to = ["rcpt%d@example.org" % i for i in range(rcpts)]
    s = smtplib.SMTP(host, port, local_hostname="bench.example.org")
    s.ehlo()
    t0 = time.monotonic()
    for _ in range(messages):
        refused = s.sendmail("bench@example.org", to, msg)
        if refused:
            sys.exit("refused: %r" % refused)
    t = time.monotonic() - t0
    s.quit()
    print("smtplib pipelining=0 rcpts=%d size=%d messages=%d seconds=%.3f msg_per_s=%.1f mb_per_s=%.2f"
          % (rcpts, size, messages, t, messages / t, messages * size / t / 1e6))


if __name__ == "__main__":
    main()
