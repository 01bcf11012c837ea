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
#include "os/os.h"

bool kpCli_nativeCompiler(char *path, size_t cap) { return kpOs_besideExe("kapsul-llvmc", path, cap); }

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
