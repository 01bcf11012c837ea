/*
 * runc_state.c -- what kapsul-runc keeps between commands (ROOT/ID/kapsul.json), the status
 * derived from it, and the error log in runc's formats.
 *
 * The status is never stored: like runc, it is read off the world each time. The process gone
 * (or a zombie, or its pid recycled by a process with another start tick) = stopped; alive with
 * the exec fifo still present = created (it waits for start); alive without = running.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "oci/runc.h"
#include "os/os.h"

void kpRunc_now(char *buf, size_t cap) {
    uint64_t ns = 0;
    kpOs_clockNow(KP_OS_CLOCK_REALTIME, &ns);
    time_t secs = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%09uZ", day, (unsigned)(ns % 1000000000u));
}

/* One log line. JSON: {"level":..,"msg":..,"time":..} as runc writes it (the shim reads the last
 * "error" line of log.json into the error it returns); text: logrus's key=value form. */
static void log_line(const kpRunc *rc, const char *level, const char *fmt, va_list ap) {
    char msg[2048], when[48];
    vsnprintf(msg, sizeof msg, fmt, ap);
    kpRunc_now(when, sizeof when);
    char *line = NULL;
    if (rc->log_json) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", when);
        line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
    } else {
        json_t *q = json_string(msg); /* a quoted, escaped msg="..." */
        char *quoted = q ? json_dumps(q, JSON_ENCODE_ANY) : NULL;
        json_decref(q);
        size_t n = quoted ? strlen(quoted) + strlen(when) + 64 : 0;
        if (quoted && (line = kp_malloc(n)))
            snprintf(line, n, "time=\"%s\" level=%s msg=%s", when, level, quoted);
        free(quoted);
    }
    kpOs_fd fd = 2;
    bool own = false;
    if (rc->log[0] &&
        kpOs_openAt(KP_OS_NO_FD, rc->log, KP_OS_O_WRITE | KP_OS_O_CREAT | KP_OS_O_APPEND, &fd) == KP_OS_OK)
        own = true;
    const char *text = line ? line : msg;
    kpOs_iov iov[2] = { { (void *)text, strlen(text) }, { (void *)"\n", 1 } };
    size_t done;
    kpOs_write(fd, iov, 2, &done);
    if (own) kpOs_close(fd);
    if (rc->log_json) free(line); /* jansson's allocation */
    else kp_free(line);
}

int kpRunc_error(const kpRunc *rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_line(rc, "error", fmt, ap);
    va_end(ap);
    return 1;
}

void kpRunc_warn(const kpRunc *rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_line(rc, "warning", fmt, ap);
    va_end(ap);
}

/* runc's rule (^[\w+-\.]+$), which also keeps an ID from naming a path outside ROOT. */
bool kpRunc_idValid(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > KP_RUNC_MAX_ID || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '+' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

bool kpRunc_path(const kpRunc *rc, const char *id, const char *name, char *buf, size_t cap) {
    int n =
        name ? snprintf(buf, cap, "%s/%s/%s", rc->root, id, name) : snprintf(buf, cap, "%s/%s", rc->root, id);
    return n > 0 && (size_t)n < cap;
}

bool kpRunc_owns(const kpRunc *rc, const char *id) {
    char path[KP_OS_PATH_MAX];
    kpOs_stat st;
    return kpRunc_idValid(id) && kpRunc_path(rc, id, "kapsul.json", path, sizeof path) &&
           kpOs_statPath(path, &st) == KP_OS_OK;
}

int kpRunc_stateSave(const kpRunc *rc, const kpRuncState *st) {
    char path[KP_OS_PATH_MAX];
    json_t *ann = kpRunc_kvJson(st->annotations, st->nannotations);
    json_t *o = ann ? json_pack("{s:s, s:i, s:I, s:s, s:s, s:s, s:o}", "id", st->id, "pid", st->pid, "start",
                                (json_int_t)st->start, "bundle", st->bundle, "rootfs", st->rootfs, "created",
                                st->created, "annotations", ann)
                    : NULL;
    if (o && st->cgroup) json_object_set_new(o, "cgroup", json_string(st->cgroup));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) return kpRunc_error(rc, "out of memory writing the state of %s", st->id);
    kpOs_err e = KP_OS_ENAMETOOLONG;
    if (kpRunc_path(rc, st->id, "kapsul.json", path, sizeof path))
        e = kpOs_writePathAtomic(path, text, strlen(text));
    free(text);
    if (e != KP_OS_OK) return kpRunc_error(rc, "writing %s: %s", path, kpOs_strerror(e));
    return 0;
}

