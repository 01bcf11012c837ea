/*
 * test_ctemplate.c -- component templates (src/cinstance/template.c) against kpCInstance_new on
 * the pinned test components of tests/component: every observable output of both ways compared
 * (stdout, stderr, exit status, files, call results in WAVE, errors and their messages) for the
 * CLI components with their cases, the custom exports of api.wasm and nested.wasm, the lying
 * guests of hostile.wasm and the imports refused in mismatch.wasm and version.wasm; isolation:
 * state.wasm dirties its memory (data, zero pages, a grown page), globals, tables, the memory
 * another core instance imports, a handle table, and the next instance must see none of it, 300
 * times in a row and on 2 threads at once; the fallbacks (a pool in use to the last slot, a module
 * whose pool cannot be reserved) give the same instances; allocation failure at every allocation
 * of a template's life (KP_TESTING builds). With arguments, the same comparison on a component
 * built at test time (componentize-js, Spin's j2w: tests/component/run-js.py).
 *
 * Run from the source directory (ctest does): the components are read from tests/component.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cinstance/cinstance.h"
#include "test.h"
#include "wasip2/wasip2.h"

static kapsul_engine *engine;
static char tmp[] = "/tmp/kp_ctemplate_XXXXXX";

static kpBuf load(const char *path) {
    kpBuf b = { 0 };
    FILE *f = fopen(path, "rb");
    uint8_t chunk[65536];
    size_t n;
    if (!f) {
        fprintf(stderr, "cannot read %s (run from the source directory)\n", path);
        exit(1);
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) kpBuf_push(&b, chunk, n);
    fclose(f);
    return b;
}

static kpCPre *prepare(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/component/%s", name);
    kpBuf b = load(path);
    kpCPre *pre = NULL;
    kapsul_error err;
    if (kpCPre_new(engine, b.data, b.len, &pre, &err) != KAPSUL_OK)
        fprintf(stderr, "%s: %s\n", name, err.message);
    kpBuf_free(&b);
    return pre;
}

/* What one request shows the world. */
typedef struct outcome {
    kapsul_status st; /* of the instantiation, else of the call */
    int exit_code;    /* KAPSUL_ERR_EXIT */
    uint32_t disc;    /* wasi:cli/run's result */
    char msg[256];    /* the error's message */
    char result[512]; /* --invoke: the results in WAVE */
    char out[2048], errout[512];
    size_t out_len, err_len;
    char file[64]; /* data/out.txt afterwards */
} outcome;

static bool same(const outcome *a, const outcome *b) {
    return a->st == b->st && a->exit_code == b->exit_code && a->disc == b->disc &&
           strcmp(a->msg, b->msg) == 0 && strcmp(a->result, b->result) == 0 && a->out_len == b->out_len &&
           a->err_len == b->err_len && memcmp(a->out, b->out, a->out_len) == 0 &&
           memcmp(a->errout, b->errout, a->err_len) == 0 && strcmp(a->file, b->file) == 0;
}

static void show(const char *what, const outcome *o) {
    fprintf(stderr,
            "  %s: st %d exit %d disc %u msg \"%s\" result \"%s\" out \"%.*s\" err \"%.*s\" file \"%s\"\n",
            what, o->st, o->exit_code, o->disc, o->msg, o->result, (int)o->out_len, o->out, (int)o->err_len,
            o->errout, o->file);
}

/* Call `call` on ci: "run" is wasi:cli/run, else NAME(WAVE args). */
static void call(kpCInstance *ci, const char *call, outcome *o) {
    kapsul_error err;
    kpCArena arena = { 0 };
    bool run = strcmp(call, "run") == 0;
    char name[64];
    const char *open = strchr(call, '(');
    snprintf(name, sizeof name, "%.*s", open ? (int)(open - call) : (int)strlen(call), call);
    kpCFunc *f = run ? kpCInstance_func(ci, "wasi:cli/run@0.2.0", "run") : kpCInstance_func(ci, name, NULL);
    if (!f) {
        o->st = KAPSUL_ERR_NOT_FOUND;
        return;
    }
    const kpComponent *c = kpCInstance_component(ci);
    const kpCType *ft = kpComponent_resolve(c, kpCFunc_type(f));
    kpCValue *params = NULL, *res = kpCArena_alloc(&arena, (ft->n + 1) * sizeof *res);
    o->st = run ? KAPSUL_OK : kpWave_parseArgs(c, ft, call, strlen(call), &arena, &params, &err);
    if (o->st == KAPSUL_OK) o->st = kpCFunc_call(ci, f, params, res, &arena, &err);
    if (o->st == KAPSUL_ERR_EXIT) o->exit_code = err.exit_code;
    if (o->st != KAPSUL_OK) snprintf(o->msg, sizeof o->msg, "%s", err.message);
    else if (run && ft->n == 1) o->disc = res[0].var.disc;
    else if (!run) {
        kpBuf b = { 0 };
        for (uint32_t i = ft->nparams; i < ft->n; i++)
            kpWave_print(c, ft->fields[i].type, &res[i - ft->nparams], &b);
        size_t k = strlen(o->result); /* appended: a request's calls in a row */
        snprintf(o->result + k, sizeof o->result - k, "%.*s", (int)b.len, (const char *)b.data);
        kpBuf_free(&b);
    }
    kpCArena_free(&arena);
}

