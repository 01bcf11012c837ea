/*
 * test_allocfail.c -- allocation-failure injection over the whole pipeline: for n = 0, 1, 2, ...
 * the n-th allocation (and every later one) fails while a module is parsed from text, loaded
 * (decode + validate + lower), instantiated (imports, segments, start function) and called (host
 * functions, memory.grow, table.grow, call_indirect), and for WAST scripts and a WASI guest.
 * Every step must either succeed or return KAPSUL_ERR_NOMEM (constructors: NULL); nothing may
 * crash, and in the ASan build (scripts/test.sh) nothing may leak. The loop ends at the first n
 * where the whole pipeline succeeds, whose result is then checked, so the test proves it went all
 * the way through.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kapsul.h"
#include "text/text.h"
#include "../fuzz/wasmgen.h"
#include "test.h"

#define MAX_N 200000L

/* ---- Modules -------------------------------------------------------------------------------- */

/* Imports a host function; has a start function, data and element segments, a growable memory
 * and table, and calls through the table. run() = 9 + 101 + 9 + grow result (1, or -1 when the
 * growth itself could not allocate) = 120 or 118. */
static const char *wat_full =
    "(module\n"
    "  (import \"host\" \"add\" (func $hadd (param i32 i32) (result i32)))\n"
    "  (type $un (func (param i32) (result i32)))\n"
    "  (memory 1 4)\n"
    "  (data (i32.const 0) \"\\01\\02\\03\\04\")\n"
    "  (data $pass \"passive\")\n"
    "  (table 2 8 funcref)\n"
    "  (elem (i32.const 0) $sq $hwrap)\n"
    "  (elem $pe func $sq)\n"
    "  (global $g (mut i32) (i32.const 5))\n"
    "  (func $sq (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))\n"
    "  (func $hwrap (param i32) (result i32) (call $hadd (local.get 0) (i32.const 100)))\n"
    "  (func $start (global.set $g (i32.add (global.get $g) (i32.load8_u (i32.const 3)))))\n"
    "  (start $start)\n"
    "  (func (export \"run\") (result i32) (local i32)\n"
    "    (local.set 0 (memory.grow (i32.const 1)))\n"
    "    (drop (table.grow (ref.null func) (i32.const 2)))\n"
    "    (memory.init $pass (i32.const 100) (i32.const 0) (i32.const 7))\n"
    "    (table.init $pe (i32.const 0) (i32.const 0) (i32.const 1))\n"
    "    (i32.add\n"
    "      (i32.add (call_indirect (type $un) (i32.const 3) (i32.const 0))\n"
    "               (call_indirect (type $un) (i32.const 1) (i32.const 1)))\n"
    "      (i32.add (global.get $g) (local.get 0)))))\n";

/* Multi-value, blocks, br_table, a loop and many small functions (lowering work). sum(10) = 55. */
static const char *wat_control =
    "(module\n"
    "  (func $pair (param i32) (result i32 i32) (local.get 0) (i32.const 1))\n"
    "  (func $f1 (result i32) (i32.const 1)) (func $f2 (result i32) (i32.const 2))\n"
    "  (func $f3 (result i32) (i32.const 3)) (func $f4 (result i32) (i32.const 4))\n"
    "  (func (export \"sum\") (param i32) (result i32) (local i32)\n"
    "    (block $done (loop $top\n"
    "      (br_if $done (i32.eqz (local.get 0)))\n"
    "      (local.set 1 (i32.add (local.get 1) (local.get 0)))\n"
    "      (local.set 0 (call $pair (local.get 0)) (i32.sub))\n"
    "      (br $top)))\n"
    "    (block $a (block $b (block $c\n"
    "      (br_table $a $b $c (i32.const 1)))\n"
    "      (local.set 1 (i32.add (local.get 1) (call $f1))))\n"
    "      (local.set 1 (i32.sub (local.get 1) (i32.add (call $f2) (call $f3)))))\n"
    "    (i32.add (local.get 1) (call $f4))))\n";

