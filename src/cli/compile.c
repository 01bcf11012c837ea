/*
 * compile.c -- `kapsul compile IN.wasm [-o OUT.kwasm] [-O0..3]`: hand the arguments to the
 * kapsul-llvmc helper installed beside this binary (the only program that links LLVM), and
 * find that helper for --tier native's cache (kpCli_nativeCompiler).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

bool kpCli_nativeCompiler(char *path, size_t cap) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return false;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return false;
    *slash = 0;
    if ((size_t)snprintf(path, cap, "%s/kapsul-llvmc", self) >= cap) return false;
    return access(path, X_OK) == 0;
}

int kpCli_compile(int argc, char **argv) {
    char helper[4200];
    if (!kpCli_nativeCompiler(helper, sizeof helper)) {
        if (argc > 1 && kpCli_isHelp(argv[1])) {
            puts("usage: kapsul compile IN.wasm [-o OUT.kwasm] [-O0|-O1|-O2|-O3]");
            return KP_EXIT_OK;
        }
        fprintf(stderr, "kapsul compile: this kapsul was built without LLVM; the native tier is absent "
                        "(no kapsul-llvmc beside the kapsul binary; install llvm-14-dev and rebuild)\n");
        return KP_EXIT_USAGE;
    }
    argv[0] = helper;
    execv(helper, argv);
    fprintf(stderr, "kapsul compile: cannot run %s: %s\n", helper, strerror(errno));
    return KP_EXIT_USAGE;
}
