/*
 * One HTTP/1.1 connection: reading, http-parser callbacks, the queue of
 * requests answered in order, writing, timeouts and the end of the
 * connection.
 *
 * Pipelining. The parser is paused after every complete message; the loop in
 * conn_flush() dispatches it, writes whatever responses are ready at the head
 * of the queue, and parses on. Requests of one connection take effect in
 * order: while a registration of the connection is pending nothing after it
 * is dispatched, so a pipelined GET /tasks/{uid} sees the task a POST before
 * it created. At most SRV_PIPELINE_MAX complete requests wait on one
 * connection; past that nothing more is read until responses go out, so a
 * client cannot make the server buffer without bound. Input is read only once
 * the previous read is fully parsed.
 *
 * Bounds. Request line and headers count against header_bytes_max (414 while
 * still in the URL, else 431), the body against payload_bytes_max (413 from
 * Content-Length before any body byte is read, or as chunks arrive). A framing
 * error answers once, after the responses queued before it, with
 * `Connection: close`; nothing after it is parsed. The connection then shuts
 * its write side down and reads and discards for a short while (a bounded
 * lingering close) so the client sees the answer rather than a reset.
 *
 * Time. One timer per connection follows the nearest deadline: headers must
 * be complete within request_timeout_ms of the first byte, the body must make
 * progress every request_timeout_ms (both answered 408), a blocked write must
 * make progress every request_timeout_ms, an idle keep-alive connection is
 * closed after keep_alive_timeout_ms. Waiting for the scheduler has no
 * deadline: that is the server's own work.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "server_int.h"

enum deadline_kind { DL_NONE, DL_IDLE, DL_HEADERS, DL_BODY, DL_WRITE, DL_LINGER };

static void conn_close(struct srv_conn *c);

int64_t
srv_now_ns(void)
{
    return folio_clock_mono_ns();
}

/* ---- requests ------------------------------------------------------------------ */

static struct srv_req *
req_new(struct srv_conn *c)
{
    struct srv_req *r = folio_calloc(1, sizeof(*r));
    r->conn = c;
    r->started_ns = srv_now_ns();
    r->route = "-";
    r->method = UINT32_MAX;
    return r;
}

static void
req_free(struct srv_req *r)
{
    stream_free(r);
    buf_free(&r->url);
    buf_free(&r->header_name);
    buf_free(&r->content_type);
    buf_free(&r->authorization);
    buf_free(&r->expect);
    buf_free(&r->origin);
    buf_free(&r->acr_method);
    buf_free(&r->acr_headers);
    buf_free(&r->body);
    buf_free(&r->resp);
    folio_free(r);
}

static void
queue_push(struct srv_conn *c, struct srv_req *r)
{
    r->next = NULL;
    if (c->tail != NULL)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->depth++;
}

/* ---- parser callbacks ------------------------------------------------------------ */

static bool
header_bytes_add(struct srv_conn *c, struct srv_req *r, size_t n, int status)
{
    r->header_bytes += n;
    if (r->header_bytes <= c->srv->opts.header_bytes_max)
        return true;
    r->fail_status = status;
    return false;
}

static int
on_message_begin(http_parser *p)
{
    struct srv_conn *c = p->data;
    if (c->cur == NULL)
        c->cur = req_new(c);
    return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
    struct srv_conn *c = p->data;
    struct srv_req *r = c->cur;
    if (!header_bytes_add(c, r, len, 414))
        return -1;
    buf_append(&r->url, at, len);
    return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
    struct srv_conn *c = p->data;
    struct srv_req *r = c->cur;
    if (!r->in_field) {
        r->in_field = true;
        r->in_value = false;
        r->header_name.len = 0;
        r->header_name_long = false;
        r->capture = CAP_NONE;
        if (!header_bytes_add(c, r, 4, 431)) /* ": " and CRLF */
            return -1;
    }
    if (!header_bytes_add(c, r, len, 431))
        return -1;
    if (!r->header_name_long && r->header_name.len + len <= SRV_HEADER_NAME_MAX)
        buf_append(&r->header_name, at, len);
    else
        r->header_name_long = true;
    return 0;
}

