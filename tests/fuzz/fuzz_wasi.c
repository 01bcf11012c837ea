/*
 * fuzz_wasi.c -- libFuzzer target (d): sequences of WASI calls with arbitrary fds, pointers,
 * lengths and flags against a fresh sandbox directory per input.
 *
 * A module built once in code imports every function of funcs.def and exports a forwarding
 * wrapper "c<i>" for each, plus its memory. For each input a sandbox is recreated under
 * $KP_WASI_FUZZ_ROOT/box (files, a subdirectory, a read-only preopen, symlinks that point out of
 * the sandbox, a symlink loop) next to $KP_WASI_FUZZ_ROOT/outside, which holds a canary. The input
 * is a list of calls: a byte picks the function, and each argument is a small integer, one of a
 * table of interesting values (offsets of prepared path strings and iovecs in memory, their
 * lengths, boundary values) or raw bytes. After the calls three oracles run:
 *   - the canary file's text must never appear in guest memory (no read escapes),
 *   - the outside directory must be unchanged (no write escapes),
 *   - every host fd opened for the guest must be closed again after kapsul_wasi_free (no fd leaks).
 * Every call must return KAPSUL_OK or KAPSUL_ERR_EXIT (proc_exit) with an errno below 77.
 * poll_oneoff is not called: a clock subscription may legitimately sleep for hours.
 *
 * Run it only through tests/fuzz/run-wasi.sh, which puts it in a private mount namespace with the
 * rest of the filesystem read-only, so that a sandbox escape found by the fuzzer cannot damage the
 * machine it runs on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kapsul.h"
#include "wasi/wasi.h"
#include "wasmgen.h"

typedef struct wfn {
    const char *name, *params, *results;
} wfn;
static const wfn fns[] = {
#define KP_WASI_FN(name, params, results, handler, trace) { #name, params, results },
#include "wasi/funcs.def"
#undef KP_WASI_FN
};
#define NFNS (sizeof fns / sizeof *fns)

static kapsul_engine *engine;
static kapsul_module *module;
static char root[256], box[300], outside[300], ro_dir[320];
static struct stat outside_st, secret_st;

/* The canary text is random per process so that it cannot be in the seed corpus; an input that
 * carries it anyway (libFuzzer learns strings from comparisons) is skipped. */
static char canary[24];

/* ---- The module ----------------------------------------------------------------------------- */

static uint8_t valtype(char c) { return c == 'I' ? 0x7E : 0x7F; }

static void build_module(kpBuf *mod) {
    kpBuf s = { 0 };
    wg_header(mod);
    wg_u32(&s, (uint32_t)NFNS);
    for (size_t i = 0; i < NFNS; i++) {
        size_t np = strlen(fns[i].params), nr = strlen(fns[i].results);
        wg_byte(&s, 0x60);
        wg_u32(&s, (uint32_t)np);
        for (size_t k = 0; k < np; k++) wg_byte(&s, valtype(fns[i].params[k]));
        wg_u32(&s, (uint32_t)nr);
        for (size_t k = 0; k < nr; k++) wg_byte(&s, valtype(fns[i].results[k]));
    }
    wg_section(mod, 1, &s);
    wg_u32(&s, (uint32_t)NFNS);
    for (size_t i = 0; i < NFNS; i++) {
        wg_name(&s, "wasi_snapshot_preview1");
        wg_name(&s, fns[i].name);
        wg_byte(&s, 0x00);
        wg_u32(&s, (uint32_t)i);
    }
    wg_section(mod, 2, &s);
    wg_u32(&s, (uint32_t)NFNS);
    for (size_t i = 0; i < NFNS; i++) wg_u32(&s, (uint32_t)i);
    wg_section(mod, 3, &s);
    wg_u32(&s, 1);
    wg_byte(&s, 0x00);
    wg_u32(&s, 1);
    wg_section(mod, 5, &s);
    wg_u32(&s, (uint32_t)NFNS + 1);
    char name[16];
    for (size_t i = 0; i < NFNS; i++) {
        snprintf(name, sizeof name, "c%zu", i);
        wg_export_func(&s, name, (uint32_t)(NFNS + i));
    }
    wg_name(&s, "memory");
    wg_byte(&s, 0x02);
    wg_u32(&s, 0);
    wg_section(mod, 7, &s);
    wg_u32(&s, (uint32_t)NFNS);
    for (size_t i = 0; i < NFNS; i++) {
        kpBuf body = { 0 };
        size_t np = strlen(fns[i].params);
        wg_u32(&body, 0);
        for (size_t k = 0; k < np; k++) {
            wg_byte(&body, 0x20);
            wg_u32(&body, (uint32_t)k);
        }
        wg_byte(&body, 0x10);
        wg_u32(&body, (uint32_t)i);
        wg_byte(&body, 0x0B);
        wg_u32(&s, (uint32_t)body.len);
        wg_bytes(&s, body.data, body.len);
        kpBuf_free(&body);
    }
    wg_section(mod, 10, &s);
}

