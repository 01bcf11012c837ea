/*
 * test_pathological.c -- modules built to hurt a loader: a million nested blocks, 50,001 locals,
 * br_tables with millions of targets, overlong and overflowing LEB128s, section sizes that lie,
 * 100,000 functions, 4 GiB memories. Each must be handled or rejected with a clean status through
 * the public API (kapsul_module_new = decode + validate + lower, then instantiate and call).
 *
 * Every case runs in a forked child so that a crash shows up as one failed case with its signal
 * instead of taking the whole test down, and so getrusage reports the case's own peak memory.
 * Time and peak RSS are printed for each case but time is never asserted (house rule). Peak RSS
 * is printed and asserted against the 64 MiB budget, only in builds without sanitizers
 * and not under valgrind (shadow memory makes RSS meaningless there).
 *
 * The peak is measured from the first call into kapsul: building a test module takes temporary
 * buffers (the body, then the module around it) that are the test's, not the runtime's. Each
 * child resets the kernel's high-water mark (/proc/self/clear_refs, "5") just before it hands the
 * input over, so the peak counts the input bytes the caller holds plus everything kapsul
 * allocates. Where that file cannot be written the peak covers the whole child (stricter).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kapsul.h"
#include "text/text.h"
#include "../fuzz/wasmgen.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define KPT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KPT_SANITIZED 1
#endif
#endif
#ifndef KPT_SANITIZED
#define KPT_SANITIZED 0
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define KPT_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef KPT_VALGRIND
#define KPT_VALGRIND() 0
#endif

/* The budget: every case must peak under 64 MiB (measured under the CLI's allocator
 * policy, see run_case), so a new per-level cost anywhere fails this test. */
#define BUDGET_MIB 64.0

/* Reset this process's peak RSS once, before the first call into kapsul (see the top comment). */
static void peak_reset(void) {
    static bool done;
    if (done) return;
    done = true;
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return;
    fputs("5", f);
    fclose(f);
}

#define BIT(s) (1u << (s))
#define ALLOW_OK BIT(KAPSUL_OK)
#define ALLOW_REJECT (BIT(KAPSUL_ERR_MALFORMED) | BIT(KAPSUL_ERR_INVALID) | BIT(KAPSUL_ERR_LIMIT))
#define ALLOW_LIMIT (BIT(KAPSUL_ERR_LIMIT))
#define ALLOW_TRAP BIT(KAPSUL_ERR_TRAP)

/* ---- Child-side helpers ------------------------------------------------------------------------ */

/* Print what a call returned and whether that was allowed; returns 0 if allowed. */
static int report(const char *what, kapsul_status st, const kapsul_error *err, unsigned allowed) {
    if (st == KAPSUL_OK) printf("    %s: ok\n", what);
    else printf("    %s: %s @%zu: %s\n", what, kapsul_status_name(st), err->offset, err->message);
    if (st < 32 && (allowed & BIT(st))) return 0;
    printf("    %s: UNEXPECTED status %s\n", what, kapsul_status_name(st));
    return 1;
}

typedef struct env {
    kapsul_engine *engine;
    kapsul_module *module;
    kapsul_store *store;
    kapsul_linker *linker;
    kapsul_instance *inst;
} env;

static void env_free(env *e) {
    if (e->linker) kapsul_linker_free(e->linker);
    if (e->store) kapsul_store_free(e->store);
    if (e->module) kapsul_module_free(e->module);
    if (e->engine) kapsul_engine_free(e->engine);
}

static double ms_between(const struct timespec *a, const struct timespec *b) {
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* Load `mod` (freed here). Returns -1 on an unexpected status, 0 if loaded, 1 if cleanly
 * rejected (an allowed non-OK status). */
static int load(env *e, const kapsul_config *cfg, kpBuf *mod, unsigned allowed) {
    kapsul_error err = { 0 };
    printf("    module: %zu bytes\n", mod->len);
    peak_reset();
    kapsul_engine_new(cfg, &e->engine, NULL);
    if (!e->engine) {
        printf("    engine_new failed\n");
        kpBuf_free(mod);
        return -1;
    }
    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    kapsul_status st = kapsul_module_new(e->engine, mod->data, mod->len, &e->module, &err);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    kpBuf_free(mod);
    /* CPU time as well: on a loaded machine the wall time says more about the neighbours. */
    printf("    kapsul_module_new took %.1f ms (CPU %.1f ms)\n", ms_between(&t0, &t1), ms_between(&c0, &c1));
    if (report("load", st, &err, allowed)) return -1;
    return st == KAPSUL_OK ? 0 : 1;
}

/* Instantiate the loaded module with no imports. Same return convention as load. */
static int instantiate(env *e, unsigned allowed) {
    kapsul_error err = { 0 };
    kapsul_store_new(e->engine, &e->store, NULL);
    e->linker = NULL;
    if (e->store) kapsul_linker_new(e->store, &e->linker, NULL);
    if (!e->linker) {
        printf("    store/linker_new failed\n");
        return -1;
    }
    kapsul_status st = kapsul_linker_instantiate(e->linker, e->module, &e->inst, &err);
    if (report("instantiate", st, &err, allowed)) return -1;
    if (st == KAPSUL_ERR_TRAP) printf("    trap: %s\n", kapsul_trap_name(err.trap));
    return st == KAPSUL_OK ? 0 : 1;
}

/* Call export `name` with i32 arguments; the first result (if any) goes to *res. */
static int call(env *e, const char *name, const int32_t *args, uint32_t nargs, uint32_t nres, kapsul_val *res,
                unsigned allowed, kapsul_trap want_trap) {
    kapsul_error err = { 0 };
    kapsul_val a[4], r[4];
    kapsul_func *f = kapsul_instance_func(e->inst, name);
    if (!f) {
        printf("    export %s missing\n", name);
        return -1;
    }
    for (uint32_t i = 0; i < nargs; i++) {
        a[i].kind = KAPSUL_I32;
        a[i].of.i32 = args[i];
    }
    kapsul_status st = kapsul_func_call(e->store, f, a, nargs, r, nres, &err);
    char what[64];
    snprintf(what, sizeof what, "call %s", name);
    if (report(what, st, &err, allowed)) return -1;
    if (st == KAPSUL_ERR_TRAP) {
        printf("    trap: %s\n", kapsul_trap_name(err.trap));
        if (want_trap != KAPSUL_TRAP_NONE && err.trap != want_trap) {
            printf("    UNEXPECTED trap (wanted %s)\n", kapsul_trap_name(want_trap));
            return -1;
        }
    }
    if (st == KAPSUL_OK && nres && res) *res = r[0];
    return st == KAPSUL_OK ? 0 : 1;
}

/* The common shape: type 0 = (params) -> (results), `nfuncs` functions of that type, function
 * 0 exported as "f", then the code section built by the caller. */
static void prologue(kpBuf *mod, const char *params, const char *results, uint32_t nfuncs) {
    wg_header(mod);
    wg_type_section1(mod, params, results);
    wg_func_section(mod, nfuncs);
}
static void export_f(kpBuf *mod) {
    kpBuf s = { 0 };
    wg_u32(&s, 1);
    wg_export_func(&s, "f", 0);
    wg_section(mod, 7, &s);
}

/* One function: () -> () or as given, exported as "f", body = locals + code. */
static void one_func_module(kpBuf *mod, const char *params, const char *results, kpBuf *locals, kpBuf *code) {
    prologue(mod, params, results, 1);
    export_f(mod);
    wg_code_section1(mod, locals, code);
    kpBuf_free(locals);
    kpBuf_free(code);
}

/* Load, and if that worked instantiate and call "f" with no arguments. */
static int load_run(kpBuf *mod, unsigned load_ok, unsigned call_ok, kapsul_trap want_trap) {
    env e = { 0 };
    int rc = load(&e, NULL, mod, load_ok);
    if (rc == 0) rc = instantiate(&e, ALLOW_OK);
    if (rc == 0) rc = call(&e, "f", NULL, 0, 0, NULL, call_ok, want_trap);
    env_free(&e);
    return rc < 0 ? 1 : 0;
}

/* ---- Deep nesting ------------------------------------------------------------------------------ */

#define MILLION 1000000u

static int case_nested_blocks(void) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    static const uint8_t blk[2] = { 0x02, 0x40 };
    wg_u32(&locals, 0);
    wg_repeat(&code, blk, 2, MILLION);
    wg_fill(&code, 0x0B, MILLION + 1);
    one_func_module(&mod, "", "", &locals, &code);
    return load_run(&mod, ALLOW_OK | ALLOW_LIMIT, ALLOW_OK, KAPSUL_TRAP_NONE);
}

