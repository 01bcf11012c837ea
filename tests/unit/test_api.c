/*
 * test_api.c -- kapsul.h used the way a plugin host uses it: host functions as imports, a guest
 * calling the host and the host calling back into the guest, exports (functions, memory, table,
 * globals), a second module linked against the first (cross-instance calls, call_indirect through
 * an imported table), link errors, and traps with their backtrace.
 *
 * Modules: tests/unit/test_api_{plugin,user,badimport,bulk}.wat, compiled with
 * `wat2wasm --debug-names` and embedded with `xxd -i`.
 */
#include <string.h>

#include "kapsul.h"
#include "test.h"

static const unsigned char kp_plugin_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x18, 0x05, 0x60, 0x02, 0x7f, 0x7f, 0x00, 0x60,
    0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x01, 0x7f,
    0x02, 0x2e, 0x04, 0x03, 0x65, 0x6e, 0x76, 0x03, 0x6c, 0x6f, 0x67, 0x00, 0x00, 0x03, 0x65, 0x6e, 0x76,
    0x03, 0x61, 0x64, 0x64, 0x00, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x04, 0x66, 0x61, 0x69, 0x6c, 0x00, 0x02,
    0x03, 0x65, 0x6e, 0x76, 0x07, 0x72, 0x65, 0x65, 0x6e, 0x74, 0x65, 0x72, 0x00, 0x03, 0x03, 0x06, 0x05,
    0x03, 0x04, 0x02, 0x03, 0x00, 0x04, 0x04, 0x01, 0x70, 0x00, 0x02, 0x05, 0x03, 0x01, 0x00, 0x01, 0x06,
    0x06, 0x01, 0x7f, 0x01, 0x41, 0x07, 0x0b, 0x07, 0x40, 0x08, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79,
    0x02, 0x00, 0x05, 0x74, 0x61, 0x62, 0x6c, 0x65, 0x01, 0x00, 0x01, 0x67, 0x03, 0x00, 0x06, 0x64, 0x6f,
    0x75, 0x62, 0x6c, 0x65, 0x00, 0x04, 0x05, 0x67, 0x72, 0x65, 0x65, 0x74, 0x00, 0x05, 0x03, 0x62, 0x61,
    0x64, 0x00, 0x06, 0x08, 0x76, 0x69, 0x61, 0x5f, 0x68, 0x6f, 0x73, 0x74, 0x00, 0x07, 0x05, 0x77, 0x72,
    0x69, 0x74, 0x65, 0x00, 0x08, 0x09, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x04, 0x0a, 0x31, 0x05,
    0x07, 0x00, 0x20, 0x00, 0x41, 0x02, 0x6c, 0x0b, 0x0e, 0x00, 0x41, 0x10, 0x41, 0x0b, 0x10, 0x00, 0x41,
    0x28, 0x41, 0x02, 0x10, 0x01, 0x0b, 0x04, 0x00, 0x10, 0x02, 0x0b, 0x09, 0x00, 0x20, 0x00, 0x10, 0x03,
    0x41, 0x01, 0x6a, 0x0b, 0x09, 0x00, 0x20, 0x00, 0x20, 0x01, 0x3a, 0x00, 0x00, 0x0b, 0x0b, 0x11, 0x01,
    0x00, 0x41, 0x10, 0x0b, 0x0b, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x68, 0x6f, 0x73, 0x74, 0x00,
    0x43, 0x04, 0x6e, 0x61, 0x6d, 0x65, 0x01, 0x27, 0x06, 0x00, 0x03, 0x6c, 0x6f, 0x67, 0x01, 0x03, 0x61,
    0x64, 0x64, 0x02, 0x04, 0x66, 0x61, 0x69, 0x6c, 0x03, 0x07, 0x72, 0x65, 0x65, 0x6e, 0x74, 0x65, 0x72,
    0x04, 0x06, 0x64, 0x6f, 0x75, 0x62, 0x6c, 0x65, 0x06, 0x03, 0x62, 0x61, 0x64, 0x02, 0x13, 0x09, 0x00,
    0x00, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x04, 0x00, 0x05, 0x00, 0x06, 0x00, 0x07, 0x00, 0x08, 0x00
};
static const unsigned int kp_plugin_wasm_len = 323;
static const unsigned char kp_user_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x13, 0x04, 0x60, 0x01, 0x7f, 0x01, 0x7f,
    0x60, 0x00, 0x00, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x01, 0x7f, 0x02, 0x3f, 0x04,
    0x06, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x06, 0x64, 0x6f, 0x75, 0x62, 0x6c, 0x65, 0x00, 0x00,
    0x06, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x05, 0x74, 0x61, 0x62, 0x6c, 0x65, 0x01, 0x70, 0x00,
    0x02, 0x06, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02,
    0x00, 0x01, 0x06, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x01, 0x67, 0x03, 0x7f, 0x01, 0x03, 0x06,
    0x05, 0x00, 0x02, 0x01, 0x00, 0x03, 0x07, 0x32, 0x05, 0x04, 0x71, 0x75, 0x61, 0x64, 0x00, 0x01,
    0x08, 0x69, 0x6e, 0x64, 0x69, 0x72, 0x65, 0x63, 0x74, 0x00, 0x02, 0x0e, 0x69, 0x6e, 0x64, 0x69,
    0x72, 0x65, 0x63, 0x74, 0x5f, 0x77, 0x72, 0x6f, 0x6e, 0x67, 0x00, 0x03, 0x04, 0x70, 0x65, 0x65,
    0x6b, 0x00, 0x04, 0x04, 0x62, 0x75, 0x6d, 0x70, 0x00, 0x05, 0x0a, 0x30, 0x05, 0x08, 0x00, 0x20,
    0x00, 0x10, 0x00, 0x10, 0x00, 0x0b, 0x09, 0x00, 0x20, 0x00, 0x20, 0x01, 0x11, 0x00, 0x00, 0x0b,
    0x07, 0x00, 0x41, 0x00, 0x11, 0x01, 0x00, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x2d, 0x00, 0x00, 0x0b,
    0x0b, 0x00, 0x23, 0x00, 0x41, 0x01, 0x6a, 0x24, 0x00, 0x23, 0x00, 0x0b, 0x00, 0x32, 0x04, 0x6e,
    0x61, 0x6d, 0x65, 0x01, 0x09, 0x01, 0x00, 0x06, 0x64, 0x6f, 0x75, 0x62, 0x6c, 0x65, 0x02, 0x0d,
    0x06, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x04, 0x00, 0x05, 0x00, 0x04, 0x0b, 0x02,
    0x00, 0x03, 0x69, 0x32, 0x69, 0x01, 0x03, 0x76, 0x32, 0x76, 0x07, 0x04, 0x01, 0x00, 0x01, 0x67
};
static const unsigned int kp_user_wasm_len = 256;
static const unsigned char kp_badimport_wasm[] = { 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06,
                                                   0x01, 0x60, 0x01, 0x7e, 0x01, 0x7f, 0x02, 0x11, 0x01, 0x06,
                                                   0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x06, 0x64, 0x6f, 0x75,
                                                   0x62, 0x6c, 0x65, 0x00, 0x00, 0x00, 0x0a, 0x04, 0x6e, 0x61,
                                                   0x6d, 0x65, 0x02, 0x03, 0x01, 0x00, 0x00 };
