/*
 * test_cabi.c -- the canonical ABI (src/component/cabi.c) on hand-built memories: layout and
 * flattening, store/load and lower/lift round trips for every kind of value type, the three
 * string encodings, function signatures past the flat limits (arguments and results through
 * memory), resource handle tables, and every trap a guest's bad values must cause: out-of-bounds
 * and misaligned pointers, bad discriminants, invalid chars, invalid UTF-8 and UTF-16, unknown or
 * unowned handles, and a realloc that misbehaves.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "component/cabi.h"
#include "test.h"

/* Types 0..N of one type section, in order (each a value type, so type id == index). */
static const uint8_t types[] = {
    0x73,                                                          /* 0 string */
    0x70, 0x7d,                                                    /* 1 list<u8> */
    0x72, 3,    1,    'a',  0x7d, 1,   'b', 0x79, 1,   'c',  0x73, /* 2 record {a: u8, b: u32, c: string} */
    0x71, 3,    1,    'x',  0,    0,   1,   'y',  1,   0x77, 0,    1,   'z', 1,   0x76, 0, /* 3 variant {x, y(u64), z(f32)} */
    0x6b, 0x73,                                  /* 4 option<string> */
    0x6a, 1,    0x79, 1,    0x73,                /* 5 result<u32, string> */
    0x6d, 3,    1,    'p',  1,    'q', 1,   'r', /* 6 enum {p, q, r} */
    0x6e, 9,    2,    'f',  '0',  2,   'f', '1',  2,   'f',  '2',  2,   'f', '3', 2,    'f', '4',
    2,    'f',  '5',  2,    'f',  '6', 2,   'f',  '7', 2,    'f',  '8', /* 7 flags, 9 labels */
    0x6f, 3,    0x74, 0x7f, 0x7c,                                       /* 8 tuple<char, bool, s16> */
    0x3f, 0x7f, 0x00,                                                   /* 9 resource */
    0x69, 9,                                                            /* 10 own<9> */
    0x68, 9,                                                            /* 11 borrow<9> */
    0x70, 0x01,                                                         /* 12 list<list<u8>> */
    0x70, 0x79,                                                         /* 13 list<u32> */
};
#define NTYPES 14

static kpComponent *comp;
static uint8_t mem[1 << 16];
static uint32_t heap; /* bump pointer of the test realloc */
static bool realloc_lies;
static kpCHandles handles;
static kpCArena arena;

static int test_realloc(kpCabiCx *cx, uint32_t old, uint32_t old_size, uint32_t align, uint32_t size,
                        uint32_t *out) {
    (void)cx, (void)old, (void)old_size;
    if (realloc_lies) {
        *out = (uint32_t)sizeof mem - 2; /* out of bounds for anything longer than 2 */
        return 0;
    }
    heap = (heap + align - 1) & ~(align - 1);
    if (heap + size > sizeof mem) return 1;
    *out = heap;
    heap += size;
    return 0;
}

static kpCabiCx cx_for(kpCStringEncoding enc) {
    return (kpCabiCx){ .c = comp,
                       .mem = mem,
                       .mem_size = sizeof mem,
                       .realloc = test_realloc,
                       .enc = enc,
                       .handles = &handles,
                       .arena = &arena };
}
static kpCVal T(uint32_t id) { return (kpCVal){ .type = id }; }
static kpCValue S(const char *s) { return (kpCValue){ .str = { s, (uint32_t)strlen(s) } }; }
static bool str_eq(const kpCValue *v, const char *s) {
    return v->str.len == strlen(s) && memcmp(v->str.p, s, v->str.len) == 0;
}
static void put32(uint32_t at, uint32_t v) { memcpy(mem + at, &v, 4); }

static void setup(void) {
    uint8_t buf[512];
    size_t n = 0;
    memcpy(buf, "\0asm\x0d\0\x01\0", 8), n = 8;
    buf[n++] = 7;
    buf[n++] = (uint8_t)(sizeof types + 1);
    buf[n++] = NTYPES;
    memcpy(buf + n, types, sizeof types), n += sizeof types;
    kapsul_error err;
    if (kpComponent_decode(buf, n, &comp, &err) != KAPSUL_OK) {
        fprintf(stderr, "setup: %s at 0x%zx\n", err.message, err.offset);
        exit(1);
    }
}

