#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora in fuzz/corpus/<target>/ (run from anywhere; rewrites the files it owns).

The EHLO replies are those real servers (Postfix 3.7, Exim 4.96, aiosmtpd 1.4, Dovecot LMTP 2.3,
Postfix smtp-sink) sent on loopback; the rest are pipelined batches, LMTP replies and tricky bodies.
"""
import base64
import hashlib
import hmac
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
        # Low-level DATA after every RCPT was refused: sent, as smtplib's data() does.
        "smtp_lowlevel_refused": (SECOND | LOW, 18, rcpts3[:1], "", body,
                                  [GREETING, EHLO["exim"], ok, refused, rset, ok, refused, go, queued]),
        "smtp_many_rcpts": (PIPE, 17, ["r%d@example.org" % i for i in range(40)], "", body,
                            [GREETING, EHLO["postfix"], ok + rok * 40 + go, queued]),
    }
    for name, (flags, seed, rcpts, options, b, server) in sessions.items():
        write("fuzz_session", name, session_input(flags, seed, "sender@example.org", rcpts, options, b, server))
    for i, b in enumerate(BODIES[:8]):
        write("fuzz_session", "body%02d" % i, session_input(2, i, "", rcpts3[:1], "", b,
                                                            [GREETING, EHLO["postfix"], ok + rok + go, queued]))

    auth_corpus()
    message_corpus()


# ---- fuzz_auth: flags (bits 0-2 mechanism, 3 initial response, 4 chunked, 5 timeout at the end,
# 6 long credentials), seed, custom responses ('|'-separated), then one field per server reply
# (three digits first: sent as is; else a challenge sent as "334 <base64>").
AUTH_MECHS = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER", "X-CUSTOM"]
INITIAL, CHUNKED, TIMEOUT, LONG = 8, 16, 32, 64
SCRAM_NONCE = {"SCRAM-SHA-1": "fyko+d2lbbFgONRv9qkxdawL", "SCRAM-SHA-256": "rOprNGfwEbeRWgbNEkqO"}
SCRAM_SERVER_NONCE = {"SCRAM-SHA-1": "3rfcNHYJY1ZVvWVs7j", "SCRAM-SHA-256": "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"}
SCRAM_SALT = {"SCRAM-SHA-1": "QSXCR+Q6sek8bf92", "SCRAM-SHA-256": "W22ZaJ0SNY7soEsUEjb6gQ=="}


def scram_messages(mech, user="user", password="pencil", iterations=4096):
    """server-first and the correct server-final for fuzz_auth's fixed nonce (RFC 5802, RFC 7677)."""
    h = "sha1" if mech == "SCRAM-SHA-1" else "sha256"
    nonce = SCRAM_NONCE[mech] + SCRAM_SERVER_NONCE[mech]
    salt = SCRAM_SALT[mech]
    server_first = "r=%s,s=%s,i=%d" % (nonce, salt, iterations)
    client_first_bare = "n=%s,r=%s" % (user, SCRAM_NONCE[mech])
    client_final_bare = "c=biws,r=" + nonce
    auth_message = ",".join([client_first_bare, server_first, client_final_bare]).encode()
    salted = hashlib.pbkdf2_hmac(h, password.encode(), base64.b64decode(salt), iterations)
    server_key = hmac.new(salted, b"Server Key", h).digest()
    signature = base64.b64encode(hmac.new(server_key, auth_message, h).digest()).decode()
    return server_first.encode(), ("v=" + signature).encode()


def auth_input(mech, flags, seed, replies, custom=b""):
    sep = b"\n#\n"
    return bytes([AUTH_MECHS.index(mech) | flags, seed]) + sep.join([custom] + list(replies))


