/*
 * config.h -- every compile-time limit and default of kapsul, once.
 *
 * Each value can be overridden at build time (`-DKP_MAX_LOCALS=100000`, or CMake's
 * `-DCMAKE_C_FLAGS=...`); the checks at the end refuse combinations that would break an invariant
 * another part of the code relies on. Run-time choices (per engine, per store) live in kapsul.h's
 * kapsul_config and the store setters; these are the ceilings and defaults behind them.
 *
 * Wasm proposals are run-time feature flags, never #ifs here. The only build option that changes
 * behaviour is KP_TESTING (CMake KAPSUL_TESTING, on by default): it compiles in the test seams
 * (forced allocation failures, the WASI path walk without openat2, V8's NaN bits for the
 * differential test). A release build can turn it off.
 */
#ifndef KP_CONFIG_H
#define KP_CONFIG_H

/* ---- Module limits (module/): what a decoder accepts before KAPSUL_ERR_LIMIT -------------------- */
/* The values follow wasmtime's and V8's implementation limits where those exist, so a module that
 * loads there loads here; each bounds the memory a hostile module can make the decoder spend. */
#ifndef KP_MAX_TYPES
#define KP_MAX_TYPES 1000000u
#endif
#ifndef KP_MAX_FUNCS
#define KP_MAX_FUNCS 1000000u
#endif
#ifndef KP_MAX_GLOBALS
#define KP_MAX_GLOBALS 1000000u
#endif
#ifndef KP_MAX_IMPORTS
#define KP_MAX_IMPORTS 100000u
#endif
#ifndef KP_MAX_EXPORTS
#define KP_MAX_EXPORTS 100000u
#endif
#ifndef KP_MAX_LOCALS
#define KP_MAX_LOCALS 50000u /* per function, parameters included */
#endif
#ifndef KP_MAX_PARAMS
#define KP_MAX_PARAMS 1000u
#endif
#ifndef KP_MAX_RESULTS
#define KP_MAX_RESULTS 1000u
#endif
#ifndef KP_MAX_TABLE_ENTRIES
#define KP_MAX_TABLE_ENTRIES 10000000u
#endif
#ifndef KP_MAX_SEGMENTS
#define KP_MAX_SEGMENTS 100000u
#endif
#ifndef KP_MAX_BR_TABLE
#define KP_MAX_BR_TABLE 1000000u /* targets in one br_table (wasmtime: 1,000,000) */
#endif
#ifndef KP_MAX_FUNC_SIZE
#define KP_MAX_FUNC_SIZE (128u << 20) /* bytes in one function body */
#endif
/* Not a limit but the spec's: a wasm32 memory has at most 65,536 pages of 64 KiB. */
#define KP_MAX_PAGES 65536u
#define KP_PAGE_SIZE 65536u

/* ---- Component limits (component/) ------------------------------------------------------------ */
/* Entries of one index space, items of one vector (fields, cases, exports, ...) in a component;
 * also the most types and core function signatures one binary may define in all (a type costs
 * the decoder 72 bytes, so this bounds it at about 72 MB however small the encoding). */
#ifndef KP_MAX_COMPONENT_ITEMS
#define KP_MAX_COMPONENT_ITEMS 1000000u
#endif
/* Components, component types, instance types and module types nested in each other: each level
 * costs the decoder one C frame. */
#ifndef KP_MAX_COMPONENT_NESTING
#define KP_MAX_COMPONENT_NESTING 100u
#endif
/* Components in one binary, the outermost included. */
#ifndef KP_MAX_COMPONENTS
#define KP_MAX_COMPONENTS 10000u
#endif
/* How deeply value types may nest (list<list<...>>): every walk over a type (printing, lifting,
 * lowering) may recurse this deep. wasmtime's limit is 100 too. */