static void test_layout(void) {
    CHECK(kpCabi_size(comp, T(2)) == 16 && kpCabi_align(comp, T(2)) == 4);
    CHECK(kpCabi_size(comp, T(3)) == 16 && kpCabi_align(comp, T(3)) == 8);
    CHECK(kpCabi_size(comp, T(4)) == 12 && kpCabi_align(comp, T(4)) == 4);
    CHECK(kpCabi_size(comp, T(6)) == 1 && kpCabi_size(comp, T(7)) == 2);
    CHECK(kpCabi_size(comp, T(8)) == 8 && kpCabi_align(comp, T(8)) == 4);
    uint8_t ft[8];
    CHECK(kpCabi_flatten(comp, T(3), ft, 8) == 2 && ft[0] == kpT_I32 && ft[1] == kpT_I64);
    CHECK(kpCabi_flatten(comp, T(2), ft, 8) == 4 && ft[3] == kpT_I32);
    CHECK(kpCabi_flatten(comp, T(4), ft, 8) == 3);
    CHECK(kpCabi_flatten(comp, T(5), ft, 8) == 3 && ft[1] == kpT_I32);
}

/* store then load gives the value back; lower then lift too. */
static void test_roundtrip(void) {
    kpCabiCx cx = cx_for(KP_CABI_UTF8);
    heap = 4096;
    kpCValue rec_f[3] = { { .u = 200 }, { .u = 0xdeadbeef }, S("héllo") };
    kpCValue rec = { .agg = { rec_f, 3 } }, out;
    CHECK(kpCabi_store(&cx, T(2), 64, &rec) == KP_CABI_OK);
    CHECK(kpCabi_load(&cx, T(2), 64, &out) == KP_CABI_OK && out.agg.n == 3 && out.agg.v[0].u == 200 &&
          out.agg.v[1].u == 0xdeadbeef && str_eq(&out.agg.v[2], "héllo"));
    kpCValue f = { .f32 = 1.5f }, var = { .var = { 2, &f } };
    CHECK(kpCabi_store(&cx, T(3), 128, &var) == KP_CABI_OK);
    CHECK(kpCabi_load(&cx, T(3), 128, &out) == KP_CABI_OK && out.var.disc == 2 &&
          out.var.payload->f32 == 1.5f);
    /* flat: the f32 case rides in the joined i64 slot */
    uint64_t core[20];
    uint32_t ncore;
    kpCType ft = { .kind = kpCT_FUNC,
                   .n = 2,
                   .nparams = 1,
                   .fields = (kpCField[]){ { .has_type = true, .type = T(3) },
                                           { .has_type = true, .type = T(4) } } };
    CHECK(kpCabi_lowerParams(&cx, &ft, &var, core, &ncore) == KP_CABI_OK && ncore == 2 && core[0] == 2);
    kpCValue *params;
    CHECK(kpCabi_liftParams(&cx, &ft, core, ncore, &params) == KP_CABI_OK && params[0].var.disc == 2 &&
          params[0].var.payload->f32 == 1.5f);
    /* results: option<string> needs 3 flat values > 1, so it goes through retptr */
    kpCValue some = S("result"), opt = { .var = { 1, &some } };
    CHECK(kpCabi_lowerResults(&cx, &ft, &opt, core, &ncore, 256) == KP_CABI_OK && ncore == 0);
    core[0] = 256;
    kpCValue *results;
    CHECK(kpCabi_liftResults(&cx, &ft, core, 1, &results) == KP_CABI_OK && results[0].var.disc == 1 &&
          str_eq(results[0].var.payload, "result"));
    /* list<list<u8>>, flags, enum, tuple<char, bool, s16> */
    kpCValue b[3] = { { .u = 1 }, { .u = 2 }, { .u = 3 } },
             inner[2] = { { .agg = { b, 3 } }, { .agg = { b, 0 } } };
    kpCValue ll = { .agg = { inner, 2 } };
    CHECK(kpCabi_store(&cx, T(12), 512, &ll) == KP_CABI_OK);
    CHECK(kpCabi_load(&cx, T(12), 512, &out) == KP_CABI_OK && out.agg.n == 2 && out.agg.v[0].agg.n == 3 &&
          out.agg.v[0].agg.v[2].u == 3 && out.agg.v[1].agg.n == 0);
    kpCValue fl = { .flags = 0x1ff };
    CHECK(kpCabi_store(&cx, T(7), 600, &fl) == KP_CABI_OK && mem[600] == 0xff && mem[601] == 0x01);
    kpCValue tup_f[3] = { { .c = 0x1F600 }, { .b = true }, { .s = -2 } }, tup = { .agg = { tup_f, 3 } };
    CHECK(kpCabi_store(&cx, T(8), 608, &tup) == KP_CABI_OK);
    CHECK(kpCabi_load(&cx, T(8), 608, &out) == KP_CABI_OK && out.agg.v[0].c == 0x1F600 && out.agg.v[1].b &&
          out.agg.v[2].s == -2);
    kpCArena_free(&arena);
}

