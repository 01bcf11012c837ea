/* Unit tests for base/: LEB128 reading rules, UTF-8 validation, buffers. */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "test.h"

static bool read_u32(const uint8_t *b, size_t n, uint32_t *v, const char **why) {
    kpReader r;
    kpRead_init(&r, b, b, b + n);
    bool ok = kpRead_u32(&r, v);
    *why = r.error;
    return ok;
}

static void test_leb(void) {
    uint32_t v;
    const char *why;
    CHECK(read_u32((const uint8_t[]){ 0x05 }, 1, &v, &why) && v == 5);
    CHECK(read_u32((const uint8_t[]){ 0x85, 0x80, 0x80, 0x80, 0x00 }, 5, &v, &why) && v == 5);
    CHECK(!read_u32((const uint8_t[]){ 0x85, 0x80, 0x80, 0x80, 0x80, 0x00 }, 6, &v, &why));
    CHECK(why && strcmp(why, "integer representation too long") == 0);
    CHECK(!read_u32((const uint8_t[]){ 0xff, 0xff, 0xff, 0xff, 0x1f }, 5, &v, &why));
    CHECK(why && strcmp(why, "integer too large") == 0);
    CHECK(read_u32((const uint8_t[]){ 0xff, 0xff, 0xff, 0xff, 0x0f }, 5, &v, &why) && v == 0xffffffffu);
    CHECK(!read_u32((const uint8_t[]){ 0x80 }, 1, &v, &why));
    CHECK(why && strcmp(why, "unexpected end") == 0);

    kpReader r;
    int32_t s;
    const uint8_t neg[] = { 0x7f };
    kpRead_init(&r, neg, neg, neg + 1);
    CHECK(kpRead_s32(&r, &s) && s == -1);
    const uint8_t minv[] = { 0x80, 0x80, 0x80, 0x80, 0x78 };
    kpRead_init(&r, minv, minv, minv + 5);
    CHECK(kpRead_s32(&r, &s) && s == INT32_MIN);
    const uint8_t bad[] = { 0x80, 0x80, 0x80, 0x80, 0x70 }; /* unused bits not a sign extension */
    kpRead_init(&r, bad, bad, bad + 5);
    CHECK(!kpRead_s32(&r, &s));
    int64_t s64;
    const uint8_t m64[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f };
    kpRead_init(&r, m64, m64, m64 + 10);
    CHECK(kpRead_s64(&r, &s64) && s64 == INT64_MIN);

    kpBuf b = { 0 };
    CHECK(kpBuf_s64leb(&b, INT64_MIN) == 0 && b.len == 10);
    kpRead_init(&r, b.data, b.data, b.data + b.len);
    CHECK(kpRead_s64(&r, &s64) && s64 == INT64_MIN);
    kpBuf_free(&b);
}

static void test_utf8(void) {
    CHECK(kp_utf8_valid((const uint8_t *)"abc", 3));
    CHECK(kp_utf8_valid((const uint8_t *)"\xe2\x82\xac", 3));
    CHECK(!kp_utf8_valid((const uint8_t *)"\xc0\x80", 2));     /* overlong */
    CHECK(!kp_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* surrogate */
    CHECK(!kp_utf8_valid((const uint8_t *)"\xe2\x82", 2));     /* truncated */
}

/* kpStrIndex: put/get across growth, duplicates refused with the first value, keys by bytes
 * (NUL inside, prefixes, the empty key). */
static void test_strindex(void) {
    enum {
        N = 3000
    };
    static char keys[N][16];
    kpStrIndex ix = { 0 };
    size_t v = 0;
    CHECK(!kpStrIndex_get(&ix, "a", 1, &v));
    bool ok = true;
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "key%zu", i);
        ok &= kpStrIndex_put(&ix, keys[i], strlen(keys[i]), i, NULL) == 0;
    }
    CHECK(ok && ix.n == N);
    for (size_t i = 0; i < N; i++) ok &= kpStrIndex_get(&ix, keys[i], strlen(keys[i]), &v) && v == i;
    CHECK(ok);
    CHECK(kpStrIndex_put(&ix, "key17", 5, 99, &v) == 1 && v == 17 && ix.n == N);
    CHECK(!kpStrIndex_get(&ix, "key", 3, &v) && !kpStrIndex_get(&ix, "key30000", 8, &v));
    CHECK(kpStrIndex_put(&ix, "", 0, 7, NULL) == 0 && kpStrIndex_get(&ix, "x", 0, &v) && v == 7);
    CHECK(kpStrIndex_put(&ix, "a\0b", 3, 8, NULL) == 0 && !kpStrIndex_get(&ix, "a", 1, &v) &&
          kpStrIndex_get(&ix, "a\0b", 3, &v) && v == 8);
    kpStrIndex_free(&ix);
    CHECK(ix.n == 0 && !kpStrIndex_get(&ix, "key1", 4, &v));
}

int main(void) {
    test_leb();
    test_utf8();
    test_strindex();
    return kpt_finish();
}
