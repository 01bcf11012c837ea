/*
 * cabi.c -- the canonical ABI (component model, CanonicalABI.md): layout, flattening, lifting and
 * lowering of every value type, and resource handle tables.
 *
 * Core values travel as uint64_t slots holding the bit pattern of the core value (i32 and f32 in
 * the low 32 bits). That makes the ABI's coercions between a variant's joined flat types and a
 * case's own types a matter of taking the low 32 bits when the case wants an i32 or f32, and zero
 * extension when lowering; nothing else changes bits.
 *
 * Every value a guest controls is checked where it is read: pointers against the memory's size
 * (in 64-bit arithmetic) and their type's alignment, discriminants against the case count, chars
 * against the Unicode scalar range, strings against their encoding, handles against the table.
 * The walk over a value recurses along its type, whose depth the decoder bounded; the work over a
 * value lifted from memory is bounded by the memory's size (every type occupies at least a byte)
 * and the host memory it costs by KP_MAX_CABI_HOST_BYTES.
 */
#include "component/cabi.h"

static const char *const trap_messages[] = {
    [KP_CABI_OK] = "ok",
    [KP_CABI_OUT_OF_BOUNDS] = "canonical ABI: pointer out of bounds",
    [KP_CABI_MISALIGNED] = "canonical ABI: misaligned pointer",
    [KP_CABI_BAD_DISCRIMINANT] = "canonical ABI: invalid discriminant",
    [KP_CABI_BAD_CHAR] = "canonical ABI: invalid char (not a Unicode scalar value)",
    [KP_CABI_BAD_STRING] = "canonical ABI: invalid string encoding or length",
    [KP_CABI_BAD_HANDLE] = "canonical ABI: unknown, wrongly typed, unowned or lent resource handle",
    [KP_CABI_REALLOC] = "canonical ABI: realloc failed or returned a bad pointer",
    [KP_CABI_LIMIT] = "canonical ABI: value too large for the host",
    [KP_CABI_NOMEM] = "out of memory",
};

const char *kpCabi_trapMessage(kpCabiTrap t) {
    return (unsigned)t < sizeof trap_messages / sizeof trap_messages[0] ? trap_messages[t] : "unknown";
}

/* ---- Arena -------------------------------------------------------------------------------------- */

typedef struct kpCArenaChunk {
    struct kpCArenaChunk *next;
    size_t size, used;
    max_align_t data[];
} kpCArenaChunk;

void *kpCArena_alloc(kpCArena *a, size_t size) {
    size = (size + 15) & ~(size_t)15;
    if (size > KP_MAX_CABI_HOST_BYTES || a->used + size > KP_MAX_CABI_HOST_BYTES) return NULL;
    kpCArenaChunk *ch = a->chunks;
    if (!ch || ch->size - ch->used < size) {
        size_t cap = size > 65536 ? size : 65536;
        ch = kp_malloc(sizeof *ch + cap);
        if (!ch) return NULL;
        ch->next = a->chunks, ch->size = cap, ch->used = 0;
        a->chunks = ch;
    }
    void *p = (uint8_t *)ch->data + ch->used;
    ch->used += size;
    a->used += size;
    memset(p, 0, size);
    return p;
}

void kpCArena_free(kpCArena *a) {
    for (kpCArenaChunk *ch = a->chunks, *next; ch; ch = next) {
        next = ch->next;
        kp_free(ch);
    }
    a->chunks = NULL;
    a->used = 0;
}

static kpCabiTrap alloc(kpCabiCx *cx, uint64_t n, size_t elem, void **out) {
    if (n > KP_MAX_CABI_HOST_BYTES / elem || cx->arena->used + n * elem > KP_MAX_CABI_HOST_BYTES)
        return KP_CABI_LIMIT;
    *out = kpCArena_alloc(cx->arena, (size_t)(n ? n * elem : 1));
    return *out ? KP_CABI_OK : KP_CABI_NOMEM;
}

/* ---- Layout ------------------------------------------------------------------------------------- */

static uint32_t align_to(uint32_t x, uint32_t a) { return (x + a - 1) & ~(a - 1); }
static uint64_t align_to64(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }
static uint32_t sat32(uint64_t x) { return x > UINT32_MAX ? UINT32_MAX : (uint32_t)x; }
static uint32_t disc_size(uint32_t ncases) { return ncases <= 256 ? 1 : ncases <= 65536 ? 2 : 4; }

static uint32_t prim_size(uint8_t p) {
    switch (p) {
    case kpCP_BOOL:
    case kpCP_S8:
    case kpCP_U8: return 1;
    case kpCP_S16:
    case kpCP_U16: return 2;
    case kpCP_S64:
    case kpCP_U64:
    case kpCP_F64:
    case kpCP_STRING: return 8;
    default: return 4;
    }
}
static uint32_t prim_align(uint8_t p) { return p == kpCP_STRING ? 4 : prim_size(p); }
static uint32_t prim_flat(uint8_t p) { return p == kpCP_STRING ? 2 : 1; }

/* The primitive a value type is, or 0. */
static uint8_t prim_of(const kpComponent *c, kpCVal v) {
    if (v.prim) return v.prim;
    const kpCType *t = kpComponent_resolve(c, v.type);
    return t->kind == kpCT_PRIM ? t->a.prim : 0;
}
static const kpCType *def(const kpComponent *c, kpCVal v) { return kpComponent_resolve(c, v.type); }

