/*
 * test_wasi.c -- the WASI layer through the embedding API (kapsul.h): a context with a pipe as
 * stdout, a preopened temporary directory and arguments, linked into a hand-written module that
 * calls the imports with good and hostile arguments; proc_exit's status; bad configurations;
 * and out-of-memory at every allocation of kapsul_wasi_new.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "text/text.h"

static const char *kWat =
    "(module\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_write\" (func $w (param i32 i32 i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit (param i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"path_open\"\n"
    "    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"args_sizes_get\" (func $asg (param i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_prestat_dir_name\" (func $pdn (param i32 i32 i32) (result i32)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (data (i32.const 16) \"hi\\n\")\n"
    "  (data (i32.const 64) \"../x\")\n"
    "  (data (i32.const 72) \"made.txt\")\n"
    "  (func (export \"write\") (result i32)\n"
    "    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 3))\n"
    "    (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))\n"
    "  (func (export \"nwritten\") (result i32) (i32.load (i32.const 8)))\n"
    "  (func (export \"write_oob\") (result i32)\n"
    "    (call $w (i32.const 1) (i32.const 65532) (i32.const 1) (i32.const 8)))\n"
    "  (func (export \"write_wrap\") (result i32)\n"
    "    (i32.store (i32.const 0) (i32.const -16)) (i32.store (i32.const 4) (i32.const 32))\n"
    "    (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))\n"
    "  (func (export \"write_badfd\") (result i32)\n"
    "    (call $w (i32.const 99) (i32.const 0) (i32.const 1) (i32.const 8)))\n"
    "  (func (export \"escape\") (result i32)\n"
    "    (call $open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 4) (i32.const 0)\n"
    "      (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 100)))\n"
    "  (func (export \"create\") (result i32)\n"
    "    (call $open (i32.const 3) (i32.const 0) (i32.const 72) (i32.const 8) (i32.const 1)\n"
    "      (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 100)))\n"
    "  (func (export \"argc\") (result i32)\n"
    "    (drop (call $asg (i32.const 200) (i32.const 204))) (i32.load (i32.const 200)))\n"
    "  (func (export \"dirname\") (result i32)\n"
    "    (call $pdn (i32.const 3) (i32.const 300) (i32.const 16)))\n"
    "  (func (export \"exit\") (call $exit (i32.const 42))))\n";

static int32_t call_i32(kapsul_store *store, kapsul_instance *inst, const char *name) {
    kapsul_val r = { 0 };
    kapsul_error err;
    kapsul_func *f = kapsul_instance_func(inst, name);
    CHECK(f != NULL);
    if (!f) return -1;
    kapsul_status st = kapsul_func_call(store, f, NULL, 0, &r, 1, &err);
    CHECK(st == KAPSUL_OK);
    return r.of.i32;
}

static void test_calls(void) {
    char dir[] = "/tmp/kapsul-test-wasi-XXXXXX";
    int pipefd[2];
    CHECK(mkdtemp(dir) != NULL);
    CHECK(pipe(pipefd) == 0);
    const char *argv[] = { "prog", "arg1" };
    kapsul_wasi_dir d = { .host_path = dir, .guest_path = "sandbox", .read_only = false };
    kapsul_wasi_config cfg = { .argv = argv,
                               .argc = 2,
                               .dirs = &d,
                               .ndirs = 1,
                               .stdin_fd = -1,
                               .stdout_fd = pipefd[1],
                               .stderr_fd = 2 };
    kapsul_error err;
    kpBuf bin = { 0 };
    CHECK(kpWat_toBinary(kWat, strlen(kWat), 1, &bin, &err) == KAPSUL_OK);
    kapsul_engine *engine;
    CHECK(kapsul_engine_new(NULL, &engine, NULL) == KAPSUL_OK);
    kapsul_module *module = NULL;
    CHECK(kapsul_module_new(engine, bin.data, bin.len, &module, &err) == KAPSUL_OK);
    kapsul_store *store;
    CHECK(kapsul_store_new(engine, &store, NULL) == KAPSUL_OK);
    kapsul_linker *linker;
    CHECK(kapsul_linker_new(store, &linker, NULL) == KAPSUL_OK);
    kapsul_wasi *wasi = NULL;
    CHECK(kapsul_wasi_new(&cfg, &wasi, &err) == KAPSUL_OK);
    CHECK(kapsul_wasi_define(wasi, linker, NULL) == KAPSUL_OK);
    kapsul_instance *inst = NULL;
    CHECK(kapsul_linker_instantiate(linker, module, &inst, &err) == KAPSUL_OK);
    if (inst) {
        char buf[8] = { 0 };
        CHECK(call_i32(store, inst, "write") == 0);
        CHECK(read(pipefd[0], buf, sizeof buf) == 3 && memcmp(buf, "hi\n", 3) == 0);
        CHECK(call_i32(store, inst, "nwritten") == 3);
        CHECK(call_i32(store, inst, "write_oob") == 21);  /* EFAULT */
        CHECK(call_i32(store, inst, "write_wrap") == 21); /* ptr + len wraps: EFAULT */
        CHECK(call_i32(store, inst, "write_badfd") == 8); /* EBADF */
        CHECK(call_i32(store, inst, "escape") == 76);     /* ENOTCAPABLE */
        CHECK(call_i32(store, inst, "create") == 0);
        char made[64];
        snprintf(made, sizeof made, "%s/made.txt", dir);
        CHECK(access(made, F_OK) == 0);
        unlink(made);
        CHECK(call_i32(store, inst, "argc") == 2);
        CHECK(call_i32(store, inst, "dirname") == 0);
        kapsul_memory *mem = kapsul_instance_memory(inst, "memory");
        CHECK(mem && memcmp(kapsul_memory_data(mem) + 300, "sandbox", 7) == 0);
        /* The reader goes away: the guest gets EPIPE and this process is not killed by SIGPIPE. */
        close(pipefd[0]);
        pipefd[0] = -1;
        CHECK(call_i32(store, inst, "write") == 64);
        memset(&err, 0, sizeof err);
        kapsul_status st =
            kapsul_func_call(store, kapsul_instance_func(inst, "exit"), NULL, 0, NULL, 0, &err);
        CHECK(st == KAPSUL_ERR_EXIT && err.exit_code == 42);
    }
    kapsul_linker_free(linker);
    kapsul_store_free(store);
    kapsul_wasi_free(wasi);
    kapsul_module_free(module);
    kapsul_engine_free(engine);
    kpBuf_free(&bin);
    if (pipefd[0] >= 0) close(pipefd[0]);
    close(pipefd[1]);
    rmdir(dir);
}

