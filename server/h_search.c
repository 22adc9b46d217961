/*
 * POST and GET /indexes/{uid}/search: Meilisearch's search route over
 * folio_index_search (include/folio/index.h).
 *
 * The loop thread turns the body or the query parameters into a search job,
 * answering Meilisearch's errors for what is malformed; a read worker
 * (pool.c) acquires the index, runs the search and keeps the response or the
 * error; the loop then answers. The loop never runs a search itself.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"
#include "server_int.h"

struct search_job {
    struct srv_job job; /* first: the pool hands back &job */
    struct folio_sched *sched;
    char *uid;
    size_t uid_len;
    char *q;                /* NULL: no q */
    uint64_t offset, limit;
    struct srv_buf filter;  /* the expression; len 0: no filter */
    char **parts;           /* array form: each string of it */
    size_t part_count;
    char **attrs;           /* NULL: every displayed attribute */
    size_t attr_count;
    /* set by the worker */
    int rc;
    char *json;
    size_t json_len;
    struct folio_index_error err;
};

static void
strings_free(char **list, size_t count)
{
    for (size_t i = 0; list != NULL && i < count; i++)
        folio_free(list[i]);
    folio_free(list);
}

static void
job_free(struct search_job *j)
{
    folio_free(j->uid);
    folio_free(j->q);
    buf_free(&j->filter);
    strings_free(j->parts, j->part_count);
    strings_free(j->attrs, j->attr_count);
    folio_free(j->json);
    folio_free(j);
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
filter_type_error(struct srv_ctx *x, const char *expected, const json_t *v)
{
    char *found = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = found != NULL ? strlen(found) : 0;
    resp_error(x->req, 400, "invalid_search_filter",
               "Invalid syntax for the filter parameter: `expected %s, found: %.300s%s`.",
               expected, found != NULL ? found : "", len > 300 ? "..." : "");
    free(found);
}

static void
part_add(struct search_job *j, const char *s)
{
    j->parts = folio_realloc(j->parts, (j->part_count + 1) * sizeof(char *));
    j->parts[j->part_count++] = folio_strdup(s);
    buf_printf(&j->filter, "(%s)", s);
}

/* One element of the array form: a string, or an array of strings to OR. */
static bool
filter_element(struct srv_ctx *x, struct search_job *j, const json_t *e)
{
    if (json_is_string(e)) {
        if (blank(json_string_value(e)))
            return true;
        if (j->filter.len > 0)
            buf_append(&j->filter, " AND ", 5);
        part_add(j, json_string_value(e));
        return true;
    }
    if (!json_is_array(e)) {
        filter_type_error(x, "String, [String]", e);
        return false;
    }
    size_t i, used = 0;
    json_t *o;
    json_array_foreach(e, i, o) {
        if (!json_is_string(o)) {
            filter_type_error(x, "String", o);
            return false;
        }
        used += !blank(json_string_value(o));
    }
    if (used == 0)
        return true;
    buf_append(&j->filter, j->filter.len > 0 ? " AND (" : "(", j->filter.len > 0 ? 6 : 1);
    used = 0;
    json_array_foreach(e, i, o) {
        if (blank(json_string_value(o)))
            continue;
        if (used++ > 0)
            buf_append(&j->filter, " OR ", 4);
        part_add(j, json_string_value(o));
    }
    buf_append(&j->filter, ")", 1);
    return true;
}

/* The filter value (null, a string or the array form) into j; false with the error answered. */
static bool
filter_from_json(struct srv_ctx *x, struct search_job *j, const json_t *v)
{
    if (json_is_null(v))
        return true;
    if (json_is_string(v)) {
        buf_append(&j->filter, json_string_value(v), json_string_length(v));
        return true;
    }
    if (!json_is_array(v)) {
        filter_type_error(x, "String, Array", v);
        return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!filter_element(x, j, e))
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
   FOLIO_E_INVALID_SEARCH_FILTER, with its message in j->err. */
static int
parts_check(struct search_job *j, struct folio_index *idx, bool all)
{
    for (size_t i = 0; i < j->part_count; i++) {
        if (!all && self_contained(j->parts[i]))
            continue;
        struct folio_index_search_req req;
        folio_index_search_req_default(&req);
        req.filter = j->parts[i];
        req.limit = 0;
        char *json = NULL;
        size_t len = 0;
        int rc = folio_index_search(idx, &req, &json, &len, &j->err);
        folio_free(json);
        if (rc == FOLIO_E_INVALID_SEARCH_FILTER)
            return rc;
    }
    return 0;
}

static void
search_run(struct srv_job *job)
{
    struct search_job *j = (struct search_job *)job;
    struct folio_index *idx = NULL;
    j->rc = folio_sched_index_acquire(j->sched, j->uid, j->uid_len, &idx);
    if (j->rc != 0)
        return;
    j->rc = parts_check(j, idx, false);
    if (j->rc == 0) {
        struct folio_index_search_req req;
        folio_index_search_req_default(&req);
        req.q = j->q;
        req.offset = j->offset;
        req.limit = j->limit;
        req.filter = j->filter.len > 0 ? j->filter.ptr : NULL;
        req.attributes_to_retrieve = (const char *const *)j->attrs;
        req.attributes_to_retrieve_count = j->attr_count;
        j->rc = folio_index_search(idx, &req, &j->json, &j->json_len, &j->err);
        if (j->rc == FOLIO_E_INVALID_SEARCH_FILTER && j->part_count > 0) {
            struct folio_index_error whole = j->err;
            if (parts_check(j, idx, true) == 0)
                j->err = whole;
        }
    }
    folio_sched_index_release(j->sched, idx);
}

/* ---- the answer, on the loop --------------------------------------------------------------- */

static void
search_done(struct srv_job *job)
{
    struct search_job *j = (struct search_job *)job;
    struct srv_req *r = job->req;
    const char *msg = j->err.message[0] != '\0' ? j->err.message : folio_err_message(j->rc);
    switch (j->rc) {
    case 0: resp_body(r, 200, "application/json", j->json, j->json_len); break;
    case FOLIO_E_NOT_FOUND:
        resp_error(r, 404, "index_not_found", "Index `%s` not found.", j->uid);
        break;
    case FOLIO_E_INVALID_SEARCH_FILTER:
        resp_error(r, 400, "invalid_search_filter", "%s", msg);
        break;
    case FOLIO_E_INVALID_SEARCH_Q: resp_error(r, 400, "invalid_search_q", "%s", msg); break;
    case FOLIO_E_TOO_LARGE:
        resp_error(r, 400, "bad_request",
                   "%s Ask for fewer hits with `limit`, or fewer attributes with "
                   "`attributesToRetrieve`.",
                   msg);
        break;
    case FOLIO_E_AGAIN:
        resp_error(r, 503, "too_many_search_requests",
                   "Too many search requests running at the same time: %s. Retry after a few "
                   "seconds.",
                   msg);
        break;
    default: resp_error(r, 500, "internal", "The search failed: %s", msg); break;
    }
    job_free(j);
}

static struct search_job *
job_new(struct srv_ctx *x)
{
    struct search_job *j = folio_calloc(1, sizeof(*j));
    j->job.run = search_run;
    j->job.done = search_done;
    j->sched = x->sched;
    j->limit = FOLIO_INDEX_SEARCH_LIMIT_DEFAULT;
    return j;
}

/* Hands the job to a read worker once the index uid is valid; else answers and frees it. */
static void
job_submit(struct srv_ctx *x, struct search_job *j)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0])) {
        job_free(j);
        return;
    }
    j->uid = folio_strndup(x->args[0], x->arg_lens[0]);
    j->uid_len = x->arg_lens[0];
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
    {"page", "invalid_search_page", "[]", NULL},
    {"hitsPerPage", "invalid_search_hits_per_page", "[]", NULL},
    {"retrieveVectors", "invalid_search_retrieve_vectors", "[false]", "false"},
    {"attributesToCrop", "invalid_search_attributes_to_crop", "[[]]", ""},
    {"cropLength", "invalid_search_crop_length", "[10]", "10"},
    {"attributesToHighlight", "invalid_search_attributes_to_highlight", "[[]]", ""},
    {"showMatchesPosition", "invalid_search_show_matches_position", "[false]", "false"},
    {"showRankingScore", "invalid_search_show_ranking_score", "[false]", "false"},
    {"showRankingScoreDetails", "invalid_search_show_ranking_score_details", "[false]", "false"},
    {"sort", "invalid_search_sort", "[[]]", ""},
    {"distinct", "invalid_search_distinct", "[]", NULL},
    {"facets", "invalid_search_facets", "[[]]", ""},
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
other_refused(struct srv_ctx *x, const struct other_param *o, bool query)
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
        resp_error(x->req, 400, o->code, "folio does not support `%s` yet: leave it out%s.",
                   o->name, query ? "" : " or send null");
    else
        resp_error(x->req, 400, o->code,
                   "folio does not support `%s` yet: leave it out, or send its default value %s.",
                   o->name, values.ptr);
    buf_free(&values);
    json_decref(ok);
}