static char *take(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? kp_strndup(s, strlen(s)) : NULL;
}

int kpRunc_stateParse(const char *text, size_t len, kpRuncState *out, char *msg, size_t cap) {
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        snprintf(msg, cap, "line %d: %s", jerr.line, jerr.text);
        return -1;
    }
    json_t *pid = json_object_get(o, "pid"), *start = json_object_get(o, "start");
    json_t *ann = json_object_get(o, "annotations");
    out->id = take(o, "id");
    out->bundle = take(o, "bundle");
    out->rootfs = take(o, "rootfs");
    out->created = take(o, "created");
    json_t *cg = json_object_get(o, "cgroup");
    out->cgroup = take(o, "cgroup");
    bool ok = out->id && out->bundle && out->rootfs && out->created && json_is_integer(pid) &&
              json_is_integer(start) && json_integer_value(pid) > 0 && json_integer_value(pid) <= INT32_MAX &&
              json_integer_value(start) >= 0 && json_is_object(ann) && (!cg || out->cgroup);
    if (ok) {
        out->pid = (int)json_integer_value(pid);
        out->start = (uint64_t)json_integer_value(start);
        size_t n = json_object_size(ann);
        if (n && !(out->annotations = kp_calloc(n, sizeof *out->annotations))) ok = false;
        const char *key;
        json_t *v;
        json_object_foreach(ann, key, v) {
            if (!ok) break;
            kpRuncKV *kv = &out->annotations[out->nannotations];
            kv->key = kp_strndup(key, strlen(key));
            kv->value = take(ann, key);
            if (kv->key) out->nannotations++;
            if (!kv->key || !kv->value) ok = false;
        }
    }
    json_decref(o);
    if (!ok) {
        snprintf(msg, cap, "a field is missing or has the wrong type");
        kpRunc_stateFree(out);
        return -1;
    }
    return 0;
}

int kpRunc_stateLoad(const kpRunc *rc, const char *id, kpRuncState *out) {
    char path[KP_OS_PATH_MAX], msg[256];
    void *text = NULL;
    size_t len;
    memset(out, 0, sizeof *out);
    if (!kpRunc_path(rc, id, "kapsul.json", path, sizeof path))
        return kpRunc_error(rc, "state path too long");
    kpOs_err e = kpOs_readPath(path, KP_RUNC_MAX_STATE, &text, &len);
    if (e == KP_OS_ENOENT) return kpRunc_error(rc, "container does not exist");
    if (e != KP_OS_OK) return kpRunc_error(rc, "reading %s: %s", path, kpOs_strerror(e));
    int r = kpRunc_stateParse(text, len, out, msg, sizeof msg);
    free(text);
    if (r != 0) return kpRunc_error(rc, "%s: %s", path, msg);
    uint64_t start;
    bool alive;
    if (kpOs_procStart(out->pid, &start, &alive) != KP_OS_OK || !alive || start != out->start) {
        out->status = KP_RUNC_STOPPED;
    } else {
        kpOs_stat fst;
        out->status =
            kpRunc_path(rc, id, "exec.fifo", path, sizeof path) && kpOs_statPath(path, &fst) == KP_OS_OK
                ? KP_RUNC_CREATED
                : KP_RUNC_RUNNING;
    }
    return 0;
}

void kpRunc_stateFree(kpRuncState *st) {
    kp_free(st->id);
    kp_free(st->bundle);
    kp_free(st->rootfs);
    kp_free(st->created);
    kp_free(st->cgroup);
    kpRunc_kvFree(st->annotations, st->nannotations);
    memset(st, 0, sizeof *st);
}

void kpRunc_stateRemove(const kpRunc *rc, const char *id) {
    char path[KP_OS_PATH_MAX];
    if (kpRunc_idValid(id) && kpRunc_path(rc, id, NULL, path, sizeof path)) kpOs_removeTree(path);
}