static enum srv_capture
capture_of(const struct srv_buf *name)
{
    static const struct {
        const char *name;
        enum srv_capture cap;
    } names[] = {{"content-type", CAP_CONTENT_TYPE},
                 {"authorization", CAP_AUTHORIZATION},
                 {"expect", CAP_EXPECT},
                 {"origin", CAP_ORIGIN},
                 {"access-control-request-method", CAP_ACR_METHOD},
                 {"access-control-request-headers", CAP_ACR_HEADERS}};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(names); i++)
        if (name->len == strlen(names[i].name) &&
            strncasecmp(name->ptr, names[i].name, name->len) == 0)
            return names[i].cap;
    return CAP_NONE;
}

static struct srv_buf *
capture_buf(struct srv_req *r)
{
    switch (r->capture) {
    case CAP_CONTENT_TYPE: return &r->content_type;
    case CAP_AUTHORIZATION: return &r->authorization;
    case CAP_EXPECT: return &r->expect;
    case CAP_ORIGIN: return &r->origin;
    case CAP_ACR_METHOD: return &r->acr_method;
    case CAP_ACR_HEADERS: return &r->acr_headers;
    default: return NULL;
    }
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
    struct srv_conn *c = p->data;
    struct srv_req *r = c->cur;
    if (!header_bytes_add(c, r, len, 431))
        return -1;
    r->in_field = false;
    if (!r->in_value) {
        r->in_value = true;
        r->capture = r->header_name_long ? CAP_NONE : capture_of(&r->header_name);
        if (r->capture == CAP_CONTENT_TYPE)
            r->has_content_type = true;
        /* A repeated header joins the first as a list, as HTTP says. */
        struct srv_buf *dst = capture_buf(r);
        if (dst != NULL && dst->len > 0)
            buf_append(dst, ", ", 2);
    }
    struct srv_buf *dst = capture_buf(r);
    if (dst != NULL)
        buf_append(dst, at, len);
    return 0;
}

static int
on_headers_complete(http_parser *p)
{
    struct srv_conn *c = p->data;
    struct srv_req *r = c->cur;
    r->headers_done = true;
    r->method = p->method;
    r->keep_alive = http_should_keep_alive(p) && !p->upgrade;
    r->http10 = p->http_major == 1 && p->http_minor == 0;
    c->body_activity_ns = srv_now_ns();
    bool has_length = (p->flags & F_CONTENTLENGTH) != 0;
    if (has_length && p->content_length > c->srv->opts.payload_bytes_max) {
        r->fail_status = 413;
        return -1;
    }
    bool has_body = (p->flags & F_CHUNKED) != 0 || (has_length && p->content_length > 0);
    /* Ask for the body only when no earlier response is still owed, so the
       interim response cannot overtake one. */
    if (has_body && r->expect.len == strlen("100-continue") &&
        strncasecmp(r->expect.ptr, "100-continue", r->expect.len) == 0 && c->head == NULL &&
        c->interim.len == 0 && !r->http10)
        buf_append(&c->interim, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
    struct srv_conn *c = p->data;
    struct srv_req *r = c->cur;
    if (r->body.len + len > c->srv->opts.payload_bytes_max) {
        r->fail_status = 413;
        return -1;
    }
    buf_append(&r->body, at, len);
    c->body_activity_ns = srv_now_ns();
    return 0;
}

static int
on_message_complete(http_parser *p)
{
    struct srv_conn *c = p->data;
    struct srv_req *r = c->cur;
    c->cur = NULL;
    queue_push(c, r);
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- parsing --------------------------------------------------------------------- */

static void
human_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    unsigned u = 0;
    while (u + 1 < FOLIO_ARRAY_LEN(units) && n >= 1000 && n % 1000 == 0) {
        n /= 1000;
        u++;
    }
    snprintf(buf, len, "%llu %s", (unsigned long long)n, units[u]);
}

/* Answers a framing error after the queued responses and stops parsing. */
static void
framing_error(struct srv_conn *c, enum http_errno e)
{
    struct srv_req *r = c->cur != NULL ? c->cur : req_new(c);
    c->cur = NULL;
    r->close_after = true;
    int status = r->fail_status;
    if (status == 0 && e == HPE_HEADER_OVERFLOW)
        status = 431;
    if (status == 413) {
        char limit[32];
        human_bytes(c->srv->opts.payload_bytes_max, limit, sizeof(limit));
        resp_error(r, 413, "payload_too_large",
                   "The provided payload reached the size limit. The maximum accepted payload "
                   "size is %s.",
                   limit);
    } else if (status == 414) {
        resp_error(r, 414, "uri_too_long", "The request URI is longer than the limit of %u bytes.",
                   c->srv->opts.header_bytes_max);
    } else if (status == 431) {
        resp_error(r, 431, "header_too_large",
                   "The request line and headers are larger than the limit of %u bytes.",
                   c->srv->opts.header_bytes_max);
    } else {
        resp_error(r, 400, "bad_request", "The request is not valid HTTP/1.1: %s.",
                   http_errno_description(e));
    }
    queue_push(c, r);
    c->stop_parsing = true;
    c->discarded = true;
}

static void
conn_parse(struct srv_conn *c)
{
    while (!c->stop_parsing && c->in_off < c->in_len && c->depth < SRV_PIPELINE_MAX &&
           c->regs == 0 && c->stream == NULL) {
        size_t n = http_parser_execute(&c->parser, &parser_settings, c->in + c->in_off,
                                       c->in_len - c->in_off);
        c->in_off += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            struct srv_req *r = c->tail;
            if (!r->keep_alive || c->draining) {
                r->close_after = true;
                c->stop_parsing = true;
            }
            route_dispatch(c->srv, r);
            continue;
        }
        if (e != HPE_OK) {
            framing_error(c, e);
            break;
        }
        if (n == 0)
            break;
    }
    if (c->stop_parsing && c->in_off < c->in_len)
        c->discarded = true;
    if (c->stop_parsing || c->in_off >= c->in_len)
        c->in_off = c->in_len = 0;
}

