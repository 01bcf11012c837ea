/*
 * run.c -- `kapsul run [options] FILE [ARGS...]`: run a WASI command, or call one export.
 *
 * Nothing of the host is granted unless a flag says so: no directories, no environment variables,
 * no sockets; stdin/stdout/stderr are the only fds a guest starts with.
 *
 * Exit status:
 *   the guest's proc_exit code (0 when _start returns normally or --invoke succeeds);
 *   134 when execution traps (including --timeout and --fuel), after printing the trap's kind and
 *       the wasm backtrace on stderr -- wasmtime's convention on Unix (128 + SIGABRT);
 *   1   when the module is invalid or cannot be linked or instantiated for another reason;
 *   2   for a bad flag, a missing or unreadable file, or a bad --invoke argument.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "wasip2/wasip2.h"

#define KP_EXIT_TRAP 134
#define KP_PROFILE_INTERVAL_NS 1000000u /* --profile: one sample per millisecond */

typedef struct kpRunOpts {
    KP_VEC(kapsul_wasi_dir) dirs;
    KP_VEC(char *) env; /* "NAME=VALUE", owned */
    KP_VEC(const char *) listen;
    kpP2Net *net; /* --allow-tcp-connect and the other wasi:sockets grants (components) */
    const char *invoke;
    const char *argv0; /* the guest's argv[0]; default FILE */
    const char *trace; /* --trace-wasi: "" for stderr, else a file; NULL: off */
    FILE *trace_out;
    const char *profile; /* --profile: the output file ("" = the default name); NULL: off */
    bool profile_folded;
    bool perf_map;  /* --perf-map or --profile=perfmap: /tmp/perf-PID.map for Linux perf */
    kpCliTier tier; /* --tier native: compile (cached) with kapsul-llvmc */
    kapsul_config config;
    uint64_t timeout_ns, fuel;
    uint64_t deadline; /* from timeout_ns, set when the guest starts */
    const char *file;
    char **args;
    int nargs; /* the guest's arguments after FILE */
} kpRunOpts;

