/*
 * runc_main.c -- `kapsul-runc`: an OCI runtime with runc's command line (src/oci/runc.h).
 *
 *   kapsul-runc [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] [--debug]
 *               [--criu PATH] [--rootless V] COMMAND [options] ID
 *
 * containerd's io.containerd.runc.v2 shim calls: create --bundle B --pid-file F ID, start ID,
 * kill [--all] ID SIG, ps --format json ID, delete [--force] ID (and state ID), always with
 * --root, --log and --log-format json first. A command on an ID that is not a kapsul-runc wasm
 * container, a create whose bundle is not wasm, and every command kapsul-runc does not implement
 * (exec, pause, update, events, checkpoint, list, run, ...) is handed to the delegate runc by
 * exec with the very same arguments, so runc sees exactly what the shim sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kapsul_version.h"
#include "oci/runc.h"
#include "os/os.h"

static const char usage_text[] =
    "usage: kapsul-runc [global options] COMMAND [options] ID\n"
    "An OCI runtime with runc's command line. Containers whose process is a .wasm (process.args[0]\n"
    "ends in .wasm, or the annotation module.wasm.image/variant=compat) run in kapsul's sandbox;\n"
    "all others are handed to runc ($KAPSUL_RUNC_DELEGATE, default " KP_RUNC_DELEGATE ") unchanged.\n"
    "Commands:\n"
    "  create --bundle DIR [--pid-file F] [--console-socket S] [--no-pivot] ID\n"
    "  start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID\n"
    "  ps [--format table|json] ID | features | --version\n"
    "Global options:\n"
    "  --root DIR          state directory (default " KP_RUNC_DEFAULT_ROOT ")\n"
    "  --log FILE          errors go here instead of stderr\n"
    "  --log-format F      text (default) or json (runc's JSON lines)\n"
    "  --systemd-cgroup    the systemd cgroup driver (wasm containers then join no cgroup yet)\n"
    "  --debug, --criu PATH, --rootless V   accepted (passed on to runc)\n";

/* "--name" or "-name", with its value inline ("--root=X") or in the next argument. Returns the
 * number of arguments used (0 when argv[i] is not this option). */
static int option(char **argv, int argc, int i, const char *name, bool takes_value, const char **value) {
    const char *a = argv[i];
    if (a[0] != '-') return 0;
    a += a[1] == '-' ? 2 : 1;
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != 0) return 0;
    if (!takes_value) {
        *value = "true";
        return 1;
    }
    if (i + 1 >= argc) return -1;
    *value = argv[i + 1];
    return 2;
}

/* Make path absolute against the working directory (the commands fork and the child keeps
 * using it; the shim passes absolute paths anyway). */
static bool absolute(char *buf, size_t cap, const char *path) {
    char cwd[4096];
    if (path[0] == '/') return (size_t)snprintf(buf, cap, "%s", path) < cap;
    if (kpOs_cwd(cwd, sizeof cwd) != KP_OS_OK) return false;
    return (size_t)snprintf(buf, cap, "%s/%s", cwd, path) < cap;
}

static int delegate(char **argv) {
    const char *runc = getenv("KAPSUL_RUNC_DELEGATE");
    if (!runc || !*runc) runc = KP_RUNC_DELEGATE;
    argv[0] = (char *)runc;
    kpOs_err e = kpOs_exec(runc, argv);
    fprintf(stderr, "kapsul-runc: cannot run the delegate runtime %s: %s\n", runc, kpOs_strerror(e));
    return 1;
}

typedef struct kpRuncArgs {
    const char *bundle, *pid_file, *console, *format;
    bool all, force;
    const char *pos[2]; /* ID and (kill) the signal */
    int npos;
} kpRuncArgs;

