/*
 * wat2wasm.c -- `kapsul wat2wasm IN.wat [-o OUT.wasm]`: encode the text format to a binary
 * module. Like wabt's wat2wasm, the result is validated unless --no-check is given, the default
 * output is IN with its extension replaced by .wasm (stdout when IN is stdin, `-`), and `-o -`
 * writes to stdout.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "text/text.h"

static void wat2wasm_usage(FILE *f) {
    fprintf(f, "Translate a module in the WebAssembly text format to the binary format\n"
               "\n"
               "Usage: kapsul wat2wasm [OPTIONS] IN.wat\n"
               "\n"
               "Options:\n"
               "  -o, --output FILE  Write the binary to FILE (`-` for stdout); default: IN with its\n"
               "                     extension replaced by .wasm\n"
               "      --no-check     Do not validate the module after encoding\n"
               "  -h, --help         Print help\n");
}

/* IN.wat -> IN.wasm (or IN.wasm appended when IN has no extension). Caller frees. */
static char *default_output(const char *in) {
    const char *slash = strrchr(in, '/');
    const char *dot = strrchr(in, '.');
    size_t stem =
        (dot && (!slash || dot > slash) && dot != in && dot[-1] != '/') ? (size_t)(dot - in) : strlen(in);
    char *out = kp_malloc(stem + 6);
    if (!out) return NULL;
    memcpy(out, in, stem);
    memcpy(out + stem, ".wasm", 6);
    return out;
}

static int write_output(const char *path, const kpBuf *bytes) {
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "kapsul wat2wasm: %s: %s\n", path, strerror(errno));
        return KP_EXIT_USAGE;
    }
    size_t n = bytes->len ? fwrite(bytes->data, 1, bytes->len, f) : 0;
    int failed = n != bytes->len || fflush(f) != 0;
    int e = errno;
    if (!to_stdout && fclose(f) != 0) failed = 1;
    if (failed) {
        fprintf(stderr, "kapsul wat2wasm: %s: %s\n", path, strerror(e ? e : EIO));
        return KP_EXIT_USAGE;
    }
    return KP_EXIT_OK;
}

/* Validation after encoding: positions are offsets in the binary we produced, which is what the
 * message says (the text parser does not keep a map back to lines). */
static int check_module(const char *in, const kpBuf *bytes) {
    kapsul_error err;
    kpError_clear(&err);
    kapsul_engine *engine;
    if (kapsul_engine_new(NULL, &engine, NULL) != KAPSUL_OK) {
        fprintf(stderr, "kapsul wat2wasm: out of memory\n");
        return KP_EXIT_FAIL;
    }
    kapsul_module *module = NULL;
    kapsul_status st = kapsul_module_new(engine, bytes->data, bytes->len, &module, &err);
    kapsul_module_free(module);
    kapsul_engine_free(engine);
    if (st == KAPSUL_OK) return KP_EXIT_OK;
    kpCli_printError(stderr, in, &err);
    return KP_EXIT_FAIL;
}

int kpCli_wat2wasm(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    bool check = true, only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_files || a[0] != '-' || a[1] == '\0') {
            if (in) { return kpCli_usageError("wat2wasm", "expected one input file, got '%s' too", a); }
            in = a;
        } else if (strcmp(a, "--") == 0) {
            only_files = true;
        } else if (kpCli_isHelp(a)) {
            wat2wasm_usage(stdout);
            return KP_EXIT_OK;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc) { return kpCli_usageError("wat2wasm", "%s needs a FILE", a); }
            out = argv[++i];
        } else if (strncmp(a, "--output=", 9) == 0) {
            out = a + 9;
        } else if (strcmp(a, "--no-check") == 0) {
            check = false;
        } else {
            return kpCli_usageError("wat2wasm", "unknown option '%s'", a);
        }
    }
    if (!in) { return kpCli_usageError("wat2wasm", "missing input file"); }
    kapsul_error err;
    kpBuf text, bytes = { 0 };
    char *owned_out = NULL;
    int status;
    kpError_clear(&err);
    kapsul_status st = kpCli_readFile(in, &text, &err);
    if (st == KAPSUL_OK) {
        st = kpWat_toBinary((const char *)text.data, text.len, 1, &bytes, &err);
        kpBuf_free(&text);
    }
    if (st != KAPSUL_OK) {
        kpCli_printError(stderr, in, &err);
        status = kpCli_exitFor(st);
        goto done;
    }
    status = check ? check_module(in, &bytes) : KP_EXIT_OK;
    if (status != KP_EXIT_OK) goto done;
    if (!out && strcmp(in, "-") == 0) out = "-";
    if (!out) {
        out = owned_out = default_output(in);
        if (!out) {
            fprintf(stderr, "kapsul wat2wasm: out of memory\n");
            status = KP_EXIT_FAIL;
            goto done;
        }
    }
    status = write_output(out, &bytes);
done:
    kpBuf_free(&bytes);
    kp_free(owned_out);
    return status;
}