/* A million nested ifs, each with an else. The condition is `i32.const 1` (lowering folds it),
 * or with `on_local` the value of an i32 local (a test and a branch per level). */
static int nested_ifs(bool on_local) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    const uint8_t ifb[4] = { on_local ? 0x20 : 0x41, on_local ? 0x00 : 0x01, 0x04, 0x40 };
    static const uint8_t tail[2] = { 0x05, 0x0B };
    wg_u32(&locals, on_local ? 1 : 0);
    if (on_local) {
        wg_u32(&locals, 1);
        wg_byte(&locals, 0x7F);
    }
    wg_repeat(&code, ifb, 4, MILLION);
    wg_repeat(&code, tail, 2, MILLION);
    wg_byte(&code, 0x0B);
    one_func_module(&mod, "", "", &locals, &code);
    return load_run(&mod, ALLOW_OK | ALLOW_LIMIT, ALLOW_OK, KAPSUL_TRAP_NONE);
}
static int case_nested_ifs(void) { return nested_ifs(false); }
static int case_nested_ifs_local(void) { return nested_ifs(true); }

/* Not pathological: 4,000,001 flat instructions (`i32.const 1; drop`), the instruction count of
 * the nested if/else, to compare what loading costs per instruction without any nesting. */
static int case_flat_4m(void) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    static const uint8_t cd[3] = { 0x41, 0x01, 0x1A };
    wg_u32(&locals, 0);
    wg_repeat(&code, cd, 3, 2 * MILLION);
    wg_byte(&code, 0x0B);
    one_func_module(&mod, "", "", &locals, &code);
    return load_run(&mod, ALLOW_OK | ALLOW_LIMIT, ALLOW_OK, KAPSUL_TRAP_NONE);
}

/* A million nested loops each yielding an i32, closed properly: the label stack carries types. */
static int case_nested_loops_typed(void) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    static const uint8_t lp[2] = { 0x03, 0x7F };
    wg_u32(&locals, 0);
    wg_repeat(&code, lp, 2, MILLION);
    wg_byte(&code, 0x41);
    wg_byte(&code, 0x07);
    wg_fill(&code, 0x0B, MILLION);
    wg_byte(&code, 0x1A); /* drop */
    wg_byte(&code, 0x0B);
    one_func_module(&mod, "", "", &locals, &code);
    return load_run(&mod, ALLOW_OK | ALLOW_LIMIT, ALLOW_OK, KAPSUL_TRAP_NONE);
}

/* A million blocks never closed: the body ends while a million frames are open. */
static int case_nested_unclosed(void) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    static const uint8_t blk[2] = { 0x02, 0x40 };
    wg_u32(&locals, 0);
    wg_repeat(&code, blk, 2, MILLION);
    wg_byte(&code, 0x0B);
    one_func_module(&mod, "", "", &locals, &code);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, ALLOW_REJECT);
    env_free(&e);
    return rc == 1 ? 0 : 1;
}

/* A branch out of a million nested blocks: br 999999 from the innermost. */
static int case_nested_br_outermost(void) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    static const uint8_t blk[2] = { 0x02, 0x40 };
    wg_u32(&locals, 0);
    wg_repeat(&code, blk, 2, MILLION);
    wg_byte(&code, 0x0C);
    wg_u32(&code, MILLION - 1);
    wg_fill(&code, 0x0B, MILLION + 1);
    one_func_module(&mod, "", "", &locals, &code);
    return load_run(&mod, ALLOW_OK | ALLOW_LIMIT, ALLOW_OK, KAPSUL_TRAP_NONE);
}

/* A global initializer nested a million blocks deep: the decoder only counts depth to find the
 * end; validation rejects the non-constant instructions. */
static int case_nested_const_expr(void) {
    kpBuf mod = { 0 }, s = { 0 };
    static const uint8_t blk[2] = { 0x02, 0x7F };
    wg_header(&mod);
    wg_u32(&s, 1);
    wg_byte(&s, 0x7F);
    wg_byte(&s, 0x00);
    wg_repeat(&s, blk, 2, MILLION);
    wg_byte(&s, 0x41);
    wg_byte(&s, 0x00);
    wg_fill(&s, 0x0B, MILLION + 1);
    wg_section(&mod, 6, &s);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, ALLOW_REJECT);
    env_free(&e);
    return rc == 1 ? 0 : 1;
}

