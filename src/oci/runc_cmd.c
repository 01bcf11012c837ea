/*
 * runc_cmd.c -- kapsul-runc's commands for wasm containers: create, start, state, kill, delete,
 * ps and features, each a small function over ROOT/ID (runc.h has the lifecycle).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oci/runc.h"
#include "os/os.h"

static const char *status_name(kpRuncStatus s) {
    switch (s) {
    case KP_RUNC_CREATED: return "created";
    case KP_RUNC_RUNNING: return "running";
    case KP_RUNC_STOPPED: return "stopped";
    }
    return "unknown";
}

/* dir/name, or name itself when absolute. */
static bool join(char *buf, size_t cap, const char *dir, const char *name) {
    int n = name[0] == '/' ? snprintf(buf, cap, "%s", name) : snprintf(buf, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap;
}

/* Without openat2: one component at a time, none of them "..", none a symlink. */
static kpOs_err open_walk(kpOs_fd dir, const char *path, kpOs_fd *out) {
    char name[KP_OS_NAME_MAX + 1];
    kpOs_fd cur = KP_OS_NO_FD;
    kpOs_err e = kpOs_dup(dir, &cur);
    while (e == KP_OS_OK) {
        size_t n = strcspn(path, "/");
        if (n == 0 || n > KP_OS_NAME_MAX) e = n ? KP_OS_ENAMETOOLONG : KP_OS_ENOENT;
        if (e != KP_OS_OK) break;
        memcpy(name, path, n);
        name[n] = 0;
        if (strcmp(name, "..") == 0) {
            e = KP_OS_ENOTCAPABLE;
            break;
        }
        bool last = path[n] == 0;
        kpOs_fd next;
        e = kpOs_openAt(cur, name, KP_OS_O_NOFOLLOW | (last ? KP_OS_O_READ : KP_OS_O_DIRECTORY), &next);
        kpOs_close(cur);
        cur = e == KP_OS_OK ? next : KP_OS_NO_FD;
        if (e != KP_OS_OK || last) break;
        path += n;
        while (*path == '/') path++;
    }
    if (e != KP_OS_OK) {
        if (cur != KP_OS_NO_FD) kpOs_close(cur);
        return e;
    }
    *out = cur;
    return KP_OS_OK;
}

/* The module's bytes, read from beneath the rootfs: process.args[0] relative to process.cwd,
 * resolved so that no symlink or ".." in the image leads outside it. */
static int read_module(const kpRunc *rc, const kpRuncSpec *spec, const char *rootfs, kpBuf *out) {
    char rel[KP_OS_PATH_MAX];
    const char *prog = spec->args[0];
    if (!join(rel, sizeof rel, spec->cwd ? spec->cwd : "/", prog))
        return kpRunc_error(rc, "path too long: %s", prog);
    const char *p = rel;
    while (*p == '/') p++;
    kpOs_fd dir = KP_OS_NO_FD, fd = KP_OS_NO_FD;
    kpOs_err e = kpOs_openDir(rootfs, &dir);
    if (e != KP_OS_OK) return kpRunc_error(rc, "rootfs %s: %s", rootfs, kpOs_strerror(e));
    e = kpOs_openBeneath(dir, p, KP_OS_O_READ, &fd);
    if (e == KP_OS_ENOSYS) e = open_walk(dir, p, &fd); /* kernels before 5.6 */
    kpOs_close(dir);
    if (e != KP_OS_OK)
        return kpRunc_error(rc, "the wasm module %s in the rootfs %s: %s", prog, rootfs, kpOs_strerror(e));
    int rcode = 0;
    for (;;) {
        if (kpBuf_reserve(out, 65536) != 0) {
            rcode = kpRunc_error(rc, "out of memory reading %s", prog);
            break;
        }
        kpOs_iov iov = { out->data + out->len, 65536 };
        size_t done = 0;
        if ((e = kpOs_read(fd, &iov, 1, &done)) != KP_OS_OK) {
            rcode = kpRunc_error(rc, "reading %s: %s", prog, kpOs_strerror(e));
            break;
        }
        if (done == 0) break;
        out->len += done;
        if (out->len > KP_RUNC_MAX_MODULE) {
            rcode = kpRunc_error(rc, "%s is larger than %u MiB", prog, KP_RUNC_MAX_MODULE >> 20);
            break;
        }
    }
    kpOs_close(fd);
    return rcode;
}

/* Wait for the container process's one-byte answer: 0 = ready, else an error text follows. */
static int await_ready(const kpRunc *rc, kpOs_fd fd) {
    char buf[1024];
    size_t len = 0;
    while (len < sizeof buf - 1) {
        kpOs_iov iov = { buf + len, sizeof buf - 1 - len };
        size_t done = 0;
        kpOs_err e = kpOs_read(fd, &iov, 1, &done);
        if (e == KP_OS_EINTR) continue;
        if (e != KP_OS_OK || done == 0) break;
        len += done;
        if (buf[0] == 0) return 0;
    }
    buf[len] = 0;
    if (len == 0) return kpRunc_error(rc, "the container process ended before it was ready");
    return kpRunc_error(rc, "%s", buf);
}

/* The parent's half of create once the bundle is known to be wasm. */
static int create_wasm(const kpRunc *rc, const kpRuncCreate *o, const kpRuncSpec *spec, const char *bundle) {
    char rootfs[KP_OS_PATH_MAX], dir[KP_OS_PATH_MAX], fifo[KP_OS_PATH_MAX], created[48];
    kpBuf bytes = { 0 };
    kapsul_engine *engine = NULL;
    kapsul_module *module = NULL;
    kapsul_error kerr;
    kpOs_fd ready[2] = { KP_OS_NO_FD, KP_OS_NO_FD };
    bool made = false;
    int status = 1;
    if (!join(rootfs, sizeof rootfs, bundle, spec->root_path) ||
        !kpRunc_path(rc, o->id, NULL, dir, sizeof dir) ||
        !kpRunc_path(rc, o->id, "exec.fifo", fifo, sizeof fifo))
        return kpRunc_error(rc, "path too long");
    /* With the systemd driver the path is "slice:prefix:name" and the group is a systemd unit made
     * over D-Bus; kapsul-runc does not do that yet (docs/DEPLOYMENT.md). */
    const char *cgroup = rc->systemd_cgroup ? NULL : spec->cgroups_path;
    if (rc->systemd_cgroup && spec->cgroups_path)
        kpRunc_warn(rc, "--systemd-cgroup: the wasm container %s joins no cgroup (not supported yet)", o->id);
    kpOs_err e = kpOs_mkdirs(rc->root);
    if (e != KP_OS_OK) return kpRunc_error(rc, "creating root %s: %s", rc->root, kpOs_strerror(e));
    if ((e = kpOs_mkdirAt(KP_OS_NO_FD, dir)) == KP_OS_EEXIST) /* dir is absolute */
        return kpRunc_error(rc, "container with id exists: %s", o->id);
    if (e != KP_OS_OK) return kpRunc_error(rc, "creating %s: %s", dir, kpOs_strerror(e));
    made = true;
    if (read_module(rc, spec, rootfs, &bytes) != 0) goto fail;
    /* Decode, validate and compile here, so a bad module fails create with the reason. */
    kapsul_config cfg = { .max_memory_bytes = (size_t)spec->memory_limit };
    if (kapsul_engine_new(&cfg, &engine, &kerr) != KAPSUL_OK) {
        kpRunc_error(rc, "%s", kerr.message);
        goto fail;
    }
    if (kapsul_module_new(engine, bytes.data, bytes.len, &module, &kerr) != KAPSUL_OK) {
        kpRunc_error(rc, "%s: %s: %s", spec->args[0], kapsul_status_name(kerr.code), kerr.message);
        goto fail;
    }
    kpBuf_free(&bytes);
    if ((e = kpOs_mkfifo(fifo)) != KP_OS_OK || (e = kpOs_pipe(ready)) != KP_OS_OK) {
        kpRunc_error(rc, "creating %s: %s", fifo, kpOs_strerror(e));
        goto fail;
    }
    int pid;
    if ((e = kpOs_fork(&pid)) != KP_OS_OK) {
        kpRunc_error(rc, "fork: %s", kpOs_strerror(e));
        goto fail;
    }
    if (pid == 0) {
        kpOs_close(ready[0]);
        kpRuncProc p = { rc,     spec, cgroup,  spec->terminal ? o->console_socket : NULL, rootfs, engine,
                         module, fifo, ready[1] };
        kpRunc_process(&p);
    }
    kpOs_close(ready[1]);
    ready[1] = KP_OS_NO_FD;
    if (await_ready(rc, ready[0]) != 0) {
        kpOs_signal(pid, 9); /* SIGKILL; it may be blocked on the fifo */
        goto fail;
    }
    kpRunc_now(created, sizeof created);
    kpRuncState st = { .id = (char *)o->id,
                       .bundle = (char *)bundle,
                       .rootfs = rootfs,
                       .created = created,
                       .pid = pid,
                       .cgroup = (char *)cgroup,
                       .annotations = spec->annotations,
                       .nannotations = spec->nannotations };
    bool alive;
    if ((e = kpOs_procStart(pid, &st.start, &alive)) != KP_OS_OK || !alive) {
        kpRunc_error(rc, "the container process ended before it was ready");
        goto fail;
    }
    if (kpRunc_stateSave(rc, &st) != 0) {
        kpOs_signal(pid, 9);
        goto fail;
    }
    if (o->pid_file) {
        char text[32];
        int n = snprintf(text, sizeof text, "%d", pid);
        if ((e = kpOs_writePathAtomic(o->pid_file, text, (size_t)n)) != KP_OS_OK) {
            kpRunc_error(rc, "writing the pid file %s: %s", o->pid_file, kpOs_strerror(e));
            kpOs_signal(pid, 9);
            goto fail;
        }
    }
    status = 0;
    made = false;
fail:
    if (ready[0] != KP_OS_NO_FD) kpOs_close(ready[0]);
    if (ready[1] != KP_OS_NO_FD) kpOs_close(ready[1]);
    if (made) kpRunc_stateRemove(rc, o->id);
    kpBuf_free(&bytes);
    kapsul_module_free(module);
    kapsul_engine_free(engine);
    return status;
}

int kpRunc_create(const kpRunc *rc, const kpRuncCreate *o) {
    char bundle[KP_OS_PATH_MAX], cwd[KP_OS_PATH_MAX], cfgpath[KP_OS_PATH_MAX], msg[512];
    void *text = NULL;
    size_t len;
    kpRuncSpec spec;
    if (!kpRunc_idValid(o->id)) return kpRunc_error(rc, "invalid container id format: %s", o->id);
    const char *b = o->bundle ? o->bundle : ".";
    if (kpOs_cwd(cwd, sizeof cwd) != KP_OS_OK || !join(bundle, sizeof bundle, cwd, b) ||
        !join(cfgpath, sizeof cfgpath, bundle, "config.json"))
        return kpRunc_error(rc, "bundle path too long: %s", b);
    kpOs_err e = kpOs_readPath(cfgpath, KP_RUNC_MAX_CONFIG, &text, &len);
    if (e != KP_OS_OK) return kpRunc_error(rc, "reading %s: %s", cfgpath, kpOs_strerror(e));
    int r = kpRunc_specParse(text, len, &spec, msg, sizeof msg);
    free(text);
    if (r != 0)
        return kpRunc_error(rc, "%s: %s", cfgpath, msg + (strncmp(msg, "config.json: ", 13) == 0 ? 13 : 0));
    if (!kpRunc_specIsWasm(&spec)) {
        kpRunc_specFree(&spec);
        return KP_RUNC_DELEGATE_STATUS;
    }
    if (spec.terminal && !o->console_socket) {
        kpRunc_specFree(&spec);
        return kpRunc_error(rc, "process.terminal is set but no --console-socket was given");
    }
    r = create_wasm(rc, o, &spec, bundle);
    kpRunc_specFree(&spec);
    return r;
}

/* Opening the fifo for reading releases the process blocked opening it for writing; its one
 * byte says it passed the gate. A process that died meanwhile never writes: poll in slices and
 * look at it between them. */
int kpRunc_start(const kpRunc *rc, const char *id) {
    kpRuncState st;
    char fifo[KP_OS_PATH_MAX];
    if (kpRunc_stateLoad(rc, id, &st) != 0) return 1;
    int status = 1;
    if (st.status != KP_RUNC_CREATED) {
        kpRunc_error(rc, "cannot start a container that has %s",
                     st.status == KP_RUNC_RUNNING ? "already been started" : "stopped");
        goto out;
    }
    kpOs_fd fd;
    kpOs_err e = KP_OS_ENAMETOOLONG;
    if (kpRunc_path(rc, id, "exec.fifo", fifo, sizeof fifo))
        e = kpOs_openAt(KP_OS_NO_FD, fifo, KP_OS_O_READ | KP_OS_O_NONBLOCK, &fd);
    if (e != KP_OS_OK) {
        kpRunc_error(rc, "opening %s: %s", fifo, kpOs_strerror(e));
        goto out;
    }
    uint64_t waited = 0, slice = 100000000u;
    while (waited < KP_RUNC_START_WAIT_NS) {
        kpOs_pollfd pfd = { fd, KP_OS_POLL_IN, 0 };
        int ready = 0;
        kpOs_poll(&pfd, 1, slice, &ready);
        char byte;
        kpOs_iov iov = { &byte, 1 };
        size_t done = 0;
        if (ready && kpOs_read(fd, &iov, 1, &done) == KP_OS_OK && done == 1) {
            status = 0;
            break;
        }
        uint64_t start;
        bool alive;
        if (kpOs_procStart(st.pid, &start, &alive) != KP_OS_OK || !alive || start != st.start) break;
        waited += slice;
    }
    kpOs_close(fd);
    kpOs_unlinkAt(KP_OS_NO_FD, fifo, false);
    if (status != 0)
        kpRunc_error(rc, "the container process did not start (it ended, or did not answer in time)");
out:
    kpRunc_stateFree(&st);
    return status;
}

/* runc's `state` document. */
int kpRunc_state(const kpRunc *rc, const char *id) {
    kpRuncState st;
    if (kpRunc_stateLoad(rc, id, &st) != 0) return 1;
    json_t *ann = kpRunc_kvJson(st.annotations, st.nannotations);
    json_t *o = ann ? json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:o}", "ociVersion", "1.0.2", "id",
                                st.id, "pid", st.status == KP_RUNC_STOPPED ? 0 : st.pid, "status",
                                status_name(st.status), "bundle", st.bundle, "rootfs", st.rootfs, "created",
                                st.created, "owner", "", "annotations", ann)
                    : NULL;
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    kpRunc_stateFree(&st);
    if (!text) return kpRunc_error(rc, "out of memory");
    puts(text);
    free(text);
    return 0;
}

