/*
 * foliod over a real socket (FOLIO_FOLIOD_PATH): each test starts its own
 * server on 127.0.0.1 port 0 with a fresh data directory, reads the bound
 * port from the "listening on" line it prints, and talks raw HTTP/1.1 to it
 * through the small client below (no HTTP library, so framing is what the
 * test says it is). The teardown always kills the child by pid.
 *
 * What is checked: status codes and JSON bodies of every route of the slice,
 * Meilisearch's error objects ({message, code, type, link}) for each error the
 * routes can give, keep-alive, pipelining (responses in order, and requests
 * taking effect in order), the body limit (413, nothing more read), the
 * header limit (431), slow clients (408 and idle close under short
 * timeouts), the master key (401/403), a clean exit 0 on SIGTERM with a
 * request in flight, /stats, GET /journal (NDJSON over chunked
 * encoding, following, the end of a stream, back-pressure), and search (POST
 * and GET, filters, errors, searches in flight at SIGTERM).
 *
 * Expected values come from the requests the test makes (task uids count up
 * from 0 in a fresh directory; documents are the ones it sent), not from the
 * server's own output.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "folio/common.h"
#include "testutil.h"

#define IO_TIMEOUT_MS 20000

/* ---- the server under test ------------------------------------------------------------ */

struct fixture {
    pid_t pid;
    int port;
    char *dir;
    char *log_path;
    const char *key;          /* Authorization sent by req() when not NULL */
};

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/*
 * Starts foliod with the standard options plus extra (NULL-terminated) and
 * waits for its port. A second start reuses the fixture's directory.
 */
