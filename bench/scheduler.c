/*
 * bench_scheduler: how fast the scheduler's state comes back at start-up.
 *
 * 1. Build: a journal of --tasks documentAdditionOrUpdate tasks over 10
 *    indexes (each created first by an indexCreation task lifecycle). Tasks
 *    come in batches of 1..50 on one index: the registrations, batch_started,
 *    one progress event and the outcomes (about 2% task_failed with an error
 *    object, the rest task_succeeded with details). Batches are packed into
 *    large multi-event appends (one frame each, up to the frame limits).
 * 2. Start-up from seq 1: folio_sched_state_replay(journal, NULL) in a forked
 *    child per run, timed inside the child; peak RSS is the child's ru_maxrss.
 * 3. Checkpoint: one written by folio_sched_checkpoint_write at the end of
 *    the journal (in a forked child: replay, then the timed write), then a
 *    tail of 1% more tasks, then start-up = replay from the checkpoint.
 * 4. Registrations: 1 and 64 threads appending one task_registered each with
 *    the blocking folio_journal_append (the scheduler's registration API
 *    does not exist yet).
 *
 * Everything happens in one scratch directory under --dir (default "."),
 * removed at the end. Timings are printed, never judged by the exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"
#include "sched_run_bench.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"
#include "folio/journal.h"
#include "folio/sched.h"

#ifndef FOLIO_BENCH_BUILD_TYPE
#define FOLIO_BENCH_BUILD_TYPE "unknown"
#endif

#define INDEX_COUNT 10u
#define BATCH_TASKS_MAX 50u
#define FAIL_PER_MILLE 20u
#define FRAME_EVENTS_SOFT 3800u         /* flush before the 4096-event frame limit */
#define FRAME_BYTES_MARGIN (128u * 1024u)
#define BASE_NS 1750000000000000000ll
#define TARGET_CKPT_STARTUP_S 1.0
#define TARGET_FULL_REPLAY_S 5.0
#define TARGET_REGISTRATIONS_PER_S 50000.0
#define REG_THREADS_MAX 64u

struct bench_opts {
    const char *parent_dir;
    uint64_t tasks;
    unsigned runs;
    double seconds;
    bool registrations;
    bool running_only;          /* only tables 5 and 6 (bench/sched_run.c) */
    uint32_t one_doc_tasks;     /* > 0: only table 7, --runs runs of this many tasks */
};

static const char *const index_names[INDEX_COUNT] = {
    "movies", "products", "books", "songs", "users",
    "orders", "articles", "recipes", "places", "reviews"};

static void
die_err(const char *what, int err, const char *reason)
{
    fprintf(stderr, "bench: %s: %s%s%s\n", what, folio_err_message(err),
            reason != NULL && reason[0] != '\0' ? " - " : "", reason != NULL ? reason : "");
}

/* ---- journal generator ------------------------------------------------------ */

struct gen {
    struct folio_journal *j;
    uint64_t next_task, next_batch;
    int64_t now_ns;
    uint32_t bytes_soft;
    /* events of the append being built */
    struct folio_journal_entry *ents;
    size_t n, bytes, cap;
    /* totals */
    uint64_t events, appends, tasks, failed;
    uint8_t *error_obj;
    size_t error_len;
};

static int
gen_flush(struct gen *g)
{
    if (g->n == 0)
        return FOLIO_OK;
    int err = folio_journal_append(g->j, g->ents, g->n, NULL);
    for (size_t i = 0; i < g->n; i++)
        folio_free((void *)g->ents[i].data);
    g->events += g->n;
    g->appends++;
    g->n = 0;
    g->bytes = 0;
    return err;
}

static int
gen_emit(struct gen *g, struct folio_event *ev)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ev->at_ns = g->now_ns;
    int err = folio_event_encode(ev, &buf, &len);
    if (err != FOLIO_OK)
        return err;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 4096;
        g->ents = folio_realloc(g->ents, g->cap * sizeof(*g->ents));
    }
    g->ents[g->n++] = (struct folio_journal_entry){buf, len};
    g->bytes += len;
    return FOLIO_OK;
}

/* Flushes once the pending append could not take another batch. */
static int
gen_maybe_flush(struct gen *g)
{
    if (g->n + 2 * BATCH_TASKS_MAX + 8 > FRAME_EVENTS_SOFT || g->bytes > g->bytes_soft)
        return gen_flush(g);
    return FOLIO_OK;
}

