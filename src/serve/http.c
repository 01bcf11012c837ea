/*
 * http.c -- the HTTP server's threads and life cycle: the listening socket, TLS, one h2o event loop
 * per thread, accepting and counting connections, and the drain on stop. What happens to one
 * request is in http_job.c.
 *
 * Why one shared listening socket rather than SO_REUSEPORT: every loop polls its own dup of one
 * socket and whichever loop wakes first accepts, so an idle loop takes the next connection; with
 * SO_REUSEPORT the kernel hashes connections onto fixed sockets whatever the loops' load, closing one
 * socket on drain drops the connections queued on it, and another process of the same user could
 * bind the port too. Loops never run handlers, so the thundering herd is one extra epoll wake-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve/http_int.h"

void kpHttp_configDefaults(kpHttp_config *c) {
    memset(c, 0, sizeof *c);
    c->host = KP_HTTP_HOST;
    c->port = KP_HTTP_PORT;
    c->loops = KP_HTTP_LOOPS;
    c->workers = KP_HTTP_WORKERS;
    c->queue_depth = KP_HTTP_QUEUE_DEPTH;
    c->max_connections = KP_HTTP_MAX_CONNECTIONS;
    c->max_body = KP_HTTP_MAX_BODY;
    c->max_header_bytes = KP_HTTP_MAX_HEADER_BYTES;
    c->max_response_bytes = KP_HTTP_MAX_RESPONSE_BYTES;
    c->header_timeout_ms = KP_HTTP_HEADER_TIMEOUT_MS;
    c->idle_timeout_ms = KP_HTTP_IDLE_TIMEOUT_MS;
    c->drain_ms = KP_HTTP_DRAIN_MS;
}

/* ---- Connections -------------------------------------------------------------------------------- */

static void on_accept(h2o_socket_t *listener, const char *err);

/* Poll the listener again after a pause at the connection cap (never while draining). */
static void resume_accepting(kpHttp_loop *lp) {
    if (lp->listener && !lp->listening && !lp->draining) {
        h2o_socket_read_start(lp->listener, on_accept);
        lp->listening = true;
    }
}

/* h2o closed a client socket (any reason): count it out, and accept again if we were at the cap. */
static void on_conn_close(void *data) {
    kpHttp_conn *c = data;
    kpHttp_loop *lp = c->loop;
    h2o_linklist_unlink(&c->link);
    c->sock = NULL;
    c->closed = true;
    if (c->inflight == 0) kp_free(c); /* else the last request's disposal frees it */
    lp->nconns--;
    atomic_fetch_sub(&lp->srv->nconns, 1);
    resume_accepting(lp);
}

/* Why the count is taken before accept: at max_connections the loop stops polling the listener, so
 * further clients wait in the kernel's backlog instead of being accepted and dropped; the loop whose
 * connection closes next polls again (the count is shared, so it is exact across loops). */
static void on_accept(h2o_socket_t *listener, const char *err) {
    kpHttp_loop *lp = listener->data;
    kpHttp_server *srv = lp->srv;
    if (err) return;
    for (int i = 0; i < 16; i++) {
        if (atomic_fetch_add(&srv->nconns, 1) >= srv->config.max_connections) {
            atomic_fetch_sub(&srv->nconns, 1);
            h2o_socket_read_stop(listener);
            lp->listening = false;
            return;
        }
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        kpHttp_conn *c = sock ? kp_calloc(1, sizeof *c) : NULL;
        if (!c) {
            atomic_fetch_sub(&srv->nconns, 1);
            if (sock) h2o_socket_close(sock);
            return;
        }
        c->sock = sock;
        c->loop = lp;
        h2o_linklist_insert(&lp->conns, &c->link);
        lp->nconns++;
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = c;
        h2o_accept(&lp->accept_ctx, sock);
    }
}

/* ---- Loop threads ------------------------------------------------------------------------------- */

/* Stop accepting and ask h2o to wind its connections down: HTTP/2 ones get a GOAWAY, HTTP/1 ones
 * close once idle; in-flight requests still get their responses. */
