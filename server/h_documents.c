/*
 * /indexes/{uid}/documents, /indexes/{uid}/settings and
 * /indexes/{uid}/settings/{name}.
 *
 * Reads go straight to the index env (folio_sched_index_acquire), never
 * through the scheduler's lock; the document reads run on a read worker
 * (pool.c), the settings reads (small) on the loop. Documents by filter: GET
 * /documents?filter= and POST /documents/fetch read the matching documents
 * (the filter's syntax is checked on the loop, its attributes' filterability
 * by the worker), POST /documents/delete registers a documentDeletion whose
 * content is the JSON text of the filter value (its syntax is checked at
 * registration, its attributes when the task is processed, as Meilisearch
 * does). Filter errors are invalid_document_filter with the search's
 * messages. Both reads also take `ids` (a comma list, or a JSON array of
 * strings and integers): only those documents, still in internal id order.
 * Writes are registrations: the raw body of POST (replace) and PUT (update)
 * travels to the scheduler with the format
 * its Content-Type names (application/json, application/x-ndjson, text/csv:
 * missing_content_type / invalid_content_type, 415), which validates and
 * counts it before anything is written.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"
#include "server_int.h"

#define ACCEPTED_TYPES "`application/json`, `application/x-ndjson`, `text/csv`"

/* The acquired index of the {uid} argument, or NULL with the error answered. */
static struct folio_index *
index_of(struct srv_ctx *x)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return NULL;
    struct folio_index *idx = NULL;
    int rc = folio_sched_index_acquire(x->sched, x->args[0], x->arg_lens[0], &idx);
    if (rc == FOLIO_E_NOT_FOUND) {
        resp_index_not_found(x, x->args[0], x->arg_lens[0]);
        return NULL;
    }
    if (rc != 0) {
        resp_error(x->req, 500, "internal", "Index `%s` cannot be opened: %s.", x->args[0],
                   folio_err_message(rc));
        return NULL;
    }
    return idx;
}

static void
resp_index_error(struct srv_ctx *x, int rc, const struct folio_index_error *err)
{
    if (rc == FOLIO_E_TOO_LARGE)
        resp_error(x->req, 400, "bad_request", "%s Ask for fewer documents with `limit`.",
                   err->message);
    else
        resp_error(x->req, 500, "internal", "%s", err->message);
}

/* `fields=a,b`: a NULL-terminated list of copies (str_list_free), NULL when absent. */
static char **
fields_param(struct srv_ctx *x, size_t *count)
{
    const struct srv_param *p = param_get(x, "fields");
    *count = 0;
    if (p == NULL)
        return NULL;
    size_t n = 0;
    struct folio_str *pieces = param_pieces(p, true, false, &n);
    char **out = folio_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        /* A name with a NUL in it names nothing (and must not pass for its prefix). */
        if (memchr(pieces[i].ptr, '\0', pieces[i].len) == NULL)
            out[(*count)++] = folio_strndup(pieces[i].ptr, pieces[i].len);
    folio_free(pieces);
    return out;
}

/* Meilisearch's error for an element of `ids` that is no document id (value: its JSON text). */
static void
invalid_id_error(struct srv_ctx *x, size_t i, const char *value, size_t len)
{
    resp_error(x->req, 400, "invalid_document_ids",
               "In `.ids[%zu]`: Document identifier `%.*s` is invalid. A document identifier can "
               "be of type integer or string, only composed of alphanumeric characters (a-z A-Z "
               "0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes.",
               i, (int)(len > 600 ? 600 : len), value);
}

/*
 * `ids=a,b`: the pieces as they are (Meilisearch neither trims them nor
 * keeps empty ones), each a valid document id; false with the error
 * answered. *out NULL when absent.
 */
