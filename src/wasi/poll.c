/*
 * poll.c -- poll_oneoff: wait until one of a set of clock deadlines passes or one of a set of
 * fds becomes readable/writable, with one kpOs_poll. Subscriptions on bad fds or without the
 * POLL_FD_READWRITE right complete at once with their error, as the spec asks.
 *
 * subscription (48 bytes): userdata u64 @0, tag u8 @8, then clock {id u32 @16, timeout u64 @24,
 *   precision u64 @32, flags u16 @40} or fd_readwrite {fd u32 @16}.
 * event (32 bytes): userdata u64 @0, error u16 @8, type u8 @10, nbytes u64 @16, flags u16 @24.
 */
#include "wasi/wasi.h"

enum {
    KP_EV_CLOCK = 0,
    KP_EV_READ = 1,
    KP_EV_WRITE = 2
};

/* The clock's time now; 0 if the host cannot read it (clock ids are checked before). */
static uint64_t now_ns(kpOs_clock id) {
    uint64_t ns = 0;
    kpOs_clockNow(id, &ns);
    return ns;
}

static void put_event(uint8_t *ev, const uint8_t *sub, uint16_t error, uint8_t type, uint64_t nbytes,
                      uint16_t flags) {
    memset(ev, 0, 32);
    memcpy(ev, sub, 8);
    kp_st16(ev + 8, error);
    ev[10] = type;
    kp_st64(ev + 16, nbytes);
    kp_st16(ev + 24, flags);
}

/* Relative wait in ns for a clock subscription; UINT64_MAX on a bad clock id. */
static uint64_t clock_wait(const uint8_t *sub) {
    uint32_t id = kp_ld32(sub + 16);
    uint64_t t = kp_ld64(sub + 24);
    if (id > 3) return UINT64_MAX;
    if (!(kp_ld16(sub + 40) & 1)) return t;
    uint64_t now = now_ns((kpOs_clock)id);
    return t > now ? t - now : 0;
}

void kpWasi_timeout(kpWasiCall *c) {
    c->status = kpError_set(c->err, KAPSUL_ERR_TRAP, 0, "deadline exceeded in a WASI call");
    if (c->err) c->err->trap = KAPSUL_TRAP_TIMEOUT;
}

bool kpWasi_waitReady(kpWasiCall *c, kpOs_fd host, unsigned events) {
    kpOs_stat st;
    if (!c->w->deadline || (kpOs_fstat(host, &st) == KP_OS_OK && st.type == KP_OS_FT_FILE)) return true;
    for (;;) {
        uint64_t now = now_ns(KP_OS_CLOCK_MONOTONIC);
        if (now >= c->w->deadline) {
            kpWasi_timeout(c);
            return false;
        }
        kpOs_pollfd p = { .fd = host, .events = events };
        int ready;
        kpOs_err oe = kpOs_poll(&p, 1, c->w->deadline - now, &ready);
        if (ready > 0 || (oe != KP_OS_OK && oe != KP_OS_EINTR))
            return true; /* ready, or an error the real call will report */
    }
}

uint16_t kpWasi_pollOneoff(kpWasiCall *c) {
    uint32_t nsubs = kpWasi_u32(c, 2);
    const uint8_t *subs = kpWasi_mem(c, kpWasi_u32(c, 0), (uint64_t)nsubs * 48);
    uint8_t *evs = kpWasi_mem(c, kpWasi_u32(c, 1), (uint64_t)nsubs * 32);
    uint32_t nev_ptr = kpWasi_u32(c, 3);
    if (!subs || !evs || !kpWasi_mem(c, nev_ptr, 4)) return KP_WE_FAULT;
    if (nsubs == 0) return KP_WE_INVAL;
    kpOs_pollfd *pfd = kp_calloc(nsubs, sizeof *pfd);
    if (!pfd) return KP_WE_NOMEM;
    uint32_t nev = 0;
    uint64_t wait = UINT64_MAX;
    /* Pass 1: immediate errors, the poll set, the shortest clock wait. */
    for (uint32_t i = 0; i < nsubs; i++) {
        const uint8_t *s = subs + 48 * i;
        pfd[i].fd = KP_OS_NO_FD;
        if (s[8] == KP_EV_CLOCK) {
            uint64_t w = clock_wait(s);
            if (w == UINT64_MAX) put_event(evs + 32 * nev++, s, KP_WE_INVAL, KP_EV_CLOCK, 0, 0);
            else if (w < wait) wait = w;
        } else if (s[8] == KP_EV_READ || s[8] == KP_EV_WRITE) {
            kpWasiFd *f;
            uint16_t e = kpWasiFd_get(c->w, kp_ld32(s + 16), KP_R_POLL_FD_READWRITE, &f);
            if (e) put_event(evs + 32 * nev++, s, e, s[8], 0, 0);
            else if (f->mem) /* an in-memory buffer is always ready */
                put_event(evs + 32 * nev++, s, 0, s[8], s[8] == KP_EV_READ ? kpWasiMem_size(c->w, f->mem) : 0,
                          0);
            else {
                pfd[i].fd = f->host;
                pfd[i].events = s[8] == KP_EV_READ ? KP_OS_POLL_IN : KP_OS_POLL_OUT;
            }
        } else {
            put_event(evs + 32 * nev++, s, KP_WE_INVAL, s[8], 0, 0);
        }
    }
    bool capped = false;
    if (nev == 0 && c->w->deadline) {
        uint64_t now = now_ns(KP_OS_CLOCK_MONOTONIC);
        uint64_t left = c->w->deadline > now ? c->w->deadline - now : 0;
        if (left < wait) {
            wait = left;
            capped = true;
        }
    }
    if (nev == 0) {
        int ready;
        kpOs_err oe = kpOs_poll(pfd, nsubs, wait, &ready);
        if (oe != KP_OS_OK && oe != KP_OS_EINTR) {
            kp_free(pfd);
            return kpWasi_errno(oe);
        }
        /* Pass 2: fds that are ready, else the clocks that were due. */
        for (uint32_t i = 0; i < nsubs; i++) {
            const uint8_t *s = subs + 48 * i;
            if (pfd[i].fd < 0 || !pfd[i].revents) continue;
            uint16_t fl = (pfd[i].revents & KP_OS_POLL_HUP) ? 1 : 0;
            uint16_t err = (pfd[i].revents & KP_OS_POLL_NVAL) ? KP_WE_BADF : 0;
            uint64_t nbytes = s[8] == KP_EV_READ ? kpOs_bytesReady(pfd[i].fd) : 0;
            put_event(evs + 32 * nev++, s, err, s[8], nbytes, fl);
        }
        bool fds_ready = nev > 0;
        if (!fds_ready && capped && now_ns(KP_OS_CLOCK_MONOTONIC) >= c->w->deadline) {
            kp_free(pfd);
            kpWasi_timeout(c);
            return KP_WE_SUCCESS;
        }
        for (uint32_t j = 0; !fds_ready && j < nsubs; j++)
            if (subs[48 * j + 8] == KP_EV_CLOCK && clock_wait(subs + 48 * j) <= wait)
                put_event(evs + 32 * nev++, subs + 48 * j, 0, KP_EV_CLOCK, 0, 0);
    }
    kp_free(pfd);
    kpWasi_put32(c, nev_ptr, nev);
    return KP_WE_SUCCESS;
}