/* ---- Locals ------------------------------------------------------------------------------------ */

/* One function whose locals are declared by the given runs of (count, type); body is `end`. */
static int locals_case(const uint32_t *counts, const uint8_t *types, uint32_t nruns, unsigned load_ok) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    wg_u32(&locals, nruns);
    for (uint32_t i = 0; i < nruns; i++) {
        wg_u32(&locals, counts[i]);
        wg_byte(&locals, types[i]);
    }
    wg_byte(&code, 0x0B);
    one_func_module(&mod, "", "", &locals, &code);
    return load_run(&mod, load_ok, ALLOW_OK, KAPSUL_TRAP_NONE);
}

static int case_locals_50000(void) {
    uint32_t c[1] = { 50000 };
    uint8_t t[1] = { 0x7E };
    return locals_case(c, t, 1, ALLOW_OK);
}
static int case_locals_50001(void) {
    uint32_t c[1] = { 50001 };
    uint8_t t[1] = { 0x7F };
    return locals_case(c, t, 1, ALLOW_REJECT);
}
static int case_locals_split_50001(void) {
    uint32_t c[3] = { 25000, 1, 25000 };
    uint8_t t[3] = { 0x7F, 0x7B, 0x7C };
    return locals_case(c, t, 3, ALLOW_REJECT);
}
/* Counts that overflow a 32-bit sum: 0xFFFFFFFF + 2. */
static int case_locals_overflow(void) {
    uint32_t c[2] = { 0xFFFFFFFFu, 2 };
    uint8_t t[2] = { 0x7F, 0x7F };
    return locals_case(c, t, 2, ALLOW_REJECT);
}
static int case_locals_overflow_wrap(void) {
    uint32_t c[3] = { 0x80000000u, 0x80000000u, 1 };
    uint8_t t[3] = { 0x7F, 0x7F, 0x7F };
    return locals_case(c, t, 3, ALLOW_REJECT);
}

/* 50,000 one-local runs (the declaration is 100 KB). */
static int case_locals_many_runs(void) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    static const uint8_t run[2] = { 0x01, 0x7D };
    wg_u32(&locals, 50000);
    wg_repeat(&locals, run, 2, 50000);
    wg_byte(&code, 0x0B);
    one_func_module(&mod, "", "", &locals, &code);
    return load_run(&mod, ALLOW_OK | ALLOW_LIMIT, ALLOW_OK, KAPSUL_TRAP_NONE);
}

/* 50,000 locals and unbounded recursion: each frame is ~400 KB, so the stack runs out fast. */
static int case_locals_recursive(void) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    wg_u32(&locals, 1);
    wg_u32(&locals, 50000);
    wg_byte(&locals, 0x7E);
    wg_byte(&code, 0x10);
    wg_u32(&code, 0); /* call 0 */
    wg_byte(&code, 0x0B);
    one_func_module(&mod, "", "", &locals, &code);
    return load_run(&mod, ALLOW_OK, ALLOW_TRAP, KAPSUL_TRAP_STACK_EXHAUSTED);
}

/* Plain unbounded recursion with no locals: the call-depth limit, not the stack size, stops it. */
static int case_recursion(void) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    wg_u32(&locals, 0);
    wg_byte(&code, 0x10);
    wg_u32(&code, 0);
    wg_byte(&code, 0x0B);
    one_func_module(&mod, "", "", &locals, &code);
    return load_run(&mod, ALLOW_OK, ALLOW_TRAP, KAPSUL_TRAP_STACK_EXHAUSTED);
}

/* ---- br_table ---------------------------------------------------------------------------------- */

/* (block (br_table 0 0 ... 0 (i32.const idx))) with `n` targets. */
static int brtable_case(uint32_t n, int32_t idx, unsigned load_ok) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    wg_u32(&locals, 0);
    wg_byte(&code, 0x02);
    wg_byte(&code, 0x40);
    wg_byte(&code, 0x41);
    wg_s32(&code, idx);
    wg_byte(&code, 0x0E);
    wg_u32(&code, n);
    wg_fill(&code, 0x00, n);
    wg_byte(&code, 0x00);
    wg_byte(&code, 0x0B);
    wg_byte(&code, 0x0B);
    one_func_module(&mod, "", "", &locals, &code);
    return load_run(&mod, load_ok, ALLOW_OK, KAPSUL_TRAP_NONE);
}
static int case_brtable_1m(void) { return brtable_case(MILLION, 999999, ALLOW_OK | ALLOW_LIMIT); }
static int case_brtable_4m(void) { return brtable_case(4 * MILLION, -1, ALLOW_OK | ALLOW_REJECT); }

/* A br_table claiming 2^32-1 targets backed by a handful of bytes. */
static int case_brtable_count_lies(void) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    wg_u32(&locals, 0);
    wg_byte(&code, 0x41);
    wg_byte(&code, 0x00);
    wg_byte(&code, 0x0E);
    wg_u32(&code, 0xFFFFFFFFu);
    wg_fill(&code, 0x00, 8);
    wg_byte(&code, 0x0B);
    one_func_module(&mod, "", "", &locals, &code);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, ALLOW_REJECT);
    env_free(&e);
    return rc == 1 ? 0 : 1;
}

/* A million br_table targets that name a label that does not exist (the last one). */
static int case_brtable_bad_label_last(void) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    wg_u32(&locals, 0);
    wg_byte(&code, 0x41);
    wg_byte(&code, 0x00);
    wg_byte(&code, 0x0E);
    wg_u32(&code, MILLION);
    wg_fill(&code, 0x00, MILLION - 1);
    wg_byte(&code, 0x05);
    wg_byte(&code, 0x00);
    wg_byte(&code, 0x0B);
    one_func_module(&mod, "", "", &locals, &code);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, ALLOW_REJECT);
    env_free(&e);
    return rc == 1 ? 0 : 1;
}

/* ---- LEB128 ------------------------------------------------------------------------------------ */

/* Load raw bytes and require the given outcome. */
static int raw_case(const uint8_t *bytes, size_t len, unsigned allowed) {
    kpBuf mod = { 0 };
    wg_bytes(&mod, bytes, len);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, allowed);
    env_free(&e);
    return rc < 0 ? 1 : 0;
}

#define HDR 0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00

