/*
 * oci_main.c -- the kapsul-oci program: `kapsul oci push|pull|fetch`, which the static `kapsul`
 * execs (oci.c), as is `kapsul-oci fetch` for `kapsul run REF` and `kapsul up -f REF`. Linked
 * dynamically with the OCI client (src/oci/: libcurl, jansson, libarchive).
 *
 *   kapsul oci push [--plain-http] [--format wasm|compat|spin] [--platform OS/ARCH[,...]] SOURCE REF
 *   kapsul oci pull [--plain-http] [--platform OS/ARCH] REF [-o DIR]
 *   kapsul oci fetch [--plain-http] REF
 *
 * Exit 0 on success, 1 when the registry, layout or image is at fault, 2 for usage errors and
 * unreadable local files.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "app/manifest.h"
#include "cli/cli.h"
#include "oci/oci.h"
#include "os/os.h"

typedef struct opts {
    const char *cmd;
    kpOciOptions oci;
    const char *format, *platform, *out;
    char os[32], arch[32]; /* the first platform: what pull and fetch select */
    char plat_os[8][32], plat_arch[8][32];
    int nplat;
    const char *args[2];
    int nargs;
} opts;

static void usage(FILE *f) {
    fputs(
        "usage: kapsul oci push [--plain-http] [--format wasm|compat|spin] [--platform OS/ARCH[,...]] SOURCE REF\n"
        "       kapsul oci pull [--plain-http] [--platform OS/ARCH] REF [-o DIR]\n"
        "       kapsul oci fetch [--plain-http] REF\n"
        "Push WebAssembly modules and Spin applications to OCI registries and image layouts, and pull\n"
        "them back. REF is [HOST[:PORT]/]REPO[:TAG][@sha256:DIGEST] (Docker Hub without HOST) or\n"
        "oci:DIR[:TAG] (an OCI image layout, as skopeo names one).\n"
        "  push SOURCE REF       SOURCE: a .wasm (or .wat) module, or a spin.toml or its directory;\n"
        "                        prints the manifest digest\n"
        "  pull REF              writes DIR/NAME.wasm for a module, the application into DIR for a\n"
        "                        Spin application; prints the path\n"
        "  fetch REF             pull into the cache ($XDG_CACHE_HOME/kapsul/oci, by manifest digest)\n"
        "                        unless there already; prints the path (what kapsul run/up REF use)\n"
        "  --format FORMAT       wasm: the CNCF wasm artifact (default for a module); compat: a\n"
        "                        container image with the module as its entrypoint (containerd, crun,\n"
        "                        kapsul-runc); spin: a Spin application (default for a manifest)\n"
        "  --platform OS/ARCH[,OS/ARCH...]  the compat image's platform (several: one image each\n"
        "                        under an image index); the entry pull takes from an index\n"
        "                        (default: linux/ this host's architecture)\n"
        "  -o, --output DIR      pull: where to write (default: . for a module, REPO's last part for\n"
        "                        an application; an application's DIR must be absent or empty)\n"
        "  --plain-http          talk HTTP, not HTTPS, to the registry (a loopback test registry)\n"
        "Credentials: auths.<host>.auth of ~/.docker/config.json ($DOCKER_CONFIG), when present.\n",
        f);
}

/* Docker's name for this host's architecture. */
static void host_arch(char out[32]) {
    struct utsname u;
    const char *m = uname(&u) == 0 ? u.machine : "amd64";
    if (strcmp(m, "x86_64") == 0) m = "amd64";
    else if (strcmp(m, "aarch64") == 0) m = "arm64";
    else if (strcmp(m, "i686") == 0 || strcmp(m, "i386") == 0) m = "386";
    snprintf(out, 32, "%.31s", m);
}

/* "OS/ARCH[,OS/ARCH...]" (at most 8) into o->plat_*; the count, or -1 (printed). */
static int parse_platforms(const char *list, opts *o) {
    int n = 0;
    for (const char *p = list;; n++) {
        const char *end = strchr(p, ','), *slash = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        size_t osl = slash && slash < p + len ? (size_t)(slash - p) : 0;
        if (n == 8 || osl == 0 || osl >= 32 || len - osl - 1 == 0 || len - osl - 1 >= 32 ||
            memchr(slash + 1, '/', len - osl - 1)) {
            kpCli_usageError(
                "oci", "--platform: '%s' is not OS/ARCH[,OS/ARCH...] (at most 8; e.g. linux/amd64)", list);
            return -1;
        }
        snprintf(o->plat_os[n], 32, "%.*s", (int)osl, p);
        snprintf(o->plat_arch[n], 32, "%.*s", (int)(len - osl - 1), slash + 1);
        if (!end) return n + 1;
        p = end + 1;
    }
}

