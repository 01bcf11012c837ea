/*
 * serve.c -- `kapsul serve` and `kapsul up` in the static CLI: both exec build/kapsul-serve (the
 * dynamically linked program with the HTTP front, serve_main.c) from the directory kapsul itself
 * was started from, so the static CLI keeps its start-up cost (docs/RATIONALE.md, "A library of
 * its own; the CLI stays static").
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "os/os.h"

/* argv[0] is the subcommand; kapsul-serve gets it as its first argument. */
static int exec_serve(int argc, char **argv) {
    char path[PATH_MAX + 16] = "";
    if (!kpOs_besideExe("kapsul-serve", path, sizeof path)) {
        fprintf(stderr,
                "kapsul %s: cannot run %s: no such program (kapsul-serve is installed beside kapsul)\n",
                argv[0], path[0] ? path : "kapsul-serve");
        return KP_EXIT_FAIL;
    }
    char *args[argc + 2];
    args[0] = path;
    for (int i = 0; i < argc; i++) args[i + 1] = argv[i];
    args[argc + 1] = NULL;
    execv(path, args);
    fprintf(stderr, "kapsul %s: cannot run %s: %s (kapsul-serve is installed beside kapsul)\n", argv[0], path,
            strerror(errno));
    return KP_EXIT_FAIL;
}

int kpCli_serve(int argc, char **argv) { return exec_serve(argc, argv); }
int kpCli_up(int argc, char **argv) {
    int rc = kpCli_ociResolveFrom(argc, argv); /* -f REF: a registry or layout reference */
    return rc ? rc : exec_serve(argc, argv);
}
