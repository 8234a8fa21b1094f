/* SPDX-License-Identifier: MIT */
/*
 * smtpc-send: send the RFC 5322 message read on standard input to the recipients named on the command
 * line, through an SMTP or LMTP server. The message is read whole first (spooled: in memory, then in
 * an unnamed temporary file; a regular file on standard input is sent in place), then sent.
 *
 * Written against the public API (smtpc.h) only. The usage text below is the reference for the manual
 * page; keep it complete.
 *
 * Everything printed that may come from the server (replies, error details, the trace) goes through
 * one escaping writer, so that no control byte or escape sequence from the network reaches the terminal.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_TMPFILE */
#endif
#include <smtpc.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Exit status, from sysexits.h as sendmail and msmtp use it (the values are written out: the header is
 * not everywhere). When several apply, worst() chooses; see the usage text. */
enum {
    EXIT_ACCEPTED = 0,
    EXIT_USAGE = 64,       /* EX_USAGE: command line error, nothing sent */
    EXIT_DATAERR = 65,     /* EX_DATAERR: the message itself was refused (too big, bad content) */
    EXIT_NOINPUT = 66,     /* EX_NOINPUT: an input file (--each, --mbox, --maildir) cannot be read */
    EXIT_NOUSER = 67,      /* EX_NOUSER: a recipient was refused permanently */
    EXIT_NOHOST = 68,      /* EX_NOHOST: the server's name does not resolve */
    EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: permanent refusal of the sender or session */
    EXIT_SOFTWARE = 70,    /* EX_SOFTWARE: internal error, out of memory */
    EXIT_IOERR = 74,       /* EX_IOERR: reading the message, or the connection, failed */
    EXIT_TEMPFAIL = 75,    /* EX_TEMPFAIL: try again later (4xx, refused connection, timeout, unknown) */
    EXIT_PROTOCOL = 76,    /* EX_PROTOCOL: the server broke the protocol (or TLS) */
    EXIT_NOPERM = 77,      /* EX_NOPERM: authentication refused */
    EXIT_CONFIG = 78       /* EX_CONFIG: the options or files ask for what cannot be done */
};

/* In pieces: C99 compilers need only support string literals of 4095 bytes. */
static const char *const usage_text[] = {
    "Usage: smtpc-send [OPTION]... [--] RECIPIENT...\n"
    "  or:  smtpc-send -t [OPTION]... [[--] RECIPIENT...]\n"
    "  or:  smtpc-send [OPTION]... --each FILE... -- RECIPIENT...\n"
    "  or:  smtpc-send [OPTION]... --mbox FILE | --maildir DIR [--] RECIPIENT...\n"
    "  (with -t, --each FILE..., --mbox FILE and --maildir DIR take no RECIPIENT)\n"
    "Send the message read on standard input to each RECIPIENT through an SMTP or LMTP server.\n"
    "The message (header fields, a blank line, the body) is sent as it is: without -t its header\n"
    "fields are not read for addresses and a Bcc field is not removed. Line ends are sent as CRLF\n"
    "and lines starting with a dot are escaped. As with sendmail, a line holding only \".\" ends\n"
    "the message unless -i is given. The message is read whole before connecting, so that its\n"
    "size is declared (SIZE) and a server refusing that size does so before the upload: up to\n"
    "1 MiB in memory, beyond in a temporary file without a name in $TMPDIR (default /tmp),\n"
    "mode 0600, gone when smtpc-send ends. A regular file on standard input is sent in place,\n"
    "without a copy, unless -t or -F is given; if it is truncated meanwhile, the connection is\n"
    "closed without the end of data (the server discards the message) and the exit status is 74.\n"
    "SIGINT (Control-C) or SIGTERM interrupts smtpc-send at once: it names the stage interrupted\n"
    "and each recipient as not sent or delivery unknown, and exits with 75; a second signal exits\n"
    "at once with 128 + its number (one within 200 ms of the first is taken as the same one, sent\n"
    "to the process and its group).\n"
    "\n"
    "Server:\n"
    "  --server URL          the server (default smtp://localhost):\n"
    "                          smtp://HOST[:PORT]   SMTP, port 25, STARTTLS as --tls says\n"
    "                          smtps://HOST[:PORT]  SMTP over TLS from the first byte, port 465\n"
    "                          lmtp://HOST[:PORT]   LMTP, port 2003\n"
    "                          lmtp:///PATH         LMTP over the Unix-domain socket PATH\n"
    "                        HOST is a name, an IPv4 address, or an IPv6 address in brackets.\n"
    "  --helo NAME           name sent with EHLO, LHLO or HELO (default: this host's fully qualified\n"
    "                        name, or its address in brackets when the name has no dot)\n"
    "  --timeout SECONDS     give up when a step takes longer: connecting and the greeting, the TLS\n"
    "                        handshake, each reply, each block of the message (default 300, and 30\n"
    "                        for connecting; 0: no limit)\n"
    "  --connect-timeout SECONDS\n"
    "                        limit for connecting, the greeting and the TLS handshake of smtps://\n"
    "                        (default: the --timeout value when given, else 30; 0: no limit)\n"
    "  --no-pipelining       one command per round trip even when the server offers PIPELINING\n"
    "\n",
    "Envelope:\n"
    "  -f, --from ADDRESS    envelope sender (default: the null sender <>, as for a bounce; with -t\n"
    "                        the Sender or From field)\n"
    "  -t                    recipients from the To, Cc and Bcc fields (the Resent- ones when the\n"
    "                        message has a Resent-Date field), and the RECIPIENTs given too; the\n"
    "                        Bcc and Resent-Bcc fields are not sent\n"
    "  RECIPIENT             envelope recipients. Options may also follow them; -- ends the options\n"
    "                        (for a recipient that starts with '-').\n"
    "                        Addresses are bare (user@example.org) or in angle brackets. A non-ASCII\n"
    "                        (UTF-8) address is sent with SMTPUTF8 (RFC 6531) when the server offers\n"
    "                        it; when it does not, the message is not sent.\n"
    "\n",
    "TLS:\n"
    "  --tls MODE            when to use TLS (default auto):\n"
    "                          auto           no TLS over a Unix socket; opportunistic to a server\n"
    "                                         on this machine (a loopback address); required to any\n"
    "                                         other server; implicit for port 465\n"
    "                          required       STARTTLS with a verified certificate, or nothing but\n"
    "                                         EHLO is sent\n"
    "                          opportunistic  STARTTLS when the server offers it; a certificate that\n"
    "                                         fails verification is noted (--trace) but does not stop\n"
    "                                         the message (RFC 7435)\n"
    "                          none           no TLS\n"
    "                          implicit       TLS from the first byte, as with smtps://\n"
    "  --cafile FILE         trust the CA certificates in FILE (PEM) instead of the system store\n"
    "  --capath DIR          trust the CA certificates in DIR (OpenSSL hashed names) instead of the\n"
    "                        system store\n"
    "  --tls-server-name NAME\n"
    "                        verify the certificate against NAME, and send NAME as SNI, instead of\n"
    "                        the HOST of --server (needed for --tls required over a Unix socket)\n"
    "  --cert FILE           present the client certificate in FILE (PEM, optionally with its key)\n"
    "  --key FILE            the client certificate's private key (PEM), when not in FILE\n"
    "  --key-password-file FILE\n"
    "                        the private key's pass phrase: the first line of FILE\n"
    "  --tls-min VERSION     lowest TLS version accepted: 1.2 (default) or 1.3\n"
    "\n",
    "Authentication:\n"
    "  --user NAME           log in (AUTH) as NAME, with the strongest mechanism the server offers\n"
    "                        among SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN and LOGIN\n"
    "  --password-file FILE  the password: the first line of FILE\n"
    "  --password-env VAR    the password: the value of the environment variable VAR\n"
    "                        (never a command-line argument, which other users can read)\n"
    "  --auth MECHANISM      use MECHANISM only: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256,\n"
    "                        or XOAUTH2 or OAUTHBEARER with --oauth-token-file\n"
    "  --oauth-token-file FILE\n"
    "                        the OAuth 2.0 access token for XOAUTH2 and OAUTHBEARER: the first line\n"
    "                        of FILE\n"
    "                        Credentials are sent only over TLS with a verified certificate, or to a\n"
    "                        server on this machine.\n"
    "\n",
    "Delivery options (ESMTP extensions; the server must offer each one, or nothing is sent after\n"
    "EHLO and the exit status is 69):\n"
    "  --dsn-notify WHEN     DSN (RFC 3461): when to notify: never, or a comma-separated list of\n"
    "                        success, failure and delay; set for every recipient, with the\n"
    "                        recipient's address as its original address (ORCPT)\n"
    "  --dsn-ret full|hdrs   DSN: return the whole message, or its headers only, with a failure\n"
    "  --dsn-envid ID        DSN: the envelope identifier returned in notifications (printable\n"
    "                        ASCII, at most 100 characters once encoded)\n"
    "  --requiretls          REQUIRETLS (RFC 8689): the message may only travel over TLS with a\n"
    "                        verified certificate; implies --tls required\n"
    "  --priority N          MT-PRIORITY (RFC 6710): -9 (lowest) to 9 (highest)\n"
    "  --deliver-by SECONDS[:R|:N][T]\n"
    "                        DELIVERBY (RFC 2852): deliver within SECONDS, else return the message\n"
    "                        (R, the default) or send a delay notification (N); T asks for a trace\n"
    "  --hold-for SECONDS    FUTURERELEASE (RFC 4865): hold the message for SECONDS\n"
    "  --hold-until TIME     FUTURERELEASE: hold it until TIME (RFC 3339: 2026-12-24T18:00:00Z)\n"
    "\n",
    "sendmail compatibility:\n"
    "  -i, -oi               a line holding only \".\" is part of the message (without: it ends the\n"
    "                        message, is not sent, and what follows is not read; left in place when\n"
    "                        standard input is a file)\n"
    "  -F NAME               when the message has no From field and -f ADDRESS is given, add\n"
    "                        \"From: NAME <ADDRESS>\" (without -F: \"From: ADDRESS\"); only with -F\n"
    "                        or -t, which read the message whole first\n"
    "  -r ADDRESS            as -f\n"
    "  -v                    as --trace\n"
    "  -B 8BITMIME           declare BODY=8BITMIME when the server offers it (-B 7BIT: nothing)\n"
    "  -bm                   send mail (what smtpc-send does anyway)\n"
    "  -N DSN, -R RET, -V ENVID\n"
    "                        as --dsn-notify, --dsn-ret and --dsn-envid, except that, as with\n"
    "                        sendmail, they are left out when the server does not offer DSN\n"
    "  Accepted and ignored: -oXX (sendmail settings: -oem, -odi, -om, ...), -A X, -L TAG,\n"
    "  -X FILE, -d X, -U, -G, -m, -n.\n"
    "  Refused (exit 64): -bp, -bs, -bi and the other -b modes, -q (there is no queue).\n"
    "\n",
    "Several messages over one connection (instead of standard input):\n"
    "  --each FILE... --      each FILE is one message; the arguments before \"--\" are the files\n"
    "  --mbox FILE           each message of the mbox FILE: \"From \" lines separate them, one \">\" is\n"
    "                        taken off lines starting with \">From \", \">>From \"... (mboxrd), the\n"
    "                        empty line before each \"From \" is dropped\n"
    "  --maildir DIR         each file of DIR/cur then DIR/new, by name (names starting with '.'\n"
    "                        skipped)\n"
    "  Every message goes to the RECIPIENTs, or with -t to those of its own header fields (Bcc\n"
    "  removed). Every input is checked before connecting: a file missing or unreadable (66), an\n"
    "  empty file, an empty maildir or a file that is not an mbox (65) stops before anything is\n"
    "  sent. The messages are pipelined over one connection (the next message's commands behind\n"
    "  each end of data; with CHUNKING, up to 32 messages in flight), each read when it is queued\n"
    "  (a file over 1 MiB, without -t, is sent in place as it goes out).\n"
    "  One line per message on standard error, in order: \"smtpc-send: NAME: STATE[: detail]\" with\n"
    "  STATE delivered, partial (some recipients refused), refused, not sent (may be sent again)\n"
    "  or unknown (its end of data went out and the connection was lost before the reply: it may\n"
    "  have been delivered); NAME is the file, or FILE#N for the Nth message of an mbox. Then a\n"
    "  summary, \"smtpc-send: N messages: ...\". With --json, one JSON object per message on\n"
    "  standard output (JSON Lines): {\"message\", \"index\", \"state\", \"status\", \"exit_status\",\n"
    "  \"reply\": REPLY, \"recipients\": [...], \"error\"}. After a lost connection the messages not\n"
    "  yet sent are each named as not sent. -F and a \".\" line (-i) apply to standard input only.\n"
    "\n",
    "Configuration file:\n"
    "  -C, --config FILE     read FILE (default: $XDG_CONFIG_HOME/smtpc/config, or\n"
    "                        ~/.config/smtpc/config, else /etc/smtpc.conf, when they exist;\n"
    "                        $SMTPC_SYSTEM_CONFIG replaces /etc/smtpc.conf, set and empty: none)\n"
    "  -a, --account NAME    use the account NAME of the file (default: the one named by\n"
    "                        \"account default : NAME\", else only the defaults section)\n"
    "  Lines: \"defaults\" and \"account NAME\" start sections, \"KEY VALUE\" sets a key, \"#\" starts\n"
    "  a comment. Keys: host, port, protocol (smtp, smtps, lmtp), socket (an LMTP socket path),\n"
    "  tls (required, opportunistic, off, implicit, auto), cafile, capath, cert, key, tls_min,\n"
    "  auth (a mechanism), user, password_file, password_command, oauth_token_command, from,\n"
    "  helo, timeout. An account's keys override the defaults; command-line options override\n"
    "  both. password_command and oauth_token_command are run with /bin/sh -c; the first line\n"
    "  they print is the secret (at most timeout seconds, default 30). There is no password key:\n"
    "  the file holds no secret, so it may be readable by others, but it must not be writable by\n"
    "  anyone but its owner (the user or root), since it names commands to run. Errors name the\n"
    "  file and line and exit with 78.\n"
    "\n",
    "Diagnostics:\n"
    "  --trace               print the protocol exchange on standard error: \"> \" sent, \"< \"\n"
    "                        received, \"* \" notes; credentials are shown as ****\n"
    "  --json                print the outcome as one JSON object on standard output (and nothing\n"
    "                        else there; the messages on standard error are unchanged):\n"
    "                          {\"server\", \"protocol\", \"tls\": {\"active\", \"version\", \"verified\"},\n"
    "                           \"exit_status\", \"sender\", \"mail\": REPLY, \"reply\": REPLY (SMTP: the\n"
    "                           reply to the message), \"recipients\": [{\"address\", \"state\", REPLY}],\n"
    "                           \"error\": {\"stage\", \"status\", \"message\"} or null}\n"
    "                        where REPLY is \"code\", \"enhanced\", \"text\" (null when there was no\n"
    "                        reply) and state is one of delivered, refused, failed, unknown,\n"
    "                        accepted (the transaction stopped later), not attempted. Server text\n"
    "                        is kept as UTF-8; a byte that is not valid UTF-8 becomes U+FFFD.\n"
    "                        Nothing is printed for an error found before connecting (usage,\n"
    "                        configuration, reading the message): only its exit status tells.\n"
    "  --progress, --no-progress\n"
    "                        show (for any size, wherever standard error goes), or never show,\n"
    "                        \"X of Y MiB (P%)\" on standard error, redrawn at most every 100 ms\n"
    "                        and blanked at the end (default: when standard error is a terminal,\n"
    "                        the message is over 1 MiB and --json is not given)\n"
    "  -h, --help            print this help and exit\n"
    "  --version             print the version and exit\n"
    "\n",
    "Output: nothing (but the --trace lines) when every recipient accepted the message. Otherwise\n"
    "one line per problem on standard error, \"smtpc-send: STAGE: what happened\", where STAGE is\n"
    "connect, greeting, TLS handshake, EHLO (LHLO, HELO), STARTTLS, AUTH, MAIL FROM, RCPT TO, DATA,\n"
    "message (while sending it), end of data or QUIT, with the server's reply where there is one,\n"
    "possibly followed by \"smtpc-send: hint: ...\" naming the options that would help. Text from\n"
    "the server is printed with control characters escaped as \\xNN (other non-ASCII text is shown\n"
    "as UTF-8 when the locale is UTF-8). A failure at QUIT, after the message was accepted, is\n"
    "reported as a warning and does not change the exit status.\n"
    "\n",
    "Exit status (sysexits.h, as sendmail and msmtp):\n"
    "  0   the message was accepted for every recipient\n"
    "  64  usage error; nothing was sent\n"
    "  66  --each, --mbox, --maildir: an input file is missing or cannot be read; nothing was sent\n"
    "  65  the message itself: refused permanently as too big (552, 5.2.3, 5.3.4, also to MAIL\n"
    "      FROM with SIZE) or for its content (5.6.x); or, with -t, its header fields give no\n"
    "      sender or no recipient, or a malformed address\n"
    "  67  the server refused a recipient permanently (5xx to RCPT TO)\n"
    "  68  the server's host name does not resolve\n"
    "  69  the server refused permanently otherwise: the greeting, EHLO/HELO, the sender, the\n"
    "      message (5xx), STARTTLS under --tls required, or a non-ASCII address without SMTPUTF8;\n"
    "      or its certificate failed verification\n"
    "  70  internal error (out of memory)\n"
    "  74  input/output error: standard input could not be read (or, a file, was truncated while\n"
    "      being sent), the temporary file could not be made or written, or the connection failed\n"
    "  75  temporary failure, try again later: a 4xx reply, the connection refused, closed or timed\n"
    "      out; and delivery unknown: the connection was lost after the whole message was sent and\n"
    "      before the server's reply (a queue that retries may deliver it twice: RFC 5321 prefers a\n"
    "      duplicate to a loss, and MTAs treat this case the same way); and interrupted by SIGINT\n"
    "      or SIGTERM (a second signal, 200 ms or more later: 128 + its number, 130 or 143)\n"
    "  76  protocol error: the server sent something that is not SMTP, or TLS failed\n"
    "  77  authentication refused (5xx to AUTH)\n"
    "  78  configuration error: the configuration file (its line is named), a password_command or\n"
    "      oauth_token_command that fails or prints nothing in time; an unreadable password,\n"
    "      certificate or CA file; an unset --password-env variable; --user given and the\n"
    "      server offers no AUTH, or not the mechanism asked for; credentials not sent for want of\n"
    "      a verified TLS connection\n"
    "  When several apply (some recipients refused permanently, others temporarily), the first of\n"
    "  this list wins: 75 (retrying is the only way the temporarily refused get the message; those\n"
    "  that accepted it may get it twice), 76, 74, 70, 77, 78, 69, 65, 67.\n"
    "  Several messages: 0 when every message was delivered to every recipient, else the first\n"
    "  of that list among the messages' own statuses (a message not sent or with delivery unknown\n"
    "  counts as 75; one the server refused as its reply says).\n"};

