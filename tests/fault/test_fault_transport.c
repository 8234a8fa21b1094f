/* SPDX-License-Identifier: MIT */
/*
 * Fault tests: transport failures and process hygiene (catalogue F.44, F.48, F.56): connection
 * refused, unresolvable names, a reset while writing with SIGPIPE at its default disposition, file
 * descriptors above FD_SETSIZE, and a Unix-domain socket.
 */
#include "fault_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG "Subject: t\r\n\r\nhello\r\n"
#define MSG_WIRE MSG ".\r\n"

/* A loopback port with nothing listening: bound (so no one else takes it) but not listening. */
static int closed_port(int *fd_out) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *fd_out = fd;
    return ntohs(sa.sin_port);
}

static void test_connection_refused(void **state) {
    fault_fixture *f = *state;
    int fd;
    int port = closed_port(&fd);
    fault_client(f, 5000, 5000);
    fault_clock_start(f);
    smtpc_status st = smtpc_client_connect(f->client, "127.0.0.1", SMTPC_NTS, (uint16_t)port);
    long long ms = fault_elapsed_ms(f);
    int os_error = smtpc_client_os_error(f->client);
    close(fd);
    ASSERT_STATUS(f, st, SMTPC_ECONNECT);
    assert_int_equal(smtpc_client_last_status(f->client), SMTPC_ECONNECT);
    if (os_error != ECONNREFUSED) {
        fail_msg("os_error %d (%s), expected ECONNREFUSED", os_error, strerror(os_error));
    }
    assert_true(ms < 2000);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_null(smtpc_client_last_reply(f->client));
    assert_true(strlen(smtpc_client_errmsg(f->client)) > 0);
}

/*
 * A "blackhole" on loopback: a listener with backlog 0 whose accept queue is full (and that never
 * accepts) drops further SYNs, so connect() gets no answer. The connect timeout must end it.
 */
static void test_connect_no_synack(void **state) {
    fault_fixture *f = *state;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 0), 0);
    socklen_t slen = sizeof sa;
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &slen), 0);
    enum { FILLERS = 3 };
    int fillers[FILLERS];
    for (int i = 0; i < FILLERS; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(fillers[i] >= 0);
        (void)connect(fillers[i], (struct sockaddr *)&sa, sizeof sa);
    }
    struct timespec settle = {0, 100 * 1000 * 1000};
    nanosleep(&settle, NULL);

    fault_client(f, 800, 5000);
    fault_clock_start(f);
    smtpc_status st = smtpc_client_connect(f->client, "127.0.0.1", SMTPC_NTS, ntohs(sa.sin_port));
    long long ms = fault_elapsed_ms(f);
    for (int i = 0; i < FILLERS; i++) {
        close(fillers[i]);
    }
    close(lfd);
    ASSERT_STATUS(f, st, SMTPC_ETIMEOUT);
    if (ms < 700 || ms >= 1800) {
        fail_msg("connect returned after %lld ms; the connect timeout was 800 ms", ms);
    }
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
}

/* The ":port" suffix form reaches the same closed port. */
static void test_connection_refused_port_suffix(void **state) {
    fault_fixture *f = *state;
    int fd;
    int port = closed_port(&fd);
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    fault_client(f, 5000, 5000);
    smtpc_status st = smtpc_client_connect(f->client, host, SMTPC_NTS, 0);
    int os_error = smtpc_client_os_error(f->client);
    close(fd);
    ASSERT_STATUS(f, st, SMTPC_ECONNECT);
    assert_int_equal(os_error, ECONNREFUSED);
}

/* A Unix socket path where nothing listens. */
static void test_unix_socket_missing(void **state) {
    fault_fixture *f = *state;
    fault_client(f, 5000, 5000);
    smtpc_status st = smtpc_client_connect(f->client, f->sock_path, SMTPC_NTS, 0);
    ASSERT_STATUS(f, st, SMTPC_ECONNECT);
    assert_int_equal(smtpc_client_os_error(f->client), ENOENT);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
}

