/*
 * diff_run.c FILE [FUEL] -- instantiate a module (.wasm: interpreter, .kwasm: native tier) with harmless
 * imports (host functions returning zeros, fresh memories, tables and globals), call every
 * exported function with zero arguments under a 300 ms deadline each, and print one line per call
 * (results, or the trap kind) and a hash of each exported memory. tests/native/differential.sh
 * runs it on a module and on its compiled artifact and compares the two outputs.
 * NaNs print as "nan" (their bits may legitimately differ between engines); after a deadline
 * trap the memory hashes are left out, since the two tiers stopped at different points.
 * With a second argument N, each call (and the instantiation) gets N units of fuel instead and the
 * line ends with the fuel it used: the tiers must charge the same units at the same points.
 * A trap prints its backtrace's function indices (not after a deadline or stack exhaustion, where
 * the tiers stop at different points) and any native frame offset that is not plausible.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "runtime/runtime.h"
#include "../fuzz/stubs.h"

static void print_val(const kapsul_val *v) {
    switch (v->kind) {
    case KAPSUL_I32: printf(" i32:%u", (unsigned)v->of.i32); break;
    case KAPSUL_I64: printf(" i64:%llu", (unsigned long long)v->of.i64); break;
    case KAPSUL_F32: {
        float x;
        memcpy(&x, &v->of.f32_bits, 4);
        isnan(x) ? printf(" f32:nan") : printf(" f32:%08x", v->of.f32_bits);
        break;
    }
    case KAPSUL_F64: {
        double x;
        memcpy(&x, &v->of.f64_bits, 8);
        isnan(x) ? printf(" f64:nan") : printf(" f64:%016llx", (unsigned long long)v->of.f64_bits);
        break;
    }
    case KAPSUL_V128:
        printf(" v128:");
        for (int i = 0; i < 16; i++) printf("%02x", v->of.v128[i]);
        break;
    default: printf(" ref:%s", v->of.funcref ? "non-null" : "null"); break;
    }
}

static bool timed_out;
static const kpModule *module; /* for checking native frame offsets */

/* A trap's backtrace: the function index of each frame (the interpreter's and the native tier's
 * must agree). A native frame's offset must be 0 (unknown: a guard-page fault) or point into the
 * code section at an instruction that can be there: a call for every frame but the innermost. */
static void print_frames(const kapsul_error *err) {
    printf(" frames");
    for (int i = 0; i < err->nframes; i++) {
        uint32_t off = err->frames[i].offset;
        printf(" %u", err->frames[i].func_index);
        if (getenv("DIFF_SHOW_OFFSETS")) printf("@%u", off);
        if (!off) continue;
        if (off >= module->size) {
            printf("(offset %u outside the module)", off);
        } else if (i > 0 && module->bytes[off] != 0x10 && module->bytes[off] != 0x11) {
            printf("(offset %u is opcode 0x%02x, not a call)", off, module->bytes[off]);
        }
    }
}
static uint64_t fuel; /* argv[2]: the fuel each call gets (0 = unmetered) */

/* Give the next call its fuel (and a deadline, the bound when unmetered). */
static void arm(kapsul_store *s) {
    kapsul_store_set_deadline(s, kpOs_monotonicNs() + 300000000u);
    if (fuel) kapsul_store_set_fuel(s, fuel);
}

/* The fuel the last call used: it must match between tiers except where the tiers stop at
 * different points (deadline, stack exhaustion: the two tiers' stacks differ). */
static void print_fuel(kapsul_store *s, kapsul_status st, const kapsul_error *err) {
    if (!fuel) return;
    if (st == KAPSUL_ERR_TRAP && (err->trap == KAPSUL_TRAP_TIMEOUT || err->trap == KAPSUL_TRAP_STACK_EXHAUSTED))
        return;
    printf(" fuel:%llu", (unsigned long long)(fuel - kapsul_store_fuel_remaining(s)));
}

static void call_export(kapsul_store *s, const kpExport *ex, kapsul_func *f) {
    uint32_t np = kapsul_func_param_count(f), nr = kapsul_func_result_count(f);
    kapsul_val *args = calloc(np + 1, sizeof *args), *res = calloc(nr + 1, sizeof *res);
    for (uint32_t i = 0; i < np; i++) args[i] = zero_of((kpValType)kapsul_func_param(f, i));
    kapsul_error err;
    memset(&err, 0, sizeof err);
    arm(s);
    kapsul_status st = kapsul_func_call(s, f, args, np, res, nr, &err);
    printf("%.*s:", (int)ex->name_len, ex->name);
    if (st == KAPSUL_OK) {
        for (uint32_t i = 0; i < nr; i++) print_val(&res[i]);
    } else if (st == KAPSUL_ERR_TRAP) {
        printf(" trap %s", kapsul_trap_name(err.trap));
        if (err.trap == KAPSUL_TRAP_TIMEOUT || err.trap == KAPSUL_TRAP_STACK_EXHAUSTED) timed_out = true;
        else print_frames(&err);
    } else {
        printf(" error %s", kapsul_status_name(st));
    }
    print_fuel(s, st, &err);
    printf("\n");
    free(args);
    free(res);
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) return 2;
    if (argc == 3) fuel = strtoull(argv[2], NULL, 10);
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 2;
    static uint8_t buf[16 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    kapsul_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_memory_bytes = (size_t)16 << 20;
    kapsul_engine *e = NULL;
    if (kapsul_engine_new(&cfg, &e, NULL) != KAPSUL_OK) return 2;
    kapsul_module *mod = NULL;
    kapsul_error err;
    memset(&err, 0, sizeof err);
    if (kapsul_module_new(e, buf, len, &mod, &err) != KAPSUL_OK) {
        printf("load error: %s\n", err.message);
        return 1;
    }
    kapsul_store *s = NULL;
    kapsul_linker *l = NULL;
    if (kapsul_store_new(e, &s, NULL) != KAPSUL_OK || kapsul_linker_new(s, &l, NULL) != KAPSUL_OK) return 2;
    const kpModule *m = mod->m;
    module = m;
    for (uint32_t i = 0; i < m->nimports; i++) define_import(s, l, m, i);
    kapsul_instance *inst = NULL;
    arm(s);
    kapsul_status st = kapsul_linker_instantiate(l, mod, &inst, &err);
    printf("instantiate: %s %s", kapsul_status_name(st), st == KAPSUL_ERR_TRAP ? kapsul_trap_name(err.trap) : "");
    print_fuel(s, st, &err);
    printf("\n");
    if (st == KAPSUL_OK) {
        for (uint32_t i = 0; i < m->nexports; i++)
            if (m->exports[i].kind == kpExtern_FUNC) {
                kapsul_extern ext;
                kapsul_instance_export(inst, m->exports[i].name, m->exports[i].name_len, &ext, NULL);
                call_export(s, &m->exports[i], ext.of.func);
            }
        for (uint32_t i = 0; i < m->nexports && !timed_out; i++)
            if (m->exports[i].kind == kpExtern_MEMORY) {
                kapsul_extern ext;
                kapsul_instance_export(inst, m->exports[i].name, m->exports[i].name_len, &ext, NULL);
                uint8_t h[32];
                kpSha256(kapsul_memory_data(ext.of.memory), kapsul_memory_size(ext.of.memory), h);
                printf("memory %.*s: %02x%02x%02x%02x\n", (int)m->exports[i].name_len, m->exports[i].name,
                       h[0], h[1], h[2], h[3]);
            }
    }
    kapsul_linker_free(l);
    kapsul_store_free(s);
    kapsul_module_free(mod);
    kapsul_engine_free(e);
    return 0;
}
