/*
 * Applying events by hand: the task lifecycle as the state shows it
 * (processing from batch_started, progress steps and percentage, outcomes
 * closing a batch, cancelation joining the canceler's batch, requeue,
 * deletion dropping emptied batches and keeping uids unused, swaps
 * rewriting older tasks' index uids, imports), and every rule that makes an
 * event contradict the state: each is refused with an error naming the seq,
 * and leaves the state exactly as it was (same hash, equal field by field).
 * A contradiction inside a real journal fails replay at its seq.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/journal.h"
#include "folio/sched.h"
#include "testutil.h"

static const char *const UUID_A = "00000000-0000-4000-8000-00000000000a";
static const char *const UUID_B = "00000000-0000-4000-8000-00000000000b";
static const char *const UUID_C = "00000000-0000-4000-8000-00000000000c";

struct bench {
    struct folio_sched_state *s;
    uint64_t seq;
    int64_t now;
    struct folio_sched_diag diag;
};

static void
bench_init(struct bench *b)
{
    memset(b, 0, sizeof(*b));
    b->s = folio_sched_state_new();
    b->now = 1700000000000000000ll;
}

static int
try_apply(struct bench *b, struct folio_event *ev)
{
    ev->at_ns = ++b->now;
    memset(&b->diag, 0, sizeof(b->diag));
    int rc = folio_sched_state_apply(b->s, b->seq + 1, 0, ev, &b->diag);
    if (rc == 0)
        b->seq++;
    return rc;
}

static void
must_apply(struct bench *b, struct folio_event *ev)
{
    int rc = try_apply(b, ev);
    if (rc != 0)
        fprintf(stderr, "apply: %s: %s\n", folio_err_name(rc), b->diag.reason);
    assert_int_equal(rc, 0);
}

/* ---- event builders ------------------------------------------------------ */

static uint8_t content_buf[64][512];
static unsigned content_next;

/* Minimal valid content for a kind (kept in a static ring; not freed). */
static struct folio_object
content_for(enum folio_task_kind kind, const uint64_t *matched, uint32_t nmatched,
            const char *new_uid)
{
    struct folio_task_content c;
    memset(&c, 0, sizeof(c));
    c.kind = kind;
    static struct folio_task_swap swap = {{{"a", 1}, {"b", 1}}, false};
    switch (kind) {
    case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE:
        c.content_file = folio_str_c("payload-1");
        c.content_bytes = 10;
        c.content_checksum = folio_str_c("0123456789abcdef0123456789abcdef");
        c.documents_count_set = true;
        c.documents_count = 2;
        break;
    case FOLIO_KIND_DOCUMENT_DELETION:
        c.clear = true;
        break;
    case FOLIO_KIND_SETTINGS_UPDATE:
        c.settings = (struct folio_object){(const uint8_t *)"\x80", 1};
        break;
    case FOLIO_KIND_INDEX_SWAP:
        c.swaps = &swap;
        c.swap_count = 1;
        break;
    case FOLIO_KIND_TASK_CANCELATION:
    case FOLIO_KIND_TASK_DELETION:
        c.query = folio_str_c("?statuses=*");
        c.matched_tasks = (struct folio_u64_array){matched, nmatched};
        break;
    case FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT:
        c.snapshot_path = folio_str_c("indexes/x/x.idx.snapshot");
        c.new_index_uid = folio_str_c(new_uid ? new_uid : "imported");
        break;
    case FOLIO_KIND_INDEX_UPDATE:
        if (new_uid != NULL)
            c.new_index_uid = folio_str_c(new_uid);
        break;
    default:
        break;
    }
    uint8_t *buf;
    size_t len;
    assert_int_equal(folio_task_content_encode(&c, &buf, &len), 0);
    assert_true(len < 512);
    uint8_t *slot = content_buf[content_next++ % 64];
    if (len > 0)
        memcpy(slot, buf, len);
    folio_free(buf);
    return (struct folio_object){len ? slot : NULL, (uint32_t)len};
}

static struct folio_str idx_store[64][2];
static unsigned idx_next;

static struct folio_event
ev_register(uint64_t uid, enum folio_task_kind kind, const char *i0, const char *i1,
            struct folio_object content)
{
    struct folio_str *iu = idx_store[idx_next++ % 64];
    uint32_t n = 0;
    if (i0 != NULL)
        iu[n++] = folio_str_c(i0);
    if (i1 != NULL)
        iu[n++] = folio_str_c(i1);
    struct folio_event ev = {.type = FOLIO_EV_TASK_REGISTERED};
    ev.u.task_registered.task_uid = uid;
    ev.u.task_registered.kind = folio_str_c(folio_task_kind_name(kind));
    ev.u.task_registered.index_uids = (struct folio_str_array){iu, n};
    ev.u.task_registered.enqueued_at_ns = 1000 + (int64_t)uid;
    ev.u.task_registered.content = content;
    return ev;
}

static struct folio_event
ev_batch(uint64_t uid, const uint64_t *tasks, uint32_t n)
{
    struct folio_event ev = {.type = FOLIO_EV_BATCH_STARTED};
    ev.u.batch_started.batch_uid = uid;
    ev.u.batch_started.task_uids = (struct folio_u64_array){tasks, n};
    ev.u.batch_started.reason = folio_str_c("batched all enqueued tasks");
    return ev;
}

static struct folio_event
ev_outcome(enum folio_event_type type, uint64_t task, uint64_t batch, int64_t finished)
{
    struct folio_event ev = {.type = type};
    ev.u.task_outcome.task_uid = task;
    ev.u.task_outcome.batch_uid = batch;
    ev.u.task_outcome.finished_at_ns = finished;
    if (type == FOLIO_EV_TASK_FAILED) {
        static uint8_t *err;
        static size_t err_len;
        if (err == NULL) {
            struct folio_task_error e = {folio_str_c("Index `a` not found."),
                                         folio_str_c("index_not_found"),
                                         folio_str_c("invalid_request"), folio_str_c("")};
            assert_int_equal(folio_task_error_encode(&e, &err, &err_len), 0);
        }
        ev.u.task_outcome.error = (struct folio_object){err, (uint32_t)err_len};
    }
    return ev;
}

