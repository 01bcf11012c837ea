/*
 * proc_posix.c -- os.h's child processes for Linux and other POSIX systems: one shell command,
 * run to its end (kapsul build), and a program run as a filter (the native compiler).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "os/posix.h"

extern char **environ;

/* posix_spawn rather than fork: it needs no copy of the parent's address space (vfork-style in
 * glibc), and it reports a failed chdir or exec to the caller as an error number instead of a
 * child that exits 127. The chdir is a file action (posix_spawn_file_actions_addchdir_np, glibc
 * 2.29+, also on macOS and the BSDs), so the parent's own directory never changes. */
kpOs_err kpOs_runShell(const char *command, const char *dir, kpOs_exit *out) {
    /* The child writes straight to the file descriptors we share; what our stdio still buffers
     * was printed before it and must come out first. */
    fflush(NULL);
    posix_spawn_file_actions_t actions;
    int e = posix_spawn_file_actions_init(&actions);
    if (e != 0) return kpOsPosix_err(e);
    if (dir && (e = posix_spawn_file_actions_addchdir_np(&actions, dir)) != 0) goto fail;
    char *argv[] = { "sh", "-c", (char *)command, NULL };
    pid_t pid;
    if ((e = posix_spawn(&pid, "/bin/sh", &actions, NULL, argv, environ)) != 0) goto fail;
    posix_spawn_file_actions_destroy(&actions);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        /* EINTR: a signal the caller handles arrived; the child is still ours to wait for. */
        if (errno != EINTR) return kpOsPosix_lastErr();
    }
    out->code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    out->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return KP_OS_OK;
fail:
    posix_spawn_file_actions_destroy(&actions);
    return kpOsPosix_err(e);
}

/* Feed, drain and reap: stdin written as the child reads it, stdout and stderr read as they come
 * (poll), so neither side blocks on a full pipe. */
kpOs_err kpOs_runFilter(const char *path, char *const argv[], const uint8_t *in, size_t in_len, uint8_t **out,
                        size_t *out_len, char *msg, size_t msg_cap, kpOs_exit *exit) {
    kpBuf got = { 0 };
    int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
    kpOs_err st = KP_OS_OK;
    size_t mlen = 0;
    if (msg_cap) msg[0] = 0;
    if (pipe2(pin, O_CLOEXEC) != 0 || pipe2(pout, O_CLOEXEC) != 0 || pipe2(perr, O_CLOEXEC) != 0) {
        st = kpOsPosix_err(errno);
        goto close_all;
    }
    posix_spawn_file_actions_t fa;
    int e = posix_spawn_file_actions_init(&fa);
    if (e != 0) {
        st = kpOsPosix_err(e);
        goto close_all;
    }
    posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
    pid_t pid;
    e = posix_spawn(&pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        st = kpOsPosix_err(e);
        goto close_all;
    }
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    pin[0] = pout[1] = perr[1] = -1;
    fcntl(pin[1], F_SETFL, O_NONBLOCK);
    /* A child that exits before reading all its input must not kill us with SIGPIPE: blocked on
     * this thread while we write, and a pending one consumed before unblocking. */
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    size_t sent = 0;
    if (in_len == 0) {
        close(pin[1]);
        pin[1] = -1;
    }
    while (pout[0] >= 0 || perr[0] >= 0) {
        struct pollfd p[3] = { { pout[0], POLLIN, 0 }, { perr[0], POLLIN, 0 }, { pin[1], POLLOUT, 0 } };
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR) continue;
            st = kpOsPosix_err(errno);
            break;
        }
        if (p[2].revents) {
            ssize_t n = write(pin[1], in + sent, in_len - sent);
            if (n > 0) sent += (size_t)n;
            if (n < 0 && errno != EAGAIN && errno != EINTR) sent = in_len; /* the child stopped reading */
            if (sent == in_len) {
                close(pin[1]);
                pin[1] = -1;
            }
        }
        for (int k = 0; k < 2; k++) {
            int *fd = k ? &perr[0] : &pout[0];
            if (!p[k].revents) continue;
            uint8_t buf[65536];
            ssize_t n = read(*fd, buf, sizeof buf);
            if (n > 0 && k == 0 && kpBuf_push(&got, buf, (size_t)n)) st = KP_OS_ENOMEM;
            if (n > 0 && k == 1 && mlen + 1 < msg_cap) {
                size_t take = (size_t)n < msg_cap - 1 - mlen ? (size_t)n : msg_cap - 1 - mlen;
                memcpy(msg + mlen, buf, take);
                msg[mlen += take] = 0;
            }
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                close(*fd);
                *fd = -1;
            }
        }
    }
    if (pin[1] >= 0) {
        close(pin[1]);
        pin[1] = -1;
    }
    struct timespec zero = { 0, 0 };
    while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE) {}
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    exit->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    exit->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
close_all:
    for (int i = 0; i < 2; i++) {
        if (pin[i] >= 0) close(pin[i]);
        if (pout[i] >= 0) close(pout[i]);
        if (perr[i] >= 0) close(perr[i]);
    }
    *out = got.data;
    *out_len = got.len;
    return st;
}

bool kpOs_besideExe(const char *name, char *buf, size_t cap) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return false;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return false;
    *slash = 0;
    int k = snprintf(buf, cap, "%s/%s", self, name);
    return k > 0 && (size_t)k < cap && access(buf, X_OK) == 0;
}
