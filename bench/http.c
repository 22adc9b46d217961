/*
 * bench_http: foliod under load over real HTTP. The benchmark starts a real
 * foliod (fork + exec) on a free loopback port with a fresh data directory,
 * and drives it with a small load client: one thread, epoll, non-blocking
 * keep-alive connections, one request in flight per connection (a closed
 * loop, so latency includes the queueing that N concurrent clients cause).
 *
 * Table 1 registers one small document per POST /indexes/bench/documents; a
 * request counts only when its 202 arrives, which foliod sends once the task's
 * task_registered event is durable. After each row the journal is read
 * (folio_journal_reader, read-only, beside the running server) to count the
 * frames, i.e. the group commits and their fdatasyncs, that held the row's
 * registrations. The tasks are applied in the background; after each row the
 * benchmark waits at most --apply-wait for them and cancels the rest, so the
 * next row starts with an idle scheduler. Table 2 builds an index of synthetic
 * documents through the API and runs one kind of search query per row.
 *
 * Each row is bounded by --seconds and --requests; requests in flight when the
 * time is up are still waited for (at most 30 s) and counted. Nothing here
 * checks a timing: a missed target prints MISSED. Exit status 1 means the
 * benchmark itself broke (foliod did not start, the index build failed).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"
#include "folio/journal.h"

#ifndef FOLIO_BENCH_FOLIOD_PATH
#define FOLIO_BENCH_FOLIOD_PATH "foliod"
#endif

#define CONN_COUNTS_MAX 16
#define REQ_BYTES_MAX 4096        /* one generated request (line, headers, body) */
#define RESP_BYTES_MAX (1u << 20) /* one answer; a larger one is an error */
#define DRAIN_NS 30000000000ll    /* wait for requests in flight after the run */
#define VOCAB 4000
#define GENRES 20
#define QUERIES 1000
#define BUILD_BATCH 10000
#define TASK_WAIT_NS 600000000000ll /* the index build may take minutes on a busy machine */

struct opts {
    const char *foliod;
    const char *tmp;
    const char *log_level;
    double seconds, apply_wait_s;
    uint64_t requests_max;
    unsigned conns[CONN_COUNTS_MAX];
    size_t conn_count;
    unsigned docs;
    bool skip_search, skip_register, keep;
};

/* ---- synthetic text ------------------------------------------------------- */

static uint64_t rng = 0x68747470ull;
static struct bench_vocab vocab; /* VOCAB words (benchutil.h) */
static const char *const genres[GENRES] = {
    "drama",   "comedy",  "thriller", "western", "horror",    "romance", "satire",
    "mystery", "fantasy", "history",  "war",     "musical",   "crime",   "family",
    "sport",   "travel",  "science",  "poetry",  "biography", "noir",
};

static uint64_t
next_rand(void)
{
    return bench_rand(&rng);
}

static unsigned
rand_below(unsigned n)
{
    return (unsigned)(next_rand() % n);
}

static const char *
zipf_word(void)
{
    return bench_vocab_word(&vocab, &rng);
}

/* Appends count words separated by spaces at buf + n; returns the new length. */
static size_t
append_words(char *buf, size_t n, unsigned count)
{
    return bench_vocab_words(&vocab, &rng, buf, n, count);
}

/* ---- HTTP answers ------------------------------------------------------------ */

struct answer {
    int status;
    size_t body_off, body_len, total_len;
    bool close;
};

/*
 * Reads one answer at the start of buf: 1 when it is whole (a filled),
 * 0 when more bytes are needed, -1 when it is not an answer this client reads
 * (no Content-Length, chunked, oversized).
 */
static int
answer_parse(const char *buf, size_t len, struct answer *a)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL)
        return len > 16384 ? -1 : 0;
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    a->status = atoi(buf + 9);
    a->body_off = (size_t)(end - buf) + 4;
    a->close = false;
    long long content_length = -1;
    /* buf is not NUL-terminated: every search stays inside the header block. */
    const char *line = (const char *)memmem(buf, (size_t)(end - buf) + 2, "\r\n", 2) + 2;
    for (; line < end; line = (const char *)memmem(line, (size_t)(end - line) + 2, "\r\n", 2) + 2) {
        if (strncasecmp(line, "content-length:", 15) == 0)
            content_length = atoll(line + 15);
        else if (strncasecmp(line, "connection:", 11) == 0 &&
                 strncasecmp(line + 11 + strspn(line + 11, " "), "close", 5) == 0)
            a->close = true;
    }
    if (content_length < 0 || (size_t)content_length > RESP_BYTES_MAX)
        return -1;
    a->body_len = (size_t)content_length;
    a->total_len = a->body_off + a->body_len;
    return len >= a->total_len ? 1 : 0;
}

