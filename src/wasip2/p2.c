/*
 * p2.c -- the WASI 0.2 host (wasip2.h): interface resolution, host resources, and every function
 * of funcs.def.
 *
 * File and stream operations call src/wasi's preview1 handlers on a scratch memory that belongs
 * to the kpP2 (the guest's values were lifted to the host already): a path or the bytes to write
 * are copied there, the handler runs with its usual checks (rights, read-only preopens, path
 * resolution beneath the directory, in-memory stdio, SIGPIPE, the deadline), and the results are
 * read back. So preview1 and 0.2 guests share one sandbox implementation.
 */
#include <stdio.h>

#include "wasip2/p2int.h"

/* ---- The host and its resources ------------------------------------------------------------------ */

static const char *const resource_names[] = {
    "input-stream", "output-stream", "descriptor", "error", "pollable", "terminal-input", "terminal-output",
    "directory-entry-stream",
    /* wasi:sockets */
    "network", "tcp-socket", "udp-socket", "incoming-datagram-stream", "outgoing-datagram-stream",
    "resolve-address-stream",
    /* wasi:http */
    "fields", "incoming-request", "outgoing-request", "request-options", "response-outparam",
    "incoming-response", "incoming-body", "future-trailers", "outgoing-response", "outgoing-body",
    "future-incoming-response"
};
#define NRES (sizeof resource_names / sizeof resource_names[0])
_Static_assert(NRES <= sizeof((kpP2 *)0)->types / sizeof(kpCRes *), "kpP2.types holds every resource type");

#define SCRATCH_HDR 256u
#define MAX_IO (1u << 20) /* bytes one read or one write piece moves */

kapsul_status kpP2_new(kapsul_wasi *wasi, kpP2 **out, kapsul_error *err) {
    *out = NULL;
    kpP2 *p = kp_calloc(1, sizeof *p);
    if (!p) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    p->w = wasi;
    *out = p;
    return KAPSUL_OK;
}

void kpP2_free(kpP2 *p) {
    if (!p) return;
    for (size_t i = 0; i < p->res.n; i++) {
        kpP2Sock_free(p->res.v[i].sk);
        /* what the guest still held when its instance went */
        if (p->res.v[i].kind != R_FREE && p->res.v[i].obj) kpP2Http_release(p, &p->res.v[i]);
    }
    kpP2Http_free(p);
    kpVec_free(&p->res);
    kpVec_free(&p->refs);
    kp_free(p->scratch);
    kp_free(p);
}

static kapsul_status trap(kapsul_error *err, const char *fmt, const char *what) {
    kapsul_status st = kpError_set(err, KAPSUL_ERR_TRAP, 0, fmt, what);
    if (err) err->trap = KAPSUL_TRAP_HOST;
    return st;
}

static kapsul_status nomem(kapsul_error *err) {
    return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
}

static void fd_ref(kpP2 *p, uint32_t fd, int delta) {
    if (fd >= p->refs.n) return;
    p->refs.v[fd] += (uint32_t)delta;
    /* the last user of a file a guest opened closes it; preopens and stdio stay */
    if (delta < 0 && p->refs.v[fd] == 0 && fd > 2 && fd < p->w->nfds && !p->w->fds[fd].preopen &&
        kpWasiFd_used(&p->w->fds[fd]))
        kpWasiFd_close(&p->w->fds[fd]);
}

static bool uses_fd(const p2res *r) {
    if (r->obj) return false; /* a wasi:http body's stream */
    return r->kind == R_IN || r->kind == R_OUT || r->kind == R_DESC || r->kind == R_DIR || r->sock;
}

static int res_new(kpP2 *p, p2res r, uint32_t *rep) {
    bool counted = uses_fd(&r);
    if (counted) {
        while (p->refs.n <= r.fd) {
            if (kpVec_grow(&p->refs) != 0) return -1;
            p->refs.v[p->refs.n++] = 0;
        }
    }
    uint32_t i;
    if (p->free_head) {
        i = p->free_head - 1;
        p->free_head = p->res.v[i].next;
    } else {
        if (p->res.n >= (1u << 24) || kpVec_grow(&p->res) != 0) return -1;
        i = (uint32_t)p->res.n++;
    }
    p->res.v[i] = r;
    if (counted) fd_ref(p, r.fd, 1);
    *rep = i;
    return 0;
}

static p2res *res_get(kpP2 *p, uint32_t rep, uint8_t kind) {
    return rep < p->res.n && p->res.v[rep].kind == kind ? &p->res.v[rep] : NULL;
}

/* Free entry rep: the guest dropped its handle, or the host took an own handle and is done. */
static void drop_entry(kpP2 *p, uint32_t rep) {
    if (rep >= p->res.n || p->res.v[rep].kind == R_FREE) return;
    p2res r = p->res.v[rep];
    p->res.v[rep] = (p2res){ .kind = R_FREE, .next = p->free_head };
    p->free_head = rep + 1;
    kpP2Sock_free(r.sk);
    if (uses_fd(&r)) fd_ref(p, r.fd, -1);
    if (r.obj) kpP2Http_release(p, &r);
}

/* The destructor of every host resource: the guest dropped its handle. */
static void res_drop(void *env, uint32_t rep) { drop_entry(env, rep); }

/* ---- Preview1 handlers on the scratch memory ----------------------------------------------------- */

static uint8_t *scratch(kpP2 *p, size_t need) {
    if (need > p->scratch_cap) {
        size_t cap = need < 65536 ? 65536 : need;
        uint8_t *s = kp_realloc(p->scratch, cap);
        if (!s) return NULL;
        p->scratch = s, p->scratch_cap = cap;
    }
    return p->scratch;
}

/* Run a preview1 handler with up to 9 integer arguments (pointers are scratch offsets). *st gets
 * a status when the handler ended the guest (deadline). */
static uint16_t p1(kpP2 *p, kpWasiHandler h, kapsul_error *err, kapsul_status *st, int n,
                   const uint64_t *args) {
    kapsul_val a[10];
    for (int i = 0; i < n; i++) a[i] = (kapsul_val){ .kind = KAPSUL_I64, .of.i64 = (int64_t)args[i] };
    kpWasiCall c = { .w = p->w, .mem = p->scratch, .memlen = p->scratch_cap, .a = a, .err = err };
    uint16_t e = h(&c);
    *st = c.status;
    return e;
}

/* ---- Values ------------------------------------------------------------------------------------ */

static kpCValue *vals(kpCHostCall *call, size_t n) {
    return kpCArena_alloc(call->arena, (n ? n : 1) * sizeof(kpCValue));
}