static struct folio_event
ev_canceled(uint64_t task, uint64_t batch, uint64_t by)
{
    struct folio_event ev = ev_outcome(FOLIO_EV_TASK_CANCELED, task, batch, 5000);
    ev.u.task_outcome.canceled_by = by;
    return ev;
}

static struct folio_event
ev_index(enum folio_event_type type, const char *uid, const char *uuid, uint64_t task)
{
    struct folio_event ev = {.type = type};
    ev.u.index_change.index_uid = folio_str_c(uid);
    ev.u.index_change.index_uuid = folio_str_c(uuid);
    ev.u.index_change.task_uid = task;
    ev.u.index_change.changed_at_ns = 4000 + (int64_t)task;
    return ev;
}

static struct folio_event
ev_progress(uint64_t batch, const char *step, uint32_t index, uint32_t total)
{
    struct folio_event ev = {.type = FOLIO_EV_PROGRESS};
    ev.u.progress.batch_uid = batch;
    ev.u.progress.step = folio_str_c(step);
    ev.u.progress.step_index = index;
    ev.u.progress.step_total = total;
    return ev;
}

static struct folio_event
ev_requeued(uint64_t task, uint64_t batch)
{
    struct folio_event ev = {.type = FOLIO_EV_TASK_REQUEUED};
    ev.u.task_requeued.task_uid = task;
    ev.u.task_requeued.batch_uid = batch;
    ev.u.task_requeued.reason = folio_str_c("processing when the server stopped");
    return ev;
}

static struct folio_event
ev_deleted(uint64_t by, const uint64_t *uids, uint32_t n)
{
    struct folio_event ev = {.type = FOLIO_EV_TASKS_DELETED};
    ev.u.tasks_deleted.task_uid = by;
    ev.u.tasks_deleted.task_uids = (struct folio_u64_array){uids, n};
    return ev;
}

static struct folio_task_view
task(struct bench *b, uint64_t uid)
{
    struct folio_task_view v;
    assert_int_equal(folio_sched_task_get(b->s, uid, &v), 0);
    return v;
}

static void
query(struct bench *b, const struct folio_sched_query *q, const uint32_t *want, uint32_t n)
{
    struct folio_sched_page p;
    assert_int_equal(folio_sched_query_tasks(b->s, q, &p), 0);
    assert_int_equal(p.count, n);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(p.uids[i], want[i]);
    folio_sched_page_clear(&p);
}

/* ---- lifecycles ------------------------------------------------------------ */

static void
test_lifecycle(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    struct folio_event ev;
    ev = ev_register(0, FOLIO_KIND_INDEX_CREATION, "a", NULL, content_for(FOLIO_KIND_INDEX_CREATION, NULL, 0, NULL));
    must_apply(&b, &ev);
    ev = ev_register(1, FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, "a", NULL,
                     content_for(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, NULL, 0, NULL));
    must_apply(&b, &ev);
    assert_int_equal(task(&b, 1).status, FOLIO_STATUS_ENQUEUED);
    assert_int_equal(folio_sched_state_next_task_uid(b.s), 2);

    uint64_t t0[] = {0};
    ev = ev_batch(0, t0, 1);
    must_apply(&b, &ev);
    struct folio_task_view v = task(&b, 0);
    assert_int_equal(v.status, FOLIO_STATUS_PROCESSING);
    assert_int_equal(v.batch_uid, 0);
    assert_true(v.started);
    assert_int_equal(v.started_at_ns, b.now);
    assert_string_equal(folio_task_view_index_uid(&v)->ptr, "a");

    ev = ev_progress(0, "processing tasks", 0, 2);
    must_apply(&b, &ev);
    ev = ev_progress(0, "processing tasks > creating the index", 1, 3);
    must_apply(&b, &ev);
    struct folio_batch_view bv;
    assert_int_equal(folio_sched_batch_get(b.s, 0, &bv), 0);
    assert_int_equal(bv.step_count, 2);
    assert_string_equal(bv.steps[0].name.ptr, "processing tasks");
    assert_int_equal(bv.steps[0].total, 2);
    assert_string_equal(bv.steps[1].name.ptr, "creating the index");
    assert_int_equal(bv.steps[1].finished, 1);
    /* (0/2 + 1/(2*3)) * 100 */
    assert_true(folio_batch_view_percentage(&bv) > 16.66 && folio_batch_view_percentage(&bv) < 16.67);
    ev = ev_progress(0, "writing tasks to disk", 1, 2);
    must_apply(&b, &ev);
    assert_int_equal(folio_sched_batch_get(b.s, 0, &bv), 0);
    assert_int_equal(bv.step_count, 1);
    assert_false(bv.finished);
    assert_int_equal(bv.status_counts[FOLIO_STATUS_PROCESSING], 1);

    ev = ev_index(FOLIO_EV_INDEX_CREATED, "a", UUID_A, 0);
    must_apply(&b, &ev);
    struct folio_index_view iv;
    assert_int_equal(folio_sched_index_get(b.s, "a", 1, &iv), 0);
    assert_string_equal(iv.uuid.ptr, UUID_A);
    ev = ev_outcome(FOLIO_EV_TASK_SUCCEEDED, 0, 0, 9000);
    must_apply(&b, &ev);
    assert_int_equal(folio_sched_batch_get(b.s, 0, &bv), 0);
    assert_true(bv.finished);
    assert_int_equal(bv.finished_at_ns, 9000);
    assert_int_equal(bv.step_count, 0);
    assert_int_equal(bv.status_counts[FOLIO_STATUS_SUCCEEDED], 1);
    assert_int_equal(bv.status_counts[FOLIO_STATUS_PROCESSING], 0);
    assert_int_equal(bv.kind_counts[FOLIO_KIND_INDEX_CREATION], 1);
    assert_int_equal(bv.index_count, 1);
    assert_string_equal(bv.index_counts[0].index_uid.ptr, "a");
    v = task(&b, 0);
    assert_int_equal(v.status, FOLIO_STATUS_SUCCEEDED);
    assert_int_equal(v.finished_at_ns, 9000);

    struct folio_sched_query q = {.statuses = 1u << FOLIO_STATUS_ENQUEUED};
    uint32_t want1[] = {1};
    query(&b, &q, want1, 1);
    memset(&q, 0, sizeof(q));
    uint32_t want_all[] = {1, 0};
    query(&b, &q, want_all, 2);
    assert_int_equal(folio_sched_state_last_seq(b.s), b.seq);
    folio_sched_state_free(b.s);
}

