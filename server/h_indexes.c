/*
 * /indexes (list, get, create, update, delete) and /swap-indexes.
 *
 * An index as the API shows it ({uid, createdAt, updatedAt, primaryKey},
 * Meilisearch's IndexView) joins two sources: the scheduler's index mapping
 * (uid, creation time) and the index env itself, which knows the primary key
 * once a document addition inferred it and the time of its last change. The
 * mapping is copied out under the read lock; the env is read after it is
 * released.
 *
 * Bodies are checked the way Meilisearch's deserr does, field by field, with
 * its codes: bad_request for an unknown field or a body of the wrong shape,
 * missing_index_uid, invalid_index_uid, invalid_index_primary_key,
 * missing_swap_indexes, invalid_swap_indexes, invalid_swap_rename.
 */
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"
#include "server_int.h"

struct index_info {
    char uid[FOLIO_INDEX_UID_MAX + 1];
    int64_t created_at_ns, updated_at_ns;
    bool has_primary_key;
    char primary_key[FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX + 1];
};

static void
info_from_view(const struct folio_index_view *v, struct index_info *out)
{
    snprintf(out->uid, sizeof(out->uid), "%.*s", (int)v->uid.len, v->uid.ptr);
    out->created_at_ns = v->created_at_ns;
    out->updated_at_ns = v->updated_at_ns;
    out->has_primary_key = v->primary_key.len > 0;
    snprintf(out->primary_key, sizeof(out->primary_key), "%.*s", (int)v->primary_key.len,
             v->primary_key.ptr ? v->primary_key.ptr : "");
}

/* Completes info from the index env (primary key, last change), if it can be read. */
static void
info_from_env(struct srv_ctx *x, struct index_info *info)
{
    struct folio_index *idx;
    if (folio_sched_index_acquire(x->sched, info->uid, strlen(info->uid), &idx) != 0)
        return;
    struct folio_index_stats *st = NULL;
    struct folio_index_error ierr;
    if (folio_index_stats_get(idx, &st, &ierr) == 0) {
        if (st->has_primary_key) {
            info->has_primary_key = true;
            snprintf(info->primary_key, sizeof(info->primary_key), "%s", st->primary_key);
        }
        if (st->updated_at_ns > info->updated_at_ns)
            info->updated_at_ns = st->updated_at_ns;
    }
    folio_index_stats_free(st);
    folio_sched_index_release(x->sched, idx);
}

static json_t *
info_json(const struct index_info *info)
{
    char created[64], updated[64];
    json_t *o = json_object();
    json_object_set_new(o, "uid", json_string(info->uid));
    json_object_set_new(o, "createdAt", json_string(folio_sched_format_date(
                                            info->created_at_ns, created, sizeof(created))));
    json_object_set_new(o, "updatedAt", json_string(folio_sched_format_date(
                                            info->updated_at_ns, updated, sizeof(updated))));
    json_object_set_new(o, "primaryKey",
                        info->has_primary_key ? json_string(info->primary_key) : json_null());
    return o;
}

static bool
param_u32(struct srv_ctx *x, const char *name, const char *code, uint32_t *out)
{
    const struct srv_param *p = param_get(x, name);
    if (p == NULL)
        return true;
    if (parse_u32(p->val, p->val_len, out))
        return true;
    resp_param_error(x, code, name, "could not parse `%.200s` as a positive integer", p->val);
    return false;
}

