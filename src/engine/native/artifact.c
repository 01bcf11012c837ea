/*
 * artifact.c -- the .kwasm file: a fixed header (native.h gives the layout), the module's bytes
 * and the ELF object. Reading checks everything before anything else looks at the payload:
 * magic, format, header size, that both payloads lie where the writer puts them, a SHA-256 over the
 * payload (so a flipped bit anywhere is refused here, before the ELF loader), the module hash,
 * and that the kapsul version and CPU features are this host's.
 */
#include <stdio.h>

#include "engine/native/native.h"

/* The artifact records the exact kapsul version that compiled it (kapsul_version.h, one source). */
const char *kpArtifact_version(void) { return "kapsul " KAPSUL_VERSION; }

/* "x86-64:" plus the features code may use, from cpuid; the compiler targets exactly these, so
 * an artifact runs only where they all exist (compared as a string: same list, same host kind). */
const char *kpArtifact_hostCpu(void) {
    static char cpu[128];
    if (cpu[0]) return cpu;
    static const struct {
        const char *gcc;
        const char *llvm;
    } rows[] = { { "sse3", "sse3" },     { "ssse3", "ssse3" }, { "sse4.1", "sse4.1" }, { "sse4.2", "sse4.2" },
                 { "popcnt", "popcnt" }, { "avx", "avx" },     { "avx2", "avx2" },     { "bmi", "bmi" },
                 { "bmi2", "bmi2" },     { "fma", "fma" } };
    char buf[128];
    size_t n = (size_t)snprintf(buf, sizeof buf, "x86-64:");
    __builtin_cpu_init();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool has = false;
        /* __builtin_cpu_supports needs a string literal. */
        switch (i) {
        case 0: has = __builtin_cpu_supports("sse3"); break;
        case 1: has = __builtin_cpu_supports("ssse3"); break;
        case 2: has = __builtin_cpu_supports("sse4.1"); break;
        case 3: has = __builtin_cpu_supports("sse4.2"); break;
        case 4: has = __builtin_cpu_supports("popcnt"); break;
        case 5: has = __builtin_cpu_supports("avx"); break;
        case 6: has = __builtin_cpu_supports("avx2"); break;
        case 7: has = __builtin_cpu_supports("bmi"); break;
        case 8: has = __builtin_cpu_supports("bmi2"); break;
        default: has = __builtin_cpu_supports("fma"); break;
        }
        if (has && n + strlen(rows[i].llvm) + 2 < sizeof buf)
            n +=
                (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", buf[n - 1] == ':' ? "" : ",", rows[i].llvm);
    }
    memcpy(cpu, buf, sizeof cpu);
    return cpu;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* A NUL-padded string field of n bytes. */
static void put_str(uint8_t *p, size_t n, const char *s) {
    size_t len = strlen(s);
    memset(p, 0, n);
    memcpy(p, s, len < n ? len : n - 1);
}

/* Read a NUL-padded field into out (cap > n); false if it is not NUL-terminated in n bytes. */
static bool get_str(const uint8_t *p, size_t n, char *out) {
    if (!memchr(p, 0, n)) return false;
    memcpy(out, p, n);
    out[n] = 0;
    return true;
}

/* ---- The checksum: CRC-32C (Castagnoli) over the header (its checksum field excepted) and
 * everything after it. An integrity check, not a signature (a forger recomputes any hash), so a
 * hardware CRC replaces the SHA-256 that made start-up hash 80% of a small artifact
 * (docs/RATIONALE.md). ---- */

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t c, const uint8_t *p, size_t n) {
    uint64_t c64 = c;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
    }
    c = (uint32_t)c64;
    for (; n; p++, n--) c = __builtin_ia32_crc32qi(c, *p);
    return c;
}