static void usage(FILE *f) {
    fputs("usage: kapsul run [options] FILE [ARGS...]\n"
          "Run a WebAssembly module (.wasm or .wat): its _start export, or --invoke NAME. FILE may be an\n"
          "image reference (HOST/REPO:TAG or oci:DIR:TAG; pulled into the cache, see kapsul oci).\n"
          "Nothing of the host is visible to the guest unless granted:\n"
          "  --dir HOST[::GUEST][:ro]  preopen directory HOST as GUEST (default: HOST); :ro = read-only\n"
          "  --env NAME=VALUE          set an environment variable\n"
          "  --env NAME                pass one variable from kapsul's own environment\n"
          "  --tcplisten ADDR:PORT     preopen a listening TCP socket (sock_accept)\n"
          "  --allow-tcp-connect HOST:PORT  a component may connect to HOST:PORT (wasi:sockets)\n"
          "  --allow-tcp-bind ADDR:PORT     ... bind (and listen) on ADDR:PORT\n"
          "  --allow-udp-bind ADDR:PORT     ... bind a UDP socket on ADDR:PORT\n"
          "  --allow-udp-send HOST:PORT     ... send datagrams to HOST:PORT\n"
          "  --allow-ip-name-lookup         ... resolve host names through the system's resolver\n"
          "                                 HOST: IPv4, [IPv6], localhost, a name (resolved now) or *;\n"
          "                                 PORT: N, LOW-HIGH or * (0 = any free port, for a bind).\n"
          "                                 Without a grant a socket call fails with access-denied.\n"
          "  --tier interp|native      interpreter (default), or native code compiled through LLVM\n"
          "                            (once, cached by content hash; a .kwasm always runs native)\n"
          "  --cache DIR               where --tier native keeps compiled modules\n"
          "                            (default $XDG_CACHE_HOME/kapsul)\n"
          "  --invoke NAME             call export NAME with ARGS parsed by its parameter types;\n"
          "                            results are printed one per line\n"
          "  --max-memory SIZE         cap each linear memory (bytes, or with K/M/G suffix)\n"
          "  --timeout DURATION        trap after DURATION (e.g. 500ms, 2s, 1m; bare number = s)\n"
          "  --fuel N                  trap after N units of work (deterministic)\n"
          "  --stack SIZE              wasm stack size (bytes, or with K/M/G suffix)\n"
          "  --max-call-depth N        trap after N nested wasm calls (default 10000)\n"
          "  --argv0 NAME              the guest's argv[0] (default: FILE)\n"
          "  --trace-wasi[=FILE]       print every WASI call with its arguments and result\n"
          "                            (strace-style) on stderr, or into FILE\n"
          "  --profile[=FILE]          sample the guest's wasm stack every 1 ms and write a profile\n"
          "                            (default kapsul-profile.json: speedscope JSON, which\n"
          "                            speedscope.app and the Firefox Profiler open)\n"
          "  --profile-format F        speedscope (default) or folded (flamegraph.pl's input;\n"
          "                            default file kapsul-profile.folded)\n"
          "  --perf-map                with the native tier, write /tmp/perf-PID.map so that\n"
          "                            `perf record` / `perf report` name wasm functions (also\n"
          "                            spelled --profile=perfmap, as wasmtime does)\n"
          "  --                        end of options\n"
          "  -h, --help                this text\n"
          "A component (a wasi:cli/run command, e.g. from `jco new --wasi-command`) runs with\n"
          "WASI 0.2 on the same grants: its run export, or --invoke 'NAME(ARGS)', an exported\n"
          "function called with WAVE arguments (\"text\", 42, [1, 2], {x: 1}, some(1), ok);\n"
          "its results are printed in WAVE. --trace-wasi prints each WASI 0.2 call with its\n"
          "arguments and results in WAVE.\n"
          "Exit status: the guest's exit code (a component's exit(err) or failed run is 1); 134\n"
          "on a trap; 1 for an invalid or unlinkable module; 2 for bad flags or unreadable files.\n",
          f);
}

/* HOST[::GUEST][:ro]. The ":ro" suffix is taken as the flag, so a host directory whose name
 * ends in ":ro" must be given as "NAME:ro::GUEST". */
static bool add_dir(kpRunOpts *o, char *spec) {
    kapsul_wasi_dir d = { .host_path = spec, .guest_path = NULL, .read_only = false };
    size_t n = strlen(spec);
    if (n > 3 && strcmp(spec + n - 3, ":ro") == 0) {
        d.read_only = true;
        spec[n - 3] = 0;
    }
    char *sep = strstr(spec, "::");
    if (sep) {
        *sep = 0;
        d.guest_path = sep + 2;
    }
    if (!*d.host_path || (d.guest_path && !*d.guest_path) || kpVec_grow(&o->dirs) != 0) return false;
    o->dirs.v[o->dirs.n++] = d;
    return true;
}

static int add_env(kpRunOpts *o, const char *spec) {
    char *s;
    if (strchr(spec, '=')) {
        s = kp_strndup(spec, strlen(spec));
    } else {
        const char *v = getenv(spec);
        if (!v) return 0; /* not set on the host: nothing to pass */
        size_t a = strlen(spec), b = strlen(v);
        s = kp_malloc(a + b + 2);
        if (s) {
            memcpy(s, spec, a);
            s[a] = '=';
            memcpy(s + a + 1, v, b + 1);
        }
    }
    if (!s || kpVec_grow(&o->env) != 0) {
        kp_free(s);
        return -1;
    }
    o->env.v[o->env.n++] = s;
    return 0;
}

/* One option with its value (from "--opt=value" or the next argument). Returns 0, or an exit
 * status on error. */