void
h_indexes_list(struct srv_ctx *x)
{
    static const char *const known[] = {"offset", "limit", NULL};
    uint32_t offset = 0, limit = 20;
    if (!params_known(x, known) || !param_u32(x, "offset", "invalid_index_offset", &offset) ||
        !param_u32(x, "limit", "invalid_index_limit", &limit))
        return;
    struct folio_index_view *views = NULL;
    size_t total = 0;
    struct index_info *page = NULL;
    size_t count = 0;
    const struct folio_sched_state *st = folio_sched_read_lock(x->sched);
    int rc = folio_sched_index_list(st, &views, &total);
    if (rc == 0 && offset < total) {
        count = total - offset < limit ? total - offset : limit;
        page = folio_calloc(count ? count : 1, sizeof(*page));
        for (size_t i = 0; i < count; i++)
            info_from_view(&views[offset + i], &page[i]);
    }
    folio_sched_read_unlock(x->sched);
    folio_free(views);
    if (rc != 0) {
        resp_error(x->req, 500, "internal", "Listing the indexes failed: %s.",
                   folio_err_message(rc));
        return;
    }
    json_t *results = json_array();
    for (size_t i = 0; i < count; i++) {
        info_from_env(x, &page[i]);
        json_array_append_new(results, info_json(&page[i]));
    }
    folio_free(page);
    json_t *o = json_object();
    json_object_set_new(o, "results", results);
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "limit", json_integer(limit));
    json_object_set_new(o, "total", json_integer((json_int_t)total));
    resp_json(x->req, 200, o);
}

void
h_index_get(struct srv_ctx *x)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    struct index_info info;
    struct folio_index_view v;
    const struct folio_sched_state *st = folio_sched_read_lock(x->sched);
    int rc = folio_sched_index_get(st, x->args[0], x->arg_lens[0], &v);
    if (rc == 0)
        info_from_view(&v, &info);
    folio_sched_read_unlock(x->sched);
    if (rc != 0) {
        resp_index_not_found(x, x->args[0], x->arg_lens[0]);
        return;
    }
    info_from_env(x, &info);
    resp_json(x->req, 200, info_json(&info));
}

/* An optional string field (null allowed); false: the error is answered. */
static bool
opt_string(struct srv_ctx *x, json_t *body, const char *key, const char *code,
           struct folio_str *out)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        char where[64];
        snprintf(where, sizeof(where), ".%s", key);
        resp_value_type(x, code, where, "a string", v);
        return false;
    }
    *out = (struct folio_str){json_string_value(v), (uint32_t)json_string_length(v)};
    return true;
}

/* primaryKey: an optional string, not "" (resp_empty_primary_key). */
static bool
opt_primary_key(struct srv_ctx *x, json_t *body, struct folio_str *out)
{
    if (!opt_string(x, body, "primaryKey", "invalid_index_primary_key", out))
        return false;
    if (out->ptr == NULL || out->len > 0)
        return true;
    resp_empty_primary_key(x->req, "at `.primaryKey`");
    return false;
}

static bool
body_uid_valid(struct srv_ctx *x, const char *where, struct folio_str uid)
{
    if (folio_index_uid_valid(uid.ptr, uid.len))
        return true;
    resp_error(x->req, 400, "invalid_index_uid",
               "Invalid value at `%s`: `%.*s` is not a valid index uid. Index uid can be an "
               "integer or a string containing only alphanumeric characters, hyphens (-) and "
               "underscores (_), and can not be more than %u bytes.",
               where, (int)(uid.len > 450 ? 450 : uid.len), uid.ptr, FOLIO_INDEX_UID_MAX);
    return false;
}

/* Parses a JSON object body with the given fields; NULL when answered. */
static json_t *
object_body(struct srv_ctx *x, const char *const *known)
{
    json_t *body;
    if (body_json_typed(x, false, &body) != 0)
        return NULL;
    if (!json_fields_known(x, body, known, NULL)) {
        json_decref(body);
        return NULL;
    }
    return body;
}

void
h_index_create(struct srv_ctx *x)
{
    static const char *const known[] = {"uid", "primaryKey", NULL};
    json_t *body = object_body(x, known);
    if (body == NULL)
        return;
    struct folio_sched_request req = {.kind = FOLIO_KIND_INDEX_CREATION};
    json_t *uid = json_object_get(body, "uid");
    if (uid == NULL) {
        resp_error(x->req, 400, "missing_index_uid", "Missing field `uid`");
    } else if (!json_is_string(uid)) {
        resp_value_type(x, "invalid_index_uid", ".uid", "a string", uid);
    } else {
        req.index_uid =
            (struct folio_str){json_string_value(uid), (uint32_t)json_string_length(uid)};
        if (body_uid_valid(x, ".uid", req.index_uid) &&
            opt_primary_key(x, body, &req.primary_key))
            srv_register(x, &req, 202);
    }
    json_decref(body);
}