static void begin_drain(kpHttp_loop *lp) {
    lp->draining = true;
    if (lp->listener) {
        if (lp->listening) h2o_socket_read_stop(lp->listener);
        h2o_socket_close(lp->listener);
        lp->listener = NULL;
        lp->listening = false;
    }
    h2o_context_request_shutdown(&lp->ctx);
}

/* While draining: close connections with no request in flight (idle keep-alive connections, which
 * h2o 2.2.5's shutdown request leaves open, and HTTP/2 ones after their GOAWAY). */
static void close_idle(kpHttp_loop *lp) {
    for (h2o_linklist_t *l = lp->conns.next; l != &lp->conns; l = l->next) {
        kpHttp_conn *c = H2O_STRUCT_FROM_MEMBER(kpHttp_conn, link, l);
        if (c->inflight == 0 && !c->shut) {
            shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
            c->shut = true;
        }
    }
}

/* The drain ran out of time: shut every socket down under h2o, which then closes the connections
 * through its own error paths (handlers were cancelled by kpHttp_stop). */
static void force_close(kpHttp_loop *lp) {
    lp->forced = true;
    for (h2o_linklist_t *l = lp->conns.next; l != &lp->conns; l = l->next) {
        kpHttp_conn *c = H2O_STRUCT_FROM_MEMBER(kpHttp_conn, link, l);
        shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
    }
}

/* kpHttp_stop only needs the loop to come out of epoll and look at the phase; nothing to read. */
static void on_wake(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages) {
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) h2o_linklist_unlink(messages->next);
}

/* Create one loop's h2o objects and its listener. Called on the loop's own thread: h2o 2.2 keeps
 * its socket buffer freelist per thread (h2o_socket_buffer_prototype is __thread) and every socket
 * remembers the freelist of the thread that created it, so loops whose sockets (the listener, the
 * message queue's pipe) were made on one other thread would share that thread's unlocked freelist. */
static kapsul_status loop_init(kpHttp_server *srv, kpHttp_loop *lp, kapsul_error *err) {
    h2o_linklist_init_anchor(&lp->conns);
    h2o_linklist_init_anchor(&lp->away);
    lp->evloop = h2o_evloop_create();
    if (!lp->evloop) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "http: cannot create an event loop");
    h2o_timeout_init(lp->evloop, &lp->probe_timeout, KP_HTTP_CLIENT_PROBE_MS);
    lp->probe_entry.cb = kpHttpJob_probe;
    h2o_context_init(&lp->ctx, lp->evloop, &srv->globalconf);
    lp->ctx_inited = true;
    lp->accept_ctx.ctx = &lp->ctx;
    lp->accept_ctx.hosts = srv->globalconf.hosts;
    lp->accept_ctx.ssl_ctx = srv->ssl_ctx;
    h2o_multithread_register_receiver(lp->ctx.queue, &lp->done, kpHttpJob_onDone);
    h2o_multithread_register_receiver(lp->ctx.queue, &lp->wake, on_wake);
    int fd = fcntl(srv->listen_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return kpError_set(err, KAPSUL_ERR_IO, 0, "http: dup: %s", strerror(errno));
    lp->listener = h2o_evloop_socket_create(lp->evloop, fd, H2O_SOCKET_FLAG_DONT_READ);
    lp->listener->data = lp;
    h2o_socket_read_start(lp->listener, on_accept);
    lp->listening = true;
    return KAPSUL_OK;
}

