/*
 * foliod's HTTP front (DESIGN §9): a libev loop on the calling thread,
 * http-parser for requests, jansson for JSON, Meilisearch's routes, bodies,
 * status codes and error objects.
 *
 * A server is made in two steps so that a taken port fails fast, before a
 * data directory is opened: folio_server_new() parses the address and binds
 * the listening socket; folio_server_run() serves a running scheduler
 * (folio/sched_run.h) until SIGINT or SIGTERM, then stops accepting, finishes
 * the requests in flight (registrations included) and returns 0. The caller
 * closes the scheduler afterwards.
 *
 * Guarantees. An enqueuing route answers 202 only once the scheduler reported
 * its task_registered event durable (folio_sched_register_async's callback,
 * which runs on the journal writer thread and hands the result to the loop
 * through an ev_async); the loop itself never waits for an fsync, nor for a
 * search, which runs on a pool of read workers and comes back the same way. Responses
 * on one connection go out in request order (keep-alive and pipelining).
 * Every request is bounded: header bytes (431), body bytes (413, nothing more
 * is read), connections (503 past connections_max), and time (a request
 * whose headers or body stall past the request timeout gets 408; an idle
 * keep-alive connection is closed after the keep-alive timeout).
 *
 * docs/api.md lists the routes and their errors.
 */
#ifndef FOLIO_SERVER_H
#define FOLIO_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct folio_sched;
struct folio_server;

enum folio_log_level {
    FOLIO_LOG_ERROR = 0,
    FOLIO_LOG_WARN = 1,
    FOLIO_LOG_INFO = 2,
    FOLIO_LOG_DEBUG = 3,
};

#define FOLIO_SERVER_ADDR_DEFAULT "127.0.0.1:7700"
#define FOLIO_SERVER_PAYLOAD_DEFAULT 100000000ull /* "100 MB", as Meilisearch */
#define FOLIO_SERVER_HEADER_BYTES_DEFAULT (16u << 10)
#define FOLIO_SERVER_TIMEOUT_MS_DEFAULT 30000u
#define FOLIO_SERVER_CONNECTIONS_DEFAULT 1024u
#define FOLIO_SERVER_CONNECTIONS_MAX (1u << 20)
#define FOLIO_SERVER_SEARCH_THREADS_MAX 256u

struct folio_server_opts {
    const char *http_addr;          /* "host:port", "[v6]:port"; port 0 picks one; NULL: default */
    const char *master_key;         /* NULL or "": no authentication */
    uint64_t payload_bytes_max;     /* request body; 0: FOLIO_SERVER_PAYLOAD_DEFAULT */
    uint32_t header_bytes_max;      /* request line + headers; 0: 16 KiB */
    uint32_t keep_alive_timeout_ms; /* idle connection; 0: 30 s */
    uint32_t request_timeout_ms;    /* headers complete / body progress / write progress; 0: 30 s */
    uint32_t connections_max;       /* connections served at once; 0: 1024; past them a
                                       client is answered 503 too_many_connections */
    uint32_t search_threads;        /* read workers (searches); 0: online CPUs; at most 256 */
    const char *snapshot_dir;       /* listed by GET /snapshots; borrowed, outlives the server;
                                       NULL: the listings are empty */
};

/*
 * Parses opts->http_addr, binds and listens (non-blocking). On error returns
 * FOLIO_E_INVALID (bad address or option) or FOLIO_E_IO (bind/listen failed)
 * and writes a sentence into why. *out is owned by the caller.
 */
int folio_server_new(const struct folio_server_opts *opts, struct folio_server **out, char *why,
                     size_t why_len);

/* The bound address as "host:port" (the real port when port 0 was asked). Borrowed. */
const char *folio_server_address(const struct folio_server *srv);

/*
 * Serves sched until SIGINT or SIGTERM (a second signal stops waiting for slow
 * clients), then returns 0 with every connection closed and every
 * registration it started answered. The signals are watched only while it
 * runs. sched must stay open until it returns.
 */
int folio_server_run(struct folio_server *srv, struct folio_sched *sched);

/* Closes the listening socket and frees. Accepts NULL. */
void folio_server_free(struct folio_server *srv);

/* ---- structured logs (stderr, one line each, logfmt) -------------------- */

void folio_log_set_level(enum folio_log_level level);
enum folio_log_level folio_log_get_level(void);
/* Parses "error", "warn", "info", "debug". 0 or FOLIO_E_INVALID. */
int folio_log_level_parse(const char *name, enum folio_log_level *out);
/* ts=... level=... msg="<msg>" <fields>; fields is "key=value ..." text (may be NULL). */
void folio_log(enum folio_log_level level, const char *msg, const char *fields_fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