static void usage(FILE *out) {
    size_t i;
    for (i = 0; i < sizeof usage_text / sizeof usage_text[0]; i++) fputs(usage_text[i], out);
}

/* ---- Printing: nothing from the network reaches the terminal raw ---------------------------- */

static int utf8_terminal; /* the locale's character set is UTF-8: valid UTF-8 text may be shown */

static int contains_ci(const char *s, const char *word) {
    size_t n = strlen(word);
    for (; *s; s++) {
        size_t k = 0;
        while (k < n && s[k] && (s[k] | 0x20) == (word[k] | 0x20)) k++;
        if (k == n) return 1;
    }
    return 0;
}

/* As setlocale(LC_CTYPE, "") would decide, without changing the process locale. */
static int locale_is_utf8(void) {
    static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    size_t i;
    for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return contains_ci(v, "utf-8") || contains_ci(v, "utf8");
    }
    return 0;
}

/*
 * Length of the UTF-8 sequence at s (n bytes available) when it is valid and safe to show, else 0.
 * Unsafe: C1 controls, and the invisible characters that reorder or break lines (bidi controls, line
 * and paragraph separators, BOM), which can make a line read as something it is not.
 */
static size_t safe_utf8(const unsigned char *s, size_t n) {
    unsigned long cp;
    size_t len, k;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) len = 2, cp = s[0] & 0x1fu;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) len = 3, cp = s[0] & 0x0fu;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) len = 4, cp = s[0] & 0x07u;
    else return 0;
    if (n < len) return 0;
    for (k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[k] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* overlong, out of range, surrogate */
    if (cp < 0xa0 || cp == 0x61c || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff)
        return 0;
    return len;
}

/* Writes text with every control byte (and, unless shown as UTF-8, every byte >= 0x80) as \xNN.
 * A line feed inside a multiline reply's text becomes " / " when join_lines is set. */
static void put_printable(FILE *out, const char *text, size_t n, int join_lines) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, len;
    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x7f) {
            putc(c, out);
            i++;
        } else if (c == '\n' && join_lines) {
            fputs(" / ", out);
            i++;
        } else if (c >= 0x80 && utf8_terminal && (len = safe_utf8(s + i, n - i)) != 0) {
            fwrite(s + i, 1, len, out);
            i += len;
        } else {
            fprintf(out, "\\x%02x", c);
            i++;
        }
    }
}

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* One line on stderr: "smtpc-send: " and the formatted text, escaped as a whole (the format strings
 * are plain ASCII, so only what came from outside is changed). */
static void vsay(const char *prefix, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
static void vsay(const char *prefix, const char *fmt, va_list ap) {
    char small[512], *buf = small;
    va_list copy;
    int n;
    va_copy(copy, ap);
    n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small) {
        buf = malloc((size_t)n + 1);
        if (buf) vsnprintf(buf, (size_t)n + 1, fmt, copy);
        else buf = small; /* out of memory: the line is shortened, not lost */
    }
    va_end(copy);
    fputs("smtpc-send: ", stderr);
    fputs(prefix, stderr);
    put_printable(stderr, buf, n < 0 ? 0 : strlen(buf), 1);
    putc('\n', stderr);
    if (buf != small) free(buf);
}

static void say(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay("", fmt, ap);
    va_end(ap);
}

static void warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay("warning: ", fmt, ap);
    va_end(ap);
}

static int usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay("", fmt, ap);
    va_end(ap);
    fputs("Try 'smtpc-send --help' for more information.\n", stderr);
    return EXIT_USAGE;
}

/* "550 5.1.1 text" for a reply; multiline text is joined with " / " when printed. */
static int reply_code(const smtpc_reply *r) { return smtpc_reply_code(r); }
static const char *reply_text(const smtpc_reply *r) { return smtpc_reply_text(r, NULL); }

/* ---- SIGINT and SIGTERM: cancel the call under way; a second signal ends the process ---------- */

/* A signal this soon after the first is the same interrupt delivered twice, not a second one:
 * timeout(1) without --foreground, a supervisor or a shell signals the process and its group. */
#define SIGNAL_SAME_MS 200

static smtpc_client *volatile signal_client;
static volatile sig_atomic_t signal_got; /* the first signal's number */
static struct timespec signal_first;     /* when it came; written by the handler only */

static void on_signal(int signo) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now); /* async-signal-safe */
    if (signal_got) {
        long long ms = (long long)(now.tv_sec - signal_first.tv_sec) * 1000 +
                       (now.tv_nsec - signal_first.tv_nsec) / 1000000;
        if (ms < SIGNAL_SAME_MS) return;
        _exit(128 + signo);
    }
    signal_first = now;
    signal_got = signo;
    if (signal_client) smtpc_client_cancel(signal_client); /* async-signal-safe */
}

/* Without SA_RESTART, so that a read of standard input stops too. Each signal blocks the other
 * while its handler runs, so that a second one finds the first recorded. */
static void catch_signals(smtpc_client *client) {
    struct sigaction sa;
    signal_client = client;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static const char *signal_name(void) {
    return signal_got == SIGINT ? "SIGINT" : signal_got == SIGTERM ? "SIGTERM" : "a signal";
}

/* ---- Progress of a big message on a terminal: "\r12.0 of 40.0 MiB (30%)" ----------------------- */

#define PROGRESS_MIN ((uint64_t)1 << 20) /* smaller messages go out too fast to need it */

struct progress {
    int forced;   /* --progress: any size, wherever standard error goes */
    int64_t last; /* ms of the last redraw */
    size_t drawn; /* length of the line on screen, 0 when none */
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_progress(uint64_t sent, uint64_t total, void *userdata) {
    struct progress *p = userdata;
    int64_t now = now_ms();
    char line[96];
    int n;
    if ((!p->forced && total <= PROGRESS_MIN) || total == 0) return 0;
    if (p->drawn && now - p->last < 100) return 0;
    n = snprintf(line, sizeof line, "\r%.1f of %.1f MiB (%d%%)", (double)sent / 1048576.0,
                 (double)total / 1048576.0, (int)(sent * 100 / total));
    if (n <= 0) return 0;
    fputs(line, stderr);
    /* a shorter line than the last: blank the rest */
    if ((size_t)n - 1 < p->drawn) fprintf(stderr, "%*s", (int)(p->drawn - ((size_t)n - 1)), "");
    if ((size_t)n - 1 > p->drawn) p->drawn = (size_t)n - 1;
    fflush(stderr);
    p->last = now;
    return 0;
}

/* Blanks the progress line before anything else is printed. */
static void progress_clear(struct progress *p) {
    if (!p->drawn) return;
    fprintf(stderr, "\r%*s\r", (int)p->drawn, "");
    fflush(stderr);
    p->drawn = 0;
}

/* ---- Session state: the stage in progress, learnt from the library's trace ------------------- */

struct session {
    int print_trace;
    const char *stage; /* what the client is doing now, for error messages */
    int commands_sent;
    int *data_started; /* set when the first bytes of the message go out */
    char sender[512];  /* the address of the last MAIL FROM sent (with -t it comes from the message) */
};

/* Follows the protocol exchange so that an error can name the stage it interrupted. The library
 * traces each command as it is sent and notes the connection and TLS steps. */
static void note_stage(struct session *s, smtpc_trace_kind kind, const char *data, size_t len) {
    static const struct {
        const char *prefix;
        const char *stage;
    } commands[] = {{"EHLO", "EHLO"}, {"LHLO", "LHLO"},      {"HELO", "HELO"},    {"STARTTLS", "STARTTLS"},
                    {"AUTH", "AUTH"}, {"MAIL", "MAIL FROM"}, {"RCPT", "RCPT TO"}, {"DATA", "DATA"},
                    {"RSET", "RSET"}, {"QUIT", "QUIT"}};
    size_t i;
    if (kind == SMTPC_TRACE_SEND) {
        for (i = 0; i < sizeof commands / sizeof commands[0]; i++) {
            size_t n = strlen(commands[i].prefix);
            if (len >= n && strncmp(data, commands[i].prefix, n) == 0) {
                s->stage = commands[i].stage;
                s->commands_sent++;
                if (len > 11 && memcmp(data, "MAIL FROM:<", 11) == 0) { /* "MAIL FROM:<a> ..." */
                    const char *end = memchr(data + 11, '>', len - 11);
                    size_t k = end ? (size_t)(end - data) - 11 : 0;
                    if (k >= sizeof s->sender) k = sizeof s->sender - 1;
                    memcpy(s->sender, data + 11, k);
                    s->sender[k] = '\0';
                }
                return;
            }
        }
        /* AUTH continuation lines ("****", "*") stay in the AUTH stage */
    } else if (kind == SMTPC_TRACE_INFO) {
        if (len == 9 && memcmp(data, "connected", 9) == 0) s->stage = "greeting";
        else if (len >= 13 && memcmp(data, "TLS handshake", 13) == 0) s->stage = "TLS handshake";
        else if (len >= 15 && memcmp(data, "TLS established", 15) == 0 && s->commands_sent == 0)
            s->stage = "greeting"; /* smtps: the greeting comes over TLS */
    }
}

static void on_trace(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us, void *userdata) {
    struct session *s = userdata;
    (void)time_us;
    note_stage(s, kind, data, len);
    if (kind == SMTPC_TRACE_DATA && s->data_started) *s->data_started = 1;
    if (!s->print_trace) return;
    if (kind == SMTPC_TRACE_DATA) {
        fprintf(stderr, "> [%zu bytes of message data]\n", len);
        return;
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r')) len--;
    fputs(kind == SMTPC_TRACE_SEND ? "> " : kind == SMTPC_TRACE_RECV ? "< " : "* ", stderr);
    put_printable(stderr, data, len, 0);
    putc('\n', stderr);
}

/* Standard input as the message is read, and how far sending it got. */
struct body {
    FILE *in;
    int dot_ends; /* a line holding only "." ends the message, as with sendmail without -i */
    int started;  /* the server accepted DATA and the message is being sent */
    int ended;    /* the whole message was handed to the library */
    int error;    /* errno of a failed read of standard input */
    int mid_line; /* the last byte read was not a line feed */
    int dot_line; /* the "." line was read: the input ends there */
};

/* Reads up to cap bytes (cap >= 2) of the message, stopping at a "." line when dot_ends is set (the
 * line itself, ".\n" or ".\r\n", is not sent, and nothing after it is read). Sets error or ended. */
static size_t read_message(struct body *b, char *buf, size_t cap) {
    size_t n = 0;
    int c, d, e;
    errno = 0;
    if (!b->dot_ends) {
        n = fread(buf, 1, cap, b->in);
    } else {
        while (n + 2 <= cap && !b->dot_line && (c = getc(b->in)) != EOF) {
            if (c == '.' && !b->mid_line) {
                d = getc(b->in);
                e = d == '\r' ? getc(b->in) : 0;
                if (d == '\n' || d == EOF || (d == '\r' && (e == '\n' || e == EOF))) {
                    /* leave what follows to the next reader of a file: fflush() of a seekable input
                     * stream puts the file offset there (POSIX); a pipe cannot be put back */
                    fflush(b->in);
                    b->dot_line = 1;
                    break;
                }
                /* not the end: put back what was read after the dot (one byte at most each time) */
                if (d == '\r') {
                    ungetc(e, b->in);
                    buf[n++] = '.';
                    c = '\r';
                } else {
                    ungetc(d, b->in);
                }
            }
            buf[n++] = (char)c;
            b->mid_line = c != '\n';
        }
    }
    if (n == 0 && ferror(b->in)) b->error = errno ? errno : EIO;
    else if (n == 0) b->ended = 1;
    return n;
}

/* The whole message in memory, for -t and -F, which need its header fields before sending. */
struct message {
    char *data;
    size_t len, cap;
};

/* Appends n bytes. Returns 0, or -1 when out of memory (the message is then freed). */
static int append(struct message *m, const char *p, size_t n) {
    if (m->cap - m->len < n) {
        size_t cap = m->cap ? m->cap : 65536;
        char *grown;
        while (cap - m->len < n) {
            if (cap > ((size_t)-1) / 2) goto oom;
            cap *= 2;
        }
        if (!(grown = realloc(m->data, cap))) goto oom;
        m->data = grown;
        m->cap = cap;
    }
    memcpy(m->data + m->len, p, n);
    m->len += n;
    return 0;
oom:
    free(m->data);
    memset(m, 0, sizeof *m);
    return -1;
}

/* ASCII case-insensitive comparison of n bytes. */
static int same_ci_n(const char *a, const char *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if ((a[i] | 0x20) != (b[i] | 0x20) || (a[i] == '\0')) return 0;
    return 1;
}

/*
 * Whether the header section of the message has a field named `name`, read as the library reads it
 * (smtpc_client_send_message()): CRLF, a lone CR and a lone LF end a line; the first empty line, or
 * the first line that is neither a field nor a continuation line, ends the section; white space
 * before the colon still makes a field.
 */
static int has_field(const char *msg, size_t len, const char *name) {
    size_t i = 0, n = strlen(name);
    while (i < len) {
        size_t start = i, k;
        while (i < len && msg[i] != '\r' && msg[i] != '\n') i++;
        if (i == start) return 0; /* empty line */
        if (msg[start] != ' ' && msg[start] != '\t') {
            for (k = start; k < i && msg[k] != ':' && msg[k] > ' ' && msg[k] < 0x7f; k++) {
            }
            while (k < i && (msg[k] == ' ' || msg[k] == '\t')) k++;
            if (k == i || msg[k] != ':' || k == start) return 0; /* not a field: the body starts */
            if (i - start > n && same_ci_n(msg + start, name, n) &&
                (msg[start + n] == ':' || msg[start + n] == ' ' || msg[start + n] == '\t'))
                return 1;
        }
        if (i < len && msg[i] == '\r') i++;
        if (i < len && msg[i] == '\n') i++;
    }
    return 0;
}

/* ---- Options ----------------------------------------------------------------------------------- */

struct options {
    const char *url, *from, *helo;
    const char *tls, *cafile, *capath, *tls_server_name, *cert, *key, *key_password_file, *tls_min;
    const char *user, *password_file, *password_env, *mech, *token_file;
    unsigned long timeout_s, connect_timeout_s;
    int timeout_given, connect_timeout_given;
    int trace, pipelining, json;
    int progress;     /* --progress 1, --no-progress 0, else -1: on a terminal for a big message */
    int from_headers; /* -t: recipients from the To, Cc and Bcc fields too */
    int ignore_dots;  /* -i, -oi: a "." line does not end the message */
    int eight_bit;    /* -B8BITMIME */
    /* ESMTP extensions: DSN, REQUIRETLS, MT-PRIORITY, DELIVERBY, FUTURERELEASE */
    unsigned dsn_notify;   /* smtpc_dsn_notify flags, 0 for none */
    int dsn_ret;           /* smtpc_dsn_ret */
    const char *dsn_envid; /* NULL for none */
    int dsn_strict;        /* a --dsn-* option: refused when DSN is not offered (-N -R -V: dropped) */
    int requiretls;        /* --requiretls */
    int priority;          /* SMTPC_MT_PRIORITY_UNSET, else -9..9 */
    long long deliver_by;  /* --deliver-by SECONDS */
    int deliver_by_mode, deliver_by_trace;        /* smtpc_deliverby_mode (UNSET: none) */
    unsigned long long hold_for;                  /* --hold-for, 0 for none */
    const char *hold_until;                       /* --hold-until */
    const char *full_name;                        /* -F */
    const char *config_file, *account;            /* -C, -a */
    const char *password_command, *token_command; /* from the configuration file */
    int url_given;
    int each;            /* --each: the arguments before "--" are files, one message each */
    const char *mbox;    /* --mbox FILE */
    const char *maildir; /* --maildir DIR */
    int before_dashes;   /* arguments before "--" (they come first from parse_options()) */
};

/* ASCII case-insensitive equality (the locale is never consulted). */
static int same_ci(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a >= 'a' && *a <= 'z' ? (char)(*a - 32) : *a,
             y = *b >= 'a' && *b <= 'z' ? (char)(*b - 32) : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}

/* Splits URL into protocol and the host string smtpc_client_connect() takes. */
static int parse_url(const char *url, smtpc_protocol *protocol, char *host, size_t cap, int *implicit_tls) {
    const char *rest;
    size_t n;
    *implicit_tls = 0;
    if (strncmp(url, "smtp://", 7) == 0) {
        *protocol = SMTPC_PROTOCOL_SMTP;
        rest = url + 7;
    } else if (strncmp(url, "smtps://", 8) == 0) {
        *protocol = SMTPC_PROTOCOL_SMTP;
        rest = url + 8;
        *implicit_tls = 1;
    } else if (strncmp(url, "lmtp://", 7) == 0) {
        *protocol = SMTPC_PROTOCOL_LMTP;
        rest = url + 7;
    } else {
        return -1;
    }
    n = strlen(rest);
    if (rest[0] != '/' && n > 0 && rest[n - 1] == '/') n--; /* smtp://host/ */
    if (n == 0 || n >= cap) return -1;
    if (rest[0] == '/' && (*protocol != SMTPC_PROTOCOL_LMTP)) return -1; /* sockets only for LMTP */
    memcpy(host, rest, n);
    host[n] = '\0';
    return 0;
}

static int parse_seconds(const char *name, const char *value, unsigned long *out) {
    char *end;
    errno = 0;
    *out = strtoul(value, &end, 10);
    /* the library takes milliseconds in 32 bits */
    if (errno || end == value || *end || value[0] == '-' || *out > 4000000)
        return usage_error("%s takes a whole number of seconds from 0 to 4000000, not '%s'", name, value);
    return 0;
}

enum {
    OPT_SERVER = 256,
    OPT_HELO,
    OPT_TIMEOUT,
    OPT_CONNECT_TIMEOUT,
    OPT_NO_PIPELINING,
    OPT_TLS,
    OPT_CAFILE,
    OPT_CAPATH,
    OPT_TLS_SERVER_NAME,
    OPT_CERT,
    OPT_KEY,
    OPT_KEY_PASSWORD_FILE,
    OPT_TLS_MIN,
    OPT_USER,
    OPT_PASSWORD_FILE,
    OPT_PASSWORD_ENV,
    OPT_AUTH,
    OPT_OAUTH_TOKEN_FILE,
    OPT_TRACE,
    OPT_JSON,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_DSN_NOTIFY,
    OPT_DSN_RET,
    OPT_DSN_ENVID,
    OPT_REQUIRETLS,
    OPT_PRIORITY,
    OPT_DELIVER_BY,
    OPT_HOLD_FOR,
    OPT_HOLD_UNTIL,
    OPT_VERSION,
    OPT_EACH,
    OPT_MBOX,
    OPT_MAILDIR
};

static const struct option long_options[] = {
    {"server", required_argument, NULL, OPT_SERVER},
    {"from", required_argument, NULL, 'f'},
    {"helo", required_argument, NULL, OPT_HELO},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"no-pipelining", no_argument, NULL, OPT_NO_PIPELINING},
    {"tls", required_argument, NULL, OPT_TLS},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"capath", required_argument, NULL, OPT_CAPATH},
    {"tls-server-name", required_argument, NULL, OPT_TLS_SERVER_NAME},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"key-password-file", required_argument, NULL, OPT_KEY_PASSWORD_FILE},
    {"tls-min", required_argument, NULL, OPT_TLS_MIN},
    {"user", required_argument, NULL, OPT_USER},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"password-env", required_argument, NULL, OPT_PASSWORD_ENV},
    {"auth", required_argument, NULL, OPT_AUTH},
    {"oauth-token-file", required_argument, NULL, OPT_OAUTH_TOKEN_FILE},
    {"trace", no_argument, NULL, OPT_TRACE},
    {"json", no_argument, NULL, OPT_JSON},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"dsn-notify", required_argument, NULL, OPT_DSN_NOTIFY},
    {"dsn-ret", required_argument, NULL, OPT_DSN_RET},
    {"dsn-envid", required_argument, NULL, OPT_DSN_ENVID},
    {"requiretls", no_argument, NULL, OPT_REQUIRETLS},
    {"priority", required_argument, NULL, OPT_PRIORITY},
    {"deliver-by", required_argument, NULL, OPT_DELIVER_BY},
    {"hold-for", required_argument, NULL, OPT_HOLD_FOR},
    {"hold-until", required_argument, NULL, OPT_HOLD_UNTIL},
    {"config", required_argument, NULL, 'C'},
    {"account", required_argument, NULL, 'a'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"each", no_argument, NULL, OPT_EACH},
    {"mbox", required_argument, NULL, OPT_MBOX},
    {"maildir", required_argument, NULL, OPT_MAILDIR},
    {NULL, 0, NULL, 0}};