static bool
ids_param(struct srv_ctx *x, char ***out, size_t *count)
{
    const struct srv_param *p = param_get(x, "ids");
    *out = NULL;
    *count = 0;
    if (p == NULL)
        return true;
    size_t n = 0;
    struct folio_str *pieces = param_pieces(p, false, true, &n);
    char **ids = folio_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        if (!folio_index_docid_valid(pieces[i].ptr, pieces[i].len)) {
            json_t *text = json_stringn(pieces[i].ptr, pieces[i].len); /* NULL: not UTF-8 */
            char *shown = text != NULL ? json_dumps(text, JSON_ENCODE_ANY) : NULL;
            const char *what = shown != NULL ? shown : "(not UTF-8)";
            invalid_id_error(x, i, what, strlen(what));
            free(shown);
            json_decref(text);
            str_list_free(ids, i);
            folio_free(pieces);
            return false;
        }
        ids[i] = folio_strndup(pieces[i].ptr, pieces[i].len);
    }
    folio_free(pieces);
    *out = ids;
    *count = n;
    return true;
}

static bool
retrieve_vectors_ok(struct srv_ctx *x, const char *code)
{
    const struct srv_param *p = param_get(x, "retrieveVectors");
    bool b;
    if (p == NULL || parse_bool(p->val, p->val_len, &b))
        return true;
    resp_param_error(x, code, "retrieveVectors",
                     "could not parse `%.200s` as a boolean, expected either `true` or `false`",
                     p->val);
    return false;
}

static bool
param_u64(struct srv_ctx *x, const char *name, const char *code, uint64_t *out)
{
    const struct srv_param *p = param_get(x, name);
    if (p == NULL || parse_u64(p->val, p->val_len, out))
        return true;
    resp_param_error(x, code, name, "could not parse `%.200s` as a positive integer", p->val);
    return false;
}

/*
 * GET /indexes/{uid}/documents and GET /indexes/{uid}/documents/{id} run on a
 * read worker (pool.c), as searches do: the loop checks the parameters and
 * the uid, the worker acquires the index, reads and builds the response body,
 * and the loop answers. A large page or a slow disk never stalls the loop.
 */
struct docs_job {
    struct srv_job job; /* first: the pool hands back &job */
    struct folio_sched *sched;
    char *uid;
    size_t uid_len;
    char *id;           /* one document; NULL: a page */
    bool id_has_nul;    /* id held a NUL, shown as \u0000 in id: no document has it */
    char **fields;      /* NULL: every displayed field */
    size_t field_count;
    uint64_t offset, limit;
    char *filter;       /* a page: the filter expression; NULL: every document */
    char **ids;         /* a page: only these external ids; NULL: no such restriction */
    size_t id_count;
    /* set by the worker */
    bool acquired;      /* false: rc is the index's acquisition */
    int rc;
    struct srv_buf body;
    struct folio_index_error err;
};

static void
docs_job_free(struct docs_job *j)
{
    folio_free(j->uid);
    folio_free(j->id);
    folio_free(j->filter);
    str_list_free(j->fields, j->field_count);
    str_list_free(j->ids, j->id_count);
    buf_free(&j->body);
    folio_free(j);
}

static void
docs_run(struct srv_job *job)
{
    struct docs_job *j = (struct docs_job *)job;
    struct folio_index *idx = NULL;
    j->rc = folio_sched_index_acquire(j->sched, j->uid, j->uid_len, &idx);
    if (j->rc != 0)
        return;
    j->acquired = true;
    const char *const *fields = (const char *const *)j->fields;
    char *json = NULL;
    size_t len = 0;
    if (j->id != NULL && j->id_has_nul) {
        j->rc = FOLIO_E_DOCUMENT_NOT_FOUND;
    } else if (j->id != NULL) {
        j->rc = folio_index_document_get(idx, j->id, fields, j->field_count, &json, &len, &j->err);
        if (j->rc == 0)
            buf_append(&j->body, json, len);
    } else {
        uint64_t total = 0;
        j->rc = folio_index_documents_fetch_ids(idx, j->filter, (const char *const *)j->ids,
                                                j->id_count, j->offset, j->limit, fields,
                                                j->field_count, &json, &len, &total, &j->err);
        /* The documents are JSON text already: wrap them without parsing them again. */
        if (j->rc == 0) {
            buf_append(&j->body, "{\"results\":", 11);
            buf_append(&j->body, json, len);
            buf_printf(&j->body, ",\"offset\":%llu,\"limit\":%llu,\"total\":%llu}",
                       (unsigned long long)j->offset, (unsigned long long)j->limit,
                       (unsigned long long)total);
        }
    }
    folio_free(json);
    folio_sched_index_release(j->sched, idx);
}

