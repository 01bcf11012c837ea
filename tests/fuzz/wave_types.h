/*
 * wave_types.h -- one component holding a type of each WAVE-relevant kind, shared by the WAVE unit
 * test (tests/unit/test_wave.c) and its fuzz target (tests/fuzz/fuzz_wave.c). Type id == index.
 */
#ifndef KP_TESTS_WAVE_TYPES_H
#define KP_TESTS_WAVE_TYPES_H

#include <string.h>

#include "component/component.h"

/* Types 0..N of one type section, in order (type id == index). */
static const uint8_t kpWaveTypes_section[] = {
    0x73,                                                                     /* 0 string */
    0x70, 0x7d,                                                               /* 1 list<u8> */
    0x6b, 0x79,                                                               /* 2 option<u32> */
    0x72, 3,    1,    'a',  0x7d, 3,   'o', 'p',  't',  0x02, 1,   'c', 0x73, /* 3 record {a: u8, opt: 2, c: string} */
    0x71, 3,    1,    'x',  0,    0,   1,   'y',  1,    0x77, 0,   2,   'o',  'k',
    1,    0x76, 0,                                                 /* 4 variant {x, y(u64), ok(f32)} */
    0x6b, 0x73,                                                    /* 5 option<string> */
    0x6a, 1,    0x79, 1,    0x73,                                  /* 6 result<u32, string> */
    0x6d, 3,    1,    'p',  1,    'q', 4,   't',  'r',  'u',  'e', /* 7 enum {p, q, true} */
    0x6e, 3,    4,    'r',  'e',  'a', 'd', 5,    'w',  'r',  'i', 't', 'e',  4,
    'e',  'x',  'e',  'c',                                    /* 8 flags */
    0x6f, 3,    0x74, 0x7f, 0x7c,                             /* 9 tuple<char, bool, s16> */
    0x6b, 0x7d,                                               /* 10 option<u8> */
    0x6b, 0x0a,                                               /* 11 option<option<u8>> */
    0x70, 0x01,                                               /* 12 list<list<u8>> */
    0x6a, 0,    0,                                            /* 13 result */
    0x6a, 1,    0x7d, 0,                                      /* 14 result<u8> */
    0x40, 2,    1,    'a',  0x7a, 1,   'b', 0x02, 0x00, 0x73, /* 15 func(a: s32, b: option<u32>) -> string */
    0x70, 0x75,                                               /* 16 list<f64> */
};
#define KP_WAVE_NTYPES 17

/* The component of one type section holding those types; NULL (err set) if it does not decode. */
static inline kpComponent *kpWaveTypes_component(kapsul_error *err) {
    uint8_t buf[512];
    size_t n = 8;
    memcpy(buf, "\0asm\x0d\0\x01\0", 8);
    buf[n++] = 7;
    buf[n++] = (uint8_t)(sizeof kpWaveTypes_section + 1);
    buf[n++] = KP_WAVE_NTYPES;
    memcpy(buf + n, kpWaveTypes_section, sizeof kpWaveTypes_section), n += sizeof kpWaveTypes_section;
    kpComponent *c = NULL;
    return kpComponent_decode(buf, n, &c, err) == KAPSUL_OK ? c : NULL;
}

#endif