uint32_t kpCabi_size(const kpComponent *c, kpCVal t) { return t.prim ? prim_size(t.prim) : def(c, t)->size; }
uint32_t kpCabi_align(const kpComponent *c, kpCVal t) {
    return t.prim ? prim_align(t.prim) : def(c, t)->align;
}
static uint32_t vflat(const kpComponent *c, kpCVal t) {
    return t.prim ? prim_flat(t.prim) : def(c, t)->nflat;
}
static bool vptr(const kpComponent *c, kpCVal t) {
    return t.prim ? t.prim == kpCP_STRING : def(c, t)->has_ptr;
}

/* Cases of the variant-like kinds: count, and whether / which payload case i has. */
static uint32_t ncases(const kpCType *t) {
    return t->kind == kpCT_OPTION || t->kind == kpCT_RESULT ? 2 : t->n;
}
static bool case_payload(const kpCType *t, uint32_t i, kpCVal *ty) {
    switch (t->kind) {
    case kpCT_VARIANT: *ty = t->fields[i].type; return t->fields[i].has_type;
    case kpCT_OPTION: *ty = t->a; return i == 1;
    case kpCT_RESULT: *ty = i == 0 ? t->a : t->b; return i == 0 ? t->has_a : t->has_b;
    default: return false;
    }
}

void kpCabi_layout(const kpComponent *c, kpCType *t) {
    uint64_t size = 0, flat = 0;
    uint32_t align = 1;
    bool ptr = false;
    switch ((kpCTypeKind)t->kind) {
    case kpCT_PRIM:
        ptr = t->a.prim == kpCP_STRING;
        size = prim_size(t->a.prim), align = prim_align(t->a.prim), flat = prim_flat(t->a.prim);
        break;
    case kpCT_RECORD:
    case kpCT_TUPLE:
        for (uint32_t i = 0; i < t->n; i++) {
            uint32_t fa = kpCabi_align(c, t->fields[i].type);
            size = align_to64(size, fa) + kpCabi_size(c, t->fields[i].type);
            if (fa > align) align = fa;
            flat += vflat(c, t->fields[i].type);
            ptr |= vptr(c, t->fields[i].type);
        }
        size = align_to64(size, align);
        break;
    case kpCT_VARIANT:
    case kpCT_OPTION:
    case kpCT_RESULT:
    case kpCT_ENUM: {
        uint32_t n = ncases(t), ds = disc_size(n);
        uint64_t max_size = 0, max_flat = 0;
        align = ds;
        for (uint32_t i = 0; i < n; i++) {
            kpCVal ty;
            if (!case_payload(t, i, &ty)) continue;
            uint32_t a = kpCabi_align(c, ty);
            if (a > align) align = a;
            if (kpCabi_size(c, ty) > max_size) max_size = kpCabi_size(c, ty);
            if (vflat(c, ty) > max_flat) max_flat = vflat(c, ty);
            ptr |= vptr(c, ty);
        }
        size = align_to64(align_to64(ds, align) + max_size, align);
        flat = 1 + max_flat;
        break;
    }
    case kpCT_LIST: size = 8, align = 4, flat = 2, ptr = true; break;
    case kpCT_FLAGS: size = align = t->n <= 8 ? 1 : t->n <= 16 ? 2 : 4, flat = 1; break;
    case kpCT_OWN:
    case kpCT_BORROW: size = align = 4, flat = 1; break;
    case kpCT_NAMED: {
        const kpCType *u = &c->types.v[t->target];
        size = u->size, align = u->align, flat = u->nflat, ptr = u->has_ptr;
        break;
    }
    default: return;
    }
    t->size = sat32(size);
    t->align = (uint8_t)align;
    t->nflat = (uint8_t)(flat > 255 ? 255 : flat);
    t->has_ptr = ptr;
}

/* Join of two flat types: equal stays, i32/f32 is i32, anything else i64. */
static uint8_t join(uint8_t a, uint8_t b) {
    if (a == b) return a;
    if ((a == kpT_I32 && b == kpT_F32) || (a == kpT_F32 && b == kpT_I32)) return kpT_I32;
    return kpT_I64;
}

static uint32_t flatten(const kpComponent *c, kpCVal v, uint8_t *out, uint32_t i, uint32_t max) {
    uint8_t p = prim_of(c, v);
    if (p) {
        uint8_t ft = p == kpCP_S64 || p == kpCP_U64 ? kpT_I64
                     : p == kpCP_F32                ? kpT_F32
                     : p == kpCP_F64                ? kpT_F64
                                                    : kpT_I32;
        if (i < max && out) out[i] = ft;
        if (p == kpCP_STRING && i + 1 < max && out) out[i + 1] = kpT_I32;
        return i + prim_flat(p);
    }
    const kpCType *t = def(c, v);
    if (t->nflat > max - (i < max ? i : max)) return i + t->nflat; /* does not fit: count only */
    switch ((kpCTypeKind)t->kind) {
    case kpCT_RECORD:
    case kpCT_TUPLE:
        for (uint32_t k = 0; k < t->n; k++) i = flatten(c, t->fields[k].type, out, i, max);
        return i;
    case kpCT_VARIANT:
    case kpCT_OPTION:
    case kpCT_RESULT:
    case kpCT_ENUM: {
        uint32_t base = i + 1, n = ncases(t);
        if (out) out[i] = kpT_I32;
        if (out)
            for (uint32_t k = base; k < i + t->nflat; k++) out[k] = 0;
        for (uint32_t k = 0; k < n; k++) {
            kpCVal ty;
            uint8_t tmp[256];
            if (!case_payload(t, k, &ty)) continue;
            uint32_t m = flatten(c, ty, tmp, 0, sizeof tmp);
            for (uint32_t j = 0; out && j < m; j++)
                out[base + j] = out[base + j] ? join(out[base + j], tmp[j]) : tmp[j];
        }
        if (out)
            for (uint32_t k = base; k < i + t->nflat; k++)
                if (!out[k]) out[k] = kpT_I32;
        return i + t->nflat;
    }
    case kpCT_LIST:
        if (out) out[i] = out[i + 1] = kpT_I32;
        return i + 2;
    default:
        if (out) out[i] = kpT_I32;
        return i + 1;
    }
}