static void test_unresolvable_name(void **state) {
    fault_fixture *f = *state;
    fault_client(f, 5000, 5000);
    fault_clock_start(f);
    ASSERT_STATUS(f, smtpc_client_connect(f->client, "nonexistent.invalid", SMTPC_NTS, 2525), SMTPC_ERESOLVE);
    assert_true(fault_elapsed_ms(f) < 6000);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_true(strlen(smtpc_client_errmsg(f->client)) > 0);
}

/* A message the encoder leaves unchanged. */
static char *plain_message(size_t size) {
    char *m = malloc(size + 1);
    assert_non_null(m);
    for (size_t i = 0; i < size; i++) {
        m[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : 'p';
    }
    m[size] = '\0';
    return m;
}

/*
 * The server resets the connection while the client writes a 16 MiB body. In a child process with
 * SIGPIPE at its default disposition the call must return a connection error, not kill the process.
 */
static void test_rst_during_body_no_sigpipe(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_bytes(f, 65536);
    sc_rst(f);
    /* A fixed, small receive buffer: with autotuning (up to tcp_rmem max) the server's kernel could
     * take in the whole message before the close, and then it was in fact sent. */
    f->extra_args[0] = "--rcvbuf";
    f->extra_args[1] = "65536";
    fault_start(f);
    size_t size = (16u << 20) - (16u << 20) % 78;
    f->msg = plain_message(size);

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
        int result[3] = {100, 0, 0};
        smtpc_client *c = NULL;
        smtpc_envelope *env = NULL;
        if (smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP) == SMTPC_OK && smtpc_envelope_new(&env) == SMTPC_OK &&
            smtpc_client_set_local_hostname(c, FAULT_HELO_NAME, SMTPC_NTS) == SMTPC_OK &&
            smtpc_client_set_command_timeout(c, 5000) == SMTPC_OK &&
            smtpc_envelope_set_sender(env, "s@example.org", SMTPC_NTS) == SMTPC_OK &&
            smtpc_envelope_add_recipient(env, "r1@example.org", SMTPC_NTS) == SMTPC_OK) {
            result[0] = smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, (uint16_t)f->srv.port);
            if (result[0] == SMTPC_OK) {
                result[0] = smtpc_client_sendmail(c, env, f->msg, size);
                result[1] = smtpc_client_os_error(c);
                result[2] = smtpc_client_is_connected(c);
            }
        }
        smtpc_envelope_free(env);
        smtpc_client_free(c);
        ssize_t w = write(fds[1], result, sizeof result);
        _exit(w == (ssize_t)sizeof result ? 0 : 1);
    }
    close(fds[1]);
    /* Wait at most 15 s for the child. */
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 1500 && done == 0; i++) {
        done = waitpid(pid, &status, WNOHANG);
        if (done == 0) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        close(fds[0]);
        fail_msg("the client process did not finish within 15 s");
    }
    int result[3] = {0, 0, 0};
    ssize_t got = read(fds[0], result, sizeof result);
    close(fds[0]);
    if (WIFSIGNALED(status)) {
        fail_msg("the client process was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(got, (ssize_t)sizeof result);
    if (result[0] != SMTPC_EIO && result[0] != SMTPC_EDISCONNECTED) {
        fail_msg("sendmail returned %s, expected SMTPC_EIO (or SMTPC_EDISCONNECTED)",
                 smtpc_status_name(result[0]));
    }
    if (result[0] == SMTPC_EIO && result[1] != ECONNRESET && result[1] != EPIPE) {
        fail_msg("os_error %d (%s), expected ECONNRESET or EPIPE", result[1], strerror(result[1]));
    }
    assert_int_equal(result[2], 0);
    fault_finish(f, 0);
    static const char cmds[] = W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA;
    fault_assert_transcript_prefix(f, cmds, sizeof cmds - 1, f->msg, size);
}

/* The same in this process, SIGPIPE at SIG_DFL: a missing MSG_NOSIGNAL would kill the test binary. */
static void test_rst_during_body_in_process(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_bytes(f, 4096);
    sc_rst(f);
    /* A fixed, small receive buffer: with autotuning (up to tcp_rmem max) the server's kernel could
     * take in the whole message before the close, and then it was in fact sent. */
    f->extra_args[0] = "--rcvbuf";
    f->extra_args[1] = "65536";
    fault_start(f);
    void (*old)(int) = signal(SIGPIPE, SIG_DFL);
    size_t size = (8u << 20) - (8u << 20) % 78;
    f->msg = plain_message(size);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, f->msg, size);
    signal(SIGPIPE, old);
    if (st != SMTPC_EIO && st != SMTPC_EDISCONNECTED) {
        fail_msg("sendmail returned %s, expected SMTPC_EIO (or SMTPC_EDISCONNECTED)", smtpc_status_name(st));
    }
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    /* The handle stays usable. */
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ENOTCONN);
    fault_finish(f, 0);
}