int kpRunc_kill(const kpRunc *rc, const char *id, const char *signal, bool all) {
    (void)all; /* a wasm container is one process: --all reaches the same one */
    int sig = kpOs_signalNumber(signal ? signal : "TERM");
    if (sig == 0) return kpRunc_error(rc, "unknown signal \"%s\"", signal);
    kpRuncState st;
    if (kpRunc_stateLoad(rc, id, &st) != 0) return 1;
    int status = 0;
    if (st.status == KP_RUNC_STOPPED) status = kpRunc_error(rc, "container not running");
    else {
        kpOs_err e = kpOs_signal(st.pid, sig);
        if (e != KP_OS_OK) status = kpRunc_error(rc, "kill %d: %s", st.pid, kpOs_strerror(e));
    }
    kpRunc_stateFree(&st);
    return status;
}

/* A created container (still at the gate) is deleted like a stopped one, after a SIGKILL; a
 * running one needs --force. */
int kpRunc_delete(const kpRunc *rc, const char *id, bool force) {
    kpRuncState st;
    if (kpRunc_stateLoad(rc, id, &st) != 0) return 1;
    int status = 0;
    if (st.status == KP_RUNC_RUNNING && !force) {
        status = kpRunc_error(rc, "cannot delete container %s that is not stopped: running", id);
        goto out;
    }
    if (st.status != KP_RUNC_STOPPED) {
        kpOs_signal(st.pid, 9);
        for (uint64_t waited = 0;; waited += 10000000u) {
            uint64_t start;
            bool alive;
            if (kpOs_procStart(st.pid, &start, &alive) != KP_OS_OK || !alive || start != st.start) break;
            if (waited >= KP_RUNC_KILL_WAIT_NS) {
                status = kpRunc_error(rc, "container %s did not end after SIGKILL", id);
                goto out;
            }
            kpOs_sleepNs(10000000u);
        }
    }
    if (st.cgroup) kpOs_cgroupRemove(st.cgroup);
    kpRunc_stateRemove(rc, id);
out:
    kpRunc_stateFree(&st);
    return status;
}