/* Dispose of one loop's h2o objects, on its own thread, once it is GONE (nobody sends to it). */
static void loop_dispose(kpHttp_loop *lp) {
    if (!lp->evloop) return;
    if (lp->listener) {
        h2o_socket_close(lp->listener);
        lp->listener = NULL;
    }
    if (lp->ctx_inited) {
        h2o_evloop_run(lp->evloop, 0); /* let closed sockets be freed */
        if (h2o_timeout_is_linked(&lp->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&lp->ctx.http2._graceful_shutdown_timeout);
        if (h2o_timeout_is_linked(&lp->probe_entry)) h2o_timeout_unlink(&lp->probe_entry);
        h2o_multithread_unregister_receiver(lp->ctx.queue, &lp->done);
        h2o_multithread_unregister_receiver(lp->ctx.queue, &lp->wake);
        h2o_multithread_queue_t *queue = lp->ctx.queue;
        h2o_context_dispose(&lp->ctx); /* destroys the queue but (evloop build of 2.2.5) never frees it */
        free(queue);
        lp->ctx_inited = false;
    }
    h2o_timeout_dispose(lp->evloop, &lp->probe_timeout);
    h2o_evloop_destroy(lp->evloop);
    lp->evloop = NULL;
}

/* Record a loop's state and wake whoever waits on it (kpHttp_start, stop). */
static void set_loop_state(kpHttp_loop *lp, int state) {
    kpHttp_server *srv = lp->srv;
    pthread_mutex_lock(&srv->exit_lock);
    if (lp->state == KP_LOOP_STARTING) srv->loops_reported++;
    lp->state = state;
    pthread_cond_broadcast(&srv->exit_cond);
    pthread_mutex_unlock(&srv->exit_lock);
}

/* A loop thread: sets its loop up, runs h2o until the server drains and this loop has no connection
 * and no job left, and tears the loop down. */
static void *loop_main(void *arg) {
    kpHttp_loop *lp = arg;
    kpHttp_server *srv = lp->srv;
    bool ok = loop_init(srv, lp, &lp->init_err) == KAPSUL_OK;
    set_loop_state(lp, ok ? KP_LOOP_READY : KP_LOOP_FAILED);
    while (ok) {
        h2o_evloop_run(lp->evloop, INT32_MAX);
        int phase = atomic_load(&srv->phase);
        if (phase >= KP_HTTP_DRAINING && !lp->draining) begin_drain(lp);
        if (phase >= KP_HTTP_FORCING && !lp->forced) force_close(lp);
        if (lp->draining) close_idle(lp);
        if (lp->draining && lp->nconns == 0 && lp->pending == 0) break;
    }
    set_loop_state(lp, KP_LOOP_GONE);
    loop_dispose(lp);
    pthread_mutex_lock(&srv->exit_lock);
    srv->loops_running--;
    pthread_cond_broadcast(&srv->exit_cond);
    pthread_mutex_unlock(&srv->exit_lock);
    return NULL;
}

/* Make every running loop re-read the server's phase. */
static void wake_loops(kpHttp_server *srv) {
    pthread_mutex_lock(&srv->exit_lock); /* holds each loop in its state while we send */
    for (unsigned i = 0; i < srv->nloops; i++)
        if (srv->loops[i].state == KP_LOOP_READY) h2o_multithread_send_message(&srv->loops[i].wake, NULL);
    pthread_mutex_unlock(&srv->exit_lock);
}

/* ---- Start -------------------------------------------------------------------------------------- */

/* OpenSSL's reason for the last failure, as a kapsul error naming the file. */
static kapsul_status tls_error(kapsul_error *err, const char *what, const char *file) {
    char buf[160];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    ERR_clear_error();
    return kpError_set(err, KAPSUL_ERR_IO, 0, "http: %s %s: %s", what, file, buf);
}

/* TLS with ALPN offering h2 then http/1.1; TLS 1.2 at least. */
static kapsul_status setup_tls(kpHttp_server *srv, kapsul_error *err) {
    const kpHttp_config *c = &srv->config;
    srv->ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (!srv->ssl_ctx) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "http: cannot create a TLS context");
    SSL_CTX_set_min_proto_version(srv->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(srv->ssl_ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(srv->ssl_ctx, c->tls_cert) != 1)
        return tls_error(err, "cannot load certificate", c->tls_cert);
    if (SSL_CTX_use_PrivateKey_file(srv->ssl_ctx, c->tls_key, SSL_FILETYPE_PEM) != 1)
        return tls_error(err, "cannot load private key", c->tls_key);
    if (SSL_CTX_check_private_key(srv->ssl_ctx) != 1)
        return tls_error(err, "private key does not match certificate", c->tls_cert);
    h2o_ssl_register_alpn_protocols(srv->ssl_ctx, h2o_http2_alpn_protocols);
    return KAPSUL_OK;
}

/* Bind and listen on the configured numeric address; records the port actually bound. */
static kapsul_status setup_listener(kpHttp_server *srv, kapsul_error *err) {
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, srv->config.host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(srv->config.port);
        len = sizeof *in;
    } else if (inet_pton(AF_INET6, srv->config.host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(srv->config.port);
        len = sizeof *in6;
    } else {
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "http: '%s' is not a numeric IP address",
                           srv->config.host);
    }
    int one = 1;
    srv->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (srv->listen_fd < 0 || setsockopt(srv->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(srv->listen_fd, (struct sockaddr *)&ss, len) != 0 || listen(srv->listen_fd, SOMAXCONN) != 0)
        return kpError_set(err, KAPSUL_ERR_IO, 0, "http: cannot listen on %s port %u: %s", srv->config.host,
                           srv->config.port, strerror(errno));
    len = sizeof ss;
    getsockname(srv->listen_fd, (struct sockaddr *)&ss, &len);
    srv->port = ntohs(ss.ss_family == AF_INET ? in->sin_port : in6->sin6_port);
    return KAPSUL_OK;
}

/* h2o's global configuration: one host, one path "/" whose handler is the dispatch to workers. */
static kapsul_status setup_h2o(kpHttp_server *srv, kapsul_error *err) {
    const kpHttp_config *c = &srv->config;
    h2o_globalconf_t *g = &srv->globalconf;
    h2o_config_init(g);
    srv->globalconf_inited = true;
    g->server_name = h2o_iovec_init(H2O_STRLIT("kapsul"));
    g->max_request_entity_size = c->max_body;
    g->handshake_timeout = KP_HTTP_TLS_HANDSHAKE_TIMEOUT_MS;
    g->http1.req_timeout = c->header_timeout_ms;
    g->http1.upgrade_to_http2 = 1;
    g->http2.idle_timeout = c->idle_timeout_ms;
    g->http2.graceful_shutdown_timeout = c->drain_ms;
    h2o_hostconf_t *host = h2o_config_register_host(g, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = host ? h2o_config_register_path(host, "/", 0) : NULL;
    h2o_handler_t *handler = path ? h2o_create_handler(path, sizeof *handler) : NULL;
    if (!handler) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "http: cannot configure h2o");
    handler->on_req = kpHttpJob_dispatch;
    return KAPSUL_OK;
}

/* Why: each connection is a descriptor; raise the soft limit to the hard one and keep the cap
 * below it, so accept never meets EMFILE (which would leave the listener readable forever). */
static void fit_fd_limit(kpHttp_config *c, unsigned nloops) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t reserve = 64 + 4 * (rlim_t)nloops;
    rlim_t room = rl.rlim_cur > reserve + 1 ? rl.rlim_cur - reserve : 1;
    if (rl.rlim_cur != RLIM_INFINITY && c->max_connections > room) c->max_connections = (unsigned)room;
}

