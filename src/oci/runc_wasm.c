/*
 * runc_wasm.c -- the container process of a wasm container: the child that create forks.
 *
 * Before it says "ready" it does everything that can fail for a reason the user must see from
 * create: leaving the shim's session, the terminal (process.terminal: a pty whose master goes to
 * --console-socket), joining or making the network namespace and the cgroup, opening the rootfs
 * and the bind mounts as preopens. Then it blocks opening the exec fifo for writing until start
 * opens it for reading, and runs the module with the stdio the shim gave create. Its exit status
 * is the container's: the guest's exit code, 134 for a trap (as `kapsul run`), 1 when it cannot
 * be instantiated. SIGTERM and SIGKILL keep their default action, so a guest spinning in a loop
 * dies at once (nothing of the sandbox needs to be unwound: the whole process goes).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "oci/runc.h"
#include "os/os.h"

#define KP_RUNC_EXIT_TRAP 134

/* Tell create: 0 = ready, else the error text (and this process ends). */
static void answer(const kpRuncProc *p, const char *error) {
    char zero = 0;
    kpOs_iov iov = { error ? (void *)error : &zero, error ? strlen(error) : 1 };
    size_t done;
    kpOs_write(p->ready_fd, &iov, 1, &done);
    kpOs_close(p->ready_fd);
    if (error) kpOs_exitNow(1);
}

/* The preopens: the rootfs as "/", then every bind mount whose source is a directory at its
 * destination (files such as /etc/hosts cannot be WASI preopens and are skipped). */
static kapsul_wasi_dir *preopens(const kpRuncProc *p, size_t *n) {
    const kpRuncSpec *s = p->spec;
    kapsul_wasi_dir *dirs = kp_calloc(s->nmounts + 1, sizeof *dirs);
    if (!dirs) return NULL;
    dirs[0] = (kapsul_wasi_dir){ p->rootfs, "/", s->root_ro };
    *n = 1;
    for (size_t i = 0; i < s->nmounts; i++) {
        kpOs_stat st;
        if (kpOs_statPath(s->mounts[i].source, &st) != KP_OS_OK || st.type != KP_OS_FT_DIR) continue;
        dirs[(*n)++] = (kapsul_wasi_dir){ s->mounts[i].source, s->mounts[i].dest, s->mounts[i].read_only };
    }
    return dirs;
}

/* The exit status for how _start ended; a trap is reported on the container's stderr. */
static int exit_status(const kpRuncProc *p, kapsul_status st, const kapsul_error *err) {
    if (st == KAPSUL_OK) return 0;
    if (st == KAPSUL_ERR_EXIT) return err->exit_code;
    if (st == KAPSUL_ERR_TRAP) {
        fprintf(stderr, "kapsul-runc: %s: trap (%s): %s\n", p->spec->args[0], kapsul_trap_name(err->trap),
                err->message[0] ? err->message : kapsul_trap_message(err->trap));
        for (int i = 0; i < err->nframes && i < KAPSUL_MAX_FRAMES; i++)
            fprintf(stderr, "  %2d: func[%" PRIu32 "] %s\n", i, err->frames[i].func_index,
                    err->frames[i].name);
        return KP_RUNC_EXIT_TRAP;
    }
    fprintf(stderr, "kapsul-runc: %s: %s: %s\n", p->spec->args[0], kapsul_status_name(st), err->message);
    return 1;
}

void kpRunc_process(const kpRuncProc *p) {
    const kpRuncSpec *s = p->spec;
    char msg[1024];
    kapsul_error err;
    kapsul_wasi *wasi = NULL;
    kapsul_store *store = NULL;
    kapsul_linker *linker = NULL;
    kapsul_instance *inst = NULL;
    size_t ndirs = 0;
    kpOs_err e = kpOs_detach();
    if (e != KP_OS_OK) {
        snprintf(msg, sizeof msg, "setsid: %s", kpOs_strerror(e));
        answer(p, msg);
    }
    if (p->console && (e = kpOs_consoleToSocket(p->console)) != KP_OS_OK) {
        snprintf(msg, sizeof msg, "console socket %s: %s", p->console, kpOs_strerror(e));
        answer(p, msg);
    }
    if (s->net_ns && (e = kpOs_netns(s->net_ns_path)) != KP_OS_OK) {
        snprintf(msg, sizeof msg, "network namespace %s: %s", s->net_ns_path ? s->net_ns_path : "(new)",
                 kpOs_strerror(e));
        answer(p, msg);
    }
    if (p->cgroup && (e = kpOs_cgroupJoin(p->cgroup, 0, s->memory_limit)) != KP_OS_OK) {
        snprintf(msg, sizeof msg, "joining the cgroup %s: %s", p->cgroup, kpOs_strerror(e));
        answer(p, msg);
    }
    kapsul_wasi_dir *dirs = preopens(p, &ndirs);
    if (!dirs) answer(p, "out of memory");
    kapsul_wasi_config wc = { .argv = (const char *const *)s->args,
                              .argc = s->nargs,
                              .env = (const char *const *)s->env,
                              .envc = s->nenv,
                              .dirs = dirs,
                              .ndirs = ndirs,
                              .stdin_fd = 0,
                              .stdout_fd = 1,
                              .stderr_fd = 2 };
    if (kapsul_wasi_new(&wc, &wasi, &err) != KAPSUL_OK) {
        snprintf(msg, sizeof msg, "preopening the rootfs and mounts: %s", err.message);
        answer(p, msg);
    }
    kp_free(dirs);
    if (kapsul_store_new(p->engine, &store, &err) != KAPSUL_OK ||
        kapsul_linker_new(store, &linker, &err) != KAPSUL_OK ||
        kapsul_wasi_define(wasi, linker, &err) != KAPSUL_OK) {
        snprintf(msg, sizeof msg, "setting up the sandbox: %s", err.message);
        answer(p, msg);
    }
    answer(p, NULL);
    /* The gate: blocks until start opens the fifo for reading. */
    kpOs_fd fd;
    if (kpOs_openAt(KP_OS_NO_FD, p->fifo_path, KP_OS_O_WRITE, &fd) != KP_OS_OK) kpOs_exitNow(1);
    char one = '0';
    kpOs_iov iov = { &one, 1 };
    size_t done;
    kpOs_write(fd, &iov, 1, &done);
    kpOs_close(fd);
    kapsul_status st = kapsul_linker_instantiate(linker, p->module, &inst, &err);
    int code;
    if (st != KAPSUL_OK) {
        code = exit_status(p, st, &err);
    } else {
        kapsul_func *start = kapsul_instance_func(inst, "_start");
        if (!start || kapsul_func_param_count(start) || kapsul_func_result_count(start)) {
            fprintf(stderr, "kapsul-runc: %s: no _start export that takes and returns nothing\n", s->args[0]);
            code = 1;
        } else {
            code = exit_status(p, kapsul_func_call(store, start, NULL, 0, NULL, 0, &err), &err);
        }
    }
    fflush(NULL);
    kpOs_exitNow(code);
}
