/*
 * sample.c -- the wasm stack of a running store, read from a profiler's signal handler
 * (kapsul_store_sample, kapsul run --profile).
 *
 * Both tiers keep a record per wasm frame that a signal handler on the running thread can read:
 * the interpreter its frame stack (kpExec.frames), compiled code the store's frame records, one
 * 64-bit word per direct call (native.h's KP_NATIVE_FRAME), delimited by the chain of native
 * entries (kpNativeAct) kpNative_call links into the store. The stacks interleave when the tiers
 * call each other: every native entry remembers how many interpreter frames existed when it
 * began, so walking from the innermost entry outwards, the interpreter frames above an entry's
 * base are newer than it and come first.
 *
 * Nothing here locks or allocates. Records are written with plain stores by code the signal
 * interrupts, so a sample may be a frame off while a call is being entered or left; every
 * index read is bounds-checked (a level beyond the records, a function index beyond the module)
 * so a stale word can only drop a frame, never reach outside the store.
 */
#include "engine/objects.h"

/* Interpreter frames lo..hi-1, innermost first. A caller resumes at its callee's ret_ip; n is
 * the number of frames in all (frame i's callee is frames[i + 1] when i + 1 < n). */
static size_t interp_frames(const kpExec *x, uint32_t lo, uint32_t hi, uint32_t n, kapsul_frame *out,
                            size_t max) {
    size_t k = 0;
    for (uint32_t i = hi; i-- > lo && k < max;) {
        const kapsul_func *f = x->frames[i].func;
        if (!f) continue;
        const uint32_t *ret = i + 1 < n ? x->frames[i + 1].ret_ip : NULL;
        out[k].func_index = f->index;
        out[k].module = f->inst ? f->inst->module : NULL;
        out[k].offset = ret && f->code ? kpCode_offsetAt(f->code, (uint32_t)(ret - 1 - f->code->code)) : 0;
        out[k].name[0] = 0;
        k++;
    }
    return k;
}

/* The compiled frames of entry a, innermost first. inner: the native entry running inside a (its
 * level d0 is one above a's innermost: the store's levels are contiguous), NULL when a itself is
 * the innermost. called_out: a's innermost frame is in a helper call (a host function, other
 * code), whose offset is in the context's site; otherwise it is unknown (a register) and 0. */
static size_t native_frames(const kpExec *x, const kpNativeAct *a, const kpNativeAct *inner, bool called_out,
                            kapsul_frame *out, size_t max) {
    const uint64_t *rec = x->native_frames;
    const kpInstCore *inst = a->entry->inst;
    uint32_t nfuncs = kpModule_numFuncs(inst->m);
    uint32_t top = inner ? inner->d0 - 1 : __atomic_load_n(a->depth, __ATOMIC_RELAXED);
    if (!rec || top > x->max_frames || top < a->d0) top = a->d0;
    size_t k = 0;
    for (uint32_t level = top; k < max; level--) {
        uint32_t func = level == a->d0 ? a->entry->index : (uint32_t)(rec[level - 1] >> 32);
        uint32_t off = level < top                   ? (uint32_t)rec[level]
                       : called_out || inner != NULL ? __atomic_load_n(a->site, __ATOMIC_RELAXED)
                                                     : 0;
        /* An inner entry of the same instance shares the context: its site is not ours. */
        if (level == top && inner && inner->site == a->site) off = 0;
        if (func < nfuncs)
            out[k++] = (kapsul_frame){ .func_index = func, .offset = off, .module = inst->module };
        if (level == a->d0) break;
    }
    return k;
}

size_t kpExec_sample(const kpExec *x, kapsul_frame *out, size_t max) {
    uint32_t n = __atomic_load_n(&x->nframes, __ATOMIC_RELAXED);
    const kpNativeAct *a = __atomic_load_n(&x->native_act, __ATOMIC_ACQUIRE), *inner = NULL;
    if (n > x->max_frames || (n && !x->frames)) return 0;
    size_t k = 0;
    for (uint32_t hi = n; k < max;) {
        uint32_t lo = a && a->interp_base <= hi ? a->interp_base : 0;
        size_t m = interp_frames(x, lo, hi, n, out + k, max - k);
        k += m;
        if (!a || k >= max) break;
        k += native_frames(x, a, inner, hi > lo, out + k, max - k);
        /* An interpreted caller that reached this entry keeps a frame of the entry's function
         * (its NATIVE stub) on top of its own: the compiled frames above stand for it. */
        hi = lo;
        if (hi && x->frames[hi - 1].func == a->entry) hi--;
        inner = a;
        a = a->prev;
    }
    return k;
}
