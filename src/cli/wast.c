/*
 * wast.c -- `kapsul wast FILE...`: run WebAssembly spec-test scripts through the public API.
 *
 * Each script gets a fresh store and a linker holding the "spectest" host module; its commands run
 * in order against the named and "current" instances. Every command is one check that passes or
 * fails; a failing one prints `FILE:LINE: KIND: REASON` and the run ends with
 * `N passed, N failed`. Nothing a script does (a trap, a runaway loop, a broken module) stops the
 * runner: traps come back as status codes, and every command runs under a store deadline.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "os/os.h"
#include "text/text.h"

typedef struct wast_options {
    bool verbose;        /* notes on passes that differ in detail from the expectation */
    bool summary;        /* one "FILE: N passed, N failed" line per script */
    bool print;          /* spectest print functions write to stdout */
    uint64_t timeout_ns; /* per-command deadline */
    kpCliTier tier;      /* --tier native: modules compiled (and cached) by kapsul-llvmc */
} wast_options;

/* A name a script gave a module; instance is NULL when that module failed to load. */
typedef struct named_instance {
    char *name;
    kapsul_instance *instance;
} named_instance;

#define KP_NKINDS ((unsigned)kpCmd_ASSERT_UNINSTANTIABLE + 1)

typedef struct runner {
    const wast_options *opt;
    kapsul_engine *engine;
    const char *path;
    unsigned long passed, failed; /* this script */
    /* Over the whole run, per command kind; the last slot counts script-level failures. */
    unsigned long kind_passed[KP_NKINDS + 1], kind_failed[KP_NKINDS + 1];
    kapsul_store *store;
    kapsul_linker *linker;
    KP_VEC(kapsul_module *) modules; /* every loaded module lives until the store is freed */
    KP_VEC(named_instance) names;
    kapsul_instance *current;
    bool have_current; /* a module command ran (current may still be NULL) */
    bool io_error;     /* some script could not be read: exit status 2 */
} runner;

static const char *const cmd_names[] = {
    [kpCmd_MODULE] = "module",
    [kpCmd_REGISTER] = "register",
    [kpCmd_ACTION] = "action",
    [kpCmd_ASSERT_RETURN] = "assert_return",
    [kpCmd_ASSERT_TRAP] = "assert_trap",
    [kpCmd_ASSERT_EXHAUSTION] = "assert_exhaustion",
    [kpCmd_ASSERT_INVALID] = "assert_invalid",
    [kpCmd_ASSERT_MALFORMED] = "assert_malformed",
    [kpCmd_ASSERT_UNLINKABLE] = "assert_unlinkable",
    [kpCmd_ASSERT_UNINSTANTIABLE] = "assert_uninstantiable",
};

static const char *cmd_name(kpWastCmdKind k) {
    return (unsigned)k < sizeof cmd_names / sizeof cmd_names[0] && cmd_names[k] ? cmd_names[k] : "command";
}

/* ---- Reporting ----------------------------------------------------------------------------- */

static unsigned kind_slot(const kpWastCommand *c) {
    return (unsigned)c->kind < KP_NKINDS ? (unsigned)c->kind : KP_NKINDS;
}

static void pass(runner *r, const kpWastCommand *c) {
    r->passed++;
    r->kind_passed[kind_slot(c)]++;
}