static void
test_cancel_requeue(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    struct folio_event ev;
    for (uint64_t u = 0; u < 2; u++) {
        ev = ev_register(u, FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, "a", NULL,
                         content_for(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, NULL, 0, NULL));
        must_apply(&b, &ev);
    }
    uint64_t matched[] = {0, 1};
    ev = ev_register(2, FOLIO_KIND_TASK_CANCELATION, NULL, NULL,
                     content_for(FOLIO_KIND_TASK_CANCELATION, matched, 2, NULL));
    must_apply(&b, &ev);
    uint64_t b0[] = {0}, b1[] = {2};
    ev = ev_batch(0, b0, 1);
    must_apply(&b, &ev);
    ev = ev_batch(1, b1, 1);
    must_apply(&b, &ev);
    /* an enqueued task canceled joins the canceler's batch */
    ev = ev_canceled(1, 1, 2);
    must_apply(&b, &ev);
    struct folio_task_view v = task(&b, 1);
    assert_int_equal(v.status, FOLIO_STATUS_CANCELED);
    assert_int_equal(v.batch_uid, 1);
    assert_int_equal(v.canceled_by, 2);
    assert_true(v.started);
    /* requeue the only task of batch 0: the batch disappears */
    ev = ev_requeued(0, 0);
    must_apply(&b, &ev);
    struct folio_batch_view bv;
    assert_int_equal(folio_sched_batch_get(b.s, 0, &bv), FOLIO_E_NOT_FOUND);
    v = task(&b, 0);
    assert_int_equal(v.status, FOLIO_STATUS_ENQUEUED);
    assert_int_equal(v.batch_uid, FOLIO_SCHED_NONE);
    assert_false(v.started);
    ev = ev_canceled(0, 1, 2);
    must_apply(&b, &ev);
    ev = ev_outcome(FOLIO_EV_TASK_SUCCEEDED, 2, 1, 6000);
    must_apply(&b, &ev);
    assert_int_equal(folio_sched_batch_get(b.s, 1, &bv), 0);
    assert_true(bv.finished);
    assert_int_equal(bv.task_count, 3);
    assert_int_equal(bv.status_counts[FOLIO_STATUS_CANCELED], 2);
    assert_int_equal(bv.status_counts[FOLIO_STATUS_SUCCEEDED], 1);
    assert_int_equal(bv.finished_at_ns, 6000);
    uint32_t c2 = 2, none = 7;
    struct folio_sched_query q = {.canceled_by = &c2, .canceled_by_count = 1, .canceled_by_set = true};
    uint32_t want[] = {1, 0};
    query(&b, &q, want, 2);
    q.canceled_by = &none;
    query(&b, &q, NULL, 0);
    folio_sched_state_free(b.s);
}

static void
test_delete_keeps_uids(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    struct folio_event ev;
    for (uint64_t u = 0; u < 3; u++) {
        ev = ev_register(u, FOLIO_KIND_SETTINGS_UPDATE, "a", NULL,
                         content_for(FOLIO_KIND_SETTINGS_UPDATE, NULL, 0, NULL));
        must_apply(&b, &ev);
    }
    uint64_t b0[] = {0, 1};
    ev = ev_batch(0, b0, 2);
    must_apply(&b, &ev);
    ev = ev_outcome(FOLIO_EV_TASK_SUCCEEDED, 0, 0, 100);
    must_apply(&b, &ev);
    ev = ev_outcome(FOLIO_EV_TASK_FAILED, 1, 0, 200);
    must_apply(&b, &ev);
    uint64_t matched[] = {0, 1, 2};
    ev = ev_register(3, FOLIO_KIND_TASK_DELETION, NULL, NULL,
                     content_for(FOLIO_KIND_TASK_DELETION, matched, 3, NULL));
    must_apply(&b, &ev);
    uint64_t b1[] = {3};
    ev = ev_batch(1, b1, 1);
    must_apply(&b, &ev);
    /* the enqueued task 2 cannot be deleted */
    uint64_t bad[] = {0, 2};
    ev = ev_deleted(3, bad, 2);
    assert_int_equal(try_apply(&b, &ev), FOLIO_E_CORRUPT);
    uint64_t gone[] = {0};
    ev = ev_deleted(3, gone, 1);
    must_apply(&b, &ev);
    struct folio_task_view v;
    assert_int_equal(folio_sched_task_get(b.s, 0, &v), FOLIO_E_NOT_FOUND);
    struct folio_batch_view bv;
    assert_int_equal(folio_sched_batch_get(b.s, 0, &bv), 0);
    assert_int_equal(bv.task_count, 1);
    assert_int_equal(bv.total_tasks, 2); /* stats are kept (Meilisearch) */
    uint64_t gone2[] = {1};
    ev = ev_deleted(3, gone2, 1);
    must_apply(&b, &ev);
    assert_int_equal(folio_sched_batch_get(b.s, 0, &bv), FOLIO_E_NOT_FOUND);
    /* a deleted uid is never used again */
    ev = ev_register(1, FOLIO_KIND_SETTINGS_UPDATE, "a", NULL,
                     content_for(FOLIO_KIND_SETTINGS_UPDATE, NULL, 0, NULL));
    assert_int_equal(try_apply(&b, &ev), FOLIO_E_CORRUPT);
    assert_non_null(strstr(b.diag.reason, "not above"));
    /* gaps are allowed */
    ev = ev_register(10, FOLIO_KIND_SETTINGS_UPDATE, "a", NULL,
                     content_for(FOLIO_KIND_SETTINGS_UPDATE, NULL, 0, NULL));
    must_apply(&b, &ev);
    assert_int_equal(folio_sched_state_next_task_uid(b.s), 11);
    assert_int_equal(folio_sched_state_task_count(b.s), 3);
    folio_sched_state_free(b.s);
}

