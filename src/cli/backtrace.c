/*
 * backtrace.c -- how the CLI prints a trap's frames (the format wasmtime users know):
 *
 *   wasm backtrace:
 *       0:  0x1a3 - func[5] depth
 *                       at trap.c:3:17
 *       1:  0x2c0 - func[7] main
 *                       at helper (inlined) trap.c:6:40
 *                       at trap.c:9:22
 *             ... 9984 frames omitted
 */
#include <inttypes.h>

#include "cli/cli.h"

static void print_position(FILE *f, const kapsul_location *l, bool inlined) {
    if (!l->file && !inlined) return;
    fprintf(f, "                    at ");
    if (inlined) fprintf(f, "%s (inlined) ", l->function ? l->function : "?");
    if (l->file) {
        fprintf(f, "%s", l->file);
        if (l->line) fprintf(f, ":%" PRIu32, l->line);
        if (l->line && l->column) fprintf(f, ":%" PRIu32, l->column);
    } else fprintf(f, "?");
    fputc('\n', f);
}

void kpCli_printBacktrace(FILE *f, const kapsul_error *err) {
    if (err->nframes <= 0) return;
    fprintf(f, "wasm backtrace:\n");
    for (int i = 0; i < err->nframes && i < KAPSUL_MAX_FRAMES; i++) {
        const kapsul_frame *fr = &err->frames[i];
        if (err->frames_omitted > 0 && i == KAPSUL_MAX_FRAMES - KAPSUL_TAIL_FRAMES)
            fprintf(f, "          ... %d frames omitted\n", err->frames_omitted);
        int depth = i < KAPSUL_MAX_FRAMES - KAPSUL_TAIL_FRAMES ? i : i + err->frames_omitted;
        kapsul_location loc[64];
        size_t n = kapsul_frame_locations(fr, loc, 64);
        if (n > 64) n = 64;
        const char *name = n ? loc[n - 1].function : NULL;
        if (!name && fr->name[0]) name = fr->name;
        char off[16] = "?"; /* offset 0: unknown (a fault in a guard region) */
        if (fr->offset) snprintf(off, sizeof off, "0x%" PRIx32, fr->offset);
        fprintf(f, "  %4d: %8s - func[%" PRIu32 "]%s%s\n", depth, off, fr->func_index, name ? " " : "",
                name ? name : "");
        for (size_t k = 0; k < n; k++) print_position(f, &loc[k], k + 1 < n);
    }
}
