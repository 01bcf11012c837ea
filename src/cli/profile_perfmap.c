/*
 * profile_perfmap.c -- --perf-map for kapsul run, kapsul serve and kapsul up: the symbol map
 * Linux perf reads for code it finds in no ELF file, and the function names profiles print.
 *
 * perf looks up such addresses in /tmp/perf-PID.map: one "START SIZE name" line (hex, no 0x)
 * per function (tools/perf/Documentation/jit-interface.txt). kapsul writes one line per compiled
 * function of a module (kapsul_module_code_ranges) before any guest runs and leaves the file for
 * `perf report`, as wasmtime's --profile=perfmap does. An entry trampoline that is not the whole
 * function (its body has a range of its own) is named "NAME [entry]".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

const char *kpCli_funcName(const kapsul_module *m, uint32_t func, char *buf, size_t cap, const char **file,
                           uint32_t *line) {
    kapsul_frame f = { .func_index = func, .offset = kapsul_module_func_offset(m, func), .module = m };
    kapsul_location loc[64]; /* the function itself is the last one, after any inlined call */
    size_t n = kapsul_frame_locations(&f, loc, 64);
    if (n > 64) n = 64;
    *file = n ? loc[n - 1].file : NULL;
    *line = n ? loc[n - 1].line : 0;
    if (n && loc[n - 1].function) return loc[n - 1].function;
    snprintf(buf, cap, "func[%u]", func);
    return buf;
}

/* A name on one line: line breaks (a name section may hold any UTF-8) become '_'. */
static void put_name(FILE *f, const char *s) {
    for (; s && *s; s++) fputc(*s == '\n' || *s == '\r' ? '_' : *s, f);
}

/* The process's map: created (emptied) by the first module, appended to by the others. */
static FILE *open_map(const char *cmd, char path[64]) {
    static bool started;
    snprintf(path, 64, "/tmp/perf-%ld.map", (long)getpid());
    /* O_NOFOLLOW: /tmp is shared, a planted symlink must not redirect the write. */
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (started ? O_APPEND : O_TRUNC), 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!f) {
        fprintf(stderr, "kapsul %s: --perf-map: cannot write %s: %s\n", cmd, path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    started = true;
    return f;
}

int kpCli_perfMapAdd(const char *cmd, const kapsul_module *m, const char *file, const char *prefix) {
    size_t n = kapsul_module_code_ranges(m, NULL, 0);
    if (n == 0) {
        fprintf(stderr,
                "kapsul %s: --perf-map: %s runs in the interpreter; a perf map needs native code "
                "(--tier native or a .kwasm)\n",
                cmd, file);
        return KP_EXIT_USAGE;
    }
    kapsul_code_range *r = calloc(n, sizeof *r);
    char path[64];
    FILE *f = r ? open_map(cmd, path) : NULL;
    if (!f) {
        free(r);
        return KP_EXIT_FAIL;
    }
    kapsul_module_code_ranges(m, r, n);
    for (size_t i = 0; i < n; i++) {
        bool body = false; /* a separate range for the function's body */
        for (size_t j = 0; r[i].entry && j < n && !body; j++)
            body = !r[j].entry && r[j].func_index == r[i].func_index;
        char buf[32];
        const char *src;
        uint32_t line;
        const char *name = kpCli_funcName(m, r[i].func_index, buf, sizeof buf, &src, &line);
        fprintf(f, "%lx %zx ", (unsigned long)(uintptr_t)r[i].start, r[i].size);
        put_name(f, prefix);
        put_name(f, name);
        fputs(body ? " [entry]\n" : "\n", f);
    }
    free(r);
    if (fclose(f) != 0) {
        fprintf(stderr, "kapsul %s: --perf-map: writing %s failed\n", cmd, path);
        return KP_EXIT_FAIL;
    }
    return KP_EXIT_OK;
}