/*
 * 1100 descriptors open before connecting: the client's socket is above FD_SETSIZE and a whole
 * session still works (poll, not select).
 */
static void test_fd_above_fd_setsize(void **state) {
    fault_fixture *f = *state;
    enum { EXTRA = 1100 };
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < EXTRA + 64) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < EXTRA + 64) {
            skip();
        }
        rl.rlim_cur = EXTRA + 64;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    sc_hello(f, 1);
    sc_expect(f, "MAIL ");
    sc_expect(f, "RCPT ");
    sc_expect(f, "DATA");
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);

    int fds[EXTRA];
    int opened = 0;
    int highest = -1;
    for (; opened < EXTRA; opened++) {
        fds[opened] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fds[opened] < 0) {
            break;
        }
        if (fds[opened] > highest) {
            highest = fds[opened];
        }
    }
    smtpc_status st_connect = SMTPC_EINTERNAL;
    smtpc_status st_send = SMTPC_EINTERNAL;
    smtpc_status st_quit = SMTPC_EINTERNAL;
    if (opened == EXTRA) {
        st_connect = fault_connect(f);
        if (st_connect == SMTPC_OK) {
            st_send = smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS);
            if (st_send == SMTPC_OK) {
                st_quit = smtpc_client_quit(f->client);
            }
        }
    }
    for (int i = 0; i < opened; i++) {
        close(fds[i]);
    }
    assert_int_equal(opened, EXTRA);
    assert_true(highest >= FD_SETSIZE);
    ASSERT_STATUS(f, st_connect, SMTPC_OK);
    ASSERT_STATUS(f, st_send, SMTPC_OK);
    ASSERT_STATUS(f, st_quit, SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f,
                            W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA MSG_WIRE W_QUIT);
}

/* Over a Unix-domain socket: a full session, then a close after the final dot (delivery unknown). */
static void test_unix_socket_session(void **state) {
    fault_fixture *f = *state;
    f->use_unix = 1;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_close(f);
    fault_start(f);
    assert_int_equal(f->srv.port, 0);
    fault_client(f, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_EDELIVERY_UNKNOWN);
    assert_int_equal(smtpc_client_is_connected(f->client), 0);
    assert_int_equal(smtpc_result_state(smtpc_client_last_result(f->client), 0), SMTPC_RCPT_UNKNOWN);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org") W_DATA MSG_WIRE);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fault_setup, fault_teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_connection_refused),         T(test_connection_refused_port_suffix),
        T(test_connect_no_synack),          T(test_unix_socket_missing),
        T(test_unresolvable_name),          T(test_rst_during_body_no_sigpipe),
        T(test_rst_during_body_in_process), T(test_fd_above_fd_setsize),
        T(test_unix_socket_session),
    };
    return cmocka_run_group_tests_name("fault_transport", tests, NULL, NULL);
}
