/*
 * Journal basics on real files: append and read back across many segment
 * rollovers, reopen and continue the chain, atomic multi-event appends,
 * 16 concurrent producers, asynchronous acknowledgement through an eventfd,
 * a follower started mid-stream, the writer lock and argument errors, the
 * before_sync hook (once per frame, before the frame is durable; a failing
 * hook aborts), and blocking and asynchronous producers against a queue and
 * frames far smaller than they fill (back-pressure, frames split at their
 * limits), and the frame holding a seq (folio_journal_frame_at) with the
 * journal cut after it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/journal.h"
#include "testutil.h"

#define SMALL_SEG (64u * 1024u)
#define HOOK_PRODUCERS 8
#define HOOK_APPENDS 300
#define MIX_BLOCKING 6
#define MIX_ASYNC 3
#define MIX_APPENDS 200
#define MIX_FRAME_EVENTS 5
#define MIX_FRAME_BODY 2048

/* Opens (creating) a journal of small segments with the other options of *o. */
static struct folio_journal *
open_small_opts(const char *dir, struct folio_journal_opts *o)
{
    o->segment_bytes = SMALL_SEG;
    o->create = true;
    struct folio_journal *j = NULL;
    struct folio_journal_diag d;
    int err = folio_journal_open(dir, o, &j, NULL, &d);
    if (err != 0)
        fprintf(stderr, "open: %s: %s %s@%llu\n", folio_err_name(err), d.reason, d.segment,
                (unsigned long long)d.offset);
    assert_int_equal(err, 0);
    return j;
}

static struct folio_journal *
open_small(const char *dir)
{
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    return open_small_opts(dir, &o);
}

static uint64_t
append_one(struct folio_journal *j, uint64_t task_uid, size_t size)
{
    size_t len;
    uint8_t *ev = tu_make_event(task_uid, size, &len);
    struct folio_journal_entry e = {ev, len};
    uint64_t seq = 0;
    assert_int_equal(folio_journal_append(j, &e, 1, &seq), 0);
    folio_free(ev);
    return seq;
}

/* Reads the whole journal; asserts seqs 1..n in order and task uid == seq * mul. */
static uint64_t
read_all_check(const char *dir, uint64_t from, uint64_t mul)
{
    struct folio_journal_reader *r = NULL;
    assert_int_equal(folio_journal_reader_open(dir, from, 0, &r, NULL), 0);
    struct folio_journal_record rec;
    struct folio_journal_diag d;
    uint64_t expect = from, n = 0;
    int err;
    while ((err = folio_journal_reader_next(r, &rec, &d)) == 0) {
        assert_int_equal(rec.seq, expect);
        if (mul)
            assert_int_equal(tu_event_task_uid(rec.data, rec.len), rec.seq * mul);
        expect++;
        n++;
    }
    if (err != FOLIO_E_END)
        fprintf(stderr, "reader: %s: %s (%s@%llu)\n", folio_err_name(err), d.reason, d.segment,
                (unsigned long long)d.offset);
    assert_int_equal(err, FOLIO_E_END);
    folio_journal_reader_close(r);
    return n;
}

static void
test_append_read_rollover(void **state)
{
    char *dir = tu_mkdtemp("jbasic");
    struct folio_journal *j = open_small(dir);
    for (uint64_t i = 1; i <= 3000; i++)
        assert_int_equal(append_one(j, i * 7, 60 + (i % 200)), i);
    struct folio_journal_stats st;
    folio_journal_get_stats(j, &st);
    assert_true(st.segments_rolled >= 5);
    folio_journal_close(j);

    assert_int_equal(read_all_check(dir, 1, 7), 3000);
    assert_int_equal(read_all_check(dir, 1234, 7), 3000 - 1233);
    struct folio_journal_verify_info vi;
    struct folio_journal_diag d;
    assert_int_equal(folio_journal_verify(dir, &vi, &d), 0);
    assert_int_equal(vi.events, 3000);
    assert_int_equal(vi.first_seq, 1);
    assert_int_equal(vi.last_seq, 3000);
    assert_int_equal(vi.sealed_segments, vi.segments - 1);
    assert_true(vi.segments >= 6);

    /* Reopen: the chain continues, seqs continue. */
    j = open_small(dir);
    for (uint64_t i = 3001; i <= 4000; i++)
        assert_int_equal(append_one(j, i * 7, 100), i);
    folio_journal_close(j);
    assert_int_equal(read_all_check(dir, 1, 7), 4000);
    assert_int_equal(folio_journal_verify(dir, &vi, &d), 0);
    assert_int_equal(vi.last_seq, 4000);
    tu_rmrf(dir);
    folio_free(dir);
}

