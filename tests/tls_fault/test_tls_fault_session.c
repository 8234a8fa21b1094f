/* SPDX-License-Identifier: MIT */
/*
 * Scripted TLS fault tests, part 2: the session after STARTTLS and over implicit TLS (catalogue A.8,
 * F.52-F.54, F.59): features relearnt after TLS, garbage instead of a handshake, fatal alerts and
 * close_notify around DATA, truncation without close_notify, stalled handshakes, TLS 1.3 session
 * tickets.
 */
#include "tls_fault_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAST_MS 2500

#define W_HELLO_TLS W_EHLO W_STARTTLS

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void assert_rcpt_state(const fault_fixture *f, size_t i, smtpc_rcpt_state want) {
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_non_null(res);
    smtpc_rcpt_state got = smtpc_result_state(res, i);
    if (got != want) {
        fail_msg("recipient %zu: state %d, expected %d", i, (int)got, (int)want);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Features after TLS (A.8)                                                                       */
/* ---------------------------------------------------------------------------------------------- */

/* Before TLS: PIPELINING, SIZE 1000, STARTTLS, AUTH. After: SIZE 5000 and 8BITMIME only. The client
 * must use only the second list: lock-step commands (the server checks that nothing arrives before
 * each reply), SIZE declared, no AUTH offered any more. */
static void test_features_after_tls_lockstep(void **state) {
    fault_fixture *f = *state;
    sc_hello_starttls(f, RPL_EHLO_TLS);
    sc_expect(f, "EHLO ");
    sc_send(f, "250-fault.test\r\n250-SIZE 5000\r\n250 8BITMIME\r\n");
    sc_expect(f, "MAIL ");
    sc_expect_quiet(f, 0.1);
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_expect_quiet(f, 0.1);
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_expect_quiet(f, 0.1);
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_expect_quiet(f, 0.1);
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, "250 2.0.0 queued\r\n");
    sc_expect_eof_notify(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    fault_envelope(f, "r1@example.org", "r2@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(f->client), 1);
    assert_int_equal(smtpc_client_has_extn(f->client, "pipelining", SMTPC_NTS), 0);
    assert_int_equal(smtpc_client_has_extn(f->client, "starttls", SMTPC_NTS), 0);
    assert_int_equal(smtpc_client_has_extn(f->client, "auth", SMTPC_NTS), 0);
    assert_string_equal(smtpc_client_extn_params(f->client, "size", SMTPC_NTS, NULL), "5000");
    /* AUTH was offered before TLS only: not attempted, nothing sent. */
    ASSERT_STATUS(f, smtpc_client_login(f->client, "user", SMTPC_NTS, "secret", SMTPC_NTS),
                  SMTPC_ENOTSUPPORTED);
    smtpc_client_close(f->client);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS W_TLS W_EHLO "MAIL FROM:<s@example.org> SIZE=21\r\n" W_RCPT(
                                   "r1@example.org") W_RCPT("r2@example.org") W_DATA TF_MSG_WIRE);
}

/* The reverse: SIZE before TLS only, PIPELINING after TLS only. No SIZE parameter, pipelined batch. */
static void test_features_after_tls_pipelined_no_size(void **state) {
    fault_fixture *f = *state;
    sc_hello_starttls(f, "250-fault.test\r\n250-SIZE 1000\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
    sc_expect(f, "EHLO ");
    sc_send(f, "250-fault.test\r\n250 PIPELINING\r\n");
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_send(f, "250 2.0.0 queued\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_has_extn(f->client, "size", SMTPC_NTS), 0);
    smtpc_client_close(f->client);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS W_TLS W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org")
                                   W_DATA TF_MSG_WIRE);
}

/* ---------------------------------------------------------------------------------------------- */
/* Garbage instead of a handshake (F.54)                                                          */
/* ---------------------------------------------------------------------------------------------- */

/* After the 220 the server answers the ClientHello in plaintext: SMTPC_ETLS at once (no wait for the
 * timeout), connection closed, no fallback: after STARTTLS the server got only TLS records. */
static void test_garbage_after_220(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send(f, RPL_220_GO);
    sc_tls_garbage(f, "250-fault.test still plaintext\r\n250 AUTH PLAIN\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_OPPORTUNISTIC, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_ETLS);
    tf_assert_elapsed(f, 0, FAST_MS);
    tf_assert_errmsg_has(f, "TLS handshake failed");
    tf_assert_connected(f, 0);
    assert_int_equal(smtpc_client_tls_active(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    TF_ASSERT_THEN_RECORDS(f, W_HELLO_TLS);
}

/* The same against a slow talker: the garbage comes one byte every 50 ms. Still SMTPC_ETLS, well
 * within the command timeout. */
static void test_garbage_after_220_trickled(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send(f, RPL_220_GO);
    sc_read_any(f);
    sc_send_slowly(f, "250 ok\r\n", 0.05);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 3000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_ETLS);
    tf_assert_elapsed(f, 0, FAST_MS);
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    TF_ASSERT_THEN_RECORDS(f, W_HELLO_TLS);
}

/* Implicit TLS to a server that talks plaintext SMTP: connect fails with SMTPC_ETLS. */
static void test_implicit_plaintext_server(void **state) {
    fault_fixture *f = *state;
    sc_tls_garbage(f, RPL_GREETING);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_IMPLICIT, 5000, 5000);
    fault_clock_start(f);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_ETLS);
    tf_assert_elapsed(f, 0, FAST_MS);
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    TF_ASSERT_THEN_RECORDS(f, "");
}

/* ---------------------------------------------------------------------------------------------- */
/* Alerts, close_notify and truncation (F.52, F.53)                                               */
/* ---------------------------------------------------------------------------------------------- */

/* Lock-step session over TLS up to 354 (no PIPELINING after TLS). */
static void script_to_354(fault_fixture *f) {
    sc_hello_starttls(f, RPL_EHLO_TLS);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
}

#define W_TO_DATA W_HELLO_TLS W_TLS W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA

/* The whole message arrived, then a fatal alert instead of the final reply: the message may have
 * been delivered, so SMTPC_EDELIVERY_UNKNOWN, with OpenSSL's reason for the alert in errmsg. */
static void test_alert_after_message(void **state) {
    fault_fixture *f = *state;
    script_to_354(f);
    sc_read_data(f);
    sc_tls_alert(f);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_EDELIVERY_UNKNOWN);
    tf_assert_elapsed(f, 0, FAST_MS);
    tf_assert_errmsg_has(f, "alert bad record mac");
    tf_assert_connected(f, 0);
    assert_rcpt_state(f, 0, SMTPC_RCPT_UNKNOWN);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_TO_DATA TF_MSG_WIRE);
}

/* A fatal alert while the client is still writing an 8 MiB body: the server read 1000 bytes of it,
 * sent the alert and stopped reading (its receive buffer is small, so the client is blocked
 * writing). The message was not sent, so the expected status is SMTPC_ETLS with OpenSSL's reason for
 * the alert in errmsg, not SMTPC_EDELIVERY_UNKNOWN. */
#define BIG_BODY (8u * 1024u * 1024u)
static void alert_mid_body(fault_fixture *f, double server_wait, uint32_t command_ms, long long max_ms) {
    tf_server_rcvbuf(f, 16384);
    script_to_354(f);
    sc_read_bytes(f, 1000);
    sc_tls_alert(f);
    sc_sleep(f, server_wait);
    sc_rst(f);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, command_ms);
    fault_envelope(f, "r1@example.org", NULL);
    f->msg = malloc(BIG_BODY + 1);
    assert_non_null(f->msg);
    for (size_t i = 0; i < BIG_BODY; i += 64) {
        memcpy(f->msg + i, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abc\r\n", 64);
    }
    f->msg[BIG_BODY] = '\0';
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, f->msg, BIG_BODY);
    long long ms = fault_elapsed_ms(f);
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    /* The transcript: the session up to DATA, then (at least) the 1000 bytes of the body that were read. */
    static const char head[] = W_TO_DATA;
    assert_true(f->transcript_len >= sizeof head - 1 + 1000);
    assert_memory_equal(f->transcript, head, sizeof head - 1);
    assert_memory_equal(f->transcript + sizeof head - 1, f->msg, f->transcript_len - (sizeof head - 1));
    if (st != SMTPC_ETLS || ms > max_ms) {
        fail_msg("sendmail returned %s after %lld ms (errmsg \"%s\"), expected SMTPC_ETLS with the alert's "
                 "reason within %lld ms",
                 smtpc_status_name(st), ms, smtpc_client_errmsg(f->client), max_ms);
    }
    tf_assert_errmsg_has(f, "alert bad record mac");
}

