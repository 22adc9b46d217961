/*
 * Private structures of the HTTP front (folio/server.h).
 *
 * Ownership. The loop thread owns every server, connection and request
 * structure; the only things another thread touches are the queue of finished
 * registrations (reg_mu), filled by the journal writer's callback and drained
 * by the loop's ev_async, and the read workers' queues (pool_mu, pool.c). A request lives in its connection's queue from the
 * moment its message is complete until its response is written. A connection
 * whose socket is gone while registrations it started are still pending stays
 * allocated ("dead") until the last one is answered, so a callback never
 * points at freed memory.
 */
#ifndef FOLIO_SERVER_INT_H
#define FOLIO_SERVER_INT_H

#include <ev.h>
#include <http_parser.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "folio/sched.h"
#include "folio/sched_run.h"
#include "folio/server.h"

#define SRV_PIPELINE_MAX 32u          /* complete requests queued on one connection */
#define SRV_READ_BYTES (64u << 10)    /* one read from a socket */
#define SRV_LINGER_MS 2000            /* reading and discarding after the last response */
#define SRV_LINGER_BYTES (4u << 20)
#define SRV_SEGMENTS_MAX 8u           /* path segments a route may have */
#define SRV_PARAMS_MAX 64u            /* query parameters in one request */
#define SRV_HEADER_NAME_MAX 64u       /* longer names are no header we look at */
#define SRV_STREAM_BUFFER_MAX (256u << 10) /* a streamed response reads on only below this */
#define SRV_REFUSING_MAX 32u          /* connections past the cap being answered 503 at once */

/* ---- growable byte buffer with a hard maximum (set by its user) ---------- */

struct srv_buf {
    char *ptr;
    size_t len, cap;
};
void buf_reserve(struct srv_buf *b, size_t n);
void buf_append(struct srv_buf *b, const void *p, size_t n);
void buf_append_str(struct srv_buf *b, const char *s);
void buf_append_u64(struct srv_buf *b, uint64_t v);
void buf_printf(struct srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct srv_buf *b);

/* ---- requests and connections -------------------------------------------- */

struct srv_conn;
struct srv_stream;

enum srv_capture {
    CAP_NONE,
    CAP_CONTENT_TYPE,
    CAP_AUTHORIZATION,
    CAP_EXPECT,
    CAP_ORIGIN,
    CAP_ACR_METHOD,
    CAP_ACR_HEADERS
};

struct srv_req {
    struct srv_req *next;
    struct srv_conn *conn;
    int64_t started_ns;               /* monotonic: first byte of the request */
    unsigned method;                  /* enum http_method */
    struct srv_buf url;
    struct srv_buf header_name;
    bool header_name_long;            /* longer than any header we capture */
    enum srv_capture capture;
    bool in_field, in_value;          /* which header part the parser is in */
    bool has_content_type;
    struct srv_buf content_type, authorization, expect;
    /* CORS: Origin, Access-Control-Request-Method and -Headers (response.c) */
    struct srv_buf origin, acr_method, acr_headers;
    size_t header_bytes;
    bool headers_done;
    struct srv_buf body;
    bool keep_alive;
    bool http10;
    /* a framing error decided in a parser callback (413, 414, 431) */
    int fail_status;
    /* the response */
    const char *route;                /* route template for the log */
    int status;
    struct srv_buf resp;
    size_t resp_off;
    bool ready;
    bool awaiting;                    /* a registration is pending */
    bool close_after;                 /* the connection ends with this response */
    struct srv_stream *stream;        /* a streamed response (GET /journal), or NULL */
};

