/*
 * bench_journal: how fast the journal makes events durable and reads them back.
 *
 * 1. Durable appends: P producer threads (1, 4, 16, 64 by default) each call
 *    the blocking folio_journal_append with one pre-encoded ~128-byte event,
 *    for a fixed time per run; per row one warm-up run on the same journal,
 *    then --runs measured runs. Frames, fsyncs and events come from
 *    folio_journal_get_stats; every append's latency goes into a per-thread
 *    histogram of fixed size.
 * 2. Baseline: one fdatasync per 128-byte event (pwrite into a preallocated,
 *    zero-filled file, as the journal's segments are), one thread.
 * 3. Replay: a journal of --replay-events events written with 256-event
 *    appends, then read back with a reader (verifying every frame), with and
 *    without decoding each event, from the page cache and after dropping it.
 *
 * Table 1 also shows the process's CPU time and context switches per event
 * (all threads: producers, writer, preparer): with blocking producers on a
 * small machine the CPU, mostly spent putting threads to sleep and waking
 * them, is what bounds throughput once frames are large.
 *
 * 1b. The CPU's own limit: the largest row of table 1 (and the async row) again
 *    with the journal on a memory filesystem (--floor-dir, default /dev/shm if
 *    it is tmpfs), where write and fdatasync cost almost nothing. No disk lets
 *    the same producers go faster than this row, so it tells a slow disk from
 *    a target the machine's CPUs cannot reach.
 *
 * 1c. The scheduler's limit: the same number of threads only queue a seq and
 *    sleep in the journal's own wake code until a stand-in writer wakes them
 *    (journal_wake.c): no event, no copy, no write. What a blocking append
 *    costs beyond this is the journal's; this much no journal can avoid.
 *
 * Everything happens in one scratch directory under --dir (default "."), so
 * on the filesystem of the work tree, and the directory is removed at the end.
 * The program prints tables and never judges a timing by its exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "benchutil.h"
#include "journal_wake.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"
#include "folio/journal.h"

#ifndef FOLIO_BENCH_BUILD_TYPE
#define FOLIO_BENCH_BUILD_TYPE "unknown"
#endif

#define EVENT_BYTES_TARGET 128u
#define PRODUCERS_MAX 1024u
#define PRODUCER_COUNTS_MAX 16u
#define REPLAY_WRITERS 4u
#define REPLAY_BATCH_EVENTS 256u
#define BASELINE_FILE_BYTES (64ull * 1024 * 1024)
#define ZERO_CHUNK_BYTES (1u << 20)
#define TARGET_EVENTS_PER_S 200000.0
#define TARGET_BASELINE_RATIO 20.0
#define TARGET_REPLAY_EVENTS_PER_S 3000000.0
#define TMPFS_MAGIC_NUMBER 0x01021994l

struct bench_opts {
    const char *parent_dir;
    double seconds;
    unsigned runs;
    uint64_t replay_events;
    bool replay;                 /* run table 3 */
    unsigned async_slots;        /* appends in flight in the async row of table 1; 0: no row */
    unsigned group_window_us;    /* folio_journal_opts.group_window_us of table 1's journals */
    const char *floor_dir;       /* table 1b's parent directory (tmpfs); NULL: no table 1b */
    unsigned producer_counts[PRODUCER_COUNTS_MAX];
    unsigned producer_count_n;
};

/* ---- events --------------------------------------------------------------- */

/*
 * Encodes a task_registered event whose index uid pads it to target_len bytes
 * (within a few bytes: the uid's msgpack header and task_uid width vary).
 */
static int
event_make(uint64_t task_uid, size_t target_len, uint8_t **out, size_t *out_len)
{
    char uid[512];
    size_t pad = target_len > 80 ? target_len - 80 : 1;
    int err = FOLIO_OK;
    for (int attempt = 0; attempt < 4; attempt++) {
        pad = pad < 1 ? 1 : pad > sizeof(uid) - 1 ? sizeof(uid) - 1 : pad;
        for (size_t i = 0; i < pad; i++)
            uid[i] = (char)('a' + (task_uid + i) % 26);
        uid[pad] = '\0';
        struct folio_str index_uid = folio_str_c(uid);
        struct folio_event ev = {.type = FOLIO_EV_TASK_REGISTERED, .at_ns = 1700000000000000000ll};
        ev.u.task_registered.task_uid = task_uid;
        ev.u.task_registered.kind = folio_str_c("documentAdditionOrUpdate");
        ev.u.task_registered.index_uids.items = &index_uid;
        ev.u.task_registered.index_uids.count = 1;
        ev.u.task_registered.enqueued_at_ns = 1700000000000000000ll;
        err = folio_event_encode(&ev, out, out_len);
        if (err != FOLIO_OK || *out_len == target_len || attempt == 3)
            return err;
        folio_free(*out);
        pad = (size_t)((long)pad + (long)target_len - (long)*out_len);
    }
    return err;
}

/* ---- 1. durable appends ----------------------------------------------------- */

struct producer {
    pthread_t thread;
    struct folio_journal *journal;
    pthread_barrier_t *start;
    atomic_bool *stop;
    uint64_t task_uid;
    uint64_t appends;
    int err;
    struct bench_hist latency;
    unsigned slots;              /* > 0: asynchronous, this many appends in flight */
    /* Keeps each thread's counters off its neighbours' cache lines (they are in one array). */
    uint8_t pad[128];
};

