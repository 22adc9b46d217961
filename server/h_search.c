/*
 * POST and GET /indexes/{uid}/search, and POST /multi-search without
 * federation: Meilisearch's search routes over folio_index_search
 * (include/folio/index.h).
 *
 * The loop thread turns the body or the query parameters into a search job,
 * answering Meilisearch's errors for what is malformed; a read worker
 * (pool.c) acquires each index, runs the searches and keeps the responses or
 * the error; the loop then answers. The loop never runs a search itself. A
 * job holds one query (the search route) or the queries of a multi-search
 * (at most SEARCH_MULTI_QUERIES_MAX), all parsed by the same function
 * (query_parse) and run in order on one worker, one read transaction each;
 * the first error ends the job and answers the whole request.
 *
 * Inside a multi-search, the parse errors that Meilisearch's deserializer
 * reports carry their location (`.queries[2].limit`, "inside
 * `.queries[2]`"), and every other error of a query, whether found while
 * parsing (the filter's type, a parameter folio does not support) or while
 * searching (index_not_found, invalid_search_filter...), is prefixed
 * "Inside `.queries[2]`: " as Meilisearch does. The results of the queries
 * together stay under FOLIO_INDEX_READ_BYTES_MAX, the bound of one search's.
 *
 * Parameters: q, offset, limit, filter, attributesToRetrieve. filter is a
 * string, or Meilisearch's array form: the AND of its elements, each a
 * string or an array of strings that are ORed (blank strings and empty
 * arrays drop out). The array form becomes one expression with every string
 * in parentheses. Each string must stand on its own, as it does in
 * Meilisearch: one whose quotes or parentheses do not close within it is
 * checked alone first, and when the whole expression fails the string at
 * fault is found by checking each alone, so the message and its columns are
 * that string's. GET takes the same parameters (attributesToRetrieve comma
 * separated); its filter is read as JSON when it parses as JSON (so the
 * array form works there too), else as a string, as Meilisearch does.
 *
 * The other parameters of Meilisearch's search are accepted when null or at
 * their default value (what clients send when the user asks nothing of
 * them), and refused with their own invalid_search_* code otherwise; a field
 * Meilisearch does not know is bad_request ("Unknown field").
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"
#include "server_int.h"

/* A multi-search takes at most this many queries (docs/api.md). */
#define SEARCH_MULTI_QUERIES_MAX 1000u

/* One query: its parameters, then what the worker found. */
struct search_query {
    char *uid;
    size_t uid_len;
    char *q;                /* NULL: no q */
    uint64_t offset, limit;
    bool paged;             /* page or hitsPerPage given: pages instead of offset/limit */
    uint64_t page, hits_per_page;
    struct srv_buf filter;  /* the expression; len 0: no filter */
    char **parts;           /* array form: each string of it */
    size_t part_count;
    char **attrs;           /* NULL: every displayed attribute */
    size_t attr_count;
    char **facets;          /* NULL: no facets asked */
    size_t facet_count;
    /* set by the worker */
    int rc;
    char *json;
    size_t json_len;
    struct folio_index_error err;
};

struct search_job {
    struct srv_job job; /* first: the pool hands back &job */
    struct folio_sched *sched;
    bool multi;         /* POST /multi-search: results wrapped, errors located */
    struct search_query *queries;
    size_t count;
    size_t failed;      /* set by the worker: the query whose error is answered; count: none */
};

static void
job_free(struct search_job *j)
{
    for (size_t i = 0; i < j->count; i++) {
        struct search_query *q = &j->queries[i];
        folio_free(q->uid);
        folio_free(q->q);
        buf_free(&q->filter);
        str_list_free(q->parts, q->part_count);
        str_list_free(q->attrs, q->attr_count);
        str_list_free(q->facets, q->facet_count);
        folio_free(q->json);
    }
    folio_free(j->queries);
    folio_free(j);
}

/*
 * A 400 about the query at `at` ("" for the search route, ".queries[i]"
 * inside a multi-search), for the errors Meilisearch reports after
 * deserializing: the message is prefixed "Inside `.queries[i]`: ".
 */
static void
query_error(struct srv_ctx *x, const char *at, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
query_error(struct srv_ctx *x, const char *at, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    FOLIO_ASSERT(n >= 0);
    if (at[0] != '\0')
        resp_error(x->req, 400, code, "Inside `%s`: %s", at, msg);
    else
        resp_error(x->req, 400, code, "%s", msg);
    free(msg);
}

/* ---- the filter's array form ------------------------------------------------------------ */

static bool
blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return *s == '\0';
}

