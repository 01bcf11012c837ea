/*
 * test_decode.c -- the binary decoder on hand-built modules: every section, every malformed case
 * the spec names, the implementation limits, hostile counts and allocation failure.
 */
#include <stdlib.h>

#include "module/debuginfo.h"
#include "module/module.h"
#include "module/opcodes.h"
#include "test.h"

/* ---- A tiny module builder ----------------------------------------------------------------- */
#include "mb.h"

static mb start(void) {
    mb m = { 0 };
    put(&m, "\0asm\1\0\0\0", 8);
    return m;
}
static void section(mb *m, uint8_t id, const void *c, size_t n) {
    put_u8(m, id);
    put_u32(m, (uint32_t)n);
    put(m, c, n);
}
#define SEC(m, id, ...)                              \
    do {                                             \
        static const uint8_t c_[] = { __VA_ARGS__ }; \
        section(m, id, c_, sizeof c_);               \
    } while (0)
#define RAW(m, ...)                                  \
    do {                                             \
        static const uint8_t c_[] = { __VA_ARGS__ }; \
        put(m, c_, sizeof c_);                       \
    } while (0)

static kapsul_error err;

static kapsul_status decode(mb *m, kpModule **out) {
    kpModule *tmp;
    kapsul_status st = kpDecode_module(m->b, m->n, out ? out : &tmp, &err);
    if (!out && st == KAPSUL_OK) kpModule_free(tmp);
    return st;
}

/* Decode and expect a status and (prefix of) message; frees the builder. */
static int expect(mb *m, kapsul_status want, const char *msg, int line) {
    kapsul_status st = decode(m, NULL);
    free(m->b);
    int ok = st == want && (want == KAPSUL_OK || strncmp(err.message, msg, strlen(msg)) == 0);
    if (!ok)
        fprintf(stderr, "line %d: got %d '%s', want %d '%s'\n", line, st, st ? err.message : "", want, msg);
    return ok;
}
#define EXPECT(m, st, msg) CHECK(expect(&(m), st, msg, __LINE__))
#define MALFORMED(m, msg) EXPECT(m, KAPSUL_ERR_MALFORMED, msg)

/* ---- Header and section framing ------------------------------------------------------------- */

static void test_header(void) {
    mb m = { 0 };
    MALFORMED(m, "unexpected end");
    m = (mb){ 0 };
    RAW(&m, 0x00, 'a', 's');
    MALFORMED(m, "unexpected end");
    m = (mb){ 0 };
    RAW(&m, 'a', 's', 'm', 0x00);
    MALFORMED(m, "magic header not detected");
    m = (mb){ 0 };
    RAW(&m, 0x00, 'a', 's', 'm', 1, 0, 0);
    MALFORMED(m, "unexpected end");
    m = (mb){ 0 };
    RAW(&m, 0x00, 'a', 's', 'm', 2, 0, 0, 0);
    MALFORMED(m, "unknown binary version");
    m = start();
    EXPECT(m, KAPSUL_OK, "");
    m = (mb){ 0 };
    RAW(&m, 0x00, 'a', 's', 'm', 1, 0, 0, 1);
    MALFORMED(m, "unknown binary version");
    CHECK(err.offset == 4);
}

static void test_framing(void) {
    mb m = start();
    SEC(&m, 13, 0);
    MALFORMED(m, "malformed section id");
    m = start();
    RAW(&m, 0x80, 0x01, 0x00);
    MALFORMED(m, "malformed section id");
    m = start();
    RAW(&m, 0x01);
    MALFORMED(m, "unexpected end");
    m = start();
    RAW(&m, 0x01, 0x05, 0x01, 0x60);
    MALFORMED(m, "length out of bounds");
    m = start();
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00, 0x00); /* one byte too many */
    MALFORMED(m, "section size mismatch");
    m = start();
    SEC(&m, 1, 0x00);
    SEC(&m, 1, 0x00);
    MALFORMED(m, "unexpected content after last section");
    m = start();
    SEC(&m, 3, 0x00);
    SEC(&m, 1, 0x00);
    MALFORMED(m, "unexpected content after last section");
    m = start();
    SEC(&m, 10, 0x00);
    SEC(&m, 12, 0x00); /* data count after code */
    MALFORMED(m, "unexpected content after last section");
    m = start();
    SEC(&m, 12, 0x00);
    SEC(&m, 12, 0x00);
    MALFORMED(m, "unexpected content after last section");
    /* Data count sits between element and code; customs go anywhere, any number of times. */
    m = start();
    SEC(&m, 0, 0x01, 'a', 1, 2, 3);
    SEC(&m, 1, 0x00);
    SEC(&m, 0, 0x01, 'b');
    SEC(&m, 9, 0x00);
    SEC(&m, 12, 0x00);
    SEC(&m, 10, 0x00);
    SEC(&m, 11, 0x00);
    SEC(&m, 0, 0x00);
    kpModule *mod = NULL;
    CHECK(decode(&m, &mod) == KAPSUL_OK);
    free(m.b);
    if (mod) {
        CHECK(mod->ncustoms == 3);
        CHECK(mod->customs[0].name_len == 1 && mod->customs[0].name[0] == 'a');
        CHECK(mod->customs[0].bytes.len == 3 && mod->bytes[mod->customs[0].bytes.start] == 1);
        CHECK(mod->customs[1].bytes.len == 0 && mod->customs[2].name_len == 0);
        CHECK(mod->has_data_count && mod->data_count == 0);
        kpModule_free(mod);
    }
    m = start();
    SEC(&m, 0, 0x02, 0xC0, 0x80);
    MALFORMED(m, "malformed UTF-8 encoding");
    m = start();
    SEC(&m, 0);
    MALFORMED(m, "unexpected end");
}