struct srv_conn {
    struct folio_server *srv;
    struct srv_conn *prev, *next;
    uint64_t id;
    int fd;
    ev_io rio, wio;
    ev_timer timer;
    http_parser parser;
    char *in;
    size_t in_len, in_off;
    struct srv_req *cur;              /* being parsed */
    struct srv_req *head, *tail;      /* complete, answered in this order */
    uint32_t depth;
    uint32_t regs;                    /* registrations and read jobs pending */
    struct srv_req *stream;           /* the request streaming its response, or NULL */
    struct srv_buf interim;           /* "100 Continue", written before the queue */
    size_t interim_off;
    int64_t idle_since_ns, body_activity_ns, write_activity_ns;
    bool eof;                         /* the peer closed its side */
    bool stop_parsing;                /* no request after the queued ones */
    bool draining;                    /* server shutdown: finish and close */
    bool discarded;                   /* input was refused or dropped: linger before closing */
    bool lingering;
    size_t linger_bytes;
    int64_t linger_deadline_ns;
    bool dead;                        /* socket closed; freed once regs == 0 */
    bool refused;                     /* past the cap: answered 503 and closed (listen.c) */
};

/* A registration on its way through the journal. */
struct srv_reg {
    struct srv_reg *next;
    struct folio_server *srv;
    struct srv_req *req;
    int ok_status;                    /* 202, or 200 for task cancelation / deletion */
    int err;
    struct folio_sched_registered task;
};

struct folio_server {
    struct folio_server_opts opts;
    char *master_key;
    char address[300];
    int listen_fd;
    struct ev_loop *loop;
    ev_io accept_w;
    ev_timer accept_retry;
    ev_signal sigint_w, sigterm_w;
    ev_async reg_async;
    ev_timer grace;
    struct folio_sched *sched;
    pthread_mutex_t reg_mu;
    struct srv_reg *done_head, *done_tail;
    struct srv_conn *conns;
    uint32_t conn_count;              /* served connections, at most connections_max */
    uint32_t refusing_count;          /* refused ones still open, at most SRV_REFUSING_MAX */
    int reserve_fd;                   /* /dev/null, given up to refuse a client at EMFILE */
    bool cap_logged;                  /* the cap was reported since the count went below it */
    uint64_t next_conn_id;
    bool stopping;
    bool forced;
    bool accepting;
    /* read workers (pool.c) */
    pthread_t *pool_threads;
    uint32_t pool_thread_count;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cond;
    struct srv_job *pool_head, *pool_tail;           /* waiting for a worker */
    struct srv_job *pool_done_head, *pool_done_tail; /* run, waiting for the loop */
    ev_async pool_async;
    bool pool_stopping;
};

/* conn.c */
void conn_accepted(struct folio_server *srv, int fd);
void conn_refused(struct folio_server *srv, int fd); /* answers 503 and closes */
void conn_flush(struct srv_conn *c);        /* write what is ready; close when done */
void conn_drain(struct srv_conn *c);        /* shutdown: finish what is in flight */
void conn_force_close(struct srv_conn *c);
void conn_reg_done(struct srv_conn *c);     /* a registration of c was answered */
int64_t srv_now_ns(void);

/* listen.c */
int listen_open(struct folio_server *srv, const char *addr, char *why, size_t why_len);
void listen_start(struct folio_server *srv);
void listen_stop(struct folio_server *srv);
void server_conn_freed(struct folio_server *srv, bool refused);

/* ---- responses (response.c) ----------------------------------------------- */

/* Sets the response of r (status line, headers, body) and logs the request. */
void resp_body(struct srv_req *r, int status, const char *content_type, const char *body,
               size_t len);
