/*
 * build.h -- `spin build` for a manifest read by app/manifest.h: each component's
 * [component.ID.build] commands, run one by one with /bin/sh in the component's workdir, then a
 * check that the component's `source` now exists.
 *
 * Contract:
 *   - Components build in manifest order; a component's commands run in the order written. The
 *     first failure stops everything: nothing after it runs.
 *   - Commands come from the user's own manifest and run with the user's rights and environment,
 *     standard streams shared with kapsul (their output streams through as it comes), as a
 *     Makefile's would. Nothing here is for manifests from strangers.
 *   - Errors, each with a complete message naming the component (err->message):
 *       KAPSUL_ERR_EXIT       a command failed: err->exit_code is its exit status, or 128 + N when
 *                             signal N killed it (the shell's convention)
 *       KAPSUL_ERR_NOT_FOUND  a component's source does not exist after its build (or, without a
 *                             build, at all)
 *       KAPSUL_ERR_IO         the workdir is not a directory, or the shell could not start
 *       KAPSUL_ERR_ARG        an id in `only` names no component
 */
#ifndef KP_APP_BUILD_H
#define KP_APP_BUILD_H

#include "app/manifest.h"
#include "base/base.h"

typedef struct kpBuildOptions {
    /* Build only these component ids (each must exist); all components when nonly is 0. */
    const char *const *only;
    size_t nonly;
    /* Progress, for the caller to print; each may be NULL. on_command is called before each
     * command starts (workdir is NULL for the manifest's directory); on_skip for a component
     * without a build section. */
    void (*on_command)(void *ctx, const kpManifestComponent *comp, const char *command, const char *workdir);
    void (*on_skip)(void *ctx, const kpManifestComponent *comp);
    void *ctx;
} kpBuildOptions;

kapsul_status kpBuild_run(const kpManifest *m, const kpBuildOptions *opt, kapsul_error *err);

#endif /* KP_APP_BUILD_H */
