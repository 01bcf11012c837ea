/*
 * memory.c -- linear memories.
 *
 * On 64-bit hosts a memory reserves KP_MEM_RESERVE (8 GiB) of inaccessible address space and
 * commits pages as it grows, so the base never moves and an out-of-bounds access (u32 address +
 * u32 offset < 8 GiB) lands in the reservation and faults; the interpreter turns that fault into
 * a trap. In the bounds-checked mode (`reserved` is 0, which tells the interpreter to check every
 * access) the memory still lives in a mapping of its maximum size when it can, committed as it
 * grows: growth then never copies and new pages are zero without being written (growing one page
 * at a time to 4 GiB stays linear, also under valgrind, whose realloc always copies). Only if
 * that mapping fails too (RLIMIT_AS, 32-bit hosts) is the memory a plain heap block.
 *
 * Under valgrind the runtime picks the bounds-checked mode by itself: a guest's out-of-bounds
 * access would otherwise be a real read of the reservation, which memcheck reports as an error
 * before the signal handler turns it into a trap (see docs/RATIONALE.md, "valgrind").
 */
#include "runtime/runtime.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define KP_HAVE_VALGRIND_H 1
#endif
#endif

/* True when this process runs under valgrind. Without valgrind's header at build time the
 * answer is always no; the client request costs a few instructions and no system call. */
static bool under_valgrind(void) {
#ifdef KP_HAVE_VALGRIND_H
    return RUNNING_ON_VALGRIND != 0;
#else
    return false;
#endif
}

static uint64_t effective_max(const kapsul_store *s, uint64_t max_pages) {
    uint64_t cap = s->engine->config.max_memory_bytes / KP_PAGE_SIZE;
    if (cap > KP_MAX_PAGES) cap = KP_MAX_PAGES;
    return max_pages < cap ? max_pages : cap;
}

kapsul_status kpMemory_create(kapsul_store *s, uint64_t min_pages, uint64_t max_pages,
                              kapsul_memory **out, kapsul_error *err) {
    kapsul_memory *m = NULL;
    if (min_pages > effective_max(s, KAPSUL_NO_MAX)) {
        kpError_set(err, KAPSUL_ERR_TRAP, 0, "memory of %llu pages exceeds the memory limit",
                    (unsigned long long)min_pages);
        if (err) err->trap = KAPSUL_TRAP_MEMORY_LIMIT;
        return KAPSUL_ERR_TRAP;
    }
    if (kpVec_grow(&s->mems) != 0 || !(m = kp_calloc(1, sizeof *m))) goto nomem;
    m->type_max = max_pages;
    m->max_pages = effective_max(s, max_pages);
    m->size = min_pages * KP_PAGE_SIZE;
    bool guard = sizeof(void *) == 8 && !s->engine->config.explicit_bounds_checks && !under_valgrind() &&
                 kpInterp_guardPagesReady();
    size_t span = guard ? KP_MEM_RESERVE : (size_t)(m->max_pages * KP_PAGE_SIZE);
    if (sizeof(void *) == 8 && span > 0) m->base = kpOs_reserve(span);
    if (m->base) {
        m->mapped = span;
        m->reserved = guard ? span : 0;
        if (!kpOs_commit(m->base, 0, (size_t)m->size)) {
            kpOs_release(m->base, m->mapped);
            goto nomem;
        }
    } else {
        m->base = kp_calloc(m->size ? (size_t)m->size : 1, 1);
        if (!m->base) goto nomem;
    }
    s->mems.v[s->mems.n++] = m;
    *out = m;
    return KAPSUL_OK;
nomem:
    kp_free(m);
    return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory allocating a linear memory");
}

int64_t kpMemory_grow(kapsul_memory *m, uint64_t delta, size_t limit_bytes) {
    uint64_t old = m->size / KP_PAGE_SIZE;
    uint64_t max = m->max_pages;
    uint64_t cap = limit_bytes / KP_PAGE_SIZE;
    if (cap < max) max = cap;
    if (delta > max || old + delta > max) return -1;
    if (delta == 0) return (int64_t)old;
    uint64_t new_size = (old + delta) * KP_PAGE_SIZE;
    if (m->mapped) {
        if (!kpOs_commit(m->base, (size_t)m->size, (size_t)new_size)) return -1;
    } else {
        uint8_t *p = kp_realloc(m->base, (size_t)new_size);
        if (!p) return -1;
        memset(p + m->size, 0, (size_t)(new_size - m->size));
        m->base = p;
    }
    m->size = new_size;
    return (int64_t)old;
}

bool kpMemory_isGuestAddress(const kapsul_store *s, const void *addr) {
    uintptr_t a = (uintptr_t)addr;
    for (size_t i = 0; i < s->mems.n; i++) {
        const kapsul_memory *m = s->mems.v[i];
        if (m->reserved && a >= (uintptr_t)m->base && a - (uintptr_t)m->base < m->reserved) return true;
    }
    return false;
}

/* ---- Public API ---- */

kapsul_status kapsul_memory_new(kapsul_store *s, uint64_t min_pages, uint64_t max_pages,
                                kapsul_memory **out) {
    if (!s || !out || min_pages > KP_MAX_PAGES || (max_pages != KAPSUL_NO_MAX && max_pages < min_pages))
        return KAPSUL_ERR_ARG;
    kapsul_error err;
    kapsul_status st = kpMemory_create(s, min_pages, max_pages, out, &err);
    /* Above the configured limit: for the embedder that is a limit, not a guest trap. */
    return st == KAPSUL_ERR_TRAP ? KAPSUL_ERR_LIMIT : st;
}

uint8_t *kapsul_memory_data(kapsul_memory *m) { return m ? m->base : NULL; }
size_t kapsul_memory_size(const kapsul_memory *m) { return m ? (size_t)m->size : 0; }
uint64_t kapsul_memory_pages(const kapsul_memory *m) { return m ? m->size / KP_PAGE_SIZE : 0; }

int64_t kapsul_memory_grow(kapsul_memory *m, uint64_t delta_pages) {
    /* The configured limit is already folded into max_pages at creation. */
    return m ? kpMemory_grow(m, delta_pages, (size_t)KP_MAX_PAGES * KP_PAGE_SIZE) : -1;
}
