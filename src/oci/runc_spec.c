/*
 * runc_spec.c -- the parts of an OCI bundle's config.json that kapsul-runc uses, read with
 * jansson into a kpRuncSpec. A field kapsul-runc relies on must have the type the runtime spec
 * gives it; anything else in the document is left alone (runc, the delegate, checks the rest).
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "oci/runc.h"

static int fail(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *msg, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static char *dup_str(const char *s) { return kp_strndup(s, strlen(s)); }

/* A string field: *out is a copy, NULL when absent. -1 when present but not a string, or when
 * the string holds a NUL (jansson allows "\u0000"; a path or argument must not). */
static int opt_string(json_t *obj, const char *key, const char *where, char **out, char *msg, size_t cap) {
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v) return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return fail(msg, cap, "config.json: %s%s must be a string", where, key);
    if (!(*out = dup_str(json_string_value(v)))) return fail(msg, cap, "out of memory");
    return 0;
}

/* An array of strings (process.args, process.env); absent = empty. */
static int string_array(json_t *obj, const char *key, const char *where, char ***out, size_t *n, char *msg,
                        size_t cap) {
    json_t *arr = json_object_get(obj, key);
    *out = NULL;
    *n = 0;
    if (!arr) return 0;
    if (!json_is_array(arr))
        return fail(msg, cap, "config.json: %s%s must be an array of strings", where, key);
    size_t count = json_array_size(arr);
    if (count == 0) return 0;
    if (!(*out = kp_calloc(count, sizeof **out))) return fail(msg, cap, "out of memory");
    for (size_t i = 0; i < count; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
            return fail(msg, cap, "config.json: %s%s[%zu] must be a string", where, key, i);
        if (!((*out)[i] = dup_str(json_string_value(v)))) return fail(msg, cap, "out of memory");
        (*n)++;
    }
    return 0;
}

static bool has_option(json_t *options, const char *name) {
    size_t i;
    json_t *v;
    json_array_foreach(options, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0) return true;
    }
    return false;
}

/* mounts[]: destination is required by the spec; the bind ones (type "bind", or an option
 * "bind"/"rbind" as Docker writes them) are kept. */
static int parse_mounts(json_t *root, kpRuncSpec *out, char *msg, size_t cap) {
    json_t *mounts = json_object_get(root, "mounts");
    if (!mounts) return 0;
    if (!json_is_array(mounts)) return fail(msg, cap, "config.json: mounts must be an array");
    size_t count = json_array_size(mounts);
    if (count && !(out->mounts = kp_calloc(count, sizeof *out->mounts)))
        return fail(msg, cap, "out of memory");
    for (size_t i = 0; i < count; i++) {
        json_t *m = json_array_get(mounts, i);
        char where[48];
        snprintf(where, sizeof where, "mounts[%zu].", i);
        if (!json_is_object(m)) return fail(msg, cap, "config.json: mounts[%zu] must be an object", i);
        json_t *options = json_object_get(m, "options");
        if (options && !json_is_array(options))
            return fail(msg, cap, "config.json: %soptions must be an array of strings", where);
        char *type = NULL, *source = NULL, *dest = NULL;
        if (opt_string(m, "type", where, &type, msg, cap) ||
            opt_string(m, "source", where, &source, msg, cap) ||
            opt_string(m, "destination", where, &dest, msg, cap))
            goto bad;
        if (!dest) {
            fail(msg, cap, "config.json: %sdestination is missing", where);
            goto bad;
        }
        bool bind = (type && strcmp(type, "bind") == 0) || has_option(options, "bind") ||
                    has_option(options, "rbind");
        kp_free(type);
        if (!bind || !source) {
            kp_free(source);
            kp_free(dest);
            continue;
        }
        kpRuncMount *mt = &out->mounts[out->nmounts++];
        mt->source = source;
        mt->dest = dest;
        mt->read_only = has_option(options, "ro");
        continue;
bad:
        kp_free(type);
        kp_free(source);
        kp_free(dest);
        return -1;
    }
    return 0;
}

/* linux.namespaces (the network entry) and linux.resources.memory.limit. */
static int parse_linux(json_t *root, kpRuncSpec *out, char *msg, size_t cap) {
    json_t *linux_ = json_object_get(root, "linux");
    if (!linux_) return 0;
    if (!json_is_object(linux_)) return fail(msg, cap, "config.json: linux must be an object");
    json_t *nss = json_object_get(linux_, "namespaces");
    if (nss && !json_is_array(nss)) return fail(msg, cap, "config.json: linux.namespaces must be an array");
    size_t i;
    json_t *ns;
    json_array_foreach(nss, i, ns) {
        char where[48];
        snprintf(where, sizeof where, "linux.namespaces[%zu].", i);
        if (!json_is_object(ns))
            return fail(msg, cap, "config.json: linux.namespaces[%zu] must be an object", i);
        json_t *type = json_object_get(ns, "type");
        if (!json_is_string(type)) return fail(msg, cap, "config.json: %stype must be a string", where);
        if (strcmp(json_string_value(type), "network") != 0) continue;
        out->net_ns = true;
        kp_free(out->net_ns_path);
        if (opt_string(ns, "path", where, &out->net_ns_path, msg, cap)) return -1;
        if (out->net_ns_path && !out->net_ns_path[0]) {
            kp_free(out->net_ns_path);
            out->net_ns_path = NULL;
        }
    }
    if (opt_string(linux_, "cgroupsPath", "linux.", &out->cgroups_path, msg, cap)) return -1;
    if (out->cgroups_path && !out->cgroups_path[0]) {
        kp_free(out->cgroups_path);
        out->cgroups_path = NULL;
    }
    json_t *res = json_object_get(linux_, "resources");
    json_t *mem = json_is_object(res) ? json_object_get(res, "memory") : NULL;
    json_t *limit = json_is_object(mem) ? json_object_get(mem, "limit") : NULL;
    if (limit) {
        if (!json_is_integer(limit))
            return fail(msg, cap, "config.json: linux.resources.memory.limit must be an integer");
        json_int_t v = json_integer_value(limit);
        out->memory_limit = v > 0 ? (uint64_t)v : 0; /* -1 = unlimited */
    }
    return 0;
}

