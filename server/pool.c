/*
 * The read workers: a fixed pool of threads that run the jobs the loop hands
 * them (searches, document reads, snapshot listings), so that a slow read
 * never stalls the other connections.
 *
 * A job goes loop → pool_head (pool_mu, pool_cond) → a worker runs it →
 * pool_done_head (pool_mu) → ev_async_send → the loop answers it
 * (job->done) and tells the connection (conn_reg_done), exactly as a
 * registration comes back from the journal writer (register.c). While a job
 * is out, its request is `awaiting` and its connection's regs counts it: a
 * client that hangs up leaves a dead connection that is freed only once the
 * job is answered, and shutdown waits for it as it waits for registrations
 * (server.c). The loop returns only when every connection is freed, so
 * pool_stop() finds both queues empty; it wakes the workers and joins them.
 *
 * Workers block every signal: SIGINT and SIGTERM are the loop's.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "server_int.h"

static void
job_push(struct srv_job **head, struct srv_job **tail, struct srv_job *job)
{
    job->next = NULL;
    if (*tail != NULL)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
}

static void *
worker_main(void *arg)
{
    struct folio_server *srv = arg;
    pthread_mutex_lock(&srv->pool_mu);
    for (;;) {
        while (srv->pool_head == NULL && !srv->pool_stopping)
            pthread_cond_wait(&srv->pool_cond, &srv->pool_mu);
        struct srv_job *job = srv->pool_head;
        if (job == NULL)
            break; /* stopping, and nothing left */
        srv->pool_head = job->next;
        if (srv->pool_head == NULL)
            srv->pool_tail = NULL;
        pthread_mutex_unlock(&srv->pool_mu);
        job->run(job);
        pthread_mutex_lock(&srv->pool_mu);
        job_push(&srv->pool_done_head, &srv->pool_done_tail, job);
        ev_async_send(srv->loop, &srv->pool_async);
    }
    pthread_mutex_unlock(&srv->pool_mu);
    return NULL;
}

/* Answers every job the workers handed back. */
static void
pool_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    struct folio_server *srv = w->data;
    pthread_mutex_lock(&srv->pool_mu);
    struct srv_job *job = srv->pool_done_head;
    srv->pool_done_head = srv->pool_done_tail = NULL;
    pthread_mutex_unlock(&srv->pool_mu);
    while (job != NULL) {
        struct srv_job *next = job->next;
        struct srv_req *r = job->req;
        struct srv_conn *c = r->conn;
        r->awaiting = false;
        job->done(job);
        FOLIO_ASSERT(r->ready);
        conn_reg_done(c);
        job = next;
    }
}

static uint32_t
thread_count(const struct folio_server *srv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t n = srv->opts.search_threads != 0 ? srv->opts.search_threads
                                               : (cpus > 0 ? (uint64_t)cpus : 1);
    return (uint32_t)(n < FOLIO_SERVER_SEARCH_THREADS_MAX ? n : FOLIO_SERVER_SEARCH_THREADS_MAX);
}

int
pool_start(struct folio_server *srv)
{
    FOLIO_ASSERT(srv->loop != NULL && srv->pool_threads == NULL);
    pthread_mutex_init(&srv->pool_mu, NULL);
    pthread_cond_init(&srv->pool_cond, NULL);
    srv->pool_stopping = false;
    ev_async_init(&srv->pool_async, pool_async_cb);
    srv->pool_async.data = srv;
    ev_async_start(srv->loop, &srv->pool_async);
    uint32_t want = thread_count(srv);
    srv->pool_threads = folio_calloc(want, sizeof(pthread_t));
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = 0;
    while (srv->pool_thread_count < want && err == 0) {
        err = pthread_create(&srv->pool_threads[srv->pool_thread_count], NULL, worker_main, srv);
        if (err == 0)
            srv->pool_thread_count++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (srv->pool_thread_count == 0) {
        folio_log(FOLIO_LOG_ERROR, "cannot start a read worker", "error=\"%s\"", strerror(err));
        pool_stop(srv);
        return FOLIO_E_IO;
    }
    if (err != 0)
        folio_log(FOLIO_LOG_WARN, "fewer read workers than asked", "started=%u asked=%u",
                  srv->pool_thread_count, want);
    folio_log(FOLIO_LOG_DEBUG, "read workers started", "threads=%u", srv->pool_thread_count);
    return 0;
}

void
pool_stop(struct folio_server *srv)
{
    if (srv->pool_threads == NULL)
        return;
    pthread_mutex_lock(&srv->pool_mu);
    FOLIO_ASSERT(srv->pool_head == NULL && srv->pool_done_head == NULL);
    srv->pool_stopping = true;
    pthread_cond_broadcast(&srv->pool_cond);
    pthread_mutex_unlock(&srv->pool_mu);
    for (uint32_t i = 0; i < srv->pool_thread_count; i++)
        pthread_join(srv->pool_threads[i], NULL);
    ev_async_stop(srv->loop, &srv->pool_async);
    pthread_cond_destroy(&srv->pool_cond);
    pthread_mutex_destroy(&srv->pool_mu);
    folio_free(srv->pool_threads);
    srv->pool_threads = NULL;
    srv->pool_thread_count = 0;
}

void
srv_job_submit(struct srv_ctx *x, struct srv_job *job)
{
    struct folio_server *srv = x->srv;
    struct srv_req *r = x->req;
    job->req = r;
    r->conn->regs++;
    r->awaiting = true;
    pthread_mutex_lock(&srv->pool_mu);
    job_push(&srv->pool_head, &srv->pool_tail, job);
    pthread_cond_signal(&srv->pool_cond);
    pthread_mutex_unlock(&srv->pool_mu);
}