/* result<T, E>: case 0 ok with payload, 1 err. payload NULL for a result without that type. */
static kapsul_status put_result(kpCHostCall *call, kpCValue *out, uint32_t disc, kpCValue **payload, bool has,
                                kapsul_error *err) {
    out->var.disc = disc;
    out->var.payload = NULL;
    *payload = NULL;
    if (!has) return KAPSUL_OK;
    if (!(out->var.payload = vals(call, 1))) return trap(err, "%s", "wasi: result too large for the host");
    *payload = out->var.payload;
    return KAPSUL_OK;
}

/* A stream error: `closed`, or last-operation-failed with an error resource for errno e. */
static kapsul_status stream_error(kpP2 *p, kpCHostCall *call, kpCValue *out, uint16_t e, kapsul_error *err) {
    kpCValue *pl;
    kapsul_status st = put_result(call, out, 1, &pl, true, err);
    if (st != KAPSUL_OK) return st;
    if (e == KP_WE_PIPE || e == 0) {
        pl->var.disc = 1, pl->var.payload = NULL;
        return KAPSUL_OK;
    }
    uint32_t rep;
    if (res_new(p, (p2res){ .kind = R_ERROR, .errcode = e }, &rep) != 0) return nomem(err);
    pl->var.disc = 0;
    if (!(pl->var.payload = vals(call, 1))) return nomem(err);
    pl->var.payload->rep = rep;
    return KAPSUL_OK;
}

static kpCValue *bytes_value(kpCHostCall *call, const uint8_t *b, size_t n, kpCValue *out) {
    kpCValue *v = vals(call, n);
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) v[i].u = b[i];
    out->agg.v = v, out->agg.n = (uint32_t)n;
    return out;
}

static bool string_value(kpCHostCall *call, const char *s, size_t n, kpCValue *out) {
    char *d = kpCArena_alloc(call->arena, n ? n : 1);
    if (!d) return false;
    memcpy(d, s, n);
    out->str.p = d, out->str.len = (uint32_t)n;
    return true;
}

/* preview1 errno -> wasi:filesystem error-code (enum order of types.wit). */
static uint32_t fs_code(uint16_t e) {
    switch (e) {
    case KP_WE_ACCES: return 0;
    case KP_WE_AGAIN: return 1;
    case KP_WE_ALREADY: return 2;
    case KP_WE_BADF: return 3;
    case KP_WE_BUSY: return 4;
    case KP_WE_DEADLK: return 5;
    case KP_WE_DQUOT: return 6;
    case KP_WE_EXIST: return 7;
    case KP_WE_FBIG: return 8;
    case KP_WE_ILSEQ: return 9;
    case KP_WE_INPROGRESS: return 10;
    case KP_WE_INTR: return 11;
    case KP_WE_INVAL: return 12;
    case KP_WE_IO: return 13;
    case KP_WE_ISDIR: return 14;
    case KP_WE_LOOP: return 15;
    case KP_WE_MLINK: return 16;
    case KP_WE_MSGSIZE: return 17;
    case KP_WE_NAMETOOLONG: return 18;
    case KP_WE_NODEV: return 19;
    case KP_WE_NOENT: return 20;
    case KP_WE_NOLCK: return 21;
    case KP_WE_NOMEM: return 22;
    case KP_WE_NOSPC: return 23;
    case KP_WE_NOTDIR: return 24;
    case KP_WE_NOTEMPTY: return 25;
    case KP_WE_NOTRECOVERABLE: return 26;
    case KP_WE_NOTSUP:
    case KP_WE_NOSYS: return 27;
    case KP_WE_NOTTY: return 28;
    case KP_WE_NXIO: return 29;
    case KP_WE_OVERFLOW: return 30;
    case KP_WE_PERM:
    case KP_WE_NOTCAPABLE: return 31;
    case KP_WE_PIPE: return 32;
    case KP_WE_ROFS: return 33;
    case KP_WE_SPIPE: return 34;
    case KP_WE_TXTBSY: return 35;
    case KP_WE_XDEV: return 36;
    default: return 13; /* io */
    }
}

/* result<_, error-code> or the error case of result<T, error-code>. */
static kapsul_status fs_err(kpCHostCall *call, kpCValue *out, uint16_t e, kapsul_error *err) {
    kpCValue *pl;
    kapsul_status st = put_result(call, out, 1, &pl, true, err);
    if (st == KAPSUL_OK) pl->var.disc = fs_code(e);
    return st;
}

#define HOST(name) \
    static kapsul_status name(void *env, kpCHostCall *call, const kpCValue *a, kpCValue *r, kapsul_error *err)
#define P2         \
    kpP2 *p = env; \
    (void)p, (void)call, (void)a, (void)r, (void)err

/* ---- wasi:cli ---------------------------------------------------------------------------------- */

/* list<string> or list<tuple<string, string>> of the context's argv or environment. */
static kapsul_status string_list(kpCHostCall *call, char **s, size_t n, bool pairs, kpCValue *out,
                                 kapsul_error *err) {
    kpCValue *v = vals(call, n);
    if (!v) return trap(err, "%s", "wasi: too many arguments for the host");
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(s[i]);
        if (!pairs) {
            if (!string_value(call, s[i], len, &v[i])) return nomem(err);
            continue;
        }
        const char *eq = memchr(s[i], '=', len);
        size_t k = eq ? (size_t)(eq - s[i]) : len;
        kpCValue *t = vals(call, 2);
        if (!t || !string_value(call, s[i], k, &t[0]) ||
            !string_value(call, eq ? eq + 1 : "", eq ? len - k - 1 : 0, &t[1]))
            return nomem(err);
        v[i].agg.v = t, v[i].agg.n = 2;
    }
    out->agg.v = v, out->agg.n = (uint32_t)n;
    return KAPSUL_OK;
}

HOST(kpP2_getEnvironment) {
    P2;
    return string_list(call, p->w->env, p->w->envc, true, &r[0], err);
}

HOST(kpP2_getArguments) {
    P2;
    return string_list(call, p->w->argv, p->w->argc, false, &r[0], err);
}

HOST(kpP2_initialCwd) {
    P2;
    r[0].var.disc = 0, r[0].var.payload = NULL;
    return KAPSUL_OK;
}

static kapsul_status exit_with(kapsul_error *err, int code) {
    kapsul_status st = kpError_set(err, KAPSUL_ERR_EXIT, 0, "exit(%d)", code);
    if (err) err->exit_code = code;
    return st;
}

/* exit(ok) is status 0 and exit(err) status 1, as wasmtime reports them. */
HOST(kpP2_exit) {
    P2;
    return exit_with(err, a[0].var.disc == 0 ? 0 : 1);
}

HOST(kpP2_exitWithCode) {
    P2;
    return exit_with(err, (int)(a[0].u & 0xff));
}

