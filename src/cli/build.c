/*
 * build.c -- `kapsul build`: run the build commands of an application's spin.toml
 * (app/build.h), in the manner of `spin build`. Progress goes to stderr, between the commands'
 * own output, which streams through unchanged.
 */
#include <stdio.h>
#include <string.h>

#include "app/build.h"
#include "cli/cli.h"
#include "os/os.h"

static void build_usage(FILE *f) {
    fprintf(f,
            "Run the build commands of an application\n"
            "\n"
            "Usage: kapsul build [OPTIONS]\n"
            "\n"
            "Reads the manifest, then runs each component's [component.ID.build] command (or\n"
            "commands, in order) with /bin/sh in the component's workdir, by default the manifest's\n"
            "directory. The first command that fails stops the build, with the component's name and\n"
            "the command's exit status (exit 1). Afterwards each component's source must exist.\n"
            "\n"
            "Options:\n"
            "  -f, --from FILE|DIR      The manifest, or a directory with a spin.toml [default: spin.toml]\n"
            "  -c, --component-id ID    Build only this component (may be repeated)\n"
            "  -h, --help               Print help\n");
}

static void on_command(void *ctx, const kpManifestComponent *c, const char *command, const char *workdir) {
    (void)ctx;
    if (workdir) fprintf(stderr, "Building component %s (in %s) with `%s`\n", c->id, workdir, command);
    else fprintf(stderr, "Building component %s with `%s`\n", c->id, command);
}

static void on_skip(void *ctx, const kpManifestComponent *c) {
    (void)ctx;
    fprintf(stderr, "No build command for component %s\n", c->id);
}

/* The manifest's path: --from as given, or its spin.toml when it names a directory. Returns
 * NULL when out of memory; *owned receives what the caller frees. */
static const char *manifest_path(const char *from, char **owned) {
    *owned = NULL;
    kpOs_stat sb;
    if (kpOs_statPath(from, &sb) != KP_OS_OK || sb.type != KP_OS_FT_DIR) return from;
    size_t n = strlen(from);
    while (n > 1 && from[n - 1] == '/') n--;
    if (!(*owned = kp_malloc(n + sizeof "/spin.toml"))) return NULL;
    memcpy(*owned, from, n);
    memcpy(*owned + n, "/spin.toml", sizeof "/spin.toml");
    return *owned;
}

int kpCli_build(int argc, char **argv) {
    static const char default_from[] = "spin.toml";
    const char *from = default_from, *id;
    KP_VEC(const char *) only = { 0 };
    int status = KP_EXIT_USAGE, got;
    char *owned = NULL;
    kpManifest m;
    bool loaded = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (kpCli_isHelp(a)) {
            build_usage(stdout);
            status = KP_EXIT_OK;
            goto fail;
        } else if ((got = kpCli_optionValue(argc, argv, &i, "-f", "--from", &from)) != 0) {
            if (got < 0) {
                kpCli_usageError("build", "%s needs a manifest file or directory", a);
                goto fail;
            }
        } else if ((got = kpCli_optionValue(argc, argv, &i, "-c", "--component-id", &id)) != 0) {
            if (got < 0) {
                kpCli_usageError("build", "%s needs a component id", a);
                goto fail;
            }
            if (kpVec_grow(&only)) {
                fprintf(stderr, "kapsul build: out of memory\n");
                goto fail;
            }
            only.v[only.n++] = id;
        } else {
            kpCli_usageError("build", a[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", a);
            goto fail;
        }
    }
    const char *path = manifest_path(from, &owned);
    if (!path) {
        fprintf(stderr, "kapsul build: out of memory\n");
        goto fail;
    }
    kapsul_error err;
    kapsul_status st = kpManifest_load(path, &m, &err);
    loaded = true; /* kpManifest_load leaves m freeable even when it fails */
    if (st == KAPSUL_ERR_IO) {
        fprintf(stderr, "kapsul build: %s\n", err.message);
        if (from == default_from)
            fprintf(stderr, "Run it in an application's directory, or name the manifest with -f.\n");
        status = KP_EXIT_USAGE;
        goto fail;
    }
    if (st) {
        kpCli_printError(stderr, path, &err);
        status = kpCli_exitFor(st);
        goto fail;
    }
    kpBuildOptions opt = { .only = only.v, .nonly = only.n, .on_command = on_command, .on_skip = on_skip };
    if ((st = kpBuild_run(&m, &opt, &err))) {
        fprintf(stderr, "kapsul build: %s\n", err.message);
        status = st == KAPSUL_ERR_ARG ? KP_EXIT_USAGE : KP_EXIT_FAIL;
        goto fail;
    }
    fprintf(stderr,
            only.n ? "Finished building the requested components\n" : "Finished building all components\n");
    status = KP_EXIT_OK;
fail:
    if (loaded) kpManifest_free(&m);
    kpVec_free(&only);
    kp_free(owned);
    return status;
}
