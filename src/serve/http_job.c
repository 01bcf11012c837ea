/*
 * http_job.c -- one request's life on the server side: the loop checks its header size, copies it
 * into a job (one allocation), queues it for a worker (503 when the queue is full); a worker runs
 * the handler, which builds the response through kpHttp_setStatus/addHeader/write; the completion
 * goes back to the owning loop as an h2o_multithread message, and the loop sends the response with
 * the job's own bytes (no copy). The job lives until h2o disposes the request, so a client that
 * disconnects early never leaves a worker writing to freed memory: the job is then freed by the
 * completion instead.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <sys/socket.h>
#include <stdio.h>

#include "serve/http_int.h"

/* ---- Response arena: the response's header strings, freed in one call with the job ---------- */

struct kpHttpArenaChunk {
    kpHttpArenaChunk *next;
    size_t used, cap;
    char data[];
};

/* Why: header strings are many and small; one chunk list per job frees them all at once. */
static char *arena_strdup(kpHttp_response *job, const char *s, size_t len) {
    kpHttpArenaChunk *c = job->arena;
    if (!c || c->cap - c->used < len + 1) {
        size_t cap = len + 1 > 2048 ? len + 1 : 2048;
        c = kp_malloc(sizeof(*c) + cap);
        if (!c) return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = job->arena;
        job->arena = c;
    }
    char *p = c->data + c->used;
    memcpy(p, s, len);
    p[len] = '\0';
    c->used += len + 1;
    return p;
}

/* ---- Copying the request ---------------------------------------------------------------------- */

/* Copy [s, s+len) to *at as a NUL-terminated string and advance *at. */
static const char *put_string(char **at, const char *s, size_t len) {
    char *p = *at;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    *at = p + len + 1;
    return p;
}

/* Numeric text of a socket address; "" when the family is unknown. */
static uint16_t put_addr(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t cap) {
    out[0] = '\0';
    if (len == 0) return 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)cap);
        return ntohs(in->sin_port);
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)cap);
        return ntohs(in6->sin6_port);
    }
    return 0;
}

/* Why one allocation: the request copy (struct, strings, header array, body) is freed in one call,
 * and its size is bounded by the header and body caps h2o already enforced. */
kpHttp_response *kpHttpJob_new(kpHttp_loop *loop, h2o_req_t *req) {
    size_t path_len = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    size_t query_len = req->query_at == SIZE_MAX ? 0 : req->path.len - req->query_at - 1;
    size_t body_len = req->entity.base ? req->entity.len : 0;
    size_t n = req->headers.size, size = sizeof(kpHttp_response);
    size = (size + 15) & ~(size_t)15;
    size_t hdr_off = size;
    size += n * sizeof(kpHttp_header);
    size_t str =
        req->method.len + path_len + req->path_normalized.len + query_len + req->authority.len + body_len + 6;
    for (size_t i = 0; i < n; i++)
        str += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 2;
    if (!kp_add_ok(size, str, &size)) return NULL;
    kpHttp_response *job = kp_calloc(1, size);
    if (!job) return NULL;
    kpHttp_request *r = &job->req;
    kpHttp_header *hdrs = (kpHttp_header *)((char *)job + hdr_off);
    char *at = (char *)(hdrs + n);
    r->method = put_string(&at, req->method.base, r->method_len = req->method.len);
    r->path = put_string(&at, req->path.base, r->path_len = path_len);
    r->query = put_string(&at, query_len ? req->path.base + path_len + 1 : "", r->query_len = query_len);
    r->path_normalized =
        put_string(&at, req->path_normalized.base, r->path_normalized_len = req->path_normalized.len);
    r->authority = put_string(&at, req->authority.base, r->authority_len = req->authority.len);
    for (size_t i = 0; i < n; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        hdrs[i].name = put_string(&at, h->name->base, hdrs[i].name_len = h->name->len);
        hdrs[i].value = put_string(&at, h->value.base, hdrs[i].value_len = h->value.len);
    }
    r->headers = hdrs;
    r->nheaders = n;
    if (body_len) {
        r->body = (const uint8_t *)put_string(&at, req->entity.base, body_len);
        r->body_len = body_len;
    }
    r->scheme = req->scheme == &H2O_URL_SCHEME_HTTPS ? "https" : "http";
    r->version = req->version;
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    r->client_port = put_addr(&ss, sl, r->client_addr, sizeof r->client_addr);
    sl = req->conn->callbacks->get_sockname(req->conn, (struct sockaddr *)&ss);
    r->local_port = put_addr(&ss, sl, r->local_addr, sizeof r->local_addr);
    job->srv = loop->srv;
    job->loop = loop;
    job->h2o = req;
    job->status = 200;
    return job;
}