static int
connect_loopback(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * One blocking request on a fresh connection (set-up work, not measured).
 * Returns the status and, in *body (folio_free), the NUL-terminated body;
 * -1 if the exchange failed.
 */
static int
http_call(int port, const char *method, const char *path, const char *ctype, const char *data,
          size_t data_len, char **body)
{
    *body = NULL;
    int fd = connect_loopback(port);
    if (fd < 0)
        return -1;
    char head[512];
    int head_len = snprintf(head, sizeof(head),
                            "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                            "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                            method, path, ctype, data_len);
    int status = -1;
    size_t cap = 1 << 16, len = 0;
    char *in = folio_malloc(cap + 1);
    if (write(fd, head, (size_t)head_len) != head_len)
        goto out;
    for (size_t off = 0; off < data_len;) {
        ssize_t w = write(fd, data + off, data_len - off);
        if (w <= 0)
            goto out;
        off += (size_t)w;
    }
    struct answer a;
    for (;;) {
        if (len == cap) {
            cap *= 2;
            in = folio_realloc(in, cap + 1);
        }
        ssize_t r = read(fd, in + len, cap - len);
        if (r <= 0)
            goto out;
        len += (size_t)r;
        int pr = answer_parse(in, len, &a);
        if (pr < 0)
            goto out;
        if (pr == 1)
            break;
    }
    status = a.status;
    *body = folio_malloc(a.body_len + 1);
    memcpy(*body, in + a.body_off, a.body_len);
    (*body)[a.body_len] = '\0';
out:
    folio_free(in);
    close(fd);
    return status;
}

/* The integer after "key": in a JSON body, or -1. */
static long long
json_int(const char *body, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = body != NULL ? strstr(body, pat) : NULL;
    return p == NULL ? -1 : atoll(p + strlen(pat));
}

/*
 * Polls GET /tasks/{uid} every 20 ms until the task has finished. Returns 0 if
 * it succeeded, 1 if it is still enqueued or processing at deadline_ns, -1 if
 * it failed, was canceled or could not be asked about (printed).
 */
static int
task_wait_until(int port, long long uid, int64_t deadline_ns)
{
    char path[64];
    snprintf(path, sizeof(path), "/tasks/%lld", uid);
    while (bench_now_ns() < deadline_ns) {
        char *body = NULL;
        int status = http_call(port, "GET", path, "application/json", "", 0, &body);
        bool done = body != NULL && strstr(body, "\"status\":\"succeeded\"") != NULL;
        bool failed = body != NULL && (strstr(body, "\"status\":\"failed\"") != NULL ||
                                       strstr(body, "\"status\":\"canceled\"") != NULL);
        if (status != 200 || failed)
            fprintf(stderr, "bench_http: task %lld: %d %s\n", uid, status, body ? body : "");
        folio_free(body);
        if (done)
            return 0;
        if (status != 200 || failed)
            return -1;
        bench_sleep_ns(20000000);
    }
    return 1;
}

/* Waits for a set-up task: 0 if it succeeded, else -1 (printed). */
static int
task_wait(int port, long long uid)
{
    int rc = task_wait_until(port, uid, bench_now_ns() + TASK_WAIT_NS);
    if (rc == 1)
        fprintf(stderr, "bench_http: task %lld still not finished\n", uid);
    return rc == 0 ? 0 : -1;
}

/* The number of tasks of index uid with status, from GET /tasks' total; -1 if unknown. */
static long long
tasks_count(int port, const char *uid, const char *status)
{
    char path[160], *body = NULL;
    snprintf(path, sizeof(path), "/tasks?indexUids=%s&statuses=%s&limit=1", uid, status);
    int code = http_call(port, "GET", path, "application/json", "", 0, &body);
    long long total = code == 200 ? json_int(body, "total") : -1;
    folio_free(body);
    return total;
}

/* Registers one task (answered with ok_status); returns its uid or -1. */
static long long
task_post(int port, const char *method, const char *path, const char *data, size_t len,
          int ok_status)
{
    char *body = NULL;
    int status = http_call(port, method, path, "application/json", data, len, &body);
    long long task = status == ok_status ? json_int(body, "taskUid") : -1;
    if (task < 0)
        fprintf(stderr, "bench_http: %s %s: %d %s\n", method, path, status, body ? body : "");
    folio_free(body);
    return task;
}

/* ---- foliod -------------------------------------------------------------- */

struct server {
    pid_t pid;
    int port;
    char *db;
    char *log_path;
};

/* Reads "foliod: listening on http://127.0.0.1:PORT" from fd; the port or 0. */
static int
read_port(int fd)
{
    char line[512];
    size_t len = 0;
    int64_t deadline = bench_now_ns() + 60000000000ll;
    while (bench_now_ns() < deadline && len < sizeof(line) - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        line[len] = '\0';
        const char *at = strstr(line, "listening on http://127.0.0.1:");
        if (at != NULL && strchr(at, '\n') != NULL)
            return atoi(at + strlen("listening on http://127.0.0.1:"));
    }
    return 0;
}

static int
server_start(struct server *s, const struct opts *o, const char *dir)
{
    char snaps[PATH_MAX];
    s->db = folio_malloc(PATH_MAX);
    s->log_path = folio_malloc(PATH_MAX);
    snprintf(s->db, PATH_MAX, "%s/db", dir);
    snprintf(snaps, sizeof(snaps), "%s/snapshots", dir);
    snprintf(s->log_path, PATH_MAX, "%s/foliod.log", dir);
    const char *argv[] = {
        o->foliod,        "--db-path", s->db,         "--http-addr", "127.0.0.1:0",
        "--snapshot-dir", snaps,       "--log-level", o->log_level,  NULL};
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        int log = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        dup2(out[1], STDOUT_FILENO);
        if (log >= 0)
            dup2(log, STDERR_FILENO);
        execv(o->foliod, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    s->port = read_port(out[0]);
    close(out[0]);
    if (s->port == 0) {
        fprintf(stderr, "bench_http: %s did not start; see %s\n", o->foliod, s->log_path);
        return -1;
    }
    return 0;
}

/* SIGTERM, then up to 60 s for the orderly shutdown, then SIGKILL. */
static void
server_stop(struct server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int status = 0;
        int64_t deadline = bench_now_ns() + 60000000000ll;
        pid_t r = 0;
        while ((r = waitpid(s->pid, &status, WNOHANG)) == 0 && bench_now_ns() < deadline)
            bench_sleep_ns(10000000);
        if (r == 0) {
            fprintf(stderr, "bench_http: foliod did not stop after SIGTERM; killing it\n");
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench_http: foliod ended with status 0x%x; see %s\n", status,
                    s->log_path);
        }
        s->pid = 0;
    }
    folio_free(s->db);
    folio_free(s->log_path);
    s->db = s->log_path = NULL;
}

