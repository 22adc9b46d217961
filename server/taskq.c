/*
 * Task filters from a query string (GET /tasks, GET /batches, POST
 * /tasks/cancel, DELETE /tasks) into a struct folio_sched_query, with
 * Meilisearch's parameter names, error codes and messages (reference §2.1).
 *
 * Lists are comma-separated; a `*` anywhere in a list means "no filter"
 * (but still counts as a filter for cancel/delete, as in Meilisearch). An
 * item that does not parse names its position when the list has several
 * (`uids[1]`). Unknown parameters are bad_request, and limit/from/reverse
 * are unknown to cancel and delete.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/sched.h"
#include "server_int.h"

static const char *const list_params[] = {
    "limit", "from", "reverse", "batchUids", "uids", "canceledBy", "types", "statuses",
    "indexUids", "afterEnqueuedAt", "beforeEnqueuedAt", "afterStartedAt", "beforeStartedAt",
    "afterFinishedAt", "beforeFinishedAt", NULL};

static const char *const filter_params[] = {
    "uids", "batchUids", "canceledBy", "types", "statuses", "indexUids", "afterEnqueuedAt",
    "beforeEnqueuedAt", "afterStartedAt", "beforeStartedAt", "afterFinishedAt",
    "beforeFinishedAt", NULL};

/* One comma-separated list: calls item() for each element unless it holds `*`. */
struct list_walk {
    const char *name;
    const char *code;
    size_t count;
    bool star;
};

static size_t
list_count(const char *v, size_t len, bool *star)
{
    size_t n = 1;
    *star = false;
    const char *p = v, *end = v + len;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        const char *a = p, *b = stop;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (b - a == 1 && *a == '*')
            *star = true;
        if (comma == NULL)
            break;
        n++;
        p = comma + 1;
    }
    return n;
}

/* Returns the i-th trimmed element. */
static void
list_item(const char *v, size_t len, size_t i, const char **out, size_t *out_len)
{
    const char *p = v, *end = v + len;
    for (size_t k = 0; k < i; k++)
        p = (const char *)memchr(p, ',', (size_t)(end - p)) + 1;
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *b = comma ? comma : end;
    while (p < b && *p == ' ')
        p++;
    while (b > p && b[-1] == ' ')
        b--;
    *out = p;
    *out_len = (size_t)(b - p);
}

static void
item_name(char *buf, size_t len, const char *name, size_t count, size_t i)
{
    if (count > 1)
        snprintf(buf, len, "%s[%zu]", name, i);
    else
        snprintf(buf, len, "%s", name);
}

/* uids, batchUids, canceledBy. false: error answered. */
static bool
parse_uid_list(struct srv_ctx *x, const char *name, const char *code, uint32_t **out,
               uint32_t *count, bool *set)
{
    const struct srv_param *p = param_get(x, name);
    if (p == NULL)
        return true;
    bool star;
    size_t n = list_count(p->val, p->val_len, &star);
    if (star)
        return true;
    if (n > FOLIO_SCHED_TASKS_MAX) {
        resp_param_error(x, code, name, "too many values (at most %u)", FOLIO_SCHED_TASKS_MAX);
        return false;
    }
    *out = folio_calloc(n, sizeof(**out));
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        list_item(p->val, p->val_len, i, &s, &len);
        if (!parse_u32(s, len, &(*out)[i])) {
            char where[64];
            item_name(where, sizeof(where), name, n, i);
            resp_param_error(x, code, where, "could not parse `%.*s` as a positive integer",
                             (int)(len > 200 ? 200 : len), s);
            return false;
        }
    }
    *count = (uint32_t)n;
    *set = true;
    return true;
}

static void
kinds_list(char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned k = 0; k < FOLIO_KIND_COUNT && n < len; k++)
        n += (size_t)snprintf(buf + n, len - n, "%s`%s`", k ? ", " : "",
                              folio_task_kind_name((enum folio_task_kind)k));
}

static bool
parse_kinds(struct srv_ctx *x, struct folio_sched_query *q)
{
    const struct srv_param *p = param_get(x, "types");
    if (p == NULL)
        return true;
    bool star;
    size_t n = list_count(p->val, p->val_len, &star);
    if (star)
        return true;
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        list_item(p->val, p->val_len, i, &s, &len);
        enum folio_task_kind k;
        if (folio_task_kind_parse(s, len, &k) != 0) {
            char where[64], kinds[700];
            item_name(where, sizeof(where), "types", n, i);
            kinds_list(kinds, sizeof(kinds));
            resp_param_error(x, "invalid_task_types", where,
                             "`%.*s` is not a valid task type. Available types are %s.",
                             (int)(len > 200 ? 200 : len), s, kinds);
            return false;
        }
        q->kinds |= 1u << k;
    }
    return true;
}

static bool
parse_statuses(struct srv_ctx *x, struct folio_sched_query *q)
{
    const struct srv_param *p = param_get(x, "statuses");
    if (p == NULL)
        return true;
    bool star;
    size_t n = list_count(p->val, p->val_len, &star);
    if (star)
        return true;
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        list_item(p->val, p->val_len, i, &s, &len);
        enum folio_task_status st;
        if (folio_task_status_parse(s, len, &st) != 0) {
            char where[64];
            item_name(where, sizeof(where), "statuses", n, i);
            resp_param_error(x, "invalid_task_statuses", where,
                             "`%.*s` is not a valid task status. Available statuses are "
                             "`enqueued`, `processing`, `succeeded`, `failed`, `canceled`.",
                             (int)(len > 200 ? 200 : len), s);
            return false;
        }
        q->statuses |= 1u << st;
    }
    return true;
}

