/* SPDX-License-Identifier: MIT */
/* smtpc test harness: see harness.h. */
#define _GNU_SOURCE 1

#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#ifndef HARNESS_SERVERS_DIR
#define HARNESS_SERVERS_DIR "tests/servers"
#endif

long long harness_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000L;
}

static void reset_server(harness_server *srv) {
    memset(srv, 0, sizeof *srv);
    srv->pid = 0;
    srv->stdout_fd = -1;
}

/* Wait for the pipe to become readable until `deadline` (monotonic ms); read what is there.
 * Returns bytes read (> 0), 0 at EOF, -1 on error, -2 on timeout. */
static ssize_t read_some(int fd, char *buf, size_t cap, long long deadline) {
    for (;;) {
        long long left = deadline - harness_now_ms();
        if (left <= 0) return -2;
        struct pollfd pfd;
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        int rc = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
        if (rc < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (rc == 0) continue;
        ssize_t n = read(fd, buf, cap);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return -1;
        }
        return n;
    }
}

/* Pull one line out of srv->buf if there is a complete one. Returns its length or -1. */
static int take_line(harness_server *srv, char *line, size_t cap) {
    char *nl = memchr(srv->buf, '\n', srv->buf_len);
    if (nl == NULL) return -1;
    size_t n = (size_t)(nl - srv->buf);
    size_t keep = n;
    if (keep > 0 && srv->buf[keep - 1] == '\r') keep--;
    if (cap > 0) {
        size_t copy = keep < cap - 1 ? keep : cap - 1;
        memcpy(line, srv->buf, copy);
        line[copy] = '\0';
        keep = copy;
    }
    memmove(srv->buf, nl + 1, srv->buf_len - n - 1);
    srv->buf_len -= n + 1;
    return (int)keep;
}

int harness_server_read_line(harness_server *srv, char *line, size_t cap, int timeout_ms) {
    if (srv == NULL || line == NULL || cap == 0) return -1;
    line[0] = '\0';
    long long deadline = harness_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int n = take_line(srv, line, cap);
        if (n >= 0) return n;
        if (srv->stdout_fd < 0) return -1;
        if (srv->buf_len == sizeof srv->buf) {
            /* An over-long line: hand out what we have. */
            size_t copy = srv->buf_len < cap - 1 ? srv->buf_len : cap - 1;
            memcpy(line, srv->buf, copy);
            line[copy] = '\0';
            srv->buf_len = 0;
            return (int)copy;
        }
        ssize_t got =
            read_some(srv->stdout_fd, srv->buf + srv->buf_len, sizeof srv->buf - srv->buf_len, deadline);
        if (got <= 0) return -1;
        srv->buf_len += (size_t)got;
    }
}

static int parse_ready(harness_server *srv, const char *line) {
    const char *arg = line + 6; /* after "READY " */
    while (*arg == ' ') arg++;
    size_t n = strlen(arg);
    while (n > 0 && (arg[n - 1] == ' ' || arg[n - 1] == '\t')) n--;
    if (n == 0 || n >= sizeof srv->ready) {
        fprintf(stderr, "harness: malformed READY line: %s\n", line);
        return -1;
    }
    memcpy(srv->ready, arg, n);
    srv->ready[n] = '\0';
    if (srv->ready[0] == '/') {
        if (n >= sizeof srv->path) {
            fprintf(stderr, "harness: READY path too long\n");
            return -1;
        }
        memcpy(srv->path, srv->ready, n + 1);
        srv->port = 0;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long port = strtol(srv->ready, &end, 10);
    if (errno != 0 || end == srv->ready || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "harness: malformed READY line: %s\n", line);
        return -1;
    }
    srv->port = (int)port;
    srv->path[0] = '\0';
    return 0;
}

int harness_server_start(const char *const argv[], harness_server *out) {
    return harness_server_start_timeout(argv, HARNESS_READY_TIMEOUT_MS, out);
}