static const unsigned int kp_badimport_wasm_len = 47;

static const unsigned char kp_bulk_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x02, 0x11, 0x01,
    0x03, 0x65, 0x6e, 0x76, 0x09, 0x69, 0x6e, 0x74, 0x65, 0x72, 0x72, 0x75, 0x70, 0x74, 0x00, 0x00, 0x03,
    0x02, 0x01, 0x00, 0x05, 0x04, 0x01, 0x00, 0x80, 0x04, 0x07, 0x21, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f,
    0x72, 0x79, 0x02, 0x00, 0x14, 0x66, 0x69, 0x6c, 0x6c, 0x5f, 0x61, 0x66, 0x74, 0x65, 0x72, 0x5f, 0x69,
    0x6e, 0x74, 0x65, 0x72, 0x72, 0x75, 0x70, 0x74, 0x00, 0x01, 0x0a, 0x12, 0x01, 0x10, 0x00, 0x10, 0x00,
    0x41, 0x00, 0x41, 0x01, 0x41, 0x80, 0x80, 0x80, 0x10, 0xfc, 0x0b, 0x00, 0x0b
};
static const unsigned int kp_bulk_wasm_len = 98;

/* ---- The host side ---- */

typedef struct host {
    char logged[64];
    int adds;
    kapsul_instance *plugin;
} host;

