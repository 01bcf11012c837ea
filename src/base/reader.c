/*
 * reader.c -- bounds-checked reads of module bytes with the binary format's exact LEB128 rules:
 * at most ceil(N/7) bytes, and the unused bits of the last byte must be zero (unsigned) or a sign
 * extension (signed). Violations are "integer representation too long" / "integer too large",
 * the messages the spec tests expect.
 */
#include "base.h"

void kpRead_init(kpReader *r, const uint8_t *base, const uint8_t *p, const uint8_t *end) {
    r->base = base;
    r->p = p;
    r->end = end;
    r->error = NULL;
    r->error_pos = 0;
}

bool kpRead_fail(kpReader *r, const char *why) {
    if (!r->error) {
        r->error = why;
        r->error_pos = (size_t)(r->p - r->base);
    }
    return false;
}

bool kpRead_u8(kpReader *r, uint8_t *out) {
    if (r->p >= r->end) return kpRead_fail(r, "unexpected end");
    *out = *r->p++;
    return true;
}

bool kpRead_bytes(kpReader *r, size_t n, const uint8_t **out) {
    if ((size_t)(r->end - r->p) < n) return kpRead_fail(r, "unexpected end");
    *out = r->p;
    r->p += n;
    return true;
}

/* Unsigned LEB128 of at most `bits` bits. */
static bool read_uleb(kpReader *r, unsigned bits, uint64_t *out) {
    uint64_t result = 0;
    unsigned shift = 0;
    unsigned maxbytes = (bits + 6) / 7;
    for (unsigned i = 0;; i++) {
        if (r->p >= r->end) return kpRead_fail(r, "unexpected end");
        uint8_t byte = *r->p++;
        if (i == maxbytes - 1) {
            /* Last permitted byte: no continuation, and bits above `bits` must be zero. */
            if (byte & 0x80) return kpRead_fail(r, "integer representation too long");
            unsigned used = bits - shift;
            if (used < 7 && (byte >> used) != 0) return kpRead_fail(r, "integer too large");
            result |= (uint64_t)byte << shift;
            break;
        }
        result |= (uint64_t)(byte & 0x7f) << shift;
        shift += 7;
        if (!(byte & 0x80)) break;
    }
    *out = result;
    return true;
}

/* Signed LEB128 of at most `bits` bits. */
static bool read_sleb(kpReader *r, unsigned bits, int64_t *out) {
    uint64_t result = 0;
    unsigned shift = 0;
    unsigned maxbytes = (bits + 6) / 7;
    for (unsigned i = 0;; i++) {
        if (r->p >= r->end) return kpRead_fail(r, "unexpected end");
        uint8_t byte = *r->p++;
        if (i == maxbytes - 1) {
            if (byte & 0x80) return kpRead_fail(r, "integer representation too long");
            /* Bits from (bits - shift - 1) upward in this byte must all equal the sign bit. */
            unsigned used = bits - shift; /* 1..7 meaningful bits in this byte */
            if (used < 7) {
                int8_t signext = (int8_t)(byte << 1) >> 1;    /* 7-bit value sign-extended */
                int8_t top = (int8_t)(signext >> (used - 1)); /* all sign or mixed */
                if (top != 0 && top != -1) return kpRead_fail(r, "integer too large");
            }
            result |= (uint64_t)(byte & 0x7f) << shift;
            shift += 7;
            break;
        }
        result |= (uint64_t)(byte & 0x7f) << shift;
        shift += 7;
        if (!(byte & 0x80)) break;
    }
    if (shift < 64 && (result >> (shift - 1)) & 1) result |= ~(uint64_t)0 << shift;
    *out = (int64_t)result;
    return true;
}

/* Most immediates (labels, locals, small constants) fit in one byte: those skip the general
 * loop. A single byte below 0x80 is always a valid encoding, whatever the width. */
bool kpRead_u32Long(kpReader *r, uint32_t *out) {
    uint64_t v;
    if (!read_uleb(r, 32, &v)) return false;
    *out = (uint32_t)v;
    return true;
}

bool kpRead_u64(kpReader *r, uint64_t *out) { return read_uleb(r, 64, out); }

bool kpRead_s32Long(kpReader *r, int32_t *out) {
    int64_t v;
    if (!read_sleb(r, 32, &v)) return false;
    *out = (int32_t)v;
    return true;
}

bool kpRead_s33(kpReader *r, int64_t *out) { return read_sleb(r, 33, out); }
bool kpRead_s64(kpReader *r, int64_t *out) { return read_sleb(r, 64, out); }

bool kpRead_f32(kpReader *r, uint32_t *bits) {
    const uint8_t *b;
    if (!kpRead_bytes(r, 4, &b)) return false;
    *bits = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

bool kpRead_f64(kpReader *r, uint64_t *bits) {
    const uint8_t *b;
    if (!kpRead_bytes(r, 8, &b)) return false;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    *bits = v;
    return true;
}

bool kp_utf8_valid(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        uint32_t cp;
        size_t n;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F;
            n = 1;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F;
            n = 2;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07;
            n = 3;
        } else return false;
        if (len - i - 1 < n) return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

bool kpRead_name(kpReader *r, const char **name, uint32_t *len) {
    uint32_t n;
    const uint8_t *b;
    if (!kpRead_u32(r, &n)) return false;
    if (!kpRead_bytes(r, n, &b)) return false;
    if (!kp_utf8_valid(b, n)) return kpRead_fail(r, "malformed UTF-8 encoding");
    *name = (const char *)b;
    *len = n;
    return true;
}