/* A body field folio does not support: true if v is null or an accepted value. */
static bool
other_json_ok(struct srv_ctx *x, const struct other_param *o, const json_t *v)
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
        other_refused(x, o, false);
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
    other_refused(x, o, true);
    return false;
}

/* ---- POST ---------------------------------------------------------------------------------- */

static const char *const body_fields[] = {
    "q", "vector", "media", "hybrid", "offset", "limit", "page", "hitsPerPage",
    "attributesToRetrieve", "retrieveVectors", "attributesToCrop", "cropLength",
    "attributesToHighlight", "showMatchesPosition", "showRankingScore", "showRankingScoreDetails",
    "filter", "sort", "distinct", "facets", "highlightPreTag", "highlightPostTag", "cropMarker",
    "matchingStrategy", "attributesToSearchOn", "rankingScoreThreshold", "locales", NULL};

static void
unknown_field(struct srv_ctx *x, const char *key)
{
    struct srv_buf list = {0};
    for (size_t k = 0; body_fields[k] != NULL; k++)
        buf_printf(&list, "%s`%s`", k ? ", " : "", body_fields[k]);
    resp_error(x->req, 400, "bad_request", "Unknown field `%.200s`: expected one of %s", key,
               list.ptr);
    buf_free(&list);
}

static bool
body_u64(struct srv_ctx *x, const char *key, const json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    char code[64], at[64];
    snprintf(code, sizeof(code), "invalid_search_%s", key);
    snprintf(at, sizeof(at), ".%s", key);
    resp_value_type(x, code, at, "a positive integer", v);
    return false;
}