static int case_leb_cases(void) {
    int bad = 0;
    /* Section size as a 6-byte LEB (overlong). */
    static const uint8_t a[] = { HDR, 0x01, 0x84, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x60, 0x00, 0x00 };
    /* Same size padded to exactly 5 bytes: legal. */
    static const uint8_t b[] = { HDR, 0x01, 0x84, 0x80, 0x80, 0x80, 0x00, 0x01, 0x60, 0x00, 0x00 };
    /* Type count whose 5th byte sets bits above 32: "integer too large". */
    static const uint8_t c[] = { HDR, 0x01, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x60, 0x00, 0x00 };
    /* Size LEB cut off by the end of the module. */
    static const uint8_t d[] = { HDR, 0x01, 0x80, 0x80 };
    /* Every byte with a continuation bit to the end of the module. */
    static const uint8_t e[] = { HDR, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    /* Type count 2^32-1 (a valid 5-byte LEB) with nothing behind it. */
    static const uint8_t f[] = { HDR, 0x01, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F };
    bad += raw_case(a, sizeof a, ALLOW_REJECT);
    bad += raw_case(b, sizeof b, ALLOW_OK);
    bad += raw_case(c, sizeof c, ALLOW_REJECT);
    bad += raw_case(d, sizeof d, ALLOW_REJECT);
    bad += raw_case(e, sizeof e, ALLOW_REJECT);
    bad += raw_case(f, sizeof f, ALLOW_REJECT);
    return bad ? 1 : 0;
}

/* Instruction immediates: the body is `prefix` bytes then `end`; expectation as given. */
static int body_case(const uint8_t *code_bytes, size_t n, const char *results, unsigned allowed) {
    kpBuf mod = { 0 }, locals = { 0 }, code = { 0 };
    wg_u32(&locals, 0);
    wg_bytes(&code, code_bytes, n);
    wg_byte(&code, 0x0B);
    prologue(&mod, "", results, 1);
    if (results[0] == 0) { /* no memory needed */ }
    kpBuf ms = { 0 };
    wg_u32(&ms, 1);
    wg_byte(&ms, 0x00);
    wg_u32(&ms, 1);
    wg_section(&mod, 5, &ms);
    export_f(&mod);
    wg_code_section1(&mod, &locals, &code);
    kpBuf_free(&locals);
    kpBuf_free(&code);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, allowed);
    env_free(&e);
    return rc < 0 ? 1 : 0;
}