static void test_leb(void) {
    mb m = start();
    SEC(&m, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00); /* 6-byte u32 */
    MALFORMED(m, "integer representation too long");
    m = start();
    SEC(&m, 1, 0x80, 0x80, 0x80, 0x80, 0x70); /* unused bits set */
    MALFORMED(m, "integer too large");
    m = start();
    SEC(&m, 1, 0x81, 0x80, 0x80, 0x80, 0x00, 0x60, 0x00, 0x00); /* padded 1 is fine */
    EXPECT(m, KAPSUL_OK, "");
}

/* ---- Types and imports ------------------------------------------------------------------------ */

static void test_types(void) {
    mb m = start();
    SEC(&m, 1, 0x02, 0x60, 0x02, 0x7F, 0x7B, 0x01, 0x6F, 0x60, 0x00, 0x00);
    kpModule *mod = NULL;
    CHECK(decode(&m, &mod) == KAPSUL_OK);
    free(m.b);
    if (mod) {
        CHECK(mod->ntypes == 2);
        CHECK(mod->types[0].nparams == 2 && mod->types[0].nresults == 1);
        CHECK(kpFuncType_params(&mod->types[0])[1] == kpT_V128);
        CHECK(kpFuncType_results(&mod->types[0])[0] == kpT_EXTERNREF);
        CHECK(!kpModule_typeEqual(&mod->types[0], &mod->types[1]));
        CHECK(kpModule_typeEqual(&mod->types[1], &mod->types[1]));
        kpModule_free(mod);
    }
    m = start();
    SEC(&m, 1, 0x01, 0x60, 0x01, 0x7A, 0x00);
    MALFORMED(m, "malformed value type");
    m = start();
    SEC(&m, 1, 0x01, 0x61, 0x00, 0x00);
    MALFORMED(m, "malformed function type");
    m = start();
    SEC(&m, 1, 0x01, 0xE0, 0x7F, 0x00, 0x00);
    MALFORMED(m, "integer representation too long");
    m = start();
    SEC(&m, 1, 0x02, 0x60, 0x00, 0x00);
    MALFORMED(m, "unexpected end");
}