#ifndef KP_MAX_COMPONENT_TYPE_DEPTH
#define KP_MAX_COMPONENT_TYPE_DEPTH 100u
#endif
/* Host memory one canonical-ABI call may spend on the values it lifts from a guest (a list of a
 * million records costs this much on the host, not in the guest): beyond it the call traps. */
#ifndef KP_MAX_CABI_HOST_BYTES
#define KP_MAX_CABI_HOST_BYTES (256u << 20)
#endif

/* wasi:http (src/wasip2/http.c): entries and bytes (names + values) one fields resource may hold,
 * and the bytes one body a guest writes may grow to. Beyond them: header-error invalid-syntax, and
 * a stream error. */
#ifndef KP_P2_MAX_FIELDS
#define KP_P2_MAX_FIELDS 1024u
#endif
#ifndef KP_P2_MAX_FIELD_BYTES
#define KP_P2_MAX_FIELD_BYTES (256u << 10)
#endif
#ifndef KP_P2_MAX_BODY
#define KP_P2_MAX_BODY (64u << 20)
#endif
/* Host memory all of one instance's wasi:http objects may hold at once (fields, bodies it
 * writes, responses it received, the objects themselves); beyond: invalid-syntax, a stream error,
 * or a trap where the call has no error to give. */
#ifndef KP_P2_MAX_HTTP_BYTES
#define KP_P2_MAX_HTTP_BYTES (256u << 20)
#endif

/* Component instances one instantiation may create (a component instantiated twice inside one
 * instantiated twice ... grows exponentially with the nesting), core instances likewise, and the
 * steps of the instantiation (definitions replayed, names compared): each bounds the work and
 * host memory a hostile component can make the host spend before it runs a line of code. */
#ifndef KP_MAX_COMPONENT_INSTANCES
#define KP_MAX_COMPONENT_INSTANCES 1000u
#endif
#ifndef KP_MAX_COMPONENT_CORE_INSTANCES
#define KP_MAX_COMPONENT_CORE_INSTANCES 1000u
#endif
#ifndef KP_MAX_COMPONENT_WORK
#define KP_MAX_COMPONENT_WORK 20000000u
#endif

/* ---- Text format (text/) ------------------------------------------------------------------------ */
/* Longest text one lexer call accepts: keeps every offset, length and token index below
 * KP_NO_MATCH (text/textint.h), so a token packs into 8 bytes. */
#ifndef KP_MAX_TEXT
#define KP_MAX_TEXT 0x1FFFFFF0u
#endif

/* ---- Engine (engine/) --------------------------------------------------------------------------- */
/* At most this many operands refer to locals at once during lowering (beyond it local.get copies),
 * so every bookkeeping scan is O(1) whatever the input. */
#ifndef KP_MAX_REFS
#define KP_MAX_REFS 32
#endif
/* Lowered code per function, in 32-bit words: a br_table whose stubs copy many values to many
 * labels could otherwise expand a valid body by orders of magnitude. */
#ifndef KP_MAX_CODE_WORDS
#define KP_MAX_CODE_WORDS (64u << 20)
#endif
/* Longest run of adjacent copies merged into one COPYN instruction. */
#ifndef KP_MAX_COPYN
#define KP_MAX_COPYN 32
#endif
/* Bulk memory and table operations work in chunks of this many bytes, checking for an interrupt
 * between chunks, so a deadline is honoured during a 4 GiB fill. */
#ifndef KP_BULK_CHUNK
#define KP_BULK_CHUNK (16ull << 20)
#endif
/* Address space reserved per linear memory on 64-bit hosts: any u32 address plus any u32 offset
 * plus an access width stays inside, so loads and stores need no bounds check. */