/*
 * Asynchronous producers, the way the libev server appends: one thread keeps
 * `slots` appends in flight with folio_journal_append_async; each ack (on the
 * writer thread) frees its slot and writes an eventfd, and the thread
 * re-submits from the freed slots. No thread sleeps per append.
 */
struct async_slot {
    struct async_state *owner;
    int64_t t0;
};

struct async_state {
    struct producer *p;
    int efd;
    pthread_mutex_t mu;
    struct async_slot *slots;
    unsigned *free_slots;
    unsigned *taken;             /* the submitting thread's copy of free_slots */
    unsigned free_n;
};

static void
async_ack(void *ctx, int err, uint64_t first_seq)
{
    (void)first_seq;
    struct async_slot *slot = ctx;
    struct async_state *st = slot->owner;
    int64_t now = bench_now_ns();
    pthread_mutex_lock(&st->mu);
    if (err != FOLIO_OK)
        st->p->err = err;
    else
        st->p->appends++;
    bench_hist_add(&st->p->latency, (uint64_t)(now - slot->t0));
    st->free_slots[st->free_n++] = (unsigned)(slot - st->slots);
    pthread_mutex_unlock(&st->mu);
    uint64_t one = 1;
    if (write(st->efd, &one, sizeof(one)) != sizeof(one))
        FOLIO_PANIC("bench: eventfd write failed");
}

/* Submits from every free slot; returns how many are in flight. */
static unsigned
async_submit_free(struct async_state *st, const struct folio_journal_entry *entry)
{
    pthread_mutex_lock(&st->mu);
    unsigned n = st->free_n;
    memcpy(st->taken, st->free_slots, n * sizeof(unsigned));
    st->free_n = 0;
    pthread_mutex_unlock(&st->mu);
    for (unsigned i = 0; i < n; i++) {
        struct async_slot *slot = &st->slots[st->taken[i]];
        slot->t0 = bench_now_ns();
        int err = folio_journal_append_async(st->p->journal, entry, 1, async_ack, slot);
        if (err != FOLIO_OK)
            FOLIO_PANIC("bench: append_async failed: %s", folio_err_message(err));
    }
    return n;
}

static void
async_loop(struct producer *p, const struct folio_journal_entry *entry)
{
    struct async_state st = {.p = p, .efd = eventfd(0, 0)};
    pthread_mutex_init(&st.mu, NULL);
    st.slots = folio_calloc(p->slots, sizeof(*st.slots));
    st.free_slots = folio_calloc(p->slots, sizeof(unsigned));
    st.taken = folio_calloc(p->slots, sizeof(unsigned));
    for (unsigned i = 0; i < p->slots; i++) {
        st.slots[i].owner = &st;
        st.free_slots[st.free_n++] = i;
    }
    unsigned in_flight = 0;
    uint64_t acks = 0;
    while (!atomic_load_explicit(p->stop, memory_order_relaxed)) {
        in_flight += async_submit_free(&st, entry);
        if (read(st.efd, &acks, sizeof(acks)) != sizeof(acks))
            FOLIO_PANIC("bench: eventfd read failed");
        in_flight -= (unsigned)acks;
    }
    while (in_flight > 0) { /* callbacks point into st: wait for every one */
        if (read(st.efd, &acks, sizeof(acks)) != sizeof(acks))
            FOLIO_PANIC("bench: eventfd read failed");
        in_flight -= (unsigned)acks;
    }
    close(st.efd);
    pthread_mutex_destroy(&st.mu);
    folio_free(st.slots);
    folio_free(st.free_slots);
    folio_free(st.taken);
}

static void *
producer_main(void *arg)
{
    struct producer *p = arg;
    uint8_t *event = NULL;
    size_t event_len = 0;
    p->err = event_make(p->task_uid, EVENT_BYTES_TARGET, &event, &event_len);
    pthread_barrier_wait(p->start);
    if (p->err != FOLIO_OK)
        return NULL;
    struct folio_journal_entry entry = {event, event_len};
    if (p->slots > 0) {
        async_loop(p, &entry);
        folio_free(event);
        return NULL;
    }
    while (!atomic_load_explicit(p->stop, memory_order_relaxed)) {
        int64_t t0 = bench_now_ns();
        int err = folio_journal_append(p->journal, &entry, 1, NULL);
        int64_t t1 = bench_now_ns();
        if (err != FOLIO_OK) {
            p->err = err;
            break;
        }
        bench_hist_add(&p->latency, (uint64_t)(t1 - t0));
        p->appends++;
    }
    folio_free(event);
    return NULL;
}

/* One run's figures. */
struct append_result {
    double events_per_s;
    double fsyncs_per_kev;
    double events_per_frame;
    double rolls;
    double p50_us, p99_us, max_us;
    double cpu_pct;
    double cpu_us_per_ev;        /* process CPU time per durable event */
    double csw_per_ev;           /* context switches (all threads) per durable event */
};

static void
thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    int err = pthread_create(t, NULL, fn, arg);
    if (err != 0)
        FOLIO_PANIC("bench: cannot start a thread: %s", strerror(err));
}

