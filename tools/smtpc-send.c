/*
 * smtpc-send: send the RFC 5322 message read on standard input to the recipients named on the command
 * line, through an SMTP or LMTP server. The message is streamed: it is never held whole in memory.
 *
 * Exit status: 0 every recipient accepted the message; 1 some or all recipients (or the message) were
 * refused, each printed on stderr with the server's reply; 2 usage error; 3 connection or protocol
 * failure; 4 the connection was lost after the message was sent (delivery unknown).
 */
#include <smtpc.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
    fprintf(out,
            "usage: smtpc-send [--server URL] [-f FROM] [--helo NAME] [--timeout SECONDS] [--trace]\n"
            "                  [--no-pipelining] RECIPIENT...\n"
            "Reads a message on standard input and sends it to each RECIPIENT.\n"
            "  --server URL   smtp://host[:port] (default smtp://localhost), lmtp://host[:port],\n"
            "                 or lmtp:///absolute/path/to/socket\n"
            "  -f FROM        envelope sender (default: the null sender <>)\n"
            "  --helo NAME    name sent with EHLO/LHLO (default: this host's name)\n"
            "  --timeout S    per-command timeout in seconds (default 300)\n"
            "  --trace        print the protocol exchange on stderr\n"
            "  --no-pipelining  send one command at a time even when the server offers PIPELINING\n"
            "  --version      print the library version\n"
            "Exit status: 0 all recipients accepted; 1 refusals; 2 usage; 3 connection or protocol error;\n"
            "4 connection lost after the message was sent (delivery unknown).\n");
}