static void report_fail(runner *r, const kpWastCommand *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report_fail(runner *r, const kpWastCommand *c, const char *fmt, ...) {
    va_list ap;
    r->failed++;
    r->kind_failed[kind_slot(c)]++;
    printf("%s:%d: %s: ", r->path, c->line, cmd_name(c->kind));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void note(runner *r, const kpWastCommand *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(runner *r, const kpWastCommand *c, const char *fmt, ...) {
    va_list ap;
    if (!r->opt->verbose) return;
    printf("%s:%d: %s: note: ", r->path, c->line, cmd_name(c->kind));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* What a failed call said, for messages: the trap's spec text or the error message. */
static const char *error_text(const kapsul_error *err) {
    if (err->code == KAPSUL_ERR_TRAP && !err->message[0]) return kapsul_trap_message(err->trap);
    return err->message[0] ? err->message : kapsul_status_name(err->code);
}

/* ---- Values -------------------------------------------------------------------------------- */

static bool f32_matches(uint32_t got, uint32_t want, kpWastNan nan) {
    if (nan == kpNan_CANONICAL) return (got & 0x7fffffffu) == 0x7fc00000u;
    if (nan == kpNan_ARITHMETIC) return (got & 0x7fc00000u) == 0x7fc00000u;
    return got == want;
}

static bool f64_matches(uint64_t got, uint64_t want, kpWastNan nan) {
    if (nan == kpNan_CANONICAL) return (got & 0x7fffffffffffffffull) == 0x7ff8000000000000ull;
    if (nan == kpNan_ARITHMETIC) return (got & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
    return got == want;
}

/* v128 expectations compare per lane so that float lanes can carry NaN patterns; integer shapes
 * reduce to a byte comparison. */
static bool v128_matches(const uint8_t *got, const kpWastVal *e) {
    if (e->lane_shape == 4) {
        for (int i = 0; i < 4; i++) {
            uint32_t g, w;
            memcpy(&g, got + 4 * i, 4);
            memcpy(&w, e->u.v128 + 4 * i, 4);
            if (!f32_matches(g, w, e->nan[i])) return false;
        }
        return true;
    }
    if (e->lane_shape == 5) {
        for (int i = 0; i < 2; i++) {
            uint64_t g, w;
            memcpy(&g, got + 8 * i, 8);
            memcpy(&w, e->u.v128 + 8 * i, 8);
            if (!f64_matches(g, w, e->nan[i])) return false;
        }
        return true;
    }
    return memcmp(got, e->u.v128, 16) == 0;
}

/* The spec scripts' "ref.extern N" is the host pointer N+1, so that ref.extern 0 is not null. */
static void *extern_ptr(uint64_t n) { return (void *)(uintptr_t)(n + 1); }

static bool val_matches(const kapsul_val *got, const kpWastVal *e) {
    switch (e->kind) {
    case kpWV_I32: return got->kind == KAPSUL_I32 && (uint32_t)got->of.i32 == e->u.i32;
    case kpWV_I64: return got->kind == KAPSUL_I64 && (uint64_t)got->of.i64 == e->u.i64;
    case kpWV_F32: return got->kind == KAPSUL_F32 && f32_matches(got->of.f32_bits, e->u.i32, e->nan[0]);
    case kpWV_F64: return got->kind == KAPSUL_F64 && f64_matches(got->of.f64_bits, e->u.i64, e->nan[0]);
    case kpWV_V128: return got->kind == KAPSUL_V128 && v128_matches(got->of.v128, e);
    case kpWV_REF_NULL:
        if (e->reftype == 0x70) return got->kind == KAPSUL_FUNCREF && !got->of.funcref;
        return got->kind == KAPSUL_EXTERNREF && !got->of.externref;
    case kpWV_REF_EXTERN: return got->kind == KAPSUL_EXTERNREF && got->of.externref == extern_ptr(e->u.i64);
    case kpWV_REF_FUNC: return got->kind == KAPSUL_FUNCREF && got->of.funcref;
    case kpWV_REF_ANY_EXTERN: return got->kind == KAPSUL_EXTERNREF && got->of.externref;
    }
    return false;
}

/* An argument: only concrete values can be passed (not the "any funcref" patterns). */
static bool val_from_wast(const kpWastVal *w, kapsul_val *out) {
    memset(out, 0, sizeof *out);
    switch (w->kind) {
    case kpWV_I32:
        out->kind = KAPSUL_I32;
        out->of.f32_bits = w->u.i32;
        return true;
    case kpWV_I64:
        out->kind = KAPSUL_I64;
        out->of.f64_bits = w->u.i64;
        return true;
    case kpWV_F32:
        out->kind = KAPSUL_F32;
        out->of.f32_bits = w->u.i32;
        return true;
    case kpWV_F64:
        out->kind = KAPSUL_F64;
        out->of.f64_bits = w->u.i64;
        return true;
    case kpWV_V128:
        out->kind = KAPSUL_V128;
        memcpy(out->of.v128, w->u.v128, 16);
        return true;
    case kpWV_REF_NULL: out->kind = w->reftype == 0x70 ? KAPSUL_FUNCREF : KAPSUL_EXTERNREF; return true;
    case kpWV_REF_EXTERN:
        out->kind = KAPSUL_EXTERNREF;
        out->of.externref = extern_ptr(w->u.i64);
        return true;
    default: return false;
    }
}

/* Text of a float's bits with its value, e.g. "f32:0x3fc00000 (1.5)". */
static int fmt_f32(char *buf, size_t n, uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return snprintf(buf, n, "f32:0x%08" PRIx32 " (%.9g)", bits, (double)f);
}

static int fmt_f64(char *buf, size_t n, uint64_t bits) {
    double d;
    memcpy(&d, &bits, sizeof d);
    return snprintf(buf, n, "f64:0x%016" PRIx64 " (%.17g)", bits, d);
}

/* v128 lanes in the given shape (0=i8x16 .. 5=f64x2), lanes as hex. */
static void fmt_v128(char *buf, size_t n, const uint8_t *bytes, unsigned shape, const kpWastNan *nan) {
    static const char *const shapes[] = { "i8x16", "i16x8", "i32x4", "i64x2", "f32x4", "f64x2" };
    static const unsigned lane_bytes[] = { 1, 2, 4, 8, 4, 8 };
    if (shape > 5) shape = 2;
    size_t at = 0;
    int k = snprintf(buf, n, "v128:%s", shapes[shape]);
    if (k > 0) at = (size_t)k;
    for (unsigned lane = 0; lane * lane_bytes[shape] < 16 && at < n; lane++) {
        uint64_t v = 0;
        memcpy(&v, bytes + lane * lane_bytes[shape], lane_bytes[shape]); /* little-endian host */
        if (nan && nan[lane] != kpNan_NONE)
            k = snprintf(buf + at, n - at, " nan:%s",
                         nan[lane] == kpNan_CANONICAL ? "canonical" : "arithmetic");
        else k = snprintf(buf + at, n - at, " 0x%0*" PRIx64, (int)(2 * lane_bytes[shape]), v);
        if (k < 0) break;
        at += (size_t)k;
    }
}

static void fmt_got(char *buf, size_t n, const kapsul_val *v, unsigned shape) {
    switch (v->kind) {
    case KAPSUL_I32: snprintf(buf, n, "i32:%" PRId32, v->of.i32); break;
    case KAPSUL_I64: snprintf(buf, n, "i64:%" PRId64, v->of.i64); break;
    case KAPSUL_F32: fmt_f32(buf, n, v->of.f32_bits); break;
    case KAPSUL_F64: fmt_f64(buf, n, v->of.f64_bits); break;
    case KAPSUL_V128: fmt_v128(buf, n, v->of.v128, shape, NULL); break;
    case KAPSUL_FUNCREF:
        snprintf(buf, n, v->of.funcref ? "funcref:%p" : "funcref:null", (void *)v->of.funcref);
        break;
    case KAPSUL_EXTERNREF:
        if (v->of.externref) snprintf(buf, n, "externref:%" PRIuPTR, (uintptr_t)v->of.externref - 1);
        else snprintf(buf, n, "externref:null");
        break;
    default: snprintf(buf, n, "?kind %d", (int)v->kind); break;
    }
}

static void fmt_expected(char *buf, size_t n, const kpWastVal *e) {
    static const char *const nan_names[] = { "", "nan:canonical", "nan:arithmetic" };
    switch (e->kind) {
    case kpWV_I32: snprintf(buf, n, "i32:%" PRId32, (int32_t)e->u.i32); break;
    case kpWV_I64: snprintf(buf, n, "i64:%" PRId64, (int64_t)e->u.i64); break;
    case kpWV_F32:
        if (e->nan[0]) snprintf(buf, n, "f32:%s", nan_names[e->nan[0] % 3]);
        else fmt_f32(buf, n, e->u.i32);
        break;
    case kpWV_F64:
        if (e->nan[0]) snprintf(buf, n, "f64:%s", nan_names[e->nan[0] % 3]);
        else fmt_f64(buf, n, e->u.i64);
        break;
    case kpWV_V128: fmt_v128(buf, n, e->u.v128, e->lane_shape, e->nan); break;
    case kpWV_REF_NULL: snprintf(buf, n, "%s:null", e->reftype == 0x70 ? "funcref" : "externref"); break;
    case kpWV_REF_EXTERN: snprintf(buf, n, "externref:%" PRIu64, e->u.i64); break;
    case kpWV_REF_FUNC: snprintf(buf, n, "funcref:non-null"); break;
    case kpWV_REF_ANY_EXTERN: snprintf(buf, n, "externref:non-null"); break;
    }
}

/* ---- Modules and instances ------------------------------------------------------------------- */

static uint64_t now_ns(void) { return kpOs_monotonicNs(); }

/* Encode (if text) and decode+validate a script module. The module is kept in r->modules. */
static kapsul_status load_module(runner *r, const kpWastModule *m, kapsul_module **out, kapsul_error *err) {
    kpBuf encoded = { 0 };
    const uint8_t *bytes;
    size_t len;
    kapsul_status st = KAPSUL_OK;
    *out = NULL;
    if (m->kind == kpMod_BINARY) {
        bytes = m->bytes.data;
        len = m->bytes.len;
    } else {
        const char *src = m->kind == kpMod_TEXT ? m->src : (const char *)m->bytes.data;
        size_t slen = m->kind == kpMod_TEXT ? m->len : m->bytes.len;
        st = kpWat_toBinary(src ? src : "", slen, m->kind == kpMod_TEXT ? m->line : 1, &encoded, err);
        if (st != KAPSUL_OK) goto fail;
        bytes = encoded.data;
        len = encoded.len;
    }
    if (kpVec_grow(&r->modules) != 0) {
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        goto fail;
    }
    static const uint8_t empty[1];
    st = kapsul_module_new(r->engine, bytes ? bytes : empty, len, out, err);
    if (st == KAPSUL_OK && r->opt->tier.native) {
        /* Validated by the interpreter's path first, so rejections read the same in every tier. */
        kapsul_module_free(*out);
        *out = NULL;
        kpBuf kw;
        st = kpCli_nativeArtifact(&r->opt->tier, bytes, len, &kw, err);
        if (st == KAPSUL_OK) st = kapsul_module_new(r->engine, kw.data, kw.len, out, err);
        kpBuf_free(&kw);
    }
    if (st != KAPSUL_OK) goto fail;
    r->modules.v[r->modules.n++] = *out;
fail:
    kpBuf_free(&encoded);
    return st;
}

static kapsul_status instantiate(runner *r, const kapsul_module *module, kapsul_instance **out,
                                 kapsul_error *err) {
    kapsul_store_set_deadline(r->store, now_ns() + r->opt->timeout_ns);
    return kapsul_linker_instantiate(r->linker, module, out, err);
}

/* Remember the instance (or the failure, instance == NULL) under the module's name. */
static void set_current(runner *r, const char *name, kapsul_instance *instance) {
    r->current = instance;
    r->have_current = true;
    if (!name) return;
    char *copy = kp_strndup(name, strlen(name));
    if (!copy || kpVec_grow(&r->names) != 0) {
        kp_free(copy);
        return; /* out of memory: later lookups of this name fail, and say so */
    }
    r->names.v[r->names.n++] = (named_instance){ copy, instance };
}

/* The instance an action or register names, or NULL with the reason in err. */
static kapsul_instance *find_instance(runner *r, const char *name, kapsul_error *err) {
    if (!name) {
        if (r->current) return r->current;
        kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0,
                    r->have_current ? "the current module failed to load" : "no module defined yet");
        return NULL;
    }
    for (size_t i = r->names.n; i-- > 0;) {
        if (strcmp(r->names.v[i].name, name) == 0) {
            if (r->names.v[i].instance) return r->names.v[i].instance;
            kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "module $%s failed to load", name);
            return NULL;
        }
    }
    kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "unknown module $%s", name);
    return NULL;
}

/* ---- Actions --------------------------------------------------------------------------------- */

/* Results of one action, allocated to the callee's arity. */
typedef struct action_result {
    kapsul_val *vals;
    uint32_t n;
} action_result;

static kapsul_status invoke(runner *r, kapsul_func *func, const kpWastAction *a, action_result *res,
                            kapsul_error *err) {
    kapsul_val *args = NULL;
    kapsul_status st;
    if (a->nargs && !(args = kp_calloc(a->nargs, sizeof *args))) goto nomem;
    for (uint32_t i = 0; i < a->nargs; i++) {
        if (!val_from_wast(&a->args[i], &args[i])) {
            st = kpError_set(err, KAPSUL_ERR_ARG, 0, "argument %" PRIu32 " is not a concrete value", i);
            goto fail;
        }
    }
    res->n = kapsul_func_result_count(func);
    if (res->n && !(res->vals = kp_calloc(res->n, sizeof *res->vals))) goto nomem;
    kapsul_store_set_deadline(r->store, now_ns() + r->opt->timeout_ns);
    st = kapsul_func_call(r->store, func, args, a->nargs, res->vals, res->n, err);
    goto fail;
nomem:
    st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
fail:
    kp_free(args);
    return st;
}

/* Run an invoke or get. On success res holds the results (the caller frees res->vals). */
static kapsul_status run_action(runner *r, const kpWastAction *a, action_result *res, kapsul_error *err) {
    kapsul_extern ext;
    res->vals = NULL;
    res->n = 0;
    kpError_clear(err);
    kapsul_instance *inst = find_instance(r, a->module, err);
    if (!inst) return err->code;
    kapsul_status st = kapsul_instance_export(inst, a->field, a->field_len, &ext, err);
    if (st != KAPSUL_OK) return kpError_set(err, st, 0, "no export \"%s\"", a->field);
    if (a->kind == kpAct_INVOKE) {
        if (ext.kind != KAPSUL_EXTERN_FUNC)
            return kpError_set(err, KAPSUL_ERR_ARG, 0, "export \"%s\" is not a function", a->field);
        return invoke(r, ext.of.func, a, res, err);
    }
    if (ext.kind != KAPSUL_EXTERN_GLOBAL)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "export \"%s\" is not a global", a->field);
    if (!(res->vals = kp_calloc(1, sizeof *res->vals)))
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    res->vals[0] = kapsul_global_get(ext.of.global);
    res->n = 1;
    return KAPSUL_OK;
}

/* Loose trap-message comparison: the expected text must appear in what we report. The spec's
 * "undefined element" (call_indirect past the table's end) is kapsul's table-bounds trap. */
static bool trap_matches(const kapsul_error *err, const char *expected) {
    if (!expected || !expected[0]) return true;
    if (strstr(kapsul_trap_message(err->trap), expected) || strstr(err->message, expected)) return true;
    return strncmp(expected, "undefined element", 17) == 0 && err->trap == KAPSUL_TRAP_TABLE_OOB;
}

/* ---- The hang guard ---------------------------------------------------------------------------
 * The store deadline stops runaway wasm code, but not a hang outside it (a decoder or validator
 * bug looping on some module). As a last resort each command also arms alarm(): if it fires, the
 * handler writes the prepared line naming the command and ends the process, so a broken engine
 * makes the run fail instead of hanging it. */
static char hang_msg[512];
static size_t hang_len;

static void on_hang(int sig) {
    (void)sig;
    ssize_t ignored = write(STDOUT_FILENO, hang_msg, hang_len);
    (void)ignored;
    _exit(KP_EXIT_FAIL);
}

static void hang_guard_arm(const runner *r, const kpWastCommand *c) {
    unsigned secs = (unsigned)(r->opt->timeout_ns / 1000000000u) * 2 + 20;
    int n = snprintf(hang_msg, sizeof hang_msg,
                     "%s:%d: %s: no progress for %u s outside the store deadline; giving up\n", r->path,
                     c->line, cmd_name(c->kind), secs);
    hang_len = n < 0 ? 0 : (size_t)n < sizeof hang_msg ? (size_t)n : sizeof hang_msg - 1;
    fflush(stdout);
    alarm(secs);
}

static void hang_guard_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hang;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
}