static void
docs_done(struct srv_job *job)
{
    struct docs_job *j = (struct docs_job *)job;
    struct srv_req *r = job->req;
    if (!j->acquired && j->rc == FOLIO_E_NOT_FOUND)
        resp_error(r, 404, "index_not_found", "Index `%.*s` not found.", (int)j->uid_len, j->uid);
    else if (!j->acquired)
        resp_error(r, 500, "internal", "Index `%s` cannot be opened: %s.", j->uid,
                   folio_err_message(j->rc));
    else if (j->rc == FOLIO_E_DOCUMENT_NOT_FOUND)
        resp_error(r, 404, "document_not_found", "Document `%.600s` not found.", j->id);
    else if (j->rc == FOLIO_E_TOO_LARGE)
        resp_error(r, 400, "bad_request", "%s Ask for fewer documents with `limit`.",
                   j->err.message);
    else if (j->rc == FOLIO_E_INVALID_SEARCH_FILTER)
        resp_error(r, 400, "invalid_document_filter", "%s", j->err.message);
    else if (j->rc != 0)
        resp_error(r, 500, "internal", "%s", j->err.message);
    else
        resp_body(r, 200, "application/json", j->body.ptr, j->body.len);
    docs_job_free(j);
}

static struct docs_job *
docs_job_new(struct srv_ctx *x)
{
    struct docs_job *j = folio_calloc(1, sizeof(*j));
    j->job.run = docs_run;
    j->job.done = docs_done;
    j->sched = x->sched;
    j->uid = folio_strndup(x->args[0], x->arg_lens[0]);
    j->uid_len = x->arg_lens[0];
    return j;
}

/*
 * Hands a read of the {uid} index to a worker once the uid is valid (else
 * answers); takes filter and ids.
 */
static void
docs_submit(struct srv_ctx *x, uint64_t offset, uint64_t limit, char *filter, char **ids,
            size_t id_count)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0])) {
        folio_free(filter);
        str_list_free(ids, id_count);
        return;
    }
    struct docs_job *j = docs_job_new(x);
    j->fields = fields_param(x, &j->field_count);
    j->offset = offset;
    j->limit = limit;
    j->filter = filter;
    j->ids = ids;
    j->id_count = id_count;
    srv_job_submit(x, &j->job);
}

/* GET of one document by id (has_nul: id is only shown, no document has it). */
static void
docs_submit_one(struct srv_ctx *x, const char *id, bool has_nul)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    struct docs_job *j = docs_job_new(x);
    j->id = folio_strdup(id);
    j->id_has_nul = has_nul;
    j->fields = fields_param(x, &j->field_count);
    srv_job_submit(x, &j->job);
}

/*
 * A filter value (JSON text) into *expr (NULL: no filter); false with
 * invalid_document_filter answered.
 */
static bool
filter_compile(struct srv_ctx *x, const char *json, size_t len, char **expr)
{
    struct folio_index_error err;
    if (folio_index_filter_from_json(json, len, expr, &err) == 0)
        return true;
    resp_error(x->req, 400, "invalid_document_filter", "%s", err.message);
    return false;
}

/* filter=: JSON when it parses as JSON (the array form), else the expression itself. */
static bool
filter_param(struct srv_ctx *x, char **expr)
{
    const struct srv_param *p = param_get(x, "filter");
    *expr = NULL;
    if (p == NULL)
        return true;
    json_t *v = json_loadb(p->val, p->val_len, JSON_DECODE_ANY, NULL);
    if (v == NULL)
        v = json_stringn(p->val, p->val_len);
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    if (text == NULL) {
        resp_error(x->req, 400, "invalid_document_filter", "The filter is not valid UTF-8.");
        return false;
    }
    bool ok = filter_compile(x, text, strlen(text), expr);
    free(text);
    return ok;
}

void
h_documents_get(struct srv_ctx *x)
{
    static const char *const known[] = {"offset", "limit", "fields", "retrieveVectors",
                                        "filter", "ids", NULL};
    uint64_t offset = 0, limit = 20;
    char *filter = NULL;
    if (!params_known(x, known) || !param_u64(x, "offset", "invalid_document_offset", &offset) ||
        !param_u64(x, "limit", "invalid_document_limit", &limit) ||
        !retrieve_vectors_ok(x, "invalid_document_retrieve_vectors") ||
        !filter_param(x, &filter))
        return;
    char **ids = NULL;
    size_t id_count = 0;
    if (!ids_param(x, &ids, &id_count)) {
        folio_free(filter);
        return;
    }
    docs_submit(x, offset, limit, filter, ids, id_count);
}

