/*
 * test_native_api.c -- the embedding API's native tier: kapsul_module_serialize (through the
 * native compiler, $KAPSUL_LLVMC as the test command sets it), kapsul_module_deserialize (and its
 * refusal of corrupt, truncated and non-artifact bytes), KAPSUL_TIER_NATIVE in kapsul_config, a
 * trap's frames in both tiers, an interpreted module calling into a native instance, and a native
 * module falling back to the interpreter over an unreserved memory (explicit_bounds_checks).
 * Without kapsul-llvmc (a build without LLVM) only the "native tier is absent" error is checked.
 */
#include <stdlib.h>
#include <string.h>

#include "kapsul.h"
#include "test.h"

static const char lib_wat[] = "(module (memory (export \"mem\") 1)"
                              "  (func $sq (param i32) (result i32) local.get 0 local.get 0 i32.mul)"
                              "  (func $boom (param i32) (result i32) local.get 0 i32.eqz if unreachable end"
                              "    local.get 0 call $sq)"
                              "  (func (export \"sum_sq\") (param i32) (result i32) (local i32)"
                              "    (loop $l (local.set 1 (i32.add (local.get 1) (call $sq (local.get 0))))"
                              "      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))"
                              "    local.get 1)"
                              "  (func (export \"boom\") (param i32) (result i32) local.get 0 call $boom))";

static const char user_wat[] = "(module (import \"lib\" \"boom\" (func $boom (param i32) (result i32)))"
                               "  (func (export \"twice\") (param i32) (result i32)"
                               "    local.get 0 call $boom local.get 0 call $boom i32.add))";

static kapsul_func *export_func(kapsul_instance *inst, const char *name) {
    kapsul_extern ext;
    if (kapsul_instance_export(inst, name, strlen(name), &ext, NULL) != KAPSUL_OK) return NULL;
    return ext.kind == KAPSUL_EXTERN_FUNC ? ext.of.func : NULL;
}

static kapsul_status call1(kapsul_store *s, kapsul_func *f, int32_t x, int32_t *r, kapsul_error *err) {
    kapsul_val a = { .kind = KAPSUL_I32, .of.i32 = x }, res = { .kind = KAPSUL_I32 };
    kapsul_status st = kapsul_func_call(s, f, &a, 1, &res, 1, err);
    *r = res.of.i32;
    return st;
}

/* Run lib's exports in a fresh store of module m: sum_sq(5) = 55 and boom(0) traps in $boom
 * (func 1) called from the export (func 3). Returns the innermost frame's offset (0: unknown). */
static uint32_t run_lib(kapsul_engine *e, kapsul_module *m) {
    kapsul_store *s = NULL;
    kapsul_linker *l = NULL;
    kapsul_instance *inst = NULL;
    kapsul_error err;
    uint32_t off = 0;
    CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK && kapsul_linker_new(s, &l, NULL) == KAPSUL_OK);
    CHECK(kapsul_linker_instantiate(l, m, &inst, &err) == KAPSUL_OK);
    if (!inst) goto out;
    int32_t r = 0;
    CHECK(call1(s, export_func(inst, "sum_sq"), 5, &r, &err) == KAPSUL_OK && r == 55);
    CHECK(call1(s, export_func(inst, "boom"), 0, &r, &err) == KAPSUL_ERR_TRAP);
    CHECK(err.trap == KAPSUL_TRAP_UNREACHABLE && strcmp(err.message, "unreachable") == 0);
    CHECK(err.nframes == 2 && err.frames[0].func_index == 1 && err.frames[1].func_index == 3);
    off = err.nframes ? err.frames[0].offset : 0;
    /* The store stays usable after the trap. */
    CHECK(call1(s, export_func(inst, "boom"), 3, &r, &err) == KAPSUL_OK && r == 9);
out:
    kapsul_linker_free(l);
    kapsul_store_free(s);
    return off;
}