/* Fills out from the stats and histogram of a finished run. */
static void
append_result_fill(const struct folio_journal_stats *s0, const struct folio_journal_stats *s1,
                   const struct bench_hist *latency, double seconds, double cpu_s, double csw,
                   struct append_result *out)
{
    double events = (double)(s1->events_written - s0->events_written);
    double frames = (double)(s1->frames_written - s0->frames_written);
    out->events_per_s = events / seconds;
    out->fsyncs_per_kev = events > 0 ? 1000.0 * (double)(s1->fsyncs - s0->fsyncs) / events : 0;
    out->events_per_frame = frames > 0 ? events / frames : 0;
    out->rolls = (double)(s1->segments_rolled - s0->segments_rolled);
    out->p50_us = (double)bench_hist_quantile_ns(latency, 0.50) / 1e3;
    out->p99_us = (double)bench_hist_quantile_ns(latency, 0.99) / 1e3;
    out->max_us = (double)latency->max_ns / 1e3;
    out->cpu_pct = 100.0 * cpu_s / seconds;
    out->cpu_us_per_ev = events > 0 ? 1e6 * cpu_s / events : 0;
    out->csw_per_ev = events > 0 ? csw / events : 0;
}

/* Voluntary and involuntary context switches of every thread of the process so far. */
static double
context_switches(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_nvcsw + (double)ru.ru_nivcsw;
}

/* Runs `producers` threads appending for `seconds`; 0 or the first append error. */
static int
append_run(struct folio_journal *j, unsigned producers, unsigned slots, double seconds,
           struct append_result *out)
{
    struct producer *ps = folio_calloc(producers, sizeof(*ps));
    pthread_barrier_t start;
    atomic_bool stop;
    atomic_init(&stop, false);
    pthread_barrier_init(&start, NULL, producers + 1);
    struct folio_journal_stats s0, s1;
    folio_journal_get_stats(j, &s0);
    for (unsigned i = 0; i < producers; i++) {
        ps[i] = (struct producer){
            .journal = j, .start = &start, .stop = &stop, .task_uid = i + 1, .slots = slots};
        bench_hist_init(&ps[i].latency);
        thread_start(&ps[i].thread, producer_main, &ps[i]);
    }
    pthread_barrier_wait(&start);
    double cpu0 = bench_cpu_seconds(), csw0 = context_switches();
    int64_t t0 = bench_now_ns();
    bench_sleep_ns((int64_t)(seconds * 1e9));
    atomic_store(&stop, true);
    struct bench_hist all;
    bench_hist_init(&all);
    uint64_t appends = 0;
    int err = FOLIO_OK;
    for (unsigned i = 0; i < producers; i++) {
        pthread_join(ps[i].thread, NULL);
        bench_hist_merge(&all, &ps[i].latency);
        bench_hist_free(&ps[i].latency);
        appends += ps[i].appends;
        if (err == FOLIO_OK)
            err = ps[i].err;
    }
    double elapsed_s = (double)(bench_now_ns() - t0) / 1e9;
    double cpu_s = bench_cpu_seconds() - cpu0, csw = context_switches() - csw0;
    folio_journal_get_stats(j, &s1);
    if (err == FOLIO_OK && s1.events_written - s0.events_written != appends) {
        fprintf(stderr, "bench: %llu appends acknowledged but the journal counted %llu events\n",
                (unsigned long long)appends,
                (unsigned long long)(s1.events_written - s0.events_written));
        err = FOLIO_E_CORRUPT;
    }
    append_result_fill(&s0, &s1, &all, elapsed_s, cpu_s, csw, out);
    bench_hist_free(&all);
    pthread_barrier_destroy(&start);
    folio_free(ps);
    return err;
}

/* Medians (and extremes of the throughput) over the runs of one row. */
struct append_row {
    unsigned producers;
    unsigned slots;              /* > 0: one thread with this many async appends in flight */
    double events_med, events_min, events_max;
    struct append_result med;
};

#define MED_FIELD(rs, n, field, tmp)                                                               \
    do {                                                                                           \
        for (size_t k_ = 0; k_ < (n); k_++)                                                        \
            (tmp)[k_] = (rs)[k_].field;                                                            \
    } while (0)

static void
append_row_summarise(const struct append_result *rs, unsigned n, struct append_row *row)
{
    double *v = folio_calloc(n, sizeof(*v));
    MED_FIELD(rs, n, events_per_s, v);
    row->events_med = bench_median(v, n);
    row->events_min = bench_min(v, n);
    row->events_max = bench_max(v, n);
    row->med.events_per_s = row->events_med;
    MED_FIELD(rs, n, fsyncs_per_kev, v);
    row->med.fsyncs_per_kev = bench_median(v, n);
    MED_FIELD(rs, n, events_per_frame, v);
    row->med.events_per_frame = bench_median(v, n);
    MED_FIELD(rs, n, rolls, v);
    row->med.rolls = bench_median(v, n);
    MED_FIELD(rs, n, p50_us, v);
    row->med.p50_us = bench_median(v, n);
    MED_FIELD(rs, n, p99_us, v);
    row->med.p99_us = bench_median(v, n);
    MED_FIELD(rs, n, max_us, v);
    row->med.max_us = bench_median(v, n);
    MED_FIELD(rs, n, cpu_pct, v);
    row->med.cpu_pct = bench_median(v, n);
    MED_FIELD(rs, n, cpu_us_per_ev, v);
    row->med.cpu_us_per_ev = bench_median(v, n);
    MED_FIELD(rs, n, csw_per_ev, v);
    row->med.csw_per_ev = bench_median(v, n);
    folio_free(v);
}