uint32_t kpCabi_flatten(const kpComponent *c, kpCVal t, uint8_t *out, uint32_t max) {
    return flatten(c, t, out, 0, max);
}

void kpCabi_coreSig(const kpComponent *c, const kpCType *ft, bool lower, uint8_t *params, uint32_t *np,
                    uint8_t *results, uint32_t *nr) {
    uint32_t n = 0, m = 0;
    for (uint32_t i = 0; i < ft->nparams; i++)
        n = flatten(c, ft->fields[i].type, params, n, KP_CABI_MAX_FLAT_PARAMS);
    if (n > KP_CABI_MAX_FLAT_PARAMS) params[0] = kpT_I32, n = 1;
    for (uint32_t i = ft->nparams; i < ft->n; i++)
        m = flatten(c, ft->fields[i].type, results, m, KP_CABI_MAX_FLAT_RESULTS);
    if (m > KP_CABI_MAX_FLAT_RESULTS) {
        if (lower) params[n++] = kpT_I32, m = 0;
        else results[0] = kpT_I32, m = 1;
    }
    *np = n, *nr = m;
}

/* ---- Resource handles --------------------------------------------------------------------------- */

kpCabiTrap kpCHandles_add(kpCHandles *h, uint32_t type, uint32_t rep, bool own, uint32_t *index) {
    uint32_t i = h->free_head;
    if (i) {
        h->free_head = h->v.v[i].next;
    } else {
        if (h->v.n == 0 && kpVec_grow(&h->v) == 0) h->v.v[h->v.n++] = (kpCHandle){ 0 }; /* index 0 unused */
        if (h->v.n >= (1u << 28)) return KP_CABI_LIMIT;
        if (kpVec_grow(&h->v) != 0) return KP_CABI_NOMEM;
        i = (uint32_t)h->v.n++;
    }
    h->v.v[i] = (kpCHandle){ .rep = rep, .type = type, .own = own, .used = true };
    *index = i;
    return KP_CABI_OK;
}

static kpCHandle *handle_get(kpCHandles *h, uint32_t type, uint32_t index) {
    if (index == 0 || index >= h->v.n) return NULL;
    kpCHandle *e = &h->v.v[index];
    return e->used && e->type == type ? e : NULL;
}

static void handle_release(kpCHandles *h, uint32_t index) {
    h->v.v[index] = (kpCHandle){ .next = h->free_head };
    h->free_head = index;
}

kpCabiTrap kpCHandles_lift(kpCHandles *h, uint32_t type, uint32_t index, bool own, uint32_t *rep) {
    kpCHandle *e = handle_get(h, type, index);
    if (!e || (own && (!e->own || e->lent))) return KP_CABI_BAD_HANDLE;
    *rep = e->rep;
    if (own) handle_release(h, index);
    return KP_CABI_OK;
}

kpCabiTrap kpCHandles_drop(kpCHandles *h, uint32_t type, uint32_t index, uint32_t *own_rep) {
    kpCHandle *e = handle_get(h, type, index);
    if (!e || e->lent) return KP_CABI_BAD_HANDLE;
    *own_rep = e->own ? e->rep : UINT32_MAX;
    handle_release(h, index);
    return KP_CABI_OK;
}

kpCabiTrap kpCHandles_rep(kpCHandles *h, uint32_t type, uint32_t index, uint32_t *rep) {
    kpCHandle *e = handle_get(h, type, index);
    if (!e) return KP_CABI_BAD_HANDLE;
    *rep = e->rep;
    return KP_CABI_OK;
}

bool kpCHandles_endBorrow(kpCHandles *h, uint32_t type, uint32_t index, uint32_t rep) {
    kpCHandle *e = handle_get(h, type, index);
    if (!e || e->own || e->rep != rep) return false;
    handle_release(h, index);
    return true;
}

void kpCHandles_free(kpCHandles *h) { kpVec_free(&h->v), h->free_head = 0; }

/* The resource type id a handle type names. */
static uint32_t resource_of(const kpComponent *c, const kpCType *handle) {
    return (uint32_t)(kpComponent_resolve(c, handle->target) - c->types.v);
}

/* ---- Strings ------------------------------------------------------------------------------------ */

#define KP_CABI_MAX_STRING ((1u << 31) - 1)
#define KP_CABI_UTF16_TAG (1u << 31)

/* The next code point of well-formed UTF-8 (checked before). */
static uint32_t utf8_get(const uint8_t *s, size_t *i) {
    uint8_t b = s[*i];
    size_t n = kpChars_utf8Len(s + *i, 4);
    uint32_t cp = n == 1 ? b : n == 2 ? b & 0x1f : n == 3 ? b & 0x0f : b & 0x07;
    for (size_t k = 1; k < n; k++) cp = cp << 6 | (s[*i + k] & 0x3f);
    *i += n;
    return cp;
}

