/*
 * tar.c -- the compat image's one layer: a gzip-compressed POSIX tar written and read in memory
 * with libarchive. The diff_id the image config lists is the sha256 of the uncompressed tar, so
 * both directions also compute it.
 */
#include <archive.h>
#include <archive_entry.h>

#include "base/sha256.h"
#include "oci/oci.h"

static la_ssize_t on_write(struct archive *a, void *ud, const void *buf, size_t n) {
    (void)a;
    return kpBuf_push(ud, buf, n) ? -1 : (la_ssize_t)n;
}

/* Write a tar of one file into out; gzip it when gz. */
static kapsul_status write_tar(const char *name, const uint8_t *data, size_t len, bool gz, kpBuf *out,
                               kapsul_error *err) {
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    kapsul_status st = KAPSUL_OK;
    if (!a || !e) {
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        goto done;
    }
    archive_write_set_format_pax_restricted(a);
    /* Reproducible: gzip without a file name or time stamp, the entry with mtime 0. */
    if ((gz && (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
                archive_write_set_options(a, "gzip:!timestamp") != ARCHIVE_OK)) ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open(a, out, NULL, on_write, NULL) != ARCHIVE_OK) {
        st = kpError_set(err, KAPSUL_ERR_IO, 0, "tar: %s", archive_error_string(a));
        goto done;
    }
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0755);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, 0, 0);
    if (archive_write_header(a, e) != ARCHIVE_OK ||
        (len && archive_write_data(a, data, len) != (la_ssize_t)len) ||
        archive_write_close(a) != ARCHIVE_OK) {
        st = kpError_set(err, KAPSUL_ERR_IO, 0, "tar: %s", archive_error_string(a));
        goto done;
    }
done:
    if (e) archive_entry_free(e);
    if (a) archive_write_free(a);
    if (st) kpBuf_free(out);
    return st;
}

kapsul_status kpOciTar_one(const char *name, const uint8_t *data, size_t len, kpBuf *out,
                           char diff_id[KP_OCI_DIGEST_LEN], kapsul_error *err) {
    kpBuf tar = { 0 };
    kapsul_status st = write_tar(name, data, len, false, &tar, err);
    if (st) return st;
    kpOci_digest(tar.data, tar.len, diff_id);
    kpBuf_free(&tar);
    return write_tar(name, data, len, true, out, err);
}

/* Strip "/" and "./" prefixes so "/hello.wasm", "./hello.wasm" and "hello.wasm" compare equal. */
static const char *bare(const char *p) {
    for (;;) {
        if (p[0] == '/') p++;
        else if (p[0] == '.' && p[1] == '/') p += 2;
        else return p;
    }
}

kapsul_status kpOciTar_find(const uint8_t *tgz, size_t len, const char *path, kpBuf *out,
                            char diff_id[KP_OCI_DIGEST_LEN], kapsul_error *err) {
    out->len = 0;
    kapsul_status st = KAPSUL_OK;
    bool found = false;
    kpBuf raw = { 0 }; /* the uncompressed tar, for its digest */
    /* Pass 1: decompress (gzip only) to hash the tar itself. */
    struct archive *a = archive_read_new();
    if (!a) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    archive_read_support_filter_gzip(a);
    archive_read_support_format_raw(a);
    struct archive_entry *e;
    if (archive_read_open_memory(a, tgz, len) != ARCHIVE_OK ||
        archive_read_next_header(a, &e) != ARCHIVE_OK) {
        st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "layer: not a gzip stream: %s",
                         archive_error_string(a));
        goto done;
    }
    if (archive_filter_code(a, 0) != ARCHIVE_FILTER_GZIP) {
        st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "layer: not a gzip stream");
        goto done;
    }
    for (;;) {
        char chunk[65536];
        la_ssize_t n = archive_read_data(a, chunk, sizeof chunk);
        if (n == 0) break;
        if (n < 0) {
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "layer: truncated or corrupt gzip stream: %s",
                             archive_error_string(a));
            goto done;
        }
        if (raw.len + (size_t)n > KP_OCI_BLOB_MAX) {
            st = kpError_set(err, KAPSUL_ERR_LIMIT, 0, "layer: more than %zu bytes uncompressed",
                             KP_OCI_BLOB_MAX);
            goto done;
        }
        if (kpBuf_push(&raw, chunk, (size_t)n)) {
            st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
            goto done;
        }
    }
    archive_read_free(a);
    kpOci_digest(raw.data, raw.len, diff_id);
    /* Pass 2: read the tar. */
    if (!(a = archive_read_new())) {
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        goto done;
    }
    archive_read_support_format_tar(a);
    if (archive_read_open_memory(a, raw.data, raw.len) != ARCHIVE_OK) {
        st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "layer: not a tar archive: %s",
                         archive_error_string(a));
        goto done;
    }
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (found || !name || archive_entry_filetype(e) != AE_IFREG || strcmp(bare(name), bare(path)) != 0)
            continue;
        la_int64_t size = archive_entry_size(e);
        if (size < 0 || (uint64_t)size > KP_OCI_BLOB_MAX) {
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "layer: bad size of %s", name);
            goto done;
        }
        if (kpBuf_reserve(out, (size_t)size)) {
            st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
            goto done;
        }
        la_ssize_t n = archive_read_data(a, out->data, (size_t)size);
        if (n != size) {
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "layer: %s is truncated", name);
            goto done;
        }
        out->len = (size_t)size;
        found = true;
    }
    if (r != ARCHIVE_EOF) {
        st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "layer: truncated or corrupt tar: %s",
                         archive_error_string(a));
        goto done;
    }
    if (!found) st = kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "layer: no file %s in it", path);
done:
    archive_read_free(a);
    kpBuf_free(&raw);
    if (st) kpBuf_free(out);
    return st;
}
