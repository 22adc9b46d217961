/*
 * /tasks and /batches: listing with filters and pagination, one task or
 * batch, and the cancelation and deletion of tasks by filter.
 *
 * Reads take the scheduler's read lock for the query and the JSON
 * conversion of one page (bounded by `limit`), and release it before the
 * response is written. POST /tasks/cancel and DELETE /tasks register a
 * taskCancelation / taskDeletion with the parsed filter and the raw query
 * string ("?uids=1,2", the task's originalFilter) and answer 200 with the
 * summarized task: Meilisearch answers these two with 200, not 202 (a
 * historical quirk it keeps for compatibility).
 */
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "server_int.h"

static json_t *
uid_or_null(bool set, uint32_t v)
{
    return set ? json_integer(v) : json_null();
}

/* {results, total, limit, from, next} of a task or batch page. */
static void
answer_page(struct srv_ctx *x, bool batches, const struct folio_sched_query *q)
{
    const struct folio_sched_state *st = folio_sched_read_lock(x->sched);
    struct folio_sched_page page;
    int rc = batches ? folio_sched_query_batches(st, q, &page)
                     : folio_sched_query_tasks(st, q, &page);
    json_t *results = json_array();
    for (uint32_t i = 0; rc == 0 && i < page.count; i++) {
        json_t *item = NULL;
        if (batches) {
            struct folio_batch_view b;
            rc = folio_sched_batch_get(st, page.uids[i], &b);
            if (rc == 0)
                rc = folio_batch_view_to_json(&b, &item);
        } else {
            struct folio_task_view t;
            rc = folio_sched_task_get(st, page.uids[i], &t);
            if (rc == 0)
                rc = folio_task_view_to_json(&t, &item);
        }
        if (rc == 0)
            json_array_append_new(results, item);
    }
    folio_sched_read_unlock(x->sched);
    if (rc != 0) {
        json_decref(results);
        folio_sched_page_clear(&page);
        resp_error(x->req, 500, "internal", "Reading the %s failed: %s.",
                   batches ? "batches" : "tasks", folio_err_message(rc));
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "results", results);
    json_object_set_new(o, "total", json_integer((json_int_t)page.total));
    json_object_set_new(o, "limit", json_integer(page.limit));
    json_object_set_new(o, "from", uid_or_null(page.has_from, page.from));
    json_object_set_new(o, "next", uid_or_null(page.has_next, page.next));
    folio_sched_page_clear(&page);
    resp_json(x->req, 200, o);
}

void
h_tasks_list(struct srv_ctx *x)
{
    struct taskq t;
    if (taskq_parse(x, TASKQ_TASKS, &t) != 0)
        return;
    answer_page(x, false, &t.q);
    taskq_free(&t);
}

void
h_batches_list(struct srv_ctx *x)
{
    struct taskq t;
    if (taskq_parse(x, TASKQ_BATCHES, &t) != 0)
        return;
    answer_page(x, true, &t.q);
    taskq_free(&t);
}

static void
answer_one(struct srv_ctx *x, bool batch)
{
    const char *what = batch ? "Batch" : "Task";
    uint32_t uid;
    if (!parse_u32(x->args[0], x->arg_lens[0], &uid)) {
        resp_error(x->req, 400, batch ? "invalid_batch_uids" : "invalid_task_uids",
                   "%s uid `%.200s` is invalid. It should only contain numeric characters.", what,
                   x->args[0]);
        return;
    }
    const struct folio_sched_state *st = folio_sched_read_lock(x->sched);
    json_t *o = NULL;
    int rc;
    if (batch) {
        struct folio_batch_view b;
        rc = folio_sched_batch_get(st, uid, &b);
        if (rc == 0)
            rc = folio_batch_view_to_json(&b, &o);
    } else {
        struct folio_task_view t;
        rc = folio_sched_task_get(st, uid, &t);
        if (rc == 0)
            rc = folio_task_view_to_json(&t, &o);
    }
    folio_sched_read_unlock(x->sched);
    if (rc == FOLIO_E_NOT_FOUND)
        resp_error(x->req, 404, batch ? "batch_not_found" : "task_not_found", "%s `%u` not found.",
                   what, uid);
    else if (rc != 0)
        resp_error(x->req, 500, "internal", "Reading %s %u failed: %s.", batch ? "batch" : "task",
                   uid, folio_err_message(rc));
    else
        resp_json(x->req, 200, o);
}

void
h_task_get(struct srv_ctx *x)
{
    answer_one(x, false);
}

void
h_batch_get(struct srv_ctx *x)
{
    answer_one(x, true);
}

static void
register_by_filter(struct srv_ctx *x, enum folio_task_kind kind)
{
    struct taskq t;
    if (taskq_parse(x, TASKQ_FILTER_ONLY, &t) != 0)
        return;
    /* The raw query string, as Meilisearch keeps it: "?" + what the client sent. */
    char *query = folio_malloc(x->query_len + 2);
    query[0] = '?';
    memcpy(query + 1, x->query ? x->query : "", x->query_len);
    query[x->query_len + 1] = '\0';
    struct folio_sched_request req = {.kind = kind};
    if (t.any_filter) {
        req.filter = &t.q;
        req.query = (struct folio_str){query, (uint32_t)(x->query_len + 1)};
    }
    srv_register(x, &req, 200);
    folio_free(query);
    taskq_free(&t);
}

void
h_tasks_cancel(struct srv_ctx *x)
{
    register_by_filter(x, FOLIO_KIND_TASK_CANCELATION);
}

void
h_tasks_delete(struct srv_ctx *x)
{
    register_by_filter(x, FOLIO_KIND_TASK_DELETION);
}