/* --dsn-notify / -N: "never", or a comma-separated list of success, failure and delay. */
static int parse_notify(const char *name, const char *value, unsigned *out) {
    const char *p = value;
    *out = 0;
    while (*p) {
        size_t n = strcspn(p, ",");
        unsigned flag = 0;
        if (n == 5 && same_ci_n(p, "never", 5)) flag = SMTPC_DSN_NOTIFY_NEVER;
        else if (n == 7 && same_ci_n(p, "success", 7)) flag = SMTPC_DSN_NOTIFY_SUCCESS;
        else if (n == 7 && same_ci_n(p, "failure", 7)) flag = SMTPC_DSN_NOTIFY_FAILURE;
        else if (n == 5 && same_ci_n(p, "delay", 5)) flag = SMTPC_DSN_NOTIFY_DELAY;
        if (!flag) break;
        *out |= flag;
        p += n;
        if (*p == ',' && p[1]) p++;
        else if (*p) break;
    }
    if (*p || !*out || ((*out & SMTPC_DSN_NOTIFY_NEVER) && *out != SMTPC_DSN_NOTIFY_NEVER))
        return usage_error("%s takes never, or a list of success, failure and delay, not '%s'", name, value);
    return 0;
}

/* A whole number within [min, max]. */
static int parse_range(const char *name, const char *value, long long min, long long max, long long *out) {
    char *end;
    errno = 0;
    *out = strtoll(value, &end, 10);
    if (errno || end == value || *end || *out < min || *out > max)
        return usage_error("%s takes a whole number from %lld to %lld, not '%s'", name, min, max, value);
    return 0;
}

/* --deliver-by SECONDS[:R|:N][T] */
static int parse_deliver_by(const char *value, struct options *o) {
    char buf[32];
    char *colon;
    long long v;
    size_t n = strlen(value);
    if (n >= sizeof buf) return usage_error("--deliver-by takes SECONDS[:R|:N][T], not '%s'", value);
    memcpy(buf, value, n + 1);
    o->deliver_by_mode = SMTPC_DELIVERBY_RETURN;
    o->deliver_by_trace = 0;
    colon = strchr(buf, ':');
    if (colon) {
        const char *m = colon + 1;
        *colon = '\0';
        if (*m == 'R' || *m == 'r') o->deliver_by_mode = SMTPC_DELIVERBY_RETURN;
        else if (*m == 'N' || *m == 'n') o->deliver_by_mode = SMTPC_DELIVERBY_NOTIFY;
        else return usage_error("--deliver-by takes SECONDS[:R|:N][T], not '%s'", value);
        m++;
        if (*m == 'T' || *m == 't') {
            o->deliver_by_trace = 1;
            m++;
        }
        if (*m) return usage_error("--deliver-by takes SECONDS[:R|:N][T], not '%s'", value);
    }
    if (parse_range("--deliver-by", buf, -999999999LL, 999999999LL, &v) != 0) return EXIT_USAGE;
    if (o->deliver_by_mode == SMTPC_DELIVERBY_RETURN && v <= 0)
        return usage_error("--deliver-by: a time to return the message by (R) must be positive");
    o->deliver_by = v;
    return 0;
}

/* sendmail's options: those with a value take it attached (-oi, -bm) or as the next argument. */
#define SENDMAIL_OPTIONS "f:r:F:tivo:B:b:q::A:L:N:R:V:X:d:UGmnhC:a:"

/* Parses argv into o. Returns -1 to go on (recipients from argv[*first]), else an exit status. */
static int parse_options(int argc, char **argv, struct options *o, int *first) {
    int c;
    opterr = 0; /* our own messages */
    /* Options may follow the recipients (an option is never taken for an address); "--" ends them. */
    /* "-": the other arguments in order (case 1), so that those before "--" can be told from those after */
    while ((c = getopt_long(argc, argv, "-" SENDMAIL_OPTIONS, long_options, NULL)) != -1) {
        switch (c) {
        case 1: argv[1 + o->before_dashes++] = optarg; break; /* argv[optind - 1]: already read */
        case OPT_EACH: o->each = 1; break;
        case OPT_MBOX: o->mbox = optarg; break;
        case OPT_MAILDIR: o->maildir = optarg; break;
        case OPT_SERVER:
            o->url = optarg;
            o->url_given = 1;
            break;
        case 'C': o->config_file = optarg; break;
        case 'a': o->account = optarg; break;
        case 'f':
        case 'r': o->from = optarg; break; /* -r: sendmail's old name for -f */
        case 'F': o->full_name = optarg; break;
        case 't': o->from_headers = 1; break;
        case 'i': o->ignore_dots = 1; break;
        case 'v': o->trace = 1; break;
        case 'o':
            /* -oi as -i; the other sendmail settings (-oem, -odi, -om, ...) do not apply here */
            if (strcmp(optarg, "i") == 0) o->ignore_dots = 1;
            break;
        case 'B':
            if (same_ci(optarg, "8BITMIME")) o->eight_bit = 1;
            else if (!same_ci(optarg, "7BIT"))
                return usage_error("-B takes 7BIT or 8BITMIME, not '%s'", optarg);
            break;
        case 'b':
            if (strcmp(optarg, "m") == 0) break; /* deliver mail: what smtpc-send does */
            if (optarg[0] == 'p' || optarg[0] == 'q')
                return usage_error("-b%s: smtpc-send has no mail queue (it sends at once or fails)", optarg);
            if (optarg[0] == 's') return usage_error("-bs (SMTP on standard input) is not supported");
            return usage_error("-b%s is not supported: smtpc-send only sends mail (-bm)", optarg);
        case 'q': return usage_error("-q: smtpc-send has no mail queue (it sends at once or fails)");
        case 'N': /* sendmail's DSN options: left out when the server does not offer DSN, as sendmail does */
            if (parse_notify("-N", optarg, &o->dsn_notify) != 0) return EXIT_USAGE;
            break;
        case 'R':
            if (same_ci(optarg, "full")) o->dsn_ret = SMTPC_DSN_RET_FULL;
            else if (same_ci(optarg, "hdrs")) o->dsn_ret = SMTPC_DSN_RET_HDRS;
            else return usage_error("-R takes full or hdrs, not '%s'", optarg);
            break;
        case 'V': o->dsn_envid = optarg; break;
        case OPT_DSN_NOTIFY:
            if (parse_notify("--dsn-notify", optarg, &o->dsn_notify) != 0) return EXIT_USAGE;
            o->dsn_strict = 1;
            break;
        case OPT_DSN_RET:
            if (same_ci(optarg, "full")) o->dsn_ret = SMTPC_DSN_RET_FULL;
            else if (same_ci(optarg, "hdrs")) o->dsn_ret = SMTPC_DSN_RET_HDRS;
            else return usage_error("--dsn-ret takes full or hdrs, not '%s'", optarg);
            o->dsn_strict = 1;
            break;
        case OPT_DSN_ENVID:
            o->dsn_envid = optarg;
            o->dsn_strict = 1;
            break;
        case OPT_REQUIRETLS: o->requiretls = 1; break;
        case OPT_PRIORITY: {
            long long v;
            if (parse_range("--priority", optarg, -9, 9, &v) != 0) return EXIT_USAGE;
            o->priority = (int)v;
            break;
        }
        case OPT_DELIVER_BY:
            if (parse_deliver_by(optarg, o) != 0) return EXIT_USAGE;
            break;
        case OPT_HOLD_FOR: {
            long long v;
            if (parse_range("--hold-for", optarg, 1, 999999999LL, &v) != 0) return EXIT_USAGE;
            o->hold_for = (unsigned long long)v;
            o->hold_until = NULL;
            break;
        }
        case OPT_HOLD_UNTIL:
            o->hold_until = optarg;
            o->hold_for = 0;
            break;
        case 'A':
        case 'L':
        case 'X':
        case 'd':
        case 'U':
        case 'G':
        case 'm':
        case 'n': break; /* accepted and ignored: see "sendmail compatibility" in the usage text */
        case OPT_HELO: o->helo = optarg; break;
        case OPT_TIMEOUT:
            if (parse_seconds("--timeout", optarg, &o->timeout_s) != 0) return EXIT_USAGE;
            o->timeout_given = 1;
            break;
        case OPT_CONNECT_TIMEOUT:
            if (parse_seconds("--connect-timeout", optarg, &o->connect_timeout_s) != 0) return EXIT_USAGE;
            o->connect_timeout_given = 1;
            break;
        case OPT_NO_PIPELINING: o->pipelining = 0; break;
        case OPT_TLS: o->tls = optarg; break;
        case OPT_CAFILE: o->cafile = optarg; break;
        case OPT_CAPATH: o->capath = optarg; break;
        case OPT_TLS_SERVER_NAME: o->tls_server_name = optarg; break;
        case OPT_CERT: o->cert = optarg; break;
        case OPT_KEY: o->key = optarg; break;
        case OPT_KEY_PASSWORD_FILE: o->key_password_file = optarg; break;
        case OPT_TLS_MIN: o->tls_min = optarg; break;
        case OPT_USER: o->user = optarg; break;
        case OPT_PASSWORD_FILE: o->password_file = optarg; break;
        case OPT_PASSWORD_ENV: o->password_env = optarg; break;
        case OPT_AUTH: o->mech = optarg; break;
        case OPT_OAUTH_TOKEN_FILE: o->token_file = optarg; break;
        case OPT_TRACE: o->trace = 1; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_PROGRESS: o->progress = 1; break;
        case OPT_NO_PROGRESS: o->progress = 0; break;
        case OPT_VERSION: printf("smtpc-send %s\n", smtpc_version()); return EXIT_ACCEPTED;
        case 'h': usage(stdout); return EXIT_ACCEPTED;
        case ':':
        case '?':
        default:
            if (optopt >= OPT_SERVER) {
                const struct option *lo = long_options;
                while (lo->name && lo->val != optopt) lo++;
                if (lo->name && lo->has_arg == no_argument)
                    return usage_error("option --%s takes no value", lo->name);
                return usage_error("option %s needs a value", argv[optind - 1]);
            }
            if (optopt && optopt < 128 && strchr(SENDMAIL_OPTIONS, optopt) && optopt != ':')
                return usage_error("option -%c needs a value", optopt);
            if (optopt) return usage_error("unknown option -%c", optopt);
            return usage_error("unknown or ambiguous option %s", argv[optind - 1]);
        }
    }
    /* the arguments before "--" (gathered at the front), then those after it */
    memmove(argv + optind - o->before_dashes, argv + 1, (size_t)o->before_dashes * sizeof *argv);
    *first = optind - o->before_dashes;
    return -1;
}

/* Checks the option combinations before anything is sent. Returns 0, or prints why and returns 2. */
static int check_options(const struct options *o, int implicit_url, const char *host) {
    static const char *const mechanisms[] = {"PLAIN",         "LOGIN",   "CRAM-MD5",   "SCRAM-SHA-1",
                                             "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER"};
    int oauth = o->mech && (same_ci(o->mech, "XOAUTH2") || same_ci(o->mech, "OAUTHBEARER"));
    size_t i;
    if (o->requiretls && o->tls && (strcmp(o->tls, "none") == 0 || strcmp(o->tls, "opportunistic") == 0))
        return usage_error("--requiretls needs verified TLS: it cannot be combined with --tls %s", o->tls);
    if (o->mech) {
        for (i = 0; i < sizeof mechanisms / sizeof mechanisms[0] && !same_ci(o->mech, mechanisms[i]); i++) {
        }
        if (i == sizeof mechanisms / sizeof mechanisms[0])
            return usage_error("--auth takes PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2 or "
                               "OAUTHBEARER, not '%s'",
                               o->mech);
    }
    if (o->tls && strcmp(o->tls, "auto") != 0 && strcmp(o->tls, "required") != 0 &&
        strcmp(o->tls, "opportunistic") != 0 && strcmp(o->tls, "none") != 0 &&
        strcmp(o->tls, "implicit") != 0)
        return usage_error("--tls takes auto, required, opportunistic, none or implicit, not '%s'", o->tls);
    if (implicit_url && o->tls && strcmp(o->tls, "implicit") != 0 && strcmp(o->tls, "auto") != 0)
        return usage_error("--tls %s does not go with an smtps:// URL, which is TLS from the first byte",
                           o->tls);
    if (o->tls_min && strcmp(o->tls_min, "1.2") != 0 && strcmp(o->tls_min, "1.3") != 0)
        return usage_error("--tls-min takes 1.2 or 1.3, not '%s'", o->tls_min);
    if (o->key && !o->cert) return usage_error("--key needs --cert FILE");
    if (o->key_password_file && !o->cert) return usage_error("--key-password-file needs --cert FILE");
    if (host[0] == '/' && o->tls && (strcmp(o->tls, "required") == 0 || strcmp(o->tls, "implicit") == 0) &&
        !o->tls_server_name)
        return usage_error("--tls %s over a Unix socket needs --tls-server-name NAME (%s)", o->tls,
                           "the name to verify the certificate against");
    if (!o->user) {
        if (o->mech) return usage_error("--auth needs --user NAME");
        if (o->password_file) return usage_error("--password-file needs --user NAME");
        if (o->password_env) return usage_error("--password-env needs --user NAME");
        if (o->token_file)
            return usage_error("--oauth-token-file needs --user NAME and --auth XOAUTH2 or OAUTHBEARER");
        return 0; /* the file's password_command and oauth_token_command are unused without a user */
    }
    if (oauth) {
        if (!o->token_file && !o->token_command)
            return usage_error("--auth %s needs --oauth-token-file FILE (or oauth_token_command in the "
                               "configuration file)",
                               o->mech);
        if (o->password_file || o->password_env)
            return usage_error("--auth %s takes its token from --oauth-token-file, not a password", o->mech);
        return 0;
    }
    if (o->token_file) return usage_error("--oauth-token-file needs --auth XOAUTH2 or --auth OAUTHBEARER");
    if (o->password_file && o->password_env)
        return usage_error("give --password-file or --password-env, not both");
    if (o->password_file && o->password_command)
        return usage_error("the configuration gives password_file and password_command: give one");
    if (!o->password_file && !o->password_env && !o->password_command)
        return usage_error("--user needs --password-file FILE or --password-env VAR (or password_file or "
                           "password_command in the configuration file)");
    return 0;
}

/* Overwrites a secret so that no copy outlives its use (a plain memset before the end of the
 * buffer's life may be optimised away). */
static void wipe(void *p, size_t n) {
    volatile unsigned char *v = p;
    while (n--) *v++ = 0;
}

/*
 * Reads the first line of the file at path (without its CR LF) into buf, which holds cap bytes with
 * the terminating NUL. read(2) into buf itself, so that no stdio buffer keeps a copy. Returns 0, or
 * prints why and returns an exit status.
 */
static int read_first_line(const char *what, const char *path, char *buf, size_t cap, int allow_empty) {
    size_t n = 0, line;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *nl = NULL;
    if (fd < 0) {
        say("cannot read the %s file %s: %s", what, path, strerror(errno));
        return EXIT_CONFIG;
    }
    while (n < cap - 1 && !nl) {
        ssize_t got = read(fd, buf + n, cap - 1 - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int err = errno;
            close(fd);
            wipe(buf, cap);
            say("cannot read the %s file %s: %s", what, path, strerror(err));
            return EXIT_CONFIG;
        }
        if (got == 0) break;
        nl = memchr(buf + n, '\n', (size_t)got);
        n += (size_t)got;
    }
    close(fd);
    line = nl ? (size_t)(nl - buf) : n;
    if (!nl && n == cap - 1) { /* no line end within the buffer: never cut a secret short */
        wipe(buf, cap);
        say("the first line of the %s file %s is longer than %zu bytes", what, path, cap - 2);
        return EXIT_CONFIG;
    }
    if (line > 0 && buf[line - 1] == '\r') line--;
    wipe(buf + line, cap - line);
    if (line == 0 && !allow_empty) {
        say("the %s file %s is empty (its first line is the %s)", what, path, what);
        return EXIT_CONFIG;
    }
    return 0;
}