static void test_strings(void) {
    kpCabiCx cx = cx_for(KP_CABI_UTF16);
    kpCValue s = S("h\xc3\xa9"
                   "\xf0\x9f\x98\x80"),
             out; /* h, é, U+1F600 */
    heap = 8192;
    CHECK(kpCabi_store(&cx, T(0), 700, &s) == KP_CABI_OK);
    uint32_t ptr, units;
    memcpy(&ptr, mem + 700, 4), memcpy(&units, mem + 704, 4);
    CHECK(units == 4 && mem[ptr] == 'h' && mem[ptr + 2] == 0xe9 && mem[ptr + 4] == 0x3d &&
          mem[ptr + 5] == 0xd8);
    CHECK(kpCabi_load(&cx, T(0), 700, &out) == KP_CABI_OK && str_eq(&out, s.str.p));
    put32(704, 3); /* cut inside the surrogate pair: a lone high surrogate */
    CHECK(kpCabi_load(&cx, T(0), 700, &out) == KP_CABI_BAD_STRING);
    put32(700, ptr + 1), put32(704, 1); /* odd address for UTF-16 */
    CHECK(kpCabi_load(&cx, T(0), 700, &out) == KP_CABI_MISALIGNED);
    cx = cx_for(KP_CABI_LATIN1_UTF16);
    kpCValue l1 = S("h\xc3\xa9llo");
    CHECK(kpCabi_store(&cx, T(0), 720, &l1) == KP_CABI_OK);
    memcpy(&ptr, mem + 720, 4), memcpy(&units, mem + 724, 4);
    CHECK(units == 5 && mem[ptr + 1] == 0xe9);
    CHECK(kpCabi_load(&cx, T(0), 720, &out) == KP_CABI_OK && str_eq(&out, l1.str.p));
    CHECK(kpCabi_store(&cx, T(0), 720, &s) == KP_CABI_OK);
    memcpy(&units, mem + 724, 4);
    CHECK(units == (4u | 1u << 31));
    CHECK(kpCabi_load(&cx, T(0), 720, &out) == KP_CABI_OK && str_eq(&out, s.str.p));
    kpCArena_free(&arena);
}