static kapsul_status stdio_stream(kpP2 *p, uint8_t kind, uint32_t fd, kpCValue *out, kapsul_error *err) {
    uint32_t rep;
    if (res_new(p, (p2res){ .kind = kind, .fd = fd }, &rep) != 0) return nomem(err);
    out->rep = rep;
    return KAPSUL_OK;
}

HOST(kpP2_getStdin) {
    P2;
    return stdio_stream(p, R_IN, 0, &r[0], err);
}
HOST(kpP2_getStdout) {
    P2;
    return stdio_stream(p, R_OUT, 1, &r[0], err);
}
HOST(kpP2_getStderr) {
    P2;
    return stdio_stream(p, R_OUT, 2, &r[0], err);
}

/* No terminal is ever reported (the guest's stdio is a pipe, as under in-memory stdio). */
HOST(kpP2_noTerminal) {
    P2;
    r[0].var.disc = 0, r[0].var.payload = NULL;
    return KAPSUL_OK;
}

/* ---- wasi:io ----------------------------------------------------------------------------------- */

HOST(kpP2_errorDebug) {
    P2;
    p2res *e = res_get(p, a[0].rep, R_ERROR);
    if (!e) return trap(err, "%s", "wasi: not an error resource");
    char b[32];
    snprintf(b, sizeof b, "errno %u", e->errcode);
    return string_value(call, b, strlen(b), &r[0]) ? KAPSUL_OK : nomem(err);
}

static kapsul_status timeout_trap(kapsul_error *err) {
    kapsul_status st = kpError_set(err, KAPSUL_ERR_TRAP, 0, "deadline exceeded in a WASI call");
    if (err) err->trap = KAPSUL_TRAP_TIMEOUT;
    return st;
}

/* The host fd a socket pollable waits on (KP_OS_NO_FD when it has none: always ready). */
static kpOs_fd poll_fd(kpP2 *p, const p2res *x) {
    if (!x->sock || !x->events || x->fd >= p->w->nfds) return KP_OS_NO_FD;
    return p->w->fds[x->fd].host;
}

/* Wait for a set of pollables: deadlines (R_POLL with a deadline), socket readiness (R_POLL on
 * an fd) and always-ready ones. With wait false, only look. ready[i] is set for every pollable
 * that is ready when the call returns; the wait stops at the first one, and never goes past the
 * context's deadline (then a timeout trap, as for every blocking WASI call). One ppoll covers
 * every fd in the set, its timeout the nearest deadline. */
static kapsul_status wait_set(kpP2 *p, p2res *const *xs, uint32_t n, bool wait, bool *ready,
                              kapsul_error *err) {
    kpOs_pollfd small[16], *pf = n <= 16 ? small : kp_calloc(n, sizeof *pf);
    if (!pf) return nomem(err);
    kapsul_status st = KAPSUL_OK;
    for (;;) {
        uint64_t now = kpOs_monotonicNs(), first = UINT64_MAX;
        bool any = false;
        for (uint32_t i = 0; i < n; i++) {
            pf[i] = (kpOs_pollfd){ .fd = poll_fd(p, xs[i]), .events = xs[i]->events };
            bool timed = !xs[i]->sock && xs[i]->deadline;
            ready[i] = pf[i].fd == KP_OS_NO_FD && (!timed || xs[i]->deadline <= now);
            any |= ready[i];
            if (timed && xs[i]->deadline < first) first = xs[i]->deadline;
        }
        uint64_t limit = p->w->deadline && p->w->deadline < first ? p->w->deadline : first;
        uint64_t wait_ns = any || !wait          ? 0
                           : limit == UINT64_MAX ? UINT64_MAX
                           : limit > now         ? limit - now
                                                 : 0;
        int nready = 0;
        kpOs_err oe = kpOs_poll(pf, n, wait_ns, &nready);
        if (oe != KP_OS_OK && oe != KP_OS_EINTR) {
            st = trap(err, "wasi: poll failed: %s", kpOs_strerror(oe));
            break;
        }
        now = kpOs_monotonicNs();
        for (uint32_t i = 0; i < n; i++) {
            if (pf[i].fd != KP_OS_NO_FD) ready[i] = pf[i].revents != 0;
            else if (!xs[i]->sock && xs[i]->deadline && xs[i]->deadline <= now) ready[i] = true;
            any |= ready[i];
        }
        if (any || !wait) break;
        if (p->w->deadline && now >= p->w->deadline) {
            st = timeout_trap(err);
            break;
        }
    }
    if (pf != small) kp_free(pf);
    return st;
}

kapsul_status kpP2_waitFd(kpP2 *p, int osfd, unsigned events, uint64_t until, kapsul_error *err) {
    for (;;) {
        uint64_t now = kpOs_monotonicNs();
        if (until && now >= until) return KAPSUL_OK;
        uint64_t limit = until ? until : UINT64_MAX;
        if (p->w->deadline && p->w->deadline < limit) limit = p->w->deadline;
        if (p->w->deadline && now >= p->w->deadline) return timeout_trap(err);
        kpOs_pollfd pf = { .fd = osfd, .events = events };
        int nready = 0;
        kpOs_err oe = kpOs_poll(&pf, 1, limit == UINT64_MAX ? UINT64_MAX : limit - now, &nready);
        if (oe != KP_OS_OK && oe != KP_OS_EINTR) return trap(err, "wasi: poll failed: %s", kpOs_strerror(oe));
        if (nready > 0) return KAPSUL_OK;
    }
}

static p2res *pollable(kpP2 *p, const kpCValue *v) { return res_get(p, v->rep, R_POLL); }

HOST(kpP2_pollableReady) {
    P2;
    p2res *x = pollable(p, &a[0]);
    if (!x) return trap(err, "%s", "wasi: not a pollable");
    bool ready;
    kapsul_status st = wait_set(p, &x, 1, false, &ready, err);
    r[0].b = ready;
    return st;
}

HOST(kpP2_pollableBlock) {
    P2;
    p2res *x = pollable(p, &a[0]);
    if (!x) return trap(err, "%s", "wasi: not a pollable");
    bool ready;
    return wait_set(p, &x, 1, true, &ready, err);
}

/* poll: the indices of the ready pollables, after waiting until at least one is ready. */
HOST(kpP2_poll) {
    P2;
    uint32_t n = a[0].agg.n;
    if (n == 0) return trap(err, "%s", "wasi: poll of an empty list");
    p2res **xs = kpCArena_alloc(call->arena, n * sizeof *xs);
    bool *ready = kpCArena_alloc(call->arena, n * sizeof *ready);
    kpCValue *v = vals(call, n);
    if (!xs || !ready || !v) return nomem(err);
    for (uint32_t i = 0; i < n; i++)
        if (!(xs[i] = pollable(p, &a[0].agg.v[i]))) return trap(err, "%s", "wasi: not a pollable");
    kapsul_status st = wait_set(p, xs, n, true, ready, err);
    if (st != KAPSUL_OK) return st;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (ready[i]) v[k++].u = i;
    r[0].agg.v = v, r[0].agg.n = k;
    return KAPSUL_OK;
}

