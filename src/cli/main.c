/*
 * main.c -- the `kapsul` command: dispatch to one subcommand per file, in wasmtime's style
 * (`kapsul <command> [options]`, `--help` at both levels, `--version`).
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include <unistd.h>
#include "cli/cli.h"
#include "os/os.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    { "run", kpCli_run, "Run a WebAssembly module (a WASI command, or --invoke an export)" },
    { "wast", kpCli_wast, "Run WebAssembly spec-test scripts (.wast)" },
    { "validate", kpCli_validate, "Decode and validate a module" },
    { "inspect", kpCli_inspect, "List a module's sections, imports, exports and sizes" },
    { "wat2wasm", kpCli_wat2wasm, "Translate the text format to a binary module" },
    { "new", kpCli_new, "Create an application (spin.toml and a handler) from a template" },
    { "build", kpCli_build, "Run the build commands of an application's spin.toml" },
    { "compile", kpCli_compile, "Compile a module to native code (.kwasm) through LLVM" },
    { "serve", kpCli_serve, "Serve HTTP with one WAGI module or wasi:http component on every path" },
    { "up", kpCli_up, "Serve a Spin application (spin.toml) over HTTP" },
    { "oci", kpCli_oci, "Push and pull modules and applications to/from OCI registries and layouts" },
};
#define KP_NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "kapsul: a WebAssembly runtime\n"
               "\n"
               "Usage: kapsul <COMMAND> [OPTIONS] [ARGS...]\n"
               "\n"
               "Commands:\n");
    for (size_t i = 0; i < KP_NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "  %-10s %s\n"
            "\n"
            "Options:\n"
            "  -h, --help     Print help (`kapsul <COMMAND> --help` for a command's options)\n"
            "  -V, --version  Print version\n"
            "\n"
            "A .wat file is accepted wherever a .wasm file is.\n",
            "help", "Print this message or the help of the given command");
}

/* `kapsul help CMD` is `kapsul CMD --help`, as in wasmtime and cargo. */
static int help_command(int argc, char **argv) {
    if (argc < 2) {
        usage(stdout);
        return KP_EXIT_OK;
    }
    for (size_t i = 0; i < KP_NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            char *sub[] = { argv[1], "--help", NULL };
            return commands[i].fn(2, sub);
        }
    }
    fprintf(stderr, "kapsul: unknown command '%s'\n", argv[1]);
    return KP_EXIT_USAGE;
}

static bool has_module_suffix(const char *path) {
    size_t n = strlen(path);
    return (n > 5 && strcmp(path + n - 5, ".wasm") == 0) || (n > 4 && strcmp(path + n - 4, ".wat") == 0) ||
           (n > 6 && strcmp(path + n - 6, ".kwasm") == 0);
}

/* Page faults are the largest part of a short run's start-up on the virtual machines kapsul is
 * measured on (10-20 us each there, against under 1 us per page populated in one madvise), and a
 * `kapsul run hello.wasm` took some 35 more of them than a native hello. Two regions every command
 * writes at once: the heap glibc set up before main (about 132 KiB, where the module, its decoded
 * form and the runtime's small objects land) and the next 64 KiB of stack (the WASI write path
 * alone goes 40 KiB deep). Populating both costs about 50 us and saves some 20 faults. */
static void prefault_start(void) {
    void *lo = malloc(1);
    char *hi = sbrk(0);
    if (lo && (char *)lo < hi && hi - (char *)lo <= 1 << 20) kpOs_prefault(lo, (size_t)(hi - (char *)lo));
    free(lo);
    char here;
    size_t stack = 64 * 1024;
    kpOs_prefault((void *)((uintptr_t)&here - stack), stack);
}

int main(int argc, char **argv) {
    /* A fixed mmap threshold: glibc otherwise raises it each time a large block is freed, and
     * the loader's large transient vectors (validation, then lowering) then grow inside the heap,
     * where the blocks they leave behind are never returned. Loading a million nested if/else
     * peaked at 64 MB that way, 52 MB with this (bench/RESULTS.md, "Measurements behind decisions"). */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    prefault_start();
    if (argc < 2) {
        usage(stderr);
        return KP_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (kpCli_isHelp(cmd)) {
        usage(stdout);
        return KP_EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("kapsul %s\n", KP_CLI_VERSION);
        return KP_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) return help_command(argc - 1, argv + 1);
    for (size_t i = 0; i < KP_NCOMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0) {
            kpCli_command = commands[i].name;
            return commands[i].fn(argc - 1, argv + 1);
        }
    /* wasmtime's habit: `kapsul app.wasm ARGS` is `kapsul run app.wasm ARGS`. */
    if (has_module_suffix(cmd)) {
        argv[0] = "run";
        kpCli_command = "run";
        return kpCli_run(argc, argv);
    }
    if (cmd[0] == '-') fprintf(stderr, "kapsul: unknown option '%s'\n", cmd);
    else fprintf(stderr, "kapsul: unknown command '%s'\n", cmd);
    fprintf(stderr, "Run 'kapsul --help' for the list of commands.\n");
    return KP_EXIT_USAGE;
}
