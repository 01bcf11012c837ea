/*
 * template.c -- `kapsul new` (app/template.h): name checks, placeholder substitution, and writing
 * a template's files into a new directory through os.h, undoing everything on failure.
 */
#include <stdio.h>

#include "app/template.h"
#include "app/toml.h"
#include "os/os.h"

const kpTemplate *kpTemplate_find(const char *id) {
    for (size_t i = 0; i < kpTemplate_count; i++)
        if (strcmp(kpTemplate_all[i].id, id) == 0) return &kpTemplate_all[i];
    return NULL;
}

kapsul_status kpTemplate_describe(const kpTemplate *t, char *buf, size_t cap, kapsul_error *err) {
    kpTomlValue *root = NULL;
    kapsul_status st = kpToml_parse(t->metadata, t->metadata_len, &root, err);
    if (st) return st;
    const kpTomlValue *d = kpToml_get(root, "description");
    snprintf(buf, cap, "%s", d && d->kind == KP_TOML_STRING ? d->u.str.s : "");
    kpToml_free(root);
    return KAPSUL_OK;
}

#define KP_STRINGIFY(x) KP_STRINGIFY_(x)
#define KP_STRINGIFY_(x) #x

static bool is_letter(char c) { return c >= 'a' && c <= 'z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Spin's component ids (app/manifest.c: check_id) are words each starting with a letter, so a
 * name that would make the generated spin.toml invalid is refused here, before anything is written. */
const char *kpTemplate_checkName(const char *name) {
    size_t n = strlen(name);
    if (n == 0) return "is empty";
    if (n > KP_TEMPLATE_MAX_NAME) return "is longer than " KP_STRINGIFY(KP_TEMPLATE_MAX_NAME) " bytes";
    for (size_t i = 0; i < n; i++)
        if (!is_letter(name[i]) && !is_digit(name[i]) && name[i] != '-' && name[i] != '_')
            return "may only contain a-z, 0-9, '-' and '_'";
    if (!is_letter(name[0])) return "must start with a letter";
    for (size_t i = 0; i < n; i++)
        if ((name[i] == '-' || name[i] == '_') && !is_letter(name[i + 1]))
            return "must have a letter after each '-' and '_'";
    return NULL;
}

/* ---- Placeholders ------------------------------------------------------------------------------ */

/* [s, e) without leading and trailing spaces. */
static void trim(const char **s, const char **e) {
    while (*s < *e && **s == ' ') (*s)++;
    while (*e > *s && (*e)[-1] == ' ') (*e)--;
}

static bool span_is(const char *s, const char *e, const char *word) {
    return (size_t)(e - s) == strlen(word) && memcmp(s, word, (size_t)(e - s)) == 0;
}

/* Append the value of the placeholder whose inside (between the braces) is [s, e). */
static kapsul_status expand(const char *s, const char *e, const char *name, const kpTemplateFile *f,
                            kpBuf *out, kapsul_error *err) {
    const char *bar = memchr(s, '|', (size_t)(e - s));
    const char *vs = s, *ve = bar ? bar : e, *fs = bar ? bar + 1 : e, *fe = e;
    trim(&vs, &ve);
    trim(&fs, &fe);
    char from = 0, to = 0; /* the one character a filter replaces */
    if (!span_is(vs, ve, "project-name")) goto fail;
    if (bar && span_is(fs, fe, "kebab_case")) from = '_', to = '-';
    else if (bar && span_is(fs, fe, "snake_case")) from = '-', to = '_';
    else if (bar) goto fail;
    size_t at = out->len, n = strlen(name);
    if (kpBuf_push(out, name, n)) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    for (size_t i = at; i < at + n; i++)
        if (from && out->data[i] == (uint8_t)from) out->data[i] = (uint8_t)to;
    return KAPSUL_OK;
fail:
    return kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "template file %s: unknown placeholder {{%.*s}}",
                       f->path, (int)(e - s > 60 ? 60 : e - s), s);
}