/* The options of one command; those runc has and kapsul-runc ignores are taken with their value. */
static int command_args(const kpRunc *rc, char **argv, int argc, int i, kpRuncArgs *a) {
    for (; i < argc; i++) {
        const char *v = NULL;
        int used;
        if ((used = option(argv, argc, i, "bundle", true, &v)) ||
            (used = option(argv, argc, i, "b", true, &v)))
            a->bundle = v;
        else if ((used = option(argv, argc, i, "pid-file", true, &v))) a->pid_file = v;
        else if ((used = option(argv, argc, i, "console-socket", true, &v))) a->console = v;
        else if ((used = option(argv, argc, i, "format", true, &v))) a->format = v;
        else if ((used = option(argv, argc, i, "all", false, &v)) ||
                 (used = option(argv, argc, i, "a", false, &v)))
            a->all = strcmp(v, "false") != 0;
        else if ((used = option(argv, argc, i, "force", false, &v)) ||
                 (used = option(argv, argc, i, "f", false, &v)))
            a->force = strcmp(v, "false") != 0;
        else if ((used = option(argv, argc, i, "preserve-fds", true, &v))) {
        } else if (argv[i][0] == '-' && argv[i][1] != 0 && a->npos == 0) {
            used = 1; /* --no-pivot, --no-new-keyring, --detach, ...: flags without a value */
        } else {
            if (a->npos < 2) a->pos[a->npos++] = argv[i]; /* later ones: ps's ps(1) options */
            used = 1;
        }
        if (used < 0) return kpRunc_error(rc, "option %s needs a value", argv[i]);
        i += used - 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    kpRunc rc;
    memset(&rc, 0, sizeof rc);
    const char *root = KP_RUNC_DEFAULT_ROOT, *log = NULL, *format = "text";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *v = NULL;
        int used;
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) {
            printf("kapsul-runc version %s\nspec: 1.0.2\nwasm runtime: kapsul %s; other containers: %s\n",
                   KAPSUL_VERSION, KAPSUL_VERSION, KP_RUNC_DELEGATE);
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if ((used = option(argv, argc, i, "root", true, &v))) root = v;
        else if ((used = option(argv, argc, i, "log", true, &v))) log = v;
        else if ((used = option(argv, argc, i, "log-format", true, &v))) format = v;
        else if ((used = option(argv, argc, i, "criu", true, &v)) ||
                 (used = option(argv, argc, i, "rootless", true, &v))) {
        } else if ((used = option(argv, argc, i, "systemd-cgroup", false, &v))) {
            rc.systemd_cgroup = strcmp(v, "false") != 0;
        } else if ((used = option(argv, argc, i, "debug", false, &v))) {
        } else {
            fprintf(stderr, "kapsul-runc: unknown global option %s (see kapsul-runc --help)\n", argv[i]);
            return 1;
        }
        if (used < 0) {
            fprintf(stderr, "kapsul-runc: option %s needs a value\n", argv[i]);
            return 1;
        }
        i += used - 1;
    }
    rc.log_json = strcmp(format, "json") == 0;
    if (log && !absolute(rc.log, sizeof rc.log, log)) return kpRunc_error(&rc, "log path too long");
    if (strcmp(format, "json") != 0 && strcmp(format, "text") != 0)
        return kpRunc_error(&rc, "invalid log format %s (text or json)", format);
    if (!absolute(rc.root, sizeof rc.root, root)) return kpRunc_error(&rc, "root path too long");
    if (i >= argc) {
        fputs(usage_text, stderr);
        return 1;
    }
    const char *cmd = argv[i];
    if (strcmp(cmd, "features") == 0) return kpRunc_features(&rc);
    kpRuncArgs a;
    memset(&a, 0, sizeof a);
    bool ours_cmd = strcmp(cmd, "create") == 0 || strcmp(cmd, "start") == 0 || strcmp(cmd, "state") == 0 ||
                    strcmp(cmd, "kill") == 0 || strcmp(cmd, "delete") == 0 || strcmp(cmd, "ps") == 0;
    if (!ours_cmd) {
        /* exec, pause, update, ...: their own options come first, so any argument may be the ID. */
        for (int k = i + 1; k < argc; k++)
            if (kpRunc_owns(&rc, argv[k]))
                return kpRunc_error(&rc, "%s is not supported for wasm containers (%s)", cmd, argv[k]);
        return delegate(argv);
    }
    if (command_args(&rc, argv, argc, i + 1, &a) != 0) return 1;
    const char *id = a.npos > 0 ? a.pos[0] : NULL;
    if (strcmp(cmd, "create") == 0) {
        if (!id) return kpRunc_error(&rc, "create needs a container ID");
        kpRuncCreate c = { a.bundle, a.pid_file, a.console, id };
        int r = kpRunc_create(&rc, &c);
        return r == KP_RUNC_DELEGATE_STATUS ? delegate(argv) : r;
    }
    if (!id || !kpRunc_owns(&rc, id)) return delegate(argv);
    if (strcmp(cmd, "start") == 0) return kpRunc_start(&rc, id);
    if (strcmp(cmd, "state") == 0) return kpRunc_state(&rc, id);
    if (strcmp(cmd, "kill") == 0) return kpRunc_kill(&rc, id, a.npos > 1 ? a.pos[1] : NULL, a.all);
    if (strcmp(cmd, "delete") == 0) return kpRunc_delete(&rc, id, a.force);
    return kpRunc_ps(&rc, id, a.format && strcmp(a.format, "json") == 0);
}
