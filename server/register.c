/*
 * Enqueuing routes: a request is validated and queued by
 * folio_sched_register_async() on the loop thread; its answer is sent only
 * when the scheduler's callback reports the task_registered event durable
 * (DESIGN §11, invariant 1).
 *
 * The callback runs on the journal writer thread. It must be quick and must
 * not touch the loop's structures, so it only appends the result to a
 * mutex-protected list and wakes the loop with ev_async_send(); the loop
 * drains the list (reg_async_cb) and answers. The request and its connection
 * stay allocated until then (see server_int.h), so a client that hangs up
 * early costs nothing but the answer it will not read.
 */
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "server_int.h"

static void
registered(void *ctx, int err, const struct folio_sched_registered *task)
{
    struct srv_reg *g = ctx;
    struct folio_server *srv = g->srv;
    g->err = err;
    if (task != NULL)
        g->task = *task;
    pthread_mutex_lock(&srv->reg_mu);
    g->next = NULL;
    if (srv->done_tail != NULL)
        srv->done_tail->next = g;
    else
        srv->done_head = g;
    srv->done_tail = g;
    pthread_mutex_unlock(&srv->reg_mu);
    ev_async_send(srv->loop, &srv->reg_async);
}

void
srv_register(struct srv_ctx *x, const struct folio_sched_request *req, int ok_status)
{
    struct srv_req *r = x->req;
    struct srv_reg *g = folio_calloc(1, sizeof(*g));
    g->srv = x->srv;
    g->req = r;
    g->ok_status = ok_status;
    /* Counted before the call: the callback may run before it returns. */
    r->conn->regs++;
    r->awaiting = true;
    struct folio_sched_error err;
    memset(&err, 0, sizeof(err));
    int rc = folio_sched_register_async(x->sched, req, registered, g, &err);
    if (rc != 0) {
        r->conn->regs--;
        r->awaiting = false;
        folio_free(g);
        if (err.http_status == 0) {
            err.http_status = 500;
            snprintf(err.code, sizeof(err.code), "internal");
            snprintf(err.message, sizeof(err.message), "The task could not be registered: %s.",
                     folio_err_message(rc));
        }
        resp_sched_error(r, &err);
    }
}

static void
answer(struct srv_reg *g)
{
    struct srv_req *r = g->req;
    r->awaiting = false;
    if (g->err == 0) {
        resp_summarized(r, g->ok_status, &g->task);
    } else {
        bool nospc = g->err == FOLIO_E_NOSPC;
        resp_error(r, nospc ? 422 : 500, nospc ? "no_space_left_on_device" : "internal",
                   "The task could not be recorded: %s.", folio_err_message(g->err));
    }
    struct srv_conn *c = r->conn;
    folio_free(g);
    conn_reg_done(c);
}

void
reg_drain(struct folio_server *srv)
{
    pthread_mutex_lock(&srv->reg_mu);
    struct srv_reg *g = srv->done_head;
    srv->done_head = srv->done_tail = NULL;
    pthread_mutex_unlock(&srv->reg_mu);
    while (g != NULL) {
        struct srv_reg *next = g->next;
        answer(g);
        g = next;
    }
}

void
reg_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    reg_drain(w->data);
}
