/*
 * The foliod fixture of srvutil.h: a child process started by fork/exec with
 * its stderr in <dir>/foliod.log, and a small HTTP/1.1 client over plain
 * sockets (no HTTP library, so framing is exactly what a test sends).
 *
 * The child is only ever signalled by its pid; every start records it and
 * every stop reaps it.
 */
#define _GNU_SOURCE
#include "srvutil.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "folio/common.h"
#include "testutil.h"

int64_t
su_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
su_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- the server -------------------------------------------------------------------- */

static void
exec_child(const struct su_server *s, int out_fd, const char *const *argv)
{
    int log = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(out_fd, STDOUT_FILENO);
    if (log >= 0)
        dup2(log, STDERR_FILENO);
    if (s->nofile_soft > 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)s->nofile_soft <= rl.rlim_max) {
            rl.rlim_cur = (rlim_t)s->nofile_soft;
            (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    execv(FOLIO_FOLIOD_PATH, (char *const *)argv);
    _exit(127);
}

/* Reads the child's stdout until the "listening on" line; the port or 0. */
static int
read_port(int fd)
{
    static const char prefix[] = "listening on http://127.0.0.1:";
    char line[512];
    size_t len = 0;
    int64_t deadline = su_now_ms() + 60000;
    while (su_now_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        line[len] = '\0';
        const char *at = strstr(line, prefix);
        if (at != NULL && strchr(at, '\n') != NULL)
            return atoi(at + strlen(prefix));
        if (len == sizeof(line) - 1)
            return 0;
    }
    return 0;
}

void
su_start_at(struct su_server *s, const char *db_path, const char *snapshot_dir,
            const char *log_path, const char *const *extra)
{
    char *db = folio_strdup(db_path), *snaps = folio_strdup(snapshot_dir);
    char *log = folio_strdup(log_path);
    folio_free(s->db_path);
    folio_free(s->snapshot_dir);
    folio_free(s->log_path);
    s->db_path = db;
    s->snapshot_dir = snaps;
    s->log_path = log;
    const char *argv[40] = {FOLIO_FOLIOD_PATH, "--db-path", s->db_path, "--http-addr",
                            "127.0.0.1:0", "--snapshot-dir", s->snapshot_dir};
    size_t argc = 7;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && argc < 39; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    int out[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    fflush(NULL);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0)
        exec_child(s, out[1], argv);
    close(out[1]);
    s->port = read_port(out[0]);
    close(out[0]);
    if (s->port == 0) {
        fprintf(stderr, "foliod did not start; see %s\n", s->log_path);
        su_print_log_tail(s);
    }
    assert_true(s->port > 0);
}

void
su_start(struct su_server *s, const char *const *extra)
{
    if (s->dir == NULL)
        s->dir = tu_mkdtemp("srvstress");
    char *db = tu_path(s->dir, "db");
    char *snaps = tu_path(s->dir, "snapshots");
    char *log = tu_path(s->dir, "foliod.log");
    su_start_at(s, db, snaps, log, extra);
    folio_free(db);
    folio_free(snaps);
    folio_free(log);
}

int
su_wait_exit(struct su_server *s, int timeout_ms)
{
    int64_t deadline = su_now_ms() + timeout_ms;
    int status;
    while (su_now_ms() < deadline) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            return status;
        }
        su_sleep_ms(5);
    }
    return -1;
}

void
su_kill9(struct su_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

void
su_print_log_tail(const struct su_server *s)
{
    size_t len = 0;
    uint8_t *log = s->log_path ? tu_read_file(s->log_path, &len) : NULL;
    if (log == NULL)
        return;
    size_t from = len > 6000 ? len - 6000 : 0;
    fprintf(stderr, "--- end of %s\n%.*s---\n", s->log_path, (int)(len - from),
            (const char *)log + from);
    folio_free(log);
}

int
su_stop(struct su_server *s)
{
    if (s->pid <= 0)
        return 0;
    kill(s->pid, SIGTERM);
    int status = su_wait_exit(s, 60000);
    int rc = 0;
    if (status == -1) {
        fprintf(stderr, "foliod did not stop on SIGTERM: killed\n");
        su_kill9(s);
        rc = -1;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "foliod ended with wait status %#x after SIGTERM\n", status);
        rc = -1;
    }
    if (rc != 0)
        su_print_log_tail(s);
    return rc;
}

int
su_cleanup(struct su_server *s)
{
    int rc = su_stop(s);
    if (s->dir != NULL && getenv("FOLIO_TEST_KEEP") == NULL)
        tu_rmrf(s->dir);
    else if (s->dir != NULL)
        fprintf(stderr, "kept %s\n", s->dir);
    folio_free(s->dir);
    folio_free(s->db_path);
    folio_free(s->snapshot_dir);
    folio_free(s->log_path);
    s->dir = s->db_path = s->snapshot_dir = s->log_path = NULL;
    return rc;
}