int harness_server_start_timeout(const char *const argv[], int timeout_ms, harness_server *out) {
    if (out == NULL) return -1;
    reset_server(out);
    if (argv == NULL || argv[0] == NULL || timeout_ms <= 0) {
        fprintf(stderr, "harness: bad arguments to harness_server_start\n");
        return -1;
    }

    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        fprintf(stderr, "harness: pipe: %s\n", strerror(errno));
        return -1;
    }
    /* An error pipe tells the parent if exec failed (it is closed by a successful exec). */
    int efd[2];
    if (pipe2(efd, O_CLOEXEC) != 0) {
        fprintf(stderr, "harness: pipe: %s\n", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        close(efd[0]);
        close(efd[1]);
        return -1;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here to exec. */
        setpgid(0, 0);
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(127);
#else
        (void)parent;
#endif
        /* Undo any blocked/ignored signals the test process may have. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
            if (devnull != 0) close(devnull);
        }
        if (dup2(pfd[1], 1) < 0) _exit(127);
        execvp(argv[0], (char *const *)argv);
        int e = errno;
        ssize_t w = write(efd[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    /* Parent. Also set the group from this side to avoid a race with an early killpg. */
    setpgid(pid, pid);
    close(pfd[1]);
    close(efd[1]);
    out->pid = pid;
    out->stdout_fd = pfd[0];

    int exec_errno = 0;
    ssize_t en;
    do {
        en = read(efd[0], &exec_errno, sizeof exec_errno);
    } while (en < 0 && errno == EINTR);
    close(efd[0]);
    if (en == (ssize_t)sizeof exec_errno) {
        fprintf(stderr, "harness: cannot run %s: %s\n", argv[0], strerror(exec_errno));
        harness_server_stop(out);
        reset_server(out);
        return -1;
    }

    long long deadline = harness_now_ms() + timeout_ms;
    char line[1024];
    for (;;) {
        long long left = deadline - harness_now_ms();
        if (left <= 0) {
            fprintf(stderr, "harness: %s did not print READY within %d ms\n", argv[0], timeout_ms);
            break;
        }
        int n = harness_server_read_line(out, line, sizeof line, (int)left);
        if (n < 0) {
            if (harness_now_ms() >= deadline)
                fprintf(stderr, "harness: %s did not print READY within %d ms\n", argv[0], timeout_ms);
            else fprintf(stderr, "harness: %s closed its stdout (exited?) before READY\n", argv[0]);
            break;
        }
        if (strncmp(line, "READY ", 6) == 0) {
            if (parse_ready(out, line) == 0) return 0;
            break;
        }
        fprintf(stderr, "harness: [%s] %s\n", argv[0], line);
    }
    int st = harness_server_stop(out);
    if (st != -1 && WIFEXITED(st))
        fprintf(stderr, "harness: %s exited with status %d\n", argv[0], WEXITSTATUS(st));
    else if (st != -1 && WIFSIGNALED(st))
        fprintf(stderr, "harness: %s killed by signal %d\n", argv[0], WTERMSIG(st));
    reset_server(out);
    return -1;
}

int harness_server_alive(harness_server *srv) {
    if (srv == NULL || srv->pid <= 0) return 0;
    int st;
    pid_t r = waitpid(srv->pid, &st, WNOHANG);
    if (r == 0) return 1;
    if (r == srv->pid) {
        /* Exited: kill what is left of its group, forget the pid. */
        kill(-srv->pid, SIGKILL);
        srv->pid = 0;
    }
    return 0;
}

int harness_server_stop(harness_server *srv) {
    if (srv == NULL) return -1;
    int result = -1;
    if (srv->pid > 0) {
        pid_t pid = srv->pid;
        kill(-pid, SIGTERM);
        kill(pid, SIGTERM);
        long long deadline = harness_now_ms() + HARNESS_STOP_TIMEOUT_MS;
        int st = 0;
        pid_t r = 0;
        for (;;) {
            r = waitpid(pid, &st, WNOHANG);
            if (r == pid || (r < 0 && errno != EINTR)) break;
            if (harness_now_ms() >= deadline) {
                fprintf(stderr, "harness: process %d ignored SIGTERM for %d ms, killing it\n", (int)pid,
                        HARNESS_STOP_TIMEOUT_MS);
                kill(-pid, SIGKILL);
                kill(pid, SIGKILL);
                do {
                    r = waitpid(pid, &st, 0);
                } while (r < 0 && errno == EINTR);
                break;
            }
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (r == pid) result = st;
        /* Leftovers in the group (grandchildren that did not follow the leader). */
        kill(-pid, SIGKILL);
        srv->pid = 0;
    }
    if (srv->stdout_fd >= 0) {
        close(srv->stdout_fd);
        srv->stdout_fd = -1;
    }
    srv->buf_len = 0;
    return result;
}

const char *harness_servers_dir(void) {
    const char *env = getenv("SMTPC_TEST_SERVERS_DIR");
    if (env != NULL && env[0] != '\0') return env;
    return HARNESS_SERVERS_DIR;
}

int harness_server_script(char *buf, size_t cap, const char *name) {
    if (buf == NULL || name == NULL) return -1;
    int n = snprintf(buf, cap, "%s/%s", harness_servers_dir(), name);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "harness: path too long for %s\n", name);
        return -1;
    }
    return 0;
}