/* The server resets the connection 200 ms after its alert (what a real server's close does with
 * unread data): the alert is still readable after the reset and its reason must be reported. */
static void test_alert_mid_body_then_reset(void **state) { alert_mid_body(*state, 0.2, 5000, FAST_MS); }

/* The server keeps the connection open (not reading) for 3 s after its alert: the client must
 * notice the alert while it waits to write, not wait for its 1.5 s command timeout. */
static void test_alert_mid_body_server_waits(void **state) { alert_mid_body(*state, 3.0, 1500, 1000); }

/* The server resets the connection while the client writes an 8 MiB body over TLS (or while it is
 * idle). In a child
 * process with SIGPIPE at its default disposition, the call must return a connection error
 * (SMTPC_EDISCONNECTED or SMTPC_EIO), not kill the process: OpenSSL's socket BIO writes with write(),
 * which raises SIGPIPE unless the library prevents it (catalogue F.48 over TLS). */
static void rst_no_sigpipe(fault_fixture *f, int idle) {
    if (idle) {
        sc_hello_starttls(f, RPL_EHLO_TLS);
        sc_expect(f, "EHLO ");
        sc_send(f, RPL_EHLO);
        sc_sleep(f, 0.1);
        sc_rst(f);
    } else {
        tf_server_rcvbuf(f, 65536);
        script_to_354(f);
        sc_read_bytes(f, 65536);
        sc_rst(f);
    }
    fault_start(f);
    f->msg = malloc(BIG_BODY + 1);
    assert_non_null(f->msg);
    for (size_t i = 0; i < BIG_BODY; i += 64) {
        memcpy(f->msg + i, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abc\r\n", 64);
    }
    f->msg[BIG_BODY] = '\0';
    const char *ca = tf_pki("ca.pem");

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Child: no cmocka calls; report through the pipe, exit with _exit(). */
        close(fds[0]);
        signal(SIGPIPE, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigprocmask(SIG_SETMASK, &set, NULL);
        int result[2] = {100, 0};
        smtpc_client *c = NULL;
        smtpc_envelope *env = NULL;
        smtpc_tls_config *cfg = NULL;
        if (smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP) == SMTPC_OK && smtpc_envelope_new(&env) == SMTPC_OK &&
            smtpc_tls_config_new(&cfg) == SMTPC_OK &&
            smtpc_tls_config_set_ca_file(cfg, ca, SMTPC_NTS) == SMTPC_OK &&
            smtpc_client_set_tls_config(c, cfg) == SMTPC_OK &&
            smtpc_client_set_tls_policy(c, SMTPC_TLS_REQUIRED) == SMTPC_OK &&
            smtpc_client_set_local_hostname(c, FAULT_HELO_NAME, SMTPC_NTS) == SMTPC_OK &&
            smtpc_client_set_command_timeout(c, 5000) == SMTPC_OK &&
            smtpc_envelope_set_sender(env, "s@example.org", SMTPC_NTS) == SMTPC_OK &&
            smtpc_envelope_add_recipient(env, "r1@example.org", SMTPC_NTS) == SMTPC_OK) {
            result[0] = smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)f->srv.port);
            if (result[0] == SMTPC_OK && idle) {
                result[0] = smtpc_client_ehlo_or_helo_if_needed(c);
                if (result[0] == SMTPC_OK) {
                    sleep_ms(400); /* the server has reset the connection */
                    result[0] = smtpc_client_noop(c);
                }
                result[1] = smtpc_client_is_connected(c);
            } else if (result[0] == SMTPC_OK) {
                result[0] = smtpc_client_sendmail(c, env, f->msg, BIG_BODY);
                result[1] = smtpc_client_is_connected(c);
            }
        }
        smtpc_tls_config_free(cfg);
        smtpc_envelope_free(env);
        smtpc_client_free(c);
        ssize_t w = write(fds[1], result, sizeof result);
        _exit(w == (ssize_t)sizeof result ? 0 : 1);
    }
    close(fds[1]);
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 1500 && done == 0; i++) {
        done = waitpid(pid, &status, WNOHANG);
        if (done == 0) {
            sleep_ms(10);
        }
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        close(fds[0]);
        fail_msg("the client process did not finish within 15 s");
    }
    int result[2] = {0, 0};
    ssize_t got = read(fds[0], result, sizeof result);
    close(fds[0]);
    fault_finish(f, 0);
    if (WIFSIGNALED(status)) {
        fail_msg("the client process was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(got, (ssize_t)sizeof result);
    if (result[0] != SMTPC_EIO && result[0] != SMTPC_EDISCONNECTED) {
        fail_msg("%s returned %s, expected SMTPC_EDISCONNECTED or SMTPC_EIO", idle ? "noop" : "sendmail",
                 smtpc_status_name(result[0]));
    }
    assert_int_equal(result[1], 0);
}

static void test_rst_during_tls_body_no_sigpipe(void **state) { rst_no_sigpipe(*state, 0); }

/* The server resets an idle TLS connection; the next command finds it gone. The client's close
 * (with its close_notify) must not raise SIGPIPE either. */
static void test_rst_while_tls_idle_no_sigpipe(void **state) { rst_no_sigpipe(*state, 1); }

/* close_notify (the server's TLS stream ends cleanly) before the final reply: not a reply, the
 * message's fate is unknown. */
static void test_close_notify_before_final_reply(void **state) {
    fault_fixture *f = *state;
    script_to_354(f);
    sc_read_data(f);
    sc_close_notify(f);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_EDELIVERY_UNKNOWN);
    tf_assert_elapsed(f, 0, FAST_MS);
    tf_assert_connected(f, 0);
    assert_rcpt_state(f, 0, SMTPC_RCPT_UNKNOWN);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_TO_DATA TF_MSG_WIRE);
}

