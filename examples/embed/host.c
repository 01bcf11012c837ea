/*
 * host.c -- a small embedder of kapsul, built only against the installed library:
 *
 *     cc -o host host.c $(pkg-config --cflags --libs kapsul)
 *     ./host [--fuel N] [--timeout-ms MS] FILE.wat|FILE.wasm FUNC [ARG...]
 *
 * It loads a module (text or binary), gives it one host function to import (host.log: i32 -> ()),
 * instantiates it, calls the export FUNC with the arguments converted to its parameter types,
 * and prints the results. A trap is reported with its name, message and wasm backtrace; fuel
 * bounds the work a call may do and the deadline its wall-clock time.
 *
 * Exit status: 0 the call returned, 1 it failed (load, link, trap), 2 bad command line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kapsul.h>

/* Everything the program creates, released in one place (cleanup() tolerates NULLs). */
typedef struct host {
    kapsul_engine *engine;
    kapsul_module *module;
    kapsul_store *store;
    kapsul_linker *linker;
    uint8_t *file;
    size_t file_len;
} host;

static void cleanup(host *h) {
    kapsul_linker_free(h->linker);
    kapsul_store_free(h->store); /* frees the instance and every function it made */
    kapsul_module_free(h->module);
    kapsul_engine_free(h->engine);
    free(h->file);
}

/* Print a failure: the status, the message, and for a trap which one and where. */
static void report(const char *what, const kapsul_error *err) {
    fprintf(stderr, "%s: %s: %s\n", what, kapsul_status_name(err->code), err->message);
    if (err->code == KAPSUL_ERR_TRAP) {
        fprintf(stderr, "trap: %s (%s)\n", kapsul_trap_name(err->trap), kapsul_trap_message(err->trap));
        /* Each frame: its module offset and its name; kapsul_frame_locations gives the whole
         * (demangled) name and, for modules with DWARF, file:line of each inlined call. */
        for (int i = 0; i < err->nframes; i++) {
            kapsul_location loc[8];
            size_t n = kapsul_frame_locations(&err->frames[i], loc, 8);
            const char *name = n && n <= 8 && loc[n - 1].function ? loc[n - 1].function : "?";
            fprintf(stderr, "  #%d 0x%" PRIx32 " func[%" PRIu32 "] %s", i, err->frames[i].offset,
                    err->frames[i].func_index, name);
            if (n && n <= 8 && loc[0].file) fprintf(stderr, " at %s:%" PRIu32, loc[0].file, loc[0].line);
            fputc('\n', stderr);
        }
    }
}

/* The host function the guest imports as host.log: prints its i32 argument. `env` is the
 * prefix given at definition time; `caller` would give access to the guest's memory. */
static kapsul_status host_log(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                              kapsul_error *err) {
    (void)caller;
    (void)results;
    (void)err;
    printf("%s%" PRId32 "\n", (const char *)env, args[0].of.i32);
    return KAPSUL_OK;
}