static kapsul_status new_pollable(kpP2 *p, uint64_t deadline, kpCValue *out, kapsul_error *err) {
    uint32_t rep;
    if (res_new(p, (p2res){ .kind = R_POLL, .deadline = deadline }, &rep) != 0) return nomem(err);
    out->rep = rep;
    return KAPSUL_OK;
}

/* File and stdio streams are always ready: reads and writes complete (or block) in the call
 * itself. A socket's stream is ready when its fd is readable (input) or writable (output). */
HOST(kpP2_subscribeReady) {
    P2;
    p2res *s = res_get(p, a[0].rep, R_IN);
    if (!s && !(s = res_get(p, a[0].rep, R_OUT))) return trap(err, "%s", "wasi: not a stream");
    if (!s->sock) return new_pollable(p, 0, &r[0], err);
    uint32_t rep;
    p2res x = {
        .kind = R_POLL, .sock = true, .fd = s->fd, .events = s->kind == R_IN ? KP_OS_POLL_IN : KP_OS_POLL_OUT
    };
    if (res_new(p, x, &rep) != 0) return nomem(err);
    r[0].rep = rep;
    return KAPSUL_OK;
}

/* Read up to len bytes (at most MAX_IO) from an input stream: ok(bytes), or closed at the end. */
static kapsul_status do_read(kpP2 *p, kpCHostCall *call, p2res *s, uint64_t len, kpCValue *out, uint64_t *got,
                             kapsul_error *err) {
    uint32_t want = len > MAX_IO ? MAX_IO : (uint32_t)len;
    kapsul_status st;
    kpCValue *pl;
    if (s->obj) { /* a wasi:http body in memory */
        const uint8_t *data = NULL;
        size_t n = 0;
        kpP2Http_read(s, want, &data, &n);
        if (n == 0 && want > 0) return stream_error(p, call, out, 0, err);
        *got = n;
        if ((st = put_result(call, out, 0, &pl, true, err)) != KAPSUL_OK) return st;
        return bytes_value(call, data, n, pl) ? KAPSUL_OK : nomem(err);
    }
    uint8_t *m = scratch(p, SCRATCH_HDR + (size_t)want);
    if (!m) return nomem(err);
    kp_st32(m, SCRATCH_HDR), kp_st32(m + 4, want); /* one iovec at 0; the count goes to 16 */
    uint16_t e;
    if (s->file) {
        uint64_t args[5] = { s->fd, 0, 1, s->offset, 16 };
        e = p1(p, kpWasi_fdPread, err, &st, 5, args);
    } else {
        uint64_t args[4] = { s->fd, 0, 1, 16 };
        e = p1(p, kpWasi_fdRead, err, &st, 4, args);
    }
    if (st != KAPSUL_OK) return st;
    if (e) return stream_error(p, call, out, e, err);
    uint32_t done = kp_ld32(p->scratch + 16);
    if (done == 0 && want > 0) return stream_error(p, call, out, 0, err);
    s->offset += done;
    *got = done;
    if ((st = put_result(call, out, 0, &pl, true, err)) != KAPSUL_OK) return st;
    if (!bytes_value(call, p->scratch + SCRATCH_HDR, done, pl)) return nomem(err);
    return KAPSUL_OK;
}

static kapsul_status read_common(kpP2 *p, kpCHostCall *call, const kpCValue *a, kpCValue *r, bool blocking,
                                 kapsul_error *err) {
    p2res *s = res_get(p, a[0].rep, R_IN);
    if (!s) return trap(err, "%s", "wasi: not an input-stream");
    if (s->sock) return kpP2Sock_read(p, call, s, a[1].u, blocking, false, &r[0], err);
    uint64_t got;
    return do_read(p, call, s, a[1].u, &r[0], &got, err);
}

HOST(kpP2_read) {
    P2;
    return read_common(p, call, a, r, false, err);
}

HOST(kpP2_blockingRead) {
    P2;
    return read_common(p, call, a, r, true, err);
}

static kapsul_status skip_common(kpP2 *p, kpCHostCall *call, const kpCValue *a, kpCValue *r, bool blocking,
                                 kapsul_error *err) {
    p2res *s = res_get(p, a[0].rep, R_IN);
    if (!s) return trap(err, "%s", "wasi: not an input-stream");
    if (s->sock) return kpP2Sock_read(p, call, s, a[1].u, blocking, true, &r[0], err);
    uint64_t got = 0;
    kapsul_status st = do_read(p, call, s, a[1].u, &r[0], &got, err);
    if (st == KAPSUL_OK && r[0].var.disc == 0) r[0].var.payload->u = got;
    return st;
}

HOST(kpP2_skip) {
    P2;
    return skip_common(p, call, a, r, false, err);
}

HOST(kpP2_blockingSkip) {
    P2;
    return skip_common(p, call, a, r, true, err);
}

HOST(kpP2_checkWrite) {
    P2;
    p2res *s = res_get(p, a[0].rep, R_OUT);
    if (!s) return trap(err, "%s", "wasi: not an output-stream");
    if (s->sock) return kpP2Sock_checkWrite(p, call, s, &r[0], err);
    kpCValue *pl;
    kapsul_status st = put_result(call, &r[0], 0, &pl, true, err);
    if (st == KAPSUL_OK) pl->u = MAX_IO;
    return st;
}

/* Write all of b[0..n) to an output stream through fd_write / fd_pwrite, piece by piece. */
static uint16_t write_all(kpP2 *p, p2res *s, const uint8_t *b, size_t n, int zero, kapsul_error *err,
                          kapsul_status *st) {
    *st = KAPSUL_OK;
    if (s->obj) return kpP2Http_write(s, b, n, zero != 0);
    while (n > 0) {
        uint32_t piece = n > MAX_IO ? MAX_IO : (uint32_t)n;
        uint8_t *m = scratch(p, SCRATCH_HDR + (size_t)piece);
        if (!m) return KP_WE_NOMEM;
        if (zero) memset(m + SCRATCH_HDR, 0, piece);
        else memcpy(m + SCRATCH_HDR, b, piece);
        kp_st32(m, SCRATCH_HDR), kp_st32(m + 4, piece);
        uint16_t e;
        if (s->file && s->append) {
            uint64_t args[2] = { s->fd, 32 };
            if ((e = p1(p, kpWasi_fdFilestatGet, err, st, 2, args)) != 0 || *st) return e;
            s->offset = kp_ld64(p->scratch + 32 + 32);
        }
        if (s->file) {
            uint64_t args[5] = { s->fd, 0, 1, s->offset, 16 };
            e = p1(p, kpWasi_fdPwrite, err, st, 5, args);
        } else {
            uint64_t args[4] = { s->fd, 0, 1, 16 };
            e = p1(p, kpWasi_fdWrite, err, st, 4, args);
        }
        if (e || *st) return e;
        uint32_t done = kp_ld32(p->scratch + 16);
        if (done == 0) return KP_WE_IO;
        s->offset += done;
        if (!zero) b += done;
        n -= done;
    }
    return 0;
}

