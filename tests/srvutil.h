/*
 * A minimal foliod fixture for tests that start a real server: start it on
 * 127.0.0.1 port 0 (the port is read from the "listening on" line it prints),
 * stop it with SIGTERM or SIGKILL by pid, and talk raw HTTP/1.1 to it. Shared
 * by the server stress tests and the snapshot tests (test_server_snapshot.c,
 * test_snapshot_e2e.c).
 *
 * Two kinds of functions. The su_* ones that return int never assert: they
 * report failure (-1) so a worker thread, or a test that expects the server to
 * go away under it, can use them. Those that return void assert through
 * cmocka and belong to the test's main thread only.
 */
#ifndef FOLIO_SRVUTIL_H
#define FOLIO_SRVUTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SU_IO_TIMEOUT_MS 30000

struct su_server {
    pid_t pid;
    int port;
    char *dir;                /* su_start's directory (db/, snapshots/, foliod.log), or NULL */
    char *db_path;            /* owned */
    char *snapshot_dir;       /* owned */
    char *log_path;           /* owned */
    long nofile_soft;         /* when > 0: RLIMIT_NOFILE soft limit foliod starts with */
    const char *key;          /* when not NULL: su_req sends Authorization: Bearer key */
    int io_timeout_ms;        /* su_req's wait for a response; 0: SU_IO_TIMEOUT_MS */
};

struct su_conn {
    int fd;
    char *buf;
    size_t len, cap;
};

struct su_resp {
    int status;
    char *head;               /* status line and headers */
    char *body;
    size_t body_len;
    json_t *json;             /* the body parsed, or NULL */
    bool close;               /* the response said Connection: close */
};

int64_t su_now_ms(void);
void su_sleep_ms(int ms);

/*
 * Starts foliod on db_path and snapshot_dir (copied) plus extra (NULL-terminated,
 * may be NULL); its stderr is appended to log_path (copied).
 */
void su_start_at(struct su_server *s, const char *db_path, const char *snapshot_dir,
                 const char *log_path, const char *const *extra);
/* su_start_at on dir/db, dir/snapshots, dir/foliod.log (dir made if NULL; a restart reuses it). */
void su_start(struct su_server *s, const char *const *extra);
/* Waits for the child to exit; its wait status, or -1 after timeout_ms. */
int su_wait_exit(struct su_server *s, int timeout_ms);
/* kill -9 and reap. */
void su_kill9(struct su_server *s);
/* SIGTERM; 0 when it exits 0 in time (else it is killed and its log tail printed). */
int su_stop(struct su_server *s);
/* Stops a running server, removes su_start's directory (unless FOLIO_TEST_KEEP), frees paths. */
int su_cleanup(struct su_server *s);
void su_print_log_tail(const struct su_server *s);

/*
 * The fixture of a test that runs one foliod in a scratch directory: setup
 * (su_fixture_setup(state, "prefix") in the test's setup) makes dir,
 * su_fixture_teardown stops the server and removes dir (kept, and named on
 * stderr, when FOLIO_TEST_KEEP is set).
 */
struct su_fixture {
    char *dir;
    struct su_server srv;
};
int su_fixture_setup(void **state, const char *prefix);
/*
 * Starts foliod on f->dir's db/ and snapshots/ (log foliod.log) at
 * --log-level debug, with extra arguments after it (NULL-terminated).
 */
void su_fixture_start(struct su_fixture *f, const char *const *extra, int io_timeout_ms);
int su_fixture_teardown(void **state);

/* Connects (blocking connect, then the socket is used with poll). 0 or -1. */
int su_open(struct su_conn *c, int port);
void su_close(struct su_conn *c);
int su_send(struct su_conn *c, const void *data, size_t len);
int su_sendf(struct su_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads one Content-Length framed response: 0, or -1 (closed, reset, timeout, garbage). */
int su_read(struct su_conn *c, struct su_resp *r, int timeout_ms);
/* True once the peer closed the connection without sending anything more. */
bool su_closed(struct su_conn *c, int timeout_ms);
void su_resp_free(struct su_resp *r);
const char *su_header(const struct su_resp *r, const char *name, char *out, size_t out_len);

/* One request on a fresh connection (asserts it gets a response). ctype NULL: none sent. */
void su_req(const struct su_server *s, const char *method, const char *path, const char *ctype,
            const char *body, struct su_resp *r);
/* su_req with a JSON body (Content-Type application/json), or none when body is NULL. */
void su_json(const struct su_server *s, const char *method, const char *path, const char *body,
             struct su_resp *r);
/* GET path, expecting 200 and JSON. */
void su_get_ok(const struct su_server *s, const char *path, struct su_resp *r);
const char *su_jstr(const json_t *o, const char *key);
long long su_jint(const json_t *o, const char *key);
/* A Meilisearch error object with this status and code. */
void su_expect_error(const struct su_resp *r, int status, const char *code);
/* su_expect_error, and the error's type is `type`. */
void su_expect_error_type(const struct su_resp *r, int status, const char *code, const char *type);
/* A summarized task (202) of this index uid (NULL: null); returns its taskUid. */
long long su_expect_enqueued(const struct su_resp *r, const char *type, const char *index_uid);
/* su_json expecting a summarized task (202) of this type and index uid; returns its taskUid. */
long long su_enqueue(const struct su_server *s, const char *method, const char *path,
                     const char *body, const char *type, const char *index_uid);
/* Polls GET /tasks/{uid} until finished; returns the task (caller json_decref). */
json_t *su_wait_task(const struct su_server *s, long long uid, int timeout_ms);
/* su_wait_task, asserting the task "succeeded" (it is printed otherwise). */
json_t *su_wait_succeeded(const struct su_server *s, long long uid, int timeout_ms);
/* su_json expecting a summarized task (202), then su_wait_succeeded; returns the task. */
json_t *su_run(const struct su_server *s, const char *method, const char *path, const char *body,
               const char *type, const char *index_uid, int timeout_ms);
/* Waits until no task is enqueued or processing. */
void su_wait_idle(const struct su_server *s, int timeout_ms);

#endif
