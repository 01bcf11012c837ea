/*
 * test_component.c -- the component decoder (src/component) on hand-built components: what it
 * accepts and how it describes it in WIT terms, and every kind of malformed or invalid input with
 * the status and message it must produce: bad preambles, indices out of range, wrong sorts,
 * duplicate names, borrows in results, nesting and type depth beyond the limits, hostile counts,
 * every truncation of a valid component, and allocation failure at every allocation.
 *
 * usage: test_component [--write-seeds DIR]   (DIR: write the valid components as fuzz seeds)
 */
#include <stdlib.h>
#include <string.h>

#include "component/component.h"
#include "test.h"

/* ---- A tiny encoder ----------------------------------------------------------------------------- */

typedef struct enc {
    uint8_t b[1 << 16];
    size_t n;
} enc;

static void byte(enc *e, uint8_t v) {
    if (e->n < sizeof e->b) e->b[e->n++] = v;
}
static void bytes(enc *e, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) byte(e, ((const uint8_t *)p)[i]);
}
static void u32(enc *e, uint32_t v) {
    do {
        uint8_t x = v & 0x7f;
        v >>= 7;
        byte(e, (uint8_t)(x | (v ? 0x80 : 0)));
    } while (v);
}
static void name(enc *e, const char *s) {
    u32(e, (uint32_t)strlen(s));
    bytes(e, s, strlen(s));
}
static void preamble(enc *e) { bytes(e, "\0asm\x0d\0\x01\0", 8); }
/* Append section `id` holding the bytes of s. */
static void section(enc *e, uint8_t id, const enc *s) {
    byte(e, id);
    u32(e, (uint32_t)s->n);
    bytes(e, s->b, s->n);
}

static enc *fresh(void) {
    enc *e = calloc(1, sizeof *e);
    if (!e) abort();
    return e;
}

static kapsul_status decode(const enc *e, kapsul_error *err, kpComponent **out) {
    kpComponent *c = NULL;
    kapsul_status st = kpComponent_decode(e->b, e->n, &c, err);
    if (out) *out = c;
    else kpComponent_free(c);
    return st;
}

static bool fails_with(const enc *e, kapsul_status want, const char *msg) {
    kapsul_error err;
    kapsul_status st = decode(e, &err, NULL);
    if (st == want && strstr(err.message, msg)) return true;
    fprintf(stderr, "  got status %d \"%s\", wanted %d \"%s\"\n", st, err.message, want, msg);
    return false;
}

static char *describe(const enc *e) {
    kpComponent *c = NULL;
    kapsul_error err;
    if (decode(e, &err, &c) != KAPSUL_OK) {
        fprintf(stderr, "  decode failed: %s at 0x%zx\n", err.message, err.offset);
        return NULL;
    }
    kpBuf out = { 0 };
    if (kpWit_describe(c, &out) != 0 || kpBuf_byte(&out, 0) != 0) abort();
    kpComponent_free(c);
    return (char *)out.data;
}

/* ---- Building blocks ---------------------------------------------------------------------------- */

/* A component importing instance "test:demo/api@1.2.0" whose type has: a record, a resource, a
 * function over both, and one export that re-exports the import. Type index space:
 *   0 instance type { 0 record point {x: s32, y: s32}; export "point" (eq 0) = 1;
 *                     export "blob" (sub resource) = 2; 3 list<u8>; 4 own<2>; 5 borrow<2>;
 *                     6 func(self: borrow<blob>, p: point) -> result<list<u8>, string>;
 *                     export "[method]blob.read" (func 6); 8 func() -> own<blob>... } */
