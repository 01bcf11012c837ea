/*
 * runc.h -- kapsul-runc, an OCI runtime with runc's command line (src/cli/runc_main.c parses it).
 *
 * A container whose process runs a .wasm (process.args[0] ends in ".wasm", or the compat image's
 * annotation module.wasm.image/variant=compat) runs in kapsul's sandbox; every other one is handed
 * to the real runc (/usr/sbin/runc) with the same arguments, so containerd's io.containerd.runc.v2
 * shim can use kapsul-runc as its BinaryName for a whole node.
 *
 * The lifecycle mirrors runc's: `create` validates the module, forks the container process and
 * returns once that process waits on a fifo in the state directory (ROOT/ID/exec.fifo); `start`
 * opens the fifo, which lets the process run the module; the process's exit status is the
 * container's, and the shim (a subreaper) reaps it. ROOT/ID/kapsul.json records what `state`,
 * `kill` and `delete` need; its presence is what marks an ID as ours (runc's own containers have
 * ROOT/ID/state.json instead, and any command on them is delegated).
 *
 * Files: runc_spec.c (config.json -> kpRuncSpec), runc_state.c (kapsul.json, status, the log),
 * runc_cmd.c (the commands), runc_wasm.c (the container process).
 */
#ifndef KP_OCI_RUNC_H
#define KP_OCI_RUNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kapsul.h"

/* Hard limits on what a bundle may hand us: a config.json is a few KiB in practice. */
#define KP_RUNC_MAX_CONFIG (4u << 20)               /* bytes of config.json */
#define KP_RUNC_MAX_MODULE (1024u << 20)            /* bytes of the .wasm */
#define KP_RUNC_MAX_STATE (1u << 20)                /* bytes of kapsul.json */
#define KP_RUNC_MAX_ID 1024                         /* runc's IDs: [A-Za-z0-9_+.-]+ */
#define KP_RUNC_START_WAIT_NS (10ull * 1000000000u) /* start: the process must open the fifo by then */
#define KP_RUNC_KILL_WAIT_NS (10ull * 1000000000u)  /* delete --force: SIGKILL must end it by then */

/* The default delegate; $KAPSUL_RUNC_DELEGATE overrides it (tests, other install layouts). */
#define KP_RUNC_DELEGATE "/usr/sbin/runc"
#define KP_RUNC_DEFAULT_ROOT "/run/kapsul-runc"
#define KP_RUNC_COMPAT_KEY "module.wasm.image/variant"

/* A bind mount of config.json that becomes a preopen. */
typedef struct kpRuncMount {
    char *source, *dest;
    bool read_only;
} kpRuncMount;

typedef struct kpRuncKV {
    char *key, *value;
} kpRuncKV;

/* What kapsul-runc takes from config.json. Every string is owned (kpRunc_specFree). */
typedef struct kpRuncSpec {
    char *oci_version;
    char **args; /* process.args, at least one */
    size_t nargs;
    char **env; /* process.env, "NAME=VALUE" */
    size_t nenv;
    char *cwd;       /* process.cwd (absolute, as the spec requires) */
    char *root_path; /* root.path as written (relative to the bundle or absolute) */
    bool root_ro;
    bool terminal;       /* process.terminal */
    kpRuncMount *mounts; /* bind mounts only (type "bind" or a "bind"/"rbind" option) */
    size_t nmounts;
    bool net_ns;           /* linux.namespaces holds a "network" entry */
    char *net_ns_path;     /* ... with this path (join it); NULL: a new namespace */
    uint64_t memory_limit; /* linux.resources.memory.limit; 0 = none */
    char *cgroups_path;    /* linux.cgroupsPath; NULL = none */
    kpRuncKV *annotations;
    size_t nannotations;
} kpRuncSpec;

/* Free n key/value pairs and the array. */
void kpRunc_kvFree(kpRuncKV *kv, size_t n);
/* The pairs as a new JSON object (NULL when out of memory). */
struct json_t *kpRunc_kvJson(const kpRuncKV *kv, size_t n);

/* Parse config.json's text (len bytes, need not be NUL-terminated). Returns 0, or -1 with a
 * message naming the field that is wrong in msg (cap bytes); *out is then empty. Only what
 * kapsul-runc uses is checked; fields it ignores may hold anything JSON allows. */
