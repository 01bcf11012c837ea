/*
 * memio.c -- in-memory stdio: guest fds 0-2 backed by buffers of the context instead of host fds
 * (kapsul_wasi_config.mem_stdio). A server that runs one guest per request hands it the request
 * body as stdin and reads its response from stdout without a pipe, a file or a system call.
 *
 * stdin is the embedder's borrowed byte range and a read position. stdout and stderr grow by
 * doubling up to their cap; past it a write is cut short, and when nothing fits it fails with
 * FBIG (see kapsul.h for why). With a line callback, stderr keeps only the current partial line
 * and hands every complete one to the embedder as it is written.
 */
#include "wasi/wasi.h"

/* Guest fds the config makes buffers: pipe-like (filetype unknown, no seek or tell), with only
 * the rights their direction needs. */
kapsul_status kpWasiMem_setup(kapsul_wasi *w, const kapsul_wasi_config *config) {
    size_t cap = config->output_cap ? config->output_cap : KP_WASI_DEFAULT_OUTPUT_CAP;
    static const unsigned bits[3] = { KAPSUL_WASI_MEM_STDIN, KAPSUL_WASI_MEM_STDOUT, KAPSUL_WASI_MEM_STDERR };
    static const uint8_t kinds[3] = { KP_MEMFD_IN, KP_MEMFD_OUT, KP_MEMFD_ERR };
    if (config->stdin_len && !config->stdin_data) return KAPSUL_ERR_ARG;
    w->in = config->stdin_data;
    w->in_len = config->stdin_len;
    if (config->mem_stdio & KAPSUL_WASI_MEM_STDOUT) w->out[0].cap = cap;
    if (config->mem_stdio & KAPSUL_WASI_MEM_STDERR) {
        w->out[1].cap = cap;
        w->line = config->stderr_line;
        w->line_env = config->stderr_env;
        if (w->line) w->out[1].cap = KP_WASI_MAX_LINE;
    }
    for (int i = 0; i < 3; i++) {
        if (!(config->mem_stdio & bits[i])) continue;
        uint64_t rights =
            (i == 0 ? KP_R_FD_READ : KP_R_FD_WRITE) | KP_R_FD_FILESTAT_GET | KP_R_POLL_FD_READWRITE;
        w->fds[i] = (kpWasiFd){
            .host = KP_OS_NO_FD, .mem = kinds[i], .filetype = KP_FT_UNKNOWN, .base = rights, .inh = 0
        };
    }
    return KAPSUL_OK;
}

uint16_t kpWasiMem_read(kapsul_wasi *w, const kpOs_iov *iov, int n, size_t *done) {
    size_t total = 0;
    for (int i = 0; i < n && w->in_pos < w->in_len; i++) {
        size_t k = iov[i].len < w->in_len - w->in_pos ? iov[i].len : w->in_len - w->in_pos;
        if (k) memcpy(iov[i].base, w->in + w->in_pos, k);
        w->in_pos += k;
        total += k;
    }
    *done = total;
    return KP_WE_SUCCESS;
}

/* Make room for `want` more bytes, doubling, never past cap; false when the host is out of
 * memory (the write then fails with NOMEM and nothing is lost). */
static bool reserve(kpWasiOut *o, size_t want) {
    if (o->len + want <= o->alloc) return true;
    size_t n = o->alloc ? o->alloc : 256;
    while (n < o->len + want && n < o->cap) n = n > o->cap / 2 ? o->cap : n * 2;
    if (n > o->cap) n = o->cap;
    uint8_t *p = kp_realloc(o->data, n);
    if (!p) return false;
    o->data = p;
    o->alloc = n;
    return true;
}

/* stderr with a callback: every complete line goes out at once; a partial line waits in the
 * buffer, and a full buffer is delivered as a piece of a longer line. */
static void emit_lines(kapsul_wasi *w) {
    kpWasiOut *o = &w->out[1];
    size_t start = 0;
    for (size_t i = 0; i < o->len; i++) {
        if (o->data[i] != '\n') continue;
        w->line(w->line_env, (const char *)o->data + start, i - start);
        start = i + 1;
    }
    if (start == 0 && o->len == o->cap) {
        w->line(w->line_env, (const char *)o->data, o->len);
        start = o->len;
    }
    memmove(o->data, o->data + start, o->len - start);
    o->len -= start;
}

/* which: KP_MEMFD_OUT or KP_MEMFD_ERR. With a line callback the buffer drains as it fills, so
 * the whole write is taken; without, what passes cap is cut (FBIG when nothing fits). */
uint16_t kpWasiMem_write(kapsul_wasi *w, int which, const kpOs_iov *iov, int n, size_t *done) {
    kpWasiOut *o = &w->out[which == KP_MEMFD_OUT ? 0 : 1];
    bool lines = which == KP_MEMFD_ERR && w->line;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = iov[i].base;
        size_t left = iov[i].len;
        while (left) {
            size_t room = o->cap - o->len;
            if (room == 0) {
                o->full = true;
                *done = total;
                return total ? KP_WE_SUCCESS : KP_WE_FBIG;
            }
            size_t k = left < room ? left : room;
            if (!reserve(o, k)) {
                *done = total;
                return total ? KP_WE_SUCCESS : KP_WE_NOMEM;
            }
            memcpy(o->data + o->len, src, k);
            o->len += k;
            src += k;
            left -= k;
            total += k;
            if (lines) emit_lines(w);
        }
    }
    *done = total;
    return KP_WE_SUCCESS;
}

uint64_t kpWasiMem_size(const kapsul_wasi *w, int which) {
    if (which == KP_MEMFD_IN) return w->in_len - w->in_pos;
    return w->out[which == KP_MEMFD_OUT ? 0 : 1].len;
}

void kpWasiMem_free(kapsul_wasi *w) {
    if (w->line && w->out[1].len) w->line(w->line_env, (const char *)w->out[1].data, w->out[1].len);
    for (int i = 0; i < 2; i++) {
        kp_free(w->out[i].data);
        w->out[i] = (kpWasiOut){ 0 };
    }
}

kapsul_status kapsul_wasi_output(const kapsul_wasi *wasi, int fd, const uint8_t **data, size_t *len,
                                 kapsul_error *err) {
    kpError_clear(err);
    if (data) *data = NULL;
    if (len) *len = 0;
    if (!wasi || !data || !len || (fd != 1 && fd != 2))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_wasi_output: NULL argument or fd %d", fd);
    const kpWasiOut *o = &wasi->out[fd - 1];
    if (!o->cap) return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_wasi_output: fd %d is not in-memory", fd);
    if (fd == 2 && wasi->line) return KAPSUL_OK; /* stderr went to the callback line by line */
    *data = o->len ? o->data : NULL;
    *len = o->len;
    if (o->full)
        return kpError_set(err, KAPSUL_ERR_LIMIT, 0,
                           "the guest's output on fd %d reached its cap of %zu bytes", fd, o->cap);
    return KAPSUL_OK;
}