static int read_file(const char *path, uint8_t **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 0, n = 0;
    uint8_t *buf = NULL;
    int bad = 0;
    for (;;) {
        if (n == cap) {
            uint8_t *p = realloc(buf, cap = cap ? cap * 2 : 4096);
            if (!p) {
                bad = 1;
                break;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    bad |= ferror(f);
    fclose(f);
    if (bad || !buf) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Convert a command-line argument to a value of the parameter's kind. */
static int parse_arg(const char *text, kapsul_valkind kind, kapsul_val *out) {
    char *end;
    errno = 0;
    out->kind = kind;
    switch (kind) {
    case KAPSUL_I32: out->of.i32 = (int32_t)strtol(text, &end, 0); break;
    case KAPSUL_I64: out->of.i64 = strtoll(text, &end, 0); break;
    case KAPSUL_F32: {
        float f = strtof(text, &end);
        memcpy(&out->of.f32_bits, &f, sizeof f);
        break;
    }
    case KAPSUL_F64: {
        double d = strtod(text, &end);
        memcpy(&out->of.f64_bits, &d, sizeof d);
        break;
    }
    default: return -1; /* v128 and references cannot come from a command line */
    }
    return errno == 0 && end != text && *end == '\0' ? 0 : -1;
}

static void print_val(const kapsul_val *v) {
    switch (v->kind) {
    case KAPSUL_I32: printf("i32:%" PRId32 "\n", v->of.i32); break;
    case KAPSUL_I64: printf("i64:%" PRId64 "\n", v->of.i64); break;
    case KAPSUL_F32: {
        float f;
        memcpy(&f, &v->of.f32_bits, sizeof f);
        printf("f32:%g\n", f);
        break;
    }
    case KAPSUL_F64: {
        double d;
        memcpy(&d, &v->of.f64_bits, sizeof d);
        printf("f64:%g\n", d);
        break;
    }
    default: printf("(a %s result)\n", v->kind == KAPSUL_V128 ? "v128" : "reference"); break;
    }
}

static int usage(void) {
    fprintf(stderr, "usage: host [--fuel N] [--timeout-ms MS] FILE.wat|FILE.wasm FUNC [ARG...]\n");
    return 2;
}

int main(int argc, char **argv) {
    uint64_t fuel = 0, timeout_ms = 0;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--fuel") == 0) fuel = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--timeout-ms") == 0) timeout_ms = strtoull(argv[i + 1], NULL, 10);
        else return usage();
    }
    if (argc - i < 2) return usage();
    const char *path = argv[i], *func_name = argv[i + 1];
    char **call_args = argv + i + 2;
    uint32_t ncall_args = (uint32_t)(argc - i - 2);

    if (strcmp(kapsul_version(), KAPSUL_VERSION) != 0) {
        fprintf(stderr, "host: built with kapsul.h %s but runs libkapsul %s\n", KAPSUL_VERSION,
                kapsul_version());
        return 1;
    }

    host h = { 0 };
    kapsul_error err;
    kapsul_status st;
    int rc = 1;
    if (read_file(path, &h.file, &h.file_len) != 0) {
        fprintf(stderr, "host: cannot read %s\n", path);
        goto done;
    }

    /* An engine holds configuration and compiled-code caches; modules are loaded into it. */
    kapsul_config config = { .max_memory_bytes = 64u << 20 };
    if (kapsul_engine_new(&config, &h.engine, &err) != KAPSUL_OK) {
        report("engine", &err);
        goto done;
    }
    if (has_suffix(path, ".wat"))
        st = kapsul_module_new_wat(h.engine, (const char *)h.file, h.file_len, &h.module, &err);
    else st = kapsul_module_new(h.engine, h.file, h.file_len, &h.module, &err);
    if (st != KAPSUL_OK) {
        report(path, &err);
        goto done;
    }

    /* A store holds one tenant's run-time state and its limits; the linker resolves imports. */
    static const kapsul_valkind log_params[] = { KAPSUL_I32 };
    if (kapsul_store_new(h.engine, &h.store, &err) != KAPSUL_OK ||
        kapsul_linker_new(h.store, &h.linker, &err) != KAPSUL_OK ||
        kapsul_linker_define_func(h.linker, "host", "log", log_params, 1, NULL, 0, host_log, "log: ", &err) !=
            KAPSUL_OK) {
        report("setup", &err);
        goto done;
    }
    kapsul_instance *instance;
    if ((st = kapsul_linker_instantiate(h.linker, h.module, &instance, &err)) != KAPSUL_OK) {
        report("instantiate", &err);
        goto done;
    }

    kapsul_extern export;
    if (kapsul_instance_export(instance, func_name, strlen(func_name), &export, &err) != KAPSUL_OK) {
        report(path, &err);
        goto done;
    }
    if (export.kind != KAPSUL_EXTERN_FUNC) {
        fprintf(stderr, "host: %s: export %s is not a function\n", path, func_name);
        goto done;
    }
    kapsul_func *func = export.of.func;
    uint32_t nparams = kapsul_func_param_count(func), nresults = kapsul_func_result_count(func);
    if (ncall_args != nparams) {
        fprintf(stderr, "host: %s takes %" PRIu32 " arguments, %" PRIu32 " given\n", func_name, nparams,
                ncall_args);
        goto done;
    }
    kapsul_val args[16], results[16];
    if (nparams > 16 || nresults > 16) {
        fprintf(stderr, "host: %s has more than 16 parameters or results\n", func_name);
        goto done;
    }
    for (uint32_t k = 0; k < nparams; k++)
        if (parse_arg(call_args[k], kapsul_func_param(func, k), &args[k]) != 0) {
            fprintf(stderr, "host: argument %" PRIu32 " (%s) does not fit its parameter type\n", k + 1,
                    call_args[k]);
            goto done;
        }

    /* Limits apply to every call in the store from here on. */
    if (fuel) kapsul_store_set_fuel(h.store, fuel);
    if (timeout_ms) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
        kapsul_store_set_deadline(h.store, now_ns + timeout_ms * 1000000u);
    }
    st = kapsul_func_call(h.store, func, args, nparams, results, nresults, &err);
    if (st != KAPSUL_OK) {
        report(func_name, &err);
        goto done;
    }
    for (uint32_t k = 0; k < nresults; k++) print_val(&results[k]);
    rc = 0;
done:
    cleanup(&h);
    return rc;
}
