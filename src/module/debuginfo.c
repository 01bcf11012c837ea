/*
 * debuginfo.c -- source positions from a module's DWARF custom sections, and demangling.
 *
 * clang -g and rustc -g put standard DWARF into custom sections named .debug_info, .debug_line,
 * ...; addresses in it are offsets from the start of the code section's payload. elfutils' libdw
 * reads DWARF from ELF files only, so the sections are wrapped, without copying their meaning,
 * into a small in-memory ELF32 image (a header, the section bytes, a section name table and the
 * section headers) that libdw opens with elf_memory. The line table gives file:line:column; the
 * scopes at an address give the inlined calls and their call sites. libdw is not documented as
 * safe for concurrent lookups on one handle, so the caller serializes them (runtime/symbols.c).
 * Demangling is libiberty's (binutils' own demangler: Rust legacy and v0, C++ Itanium).
 */
#include <dwarf.h>
#include <elf.h>
#include <elfutils/libdw.h>
#include <libelf.h>
#include <libiberty/demangle.h>
#include <stdlib.h>
#include <string.h>

#include "module/debuginfo.h"

struct kpDebugInfo {
    char *image; /* the ELF image libdw reads (it keeps pointers into it) */
    Elf *elf;
    Dwarf *dw;
};

static bool is_debug_section(const kpCustom *c) {
    return c->name_len > 7 && c->name_len < 64 && memcmp(c->name, ".debug_", 7) == 0;
}

/* The ELF32 image: header, then each .debug_* payload, then the name table, then the section
 * headers (null section first, the name table last). */
static char *wrap_elf(const kpModule *m, size_t *size_out) {
    uint32_t nsec = 0;
    size_t data = 0, names = 1 + sizeof ".shstrtab";
    for (uint32_t i = 0; i < m->ncustoms; i++) {
        if (!is_debug_section(&m->customs[i])) continue;
        nsec++;
        data += m->customs[i].bytes.len;
        names += m->customs[i].name_len + 1;
    }
    if (nsec == 0) return NULL;
    size_t shoff = (sizeof(Elf32_Ehdr) + data + names + 3) & ~(size_t)3;
    size_t size = shoff + (size_t)(nsec + 2) * sizeof(Elf32_Shdr);
    if (size > UINT32_MAX) return NULL;
    char *img = kp_calloc(1, size);
    if (!img) return NULL;

    Elf32_Ehdr *eh = (Elf32_Ehdr *)(void *)img;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS32;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC; /* not ET_REL: nothing to relocate */
    eh->e_machine = EM_NONE;
    eh->e_version = EV_CURRENT;
    eh->e_ehsize = sizeof(Elf32_Ehdr);
    eh->e_shentsize = sizeof(Elf32_Shdr);
    eh->e_shoff = (Elf32_Off)shoff;
    eh->e_shnum = (Elf32_Half)(nsec + 2);
    eh->e_shstrndx = (Elf32_Half)(nsec + 1);

    Elf32_Shdr sh[1];
    size_t at = sizeof(Elf32_Ehdr), nameoff = sizeof(Elf32_Ehdr) + data, name_at = 1;
    uint32_t k = 1;
    for (uint32_t i = 0; i < m->ncustoms; i++) {
        const kpCustom *c = &m->customs[i];
        if (!is_debug_section(c)) continue;
        memset(sh, 0, sizeof sh);
        sh->sh_name = (Elf32_Word)name_at;
        sh->sh_type = SHT_PROGBITS;
        sh->sh_offset = (Elf32_Off)at;
        sh->sh_size = c->bytes.len;
        sh->sh_addralign = 1;
        memcpy(img + shoff + k++ * sizeof(Elf32_Shdr), sh, sizeof sh);
        memcpy(img + at, m->bytes + c->bytes.start, c->bytes.len);
        at += c->bytes.len;
        memcpy(img + nameoff + name_at, c->name, c->name_len);
        name_at += c->name_len + 1;
    }
    memcpy(img + nameoff + name_at, ".shstrtab", sizeof ".shstrtab");
    memset(sh, 0, sizeof sh);
    sh->sh_name = (Elf32_Word)name_at;
    sh->sh_type = SHT_STRTAB;
    sh->sh_offset = (Elf32_Off)nameoff;
    sh->sh_size = (Elf32_Word)names;
    sh->sh_addralign = 1;
    memcpy(img + shoff + k * sizeof(Elf32_Shdr), sh, sizeof sh);
    *size_out = size;
    return img;
}

kpDebugInfo *kpDebug_open(const kpModule *m) {
    size_t size = 0;
    char *img = wrap_elf(m, &size);
    if (!img) return NULL;
    kpDebugInfo *d = kp_calloc(1, sizeof *d);
    if (!d) goto fail;
    d->image = img;
    if (elf_version(EV_CURRENT) == EV_NONE) goto fail;
    d->elf = elf_memory(img, size);
    if (!d->elf) goto fail;
    d->dw = dwarf_begin_elf(d->elf, DWARF_C_READ, NULL);
    if (!d->dw) goto fail;
    return d;
fail:
    kpDebug_free(d);
    if (!d) kp_free(img);
    return NULL;
}