/* env.log(ptr, len): read a string out of the caller's memory, bounds-checked by the host. */
static kapsul_status h_log(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                           kapsul_error *err) {
    (void)results;
    host *h = env;
    kapsul_memory *mem = kapsul_caller_memory(caller);
    uint32_t ptr = (uint32_t)args[0].of.i32, len = (uint32_t)args[1].of.i32;
    if (!mem || (uint64_t)ptr + len > kapsul_memory_size(mem) || len >= sizeof h->logged) {
        err->trap = KAPSUL_TRAP_HOST;
        return KAPSUL_ERR_TRAP;
    }
    memcpy(h->logged, kapsul_memory_data(mem) + ptr, len);
    h->logged[len] = 0;
    return KAPSUL_OK;
}

static kapsul_status h_add(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                           kapsul_error *err) {
    (void)caller;
    (void)err;
    ((host *)env)->adds++;
    results[0].kind = KAPSUL_I32;
    results[0].of.i32 = args[0].of.i32 + args[1].of.i32;
    return KAPSUL_OK;
}

static kapsul_status h_fail(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                            kapsul_error *err) {
    (void)env, (void)caller, (void)args, (void)results;
    snprintf(err->message, sizeof err->message, "plugin misbehaved");
    err->trap = KAPSUL_TRAP_HOST;
    return KAPSUL_ERR_TRAP;
}

/* env.reenter(x) = double(x) called back in the guest. */
static kapsul_status h_reenter(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                               kapsul_error *err) {
    host *h = env;
    kapsul_func *dbl = kapsul_instance_func(h->plugin, "double");
    if (!dbl) return KAPSUL_ERR_NOT_FOUND;
    return kapsul_func_call(kapsul_caller_store(caller), dbl, args, 1, results, 1, err);
}

static kapsul_val vi32(int32_t v) {
    kapsul_val x = { .kind = KAPSUL_I32 };
    x.of.i32 = v;
    return x;
}

static void test_module_info(kapsul_engine *e) {
    kapsul_module *m;
    kapsul_error err;
    CHECK(kapsul_module_new(e, kp_plugin_wasm, kp_plugin_wasm_len, &m, &err) == KAPSUL_OK);
    CHECK(kapsul_module_import_count(m) == 4);
    kapsul_import_info ii;
    kapsul_module_import(m, 1, &ii);
    CHECK(ii.kind == KAPSUL_EXTERN_FUNC && ii.name_len == 3 && memcmp(ii.name, "add", 3) == 0);
    bool found_memory = false;
    for (uint32_t i = 0; i < kapsul_module_export_count(m); i++) {
        kapsul_export_info ei;
        kapsul_module_export(m, i, &ei);
        if (ei.kind == KAPSUL_EXTERN_MEMORY && ei.name_len == 6 && memcmp(ei.name, "memory", 6) == 0)
            found_memory = true;
    }
    CHECK(found_memory);
    kapsul_module_free(m);

    /* Garbage is malformed, not a crash. */
    static const uint8_t junk[] = { 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0xFF };
    CHECK(kapsul_module_new(e, junk, sizeof junk, &m, &err) == KAPSUL_ERR_MALFORMED && err.message[0]);
}

