/*
 * oci.c -- `kapsul oci` in the static CLI, and registry references for `kapsul run` and
 * `kapsul up`: both go through build/kapsul-oci (oci_main.c), the dynamically linked program with
 * the OCI client (libcurl, jansson, libarchive), run from kapsul's own directory the way
 * kapsul-serve is (docs/RATIONALE.md, "kapsul-oci: the OCI client in its own program").
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "os/os.h"

int kpCli_oci(int argc, char **argv) {
    char path[PATH_MAX + 16] = "";
    if (!kpOs_besideExe("kapsul-oci", path, sizeof path)) {
        fprintf(stderr,
                "kapsul oci: cannot run %s: no such program (kapsul-oci is installed beside kapsul)\n",
                path[0] ? path : "kapsul-oci");
        return KP_EXIT_FAIL;
    }
    char *args[argc + 1];
    args[0] = path;
    for (int i = 1; i < argc; i++) args[i] = argv[i];
    args[argc] = NULL;
    execv(path, args);
    fprintf(stderr, "kapsul oci: cannot run %s: %s (kapsul-oci is installed beside kapsul)\n", path,
            strerror(errno));
    return KP_EXIT_FAIL;
}

bool kpCli_isOciRef(const char *arg) {
    struct stat st;
    if (stat(arg, &st) == 0) return false; /* a file or directory of that name wins */
    if (strncmp(arg, "oci:", 4) == 0) return true;
    const char *slash = strchr(arg, '/');
    if (!slash) return false;
    size_t n = (size_t)(slash - arg), len = strlen(arg);
    /* A missing ./x.wasm, ../x or some.dir/x.wasm is a missing file, not a registry. */
    if ((n == 1 && arg[0] == '.') || (n == 2 && arg[0] == '.' && arg[1] == '.')) return false;
    if ((len > 5 && strcmp(arg + len - 5, ".wasm") == 0) || (len > 4 && strcmp(arg + len - 4, ".wat") == 0))
        return false;
    return (n == 9 && strncmp(arg, "localhost", 9) == 0) || memchr(arg, '.', n) || memchr(arg, ':', n);
}

/* Docker's default: registries on the loopback interface speak plain HTTP. */
static bool loopback_registry(const char *ref) {
    return strncmp(ref, "127.", 4) == 0 || strncmp(ref, "localhost:", 10) == 0 ||
           strncmp(ref, "localhost/", 10) == 0 || strncmp(ref, "[::1]", 5) == 0;
}

int kpCli_ociFetch(const char *cmd, const char *ref, char *out, size_t cap) {
    char path[PATH_MAX + 16] = "";
    if (!kpOs_besideExe("kapsul-oci", path, sizeof path)) {
        fprintf(stderr, "kapsul %s: cannot run %s: no such program (kapsul-oci is installed beside kapsul)\n",
                cmd, path[0] ? path : "kapsul-oci");
        return KP_EXIT_FAIL;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        fprintf(stderr, "kapsul %s: pipe: %s\n", cmd, strerror(errno));
        return KP_EXIT_FAIL;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "kapsul %s: fork: %s\n", cmd, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return KP_EXIT_FAIL;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char *args[5];
        int k = 0;
        args[k++] = path;
        args[k++] = "fetch";
        if (loopback_registry(ref)) args[k++] = "--plain-http";
        args[k++] = (char *)ref;
        args[k] = NULL;
        execv(path, args);
        fprintf(stderr, "kapsul %s: cannot run %s: %s\n", cmd, path, strerror(errno));
        _exit(KP_EXIT_FAIL);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], out + len, cap - 1 - len)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) len += (size_t)n;
    close(fds[0]);
    out[len] = 0;
    while (len && out[len - 1] == '\n') out[--len] = 0;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || len == 0) return KP_EXIT_FAIL; /* it said why */
    /* A module for run, an application (a directory with spin.toml) for up. */
    struct stat st;
    bool app = stat(out, &st) == 0 && S_ISDIR(st.st_mode), want_app = strcmp(cmd, "up") == 0;
    if (app != want_app) {
        fprintf(stderr, "kapsul %s: %s is %s (use kapsul %s)\n", cmd, ref,
                app ? "a Spin application, not a module" : "a module, not a Spin application",
                app ? "up -f REF" : "run REF");
        return KP_EXIT_FAIL;
    }
    return KP_EXIT_OK;
}

int kpCli_ociResolveFrom(int argc, char **argv) {
    static char path[PATH_MAX];
    for (int i = 1; i < argc; i++) {
        char **slot = NULL;
        if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--from") == 0) && i + 1 < argc)
            slot = &argv[i + 1];
        else if (strncmp(argv[i], "--from=", 7) == 0) slot = &argv[i];
        if (!slot) continue;
        const char *ref = slot == &argv[i] ? argv[i] + 7 : *slot;
        if (!kpCli_isOciRef(ref)) return KP_EXIT_OK;
        int rc = kpCli_ociFetch(argv[0], ref, path, sizeof path);
        if (rc) return rc;
        *slot = path; /* "--from=REF" becomes the bare path: kapsul-serve takes both forms */
        if (slot == &argv[i]) {
            static char opt[PATH_MAX + 8];
            snprintf(opt, sizeof opt, "--from=%s", path);
            *slot = opt;
        }
        return KP_EXIT_OK;
    }
    return KP_EXIT_OK;
}
