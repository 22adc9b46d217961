/*
 * Routing: the route table, path normalisation, authentication, and the call
 * of a route's handler.
 *
 * Paths are normalised as Meilisearch's NormalizePath does (repeated and
 * trailing slashes dropped), split into segments, and each segment is
 * percent-decoded after the split (so `%2F` stays inside its segment). A path
 * that matches a route pattern with another method answers 405 with `Allow`;
 * one that matches nothing answers 404. With a master key, every route but
 * /health needs `Authorization: Bearer <key>`: missing → 401
 * missing_authorization_header, anything else → 403 invalid_api_key. The key
 * is compared in constant time. Authentication comes before any check of the
 * request itself, as in Meilisearch. A route whose body is JSON (ROUTE_JSON)
 * needs a JSON Content-Type (415 missing_content_type / invalid_content_type
 * otherwise), checked here for all of them alike, before the handler; the
 * snapshot-creating routes take an optional body and check only when one is
 * sent (ROUTE_JSON_IF_BODY). The document routes take JSON, NDJSON or CSV and
 * check their own type (h_documents.c). A handler that takes query parameters
 * refuses unknown ones; one that takes none ignores them, as actix does.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "folio/common.h"
#include "server_int.h"

/* Route flags. */
enum {
    ROUTE_PUBLIC = 1u << 0,       /* no Authorization needed */
    ROUTE_JSON = 1u << 1,         /* the body is JSON: Content-Type must say so (415) */
    ROUTE_JSON_IF_BODY = 1u << 2, /* the same, when a body is sent at all */
};

struct route {
    enum http_method method;
    const char *pattern;
    void (*handler)(struct srv_ctx *x);
    unsigned flags;
};

/* Literal segments before placeholders: "delete-batch" is tried before "{id}". */
static const struct route routes[] = {
    {HTTP_GET, "/health", h_health, ROUTE_PUBLIC},
    {HTTP_GET, "/version", h_version, 0},
    {HTTP_GET, "/stats", h_stats, 0},
    {HTTP_GET, "/tasks", h_tasks_list, 0},
    {HTTP_DELETE, "/tasks", h_tasks_delete, 0},
    {HTTP_POST, "/tasks/cancel", h_tasks_cancel, 0},
    {HTTP_GET, "/tasks/{uid}", h_task_get, 0},
    {HTTP_GET, "/batches", h_batches_list, 0},
    {HTTP_GET, "/batches/{uid}", h_batch_get, 0},
    {HTTP_GET, "/indexes", h_indexes_list, 0},
    {HTTP_POST, "/indexes", h_index_create, ROUTE_JSON},
    {HTTP_GET, "/indexes/{uid}", h_index_get, 0},
    {HTTP_PATCH, "/indexes/{uid}", h_index_update, ROUTE_JSON},
    {HTTP_DELETE, "/indexes/{uid}", h_index_delete, 0},
    {HTTP_GET, "/indexes/{uid}/documents", h_documents_get, 0},
    {HTTP_POST, "/indexes/{uid}/documents", h_documents_add, 0},
    {HTTP_PUT, "/indexes/{uid}/documents", h_documents_add, 0},
    {HTTP_DELETE, "/indexes/{uid}/documents", h_documents_clear, 0},
    {HTTP_POST, "/indexes/{uid}/documents/delete-batch", h_documents_delete_batch, ROUTE_JSON},
    {HTTP_POST, "/indexes/{uid}/documents/delete", h_documents_delete_filter, ROUTE_JSON},
    {HTTP_POST, "/indexes/{uid}/documents/fetch", h_documents_fetch, ROUTE_JSON},
    {HTTP_GET, "/indexes/{uid}/documents/{id}", h_document_get, 0},
    {HTTP_DELETE, "/indexes/{uid}/documents/{id}", h_document_delete, 0},
    {HTTP_GET, "/indexes/{uid}/stats", h_index_stats, 0},
    {HTTP_POST, "/indexes/{uid}/search", h_search_post, ROUTE_JSON},
    {HTTP_GET, "/indexes/{uid}/search", h_search_get, 0},
    {HTTP_GET, "/indexes/{uid}/settings", h_settings_get, 0},
    {HTTP_PATCH, "/indexes/{uid}/settings", h_settings_update, ROUTE_JSON},
    {HTTP_DELETE, "/indexes/{uid}/settings", h_settings_reset, 0},
    {HTTP_GET, "/indexes/{uid}/settings/{name}", h_setting_get, 0},
    {HTTP_PUT, "/indexes/{uid}/settings/{name}", h_setting_update, ROUTE_JSON},
    {HTTP_DELETE, "/indexes/{uid}/settings/{name}", h_setting_reset, 0},
    {HTTP_GET, "/indexes/{uid}/snapshots", h_index_snapshots_list, 0},
    {HTTP_POST, "/indexes/{uid}/snapshots", h_index_snapshot_create, ROUTE_JSON_IF_BODY},
    {HTTP_POST, "/swap-indexes", h_swap_indexes, ROUTE_JSON},
    {HTTP_POST, "/multi-search", h_multi_search, ROUTE_JSON},
    {HTTP_GET, "/snapshots", h_snapshots_list, 0},
    {HTTP_POST, "/snapshots", h_snapshot_create, ROUTE_JSON_IF_BODY},
    {HTTP_POST, "/snapshots/import", h_snapshot_import, ROUTE_JSON},
    {HTTP_GET, "/journal", h_journal, 0},
};

