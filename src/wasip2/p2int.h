/*
 * p2int.h -- what the files of the WASI 0.2 host share (internal to src/wasip2): the host
 * resource table of p2.c and the hooks through which p2.c's streams and pollables reach the
 * sockets of sockets.c and the in-memory bodies of http.c.
 *
 * Every host resource (stream, error, pollable, descriptor, socket, ...) is one p2res in the
 * kpP2's table; its index is the rep the guest's handle stands for, and `kind` says which
 * resource type it is, so a handle of another type (a guest lying about a borrow) is caught by
 * kpP2_resGet. Resources that use a preview1 fd (descriptors, file streams, and every socket
 * resource: sockets are preview1 fds of the same context too) count as its users; the last one
 * dropped closes it.
 */
#ifndef KP_WASIP2_P2INT_H
#define KP_WASIP2_P2INT_H

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
    /* wasi:sockets (sockets.c) */
    R_NET,     /* network: no state of its own */
    R_TCP,     /* tcp-socket */
    R_UDP,     /* udp-socket */
    R_DGIN,    /* incoming-datagram-stream */
    R_DGOUT,   /* outgoing-datagram-stream */
    R_RESOLVE, /* resolve-address-stream */
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

struct kpP2Sock; /* a socket's state, or a resolve stream's addresses (sockets.c) */

typedef struct p2res {
    uint8_t kind;
    bool file;           /* R_IN/R_OUT: a file at offset (else the fd's own position: stdio) */
    bool append;         /* R_OUT on a file: always at the end */
    bool sock;           /* R_IN/R_OUT/R_POLL and socket kinds: fd is a socket (see sockets.c) */
    uint8_t events;      /* R_POLL on a socket: ready for these KP_OS_POLL_* (0: always ready) */
    uint16_t errcode;    /* R_ERROR: the preview1 errno */
    uint32_t fd;         /* R_IN, R_OUT, R_DESC, sockets: the preview1 fd */
    uint64_t offset;     /* R_IN/R_OUT on a file */
    uint64_t deadline;   /* R_POLL: ready at this monotonic time (0: ready) */
    uint32_t next;       /* free list */
    struct kpP2Sock *sk; /* socket kinds: owned, freed with the resource */
    bool ro;             /* R_FIELDS: immutable (a request's or a response's headers) */
    bool taken;          /* R_FUTTRAIL, R_FUTRESP: get() returned the value */
    void *obj;           /* wasi:http kinds, and R_IN/R_OUT over a body (then no fd): one reference */
} p2res;

struct kpP2 {
    kapsul_wasi *w;
    KP_VEC(p2res) res;
    uint32_t free_head;    /* index + 1 */
    KP_VEC(uint32_t) refs; /* per preview1 fd: descriptors and streams that use it */
    uint8_t *scratch;
    size_t scratch_cap;
    kpCInstance *ci; /* the instance the resource types below belong to */
    kpCRes *types[32];
    const kpP2Net *net;    /* wasi:sockets grants (NULL: none) */
    struct kpP2Http *http; /* http.c's state; NULL until a wasi:http call needs it */
};

/* A host function defined outside p2.c (funcs.def lists it with KP_P2_EXT). */
#define KP_P2_HOST(name) \
    kapsul_status name(void *env, kpCHostCall *call, const kpCValue *a, kpCValue *r, kapsul_error *err)

/* p2.c: the resource table and the values every host function builds. */
int kpP2_resNew(kpP2 *p, p2res r, uint32_t *rep);        /* -1: out of memory */
p2res *kpP2_resGet(kpP2 *p, uint32_t rep, uint8_t kind); /* NULL: not of that kind */
kapsul_status kpP2_trap(kapsul_error *err, const char *what);
kapsul_status kpP2_nomem(kapsul_error *err);
kpCValue *kpP2_vals(kpCHostCall *call, size_t n);
/* result<T, E>: case disc, *payload the payload slot when has (else NULL). */
kapsul_status kpP2_putResult(kpCHostCall *call, kpCValue *out, uint32_t disc, kpCValue **payload, bool has,
                             kapsul_error *err);
/* A stream-error: closed (e 0 or PIPE) or last-operation-failed with an error of errno e. */
kapsul_status kpP2_streamError(kpP2 *p, kpCHostCall *call, kpCValue *out, uint16_t e, kapsul_error *err);
kpCValue *kpP2_bytesValue(kpCHostCall *call, const uint8_t *b, size_t n, kpCValue *out);
/* Wait until the OS fd is ready for events or monotonic time `until` (0: no limit) passes,
 * whichever is first, never past the context's deadline (then a timeout trap). */
kapsul_status kpP2_waitFd(kpP2 *p, int osfd, unsigned events, uint64_t until, kapsul_error *err);

/* Free entry rep as a guest's drop does (also for an own handle the host took from the guest). */
void kpP2_resDrop(kpP2 *p, uint32_t rep);
bool kpP2_stringValue(kpCHostCall *call, const char *s, size_t n, kpCValue *out);
kapsul_status kpP2_newPollable(kpP2 *p, uint64_t deadline, kpCValue *out, kapsul_error *err);

/* http.c: an entry's object when the entry goes; in-memory body streams (R_IN/R_OUT with obj). */
void kpP2Http_release(kpP2 *p, p2res *r);
void kpP2Http_free(kpP2 *p);
/* Read up to want bytes of a body stream: *got bytes at *data, 0 at the end. */
void kpP2Http_read(p2res *s, size_t want, const uint8_t **data, size_t *got);
/* Append to a body stream: 0, or a preview1 errno (KP_WE_FBIG past a limit, KP_WE_PIPE when the
 * body is finished, KP_WE_NOMEM). */
uint16_t kpP2Http_write(p2res *s, const uint8_t *b, size_t n, bool zero);

/* sockets.c: the socket side of wasi:io's streams (R_IN/R_OUT with sock set). */
kapsul_status kpP2Sock_read(kpP2 *p, kpCHostCall *call, p2res *s, uint64_t len, bool blocking, bool skip,
                            kpCValue *out, kapsul_error *err);
kapsul_status kpP2Sock_checkWrite(kpP2 *p, kpCHostCall *call, p2res *s, kpCValue *out, kapsul_error *err);
kapsul_status kpP2Sock_write(kpP2 *p, kpCHostCall *call, p2res *s, const uint8_t *b, size_t n, kpCValue *out,
                             kapsul_error *err);
void kpP2Sock_free(struct kpP2Sock *sk);

/* sockets_grant.c: whether the grants allow `what` for address a (port included); whether any
 * TCP (udp false) or UDP grant exists, which creating such a socket needs. */
bool kpP2Net_allows(const kpP2Net *n, kpP2Allow what, const kpOs_addr *a);
bool kpP2Net_any(const kpP2Net *n, bool udp);
/* How grants resolve host names (default kpOs_resolve; the fuzz target passes a stub). */
typedef kpOs_err (*kpP2Resolver)(const char *name, kpOs_addr *out, size_t cap, size_t *n);
void kpP2Net_setResolver(kpP2Net *n, kpP2Resolver fn);

#endif /* KP_WASIP2_P2INT_H */