static void
start(struct fixture *f, const char *const *extra)
{
    if (f->dir == NULL)
        f->dir = tu_mkdtemp("server");
    folio_free(f->log_path);
    char *db = tu_path(f->dir, "db");
    char *snaps = tu_path(f->dir, "snapshots");
    f->log_path = tu_path(f->dir, "foliod.log");
    const char *argv[32] = {FOLIO_FOLIOD_PATH, "--db-path", db, "--http-addr", "127.0.0.1:0",
                            "--snapshot-dir", snaps, "--log-level", "debug"};
    size_t argc = 9;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && argc < 31; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    int out[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    fflush(NULL);
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        int log = open(f->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(out[1], STDOUT_FILENO);
        if (log >= 0)
            dup2(log, STDERR_FILENO);
        execv(FOLIO_FOLIOD_PATH, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    char line[512];
    size_t len = 0;
    int64_t deadline = now_ms() + 60000;
    f->port = 0;
    while (f->port == 0 && now_ms() < deadline) {
        struct pollfd p = {out[0], POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = read(out[0], line + len, sizeof(line) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        line[len] = '\0';
        const char *at = strstr(line, "listening on http://127.0.0.1:");
        if (at != NULL && strchr(at, '\n') != NULL)
            f->port = atoi(at + strlen("listening on http://127.0.0.1:"));
    }
    close(out[0]);
    folio_free(db);
    folio_free(snaps);
    if (f->port == 0)
        fprintf(stderr, "foliod did not start; see %s\n", f->log_path);
    assert_true(f->port > 0);
}

/* Waits for the child to exit; returns its wait status, or -1 after timeout_ms. */
static int
wait_exit(struct fixture *f, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    int status;
    while (now_ms() < deadline) {
        pid_t r = waitpid(f->pid, &status, WNOHANG);
        if (r == f->pid) {
            f->pid = 0;
            return status;
        }
        sleep_ms(10);
    }
    return -1;
}

static int
setup(void **state)
{
    *state = folio_calloc(1, sizeof(struct fixture));
    return 0;
}

/* Prints the end of the server's log (when a shutdown went wrong). */
static void
print_log_tail(const struct fixture *f)
{
    size_t len = 0;
    uint8_t *log = f->log_path ? tu_read_file(f->log_path, &len) : NULL;
    if (log == NULL)
        return;
    size_t from = len > 6000 ? len - 6000 : 0;
    fprintf(stderr, "--- end of %s\n%.*s---\n", f->log_path, (int)(len - from),
            (const char *)log + from);
    folio_free(log);
}

/*
 * Stops the server the way an operator would (SIGTERM) and checks it exits 0:
 * under the sanitizers that also means no leak and no error on the way out.
 * A server that does not stop is killed by pid; the teardown then fails.
 */
static int
teardown(void **state)
{
    struct fixture *f = *state;
    int rc = 0;
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        int status = wait_exit(f, 30000);
        if (status == -1) {
            fprintf(stderr, "foliod did not stop on SIGTERM: killed\n");
            kill(f->pid, SIGKILL);
            waitpid(f->pid, NULL, 0);
            f->pid = 0;
            rc = -1;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "foliod ended with wait status %#x after SIGTERM\n", status);
            rc = -1;
        }
        if (rc != 0)
            print_log_tail(f);
    }
    if (f->dir != NULL && getenv("FOLIO_TEST_KEEP") == NULL)
        tu_rmrf(f->dir);
    else if (f->dir != NULL)
        fprintf(stderr, "kept %s\n", f->dir);
    folio_free(f->dir);
    folio_free(f->log_path);
    folio_free(f);
    return rc;
}

/* ---- a tiny HTTP/1.1 client ------------------------------------------------------------- */

struct tconn {
    int fd;
    char *buf;
    size_t len, cap;
};

struct resp {
    int status;
    char *head;               /* status line and headers */
    char *body;
    size_t body_len;
    json_t *json;             /* the body parsed, or NULL */
};

static void
tc_open(struct fixture *f, struct tconn *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
}

static void
tc_close(struct tconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    folio_free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

static void
tc_send(struct tconn *c, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static void
tc_sendf(struct tconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    tc_send(c, s, (size_t)n);
    free(s);
}

/* Reads more bytes into the buffer: >0 read, 0 EOF, -1 timeout or error. */
static int
tc_fill(struct tconn *c, int timeout_ms)
{
    struct pollfd p = {c->fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0)
        return -1;
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? c->cap * 2 + 65536 : 131072;
        c->buf = folio_realloc(c->buf, c->cap);
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
    if (n < 0)
        return -1;
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return n > 0 ? 1 : 0;
}

static const char *
header_get(const struct resp *r, const char *name, char *out, size_t out_len)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p != NULL && p[2] != '\0';
         p = strstr(p + 2, "\r\n")) {
        const char *h = p + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            const char *v = h + nl + 1;
            while (*v == ' ')
                v++;
            const char *end = strstr(v, "\r\n");
            snprintf(out, out_len, "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
            return out;
        }
    }
    return NULL;
}

static void
resp_free(struct resp *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* Reads one response (Content-Length framed). */
static void
tc_read(struct tconn *c, struct resp *r)
{
    memset(r, 0, sizeof(*r));
    int64_t deadline = now_ms() + IO_TIMEOUT_MS;
    char *end;
    while ((end = c->len ? strstr(c->buf, "\r\n\r\n") : NULL) == NULL) {
        int rc = tc_fill(c, (int)(deadline - now_ms()));
        if (rc <= 0)
            fail_msg("connection ended before a response head (%d, %s): %.*s", rc,
                     strerror(errno), (int)c->len, c->buf ? c->buf : "");
    }
    size_t head_len = (size_t)(end - c->buf) + 2;
    r->head = strndup(c->buf, head_len);
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    char v[64];
    size_t body_len = header_get(r, "Content-Length", v, sizeof(v)) ? strtoul(v, NULL, 10) : 0;
    size_t total = head_len + 2 + body_len;
    while (c->len < total) {
        int rc = tc_fill(c, (int)(deadline - now_ms()));
        if (rc <= 0)
            fail_msg("connection ended inside a response body");
    }
    r->body = strndup(c->buf + head_len + 2, body_len);
    r->body_len = body_len;
    r->json = json_loadb(r->body, body_len, JSON_DECODE_ANY, NULL);
    memmove(c->buf, c->buf + total, c->len - total);
    c->len -= total;
    if (c->buf)
        c->buf[c->len] = '\0';
}

/* True once the server closed the connection (and sent nothing more). */
static bool
tc_closed(struct tconn *c, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        size_t before = c->len;
        int rc = tc_fill(c, (int)(deadline - now_ms()));
        if (rc == 0)
            return c->len == before;
        if (rc < 0 && errno == ECONNRESET)
            return true;
    }
    return false;
}

/*
 * Waits until foliod has read everything sent on c: the server's end of the
 * connection (in /proc/net/tcp: local port f->port, remote port c's) exists
 * with an empty receive queue. foliod reads and parses in one callback of its
 * event loop, so what it read is parsed before it handles a signal.
 */
static void
tc_wait_server_read(struct fixture *f, struct tconn *c)
{
    struct sockaddr_in me;
    socklen_t me_len = sizeof(me);
    assert_int_equal(getsockname(c->fd, (struct sockaddr *)&me, &me_len), 0);
    unsigned mine = ntohs(me.sin_port);
    int64_t deadline = now_ms() + 30000;
    for (;;) {
        FILE *fp = fopen("/proc/net/tcp", "r");
        assert_non_null(fp);
        char line[512];
        bool read_all = false;
        while (!read_all && fgets(line, sizeof(line), fp) != NULL) {
            unsigned lport, rport, st, txq, rxq;
            if (sscanf(line, " %*u: %*x:%x %*x:%x %x %x:%x", &lport, &rport, &st, &txq, &rxq) == 5)
                read_all = lport == (unsigned)f->port && rport == mine && rxq == 0;
        }
        fclose(fp);
        if (read_all)
            return;
        if (now_ms() > deadline)
            fail_msg("foliod did not read what was sent on port %u in 30 s", mine);
        sleep_ms(5);
    }
}

/* One request on a fresh connection. ctype NULL: no Content-Type. */
static void
req(struct fixture *f, const char *method, const char *path, const char *ctype, const char *body,
    struct resp *r)
{
    struct tconn c;
    tc_open(f, &c);
    char extra[512] = "";
    size_t n = 0;
    if (ctype != NULL)
        n += (size_t)snprintf(extra + n, sizeof(extra) - n, "Content-Type: %s\r\n", ctype);
    if (f->key != NULL)
        n += (size_t)snprintf(extra + n, sizeof(extra) - n, "Authorization: Bearer %s\r\n", f->key);
    size_t blen = body ? strlen(body) : 0;
    tc_sendf(&c, "%s %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %zu\r\n\r\n", method, path, extra,
             blen);
    if (blen > 0)
        tc_send(&c, body, blen);
    tc_read(&c, r);
    tc_close(&c);
}

/* ---- JSON expectations --------------------------------------------------------------------- */

static const char *
jstr(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("`%s` is not a string in %s", key, json_dumps(o, JSON_COMPACT));
    return json_string_value(v);
}

static long long
jint(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("`%s` is not an integer in %s", key, json_dumps(o, JSON_COMPACT));
    return json_integer_value(v);
}

static void
expect_error_type(struct resp *r, int status, const char *code, const char *type)
{
    if (r->status != status || r->json == NULL)
        fail_msg("expected %d %s, got %d: %s", status, code, r->status, r->body);
    assert_int_equal(json_object_size(r->json), 4);
    assert_string_equal(jstr(r->json, "code"), code);
    assert_string_equal(jstr(r->json, "type"), type);
    char link[160];
    snprintf(link, sizeof(link), "https://docs.meilisearch.com/errors#%s", code);
    assert_string_equal(jstr(r->json, "link"), link);
    assert_true(strlen(jstr(r->json, "message")) > 0);
}

static void
expect_error(struct resp *r, int status, const char *code)
{
    expect_error_type(r, status, code, "invalid_request");
}

/* The request gets this error; the response is freed. */
static void
req_error(struct fixture *f, const char *method, const char *path, const char *ctype,
          const char *body, int status, const char *code)
{
    struct resp r;
    req(f, method, path, ctype, body, &r);
    expect_error(&r, status, code);
    resp_free(&r);
}

/* The request gets this error with exactly this message (Meilisearch's wording). */
static void
req_message(struct fixture *f, const char *method, const char *path, const char *ctype,
            const char *body, int status, const char *code, const char *message)
{
    struct resp r;
    req(f, method, path, ctype, body, &r);
    bool auth = status == 401 || status == 403;
    expect_error_type(&r, status, code, auth ? "auth" : "invalid_request");
    assert_string_equal(jstr(r.json, "message"), message);
    resp_free(&r);
}

/* A summarized task ({taskUid, indexUid, status, type, enqueuedAt}); returns taskUid. */
static long long
expect_summarized(struct resp *r, int status, const char *type, const char *index_uid)
{
    if (r->status != status || r->json == NULL)
        fail_msg("expected %d %s, got %d: %s", status, type, r->status, r->body);
    assert_int_equal(json_object_size(r->json), 5);
    assert_string_equal(jstr(r->json, "status"), "enqueued");
    assert_string_equal(jstr(r->json, "type"), type);
    json_t *iu = json_object_get(r->json, "indexUid");
    if (index_uid == NULL)
        assert_true(json_is_null(iu));
    else
        assert_string_equal(json_string_value(iu), index_uid);
    const char *at = jstr(r->json, "enqueuedAt");
    assert_true(strlen(at) >= 20 && at[strlen(at) - 1] == 'Z');
    return jint(r->json, "taskUid");
}

/* Registers and returns the task uid (expects 202 unless status says otherwise). */
static long long
enqueue(struct fixture *f, const char *method, const char *path, const char *ctype,
        const char *body, const char *type, const char *index_uid)
{
    struct resp r;
    req(f, method, path, ctype, body, &r);
    long long uid = expect_summarized(&r, 202, type, index_uid);
    resp_free(&r);
    return uid;
}

/*
 * Polls GET /tasks/{uid} until it is finished; returns its final status (caller frees).
 * foliod processes tasks at --background-nice 10: next to another test at nice 0
 * on a 2-core CI machine its lanes get about a tenth of a CPU (the 10,001-document
 * addition of test_stats took 4.3 s next to a parallel test and two CPU hogs).
 * Hence a deadline far past what a passing run needs.
 */
static char *
wait_task(struct fixture *f, long long uid)
{
    char path[64];
    snprintf(path, sizeof(path), "/tasks/%lld", uid);
    int64_t deadline = now_ms() + 120000;
    while (now_ms() < deadline) {
        struct resp r;
        req(f, "GET", path, NULL, NULL, &r);
        if (r.status != 200)
            fail_msg("GET %s: %d %s", path, r.status, r.body);
        const char *st = jstr(r.json, "status");
        if (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
            strcmp(st, "canceled") == 0) {
            char *out = strdup(st);
            resp_free(&r);
            return out;
        }
        resp_free(&r);
        sleep_ms(5);
    }
    fail_msg("task %lld did not finish", uid);
    return NULL;
}

static void
wait_succeeded(struct fixture *f, long long uid)
{
    char *st = wait_task(f, uid);
    if (strcmp(st, "succeeded") != 0) {
        struct resp r;
        char path[64];
        snprintf(path, sizeof(path), "/tasks/%lld", uid);
        req(f, "GET", path, NULL, NULL, &r);
        fail_msg("task %lld %s: %s", uid, st, r.body);
    }
    free(st);
}

/* GET path, expecting 200 JSON; caller frees the response. */
static void
get_ok(struct fixture *f, const char *path, struct resp *r)
{
    req(f, "GET", path, NULL, NULL, r);
    if (r->status != 200 || r->json == NULL)
        fail_msg("GET %s: %d %s", path, r->status, r->body);
}

/* ---- /health, /version, routing ------------------------------------------------------------- */

static void
test_health_version_routes(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    struct resp r;
    get_ok(f, "/health", &r);
    assert_int_equal(json_object_size(r.json), 1);
    assert_string_equal(jstr(r.json, "status"), "available");
    char v[64];
    assert_non_null(header_get(&r, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "application/json");
    resp_free(&r);

    get_ok(f, "/version", &r);
    assert_int_equal(json_object_size(r.json), 3);
    assert_true(strlen(jstr(r.json, "commitSha")) > 0);
    assert_true(strlen(jstr(r.json, "commitDate")) > 0);
    assert_string_equal(jstr(r.json, "pkgVersion"), FOLIO_TEST_VERSION);
    resp_free(&r);

    /* NormalizePath: trailing and doubled slashes do not matter. */
    get_ok(f, "//health/", &r);
    resp_free(&r);

    req_error(f, "GET", "/nothing/here", NULL, NULL, 404, "not_found");
    req(f, "PUT", "/health", NULL, NULL, &r);
    expect_error(&r, 405, "method_not_allowed");
    assert_non_null(header_get(&r, "Allow", v, sizeof(v)));
    assert_string_equal(v, "GET");
    resp_free(&r);
}

/* ---- indexes --------------------------------------------------------------------------- */

static void
test_indexes(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    long long t0 = enqueue(f, "POST", "/indexes", "application/json",
                           "{\"uid\":\"movies\",\"primaryKey\":\"id\"}", "indexCreation", "movies");
    assert_int_equal(t0, 0);
    /* A JSON Content-Type with parameters is fine (test_json_content_type has the rest). */
    long long t1 = enqueue(f, "POST", "/indexes", "application/json; charset=utf-8",
                           "{\"uid\":\"books\"}", "indexCreation", "books");
    long long t2 = enqueue(f, "POST", "/indexes", "application/json", "{\"uid\":\"comics\"}",
                           "indexCreation", "comics");
    assert_int_equal(t1, 1);
    assert_int_equal(t2, 2);
    wait_succeeded(f, t2);
    wait_succeeded(f, t0);
    wait_succeeded(f, t1);

    struct resp r;
    get_ok(f, "/indexes/movies", &r);
    assert_int_equal(json_object_size(r.json), 4);
    assert_string_equal(jstr(r.json, "uid"), "movies");
    assert_string_equal(jstr(r.json, "primaryKey"), "id");
    assert_true(strlen(jstr(r.json, "createdAt")) > 0);
    assert_true(strlen(jstr(r.json, "updatedAt")) > 0);
    resp_free(&r);
    get_ok(f, "/indexes/books", &r);
    assert_true(json_is_null(json_object_get(r.json, "primaryKey")));
    resp_free(&r);

    /* The list is sorted by uid: books, comics, movies. */
    get_ok(f, "/indexes", &r);
    assert_int_equal(json_object_size(r.json), 4);
    assert_int_equal(jint(r.json, "total"), 3);
    assert_int_equal(jint(r.json, "offset"), 0);
    assert_int_equal(jint(r.json, "limit"), 20);
    assert_int_equal(json_array_size(json_object_get(r.json, "results")), 3);
    resp_free(&r);
    get_ok(f, "/indexes?offset=1&limit=1", &r);
    assert_int_equal(jint(r.json, "total"), 3);
    json_t *res = json_object_get(r.json, "results");
    assert_int_equal(json_array_size(res), 1);
    assert_string_equal(jstr(json_array_get(res, 0), "uid"), "comics");
    resp_free(&r);
    get_ok(f, "/indexes?offset=5", &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "results")), 0);
    resp_free(&r);
    req_error(f, "GET", "/indexes?limit=x", NULL, NULL, 400, "invalid_index_limit");
    req_error(f, "GET", "/indexes?offset=-1", NULL, NULL, 400, "invalid_index_offset");
    req_error(f, "GET", "/indexes?from=1", NULL, NULL, 400, "bad_request");

    /* Errors of GET and POST /indexes. */
    req_message(f, "GET", "/indexes/nope", NULL, NULL, 404, "index_not_found",
                "Index `nope` not found.");
    req_message(f, "POST", "/indexes", "application/json", "{\"primaryKey\":\"id\"}", 400,
                "missing_index_uid", "Missing field `uid`");
    req_message(f, "POST", "/indexes", "application/json", "{\"uid\":12}", 400,
                "invalid_index_uid",
                "Invalid value type at `.uid`: expected a string, but found a positive integer: "
                "`12`");
    req_message(f, "POST", "/indexes", "application/json", "{\"uid\":\"x\",\"other\":1}", 400,
                "bad_request", "Unknown field `other`: expected one of `uid`, `primaryKey`");
    req_error(f, "GET", "/indexes/bad%20uid", NULL, NULL, 400, "invalid_index_uid");
    req_error(f, "POST", "/indexes", "application/json", "{\"primaryKey\":\"id\"}", 400,
              "missing_index_uid");
    req_error(f, "POST", "/indexes", "application/json", "{\"uid\":\"a b\"}", 400,
              "invalid_index_uid");
    req_error(f, "POST", "/indexes", "application/json", "{\"uid\":12}", 400, "invalid_index_uid");
    req_error(f, "POST", "/indexes", "application/json", "{\"uid\":\"x\",\"primaryKey\":3}", 400,
              "invalid_index_primary_key");
    req_error(f, "POST", "/indexes", "application/json", "{\"uid\":\"x\",\"other\":1}", 400,
              "bad_request");
    req_error(f, "POST", "/indexes", "application/json", "[1]", 400, "bad_request");
    req_error(f, "POST", "/indexes", "application/json", "{\"uid\":", 400, "malformed_payload");
    req_error(f, "POST", "/indexes", "application/json", "", 400, "missing_payload");

    /* PATCH: primary key, then rename; DELETE. */
    long long t3 = enqueue(f, "PATCH", "/indexes/books", "application/json",
                           "{\"primaryKey\":\"isbn\"}", "indexUpdate", "books");
    wait_succeeded(f, t3);
    get_ok(f, "/indexes/books", &r);
    assert_string_equal(jstr(r.json, "primaryKey"), "isbn");
    resp_free(&r);
    long long t4 = enqueue(f, "PATCH", "/indexes/books", "application/json",
                           "{\"uid\":\"novels\"}", "indexUpdate", "books");
    wait_succeeded(f, t4);
    req_error(f, "GET", "/indexes/books", NULL, NULL, 404, "index_not_found");
    get_ok(f, "/indexes/novels", &r);
    resp_free(&r);
    req_error(f, "PATCH", "/indexes/novels", "application/json", "{\"uid\":5}", 400,
              "invalid_index_uid");
    req_error(f, "PATCH", "/indexes/novels", "application/json", "{\"name\":\"x\"}", 400,
              "bad_request");
}

/* DELETE /indexes/{uid}: the index and its documents are gone. */
static void
test_index_deletion(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    long long t = enqueue(f, "POST", "/indexes/gone/documents", "application/json",
                          "[{\"id\":1},{\"id\":2},{\"id\":3}]", "documentAdditionOrUpdate",
                          "gone");
    wait_succeeded(f, t);
    req_error(f, "DELETE", "/indexes/a%20b", NULL, NULL, 400, "invalid_index_uid");
    struct resp r;
    req(f, "DELETE", "/indexes/gone", NULL, NULL, &r);
    t = expect_summarized(&r, 202, "indexDeletion", "gone");
    resp_free(&r);
    wait_succeeded(f, t);
    char path[64];
    snprintf(path, sizeof(path), "/tasks/%lld", t);
    get_ok(f, path, &r);
    assert_int_equal(jint(json_object_get(r.json, "details"), "deletedDocuments"), 3);
    resp_free(&r);
    req_error(f, "GET", "/indexes/gone", NULL, NULL, 404, "index_not_found");
    req_error(f, "GET", "/indexes/gone/documents", NULL, NULL, 404, "index_not_found");
    req_error(f, "DELETE", "/indexes/never", NULL, NULL, 404, "index_not_found");
    /* The uid can be used again, and the new index starts empty. */
    t = enqueue(f, "POST", "/indexes", "application/json", "{\"uid\":\"gone\"}",
                "indexCreation", "gone");
    wait_succeeded(f, t);
    get_ok(f, "/indexes/gone/documents", &r);
    assert_int_equal(jint(r.json, "total"), 0);
    resp_free(&r);
}

static void
test_swap_indexes(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    enqueue(f, "POST", "/indexes", "application/json", "{\"uid\":\"a\",\"primaryKey\":\"ka\"}",
            "indexCreation", "a");
    long long t = enqueue(f, "POST", "/indexes", "application/json",
                          "{\"uid\":\"b\",\"primaryKey\":\"kb\"}", "indexCreation", "b");
    wait_succeeded(f, t);
    long long s = enqueue(f, "POST", "/swap-indexes", "application/json",
                          "[{\"indexes\":[\"a\",\"b\"]}]", "indexSwap", NULL);
    wait_succeeded(f, s);
    struct resp r;
    get_ok(f, "/indexes/a", &r);
    assert_string_equal(jstr(r.json, "primaryKey"), "kb");
    resp_free(&r);

    const char *ct = "application/json";
    req_error(f, "POST", "/swap-indexes", ct, "{\"indexes\":[\"a\",\"b\"]}", 400, "bad_request");
    req_error(f, "POST", "/swap-indexes", ct, "[{\"rename\":false}]", 400, "missing_swap_indexes");
    req_error(f, "POST", "/swap-indexes", ct, "[{\"indexes\":[\"a\"]}]", 400,
              "invalid_swap_indexes");
    req_error(f, "POST", "/swap-indexes", ct, "[{\"indexes\":\"a\"}]", 400, "invalid_swap_indexes");
    req_error(f, "POST", "/swap-indexes", ct, "[{\"indexes\":[\"a\",\"b c\"]}]", 400,
              "invalid_index_uid");
    req_error(f, "POST", "/swap-indexes", ct, "[{\"indexes\":[\"a\",\"b\"],\"rename\":1}]", 400,
              "invalid_swap_rename");
    req_error(f, "POST", "/swap-indexes", ct, "[{\"indexes\":[\"a\",\"b\"],\"x\":1}]", 400,
              "bad_request");
    req_error(f, "POST", "/swap-indexes", ct,
              "[{\"indexes\":[\"a\",\"b\"]},{\"indexes\":[\"b\",\"c\"]}]", 400,
              "invalid_swap_duplicate_index_found");
}

/* ---- documents and settings ------------------------------------------------------------------ */

static void
test_documents(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    const char *json = "application/json";
    /* Content types first, then the payload. */
    req_error(f, "POST", "/indexes/docs/documents", NULL, "[{\"id\":1}]", 415,
              "missing_content_type");
    req_error(f, "POST", "/indexes/docs/documents", "text/plain", "[{\"id\":1}]", 415,
              "invalid_content_type");
    req_error(f, "PUT", "/indexes/docs/documents", "application/xml", "<a/>", 415,
              "invalid_content_type");
    req_error(f, "POST", "/indexes/docs/documents", json, "", 400, "missing_payload");
    req_error(f, "POST", "/indexes/docs/documents", json, "[{\"id\":1},", 400,
              "malformed_payload");
    req_error(f, "POST", "/indexes/docs/documents?csvDelimiter=;", json, "[{\"id\":1}]", 415,
              "invalid_content_type");
    req_error(f, "POST", "/indexes/docs/documents?csvDelimiter=ab", "text/csv", "id\n1\n", 400,
              "invalid_document_csv_delimiter");
    req_error(f, "POST", "/indexes/docs/documents?skip=1", json, "[{\"id\":1}]", 400,
              "bad_request");
    req_error(f, "POST", "/indexes/a%20b/documents", json, "[{\"id\":1}]", 400,
              "invalid_index_uid");

    req_message(f, "POST", "/indexes/docs/documents", NULL, "[]", 415, "missing_content_type",
                "A Content-Type header is missing. Accepted values for the Content-Type header "
                "are: `application/json`, `application/x-ndjson`, `text/csv`");
    req_message(f, "POST", "/indexes/docs/documents", "text/plain", "[]", 415,
                "invalid_content_type",
                "The Content-Type `text/plain` is invalid. Accepted values for the Content-Type "
                "header are: `application/json`, `application/x-ndjson`, `text/csv`");
    req_message(f, "POST", "/indexes/docs/documents", "application/x-ndjson", "", 400,
                "missing_payload", "A ndjson payload is missing.");

    /* JSON (charset parameter allowed), NDJSON and CSV create and fill the index. */
    enqueue(f, "POST", "/indexes/docs/documents?primaryKey=id", "application/json; charset=utf-8",
            "[{\"id\":1,\"title\":\"Alien\",\"year\":1979},{\"id\":2,\"title\":\"Brazil\"}]",
            "documentAdditionOrUpdate", "docs");
    enqueue(f, "POST", "/indexes/docs/documents", "application/x-ndjson",
            "{\"id\":3,\"title\":\"Clue\"}\n{\"id\":\"four\",\"title\":\"Dune\"}\n",
            "documentAdditionOrUpdate", "docs");
    long long t = enqueue(f, "POST", "/indexes/docs/documents?csvDelimiter=%3B", "text/csv",
                          "id;title\n5;Eraserhead\n", "documentAdditionOrUpdate", "docs");
    wait_succeeded(f, t);

    struct resp r;
    get_ok(f, "/indexes/docs/documents", &r);
    assert_int_equal(json_object_size(r.json), 4);
    assert_int_equal(jint(r.json, "total"), 5);
    assert_int_equal(jint(r.json, "offset"), 0);
    assert_int_equal(jint(r.json, "limit"), 20);
    json_t *res = json_object_get(r.json, "results");
    assert_int_equal(json_array_size(res), 5);
    assert_string_equal(jstr(json_array_get(res, 0), "title"), "Alien");
    resp_free(&r);
    get_ok(f, "/indexes/docs/documents?offset=1&limit=2&fields=title", &r);
    res = json_object_get(r.json, "results");
    assert_int_equal(json_array_size(res), 2);
    assert_int_equal(json_object_size(json_array_get(res, 0)), 1);
    assert_string_equal(jstr(json_array_get(res, 0), "title"), "Brazil");
    assert_int_equal(jint(r.json, "total"), 5);
    resp_free(&r);
    get_ok(f, "/indexes/docs/documents/four", &r);
    assert_string_equal(jstr(r.json, "title"), "Dune");
    resp_free(&r);
    get_ok(f, "/indexes/docs/documents/1?fields=year", &r);
    assert_int_equal(json_object_size(r.json), 1);
    assert_int_equal(jint(r.json, "year"), 1979);
    resp_free(&r);
    req_error(f, "GET", "/indexes/docs/documents/99", NULL, NULL, 404, "document_not_found");
    req_error(f, "GET", "/indexes/none/documents", NULL, NULL, 404, "index_not_found");
    req_error(f, "GET", "/indexes/none/documents/1", NULL, NULL, 404, "index_not_found");
    req_error(f, "GET", "/indexes/docs/documents?limit=x", NULL, NULL, 400,
              "invalid_document_limit");
    req_error(f, "GET", "/indexes/docs/documents?offset=y", NULL, NULL, 400,
              "invalid_document_offset");
    req_error(f, "GET", "/indexes/docs/documents?sortBy=1", NULL, NULL, 400, "bad_request");

    /* PUT merges fields; POST replaces. */
    enqueue(f, "PUT", "/indexes/docs/documents", json, "[{\"id\":1,\"rating\":5}]",
            "documentAdditionOrUpdate", "docs");
    t = enqueue(f, "POST", "/indexes/docs/documents", json, "[{\"id\":2,\"rating\":3}]",
                "documentAdditionOrUpdate", "docs");
    wait_succeeded(f, t);
    get_ok(f, "/indexes/docs/documents/1", &r);
    assert_string_equal(jstr(r.json, "title"), "Alien");
    assert_int_equal(jint(r.json, "rating"), 5);
    resp_free(&r);
    get_ok(f, "/indexes/docs/documents/2", &r);
    assert_null(json_object_get(r.json, "title"));
    resp_free(&r);

    /* Deletions: one, a batch (strings and integers), all. */
    enqueue(f, "DELETE", "/indexes/docs/documents/four", NULL, NULL, "documentDeletion", "docs");
    t = enqueue(f, "POST", "/indexes/docs/documents/delete-batch", json, "[1,\"3\"]",
                "documentDeletion", "docs");
    wait_succeeded(f, t);
    get_ok(f, "/indexes/docs/documents", &r);
    assert_int_equal(jint(r.json, "total"), 2);
    resp_free(&r);
    req_error(f, "POST", "/indexes/docs/documents/delete-batch", json, "{\"ids\":[1]}", 400,
              "bad_request");
    req_error(f, "POST", "/indexes/docs/documents/delete-batch", json, "[true]", 400,
              "invalid_document_id");
    req_error(f, "DELETE", "/indexes/docs/documents/bad%20id", NULL, NULL, 400,
              "invalid_document_id");
    req_error(f, "DELETE", "/indexes/none/documents/1", NULL, NULL, 404, "index_not_found");
}

/* DELETE /indexes/{uid}/documents: every document goes, the index stays. */
static void
test_documents_clear(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    long long t = enqueue(f, "POST", "/indexes/c/documents", "application/json",
                          "[{\"id\":1},{\"id\":2}]", "documentAdditionOrUpdate", "c");
    wait_succeeded(f, t);
    req_error(f, "DELETE", "/indexes/a%20b/documents", NULL, NULL, 400, "invalid_index_uid");
    struct resp r;
    req(f, "DELETE", "/indexes/c/documents", NULL, NULL, &r);
    t = expect_summarized(&r, 202, "documentDeletion", "c");
    resp_free(&r);
    wait_succeeded(f, t);
    char path[64];
    snprintf(path, sizeof(path), "/tasks/%lld", t);
    get_ok(f, path, &r);
    json_t *d = json_object_get(r.json, "details");
    assert_int_equal(jint(d, "deletedDocuments"), 2);
    resp_free(&r);
    get_ok(f, "/indexes/c/documents", &r);
    assert_int_equal(jint(r.json, "total"), 0);
    resp_free(&r);
    get_ok(f, "/indexes/c", &r); /* the index and its primary key stay */
    assert_string_equal(jstr(r.json, "primaryKey"), "id");
    resp_free(&r);
    /* Documents can be added again after a clear. */
    t = enqueue(f, "POST", "/indexes/c/documents", "application/json", "[{\"id\":3}]",
                "documentAdditionOrUpdate", "c");
    wait_succeeded(f, t);
    get_ok(f, "/indexes/c/documents", &r);
    assert_int_equal(jint(r.json, "total"), 1);
    resp_free(&r);
    req_error(f, "DELETE", "/indexes/none/documents", NULL, NULL, 404, "index_not_found");
}

static void
test_settings(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    long long t = enqueue(f, "POST", "/indexes", "application/json", "{\"uid\":\"s\"}",
                          "indexCreation", "s");
    wait_succeeded(f, t);
    struct resp r;
    get_ok(f, "/indexes/s/settings", &r);
    json_t *fa = json_object_get(r.json, "filterableAttributes");
    assert_true(json_is_array(fa) && json_array_size(fa) == 0);
    resp_free(&r);
    t = enqueue(f, "PATCH", "/indexes/s/settings", "application/json",
                "{\"filterableAttributes\":[\"genre\"],\"stopWords\":[\"the\"]}", "settingsUpdate",
                "s");
    wait_succeeded(f, t);
    get_ok(f, "/indexes/s/settings", &r);
    fa = json_object_get(r.json, "filterableAttributes");
    assert_int_equal(json_array_size(fa), 1);
    assert_string_equal(json_string_value(json_array_get(fa, 0)), "genre");
    resp_free(&r);
    req_error(f, "PATCH", "/indexes/s/settings", "application/json", "{\"nope\":1}", 400,
              "bad_request");
    req_error(f, "PATCH", "/indexes/s/settings", "application/json", "[]", 400, "bad_request");
    req_error(f, "GET", "/indexes/none/settings", NULL, NULL, 404, "index_not_found");
    t = enqueue(f, "DELETE", "/indexes/s/settings", NULL, NULL, "settingsUpdate", "s");
    wait_succeeded(f, t);
    get_ok(f, "/indexes/s/settings", &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "filterableAttributes")), 0);
    resp_free(&r);

    /* One setting at its own path: GET the value, PUT a new one, DELETE to reset. */
    t = enqueue(f, "PUT", "/indexes/s/settings/sortable-attributes", "application/json",
                "[\"year\",\"title\"]", "settingsUpdate", "s");
    wait_succeeded(f, t);
    get_ok(f, "/indexes/s/settings/sortable-attributes", &r);
    assert_string_equal(r.body, "[\"title\",\"year\"]"); /* a set, sorted */
    resp_free(&r);
    get_ok(f, "/indexes/s/settings", &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "sortableAttributes")), 2);
    resp_free(&r);
    t = enqueue(f, "PUT", "/indexes/s/settings/distinct-attribute", "application/json",
                "\"title\"", "settingsUpdate", "s");
    wait_succeeded(f, t);
    get_ok(f, "/indexes/s/settings/distinct-attribute", &r);
    assert_string_equal(r.body, "\"title\"");
    resp_free(&r);
    t = enqueue(f, "DELETE", "/indexes/s/settings/distinct-attribute", NULL, NULL,
                "settingsUpdate", "s");
    wait_succeeded(f, t);
    get_ok(f, "/indexes/s/settings/distinct-attribute", &r);
    assert_string_equal(r.body, "null");
    resp_free(&r);
    get_ok(f, "/indexes/s/settings/ranking-rules", &r);
    assert_int_equal(json_array_size(r.json), 6);
    resp_free(&r);
    t = enqueue(f, "DELETE", "/indexes/s/settings/sortable-attributes", NULL, NULL,
                "settingsUpdate", "s");
    wait_succeeded(f, t);
    get_ok(f, "/indexes/s/settings/sortable-attributes", &r);
    assert_string_equal(r.body, "[]");
    resp_free(&r);
    req_error(f, "PUT", "/indexes/s/settings/stop-words", "application/json", "\"the\"", 400,
              "invalid_settings_stop_words");
    req_error(f, "PATCH", "/indexes/s/settings", "application/json",
              "{\"displayedAttributes\":[1]}", 400, "invalid_settings_displayed_attributes");
    req_error(f, "PATCH", "/indexes/s/settings", "application/json",
              "{\"rankingRules\":[\"nope\"]}", 400, "invalid_settings_ranking_rules");
    req_error(f, "PATCH", "/indexes/s/settings", "application/json",
              "{\"synonyms\":{\"a\":\"b\"}}", 400, "invalid_settings_synonyms");
    req_error(f, "PATCH", "/indexes/s/settings", "application/json",
              "{\"distinctAttribute\":1}", 400, "invalid_settings_distinct_attribute");
    req_error(f, "PATCH", "/indexes/s/settings", "application/json", "[]", 400, "bad_request");
    req_error(f, "GET", "/indexes/s/settings/typo-tolerance", NULL, NULL, 404, "not_found");
    req_error(f, "PUT", "/indexes/s/settings/nope", "application/json", "[]", 404, "not_found");
    req_error(f, "GET", "/indexes/none/settings/stop-words", NULL, NULL, 404, "index_not_found");
    req_error(f, "PUT", "/indexes/s/settings/stop-words", "application/json", "[", 400,
              "malformed_payload");
}