static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static void
fmt_uuid(char out[37], uint64_t a, uint64_t b)
{
    snprintf(out, 37, "%08x-%04x-4%03x-8%03x-%012" PRIx64, (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffffu, (unsigned)a & 0xfffu, (unsigned)(b >> 48) & 0xfffu,
             (uint64_t)(b & 0xffffffffffffull));
}

static int
gen_register(struct gen *g, uint64_t uid, enum folio_task_kind kind, const char *index)
{
    char file[37], sum[33];
    struct folio_task_content c = {.kind = kind};
    uint64_t h = mix64(uid);
    if (kind == FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE) {
        fmt_uuid(file, h, mix64(h));
        snprintf(sum, sizeof(sum), "%016" PRIx64 "%016" PRIx64, mix64(h + 1), mix64(h + 2));
        c.method = (h & 3) == 0 ? FOLIO_DOC_UPDATE : FOLIO_DOC_REPLACE;
        c.content_file = folio_str_c(file);
        c.documents_count_set = true;
        c.documents_count = 1 + h % 1000;
        c.content_bytes = c.documents_count * (200 + (h >> 20) % 800);
        c.content_checksum = folio_str_c(sum);
    } else {
        c.primary_key = folio_str_c("id");
    }
    uint8_t *content = NULL;
    size_t content_len = 0;
    int err = folio_task_content_encode(&c, &content, &content_len);
    if (err != FOLIO_OK)
        return err;
    struct folio_str iu = folio_str_c(index);
    struct folio_event ev = {.type = FOLIO_EV_TASK_REGISTERED};
    ev.u.task_registered.task_uid = uid;
    ev.u.task_registered.kind = folio_str_c(folio_task_kind_name(kind));
    ev.u.task_registered.index_uids = (struct folio_str_array){&iu, 1};
    ev.u.task_registered.enqueued_at_ns = g->now_ns;
    ev.u.task_registered.content = (struct folio_object){content, (uint32_t)content_len};
    err = gen_emit(g, &ev);
    folio_free(content);
    g->tasks++;
    return err;
}

static int
gen_outcome(struct gen *g, uint64_t uid, uint64_t batch, bool fail, uint64_t docs)
{
    struct folio_task_details d = {0};
    d.present = (1ull << FOLIO_DETAIL_RECEIVED_DOCUMENTS) | (1ull << FOLIO_DETAIL_INDEXED_DOCUMENTS);
    d.received_documents = docs;
    d.indexed_documents = fail ? 0 : docs;
    uint8_t *details = NULL;
    size_t details_len = 0;
    int err = folio_task_details_encode(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, &d, &details,
                                        &details_len);
    if (err != FOLIO_OK)
        return err;
    struct folio_event ev = {.type = fail ? FOLIO_EV_TASK_FAILED : FOLIO_EV_TASK_SUCCEEDED};
    ev.u.task_outcome.task_uid = uid;
    ev.u.task_outcome.batch_uid = batch;
    ev.u.task_outcome.finished_at_ns = g->now_ns;
    ev.u.task_outcome.details = (struct folio_object){details, (uint32_t)details_len};
    if (fail)
        ev.u.task_outcome.error = (struct folio_object){g->error_obj, (uint32_t)g->error_len};
    err = gen_emit(g, &ev);
    folio_free(details);
    if (fail)
        g->failed++;
    return err;
}

static int
gen_progress(struct gen *g, uint64_t batch, const char *step, uint32_t i, uint32_t total)
{
    struct folio_event ev = {.type = FOLIO_EV_PROGRESS};
    ev.u.progress.batch_uid = batch;
    ev.u.progress.step = folio_str_c(step);
    ev.u.progress.step_index = i;
    ev.u.progress.step_total = total;
    return gen_emit(g, &ev);
}

static int
gen_batch_started(struct gen *g, uint64_t batch, const uint64_t *uids, uint32_t n,
                  const char *reason)
{
    struct folio_event ev = {.type = FOLIO_EV_BATCH_STARTED};
    ev.u.batch_started.batch_uid = batch;
    ev.u.batch_started.task_uids = (struct folio_u64_array){uids, n};
    ev.u.batch_started.reason = folio_str_c(reason);
    return gen_emit(g, &ev);
}

/* The indexCreation lifecycle of every index, in one append. */
static int
gen_indexes(struct gen *g)
{
    int err = FOLIO_OK;
    for (unsigned i = 0; i < INDEX_COUNT && err == FOLIO_OK; i++) {
        uint64_t uid = g->next_task++, batch = g->next_batch++;
        char uuid[37];
        g->now_ns += 1000000;
        err = gen_register(g, uid, FOLIO_KIND_INDEX_CREATION, index_names[i]);
        if (err == FOLIO_OK)
            err = gen_batch_started(g, batch, &uid, 1, "created batch containing only task with id");
        fmt_uuid(uuid, mix64(1000 + i), mix64(2000 + i));
        struct folio_event ic = {.type = FOLIO_EV_INDEX_CREATED};
        ic.u.index_change.index_uid = folio_str_c(index_names[i]);
        ic.u.index_change.index_uuid = folio_str_c(uuid);
        ic.u.index_change.primary_key = folio_str_c("id");
        ic.u.index_change.task_uid = uid;
        ic.u.index_change.changed_at_ns = g->now_ns;
        if (err == FOLIO_OK)
            err = gen_emit(g, &ic);
        struct folio_task_details d = {.present = 1ull << FOLIO_DETAIL_PRIMARY_KEY,
                                       .primary_key = folio_str_c("id")};
        uint8_t *details = NULL;
        size_t details_len = 0;
        if (err == FOLIO_OK)
            err = folio_task_details_encode(FOLIO_KIND_INDEX_CREATION, &d, &details, &details_len);
        struct folio_event ok = {.type = FOLIO_EV_TASK_SUCCEEDED};
        ok.u.task_outcome.task_uid = uid;
        ok.u.task_outcome.batch_uid = batch;
        ok.u.task_outcome.finished_at_ns = g->now_ns;
        ok.u.task_outcome.details = (struct folio_object){details, (uint32_t)details_len};
        if (err == FOLIO_OK)
            err = gen_emit(g, &ok);
        folio_free(details);
    }
    return err == FOLIO_OK ? gen_flush(g) : err;
}

/* Appends `tasks` documentAdditionOrUpdate tasks in batches of 1..50. */
static int
gen_documents(struct gen *g, uint64_t tasks)
{
    uint64_t uids[BATCH_TASKS_MAX];
    uint64_t docs[BATCH_TASKS_MAX];
    uint64_t done = 0;
    int err = FOLIO_OK;
    while (done < tasks && err == FOLIO_OK) {
        uint64_t batch = g->next_batch++;
        uint64_t h = mix64(batch ^ 0x5bd1e995ull);
        uint32_t n = 1 + (uint32_t)(h % BATCH_TASKS_MAX);
        if (n > tasks - done)
            n = (uint32_t)(tasks - done);
        const char *index = index_names[(h >> 8) % INDEX_COUNT];
        for (uint32_t i = 0; i < n && err == FOLIO_OK; i++) {
            uids[i] = g->next_task++;
            docs[i] = 1 + mix64(uids[i]) % 1000;
            g->now_ns += 50000;
            err = gen_register(g, uids[i], FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, index);
        }
        g->now_ns += 1000000;
        if (err == FOLIO_OK)
            err = gen_batch_started(g, batch, uids, n,
                                    "batched all enqueued tasks for index");
        g->now_ns += 1000000;
        if (err == FOLIO_OK)
            err = gen_progress(g, batch, "processing tasks > indexing", 1, 3);
        g->now_ns += 5000000;
        for (uint32_t i = 0; i < n && err == FOLIO_OK; i++)
            err = gen_outcome(g, uids[i], batch, mix64(uids[i] ^ 0xfeedull) % 1000 < FAIL_PER_MILLE,
                              docs[i]);
        done += n;
        if (err == FOLIO_OK)
            err = gen_maybe_flush(g);
    }
    return err == FOLIO_OK ? gen_flush(g) : err;
}

static int
gen_open(struct gen *g, const char *journal_dir)
{
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.create = true;
    g->bytes_soft = o.frame_body_max > 2 * FRAME_BYTES_MARGIN ? o.frame_body_max - FRAME_BYTES_MARGIN
                                                               : o.frame_body_max / 2;
    struct folio_journal_diag diag = {0};
    int err = folio_journal_open(journal_dir, &o, &g->j, NULL, &diag);
    if (err != FOLIO_OK)
        die_err("journal open", err, diag.reason);
    return err;
}

static void
gen_close(struct gen *g)
{
    folio_journal_close(g->j);
    g->j = NULL;
}

static int
gen_init(struct gen *g)
{
    *g = (struct gen){.now_ns = BASE_NS};
    struct folio_task_error e = {.message = folio_str_c("The `id` field of document 17 is not a "
                                                        "valid document id."),
                                 .code = folio_str_c("invalid_document_id"),
                                 .type = folio_str_c("invalid_request")};
    return folio_task_error_encode(&e, &g->error_obj, &g->error_len);
}

static void
gen_free(struct gen *g)
{
    folio_free(g->ents);
    folio_free(g->error_obj);
}

/* ---- measurements in forked children --------------------------------------- */

struct child_result {
    int err;
    double seconds;          /* the measured step, timed inside the child */
    double ckpt_seconds;     /* checkpoint write (mode CKPT) */
    uint64_t events, tasks, batches, last_seq, checkpoint_seq;
    long base_rss_kb, peak_rss_kb;
    char ckpt_name[64];
    char reason[400];
};

enum child_mode { CHILD_REPLAY, CHILD_CKPT, CHILD_CKPT_READ };

static long
maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void
child_work(enum child_mode mode, const char *jdir, const char *cdir, struct child_result *r)
{
    r->base_rss_kb = maxrss_kb();
    struct folio_sched_state *s = NULL;
    struct folio_sched_replay_info info = {0};
    struct folio_sched_diag diag = {0};
    int64_t t0 = bench_now_ns();
    if (mode == CHILD_CKPT_READ) {
        /* cdir is the checkpoint file: read and check it alone, no journal. */
        r->err = folio_sched_checkpoint_read(cdir, &s, NULL, &diag);
        r->seconds = (double)(bench_now_ns() - t0) / 1e9;
        if (r->err == FOLIO_OK) {
            r->last_seq = folio_sched_state_last_seq(s);
            r->tasks = folio_sched_state_task_count(s);
            r->batches = folio_sched_state_batch_count(s);
        } else {
            snprintf(r->reason, sizeof(r->reason), "checkpoint read: %s", diag.reason);
        }
        r->peak_rss_kb = maxrss_kb();
        folio_sched_state_free(s);
        return;
    }
    r->err = folio_sched_state_replay(jdir, mode == CHILD_REPLAY ? cdir : NULL, &s, &info, &diag);
    r->seconds = (double)(bench_now_ns() - t0) / 1e9;
    if (r->err != FOLIO_OK) {
        snprintf(r->reason, sizeof(r->reason), "replay: %s", diag.reason);
        folio_sched_state_free(s);
        return;
    }
    r->events = info.events_applied;
    r->last_seq = info.last_seq;
    r->checkpoint_seq = info.checkpoint_seq;
    r->tasks = folio_sched_state_task_count(s);
    r->batches = folio_sched_state_batch_count(s);
    if (mode == CHILD_CKPT) {
        t0 = bench_now_ns();
        r->err = folio_sched_checkpoint_write(cdir, jdir, s, r->ckpt_name, sizeof(r->ckpt_name),
                                              &diag);
        r->ckpt_seconds = (double)(bench_now_ns() - t0) / 1e9;
        if (r->err != FOLIO_OK)
            snprintf(r->reason, sizeof(r->reason), "checkpoint write: %s", diag.reason);
    }
    r->peak_rss_kb = maxrss_kb();
    folio_sched_state_free(s);
}

static int
run_child(enum child_mode mode, const char *jdir, const char *cdir, struct child_result *out)
{
    int fds[2];
    if (pipe(fds) != 0) {
        perror("bench: pipe");
        return FOLIO_E_IO;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench: fork");
        close(fds[0]);
        close(fds[1]);
        return FOLIO_E_IO;
    }
    if (pid == 0) {
        close(fds[0]);
        struct child_result r = {0};
        child_work(mode, jdir, cdir, &r);
        const char *p = (const char *)&r;
        size_t left = sizeof(r);
        while (left > 0) {
            ssize_t w = write(fds[1], p, left);
            if (w <= 0)
                _exit(3);
            p += w;
            left -= (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    memset(out, 0, sizeof(*out));
    char *p = (char *)out;
    size_t got = 0;
    while (got < sizeof(*out)) {
        ssize_t rd = read(fds[0], p + got, sizeof(*out) - got);
        if (rd < 0 && errno == EINTR)
            continue;
        if (rd <= 0)
            break;
        got += (size_t)rd;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got != sizeof(*out) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: measuring child failed (status %d)\n", status);
        return FOLIO_E_IO;
    }
    if (out->err != FOLIO_OK) {
        die_err("child", out->err, out->reason);
        return out->err;
    }
    return FOLIO_OK;
}

struct startup_row {
    double med_s, min_s, max_s, events_per_s;
    long peak_rss_kb, base_rss_kb;
    struct child_result last;
};

static int
startup_measure_mode(enum child_mode mode, unsigned runs, const char *jdir, const char *cdir,
                     struct startup_row *row)
{
    double *secs = folio_calloc(runs, sizeof(*secs));
    int err = FOLIO_OK;
    row->peak_rss_kb = 0;
    row->base_rss_kb = 0;
    for (unsigned i = 0; i < runs && err == FOLIO_OK; i++) {
        err = run_child(mode, jdir, cdir, &row->last);
        secs[i] = row->last.seconds;
        if (row->last.peak_rss_kb > row->peak_rss_kb)
            row->peak_rss_kb = row->last.peak_rss_kb;
        row->base_rss_kb = row->last.base_rss_kb;
    }
    if (err == FOLIO_OK) {
        row->med_s = bench_median(secs, runs);
        row->min_s = bench_min(secs, runs);
        row->max_s = bench_max(secs, runs);
        row->events_per_s = (double)row->last.events / row->med_s;
    }
    folio_free(secs);
    return err;
}

static int
startup_measure(unsigned runs, const char *jdir, const char *cdir, struct startup_row *row)
{
    return startup_measure_mode(CHILD_REPLAY, runs, jdir, cdir, row);
}

static void
startup_header(void)
{
    printf("%-24s %10s %8s %8s %8s %12s %10s %9s %9s\n", "start-up", "events", "median s",
           "min s", "max s", "events/s", "tasks", "peak MB", "base MB");
}

static void
startup_print(const char *label, const struct startup_row *r)
{
    char a[32], b[32], c[32];
    printf("%-24s %10s %8.3f %8.3f %8.3f %12s %10s %9.1f %9.1f\n", label,
           bench_fmt_count(a, (double)r->last.events), r->med_s, r->min_s, r->max_s,
           bench_fmt_count(b, r->events_per_s), bench_fmt_count(c, (double)r->last.tasks),
           (double)r->peak_rss_kb / 1024.0, (double)r->base_rss_kb / 1024.0);
    fflush(stdout);
}

/* ---- 4. registrations -------------------------------------------------------- */

struct reg_thread {
    pthread_t thread;
    struct folio_journal *j;
    pthread_barrier_t *start;
    atomic_bool *stop;
    unsigned index, threads;
    uint64_t appends;
    int err;
    struct bench_hist latency;
};

static void *
reg_main(void *arg)
{
    struct reg_thread *t = arg;
    struct gen g = {.now_ns = BASE_NS};
    pthread_barrier_wait(t->start);
    for (uint64_t k = 0; !atomic_load_explicit(t->stop, memory_order_relaxed); k++) {
        uint64_t uid = k * t->threads + t->index;
        int64_t t0 = bench_now_ns();
        /* What a registration does: encode the content and the event, append, wait. */
        g.now_ns = BASE_NS + (int64_t)uid;
        int err = gen_register(&g, uid, FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE,
                               index_names[uid % INDEX_COUNT]);
        if (err == FOLIO_OK)
            err = folio_journal_append(t->j, g.ents, 1, NULL);
        if (g.n > 0)
            folio_free((void *)g.ents[0].data);
        g.n = 0;
        g.bytes = 0;
        if (err != FOLIO_OK) {
            t->err = err;
            break;
        }
        bench_hist_add(&t->latency, (uint64_t)(bench_now_ns() - t0));
        t->appends++;
    }
    folio_free(g.ents);
    return NULL;
}

static int
reg_run(const char *scratch, unsigned threads, double seconds, double *per_s,
        struct bench_hist *lat)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/reg-%u", scratch, threads);
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.create = true;
    struct folio_journal *j = NULL;
    struct folio_journal_diag diag = {0};
    int err = folio_journal_open(dir, &o, &j, NULL, &diag);
    if (err != FOLIO_OK) {
        die_err("journal open", err, diag.reason);
        return err;
    }
    struct reg_thread *ts = folio_calloc(threads, sizeof(*ts));
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, threads + 1);
    atomic_bool stop = false;
    for (unsigned i = 0; i < threads; i++) {
        ts[i] = (struct reg_thread){.j = j, .start = &start, .stop = &stop, .index = i,
                                    .threads = threads};
        bench_hist_init(&ts[i].latency);
        int perr = pthread_create(&ts[i].thread, NULL, reg_main, &ts[i]);
        if (perr != 0)
            FOLIO_PANIC("bench: cannot start a thread: %s", strerror(perr));
    }
    pthread_barrier_wait(&start);
    int64_t t0 = bench_now_ns();
    bench_sleep_ns((int64_t)(seconds * 1e9));
    atomic_store(&stop, true);
    uint64_t total = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(ts[i].thread, NULL);
        total += ts[i].appends;
        if (ts[i].err != FOLIO_OK)
            err = ts[i].err;
        bench_hist_merge(lat, &ts[i].latency);
        bench_hist_free(&ts[i].latency);
    }
    double el = (double)(bench_now_ns() - t0) / 1e9;
    folio_journal_close(j);
    pthread_barrier_destroy(&start);
    folio_free(ts);
    bench_rmrf(dir);
    *per_s = (double)total / el;
    if (err != FOLIO_OK)
        die_err("registration append", err, NULL);
    return err;
}

static int
reg_bench(const struct bench_opts *o, const char *scratch, double *top)
{
    static const unsigned counts[] = {1, REG_THREADS_MAX};
    printf("%-8s %12s %12s %12s %10s %10s %10s\n", "threads", "regs/s", "min", "max", "p50 us",
           "p99 us", "max us");
    int err = FOLIO_OK;
    for (size_t c = 0; c < FOLIO_ARRAY_LEN(counts) && err == FOLIO_OK; c++) {
        double *rates = folio_calloc(o->runs, sizeof(*rates));
        struct bench_hist lat;
        bench_hist_init(&lat);
        for (unsigned r = 0; r < o->runs && err == FOLIO_OK; r++)
            err = reg_run(scratch, counts[c], o->seconds, &rates[r], &lat);
        if (err == FOLIO_OK) {
            char a[32], b[32], d[32];
            double med = bench_median(rates, o->runs);
            *top = med;
            printf("%-8u %12s %12s %12s %10.0f %10.0f %10.0f\n", counts[c],
                   bench_fmt_count(a, med), bench_fmt_count(b, bench_min(rates, o->runs)),
                   bench_fmt_count(d, bench_max(rates, o->runs)),
                   (double)bench_hist_quantile_ns(&lat, 0.5) / 1e3,
                   (double)bench_hist_quantile_ns(&lat, 0.99) / 1e3, (double)lat.max_ns / 1e3);
            fflush(stdout);
        }
        bench_hist_free(&lat);
        folio_free(rates);
    }
    return err;
}

/* ---- main ------------------------------------------------------------------- */

static void
usage(FILE *f)
{
    fprintf(f, "usage: bench_scheduler [--dir DIR] [--tasks N] [--runs N] [--seconds N]\n"
               "                       [--quick] [--no-registrations] [--running-only]\n"
               "                       [--one-doc-tasks N]\n");
}

static int
parse_args(int argc, char **argv, struct bench_opts *o)
{
    *o = (struct bench_opts){
        .parent_dir = ".", .tasks = 1000000, .runs = 3, .seconds = 3, .registrations = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            o->tasks = 50000;
            o->seconds = 1;
        } else if (strcmp(a, "--no-registrations") == 0) {
            o->registrations = false;
        } else if (strcmp(a, "--running-only") == 0) {
            o->running_only = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (a[0] != '-' && i == argc - 1 && strcmp(o->parent_dir, ".") == 0) {
            o->parent_dir = a; /* a lone trailing DIR, as in `bench_scheduler .` */
        } else if (v == NULL) {
            return -1;
        } else if (strcmp(a, "--dir") == 0) {
            o->parent_dir = v;
            i++;
        } else if (strcmp(a, "--tasks") == 0) {
            o->tasks = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--runs") == 0) {
            o->runs = (unsigned)strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--seconds") == 0) {
            o->seconds = strtod(v, NULL);
            i++;
        } else if (strcmp(a, "--one-doc-tasks") == 0) {
            o->one_doc_tasks = (uint32_t)strtoul(v, NULL, 10);
            i++;
        } else {
            return -1;
        }
    }
    return o->tasks >= 100 && o->tasks <= 9000000 && o->runs >= 1 && o->runs <= 100 &&
                   o->seconds > 0 && o->seconds <= 3600
               ? 0
               : -1;
}

static int
build_journal(struct gen *g, const char *jdir, uint64_t tasks, bool indexes)
{
    int err = gen_open(g, jdir);
    if (err != FOLIO_OK)
        return err;
    if (indexes)
        err = gen_indexes(g);
    if (err == FOLIO_OK)
        err = gen_documents(g, tasks);
    if (err != FOLIO_OK)
        die_err("building the journal", err, NULL);
    gen_close(g);
    return err;
}

static void
print_journal_facts(const char *jdir)
{
    struct folio_journal_verify_info vi = {0};
    struct folio_journal_diag diag = {0};
    int err = folio_journal_verify(jdir, &vi, &diag);
    if (err != FOLIO_OK) {
        die_err("verify", err, diag.reason);
        return;
    }
    printf("journal: %" PRIu64 " segments, %" PRIu64 " frames, %" PRIu64
           " events, %.1f MB of frames (%.0f bytes/event, %.0f events/frame)\n",
           vi.segments, vi.frames, vi.events, (double)vi.bytes_used / 1e6,
           (double)vi.bytes_used / (double)vi.events, (double)vi.events / (double)vi.frames);
}

static int
bench_all(const struct bench_opts *o, const char *scratch)
{
    char jdir[PATH_MAX], cdir[PATH_MAX];
    snprintf(jdir, sizeof(jdir), "%s/journal", scratch);
    snprintf(cdir, sizeof(cdir), "%s/checkpoints", scratch);
    char a[32], b[32];
    struct gen g;
    int err = gen_init(&g);
    if (err != FOLIO_OK) {
        die_err("error object", err, NULL);
        return err;
    }

    printf("\n1. Build: %s documentAdditionOrUpdate tasks on %u indexes (+%u indexCreation),\n"
           "   batches of 1..%u tasks (~%.0f%% failed), registrations + batch_started + progress\n"
           "   + outcomes packed into multi-event appends (one frame each, fsync per append)\n\n",
           bench_fmt_count(a, (double)o->tasks), INDEX_COUNT, INDEX_COUNT, BATCH_TASKS_MAX,
           FAIL_PER_MILLE / 10.0);
    int64_t t0 = bench_now_ns();
    err = build_journal(&g, jdir, o->tasks, true);
    double build_s = (double)(bench_now_ns() - t0) / 1e9;
    if (err != FOLIO_OK)
        goto out;
    printf("built in %.2f s: %s tasks (%s failed), %s batches, %s events in %s appends "
           "(%s events/s)\n",
           build_s, bench_fmt_count(a, (double)g.tasks), bench_fmt_count(b, (double)g.failed),
           bench_fmt_count((char[32]){0}, (double)g.next_batch),
           bench_fmt_count((char[32]){0}, (double)g.events),
           bench_fmt_count((char[32]){0}, (double)g.appends),
           bench_fmt_count((char[32]){0}, (double)g.events / build_s));
    print_journal_facts(jdir);

    printf("\n2. Start-up from seq 1: folio_sched_state_replay(journal, NULL) in a forked child\n"
           "   per run (timed inside it), median of %u; peak = child's ru_maxrss, base = its\n"
           "   ru_maxrss at fork (inherited from the parent)\n\n",
           o->runs);
    startup_header();
    struct startup_row full;
    err = startup_measure(o->runs, jdir, NULL, &full);
    if (err != FOLIO_OK)
        goto out;
    startup_print("full replay", &full);

    printf("\n3. Checkpoint at the end of the journal (forked child: replay, then timed\n"
           "   folio_sched_checkpoint_write), a tail of 1%% more tasks, then start-up from\n"
           "   the checkpoint + tail, median of %u\n\n",
           o->runs);
    struct child_result ck;
    err = run_child(CHILD_CKPT, jdir, cdir, &ck);
    if (err != FOLIO_OK)
        goto out;
    char path[PATH_MAX + 80];
    snprintf(path, sizeof(path), "%s/%s", cdir, ck.ckpt_name);
    struct stat st;
    double ck_mb = stat(path, &st) == 0 ? (double)st.st_size / 1e6 : -1;
    printf("checkpoint %s at seq %s: written in %.3f s, %.1f MB (%.0f bytes/task), writer "
           "peak RSS %.1f MB\n",
           ck.ckpt_name, bench_fmt_count(a, (double)ck.last_seq), ck.ckpt_seconds, ck_mb,
           ck_mb * 1e6 / (double)ck.tasks, (double)ck.peak_rss_kb / 1024.0);
    uint64_t tail = o->tasks / 100 > 0 ? o->tasks / 100 : 1;
    uint64_t ev0 = g.events, ap0 = g.appends;
    t0 = bench_now_ns();
    err = build_journal(&g, jdir, tail, false);
    if (err != FOLIO_OK)
        goto out;
    printf("tail: %s tasks, %s events in %s appends, %.2f s\n\n", bench_fmt_count(a, (double)tail),
           bench_fmt_count(b, (double)(g.events - ev0)),
           bench_fmt_count((char[32]){0}, (double)(g.appends - ap0)),
           (double)(bench_now_ns() - t0) / 1e9);
    startup_header();
    struct startup_row from_ck, full2;
    err = startup_measure(o->runs, jdir, cdir, &from_ck);
    if (err == FOLIO_OK && from_ck.last.checkpoint_seq != ck.last_seq) {
        fprintf(stderr, "bench: the replay did not use the checkpoint (seq %" PRIu64 ")\n",
                from_ck.last.checkpoint_seq);
        err = FOLIO_E_CORRUPT;
    }
    if (err != FOLIO_OK)
        goto out;
    startup_print("checkpoint + 1% tail", &from_ck);
    struct startup_row ck_read;
    err = startup_measure_mode(CHILD_CKPT_READ, o->runs, jdir, path, &ck_read);
    if (err != FOLIO_OK)
        goto out;
    startup_print("  of which ckpt read", &ck_read);
    err = startup_measure(o->runs, jdir, NULL, &full2);
    if (err != FOLIO_OK)
        goto out;
    startup_print("full replay (same)", &full2);

    printf("\n%s tasks: start-up from a checkpoint %.3f s (target < %.0f s: %s); "
           "full replay %.3f s (target < %.0f s: %s)\n",
           bench_fmt_count(a, (double)from_ck.last.tasks), from_ck.med_s, TARGET_CKPT_STARTUP_S,
           from_ck.med_s < TARGET_CKPT_STARTUP_S ? "met" : "MISSED", full2.med_s,
           TARGET_FULL_REPLAY_S, full2.med_s < TARGET_FULL_REPLAY_S ? "met" : "MISSED");
    if (o->tasks < 1000000)
        printf("(the targets are for 1,000,000 tasks; this run has fewer)\n");

    if (o->registrations) {
        printf("\n4. Registrations: journal append of task_registered (registration API pending):\n"
               "   each thread encodes content + event and calls the blocking\n"
               "   folio_journal_append with it; %g s per run, median of %u\n\n",
               o->seconds, o->runs);
        double top = 0;
        err = reg_bench(o, scratch, &top);
        if (err != FOLIO_OK)
            goto out;
        printf("\n%u callers: %s registrations/s (target >= %s: %s)\n", REG_THREADS_MAX,
               bench_fmt_count(a, top), bench_fmt_count(b, TARGET_REGISTRATIONS_PER_S),
               top >= TARGET_REGISTRATIONS_PER_S ? "met" : "MISSED");
    }
out:
    gen_free(&g);
    return err;
}

int
main(int argc, char **argv)
{
    struct bench_opts o;
    if (parse_args(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    char *scratch = bench_mkdtemp(o.parent_dir);
    if (scratch == NULL)
        return 1;
    printf("folio scheduler benchmark\n");
    bench_print_machine(scratch, FOLIO_BENCH_BUILD_TYPE);
    int err;
    if (o.one_doc_tasks > 0) {
        err = bench_sched_one_doc(scratch, o.one_doc_tasks, o.runs);
    } else {
        err = o.running_only ? FOLIO_OK : bench_all(&o, scratch);
        if (err == FOLIO_OK)
            err = bench_sched_run(scratch, o.seconds);
    }
    printf("\nload average at end: %.2f\n", bench_loadavg());
    bench_rmrf(scratch);
    folio_free(scratch);
    return err == FOLIO_OK ? 0 : 1;
}