int harness_make_temp_dir(const char *prefix, char *buf, size_t cap) {
    if (buf == NULL || cap == 0) return -1;
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0') tmp = "/tmp";
    int n =
        snprintf(buf, cap, "%s/%s-XXXXXX", tmp, prefix != NULL && prefix[0] != '\0' ? prefix : "smtpc-test");
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "harness: temp dir path too long\n");
        buf[0] = '\0';
        return -1;
    }
    if (mkdtemp(buf) == NULL) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", buf, strerror(errno));
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

int harness_remove_tree(const char *path) {
    if (path == NULL || path[0] == '\0') return -1;
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 ? 0 : -1;
    int rc = 0;
    DIR *d = opendir(path);
    if (d == NULL) return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        size_t need = strlen(path) + 1 + strlen(de->d_name) + 1;
        char *child = malloc(need);
        if (child == NULL) {
            rc = -1;
            continue;
        }
        snprintf(child, need, "%s/%s", path, de->d_name);
        if (harness_remove_tree(child) != 0) rc = -1;
        free(child);
    }
    closedir(d);
    if (rmdir(path) != 0) rc = -1;
    return rc;
}

int harness_read_file(const char *path, char **data, size_t *len) {
    if (data == NULL) return -1;
    *data = NULL;
    if (len != NULL) *len = 0;
    if (path == NULL) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "harness: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        close(fd);
        return -1;
    }
    for (;;) {
        if (used == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (nb == NULL) {
                free(buf);
                close(fd);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + used, cap - used);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "harness: read %s: %s\n", path, strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (n == 0) break;
        used += (size_t)n;
    }
    close(fd);
    buf[used] = '\0';
    *data = buf;
    if (len != NULL) *len = used;
    return 0;
}

int harness_write_file(const char *path, const void *data, size_t len) {
    if (path == NULL || (data == NULL && len > 0)) return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "harness: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "harness: write %s: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd) == 0 ? 0 : -1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void harness_free_list(char **names, size_t count) {
    if (names == NULL) return;
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

int harness_list_dir(const char *dir, char ***names, size_t *count) {
    if (names == NULL || count == NULL) return -1;
    *names = NULL;
    *count = 0;
    if (dir == NULL) return -1;
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "harness: opendir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    size_t cap = 16, n = 0;
    char **list = malloc(cap * sizeof *list);
    if (list == NULL) {
        closedir(d);
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        if (n == cap) {
            char **nl = realloc(list, cap * 2 * sizeof *list);
            if (nl == NULL) {
                harness_free_list(list, n);
                closedir(d);
                return -1;
            }
            list = nl;
            cap *= 2;
        }
        list[n] = strdup(de->d_name);
        if (list[n] == NULL) {
            harness_free_list(list, n);
            closedir(d);
            return -1;
        }
        n++;
    }
    closedir(d);
    qsort(list, n, sizeof *list, cmp_str);
    *names = list;
    *count = n;
    return 0;
}

int harness_wait_for_files(const char *dir, size_t count, int timeout_ms) {
    long long deadline = harness_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        char **names;
        size_t n;
        if (harness_list_dir(dir, &names, &n) != 0) return -1;
        harness_free_list(names, n);
        if (n >= count || harness_now_ms() >= deadline) return n > INT_MAX ? INT_MAX : (int)n;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int harness_hex_decode(const char *hex, size_t hex_len, char **out, size_t *len) {
    if (out == NULL) return -1;
    *out = NULL;
    if (len != NULL) *len = 0;
    if (hex == NULL || hex_len % 2 != 0) return -1;
    char *buf = malloc(hex_len / 2 + 1);
    if (buf == NULL) return -1;
    for (size_t i = 0; i < hex_len / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(buf);
            return -1;
        }
        buf[i] = (char)(hi * 16 + lo);
    }
    buf[hex_len / 2] = '\0';
    *out = buf;
    if (len != NULL) *len = hex_len / 2;
    return 0;
}

void harness_skip_program(const char *program, const char *reason) {
    fprintf(stderr, "%s: skipped: %s\n", program, reason);
    fflush(NULL);
    exit(HARNESS_EXIT_SKIP);
}

const char *harness_postfix_unavailable(int need_sasl) {
    if (geteuid() != 0) return "needs root to run Postfix";
    if (access("/usr/sbin/postfix", X_OK) != 0) return "postfix (Debian postfix) is not installed";
    if (need_sasl && access("/usr/sbin/saslpasswd2", X_OK) != 0)
        return "saslpasswd2 (Debian sasl2-bin) is not installed";
    return NULL;
}