static int take_option(kpRunOpts *o, const char *name, char *val) {
    size_t sz;
    if (!val) {
        fprintf(stderr, "kapsul run: %s needs a value\n", name);
        return KP_EXIT_USAGE;
    }
    if (strcmp(name, "--dir") == 0) {
        if (!add_dir(o, val)) goto bad;
    } else if (strcmp(name, "--env") == 0) {
        if (val[0] == '=' || add_env(o, val) != 0) goto bad;
    } else if (strcmp(name, "--tcplisten") == 0) {
        if (kpVec_grow(&o->listen) != 0) goto bad;
        o->listen.v[o->listen.n++] = val;
    } else if (strncmp(name, "--allow-", 8) == 0) {
        static const char *const kinds[] = { "--allow-tcp-connect", "--allow-tcp-bind", "--allow-udp-bind",
                                             "--allow-udp-send" };
        size_t k = 0;
        while (k < 4 && strcmp(name, kinds[k]) != 0) k++;
        kapsul_error e = { 0 };
        if (k == 4) {
            fprintf(stderr, "kapsul run: unknown option %s (see kapsul run --help)\n", name);
            return KP_EXIT_USAGE;
        }
        if ((!o->net && kpP2Net_new(&o->net, &e) != KAPSUL_OK) ||
            kpP2Net_allow(o->net, (kpP2Allow)k, val, &e) != KAPSUL_OK) {
            fprintf(stderr, "kapsul run: %s: %s\n", name, e.message);
            return KP_EXIT_USAGE;
        }
    } else if (strcmp(name, "--invoke") == 0) {
        o->invoke = val;
    } else if (strcmp(name, "--tier") == 0) {
        if (strcmp(val, "native") == 0) o->tier.native = true;
        else if (strcmp(val, "interp") == 0) o->tier.native = false;
        else goto bad;
    } else if (strcmp(name, "--cache") == 0) {
        o->tier.cache = val;
    } else if (strcmp(name, "--max-memory") == 0) {
        if (!kpCli_parseSize(val, &sz) || sz == 0) goto bad;
        o->config.max_memory_bytes = sz;
    } else if (strcmp(name, "--stack") == 0) {
        if (!kpCli_parseSize(val, &sz) || sz == 0) goto bad;
        o->config.stack_bytes = sz;
    } else if (strcmp(name, "--profile-format") == 0) {
        if (strcmp(val, "folded") == 0) o->profile_folded = true;
        else if (strcmp(val, "speedscope") == 0) o->profile_folded = false;
        else goto bad;
    } else if (strcmp(name, "--argv0") == 0) {
        o->argv0 = val;
    } else if (strcmp(name, "--max-call-depth") == 0) {
        char *end;
        errno = 0;
        if (val[0] < '0' || val[0] > '9') goto bad;
        unsigned long long d = strtoull(val, &end, 10);
        if (*end || errno || d == 0 || d > UINT32_MAX) goto bad;
        o->config.max_call_depth = (uint32_t)d;
    } else if (strcmp(name, "--timeout") == 0) {
        if (!kpCli_parseDuration(val, &o->timeout_ns) || o->timeout_ns == 0) goto bad;
    } else if (strcmp(name, "--fuel") == 0) {
        char *end;
        errno = 0;
        if (val[0] < '0' || val[0] > '9') goto bad;
        o->fuel = strtoull(val, &end, 10);
        if (*end || errno || o->fuel == 0) goto bad;
    } else {
        fprintf(stderr, "kapsul run: unknown option %s (see kapsul run --help)\n", name);
        return KP_EXIT_USAGE;
    }
    return 0;
bad:
    fprintf(stderr, "kapsul run: bad value for %s: '%s'\n", name, val);
    return KP_EXIT_USAGE;
}

