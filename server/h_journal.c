/*
 * GET /journal?from=SEQ&follow=true: the journal's events as NDJSON, one
 * folio_event_to_json line per event, in seq order, from `from` (default 1).
 *
 * Without follow=true the stream ends at the current end: the last event the
 * scheduler had applied when the request arrived. With follow=true it goes on
 * with every new event until the client leaves or the server shuts down.
 *
 * The response is streamed (Transfer-Encoding: chunked; an HTTP/1.0 client
 * gets the bytes unframed and the connection closes at the end). It is driven
 * from the loop without blocking it: the reader (opened with
 * FOLIO_READER_FOLLOW, so it only ever returns durable events and says
 * FOLIO_E_AGAIN at the durable end instead of reading a frame being written)
 * is advanced in slices of at most SLICE_EVENTS events or SLICE_BYTES bytes,
 * one chunk each. After a slice is written the next one is taken on the next
 * loop iteration (a zero timer), so other connections are served in between;
 * when the reader is caught up, a timer polls the journal's durable head every
 * POLL_MS. Reading the mapped segments is memory access; a cold page may cost
 * a disk read on the loop thread, bounded by the slice.
 *
 * Back-pressure. A slice is read only while fewer than BUFFER_MAX bytes of
 * the response wait to be written. A client that stops reading fills its
 * socket, the bytes stay in the response buffer, and the stream stops reading
 * the journal until the socket drains: the server holds at most BUFFER_MAX
 * plus one slice for it. A client that makes no progress for the request
 * timeout is disconnected (conn.c's write deadline).
 *
 * The end. A client that closes its side ends a following stream (the last
 * chunk is written, then the connection closes). On shutdown a stream ends
 * at its current position. A reader error in the middle of a stream (the
 * journal is corrupt) cannot change the status any more: it is logged and the
 * connection is closed without the last chunk, so the client sees a truncated
 * response rather than a clean end. While a stream runs, requests pipelined
 * behind it wait (they are parsed after it ends).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/journal.h"
#include "server_int.h"

#define SLICE_EVENTS 256u
#define SLICE_BYTES (64u << 10)
#define POLL_MS 20

struct srv_stream {
    struct srv_req *req;
    struct folio_journal_reader *reader;
    ev_timer timer;
    uint64_t end_seq;    /* !follow: the last seq sent */
    uint64_t events;     /* lines sent */
    size_t buffered_max; /* largest response buffer seen (tests read it in the log) */
    struct srv_buf slice;
    bool follow;
    bool chunked;
    bool caught_up; /* the last slice ended at the durable end */
    bool finished;  /* the last bytes are in the response buffer */
};

bool
stream_finished(const struct srv_req *r)
{
    return r->stream->finished;
}

static size_t
pending(const struct srv_req *r)
{
    return r->resp.len - r->resp_off;
}

static void
stream_end(struct srv_stream *s, const char *why)
{
    struct srv_req *r = s->req;
    if (s->chunked)
        buf_append(&r->resp, "0\r\n\r\n", 5);
    if (r->resp.len > s->buffered_max)
        s->buffered_max = r->resp.len;
    s->finished = true;
    folio_log(FOLIO_LOG_DEBUG, "journal stream ended",
              "conn=%llu why=%s events=%" PRIu64 " buffered_max=%zu",
              (unsigned long long)r->conn->id, why, s->events, s->buffered_max);
}

/* Appends the slice as one chunk (or unframed for HTTP/1.0). */
static void
slice_flush(struct srv_stream *s)
{
    struct srv_req *r = s->req;
    if (s->slice.len == 0)
        return;
    if (s->chunked)
        buf_printf(&r->resp, "%zx\r\n", s->slice.len);
    buf_append(&r->resp, s->slice.ptr, s->slice.len);
    if (s->chunked)
        buf_append(&r->resp, "\r\n", 2);
    s->slice.len = 0;
    if (r->resp.len > s->buffered_max)
        s->buffered_max = r->resp.len;
}

