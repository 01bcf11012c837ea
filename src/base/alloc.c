/*
 * alloc.c -- the allocation wrappers. A countdown lets tests fail the n-th allocation to prove
 * that every path out of memory is handled (see kpAlloc_failAfter).
 */
#include <stdlib.h>

#include "base.h"

#ifdef KP_TESTING
/* Atomic, so threads allocating while a test arms it race in a defined way (the count is then
 * shared between them, which the single-threaded tests that use it never notice). */
static long fail_countdown = -1;

void kpAlloc_failAfter(long n) { __atomic_store_n(&fail_countdown, n, __ATOMIC_SEQ_CST); }

/* True if this allocation should fail under injection. Once the countdown hits zero every later
 * allocation fails too, so error paths that allocate are exercised. */
static bool inject_failure(void) {
    long n = __atomic_load_n(&fail_countdown, __ATOMIC_RELAXED);
    while (n > 0) {
        if (__atomic_compare_exchange_n(&fail_countdown, &n, n - 1, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED))
            return false;
    }
    return n == 0;
}
#else
static inline bool inject_failure(void) { return false; }
#endif

void *kp_malloc(size_t size) {
    if (inject_failure()) return NULL;
    return malloc(size ? size : 1);
}

void *kp_calloc(size_t count, size_t size) {
    if (inject_failure()) return NULL;
    if (count == 0 || size == 0) count = size = 1;
    return calloc(count, size);
}

void *kp_realloc(void *ptr, size_t size) {
    if (inject_failure()) return NULL;
    return realloc(ptr, size ? size : 1);
}

void kp_free(void *ptr) { free(ptr); }

char *kp_strndup(const char *s, size_t len) {
    char *d = kp_malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = 0;
    return d;
}

char *kp_pathJoin(const char *dir, const char *rel) {
    size_t a = strlen(dir), b = strlen(rel);
    char *s = kp_malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, rel, b + 1);
    return s;
}