struct segs {
    const char *ptr[SRV_SEGMENTS_MAX];
    size_t len[SRV_SEGMENTS_MAX];
    size_t count;
};

/* false: more segments than any route has. */
static bool
split_path(const char *path, size_t len, struct segs *s)
{
    s->count = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && path[i] == '/')
            i++;
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        if (i > start) {
            if (s->count == SRV_SEGMENTS_MAX)
                return false;
            s->ptr[s->count] = path + start;
            s->len[s->count++] = i - start;
        }
    }
    return true;
}

/* Matches literal segments; {name} segments match anything and are captured. */
static bool
route_matches(const struct route *rt, const struct segs *s, size_t *arg_index, size_t *arg_count)
{
    const char *p = rt->pattern;
    size_t n = 0, args = 0;
    while (*p == '/') {
        p++;
        const char *end = strchr(p, '/');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (n == s->count)
            return false;
        if (p[0] == '{') {
            if (args == 2)
                return false;
            arg_index[args++] = n;
        } else if (plen != s->len[n] || memcmp(p, s->ptr[n], plen) != 0) {
            return false;
        }
        n++;
        p += plen;
    }
    *arg_count = args;
    return n == s->count;
}

static bool
key_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < alen && i < blen; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* true if the request may go on; otherwise the 401/403 is answered. */
static bool
authorized(struct folio_server *srv, struct srv_req *r)
{
    if (srv->master_key == NULL)
        return true;
    const char *h = r->authorization.ptr;
    size_t len = r->authorization.len;
    if (h == NULL || len == 0) {
        resp_error(r, 401, "missing_authorization_header",
                   "The Authorization header is missing. It must use the bearer authorization "
                   "method.");
        return false;
    }
    while (len > 0 && (*h == ' ' || *h == '\t')) {
        h++;
        len--;
    }
    while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
        len--;
    if (len > 7 && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *key = h + 7;
        size_t klen = len - 7;
        while (klen > 0 && *key == ' ') {
            key++;
            klen--;
        }
        if (key_equal(key, klen, srv->master_key, strlen(srv->master_key)))
            return true;
    }
    resp_error(r, 403, "invalid_api_key", "The provided API key is invalid.");
    return false;
}

/*
 * A JSON media type as Meilisearch's JSON extractor (actix) takes it: a
 * subtype `json` or one ending in `+json`, any parameters (`; charset=...`).
 */
static bool
json_media_type(const char *ct, size_t len)
{
    const char *semi = memchr(ct, ';', len);
    size_t end = semi != NULL ? (size_t)(semi - ct) : len, start = 0;
    while (end > 0 && (ct[end - 1] == ' ' || ct[end - 1] == '\t'))
        end--;
    while (start < end && (ct[start] == ' ' || ct[start] == '\t'))
        start++;
    const char *slash = memchr(ct + start, '/', end - start);
    if (slash == NULL || slash == ct + start)
        return false;
    const char *sub = slash + 1;
    size_t sub_len = (size_t)(ct + end - sub);
    if (sub_len == 0 || memchr(sub, '/', sub_len) != NULL)
        return false;
    return (sub_len == 4 && strncasecmp(sub, "json", 4) == 0) ||
           (sub_len > 5 && strncasecmp(sub + sub_len - 5, "+json", 5) == 0);
}

/*
 * The Content-Type rule of a route whose body is JSON, checked before its
 * handler runs (as the extractor runs before a Meilisearch handler): true if
 * the request may go on; otherwise 415 missing_content_type or
 * invalid_content_type is answered.
 */