static void
test_swap_rewrites_older_tasks(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    struct folio_event ev;
    /* 0: create a, 1: create b, 2: settings on a, 3: swap a<->b, 4: settings on a */
    ev = ev_register(0, FOLIO_KIND_INDEX_CREATION, "a", NULL, content_for(FOLIO_KIND_INDEX_CREATION, NULL, 0, NULL));
    must_apply(&b, &ev);
    ev = ev_register(1, FOLIO_KIND_INDEX_CREATION, "b", NULL, content_for(FOLIO_KIND_INDEX_CREATION, NULL, 0, NULL));
    must_apply(&b, &ev);
    ev = ev_register(2, FOLIO_KIND_SETTINGS_UPDATE, "a", NULL, content_for(FOLIO_KIND_SETTINGS_UPDATE, NULL, 0, NULL));
    must_apply(&b, &ev);
    ev = ev_register(3, FOLIO_KIND_INDEX_SWAP, "a", "b", content_for(FOLIO_KIND_INDEX_SWAP, NULL, 0, NULL));
    must_apply(&b, &ev);
    ev = ev_register(4, FOLIO_KIND_SETTINGS_UPDATE, "a", NULL, content_for(FOLIO_KIND_SETTINGS_UPDATE, NULL, 0, NULL));
    must_apply(&b, &ev);
    uint64_t one[1];
    const char *uuids[2] = {UUID_A, UUID_B};
    for (uint64_t u = 0; u < 2; u++) {
        one[0] = u;
        ev = ev_batch(u, one, 1);
        must_apply(&b, &ev);
        ev = ev_index(FOLIO_EV_INDEX_CREATED, u ? "b" : "a", uuids[u], u);
        must_apply(&b, &ev);
        ev = ev_outcome(FOLIO_EV_TASK_SUCCEEDED, u, u, 100);
        must_apply(&b, &ev);
    }
    one[0] = 3;
    ev = ev_batch(2, one, 1);
    must_apply(&b, &ev);
    /* task 2 (older, on a) is enqueued, not processing: it is rewritten */
    struct folio_str pair[2] = {folio_str_c("a"), folio_str_c("b")};
    ev = (struct folio_event){.type = FOLIO_EV_INDEXES_SWAPPED};
    ev.u.indexes_swapped.index_uids = (struct folio_str_array){pair, 2};
    ev.u.indexes_swapped.task_uid = 3;
    must_apply(&b, &ev);
    struct folio_index_view iv;
    assert_int_equal(folio_sched_index_get(b.s, "a", 1, &iv), 0);
    assert_string_equal(iv.uuid.ptr, UUID_B);
    assert_int_equal(folio_sched_index_get(b.s, "b", 1, &iv), 0);
    assert_string_equal(iv.uuid.ptr, UUID_A);
    assert_string_equal(task(&b, 0).index_uids[0].ptr, "b");
    assert_string_equal(task(&b, 1).index_uids[0].ptr, "a");
    assert_string_equal(task(&b, 2).index_uids[0].ptr, "b");
    assert_string_equal(task(&b, 4).index_uids[0].ptr, "a"); /* newer: untouched */
    struct folio_task_view sv = task(&b, 3);
    assert_null(folio_task_view_index_uid(&sv)); /* indexSwap has no public indexUid */
    struct folio_str ia = folio_str_c("a");
    struct folio_sched_query q = {.index_uids = &ia, .index_uid_count = 1, .index_uids_set = true};
    uint32_t want[] = {4, 1}; /* the swap task itself is not a one-index kind */
    query(&b, &q, want, 2);
    ev = ev_outcome(FOLIO_EV_TASK_SUCCEEDED, 3, 2, 300);
    must_apply(&b, &ev);

    /* rename: only one side exists */
    ev = ev_register(5, FOLIO_KIND_INDEX_SWAP, "a", "b", content_for(FOLIO_KIND_INDEX_SWAP, NULL, 0, NULL));
    must_apply(&b, &ev);
    one[0] = 5;
    ev = ev_batch(3, one, 1);
    must_apply(&b, &ev);
    ev = ev_index(FOLIO_EV_INDEX_DELETED, "b", UUID_A, 5);
    must_apply(&b, &ev);
    ev = (struct folio_event){.type = FOLIO_EV_INDEXES_SWAPPED};
    ev.u.indexes_swapped.index_uids = (struct folio_str_array){pair, 2};
    ev.u.indexes_swapped.task_uid = 5;
    must_apply(&b, &ev);
    assert_int_equal(folio_sched_index_get(b.s, "a", 1, &iv), FOLIO_E_NOT_FOUND);
    assert_int_equal(folio_sched_index_get(b.s, "b", 1, &iv), 0);
    assert_string_equal(iv.uuid.ptr, UUID_B);
    folio_sched_state_free(b.s);
}

/* ---- contradictions -------------------------------------------------------- */

/*
 * A prefix every contradiction is applied after:
 *   0 indexCreation a (succeeded in batch 0, index a created)
 *   1 documentAdditionOrUpdate a (processing in batch 1)
 *   2 settingsUpdate a (enqueued)
 *   3 taskCancelation matching 1, 2 (enqueued)
 *   4 taskDeletion matching 0 (processing in batch 2)
 */
static void
prefix(struct bench *b)
{
    bench_init(b);
    struct folio_event ev;
    ev = ev_register(0, FOLIO_KIND_INDEX_CREATION, "a", NULL, content_for(FOLIO_KIND_INDEX_CREATION, NULL, 0, NULL));
    must_apply(b, &ev);
    ev = ev_register(1, FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, "a", NULL,
                     content_for(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, NULL, 0, NULL));
    must_apply(b, &ev);
    ev = ev_register(2, FOLIO_KIND_SETTINGS_UPDATE, "a", NULL, content_for(FOLIO_KIND_SETTINGS_UPDATE, NULL, 0, NULL));
    must_apply(b, &ev);
    static const uint64_t m3[] = {1, 2}, m4[] = {0};
    ev = ev_register(3, FOLIO_KIND_TASK_CANCELATION, NULL, NULL, content_for(FOLIO_KIND_TASK_CANCELATION, m3, 2, NULL));
    must_apply(b, &ev);
    ev = ev_register(4, FOLIO_KIND_TASK_DELETION, NULL, NULL, content_for(FOLIO_KIND_TASK_DELETION, m4, 1, NULL));
    must_apply(b, &ev);
    static const uint64_t t0[] = {0}, t1[] = {1}, t4[] = {4};
    ev = ev_batch(0, t0, 1);
    must_apply(b, &ev);
    ev = ev_index(FOLIO_EV_INDEX_CREATED, "a", UUID_A, 0);
    must_apply(b, &ev);
    ev = ev_outcome(FOLIO_EV_TASK_SUCCEEDED, 0, 0, 100);
    must_apply(b, &ev);
    ev = ev_batch(1, t1, 1);
    must_apply(b, &ev);
    ev = ev_batch(2, t4, 1);
    must_apply(b, &ev);
}