static int is_oauth(const char *mech) {
    return mech && (same_ci(mech, "XOAUTH2") || same_ci(mech, "OAUTHBEARER"));
}

/* ---- Configuration file with accounts -------------------------------------------------------- */

/*
 * "defaults" and "account NAME" start sections; "account default : NAME" names the account used
 * without -a; "KEY VALUE" lines set keys of the section; "#" starts a comment line. Keys that no
 * account overrides come from "defaults". The file holds no secret (there is no password key): a
 * password comes from password_file or password_command. Because password_command and
 * oauth_token_command are run, the file must not be writable by anyone but its owner (the user or
 * root); it may be readable by others, since a command line is not a secret (its output is).
 */
enum {
    K_HOST,
    K_PORT,
    K_PROTOCOL,
    K_SOCKET,
    K_TLS,
    K_CAFILE,
    K_CAPATH,
    K_CERT,
    K_KEY,
    K_TLS_MIN,
    K_AUTH,
    K_USER,
    K_PASSWORD_FILE,
    K_PASSWORD_COMMAND,
    K_OAUTH_TOKEN_COMMAND,
    K_FROM,
    K_HELO,
    K_TIMEOUT,
    K_COUNT
};
static const char *const config_keys[K_COUNT] = {"host",
                                                 "port",
                                                 "protocol",
                                                 "socket",
                                                 "tls",
                                                 "cafile",
                                                 "capath",
                                                 "cert",
                                                 "key",
                                                 "tls_min",
                                                 "auth",
                                                 "user",
                                                 "password_file",
                                                 "password_command",
                                                 "oauth_token_command",
                                                 "from",
                                                 "helo",
                                                 "timeout"};

static struct config {
    char *text;                 /* the file, split in place */
    char *scratch;              /* a copy for the first pass */
    const char *value[K_COUNT]; /* the chosen account's values over the defaults */
    char url[4200];
    const char *path;
} cfg;

static int config_error(const char *path, int line, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int config_error(const char *path, int line, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (line > 0) say("%s:%d: %s", path, line, buf);
    else say("%s: %s", path, buf);
    return EXIT_CONFIG;
}

/* Reads the file and takes the values of `account` (NULL: the one "account default" names, else only
 * "defaults"). Returns 0, or prints "FILE:LINE: why" and returns EXIT_CONFIG. */
static int config_load(struct config *c, const char *path, const char *account) {
    const char *acct_vals[K_COUNT], *def_vals[K_COUNT];
    const char *chosen = account, *default_name = NULL;
    char *line, *next;
    int lineno = 0, section = 0; /* 0 none, 1 defaults, 2 the chosen account, 3 another account */
    int found = 0, pass;
    struct stat st;
    FILE *f;
    long size;
    size_t i;

    c->path = path;
    f = fopen(path, "re");
    if (!f) return config_error(path, 0, "cannot read: %s", strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return config_error(path, 0, "not a regular file");
    }
    if (st.st_mode & 022) {
        fclose(f);
        return config_error(path, 0,
                            "writable by others (mode %03o): anyone could change the commands it runs; "
                            "chmod go-w it",
                            (unsigned)(st.st_mode & 0777));
    }
    if (st.st_uid != getuid() && st.st_uid != 0) {
        fclose(f);
        return config_error(path, 0, "owned by another user (uid %u)", (unsigned)st.st_uid);
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || size > 1 << 20 || fseek(f, 0, SEEK_SET) != 0 ||
        !(c->text = malloc((size_t)size + 1)) || fread(c->text, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        return config_error(path, 0, "cannot read (or larger than 1 MiB)");
    }
    fclose(f);
    c->text[size] = '\0';
    if (memchr(c->text, '\0', (size_t)size)) return config_error(path, 0, "holds a NUL byte");

    /* two passes: the first finds "account default : NAME", the second takes the values */
    for (pass = 0; pass < 2; pass++) {
        char *copy = pass == 0 ? (c->scratch = strdup(c->text)) : c->text;
        if (!copy) return config_error(path, 0, "out of memory");
        memset(acct_vals, 0, sizeof acct_vals);
        memset(def_vals, 0, sizeof def_vals);
        lineno = 0;
        section = 0;
        for (line = copy; line; line = next) {
            char *key, *value, *end;
            lineno++;
            next = strchr(line, '\n');
            if (next) *next++ = '\0';
            end = line + strlen(line);
            while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) *--end = '\0';
            while (*line == ' ' || *line == '\t') line++;
            if (!*line || *line == '#') continue;
            key = line;
            while (*line && *line != ' ' && *line != '\t') line++;
            if (*line) *line++ = '\0';
            while (*line == ' ' || *line == '\t') line++;
            value = line;
            if (strcmp(key, "defaults") == 0) {
                if (*value) goto bad_value_defaults;
                section = 1;
                continue;
            }
            if (strcmp(key, "account") == 0) {
                char *colon = strchr(value, ':');
                if (colon) { /* account default : NAME */
                    char *name = colon + 1, *e = colon;
                    while (e > value && (e[-1] == ' ' || e[-1] == '\t')) e--;
                    *e = '\0';
                    while (*name == ' ' || *name == '\t') name++;
                    if (strcmp(value, "default") != 0 || !*name || strpbrk(name, " \t"))
                        return config_error(path, lineno,
                                            "'account NAME' or 'account default : NAME' expected");
                    if (pass == 0) {
                        if (default_name) return config_error(path, lineno, "a second 'account default'");
                        default_name = name; /* in the first pass's copy, kept to the end */
                    }
                    section = 3;
                    continue;
                }
                if (!*value || strpbrk(value, " \t"))
                    return config_error(path, lineno, "'account' takes one name");
                section = chosen && strcmp(value, chosen) == 0 ? 2 : 3;
                if (section == 2) found = 1;
                continue;
            }
            for (i = 0; i < K_COUNT && strcmp(key, config_keys[i]) != 0; i++) {
            }
            if (i == K_COUNT) {
                if (strcmp(key, "password") == 0 || strcmp(key, "oauth_token") == 0)
                    return config_error(
                        path, lineno,
                        "no secret belongs in this file: use password_file or password_command "
                        "(oauth_token_command for a token)");
                return config_error(path, lineno, "unknown key '%s'", key);
            }
            if (!*value) return config_error(path, lineno, "'%s' needs a value", key);
            if (section == 0)
                return config_error(path, lineno, "'%s' outside a 'defaults' or 'account' section", key);
            if (section == 1) def_vals[i] = value;
            if (section == 2) acct_vals[i] = value;
        }
        if (pass == 0 && !chosen) chosen = default_name;
    }
    if (chosen && !found)
        return config_error(path, 0, "no account '%s'%s", chosen, account ? " (-a)" : " (account default)");
    for (i = 0; i < K_COUNT; i++) c->value[i] = acct_vals[i] ? acct_vals[i] : def_vals[i];
    return 0;
bad_value_defaults:
    return config_error(path, lineno, "'defaults' takes no value");
}

/* The file to read: -C FILE, else the user's, else the system's; NULL when there is none. */
static const char *config_path(const char *given, char *buf, size_t cap) {
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME"), *sys = getenv("SMTPC_SYSTEM_CONFIG");
    if (given) return given;
    if (xdg && *xdg && (size_t)snprintf(buf, cap, "%s/smtpc/config", xdg) < cap && access(buf, F_OK) == 0)
        return buf;
    if ((!xdg || !*xdg) && home && *home &&
        (size_t)snprintf(buf, cap, "%s/.config/smtpc/config", home) < cap && access(buf, F_OK) == 0)
        return buf;
    /* $SMTPC_SYSTEM_CONFIG replaces /etc/smtpc.conf; set and empty: no system file (tests use that) */
    if (sys && !*sys) return NULL;
    if (!sys) sys = "/etc/smtpc.conf";
    if (access(sys, F_OK) == 0) return sys;
    return NULL;
}

/* Fills what the command line left unset from the file's values. Returns 0, or EXIT_CONFIG. */
static int config_apply(struct config *c, struct options *o) {
    const char **v = c->value;
    const char *protocol = v[K_PROTOCOL] ? v[K_PROTOCOL] : "smtp";
    if (strcmp(protocol, "smtp") != 0 && strcmp(protocol, "smtps") != 0 && strcmp(protocol, "lmtp") != 0)
        return config_error(c->path, 0, "protocol takes smtp, smtps or lmtp, not '%s'", protocol);
    if (!o->url_given && (v[K_HOST] || v[K_SOCKET] || v[K_PORT] || v[K_PROTOCOL])) {
        int n;
        if (v[K_SOCKET] && strcmp(protocol, "lmtp") != 0)
            return config_error(c->path, 0, "socket needs protocol lmtp");
        if (v[K_SOCKET] && (v[K_HOST] || v[K_PORT]))
            return config_error(c->path, 0, "give socket, or host and port, not both");
        if (v[K_SOCKET]) n = snprintf(c->url, sizeof c->url, "lmtp://%s", v[K_SOCKET]);
        else
            n = snprintf(c->url, sizeof c->url, "%s://%s%s%s%s", protocol,
                         v[K_HOST] && strchr(v[K_HOST], ':') ? "[" : "", v[K_HOST] ? v[K_HOST] : "localhost",
                         v[K_HOST] && strchr(v[K_HOST], ':') ? "]" : "", v[K_PORT] ? ":" : "");
        if (n < 0 || (size_t)n >= sizeof c->url - 12)
            return config_error(c->path, 0, "host or socket too long");
        if (!v[K_SOCKET] && v[K_PORT]) strcat(c->url, v[K_PORT]);
        o->url = c->url;
    }
    if (v[K_TLS] && strcmp(v[K_TLS], "required") != 0 && strcmp(v[K_TLS], "opportunistic") != 0 &&
        strcmp(v[K_TLS], "off") != 0 && strcmp(v[K_TLS], "implicit") != 0 && strcmp(v[K_TLS], "auto") != 0)
        return config_error(c->path, 0, "tls takes required, opportunistic, off, implicit or auto, not '%s'",
                            v[K_TLS]);
    if (v[K_TLS_MIN] && strcmp(v[K_TLS_MIN], "1.2") != 0 && strcmp(v[K_TLS_MIN], "1.3") != 0)
        return config_error(c->path, 0, "tls_min takes 1.2 or 1.3, not '%s'", v[K_TLS_MIN]);
    if (!o->tls && v[K_TLS]) o->tls = strcmp(v[K_TLS], "off") == 0 ? "none" : v[K_TLS];
    if (!o->cafile) o->cafile = v[K_CAFILE];
    if (!o->capath) o->capath = v[K_CAPATH];
    if (!o->cert) o->cert = v[K_CERT];
    if (!o->key) o->key = v[K_KEY];
    if (!o->tls_min) o->tls_min = v[K_TLS_MIN];
    if (!o->from) o->from = v[K_FROM];
    if (!o->helo) o->helo = v[K_HELO];
    if (!o->user) o->user = v[K_USER];
    if (!o->mech) o->mech = v[K_AUTH];
    /* a secret's source given on the command line replaces the file's */
    if (o->user && !o->password_file && !o->password_env && !o->token_file) {
        o->password_file = v[K_PASSWORD_FILE];
        o->password_command = v[K_PASSWORD_COMMAND];
        o->token_command = v[K_OAUTH_TOKEN_COMMAND];
    }
    if (v[K_TIMEOUT] && !o->timeout_given) {
        if (parse_seconds("timeout", v[K_TIMEOUT], &o->timeout_s) != 0) return EXIT_CONFIG;
        o->timeout_given = 1;
    }
    return 0;
}

/*
 * Runs command with /bin/sh -c and puts the first line of its output in buf (cap bytes with the NUL),
 * waiting at most timeout_s seconds. Returns 0, or prints why and returns EXIT_CONFIG.
 */
static int run_command(const char *what, const char *command, char *buf, size_t cap,
                       unsigned long timeout_s) {
    int out[2], status = 0, timed_out = 0;
    size_t n = 0;
    pid_t pid;
    time_t deadline = time(NULL) + (time_t)(timeout_s ? timeout_s : 30);
    char *nl = NULL;
    if (pipe(out) != 0) return config_error(what, 0, "cannot run '%s': %s", command, strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(out[0]);
        close(out[1]);
        return config_error(what, 0, "cannot run '%s': %s", command, strerror(errno));
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY); /* standard input is the message: not for the command */
        if (null >= 0) dup2(null, STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    while (n < cap - 1 && !nl) {
        struct pollfd pfd = {out[0], POLLIN, 0};
        long left = (long)(deadline - time(NULL));
        ssize_t got;
        int r;
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        r = poll(&pfd, 1, (int)(left * 1000));
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {
            timed_out = 1;
            break;
        }
        got = read(out[0], buf + n, cap - 1 - n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        nl = memchr(buf + n, '\n', (size_t)got);
        n += (size_t)got;
    }
    close(out[0]);
    if (timed_out) kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
        wipe(buf, cap);
        return config_error(what, 0, "'%s' gave no line within %lu seconds", command,
                            timeout_s ? timeout_s : 30);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        wipe(buf, cap);
        return config_error(what, 0, "'%s' failed (%s %d)", command,
                            WIFEXITED(status) ? "exit status" : "signal",
                            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    if (!nl && n == cap - 1) {
        wipe(buf, cap);
        return config_error(what, 0, "the first line of the output of '%s' is too long", command);
    }
    n = nl ? (size_t)(nl - buf) : n;
    if (n > 0 && buf[n - 1] == '\r') n--;
    wipe(buf + n, cap - n);
    if (n == 0) return config_error(what, 0, "'%s' printed an empty line", command);
    return 0;
}

/* ---- Errors ------------------------------------------------------------------------------------ */

/* 4xx: try again later; else the permanent status given. */
static int by_reply(const smtpc_reply *r, int permanent) {
    return r && reply_code(r) >= 400 && reply_code(r) < 500 ? EXIT_TEMPFAIL : permanent;
}

/* A permanent refusal after DATA: the message's fault (65) when the reply says it is too big or its
 * content is bad (5.2.3, 5.3.4, 5.6.x; a bare 552 without an enhanced code), else `otherwise`: the
 * server's decision (69), or for LMTP's per-recipient reply the recipient's (67: mailbox full...). */
static int message_refusal_exit(const smtpc_reply *r, int otherwise) {
    const char *enh = r ? smtpc_reply_enhanced(r) : NULL;
    if (r && reply_code(r) >= 400 && reply_code(r) < 500) return EXIT_TEMPFAIL;
    if (enh && *enh)
        return strncmp(enh, "5.6.", 4) == 0 || strcmp(enh, "5.3.4") == 0 || strcmp(enh, "5.2.3") == 0
                   ? EXIT_DATAERR
                   : otherwise;
    return r && reply_code(r) == 552 ? EXIT_DATAERR : otherwise;
}

/* The exit status for a failed call, from its status and the server's last reply. */
static int exit_for(const smtpc_client *client, smtpc_status st) {
    const smtpc_reply *r = smtpc_client_last_reply(client);
    switch (st) {
    case SMTPC_OK: return EXIT_ACCEPTED;
    case SMTPC_EINVAL: return EXIT_USAGE;
    case SMTPC_ERESOLVE: return EXIT_NOHOST;
    case SMTPC_ECONNECT:
    case SMTPC_ETIMEOUT:
    case SMTPC_EDISCONNECTED:
    case SMTPC_ECLOSING:
    case SMTPC_ECANCELLED: /* interrupted: nothing delivered for sure, so try again */
    case SMTPC_EDELIVERY_UNKNOWN: return EXIT_TEMPFAIL; /* see "delivery unknown" in the usage text */
    case SMTPC_EIO:
    case SMTPC_EUSER: return EXIT_IOERR;
    case SMTPC_EPROTOCOL:
    case SMTPC_ETLS: return EXIT_PROTOCOL;
    case SMTPC_EGREETING:
    case SMTPC_EREPLY:
    case SMTPC_ESENDER_REFUSED:
    case SMTPC_EHELO:
    case SMTPC_ETLS_REQUIRED: return by_reply(r, EXIT_UNAVAILABLE);
    case SMTPC_ERECIPIENTS_REFUSED: return by_reply(r, EXIT_NOUSER);
    case SMTPC_EDATA_REFUSED: return message_refusal_exit(r, EXIT_UNAVAILABLE);
    case SMTPC_ENOTSUPPORTED:
    case SMTPC_ETLS_VERIFY: return EXIT_UNAVAILABLE;
    case SMTPC_EAUTH: return by_reply(r, EXIT_NOPERM);
    case SMTPC_EAUTH_MECHANISM:
    case SMTPC_EAUTH_INSECURE: return EXIT_CONFIG;
    default: return EXIT_SOFTWARE; /* ENOMEM, EINTERNAL, ESTATE, ENOTCONN */
    }
}

/*
 * The overall status when several apply. A temporary failure wins: retrying is the only way the
 * recipients it concerns can get the message (the others may get it twice; RFC 5321 prefers a
 * duplicate to a loss). Then a failure of the session, then configuration, then permanent refusals.
 */
static int worst(int a, int b) {
    static const int order[] = {EXIT_ACCEPTED, EXIT_USAGE,       EXIT_NOINPUT, EXIT_NOHOST, EXIT_NOUSER,
                                EXIT_DATAERR,  EXIT_UNAVAILABLE, EXIT_CONFIG,  EXIT_NOPERM, EXIT_SOFTWARE,
                                EXIT_IOERR,    EXIT_PROTOCOL,    EXIT_TEMPFAIL};
    size_t i, ra = 0, rb = 0;
    for (i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (order[i] == a) ra = i;
        if (order[i] == b) rb = i;
    }
    return ra >= rb ? a : b;
}

/* The host name or address of host (as given to connect: a name, an address, "[v6]", with an
 * optional ":port") into out; "" when there is none. */
static void bare_host(const char *h, char *out, size_t cap) {
    size_t n;
    if (h[0] == '[') {
        const char *close = strchr(h, ']');
        h++;
        n = close ? (size_t)(close - h) : 0;
    } else {
        const char *colon = strchr(h, ':');
        n = colon && !strchr(colon + 1, ':') ? (size_t)(colon - h) : strlen(h);
    }
    if (n >= cap) n = 0;
    memcpy(out, h, n);
    out[n] = '\0';
}

/* Whether host (as given to connect, or a socket path) is on this machine. The library decides from
 * the connected socket; this only chooses the advice printed after a failure. */
static int host_is_local(const char *host_in) {
    char host[256];
    struct addrinfo hints, *list = NULL, *ai;
    int local;
    if (host_in[0] == '/') return 1;
    bare_host(host_in, host, sizeof host);
    if (!host[0]) return 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &list) != 0 || !list) return 0;
    local = 1;
    for (ai = list; ai && local; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)ai->ai_addr;
            local = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        } else if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)ai->ai_addr;
            local = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
                    (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
        } else {
            local = 0;
        }
    }
    freeaddrinfo(list);
    return local;
}