static void test_imports(void) {
    mb m = start();
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 2, 0x04, 0x01, 'm', 0x01, 'f', 0x00, 0x00,      /* func type 0 */
        0x01, 'm', 0x01, 't', 0x01, 0x6F, 0x01, 0x01, 0x05, /* table externref 1..5 */
        0x01, 'm', 0x02, 'm', 'm', 0x02, 0x00, 0x02,        /* memory 2.. */
        0x00, 0x00, 0x03, 0x7E, 0x01);                      /* global mut i64, empty names */
    kpModule *mod = NULL;
    CHECK(decode(&m, &mod) == KAPSUL_OK);
    free(m.b);
    if (mod) {
        CHECK(mod->nimports == 4 && mod->nfunc_imports == 1 && mod->ntable_imports == 1);
        CHECK(mod->nmem_imports == 1 && mod->nglobal_imports == 1);
        CHECK(mod->imports[0].module_len == 1 && mod->imports[0].module[0] == 'm');
        CHECK(mod->imports[2].name_len == 2 && memcmp(mod->imports[2].name, "mm", 2) == 0);
        kpTableType tt = kpModule_tableType(mod, 0);
        CHECK(tt.elem == kpT_EXTERNREF && tt.limits.min == 1 && tt.limits.has_max && tt.limits.max == 5);
        CHECK(kpModule_memType(mod, 0).limits.min == 2 && !kpModule_memType(mod, 0).limits.has_max);
        kpGlobalType gt = kpModule_globalType(mod, 0);
        CHECK(gt.type == kpT_I64 && gt.mut);
        CHECK(kpModule_funcTypeIndex(mod, 0) == 0 && kpModule_funcType(mod, 0) == &mod->types[0]);
        CHECK(kpModule_numFuncs(mod) == 1 && kpModule_numGlobals(mod) == 1);
        kpModule_free(mod);
    }
    m = start();
    SEC(&m, 2, 0x01, 0x00, 0x00, 0x04, 0x00);
    MALFORMED(m, "malformed import kind");
    m = start();
    SEC(&m, 2, 0x01, 0x01, 0xFF, 0x00, 0x00, 0x00);
    MALFORMED(m, "malformed UTF-8 encoding");
    m = start();
    SEC(&m, 2, 0x01, 0x00, 0x00, 0x03, 0x7F, 0x02);
    MALFORMED(m, "malformed mutability");
    m = start();
    SEC(&m, 2, 0x01, 0x00, 0x00, 0x01, 0x7F, 0x00, 0x00);
    MALFORMED(m, "malformed reference type");
    m = start();
    SEC(&m, 2, 0x01, 0x00, 0x00, 0x02, 0x02, 0x00);
    MALFORMED(m, "integer too large");
    m = start();
    SEC(&m, 2, 0x01, 0x00, 0x00, 0x02, 0x81, 0x00, 0x00);
    MALFORMED(m, "integer representation too long");
    m = start();
    SEC(&m, 2, 0x01, 0x05, 'a', 'b');
    MALFORMED(m, "unexpected end");
}

/* ---- Functions, tables, memories, globals, exports, start ----------------------------------- */

static void test_functions_and_code(void) {
    mb m = start();
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 3, 0x02, 0x00, 0x00);
    SEC(&m, 10, 0x02, 0x02, 0x00, 0x0B, 0x08, 0x02, 0x03, 0x7F, 0x80, 0x01, 0x7E, 0x01,
        0x0B); /* 3 i32 + 128 i64 locals */
    kpModule *mod = NULL;
    CHECK(decode(&m, &mod) == KAPSUL_OK);
    free(m.b);
    if (mod) {
        CHECK(mod->nfuncs == 2);
        CHECK(mod->funcs[0].nlocals == 0 && mod->funcs[0].body.len == 1);
        CHECK(mod->bytes[mod->funcs[0].body.start] == 0x0B);
        CHECK(mod->funcs[1].nlocals == 131 && mod->funcs[1].nlocal_runs == 2);
        CHECK(mod->funcs[1].local_runs[1].type == kpT_I64 && mod->funcs[1].local_runs[1].count == 128);
        CHECK(mod->funcs[1].body.len == 2);
        kpModule_free(mod);
    }
    m = start();
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 3, 0x02, 0x00, 0x00);
    SEC(&m, 10, 0x01, 0x02, 0x00, 0x0B);
    MALFORMED(m, "function and code section have inconsistent lengths");
    m = start();
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 3, 0x01, 0x00);
    MALFORMED(m, "function and code section have inconsistent lengths");
    m = start();
    SEC(&m, 10, 0x01, 0x02, 0x00, 0x0B);
    MALFORMED(m, "function and code section have inconsistent lengths");
    /* A count mismatch does not hide an earlier-reported ordering error. */
    m = start();
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 3, 0x02, 0x00, 0x00);
    SEC(&m, 10, 0x01, 0x02, 0x00, 0x0B);
    SEC(&m, 10, 0x01, 0x02, 0x00, 0x0B);
    MALFORMED(m, "unexpected content after last section");
    /* Locals: 50,000 are fine, 50,001 are "too many locals", and 2^32-1 never allocates. */
    m = start();
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 3, 0x01, 0x00);
    SEC(&m, 10, 0x01, 0x06, 0x01, 0xD0, 0x86, 0x03, 0x7F, 0x0B);
    EXPECT(m, KAPSUL_OK, "");
    m = start();
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 3, 0x01, 0x00);
    SEC(&m, 10, 0x01, 0x08, 0x02, 0xD0, 0x86, 0x03, 0x7F, 0x01, 0x7E, 0x0B);
    MALFORMED(m, "too many locals");
    m = start();
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 3, 0x01, 0x00);
    SEC(&m, 10, 0x01, 0x0A, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x7F, 0x02, 0x7E, 0x0B);
    MALFORMED(m, "too many locals");
    m = start();
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 3, 0x01, 0x00);
    SEC(&m, 10, 0x01, 0x04, 0x01, 0x01, 0x40, 0x0B);
    MALFORMED(m, "malformed value type");
    m = start();
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 3, 0x01, 0x00);
    SEC(&m, 10, 0x01, 0x05, 0x00, 0x0B); /* body longer than section */
    MALFORMED(m, "unexpected end");
}

