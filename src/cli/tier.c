/*
 * tier.c -- `--tier interp|native` and `--cache DIR` for the commands that run code: with the
 * native tier a binary module is compiled once by kapsul-llvmc (a separate process, so this
 * binary never loads LLVM) and cached under its content hash; a .kwasm is used as it is.
 *
 * Cache entries are named <sha256 of the module>.O2.<compiler stamp>.kwasm; one written by another kapsul version
 * or for another CPU fails kpArtifact_read and is simply compiled again over.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/native/native.h"

extern char **environ;

int kpCli_tierOption(kpCliTier *t, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (strcmp(a, "--tier") == 0 || strcmp(a, "--cache") == 0) {
        if (*i + 1 >= argc) return -1;
        const char *v = argv[++*i];
        if (a[2] == 'c') {
            t->cache = v;
            return 1;
        }
        if (strcmp(v, "native") == 0) t->native = true;
        else if (strcmp(v, "interp") == 0) t->native = false;
        else return -1;
        return 1;
    }
    return 0;
}

/* mkdir -p */
static bool make_dirs(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        bool ok = mkdir(path, 0755) == 0 || errno == EEXIST;
        *p = '/';
        if (!ok) return false;
    }
    return mkdir(path, 0755) == 0 || errno == EEXIST;
}

/* The cache directory: --cache, else $XDG_CACHE_HOME/kapsul, else $HOME/.cache/kapsul. */
static bool cache_dir(const kpCliTier *t, char *out, size_t cap) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (t->cache) n = snprintf(out, cap, "%s", t->cache);
    else if (xdg && *xdg) n = snprintf(out, cap, "%s/kapsul", xdg);
    else if (home && *home) n = snprintf(out, cap, "%s/.cache/kapsul", home);
    else n = snprintf(out, cap, "/tmp/kapsul-cache");
    return n > 0 && (size_t)n < cap && make_dirs(out);
}

/* Run kapsul-llvmc with the module on its stdin, writing `out_path`; its stderr into msg. */
static kapsul_status run_compiler(const uint8_t *wasm, size_t len, const char *out_path, kapsul_error *err) {
    char helper[4200];
    if (!kpCli_nativeCompiler(helper, sizeof helper))
        return kpError_set(err, KAPSUL_ERR_LIMIT, 0,
                           "this kapsul was built without LLVM; the native tier is absent");
    /* Close-on-exec, so a compiler started by another thread at the same time (kapsul up's
     * warm-up) does not inherit this one's pipe ends and hold its stdin open. */
    int in[2], errp[2];
    if (pipe2(in, O_CLOEXEC) != 0) return kpError_set(err, KAPSUL_ERR_IO, 0, "pipe: %s", strerror(errno));
    if (pipe2(errp, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return kpError_set(err, KAPSUL_ERR_IO, 0, "pipe: %s", strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, errp[0]);
    char *argv[] = { helper, "-", "-o", (char *)out_path, "-O2", NULL };
    pid_t pid;
    int rc = posix_spawn(&pid, helper, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(errp[1]);
    kapsul_status st = KAPSUL_OK;
    if (rc != 0) {
        close(in[1]);
        close(errp[0]);
        return kpError_set(err, KAPSUL_ERR_IO, 0, "cannot run %s: %s", helper, strerror(rc));
    }
    for (size_t at = 0; at < len;) {
        ssize_t n = write(in[1], wasm + at, len - at);
        if (n <= 0) break;
        at += (size_t)n;
    }
    close(in[1]);
    char msg[512];
    size_t mlen = 0;
    char drop[512];
    for (ssize_t n; (n = mlen + 1 < sizeof msg ? read(errp[0], msg + mlen, sizeof msg - 1 - mlen)
                                               : read(errp[0], drop, sizeof drop)) > 0;)
        if (mlen + 1 < sizeof msg)
            mlen += (size_t)n; /* the rest is read and dropped: never block the child */
    msg[mlen] = 0;
    close(errp[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *nl = strchr(msg, '\n');
        if (nl) *nl = 0;
        /* "-: error at offset 0x..: what" -> what the compiler said after the file name. */
        const char *m = strncmp(msg, "-: ", 3) == 0 ? msg + 3 : msg;
        st = kpError_set(err, KAPSUL_ERR_LIMIT, 0, "native tier: %s", *m ? m : "the compiler failed");
    }
    return st;
}

kapsul_status kpCli_nativeArtifact(const kpCliTier *t, const uint8_t *wasm, size_t len, kpBuf *out,
                                   kapsul_error *err) {
    memset(out, 0, sizeof *out);
    if (kpArtifact_isKwasm(wasm, len))
        return kpBuf_push(out, wasm, len) ? kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory")
                                          : KAPSUL_OK;
    char dir[4096], path[4300], tmp[4400];
    if (!cache_dir(t, dir, sizeof dir))
        return kpError_set(err, KAPSUL_ERR_IO, 0, "cannot create the cache directory %s", dir);
    uint8_t h[32];
    kpSha256(wasm, len, h);
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", h[i]);
    /* The compiler's identity (its file's size and time) is part of the name, so a rebuilt
     * kapsul-llvmc never serves code an older one compiled. */
    char helper[4200];
    struct stat sb;
    unsigned long stamp = 0;
    if (kpCli_nativeCompiler(helper, sizeof helper) && stat(helper, &sb) == 0)
        stamp = (unsigned long)sb.st_size ^ ((unsigned long)sb.st_mtim.tv_sec << 20) ^
                (unsigned long)sb.st_mtim.tv_nsec;
    snprintf(path, sizeof path, "%s/%s.O2.%lx.kwasm", dir, hex, stamp);
    kpArtifact a;
    kapsul_error ignored;
    if (kpCli_readFile(path, out, &ignored) == KAPSUL_OK) {
        if (kpArtifact_read(out->data, out->len, &a, &ignored) == KAPSUL_OK) return KAPSUL_OK;
        kpBuf_free(out);
    }
    static atomic_uint seq; /* several threads may compile the same module (kapsul up's warm-up) */
    snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", path, (long)getpid(), atomic_fetch_add(&seq, 1));
    kapsul_status st = run_compiler(wasm, len, tmp, err);
    if (st == KAPSUL_OK && rename(tmp, path) != 0)
        st = kpError_set(err, KAPSUL_ERR_IO, 0, "%s: %s", path, strerror(errno));
    unlink(tmp);
    if (st == KAPSUL_OK) st = kpCli_readFile(path, out, err);
    return st;
}
