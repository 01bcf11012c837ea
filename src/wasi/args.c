/*
 * args.c -- args_* and environ_*: the argument and environment strings the embedder granted,
 * laid out the way C's argv/environ are (a pointer array plus one buffer of NUL-terminated
 * strings), written only after both guest ranges are checked.
 */
#include "wasi/wasi.h"

/* Shared by args_get and environ_get: write n pointers at ptrs and the strings at buf. */
static uint16_t put_strings(kpWasiCall *c, char **v, size_t n, size_t bytes) {
    uint32_t ptrs = kpWasi_u32(c, 0), buf = kpWasi_u32(c, 1);
    uint8_t *pp = kpWasi_mem(c, ptrs, (uint64_t)n * 4);
    uint8_t *bp = kpWasi_mem(c, buf, bytes);
    if (!pp || !bp) return KP_WE_FAULT;
    uint32_t at = buf;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(v[i]) + 1;
        kp_st32(pp + 4 * i, at);
        memcpy(c->mem + at, v[i], len);
        at += (uint32_t)len;
    }
    return KP_WE_SUCCESS;
}

static uint16_t put_sizes(kpWasiCall *c, size_t n, size_t bytes) {
    if (n > UINT32_MAX || bytes > UINT32_MAX) return KP_WE_OVERFLOW;
    if (!kpWasi_mem(c, kpWasi_u32(c, 0), 4) || !kpWasi_mem(c, kpWasi_u32(c, 1), 4)) return KP_WE_FAULT;
    kpWasi_put32(c, kpWasi_u32(c, 0), (uint32_t)n);
    kpWasi_put32(c, kpWasi_u32(c, 1), (uint32_t)bytes);
    return KP_WE_SUCCESS;
}

uint16_t kpWasi_argsGet(kpWasiCall *c) { return put_strings(c, c->w->argv, c->w->argc, c->w->argv_bytes); }

uint16_t kpWasi_argsSizesGet(kpWasiCall *c) { return put_sizes(c, c->w->argc, c->w->argv_bytes); }

uint16_t kpWasi_environGet(kpWasiCall *c) { return put_strings(c, c->w->env, c->w->envc, c->w->env_bytes); }

uint16_t kpWasi_environSizesGet(kpWasiCall *c) { return put_sizes(c, c->w->envc, c->w->env_bytes); }