/* "Invalid syntax for the filter parameter: `expected String, Array, found: 42`." */
static void
filter_type_error(struct srv_ctx *x, const char *at, const char *expected, const json_t *v)
{
    char *found = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = found != NULL ? strlen(found) : 0;
    query_error(x, at, "invalid_search_filter",
                "Invalid syntax for the filter parameter: `expected %s, found: %.300s%s`.",
                expected, found != NULL ? found : "", len > 300 ? "..." : "");
    free(found);
}

static void
part_add(struct search_query *q, const char *s)
{
    q->parts = folio_realloc(q->parts, (q->part_count + 1) * sizeof(char *));
    q->parts[q->part_count++] = folio_strdup(s);
    buf_printf(&q->filter, "(%s)", s);
}

/* One element of the array form: a string, or an array of strings to OR. */
static bool
filter_element(struct srv_ctx *x, const char *at, struct search_query *q, const json_t *e)
{
    if (json_is_string(e)) {
        if (blank(json_string_value(e)))
            return true;
        if (q->filter.len > 0)
            buf_append(&q->filter, " AND ", 5);
        part_add(q, json_string_value(e));
        return true;
    }
    if (!json_is_array(e)) {
        filter_type_error(x, at, "String, [String]", e);
        return false;
    }
    size_t i, used = 0;
    json_t *o;
    json_array_foreach(e, i, o) {
        if (!json_is_string(o)) {
            filter_type_error(x, at, "String", o);
            return false;
        }
        used += !blank(json_string_value(o));
    }
    if (used == 0)
        return true;
    buf_append(&q->filter, q->filter.len > 0 ? " AND (" : "(", q->filter.len > 0 ? 6 : 1);
    used = 0;
    json_array_foreach(e, i, o) {
        if (blank(json_string_value(o)))
            continue;
        if (used++ > 0)
            buf_append(&q->filter, " OR ", 4);
        part_add(q, json_string_value(o));
    }
    buf_append(&q->filter, ")", 1);
    return true;
}

/* The filter value (null, a string or the array form) into q; false with the error answered. */
static bool
filter_from_json(struct srv_ctx *x, const char *at, struct search_query *q, const json_t *v)
{
    if (json_is_null(v))
        return true;
    if (json_is_string(v)) {
        buf_append(&q->filter, json_string_value(v), json_string_length(v));
        return true;
    }
    if (!json_is_array(v)) {
        filter_type_error(x, at, "String, Array", v);
        return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!filter_element(x, at, q, e))
            return false;
    }
    return true;
}

/* ---- the search, on a read worker --------------------------------------------------------- */

/* True if s's quotes close and its parentheses balance within it (the filter's lexing). */
static bool
self_contained(const char *s)
{
    long depth = 0;
    for (size_t i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        if (c == '\'' || c == '"') {
            for (i++; s[i] != '\0' && s[i] != c; i++)
                if (s[i] == '\\' && s[i + 1] != '\0')
                    i++;
            if (s[i] == '\0')
                return false;
        } else if (c == '(') {
            depth++;
        } else if (c == ')' && --depth < 0) {
            return false;
        }
    }
    return depth == 0;
}

/* Checks strings of the array form alone (all, or the not self-contained): 0 or the first
   FOLIO_E_INVALID_SEARCH_FILTER, with its message in q->err. */
static int
parts_check(struct search_query *q, struct folio_index *idx, bool all)
{
    for (size_t i = 0; i < q->part_count; i++) {
        if (!all && self_contained(q->parts[i]))
            continue;
        struct folio_index_search_req req;
        folio_index_search_req_default(&req);
        req.filter = q->parts[i];
        req.limit = 0;
        char *json = NULL;
        size_t len = 0;
        int rc = folio_index_search(idx, &req, &json, &len, &q->err);
        folio_free(json);
        if (rc == FOLIO_E_INVALID_SEARCH_FILTER)
            return rc;
    }
    return 0;
}