static int
journal_open_new(const char *dir, unsigned group_window_us, struct folio_journal **out)
{
    struct folio_journal_opts opts;
    folio_journal_opts_default(&opts);
    opts.create = true;
    opts.group_window_us = group_window_us;
    struct folio_journal_diag diag;
    int err = folio_journal_open(dir, &opts, out, NULL, &diag);
    if (err != FOLIO_OK)
        fprintf(stderr, "bench: cannot open journal %s: %s (%s)\n", dir, folio_err_message(err),
                diag.reason);
    return err;
}

/* One row of table 1: a fresh journal, one warm-up run, then opts->runs runs. */
static int
append_bench_row(const struct bench_opts *opts, const char *scratch, unsigned producers,
                 unsigned slots, struct append_row *row)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/append-%u", scratch, producers);
    struct folio_journal *j = NULL;
    int err = journal_open_new(dir, opts->group_window_us, &j);
    if (err != FOLIO_OK)
        return err;
    struct append_result *rs = folio_calloc(opts->runs, sizeof(*rs));
    struct append_result warm;
    double warm_s = opts->seconds < 1.0 ? opts->seconds : 1.0;
    err = append_run(j, producers, slots, warm_s, &warm);
    for (unsigned r = 0; r < opts->runs && err == FOLIO_OK; r++)
        err = append_run(j, producers, slots, opts->seconds, &rs[r]);
    folio_journal_close(j);
    if (err == FOLIO_OK) {
        row->producers = producers;
        row->slots = slots;
        append_row_summarise(rs, opts->runs, row);
    } else {
        fprintf(stderr, "bench: append failed: %s\n", folio_err_message(err));
    }
    folio_free(rs);
    bench_rmrf(dir);
    return err;
}

static void
append_table_header(void)
{
    printf("%9s %12s %10s %10s %11s %9s %5s %9s %9s %9s %5s %9s %7s\n", "producers", "events/s",
           "min", "max", "fsyncs/1k", "ev/frame", "rolls", "p50 us", "p99 us", "max us", "cpu%",
           "cpu us/ev", "csw/ev");
}

static void
append_table_row(const struct append_row *row)
{
    char a[32], b[32], c[32], who[32];
    if (row->slots > 0)
        snprintf(who, sizeof(who), "%u async", row->slots);
    else
        snprintf(who, sizeof(who), "%u", row->producers);
    printf("%9s %12s %10s %10s %11.1f %9.1f %5.0f %9.1f %9.1f %9.1f %5.0f %9.2f %7.2f\n", who,
           bench_fmt_count(a, row->events_med), bench_fmt_count(b, row->events_min),
           bench_fmt_count(c, row->events_max), row->med.fsyncs_per_kev, row->med.events_per_frame,
           row->med.rolls, row->med.p50_us, row->med.p99_us, row->med.max_us, row->med.cpu_pct,
           row->med.cpu_us_per_ev, row->med.csw_per_ev);
    fflush(stdout);
}

/* ---- 2. baseline: one fdatasync per event ---------------------------------- */

static int
file_zero_fill(int fd, uint64_t bytes)
{
    uint8_t *zeros = folio_calloc(1, ZERO_CHUNK_BYTES);
    int rc = 0;
    for (uint64_t off = 0; off < bytes && rc == 0; off += ZERO_CHUNK_BYTES) {
        size_t n = bytes - off < ZERO_CHUNK_BYTES ? (size_t)(bytes - off) : ZERO_CHUNK_BYTES;
        if (pwrite(fd, zeros, n, (off_t)off) != (ssize_t)n)
            rc = -1;
    }
    folio_free(zeros);
    return rc == 0 ? fdatasync(fd) : rc;
}

struct baseline_result {
    double events_per_s;
    double p50_us, p99_us;
};

/* pwrite + fdatasync of one event at a time, appending in place, for `seconds`. */
static int
baseline_run(int fd, const uint8_t *event, size_t event_len, double seconds,
             struct baseline_result *out)
{
    struct bench_hist latency;
    bench_hist_init(&latency);
    uint64_t off = 0, events = 0;
    int64_t t_start = bench_now_ns(), t_end = t_start + (int64_t)(seconds * 1e9), now = t_start;
    int rc = 0;
    while (now < t_end) {
        if (off + event_len > BASELINE_FILE_BYTES)
            off = 0;
        if (pwrite(fd, event, event_len, (off_t)off) != (ssize_t)event_len || fdatasync(fd) != 0) {
            fprintf(stderr, "bench: baseline write: %s\n", strerror(errno));
            rc = -1;
            break;
        }
        int64_t t1 = bench_now_ns();
        bench_hist_add(&latency, (uint64_t)(t1 - now));
        now = t1;
        off += event_len;
        events++;
    }
    out->events_per_s = (double)events / ((double)(now - t_start) / 1e9);
    out->p50_us = (double)bench_hist_quantile_ns(&latency, 0.50) / 1e3;
    out->p99_us = (double)bench_hist_quantile_ns(&latency, 0.99) / 1e3;
    bench_hist_free(&latency);
    return rc;
}