static void
test_multi_event_append_is_one_frame(void **state)
{
    char *dir = tu_mkdtemp("jmulti");
    struct folio_journal *j = open_small(dir);
    struct folio_journal_entry e[10];
    uint8_t *bufs[10];
    for (int i = 0; i < 10; i++) {
        size_t len;
        bufs[i] = tu_make_event((uint64_t)(i + 1), 100, &len);
        e[i].data = bufs[i];
        e[i].len = len;
    }
    uint64_t first = 0;
    assert_int_equal(folio_journal_append(j, e, 10, &first), 0);
    assert_int_equal(first, 1);
    folio_journal_close(j);
    for (int i = 0; i < 10; i++)
        folio_free(bufs[i]);

    struct folio_journal_reader *r;
    assert_int_equal(folio_journal_reader_open(dir, 1, 0, &r, NULL), 0);
    struct folio_journal_record rec;
    uint64_t frame_off = 0;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(folio_journal_reader_next(r, &rec, NULL), 0);
        if (i == 0)
            frame_off = rec.frame_offset;
        assert_int_equal(rec.frame_offset, frame_off);
        assert_int_equal(rec.frame_last, i == 9);
        assert_true(rec.frame_hash != 0);
        assert_int_equal(tu_event_task_uid(rec.data, rec.len), (uint64_t)(i + 1));
    }
    assert_int_equal(folio_journal_reader_next(r, &rec, NULL), FOLIO_E_END);
    folio_journal_reader_close(r);
    tu_rmrf(dir);
    folio_free(dir);
}

struct producer {
    struct folio_journal *j;
    int id;
    int count;
    uint64_t *seqs;
};

static void *
producer_main(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < p->count; i++) {
        uint64_t uid = (uint64_t)p->id * 1000000 + (uint64_t)i;
        p->seqs[i] = append_one(p->j, uid, 128);
    }
    return NULL;
}

static void
test_sixteen_producers(void **state)
{
    enum { P = 16, N = 400 };
    char *dir = tu_mkdtemp("jconc");
    struct folio_journal *j = open_small(dir);
    pthread_t th[P];
    struct producer pr[P];
    for (int p = 0; p < P; p++) {
        pr[p] = (struct producer){j, p, N, folio_calloc(N, sizeof(uint64_t))};
        pthread_create(&th[p], NULL, producer_main, &pr[p]);
    }
    for (int p = 0; p < P; p++)
        pthread_join(th[p], NULL);
    struct folio_journal_stats st;
    folio_journal_get_stats(j, &st);
    folio_journal_close(j);
    /* Group commit happened: fewer frames than events. */
    assert_true(st.frames_written < (uint64_t)(P * N));

    /* Every acknowledged seq maps back to the producer's own event, exactly once. */
    uint64_t *owner = folio_calloc(P * N + 1, sizeof(uint64_t));
    for (int p = 0; p < P; p++)
        for (int i = 0; i < N; i++) {
            uint64_t s = pr[p].seqs[i];
            assert_true(s >= 1 && s <= P * N);
            assert_int_equal(owner[s], 0);
            owner[s] = (uint64_t)p * 1000000 + (uint64_t)i + 1;
            if (i > 0)
                assert_true(s > pr[p].seqs[i - 1]);
        }
    struct folio_journal_reader *r;
    assert_int_equal(folio_journal_reader_open(dir, 1, 0, &r, NULL), 0);
    struct folio_journal_record rec;
    uint64_t expect = 1;
    while (folio_journal_reader_next(r, &rec, NULL) == 0) {
        assert_int_equal(rec.seq, expect);
        assert_int_equal(tu_event_task_uid(rec.data, rec.len) + 1, owner[rec.seq]);
        expect++;
    }
    assert_int_equal(expect, P * N + 1);
    folio_journal_reader_close(r);
    assert_int_equal(folio_journal_verify(dir, NULL, NULL), 0);
    for (int p = 0; p < P; p++)
        folio_free(pr[p].seqs);
    folio_free(owner);
    tu_rmrf(dir);
    folio_free(dir);
}

struct ack_log {
    int efd;
    pthread_mutex_t mu;
    uint64_t last_seq;
    int acks;
    int out_of_order;
};

static void
on_ack(void *ctx, int err, uint64_t first_seq)
{
    struct ack_log *a = ctx;
    pthread_mutex_lock(&a->mu);
    if (err != 0 || first_seq <= a->last_seq)
        a->out_of_order++;
    a->last_seq = first_seq;
    a->acks++;
    pthread_mutex_unlock(&a->mu);
    uint64_t one = 1;
    ssize_t n = write(a->efd, &one, sizeof(one));
    (void)n;
}

