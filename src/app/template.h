/*
 * template.h -- application templates for `kapsul new`: directories of files compiled into kapsul
 * (templates/ID/ in the source tree, turned into C arrays by templates/embed.cmake at build time)
 * and written out as a new project with its name filled in.
 *
 * A template is laid out as Spin's are, so the same directory also works with `spin templates
 * install --dir`: templates/ID/metadata/spin-template.toml (id, description) and
 * templates/ID/content/, the files of the new project. Files use a subset of Spin's placeholders
 * (Liquid syntax); spaces inside the braces are optional:
 *   {{project-name}}               the name as given
 *   {{project-name | kebab_case}}  the name with '_' as '-' (a Spin component id)
 *   {{project-name | snake_case}}  the name with '-' as '_'
 * Anything else between "{{" and "}}" is an error (KAPSUL_ERR_MALFORMED), never copied silently;
 * the test of every template (tests/app/test_templates.py) makes sure none has one.
 */
#ifndef KP_APP_TEMPLATE_H
#define KP_APP_TEMPLATE_H

#include "base/base.h"

typedef struct kpTemplateFile {
    const char *path;          /* relative to content/, '/'-separated, no "." or ".." */
    const unsigned char *data; /* len bytes, then a NUL */
    size_t len;
} kpTemplateFile;

typedef struct kpTemplate {
    const char *id;       /* its directory's name under templates/ */
    const char *metadata; /* the text of metadata/spin-template.toml */
    size_t metadata_len;
    const kpTemplateFile *files; /* sorted by path */
    size_t nfiles;
} kpTemplate;

/* Every template, sorted by id: generated at build time (<build>/generated/templates.c). */
extern const kpTemplate kpTemplate_all[];
extern const size_t kpTemplate_count;

/* The template with this id, or NULL. */
const kpTemplate *kpTemplate_find(const char *id);

/* The template's one-line description (metadata's `description`) in buf, cut to cap bytes; ""
 * when the metadata has none. KAPSUL_ERR_MALFORMED if the metadata does not parse. */
kapsul_status kpTemplate_describe(const kpTemplate *t, char *buf, size_t cap, kapsul_error *err);

/* NULL if name can be a project name, else why not (a static string, to follow "name 'X' ").
 * A project name becomes a directory, an application name and, with '_' as '-', a Spin
 * component id, so it is words of a-z and 0-9, each starting with a letter, joined by single '-'
 * or '_', at most KP_TEMPLATE_MAX_NAME bytes (src/config.h). */
const char *kpTemplate_checkName(const char *name);

/* Create the directory dir (its parent must exist; dir must not) and write t's files into it with
 * name substituted. Nothing that exists is ever overwritten: dir is made by one mkdir, which fails
 * if anything has that name, and every file inside it is created exclusively. On failure whatever
 * was created is removed again. Errors:
 *   KAPSUL_ERR_ARG        name is not a project name (the reason of kpTemplate_checkName)
 *   KAPSUL_ERR_IO         dir exists, or creating or writing something failed ("PATH: reason")
 *   KAPSUL_ERR_MALFORMED  a file has a placeholder this reader does not know */
kapsul_status kpTemplate_write(const kpTemplate *t, const char *name, const char *dir, kapsul_error *err);

#endif /* KP_APP_TEMPLATE_H */