/* Table 2; *events_med receives the median events/s (0 on failure). */
static int
baseline_bench(const struct bench_opts *opts, const char *scratch, double *events_med)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/baseline.dat", scratch);
    uint8_t *event = NULL;
    size_t event_len = 0;
    struct baseline_result warm, *rs = folio_calloc(opts->runs, sizeof(*rs));
    double *v = folio_calloc(opts->runs, sizeof(*v));
    int rc = -1;
    *events_med = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || file_zero_fill(fd, BASELINE_FILE_BYTES) != 0) {
        fprintf(stderr, "bench: baseline file %s: %s\n", path, strerror(errno));
        goto out;
    }
    if (event_make(1, EVENT_BYTES_TARGET, &event, &event_len) != FOLIO_OK)
        goto out;
    if (baseline_run(fd, event, event_len, opts->seconds < 1.0 ? opts->seconds : 1.0, &warm))
        goto out;
    for (unsigned r = 0; r < opts->runs; r++)
        if (baseline_run(fd, event, event_len, opts->seconds, &rs[r]) != 0)
            goto out;
    char a[32], b[32], c[32];
    printf("%-44s %10s %10s %10s %8s %8s\n", "pattern", "events/s", "min", "max", "p50 us",
           "p99 us");
    MED_FIELD(rs, opts->runs, events_per_s, v);
    *events_med = bench_median(v, opts->runs);
    bench_fmt_count(a, *events_med);
    bench_fmt_count(b, bench_min(v, opts->runs));
    bench_fmt_count(c, bench_max(v, opts->runs));
    MED_FIELD(rs, opts->runs, p50_us, v);
    double p50 = bench_median(v, opts->runs);
    MED_FIELD(rs, opts->runs, p99_us, v);
    printf("pwrite %3zu B in place + fdatasync, 1 thread   %10s %10s %10s %8.1f %8.1f\n", event_len,
           a, b, c, p50, bench_median(v, opts->runs));
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    unlink(path);
    folio_free(event);
    folio_free(rs);
    folio_free(v);
    return rc;
}

/* ---- 3. replay ------------------------------------------------------------ */

struct replay_writer {
    pthread_t thread;
    struct folio_journal *journal;
    atomic_uint_fast64_t *claimed;
    uint64_t total;
    uint64_t first_task_uid;
    int err;
};

static void *
replay_writer_main(void *arg)
{
    struct replay_writer *w = arg;
    struct folio_journal_entry entries[REPLAY_BATCH_EVENTS];
    uint8_t *bufs[REPLAY_BATCH_EVENTS] = {0};
    for (unsigned i = 0; i < REPLAY_BATCH_EVENTS && w->err == FOLIO_OK; i++) {
        size_t len = 0;
        w->err = event_make(w->first_task_uid + i, EVENT_BYTES_TARGET, &bufs[i], &len);
        entries[i] = (struct folio_journal_entry){bufs[i], len};
    }
    while (w->err == FOLIO_OK) {
        uint64_t base = atomic_fetch_add(w->claimed, REPLAY_BATCH_EVENTS);
        if (base >= w->total)
            break;
        uint64_t left = w->total - base;
        size_t n = left < REPLAY_BATCH_EVENTS ? (size_t)left : REPLAY_BATCH_EVENTS;
        w->err = folio_journal_append(w->journal, entries, n, NULL);
    }
    for (unsigned i = 0; i < REPLAY_BATCH_EVENTS; i++)
        folio_free(bufs[i]);
    return NULL;
}

/* Writes a journal of `events` events with REPLAY_WRITERS threads of 256-event appends. */
static int
replay_write(const char *dir, uint64_t events)
{
    struct folio_journal *j = NULL;
    int err = journal_open_new(dir, 0, &j);
    if (err != FOLIO_OK)
        return err;
    atomic_uint_fast64_t claimed;
    atomic_init(&claimed, 0);
    struct replay_writer ws[REPLAY_WRITERS];
    int64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < REPLAY_WRITERS; i++) {
        ws[i] = (struct replay_writer){.journal = j,
                                       .claimed = &claimed,
                                       .total = events,
                                       .first_task_uid = 1 + i * REPLAY_BATCH_EVENTS};
        thread_start(&ws[i].thread, replay_writer_main, &ws[i]);
    }
    for (unsigned i = 0; i < REPLAY_WRITERS; i++) {
        pthread_join(ws[i].thread, NULL);
        if (err == FOLIO_OK)
            err = ws[i].err;
    }
    double seconds = (double)(bench_now_ns() - t0) / 1e9;
    struct folio_journal_stats st;
    folio_journal_get_stats(j, &st);
    folio_journal_close(j);
    if (err != FOLIO_OK) {
        fprintf(stderr, "bench: replay journal write failed: %s\n", folio_err_message(err));
        return err;
    }
    char a[32], b[32];
    printf("written: %s events in %.2f s (%s durable events/s; %u threads x %u-event appends),\n"
           "         %llu frames (%.0f events/frame), %llu segments rolled\n",
           bench_fmt_count(a, (double)events), seconds,
           bench_fmt_count(b, (double)events / seconds), REPLAY_WRITERS, REPLAY_BATCH_EVENTS,
           (unsigned long long)st.frames_written,
           st.frames_written ? (double)st.events_written / (double)st.frames_written : 0.0,
           (unsigned long long)st.segments_rolled);
    return FOLIO_OK;
}

struct replay_result {
    double seconds;
    uint64_t events;
    uint64_t event_bytes;
};

