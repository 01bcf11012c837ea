/*
 * inspect.c -- `kapsul inspect FILE`: a wasm-objdump -h -x style listing of a module: every
 * section with its id, offset, size and entry count, then the details of each index space.
 *
 * The listing needs section offsets, which the module model does not keep, so this file walks the
 * section headers itself; everything else comes from kpDecode_module. The module is decoded but
 * not validated, so an ill-typed module can still be inspected.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "module/module.h"
#include "runtime/runtime.h"

static const char *const section_names[] = {
    "custom", "type",  "import",  "function", "table", "memory",    "global",
    "export", "start", "element", "code",     "data",  "datacount",
};
#define KP_NSECTION_NAMES (sizeof section_names / sizeof section_names[0])

static void inspect_usage(FILE *f) {
    fprintf(f, "List the sections, index spaces, imports and exports of a module, or the WIT-level\n"
               "imports and exports of a component\n"
               "\n"
               "Usage: kapsul inspect [OPTIONS] FILE\n"
               "\n"
               "FILE may be a binary module or a .wat text file (listed after encoding).\n"
               "\n"
               "Options:\n"
               "      --ir    Print the engine's internal code for every function instead (the\n"
               "              module is validated and lowered; for debugging the engine)\n"
               "  -h, --help  Print help\n");
}

/* Print a byte string that may hold anything as a quoted, escaped string. */
static void print_name(const char *s, size_t len) {
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f) printf("\\%02x", c);
        else putchar(c);
    }
    putchar('"');
}

/* One line per section; start/end delimit the payload, as in wasm-objdump. Entry counts are the leading vector length of the payload where the
 * section is a vector (all but custom and start; datacount's value is its count). */
static void print_sections(const kpModule *m) {
    kpReader r;
    kpRead_init(&r, m->bytes, m->bytes + 8, m->bytes + m->size);
    printf("Sections:\n");
    while (!kpRead_eof(&r)) {
        uint8_t id;
        uint32_t size;
        const uint8_t *payload;
        if (!kpRead_u8(&r, &id) || !kpRead_u32(&r, &size)) return;
        size_t poff = kpRead_offset(&r);
        if (!kpRead_bytes(&r, size, &payload)) return;
        const char *name = id < KP_NSECTION_NAMES ? section_names[id] : "unknown";
        printf("  %2u %-9s start=0x%08zx end=0x%08zx (size=0x%08" PRIx32 ")", id, name, poff, poff + size,
               size);
        kpReader p;
        kpRead_init(&p, m->bytes, payload, payload + size);
        if (id == 0) {
            const char *cname;
            uint32_t clen;
            if (kpRead_name(&p, &cname, &clen)) {
                printf(" ");
                print_name(cname, clen);
            }
        } else if (id != 8) {
            uint32_t count;
            if (kpRead_u32(&p, &count)) printf(" count: %" PRIu32, count);
        }
        printf("\n");
    }
}

/* A constant expression as text, for globals and segment offsets. Only the one-instruction forms
 * constant expressions take in 2.0 are spelled out; anything longer prints as "...". */
static void print_const_expr(const kpModule *m, kpRange range) {
    kpReader r;
    kpRead_init(&r, m->bytes, m->bytes + range.start, m->bytes + range.start + range.len);
    uint8_t op;
    int32_t i32;
    int64_t i64;
    uint32_t u32, bits32;
    uint64_t bits64;
    if (!kpRead_u8(&r, &op)) goto other;
    switch (op) {
    case 0x41:
        if (!kpRead_s32(&r, &i32)) goto other;
        printf("i32.const %" PRId32, i32);
        break;
    case 0x42:
        if (!kpRead_s64(&r, &i64)) goto other;
        printf("i64.const %" PRId64, i64);
        break;
    case 0x43: {
        float f;
        if (!kpRead_f32(&r, &bits32)) goto other;
        memcpy(&f, &bits32, sizeof f);
        printf("f32.const %.9g (0x%08" PRIx32 ")", (double)f, bits32);
        break;
    }
    case 0x44: {
        double d;
        if (!kpRead_f64(&r, &bits64)) goto other;
        memcpy(&d, &bits64, sizeof d);
        printf("f64.const %.17g (0x%016" PRIx64 ")", d, bits64);
        break;
    }
    case 0x23:
        if (!kpRead_u32(&r, &u32)) goto other;
        printf("global.get %" PRIu32, u32);
        break;
    case 0xD2:
        if (!kpRead_u32(&r, &u32)) goto other;
        printf("ref.func %" PRIu32, u32);
        break;
    case 0xD0:
        if (!kpRead_u8(&r, &op)) goto other;
        printf("ref.null %s", kp_valtype_name(op));
        break;
    default: goto other;
    }
    if (kpRead_u8(&r, &op) && op == 0x0B && kpRead_eof(&r)) return;
other:
    printf("...");
}

static void print_limits(kpLimits l) {
    printf("initial=%" PRIu64, l.min);
    if (l.has_max) printf(" max=%" PRIu64, l.max);
}