static void api_instance_type(enc *t) {
    enc *it = fresh();
    u32(it, 12);                                                               /* declarations */
    bytes(it, "\x01\x72\x02", 3);                                              /* type: record, 2 fields */
    name(it, "x"), byte(it, 0x7a);                                             /* x: s32 */
    name(it, "y"), byte(it, 0x7a);                                             /* y: s32 */
    bytes(it, "\x04\x00", 2), name(it, "point"), bytes(it, "\x03\x00\x00", 3); /* export point (eq 0) */
    bytes(it, "\x04\x00", 2), name(it, "blob"), bytes(it, "\x03\x01", 2); /* export blob (sub resource) */
    bytes(it, "\x01\x70\x7d", 3);                                         /* 3: list<u8> */
    bytes(it, "\x01\x69\x02", 3);                                         /* 4: own<blob> */
    bytes(it, "\x01\x68\x02", 3);                                         /* 5: borrow<blob> */
    bytes(it, "\x01\x6a\x01\x03\x01\x73", 6);                             /* 6: result<list<u8>, string> */
    bytes(it, "\x01\x40\x02", 3), name(it, "self"), byte(it, 5), name(it, "p"), byte(it, 1);
    bytes(it, "\x00\x06", 2); /* 7: func(...) -> 6 */
    bytes(it, "\x04\x00", 2), name(it, "[method]blob.read"), bytes(it, "\x01\x07", 2);
    bytes(it, "\x01\x40\x00\x00\x04", 5); /* 8: func() -> own<blob> */
    bytes(it, "\x04\x00", 2), name(it, "[constructor]blob"), bytes(it, "\x01\x08", 2);
    bytes(it, "\x01\x71\x02", 3), name(it, "none"), bytes(it, "\x00\x00", 2); /* 9: variant */
    name(it, "some"), bytes(it, "\x01\x01\x00", 3);
    byte(t, 0x42);
    bytes(t, it->b, it->n);
    free(it);
}

static enc *api_component(void) {
    enc *e = fresh(), *s = fresh();
    preamble(e);
    u32(s, 1), api_instance_type(s);
    section(e, 7, s);
    s->n = 0;
    u32(s, 1), byte(s, 0x00), name(s, "test:demo/api@1.2.0"),
        bytes(s, "\x05\x00", 2); /* import instance (type 0) */
    section(e, 10, s);
    s->n = 0;
    u32(s, 1), byte(s, 0x00), name(s, "test:demo/api@1.2.0"),
        bytes(s, "\x05\x00\x00", 3); /* export instance 0 */
    section(e, 11, s);
    free(s);
    return e;
}

/* A component with one type section holding the given type bytes. */
static enc *one_type(const void *type, size_t n) {
    enc *e = fresh(), *s = fresh();
    preamble(e);
    u32(s, 1), bytes(s, type, n);
    section(e, 7, s);
    free(s);
    return e;
}

/* ---- Tests -------------------------------------------------------------------------------------- */

static void test_preamble(void) {
    enc *e = fresh();
    preamble(e);
    CHECK(kpComponent_is(e->b, e->n));
    char *d = describe(e);
    CHECK(d && strcmp(d, "") == 0);
    free(d);
    e->b[4] = 0x0a; /* an older pre-standard version */
    CHECK(!kpComponent_is(e->b, e->n) && kpComponent_isAnyVersion(e->b, e->n));
    CHECK(fails_with(e, KAPSUL_ERR_MALFORMED, "not a component of version 0x0d"));
    static const uint8_t module[8] = { 0, 'a', 's', 'm', 1, 0, 0, 0 };
    CHECK(!kpComponent_isAnyVersion(module, 8));
    e->n = 5;
    CHECK(fails_with(e, KAPSUL_ERR_MALFORMED, "unexpected end"));
    free(e);
}

static void test_describe(void) {
    enc *e = api_component();
    char *d = describe(e);
    const char *want =
        "import test:demo/api@1.2.0: point: record { x: s32, y: s32 }\n"
        "import test:demo/api@1.2.0: blob: resource\n"
        "import test:demo/api@1.2.0: [method]blob.read: func(self: borrow<blob>, p: point) -> result<list<u8>, "
        "string>\n"
        "import test:demo/api@1.2.0: [constructor]blob: func() -> blob\n"
        "export test:demo/api@1.2.0: point: record { x: s32, y: s32 }\n"
        "export test:demo/api@1.2.0: blob: resource\n"
        "export test:demo/api@1.2.0: [method]blob.read: func(self: borrow<blob>, p: point) -> result<list<u8>, "
        "string>\n"
        "export test:demo/api@1.2.0: [constructor]blob: func() -> blob\n";
    CHECK(d && strcmp(d, want) == 0);
    if (d && strcmp(d, want) != 0) fprintf(stderr, "  got:\n%s", d);
    free(d);
    free(e);
}

/* Every proper prefix of a valid component fails cleanly as malformed, at an offset inside it, or
 * is itself a component (it ends between sections); the whole one succeeds. */
static void test_truncations(void) {
    enc *e = api_component();
    size_t full = e->n;
    int bad = 0;
    for (size_t n = 0; n < full; n++) {
        e->n = n;
        kapsul_error err;
        kapsul_status st = decode(e, &err, NULL);
        /* a prefix ending at a section boundary is a smaller valid component */
        if (st != KAPSUL_OK && (st != KAPSUL_ERR_MALFORMED || err.offset > n)) {
            if (bad++ < 3)
                fprintf(stderr, "  prefix %zu: status %d \"%s\" at 0x%zx\n", n, st, err.message, err.offset);
        }
    }
    CHECK(bad == 0);
    e->n = full;
    CHECK(decode(e, NULL, NULL) == KAPSUL_OK);
    free(e);
}

