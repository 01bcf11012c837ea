/*
 * driver.c -- kapsul's side of the differential test (tests/diff/run.sh). Loads one module made
 * by binaryen's `wasm-opt -ttf`, provides binaryen's "fuzzing-support" imports (log-i32, log-i64,
 * log-f32, log-f64 print their argument; log-v128 traps, as a JavaScript host cannot take a
 * v128), then calls every exported function in export order with zero-valued arguments, calling
 * the module's "hangLimitInitializer" export before each, and prints what happened in the format
 * tests/diff/ref.mjs prints for Node's V8:
 *
 *   export NAME              then zero or more "log TYPE VALUE" lines, then one of
 *   result TYPE VALUE ...    (floats as raw bits, any NaN as "nan"), "trap CATEGORY", "skip"
 *   memory PAGES FNV1A       the exported memory after the last call
 *
 * Trap categories are coarse (memory, arith, table, stack, unreachable, host) because engines word
 * the same trap differently (V8 reports every float-to-int trap as one message).
 * Exports whose signature mentions v128 print "skip": JavaScript cannot call them.
 * Usage: kapsul-diff-driver FILE.wasm... Exit 0 if it ran, 2 if a single module did not load; with
 * several files each one's output follows a line "== FILE".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kapsul.h"
#include "engine/simd.h"

static void print_float32(uint32_t bits) {
    if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu)) printf("nan");
    else printf("0x%08" PRIx32, bits);
}
static void print_float64(uint64_t bits) {
    if ((bits & 0x7FF0000000000000ull) == 0x7FF0000000000000ull && (bits & 0x000FFFFFFFFFFFFFull))
        printf("nan");
    else printf("0x%016" PRIx64, bits);
}

static void print_val(const kapsul_val *v) {
    switch (v->kind) {
    case KAPSUL_I32: printf("i32 %" PRId32, v->of.i32); break;
    case KAPSUL_I64: printf("i64 %" PRId64, v->of.i64); break;
    case KAPSUL_F32:
        printf("f32 ");
        print_float32(v->of.f32_bits);
        break;
    case KAPSUL_F64:
        printf("f64 ");
        print_float64(v->of.f64_bits);
        break;
    case KAPSUL_V128: printf("v128"); break;
    case KAPSUL_FUNCREF: printf("funcref %s", v->of.funcref ? "ref" : "null"); break;
    case KAPSUL_EXTERNREF: printf("externref %s", v->of.externref ? "ref" : "null"); break;
    }
}

static kapsul_status host_log(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                              kapsul_error *err) {
    (void)env;
    (void)caller;
    (void)results;
    if (args[0].kind == KAPSUL_V128) {
        /* What a JavaScript host does: a v128 cannot cross into JS, so the call throws. */
        err->code = KAPSUL_ERR_TRAP;
        err->trap = KAPSUL_TRAP_HOST;
        snprintf(err->message, sizeof err->message, "log-v128 cannot be called from a JS host");
        return KAPSUL_ERR_TRAP;
    }
    printf("log ");
    print_val(&args[0]);
    printf("\n");
    return KAPSUL_OK;
}