/* ---- Commands -------------------------------------------------------------------------------- */

static void cmd_module(runner *r, const kpWastCommand *c) {
    kapsul_error err;
    kapsul_module *module;
    kapsul_instance *inst = NULL;
    kpError_clear(&err);
    kapsul_status st = load_module(r, &c->module, &module, &err);
    if (st == KAPSUL_OK) st = instantiate(r, module, &inst, &err);
    if (st != KAPSUL_OK) {
        set_current(r, c->module.name, NULL);
        if (err.line > 0)
            report_fail(r, c, "%s at %d:%d: %s", kapsul_status_name(st), err.line, err.column,
                        error_text(&err));
        else report_fail(r, c, "%s: %s", kapsul_status_name(st), error_text(&err));
        return;
    }
    set_current(r, c->module.name, inst);
    pass(r, c);
}

static void cmd_register(runner *r, const kpWastCommand *c) {
    kapsul_error err;
    kpError_clear(&err);
    kapsul_instance *inst = find_instance(r, c->register_module, &err);
    const char *name = c->register_name ? c->register_name : "";
    if (!inst) {
        report_fail(r, c, "\"%s\": %s", name, err.message);
        return;
    }
    kapsul_status st = kapsul_linker_define_instance(r->linker, name, strlen(name), inst, &err);
    if (st != KAPSUL_OK) report_fail(r, c, "\"%s\": %s", name, kapsul_status_name(st));
    else pass(r, c);
}