/* A request as a CLI run: args (argv[0] is the name), env, tmp/data granted as "data"; calls is
 * a list of calls in one instance separated by ';' ("run", "f(x)"). tpl NULL: kpCInstance_new. */
typedef struct req {
    const char *component;
    const char *argv[5];
    const char *env[2];
    const char *calls;
} req;

static void request(kpCPre *pre, kpCTemplate *tpl, const req *r, outcome *o) {
    memset(o, 0, sizeof *o);
    char data[64], outfile[96];
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(outfile, sizeof outfile, "%s/out.txt", data);
    unlink(outfile);
    size_t argc = 0, envc = 0;
    while (argc < 5 && r->argv[argc]) argc++;
    while (envc < 2 && r->env[envc]) envc++;
    kapsul_wasi_dir dir = { .host_path = data, .guest_path = "data" };
    kapsul_wasi_config wc = {
        .argv = r->argv, .argc = argc, .env = r->env, .envc = envc, .dirs = &dir, .ndirs = 1, .mem_stdio = 7
    };
    kapsul_wasi *w = NULL;
    kpP2 *host = NULL;
    kapsul_store *store = NULL;
    kpCInstance *ci = NULL;
    kapsul_error err;
    CHECK(kapsul_wasi_new(&wc, &w, &err) == KAPSUL_OK && kpP2_new(w, &host, &err) == KAPSUL_OK &&
          kapsul_store_new(engine, &store, &err) == KAPSUL_OK);
    o->st = tpl ? kpCTemplate_instantiate(tpl, store, kpP2_resolve, host, &ci, &err)
                : kpCInstance_new(pre, store, kpP2_resolve, host, &ci, &err);
    if (o->st != KAPSUL_OK) snprintf(o->msg, sizeof o->msg, "%s", err.message);
    char calls[256];
    snprintf(calls, sizeof calls, "%s", r->calls);
    char *save = NULL;
    for (char *c = strtok_r(calls, ";", &save); ci && c && o->st == KAPSUL_OK;
         c = strtok_r(NULL, ";", &save)) {
        call(ci, c, o);
        size_t e = strlen(o->result); /* results of the calls, each followed by ';' */
        if (o->st == KAPSUL_OK && e < sizeof o->result - 1) o->result[e] = ';', o->result[e + 1] = 0;
    }
    const uint8_t *b;
    size_t n;
    if (kapsul_wasi_output(w, 1, &b, &n, &err) == KAPSUL_OK && n && n <= sizeof o->out)
        memcpy(o->out, b, o->out_len = n);
    if (kapsul_wasi_output(w, 2, &b, &n, &err) == KAPSUL_OK && n && n <= sizeof o->errout)
        memcpy(o->errout, b, o->err_len = n);
    FILE *f = fopen(outfile, "rb");
    if (f) {
        o->file[fread(o->file, 1, sizeof o->file - 1, f)] = 0;
        fclose(f);
    }
    kpCInstance_free(ci);
    kapsul_store_free(store);
    kpP2_free(host);
    kapsul_wasi_free(w);
}

/* ---- Both ways, every case ---- */