/* One query, in its own read transaction: q->rc, and q->json or q->err. */
static void
query_run(struct folio_sched *sched, struct search_query *q)
{
    struct folio_index *idx = NULL;
    q->rc = folio_sched_index_acquire(sched, q->uid, q->uid_len, &idx);
    if (q->rc != 0)
        return;
    q->rc = parts_check(q, idx, false);
    if (q->rc == 0) {
        struct folio_index_search_req req;
        folio_index_search_req_default(&req);
        req.q = q->q;
        req.offset = q->offset;
        req.limit = q->limit;
        req.paged = q->paged;
        req.page = q->page;
        req.hits_per_page = q->hits_per_page;
        req.facets = (const char *const *)q->facets;
        req.facet_count = q->facet_count;
        req.filter = q->filter.len > 0 ? q->filter.ptr : NULL;
        req.attributes_to_retrieve = (const char *const *)q->attrs;
        req.attributes_to_retrieve_count = q->attr_count;
        q->rc = folio_index_search(idx, &req, &q->json, &q->json_len, &q->err);
        if (q->rc == FOLIO_E_INVALID_SEARCH_FILTER && q->part_count > 0) {
            struct folio_index_error whole = q->err;
            if (parts_check(q, idx, true) == 0)
                q->err = whole;
        }
    }
    folio_sched_index_release(sched, idx);
}

/* The queries in order, until the first error; their results together stay under the bound. */
static void
search_run(struct srv_job *job)
{
    struct search_job *j = (struct search_job *)job;
    size_t total = 0;
    j->failed = j->count;
    for (size_t i = 0; i < j->count; i++) {
        struct search_query *q = &j->queries[i];
        query_run(j->sched, q);
        if (q->rc == 0 && q->json_len > FOLIO_INDEX_READ_BYTES_MAX - total) {
            q->rc = FOLIO_E_TOO_LARGE;
            snprintf(q->err.message, sizeof(q->err.message),
                     "The results of the multi-search would exceed %u MiB.",
                     FOLIO_INDEX_READ_BYTES_MAX >> 20);
        }
        if (q->rc != 0) {
            j->failed = i;
            return;
        }
        total += q->json_len;
    }
}

/* ---- the answer, on the loop --------------------------------------------------------------- */

/* The error of q; pre is "" or "Inside `.queries[i]`: ". */
static void
query_answer_error(struct srv_req *r, const struct search_query *q, const char *pre)
{
    const char *msg = q->err.message[0] != '\0' ? q->err.message : folio_err_message(q->rc);
    switch (q->rc) {
    case FOLIO_E_NOT_FOUND:
        resp_error(r, 404, "index_not_found", "%sIndex `%s` not found.", pre, q->uid);
        break;
    case FOLIO_E_INVALID_SEARCH_FILTER:
        resp_error(r, 400, "invalid_search_filter", "%s%s", pre, msg);
        break;
    case FOLIO_E_INVALID_SEARCH_Q: resp_error(r, 400, "invalid_search_q", "%s%s", pre, msg); break;
    case FOLIO_E_INVALID_SEARCH_FACETS:
        resp_error(r, 400, "invalid_search_facets", "%s%s", pre, msg);
        break;
    case FOLIO_E_TOO_LARGE:
        resp_error(r, 400, "bad_request",
                   "%s%s Ask for fewer hits with `limit`, or fewer attributes with "
                   "`attributesToRetrieve`.",
                   pre, msg);
        break;
    case FOLIO_E_AGAIN:
        /* About the whole request, as Meilisearch's search queue is. */
        resp_error(r, 503, "too_many_search_requests",
                   "Too many search requests are running at the same time. Retry after a few "
                   "seconds.");
        break;
    default: resp_error(r, 500, "internal", "%sThe search failed: %s", pre, msg); break;
    }
}

/* {"results":[{"indexUid":...,"hits":...}, ...]}: each search's object with its index first. */
static void
multi_answer(struct srv_req *r, const struct search_job *j)
{
    struct srv_buf out = {0};
    buf_append(&out, "{\"results\":[", 12);
    for (size_t i = 0; i < j->count; i++) {
        const struct search_query *q = &j->queries[i];
        /* The uid is valid (letters, digits, - and _): it needs no escaping. */
        FOLIO_ASSERT(q->json_len > 2 && q->json[0] == '{');
        buf_printf(&out, "%s{\"indexUid\":\"%s\",", i > 0 ? "," : "", q->uid);
        buf_append(&out, q->json + 1, q->json_len - 1);
    }
    buf_append(&out, "]}", 2);
    resp_body(r, 200, "application/json", out.ptr, out.len);
    buf_free(&out);
}