static int parse(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    if (argc < 2 || kpCli_isHelp(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? KP_EXIT_USAGE : -1;
    }
    o->cmd = argv[1];
    if (strcmp(o->cmd, "push") != 0 && strcmp(o->cmd, "pull") != 0 && strcmp(o->cmd, "fetch") != 0)
        return kpCli_usageError("oci", "unknown subcommand '%s' (push, pull or fetch)", o->cmd);
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (kpCli_isHelp(argv[i])) {
            usage(stdout);
            return -1;
        }
        if (strcmp(argv[i], "--plain-http") == 0) {
            o->oci.plain_http = true;
        } else if ((r = kpCli_optionValue(argc, argv, &i, NULL, "--format", &v)) != 0) {
            if (r < 0) return kpCli_usageError("oci", "--format needs a value");
            o->format = v;
        } else if ((r = kpCli_optionValue(argc, argv, &i, NULL, "--platform", &v)) != 0) {
            if (r < 0) return kpCli_usageError("oci", "--platform needs a value");
            o->platform = v;
        } else if ((r = kpCli_optionValue(argc, argv, &i, "-o", "--output", &v)) != 0) {
            if (r < 0) return kpCli_usageError("oci", "-o needs a value");
            o->out = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return kpCli_usageError("oci", "unknown option '%s'", argv[i]);
        } else if (o->nargs < 2) {
            o->args[o->nargs++] = argv[i];
        } else {
            return kpCli_usageError("oci", "unexpected argument '%s'", argv[i]);
        }
    }
    int want = strcmp(o->cmd, "push") == 0 ? 2 : 1;
    if (o->nargs != want)
        return kpCli_usageError("oci", "%s takes %s", o->cmd, want == 2 ? "SOURCE and REF" : "one REF");
    if (o->format && strcmp(o->format, "wasm") && strcmp(o->format, "compat") && strcmp(o->format, "spin"))
        return kpCli_usageError("oci", "--format: '%s' is not wasm, compat or spin", o->format);
    snprintf(o->plat_os[0], sizeof o->plat_os[0], "linux");
    host_arch(o->plat_arch[0]);
    o->nplat = 1;
    if (o->platform && (o->nplat = parse_platforms(o->platform, o)) < 0) return KP_EXIT_USAGE;
    snprintf(o->os, sizeof o->os, "%s", o->plat_os[0]);
    snprintf(o->arch, sizeof o->arch, "%s", o->plat_arch[0]);
    return KP_EXIT_OK;
}

static int fail(const opts *o, const char *what, const kapsul_error *err) {
    fprintf(stderr, "kapsul oci %s: %s: %s\n", o->cmd, what, err->message);
    return KP_EXIT_FAIL;
}

/* ---- push ---------------------------------------------------------------------------------- */

static bool is_manifest_source(const char *src) {
    struct stat st;
    size_t n = strlen(src);
    if (stat(src, &st) == 0 && S_ISDIR(st.st_mode)) return true;
    return n >= 5 && strcmp(src + n - 5, ".toml") == 0;
}

/* The path of host inside the application directory, checked; NULL (printed) if outside. */
static const char *rel_in_app(const char *dir, const char *host) {
    size_t n = strlen(dir);
    const char *rel = strncmp(host, dir, n) == 0 && host[n] == '/' ? host + n + 1 : NULL;
    while (rel && rel[0] == '.' && rel[1] == '/') rel += 2;
    const char *why = rel ? kpOci_checkRelPath(rel) : "outside the application directory";
    if (why) {
        fprintf(stderr, "kapsul oci push: %s: cannot ship it in the image: %s\n", host, why);
        return NULL;
    }
    return rel;
}

static int add_file(kpOciImage *img, const char *mt, const char *host, const char *rel) {
    for (size_t i = 0; i < img->layers.n; i++) /* a file two components mount */
        if (img->layers.v[i].title && strcmp(img->layers.v[i].title, rel) == 0) return KP_EXIT_OK;
    kpBuf data = { 0 };
    kapsul_error err;
    kapsul_status st = kpCli_readFile(host, &data, &err);
    if (!st) st = kpOciImage_addLayer(img, mt, rel, data.data, data.len, &err);
    kpBuf_free(&data);
    if (st) {
        fprintf(stderr, "kapsul oci push: %s: %s\n", host, err.message);
        return KP_EXIT_USAGE;
    }
    return KP_EXIT_OK;
}