/* ---- foliod's threads (CPU time from /proc) ------------------------------- */

#define THREADS_MAX 32

struct thread_cpu {
    size_t count;
    int tid[THREADS_MAX];
    double seconds[THREADS_MAX];
};

static double
tid_cpu_seconds(pid_t pid, int tid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15. */
    const char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static int
int_cmp(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

static void
thread_cpu_read(pid_t pid, struct thread_cpu *t)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    t->count = 0;
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && t->count < THREADS_MAX)
        if (e->d_name[0] != '.')
            t->tid[t->count++] = atoi(e->d_name);
    closedir(d);
    qsort(t->tid, t->count, sizeof(t->tid[0]), int_cmp);
    for (size_t i = 0; i < t->count; i++)
        t->seconds[i] = tid_cpu_seconds(pid, t->tid[i]);
}

/*
 * "main 68% 40us, t2 0% 0us, ...": each thread's CPU over the interval (by
 * age) as a share of wall_s and per request (of requests).
 */
static void
thread_cpu_format(const struct thread_cpu *before, const struct thread_cpu *after, pid_t pid,
                  double wall_s, uint64_t requests, char *out, size_t out_len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < after->count && n < out_len; i++) {
        double prev = 0;
        for (size_t k = 0; k < before->count; k++)
            if (before->tid[k] == after->tid[i])
                prev = before->seconds[k];
        double cpu_s = after->seconds[i] - prev;
        double us = requests ? cpu_s / (double)requests * 1e6 : 0;
        if (after->tid[i] == (int)pid)
            n += (size_t)snprintf(out + n, out_len - n, "%smain %.0f%% %.0fus", n ? ", " : "",
                                  cpu_s / wall_s * 100, us);
        else
            n += (size_t)snprintf(out + n, out_len - n, "%st%zu %.0f%% %.0fus", n ? ", " : "",
                                  i + 1, cpu_s / wall_s * 100, us);
    }
}

/* ---- the load client --------------------------------------------------------- */

struct load_spec {
    unsigned connections;
    double seconds;
    uint64_t requests_max;
    /* Writes request number n into out (REQ_BYTES_MAX); returns its length. */
    size_t (*make)(void *ctx, uint64_t n, char *out);
    /* Sees each whole answer; returns true if it counts as a success. */
    bool (*check)(void *ctx, int status, const char *body, size_t len);
    void *ctx;
};

struct load_result {
    uint64_t ok, errors, issued;
    double wall_s, client_cpu_s;
    struct bench_hist hist; /* latency of the successes */
};

struct load_conn {
    int fd;
    bool busy;
    char out[REQ_BYTES_MAX];
    size_t out_len, out_off;
    char *in;
    size_t in_len;
    int64_t sent_ns;
};

struct load {
    const struct load_spec *spec;
    struct load_result *res;
    int port, ep;
    int64_t end_ns;
    unsigned active;
};

static int
conn_open(struct load *l, struct load_conn *c)
{
    c->fd = connect_loopback(l->port);
    if (c->fd < 0)
        return -1;
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->in_len = 0;
    c->busy = false;
    return 0;
}

static void
conn_close(struct load *l, struct load_conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        l->active--;
    }
}

/* Writes what is left of the request; asks for EPOLLOUT while some is. */
static int
conn_flush(struct load *l, struct load_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        if (w <= 0)
            return -1;
        c->out_off += (size_t)w;
    }
    struct epoll_event ev = {.events = EPOLLIN | (c->out_off < c->out_len ? EPOLLOUT : 0),
                             .data.ptr = c};
    return epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends the next request, or closes the connection when the run is over. */
static void
conn_next(struct load *l, struct load_conn *c)
{
    const struct load_spec *s = l->spec;
    if (bench_now_ns() >= l->end_ns || l->res->issued >= s->requests_max) {
        conn_close(l, c);
        return;
    }
    c->out_len = s->make(s->ctx, l->res->issued++, c->out);
    c->out_off = 0;
    c->busy = true;
    c->sent_ns = bench_now_ns();
    if (conn_flush(l, c) != 0) {
        l->res->errors++;
        conn_close(l, c);
    }
}

/* A broken connection: its request counts as an error; a new one replaces it. */
static void
conn_broken(struct load *l, struct load_conn *c)
{
    if (c->busy)
        l->res->errors++;
    conn_close(l, c);
    if (bench_now_ns() < l->end_ns && conn_open(l, c) == 0) {
        l->active++;
        conn_next(l, c);
    }
}