/* Two per online CPU unless set. */
static unsigned default_workers(void) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    return 2 * (unsigned)(ncpu < 1 ? 1 : ncpu);
}

unsigned kpHttp_workers(const kpHttp_config *c) { return c->workers ? c->workers : default_workers(); }

/* Reject settings that cannot work and resolve the 0 = per-CPU defaults. */
static kapsul_status check_config(kpHttp_config *c, kapsul_error *err) {
    if (!c->host || c->queue_depth == 0 || c->max_connections == 0 || c->max_header_bytes == 0)
        return kpError_set(err, KAPSUL_ERR_ARG, 0,
                           "http: host, queue_depth, max_connections and "
                           "max_header_bytes must be set");
    if (!c->tls_cert != !c->tls_key)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "http: --tls-cert and --tls-key go together");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    if (c->loops == 0) c->loops = (unsigned)ncpu;
    if (c->workers == 0) c->workers = default_workers();
    if (c->loops > 256 || c->workers > 4096)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "http: at most 256 loops and 4096 workers");
    return KAPSUL_OK;
}

/* Start loop and worker threads with every signal blocked: signals are the embedder's (the CLI
 * waits for SIGTERM on its own thread), and a write to a closed socket gets EPIPE, not SIGPIPE. */
static kapsul_status start_threads(kpHttp_server *srv, kapsul_error *err) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    kapsul_status st = KAPSUL_OK;
    for (unsigned i = 0; i < srv->nworkers && st == KAPSUL_OK; i++)
        if (pthread_create(&srv->workers[i], NULL, kpHttpJob_worker, srv) != 0)
            st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "http: cannot start worker threads");
        else srv->nworkers_started++;
    for (unsigned i = 0; i < srv->nloops && st == KAPSUL_OK; i++) {
        pthread_mutex_lock(&srv->exit_lock);
        srv->loops_running++;
        pthread_mutex_unlock(&srv->exit_lock);
        if (pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]) != 0) {
            srv->loops_running--;
            st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "http: cannot start loop threads");
        } else {
            srv->loops[i].thread_started = true;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return st;
}