struct bad_case {
    const char *name;
    int want;
    const char *reason_has;
    struct folio_event (*make)(void);
};

static struct folio_event bad_outcome_unknown(void) { return ev_outcome(FOLIO_EV_TASK_SUCCEEDED, 99, 1, 1); }
static struct folio_event bad_outcome_enqueued(void) { return ev_outcome(FOLIO_EV_TASK_SUCCEEDED, 2, 1, 1); }
static struct folio_event bad_outcome_batch(void) { return ev_outcome(FOLIO_EV_TASK_FAILED, 1, 0, 1); }
static struct folio_event bad_outcome_twice(void) { return ev_outcome(FOLIO_EV_TASK_SUCCEEDED, 0, 0, 1); }
static struct folio_event bad_register_same_uid(void)
{
    return ev_register(4, FOLIO_KIND_INDEX_CREATION, "b", NULL, content_for(FOLIO_KIND_INDEX_CREATION, NULL, 0, NULL));
}
static struct folio_event bad_register_kind_case(void)
{
    struct folio_event ev = ev_register(5, FOLIO_KIND_INDEX_CREATION, "b", NULL, (struct folio_object){0});
    ev.u.task_registered.kind = folio_str_c("IndexCreation");
    return ev;
}
static struct folio_event bad_register_no_index(void)
{
    return ev_register(5, FOLIO_KIND_INDEX_CREATION, NULL, NULL, (struct folio_object){0});
}
static struct folio_event bad_register_global_with_index(void)
{
    return ev_register(5, FOLIO_KIND_SNAPSHOT_CREATION, "a", NULL, (struct folio_object){0});
}
static struct folio_event bad_register_index_syntax(void)
{
    return ev_register(5, FOLIO_KIND_INDEX_DELETION, "a/b", NULL, (struct folio_object){0});
}
static struct folio_event bad_register_content(void)
{
    return ev_register(5, FOLIO_KIND_SETTINGS_UPDATE, "a", NULL, content_for(FOLIO_KIND_INDEX_SWAP, NULL, 0, NULL));
}
static struct folio_event bad_register_matched_newer(void)
{
    static const uint64_t m[] = {2, 5};
    return ev_register(5, FOLIO_KIND_TASK_CANCELATION, NULL, NULL, content_for(FOLIO_KIND_TASK_CANCELATION, m, 2, NULL));
}
static struct folio_event bad_register_rename_mismatch(void)
{
    return ev_register(5, FOLIO_KIND_INDEX_UPDATE, "a", "c", content_for(FOLIO_KIND_INDEX_UPDATE, NULL, 0, "d"));
}
static struct folio_event bad_register_uid_max(void)
{
    return ev_register((uint64_t)FOLIO_SCHED_UID_MAX + 1, FOLIO_KIND_INDEX_DELETION, "a", NULL, (struct folio_object){0});
}
static struct folio_event bad_batch_processing(void)
{
    static const uint64_t t[] = {2, 1};
    return ev_batch(3, t, 2);
}
static struct folio_event bad_batch_dup(void)
{
    static const uint64_t t[] = {2, 2};
    return ev_batch(3, t, 2);
}
static struct folio_event bad_batch_uid(void)
{
    static const uint64_t t[] = {2};
    return ev_batch(2, t, 1);
}
static struct folio_event bad_batch_unknown_task(void)
{
    static const uint64_t t[] = {2, 42};
    return ev_batch(3, t, 2);
}
static struct folio_event bad_cancel_not_canceler(void) { return ev_canceled(2, 1, 4); }
static struct folio_event bad_cancel_older_canceler(void)
{
    /* task 3 is a taskCancelation but canceling 3 by 3 is not "newer" */
    return ev_canceled(3, 1, 3);
}
static struct folio_event bad_cancel_finished_batch(void) { return ev_canceled(2, 0, 3); }
static struct folio_event bad_progress_finished(void) { return ev_progress(0, "x", 0, 1); }
static struct folio_event bad_progress_index(void) { return ev_progress(1, "x", 3, 2); }
static struct folio_event bad_progress_path(void) { return ev_progress(1, "a >  > b", 0, 1); }
static struct folio_event bad_index_exists(void) { return ev_index(FOLIO_EV_INDEX_CREATED, "a", UUID_B, 1); }
static struct folio_event bad_index_uuid_used(void) { return ev_index(FOLIO_EV_INDEX_CREATED, "b", UUID_A, 1); }
static struct folio_event bad_index_wrong_uuid(void) { return ev_index(FOLIO_EV_INDEX_DELETED, "a", UUID_C, 1); }
static struct folio_event bad_index_missing(void) { return ev_index(FOLIO_EV_INDEX_UPDATED, "zz", UUID_C, 1); }
static struct folio_event bad_index_not_uuid(void) { return ev_index(FOLIO_EV_INDEX_CREATED, "b", "not-a-uuid", 1); }
static struct folio_event bad_index_by_enqueued(void) { return ev_index(FOLIO_EV_INDEX_CREATED, "b", UUID_B, 2); }
static struct folio_event bad_swap_by_non_swap(void)
{
    static struct folio_str pair[2] = {{"a", 1}, {"b", 1}};
    struct folio_event ev = {.type = FOLIO_EV_INDEXES_SWAPPED};
    ev.u.indexes_swapped.index_uids = (struct folio_str_array){pair, 2};
    ev.u.indexes_swapped.task_uid = 1;
    return ev;
}
static struct folio_event bad_import_by_other(void)
{
    struct folio_event ev = {.type = FOLIO_EV_INDEX_IMPORTED};
    ev.u.index_imported.index_uid = folio_str_c("imp");
    ev.u.index_imported.index_uuid = folio_str_c(UUID_C);
    ev.u.index_imported.task_uid = 1;
    ev.u.index_imported.source_instance_uid = folio_str_c("src");
    ev.u.index_imported.archive_checksum = folio_str_c("0123456789abcdef0123456789abcdef");
    return ev;
}
static struct folio_event bad_delete_unfinished(void)
{
    static const uint64_t t[] = {1};
    return ev_deleted(4, t, 1);
}
static struct folio_event bad_delete_by_other(void)
{
    static const uint64_t t[] = {0};
    return ev_deleted(1, t, 1);
}
static struct folio_event bad_delete_twice(void)
{
    static const uint64_t t[] = {0, 0};
    return ev_deleted(4, t, 2);
}
static struct folio_event bad_requeue_enqueued(void) { return ev_requeued(2, 1); }
static struct folio_event bad_requeue_batch(void) { return ev_requeued(1, 2); }
static struct folio_event bad_checkpoint_future(void)
{
    struct folio_event ev = {.type = FOLIO_EV_CHECKPOINT_WRITTEN};
    ev.u.checkpoint_written.checkpoint_seq = 1000;
    ev.u.checkpoint_written.file = folio_str_c("ckpt-x.bin");
    return ev;
}
static struct folio_event bad_error_object(void)
{
    struct folio_event ev = ev_outcome(FOLIO_EV_TASK_FAILED, 1, 1, 1);
    ev.u.task_outcome.error = (struct folio_object){(const uint8_t *)"\x81\xa4" "code\xa1x", 8};
    return ev;
}
static struct folio_event bad_details_key(void)
{
    struct folio_event ev = ev_outcome(FOLIO_EV_TASK_SUCCEEDED, 1, 1, 1);
    /* {"deletedTasks": 1} is not a documentAdditionOrUpdate detail */
    ev.u.task_outcome.details = (struct folio_object){(const uint8_t *)"\x81\xac" "deletedTasks\x01", 15};
    return ev;
}