/* Every regular file beneath host (a { source, destination } mount), recursively, in name order so
 * the same application gives the same manifest. */
static int add_tree(kpOciImage *img, const char *appdir, const char *host) {
    struct dirent **names = NULL;
    int n = scandir(host, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "kapsul oci push: %s: cannot list\n", host);
        return KP_EXIT_USAGE;
    }
    int rc = KP_EXIT_OK;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char path[KP_OS_PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", host, name);
        if (rc || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            rc = add_tree(img, appdir, path);
        } else if (S_ISREG(st.st_mode)) {
            const char *rel = rel_in_app(appdir, path);
            rc = rel ? add_file(img, KP_OCI_MT_SPIN_DATA, path, rel) : KP_EXIT_USAGE;
        }
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

static int build_spin(const char *src, kpOciImage *img) {
    char path[KP_OS_PATH_MAX];
    struct stat st;
    if (stat(src, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(path, sizeof path, "%s/spin.toml", src);
    else snprintf(path, sizeof path, "%s", src);
    kpManifest m;
    kapsul_error err;
    kapsul_status s = kpManifest_load(path, &m, &err);
    if (s) {
        if (err.line) fprintf(stderr, "%s:%d:%d: %s\n", path, err.line, err.column, err.message);
        else fprintf(stderr, "kapsul oci push: %s: %s\n", path, err.message);
        return kpCli_exitFor(s);
    }
    int rc = KP_EXIT_OK;
    if ((s = kpOciImage_spin(m.name, m.version, img, &err))) {
        fprintf(stderr, "kapsul oci push: %s\n", err.message);
        rc = KP_EXIT_FAIL;
        goto done;
    }
    if ((rc = add_file(img, KP_OCI_MT_SPIN_DATA, path, "spin.toml"))) goto done;
    for (size_t i = 0; i < m.components.n && !rc; i++) {
        kpManifestComponent *c = &m.components.v[i];
        const char *rel = rel_in_app(m.dir, c->source_path);
        if (!rel) rc = KP_EXIT_USAGE;
        else rc = add_file(img, KP_OCI_MT_SPIN_WASM, c->source_path, rel);
        for (size_t j = 0; j < c->files.n && !rc; j++) {
            kpManifestMount *mt = &c->files.v[j];
            if (mt->kind == KP_MOUNT_DIR) {
                rc = add_tree(img, m.dir, mt->host);
            } else {
                rel = rel_in_app(m.dir, mt->host);
                rc = rel ? add_file(img, KP_OCI_MT_SPIN_DATA, mt->host, rel) : KP_EXIT_USAGE;
            }
        }
    }
done:
    kpManifest_free(&m);
    return rc;
}

/* The compat image for each --platform, under one image index. */
static int push_compat_index(const opts *o, const kpOciRef *ref, const char *refs, const kpBuf *wasm,
                             const char *name) {
    kpOciImage imgs[8];
    const char *os[8], *arch[8];
    kapsul_error err;
    kpOciStore *store = NULL;
    int n = 0, rc = KP_EXIT_OK;
    char digest[KP_OCI_DIGEST_LEN];
    for (; n < o->nplat; n++) {
        os[n] = o->plat_os[n];
        arch[n] = o->plat_arch[n];
        if (kpOciImage_compat(wasm->data, wasm->len, name, os[n], arch[n], &imgs[n], &err)) {
            rc = fail(o, "building the image", &err);
            goto done;
        }
    }
    if (kpOciStore_open(ref, &o->oci, &store, &err) ||
        kpOci_pushIndex(store, imgs, os, arch, (size_t)n, digest, &err))
        rc = fail(o, refs, &err);
    else printf("%s\n", digest);
done:
    kpOciStore_close(store);
    while (n-- > 0) kpOciImage_free(&imgs[n]);
    return rc;
}

static int push(const opts *o) {
    const char *src = o->args[0], *refs = o->args[1];
    kpOciRef ref;
    kapsul_error err;
    kpOciImage img = { 0 };
    kpOciStore *store = NULL;
    int rc;
    if (kpOciRef_parse(refs, &ref, &err)) return kpCli_usageError("oci", "%s", err.message);
    if (ref.digest) {
        kpOciRef_free(&ref);
        return kpCli_usageError("oci", "push: '%s' names a digest; push to a tag (the digest is printed)",
                                refs);
    }
    const char *format = o->format ? o->format : is_manifest_source(src) ? "spin" : "wasm";
    if (strcmp(format, "spin") == 0) {
        if ((rc = build_spin(src, &img))) goto done;
    } else {
        kpBuf wasm = { 0 };
        kapsul_status st = kpCli_loadModuleBytes(src, &wasm, NULL, &err);
        if (st) {
            kpCli_printError(stderr, src, &err);
            rc = kpCli_exitFor(st);
            goto done;
        }
        if (wasm.len < 8 || memcmp(wasm.data, "\0asm", 4) != 0) {
            fprintf(stderr, "kapsul oci push: %s: not a WebAssembly module (no \\0asm header)\n", src);
            kpBuf_free(&wasm);
            rc = KP_EXIT_USAGE;
            goto done;
        }
        /* The name in the image: the file's, with .wasm for a .wat source. */
        char name[256];
        const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
        size_t n = strlen(base);
        if (n > 4 && kpCli_isTextPath(base)) n -= 4, snprintf(name, sizeof name, "%.*s.wasm", (int)n, base);
        else snprintf(name, sizeof name, "%s", base);
        if (n < 5 || strcmp(name + strlen(name) - 5, ".wasm") != 0)
            strncat(name, ".wasm", sizeof name - strlen(name) - 1);
        if (strcmp(format, "compat") == 0 && o->nplat > 1) {
            rc = push_compat_index(o, &ref, refs, &wasm, name);
            kpBuf_free(&wasm);
            goto done;
        }
        st = strcmp(format, "compat") == 0
                 ? kpOciImage_compat(wasm.data, wasm.len, name, o->os, o->arch, &img, &err)
                 : kpOciImage_wasm(wasm.data, wasm.len, name, &img, &err);
        kpBuf_free(&wasm);
        if (st) {
            rc = fail(o, "building the image", &err);
            goto done;
        }
    }
    char digest[KP_OCI_DIGEST_LEN];
    if (kpOciStore_open(&ref, &o->oci, &store, &err) || kpOci_push(store, &img, digest, &err)) {
        rc = fail(o, refs, &err);
        goto done;
    }
    printf("%s\n", digest);
    rc = KP_EXIT_OK;
done:
    kpOciStore_close(store);
    kpOciImage_free(&img);
    kpOciRef_free(&ref);
    return rc;
}

/* ---- pull and fetch ------------------------------------------------------------------------ */

static int pull_image(const opts *o, const kpOciRef *ref, kpOciImage *img, char digest[KP_OCI_DIGEST_LEN]) {
    kpOciStore *store = NULL;
    kapsul_error err;
    int rc = KP_EXIT_OK;
    if (kpOciStore_open(ref, &o->oci, &store, &err) || kpOci_pull(store, o->os, o->arch, img, digest, &err))
        rc = fail(o, o->args[0], &err);
    kpOciStore_close(store);
    return rc;
}

static int pull(const opts *o) {
    kpOciRef ref;
    kapsul_error err;
    kpOciImage img = { 0 };
    char digest[KP_OCI_DIGEST_LEN], *written = NULL, dflt[256];
    if (kpOciRef_parse(o->args[0], &ref, &err)) return kpCli_usageError("oci", "%s", err.message);
    int rc = pull_image(o, &ref, &img, digest);
    kpOciFormat fmt = KP_OCI_WASM;
    if (rc) goto done;
    if (kpOciImage_format(&img, &fmt, &err)) {
        rc = fail(o, o->args[0], &err);
        goto done;
    }
    const char *dir = o->out;
    if (!dir && fmt != KP_OCI_SPIN) dir = ".";
    if (!dir) { /* the repository's (or layout directory's) last part */
        const char *name = ref.kind == KP_OCI_REF_LAYOUT ? ref.dir : ref.repo;
        const char *last = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        snprintf(dflt, sizeof dflt, "%s", *last && strcmp(last, ".") && strcmp(last, "..") ? last : "app");
        dir = dflt;
    }
    if (kpOciImage_write(&img, dir, &written, &err)) {
        rc = fail(o, dir, &err);
        goto done;
    }
    fprintf(stderr, "kapsul oci pull: %s (%s) -> %s\n", o->args[0], digest, written);
    printf("%s\n", written);
done:
    kp_free(written);
    kpOciImage_free(&img);
    kpOciRef_free(&ref);
    return rc;
}

/* The module or application in a cache entry: ENTRY if it holds spin.toml, else its one .wasm. */
static bool entry_target(const char *entry, char *out, size_t cap) {
    struct stat st;
    snprintf(out, cap, "%s/spin.toml", entry);
    if (stat(out, &st) == 0) {
        snprintf(out, cap, "%s", entry);
        return true;
    }
    DIR *d = opendir(entry);
    if (!d) return false;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 5 && strcmp(e->d_name + n - 5, ".wasm") == 0) {
            snprintf(out, cap, "%s/%s", entry, e->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

static int fetch(const opts *o) {
    kpOciRef ref;
    kapsul_error err;
    kpOciImage img = { 0 };
    char digest[KP_OCI_DIGEST_LEN], root[KP_OS_PATH_MAX], entry[KP_OS_PATH_MAX + 80],
        target[KP_OS_PATH_MAX + 400];
    char tmp[KP_OS_PATH_MAX], *written = NULL;
    kpOciStore *store = NULL;
    kpBuf raw = { 0 };
    char *mt = NULL;
    int rc = KP_EXIT_FAIL;
    if (kpOciRef_parse(o->args[0], &ref, &err)) return kpCli_usageError("oci", "%s", err.message);
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) snprintf(root, sizeof root, "%s/kapsul/oci/sha256", xdg);
    else if (home && *home) snprintf(root, sizeof root, "%s/.cache/kapsul/oci/sha256", home);
    else {
        fprintf(stderr, "kapsul oci fetch: neither XDG_CACHE_HOME nor HOME is set\n");
        goto done;
    }
    /* A reference pinned to a digest that is cached needs no store at all. */
    snprintf(entry, sizeof entry, "%s/%s", root, ref.digest ? ref.digest + 7 : "-");
    if (ref.digest && entry_target(entry, target, sizeof target)) {
        printf("%s\n", target);
        rc = KP_EXIT_OK;
        goto done;
    }
    /* Resolve the reference to a manifest digest; a cache hit costs this one request. */
    if (kpOciStore_open(&ref, &o->oci, &store, &err) ||
        kpOciStore_getManifest(store, o->os, o->arch, &raw, &mt, digest, &err)) {
        rc = fail(o, o->args[0], &err);
        goto done;
    }
    snprintf(entry, sizeof entry, "%s/%s", root, digest + 7);
    if (!entry_target(entry, target, sizeof target)) {
        kpOs_err oe = kpOs_mkdirs(root);
        if (oe) {
            fprintf(stderr, "kapsul oci fetch: cannot create %s: %s\n", root, kpOs_strerror(oe));
            goto done;
        }
        if ((rc = pull_image(o, &ref, &img, digest))) goto done;
        rc = KP_EXIT_FAIL;
        snprintf(entry, sizeof entry, "%s/%s", root, digest + 7);
        kpOciFormat fmt;
        if (kpOciImage_format(&img, &fmt, &err)) {
            rc = fail(o, o->args[0], &err);
            goto done;
        }
        /* Written beside the entry and renamed into place: a reader sees a whole entry or none. */
        if ((oe = kpOs_tempDir(root, ".tmp-", tmp, sizeof tmp))) {
            fprintf(stderr, "kapsul oci fetch: cannot create a directory in %s: %s\n", root,
                    kpOs_strerror(oe));
            goto done;
        }
        if (kpOciImage_write(&img, tmp, &written, &err)) {
            kpOs_removeTree(tmp);
            rc = fail(o, o->args[0], &err);
            goto done;
        }
        if (kpOs_rename(tmp, entry)) kpOs_removeTree(tmp); /* another fetch was first: use its entry */
        if (!entry_target(entry, target, sizeof target)) {
            fprintf(stderr, "kapsul oci fetch: %s: the cache entry is incomplete\n", entry);
            goto done;
        }
    }
    printf("%s\n", target);
    rc = KP_EXIT_OK;
done:
    kp_free(written);
    kp_free(mt);
    kpBuf_free(&raw);
    kpOciStore_close(store);
    kpOciImage_free(&img);
    kpOciRef_free(&ref);
    return rc;
}

int main(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? KP_EXIT_OK : rc;
    if (strcmp(o.cmd, "push") == 0) return push(&o);
    if (strcmp(o.cmd, "pull") == 0) return pull(&o);
    return fetch(&o);
}