/* ---- writing ------------------------------------------------------------------------ */

/* Sends buf[*off..len). 1: all sent, 0: the socket is full, -1: the connection failed. */
static int
send_some(struct srv_conn *c, const char *buf, size_t len, size_t *off)
{
    while (*off < len) {
        ssize_t n = send(c->fd, buf + *off, len - *off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (c->write_activity_ns == 0)
                    c->write_activity_ns = srv_now_ns(); /* blocked since */
                return 0;
            }
            return -1;
        }
        *off += (size_t)n;
        c->write_activity_ns = 0;
    }
    return 1;
}

/* -1: failed; 0: blocked or nothing ready; 1: at least one response went out. */
static int
conn_write(struct srv_conn *c)
{
    int progressed = 0;
    if (c->interim.len > 0) {
        int rc = send_some(c, c->interim.ptr, c->interim.len, &c->interim_off);
        if (rc <= 0)
            return rc;
        c->interim.len = c->interim_off = 0;
    }
    while (c->head != NULL && c->head->ready) {
        struct srv_req *r = c->head;
        if (r->stream != NULL)
            stream_produce(r);
        int rc = send_some(c, r->resp.ptr, r->resp.len, &r->resp_off);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (r->stream != NULL)
                stream_blocked(r);
            return progressed;
        }
        if (r->stream != NULL && !stream_finished(r)) {
            stream_idle(r);
            return progressed;
        }
        c->head = r->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->depth--;
        if (r->close_after)
            c->stop_parsing = true;
        req_free(r);
        progressed = 1;
        if (c->head == NULL)
            c->idle_since_ns = srv_now_ns();
    }
    return progressed;
}

/* ---- deadlines ---------------------------------------------------------------------- */

static bool
write_pending(const struct srv_conn *c)
{
    if (c->interim.len > 0)
        return true;
    const struct srv_req *r = c->head;
    if (r == NULL || !r->ready)
        return false;
    /* A stream with everything written waits for its timer, not for the socket. */
    return r->stream == NULL || r->resp_off < r->resp.len;
}

static int64_t
conn_deadline(const struct srv_conn *c, enum deadline_kind *kind)
{
    const int64_t ms = 1000000;
    int64_t req_ns = (int64_t)c->srv->opts.request_timeout_ms * ms;
    int64_t best = INT64_MAX;
    *kind = DL_NONE;
    if (c->lingering) {
        *kind = DL_LINGER;
        return c->linger_deadline_ns;
    }
    if (c->cur != NULL) {
        *kind = c->cur->headers_done ? DL_BODY : DL_HEADERS;
        best = (c->cur->headers_done ? c->body_activity_ns : c->cur->started_ns) + req_ns;
    } else if (c->head == NULL && c->interim.len == 0) {
        *kind = DL_IDLE;
        best = c->idle_since_ns + (int64_t)c->srv->opts.keep_alive_timeout_ms * ms;
    }
    if (write_pending(c) && c->write_activity_ns != 0 && c->write_activity_ns + req_ns < best) {
        *kind = DL_WRITE;
        best = c->write_activity_ns + req_ns;
    }
    return best;
}