/* Reads every event of the journal in dir (and decodes it if decode); checks seqs. */
static int
replay_pass(const char *dir, bool decode, struct replay_result *out)
{
    struct folio_journal_diag diag;
    struct folio_journal_reader *r = NULL;
    struct folio_journal_record rec;
    memset(out, 0, sizeof(*out));
    int64_t t0 = bench_now_ns();
    int err = folio_journal_reader_open(dir, 1, 0, &r, &diag);
    while (err == FOLIO_OK && (err = folio_journal_reader_next(r, &rec, &diag)) == FOLIO_OK) {
        if (rec.seq != out->events + 1) {
            snprintf(diag.reason, sizeof(diag.reason), "seq %llu where %llu was expected",
                     (unsigned long long)rec.seq, (unsigned long long)out->events + 1);
            err = FOLIO_E_CORRUPT;
            break;
        }
        out->events++;
        out->event_bytes += rec.len;
        if (decode) {
            struct folio_event ev;
            err = folio_event_decode(rec.data, rec.len, &ev);
            if (err != FOLIO_OK) {
                snprintf(diag.reason, sizeof(diag.reason), "event %llu does not decode",
                         (unsigned long long)rec.seq);
                break;
            }
            folio_event_clear(&ev);
        }
    }
    out->seconds = (double)(bench_now_ns() - t0) / 1e9;
    folio_journal_reader_close(r);
    if (err == FOLIO_E_END)
        return FOLIO_OK;
    fprintf(stderr, "bench: replay: %s (%s)\n", folio_err_message(err), diag.reason);
    return err;
}

struct replay_row_spec {
    bool cold;
    bool decode;
};

/* One row of table 3: a warm-up pass if warm, then opts->runs measured passes. */
static int
replay_row(const struct bench_opts *opts, const char *dir, struct replay_row_spec spec,
           uint64_t disk_bytes, bool *global_dropped, double *events_med)
{
    struct replay_result res;
    double *ev_s = folio_calloc(opts->runs, sizeof(*ev_s));
    double *mb_s = folio_calloc(opts->runs, sizeof(*mb_s));
    int err = spec.cold ? FOLIO_OK : replay_pass(dir, spec.decode, &res);
    for (unsigned r = 0; r < opts->runs && err == FOLIO_OK; r++) {
        if (spec.cold)
            bench_drop_caches(dir, global_dropped);
        err = replay_pass(dir, spec.decode, &res);
        ev_s[r] = (double)res.events / res.seconds;
        mb_s[r] = (double)res.event_bytes / res.seconds / 1e6;
    }
    if (err == FOLIO_OK) {
        char a[32], b[32], c[32];
        double med = bench_median(ev_s, opts->runs);
        *events_med = med;
        printf("%-5s %-19s %12s %12s %12s %9.0f %9.0f %8.0f\n", spec.cold ? "cold" : "warm",
               spec.decode ? "read+verify+decode" : "read+verify", bench_fmt_count(a, med),
               bench_fmt_count(b, bench_min(ev_s, opts->runs)),
               bench_fmt_count(c, bench_max(ev_s, opts->runs)), bench_median(mb_s, opts->runs),
               (double)disk_bytes * med / (double)res.events / 1e6, 1e9 / med);
        fflush(stdout);
    }
    folio_free(ev_s);
    folio_free(mb_s);
    return err;
}

/* Table 3 and the comparison with the replay target. */
static int
replay_bench(const struct bench_opts *opts, const char *scratch)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/replay", scratch);
    int err = replay_write(dir, opts->replay_events);
    if (err != FOLIO_OK)
        return err;
    struct folio_journal_verify_info vi;
    struct folio_journal_diag diag;
    err = folio_journal_verify(dir, &vi, &diag);
    if (err != FOLIO_OK) {
        fprintf(stderr, "bench: verify: %s (%s)\n", folio_err_message(err), diag.reason);
        return err;
    }
    printf("         %llu segments, %.1f MB of frames (%.1f bytes/event on disk)\n\n",
           (unsigned long long)vi.segments, (double)vi.bytes_used / 1e6,
           (double)vi.bytes_used / (double)vi.events);
    printf("%-5s %-19s %12s %12s %12s %9s %9s %8s\n", "cache", "work", "events/s", "min", "max",
           "ev MB/s", "disk MB/s", "ns/ev");
    static const struct replay_row_spec specs[] = {
        {false, false}, {false, true}, {true, false}, {true, true}};
    bool global_dropped = false;
    double med[FOLIO_ARRAY_LEN(specs)] = {0};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(specs) && err == FOLIO_OK; i++)
        err = replay_row(opts, dir, specs[i], vi.bytes_used, &global_dropped, &med[i]);
    if (err == FOLIO_OK) {
        char a[32], b[32];
        printf("\ncold = fsync + posix_fadvise(DONTNEED) on every file%s\n",
               global_dropped ? " + echo 3 > /proc/sys/vm/drop_caches"
                              : " (/proc/sys/vm/drop_caches not writable: skipped)");
        printf("warm read+verify+decode: %s events/s (target >= %s: %s)\n",
               bench_fmt_count(a, med[1]), bench_fmt_count(b, TARGET_REPLAY_EVENTS_PER_S),
               med[1] >= TARGET_REPLAY_EVENTS_PER_S ? "met" : "MISSED");
    }
    bench_rmrf(dir);
    return err;
}

/* ---- options and main ------------------------------------------------------- */

