/*
 * test_native_sample.c -- kapsul_store_sample across tiers and kapsul_module_code_ranges.
 *
 * An interpreted module calls into a native instance whose code calls a host function; the host
 * function samples the store (what a SIGPROF handler does) and gets the native frames, then the
 * interpreted callers, innermost first, each with its module. Then it re-enters the same native
 * instance, whose code calls it again: the second sample has the inner entry's frame, then the
 * outer entry's frames at their own levels (the inner entry shares the context and moved its
 * depth), then the interpreted ones. Also: the code ranges of the native module name each of
 * its functions with a non-empty range, and an interpreted module has none. Last, a stress run:
 * SIGPROF every 20 us samples a native fib that recurses directly, through call_indirect (a new
 * native entry each time) and out to a host function, and every sample must be well formed:
 * only the module's functions, the export outermost. Needs the native
 * compiler ($KAPSUL_LLVMC, set by tests/suites/debug.cmake); without it only the interpreted
 * half is checked.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

/* ---- Sampling from a signal handler while native code calls in and out ---- */

static const char fib_wat[] =
    "(module (import \"h\" \"tick\" (func $tick)) (type $t (func (param i32) (result i32)))"
    "  (table 2 funcref) (elem (i32.const 0) $fib $fib2)"
    "  (func $fib (param i32) (result i32)"
    "    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2)) (then (local.get 0))"
    "      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))"
    "        (call_indirect (type $t) (i32.sub (local.get 0) (i32.const 2)) (i32.const 1))))))"
    "  (func $fib2 (param i32) (result i32)"
    "    (if (i32.eqz (i32.and (local.get 0) (i32.const 7))) (then (call $tick)))"
    "    (call $fib (local.get 0)))"
    "  (func (export \"run\") (param i32) (result i32) (call $fib (local.get 0))))";

static kapsul_store *stress_store;
static const kapsul_module *stress_module;
static volatile size_t stress_samples, stress_bad, stress_deep;

static void on_prof(int sig) {
    (void)sig;
    kapsul_frame f[64];
    size_t n = kapsul_store_sample(stress_store, f, 64);
    if (n == 0) return;
    stress_samples++;
    for (size_t i = 0; i < n; i++)
        if (f[i].module != stress_module || f[i].func_index < 1 || f[i].func_index > 3) stress_bad++;
    if (n < 64 && f[n - 1].func_index != 3) stress_bad++; /* the export is outermost */
    if (n > 3) stress_deep++;
}

static kapsul_status tick(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                          kapsul_error *err) {
    (void)env, (void)caller, (void)args, (void)results, (void)err;
    return KAPSUL_OK;
}

static void stress(kapsul_engine *e, const uint8_t *kw, size_t kw_len) {
    kapsul_module *m = NULL;
    kapsul_store *s = NULL;
    kapsul_linker *l = NULL;
    kapsul_instance *inst = NULL;
    kapsul_error err;
    CHECK(kapsul_module_deserialize(e, kw, kw_len, &m, &err) == KAPSUL_OK);
    CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK && kapsul_linker_new(s, &l, NULL) == KAPSUL_OK);
    CHECK(kapsul_linker_define_func(l, "h", "tick", NULL, 0, NULL, 0, tick, NULL, NULL) == KAPSUL_OK);
    CHECK(m && kapsul_linker_instantiate(l, m, &inst, &err) == KAPSUL_OK);
    if (!inst) goto out;
    stress_store = s;
    stress_module = m;
    struct sigaction sa = { .sa_handler = on_prof, .sa_flags = SA_RESTART }, old;
    sigemptyset(&sa.sa_mask);
    struct sigevent ev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGPROF };
    ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    timer_t timer;
    CHECK(sigaction(SIGPROF, &sa, &old) == 0 && timer_create(CLOCK_MONOTONIC, &ev, &timer) == 0);
    struct itimerspec it = { .it_interval = { 0, 20000 }, .it_value = { 0, 20000 } };
    CHECK(timer_settime(timer, 0, &it, NULL) == 0);
    kapsul_val a = { .kind = KAPSUL_I32, .of.i32 = 27 }, r = { .kind = KAPSUL_I32 };
    for (int round = 0; round < 3; round++) {
        CHECK(kapsul_func_call(s, export_func(inst, "run"), &a, 1, &r, 1, &err) == KAPSUL_OK);
        CHECK(r.of.i32 == 196418);
    }
    timer_delete(timer);
    sigaction(SIGPROF, &old, NULL);
    CHECK(stress_samples > 0 && stress_deep > 0 && stress_bad == 0);
    fprintf(stderr, "stress: %zu samples, %zu deep, %zu malformed\n", (size_t)stress_samples,
            (size_t)stress_deep, (size_t)stress_bad);
out:
    kapsul_linker_free(l);
    kapsul_store_free(s);
    kapsul_module_free(m);
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
        kapsul_module *fib = NULL;
        uint8_t *fkw = NULL;
        size_t fkw_len = 0;
        CHECK(kapsul_module_new_wat(e, fib_wat, sizeof fib_wat - 1, &fib, &err) == KAPSUL_OK);
        CHECK(fib && kapsul_module_serialize(fib, &fkw, &fkw_len, &err) == KAPSUL_OK);
        if (fkw) stress(e, fkw, fkw_len);
        kapsul_bytes_free(fkw);
        kapsul_module_free(fib);
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
