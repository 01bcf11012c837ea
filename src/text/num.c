/*
 * num.c -- numeric literals of the text format: integers (decimal and hex, '_' separators,
 * signed/unsigned ranges) and floats (decimal, hex, inf, nan, nan:0x...).
 *
 * Decimal floats go through strtod/strtof, which glibc rounds correctly (to nearest, ties to
 * even) for any number of digits. Hex floats are rounded here by hand: a C library's hex path
 * is not guaranteed for long mantissas, and the spec tests probe exactly those halfway cases.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "text/textint.h"

static int digit_val(char c, int base) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return -1;
    return v < base ? v : -1;
}

/* Scan `digit ('_'? digit)*` in the given base; returns the count of characters used (0 if the
 * text does not start with a digit). Accumulates into *v, setting *ovf if it exceeds 64 bits. */
static size_t scan_digits(const char *s, size_t n, int base, uint64_t *v, bool *ovf) {
    size_t i = 0;
    uint64_t acc = 0;
    bool last_digit = false;
    while (i < n) {
        if (s[i] == '_') {
            if (!last_digit || i + 1 >= n || digit_val(s[i + 1], base) < 0) break;
            last_digit = false;
            i++;
            continue;
        }
        int d = digit_val(s[i], base);
        if (d < 0) break;
        if (acc > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) *ovf = true;
        acc = acc * (uint64_t)base + (uint64_t)d;
        last_digit = true;
        i++;
    }
    if (v) *v = acc;
    return i;
}

/* An unsigned magnitude: `num` or `0x hexnum`, the whole text. */
static int parse_mag(const char *s, size_t n, uint64_t *v) {
    bool ovf = false;
    size_t used;
    if (n > 2 && s[0] == '0' && s[1] == 'x') {
        used = scan_digits(s + 2, n - 2, 16, v, &ovf);
        if (!used || used != n - 2) return kpNum_SYNTAX;
    } else {
        used = scan_digits(s, n, 10, v, &ovf);
        if (!used || used != n) return kpNum_SYNTAX;
    }
    return ovf ? kpNum_RANGE : kpNum_OK;
}

int kpNum_uint(const char *s, size_t n, int bits, uint64_t *out) {
    uint64_t v;
    int r = parse_mag(s, n, &v);
    if (r) return r;
    if (bits < 64 && v >> bits) return kpNum_RANGE;
    *out = v;
    return kpNum_OK;
}

int kpNum_int(const char *s, size_t n, int bits, uint64_t *out) {
    bool neg = false;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        s++;
        n--;
    }
    uint64_t v;
    int r = parse_mag(s, n, &v);
    if (r) return r;
    uint64_t mask = bits == 64 ? UINT64_MAX : (((uint64_t)1 << bits) - 1);
    if (neg) {
        if (v > ((uint64_t)1 << (bits - 1))) return kpNum_RANGE;
        *out = (~v + 1) & mask;
    } else {
        if (v > mask) return kpNum_RANGE;
        *out = v;
    }
    return kpNum_OK;
}

/* Float formats: mantissa bits and exponent bits. */
typedef struct fmt {
    int mbits, ebits;
} fmt;

/* Round mant * 2^e2 (plus a sticky remainder below mant's last bit) to the format, to nearest
 * even. mant != 0. Returns kpNum_RANGE if the result overflows to infinity. */
static int round_binary(uint64_t mant, int64_t e2, bool sticky, fmt f, uint64_t *bits) {
    int h = 63;
    while (!(mant >> h)) h--;
    int64_t E = h + e2; /* value = 1.xxx * 2^E */
    int P = f.mbits + 1;
    int64_t emax = ((int64_t)1 << (f.ebits - 1)) - 1, emin = 1 - emax;
    if (E > emax + 1) return kpNum_RANGE;
    int64_t keep = E >= emin ? P : P - (emin - E);
    int64_t shift = h + 1 - keep; /* low bits of mant to drop */
    uint64_t kept;
    if (shift <= 0) {
        kept = mant << -shift; /* exact (sticky is only set with >= 60 bits) */
    } else {
        uint64_t rem, half;
        if (shift > 64) {
            kept = 0;
            rem = mant;
            half = UINT64_MAX;
            sticky = true;
        } else if (shift == 64) {
            kept = 0;
            rem = mant;
            half = (uint64_t)1 << 63;
        } else {
            kept = mant >> shift;
            rem = mant & (((uint64_t)1 << shift) - 1);
            half = (uint64_t)1 << (shift - 1);
        }
        if (shift > 64) { /* below half of the smallest subnormal: rounds to zero */
        } else if (rem > half || (rem == half && (sticky || (kept & 1)))) kept++;
    }
    uint64_t biased;
    if (E >= emin) {
        if (kept >> P) {
            kept >>= 1;
            E++;
        }
        if (E > emax) return kpNum_RANGE;
        biased = (uint64_t)(E + emax);
        *bits = (biased << f.mbits) | (kept & (((uint64_t)1 << f.mbits) - 1));
    } else {
        *bits = kept; /* a carry into bit mbits yields the smallest normal */
    }
    return kpNum_OK;
}