/* TCP FIN without close_notify in the middle of a reply: SMTPC_EDISCONNECTED naming close_notify. */
static void test_eof_without_close_notify_mid_reply(void **state) {
    fault_fixture *f = *state;
    sc_hello_starttls(f, RPL_EHLO_TLS);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO);
    sc_expect(f, "NOOP");
    sc_send(f, "250-first line\r\n250 sec");
    sc_close_without_notify(f);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo_or_helo_if_needed(f->client), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_EDISCONNECTED);
    tf_assert_elapsed(f, 0, FAST_MS);
    tf_assert_errmsg_has(f, "close_notify");
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS W_TLS W_EHLO W_NOOP);
}

/* Truncation after the whole message and before the final reply: delivery unknown, close_notify named. */
static void test_eof_without_close_notify_before_final_reply(void **state) {
    fault_fixture *f = *state;
    script_to_354(f);
    sc_read_data(f);
    sc_close_without_notify(f);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_EDELIVERY_UNKNOWN);
    tf_assert_errmsg_has(f, "close_notify");
    tf_assert_connected(f, 0);
    assert_rcpt_state(f, 0, SMTPC_RCPT_UNKNOWN);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_TO_DATA TF_MSG_WIRE);
}

/* FIN without close_notify right after the final 250: the message was delivered (F.53); the next
 * command finds the connection gone. */
