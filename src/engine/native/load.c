/*
 * load.c -- link the ELF64 x86-64 relocatable object of a .kwasm into executable memory, without
 * LLVM: a few hundred lines instead of a 100 MB library at start-up.
 *
 * The object is untrusted input (the artifact's checksum only says it is what some compiler
 * wrote): every header field, section, symbol and relocation is bounds-checked, and anything
 * outside the small subset LLVM emits for our target (PIC, small code model) is refused with a
 * message. Layout of the one mapping: executable sections, then a stub (jmp *[rip]) and a GOT
 * slot per symbol, then the other allocated sections. Calls to helpers go through the stubs,
 * since the kapsul binary may be further than ±2 GiB from the mapping. Finally text and stubs
 * become read+execute, the rest read-only (read+write if the object has writable data).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "engine/native/native.h"
#include "os/os.h"

struct kpNativeCode {
    uint8_t *map;
    size_t map_size;
    void **entries; /* per function index */
    uint32_t nfuncs;
    bool guard;
    KP_VEC(kpNativeSym) syms; /* where each function's code lies (profilers' maps) */
};

enum {
    SHT_PROGBITS = 1,
    SHT_SYMTAB = 2,
    SHT_RELA = 4,
    SHT_NOBITS = 8
};
enum {
    SHF_WRITE = 1,
    SHF_ALLOC = 2,
    SHF_EXEC = 4
};
enum {
    R_64 = 1,
    R_PC32 = 2,
    R_PLT32 = 4,
    R_GOTPCREL = 9,
    R_32 = 10,
    R_32S = 11,
    R_PC64 = 24,
    R_GOTPCRELX = 41,
    R_REX_GOTPCRELX = 42
};

typedef struct shdr {
    uint32_t name, type;
    uint64_t flags, addr, offset, size;
    uint32_t link, info;
    uint64_t align, entsize;
} shdr;

/* The loader's working state. */
typedef struct link {
    const uint8_t *obj;
    size_t size;
    shdr *sh;
    uint32_t nsh;
    uint64_t *sec_at; /* offset of each loaded section in the map, UINT64_MAX if not loaded */
    const shdr *symtab;
    const uint8_t *strtab;
    uint64_t strtab_size;
    uint32_t nsyms;
    uint64_t stubs_at, got_at; /* offsets in the map */
    uint8_t *map;
    size_t map_size, exec_end;
    bool writable;
    kapsul_error *err;
} link;

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static kapsul_status bad(link *l, const char *what) {
    return kpError_set(l->err, KAPSUL_ERR_MALFORMED, 0, "artifact object: %s", what);
}

