/*
 * cli.h -- the kapsul command-line tool: one function per subcommand, plus the few helpers they
 * share (reading a file, turning a .wat/.wasm path into module bytes).
 *
 * Conventions (wasmtime's): `kapsul <command> [options] ARGS`. Each kpCli_* function receives the
 * arguments after the command name (argv[0] is the command name itself) and returns the process
 * exit status:
 *   0  success
 *   1  the input was processed and found wanting (invalid module, failed assertion, trap)
 *   2  usage error (unknown flag, missing argument) or a file that cannot be read or written
 * Diagnostics go to stderr; only requested output (inspect listings, wat2wasm to "-") goes to
 * stdout.
 */
#ifndef KP_CLI_H
#define KP_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "base/base.h"

#define KP_CLI_VERSION "0.1.0"

/* Exit statuses shared by every subcommand. */
enum {
    KP_EXIT_OK = 0,
    KP_EXIT_FAIL = 1,
    KP_EXIT_USAGE = 2
};

/* The subcommands. run.c (kapsul run) belongs to the WASI layer's owner. */
int kpCli_run(int argc, char **argv);
int kpCli_wast(int argc, char **argv);
int kpCli_validate(int argc, char **argv);
int kpCli_inspect(int argc, char **argv);
/* component.c: components (layer 1) in inspect and validate. */
bool kpCli_isComponent(const kpBuf *bytes);
kapsul_status kpCli_validateComponent(const kpBuf *bytes, kapsul_error *err);
kapsul_status kpCli_inspectComponent(const char *path, const kpBuf *bytes, kapsul_error *err);
/* kapsul run of a component: what the flags give it. */
typedef struct kpCliComponentRun {
    const char *file;
    kapsul_wasi *wasi; /* args, env, preopens, stdio, deadline */
    uint64_t fuel, deadline;
    const char *invoke;        /* --invoke: an exported function to call instead of wasi:cli/run */
    const struct kpP2Net *net; /* wasi:sockets grants (--allow-*); NULL: none */
    void (*trace)(void *env, const char *line); /* --trace-wasi: one line per WASI 0.2 call */
    void *trace_env;
    const struct kpCliTier *tier; /* --tier native: each core module from the cache (NULL: interpreter) */
} kpCliComponentRun;
/* Instantiate the component with the WASI 0.2 host and run it; returns the exit status (a
 * message printed for anything but success). */
int kpCli_runComponent(kapsul_engine *engine, const kpBuf *bytes, const kpCliComponentRun *run,
                       kapsul_error *err);
int kpCli_wat2wasm(int argc, char **argv);
int kpCli_new(int argc, char **argv);
int kpCli_build(int argc, char **argv);
int kpCli_compile(int argc, char **argv);

/* --tier interp|native and --cache DIR (tier.c). kpCli_tierOption consumes argv[*i] (and its
 * value) when it is one of them: 1 consumed, 0 not ours, -1 bad value. kpCli_nativeArtifact
 * turns module bytes into .kwasm bytes (as is if already one; else from the cache, compiling
 * with kapsul-llvmc on a miss). Errors: KAPSUL_ERR_LIMIT ("native tier: ..." with the
 * compiler's message), KAPSUL_ERR_IO, KAPSUL_ERR_NOMEM. */
typedef struct kpCliTier {
    bool native;
    const char *cache;
} kpCliTier;
int kpCli_tierOption(kpCliTier *t, int argc, char **argv, int *i);
kapsul_status kpCli_nativeArtifact(const kpCliTier *t, const uint8_t *wasm, size_t len, kpBuf *out,
                                   kapsul_error *err);

/* The path of the native tier's compiler (kapsul-llvmc beside this binary); false if absent. */
bool kpCli_nativeCompiler(char *path, size_t cap);

/* Read a whole file (or stdin for "-") into out. On failure returns KAPSUL_ERR_IO (with the OS
 * error text in err->message) or KAPSUL_ERR_NOMEM. out is empty on failure. */
kapsul_status kpCli_readFile(const char *path, kpBuf *out, kapsul_error *err);

/* True if the path names a text-format file (.wat or .wast, case-insensitive). */
bool kpCli_isTextPath(const char *path);

/* Load a file as binary module bytes: .wat/.wast text goes through kpWat_toBinary, anything else
 * is taken as binary as is (not decoded here). Errors: KAPSUL_ERR_IO (unreadable file),
 * KAPSUL_ERR_MALFORMED (text that does not parse; err->line/column set), KAPSUL_ERR_NOMEM.
 * *is_text tells the caller which kind of positions err carries (may be NULL). */
kapsul_status kpCli_loadModuleBytes(const char *path, kpBuf *out, bool *is_text, kapsul_error *err);

/* The subcommand running ("run", "validate", ...), set by main: every diagnostic starts
 * "kapsul CMD: ". */
extern const char *kpCli_command;

/* Print a load/validation error the standard way:
 *   kapsul CMD: FILE:LINE:COL: message            for text positions
 *   kapsul CMD: FILE: error at offset 0xNN: message   for binary offsets
 *   kapsul CMD: FILE: message                     otherwise */