static void test_tables_memories_globals(void) {
    mb m = start();
    SEC(&m, 4, 0x02, 0x70, 0x00, 0x01, 0x6F, 0x01, 0x00, 0x80, 0x80, 0x04);
    SEC(&m, 5, 0x01, 0x01, 0x01, 0x02);
    SEC(&m, 6, 0x02, 0x7F, 0x00, 0x41, 0x2A, 0x0B, 0x7D, 0x01, 0x02, 0x40, 0x0B, 0x43, 0x00, 0x00, 0x80, 0x3F,
        0x0B); /* nested block skipped */
    kpModule *mod = NULL;
    CHECK(decode(&m, &mod) == KAPSUL_OK);
    free(m.b);
    if (mod) {
        CHECK(mod->ntables == 2 && mod->tables[0].elem == kpT_FUNCREF && mod->tables[0].limits.min == 1);
        CHECK(mod->tables[1].elem == kpT_EXTERNREF && mod->tables[1].limits.max == 65536);
        CHECK(mod->nmemories == 1 && mod->memories[0].limits.has_max && mod->memories[0].limits.max == 2);
        CHECK(mod->nglobals == 2 && !mod->globals[0].type.mut && mod->globals[1].type.mut);
        CHECK(mod->globals[0].init.len == 3 && mod->bytes[mod->globals[0].init.start] == 0x41);
        CHECK(mod->globals[1].init.len == 9);
        CHECK(kpModule_tableType(mod, 1).elem == kpT_EXTERNREF);
        CHECK(kpModule_globalType(mod, 1).type == kpT_F32);
        kpModule_free(mod);
    }
    /* A constant expression without end runs into the next section's id: not an instruction. */
    m = start();
    SEC(&m, 6, 0x01, 0x7F, 0x00, 0x41, 0x00);
    SEC(&m, 10, 0x00);
    MALFORMED(m, "illegal opcode");
    m = start();
    SEC(&m, 6, 0x01, 0x7F, 0x00, 0x41, 0x00);
    MALFORMED(m, "unexpected end");
    m = start();
    SEC(&m, 6, 0x01, 0x7F, 0x02, 0x41, 0x00, 0x0B);
    MALFORMED(m, "malformed mutability");
    m = start();
    SEC(&m, 4, 0x01, 0x7F, 0x00, 0x00);
    MALFORMED(m, "malformed reference type");
    m = start();
    SEC(&m, 5, 0x01, 0x03, 0x00, 0x00);
    MALFORMED(m, "integer too large");
    m = start();
    SEC(&m, 6, 0x01, 0x7F, 0x00, 0xFC, 0x40, 0x0B);
    MALFORMED(m, "illegal opcode");
}

static void test_exports_start(void) {
    mb m = start();
    SEC(&m, 7, 0x02, 0x01, 'f', 0x00, 0x05, 0x02, 'g', 'h', 0x03, 0x80, 0x01);
    SEC(&m, 8, 0x07);
    kpModule *mod = NULL;
    CHECK(decode(&m, &mod) == KAPSUL_OK);
    free(m.b);
    if (mod) {
        CHECK(mod->nexports == 2 && mod->exports[0].kind == kpExtern_FUNC && mod->exports[0].index == 5);
        CHECK(mod->exports[1].kind == kpExtern_GLOBAL && mod->exports[1].index == 128);
        CHECK(mod->exports[1].name_len == 2 && memcmp(mod->exports[1].name, "gh", 2) == 0);
        CHECK(mod->has_start && mod->start == 7);
        kpModule_free(mod);
    }
    m = start();
    SEC(&m, 7, 0x01, 0x00, 0x04, 0x00);
    MALFORMED(m, "malformed export kind");
    m = start();
    SEC(&m, 8, 0x00, 0x00);
    MALFORMED(m, "section size mismatch");
}

/* ---- Element and data segments --------------------------------------------------------------- */