static void
conn_readable(struct load *l, struct load_conn *c)
{
    for (;;) {
        if (c->in_len == RESP_BYTES_MAX) {
            conn_broken(l, c);
            return;
        }
        ssize_t r = read(c->fd, c->in + c->in_len, RESP_BYTES_MAX - c->in_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return;
        if (r <= 0) {
            conn_broken(l, c);
            return;
        }
        c->in_len += (size_t)r;
        struct answer a;
        int pr = answer_parse(c->in, c->in_len, &a);
        if (pr < 0 || (pr == 1 && (!c->busy || c->in_len != a.total_len))) {
            conn_broken(l, c); /* unreadable, unasked for, or more than one answer */
            return;
        }
        if (pr == 0)
            continue;
        int64_t latency_ns = bench_now_ns() - c->sent_ns;
        c->busy = false;
        c->in_len = 0;
        if (l->spec->check(l->spec->ctx, a.status, c->in + a.body_off, a.body_len)) {
            l->res->ok++;
            bench_hist_add(&l->res->hist, (uint64_t)latency_ns);
        } else {
            l->res->errors++;
        }
        if (a.close)
            conn_broken(l, c);
        else
            conn_next(l, c);
        return;
    }
}

/*
 * Runs spec against the server on port: opens the connections, then keeps one
 * request in flight on each until the time or the request budget is spent,
 * then waits for the last answers. res->hist must be initialised.
 */
static int
load_run(int port, const struct load_spec *spec, struct load_result *res)
{
    struct load l = {.spec = spec, .res = res, .port = port};
    struct load_conn *conns = folio_calloc(spec->connections, sizeof(*conns));
    for (unsigned i = 0; i < spec->connections; i++)
        conns[i].fd = -1;
    l.ep = epoll_create1(EPOLL_CLOEXEC);
    int rc = l.ep < 0 ? -1 : 0;
    for (unsigned i = 0; i < spec->connections && rc == 0; i++) {
        conns[i].in = folio_malloc(RESP_BYTES_MAX);
        rc = conn_open(&l, &conns[i]);
        l.active += rc == 0;
    }
    if (rc != 0) {
        fprintf(stderr, "bench_http: cannot open %u connections: %s\n", spec->connections,
                strerror(errno));
        goto out;
    }
    double cpu0 = bench_cpu_seconds();
    int64_t start = bench_now_ns();
    l.end_ns = start + (int64_t)(spec->seconds * 1e9);
    for (unsigned i = 0; i < spec->connections; i++)
        conn_next(&l, &conns[i]);
    struct epoll_event evs[256];
    while (l.active > 0 && bench_now_ns() < l.end_ns + DRAIN_NS) {
        int n = epoll_wait(l.ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            struct load_conn *c = evs[i].data.ptr;
            if (c->fd < 0)
                continue;
            if ((evs[i].events & EPOLLOUT) && conn_flush(&l, c) != 0)
                conn_broken(&l, c);
            else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                conn_readable(&l, c);
        }
    }
    res->wall_s = (double)(bench_now_ns() - start) / 1e9;
    res->client_cpu_s = bench_cpu_seconds() - cpu0;
    for (unsigned i = 0; i < spec->connections; i++) {
        if (conns[i].fd >= 0 && conns[i].busy)
            res->errors++; /* no answer within DRAIN_NS */
        conn_close(&l, &conns[i]);
    }
out:
    for (unsigned i = 0; i < spec->connections; i++) {
        conn_close(&l, &conns[i]);
        folio_free(conns[i].in);
    }
    folio_free(conns);
    if (l.ep >= 0)
        close(l.ep);
    return rc;
}

static void
load_print_errors_once(unsigned *printed, int status, const char *body, size_t len)
{
    if (*printed >= 3)
        return;
    (*printed)++;
    fprintf(stderr, "bench_http: unexpected answer %d: %.*s\n", status,
            (int)(len > 300 ? 300 : len), body);
}

/* ---- the journal: group commits of the registrations ----------------------- */

struct journal_count {
    uint64_t next_seq;
    uint64_t events, frames;
    uint64_t reg_events, reg_frames; /* task_registered events; frames holding one or more */
};

/*
 * Reads the journal of the running server from jc->next_seq to its current end
 * and adds to the counts. Each frame is one group commit with one fdatasync.
 * The server may be writing the tail: a frame it has not finished ends the
 * read and is counted by the next call.
 */
static void
journal_count(const char *db, struct journal_count *jc)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/journal", db);
    struct folio_journal_reader *r = NULL;
    struct folio_journal_diag diag;
    if (folio_journal_reader_open(dir, jc->next_seq, 0, &r, &diag) != 0) {
        fprintf(stderr, "bench_http: cannot read the journal in %s\n", dir);
        return;
    }
    struct folio_journal_record rec;
    uint64_t events = 0, reg_events = 0;
    bool frame_has_reg = false;
    int rc;
    while ((rc = folio_journal_reader_next(r, &rec, &diag)) == 0) {
        enum folio_event_type type = FOLIO_EV_NONE;
        folio_event_peek(rec.data, rec.len, NULL, &type, NULL);
        events++;
        if (type == FOLIO_EV_TASK_REGISTERED) {
            reg_events++;
            frame_has_reg = true;
        }
        if (rec.frame_last) {
            jc->frames++;
            jc->reg_frames += frame_has_reg;
            jc->events += events;
            jc->reg_events += reg_events;
            jc->next_seq = rec.seq + 1;
            events = reg_events = 0;
            frame_has_reg = false;
        }
    }
    if (rc == FOLIO_E_CORRUPT)
        fprintf(stderr, "bench_http: journal check failed in %s at offset %llu\n", diag.segment,
                (unsigned long long)diag.offset);
    folio_journal_reader_close(r);
}

/* ---- table 1: registrations ------------------------------------------------ */

struct reg_ctx {
    uint64_t doc_base;
    long long task_uid_max;
    unsigned printed;
};