static void test_eof_without_close_notify_after_final_reply(void **state) {
    fault_fixture *f = *state;
    script_to_354(f);
    sc_read_data(f);
    sc_send(f, "250 2.0.0 queued as 1234\r\n");
    sc_close_without_notify(f);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_OK);
    assert_rcpt_state(f, 0, SMTPC_RCPT_DELIVERED);
    assert_int_equal(fault_finish(f, 0), 0); /* the server has closed */
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_EDISCONNECTED);
    tf_assert_connected(f, 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_TO_DATA TF_MSG_WIRE);
}

/* 221 to QUIT, then close_notify (and FIN): quit succeeds; the client sends its own close_notify. */
static void test_close_notify_after_221(void **state) {
    fault_fixture *f = *state;
    script_to_354(f);
    sc_read_data(f);
    sc_send(f, "250 2.0.0 queued as 1234\r\n");
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    sc_close_notify(f);
    sc_expect_eof_notify(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    fault_assert_reply(smtpc_client_last_reply(f->client), 221, "2.0.0 bye");
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_TO_DATA TF_MSG_WIRE W_QUIT);
}

/* 221 and close_notify in one flight, then FIN without waiting: quit succeeds too. */
static void test_221_then_close(void **state) {
    fault_fixture *f = *state;
    sc_hello_starttls(f, RPL_EHLO_TLS);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO);
    sc_expect(f, "QUIT");
    sc_send_then_close(f, RPL_BYE);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo_or_helo_if_needed(f->client), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS W_TLS W_EHLO W_QUIT);
}

/* ---------------------------------------------------------------------------------------------- */
/* Stalled handshakes                                                                             */
/* ---------------------------------------------------------------------------------------------- */

/* STARTTLS accepted, then the server sends the first 16 bytes of its handshake flight and stalls:
 * SMTPC_ETIMEOUT at the command timeout (1 s). */
static void test_starttls_handshake_stall(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send(f, RPL_220_GO);
    sc_starttls_opts(f, "\"stall\": 5");
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 1000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_ETIMEOUT);
    tf_assert_elapsed(f, 900, 2500);
    tf_assert_errmsg_has(f, "handshake");
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS W_TLS);
}

/* Implicit TLS, the server stalls mid-handshake: the connect timeout (1 s) bounds it, not the
 * command timeout (10 s). */
static void test_implicit_handshake_stall(void **state) {
    fault_fixture *f = *state;
    sc_starttls_opts(f, "\"stall\": 5");
    fault_start(f);
    tf_client(f, SMTPC_TLS_IMPLICIT, 1000, 10000);
    fault_clock_start(f);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_ETIMEOUT);
    tf_assert_elapsed(f, 900, 2500);
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_TLS);
}

