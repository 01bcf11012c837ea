/*
 * proc_posix.c -- os.h's child processes for Linux and other POSIX systems: one shell command,
 * run to its end (kapsul build).
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>

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
