/*
 * strindex.c -- a map from byte strings to numbers (base.h, kpStrIndex): open addressing with
 * linear probing, kept at most half full, keys borrowed. For the places that look names up among
 * thousands (TOML tables, manifest routes and components, the router) so that building them stays
 * linear in their size.
 */
#include "base.h"

struct kpStrSlot {
    const char *key; /* NULL: empty */
    size_t len;
    size_t value;
    uint32_t hash;
};

static uint32_t hash_of(const char *key, size_t len) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)key[i]) * 16777619u;
    return h;
}

static struct kpStrSlot *find(const kpStrIndex *ix, const char *key, size_t len, uint32_t h) {
    size_t mask = ix->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct kpStrSlot *s = &ix->slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)) return s;
    }
}

static int grow(kpStrIndex *ix) {
    size_t cap = ix->cap ? ix->cap * 2 : 64, bytes;
    if (cap < ix->cap || !kp_mul_ok(cap, sizeof *ix->slots, &bytes)) return -1;
    struct kpStrSlot *old = ix->slots;
    size_t old_cap = ix->cap;
    if (!(ix->slots = kp_calloc(cap, sizeof *ix->slots))) {
        ix->slots = old;
        return -1;
    }
    ix->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key) *find(ix, old[i].key, old[i].len, old[i].hash) = old[i];
    kp_free(old);
    return 0;
}

int kpStrIndex_put(kpStrIndex *ix, const char *key, size_t len, size_t value, size_t *existing) {
    if (2 * (ix->n + 1) > ix->cap && grow(ix) != 0) return -1;
    uint32_t h = hash_of(key, len);
    struct kpStrSlot *s = find(ix, key, len, h);
    if (s->key) {
        if (existing) *existing = s->value;
        return 1;
    }
    *s = (struct kpStrSlot){ key, len, value, h };
    ix->n++;
    return 0;
}

bool kpStrIndex_get(const kpStrIndex *ix, const char *key, size_t len, size_t *value) {
    if (!ix->n) return false;
    const struct kpStrSlot *s = find(ix, key, len, hash_of(key, len));
    if (!s->key) return false;
    *value = s->value;
    return true;
}

void kpStrIndex_free(kpStrIndex *ix) {
    kp_free(ix->slots);
    ix->slots = NULL;
    ix->n = ix->cap = 0;
}