/* f's bytes with every placeholder replaced, into out (which the caller frees). */
static kapsul_status render(const kpTemplateFile *f, const char *name, kpBuf *out, kapsul_error *err) {
    const char *p = (const char *)f->data, *end = p + f->len;
    while (p < end) {
        const char *open = memmem(p, (size_t)(end - p), "{{", 2);
        const char *close = open ? memmem(open + 2, (size_t)(end - open - 2), "}}", 2) : NULL;
        if (!close) {
            if (kpBuf_push(out, p, (size_t)(end - p)))
                return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
            break;
        }
        if (kpBuf_push(out, p, (size_t)(open - p)))
            return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        kapsul_status st = expand(open + 2, close, name, f, out, err);
        if (st) return st;
        p = close + 2;
    }
    return KAPSUL_OK;
}

/* ---- Writing ----------------------------------------------------------------------------------- */

/* What kpTemplate_write made, so that a failure can take it all back. */
typedef struct made {
    kpOs_fd dir; /* the directory it was made in (a handle in writer.fds, or the parent's) */
    char *name;
    bool is_dir;
} made;

typedef struct writer {
    KP_VEC(made) made;   /* in creation order; removed in reverse on failure */
    KP_VEC(kpOs_fd) fds; /* directory handles, closed at the end */
    const char *root;    /* the new directory as the user named it, for messages */
    kapsul_error *err;
} writer;

static kapsul_status nomem(writer *w) { return kpError_set(w->err, KAPSUL_ERR_NOMEM, 0, "out of memory"); }

static kapsul_status io_fail(writer *w, const char *rel, kpOs_err oe) {
    return kpError_set(w->err, KAPSUL_ERR_IO, 0, "%.120s%s%.80s: %s", w->root, rel ? "/" : "", rel ? rel : "",
                       kpOs_strerror(oe));
}

/* Room in w->made and a copy of the name, taken before the entry is made: once made, remembering
 * it must not be able to fail, or a failure could leave it behind. */
static char *prepare(writer *w, const char *name, size_t len) {
    if (kpVec_grow(&w->made)) return NULL;
    return kp_strndup(name, len);
}

static void remember(writer *w, kpOs_fd dir, char *name, bool is_dir) {
    w->made.v[w->made.n++] = (made){ dir, name, is_dir };
}

/* Open directory name in dir (making it first unless it exists), as a handle kept in w->fds. Only
 * directories inside the new project get here, and everything inside it is ours, so an existing
 * one was made earlier in this same run. */
static kapsul_status open_subdir(writer *w, kpOs_fd dir, const char *name, size_t len, const char *rel,
                                 kpOs_fd *out) {
    char *comp = prepare(w, name, len);
    if (!comp || kpVec_grow(&w->fds)) {
        kp_free(comp);
        return nomem(w);
    }
    kpOs_err oe = kpOs_mkdirAt(dir, comp);
    bool made = oe == KP_OS_OK;
    if (made) remember(w, dir, comp, true);
    if (made || oe == KP_OS_EEXIST) oe = kpOs_openAt(dir, comp, KP_OS_O_DIRECTORY | KP_OS_O_NOFOLLOW, out);
    if (!made) kp_free(comp);
    if (oe) return io_fail(w, rel, oe);
    w->fds.v[w->fds.n++] = *out;
    return KAPSUL_OK;
}

/* Create the file rel (its directories first) beneath root and write data to it. */
static kapsul_status write_file(writer *w, kpOs_fd root, const char *rel, const kpBuf *data) {
    kpOs_fd dir = root, fd;
    const char *p = rel, *slash;
    kapsul_status st;
    while ((slash = strchr(p, '/'))) {
        if ((st = open_subdir(w, dir, p, (size_t)(slash - p), rel, &dir))) return st;
        p = slash + 1;
    }
    char *copy = prepare(w, p, strlen(p));
    if (!copy) return nomem(w);
    kpOs_err oe = kpOs_openAt(dir, p, KP_OS_O_WRITE | KP_OS_O_CREAT | KP_OS_O_EXCL | KP_OS_O_NOFOLLOW, &fd);
    if (oe) {
        kp_free(copy);
        return io_fail(w, rel, oe);
    }
    remember(w, dir, copy, false);
    for (size_t off = 0; off < data->len && !oe;) {
        kpOs_iov iov = { data->data + off, data->len - off };
        size_t done = 0;
        oe = kpOs_write(fd, &iov, 1, &done);
        if (!oe && done == 0) oe = KP_OS_EIO; /* no progress: never loop forever */
        off += done;
    }
    kpOs_close(fd);
    return oe ? io_fail(w, rel, oe) : KAPSUL_OK;
}

