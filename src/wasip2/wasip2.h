/*
 * wasip2.h -- the WASI 0.2 host: wasi:cli, wasi:io, wasi:clocks, wasi:random and wasi:filesystem
 * as host instances for component imports (src/cinstance), on top of a preview1 context.
 *
 * One sandbox: a kpP2 wraps a kapsul_wasi (kapsul_wasi_new: arguments, environment, stdio, the
 * --dir preopens with their rights and read-only flags, the deadline) and performs every file
 * operation through src/wasi's own handlers (path_open, fd_pread, fd_filestat_get, ...) on a
 * scratch memory of its own, so paths are resolved, rights checked and read-only preopens
 * refused exactly as for a preview1 guest. Descriptors are preview1 fds of that context; streams,
 * errors and pollables live in a small table of host resources whose index is the resource's rep.
 *
 * Every 0.2.x version of an interface resolves to the same implementation (funcs.def lists each
 * function with its shape; a guest whose declaration has another shape is refused at
 * instantiation).
 */
#ifndef KP_WASIP2_H
#define KP_WASIP2_H

#include "cinstance/cinstance.h"

typedef struct kpP2 kpP2;

/* A host over wasi (which must outlive it; its fds 0-2 are stdin/stdout/stderr, its preopens the
 * filesystem's directories). */
kapsul_status kpP2_new(kapsul_wasi *wasi, kpP2 **out, kapsul_error *err);
void kpP2_free(kpP2 *p);

/* A kpCResolveFn (env: the kpP2): `wasi:IFACE@0.2.x` for every interface of funcs.def;
 * KAPSUL_ERR_NOT_FOUND for another name or version. A kpP2 serves the one kpCInstance it first
 * resolved for (KAPSUL_ERR_ARG for another): make one per instance, and free it with it. */
kapsul_status kpP2_resolve(void *env, kpCInstance *ci, const char *name, uint32_t len, kpCInst **out,
                           kapsul_error *err);

#endif /* KP_WASIP2_H */