HOST(kpP2_write) {
    P2;
    p2res *s = res_get(p, a[0].rep, R_OUT);
    if (!s) return trap(err, "%s", "wasi: not an output-stream");
    uint32_t n = a[1].agg.n;
    uint8_t *b = kpCArena_alloc(call->arena, n ? n : 1);
    if (!b) return nomem(err);
    for (uint32_t i = 0; i < n; i++) b[i] = (uint8_t)a[1].agg.v[i].u;
    if (s->sock) return kpP2Sock_write(p, call, s, b, n, &r[0], err);
    kapsul_status st;
    uint16_t e = write_all(p, s, b, n, 0, err, &st);
    if (st != KAPSUL_OK) return st;
    if (e) return stream_error(p, call, &r[0], e, err);
    r[0].var.disc = 0, r[0].var.payload = NULL;
    return KAPSUL_OK;
}

HOST(kpP2_writeZeroes) {
    P2;
    p2res *s = res_get(p, a[0].rep, R_OUT);
    if (!s) return trap(err, "%s", "wasi: not an output-stream");
    if (s->sock) {
        size_t n = a[1].u > MAX_IO ? MAX_IO : (size_t)a[1].u;
        uint8_t *z = kpCArena_alloc(call->arena, n ? n : 1);
        if (!z) return nomem(err);
        memset(z, 0, n);
        return kpP2Sock_write(p, call, s, z, n, &r[0], err);
    }
    kapsul_status st;
    uint16_t e = write_all(p, s, NULL, a[1].u > MAX_IO ? MAX_IO : (size_t)a[1].u, 1, err, &st);
    if (st != KAPSUL_OK) return st;
    if (e) return stream_error(p, call, &r[0], e, err);
    r[0].var.disc = 0, r[0].var.payload = NULL;
    return KAPSUL_OK;
}

/* splice: read up to len bytes from the input stream and write them all to the output stream;
 * ok(bytes moved), or the error of whichever side failed (closed at the input's end). Socket
 * streams take the same path through their own read and write. */
HOST(kpP2_splice) {
    P2;
    p2res *o = res_get(p, a[0].rep, R_OUT), *in = res_get(p, a[1].rep, R_IN);
    if (!o || !in) return trap(err, "%s", "wasi: splice: not an output-stream and an input-stream");
    if (in->sock || o->sock) return trap(err, "%s", "wasi: splice of a socket stream is not supported");
    uint64_t got = 0;
    kapsul_status st = do_read(p, call, in, a[2].u, &r[0], &got, err);
    if (st != KAPSUL_OK || r[0].var.disc != 0) return st;
    const kpCValue *bytes = r[0].var.payload;
    uint8_t *b = kpCArena_alloc(call->arena, got ? got : 1);
    if (!b) return nomem(err);
    for (uint64_t i = 0; i < got; i++) b[i] = (uint8_t)bytes->agg.v[i].u;
    uint16_t e = write_all(p, o, b, got, 0, err, &st);
    if (st != KAPSUL_OK) return st;
    if (e) return stream_error(p, call, &r[0], e, err);
    r[0].var.payload->u = got;
    return KAPSUL_OK;
}

HOST(kpP2_flush) {
    P2;
    if (!res_get(p, a[0].rep, R_OUT)) return trap(err, "%s", "wasi: not an output-stream");
    r[0].var.disc = 0, r[0].var.payload = NULL;
    return KAPSUL_OK;
}

/* ---- wasi:clocks, wasi:random ------------------------------------------------------------------ */

HOST(kpP2_monotonicNow) {
    P2;
    r[0].u = kpOs_monotonicNs();
    return KAPSUL_OK;
}

HOST(kpP2_monotonicResolution) {
    P2;
    uint64_t ns = 1;
    kpOs_clockRes(KP_OS_CLOCK_MONOTONIC, &ns);
    r[0].u = ns;
    return KAPSUL_OK;
}

HOST(kpP2_subscribeInstant) {
    P2;
    return new_pollable(p, a[0].u ? a[0].u : 1, &r[0], err);
}

HOST(kpP2_subscribeDuration) {
    P2;
    uint64_t now = kpOs_monotonicNs();
    return new_pollable(p, a[0].u > UINT64_MAX - now ? UINT64_MAX : now + a[0].u, &r[0], err);
}

static kapsul_status datetime(kpCHostCall *call, uint64_t ns, kpCValue *out, kapsul_error *err) {
    kpCValue *v = vals(call, 2);
    if (!v) return nomem(err);
    v[0].u = ns / 1000000000u, v[1].u = ns % 1000000000u;
    out->agg.v = v, out->agg.n = 2;
    return KAPSUL_OK;
}

HOST(kpP2_wallNow) {
    P2;
    uint64_t ns = 0;
    kpOs_clockNow(KP_OS_CLOCK_REALTIME, &ns);
    return datetime(call, ns, &r[0], err);
}

HOST(kpP2_wallResolution) {
    P2;
    uint64_t ns = 1;
    kpOs_clockRes(KP_OS_CLOCK_REALTIME, &ns);
    return datetime(call, ns, &r[0], err);
}

HOST(kpP2_randomBytes) {
    P2;
    if (a[0].u > MAX_IO) return trap(err, "%s", "wasi: get-random-bytes: more than 1 MiB asked for at once");
    size_t n = (size_t)a[0].u;
    uint8_t *b = kpCArena_alloc(call->arena, n ? n : 1);
    if (!b) return nomem(err);
    if (n && kpOs_random(b, n) != KP_OS_OK) return trap(err, "%s", "wasi: the host's random source failed");
    return bytes_value(call, b, n, &r[0]) ? KAPSUL_OK : nomem(err);
}

HOST(kpP2_randomU64) {
    P2;
    uint64_t v = 0;
    if (kpOs_random(&v, sizeof v) != KP_OS_OK)
        return trap(err, "%s", "wasi: the host's random source failed");
    r[0].u = v;
    return KAPSUL_OK;
}

HOST(kpP2_insecureSeed) {
    P2;
    uint64_t s[2] = { 0, 0 };
    if (kpOs_random(s, sizeof s) != KP_OS_OK) return trap(err, "%s", "wasi: the host's random source failed");
    kpCValue *v = vals(call, 2);
    if (!v) return nomem(err);
    v[0].u = s[0], v[1].u = s[1];
    r[0].agg.v = v, r[0].agg.n = 2;
    return KAPSUL_OK;
}