static uint32_t crc32c_sw(uint32_t c, const uint8_t *p, size_t n) {
    for (; n; n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return c;
}

static uint32_t crc32c(uint32_t c, const uint8_t *p, size_t n) {
    static int hw = -1;
    if (hw < 0) hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    return hw ? crc32c_hw(c, p, n) : crc32c_sw(c, p, n);
}

uint32_t kpArtifact_checksum(const uint8_t *file, size_t len) {
    uint32_t c = crc32c(~0u, file, 280);
    c = crc32c(c, file + 312, len - 312);
    return ~c;
}

kapsul_status kpArtifact_write(const kpArtifact *a, kpBuf *out, kapsul_error *err) {
    uint8_t h[KP_KWASM_HEADER];
    memset(h, 0, sizeof h);
    memcpy(h, KP_KWASM_MAGIC, 8);
    put32(h + 8, KP_KWASM_FORMAT);
    put32(h + 12, KP_KWASM_HEADER);
    put_str(h + 16, 32, a->version);
    memcpy(h + 48, a->module_hash, 32);
    put_str(h + 80, 128, a->cpu);
    put_str(h + 208, 32, a->flags);
    /* The object first, 16-aligned in the file, then the module. */
    uint64_t obj_off = KP_KWASM_HEADER + 8, wasm_off = obj_off + ((a->object_size + 15) & ~(uint64_t)15);
    put64(h + 240, wasm_off);
    put64(h + 248, a->wasm_size);
    put64(h + 256, obj_off);
    put64(h + 264, a->object_size);
    put32(h + 272, a->nfuncs);
    size_t start = out->len;
    static const uint8_t zeros[16];
    if (kpBuf_push(out, h, sizeof h) || kpBuf_push(out, zeros, 8) ||
        kpBuf_push(out, a->object, a->object_size) ||
        kpBuf_push(out, zeros, (size_t)(wasm_off - obj_off - a->object_size)) ||
        kpBuf_push(out, a->wasm, a->wasm_size))
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    uint8_t *file = out->data + start;
    put32(file + 280, kpArtifact_checksum(file, out->len - start));
    return KAPSUL_OK;
}

bool kpArtifact_isKwasm(const uint8_t *bytes, size_t len) {
    return len >= 8 && memcmp(bytes, KP_KWASM_MAGIC, 8) == 0;
}

/* Is [off, off+size) inside a file of len bytes (after the header)? */
static bool inside(uint64_t off, uint64_t size, size_t len) {
    return off >= KP_KWASM_HEADER && off <= len && size <= len - off;
}

kapsul_status kpArtifact_read(const uint8_t *bytes, size_t len, kpArtifact *a, kapsul_error *err) {
    memset(a, 0, sizeof *a);
    if (!kpArtifact_isKwasm(bytes, len))
        return kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "not a kapsul artifact (.kwasm)");
    if (len < KP_KWASM_HEADER)
        return kpError_set(err, KAPSUL_ERR_MALFORMED, len, "artifact truncated (header)");
    if (get32(bytes + 8) != KP_KWASM_FORMAT)
        return kpError_set(err, KAPSUL_ERR_MALFORMED, 8, "artifact format %u, this kapsul reads format %u",
                           get32(bytes + 8), KP_KWASM_FORMAT);
    if (get32(bytes + 12) != KP_KWASM_HEADER)
        return kpError_set(err, KAPSUL_ERR_MALFORMED, 12, "artifact header size wrong");
    if (!get_str(bytes + 16, 32, a->version) || !get_str(bytes + 80, 128, a->cpu) ||
        !get_str(bytes + 208, 32, a->flags))
        return kpError_set(err, KAPSUL_ERR_MALFORMED, 16, "artifact header fields not terminated");
    uint64_t wasm_off = get64(bytes + 240), wasm_size = get64(bytes + 248);
    uint64_t obj_off = get64(bytes + 256), obj_size = get64(bytes + 264);
    if (!inside(wasm_off, wasm_size, len) || !inside(obj_off, obj_size, len))
        return kpError_set(err, KAPSUL_ERR_MALFORMED, 240,
                           "artifact truncated (sections beyond the end of the file)");
    /* The layout is canonical (what kpArtifact_write produces), so no header field the checksum
     * does not cover can move a payload: object right after the header, module 16-aligned after
     * it and ending the file. */
    if (obj_off != KP_KWASM_HEADER + 8 || wasm_off != ((obj_off + obj_size + 15) & ~(uint64_t)15) ||
        wasm_off + wasm_size != len)
        return kpError_set(err, KAPSUL_ERR_MALFORMED, 240, "artifact corrupted (section table)");
    static const uint8_t zeros[28];
    if (get32(bytes + 280) != kpArtifact_checksum(bytes, len) || memcmp(bytes + 284, zeros, 28) != 0)
        return kpError_set(err, KAPSUL_ERR_MALFORMED, 280, "artifact corrupted (checksum mismatch)");
    memcpy(a->module_hash, bytes + 48, 32);
    a->wasm = bytes + wasm_off;
    a->wasm_size = (size_t)wasm_size;
    a->object = bytes + obj_off;
    a->object_size = (size_t)obj_size;
    a->nfuncs = get32(bytes + 272);
    /* The module hash is not recomputed: the checksum covers it and the module. */
    if (strcmp(a->version, kpArtifact_version()) != 0)
        return kpError_set(err, KAPSUL_ERR_LIMIT, 16,
                           "artifact built by %s, this is %s; recompile it with `kapsul compile`", a->version,
                           kpArtifact_version());
    if (strcmp(a->cpu, kpArtifact_hostCpu()) != 0)
        return kpError_set(err, KAPSUL_ERR_LIMIT, 80,
                           "artifact built for CPU %s, this host is %s; recompile it here", a->cpu,
                           kpArtifact_hostCpu());
    return KAPSUL_OK;
}