static void cmd_action(runner *r, const kpWastCommand *c) {
    kapsul_error err;
    action_result res;
    kapsul_status st = run_action(r, &c->action, &res, &err);
    kp_free(res.vals);
    if (st != KAPSUL_OK)
        report_fail(r, c, "\"%s\": %s: %s", c->action.field, kapsul_status_name(st), error_text(&err));
    else pass(r, c);
}

static void cmd_assert_return(runner *r, const kpWastCommand *c) {
    kapsul_error err;
    action_result res;
    char want[256], got[256];
    kapsul_status st = run_action(r, &c->action, &res, &err);
    if (st != KAPSUL_OK) {
        report_fail(r, c, "\"%s\": %s: %s", c->action.field, kapsul_status_name(st), error_text(&err));
        goto done;
    }
    if (res.n != c->nresults) {
        report_fail(r, c, "\"%s\": expected %" PRIu32 " results, got %" PRIu32, c->action.field, c->nresults,
                    res.n);
        goto done;
    }
    for (uint32_t i = 0; i < res.n; i++) {
        if (val_matches(&res.vals[i], &c->results[i])) continue;
        fmt_expected(want, sizeof want, &c->results[i]);
        fmt_got(got, sizeof got, &res.vals[i], c->results[i].lane_shape);
        report_fail(r, c, "\"%s\": result %" PRIu32 ": expected %s, got %s", c->action.field, i, want, got);
        goto done;
    }
    pass(r, c);
done:
    kp_free(res.vals);
}

