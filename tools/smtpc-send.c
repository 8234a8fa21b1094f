/*
 * smtpc-send: send the RFC 5322 message read on standard input to the recipients named on the command
 * line, through an SMTP or LMTP server. The message is streamed: it is never held whole in memory.
 *
 * Exit status: 0 every recipient accepted the message; 1 some or all recipients (or the message) were
 * refused, each printed on stderr with the server's reply, or authentication was refused; 2 usage
 * error; 3 connection, TLS or protocol failure; 4 the connection was lost after the message was sent (delivery unknown).
 */
#include <smtpc.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
    fprintf(out,
            "usage: smtpc-send [--server URL] [-f FROM] [--helo NAME] [--timeout SECONDS] [--trace]\n"
            "                  [--no-pipelining] [TLS options] RECIPIENT...\n"
            "Reads a message on standard input and sends it to each RECIPIENT.\n"
            "  --server URL   smtp://host[:port] (default smtp://localhost), smtps://host[:port] (implicit\n"
            "                 TLS, default port 465), lmtp://host[:port], or lmtp:///absolute/path/to/socket\n"
            "  --starttls=required|opportunistic|off\n"
            "                 default: required, except opportunistic to a server on this machine\n"
            "  --cafile FILE  trust the CA certificates in FILE (PEM) instead of the system store\n"
            "  --capath DIR   trust the CA certificates in DIR (hashed names) instead of the system store\n"
            "  --cert FILE    client certificate (PEM); --key FILE its key if not in the same file;\n"
            "                 --key-password-file FILE the key's pass phrase\n"
            "  --tls-min 1.2|1.3  lowest TLS version accepted (default 1.2)\n"
            "  --user NAME    authenticate as NAME, with the password from --password-file FILE\n"
            "                 (first line) or from the environment variable named by --password-env VAR\n"
            "                 (never from the command line); the strongest offered mechanism is used\n"
            "  --auth MECH    use this mechanism: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256,\n"
            "                 XOAUTH2 or OAUTHBEARER (the last two with --oauth-token-file FILE)\n"
            "  -f FROM        envelope sender (default: the null sender <>)\n"
            "  --helo NAME    name sent with EHLO/LHLO (default: this host's name)\n"
            "  --timeout S    per-command timeout in seconds (default 300)\n"
            "  --trace        print the protocol exchange on stderr\n"
            "  --no-pipelining  send one command at a time even when the server offers PIPELINING\n"
            "  --version      print the library version\n"
            "Exit status: 0 all recipients accepted; 1 refusals or authentication refused; 2 usage;\n"
            "3 connection, TLS or protocol error; 4 connection lost after the message was sent\n"
            "(delivery unknown).\n");
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
static int parse_url(const char *url, smtpc_protocol *protocol, const char **host, int *implicit_tls) {
    *implicit_tls = 0;
    if (strncmp(url, "smtp://", 7) == 0) {
        *protocol = SMTPC_PROTOCOL_SMTP;
        *host = url + 7;
    } else if (strncmp(url, "smtps://", 8) == 0) {
        *protocol = SMTPC_PROTOCOL_SMTP;
        *host = url + 8;
        *implicit_tls = 1;
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

/* Reads the first line of a file (a pass phrase) into buf. */
static int read_secret(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    size_t n;
    if (!f) return -1;
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static int tls_fail(smtpc_tls_config *cfg, const char *what) {
    fprintf(stderr, "smtpc-send: %s: %s\n", what, smtpc_tls_config_errmsg(cfg));
    return 2;
}

static int fail(smtpc_client *client, const char *what, smtpc_status st) {
    fprintf(stderr, "smtpc-send: %s: %s (%s)\n", what, smtpc_client_errmsg(client), smtpc_status_name(st));
    return st == SMTPC_EDELIVERY_UNKNOWN ? 4 : 3;
}

/* Logs in as the options say. The secret is read from a file or the environment, never argv, and
 * wiped after use. Returns 0, or an exit status. */
static int authenticate(smtpc_client *client, const char *user, const char *password_file, const char *password_env,
                        const char *mech, const char *token_file) {
    char secret[8192] = "";
    smtpc_status st;
    int oauth = mech && (strcmp(mech, "XOAUTH2") == 0 || strcmp(mech, "OAUTHBEARER") == 0);
    if (!user) {
        fprintf(stderr, "smtpc-send: --auth and --oauth-token-file need --user\n");
        return 2;
    }
    if (oauth != (token_file != NULL)) {
        fprintf(stderr, "smtpc-send: --oauth-token-file goes with --auth XOAUTH2 or OAUTHBEARER\n");
        return 2;
    }
    if (oauth) {
        if (read_secret(token_file, secret, sizeof secret) != 0) {
            fprintf(stderr, "smtpc-send: cannot read %s\n", token_file);
            return 2;
        }
    } else if (password_file) {
        if (read_secret(password_file, secret, sizeof secret) != 0) {
            fprintf(stderr, "smtpc-send: cannot read %s\n", password_file);
            return 2;
        }
    } else if (password_env && getenv(password_env)) {
        const char *v = getenv(password_env);
        if (strlen(v) >= sizeof secret) {
            fprintf(stderr, "smtpc-send: the password in %s is too long\n", password_env);
            return 2;
        }
        strcpy(secret, v);
    } else {
        fprintf(stderr, "smtpc-send: --user needs --password-file FILE or --password-env VAR\n");
        return 2;
    }
    if (oauth)
        st = smtpc_client_auth_oauth2(client, mech, SMTPC_NTS, user, SMTPC_NTS, secret, SMTPC_NTS, NULL, NULL);
    else if (mech)
        st = smtpc_client_auth_password(client, mech, SMTPC_NTS, user, SMTPC_NTS, secret, SMTPC_NTS, 1);
    else
        st = smtpc_client_login(client, user, SMTPC_NTS, secret, SMTPC_NTS);
    memset(secret, 0, sizeof secret);
    if (st != SMTPC_OK) {
        fprintf(stderr, "smtpc-send: authentication: %s (%s)\n", smtpc_client_errmsg(client), smtpc_status_name(st));
        return (st == SMTPC_EAUTH || st == SMTPC_EAUTH_MECHANISM || st == SMTPC_EAUTH_INSECURE) ? 1 : 3;
    }
    return 0;
}

static void print_reply(const char *label, const smtpc_reply *r) {
    fprintf(stderr, "smtpc-send: %s: %d %s\n", label, smtpc_reply_code(r), smtpc_reply_text(r, NULL));
}

int main(int argc, char **argv) {
    const char *url = "smtp://localhost", *from = "", *helo = NULL, *host = NULL;
    const char *cafile = NULL, *capath = NULL, *cert = NULL, *key = NULL, *key_pw_file = NULL, *tls_min = NULL;
    const char *starttls = NULL;
    const char *user = NULL, *password_file = NULL, *password_env = NULL, *mech = NULL, *token_file = NULL;
    int implicit_tls = 0;
    smtpc_tls_config *tls = NULL;
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
        } else if (strncmp(a, "--starttls=", 11) == 0) starttls = a + 11;
        else if (strcmp(a, "--cafile") == 0 && i + 1 < argc) cafile = argv[++i];
        else if (strcmp(a, "--capath") == 0 && i + 1 < argc) capath = argv[++i];
        else if (strcmp(a, "--cert") == 0 && i + 1 < argc) cert = argv[++i];
        else if (strcmp(a, "--key") == 0 && i + 1 < argc) key = argv[++i];
        else if (strcmp(a, "--key-password-file") == 0 && i + 1 < argc) key_pw_file = argv[++i];
        else if (strcmp(a, "--tls-min") == 0 && i + 1 < argc) tls_min = argv[++i];
        else if (strcmp(a, "--user") == 0 && i + 1 < argc) user = argv[++i];
        else if (strcmp(a, "--password-file") == 0 && i + 1 < argc) password_file = argv[++i];
        else if (strcmp(a, "--password-env") == 0 && i + 1 < argc) password_env = argv[++i];
        else if (strcmp(a, "--auth") == 0 && i + 1 < argc) mech = argv[++i];
        else if (strcmp(a, "--oauth-token-file") == 0 && i + 1 < argc) token_file = argv[++i];
        else if (strcmp(a, "--trace") == 0) tracing = 1;
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
    if (parse_url(url, &protocol, &host, &implicit_tls) != 0) {
        fprintf(stderr, "smtpc-send: unsupported server URL %s\n", url);
        return 2;
    }

    if (smtpc_envelope_new(&env) != SMTPC_OK || smtpc_client_new(&client, protocol) != SMTPC_OK) {
        fprintf(stderr, "smtpc-send: out of memory\n");
        smtpc_envelope_free(env);
        return 3;
    }
    if (starttls) {
        smtpc_tls_policy policy;
        if (strcmp(starttls, "required") == 0) policy = SMTPC_TLS_REQUIRED;
        else if (strcmp(starttls, "opportunistic") == 0) policy = SMTPC_TLS_OPPORTUNISTIC;
        else if (strcmp(starttls, "off") == 0) policy = SMTPC_TLS_NONE;
        else {
            fprintf(stderr, "smtpc-send: --starttls takes required, opportunistic or off\n");
            exit_code = 2;
            goto out;
        }
        if (implicit_tls) {
            fprintf(stderr, "smtpc-send: --starttls does not apply to smtps:// (TLS from the start)\n");
            exit_code = 2;
            goto out;
        }
        smtpc_client_set_tls_policy(client, policy);
    }
    if (implicit_tls) smtpc_client_set_tls_policy(client, SMTPC_TLS_IMPLICIT);
    if (cafile || capath || cert || tls_min) {
        if (smtpc_tls_config_new(&tls) != SMTPC_OK) {
            fprintf(stderr, "smtpc-send: cannot set up TLS\n");
            exit_code = 3;
            goto out;
        }
        if (cafile && smtpc_tls_config_set_ca_file(tls, cafile, SMTPC_NTS) != SMTPC_OK) {
            exit_code = tls_fail(tls, "--cafile");
            goto out;
        }
        if (capath && smtpc_tls_config_set_ca_path(tls, capath, SMTPC_NTS) != SMTPC_OK) {
            exit_code = tls_fail(tls, "--capath");
            goto out;
        }
        if (cert) {
            char pw[1024] = "";
            smtpc_status cst;
            if (key_pw_file && read_secret(key_pw_file, pw, sizeof pw) != 0) {
                fprintf(stderr, "smtpc-send: cannot read %s\n", key_pw_file);
                exit_code = 2;
                goto out;
            }
            cst = smtpc_tls_config_set_client_cert(tls, cert, SMTPC_NTS, key, SMTPC_NTS, key_pw_file ? pw : NULL,
                                                   SMTPC_NTS);
            memset(pw, 0, sizeof pw);
            if (cst != SMTPC_OK) {
                exit_code = tls_fail(tls, "--cert");
                goto out;
            }
        }
        if (tls_min) {
            smtpc_tls_version v = strcmp(tls_min, "1.3") == 0 ? SMTPC_TLS_VERSION_1_3 : SMTPC_TLS_VERSION_1_2;
            if (strcmp(tls_min, "1.2") != 0 && strcmp(tls_min, "1.3") != 0) {
                fprintf(stderr, "smtpc-send: --tls-min takes 1.2 or 1.3\n");
                exit_code = 2;
                goto out;
            }
            smtpc_tls_config_set_min_version(tls, v);
        }
        smtpc_client_set_tls_config(client, tls);
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
    if (user || mech || token_file) {
        exit_code = authenticate(client, user, password_file, password_env, mech, token_file);
        if (exit_code != 0) goto out;
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
    smtpc_tls_config_free(tls);
    smtpc_client_free(client);
    smtpc_envelope_free(env);
    return exit_code;
}