static void test_bad_config(void) {
    kapsul_error err;
    kapsul_wasi *wasi = NULL;
    kapsul_wasi_dir d = { .host_path = "/nonexistent/kapsul/dir" };
    kapsul_wasi_config cfg = { .dirs = &d, .ndirs = 1, .stdin_fd = 0, .stdout_fd = 1, .stderr_fd = 2 };
    CHECK(kapsul_wasi_new(&cfg, &wasi, &err) == KAPSUL_ERR_IO && wasi == NULL);
    const char *addr = "not-an-address";
    kapsul_wasi_config cfg2 = {
        .tcp_listen = &addr, .ntcp_listen = 1, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1
    };
    CHECK(kapsul_wasi_new(&cfg2, &wasi, &err) == KAPSUL_ERR_ARG && wasi == NULL);
}

/* Every allocation of kapsul_wasi_new failing in turn: NOMEM each time, never a crash or leak. */
static void test_alloc_failure(void) {
    const char *argv[] = { "prog", "a", "b" };
    const char *env[] = { "A=1", "B=2" };
    kapsul_wasi_dir dirs[] = { { .host_path = "/tmp", .guest_path = "t" },
                               { .host_path = ".", .read_only = true } };
    kapsul_wasi_config cfg = { .argv = argv,
                               .argc = 3,
                               .env = env,
                               .envc = 2,
                               .dirs = dirs,
                               .ndirs = 2,
                               .stdin_fd = 0,
                               .stdout_fd = 1,
                               .stderr_fd = 2 };
    int nomem = 0;
    for (long n = 0; n < 200; n++) {
        kapsul_wasi *wasi = NULL;
        kapsul_error err;
        kpAlloc_failAfter(n);
        kapsul_status st = kapsul_wasi_new(&cfg, &wasi, &err);
        kpAlloc_failAfter(-1);
        CHECK(st == KAPSUL_OK || st == KAPSUL_ERR_NOMEM);
        if (st == KAPSUL_OK) {
            kapsul_wasi_free(wasi);
            break;
        }
        CHECK(wasi == NULL);
        nomem++;
    }
    CHECK(nomem > 5);
}

int main(void) {
    test_calls();
    test_bad_config();
    test_alloc_failure();
    return kpt_finish();
}