/* 0x hexnum ('.' hexfrac?)? ([pP] sign? num)?  -- s points after "0x". */
static int parse_hexfloat(const char *s, size_t n, fmt f, uint64_t *bits) {
    uint64_t mant = 0;
    int64_t e2 = 0;
    bool sticky = false, any = false, in_frac = false, last_digit = false;
    size_t i = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '_') {
            if (!last_digit || i + 1 >= n || digit_val(s[i + 1], 16) < 0) return kpNum_SYNTAX;
            last_digit = false;
            continue;
        }
        if (c == '.') {
            if (in_frac || !any) return kpNum_SYNTAX;
            in_frac = true;
            last_digit = false;
            continue;
        }
        int d = digit_val(c, 16);
        if (d < 0) break;
        any = last_digit = true;
        if (mant >> 60) {
            if (d) sticky = true;
            if (!in_frac) e2 += 4;
        } else {
            mant = mant * 16 + (uint64_t)d;
            if (in_frac) e2 -= 4;
        }
    }
    if (!any) return kpNum_SYNTAX;
    if (i < n) {
        if (s[i] != 'p' && s[i] != 'P') return kpNum_SYNTAX;
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        int64_t ev = 0;
        bool last = false;
        size_t first = i;
        for (; i < n; i++) {
            if (s[i] == '_' && last && i + 1 < n && digit_val(s[i + 1], 10) >= 0) {
                last = false;
                continue;
            }
            int d = digit_val(s[i], 10);
            if (d < 0) return kpNum_SYNTAX;
            if (ev < 100000000) ev = ev * 10 + d; /* saturate: far beyond any representable */
            last = true;
        }
        if (i == first) return kpNum_SYNTAX;
        e2 += eneg ? -ev : ev;
    }
    if (mant == 0) {
        *bits = 0;
        return kpNum_OK;
    }
    return round_binary(mant, e2, sticky, f, bits);
}

/* Check the decimal float syntax and copy the text without '_' into buf (NUL-terminated). */
static int clean_decimal(const char *s, size_t n, char *buf) {
    size_t i = 0, o = 0;
    bool ovf = false;
    size_t used = scan_digits(s, n, 10, NULL, &ovf);
    if (!used) return kpNum_SYNTAX;
    for (; i < used; i++)
        if (s[i] != '_') buf[o++] = s[i];
    if (i < n && s[i] == '.') {
        buf[o++] = s[i++];
        used = scan_digits(s + i, n - i, 10, NULL, &ovf);
        for (size_t k = 0; k < used; k++, i++)
            if (s[i] != '_') buf[o++] = s[i];
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        buf[o++] = s[i++];
        if (i < n && (s[i] == '+' || s[i] == '-')) buf[o++] = s[i++];
        used = scan_digits(s + i, n - i, 10, NULL, &ovf);
        if (!used) return kpNum_SYNTAX;
        for (size_t k = 0; k < used; k++, i++)
            if (s[i] != '_') buf[o++] = s[i];
    }
    if (i != n) return kpNum_SYNTAX;
    buf[o] = 0;
    return kpNum_OK;
}

static int parse_float(const char *s, size_t n, fmt f, uint64_t *bits) {
    bool neg = false;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        s++;
        n--;
    }
    uint64_t signbit = (uint64_t)neg << (f.mbits + f.ebits);
    uint64_t expall = (((uint64_t)1 << f.ebits) - 1) << f.mbits;
    int r;
    if (n == 3 && memcmp(s, "inf", 3) == 0) {
        *bits = signbit | expall;
        return kpNum_OK;
    }
    if (n == 3 && memcmp(s, "nan", 3) == 0) {
        *bits = signbit | expall | ((uint64_t)1 << (f.mbits - 1));
        return kpNum_OK;
    }
    if (n > 6 && memcmp(s, "nan:0x", 6) == 0) {
        uint64_t pay;
        r = parse_mag(s + 4, n - 4, &pay);
        if (r) return r;
        if (pay == 0 || pay >> f.mbits) return kpNum_RANGE;
        *bits = signbit | expall | pay;
        return kpNum_OK;
    }
    if (n > 2 && s[0] == '0' && s[1] == 'x') {
        r = parse_hexfloat(s + 2, n - 2, f, bits);
        if (r == kpNum_OK) *bits |= signbit;
        return r;
    }
    char small[128];
    char *buf = n + 2 <= sizeof small ? small : kp_malloc(n + 2);
    if (!buf) return -1;
    buf[0] = neg ? '-' : '+';
    r = clean_decimal(s, n, buf + 1);
    if (r == kpNum_OK) {
        if (f.mbits == 23) {
            float v = strtof(buf, NULL);
            if (isinf(v)) r = kpNum_RANGE;
            uint32_t b;
            memcpy(&b, &v, 4);
            *bits = b;
        } else {
            double v = strtod(buf, NULL);
            if (isinf(v)) r = kpNum_RANGE;
            memcpy(bits, &v, 8);
        }
    }
    if (buf != small) kp_free(buf);
    return r;
}

/* These return -1 only when a very long decimal literal could not get its scratch buffer. */
int kpNum_f32(const char *s, size_t n, uint32_t *bits) {
    uint64_t b = 0;
    int r = parse_float(s, n, (fmt){ 23, 8 }, &b);
    *bits = (uint32_t)b;
    return r;
}

int kpNum_f64(const char *s, size_t n, uint64_t *bits) {
    uint64_t b = 0;
    int r = parse_float(s, n, (fmt){ 52, 11 }, &b);
    *bits = b;
    return r;
}