static const req kCases[] = {
    { "cli_hello.wasm", { "cli_hello" }, { 0 }, "run" },
    { "cli_hello.wasm", { "cli_hello", "data/in.txt", "7" }, { "KAPSUL_GREETING=hi" }, "run" },
    { "cli_hello.wasm", { "cli_hello", "/etc/hostname" }, { 0 }, "run" },
    { "exit_code.wasm", { "exit_code" }, { 0 }, "run" },
    { "exit_code.wasm", { "exit_code", "5" }, { 0 }, "run" },
    { "cli_io.wasm", { "cli_io", "write", "data/out.txt", "hello" }, { 0 }, "run" },
    { "cli_io.wasm", { "cli_io" }, { 0 }, "run" },
    { "cli_rust.wasm", { "cli_rust", "copy", "data/in.txt", "data/out.txt" }, { "A=1" }, "run" },
    { "cli_rust.wasm", { "cli_rust", "3" }, { 0 }, "run" },
    { "api.wasm", { "api" }, { 0 }, "greet(\"wörld\");sum([1, 2, -3, 40]);move({x: -1, y: 2}, 1);started()" },
    { "api.wasm", { "api" }, { 0 }, "find([\"a\", \"bc\"], \"bc\");div(1, 0);grant({exec});info(green)" },
    { "api.wasm", { "api" }, { 0 }, "resource-cycle();resource-cycle();rep-after-drop()" },
    { "nested.wasm", { "nested" }, { 0 }, "scale({x: 1, y: 2}, 3);square(7);twice(5)" },
    { "hostile.wasm", { "hostile" }, { 0 }, "ok()" },
    { "hostile.wasm", { "hostile" }, { 0 }, "oob()" },
    { "hostile.wasm", { "hostile" }, { 0 }, "misaligned()" },
    { "hostile.wasm", { "hostile" }, { 0 }, "bad-handle()" },
    { "hostile.wasm", { "hostile" }, { 0 }, "double-drop()" },
    { "hostile.wasm", { "hostile" }, { 0 }, "bad-discriminant()" },
    { "hostile.wasm", { "hostile" }, { 0 }, "exit-err()" },
    { "mismatch.wasm", { "mismatch" }, { 0 }, "run" },
    { "version.wasm", { "version" }, { 0 }, "run" },
    { "state.wasm",
      { "state" },
      { 0 },
      "check();check-peer();handle();handle();dirty();dirty-peer();check()" },
    { "many_memories.wasm", { "many" }, { 0 }, "sum()" },
};

static void test_both_ways(void) {
    for (size_t i = 0; i < sizeof kCases / sizeof kCases[0]; i++) {
        const req *r = &kCases[i];
        kpCPre *pre = prepare(r->component);
        kpCTemplate *tpl = NULL;
        kapsul_error err;
        CHECK(pre && kpCTemplate_new(pre, NULL, &tpl, &err) == KAPSUL_OK);
        if (!tpl) continue;
        outcome a, b;
        for (int k = 0; k < 3; k++) { /* the template's second and third instances too */
            request(pre, NULL, r, &a);
            request(pre, tpl, r, &b);
            if (!same(&a, &b)) {
                fprintf(stderr, "%s %s (instance %d):\n", r->component, r->calls, k);
                show("kpCInstance_new", &a);
                show("template", &b);
            }
            CHECK(same(&a, &b));
        }
        /* Sanity of the comparison itself: a case either ran or was refused as it should be. */
        bool refused =
            strcmp(r->component, "mismatch.wasm") == 0 || strcmp(r->component, "version.wasm") == 0;
        CHECK(refused == (a.st == KAPSUL_ERR_UNLINKABLE));
        CHECK(a.out_len || a.result[0] || a.msg[0]);
        kpCTemplateStats s;
        kpCTemplate_stats(tpl, &s);
        bool many = strcmp(r->component, "many_memories.wasm") == 0; /* 2 of 11 linked */
        CHECK(s.instances == (refused ? 0 : 3) && s.core_linked == (many ? 3 * 2 : 0));
        CHECK(refused || s.core_pooled >= 3);
        kpCTemplate_free(tpl);
        kpCPre_free(pre);
    }
}

/* ---- Isolation ---- */

/* One instance of state.wasm: pristine at the start (both core instances, the handle table), then
 * dirtied. 0 when it was pristine. */
static int state_request(kpCPre *pre, kpCTemplate *tpl) {
    static const req r = { "state.wasm",
                           { "state" },
                           { 0 },
                           "check();check-peer();handle();dirty();dirty-peer();check();check-peer()" };
    outcome o;
    request(pre, tpl, &r, &o);
    return o.st == KAPSUL_OK && strcmp(o.result, "0;0;1;;;255;15;") == 0 ? 0 : (show("state", &o), 1);
}