/* ---- tasks and batches ----------------------------------------------------------------------- */

static void
expect_uids(struct fixture *f, const char *path, const long long *uids, size_t count)
{
    struct resp r;
    get_ok(f, path, &r);
    json_t *res = json_object_get(r.json, "results");
    if (json_array_size(res) != count)
        fail_msg("GET %s: %zu results, expected %zu: %s", path, json_array_size(res), count,
                 r.body);
    for (size_t i = 0; i < count; i++)
        assert_int_equal(jint(json_array_get(res, i), "uid"), uids[i]);
    resp_free(&r);
}

/*
 * GET /stats and GET /indexes/{uid}/stats: Meilisearch's shapes, the counts
 * of the documents sent, and an exact fieldDistribution also past 10 000
 * documents (kept by the index store).
 */
static void
test_stats(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    struct resp r;
    get_ok(f, "/stats", &r);
    assert_true(jint(r.json, "databaseSize") > 0);
    assert_true(jint(r.json, "usedDatabaseSize") > 0);
    assert_true(json_is_null(json_object_get(r.json, "lastUpdate")));
    assert_int_equal(json_object_size(json_object_get(r.json, "indexes")), 0);
    resp_free(&r);

    long long t = enqueue(f, "POST", "/indexes/movies/documents", "application/json",
                          "[{\"id\":1,\"title\":\"A\",\"genre\":\"drama\"},"
                          "{\"id\":2,\"title\":\"B\"},{\"id\":3,\"year\":1999}]",
                          "documentAdditionOrUpdate", "movies");
    wait_succeeded(f, t);
    t = enqueue(f, "POST", "/indexes", "application/json", "{\"uid\":\"empty\"}",
                "indexCreation", "empty");
    wait_succeeded(f, t);

    get_ok(f, "/indexes/movies/stats", &r);
    assert_int_equal(json_object_size(r.json), 9);
    assert_int_equal(jint(r.json, "numberOfDocuments"), 3);
    assert_true(jint(r.json, "indexSize") > 0);
    assert_true(jint(r.json, "usedIndexSize") > 0);
    assert_true(jint(r.json, "usedIndexSize") <= jint(r.json, "indexSize"));
    long long raw = jint(r.json, "rawDocumentDbSize");
    assert_true(raw > 0);
    assert_int_equal(jint(r.json, "avgDocumentSize"), raw / 3);
    assert_true(json_is_false(json_object_get(r.json, "isIndexing")));
    assert_int_equal(jint(r.json, "numberOfEmbeddings"), 0);
    assert_int_equal(jint(r.json, "numberOfEmbeddedDocuments"), 0);
    char *fd = json_dumps(json_object_get(r.json, "fieldDistribution"), JSON_COMPACT);
    assert_string_equal(fd, "{\"genre\":1,\"id\":3,\"title\":2,\"year\":1}");
    free(fd);
    resp_free(&r);

    get_ok(f, "/indexes/empty/stats", &r);
    assert_int_equal(jint(r.json, "numberOfDocuments"), 0);
    assert_int_equal(jint(r.json, "avgDocumentSize"), 0);
    assert_int_equal(json_object_size(json_object_get(r.json, "fieldDistribution")), 0);
    resp_free(&r);

    get_ok(f, "/stats", &r);
    json_t *ix = json_object_get(r.json, "indexes");
    assert_int_equal(json_object_size(ix), 2);
    assert_int_equal(jint(json_object_get(ix, "movies"), "numberOfDocuments"), 3);
    assert_int_equal(jint(json_object_get(ix, "empty"), "numberOfDocuments"), 0);
    const char *last = jstr(r.json, "lastUpdate");
    assert_true(strlen(last) >= 20 && last[strlen(last) - 1] == 'Z');
    resp_free(&r);
    /* lastUpdate is the latest updatedAt of the indexes. */
    get_ok(f, "/indexes/empty", &r);
    char empty_updated[64];
    snprintf(empty_updated, sizeof(empty_updated), "%s", jstr(r.json, "updatedAt"));
    resp_free(&r);
    get_ok(f, "/stats", &r);
    assert_string_equal(jstr(r.json, "lastUpdate"), empty_updated);
    resp_free(&r);

    req_error(f, "GET", "/indexes/none/stats", NULL, NULL, 404, "index_not_found");
    req_error(f, "GET", "/indexes/a%20b/stats", NULL, NULL, 400, "invalid_index_uid");

    /*
     * Past 10 000 documents the distribution is still exact (folio used to
     * answer {} there). Every document has `id`, the even ones `t` (5001 of
     * 0..10000), the multiples of 3 `n` (3334), whose nested `x` is not a
     * top-level field.
     */
    size_t cap = 40 * 10002 + 16, len = 0;
    char *big = folio_malloc(cap);
    big[len++] = '[';
    for (int i = 0; i < 10001; i++)
        len += (size_t)snprintf(big + len, cap - len, "%s{\"id\":%d%s%s}", i ? "," : "", i,
                                i % 2 == 0 ? ",\"t\":1" : "", i % 3 == 0 ? ",\"n\":{\"x\":1}" : "");
    big[len++] = ']';
    big[len] = '\0';
    t = enqueue(f, "POST", "/indexes/big/documents", "application/json", big,
                "documentAdditionOrUpdate", "big");
    folio_free(big);
    wait_succeeded(f, t);
    get_ok(f, "/indexes/big/stats", &r);
    assert_int_equal(jint(r.json, "numberOfDocuments"), 10001);
    fd = json_dumps(json_object_get(r.json, "fieldDistribution"), JSON_COMPACT);
    assert_string_equal(fd, "{\"id\":10001,\"n\":3334,\"t\":5001}");
    free(fd);
    resp_free(&r);
    /* Deleting 0, 1 and 2 takes `id` thrice, `t` twice (0, 2), `n` once (0). */
    t = enqueue(f, "POST", "/indexes/big/documents/delete-batch", "application/json", "[0,1,2]",
                "documentDeletion", "big");
    wait_succeeded(f, t);
    get_ok(f, "/stats", &r);
    fd = json_dumps(json_object_get(json_object_get(json_object_get(r.json, "indexes"), "big"),
                                    "fieldDistribution"),
                    JSON_COMPACT);
    assert_string_equal(fd, "{\"id\":9998,\"n\":3333,\"t\":4999}");
    free(fd);
    resp_free(&r);
}

/* ---- GET /journal ---------------------------------------------------------------------- */

/*
 * Reads a streamed response: the head, then chunks until the last one
 * (chunked) or until the server closes (HTTP/1.0). Returns the body
 * (NUL-terminated, caller frees) and whether the stream ended cleanly (the
 * last chunk came). The connection buffer keeps what follows the response.
 */
static char *
tc_read_stream(struct tconn *c, struct resp *r, size_t *out_len, bool *clean, int timeout_ms)
{
    memset(r, 0, sizeof(*r));
    int64_t deadline = now_ms() + timeout_ms;
    char *end;
    while ((end = c->len ? strstr(c->buf, "\r\n\r\n") : NULL) == NULL)
        if (tc_fill(c, (int)(deadline - now_ms())) <= 0)
            fail_msg("connection ended before a stream head");
    size_t head_len = (size_t)(end - c->buf) + 2;
    r->head = strndup(c->buf, head_len);
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    size_t pos = head_len + 2;
    bool chunked = strcasestr(r->head, "Transfer-Encoding: chunked") != NULL;
    char *body = NULL;
    size_t blen = 0;
    FILE *m = open_memstream(&body, &blen);
    *clean = false;
    for (;;) {
        if (!chunked) {
            if (c->len > pos) {
                fwrite(c->buf + pos, 1, c->len - pos, m);
                pos = c->len;
            }
            if (tc_fill(c, (int)(deadline - now_ms())) <= 0) {
                *clean = true; /* unframed: the close is the end */
                break;
            }
            continue;
        }
        char *crlf = c->len > pos ? strstr(c->buf + pos, "\r\n") : NULL;
        if (crlf != NULL) {
            size_t size = strtoul(c->buf + pos, NULL, 16);
            size_t data = (size_t)(crlf - c->buf) + 2;
            if (c->len >= data + size + 2) {
                assert_memory_equal(c->buf + data + size, "\r\n", 2);
                fwrite(c->buf + data, 1, size, m);
                pos = data + size + 2;
                if (size == 0) {
                    *clean = true;
                    break;
                }
                continue;
            }
        }
        if (tc_fill(c, (int)(deadline - now_ms())) <= 0)
            break; /* cut: not clean */
    }
    fclose(m);
    memmove(c->buf, c->buf + pos, c->len - pos);
    c->len -= pos;
    if (c->buf)
        c->buf[c->len] = '\0';
    *out_len = blen;
    return body;
}

