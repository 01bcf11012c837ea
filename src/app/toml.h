/*
 * toml.h -- a TOML 1.0 reader: text in, a tree of values out, or one error with its line and
 * column. Used for Spin manifests (app/manifest.c), so it reads the whole language the way
 * Spin's own reader does, with limits on size and depth because manifests may come from anyone.
 *
 * Contract:
 *   - Input is any bytes. It must be UTF-8 (checked); every syntax or semantic error (duplicate
 *     key, table defined twice, integer overflow, ...) gives KAPSUL_ERR_MALFORMED with
 *     err->line/err->column (1-based; the column counts bytes) and a message without position.
 *   - Limits (KP_TOML_MAX_*) give KAPSUL_ERR_LIMIT with a position too; out of memory gives
 *     KAPSUL_ERR_NOMEM. On any failure *out is NULL and nothing leaks.
 *   - Strings are decoded (escapes applied) and NUL-terminated; they may contain NUL bytes from
 *     \u0000, so callers that need C strings check len against strlen.
 *   - Date-times are validated and kept as their text (kind KP_TOML_DATETIME).
 *   - Table entries keep the document's order.
 */
#ifndef KP_APP_TOML_H
#define KP_APP_TOML_H

#include "base/base.h"

/* Limits (KP_TOML_MAX_*) are in src/config.h. */

typedef enum kpTomlKind {
    KP_TOML_STRING,
    KP_TOML_INTEGER,
    KP_TOML_FLOAT,
    KP_TOML_BOOL,
    KP_TOML_DATETIME, /* offset/local date-time, local date or local time, kept as text */
    KP_TOML_ARRAY,
    KP_TOML_TABLE
} kpTomlKind;

typedef struct kpTomlValue kpTomlValue;

typedef struct kpTomlEntry {
    char *key; /* decoded, NUL-terminated (may hold NUL bytes: see key_len) */
    size_t key_len;
    int line, column; /* where the key was written (for a table made by a header: the header) */
    kpTomlValue *value;
} kpTomlEntry;

struct kpTomlValue {
    kpTomlKind kind;
    int line, column; /* where the value starts ([table] headers: the '[') */
    uint8_t state;    /* tables and arrays: how they were made (toml.c's TS_* and AS_*) */
    union {
        struct {
            char *s;
            size_t len;
        } str;     /* STRING and DATETIME */
        int64_t i; /* INTEGER */
        double f;  /* FLOAT */
        bool b;    /* BOOL */
        struct {
            kpTomlValue **v;
            size_t n, cap;
        } arr;
        struct {
            kpTomlEntry *v;
            size_t n, cap;
            kpStrIndex index; /* key -> entry number, once the table is big (toml.c) */
        } tab;
    } u;
};

/* Parse text[0..len) into a table. The caller frees *out with kpToml_free. */
kapsul_status kpToml_parse(const char *text, size_t len, kpTomlValue **out, kapsul_error *err);
void kpToml_free(kpTomlValue *v);

/* The entry named key (a C string) in table t, or NULL (also when t is not a table). */
const kpTomlEntry *kpToml_find(const kpTomlValue *t, const char *key);
/* The value of kpToml_find, or NULL. */
const kpTomlValue *kpToml_get(const kpTomlValue *t, const char *key);
/* A kind with its article, for messages: "a string", "an integer", "a table", ... */
const char *kpToml_kindName(kpTomlKind k);

#endif /* KP_APP_TOML_H */
