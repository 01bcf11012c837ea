/*
 * test_opcodes.c -- every instruction of module/opcodes.def (single-byte, 0xFC and 0xFD) reaches
 * the engine: for each row a minimal valid function that uses it is built, loaded (decode,
 * validate, lower) and called once. The engine's IR lists the numeric instructions again
 * (engine/ir.h), and a row missing there shows up only as "not supported by the engine yet" when a
 * module uses it; this test makes that a test failure instead, naming the instruction.
 *
 * Operands come from the row's signature (constants of 1, so no division traps); results are
 * dropped. Instructions the validator types itself ("*") get a hand-written snippet. Calling may
 * trap (unreachable, a null call_indirect); anything else but success fails.
 */
#include <stdint.h>
#include <string.h>

#include "kapsul.h"
#include "module/opcodes.h"
#include "test.h"

typedef struct buf {
    uint8_t b[512];
    size_t n;
} buf;

static void put(buf *o, const void *p, size_t n) {
    if (o->n + n > sizeof o->b) n = 0; /* never happens with the snippets below */
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void byte(buf *o, uint8_t v) { put(o, &v, 1); }
static void bytes(buf *o, const char *s, size_t n) { put(o, s, n); }
#define LIT(o, s) bytes((o), (s), sizeof(s) - 1)
static void uleb(buf *o, uint32_t v) {
    do {
        uint8_t c = v & 0x7F;
        v >>= 7;
        byte(o, (uint8_t)(c | (v ? 0x80 : 0)));
    } while (v);
}

/* A constant 1 of a signature letter's type. */
static void push_one(buf *o, char t) {
    switch (t) {
    case 'i': LIT(o, "\x41\x01"); break;
    case 'I': LIT(o, "\x42\x01"); break;
    case 'f': LIT(o, "\x43\x00\x00\x80\x3f"); break;
    case 'F': LIT(o, "\x44\x00\x00\x00\x00\x00\x00\xf0\x3f"); break;
    case 'V':
        LIT(o, "\xfd\x0c");
        for (int i = 0; i < 16; i++) byte(o, 1);
        break;
    }
}

/* The opcode bytes and immediates of row op (indices 0; lanes 0; natural alignment). */
static void encode(buf *o, int op) {
    const kpOpInfo *in = &kpOp_info[op];
    if (in->prefix) {
        byte(o, in->prefix);
        uleb(o, in->code);
    } else {
        byte(o, (uint8_t)in->code);
    }
    switch (in->imm) {
    case kpImm_MEMARG:
        uleb(o, in->align);
        byte(o, 0);
        break;
    case kpImm_MEMLANE:
        uleb(o, in->align);
        byte(o, 0);
        byte(o, 0);
        break;
    case kpImm_LANE: byte(o, 0); break;
    case kpImm_MEMIDX:
    case kpImm_DATA:
    case kpImm_ELEM:
    case kpImm_TABLE:
    case kpImm_I32:
    case kpImm_I64: byte(o, 0); break;
    case kpImm_MEMINIT:
    case kpImm_MEMCOPY:
    case kpImm_TABLEINIT:
    case kpImm_TABLECOPY:
        byte(o, 0);
        byte(o, 0);
        break;
    case kpImm_F32: LIT(o, "\x00\x00\x00\x00"); break;
    case kpImm_F64: LIT(o, "\x00\x00\x00\x00\x00\x00\x00\x00"); break;
    case kpImm_V128:
        for (int i = 0; i < 16; i++) byte(o, 0);
        break;
    case kpImm_SHUFFLE:
        for (int i = 0; i < 16; i++) byte(o, (uint8_t)i);
        break;
    default: break;
    }
}

/* Instructions typed by the validator itself: a snippet that uses each, leaving the stack empty.
 * Function 1 is an empty () -> () function; local 0 is an i32; global 0 a mutable i32; table 0
 * a funcref table of one element; element and data segment 0 are passive. */
static int snippet(buf *o, int op) {
    switch (op) {
    case kpOp_BLOCK: LIT(o, "\x02\x40\x0b"); return 1;
    case kpOp_LOOP: LIT(o, "\x03\x40\x0b"); return 1;
    case kpOp_IF: LIT(o, "\x41\x01\x04\x40\x0b"); return 1;
    case kpOp_ELSE: LIT(o, "\x41\x01\x04\x40\x05\x0b"); return 1;
    case kpOp_END: LIT(o, "\x02\x40\x0b"); return 1;
    case kpOp_BR: LIT(o, "\x02\x40\x0c\x00\x0b"); return 1;
    case kpOp_BR_IF: LIT(o, "\x02\x40\x41\x01\x0d\x00\x0b"); return 1;
    case kpOp_BR_TABLE: LIT(o, "\x02\x40\x41\x00\x0e\x00\x00\x0b"); return 1;
    case kpOp_RETURN: LIT(o, "\x0f"); return 1;
    case kpOp_CALL: LIT(o, "\x10\x01"); return 1;
    case kpOp_CALL_INDIRECT: LIT(o, "\x41\x00\x11\x00\x00"); return 1;
    case kpOp_DROP: LIT(o, "\x41\x00\x1a"); return 1;
    case kpOp_SELECT: LIT(o, "\x41\x01\x41\x02\x41\x00\x1b\x1a"); return 1;
    case kpOp_SELECT_T: LIT(o, "\x41\x01\x41\x02\x41\x00\x1c\x01\x7f\x1a"); return 1;
    case kpOp_LOCAL_GET: LIT(o, "\x20\x00\x1a"); return 1;
    case kpOp_LOCAL_SET: LIT(o, "\x41\x00\x21\x00"); return 1;
    case kpOp_LOCAL_TEE: LIT(o, "\x41\x00\x22\x00\x1a"); return 1;
    case kpOp_GLOBAL_GET: LIT(o, "\x23\x00\x1a"); return 1;
    case kpOp_GLOBAL_SET: LIT(o, "\x41\x00\x24\x00"); return 1;
    case kpOp_TABLE_GET: LIT(o, "\x41\x00\x25\x00\x1a"); return 1;
    case kpOp_TABLE_SET: LIT(o, "\x41\x00\xd0\x70\x26\x00"); return 1;
    case kpOp_REF_NULL: LIT(o, "\xd0\x70\x1a"); return 1;
    case kpOp_REF_IS_NULL: LIT(o, "\xd0\x70\xd1\x1a"); return 1;
    case kpOp_REF_FUNC: LIT(o, "\xd2\x00\x1a"); return 1;
    case kpOp_TABLE_GROW: LIT(o, "\xd0\x70\x41\x00\xfc\x0f\x00\x1a"); return 1;
    case kpOp_TABLE_FILL: LIT(o, "\x41\x00\xd0\x70\x41\x00\xfc\x11\x00"); return 1;
    default: return 0;
    }
}

/* The body of function 0 for row op: operands, the instruction, drops; 0 if the row's signature
 * is "*" and no snippet exists (a new such row needs one). */
static int body(buf *o, int op) {
    const char *sig = kpOp_info[op].sig;
    if (strcmp(sig, "*") == 0) return snippet(o, op);
    const char *colon = strchr(sig, ':');
    if (!colon) return 0;
    for (const char *p = sig; p < colon; p++) push_one(o, *p);
    encode(o, op);
    for (const char *p = colon + 1; *p; p++) byte(o, 0x1a);
    return 1;
}

static void section(buf *m, uint8_t id, const buf *content) {
    byte(m, id);
    uleb(m, (uint32_t)content->n);
    put(m, content->b, content->n);
}

/* A module around the body: type () -> (), functions 0 (the body, exported as "f") and 1
 * (empty), table, memory, global, a passive element and data segment. */
static void build_module(buf *m, const buf *code) {
    buf s = { 0 };
    m->n = 0;
    LIT(m, "\0asm\x01\x00\x00\x00");
    LIT(&s, "\x01\x60\x00\x00");
    section(m, 1, &s);
    s.n = 0;
    LIT(&s, "\x02\x00\x00");
    section(m, 3, &s);
    s.n = 0;
    LIT(&s, "\x01\x70\x00\x01");
    section(m, 4, &s);
    s.n = 0;
    LIT(&s, "\x01\x00\x01");
    section(m, 5, &s);
    s.n = 0;
    LIT(&s, "\x01\x7f\x01\x41\x00\x0b");
    section(m, 6, &s);
    s.n = 0;
    LIT(&s, "\x01\x01"
            "f"
            "\x00\x00");
    section(m, 7, &s);
    s.n = 0;
    LIT(&s, "\x01\x01\x00\x01\x00");
    section(m, 9, &s);
    s.n = 0;
    LIT(&s, "\x01");
    section(m, 12, &s);
    buf f0 = { 0 };
    LIT(&f0, "\x01\x01\x7f"); /* one local: i32 */
    put(&f0, code->b, code->n);
    byte(&f0, 0x0b);
    s.n = 0;
    byte(&s, 2);
    uleb(&s, (uint32_t)f0.n);
    put(&s, f0.b, f0.n);
    LIT(&s, "\x02\x00\x0b");
    section(m, 10, &s);
    s.n = 0;
    LIT(&s, "\x01\x01\x01\x2a");
    section(m, 11, &s);
}

/* Load, instantiate and call one row's function; 0 on success (a trap counts as success). */
static int run_row(kapsul_engine *e, int op) {
    buf code = { 0 }, mod = { 0 };
    if (!body(&code, op)) {
        fprintf(stderr, "%s: no snippet for this \"*\" instruction; add one to test_opcodes.c\n",
                kpOp_info[op].name);
        return 1;
    }
    build_module(&mod, &code);
    kapsul_error err;
    kapsul_module *m = NULL;
    if (kapsul_module_new(e, mod.b, mod.n, &m, &err) != KAPSUL_OK) {
        fprintf(stderr, "%s (prefix 0x%02x, code 0x%02x): %s\n", kpOp_info[op].name, kpOp_info[op].prefix,
                kpOp_info[op].code, err.message);
        return 1;
    }
    int rc = 1;
    kapsul_store *s;
    CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK);
    kapsul_linker *l = NULL;
    if (s) kapsul_linker_new(s, &l, NULL);
    kapsul_instance *inst = NULL;
    if (!l || kapsul_linker_instantiate(l, m, &inst, &err) != KAPSUL_OK) {
        fprintf(stderr, "%s: instantiation failed\n", kpOp_info[op].name);
        goto out;
    }
    kapsul_func *f = kapsul_instance_func(inst, "f");
    kapsul_status st = f ? kapsul_func_call(s, f, NULL, 0, NULL, 0, &err) : KAPSUL_ERR_NOT_FOUND;
    if (st != KAPSUL_OK && st != KAPSUL_ERR_TRAP) {
        fprintf(stderr, "%s: call failed (status %d): %s\n", kpOp_info[op].name, (int)st, err.message);
        goto out;
    }
    rc = 0;
out:
    kapsul_linker_free(l);
    kapsul_store_free(s);
    kapsul_module_free(m);
    return rc;
}

int main(void) {
    kapsul_engine *e;
    CHECK(kapsul_engine_new(NULL, &e, NULL) == KAPSUL_OK);
    CHECK(e != NULL);
    if (!e) return kpt_finish();
    int families[3] = { 0, 0, 0 };
    for (int op = 0; op < kpOp_COUNT; op++) {
        int fam = kpOp_info[op].prefix == 0 ? 0 : kpOp_info[op].prefix == 0xFC ? 1 : 2;
        int failed = run_row(e, op);
        CHECK(!failed);
        if (!failed) families[fam]++;
    }
    printf("instructions that load and run: %d single-byte, %d 0xFC, %d 0xFD (of %d rows)\n", families[0],
           families[1], families[2], (int)kpOp_COUNT);
    /* The walk saw all three families (a broken table would make it vacuous). */
    CHECK(families[0] > 150 && families[1] >= 18 && families[2] > 200);
    kapsul_engine_free(e);
    return kpt_finish();
}