static void test_traps(void) {
    kpCabiCx cx = cx_for(KP_CABI_UTF8);
    kpCValue out;
    /* string past the end of memory; invalid UTF-8 */
    put32(800, sizeof mem - 2), put32(804, 3);
    CHECK(kpCabi_load(&cx, T(0), 800, &out) == KP_CABI_OUT_OF_BOUNDS);
    put32(800, UINT32_MAX), put32(804, UINT32_MAX);
    CHECK(kpCabi_load(&cx, T(0), 800, &out) == KP_CABI_BAD_STRING);
    memcpy(mem + 900, "\xc3\x28", 2), put32(800, 900), put32(804, 2);
    CHECK(kpCabi_load(&cx, T(0), 800, &out) == KP_CABI_BAD_STRING);
    /* list<u32> at an odd address; a list whose length runs off the memory */
    put32(800, 901), put32(804, 1);
    CHECK(kpCabi_load(&cx, T(13), 800, &out) == KP_CABI_MISALIGNED);
    put32(800, 904), put32(804, 0x40000000);
    CHECK(kpCabi_load(&cx, T(13), 800, &out) == KP_CABI_OUT_OF_BOUNDS);
    /* the value itself past the end, and misaligned */
    CHECK(kpCabi_load(&cx, T(2), sizeof mem - 8, &out) == KP_CABI_OUT_OF_BOUNDS);
    CHECK(kpCabi_load(&cx, T(2), 802, &out) == KP_CABI_MISALIGNED);
    /* discriminants: variant 3 cases, option 2, enum 3, result 2 */
    mem[808] = 3;
    CHECK(kpCabi_load(&cx, T(3), 808, &out) == KP_CABI_BAD_DISCRIMINANT);
    put32(816, 2);
    CHECK(kpCabi_load(&cx, T(4), 816, &out) == KP_CABI_BAD_DISCRIMINANT);
    mem[832] = 7;
    CHECK(kpCabi_load(&cx, T(6), 832, &out) == KP_CABI_BAD_DISCRIMINANT);
    uint64_t core[4] = { 5, 0, 0, 0 };
    kpCType ft = {
        .kind = kpCT_FUNC, .n = 1, .nparams = 1, .fields = (kpCField[]){ { .has_type = true, .type = T(5) } }
    };
    kpCValue *params;
    CHECK(kpCabi_liftParams(&cx, &ft, core, 3, &params) == KP_CABI_BAD_DISCRIMINANT);
    /* chars: a surrogate and a value past U+10FFFF, flat */
    ft.fields[0].type = T(8);
    core[0] = 0xd800, core[1] = 1, core[2] = 0;
    CHECK(kpCabi_liftParams(&cx, &ft, core, 3, &params) == KP_CABI_BAD_CHAR);
    core[0] = 0x110000;
    CHECK(kpCabi_liftParams(&cx, &ft, core, 3, &params) == KP_CABI_BAD_CHAR);
    /* bool: any non-zero is true, as the ABI says */
    core[0] = 'a', core[1] = 2;
    CHECK(kpCabi_liftParams(&cx, &ft, core, 3, &params) == KP_CABI_OK && params[0].agg.v[1].b);
    /* a realloc returning a pointer outside memory */
    realloc_lies = true;
    kpCValue s = S("0123456789");
    CHECK(kpCabi_store(&cx, T(0), 800, &s) == KP_CABI_REALLOC);
    realloc_lies = false;
    cx.realloc = NULL;
    CHECK(kpCabi_store(&cx, T(0), 800, &s) == KP_CABI_REALLOC);
    kpCArena_free(&arena);
}

/* 17 u32 parameters exceed the flat limit: they come through one pointer. */
static void test_spill(void) {
    kpCabiCx cx = cx_for(KP_CABI_UTF8);
    kpCField fs[17];
    kpCValue vals[17];
    for (int i = 0; i < 17; i++)
        fs[i] = (kpCField){ .has_type = true, .type = { .prim = kpCP_U32 } }, vals[i].u = 100u + i;
    kpCType ft = { .kind = kpCT_FUNC, .n = 17, .nparams = 17, .fields = fs };
    uint64_t core[17];
    uint32_t ncore;
    heap = 16384;
    CHECK(kpCabi_lowerParams(&cx, &ft, vals, core, &ncore) == KP_CABI_OK && ncore == 1);
    kpCValue *params;
    CHECK(kpCabi_liftParams(&cx, &ft, core, 1, &params) == KP_CABI_OK && params[16].u == 116);
    core[0] = 2;
    CHECK(kpCabi_liftParams(&cx, &ft, core, 1, &params) == KP_CABI_MISALIGNED);
    core[0] = sizeof mem - 64;
    CHECK(kpCabi_liftParams(&cx, &ft, core, 1, &params) == KP_CABI_OUT_OF_BOUNDS);
    kpCArena_free(&arena);
}