static void
conn_arm(struct srv_conn *c)
{
    enum deadline_kind kind;
    int64_t dl = conn_deadline(c, &kind);
    ev_timer_stop(c->srv->loop, &c->timer);
    if (kind == DL_NONE)
        return;
    int64_t wait_ns = dl - srv_now_ns();
    ev_timer_set(&c->timer, wait_ns > 0 ? (double)wait_ns / 1e9 : 0., 0.);
    ev_timer_start(c->srv->loop, &c->timer);
}

static void
conn_timeout_408(struct srv_conn *c)
{
    struct srv_req *r = c->cur;
    c->cur = NULL;
    r->close_after = true;
    resp_error(r, 408, "request_timeout",
               "The request was not received in time: every request must send its headers, "
               "and keep sending its body, within %u ms.",
               c->srv->opts.request_timeout_ms);
    queue_push(c, r);
    c->stop_parsing = true;
    c->discarded = true;
    conn_flush(c);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct srv_conn *c = w->data;
    enum deadline_kind kind;
    int64_t dl = conn_deadline(c, &kind);
    if (kind == DL_NONE)
        return;
    if (dl > srv_now_ns()) {
        conn_arm(c);
        return;
    }
    switch (kind) {
    case DL_HEADERS:
    case DL_BODY:
        folio_log(FOLIO_LOG_DEBUG, "request timeout", "conn=%llu phase=%s",
                  (unsigned long long)c->id, kind == DL_HEADERS ? "headers" : "body");
        conn_timeout_408(c);
        return;
    case DL_WRITE:
        folio_log(FOLIO_LOG_DEBUG, "write timeout", "conn=%llu", (unsigned long long)c->id);
        conn_close(c);
        return;
    default:
        conn_close(c);
        return;
    }
}

/* ---- the connection's life ------------------------------------------------------------ */

static void
conn_free(struct srv_conn *c)
{
    struct folio_server *srv = c->srv;
    FOLIO_ASSERT(c->dead && c->regs == 0);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    while (c->head != NULL) {
        struct srv_req *r = c->head;
        c->head = r->next;
        req_free(r);
    }
    if (c->cur != NULL)
        req_free(c->cur);
    buf_free(&c->interim);
    folio_free(c->in);
    bool refused = c->refused;
    folio_free(c);
    server_conn_freed(srv, refused);
}

static void
conn_close(struct srv_conn *c)
{
    if (c->dead)
        return;
    struct ev_loop *loop = c->srv->loop;
    ev_io_stop(loop, &c->rio);
    ev_io_stop(loop, &c->wio);
    ev_timer_stop(loop, &c->timer);
    if (c->stream != NULL)
        stream_blocked(c->stream); /* stops its timer; freed with the request */
    close(c->fd);
    c->fd = -1;
    c->dead = true;
    if (c->regs == 0)
        conn_free(c);
}

void
conn_force_close(struct srv_conn *c)
{
    conn_close(c);
}

/*
 * Everything answered and nothing more will be parsed: end the connection.
 * When input was refused or dropped, the client may still be sending; closing
 * with unread bytes would reset the connection and could destroy the answer
 * in flight, so the write side is shut and the rest read and discarded for a
 * bounded time first.
 */
static void
conn_end(struct srv_conn *c)
{
    if (c->eof || !c->discarded) {
        conn_close(c);
        return;
    }
    (void)shutdown(c->fd, SHUT_WR);
    c->lingering = true;
    c->linger_deadline_ns = srv_now_ns() + (int64_t)SRV_LINGER_MS * 1000000;
    ev_io_stop(c->srv->loop, &c->wio);
    ev_io_start(c->srv->loop, &c->rio);
    conn_arm(c);
}