static int case_leb_immediates(void) {
    int bad = 0;
    /* i32.const with 5th byte 0x0F: bits 32..34 disagree with the sign -> too large. */
    static const uint8_t a[] = { 0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F };
    /* i32.const -1 as a legal 5-byte LEB (5th byte 0x7F). */
    static const uint8_t b[] = { 0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F };
    /* i32.const with 6 bytes. */
    static const uint8_t c[] = { 0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
    /* i64.const with 11 bytes. */
    static const uint8_t d[] = { 0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
    /* i64.const with 10th byte 0x02: bit 64 set -> too large. */
    static const uint8_t e[] = { 0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02 };
    /* i64.const INT64_MIN in 10 bytes: legal. */
    static const uint8_t f[] = { 0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F };
    /* i32.load with a memarg offset of 2^32 (overflowing u32). */
    static const uint8_t g[] = { 0x41, 0x00, 0x28, 0x02, 0x80, 0x80, 0x80, 0x80, 0x10 };
    /* i32.load with alignment 2^31. */
    static const uint8_t h[] = { 0x41, 0x00, 0x28, 0x1F, 0x00 };
    /* Block type index as an s33 too large. */
    static const uint8_t i[] = { 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x0B, 0x41, 0x00 };
    /* 0xFC prefix with an overlong sub-opcode LEB (valid value 0 = i32.trunc_sat_f32_s). */
    static const uint8_t j[] = { 0x43, 0, 0, 0, 0, 0xFC, 0x80, 0x80, 0x80, 0x80, 0x00 };
    /* 0xFC prefix with a sub-opcode that overflows u32. */
    static const uint8_t k[] = { 0x43, 0, 0, 0, 0, 0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F };
    bad += body_case(a, sizeof a, WG_I32, ALLOW_REJECT);
    bad += body_case(b, sizeof b, WG_I32, ALLOW_OK);
    bad += body_case(c, sizeof c, WG_I32, ALLOW_REJECT);
    bad += body_case(d, sizeof d, WG_I64, ALLOW_REJECT);
    bad += body_case(e, sizeof e, WG_I64, ALLOW_REJECT);
    bad += body_case(f, sizeof f, WG_I64, ALLOW_OK);
    bad += body_case(g, sizeof g, WG_I32, ALLOW_REJECT);
    bad += body_case(h, sizeof h, WG_I32, ALLOW_REJECT);
    bad += body_case(i, sizeof i, WG_I32, ALLOW_REJECT);
    bad += body_case(j, sizeof j, WG_I32, ALLOW_OK);
    bad += body_case(k, sizeof k, WG_I32, ALLOW_REJECT);
    return bad ? 1 : 0;
}

/* ---- Section sizes that lie -------------------------------------------------------------------- */

/* A module with one of nearly every section, as (id, content) pairs, so each size can be bent. */
typedef struct sect {
    uint8_t id;
    kpBuf content;
} sect;

static int build_sections(sect *s) {
    int n = 0;
    kpBuf *b;
    /* type: () -> i32 */
    s[n].id = 1;
    b = &s[n++].content;
    wg_u32(b, 1);
    wg_byte(b, 0x60);
    wg_u32(b, 0);
    wg_u32(b, 1);
    wg_byte(b, 0x7F);
    /* import: "m" "g" global i32 const */
    s[n].id = 2;
    b = &s[n++].content;
    wg_u32(b, 1);
    wg_name(b, "m");
    wg_name(b, "g");
    wg_byte(b, 0x03);
    wg_byte(b, 0x7F);
    wg_byte(b, 0x00);
    /* function: one of type 0 */
    s[n].id = 3;
    b = &s[n++].content;
    wg_u32(b, 1);
    wg_u32(b, 0);
    /* table: funcref min 1 max 2 */
    s[n].id = 4;
    b = &s[n++].content;
    wg_u32(b, 1);
    wg_byte(b, 0x70);
    wg_byte(b, 0x01);
    wg_u32(b, 1);
    wg_u32(b, 2);
    /* memory: min 1 */
    s[n].id = 5;
    b = &s[n++].content;
    wg_u32(b, 1);
    wg_byte(b, 0x00);
    wg_u32(b, 1);
    /* global: mutable i32 = 42 */
    s[n].id = 6;
    b = &s[n++].content;
    wg_u32(b, 1);
    wg_byte(b, 0x7F);
    wg_byte(b, 0x01);
    wg_byte(b, 0x41);
    wg_s32(b, 42);
    wg_byte(b, 0x0B);
    /* export: "f" func 0 */
    s[n].id = 7;
    b = &s[n++].content;
    wg_u32(b, 1);
    wg_export_func(b, "f", 0);
    /* elem: active table 0 offset 0, func 0 */
    s[n].id = 9;
    b = &s[n++].content;
    wg_u32(b, 1);
    wg_u32(b, 0);
    wg_byte(b, 0x41);
    wg_s32(b, 0);
    wg_byte(b, 0x0B);
    wg_u32(b, 1);
    wg_u32(b, 0);
    /* data count */
    s[n].id = 12;
    b = &s[n++].content;
    wg_u32(b, 1);
    /* code: (global.get 1) */
    s[n].id = 10;
    b = &s[n++].content;
    wg_u32(b, 1);
    wg_u32(b, 4);
    wg_u32(b, 0);
    wg_byte(b, 0x23);
    wg_u32(b, 1);
    wg_byte(b, 0x0B);
    /* data: active memory 0 offset 8, "hello" */
    s[n].id = 11;
    b = &s[n++].content;
    wg_u32(b, 1);
    wg_u32(b, 0);
    wg_byte(b, 0x41);
    wg_s32(b, 8);
    wg_byte(b, 0x0B);
    wg_name(b, "hello");
    /* custom "name" section with a function name */
    s[n].id = 0;
    b = &s[n++].content;
    wg_name(b, "name");
    wg_byte(b, 0x01);
    wg_u32(b, 4);
    wg_u32(b, 1);
    wg_u32(b, 1);
    wg_name(b, "f");
    return n;
}

/* Emit the sections; section `bend` gets size field `claimed` (or its true size if bend < 0). */
static void emit_sections(kpBuf *mod, sect *s, int n, int bend, uint32_t claimed) {
    wg_header(mod);
    for (int i = 0; i < n; i++) {
        kpBuf copy = { 0 };
        wg_bytes(&copy, s[i].content.data, s[i].content.len);
        if (i == bend) wg_section_lying(mod, s[i].id, claimed, &copy);
        else wg_section(mod, s[i].id, &copy);
    }
}

static int case_section_sizes(void) {
    sect s[16];
    memset(s, 0, sizeof s);
    int n = build_sections(s), bad = 0, loads = 0;
    {
        /* The honest module decodes and validates (imports are resolved only when linking). */
        kpBuf mod = { 0 };
        emit_sections(&mod, s, n, -1, 0);
        env e = { 0 };
        if (load(&e, NULL, &mod, ALLOW_OK) != 0) bad++;
        env_free(&e);
    }
    for (int i = 0; i < n; i++) {
        uint32_t len = (uint32_t)s[i].content.len;
        const uint32_t claims[] = { 0, len - 1, len + 1, len + 2, len + 100, 0x7FFFFFFFu, 0xFFFFFFFFu };
        for (size_t c = 0; c < sizeof claims / sizeof *claims; c++) {
            if (claims[c] == len) continue;
            kpBuf mod = { 0 };
            emit_sections(&mod, s, n, i, claims[c]);
            printf("    section id %u: claims %u bytes, holds %u\n", s[i].id, claims[c], len);
            env e = { 0 };
            /* A custom section that claims fewer bytes can still be well-formed (the rest of its
             * payload is then read as further sections, which fails); everything else must fail. */
            int rc = load(&e, NULL, &mod, ALLOW_REJECT);
            if (rc < 0) bad++;
            loads++;
            env_free(&e);
        }
    }
    for (int i = 0; i < n; i++) kpBuf_free(&s[i].content);
    printf("    %d lying variants, %d unexpected\n", loads, bad);
    return bad ? 1 : 0;
}

/* A function body whose size field claims more than the code section holds, and one that claims
 * less than its instructions (so it ends mid-instruction or without `end`). */
static int case_body_sizes(void) {
    int bad = 0;
    for (int variant = 0; variant < 4; variant++) {
        kpBuf mod = { 0 }, s = { 0 };
        prologue(&mod, "", WG_I32, 1);
        wg_u32(&s, 1);
        static const uint8_t body[] = { 0x00, 0x41, 0xE5, 0x8E, 0x26, 0x0B }; /* i32.const 624485 */
        uint32_t claims[4] = { sizeof body + 1, 0xFFFFFFF0u, sizeof body - 1, 3 };
        wg_u32(&s, claims[variant]);
        wg_bytes(&s, body, sizeof body);
        wg_section(&mod, 10, &s);
        env e = { 0 };
        if (load(&e, NULL, &mod, ALLOW_REJECT) < 0) bad++;
        env_free(&e);
    }
    return bad ? 1 : 0;
}

/* ---- Many functions ---------------------------------------------------------------------------- */

/* 100,000 functions, all exported; function i returns i, except the last which calls function 0
 * and adds. Instantiate and call the first and the last. */
static int case_funcs_100k(void) {
    const uint32_t n = 100000;
    kpBuf mod = { 0 }, ex = { 0 }, code = { 0 };
    prologue(&mod, "", WG_I32, n);
    wg_u32(&ex, n);
    char name[16];
    for (uint32_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "f%u", i);
        wg_export_func(&ex, name, i);
    }
    wg_section(&mod, 7, &ex);
    wg_u32(&code, n);
    for (uint32_t i = 0; i < n; i++) {
        kpBuf body = { 0 };
        wg_u32(&body, 0);
        wg_byte(&body, 0x41);
        wg_s32(&body, (int32_t)i);
        if (i == n - 1) {
            wg_byte(&body, 0x10);
            wg_u32(&body, 1);
            wg_byte(&body, 0x6A);
        }
        wg_byte(&body, 0x0B);
        wg_u32(&code, (uint32_t)body.len);
        wg_bytes(&code, body.data, body.len);
        kpBuf_free(&body);
    }
    wg_section(&mod, 10, &code);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, ALLOW_OK | ALLOW_LIMIT);
    if (rc == 0) rc = instantiate(&e, ALLOW_OK);
    kapsul_val r = { 0 };
    if (rc == 0) rc = call(&e, "f99999", NULL, 0, 1, &r, ALLOW_OK, KAPSUL_TRAP_NONE);
    if (rc == 0 && r.of.i32 != 99999 + 1) {
        printf("    f99999 returned %d\n", r.of.i32);
        rc = -1;
    }
    env_free(&e);
    return rc < 0 ? 1 : 0;
}