/* ---- POST /indexes/{uid}/documents/fetch ---------------------------------------------- */

static const char *const fetch_fields[] = {"offset", "limit", "fields", "retrieveVectors",
                                           "filter", "ids", NULL};

static bool
fetch_u64(struct srv_ctx *x, const char *key, const json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    char code[64], at[64];
    snprintf(code, sizeof(code), "invalid_document_%s", key);
    snprintf(at, sizeof(at), ".%s", key);
    resp_value_type(x, code, at, "a positive integer", v);
    return false;
}

static bool
fetch_fields_of(struct srv_ctx *x, struct docs_job *j, const json_t *v)
{
    if (json_is_null(v))
        return true;
    if (!json_is_array(v)) {
        resp_value_type(x, "invalid_document_fields", ".fields", "an array", v);
        return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) {
            char at[64];
            snprintf(at, sizeof(at), ".fields[%zu]", i);
            resp_value_type(x, "invalid_document_fields", at, "a string", e);
            return false;
        }
    }
    j->fields = folio_calloc(json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, e) {
        j->fields[j->field_count++] = folio_strdup(json_string_value(e));
    }
    return true;
}

/*
 * "ids": an array of document ids, each a string or an integer (as its
 * decimal text) that is a valid id (Meilisearch's invalid_document_ids
 * otherwise); null: no restriction.
 */
static bool
fetch_ids_of(struct srv_ctx *x, struct docs_job *j, const json_t *v)
{
    if (json_is_null(v))
        return true;
    if (!json_is_array(v)) {
        resp_value_type(x, "invalid_document_ids", ".ids", "an array", v);
        return false;
    }
    j->ids = folio_calloc(json_array_size(v) + 1, sizeof(char *));
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        char num[32];
        const char *id = NULL;
        size_t len = 0;
        if (json_is_string(e)) {
            id = json_string_value(e);
            len = json_string_length(e);
        } else if (json_is_integer(e)) {
            len = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                                   json_integer_value(e));
            id = num;
        }
        if (id == NULL || !folio_index_docid_valid(id, len)) {
            char *shown = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
            invalid_id_error(x, i, shown != NULL ? shown : "", shown != NULL ? strlen(shown) : 0);
            free(shown);
            return false;
        }
        j->ids[j->id_count++] = folio_strndup(id, len);
    }
    return true;
}

/* One field of the fetch body into j; false with the error answered. */
static bool
fetch_field(struct srv_ctx *x, struct docs_job *j, const char *key, const json_t *v)
{
    if (strcmp(key, "offset") == 0)
        return fetch_u64(x, "offset", v, &j->offset);
    if (strcmp(key, "limit") == 0)
        return fetch_u64(x, "limit", v, &j->limit);
    if (strcmp(key, "fields") == 0)
        return fetch_fields_of(x, j, v);
    if (strcmp(key, "ids") == 0)
        return fetch_ids_of(x, j, v);
    if (strcmp(key, "retrieveVectors") == 0) {
        if (json_is_boolean(v))
            return true;
        resp_value_type(x, "invalid_document_retrieve_vectors", ".retrieveVectors", "a boolean",
                        v);
        return false;
    }
    FOLIO_ASSERT(strcmp(key, "filter") == 0);
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    bool ok = filter_compile(x, text, strlen(text), &j->filter);
    free(text);
    return ok;
}

void
h_documents_fetch(struct srv_ctx *x)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    json_t *body = NULL;
    if (body_json_typed(x, false, &body) != 0)
        return;
    struct docs_job *j = docs_job_new(x);
    j->limit = 20;
    bool ok = json_fields_known(x, body, fetch_fields, NULL);
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (ok)
            ok = fetch_field(x, j, key, v);
    }
    json_decref(body);
    if (!ok) {
        docs_job_free(j);
        return;
    }
    srv_job_submit(x, &j->job);
}