#ifndef KP_MEM_RESERVE
#define KP_MEM_RESERVE (8ull << 30)
#endif
/* Memory slots of a module template's pool when kapsul_template_config.pool_size is 0. */
#ifndef KP_TEMPLATE_POOL_SIZE
#define KP_TEMPLATE_POOL_SIZE 64u
#endif
/* Bytes at the start of a pooled memory reset by copying rather than madvise (see kapsul.h). */
#ifndef KP_TEMPLATE_KEEP_RESIDENT
#define KP_TEMPLATE_KEEP_RESIDENT (1u << 20)
#endif
/* The largest copy-on-write image a module template makes: a module whose active data segments
 * end further into its memory gets none (its instances apply the segments themselves). Only the
 * pages holding data are written to the image file, but a guest that reads the rest makes the
 * file's holes real pages, shared by every instance: up to this many bytes per template. */
#ifndef KP_TEMPLATE_MAX_IMAGE
#define KP_TEMPLATE_MAX_IMAGE (256u << 20)
#endif
/* Core modules with a memory that one component template pools (the first ones; the rest are
 * linked per instance). Components from today's toolchains have one to three. */
#ifndef KP_CTEMPLATE_MAX_POOLED
#define KP_CTEMPLATE_MAX_POOLED 8u
#endif
/* A component template's default keep_resident_bytes per core module: its whole initial memory
 * up to this many bytes (a componentize-js guest's wizer image is ~9 MiB; resetting it by copy
 * costs less than the copy-on-write faults its next request takes otherwise: docs/RATIONALE.md). */
#ifndef KP_CTEMPLATE_KEEP_RESIDENT_MAX
#define KP_CTEMPLATE_KEEP_RESIDENT_MAX (16u << 20)
#endif
/* Defaults of kapsul_config's zero fields. */
#ifndef KP_DEFAULT_STACK_BYTES
#define KP_DEFAULT_STACK_BYTES (1u << 20)
#endif
#ifndef KP_DEFAULT_CALL_DEPTH
#define KP_DEFAULT_CALL_DEPTH 10000u
#endif

/* ---- WASI (wasi/) ------------------------------------------------------------------------------- */
#ifndef KP_WASI_MAX_FDS
/* Guest fd slots per context: the host's RLIMIT_NOFILE is the real limit; this keeps a hostile
 * guest from growing the table past it. */
#define KP_WASI_MAX_FDS 65536u
#endif
#ifndef KP_WASI_DEFAULT_OUTPUT_CAP
#define KP_WASI_DEFAULT_OUTPUT_CAP (64u << 20) /* in-memory stdout/stderr, when the config says 0 */
#endif
#ifndef KP_WASI_MAX_LINE
#define KP_WASI_MAX_LINE 4096 /* stderr_line: a longer line is delivered in pieces of this size */
#endif
#ifndef KP_MAX_IOVS
#define KP_MAX_IOVS 1024 /* iovecs in one fd_read/fd_write (IOV_MAX on Linux) */
#endif
#ifndef KP_MAX_SYMLINKS
#define KP_MAX_SYMLINKS 40 /* symlinks followed while resolving one path (Linux's ELOOP limit) */
#endif
#ifndef KP_MAX_DEPTH
#define KP_MAX_DEPTH 256 /* path components below a preopen in the manual walk */
#endif

/* ---- Applications (app/): the TOML reader and the Spin manifest --------------------------------- */
#ifndef KP_TOML_MAX_INPUT
#define KP_TOML_MAX_INPUT (4u << 20) /* bytes of TOML text */
#endif
#ifndef KP_TOML_MAX_DEPTH
#define KP_TOML_MAX_DEPTH 64 /* nesting of arrays, inline tables and dotted keys */
#endif
#ifndef KP_TOML_MAX_TABLE_KEYS
#define KP_TOML_MAX_TABLE_KEYS 65536 /* entries in one table (big ones are hashed: toml.c) */
#endif
#ifndef KP_TOML_MAX_ARRAY
#define KP_TOML_MAX_ARRAY 65536 /* elements of one array */
#endif
#ifndef KP_MANIFEST_MAX_FILES
#define KP_MANIFEST_MAX_FILES 65536 /* file mounts per component after glob expansion */
#endif
/* kapsul new: a project name becomes a directory name, an application name and a component id;
 * the bound keeps messages and paths short. */
