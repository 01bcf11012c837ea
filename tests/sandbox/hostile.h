/*
 * hostile.h -- shared scaffolding for the sandbox suite's hostile guests.
 *
 * Each tests/sandbox/NAME.c is a WASI program that tries one way out of (or around) its
 * capabilities, calling the raw wasi_snapshot_preview1 imports of <wasi/api.h> so that no libc
 * convenience hides what reaches the host. run-sandbox.py preopens "box" (read-write) and "ro"
 * (read-only) and plants host-made symlinks that point outside; every attempt must be refused.
 * A program exits 0 when all its attempts were refused, 1 otherwise, printing one line per
 * attempt. The runner also checks that nothing outside "box" changed.
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static int hostile_failures;

/* expr returns a __wasi_errno_t; anything but success counts as refused. */
#define REFUSED(expr)                                                \
    do {                                                             \
        __wasi_errno_t e_ = (expr);                                  \
        if (e_ == __WASI_ERRNO_SUCCESS) {                            \
            printf("ESCAPED line %d: %s\n", __LINE__, #expr);        \
            hostile_failures++;                                      \
        } else {                                                     \
            printf("refused (errno %u): %s\n", (unsigned)e_, #expr); \
        }                                                            \
    } while (0)

/* expr must fail with exactly `want`. */
#define EXPECT_ERRNO(expr, want)                                                                             \
    do {                                                                                                     \
        __wasi_errno_t e_ = (expr);                                                                          \
        if (e_ != (want)) {                                                                                  \
            printf("WRONG line %d: %s gave %u, want %u\n", __LINE__, #expr, (unsigned)e_, (unsigned)(want)); \
            hostile_failures++;                                                                              \
        } else {                                                                                             \
            printf("refused (errno %u): %s\n", (unsigned)e_, #expr);                                         \
        }                                                                                                    \
    } while (0)

/* A setup step that must succeed for the attack to mean anything. */
#define MUST(expr)                                                                          \
    do {                                                                                    \
        __wasi_errno_t e_ = (expr);                                                         \
        if (e_ != __WASI_ERRNO_SUCCESS) {                                                   \
            printf("SETUP FAILED line %d (errno %u): %s\n", __LINE__, (unsigned)e_, #expr); \
            return 1;                                                                       \
        }                                                                                   \
    } while (0)

/* The guest fd of the preopen named `name`, or -1. */
static inline int hostile_preopen(const char *name) {
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_prestat_t ps;
        char buf[256];
        if (__wasi_fd_prestat_get(fd, &ps) != __WASI_ERRNO_SUCCESS) continue;
        if (ps.u.dir.pr_name_len >= sizeof buf) continue;
        if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, ps.u.dir.pr_name_len) != 0) continue;
        buf[ps.u.dir.pr_name_len] = 0;
        if (strcmp(buf, name) == 0) return (int)fd;
    }
    return -1;
}

#define ALL_RIGHTS ((__wasi_rights_t)0x3fffffff)
/* Everything but writing, which a directory can never be opened for (EISDIR). */
#define DIR_RIGHTS (ALL_RIGHTS & ~(__wasi_rights_t)__WASI_RIGHTS_FD_WRITE)
#define READ_RIGHTS (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_FILESTAT_GET)
#define WRITE_RIGHTS (__WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK)

/* path_open with a NUL-terminated path. */
static inline __wasi_errno_t hopen(int dir, const char *path, __wasi_lookupflags_t lf, __wasi_oflags_t of,
                                   __wasi_rights_t rights, __wasi_fd_t *out) {
    return __wasi_path_open((__wasi_fd_t)dir, lf, path, of, rights, ALL_RIGHTS, 0, out);
}

#define BOX_AND_RO()                                              \
    int box = hostile_preopen("box"), ro = hostile_preopen("ro"); \
    if (box < 0 || ro < 0) {                                      \
        printf("SETUP FAILED: preopens box=%d ro=%d\n", box, ro); \
        return 1;                                                 \
    }                                                             \
    (void)box;                                                    \
    (void)ro

static inline int hostile_finish(void) {
    printf("%s\n", hostile_failures ? "SANDBOX BREACHED" : "all refused");
    return hostile_failures ? 1 : 0;
}

#endif