void kpDebug_free(kpDebugInfo *d) {
    if (!d) return;
    if (d->dw) dwarf_end(d->dw);
    if (d->elf) elf_end(d->elf);
    kp_free(d->image);
    kp_free(d);
}

/* A scope's name as the source spells it: the linkage name (the caller demangles it) when there
 * is one, else DW_AT_name; both follow DW_AT_abstract_origin to the inlined function. */
static const char *scope_name(Dwarf_Die *die) {
    Dwarf_Attribute a;
    const char *s = NULL;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &a) ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a))
        s = dwarf_formstring(&a);
    return s ? s : dwarf_diename(die);
}

static uint32_t udata_attr(Dwarf_Die *die, int name) {
    Dwarf_Attribute a;
    Dwarf_Word w = 0;
    if (!dwarf_attr(die, name, &a) || dwarf_formudata(&a, &w) != 0 || w > UINT32_MAX) return 0;
    return (uint32_t)w;
}

/* The compilation unit covering addr: through .debug_aranges when the module has one (wasm-ld
 * output usually does not), else by asking each unit's ranges. */
static bool find_cu(Dwarf *dw, uint32_t addr, Dwarf_Die *cu) {
    if (dwarf_addrdie(dw, addr, cu)) return true;
    Dwarf_Off off = 0, next;
    size_t hsize;
    while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
        if (dwarf_offdie(dw, off + hsize, cu) && dwarf_haspc(cu, addr) > 0) return true;
        off = next;
    }
    return false;
}

/* Collect into chain[depth..] the function and inlined-call DIEs below `parent` that contain
 * addr, outermost first; returns the new depth. Functions may sit in namespaces and types (Rust,
 * C++); inlined calls in lexical blocks. Nesting is capped, so hostile DWARF cannot exhaust the
 * C stack. */
#define KP_DWARF_MAX_NEST 64
static int find_scopes(Dwarf_Die *parent, uint32_t addr, Dwarf_Die *chain, int depth, int max, int nest) {
    Dwarf_Die child;
    if (nest > KP_DWARF_MAX_NEST || dwarf_child(parent, &child) != 0) return depth;
    do {
        int tag = dwarf_tag(&child);
        switch (tag) {
        case DW_TAG_subprogram:
        case DW_TAG_inlined_subroutine:
        case DW_TAG_lexical_block:
            if (dwarf_haspc(&child, addr) <= 0) break;
            if (tag != DW_TAG_lexical_block && depth < max) chain[depth++] = child;
            return find_scopes(&child, addr, chain, depth, max, nest + 1);
        case DW_TAG_namespace:
        case DW_TAG_module:
        case DW_TAG_structure_type:
        case DW_TAG_class_type:
        case DW_TAG_union_type:
        case DW_TAG_enumeration_type: {
            if (depth > 0) break; /* types inside a function hold no code of it */
            int d = find_scopes(&child, addr, chain, depth, max, nest + 1);
            if (d > depth) return d;
            break;
        }
        default: break;
        }
    } while (dwarf_siblingof(&child, &child) == 0);
    return depth;
}

size_t kpDebug_locate(kpDebugInfo *d, uint32_t addr, kpDebugLoc *out, size_t max) {
    Dwarf_Die cu;
    if (!d || !find_cu(d->dw, addr, &cu)) return 0;
    kpDebugLoc loc = { 0 };
    Dwarf_Line *line = dwarf_getsrc_die(&cu, addr);
    if (line) {
        int ln = 0, col = 0;
        loc.file = dwarf_linesrc(line, NULL, NULL);
        if (dwarf_lineno(line, &ln) == 0 && ln > 0) loc.line = (uint32_t)ln;
        if (dwarf_linecol(line, &col) == 0 && col > 0) loc.column = (uint32_t)col;
    }
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    if (dwarf_getsrcfiles(&cu, &files, &nfiles) != 0) files = NULL;

    Dwarf_Die chain[KP_DWARF_MAX_NEST];
    int depth = find_scopes(&cu, addr, chain, 0, KP_DWARF_MAX_NEST, 0);
    size_t n = 0;
    for (int i = depth - 1; i >= 0; i--) {
        loc.function = scope_name(&chain[i]);
        if (n < max) out[n] = loc;
        n++;
        if (i == 0) break;
        /* The next outer position is this inlined call's site. */
        uint32_t f = udata_attr(&chain[i], DW_AT_call_file);
        loc.file = files && f < nfiles ? dwarf_filesrc(files, f, NULL, NULL) : NULL;
        loc.line = udata_attr(&chain[i], DW_AT_call_line);
        loc.column = udata_attr(&chain[i], DW_AT_call_column);
    }
    if (depth == 0) {
        if (n < max) out[n] = loc;
        n++;
    }
    return n;
}

char *kpDebug_demangle(const char *name) {
    if (!name || !(strncmp(name, "_Z", 2) == 0 || strncmp(name, "_R", 2) == 0)) return NULL;
    /* libiberty allocates with malloc; copied so the caller frees with kp_free like the rest. */
    char *s = cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *copy = kp_malloc(n);
    if (copy) memcpy(copy, s, n);
    free(s);
    return copy;
}