/* A string at begin with tagged_units code units, decoded into UTF-8 in the arena. */
static kpCabiTrap load_string_at(kpCabiCx *cx, uint32_t begin, uint32_t tagged_units, kpCValue *out) {
    bool utf16 = cx->enc == KP_CABI_UTF16;
    uint32_t units = tagged_units;
    if (cx->enc == KP_CABI_LATIN1_UTF16 && (tagged_units & KP_CABI_UTF16_TAG)) {
        utf16 = true;
        units &= ~KP_CABI_UTF16_TAG;
    }
    uint64_t bytes = utf16 ? (uint64_t)units * 2 : units;
    if (bytes > KP_CABI_MAX_STRING) return KP_CABI_BAD_STRING;
    if (utf16 && (begin & 1)) return KP_CABI_MISALIGNED;
    if ((uint64_t)begin + bytes > cx->mem_size) return KP_CABI_OUT_OF_BOUNDS;
    const uint8_t *src = cx->mem + begin;
    uint8_t *o;
    kpCabiTrap tr;
    if (cx->enc == KP_CABI_UTF8) {
        if (!kp_utf8_valid(src, units)) return KP_CABI_BAD_STRING;
        if ((tr = alloc(cx, units, 1, (void **)&o)) != KP_CABI_OK) return tr;
        memcpy(o, src, units);
        out->str.p = (const char *)o, out->str.len = units;
        return KP_CABI_OK;
    }
    if ((tr = alloc(cx, (uint64_t)units * 3, 1, (void **)&o)) != KP_CABI_OK) return tr; /* worst case */
    size_t n = 0;
    for (uint32_t i = 0; i < units; i++) {
        uint32_t cp;
        if (!utf16) {
            cp = src[i];
        } else {
            cp = (uint32_t)src[2 * i] | (uint32_t)src[2 * i + 1] << 8;
            if (cp >= 0xdc00 && cp <= 0xdfff) return KP_CABI_BAD_STRING;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (i + 1 >= units) return KP_CABI_BAD_STRING;
                uint32_t lo = (uint32_t)src[2 * i + 2] | (uint32_t)src[2 * i + 3] << 8;
                if (lo < 0xdc00 || lo > 0xdfff) return KP_CABI_BAD_STRING;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i++;
            }
        }
        n += kpChars_utf8Put(o + n, cp);
    }
    out->str.p = (const char *)o, out->str.len = (uint32_t)n;
    return KP_CABI_OK;
}

static kpCabiTrap guest_alloc(kpCabiCx *cx, uint32_t align, uint64_t size, uint32_t *ptr) {
    if (size > UINT32_MAX) return KP_CABI_LIMIT;
    if (!cx->realloc || cx->realloc(cx, 0, 0, align, (uint32_t)size, ptr) != 0) return KP_CABI_REALLOC;
    if ((*ptr & (align - 1)) || (uint64_t)*ptr + size > cx->mem_size) return KP_CABI_REALLOC;
    return KP_CABI_OK;
}

/* Store a host (UTF-8) string in the guest's encoding; *ptr and *units as the ABI passes them. */
static kpCabiTrap store_string_data(kpCabiCx *cx, const kpCValue *v, uint32_t *ptr, uint32_t *units) {
    const uint8_t *s = (const uint8_t *)v->str.p;
    uint32_t len = v->str.len;
    kpCabiTrap tr;
    if (cx->enc == KP_CABI_UTF8) {
        if (len > KP_CABI_MAX_STRING) return KP_CABI_BAD_STRING;
        if ((tr = guest_alloc(cx, 1, len, ptr)) != KP_CABI_OK) return tr;
        if (len) memcpy(cx->mem + *ptr, s, len);
        *units = len;
        return KP_CABI_OK;
    }
    /* Count code units, and whether latin1 suffices. */
    uint64_t n16 = 0;
    bool latin1 = cx->enc == KP_CABI_LATIN1_UTF16;
    for (size_t i = 0; i < len;) {
        uint32_t cp = utf8_get(s, &i);
        n16 += cp >= 0x10000 ? 2 : 1;
        if (cp > 0xff) latin1 = false;
    }
    if (n16 > KP_CABI_MAX_STRING / 2) return KP_CABI_BAD_STRING;
    if (latin1) {
        if ((tr = guest_alloc(cx, 2, n16, ptr)) != KP_CABI_OK) return tr;
        uint8_t *o = cx->mem + *ptr;
        for (size_t i = 0; i < len;) *o++ = (uint8_t)utf8_get(s, &i);
        *units = (uint32_t)n16;
        return KP_CABI_OK;
    }
    if ((tr = guest_alloc(cx, 2, n16 * 2, ptr)) != KP_CABI_OK) return tr;
    uint8_t *o = cx->mem + *ptr;
    for (size_t i = 0; i < len;) {
        uint32_t cp = utf8_get(s, &i);
        if (cp >= 0x10000) {
            uint32_t hi = 0xd800 + ((cp - 0x10000) >> 10), lo = 0xdc00 + ((cp - 0x10000) & 0x3ff);
            *o++ = (uint8_t)hi, *o++ = (uint8_t)(hi >> 8), *o++ = (uint8_t)lo, *o++ = (uint8_t)(lo >> 8);
        } else {
            *o++ = (uint8_t)cp, *o++ = (uint8_t)(cp >> 8);
        }
    }
    *units = (uint32_t)n16 | (cx->enc == KP_CABI_LATIN1_UTF16 ? KP_CABI_UTF16_TAG : 0);
    return KP_CABI_OK;
}

/* ---- Memory: load ------------------------------------------------------------------------------- */