static void test_elems(void) {
    mb m = start();
    SEC(&m, 9, 0x08, 0x00, 0x41, 0x01, 0x0B, 0x02, 0x00, 0x01,      /* 0: active table 0, funcs */
        0x01, 0x00, 0x01, 0x02,                                     /* 1: passive, elemkind, funcs */
        0x02, 0x03, 0x41, 0x00, 0x0B, 0x00, 0x00,                   /* 2: active table 3, no items */
        0x03, 0x00, 0x01, 0x04,                                     /* 3: declarative funcs */
        0x04, 0x41, 0x00, 0x0B, 0x01, 0xD2, 0x00, 0x0B,             /* 4: active, exprs */
        0x05, 0x6F, 0x02, 0xD0, 0x6F, 0x0B, 0xD0, 0x6F, 0x0B,       /* 5: passive externref exprs */
        0x06, 0x01, 0x41, 0x00, 0x0B, 0x70, 0x01, 0xD0, 0x70, 0x0B, /* 6: active table 1 exprs */
        0x07, 0x70, 0x01, 0xD2, 0x05, 0x0B);                        /* 7: declarative exprs */
    kpModule *mod = NULL;
    CHECK(decode(&m, &mod) == KAPSUL_OK);
    free(m.b);
    if (mod) {
        kpElem *e = mod->elems;
        CHECK(mod->nelems == 8);
        CHECK(e[0].mode == kpSeg_ACTIVE && e[0].table == 0 && e[0].count == 2 && e[0].funcs && !e[0].exprs);
        CHECK(e[0].funcs[1] == 1 && e[0].offset.len == 3 && e[0].type == kpT_FUNCREF);
        CHECK(e[1].mode == kpSeg_PASSIVE && e[1].count == 1 && e[1].funcs[0] == 2);
        CHECK(e[2].mode == kpSeg_ACTIVE && e[2].table == 3 && e[2].count == 0);
        CHECK(e[3].mode == kpSeg_DECLARATIVE && e[3].funcs[0] == 4);
        CHECK(e[4].mode == kpSeg_ACTIVE && e[4].exprs && !e[4].funcs && e[4].exprs[0].len == 3);
        CHECK(e[5].mode == kpSeg_PASSIVE && e[5].type == kpT_EXTERNREF && e[5].count == 2);
        CHECK(e[6].mode == kpSeg_ACTIVE && e[6].table == 1 && e[6].type == kpT_FUNCREF);
        CHECK(e[7].mode == kpSeg_DECLARATIVE && e[7].count == 1);
        kpModule_free(mod);
    }
    m = start();
    SEC(&m, 9, 0x01, 0x08, 0x00);
    MALFORMED(m, "malformed elements segment kind");
    m = start();
    SEC(&m, 9, 0x01, 0x01, 0x01, 0x00);
    MALFORMED(m, "malformed element kind");
    m = start();
    SEC(&m, 9, 0x01, 0x05, 0x7F, 0x00);
    MALFORMED(m, "malformed reference type");
    m = start();
    SEC(&m, 9, 0x02, 0x01, 0x00, 0x00);
    MALFORMED(m, "unexpected end");
}

static void test_datas(void) {
    mb m = start();
    SEC(&m, 12, 0x03);
    SEC(&m, 11, 0x03, 0x00, 0x41, 0x08, 0x0B, 0x02, 'h', 'i', 0x01, 0x03, 'a', 'b', 'c', 0x02, 0x00, 0x41,
        0x00, 0x0B, 0x00);
    kpModule *mod = NULL;
    CHECK(decode(&m, &mod) == KAPSUL_OK);
    free(m.b);
    if (mod) {
        CHECK(mod->ndatas == 3 && mod->datas[0].mode == kpSeg_ACTIVE && mod->datas[0].bytes.len == 2);
        CHECK(mod->bytes[mod->datas[0].bytes.start] == 'h');
        CHECK(mod->datas[1].mode == kpSeg_PASSIVE && mod->datas[1].bytes.len == 3);
        CHECK(mod->datas[2].mode == kpSeg_ACTIVE && mod->datas[2].memory == 0 &&
              mod->datas[2].bytes.len == 0);
        kpModule_free(mod);
    }
    m = start();
    SEC(&m, 12, 0x02);
    SEC(&m, 11, 0x01, 0x01, 0x00);
    MALFORMED(m, "data count and data section have inconsistent lengths");
    m = start();
    SEC(&m, 12, 0x01);
    MALFORMED(m, "data count and data section have inconsistent lengths");
    m = start();
    SEC(&m, 12, 0x00);
    EXPECT(m, KAPSUL_OK, "");
    m = start();
    SEC(&m, 11, 0x01, 0x03, 0x00);
    MALFORMED(m, "malformed data segment kind");
    m = start();
    SEC(&m, 11, 0x01, 0x01, 0x07, 'a');
    MALFORMED(m, "unexpected end");
}