static bool
parse_index_uids(struct srv_ctx *x, struct taskq *t)
{
    const struct srv_param *p = param_get(x, "indexUids");
    if (p == NULL)
        return true;
    bool star;
    size_t n = list_count(p->val, p->val_len, &star);
    if (star)
        return true;
    if (n > 10000) {
        resp_param_error(x, "invalid_index_uid", "indexUids", "too many values (at most 10000)");
        return false;
    }
    t->index_uids = folio_calloc(n, sizeof(*t->index_uids));
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        list_item(p->val, p->val_len, i, &s, &len);
        if (!folio_index_uid_valid(s, len)) {
            char where[64];
            item_name(where, sizeof(where), "indexUids", n, i);
            resp_param_error(x, "invalid_index_uid", where,
                             "`%.*s` is not a valid index uid. Index uid can be an integer or a "
                             "string containing only alphanumeric characters, hyphens (-) and "
                             "underscores (_), and can not be more than %u bytes.",
                             (int)(len > 450 ? 450 : len), s, FOLIO_INDEX_UID_MAX);
            return false;
        }
        t->index_uids[i] = (struct folio_str){s, (uint32_t)len};
    }
    t->q.index_uids = t->index_uids;
    t->q.index_uid_count = (uint32_t)n;
    t->q.index_uids_set = true;
    return true;
}

struct date_param {
    const char *name;
    const char *code;
    bool after;
    size_t offset;
};

#define DATE_PARAM(name, code, after, field)                                                   \
    {name, code, after, offsetof(struct folio_sched_query, field)}

static const struct date_param date_params[] = {
    DATE_PARAM("afterEnqueuedAt", "invalid_task_after_enqueued_at", true, after_enqueued_at),
    DATE_PARAM("beforeEnqueuedAt", "invalid_task_before_enqueued_at", false, before_enqueued_at),
    DATE_PARAM("afterStartedAt", "invalid_task_after_started_at", true, after_started_at),
    DATE_PARAM("beforeStartedAt", "invalid_task_before_started_at", false, before_started_at),
    DATE_PARAM("afterFinishedAt", "invalid_task_after_finished_at", true, after_finished_at),
    DATE_PARAM("beforeFinishedAt", "invalid_task_before_finished_at", false, before_finished_at),
};

static bool
parse_dates(struct srv_ctx *x, struct folio_sched_query *q)
{
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(date_params); i++) {
        const struct date_param *d = &date_params[i];
        const struct srv_param *p = param_get(x, d->name);
        if (p == NULL || (p->val_len == 1 && p->val[0] == '*'))
            continue;
        struct folio_sched_time_bound *b =
            (struct folio_sched_time_bound *)((char *)q + d->offset);
        if (!parse_task_date(p->val, p->val_len, d->after, &b->ns)) {
            resp_param_error(x, d->code, d->name,
                             "`%.*s` is an invalid date-time. It should follow the YYYY-MM-DD or "
                             "RFC 3339 date-time format.",
                             (int)(p->val_len > 200 ? 200 : p->val_len), p->val);
            return false;
        }
        b->set = true;
    }
    return true;
}

static bool
parse_paging(struct srv_ctx *x, struct folio_sched_query *q)
{
    const struct srv_param *p;
    if ((p = param_get(x, "limit")) != NULL) {
        if (!parse_u32(p->val, p->val_len, &q->limit)) {
            resp_param_error(x, "invalid_task_limit", "limit",
                             "could not parse `%.200s` as a positive integer", p->val);
            return false;
        }
        q->limit_set = true;
    }
    if ((p = param_get(x, "from")) != NULL) {
        if (!parse_u32(p->val, p->val_len, &q->from)) {
            resp_param_error(x, "invalid_task_from", "from",
                             "could not parse `%.200s` as a positive integer", p->val);
            return false;
        }
        q->from_set = true;
    }
    if ((p = param_get(x, "reverse")) != NULL &&
        !parse_bool(p->val, p->val_len, &q->reverse)) {
        resp_param_error(x, "invalid_task_reverse", "reverse",
                         "could not parse `%.200s` as a boolean, expected either `true` or "
                         "`false`",
                         p->val);
        return false;
    }
    return true;
}

int
taskq_parse(struct srv_ctx *x, enum taskq_mode mode, struct taskq *t)
{
    memset(t, 0, sizeof(*t));
    if (!params_known(x, mode == TASKQ_FILTER_ONLY ? filter_params : list_params))
        return -1;
    struct folio_sched_query *q = &t->q;
    if ((mode != TASKQ_FILTER_ONLY && !parse_paging(x, q)) ||
        !parse_uid_list(x, "batchUids", "invalid_batch_uids", &t->batch_uids, &q->batch_uid_count,
                        &q->batch_uids_set) ||
        !parse_uid_list(x, "uids", "invalid_task_uids", &t->uids, &q->uid_count, &q->uids_set) ||
        !parse_uid_list(x, "canceledBy", "invalid_task_canceled_by", &t->canceled_by,
                        &q->canceled_by_count, &q->canceled_by_set) ||
        !parse_kinds(x, q) || !parse_statuses(x, q) || !parse_index_uids(x, t) ||
        !parse_dates(x, q)) {
        taskq_free(t);
        return -1;
    }
    q->uids = t->uids;
    q->batch_uids = t->batch_uids;
    q->canceled_by = t->canceled_by;
    for (size_t i = 0; filter_params[i] != NULL; i++)
        if (param_get(x, filter_params[i]) != NULL)
            t->any_filter = true;
    return 0;
}

void
taskq_free(struct taskq *t)
{
    folio_free(t->uids);
    folio_free(t->batch_uids);
    folio_free(t->canceled_by);
    folio_free(t->index_uids);
    memset(t, 0, sizeof(*t));
}