/* The same shape written as binary by hand: type () -> i32, one function returning 42 from a
 * two-target br_table inside nested blocks, exported as "sum" (called with no args is wrong, so
 * this one takes none: see run_binary). */
static void binary_module(kpBuf *mod) {
    kpBuf s = { 0 };
    wg_header(mod);
    wg_type_section1(mod, "", WG_I32);
    wg_func_section(mod, 2);
    kpBuf m = { 0 };
    wg_u32(&m, 1);
    wg_byte(&m, 0x01);
    wg_u32(&m, 1);
    wg_u32(&m, 2);
    wg_section(mod, 5, &m);
    wg_u32(&s, 1);
    wg_export_func(&s, "f", 1);
    wg_section(mod, 7, &s);
    /* func 0: i32.const 40; func 1: block(result i32) i32.const 2 i32.const 0 br_table 0 0 end
     * call 0 i32.add */
    static const uint8_t b0[] = { 0x00, 0x41, 0x28, 0x0B };
    static const uint8_t b1[] = { 0x01, 0x01, 0x7F, 0x02, 0x7F, 0x41, 0x02, 0x41, 0x00,
                                  0x0E, 0x01, 0x00, 0x00, 0x0B, 0x10, 0x00, 0x6A, 0x0B };
    wg_u32(&s, 2);
    wg_u32(&s, sizeof b0);
    wg_bytes(&s, b0, sizeof b0);
    wg_u32(&s, sizeof b1);
    wg_bytes(&s, b1, sizeof b1);
    wg_section(mod, 10, &s);
    /* A name section, so the name reader's allocations are covered too. */
    wg_name(&s, "name");
    kpBuf sub = { 0 };
    wg_u32(&sub, 2);
    wg_u32(&sub, 0);
    wg_name(&sub, "forty");
    wg_u32(&sub, 1);
    wg_name(&sub, "f");
    wg_byte(&s, 0x01);
    wg_u32(&s, (uint32_t)sub.len);
    wg_bytes(&s, sub.data, sub.len);
    kpBuf_free(&sub);
    wg_section(mod, 0, &s);
}

/* ---- The pipeline ------------------------------------------------------------------------------- */

static int unexpected;

/* A failing step must report NOMEM; anything else is a finding. */
static bool step_ok(const char *what, long n, kapsul_status st, const kapsul_error *err) {
    if (st == KAPSUL_OK) return true;
    if (st != KAPSUL_ERR_NOMEM) {
        fprintf(stderr, "n=%ld: %s returned %s (%s), expected NOMEM\n", n, what, kapsul_status_name(st),
                err ? err->message : "");
        unexpected++;
    }
    return false;
}

static kapsul_status host_add(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                              kapsul_error *err) {
    (void)env;
    (void)caller;
    (void)err;
    results[0].kind = KAPSUL_I32;
    results[0].of.i32 = args[0].of.i32 + args[1].of.i32;
    return KAPSUL_OK;
}

typedef struct job {
    const char *wat; /* text to encode, or NULL to use bin */
    const kpBuf *bin;
    const char *export_name;
    int32_t arg;
    bool has_arg;
    int32_t want, want_alt; /* accepted results of a complete run */
    bool wasi;
} job;

/* One attempt with allocation n failing. Returns 1 if every step succeeded (result checked),
 * 0 if a step failed cleanly. Everything is released before returning. */