/* assert_trap and assert_exhaustion on an action: it must trap, with the expected message. */
static void cmd_assert_trap_action(runner *r, const kpWastCommand *c) {
    kapsul_error err;
    action_result res;
    kapsul_status st = run_action(r, &c->action, &res, &err);
    kp_free(res.vals);
    if (st == KAPSUL_OK) {
        report_fail(r, c, "\"%s\": expected trap \"%s\", returned normally", c->action.field,
                    c->message ? c->message : "");
    } else if (st != KAPSUL_ERR_TRAP) {
        report_fail(r, c, "\"%s\": expected trap \"%s\", got %s: %s", c->action.field,
                    c->message ? c->message : "", kapsul_status_name(st), error_text(&err));
    } else if (c->kind == kpCmd_ASSERT_EXHAUSTION && err.trap != KAPSUL_TRAP_STACK_EXHAUSTED) {
        report_fail(r, c, "\"%s\": expected call stack exhaustion, got trap \"%s\"", c->action.field,
                    kapsul_trap_message(err.trap));
    } else if (!trap_matches(&err, c->message)) {
        report_fail(r, c, "\"%s\": expected trap \"%s\", got trap \"%s\"", c->action.field, c->message,
                    kapsul_trap_message(err.trap));
    } else {
        pass(r, c);
    }
}