def auth_corpus():
    ok = b"235 2.7.0 Authentication successful\r\n"
    bad = b"535 5.7.8 Error: authentication failed: authentication failure\r\n"
    seeds = {
        "plain_initial": auth_input("PLAIN", INITIAL, 1, [ok]),
        "plain_challenge": auth_input("PLAIN", 0, 2, [b"", ok]),
        "plain_refused": auth_input("PLAIN", INITIAL | CHUNKED, 3, [bad]),
        "plain_long_deferred": auth_input("PLAIN", INITIAL | LONG, 4, [b"", ok]),
        "plain_421": auth_input("PLAIN", INITIAL, 5, [b"421 4.3.2 shutting down\r\n"]),
        "plain_eof": auth_input("PLAIN", 0, 6, []),
        "plain_timeout": auth_input("PLAIN", TIMEOUT, 6, [b""]),
        "login": auth_input("LOGIN", 0, 7, [b"Username:", b"Password:", ok]),
        "login_initial": auth_input("LOGIN", INITIAL | CHUNKED, 8, [b"Password:", ok]),
        "login_too_many": auth_input("LOGIN", 0, 9, [b"Username:"] * 7 + [ok]),
        "cram_md5": auth_input("CRAM-MD5", 0, 10, [b"<1896.697170952@postoffice.reston.mci.net>", ok]),
        "cram_md5_refused": auth_input("CRAM-MD5", INITIAL, 11, [b"<x@y>", bad]),
        "bad_base64": auth_input("LOGIN", 0, 12, [b"334 VXNlcm5hbWU\r\n", b"501 5.5.2 cancelled\r\n"]),
        "multiline_334": auth_input("LOGIN", 0, 13, [b"334-VXNl\r\n334 cm5hbWU6\r\n", b"501 cancelled\r\n"]),
        "escape_in_refusal": auth_input("PLAIN", INITIAL, 14, [b"535 \x1b[2J\x1b[Hdone: 250 ok\r\n"]),
        "custom": auth_input("X-CUSTOM", INITIAL, 15, [b"challenge one", b"two", ok],
                             b"initial response|first answer|second answer"),
        "custom_abort": auth_input("X-CUSTOM", 0, 16, [b"c1", b"501 cancelled\r\n"], b"!"),
        "custom_unset": auth_input("X-CUSTOM", INITIAL | CHUNKED, 17, [b"\x00\r\n\xff", ok], b"-|-"),
    }
    for mech in ("SCRAM-SHA-1", "SCRAM-SHA-256"):
        m = mech.lower().replace("-", "_")
        seeds[m + "_rfc_vector"] = auth_input(mech, INITIAL, 19, list(scram_messages(mech)) + [ok])
        # The other seeds use 2 iterations: 4096 make each run take milliseconds.
        first, final = scram_messages(mech, iterations=2)
        nonce = (SCRAM_NONCE[mech] + SCRAM_SERVER_NONCE[mech]).encode()
        seeds[m] = auth_input(mech, INITIAL, 20, [first, final, ok])
        seeds[m + "_no_initial"] = auth_input(mech, CHUNKED, 21, [b"", first, final, ok])
        seeds[m + "_final_in_235"] = auth_input(mech, INITIAL, 22, [first, b"235 " + base64.b64encode(final) + b"\r\n"])
        seeds[m + "_235_too_early"] = auth_input(mech, INITIAL, 23, [first, ok])
        seeds[m + "_wrong_signature"] = auth_input(mech, INITIAL, 24, [first, b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=", ok])
        seeds[m + "_server_error"] = auth_input(mech, INITIAL, 25, [first, b"e=invalid-proof", bad])
        seeds[m + "_nonce_mismatch"] = auth_input(mech, INITIAL, 26, [b"r=abc,s=QSXCR+Q6sek8bf92,i=4096", bad])
        seeds[m + "_iterations"] = auth_input(mech, INITIAL, 27, [b"r=" + nonce + b",s=QSXCR+Q6sek8bf92,i=0", bad])
        seeds[m + "_extension"] = auth_input(mech, INITIAL, 28, [b"m=ext,r=" + nonce + b",s=QSXCR+Q6sek8bf92,i=1", bad])
        seeds[m + "_bad_salt"] = auth_input(mech, INITIAL, 29, [b"r=" + nonce + b",s=!!,i=4096", bad])
    google = b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
    rfc7628 = (b'{"status":"invalid_token","scope":"example_scope",'
               b'"openid-configuration":"https://example.com/.well-known/openid-configuration"}')
    for mech in ("XOAUTH2", "OAUTHBEARER"):
        m = mech.lower()
        seeds[m] = auth_input(mech, INITIAL, 30, [ok])
        seeds[m + "_no_initial"] = auth_input(mech, 0, 31, [b"", ok])
        seeds[m + "_error_json"] = auth_input(mech, INITIAL, 32, [google, b"535 5.7.8 Username and Password not accepted\r\n"])
        seeds[m + "_error_rfc7628"] = auth_input(mech, INITIAL | CHUNKED, 33, [rfc7628, bad])
        seeds[m + "_error_hostile"] = auth_input(mech, INITIAL, 34, [b'{"status":"\x1b[2J\\u0000\\"x","a":[{}]}', bad])
    for name, data in seeds.items():
        write("fuzz_auth", name, data)


# ---- fuzz_message: flags (bit 0 recipients given, bit 1 sender given), seed, then the message.
MESSAGES = {
    "lone_cr_bcc": b"From: f@example.org\nTo: t@example.org\nSubject: x\rBcc: secret@example.org\n\nbody\n",
    "all_cr": b"From: f@x\rSubject: x\rBcc: secret@x\rTo: t@x\r\rbody\r",
    "cr_bcc_blank_lf": b"From: f@x\rBcc: b@x\n\nTo: evil@x\n",
    "bcc_first": b"Bcc: b@x\rBcc: c@x\nFrom: f@x\nTo: t@x\n\nbody",
    "bcc_last": b"From: f@x\rTo: t@x\rBcc: b@x",
    "folded": b"From: f@x\rBcc: b@x,\r c@x,\r\n\td@x\rTo: t@x\r\rbody",
    "obsolete": b"From: f@x\rBcc : b@x\rbcc\t: c@x\rTo: t@x\r\r",
    "any_case": b"From: f@x\rbCC: b@x\rRESENT-bcc: r@x\rTo: t@x\r\r",
    "body_bcc": b"From: f@x\rTo: t@x\r\rBcc: b@x\r",
    "resent": (b"Resent-Date: now\rResent-From: r@x\rResent-To: rt@x\rResent-Bcc: rb@x\r"
               b"From: f@x\rTo: t@x\rBcc: b@x\r\rbody"),
    "resent_sender": b"Resent-Date: now\rResent-Sender: s@x\rResent-bcc: a@x,\r b@x\n\nbody",
    "groups": (b"From: \"Name, Inc\" <f@x>\r\nTo: undisclosed-recipients:;\r\nCc: Team: a@x, (c) b@x;, <c@x>\r\n"
               b"Bcc: \"q\\\"x\"@y, @r1,@r2:route@x\r\n\r\n.dot\r\n"),
    "crlf": b"From: f@x\r\nBcc: b@x\r\nTo: t@x\r\n\r\nbody\r\n",
    "not_a_header": b"From: f@x\nTo: t@x\n>From x\nBcc: b@x\n\nbody",
    "continuation_first": b" Bcc: b@x\rFrom: f@x\rTo: t@x\r",
}


def message_corpus():
    for i, (name, msg) in enumerate(MESSAGES.items()):
        write("fuzz_message", name, bytes([0, i]) + msg)
    write("fuzz_message", "given_rcpts", bytes([1, 0]) + MESSAGES["all_cr"])
    write("fuzz_message", "given_both", bytes([3, 0]) + MESSAGES["cr_bcc_blank_lf"])


if __name__ == "__main__":
    main()