static bool
body_attrs(struct srv_ctx *x, struct search_job *j, const json_t *v)
{
    const char *code = "invalid_search_attributes_to_retrieve";
    if (json_is_null(v))
        return true;
    if (!json_is_array(v)) {
        resp_value_type(x, code, ".attributesToRetrieve", "an array", v);
        return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) {
            char at[64];
            snprintf(at, sizeof(at), ".attributesToRetrieve[%zu]", i);
            resp_value_type(x, code, at, "a string", e);
            return false;
        }
    }
    j->attrs = folio_calloc(json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, e) {
        j->attrs[j->attr_count++] = folio_strdup(json_string_value(e));
    }
    return true;
}

/* One field of the body into j; false with the error answered. Fields go in body order. */
static bool
body_field(struct srv_ctx *x, struct search_job *j, const char *key, const json_t *v)
{
    if (strcmp(key, "q") == 0) {
        if (json_is_null(v))
            return true;
        if (!json_is_string(v)) {
            resp_value_type(x, "invalid_search_q", ".q", "a string", v);
            return false;
        }
        j->q = folio_strdup(json_string_value(v));
        return true;
    }
    if (strcmp(key, "offset") == 0)
        return body_u64(x, "offset", v, &j->offset);
    if (strcmp(key, "limit") == 0)
        return body_u64(x, "limit", v, &j->limit);
    if (strcmp(key, "filter") == 0)
        return filter_from_json(x, j, v);
    if (strcmp(key, "attributesToRetrieve") == 0)
        return body_attrs(x, j, v);
    /* hybridEmbedder and hybridSemanticRatio are GET's spelling of `hybrid`. */
    const struct other_param *o = other_param(key);
    if (o == NULL || (strncmp(key, "hybrid", 6) == 0 && key[6] != '\0')) {
        unknown_field(x, key);
        return false;
    }
    return other_json_ok(x, o, v);
}