static void print_functype(const kpFuncType *t) {
    printf("(");
    for (uint32_t i = 0; i < t->nparams; i++) printf("%s%s", i ? ", " : "", kp_valtype_name(t->types[i]));
    printf(") -> (");
    for (uint32_t i = 0; i < t->nresults; i++)
        printf("%s%s", i ? ", " : "", kp_valtype_name(kpFuncType_results(t)[i]));
    printf(")");
}

/* The name-section name of a function, as " <name>" with control characters escaped (names come
 * from the file and must not drive the terminal), if it has one. */
static void print_func_name(const kpModule *m, uint32_t f) {
    if (f >= m->nfunc_names || !m->func_names[f]) return;
    printf(" <");
    for (const char *p = m->func_names[f]; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f) printf("\\%02x", c);
        else putchar(c);
    }
    printf(">");
}

static const char *const extern_names[] = { "func", "table", "memory", "global" };

static void print_imports(const kpModule *m) {
    uint32_t counters[4] = { 0, 0, 0, 0 };
    printf("Imports[%" PRIu32 "]:\n", m->nimports);
    for (uint32_t i = 0; i < m->nimports; i++) {
        const kpImport *im = &m->imports[i];
        uint32_t k = (uint32_t)im->kind & 3u;
        uint32_t index = counters[k]++;
        printf("  - %s[%" PRIu32 "]", extern_names[k], index);
        switch (im->kind) {
        case kpExtern_FUNC:
            printf(" sig=%" PRIu32, im->desc.func_type);
            print_func_name(m, index);
            break;
        case kpExtern_TABLE:
            printf(" type=%s ", kp_valtype_name(im->desc.table.elem));
            print_limits(im->desc.table.limits);
            break;
        case kpExtern_MEMORY:
            printf(" pages: ");
            print_limits(im->desc.memory.limits);
            break;
        case kpExtern_GLOBAL:
            printf(" %s mutable=%d", kp_valtype_name(im->desc.global.type), im->desc.global.mut);
            break;
        }
        printf(" <- ");
        print_name(im->module, im->module_len);
        printf(".");
        print_name(im->name, im->name_len);
        printf("\n");
    }
}

/* Types, defined functions, tables, memories and globals. */
static void print_definitions(const kpModule *m) {
    printf("Types[%" PRIu32 "]:\n", m->ntypes);
    for (uint32_t i = 0; i < m->ntypes; i++) {
        printf("  - type[%" PRIu32 "] ", i);
        print_functype(&m->types[i]);
        printf("\n");
    }
    print_imports(m);
    printf("Functions[%" PRIu32 "]:\n", m->nfuncs);
    for (uint32_t i = 0; i < m->nfuncs; i++) {
        uint32_t f = m->nfunc_imports + i;
        const kpFunc *fn = &m->funcs[i];
        printf("  - func[%" PRIu32 "] sig=%" PRIu32, f, fn->type);
        print_func_name(m, f);
        printf(" locals=%" PRIu32 " code: offset=0x%08" PRIx32 " size=%" PRIu32, fn->nlocals, fn->body.start,
               fn->body.len);
        printf("\n");
    }
    printf("Tables[%" PRIu32 "]:\n", m->ntables);
    for (uint32_t i = 0; i < m->ntables; i++) {
        printf("  - table[%" PRIu32 "] type=%s ", m->ntable_imports + i, kp_valtype_name(m->tables[i].elem));
        print_limits(m->tables[i].limits);
        printf("\n");
    }
    printf("Memories[%" PRIu32 "]:\n", m->nmemories);
    for (uint32_t i = 0; i < m->nmemories; i++) {
        printf("  - memory[%" PRIu32 "] pages: ", m->nmem_imports + i);
        print_limits(m->memories[i].limits);
        printf("\n");
    }
    printf("Globals[%" PRIu32 "]:\n", m->nglobals);
    for (uint32_t i = 0; i < m->nglobals; i++) {
        const kpGlobal *g = &m->globals[i];
        printf("  - global[%" PRIu32 "] %s mutable=%d - init ", m->nglobal_imports + i,
               kp_valtype_name(g->type.type), g->type.mut);
        print_const_expr(m, g->init);
        printf("\n");
    }
}

