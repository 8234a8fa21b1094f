/* SPDX-License-Identifier: MIT */
/*
 * SMTPC_TLS_AUTO on port 465: implicit TLS, and on loopback the certificate is verified and the
 * result recorded but not enforced (as opportunistic STARTTLS); SMTPC_TLS_IMPLICIT set explicitly
 * enforces it, and names the fixes for a local server.
 *
 * Port 465 is fixed, so the program runs in a network namespace of its own (unshare(CLONE_NEWNET):
 * a private loopback, nothing bound on the machine's), with a small implicit-TLS SMTP server written
 * inline below that records every byte it received after the handshake. Needs root and iproute2;
 * exits 77 (skipped, reason on stderr) otherwise.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tls_common.h"

/* Implicit TLS on 127.0.0.1:465; argv: cert key out. Lock-step SMTP; each connection's decrypted
 * bytes are appended to `out`, followed by "--END--\n". */
static const char k_server[] = "import socket, ssl, sys\n"
                               "cert, key, out = sys.argv[1:4]\n"
                               "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
                               "ctx.load_cert_chain(cert, key)\n"
                               "ls = socket.socket()\n"
                               "ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                               "ls.bind(('127.0.0.1', 465))\n"
                               "ls.listen(5)\n"
                               "print('READY 465', flush=True)\n"
                               "while True:\n"
                               "    c, _ = ls.accept()\n"
                               "    c.settimeout(20)\n"
                               "    try:\n"
                               "        s = ctx.wrap_socket(c, server_side=True)\n"
                               "    except (OSError, ssl.SSLError):\n"
                               "        c.close()\n"
                               "        open(out, 'ab').write(b'--HANDSHAKE FAILED--\\n')\n"
                               "        continue\n"
                               "    got, data = b'', False\n"
                               "    s.sendall(b'220 t ESMTP\\r\\n')\n"
                               "    try:\n"
                               "        for line in s.makefile('rb'):\n"
                               "            got += line\n"
                               "            if data:\n"
                               "                if line == b'.\\r\\n':\n"
                               "                    data = False\n"
                               "                    s.sendall(b'250 ok\\r\\n')\n"
                               "                continue\n"
                               "            verb = line[:4].upper()\n"
                               "            if verb == b'EHLO':\n"
                               "                s.sendall(b'250-t\\r\\n250 8BITMIME\\r\\n')\n"
                               "            elif verb == b'DATA':\n"
                               "                data = True\n"
                               "                s.sendall(b'354 go\\r\\n')\n"
                               "            elif verb == b'QUIT':\n"
                               "                s.sendall(b'221 bye\\r\\n')\n"
                               "                break\n"
                               "            else:\n"
                               "                s.sendall(b'250 ok\\r\\n')\n"
                               "    except (OSError, ssl.SSLError):\n"
                               "        pass\n"
                               "    open(out, 'ab').write(got + b'--END--\\n')\n"
                               "    s.close()\n";

static harness_server g_srv;
static char g_dir[512], g_out[600];
static const char k_body[] = "Subject: 465\r\n\r\nover implicit TLS\r\n";

