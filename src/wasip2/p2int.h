/*
 * p2int.h -- what the files of the WASI 0.2 host share (p2.c: cli, io, clocks, random,
 * filesystem and resolution; http.c: wasi:http): the table of host resources and the helpers
 * that build result values. Not an interface for any other directory.
 *
 * Every resource a guest holds is one p2res entry whose index is its rep; a function that takes
 * a handle checks the kind of the entry (kpP2_resGet), so a guest can never make the host read
 * one kind of resource as another. An entry's obj points to the host object behind it (a wasi:http
 * object, or the body of an in-memory stream), holding one reference that the entry's drop gives
 * back.
 */
#ifndef KP_WASIP2_INT_H
#define KP_WASIP2_INT_H

#include "wasi/wasi.h"
#include "wasip2/wasip2.h"

enum {
    R_FREE,
    R_IN,
    R_OUT,
    R_DESC,
    R_ERROR,
    R_POLL,
    R_DIR,
    /* wasi:http (http.c) */
    R_FIELDS,
    R_INREQ,
    R_OUTREQ,
    R_REQOPT,
    R_OUTPARAM,
    R_INRESP,
    R_INBODY,
    R_FUTTRAIL,
    R_OUTRESP,
    R_OUTBODY,
    R_FUTRESP
};

#define KP_P2_NRES 19 /* resource type names (p2.c resource_names) */

typedef struct p2res {
    uint8_t kind;
    bool file;         /* R_IN/R_OUT: a file at offset (else the fd's own position: stdio) */
    bool append;       /* R_OUT on a file: always at the end */
    bool ro;           /* R_FIELDS: immutable (a request's or a response's headers) */
    bool taken;        /* R_FUTTRAIL, R_FUTRESP: get() returned the value */
    uint16_t errcode;  /* R_ERROR: the preview1 errno */
    uint32_t fd;       /* R_IN, R_OUT, R_DESC: the preview1 fd */
    uint64_t offset;   /* R_IN/R_OUT on a file */
    uint64_t deadline; /* R_POLL: ready at this monotonic time (0: ready) */
    uint32_t next;     /* free list */
    void *obj;         /* the wasi:http kinds; R_IN/R_OUT of a body (then no fd) */
} p2res;

#define SCRATCH_HDR 256u
#define MAX_IO (1u << 20) /* bytes one read or one write piece moves */

struct kpP2 {
    kapsul_wasi *w;
    KP_VEC(p2res) res;
    uint32_t free_head;    /* index + 1 */
    KP_VEC(uint32_t) refs; /* per preview1 fd: descriptors and streams that use it */
    uint8_t *scratch;
    size_t scratch_cap;
    kpCInstance *ci; /* the instance the resource types below belong to */
    kpCRes *types[KP_P2_NRES];
    struct kpP2Http *http; /* http.c's state; NULL until a wasi:http call needs it */
};

/* A new entry (a copy of r) whose index is *rep; -1 when out of memory (or 2^24 entries). */
int kpP2_resNew(kpP2 *p, p2res r, uint32_t *rep);
/* The entry rep when it is of that kind, else NULL. */
p2res *kpP2_resGet(kpP2 *p, uint32_t rep, uint8_t kind);
/* Free entry rep as a guest's drop does (also for an own handle the host took from the guest). */
void kpP2_resDrop(kpP2 *p, uint32_t rep);

kapsul_status kpP2_trap(kapsul_error *err, const char *fmt, const char *what);
kapsul_status kpP2_nomem(kapsul_error *err);
kpCValue *kpP2_vals(kpCHostCall *call, size_t n);
/* result<T, E>: case 0 ok with payload, 1 err; *payload NULL when !has. */
kapsul_status kpP2_putResult(kpCHostCall *call, kpCValue *out, uint32_t disc, kpCValue **payload, bool has,
                             kapsul_error *err);
kpCValue *kpP2_bytesValue(kpCHostCall *call, const uint8_t *b, size_t n, kpCValue *out);
bool kpP2_stringValue(kpCHostCall *call, const char *s, size_t n, kpCValue *out);
kapsul_status kpP2_newPollable(kpP2 *p, uint64_t deadline, kpCValue *out, kapsul_error *err);

/* http.c: the object of an entry whose guest handle was dropped; in-memory stream I/O. */
void kpP2Http_release(kpP2 *p, p2res *r);
void kpP2Http_free(kpP2 *p);
/* Read up to want bytes of a body stream (s->obj): *got bytes at *data, 0 at the end. */
void kpP2Http_read(p2res *s, size_t want, const uint8_t **data, size_t *got);
/* Append to a body stream: 0, or a preview1 errno (KP_WE_FBIG past the limit, KP_WE_PIPE when
 * the body is finished, KP_WE_NOMEM). */
uint16_t kpP2Http_write(p2res *s, const uint8_t *b, size_t n, bool zero);

/* Handlers of funcs.def defined outside p2.c (KP_P2_FN_EXT rows). */
#define KP_P2_FN(iface, name, shape, fn)
#define KP_P2_FN_EXT(iface, name, shape, fn) \
    kapsul_status fn(void *env, kpCHostCall *call, const kpCValue *a, kpCValue *r, kapsul_error *err);
#include "wasip2/funcs.def"
#undef KP_P2_FN
#undef KP_P2_FN_EXT

#endif /* KP_WASIP2_INT_H */