void
h_document_get(struct srv_ctx *x)
{
    static const char *const known[] = {"fields", "retrieveVectors", NULL};
    if (!params_known(x, known) || !retrieve_vectors_ok(x, "invalid_document_retrieve_vectors"))
        return;
    /* A NUL in the id must not end it early: `a%00b` is not document `a`. */
    const char *id = x->args[1];
    size_t id_len = x->arg_lens[1];
    if (memchr(id, '\0', id_len) == NULL) {
        docs_submit_one(x, id, false);
        return;
    }
    struct srv_buf shown = {0};
    for (size_t i = 0; i < id_len; i++) {
        if (id[i] == '\0')
            buf_append_str(&shown, "\\u0000");
        else
            buf_append(&shown, id + i, 1);
    }
    buf_append(&shown, "", 1);
    docs_submit_one(x, shown.ptr, true);
    buf_free(&shown);
}

/* ---- writes ----------------------------------------------------------------------------- */

/* The payload format of the Content-Type; false with 415 answered. */
static bool
content_format(struct srv_ctx *x, enum folio_index_format *out, const char **name)
{
    struct srv_req *r = x->req;
    if (!r->has_content_type) {
        resp_error(r, 415, "missing_content_type",
                   "A Content-Type header is missing. Accepted values for the Content-Type header "
                   "are: " ACCEPTED_TYPES);
        return false;
    }
    const char *ct = r->content_type.ptr ? r->content_type.ptr : "";
    size_t len = r->content_type.len;
    const char *semi = memchr(ct, ';', len);
    size_t mlen = semi ? (size_t)(semi - ct) : len;
    while (mlen > 0 && (ct[mlen - 1] == ' ' || ct[mlen - 1] == '\t'))
        mlen--;
    static const struct {
        const char *mime;
        enum folio_index_format format;
        const char *name;
    } types[] = {{"application/json", FOLIO_INDEX_FORMAT_JSON, "json"},
                 {"application/x-ndjson", FOLIO_INDEX_FORMAT_NDJSON, "ndjson"},
                 {"text/csv", FOLIO_INDEX_FORMAT_CSV, "csv"}};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(types); i++)
        if (mlen == strlen(types[i].mime) && strncasecmp(ct, types[i].mime, mlen) == 0) {
            *out = types[i].format;
            *name = types[i].name;
            return true;
        }
    resp_error(r, 415, "invalid_content_type",
               "The Content-Type `%.200s` is invalid. Accepted values for the Content-Type header "
               "are: " ACCEPTED_TYPES,
               ct);
    return false;
}

static bool
csv_delimiter(struct srv_ctx *x, enum folio_index_format format, char *out)
{
    const struct srv_param *p = param_get(x, "csvDelimiter");
    *out = 0;
    if (p == NULL)
        return true;
    if (p->val_len != 1 || (unsigned char)p->val[0] >= 0x80) {
        resp_param_error(x, "invalid_document_csv_delimiter", "csvDelimiter",
                         "expected a string of one character, but found the following string of "
                         "%zu characters: `%.200s`",
                         p->val_len, p->val);
        return false;
    }
    if (format != FOLIO_INDEX_FORMAT_CSV) {
        resp_error(x->req, 415, "invalid_content_type",
                   "The Content-Type `%.200s` does not support the use of a csv delimiter. The "
                   "csv delimiter can only be used with the Content-Type `text/csv`.",
                   x->req->content_type.ptr);
        return false;
    }
    *out = p->val[0];
    return true;
}

void
h_documents_add(struct srv_ctx *x)
{
    static const char *const known[] = {"primaryKey", "csvDelimiter", NULL};
    struct srv_req *r = x->req;
    enum folio_index_format format;
    const char *format_name;
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]) ||
        !content_format(x, &format, &format_name) || !params_known(x, known))
        return;
    struct folio_sched_request req = {.kind = FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE};
    if (!csv_delimiter(x, format, &req.csv_delimiter))
        return;
    if (r->body.len == 0) {
        resp_error(r, 400, "missing_payload", "A %s payload is missing.", format_name);
        return;
    }
    const struct srv_param *pk = param_get(x, "primaryKey");
    if (pk != NULL && pk->val_len == 0) {
        resp_empty_primary_key(r, "in parameter `primaryKey`");
        return;
    }
    req.index_uid = (struct folio_str){x->args[0], (uint32_t)x->arg_lens[0]};
    req.method = r->method == HTTP_PUT ? FOLIO_DOC_UPDATE : FOLIO_DOC_REPLACE;
    req.payload = r->body.ptr;
    req.payload_len = r->body.len;
    req.format = format;
    if (pk != NULL)
        req.primary_key = (struct folio_str){pk->val, (uint32_t)pk->val_len};
    srv_register(x, &req, 202);
    /* The scheduler has copied or written the payload; the body is not needed any more. */
    buf_free(&r->body);
}