/* Free the job and everything the handler built, in one call. */
void kpHttpJob_free(kpHttp_response *job) {
    while (job->arena) {
        kpHttpArenaChunk *next = job->arena->next;
        kp_free(job->arena);
        job->arena = next;
    }
    kpVec_free(&job->headers);
    kpBuf_free(&job->body);
    kp_free(job);
}

/* What h2o's request pool holds for us: disposed with the request, on the loop thread. */
typedef struct kpHttp_ref {
    kpHttp_response *job; /* NULL when the request was answered without one */
    kpHttp_conn *conn;
} kpHttp_ref;

/* h2o cleared the request's pool (response sent, or the client went away). */
static void on_request_gone(void *p) {
    kpHttp_ref *ref = p;
    kpHttp_conn *c = ref->conn;
    if (c && --c->inflight == 0 && c->closed) kp_free(c);
    kpHttp_response *job = ref->job;
    if (!job) return;
    job->h2o = NULL;
    if (job->away) atomic_store(&job->cancel, 1); /* the worker's completion frees it */
    else kpHttpJob_free(job);
}

/* ---- Sending the response (loop thread) ------------------------------------------------------- */

/* HTTP/1 needs a reason phrase; HTTP/2 ignores it. */
static const char *reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:
        return status < 300   ? "OK"
               : status < 400 ? "Redirect"
               : status < 500 ? "Client Error"
                              : "Server Error";
    }
}

/* Why the body is sent by reference: the job outlives the request (freed in on_request_gone), so
 * h2o can write the handler's bytes straight from the job. */