/* Many functions each declaring 50,000 locals: 7 bytes of body per function ask for 50,000
 * locals, so per-function work proportional to the declared locals would show up as load time far
 * out of proportion to the module's size (100,000 such functions = 700 KB asking for 5 * 10^9
 * locals; lowering took 16 s for that when this test was written, before it looked locals up per
 * declaration run). 100,000 functions (10,000 under sanitizers); the printed time tells whether
 * the cost stays proportional to the module's size. */
static int case_funcs_many_locals(void) {
    const uint32_t n = KPT_SANITIZED || KPT_VALGRIND() ? 10000 : 100000;
    printf("    %u functions x 50,000 locals\n", n);
    kpBuf mod = { 0 }, code = { 0 };
    prologue(&mod, "", "", n);
    export_f(&mod);
    static const uint8_t body[] = { 0x06, 0x01, 0xD0, 0x86, 0x03, 0x7E, 0x0B }; /* 50000 x i64 */
    wg_u32(&code, n);
    wg_repeat(&code, body, sizeof body, n);
    wg_section(&mod, 10, &code);
    return load_run(&mod, ALLOW_OK | ALLOW_LIMIT, ALLOW_OK, KAPSUL_TRAP_NONE);
}

/* One million types (3 bytes each). */
static int case_types_1m(void) {
    kpBuf mod = { 0 }, s = { 0 };
    static const uint8_t t[3] = { 0x60, 0x00, 0x00 };
    wg_header(&mod);
    wg_u32(&s, MILLION);
    wg_repeat(&s, t, 3, MILLION);
    wg_section(&mod, 1, &s);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, ALLOW_OK | ALLOW_LIMIT);
    env_free(&e);
    return rc < 0 ? 1 : 0;
}

/* ---- Memory and tables ------------------------------------------------------------------------- */

/* Module with memory (min, max) exporting:
 *   grow(n) -> memory.grow n
 *   poke(a) -> i32.store8 a 0x5A; i32.load8_u a
 *   peek_far(a) -> i32.load offset=0xFFFFFFFF a  (past 4 GiB for any a)
 */
static void memory_module(kpBuf *mod, uint32_t min, bool has_max, uint32_t max) {
    kpBuf s = { 0 };
    wg_header(mod);
    wg_u32(&s, 1);
    wg_byte(&s, 0x60);
    wg_u32(&s, 1);
    wg_byte(&s, 0x7F);
    wg_u32(&s, 1);
    wg_byte(&s, 0x7F);
    wg_section(mod, 1, &s);
    wg_func_section(mod, 3);
    wg_u32(&s, 1);
    wg_byte(&s, has_max ? 1 : 0);
    wg_u32(&s, min);
    if (has_max) wg_u32(&s, max);
    wg_section(mod, 5, &s);
    wg_u32(&s, 3);
    wg_export_func(&s, "grow", 0);
    wg_export_func(&s, "poke", 1);
    wg_export_func(&s, "peek_far", 2);
    wg_section(mod, 7, &s);
    static const uint8_t grow[] = { 0x00, 0x20, 0x00, 0x40, 0x00, 0x0B };
    static const uint8_t poke[] = { 0x00, 0x20, 0x00, 0x41, 0xDA, 0x00, 0x3A, 0x00,
                                    0x00, 0x20, 0x00, 0x2D, 0x00, 0x00, 0x0B };
    static const uint8_t peek[] = { 0x00, 0x20, 0x00, 0x28, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x0B };
    wg_u32(&s, 3);
    wg_u32(&s, sizeof grow);
    wg_bytes(&s, grow, sizeof grow);
    wg_u32(&s, sizeof poke);
    wg_bytes(&s, poke, sizeof poke);
    wg_u32(&s, sizeof peek);
    wg_bytes(&s, peek, sizeof peek);
    wg_section(mod, 10, &s);
}

static int call_i32(env *e, const char *name, int32_t arg, int32_t *out, unsigned allowed, kapsul_trap want) {
    kapsul_val r = { 0 };
    int rc = call(e, name, &arg, 1, 1, &r, allowed, want);
    if (rc == 0) {
        *out = r.of.i32;
        printf("    %s(%d) = %d\n", name, arg, r.of.i32);
    }
    return rc;
}

/* After the memory has `pages` pages: the last byte is writable, a far access traps. */
static int check_top(env *e, uint32_t pages) {
    int32_t v;
    int32_t last = (int32_t)(uint32_t)((uint64_t)pages * 65536 - 1);
    if (call_i32(e, "poke", last, &v, ALLOW_OK, KAPSUL_TRAP_NONE) || v != 0x5A) return -1;
    /* One past the end (at 4 GiB that address does not exist in i32, so nothing to check). */
    if (pages < 65536 &&
        call_i32(e, "poke", (int32_t)(pages * 65536u), &v, ALLOW_TRAP, KAPSUL_TRAP_MEMORY_OOB) != 1)
        return -1;
    if (call_i32(e, "peek_far", -1, &v, ALLOW_TRAP, KAPSUL_TRAP_MEMORY_OOB) != 1) return -1;
    if (call_i32(e, "peek_far", 0, &v, ALLOW_TRAP, KAPSUL_TRAP_MEMORY_OOB) != 1) return -1;
    return 0;
}

/* Declared with 65,536 pages (4 GiB): instantiate may refuse with a limit or succeed. */
static int case_memory_declared_4g(void) {
    kpBuf mod = { 0 };
    memory_module(&mod, 65536, false, 0);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, ALLOW_OK);
    if (rc == 0) rc = instantiate(&e, ALLOW_OK | ALLOW_LIMIT | ALLOW_TRAP | BIT(KAPSUL_ERR_NOMEM));
    int32_t v;
    if (rc == 0) rc = check_top(&e, 65536);
    if (rc == 0 && call_i32(&e, "grow", 1, &v, ALLOW_OK, KAPSUL_TRAP_NONE) == 0 && v != -1) rc = -1;
    env_free(&e);
    return rc < 0 ? 1 : 0;
}

