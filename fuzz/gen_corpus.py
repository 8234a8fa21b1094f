#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (run from anywhere; rewrites the files it owns).

The EHLO replies are those real servers (Postfix 3.7, Exim 4.96, aiosmtpd 1.4, Dovecot LMTP 2.3,
Postfix smtp-sink) sent on loopback; the rest are pipelined batches, LMTP replies and tricky bodies.
"""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def crlf(*lines):
    return "".join(l + "\r\n" for l in lines).encode()


EHLO = {
    "postfix": crlf("250-mail.example.org", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN",
                    "250-STARTTLS", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8",
                    "250 CHUNKING"),
    "postfix_tls_auth": crlf("250-mail.example.org", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY",
                             "250-ETRN", "250-AUTH PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256",
                             "250-AUTH=PLAIN LOGIN", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN",
                             "250-SMTPUTF8", "250 CHUNKING"),
    "exim": crlf("250-mx.example.net Hello client.example [127.0.0.1]", "250-SIZE 10485760", "250-8BITMIME",
                 "250-DSN", "250-PIPELINING", "250-AUTH PLAIN LOGIN CRAM-MD5", "250-CHUNKING", "250-STARTTLS",
                 "250-PRDR", "250-SMTPUTF8", "250 HELP"),
    "aiosmtpd": crlf("250-localhost.localdomain", "250-SIZE 33554432", "250-8BITMIME", "250-SMTPUTF8",
                     "250-STARTTLS", "250-AUTH LOGIN PLAIN", "250 HELP"),
    "dovecot_lmtp": crlf("250-host Dovecot ready.", "250-8BITMIME", "250-CHUNKING", "250-ENHANCEDSTATUSCODES",
                         "250-PIPELINING", "250 STARTTLS"),
    "smtp_sink": crlf("250-host", "250-PIPELINING", "250-8BITMIME", "250-AUTH PLAIN LOGIN", "250-XVERP",
                      "250-XFORWARD NAME ADDR PROTO HELO", "250-ENHANCEDSTATUSCODES", "250-DSN",
                      "250 SIZE 256000000"),
    "odd": crlf("250-host greets you", "250-  size\t123  ", "250-AUTH", "250-auth=LOGIN", "250-X-EXPS GSSAPI NTLM",
                "250--bad", "250-", "250-8bitmime", "250 Pipelining"),
    "single": crlf("250 host.example"),
}

GREETING = crlf("220 mail.example.org ESMTP Postfix (Debian/GNU)")

REPLIES = [
    GREETING,
    crlf("220-mail.example.org ESMTP", "220-second line", "220 last"),
    crlf("250 2.1.0 Ok"), crlf("250 2.1.5 Ok"), crlf("354 End data with <CR><LF>.<CR><LF>"),
    crlf("250 2.0.0 Ok: queued as 4Xyz"), crlf("221 2.0.0 Bye"),
    crlf("421 4.3.0 mail.example.org Service not available, closing transmission channel"),
    crlf("550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table"),
    crlf("451-4.7.1 first", "451 4.7.1 second"), crlf("250"), crlf("250-"), crlf("334 VXNlcm5hbWU6"),
    b"250 ok\n", b"250 ok\r\r\n", b"250 o\x00k\r\n", b"250-a\r\n251 b\r\n", b"999 x\r\n", b"25O x\r\n",
    b"250x\r\n", b"250 \xff\xfe\r\n", b"250-" + b"a" * 5000 + b"\r\n250 b\r\n",
]

PIPELINED_100 = b"".join([crlf("250 2.1.0 Ok")] + [crlf("250 2.1.5 Ok")] * 98 +
                         [crlf("354 End data with <CR><LF>.<CR><LF>")])

BODIES = [
    b"", b"Subject: hi\r\n\r\nhello\r\n", b"no final newline", b".", b".\r\n", b"..\r\n.\r\n", b"\r\n.\r\n",
    b"a\n.\nb\n", b"a\r.\rb\r", b"line\r", b"\r", b"\n", b"\r\r\n\n", b".\n.\n.\n", b"x\r\n.\r\n.\r\nx",
    b"From: a@example.org\nTo: b@example.org\nSubject: lone LF\n\n.leading dot\n..two dots\n.\n",
    b"\x00\xff\r\n\x80", b"\r\n.", b"a\r\n.\rb", (b"." * 70 + b"\n") * 5,
]

ADDRESSES = [
    "user@example.org", "<user@example.org>", "", "<>", "\"quoted user\"@example.org", "\"a\\\"b\"@x",
    "@a,@b:user@d", "postmaster", "us\xe9r@ex\xe4mple.org", "a" * 64 + "@" + "b" * 189, "a" * 65 + "@x",
    "user@[127.0.0.1]", "user@[IPv6:::1]", "user@example.org\tNOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b",
    "user@example.org\tBODY=8BITMIME SMTPUTF8 SIZE=1000", "a\r\nRCPT TO:<x>@y", "<a>b@c>", "a@", "@x",
    "\"unterminated@x", "a\\b@c", "a b@c", "a@b\x00c", "\"<x>\"@d",
]


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def session_input(flags, seed, sender, rcpts, options, body, server_chunks):
    sep = b"\n#\n"
    fields = [sender.encode(), " ".join(rcpts).encode(), options.encode(), body] + list(server_chunks)
    return bytes([flags, seed]) + sep.join(fields)


def main():
    for name, data in EHLO.items():
        write("fuzz_features", name, data)
        write("fuzz_reply", "ehlo_" + name, bytes([0]) + data)         # one byte at a time
        write("fuzz_reply", "ehlo3_" + name, bytes([2, 3, 17]) + data)  # chunks of 3 and 17
    for i, r in enumerate(REPLIES):
        write("fuzz_reply", "reply%02d" % i, bytes([1, 5]) + r)
        write("fuzz_reply", "reply%02d_small" % i, bytes([8 | 1, 7]) + r)
    write("fuzz_reply", "pipelined100", bytes([3, 1, 64, 200]) + PIPELINED_100)
    write("fuzz_reply", "pipelined100_whole", bytes([1, 255]) + PIPELINED_100)

    for i, b in enumerate(BODIES):
        write("fuzz_data_encoder", "body%02d" % i, bytes([2, 1, 4]) + b)
        write("fuzz_data_encoder", "body%02d_bytes" % i, bytes([0]) + b)

    for i, a in enumerate(ADDRESSES):
        write("fuzz_address", "addr%02d" % i, bytes([i & 3]) + a.encode("utf-8", "surrogateescape"))

    # Sessions: greeting, EHLO, then sendmail (pipelined or not), SMTP and LMTP.
    ok = crlf("250 2.1.0 Ok")
    rok = crlf("250 2.1.5 Ok")
    go = crlf("354 End data with <CR><LF>.<CR><LF>")
    queued = crlf("250 2.0.0 Ok: queued as ABC")
    refused = crlf("550 5.1.1 User unknown")
    bye = crlf("221 2.0.0 Bye")
    rset = crlf("250 2.0.0 Ok")
    rcpts3 = ["a@example.org", "b@example.org", "c@example.org"]
    body = b"Subject: test\r\n\r\n.hello\r\nworld\n.\n"
    P, PIPE, EOF_TIMEOUT, SECOND, READ_WHILE_WRITE, QUIT, LOW = 0, 2, 4, 8, 16, 32, 64
    sessions = {
        # not pipelined: one reply per read
        "smtp_plain": (QUIT, 1, rcpts3, "", body, [GREETING, EHLO["exim"], ok, rok, rok, rok, go, queued, bye]),
        # pipelined: the batch's replies in one read
        "smtp_pipelined": (PIPE | QUIT, 7, rcpts3, "", body,
                           [GREETING, EHLO["postfix"], ok + rok + rok + rok + go, queued, bye]),
        "smtp_pipelined_split": (PIPE | READ_WHILE_WRITE, 9, rcpts3, "BODY=8BITMIME", body,
                                 [GREETING, EHLO["smtp_sink"][:20], EHLO["smtp_sink"][20:], ok + rok, rok + rok[:3],
                                  rok[3:] + go, queued]),
        "smtp_refused_rcpts": (PIPE, 3, rcpts3, "", body,
                               [GREETING, EHLO["postfix"], ok + refused + refused + refused + crlf("554 5.5.1 no valid recipients"), rset]),
        "smtp_one_refused": (PIPE | SECOND, 5, rcpts3, "", body,
                             [GREETING, EHLO["postfix"], ok + rok + refused + rok + go, queued,
                              ok + rok + rok + rok + go, queued]),
        "smtp_helo_fallback": (0, 2, rcpts3[:1], "", b"hi", [GREETING, crlf("502 5.5.2 EHLO not implemented"),
                                                             crlf("250 host"), ok, rok, go, queued]),
        "smtp_421": (PIPE, 4, rcpts3, "", body, [GREETING, EHLO["postfix"], ok + crlf("421 4.3.2 shutting down")]),
        "smtp_smtputf8": (PIPE, 6, ["j\xf6rg@example.org"], "SMTPUTF8", body,
                          [GREETING, EHLO["postfix"], ok + rok + go, queued]),
        "smtp_data_refused": (0, 8, rcpts3[:2], "", body, [GREETING, EHLO["exim"], ok, rok, rok,
                                                            crlf("554 5.3.0 no"), rset]),
        "smtp_final_refused": (PIPE | QUIT, 10, rcpts3[:2], "", body, [GREETING, EHLO["postfix"], ok + rok + rok + go,
                                                                        crlf("552 5.3.4 too big"), rset, bye]),
        "smtp_eof_after_data": (PIPE, 11, rcpts3, "", body, [GREETING, EHLO["postfix"], ok + rok + rok + rok + go]),
        "smtp_timeout": (PIPE | EOF_TIMEOUT, 12, rcpts3, "", body, [GREETING, EHLO["postfix"]]),
        "smtp_extra_data": (PIPE, 13, rcpts3[:1], "", body, [GREETING, EHLO["postfix"], ok + rok + go, queued + rok]),
        "smtp_lowlevel": (SECOND | LOW | QUIT, 14, rcpts3, "", body,
                          [GREETING, EHLO["exim"], ok, rok, rok, rok, go, queued, ok, rok, rok, rok, go, queued, bye]),
        "lmtp": (1 | PIPE | QUIT, 15, rcpts3, "", body,
                 [GREETING, EHLO["dovecot_lmtp"], ok + rok + refused + rok + go,
                  crlf("250 2.0.0 <a@example.org> Saved") + crlf("452 4.2.2 <c@example.org> Quota exceeded"), bye]),
        "lmtp_partial": (1 | PIPE, 16, rcpts3, "", body,
                         [GREETING, EHLO["dovecot_lmtp"], ok + rok + rok + rok + go, crlf("250 2.0.0 Saved")]),
        "smtp_many_rcpts": (PIPE, 17, ["r%d@example.org" % i for i in range(40)], "", body,
                            [GREETING, EHLO["postfix"], ok + rok * 40 + go, queued]),
    }
    for name, (flags, seed, rcpts, options, b, server) in sessions.items():
        write("fuzz_session", name, session_input(flags, seed, "sender@example.org", rcpts, options, b, server))
    for i, b in enumerate(BODIES[:8]):
        write("fuzz_session", "body%02d" % i, session_input(2, i, "", rcpts3[:1], "", b,
                                                            [GREETING, EHLO["postfix"], ok + rok + go, queued]))


if __name__ == "__main__":
    main()