/* ---- The sandbox on disk -------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void write_file(const char *dir, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        abort();
    }
    fputs(text, f);
    fclose(f);
}

static void make_box(void) {
    char p[512];
    nftw(box, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(box, 0755) != 0 && errno != EEXIST) {
        perror(box);
        abort();
    }
    write_file(box, "file.txt", "hello, sandbox\n");
    snprintf(p, sizeof p, "%s/dir", box);
    mkdir(p, 0755);
    write_file(p, "inner.txt", "inner\n");
    mkdir(ro_dir, 0755);
    write_file(ro_dir, "ro.txt", "read only\n");
    snprintf(p, sizeof p, "%s/link_out", box);
    symlink("../outside/kpcanary-name", p);
    snprintf(p, sizeof p, "%s/link_abs", box);
    char target[512];
    snprintf(target, sizeof target, "%s/kpcanary-name", outside);
    symlink(target, p);
    snprintf(p, sizeof p, "%s/link_dir", box);
    symlink("dir", p);
    snprintf(p, sizeof p, "%s/link_up", box);
    symlink("..", p);
    snprintf(p, sizeof p, "%s/link_loop", box);
    symlink("link_loop", p);
}

static int init(void) {
    const char *r = getenv("KP_WASI_FUZZ_ROOT");
    snprintf(root, sizeof root, "%s", r && *r ? r : "/tmp/kpwasi-fuzz");
    snprintf(box, sizeof box, "%s/box", root);
    snprintf(outside, sizeof outside, "%s/outside", root);
    snprintf(ro_dir, sizeof ro_dir, "%s/ro", box);
    mkdir(root, 0755);
    mkdir(outside, 0755);
    unsigned char rnd[8] = { 0 };
    FILE *ur = fopen("/dev/urandom", "rb");
    if (!ur || fread(rnd, 1, sizeof rnd, ur) != sizeof rnd) abort();
    fclose(ur);
    snprintf(canary, sizeof canary, "KPC%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5], rnd[6], rnd[7]);
    write_file(outside, "kpcanary-name", canary);
    char p[512];
    snprintf(p, sizeof p, "%s/kpcanary-name", outside);
    if (stat(outside, &outside_st) != 0 || stat(p, &secret_st) != 0) abort();
    kpBuf mod = { 0 };
    build_module(&mod);
    kapsul_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_memory_bytes = 1 << 20;
    kapsul_error err;
    if (kapsul_engine_new(&cfg, &engine, NULL) != KAPSUL_OK ||
        kapsul_module_new(engine, mod.data, mod.len, &module, &err) != KAPSUL_OK) {
        fprintf(stderr, "fuzz_wasi: cannot load the wrapper module: %s\n", err.message);
        abort();
    }
    kpBuf_free(&mod);
    return 0;
}

/* ---- Oracles ---------------------------------------------------------------------------------- */