/* ---- wasi:filesystem --------------------------------------------------------------------------- */

HOST(kpP2_getDirectories) {
    P2;
    kapsul_wasi *w = p->w;
    uint32_t n = 0;
    for (uint32_t fd = 0; fd < w->nfds; fd++) n += w->fds[fd].preopen != NULL;
    kpCValue *v = vals(call, n);
    if (!v) return nomem(err);
    uint32_t k = 0;
    for (uint32_t fd = 0; fd < w->nfds && k < n; fd++) {
        if (!w->fds[fd].preopen) continue;
        kpCValue *t = vals(call, 2);
        uint32_t rep;
        if (!t || !string_value(call, w->fds[fd].preopen, strlen(w->fds[fd].preopen), &t[1]))
            return nomem(err);
        if (res_new(p, (p2res){ .kind = R_DESC, .fd = fd }, &rep) != 0) return nomem(err);
        t[0].rep = rep;
        v[k].agg.v = t, v[k++].agg.n = 2;
    }
    r[0].agg.v = v, r[0].agg.n = k;
    return KAPSUL_OK;
}

static p2res *desc(kpP2 *p, const kpCValue *a) { return res_get(p, a->rep, R_DESC); }

static kapsul_status via_stream(kpP2 *p, kpCHostCall *call, const kpCValue *a, uint8_t kind, uint64_t offset,
                                bool append, kpCValue *out, kapsul_error *err) {
    p2res *d = desc(p, a);
    if (!d) return trap(err, "%s", "wasi: not a descriptor");
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(p->w, d->fd, kind == R_IN ? KP_R_FD_READ : KP_R_FD_WRITE, &f);
    if (e) return fs_err(call, out, e, err);
    if (f->filetype == KP_FT_DIR) return fs_err(call, out, KP_WE_ISDIR, err);
    uint32_t rep;
    p2res s = { .kind = kind, .fd = d->fd, .file = true, .offset = offset, .append = append };
    if (res_new(p, s, &rep) != 0) return nomem(err);
    kpCValue *pl;
    kapsul_status st = put_result(call, out, 0, &pl, true, err);
    if (st == KAPSUL_OK) pl->rep = rep;
    return st;
}

HOST(kpP2_readViaStream) {
    P2;
    return via_stream(p, call, &a[0], R_IN, a[1].u, false, &r[0], err);
}
HOST(kpP2_writeViaStream) {
    P2;
    return via_stream(p, call, &a[0], R_OUT, a[1].u, false, &r[0], err);
}
HOST(kpP2_appendViaStream) {
    P2;
    return via_stream(p, call, &a[0], R_OUT, 0, true, &r[0], err);
}

HOST(kpP2_getFlags) {
    P2;
    p2res *d = desc(p, &a[0]);
    if (!d) return trap(err, "%s", "wasi: not a descriptor");
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(p->w, d->fd, 0, &f);
    if (e) return fs_err(call, &r[0], e, err);
    uint32_t fl = 0;
    if (f->filetype == KP_FT_DIR) fl |= 1u | (f->read_only ? 0 : 32u); /* read, mutate-directory */
    else fl |= ((f->base & KP_R_FD_READ) ? 1u : 0) | ((f->base & KP_R_FD_WRITE) ? 2u : 0);
    kpCValue *pl;
    kapsul_status st = put_result(call, &r[0], 0, &pl, true, err);
    if (st == KAPSUL_OK) pl->flags = fl;
    return st;
}

/* preview1 filetype -> wasi:filesystem descriptor-type. */
static uint32_t dtype(uint8_t ft) {
    switch (ft) {
    case KP_FT_BLOCK: return 1;
    case KP_FT_CHAR: return 2;
    case KP_FT_DIR: return 3;
    case KP_FT_SYMLINK: return 5;
    case KP_FT_FILE: return 6;
    case KP_FT_DGRAM:
    case KP_FT_STREAM: return 7;
    default: return 0;
    }
}

HOST(kpP2_getType) {
    P2;
    p2res *d = desc(p, &a[0]);
    if (!d) return trap(err, "%s", "wasi: not a descriptor");
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(p->w, d->fd, 0, &f);
    if (e) return fs_err(call, &r[0], e, err);
    kpCValue *pl;
    kapsul_status st = put_result(call, &r[0], 0, &pl, true, err);
    if (st == KAPSUL_OK) pl->var.disc = dtype(f->filetype);
    return st;
}

/* A descriptor-stat record from a preview1 filestat at scratch offset 32. */
static kapsul_status stat_value(kpP2 *p, kpCHostCall *call, kpCValue *out, kapsul_error *err) {
    const uint8_t *m = p->scratch + 32;
    kpCValue *v = vals(call, 6);
    if (!v) return nomem(err);
    v[0].var.disc = dtype(m[16]);
    v[1].u = kp_ld64(m + 24);
    v[2].u = kp_ld64(m + 32);
    for (int i = 0; i < 3; i++) {
        kpCValue *t = vals(call, 1);
        if (!t || datetime(call, kp_ld64(m + 40 + 8 * i), t, err) != KAPSUL_OK) return nomem(err);
        v[3 + i].var.disc = 1, v[3 + i].var.payload = t;
    }
    out->agg.v = v, out->agg.n = 6;
    return KAPSUL_OK;
}

/* Copy a path to the scratch memory at SCRATCH_HDR; false when out of memory. */
static bool put_path(kpP2 *p, const kpCValue *s) {
    uint8_t *m = scratch(p, SCRATCH_HDR + (size_t)s->str.len + 1);
    if (!m) return false;
    memcpy(m + SCRATCH_HDR, s->str.p, s->str.len);
    return true;
}

/* The filestat of descriptor a[0] (at: of path a[2] under it, following symlinks if a[1] says
 * so) into the scratch buffer at 32: trapped or failed (the status), or the WASI errno (0: the
 * filestat is there). stat, stat-at, metadata-hash and metadata-hash-at all start here. */
static uint16_t filestat(kpP2 *p, const kpCValue *a, bool at, kapsul_status *st, kapsul_error *err) {
    p2res *d = desc(p, &a[0]);
    *st = KAPSUL_OK;
    if (!d) return *st = trap(err, "%s", "wasi: not a descriptor"), 0;
    if (at ? !put_path(p, &a[2]) : !scratch(p, SCRATCH_HDR)) return *st = nomem(err), 0;
    uint64_t args[5] = { d->fd, 32 };
    if (at) args[1] = a[1].flags & 1u, args[2] = SCRATCH_HDR, args[3] = a[2].str.len, args[4] = 32;
    return at ? p1(p, kpWasi_pathFilestatGet, err, st, 5, args)
              : p1(p, kpWasi_fdFilestatGet, err, st, 2, args);
}