static void
test_contradictions(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"outcome for an unknown task", FOLIO_E_CORRUPT, "unknown task 99", bad_outcome_unknown},
        {"outcome for an enqueued task", FOLIO_E_CORRUPT, "not processing", bad_outcome_enqueued},
        {"outcome in another batch", FOLIO_E_CORRUPT, "batch", bad_outcome_batch},
        {"second outcome", FOLIO_E_CORRUPT, "succeeded", bad_outcome_twice},
        {"task uid not increasing", FOLIO_E_CORRUPT, "not above", bad_register_same_uid},
        {"kind not exact", FOLIO_E_CORRUPT, "unknown task kind", bad_register_kind_case},
        {"one-index kind without index", FOLIO_E_CORRUPT, "index_uids", bad_register_no_index},
        {"global kind with index", FOLIO_E_CORRUPT, "index_uids", bad_register_global_with_index},
        {"bad index uid", FOLIO_E_CORRUPT, "not valid", bad_register_index_syntax},
        {"content of another kind", FOLIO_E_CORRUPT, "content", bad_register_content},
        {"matched tasks newer", FOLIO_E_CORRUPT, "older", bad_register_matched_newer},
        {"rename target mismatch", FOLIO_E_CORRUPT, "index_uids", bad_register_rename_mismatch},
        {"uid above max", FOLIO_E_TOO_LARGE, "largest", bad_register_uid_max},
        {"batch of processing task", FOLIO_E_CORRUPT, "not enqueued", bad_batch_processing},
        {"batch names a task twice", FOLIO_E_CORRUPT, "twice", bad_batch_dup},
        {"batch uid not increasing", FOLIO_E_CORRUPT, "not above", bad_batch_uid},
        {"batch of unknown task", FOLIO_E_CORRUPT, "unknown task 42", bad_batch_unknown_task},
        {"canceled by a non-canceler", FOLIO_E_CORRUPT, "taskCancelation", bad_cancel_not_canceler},
        {"canceled by itself", FOLIO_E_CORRUPT, "newer", bad_cancel_older_canceler},
        {"canceled into a finished batch", FOLIO_E_CORRUPT, "not running", bad_cancel_finished_batch},
        {"progress of finished batch", FOLIO_E_CORRUPT, "finished", bad_progress_finished},
        {"progress index above total", FOLIO_E_CORRUPT, "above its total", bad_progress_index},
        {"progress path with empty step", FOLIO_E_CORRUPT, "path", bad_progress_path},
        {"index created twice", FOLIO_E_CORRUPT, "already exists", bad_index_exists},
        {"uuid reused", FOLIO_E_CORRUPT, "in use", bad_index_uuid_used},
        {"index deleted with wrong uuid", FOLIO_E_CORRUPT, "has uuid", bad_index_wrong_uuid},
        {"update of missing index", FOLIO_E_CORRUPT, "does not exist", bad_index_missing},
        {"index uuid not a uuid", FOLIO_E_CORRUPT, "UUID", bad_index_not_uuid},
        {"index change by an enqueued task", FOLIO_E_CORRUPT, "not a processing", bad_index_by_enqueued},
        {"swap by another kind", FOLIO_E_CORRUPT, "indexSwap", bad_swap_by_non_swap},
        {"import by another kind", FOLIO_E_CORRUPT, "singleIndexSnapshotImport", bad_import_by_other},
        {"delete unfinished task", FOLIO_E_CORRUPT, "not finished", bad_delete_unfinished},
        {"delete by non-deletion task", FOLIO_E_CORRUPT, "taskDeletion", bad_delete_by_other},
        {"delete twice", FOLIO_E_CORRUPT, "twice", bad_delete_twice},
        {"requeue enqueued task", FOLIO_E_CORRUPT, "not processing", bad_requeue_enqueued},
        {"requeue from other batch", FOLIO_E_CORRUPT, "not processing in batch", bad_requeue_batch},
        {"checkpoint in the future", FOLIO_E_CORRUPT, "checkpoint", bad_checkpoint_future},
        {"error object incomplete", FOLIO_E_CORRUPT, "error", bad_error_object},
        {"details of another kind", FOLIO_E_CORRUPT, "deletedTasks", bad_details_key},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        struct bench b;
        prefix(&b);
        uint64_t before = folio_sched_state_hash(b.s);
        struct folio_sched_state *copy = NULL;
        struct folio_event ev = cases[i].make();
        int rc = try_apply(&b, &ev);
        char seqtxt[32];
        snprintf(seqtxt, sizeof(seqtxt), "seq %" PRIu64, b.seq + 1);
        if (rc != cases[i].want || b.diag.seq != b.seq + 1 || strstr(b.diag.reason, seqtxt) == NULL ||
            strstr(b.diag.reason, cases[i].reason_has) == NULL) {
            fprintf(stderr, "case `%s`: rc %s, diag seq %" PRIu64 ": %s\n", cases[i].name,
                    folio_err_name(rc), b.diag.seq, b.diag.reason);
            fail();
        }
        /* nothing changed: same hash, and field by field equal to a fresh prefix */
        assert_int_equal(folio_sched_state_hash(b.s), before);
        struct bench fresh;
        prefix(&fresh);
        copy = fresh.s;
        char diff[256];
        if (!folio_sched_state_equal(b.s, copy, diff, sizeof(diff))) {
            fprintf(stderr, "case `%s` changed the state: %s\n", cases[i].name, diff);
            fail();
        }
        folio_sched_state_free(copy);
        folio_sched_state_free(b.s);
    }
}

