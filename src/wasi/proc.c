/*
 * proc.c -- proc_exit, proc_raise, sched_yield and random_get.
 */
#include "wasi/wasi.h"

/* proc_exit does not return to the guest: the runtime unwinds it and the call that entered wasm
 * returns KAPSUL_ERR_EXIT with the code, which `kapsul run` turns into its exit status. */
uint16_t kpWasi_procExit(kpWasiCall *c) {
    uint32_t code = kpWasi_u32(c, 0);
    c->status = kpError_set(c->err, KAPSUL_ERR_EXIT, 0, "guest exited with code %u", code);
    if (c->err) c->err->exit_code = (int)(code > 255 ? 255 : code);
    return KP_WE_SUCCESS;
}

/* Raising a signal in the host process would let a guest kill or stop its host; WASI has dropped
 * the call since, and wasmtime answers ENOSYS too. */
uint16_t kpWasi_procRaise(kpWasiCall *c) {
    (void)c;
    return KP_WE_NOSYS;
}

uint16_t kpWasi_schedYield(kpWasiCall *c) {
    (void)c;
    kpOs_yield();
    return KP_WE_SUCCESS;
}

/* random_get fills the guest buffer from the host's CSPRNG. */
uint16_t kpWasi_randomGet(kpWasiCall *c) {
    uint32_t len = kpWasi_u32(c, 1);
    uint8_t *p = kpWasi_mem(c, kpWasi_u32(c, 0), len);
    if (!p) return KP_WE_FAULT;
    return kpOs_random(p, len) == KP_OS_OK ? KP_WE_SUCCESS : KP_WE_IO;
}