static void test_plugin(kapsul_engine *e) {
    kapsul_error err;
    kapsul_store *s;
    CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK);
    kapsul_linker *l;
    CHECK(kapsul_linker_new(s, &l, NULL) == KAPSUL_OK);
    kapsul_module *pm, *um, *bm;
    host h;
    memset(&h, 0, sizeof h);
    CHECK(kapsul_module_new(e, kp_plugin_wasm, kp_plugin_wasm_len, &pm, &err) == KAPSUL_OK);
    CHECK(kapsul_module_new(e, kp_user_wasm, kp_user_wasm_len, &um, &err) == KAPSUL_OK);
    CHECK(kapsul_module_new(e, kp_badimport_wasm, kp_badimport_wasm_len, &bm, &err) == KAPSUL_OK);

    const kapsul_valkind ii[2] = { KAPSUL_I32, KAPSUL_I32 }, i[1] = { KAPSUL_I32 };
    /* Missing imports are reported by name. */
    kapsul_instance *plugin = NULL, *user = NULL, *bad = NULL;
    CHECK(kapsul_linker_instantiate(l, pm, &plugin, &err) == KAPSUL_ERR_UNLINKABLE);
    CHECK(strstr(err.message, "unknown import") != NULL);
    CHECK(kapsul_linker_define_func(l, "env", "log", ii, 2, NULL, 0, h_log, &h, NULL) == KAPSUL_OK);
    CHECK(kapsul_linker_define_func(l, "env", "add", ii, 2, i, 1, h_add, &h, NULL) == KAPSUL_OK);
    CHECK(kapsul_linker_define_func(l, "env", "fail", NULL, 0, NULL, 0, h_fail, &h, NULL) == KAPSUL_OK);
    /* Wrong signature for reenter first: incompatible import type. */
    CHECK(kapsul_linker_define_func(l, "env", "reenter", ii, 2, i, 1, h_add, &h, NULL) == KAPSUL_OK);
    CHECK(kapsul_linker_instantiate(l, pm, &plugin, &err) == KAPSUL_ERR_UNLINKABLE);
    CHECK(strstr(err.message, "incompatible import type") != NULL);
    CHECK(kapsul_linker_define_func(l, "env", "reenter", i, 1, i, 1, h_reenter, &h, NULL) == KAPSUL_OK);
    CHECK(kapsul_linker_instantiate(l, pm, &plugin, &err) == KAPSUL_OK);
    h.plugin = plugin;

    /* Guest -> host, host reading guest memory. */
    kapsul_val r[1];
    CHECK(kapsul_func_call(s, kapsul_instance_func(plugin, "greet"), NULL, 0, r, 1, &err) == KAPSUL_OK);
    CHECK(r[0].kind == KAPSUL_I32 && r[0].of.i32 == 42 && h.adds == 1 &&
          strcmp(h.logged, "hello, host") == 0);
    /* Guest -> host -> guest. */
    kapsul_val x = vi32(20);
    CHECK(kapsul_func_call(s, kapsul_instance_func(plugin, "via_host"), &x, 1, r, 1, &err) == KAPSUL_OK);
    CHECK(r[0].of.i32 == 41);
    /* A host error unwinds the guest and reaches the caller unchanged. */
    CHECK(kapsul_func_call(s, kapsul_instance_func(plugin, "bad"), NULL, 0, NULL, 0, &err) ==
          KAPSUL_ERR_TRAP);
    CHECK(err.trap == KAPSUL_TRAP_HOST && strcmp(err.message, "plugin misbehaved") == 0);

    /* A second module linked against the first. */
    CHECK(kapsul_linker_define_instance(l, "plugin", 6, plugin, NULL) == KAPSUL_OK);
    CHECK(kapsul_linker_instantiate(l, bm, &bad, &err) == KAPSUL_ERR_UNLINKABLE);
    CHECK(kapsul_linker_instantiate(l, um, &user, &err) == KAPSUL_OK);
    x = vi32(5);
    CHECK(kapsul_func_call(s, kapsul_instance_func(user, "quad"), &x, 1, r, 1, &err) == KAPSUL_OK &&
          r[0].of.i32 == 20);
    kapsul_val args[2] = { vi32(9), vi32(0) };
    CHECK(kapsul_func_call(s, kapsul_instance_func(user, "indirect"), args, 2, r, 1, &err) == KAPSUL_OK &&
          r[0].of.i32 == 18);
    args[1] = vi32(1);
    CHECK(kapsul_func_call(s, kapsul_instance_func(user, "indirect"), args, 2, r, 1, &err) ==
              KAPSUL_ERR_TRAP &&
          err.trap == KAPSUL_TRAP_UNINITIALIZED);
    args[1] = vi32(2);
    CHECK(kapsul_func_call(s, kapsul_instance_func(user, "indirect"), args, 2, r, 1, &err) ==
              KAPSUL_ERR_TRAP &&
          err.trap == KAPSUL_TRAP_TABLE_OOB);
    CHECK(kapsul_func_call(s, kapsul_instance_func(user, "indirect_wrong"), NULL, 0, NULL, 0, &err) ==
              KAPSUL_ERR_TRAP &&
          err.trap == KAPSUL_TRAP_INDIRECT_MISMATCH);
    CHECK(err.nframes == 1 && err.frames[0].func_index == 3); /* imports count in the index space */

    /* Shared memory and globals. */
    kapsul_val w[2] = { vi32(100), vi32(0x5A) };
    CHECK(kapsul_func_call(s, kapsul_instance_func(plugin, "write"), w, 2, NULL, 0, &err) == KAPSUL_OK);
    x = vi32(100);
    CHECK(kapsul_func_call(s, kapsul_instance_func(user, "peek"), &x, 1, r, 1, &err) == KAPSUL_OK &&
          r[0].of.i32 == 0x5A);
    CHECK(kapsul_memory_data(kapsul_instance_memory(plugin, "memory"))[100] == 0x5A);
    CHECK(kapsul_func_call(s, kapsul_instance_func(user, "bump"), NULL, 0, r, 1, &err) == KAPSUL_OK &&
          r[0].of.i32 == 8);
    kapsul_extern g;
    CHECK(kapsul_instance_export(plugin, "g", 1, &g, NULL) == KAPSUL_OK && g.kind == KAPSUL_EXTERN_GLOBAL);
    CHECK(kapsul_global_get(g.of.global).of.i32 == 8);
    CHECK(kapsul_global_set(g.of.global, vi32(100), NULL) == KAPSUL_OK);
    CHECK(kapsul_func_call(s, kapsul_instance_func(user, "bump"), NULL, 0, r, 1, &err) == KAPSUL_OK &&
          r[0].of.i32 == 101);
    kapsul_extern t;
    kapsul_val tv;
    CHECK(kapsul_instance_export(plugin, "table", 5, &t, NULL) == KAPSUL_OK &&
          kapsul_table_size(t.of.table) == 2);
    CHECK(kapsul_table_get(t.of.table, 0, &tv, NULL) == KAPSUL_OK &&
          tv.of.funcref == kapsul_instance_func(plugin, "double"));
    CHECK(kapsul_instance_export(plugin, "nope", 4, &t, NULL) == KAPSUL_ERR_NOT_FOUND);

    /* Host functions are callable directly too. */
    kapsul_func *hf;
    CHECK(kapsul_func_new_host(s, ii, 2, i, 1, h_add, &h, &hf, NULL) == KAPSUL_OK);
    kapsul_val hv[2] = { vi32(3), vi32(4) };
    CHECK(kapsul_func_call(s, hf, hv, 2, r, 1, &err) == KAPSUL_OK && r[0].of.i32 == 7);
    CHECK(kapsul_func_param_count(hf) == 2 && kapsul_func_result(hf, 0) == KAPSUL_I32);

    kapsul_linker_free(l);
    kapsul_store_free(s);
    kapsul_module_free(pm);
    kapsul_module_free(um);
    kapsul_module_free(bm);
}

