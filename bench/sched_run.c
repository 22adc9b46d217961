/*
 * The running scheduler's part of bench_scheduler: durable registrations per
 * second through folio_sched_register with 1 and 64 concurrent callers
 * (inline payloads, and payloads large enough to go to content files), and
 * documents applied per second for 100,000 small documents, and the CPU
 * each applied one-document task costs (bench_http's documents).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/journal.h"
#include "folio/sched_run.h"
#include "sched_run_bench.h"

struct reg_thread {
    pthread_t thread;
    struct folio_sched *s;
    size_t payload_bytes;
    int64_t stop_ns;
    uint64_t done;
    int err;
    unsigned id;
};

/* FOLIO_E_CORRUPT unless task uid succeeded: the benchmark's work was really done. */
static int
task_succeeded(struct folio_sched *s, uint64_t uid)
{
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    struct folio_task_view v;
    int rc = folio_sched_task_get(st, uid, &v) != 0 || v.status != FOLIO_STATUS_SUCCEEDED
                 ? FOLIO_E_CORRUPT
                 : 0;
    folio_sched_read_unlock(s);
    return rc;
}

/*
 * Registers a documentAdditionOrUpdate of index uid with the JSON payload;
 * its task uid into *task_uid (may be NULL). Says why on stderr if it fails.
 */
static int
register_docs(struct folio_sched *s, const char *uid, const char *payload, size_t len,
              uint64_t *task_uid)
{
    struct folio_sched_request req = {0};
    req.kind = FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
    req.index_uid = folio_str_c(uid);
    req.payload = payload;
    req.payload_len = len;
    struct folio_sched_error err;
    struct folio_sched_registered out;
    int rc = folio_sched_register(s, &req, task_uid != NULL ? &out : NULL, &err);
    if (rc != 0)
        fprintf(stderr, "bench: registration failed: %s: %s\n", err.code, err.message);
    else if (task_uid != NULL)
        *task_uid = out.task_uid;
    return rc;
}

static void *
reg_thread_main(void *arg)
{
    struct reg_thread *t = arg;
    size_t cap = t->payload_bytes + 128;
    char *payload = folio_malloc(cap);
    uint64_t n = 0;
    while (bench_now_ns() < t->stop_ns) {
        /* one small document, padded to payload_bytes */
        int head = snprintf(payload, cap, "{\"id\":\"t%u-%" PRIu64 "\",\"pad\":\"", t->id, n);
        size_t len = (size_t)head;
        while (len + 2 < t->payload_bytes)
            payload[len++] = 'x';
        payload[len++] = '"';
        payload[len++] = '}';
        int rc = register_docs(t->s, "bench", payload, len, NULL);
        if (rc != 0) {
            t->err = rc;
            break;
        }
        n++;
    }
    t->done = n;
    folio_free(payload);
    return NULL;
}

static int
open_sched(const char *dir, bool paused, struct folio_sched **s)
{
    struct folio_sched_opts o;
    folio_sched_opts_default(&o);
    o.db_path = dir;
    o.paused = paused;
    o.checkpoint_every_events = UINT64_MAX;
    o.checkpoint_every_ms = UINT32_MAX;
    struct folio_sched_diag diag;
    int rc = folio_sched_open(&o, s, NULL, &diag);
    if (rc != 0)
        fprintf(stderr, "bench: folio_sched_open(%s): %s: %s\n", dir, folio_err_name(rc),
                diag.reason);
    return rc;
}

/* Registrations/s with `callers` threads for `seconds`. */
static int
run_registrations(const char *scratch, unsigned callers, size_t payload_bytes, double seconds,
                  double *per_sec)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/reg-%u-%zu", scratch, callers, payload_bytes);
    bench_rmrf(dir);
    struct folio_sched *s = NULL;
    int rc = open_sched(dir, true, &s);
    if (rc != 0)
        return rc;
    struct reg_thread *ts = folio_calloc(callers, sizeof(*ts));
    int64_t t0 = bench_now_ns();
    int64_t stop = t0 + (int64_t)(seconds * 1e9);
    for (unsigned i = 0; i < callers; i++) {
        ts[i] =
            (struct reg_thread){.s = s, .payload_bytes = payload_bytes, .stop_ns = stop, .id = i};
        pthread_create(&ts[i].thread, NULL, reg_thread_main, &ts[i]);
    }
    uint64_t total = 0;
    for (unsigned i = 0; i < callers; i++) {
        pthread_join(ts[i].thread, NULL);
        total += ts[i].done;
        if (ts[i].err != 0)
            rc = ts[i].err;
    }
    int64_t t1 = bench_now_ns();
    *per_sec = (double)total / ((double)(t1 - t0) / 1e9);
    folio_free(ts);
    folio_sched_close(s);
    bench_rmrf(dir);
    return rc;
}