void
h_search_post(struct srv_ctx *x)
{
    json_t *body = NULL;
    if (body_json(x, &body) != 0)
        return;
    if (!json_is_object(body)) {
        resp_value_type(x, "bad_request", "", "an object", body);
        json_decref(body);
        return;
    }
    struct search_job *j = job_new(x);
    const char *key;
    json_t *v;
    bool ok = true;
    json_object_foreach(body, key, v) {
        if (ok)
            ok = body_field(x, j, key, v);
    }
    json_decref(body);
    if (!ok) {
        job_free(j);
        return;
    }
    job_submit(x, j);
}

/* ---- GET ------------------------------------------------------------------------------------- */

static const char *const query_params[] = {
    "q", "vector", "offset", "limit", "page", "hitsPerPage", "attributesToRetrieve",
    "retrieveVectors", "attributesToCrop", "cropLength", "attributesToHighlight", "filter", "sort",
    "distinct", "showMatchesPosition", "showRankingScore", "showRankingScoreDetails", "facets",
    "highlightPreTag", "highlightPostTag", "cropMarker", "matchingStrategy", "attributesToSearchOn",
    "hybridEmbedder", "hybridSemanticRatio", "rankingScoreThreshold", "locales", NULL};

static bool
query_u64(struct srv_ctx *x, const struct srv_param *p, uint64_t *out)
{
    if (parse_u64(p->val, p->val_len, out))
        return true;
    char code[64];
    snprintf(code, sizeof(code), "invalid_search_%s", p->key);
    resp_param_error(x, code, p->key, "could not parse `%.200s` as a positive integer", p->val);
    return false;
}

/* `a,b`: each name trimmed, empty ones left out. */
static void
query_attrs(struct search_job *j, const struct srv_param *p)
{
    size_t n = 1;
    for (size_t i = 0; i < p->val_len; i++)
        n += p->val[i] == ',';
    j->attrs = folio_calloc(n + 1, sizeof(char *));
    const char *s = p->val, *end = p->val + p->val_len;
    while (s <= end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *a = s, *b = comma != NULL ? comma : end;
        s = b + 1;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (b > a)
            j->attrs[j->attr_count++] = folio_strndup(a, (size_t)(b - a));
    }
}

/* filter=: JSON when it parses as JSON (the array form), else the expression itself. */
static bool
query_filter(struct srv_ctx *x, struct search_job *j, const struct srv_param *p)
{
    json_t *v = json_loadb(p->val, p->val_len, JSON_DECODE_ANY, NULL);
    if (v == NULL) {
        buf_append(&j->filter, p->val, p->val_len);
        return true;
    }
    bool ok = filter_from_json(x, j, v);
    json_decref(v);
    return ok;
}

/* One query parameter into j; false with the error answered. */
static bool
query_param(struct srv_ctx *x, struct search_job *j, const struct srv_param *p)
{
    bool has_nul = strlen(p->val) != p->val_len;
    if (has_nul && (strcmp(p->key, "q") == 0 || strcmp(p->key, "filter") == 0)) {
        char code[64];
        snprintf(code, sizeof(code), "invalid_search_%s", p->key);
        resp_param_error(x, code, p->key, "a NUL character is not allowed");
        return false;
    }
    if (strcmp(p->key, "q") == 0) {
        folio_free(j->q);
        j->q = folio_strndup(p->val, p->val_len);
        return true;
    }
    if (strcmp(p->key, "offset") == 0)
        return query_u64(x, p, &j->offset);
    if (strcmp(p->key, "limit") == 0)
        return query_u64(x, p, &j->limit);
    if (strcmp(p->key, "filter") == 0)
        return query_filter(x, j, p);
    if (strcmp(p->key, "attributesToRetrieve") == 0) {
        query_attrs(j, p);
        return true;
    }
    return other_query_ok(x, other_param(p->key), p);
}

void
h_search_get(struct srv_ctx *x)
{
    if (!params_known(x, query_params))
        return;
    struct search_job *j = job_new(x);
    /* The last of a repeated parameter wins (param_get), as everywhere else. */
    for (size_t i = 0; i < x->param_count; i++) {
        const struct srv_param *p = &x->params[i];
        if (param_get(x, p->key) != p)
            continue;
        if (!query_param(x, j, p)) {
            job_free(j);
            return;
        }
    }
    job_submit(x, j);
}