static void test_types(void) {
    enc *e;
    /* record with labels equal up to case */
    e = one_type("\x72\x02\x01"
                 "a\x79\x01"
                 "A\x79",
                 9);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "duplicate record field name \"A\""));
    free(e);
    /* empty record, tuple, enum */
    e = one_type("\x72\x00", 2);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "must not be empty"));
    free(e);
    /* a value type naming a type that does not exist yet */
    e = one_type("\x70\x00", 2);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "unknown type 0"));
    free(e);
    /* own of a non-resource */
    e = fresh();
    {
        enc *s = fresh();
        preamble(e);
        u32(s, 2), bytes(s, "\x79", 1), bytes(s, "\x69\x00", 2);
        section(e, 7, s);
        free(s);
    }
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "not a resource"));
    free(e);
    /* a borrow in a function result */
    e = fresh();
    {
        enc *s = fresh();
        preamble(e);
        u32(s, 3), bytes(s, "\x3f\x7f\x00", 3), bytes(s, "\x68\x00", 2), bytes(s, "\x40\x00\x00\x01", 4);
        section(e, 7, s);
        free(s);
    }
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "result holds a borrow"));
    free(e);
    /* flags with 33 labels */
    e = fresh();
    {
        enc *s = fresh();
        preamble(e);
        u32(s, 1), byte(s, 0x6e), u32(s, 33);
        for (int i = 0; i < 33; i++) {
            char l[8];
            snprintf(l, sizeof l, "f%d", i);
            name(s, l);
        }
        section(e, 7, s);
        free(s);
    }
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "more than 32"));
    free(e);
    /* list<list<...>> deeper than the limit (type indices are s33) */
    e = fresh();
    {
        enc *s = fresh();
        preamble(e);
        u32(s, KP_MAX_COMPONENT_TYPE_DEPTH + 1);
        bytes(s, "\x70\x79", 2);
        for (uint32_t i = 1; i <= KP_MAX_COMPONENT_TYPE_DEPTH; i++) {
            byte(s, 0x70);
            uint32_t idx = i - 1; /* s33: 7 bits per byte, sign bit 6 of the last */
            while (idx >= 0x40) byte(s, (uint8_t)(0x80 | (idx & 0x7f))), idx >>= 7;
            byte(s, (uint8_t)idx);
        }
        section(e, 7, s);
        free(s);
    }
    CHECK(fails_with(e, KAPSUL_ERR_LIMIT, "type nested too deeply"));
    free(e);
    /* instance types nested in instance types past the nesting limit: 0x42 1 (0x01 type) ... */
    e = fresh();
    {
        enc *inner = fresh(), *outer = fresh();
        bytes(inner, "\x42\x00", 2);
        for (uint32_t i = 0; i < KP_MAX_COMPONENT_NESTING + 1; i++) {
            outer->n = 0;
            bytes(outer, "\x42\x01\x01", 3);
            bytes(outer, inner->b, inner->n);
            memcpy(inner->b, outer->b, outer->n);
            inner->n = outer->n;
        }
        free(e);
        e = one_type(inner->b, inner->n);
        free(inner);
        free(outer);
    }
    CHECK(fails_with(e, KAPSUL_ERR_LIMIT, "nested too deeply"));
    free(e);
    /* a resource type inside an instance type */
    e = one_type("\x42\x01\x01\x3f\x7f\x00", 6);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "resource type defined inside a type"));
    free(e);
    /* async types are refused by name */
    e = one_type("\x66\x00", 2);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "not supported"));
    free(e);
    /* an outer alias past the outermost scope */
    e = one_type("\x42\x01\x02\x03\x02\x05\x00", 7);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "beyond the outermost scope"));
    free(e);
    /* a count no byte can back */
    e = one_type("\x72\xff\xff\xff\xff\x0f", 6);
    CHECK(fails_with(e, KAPSUL_ERR_MALFORMED, "unexpected end"));
    free(e);
}

