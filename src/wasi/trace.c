/*
 * trace.c -- `kapsul run --trace-wasi`: one strace-style line per WASI call,
 *
 *   fd_write(1, [iov 0x11040 13], 1, 0x1ffdc) = 0 (*0x1ffdc=13)
 *   path_open(3, 0x1, "data/in.txt", 0x0, 0x2, 0x0, 0x0, 0x1ffcc) = ENOENT
 *
 * made from the trace column of funcs.def, so no handler knows about tracing. Guest memory is
 * read through the same bounds checks the handlers use; a range outside memory prints as its
 * address. Only called when the context has a trace callback.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wasi/wasi.h"

/* WASI preview1's errno names, by value (the spec's order). */
static const char *const errno_names[] = {
    "SUCCESS",     "2BIG",           "ACCES",       "ADDRINUSE",   "ADDRNOTAVAIL",
    "AFNOSUPPORT", "AGAIN",          "ALREADY",     "BADF",        "BADMSG",
    "BUSY",        "CANCELED",       "CHILD",       "CONNABORTED", "CONNREFUSED",
    "CONNRESET",   "DEADLK",         "DESTADDRREQ", "DOM",         "DQUOT",
    "EXIST",       "FAULT",          "FBIG",        "HOSTUNREACH", "IDRM",
    "ILSEQ",       "INPROGRESS",     "INTR",        "INVAL",       "IO",
    "ISCONN",      "ISDIR",          "LOOP",        "MFILE",       "MLINK",
    "MSGSIZE",     "MULTIHOP",       "NAMETOOLONG", "NETDOWN",     "NETRESET",
    "NETUNREACH",  "NFILE",          "NOBUFS",      "NODEV",       "NOENT",
    "NOEXEC",      "NOLCK",          "NOLINK",      "NOMEM",       "NOMSG",
    "NOPROTOOPT",  "NOSPC",          "NOSYS",       "NOTCONN",     "NOTDIR",
    "NOTEMPTY",    "NOTRECOVERABLE", "NOTSOCK",     "NOTSUP",      "NOTTY",
    "NXIO",        "OVERFLOW",       "OWNERDEAD",   "PERM",        "PIPE",
    "PROTO",       "PROTONOSUPPORT", "PROTOTYPE",   "RANGE",       "ROFS",
    "SPIPE",       "SRCH",           "STALE",       "TIMEDOUT",    "TXTBSY",
    "XDEV",        "NOTCAPABLE",
};

typedef struct line {
    char b[1024];
    size_t n;
} line;

static void add(line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(line *l, const char *fmt, ...) {
    if (l->n >= sizeof l->b) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->b + l->n, sizeof l->b - l->n, fmt, ap);
    va_end(ap);
    if (k > 0) l->n += (size_t)k < sizeof l->b - l->n ? (size_t)k : sizeof l->b - l->n - 1;
}

static uint64_t arg(const kpWasiCall *c, const char *params, size_t i) {
    return params[i] == 'I' ? (uint64_t)c->a[i].of.i64 : (uint64_t)(uint32_t)c->a[i].of.i32;
}

static bool in_mem(const kpWasiCall *c, uint64_t ptr, uint64_t len) {
    return c->mem && ptr <= c->memlen && len <= c->memlen - ptr;
}

/* A guest string, quoted and escaped, cut at 80 bytes. */
static void add_string(line *l, const kpWasiCall *c, uint64_t ptr, uint64_t len) {
    if (!in_mem(c, ptr, len)) {
        add(l, "0x%llx", (unsigned long long)ptr);
        return;
    }
    add(l, "\"");
    for (uint64_t i = 0; i < len && i < 80; i++) {
        uint8_t ch = c->mem[ptr + i];
        if (ch == '"' || ch == '\\') add(l, "\\%c", ch);
        else if (ch >= 0x20 && ch < 0x7f) add(l, "%c", ch);
        else add(l, "\\x%02x", ch);
    }
    add(l, len > 80 ? "\"..." : "\"");
}

/* An iovec array: [iov BASE LEN, ...] (at most 4 shown). */
static void add_iovs(line *l, const kpWasiCall *c, uint64_t ptr, uint64_t n) {
    if (!in_mem(c, ptr, n * 8)) {
        add(l, "0x%llx", (unsigned long long)ptr);
        return;
    }
    add(l, "[");
    for (uint64_t i = 0; i < n && i < 4; i++) {
        uint32_t base, len;
        memcpy(&base, c->mem + ptr + 8 * i, 4);
        memcpy(&len, c->mem + ptr + 8 * i + 4, 4);
        add(l, "%siov 0x%x %u", i ? ", " : "", base, len);
    }
    add(l, n > 4 ? ", ...]" : "]");
}

void kpWasi_traceArgs(const kpWasiCall *c, const char *name, const char *params, const char *fmt, char *buf,
                      size_t cap) {
    line l = { .n = 0 };
    add(&l, "%s(", name);
    size_t np = strlen(params);
    for (size_t i = 0; i < np; i++) {
        uint64_t v = arg(c, params, i);
        char f = fmt[i];
        if (f == 'l' || f == 'n') {
            if (f == 'n') add(&l, ", %llu", (unsigned long long)v);
            continue;
        }
        if (i) add(&l, ", ");
        if (f == 's' && i + 1 < np) add_string(&l, c, v, arg(c, params, i + 1));
        else if (f == 'v' && i + 1 < np) add_iovs(&l, c, v, arg(c, params, i + 1));
        else if (f == 'x' || f == 'p' || f == 'u' || f == 'U') add(&l, "0x%llx", (unsigned long long)v);
        else if (params[i] == 'I') add(&l, "%lld", (long long)v);
        else add(&l, "%lld", (long long)(int32_t)(uint32_t)v);
    }
    add(&l, ")");
    snprintf(buf, cap, "%s", l.b);
}

void kpWasi_traceResult(const kpWasiCall *c, const char *params, const char *fmt, uint16_t e, char *buf,
                        size_t cap) {
    line l = { .n = 0 };
    add(&l, "%s", buf);
    if (c->status != KAPSUL_OK) {
        add(&l, " = ? (%s)", c->status == KAPSUL_ERR_EXIT ? "exit" : "trap");
    } else if (e == KP_WE_SUCCESS) {
        add(&l, " = 0");
        const char *sep = " (";
        for (size_t i = 0; fmt[i] && params[i]; i++) {
            uint64_t p = arg(c, params, i);
            size_t w = fmt[i] == 'u' ? 4 : fmt[i] == 'U' ? 8 : 0;
            if (!w || !in_mem(c, p, w)) continue;
            uint64_t v = 0;
            memcpy(&v, c->mem + p, w);
            add(&l, "%s*0x%llx=%llu", sep, (unsigned long long)p, (unsigned long long)v);
            sep = ", ";
        }
        if (sep[0] == ',') add(&l, ")");
    } else {
        add(&l, " = E%s", e < sizeof errno_names / sizeof *errno_names ? errno_names[e] : "?");
    }
    snprintf(buf, cap, "%s", l.b);
}