/* Host-created objects, as a spectest-like host module makes them. */
static void test_host_objects(void) {
    kapsul_config cfg = { .max_memory_bytes = 65536 };
    kapsul_engine *e;
    CHECK(kapsul_engine_new(&cfg, &e, NULL) == KAPSUL_OK);
    kapsul_store *s;
    CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK);
    kapsul_memory *mem;
    CHECK(kapsul_memory_new(s, 2, KAPSUL_NO_MAX, &mem, NULL) == KAPSUL_ERR_LIMIT);
    CHECK(kapsul_memory_new(s, 2, 1, &mem, NULL) == KAPSUL_ERR_ARG);
    CHECK(kapsul_memory_new(s, 1, 3, &mem, NULL) == KAPSUL_OK && kapsul_memory_pages(mem) == 1);
    uint64_t old_pages = 0;
    CHECK(kapsul_memory_grow(mem, 1, &old_pages, NULL) == KAPSUL_ERR_LIMIT); /* the engine's limit */
    CHECK(kapsul_memory_grow(mem, 0, &old_pages, NULL) == KAPSUL_OK && old_pages == 1);
    kapsul_global *g;
    CHECK(kapsul_global_new(s, vi32(5), false, &g, NULL) == KAPSUL_OK);
    CHECK(kapsul_global_set(g, vi32(6), NULL) == KAPSUL_ERR_ARG); /* immutable */
    CHECK(kapsul_global_get(g).of.i32 == 5);
    kapsul_table *t;
    kapsul_val v;
    CHECK(kapsul_table_new(s, KAPSUL_I32, 1, 2, &t, NULL) == KAPSUL_ERR_ARG);
    CHECK(kapsul_table_new(s, KAPSUL_FUNCREF, 3, KAPSUL_NO_MAX, &t, NULL) == KAPSUL_OK &&
          kapsul_table_size(t) == 3);
    CHECK(kapsul_table_get(t, 2, &v, NULL) == KAPSUL_OK && v.kind == KAPSUL_FUNCREF && v.of.funcref == NULL);
    CHECK(kapsul_table_get(t, 3, &v, NULL) == KAPSUL_ERR_NOT_FOUND);
    kapsul_store_free(s);
    kapsul_engine_free(e);
}

