/*
 * error.c -- filling kapsul_error, and the names of statuses and traps.
 */
#include <stdio.h>

#include "base.h"

void kpError_clear(kapsul_error *err) {
    if (err) memset(err, 0, sizeof *err);
}

kapsul_status kpError_set(kapsul_error *err, kapsul_status code, size_t offset, const char *fmt, ...) {
    if (!err) return code;
    kpError_clear(err);
    err->code = code;
    err->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

kapsul_status kpError_setText(kapsul_error *err, kapsul_status code, int line, int column, const char *fmt,
                              ...) {
    if (!err) return code;
    kpError_clear(err);
    err->code = code;
    err->line = line;
    err->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

static const char *const trap_names[KAPSUL_TRAP_COUNT][2] = {
    [KAPSUL_TRAP_NONE] = { "none", "no trap" },
    [KAPSUL_TRAP_UNREACHABLE] = { "unreachable", "unreachable" },
    [KAPSUL_TRAP_MEMORY_OOB] = { "memory_oob", "out of bounds memory access" },
    [KAPSUL_TRAP_TABLE_OOB] = { "table_oob", "out of bounds table access" },
    [KAPSUL_TRAP_DIV_ZERO] = { "div_zero", "integer divide by zero" },
    [KAPSUL_TRAP_INT_OVERFLOW] = { "int_overflow", "integer overflow" },
    [KAPSUL_TRAP_BAD_CONVERSION] = { "bad_conversion", "invalid conversion to integer" },
    [KAPSUL_TRAP_INDIRECT_MISMATCH] = { "indirect_mismatch", "indirect call type mismatch" },
    [KAPSUL_TRAP_UNINITIALIZED] = { "uninitialized", "uninitialized element" },
    [KAPSUL_TRAP_STACK_EXHAUSTED] = { "stack_exhausted", "call stack exhausted" },
    [KAPSUL_TRAP_HOST] = { "host", "host function error" },
    [KAPSUL_TRAP_TIMEOUT] = { "timeout", "deadline exceeded (interrupted)" },
    [KAPSUL_TRAP_FUEL] = { "fuel", "all fuel consumed" },
    [KAPSUL_TRAP_MEMORY_LIMIT] = { "memory_limit", "memory limit exceeded" },
};

const char *kapsul_trap_name(kapsul_trap t) {
    return (unsigned)t < KAPSUL_TRAP_COUNT ? trap_names[t][0] : "unknown";
}

const char *kapsul_trap_message(kapsul_trap t) {
    return (unsigned)t < KAPSUL_TRAP_COUNT ? trap_names[t][1] : "unknown trap";
}

const char *kapsul_status_name(kapsul_status s) {
    static const char *const names[] = {
        "ok",        "malformed",    "invalid",   "unlinkable", "trap", "out of memory", "limit exceeded",
        "i/o error", "bad argument", "not found", "exit"
    };
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "unknown";
}