static void test_isolation(void) {
    kpCPre *pre = prepare("state.wasm");
    kpCTemplate *tpl = NULL;
    kapsul_error err;
    kapsul_template_config cfg = { .pool_size = 2 };
    CHECK(pre && kpCTemplate_new(pre, &cfg, &tpl, &err) == KAPSUL_OK);
    if (!tpl) return;
    char d[512];
    kpCTemplate_describe(tpl, d, sizeof d);
    CHECK(strstr(d, "core module 0: template: 2 slots, 2 pages, image 68.0 KiB copy-on-write\n") != NULL);
    CHECK(strstr(d, "core module 1: template: no memory of its own\n") != NULL);
    CHECK(kpCTemplate_describe(tpl, d, 10) > 10 && strlen(d) == 9);
    int bad = 0;
    for (int i = 0; i < 300; i++) bad += state_request(pre, tpl);
    CHECK(bad == 0);
    kpCTemplateStats s;
    kpCTemplate_stats(tpl, &s);
    CHECK(s.instances == 300 && s.core_pooled == 300 * 3 && s.core_linked == 0);
    kpCTemplate_free(tpl);
    kpCPre_free(pre);
}

/* Past KP_CTEMPLATE_MAX_POOLED core modules with a memory, the rest are linked per instance. */
static void test_many_memories(void) {
    kpCPre *pre = prepare("many_memories.wasm");
    kpCTemplate *tpl = NULL;
    kapsul_error err;
    CHECK(pre && kpCTemplate_new(pre, NULL, &tpl, &err) == KAPSUL_OK);
    if (!tpl) return;
    char d[2048];
    kpCTemplate_describe(tpl, d, sizeof d);
    CHECK(strstr(d, "core module 7: template: 64 slots") != NULL);
    CHECK(strstr(d, "core module 8: linked per instance: more core modules define a memory") != NULL);
    CHECK(strstr(d, "core module 9: linked per instance: more core modules define a memory") != NULL);
    CHECK(strstr(d, "core module 10: template: no memory of its own\n") != NULL);
    kpCTemplate_free(tpl);
    kpCPre_free(pre);
}

/* A pool in use to the last slot: the next core instance is linked (the same instance). */
static void test_pool_empty(void) {
    kpCPre *pre = prepare("state.wasm");
    kpCTemplate *tpl = NULL;
    kapsul_error err;
    kapsul_template_config cfg = { .pool_size = 1 };
    CHECK(pre && kpCTemplate_new(pre, &cfg, &tpl, &err) == KAPSUL_OK);
    if (!tpl) return;
    kapsul_store *held = NULL;
    kpCInstance *ci = NULL;
    CHECK(kapsul_store_new(engine, &held, NULL) == KAPSUL_OK);
    CHECK(kpCTemplate_instantiate(tpl, held, NULL, NULL, &ci, &err) == KAPSUL_OK);
    CHECK(state_request(pre, tpl) == 0 && state_request(pre, tpl) == 0);
    kpCTemplateStats s;
    kpCTemplate_stats(tpl, &s);
    CHECK(s.instances == 3 && s.core_linked == 2 && s.pool_empty == 2 && s.core_pooled == 3 + 2 * 2);
    kpCInstance_free(ci);
    kapsul_store_free(held);
    CHECK(state_request(pre, tpl) == 0);
    kpCTemplate_stats(tpl, &s);
    CHECK(s.pool_empty == 2);
    kpCTemplate_free(tpl);
    kpCPre_free(pre);
}

/* A module whose pool cannot be reserved (more slots than the address space holds) is linked per
 * instance, and says why. */
static void test_module_fallback(void) {
    kpCPre *pre = prepare("state.wasm");
    kpCTemplate *tpl = NULL;
    kapsul_error err;
    kapsul_template_config cfg = { .pool_size = 1u << 20 };
    CHECK(pre && kpCTemplate_new(pre, &cfg, &tpl, &err) == KAPSUL_OK);
    if (!tpl) return;
    char d[512];
    kpCTemplate_describe(tpl, d, sizeof d);
    CHECK(strstr(d, "core module 0: linked per instance: cannot reserve") != NULL);
    CHECK(strstr(d, "core module 1: template: no memory of its own\n") != NULL);
    CHECK(state_request(pre, tpl) == 0 && state_request(pre, tpl) == 0);
    kpCTemplateStats s;
    kpCTemplate_stats(tpl, &s);
    CHECK(s.core_linked == 2 && s.pool_empty == 0 && s.core_pooled == 2 * 2);
    kpCTemplate_free(tpl);
    kpCPre_free(pre);
}

/* ---- Threads ---- */