/* Split dir into its parent (opened) and its last component (into last). */
static kapsul_status open_parent(writer *w, const char *dir, char *last, kpOs_fd *out) {
    char path[KP_OS_PATH_MAX];
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--; /* "hello/" is "hello" */
    if (n == 0) return kpError_set(w->err, KAPSUL_ERR_ARG, 0, "the output directory is empty");
    if (n >= sizeof path) return io_fail(w, NULL, KP_OS_ENAMETOOLONG);
    memcpy(path, dir, n);
    path[n] = 0;
    char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (strlen(base) > KP_OS_NAME_MAX) return io_fail(w, NULL, KP_OS_ENAMETOOLONG);
    strcpy(last, base);
    if (!slash) strcpy(path, ".");
    else if (slash == path) path[1] = 0; /* "/hello": the parent is "/" */
    else *slash = 0;
    kpOs_err oe = kpOs_openDir(path, out);
    if (oe) return kpError_set(w->err, KAPSUL_ERR_IO, 0, "%.200s: %s", path, kpOs_strerror(oe));
    return KAPSUL_OK;
}

/* Every file is rendered before anything is written, so that a template with a bad placeholder
 * leaves no trace; the directory itself comes from one mkdir, the test for "already exists" that
 * cannot race with another process making it too. */
kapsul_status kpTemplate_write(const kpTemplate *t, const char *name, const char *dir, kapsul_error *err) {
    kpError_clear(err);
    writer w = { .root = dir, .err = err };
    KP_VEC(kpBuf) texts = { 0 };
    kpOs_fd parent = KP_OS_NO_FD, root = KP_OS_NO_FD;
    char last[KP_OS_NAME_MAX + 1];
    kapsul_status st;
    const char *why = kpTemplate_checkName(name);
    if (why) return kpError_set(err, KAPSUL_ERR_ARG, 0, "name '%.80s' %s", name, why);
    for (size_t i = 0; i < t->nfiles; i++) {
        if (kpVec_grow(&texts)) {
            st = nomem(&w);
            goto fail;
        }
        texts.v[texts.n++] = (kpBuf){ 0 };
        if ((st = render(&t->files[i], name, &texts.v[i], err))) goto fail;
    }
    if ((st = open_parent(&w, dir, last, &parent))) goto fail;
    char *copy = prepare(&w, last, strlen(last));
    if (!copy) {
        st = nomem(&w);
        goto fail;
    }
    kpOs_err oe = kpOs_mkdirAt(parent, last);
    if (oe) kp_free(copy);
    if (oe == KP_OS_EEXIST) {
        st = kpError_set(err, KAPSUL_ERR_IO, 0, "%.200s already exists", dir);
        goto fail;
    }
    if (oe) {
        st = io_fail(&w, NULL, oe);
        goto fail;
    }
    remember(&w, parent, copy, true);
    if ((oe = kpOs_openAt(parent, last, KP_OS_O_DIRECTORY | KP_OS_O_NOFOLLOW, &root))) {
        st = io_fail(&w, NULL, oe);
        goto fail;
    }
    for (size_t i = 0; i < t->nfiles; i++)
        if ((st = write_file(&w, root, t->files[i].path, &texts.v[i]))) goto fail;
fail:
    for (size_t i = w.made.n; i-- > 0;) {
        if (st) kpOs_unlinkAt(w.made.v[i].dir, w.made.v[i].name, w.made.v[i].is_dir);
        kp_free(w.made.v[i].name);
    }
    kpVec_free(&w.made);
    for (size_t i = 0; i < w.fds.n; i++) kpOs_close(w.fds.v[i]);
    kpVec_free(&w.fds);
    if (root != KP_OS_NO_FD) kpOs_close(root);
    if (parent != KP_OS_NO_FD) kpOs_close(parent);
    for (size_t i = 0; i < texts.n; i++) kpBuf_free(&texts.v[i]);
    kpVec_free(&texts);
    return st;
}