void kpCli_printError(FILE *f, const char *path, const kapsul_error *err);

/* Print a trap's wasm backtrace (backtrace.c): one line per frame with its index, module offset,
 * function index and demangled name, then its source positions from DWARF (inlined calls
 * first) and "... N frames omitted" where a deep stack was cut. Nothing when err has no frames. */
void kpCli_printBacktrace(FILE *f, const kapsul_error *err);

/* kapsul run --profile (profile.c): start sampling store's wasm stack every interval on this
 * thread (false if the timer or the ring cannot be set up), stop, and write the samples to path
 * as speedscope JSON or folded stacks (returns an exit status; prints the sample count). */
bool kpCli_profileStart(kapsul_store *store, uint64_t interval_ns);
void kpCli_profileStop(void);
int kpCli_profileWrite(const char *path, bool folded, const char *title, uint64_t interval_ns);
/* --perf-map (profile_perfmap.c): add the module's native code to /tmp/perf-PID.map (emptied by
 * the process's first call), each name after prefix (NULL: none); an exit status, KP_EXIT_USAGE
 * with a message when the module has no native code. cmd and file: for messages. */
int kpCli_perfMapAdd(const char *cmd, const kapsul_module *m, const char *file, const char *prefix);
/* A function's name as backtraces print it (name section or export, demangled; func[N] in buf
 * when it has none) and, with DWARF, where it starts in its source (*file NULL otherwise). */
const char *kpCli_funcName(const kapsul_module *m, uint32_t func, char *buf, size_t cap, const char **file,
                           uint32_t *line);

/* Exit status for a failed load: 2 for I/O errors, 1 for everything else. */
int kpCli_exitFor(kapsul_status status);
/* End the process now with rc, its stdio flushed, leaving the engine, store and module to the
 * kernel: unmapping them one by one costs a TLB flush each (a hypercall on a virtual machine)
 * that exit does once. Returns (and the caller frees everything) in sanitizer builds, whose
 * leak check must see the frees. */
void kpCli_exitFast(int rc);

/* Define the "spectest" host module of the official WAST scripts in a linker (spectest.c):
 * print, print_i32, print_i64, print_f32, print_f64, print_i32_f32, print_f64_f64 (silent unless
 * print is true), global_i32/global_i64 = 666, global_f32/global_f64 = 666.6, table (10..20
 * funcref), memory (1..2 pages). */
kapsul_status kpSpectest_define(kapsul_store *store, kapsul_linker *linker, bool print, kapsul_error *err);

/* Report a usage error of subcommand `cmd` on stderr ("kapsul CMD: MESSAGE" and a pointer to
 * --help) and return KP_EXIT_USAGE. */
int kpCli_usageError(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option values (flags.c): a size ("64M", "1G", "4096") in bytes; a duration ("2s", "500ms",
 * "10us", "1m", a bare number of seconds) in ns. false when the text is not one. */
bool kpCli_parseSize(const char *s, size_t *out);
bool kpCli_parseDuration(const char *s, uint64_t *out);
/* Split option argv[*i] into its name (into name[cap]) and value: "--name=VALUE", or the next
 * argument (advancing *i; NULL when there is none). */
void kpCli_splitOption(int argc, char **argv, int *i, char *name, size_t cap, char **val);

/* `kapsul serve` and `kapsul up` (serve.c): exec kapsul-serve from kapsul's own directory. */
int kpCli_serve(int argc, char **argv);
int kpCli_up(int argc, char **argv);

/* `kapsul oci` (oci.c): exec kapsul-oci from kapsul's own directory. */
int kpCli_oci(int argc, char **argv);
/* True if arg names no existing file and reads as an image reference (oci:DIR..., or
 * HOST/REPO... where HOST has a '.' or ':' or is localhost, not ending in .wasm or .wat, HOST not
 * "." or ".."). */
bool kpCli_isOciRef(const char *arg);
/* Pull ref into kapsul's OCI cache (kapsul-oci fetch) and put the path of the module, or of the
 * application directory, into out. Loopback registries are reached over plain HTTP. Errors are
 * printed (by kapsul-oci); returns KP_EXIT_OK or KP_EXIT_FAIL. */
int kpCli_ociFetch(const char *cmd, const char *ref, char *out, size_t cap);
/* `kapsul up -f REF`: replace a reference given to -f/--from by the fetched application's
 * directory, in argv. KP_EXIT_OK (also when there is none) or KP_EXIT_FAIL (printed). */
int kpCli_ociResolveFrom(int argc, char **argv);

/* True if argv[i] is -h or --help. */
bool kpCli_isHelp(const char *arg);

/* An option that takes a value: if argv[*i] is short_name or long_name followed by its value
 * ("-o DIR", "--output DIR") or long_name=VALUE, set *val, advance *i past what it used and
 * return 1; return 0 if argv[*i] is another argument, -1 if the value is missing. short_name may
 * be NULL. */
int kpCli_optionValue(int argc, char **argv, int *i, const char *short_name, const char *long_name,
                      const char **val);

#endif /* KP_CLI_H */
