/*
 * main.c -- kapsul-llvmc, the native tier's compiler as its own executable:
 *
 *     kapsul-llvmc IN.wasm|IN.wat|- [-o OUT.kwasm|-] [-O0|-O1|-O2|-O3]
 *
 * `kapsul compile` hands its arguments here unchanged, and `--tier native` runs it to fill the
 * cache. It is the only program linked against LLVM (see CMakeLists.txt and docs/RATIONALE.md).
 * Exit status as kapsul's: 0 compiled, 1 the module was refused, 2 usage or I/O error.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/native/llvm/emit.h"

static void usage(FILE *f) {
    fputs("usage: kapsul compile IN.wasm [-o OUT.kwasm] [-O0|-O1|-O2|-O3]\n"
          "Compile a module to native code (x86-64, through LLVM) in a .kwasm artifact that\n"
          "`kapsul run` and `--tier native` load without LLVM. The artifact records the module's\n"
          "hash, kapsul's version, this CPU's features and the flags, and is refused where any differ.\n"
          "  -o FILE   output (default: IN with .kwasm; \"-\" for stdout)\n"
          "  -O LEVEL  optimization level 0-3 (default 2)\n"
          "  --bounds-checks  check every memory access explicitly instead of relying on guard\n"
          "           pages (runs native also where memories cannot be reserved)\n",
          f);
}

/* IN.wasm -> IN.kwasm */
static void default_output(const char *in, char *out, size_t cap) {
    const char *dot = strrchr(in, '.'), *slash = strrchr(in, '/');
    size_t n = (dot && (!slash || dot > slash)) ? (size_t)(dot - in) : strlen(in);
    snprintf(out, cap, "%.*s.kwasm", (int)n, in);
}

static int write_all(const char *path, const kpBuf *b) {
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (!f) {
        perror(path);
        return KP_EXIT_USAGE;
    }
    bool ok = fwrite(b->data, 1, b->len, f) == b->len;
    if (f != stdout) ok = fclose(f) == 0 && ok;
    else ok = fflush(f) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "%s: write failed\n", path);
        return KP_EXIT_USAGE;
    }
    return KP_EXIT_OK;
}

int main(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    unsigned opt = 2;
    bool checks = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (kpCli_isHelp(a)) {
            usage(stdout);
            return KP_EXIT_OK;
        } else if (strcmp(a, "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(a, "--bounds-checks") == 0) {
            checks = true;
        } else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) {
            opt = (unsigned)(a[2] - '0');
        } else if ((a[0] != '-' || strcmp(a, "-") == 0) && !in) {
            in = a;
        } else {
            return kpCli_usageError("compile", "unexpected argument '%s'", a);
        }
    }
    if (!in) return kpCli_usageError("compile", "missing input module");
    char def[4096];
    if (!out) {
        default_output(in, def, sizeof def);
        out = def;
    }
    kpBuf wasm = { 0 }, kwasm = { 0 };
    kapsul_error err;
    kpError_clear(&err);
    kapsul_status st = kpCli_loadModuleBytes(in, &wasm, NULL, &err);
    if (st == KAPSUL_OK) st = kpEmit_compile(wasm.data, wasm.len, opt, checks, &kwasm, &err);
    int code;
    if (st != KAPSUL_OK) {
        kpCli_printError(stderr, in, &err);
        code = kpCli_exitFor(st);
    } else {
        code = write_all(out, &kwasm);
    }
    kpBuf_free(&wasm);
    kpBuf_free(&kwasm);
    return code;
}