static void
test_async_eventfd(void **state)
{
    char *dir = tu_mkdtemp("jasync");
    struct folio_journal *j = open_small(dir);
    struct ack_log a = {.efd = eventfd(0, 0)};
    pthread_mutex_init(&a.mu, NULL);
    for (int i = 0; i < 500; i++) {
        size_t len;
        uint8_t *ev = tu_make_event((uint64_t)i + 1, 128, &len);
        struct folio_journal_entry e = {ev, len};
        assert_int_equal(folio_journal_append_async(j, &e, 1, on_ack, &a), 0);
        folio_free(ev);
    }
    uint64_t total = 0;
    while (total < 500) {
        uint64_t v;
        assert_int_equal(read(a.efd, &v, sizeof(v)), sizeof(v));
        total += v;
    }
    assert_int_equal(a.acks, 500);
    assert_int_equal(a.out_of_order, 0);
    assert_int_equal(folio_journal_durable_seq(j), 500);
    folio_journal_close(j);
    assert_int_equal(read_all_check(dir, 1, 1), 500);
    close(a.efd);
    tu_rmrf(dir);
    folio_free(dir);
}

struct slow_writer {
    struct folio_journal *j;
    uint64_t from, to;
};

static void *
slow_writer_main(void *arg)
{
    struct slow_writer *w = arg;
    for (uint64_t i = w->from; i <= w->to; i++) {
        append_one(w->j, i * 3, 50 + (i % 300));
        if (i % 50 == 0)
            usleep(1000);
    }
    return NULL;
}

static void
test_follower_mid_stream(void **state)
{
    char *dir = tu_mkdtemp("jfollow");
    struct folio_journal *j = open_small(dir);
    for (uint64_t i = 1; i <= 1000; i++)
        append_one(j, i * 3, 100);
    struct slow_writer w = {j, 1001, 4000};
    pthread_t th;
    pthread_create(&th, NULL, slow_writer_main, &w);
    usleep(5000);
    /* Started while the writer runs, from the middle of the history. */
    struct folio_journal_reader *r;
    assert_int_equal(folio_journal_reader_open(dir, 500, FOLIO_READER_FOLLOW, &r, NULL), 0);
    uint64_t expect = 500;
    int64_t deadline = 0;
    while (expect <= 4000) {
        struct folio_journal_record rec;
        struct folio_journal_diag d;
        int err = folio_journal_reader_next(r, &rec, &d);
        if (err == FOLIO_E_AGAIN) {
            folio_journal_reader_wait(r, 100);
            assert_true(++deadline < 100000);
            continue;
        }
        if (err != 0)
            fprintf(stderr, "follow: %s %s\n", folio_err_name(err), d.reason);
        assert_int_equal(err, 0);
        assert_int_equal(rec.seq, expect);
        assert_true(rec.seq <= folio_journal_durable_seq(j));
        assert_int_equal(tu_event_task_uid(rec.data, rec.len), rec.seq * 3);
        expect++;
    }
    pthread_join(th, NULL);
    struct folio_journal_record rec;
    assert_int_equal(folio_journal_reader_next(r, &rec, NULL), FOLIO_E_AGAIN);
    folio_journal_reader_close(r);
    folio_journal_close(j);
    tu_rmrf(dir);
    folio_free(dir);
}

static void
test_lock_and_errors(void **state)
{
    char *dir = tu_mkdtemp("jlock");
    struct folio_journal *j = open_small(dir);
    struct folio_journal *j2 = NULL;
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    assert_int_equal(folio_journal_open(dir, &o, &j2, NULL, NULL), FOLIO_E_LOCKED);

    uint8_t junk[64] = {0x81, 0xa1, 'a', 0x01};
    struct folio_journal_entry e = {junk, sizeof(junk)};
    assert_int_equal(folio_journal_append(j, &e, 1, NULL), FOLIO_E_INVALID);
    assert_int_equal(folio_journal_append(j, &e, 0, NULL), FOLIO_E_INVALID);
    size_t big = FOLIO_EVENT_BYTES_MAX + 1;
    uint8_t *huge = folio_calloc(1, big);
    struct folio_journal_entry h = {huge, big};
    assert_int_equal(folio_journal_append(j, &h, 1, NULL), FOLIO_E_TOO_LARGE);
    folio_free(huge);
    assert_int_equal(folio_journal_durable_seq(j), 0);
    folio_journal_close(j);

    char *missing = tu_path(dir, "nope");
    assert_int_equal(folio_journal_open(missing, &o, &j2, NULL, NULL), FOLIO_E_NOT_FOUND);
    folio_free(missing);
    tu_rmrf(dir);
    folio_free(dir);
}

