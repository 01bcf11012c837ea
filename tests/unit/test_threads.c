/*
 * test_threads.c -- threads that come and go leave nothing behind.
 *
 * Every thread that runs wasm gets an alternate signal stack from the runtime (the guard-page
 * trap handler runs on it). 200 threads, one after another, each load a module, call into wasm
 * and take an out-of-bounds trap (which runs the handler on that stack), then exit. After each
 * join the test checks that the stack the runtime installed for that thread is no longer mapped
 * (mincore fails with ENOMEM on an unmapped page): a thread-exit destructor must have released
 * it. A batch of 16 concurrent threads follows. Under ASan (the "sanitize" label of
 * scripts/test.sh) LeakSanitizer checks at exit that nothing allocated with malloc leaked either,
 * with no suppressions.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kapsul.h"
#include "text/text.h"
#include "test.h"

static const char wat[] = "(module (memory 1)\n"
                          "  (func (export \"sum\") (param i32) (result i32) (local i32)\n"
                          "    (loop (local.set 1 (i32.add (local.get 1) (local.get 0)))\n"
                          "          (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))\n"
                          "    (local.get 1))\n"
                          "  (func (export \"oob\") (result i32) (i32.load (i32.const 70000))))\n";

static kpBuf binary;

/* What one thread saw: its calls' outcome and the alternate stack installed while it ran. */
typedef struct job {
    bool ok;
    bool installed; /* the runtime installed a stack (it was not there before) */
    void *stack;
    size_t stack_size;
} job;

static bool run_wasm(void) {
    kapsul_error err = { 0 };
    kapsul_engine *e = NULL;
    kapsul_engine_new(NULL, &e, NULL);
    kapsul_module *m = NULL;
    kapsul_store *s = NULL;
    kapsul_linker *l = NULL;
    kapsul_instance *inst = NULL;
    bool ok = e && kapsul_module_new(e, binary.data, binary.len, &m, &err) == KAPSUL_OK;
    if (ok) {
        if (kapsul_store_new(e, &s, NULL) == KAPSUL_OK) kapsul_linker_new(s, &l, NULL);
        ok = l && kapsul_linker_instantiate(l, m, &inst, &err) == KAPSUL_OK;
    }
    if (ok) {
        kapsul_val a = { .kind = KAPSUL_I32, .of.i32 = 100 }, r;
        ok = kapsul_func_call(s, kapsul_instance_func(inst, "sum"), &a, 1, &r, 1, &err) == KAPSUL_OK &&
             r.of.i32 == 5050;
        ok =
            ok &&
            kapsul_func_call(s, kapsul_instance_func(inst, "oob"), NULL, 0, &r, 1, &err) == KAPSUL_ERR_TRAP &&
            err.trap == KAPSUL_TRAP_MEMORY_OOB;
    }
    if (l) kapsul_linker_free(l);
    if (s) kapsul_store_free(s);
    if (m) kapsul_module_free(m);
    if (e) kapsul_engine_free(e);
    return ok;
}

static void *thread_main(void *arg) {
    job *j = arg;
    stack_t before, after;
    sigaltstack(NULL, &before);
    j->ok = run_wasm();
    sigaltstack(NULL, &after);
    j->installed =
        !(after.ss_flags & SS_DISABLE) && ((before.ss_flags & SS_DISABLE) || before.ss_sp != after.ss_sp);
    j->stack = after.ss_sp;
    j->stack_size = after.ss_size;
    return NULL;
}

/* True if no page of [p, p + size) is mapped any more. */
static bool unmapped(void *p, size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char vec;
    for (size_t off = 0; off < size; off += page)
        if (mincore((char *)p + off, 1, &vec) == 0 || errno != ENOMEM) return false;
    return true;
}

int main(void) {
    kapsul_error err = { 0 };
    CHECK(kpWat_toBinary(wat, strlen(wat), 1, &binary, &err) == KAPSUL_OK);

    /* One after another: each thread's stack must be gone once it is joined. */
    int installed = 0, released = 0, ok = 0;
    for (int i = 0; i < 200; i++) {
        job j = { 0 };
        pthread_t t;
        if (pthread_create(&t, NULL, thread_main, &j) != 0) {
            CHECK(0);
            break;
        }
        pthread_join(t, NULL);
        ok += j.ok;
        if (j.installed) {
            installed++;
            released += unmapped(j.stack, j.stack_size);
        }
    }
    printf("sequential: %d/200 threads ran; %d installed a signal stack, %d released at exit\n", ok,
           installed, released);
    CHECK(ok == 200);
    /* The runtime installs its own stack unless the thread already had a big enough one (ASan may
     * give every thread one); either way, every stack it installed must be released. */
    CHECK(released == installed);

    /* Concurrently: 16 at a time, all must run. */
    job jobs[16];
    pthread_t ts[16];
    memset(jobs, 0, sizeof jobs);
    int started = 0;
    for (int i = 0; i < 16; i++) started += pthread_create(&ts[i], NULL, thread_main, &jobs[i]) == 0;
    CHECK(started == 16);
    ok = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(ts[i], NULL);
        ok += jobs[i].ok;
    }
    printf("concurrent: %d/16 threads ran\n", ok);
    CHECK(ok == 16);

    /* The main thread too (its stack lives until exit, which is no leak: it is not malloc'ed). */
    CHECK(run_wasm());
    kpBuf_free(&binary);
    return kpt_finish();
}