static void check_outside(void) {
    struct stat a, b;
    char p[512];
    snprintf(p, sizeof p, "%s/kpcanary-name", outside);
    if (stat(outside, &a) != 0 || stat(p, &b) != 0 || a.st_mtim.tv_nsec != outside_st.st_mtim.tv_nsec ||
        a.st_mtim.tv_sec != outside_st.st_mtim.tv_sec || b.st_size != secret_st.st_size ||
        b.st_mtim.tv_sec != secret_st.st_mtim.tv_sec || b.st_mtim.tv_nsec != secret_st.st_mtim.tv_nsec ||
        b.st_mode != secret_st.st_mode) {
        fprintf(stderr, "fuzz_wasi: the directory outside the sandbox changed (write escape)\n");
        abort();
    }
    /* Nothing new next to box/ and outside/ either. */
    DIR *d = opendir(root);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    if (n != 2) {
        fprintf(stderr, "fuzz_wasi: %d entries beside the sandbox (write escape)\n", n);
        abort();
    }
}

/* After kapsul_wasi_free no host fd may still point into the sandbox (or at a socket the guest
 * made). Other fds belong to libFuzzer and the sanitizers, so they are told apart by target. */
static void check_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char link[300], target[512];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = 0;
        if (strncmp(target, root, strlen(root)) == 0 || strncmp(target, "socket:", 7) == 0) {
            fprintf(stderr, "fuzz_wasi: host fd %s (%s) still open after kapsul_wasi_free\n", e->d_name,
                    target);
            abort();
        }
    }
    if (d) closedir(d);
}

/* ---- One input ------------------------------------------------------------------------------- */

/* Prepared strings and buffers in guest memory, and the values an argument may take. */
static const struct {
    uint32_t at;
    const char *s;
} strs[] = {
    { 1024, "file.txt" },
    { 1040, "dir/inner.txt" },
    { 1064, "../outside/kpcanary-name" },
    { 1100, "link_out" },
    { 1116, "link_abs" },
    { 1132, "link_up/outside/kpcanary-name" },
    { 1172, "dir" },
    { 1180, "new.txt" },
    { 1196, "link_dir/../../outside" },
    { 1232, "/etc/passwd" },
    { 1248, "link_loop" },
    { 1264, "ro.txt" },
    { 1272, "." },
    { 1276, ".." },
    { 1280, "dir/" },
    { 1288, "a\0b" },
};
static const uint32_t interesting[16] = {
    1024, 8, 1040, 13, 1064, 24, 1100, 29, 2048, 4096, 65535, 65536, 0xFFFFFFFFu, 0x7FFFFFFFu, 3, 4,
};

typedef struct input {
    const uint8_t *p, *end;
} input;

static uint8_t next_byte(input *in) { return in->p < in->end ? *in->p++ : 0; }

static uint64_t next_arg(input *in, char kind) {
    uint8_t s = next_byte(in);
    if (s < 64) return s;
    if (s < 128) return interesting[s & 15];
    if (s < 160 && kind == 'i') {
        uint32_t k = s & 15;
        return k < sizeof strs / sizeof *strs ? strs[k].at : 0;
    }
    uint64_t v = 0;
    int n = kind == 'I' ? 8 : 4;
    for (int i = 0; i < n; i++) v |= (uint64_t)next_byte(in) << (8 * i);
    return v;
}