static int attempt(const job *j, long n) {
    kapsul_error err;
    memset(&err, 0, sizeof err);
    kpBuf text_bin = { 0 };
    kapsul_engine *engine = NULL;
    kapsul_module *module = NULL;
    kapsul_store *store = NULL;
    kapsul_linker *linker = NULL;
    kapsul_wasi *wasi = NULL;
    kapsul_instance *inst = NULL;
    int complete = 0;
    const uint8_t *bytes;
    size_t len;

    kpAlloc_failAfter(n);
    if (j->wat) {
        if (!step_ok("kpWat_toBinary", n, kpWat_toBinary(j->wat, strlen(j->wat), 1, &text_bin, &err), &err))
            goto done;
        bytes = text_bin.data;
        len = text_bin.len;
    } else {
        bytes = j->bin->data;
        len = j->bin->len;
    }
    if (kapsul_engine_new(NULL, &engine, NULL) != KAPSUL_OK) goto done;
    if (!step_ok("kapsul_module_new", n, kapsul_module_new(engine, bytes, len, &module, &err), &err))
        goto done;
    if (kapsul_store_new(engine, &store, NULL) != KAPSUL_OK) goto done;
    if (kapsul_linker_new(store, &linker, NULL) != KAPSUL_OK) goto done;
    if (j->wasi) {
        static const char *const argv[] = { "prog", "arg1" };
        static const char *const env[] = { "K=V" };
        kapsul_wasi_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.argv = argv;
        cfg.argc = 2;
        cfg.env = env;
        cfg.envc = 1;
        int devnull = open("/dev/null", O_WRONLY);
        cfg.stdin_fd = -1;
        cfg.stdout_fd = devnull;
        cfg.stderr_fd = devnull;
        kapsul_status st = kapsul_wasi_new(&cfg, &wasi, &err);
        if (devnull >= 0) close(devnull);
        if (!step_ok("kapsul_wasi_new", n, st, &err)) goto done;
        if (!step_ok("kapsul_wasi_define", n, kapsul_wasi_define(wasi, linker, NULL), NULL)) goto done;
    } else {
        static const kapsul_valkind p[2] = { KAPSUL_I32, KAPSUL_I32 }, r[1] = { KAPSUL_I32 };
        if (!step_ok("kapsul_linker_define_func", n,
                     kapsul_linker_define_func(linker, "host", "add", p, 2, r, 1, host_add, NULL, NULL),
                     NULL))
            goto done;
    }
    if (!step_ok("kapsul_linker_instantiate", n, kapsul_linker_instantiate(linker, module, &inst, &err),
                 &err))
        goto done;
    kapsul_func *f = kapsul_instance_func(inst, j->export_name);
    if (!f) {
        fprintf(stderr, "n=%ld: export %s missing\n", n, j->export_name);
        unexpected++;
        goto done;
    }
    kapsul_val arg = { .kind = KAPSUL_I32, .of.i32 = j->arg }, res = { 0 };
    if (!step_ok("kapsul_func_call", n, kapsul_func_call(store, f, &arg, j->has_arg ? 1 : 0, &res, 1, &err),
                 &err))
        goto done;
    if (res.kind != KAPSUL_I32 || (res.of.i32 != j->want && res.of.i32 != j->want_alt)) {
        fprintf(stderr, "n=%ld: %s returned %d, want %d\n", n, j->export_name, res.of.i32, j->want);
        unexpected++;
        goto done;
    }
    complete = res.of.i32 == j->want;
done:
    if (linker) kapsul_linker_free(linker);
    if (store) kapsul_store_free(store);
    if (wasi) kapsul_wasi_free(wasi);
    if (module) kapsul_module_free(module);
    if (engine) kapsul_engine_free(engine);
    kpBuf_free(&text_bin);
    kpAlloc_failAfter(-1);
    return complete;
}

/* n = 0, 1, 2, ... until a run goes through with nothing failing. */
static void sweep(const char *name, const job *j) {
    int before = unexpected;
    long n;
    for (n = 0; n < MAX_N; n++)
        if (attempt(j, n)) break;
    printf("%-28s %ld allocation points, each failed cleanly; %d unexpected statuses\n", name, n,
           unexpected - before);
    CHECK(n < MAX_N);
    CHECK(n > 0);
    CHECK(unexpected == before);
}