/* Documents applied per second: `tasks` tasks of docs/tasks small documents each. */
static int
run_documents(const char *scratch, uint32_t docs, uint32_t tasks, double *per_sec,
              double *register_seconds)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/docs-%u-%u", scratch, docs, tasks);
    bench_rmrf(dir);
    struct folio_sched *s = NULL;
    int rc = open_sched(dir, true, &s);
    if (rc != 0)
        return rc;
    uint32_t per_task = docs / tasks;
    size_t cap = (size_t)per_task * 96 + 16;
    char *payload = folio_malloc(cap);
    int64_t r0 = bench_now_ns();
    uint64_t last = 0;
    for (uint32_t t = 0; t < tasks && rc == 0; t++) {
        size_t len = 0;
        payload[len++] = '[';
        for (uint32_t i = 0; i < per_task; i++) {
            uint32_t id = t * per_task + i;
            len += (size_t)snprintf(payload + len, cap - len,
                                    "%s{\"id\":%u,\"title\":\"book %u\",\"year\":%u}", i ? "," : "",
                                    id, id, 1900 + id % 120);
        }
        payload[len++] = ']';
        rc = register_docs(s, "books", payload, len, &last);
    }
    *register_seconds = (double)(bench_now_ns() - r0) / 1e9;
    folio_free(payload);
    int64_t t0 = bench_now_ns();
    folio_sched_resume(s);
    if (rc == 0)
        rc = folio_sched_wait_idle(s, 600000);
    int64_t t1 = bench_now_ns();
    if (rc == 0)
        rc = task_succeeded(s, last);
    *per_sec = (double)docs / ((double)(t1 - t0) / 1e9);
    folio_sched_close(s);
    bench_rmrf(dir);
    return rc;
}

/* ---- one-document tasks: CPU per applied task ------------------------------- */

/*
 * bench_http's registration documents: {"id", "title" (3 words), "body"
 * (8 words), "year"}, words drawn with Zipf (1/rank) frequencies from 4,000
 * pronounceable words (same generator, same seed).
 */
#define ONE_VOCAB 4000
#define ONE_CALLERS 64

static unsigned
one_below(uint64_t *rng, unsigned n)
{
    return (unsigned)(bench_rand(rng) % n);
}

struct one_thread {
    pthread_t thread;
    struct folio_sched *s;
    const struct bench_vocab *g;
    uint32_t first, count;
    uint64_t last_uid;
    int err;
};

static void *
one_thread_main(void *arg)
{
    struct one_thread *t = arg;
    uint64_t rng = 0x5eed0000ull + t->first;
    char payload[512];
    for (uint32_t i = 0; i < t->count && t->err == 0; i++) {
        size_t len = (size_t)sprintf(payload, "{\"id\":%u,\"title\":\"", t->first + i);
        len = bench_vocab_words(t->g, &rng, payload, len, 3);
        len += (size_t)sprintf(payload + len, "\",\"body\":\"");
        len = bench_vocab_words(t->g, &rng, payload, len, 8);
        len += (size_t)sprintf(payload + len, "\",\"year\":%u}", 1950 + one_below(&rng, 76));
        uint64_t uid = 0;
        int rc = register_docs(t->s, "bench", payload, len, &uid);
        if (rc != 0)
            t->err = rc;
        else if (uid > t->last_uid)
            t->last_uid = uid;
    }
    return NULL;
}

/*
 * CPU seconds (user + system) of each thread of the process, by thread id,
 * from /proc/self/task; returns the count (at most cap).
 */
static size_t
thread_cpu(long *tids, double *cpu, size_t cap)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return 0;
    double tick = (double)sysconf(_SC_CLK_TCK);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < cap) {
        if (de->d_name[0] == '.')
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t got = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[got] = '\0';
        const char *p = strrchr(buf, ')'); /* fields after the command name */
        unsigned long ut = 0, st = 0;
        if (p == NULL ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
            continue;
        tids[n] = strtol(de->d_name, NULL, 10);
        cpu[n++] = (double)(ut + st) / tick;
    }
    closedir(d);
    return n;
}

/*
 * `tasks` one-document tasks (bench_http's documents) registered by 64
 * threads with processing paused, then applied: tasks/s, the process's CPU
 * per task while they are applied, and that of its busiest thread (the
 * worker).
 */
