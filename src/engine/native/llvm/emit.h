/*
 * emit.h -- the native compiler's one entry point (built only with LLVM, linked only into the
 * kapsul-llvmc helper).
 */
#ifndef KP_EMIT_H
#define KP_EMIT_H

#include "engine/native/native.h"

/* Compile module bytes (a binary module; decoded and validated here) at opt level 0..3 into a
 * .kwasm artifact appended to out. checks: explicit bounds checks on every access (the artifact
 * then runs with any memory); otherwise the code relies on guard regions and runs native only
 * where the memory is reserved (elsewhere the instance falls back to the interpreter). Errors: the decoder's and validator's, KAPSUL_ERR_LIMIT for
 * what the native tier does not compile yet (with the instruction's offset), KAPSUL_ERR_NOMEM. */
kapsul_status kpEmit_compile(const uint8_t *wasm, size_t len, unsigned opt, bool checks, kpBuf *out,
                             kapsul_error *err);

#endif /* KP_EMIT_H */
