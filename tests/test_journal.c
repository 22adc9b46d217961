/*
 * Journal basics on real files: append and read back across many segment
 * rollovers, reopen and continue the chain, atomic multi-event appends,
 * 16 concurrent producers, asynchronous acknowledgement through an eventfd,
 * a follower started mid-stream, the writer lock and argument errors.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/journal.h"
#include "testutil.h"

#define SMALL_SEG (64u * 1024u)

static struct folio_journal *
open_small(const char *dir)
{
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = SMALL_SEG;
    o.create = true;
    struct folio_journal *j = NULL;
    struct folio_journal_diag d;
    int err = folio_journal_open(dir, &o, &j, NULL, &d);
    if (err != 0)
        fprintf(stderr, "open: %s: %s %s@%llu\n", folio_err_name(err), d.reason, d.segment,
                (unsigned long long)d.offset);
    assert_int_equal(err, 0);
    return j;
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