/* ELF header and section headers. */
static kapsul_status read_headers(link *l) {
    const uint8_t *o = l->obj;
    if (l->size < 64 ||
        memcmp(o,
               "\x7f"
               "ELF",
               4) != 0 ||
        o[4] != 2 || o[5] != 1 || o[6] != 1)
        return bad(l, "not an ELF64 little-endian object");
    if (rd16(o + 16) != 1 || rd16(o + 18) != 62) return bad(l, "not an x86-64 relocatable object");
    uint64_t shoff = rd64(o + 40);
    uint32_t shentsize = rd16(o + 58), shnum = rd16(o + 60);
    if (shentsize != 64 || shnum == 0 || shoff > l->size || (uint64_t)shnum * 64 > l->size - shoff)
        return bad(l, "section header table out of range");
    l->nsh = shnum;
    l->sh = kp_calloc(shnum, sizeof *l->sh);
    l->sec_at = kp_calloc(shnum, sizeof *l->sec_at);
    if (!l->sh || !l->sec_at) return kpError_set(l->err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    for (uint32_t i = 0; i < shnum; i++) {
        const uint8_t *p = o + shoff + (uint64_t)i * 64;
        shdr *s = &l->sh[i];
        *s = (shdr){ rd32(p),      rd32(p + 4),  rd64(p + 8),  rd64(p + 16), rd64(p + 24),
                     rd64(p + 32), rd32(p + 40), rd32(p + 44), rd64(p + 48), rd64(p + 56) };
        /* A section that holds bytes (a null one too when marked allocated: layout copies it). */
        bool has_bytes = s->type != SHT_NOBITS && (s->type != 0 || (s->flags & SHF_ALLOC));
        if (has_bytes && (s->offset > l->size || s->size > l->size - s->offset))
            return bad(l, "section out of range");
        if (s->align > 4096 || (s->align & (s->align - 1))) return bad(l, "section alignment unsupported");
        if (s->type == SHT_SYMTAB) {
            if (l->symtab || s->entsize != 24 || s->link >= shnum) return bad(l, "bad symbol table");
            l->symtab = s;
        }
    }
    if (!l->symtab) return bad(l, "no symbol table");
    const shdr *st = &l->sh[l->symtab->link];
    if (st->type != 3) return bad(l, "bad string table");
    l->strtab = o + st->offset;
    l->strtab_size = st->size;
    l->nsyms = (uint32_t)(l->symtab->size / 24);
    return KAPSUL_OK;
}

/* Place one section at the next offset aligned for it. */
static kapsul_status place(link *l, uint32_t i, uint64_t *at) {
    const shdr *s = &l->sh[i];
    uint64_t align = s->align ? s->align : 1;
    *at = (*at + align - 1) & ~(align - 1);
    if (s->size > ((uint64_t)1 << 31) || *at > ((uint64_t)1 << 31)) return bad(l, "object too large");
    l->sec_at[i] = *at;
    *at += s->size;
    if (s->flags & SHF_WRITE) l->writable = true;
    return KAPSUL_OK;
}

/* Executable sections, then stubs and GOT, then the rest; map and copy. */
static kapsul_status layout(link *l) {
    uint64_t at = 0;
    size_t page = kpOs_pageSize();
    kapsul_status st;
    for (uint32_t i = 0; i < l->nsh; i++) l->sec_at[i] = UINT64_MAX;
    for (uint32_t i = 0; i < l->nsh; i++)
        if ((l->sh[i].flags & SHF_ALLOC) && (l->sh[i].flags & SHF_EXEC) && (st = place(l, i, &at))) return st;
    l->stubs_at = (at + 15) & ~(uint64_t)15;
    l->got_at = l->stubs_at + (uint64_t)l->nsyms * 16;
    at = l->got_at + (uint64_t)l->nsyms * 8;
    l->exec_end = (at + page - 1) & ~(page - 1);
    at = l->exec_end;
    for (uint32_t i = 0; i < l->nsh; i++)
        if ((l->sh[i].flags & SHF_ALLOC) && !(l->sh[i].flags & SHF_EXEC) && (st = place(l, i, &at)))
            return st;
    l->map_size = (at + page - 1) & ~(page - 1);
    if (l->map_size == 0) l->map_size = page;
    /* Populated now: every page is written just below, and one call is cheaper than a fault per
     * page (see kpOs_prefault). */
    void *m =
        mmap(NULL, l->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED)
        return kpError_set(l->err, KAPSUL_ERR_NOMEM, 0, "out of memory (mapping native code)");
    l->map = m;
    for (uint32_t i = 0; i < l->nsh; i++)
        if (l->sec_at[i] != UINT64_MAX && l->sh[i].type != SHT_NOBITS)
            memcpy(l->map + l->sec_at[i], l->obj + l->sh[i].offset, l->sh[i].size);
    return KAPSUL_OK;
}

/* Symbol k's name, NULL if out of range or unterminated. */
static const char *sym_name(link *l, uint32_t k) {
    const uint8_t *p = l->obj + l->symtab->offset + (uint64_t)k * 24;
    uint32_t off = rd32(p);
    if (off >= l->strtab_size || !memchr(l->strtab + off, 0, l->strtab_size - off)) return NULL;
    return (const char *)l->strtab + off;
}

/* The address of symbol k (helpers by name from the fixed table); 0 with an error if none. */
static kapsul_status sym_addr(link *l, uint32_t k, uint64_t *addr, bool *external) {
    const uint8_t *p = l->obj + l->symtab->offset + (uint64_t)k * 24;
    uint16_t shndx = rd16(p + 6);
    uint64_t value = rd64(p + 8);
    *external = false;
    if (shndx == 0) {
        const char *name = sym_name(l, k);
        if (!name) return bad(l, "bad symbol name");
        for (size_t h = 0; h < kpNative_nhelpers; h++)
            if (strcmp(name, kpNative_helpers[h].name) == 0) {
                *addr = (uint64_t)(uintptr_t)kpNative_helpers[h].fn;
                *external = true;
                return KAPSUL_OK;
            }
        char msg[96];
        snprintf(msg, sizeof msg, "unknown symbol %.60s", name);
        return bad(l, msg);
    }
    if (shndx == 0xfff1) {
        *addr = value;
        return KAPSUL_OK;
    }
    if (shndx >= l->nsh || l->sec_at[shndx] == UINT64_MAX || value > l->sh[shndx].size)
        return bad(l, "symbol in an unloaded or missing section");
    *addr = (uint64_t)(uintptr_t)(l->map + l->sec_at[shndx] + value);
    return KAPSUL_OK;
}

/* One relocation of section `target`. */
static kapsul_status relocate_one(link *l, uint32_t target, const uint8_t *r) {
    uint64_t off = rd64(r), info = rd64(r + 8);
    int64_t addend = (int64_t)rd64(r + 16);
    uint32_t type = (uint32_t)info, k = (uint32_t)(info >> 32);
    unsigned width = (type == R_64 || type == R_PC64) ? 8 : 4;
    if (k >= l->nsyms) return bad(l, "relocation symbol out of range");
    if (off > l->sh[target].size || width > l->sh[target].size - off)
        return bad(l, "relocation out of range");
    uint8_t *place_p = l->map + l->sec_at[target] + off;
    uint64_t P = (uint64_t)(uintptr_t)place_p, S;
    bool external;
    kapsul_status st = sym_addr(l, k, &S, &external);
    if (st) return st;
    uint64_t v;
    switch (type) {
    case R_64:
        v = S + (uint64_t)addend;
        memcpy(place_p, &v, 8);
        return KAPSUL_OK;
    case R_PC64:
        v = S + (uint64_t)addend - P;
        memcpy(place_p, &v, 8);
        return KAPSUL_OK;
    case R_PLT32:
    case R_PC32:
        if (external) {
            /* jmp *0(%rip); .quad S */
            uint8_t *stub = l->map + l->stubs_at + (uint64_t)k * 16;
            static const uint8_t jmp[6] = { 0xFF, 0x25, 0, 0, 0, 0 };
            memcpy(stub, jmp, 6);
            memcpy(stub + 6, &S, 8);
            if (type == R_PC32) return bad(l, "data reference to a helper");
            S = (uint64_t)(uintptr_t)stub;
        }
        v = S + (uint64_t)addend - P;
        break;
    case R_GOTPCREL:
    case R_GOTPCRELX:
    case R_REX_GOTPCRELX: {
        uint8_t *slot = l->map + l->got_at + (uint64_t)k * 8;
        memcpy(slot, &S, 8);
        v = (uint64_t)(uintptr_t)slot + (uint64_t)addend - P;
        break;
    }
    case R_32:
    case R_32S:
        v = S + (uint64_t)addend;
        if (type == R_32 ? v > UINT32_MAX : (int64_t)v != (int32_t)v)
            return bad(l, "absolute relocation out of range");
        memcpy(place_p, &v, 4);
        return KAPSUL_OK;
    default: {
        char msg[64];
        snprintf(msg, sizeof msg, "unsupported relocation type %u", type);
        return bad(l, msg);
    }
    }
    if ((int64_t)v != (int32_t)v) return bad(l, "PC-relative relocation out of range");
    uint32_t v32 = (uint32_t)v;
    memcpy(place_p, &v32, 4);
    return KAPSUL_OK;
}

static kapsul_status relocate(link *l) {
    for (uint32_t i = 0; i < l->nsh; i++) {
        const shdr *s = &l->sh[i];
        if (s->type != SHT_RELA) continue;
        if (s->info >= l->nsh) return bad(l, "relocation section target out of range");
        if (l->sec_at[s->info] == UINT64_MAX) continue; /* relocations of unloaded (debug) sections */
        if (s->entsize != 24 || &l->sh[s->link] != l->symtab) return bad(l, "bad relocation section");
        for (uint64_t at = 0; at + 24 <= s->size; at += 24) {
            kapsul_status st = relocate_one(l, s->info, l->obj + s->offset + at);
            if (st) return st;
        }
    }
    return KAPSUL_OK;
}

/* kp_entry<i> symbols into the entries table. */
static kapsul_status find_entries(link *l, kpNativeCode *c) {
    for (uint32_t k = 1; k < l->nsyms; k++) {
        const char *name = sym_name(l, k);
        if (!name) return bad(l, "bad symbol name");
        if (strncmp(name, "kp_entry", 8) != 0) continue;
        char *end;
        unsigned long i = strtoul(name + 8, &end, 10);
        if (*end || i >= c->nfuncs) return bad(l, "entry symbol out of range");
        uint64_t addr;
        bool external;
        kapsul_status st = sym_addr(l, k, &addr, &external);
        if (st) return st;
        const uint8_t *p = l->obj + l->symtab->offset + (uint64_t)k * 24;
        uint16_t shndx = rd16(p + 6);
        if (external || shndx >= l->nsh || !(l->sh[shndx].flags & SHF_EXEC))
            return bad(l, "entry symbol not in code");
        c->entries[i] = (void *)(uintptr_t)addr;
    }
    return KAPSUL_OK;
}

/* Function symbols (kp_f<i>, kp_entry<i>, with any suffix LLVM gives a clone: kp_f3.cold) and
 * their sizes, for the code ranges profilers map to names; other symbols are not ours to name. */
static kapsul_status find_functions(link *l, kpNativeCode *c) {
    for (uint32_t k = 1; k < l->nsyms; k++) {
        const uint8_t *p = l->obj + l->symtab->offset + (uint64_t)k * 24;
        const char *name = sym_name(l, k);
        uint16_t shndx = rd16(p + 6);
        uint64_t value = rd64(p + 8), size = rd64(p + 16);
        bool entry = name && strncmp(name, "kp_entry", 8) == 0;
        if ((p[4] & 0xf) != 2 /* STT_FUNC */ || !name || (!entry && strncmp(name, "kp_f", 4) != 0) ||
            shndx >= l->nsh || l->sec_at[shndx] == UINT64_MAX || !(l->sh[shndx].flags & SHF_EXEC) ||
            size == 0 || value > l->sh[shndx].size || size > l->sh[shndx].size - value)
            continue;
        const char *digits = name + (entry ? 8 : 4);
        char *end;
        unsigned long i = strtoul(digits, &end, 10);
        if (end == digits || (*end && *end != '.') || i >= c->nfuncs) continue;
        if (kpVec_grow(&c->syms) != 0) return kpError_set(l->err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        c->syms.v[c->syms.n++] = (kpNativeSym){ (uint32_t)i, entry, l->map + l->sec_at[shndx] + value, size };
    }
    return KAPSUL_OK;
}

kapsul_status kpNativeCode_load(const uint8_t *obj, size_t size, uint32_t nfuncs, kpNativeCode **out,
                                kapsul_error *err) {
    link l;
    memset(&l, 0, sizeof l);
    l.obj = obj;
    l.size = size;
    l.err = err;
    *out = NULL;
    kpNativeCode *c = kp_calloc(1, sizeof *c);
    kapsul_status st = KAPSUL_ERR_NOMEM;
    if (!c || !(c->entries = kp_calloc(nfuncs ? nfuncs : 1, sizeof *c->entries))) {
        kpError_set(err, st, 0, "out of memory");
        goto fail;
    }
    c->nfuncs = nfuncs;
    if ((st = read_headers(&l)) || (st = layout(&l)) || (st = relocate(&l)) || (st = find_entries(&l, c)) ||
        (st = find_functions(&l, c)))
        goto fail;
    if (mprotect(l.map, l.exec_end, PROT_READ | PROT_EXEC) != 0 ||
        (l.map_size > l.exec_end && mprotect(l.map + l.exec_end, l.map_size - l.exec_end,
                                             PROT_READ | (l.writable ? PROT_WRITE : 0)) != 0)) {
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "cannot make native code executable");
        goto fail;
    }
    c->map = l.map;
    c->map_size = l.map_size;
    l.map = NULL;
    *out = c;
    c = NULL;
fail:
    if (l.map) munmap(l.map, l.map_size);
    kp_free(l.sh);
    kp_free(l.sec_at);
    if (c) kpNativeCode_free(c);
    return st;
}

void kpNativeCode_setGuard(kpNativeCode *c, bool guard) { c->guard = guard; }
bool kpNativeCode_guard(const kpNativeCode *c) { return c->guard; }

void *kpNativeCode_entry(const kpNativeCode *c, uint32_t func) {
    return func < c->nfuncs ? c->entries[func] : NULL;
}
void *const *kpNativeCode_entries(const kpNativeCode *c) { return c->entries; }
const kpNativeSym *kpNativeCode_symbols(const kpNativeCode *c, size_t *n) {
    *n = c->syms.n;
    return c->syms.v;
}

void kpNativeCode_free(kpNativeCode *c) {
    if (!c) return;
    if (c->map) munmap(c->map, c->map_size);
    kp_free(c->entries);
    kpVec_free(&c->syms);
    kp_free(c);
}