void
stream_produce(struct srv_req *r)
{
    struct srv_stream *s = r->stream;
    struct srv_conn *c = r->conn;
    if (s->finished || pending(r) >= SRV_STREAM_BUFFER_MAX)
        return;
    /* What was written is dropped before more is added. */
    if (r->resp_off > 0) {
        memmove(r->resp.ptr, r->resp.ptr + r->resp_off, pending(r));
        r->resp.len -= r->resp_off;
        r->resp_off = 0;
    }
    if (c->draining) {
        stream_end(s, "shutdown");
        return;
    }
    if (s->follow && c->eof) {
        stream_end(s, "client_left");
        return;
    }
    s->caught_up = false;
    for (uint32_t n = 0; n < SLICE_EVENTS && s->slice.len < SLICE_BYTES; n++) {
        struct folio_journal_record rec;
        struct folio_journal_diag diag;
        int rc = folio_journal_reader_next(s->reader, &rec, &diag);
        if (rc == FOLIO_E_AGAIN || rc == FOLIO_E_END) {
            if (!s->follow) {
                slice_flush(s);
                stream_end(s, "end");
                return;
            }
            s->caught_up = true;
            break;
        }
        if (rc != 0) {
            folio_log(FOLIO_LOG_ERROR, "journal stream: the journal cannot be read",
                      "conn=%llu error=%s segment=%s offset=%" PRIu64 " seq=%" PRIu64
                      " reason=\"%s\"",
                      (unsigned long long)c->id, folio_err_message(rc), diag.segment, diag.offset,
                      diag.seq, diag.reason);
            slice_flush(s);
            s->finished = true;
            r->close_after = true; /* no last chunk: the client sees the stream cut */
            c->stop_parsing = true;
            return;
        }
        if (!s->follow && rec.seq > s->end_seq) {
            slice_flush(s);
            stream_end(s, "end");
            return;
        }
        char *json = NULL;
        rc = folio_event_to_json(rec.data, rec.len, &json);
        if (rc != 0) {
            folio_log(FOLIO_LOG_ERROR, "journal stream: an event does not decode",
                      "conn=%llu seq=%" PRIu64 " error=%s", (unsigned long long)c->id, rec.seq,
                      folio_err_message(rc));
            slice_flush(s);
            s->finished = true;
            r->close_after = true;
            c->stop_parsing = true;
            return;
        }
        buf_append(&s->slice, json, strlen(json));
        buf_append(&s->slice, "\n", 1);
        folio_free(json);
        s->events++;
        if (!s->follow && rec.seq == s->end_seq) {
            slice_flush(s);
            stream_end(s, "end");
            return;
        }
    }
    slice_flush(s);
}

static void
stream_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct srv_stream *s = w->data;
    conn_flush(s->req->conn);
}

void
stream_idle(struct srv_req *r)
{
    struct srv_stream *s = r->stream;
    struct ev_loop *loop = r->conn->srv->loop;
    if (s->caught_up && ev_is_active(&s->timer))
        return; /* already polling */
    ev_timer_stop(loop, &s->timer);
    ev_timer_set(&s->timer, s->caught_up ? POLL_MS / 1000.0 : 0., 0.);
    ev_timer_start(loop, &s->timer);
}

void
stream_blocked(struct srv_req *r)
{
    ev_timer_stop(r->conn->srv->loop, &r->stream->timer);
}

void
stream_free(struct srv_req *r)
{
    struct srv_stream *s = r->stream;
    if (s == NULL)
        return;
    if (r->conn != NULL && r->conn->srv->loop != NULL)
        ev_timer_stop(r->conn->srv->loop, &s->timer);
    folio_journal_reader_close(s->reader);
    buf_free(&s->slice);
    folio_free(s);
    r->stream = NULL;
    if (r->conn != NULL && r->conn->stream == r)
        r->conn->stream = NULL;
}

void
h_journal(struct srv_ctx *x)
{
    static const char *const known[] = {"from", "follow", NULL};
    if (!params_known(x, known))
        return;
    uint64_t from = 1;
    bool follow = false;
    const struct srv_param *p = param_get(x, "from");
    if (p != NULL && (!parse_u64(p->val, p->val_len, &from) || from == 0)) {
        resp_param_error(x, "invalid_journal_from", "from",
                         "could not parse `%.200s` as a sequence number: a positive integer, "
                         "the seq of the first event to send (seqs start at 1)",
                         p->val);
        return;
    }
    p = param_get(x, "follow");
    if (p != NULL && !parse_bool(p->val, p->val_len, &follow)) {
        resp_param_error(x, "invalid_journal_follow", "follow",
                         "could not parse `%.200s` as a boolean, expected either `true` or "
                         "`false`",
                         p->val);
        return;
    }
    struct folio_journal_reader *reader = NULL;
    struct folio_journal_diag diag;
    int rc = folio_journal_reader_open(folio_sched_journal_dir(x->sched), from, FOLIO_READER_FOLLOW,
                                       &reader, &diag);
    if (rc != 0) {
        resp_error(x->req, 500, "internal", "The journal cannot be read: %s (%s).",
                   folio_err_message(rc), diag.reason);
        return;
    }
    struct srv_stream *s = folio_calloc(1, sizeof(*s));
    struct srv_req *r = x->req;
    s->req = r;
    s->reader = reader;
    s->follow = follow;
    s->chunked = !r->http10;
    if (!follow) {
        const struct folio_sched_state *st = folio_sched_read_lock(x->sched);
        s->end_seq = folio_sched_state_last_seq(st);
        folio_sched_read_unlock(x->sched);
    }
    ev_timer_init(&s->timer, stream_timer_cb, 0., 0.);
    s->timer.data = s;
    if (r->http10)
        r->close_after = true;
    r->stream = s;
    r->conn->stream = r;
    resp_stream_head(r, 200, "application/x-ndjson", s->chunked);
}