static int
bench_sched_one_doc_tasks(const char *scratch, uint32_t tasks, double *per_sec, double *cpu_us,
                          double *worker_us)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/one-%u", scratch, tasks);
    bench_rmrf(dir);
    struct folio_sched *s = NULL;
    int rc = open_sched(dir, true, &s);
    if (rc != 0)
        return rc;
    uint64_t vocab_rng = 0x68747470ull; /* bench_http's seed: its words */
    struct bench_vocab vocab;
    bench_vocab_init(&vocab, ONE_VOCAB, &vocab_rng);
    const struct bench_vocab *g = &vocab;
    struct one_thread ts[ONE_CALLERS];
    uint32_t per = tasks / ONE_CALLERS, extra = tasks % ONE_CALLERS, first = 0;
    for (unsigned i = 0; i < ONE_CALLERS; i++) {
        ts[i] =
            (struct one_thread){.s = s, .g = g, .first = first, .count = per + (i < extra ? 1 : 0)};
        first += ts[i].count;
        pthread_create(&ts[i].thread, NULL, one_thread_main, &ts[i]);
    }
    uint64_t last = 0;
    for (unsigned i = 0; i < ONE_CALLERS; i++) {
        pthread_join(ts[i].thread, NULL);
        if (ts[i].err != 0)
            rc = ts[i].err;
        if (ts[i].last_uid > last)
            last = ts[i].last_uid;
    }
    bench_vocab_free(&vocab);
    enum { THREADS_MAX = 256 };
    long tid0[THREADS_MAX], tid1[THREADS_MAX];
    double cpu0[THREADS_MAX], cpu1[THREADS_MAX];
    size_t n0 = thread_cpu(tid0, cpu0, THREADS_MAX);
    double c0 = bench_cpu_seconds();
    int64_t t0 = bench_now_ns();
    if (rc == 0) {
        folio_sched_resume(s);
        rc = folio_sched_wait_idle(s, 600000);
    }
    int64_t t1 = bench_now_ns();
    double c1 = bench_cpu_seconds();
    size_t n1 = thread_cpu(tid1, cpu1, THREADS_MAX);
    double busiest = 0;
    for (size_t i = 0; i < n1; i++) {
        double before = 0;
        for (size_t j = 0; j < n0; j++)
            if (tid0[j] == tid1[i])
                before = cpu0[j];
        if (cpu1[i] - before > busiest)
            busiest = cpu1[i] - before;
    }
    if (rc == 0)
        rc = task_succeeded(s, last);
    *per_sec = (double)tasks / ((double)(t1 - t0) / 1e9);
    *cpu_us = (c1 - c0) * 1e6 / tasks;
    *worker_us = busiest * 1e6 / tasks;
    folio_sched_close(s);
    bench_rmrf(dir);
    return rc;
}

static int
one_doc_row(const char *scratch, uint32_t tasks)
{
    double r = 0, cpu = 0, worker = 0;
    int rc = bench_sched_one_doc_tasks(scratch, tasks, &r, &cpu, &worker);
    printf("| %u | %.0f | %.1f | %.1f |\n", tasks, r, cpu, worker);
    fflush(stdout);
    return rc;
}

int
bench_sched_one_doc(const char *scratch, uint32_t tasks, unsigned runs)
{
    printf("\n7. One-document tasks applied (bench_http's documents: id, 3-word title,\n"
           "   8-word body, year; registered by 64 threads, then processing resumed and\n"
           "   timed until idle)\n\n");
    printf("| tasks | tasks/s | CPU us/task | busiest thread us/task |\n|---:|---:|---:|---:|\n");
    int rc = 0;
    for (unsigned i = 0; i < runs && rc == 0; i++)
        rc = one_doc_row(scratch, tasks);
    return rc;
}

int
bench_sched_run(const char *scratch, double seconds)
{
    printf("\n5. Registrations through folio_sched_register (documentAdditionOrUpdate, one\n"
           "   document each; processing paused), %.0f s per row\n\n",
           seconds);
    printf("| callers | payload | where | registrations/s |\n|---:|---:|---|---:|\n");
    static const unsigned callers[] = {1, 64};
    static const size_t sizes[] = {128, 32768};
    int rc = 0;
    double target_row = 0;
    for (unsigned si = 0; si < 2 && rc == 0; si++) {
        for (unsigned ci = 0; ci < 2 && rc == 0; ci++) {
            double r = 0;
            rc = run_registrations(scratch, callers[ci], sizes[si], seconds, &r);
            printf("| %u | %zu B | %s | %.0f |\n", callers[ci], sizes[si],
                   sizes[si] <= FOLIO_SCHED_INLINE_PAYLOAD_DEFAULT ? "inline in the event"
                                                                   : "content file",
                   r);
            fflush(stdout);
            if (si == 0 && callers[ci] == 64)
                target_row = r;
        }
    }
    printf("\n64 callers, inline payloads: %.0f registrations/s (target >= 50,000: %s)\n",
           target_row, target_row >= 50000 ? "met" : "MISSED");
    printf("\n6. Documents applied (100,000 small documents, registered first, then\n"
           "   processing resumed and timed until idle)\n\n");
    printf("| tasks | documents/task | documents/s | registration s |\n|---:|---:|---:|---:|\n");
    static const uint32_t task_counts[] = {1, 100, 1000};
    for (unsigned i = 0; i < 3 && rc == 0; i++) {
        double r = 0, reg = 0;
        rc = run_documents(scratch, 100000, task_counts[i], &r, &reg);
        printf("| %u | %u | %.0f | %.2f |\n", task_counts[i], 100000 / task_counts[i], r, reg);
        fflush(stdout);
    }
    if (rc == 0)
        rc = bench_sched_one_doc(scratch, 100000, 1);
    return rc;
}