static void
test_seq_order(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    struct folio_event ev = ev_register(0, FOLIO_KIND_INDEX_DELETION, "a", NULL, (struct folio_object){0});
    ev.at_ns = 1;
    assert_int_equal(folio_sched_state_apply(b.s, 2, 0, &ev, &b.diag), FOLIO_E_INVALID);
    assert_non_null(strstr(b.diag.reason, "seq 2"));
    ev.seq = 5;
    assert_int_equal(folio_sched_state_apply(b.s, 1, 0, &ev, &b.diag), FOLIO_E_INVALID);
    ev.seq = 1;
    assert_int_equal(folio_sched_state_apply(b.s, 1, 0x1234, &ev, &b.diag), 0);
    assert_int_equal(folio_sched_state_frame_hash(b.s), 0x1234);
    folio_sched_state_free(b.s);
}

/* A contradiction inside a real journal stops replay at its seq. */
static void
test_contradiction_in_journal(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sched-bad");
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = 64 * 1024;
    o.create = true;
    struct folio_journal *j = NULL;
    assert_int_equal(folio_journal_open(dir, &o, &j, NULL, NULL), 0);
    struct folio_event evs[4];
    evs[0] = ev_register(0, FOLIO_KIND_INDEX_DELETION, "a", NULL, (struct folio_object){0});
    static const uint64_t t0[] = {0};
    evs[1] = ev_batch(0, t0, 1);
    evs[2] = ev_outcome(FOLIO_EV_TASK_SUCCEEDED, 0, 0, 10);
    evs[3] = ev_outcome(FOLIO_EV_TASK_SUCCEEDED, 0, 0, 11); /* a second outcome */
    for (int i = 0; i < 4; i++) {
        uint8_t *buf;
        size_t len;
        evs[i].at_ns = i;
        assert_int_equal(folio_event_encode(&evs[i], &buf, &len), 0);
        struct folio_journal_entry e = {buf, len};
        assert_int_equal(folio_journal_append(j, &e, 1, NULL), 0);
        folio_free(buf);
    }
    folio_journal_close(j);
    struct folio_sched_state *s = NULL;
    struct folio_sched_diag d;
    struct folio_sched_replay_info info;
    assert_int_equal(folio_sched_state_replay(dir, NULL, &s, &info, &d), FOLIO_E_CORRUPT);
    assert_null(s);
    assert_int_equal(d.seq, 4);
    assert_non_null(strstr(d.reason, "seq 4"));
    assert_int_equal(info.events_applied, 3);
    tu_rmrf(dir);
    folio_free(dir);
}

/* ---- JSON views ------------------------------------------------------------ */

static int
apply_at(struct bench *b, struct folio_event *ev, int64_t at)
{
    ev->at_ns = at;
    int rc = folio_sched_state_apply(b->s, b->seq + 1, 0, ev, &b->diag);
    if (rc == 0)
        b->seq++;
    return rc;
}

static void
expect_json(struct bench *b, uint64_t uid, const char *want)
{
    struct folio_task_view v = task(b, uid);
    json_t *j = NULL;
    assert_int_equal(folio_task_view_to_json(&v, &j), 0);
    char *txt = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (strcmp(txt, want) != 0) {
        fprintf(stderr, "got  %s\nwant %s\n", txt, want);
        fail();
    }
    free(txt);
    json_decref(j);
}