/* ---- The name section ------------------------------------------------------------------------ */

static void test_names(void) {
    mb m = start();
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 2, 0x01, 0x00, 0x00, 0x00, 0x00);
    SEC(&m, 3, 0x01, 0x00);
    SEC(&m, 10, 0x01, 0x02, 0x00, 0x0B);
    SEC(&m, 0, 0x04, 'n', 'a', 'm', 'e', 0x00, 0x02, 0x01, 'M', /* module name: skipped */
        0x01, 0x0B, 0x03, 0x00, 0x01, 'i', 0x01, 0x02, 'd', 'f', 0x09, 0x01, 'x');
    kpModule *mod = NULL;
    CHECK(decode(&m, &mod) == KAPSUL_OK);
    free(m.b);
    if (mod) {
        CHECK(mod->func_names && mod->nfunc_names == 2);
        if (mod->func_names) {
            CHECK(strcmp(mod->func_names[0], "i") == 0);
            CHECK(strcmp(mod->func_names[1], "df") == 0);
        }
        kpModule_free(mod);
    }
    /* Malformed name sections are ignored, not errors. */
    m = start();
    SEC(&m, 0, 0x04, 'n', 'a', 'm', 'e', 0x01, 0x05, 0x01, 0x00, 0x05, 'a', 'b');
    mod = NULL;
    CHECK(decode(&m, &mod) == KAPSUL_OK);
    free(m.b);
    if (mod) {
        CHECK(mod->func_names == NULL);
        kpModule_free(mod);
    }
    m = start();
    SEC(&m, 0, 0x04, 'n', 'a', 'm', 'e', 0x01, 0x04, 0x01, 0x00, 0x01, 0xFF);
    EXPECT(m, KAPSUL_OK, "");
}

/* ---- Hostile counts and implementation limits ------------------------------------------------ */

static void test_counts_and_limits(void) {
    /* A huge count with a few bytes left is malformed at once, never a giant allocation. */
    static const uint8_t ids[] = { 1, 2, 3, 4, 5, 6, 7, 9, 11 };
    for (size_t i = 0; i < sizeof ids; i++) {
        mb m = start();
        SEC(&m, ids[i], 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 0x00, 0x00);
        MALFORMED(m, "unexpected end");
    }
    mb m = start();
    SEC(&m, 1, 0x01, 0x60, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00);
    MALFORMED(m, "unexpected end");
    m = start();
    SEC(&m, 9, 0x01, 0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F);
    MALFORMED(m, "unexpected end");

    /* Plausible but over the limit: KAPSUL_ERR_LIMIT. */
    m = start();
    {
        mb c = { 0 };
        put_u8(&c, 0x01);
        put_u8(&c, 0x60);
        put_u32(&c, KP_MAX_PARAMS + 1);
        for (uint32_t i = 0; i <= KP_MAX_PARAMS; i++) put_u8(&c, 0x7F);
        put_u8(&c, 0x00);
        section(&m, 1, c.b, c.n);
        free(c.b);
    }
    EXPECT(m, KAPSUL_ERR_LIMIT, "too many parameters");
    m = start();
    {
        mb c = { 0 };
        put_u8(&c, 0x01);
        put_u8(&c, 0x60);
        put_u8(&c, 0x00);
        put_u32(&c, KP_MAX_RESULTS);
        for (uint32_t i = 0; i < KP_MAX_RESULTS; i++) put_u8(&c, 0x7F);
        section(&m, 1, c.b, c.n);
        free(c.b);
    }
    EXPECT(m, KAPSUL_OK, "");
    m = start();
    {
        mb c = { 0 };
        put_u32(&c, KP_MAX_TYPES + 1);
        for (uint32_t i = 0; i <= KP_MAX_TYPES; i++) put(&c, "\x60\x00\x00", 3);
        section(&m, 1, c.b, c.n);
        free(c.b);
    }
    EXPECT(m, KAPSUL_ERR_LIMIT, "too many types");
    m = start();
    {
        mb c = { 0 };
        put_u32(&c, KP_MAX_IMPORTS + 1);
        for (uint32_t i = 0; i <= KP_MAX_IMPORTS; i++) put(&c, "\x00\x00\x00\x00", 4);
        section(&m, 2, c.b, c.n);
        free(c.b);
    }
    EXPECT(m, KAPSUL_ERR_LIMIT, "too many imports");
    m = start();
    {
        mb c = { 0 };
        put_u32(&c, KP_MAX_EXPORTS + 1);
        for (uint32_t i = 0; i <= KP_MAX_EXPORTS; i++) put(&c, "\x00\x00\x00", 3);
        section(&m, 7, c.b, c.n);
        free(c.b);
    }
    EXPECT(m, KAPSUL_ERR_LIMIT, "too many exports");
    m = start();
    {
        mb c = { 0 };
        put_u32(&c, KP_MAX_FUNCS + 1);
        for (uint32_t i = 0; i <= KP_MAX_FUNCS; i++) put_u8(&c, 0x00);
        section(&m, 3, c.b, c.n);
        free(c.b);
    }
    EXPECT(m, KAPSUL_ERR_LIMIT, "too many functions");
    m = start();
    {
        mb c = { 0 };
        put_u32(&c, KP_MAX_SEGMENTS + 1);
        for (uint32_t i = 0; i <= KP_MAX_SEGMENTS; i++) put(&c, "\x01\x00", 2);
        section(&m, 11, c.b, c.n);
        free(c.b);
    }
    EXPECT(m, KAPSUL_ERR_LIMIT, "too many data segments");
}