static const char *trap_category(kapsul_trap t) {
    switch (t) {
    case KAPSUL_TRAP_UNREACHABLE: return "unreachable";
    case KAPSUL_TRAP_MEMORY_OOB: return "memory";
    case KAPSUL_TRAP_DIV_ZERO:
    case KAPSUL_TRAP_INT_OVERFLOW:
    case KAPSUL_TRAP_BAD_CONVERSION: return "arith";
    case KAPSUL_TRAP_TABLE_OOB:
    case KAPSUL_TRAP_INDIRECT_MISMATCH:
    case KAPSUL_TRAP_UNINITIALIZED: return "table";
    case KAPSUL_TRAP_STACK_EXHAUSTED: return "stack";
    case KAPSUL_TRAP_HOST: return "host";
    default: return kapsul_trap_name(t);
    }
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, r;
    uint8_t *buf = malloc(cap);
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static bool has_v128(const kapsul_func *f) {
    for (uint32_t i = 0; i < kapsul_func_param_count(f); i++)
        if (kapsul_func_param(f, i) == KAPSUL_V128) return true;
    for (uint32_t i = 0; i < kapsul_func_result_count(f); i++)
        if (kapsul_func_result(f, i) == KAPSUL_V128) return true;
    return false;
}

/* Call f with zeros and print the outcome line. */
static void call_and_print(kapsul_store *store, kapsul_func *f) {
    uint32_t np = kapsul_func_param_count(f), nr = kapsul_func_result_count(f);
    kapsul_val *args = calloc(np + 1, sizeof *args), *res = calloc(nr + 1, sizeof *res);
    if (!args || !res) {
        printf("driver out of memory\n");
        exit(3);
    }
    for (uint32_t i = 0; i < np; i++) args[i].kind = kapsul_func_param(f, i);
    kapsul_error err;
    memset(&err, 0, sizeof err);
    kapsul_status st = kapsul_func_call(store, f, args, np, res, nr, &err);
    if (st == KAPSUL_OK) {
        printf("result");
        for (uint32_t i = 0; i < nr; i++) {
            printf(" ");
            print_val(&res[i]);
        }
        printf("\n");
    } else if (st == KAPSUL_ERR_TRAP) {
        printf("trap %s\n", trap_category(err.trap));
    } else {
        printf("error %s: %s\n", kapsul_status_name(st), err.message);
    }
    free(args);
    free(res);
}

/* The exported memory's size and FNV-1a hash; with KAPSUL_DIFF_VERBOSE also after every call,
 * to find the call where kapsul and V8 part. KAPSUL_DIFF_MEMDUMP=FILE writes the bytes too. */
static void print_memory(kapsul_instance *inst) {
    kapsul_memory *mem = kapsul_instance_memory(inst, "memory");
    if (!mem) return;
    const uint8_t *p = kapsul_memory_data(mem);
    size_t n = kapsul_memory_size(mem);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    printf("memory %" PRIu64 " %08" PRIx32 "\n", kapsul_memory_pages(mem), h);
    const char *dump = getenv("KAPSUL_DIFF_MEMDUMP");
    FILE *f = dump ? fopen(dump, "wb") : NULL;
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* Run one module through the protocol. Returns 0 if it ran, 2 if it did not load. */
static int run_module(const char *path) {
    size_t len = 0;
    uint8_t *bytes = read_file(path, &len);
    if (!bytes) {
        printf("load error: cannot read %s\n", path);
        return 2;
    }
    kapsul_error err;
    memset(&err, 0, sizeof err);
    kapsul_engine *engine = NULL;
    kapsul_engine_new(NULL, &engine, NULL);
    kapsul_module *mod = NULL;
    kapsul_status st = kapsul_module_new(engine, bytes, len, &mod, &err);
    free(bytes);
    if (st != KAPSUL_OK) {
        printf("load error: %s\n", err.message);
        kapsul_engine_free(engine);
        return 2;
    }
    kapsul_store *store = NULL;
    kapsul_store_new(engine, &store, NULL);
    kapsul_linker *linker = NULL;
    kapsul_linker_new(store, &linker, NULL);
    static const struct {
        const char *name;
        kapsul_valkind kind;
    } logs[] = {
        { "log-i32", KAPSUL_I32 }, { "log-i64", KAPSUL_I64 },   { "log-f32", KAPSUL_F32 },
        { "log-f64", KAPSUL_F64 }, { "log-v128", KAPSUL_V128 },
    };
    for (size_t i = 0; i < sizeof logs / sizeof *logs; i++)
        kapsul_linker_define_func(linker, "fuzzing-support", logs[i].name, &logs[i].kind, 1, NULL, 0,
                                  host_log, NULL, NULL);
    kapsul_instance *inst = NULL;
    st = kapsul_linker_instantiate(linker, mod, &inst, &err);
    if (st != KAPSUL_OK) {
        if (st == KAPSUL_ERR_TRAP) printf("instantiate trap %s\n", trap_category(err.trap));
        else printf("instantiate error: %s\n", err.message);
    } else {
        kapsul_func *hang = kapsul_instance_func(inst, "hangLimitInitializer");
        for (uint32_t i = 0; i < kapsul_module_export_count(mod); i++) {
            kapsul_export_info ex;
            kapsul_module_export(mod, i, &ex);
            if (ex.kind != KAPSUL_EXTERN_FUNC) continue;
            kapsul_extern ext;
            if (kapsul_instance_export(inst, ex.name, ex.name_len, &ext, NULL) != KAPSUL_OK) {
                printf("export %.*s not found\n", (int)ex.name_len, ex.name);
                continue;
            }
            printf("export %.*s\n", (int)ex.name_len, ex.name);
            if (has_v128(ext.of.func)) {
                printf("skip\n");
                continue;
            }
            if (hang) {
                kapsul_error herr;
                kapsul_func_call(store, hang, NULL, 0, NULL, 0, &herr);
            }
            call_and_print(store, ext.of.func);
            if (getenv("KAPSUL_DIFF_VERBOSE")) print_memory(inst);
        }
        print_memory(inst);
    }
    kapsul_linker_free(linker);
    kapsul_store_free(store);
    kapsul_module_free(mod);
    kapsul_engine_free(engine);
    return 0;
}

/* One module, or several with "== FILE" before each (batches amortize process start-up). */
int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE.wasm...\n", argv[0]);
        return 2;
    }
    /* KAPSUL_DIFF_NAN_V8=1: SIMD min/max NaN lanes take V8's bits (run.sh's second look at a
     * mismatch, to tell a legal NaN choice from a bug). */
    const char *nan_v8 = getenv("KAPSUL_DIFF_NAN_V8");
#ifdef KP_TESTING
    kpSimd_nanAsV8 = nan_v8 && strcmp(nan_v8, "1") == 0;
#else
    if (nan_v8 && strcmp(nan_v8, "1") == 0) {
        fprintf(stderr, "%s: KAPSUL_DIFF_NAN_V8 needs a build with KAPSUL_TESTING=ON\n", argv[0]);
        return 2;
    }
#endif
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (argc > 2) printf("== %s\n", argv[i]);
        rc |= run_module(argv[i]);
        fflush(stdout);
    }
    return argc > 2 ? 0 : rc;
}