static int parse_args(kpRunOpts *o, int argc, char **argv) {
    int i = 1;
    for (; i < argc; i++) {
        char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == 0) break;
        if (kpCli_isHelp(a)) {
            usage(stdout);
            return -1;
        }
        /* Flags whose value is optional: only "--flag=VALUE" gives one. */
        if (strcmp(a, "--trace-wasi") == 0 || strncmp(a, "--trace-wasi=", 13) == 0) {
            o->trace = a[12] ? a + 13 : "";
            continue;
        }
        if (strcmp(a, "--allow-ip-name-lookup") == 0) {
            kapsul_error e = { 0 };
            if ((!o->net && kpP2Net_new(&o->net, &e) != KAPSUL_OK) ||
                kpP2Net_allow(o->net, KP_P2_NAME_LOOKUP, NULL, &e) != KAPSUL_OK)
                return KP_EXIT_FAIL;
            continue;
        }
        if (strcmp(a, "--perf-map") == 0 || strcmp(a, "--profile=perfmap") == 0) {
            o->perf_map = true;
            continue;
        }
        if (strcmp(a, "--profile") == 0 || strncmp(a, "--profile=", 10) == 0) {
            o->profile = a[9] ? a + 10 : "";
            continue;
        }
        char name[32], *val;
        kpCli_splitOption(argc, argv, &i, name, sizeof name, &val);
        int st = take_option(o, name, val);
        if (st) return st;
    }
    if (i >= argc) {
        fprintf(stderr, "kapsul run: missing FILE (see kapsul run --help)\n");
        return KP_EXIT_USAGE;
    }
    o->file = argv[i];
    o->args = argv + i + 1;
    o->nargs = argc - i - 1;
    return 0;
}

/* ---- Values on the command line ---------------------------------------------------------------- */

/* Parse one --invoke argument for a parameter of kind k: integers in decimal within the signed
 * range of the width, or 0x hex as a bit pattern of the width (0xFFFFFFFF is i32 -1); anything
 * out of range is refused rather than wrapped. Floats as C's strtod reads them (inf, nan too). */
static bool parse_val(const char *s, kapsul_valkind k, kapsul_val *out) {
    char *end;
    errno = 0;
    out->kind = k;
    if (k == KAPSUL_I32 || k == KAPSUL_I64) {
        bool neg = s[0] == '-';
        const char *p = neg ? s + 1 : s;
        if (*p < '0' || *p > '9') return false;
        unsigned long long v = strtoull(p, &end, 0);
        if (*end || errno) return false;
        bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
        if (!hex && !neg && v > (k == KAPSUL_I32 ? 0x7FFFFFFFull : 0x7FFFFFFFFFFFFFFFull)) return false;
        if (k == KAPSUL_I32) {
            if (neg ? v > 0x80000000ull : v > 0xFFFFFFFFull) return false;
            out->of.i32 = (int32_t)(uint32_t)(neg ? 0u - (uint32_t)v : (uint32_t)v);
        } else {
            if (neg && v > 0x8000000000000000ull) return false;
            out->of.i64 = (int64_t)(neg ? 0ull - v : v);
        }
        return true;
    }
    if (k == KAPSUL_F32) {
        float f = strtof(s, &end);
        if (end == s || *end) return false;
        memcpy(&out->of.f32_bits, &f, 4);
        return true;
    }
    if (k == KAPSUL_F64) {
        double d = strtod(s, &end);
        if (end == s || *end) return false;
        memcpy(&out->of.f64_bits, &d, 8);
        return true;
    }
    return false; /* v128 and references cannot be written on a command line */
}

static const char *kind_name(kapsul_valkind k) {
    switch (k) {
    case KAPSUL_I32: return "i32";
    case KAPSUL_I64: return "i64";
    case KAPSUL_F32: return "f32";
    case KAPSUL_F64: return "f64";
    case KAPSUL_V128: return "v128";
    case KAPSUL_FUNCREF: return "funcref";
    case KAPSUL_EXTERNREF: return "externref";
    }
    return "?";
}

/* The shortest decimal text that reads back as the same float. */
static void print_float(double v, int maxprec, bool is_f32) {
    char buf[64];
    if (isnan(v)) {
        puts("NaN");
        return;
    }
    if (isinf(v)) {
        puts(v > 0 ? "inf" : "-inf");
        return;
    }
    for (int p = 1; p <= maxprec; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (is_f32 ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v) break;
    }
    puts(buf);
}