/* assert_invalid and assert_malformed: the module must not load. A load failure of the other
 * class still passes (the module is refused either way) but is noted with --verbose. */
static void cmd_assert_rejected(runner *r, const kpWastCommand *c) {
    kapsul_error err;
    kapsul_module *module;
    kpError_clear(&err);
    kapsul_status st = load_module(r, &c->module, &module, &err);
    kapsul_status want = c->kind == kpCmd_ASSERT_INVALID ? KAPSUL_ERR_INVALID : KAPSUL_ERR_MALFORMED;
    const char *expected = c->message ? c->message : "";
    if (st == KAPSUL_OK) {
        report_fail(r, c, "module loaded, expected it to be refused as %s (\"%s\")", kapsul_status_name(want),
                    expected);
        return;
    }
    pass(r, c);
    if (st != want)
        note(r, c, "refused as %s (%s), expected %s (\"%s\")", kapsul_status_name(st), error_text(&err),
             kapsul_status_name(want), expected);
    else if (!strstr(err.message, expected))
        note(r, c, "message \"%s\", expected \"%s\"", err.message, expected);
}

/* assert_unlinkable, assert_uninstantiable and assert_trap on a module: the module loads but its
 * instantiation fails with the expected class (and, for traps, message). */
static void cmd_assert_instantiation(runner *r, const kpWastCommand *c) {
    kapsul_error err;
    kapsul_module *module;
    kapsul_instance *inst = NULL;
    kpError_clear(&err);
    kapsul_status st = load_module(r, &c->module, &module, &err);
    const char *expected = c->message ? c->message : "";
    if (st != KAPSUL_OK) {
        report_fail(r, c, "module failed to load: %s: %s", kapsul_status_name(st), error_text(&err));
        return;
    }
    st = instantiate(r, module, &inst, &err);
    kapsul_status want = c->kind == kpCmd_ASSERT_UNLINKABLE ? KAPSUL_ERR_UNLINKABLE : KAPSUL_ERR_TRAP;
    if (st == KAPSUL_OK) {
        report_fail(r, c, "instantiated, expected %s \"%s\"", kapsul_status_name(want), expected);
    } else if (st != want) {
        report_fail(r, c, "expected %s \"%s\", got %s: %s", kapsul_status_name(want), expected,
                    kapsul_status_name(st), error_text(&err));
    } else if (want == KAPSUL_ERR_TRAP && c->kind == kpCmd_ASSERT_TRAP && !trap_matches(&err, c->message)) {
        report_fail(r, c, "expected trap \"%s\", got trap \"%s\"", expected, kapsul_trap_message(err.trap));
    } else {
        pass(r, c);
        if (want == KAPSUL_ERR_UNLINKABLE && !strstr(err.message, expected))
            note(r, c, "message \"%s\", expected \"%s\"", err.message, expected);
    }
}