/* ---- The instruction decoder ------------------------------------------------------------------ */

static bool decode_one(const uint8_t *b, size_t n, kpInstr *in, const char **error) {
    kpReader r;
    kpRead_init(&r, b, b, b + n);
    bool ok = kpDecode_instr(&r, in);
    *error = r.error;
    return ok && r.p == r.end;
}

static void test_instr(void) {
    kpInstr in;
    const char *e;
    CHECK(decode_one((const uint8_t *)"\x0E\x02\x00\x01\x02", 5, &in, &e));
    CHECK(in.op == kpOp_BR_TABLE && in.count == 2 && in.a == 2 && in.bytes[1] == 0x01);
    CHECK(decode_one((const uint8_t *)"\x28\x02\x80\x01", 4, &in, &e));
    CHECK(in.op == kpOp_I32_LOAD && in.a == 2 && in.b == 128);
    CHECK(!decode_one((const uint8_t *)"\x28\x20\x00", 3, &in, &e) &&
          strcmp(e, "malformed memop flags") == 0);
    CHECK(decode_one((const uint8_t *)"\x41\x7F", 2, &in, &e) && in.bits == 0xFFFFFFFFu);
    CHECK(decode_one((const uint8_t *)"\x42\x7F", 2, &in, &e) && in.bits == UINT64_MAX);
    CHECK(decode_one((const uint8_t *)"\x44\0\0\0\0\0\0\xF0\x3F", 9, &in, &e) &&
          in.bits == 0x3FF0000000000000ull);
    CHECK(decode_one((const uint8_t *)"\x02\x40", 2, &in, &e) && in.block_kind == kpBlock_EMPTY);
    CHECK(decode_one((const uint8_t *)"\x03\x7B", 2, &in, &e) && in.block_kind == kpBlock_VAL &&
          in.type == kpT_V128);
    CHECK(decode_one((const uint8_t *)"\x04\x05", 2, &in, &e) && in.block_kind == kpBlock_TYPE && in.a == 5);
    CHECK(!decode_one((const uint8_t *)"\x02\x7A", 2, &in, &e) && strcmp(e, "malformed value type") == 0);
    CHECK(decode_one((const uint8_t *)"\x1C\x01\x7E", 3, &in, &e) && in.op == kpOp_SELECT_T && in.a == 1 &&
          in.type == kpT_I64);
    CHECK(decode_one((const uint8_t *)"\xD0\x6F", 2, &in, &e) && in.type == kpT_EXTERNREF);
    CHECK(!decode_one((const uint8_t *)"\xD0\x7F", 2, &in, &e) && strcmp(e, "malformed reference type") == 0);
    CHECK(!decode_one((const uint8_t *)"\x3F\x01", 2, &in, &e) && strcmp(e, "zero byte expected") == 0);
    CHECK(!decode_one((const uint8_t *)"\x40\x80\x00", 3, &in, &e) && strcmp(e, "zero byte expected") == 0);
    CHECK(decode_one((const uint8_t *)"\xFC\x08\x03\x00", 4, &in, &e) && in.op == kpOp_MEMORY_INIT &&
          in.a == 3);
    CHECK(decode_one((const uint8_t *)"\xFC\x0E\x01\x02", 4, &in, &e) && in.op == kpOp_TABLE_COPY &&
          in.b == 2);
    CHECK(decode_one((const uint8_t *)"\xFC\x88\x00\x03\x00", 5, &in, &e) && in.op == kpOp_MEMORY_INIT &&
          in.a == 3);
    CHECK(!decode_one((const uint8_t *)"\xFC\x12", 2, &in, &e) && strcmp(e, "illegal opcode") == 0);
    CHECK(!decode_one((const uint8_t *)"\x06", 1, &in, &e) &&
          strncmp(e, "illegal opcode (try/catch/throw", 28) == 0);
    CHECK(!decode_one((const uint8_t *)"\x41\x80", 2, &in, &e) && strcmp(e, "unexpected end") == 0);
    CHECK(!decode_one((const uint8_t *)"\x0E\xFF\xFF\xFF\xFF\x0F\x00", 7, &in, &e) &&
          strcmp(e, "unexpected end") == 0);
}