static void print_val(const kapsul_val *v) {
    switch (v->kind) {
    case KAPSUL_I32: printf("%" PRId32 "\n", v->of.i32); break;
    case KAPSUL_I64: printf("%" PRId64 "\n", v->of.i64); break;
    case KAPSUL_F32: {
        float f;
        memcpy(&f, &v->of.f32_bits, 4);
        print_float(f, 9, true);
        break;
    }
    case KAPSUL_F64: {
        double d;
        memcpy(&d, &v->of.f64_bits, 8);
        print_float(d, 17, false);
        break;
    }
    case KAPSUL_V128:
        printf("0x");
        for (int i = 15; i >= 0; i--) printf("%02x", v->of.v128[i]);
        printf("\n");
        break;
    case KAPSUL_FUNCREF: puts(v->of.funcref ? "<funcref>" : "ref.null func"); break;
    case KAPSUL_EXTERNREF: puts(v->of.externref ? "<externref>" : "ref.null extern"); break;
    }
}

/* ---- Running ------------------------------------------------------------------------------------ */

/* The exit status for how a call into wasm ended; prints a trap with its backtrace. */
static int report(const kpRunOpts *o, kapsul_status st, const kapsul_error *err) {
    if (st == KAPSUL_OK) return KP_EXIT_OK;
    if (st == KAPSUL_ERR_EXIT) return err->exit_code;
    if (st == KAPSUL_ERR_TRAP) {
        fprintf(stderr, "kapsul run: %s: trap (%s): %s\n", o->file, kapsul_trap_name(err->trap),
                err->message[0] ? err->message : kapsul_trap_message(err->trap));
        kpCli_printBacktrace(stderr, err);
        return KP_EXIT_TRAP;
    }
    fprintf(stderr, "kapsul run: %s: %s: %s\n", o->file, kapsul_status_name(st), err->message);
    return KP_EXIT_FAIL;
}

/* --invoke: call a reactor's _initialize first (the WASI reactor ABI), then the export with the
 * arguments parsed from its parameter types. */
static int invoke(kpRunOpts *o, kapsul_store *store, kapsul_instance *inst, kapsul_error *err) {
    kapsul_func *init = kapsul_instance_func(inst, "_initialize");
    kapsul_func *f = kapsul_instance_func(inst, o->invoke);
    kapsul_val args[64], results[64];
    if (!f) {
        fprintf(stderr, "kapsul run: %s: no exported function '%s'\n", o->file, o->invoke);
        return KP_EXIT_FAIL;
    }
    uint32_t np = kapsul_func_param_count(f), nr = kapsul_func_result_count(f);
    if (np > 64 || nr > 64) {
        fprintf(stderr, "kapsul run: %s: '%s' has too many parameters or results\n", o->file, o->invoke);
        return KP_EXIT_FAIL;
    }
    if ((uint32_t)o->nargs != np) {
        fprintf(stderr, "kapsul run: '%s' takes %" PRIu32 " argument(s), %d given\n", o->invoke, np,
                o->nargs);
        return KP_EXIT_USAGE;
    }
    for (uint32_t i = 0; i < np; i++) {
        if (!parse_val(o->args[i], kapsul_func_param(f, i), &args[i])) {
            fprintf(stderr, "kapsul run: argument %" PRIu32 " of '%s': cannot read '%s' as %s\n", i + 1,
                    o->invoke, o->args[i], kind_name(kapsul_func_param(f, i)));
            return KP_EXIT_USAGE;
        }
    }
    kapsul_status st = KAPSUL_OK;
    if (init && init != f) st = kapsul_func_call(store, init, NULL, 0, NULL, 0, err);
    if (st == KAPSUL_OK) st = kapsul_func_call(store, f, args, np, results, nr, err);
    if (st != KAPSUL_OK) return report(o, st, err);
    for (uint32_t i = 0; i < nr; i++) print_val(&results[i]);
    fflush(stdout);
    return KP_EXIT_OK;
}