/* The failed indexCreation of the reference (§1.1), field for field. */
static void
test_task_json(void **state)
{
    (void)state;
    const int64_t base = 1740823200ll * 1000000000ll; /* 2025-03-01T10:00:00Z */
    struct bench b;
    bench_init(&b);
    struct folio_task_content c = {.kind = FOLIO_KIND_INDEX_CREATION, .primary_key = folio_str_c("isbn")};
    uint8_t *content, *det;
    size_t clen, dlen;
    assert_int_equal(folio_task_content_encode(&c, &content, &clen), 0);
    struct folio_event ev = ev_register(12, FOLIO_KIND_INDEX_CREATION, "books", NULL,
                                        (struct folio_object){content, (uint32_t)clen});
    ev.u.task_registered.enqueued_at_ns = base + 120345000;
    assert_int_equal(apply_at(&b, &ev, base + 120345000), 0);
    ev = ev_register(13, FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, "books", NULL,
                     content_for(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, NULL, 0, NULL));
    ev.u.task_registered.enqueued_at_ns = base + 86400ll * 1000000000ll;
    assert_int_equal(apply_at(&b, &ev, base + 200000000), 0);
    expect_json(&b, 13, "{\"uid\":13,\"batchUid\":null,\"indexUid\":\"books\",\"status\":\"enqueued\","
                        "\"type\":\"documentAdditionOrUpdate\",\"canceledBy\":null,"
                        "\"details\":{\"receivedDocuments\":2,\"indexedDocuments\":null},"
                        "\"error\":null,\"duration\":null,\"enqueuedAt\":\"2025-03-02T10:00:00Z\","
                        "\"startedAt\":null,\"finishedAt\":null}");
    static const uint64_t t12[] = {12};
    ev = ev_batch(9, t12, 1);
    assert_int_equal(apply_at(&b, &ev, base + 130011000), 0);
    ev = ev_outcome(FOLIO_EV_TASK_FAILED, 12, 9, base + 134529000);
    struct folio_task_error e = {folio_str_c("Index `books` already exists."),
                                 folio_str_c("index_already_exists"), folio_str_c("invalid_request"),
                                 folio_str_c("")};
    uint8_t *err;
    size_t elen;
    assert_int_equal(folio_task_error_encode(&e, &err, &elen), 0);
    ev.u.task_outcome.error = (struct folio_object){err, (uint32_t)elen};
    struct folio_task_details d = {.present = 1ull << FOLIO_DETAIL_PRIMARY_KEY,
                                   .primary_key = folio_str_c("isbn")};
    assert_int_equal(folio_task_details_encode(FOLIO_KIND_INDEX_CREATION, &d, &det, &dlen), 0);
    ev.u.task_outcome.details = (struct folio_object){det, (uint32_t)dlen};
    assert_int_equal(apply_at(&b, &ev, base + 134529000), 0);
    expect_json(&b, 12, "{\"uid\":12,\"batchUid\":9,\"indexUid\":\"books\",\"status\":\"failed\","
                        "\"type\":\"indexCreation\",\"canceledBy\":null,"
                        "\"details\":{\"primaryKey\":\"isbn\"},"
                        "\"error\":{\"message\":\"Index `books` already exists.\","
                        "\"code\":\"index_already_exists\",\"type\":\"invalid_request\","
                        "\"link\":\"https://docs.meilisearch.com/errors#index_already_exists\"},"
                        "\"duration\":\"PT0.004518S\",\"enqueuedAt\":\"2025-03-01T10:00:00.120345Z\","
                        "\"startedAt\":\"2025-03-01T10:00:00.130011Z\","
                        "\"finishedAt\":\"2025-03-01T10:00:00.134529Z\"}");
    struct folio_batch_view bv;
    assert_int_equal(folio_sched_batch_get(b.s, 9, &bv), 0);
    json_t *j = NULL;
    assert_int_equal(folio_batch_view_to_json(&bv, &j), 0);
    char *txt = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(txt, "{\"uid\":9,\"progress\":null,\"details\":{},\"stats\":{\"totalNbTasks\":1,"
                             "\"status\":{\"failed\":1},\"types\":{\"indexCreation\":1},"
                             "\"indexUids\":{\"books\":1}},\"duration\":\"PT0.004518S\","
                             "\"startedAt\":\"2025-03-01T10:00:00.130011Z\","
                             "\"finishedAt\":\"2025-03-01T10:00:00.134529Z\","
                             "\"batchStrategy\":\"batched all enqueued tasks\"}");
    free(txt);
    json_decref(j);
    folio_free(content);
    folio_free(det);
    folio_free(err);
    folio_sched_state_free(b.s);
}

static void
test_durations_and_dates(void **state)
{
    (void)state;
    static const struct {
        int64_t ns;
        const char *want;
    } d[] = {{0, "PT0S"},
             {1000000000, "PT1S"},
             {4518000, "PT0.004518S"},
             {9330000, "PT0.009330S"},
             {1500000000, "PT1.500S"},
             {123, "PT0.000000123S"},
             {86400ll * 1000000000ll, "P1D"},
             {86405ll * 1000000000ll, "P1DT5S"},
             {2 * 86400ll * 1000000000ll + 7, "P2DT0.000000007S"}};
    char buf[64];
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(d); i++)
        assert_string_equal(folio_sched_format_duration(d[i].ns, buf, sizeof(buf)), d[i].want);
    assert_null(folio_sched_format_duration(-1, buf, sizeof(buf)));
    assert_string_equal(folio_sched_format_date(0, buf, sizeof(buf)), "1970-01-01T00:00:00Z");
    assert_string_equal(folio_sched_format_date(100000000, buf, sizeof(buf)), "1970-01-01T00:00:00.1Z");
    assert_string_equal(folio_sched_format_date(-1, buf, sizeof(buf)), "1969-12-31T23:59:59.999999999Z");
}

/* The RFC 3339 formatter keeps the last second's text per thread: compare it with gmtime. */
static void
test_rfc3339_against_gmtime(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int64_t t = 1763850000ll * 1000000000ll;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        switch (x % 5) {
        case 0: t += (int64_t)(x % 1000); break;                      /* same second, mostly */
        case 1: t += (int64_t)(x % 3000000000ll); break;               /* the next seconds */
        case 2: t = (int64_t)(x % 4102444800ll) * 1000000000ll + (int64_t)(x % 1000000000); break;
        case 3: t = -(int64_t)(x % 100000000000ll); break;             /* before 1970 */
        default: t = (int64_t)x; break;                                /* anywhere in 1677-2262 */
        }
        int64_t sec = t / 1000000000, nsec = t % 1000000000;
        if (nsec < 0) {
            nsec += 1000000000;
            sec--;
        }
        time_t tt = (time_t)sec;
        struct tm tm;
        gmtime_r(&tt, &tm);
        char want[96], got[96], short_got[12];
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)nsec);
        assert_string_equal(folio_clock_format_rfc3339(t, got, sizeof(got)), want);
        /* a short buffer gets a truncated copy, NUL-terminated */
        folio_clock_format_rfc3339(t, short_got, sizeof(short_got));
        assert_int_equal(strlen(short_got), sizeof(short_got) - 1);
        assert_memory_equal(short_got, want, sizeof(short_got) - 1);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_rfc3339_against_gmtime),
        cmocka_unit_test(test_cancel_requeue),
        cmocka_unit_test(test_delete_keeps_uids),
        cmocka_unit_test(test_swap_rewrites_older_tasks),
        cmocka_unit_test(test_contradictions),
        cmocka_unit_test(test_seq_order),
        cmocka_unit_test(test_contradiction_in_journal),
        cmocka_unit_test(test_task_json),
        cmocka_unit_test(test_durations_and_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