int kpRunc_ps(const kpRunc *rc, const char *id, bool json) {
    kpRuncState st;
    if (kpRunc_stateLoad(rc, id, &st) != 0) return 1;
    bool live = st.status != KP_RUNC_STOPPED;
    if (json) {
        if (live) printf("[%d]\n", st.pid);
        else puts("[]");
    } else {
        puts("PID");
        if (live) printf("%d\n", st.pid);
    }
    kpRunc_stateFree(&st);
    return 0;
}

/* What `runc features` reports, for kapsul-runc's own containers (runtime-spec features.md). */
int kpRunc_features(const kpRunc *rc) {
    (void)rc;
    puts("{\n"
         "  \"ociVersionMin\": \"1.0.0\",\n"
         "  \"ociVersionMax\": \"1.1.0\",\n"
         "  \"hooks\": [],\n"
         "  \"mountOptions\": [\"bind\", \"rbind\", \"ro\", \"rw\"],\n"
         "  \"linux\": {\n"
         "    \"namespaces\": [\"network\"],\n"
         "    \"capabilities\": [],\n"
         "    \"cgroup\": {\"v1\": false, \"v2\": false, \"systemd\": false, \"systemdUser\": false},\n"
         "    \"seccomp\": {\"enabled\": false},\n"
         "    \"apparmor\": {\"enabled\": false},\n"
         "    \"selinux\": {\"enabled\": false}\n"
         "  },\n"
         "  \"annotations\": {\n"
         "    \"io.kapsul.runc.wasm\": \"process.args[0] ending in .wasm, or " KP_RUNC_COMPAT_KEY
         "=compat\",\n"
         "    \"io.kapsul.runc.delegate\": \"" KP_RUNC_DELEGATE " for every other container\"\n"
         "  }\n"
         "}");
    return 0;
}