#ifndef KP_TEMPLATE_MAX_NAME
#define KP_TEMPLATE_MAX_NAME 64 /* bytes of a project name */
#endif

/* ---- Serve (serve/): WAGI and the HTTP front ----------------------------------------------------- */
#ifndef KP_WAGI_MAX_ENV_BYTES
#define KP_WAGI_MAX_ENV_BYTES (1u << 20) /* all "NAME=VALUE" strings of one request */
#endif
#ifndef KP_WAGI_MAX_REQUEST_HEADERS
#define KP_WAGI_MAX_REQUEST_HEADERS 256
#endif
#ifndef KP_WAGI_MAX_RESPONSE_HEAD
#define KP_WAGI_MAX_RESPONSE_HEAD (64u << 10) /* bytes of the guest's header block */
#endif
#ifndef KP_WAGI_MAX_RESPONSE_HEADERS
#define KP_WAGI_MAX_RESPONSE_HEADERS 128
#endif
#ifndef KP_HTTP_HOST
#define KP_HTTP_HOST "127.0.0.1" /* numeric IPv4 or IPv6 address to listen on */
#endif
#ifndef KP_HTTP_PORT
#define KP_HTTP_PORT 3000 /* Spin's default; 0 picks a free port */
#endif
#ifndef KP_HTTP_LOOPS
#define KP_HTTP_LOOPS 0 /* event-loop threads; 0 = one per online CPU */
#endif
#ifndef KP_HTTP_WORKERS
#define KP_HTTP_WORKERS 0 /* handler threads; 0 = two per online CPU */
#endif
#ifndef KP_HTTP_QUEUE_DEPTH
#define KP_HTTP_QUEUE_DEPTH 1024 /* requests waiting for a worker; beyond: 503 */
#endif
#ifndef KP_HTTP_MAX_CONNECTIONS
#define KP_HTTP_MAX_CONNECTIONS 4096 /* open client connections, all loops together */
#endif
#ifndef KP_HTTP_MAX_BODY
#define KP_HTTP_MAX_BODY (16u << 20) /* request body bytes; beyond: 413 */
#endif
#ifndef KP_HTTP_MAX_HEADER_BYTES
#define KP_HTTP_MAX_HEADER_BYTES (32u << 10) /* request line + header bytes; beyond: 431 */
#endif
#ifndef KP_HTTP_MAX_RESPONSE_BYTES
#define KP_HTTP_MAX_RESPONSE_BYTES (64u << 20) /* body a handler may produce; beyond: 500 */
#endif
#ifndef KP_HTTP_HEADER_TIMEOUT_MS
#define KP_HTTP_HEADER_TIMEOUT_MS 10000 /* HTTP/1: receive a whole request; keep-alive idle */
#endif
#ifndef KP_HTTP_IDLE_TIMEOUT_MS
#define KP_HTTP_IDLE_TIMEOUT_MS 30000 /* HTTP/2: a connection with no stream open */
#endif
#ifndef KP_HTTP_TLS_HANDSHAKE_TIMEOUT_MS
#define KP_HTTP_TLS_HANDSHAKE_TIMEOUT_MS 10000
#endif
#ifndef KP_HTTP_CLIENT_PROBE_MS
#define KP_HTTP_CLIENT_PROBE_MS 200 /* how often an HTTP/1 client is checked for hang-up */
#endif
#ifndef KP_HTTP_DRAIN_MS
#define KP_HTTP_DRAIN_MS 10000 /* kpHttp_stop: in-flight requests get this long */
#endif