/* ---- Allocation failure ------------------------------------------------------------------------ */

static void test_nomem(void) {
    mb m = start();
    SEC(&m, 1, 0x01, 0x60, 0x01, 0x7F, 0x00);
    SEC(&m, 2, 0x01, 0x00, 0x00, 0x00, 0x00);
    SEC(&m, 3, 0x01, 0x00);
    SEC(&m, 4, 0x01, 0x70, 0x00, 0x01);
    SEC(&m, 6, 0x01, 0x7F, 0x00, 0x41, 0x00, 0x0B);
    SEC(&m, 7, 0x01, 0x01, 'f', 0x00, 0x01);
    SEC(&m, 9, 0x01, 0x00, 0x41, 0x00, 0x0B, 0x01, 0x01);
    SEC(&m, 12, 0x01);
    SEC(&m, 10, 0x01, 0x04, 0x01, 0x01, 0x7F, 0x0B);
    SEC(&m, 11, 0x01, 0x01, 0x01, 'x');
    SEC(&m, 0, 0x04, 'n', 'a', 'm', 'e', 0x01, 0x04, 0x01, 0x01, 0x01, 'f');
    int saw_ok = 0, bad = 0;
    for (long n = 0; n < 60; n++) {
        kpModule *mod = NULL;
        kpAlloc_failAfter(n);
        kapsul_status st = kpDecode_module(m.b, m.n, &mod, &err);
        if (st == KAPSUL_OK) st = kpValidate_module(mod, &err);
        kpAlloc_failAfter(-1);
        if (st == KAPSUL_OK) saw_ok++;
        else if (st != KAPSUL_ERR_NOMEM) bad++;
        kpModule_free(mod);
    }
    CHECK(bad == 0);
    CHECK(saw_ok > 0);
    free(m.b);
}

/* Backtrace names: Rust legacy (hash dropped) and v0, C++ Itanium; anything else is left as is. */
static int demangles_to(const char *mangled, const char *want) {
    char *d = kpDebug_demangle(mangled);
    int ok = want ? d && strcmp(d, want) == 0 : d == NULL;
    if (!ok) fprintf(stderr, "  %s -> %s (want %s)\n", mangled, d ? d : "NULL", want ? want : "NULL");
    kp_free(d);
    return ok;
}

static void test_demangle(void) {
    CHECK(demangles_to("_ZN3std9panicking20rust_panic_with_hook17h6ac91e5a1a4f4b2eE",
                       "std::panicking::rust_panic_with_hook"));
    CHECK(demangles_to("_RNvCs15kBYyAo9fc_7mycrate7example", "mycrate::example"));
    CHECK(demangles_to("_ZNSt6vectorIiSaIiEE9push_backERKi",
                       "std::vector<int, std::allocator<int> >::push_back(int const&)"));
    CHECK(demangles_to("_Z3fooi", "foo(int)"));
    CHECK(demangles_to("main", NULL) && demangles_to("__original_main", NULL) && demangles_to("_Z", NULL));
    CHECK(demangles_to("_RNvC", NULL)); /* truncated v0: not demangled, no crash */
}

int main(void) {
    test_demangle();
    test_header();
    test_framing();
    test_leb();
    test_types();
    test_imports();
    test_functions_and_code();
    test_tables_memories_globals();
    test_exports_start();
    test_elems();
    test_datas();
    test_names();
    test_counts_and_limits();
    test_instr();
    test_nomem();
    return kpt_finish();
}