/* What the connection was, for the advice after a failure. */
struct target {
    const char *host;
    int unix_socket;
    const char *tls; /* the --tls value, NULL when not given */
    int implicit;    /* TLS from the first byte */
    const char *tls_server_name;
};

/* Advice after a TLS failure, naming the options that change the outcome. */
static void tls_advice(const smtpc_client *client, smtpc_status st, const struct target *t) {
    long why = smtpc_client_tls_verify_result(client);
    if (st == SMTPC_ETLS_VERIFY && t->unix_socket && why == 0) {
        say("hint: over a Unix socket the certificate needs a name to be checked against: give it with "
            "--tls-server-name NAME, or use --tls none");
        return;
    }
    if (st != SMTPC_ETLS_VERIFY) return;
    if (why == 62) { /* X509_V_ERR_HOSTNAME_MISMATCH */
        char host[256];
        bare_host(t->host, host, sizeof host);
        say("hint: the certificate does not name %s; connect with a name it lists, or give that name with "
            "--tls-server-name NAME",
            t->tls_server_name ? t->tls_server_name : host);
        return;
    }
    if (why == 2 || why == 18 || why == 19 || why == 20 || why == 21) { /* unknown or self-signed issuer */
        if (!t->implicit && host_is_local(t->host) && (!t->tls || strcmp(t->tls, "required") == 0))
            say("hint: the server is on this machine: trust its certificate with --cafile FILE (%s), or use "
                "--tls opportunistic (encrypted, verification not enforced)",
                "the CA or the certificate itself, PEM");
        else say("hint: trust the server's certificate authority with --cafile FILE or --capath DIR");
    }
}

/* Prints "STAGE: detail (SMTPC_E...)" for a failed call and returns its exit status. */
/* The last failure report()ed, for --json. */
static struct {
    const char *stage;
    smtpc_status status;
    char detail[1024];
} failure;

static int report(const smtpc_client *client, const char *stage, smtpc_status st, const struct target *t) {
    const char *detail = smtpc_client_errmsg(client);
    failure.stage = stage;
    failure.status = st;
    snprintf(failure.detail, sizeof failure.detail, "%s", detail[0] ? detail : smtpc_strerror(st));
    if (st == SMTPC_ECANCELLED) {
        snprintf(failure.detail, sizeof failure.detail, "interrupted by %s", signal_name());
        say("%s: interrupted by %s; the connection was closed (%s)", stage, signal_name(),
            smtpc_status_name(st));
        return exit_for(client, st);
    }
    say("%s: %s (%s)", stage, detail[0] ? detail : smtpc_strerror(st), smtpc_status_name(st));
    if (st == SMTPC_ETLS_VERIFY || st == SMTPC_ETLS) tls_advice(client, st, t);
    if (st == SMTPC_EAUTH_INSECURE) {
        if (smtpc_client_tls_active(client))
            say("hint: the server's certificate was not verified; trust its certificate authority with %s",
                "--cafile FILE");
        else say("hint: use --tls required (the server must offer STARTTLS) or an smtps:// URL");
    }
    return exit_for(client, st);
}

/* The step of a transaction that was under way when it stopped, from what is known of it. With
 * PIPELINING, MAIL, RCPT and DATA go out together: the first one without a reply is the stage. */
static const char *transaction_stage(const smtpc_result *res, const struct body *b) {
    size_t k, n = smtpc_result_count(res);
    if (!smtpc_result_mail_reply(res)) return "MAIL FROM";
    for (k = 0; k < n; k++)
        if (!smtpc_result_rcpt_reply(res, k)) return "RCPT TO";
    if (!b->started) return "DATA";
    return b->ended ? "end of data" : "message";
}

static int is_refusal(smtpc_status st) {
    return st == SMTPC_ESENDER_REFUSED || st == SMTPC_ERECIPIENTS_REFUSED || st == SMTPC_EDATA_REFUSED;
}

/*
 * Reports the outcome of sendmail recipient by recipient and returns the exit status. The recorded
 * replies come first: a refusal stays a refusal even when the server closed the connection after it.
 */
static int report_transaction(const smtpc_client *client, smtpc_status st, const struct body *b,
                              const char *from, const struct target *t) {
    const smtpc_result *res = smtpc_client_last_result(client);
    const smtpc_reply *mail = smtpc_result_mail_reply(res);
    const smtpc_reply *message_refusal = NULL;
    size_t k, n = smtpc_result_count(res), refused = 0, unknown = 0, open = 0, delivered = 0;
    int lmtp = smtpc_client_protocol(client) == SMTPC_PROTOCOL_LMTP;
    const char *stage = transaction_stage(res, b);
    int code = EXIT_ACCEPTED;

    if (b->error) {
        say("message: cannot read standard input: %s; the connection was closed, so nothing was delivered",
            strerror(b->error));
        return EXIT_IOERR;
    }
    if (mail && reply_code(mail) >= 400) {
        say("MAIL FROM: <%s> refused: %d %s", from, reply_code(mail), reply_text(mail));
        return message_refusal_exit(mail, EXIT_UNAVAILABLE); /* 552 to SIZE: the message is too big */
    }
    for (k = 0; k < n; k++) {
        const char *rcpt = smtpc_result_recipient(res, k, NULL);
        const smtpc_reply *r;
        switch (smtpc_result_state(res, k)) {
        case SMTPC_RCPT_DELIVERED: delivered++; break;
        case SMTPC_RCPT_REFUSED:
            r = smtpc_result_rcpt_reply(res, k);
            say("RCPT TO: <%s> refused: %d %s", rcpt, reply_code(r), reply_text(r));
            refused++;
            code = worst(code, by_reply(r, EXIT_NOUSER));
            break;
        case SMTPC_RCPT_FAILED:
            r = smtpc_result_data_reply(res, k);
            /* SMTP has one reply for the message; LMTP one per recipient after the message */
            if (lmtp && b->started)
                say("end of data: message refused for <%s>: %d %s", rcpt, reply_code(r), reply_text(r));
            else if (!message_refusal) message_refusal = r;
            code = worst(code, message_refusal_exit(r, lmtp && b->started ? EXIT_NOUSER : EXIT_UNAVAILABLE));
            break;
        case SMTPC_RCPT_UNKNOWN:
            say("end of data: delivery to <%s> unknown%s", rcpt,
                st == SMTPC_ECANCELLED ? " (interrupted while waiting for the reply)" : "");
            unknown++;
            code = worst(code, EXIT_TEMPFAIL);
            break;
        default: /* not attempted, or accepted and then the transaction stopped */
            if (st == SMTPC_ECANCELLED) say("%s: not sent to <%s>", stage, rcpt);
            open++;
            break;
        }
    }
    if (message_refusal)
        say("%s: message refused: %d %s", b->started ? "end of data" : "DATA", reply_code(message_refusal),
            reply_text(message_refusal));
    if (n > 0 && refused == n) say("RCPT TO: no recipient was accepted; the message was not sent");
    if (open > 0 || unknown > 0 || (st != SMTPC_OK && refused == 0 && !message_refusal && delivered == 0)) {
        code = worst(code, report(client, stage, st, t));
        if (open > 0 && exit_for(client, st) == EXIT_ACCEPTED) code = worst(code, EXIT_SOFTWARE);
    } else if (st != SMTPC_OK && !is_refusal(st) && delivered > 0) {
        /* the message was accepted; what went wrong afterwards does not undo that */
        warn("after the message was accepted: %s (%s)", smtpc_client_errmsg(client), smtpc_status_name(st));
    }
    return code;
}

static int has_non_ascii(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 1;
    return 0;
}

/* Logs in as the options say. Returns 0, or an exit status. */
static int authenticate(smtpc_client *client, const struct options *o, const char *secret,
                        const struct target *t) {
    smtpc_status st;
    if (is_oauth(o->mech))
        st = smtpc_client_auth_oauth2(client, o->mech, SMTPC_NTS, o->user, SMTPC_NTS, secret, SMTPC_NTS, NULL,
                                      NULL);
    else if (o->mech)
        st = smtpc_client_auth_password(client, o->mech, SMTPC_NTS, o->user, SMTPC_NTS, secret, SMTPC_NTS, 1);
    else st = smtpc_client_login(client, o->user, SMTPC_NTS, secret, SMTPC_NTS);
    if (st == SMTPC_OK) return 0;
    if (st == SMTPC_EINVAL) {
        say("AUTH: %s", smtpc_client_errmsg(client));
        return EXIT_USAGE;
    }
    if (st == SMTPC_ENOTSUPPORTED) { /* the server offers no AUTH: a refusal, like an unoffered mechanism */
        report(client, "AUTH", st, t);
        return EXIT_CONFIG;
    }
    return report(client, "AUTH", st, t);
}

/* Adds SMTPUTF8 when an address needs it and the server offers it. Returns 0, or an exit status. */
static int international(smtpc_client *client, smtpc_envelope *env, const char *from, char **rcpts, int nrcpt,
                         int *body_set) {
    const char *needs = from && has_non_ascii(from) ? from : NULL;
    int i;
    for (i = 0; i < nrcpt && !needs; i++)
        if (has_non_ascii(rcpts[i])) needs = rcpts[i];
    if (!needs) return 0;
    if (!smtpc_client_has_extn(client, "SMTPUTF8", SMTPC_NTS)) {
        say("MAIL FROM: the address <%s> is not ASCII and the server does not offer SMTPUTF8 (RFC 6531)%s; "
            "nothing was sent",
            needs, smtpc_client_does_esmtp(client) ? "" : ": it did not accept EHLO");
        return EXIT_UNAVAILABLE;
    }
    /* A server offering SMTPUTF8 offers 8BITMIME too (RFC 6531 3.1); the body may well be 8-bit. */
    if (smtpc_envelope_add_mail_option(env, "SMTPUTF8", SMTPC_NTS) != SMTPC_OK ||
        (smtpc_client_has_extn(client, "8BITMIME", SMTPC_NTS) &&
         smtpc_envelope_add_mail_option(env, "BODY=8BITMIME", SMTPC_NTS) != SMTPC_OK)) {
        say("out of memory");
        return EXIT_SOFTWARE;
    }
    *body_set = smtpc_client_has_extn(client, "8BITMIME", SMTPC_NTS);
    return 0;
}

/* Puts the delivery options (DSN, REQUIRETLS, ...) on the envelope. Returns 0, or an exit status. */
static int set_extensions(smtpc_envelope *env, const struct options *o) {
    if ((o->dsn_ret || o->dsn_envid) &&
        smtpc_envelope_set_dsn(env, o->dsn_ret, o->dsn_envid, o->dsn_envid ? SMTPC_NTS : 0) != SMTPC_OK)
        return usage_error("%s", smtpc_envelope_errmsg(env));
    /* -t: the recipients come from the message's fields, so NOTIFY goes to each of them as it is */
    if (o->dsn_notify && o->from_headers) {
        char notify[40] = "NOTIFY=";
        if (o->dsn_notify & SMTPC_DSN_NOTIFY_NEVER) strcat(notify, "NEVER");
        if (o->dsn_notify & SMTPC_DSN_NOTIFY_SUCCESS) strcat(notify, "SUCCESS,");
        if (o->dsn_notify & SMTPC_DSN_NOTIFY_FAILURE) strcat(notify, "FAILURE,");
        if (o->dsn_notify & SMTPC_DSN_NOTIFY_DELAY) strcat(notify, "DELAY,");
        if (notify[strlen(notify) - 1] == ',') notify[strlen(notify) - 1] = '\0';
        if (smtpc_envelope_add_rcpt_option(env, notify, SMTPC_NTS) != SMTPC_OK) return EXIT_SOFTWARE;
    }
    if ((o->dsn_ret || o->dsn_envid || o->dsn_notify) && !o->dsn_strict &&
        smtpc_envelope_set_dsn_optional(env, 1) != SMTPC_OK)
        return EXIT_SOFTWARE;
    if (o->requiretls && smtpc_envelope_set_requiretls(env, 1) != SMTPC_OK) return EXIT_SOFTWARE;
    if (o->priority != SMTPC_MT_PRIORITY_UNSET &&
        smtpc_envelope_set_mt_priority(env, o->priority) != SMTPC_OK)
        return EXIT_SOFTWARE;
    if (o->deliver_by_mode && smtpc_envelope_set_deliver_by(env, o->deliver_by, o->deliver_by_mode,
                                                            o->deliver_by_trace) != SMTPC_OK)
        return usage_error("--deliver-by: %s", smtpc_envelope_errmsg(env));
    if (o->hold_for && smtpc_envelope_set_hold_for(env, o->hold_for) != SMTPC_OK) return EXIT_SOFTWARE;
    if (o->hold_until && smtpc_envelope_set_hold_until(env, o->hold_until, SMTPC_NTS) != SMTPC_OK)
        return usage_error("--hold-until takes an RFC 3339 date-time such as 2026-12-24T18:00:00Z, not '%s'",
                           o->hold_until);
    return 0;
}

/* Applies the TLS options to the client. Returns 0, or an exit status. */
static int setup_tls(smtpc_client *client, const struct options *o, int implicit_url,
                     smtpc_tls_config **tls) {
    smtpc_tls_policy policy = SMTPC_TLS_AUTO;
    if (implicit_url || (o->tls && strcmp(o->tls, "implicit") == 0)) policy = SMTPC_TLS_IMPLICIT;
    else if (o->tls && strcmp(o->tls, "required") == 0) policy = SMTPC_TLS_REQUIRED;
    else if (o->tls && strcmp(o->tls, "opportunistic") == 0) policy = SMTPC_TLS_OPPORTUNISTIC;
    else if (o->tls && strcmp(o->tls, "none") == 0) policy = SMTPC_TLS_NONE;
    /* REQUIRETLS (RFC 8689): verified TLS from the first command after EHLO */
    if (o->requiretls && policy != SMTPC_TLS_IMPLICIT) policy = SMTPC_TLS_REQUIRED;
    if (smtpc_client_set_tls_policy(client, policy) != SMTPC_OK) return EXIT_SOFTWARE;
    if (o->tls_server_name &&
        smtpc_client_set_tls_server_name(client, o->tls_server_name, SMTPC_NTS) != SMTPC_OK)
        return usage_error("invalid --tls-server-name '%s'", o->tls_server_name);
    if (!o->cafile && !o->capath && !o->cert && !o->tls_min) return 0;
    if (smtpc_tls_config_new(tls) != SMTPC_OK) {
        say("cannot set up TLS (out of memory, or OpenSSL failed to initialise)");
        return EXIT_SOFTWARE;
    }
    if (o->cafile && smtpc_tls_config_set_ca_file(*tls, o->cafile, SMTPC_NTS) != SMTPC_OK) {
        say("--cafile %s: %s", o->cafile, smtpc_tls_config_errmsg(*tls));
        return EXIT_CONFIG;
    }
    if (o->capath && smtpc_tls_config_set_ca_path(*tls, o->capath, SMTPC_NTS) != SMTPC_OK) {
        say("--capath %s: %s", o->capath, smtpc_tls_config_errmsg(*tls));
        return EXIT_CONFIG;
    }
    if (o->cert) {
        char pw[1024];
        smtpc_status st;
        int rc = 0;
        if (o->key_password_file)
            rc = read_first_line("key pass phrase", o->key_password_file, pw, sizeof pw, 1);
        if (rc != 0) return rc;
        st = smtpc_tls_config_set_client_cert(*tls, o->cert, SMTPC_NTS, o->key, SMTPC_NTS,
                                              o->key_password_file ? pw : NULL, SMTPC_NTS);
        wipe(pw, sizeof pw);
        if (st != SMTPC_OK) {
            say("--cert %s: %s", o->cert, smtpc_tls_config_errmsg(*tls));
            return EXIT_CONFIG;
        }
    }
    if (o->tls_min)
        smtpc_tls_config_set_min_version(*tls, strcmp(o->tls_min, "1.3") == 0 ? SMTPC_TLS_VERSION_1_3
                                                                              : SMTPC_TLS_VERSION_1_2);
    smtpc_client_set_tls_config(client, *tls);
    return 0;
}

/* ---- The message: header fields added for -t and -F, the spool ------------------------------ */

/* An address as given (bare or in angle brackets), without the brackets, for a header field. */
static void bare_address(const char *a, const char **p, size_t *n) {
    size_t len = strlen(a);
    if (len >= 2 && a[0] == '<' && a[len - 1] == '>') a++, len -= 2;
    *p = a;
    *n = len;
}

/* Appends NAME as a display name: as it is when it is only letters, digits and spaces, else as a
 * quoted string; an encoded word (RFC 2047) when it is not ASCII. */
static int append_display_name(struct message *m, const char *name) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *u = (const unsigned char *)name;
    size_t i, n = strlen(name);
    int plain = 1;
    if (has_non_ascii(name)) {
        if (append(m, "=?UTF-8?B?", 10)) return -1;
        for (i = 0; i < n; i += 3) {
            unsigned long v = (unsigned long)u[i] << 16 | (i + 1 < n ? (unsigned long)u[i + 1] << 8 : 0) |
                              (i + 2 < n ? u[i + 2] : 0);
            char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=',
                         i + 2 < n ? b64[v & 63] : '='};
            if (append(m, q, 4)) return -1;
        }
        return append(m, "?=", 2);
    }
    for (i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= '0' && name[i] <= '9') || name[i] == ' '))
            plain = 0;
    if (plain) return append(m, name, n);
    if (append(m, "\"", 1)) return -1;
    for (i = 0; i < n; i++)
        if (((name[i] == '"' || name[i] == '\\') && append(m, "\\", 1)) || append(m, name + i, 1)) return -1;
    return append(m, "\"", 1);
}

/* Whether an address given with -t can be written in a Bcc field as <address> and read back as it
 * is: no list separator, bracket or line end inside (a quoted local part with those is refused). */
static int fits_field(const char *address) {
    const char *a;
    size_t n, i;
    bare_address(address, &a, &n);
    for (i = 0; i < n; i++)
        if (strchr("<>,;\r\n", a[i])) return 0;
    return n > 0;
}