static kapsul_status stat_common(kpP2 *p, kpCHostCall *call, const kpCValue *a, kpCValue *r, bool at,
                                 kapsul_error *err) {
    kapsul_status st;
    uint16_t e = filestat(p, a, at, &st, err);
    if (st != KAPSUL_OK) return st;
    if (e) return fs_err(call, &r[0], e, err);
    kpCValue *pl;
    if ((st = put_result(call, &r[0], 0, &pl, true, err)) != KAPSUL_OK) return st;
    return stat_value(p, call, pl, err);
}

HOST(kpP2_stat) {
    P2;
    return stat_common(p, call, a, r, false, err);
}

HOST(kpP2_statAt) {
    P2;
    return stat_common(p, call, a, r, true, err);
}

/* open-at: path_open with rights from the descriptor flags (read: read rights; write or
 * mutate-directory: every right, which the directory's own rights and a read-only preopen cut). */
HOST(kpP2_openAt) {
    P2;
    p2res *d = desc(p, &a[0]);
    if (!d) return trap(err, "%s", "wasi: not a descriptor");
    if (!put_path(p, &a[2])) return nomem(err);
    uint32_t dflags = a[4].flags;
    uint64_t base = (dflags & (2u | 32u)) ? KP_R_ALL : (KP_R_ALL & ~KP_R_MUTATE);
    kapsul_status st;
    uint64_t args[9] = {
        d->fd, a[1].flags & 1u, SCRATCH_HDR, a[2].str.len, a[3].flags & 15u, base, KP_R_ALL, 0, 16
    };
    uint16_t e = p1(p, kpWasi_pathOpen, err, &st, 9, args);
    if (st != KAPSUL_OK) return st;
    if (e) return fs_err(call, &r[0], e, err);
    uint32_t fd = kp_ld32(p->scratch + 16), rep;
    if (res_new(p, (p2res){ .kind = R_DESC, .fd = fd }, &rep) != 0) {
        kpWasiFd_close(&p->w->fds[fd]);
        return nomem(err);
    }
    kpCValue *pl;
    if ((st = put_result(call, &r[0], 0, &pl, true, err)) != KAPSUL_OK) return st;
    pl->rep = rep;
    return KAPSUL_OK;
}

static kapsul_status path_op(kpP2 *p, kpCHostCall *call, const kpCValue *a, kpWasiHandler h, kpCValue *out,
                             kapsul_error *err) {
    p2res *d = desc(p, &a[0]);
    if (!d) return trap(err, "%s", "wasi: not a descriptor");
    if (!put_path(p, &a[1])) return nomem(err);
    kapsul_status st;
    uint64_t args[3] = { d->fd, SCRATCH_HDR, a[1].str.len };
    uint16_t e = p1(p, h, err, &st, 3, args);
    if (st != KAPSUL_OK) return st;
    if (e) return fs_err(call, out, e, err);
    out->var.disc = 0, out->var.payload = NULL;
    return KAPSUL_OK;
}

HOST(kpP2_createDirectoryAt) {
    P2;
    return path_op(p, call, a, kpWasi_pathCreateDirectory, &r[0], err);
}
HOST(kpP2_removeDirectoryAt) {
    P2;
    return path_op(p, call, a, kpWasi_pathRemoveDirectory, &r[0], err);
}
HOST(kpP2_unlinkFileAt) {
    P2;
    return path_op(p, call, a, kpWasi_pathUnlinkFile, &r[0], err);
}

HOST(kpP2_readDirectory) {
    P2;
    p2res *d = desc(p, &a[0]);
    if (!d) return trap(err, "%s", "wasi: not a descriptor");
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(p->w, d->fd, KP_R_FD_READDIR, &f);
    if (e) return fs_err(call, &r[0], e, err);
    uint32_t rep;
    if (res_new(p, (p2res){ .kind = R_DIR, .fd = d->fd }, &rep) != 0) return nomem(err);
    kpCValue *pl;
    kapsul_status st = put_result(call, &r[0], 0, &pl, true, err);
    if (st == KAPSUL_OK) pl->rep = rep;
    return st;
}

/* The next entry through fd_readdir at the stream's cookie, without "." and "..". */
HOST(kpP2_readDirectoryEntry) {
    P2;
    p2res *ds = res_get(p, a[0].rep, R_DIR);
    if (!ds) return trap(err, "%s", "wasi: not a directory-entry-stream");
    const uint32_t len = 4096;
    if (!scratch(p, SCRATCH_HDR + len)) return nomem(err);
    for (;;) {
        kapsul_status st;
        uint64_t args[5] = { ds->fd, SCRATCH_HDR, len, ds->offset, 16 };
        uint16_t e = p1(p, kpWasi_fdReaddir, err, &st, 5, args);
        if (st != KAPSUL_OK) return st;
        if (e) return fs_err(call, &r[0], e, err);
        uint32_t used = kp_ld32(p->scratch + 16);
        kpCValue *pl;
        if ((st = put_result(call, &r[0], 0, &pl, true, err)) != KAPSUL_OK) return st;
        if (used < 24) { /* the end */
            pl->var.disc = 0, pl->var.payload = NULL;
            return KAPSUL_OK;
        }
        const uint8_t *h = p->scratch + SCRATCH_HDR;
        uint32_t nlen = kp_ld32(h + 16);
        if (nlen > len - 24 || used < 24 + nlen) return fs_err(call, &r[0], KP_WE_NAMETOOLONG, err);
        ds->offset = kp_ld64(h);
        const char *name = (const char *)h + 24;
        if ((nlen == 1 && name[0] == '.') || (nlen == 2 && name[0] == '.' && name[1] == '.')) continue;
        kpCValue *rec = vals(call, 2), *some = vals(call, 1);
        if (!rec || !some || !string_value(call, name, nlen, &rec[1])) return nomem(err);
        rec[0].var.disc = dtype(h[20]);
        some->agg.v = rec, some->agg.n = 2;
        pl->var.disc = 1, pl->var.payload = some;
        return KAPSUL_OK;
    }
}

/* metadata-hash: the device and inode, which identify the file as the hash must. */
static kapsul_status hash_value(kpP2 *p, kpCHostCall *call, kpCValue *out, kapsul_error *err) {
    kpCValue *pl, *v = vals(call, 2);
    if (!v) return nomem(err);
    v[0].u = kp_ld64(p->scratch + 32 + 8), v[1].u = kp_ld64(p->scratch + 32);
    kapsul_status st = put_result(call, out, 0, &pl, true, err);
    if (st == KAPSUL_OK) pl->agg.v = v, pl->agg.n = 2;
    return st;
}