static void
conn_watch(struct srv_conn *c)
{
    struct ev_loop *loop = c->srv->loop;
    bool want_read = !c->eof && !c->stop_parsing && c->in_len == 0 &&
                     c->depth < SRV_PIPELINE_MAX;
    if (want_read)
        ev_io_start(loop, &c->rio);
    else
        ev_io_stop(loop, &c->rio);
    if (write_pending(c))
        ev_io_start(loop, &c->wio);
    else
        ev_io_stop(loop, &c->wio);
    conn_arm(c);
}

void
conn_flush(struct srv_conn *c)
{
    if (c->dead || c->lingering)
        return;
    for (;;) {
        conn_parse(c);
        int w = conn_write(c);
        if (w < 0) {
            conn_close(c);
            return;
        }
        if (!(w > 0 && c->in_off < c->in_len && c->depth < SRV_PIPELINE_MAX && !c->stop_parsing &&
              c->regs == 0 && c->stream == NULL))
            break;
    }
    if (c->head == NULL && c->cur == NULL && c->interim.len == 0 &&
        (c->stop_parsing || c->eof)) {
        conn_end(c);
        return;
    }
    conn_watch(c);
}

static void
linger_read(struct srv_conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->in, SRV_READ_BYTES, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            conn_close(c);
            return;
        }
        c->linger_bytes += (size_t)n;
        if (c->linger_bytes > SRV_LINGER_BYTES) {
            conn_close(c);
            return;
        }
    }
}

static void
read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct srv_conn *c = w->data;
    if (c->lingering) {
        linger_read(c);
        return;
    }
    if (c->in_len > 0) {
        conn_flush(c);
        return;
    }
    ssize_t n;
    do
        n = recv(c->fd, c->in, SRV_READ_BYTES, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            conn_close(c);
        return;
    }
    if (n == 0) {
        /* The peer will send nothing more: answer what is complete, drop the rest. */
        c->eof = true;
        if (c->cur != NULL) {
            req_free(c->cur);
            c->cur = NULL;
        }
    } else {
        c->in_len = (size_t)n;
        c->in_off = 0;
    }
    conn_flush(c);
}

static void
write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    conn_flush(w->data);
}

static struct srv_conn *
conn_new(struct folio_server *srv, int fd)
{
    struct srv_conn *c = folio_calloc(1, sizeof(*c));
    c->srv = srv;
    c->fd = fd;
    c->id = ++srv->next_conn_id;
    c->in = folio_malloc(SRV_READ_BYTES);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    ev_io_init(&c->rio, read_cb, fd, EV_READ);
    c->rio.data = c;
    ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
    c->wio.data = c;
    ev_init(&c->timer, timer_cb);
    c->timer.data = c;
    c->idle_since_ns = srv_now_ns();
    c->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = c;
    srv->conns = c;
    return c;
}

void
conn_accepted(struct folio_server *srv, int fd)
{
    struct srv_conn *c = conn_new(srv, fd);
    srv->conn_count++;
    conn_watch(c);
}

/*
 * A connection past the cap: it is answered 503 at once, before anything is
 * read, with `Connection: close`, and ends as a refused request does (write
 * side shut, the rest read and discarded for at most SRV_LINGER_MS), so the
 * client reads the answer rather than a reset. Nothing it sends is parsed.
 */
void
conn_refused(struct folio_server *srv, int fd)
{
    struct srv_conn *c = conn_new(srv, fd);
    c->refused = true;
    srv->refusing_count++;
    struct srv_req *r = req_new(c);
    r->close_after = true;
    resp_error(r, 503, "too_many_connections",
               "The server already serves its maximum of %u connections. Retry after a few "
               "seconds.",
               srv->opts.connections_max);
    queue_push(c, r);
    c->stop_parsing = true;
    c->discarded = true;
    conn_flush(c);
}

void
conn_drain(struct srv_conn *c)
{
    c->draining = true;
    if (c->dead || c->lingering)
        return;
    if (c->cur == NULL)
        c->stop_parsing = true;
    conn_flush(c);
}

void
conn_reg_done(struct srv_conn *c)
{
    FOLIO_ASSERT(c->regs > 0);
    c->regs--;
    if (c->dead) {
        if (c->regs == 0)
            conn_free(c);
        return;
    }
    conn_flush(c);
}