static void send_response(kpHttp_response *job) {
    h2o_req_t *req = job->h2o;
    if (job->result != 0 || atomic_load(&job->srv->cancel_all)) {
        bool cancelled = job->result == -2 || atomic_load(&job->srv->cancel_all);
        h2o_send_error_generic(req, cancelled ? 503 : 500, reason_phrase(cancelled ? 503 : 500),
                               cancelled ? "request cancelled\n" : "handler failed\n", 0);
        return;
    }
    req->res.status = job->status;
    req->res.reason = reason_phrase(job->status);
    for (size_t i = 0; i < job->headers.n; i++) {
        kpHttp_header *h = &job->headers.v[i];
        h2o_add_header_by_str(&req->pool, &req->res.headers, h->name, h->name_len, 1, NULL, h->value,
                              h->value_len);
    }
    bool no_body = job->status == 204 || job->status == 304 || job->status < 200;
    req->res.content_length = no_body ? SIZE_MAX : job->body.len;
    h2o_start_response(req, &job->generator);
    h2o_iovec_t buf = h2o_iovec_init(job->body.data, no_body ? 0 : job->body.len);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

/* The loop's receiver for completions: send each response, or free the job whose client is gone. */
void kpHttpJob_onDone(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages) {
    kpHttp_loop *loop = H2O_STRUCT_FROM_MEMBER(kpHttp_loop, done, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        kpHttp_response *job = H2O_STRUCT_FROM_MEMBER(kpHttp_response, msg, m);
        job->away = false;
        h2o_linklist_unlink(&job->away_link);
        loop->pending--;
        if (job->h2o) send_response(job); /* the job is freed when h2o disposes the request */
        else kpHttpJob_free(job);
    }
}

/* Why a probe: h2o stops reading an HTTP/1 connection while its request is being handled, so a
 * client that hangs up is only noticed when the response is written -- after a handler that may
 * never end. A peek that sees end-of-file or an error means the client is gone (HTTP/2 needs none:
 * h2o keeps reading and disposes a reset stream's request, which cancels the job). Over TLS the
 * peek sees the close_notify record as data, so there only a reset is noticed. */
static bool client_gone(h2o_req_t *req) {
    if (req->version >= 0x200 || !req->conn->callbacks->get_socket) return false;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (!sock) return false;
    char c;
    ssize_t n = recv(h2o_socket_get_fd(sock), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* The loop's periodic check while it has jobs away: cancel those whose client hung up. */
void kpHttpJob_probe(h2o_timeout_entry_t *entry) {
    kpHttp_loop *loop = H2O_STRUCT_FROM_MEMBER(kpHttp_loop, probe_entry, entry);
    for (h2o_linklist_t *l = loop->away.next; l != &loop->away; l = l->next) {
        kpHttp_response *job = H2O_STRUCT_FROM_MEMBER(kpHttp_response, away_link, l);
        if (job->h2o && !atomic_load(&job->cancel) && client_gone(job->h2o)) atomic_store(&job->cancel, 1);
    }
    if (!h2o_linklist_is_empty(&loop->away)) h2o_timeout_link(loop->evloop, &loop->probe_timeout, entry);
}

/* ---- The worker queue -------------------------------------------------------------------------- */

/* The ring is allocated once at its full depth: enqueueing never allocates. */
int kpHttpJob_queueInit(kpHttp_queue *q, unsigned cap) {
    memset(q, 0, sizeof *q);
    q->ring = kp_calloc(cap, sizeof *q->ring);
    if (!q->ring) return -1;
    q->cap = cap;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->nonempty, NULL);
    return 0;
}

void kpHttpJob_queueFree(kpHttp_queue *q) {
    if (!q->ring) return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->nonempty);
    kp_free(q->ring);
    q->ring = NULL;
}

/* False when the queue is full: the caller answers 503 instead of waiting. */
bool kpHttpJob_enqueue(kpHttp_queue *q, kpHttp_response *job) {
    pthread_mutex_lock(&q->lock);
    bool ok = q->count < q->cap;
    if (ok) {
        q->ring[(q->head + q->count) % q->cap] = job;
        q->count++;
        pthread_cond_signal(&q->nonempty);
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

/* Wake every worker to end once the queue is empty (loops have stopped dispatching by then). */
void kpHttpJob_queueQuit(kpHttp_queue *q) {
    pthread_mutex_lock(&q->lock);
    q->quit = true;
    pthread_cond_broadcast(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

/* Next job, or NULL when the server is stopping and the queue is empty. */
static kpHttp_response *dequeue(kpHttp_queue *q) {
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->quit) pthread_cond_wait(&q->nonempty, &q->lock);
    kpHttp_response *job = NULL;
    if (q->count) {
        job = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    return job;
}

/* A worker thread: handlers run here, never on a loop. */
void *kpHttpJob_worker(void *arg) {
    kpHttp_server *srv = arg;
    kpHttp_response *job;
    while ((job = dequeue(&srv->queue)) != NULL) {
        if (kpHttp_cancelled(job)) {
            kpHttp_complete(job, -2);
            continue;
        }
        int rc = srv->fn(srv->ctx, &job->req, job);
        if (rc != KP_HTTP_PENDING) kpHttp_complete(job, rc);
    }
    return NULL;
}

/* ---- The dispatch: h2o's handler callback (loop thread) ---------------------------------------- */

/* Why the header check is here: h2o's own cap (H2O_MAX_REQLEN) is a compile-time constant of the
 * library; the configured, smaller one is applied to what h2o parsed, before anything is copied. */
static size_t header_bytes(const h2o_req_t *req) {
    size_t n = req->method.len + req->path.len + 12;
    for (size_t i = 0; i < req->headers.size; i++)
        n += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    return n;
}

/* The connection record of our accept (on_close.data of the socket), for in-flight counting. */
static kpHttp_conn *conn_of(h2o_req_t *req) {
    h2o_socket_t *sock =
        req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    return sock ? sock->on_close.data : NULL;
}

/* h2o's handler for every path: count the request in flight on its connection, refuse oversized
 * headers, copy the request into a job and queue it for a worker, or answer 503 when it cannot. */
int kpHttpJob_dispatch(h2o_handler_t *self, h2o_req_t *req) {
    (void)self;
    kpHttp_loop *loop = H2O_STRUCT_FROM_MEMBER(kpHttp_loop, ctx, req->conn->ctx);
    kpHttp_server *srv = loop->srv;
    kpHttp_ref *ref = h2o_mem_alloc_shared(&req->pool, sizeof *ref, on_request_gone);
    ref->job = NULL;
    ref->conn = conn_of(req);
    if (ref->conn) ref->conn->inflight++;
    if (header_bytes(req) > srv->config.max_header_bytes) {
        req->http1_is_persistent = 0;
        h2o_send_error_generic(req, 431, "Request Header Fields Too Large", "request header too large\n",
                               H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
        return 0;
    }
    kpHttp_response *job = kpHttpJob_new(loop, req);
    if (!job) goto fail;
    job->away = true;
    if (!kpHttpJob_enqueue(&srv->queue, job)) {
        kpHttpJob_free(job);
        goto fail;
    }
    ref->job = job;
    loop->pending++;
    h2o_linklist_insert(&loop->away, &job->away_link);
    if (!h2o_timeout_is_linked(&loop->probe_entry))
        h2o_timeout_link(loop->evloop, &loop->probe_timeout, &loop->probe_entry);
    return 0;
fail:
    h2o_send_error_503(req, "Service Unavailable", "server busy\n", 0);
    return 0;
}

/* ---- Building a response (worker side) --------------------------------------------------------- */

kapsul_status kpHttp_setStatus(kpHttp_response *res, int status) {
    if (status < 200 || status > 599) return KAPSUL_ERR_ARG;
    res->status = status;
    return KAPSUL_OK;
}

/* RFC 9110 tchar. */
static bool is_token(const char *s, size_t len) {
    if (len == 0) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && !strchr("!#$%&'*+-.^_`|~", c)) return false;
    }
    return true;
}

/* Headers h2o derives from the framing it chooses; a handler setting them could desynchronise it. */
static bool is_framing(const char *name, size_t len) {
    static const char *const names[] = { "content-length", "transfer-encoding", "connection",
                                         "keep-alive",     "upgrade",           "te",
                                         "trailer",        "proxy-connection",  "http2-settings" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) return true;
    return false;
}

kapsul_status kpHttp_addHeader(kpHttp_response *res, const char *name, size_t name_len, const char *value,
                               size_t value_len) {
    if (!is_token(name, name_len)) return KAPSUL_ERR_ARG;
    for (size_t i = 0; i < value_len; i++)
        if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0') return KAPSUL_ERR_ARG;
    char *n = arena_strdup(res, name, name_len);
    if (!n) return KAPSUL_ERR_NOMEM;
    for (size_t i = 0; i < name_len; i++) n[i] = (char)tolower((unsigned char)n[i]);
    if (is_framing(n, name_len)) return KAPSUL_ERR_ARG;
    char *v = arena_strdup(res, value, value_len);
    if (!v || kpVec_grow(&res->headers) != 0) return KAPSUL_ERR_NOMEM;
    res->headers.v[res->headers.n++] = (kpHttp_header){ n, name_len, v, value_len };
    return KAPSUL_OK;
}

kapsul_status kpHttp_write(kpHttp_response *res, const void *data, size_t len) {
    size_t total;
    if (!kp_add_ok(res->body.len, len, &total) || total > res->srv->config.max_response_bytes)
        return KAPSUL_ERR_LIMIT;
    return kpBuf_push(&res->body, data, len) == 0 ? KAPSUL_OK : KAPSUL_ERR_NOMEM;
}

const kpHttp_request *kpHttp_requestOf(const kpHttp_response *res) { return &res->req; }

bool kpHttp_cancelled(const kpHttp_response *res) {
    return atomic_load(&res->cancel) || atomic_load(&res->srv->cancel_all);
}

/* Post the finished job to its loop; after this the worker side never touches it again. */
void kpHttp_complete(kpHttp_response *res, int status) {
    res->result = status;
    h2o_multithread_send_message(&res->loop->done, &res->msg);
}