/*
 * The message, read whole before connecting ("spooled"), so that SIZE is declared on the MAIL line, a
 * refusal for size comes before the upload, and nothing is lost to a failure half way: in memory up to
 * SPOOL_MEMORY bytes, then in a temporary file that has no name (O_TMPFILE, else mkstemp and unlink)
 * in $TMPDIR, mode 0600, gone when the process ends; mapped to be sent (nobody else can shorten
 * it). A regular file on standard input is sent in place, without a copy (but with -t and -F, which
 * may add header fields): see file_stdin().
 */
#define SPOOL_MEMORY ((size_t)1 << 20)

struct file_source {
    int fd;
    off_t at;      /* the next byte to send */
    uint64_t left; /* bytes of the message still to send */
    int error;     /* errno of a failed read */
    int shrank;    /* the file ended before the message */
};

struct spool {
    struct message mem; /* the message while in memory */
    int fd;             /* the temporary file, -1 while in memory */
    size_t len;         /* bytes spooled */
    void *map;          /* the mapping, munmap()ed at the end */
    size_t map_len;
    const char *data; /* the message to send */
    size_t data_len;
    int stream; /* a regular file on standard input, sent in place from src */
    struct file_source src;
    uint64_t size_hint; /* its size after normalisation, for SIZE */
};

static int spool_file(struct spool *sp) {
    const char *dir = getenv("TMPDIR");
    char path[4096];
    if (!dir || !*dir) dir = "/tmp";
#ifdef O_TMPFILE
    sp->fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (sp->fd >= 0) return 0;
#endif
    if ((size_t)snprintf(path, sizeof path, "%s/smtpc-send.XXXXXX", dir) >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    sp->fd = mkstemp(path); /* mode 0600 */
    if (sp->fd < 0) return -1;
    unlink(path);
    return 0;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Appends to the spool, moving it to a file past SPOOL_MEMORY. Returns 0, or an exit status. */
static int spool_put(struct spool *sp, const char *p, size_t n) {
    if (sp->fd < 0 && sp->len + n <= SPOOL_MEMORY) {
        if (append(&sp->mem, p, n)) {
            say("out of memory reading the message; nothing was sent");
            return EXIT_SOFTWARE;
        }
        sp->len += n;
        return 0;
    }
    if (sp->fd < 0) {
        if (spool_file(sp) != 0 || write_all(sp->fd, sp->mem.data ? sp->mem.data : "", sp->mem.len) != 0) {
            say("cannot make a temporary file for the message in %s: %s; nothing was sent",
                getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", strerror(errno));
            return EXIT_IOERR;
        }
        free(sp->mem.data);
        memset(&sp->mem, 0, sizeof sp->mem);
    }
    if (write_all(sp->fd, p, n) != 0) {
        say("cannot write the message to its temporary file: %s; nothing was sent", strerror(errno));
        return EXIT_IOERR;
    }
    sp->len += n;
    return 0;
}

static void spool_free(struct spool *sp) {
    if (sp->map) munmap(sp->map, sp->map_len);
    if (sp->fd >= 0) close(sp->fd);
    free(sp->mem.data);
}

/* Line-end normalisation as the library does it (lone CR or LF becomes CRLF, a final CRLF is added),
 * so that the SIZE declared for a file sent in place is the size sent. */
struct norm_size {
    uint64_t size;
    int after_cr;
    char last;
};

static void norm_feed(struct norm_size *z, char c) {
    z->size++;
    if (z->after_cr && c != '\n') z->size++;
    if (c == '\n' && !z->after_cr) z->size++;
    z->after_cr = c == '\r';
    z->last = c;
}

static uint64_t norm_end(const struct norm_size *z) {
    uint64_t size = z->size + (z->after_cr ? 1 : 0);
    if (z->size == 0 || (z->last != '\n' && z->last != '\r')) size += 2;
    return size;
}

/*
 * A regular file on standard input is sent in place, read with pread() as it goes out, never mapped:
 * a file truncated meanwhile must give an error, not SIGBUS. A first pass finds where the message ends
 * (the "." line, without -i) and its size after normalisation, declared as SIZE. Returns 1 when set
 * up, 0 to read standard input through the spool (-t and -F, which may add header fields; a pipe).
 */
static int file_stdin(const struct options *o, struct spool *sp) {
    struct stat st;
    off_t at = lseek(STDIN_FILENO, 0, SEEK_CUR);
    struct norm_size z = {0, 0, 0}, at_dot = {0, 0, 0};
    char block[65536];
    uint64_t pos = 0, avail, dot = 0, end, next;
    enum { TEXT, LINE_START, DOT, DOT_CR, DONE } state = LINE_START;
    if (o->from_headers || o->full_name || fstat(STDIN_FILENO, &st) != 0 || !S_ISREG(st.st_mode) || at < 0 ||
        st.st_size <= at)
        return 0;
    avail = (uint64_t)(st.st_size - at);
    end = next = avail;
    while (pos < avail && state != DONE) {
        size_t want = avail - pos < sizeof block ? (size_t)(avail - pos) : sizeof block, k;
        ssize_t r = pread(STDIN_FILENO, block, want, at + (off_t)pos);
        if (r < 0 && errno == EINTR && !signal_got) continue;
        if (r <= 0) break; /* a read error or a shorter file: the send pass will report it */
        for (k = 0; k < (size_t)r && state != DONE; k++, pos++) {
            char c = block[k];
            if (o->ignore_dots) {
                norm_feed(&z, c);
                continue;
            }
            if (state == LINE_START && c == '.') {
                at_dot = z; /* the size up to the "." line, if it is the end */
                dot = pos;
                state = DOT;
                continue;
            }
            if (state == DOT && c == '\r') {
                state = DOT_CR;
                continue;
            }
            if ((state == DOT || state == DOT_CR) && c == '\n') {
                end = dot;
                next = pos + 1;
                state = DONE;
                break;
            }
            if (state == DOT || state == DOT_CR) norm_feed(&z, '.'); /* not the end after all */
            if (state == DOT_CR) norm_feed(&z, '\r');
            norm_feed(&z, c);
            state = c == '\n' ? LINE_START : TEXT;
        }
    }
    if (state == DOT || state == DOT_CR) { /* the file ends on the "." line */
        end = dot;
        next = pos;
    }
    if (end != avail || state == DOT || state == DOT_CR) z = at_dot;
    sp->stream = 1;
    sp->src.fd = STDIN_FILENO;
    sp->src.at = at;
    sp->src.left = end;
    sp->size_hint = norm_end(&z);
    if (!o->ignore_dots) lseek(STDIN_FILENO, at + (off_t)next, SEEK_SET); /* what follows stays unread */
    return 1;
}

/* smtpc_read_fn over the file: a read error, or the file ending before the message, aborts the
 * transaction (the library closes the connection without the end of data). */
static int read_file(char *buf, size_t cap, size_t *len, void *userdata) {
    struct file_source *f = userdata;
    size_t want = f->left < cap ? (size_t)f->left : cap;
    ssize_t r;
    if (want == 0) {
        *len = 0;
        return 0;
    }
    do r = pread(f->fd, buf, want, f->at);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        f->error = errno;
        return 1;
    }
    if (r == 0) {
        f->shrank = 1;
        return 1;
    }
    f->at += r;
    f->left -= (uint64_t)r;
    *len = (size_t)r;
    return 0;
}

/*
 * Reads the whole message from standard input into the spool, before connecting: with a From field
 * made from -F NAME and -f ADDRESS first when the message has none, and, with -t, the recipients given
 * as arguments in a Bcc field (Resent-Bcc when the message is resent), so that the library takes them
 * with those of the fields and never transmits them. Room for those fields is kept at the start and
 * they are written once the message's own fields are known. Returns 0, or an exit status.
 */
static int spool_message(const struct options *o, char **extra, int nextra, struct spool *sp) {
    struct body b;
    struct message from = {NULL, 0, 0}, bcc = {NULL, 0, 0};
    char block[65536];
    size_t n, room, used = 0;
    const char *msg;
    int i, code = 0;
    memset(&b, 0, sizeof b);
    b.in = stdin;
    b.dot_ends = !o->ignore_dots;
    if (file_stdin(o, sp)) return 0;
    /* the fields that may be added, at their longest */
    if ((o->from_headers || o->full_name) && o->from && o->from[0]) {
        const char *a;
        size_t len;
        bare_address(o->from, &a, &len);
        if (append(&from, "From: ", 6)) goto oom;
        if (o->full_name && o->full_name[0]) {
            if (append_display_name(&from, o->full_name) || append(&from, " <", 2) || append(&from, a, len) ||
                append(&from, ">", 1))
                goto oom;
        } else if (append(&from, a, len)) {
            goto oom;
        }
        if (append(&from, "\r\n", 2)) goto oom;
    }
    if (o->from_headers && nextra > 0) {
        if (append(&bcc, "Resent-Bcc:", 11)) goto oom;
        for (i = 0; i < nextra; i++) {
            const char *a;
            size_t len;
            bare_address(extra[i], &a, &len);
            if (append(&bcc, i ? ",\r\n <" : " <", i ? 5 : 2) || append(&bcc, a, len) || append(&bcc, ">", 1))
                goto oom;
        }
        if (append(&bcc, "\r\n", 2)) goto oom;
    }
    room = from.len + bcc.len;
    memset(block, 0, room < sizeof block ? room : sizeof block);
    for (n = room; n > 0 && code == 0;) {
        size_t k = n < sizeof block ? n : sizeof block;
        code = spool_put(sp, block, k);
        n -= k;
    }
    while (code == 0 && (n = read_message(&b, block, sizeof block)) > 0) code = spool_put(sp, block, n);
    if (code == 0 && b.error && signal_got) {
        say("reading the message: interrupted by %s; nothing was sent", signal_name());
        code = EXIT_TEMPFAIL;
    } else if (code == 0 && b.error) {
        say("cannot read standard input: %s; nothing was sent", strerror(b.error));
        code = EXIT_IOERR;
    }
    if (code != 0) goto done;
    if (sp->fd >= 0) {
        sp->map = mmap(NULL, sp->len, PROT_READ | PROT_WRITE, MAP_SHARED, sp->fd, 0);
        if (sp->map == MAP_FAILED) {
            sp->map = NULL;
            say("cannot map the message's temporary file: %s; nothing was sent", strerror(errno));
            code = EXIT_IOERR;
            goto done;
        }
        sp->map_len = sp->len;
    }
    msg = sp->map ? (char *)sp->map : sp->mem.data ? sp->mem.data : "";
    /* the fields this message needs, just before it */
    if (bcc.len && has_field(msg + room, sp->len - room, "Resent-Date") == 0) {
        used += bcc.len - 7; /* "Resent-Bcc:" without "Resent-" */
        memcpy((char *)msg + room - used, bcc.data + 7, bcc.len - 7);
    } else if (bcc.len) {
        used += bcc.len;
        memcpy((char *)msg + room - used, bcc.data, bcc.len);
    }
    if (from.len && !has_field(msg + room, sp->len - room, "From")) {
        used += from.len;
        memcpy((char *)msg + room - used, from.data, from.len);
    }
    sp->data = msg + room - used;
    sp->data_len = sp->len - room + used;
done:
    free(from.data);
    free(bcc.data);
    return code;
oom:
    free(from.data);
    free(bcc.data);
    say("out of memory reading the message; nothing was sent");
    return EXIT_SOFTWARE;
}

/* ---- --json ------------------------------------------------------------------------------------ */

/*
 * Writes text as a JSON string. Valid UTF-8 is kept (but U+2028 and U+2029, escaped for JavaScript);
 * control characters are escaped (\n, \uXXXX); each byte that is not part of valid UTF-8 becomes
 * U+FFFD, as a WHATWG decoder does: the text stays valid JSON and valid UTF-8 (the exact bytes are in
 * the --trace output, escaped).
 */
static void json_chars(FILE *out, const char *text, size_t n) {
    const unsigned char *u = (const unsigned char *)text;
    size_t i = 0, len, k;
    while (i < n) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
            i++;
        } else if (c == '\n') {
            fputs("\\n", out);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            putc(c, out);
            i++;
        } else {
            unsigned long cp;
            len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
            cp = len == 2 ? c & 0x1fu : len == 3 ? c & 0x0fu : c & 0x07u;
            for (k = 1; len && k < len; k++) {
                if (i + k >= n || (u[i + k] & 0xc0) != 0x80) len = 0;
                else cp = cp << 6 | (u[i + k] & 0x3fu);
            }
            if (len && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
                        (cp >= 0xd800 && cp <= 0xdfff)))
                len = 0;
            if (!len) {
                fputs("\\ufffd", out);
                i++;
            } else if (cp == 0x2028 || cp == 0x2029 || (cp >= 0x80 && cp < 0xa0)) {
                fprintf(out, "\\u%04lx", cp);
                i += len;
            } else {
                fwrite(u + i, 1, len, out);
                i += len;
            }
        }
    }
}

static void json_string(FILE *out, const char *text, size_t n) {
    putc('"', out);
    json_chars(out, text, n);
    putc('"', out);
}

static void json_text(FILE *out, const char *text) {
    if (text) json_string(out, text, strlen(text));
    else fputs("null", out);
}

/* "code": N, "enhanced": "x.y.z" or null, "text": "..." (multiline text joined with \n); nulls when
 * there is no reply. */
static void json_reply_fields(FILE *out, const smtpc_reply *r) {
    size_t n = 0;
    const char *text;
    const char *enh;
    size_t elen, i, start;
    if (!r) {
        fputs("\"code\": null, \"enhanced\": null, \"text\": null", out);
        return;
    }
    enh = smtpc_reply_enhanced(r);
    elen = strlen(enh);
    text = smtpc_reply_text(r, &n);
    fprintf(out, "\"code\": %d, \"enhanced\": ", reply_code(r));
    if (elen) json_text(out, enh);
    else fputs("null", out);
    fputs(", \"text\": \"", out);
    /* each line without the enhanced code that starts it, given on its own above */
    for (start = 0; start <= n; start = i + 1) {
        for (i = start; i < n && text[i] != '\n'; i++) {
        }
        if (start > 0) fputs("\\n", out);
        if (elen && i - start > elen && memcmp(text + start, enh, elen) == 0 && text[start + elen] == ' ')
            start += elen + 1;
        json_chars(out, text + start, i - start);
    }
    putc('"', out);
}

/* The TLS state, read while the connection was up. */
struct tls_state {
    int active, verified;
    char version[32];
};

static void note_tls(const smtpc_client *client, struct tls_state *ts) {
    const char *v;
    if (!smtpc_client_is_connected(client)) return;
    ts->active = smtpc_client_tls_active(client);
    ts->verified = ts->active && smtpc_client_tls_verified(client);
    v = ts->active ? smtpc_client_tls_version(client) : NULL;
    snprintf(ts->version, sizeof ts->version, "%s", v ? v : "");
}

/* One JSON object on standard output: the outcome for a program to read. */
static struct tls_state tls_seen;

static void print_json(const smtpc_client *client, const char *url, const struct tls_state *ts,
                       const char *sender, int code) {
    static const char *const states[] = {"not attempted", "refused", "accepted",
                                         "delivered",     "failed",  "unknown"};
    const smtpc_result *res = smtpc_client_last_result(client);
    const smtpc_reply *final = NULL;
    size_t k, n = res ? smtpc_result_count(res) : 0;
    int lmtp = smtpc_client_protocol(client) == SMTPC_PROTOCOL_LMTP;
    FILE *out = stdout;

    fputs("{\"server\": ", out);
    json_text(out, url);
    fprintf(out, ", \"protocol\": \"%s\", \"tls\": {\"active\": %s, \"version\": ", lmtp ? "lmtp" : "smtp",
            ts->active ? "true" : "false");
    if (ts->active && ts->version[0]) json_text(out, ts->version);
    else fputs("null", out);
    fprintf(out, ", \"verified\": %s}, \"exit_status\": %d, \"sender\": ", ts->verified ? "true" : "false",
            code);
    if (res && sender) json_text(out, sender);
    else fputs("null", out);
    fputs(", \"mail\": {", out);
    json_reply_fields(out, res ? smtpc_result_mail_reply(res) : NULL);
    /* SMTP has one reply to the message; LMTP one per recipient (each recipient's below) */
    for (k = 0; k < n && !lmtp && !final; k++) final = smtpc_result_data_reply(res, k);
    fputs("}, \"reply\": {", out);
    json_reply_fields(out, final);
    fputs("}, \"recipients\": [", out);
    for (k = 0; k < n; k++) {
        smtpc_rcpt_state st = smtpc_result_state(res, k);
        const smtpc_reply *r = smtpc_result_rcpt_reply(res, k);
        size_t alen = 0;
        const char *a = smtpc_result_recipient(res, k, &alen);
        /* the reply that decided: the RCPT reply when refused there, else the reply to the message */
        if (st != SMTPC_RCPT_REFUSED) r = smtpc_result_data_reply(res, k);
        fputs(k ? ", {\"address\": " : "{\"address\": ", out);
        json_string(out, a ? a : "", a ? alen : 0);
        fprintf(out, ", \"state\": \"%s\", ",
                (unsigned)st < sizeof states / sizeof states[0] ? states[st] : "unknown");
        json_reply_fields(out, r);
        putc('}', out);
    }
    fputs("], \"error\": ", out);
    if (failure.stage) {
        fputs("{\"stage\": ", out);
        json_text(out, failure.stage);
        fputs(", \"status\": ", out);
        json_text(out, smtpc_status_name(failure.status));
        fputs(", \"message\": ", out);
        json_text(out, failure.detail);
        putc('}', out);
    } else {
        fputs("null", out);
    }
    fputs("}\n", out);
    fflush(out);
}

/* Cancelled after the end of data was sent: some recipient's delivery is unknown. */
static int any_unknown(const smtpc_result *res) {
    size_t k, n = smtpc_result_count(res);
    for (k = 0; k < n; k++)
        if (smtpc_result_state(res, k) == SMTPC_RCPT_UNKNOWN) return 1;
    return 0;
}

/* Connects, says hello (with STARTTLS as the policy says), logs in and sends the message: from
 * memory when it was read whole (m->data), else streamed from standard input. Returns the exit status. */
