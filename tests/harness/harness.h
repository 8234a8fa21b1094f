/* SPDX-License-Identifier: MIT */
/*
 * smtpc test harness: start and stop test server processes, and small file helpers.
 *
 * Used by the integration tests (tests/integration) and the fault-injection tests (tests/fault).
 * Plain C99 + POSIX, no dependency on smtpc itself. Link the static library target
 * `smtpc_test_harness` (defined in tests/harness/CMakeLists.txt); it adds this directory to the
 * include path.
 *
 * Server protocol: a server command is spawned in its own process group with its stdout piped to the
 * harness (stdin is /dev/null, stderr is inherited so its logs show up in the test output). When it
 * is ready to accept connections it writes one line
 *
 *     READY <port>            (a TCP port on loopback, 1..65535)
 *     READY <path>            (an absolute Unix socket path, starting with '/')
 *
 * and flushes. Lines before READY are ignored (echoed to stderr). After READY a server may write
 * more lines to stdout for the test to read with harness_server_read_line(); a server that writes a
 * lot there must be read, or it blocks once the pipe is full (64 KiB on Linux).
 *
 * Every function is bounded in time. Every function that fails prints a one-line reason to stderr
 * prefixed with "harness: ". Not thread-safe (tests are single-threaded).
 */
#ifndef SMTPC_TEST_HARNESS_H
#define SMTPC_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Default bound for waiting for a server's READY line, in milliseconds. */
#define HARNESS_READY_TIMEOUT_MS 20000

/** Bound for a server to exit after SIGTERM before it (its whole process group) gets SIGKILL. */
#define HARNESS_STOP_TIMEOUT_MS 10000

/** The Python interpreter that has the Debian aiosmtpd package. Never the python3 on PATH. */
#define HARNESS_PYTHON "/usr/bin/python3"

/** A running server. Zero-initialise it or let harness_server_start() fill it. */
typedef struct harness_server {
    /** Process id of the spawned command (also its process group id); 0 when not running. */
    pid_t pid;
    /** Read end of the child's stdout pipe; -1 when closed. */
    int stdout_fd;
    /** TCP port from "READY <port>", or 0 when the server gave a socket path. */
    int port;
    /** Unix socket path from "READY </path>", or "" when the server gave a port. */
    char path[512];
    /** The whole text after "READY " (without the line end). */
    char ready[512];
    /** Internal: bytes read from stdout after the READY line, not yet returned by read_line. */
    char buf[4096];
    size_t buf_len;
} harness_server;

/**
 * Spawn argv[0] (searched in PATH when it has no '/') with arguments argv[1..] (NULL-terminated),
 * in a new process group, stdout piped; wait up to HARNESS_READY_TIMEOUT_MS for the READY line.
 * On Linux the child gets SIGTERM if the test process dies (PR_SET_PDEATHSIG), so a crashed test
 * does not leave servers behind.
 * @param[out] out filled on success; on failure set to a stopped state (pid 0, stdout_fd -1).
 * @return 0 on success; -1 on failure (exec failed, the child exited, timeout, malformed READY
 *         line), after killing and reaping the child.
 */
int harness_server_start(const char *const argv[], harness_server *out);

/** As harness_server_start() with an explicit READY timeout in milliseconds (> 0). */
int harness_server_start_timeout(const char *const argv[], int timeout_ms, harness_server *out);

/**
 * Read the next line the server wrote to stdout after READY, waiting at most timeout_ms.
 * The line is stored without its line end, NUL-terminated, truncated to cap - 1 bytes.
 * @return the line length (>= 0); -1 on timeout, end of file or error.
 */
int harness_server_read_line(harness_server *srv, char *line, size_t cap, int timeout_ms);

/**
 * Stop the server: SIGTERM to its process group, wait up to HARNESS_STOP_TIMEOUT_MS for the
 * spawned process to exit, then SIGKILL the group; reap the process; SIGKILL whatever else is left
 * in the group; close the pipe. Safe to call twice and on a zeroed or failed-to-start server.
 * @return the raw wait status of the process (see waitpid(2); WIFEXITED etc.), or -1 when there was
 *         no process or it could not be reaped.
 */