/* Exports, start, element and data segments, custom sections. */
static void print_uses(const kpModule *m) {
    printf("Exports[%" PRIu32 "]:\n", m->nexports);
    for (uint32_t i = 0; i < m->nexports; i++) {
        const kpExport *e = &m->exports[i];
        printf("  - %s[%" PRIu32 "]", extern_names[(uint32_t)e->kind & 3u], e->index);
        if (e->kind == kpExtern_FUNC) print_func_name(m, e->index);
        printf(" -> ");
        print_name(e->name, e->name_len);
        printf("\n");
    }
    if (m->has_start) {
        printf("Start:\n  - start function: %" PRIu32, m->start);
        print_func_name(m, m->start);
        printf("\n");
    }
    static const char *const modes[] = { "active", "passive", "declarative" };
    printf("Elements[%" PRIu32 "]:\n", m->nelems);
    for (uint32_t i = 0; i < m->nelems; i++) {
        const kpElem *e = &m->elems[i];
        printf("  - elem[%" PRIu32 "] %s %s count=%" PRIu32, i, modes[e->mode % 3], kp_valtype_name(e->type),
               e->count);
        if (e->mode == kpSeg_ACTIVE) {
            printf(" table=%" PRIu32 " offset=(", e->table);
            print_const_expr(m, e->offset);
            printf(")");
        }
        printf("\n");
    }
    printf("Data[%" PRIu32 "]:\n", m->ndatas);
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const kpData *d = &m->datas[i];
        printf("  - data[%" PRIu32 "] %s size=%" PRIu32, i, modes[d->mode % 3], d->bytes.len);
        if (d->mode == kpSeg_ACTIVE) {
            printf(" memory=%" PRIu32 " offset=(", d->memory);
            print_const_expr(m, d->offset);
            printf(")");
        }
        printf("\n");
    }
    printf("Custom[%" PRIu32 "]:\n", m->ncustoms);
    for (uint32_t i = 0; i < m->ncustoms; i++) {
        printf("  - ");
        print_name(m->customs[i].name, m->customs[i].name_len);
        printf(" size=%" PRIu32 "\n", m->customs[i].bytes.len);
    }
}

/* One closing line of totals: how much of the file is code, data and custom sections. */
static void print_totals(const kpModule *m) {
    uint64_t code = 0, data = 0, custom = 0;
    for (uint32_t i = 0; i < m->nfuncs; i++) code += m->funcs[i].body.len;
    for (uint32_t i = 0; i < m->ndatas; i++) data += m->datas[i].bytes.len;
    for (uint32_t i = 0; i < m->ncustoms; i++) custom += m->customs[i].bytes.len;
    printf("Totals: %" PRIu32 " functions (%" PRIu32 " imported), %" PRIu64 " bytes of code, %" PRIu64
           " bytes of data segments, %" PRIu64 " bytes of custom sections, %zu bytes in all\n",
           kpModule_numFuncs(m), m->nfunc_imports, code, data, custom, m->size);
}

/* --ir: load the module the way `run` does (validated, lowered, threaded) and print the code. */
static kapsul_status dump_ir(const kpBuf *bytes, kapsul_error *err) {
    kapsul_engine *engine = NULL;
    kapsul_module *mod = NULL;
    kapsul_status st = kapsul_engine_new(NULL, &engine, err);
    if (st != KAPSUL_OK) return st;
    st = kapsul_module_new(engine, bytes->data, bytes->len, &mod, err);
    if (st == KAPSUL_OK) {
        kpModule_dumpIr(mod, stdout);
        kapsul_module_free(mod);
    }
    kapsul_engine_free(engine);
    return st;
}

int kpCli_inspect(int argc, char **argv) {
    const char *path = NULL;
    bool only_files = false, ir = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = true;
            continue;
        }
        if (!only_files && a[0] == '-' && a[1] != '\0') {
            if (kpCli_isHelp(a)) {
                inspect_usage(stdout);
                return KP_EXIT_OK;
            }
            if (strcmp(a, "--ir") == 0) {
                ir = true;
                continue;
            }
            return kpCli_usageError("inspect", "unknown option '%s'", a);
        }
        if (path) { return kpCli_usageError("inspect", "expected one FILE, got '%s' too", a); }
        path = a;
    }
    if (!path) { return kpCli_usageError("inspect", "missing FILE"); }
    kapsul_error err;
    kpBuf bytes;
    kpModule *m = NULL;
    kpError_clear(&err);
    kapsul_status st = kpCli_loadModuleBytes(path, &bytes, NULL, &err);
    if (st != KAPSUL_OK) goto fail;
    if (kpCli_isComponent(&bytes)) {
        st = ir ? kpError_set(&err, KAPSUL_ERR_ARG, 0, "--ir applies to core modules, not components")
                : kpCli_inspectComponent(path, &bytes, &err);
        kpBuf_free(&bytes);
        if (st != KAPSUL_OK) goto fail;
        return KP_EXIT_OK;
    }
    if (ir) {
        st = dump_ir(&bytes, &err);
        kpBuf_free(&bytes);
        if (st != KAPSUL_OK) goto fail;
        return KP_EXIT_OK;
    }
    st = kpDecode_module(bytes.data, bytes.len, &m, &err);
    kpBuf_free(&bytes);
    if (st != KAPSUL_OK) goto fail;
    printf("%s: module version 1, %zu bytes\n\n", path, m->size);
    print_sections(m);
    printf("\n");
    print_definitions(m);
    print_uses(m);
    print_totals(m);
    kpModule_free(m);
    return KP_EXIT_OK;
fail:
    kpCli_printError(stderr, path, &err);
    return kpCli_exitFor(st);
}