/* kapsul serve / up (src/serve/instance.c, server.c). */
#ifndef KP_SERVE_MAX_STDOUT
#define KP_SERVE_MAX_STDOUT (KP_HTTP_MAX_RESPONSE_BYTES + KP_WAGI_MAX_RESPONSE_HEAD) /* read back */
#endif
#ifndef KP_SERVE_MAX_STDERR
#define KP_SERVE_MAX_STDERR (1u << 20) /* guest stderr bytes logged per request */
#endif
#ifndef KP_SERVE_STDERR_LINE
#define KP_SERVE_STDERR_LINE 4096 /* one logged stderr line is cut to this many bytes */
#endif
#ifndef KP_SERVE_MAX_TEMPLATES
#define KP_SERVE_MAX_TEMPLATES 1024 /* live module templates; older unused ones are freed */
#endif
#ifndef KP_SERVE_MAX_POOL_SLOTS
#define KP_SERVE_MAX_POOL_SLOTS 4096 /* memory slots of all live templates (8 GiB of address space each) */
#endif
#ifndef KP_SERVE_CANCEL_POLL_MS
#define KP_SERVE_CANCEL_POLL_MS 50 /* how often running guests are checked for cancellation */
#endif
#ifndef KP_SERVE_OTLP_BATCH
#define KP_SERVE_OTLP_BATCH 256 /* spans per OTLP export request */
#endif
#ifndef KP_SERVE_OTLP_FLUSH_MS
#define KP_SERVE_OTLP_FLUSH_MS 1000 /* a partial batch waits at most this long */
#endif
#ifndef KP_SERVE_OTLP_QUEUE
#define KP_SERVE_OTLP_QUEUE 65536 /* spans waiting; beyond: dropped and counted */
#endif
#ifndef KP_SERVE_TIMEOUT_STATUS
#define KP_SERVE_TIMEOUT_STATUS 504 /* a guest past --timeout (docs/RATIONALE.md) */
#endif

#if KP_HTTP_MAX_HEADER_BYTES > 8192 + 4096 * 100
#error "KP_HTTP_MAX_HEADER_BYTES above h2o's H2O_MAX_REQLEN would never be reached"
#endif

/* ---- Consistency checks ------------------------------------------------------------------------- */
#if KP_MAX_PARAMS > KP_MAX_LOCALS
#error "KP_MAX_PARAMS must not exceed KP_MAX_LOCALS: parameters are locals"
#endif
#if KP_MAX_REFS < 1 || KP_MAX_COPYN < 3
#error "KP_MAX_REFS must be at least 1 and KP_MAX_COPYN at least 3"
#endif
#if KP_MAX_TEXT >= 0x1FFFFFFF
#error "KP_MAX_TEXT must stay below KP_NO_MATCH (0x1FFFFFFF): tokens pack offsets into 29 bits"
#endif
#if KP_MEM_RESERVE < (8ull << 30)
#error "KP_MEM_RESERVE below 8 GiB cannot cover u32 address + u32 offset: bounds checks would be needed"
#endif
#if KP_MAX_IOVS < 1 || KP_MAX_SYMLINKS < 1 || KP_MAX_DEPTH < 1
#error "WASI limits must be positive"
#endif
#if KP_MAX_COMPONENT_TYPE_DEPTH < 1 || KP_MAX_COMPONENT_TYPE_DEPTH > 255
#error "KP_MAX_COMPONENT_TYPE_DEPTH must be 1..255: a type's depth is kept in one byte"
#endif
#if KP_TEMPLATE_POOL_SIZE < 1
#error "KP_TEMPLATE_POOL_SIZE must be at least 1: a template without slots cannot instantiate"
#endif
#if KP_DEFAULT_CALL_DEPTH < 1
#error "KP_DEFAULT_CALL_DEPTH must be at least 1"
#endif
#if KP_TEMPLATE_MAX_NAME < 1 || KP_TEMPLATE_MAX_NAME > 255
#error "KP_TEMPLATE_MAX_NAME must be 1..255: a project name is also a directory name"
#endif

#endif /* KP_CONFIG_H */