static void
search_done(struct srv_job *job)
{
    struct search_job *j = (struct search_job *)job;
    struct srv_req *r = job->req;
    if (j->failed < j->count) {
        char pre[64] = "";
        if (j->multi)
            snprintf(pre, sizeof(pre), "Inside `.queries[%zu]`: ", j->failed);
        query_answer_error(r, &j->queries[j->failed], pre);
    } else if (j->multi) {
        multi_answer(r, j);
    } else {
        resp_body(r, 200, "application/json", j->queries[0].json, j->queries[0].json_len);
    }
    job_free(j);
}

/* A job of count queries at their defaults. */
static struct search_job *
job_new(struct srv_ctx *x, bool multi, size_t count)
{
    struct search_job *j = folio_calloc(1, sizeof(*j));
    j->job.run = search_run;
    j->job.done = search_done;
    j->sched = x->sched;
    j->multi = multi;
    j->count = count;
    j->queries = folio_calloc(count > 0 ? count : 1, sizeof(*j->queries));
    for (size_t i = 0; i < count; i++) {
        j->queries[i].limit = FOLIO_INDEX_SEARCH_LIMIT_DEFAULT;
        j->queries[i].page = 1;
        j->queries[i].hits_per_page = FOLIO_INDEX_SEARCH_LIMIT_DEFAULT;
    }
    return j;
}

/* The search route: hands the job to a read worker once the index uid is valid; else answers
   and frees it. */
static void
job_submit(struct srv_ctx *x, struct search_job *j)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0])) {
        job_free(j);
        return;
    }
    j->queries[0].uid = folio_strndup(x->args[0], x->arg_lens[0]);
    j->queries[0].uid_len = x->arg_lens[0];
    srv_job_submit(x, &j->job);
}

/* ---- parameters folio does not support yet ------------------------------------------------ */

/*
 * Meilisearch's other search parameters, in the order its deserr messages
 * list them, with the values folio accepts for them (JSON; null is always
 * accepted in a body) and, for GET, as query text. NULL: none.
 */
static const struct other_param {
    const char *name;
    const char *code;
    const char *json_ok;  /* a JSON array of the accepted values */
    const char *query_ok; /* accepted query texts, '|'-separated */
} other_params[] = {
    {"vector", "invalid_search_vector", "[]", NULL},
    {"media", "invalid_search_media", "[]", NULL},
    {"hybrid", "invalid_search_hybrid_query", "[]", NULL},
    {"retrieveVectors", "invalid_search_retrieve_vectors", "[false]", "false"},
    {"attributesToCrop", "invalid_search_attributes_to_crop", "[[]]", ""},
    {"cropLength", "invalid_search_crop_length", "[10]", "10"},
    {"attributesToHighlight", "invalid_search_attributes_to_highlight", "[[]]", ""},
    {"showMatchesPosition", "invalid_search_show_matches_position", "[false]", "false"},
    {"showRankingScore", "invalid_search_show_ranking_score", "[false]", "false"},
    {"showRankingScoreDetails", "invalid_search_show_ranking_score_details", "[false]", "false"},
    {"sort", "invalid_search_sort", "[[]]", ""},
    {"distinct", "invalid_search_distinct", "[]", NULL},
    {"highlightPreTag", "invalid_search_highlight_pre_tag", "[\"<em>\"]", "<em>"},
    {"highlightPostTag", "invalid_search_highlight_post_tag", "[\"</em>\"]", "</em>"},
    {"cropMarker", "invalid_search_crop_marker", "[\"\xe2\x80\xa6\"]", "\xe2\x80\xa6"},
    {"matchingStrategy", "invalid_search_matching_strategy", "[\"last\",\"all\"]", "last|all"},
    {"attributesToSearchOn", "invalid_search_attributes_to_search_on", "[[\"*\"]]", "*"},
    {"rankingScoreThreshold", "invalid_search_ranking_score_threshold", "[]", NULL},
    {"locales", "invalid_search_locales", "[[]]", ""},
    {"hybridEmbedder", "invalid_search_hybrid_query", "[]", NULL},
    {"hybridSemanticRatio", "invalid_search_semantic_ratio", "[]", NULL},
};