static bool
content_type_ok(const struct route *rt, struct srv_req *r)
{
    if (!(rt->flags & (ROUTE_JSON | ROUTE_JSON_IF_BODY)))
        return true;
    if ((rt->flags & ROUTE_JSON_IF_BODY) && r->body.len == 0)
        return true;
    if (!r->has_content_type) {
        resp_error(r, 415, "missing_content_type",
                   "A Content-Type header is missing. Accepted values for the Content-Type header "
                   "are: `application/json`");
        return false;
    }
    const char *ct = r->content_type.ptr != NULL ? r->content_type.ptr : "";
    if (json_media_type(ct, r->content_type.len))
        return true;
    resp_error(r, 415, "invalid_content_type",
               "The Content-Type `%.200s` is invalid. Accepted values for the Content-Type header "
               "are: `application/json`",
               ct);
    return false;
}

static void
ctx_free(struct srv_ctx *x)
{
    for (size_t i = 0; i < 2; i++)
        folio_free(x->args[i]);
    for (size_t i = 0; i < x->param_count; i++) {
        folio_free(x->params[i].key);
        folio_free(x->params[i].val);
    }
}

static void
no_route(struct srv_req *r, const struct segs *s, const char *path, size_t path_len)
{
    char allow[128] = "";
    size_t n = 0;
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(routes); i++) {
        size_t idx[2], cnt;
        const char *name = http_method_str(routes[i].method);
        if (route_matches(&routes[i], s, idx, &cnt) && strstr(allow, name) == NULL)
            n += (size_t)snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "", name);
    }
    const char *method = http_method_str((enum http_method)r->method);
    if (n == 0) {
        resp_error(r, 404, "not_found", "No route `%s %.*s`.", method,
                   (int)(path_len > 300 ? 300 : path_len), path);
        return;
    }
    resp_error(r, 405, "method_not_allowed", "Method `%s` is not allowed here: use %s.", method,
               allow);
    /* Allow: the same list, as a header (inserted before the blank line). */
    char *blank = strstr(r->resp.ptr, "\r\n\r\n");
    if (blank != NULL) {
        struct srv_buf b = {0};
        buf_append(&b, r->resp.ptr, (size_t)(blank - r->resp.ptr) + 2);
        buf_printf(&b, "Allow: %s\r\n", allow);
        buf_append(&b, blank + 2, r->resp.len - (size_t)(blank + 2 - r->resp.ptr));
        buf_free(&r->resp);
        r->resp = b;
    }
}

void
route_dispatch(struct folio_server *srv, struct srv_req *r)
{
    /* A CORS preflight is answered before routing and auth, as actix-cors does. */
    if (r->method == HTTP_OPTIONS && r->acr_method.len > 0) {
        r->route = "preflight";
        resp_body(r, 200, NULL, "", 0); /* its headers: response.c cors_headers */
        return;
    }
    struct http_parser_url u;
    http_parser_url_init(&u);
    const char *url = r->url.ptr ? r->url.ptr : "";
    if (r->url.len == 0 || http_parser_parse_url(url, r->url.len, 0, &u) != 0 ||
        !(u.field_set & (1u << UF_PATH))) {
        resp_error(r, 400, "bad_request", "The request target is not a valid path.");
        return;
    }
    const char *path = url + u.field_data[UF_PATH].off;
    size_t path_len = u.field_data[UF_PATH].len;
    struct segs s;
    const struct route *rt = NULL;
    size_t idx[2] = {0, 0}, argc = 0;
    if (split_path(path, path_len, &s))
        for (size_t i = 0; i < FOLIO_ARRAY_LEN(routes) && rt == NULL; i++)
            if (routes[i].method == (enum http_method)r->method &&
                route_matches(&routes[i], &s, idx, &argc))
                rt = &routes[i];
    if (rt == NULL) {
        no_route(r, &s, path, path_len);
        return;
    }
    r->route = rt->pattern;
    if ((!(rt->flags & ROUTE_PUBLIC) && !authorized(srv, r)) || !content_type_ok(rt, r))
        return;
    struct srv_ctx x = {.srv = srv, .sched = srv->sched, .req = r};
    for (size_t a = 0; a < argc; a++)
        x.args[a] = url_decode(s.ptr[idx[a]], s.len[idx[a]], false, &x.arg_lens[a]);
    if (u.field_set & (1u << UF_QUERY)) {
        x.query = url + u.field_data[UF_QUERY].off;
        x.query_len = u.field_data[UF_QUERY].len;
    }
    if (params_parse(&x) == 0)
        rt->handler(&x);
    ctx_free(&x);
    FOLIO_ASSERT(r->ready || r->awaiting);
}
