/*
 * fuzz_kwasm.c -- libFuzzer target: bytes as a compiled artifact (.kwasm) through
 * kapsul_module_deserialize, which checks the header and checksum and links the ELF object
 * (engine/native/artifact.c, load.c); nothing is ever run. Each input is tried twice: as it is
 * (the header checks), and "repaired" -- this kapsul's version and CPU string written into the
 * header and the checksum recomputed -- so mutations of the object reach the ELF loader's bounds
 * checks instead of stopping at the checksum, and the seeds (real artifacts, tests/fuzz/corpus/
 * kwasm, made by gen-corpus.sh) load on any host. Oracles: no crash, sanitizer report or leak; an
 * error carries its status and a NUL-terminated message; a success is a module that frees.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/native/native.h"
#include "kapsul.h"

static kapsul_engine *engine;

static void try_load(const uint8_t *data, size_t size) {
    kapsul_module *m = NULL;
    kapsul_error err;
    kapsul_status st = kapsul_module_deserialize(engine, data, size, &m, &err);
    if (st == KAPSUL_OK) {
        if (!m) abort();
        kapsul_module_free(m);
        return;
    }
    if (m || err.code != st || memchr(err.message, 0, sizeof err.message) == NULL || !err.message[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!engine && kapsul_engine_new(NULL, &engine, NULL) != KAPSUL_OK) abort();
    try_load(data, size);
    if (size < KP_KWASM_HEADER || size > (64u << 20)) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    memcpy(copy, KP_KWASM_MAGIC, 8);
    memset(copy + 16, 0, 32);
    memcpy(copy + 16, kpArtifact_version(), strnlen(kpArtifact_version(), 31));
    memset(copy + 80, 0, 128);
    memcpy(copy + 80, kpArtifact_hostCpu(), strnlen(kpArtifact_hostCpu(), 127));
    uint32_t sum = kpArtifact_checksum(copy, size);
    memset(copy + 280, 0, 32);
    memcpy(copy + 280, &sum, 4); /* little-endian host */
    try_load(copy, size);
    free(copy);
    return 0;
}