static const struct other_param *
other_param(const char *name)
{
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(other_params); i++)
        if (strcmp(other_params[i].name, name) == 0)
            return &other_params[i];
    return NULL;
}

static void
other_refused(struct srv_ctx *x, const char *at, const struct other_param *o, bool query)
{
    json_t *ok = json_loads(o->json_ok, 0, NULL);
    FOLIO_ASSERT(ok != NULL);
    struct srv_buf values = {0};
    size_t i;
    json_t *a;
    if (!query) {
        json_array_foreach(ok, i, a) {
            char *text = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
            buf_printf(&values, "%s`%s`", i == 0 ? "" : " or ", text != NULL ? text : "");
            free(text);
        }
    }
    for (const char *t = query ? o->query_ok : NULL; t != NULL;) {
        const char *bar = strchr(t, '|');
        int len = bar != NULL ? (int)(bar - t) : (int)strlen(t);
        buf_printf(&values, "%s`%.*s`", values.len ? " or " : "", len, t);
        t = bar != NULL ? bar + 1 : NULL;
    }
    if (values.len == 0)
        query_error(x, at, o->code, "folio does not support `%s` yet: leave it out%s.", o->name,
                    query ? "" : " or send null");
    else
        query_error(x, at, o->code,
                    "folio does not support `%s` yet: leave it out, or send its default value %s.",
                    o->name, values.ptr);
    buf_free(&values);
    json_decref(ok);
}

/* A body field folio does not support: true if v is null or an accepted value. */
static bool
other_json_ok(struct srv_ctx *x, const char *at, const struct other_param *o, const json_t *v)
{
    bool ok = json_is_null(v);
    json_t *accepted = json_loads(o->json_ok, 0, NULL);
    FOLIO_ASSERT(accepted != NULL);
    size_t i;
    json_t *a;
    json_array_foreach(accepted, i, a) {
        ok = ok || json_equal(a, (json_t *)v);
    }
    json_decref(accepted);
    if (!ok)
        other_refused(x, at, o, false);
    return ok;
}

static bool
other_query_ok(struct srv_ctx *x, const struct other_param *o, const struct srv_param *p)
{
    const char *s = o->query_ok;
    while (s != NULL) {
        const char *bar = strchr(s, '|');
        size_t len = bar != NULL ? (size_t)(bar - s) : strlen(s);
        if (len == p->val_len && memcmp(s, p->val, len) == 0)
            return true;
        s = bar != NULL ? bar + 1 : NULL;
    }
    other_refused(x, "", o, true);
    return false;
}

/* ---- POST ---------------------------------------------------------------------------------- */

static const char *const body_fields[] = {
    "q", "vector", "media", "hybrid", "offset", "limit", "page", "hitsPerPage",
    "attributesToRetrieve", "retrieveVectors", "attributesToCrop", "cropLength",
    "attributesToHighlight", "showMatchesPosition", "showRankingScore", "showRankingScoreDetails",
    "filter", "sort", "distinct", "facets", "highlightPreTag", "highlightPostTag", "cropMarker",
    "matchingStrategy", "attributesToSearchOn", "rankingScoreThreshold", "locales", NULL};

/* Meilisearch's "Unknown field" error; inside a multi-search, the query's fields are listed
   with `indexUid` first and `federationOptions` last, as its message does. */
static void
unknown_field(struct srv_ctx *x, const char *at, const char *key)
{
    struct srv_buf list = {0};
    if (at[0] != '\0')
        buf_printf(&list, "`indexUid`, ");
    for (size_t k = 0; body_fields[k] != NULL; k++)
        buf_printf(&list, "%s`%s`", k ? ", " : "", body_fields[k]);
    if (at[0] != '\0')
        resp_error(x->req, 400, "bad_request",
                   "Unknown field `%.200s` inside `%s`: expected one of %s, `federationOptions`",
                   key, at, list.ptr);
    else
        resp_error(x->req, 400, "bad_request", "Unknown field `%.200s`: expected one of %s", key,
                   list.ptr);
    buf_free(&list);
}

static bool
body_u64(struct srv_ctx *x, const char *at, const char *key, const char *code, const json_t *v,
         uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    char where[96];
    snprintf(where, sizeof(where), "%s.%s", at, key);
    resp_value_type(x, code, where, "a positive integer", v);
    return false;
}