void
h_index_update(struct srv_ctx *x)
{
    static const char *const known[] = {"primaryKey", "uid", NULL};
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    json_t *body = object_body(x, known);
    if (body == NULL)
        return;
    struct folio_sched_request req = {.kind = FOLIO_KIND_INDEX_UPDATE};
    req.index_uid = (struct folio_str){x->args[0], (uint32_t)x->arg_lens[0]};
    if (opt_primary_key(x, body, &req.primary_key) &&
        opt_string(x, body, "uid", "invalid_index_uid", &req.new_index_uid) &&
        (req.new_index_uid.ptr == NULL || body_uid_valid(x, ".uid", req.new_index_uid)))
        srv_register(x, &req, 202);
    json_decref(body);
}

void
h_index_delete(struct srv_ctx *x)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    struct folio_sched_request req = {.kind = FOLIO_KIND_INDEX_DELETION};
    req.index_uid = (struct folio_str){x->args[0], (uint32_t)x->arg_lens[0]};
    srv_register(x, &req, 202);
}

/* ---- POST /swap-indexes ------------------------------------------------------------------ */

static bool
swap_entry(struct srv_ctx *x, size_t i, json_t *e, struct folio_task_swap *out)
{
    static const char *const known[] = {"indexes", "rename", NULL};
    char where[96];
    snprintf(where, sizeof(where), "[%zu]", i);
    if (!json_is_object(e)) {
        resp_value_type(x, "bad_request", where, "an object", e);
        return false;
    }
    if (!json_fields_known(x, e, known, where))
        return false;
    json_t *idx = json_object_get(e, "indexes");
    json_t *rename = json_object_get(e, "rename");
    if (idx == NULL) {
        resp_error(x->req, 400, "missing_swap_indexes", "Missing field `indexes` inside `%s`",
                   where);
        return false;
    }
    snprintf(where, sizeof(where), "[%zu].indexes", i);
    if (!json_is_array(idx)) {
        resp_value_type(x, "invalid_swap_indexes", where, "an array", idx);
        return false;
    }
    if (json_array_size(idx) != 2) {
        resp_error(x->req, 400, "invalid_swap_indexes",
                   "Invalid value at `%s`: the sequence should have exactly 2 elements", where);
        return false;
    }
    for (size_t k = 0; k < 2; k++) {
        json_t *u = json_array_get(idx, k);
        snprintf(where, sizeof(where), "[%zu].indexes[%zu]", i, k);
        if (!json_is_string(u)) {
            resp_value_type(x, "invalid_swap_indexes", where, "a string", u);
            return false;
        }
        out->indexes[k] = (struct folio_str){json_string_value(u), (uint32_t)json_string_length(u)};
        if (!body_uid_valid(x, where, out->indexes[k]))
            return false;
    }
    out->rename = false;
    if (rename != NULL && !json_is_null(rename)) {
        if (!json_is_boolean(rename)) {
            snprintf(where, sizeof(where), "[%zu].rename", i);
            resp_value_type(x, "invalid_swap_rename", where, "a boolean", rename);
            return false;
        }
        out->rename = json_is_true(rename);
    }
    return true;
}

void
h_swap_indexes(struct srv_ctx *x)
{
    json_t *body;
    if (body_json_typed(x, true, &body) != 0)
        return;
    size_t n = json_array_size(body);
    struct folio_task_swap *swaps = folio_calloc(n ? n : 1, sizeof(*swaps));
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++)
        ok = swap_entry(x, i, json_array_get(body, i), &swaps[i]);
    if (ok) {
        struct folio_sched_request req = {.kind = FOLIO_KIND_INDEX_SWAP};
        req.swaps = swaps;
        req.swap_count = (uint32_t)n;
        srv_register(x, &req, 202);
    }
    folio_free(swaps);
    json_decref(body);
}
