/*
 * fuzz_bundle.c -- libFuzzer target: arbitrary bytes as an OCI bundle's config.json through
 * kapsul-runc's reader (src/oci/runc_spec.c) and as its state file ROOT/ID/kapsul.json
 * (src/oci/runc_state.c). jansson parses the JSON; the target covers what kapsul-runc takes out of
 * it. Oracles: a failure leaves the result empty and gives a NUL-terminated, non-empty message;
 * a success gives at least one argument, NUL-terminated strings everywhere, mounts with a source
 * and a destination, and a wasm decision that can be made without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/runc.h"

static void check_str(const char *s) {
    if (!s) abort();
    (void)strlen(s);
}

static void check_spec(const uint8_t *data, size_t size) {
    kpRuncSpec spec;
    char msg[256];
    memset(msg, 0x55, sizeof msg);
    if (kpRunc_specParse((const char *)data, size, &spec, msg, sizeof msg) != 0) {
        if (!memchr(msg, 0, sizeof msg) || !msg[0] || spec.args || spec.nargs || spec.mounts) abort();
        return;
    }
    if (spec.nargs < 1) abort();
    check_str(spec.oci_version);
    check_str(spec.root_path);
    for (size_t i = 0; i < spec.nargs; i++) check_str(spec.args[i]);
    for (size_t i = 0; i < spec.nenv; i++) check_str(spec.env[i]);
    for (size_t i = 0; i < spec.nmounts; i++) {
        check_str(spec.mounts[i].source);
        check_str(spec.mounts[i].dest);
    }
    for (size_t i = 0; i < spec.nannotations; i++) {
        check_str(spec.annotations[i].key);
        check_str(spec.annotations[i].value);
    }
    if (spec.net_ns_path && !spec.net_ns) abort();
    (void)kpRunc_specIsWasm(&spec);
    kpRunc_specFree(&spec);
}

static void check_state(const uint8_t *data, size_t size) {
    kpRuncState st;
    char msg[256];
    memset(msg, 0x55, sizeof msg);
    if (kpRunc_stateParse((const char *)data, size, &st, msg, sizeof msg) != 0) {
        if (!memchr(msg, 0, sizeof msg) || !msg[0] || st.id || st.annotations) abort();
        return;
    }
    check_str(st.id);
    check_str(st.bundle);
    check_str(st.rootfs);
    check_str(st.created);
    if (st.pid <= 0) abort();
    for (size_t i = 0; i < st.nannotations; i++) {
        check_str(st.annotations[i].key);
        check_str(st.annotations[i].value);
    }
    kpRunc_stateFree(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_spec(data, size);
    check_state(data, size);
    return 0;
}
