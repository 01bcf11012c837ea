/*
 * clock.c -- clock_res_get and clock_time_get on the host's clocks, in nanoseconds.
 */
#include "wasi/wasi.h"

/* WASI clock ids 0-3 are kpOs_clock's four, in order; anything else is EINVAL. */
uint16_t kpWasi_clockResGet(kpWasiCall *c) {
    uint32_t id = kpWasi_u32(c, 0);
    uint64_t ns;
    if (id > KP_OS_CLOCK_THREAD || kpOs_clockRes((kpOs_clock)id, &ns) != KP_OS_OK) return KP_WE_INVAL;
    if (ns == 0) ns = 1;
    return kpWasi_put64(c, kpWasi_u32(c, 1), ns) ? KP_WE_SUCCESS : KP_WE_FAULT;
}

uint16_t kpWasi_clockTimeGet(kpWasiCall *c) {
    uint32_t id = kpWasi_u32(c, 0);
    uint64_t ns;
    if (id > KP_OS_CLOCK_THREAD || kpOs_clockNow((kpOs_clock)id, &ns) != KP_OS_OK) return KP_WE_INVAL;
    return kpWasi_put64(c, kpWasi_u32(c, 2), ns) ? KP_WE_SUCCESS : KP_WE_FAULT;
}