static void
usage(FILE *f)
{
    fprintf(f, "usage: bench_journal [--dir DIR] [--seconds N] [--runs N] [--quick]\n"
               "                     [--replay-events N] [--no-replay] [--producers 1,4,16,64]\n"
               "                     [--async-slots N] [--group-window-us N]\n"
               "                     [--floor-dir DIR|none]\n"
               "  --async-slots N  appends in flight in table 1's async row (default 64;\n"
               "                   0 leaves the row out)\n"
               "  --no-replay      leave table 3 out\n"
               "  --group-window-us N  group_window_us of table 1's journals (default 0)\n"
               "  --floor-dir DIR  where table 1b's journals go: a tmpfs directory (default\n"
               "                   /dev/shm if it is tmpfs; 'none' leaves table 1b out)\n");
}

static int
parse_producers(const char *s, struct bench_opts *o)
{
    o->producer_count_n = 0;
    while (*s != '\0') {
        char *end = NULL;
        unsigned long n = strtoul(s, &end, 10);
        if (end == s || n < 1 || n > PRODUCERS_MAX || o->producer_count_n == PRODUCER_COUNTS_MAX)
            return -1;
        o->producer_counts[o->producer_count_n++] = (unsigned)n;
        s = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0')
            return -1;
    }
    return o->producer_count_n > 0 ? 0 : -1;
}

static int
parse_args(int argc, char **argv, struct bench_opts *o)
{
    *o = (struct bench_opts){.parent_dir = ".",
                             .seconds = 3,
                             .runs = 3,
                             .replay_events = 2000000,
                             .replay = true,
                             .async_slots = 64,
                             .floor_dir = "/dev/shm",
                             .producer_counts = {1, 4, 16, 64},
                             .producer_count_n = 4};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            o->seconds = 1;
            o->runs = 1;
            o->replay_events = 200000;
        } else if (strcmp(a, "--no-replay") == 0) {
            o->replay = false;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (v == NULL) {
            return -1;
        } else if (strcmp(a, "--dir") == 0) {
            o->parent_dir = v;
            i++;
        } else if (strcmp(a, "--seconds") == 0) {
            o->seconds = strtod(v, NULL);
            i++;
        } else if (strcmp(a, "--runs") == 0) {
            o->runs = (unsigned)strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--async-slots") == 0) {
            unsigned long slots = strtoul(v, NULL, 10);
            if (slots > PRODUCERS_MAX)
                return -1;
            o->async_slots = (unsigned)slots;
            i++;
        } else if (strcmp(a, "--group-window-us") == 0) {
            unsigned long us = strtoul(v, NULL, 10);
            if (us > 1000000)
                return -1;
            o->group_window_us = (unsigned)us;
            i++;
        } else if (strcmp(a, "--floor-dir") == 0) {
            o->floor_dir = strcmp(v, "none") == 0 ? NULL : v;
            i++;
        } else if (strcmp(a, "--replay-events") == 0) {
            o->replay_events = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--producers") == 0) {
            if (parse_producers(v, o) != 0)
                return -1;
            i++;
        } else {
            return -1;
        }
    }
    bool ok = o->seconds > 0 && o->seconds <= 3600 && o->runs >= 1 && o->runs <= 100 &&
              o->replay_events >= 1;
    return ok ? 0 : -1;
}

/* Encodes and decodes one event so a broken codec shows before any timing. */
static int
event_check(size_t *len)
{
    uint8_t *buf = NULL;
    int err = event_make(1, EVENT_BYTES_TARGET, &buf, len);
    struct folio_event ev;
    if (err == FOLIO_OK && (err = folio_event_decode(buf, *len, &ev)) == FOLIO_OK)
        folio_event_clear(&ev);
    if (err != FOLIO_OK)
        fprintf(stderr, "bench: the event codec fails: %s\n", folio_err_message(err));
    folio_free(buf);
    return err;
}

/*
 * Table 1b: the largest producer count (and the async row) with the journal
 * on tmpfs. Sets *floor to its events/s, 0 if the table was left out.
 */
static int
floor_bench(const struct bench_opts *o, unsigned producers, double *floor)
{
    *floor = 0;
    if (o->floor_dir == NULL)
        return 0;
    struct statfs fs;
    if (statfs(o->floor_dir, &fs) != 0 || (long)fs.f_type != TMPFS_MAGIC_NUMBER) {
        printf("\n1b. left out: %s is not a tmpfs directory (--floor-dir)\n", o->floor_dir);
        return 0;
    }
    char *scratch = bench_mkdtemp(o->floor_dir);
    if (scratch == NULL)
        return -1;
    printf("\n1b. The CPUs' limit: the same appends with the journal on tmpfs (%s), where\n"
           "    write and fdatasync cost next to nothing; no disk makes these producers faster\n\n",
           o->floor_dir);
    append_table_header();
    struct append_row row;
    int err = append_bench_row(o, scratch, producers, 0, &row);
    if (err == FOLIO_OK) {
        append_table_row(&row);
        *floor = row.events_med;
    }
    if (err == FOLIO_OK && o->async_slots > 0 &&
        (err = append_bench_row(o, scratch, 1, o->async_slots, &row)) == FOLIO_OK)
        append_table_row(&row);
    bench_rmrf(scratch);
    folio_free(scratch);
    return err == FOLIO_OK ? 0 : -1;
}

/*
 * Table 1c: `producers` threads doing nothing but the sleep and wake-up of a
 * blocking append; median of o->runs. Sets *limit to its round trips/s.
 */