/* Declared empty, grown to 65,536 pages in one step, then past the maximum. */
static int case_memory_grow_4g(void) {
    kpBuf mod = { 0 };
    memory_module(&mod, 0, true, 65536);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, ALLOW_OK);
    if (rc == 0) rc = instantiate(&e, ALLOW_OK);
    int32_t v = 0;
    if (rc == 0) rc = call_i32(&e, "grow", 65536, &v, ALLOW_OK, KAPSUL_TRAP_NONE);
    if (rc == 0 && v == 0) rc = check_top(&e, 65536);
    else if (rc == 0 && v != -1) rc = -1;
    if (rc == 0 && (call_i32(&e, "grow", 1, &v, ALLOW_OK, KAPSUL_TRAP_NONE) || v != -1)) rc = -1;
    if (rc == 0 && (call_i32(&e, "grow", -1, &v, ALLOW_OK, KAPSUL_TRAP_NONE) || v != -1)) rc = -1;
    env_free(&e);
    return rc < 0 ? 1 : 0;
}

/* Grown in 65,536 steps of one page (the growth path, not the reservation, does the work). */
static int case_memory_grow_steps(void) {
    kpBuf mod = { 0 };
    memory_module(&mod, 0, false, 0);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, ALLOW_OK);
    if (rc == 0) rc = instantiate(&e, ALLOW_OK);
    int32_t v = 0;
    uint32_t grown = 0;
    for (uint32_t i = 0; rc == 0 && i < 65536; i++) {
        kapsul_val r = { 0 };
        int32_t one = 1;
        kapsul_error err = { 0 };
        kapsul_val a = { .kind = KAPSUL_I32, .of.i32 = one };
        kapsul_status st =
            kapsul_func_call(e.store, kapsul_instance_func(e.inst, "grow"), &a, 1, &r, 1, &err);
        if (st != KAPSUL_OK) {
            report("grow(1)", st, &err, 0);
            rc = -1;
            break;
        }
        if (r.of.i32 == -1) break;
        if ((uint32_t)r.of.i32 != i) {
            printf("    grow(1) #%u returned %d\n", i, r.of.i32);
            rc = -1;
        }
        grown++;
    }
    printf("    grew %u pages one at a time\n", grown);
    if (rc == 0 && grown > 0) rc = check_top(&e, grown);
    if (rc == 0 && (call_i32(&e, "grow", 1, &v, ALLOW_OK, KAPSUL_TRAP_NONE) || (grown == 65536 && v != -1)))
        rc = -1;
    env_free(&e);
    return rc < 0 ? 1 : 0;
}

/* With a 64 MiB cap in the config: 4 GiB declared fails cleanly; growth stops at the cap. */
static int case_memory_capped(void) {
    kapsul_config cfg = { 0 };
    cfg.max_memory_bytes = (size_t)64 << 20;
    kpBuf mod = { 0 };
    memory_module(&mod, 65536, false, 0);
    env e = { 0 };
    int rc = load(&e, &cfg, &mod, ALLOW_OK);
    if (rc == 0 && instantiate(&e, ALLOW_LIMIT | ALLOW_TRAP | BIT(KAPSUL_ERR_NOMEM)) != 1) rc = -1;
    env_free(&e);
    if (rc < 0) return 1;
    memory_module(&mod, 0, false, 0);
    env e2 = { 0 };
    int32_t v = 0;
    rc = load(&e2, &cfg, &mod, ALLOW_OK);
    if (rc == 0) rc = instantiate(&e2, ALLOW_OK);
    if (rc == 0 && (call_i32(&e2, "grow", 1025, &v, ALLOW_OK, KAPSUL_TRAP_NONE) || v != -1)) rc = -1;
    if (rc == 0 && (call_i32(&e2, "grow", 1024, &v, ALLOW_OK, KAPSUL_TRAP_NONE) || v != 0)) rc = -1;
    if (rc == 0 && (call_i32(&e2, "grow", 1, &v, ALLOW_OK, KAPSUL_TRAP_NONE) || v != -1)) rc = -1;
    if (rc == 0) rc = check_top(&e2, 1024);
    env_free(&e2);
    return rc < 0 ? 1 : 0;
}

/* 65,537 pages declared: invalid. */
static int case_memory_too_big(void) {
    kpBuf mod = { 0 };
    memory_module(&mod, 65537, false, 0);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, ALLOW_REJECT);
    env_free(&e);
    return rc == 1 ? 0 : 1;
}

/* A table of 10,000,000 funcref entries (the implementation limit) and one of 2^32-1. */
static int case_tables(void) {
    int bad = 0;
    const uint32_t mins[2] = { 10000000u, 0xFFFFFFFFu };
    for (int i = 0; i < 2; i++) {
        kpBuf mod = { 0 }, s = { 0 };
        wg_header(&mod);
        wg_u32(&s, 1);
        wg_byte(&s, 0x70);
        wg_byte(&s, 0x00);
        wg_u32(&s, mins[i]);
        wg_section(&mod, 4, &s);
        env e = { 0 };
        int rc = load(&e, NULL, &mod, ALLOW_OK | ALLOW_REJECT);
        if (rc == 0) rc = instantiate(&e, ALLOW_OK | ALLOW_LIMIT | ALLOW_TRAP | BIT(KAPSUL_ERR_NOMEM));
        if (rc < 0) bad++;
        env_free(&e);
    }
    return bad ? 1 : 0;
}

/* An active data segment at offset 0xFFFFFFFF: instantiation traps (out of bounds). */
static int case_data_far(void) {
    kpBuf mod = { 0 }, s = { 0 };
    wg_header(&mod);
    wg_u32(&s, 1);
    wg_byte(&s, 0x00);
    wg_u32(&s, 1);
    wg_section(&mod, 5, &s);
    wg_u32(&s, 1);
    wg_u32(&s, 0);
    wg_byte(&s, 0x41);
    wg_s32(&s, -1);
    wg_byte(&s, 0x0B);
    wg_name(&s, "xy");
    wg_section(&mod, 11, &s);
    env e = { 0 };
    int rc = load(&e, NULL, &mod, ALLOW_OK);
    if (rc == 0 && instantiate(&e, ALLOW_TRAP) != 1) rc = -1;
    env_free(&e);
    return rc < 0 ? 1 : 0;
}

/* ---- Deep text ---------------------------------------------------------------------------------
 * The text parser meets nesting as parentheses; a recursive parser would overflow the C stack. */

/* Build `pre` n times, then `mid`, then `post` n times, around a module prefix and suffix. */
static void text_repeat(kpBuf *t, const char *head, const char *pre, const char *mid, const char *post,
                        uint32_t n, const char *tail) {
    wg_bytes(t, head, strlen(head));
    wg_repeat(t, pre, strlen(pre), n);
    wg_bytes(t, mid, strlen(mid));
    wg_repeat(t, post, strlen(post), n);
    wg_bytes(t, tail, strlen(tail));
}