static void trace(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us, void *userdata) {
    const char *prefix = kind == SMTPC_TRACE_SEND ? "> " : kind == SMTPC_TRACE_RECV ? "< " : "* ";
    (void)time_us;
    (void)userdata;
    if (kind == SMTPC_TRACE_DATA) {
        fprintf(stderr, "> [%zu bytes of message data]\n", len);
        return;
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r')) len--;
    fprintf(stderr, "%s%.*s\n", prefix, (int)len, data);
}

static int read_stdin(char *buf, size_t cap, size_t *len, void *userdata) {
    FILE *in = (FILE *)userdata;
    *len = fread(buf, 1, cap, in);
    return (*len == 0 && ferror(in)) ? 1 : 0;
}

/* Splits URL into protocol and the host string smtpc_client_connect() takes. */
static int parse_url(const char *url, smtpc_protocol *protocol, const char **host) {
    if (strncmp(url, "smtp://", 7) == 0) {
        *protocol = SMTPC_PROTOCOL_SMTP;
        *host = url + 7;
    } else if (strncmp(url, "lmtp://", 7) == 0) {
        *protocol = SMTPC_PROTOCOL_LMTP;
        *host = url + 7;
    } else {
        return -1;
    }
    if (**host == '\0') return -1;
    if (*protocol == SMTPC_PROTOCOL_SMTP && **host == '/') return -1; /* sockets only for LMTP URLs */
    return 0;
}

static int fail(smtpc_client *client, const char *what, smtpc_status st) {
    fprintf(stderr, "smtpc-send: %s: %s (%s)\n", what, smtpc_client_errmsg(client), smtpc_status_name(st));
    return st == SMTPC_EDELIVERY_UNKNOWN ? 4 : 3;
}

static void print_reply(const char *label, const smtpc_reply *r) {
    fprintf(stderr, "smtpc-send: %s: %d %s\n", label, smtpc_reply_code(r), smtpc_reply_text(r, NULL));
}

int main(int argc, char **argv) {
    const char *url = "smtp://localhost", *from = "", *helo = NULL, *host = NULL;
    unsigned long timeout_s = 300;
    int tracing = 0, pipelining = 1, i, first_rcpt = 0, exit_code = 0;
    smtpc_protocol protocol = SMTPC_PROTOCOL_SMTP;
    smtpc_client *client = NULL;
    smtpc_envelope *env = NULL;
    smtpc_status st;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--server") == 0 && i + 1 < argc) url = argv[++i];
        else if (strcmp(a, "-f") == 0 && i + 1 < argc) from = argv[++i];
        else if (strcmp(a, "--helo") == 0 && i + 1 < argc) helo = argv[++i];
        else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            timeout_s = strtoul(argv[++i], &end, 10);
            if (errno || *end || timeout_s > 4000000) {
                fprintf(stderr, "smtpc-send: invalid --timeout\n");
                return 2;
            }
        } else if (strcmp(a, "--trace") == 0) tracing = 1;
        else if (strcmp(a, "--no-pipelining") == 0) pipelining = 0;
        else if (strcmp(a, "--version") == 0) {
            printf("smtpc-send %s\n", smtpc_version());
            return 0;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--") == 0) {
            first_rcpt = i + 1;
            break;
        } else if (a[0] == '-') {
            fprintf(stderr, "smtpc-send: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 2;
        } else {
            first_rcpt = i;
            break;
        }
    }
    if (first_rcpt == 0 || first_rcpt >= argc) {
        fprintf(stderr, "smtpc-send: no recipients\n");
        usage(stderr);
        return 2;
    }
    if (parse_url(url, &protocol, &host) != 0) {
        fprintf(stderr, "smtpc-send: unsupported server URL %s\n", url);
        return 2;
    }

    if (smtpc_envelope_new(&env) != SMTPC_OK || smtpc_client_new(&client, protocol) != SMTPC_OK) {
        fprintf(stderr, "smtpc-send: out of memory\n");
        smtpc_envelope_free(env);
        return 3;
    }
    if (smtpc_envelope_set_sender(env, from, SMTPC_NTS) != SMTPC_OK) {
        fprintf(stderr, "smtpc-send: invalid sender address\n");
        exit_code = 2;
        goto out;
    }
    for (i = first_rcpt; i < argc; i++) {
        if (smtpc_envelope_add_recipient(env, argv[i], SMTPC_NTS) != SMTPC_OK) {
            fprintf(stderr, "smtpc-send: invalid recipient address: %s\n", argv[i]);
            exit_code = 2;
            goto out;
        }
    }
    if (helo && smtpc_client_set_local_hostname(client, helo, SMTPC_NTS) != SMTPC_OK) {
        fprintf(stderr, "smtpc-send: invalid --helo name\n");
        exit_code = 2;
        goto out;
    }
    smtpc_client_set_command_timeout(client, (uint32_t)(timeout_s * 1000));
    smtpc_client_set_pipelining(client, pipelining);
    if (tracing) smtpc_client_set_trace(client, 1, trace, NULL);

    st = smtpc_client_connect(client, host, SMTPC_NTS, 0);
    if (st != SMTPC_OK) {
        exit_code = fail(client, "connect", st);
        goto out;
    }
    st = smtpc_client_sendmail_stream(client, env, read_stdin, stdin, 0);
    {
        const smtpc_result *res = smtpc_client_last_result(client);
        size_t n = smtpc_result_count(res), k;
        for (k = 0; k < n; k++) {
            smtpc_rcpt_state s = smtpc_result_state(res, k);
            const char *rcpt = smtpc_result_recipient(res, k, NULL);
            char label[600];
            if (s == SMTPC_RCPT_DELIVERED) continue;
            if (s == SMTPC_RCPT_REFUSED) {
                snprintf(label, sizeof label, "recipient %s refused", rcpt);
                print_reply(label, smtpc_result_rcpt_reply(res, k));
            } else if (s == SMTPC_RCPT_FAILED) {
                snprintf(label, sizeof label, "message refused for %s", rcpt);
                print_reply(label, smtpc_result_data_reply(res, k));
            } else if (s == SMTPC_RCPT_UNKNOWN) {
                fprintf(stderr, "smtpc-send: delivery to %s unknown\n", rcpt);
            } else {
                fprintf(stderr, "smtpc-send: %s not delivered\n", rcpt);
            }
            if (exit_code == 0) exit_code = 1;
        }
    }
    if (st == SMTPC_ESENDER_REFUSED || st == SMTPC_ERECIPIENTS_REFUSED || st == SMTPC_EDATA_REFUSED) {
        fprintf(stderr, "smtpc-send: %s\n", smtpc_client_errmsg(client));
        exit_code = 1;
    } else if (st != SMTPC_OK) {
        exit_code = fail(client, "send", st);
    }
    if (smtpc_client_is_connected(client)) smtpc_client_quit(client);

out:
    smtpc_client_free(client);
    smtpc_envelope_free(env);
    return exit_code;
}