static void test_structure(void) {
    enc *e, *s;
    /* alias of an export the instance does not have */
    e = api_component();
    s = fresh();
    u32(s, 1), bytes(s, "\x01\x00\x00", 3), name(s, "nope");
    section(e, 6, s);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "instance has no export \"nope\""));
    /* the right name with the wrong sort */
    e->n -= s->n + 2;
    s->n = 0;
    u32(s, 1), bytes(s, "\x03\x00\x00", 3), name(s, "[method]blob.read");
    section(e, 6, s);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "is a func, not a type"));
    free(s);
    free(e);
    /* duplicate import names */
    e = fresh();
    s = fresh();
    preamble(e);
    u32(s, 1), api_instance_type(s);
    section(e, 7, s);
    s->n = 0;
    u32(s, 2);
    byte(s, 0x00), name(s, "a:b/c"), bytes(s, "\x05\x00", 2);
    byte(s, 0x00), name(s, "a:b/c"), bytes(s, "\x05\x00", 2);
    section(e, 10, s);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "duplicate import name \"a:b/c\""));
    free(s);
    free(e);
    /* canon lift with a type that is not a function type (and no core function at all first) */
    e = fresh();
    s = fresh();
    preamble(e);
    u32(s, 1), bytes(s, "\x00\x00\x00\x00\x00", 5);
    section(e, 8, s);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "unknown core func 0"));
    free(s);
    free(e);
    /* components nested past the limit */
    e = fresh();
    {
        enc *inner = fresh(), *outer = fresh();
        preamble(inner);
        for (uint32_t i = 0; i < KP_MAX_COMPONENT_NESTING + 1; i++) {
            outer->n = 0;
            preamble(outer);
            section(outer, 4, inner);
            memcpy(inner->b, outer->b, outer->n);
            inner->n = outer->n;
        }
        memcpy(e->b, inner->b, inner->n);
        e->n = inner->n;
        free(inner);
        free(outer);
    }
    CHECK(fails_with(e, KAPSUL_ERR_LIMIT, "nested too deeply"));
    free(e);
    /* an unknown section id and a section that overruns the component */
    e = fresh();
    preamble(e);
    bytes(e, "\x0d\x00", 2);
    CHECK(fails_with(e, KAPSUL_ERR_MALFORMED, "malformed section id 13"));
    e->n = 8;
    bytes(e, "\x07\x05\x00", 3);
    CHECK(fails_with(e, KAPSUL_ERR_MALFORMED, "unexpected end"));
    free(e);
    /* a core module that fails validation reports its own error, offset in the component */
    e = fresh();
    s = fresh();
    preamble(e);
    bytes(s, "\0asm\1\0\0\0\x03\x02\x01\x05\x0a\x04\x01\x02\x00\x0b",
          18); /* a function of type 5, no types */
    section(e, 1, s);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "core module at 0xa:"));
    free(s);
    free(e);
}

/* A core module exporting "f" of type () -> () and, with `import`, importing env.g of that type. */
static void core_module(enc *e, bool import) {
    enc *m = fresh();
    bytes(m, "\0asm\1\0\0\0", 8);
    bytes(m, "\x01\x04\x01\x60\x00\x00", 6); /* type () -> () */
    if (import)
        bytes(m,
              "\x02\x09\x01\x03"
              "env\x01"
              "g\x00\x00",
              11);
    bytes(m, "\x03\x02\x01\x00", 4);             /* func 0: type 0 */
    bytes(m, "\x07\x05\x01\x01\x66\x00\x00", 7); /* export "f" (func 0, or 1 after the import) */
    m->b[m->n - 1] = import ? 1 : 0;
    bytes(m, "\x0a\x04\x01\x02\x00\x0b", 6); /* body: end */
    section(e, 1, m);
    free(m);
}

static void test_canon(void) {
    enc *e, *s = fresh();
    /* canon lift of f: () -> () as func() -> u32: the flattened type differs */
    for (int good = 0; good < 2; good++) {
        e = fresh();
        preamble(e);
        core_module(e, false);
        s->n = 0, u32(s, 1), bytes(s, "\x00\x00\x00", 3); /* core instance: instantiate module 0, no args */
        section(e, 2, s);
        s->n = 0, u32(s, 1), bytes(s, "\x00\x00\x01\x00", 4), name(s, "f"); /* alias core export 0 "f" func */
        section(e, 6, s);
        s->n = 0, u32(s, 1),
        bytes(s, good ? "\x40\x00\x01\x00" : "\x40\x00\x00\x79", 4); /* func() [-> u32] */
        section(e, 7, s);
        s->n = 0, u32(s, 1),
        bytes(s, "\x00\x00\x00\x00\x00", 5); /* canon lift core func 0, no opts, type 0 */
        section(e, 8, s);
        if (good) CHECK(decode(e, NULL, NULL) == KAPSUL_OK);
        else CHECK(fails_with(e, KAPSUL_ERR_INVALID, "not the flattened type"));
        free(e);
    }
    /* a module whose import no argument provides */
    e = fresh();
    preamble(e);
    core_module(e, true);
    s->n = 0, u32(s, 1), bytes(s, "\x00\x00\x00", 3);
    section(e, 2, s);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "missing instantiation argument \"env\""));
    free(e);
    /* canon lower of an imported func(s: string) without a memory option */
    e = fresh();
    preamble(e);
    s->n = 0, u32(s, 1), bytes(s, "\x40\x01\x01s\x73\x01\x00", 7);
    section(e, 7, s);
    s->n = 0, u32(s, 1), byte(s, 0), name(s, "log"), bytes(s, "\x01\x00", 2);
    section(e, 10, s);
    s->n = 0, u32(s, 1), bytes(s, "\x01\x00\x00\x00", 4);
    section(e, 8, s);
    CHECK(fails_with(e, KAPSUL_ERR_INVALID, "canon lower needs a memory option"));
    free(e);
    free(s);
}