/* Checks NDJSON lines are events with consecutive seqs from `from`; returns the count. */
static long long
check_events(const char *body, long long from)
{
    long long n = 0;
    for (const char *p = body; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        if (nl == NULL)
            fail_msg("a line without its newline: %.200s", p);
        json_error_t e;
        json_t *ev = json_loadb(p, (size_t)(nl - p), 0, &e);
        if (ev == NULL)
            fail_msg("not JSON (%s): %.200s", e.text, p);
        assert_int_equal(jint(ev, "seq"), from + n);
        assert_true(strlen(jstr(ev, "type")) > 0);
        assert_true(json_is_integer(json_object_get(ev, "at")));
        json_decref(ev);
        n++;
        p = nl + 1;
    }
    return n;
}

/* GET /journal path on a fresh connection, read to the end. */
static char *
journal_get(struct fixture *f, const char *path, size_t *len)
{
    struct tconn c;
    struct resp r;
    bool clean;
    tc_open(f, &c);
    tc_sendf(&c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    char *body = tc_read_stream(&c, &r, len, &clean, IO_TIMEOUT_MS);
    assert_int_equal(r.status, 200);
    assert_non_null(strcasestr(r.head, "Content-Type: application/x-ndjson"));
    assert_non_null(strcasestr(r.head, "Transfer-Encoding: chunked"));
    assert_null(strcasestr(r.head, "Content-Length"));
    assert_true(clean);
    resp_free(&r);
    tc_close(&c);
    return body;
}

/*
 * GET /journal without follow: every event from `from` to the current end
 * as NDJSON, seqs consecutive, then the stream ends; errors for bad
 * parameters; a request pipelined behind a stream is answered after it;
 * HTTP/1.0 gets the lines unframed and a close.
 */
static void
test_journal(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    long long t = enqueue(f, "POST", "/indexes/j/documents", "application/json",
                          "[{\"id\":1},{\"id\":2}]", "documentAdditionOrUpdate", "j");
    wait_succeeded(f, t);
    size_t len;
    char *body = journal_get(f, "/journal", &len);
    long long all = check_events(body, 1);
    assert_true(all >= 5); /* server_started, task_registered, batch_started, ..., task_succeeded */
    assert_non_null(strstr(body, "\"type\":\"server_started\""));
    assert_non_null(strstr(body, "\"type\":\"task_registered\""));
    assert_non_null(strstr(body, "\"type\":\"task_succeeded\""));
    free(body);

    body = journal_get(f, "/journal?from=3&follow=false", &len);
    assert_int_equal(check_events(body, 3), all - 2);
    free(body);
    char path[64];
    snprintf(path, sizeof(path), "/journal?from=%lld", all + 100);
    body = journal_get(f, path, &len);
    assert_int_equal(len, 0);
    free(body);

    req_message(f, "GET", "/journal?from=0", NULL, NULL, 400, "invalid_journal_from",
                "Invalid value in parameter `from`: could not parse `0` as a sequence number: a "
                "positive integer, the seq of the first event to send (seqs start at 1)");
    req_error(f, "GET", "/journal?from=x1", NULL, NULL, 400, "invalid_journal_from");
    req_error(f, "GET", "/journal?from=-1", NULL, NULL, 400, "invalid_journal_from");
    req_error(f, "GET", "/journal?from=99999999999999999999999", NULL, NULL, 400,
              "invalid_journal_from");
    req_error(f, "GET", "/journal?follow=yes", NULL, NULL, 400, "invalid_journal_follow");
    req_error(f, "GET", "/journal?since=1", NULL, NULL, 400, "bad_request");
    req_error(f, "POST", "/journal", NULL, NULL, 405, "method_not_allowed");

    /* Pipelined: the stream, then /health, answered in order on the connection. */
    struct tconn c;
    struct resp r;
    bool clean;
    tc_open(f, &c);
    tc_sendf(&c, "GET /journal?from=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
    body = tc_read_stream(&c, &r, &len, &clean, IO_TIMEOUT_MS);
    assert_true(clean);
    assert_true(check_events(body, 2) >= all - 1);
    free(body);
    resp_free(&r);
    tc_read(&c, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "status"), "available");
    resp_free(&r);
    tc_close(&c);

    /* HTTP/1.0: no chunked framing, the connection closes at the end. */
    tc_open(f, &c);
    tc_sendf(&c, "GET /journal?from=1 HTTP/1.0\r\n\r\n");
    body = tc_read_stream(&c, &r, &len, &clean, IO_TIMEOUT_MS);
    assert_null(strcasestr(r.head, "Transfer-Encoding"));
    assert_non_null(strcasestr(r.head, "Connection: close"));
    assert_true(check_events(body, 1) >= all);
    free(body);
    resp_free(&r);
    tc_close(&c);
}

/* Reads from c until body holds a line with needle (or fails after timeout_ms). */
static void
follow_until(struct tconn *c, const char *needle, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (c->buf == NULL || strstr(c->buf, needle) == NULL)
        if (tc_fill(c, (int)(deadline - now_ms())) <= 0)
            fail_msg("the stream did not bring `%s`: %.500s", needle, c->buf ? c->buf : "");
}

/* Polls the server log until it holds needle; returns the log (caller frees). */
static char *
log_wait(struct fixture *f, const char *needle, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        size_t len = 0;
        char *log = (char *)tu_read_file(f->log_path, &len);
        if (log != NULL) {
            log = folio_realloc(log, len + 1);
            log[len] = '\0';
            if (strstr(log, needle) != NULL)
                return log;
            folio_free(log);
        }
        if (now_ms() > deadline)
            fail_msg("the log never said `%s`", needle);
        sleep_ms(20);
    }
}

/*
 * follow=true: new events arrive on the open stream as they become durable;
 * a client that leaves ends its stream (the server logs it and goes on); on
 * SIGTERM a following stream gets its last chunk and foliod exits 0.
 */