static void
wake_limit_bench(const struct bench_opts *o, unsigned producers, double *limit)
{
    printf("\n1c. The scheduler's limit: %u threads that only take a seq and sleep in the\n"
           "    journal's wake code until a stand-in writer wakes them; no event, no write\n\n",
           producers);
    printf("producers  round trips/s        min        max  per take  cpu%%  cpu us/rt  csw/rt\n");
    struct wake_bench_result *rs = folio_calloc(o->runs, sizeof(*rs));
    double *v = folio_calloc(o->runs, sizeof(*v));
    for (unsigned i = 0; i < o->runs; i++) {
        wake_bench_run(producers, o->seconds, &rs[i]);
        v[i] = rs[i].wakes_per_s;
    }
    double med = bench_median(v, o->runs);
    unsigned mi = 0; /* the run closest to the median gives the other columns */
    for (unsigned i = 1; i < o->runs; i++)
        if (fabs(v[i] - med) < fabs(v[mi] - med))
            mi = i;
    char a[32], b[32], c[32];
    printf("%9u %14s %10s %10s %9.1f %5.0f %10.2f %7.2f\n", producers, bench_fmt_count(a, med),
           bench_fmt_count(b, bench_min(v, o->runs)), bench_fmt_count(c, bench_max(v, o->runs)),
           rs[mi].wakes_per_take, rs[mi].cpu_pct, rs[mi].cpu_us_per_wake, rs[mi].csw_per_wake);
    *limit = med;
    folio_free(v);
    folio_free(rs);
}

/* Table 1 and 2 and the comparison with the targets. */
static int
durable_benches(const struct bench_opts *o, const char *scratch)
{
    printf("\n1. Durable appends: each producer thread calls the blocking folio_journal_append\n"
           "   with one event; %g s per run, median of %u run(s), min/max of events/s\n",
           o->seconds, o->runs);
    if (o->group_window_us > 0)
        printf("   group_window_us = %u\n", o->group_window_us);
    printf("\n");
    append_table_header();
    struct append_row rows[PRODUCER_COUNTS_MAX], *top = NULL;
    for (unsigned i = 0; i < o->producer_count_n; i++) {
        if (append_bench_row(o, scratch, o->producer_counts[i], 0, &rows[i]) != FOLIO_OK)
            return -1;
        append_table_row(&rows[i]);
        if (top == NULL || rows[i].producers >= top->producers)
            top = &rows[i];
    }
    /* The server's way: one event-loop thread, 64 requests each with one append in flight. */
    struct append_row async_row;
    if (o->async_slots > 0) {
        if (append_bench_row(o, scratch, 1, o->async_slots, &async_row) != FOLIO_OK)
            return -1;
        append_table_row(&async_row);
    }
    double floor = 0;
    if (floor_bench(o, top->producers, &floor) != 0)
        return -1;
    double wake_limit = 0;
    wake_limit_bench(o, top->producers, &wake_limit);
    printf("\n2. Baseline on the same disk: one fdatasync per event, %g s per run, "
           "median of %u\n\n",
           o->seconds, o->runs);
    double baseline = 0;
    if (baseline_bench(o, scratch, &baseline) != 0)
        return -1;
    char a[32], b[32];
    double ratio = baseline > 0 ? top->events_med / baseline : 0;
    printf("\n%u producers: %s durable events/s (target >= %s: %s); %.1fx the baseline "
           "(target >= %.0fx: %s)\n",
           top->producers, bench_fmt_count(a, top->events_med),
           bench_fmt_count(b, TARGET_EVENTS_PER_S),
           top->events_med >= TARGET_EVENTS_PER_S ? "met" : "MISSED", ratio, TARGET_BASELINE_RATIO,
           ratio >= TARGET_BASELINE_RATIO ? "met" : "MISSED");
    if (floor > 0) {
        char c[32];
        printf("\n%.0fx this disk's baseline is %s events/s; on tmpfs the CPUs allow %s (%.1fx)\n",
               TARGET_BASELINE_RATIO, bench_fmt_count(a, TARGET_BASELINE_RATIO * baseline),
               bench_fmt_count(c, floor), baseline > 0 ? floor / baseline : 0);
    }
    printf("%u threads that only sleep and are woken: %s round trips/s (%.1fx)\n", top->producers,
           bench_fmt_count(a, wake_limit), baseline > 0 ? wake_limit / baseline : 0);
    return 0;
}

int
main(int argc, char **argv)
{
    struct bench_opts o;
    if (parse_args(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    size_t event_len = 0;
    if (event_check(&event_len) != FOLIO_OK)
        return 1;
    char *scratch = bench_mkdtemp(o.parent_dir);
    if (scratch == NULL)
        return 1;
    int rc = 1;
    printf("folio journal benchmark\n");
    bench_print_machine(scratch, FOLIO_BENCH_BUILD_TYPE);
    printf("  event     : task_registered, %zu bytes encoded\n", event_len);
    if (durable_benches(&o, scratch) != 0)
        goto out;
    if (!o.replay) {
        rc = 0;
        goto out;
    }
    printf("\n3. Replay: reader_open + reader_next over every event (every frame verified),\n"
           "   optionally folio_event_decode + folio_event_clear of each; warm: 1 warm-up pass,\n"
           "   then median of %u; cold: page cache dropped before each of %u passes\n\n",
           o.runs, o.runs);
    if (replay_bench(&o, scratch) != FOLIO_OK)
        goto out;
    rc = 0;
out:
    printf("\nload average at end: %.2f\n", bench_loadavg());
    bench_rmrf(scratch);
    folio_free(scratch);
    return rc;
}