/* Why this machine cannot run the test, or NULL after moving into a namespace with loopback up. */
static const char *private_network(void) {
    if (geteuid() != 0) return "needs root for a private network namespace";
    const char *ip = access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip"
                     : access("/sbin/ip", X_OK) == 0   ? "/sbin/ip"
                                                       : NULL;
    if (ip == NULL) return "the ip command (Debian iproute2) is not installed";
    if (unshare(CLONE_NEWNET) != 0) return "unshare(CLONE_NEWNET) failed (no network namespace support here)";
    pid_t pid = fork();
    if (pid < 0) return "fork failed";
    if (pid == 0) {
        execl(ip, ip, "link", "set", "lo", "up", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return "'ip link set lo up' failed in the namespace";
    return NULL;
}

/* What the server has recorded, once it is longer than `more_than` bytes and ends a record (waits
 * up to 10 s: a record is written when its connection ends). malloc()ed, NUL-terminated. */
static char *received(size_t more_than, size_t *len) {
    char *data = NULL;
    *len = 0;
    for (int i = 0; i < 100; i++) {
        free(data);
        data = NULL;
        *len = 0;
        if (access(g_out, F_OK) == 0 && harness_read_file(g_out, &data, len) == 0 && *len > more_than &&
            data[*len - 1] == '\n')
            break;
        usleep(100 * 1000);
    }
    return data;
}

static void test_auto_465_loopback_records(void **state) {
    (void)state;
    itest_trace t = {0};
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, TLS_CLIENT_NAME);
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_trace(c, 1, itest_trace_cb, &t), SMTPC_OK);
    /* Policy and configuration left at their defaults. */
    TLS_ASSERT_STATUS(c, smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, 465), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(c), 1);
    assert_int_equal(smtpc_client_tls_verified(c), 0);
    assert_int_equal(smtpc_client_tls_verify_result(c), 20); /* the test CA is not in the system store */
    assert_int_equal(tls_count_info(&t, "opportunistic"), 1);
    smtpc_envelope *env = tls_envelope(NULL);
    TLS_ASSERT_STATUS(c, smtpc_client_sendmail(c, env, k_body, sizeof k_body - 1), SMTPC_OK);
    smtpc_envelope_free(env);
    TLS_ASSERT_STATUS(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    itest_trace_clear(&t);
    size_t len;
    char *got = received(0, &len);
    assert_non_null(got);
    static const char want[] =
        "EHLO " TLS_CLIENT_NAME "\r\nMAIL FROM:<sender@example.org>\r\n"
        "RCPT TO:<rcpt@example.org>\r\nDATA\r\nSubject: 465\r\n\r\nover implicit TLS\r\n"
        ".\r\nQUIT\r\n--END--\n";
    ITEST_ASSERT_BYTES(got, len, ITEST_STR(want));
    free(got);
}

static void test_implicit_465_loopback_enforces(void **state) {
    (void)state;
    size_t before;
    free(received(0, &before));
    smtpc_client *c = itest_client(SMTPC_PROTOCOL_SMTP, TLS_CLIENT_NAME);
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_tls_policy(c, SMTPC_TLS_IMPLICIT), SMTPC_OK);
    TLS_ASSERT_STATUS(c, smtpc_client_connect(c, "127.0.0.1", SMTPC_NTS, 0), SMTPC_ETLS_VERIFY);
    assert_non_null(strstr(smtpc_client_errmsg(c), "SMTPC_TLS_OPPORTUNISTIC"));
    assert_int_equal(smtpc_client_is_connected(c), 0);
    smtpc_client_free(c);
    size_t len;
    char *got = received(before, &len);
    /* The server saw a failed handshake and no SMTP command. */
    assert_true(len > before);
    ITEST_ASSERT_BYTES(got + before, len - before, ITEST_STR("--HANDSHAKE FAILED--\n"));
    free(got);
}

int main(void) {
    const char *why = private_network();
    if (why != NULL) {
        fprintf(stderr, "test_tls_auto_465: skipped: %s\n", why);
        return 77;
    }
    if (tls_pki_setup() != 0 || harness_make_temp_dir("smtpc-tls-465", g_dir, sizeof g_dir) != 0) return 1;
    snprintf(g_out, sizeof g_out, "%s/received", g_dir);
    const char *argv[] = {HARNESS_PYTHON,        "-c",  k_server, tls_pki("server.pem"),
                          tls_pki("server.key"), g_out, NULL};
    if (harness_server_start(argv, &g_srv) != 0) {
        fprintf(stderr, "test_tls_auto_465: the server did not start\n");
        harness_remove_tree(g_dir);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_465_loopback_records),
        cmocka_unit_test(test_implicit_465_loopback_enforces),
    };
    int rc = cmocka_run_group_tests_name("tls_auto_465", tests, NULL, NULL);
    harness_server_stop(&g_srv);
    harness_remove_tree(g_dir);
    tls_pki_teardown();
    return rc;
}
