/*
 * opcodes.c -- the info table and lookups generated from opcodes.def.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "opcodes.h"

const kpOpInfo kpOp_info[kpOp_COUNT] = {
#define KP_OP(id, name, prefix, code, imm, sig, align) { name, prefix, code, kpImm_##imm, sig, align },
#include "opcodes.def"
};

/* The (prefix, code) map of opcodes.h, built by the compiler from the table. */
const uint16_t kpOp_codeMap[KP_MAP_SIZE] = {
#define KP_OP(id, name, prefix, code, imm, sig, align) [KP_MAP_AT(prefix, code)] = kpOp_##id + 1,
#include "opcodes.def"
};

/* Mnemonics sorted by name (ties by kpOp, so the first row of a name comes first), built once on
 * first use: the text parser looks up every instruction it reads, and a linear scan over the
 * table made a 100,000-instruction text cost 40 ms in strlen alone. */
static uint16_t by_name[kpOp_COUNT];
static pthread_once_t by_name_once = PTHREAD_ONCE_INIT;

static int name_order(const void *a, const void *b) {
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    int c = strcmp(kpOp_info[x].name, kpOp_info[y].name);
    return c ? c : (x > y) - (x < y);
}

static void build_by_name(void) {
    for (int op = 0; op < kpOp_COUNT; op++) by_name[op] = (uint16_t)op;
    qsort(by_name, kpOp_COUNT, sizeof *by_name, name_order);
}

/* strcmp of a table name against (name, len), which is not NUL-terminated. */
static int name_cmp(const char *entry, const char *name, size_t len) {
    int c = strncmp(entry, name, len);
    if (c) return c;
    return entry[len] != '\0'; /* the entry is longer: it sorts after */
}

int kpOp_fromName(const char *name, size_t len) {
    pthread_once(&by_name_once, build_by_name);
    if (memchr(name, '\0', len)) return -1;
    size_t lo = 0, hi = kpOp_COUNT;
    while (lo < hi) { /* first entry not below (name, len) */
        size_t mid = lo + (hi - lo) / 2;
        if (name_cmp(kpOp_info[by_name[mid]].name, name, len) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < kpOp_COUNT && name_cmp(kpOp_info[by_name[lo]].name, name, len) == 0) return by_name[lo];
    return -1;
}
