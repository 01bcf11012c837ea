/*
 * debuginfo.h -- DWARF source positions of a module's code, and symbol demangling.
 *
 * Contract: kpDebug_open accepts any decoded module; malformed debug sections give NULL or fewer
 * positions, never an error the caller must handle. A kpDebugInfo is used by one thread at a time.
 */
#ifndef KP_DEBUGINFO_H
#define KP_DEBUGINFO_H

#include "module/module.h"

typedef struct kpDebugInfo kpDebugInfo;

/* One position: strings point into the debug sections (live as long as the kpDebugInfo). */
typedef struct kpDebugLoc {
    const char *function; /* as DWARF names it (a linkage name may still be mangled); NULL if unknown */
    const char *file;
    uint32_t line, column;
} kpDebugLoc;

/* Read m's .debug_* custom sections; NULL when there are none, they are unusable, or memory ran
 * out. m must outlive the result. */
kpDebugInfo *kpDebug_open(const kpModule *m);
void kpDebug_free(kpDebugInfo *d);

/* Positions of code address `addr` (offset from m->code_start), innermost inlined call first and
 * the enclosing function last; writes up to max, returns how many there are (0: no line info). */
size_t kpDebug_locate(kpDebugInfo *d, uint32_t addr, kpDebugLoc *out, size_t max);

/* The demangled form of a Rust (legacy or v0) or C++ (Itanium) symbol, allocated (kp_free), or
 * NULL when `name` is not a mangled name (or memory ran out). */
char *kpDebug_demangle(const char *name);

#endif /* KP_DEBUGINFO_H */