static bool compat(const char *a, const char *b) {
    kpCName x, y;
    if (!kpCName_parse(a, (uint32_t)strlen(a), &x) || !kpCName_parse(b, (uint32_t)strlen(b), &y))
        return false;
    return kpCName_compatible(&x, &y) && kpCName_compatible(&y, &x);
}

static void test_names(void) {
    kpCName n;
    CHECK(kpCName_parse("wasi:cli/environment@0.2.3", 26, &n) && n.has_version && n.major == 0 &&
          n.minor == 2 && n.patch == 3 && n.iface_len == 20);
    CHECK(kpCName_parse("wasi:http/types", 15, &n) && !n.has_version);
    CHECK(!kpCName_parse("run", 3, &n) && !kpCName_parse("wasi:cli", 8, &n) && !kpCName_parse(":x/y", 4, &n));
    CHECK(!kpCName_parse("a:b/c@1.2", 9, &n) && !kpCName_parse("a:b/c@01.2.3", 12, &n) &&
          !kpCName_parse("a:b/c@1.2.3x", 12, &n) && !kpCName_parse("a:b/c@99999999999.0.0", 22, &n));
    CHECK(compat("wasi:io/streams@0.2.12", "wasi:io/streams@0.2.3"));
    CHECK(compat("wasi:http/types@0.2.10", "wasi:http/types@0.2.0"));
    CHECK(!compat("wasi:io/streams@0.2.12", "wasi:io/streams@0.3.0"));
    CHECK(!compat("wasi:io/streams@0.2.12", "wasi:io/error@0.2.12"));
    CHECK(compat("a:b/c@1.2.0", "a:b/c@1.9.3") && !compat("a:b/c@1.2.0", "a:b/c@2.0.0"));
    CHECK(!compat("a:b/c@0.0.1", "a:b/c@0.0.2") && compat("a:b/c@0.0.1", "a:b/c@0.0.1"));
    CHECK(!compat("wasi:cli/run@0.2.0-rc-2023-11-10", "wasi:cli/run@0.2.0") &&
          compat("wasi:cli/run@0.2.0-rc-2023-11-10", "wasi:cli/run@0.2.0-rc-2023-11-10"));
    CHECK(!compat("wasi:cli/run", "wasi:cli/run@0.2.0") && compat("wasi:cli/run", "wasi:cli/run"));
}

#ifdef KP_TESTING
/* Out of memory at every allocation: NOMEM, nothing else, until it succeeds (ASan sees leaks). */
static void test_allocfail(void) {
    enc *e = api_component();
    int bad = 0;
    for (long n = 0;; n++) {
        kpAlloc_failAfter(n);
        kapsul_error err;
        kapsul_status st = decode(e, &err, NULL);
        kpAlloc_failAfter(-1);
        if (st == KAPSUL_OK) break;
        if (st != KAPSUL_ERR_NOMEM) bad++;
        if (n > 10000) {
            bad++;
            break;
        }
    }
    CHECK(bad == 0);
    free(e);
}
#endif

static void write_seed(const char *dir, const char *file, const enc *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(e->b, 1, e->n, f) != e->n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) {
        enc *e = api_component();
        write_seed(argv[2], "api.wasm", e);
        free(e);
        return 0;
    }
    test_preamble();
    test_describe();
    test_truncations();
    test_types();
    test_structure();
    test_canon();
    test_names();
#ifdef KP_TESTING
    test_allocfail();
#endif
    return kpt_finish();
}
