/*
 * build.c -- `kapsul build` (app/build.h): each component's build commands through
 * kpOs_runShell in its workdir, then a check that its source exists.
 */
#include <stdio.h>

#include "app/build.h"
#include "os/os.h"

/* A command for a message, cut so that the rest of the message still fits in kapsul_error's 256
 * bytes (the full command was shown when it started, through on_command). */
static const char *shown_command(const char *s, char *buf, size_t cap) {
    size_t n = strlen(s);
    if (n < cap) return s;
    memcpy(buf, s, cap - 4);
    memcpy(buf + cap - 4, "...", 4);
    return buf;
}

static bool selected(const kpManifestComponent *c, const kpBuildOptions *opt) {
    if (opt->nonly == 0) return true;
    for (size_t i = 0; i < opt->nonly; i++)
        if (strcmp(opt->only[i], c->id) == 0) return true;
    return false;
}

/* Run one component's commands in its workdir; the first one that fails stops the build. The
 * workdir is checked first, so that a missing one gets its own message instead of the shell's
 * start failing with a bare "No such file or directory". */
static kapsul_status run_commands(const kpManifest *m, const kpManifestComponent *c,
                                  const kpBuildOptions *opt, kapsul_error *err) {
    kapsul_status st = KAPSUL_OK;
    char *workdir = NULL, b[120];
    const char *dir = m->dir;
    if (c->build_workdir) {
        if (!(workdir = kp_pathJoin(m->dir, c->build_workdir)))
            return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        dir = workdir;
        kpOs_stat sb;
        kpOs_err oe = kpOs_statPath(dir, &sb);
        if (oe == KP_OS_OK && sb.type != KP_OS_FT_DIR) oe = KP_OS_ENOTDIR;
        if (oe) {
            st = kpError_set(err, KAPSUL_ERR_IO, 0, "component '%s': build workdir %s: %s", c->id, workdir,
                             kpOs_strerror(oe));
            goto fail;
        }
    }
    for (size_t i = 0; i < c->build_commands.n; i++) {
        const char *cmd = c->build_commands.v[i];
        if (opt->on_command) opt->on_command(opt->ctx, c, cmd, c->build_workdir);
        kpOs_exit ex;
        kpOs_err oe = kpOs_runShell(cmd, dir, &ex);
        if (oe) {
            st = kpError_set(err, KAPSUL_ERR_IO, 0, "component '%s': cannot start /bin/sh for `%s`: %s",
                             c->id, shown_command(cmd, b, sizeof b), kpOs_strerror(oe));
            goto fail;
        }
        if (ex.signal == 0 && ex.code == 0) continue;
        if (ex.signal)
            st = kpError_set(err, KAPSUL_ERR_EXIT, 0, "component '%s': `%s` was killed by signal %d", c->id,
                             shown_command(cmd, b, sizeof b), ex.signal);
        else
            st = kpError_set(err, KAPSUL_ERR_EXIT, 0, "component '%s': `%s` failed with exit status %d",
                             c->id, shown_command(cmd, b, sizeof b), ex.code);
        if (err) err->exit_code = ex.signal ? 128 + ex.signal : ex.code;
        goto fail;
    }
fail:
    kp_free(workdir);
    return st;
}

/* The source must be a file now. It is checked per component, right after its build, so that a
 * command that "succeeds" without writing its output (a wrong -o, a typo in source) is named at
 * once rather than when `kapsul up` cannot load it. */
static kapsul_status check_source(const kpManifestComponent *c, kapsul_error *err) {
    kpOs_stat sb;
    kpOs_err oe = kpOs_statPath(c->source_path, &sb);
    if (oe == KP_OS_OK && sb.type == KP_OS_FT_FILE) return KAPSUL_OK;
    if (oe == KP_OS_OK)
        return kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "component '%s': source %s is not a file", c->id,
                           c->source);
    if (c->has_build && oe == KP_OS_ENOENT)
        return kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0,
                           "component '%s': build succeeded but %s was not produced", c->id, c->source);
    if (oe == KP_OS_ENOENT)
        return kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0,
                           "component '%s': source %s does not exist, and the component has no build command",
                           c->id, c->source);
    return kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "component '%s': source %s: %s", c->id, c->source,
                       kpOs_strerror(oe));
}

kapsul_status kpBuild_run(const kpManifest *m, const kpBuildOptions *opt, kapsul_error *err) {
    kpError_clear(err);
    /* Every requested id first: a typo should not cost a full build of the components before it. */
    for (size_t i = 0; i < opt->nonly; i++) {
        size_t j = 0;
        while (j < m->components.n && strcmp(m->components.v[j].id, opt->only[i]) != 0) j++;
        if (j == m->components.n)
            return kpError_set(err, KAPSUL_ERR_ARG, 0, "the manifest has no component '%s'", opt->only[i]);
    }
    for (size_t i = 0; i < m->components.n; i++) {
        const kpManifestComponent *c = &m->components.v[i];
        if (!selected(c, opt)) continue;
        kapsul_status st;
        if (c->has_build) {
            if ((st = run_commands(m, c, opt, err))) return st;
        } else if (opt->on_skip) {
            opt->on_skip(opt->ctx, c);
        }
        if ((st = check_source(c, err))) return st;
    }
    return KAPSUL_OK;
}
