/*
 * manifest.h -- a Spin v2 application manifest (spin.toml) read into plain C structs: the
 * application, its HTTP triggers (route -> component, executor) and its components (module,
 * environment, files, outbound hosts, build). https://spinframework.dev/v2/manifest-reference
 *
 * Contract:
 *   - Everything Spin v2 defines that kapsul does not do is an error naming the field and its
 *     position, never silence; unknown fields are errors too (Spin's deny_unknown_fields).
 *     `tool` tables, which Spin itself defines as ignored, are ignored.
 *   - Errors are KAPSUL_ERR_MALFORMED with err->line/err->column (1-based) and a message without
 *     position; a caller prints "FILE:LINE:COLUMN: message". Reading the file fails with
 *     KAPSUL_ERR_IO (line 0). Out of memory is KAPSUL_ERR_NOMEM.
 *   - `files` are resolved when the manifest is read: globs (glob(3), relative to the manifest's
 *     directory) become one mount per regular file; { source, destination } becomes one directory
 *     mount. Nothing may name a path outside the application directory (absolute paths, `..`,
 *     or symlinks resolving outside are errors).
 *   - Routes are checked and normalised as Spin does (app/manifest.c: normalize_route); two
 *     triggers with the same normalised route are an error.
 */
#ifndef KP_APP_MANIFEST_H
#define KP_APP_MANIFEST_H

#include "base/base.h"

typedef KP_VEC(char *) kpStrVec;

typedef struct kpManifestEnv {
    char *name, *value;
} kpManifestEnv;

typedef enum kpMountKind {
    KP_MOUNT_FILE, /* one file from a glob: host file -> guest file */
    KP_MOUNT_DIR   /* { source, destination }: host directory -> guest directory */
} kpMountKind;

typedef struct kpManifestMount {
    kpMountKind kind;
    char *host;  /* manifest directory + "/" + relative path */
    char *guest; /* absolute guest path */
} kpManifestMount;

typedef struct kpManifestComponent {
    char *id;          /* [component.ID], a Spin kebab-case id */
    int line, column;  /* of the [component.ID] table */
    char *source;      /* as written */
    char *source_path; /* resolved against the manifest directory */
    char *description; /* "" if absent */
    KP_VEC(kpManifestEnv) env;
    KP_VEC(kpManifestMount) files;
    kpStrVec exclude_files;
    kpStrVec allowed_outbound_hosts;
    bool has_build;
    kpStrVec build_commands; /* command = "..." or [...] */
    char *build_workdir;     /* NULL if absent */
    kpStrVec build_watch;
} kpManifestComponent;

typedef enum kpExecutor {
    KP_EXECUTOR_SPIN, /* no executor, or type = "spin"/"http": the Spin HTTP component interface */
    KP_EXECUTOR_WAGI  /* type = "wagi": a WASI command speaking CGI (serve/wagi.c) */
} kpExecutor;

typedef struct kpManifestTrigger {
    char *route;            /* as written */
    char *based_route;      /* base + route normalised as Spin does: "/" -> "", "/a/" -> "/a" */
    bool wildcard;          /* based_route ends in "/..." */
    char *component;        /* the component's id */
    size_t component_index; /* into kpManifest.components */
    kpExecutor executor;
    char *argv;       /* WAGI argv template, default "${SCRIPT_NAME} ${ARGS}" */
    char *entrypoint; /* WAGI entry point, default "_start" */
    int line, column; /* of the [[trigger.http]] table */
    int route_line, route_column;
} kpManifestTrigger;

typedef struct kpManifest {
    char *dir;                          /* the directory paths are relative to */
    char *name, *version, *description; /* version/description "" if absent */
    kpStrVec authors;
    char *base; /* [application.trigger.http] base, default "/" */
    KP_VEC(kpManifestTrigger) triggers;
    KP_VEC(kpManifestComponent) components;
} kpManifest;

/* Read and check the manifest file at path; relative paths resolve against its directory. */
kapsul_status kpManifest_load(const char *path, kpManifest *m, kapsul_error *err);
/* The same from text already in memory, with dir as the application directory. */
kapsul_status kpManifest_parse(const char *text, size_t len, const char *dir, kpManifest *m,
                               kapsul_error *err);
void kpManifest_free(kpManifest *m);

/* Check one allowed_outbound_hosts entry as Spin does ("scheme://host[:port]"); NULL if fine,
 * else a static reason. */
const char *kpManifest_checkOutboundHost(const char *s);
/* Whether a request to scheme://authority (host[:port] as a guest gave it, port defaulting to the
 * scheme's) matches one allowed_outbound_hosts entry that kpManifest_checkOutboundHost accepted.
 * "self" and address prefixes match nothing yet. */
bool kpManifest_outboundAllows(const char *pattern, const char *scheme, const char *authority, size_t len);

#endif /* KP_APP_MANIFEST_H */