static void
test_journal_follow(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    struct tconn c;
    tc_open(f, &c);
    tc_sendf(&c, "GET /journal?from=1&follow=true HTTP/1.1\r\nHost: t\r\n\r\n");
    follow_until(&c, "\"type\":\"server_started\"", IO_TIMEOUT_MS);
    assert_non_null(strstr(c.buf, "Transfer-Encoding: chunked"));
    assert_null(strstr(c.buf, "task_registered"));
    long long t = enqueue(f, "POST", "/indexes", "application/json", "{\"uid\":\"live\"}",
                          "indexCreation", "live");
    follow_until(&c, "\"type\":\"task_registered\"", IO_TIMEOUT_MS);
    follow_until(&c, "\"type\":\"task_succeeded\"", IO_TIMEOUT_MS);
    assert_non_null(strstr(c.buf, "\"index_uid\":\"live\""));
    wait_succeeded(f, t);
    /* The client leaves: its stream ends, the server serves on. */
    tc_close(&c);
    char *log = log_wait(f, "why=client_left", 10000);
    folio_free(log);
    struct resp r;
    get_ok(f, "/health", &r);
    resp_free(&r);

    /* SIGTERM with a following stream open: the stream ends cleanly, exit 0. */
    tc_open(f, &c);
    tc_sendf(&c, "GET /journal?follow=true HTTP/1.1\r\nHost: t\r\n\r\n");
    follow_until(&c, "\"type\":\"server_started\"", IO_TIMEOUT_MS);
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    int64_t deadline = now_ms() + IO_TIMEOUT_MS;
    while (tc_fill(&c, (int)(deadline - now_ms())) > 0)
        ;
    size_t n = strlen(c.buf);
    assert_true(n >= 5 && strcmp(c.buf + n - 5, "0\r\n\r\n") == 0);
    tc_close(&c);
    int status = wait_exit(f, 30000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * Back-pressure: a client that stops reading a long stream does not make
 * the server buffer it. Some 10 MB of events are streamed to a client with a
 * tiny receive buffer that reads nothing for a while; the server keeps
 * serving others meanwhile, the client then reads every event in order, and
 * the largest response buffer the stream held (logged at its end) stayed
 * near the server's bound (256 KiB) rather than the size of the stream.
 */
static void
test_journal_backpressure(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    /* Documents payloads under the inline bound travel in the events (hex: twice the size). */
    size_t cap = 16000, plen = 0;
    char *payload = folio_malloc(cap);
    plen += (size_t)snprintf(payload, cap, "[");
    for (int i = 0; i < 100; i++)
        plen += (size_t)snprintf(payload + plen, cap - plen,
                                 "%s{\"id\":%d,\"t\":\"%0120d\"}", i ? "," : "", i, i);
    plen += (size_t)snprintf(payload + plen, cap - plen, "]");
    assert_true(plen < 15000);
    int64_t t0 = now_ms();
    /* 16 connections at a time, so registrations share the journal's group commits. */
    enum { WRITERS = 16, ROUNDS = 20 };
    const int tasks = WRITERS * ROUNDS;
    struct tconn w[WRITERS];
    struct resp r;
    for (int k = 0; k < WRITERS; k++)
        tc_open(f, &w[k]);
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < WRITERS; k++) {
            tc_sendf(&w[k], "POST /indexes/bp/documents HTTP/1.1\r\nHost: t\r\n"
                            "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     plen);
            tc_send(&w[k], payload, plen);
        }
        for (int k = 0; k < WRITERS; k++) {
            tc_read(&w[k], &r);
            assert_int_equal(r.status, 202);
            resp_free(&r);
        }
    }
    for (int k = 0; k < WRITERS; k++)
        tc_close(&w[k]);
    folio_free(payload);

    fprintf(stderr, "registered %d tasks in %lld ms\n", tasks, (long long)(now_ms() - t0));
    struct tconn c;
    memset(&c, 0, sizeof(c));
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    assert_int_equal(setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(c.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    tc_sendf(&c, "GET /journal?from=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    /* Not reading: the server must go on serving everyone else. */
    for (int i = 0; i < 10; i++) {
        get_ok(f, "/health", &r);
        resp_free(&r);
        sleep_ms(50);
    }
    size_t len;
    bool clean;
    char *body = tc_read_stream(&c, &r, &len, &clean, 60000);
    assert_true(clean);
    resp_free(&r);
    tc_close(&c);
    long long n = check_events(body, 1);
    assert_true(n >= tasks);
    fprintf(stderr, "streamed %lld events, %zu bytes (%lld ms from the start of the test)\n", n,
            len, (long long)(now_ms() - t0));
    assert_true(len > 8u << 20);
    free(body);
    char *log = log_wait(f, "msg=\"journal stream ended\"", 10000);
    const char *at = strstr(log, "buffered_max=");
    assert_non_null(at);
    unsigned long long buffered = strtoull(at + strlen("buffered_max="), NULL, 10);
    fprintf(stderr, "largest response buffer: %llu bytes\n", buffered);
    assert_true(buffered < (512u << 10));
    folio_free(log);
}

static void
test_tasks(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    /* Tasks 0..3: creations of t0, t1, t2 and a failing one (t0 again). */
    for (int i = 0; i < 3; i++) {
        char body[64];
        snprintf(body, sizeof(body), "{\"uid\":\"t%d\"}", i);
        char uid[8];
        snprintf(uid, sizeof(uid), "t%d", i);
        enqueue(f, "POST", "/indexes", "application/json", body, "indexCreation", uid);
    }
    enqueue(f, "POST", "/indexes", "application/json", "{\"uid\":\"t0\"}", "indexCreation", "t0");
    char *st = wait_task(f, 3);
    assert_string_equal(st, "failed");
    free(st);
    wait_succeeded(f, 2);

    struct resp r;
    get_ok(f, "/tasks", &r);
    assert_int_equal(json_object_size(r.json), 5);
    assert_int_equal(jint(r.json, "total"), 4);
    assert_int_equal(jint(r.json, "limit"), 20);
    assert_int_equal(jint(r.json, "from"), 3);
    assert_true(json_is_null(json_object_get(r.json, "next")));
    json_t *t3 = json_array_get(json_object_get(r.json, "results"), 0);
    assert_string_equal(jstr(t3, "status"), "failed");
    json_t *err = json_object_get(t3, "error");
    assert_string_equal(jstr(err, "code"), "index_already_exists");
    resp_free(&r);

    get_ok(f, "/tasks?limit=2", &r);
    assert_int_equal(jint(r.json, "from"), 3);
    assert_int_equal(jint(r.json, "next"), 1);
    assert_int_equal(jint(r.json, "limit"), 2);
    resp_free(&r);
    long long a[] = {1, 0};
    expect_uids(f, "/tasks?limit=2&from=1", a, 2);
    long long b[] = {0, 1, 2, 3};
    expect_uids(f, "/tasks?reverse=true", b, 4);
    long long c[] = {3};
    expect_uids(f, "/tasks?statuses=failed", c, 1);
    long long d[] = {3, 0};
    expect_uids(f, "/tasks?indexUids=t0", d, 2);
    expect_uids(f, "/tasks?indexUids=t0&statuses=succeeded,canceled", d + 1, 1);
    expect_uids(f, "/tasks?types=indexCreation&uids=0,3,9", d, 2);
    expect_uids(f, "/tasks?types=*&statuses=*&uids=*&indexUids=*&afterEnqueuedAt=2000-01-01",
                (long long[]){3, 2, 1, 0}, 4);
    expect_uids(f, "/tasks?beforeEnqueuedAt=2000-01-01T00:00:00Z", NULL, 0);
    expect_uids(f, "/tasks?afterFinishedAt=2000-01-01T10:00:00.5%2B02:00&batchUids=0", d + 1, 1);
    expect_uids(f, "/tasks?canceledBy=0", NULL, 0);

    /* Every invalid value has its own code. */
    static const struct {
        const char *query, *code;
    } bad[] = {
        {"uids=x", "invalid_task_uids"},
        {"uids=1,-2", "invalid_task_uids"},
        {"batchUids=x", "invalid_batch_uids"},
        {"canceledBy=x", "invalid_task_canceled_by"},
        {"types=doggo", "invalid_task_types"},
        {"statuses=doggo", "invalid_task_statuses"},
        {"indexUids=a%20b", "invalid_index_uid"},
        {"limit=x", "invalid_task_limit"},
        {"from=-1", "invalid_task_from"},
        {"reverse=yes", "invalid_task_reverse"},
        {"afterEnqueuedAt=x", "invalid_task_after_enqueued_at"},
        {"beforeEnqueuedAt=2025-13-01", "invalid_task_before_enqueued_at"},
        {"afterStartedAt=x", "invalid_task_after_started_at"},
        {"beforeStartedAt=x", "invalid_task_before_started_at"},
        {"afterFinishedAt=x", "invalid_task_after_finished_at"},
        {"beforeFinishedAt=2025-01-01T25:00:00Z", "invalid_task_before_finished_at"},
        {"doggo=1", "bad_request"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(bad); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/tasks?%s", bad[i].query);
        req_error(f, "GET", path, NULL, NULL, 400, bad[i].code);
        snprintf(path, sizeof(path), "/batches?%s", bad[i].query);
        req_error(f, "GET", path, NULL, NULL, 400, bad[i].code);
    }
    req(f, "GET", "/tasks?types=doggo", NULL, NULL, &r);
    assert_string_equal(jstr(r.json, "message"),
                        "Invalid value in parameter `types`: `doggo` is not a valid task type. "
                        "Available types are `documentAdditionOrUpdate`, `documentDeletion`, "
                        "`settingsUpdate`, `indexCreation`, `indexDeletion`, `indexUpdate`, "
                        "`indexSwap`, `taskCancelation`, `taskDeletion`, `snapshotCreation`, "
                        "`singleIndexSnapshotCreation`, `singleIndexSnapshotImport`.");
    resp_free(&r);
    req(f, "GET", "/tasks?uids=1,x", NULL, NULL, &r);
    assert_string_equal(jstr(r.json, "message"),
                        "Invalid value in parameter `uids[1]`: could not parse `x` as a positive "
                        "integer");
    resp_free(&r);

    get_ok(f, "/tasks/0", &r);
    assert_int_equal(jint(r.json, "uid"), 0);
    assert_string_equal(jstr(r.json, "type"), "indexCreation");
    assert_string_equal(jstr(r.json, "indexUid"), "t0");
    resp_free(&r);
    req_message(f, "GET", "/tasks/77", NULL, NULL, 404, "task_not_found", "Task `77` not found.");
    req_message(f, "GET", "/tasks/abc", NULL, NULL, 400, "invalid_task_uids",
                "Task uid `abc` is invalid. It should only contain numeric characters.");
    req_message(f, "GET", "/tasks?limit=1&doggo=2", NULL, NULL, 400, "bad_request",
                "Unknown parameter `doggo`: expected one of `limit`, `from`, `reverse`, "
                "`batchUids`, `uids`, `canceledBy`, `types`, `statuses`, `indexUids`, "
                "`afterEnqueuedAt`, `beforeEnqueuedAt`, `afterStartedAt`, `beforeStartedAt`, "
                "`afterFinishedAt`, `beforeFinishedAt`");
    req_message(f, "GET", "/tasks?afterEnqueuedAt=doggo", NULL, NULL, 400,
                "invalid_task_after_enqueued_at",
                "Invalid value in parameter `afterEnqueuedAt`: `doggo` is an invalid date-time. "
                "It should follow the YYYY-MM-DD or RFC 3339 date-time format.");

    /* Batches: each creation ran alone. */
    get_ok(f, "/batches", &r);
    assert_int_equal(jint(r.json, "total"), 4);
    json_t *b0 = json_array_get(json_object_get(r.json, "results"), 3);
    assert_int_equal(jint(b0, "uid"), 0);
    assert_true(json_is_null(json_object_get(b0, "progress")));
    assert_int_equal(jint(json_object_get(b0, "stats"), "totalNbTasks"), 1);
    resp_free(&r);
    get_ok(f, "/batches/1", &r);
    assert_int_equal(jint(r.json, "uid"), 1);
    resp_free(&r);
    long long only1[] = {1};
    expect_uids(f, "/batches?uids=1", only1, 1);
    req_error(f, "GET", "/batches/99", NULL, NULL, 404, "batch_not_found");
    req_error(f, "GET", "/batches/x", NULL, NULL, 400, "invalid_batch_uids");
}

static void
test_cancel_delete(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    long long t0 = enqueue(f, "POST", "/indexes", "application/json", "{\"uid\":\"c\"}",
                           "indexCreation", "c");
    wait_succeeded(f, t0);

    req_message(f, "POST", "/tasks/cancel", NULL, NULL, 400, "missing_task_filters",
                "Query parameters to filter the tasks to cancel are missing. Available query "
                "parameters are: `uids`, `indexUids`, `statuses`, `types`, `canceledBy`, "
                "`beforeEnqueuedAt`, `afterEnqueuedAt`, `beforeStartedAt`, `afterStartedAt`, "
                "`beforeFinishedAt`, `afterFinishedAt`.");
    req_error(f, "DELETE", "/tasks", NULL, NULL, 400, "missing_task_filters");
    req_error(f, "POST", "/tasks/cancel?limit=1", NULL, NULL, 400, "bad_request");
    req_error(f, "DELETE", "/tasks?from=1", NULL, NULL, 400, "bad_request");
    req_error(f, "DELETE", "/tasks?uids=x", NULL, NULL, 400, "invalid_task_uids");
    req_error(f, "POST", "/tasks/cancel?statuses=nope", NULL, NULL, 400, "invalid_task_statuses");

    /* Meilisearch answers these two with 200 and the summarized task. */
    struct resp r;
    req(f, "POST", "/tasks/cancel?statuses=enqueued", NULL, NULL, &r);
    long long cancel = expect_summarized(&r, 200, "taskCancelation", NULL);
    resp_free(&r);
    assert_int_equal(cancel, 1);
    wait_succeeded(f, cancel);
    get_ok(f, "/tasks/1", &r);
    json_t *det = json_object_get(r.json, "details");
    assert_string_equal(jstr(det, "originalFilter"), "?statuses=enqueued");
    resp_free(&r);

    req(f, "DELETE", "/tasks?uids=0", NULL, NULL, &r);
    long long del = expect_summarized(&r, 200, "taskDeletion", NULL);
    resp_free(&r);
    wait_succeeded(f, del);
    req_error(f, "GET", "/tasks/0", NULL, NULL, 404, "task_not_found");
    get_ok(f, "/tasks/2", &r);
    det = json_object_get(r.json, "details");
    assert_string_equal(jstr(det, "originalFilter"), "?uids=0");
    assert_int_equal(jint(det, "deletedTasks"), 1);
    resp_free(&r);
}

/* ---- connections ----------------------------------------------------------------------------- */

static void
test_keep_alive_pipelining(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    struct tconn c;
    struct resp r;
    tc_open(f, &c);
    /* Keep-alive: three requests one after the other on one connection. */
    for (int i = 0; i < 3; i++) {
        tc_sendf(&c, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
        tc_read(&c, &r);
        assert_int_equal(r.status, 200);
        assert_null(strcasestr(r.head, "Connection: close"));
        resp_free(&r);
    }
    /* Pipelined in one write: the GET after the POST sees the task it created. */
    tc_sendf(&c, "GET /version HTTP/1.1\r\nHost: t\r\n\r\n"
                 "POST /indexes HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                 "Content-Length: 12\r\n\r\n{\"uid\":\"p1\"}"
                 "GET /tasks/0 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n"
                 "POST /indexes HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"
                 "5\r\n{\"uid\r\n7\r\n\":\"p2\"}\r\n0\r\n\r\n"
                 "GET /tasks?uids=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    tc_read(&c, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(json_object_get(r.json, "pkgVersion"));
    resp_free(&r);
    tc_read(&c, &r);
    assert_int_equal(expect_summarized(&r, 202, "indexCreation", "p1"), 0);
    resp_free(&r);
    tc_read(&c, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(jint(r.json, "uid"), 0);
    resp_free(&r);
    tc_read(&c, &r);
    expect_error(&r, 404, "not_found");
    resp_free(&r);
    tc_read(&c, &r);
    assert_int_equal(expect_summarized(&r, 202, "indexCreation", "p2"), 1);
    resp_free(&r);
    tc_read(&c, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(jint(r.json, "total"), 1);
    assert_non_null(strcasestr(r.head, "Connection: close"));
    resp_free(&r);
    assert_true(tc_closed(&c, 5000));
    tc_close(&c);

    /* Many pipelined requests (more than the server queues at once) all come back in order. */
    tc_open(f, &c);
    struct srv_buf {
        char *p;
        size_t n;
    } all = {NULL, 0};
    FILE *m = open_memstream(&all.p, &all.n);
    for (int i = 0; i < 100; i++)
        fprintf(m, "GET /tasks/%d HTTP/1.1\r\nHost: t\r\n\r\n", i % 3);
    fclose(m);
    tc_send(&c, all.p, all.n);
    free(all.p);
    for (int i = 0; i < 100; i++) {
        tc_read(&c, &r);
        if (i % 3 == 2) {
            expect_error(&r, 404, "task_not_found");
        } else {
            assert_int_equal(r.status, 200);
            assert_int_equal(jint(r.json, "uid"), i % 3);
        }
        resp_free(&r);
    }
    tc_close(&c);

    /* Expect: 100-continue gets the interim answer before the body is sent. */
    tc_open(f, &c);
    tc_sendf(&c, "POST /indexes HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                 "Content-Type: application/json\r\nContent-Length: 12\r\n\r\n");
    tc_read(&c, &r);
    assert_int_equal(r.status, 100);
    resp_free(&r);
    tc_sendf(&c, "{\"uid\":\"p3\"}");
    tc_read(&c, &r);
    assert_int_equal(expect_summarized(&r, 202, "indexCreation", "p3"), 2);
    resp_free(&r);
    tc_close(&c);

    /* HTTP/1.0 closes after one response unless it asks for keep-alive. */
    tc_open(f, &c);
    tc_sendf(&c, "GET /health HTTP/1.0\r\n\r\n");
    tc_read(&c, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_true(tc_closed(&c, 5000));
    tc_close(&c);
}

static void
test_limits(void **state)
{
    struct fixture *f = *state;
    start(f, (const char *const[]){"--http-payload-size-limit", "1kB", NULL});
    struct tconn c;
    struct resp r;

    /* Content-Length over the limit: 413 before any body byte is read, then the end. */
    tc_open(f, &c);
    tc_sendf(&c, "POST /indexes/x/documents HTTP/1.1\r\nHost: t\r\nContent-Type: "
                 "application/json\r\nContent-Length: 50000000\r\n\r\n[{\"id\":1}");
    tc_read(&c, &r);
    expect_error(&r, 413, "payload_too_large");
    assert_string_equal(jstr(r.json, "message"),
                        "The provided payload reached the size limit. The maximum accepted "
                        "payload size is 1 kB.");
    assert_non_null(strcasestr(r.head, "Connection: close"));
    resp_free(&r);
    assert_true(tc_closed(&c, 5000));
    tc_close(&c);

    /* A chunked body growing over the limit: 413 once it crosses it. */
    tc_open(f, &c);
    tc_sendf(&c, "POST /indexes/x/documents HTTP/1.1\r\nHost: t\r\nContent-Type: "
                 "application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[600];
    memset(chunk, ' ', sizeof(chunk));
    for (int i = 0; i < 2; i++) {
        tc_sendf(&c, "%zx\r\n", sizeof(chunk));
        tc_send(&c, chunk, sizeof(chunk));
        tc_sendf(&c, "\r\n");
    }
    tc_read(&c, &r);
    expect_error(&r, 413, "payload_too_large");
    resp_free(&r);
    tc_close(&c);

    /* A body right at the limit is accepted. */
    char body[1001];
    memset(body, ' ', 1000);
    memcpy(body, "[{\"id\":1}", 9);
    body[999] = ']';
    body[1000] = '\0';
    enqueue(f, "POST", "/indexes/x/documents", "application/json", body,
            "documentAdditionOrUpdate", "x");

    /* Headers over 16 KiB: 431; a URI over it: 414. */
    tc_open(f, &c);
    char *big = folio_malloc(20001);
    memset(big, 'a', 20000);
    big[20000] = '\0';
    tc_sendf(&c, "GET /health HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n", big);
    tc_read(&c, &r);
    expect_error(&r, 431, "header_too_large");
    resp_free(&r);
    tc_close(&c);
    tc_open(f, &c);
    tc_sendf(&c, "GET /health?x=%s HTTP/1.1\r\nHost: t\r\n\r\n", big);
    tc_read(&c, &r);
    expect_error(&r, 414, "uri_too_long");
    resp_free(&r);
    tc_close(&c);
    folio_free(big);

    /* Not HTTP: 400 and the end. */
    tc_open(f, &c);
    tc_sendf(&c, "HELLO\r\n\r\n");
    tc_read(&c, &r);
    expect_error(&r, 400, "bad_request");
    resp_free(&r);
    assert_true(tc_closed(&c, 5000));
    tc_close(&c);
}

static void
test_slow_clients(void **state)
{
    struct fixture *f = *state;
    start(f, (const char *const[]){"--http-request-timeout", "0.3", "--http-keep-alive-timeout",
                                   "0.5", NULL});
    struct tconn c;
    struct resp r;

    /* Headers that never end: 408 after the request timeout, then the end. */
    tc_open(f, &c);
    int64_t t0 = now_ms();
    tc_sendf(&c, "GET /health HTTP/1.1\r\nHost: t\r\n");
    tc_read(&c, &r);
    int64_t waited = now_ms() - t0;
    expect_error(&r, 408, "request_timeout");
    resp_free(&r);
    assert_true(waited >= 250 && waited < 10000);
    assert_true(tc_closed(&c, 5000));
    tc_close(&c);

    /* Trickling headers does not extend the deadline. */
    tc_open(f, &c);
    t0 = now_ms();
    tc_sendf(&c, "GET /health HTTP/1.1\r\n");
    for (int i = 0; i < 4; i++) {
        sleep_ms(100);
        tc_sendf(&c, "X-%d: y\r\n", i);
    }
    tc_read(&c, &r);
    expect_error(&r, 408, "request_timeout");
    resp_free(&r);
    assert_true(now_ms() - t0 < 10000);
    tc_close(&c);

    /* A body that stalls: 408. */
    tc_open(f, &c);
    tc_sendf(&c, "POST /indexes HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n{\"uid\"");
    tc_read(&c, &r);
    expect_error(&r, 408, "request_timeout");
    resp_free(&r);
    tc_close(&c);

    /*
     * An idle keep-alive connection is closed after the keep-alive timeout.
     * The clock starts before the request: the connection is idle from when
     * the answer was written, which a loaded machine may let the test see
     * well over 100 ms later.
     */
    tc_open(f, &c);
    t0 = now_ms();
    tc_sendf(&c, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
    tc_read(&c, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_true(tc_closed(&c, 10000));
    waited = now_ms() - t0;
    assert_true(waited >= 400);
    tc_close(&c);

    /* A connection that never sends anything is closed as idle too. */
    tc_open(f, &c);
    assert_true(tc_closed(&c, 10000));
    tc_close(&c);

    /* The server still serves afterwards. */
    struct resp h;
    get_ok(f, "/health", &h);
    resp_free(&h);
}

static void
test_auth(void **state)
{
    struct fixture *f = *state;
    start(f, (const char *const[]){"--master-key", "s3cr3t-key", NULL});
    struct resp r;
    get_ok(f, "/health", &r);
    resp_free(&r);
    req_message(f, "GET", "/tasks", NULL, NULL, 401, "missing_authorization_header",
                "The Authorization header is missing. It must use the bearer authorization "
                "method.");
    req(f, "POST", "/indexes", "application/json", "{\"uid\":\"a\"}", &r);
    expect_error_type(&r, 401, "missing_authorization_header", "auth");
    resp_free(&r);
    f->key = "wrong-key";
    req_message(f, "GET", "/version", NULL, NULL, 403, "invalid_api_key",
                "The provided API key is invalid.");
    f->key = "s3cr3t-key";
    get_ok(f, "/tasks", &r);
    resp_free(&r);
    long long t = enqueue(f, "POST", "/indexes", "application/json", "{\"uid\":\"a\"}",
                          "indexCreation", "a");
    wait_succeeded(f, t);
    f->key = NULL;

    /* Another scheme than Bearer is an invalid key. */
    struct tconn c;
    tc_open(f, &c);
    tc_sendf(&c, "GET /indexes HTTP/1.1\r\nHost: t\r\n"
                 "Authorization: Basic czNjcjN0LWtleQ==\r\n\r\n");
    tc_read(&c, &r);
    expect_error_type(&r, 403, "invalid_api_key", "auth");
    resp_free(&r);
    tc_close(&c);
}

static void
test_sigterm(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    long long t = enqueue(f, "POST", "/indexes", "application/json", "{\"uid\":\"z\"}",
                          "indexCreation", "z");
    wait_succeeded(f, t);

    /* One idle connection, one with a request half sent. */
    struct tconn idle, busy;
    struct resp r;
    tc_open(f, &idle);
    tc_open(f, &busy);
    tc_sendf(&busy, "POST /indexes HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     "Content-Length: 12\r\n\r\n{\"uid\"");
    /*
     * The request is in flight only once foliod has read its start: before
     * that, SIGTERM closes the connection as idle. A fixed 100 ms was a bet
     * on how soon a loaded machine runs foliod's loop.
     */
    tc_wait_server_read(f, &busy);
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    assert_true(tc_closed(&idle, 10000));
    /* The request in flight is finished and answered (the last one on its connection). */
    tc_sendf(&busy, ":\"zz\"}");
    tc_read(&busy, &r);
    assert_int_equal(expect_summarized(&r, 202, "indexCreation", "zz"), 1);
    assert_non_null(strcasestr(r.head, "Connection: close"));
    resp_free(&r);
    assert_true(tc_closed(&busy, 10000));
    tc_close(&idle);
    tc_close(&busy);
    int status = wait_exit(f, 30000);
    assert_true(status != -1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* The task answered 202 is durable: a new server over the same directory has it. */
    start(f, NULL);
    wait_succeeded(f, 1);
}

/* --help lists every option with its variable; bad options exit 2, a bad address 1. */
static void
test_options(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(tu_system(FOLIO_FOLIOD_PATH " --help", &out), 0);
    static const char *const names[] = {
        "--db-path", "FOLIO_DB_PATH", "--http-addr", "FOLIO_HTTP_ADDR", "--master-key",
        "FOLIO_MASTER_KEY", "--snapshot-dir", "FOLIO_SNAPSHOT_DIR", "--http-payload-size-limit",
        "FOLIO_HTTP_PAYLOAD_SIZE_LIMIT", "--log-level", "FOLIO_LOG_LEVEL",
        "--http-keep-alive-timeout", "FOLIO_HTTP_KEEP_ALIVE_TIMEOUT", "--http-request-timeout",
        "FOLIO_HTTP_REQUEST_TIMEOUT", "--search-threads", "FOLIO_SEARCH_THREADS",
        "--background-nice", "FOLIO_BACKGROUND_NICE"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(names); i++)
        if (strstr(out, names[i]) == NULL)
            fail_msg("--help does not mention %s", names[i]);
    folio_free(out);
    assert_int_equal(tu_system(FOLIO_FOLIOD_PATH " --log-level loud 2>/dev/null", NULL), 2);
    assert_int_equal(tu_system(FOLIO_FOLIOD_PATH " --no-such-option 2>/dev/null", NULL), 2);
    assert_int_equal(tu_system(FOLIO_FOLIOD_PATH " --http-payload-size-limit 12parsecs "
                               "2>/dev/null", NULL), 2);
    assert_int_equal(tu_system(FOLIO_FOLIOD_PATH " --http-request-timeout 0 2>/dev/null", NULL),
                     2);
    assert_int_equal(tu_system(FOLIO_FOLIOD_PATH " --search-threads 0 2>/dev/null", NULL), 2);
    assert_int_equal(tu_system(FOLIO_FOLIOD_PATH " --search-threads 257 2>/dev/null", NULL), 2);
    assert_int_equal(tu_system(FOLIO_FOLIOD_PATH " --search-threads 2x 2>/dev/null", NULL), 2);
    assert_int_equal(tu_system(FOLIO_FOLIOD_PATH " --background-nice 20 2>/dev/null", NULL), 2);
    assert_int_equal(tu_system(FOLIO_FOLIOD_PATH " --background-nice -1 2>/dev/null", NULL), 2);
    assert_int_equal(tu_system(FOLIO_FOLIOD_PATH " --http-addr nonsense 2>/dev/null", NULL), 1);
}

/*
 * The nice value of each thread of the running foliod, from /proc (field 19
 * of task/TID/stat, after the command name in parentheses). Counts the
 * threads at `nice` and returns the main thread's.
 */
static int
thread_nices(pid_t pid, int nice, int *at_nice)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    assert_non_null(d);
    int main_nice = INT32_MIN;
    *at_nice = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char stat_path[384], line[1024];
        snprintf(stat_path, sizeof(stat_path), "%s/%s/stat", path, e->d_name);
        FILE *fp = fopen(stat_path, "r");
        if (fp == NULL)
            continue; /* a thread that just ended */
        char *got = fgets(line, sizeof(line), fp);
        fclose(fp);
        assert_non_null(got);
        char *p = strrchr(line, ')');
        assert_non_null(p);
        /* fields 3.. after ") ": state ppid pgrp session tty tpgid flags minflt cminflt
           majflt cmajflt utime stime cutime cstime priority nice */
            for (int field = 3; field <= 19; field++) { /* to the space before field 19 */
            p = strchr(p + 1, ' ');
            assert_non_null(p);
        }
        int n = atoi(p + 1);
        if (n == nice)
            ++*at_nice;
        if (atoi(e->d_name) == (int)pid)
            main_nice = n;
    }
    closedir(d);
    return main_nice;
}

/*
 * The threads that process tasks run at --background-nice (default 10) and
 * the rest at the normal priority; 0 leaves them all there.
 */
static void
test_background_nice(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    /* Each lane lowers its own priority as it starts: give them a moment. */
    int at10 = 0;
    for (int64_t deadline = now_ms() + 10000; at10 < 2 && now_ms() < deadline; sleep_ms(10))
        assert_int_equal(thread_nices(f->pid, 10, &at10), 0);
    assert_int_equal(at10, 2); /* the main lane and the snapshot lane */
    struct resp r;
    req(f, "POST", "/indexes", "application/json", "{\"uid\":\"n\"}", &r);
    assert_int_equal(r.status, 202);
    resp_free(&r);
    char *st = wait_task(f, 0); /* tasks are processed all the same */
    assert_string_equal(st, "succeeded");
    free(st);
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    assert_int_equal(wait_exit(f, 30000), 0);
    f->pid = 0;

    start(f, (const char *const[]){"--background-nice", "0", NULL});
    req(f, "POST", "/indexes", "application/json", "{\"uid\":\"m\"}", &r);
    assert_int_equal(r.status, 202);
    resp_free(&r);
    st = wait_task(f, 1); /* the main lane has run: it would have lowered itself by now */
    assert_string_equal(st, "succeeded");
    free(st);
    int at0 = 0;
    assert_int_equal(thread_nices(f->pid, 0, &at0), 0);
    thread_nices(f->pid, 10, &at10);
    assert_int_equal(at10, 0);
    assert_true(at0 >= 4); /* main, journal threads, both lanes, search threads */
}

/* Options come from FOLIO_* variables too; the command line wins over them. */
static void
test_env_options(void **state)
{
    struct fixture *f = *state;
    setenv("FOLIO_MASTER_KEY", "env-key", 1);
    setenv("FOLIO_HTTP_PAYLOAD_SIZE_LIMIT", "2kB", 1);
    setenv("FOLIO_LOG_LEVEL", "nonsense", 1); /* start() passes --log-level debug */
    start(f, NULL);
    unsetenv("FOLIO_MASTER_KEY");
    unsetenv("FOLIO_HTTP_PAYLOAD_SIZE_LIMIT");
    unsetenv("FOLIO_LOG_LEVEL");
    struct resp r;
    req(f, "GET", "/tasks", NULL, NULL, &r);
    expect_error_type(&r, 401, "missing_authorization_header", "auth");
    resp_free(&r);
    f->key = "env-key";
    get_ok(f, "/tasks", &r);
    resp_free(&r);
    char body[3000];
    memset(body, ' ', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    req(f, "POST", "/indexes", "application/json", body, &r);
    expect_error(&r, 413, "payload_too_large");
    assert_non_null(strstr(jstr(r.json, "message"), "is 2 kB."));
    resp_free(&r);
}

/* ---- search --------------------------------------------------------------------------------- */

/*
 * The documents of the search tests, in insertion order (internal ids 0..5,
 * the order of a placeholder search). Every expected list below is worked out
 * from these by hand.
 */
#define SEARCH_DOCS                                                                              \
    "[{\"id\":10,\"title\":\"Foxtrot Lessons\",\"genre\":\"dance\",\"year\":1999,\"rating\":2},"  \
    "{\"id\":1,\"title\":\"The Quick Brown Fox\",\"genre\":\"fable\",\"year\":1990,"              \
    "\"rating\":4.5},"                                                                           \
    "{\"id\":2,\"title\":\"Brown Bear Story\",\"genre\":\"fable\",\"year\":2001,\"rating\":3},"   \
    "{\"id\":3,\"title\":\"Quiet Night\",\"genre\":\"drama\",\"year\":2010,"                      \
    "\"director\":\"Ann Lee\"},"                                                                 \
    "{\"id\":4,\"title\":\"Fox Hunt\",\"genre\":\"thriller\",\"year\":2015,\"rating\":5},"        \
    "{\"id\":5,\"title\":\"Quickstep\",\"genre\":\"dance (music)\",\"year\":2020}]"

/* Index `s` with SEARCH_DOCS and four filterable attributes, every task done. */
static void
search_index(struct fixture *f)
{
    enqueue(f, "POST", "/indexes/s/documents?primaryKey=id", "application/json", SEARCH_DOCS,
            "documentAdditionOrUpdate", "s");
    long long t = enqueue(f, "PATCH", "/indexes/s/settings", "application/json",
                          "{\"filterableAttributes\":[\"genre\",\"year\",\"rating\",\"director\"]}",
                          "settingsUpdate", "s");
    wait_succeeded(f, t);
}

/* The ids of a search response's hits, comma separated ("-" for a hit without an id). */
static void
hit_ids(const json_t *resp, char *out, size_t out_len)
{
    size_t n = 0, i;
    json_t *h;
    out[0] = '\0';
    json_array_foreach(json_object_get(resp, "hits"), i, h) {
        json_t *id = json_object_get(h, "id");
        if (json_is_integer(id))
            n += (size_t)snprintf(out + n, out_len - n, "%s%lld", i ? "," : "",
                                  (long long)json_integer_value(id));
        else
            n += (size_t)snprintf(out + n, out_len - n, "%s-", i ? "," : "");
        if (n >= out_len)
            fail_msg("too many hits");
    }
}

/* One search (POST body, or GET when body is NULL); 200 expected; caller frees r. */
static void
search_ok(struct fixture *f, const char *path, const char *body, struct resp *r)
{
    req(f, body != NULL ? "POST" : "GET", path, body != NULL ? "application/json" : NULL, body, r);
    if (r->status != 200 || r->json == NULL)
        fail_msg("search %s %s: %d %s", path, body ? body : "", r->status, r->body);
    assert_non_null(json_object_get(r->json, "processingTimeMs"));
}

/* The search finds exactly these ids, in this order, and counts them all. */
static void
search_expect(struct fixture *f, const char *path, const char *body, const char *ids,
              long long total)
{
    struct resp r;
    search_ok(f, path, body, &r);
    char got[256];
    hit_ids(r.json, got, sizeof(got));
    if (strcmp(got, ids) != 0 || jint(r.json, "estimatedTotalHits") != total)
        fail_msg("search %s %s: expected [%s] of %lld, got %s", path, body ? body : "", ids, total,
                 r.body);
    resp_free(&r);
}

/* POST /indexes/s/search {"filter": filter}: exactly these ids (all of them: limit 20). */
static void
filter_expect(struct fixture *f, const char *filter, const char *ids)
{
    char body[1024];
    snprintf(body, sizeof(body), "{\"filter\":%s}", filter);
    long long total = ids[0] != '\0';
    for (const char *p = ids; *p; p++)
        total += *p == ',';
    search_expect(f, "/indexes/s/search", body, ids, total);
}

/* q, typos, prefixes, ranking, offset/limit, attributesToRetrieve, empty q. */
static void
test_search(void **state)
{
    struct fixture *f = *state;
    start(f, (const char *const[]){"--search-threads", "2", NULL});
    search_index(f);
    const char *path = "/indexes/s/search";
    struct resp r;

    /* Empty q (absent, null, "", blank): every document in insertion order. */
    search_ok(f, path, "{}", &r);
    assert_int_equal(json_object_size(r.json), 6);
    assert_string_equal(jstr(r.json, "query"), "");
    assert_int_equal(jint(r.json, "limit"), 20);
    assert_int_equal(jint(r.json, "offset"), 0);
    assert_int_equal(jint(r.json, "estimatedTotalHits"), 6);
    /* A hit is the whole document as it was sent. */
    json_t *sent = json_loads(SEARCH_DOCS, 0, NULL);
    assert_true(json_equal(json_object_get(r.json, "hits"), sent));
    json_decref(sent);
    resp_free(&r);
    search_expect(f, path, "{\"q\":null}", "10,1,2,3,4,5", 6);
    search_expect(f, path, "{\"q\":\"\"}", "10,1,2,3,4,5", 6);
    search_expect(f, path, "{\"q\":\"   \"}", "10,1,2,3,4,5", 6);

    /* Words: "fox" is a whole word of 1 and 4, a prefix of "foxtrot" (10): whole words rank
       first, then insertion order. */
    search_ok(f, path, "{\"q\":\"Fox\"}", &r);
    assert_string_equal(jstr(r.json, "query"), "Fox");
    resp_free(&r);
    search_expect(f, path, "{\"q\":\"Fox\"}", "1,4,10", 3);
    search_expect(f, path, "{\"q\":\"fox \"}", "1,4", 2);     /* a separator ends the prefix */
    search_expect(f, path, "{\"q\":\"brown fox\"}", "1", 1);  /* every word must match */
    search_expect(f, path, "{\"q\":\"qui\"}", "1,3,5", 3);    /* quick, quiet, quickstep */
    search_expect(f, path, "{\"q\":\"quick\"}", "1,5", 2);    /* whole word before prefix */
    /* Typos: "quikc" (5 letters, one transposition) finds quick and quickstep; "quik" (4
       letters) allows none and is the prefix of no word. */
    search_expect(f, path, "{\"q\":\"quikc\"}", "1,5", 2);
    search_expect(f, path, "{\"q\":\"quik\"}", "", 0);
    /* 9 letters allow two typos: "quckstap" is 8 (one only: no hit), "quickstap" one. */
    search_expect(f, path, "{\"q\":\"quckstap\"}", "", 0);
    search_expect(f, path, "{\"q\":\"quickstap\"}", "5", 1);
    search_expect(f, path, "{\"q\":\"QUIET night\"}", "3", 1);
    search_expect(f, path, "{\"q\":\"nothing\"}", "", 0);

    /* offset and limit page through the ranked hits; the total stays. */
    search_ok(f, path, "{\"offset\":1,\"limit\":2}", &r);
    char ids[256];
    hit_ids(r.json, ids, sizeof(ids));
    assert_string_equal(ids, "1,2");
    assert_int_equal(jint(r.json, "offset"), 1);
    assert_int_equal(jint(r.json, "limit"), 2);
    assert_int_equal(jint(r.json, "estimatedTotalHits"), 6);
    resp_free(&r);
    search_expect(f, path, "{\"q\":\"fox\",\"offset\":2}", "10", 3);
    search_expect(f, path, "{\"offset\":6}", "", 6);
    search_expect(f, path, "{\"limit\":0}", "", 6);
    search_expect(f, path, "{\"offset\":9223372036854775807,\"limit\":5}", "", 6);

    /* attributesToRetrieve: only those (unknown ones are no error); "*" is everything. */
    search_ok(f, path, "{\"q\":\"bear\",\"attributesToRetrieve\":[\"title\",\"nope\"]}", &r);
    json_t *want = json_loads("[{\"title\":\"Brown Bear Story\"}]", 0, NULL);
    assert_true(json_equal(json_object_get(r.json, "hits"), want));
    json_decref(want);
    resp_free(&r);
    search_ok(f, path, "{\"q\":\"bear\",\"attributesToRetrieve\":[\"*\"]}", &r);
    assert_int_equal(json_object_size(json_array_get(json_object_get(r.json, "hits"), 0)), 5);
    resp_free(&r);
    search_ok(f, path, "{\"q\":\"bear\",\"attributesToRetrieve\":[]}", &r);
    assert_int_equal(json_object_size(json_array_get(json_object_get(r.json, "hits"), 0)), 0);
    resp_free(&r);

    /* What clients send with default values is accepted and changes nothing. */
    search_expect(f, path,
                  "{\"q\":\"fox\",\"sort\":[],\"facets\":[],\"attributesToHighlight\":[],"
                  "\"attributesToCrop\":[],\"cropLength\":10,\"showRankingScore\":false,"
                  "\"showMatchesPosition\":false,\"matchingStrategy\":\"last\","
                  "\"highlightPreTag\":\"<em>\",\"highlightPostTag\":\"</em>\",\"page\":null,"
                  "\"hitsPerPage\":null,\"hybrid\":null,\"vector\":null,\"distinct\":null,"
                  "\"attributesToSearchOn\":[\"*\"],\"retrieveVectors\":false,\"locales\":null}",
                  "1,4,10", 3);
}

/* Every filter operator, the array form, and the GET form with URL-encoded parameters. */
static void
test_search_filters(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    search_index(f);
    /* years: 10:1999 1:1990 2:2001 3:2010 4:2015 5:2020; ratings: 10:2 1:4.5 2:3 4:5 */
    filter_expect(f, "\"genre = fable\"", "1,2");
    filter_expect(f, "\"genre != fable\"", "10,3,4,5");
    filter_expect(f, "\"NOT genre = fable\"", "10,3,4,5");
    filter_expect(f, "\"year > 2010\"", "4,5");
    filter_expect(f, "\"year >= 2010\"", "3,4,5");
    filter_expect(f, "\"year < 1999\"", "1");
    filter_expect(f, "\"year <= 1999\"", "10,1");
    filter_expect(f, "\"rating 2 TO 4\"", "10,2");
    filter_expect(f, "\"rating > 4\"", "1,4");
    filter_expect(f, "\"genre IN [drama, thriller]\"", "3,4");
    filter_expect(f, "\"genre NOT IN [fable, dance]\"", "3,4,5");
    filter_expect(f, "\"director EXISTS\"", "3");
    filter_expect(f, "\"director NOT EXISTS\"", "10,1,2,4,5");
    filter_expect(f, "\"rating NOT EXISTS\"", "3,5");
    filter_expect(f, "\"director = 'Ann Lee'\"", "3");
    filter_expect(f, "\"genre = \\\"dance (music)\\\"\"", "5");
    filter_expect(f, "\"(genre = fable OR genre = drama) AND year > 2000\"", "2,3");
    /* AND binds tighter than OR: fable, or (after 2014 and rated above 4). */
    filter_expect(f, "\"genre = fable OR year > 2014 AND rating > 4\"", "1,2,4");
    filter_expect(f, "\"   \"", "10,1,2,3,4,5");
    filter_expect(f, "null", "10,1,2,3,4,5");

    /* The array form: AND of the elements, an inner array ORed. */
    filter_expect(f, "[\"year = 2015\"]", "4");
    filter_expect(f, "[[\"genre = drama\", \"genre = thriller\"], \"year >= 2015\"]", "4");
    filter_expect(f, "[\"\", [], [\" \"], \"genre = fable\"]", "1,2");
    filter_expect(f, "[]", "10,1,2,3,4,5");
    /* Each element is one expression: (fable OR dance) AND before 2000 is 10 and 1; without
       the parentheses it would be fable OR (dance AND before 2000): 10, 1 and 2. */
    filter_expect(f, "[\"genre = fable OR genre = dance\", \"year < 2000\"]", "10,1");
    filter_expect(f, "[[\"genre = fable AND year > 2000\", \"NOT rating EXISTS\"]]", "2,3,5");
    /* Quotes with parentheses inside stay one value. */
    filter_expect(f, "[\"genre = 'dance (music)'\", [\"year > 2019\", \"year < 1000\"]]", "5");

    /* GET: q, offset, limit, filter and attributesToRetrieve from the query string. */
    search_expect(f, "/indexes/s/search?q=brown%20fox", NULL, "1", 1);
    search_expect(f, "/indexes/s/search?q=brown+bear", NULL, "2", 1);
    search_expect(f, "/indexes/s/search?filter=genre%20%3D%20fable", NULL, "1,2", 2);
    search_expect(f, "/indexes/s/search?filter=genre+%3D+%27dance+%28music%29%27", NULL, "5", 1);
    search_expect(f, "/indexes/s/search?offset=1&limit=2", NULL, "1,2", 6);
    /* A filter that parses as JSON is the array form. */
    search_expect(f,
                  "/indexes/s/search?filter=%5B%5B%22genre%3Ddrama%22%2C%22genre%3Dthriller%22%5D"
                  "%2C%22year%3E2012%22%5D",
                  NULL, "4", 1);
    struct resp r;
    search_ok(f, "/indexes/s/search?q=qui&attributesToRetrieve=id,%20title&limit=1", NULL, &r);
    json_t *want = json_loads("[{\"id\":1,\"title\":\"The Quick Brown Fox\"}]", 0, NULL);
    assert_true(json_equal(json_object_get(r.json, "hits"), want));
    json_decref(want);
    assert_string_equal(jstr(r.json, "query"), "qui");
    assert_int_equal(jint(r.json, "limit"), 1);
    assert_int_equal(jint(r.json, "estimatedTotalHits"), 3);
    resp_free(&r);
    search_expect(f, "/indexes/s/search?q=fox&sort=&facets=&showRankingScore=false", NULL,
                  "1,4,10", 3);
}

/* Every error of the route, with Meilisearch's codes and messages. */
static void
test_search_errors(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    search_index(f);
    const char *p = "/indexes/s/search", *json = "application/json";
    req_error(f, "POST", p, json, "{\"q\":", 400, "malformed_payload");
    req_error(f, "POST", p, json, "", 400, "missing_payload");
    req_message(f, "POST", p, json, "[]", 400, "bad_request",
                "Invalid value type: expected an object, but found an array: `[]`");
    req_message(f, "POST", p, json, "{\"q\":42}", 400, "invalid_search_q",
                "Invalid value type at `.q`: expected a string, but found a positive integer: "
                "`42`");
    req_message(f, "POST", p, json, "{\"offset\":\"1\"}", 400, "invalid_search_offset",
                "Invalid value type at `.offset`: expected a positive integer, but found a "
                "string: `\"1\"`");
    req_message(f, "POST", p, json, "{\"limit\":-1}", 400, "invalid_search_limit",
                "Invalid value type at `.limit`: expected a positive integer, but found a "
                "negative integer: `-1`");
    req_error(f, "POST", p, json, "{\"limit\":1.5}", 400, "invalid_search_limit");
    req_error(f, "POST", p, json, "{\"limit\":null}", 400, "invalid_search_limit");
    req_message(f, "POST", p, json, "{\"attributesToRetrieve\":\"title\"}", 400,
                "invalid_search_attributes_to_retrieve",
                "Invalid value type at `.attributesToRetrieve`: expected an array, but found a "
                "string: `\"title\"`");
    req_message(f, "POST", p, json, "{\"attributesToRetrieve\":[\"id\",1]}", 400,
                "invalid_search_attributes_to_retrieve",
                "Invalid value type at `.attributesToRetrieve[1]`: expected a string, but found "
                "a positive integer: `1`");
    req_message(f, "POST", p, json, "{\"filter\":42}", 400, "invalid_search_filter",
                "Invalid syntax for the filter parameter: `expected String, Array, found: 42`.");
    req_message(f, "POST", p, json, "{\"filter\":[\"year = 1\",{\"a\":1}]}", 400,
                "invalid_search_filter",
                "Invalid syntax for the filter parameter: `expected String, [String], found: "
                "{\"a\":1}`.");
    req_message(f, "POST", p, json, "{\"filter\":[[\"year = 1\",true]]}", 400,
                "invalid_search_filter",
                "Invalid syntax for the filter parameter: `expected String, found: true`.");
    /* Unknown fields: bad_request naming the field and listing Meilisearch's. */
    req_message(f, "POST", p, json, "{\"q\":\"a\",\"color\":1}", 400, "bad_request",
                "Unknown field `color`: expected one of `q`, `vector`, `media`, `hybrid`, "
                "`offset`, `limit`, `page`, `hitsPerPage`, `attributesToRetrieve`, "
                "`retrieveVectors`, `attributesToCrop`, `cropLength`, `attributesToHighlight`, "
                "`showMatchesPosition`, `showRankingScore`, `showRankingScoreDetails`, "
                "`filter`, `sort`, `distinct`, `facets`, `highlightPreTag`, "
                "`highlightPostTag`, `cropMarker`, `matchingStrategy`, `attributesToSearchOn`, "
                "`rankingScoreThreshold`, `locales`");
    req_error(f, "POST", p, json, "{\"hybridEmbedder\":null}", 400, "bad_request");
    /* Meilisearch's parameters folio has not got, asked for with other than defaults. */
    req_message(f, "POST", p, json, "{\"sort\":[\"year:asc\"]}", 400, "invalid_search_sort",
                "folio does not support `sort` yet: leave it out, or send its default value "
                "`[]`.");
    req_error(f, "POST", p, json, "{\"page\":\"1\"}", 400, "invalid_search_page");
    req_error(f, "POST", p, json, "{\"showRankingScore\":true}", 400,
              "invalid_search_show_ranking_score");
    req_error(f, "POST", p, json, "{\"matchingStrategy\":\"frequency\"}", 400,
              "invalid_search_matching_strategy");

    /* Filter syntax: Meilisearch's message and the culprit's columns. */
    req_message(f, "POST", p, json, "{\"filter\":\"year >\"}", 400, "invalid_search_filter",
                "Was expecting a value but instead got nothing.\n7:7 year >");
    req_message(f, "POST", p, json, "{\"filter\":\"title = Fox\"}", 400, "invalid_search_filter",
                "Attribute `title` is not filterable. Available filterable attributes are: "
                "`director`, `genre`, `rating`, `year`.\n1:6 title = Fox");
    /* In the array form, the message is that of the element at fault, alone. */
    req_message(f, "POST", p, json, "{\"filter\":[\"genre = fable\",[\"year >\"]]}", 400,
                "invalid_search_filter",
                "Was expecting a value but instead got nothing.\n7:7 year >");
    req_message(f, "POST", p, json, "{\"filter\":[\"genre = fable) OR (genre = drama\"]}", 400,
                "invalid_search_filter",
                "Found unexpected characters at the end of the filter: `) OR (genre = drama`. "
                "You probably forgot an `OR` or an `AND` rule.\n14:33 genre = fable) OR (genre = "
                "drama");
    req_message(f, "POST", p, json, "{\"filter\":[\"genre = 'fable\", \"year = 1'\"]}", 400,
                "invalid_search_filter",
                "Expression `\\'fable` is missing the following closing delimiter: `'`.\n9:15 "
                "genre = 'fable");

    /* GET: parameter values and names. */
    req_message(f, "GET", "/indexes/s/search?limit=x", NULL, NULL, 400, "invalid_search_limit",
                "Invalid value in parameter `limit`: could not parse `x` as a positive integer");
    req_error(f, "GET", "/indexes/s/search?offset=-1", NULL, NULL, 400, "invalid_search_offset");
    req_error(f, "GET", "/indexes/s/search?q=a&color=red", NULL, NULL, 400, "bad_request");
    req_error(f, "GET", "/indexes/s/search?sort=year:asc", NULL, NULL, 400, "invalid_search_sort");
    req_error(f, "GET", "/indexes/s/search?filter=year%20%3E", NULL, NULL, 400,
              "invalid_search_filter");
    req_error(f, "GET", "/indexes/s/search?filter=2015", NULL, NULL, 400, "invalid_search_filter");
    req_error(f, "GET", "/indexes/s/search?q=%FF", NULL, NULL, 400, "invalid_search_q");

    /* The index: missing, or not a valid uid; other methods. */
    req_message(f, "POST", "/indexes/nope/search", json, "{\"q\":\"fox\"}", 404,
                "index_not_found", "Index `nope` not found.");
    req_error(f, "GET", "/indexes/nope/search?q=fox", NULL, NULL, 404, "index_not_found");
    req_error(f, "POST", "/indexes/bad%20uid/search", json, "{}", 400, "invalid_index_uid");
    req_error(f, "PUT", "/indexes/s/search", json, "{}", 405, "method_not_allowed");
}

/* The master key guards search; the body limit holds for it as for any route. */
static void
test_search_auth_limits(void **state)
{
    struct fixture *f = *state;
    start(f, (const char *const[]){"--master-key", "search-key", "--http-payload-size-limit",
                                   "4kB", NULL});
    f->key = "search-key";
    search_index(f);
    f->key = NULL;
    struct resp r;
    req(f, "POST", "/indexes/s/search", "application/json", "{\"q\":\"fox\"}", &r);
    expect_error_type(&r, 401, "missing_authorization_header", "auth");
    resp_free(&r);
    req(f, "GET", "/indexes/s/search?q=fox", NULL, NULL, &r);
    expect_error_type(&r, 401, "missing_authorization_header", "auth");
    resp_free(&r);
    f->key = "wrong";
    req(f, "POST", "/indexes/s/search", "application/json", "{\"q\":\"fox\"}", &r);
    expect_error_type(&r, 403, "invalid_api_key", "auth");
    resp_free(&r);
    /* Authentication comes before anything else: a missing index is still 403. */
    req(f, "POST", "/indexes/nope/search", "application/json", "{\"q\":\"fox\"}", &r);
    expect_error_type(&r, 403, "invalid_api_key", "auth");
    resp_free(&r);
    f->key = "search-key";
    search_expect(f, "/indexes/s/search", "{\"q\":\"fox\"}", "1,4,10", 3);
    search_expect(f, "/indexes/s/search?q=fox", NULL, "1,4,10", 3);

    /* Over the body limit: 413, whatever the body says. */
    char body[5000];
    int n = snprintf(body, sizeof(body), "{\"q\":\"");
    memset(body + n, 'a', sizeof(body) - (size_t)n - 3);
    memcpy(body + sizeof(body) - 3, "\"}", 3);
    req(f, "POST", "/indexes/s/search", "application/json", body, &r);
    expect_error(&r, 413, "payload_too_large");
    resp_free(&r);
}

/* Like tc_read, but false when the connection ends before a response begins. */
static bool
tc_read_maybe(struct tconn *c, struct resp *r)
{
    int64_t deadline = now_ms() + IO_TIMEOUT_MS;
    while (c->len == 0) {
        int rc = tc_fill(c, (int)(deadline - now_ms()));
        if (rc == 0 || (rc < 0 && errno == ECONNRESET))
            return false;
        if (rc < 0)
            fail_msg("no response within %d ms", IO_TIMEOUT_MS);
    }
    tc_read(c, r);
    return true;
}

/* Sends `each` pipelined searches with limits 1..each on every connection, in one write. */
static void
search_pipelined(struct fixture *f, struct tconn *c, int conns, int each)
{
    for (int i = 0; i < conns; i++) {
        char all[2048];
        size_t n = 0;
        for (int k = 1; k <= each; k++)
            n += (size_t)snprintf(all + n, sizeof(all) - n,
                                  "POST /indexes/s/search HTTP/1.1\r\nHost: t\r\nContent-Type: "
                                  "application/json\r\nContent-Length: 11\r\n\r\n{\"limit\":%d}",
                                  k);
        assert_true(n < sizeof(all));
        tc_open(f, &c[i]);
        tc_send(&c[i], all, n);
    }
}

/*
 * Searches on many connections at once (pipelined: answered in order), clients
 * that hang up before their answer, and SIGTERM with searches in flight: those
 * under way are answered, in order, the connections end and foliod exits 0
 * (under the sanitizers: nothing leaked, nothing used after free).
 */
static void
test_search_concurrent(void **state)
{
    struct fixture *f = *state;
    start(f, (const char *const[]){"--search-threads", "2", NULL});
    search_index(f);
    enum { CONNS = 8, EACH = 3 };
    for (int i = 0; i < 20; i++) {
        struct tconn h;
        tc_open(f, &h);
        tc_sendf(&h, "GET /indexes/s/search?q=qui HTTP/1.1\r\nHost: t\r\n\r\n");
        tc_close(&h);
    }
    struct tconn c[CONNS];
    search_pipelined(f, c, CONNS, EACH);
    for (int i = 0; i < CONNS; i++) {
        for (int k = 1; k <= EACH; k++) {
            struct resp r;
            tc_read(&c[i], &r);
            assert_int_equal(r.status, 200);
            /* limit k of the 6 documents: k hits, in insertion order (10 first). */
            assert_int_equal(json_array_size(json_object_get(r.json, "hits")), k);
            assert_int_equal(jint(r.json, "limit"), k);
            assert_int_equal(jint(json_array_get(json_object_get(r.json, "hits"), 0), "id"), 10);
            resp_free(&r);
        }
        tc_close(&c[i]);
    }

    /* Once the first answer of a connection is read, its second search is under way (the
       three came in one read): SIGTERM must not lose it. The third may be dropped. */
    search_pipelined(f, c, CONNS, EACH);
    for (int i = 0; i < CONNS; i++) {
        struct resp r;
        tc_read(&c[i], &r);
        assert_int_equal(jint(r.json, "limit"), 1);
        resp_free(&r);
    }
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    for (int i = 0; i < CONNS; i++) {
        struct resp r;
        int k = 1;
        while (k < EACH && tc_read_maybe(&c[i], &r)) {
            k++;
            assert_int_equal(r.status, 200);
            assert_int_equal(jint(r.json, "limit"), k);
            resp_free(&r);
        }
        assert_true(k >= 2);
        assert_true(tc_closed(&c[i], 10000));
        tc_close(&c[i]);
    }
    int status = wait_exit(f, 30000);
    assert_true(status != -1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- Content-Type of JSON routes ------------------------------------------------------------ */

static void
expect_415(struct fixture *f, const char *method, const char *path, const char *ctype,
           const char *body)
{
    char msg[300];
    if (ctype == NULL)
        snprintf(msg, sizeof(msg), "A Content-Type header is missing. Accepted values for the "
                                   "Content-Type header are: `application/json`");
    else
        snprintf(msg, sizeof(msg), "The Content-Type `%s` is invalid. Accepted values for the "
                                   "Content-Type header are: `application/json`", ctype);
    struct resp r;
    req(f, method, path, ctype, body, &r);
    if (r.status != 415)
        fail_msg("%s %s with Content-Type %s: %d %s", method, path, ctype ? ctype : "(none)",
                 r.status, r.body);
    expect_error(&r, 415, ctype == NULL ? "missing_content_type" : "invalid_content_type");
    assert_string_equal(jstr(r.json, "message"), msg);
    resp_free(&r);
}

/* Not a 415; returns the status. */
static int
expect_not_415(struct fixture *f, const char *method, const char *path, const char *ctype,
               const char *body)
{
    struct resp r;
    req(f, method, path, ctype, body, &r);
    if (r.status == 415 || r.status == 0)
        fail_msg("%s %s with Content-Type %s: %d %s", method, path, ctype ? ctype : "(none)",
                 r.status, r.body);
    int status = r.status;
    resp_free(&r);
    return status;
}

/*
 * Every route whose body is JSON answers 415 without a JSON Content-Type, as
 * Meilisearch's do (its tests/content_type.rs lists the same bad types): no
 * header → missing_content_type, another type → invalid_content_type, with
 * Meilisearch's messages, before the body is looked at (an empty body too).
 * A JSON type with parameters, in capitals, or a +json suffix is accepted.
 * The snapshot-creating routes take no body: only a body they are sent needs
 * the type. Nothing refused is enqueued.
 */
static void
test_json_content_type(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    long long t = enqueue(f, "POST", "/indexes", "application/json", "{\"uid\":\"x\"}",
                          "indexCreation", "x");
    wait_succeeded(f, t);
    long long enqueued = 1;
    static const struct {
        const char *method, *path, *body;
    } routes[] = {
        {"POST", "/indexes", "{\"uid\":\"ct\"}"},
        {"PATCH", "/indexes/x", "{\"primaryKey\":\"id\"}"},
        {"POST", "/indexes/x/documents/delete-batch", "[\"1\"]"},
        {"POST", "/indexes/x/search", "{\"q\":\"a\"}"},
        {"PATCH", "/indexes/x/settings", "{\"stopWords\":[\"a\"]}"},
        {"PUT", "/indexes/x/settings/stop-words", "[\"a\"]"},
        {"PUT", "/indexes/x/settings/filterable-attributes", "[\"a\"]"},
        {"POST", "/swap-indexes", "[{\"indexes\":[\"x\",\"y\"]}]"},
        {"POST", "/snapshots/import", "{\"snapshotPath\":\"nothing.idx.snapshot\"}"},
    };
    static const char *const bad[] = {"application/csv", "application/x-ndjson",
                                      "application/x-www-form-urlencoded", "text/plain", "json",
                                      "application", "json/application", "text/csv",
                                      "application/jsonx"};
    static const char *const good[] = {"application/json", "application/json; charset=utf-8",
                                       "Application/JSON", "application/merge-patch+json"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(routes); i++) {
        expect_415(f, routes[i].method, routes[i].path, NULL, routes[i].body);
        expect_415(f, routes[i].method, routes[i].path, NULL, NULL);
        for (size_t b = 0; b < FOLIO_ARRAY_LEN(bad); b++)
            expect_415(f, routes[i].method, routes[i].path, bad[b], routes[i].body);
        for (size_t g = 0; g < FOLIO_ARRAY_LEN(good); g++)
            enqueued += expect_not_415(f, routes[i].method, routes[i].path, good[g],
                                       routes[i].body) == 202;
    }
    /* With its type, an empty body is the payload's error. */
    req_error(f, "POST", "/indexes", "application/json", "", 400, "missing_payload");
    /* Routes without a JSON body need no type. */
    req_error(f, "POST", "/tasks/cancel", NULL, NULL, 400, "missing_task_filters");
    assert_int_equal(expect_not_415(f, "DELETE", "/indexes/x/settings", NULL, NULL), 202);
    enqueued++;
    /* The snapshot routes: no body, no type needed; a body needs it. */
    static const char *const snaps[] = {"/snapshots", "/indexes/x/snapshots"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(snaps); i++) {
        expect_415(f, "POST", snaps[i], NULL, "{}");
        expect_415(f, "POST", snaps[i], "text/plain", "{}");
        assert_int_equal(expect_not_415(f, "POST", snaps[i], NULL, NULL), 202);
        assert_int_equal(expect_not_415(f, "POST", snaps[i], "application/json", "{}"), 202);
        enqueued += 2;
    }
    /* The document routes keep their own three types. */
    req_error(f, "POST", "/indexes/x/documents", "application/merge-patch+json", "[]", 415,
              "invalid_content_type");
    /* Authentication comes first. */
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    int status = wait_exit(f, 30000);
    assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    start(f, (const char *const[]){"--master-key", "ct-key", NULL});
    struct resp r;
    req(f, "POST", "/indexes", NULL, "{\"uid\":\"k\"}", &r);
    expect_error_type(&r, 401, "missing_authorization_header", "auth");
    resp_free(&r);
    f->key = "ct-key";
    get_ok(f, "/tasks?limit=1", &r);
    assert_int_equal(jint(r.json, "total"), enqueued);
    resp_free(&r);
}

/* ---- the connection cap ---------------------------------------------------------------------- */

/* Reads the cap's 503 on c and sees the connection end. */
static void
expect_cap_503(struct tconn *c, unsigned cap)
{
    struct resp r;
    tc_read(c, &r);
    expect_error_type(&r, 503, "too_many_connections", "system");
    char v[64], msg[200];
    assert_non_null(header_get(&r, "Retry-After", v, sizeof(v)));
    assert_string_equal(v, "10");
    assert_non_null(header_get(&r, "Connection", v, sizeof(v)));
    assert_string_equal(v, "close");
    snprintf(msg, sizeof(msg),
             "The server already serves its maximum of %u connections. Retry after a few "
             "seconds.",
             cap);
    assert_string_equal(jstr(r.json, "message"), msg);
    resp_free(&r);
    assert_true(tc_closed(c, 10000));
}

static int
health_on(struct tconn *c)
{
    struct resp r;
    tc_sendf(c, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
    tc_read(c, &r);
    int status = r.status;
    resp_free(&r);
    return status;
}

/*
 * --http-max-connections: connections past it are answered 503
 * too_many_connections (type system, Retry-After, Connection: close) and
 * closed, more of them at once than the server keeps refusing at a time (the
 * rest wait their turn in the kernel queue and get the same answer); the
 * served ones go on; once one closes a new one is served (retried: the server
 * may see the new connection before the close). FOLIO_HTTP_MAX_CONNECTIONS
 * does the same; bad values exit 2.
 */
static void
test_connection_cap_option(void **state)
{
    struct fixture *f = *state;
    enum { CAP = 4, PAST = 40 };
    start(f, (const char *const[]){"--http-max-connections", "4", NULL});
    struct tconn in[CAP], past[PAST];
    for (int i = 0; i < CAP; i++) {
        tc_open(f, &in[i]);
        assert_int_equal(health_on(&in[i]), 200);
    }
    for (int i = 0; i < PAST; i++) {
        tc_open(f, &past[i]);
        tc_sendf(&past[i], "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    for (int i = 0; i < PAST; i++) {
        expect_cap_503(&past[i], CAP);
        tc_close(&past[i]);
    }
    for (int i = 0; i < CAP; i++)
        assert_int_equal(health_on(&in[i]), 200);
    tc_close(&in[0]);
    int64_t deadline = now_ms() + 10000;
    for (;;) {
        tc_open(f, &in[0]);
        struct resp r;
        tc_sendf(&in[0], "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
        tc_read(&in[0], &r);
        int status = r.status;
        resp_free(&r);
        if (status == 200)
            break;
        assert_int_equal(status, 503);
        tc_close(&in[0]);
        assert_true(now_ms() < deadline);
        sleep_ms(20);
    }
    tc_open(f, &past[0]);
    expect_cap_503(&past[0], CAP);
    tc_close(&past[0]);
    for (int i = 0; i < CAP; i++)
        tc_close(&in[i]);
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    int status = wait_exit(f, 30000);
    assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);

    setenv("FOLIO_HTTP_MAX_CONNECTIONS", "1", 1);
    start(f, NULL);
    unsetenv("FOLIO_HTTP_MAX_CONNECTIONS");
    tc_open(f, &in[0]);
    assert_int_equal(health_on(&in[0]), 200);
    tc_open(f, &past[0]);
    expect_cap_503(&past[0], 1);
    tc_close(&past[0]);
    tc_close(&in[0]);

    char *out = NULL;
    assert_int_equal(tu_system(FOLIO_FOLIOD_PATH " --help", &out), 0);
    assert_non_null(strstr(out, "--http-max-connections"));
    assert_non_null(strstr(out, "FOLIO_HTTP_MAX_CONNECTIONS"));
    folio_free(out);
    static const char *const bad[] = {"0", "-1", "x", "4x", "1048577", ""};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(bad); i++) {
        char cmd[200];
        snprintf(cmd, sizeof(cmd), FOLIO_FOLIOD_PATH " --http-max-connections '%s' 2>/dev/null",
                 bad[i]);
        if (tu_system(cmd, NULL) != 2)
            fail_msg("--http-max-connections '%s' did not exit 2", bad[i]);
    }
}

/* ---- reads on the read workers -------------------------------------------------------------- */

/*
 * GET of documents and the snapshot listings run on the read workers: many
 * connections pipeline them with other requests in one write each, and every
 * connection gets its answers, right and in order (a job holds back what
 * follows it on its connection).
 */
static void
test_reads_pipelined(void **state)
{
    struct fixture *f = *state;
    enum { DOCS = 3000, CONNS = 8 };
    start(f, (const char *const[]){"--search-threads", "2", NULL});
    struct srv_text {
        char *p;
        size_t n;
    } docs = {NULL, 0};
    FILE *m = open_memstream(&docs.p, &docs.n);
    fputc('[', m);
    for (int i = 0; i < DOCS; i++)
        fprintf(m, "%s{\"id\":%d,\"title\":\"document number %d\",\"n\":%d}", i ? "," : "", i, i,
                i * 7);
    fputc(']', m);
    fclose(m);
    /*
     * Snapshot tasks have priority over the index's earlier tasks (DESIGN §6):
     * the snapshot is asked for once the addition has succeeded, so that it
     * holds the documents whatever the lanes do.
     */
    long long t = enqueue(f, "POST", "/indexes/d/documents?primaryKey=id", "application/json",
                          docs.p, "documentAdditionOrUpdate", "d");
    free(docs.p);
    wait_succeeded(f, t);
    t = enqueue(f, "POST", "/indexes/d/snapshots", NULL, NULL,
                          "singleIndexSnapshotCreation", "d");
    wait_succeeded(f, t);

    struct tconn c[CONNS];
    for (int i = 0; i < CONNS; i++) {
        tc_open(f, &c[i]);
        tc_sendf(&c[i],
                 "GET /indexes/d/documents?offset=%d&limit=1000&fields=id,n HTTP/1.1\r\n"
                 "Host: t\r\n\r\n"
                 "GET /indexes/d/documents/%d HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /indexes/d/snapshots HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /snapshots HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /indexes/d/documents/nope HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /indexes/gone/documents HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /indexes/gone/documents/1 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /indexes/d/documents?limit=1&offset=%d HTTP/1.1\r\nHost: t\r\n\r\n",
                 i * 250, DOCS - 1 - i, DOCS - 1);
    }
    for (int i = 0; i < CONNS; i++) {
        struct resp r;
        tc_read(&c[i], &r);
        assert_int_equal(r.status, 200);
        json_t *res = json_object_get(r.json, "results");
        int want = DOCS - i * 250 < 1000 ? DOCS - i * 250 : 1000;
        assert_int_equal(json_array_size(res), want);
        assert_int_equal(jint(json_array_get(res, 0), "id"), i * 250);
        assert_int_equal(jint(json_array_get(res, 0), "n"), i * 250 * 7);
        assert_null(json_object_get(json_array_get(res, 0), "title"));
        assert_int_equal(jint(r.json, "total"), DOCS);
        assert_int_equal(jint(r.json, "offset"), i * 250);
        resp_free(&r);
        tc_read(&c[i], &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(jint(r.json, "id"), DOCS - 1 - i);
        char title[64];
        snprintf(title, sizeof(title), "document number %d", DOCS - 1 - i);
        assert_string_equal(jstr(r.json, "title"), title);
        resp_free(&r);
        tc_read(&c[i], &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(jint(r.json, "total"), 1);
        json_t *snap = json_array_get(json_object_get(r.json, "results"), 0);
        assert_int_equal(jint(json_object_get(snap, "manifest"), "documentCount"), DOCS);
        resp_free(&r);
        tc_read(&c[i], &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(jstr(r.json, "status"), "available");
        resp_free(&r);
        tc_read(&c[i], &r); /* GET /snapshots: every archive, index d's among them */
        assert_int_equal(r.status, 200);
        assert_int_equal(jint(r.json, "total"), 1);
        snap = json_array_get(json_object_get(r.json, "results"), 0);
        assert_int_equal(strncmp(jstr(snap, "snapshotPath"), "indexes/d/", 10), 0);
        resp_free(&r);
        tc_read(&c[i], &r);
        expect_error(&r, 404, "document_not_found");
        assert_string_equal(jstr(r.json, "message"), "Document `nope` not found.");
        resp_free(&r);
        tc_read(&c[i], &r);
        expect_error(&r, 404, "index_not_found");
        assert_string_equal(jstr(r.json, "message"), "Index `gone` not found.");
        resp_free(&r);
        tc_read(&c[i], &r);
        expect_error(&r, 404, "index_not_found");
        resp_free(&r);
        tc_read(&c[i], &r);
        assert_int_equal(r.status, 200);
        res = json_object_get(r.json, "results");
        assert_int_equal(json_array_size(res), 1);
        assert_int_equal(jint(json_array_get(res, 0), "id"), DOCS - 1);
        resp_free(&r);
        tc_close(&c[i]);
    }
}

int
main(void)
{
    if (getenv("FOLIO_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("FOLIO_TEST_FILTER")); /* e.g. 'test_journal*' */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_health_version_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_deletion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_documents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_documents_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_follow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tasks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive_pipelining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm, setup, teardown),
        cmocka_unit_test(test_options),
        cmocka_unit_test_setup_teardown(test_background_nice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_auth_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_content_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_cap_option, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_pipelined, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