static void trace_line(void *env, const char *line) {
    kpRunOpts *o = env;
    fprintf(o->trace_out ? o->trace_out : stderr, "%s\n", line);
}

/* The guest's WASI context from the flags (argv, environment, preopens, stdio, deadline, trace);
 * an exit status when it cannot be made (printed). */
static int make_wasi(kpRunOpts *o, const char ***argv_out, kapsul_wasi **out, kapsul_error *err) {
    const char **argv = kp_calloc((size_t)o->nargs + 1, sizeof *argv);
    *argv_out = argv;
    if (!argv) {
        fprintf(stderr, "kapsul run: out of memory\n");
        return KP_EXIT_FAIL;
    }
    argv[0] = o->argv0 ? o->argv0 : o->file;
    for (int i = 0; i < o->nargs; i++) argv[i + 1] = o->args[i];
    if (o->timeout_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        o->deadline = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + o->timeout_ns;
    }
    kapsul_wasi_config wc = {
        .argv = argv,
        .argc = (size_t)o->nargs + 1,
        .env = (const char *const *)o->env.v,
        .envc = o->env.n,
        .dirs = o->dirs.v,
        .ndirs = o->dirs.n,
        .tcp_listen = o->listen.v,
        .ntcp_listen = o->listen.n,
        .stdin_fd = 0,
        .stdout_fd = 1,
        .stderr_fd = 2,
        .deadline_ns = o->deadline,
        .trace = o->trace ? trace_line : NULL,
        .trace_env = o,
    };
    if (o->trace && o->trace[0] && !(o->trace_out = fopen(o->trace, "w"))) {
        fprintf(stderr, "kapsul run: --trace-wasi: cannot write %s: %s\n", o->trace, strerror(errno));
        return KP_EXIT_USAGE;
    }
    kapsul_status st = kapsul_wasi_new(&wc, out, err);
    if (st != KAPSUL_OK) {
        fprintf(stderr, "kapsul run: %s\n", err->message);
        return st == KAPSUL_ERR_NOMEM ? KP_EXIT_FAIL : KP_EXIT_USAGE;
    }
    return KP_EXIT_OK;
}

/* Load, link with WASI, instantiate (the start function runs under the limits too), then run
 * _start or the --invoke export. */