static void free_server(kpHttp_server *srv);

/* Wait until every started loop thread has set its loop up; the first failure, if any, is the error. */
static kapsul_status wait_ready(kpHttp_server *srv, kapsul_error *err) {
    unsigned started = 0;
    for (unsigned i = 0; i < srv->nloops; i++) started += srv->loops[i].thread_started;
    pthread_mutex_lock(&srv->exit_lock);
    while (srv->loops_reported < started) pthread_cond_wait(&srv->exit_cond, &srv->exit_lock);
    kapsul_status st = KAPSUL_OK;
    for (unsigned i = 0; i < srv->nloops && st == KAPSUL_OK; i++)
        if (srv->loops[i].state == KP_LOOP_FAILED) {
            if (err) *err = srv->loops[i].init_err;
            st = srv->loops[i].init_err.code;
        }
    pthread_mutex_unlock(&srv->exit_lock);
    return st;
}

kapsul_status kpHttp_start(const kpHttp_config *config, kpHttp_handler fn, void *ctx, kpHttp_server **out,
                           kapsul_error *err) {
    kapsul_status st;
    *out = NULL;
    kpHttp_server *srv = kp_calloc(1, sizeof *srv);
    if (!srv) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "http: out of memory");
    srv->config = *config;
    srv->fn = fn;
    srv->ctx = ctx;
    srv->listen_fd = srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
    pthread_mutex_init(&srv->exit_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->exit_cond, &ca);
    pthread_condattr_destroy(&ca);
    if ((st = check_config(&srv->config, err)) != KAPSUL_OK) goto fail;
    fit_fd_limit(&srv->config, srv->config.loops);
    if (pipe2(srv->stop_pipe, O_CLOEXEC) != 0) {
        st = kpError_set(err, KAPSUL_ERR_IO, 0, "http: pipe: %s", strerror(errno));
        goto fail;
    }
    if ((st = setup_listener(srv, err)) != KAPSUL_OK) goto fail;
    if (srv->config.tls_cert && (st = setup_tls(srv, err)) != KAPSUL_OK) goto fail;
    if ((st = setup_h2o(srv, err)) != KAPSUL_OK) goto fail;
    srv->nloops = srv->config.loops;
    srv->nworkers = srv->config.workers;
    srv->loops = kp_calloc(srv->nloops, sizeof *srv->loops);
    srv->workers = kp_calloc(srv->nworkers, sizeof *srv->workers);
    if (!srv->loops || !srv->workers || kpHttpJob_queueInit(&srv->queue, srv->config.queue_depth) != 0) {
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "http: out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < srv->nloops; i++) srv->loops[i].srv = srv;
    st = start_threads(srv, err);
    kapsul_status ready = wait_ready(srv, st == KAPSUL_OK ? err : NULL); /* also when some did not start */
    if (st == KAPSUL_OK) st = ready;
    if (st != KAPSUL_OK) goto fail;
    *out = srv;
    return KAPSUL_OK;
fail:
    free_server(srv);
    return st;
}