static void prepare_memory(uint8_t *mem, size_t size, input *in) {
    if (size < 8192) abort();
    memset(mem, 0, size);
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        memcpy(mem + strs[i].at, strs[i].s, strlen(strs[i].s));
    /* Two iovecs at 2048: (4096, 64) and (4200, 16). */
    kp_st32(mem + 2048, 4096);
    kp_st32(mem + 2052, 64);
    kp_st32(mem + 2056, 4200);
    kp_st32(mem + 2060, 16);
    /* Up to 64 bytes of the input overwrite the area at 4096 (data to write). */
    uint8_t n = next_byte(in) & 63;
    for (uint8_t i = 0; i < n; i++) mem[4096 + i] = next_byte(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!engine) init();
    if (memmem(data, size, canary, strlen(canary))) return 0;
    make_box();
    input in = { data, data + size };
    int devnull = open("/dev/null", O_WRONLY);
    static const char *const argv[] = { "fuzz", "arg" };
    static const char *const env[] = { "A=B" };
    kapsul_wasi_dir dirs[2] = { { box, "/box", false }, { ro_dir, "/ro", true } };
    kapsul_wasi_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.argv = argv;
    cfg.argc = 2;
    cfg.env = env;
    cfg.envc = 1;
    cfg.dirs = dirs;
    cfg.ndirs = 2;
    cfg.stdin_fd = -1;
    cfg.stdout_fd = devnull;
    cfg.stderr_fd = devnull;
    kapsul_wasi *wasi = NULL;
    kapsul_error err;
    memset(&err, 0, sizeof err);
    if (kapsul_wasi_new(&cfg, &wasi, &err) != KAPSUL_OK) {
        fprintf(stderr, "fuzz_wasi: kapsul_wasi_new: %s\n", err.message);
        abort();
    }
    close(devnull);
    kapsul_store *store = NULL;
    kapsul_store_new(engine, &store, NULL);
    kapsul_linker *linker = NULL;
    kapsul_linker_new(store, &linker, NULL);
    kapsul_instance *inst = NULL;
    if (kapsul_wasi_define(wasi, linker, NULL) != KAPSUL_OK ||
        kapsul_linker_instantiate(linker, module, &inst, &err) != KAPSUL_OK)
        abort();
    kapsul_memory *mem = kapsul_instance_memory(inst, "memory");
    prepare_memory(kapsul_memory_data(mem), kapsul_memory_size(mem), &in);

    for (int ncalls = 0; ncalls < 48 && in.p < in.end; ncalls++) {
        size_t fi = next_byte(&in) % NFNS;
        if (strcmp(fns[fi].name, "poll_oneoff") == 0) continue;
        kapsul_val args[16];
        size_t np = strlen(fns[fi].params);
        for (size_t k = 0; k < np; k++) {
            uint64_t v = next_arg(&in, fns[fi].params[k]);
            if (fns[fi].params[k] == 'I') {
                args[k].kind = KAPSUL_I64;
                args[k].of.i64 = (int64_t)v;
            } else {
                args[k].kind = KAPSUL_I32;
                args[k].of.i32 = (int32_t)(uint32_t)v;
            }
        }
        char name[16];
        snprintf(name, sizeof name, "c%zu", fi);
        kapsul_val res = { 0 };
        kapsul_status st = kapsul_func_call(store, kapsul_instance_func(inst, name), args, (uint32_t)np, &res,
                                            (uint32_t)strlen(fns[fi].results), &err);
        if (getenv("KP_WASI_FUZZ_TRACE")) {
            fprintf(stderr, "%s(", fns[fi].name);
            for (size_t k = 0; k < np; k++)
                fprintf(stderr, "%s%lld", k ? ", " : "",
                        args[k].kind == KAPSUL_I64 ? (long long)args[k].of.i64
                                                   : (long long)(uint32_t)args[k].of.i32);
            fprintf(stderr, ") = %s %d\n", kapsul_status_name(st), res.of.i32);
        }
        if (st != KAPSUL_OK && st != KAPSUL_ERR_EXIT) {
            fprintf(stderr, "fuzz_wasi: %s returned %s: %s\n", fns[fi].name, kapsul_status_name(st),
                    err.message);
            abort();
        }
        if (st == KAPSUL_OK && fns[fi].results[0] && (uint32_t)res.of.i32 > KP_WE_NOTCAPABLE) {
            fprintf(stderr, "fuzz_wasi: %s returned errno %d\n", fns[fi].name, res.of.i32);
            abort();
        }
    }
    /* The canary file's text can only reach guest memory by reading outside the sandbox. */
    if (memmem(kapsul_memory_data(mem), kapsul_memory_size(mem), canary, strlen(canary))) {
        fprintf(stderr, "fuzz_wasi: canary text read from outside the sandbox\n");
        abort();
    }
    kapsul_linker_free(linker);
    kapsul_store_free(store);
    kapsul_wasi_free(wasi);
    check_outside();
    check_fds();
    return 0;
}