static int run_module(kpRunOpts *o, kapsul_error *err) {
    int rc = KP_EXIT_FAIL;
    kpBuf bytes = { 0 };
    kapsul_engine *engine = NULL;
    kapsul_module *module = NULL;
    kapsul_store *store = NULL;
    kapsul_linker *linker = NULL;
    kapsul_wasi *wasi = NULL;
    kapsul_instance *inst = NULL;
    const char **argv = NULL;
    kapsul_status st = kpCli_loadModuleBytes(o->file, &bytes, NULL, err);
    bool component = st == KAPSUL_OK && kpCli_isComponent(&bytes);
    if (st == KAPSUL_OK && !component && o->tier.native) {
        kpBuf kw;
        st = kpCli_nativeArtifact(&o->tier, bytes.data, bytes.len, &kw, err);
        kpBuf_free(&bytes);
        bytes = kw;
    }
    if (st != KAPSUL_OK) {
        kpCli_printError(stderr, o->file, err);
        rc = kpCli_exitFor(st);
        goto fail;
    }
    if (kapsul_engine_new(&o->config, &engine, err) != KAPSUL_OK) goto nomem;
    if (component) {
        if ((rc = make_wasi(o, &argv, &wasi, err)) == KP_EXIT_OK) {
            kpCliComponentRun cr = { .file = o->file,
                                     .wasi = wasi,
                                     .fuel = o->fuel,
                                     .deadline = o->deadline,
                                     .invoke = o->invoke,
                                     .net = o->net,
                                     .trace = o->trace ? trace_line : NULL,
                                     .trace_env = o,
                                     .tier = &o->tier };
            rc = kpCli_runComponent(engine, &bytes, &cr, err);
        }
        goto fail;
    }
    if ((st = kapsul_module_new(engine, bytes.data, bytes.len, &module, err)) != KAPSUL_OK) {
        kpCli_printError(stderr, o->file, err);
        rc = kpCli_exitFor(st);
        goto fail;
    }
    if (o->perf_map && (rc = kpCli_perfMapAdd("run", module, o->file, NULL)) != KP_EXIT_OK) goto fail;
    rc = KP_EXIT_FAIL;
    if ((rc = make_wasi(o, &argv, &wasi, err)) != KP_EXIT_OK) goto fail;
    uint64_t deadline = o->deadline;
    if (kapsul_store_new(engine, &store, err) != KAPSUL_OK ||
        kapsul_linker_new(store, &linker, err) != KAPSUL_OK ||
        kapsul_wasi_define(wasi, linker, err) != KAPSUL_OK)
        goto nomem;
    if (o->fuel) kapsul_store_set_fuel(store, o->fuel);
    if (deadline) kapsul_store_set_deadline(store, deadline);
    st = kapsul_linker_instantiate(linker, module, &inst, err);
    if (st != KAPSUL_OK) {
        rc = report(o, st, err);
        goto fail;
    }
    if (o->profile && !kpCli_profileStart(store, KP_PROFILE_INTERVAL_NS)) {
        fprintf(stderr, "kapsul run: --profile: cannot start the sampling timer: %s\n", strerror(errno));
        rc = KP_EXIT_FAIL;
        goto fail;
    }
    if (o->invoke) {
        rc = invoke(o, store, inst, err);
    } else {
        kapsul_func *start = kapsul_instance_func(inst, "_start");
        rc = KP_EXIT_OK;
        if (start) {
            if (kapsul_func_param_count(start) || kapsul_func_result_count(start)) {
                fprintf(stderr, "kapsul run: %s: _start must take and return nothing\n", o->file);
                rc = KP_EXIT_FAIL;
            } else {
                rc = report(o, kapsul_func_call(store, start, NULL, 0, NULL, 0, err), err);
            }
        }
    }
    if (o->profile) {
        kpCli_profileStop();
        const char *path = o->profile[0]       ? o->profile
                           : o->profile_folded ? "kapsul-profile.folded"
                                               : "kapsul-profile.json";
        int prc = kpCli_profileWrite(path, o->profile_folded, o->file, KP_PROFILE_INTERVAL_NS);
        if (rc == KP_EXIT_OK) rc = prc;
    }
    goto fail;
nomem:
    fprintf(stderr, "kapsul run: out of memory\n");
    rc = KP_EXIT_FAIL;
fail:
    fflush(stdout);
    kpCli_exitFast(rc);
    if (linker) kapsul_linker_free(linker);
    if (store) kapsul_store_free(store);
    kapsul_wasi_free(wasi);
    if (module) kapsul_module_free(module);
    if (engine) kapsul_engine_free(engine);
    kp_free(argv);
    kpBuf_free(&bytes);
    if (o->trace_out) fclose(o->trace_out);
    return rc;
}

int kpCli_run(int argc, char **argv) {
    kpRunOpts o;
    /* A guest writing to a closed pipe gets EPIPE; kapsul itself must not die of SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    kapsul_error err;
    memset(&o, 0, sizeof o);
    memset(&err, 0, sizeof err);
    int rc = parse_args(&o, argc, argv);
    char fetched[4096];
    if (rc == 0 && kpCli_isOciRef(o.file)) { /* kapsul run REF: pulled into the cache first (oci.c) */
        rc = kpCli_ociFetch("run", o.file, fetched, sizeof fetched);
        o.file = fetched;
    }
    if (rc == 0) rc = run_module(&o, &err);
    else if (rc < 0) rc = KP_EXIT_OK;
    for (size_t i = 0; i < o.env.n; i++) kp_free(o.env.v[i]);
    kpVec_free(&o.env);
    kpVec_free(&o.dirs);
    kpVec_free(&o.listen);
    kpP2Net_free(o.net);
    return rc;
}