/* page or hitsPerPage: null leaves it unset; a number turns pages on. */
static bool
body_page_field(struct srv_ctx *x, const char *at, struct search_query *q, const char *key,
                const json_t *v)
{
    if (json_is_null(v))
        return true;
    bool page = strcmp(key, "page") == 0;
    q->paged = true;
    return body_u64(x, at, key, page ? "invalid_search_page" : "invalid_search_hits_per_page", v,
                    page ? &q->page : &q->hits_per_page);
}

/* An array of strings (null: left unset) into *list; false with the error answered. */
static bool
body_strings(struct srv_ctx *x, const char *at, const char *key, const char *code,
             const json_t *v, char ***list, size_t *count)
{
    char where[96];
    if (json_is_null(v))
        return true;
    if (!json_is_array(v)) {
        snprintf(where, sizeof(where), "%s.%s", at, key);
        resp_value_type(x, code, where, "an array", v);
        return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) {
            snprintf(where, sizeof(where), "%s.%s[%zu]", at, key, i);
            resp_value_type(x, code, where, "a string", e);
            return false;
        }
    }
    str_list_free(*list, *count);
    *count = 0;
    *list = folio_calloc(json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, e) {
        (*list)[(*count)++] = folio_strdup(json_string_value(e));
    }
    return true;
}

static bool
body_attrs(struct srv_ctx *x, const char *at, struct search_query *q, const json_t *v)
{
    return body_strings(x, at, "attributesToRetrieve", "invalid_search_attributes_to_retrieve", v,
                        &q->attrs, &q->attr_count);
}

/* A multi-search query's indexUid: a valid index uid, as Meilisearch's IndexUid. */
static bool
body_index_uid(struct srv_ctx *x, const char *at, struct search_query *q, const json_t *v)
{
    char where[96];
    snprintf(where, sizeof(where), "%s.indexUid", at);
    if (!json_is_string(v)) {
        resp_value_type(x, "invalid_index_uid", where, "a string", v);
        return false;
    }
    const char *uid = json_string_value(v);
    size_t len = json_string_length(v);
    if (!folio_index_uid_valid(uid, len)) {
        resp_error(x->req, 400, "invalid_index_uid",
                   "Invalid value at `%s`: `%.*s` is not a valid index uid. Index uid can be an "
                   "integer or a string containing only alphanumeric characters, hyphens (-) and "
                   "underscores (_), and can not be more than %u bytes.",
                   where, (int)(len > 450 ? 450 : len), uid, FOLIO_INDEX_UID_MAX);
        return false;
    }
    folio_free(q->uid);
    q->uid = folio_strndup(uid, len);
    q->uid_len = len;
    return true;
}

/* One field of a query object into q; false with the error answered. Fields go in body order;
   indexUid and federationOptions belong to a multi-search's queries only. */
static bool
body_field(struct srv_ctx *x, const char *at, struct search_query *q, const char *key,
           const json_t *v)
{
    bool multi = at[0] != '\0';
    if (strcmp(key, "q") == 0) {
        if (json_is_null(v))
            return true;
        if (!json_is_string(v)) {
            char where[96];
            snprintf(where, sizeof(where), "%s.q", at);
            resp_value_type(x, "invalid_search_q", where, "a string", v);
            return false;
        }
        q->q = folio_strdup(json_string_value(v));
        return true;
    }
    if (strcmp(key, "offset") == 0)
        return body_u64(x, at, "offset", "invalid_search_offset", v, &q->offset);
    if (strcmp(key, "limit") == 0)
        return body_u64(x, at, "limit", "invalid_search_limit", v, &q->limit);
    if (strcmp(key, "page") == 0 || strcmp(key, "hitsPerPage") == 0)
        return body_page_field(x, at, q, key, v);
    if (strcmp(key, "filter") == 0)
        return filter_from_json(x, at, q, v);
    if (strcmp(key, "attributesToRetrieve") == 0)
        return body_attrs(x, at, q, v);
    if (strcmp(key, "facets") == 0)
        return body_strings(x, at, "facets", "invalid_search_facets", v, &q->facets,
                            &q->facet_count);
    if (multi && strcmp(key, "indexUid") == 0)
        return body_index_uid(x, at, q, v);
    if (multi && strcmp(key, "federationOptions") == 0) {
        if (json_is_null(v))
            return true;
        /* Meilisearch's error for it in a multi-search without `federation`. */
        query_error(x, at, "invalid_multi_search_federation_options",
                    "Using `federationOptions` is not allowed in a non-federated search.\n - "
                    "Hint: remove `federationOptions` from query #%lu or add `federation` to the "
                    "request.",
                    strtoul(at + strlen(".queries["), NULL, 10));
        return false;
    }
    /* hybridEmbedder and hybridSemanticRatio are GET's spelling of `hybrid`. */
    const struct other_param *o = other_param(key);
    if (o == NULL || (strncmp(key, "hybrid", 6) == 0 && key[6] != '\0')) {
        unknown_field(x, at, key);
        return false;
    }
    return other_json_ok(x, at, o, v);
}