typedef struct worker {
    kpCPre *state, *hello;
    kpCTemplate *tstate, *thello;
    const outcome *want;
    int bad;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    outcome o;
    for (int i = 0; i < 100; i++) {
        w->bad += state_request(w->state, w->tstate);
        if (i % 4 == 0) {
            request(w->hello, w->thello, &kCases[1], &o);
            w->bad += !same(&o, w->want);
        }
    }
    return NULL;
}

static void test_threads(void) {
    worker w[2] = { 0 };
    kapsul_error err;
    kapsul_template_config cfg = { .pool_size = 2 };
    w[0].state = prepare("state.wasm");
    w[0].hello = prepare("cli_hello.wasm");
    CHECK(w[0].state && kpCTemplate_new(w[0].state, &cfg, &w[0].tstate, &err) == KAPSUL_OK);
    CHECK(w[0].hello && kpCTemplate_new(w[0].hello, &cfg, &w[0].thello, &err) == KAPSUL_OK);
    if (!w[0].tstate || !w[0].thello) return;
    outcome want;
    request(w[0].hello, NULL, &kCases[1], &want);
    w[0].want = &want;
    w[1] = w[0];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, work, &w[i]) == 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK(w[0].bad == 0 && w[1].bad == 0);
    kpCTemplateStats s;
    kpCTemplate_stats(w[0].tstate, &s);
    CHECK(s.instances == 200 && s.core_linked == 0);
    kpCTemplate_stats(w[0].thello, &s);
    CHECK(s.instances == 50 && s.core_linked == 0);
    kpCTemplate_free(w[0].tstate);
    kpCTemplate_free(w[0].thello);
    kpCPre_free(w[0].state);
    kpCPre_free(w[0].hello);
}

#ifdef KP_TESTING
/* Every allocation of kpCTemplate_new and an instantiation fails once in turn: NOMEM, never a
 * crash, a leak or another status; the instance made at the end is pristine. */
static void test_allocfail(void) {
    kpCPre *pre = prepare("state.wasm");
    int bad = 0;
    for (long n = 0; pre; n++) {
        kpCTemplate *tpl = NULL;
        kapsul_store *store = NULL;
        kpCInstance *ci = NULL;
        kapsul_error err;
        outcome o = { 0 };
        kpAlloc_failAfter(n);
        kapsul_status st = kpCTemplate_new(pre, NULL, &tpl, &err);
        if (st == KAPSUL_OK) st = kapsul_store_new(engine, &store, &err);
        if (st == KAPSUL_OK) st = kpCTemplate_instantiate(tpl, store, NULL, NULL, &ci, &err);
        kpAlloc_failAfter(-1);
        if (st == KAPSUL_OK) call(ci, "check()", &o);
        bool done = st == KAPSUL_OK && o.st == KAPSUL_OK && strcmp(o.result, "0") == 0;
        if (st != KAPSUL_OK && st != KAPSUL_ERR_NOMEM)
            bad++, fprintf(stderr, "  allocfail %ld: %s\n", n, err.message);
        if (st == KAPSUL_OK && !done) bad++, fprintf(stderr, "  allocfail %ld: %s\n", n, o.msg);
        kpCInstance_free(ci);
        if (store) kapsul_store_free(store);
        kpCTemplate_free(tpl);
        if (done) break;
        if (n > 20000) {
            bad++;
            break;
        }
    }
    CHECK(pre && bad == 0);
    kpCPre_free(pre);
}
#endif

/* ---- Components built at test time (tests/suites/component.cmake) ---- */

static kapsul_status no_host(void *env, kpCHostCall *call, const kpCValue *p, kpCValue *r,
                             kapsul_error *err) {
    (void)env, (void)call, (void)p, (void)r;
    return kpError_set(err, KAPSUL_ERR_TRAP, 0, "stand-in host function called");
}

/* The WASI 0.2 host, and a stand-in instance for interfaces it lacks (wasi:http while the HTTP
 * host is elsewhere): instantiation links, a call of a stand-in traps. */
static bool all_stand_ins;

static kapsul_status resolve_any(void *env, kpCInstance *ci, const char *name, uint32_t len, kpCInst **out,
                                 kapsul_error *err) {
    kapsul_status st = all_stand_ins ? KAPSUL_ERR_NOT_FOUND : kpP2_resolve(env, ci, name, len, out, err);
    return st == KAPSUL_ERR_NOT_FOUND ? kpCHost_any(ci, "stand-in", no_host, NULL, out, err) : st;
}

/* test_ctemplate [--stand-ins] COMPONENT CALLS WANT: CALLS (';'-separated, "has:IFACE#FUNC" checks
 * an export) in 5 instances in a row each way, each giving WANT (the results, each followed by
 * ';'). --stand-ins: every import is a stand-in (a component the WASI host cannot serve yet). */
