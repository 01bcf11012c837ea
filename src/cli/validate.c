/*
 * validate.c -- `kapsul validate FILE...`: decode and validate modules through the public API,
 * exactly as `kapsul run` would load them. Silent on success (like wasm-validate); one error line
 * per bad file.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void validate_usage(FILE *f) {
    fprintf(f, "Decode and validate WebAssembly modules and components\n"
               "\n"
               "Usage: kapsul validate [OPTIONS] FILE...\n"
               "\n"
               "Prints nothing and exits 0 when every FILE is a valid module or component. Otherwise\n"
               "prints, per bad file, `FILE: error at offset 0xNN: MESSAGE` (binary) or\n"
               "`FILE:LINE:COL: MESSAGE` (text that does not parse) and exits 1. An unreadable file\n"
               "exits 2.\n"
               "\n"
               "Options:\n"
               "  -v, --verbose  Print `FILE: ok` for each valid file\n"
               "  -h, --help     Print help\n");
}

/* Load one file; returns its exit status. */
static int validate_one(kapsul_engine *engine, const char *path, bool verbose) {
    kapsul_error err;
    kpBuf bytes;
    kpError_clear(&err);
    kapsul_status st = kpCli_loadModuleBytes(path, &bytes, NULL, &err);
    if (st == KAPSUL_OK) {
        if (kpCli_isComponent(&bytes)) {
            st = kpCli_validateComponent(&bytes, &err);
        } else {
            kapsul_module *module = NULL;
            st = kapsul_module_new(engine, bytes.data, bytes.len, &module, &err);
            kapsul_module_free(module);
        }
        kpBuf_free(&bytes);
    }
    if (st != KAPSUL_OK) {
        kpCli_printError(stderr, path, &err);
        return kpCli_exitFor(st);
    }
    if (verbose) printf("%s: ok\n", path);
    return KP_EXIT_OK;
}

int kpCli_validate(int argc, char **argv) {
    bool verbose = false, only_files = false;
    int nfiles = 0;
    /* Options may appear anywhere before "--"; files are compacted to the front of argv+1. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_files || a[0] != '-' || strcmp(a, "-") == 0) {
            argv[1 + nfiles++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_files = true;
            continue;
        }
        if (kpCli_isHelp(a)) {
            validate_usage(stdout);
            return KP_EXIT_OK;
        }
        if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose = true;
            continue;
        }
        return kpCli_usageError("validate", "unknown option '%s'", a);
    }
    if (nfiles == 0) { return kpCli_usageError("validate", "missing FILE"); }
    kapsul_engine *engine;
    if (kapsul_engine_new(NULL, &engine, NULL) != KAPSUL_OK) {
        fprintf(stderr, "kapsul validate: out of memory\n");
        return KP_EXIT_FAIL;
    }
    int status = KP_EXIT_OK;
    for (int i = 1; i <= nfiles; i++) {
        int s = validate_one(engine, argv[i], verbose);
        if (s > status) status = s;
    }
    kapsul_engine_free(engine);
    return status;
}