static int run(smtpc_client *client, smtpc_envelope *env, const struct options *o, const char *secret,
               struct session *s, const struct target *t, char **rcpts, int nrcpt, const struct spool *m) {
    struct body b;
    struct progress progress = {0, 0, 0};
    smtpc_status st;
    int code, body_set = 0;

    memset(&b, 0, sizeof b);
    b.in = stdin;
    b.dot_ends = !o->ignore_dots;
    st = smtpc_client_connect(client, t->host, SMTPC_NTS, 0);
    if (st == SMTPC_EINVAL) /* refused before any connection: a bad host, port or socket path */
        return usage_error("--server %s: %s", o->url, smtpc_client_errmsg(client));
    if (st != SMTPC_OK) return report(client, s->stage, st, t);
    /* EHLO, and STARTTLS and EHLO again when the TLS policy says so */
    st = smtpc_client_ehlo_or_helo_if_needed(client);
    if (st == SMTPC_ETLS_REQUIRED) return report(client, "STARTTLS", st, t);
    if (st != SMTPC_OK) return report(client, s->stage, st, t);
    note_tls(client, &tls_seen);
    if (o->user && (code = authenticate(client, o, secret, t)) != 0) return code;
    /* with -t the library adds SMTPUTF8 itself, for the addresses it finds in the fields too */
    if (!o->from_headers && (code = international(client, env, o->from, rcpts, nrcpt, &body_set)) != 0)
        return code;
    if (o->eight_bit && !body_set && smtpc_client_has_extn(client, "8BITMIME", SMTPC_NTS) &&
        smtpc_envelope_add_mail_option(env, "BODY=8BITMIME", SMTPC_NTS) != SMTPC_OK) {
        say("out of memory");
        return EXIT_SOFTWARE;
    }

    s->data_started = &b.started;
    if (o->progress == 1 || (o->progress < 0 && !o->json && isatty(STDERR_FILENO))) {
        progress.forced = o->progress == 1;
        smtpc_client_set_progress(client, on_progress, &progress);
    }
    /* the library declares SIZE when the server offers it */
    if (m->stream) {
        struct file_source src = m->src;
        st = smtpc_client_sendmail_stream(client, env, m->size_hint, read_file, &src);
        progress_clear(&progress);
        if (st == SMTPC_EUSER && (src.shrank || src.error)) {
            if (src.shrank)
                say("message: standard input ended %llu bytes before the end of the message (the file was "
                    "truncated while being sent); the connection was closed, so nothing was delivered",
                    (unsigned long long)src.left);
            else
                say("message: cannot read standard input: %s; the connection was closed, so nothing was "
                    "delivered",
                    strerror(src.error));
            failure.stage = "message";
            failure.status = st;
            snprintf(failure.detail, sizeof failure.detail, "%s",
                     src.shrank ? "standard input was truncated while being sent" : strerror(src.error));
            return EXIT_IOERR;
        }
    } else {
        st = o->from_headers ? smtpc_client_send_message(client, env, m->data, m->data_len)
                             : smtpc_client_sendmail(client, env, m->data, m->data_len);
        progress_clear(&progress);
    }
    if (st == SMTPC_EINVAL && o->from_headers) { /* nothing was sent: the fields are unusable */
        say("message: %s; nothing was sent", smtpc_client_errmsg(client));
        return EXIT_DATAERR;
    }
    b.ended = b.started && (st == SMTPC_EDELIVERY_UNKNOWN || st == SMTPC_OK ||
                            (st == SMTPC_ECANCELLED && any_unknown(smtpc_client_last_result(client))));
    note_tls(client, &tls_seen);
    return report_transaction(client, st, &b, o->from ? o->from : s->sender, t);
}

/* ---- Several messages over one connection: --each FILE..., --mbox FILE, --maildir DIR -------- */

/* Where the messages come from. Every input is checked before connecting (batch_open()); each message
 * is then read when it is queued and freed when its result is taken, so memory holds the window. */
struct batch_source {
    char **paths;  /* --each: the files given; --maildir: those found in cur/ and new/ */
    size_t npaths; /* number of paths */
    size_t next;   /* the next path to read */
    int owned;     /* paths (and each path) were allocated here (--maildir) */
    FILE *mbox;    /* --mbox */
    const char *mbox_path;
    size_t taken; /* messages read so far */
    char *line;   /* getline()'s buffer for the mbox */
    size_t line_cap;
    int at_end;     /* the mbox has no more message */
    int stream_big; /* files over SPOOL_MEMORY are sent in place, not read whole (not with -t) */
};

/* Appends formatted text (for the result lines). Returns 0, or -1 when out of memory. */
static int appendf(struct message *m, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int appendf(struct message *m, const char *fmt, ...) {
    char small[1024];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    return append(m, small, (size_t)n < sizeof small ? (size_t)n : sizeof small - 1);
}

/* A regular file that can be opened for reading: 0, or an exit status (the reason printed). An
 * empty file is refused unless empty_ok. */
static int check_input(const char *path, int empty_ok) {
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        say("%s: %s; nothing was sent", path, strerror(errno));
        return EXIT_NOINPUT;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        say("%s: not a regular file; nothing was sent", path);
        close(fd);
        return EXIT_NOINPUT;
    }
    close(fd);
    if (st.st_size == 0 && !empty_ok) {
        say("%s: empty file, no message in it; nothing was sent", path);
        return EXIT_DATAERR;
    }
    return 0;
}

static int compare_paths(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of DIR/sub (names starting with '.' skipped), sorted by name, appended to b. */
static int maildir_scan(struct batch_source *b, const char *dir, const char *sub) {
    char path[4096];
    DIR *d;
    struct dirent *e;
    size_t first = b->npaths, cap = b->npaths;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, sub) >= sizeof path) {
        say("%s: name too long; nothing was sent", dir);
        return EXIT_NOINPUT;
    }
    if (!(d = opendir(path))) {
        say("%s: %s (--maildir needs the cur and new directories of a maildir); nothing was sent", path,
            strerror(errno));
        return EXIT_NOINPUT;
    }
    while ((e = readdir(d)) != NULL) {
        char *p;
        int rc;
        if (e->d_name[0] == '.') continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s/%s", dir, sub, e->d_name) >= sizeof path) continue;
        if ((rc = check_input(path, 1)) != 0) {
            closedir(d);
            return rc;
        }
        if (b->npaths == cap) {
            char **grown = realloc(b->paths, (cap ? cap * 2 : 64) * sizeof *grown);
            if (!grown) goto oom;
            b->paths = grown;
            cap = cap ? cap * 2 : 64;
        }
        if (!(p = strdup(path))) goto oom;
        b->paths[b->npaths++] = p;
    }
    closedir(d);
    if (b->npaths > first) qsort(b->paths + first, b->npaths - first, sizeof *b->paths, compare_paths);
    return 0;
oom:
    closedir(d);
    say("out of memory listing %s; nothing was sent", dir);
    return EXIT_SOFTWARE;
}

/* Checks every input before anything is sent. Returns 0, or an exit status (the reason printed). */
static int batch_open(struct batch_source *b, const struct options *o, char **files, int nfiles) {
    int i, rc;
    memset(b, 0, sizeof *b);
    if (o->each) {
        for (i = 0; i < nfiles; i++)
            if ((rc = check_input(files[i], 0)) != 0) return rc;
        b->paths = files;
        b->npaths = (size_t)nfiles;
        return 0;
    }
    if (o->maildir) {
        b->owned = 1;
        if ((rc = maildir_scan(b, o->maildir, "cur")) != 0 || (rc = maildir_scan(b, o->maildir, "new")) != 0)
            return rc;
        if (b->npaths == 0) {
            say("%s: no message in cur/ or new/; nothing was sent", o->maildir);
            return EXIT_DATAERR;
        }
        return 0;
    }
    if ((rc = check_input(o->mbox, 0)) != 0) return rc;
    b->mbox_path = o->mbox;
    if (!(b->mbox = fopen(o->mbox, "rb"))) {
        say("%s: %s; nothing was sent", o->mbox, strerror(errno));
        return EXIT_NOINPUT;
    }
    if (getline(&b->line, &b->line_cap, b->mbox) < 5 || memcmp(b->line, "From ", 5) != 0) {
        say("%s: not an mbox file (it does not start with a \"From \" line); nothing was sent", o->mbox);
        return EXIT_DATAERR;
    }
    return 0;
}

static void batch_close(struct batch_source *b) {
    size_t i;
    if (b->owned) {
        for (i = 0; i < b->npaths; i++) free(b->paths[i]);
        free(b->paths);
    }
    if (b->mbox) fclose(b->mbox);
    free(b->line);
}

/* The next message of the mbox into m (the "From " line already read): its lines up to the next
 * "From " line, with one '>' taken off lines that start with ">From ", ">>From "... (mboxrd; for
 * mboxo only ">From " is quoted, which this reads right too) and the empty line that separates it
 * from the next message left out. Returns 1, 0 at the end, -1 on a read error (errno) or no memory. */
static int mbox_next(struct batch_source *b, struct message *m) {
    ssize_t n;
    if (b->at_end) return 0;
    errno = 0;
    while ((n = getline(&b->line, &b->line_cap, b->mbox)) > 0) {
        const char *p = b->line;
        size_t k = 0;
        if (n >= 5 && memcmp(p, "From ", 5) == 0) break;
        while (k < (size_t)n && p[k] == '>') k++;
        if (k > 0 && (size_t)n - k >= 5 && memcmp(p + k, "From ", 5) == 0) p++, n--;
        if (append(m, p, (size_t)n)) {
            errno = ENOMEM;
            return -1;
        }
    }
    if (n < 0 && ferror(b->mbox)) return -1;
    if (n <= 0) b->at_end = 1;
    /* the line that separates messages */
    if (m->len >= 4 && memcmp(m->data + m->len - 4, "\r\n\r\n", 4) == 0) m->len -= 2;
    else if (m->len >= 2 && memcmp(m->data + m->len - 2, "\n\n", 2) == 0) m->len -= 1;
    return 1;
}

/* Reads a whole file into m. Returns 0, or -1 with errno set. */
static int slurp(const char *path, struct message *m) {
    char block[65536];
    ssize_t r;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), saved;
    if (fd < 0) return -1;
    for (;;) {
        r = read(fd, block, sizeof block);
        if (r < 0 && errno == EINTR && !signal_got) continue;
        if (r <= 0) break;
        if (append(m, block, (size_t)r)) {
            errno = ENOMEM;
            r = -1;
            break;
        }
    }
    saved = errno;
    close(fd);
    errno = saved;
    return r < 0 ? -1 : 0;
}

/*
 * A file over SPOOL_MEMORY, sent in place as standard input is (read_file(), so that a file truncated
 * meanwhile aborts the message instead of sending less): opened into src, its size after line-end
 * normalisation into size_hint (SIZE). Returns 2 when set up (src->fd to close once its result is
 * taken), 0 for a smaller file (to be read whole), -1 with errno set.
 */
static int stream_file(const char *path, struct file_source *src, uint64_t *size_hint) {
    struct norm_size z = {0, 0, 0};
    char block[65536];
    struct stat st;
    off_t at = 0;
    ssize_t r;
    int saved, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return -1;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size <= SPOOL_MEMORY) {
        close(fd);
        return 0;
    }
    while ((r = pread(fd, block, sizeof block, at)) != 0) {
        ssize_t k;
        if (r < 0 && errno == EINTR && !signal_got) continue;
        if (r < 0) {
            saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        for (k = 0; k < r; k++) norm_feed(&z, block[k]);
        at += r;
    }
    memset(src, 0, sizeof *src);
    src->fd = fd;
    src->left = (uint64_t)at;
    *size_hint = norm_end(&z);
    return 2;
}

/*
 * The next message: its name (the file, or "MBOX#N") into name, its bytes into m when m is not NULL
 * (NULL: only its name, to report it as not sent). Returns 1, 0 when there is none left, -1 when it
 * could not be read (errno set; m empty).
 */
static int batch_next(struct batch_source *b, struct message *m, char *name, size_t cap,
                      struct file_source *src, uint64_t *size_hint) {
    int rc;
    if (b->mbox) {
        struct message skip = {NULL, 0, 0};
        rc = mbox_next(b, m ? m : &skip);
        free(skip.data);
        if (rc != 0) snprintf(name, cap, "%s#%zu", b->mbox_path, ++b->taken);
        return rc;
    }
    if (b->next >= b->npaths) return 0;
    snprintf(name, cap, "%s", b->paths[b->next++]);
    b->taken++;
    if (m && src && b->stream_big) {
        rc = stream_file(name, src, size_hint);
        if (rc != 0) return rc;
    }
    if (m && slurp(name, m) != 0) return -1;
    return 1;
}

/* What became of the messages, for the summary. */
struct batch_counts {
    size_t n, by_state[5];
};

static const char *const message_states[] = {"delivered", "partial", "refused", "not sent", "unknown"};

/* The exit status of one message's result (see "Several messages" in the usage text). */
static int message_exit(const smtpc_message_result *r) {
    const smtpc_result *res = smtpc_message_result_recipients(r);
    const smtpc_reply *reply = smtpc_message_result_reply(r);
    smtpc_status st = smtpc_message_result_status(r);
    size_t k, n = res ? smtpc_result_count(res) : 0;
    int code = EXIT_ACCEPTED;
    switch (smtpc_message_result_state(r)) {
    case SMTPC_MESSAGE_DELIVERED: return EXIT_ACCEPTED;
    case SMTPC_MESSAGE_UNKNOWN: return EXIT_TEMPFAIL;
    case SMTPC_MESSAGE_PARTIAL:
    case SMTPC_MESSAGE_REFUSED:
        if (st == SMTPC_ESENDER_REFUSED) return message_refusal_exit(reply, EXIT_UNAVAILABLE);
        for (k = 0; k < n; k++) {
            switch (smtpc_result_state(res, k)) {
            case SMTPC_RCPT_DELIVERED: break;
            case SMTPC_RCPT_REFUSED:
                code = worst(code, by_reply(smtpc_result_rcpt_reply(res, k), EXIT_NOUSER));
                break;
            case SMTPC_RCPT_FAILED:
                code = worst(code, message_refusal_exit(smtpc_result_data_reply(res, k),
                                                        smtpc_message_result_state(r) == SMTPC_MESSAGE_PARTIAL
                                                            ? EXIT_NOUSER
                                                            : EXIT_UNAVAILABLE));
                break;
            default: code = worst(code, EXIT_TEMPFAIL); break;
            }
        }
        if (code == EXIT_ACCEPTED) code = by_reply(reply, EXIT_UNAVAILABLE);
        return code;
    default: /* not sent */
        switch (st) {
        case SMTPC_EINVAL: return EXIT_DATAERR; /* the message (its header fields) cannot be sent */
        case SMTPC_ENOTSUPPORTED: return EXIT_UNAVAILABLE;
        case SMTPC_EIO:
        case SMTPC_EUSER: return EXIT_IOERR;
        case SMTPC_EPROTOCOL:
        case SMTPC_ETLS: return EXIT_PROTOCOL;
        case SMTPC_ENOMEM: return EXIT_SOFTWARE;
        default: return EXIT_TEMPFAIL; /* the connection was lost, closed or interrupted: try again */
        }
    }
}

/* "CODE ENHANCED TEXT" of a reply, appended to m. */
static int append_reply(struct message *m, const smtpc_reply *r) {
    if (!r) return appendf(m, "no reply");
    return appendf(m, "%d %s", reply_code(r), reply_text(r));
}

/* One line on standard error for a message's result. */
static void say_result(const char *name, const smtpc_message_result *r) {
    struct message line = {NULL, 0, 0};
    smtpc_message_state state = smtpc_message_result_state(r);
    const smtpc_result *res = smtpc_message_result_recipients(r);
    smtpc_status st = smtpc_message_result_status(r);
    size_t k, n = res ? smtpc_result_count(res) : 0;
    int bad = appendf(&line, "%s: %s", name, (unsigned)state < 5 ? message_states[state] : "unknown");
    if (state == SMTPC_MESSAGE_DELIVERED || state == SMTPC_MESSAGE_REFUSED) {
        bad |= appendf(&line, ": ") | append_reply(&line, smtpc_message_result_reply(r));
    }
    if (state == SMTPC_MESSAGE_PARTIAL ||
        (state == SMTPC_MESSAGE_REFUSED && st == SMTPC_ERECIPIENTS_REFUSED)) {
        size_t listed = 0; /* the recipients that did not get it, after ": " (partial) or the reply */
        for (k = 0; k < n; k++) {
            smtpc_rcpt_state rs = smtpc_result_state(res, k);
            if (rs == SMTPC_RCPT_DELIVERED) continue;
            bad |= appendf(&line, "%s<%s> ", listed++ || state != SMTPC_MESSAGE_PARTIAL ? "; " : ": ",
                           smtpc_result_recipient(res, k, NULL));
            bad |= rs == SMTPC_RCPT_REFUSED  ? append_reply(&line, smtpc_result_rcpt_reply(res, k))
                   : rs == SMTPC_RCPT_FAILED ? append_reply(&line, smtpc_result_data_reply(res, k))
                                             : appendf(&line, "unknown");
        }
    }
    if (state == SMTPC_MESSAGE_NOT_SENT || state == SMTPC_MESSAGE_UNKNOWN) {
        const char *why = smtpc_message_result_errmsg(r, NULL);
        bad |= appendf(&line, ": %s (%s)%s", why[0] ? why : smtpc_strerror(st), smtpc_status_name(st),
                       state == SMTPC_MESSAGE_UNKNOWN ? "; it may have been delivered" : "");
    }
    if (bad || append(&line, "", 1))
        say("%s: %s (out of memory for the details)", name, message_states[state % 5]);
    else say("%s", line.data);
    free(line.data);
}

/* One JSON object (one line) on standard output for a message's result. */
static void json_result(const char *name, size_t index, const smtpc_message_result *r, int code) {
    static const char *const states[] = {"not attempted", "refused", "accepted",
                                         "delivered",     "failed",  "unknown"};
    smtpc_message_state state = smtpc_message_result_state(r);
    const smtpc_result *res = smtpc_message_result_recipients(r);
    smtpc_status st = smtpc_message_result_status(r);
    const char *why = smtpc_message_result_errmsg(r, NULL);
    size_t k, n = res ? smtpc_result_count(res) : 0;
    FILE *out = stdout;
    fputs("{\"message\": ", out);
    json_text(out, name);
    fprintf(out, ", \"index\": %zu, \"state\": \"%s\", \"status\": \"%s\", \"exit_status\": %d, \"reply\": {",
            index, (unsigned)state < 5 ? message_states[state] : "unknown", smtpc_status_name(st), code);
    json_reply_fields(out, smtpc_message_result_reply(r));
    fputs("}, \"recipients\": [", out);
    for (k = 0; k < n; k++) {
        smtpc_rcpt_state rs = smtpc_result_state(res, k);
        size_t alen = 0;
        const char *a = smtpc_result_recipient(res, k, &alen);
        const smtpc_reply *rr =
            rs == SMTPC_RCPT_REFUSED ? smtpc_result_rcpt_reply(res, k) : smtpc_result_data_reply(res, k);
        fputs(k ? ", {\"address\": " : "{\"address\": ", out);
        json_string(out, a ? a : "", a ? alen : 0);
        fprintf(out, ", \"state\": \"%s\", ",
                (unsigned)rs < sizeof states / sizeof states[0] ? states[rs] : "unknown");
        json_reply_fields(out, rr);
        putc('}', out);
    }
    fputs("], \"error\": ", out);
    if (st != SMTPC_OK) json_text(out, why[0] ? why : smtpc_strerror(st));
    else fputs("null", out);
    fputs("}\n", out);
    fflush(out);
}