static size_t
reg_make(void *ctx, uint64_t n, char *out)
{
    struct reg_ctx *g = ctx;
    char body[512];
    size_t len =
        (size_t)sprintf(body, "{\"id\":%llu,\"title\":\"", (unsigned long long)(g->doc_base + n));
    len = append_words(body, len, 3);
    len += (size_t)sprintf(body + len, "\",\"body\":\"");
    len = append_words(body, len, 8);
    len += (size_t)sprintf(body + len, "\",\"year\":%u}", 1950 + rand_below(76));
    return (size_t)sprintf(out,
                           "POST /indexes/bench/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                           len, body);
}

static bool
reg_check(void *ctx, int status, const char *body, size_t len)
{
    struct reg_ctx *g = ctx;
    if (status != 202) {
        load_print_errors_once(&g->printed, status, body, len);
        return false;
    }
    const char *p = memmem(body, len, "\"taskUid\":", 10);
    long long uid = p != NULL ? atoll(p + 10) : -1;
    if (uid > g->task_uid_max)
        g->task_uid_max = uid;
    return p != NULL;
}

static void
print_rule(size_t columns, const int *widths)
{
    for (size_t i = 0; i < columns; i++) {
        printf("|");
        for (int k = 0; k < widths[i] + 2; k++)
            putchar('-');
    }
    printf("|\n");
}

struct reg_row {
    struct load_result res;
    struct journal_count jc;
    double server_cpu_s, applied_per_s, load;
    long long canceled; /* tasks still waiting when --apply-wait ran out */
    char threads[384];
};

/*
 * The row's tasks are applied in the background, during the row and after
 * it. Waits up to --apply-wait for the last one, measures the rate at which
 * they were applied, then cancels what is left so that the next row (and the
 * search table) starts with an idle scheduler.
 */
static int
reg_row_settle(const struct opts *o, const struct server *s, const struct reg_ctx *g,
               long long applied0, int64_t t0_ns, struct reg_row *row)
{
    int rc = 0;
    if (g->task_uid_max >= 0)
        rc = task_wait_until(s->port, g->task_uid_max,
                             bench_now_ns() + (int64_t)(o->apply_wait_s * 1e9));
    long long applied1 = tasks_count(s->port, "bench", "succeeded");
    row->applied_per_s = (double)(applied1 - applied0) / ((double)(bench_now_ns() - t0_ns) / 1e9);
    row->canceled = 0;
    if (rc != 1)
        return rc;
    long long waiting = tasks_count(s->port, "bench", "enqueued,processing");
    long long cancel = task_post(s->port, "POST",
                                 "/tasks/cancel?statuses=enqueued,processing&"
                                 "indexUids=bench",
                                 "", 0, 200);
    if (cancel < 0 || task_wait(s->port, cancel) != 0)
        return -1;
    row->canceled = waiting;
    return 0;
}

static int
reg_row_run(const struct opts *o, const struct server *s, unsigned conns, struct reg_ctx *g,
            struct reg_row *row)
{
    struct load_spec spec = {.connections = conns,
                             .seconds = o->seconds,
                             .requests_max = o->requests_max,
                             .make = reg_make,
                             .check = reg_check,
                             .ctx = g};
    struct journal_count before;
    journal_count(s->db, &row->jc);
    before = row->jc;
    struct thread_cpu t0, t1;
    thread_cpu_read(s->pid, &t0);
    row->load = bench_loadavg();
    g->task_uid_max = -1;
    long long applied0 = tasks_count(s->port, "bench", "succeeded");
    int64_t t0_ns = bench_now_ns();
    int rc = load_run(s->port, &spec, &row->res);
    g->doc_base += row->res.issued;
    thread_cpu_read(s->pid, &t1);
    thread_cpu_format(&t0, &t1, s->pid, row->res.wall_s, row->res.ok, row->threads,
                      sizeof(row->threads));
    row->server_cpu_s = 0;
    for (size_t i = 0; i < t1.count; i++)
        row->server_cpu_s += t1.seconds[i];
    for (size_t i = 0; i < t0.count; i++)
        row->server_cpu_s -= t0.seconds[i];
    if (rc == 0)
        rc = reg_row_settle(o, s, g, applied0, t0_ns, row);
    journal_count(s->db, &row->jc);
    row->jc.events -= before.events;
    row->jc.frames -= before.frames;
    row->jc.reg_events -= before.reg_events;
    row->jc.reg_frames -= before.reg_frames;
    return rc;
}

static void
reg_row_print(unsigned conns, const struct reg_row *row, const int *w)
{
    const struct load_result *r = &row->res;
    char c1[32], c2[32];
    double per_s = (double)r->ok / r->wall_s;
    double fsyncs_1k = r->ok ? (double)row->jc.reg_frames / (double)r->ok * 1000 : 0;
    double per_frame =
        row->jc.reg_frames ? (double)row->jc.reg_events / (double)row->jc.reg_frames : 0;
    char c3[32], c4[32];
    printf("| %*u | %*s | %*s | %*.2f | %*.2f | %*.2f | %*llu | %*.1f | %*.1f | %*.0f | %*.0f | "
           "%*s | %*s | %*.2f |\n",
           w[0], conns, w[1], bench_fmt_count(c1, (double)r->ok), w[2], bench_fmt_count(c2, per_s),
           w[3], bench_hist_quantile_ns(&r->hist, 0.5) / 1e6, w[4],
           bench_hist_quantile_ns(&r->hist, 0.99) / 1e6, w[5], (double)r->hist.max_ns / 1e6, w[6],
           (unsigned long long)r->errors, w[7], fsyncs_1k, w[8], per_frame, w[9],
           r->client_cpu_s / r->wall_s * 100, w[10], row->server_cpu_s / r->wall_s * 100, w[11],
           bench_fmt_count(c3, row->applied_per_s), w[12],
           bench_fmt_count(c4, (double)row->canceled), w[13], row->load);
}

/* Creates an index and waits for it; 0 or -1. */
static int
index_create(int port, const char *uid)
{
    char body_in[128];
    int n = snprintf(body_in, sizeof(body_in), "{\"uid\":\"%s\",\"primaryKey\":\"id\"}", uid);
    long long task = task_post(port, "POST", "/indexes", body_in, (size_t)n, 202);
    return task >= 0 ? task_wait(port, task) : -1;
}

static int
table_register(const struct opts *o, const struct server *s)
{
    printf("\n## 1. Registrations: POST /indexes/bench/documents, one document per request\n\n");
    if (index_create(s->port, "bench") != 0)
        return -1;
    static const char *const heads[] = {
        "conns",     "202s",      "req/s",       "p50 ms",      "p99 ms",    "max ms",   "errors",
        "fsyncs/1k", "reg/fsync", "client cpu%", "foliod cpu%", "applied/s", "canceled", "load"};
    static const int w[] = {5, 10, 8, 7, 7, 7, 6, 9, 9, 11, 11, 9, 8, 5};
    size_t cols = sizeof(w) / sizeof(w[0]);
    struct reg_row *rows = folio_calloc(o->conn_count, sizeof(*rows));
    struct reg_ctx g = {.doc_base = 1};
    struct journal_count jc = {.next_seq = 1};
    int rc = 0;
    for (size_t i = 0; i < cols; i++)
        printf("| %*s ", w[i], heads[i]);
    printf("|\n");
    print_rule(cols, w);
    for (size_t i = 0; i < o->conn_count && rc == 0; i++) {
        bench_hist_init(&rows[i].res.hist);
        rows[i].jc = jc;
        rc = reg_row_run(o, s, o->conns[i], &g, &rows[i]);
        jc.next_seq = rows[i].jc.next_seq;
        reg_row_print(o->conns[i], &rows[i], w);
        fflush(stdout);
    }
    printf("\nCPU per 202 (user + system), and foliod's threads: share of one CPU and time per "
           "202\n(main runs the libev loop; t2.. in start order). The ceiling is what the CPUs "
           "could serve\nat that cost if nothing else ran on them:\n");
    for (size_t i = 0; i < o->conn_count; i++) {
        const struct load_result *r = &rows[i].res;
        if (r->wall_s <= 0 || r->ok == 0)
            continue;
        double client_us = r->client_cpu_s / (double)r->ok * 1e6;
        double server_us = rows[i].server_cpu_s / (double)r->ok * 1e6;
        char c[32];
        printf("  %3u conns: client %.0fus + foliod %.0fus, ceiling %s/s; %s\n", o->conns[i],
               client_us, server_us,
               bench_fmt_count(c, (double)sysconf(_SC_NPROCESSORS_ONLN) * 1e6 /
                                      (client_us + server_us)),
               rows[i].threads);
    }
    size_t last = o->conn_count - 1;
    if (rows[last].res.wall_s > 0) {
        double per_s = (double)rows[last].res.ok / rows[last].res.wall_s;
        char c[32];
        printf("\ntarget: >= 20,000 durable registrations/s over HTTP with 64 connections: "
               "%s/s with %u: %s\n",
               bench_fmt_count(c, per_s), o->conns[last],
               o->conns[last] != 64 ? "not measured at 64"
               : per_s >= 20000     ? "MET"
                                    : "MISSED");
    }
    for (size_t i = 0; i < o->conn_count; i++)
        bench_hist_free(&rows[i].res.hist);
    folio_free(rows);
    return rc;
}

/* ---- table 2: search ------------------------------------------------------ */

/* Writes document i: id, title (3-8 words), body (20-60 words), genre, year. */
static size_t
doc_append(char *buf, size_t n, unsigned i)
{
    n += (size_t)sprintf(buf + n, "{\"id\":%u,\"title\":\"", i);
    n = append_words(buf, n, 3 + rand_below(6));
    n += (size_t)sprintf(buf + n, "\",\"body\":\"");
    n = append_words(buf, n, 20 + rand_below(41));
    return n + (size_t)sprintf(buf + n, "\",\"genre\":\"%s\",\"year\":%u}",
                               genres[rand_below(GENRES)], 1950 + rand_below(76));
}

/*
 * Builds bench_search through the API: the documents in payloads of
 * BUILD_BATCH, then filterableAttributes [genre, year], each waited for.
 */
static int
index_build(int port, unsigned docs)
{
    if (index_create(port, "bench_search") != 0)
        return -1;
    char *buf = folio_malloc((size_t)BUILD_BATCH * 1200 + 16);
    double bytes = 0;
    long long first = -1, last = -1;
    int64_t t0 = bench_now_ns();
    for (unsigned start = 0; start < docs; start += BUILD_BATCH) {
        size_t n = (size_t)sprintf(buf, "[");
        for (unsigned i = start; i < start + BUILD_BATCH && i < docs; i++)
            n = doc_append(buf, n + (size_t)sprintf(buf + n, "%s", i > start ? "," : ""), i);
        n += (size_t)sprintf(buf + n, "]");
        bytes += (double)n;
        last = task_post(port, "POST", "/indexes/bench_search/documents", buf, n, 202);
        if (last < 0)
            break;
        first = first < 0 ? last : first;
    }
    folio_free(buf);
    int64_t t_sent = bench_now_ns();
    int rc = last < 0 ? -1 : 0;
    for (long long t = first; rc == 0 && t <= last; t++)
        rc = task_wait(port, t);
    int64_t t_docs = bench_now_ns();
    static const char settings[] = "{\"filterableAttributes\":[\"genre\",\"year\"]}";
    long long st = rc == 0 ? task_post(port, "PATCH", "/indexes/bench_search/settings", settings,
                                       strlen(settings), 202)
                           : -1;
    rc = st < 0 ? -1 : task_wait(port, st);
    if (rc == 0) {
        char c[32];
        double s_docs = (double)(t_docs - t0) / 1e9;
        printf("index: %u documents (%.1f MB of JSON) in payloads of %u: sent in %.2f s, applied "
               "after %.2f s (%s documents/s); filterableAttributes [genre, year] then took "
               "%.2f s\n\n",
               docs, bytes / 1e6, BUILD_BATCH, (double)(t_sent - t0) / 1e9, s_docs,
               bench_fmt_count(c, docs / s_docs), (double)(bench_now_ns() - t_docs) / 1e9);
    }
    return rc;
}

enum kind { K_ONE, K_TWO, K_ONE_FILTER, K_FILTER_ONLY, K_COUNT };

static const char *const kind_names[K_COUNT] = {"1 word", "2 words", "1 word + filter",
                                                "filter only"};

struct search_ctx {
    char (*bodies)[256]; /* QUERIES request bodies */
    size_t *lens;
    double hits;
    unsigned printed;
    bool route_missing;
};

static void
query_make(enum kind k, char *out, size_t *len)
{
    char q[64] = "", filter[96] = "";
    switch (k) {
    case K_ONE:
        snprintf(q, sizeof(q), "%s", zipf_word());
        break;
    case K_TWO:
        snprintf(q, sizeof(q), "%s %s", zipf_word(), zipf_word());
        break;
    case K_ONE_FILTER:
        snprintf(q, sizeof(q), "%s", zipf_word());
        snprintf(filter, sizeof(filter), "genre = %s AND year > %u", genres[rand_below(GENRES)],
                 1950 + rand_below(76));
        break;
    default:
        snprintf(filter, sizeof(filter), "genre IN [%s, %s] AND year 1990 TO 2000",
                 genres[rand_below(GENRES)], genres[rand_below(GENRES)]);
        break;
    }
    if (filter[0] != '\0')
        *len = (size_t)sprintf(out, "{\"q\":\"%s\",\"limit\":20,\"filter\":\"%s\"}", q, filter);
    else
        *len = (size_t)sprintf(out, "{\"q\":\"%s\",\"limit\":20}", q);
}

static size_t
search_make(void *ctx, uint64_t n, char *out)
{
    struct search_ctx *x = ctx;
    size_t i = (size_t)(n % QUERIES);
    return (size_t)sprintf(out,
                           "POST /indexes/bench_search/search HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                           x->lens[i], x->bodies[i]);
}

static bool
search_check(void *ctx, int status, const char *body, size_t len)
{
    struct search_ctx *x = ctx;
    const char *p = memmem(body, len, "\"estimatedTotalHits\":", 21);
    if (status == 200 && p != NULL) {
        x->hits += (double)atoll(p + 21);
        return true;
    }
    if (status == 404 && memmem(body, len, "\"code\":\"not_found\"", 18) != NULL)
        x->route_missing = true;
    load_print_errors_once(&x->printed, status, body, len);
    return false;
}

/* 1 if POST /indexes/{uid}/search is a route of this foliod, 0 if not, -1 if unreachable. */
static int
search_served(int port)
{
    static const char q[] = "{\"q\":\"a\",\"limit\":1}";
    char *body = NULL;
    int status = http_call(port, "POST", "/indexes/bench_search/search", "application/json", q,
                           strlen(q), &body);
    bool route_missing =
        status == 404 && body != NULL && strstr(body, "\"code\":\"not_found\"") != NULL;
    folio_free(body);
    return status < 0 ? -1 : !route_missing;
}

struct search_row {
    double per_s, p50_ms, p90_ms, p99_ms, max_ms, mean_hits, load;
    uint64_t errors;
};

static int
search_row_run(const struct opts *o, const struct server *s, enum kind k, unsigned conns,
               struct search_row *row)
{
    struct search_ctx x = {.bodies = folio_calloc(QUERIES, sizeof(*x.bodies)),
                           .lens = folio_calloc(QUERIES, sizeof(size_t))};
    for (size_t i = 0; i < QUERIES; i++)
        query_make(k, x.bodies[i], &x.lens[i]);
    struct load_spec spec = {.connections = conns,
                             .seconds = o->seconds,
                             .requests_max = o->requests_max,
                             .make = search_make,
                             .check = search_check,
                             .ctx = &x};
    struct load_result res = {0};
    bench_hist_init(&res.hist);
    row->load = bench_loadavg();
    int rc = load_run(s->port, &spec, &res);
    row->per_s = (double)res.ok / res.wall_s;
    row->p50_ms = bench_hist_quantile_ns(&res.hist, 0.5) / 1e6;
    row->p90_ms = bench_hist_quantile_ns(&res.hist, 0.9) / 1e6;
    row->p99_ms = bench_hist_quantile_ns(&res.hist, 0.99) / 1e6;
    row->max_ms = (double)res.hist.max_ns / 1e6;
    row->mean_hits = res.ok ? x.hits / (double)res.ok : 0;
    row->errors = res.errors;
    if (x.route_missing)
        rc = 1;
    bench_hist_free(&res.hist);
    folio_free(x.bodies);
    folio_free(x.lens);
    return rc;
}

static void
search_verdicts(const struct opts *o, const struct search_row *rows)
{
    printf("\ntarget: search p99 < 10 ms for one- and two-word queries:\n");
    for (int k = K_ONE; k <= K_TWO; k++) {
        printf("  %-8s:", kind_names[k]);
        for (size_t c = 0; c < o->conn_count; c++) {
            const struct search_row *r = &rows[(size_t)k * o->conn_count + c];
            printf(" %u conn%s p99 %.2f ms %s%s", o->conns[c], o->conns[c] == 1 ? "" : "s",
                   r->p99_ms, r->p99_ms < 10 ? "MET" : "MISSED",
                   c + 1 < o->conn_count ? ";" : "\n");
        }
    }
}

static int
table_search(const struct opts *o, const struct server *s)
{
    printf("\n## 2. Search: POST /indexes/bench_search/search, limit 20\n\n");
    int served = search_served(s->port);
    if (served <= 0) {
        printf("search route not served (404)\n");
        return served < 0 ? -1 : 0;
    }
    if (index_build(s->port, o->docs) != 0)
        return -1;
    static const char *const heads[] = {"query",  "conns",  "queries/s", "p50 ms",    "p90 ms",
                                        "p99 ms", "max ms", "errors",    "mean hits", "load"};
    static const int w[] = {15, 5, 9, 7, 7, 7, 7, 6, 9, 5};
    size_t cols = sizeof(w) / sizeof(w[0]);
    for (size_t i = 0; i < cols; i++)
        printf("| %*s ", i == 0 ? -w[i] : w[i], heads[i]);
    printf("|\n");
    print_rule(cols, w);
    struct search_row *rows = folio_calloc((size_t)K_COUNT * o->conn_count, sizeof(*rows));
    int rc = 0;
    for (int k = 0; k < K_COUNT && rc == 0; k++) {
        for (size_t c = 0; c < o->conn_count && rc == 0; c++) {
            struct search_row *r = &rows[(size_t)k * o->conn_count + c];
            rc = search_row_run(o, s, (enum kind)k, o->conns[c], r);
            char c1[32], c2[32];
            printf("| %-*s | %*u | %*s | %*.2f | %*.2f | %*.2f | %*.2f | %*llu | %*s | %*.1f |\n",
                   w[0], kind_names[k], w[1], o->conns[c], w[2], bench_fmt_count(c1, r->per_s),
                   w[3], r->p50_ms, w[4], r->p90_ms, w[5], r->p99_ms, w[6], r->max_ms, w[7],
                   (unsigned long long)r->errors, w[8], bench_fmt_count(c2, r->mean_hits), w[9],
                   r->load);
            fflush(stdout);
        }
    }
    if (rc == 1)
        printf("search route not served (404)\n");
    else if (rc == 0)
        search_verdicts(o, rows);
    folio_free(rows);
    return rc == 1 ? 0 : rc;
}

/* ---- main ---------------------------------------------------------------- */

static int
parse_conns(const char *v, struct opts *o)
{
    o->conn_count = 0;
    for (const char *p = v; *p != '\0' && o->conn_count < CONN_COUNTS_MAX;) {
        char *end = NULL;
        unsigned long n = strtoul(p, &end, 10);
        if (end == p || n == 0 || n > 4096)
            return -1;
        o->conns[o->conn_count++] = (unsigned)n;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0')
            return -1;
    }
    return o->conn_count > 0 ? 0 : -1;
}

static void
usage(void)
{
    fprintf(stderr, "usage: bench_http [--foliod PATH] [--tmp DIR] [--seconds S] [--requests N]\n"
                    "                  [--connections 1,16,64] [--docs N] [--apply-wait S]\n"
                    "                  [--skip-register] [--skip-search] [--log-level LEVEL] "
                    "[--keep] [--quick]\n");
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.foliod = FOLIO_BENCH_FOLIOD_PATH,
                       .tmp = ".",
                       .log_level = "warn",
                       .seconds = 5,
                       .apply_wait_s = 30,
                       .requests_max = 10000000,
                       .docs = 100000};
    parse_conns("1,16,64", o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = v != NULL;
        if (strcmp(a, "--skip-search") == 0)
            o->skip_search = true;
        else if (strcmp(a, "--skip-register") == 0)
            o->skip_register = true;
        else if (strcmp(a, "--keep") == 0)
            o->keep = true;
        else if (strcmp(a, "--quick") == 0) {
            o->seconds = 1;
            o->docs = 10000;
        } else if (strcmp(a, "--foliod") == 0 && takes)
            o->foliod = argv[++i];
        else if (strcmp(a, "--tmp") == 0 && takes)
            o->tmp = argv[++i];
        else if (strcmp(a, "--log-level") == 0 && takes)
            o->log_level = argv[++i];
        else if (strcmp(a, "--seconds") == 0 && takes)
            o->seconds = strtod(argv[++i], NULL);
        else if (strcmp(a, "--apply-wait") == 0 && takes)
            o->apply_wait_s = strtod(argv[++i], NULL);
        else if (strcmp(a, "--requests") == 0 && takes)
            o->requests_max = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--docs") == 0 && takes)
            o->docs = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--connections") == 0 && takes) {
            if (parse_conns(argv[++i], o) != 0)
                return -1;
        } else
            return -1;
    }
    return o->seconds > 0 && o->requests_max > 0 && o->docs > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) != 0) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    bench_vocab_init(&vocab, VOCAB, &rng);
    char *dir = bench_mkdtemp(o.tmp);
    if (dir == NULL)
        return 1;
    bench_print_machine(dir, FOLIO_BENCH_BUILD_TYPE);
    printf("  foliod    : %s (--log-level %s; data directory %s/db)\n", o.foliod, o.log_level, dir);
    printf("  runs      : %.1f s or %llu requests per row, whichever ends first; one request in "
           "flight per connection\n",
           o.seconds, (unsigned long long)o.requests_max);
    fflush(stdout);
    struct server s = {0};
    int rc = server_start(&s, &o, dir);
    if (rc == 0 && !o.skip_register)
        rc = table_register(&o, &s);
    if (rc == 0 && !o.skip_search)
        rc = table_search(&o, &s);
    server_stop(&s);
    if (rc != 0 && !o.keep) {
        fprintf(stderr, "bench_http: kept %s (foliod.log) for a look\n", dir);
        o.keep = true;
    }
    if (o.keep)
        printf("\nkept %s\n", dir);
    else
        bench_rmrf(dir);
    folio_free(dir);
    return rc == 0 ? 0 : 1;
}
