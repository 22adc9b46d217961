/*
 * Responses: the status line, headers and body of a request's answer, the
 * Meilisearch error object ({message, code, type, link}), the summarized
 * task of enqueuing routes, and the one log line each request gets.
 *
 * Every response carries Content-Length, except the streamed ones (GET
 * /journal: chunked, see h_journal.c), and, when the connection ends with
 * it, `Connection: close`. 503 answers carry `Retry-After: 10` as
 * Meilisearch's do.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "folio/common.h"
#include "folio/sched.h"
#include "server_int.h"

/* ---- buffers -------------------------------------------------------------------- */

/* Makes room for n more bytes and the terminating NUL. */
void
buf_reserve(struct srv_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    b->ptr = folio_realloc(b->ptr, cap);
    b->cap = cap;
}

void
buf_append(struct srv_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    buf_reserve(b, n);
    memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
}

void
buf_append_str(struct srv_buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void
buf_append_u64(struct srv_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    buf_append(b, tmp + i, sizeof(tmp) - i);
}

/* Formats straight into the buffer's free space; grows it and formats again if that was short. */
void
buf_printf(struct srv_buf *b, const char *fmt, ...)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t room = b->cap > b->len ? b->cap - b->len : 0;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(room > 0 ? b->ptr + b->len : NULL, room, fmt, ap);
        va_end(ap);
        FOLIO_ASSERT(n >= 0);
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        buf_reserve(b, (size_t)n);
    }
    FOLIO_PANIC("buf_printf: the text changed length between two passes");
}

