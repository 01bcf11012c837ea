/*
 * test_native_sample.c -- kapsul_store_sample across tiers and kapsul_module_code_ranges.
 *
 * An interpreted module calls into a native instance whose code calls a host function; the host
 * function samples the store (what a SIGPROF handler does) and gets the native frames, then the
 * interpreted callers, innermost first, each with its module. Then it re-enters the same native
 * instance, whose code calls it again: the second sample has the inner entry's frame, then the
 * outer entry's frames at their own levels (the inner entry shares the context and moved its
 * depth), then the interpreted ones. Also: the code ranges of the native module name each of
 * its functions with a non-empty range, and an interpreted module has none. Needs the native
 * compiler ($KAPSUL_LLVMC, set by tests/suites/debug.cmake); without it only the interpreted
 * half is checked.
 */
#include <stdlib.h>
#include <string.h>

#include "kapsul.h"
#include "test.h"

static const char lib_wat[] = "(module (import \"h\" \"probe\" (func $probe))"
                              "  (func $leaf (call $probe))"
                              "  (func $mid (export \"mid\") (call $leaf))"
                              "  (func $again (export \"again\") (call $probe)))";
static const char user_wat[] = "(module (import \"lib\" \"mid\" (func $mid))"
                               "  (func $outer (call $mid))"
                               "  (func (export \"top\") (call $outer)))";

static kapsul_instance *lib_inst;
static kapsul_frame first[8], second[8];
static size_t nfirst, nsecond;
static int probes;

static kapsul_func *export_func(kapsul_instance *inst, const char *name) {
    kapsul_extern ext;
    if (kapsul_instance_export(inst, name, strlen(name), &ext, NULL) != KAPSUL_OK) return NULL;
    return ext.kind == KAPSUL_EXTERN_FUNC ? ext.of.func : NULL;
}

static kapsul_status probe(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                           kapsul_error *err) {
    (void)env, (void)args, (void)results;
    kapsul_store *s = kapsul_caller_store(caller);
    if (++probes == 1) {
        nfirst = kapsul_store_sample(s, first, 8);
        return kapsul_func_call(s, export_func(lib_inst, "again"), NULL, 0, NULL, 0, err);
    }
    nsecond = kapsul_store_sample(s, second, 8);
    return KAPSUL_OK;
}

static bool frame_is(const kapsul_frame *f, uint32_t func, const kapsul_module *m) {
    return f->func_index == func && f->module == m;
}

/* Run user.top with lib from module libm; check both samples. */
static void run(kapsul_engine *e, kapsul_module *libm, kapsul_module *um) {
    kapsul_store *s = NULL;
    kapsul_linker *l = NULL;
    kapsul_instance *user = NULL;
    kapsul_error err;
    probes = 0;
    nfirst = nsecond = 0;
    CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK && kapsul_linker_new(s, &l, NULL) == KAPSUL_OK);
    CHECK(kapsul_linker_define_func(l, "h", "probe", NULL, 0, NULL, 0, probe, NULL, NULL) == KAPSUL_OK);
    CHECK(kapsul_linker_instantiate(l, libm, &lib_inst, &err) == KAPSUL_OK);
    CHECK(kapsul_linker_define_instance(l, "lib", 3, lib_inst, &err) == KAPSUL_OK);
    CHECK(kapsul_linker_instantiate(l, um, &user, &err) == KAPSUL_OK);
    if (!user) goto out;
    CHECK(kapsul_func_call(s, export_func(user, "top"), NULL, 0, NULL, 0, &err) == KAPSUL_OK);
    CHECK(probes == 2);
    /* leaf <- mid (lib) <- outer <- top (user) */
    CHECK(nfirst == 4);
    if (nfirst == 4) {
        CHECK(frame_is(&first[0], 1, libm) && frame_is(&first[1], 2, libm));
        CHECK(frame_is(&first[2], 1, um) && frame_is(&first[3], 2, um));
        CHECK(first[1].offset != 0 && first[2].offset != 0 && first[3].offset != 0);
    }
    /* again (lib, the inner entry) <- [host] <- leaf <- mid (lib) <- outer <- top (user) */
    CHECK(nsecond == 5);
    if (nsecond == 5) {
        CHECK(frame_is(&second[0], 3, libm));
        CHECK(frame_is(&second[1], 1, libm) && frame_is(&second[2], 2, libm));
        CHECK(frame_is(&second[3], 1, um) && frame_is(&second[4], 2, um));
        CHECK(second[2].offset == first[1].offset);
    }
    /* Nothing runs now: an empty sample. */
    CHECK(kapsul_store_sample(s, first, 8) == 0);
out:
    kapsul_linker_free(l);
    kapsul_store_free(s);
}

int main(void) {
    kapsul_engine *e = NULL;
    kapsul_module *src = NULL, *nat = NULL, *um = NULL;
    kapsul_error err;
    CHECK(kapsul_engine_new(NULL, &e, NULL) == KAPSUL_OK);
    CHECK(kapsul_module_new_wat(e, lib_wat, sizeof lib_wat - 1, &src, &err) == KAPSUL_OK);
    CHECK(kapsul_module_new_wat(e, user_wat, sizeof user_wat - 1, &um, &err) == KAPSUL_OK);
    if (!src || !um) return kpt_finish();
    run(e, src, um); /* both interpreted: the same stacks */
    CHECK(kapsul_module_code_ranges(src, NULL, 0) == 0);
    uint8_t *kw = NULL;
    size_t kw_len = 0;
    if (getenv("KAPSUL_LLVMC") && kapsul_module_serialize(src, &kw, &kw_len, &err) == KAPSUL_OK &&
        kapsul_module_deserialize(e, kw, kw_len, &nat, &err) == KAPSUL_OK) {
        run(e, nat, um);
        kapsul_code_range r[16];
        size_t n = kapsul_module_code_ranges(nat, r, 16);
        bool seen[4] = { false };
        CHECK(n >= 3 && n <= 16);
        for (size_t i = 0; i < n && i < 16; i++) {
            CHECK(r[i].func_index >= 1 && r[i].func_index <= 3 && r[i].size > 0 && r[i].start != NULL);
            if (r[i].func_index < 4) seen[r[i].func_index] = true;
        }
        CHECK(seen[1] && seen[2] && seen[3]);
    } else {
        CHECK(!getenv("KAPSUL_LLVMC")); /* with a compiler, the native half must run */
    }
    kapsul_bytes_free(kw);
    kapsul_module_free(nat);
    kapsul_module_free(um);
    kapsul_module_free(src);
    kapsul_engine_free(e);
    return kpt_finish();
}