static void
register_deletion(struct srv_ctx *x, const struct folio_str *ids, uint32_t count, bool clear)
{
    struct folio_sched_request req = {.kind = FOLIO_KIND_DOCUMENT_DELETION};
    req.index_uid = (struct folio_str){x->args[0], (uint32_t)x->arg_lens[0]};
    req.ids = ids;
    req.id_count = count;
    req.clear = clear;
    srv_register(x, &req, 202);
}

void
h_document_delete(struct srv_ctx *x)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    struct folio_str id = {x->args[1], (uint32_t)x->arg_lens[1]};
    register_deletion(x, &id, 1, false);
}

void
h_documents_clear(struct srv_ctx *x)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    register_deletion(x, NULL, 0, true);
}

/*
 * POST /indexes/{uid}/documents/delete {"filter": ...}: the filter value's
 * JSON text is the task's content and its originalFilter.
 */
void
h_documents_delete_filter(struct srv_ctx *x)
{
    static const char *const known[] = {"filter", NULL};
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    json_t *body;
    if (body_json_typed(x, false, &body) != 0)
        return;
    if (!json_fields_known(x, body, known, NULL)) {
        json_decref(body);
        return;
    }
    json_t *filter = json_object_get(body, "filter");
    if (filter == NULL || json_is_null(filter)) {
        resp_error(x->req, 400, "missing_document_filter", "Missing field `filter`");
        json_decref(body);
        return;
    }
    char *text = json_dumps(filter, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    struct folio_sched_request req = {.kind = FOLIO_KIND_DOCUMENT_DELETION};
    req.index_uid = (struct folio_str){x->args[0], (uint32_t)x->arg_lens[0]};
    req.filter_json = (struct folio_str){text, (uint32_t)strlen(text)};
    srv_register(x, &req, 202);
    free(text);
}

void
h_documents_delete_batch(struct srv_ctx *x)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    json_t *body;
    if (body_json_typed(x, true, &body) != 0)
        return;
    size_t n = json_array_size(body);
    struct folio_str *ids = folio_calloc(n ? n : 1, sizeof(*ids));
    char **numbers = folio_calloc(n ? n : 1, sizeof(char *));
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        json_t *v = json_array_get(body, i);
        if (json_is_string(v)) {
            ids[i] = (struct folio_str){json_string_value(v), (uint32_t)json_string_length(v)};
        } else if (json_is_integer(v)) {
            /* As a document's integer id is stored: its decimal text (`-1` too). */
            char buf[32];
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
            numbers[i] = folio_strdup(buf);
            ids[i] = folio_str_c(numbers[i]);
        } else {
            char *found = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            resp_error(x->req, 400, "invalid_document_id",
                       "Document identifier `%.200s` is invalid. A document identifier can be of "
                       "type integer or string, only composed of alphanumeric characters (a-z A-Z "
                       "0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes.",
                       found != NULL ? found : "?");
            free(found);
            ok = false;
        }
    }
    if (ok)
        register_deletion(x, ids, (uint32_t)n, false);
    for (size_t i = 0; i < n; i++)
        folio_free(numbers[i]);
    folio_free(numbers);
    folio_free(ids);
    json_decref(body);
}

/* ---- settings ------------------------------------------------------------------------------- */

void
h_settings_get(struct srv_ctx *x)
{
    struct folio_index *idx = index_of(x);
    if (idx == NULL)
        return;
    char *json = NULL;
    size_t len = 0;
    struct folio_index_error err;
    int rc = folio_index_settings_get(idx, &json, &len, &err);
    folio_sched_index_release(x->sched, idx);
    if (rc != 0)
        resp_index_error(x, rc, &err);
    else
        resp_body(x->req, 200, "application/json", json, len);
    folio_free(json);
}