/* ---- WAST scripts -------------------------------------------------------------------------------- */

static const char *wast_script =
    "(module $m (func (export \"f\") (param i32) (result i32) (local.get 0)))\n"
    "(register \"m\" $m)\n"
    "(assert_return (invoke \"f\" (i32.const 7)) (i32.const 7))\n"
    "(assert_trap (invoke \"f\" (i32.const 1)) \"unreachable\")\n"
    "(assert_invalid (module (func (result i32))) \"type mismatch\")\n"
    "(assert_malformed (module quote \"(func\" \" (nop)\") \"unexpected\")\n"
    "(assert_malformed (module binary \"\\00asm\" \"\\01\\00\\00\\00\") \"x\")\n"
    "(assert_return (invoke $m \"f\" (i32.const 3)) (f64.const nan:canonical) (v128.const i32x4 1 2 3 4))\n";

static void sweep_wast(void) {
    long n;
    int bad = 0;
    for (n = 0; n < MAX_N; n++) {
        kpWastScript script;
        memset(&script, 0, sizeof script);
        kapsul_error err;
        memset(&err, 0, sizeof err);
        kpAlloc_failAfter(n);
        kapsul_status st = kpWast_parse(wast_script, strlen(wast_script), &script, &err);
        uint32_t ncmds = script.ncmds;
        kpWast_free(&script);
        kpAlloc_failAfter(-1);
        if (st == KAPSUL_OK) {
            CHECK(ncmds == 8);
            break;
        }
        if (st != KAPSUL_ERR_NOMEM) {
            fprintf(stderr, "n=%ld: kpWast_parse returned %s (%s)\n", n, kapsul_status_name(st), err.message);
            bad++;
        }
    }
    printf("%-28s %ld allocation points, each failed cleanly; %d unexpected statuses\n", "wast script", n,
           bad);
    CHECK(n < MAX_N);
    CHECK(bad == 0);
}

/* A WASI guest: sizes of argv/env, then fd_write of "hi\n" to stdout (/dev/null). Returns
 * argc * 100 + envc * 10 + errno of the write (0) = 210. */
static const char *wat_wasi =
    "(module\n"
    "  (import \"wasi_snapshot_preview1\" \"args_sizes_get\" (func $asg (param i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"environ_sizes_get\" (func $esg (param i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_write\" (func $fdw (param i32 i32 i32 i32) (result i32)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (data (i32.const 64) \"hi\\n\")\n"
    "  (func (export \"main\") (result i32) (local i32)\n"
    "    (drop (call $asg (i32.const 0) (i32.const 4)))\n"
    "    (drop (call $esg (i32.const 8) (i32.const 12)))\n"
    "    (i32.store (i32.const 16) (i32.const 64))\n"
    "    (i32.store (i32.const 20) (i32.const 3))\n"
    "    (local.set 0 (call $fdw (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))\n"
    "    (i32.add (i32.add (i32.mul (i32.load (i32.const 0)) (i32.const 100))\n"
    "                      (i32.mul (i32.load (i32.const 8)) (i32.const 10)))\n"
    "             (local.get 0))))\n";

int main(void) {
    kpBuf bin = { 0 };
    binary_module(&bin);
    const job jobs[] = {
        { wat_full, NULL, "run", 0, false, 120, 118, false },
        { wat_control, NULL, "sum", 10, true, 55 - 5 + 4, 55 - 5 + 4, false },
        { NULL, &bin, "f", 0, false, 42, 42, false },
        { wat_wasi, NULL, "main", 0, false, 210, 210, true },
    };
    const char *names[] = { "text: segments, start, host", "text: control, multi-value",
                            "binary: br_table, names", "text: WASI guest" };
    for (size_t i = 0; i < sizeof jobs / sizeof *jobs; i++) sweep(names[i], &jobs[i]);
    sweep_wast();
    kpBuf_free(&bin);
    return kpt_finish();
}