/* A recovery never overwrites an earlier quarantine file at the same offset. */
static void
test_quarantine_never_overwritten(void **state)
{
    char *dir = tu_mkdtemp("jquar");
    struct folio_journal *j = open_small(dir);
    for (uint64_t i = 1; i <= 10; i++)
        append_one(j, i, 120);
    folio_journal_close(j);

    /* Cut the newest segment 30 bytes into its last frame. */
    struct folio_journal_reader *r;
    assert_int_equal(folio_journal_reader_open(dir, 10, 0, &r, NULL), 0);
    struct folio_journal_record rec;
    assert_int_equal(folio_journal_reader_next(r, &rec, NULL), 0);
    uint64_t off = rec.frame_offset;
    char segname[64], qname[160];
    snprintf(segname, sizeof(segname), "%s", rec.segment);
    folio_journal_reader_close(r);
    char *seg = tu_path(dir, segname);
    assert_int_equal(truncate(seg, (off_t)off + 30), 0);

    /* An earlier, interrupted recovery left its copy under the name this one would use. */
    char *qdir = tu_path(dir, "quarantine");
    assert_int_equal(mkdir(qdir, 0700), 0);
    snprintf(qname, sizeof(qname), "%s.%llu.broken", segname, (unsigned long long)off);
    char *qold = tu_path(qdir, qname);
    tu_write_file(qold, "earlier", 7);

    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = SMALL_SEG;
    struct folio_journal_open_info info;
    assert_int_equal(folio_journal_open(dir, &o, &j, &info, NULL), 0);
    assert_true(info.recovered);
    assert_int_equal(info.recovered_seq, 10);
    folio_journal_close(j);

    size_t len = 0;
    uint8_t *old = tu_read_file(qold, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(old, "earlier", 7);
    folio_free(old);
    char qnew[200];
    snprintf(qnew, sizeof(qnew), "%s.1", qname);
    char *qnew_path = tu_path(qdir, qnew);
    assert_int_equal(tu_file_size(qnew_path), 30);

    assert_int_equal(folio_journal_reader_open(dir, 10, 0, &r, NULL), 0);
    assert_int_equal(folio_journal_reader_next(r, &rec, NULL), 0);
    struct folio_event ev;
    assert_int_equal(folio_event_decode(rec.data, rec.len, &ev), 0);
    assert_int_equal(ev.type, FOLIO_EV_JOURNAL_RECOVERED);
    assert_string_equal(ev.u.journal_recovered.quarantine.ptr, qnew);
    assert_int_equal(ev.u.journal_recovered.bytes_dropped, 30);
    assert_int_equal(ev.u.journal_recovered.last_valid_seq, 9);
    folio_event_clear(&ev);
    folio_journal_reader_close(r);
    folio_free(qnew_path);
    folio_free(qold);
    folio_free(qdir);
    folio_free(seg);
    tu_rmrf(dir);
    folio_free(dir);
}

/* What the before_sync hook saw: the durable seq at each call. */
struct sync_hook_log {
    struct folio_journal *j;     /* set once open returned; NULL before */
    uint64_t calls;
    uint64_t *durable_at_call;   /* one entry per call, at most cap */
    uint64_t cap;
    bool journal_unknown;        /* a call came before j was set */
    uint64_t synced_mismatch;    /* calls where stats.fsyncs != frames before this one */
};

static int
sync_hook_record(void *ctx)
{
    struct sync_hook_log *log = ctx;
    struct folio_journal *j = __atomic_load_n(&log->j, __ATOMIC_ACQUIRE);
    if (j == NULL)
        log->journal_unknown = true;
    else if (log->calls < log->cap)
        log->durable_at_call[log->calls] = folio_journal_durable_seq(j);
    if (j != NULL) {
        /* The frame's own fdatasync has not run: only the earlier frames' have. */
        struct folio_journal_stats st;
        folio_journal_get_stats(j, &st);
        if (st.fsyncs != log->calls || st.frames_written != log->calls)
            log->synced_mismatch++;
    }
    log->calls++;
    return 0;
}

/*
 * The hook runs once per frame (frames_written calls) and each time before
 * that frame is durable: the durable seq it sees is exactly the last seq of
 * the frame before, read back from the journal (frame boundaries from
 * frame_last), so nothing of its own frame is durable yet and everything
 * earlier is; and the frame fdatasyncs counted so far are those of the
 * earlier frames only.
 */
static void
test_before_sync_once_per_frame_before_durable(void **state)
{
    enum { P = HOOK_PRODUCERS, N = HOOK_APPENDS };
    char *dir = tu_mkdtemp("jhook");
    struct sync_hook_log log = {.cap = P * N + 1};
    log.durable_at_call = folio_calloc(log.cap, sizeof(uint64_t));
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.before_sync = sync_hook_record;
    o.before_sync_ctx = &log;
    struct folio_journal *j = open_small_opts(dir, &o);
    __atomic_store_n(&log.j, j, __ATOMIC_RELEASE);
    assert_int_equal(log.calls, 0); /* opening a new journal commits no frame */

    pthread_t th[P];
    struct producer pr[P];
    for (int p = 0; p < P; p++) {
        pr[p] = (struct producer){j, p + 1, N, folio_calloc(N, sizeof(uint64_t))};
        pthread_create(&th[p], NULL, producer_main, &pr[p]);
    }
    for (int p = 0; p < P; p++)
        pthread_join(th[p], NULL);
    struct folio_journal_stats st;
    folio_journal_get_stats(j, &st);
    folio_journal_close(j);
    assert_false(log.journal_unknown);
    assert_int_equal(log.synced_mismatch, 0);
    assert_int_equal(st.events_written, P * N);
    assert_true(st.segments_rolled >= 2);   /* seal frames are not hooked */
    assert_true(st.frames_written < P * N); /* and some frames held several events */
    assert_int_equal(log.calls, st.frames_written);

    /* Frame k starts at seq durable_at_call[k] + 1. */
    struct folio_journal_reader *r;
    assert_int_equal(folio_journal_reader_open(dir, 1, 0, &r, NULL), 0);
    struct folio_journal_record rec;
    uint64_t frame = 0, frame_first = 0;
    while (folio_journal_reader_next(r, &rec, NULL) == 0) {
        if (frame_first == 0)
            frame_first = rec.seq;
        if (rec.frame_last) {
            assert_true(frame < log.calls);
            assert_int_equal(log.durable_at_call[frame], frame_first - 1);
            frame++;
            frame_first = 0;
        }
    }
    folio_journal_reader_close(r);
    assert_int_equal(frame, log.calls);
    for (int p = 0; p < P; p++)
        folio_free(pr[p].seqs);
    folio_free(log.durable_at_call);
    tu_rmrf(dir);
    folio_free(dir);
}

/* What the after_acks hook saw: acknowledgements run so far and the durable seq, per call. */
struct acks_hook_log {
    struct folio_journal *j;
    uint64_t acked;          /* acknowledgements run (writer thread) */
    uint64_t acked_err;      /* ... with an error */
    uint64_t ack_seq_wrong;  /* acks out of seq order */
    uint64_t calls;
    uint64_t mismatch;       /* calls where acked != durable seq or stats disagree */
};

static void
acks_hook_ack(void *ctx, int err, uint64_t first_seq)
{
    struct acks_hook_log *log = ctx;
    if (err != 0)
        log->acked_err++;
    if (first_seq != log->acked + 1)
        log->ack_seq_wrong++;
    log->acked++;
}

static void
acks_hook_record(void *ctx)
{
    struct acks_hook_log *log = ctx;
    struct folio_journal *j = __atomic_load_n(&log->j, __ATOMIC_ACQUIRE);
    struct folio_journal_stats st;
    if (j != NULL) {
        folio_journal_get_stats(j, &st);
        /* every event of every durable frame, this one included, was acknowledged; the
           frame's fdatasync is counted, and this call is the frame's only one */
        if (log->acked != folio_journal_durable_seq(j) || st.frames_written != log->calls + 1)
            log->mismatch++;
    } else {
        log->mismatch++;
    }
    log->calls++;
}

/*
 * after_acks runs once per durable frame of events (not for seal frames),
 * after all of that frame's acknowledgements: when it runs, the acks seen are
 * exactly the durable events.
 */
static void
test_after_acks_once_per_frame(void **state)
{
    enum { N = 3000 };
    char *dir = tu_mkdtemp("jacks");
    struct acks_hook_log log = {0};
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.after_acks = acks_hook_record;
    o.after_acks_ctx = &log;
    struct folio_journal *j = open_small_opts(dir, &o);
    __atomic_store_n(&log.j, j, __ATOMIC_RELEASE);
    for (int i = 0; i < N; i++) {
        uint8_t *buf;
        size_t len;
        struct folio_event ev = {.type = FOLIO_EV_TASK_REGISTERED, .at_ns = 1};
        ev.u.task_registered.task_uid = (uint64_t)i;
        ev.u.task_registered.kind = folio_str_c("indexCreation");
        assert_int_equal(folio_event_encode(&ev, &buf, &len), 0);
        struct folio_journal_entry e = {buf, len};
        assert_int_equal(folio_journal_append_async(j, &e, 1, acks_hook_ack, &log), 0);
        folio_free(buf);
    }
    while (folio_journal_durable_seq(j) < N) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    struct folio_journal_stats st;
    folio_journal_get_stats(j, &st);
    folio_journal_close(j); /* joins the writer: the last frame's hook has run */
    assert_int_equal(log.acked, N);
    assert_int_equal(log.acked_err, 0);
    assert_int_equal(log.ack_seq_wrong, 0);
    assert_int_equal(log.mismatch, 0);
    assert_int_equal(log.calls, st.frames_written); /* one call per frame of events */
    assert_true(st.segments_rolled >= 1);           /* seal frames are not hooked */
    assert_true(log.calls > 1 && log.calls < N);    /* some frames held several events */
    struct folio_journal_verify_info info;
    assert_int_equal(folio_journal_verify(dir, &info, NULL), 0);
    assert_int_equal(info.last_seq, N);
    tu_rmrf(dir);
    folio_free(dir);
}

static int
sync_hook_fail(void *ctx)
{
    int *calls = ctx;
    ++*calls;
    return -1;
}

/* In a forked child: the first append's frame meets a failing hook. */
static void
hook_fail_child(void *arg)
{
    const char *dir = arg;
    int calls = 0;
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = SMALL_SEG;
    o.create = true;
    o.before_sync = sync_hook_fail;
    o.before_sync_ctx = &calls;
    struct folio_journal *j = NULL;
    if (folio_journal_open(dir, &o, &j, NULL, NULL) != 0)
        _exit(3);
    size_t len;
    uint8_t *ev = tu_make_event(1, 128, &len);
    struct folio_journal_entry e = {ev, len};
    folio_journal_append(j, &e, 1, NULL);
    _exit(calls == 0 ? 4 : 5); /* reached only if the failure was ignored */
}

static void
test_before_sync_failure_aborts(void **state)
{
    char *dir = tu_mkdtemp("jhookfail");
    char *jdir = tu_path(dir, "j");
    int status = tu_run_child(hook_fail_child, jdir);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    /* The frame was written but never synced or acknowledged: recovery keeps the journal sound. */
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = SMALL_SEG;
    struct folio_journal *j = NULL;
    assert_int_equal(folio_journal_open(jdir, &o, &j, NULL, NULL), 0);
    assert_true(folio_journal_durable_seq(j) <= 1);
    folio_journal_close(j);
    assert_int_equal(folio_journal_verify(jdir, NULL, NULL), 0);
    folio_free(jdir);
    tu_rmrf(dir);
    folio_free(dir);
}

/* ---- a small queue and small frames, blocking and async producers -------- */

struct mix_ack_log {
    pthread_mutex_t mu;
    uint64_t last_seq;
    uint64_t acks;
    uint64_t bad;                /* out of order, failed, or acknowledged twice */
};

struct mix_async_append {
    struct mix_ack_log *log;
    uint64_t uid;
    uint64_t seq;                /* 0 until acknowledged */
};

struct mix_producer {
    struct folio_journal *j;
    int id;
    bool async;
    uint64_t first_seq[MIX_APPENDS]; /* blocking: seq of each call's first event */
    struct mix_async_append acks[MIX_APPENDS];
};

static uint64_t
mix_uid(int id, int call, int k)
{
    return (uint64_t)id * 1000000u + (uint64_t)call * 4u + (uint64_t)k + 1u;
}

/* Events in blocking call `call` of a producer: 1 to 3 (one append's events share a frame). */
static int
mix_call_events(int call)
{
    return 1 + call % 3;
}

static void
mix_on_ack(void *ctx, int err, uint64_t first_seq)
{
    struct mix_async_append *a = ctx;
    pthread_mutex_lock(&a->log->mu);
    if (err != 0 || first_seq <= a->log->last_seq || a->seq != 0)
        a->log->bad++;
    a->log->last_seq = first_seq;
    a->seq = first_seq;
    a->log->acks++;
    pthread_mutex_unlock(&a->log->mu);
}

static void *
mix_producer_main(void *arg)
{
    struct mix_producer *p = arg;
    for (int i = 0; i < MIX_APPENDS; i++) {
        struct folio_journal_entry e[3];
        uint8_t *bufs[3];
        int n = p->async ? 1 : mix_call_events(i);
        for (int k = 0; k < n; k++) {
            size_t len;
            bufs[k] = tu_make_event(mix_uid(p->id, i, k), 100 + (size_t)(i % 7) * 20, &len);
            e[k] = (struct folio_journal_entry){bufs[k], len};
        }
        if (p->async)
            assert_int_equal(folio_journal_append_async(p->j, e, 1, mix_on_ack, &p->acks[i]), 0);
        else
            assert_int_equal(folio_journal_append(p->j, e, (size_t)n, &p->first_seq[i]), 0);
        for (int k = 0; k < n; k++)
            folio_free(bufs[k]);
    }
    return NULL;
}

/*
 * Reads the journal back: every event is the one its producer was told it
 * got (expect[seq] = task uid), the events of one append share a frame
 * (call_first[seq] = seq of its append's first event), frames respect both
 * limits, seqs are contiguous. Returns the number of events.
 */
static uint64_t
mix_read_check(const char *dir, const uint64_t *expect, const uint64_t *call_first,
               uint64_t total)
{
    struct folio_journal_reader *r;
    assert_int_equal(folio_journal_reader_open(dir, 1, 0, &r, NULL), 0);
    struct folio_journal_record rec;
    uint64_t n = 0, frame_events = 0, frame_body = 0;
    while (folio_journal_reader_next(r, &rec, NULL) == 0) {
        assert_int_equal(rec.seq, n + 1);
        assert_true(rec.seq <= total);
        assert_int_equal(tu_event_task_uid(rec.data, rec.len), expect[rec.seq]);
        if (call_first[rec.seq] != rec.seq) /* not its append's first event: same frame */
            assert_true(frame_events > 0);
        frame_events++;
        frame_body += 4 + rec.len;
        if (rec.frame_last) {
            assert_true(frame_events <= MIX_FRAME_EVENTS);
            assert_true(frame_body <= MIX_FRAME_BODY);
            frame_events = frame_body = 0;
        }
        n++;
    }
    folio_journal_reader_close(r);
    return n;
}

static void
test_backpressure_and_split_frames(void **state)
{
    char *dir = tu_mkdtemp("jmix");
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = SMALL_SEG;
    o.create = true;
    o.frame_events_max = MIX_FRAME_EVENTS;
    o.frame_body_max = MIX_FRAME_BODY;
    o.queue_bytes_max = MIX_FRAME_BODY; /* about a dozen events: producers wait for room */
    struct folio_journal *j = NULL;
    assert_int_equal(folio_journal_open(dir, &o, &j, NULL, NULL), 0);

    struct mix_ack_log log = {.last_seq = 0};
    pthread_mutex_init(&log.mu, NULL);
    enum { P = MIX_BLOCKING + MIX_ASYNC };
    struct mix_producer *pr = folio_calloc(P, sizeof(*pr));
    pthread_t th[P];
    for (int p = 0; p < P; p++) {
        pr[p].j = j;
        pr[p].id = p + 1;
        pr[p].async = p >= MIX_BLOCKING;
        for (int i = 0; i < MIX_APPENDS; i++)
            pr[p].acks[i] = (struct mix_async_append){&log, mix_uid(p + 1, i, 0), 0};
        pthread_create(&th[p], NULL, mix_producer_main, &pr[p]);
    }
    for (int p = 0; p < P; p++)
        pthread_join(th[p], NULL);
    folio_journal_close(j); /* drains: every async append is acknowledged before it returns */
    assert_int_equal(log.acks, MIX_ASYNC * MIX_APPENDS);
    assert_int_equal(log.bad, 0);

    uint64_t total = 0;
    for (int i = 0; i < MIX_APPENDS; i++)
        total += (uint64_t)mix_call_events(i);
    total = total * MIX_BLOCKING + MIX_ASYNC * MIX_APPENDS;
    uint64_t *expect = folio_calloc(total + 1, sizeof(uint64_t));
    uint64_t *call_first = folio_calloc(total + 1, sizeof(uint64_t));
    for (int p = 0; p < P; p++)
        for (int i = 0; i < MIX_APPENDS; i++) {
            int n = pr[p].async ? 1 : mix_call_events(i);
            uint64_t first = pr[p].async ? pr[p].acks[i].seq : pr[p].first_seq[i];
            for (int k = 0; k < n; k++) {
                assert_true(first + (uint64_t)k >= 1 && first + (uint64_t)k <= total);
                assert_int_equal(expect[first + (uint64_t)k], 0); /* no seq handed out twice */
                expect[first + (uint64_t)k] = mix_uid(pr[p].id, i, k);
                call_first[first + (uint64_t)k] = first;
            }
        }
    assert_int_equal(mix_read_check(dir, expect, call_first, total), total);
    assert_int_equal(folio_journal_verify(dir, NULL, NULL), 0);
    pthread_mutex_destroy(&log.mu);
    folio_free(expect);
    folio_free(call_first);
    folio_free(pr);
    tu_rmrf(dir);
    folio_free(dir);
}

/* Copies dir's journal cut after the frame pos names, as a whole-instance snapshot does. */
static void
copy_cut(const char *dir, const char *dst, const struct folio_journal_frame_pos *pos)
{
    assert_int_equal(mkdir(dst, 0700), 0);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 4, ".seg") != 0 ||
            strcmp(de->d_name, pos->segment) > 0)
            continue;
        char *from = tu_path(dir, de->d_name), *to = tu_path(dst, de->d_name);
        size_t len;
        uint8_t *bytes = tu_read_file(from, &len);
        assert_non_null(bytes);
        if (strcmp(de->d_name, pos->segment) == 0) {
            assert_true(pos->end <= len && len == pos->segment_bytes);
            memset(bytes + pos->end, 0, len - pos->end);
        }
        tu_write_file(to, bytes, len);
        folio_free(bytes);
        folio_free(from);
        folio_free(to);
    }
    closedir(d);
}

