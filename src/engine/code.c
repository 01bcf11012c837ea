/*
 * code.c -- the lowered code of one function (kpCode, engine/ir.h) once lowering is done: freeing
 * it, the length of each instruction, and the disassembly that `kapsul inspect --ir` and the
 * engine's tests print.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "engine/ir.h"
#include "module/opcodes.h"

void kpCode_free(kpCode *c) {
    if (!c) return;
    kp_free(c->code);
    kp_free(c->pcmap);
    c->code = NULL;
    c->pcmap = NULL;
}

/* Decode the position map (lower.c) up to the last entry at or before `word`. */
uint32_t kpCode_offsetAt(const kpCode *c, uint32_t word) {
    const uint8_t *p = c->pcmap, *end = p ? p + c->pcmap_len : NULL;
    uint32_t ir = 0, off = c->body_offset;
    while (p && p < end) {
        uint32_t d = 0;
        int64_t e = 0;
        unsigned sh = 0;
        uint8_t b;
        do {
            b = *p++;
            d |= (uint32_t)(b & 0x7f) << sh;
            sh += 7;
        } while ((b & 0x80) && p < end && sh < 35);
        sh = 0;
        do {
            b = p < end ? *p++ : 0;
            e |= (int64_t)(b & 0x7f) << sh;
            sh += 7;
        } while ((b & 0x80) && sh < 63);
        if (sh < 64 && (b & 0x40)) e |= -((int64_t)1 << sh);
        if (ir + d > word) break;
        ir += d;
        off = (uint32_t)((int64_t)off + e);
    }
    return off;
}

kapsul_status kpCode_nativeStub(const kpFuncType *ft, kpCode *out) {
    memset(out, 0, sizeof *out);
    uint32_t np = 0, nr = 0;
    for (uint32_t i = 0; i < ft->nparams; i++) np += kp_slot_width(ft->types[i]);
    for (uint32_t i = 0; i < ft->nresults; i++) nr += kp_slot_width(kpFuncType_results(ft)[i]);
    if (!(out->code = kp_malloc(6 * sizeof *out->code))) return KAPSUL_ERR_NOMEM;
    /* CHECK 0: the compiled entry charges the function's fuel itself. */
    const uint32_t words[6] = { kpIr_CHECK, 0, kpIr_NATIVE, kpIr_RETURN, 0, nr };
    memcpy(out->code, words, sizeof words);
    out->len = 6;
    out->nparam_slots = np;
    out->nresult_slots = nr;
    out->nslots = np > nr ? np : nr;
    return KAPSUL_OK;
}

/* ---- Disassembly (debugging and the engine's own tests) ---- */

uint32_t kpCode_words(const uint32_t *ip) {
    if (*ip == kpIr_BR_TABLE) return ip[2] + 4;
    if (*ip == kpIr_COPYN) return 2 + 2 * ip[1];
    switch (*ip) {
#define KP_IR_C(id, words, ops) \
    case kpIr_##id: return words;
        KP_IR_CONTROL(KP_IR_C)
        KP_IR_FUSED(KP_IR_C)
        KP_IR_SIMD(KP_IR_C)
#undef KP_IR_C
#define KP_IR_XM(id) case kpIr_##id##_X:
#define KP_IR_XI(id, x) case kpIr_##id##_IMM_X:
        KP_IR_LOADA(KP_IR_XM)
        KP_IR_STOREX(KP_IR_XM)
        KP_IR_STOREI(KP_IR_XI)
#undef KP_IR_XM
#undef KP_IR_XI
        return 6; /* accesses with an x + (y << k) address */
#define KP_IR_BA(id, x)       \
    case kpIr_BRA_##id:       \
    case kpIr_BRA_##id##_IMM: \
    case kpIr_BRR_##id:       \
    case kpIr_BRR_##id##_IMM:
        KP_IR_CMP32(KP_IR_BA)
#undef KP_IR_BA
        return 6; /* step and compare-and-branch */
#define KP_IR_A(id) case kpIr_##id##_ADD:
        KP_IR_LOADA(KP_IR_A)
#undef KP_IR_A
        return 5; /* loads with an address add */
#define KP_IR_VW(id, type, kind, expr) case kpIr_V_##id:
        KP_SIMD_FAST(KP_IR_VW)
#undef KP_IR_VW
        return 4; /* inlined SIMD binary ops (simd.h) */
    default: break;
    }
    if (*ip < kpIr_I32_EQZ) return 4; /* memory accesses */
    if (*ip < kpIr_I32_EQ) return 3;  /* unary */
    return 4;                         /* binary */
}

void kpCode_dump(const kpCode *c, FILE *out) {
    fprintf(out, "frame: %u param, %u local, %u total slots\n", c->nparam_slots, c->nlocal_slots, c->nslots);
    for (uint32_t pc = 0; pc < c->len;) {
        const uint32_t *ip = c->code + pc;
        int op = kpInterp_opcode(*ip);
        uint32_t w[3] = { op < 0 ? 0u : (uint32_t)op, pc + 1 < c->len ? ip[1] : 0,
                          pc + 2 < c->len ? ip[2] : 0 };
        uint32_t n = op < 0 ? 1 : kpCode_words(w);
        fprintf(out, "%5u  %-20s", pc, op < 0 ? "?" : kpIr_names[op]);
        for (uint32_t k = 1; k < n && pc + k < c->len; k++) fprintf(out, " %u", ip[k]);
        fputc('\n', out);
        pc += n;
    }
}
