/*
 * test.h -- the tiny unit-test harness: CHECK records a failure and continues; each test binary
 * ends with "N passed, N failed" and exits non-zero if anything failed.
 */
#ifndef KP_TEST_H
#define KP_TEST_H

#include <stdio.h>

static int kpt_passed, kpt_failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) kpt_passed++;                                                      \
        else {                                                                       \
            kpt_failed++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

static inline int kpt_finish(void) {
    printf("%d passed, %d failed\n", kpt_passed, kpt_failed);
    return kpt_failed ? 1 : 0;
}

#endif
