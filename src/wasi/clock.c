/*
 * clock.c -- clock_res_get and clock_time_get on the host's POSIX clocks, in nanoseconds.
 */
#include <time.h>

#include "wasi/wasi.h"

/* WASI clock ids 0-3 map one to one onto the POSIX clocks; anything else is EINVAL. */
static bool host_clock(uint32_t id, clockid_t *out) {
    static const clockid_t ids[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                     CLOCK_THREAD_CPUTIME_ID };
    if (id >= 4)
        return false;
    *out = ids[id];
    return true;
}

uint16_t kpWasi_clockResGet(kpWasiCall *c) {
    clockid_t id;
    struct timespec ts;
    if (!host_clock(kpWasi_u32(c, 0), &id))
        return KP_WE_INVAL;
    if (clock_getres(id, &ts) != 0)
        return KP_WE_INVAL;
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (ns == 0)
        ns = 1;
    return kpWasi_put64(c, kpWasi_u32(c, 1), ns) ? KP_WE_SUCCESS : KP_WE_FAULT;
}

uint16_t kpWasi_clockTimeGet(kpWasiCall *c) {
    clockid_t id;
    struct timespec ts;
    if (!host_clock(kpWasi_u32(c, 0), &id))
        return KP_WE_INVAL;
    if (clock_gettime(id, &ts) != 0)
        return KP_WE_INVAL;
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return kpWasi_put64(c, kpWasi_u32(c, 2), ns) ? KP_WE_SUCCESS : KP_WE_FAULT;
}