static uint64_t rd(const uint8_t *p, uint32_t n) {
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static void wr(uint8_t *p, uint64_t v, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static kpCabiTrap load(kpCabiCx *cx, kpCVal t, uint32_t ptr, kpCValue *out);

/* A scalar from its raw bits (memory or a flat slot): sign extension, char check, bool. */
static kpCabiTrap scalar(uint8_t p, uint64_t bits, kpCValue *out) {
    switch (p) {
    case kpCP_BOOL: out->b = (bits & 0xff) != 0; return KP_CABI_OK;
    case kpCP_S8: out->s = (int8_t)bits; return KP_CABI_OK;
    case kpCP_U8: out->u = (uint8_t)bits; return KP_CABI_OK;
    case kpCP_S16: out->s = (int16_t)bits; return KP_CABI_OK;
    case kpCP_U16: out->u = (uint16_t)bits; return KP_CABI_OK;
    case kpCP_S32: out->s = (int32_t)bits; return KP_CABI_OK;
    case kpCP_U32: out->u = (uint32_t)bits; return KP_CABI_OK;
    case kpCP_S64: out->s = (int64_t)bits; return KP_CABI_OK;
    case kpCP_U64: out->u = bits; return KP_CABI_OK;
    case kpCP_F32: {
        uint32_t b32 = (uint32_t)bits;
        memcpy(&out->f32, &b32, 4);
        return KP_CABI_OK;
    }
    case kpCP_F64: memcpy(&out->f64, &bits, 8); return KP_CABI_OK;
    case kpCP_CHAR:
        bits = (uint32_t)bits;
        if (bits >= 0x110000 || (bits >= 0xd800 && bits <= 0xdfff)) return KP_CABI_BAD_CHAR;
        out->c = (uint32_t)bits;
        return KP_CABI_OK;
    default: return KP_CABI_OUT_OF_BOUNDS;
    }
}

static kpCabiTrap load_list_at(kpCabiCx *cx, kpCVal elem, uint32_t ptr, uint32_t n, kpCValue *out) {
    uint32_t size = kpCabi_size(cx->c, elem), align = kpCabi_align(cx->c, elem);
    if (ptr & (align - 1)) return KP_CABI_MISALIGNED;
    if ((uint64_t)ptr + (uint64_t)n * size > cx->mem_size) return KP_CABI_OUT_OF_BOUNDS;
    kpCabiTrap tr = alloc(cx, n, sizeof(kpCValue), (void **)&out->agg.v);
    out->agg.n = n;
    for (uint32_t i = 0; tr == KP_CABI_OK && i < n; i++) tr = load(cx, elem, ptr + i * size, &out->agg.v[i]);
    return tr;
}

/* The run-time identity of handle type t's resource in cx (see kpCabiCx.resource_id). */
static uint32_t resource_in(kpCabiCx *cx, const kpCType *t, bool *impl) {
    uint32_t id = resource_of(cx->c, t);
    *impl = false;
    return cx->resource_id ? cx->resource_id(cx->resource_env, id, impl) : id;
}

static kpCabiTrap handle_in(kpCabiCx *cx, const kpCType *t, uint32_t index, kpCValue *out) {
    bool impl;
    uint32_t type = resource_in(cx, t, &impl);
    return kpCHandles_lift(cx->handles, type, index, t->kind == kpCT_OWN, &out->rep);
}

/* Load at ptr; ptr + size is inside the memory and ptr aligned (checked by the caller). */
static kpCabiTrap load(kpCabiCx *cx, kpCVal v, uint32_t ptr, kpCValue *out) {
    const uint8_t *m = cx->mem + ptr;
    uint8_t p = prim_of(cx->c, v);
    if (p == kpCP_STRING) return load_string_at(cx, (uint32_t)rd(m, 4), (uint32_t)rd(m + 4, 4), out);
    if (p) return scalar(p, rd(m, prim_size(p)), out);
    const kpCType *t = def(cx->c, v);
    kpCabiTrap tr = KP_CABI_OK;
    switch ((kpCTypeKind)t->kind) {
    case kpCT_LIST: return load_list_at(cx, t->a, (uint32_t)rd(m, 4), (uint32_t)rd(m + 4, 4), out);
    case kpCT_RECORD:
    case kpCT_TUPLE: {
        if ((tr = alloc(cx, t->n, sizeof(kpCValue), (void **)&out->agg.v)) != KP_CABI_OK) return tr;
        out->agg.n = t->n;
        uint32_t off = 0;
        for (uint32_t i = 0; tr == KP_CABI_OK && i < t->n; i++) {
            off = align_to(off, kpCabi_align(cx->c, t->fields[i].type));
            tr = load(cx, t->fields[i].type, ptr + off, &out->agg.v[i]);
            off += kpCabi_size(cx->c, t->fields[i].type);
        }
        return tr;
    }
    case kpCT_VARIANT:
    case kpCT_OPTION:
    case kpCT_RESULT:
    case kpCT_ENUM: {
        uint32_t n = ncases(t), ds = disc_size(n);
        uint32_t disc = (uint32_t)rd(m, ds);
        kpCVal ty;
        if (disc >= n) return KP_CABI_BAD_DISCRIMINANT;
        out->var.disc = disc;
        if (!case_payload(t, disc, &ty)) return KP_CABI_OK;
        if ((tr = alloc(cx, 1, sizeof(kpCValue), (void **)&out->var.payload)) != KP_CABI_OK) return tr;
        return load(cx, ty, ptr + align_to(ds, t->align), out->var.payload);
    }
    case kpCT_FLAGS:
        out->flags = (uint32_t)rd(m, t->size) & (t->n == 32 ? UINT32_MAX : (1u << t->n) - 1);
        return KP_CABI_OK;
    case kpCT_OWN:
    case kpCT_BORROW: return handle_in(cx, t, (uint32_t)rd(m, 4), out);
    default: return KP_CABI_OUT_OF_BOUNDS;
    }
}

static kpCabiTrap check_ptr(kpCabiCx *cx, uint32_t ptr, uint32_t size, uint32_t align) {
    if (ptr & (align - 1)) return KP_CABI_MISALIGNED;
    if ((uint64_t)ptr + size > cx->mem_size) return KP_CABI_OUT_OF_BOUNDS;
    return KP_CABI_OK;
}

kpCabiTrap kpCabi_load(kpCabiCx *cx, kpCVal t, uint32_t ptr, kpCValue *out) {
    kpCabiTrap tr = check_ptr(cx, ptr, kpCabi_size(cx->c, t), kpCabi_align(cx->c, t));
    return tr != KP_CABI_OK ? tr : load(cx, t, ptr, out);
}

/* ---- Memory: store ------------------------------------------------------------------------------ */

static kpCabiTrap store(kpCabiCx *cx, kpCVal t, uint32_t ptr, const kpCValue *v);

static uint64_t scalar_bits(uint8_t p, const kpCValue *v) {
    switch (p) {
    case kpCP_BOOL: return v->b ? 1 : 0;
    case kpCP_F32: {
        uint32_t b;
        memcpy(&b, &v->f32, 4);
        return b;
    }
    case kpCP_F64: {
        uint64_t b;
        memcpy(&b, &v->f64, 8);
        return b;
    }
    case kpCP_CHAR: return v->c;
    default: return v->u; /* integers: two's complement, truncated by the store width */
    }
}

static kpCabiTrap store_list_data(kpCabiCx *cx, kpCVal elem, const kpCValue *v, uint32_t *ptr) {
    uint32_t size = kpCabi_size(cx->c, elem), align = kpCabi_align(cx->c, elem);
    kpCabiTrap tr = guest_alloc(cx, align, (uint64_t)v->agg.n * size, ptr);
    for (uint32_t i = 0; tr == KP_CABI_OK && i < v->agg.n; i++)
        tr = store(cx, elem, *ptr + i * size, &v->agg.v[i]);
    return tr;
}

static kpCabiTrap handle_out(kpCabiCx *cx, const kpCType *t, const kpCValue *v, uint32_t *index) {
    bool impl;
    uint32_t type = resource_in(cx, t, &impl);
    if (impl && t->kind == kpCT_BORROW) { /* lower_borrow into the implementer: the rep */
        *index = v->rep;
        return KP_CABI_OK;
    }
    kpCabiTrap tr = kpCHandles_add(cx->handles, type, v->rep, t->kind == kpCT_OWN, index);
    if (tr != KP_CABI_OK || t->kind == kpCT_OWN || !cx->track_borrows) return tr;
    if (cx->nborrows + 3 > cx->borrows_cap) {
        uint32_t cap = cx->borrows_cap ? cx->borrows_cap * 2 : 48;
        uint32_t *b = cap > (1u << 28) ? NULL : kp_realloc(cx->borrows, cap * sizeof *b);
        if (!b) return KP_CABI_NOMEM;
        cx->borrows = b, cx->borrows_cap = cap;
    }
    cx->borrows[cx->nborrows++] = *index; /* (index, type, rep) */
    cx->borrows[cx->nborrows++] = type;
    cx->borrows[cx->nborrows++] = v->rep;
    return KP_CABI_OK;
}

/* Store at ptr (inside the memory, aligned). Realloc may move the memory: re-derive cx->mem after
 * every call that can allocate. */
static kpCabiTrap store(kpCabiCx *cx, kpCVal v, uint32_t ptr, const kpCValue *val) {
    uint8_t p = prim_of(cx->c, v);
    uint32_t a, b;
    kpCabiTrap tr;
    if (p == kpCP_STRING) {
        if ((tr = store_string_data(cx, val, &a, &b)) != KP_CABI_OK) return tr;
        wr(cx->mem + ptr, a, 4), wr(cx->mem + ptr + 4, b, 4);
        return KP_CABI_OK;
    }
    if (p) {
        wr(cx->mem + ptr, scalar_bits(p, val), prim_size(p));
        return KP_CABI_OK;
    }
    const kpCType *t = def(cx->c, v);
    switch ((kpCTypeKind)t->kind) {
    case kpCT_LIST:
        if ((tr = store_list_data(cx, t->a, val, &a)) != KP_CABI_OK) return tr;
        wr(cx->mem + ptr, a, 4), wr(cx->mem + ptr + 4, val->agg.n, 4);
        return KP_CABI_OK;
    case kpCT_RECORD:
    case kpCT_TUPLE: {
        uint32_t off = 0;
        for (uint32_t i = 0; i < t->n; i++) {
            off = align_to(off, kpCabi_align(cx->c, t->fields[i].type));
            if ((tr = store(cx, t->fields[i].type, ptr + off, &val->agg.v[i])) != KP_CABI_OK) return tr;
            off += kpCabi_size(cx->c, t->fields[i].type);
        }
        return KP_CABI_OK;
    }
    case kpCT_VARIANT:
    case kpCT_OPTION:
    case kpCT_RESULT:
    case kpCT_ENUM: {
        uint32_t n = ncases(t), ds = disc_size(n);
        kpCVal ty;
        if (val->var.disc >= n) return KP_CABI_BAD_DISCRIMINANT;
        wr(cx->mem + ptr, val->var.disc, ds);
        if (!case_payload(t, val->var.disc, &ty)) return KP_CABI_OK;
        return store(cx, ty, ptr + align_to(ds, t->align), val->var.payload);
    }
    case kpCT_FLAGS: wr(cx->mem + ptr, val->flags, t->size); return KP_CABI_OK;
    case kpCT_OWN:
    case kpCT_BORROW:
        if ((tr = handle_out(cx, t, val, &a)) != KP_CABI_OK) return tr;
        wr(cx->mem + ptr, a, 4);
        return KP_CABI_OK;
    default: return KP_CABI_OUT_OF_BOUNDS;
    }
}

kpCabiTrap kpCabi_store(kpCabiCx *cx, kpCVal t, uint32_t ptr, const kpCValue *v) {
    kpCabiTrap tr = check_ptr(cx, ptr, kpCabi_size(cx->c, t), kpCabi_align(cx->c, t));
    return tr != KP_CABI_OK ? tr : store(cx, t, ptr, v);
}

/* ---- Flat values -------------------------------------------------------------------------------- */

typedef struct flat {
    uint64_t *v;
    uint32_t n, i;
} flat;

static uint64_t next32(flat *f) { return f->i < f->n ? (uint32_t)f->v[f->i++] : 0; }
static uint64_t next64(flat *f) { return f->i < f->n ? f->v[f->i++] : 0; }

static kpCabiTrap lift_flat(kpCabiCx *cx, kpCVal v, flat *f, kpCValue *out) {
    uint8_t p = prim_of(cx->c, v);
    if (p == kpCP_STRING) {
        uint32_t ptr = (uint32_t)next32(f);
        return load_string_at(cx, ptr, (uint32_t)next32(f), out);
    }
    if (p) return scalar(p, p == kpCP_S64 || p == kpCP_U64 || p == kpCP_F64 ? next64(f) : next32(f), out);
    const kpCType *t = def(cx->c, v);
    kpCabiTrap tr = KP_CABI_OK;
    switch ((kpCTypeKind)t->kind) {
    case kpCT_LIST: {
        uint32_t ptr = (uint32_t)next32(f);
        return load_list_at(cx, t->a, ptr, (uint32_t)next32(f), out);
    }
    case kpCT_RECORD:
    case kpCT_TUPLE:
        if ((tr = alloc(cx, t->n, sizeof(kpCValue), (void **)&out->agg.v)) != KP_CABI_OK) return tr;
        out->agg.n = t->n;
        for (uint32_t i = 0; tr == KP_CABI_OK && i < t->n; i++)
            tr = lift_flat(cx, t->fields[i].type, f, &out->agg.v[i]);
        return tr;
    case kpCT_VARIANT:
    case kpCT_OPTION:
    case kpCT_RESULT:
    case kpCT_ENUM: {
        uint32_t start = f->i, disc = (uint32_t)next32(f);
        kpCVal ty;
        if (disc >= ncases(t)) return KP_CABI_BAD_DISCRIMINANT;
        out->var.disc = disc;
        if (case_payload(t, disc, &ty)) {
            if ((tr = alloc(cx, 1, sizeof(kpCValue), (void **)&out->var.payload)) != KP_CABI_OK) return tr;
            /* the case's values sit in the joined slots: lift_flat takes the low bits it needs */
            if ((tr = lift_flat(cx, ty, f, out->var.payload)) != KP_CABI_OK) return tr;
        }
        f->i = start + t->nflat;
        return KP_CABI_OK;
    }
    case kpCT_FLAGS:
        out->flags = (uint32_t)next32(f) & (t->n == 32 ? UINT32_MAX : (1u << t->n) - 1);
        return KP_CABI_OK;
    case kpCT_OWN:
    case kpCT_BORROW: return handle_in(cx, t, (uint32_t)next32(f), out);
    default: return KP_CABI_OUT_OF_BOUNDS;
    }
}

static kpCabiTrap lower_flat(kpCabiCx *cx, kpCVal v, const kpCValue *val, flat *f) {
    uint8_t p = prim_of(cx->c, v);
    uint32_t a, b;
    kpCabiTrap tr;
    if (p == kpCP_STRING) {
        if ((tr = store_string_data(cx, val, &a, &b)) != KP_CABI_OK) return tr;
        f->v[f->i++] = a, f->v[f->i++] = b;
        return KP_CABI_OK;
    }
    if (p) {
        uint64_t bits = scalar_bits(p, val);
        if (p != kpCP_S64 && p != kpCP_U64 && p != kpCP_F64) bits = (uint32_t)bits;
        if (p == kpCP_BOOL || p == kpCP_U8) bits &= 0xff;
        if (p == kpCP_U16) bits &= 0xffff;
        if (p == kpCP_S8) bits = (uint32_t)(int32_t)(int8_t)bits;
        if (p == kpCP_S16) bits = (uint32_t)(int32_t)(int16_t)bits;
        f->v[f->i++] = bits;
        return KP_CABI_OK;
    }
    const kpCType *t = def(cx->c, v);
    switch ((kpCTypeKind)t->kind) {
    case kpCT_LIST:
        if ((tr = store_list_data(cx, t->a, val, &a)) != KP_CABI_OK) return tr;
        f->v[f->i++] = a, f->v[f->i++] = val->agg.n;
        return KP_CABI_OK;
    case kpCT_RECORD:
    case kpCT_TUPLE:
        for (uint32_t i = 0; i < t->n; i++)
            if ((tr = lower_flat(cx, t->fields[i].type, &val->agg.v[i], f)) != KP_CABI_OK) return tr;
        return KP_CABI_OK;
    case kpCT_VARIANT:
    case kpCT_OPTION:
    case kpCT_RESULT:
    case kpCT_ENUM: {
        uint32_t start = f->i;
        kpCVal ty;
        if (val->var.disc >= ncases(t)) return KP_CABI_BAD_DISCRIMINANT;
        f->v[f->i++] = val->var.disc;
        if (case_payload(t, val->var.disc, &ty) &&
            (tr = lower_flat(cx, ty, val->var.payload, f)) != KP_CABI_OK)
            return tr;
        while (f->i < start + t->nflat) f->v[f->i++] = 0;
        return KP_CABI_OK;
    }
    case kpCT_FLAGS: f->v[f->i++] = val->flags; return KP_CABI_OK;
    case kpCT_OWN:
    case kpCT_BORROW:
        if ((tr = handle_out(cx, t, val, &a)) != KP_CABI_OK) return tr;
        f->v[f->i++] = a;
        return KP_CABI_OK;
    default: return KP_CABI_OUT_OF_BOUNDS;
    }
}

/* ---- Functions ---------------------------------------------------------------------------------- */

/* Flat count, size and alignment of the tuple of fields[from..to). */
static void tuple_layout(const kpComponent *c, const kpCField *fs, uint32_t n, uint64_t *nflat,
                         uint32_t *size, uint32_t *align) {
    uint64_t s = 0, fl = 0;
    uint32_t a = 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t fa = kpCabi_align(c, fs[i].type);
        s = align_to64(s, fa) + kpCabi_size(c, fs[i].type);
        if (fa > a) a = fa;
        fl += vflat(c, fs[i].type);
    }
    *nflat = fl, *size = sat32(align_to64(s, a)), *align = a;
}

static kpCabiTrap lift_values(kpCabiCx *cx, const kpCField *fs, uint32_t n, uint32_t max_flat,
                              const uint64_t *core, uint32_t ncore, kpCValue **out) {
    uint64_t nflat;
    uint32_t size, align;
    tuple_layout(cx->c, fs, n, &nflat, &size, &align);
    kpCabiTrap tr = alloc(cx, n, sizeof(kpCValue), (void **)out);
    if (tr != KP_CABI_OK) return tr;
    if (nflat <= max_flat) {
        if (ncore < nflat) return KP_CABI_OUT_OF_BOUNDS;
        flat f = { (uint64_t *)core, ncore, 0 };
        for (uint32_t i = 0; tr == KP_CABI_OK && i < n; i++) tr = lift_flat(cx, fs[i].type, &f, &(*out)[i]);
        return tr;
    }
    if (ncore < 1) return KP_CABI_OUT_OF_BOUNDS;
    uint32_t ptr = (uint32_t)core[0], off = 0;
    if ((tr = check_ptr(cx, ptr, size, align)) != KP_CABI_OK) return tr;
    for (uint32_t i = 0; tr == KP_CABI_OK && i < n; i++) {
        off = align_to(off, kpCabi_align(cx->c, fs[i].type));
        tr = load(cx, fs[i].type, ptr + off, &(*out)[i]);
        off += kpCabi_size(cx->c, fs[i].type);
    }
    return tr;
}

/* Lower n values flat into core (at most max_flat slots), or into memory at *ptr: given (retptr),
 * or allocated with realloc when ptr is NULL... */
static kpCabiTrap lower_values(kpCabiCx *cx, const kpCField *fs, uint32_t n, uint32_t max_flat,
                               const kpCValue *vals, uint64_t *core, uint32_t *ncore,
                               const uint32_t *retptr) {
    uint64_t nflat;
    uint32_t size, align, ptr, off = 0;
    kpCabiTrap tr = KP_CABI_OK;
    tuple_layout(cx->c, fs, n, &nflat, &size, &align);
    if (nflat <= max_flat) {
        flat f = { core, max_flat, 0 };
        for (uint32_t i = 0; tr == KP_CABI_OK && i < n; i++) tr = lower_flat(cx, fs[i].type, &vals[i], &f);
        *ncore = f.i;
        return tr;
    }
    if (retptr) {
        ptr = *retptr;
        if ((tr = check_ptr(cx, ptr, size, align)) != KP_CABI_OK) return tr;
        *ncore = 0;
    } else {
        if ((tr = guest_alloc(cx, align, size, &ptr)) != KP_CABI_OK) return tr;
        core[0] = ptr;
        *ncore = 1;
    }
    for (uint32_t i = 0; tr == KP_CABI_OK && i < n; i++) {
        off = align_to(off, kpCabi_align(cx->c, fs[i].type));
        tr = store(cx, fs[i].type, ptr + off, &vals[i]);
        off += kpCabi_size(cx->c, fs[i].type);
    }
    return tr;
}

kpCabiTrap kpCabi_liftParams(kpCabiCx *cx, const kpCType *ft, const uint64_t *core, uint32_t ncore,
                             kpCValue **params) {
    return lift_values(cx, ft->fields, ft->nparams, KP_CABI_MAX_FLAT_PARAMS, core, ncore, params);
}

kpCabiTrap kpCabi_lowerResults(kpCabiCx *cx, const kpCType *ft, const kpCValue *results, uint64_t *core,
                               uint32_t *ncore, uint32_t retptr) {
    return lower_values(cx, ft->fields + ft->nparams, ft->n - ft->nparams, KP_CABI_MAX_FLAT_RESULTS, results,
                        core, ncore, &retptr);
}

kpCabiTrap kpCabi_lowerParams(kpCabiCx *cx, const kpCType *ft, const kpCValue *params, uint64_t *core,
                              uint32_t *ncore) {
    return lower_values(cx, ft->fields, ft->nparams, KP_CABI_MAX_FLAT_PARAMS, params, core, ncore, NULL);
}

kpCabiTrap kpCabi_liftResults(kpCabiCx *cx, const kpCType *ft, const uint64_t *core, uint32_t ncore,
                              kpCValue **results) {
    return lift_values(cx, ft->fields + ft->nparams, ft->n - ft->nparams, KP_CABI_MAX_FLAT_RESULTS, core,
                       ncore, results);
}
