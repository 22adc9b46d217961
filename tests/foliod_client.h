/*
 * A real foliod for tests (FOLIO_FOLIOD_PATH) and a tiny HTTP/1.1 client to
 * talk to it, shared by the snapshot tests (test_server_snapshot.c,
 * test_snapshot_e2e.c). A server listens on 127.0.0.1 port 0; its bound port
 * is read from the "listening on" line it prints. fd_stop() ends it with
 * SIGTERM and checks it exits 0, killing it by pid if it does not.
 */
#ifndef FOLIO_TEST_FOLIOD_CLIENT_H
#define FOLIO_TEST_FOLIOD_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fd_server {
    pid_t pid;
    int port;
    char *db_path;            /* owned */
    char *snapshot_dir;       /* owned */
    char *log_path;           /* owned */
    const char *key;          /* sent as Authorization: Bearer when not NULL */
};

struct fd_resp {
    int status;
    char *head;               /* status line and headers */
    char *body;
    size_t body_len;
    json_t *json;             /* the body parsed, or NULL */
};

int64_t fd_now_ms(void);
void fd_sleep_ms(int ms);

/*
 * Starts foliod on db_path and snapshot_dir (copied) with --log-level debug
 * plus extra (NULL-terminated, may be NULL); the log goes to log_path.
 */
void fd_start(struct fd_server *s, const char *db_path, const char *snapshot_dir,
              const char *log_path, const char *const *extra);
/* SIGTERM, then waits; 0 if it exited 0 (the log tail is printed otherwise). Frees paths. */
int fd_stop(struct fd_server *s);

/* One request on a fresh connection; body may be NULL. ctype NULL: no Content-Type. */
void fd_req(struct fd_server *s, const char *method, const char *path, const char *ctype,
            const char *body, size_t body_len, struct fd_resp *r);
/* fd_req with a NUL-terminated JSON body (or NULL) and Content-Type application/json. */
void fd_json(struct fd_server *s, const char *method, const char *path, const char *body,
             struct fd_resp *r);
void fd_resp_free(struct fd_resp *r);
/* A response header's value into out, or NULL. */
const char *fd_header(const struct fd_resp *r, const char *name, char *out, size_t out_len);

const char *fd_jstr(const json_t *o, const char *key);
long long fd_jint(const json_t *o, const char *key);
/* Meilisearch's error object with this status, code and type "invalid_request" (or `type`). */
void fd_expect_error(const struct fd_resp *r, int status, const char *code, const char *type);
/* A 202 summarized task of this type and index uid (NULL: null); returns taskUid. */
long long fd_expect_task(const struct fd_resp *r, const char *type, const char *index_uid);
/* GET path expecting 200 JSON; caller frees r. */
void fd_get(struct fd_server *s, const char *path, struct fd_resp *r);
/* Polls GET /tasks/{uid} until finished (timeout_ms); returns the task object (caller decrefs). */
json_t *fd_wait_task(struct fd_server *s, long long uid, int timeout_ms);
/* fd_wait_task and asserts "succeeded" (prints the task otherwise). */
json_t *fd_wait_succeeded(struct fd_server *s, long long uid, int timeout_ms);
/* Sends a request expected to enqueue (202) and waits for success; returns the task. */
json_t *fd_run(struct fd_server *s, const char *method, const char *path, const char *body,
               const char *type, const char *index_uid, int timeout_ms);

#endif
