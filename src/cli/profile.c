/*
 * profile.c -- `kapsul run --profile[=FILE]`: a sampling profiler of the guest.
 *
 * A POSIX timer on CLOCK_MONOTONIC sends SIGPROF to the thread running the guest every
 * interval; the handler copies the store's wasm stack (kapsul_store_sample) into a ring
 * allocated before the run, without allocating or locking. After the run each distinct
 * (module, function) is symbolized once (kapsul_frame_locations: name section, DWARF,
 * demangling) and the samples are written as speedscope JSON (https://www.speedscope.app, also
 * what the Firefox Profiler imports) or as folded stacks for flamegraph.pl. Wall-clock time, so
 * a guest blocked in a WASI call is charged to the frames that made it. A full ring stops
 * recording and the output says how many samples were dropped.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define KP_PROF_DEPTH 64       /* frames kept per sample (the innermost ones) */
#define KP_PROF_SAMPLES 100000 /* the ring: 100 s at the default 1 ms */

typedef struct sample_frame {
    const kapsul_module *module;
    uint32_t func_index;
} sample_frame;

static struct {
    kapsul_store *store;
    sample_frame *frames; /* KP_PROF_SAMPLES * KP_PROF_DEPTH */
    uint8_t *depth;       /* per sample */
    volatile size_t n, dropped;
    timer_t timer;
    bool armed;
    struct sigaction old;
} prof;

static void on_sigprof(int sig, siginfo_t *info, void *uctx) {
    (void)sig, (void)info, (void)uctx;
    int saved = errno;
    if (prof.n >= KP_PROF_SAMPLES) {
        prof.dropped++;
    } else {
        kapsul_frame f[KP_PROF_DEPTH];
        size_t d = kapsul_store_sample(prof.store, f, KP_PROF_DEPTH);
        if (d > 0) {
            sample_frame *out = prof.frames + prof.n * KP_PROF_DEPTH;
            for (size_t i = 0; i < d; i++) out[i] = (sample_frame){ f[i].module, f[i].func_index };
            prof.depth[prof.n] = (uint8_t)d;
            prof.n++;
        }
    }
    errno = saved;
}

bool kpCli_profileStart(kapsul_store *store, uint64_t interval_ns) {
    prof.store = store;
    prof.n = prof.dropped = 0;
    prof.frames = calloc((size_t)KP_PROF_SAMPLES * KP_PROF_DEPTH, sizeof *prof.frames);
    prof.depth = calloc(KP_PROF_SAMPLES, 1);
    if (!prof.frames || !prof.depth) return false;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigprof;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPROF, &sa, &prof.old) != 0) return false;
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID; /* this thread: it runs the guest */
    ev.sigev_signo = SIGPROF;
    ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    if (timer_create(CLOCK_MONOTONIC, &ev, &prof.timer) != 0) return false;
    struct itimerspec it = { .it_interval = { (time_t)(interval_ns / 1000000000u),
                                              (long)(interval_ns % 1000000000u) } };
    it.it_value = it.it_interval;
    if (timer_settime(prof.timer, 0, &it, NULL) != 0) {
        timer_delete(prof.timer);
        return false;
    }
    prof.armed = true;
    return true;
}

void kpCli_profileStop(void) {
    if (prof.armed) timer_delete(prof.timer);
    prof.armed = false;
    sigaction(SIGPROF, &prof.old, NULL);
}

/* ---- Output ---- */

typedef struct pframe {
    const kapsul_module *module;
    uint32_t func_index;
    char *name;
    const char *file;
    uint32_t line;
} pframe;

static KP_VEC(pframe) table;
static long *slots; /* open addressing over table: index + 1, 0 = empty */
static size_t nslots;

static size_t hash_frame(const sample_frame *s) {
    uint64_t h = (uint64_t)(uintptr_t)s->module * 0x9E3779B97F4A7C15ull ^ s->func_index;
    return (size_t)(h ^ (h >> 29));
}