static int external(const char *path, const char *calls, const char *want) {
    kpBuf b = load(path);
    kpCPre *pre = NULL;
    kpCTemplate *tpl = NULL;
    kapsul_error err;
    CHECK(kpCPre_new(engine, b.data, b.len, &pre, &err) == KAPSUL_OK);
    kpBuf_free(&b);
    CHECK(pre && kpCTemplate_new(pre, NULL, &tpl, &err) == KAPSUL_OK);
    for (int i = 0; tpl && i < 10; i++) {
        kapsul_wasi_config wc = { .stdin_fd = -1, .mem_stdio = 7 };
        kapsul_wasi *w = NULL;
        kpP2 *host = NULL;
        kapsul_store *store = NULL;
        kpCInstance *ci = NULL;
        outcome o = { 0 };
        CHECK(kapsul_wasi_new(&wc, &w, &err) == KAPSUL_OK && kpP2_new(w, &host, &err) == KAPSUL_OK &&
              kapsul_store_new(engine, &store, &err) == KAPSUL_OK);
        o.st = i % 2 ? kpCTemplate_instantiate(tpl, store, resolve_any, host, &ci, &err)
                     : kpCInstance_new(pre, store, resolve_any, host, &ci, &err);
        if (o.st != KAPSUL_OK) snprintf(o.msg, sizeof o.msg, "%s", err.message);
        char list[256];
        snprintf(list, sizeof list, "%s", calls);
        char *save = NULL;
        for (char *c = strtok_r(list, ";", &save); ci && c && o.st == KAPSUL_OK;
             c = strtok_r(NULL, ";", &save)) {
            if (strncmp(c, "has:", 4) == 0) {
                char iface[128];
                const char *hash = strchr(c, '#');
                snprintf(iface, sizeof iface, "%.*s", hash ? (int)(hash - c - 4) : 0, c + 4);
                strcat(o.result, hash && kpCInstance_func(ci, iface, hash + 1) ? "yes" : "no");
            } else {
                call(ci, c, &o);
            }
            size_t e = strlen(o.result);
            if (o.st == KAPSUL_OK && e < sizeof o.result - 1) o.result[e] = ';', o.result[e + 1] = 0;
        }
        if (o.st != KAPSUL_OK || strcmp(o.result, want) != 0)
            show(i % 2 ? "template" : "kpCInstance_new", &o);
        CHECK(o.st == KAPSUL_OK && strcmp(o.result, want) == 0);
        kpCInstance_free(ci);
        kapsul_store_free(store);
        kpP2_free(host);
        kapsul_wasi_free(w);
    }
    if (tpl) {
        char d[1024];
        kpCTemplate_describe(tpl, d, sizeof d);
        printf("%s", d);
        CHECK(strstr(d, "core module 0: template: ") != NULL);
        kpCTemplateStats s;
        kpCTemplate_stats(tpl, &s);
        CHECK(s.instances == 5 && s.core_linked == 0 && s.core_pooled >= 5);
    }
    kpCTemplate_free(tpl);
    kpCPre_free(pre);
    kapsul_engine_free(engine);
    return kpt_finish();
}

int main(int argc, char **argv) {
    if (kapsul_engine_new(NULL, &engine, NULL) != KAPSUL_OK) return 1;
    all_stand_ins = argc == 5 && strcmp(argv[1], "--stand-ins") == 0;
    if (argc == 4 || all_stand_ins) return external(argv[argc - 3], argv[argc - 2], argv[argc - 1]);
    if (argc != 1 || !mkdtemp(tmp)) {
        fprintf(stderr, "usage: test_ctemplate [[--stand-ins] COMPONENT CALLS WANT]\n");
        return 2;
    }
    char path[96];
    snprintf(path, sizeof path, "%s/data", tmp);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/data/in.txt", tmp);
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fputs("hello-file\n", f);
    fclose(f);
    test_both_ways();
    test_isolation();
    test_many_memories();
    test_pool_empty();
    test_module_fallback();
    test_threads();
#ifdef KP_TESTING
    test_allocfail();
#endif
    unlink(path);
    snprintf(path, sizeof path, "%s/data/out.txt", tmp);
    unlink(path);
    snprintf(path, sizeof path, "%s/data", tmp);
    rmdir(path);
    rmdir(tmp);
    kapsul_engine_free(engine);
    return kpt_finish();
}
