/*
 * A real foliod and a small HTTP/1.1 client for the snapshot tests
 * (foliod_client.h). Raw sockets, Content-Length framing only: foliod answers
 * every route these tests use that way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "folio/common.h"
#include "foliod_client.h"
#include "testutil.h"

#define IO_TIMEOUT_MS 120000

int64_t
fd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
fd_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

void
fd_start(struct fd_server *s, const char *db_path, const char *snapshot_dir, const char *log_path,
         const char *const *extra)
{
    s->db_path = folio_strdup(db_path);
    s->snapshot_dir = folio_strdup(snapshot_dir);
    s->log_path = folio_strdup(log_path);
    const char *argv[40] = {FOLIO_FOLIOD_PATH, "--db-path", db_path, "--http-addr", "127.0.0.1:0",
                            "--snapshot-dir", snapshot_dir, "--log-level", "debug"};
    size_t argc = 9;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && argc < 39; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    int out[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    fflush(NULL);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(out[1], STDOUT_FILENO);
        if (log >= 0)
            dup2(log, STDERR_FILENO);
        execv(FOLIO_FOLIOD_PATH, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    char line[512];
    size_t len = 0;
    int64_t deadline = fd_now_ms() + 60000;
    const char *mark = "listening on http://127.0.0.1:";
    s->port = 0;
    while (s->port == 0 && fd_now_ms() < deadline && len < sizeof(line) - 1) {
        struct pollfd p = {out[0], POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = read(out[0], line + len, sizeof(line) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        line[len] = '\0';
        const char *at = strstr(line, mark);
        if (at != NULL && strchr(at, '\n') != NULL)
            s->port = atoi(at + strlen(mark));
    }
    close(out[0]);
    if (s->port == 0)
        fail_msg("foliod did not start; see %s", log_path);
}

static void
print_log_tail(const char *log_path)
{
    size_t len = 0;
    uint8_t *log = log_path ? tu_read_file(log_path, &len) : NULL;
    if (log == NULL)
        return;
    size_t from = len > 6000 ? len - 6000 : 0;
    fprintf(stderr, "--- end of %s\n%.*s---\n", log_path, (int)(len - from),
            (const char *)log + from);
    folio_free(log);
}

int
fd_stop(struct fd_server *s)
{
    int rc = 0;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int64_t deadline = fd_now_ms() + 60000;
        int status = -1;
        while (fd_now_ms() < deadline) {
            if (waitpid(s->pid, &status, WNOHANG) == s->pid)
                break;
            status = -1;
            fd_sleep_ms(10);
        }
        if (status == -1) {
            fprintf(stderr, "foliod %d did not stop on SIGTERM: killed\n", (int)s->pid);
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            rc = -1;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "foliod ended with wait status %#x after SIGTERM\n", status);
            rc = -1;
        }
        if (rc != 0)
            print_log_tail(s->log_path);
        s->pid = 0;
    }
    folio_free(s->db_path);
    folio_free(s->snapshot_dir);
    folio_free(s->log_path);
    s->db_path = s->snapshot_dir = s->log_path = NULL;
    return rc;
}

/* ---- the client ------------------------------------------------------------------------ */

struct conn {
    int fd;
    char *buf;
    size_t len, cap;
};