static kapsul_status hash_common(kpP2 *p, kpCHostCall *call, const kpCValue *a, kpCValue *r, bool at,
                                 kapsul_error *err) {
    kapsul_status st;
    uint16_t e = filestat(p, a, at, &st, err);
    if (st != KAPSUL_OK) return st;
    return e ? fs_err(call, &r[0], e, err) : hash_value(p, call, &r[0], err);
}

HOST(kpP2_metadataHash) {
    P2;
    return hash_common(p, call, a, r, false, err);
}

HOST(kpP2_metadataHashAt) {
    P2;
    return hash_common(p, call, a, r, true, err);
}

HOST(kpP2_sync) {
    P2;
    p2res *d = desc(p, &a[0]);
    if (!d) return trap(err, "%s", "wasi: not a descriptor");
    kapsul_status st;
    uint64_t args[1] = { d->fd };
    uint16_t e = p1(p, kpWasi_fdSync, err, &st, 1, args);
    if (st != KAPSUL_OK) return st;
    if (e) return fs_err(call, &r[0], e, err);
    r[0].var.disc = 0, r[0].var.payload = NULL;
    return KAPSUL_OK;
}

HOST(kpP2_filesystemErrorCode) {
    P2;
    p2res *e = res_get(p, a[0].rep, R_ERROR);
    if (!e) return trap(err, "%s", "wasi: not an error resource");
    kpCValue *pl;
    kapsul_status st = put_result(call, &r[0], 1, &pl, true, err);
    if (st == KAPSUL_OK) pl->var.disc = fs_code(e->errcode);
    return st;
}

/* ---- For the other files of the host (p2int.h) -------------------------------------------------- */

int kpP2_resNew(kpP2 *p, p2res r, uint32_t *rep) { return res_new(p, r, rep); }
p2res *kpP2_resGet(kpP2 *p, uint32_t rep, uint8_t kind) { return res_get(p, rep, kind); }
kapsul_status kpP2_trap(kapsul_error *err, const char *what) { return trap(err, "%s", what); }
kapsul_status kpP2_nomem(kapsul_error *err) { return nomem(err); }
kpCValue *kpP2_vals(kpCHostCall *call, size_t n) { return vals(call, n); }
kapsul_status kpP2_putResult(kpCHostCall *call, kpCValue *out, uint32_t disc, kpCValue **payload, bool has,
                             kapsul_error *err) {
    return put_result(call, out, disc, payload, has, err);
}
kapsul_status kpP2_streamError(kpP2 *p, kpCHostCall *call, kpCValue *out, uint16_t e, kapsul_error *err) {
    return stream_error(p, call, out, e, err);
}
kpCValue *kpP2_bytesValue(kpCHostCall *call, const uint8_t *b, size_t n, kpCValue *out) {
    return bytes_value(call, b, n, out);
}
void kpP2_setNet(kpP2 *p, const kpP2Net *net) { p->net = net; }
void kpP2_resDrop(kpP2 *p, uint32_t rep) { drop_entry(p, rep); }
bool kpP2_stringValue(kpCHostCall *call, const char *s, size_t n, kpCValue *out) {
    return string_value(call, s, n, out);
}
kapsul_status kpP2_newPollable(kpP2 *p, uint64_t deadline, kpCValue *out, kapsul_error *err) {
    return new_pollable(p, deadline, out, err);
}

/* ---- Resolution -------------------------------------------------------------------------------- */

typedef struct p2fn {
    const char *iface, *name, *shape;
    kpCHostFn fn;
} p2fn;

/* the handlers other files define (KP_P2_EXT rows) */
#define KP_P2_FN(iface, name, shape, fn)
#define KP_P2_EXT(iface, name, shape, fn) KP_P2_HOST(fn);
#include "wasip2/funcs.def"
#undef KP_P2_FN
#undef KP_P2_EXT

static const p2fn fns[] = {
#define KP_P2_FN(iface, name, shape, fn) { iface, name, shape, fn },
#define KP_P2_EXT KP_P2_FN
#include "wasip2/funcs.def"
#undef KP_P2_FN
#undef KP_P2_EXT
};

kapsul_status kpP2_resolve(void *env, kpCInstance *ci, const char *name, uint32_t len, kpCInst **out,
                           kapsul_error *err) {
    kpP2 *p = env;
    kpCName n;
    if (!kpCName_parse(name, len, &n) || !n.has_version || n.major != 0 || n.minor != 2 || n.suffix_len)
        return KAPSUL_ERR_NOT_FOUND;
    /* interfaces with resource types only, besides those of funcs.def */
    static const char *const plain[] = { "wasi:cli/terminal-input", "wasi:cli/terminal-output" };
    bool any = false;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0] && !any; i++)
        any = strlen(fns[i].iface) == n.iface_len && memcmp(fns[i].iface, n.iface, n.iface_len) == 0;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0] && !any; i++)
        any = strlen(plain[i]) == n.iface_len && memcmp(plain[i], n.iface, n.iface_len) == 0;
    if (!any) return KAPSUL_ERR_NOT_FOUND;
    kapsul_status st;
    if (p->ci && p->ci != ci) /* its resources and types belong to the instance it served first */
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "a WASI 0.2 host serves one component instance");
    if (!p->ci) {
        p->ci = ci;
        for (size_t i = 0; i < NRES; i++)
            if ((st = kpCHost_resource(ci, resource_names[i], res_drop, p, &p->types[i], err)) != KAPSUL_OK)
                return st;
    }
    const char *iname = NULL; /* a static copy of the interface's name, for messages */
    for (size_t i = 0; i < sizeof fns / sizeof fns[0] && !iname; i++)
        if (strlen(fns[i].iface) == n.iface_len && memcmp(fns[i].iface, n.iface, n.iface_len) == 0)
            iname = fns[i].iface;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0] && !iname; i++)
        if (strlen(plain[i]) == n.iface_len && memcmp(plain[i], n.iface, n.iface_len) == 0) iname = plain[i];
    kpCInst *hi;
    if ((st = kpCHost_instance(ci, iname, &hi, err)) != KAPSUL_OK) return st;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (strlen(fns[i].iface) == n.iface_len && memcmp(fns[i].iface, n.iface, n.iface_len) == 0 &&
            (st = kpCHost_func(hi, fns[i].name, fns[i].shape, fns[i].fn, p, err)) != KAPSUL_OK)
            return st;
    for (size_t i = 0; i < NRES; i++)
        if ((st = kpCHost_type(hi, resource_names[i], p->types[i], err)) != KAPSUL_OK) return st;
    /* wasi:http/types: `use wasi:io/error.{error as io-error}` */
    if ((st = kpCHost_type(hi, "io-error", p->types[3], err)) != KAPSUL_OK) return st;
    *out = hi;
    return KAPSUL_OK;
}