/* ---- the client -------------------------------------------------------------------- */

int
su_open(struct su_conn *c, int port)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    int rc;
    do
        rc = connect(c->fd, (struct sockaddr *)&a, sizeof(a));
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

void
su_close(struct su_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    folio_free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

int
su_send(struct su_conn *c, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
su_sendf(struct su_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    int rc = su_send(c, s, (size_t)n);
    free(s);
    return rc;
}

/* Reads more bytes: 1 read, 0 EOF, -1 timeout or error (errno says which). */
static int
su_fill(struct su_conn *c, int timeout_ms)
{
    struct pollfd p = {c->fd, POLLIN, 0};
    int pr;
    do
        pr = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
    while (pr < 0 && errno == EINTR);
    if (pr <= 0) {
        errno = pr == 0 ? ETIMEDOUT : errno;
        return -1;
    }
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

const char *
su_header(const struct su_resp *r, const char *name, char *out, size_t out_len)
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

void
su_resp_free(struct su_resp *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

int
su_read(struct su_conn *c, struct su_resp *r, int timeout_ms)
{
    memset(r, 0, sizeof(*r));
    int64_t deadline = su_now_ms() + timeout_ms;
    char *end;
    while ((end = c->len ? strstr(c->buf, "\r\n\r\n") : NULL) == NULL)
        if (su_fill(c, (int)(deadline - su_now_ms())) <= 0)
            return -1;
    size_t head_len = (size_t)(end - c->buf) + 2;
    r->head = strndup(c->buf, head_len);
    if (sscanf(r->head, "HTTP/1.1 %d", &r->status) != 1) {
        su_resp_free(r);
        return -1;
    }
    char v[64];
    size_t body_len = su_header(r, "Content-Length", v, sizeof(v)) ? strtoul(v, NULL, 10) : 0;
    r->close = su_header(r, "Connection", v, sizeof(v)) != NULL && strcasecmp(v, "close") == 0;
    size_t total = head_len + 2 + body_len;
    while (c->len < total)
        if (su_fill(c, (int)(deadline - su_now_ms())) <= 0) {
            su_resp_free(r);
            return -1;
        }
    r->body = strndup(c->buf + head_len + 2, body_len);
    r->body_len = body_len;
    r->json = json_loadb(r->body, body_len, JSON_DECODE_ANY, NULL);
    memmove(c->buf, c->buf + total, c->len - total);
    c->len -= total;
    c->buf[c->len] = '\0';
    return 0;
}

bool
su_closed(struct su_conn *c, int timeout_ms)
{
    int64_t deadline = su_now_ms() + timeout_ms;
    while (su_now_ms() < deadline) {
        size_t before = c->len;
        int rc = su_fill(c, (int)(deadline - su_now_ms()));
        if (rc == 0)
            return c->len == before;
        if (rc < 0 && errno == ECONNRESET)
            return true;
    }
    return false;
}

/* ---- requests and JSON expectations ------------------------------------------------- */

void
su_req(const struct su_server *s, const char *method, const char *path, const char *ctype,
       const char *body, struct su_resp *r)
{
    struct su_conn c;
    assert_int_equal(su_open(&c, s->port), 0);
    size_t blen = body ? strlen(body) : 0;
    char ct[256] = "", auth[256] = "";
    if (ctype != NULL)
        snprintf(ct, sizeof(ct), "Content-Type: %s\r\n", ctype);
    if (s->key != NULL)
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", s->key);
    assert_int_equal(su_sendf(&c, "%s %s HTTP/1.1\r\nHost: t\r\n%s%sContent-Length: %zu\r\n\r\n",
                              method, path, ct, auth, blen),
                     0);
    if (blen > 0)
        assert_int_equal(su_send(&c, body, blen), 0);
    if (su_read(&c, r, s->io_timeout_ms > 0 ? s->io_timeout_ms : SU_IO_TIMEOUT_MS) != 0)
        fail_msg("%s %.200s: no response (%s)", method, path, strerror(errno));
    su_close(&c);
}

void
su_json(const struct su_server *s, const char *method, const char *path, const char *body,
        struct su_resp *r)
{
    su_req(s, method, path, body ? "application/json" : NULL, body, r);
}

void
su_get_ok(const struct su_server *s, const char *path, struct su_resp *r)
{
    su_req(s, "GET", path, NULL, NULL, r);
    if (r->status != 200 || r->json == NULL)
        fail_msg("GET %.200s: %d %.500s", path, r->status, r->body);
}

const char *
su_jstr(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("`%s` is not a string in %.500s", key, json_dumps(o, JSON_COMPACT));
    return json_string_value(v);
}

long long
su_jint(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("`%s` is not an integer in %.500s", key, json_dumps(o, JSON_COMPACT));
    return json_integer_value(v);
}

void
su_expect_error(const struct su_resp *r, int status, const char *code)
{
    if (r->status != status || r->json == NULL)
        fail_msg("expected %d %s, got %d: %.500s", status, code, r->status, r->body);
    assert_int_equal(json_object_size(r->json), 4);
    assert_string_equal(su_jstr(r->json, "code"), code);
    char link[160];
    snprintf(link, sizeof(link), "https://docs.meilisearch.com/errors#%s", code);
    assert_string_equal(su_jstr(r->json, "link"), link);
    assert_true(strlen(su_jstr(r->json, "message")) > 0);
}

void
su_expect_error_type(const struct su_resp *r, int status, const char *code, const char *type)
{
    su_expect_error(r, status, code);
    assert_string_equal(su_jstr(r->json, "type"), type);
}

long long
su_expect_enqueued(const struct su_resp *r, const char *type, const char *index_uid)
{
    if (r->status != 202 || r->json == NULL)
        fail_msg("expected 202 %s, got %d: %.500s", type, r->status, r->body);
    assert_int_equal(json_object_size(r->json), 5);
    assert_string_equal(su_jstr(r->json, "status"), "enqueued");
    assert_string_equal(su_jstr(r->json, "type"), type);
    if (index_uid == NULL)
        assert_true(json_is_null(json_object_get(r->json, "indexUid")));
    else
        assert_string_equal(su_jstr(r->json, "indexUid"), index_uid);
    return su_jint(r->json, "taskUid");
}

json_t *
su_wait_task(const struct su_server *s, long long uid, int timeout_ms)
{
    char path[64];
    snprintf(path, sizeof(path), "/tasks/%lld", uid);
    int64_t deadline = su_now_ms() + timeout_ms;
    int pause_ms = 2;
    while (su_now_ms() < deadline) {
        struct su_resp r;
        su_get_ok(s, path, &r);
        const char *st = su_jstr(r.json, "status");
        if (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
            strcmp(st, "canceled") == 0) {
            json_t *t = json_incref(r.json);
            su_resp_free(&r);
            return t;
        }
        su_resp_free(&r);
        su_sleep_ms(pause_ms);
        pause_ms = pause_ms < 100 ? pause_ms * 2 : 100;
    }
    fail_msg("task %lld did not finish in %d ms", uid, timeout_ms);
    return NULL;
}

json_t *
su_wait_succeeded(const struct su_server *s, long long uid, int timeout_ms)
{
    json_t *t = su_wait_task(s, uid, timeout_ms);
    if (strcmp(su_jstr(t, "status"), "succeeded") != 0)
        fail_msg("task %lld did not succeed: %s", uid, json_dumps(t, JSON_COMPACT));
    return t;
}

json_t *
su_run(const struct su_server *s, const char *method, const char *path, const char *body,
       const char *type, const char *index_uid, int timeout_ms)
{
    return su_wait_succeeded(s, su_enqueue(s, method, path, body, type, index_uid), timeout_ms);
}

long long
su_enqueue(const struct su_server *s, const char *method, const char *path, const char *body,
           const char *type, const char *index_uid)
{
    struct su_resp r;
    su_json(s, method, path, body, &r);
    long long uid = su_expect_enqueued(&r, type, index_uid);
    su_resp_free(&r);
    return uid;
}

void
su_wait_idle(const struct su_server *s, int timeout_ms)
{
    int64_t deadline = su_now_ms() + timeout_ms;
    while (su_now_ms() < deadline) {
        struct su_resp r;
        su_get_ok(s, "/tasks?statuses=enqueued,processing&limit=0", &r);
        long long pending = su_jint(r.json, "total");
        su_resp_free(&r);
        if (pending == 0)
            return;
        su_sleep_ms(20);
    }
    fail_msg("tasks still pending after %d ms", timeout_ms);
}

/* ---- the one-server fixture -------------------------------------------------------------- */

int
su_fixture_setup(void **state, const char *prefix)
{
    struct su_fixture *f = folio_calloc(1, sizeof(*f));
    f->dir = tu_mkdtemp(prefix);
    *state = f;
    return 0;
}

void
su_fixture_start(struct su_fixture *f, const char *const *extra, int io_timeout_ms)
{
    char *db = tu_path(f->dir, "db"), *snaps = tu_path(f->dir, "snapshots");
    char *log = tu_path(f->dir, "foliod.log");
    const char *args[40] = {"--log-level", "debug"};
    size_t n = 2;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 39; i++)
        args[n++] = extra[i];
    f->srv.io_timeout_ms = io_timeout_ms;
    su_start_at(&f->srv, db, snaps, log, args);
    folio_free(db);
    folio_free(snaps);
    folio_free(log);
}

int
su_fixture_teardown(void **state)
{
    struct su_fixture *f = *state;
    int rc = su_cleanup(&f->srv);
    if (getenv("FOLIO_TEST_KEEP") == NULL)
        tu_rmrf(f->dir);
    else
        fprintf(stderr, "kept %s\n", f->dir);
    folio_free(f->dir);
    folio_free(f);
    return rc;
}