/* Encode text, then load the binary and (if asked) call "f" expecting `want`. */
static int text_case(kpBuf *t, unsigned text_ok, bool call_f, int32_t want) {
    kpBuf bin = { 0 };
    kapsul_error err = { 0 };
    printf("    text: %zu bytes\n", t->len);
    peak_reset();
    kapsul_status st = kpWat_toBinary((const char *)t->data, t->len, 1, &bin, &err);
    kpBuf_free(t);
    if (report("kpWat_toBinary", st, &err, text_ok)) {
        kpBuf_free(&bin);
        return 1;
    }
    if (st != KAPSUL_OK) return 0;
    env e = { 0 };
    int rc = load(&e, NULL, &bin, ALLOW_OK | ALLOW_LIMIT);
    if (rc == 0 && call_f) rc = instantiate(&e, ALLOW_OK);
    kapsul_val r = { 0 };
    if (rc == 0 && call_f) rc = call(&e, "f", NULL, 0, 1, &r, ALLOW_OK | ALLOW_TRAP, KAPSUL_TRAP_NONE);
    if (rc == 0 && call_f && r.of.i32 != want) {
        printf("    f returned %d\n", r.of.i32);
        rc = -1;
    }
    env_free(&e);
    return rc < 0 ? 1 : 0;
}

static int case_text_nested_blocks(void) {
    kpBuf t = { 0 };
    text_repeat(&t, "(module (func (export \"f\") (result i32) ", "(block ", "", ")", MILLION,
                " (i32.const 7)))");
    return text_case(&t, ALLOW_OK, true, 7);
}

static int case_text_unclosed(void) {
    kpBuf t = { 0 };
    wg_fill(&t, '(', MILLION);
    return text_case(&t, BIT(KAPSUL_ERR_MALFORMED), false, 0);
}

/* 100,000 folded additions nested inside each other: 100,000 operands live at once. */
static int case_text_nested_adds(void) {
    kpBuf t = { 0 };
    text_repeat(&t, "(module (func (export \"f\") (result i32) ", "(i32.add (i32.const 1) ", "(i32.const 0)",
                ")", 100000, "))");
    return text_case(&t, ALLOW_OK, true, 100000);
}

/* ---- Harness ----------------------------------------------------------------------------------- */

typedef int (*case_fn)(void);

static double peak_largest = 0;

/* RSS means something only without sanitizers and outside valgrind. */
static bool rss_meaningful(void) { return !KPT_SANITIZED && !KPT_VALGRIND(); }

/* Run one case in a child process; print its time and peak RSS. */
static void run_case(const char *name, case_fn fn) {
    struct timespec t0, t1;
    printf("%s\n", name);
    fflush(stdout);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        CHECK(0);
        return;
    }
    if (pid == 0) {
        mallopt(M_MMAP_THRESHOLD, 128 * 1024); /* the CLI's allocator policy (src/cli/main.c) */
        int rc = fn();
        fflush(stdout);
        exit(rc);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("wait4");
        CHECK(0);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = ms_between(&t0, &t1);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    double mib = (double)ru.ru_maxrss / 1024.0;
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    printf("  => %s  %.1f ms (CPU %.1f ms)  peak RSS %.1f MiB%s\n",
           ok                    ? "ok"
           : WIFSIGNALED(status) ? "CRASHED"
                                 : "FAILED",
           ms, cpu, mib, (rss_meaningful() && mib > BUDGET_MIB) ? "  (over the 64 MiB budget)" : "");
    if (WIFSIGNALED(status)) printf("  signal %d\n", WTERMSIG(status));
    else if (!ok) printf("  exit status %d\n", WEXITSTATUS(status));
    if (rss_meaningful() && mib > peak_largest) peak_largest = mib;
    CHECK(ok);
    if (rss_meaningful()) CHECK(mib < BUDGET_MIB);
}

int main(void) {
    static const struct {
        const char *name;
        case_fn fn;
    } cases[] = {
        { "1,000,000 nested blocks", case_nested_blocks },
        { "1,000,000 nested if/else", case_nested_ifs },
        { "1,000,000 nested if/else on a local", case_nested_ifs_local },
        { "4,000,001 flat instructions (for comparison)", case_flat_4m },
        { "1,000,000 nested typed loops", case_nested_loops_typed },
        { "1,000,000 unclosed blocks", case_nested_unclosed },
        { "br out of 1,000,000 blocks", case_nested_br_outermost },
        { "1,000,000-deep constant expression", case_nested_const_expr },
        { "50,000 locals", case_locals_50000 },
        { "50,001 locals", case_locals_50001 },
        { "50,001 locals in three runs", case_locals_split_50001 },
        { "local counts overflowing u32", case_locals_overflow },
        { "local counts wrapping to 1", case_locals_overflow_wrap },
        { "50,000 local runs", case_locals_many_runs },
        { "50,000 locals, unbounded recursion", case_locals_recursive },
        { "unbounded recursion", case_recursion },
        { "br_table with 1,000,000 targets", case_brtable_1m },
        { "br_table with 4,000,000 targets", case_brtable_4m },
        { "br_table claiming 2^32-1 targets", case_brtable_count_lies },
        { "br_table 1,000,000 targets, last unknown", case_brtable_bad_label_last },
        { "LEB128 in section headers", case_leb_cases },
        { "LEB128 in immediates", case_leb_immediates },
        { "section sizes that lie", case_section_sizes },
        { "function body sizes that lie", case_body_sizes },
        { "100,000 functions", case_funcs_100k },
        { "100,000 functions x 50,000 locals", case_funcs_many_locals },
        { "1,000,000 types", case_types_1m },
        { "memory of 65,536 pages declared", case_memory_declared_4g },
        { "memory grown to 65,536 pages", case_memory_grow_4g },
        { "memory grown one page at a time", case_memory_grow_steps },
        { "memory under a 64 MiB cap", case_memory_capped },
        { "memory of 65,537 pages", case_memory_too_big },
        { "huge tables", case_tables },
        { "data segment at 0xFFFFFFFF", case_data_far },
        { "text: 1,000,000 nested folded blocks", case_text_nested_blocks },
        { "text: 1,000,000 unclosed parentheses", case_text_unclosed },
        { "text: 100,000 nested folded i32.add", case_text_nested_adds },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(cases[i].name, cases[i].fn);
    if (rss_meaningful()) printf("largest peak RSS of any case: %.1f MiB\n", peak_largest);
    return kpt_finish();
}
