/*
 * JSON views of tasks and batches, as Meilisearch's TaskView and BatchView
 * (DESIGN §9, reference §1.1, §3.1), and the msgpack-to-JSON conversion of
 * the objects tasks carry.
 *
 * Dates are RFC 3339 in UTC with the fraction trimmed of trailing zeros
 * ("2025-03-01T10:05:00.1Z"); durations are Meilisearch's ISO 8601 subset
 * (days and seconds only: "PT0.004518S", "P1DT5S"), null when negative.
 * `details` is left out when a task has none, as Meilisearch's serializer
 * does.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "sched_int.h"

/* ---- msgpack to JSON ----------------------------------------------------- */

static json_t *mp_to_json(struct mpr *r, unsigned depth);

static json_t *
mp_container_to_json(struct mpr *r, const struct mpv *v, unsigned depth)
{
    json_t *out = v->kind == MPK_MAP ? json_object() : json_array();
    for (uint32_t i = 0; out != NULL && i < v->len; i++) {
        char *key = NULL;
        if (v->kind == MPK_MAP) {
            const uint8_t *p;
            uint32_t n;
            if (mpr_str(r, &p, &n) != 0) {
                json_decref(out);
                return NULL;
            }
            key = str_dup_n((const char *)p, n);
        }
        json_t *item = mp_to_json(r, depth + 1);
        int rc = item == NULL ? -1
                 : key != NULL ? json_object_set_new(out, key, item)
                               : json_array_append_new(out, item);
        folio_free(key);
        if (rc != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *
mp_to_json(struct mpr *r, unsigned depth)
{
    struct mpv v;
    if (depth > FOLIO_EVENT_OBJECT_DEPTH_MAX || mpr_next(r, &v) != 0)
        return NULL;
    switch (v.kind) {
    case MPK_NIL: return json_null();
    case MPK_BOOL: return json_boolean(v.b);
    case MPK_UINT:
        /* JSON integers are int64 in jansson; larger ones become reals */
        return v.u <= (uint64_t)INT64_MAX ? json_integer((json_int_t)v.u) : json_real((double)v.u);
    case MPK_INT: return json_integer(v.i);
    case MPK_FLOAT: return json_real(v.f);
    case MPK_STR: return json_stringn((const char *)v.ptr, v.len); /* NULL if not UTF-8 */
    case MPK_BIN: {
        /* folio never stores binary in objects; shown as hex, as `folio journal show` does */
        char *hex = folio_malloc((size_t)v.len * 2 + 1);
        for (uint32_t i = 0; i < v.len; i++)
            snprintf(hex + 2 * i, 3, "%02x", v.ptr[i]);
        json_t *s = json_string(hex);
        folio_free(hex);
        return s;
    }
    default: return mp_container_to_json(r, &v, depth);
    }
}

int
folio_object_to_json(const uint8_t *buf, size_t len, json_t **out)
{
    *out = NULL;
    if (len == 0 || !mp_one_value(buf, len, FOLIO_EVENT_OBJECT_DEPTH_MAX))
        return FOLIO_E_DECODE;
    struct mpr r = {buf, buf + len};
    *out = mp_to_json(&r, 0);
    return *out != NULL ? 0 : FOLIO_E_DECODE;
}

/* ---- dates and durations ------------------------------------------------- */

char *
folio_sched_format_date(int64_t unix_ns, char *buf, size_t len)
{
    char tmp[FOLIO_RFC3339_LEN + 8];
    folio_clock_format_rfc3339(unix_ns, tmp, sizeof(tmp));
    /* "....SS.123400000Z" -> "....SS.1234Z"; no fraction at all for whole seconds */
    size_t n = strlen(tmp);
    char *dot = memchr(tmp, '.', n);
    if (dot != NULL && n > 0 && tmp[n - 1] == 'Z') {
        char *end = tmp + n - 1;
        while (end > dot + 1 && end[-1] == '0')
            end--;
        if (end == dot + 1)
            end = dot;
        end[0] = 'Z';
        end[1] = '\0';
        n = (size_t)(end + 1 - tmp);
    }
    if (len > 0) {
        size_t m = n < len - 1 ? n : len - 1;
        memcpy(buf, tmp, m);
        buf[m] = '\0';
    }
    return buf;
}

char *
folio_sched_format_duration(int64_t ns, char *buf, size_t len)
{
    if (ns < 0)
        return NULL;
    int64_t secs = ns / 1000000000, nanos = ns % 1000000000;
    int64_t days = secs / 86400;
    secs -= days * 86400;
    int n = snprintf(buf, len, "P");
    if (days != 0)
        n += snprintf(buf + n, len - (size_t)n, "%" PRId64 "D", days);
    if (secs != 0 || nanos != 0 || days == 0) {
        if (nanos == 0)
            snprintf(buf + n, len - (size_t)n, "T%" PRId64 "S", secs);
        else if (nanos % 1000000 == 0)
            snprintf(buf + n, len - (size_t)n, "T%" PRId64 ".%03" PRId64 "S", secs, nanos / 1000000);
        else if (nanos % 1000 == 0)
            snprintf(buf + n, len - (size_t)n, "T%" PRId64 ".%06" PRId64 "S", secs, nanos / 1000);
        else
            snprintf(buf + n, len - (size_t)n, "T%" PRId64 ".%09" PRId64 "S", secs, nanos);
    }
    return buf;
}

static json_t *
date_or_null(bool set, int64_t ns)
{
    char buf[64];
    return set ? json_string(folio_sched_format_date(ns, buf, sizeof(buf))) : json_null();
}

static json_t *
uid_or_null(uint32_t v)
{
    return v == FOLIO_SCHED_NONE ? json_null() : json_integer(v);
}

static json_t *
duration_or_null(bool set, int64_t ns)
{
    char buf[64];
    return set && folio_sched_format_duration(ns, buf, sizeof(buf)) ? json_string(buf) : json_null();
}

/* ---- views ------------------------------------------------------------- */

static int
task_details_json(const struct folio_task_view *t, json_t **out)
{
    *out = NULL;
    if (t->details.len > 0)
        return folio_object_to_json(t->details.ptr, t->details.len, out);
    if (t->finished)
        return 0; /* finished without details: none */
    uint8_t *buf;
    size_t len;
    int rc = folio_task_details_default(t, &buf, &len);
    if (rc == 0 && len > 0)
        rc = folio_object_to_json(buf, len, out);
    folio_free(buf);
    return rc;
}

int
folio_task_view_to_json(const struct folio_task_view *t, json_t **out)
{
    json_t *details = NULL, *error = json_null(), *o = json_object();
    const struct folio_str *index_uid = folio_task_view_index_uid(t);
    int rc = task_details_json(t, &details);
    if (rc == 0 && t->error.len > 0) {
        json_decref(error);
        rc = folio_object_to_json(t->error.ptr, t->error.len, &error);
    }
    if (rc != 0) {
        json_decref(o);
        json_decref(details);
        json_decref(error);
        return rc;
    }
    json_object_set_new(o, "uid", json_integer(t->uid));
    json_object_set_new(o, "batchUid", uid_or_null(t->batch_uid));
    json_object_set_new(o, "indexUid", index_uid ? json_stringn(index_uid->ptr, index_uid->len) : json_null());
    json_object_set_new(o, "status", json_string(folio_task_status_name(t->status)));
    json_object_set_new(o, "type", json_string(folio_task_kind_name(t->kind)));
    json_object_set_new(o, "canceledBy", uid_or_null(t->canceled_by));
    if (details != NULL)
        json_object_set_new(o, "details", details);
    json_object_set_new(o, "error", error);
    json_object_set_new(o, "duration", duration_or_null(t->started && t->finished,
                                                        t->finished_at_ns - t->started_at_ns));
    json_object_set_new(o, "enqueuedAt", date_or_null(true, t->enqueued_at_ns));
    json_object_set_new(o, "startedAt", date_or_null(t->started, t->started_at_ns));
    json_object_set_new(o, "finishedAt", date_or_null(t->finished, t->finished_at_ns));
    *out = o;
    return 0;
}

static json_t *
batch_progress_json(const struct folio_batch_view *b)
{
    if (b->finished)
        return json_null();
    json_t *steps = json_array();
    for (uint32_t i = 0; i < b->step_count; i++) {
        json_t *s = json_object();
        json_object_set_new(s, "currentStep", json_stringn(b->steps[i].name.ptr, b->steps[i].name.len));
        json_object_set_new(s, "finished", json_integer(b->steps[i].finished));
        json_object_set_new(s, "total", json_integer(b->steps[i].total));
        json_array_append_new(steps, s);
    }
    json_t *p = json_object();
    json_object_set_new(p, "steps", steps);
    json_object_set_new(p, "percentage", json_real(folio_batch_view_percentage(b)));
    return p;
}

static json_t *
batch_stats_json(const struct folio_batch_view *b)
{
    json_t *st = json_object(), *status = json_object(), *types = json_object(), *idx = json_object();
    for (unsigned i = 0; i < FOLIO_STATUS_COUNT; i++)
        if (b->status_counts[i] > 0)
            json_object_set_new(status, folio_task_status_name(i), json_integer(b->status_counts[i]));
    for (unsigned i = 0; i < FOLIO_KIND_COUNT; i++)
        if (b->kind_counts[i] > 0)
            json_object_set_new(types, folio_task_kind_name(i), json_integer(b->kind_counts[i]));
    for (uint32_t i = 0; i < b->index_count; i++)
        json_object_set_new(idx, b->index_counts[i].index_uid.ptr, json_integer(b->index_counts[i].count));
    json_object_set_new(st, "totalNbTasks", json_integer(b->total_tasks));
    json_object_set_new(st, "status", status);
    json_object_set_new(st, "types", types);
    json_object_set_new(st, "indexUids", idx);
    return st;
}

int
folio_batch_view_to_json(const struct folio_batch_view *b, json_t **out)
{
    json_t *o = json_object();
    json_object_set_new(o, "uid", json_integer(b->uid));
    json_object_set_new(o, "progress", batch_progress_json(b));
    json_object_set_new(o, "details", json_object());
    json_object_set_new(o, "stats", batch_stats_json(b));
    json_object_set_new(o, "duration", duration_or_null(b->finished, b->finished_at_ns - b->started_at_ns));
    json_object_set_new(o, "startedAt", date_or_null(true, b->started_at_ns));
    json_object_set_new(o, "finishedAt", date_or_null(b->finished, b->finished_at_ns));
    json_object_set_new(o, "batchStrategy", json_stringn(b->reason.ptr, b->reason.len));
    *out = o;
    return 0;
}