int main(void) {
    kapsul_engine *e = NULL;
    kapsul_module *src = NULL, *nat = NULL, *bad = NULL;
    kapsul_error err;
    CHECK(kapsul_engine_new(NULL, &e, NULL) == KAPSUL_OK);
    CHECK(kapsul_module_new_wat(e, lib_wat, sizeof lib_wat - 1, &src, &err) == KAPSUL_OK);
    uint8_t *kw = NULL;
    size_t kw_len = 0;
    kapsul_status st = kapsul_module_serialize(src, &kw, &kw_len, &err);
    if (!getenv("KAPSUL_LLVMC")) {
        /* No native compiler in this build: the tier says it is absent. */
        CHECK(st == KAPSUL_ERR_LIMIT && strstr(err.message, "native tier is absent") != NULL);
        kapsul_module_free(src);
        kapsul_engine_free(e);
        return kpt_finish();
    }
    CHECK(st == KAPSUL_OK && kw_len > 312 && memcmp(kw, "\0kwasm\r\n", 8) == 0);
    if (st != KAPSUL_OK) {
        fprintf(stderr, "serialize: %s\n", err.message);
        return kpt_finish();
    }

    /* Both tiers' frames point at the same instruction of the module. */
    uint32_t ioff = run_lib(e, src);
    CHECK(kapsul_module_deserialize(e, kw, kw_len, &nat, &err) == KAPSUL_OK);
    uint32_t off = nat ? run_lib(e, nat) : 0;
    CHECK(ioff > 8 && off == ioff);

    /* Refused: not an artifact, truncated, one bit flipped anywhere. */
    CHECK(kapsul_module_deserialize(e, (const uint8_t *)"\0asm\1\0\0\0", 8, &bad, &err) == KAPSUL_ERR_MALFORMED);
    CHECK(strstr(err.message, "not a kapsul artifact") != NULL && bad == NULL);
    CHECK(kapsul_module_deserialize(e, kw, kw_len / 2, &bad, &err) == KAPSUL_ERR_MALFORMED && bad == NULL);
    int refused = 0, probes = 0;
    for (size_t at = 9; at < kw_len; at += kw_len / 97 + 1, probes++) {
        kw[at] ^= 0x10;
        if (kapsul_module_deserialize(e, kw, kw_len, &bad, &err) != KAPSUL_OK && bad == NULL) refused++;
        kapsul_module_free(bad);
        bad = NULL;
        kw[at] ^= 0x10;
    }
    CHECK(probes > 50 && refused == probes);

    /* An interpreted module calling into the native instance: results, and a trap's frames run
     * from the native callee out through the interpreted caller. */
    kapsul_store *s = NULL;
    kapsul_linker *l = NULL;
    kapsul_instance *lib = NULL, *user = NULL;
    kapsul_module *um = NULL;
    CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK && kapsul_linker_new(s, &l, NULL) == KAPSUL_OK);
    CHECK(kapsul_module_new_wat(e, user_wat, sizeof user_wat - 1, &um, &err) == KAPSUL_OK);
    CHECK(kapsul_linker_instantiate(l, nat, &lib, &err) == KAPSUL_OK);
    CHECK(kapsul_linker_define_instance(l, "lib", 3, lib, &err) == KAPSUL_OK);
    CHECK(kapsul_linker_instantiate(l, um, &user, &err) == KAPSUL_OK);
    int32_t r = 0;
    if (user) {
        CHECK(call1(s, export_func(user, "twice"), 4, &r, &err) == KAPSUL_OK && r == 32);
        CHECK(call1(s, export_func(user, "twice"), 0, &r, &err) == KAPSUL_ERR_TRAP);
        CHECK(err.trap == KAPSUL_TRAP_UNREACHABLE && err.nframes == 3);
        CHECK(err.frames[0].func_index == 1 && err.frames[1].func_index == 3 && err.frames[2].func_index == 1);
        CHECK(err.frames[0].offset == ioff && err.frames[2].offset != 0); /* native, then interpreted */
    }
    kapsul_linker_free(l);
    kapsul_store_free(s);
    kapsul_module_free(um);

    /* Guard-mode code over memories without guard regions: the instance runs interpreted (the
     * module is lowered then), with the same results and frames. */
    kapsul_config checked = { .explicit_bounds_checks = true };
    kapsul_engine *e2 = NULL;
    kapsul_module *nat2 = NULL;
    CHECK(kapsul_engine_new(&checked, &e2, NULL) == KAPSUL_OK);
    CHECK(kapsul_module_deserialize(e2, kw, kw_len, &nat2, &err) == KAPSUL_OK);
    if (nat2) CHECK(run_lib(e2, nat2) == ioff); /* interpreted, at the same instruction */
    kapsul_module_free(nat2);
    kapsul_engine_free(e2);

    /* KAPSUL_TIER_NATIVE: kapsul_module_new compiles; a configured compiler that does not exist
     * makes the tier absent, and an invalid module gets the validator's error, not the compiler's. */
    kapsul_config native = { .tier = KAPSUL_TIER_NATIVE };
    kapsul_engine *e3 = NULL;
    kapsul_module *m3 = NULL;
    CHECK(kapsul_engine_new(&native, &e3, NULL) == KAPSUL_OK);
    CHECK(kapsul_module_new_wat(e3, lib_wat, sizeof lib_wat - 1, &m3, &err) == KAPSUL_OK);
    if (m3) CHECK(run_lib(e3, m3) != 0); /* native: offsets */
    kapsul_module_free(m3);
    m3 = NULL;
    CHECK(kapsul_module_new_wat(e3, "(module (func (result i32)))", 28, &m3, &err) == KAPSUL_ERR_INVALID);
    kapsul_engine_free(e3);
    kapsul_config missing = { .tier = KAPSUL_TIER_NATIVE, .native_compiler = "/nonexistent/kapsul-llvmc" };
    CHECK(kapsul_engine_new(&missing, &e3, NULL) == KAPSUL_OK);
    CHECK(kapsul_module_new_wat(e3, lib_wat, sizeof lib_wat - 1, &m3, &err) == KAPSUL_ERR_LIMIT);
    CHECK(strstr(err.message, "native tier is absent") != NULL);
    kapsul_engine_free(e3);

    kapsul_bytes_free(kw);
    kapsul_module_free(nat);
    kapsul_module_free(src);
    kapsul_engine_free(e);
    return kpt_finish();
}