/* The index of (module, function) in table, symbolized on first sight; -1 when out of memory. */
static long frame_id(const sample_frame *s) {
    if (table.n * 2 >= nslots) { /* grow and rehash */
        size_t ncap = nslots ? nslots * 2 : 1024;
        long *ns = calloc(ncap, sizeof *ns);
        if (!ns) return -1;
        for (size_t i = 0; i < table.n; i++) {
            sample_frame k = { table.v[i].module, table.v[i].func_index };
            size_t j = hash_frame(&k) & (ncap - 1);
            while (ns[j]) j = (j + 1) & (ncap - 1);
            ns[j] = (long)i + 1;
        }
        free(slots);
        slots = ns;
        nslots = ncap;
    }
    size_t j = hash_frame(s) & (nslots - 1);
    for (; slots[j]; j = (j + 1) & (nslots - 1)) {
        const pframe *p = &table.v[slots[j] - 1];
        if (p->module == s->module && p->func_index == s->func_index) return slots[j] - 1;
    }
    slots[j] = (long)table.n + 1;
    if (kpVec_grow(&table) != 0) return -1;
    pframe p = { s->module, s->func_index, NULL, NULL, 0 };
    char buf[32];
    const char *name = kpCli_funcName(s->module, s->func_index, buf, sizeof buf, &p.file, &p.line);
    p.name = kp_strndup(name, strlen(name));
    if (!p.name) return -1;
    table.v[table.n++] = p;
    return (long)table.n - 1;
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* Folded stacks: "outer;...;inner COUNT" per distinct stack (flamegraph.pl sums repeats, so one
 * line per sample is valid and keeps this simple). */
static bool write_folded(FILE *f) {
    for (size_t s = 0; s < prof.n; s++) {
        const sample_frame *fr = prof.frames + s * KP_PROF_DEPTH;
        for (size_t i = prof.depth[s]; i-- > 0;) {
            long id = frame_id(&fr[i]);
            if (id < 0) return false;
            for (const char *p = table.v[id].name; *p; p++) fputc(*p == ';' || *p == ' ' ? '_' : *p, f);
            if (i) fputc(';', f);
        }
        fputs(" 1\n", f);
    }
    return true;
}

static bool write_speedscope(FILE *f, const char *title, uint64_t interval_ns) {
    double ms = (double)interval_ns / 1e6;
    fprintf(f,
            "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"exporter\":\"kapsul\",");
    fprintf(f, "\"name\":");
    json_string(f, title);
    fprintf(f, ",\"activeProfileIndex\":0,\"profiles\":[{\"type\":\"sampled\",\"name\":");
    json_string(f, title);
    fprintf(f, ",\"unit\":\"milliseconds\",\"startValue\":0,\"endValue\":%.3f,\"samples\":[",
            ms * (double)prof.n);
    for (size_t s = 0; s < prof.n; s++) {
        const sample_frame *fr = prof.frames + s * KP_PROF_DEPTH;
        fputs(s ? ",[" : "[", f);
        for (size_t i = prof.depth[s], k = 0; i-- > 0; k++) {
            long id = frame_id(&fr[i]);
            if (id < 0) return false;
            fprintf(f, "%s%ld", k ? "," : "", id);
        }
        fputc(']', f);
    }
    fputs("],\"weights\":[", f);
    for (size_t s = 0; s < prof.n; s++) fprintf(f, "%s%.3f", s ? "," : "", ms);
    fputs("]}],\"shared\":{\"frames\":[", f);
    for (size_t i = 0; i < table.n; i++) {
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        json_string(f, table.v[i].name);
        if (table.v[i].file) { /* the module's string, alive as long as the module */
            fputs(",\"file\":", f);
            json_string(f, table.v[i].file);
            if (table.v[i].line) fprintf(f, ",\"line\":%u", (unsigned)table.v[i].line);
        }
        fputc('}', f);
    }
    fputs("]}}\n", f);
    return true;
}

int kpCli_profileWrite(const char *path, bool folded, const char *title, uint64_t interval_ns) {
    FILE *f = fopen(path, "w");
    int rc = KP_EXIT_OK;
    if (!f) {
        fprintf(stderr, "kapsul run: --profile: cannot write %s: %s\n", path, strerror(errno));
        rc = KP_EXIT_USAGE;
    } else {
        bool ok = folded ? write_folded(f) : write_speedscope(f, title, interval_ns);
        if (fclose(f) != 0 || !ok) {
            fprintf(stderr, "kapsul run: --profile: writing %s failed\n", path);
            rc = KP_EXIT_FAIL;
        } else {
            fprintf(stderr, "kapsul run: profile: %zu samples", (size_t)prof.n);
            if (prof.dropped) fprintf(stderr, " (%zu dropped: the ring was full)", (size_t)prof.dropped);
            fprintf(stderr, " written to %s\n", path);
        }
    }
    for (size_t i = 0; i < table.n; i++) kp_free(table.v[i].name);
    kpVec_free(&table);
    free(slots);
    slots = NULL;
    nslots = 0;
    free(prof.frames);
    free(prof.depth);
    prof.frames = NULL;
    prof.depth = NULL;
    return rc;
}