/* The messages queued and not yet reported, oldest first (a ring of `cap` slots). */
struct batch_queue {
    struct pending {
        struct message body;
        char name[4096];
        size_t index;
        int stream;             /* the body is read from src as it is sent */
        struct file_source src; /* the open file of a streamed body */
        uint64_t size_hint;
    } * slots;
    size_t cap, head, count;
};

/* Takes the oldest result, reports it, frees its message. Returns its exit status. */
static int batch_take(smtpc_client *client, struct batch_queue *q, const struct options *o,
                      struct batch_counts *counts) {
    smtpc_message_result *r = NULL;
    struct pending *p = &q->slots[q->head];
    smtpc_status st = smtpc_client_next_result(client, &r);
    int code;
    if (st != SMTPC_OK || !r) {
        say("%s: no result (%s)", p->name, smtpc_status_name(st));
        code = EXIT_SOFTWARE;
    } else {
        code = message_exit(r);
        counts->by_state[smtpc_message_result_state(r) % 5]++;
        if (o->json) json_result(p->name, p->index, r, code);
        say_result(p->name, r);
        smtpc_message_result_free(r);
    }
    free(p->body.data);
    memset(&p->body, 0, sizeof p->body);
    if (p->stream) close(p->src.fd);
    p->stream = 0;
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return code;
}

/* A message that never reached the queue: one line (and JSON object) saying why. */
static void report_unqueued(const struct options *o, const char *name, size_t index, const char *why,
                            smtpc_status st, int code, struct batch_counts *counts) {
    counts->by_state[SMTPC_MESSAGE_NOT_SENT]++;
    say("%s: not sent: %s (%s)", name, why, smtpc_status_name(st));
    if (o->json) {
        fputs("{\"message\": ", stdout);
        json_text(stdout, name);
        fprintf(stdout,
                ", \"index\": %zu, \"state\": \"not sent\", \"status\": \"%s\", \"exit_status\": %d, "
                "\"reply\": {\"code\": null, \"enhanced\": null, \"text\": null}, \"recipients\": [], "
                "\"error\": ",
                index, smtpc_status_name(st), code);
        json_text(stdout, why);
        fputs("}\n", stdout);
        fflush(stdout);
    }
}

#define BATCH_WINDOW 32 /* messages queued at most: the library's default window */

/*
 * --each, --mbox, --maildir: every input checked, then one connection (as run() sets it up), each
 * message queued as it is read (smtpc_client_enqueue(): pipelined across messages, a window in flight
 * with CHUNKING), its result reported in order once taken. After a lost connection the messages not
 * queued yet are reported as not sent. Returns the worst exit status of the messages.
 */
static int run_batch(smtpc_client *client, smtpc_envelope *env, const struct options *o, const char *secret,
                     struct session *s, const struct target *t, char **files, int nfiles, char **rcpts,
                     int nrcpt) {
    struct batch_source src;
    struct batch_queue q = {NULL, BATCH_WINDOW + 1, 0, 0};
    struct batch_counts counts;
    smtpc_message *msg = NULL;
    smtpc_status st;
    char name[4096];
    int code, worst_code = EXIT_ACCEPTED, body_set = 0, rc, lost = 0;
    size_t index = 0, k;

    memset(&counts, 0, sizeof counts);
    if ((code = batch_open(&src, o, files, nfiles)) != 0) {
        batch_close(&src);
        return code;
    }
    if (!(q.slots = calloc(q.cap, sizeof *q.slots)) || smtpc_message_new(&msg) != SMTPC_OK) {
        say("out of memory");
        code = EXIT_SOFTWARE;
        goto done;
    }
    if (smtpc_message_set_envelope(msg, env) != SMTPC_OK ||
        smtpc_message_set_envelope_from_headers(msg, o->from_headers) != SMTPC_OK) {
        say("out of memory");
        code = EXIT_SOFTWARE;
        goto done;
    }
    st = smtpc_client_connect(client, t->host, SMTPC_NTS, 0);
    if (st == SMTPC_EINVAL) {
        code = usage_error("--server %s: %s", o->url, smtpc_client_errmsg(client));
        goto done;
    }
    if (st != SMTPC_OK) {
        code = report(client, s->stage, st, t);
        goto done;
    }
    st = smtpc_client_ehlo_or_helo_if_needed(client);
    if (st != SMTPC_OK) {
        code = report(client, st == SMTPC_ETLS_REQUIRED ? "STARTTLS" : s->stage, st, t);
        goto done;
    }
    note_tls(client, &tls_seen);
    if (o->user && (code = authenticate(client, o, secret, t)) != 0) goto done;
    if (!o->from_headers && (code = international(client, env, o->from, rcpts, nrcpt, &body_set)) != 0)
        goto done;
    if (o->eight_bit && !body_set && smtpc_client_has_extn(client, "8BITMIME", SMTPC_NTS) &&
        smtpc_envelope_add_mail_option(env, "BODY=8BITMIME", SMTPC_NTS) != SMTPC_OK) {
        say("out of memory");
        code = EXIT_SOFTWARE;
        goto done;
    }
    if (smtpc_message_set_envelope(msg, env) != SMTPC_OK) { /* with the options added after EHLO */
        say("out of memory");
        code = EXIT_SOFTWARE;
        goto done;
    }
    smtpc_client_set_window(client, BATCH_WINDOW, (uint64_t)1 << 20);
    src.stream_big = !o->from_headers; /* -t reads the header fields: the library needs the bytes */

    for (;;) {
        struct pending *p;
        if (q.count == BATCH_WINDOW) worst_code = worst(worst_code, batch_take(client, &q, o, &counts));
        p = &q.slots[(q.head + q.count) % q.cap];
        rc = batch_next(&src, &p->body, p->name, sizeof p->name, &p->src, &p->size_hint);
        p->stream = rc == 2;
        if (rc == 0) break;
        p->index = ++index;
        counts.n++;
        if (rc < 0) { /* gone or unreadable since it was checked: this message only */
            int err = errno;
            while (q.count > 0) worst_code = worst(worst_code, batch_take(client, &q, o, &counts));
            report_unqueued(o, p->name, p->index, strerror(err), SMTPC_EIO, EXIT_IOERR, &counts);
            worst_code = worst(worst_code, EXIT_IOERR);
            free(p->body.data);
            memset(&p->body, 0, sizeof p->body);
            if (src.mbox) break; /* the rest of the mbox cannot be read either */
            continue;
        }
        if ((p->stream
                 ? smtpc_message_set_body_reader(msg, p->size_hint, read_file, &p->src)
                 : smtpc_message_set_body(msg, p->body.data ? p->body.data : "", p->body.len)) != SMTPC_OK ||
            smtpc_message_set_tag(msg, p->index) != SMTPC_OK) {
            st = SMTPC_ENOMEM;
        } else {
            st = smtpc_client_enqueue(client, msg);
        }
        if (st == SMTPC_OK) {
            q.count++;
            continue;
        }
        /* not queued: the results before it come first, in order */
        while (q.count > 0) worst_code = worst(worst_code, batch_take(client, &q, o, &counts));
        code = st == SMTPC_EINVAL          ? EXIT_DATAERR
               : st == SMTPC_ENOTSUPPORTED ? EXIT_UNAVAILABLE
               : st == SMTPC_ENOMEM        ? EXIT_SOFTWARE
                                           : EXIT_TEMPFAIL;
        report_unqueued(o, p->name, p->index,
                        st == SMTPC_ECANCELLED           ? (signal_got ? "interrupted" : "cancelled")
                        : smtpc_client_errmsg(client)[0] ? smtpc_client_errmsg(client)
                                                         : smtpc_strerror(st),
                        st, code, &counts);
        worst_code = worst(worst_code, code);
        free(p->body.data);
        memset(&p->body, 0, sizeof p->body);
        if (p->stream) close(p->src.fd);
        p->stream = 0;
        if (st != SMTPC_EINVAL && st != SMTPC_ENOTSUPPORTED) {
            lost = 1; /* the connection is gone (or the call was interrupted): the rest is not sent */
            break;
        }
    }
    while (q.count > 0) worst_code = worst(worst_code, batch_take(client, &q, o, &counts));
    if (lost) {
        while ((rc = batch_next(&src, NULL, name, sizeof name, NULL, NULL)) > 0) {
            counts.n++;
            report_unqueued(o, name, ++index,
                            signal_got ? "interrupted before it was sent"
                                       : "the connection was lost before it",
                            signal_got ? SMTPC_ECANCELLED : SMTPC_EDISCONNECTED, EXIT_TEMPFAIL, &counts);
        }
    }
    if (signal_got) worst_code = worst(worst_code, EXIT_TEMPFAIL);
    code = worst_code;
    {
        struct message line = {NULL, 0, 0};
        int bad = appendf(&line, "%zu message%s: ", counts.n, counts.n == 1 ? "" : "s");
        for (k = 0; k < 5; k++)
            bad |= appendf(&line, "%s%zu %s", k ? ", " : "", counts.by_state[k], message_states[k]);
        if (!bad && !append(&line, "", 1)) say("%s", line.data);
        free(line.data);
    }
done:
    for (k = 0; q.slots && k < q.cap; k++) {
        free(q.slots[k].body.data);
        if (q.slots[k].stream) close(q.slots[k].src.fd);
    }
    free(q.slots);
    smtpc_message_free(msg);
    batch_close(&src);
    return code;
}

/* --each, --mbox, --maildir: the files (--each: the arguments before "--") and what may go with
 * them. Returns 0, or an exit status. */
static int batch_arguments(struct options *o, char **argv, int argc, int *first, char ***files, int *nfiles) {
    if ((o->each != 0) + (o->mbox != NULL) + (o->maildir != NULL) > 1)
        return usage_error("--each, --mbox and --maildir cannot be combined");
    if (o->each) {
        *files = argv + *first;
        *nfiles = o->before_dashes;
        *first += o->before_dashes;
        if (*nfiles == 0)
            return usage_error("--each needs at least one FILE (before \"--\" and the recipients)");
    }
    if (o->from_headers && *first < argc)
        return usage_error("-t with --each, --mbox or --maildir takes the recipients from each message only: "
                           "give no RECIPIENT");
    if (o->full_name)
        return usage_error("-F applies to a message on standard input, not to --each, --mbox or --maildir");
    return 0;
}

/* Ends the session politely whatever happened before. A failure here cannot undo an accepted message. */
static void quit(smtpc_client *client, int code) {
    smtpc_status st;
    if (!smtpc_client_is_connected(client)) return;
    st = smtpc_client_quit(client);
    if (st != SMTPC_OK && code == EXIT_ACCEPTED)
        warn("QUIT: %s (%s); the message was accepted", smtpc_client_errmsg(client), smtpc_status_name(st));
}

int main(int argc, char **argv) {
    struct options o;
    struct session s;
    struct target t;
    char host[4096];
    char secret[8192];
    smtpc_protocol protocol = SMTPC_PROTOCOL_SMTP;
    smtpc_client *client = NULL;
    smtpc_envelope *env = NULL, *check = NULL;
    smtpc_tls_config *tls = NULL;
    struct spool msg;
    int implicit_url = 0, first = 0, i, code;
    char **files = NULL; /* --each */
    int nfiles = 0, batch;

    utf8_terminal = locale_is_utf8();
    memset(&msg, 0, sizeof msg);
    msg.fd = -1;
    memset(&o, 0, sizeof o);
    o.url = "smtp://localhost";
    o.timeout_s = 300;
    o.connect_timeout_s = 30;
    o.pipelining = 1;
    o.priority = SMTPC_MT_PRIORITY_UNSET;
    o.progress = -1;
    if ((code = parse_options(argc, argv, &o, &first)) >= 0) return code;
    {
        char buf[4096];
        const char *path = config_path(o.config_file, buf, sizeof buf);
        if (!path && o.account) {
            say("-a %s: there is no configuration file (-C FILE, $XDG_CONFIG_HOME/smtpc/config, "
                "~/.config/smtpc/config or /etc/smtpc.conf)",
                o.account);
            return EXIT_CONFIG;
        }
        if (path &&
            ((code = config_load(&cfg, path, o.account)) != 0 || (code = config_apply(&cfg, &o)) != 0))
            return code;
    }
    batch = o.each || o.mbox || o.maildir;
    if (batch && (code = batch_arguments(&o, argv, argc, &first, &files, &nfiles)) != 0) return code;
    if (first >= argc && !o.from_headers)
        return usage_error("no recipient given (or -t to take them from the message)");
    if (parse_url(o.url, &protocol, host, sizeof host, &implicit_url) != 0)
        return usage_error("--server takes smtp://HOST[:PORT], smtps://HOST[:PORT], lmtp://HOST[:PORT] or "
                           "lmtp:///PATH, not '%s'",
                           o.url);
    if ((code = check_options(&o, implicit_url, host)) != 0) return code;
    if (!o.connect_timeout_given && o.timeout_given) o.connect_timeout_s = o.timeout_s;

    memset(secret, 0, sizeof secret);
    if (o.user) {
        int oauth = is_oauth(o.mech);
        const char *what = oauth ? "OAuth token" : "password";
        const char *command = oauth ? o.token_command : o.password_file ? NULL : o.password_command;
        if (oauth ? o.token_file != NULL : o.password_file != NULL) {
            code = read_first_line(what, oauth ? o.token_file : o.password_file, secret, sizeof secret, 0);
            if (code != 0) return code;
        } else if (command && !o.password_env) {
            if ((code = run_command(cfg.path, command, secret, sizeof secret,
                                    o.timeout_given ? o.timeout_s : 30)) != 0)
                return code;
        } else {
            const char *v = getenv(o.password_env);
            if (!v || !*v) {
                say("the environment variable %s (--password-env) is not set or empty", o.password_env);
                return EXIT_CONFIG;
            }
            if (strlen(v) >= sizeof secret) {
                say("the password in %s is longer than %zu bytes", o.password_env, sizeof secret - 1);
                return EXIT_CONFIG;
            }
            strcpy(secret, v);
        }
    }

    memset(&s, 0, sizeof s);
    s.print_trace = o.trace;
    s.stage = "connect";
    t.host = host;
    t.unix_socket = host[0] == '/';
    t.tls = o.tls;
    t.tls_server_name = o.tls_server_name;
    t.implicit = implicit_url || (o.tls && strcmp(o.tls, "implicit") == 0);

    code = EXIT_SOFTWARE;
    if (smtpc_envelope_new(&env) != SMTPC_OK || smtpc_client_new(&client, protocol) != SMTPC_OK) {
        say("out of memory");
        goto out;
    }
    /* without -f: the null sender <>, or with -t the sender of the message's fields */
    if ((o.from || !o.from_headers) &&
        smtpc_envelope_set_sender(env, o.from ? o.from : "", SMTPC_NTS) != SMTPC_OK) {
        code = usage_error("invalid sender address '%s'", o.from);
        goto out;
    }
    /* with -t, the recipients given go into a Bcc field: checked here on an envelope of their own, so
     * that no line end or bracket can reach the header */
    if (o.from_headers && smtpc_envelope_new(&check) != SMTPC_OK) {
        say("out of memory");
        goto out;
    }
    for (i = first; i < argc; i++) {
        /* DSN (any of its options): each recipient's address is its original recipient (ORCPT) */
        smtpc_status added =
            (o.dsn_notify || o.dsn_ret || o.dsn_envid) && !o.from_headers
                ? smtpc_envelope_add_recipient_dsn(env, argv[i], SMTPC_NTS, o.dsn_notify, argv[i], SMTPC_NTS)
                : smtpc_envelope_add_recipient(o.from_headers ? check : env, argv[i], SMTPC_NTS);
        if (added != SMTPC_OK || (o.from_headers && !fits_field(argv[i]))) {
            code = usage_error("invalid recipient address '%s'", argv[i]);
            goto out;
        }
    }
    if ((code = set_extensions(env, &o)) != 0) goto out;
    if (o.full_name && strpbrk(o.full_name, "\r\n")) {
        code = usage_error("-F takes a name on one line");
        goto out;
    }
    catch_signals(client);
    if (!batch && (code = spool_message(&o, argv + first, argc - first, &msg)) != 0) goto out;
    if (o.helo && smtpc_client_set_local_hostname(client, o.helo, SMTPC_NTS) != SMTPC_OK) {
        code = usage_error("invalid --helo name '%s' (one word of at most 255 characters)", o.helo);
        goto out;
    }
    if ((code = setup_tls(client, &o, implicit_url, &tls)) != 0) goto out;
    smtpc_client_set_connect_timeout(client, (uint32_t)(o.connect_timeout_s * 1000));
    smtpc_client_set_command_timeout(client, (uint32_t)(o.timeout_s * 1000));
    smtpc_client_set_pipelining(client, o.pipelining);
    /* Always traced: the trace tells which stage an error interrupted; printed only with --trace. */
    smtpc_client_set_trace(client, 1, on_trace, &s);

    if (batch) {
        code = run_batch(client, env, &o, secret, &s, &t, files, nfiles, argv + first, argc - first);
    } else {
        code = run(client, env, &o, secret, &s, &t, argv + first, argc - first, &msg);
        if (o.json) print_json(client, o.url, &tls_seen, o.from ? o.from : s.sender, code);
    }
    wipe(secret, sizeof secret);
    quit(client, code);

out:
    wipe(secret, sizeof secret);
    smtpc_tls_config_free(tls);
    smtpc_client_free(client);
    smtpc_envelope_free(env);
    smtpc_envelope_free(check);
    spool_free(&msg);
    free(cfg.text);
    free(cfg.scratch);
    return code;
}