void
buf_free(struct srv_buf *b)
{
    folio_free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

/* ---- status lines ----------------------------------------------------------------- */

const char *
http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

const char *
error_type(int status, const char *code)
{
    if (status == 401 || status == 403)
        return "auth";
    /* Meilisearch's System codes (meilisearch-types' error.rs), and folio's own 503 at the
       connection cap, which is one too. */
    static const char *const system_codes[] = {"io_error", "no_space_left_on_device",
                                               "too_many_open_files", "too_many_search_requests",
                                               "too_many_connections"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(system_codes); i++)
        if (strcmp(code, system_codes[i]) == 0)
            return "system";
    return status >= 500 ? "internal" : "invalid_request";
}

static const char *
method_name(const struct srv_req *r)
{
    return r->method <= HTTP_SOURCE ? http_method_str((enum http_method)r->method) : "-";
}

static void
log_request(const struct srv_req *r)
{
    double ms = (double)(srv_now_ns() - r->started_ns) / 1e6;
    enum folio_log_level level = r->status >= 500 ? FOLIO_LOG_ERROR : FOLIO_LOG_INFO;
    folio_log(level, "request", "method=%s route=%s status=%d duration_ms=%.3f conn=%llu",
              method_name(r), r->route, r->status, ms,
              (unsigned long long)(r->conn != NULL ? r->conn->id : 0));
}

/* A header list fit to echo: token characters, commas and spaces, at most 1 KiB. */
static bool
header_list_ok(const struct srv_buf *v)
{
    if (v->len == 0 || v->len > 1024)
        return false;
    for (size_t i = 0; i < v->len; i++) {
        unsigned char ch = (unsigned char)v->ptr[i];
        if (!(isalnum(ch) || ch == ',' || ch == ' ' || ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

/*
 * CORS as Meilisearch allows it (actix-cors: any origin, method and header,
 * wildcard origin): an answer to a request that names an Origin, or to a
 * preflight, gets Access-Control-Allow-Origin: *, whatever the route's
 * answer; a preflight also gets the methods, the asked-for headers (Authorization
 * among them, which a wildcard would not cover) and how long to keep them.
 */
static void
cors_headers(const struct srv_req *r, struct srv_buf *b)
{
    bool preflight = r->method == HTTP_OPTIONS && r->acr_method.len > 0;
    if (r->origin.len == 0 && !preflight)
        return;
    buf_append_str(b, "Access-Control-Allow-Origin: *\r\n");
    if (!preflight)
        return;
    buf_append_str(b, "Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE\r\n"
                      "Access-Control-Max-Age: 86400\r\n");
    if (header_list_ok(&r->acr_headers)) {
        buf_append_str(b, "Access-Control-Allow-Headers: ");
        buf_append(b, r->acr_headers.ptr, r->acr_headers.len);
        buf_append(b, "\r\n", 2);
    }
}

void
resp_body(struct srv_req *r, int status, const char *content_type, const char *body, size_t len)
{
    FOLIO_ASSERT(!r->ready);
    struct srv_conn *c = r->conn;
    if (c != NULL && c->draining)
        r->close_after = true;
    r->status = status;
    r->resp.len = 0;
    /* Every answer passes here: plain appends, no printf. */
    buf_reserve(&r->resp, 160 + len);
    buf_append_str(&r->resp, "HTTP/1.1 ");
    buf_append_u64(&r->resp, (uint64_t)status);
    buf_append(&r->resp, " ", 1);
    buf_append_str(&r->resp, http_reason(status));
    buf_append_str(&r->resp, "\r\nContent-Length: ");
    buf_append_u64(&r->resp, len);
    buf_append(&r->resp, "\r\n", 2);
    if (content_type != NULL) {
        buf_append_str(&r->resp, "Content-Type: ");
        buf_append_str(&r->resp, content_type);
        buf_append(&r->resp, "\r\n", 2);
    }
    if (status == 503)
        buf_append_str(&r->resp, "Retry-After: 10\r\n");
    cors_headers(r, &r->resp);
    if (r->close_after)
        buf_append_str(&r->resp, "Connection: close\r\n");
    else if (r->http10)
        buf_append_str(&r->resp, "Connection: keep-alive\r\n");
    buf_append(&r->resp, "\r\n", 2);
    /* The answer to HEAD has the headers GET would have, and no content (RFC 9110 9.3.2). */
    if (r->method != HTTP_HEAD)
        buf_append(&r->resp, body, len);
    r->ready = true;
    /* The request body is not needed any more: give its memory back early. */
    buf_free(&r->body);
    log_request(r);
}

void
resp_stream_head(struct srv_req *r, int status, const char *content_type, bool chunked)
{
    FOLIO_ASSERT(!r->ready);
    struct srv_conn *c = r->conn;
    if (c != NULL && c->draining)
        r->close_after = true;
    r->status = status;
    r->resp.len = 0;
    buf_printf(&r->resp, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nCache-Control: no-cache\r\n",
               status, http_reason(status), content_type);
    if (chunked)
        buf_printf(&r->resp, "Transfer-Encoding: chunked\r\n");
    cors_headers(r, &r->resp);
    if (r->close_after)
        buf_printf(&r->resp, "Connection: close\r\n");
    buf_append(&r->resp, "\r\n", 2);
    r->ready = true;
    buf_free(&r->body);
    log_request(r);
}

void
resp_json(struct srv_req *r, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    if (text == NULL) {
        resp_error(r, 500, "internal", "The response could not be encoded as JSON.");
        return;
    }
    resp_body(r, status, "application/json", text, strlen(text));
    free(text);
}

/*
 * message as valid UTF-8 (caller frees): a sequence cut short by a length
 * bound at the very end is dropped, any other invalid byte becomes U+FFFD,
 * so no such byte is ever echoed.
 */
static char *
utf8_repaired(const char *message)
{
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)message;
    size_t n = strlen(message), o = 0;
    char *out = folio_malloc(3 * n + 1);
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t len = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (len > 0) {
            memcpy(out + o, s + i, (size_t)len);
            o += (size_t)len;
            i += (size_t)len;
            continue;
        }
        if ((size_t)utf8proc_utf8class[s[i]] > n - i) /* cut short at the end */
            break;
        memcpy(out + o, "\xef\xbf\xbd", 3);
        o += 3;
        i++;
    }
    out[o] = '\0';
    return out;
}

static void
resp_error_v(struct srv_req *r, int status, const char *code, const char *type,
             const char *message)
{
    char link[160];
    snprintf(link, sizeof(link), "https://docs.meilisearch.com/errors#%s", code);
    json_t *o = json_object();
    json_object_set_new(o, "message", json_string(message));
    if (json_object_get(o, "message") == NULL) { /* not UTF-8: never echo such bytes */
        char *repaired = utf8_repaired(message);
        json_object_set_new(o, "message", json_string(repaired));
        folio_free(repaired);
    }
    json_object_set_new(o, "code", json_string(code));
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "link", json_string(link));
    resp_json(r, status, o);
}

void
resp_error(struct srv_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    resp_error_v(r, status, code, error_type(status, code), msg);
}

void
resp_sched_error(struct srv_req *r, const struct folio_sched_error *e)
{
    int status = e->http_status >= 400 && e->http_status <= 599 ? e->http_status : 500;
    const char *code = e->code[0] != '\0' ? e->code : "internal";
    const char *type = e->type[0] != '\0' ? e->type : error_type(status, code);
    resp_error_v(r, status, code, type, e->message[0] != '\0' ? e->message : "Internal error.");
}

void
resp_summarized(struct srv_req *r, int status, const struct folio_sched_registered *t)
{
    /*
     * Every enqueuing route answers with this: written directly, no jansson
     * tree. Nothing in it needs JSON escaping: the index uid passed
     * folio_index_uid_valid at registration ([A-Za-z0-9_-]), the kind is one
     * of folio_task_kind_name's words and the date is RFC 3339 digits.
     */
    char date[64];
    struct srv_buf b = {0};
    buf_reserve(&b, 200);
    buf_append_str(&b, "{\"taskUid\":");
    buf_append_u64(&b, t->task_uid);
    buf_append_str(&b, ",\"indexUid\":");
    if (t->index_uid[0] != '\0') {
        buf_append(&b, "\"", 1);
        buf_append_str(&b, t->index_uid);
        buf_append(&b, "\"", 1);
    } else {
        buf_append_str(&b, "null");
    }
    buf_append_str(&b, ",\"status\":\"enqueued\",\"type\":\"");
    buf_append_str(&b, folio_task_kind_name(t->kind));
    folio_sched_format_date(t->enqueued_at_ns, date, sizeof(date));
    buf_append_str(&b, "\",\"enqueuedAt\":\"");
    buf_append_str(&b, date);
    buf_append_str(&b, "\"}");
    resp_body(r, status, "application/json", b.ptr, b.len);
    buf_free(&b);
}