uint16_t kpHttp_port(const kpHttp_server *srv) { return srv->port; }

/* ---- Stop --------------------------------------------------------------------------------------- */

void kpHttp_requestStop(kpHttp_server *srv) {
    int saved = errno;
    ssize_t r = write(srv->stop_pipe[1], "", 1);
    (void)r;
    errno = saved;
}

void kpHttp_wait(kpHttp_server *srv) {
    char c;
    while (read(srv->stop_pipe[0], &c, 1) < 0 && errno == EINTR) {}
}

/* Wait until every loop thread has ended or the deadline passes; true when they all ended. */
static bool wait_loops(kpHttp_server *srv, uint32_t ms) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&srv->exit_lock);
    int rc = 0;
    while (srv->loops_running > 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&srv->exit_cond, &srv->exit_lock, &dl);
    bool done = srv->loops_running == 0;
    pthread_mutex_unlock(&srv->exit_lock);
    return done;
}

/* Drain the loops (bounded by drain_ms, then cancel and force), then end the workers. Loops end only
 * when every job they queued has come back, so the workers are idle when they are told to quit. */
static bool stop_threads(kpHttp_server *srv) {
    atomic_store(&srv->phase, KP_HTTP_DRAINING);
    wake_loops(srv);
    if (srv->listen_fd >= 0) { /* the loops close their dups; then the port refuses */
        close(srv->listen_fd);
        srv->listen_fd = -1;
    }
    bool drained = wait_loops(srv, srv->config.drain_ms);
    if (!drained) {
        atomic_store(&srv->cancel_all, 1);
        atomic_store(&srv->phase, KP_HTTP_FORCING);
        wake_loops(srv);
    }
    for (unsigned i = 0; i < srv->nloops; i++)
        if (srv->loops[i].thread_started) {
            pthread_join(srv->loops[i].thread, NULL);
            srv->loops[i].thread_started = false;
        }
    if (srv->queue.ring) kpHttpJob_queueQuit(&srv->queue);
    for (unsigned i = 0; i < srv->nworkers_started; i++) pthread_join(srv->workers[i], NULL);
    srv->nworkers_started = 0;
    return drained;
}

/* Tear down whatever kpHttp_start got to (also its failure path): threads, h2o, TLS, descriptors. */
static void free_server(kpHttp_server *srv) {
    stop_threads(srv); /* each loop disposed of its own h2o objects as its thread ended */
    kpHttpJob_queueFree(&srv->queue);
    if (srv->globalconf_inited) h2o_config_dispose(&srv->globalconf);
    if (srv->ssl_ctx) SSL_CTX_free(srv->ssl_ctx);
    if (srv->listen_fd >= 0) close(srv->listen_fd);
    if (srv->stop_pipe[0] >= 0) close(srv->stop_pipe[0]);
    if (srv->stop_pipe[1] >= 0) close(srv->stop_pipe[1]);
    pthread_mutex_destroy(&srv->exit_lock);
    pthread_cond_destroy(&srv->exit_cond);
    kp_free(srv->loops);
    kp_free(srv->workers);
    kp_free(srv);
}

kapsul_status kpHttp_stop(kpHttp_server *srv, kapsul_error *err) {
    uint32_t ms = srv->config.drain_ms;
    bool drained = stop_threads(srv);
    free_server(srv);
    if (!drained)
        return kpError_set(err, KAPSUL_ERR_LIMIT, 0, "http: drain ran out after %u ms; requests cancelled",
                           ms);
    return KAPSUL_OK;
}