int harness_server_stop(harness_server *srv);

/**
 * 1 when the server process is still running (not exited), else 0. Reaps it if it has exited, in
 * which case harness_server_stop() then returns -1.
 */
int harness_server_alive(harness_server *srv);

/**
 * The absolute path of the repository's tests/servers directory (where the server scripts live),
 * from the HARNESS_SERVERS_DIR compile definition, overridable at run time with the environment
 * variable SMTPC_TEST_SERVERS_DIR. Never NULL.
 */
const char *harness_servers_dir(void);

/**
 * Write "<harness_servers_dir()>/<name>" into buf.
 * @return 0; -1 when it does not fit.
 */
int harness_server_script(char *buf, size_t cap, const char *name);

/**
 * Create a fresh private (0700) temporary directory under $TMPDIR (or /tmp), named with `prefix`.
 * @param[out] buf receives the path, NUL-terminated.
 * @return 0; -1 on failure.
 */
int harness_make_temp_dir(const char *prefix, char *buf, size_t cap);

/**
 * Remove a directory tree (files, subdirectories, sockets; symlinks are removed, not followed).
 * @return 0; -1 when something could not be removed (it goes on removing the rest).
 */
int harness_remove_tree(const char *path);

/**
 * Read a whole file into a malloc()ed buffer, NUL-terminated (the NUL is not counted in *len).
 * @param[out] data the buffer; free() it. Set to NULL on failure.
 * @param[out] len the file size (may be NULL).
 * @return 0; -1 on failure.
 */
int harness_read_file(const char *path, char **data, size_t *len);

/**
 * Write `len` bytes to a file (created or truncated, mode 0600).
 * @return 0; -1 on failure.
 */
int harness_write_file(const char *path, const void *data, size_t len);

/**
 * List the names in directory `dir` (not "." or ".."; names starting with '.' are skipped too,
 * so writers can use hidden temp names and rename), sorted with strcmp.
 * @param[out] names a malloc()ed array of malloc()ed strings; free it with harness_free_list().
 * @param[out] count the number of names.
 * @return 0; -1 on failure (*names NULL, *count 0).
 */
int harness_list_dir(const char *dir, char ***names, size_t *count);

/** Free a list from harness_list_dir(). NULL is a no-op. */
void harness_free_list(char **names, size_t count);

/**
 * Wait up to timeout_ms until directory `dir` holds at least `count` entries (as harness_list_dir()
 * counts them), polling every 20 ms.
 * @return the number of entries seen last (>= count on success, less on timeout); -1 on error.
 */
int harness_wait_for_files(const char *dir, size_t count, int timeout_ms);

/** Monotonic clock in milliseconds, for bounding waits in tests. */
long long harness_now_ms(void);

/**
 * Decode a hexadecimal string (even length, upper or lower case) into a malloc()ed buffer,
 * NUL-terminated (the NUL is not counted in *len).
 * @return 0; -1 on malformed input or allocation failure (*out NULL).
 */
int harness_hex_decode(const char *hex, size_t hex_len, char **out, size_t *len);

/**
 * Exit status of a test program that cannot run on this machine (no root, no Postfix, no network
 * namespace): ctest counts it as skipped (SKIP_RETURN_CODE 77, the Automake convention).
 */
#define HARNESS_EXIT_SKIP 77

/** Print "<program>: skipped: <reason>" to stderr and exit with HARNESS_EXIT_SKIP. */
void harness_skip_program(const char *program, const char *reason)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((noreturn))
#endif
    ;

/**
 * Why a private Postfix (tests/servers/postfix_server.py) cannot run here, or NULL when it can: it
 * needs root (Postfix's master drops privileges to the postfix user) and Debian's postfix; with
 * need_sasl also saslpasswd2 (Debian sasl2-bin). The text is static.
 */
const char *harness_postfix_unavailable(int need_sasl);

#ifdef __cplusplus
}
#endif

#endif /* SMTPC_TEST_HARNESS_H */
