/*
 * bridge.h -- the native tier inside the engine: a compiled module's code shared by its
 * instances, one context per instance, and the entry from the host's value slots.
 *
 * A native module is also lowered for the interpreter, so every path that does not enter through
 * kpNative_call (an interpreted caller in another instance calling in directly) still runs the
 * same semantics; the entry points the host uses (kapsul_func_call, start functions, imports of
 * other modules reached through kpInterp_call) run compiled code.
 */
#ifndef KP_NATIVE_BRIDGE_H
#define KP_NATIVE_BRIDGE_H

#include "engine/native/native.h"
#include "engine/objects.h"

typedef struct kpNativeInst kpNativeInst;

/* Context for the instance core `inst` (its arrays filled) in the store state x, whose module
 * carries compiled code; type_ids: the canonical id of each type index. KAPSUL_ERR_NOMEM only. */
kapsul_status kpNative_instantiate(kpExec *x, kpInstCore *inst, const uint32_t *type_ids,
                                   const kpNativeCode *code, kpNativeInst **out, kapsul_error *err);
void kpNative_free(kpNativeInst *ni);
/* From the fault handler: if compiled code of a native instance is running on this thread and
 * addr is in one of its store's memory reservations, unwind to its entry with an out-of-bounds
 * trap (does not return then). Otherwise returns. */
void kpNative_onFault(void *addr);
/* Run defined function f of a native instance with arguments in slots (results replace them).
 * Traps fill err (kind, the interpreter's message, a backtrace with offsets). */
kapsul_status kpNative_call(kpExec *s, kapsul_func *f, kpNativeInst *ni, uint64_t *slots, kapsul_error *err);

#endif /* KP_NATIVE_BRIDGE_H */
