/*
 * The server's life: options and defaults, the loop (ev_loop_new, never the
 * default loop, which reaps every child process), the signal watchers and the
 * orderly shutdown.
 *
 * Shutdown. The first SIGINT or SIGTERM stops accepting and closes the
 * listening socket; each connection finishes the request it is receiving and
 * those it has queued (registrations included), answers the last one with
 * `Connection: close` and ends. The loop returns when the last connection is
 * freed. A second signal, or the grace period (request timeout plus the
 * lingering close) running out, closes the remaining sockets at once; a
 * connection with registrations still in the journal stays allocated until
 * they are answered, which the journal always does, so run() still returns
 * only when nothing points into the server. Searches in flight on the read
 * workers (pool.c) are waited for the same way; the workers are joined once
 * the loop has returned.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "server_int.h"

int
folio_server_new(const struct folio_server_opts *opts, struct folio_server **out, char *why,
                 size_t why_len)
{
    struct folio_server *srv = folio_calloc(1, sizeof(*srv));
    if (opts != NULL)
        srv->opts = *opts;
    struct folio_server_opts *o = &srv->opts;
    if (o->payload_bytes_max == 0)
        o->payload_bytes_max = FOLIO_SERVER_PAYLOAD_DEFAULT;
    if (o->header_bytes_max == 0)
        o->header_bytes_max = FOLIO_SERVER_HEADER_BYTES_DEFAULT;
    if (o->keep_alive_timeout_ms == 0)
        o->keep_alive_timeout_ms = FOLIO_SERVER_TIMEOUT_MS_DEFAULT;
    if (o->request_timeout_ms == 0)
        o->request_timeout_ms = FOLIO_SERVER_TIMEOUT_MS_DEFAULT;
    if (o->connections_max == 0)
        o->connections_max = FOLIO_SERVER_CONNECTIONS_DEFAULT;
    o->http_addr = NULL;
    o->master_key = NULL;
    if (opts != NULL && opts->master_key != NULL && opts->master_key[0] != '\0')
        srv->master_key = folio_strdup(opts->master_key);
    srv->listen_fd = -1;
    srv->reserve_fd = -1;
    pthread_mutex_init(&srv->reg_mu, NULL);
    const char *addr = opts != NULL && opts->http_addr != NULL ? opts->http_addr
                                                                : FOLIO_SERVER_ADDR_DEFAULT;
    int rc = listen_open(srv, addr, why, why_len);
    if (rc != 0) {
        folio_server_free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

const char *
folio_server_address(const struct folio_server *srv)
{
    return srv->address;
}

static void
force_close_all(struct folio_server *srv)
{
    srv->forced = true;
    for (struct srv_conn *c = srv->conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_force_close(c);
    }
}

static void
grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct folio_server *srv = w->data;
    folio_log(FOLIO_LOG_WARN, "shutdown grace period over", "connections=%u", srv->conn_count);
    force_close_all(srv);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct folio_server *srv = w->data;
    if (srv->stopping) {
        folio_log(FOLIO_LOG_WARN, "second signal: closing connections", "connections=%u",
                  srv->conn_count);
        force_close_all(srv);
        return;
    }
    srv->stopping = true;
    folio_log(FOLIO_LOG_INFO, "shutting down", "signal=%d connections=%u", w->signum,
              srv->conn_count);
    listen_stop(srv);
    for (struct srv_conn *c = srv->conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_drain(c);
    }
    if (srv->conn_count == 0 && srv->refusing_count == 0) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    double grace = (double)srv->opts.request_timeout_ms / 1000.0 + SRV_LINGER_MS / 1000.0 + 1.0;
    ev_timer_init(&srv->grace, grace_cb, grace, 0.);
    srv->grace.data = srv;
    ev_timer_start(loop, &srv->grace);
}

int
folio_server_run(struct folio_server *srv, struct folio_sched *sched)
{
    FOLIO_ASSERT(srv->loop == NULL && srv->listen_fd >= 0);
    srv->sched = sched;
    srv->loop = ev_loop_new(EVFLAG_AUTO);
    if (srv->loop == NULL) {
        folio_log(FOLIO_LOG_ERROR, "cannot create the event loop", NULL);
        return FOLIO_E_IO;
    }
    if (pool_start(srv) != 0) {
        ev_loop_destroy(srv->loop);
        srv->loop = NULL;
        return FOLIO_E_IO;
    }
    ev_async_init(&srv->reg_async, reg_async_cb);
    srv->reg_async.data = srv;
    ev_async_start(srv->loop, &srv->reg_async);
    ev_signal_init(&srv->sigint_w, signal_cb, SIGINT);
    srv->sigint_w.data = srv;
    ev_signal_init(&srv->sigterm_w, signal_cb, SIGTERM);
    srv->sigterm_w.data = srv;
    ev_signal_start(srv->loop, &srv->sigint_w);
    ev_signal_start(srv->loop, &srv->sigterm_w);
    /* A program may hold these blocked until now (foliod does, so that a signal sent right
       after it says it listens is not lost to the default action): deliver them here. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
    listen_start(srv);
    folio_log(FOLIO_LOG_INFO, "listening", "addr=%s", srv->address);

    ev_run(srv->loop, 0);

    FOLIO_ASSERT(srv->conn_count == 0 && srv->refusing_count == 0);
    ev_timer_stop(srv->loop, &srv->grace);
    /* Stopping the watchers restores the default action: a signal sent while the caller
       closes the scheduler (finishing a batch) would kill the process. Blocked again, it
       stays pending and the process ends cleanly; SIGKILL remains (the journal is
       crash-safe). */
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    ev_signal_stop(srv->loop, &srv->sigint_w);
    ev_signal_stop(srv->loop, &srv->sigterm_w);
    ev_async_stop(srv->loop, &srv->reg_async);
    pool_stop(srv);
    listen_stop(srv);
    ev_loop_destroy(srv->loop);
    srv->loop = NULL;
    folio_log(FOLIO_LOG_INFO, "stopped", NULL);
    return 0;
}

void
folio_server_free(struct folio_server *srv)
{
    if (srv == NULL)
        return;
    FOLIO_ASSERT(srv->loop == NULL && srv->conns == NULL && srv->done_head == NULL);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    pthread_mutex_destroy(&srv->reg_mu);
    folio_free(srv->master_key);
    folio_free(srv);
}
