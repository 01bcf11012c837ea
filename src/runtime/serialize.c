/*
 * serialize.c -- the embedding API's native tier: kapsul_module_serialize compiles a module by
 * running the native compiler (kapsul-llvmc: the library never links LLVM), and
 * kapsul_module_deserialize loads the .kwasm it made. KAPSUL_TIER_NATIVE makes kapsul_module_new
 * compile binary modules the same way (kpRuntime_compileNative).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/native/native.h"
#include "runtime/runtime.h"

/* The compiler to run: the configured path, $KAPSUL_LLVMC, kapsul-llvmc beside the executable,
 * else the bare name (looked up on $PATH by the spawn). */
static void compiler_path(const kapsul_engine *e, char *out, size_t cap) {
    const char *env = getenv("KAPSUL_LLVMC");
    if (e->config.native_compiler) snprintf(out, cap, "%s", e->config.native_compiler);
    else if (env && *env) snprintf(out, cap, "%s", env);
    else if (!kpOs_besideExe("kapsul-llvmc", out, cap)) snprintf(out, cap, "kapsul-llvmc");
}

kapsul_status kpRuntime_compileNative(const kapsul_engine *e, const uint8_t *wasm, size_t len, kpBuf *out,
                                      kapsul_error *err) {
    char path[4200], msg[512];
    compiler_path(e, path, sizeof path);
    char *argv[] = { path, "-", "-o", "-", "-O2", NULL };
    kpOs_exit ex = { 0, 0 };
    memset(out, 0, sizeof *out);
    kpOs_err oe = kpOs_runFilter(path, argv, wasm, len, &out->data, &out->len, msg, sizeof msg, &ex);
    out->cap = out->len;
    if (oe == KP_OS_ENOENT) {
        kpBuf_free(out);
        return kpError_set(err, KAPSUL_ERR_LIMIT, 0,
                           "the native tier is absent: no native compiler (%s; set "
                           "kapsul_config.native_compiler or $KAPSUL_LLVMC)",
                           path);
    }
    if (oe != KP_OS_OK) {
        kpBuf_free(out);
        return kpError_set(err, KAPSUL_ERR_IO, 0, "cannot run %s: %s", path, kpOs_strerror(oe));
    }
    if (ex.signal || ex.code != 0) {
        kpBuf_free(out);
        char *nl = strchr(msg, '\n');
        if (nl) *nl = 0;
        const char *m = strncmp(msg, "-: ", 3) == 0 ? msg + 3 : msg;
        return kpError_set(err, KAPSUL_ERR_LIMIT, 0, "native tier: %s", *m ? m : "the compiler failed");
    }
    return KAPSUL_OK;
}

kapsul_status kapsul_module_serialize(const kapsul_module *module, uint8_t **out, size_t *out_len,
                                      kapsul_error *err) {
    kpError_clear(err);
    if (!module || !out || !out_len) return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad argument");
    *out = NULL;
    *out_len = 0;
    kpBuf b;
    kapsul_status st = kpRuntime_compileNative(module->engine, module->m->bytes, module->m->size, &b, err);
    if (st != KAPSUL_OK) return st;
    /* What the compiler wrote must be an artifact this kapsul loads (else it is stale or broken). */
    kpArtifact a;
    if ((st = kpArtifact_read(b.data, b.len, &a, err)) != KAPSUL_OK) {
        kpBuf_free(&b);
        return st;
    }
    *out = b.data;
    *out_len = b.len;
    return KAPSUL_OK;
}

kapsul_status kapsul_module_deserialize(kapsul_engine *engine, const uint8_t *bytes, size_t len,
                                        kapsul_module **out, kapsul_error *err) {
    kpError_clear(err);
    if (out) *out = NULL;
    if (!engine || !out || (!bytes && len)) return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad argument");
    if (!bytes || !kpArtifact_isKwasm(bytes, len))
        return kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "not a kapsul artifact (.kwasm)");
    return kapsul_module_new(engine, bytes, len, out, err);
}

void kapsul_bytes_free(uint8_t *bytes) { kp_free(bytes); }