void resp_json(struct srv_req *r, int status, json_t *body); /* steals body */
void resp_error(struct srv_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void resp_sched_error(struct srv_req *r, const struct folio_sched_error *e);
void resp_summarized(struct srv_req *r, int status, const struct folio_sched_registered *t);
/* The head of a streamed response (no Content-Length; chunked unless HTTP/1.0). */
void resp_stream_head(struct srv_req *r, int status, const char *content_type, bool chunked);
const char *http_reason(int status);
/* Error `type` of a Meilisearch code's status: auth, system, internal or invalid_request. */
const char *error_type(int status, const char *code);

/* ---- routing (route.c) ------------------------------------------------------ */

struct srv_param {
    char *key, *val;
    size_t key_len, val_len;
};

struct srv_ctx {
    struct folio_server *srv;
    struct folio_sched *sched;
    struct srv_req *req;
    char *args[2];                    /* the {...} segments of the route, decoded */
    size_t arg_lens[2];
    const char *query;                /* raw query string, without '?' */
    size_t query_len;
    struct srv_param params[SRV_PARAMS_MAX];
    size_t param_count;
};

void route_dispatch(struct folio_server *srv, struct srv_req *r);

/* ---- query strings and values (query.c) ---------------------------------- */

int params_parse(struct srv_ctx *x);                  /* 0, or -1 with the response set */
const struct srv_param *param_get(const struct srv_ctx *x, const char *key);
/* Answers bad_request for a parameter not in known (NULL-terminated). true if all known. */
bool params_known(struct srv_ctx *x, const char *const *known);
/*
 * The comma-separated pieces of a parameter's value, as views into it (free
 * the array with folio_free): trimmed of spaces when trim, empty ones left
 * out when drop_empty.
 */
struct folio_str *param_pieces(const struct srv_param *p, bool trim, bool drop_empty,
                               size_t *count);
/* Frees count strings and the array (NULL is fine). */
void str_list_free(char **list, size_t count);
/* Parses a u32 ("could not parse `x` as a positive integer" otherwise). */
bool parse_u32(const char *s, size_t len, uint32_t *out);
bool parse_u64(const char *s, size_t len, uint64_t *out);
bool parse_bool(const char *s, size_t len, bool *out);
/* Answers the Meilisearch error for an invalid query parameter value. */
/*
 * 400 invalid_index_primary_key for a primaryKey given as "" (where: "at
 * `.primaryKey`" or "in parameter `primaryKey`"): the scheduler takes an
 * empty key for none, and dropping it quietly would change the request.
 */
void resp_empty_primary_key(struct srv_req *r, const char *where);
void resp_param_error(struct srv_ctx *x, const char *code, const char *param, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
/* Percent-decodes (plus as space when form is true) into a new NUL-terminated string. */
char *url_decode(const char *s, size_t len, bool form, size_t *out_len);
/* "a positive integer: `1`" and so on, as Meilisearch's JSON errors describe a value. */
char *json_value_description(const json_t *v);
/* Parses a JSON body: 0, or -1 with missing_payload / malformed_payload answered. */
int body_json(struct srv_ctx *x, json_t **out);
/* body_json, then an object (array: an array) or bad_request; -1 once answered. */
int body_json_typed(struct srv_ctx *x, bool array, json_t **out);
/* "Invalid value type at `.uid`: expected a string, but found ..." (location "" at the top). */
void resp_value_type(struct srv_ctx *x, const char *code, const char *location,
                     const char *expected, const json_t *v);
/* Answers bad_request for a key of obj not in known (NULL-terminated); true if all known. */
bool json_fields_known(struct srv_ctx *x, const json_t *obj, const char *const *known,
                       const char *inside);
/* Answers an index_not_found / invalid_index_uid for the {uid} argument; true if valid. */
bool check_index_uid(struct srv_ctx *x, const char *uid, size_t len);
void resp_index_not_found(struct srv_ctx *x, const char *uid, size_t len);
/* RFC 3339 or YYYY-MM-DD; after: a bare date means the next midnight. */
bool parse_task_date(const char *s, size_t len, bool after, int64_t *out_ns);

/* ---- task filters (taskq.c) ----------------------------------------------- */

enum taskq_mode {
    TASKQ_TASKS,       /* GET /tasks */
    TASKQ_BATCHES,     /* GET /batches */
    TASKQ_FILTER_ONLY, /* POST /tasks/cancel, DELETE /tasks */
};

struct taskq {
    struct folio_sched_query q;
    uint32_t *uids, *batch_uids, *canceled_by;
    struct folio_str *index_uids;
    bool any_filter;
};
int taskq_parse(struct srv_ctx *x, enum taskq_mode mode, struct taskq *out);
void taskq_free(struct taskq *t);

/* ---- registration (register.c) ------------------------------------------- */

/* Registers req; the response (ok_status with the summarized task, or the error) follows. */
void srv_register(struct srv_ctx *x, const struct folio_sched_request *req, int ok_status);
void reg_async_cb(struct ev_loop *loop, ev_async *w, int revents);
/* Answers every registration already handed back (after folio_sched_close too). */
void reg_drain(struct folio_server *srv);

/* ---- read workers (pool.c) ------------------------------------------------------
 *
 * Reads that may take a while (searches, GET of documents, snapshot listings)
 * run on a pool of threads, so the loop never waits for them. A job is handed
 * over on the loop thread, run on a worker, and handed back through an
 * ev_async, as a registration is: until
 * then its request is `awaiting` and counts in its connection's regs, so the
 * connection stays allocated (and dispatches nothing after it) until the job
 * is answered. One job per connection at most: the queue is bounded by
 * connections_max. */

struct srv_job {
    struct srv_job *next;
    struct srv_req *req;
    void (*run)(struct srv_job *job);  /* a worker thread: touches nothing of the loop's */
    void (*done)(struct srv_job *job); /* the loop thread: answers job->req and frees job */
};
int pool_start(struct folio_server *srv); /* 0, or FOLIO_E_IO (no thread could start) */
void pool_stop(struct folio_server *srv); /* after the loop: every job was answered */
void srv_job_submit(struct srv_ctx *x, struct srv_job *job);

/* ---- streamed responses (h_journal.c) ----------------------------------------
 *
 * A request with a stream stays at the head of its connection's queue while
 * its response grows: conn_write() calls stream_produce() before each write
 * (it appends a bounded slice while less than SRV_STREAM_BUFFER_MAX bytes
 * wait), stream_idle() once everything so far is written (the next slice is
 * scheduled), stream_blocked() when the socket is full (nothing is read until
 * it drains). The request leaves the queue once stream_finished() and all is
 * written. */

void stream_produce(struct srv_req *r);
void stream_idle(struct srv_req *r);
void stream_blocked(struct srv_req *r);
bool stream_finished(const struct srv_req *r);
void stream_free(struct srv_req *r);

/* ---- handlers --------------------------------------------------------------- */

void h_health(struct srv_ctx *x);
void h_version(struct srv_ctx *x);
void h_tasks_list(struct srv_ctx *x);
void h_task_get(struct srv_ctx *x);
void h_tasks_cancel(struct srv_ctx *x);
void h_tasks_delete(struct srv_ctx *x);
void h_batches_list(struct srv_ctx *x);
void h_batch_get(struct srv_ctx *x);
void h_indexes_list(struct srv_ctx *x);
void h_index_get(struct srv_ctx *x);
void h_index_create(struct srv_ctx *x);
void h_index_update(struct srv_ctx *x);
void h_index_delete(struct srv_ctx *x);
void h_swap_indexes(struct srv_ctx *x);
void h_documents_get(struct srv_ctx *x);
void h_document_get(struct srv_ctx *x);
void h_documents_add(struct srv_ctx *x);
void h_document_delete(struct srv_ctx *x);
void h_documents_delete_batch(struct srv_ctx *x);
void h_documents_delete_filter(struct srv_ctx *x);
void h_documents_fetch(struct srv_ctx *x);
void h_documents_clear(struct srv_ctx *x);
void h_settings_get(struct srv_ctx *x);
void h_settings_update(struct srv_ctx *x);
void h_settings_reset(struct srv_ctx *x);
void h_setting_get(struct srv_ctx *x);
void h_setting_update(struct srv_ctx *x);
void h_setting_reset(struct srv_ctx *x);
void h_stats(struct srv_ctx *x);
void h_journal(struct srv_ctx *x);
void h_index_stats(struct srv_ctx *x);
void h_search_post(struct srv_ctx *x);
void h_search_get(struct srv_ctx *x);
void h_multi_search(struct srv_ctx *x);
/* h_snapshots.c */
void h_index_snapshot_create(struct srv_ctx *x);
void h_index_snapshots_list(struct srv_ctx *x);
void h_snapshot_create(struct srv_ctx *x);
void h_snapshot_import(struct srv_ctx *x);
void h_snapshots_list(struct srv_ctx *x);

#endif