int kpRunc_specParse(const char *text, size_t len, kpRuncSpec *out, char *msg, size_t cap);
void kpRunc_specFree(kpRuncSpec *spec);
/* Whether the container is a wasm one (see the top of this file). */
bool kpRunc_specIsWasm(const kpRuncSpec *spec);

/* The global options and what every command shares. */
typedef struct kpRunc {
    char root[4096];     /* --root, made absolute */
    char log[4096];      /* --log, made absolute; empty: errors go to stderr */
    bool log_json;       /* --log-format json */
    bool systemd_cgroup; /* --systemd-cgroup: cgroupsPath is slice:prefix:name (not joined yet) */
} kpRunc;

typedef enum kpRuncStatus {
    KP_RUNC_CREATED,
    KP_RUNC_RUNNING,
    KP_RUNC_STOPPED
} kpRuncStatus;

/* ROOT/ID/kapsul.json, and the status derived from the process and the fifo. */
typedef struct kpRuncState {
    char *id, *bundle, *rootfs, *created; /* created: RFC 3339 */
    char *cgroup;                         /* the cgroupsPath joined, removed by delete; NULL = none */
    int pid;
    uint64_t start; /* the process's start tick (kpOs_procStart), to tell a recycled pid apart */
    kpRuncKV *annotations;
    size_t nannotations;
    kpRuncStatus status;
} kpRuncState;

/* An error or warning: a line in --log (runc's JSON lines or logrus text), else on stderr.
 * Returns 1 (the exit status of a failed command) so callers can `return kpRunc_error(...)`. */
int kpRunc_error(const kpRunc *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kpRunc_warn(const kpRunc *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether id is well-formed (runc's rule) and whether ROOT/ID/kapsul.json exists. */
bool kpRunc_idValid(const char *id);
bool kpRunc_owns(const kpRunc *rc, const char *id);
/* ROOT/ID[/name] into buf; false when it does not fit. */
bool kpRunc_path(const kpRunc *rc, const char *id, const char *name, char *buf, size_t cap);
/* The RFC 3339 time now (UTC, nanoseconds) into buf (at least 40 bytes). */
void kpRunc_now(char *buf, size_t cap);
/* Serialize / load ROOT/ID/kapsul.json. Load fills status; it returns 0, or 1 after logging. */
int kpRunc_stateSave(const kpRunc *rc, const kpRuncState *st);
int kpRunc_stateLoad(const kpRunc *rc, const char *id, kpRuncState *out);
/* Parse kapsul.json's text into *out (status not set). Returns 0 or -1 with msg. */
int kpRunc_stateParse(const char *text, size_t len, kpRuncState *out, char *msg, size_t cap);
void kpRunc_stateFree(kpRuncState *st);
/* Remove ROOT/ID and what it holds. */
void kpRunc_stateRemove(const kpRunc *rc, const char *id);

/* The commands. Each returns the process exit status (0, or 1 after logging an error).
 * kpRunc_create returns KP_RUNC_DELEGATE_STATUS when the bundle is not a wasm container. */
#define KP_RUNC_DELEGATE_STATUS (-1)
typedef struct kpRuncCreate {
    const char *bundle, *pid_file, *console_socket, *id;
} kpRuncCreate;
int kpRunc_create(const kpRunc *rc, const kpRuncCreate *opts);
int kpRunc_start(const kpRunc *rc, const char *id);
int kpRunc_state(const kpRunc *rc, const char *id);
int kpRunc_kill(const kpRunc *rc, const char *id, const char *signal, bool all);
int kpRunc_delete(const kpRunc *rc, const char *id, bool force);
int kpRunc_ps(const kpRunc *rc, const char *id, bool json);
int kpRunc_features(const kpRunc *rc);

/* The container process (runc_wasm.c), after fork in create: everything that can fail before
 * the module runs is done, then ready_fd gets one byte (0 = ready, else an error text follows)
 * and is closed; the process waits on fifo_path until start, runs the module and exits with
 * its status. Never returns. */
typedef struct kpRuncProc {
    const kpRunc *rc;
    const kpRuncSpec *spec;
    const char *cgroup;  /* join this cgroupsPath (NULL: none) */
    const char *console; /* process.terminal: send a pty's master here, use its slave as stdio */
    const char *rootfs;  /* absolute */
    kapsul_engine *engine;
    kapsul_module *module;
    const char *fifo_path;
    int ready_fd;
} kpRuncProc;
void kpRunc_process(const kpRuncProc *p) __attribute__((noreturn));

#endif /* KP_OCI_RUNC_H */