/*
 * One query object into q: the search route's body (at "") or an element of
 * a multi-search's queries (at ".queries[i]", which must name its index);
 * false with the error answered.
 */
static bool
query_parse(struct srv_ctx *x, const char *at, const json_t *obj, struct search_query *q)
{
    if (!json_is_object(obj)) {
        resp_value_type(x, "bad_request", at, "an object", obj);
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (!body_field(x, at, q, key, v))
            return false;
    }
    if (at[0] != '\0' && q->uid == NULL) {
        resp_error(x->req, 400, "missing_index_uid", "Missing field `indexUid` inside `%s`", at);
        return false;
    }
    return true;
}

void
h_search_post(struct srv_ctx *x)
{
    json_t *body = NULL;
    if (body_json(x, &body) != 0)
        return;
    struct search_job *j = job_new(x, false, 1);
    bool ok = query_parse(x, "", body, &j->queries[0]);
    json_decref(body);
    if (!ok) {
        job_free(j);
        return;
    }
    job_submit(x, j);
}

/* ---- POST /multi-search -------------------------------------------------------------------- */

/* The queries array into a new job; NULL with the error answered. */
static struct search_job *
multi_queries(struct srv_ctx *x, const json_t *v)
{
    if (!json_is_array(v)) {
        resp_value_type(x, "bad_request", ".queries", "an array", v);
        return NULL;
    }
    size_t count = json_array_size(v);
    if (count > SEARCH_MULTI_QUERIES_MAX) {
        resp_error(x->req, 400, "bad_request",
                   "Too many queries in `.queries`: folio runs at most %u in one multi-search, "
                   "found %zu. Split them over several requests.",
                   SEARCH_MULTI_QUERIES_MAX, count);
        return NULL;
    }
    struct search_job *j = job_new(x, true, count);
    for (size_t i = 0; i < count; i++) {
        char at[32];
        snprintf(at, sizeof(at), ".queries[%zu]", i);
        if (!query_parse(x, at, json_array_get(v, i), &j->queries[i])) {
            job_free(j);
            return NULL;
        }
    }
    return j;
}

/* The body's fields in order, as Meilisearch's deserializer reads them; NULL with the error
   answered. */
static struct search_job *
multi_body(struct srv_ctx *x, const json_t *body)
{
    if (!json_is_object(body)) {
        resp_value_type(x, "bad_request", "", "an object", body);
        return NULL;
    }
    struct search_job *j = NULL;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        if (strcmp(key, "queries") == 0) {
            FOLIO_ASSERT(j == NULL); /* jansson keeps one value per key */
            j = multi_queries(x, v);
            if (j == NULL)
                return NULL;
            continue;
        }
        if (strcmp(key, "federation") == 0) {
            if (json_is_null(v))
                continue;
            resp_error(x->req, 400, "bad_request",
                       "folio does not support federated search (`federation`) yet: leave it out "
                       "or send null to get the results of each query.");
        } else {
            resp_error(x->req, 400, "bad_request",
                       "Unknown field `%.200s`: expected one of `queries`, `federation`", key);
        }
        if (j != NULL)
            job_free(j);
        return NULL;
    }
    if (j == NULL)
        resp_error(x->req, 400, "bad_request", "Missing field `queries`");
    return j;
}

void
h_multi_search(struct srv_ctx *x)
{
    json_t *body = NULL;
    if (body_json(x, &body) != 0)
        return;
    struct search_job *j = multi_body(x, body);
    json_decref(body);
    if (j == NULL)
        return;
    if (j->count == 0) {
        resp_body(x->req, 200, "application/json", "{\"results\":[]}", 14);
        job_free(j);
        return;
    }
    srv_job_submit(x, &j->job);
}

/* ---- GET ------------------------------------------------------------------------------------- */