static void run_command(runner *r, const kpWastCommand *c) {
    hang_guard_arm(r, c);
    switch (c->kind) {
    case kpCmd_MODULE: cmd_module(r, c); break;
    case kpCmd_REGISTER: cmd_register(r, c); break;
    case kpCmd_ACTION: cmd_action(r, c); break;
    case kpCmd_ASSERT_RETURN: cmd_assert_return(r, c); break;
    case kpCmd_ASSERT_EXHAUSTION: cmd_assert_trap_action(r, c); break;
    case kpCmd_ASSERT_TRAP:
        if (c->has_module) cmd_assert_instantiation(r, c);
        else cmd_assert_trap_action(r, c);
        break;
    case kpCmd_ASSERT_INVALID:
    case kpCmd_ASSERT_MALFORMED: cmd_assert_rejected(r, c); break;
    case kpCmd_ASSERT_UNLINKABLE:
    case kpCmd_ASSERT_UNINSTANTIABLE: cmd_assert_instantiation(r, c); break;
    default: report_fail(r, c, "unknown command kind %d", (int)c->kind); break;
    }
    alarm(0);
}

/* ---- Scripts --------------------------------------------------------------------------------- */

static void runner_reset(runner *r) {
    kapsul_linker_free(r->linker);
    kapsul_store_free(r->store);
    for (size_t i = 0; i < r->modules.n; i++) kapsul_module_free(r->modules.v[i]);
    kpVec_free(&r->modules);
    for (size_t i = 0; i < r->names.n; i++) kp_free(r->names.v[i].name);
    kpVec_free(&r->names);
    r->linker = NULL;
    r->store = NULL;
    r->current = NULL;
    r->have_current = false;
}

/* Run one script; its counts are left in r->passed / r->failed. */
static void run_script(runner *r, const char *path) {
    kpBuf text;
    kpWastScript script = { 0 };
    kapsul_error err;
    r->path = path;
    r->passed = r->failed = 0;
    kpError_clear(&err);
    kapsul_status st = kpCli_readFile(path, &text, &err);
    if (st != KAPSUL_OK) {
        r->failed++;
        r->kind_failed[KP_NKINDS]++;
        r->io_error = true;
        fprintf(stderr, "kapsul wast: %s\n", err.message);
        return;
    }
    r->store = NULL;
    r->linker = NULL;
    if (kapsul_store_new(r->engine, &r->store, &err) != KAPSUL_OK ||
        kapsul_linker_new(r->store, &r->linker, &err) != KAPSUL_OK ||
        kpSpectest_define(r->store, r->linker, r->opt->print, &err) != KAPSUL_OK) {
        r->failed++;
        r->kind_failed[KP_NKINDS]++;
        printf("%s: cannot set up the store and the spectest module\n", path);
        goto done;
    }
    st = kpWast_parse((const char *)text.data, text.len, &script, &err);
    for (uint32_t i = 0; i < script.ncmds; i++) run_command(r, &script.cmds[i]);
    if (st != KAPSUL_OK) {
        r->failed++;
        r->kind_failed[KP_NKINDS]++;
        printf("%s:%d:%d: script: %s\n", path, err.line, err.column, err.message);
    }
done:
    kpWast_free(&script);
    kpBuf_free(&text);
    runner_reset(r);
}

