/*
 * load.c -- helpers every subcommand shares: reading files, turning a path into module bytes
 * (text or binary), printing load errors in one format.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "os/os.h"
#include "text/text.h"

/* Read a stream to its end. Files are read in chunks rather than sized with fseek so pipes and
 * /dev/stdin work the same as regular files. */
static kapsul_status read_stream(FILE *f, const char *path, kpBuf *out, kapsul_error *err) {
    for (;;) {
        if (kpBuf_reserve(out, 65536) != 0) goto nomem;
        size_t n = fread(out->data + out->len, 1, out->cap - out->len, f);
        out->len += n;
        if (n == 0) break;
    }
    if (ferror(f)) {
        int e = errno;
        kpBuf_free(out);
        return kpError_set(err, KAPSUL_ERR_IO, 0, "%s: %s", path, strerror(e ? e : EIO));
    }
    return KAPSUL_OK;
nomem:
    kpBuf_free(out);
    return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "%s: out of memory", path);
}

/* A regular file is read into one buffer of its size (plus a byte to see it has not grown),
 * populated before the read: growing a buffer in 64 KiB steps copied it and cost some 30 page
 * faults for a 44 KB module, a third of `kapsul run`'s start-up on this machine. */
static kapsul_status read_sized(FILE *f, const char *path, size_t size, kpBuf *out, kapsul_error *err) {
    if (kpBuf_reserve(out, size + 1) != 0) {
        kpBuf_free(out);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "%s: out of memory", path);
    }
    kpOs_prefault(out->data, size + 1);
    setvbuf(f, NULL, _IONBF, 0);
    out->len = fread(out->data, 1, size + 1, f);
    if (out->len <= size && !ferror(f)) return KAPSUL_OK;
    return read_stream(f, path, out, err); /* it grew meanwhile, or an error to report */
}

kapsul_status kpCli_readFile(const char *path, kpBuf *out, kapsul_error *err) {
    memset(out, 0, sizeof *out);
    if (strcmp(path, "-") == 0) return read_stream(stdin, "<stdin>", out, err);
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return kpError_set(err, KAPSUL_ERR_IO, 0, "%s: %s", path, strerror(errno));
    struct stat sb;
    kapsul_status st = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size < (off_t)(SIZE_MAX / 2)
                           ? read_sized(f, path, (size_t)sb.st_size, out, err)
                           : read_stream(f, path, out, err);
    fclose(f);
    return st;
}

bool kpCli_isTextPath(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/')) return false;
    return strcasecmp(dot, ".wat") == 0 || strcasecmp(dot, ".wast") == 0;
}

/* A file without a text extension is still taken as text when it is plainly not a binary module:
 * it does not start with the "\0asm" magic and its first non-blank character opens an
 * s-expression or a comment. That is how `kapsul run prog` works on a text file named "prog". */
static bool looks_like_text(const kpBuf *b) {
    if (b->len >= 4 && memcmp(b->data, "\0asm", 4) == 0) return false;
    for (size_t i = 0; i < b->len; i++) {
        uint8_t c = b->data[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        return c == '(' || c == ';';
    }
    return false;
}

kapsul_status kpCli_loadModuleBytes(const char *path, kpBuf *out, bool *is_text, kapsul_error *err) {
    kpBuf file;
    memset(out, 0, sizeof *out);
    if (is_text) *is_text = false;
    kapsul_status st = kpCli_readFile(path, &file, err);
    if (st != KAPSUL_OK) return st;
    if (!kpCli_isTextPath(path) && !looks_like_text(&file)) {
        *out = file;
        return KAPSUL_OK;
    }
    if (is_text) *is_text = true;
    st = kpWat_toBinary((const char *)file.data, file.len, 1, out, err);
    kpBuf_free(&file);
    if (st != KAPSUL_OK) kpBuf_free(out);
    return st;
}

const char *kpCli_command;

void kpCli_printError(FILE *f, const char *path, const kapsul_error *err) {
    if (kpCli_command) fprintf(f, "kapsul %s: ", kpCli_command);
    if (err->code == KAPSUL_ERR_IO) {
        /* The I/O message already names the file. */
        fprintf(f, "%s\n", err->message);
    } else if (err->line > 0) {
        fprintf(f, "%s:%d:%d: %s\n", path, err->line, err->column, err->message);
    } else if (err->code == KAPSUL_ERR_MALFORMED || err->code == KAPSUL_ERR_INVALID) {
        fprintf(f, "%s: error at offset 0x%zx: %s\n", path, err->offset, err->message);
    } else {
        fprintf(f, "%s: %s\n", path, err->message[0] ? err->message : kapsul_status_name(err->code));
    }
}

int kpCli_exitFor(kapsul_status status) { return status == KAPSUL_ERR_IO ? KP_EXIT_USAGE : KP_EXIT_FAIL; }

#if defined(__SANITIZE_ADDRESS__)
#define KP_CLI_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KP_CLI_SANITIZED 1
#endif
#endif

void kpCli_exitFast(int rc) {
#ifndef KP_CLI_SANITIZED
    exit(rc); /* flushes and closes every stdio stream */
#else
    (void)rc;
#endif
}

bool kpCli_isHelp(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

int kpCli_usageError(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "kapsul %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'kapsul %s --help' for usage.\n", cmd);
    return KP_EXIT_USAGE;
}

int kpCli_optionValue(int argc, char **argv, int *i, const char *short_name, const char *long_name,
                      const char **val) {
    const char *a = argv[*i];
    size_t n = strlen(long_name);
    if (strncmp(a, long_name, n) == 0 && a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (strcmp(a, long_name) != 0 && !(short_name && strcmp(a, short_name) == 0)) return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[++*i];
    return 1;
}