/*
 * folio_journal_frame_at names the frame holding a seq: its bounds are the
 * appends that made it (a blocking append of n events is one frame of its
 * own), its segment is the one whose name is the largest first seq <= seq,
 * and the journal cut after it is a clean journal ending at the frame's last
 * event, that a writer can open and continue.
 */
static void
test_frame_at_and_cut_copy(void **state)
{
    char *dir = tu_mkdtemp("jframeat");
    struct folio_journal *j = open_small(dir);
    enum { TOTAL = 2400 };
    uint64_t first_of[TOTAL + 8], last_of[TOTAL + 8];
    uint64_t seq = 1;
    for (uint64_t k = 0; seq <= TOTAL; k++) {
        size_t n = 1 + (size_t)(k % 4);  /* 1..4 events per append */
        struct folio_journal_entry e[4];
        uint8_t *bufs[4];
        for (size_t i = 0; i < n; i++) {
            size_t len;
            bufs[i] = tu_make_event(seq + i, 80 + (k % 90), &len);
            e[i] = (struct folio_journal_entry){bufs[i], len};
        }
        uint64_t first = 0;
        assert_int_equal(folio_journal_append(j, e, n, &first), 0);
        assert_int_equal(first, seq);
        for (size_t i = 0; i < n; i++) {
            first_of[seq + i] = seq;
            last_of[seq + i] = seq + n - 1;
            folio_free(bufs[i]);
        }
        seq += n;
    }
    uint64_t last = seq - 1;
    struct folio_journal_stats st;
    folio_journal_get_stats(j, &st);
    assert_true(st.segments_rolled >= 2);
    folio_journal_close(j);

    uint64_t probes[] = {1, 2, 3, 4, 5, 6, 7, 100, 777, 1001, 1500, 2222, last - 1, last};
    for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
        uint64_t at = probes[p];
        struct folio_journal_frame_pos pos;
        struct folio_journal_diag d;
        assert_int_equal(folio_journal_frame_at(dir, at, &pos, &d), 0);
        assert_int_equal(pos.first_seq, first_of[at]);
        assert_int_equal(pos.last_seq, last_of[at]);
        assert_int_equal(pos.segment_bytes, SMALL_SEG);
        assert_true(pos.offset >= 4096 && pos.end > pos.offset && pos.end % 8 == 0);
        /* the segment: largest first seq <= at among the files */
        uint64_t best = 0;
        DIR *dd = opendir(dir);
        struct dirent *de;
        while ((de = readdir(dd)) != NULL) {
            unsigned long long fs;
            if (strlen(de->d_name) == 24 && sscanf(de->d_name, "%20llu.seg", &fs) == 1 &&
                fs <= at && fs > best)
                best = fs;
        }
        closedir(dd);
        char want[64];
        snprintf(want, sizeof(want), "%020llu.seg", (unsigned long long)best);
        assert_string_equal(pos.segment, want);

        char name[32];
        snprintf(name, sizeof(name), "cut%zu", p);
        char *cut = tu_path(dir, name);
        copy_cut(dir, cut, &pos);
        struct folio_journal_verify_info vi;
        assert_int_equal(folio_journal_verify(cut, &vi, &d), 0);
        assert_int_equal(vi.last_seq, last_of[at]);
        assert_int_equal(vi.events, last_of[at]);
        assert_int_equal(read_all_check(cut, 1, 0), last_of[at]);
        /* A writer continues the cut journal right after the frame. */
        struct folio_journal *jc = open_small(cut);
        assert_int_equal(append_one(jc, 424242, 100), last_of[at] + 1);
        folio_journal_close(jc);
        assert_int_equal(folio_journal_verify(cut, &vi, &d), 0);
        assert_int_equal(vi.last_seq, last_of[at] + 1);
        tu_rmrf(cut);
        folio_free(cut);
    }
    struct folio_journal_frame_pos pos;
    assert_int_equal(folio_journal_frame_at(dir, last + 1, &pos, NULL), FOLIO_E_NOT_FOUND);
    char *none = tu_path(dir, "nothing-here");
    assert_int_equal(folio_journal_frame_at(none, 1, &pos, NULL), FOLIO_E_NOT_FOUND);
    folio_free(none);
    tu_rmrf(dir);
    folio_free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_read_rollover),
        cmocka_unit_test(test_multi_event_append_is_one_frame),
        cmocka_unit_test(test_sixteen_producers),
        cmocka_unit_test(test_async_eventfd),
        cmocka_unit_test(test_follower_mid_stream),
        cmocka_unit_test(test_lock_and_errors),
        cmocka_unit_test(test_quarantine_never_overwritten),
        cmocka_unit_test(test_before_sync_once_per_frame_before_durable),
        cmocka_unit_test(test_after_acks_once_per_frame),
        cmocka_unit_test(test_before_sync_failure_aborts),
        cmocka_unit_test(test_backpressure_and_split_frames),
        cmocka_unit_test(test_frame_at_and_cut_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