static void test_handles(void) {
    kpCabiCx cx = cx_for(KP_CABI_UTF8);
    kpCValue r = { .rep = 42 }, out;
    CHECK(kpCabi_store(&cx, T(10), 1000, &r) == KP_CABI_OK); /* own<R> into the guest: a new handle */
    uint32_t h;
    memcpy(&h, mem + 1000, 4);
    CHECK(h != 0);
    CHECK(kpCabi_load(&cx, T(11), 1000, &out) == KP_CABI_OK && out.rep == 42); /* borrow: still there */
    CHECK(kpCabi_load(&cx, T(10), 1000, &out) == KP_CABI_OK && out.rep == 42); /* own: taken out */
    CHECK(kpCabi_load(&cx, T(10), 1000, &out) == KP_CABI_BAD_HANDLE);          /* not twice */
    put32(1000, 0);
    CHECK(kpCabi_load(&cx, T(11), 1000, &out) == KP_CABI_BAD_HANDLE); /* 0 is never a handle */
    put32(1000, 12345);
    CHECK(kpCabi_load(&cx, T(11), 1000, &out) == KP_CABI_BAD_HANDLE);
    /* a borrowed handle cannot be lifted as own; resource.drop of an own returns its rep */
    uint32_t hb, ho, rep;
    CHECK(kpCHandles_add(&handles, 9, 7, false, &hb) == KP_CABI_OK);
    CHECK(kpCHandles_lift(&handles, 9, hb, true, &rep) == KP_CABI_BAD_HANDLE);
    CHECK(kpCHandles_lift(&handles, 8, hb, false, &rep) == KP_CABI_BAD_HANDLE); /* wrong type */
    CHECK(kpCHandles_add(&handles, 9, 8, true, &ho) == KP_CABI_OK && ho != hb);
    handles.v.v[ho].lent = 1;
    CHECK(kpCHandles_drop(&handles, 9, ho, &rep) == KP_CABI_BAD_HANDLE); /* lent out */
    handles.v.v[ho].lent = 0;
    CHECK(kpCHandles_drop(&handles, 9, ho, &rep) == KP_CABI_OK && rep == 8);
    CHECK(kpCHandles_drop(&handles, 9, hb, &rep) == KP_CABI_OK && rep == UINT32_MAX);
    CHECK(kpCHandles_rep(&handles, 9, hb, &rep) == KP_CABI_BAD_HANDLE);
    kpCHandles_free(&handles);
    kpCArena_free(&arena);
}

static bool wave_is(kpCVal t, const kpCValue *v, const char *want) {
    kpBuf b = { 0 };
    bool ok =
        kpWave_print(comp, t, v, &b) == 0 && kpBuf_byte(&b, 0) == 0 && strcmp((char *)b.data, want) == 0;
    if (!ok) fprintf(stderr, "  wave: got %s, wanted %s\n", b.data ? (char *)b.data : "(null)", want);
    kpBuf_free(&b);
    return ok;
}

static void test_wave(void) {
    kpCValue rec_f[3] = { { .u = 200 }, { .u = 7 }, S("a \"q\"\n") }, rec = { .agg = { rec_f, 3 } };
    CHECK(wave_is(T(2), &rec, "{a: 200, b: 7, c: \"a \\\"q\\\"\\n\"}"));
    kpCValue f = { .f32 = 1.5f }, var = { .var = { 2, &f } }, none = { .var = { 0, NULL } };
    CHECK(wave_is(T(3), &var, "z(1.5)") && wave_is(T(3), &none, "x"));
    kpCValue u = { .u = 1ull << 40 }, vy = { .var = { 1, &u } };
    CHECK(wave_is(T(3), &vy, "y(1099511627776)"));
    kpCValue s = S("h\xc3\xa9"), some = { .var = { 1, &s } };
    CHECK(wave_is(T(4), &some, "some(\"h\xc3\xa9\")") && wave_is(T(4), &none, "none"));
    kpCValue n = { .u = 3 }, ok = { .var = { 0, &n } }, err = { .var = { 1, &s } };
    CHECK(wave_is(T(5), &ok, "ok(3)") && wave_is(T(5), &err, "err(\"h\xc3\xa9\")"));
    kpCValue en = { .var = { 1, NULL } }, fl = { .flags = 0x101 };
    CHECK(wave_is(T(6), &en, "q") && wave_is(T(7), &fl, "{f0, f8}"));
    kpCValue tup_f[3] = { { .c = '\'' }, { .b = false }, { .s = -2 } }, tup = { .agg = { tup_f, 3 } };
    CHECK(wave_is(T(8), &tup, "('\\'', false, -2)"));
    kpCValue b[2] = { { .u = 1 }, { .u = 255 } }, inner[2] = { { .agg = { b, 2 } }, { .agg = { b, 0 } } };
    kpCValue ll = { .agg = { inner, 2 } };
    CHECK(wave_is(T(12), &ll, "[[1, 255], []]"));
    kpCValue fv = { .f64 = 0.1 }, inf = { .f64 = -INFINITY }, one = { .f64 = 1 };
    CHECK(wave_is((kpCVal){ .prim = kpCP_F64 }, &fv, "0.1") &&
          wave_is((kpCVal){ .prim = kpCP_F64 }, &inf, "-inf") &&
          wave_is((kpCVal){ .prim = kpCP_F64 }, &one, "1.0"));
}

int main(void) {
    setup();
    test_layout();
    test_roundtrip();
    test_strings();
    test_traps();
    test_spill();
    test_handles();
    test_wave();
    kpComponent_free(comp);
    return kpt_finish();
}