static kapsul_status h_interrupt(void *env, kapsul_caller *caller, const kapsul_val *args,
                                 kapsul_val *results, kapsul_error *err) {
    (void)env, (void)args, (void)results, (void)err;
    kapsul_store_interrupt(kapsul_caller_store(caller));
    return KAPSUL_OK;
}

/* An interrupt that arrives during a long memory.fill stops it between chunks: the host import
 * raises the flag, no loop header or call checks it before the 32 MiB fill starts, so only the
 * fill itself can notice. */
static void test_interrupt_bulk(kapsul_engine *e) {
    kapsul_error err;
    kapsul_module *m;
    CHECK(kapsul_module_new(e, kp_bulk_wasm, kp_bulk_wasm_len, &m, &err) == KAPSUL_OK);
    kapsul_store *s;
    CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK);
    kapsul_linker *l;
    CHECK(kapsul_linker_new(s, &l, NULL) == KAPSUL_OK);
    kapsul_instance *inst;
    CHECK(kapsul_linker_define_func(l, "env", "interrupt", NULL, 0, NULL, 0, h_interrupt, NULL, NULL) ==
          KAPSUL_OK);
    CHECK(kapsul_linker_instantiate(l, m, &inst, &err) == KAPSUL_OK);
    CHECK(kapsul_func_call(s, kapsul_instance_func(inst, "fill_after_interrupt"), NULL, 0, NULL, 0, &err) ==
          KAPSUL_ERR_TRAP);
    CHECK(err.trap == KAPSUL_TRAP_TIMEOUT);
    uint8_t *mem = kapsul_memory_data(kapsul_instance_memory(inst, "memory"));
    CHECK(mem[0] == 1 && mem[33554431] == 0);
    kapsul_linker_free(l);
    kapsul_store_free(s);
    kapsul_module_free(m);
}

int main(void) {
    kapsul_engine *e;
    CHECK(kapsul_engine_new(NULL, &e, NULL) == KAPSUL_OK);
    CHECK(e != NULL);
    test_module_info(e);
    test_plugin(e);
    test_host_objects();
    test_interrupt_bulk(e);
    kapsul_engine_free(e);
    return kpt_finish();
}