void
h_settings_update(struct srv_ctx *x)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    struct srv_req *r = x->req;
    json_t *body;
    if (body_json_typed(x, false, &body) != 0)
        return;
    json_decref(body);
    struct folio_sched_request req = {.kind = FOLIO_KIND_SETTINGS_UPDATE};
    req.index_uid = (struct folio_str){x->args[0], (uint32_t)x->arg_lens[0]};
    req.settings_json = r->body.ptr;
    req.settings_len = r->body.len;
    srv_register(x, &req, 202);
}

void
h_settings_reset(struct srv_ctx *x)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    struct folio_sched_request req = {.kind = FOLIO_KIND_SETTINGS_UPDATE};
    req.index_uid = (struct folio_str){x->args[0], (uint32_t)x->arg_lens[0]};
    req.settings_reset = true;
    srv_register(x, &req, 202);
}

/* ---- /indexes/{uid}/settings/{name}: one setting ------------------------------------------ */

/*
 * Meilisearch serves each setting at its own path too (GET, PUT the value,
 * DELETE to reset), and its clients use them (updateFilterableAttributes,
 * getStopWords, ...). folio serves them for the settings it knows; a write is
 * the settingsUpdate of `{"<name>": value}` (null to reset), so it is checked
 * and applied exactly as the same PATCH of /settings would be. Other names
 * answer 404 not_found, as an unknown path does.
 */
static const char *
setting_key(struct srv_ctx *x)
{
    static const char *const names[][2] = {
        {"displayed-attributes", "displayedAttributes"},
        {"searchable-attributes", "searchableAttributes"},
        {"filterable-attributes", "filterableAttributes"},
        {"sortable-attributes", "sortableAttributes"},
        {"ranking-rules", "rankingRules"},
        {"stop-words", "stopWords"},
        {"synonyms", "synonyms"},
        {"distinct-attribute", "distinctAttribute"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(names); i++)
        if (strlen(names[i][0]) == x->arg_lens[1] && strcmp(names[i][0], x->args[1]) == 0)
            return names[i][1];
    resp_error(x->req, 404, "not_found",
               "No route `%s /indexes/{uid}/settings/%.100s`: folio serves the settings "
               "displayed-attributes, searchable-attributes, filterable-attributes, "
               "sortable-attributes, ranking-rules, stop-words, synonyms and distinct-attribute.",
               http_method_str((enum http_method)x->req->method), x->args[1]);
    return NULL;
}

void
h_setting_get(struct srv_ctx *x)
{
    const char *key = setting_key(x);
    if (key == NULL)
        return;
    struct folio_index *idx = index_of(x);
    if (idx == NULL)
        return;
    char *json = NULL;
    size_t len = 0;
    struct folio_index_error err;
    int rc = folio_index_settings_get(idx, &json, &len, &err);
    folio_sched_index_release(x->sched, idx);
    if (rc != 0) {
        resp_index_error(x, rc, &err);
        folio_free(json);
        return;
    }
    json_t *all = json_loadb(json, len, 0, NULL);
    folio_free(json);
    json_t *v = json_object_get(all, key);
    if (v == NULL)
        resp_error(x->req, 500, "internal", "The index has no `%s` setting.", key);
    else
        resp_json(x->req, 200, json_incref(v));
    json_decref(all);
}

static void
setting_register(struct srv_ctx *x, const char *key, json_t *value)
{
    json_t *o = json_object();
    json_object_set_new(o, key, value);
    char *text = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(o);
    struct folio_sched_request req = {.kind = FOLIO_KIND_SETTINGS_UPDATE};
    req.index_uid = (struct folio_str){x->args[0], (uint32_t)x->arg_lens[0]};
    req.settings_json = text;
    req.settings_len = strlen(text);
    srv_register(x, &req, 202);
    free(text);
}

void
h_setting_update(struct srv_ctx *x)
{
    const char *key = setting_key(x);
    if (key == NULL || !check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    json_t *body;
    if (body_json(x, &body) != 0)
        return;
    setting_register(x, key, body);
}

void
h_setting_reset(struct srv_ctx *x)
{
    const char *key = setting_key(x);
    if (key == NULL || !check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    setting_register(x, key, json_null());
}