static const char *const query_params[] = {
    "q", "vector", "offset", "limit", "page", "hitsPerPage", "attributesToRetrieve",
    "retrieveVectors", "attributesToCrop", "cropLength", "attributesToHighlight", "filter", "sort",
    "distinct", "showMatchesPosition", "showRankingScore", "showRankingScoreDetails", "facets",
    "highlightPreTag", "highlightPostTag", "cropMarker", "matchingStrategy", "attributesToSearchOn",
    "hybridEmbedder", "hybridSemanticRatio", "rankingScoreThreshold", "locales", NULL};

static bool
query_u64(struct srv_ctx *x, const struct srv_param *p, const char *code, uint64_t *out)
{
    if (parse_u64(p->val, p->val_len, out))
        return true;
    resp_param_error(x, code, p->key, "could not parse `%.200s` as a positive integer", p->val);
    return false;
}

/* `a,b`: each name trimmed, empty ones left out. */
static void
query_names(const struct srv_param *p, char ***list, size_t *count)
{
    size_t n = 0;
    struct folio_str *pieces = param_pieces(p, true, true, &n);
    str_list_free(*list, *count);
    *list = folio_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        (*list)[i] = folio_strndup(pieces[i].ptr, pieces[i].len);
    *count = n;
    folio_free(pieces);
}

/* filter=: JSON when it parses as JSON (the array form), else the expression itself. */
static bool
query_filter(struct srv_ctx *x, struct search_query *q, const struct srv_param *p)
{
    json_t *v = json_loadb(p->val, p->val_len, JSON_DECODE_ANY, NULL);
    if (v == NULL) {
        buf_append(&q->filter, p->val, p->val_len);
        return true;
    }
    bool ok = filter_from_json(x, "", q, v);
    json_decref(v);
    return ok;
}

/* One query parameter into q; false with the error answered. */
static bool
query_param(struct srv_ctx *x, struct search_query *q, const struct srv_param *p)
{
    /* Text cut at a NUL would mean something else (attributesToRetrieve: another attribute). */
    static const struct {
        const char *key, *code;
    } no_nul[] = {{"q", "invalid_search_q"},
                  {"filter", "invalid_search_filter"},
                  {"facets", "invalid_search_facets"},
                  {"attributesToRetrieve", "invalid_search_attributes_to_retrieve"}};
    if (strlen(p->val) != p->val_len)
        for (size_t i = 0; i < FOLIO_ARRAY_LEN(no_nul); i++)
            if (strcmp(p->key, no_nul[i].key) == 0) {
                resp_param_error(x, no_nul[i].code, p->key, "a NUL character is not allowed");
                return false;
            }
    if (strcmp(p->key, "q") == 0) {
        folio_free(q->q);
        q->q = folio_strndup(p->val, p->val_len);
        return true;
    }
    if (strcmp(p->key, "offset") == 0)
        return query_u64(x, p, "invalid_search_offset", &q->offset);
    if (strcmp(p->key, "limit") == 0)
        return query_u64(x, p, "invalid_search_limit", &q->limit);
    if (strcmp(p->key, "page") == 0) {
        q->paged = true;
        return query_u64(x, p, "invalid_search_page", &q->page);
    }
    if (strcmp(p->key, "hitsPerPage") == 0) {
        q->paged = true;
        return query_u64(x, p, "invalid_search_hits_per_page", &q->hits_per_page);
    }
    if (strcmp(p->key, "filter") == 0)
        return query_filter(x, q, p);
    if (strcmp(p->key, "attributesToRetrieve") == 0) {
        query_names(p, &q->attrs, &q->attr_count);
        return true;
    }
    if (strcmp(p->key, "facets") == 0) {
        query_names(p, &q->facets, &q->facet_count);
        return true;
    }
    return other_query_ok(x, other_param(p->key), p);
}

void
h_search_get(struct srv_ctx *x)
{
    if (!params_known(x, query_params))
        return;
    struct search_job *j = job_new(x, false, 1);
    /* The last of a repeated parameter wins (param_get), as everywhere else. */
    for (size_t i = 0; i < x->param_count; i++) {
        const struct srv_param *p = &x->params[i];
        if (param_get(x, p->key) != p)
            continue;
        if (!query_param(x, &j->queries[0], p)) {
            job_free(j);
            return;
        }
    }
    job_submit(x, j);
}
