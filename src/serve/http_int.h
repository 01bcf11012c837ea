/*
 * http_int.h -- what http.c (threads, loops, connections, life cycle) and http_job.c (one request's
 * copy, the response a handler builds, the worker queue) share. Not for other layers.
 *
 * Ownership of a job (kpHttp_response): the loop thread creates it from an h2o request and hands it
 * to the worker queue; from then until its completion message is processed back on the loop
 * (`away`), only the worker side touches the request copy and the response. Only the owning loop
 * thread ever touches `h2o` and `away`. The job is freed on the loop: when h2o disposes the request
 * after the response went out, or when a completion arrives for a request h2o already disposed.
 */
#ifndef KP_SERVE_HTTP_INT_H
#define KP_SERVE_HTTP_INT_H

#define H2O_USE_LIBUV 0 /* libh2o-evloop: h2o's own event loop, not libuv */
#include <h2o.h>

#include <pthread.h>
#include <stdatomic.h>

#include "base/base.h"
#include "serve/http.h"

typedef struct kpHttp_loop kpHttp_loop;
typedef struct kpHttpArenaChunk kpHttpArenaChunk;

/* The handler queue: a ring of waiting jobs shared by every loop (producers) and worker (consumers). */
typedef struct kpHttp_queue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    kpHttp_response **ring;
    unsigned cap, head, count;
    bool quit;
} kpHttp_queue;

enum {
    KP_HTTP_RUNNING = 0,
    KP_HTTP_DRAINING,
    KP_HTTP_FORCING
};

struct kpHttp_server {
    kpHttp_config config;
    kpHttp_handler fn;
    void *ctx;
    int listen_fd;
    uint16_t port;
    int stop_pipe[2]; /* kpHttp_requestStop writes, kpHttp_wait reads */
    SSL_CTX *ssl_ctx;
    h2o_globalconf_t globalconf;
    bool globalconf_inited;
    kpHttp_loop *loops;
    unsigned nloops;
    pthread_t *workers;
    unsigned nworkers, nworkers_started;
    kpHttp_queue queue;
    atomic_int phase;          /* KP_HTTP_RUNNING / DRAINING / FORCING */
    atomic_int cancel_all;     /* set when the drain ran out: every handler is cancelled */
    atomic_uint nconns;        /* open connections, all loops */
    pthread_mutex_t exit_lock; /* loops_running, loops_reported, each loop's state; exit_cond */
    pthread_cond_t exit_cond;
    unsigned loops_running;  /* loop threads not yet ended */
    unsigned loops_reported; /* loop threads past loop_init (ready or failed) */
};

/* A loop's life, under exit_lock: only a READY loop may be sent messages from other threads. */
enum {
    KP_LOOP_STARTING = 0,
    KP_LOOP_READY,
    KP_LOOP_FAILED,
    KP_LOOP_GONE
};

struct kpHttp_loop {
    kpHttp_server *srv;
    pthread_t thread;
    bool thread_started;
    int state;             /* KP_LOOP_*, under srv->exit_lock */
    kapsul_error init_err; /* why loop_init failed (state KP_LOOP_FAILED) */
    h2o_evloop_t *evloop;
    h2o_context_t ctx;
    bool ctx_inited;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener; /* this loop's dup of the shared listening socket */
    bool listening;
    h2o_multithread_receiver_t done; /* completions posted by workers */
    h2o_multithread_receiver_t wake; /* empty wake-ups from kpHttp_stop */
    h2o_linklist_t conns;            /* kpHttp_conn of this loop's open connections */
    size_t nconns;
    size_t pending;              /* jobs away at the workers */
    h2o_linklist_t away;         /* those jobs (kpHttp_response.away_link) */
    h2o_timeout_t probe_timeout; /* while jobs are away: check their HTTP/1 clients */
    h2o_timeout_entry_t probe_entry;
    bool draining, forced;
};

/* One open client connection: counted, shut down on a forced stop or when idle during a drain. It
 * outlives its socket while requests of it are still being disposed (h2o's order varies). */
typedef struct kpHttp_conn {
    h2o_linklist_t link; /* in loop->conns while the socket is open */
    h2o_socket_t *sock;  /* NULL once closed */
    kpHttp_loop *loop;
    unsigned inflight; /* requests dispatched and not yet disposed */
    bool shut, closed;
} kpHttp_conn;

/* One request on the server side, from h2o's callback to the last response byte. */
struct kpHttp_response {
    h2o_multithread_message_t msg; /* the completion, posted to `loop` */
    kpHttp_request req;            /* the handler's copy (strings follow this struct) */
    kpHttp_server *srv;
    kpHttp_loop *loop;
    h2o_req_t *h2o;           /* loop thread only; NULL once h2o disposed the request */
    bool away;                /* loop thread only: queued or at a worker */
    h2o_linklist_t away_link; /* loop thread only: in loop->away while away */
    atomic_int cancel;        /* the client went away */
    int result;               /* the handler's return value */
    int status;
    KP_VEC(kpHttp_header) headers;
    kpBuf body;
    kpHttpArenaChunk *arena; /* header strings of the response */
    h2o_generator_t generator;
};

/* http_job.c */
int kpHttpJob_dispatch(h2o_handler_t *self, h2o_req_t *req);
kpHttp_response *kpHttpJob_new(kpHttp_loop *loop, h2o_req_t *req);
void kpHttpJob_free(kpHttp_response *job);
void kpHttpJob_probe(h2o_timeout_entry_t *entry);
void kpHttpJob_onDone(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);
int kpHttpJob_queueInit(kpHttp_queue *q, unsigned cap);
void kpHttpJob_queueFree(kpHttp_queue *q);
bool kpHttpJob_enqueue(kpHttp_queue *q, kpHttp_response *job);
void kpHttpJob_queueQuit(kpHttp_queue *q);
void *kpHttpJob_worker(void *arg);

#endif /* KP_SERVE_HTTP_INT_H */