/* Implicit TLS, the server reads the ClientHello and never answers at all. */
static void test_implicit_no_server_hello(void **state) {
    fault_fixture *f = *state;
    sc_read_any(f);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_IMPLICIT, 1000, 10000);
    fault_clock_start(f);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_ETIMEOUT);
    tf_assert_elapsed(f, 900, 2500);
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    TF_ASSERT_THEN_RECORDS(f, "");
}

/* Implicit TLS: the handshake succeeds, the greeting never comes: the connect deadline covers it. */
static void test_implicit_no_greeting(void **state) {
    fault_fixture *f = *state;
    tf_server_implicit(f);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_IMPLICIT, 1000, 10000);
    fault_clock_start(f);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_ETIMEOUT);
    tf_assert_elapsed(f, 900, 2500);
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_TLS);
}

/* ---------------------------------------------------------------------------------------------- */
/* Implicit TLS session and TLS 1.3 session tickets (F.59)                                        */
/* ---------------------------------------------------------------------------------------------- */

static void test_implicit_sendmail(void **state) {
    fault_fixture *f = *state;
    tf_server_implicit(f);
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_PIPE);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_send(f, "250 2.0.0 queued\r\n");
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    sc_expect_eof_notify(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_IMPLICIT, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(f->client), 1);
    assert_int_equal(smtpc_client_tls_verified(f->client), 1);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_TLS W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org")
                                   W_DATA TF_MSG_WIRE W_QUIT);
}

/* Four TLS 1.3 session tickets, held back 200 ms by the server, so that they are waiting on the
 * socket when the client checks that the connection is idle before its next command: they are
 * consumed, not taken as unsolicited data. */
static void test_session_tickets_before_next_command(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send(f, RPL_220_GO);
    sc_starttls_opts(f, "\"min_version\": \"1.3\", \"tickets\": 4, \"ticket_delay\": 0.2");
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO);
    sc_expect(f, "NOOP");
    sc_send(f, RPL_OK);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    sc_expect_eof_notify(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_NONE, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_starttls(f->client), SMTPC_OK);
    assert_string_equal(smtpc_client_tls_version(f->client), "TLSv1.3");
    sleep_ms(400); /* the tickets are now on the socket */
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS W_TLS W_EHLO W_NOOP W_QUIT);
}

/* Tickets arriving while the client is already waiting for a reply (default: 2, sent at once). */
static void test_session_tickets_with_reply(void **state) {
    fault_fixture *f = *state;
    tf_server_implicit(f);
    sc_send(f, RPL_GREETING);
    sc_expect(f, "NOOP");
    sc_send(f, RPL_OK);
    sc_expect_eof_notify(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_IMPLICIT, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_OK);
    smtpc_client_close(f->client);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_TLS W_NOOP);
}

/* TLS 1.2 (no tickets in TLS 1.3 form): the session works, the version is reported. */
static void test_tls12_session(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send(f, RPL_220_GO);
    sc_starttls_opts(f, "\"max_version\": \"1.2\"");
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    sc_expect_eof_notify(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_ehlo_or_helo_if_needed(f->client), SMTPC_OK);
    assert_string_equal(smtpc_client_tls_version(f->client), "TLSv1.2");
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS W_TLS W_EHLO W_QUIT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tf_setup, tf_teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_features_after_tls_lockstep),
        T(test_features_after_tls_pipelined_no_size),
        T(test_garbage_after_220),
        T(test_garbage_after_220_trickled),
        T(test_implicit_plaintext_server),
        T(test_alert_after_message),
        T(test_alert_mid_body_then_reset),
        T(test_alert_mid_body_server_waits),
        T(test_rst_during_tls_body_no_sigpipe),
        T(test_rst_while_tls_idle_no_sigpipe),
        T(test_close_notify_before_final_reply),
        T(test_eof_without_close_notify_mid_reply),
        T(test_eof_without_close_notify_before_final_reply),
        T(test_eof_without_close_notify_after_final_reply),
        T(test_close_notify_after_221),
        T(test_221_then_close),
        T(test_starttls_handshake_stall),
        T(test_implicit_handshake_stall),
        T(test_implicit_no_server_hello),
        T(test_implicit_no_greeting),
        T(test_implicit_sendmail),
        T(test_session_tickets_before_next_command),
        T(test_session_tickets_with_reply),
        T(test_tls12_session),
    };
    return cmocka_run_group_tests_name("tls_fault_session", tests, tf_group_setup, tf_group_teardown);
}
