/* SPDX-License-Identifier: MIT */
/*
 * send_simple — send one message with smtpc and print what became of each recipient.
 *
 *   send_simple                                    print the library version and exit
 *   send_simple [-m FILE] HOST[:PORT] FROM RCPT... send FILE (or a built-in message) from FROM
 *
 * HOST may be a name, an IPv4 address, an IPv6 address ("[::1]:2525") or, starting with '/', a
 * Unix-domain socket. Without ":PORT" the SMTP default (25) is used.
 *
 * Exit status: 0 when every recipient got the message, 1 when the server refused some or all of
 * them or the session failed, 2 for a usage error.
 *
 * Build against an installed smtpc:  cc send_simple.c $(pkg-config --cflags --libs smtpc)
 * This program uses only the public header, smtpc.h.
 */
#include <smtpc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The message sent when no -m FILE is given: headers, a blank line, the body. Bare "\n" line ends
 * are fine: the library turns every line end into CRLF and dot-stuffs the body on the wire. */
static const char default_message[] = "Subject: Hello from smtpc\n"
                                      "Content-Type: text/plain; charset=us-ascii\n"
                                      "\n"
                                      "This message was sent by the send_simple example of smtpc.\n";

/* Read a whole file into a malloc'ed buffer; returns NULL (after printing why) on failure. */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    size_t cap = 8192, used = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        used += fread(buf + used, 1, cap - used, f);
        if (used < cap) { /* short read: end of file or an error */
            break;
        }
        char *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (buf == NULL || ferror(f)) {
        fprintf(stderr, "%s: could not read the file\n", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = used;
    return buf;
}

static const char *state_name(smtpc_rcpt_state state) {
    switch (state) {
    case SMTPC_RCPT_NOT_ATTEMPTED: return "not attempted";
    case SMTPC_RCPT_REFUSED: return "refused";
    case SMTPC_RCPT_ACCEPTED: return "accepted";
    case SMTPC_RCPT_DELIVERED: return "delivered";
    case SMTPC_RCPT_FAILED: return "failed";
    case SMTPC_RCPT_UNKNOWN: return "unknown (connection lost)";
    }
    return "?";
}

/* Print one line per recipient: its state and the reply that decided it. */
static void print_result(const smtpc_result *res) {
    for (size_t i = 0; i < smtpc_result_count(res); i++) {
        smtpc_rcpt_state state = smtpc_result_state(res, i);
        /* The reply after the message when there is one, else the reply to RCPT TO. */
        const smtpc_reply *reply = smtpc_result_data_reply(res, i);
        if (reply == NULL) {
            reply = smtpc_result_rcpt_reply(res, i);
        }
        printf("%s: %s", smtpc_result_recipient(res, i, NULL), state_name(state));
        if (reply != NULL) {
            printf(" (%d %s)", smtpc_reply_code(reply), smtpc_reply_text(reply, NULL));
        }
        printf("\n");
    }
}

static void usage(FILE *out) {
    fprintf(out, "usage: send_simple [-m FILE] HOST[:PORT] FROM RCPT...\n"
                 "       send_simple            (prints the library version)\n");
}

int main(int argc, char **argv) {
    /* Without arguments (or with --version): show which library was loaded at run time. */
    if (argc == 1 || (argc == 2 && strcmp(argv[1], "--version") == 0)) {
        printf("smtpc %s (built against headers %s)\n", smtpc_version(), SMTPC_VERSION_STRING);
        /* The ABI is stable within a major version: refuse a library with another major. */
        return smtpc_version_number() / 10000 == SMTPC_VERSION_MAJOR ? 0 : 1;
    }
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }

    int arg = 1;
    const char *message_file = NULL;
    if (strcmp(argv[arg], "-m") == 0) {
        if (argc < 3) {
            usage(stderr);
            return 2;
        }
        message_file = argv[arg + 1];
        arg += 2;
    }
    if (argc - arg < 3) {
        usage(stderr);
        return 2;
    }
    const char *server = argv[arg];
    const char *sender = argv[arg + 1];

    /* The message: the file's bytes as they are, or the built-in text. */
    char *file_data = NULL;
    const char *msg = default_message;
    size_t msg_len = sizeof default_message - 1;
    if (message_file != NULL) {
        file_data = read_file(message_file, &msg_len);
        if (file_data == NULL) {
            return 1;
        }
        msg = file_data;
    }

    int exit_code = 1;
    smtpc_client *client = NULL;
    smtpc_envelope *env = NULL;
    smtpc_status st;

    /* 1. The envelope: a sender and the recipients. Addresses are checked here, before any
     *    connection is made; a bad one gives SMTPC_EINVAL. */
    if ((st = smtpc_envelope_new(&env)) != SMTPC_OK ||
        (st = smtpc_envelope_set_sender(env, sender, SMTPC_NTS)) != SMTPC_OK) {
        fprintf(stderr, "sender %s: %s\n", sender, smtpc_strerror(st));
        goto out;
    }
    for (int i = arg + 2; i < argc; i++) {
        if ((st = smtpc_envelope_add_recipient(env, argv[i], SMTPC_NTS)) != SMTPC_OK) {
            fprintf(stderr, "recipient %s: %s\n", argv[i], smtpc_strerror(st));
            goto out;
        }
    }

    /* 2. A client, with timeouts in milliseconds (the defaults are 30 s and 300 s). */
    if ((st = smtpc_client_new(&client, SMTPC_PROTOCOL_SMTP)) != SMTPC_OK) {
        fprintf(stderr, "smtpc_client_new: %s\n", smtpc_strerror(st));
        goto out;
    }
    smtpc_client_set_connect_timeout(client, 10000);
    smtpc_client_set_command_timeout(client, 60000);

    /* 3. Connect: port 0 means "the :PORT suffix of the host, else 25". The detail of any failure
     *    is in smtpc_client_errmsg(). */
    if ((st = smtpc_client_connect(client, server, SMTPC_NTS, 0)) != SMTPC_OK) {
        fprintf(stderr, "connect: %s: %s\n", smtpc_status_name(st), smtpc_client_errmsg(client));
        goto out;
    }
    const smtpc_reply *greeting = smtpc_client_last_reply(client);
    printf("connected: %d %s\n", smtpc_reply_code(greeting), smtpc_reply_text(greeting, NULL));

    /* 4. Send: EHLO (or HELO), MAIL FROM, RCPT TO for each recipient, DATA and the message. */
    st = smtpc_client_sendmail(client, env, msg, msg_len);
    print_result(smtpc_client_last_result(client));
    if (st != SMTPC_OK) {
        fprintf(stderr, "sendmail: %s: %s\n", smtpc_status_name(st), smtpc_client_errmsg(client));
    } else if (smtpc_result_delivered_count(smtpc_client_last_result(client)) ==
               smtpc_envelope_recipient_count(env)) {
        exit_code = 0;
    }

    /* 5. Say goodbye. QUIT failing does not change what happened to the message. */
    if (smtpc_client_is_connected(client)) {
        smtpc_client_quit(client);
    }

out:
    /* Every *_free() accepts NULL. */
    smtpc_client_free(client);
    smtpc_envelope_free(env);
    free(file_data);
    return exit_code;
}
