/*
 * memory.c -- linear memories (the embedder's kapsul_memory_* calls are in runtime/externs.c).
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
 * Under valgrind this file picks the bounds-checked mode by itself: a guest's out-of-bounds
 * access would otherwise be a real read of the reservation, which memcheck reports as an error
 * before the signal handler turns it into a trap (see docs/RATIONALE.md, "valgrind").
 */
#include "engine/objects.h"
#include "os/os.h"

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

static uint64_t effective_max(const kpExec *x, uint64_t max_pages) {
    uint64_t cap = x->mem_limit / KP_PAGE_SIZE;
    if (cap > KP_MAX_PAGES) cap = KP_MAX_PAGES;
    return max_pages < cap ? max_pages : cap;
}

bool kpMemory_guardMode(const kapsul_config *cfg) {
    return sizeof(void *) == 8 && !cfg->explicit_bounds_checks && !under_valgrind() &&
           kpInterp_guardPagesReady();
}

/* Reserve (or allocate) and commit the initial pages; see the top of the file for the modes. */
kapsul_status kpMemory_create(kpExec *x, uint64_t min_pages, uint64_t max_pages, kapsul_memory **out,
                              kapsul_error *err) {
    kapsul_memory *m = NULL;
    if (min_pages > effective_max(x, KAPSUL_NO_MAX)) {
        kpError_set(err, KAPSUL_ERR_TRAP, 0, "memory of %llu pages exceeds the memory limit",
                    (unsigned long long)min_pages);
        if (err) err->trap = KAPSUL_TRAP_MEMORY_LIMIT;
        return KAPSUL_ERR_TRAP;
    }
    if (kpVec_grow(&x->mems) != 0 || !(m = kp_calloc(1, sizeof *m))) goto nomem;
    m->type_max = max_pages;
    m->max_pages = effective_max(x, max_pages);
    m->size = min_pages * KP_PAGE_SIZE;
    bool guard = kpMemory_guardMode(x->config);
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
    x->mems.v[x->mems.n++] = m;
    *out = m;
    return KAPSUL_OK;
nomem:
    kp_free(m);
    return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory allocating a linear memory");
}

/* Commit (or reallocate) more pages; the base moves only for a plain heap block. */
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

/* The fault handler's question: is addr inside the reservation of one of this store's memories
 * (and so a guest's out-of-bounds access rather than a bug of the host)? */
bool kpMemory_isGuestAddress(const kpExec *x, const void *addr) {
    uintptr_t a = (uintptr_t)addr;
    for (size_t i = 0; i < x->mems.n; i++) {
        const kapsul_memory *m = x->mems.v[i];
        if (m->reserved && a >= (uintptr_t)m->base && a - (uintptr_t)m->base < m->reserved) return true;
    }
    return false;
}

void kpMemory_free(kapsul_memory *m) {
    if (!m) return;
    if (m->mapped) kpOs_release(m->base, m->mapped);
    else kp_free(m->base);
    kp_free(m);
}