static void
conn_send(struct conn *c, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail_msg("send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* >0 read, 0 EOF, -1 timeout or error. */
static int
conn_fill(struct conn *c, int timeout_ms)
{
    struct pollfd p = {c->fd, POLLIN, 0};
    if (timeout_ms <= 0 || poll(&p, 1, timeout_ms) <= 0)
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

const char *
fd_header(const struct fd_resp *r, const char *name, char *out, size_t out_len)
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
conn_read(struct conn *c, struct fd_resp *r)
{
    memset(r, 0, sizeof(*r));
    int64_t deadline = fd_now_ms() + IO_TIMEOUT_MS;
    char *end;
    while ((end = c->len ? strstr(c->buf, "\r\n\r\n") : NULL) == NULL)
        if (conn_fill(c, (int)(deadline - fd_now_ms())) <= 0)
            fail_msg("connection ended before a response head: %.*s", (int)c->len,
                     c->buf ? c->buf : "");
    size_t head_len = (size_t)(end - c->buf) + 2;
    r->head = strndup(c->buf, head_len);
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    char v[64];
    size_t body_len = fd_header(r, "Content-Length", v, sizeof(v)) ? strtoul(v, NULL, 10) : 0;
    size_t total = head_len + 2 + body_len;
    while (c->len < total)
        if (conn_fill(c, (int)(deadline - fd_now_ms())) <= 0)
            fail_msg("connection ended inside a response body");
    r->body = strndup(c->buf + head_len + 2, body_len);
    r->body_len = body_len;
    r->json = json_loadb(r->body, body_len, JSON_DECODE_ANY, NULL);
}

void
fd_req(struct fd_server *s, const char *method, const char *path, const char *ctype,
       const char *body, size_t body_len, struct fd_resp *r)
{
    struct conn c = {.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    assert_true(c.fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(c.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char head[1024];
    int n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: t\r\n", method, path);
    if (ctype != NULL)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Type: %s\r\n", ctype);
    if (s->key != NULL)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Authorization: Bearer %s\r\n", s->key);
    n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n\r\n",
                  body ? body_len : 0);
    assert_true(n > 0 && (size_t)n < sizeof(head));
    conn_send(&c, head, (size_t)n);
    if (body != NULL && body_len > 0)
        conn_send(&c, body, body_len);
    conn_read(&c, r);
    close(c.fd);
    folio_free(c.buf);
}

void
fd_json(struct fd_server *s, const char *method, const char *path, const char *body,
        struct fd_resp *r)
{
    fd_req(s, method, path, body ? "application/json" : NULL, body, body ? strlen(body) : 0, r);
}

void
fd_resp_free(struct fd_resp *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* ---- expectations ------------------------------------------------------------------------ */

const char *
fd_jstr(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("`%s` is not a string in %s", key, json_dumps(o, JSON_COMPACT));
    return json_string_value(v);
}

long long
fd_jint(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("`%s` is not an integer in %s", key, json_dumps(o, JSON_COMPACT));
    return json_integer_value(v);
}

void
fd_expect_error(const struct fd_resp *r, int status, const char *code, const char *type)
{
    if (r->status != status || r->json == NULL || json_object_size(r->json) != 4 ||
        strcmp(fd_jstr(r->json, "code"), code) != 0)
        fail_msg("expected %d %s, got %d: %s", status, code, r->status, r->body);
    assert_string_equal(fd_jstr(r->json, "type"), type ? type : "invalid_request");
    char link[160];
    snprintf(link, sizeof(link), "https://docs.meilisearch.com/errors#%s", code);
    assert_string_equal(fd_jstr(r->json, "link"), link);
    assert_true(strlen(fd_jstr(r->json, "message")) > 0);
}

long long
fd_expect_task(const struct fd_resp *r, const char *type, const char *index_uid)
{
    if (r->status != 202 || r->json == NULL)
        fail_msg("expected 202 %s, got %d: %s", type, r->status, r->body);
    assert_int_equal(json_object_size(r->json), 5);
    assert_string_equal(fd_jstr(r->json, "status"), "enqueued");
    assert_string_equal(fd_jstr(r->json, "type"), type);
    json_t *iu = json_object_get(r->json, "indexUid");
    if (index_uid == NULL)
        assert_true(json_is_null(iu));
    else
        assert_string_equal(json_string_value(iu), index_uid);
    return fd_jint(r->json, "taskUid");
}

void
fd_get(struct fd_server *s, const char *path, struct fd_resp *r)
{
    fd_req(s, "GET", path, NULL, NULL, 0, r);
    if (r->status != 200 || r->json == NULL)
        fail_msg("GET %s: %d %.2000s", path, r->status, r->body);
}

json_t *
fd_wait_task(struct fd_server *s, long long uid, int timeout_ms)
{
    char path[64];
    snprintf(path, sizeof(path), "/tasks/%lld", uid);
    int64_t deadline = fd_now_ms() + timeout_ms;
    int pause_ms = 2;
    while (fd_now_ms() < deadline) {
        struct fd_resp r;
        fd_get(s, path, &r);
        const char *st = fd_jstr(r.json, "status");
        if (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
            strcmp(st, "canceled") == 0) {
            json_t *t = json_incref(r.json);
            fd_resp_free(&r);
            return t;
        }
        fd_resp_free(&r);
        fd_sleep_ms(pause_ms);
        pause_ms = pause_ms < 100 ? pause_ms * 2 : 100;
    }
    fail_msg("task %lld did not finish within %d ms", uid, timeout_ms);
    return NULL;
}

json_t *
fd_wait_succeeded(struct fd_server *s, long long uid, int timeout_ms)
{
    json_t *t = fd_wait_task(s, uid, timeout_ms);
    if (strcmp(fd_jstr(t, "status"), "succeeded") != 0)
        fail_msg("task %lld did not succeed: %s", uid, json_dumps(t, JSON_COMPACT));
    return t;
}

json_t *
fd_run(struct fd_server *s, const char *method, const char *path, const char *body,
       const char *type, const char *index_uid, int timeout_ms)
{
    struct fd_resp r;
    fd_json(s, method, path, body, &r);
    long long uid = fd_expect_task(&r, type, index_uid);
    fd_resp_free(&r);
    return fd_wait_succeeded(s, uid, timeout_ms);
}