static void wast_usage(FILE *f) {
    fprintf(f, "Run WebAssembly spec-test scripts\n"
               "\n"
               "Usage: kapsul wast [OPTIONS] FILE...\n"
               "\n"
               "Runs every command of each script against a fresh store with the \"spectest\" host\n"
               "module. Each failing command prints `FILE:LINE: KIND: REASON`; the run ends with\n"
               "`N passed, N failed` over all scripts. Exit status 0 iff nothing failed.\n"
               "\n"
               "Options:\n"
               "  -s, --summary       Print `FILE: N passed, N failed` after each script\n"
               "  -v, --verbose       Also note passes whose failure class or message differs from the\n"
               "                      script's expectation, and end with counts per command kind\n"
               "                      (implies --summary)\n"
               "      --print         Let spectest.print* write their arguments to stdout\n"
               "      --timeout SECS  Deadline for each command (default 20)\n"
               "      --tier interp|native  Run modules in the interpreter (default) or compiled\n"
               "      --cache DIR     Where --tier native keeps compiled modules\n"
               "  -h, --help          Print help\n");
}

/* Parse options; files are compacted to argv[1..*nfiles]. Returns -1 to go on, else an exit status. */
static int parse_options(int argc, char **argv, wast_options *opt, int *nfiles) {
    bool only_files = false;
    *nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_files || a[0] != '-' || a[1] == '\0') {
            argv[1 + (*nfiles)++] = argv[i];
        } else if (strcmp(a, "--") == 0) {
            only_files = true;
        } else if (kpCli_isHelp(a)) {
            wast_usage(stdout);
            return KP_EXIT_OK;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            opt->verbose = opt->summary = true;
        } else if (strcmp(a, "-s") == 0 || strcmp(a, "--summary") == 0) {
            opt->summary = true;
        } else if (kpCli_tierOption(&opt->tier, argc, argv, &i) != 0) {
            if (strcmp(a, "--tier") == 0 && !opt->tier.native && strcmp(argv[i], "interp") != 0)
                return kpCli_usageError("wast", "bad --tier '%s' (interp or native)", argv[i]);
        } else if (strcmp(a, "--print") == 0) {
            opt->print = true;
        } else if (strcmp(a, "--timeout") == 0) {
            if (i + 1 >= argc) return kpCli_usageError("wast", "--timeout needs SECS");
            char *end;
            double secs = strtod(argv[++i], &end);
            if (*end || !(secs > 0 && secs < 1e6)) {
                return kpCli_usageError("wast", "bad --timeout '%s'", argv[i]);
            }
            opt->timeout_ns = (uint64_t)(secs * 1e9);
        } else {
            return kpCli_usageError("wast", "unknown option '%s'", a);
        }
    }
    if (*nfiles == 0) { return kpCli_usageError("wast", "missing FILE"); }
    return -1;
}

/* --verbose: the run's counts per command kind, e.g. to tell assertions from module definitions. */
static void print_kinds(const runner *r) {
    printf("by command kind:\n");
    for (unsigned k = 0; k <= KP_NKINDS; k++) {
        if (!r->kind_passed[k] && !r->kind_failed[k]) continue;
        const char *name = k < KP_NKINDS ? cmd_name((kpWastCmdKind)k) : "script";
        printf("  %-22s %lu passed, %lu failed\n", name, r->kind_passed[k], r->kind_failed[k]);
    }
}

int kpCli_wast(int argc, char **argv) {
    wast_options opt = { .timeout_ns = 20ull * 1000000000u };
    int nfiles;
    int status = parse_options(argc, argv, &opt, &nfiles);
    if (status >= 0) return status;
    runner r;
    memset(&r, 0, sizeof r);
    hang_guard_install();
    r.opt = &opt;
    if (kapsul_engine_new(NULL, &r.engine, NULL) != KAPSUL_OK) {
        fprintf(stderr, "kapsul wast: out of memory\n");
        return KP_EXIT_FAIL;
    }
    unsigned long passed = 0, failed = 0;
    for (int i = 1; i <= nfiles; i++) {
        run_script(&r, argv[i]);
        if (opt.summary) printf("%s: %lu passed, %lu failed\n", argv[i], r.passed, r.failed);
        fflush(stdout);
        passed += r.passed;
        failed += r.failed;
    }
    kapsul_engine_free(r.engine);
    if (opt.verbose) print_kinds(&r);
    printf("%lu passed, %lu failed\n", passed, failed);
    fflush(stdout); /* before any exit-time reporter (LeakSanitizer) can _exit the process */
    if (r.io_error) return KP_EXIT_USAGE;
    return failed ? KP_EXIT_FAIL : KP_EXIT_OK;
}