static int parse_annotations(json_t *root, kpRuncSpec *out, char *msg, size_t cap) {
    json_t *ann = json_object_get(root, "annotations");
    if (!ann) return 0;
    if (!json_is_object(ann)) return fail(msg, cap, "config.json: annotations must be an object of strings");
    size_t count = json_object_size(ann);
    if (count && !(out->annotations = kp_calloc(count, sizeof *out->annotations)))
        return fail(msg, cap, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(ann, key, v) {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
            return fail(msg, cap, "config.json: annotations[\"%.64s\"] must be a string", key);
        kpRuncKV *kv = &out->annotations[out->nannotations];
        if (!(kv->key = dup_str(key)) || !(kv->value = dup_str(json_string_value(v)))) {
            kp_free(kv->key);
            kv->key = NULL;
            return fail(msg, cap, "out of memory");
        }
        out->nannotations++;
    }
    return 0;
}

static int parse_doc(json_t *doc, kpRuncSpec *out, char *msg, size_t cap) {
    if (!json_is_object(doc)) return fail(msg, cap, "config.json: the document must be a JSON object");
    if (opt_string(doc, "ociVersion", "", &out->oci_version, msg, cap)) return -1;
    if (!out->oci_version) return fail(msg, cap, "config.json: ociVersion is missing");
    json_t *proc = json_object_get(doc, "process");
    if (!json_is_object(proc)) return fail(msg, cap, "config.json: process is missing or not an object");
    if (string_array(proc, "args", "process.", &out->args, &out->nargs, msg, cap) ||
        string_array(proc, "env", "process.", &out->env, &out->nenv, msg, cap) ||
        opt_string(proc, "cwd", "process.", &out->cwd, msg, cap))
        return -1;
    if (out->nargs == 0) return fail(msg, cap, "config.json: process.args must hold at least the program");
    json_t *term = json_object_get(proc, "terminal");
    if (term && !json_is_boolean(term))
        return fail(msg, cap, "config.json: process.terminal must be a boolean");
    out->terminal = json_is_true(term);
    json_t *root = json_object_get(doc, "root");
    if (!json_is_object(root)) return fail(msg, cap, "config.json: root is missing or not an object");
    if (opt_string(root, "path", "root.", &out->root_path, msg, cap)) return -1;
    if (!out->root_path || !out->root_path[0]) return fail(msg, cap, "config.json: root.path is missing");
    json_t *ro = json_object_get(root, "readonly");
    if (ro && !json_is_boolean(ro)) return fail(msg, cap, "config.json: root.readonly must be a boolean");
    out->root_ro = json_is_true(ro);
    if (parse_mounts(doc, out, msg, cap) || parse_linux(doc, out, msg, cap) ||
        parse_annotations(doc, out, msg, cap))
        return -1;
    return 0;
}

int kpRunc_specParse(const char *text, size_t len, kpRuncSpec *out, char *msg, size_t cap) {
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    /* JSON_REJECT_DUPLICATES: two "args" keys would let runc and kapsul-runc read different
     * programs out of one file. */
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) return fail(msg, cap, "config.json: line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
    int r = parse_doc(doc, out, msg, cap);
    json_decref(doc);
    if (r != 0) kpRunc_specFree(out);
    return r;
}

static void free_strings(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) kp_free(v[i]);
    kp_free(v);
}

void kpRunc_specFree(kpRuncSpec *spec) {
    kp_free(spec->oci_version);
    free_strings(spec->args, spec->nargs);
    free_strings(spec->env, spec->nenv);
    kp_free(spec->cwd);
    kp_free(spec->root_path);
    for (size_t i = 0; i < spec->nmounts; i++) {
        kp_free(spec->mounts[i].source);
        kp_free(spec->mounts[i].dest);
    }
    kp_free(spec->mounts);
    kp_free(spec->net_ns_path);
    kp_free(spec->cgroups_path);
    kpRunc_kvFree(spec->annotations, spec->nannotations);
    memset(spec, 0, sizeof *spec);
}

void kpRunc_kvFree(kpRuncKV *kv, size_t n) {
    for (size_t i = 0; i < n; i++) {
        kp_free(kv[i].key);
        kp_free(kv[i].value);
    }
    kp_free(kv);
}

json_t *kpRunc_kvJson(const kpRuncKV *kv, size_t n) {
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        if (json_object_set_new(o, kv[i].key, json_string(kv[i].value)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

bool kpRunc_specIsWasm(const kpRuncSpec *spec) {
    size_t n = strlen(spec->args[0]);
    if (n > 5 && strcmp(spec->args[0] + n - 5, ".wasm") == 0) return true;
    for (size_t i = 0; i < spec->nannotations; i++)
        if (strcmp(spec->annotations[i].key, KP_RUNC_COMPAT_KEY) == 0 &&
            strcmp(spec->annotations[i].value, "compat") == 0)
            return true;
    return false;
}
