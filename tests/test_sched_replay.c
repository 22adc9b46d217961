/*
 * Replay, checkpoints and queries against a randomized history.
 *
 * A generator (seed printed by tu_seed(); rerun with FOLIO_TEST_SEED) drives
 * thousands of consistent task lifecycles over six index uids: every kind
 * registered with real content, batches, progress, outcomes with details
 * and errors, cancelations (enqueued tasks joining the canceler's batch,
 * processing tasks canceled), deletions, requeues, index creation,
 * deletion, update, rename, swap and import, uid gaps and enqueue times that
 * go backwards. Events are appended to a REAL journal in groups of 1..40
 * (several events per frame) and applied to a live state as they are made;
 * a simple model of the same history is kept on the side.
 *
 * Checked:
 *  - the live state against the model, task by task and batch by batch;
 *  - full replay == live, and checkpoint + tail replay == live, field by
 *    field (derived sets included) and by hash; every checkpoint written
 *    at a random point reads back equal to the live state of that moment;
 *  - GET /tasks and GET /batches results (total, page, from, next) against
 *    a brute-force filter over the model, for many random filter
 *    combinations (the one place a scan is the right tool);
 *  - a corrupt newest checkpoint falls back to the older one, two corrupt
 *    ones to a full replay; a checkpoint that validates but disagrees with
 *    the journal (wrong frame hash, a seq the journal lacks, another
 *    journal) is FOLIO_E_CORRUPT naming file and seq; a failed rename
 *    during a checkpoint write leaves the previous checkpoints usable;
 *  - a state loaded from a checkpoint stays equal to the live one when most
 *    of the loaded tasks are deleted (they then move out of the loaded
 *    file's memory) and after folio_sched_checkpoint_detach.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "folio/journal.h"
#include "folio/sched.h"
#include "testutil.h"

#define POOL 6
#define MAXT 6000
#define MAXB 6000
#define NONE FOLIO_SCHED_NONE
#define TARGET_TASKS 2500
#define PEND_MAX 64

static const char *const POOL_NAMES[POOL] = {"idx0", "idx1", "idx2", "idx3", "idx4", "idx5"};

struct mtask {
    bool exists;
    uint8_t kind, status, nidx;
    uint8_t idx[4];
    uint32_t batch, canceled_by;
    bool started, finished;
    int64_t enq, start, fin;
    uint32_t nmatched;
    uint32_t *matched;
};

struct mbatch {
    bool exists, finished, has_outcome;
    int64_t started, fin, enq_first, enq_last;
    uint32_t status_counts[FOLIO_STATUS_COUNT], kind_counts[FOLIO_KIND_COUNT], idx_counts[POOL];
    uint32_t total;
    int processing, living;
};

struct mindex {
    bool exists;
    char uuid[37];
};

struct gen {
    uint64_t rng;
    char *dir, *jdir, *cdir;
    struct folio_journal *j;
    struct folio_sched_state *live;
    uint64_t seq;
    int64_t now;
    uint32_t next_task, next_batch, uuid_counter;
    struct mtask t[MAXT];
    struct mbatch b[MAXB];
    struct mindex ix[POOL];
    uint8_t *pend[PEND_MAX];
    size_t pend_len[PEND_MAX];
    int npend, group;
    uint64_t ckpt_seqs[256];
    int nckpt;
    /* what the history exercised */
    uint32_t ev_count[FOLIO_EV_TYPE_COUNT];
    uint32_t canceled_enqueued, canceled_processing, renames, uid_gaps, clock_steps_back;
};

static struct gen *G; /* the history shared by the tests of this file */

static uint64_t
rnd(struct gen *g, uint64_t n)
{
    return n ? tu_rand(&g->rng) % n : 0;
}

static int64_t
tick(struct gen *g)
{
    g->now += 1 + (int64_t)rnd(g, 1000);
    return g->now;
}

static struct folio_str
pool_str(uint8_t p)
{
    return folio_str_c(POOL_NAMES[p]);
}

/* ---- journal, live state and checkpoints ----------------------------------- */

static void
check_equal(const struct folio_sched_state *a, const struct folio_sched_state *b, const char *what)
{
    char diff[512];
    if (!folio_sched_state_equal(a, b, diff, sizeof(diff))) {
        fprintf(stderr, "%s: states differ: %s\n", what, diff);
        fail();
    }
    assert_int_equal(folio_sched_state_hash(a), folio_sched_state_hash(b));
}

static void
write_checkpoint(struct gen *g)
{
    char name[64], path[4096];
    struct folio_sched_diag d;
    int rc = folio_sched_checkpoint_write(g->cdir, g->jdir, g->live, name, sizeof(name), &d);
    if (rc != 0)
        fprintf(stderr, "checkpoint: %s: %s\n", folio_err_name(rc), d.reason);
    assert_int_equal(rc, 0);
    g->ckpt_seqs[g->nckpt++ % 256] = g->seq;
    snprintf(path, sizeof(path), "%s/%s", g->cdir, name);
    struct folio_sched_state *back = NULL;
    struct folio_ckpt_header hdr;
    assert_int_equal(folio_sched_checkpoint_read(path, &back, &hdr, &d), 0);
    assert_int_equal(hdr.seq, g->seq);
    assert_int_equal(hdr.state_hash, folio_sched_state_hash(g->live));
    check_equal(g->live, back, "checkpoint read back");
    folio_sched_state_free(back);
}

static void
flush(struct gen *g)
{
    if (g->npend == 0)
        return;
    struct folio_journal_entry e[PEND_MAX];
    for (int i = 0; i < g->npend; i++)
        e[i] = (struct folio_journal_entry){g->pend[i], g->pend_len[i]};
    uint64_t first = 0;
    assert_int_equal(folio_journal_append(g->j, e, (size_t)g->npend, &first), 0);
    assert_int_equal(first, g->seq - (uint64_t)g->npend + 1);
    for (int i = 0; i < g->npend; i++)
        folio_free(g->pend[i]);
    g->npend = 0;
    g->group = 1 + (int)rnd(g, 40);
    if (rnd(g, 30) == 0)
        write_checkpoint(g);
}

/* Encodes ev (at g->now), applies it to the live state, queues it for the journal. */
static void
emit(struct gen *g, struct folio_event *ev)
{
    ev->at_ns = g->now;
    ev->seq = 0;
    g->ev_count[ev->type]++;
    uint8_t *buf;
    size_t len;
    assert_int_equal(folio_event_encode(ev, &buf, &len), 0);
    struct folio_sched_diag d;
    int rc = folio_sched_state_apply(g->live, g->seq + 1, 0, ev, &d);
    if (rc != 0)
        fprintf(stderr, "live apply: %s: %s\n", folio_err_name(rc), d.reason);
    assert_int_equal(rc, 0);
    g->seq++;
    g->pend[g->npend] = buf;
    g->pend_len[g->npend] = len;
    g->npend++;
    if (g->npend >= g->group)
        flush(g);
}

/* ---- model helpers -------------------------------------------------------- */

static void
mbatch_count(struct mbatch *b, const struct mtask *t, int delta)
{
    b->total = (uint32_t)((int)b->total + delta);
    b->kind_counts[t->kind] = (uint32_t)((int)b->kind_counts[t->kind] + delta);
    for (int i = 0; i < t->nidx; i++)
        b->idx_counts[t->idx[i]] = (uint32_t)((int)b->idx_counts[t->idx[i]] + delta);
}

static void
model_finish(struct gen *g, uint32_t uid, uint8_t status, uint32_t batch, uint32_t by)
{
    struct mtask *t = &g->t[uid];
    struct mbatch *b = &g->b[batch];
    if (status == FOLIO_STATUS_CANCELED)
        *(t->status == FOLIO_STATUS_PROCESSING ? &g->canceled_processing : &g->canceled_enqueued) += 1;
    if (t->status == FOLIO_STATUS_PROCESSING) {
        b->status_counts[FOLIO_STATUS_PROCESSING]--;
        b->processing--;
    } else {
        /* an enqueued task canceled into the canceler's batch */
        t->batch = batch;
        t->started = true;
        t->start = b->started;
        mbatch_count(b, t, +1);
        b->living++;
        if (t->enq < b->enq_first)
            b->enq_first = t->enq;
        if (t->enq > b->enq_last)
            b->enq_last = t->enq;
    }
    b->status_counts[status]++;
    t->status = status;
    t->canceled_by = by;
    t->finished = true;
    t->fin = g->now;
    if (!b->has_outcome || g->now > b->fin)
        b->fin = g->now;
    b->has_outcome = true;
    if (b->processing == 0)
        b->finished = true;
}

static void
new_uuid(struct gen *g, char *out)
{
    snprintf(out, 37, "00000000-0000-4000-8000-%012" PRIx32, ++g->uuid_counter);
}

/* ---- actions: registration -------------------------------------------------- */

static void
pick_distinct(struct gen *g, uint8_t *out, int n)
{
    uint8_t all[POOL] = {0, 1, 2, 3, 4, 5};
    for (int i = 0; i < n; i++) {
        int k = i + (int)rnd(g, POOL - (uint64_t)i);
        uint8_t tmp = all[i];
        all[i] = all[k];
        all[k] = tmp;
        out[i] = all[i];
    }
}

static void
content_matched(struct gen *g, struct mtask *mt, uint32_t uid, struct folio_task_content *c,
                uint64_t *matched)
{
    uint32_t n = 0;
    bool deletion = c->kind == FOLIO_KIND_TASK_DELETION;
    for (uint32_t u = 0; u < uid && n < (deletion ? 16 : 64); u++)
        if (g->t[u].exists && rnd(g, deletion ? 12 : 4) == 0)
            matched[n++] = u;
    c->query = folio_str_c(n % 2 ? "?statuses=*" : "?uids=1,2&types=indexCreation");
    c->matched_tasks = (struct folio_u64_array){matched, n};
    mt->nmatched = n;
    mt->matched = folio_calloc(n ? n : 1, sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++)
        mt->matched[i] = (uint32_t)matched[i];
}

/* Fills the content and the model's index list of a new task. */
static void
content_fill(struct gen *g, struct mtask *mt, uint32_t uid, struct folio_task_content *c,
             struct folio_task_swap *sw, uint64_t *matched, struct folio_str *ids)
{
    uint8_t p = (uint8_t)rnd(g, POOL), q[4];
    if (folio_task_kind_one_index((enum folio_task_kind)c->kind))
        mt->idx[mt->nidx++] = p;
    switch (c->kind) {
    case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE:
        c->method = rnd(g, 2) ? FOLIO_DOC_UPDATE : FOLIO_DOC_REPLACE;
        c->content_file = folio_str_c("payload-0001");
        c->content_bytes = rnd(g, 1u << 20);
        c->content_checksum = folio_str_c("ffeeddccbbaa99887766554433221100");
        c->documents_count_set = true;
        c->documents_count = rnd(g, 100);
        break;
    case FOLIO_KIND_DOCUMENT_DELETION:
        if (rnd(g, 2)) {
            c->clear = true;
        } else {
            ids[0] = folio_str_c("17");
            ids[1] = folio_str_c("doc-b");
            c->ids = (struct folio_str_array){ids, 2};
        }
        break;
    case FOLIO_KIND_SETTINGS_UPDATE:
        c->settings = (struct folio_object){(const uint8_t *)"\x81\xa4rank\x01", 7};
        break;
    case FOLIO_KIND_INDEX_CREATION:
    case FOLIO_KIND_INDEX_UPDATE:
        if (rnd(g, 2))
            c->primary_key = folio_str_c("id");
        if (c->kind == FOLIO_KIND_INDEX_UPDATE && rnd(g, 2) == 0) {
            /* a rename, preferably to a uid that is free right now */
            for (int tries = 0; tries < 4; tries++) {
                pick_distinct(g, q, 2);
                if (g->ix[q[0]].exists && !g->ix[q[1]].exists)
                    break;
            }
            mt->idx[0] = q[0];
            mt->idx[mt->nidx++] = q[1];
            c->new_index_uid = pool_str(q[1]);
        }
        break;
    case FOLIO_KIND_INDEX_SWAP: {
        uint32_t pairs = 1 + (uint32_t)rnd(g, 2);
        pick_distinct(g, q, (int)pairs * 2);
        for (uint32_t i = 0; i < pairs; i++) {
            sw[i] = (struct folio_task_swap){{pool_str(q[2 * i]), pool_str(q[2 * i + 1])}, false};
            mt->idx[mt->nidx++] = q[2 * i];
            mt->idx[mt->nidx++] = q[2 * i + 1];
        }
        c->swaps = sw;
        c->swap_count = pairs;
        break;
    }
    case FOLIO_KIND_TASK_CANCELATION:
    case FOLIO_KIND_TASK_DELETION:
        content_matched(g, mt, uid, c, matched);
        break;
    case FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION:
        if (rnd(g, 2))
            c->snapshot_path = folio_str_c("indexes/x/x_1.idx.snapshot");
        break;
    case FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT:
        c->snapshot_path = folio_str_c("indexes/x/x_1.idx.snapshot");
        if (rnd(g, 2))
            c->new_index_uid = pool_str(p);
        else
            c->index_uid = pool_str(p);
        break;
    default:
        break;
    }
}

/* Mostly document and settings work, some of everything else. */
static enum folio_task_kind
random_kind(struct gen *g)
{
    static const uint8_t weight[FOLIO_KIND_COUNT] = {
        [FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE] = 25, [FOLIO_KIND_DOCUMENT_DELETION] = 8,
        [FOLIO_KIND_SETTINGS_UPDATE] = 10, [FOLIO_KIND_INDEX_CREATION] = 10,
        [FOLIO_KIND_INDEX_DELETION] = 4, [FOLIO_KIND_INDEX_UPDATE] = 6, [FOLIO_KIND_INDEX_SWAP] = 5,
        [FOLIO_KIND_TASK_CANCELATION] = 6, [FOLIO_KIND_TASK_DELETION] = 2,
        [FOLIO_KIND_SNAPSHOT_CREATION] = 3, [FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION] = 5,
        [FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT] = 5};
    unsigned total = 0;
    for (unsigned k = 0; k < FOLIO_KIND_COUNT; k++)
        total += weight[k];
    unsigned r = (unsigned)rnd(g, total);
    for (unsigned k = 0; k < FOLIO_KIND_COUNT; k++) {
        if (r < weight[k])
            return (enum folio_task_kind)k;
        r -= weight[k];
    }
    return FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
}

static void
act_register(struct gen *g)
{
    uint32_t uid = g->next_task + (rnd(g, 20) == 0 ? 1 + (uint32_t)rnd(g, 3) : 0);
    if (uid >= MAXT)
        return;
    g->uid_gaps += uid != g->next_task;
    struct mtask *mt = &g->t[uid];
    memset(mt, 0, sizeof(*mt));
    struct folio_task_content c;
    memset(&c, 0, sizeof(c));
    c.kind = random_kind(g);
    struct folio_task_swap sw[2];
    uint64_t matched[64];
    struct folio_str ids[2], names[4];
    content_fill(g, mt, uid, &c, sw, matched, ids);
    uint8_t *content;
    size_t content_len;
    assert_int_equal(folio_task_content_encode(&c, &content, &content_len), 0);
    for (int i = 0; i < mt->nidx; i++)
        names[i] = pool_str(mt->idx[i]);
    tick(g);
    mt->exists = true;
    mt->kind = (uint8_t)c.kind;
    mt->status = FOLIO_STATUS_ENQUEUED;
    mt->batch = mt->canceled_by = NONE;
    /* now and then the wall clock steps back */
    mt->enq = g->now - (rnd(g, 20) == 0 ? (int64_t)rnd(g, 200000) : 0);
    g->clock_steps_back += mt->enq < g->now;
    struct folio_event ev = {.type = FOLIO_EV_TASK_REGISTERED};
    ev.u.task_registered.task_uid = uid;
    ev.u.task_registered.kind = folio_str_c(folio_task_kind_name(c.kind));
    ev.u.task_registered.index_uids = (struct folio_str_array){names, mt->nidx};
    ev.u.task_registered.enqueued_at_ns = mt->enq;
    ev.u.task_registered.content = (struct folio_object){content, (uint32_t)content_len};
    emit(g, &ev);
    folio_free(content);
    g->next_task = uid + 1;
}

/* ---- actions: batches and progress ------------------------------------------ */

static uint32_t
collect(struct gen *g, uint8_t status, uint32_t *out)
{
    uint32_t n = 0;
    for (uint32_t u = 0; u < g->next_task; u++)
        if (g->t[u].exists && g->t[u].status == status)
            out[n++] = u;
    return n;
}

static void
act_batch(struct gen *g)
{
    static uint32_t list[MAXT];
    uint32_t n = collect(g, FOLIO_STATUS_ENQUEUED, list);
    uint32_t bid = g->next_batch + (rnd(g, 25) == 0 ? 1 : 0);
    if (n == 0 || bid >= MAXB)
        return;
    uint32_t k = 1 + (uint32_t)rnd(g, 4);
    if (k > n)
        k = n;
    uint64_t uids[4];
    for (uint32_t i = 0; i < k; i++) {
        uint32_t at = i + (uint32_t)rnd(g, n - i);
        uint32_t tmp = list[i];
        list[i] = list[at];
        list[at] = tmp;
        uids[i] = list[i];
    }
    tick(g);
    struct mbatch *b = &g->b[bid];
    memset(b, 0, sizeof(*b));
    b->exists = true;
    b->started = g->now;
    b->enq_first = INT64_MAX;
    b->enq_last = INT64_MIN;
    for (uint32_t i = 0; i < k; i++) {
        struct mtask *t = &g->t[uids[i]];
        t->status = FOLIO_STATUS_PROCESSING;
        t->batch = bid;
        t->started = true;
        t->start = g->now;
        b->enq_first = t->enq < b->enq_first ? t->enq : b->enq_first;
        b->enq_last = t->enq > b->enq_last ? t->enq : b->enq_last;
        mbatch_count(b, t, +1);
        b->status_counts[FOLIO_STATUS_PROCESSING]++;
        b->processing++;
        b->living++;
    }
    struct folio_event ev = {.type = FOLIO_EV_BATCH_STARTED};
    ev.u.batch_started.batch_uid = bid;
    ev.u.batch_started.task_uids = (struct folio_u64_array){uids, k};
    ev.u.batch_started.reason = folio_str_c(k > 1 ? "batched all enqueued tasks" : "unspecified");
    emit(g, &ev);
    g->next_batch = bid + 1;
}

static void
act_progress(struct gen *g)
{
    static const char *const steps[] = {"processing tasks", "processing tasks > indexing",
                                        "processing tasks > indexing > document",
                                        "writing tasks to disk"};
    uint32_t open[64], n = 0;
    for (uint32_t u = 0; u < g->next_batch && n < 64; u++)
        if (g->b[u].exists && !g->b[u].finished)
            open[n++] = u;
    if (n == 0)
        return;
    tick(g);
    struct folio_event ev = {.type = FOLIO_EV_PROGRESS};
    ev.u.progress.batch_uid = open[rnd(g, n)];
    ev.u.progress.step = folio_str_c(steps[rnd(g, 4)]);
    ev.u.progress.step_total = 1 + (uint32_t)rnd(g, 10);
    ev.u.progress.step_index = (uint32_t)rnd(g, ev.u.progress.step_total + 1);
    emit(g, &ev);
}

/* ---- actions: outcomes ---------------------------------------------------- */

static void
emit_outcome(struct gen *g, uint32_t uid, enum folio_event_type type, uint32_t batch, uint32_t by,
             const struct folio_task_details *det)
{
    static const uint8_t status_of[] = {[FOLIO_EV_TASK_SUCCEEDED] = FOLIO_STATUS_SUCCEEDED,
                                        [FOLIO_EV_TASK_FAILED] = FOLIO_STATUS_FAILED,
                                        [FOLIO_EV_TASK_CANCELED] = FOLIO_STATUS_CANCELED};
    uint8_t *details = NULL, *err = NULL;
    size_t dlen = 0, elen = 0;
    tick(g);
    struct folio_event ev = {.type = type};
    ev.u.task_outcome.task_uid = uid;
    ev.u.task_outcome.batch_uid = batch;
    ev.u.task_outcome.finished_at_ns = g->now;
    if (det != NULL)
        assert_int_equal(folio_task_details_encode(g->t[uid].kind, det, &details, &dlen), 0);
    ev.u.task_outcome.details = (struct folio_object){details, (uint32_t)dlen};
    if (type == FOLIO_EV_TASK_FAILED) {
        struct folio_task_error e = {folio_str_c("Index `idx0` not found."),
                                     folio_str_c("index_not_found"), folio_str_c("invalid_request"),
                                     folio_str_c("")};
        assert_int_equal(folio_task_error_encode(&e, &err, &elen), 0);
    }
    ev.u.task_outcome.error = (struct folio_object){err, (uint32_t)elen};
    ev.u.task_outcome.canceled_by = type == FOLIO_EV_TASK_CANCELED ? by : 0;
    model_finish(g, uid, status_of[type], batch, type == FOLIO_EV_TASK_CANCELED ? by : NONE);
    emit(g, &ev);
    folio_free(details);
    folio_free(err);
}

static void
emit_index(struct gen *g, enum folio_event_type type, uint8_t p, const char *uuid, uint32_t task,
           bool pk)
{
    tick(g);
    struct folio_event ev = {.type = type};
    ev.u.index_change.index_uid = pool_str(p);
    ev.u.index_change.index_uuid = folio_str_c(uuid);
    ev.u.index_change.primary_key = folio_str_c(pk ? "id" : "");
    ev.u.index_change.task_uid = task;
    ev.u.index_change.changed_at_ns = g->now;
    emit(g, &ev);
}

static void
model_create(struct gen *g, uint8_t p, uint32_t task)
{
    g->ix[p].exists = true;
    new_uuid(g, g->ix[p].uuid);
    emit_index(g, FOLIO_EV_INDEX_CREATED, p, g->ix[p].uuid, task, rnd(g, 2));
}

/* Can task `uid` swap its pairs? Each pair needs one existing side, and no older task of them may be running. */
static bool
swap_allowed(struct gen *g, uint32_t uid)
{
    const struct mtask *s = &g->t[uid];
    for (int i = 0; i < s->nidx; i += 2)
        if (!g->ix[s->idx[i]].exists && !g->ix[s->idx[i + 1]].exists)
            return false;
    for (uint32_t u = 0; u < uid; u++) {
        const struct mtask *t = &g->t[u];
        if (!t->exists || t->status != FOLIO_STATUS_PROCESSING)
            continue;
        for (int a = 0; a < t->nidx; a++)
            for (int k = 0; k < s->nidx; k++)
                if (t->idx[a] == s->idx[k])
                    return false;
    }
    return true;
}

static void
do_swap(struct gen *g, uint32_t uid)
{
    const struct mtask *s = &g->t[uid];
    struct folio_str names[4];
    for (int i = 0; i < s->nidx; i++)
        names[i] = pool_str(s->idx[i]);
    tick(g);
    struct folio_event ev = {.type = FOLIO_EV_INDEXES_SWAPPED};
    ev.u.indexes_swapped.index_uids = (struct folio_str_array){names, s->nidx};
    ev.u.indexes_swapped.task_uid = uid;
    for (int i = 0; i < s->nidx; i += 2) {
        uint8_t a = s->idx[i], b = s->idx[i + 1];
        struct mindex tmp = g->ix[a];
        g->ix[a] = g->ix[b];
        g->ix[b] = tmp;
        for (uint32_t u = 0; u < uid; u++) {
            struct mtask *t = &g->t[u];
            for (int k = 0; t->exists && k < t->nidx; k++)
                t->idx[k] = t->idx[k] == a ? b : t->idx[k] == b ? a : t->idx[k];
        }
    }
    emit(g, &ev);
}

static void
details_swaps(const struct mtask *t, struct folio_task_details *d, struct folio_task_swap *sw)
{
    for (int i = 0; i + 1 < t->nidx; i += 2)
        sw[i / 2] = (struct folio_task_swap){{pool_str(t->idx[i]), pool_str(t->idx[i + 1])}, false};
    d->present = 1ull << FOLIO_DETAIL_SWAPS;
    d->swaps = sw;
    d->swap_count = t->nidx / 2;
}

static void
finish_cancelation(struct gen *g, uint32_t uid)
{
    struct mtask *t = &g->t[uid];
    uint32_t canceled = 0;
    for (uint32_t i = 0; i < t->nmatched; i++) {
        uint32_t m = t->matched[i];
        if (g->t[m].exists && g->t[m].status == FOLIO_STATUS_ENQUEUED && rnd(g, 4) != 0) {
            emit_outcome(g, m, FOLIO_EV_TASK_CANCELED, t->batch, uid, NULL);
            canceled++;
        }
    }
    struct folio_task_details d = {0};
    d.present = (1ull << FOLIO_DETAIL_MATCHED_TASKS) | (1ull << FOLIO_DETAIL_CANCELED_TASKS) |
                (1ull << FOLIO_DETAIL_ORIGINAL_FILTER);
    d.matched_tasks = t->nmatched;
    d.canceled_tasks = canceled;
    d.original_filter = folio_str_c("?statuses=*");
    emit_outcome(g, uid, FOLIO_EV_TASK_SUCCEEDED, t->batch, 0, &d);
}

static void
finish_deletion(struct gen *g, uint32_t uid)
{
    struct mtask *t = &g->t[uid];
    uint64_t *gone = folio_calloc(t->nmatched ? t->nmatched : 1, sizeof(*gone));
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->nmatched; i++) {
        struct mtask *m = &g->t[t->matched[i]];
        if (!m->exists || !m->finished)
            continue;
        gone[k++] = t->matched[i];
        struct mbatch *b = &g->b[m->batch];
        if (--b->living == 0)
            b->exists = false;
        m->exists = false;
    }
    tick(g);
    struct folio_event ev = {.type = FOLIO_EV_TASKS_DELETED};
    ev.u.tasks_deleted.task_uid = uid;
    ev.u.tasks_deleted.task_uids = (struct folio_u64_array){gone, k};
    emit(g, &ev);
    folio_free(gone);
    struct folio_task_details d = {0};
    d.present = (1ull << FOLIO_DETAIL_MATCHED_TASKS) | (1ull << FOLIO_DETAIL_DELETED_TASKS) |
                (1ull << FOLIO_DETAIL_ORIGINAL_FILTER);
    d.matched_tasks = t->nmatched;
    d.deleted_tasks = k;
    d.original_filter = folio_str_c("?uids=1,2&types=indexCreation");
    emit_outcome(g, uid, FOLIO_EV_TASK_SUCCEEDED, t->batch, 0, &d);
}

static void
fail_task(struct gen *g, uint32_t uid)
{
    emit_outcome(g, uid, FOLIO_EV_TASK_FAILED, g->t[uid].batch, 0, NULL);
}

static void
succeed(struct gen *g, uint32_t uid, const struct folio_task_details *d)
{
    emit_outcome(g, uid, FOLIO_EV_TASK_SUCCEEDED, g->t[uid].batch, 0, d);
}

static void
finish_index_update(struct gen *g, uint32_t uid)
{
    struct mtask *t = &g->t[uid];
    uint8_t p = t->idx[0];
    struct folio_task_details d = {0};
    d.present = d.null = 1ull << FOLIO_DETAIL_PRIMARY_KEY;
    if (!g->ix[p].exists || (t->nidx == 2 && g->ix[t->idx[1]].exists)) {
        fail_task(g, uid);
        return;
    }
    if (t->nidx == 2) {
        /* a rename: the same index (uuid) under its new uid */
        uint8_t q = t->idx[1];
        emit_index(g, FOLIO_EV_INDEX_DELETED, p, g->ix[p].uuid, uid, false);
        g->ix[q] = g->ix[p];
        g->ix[p].exists = false;
        g->renames++;
        emit_index(g, FOLIO_EV_INDEX_CREATED, q, g->ix[q].uuid, uid, false);
        d.present |= (1ull << FOLIO_DETAIL_OLD_INDEX_UID) | (1ull << FOLIO_DETAIL_NEW_INDEX_UID);
        d.old_index_uid = pool_str(p);
        d.new_index_uid = pool_str(q);
    } else {
        emit_index(g, FOLIO_EV_INDEX_UPDATED, p, g->ix[p].uuid, uid, rnd(g, 2));
    }
    succeed(g, uid, &d);
}

static void
finish_import(struct gen *g, uint32_t uid)
{
    uint8_t p = g->t[uid].idx[0];
    if (g->ix[p].exists) {
        fail_task(g, uid);
        return;
    }
    g->ix[p].exists = true;
    new_uuid(g, g->ix[p].uuid);
    tick(g);
    struct folio_event ev = {.type = FOLIO_EV_INDEX_IMPORTED};
    ev.u.index_imported.index_uid = pool_str(p);
    ev.u.index_imported.index_uuid = folio_str_c(g->ix[p].uuid);
    ev.u.index_imported.task_uid = uid;
    ev.u.index_imported.source_instance_uid = folio_str_c("0d8f6c2e-source");
    ev.u.index_imported.source_seq = rnd(g, 100000);
    ev.u.index_imported.archive_checksum = folio_str_c("00112233445566778899aabbccddeeff");
    emit(g, &ev);
    struct folio_task_details d = {0};
    d.present = (1ull << FOLIO_DETAIL_SNAPSHOT_PATH) | (1ull << FOLIO_DETAIL_IMPORTED_DOCUMENTS);
    d.snapshot_path = folio_str_c("indexes/x/x_1.idx.snapshot");
    d.imported_documents = rnd(g, 1000);
    succeed(g, uid, &d);
}

static void
finish_index_kind(struct gen *g, uint32_t uid)
{
    struct mtask *t = &g->t[uid];
    uint8_t p = t->idx[0];
    struct folio_task_details d = {0};
    struct folio_task_swap sw[2];
    switch (t->kind) {
    case FOLIO_KIND_INDEX_CREATION:
        if (g->ix[p].exists)
            { fail_task(g, uid); return; }
        model_create(g, p, uid);
        d.present = d.null = 1ull << FOLIO_DETAIL_PRIMARY_KEY;
        { succeed(g, uid, &d); return; }
    case FOLIO_KIND_INDEX_DELETION:
        if (!g->ix[p].exists)
            { fail_task(g, uid); return; }
        emit_index(g, FOLIO_EV_INDEX_DELETED, p, g->ix[p].uuid, uid, false);
        g->ix[p].exists = false;
        d.present = 1ull << FOLIO_DETAIL_DELETED_DOCUMENTS;
        d.deleted_documents = rnd(g, 50);
        { succeed(g, uid, &d); return; }
    case FOLIO_KIND_INDEX_UPDATE:
        { finish_index_update(g, uid); return; }
    case FOLIO_KIND_INDEX_SWAP:
        if (!swap_allowed(g, uid))
            { fail_task(g, uid); return; }
        do_swap(g, uid);
        details_swaps(t, &d, sw);
        { succeed(g, uid, &d); return; }
    default:
        { finish_import(g, uid); return; }
    }
}

static uint32_t
newer_canceler(struct gen *g, uint32_t uid)
{
    for (uint32_t u = uid + 1; u < g->next_task; u++)
        if (g->t[u].exists && g->t[u].kind == FOLIO_KIND_TASK_CANCELATION && rnd(g, 2) == 0)
            return u;
    return NONE;
}

static void
act_finish(struct gen *g)
{
    static uint32_t list[MAXT];
    uint32_t n = collect(g, FOLIO_STATUS_PROCESSING, list);
    if (n == 0)
        return;
    uint32_t uid = list[rnd(g, n)];
    struct mtask *t = &g->t[uid];
    uint32_t by = rnd(g, 20) == 0 ? newer_canceler(g, uid) : NONE;
    struct folio_task_details d = {0};
    if (by != NONE)
        { emit_outcome(g, uid, FOLIO_EV_TASK_CANCELED, t->batch, by, NULL); return; }
    switch (t->kind) {
    case FOLIO_KIND_TASK_CANCELATION: { finish_cancelation(g, uid); return; }
    case FOLIO_KIND_TASK_DELETION: { finish_deletion(g, uid); return; }
    case FOLIO_KIND_INDEX_CREATION:
    case FOLIO_KIND_INDEX_DELETION:
    case FOLIO_KIND_INDEX_UPDATE:
    case FOLIO_KIND_INDEX_SWAP:
    case FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT: { finish_index_kind(g, uid); return; }
    case FOLIO_KIND_SNAPSHOT_CREATION: { succeed(g, uid, NULL); return; }
    default: break;
    }
    /* document, settings and single-index snapshot tasks */
    uint8_t p = t->idx[0];
    if (!g->ix[p].exists && t->kind != FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION && rnd(g, 2))
        model_create(g, p, uid); /* implicit index creation */
    if (!g->ix[p].exists || rnd(g, 7) == 0)
        { fail_task(g, uid); return; }
    if (t->kind == FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE) {
        d.present = (1ull << FOLIO_DETAIL_RECEIVED_DOCUMENTS) | (1ull << FOLIO_DETAIL_INDEXED_DOCUMENTS);
        d.received_documents = 5;
        d.indexed_documents = rnd(g, 6);
    } else if (t->kind == FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION) {
        d.present = (1ull << FOLIO_DETAIL_INDEX_UID) | (1ull << FOLIO_DETAIL_SNAPSHOT_PATH);
        d.index_uid = pool_str(p);
        d.snapshot_path = folio_str_c("indexes/idx/idx_20260101.idx.snapshot");
    }
    succeed(g, uid, &d);
}

static void
act_requeue(struct gen *g)
{
    static uint32_t list[MAXT];
    uint32_t n = collect(g, FOLIO_STATUS_PROCESSING, list);
    if (n == 0)
        return;
    uint32_t uid = list[rnd(g, n)];
    struct mtask *t = &g->t[uid];
    struct mbatch *b = &g->b[t->batch];
    tick(g);
    struct folio_event ev = {.type = FOLIO_EV_TASK_REQUEUED};
    ev.u.task_requeued.task_uid = uid;
    ev.u.task_requeued.batch_uid = t->batch;
    ev.u.task_requeued.reason = folio_str_c("processing when the server stopped");
    b->status_counts[FOLIO_STATUS_PROCESSING]--;
    mbatch_count(b, t, -1);
    b->processing--;
    b->living--;
    if (b->living == 0)
        b->exists = false;
    else if (b->processing == 0)
        b->finished = true;
    t->status = FOLIO_STATUS_ENQUEUED;
    t->batch = NONE;
    t->started = false;
    emit(g, &ev);
}

static void
act_misc(struct gen *g)
{
    tick(g);
    struct folio_event ev;
    memset(&ev, 0, sizeof(ev));
    if (rnd(g, 2)) {
        ev.type = FOLIO_EV_SERVER_STARTED;
        ev.u.server_started.instance_uid = folio_str_c("instance-1");
        ev.u.server_started.version = folio_str_c("0.1.0");
        ev.u.server_started.pid = 4242;
    } else {
        ev.type = FOLIO_EV_CHECKPOINT_WRITTEN;
        ev.u.checkpoint_written.checkpoint_seq = g->seq;
        ev.u.checkpoint_written.state_hash = 1;
        ev.u.checkpoint_written.file = folio_str_c("ckpt-00000000000000000001.bin");
    }
    emit(g, &ev);
}

static void
generate(struct gen *g, uint32_t target)
{
    bool half = false, late = false;
    while (g->next_task < target) {
        uint64_t r = rnd(g, 100);
        /* batches take about as many tasks as are registered: the queue wanders */
        if (r < 28)
            act_register(g);
        else if (r < 39)
            act_batch(g);
        else if (r < 45)
            act_progress(g);
        else if (r < 93)
            act_finish(g);
        else if (r < 97)
            act_requeue(g);
        else
            act_misc(g);
        /* at least two checkpoints, whatever the dice say */
        if ((!half && g->next_task >= target / 2) || (!late && g->next_task >= target * 9 / 10)) {
            half = half || g->next_task >= target / 2;
            late = late || g->next_task >= target * 9 / 10;
            flush(g);
            write_checkpoint(g);
        }
    }
    flush(g); /* the last 10% of the history is the tail after the forced checkpoint */
}

static struct gen *
gen_new(uint64_t seed, uint32_t target, const char *tag)
{
    struct gen *g = folio_calloc(1, sizeof(*g));
    g->rng = seed;
    g->dir = tu_mkdtemp(tag);
    g->jdir = tu_path(g->dir, "journal");
    g->cdir = tu_path(g->dir, "checkpoints");
    g->now = 1760000000000000000ll;
    g->group = 1;
    g->live = folio_sched_state_new();
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = 256 * 1024; /* many segments: replay crosses seals */
    o.create = true;
    assert_int_equal(folio_journal_open(g->jdir, &o, &g->j, NULL, NULL), 0);
    generate(g, target);
    folio_journal_close(g->j);
    g->j = NULL;
    return g;
}

static void
gen_free(struct gen *g)
{
    if (g == NULL)
        return;
    for (uint32_t u = 0; u < MAXT; u++)
        folio_free(g->t[u].matched);
    folio_sched_state_free(g->live);
    tu_rmrf(g->dir);
    folio_free(g->dir);
    folio_free(g->jdir);
    folio_free(g->cdir);
    folio_free(g);
}

/* ---- the live state against the model --------------------------------------- */

static void
compare_task(const struct gen *g, uint32_t uid)
{
    const struct mtask *m = &g->t[uid];
    struct folio_task_view v;
    int rc = folio_sched_task_get(g->live, uid, &v);
    if (!m->exists) {
        assert_int_equal(rc, FOLIO_E_NOT_FOUND);
        return;
    }
    assert_int_equal(rc, 0);
    if (v.status != m->status || v.kind != m->kind || v.batch_uid != m->batch ||
        v.canceled_by != m->canceled_by || v.enqueued_at_ns != m->enq || v.started != m->started ||
        (m->started && v.started_at_ns != m->start) || v.finished != m->finished ||
        (m->finished && v.finished_at_ns != m->fin) || v.index_count != m->nidx) {
        fprintf(stderr, "task %u: state %s batch %u by %u, model %s batch %u by %u\n", uid,
                folio_task_status_name(v.status), v.batch_uid, v.canceled_by,
                folio_task_status_name(m->status), m->batch, m->canceled_by);
        fail();
    }
    for (int i = 0; i < m->nidx; i++)
        assert_string_equal(v.index_uids[i].ptr, POOL_NAMES[m->idx[i]]);
    assert_int_equal(v.error.len > 0, m->status == FOLIO_STATUS_FAILED);
}

static void
compare_batch(const struct gen *g, uint32_t bid)
{
    const struct mbatch *m = &g->b[bid];
    struct folio_batch_view v;
    int rc = folio_sched_batch_get(g->live, bid, &v);
    if (!m->exists) {
        assert_int_equal(rc, FOLIO_E_NOT_FOUND);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(v.finished, m->finished);
    assert_int_equal(v.started_at_ns, m->started);
    if (m->finished)
        assert_int_equal(v.finished_at_ns, m->fin);
    else
        assert_true(v.step_count <= FOLIO_SCHED_STEPS_MAX);
    assert_int_equal(v.enqueued_first_ns, m->enq_first);
    assert_int_equal(v.enqueued_last_ns, m->enq_last);
    assert_int_equal(v.task_count, (uint32_t)m->living);
    assert_int_equal(v.total_tasks, m->total);
    assert_memory_equal(v.status_counts, m->status_counts, sizeof(m->status_counts));
    assert_memory_equal(v.kind_counts, m->kind_counts, sizeof(m->kind_counts));
    uint32_t k = 0;
    for (int p = 0; p < POOL; p++) {
        if (m->idx_counts[p] == 0)
            continue;
        assert_true(k < v.index_count);
        assert_string_equal(v.index_counts[k].index_uid.ptr, POOL_NAMES[p]);
        assert_int_equal(v.index_counts[k].count, m->idx_counts[p]);
        k++;
    }
    assert_int_equal(k, v.index_count);
}

static void
compare_model(const struct gen *g)
{
    assert_int_equal(folio_sched_state_last_seq(g->live), g->seq);
    assert_int_equal(folio_sched_state_next_task_uid(g->live), g->next_task);
    assert_int_equal(folio_sched_state_next_batch_uid(g->live), g->next_batch);
    for (uint32_t u = 0; u < g->next_task; u++)
        compare_task(g, u);
    for (uint32_t b = 0; b < g->next_batch; b++)
        compare_batch(g, b);
    for (uint8_t p = 0; p < POOL; p++) {
        struct folio_index_view v;
        int rc = folio_sched_index_get(g->live, POOL_NAMES[p], 4, &v);
        assert_int_equal(rc == 0, g->ix[p].exists);
        if (rc == 0)
            assert_string_equal(v.uuid.ptr, g->ix[p].uuid);
    }
}

static void
check_replays(const struct gen *g)
{
    struct folio_sched_state *full = NULL, *fast = NULL;
    struct folio_sched_replay_info info;
    struct folio_sched_diag d;
    int rc = folio_sched_state_replay(g->jdir, NULL, &full, &info, &d);
    if (rc != 0)
        fprintf(stderr, "full replay: %s: %s\n", folio_err_name(rc), d.reason);
    assert_int_equal(rc, 0);
    assert_int_equal(info.checkpoint_seq, 0);
    assert_int_equal(info.events_applied, g->seq);
    check_equal(g->live, full, "full replay vs live");
    assert_int_not_equal(folio_sched_state_frame_hash(full), 0);

    uint64_t newest = 0;
    for (int i = 0; i < g->nckpt && i < 256; i++)
        newest = g->ckpt_seqs[i] > newest ? g->ckpt_seqs[i] : newest;
    rc = folio_sched_state_replay(g->jdir, g->cdir, &fast, &info, &d);
    if (rc != 0)
        fprintf(stderr, "checkpoint replay: %s: %s %s\n", folio_err_name(rc), d.file, d.reason);
    assert_int_equal(rc, 0);
    assert_int_equal(info.checkpoint_seq, newest);
    assert_int_equal(info.checkpoints_skipped, 0);
    assert_int_equal(info.events_applied, g->seq - newest);
    check_equal(g->live, fast, "checkpoint + tail vs live");
    check_equal(full, fast, "checkpoint + tail vs full replay");
    folio_sched_state_free(full);
    folio_sched_state_free(fast);
}

/* ---- queries against a brute-force oracle ------------------------------------ */

struct rq {
    struct folio_sched_query q;
    uint32_t uids[6], buids[6], cby[4];
    struct folio_str names[3];
};

static bool
in_list(const uint32_t *v, uint32_t n, uint32_t x)
{
    for (uint32_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static bool
name_listed(const struct folio_sched_query *q, uint8_t p)
{
    for (uint32_t i = 0; i < q->index_uid_count; i++)
        if (strcmp(q->index_uids[i].ptr, POOL_NAMES[p]) == 0)
            return true;
    return false;
}

static bool
in_range(bool set, int64_t t, const struct folio_sched_time_bound *after,
         const struct folio_sched_time_bound *before)
{
    if (!after->set && !before->set)
        return true;
    return set && (!after->set || t > after->ns) && (!before->set || t < before->ns);
}

static int64_t
random_time(struct gen *g)
{
    const struct mtask *t = &g->t[rnd(g, g->next_task)];
    int64_t v = t->enq;
    uint64_t which = rnd(g, 3);
    if (which == 1 && t->started)
        v = t->start;
    if (which == 2 && t->finished)
        v = t->fin;
    return v + (int64_t)rnd(g, 3) - 1;
}

static void
random_bounds(struct gen *g, struct folio_sched_query *q)
{
    struct folio_sched_time_bound *b[6] = {&q->before_enqueued_at, &q->after_enqueued_at,
                                           &q->before_started_at,  &q->after_started_at,
                                           &q->before_finished_at, &q->after_finished_at};
    for (int i = 0; i < 6; i++)
        if (rnd(g, 7) == 0)
            *b[i] = (struct folio_sched_time_bound){true, random_time(g)};
}

static void
random_query(struct gen *g, struct rq *x)
{
    static const uint32_t limits[] = {0, 1, 2, 5, 20, 100, 10000};
    memset(x, 0, sizeof(*x));
    struct folio_sched_query *q = &x->q;
    if (rnd(g, 4) == 0) {
        q->uid_count = 1 + (uint32_t)rnd(g, 6);
        for (uint32_t i = 0; i < q->uid_count; i++)
            x->uids[i] = (uint32_t)rnd(g, g->next_task + 3);
        q->uids = x->uids;
        q->uids_set = true;
    }
    if (rnd(g, 5) == 0) {
        q->batch_uid_count = (uint32_t)rnd(g, 6); /* 0: an explicit empty list */
        for (uint32_t i = 0; i < q->batch_uid_count; i++)
            x->buids[i] = (uint32_t)rnd(g, g->next_batch + 3);
        q->batch_uids = x->buids;
        q->batch_uids_set = true;
    }
    if (rnd(g, 5) == 0) {
        q->canceled_by_count = 1 + (uint32_t)rnd(g, 3);
        for (uint32_t i = 0; i < q->canceled_by_count; i++) {
            uint32_t u = (uint32_t)rnd(g, g->next_task);
            uint32_t c = newer_canceler(g, u);
            x->cby[i] = c != NONE ? c : u;
        }
        q->canceled_by = x->cby;
        q->canceled_by_set = true;
    }
    if (rnd(g, 3) == 0)
        q->statuses = 1 + (uint32_t)rnd(g, (1u << FOLIO_STATUS_COUNT) - 1);
    if (rnd(g, 3) == 0)
        q->kinds = 1 + (uint32_t)rnd(g, (1u << FOLIO_KIND_COUNT) - 1);
    if (rnd(g, 4) == 0) {
        q->index_uid_count = 1 + (uint32_t)rnd(g, 3);
        for (uint32_t i = 0; i < q->index_uid_count; i++)
            x->names[i] = rnd(g, 8) == 0 ? folio_str_c("nope") : pool_str((uint8_t)rnd(g, POOL));
        q->index_uids = x->names;
        q->index_uids_set = true;
    }
    random_bounds(g, q);
    q->limit_set = rnd(g, 3) != 0;
    q->limit = limits[rnd(g, FOLIO_ARRAY_LEN(limits))];
    q->from_set = rnd(g, 3) == 0;
    q->from = (uint32_t)rnd(g, g->next_task + 2);
    q->reverse = rnd(g, 3) == 0;
}

static bool
task_matches(const struct gen *g, uint32_t u, const struct folio_sched_query *q)
{
    const struct mtask *t = &g->t[u];
    if (!t->exists)
        return false;
    if (q->uids_set && !in_list(q->uids, q->uid_count, u))
        return false;
    if (q->batch_uids_set && (t->batch == NONE || !in_list(q->batch_uids, q->batch_uid_count, t->batch)))
        return false;
    if (q->canceled_by_set && (t->canceled_by == NONE ||
                               !in_list(q->canceled_by, q->canceled_by_count, t->canceled_by)))
        return false;
    if (q->statuses && !((q->statuses >> t->status) & 1))
        return false;
    if (q->kinds && !((q->kinds >> t->kind) & 1))
        return false;
    if (q->index_uids_set) {
        bool hit = false;
        for (int i = 0; i < t->nidx; i++)
            hit = hit || name_listed(q, t->idx[i]);
        if (!hit || !folio_task_kind_one_index((enum folio_task_kind)t->kind))
            return false;
    }
    return in_range(true, t->enq, &q->after_enqueued_at, &q->before_enqueued_at) &&
           in_range(t->started, t->start, &q->after_started_at, &q->before_started_at) &&
           in_range(t->finished, t->fin, &q->after_finished_at, &q->before_finished_at);
}

/* Batches holding a listed task (uids) or a task canceled by a listed canceler: one pass. */
static void
batches_with_tasks(const struct gen *g, const struct folio_sched_query *q, bool *by_uid,
                   bool *by_canceler)
{
    memset(by_uid, 0, MAXB * sizeof(bool));
    memset(by_canceler, 0, MAXB * sizeof(bool));
    for (uint32_t u = 0; u < g->next_task; u++) {
        const struct mtask *t = &g->t[u];
        if (!t->exists || t->batch == NONE)
            continue;
        if (q->uids_set && in_list(q->uids, q->uid_count, u))
            by_uid[t->batch] = true;
        if (q->canceled_by_set && t->canceled_by != NONE &&
            in_list(q->canceled_by, q->canceled_by_count, t->canceled_by))
            by_canceler[t->batch] = true;
    }
}

static bool by_uid_hit[MAXB], by_canceler_hit[MAXB];

static bool
batch_matches(const struct gen *g, uint32_t bid, const struct folio_sched_query *q)
{
    const struct mbatch *b = &g->b[bid];
    if (!b->exists)
        return false;
    if (q->uids_set && !by_uid_hit[bid])
        return false;
    if (q->batch_uids_set && !in_list(q->batch_uids, q->batch_uid_count, bid))
        return false;
    if (q->canceled_by_set && !by_canceler_hit[bid])
        return false;
    bool hit = q->statuses == 0;
    for (int s = 0; s < FOLIO_STATUS_COUNT; s++)
        hit = hit || (((q->statuses >> s) & 1) && b->status_counts[s] > 0);
    if (!hit)
        return false;
    hit = q->kinds == 0;
    for (int k = 0; k < FOLIO_KIND_COUNT; k++)
        hit = hit || (((q->kinds >> k) & 1) && b->kind_counts[k] > 0);
    if (!hit)
        return false;
    hit = !q->index_uids_set;
    for (uint8_t p = 0; p < POOL; p++)
        hit = hit || (b->idx_counts[p] > 0 && name_listed(q, p));
    if (!hit)
        return false;
    return in_range(true, b->enq_first, &q->after_enqueued_at, &q->before_enqueued_at) &&
           in_range(true, b->started, &q->after_started_at, &q->before_started_at) &&
           in_range(b->finished, b->fin, &q->after_finished_at, &q->before_finished_at);
}

/* The page Meilisearch would answer, from the full ascending match list. */
static void
oracle_page(const uint32_t *all, uint32_t n, const struct folio_sched_query *q,
            struct folio_sched_page *p)
{
    memset(p, 0, sizeof(*p));
    p->total = n;
    p->limit = q->limit_set ? q->limit : 20;
    if (p->limit > FOLIO_SCHED_LIMIT_MAX)
        p->limit = FOLIO_SCHED_LIMIT_MAX;
    p->uids = folio_malloc(((size_t)n + 1) * sizeof(uint32_t));
    uint32_t got = 0;
    for (uint32_t i = 0; i < n && got < p->limit + 1; i++) {
        uint32_t u = q->reverse ? all[i] : all[n - 1 - i];
        if (q->from_set && (q->reverse ? u < q->from : u > q->from))
            continue;
        p->uids[got++] = u;
    }
    if (got == p->limit + 1) {
        p->has_next = true;
        p->next = p->uids[--got];
    }
    p->count = got;
    p->has_from = got > 0;
    p->from = got > 0 ? p->uids[0] : 0;
}

static void
compare_pages(const struct folio_sched_page *got, const struct folio_sched_page *want, int i,
              const char *what)
{
    bool same = got->total == want->total && got->count == want->count &&
                got->limit == want->limit && got->has_next == want->has_next &&
                (!want->has_next || got->next == want->next) && got->has_from == want->has_from &&
                (!want->has_from || got->from == want->from);
    for (uint32_t k = 0; same && k < want->count; k++)
        same = got->uids[k] == want->uids[k];
    if (!same) {
        fprintf(stderr, "%s query %d: total %" PRIu64 "/%" PRIu64 " count %u/%u next %d:%u/%d:%u\n",
                what, i, got->total, want->total, got->count, want->count, got->has_next, got->next,
                want->has_next, want->next);
        fail();
    }
}

static void
run_queries(struct gen *g, int tasks, int batches)
{
    static uint32_t all[MAXT];
    struct rq x;
    for (int i = 0; i < tasks + batches; i++) {
        random_query(g, &x);
        bool is_task = i < tasks;
        uint32_t n = 0, limit = is_task ? g->next_task : g->next_batch;
        if (!is_task)
            batches_with_tasks(g, &x.q, by_uid_hit, by_canceler_hit);
        for (uint32_t u = 0; u < limit; u++)
            if (is_task ? task_matches(g, u, &x.q) : batch_matches(g, u, &x.q))
                all[n++] = u;
        struct folio_sched_page got, want;
        if (is_task)
            assert_int_equal(folio_sched_query_tasks(g->live, &x.q, &got), 0);
        else
            assert_int_equal(folio_sched_query_batches(g->live, &x.q, &got), 0);
        oracle_page(all, n, &x.q, &want);
        compare_pages(&got, &want, i, is_task ? "task" : "batch");
        folio_sched_page_clear(&got);
        folio_sched_page_clear(&want);
        if (is_task) {
            uint32_t *m;
            size_t mn;
            assert_int_equal(folio_sched_match_tasks(g->live, &x.q, &m, &mn), 0);
            assert_int_equal(mn, n);
            if (n > 0)
                assert_memory_equal(m, all, n * sizeof(uint32_t));
            folio_free(m);
        }
    }
}

/* ---- checkpoint files -------------------------------------------------------- */

/* Seqs of the ckpt-*.bin files in dir, newest first; asserts no .tmp is left. */
static int
list_bins(const char *dir, uint64_t *seqs, int max)
{
    char *cmd = NULL, *out = NULL;
    assert_true(asprintf(&cmd, "ls '%s'", dir) > 0);
    assert_int_equal(tu_system(cmd, &out), 0);
    free(cmd);
    int n = 0;
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        unsigned long long seq;
        char ext[8];
        assert_int_equal(sscanf(line, "ckpt-%20llu.%3s", &seq, ext), 2);
        assert_string_equal(ext, "bin");
        assert_true(n < max);
        seqs[n++] = seq;
    }
    free(out);
    for (int i = 0; i < n; i++) /* newest first */
        for (int k = i + 1; k < n; k++)
            if (seqs[k] > seqs[i]) {
                uint64_t t = seqs[i];
                seqs[i] = seqs[k];
                seqs[k] = t;
            }
    return n;
}

static char *
bin_path(const char *dir, uint64_t seq)
{
    char name[64];
    snprintf(name, sizeof(name), "ckpt-%020" PRIu64 ".bin", seq);
    return tu_path(dir, name);
}

/* The checksum as docs/scheduler.md defines it: XXH3-64 of header [0, 56) then the body. */
static uint64_t
doc_checksum(const uint8_t *file, size_t len)
{
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, file, 56);
    XXH3_64bits_update(st, file + 64, len - 64);
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

/* Flips one body byte; with fix, also recomputes the checksum so the file still validates. */
static void
tamper(const char *path, size_t header_off, uint64_t xor_mask, bool body, bool fix)
{
    size_t len;
    uint8_t *f = tu_read_file(path, &len);
    assert_non_null(f);
    assert_true(len > 64);
    if (body)
        f[64 + (len - 64) / 2] ^= 0x20;
    else
        folio_store_le64(f + header_off, folio_load_le64(f + header_off) ^ xor_mask);
    if (fix)
        folio_store_le64(f + 56, doc_checksum(f, len));
    tu_write_file(path, f, len);
    folio_free(f);
}

static char *
copy_checkpoints(const char *tag)
{
    char *dst = tu_path(G->dir, tag);
    tu_copy_tree(G->cdir, dst);
    return dst;
}

static void
expect_replay(const char *cdir, uint64_t ckpt_seq, uint32_t skipped)
{
    struct folio_sched_state *s = NULL;
    struct folio_sched_replay_info info;
    struct folio_sched_diag d;
    int rc = folio_sched_state_replay(G->jdir, cdir, &s, &info, &d);
    if (rc != 0)
        fprintf(stderr, "replay: %s: %s %s\n", folio_err_name(rc), d.file, d.reason);
    assert_int_equal(rc, 0);
    assert_int_equal(info.checkpoint_seq, ckpt_seq);
    assert_int_equal(info.checkpoints_skipped, skipped);
    check_equal(G->live, s, "replay after fallback");
    folio_sched_state_free(s);
}

static void
test_checkpoint_fallback(void **state)
{
    (void)state;
    uint64_t seqs[4];
    char *dir = copy_checkpoints("ck-fallback");
    assert_int_equal(list_bins(dir, seqs, 4), 2);
    char *newest = bin_path(dir, seqs[0]), *older = bin_path(dir, seqs[1]);
    tamper(newest, 0, 0, true, false);
    expect_replay(dir, seqs[1], 1);
    tamper(older, 0, 0, true, false);
    expect_replay(dir, 0, 2);
    /* a newest file cut short, or with a bad magic, is skipped the same way */
    tu_copy_tree(G->cdir, dir);
    assert_int_equal(truncate(newest, tu_file_size(newest) - 10), 0);
    expect_replay(dir, seqs[1], 1);
    tu_copy_tree(G->cdir, dir);
    tamper(newest, 0, 0xff, false, false);
    expect_replay(dir, seqs[1], 1);
    /* a header with an unknown version is skipped too */
    tu_copy_tree(G->cdir, dir);
    tamper(newest, 8, 0x2, false, true);
    expect_replay(dir, seqs[1], 1);
    folio_free(newest);
    folio_free(older);
    tu_rmrf(dir);
    folio_free(dir);
}

static void
expect_corrupt(const char *cdir, const char *jdir, uint64_t seq, const char *reason_has)
{
    struct folio_sched_state *s = NULL;
    struct folio_sched_replay_info info;
    struct folio_sched_diag d;
    memset(&d, 0, sizeof(d));
    int rc = folio_sched_checkpoint_load(cdir, jdir, &s, &info, &d);
    char name[64];
    snprintf(name, sizeof(name), "ckpt-%020" PRIu64 ".bin", seq);
    if (rc != FOLIO_E_CORRUPT || strcmp(d.file, name) != 0 || d.seq != seq ||
        strstr(d.reason, reason_has) == NULL) {
        fprintf(stderr, "load: %s: file %s seq %" PRIu64 ": %s\n", folio_err_name(rc), d.file,
                d.seq, d.reason);
        fail();
    }
    assert_null(s);
    /* replay does not fall back past it either */
    assert_int_equal(folio_sched_state_replay(jdir, cdir, &s, &info, &d), FOLIO_E_CORRUPT);
    assert_null(s);
}

static void
test_checkpoint_disagrees(void **state)
{
    (void)state;
    uint64_t seqs[4];
    char *dir = copy_checkpoints("ck-disagree");
    assert_int_equal(list_bins(dir, seqs, 4), 2);
    char *newest = bin_path(dir, seqs[0]);
    /* valid checksum, wrong frame hash for its seq */
    tamper(newest, 24, 0x1, false, true);
    expect_corrupt(dir, G->jdir, seqs[0], "disagrees with the journal");
    /* valid checksum, body that does not hash to its state hash */
    tu_copy_tree(G->cdir, dir);
    tamper(newest, 0, 0, true, true);
    expect_corrupt(dir, G->jdir, seqs[0], "state hash");
    /* valid checksum and state hash, but the seq in the file name is another */
    tu_copy_tree(G->cdir, dir);
    char *renamed = bin_path(dir, seqs[0] + 1);
    assert_int_equal(rename(newest, renamed), 0);
    expect_corrupt(dir, G->jdir, seqs[0] + 1, "file name");
    folio_free(renamed);

    /* another, shorter history: G's checkpoints name seqs its journal lacks, and the reverse */
    struct gen *small = gen_new(tu_rand(&G->rng), 30, "sched-other");
    tu_copy_tree(G->cdir, dir);
    expect_corrupt(dir, small->jdir, seqs[0], "holds no event");
    uint64_t small_seqs[4];
    assert_int_equal(list_bins(small->cdir, small_seqs, 4), 2);
    expect_corrupt(small->cdir, G->jdir, small_seqs[0], "disagrees with the journal");
    gen_free(small);
    folio_free(newest);
    tu_rmrf(dir);
    folio_free(dir);
}

static void
test_checkpoint_write_faults(void **state)
{
    (void)state;
    uint64_t before[4], after[4];
    char *dir = copy_checkpoints("ck-faults");
    assert_int_equal(list_bins(dir, before, 4), 2);
    static const enum folio_io_op ops[] = {FOLIO_IO_WRITE, FOLIO_IO_FSYNC, FOLIO_IO_RENAME};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(ops); i++) {
        struct folio_io_fault f = {.op = ops[i], .action = FOLIO_IO_ACT_FAIL, .nth = 1, .errnum = 5};
        folio_io_fault_set(&f);
        struct folio_sched_diag d;
        int rc = folio_sched_checkpoint_write(dir, G->jdir, G->live, NULL, 0, &d);
        folio_io_fault_set(NULL);
        assert_int_equal(rc, FOLIO_E_IO);
        /* nothing changed: same two checkpoints, no temporary file, replay uses the newest */
        assert_int_equal(list_bins(dir, after, 4), 2);
        assert_memory_equal(before, after, sizeof(uint64_t) * 2);
        expect_replay(dir, before[0], 0);
    }
    char name[64];
    assert_int_equal(folio_sched_checkpoint_write(dir, G->jdir, G->live, name, sizeof(name), NULL), 0);
    assert_int_equal(list_bins(dir, after, 4), 2);
    assert_int_equal(after[0], G->seq);
    /* the history may have ended with a checkpoint at this very seq: then it was rewritten */
    assert_int_equal(after[1], before[0] == G->seq ? before[1] : before[0]);
    expect_replay(dir, G->seq, 0);
    tu_rmrf(dir);
    folio_free(dir);
}

/* ---- memory of a loaded checkpoint ------------------------------------------------ */

static void
gen_reopen(struct gen *g)
{
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = 256 * 1024;
    assert_int_equal(folio_journal_open(g->jdir, &o, &g->j, NULL, NULL), 0);
}

/* Starts a batch of task uid alone (act_batch for one chosen task). */
static void
batch_one(struct gen *g, uint32_t uid)
{
    uint32_t bid = g->next_batch;
    assert_true(bid < MAXB);
    tick(g);
    struct mtask *t = &g->t[uid];
    struct mbatch *b = &g->b[bid];
    memset(b, 0, sizeof(*b));
    b->exists = true;
    b->started = g->now;
    b->enq_first = b->enq_last = t->enq;
    t->status = FOLIO_STATUS_PROCESSING;
    t->batch = bid;
    t->started = true;
    t->start = g->now;
    mbatch_count(b, t, +1);
    b->status_counts[FOLIO_STATUS_PROCESSING]++;
    b->processing = b->living = 1;
    uint64_t u = uid;
    struct folio_event ev = {.type = FOLIO_EV_BATCH_STARTED};
    ev.u.batch_started.batch_uid = bid;
    ev.u.batch_started.task_uids = (struct folio_u64_array){&u, 1};
    ev.u.batch_started.reason = folio_str_c("unspecified");
    emit(g, &ev);
    g->next_batch = bid + 1;
}

/* Registers a taskDeletion of up to `want` finished tasks, oldest first, and runs it to the end. */
static uint32_t
delete_finished(struct gen *g, uint32_t want)
{
    uint32_t uid = g->next_task, n = 0;
    assert_true(uid < MAXT);
    uint64_t *matched = folio_calloc(MAXT, sizeof(*matched));
    for (uint32_t u = 0; u < uid && n < want; u++)
        if (g->t[u].exists && g->t[u].finished)
            matched[n++] = u;
    struct mtask *mt = &g->t[uid];
    memset(mt, 0, sizeof(*mt));
    struct folio_task_content c = {.kind = FOLIO_KIND_TASK_DELETION};
    c.query = folio_str_c("?statuses=succeeded,failed,canceled");
    c.matched_tasks = (struct folio_u64_array){matched, n};
    uint8_t *content;
    size_t content_len;
    assert_int_equal(folio_task_content_encode(&c, &content, &content_len), 0);
    tick(g);
    mt->exists = true;
    mt->kind = FOLIO_KIND_TASK_DELETION;
    mt->status = FOLIO_STATUS_ENQUEUED;
    mt->batch = mt->canceled_by = NONE;
    mt->enq = g->now;
    mt->nmatched = n;
    mt->matched = folio_calloc(n ? n : 1, sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++)
        mt->matched[i] = (uint32_t)matched[i];
    struct folio_event ev = {.type = FOLIO_EV_TASK_REGISTERED};
    ev.u.task_registered.task_uid = uid;
    ev.u.task_registered.kind = folio_str_c("taskDeletion");
    ev.u.task_registered.enqueued_at_ns = mt->enq;
    ev.u.task_registered.content = (struct folio_object){content, (uint32_t)content_len};
    emit(g, &ev);
    folio_free(content);
    folio_free(matched);
    g->next_task = uid + 1;
    batch_one(g, uid);
    finish_deletion(g, uid);
    flush(g);
    return n;
}

/* Catches s up with g's journal and checks it against the live state. */
static void
catch_up_equal(struct gen *g, struct folio_sched_state *s, const char *what)
{
    struct folio_sched_diag d;
    int rc = folio_sched_state_catch_up(s, g->jdir, &d);
    if (rc != 0)
        fprintf(stderr, "%s: catch up: %s: %s\n", what, folio_err_name(rc), d.reason);
    assert_int_equal(rc, 0);
    check_equal(g->live, s, what);
}

/*
 * A state loaded from a checkpoint keeps that file mapped and its tasks in
 * an arena. When most of those tasks are deleted, the rest move to memory of
 * their own; detach does it on request. Either way the state must stay
 * equal to the live one while it goes on applying events, and ASan watches
 * that nothing still points into what was freed.
 */
static uint32_t
loaded_left(const struct gen *g, const bool *loaded)
{
    uint32_t n = 0;
    for (uint32_t u = 0; u < MAXT; u++)
        n += loaded[u] && g->t[u].exists;
    return n;
}

/* Runs batches and outcomes until no task is enqueued or processing. */
static void
finish_everything(struct gen *g)
{
    static uint32_t list[MAXT];
    for (int i = 0; i < 20000; i++) {
        if (collect(g, FOLIO_STATUS_ENQUEUED, list) == 0 &&
            collect(g, FOLIO_STATUS_PROCESSING, list) == 0)
            return;
        act_batch(g);
        act_finish(g);
    }
    fail_msg("the history did not settle");
}

static void
test_checkpoint_memory_released(void **state)
{
    (void)state;
    static bool loaded[MAXT];
    struct gen *g = gen_new(tu_rand(&G->rng), 400, "sched-release");
    gen_reopen(g);
    flush(g);
    write_checkpoint(g);
    for (uint32_t u = 0; u < MAXT; u++)
        loaded[u] = g->t[u].exists;
    char *path = bin_path(g->cdir, g->seq);
    struct folio_sched_state *kept = NULL, *detached = NULL;
    struct folio_sched_diag d;
    assert_int_equal(folio_sched_checkpoint_read(path, &kept, NULL, &d), 0);
    assert_int_equal(folio_sched_checkpoint_read(path, &detached, NULL, &d), 0);
    folio_sched_checkpoint_detach(detached);
    folio_sched_checkpoint_detach(detached); /* a no-op the second time */
    check_equal(g->live, detached, "detached");
    uint32_t count = loaded_left(g, loaded);
    assert_int_equal(folio_sched_state_task_count(kept), count);

    /* a few loaded tasks deleted: the others stay where they were loaded */
    delete_finished(g, count / 10);
    catch_up_equal(g, kept, "after deleting a tenth of the loaded tasks");
    catch_up_equal(g, detached, "detached, after deleting a tenth");
    /* most of them (the oldest first): the few left move to memory of their own */
    finish_everything(g);
    flush(g);
    uint32_t left = loaded_left(g, loaded), keep = count * 15 / 100;
    assert_true(left > keep && keep > 0);
    delete_finished(g, left - keep);
    left = loaded_left(g, loaded);
    fprintf(stderr, "loaded %u tasks, %u left\n", count, left);
    assert_true(left > 0 && left < count / 4);
    catch_up_equal(g, kept, "after deleting most loaded tasks");
    catch_up_equal(g, detached, "detached, after deleting most");
    for (int i = 0; i < 40; i++) {
        act_register(g);
        act_batch(g);
        act_finish(g);
    }
    finish_everything(g);
    delete_finished(g, MAXT); /* and the rest, moved ones included */
    assert_int_equal(loaded_left(g, loaded), 0);
    catch_up_equal(g, kept, "after deleting all loaded tasks");
    folio_sched_checkpoint_detach(kept); /* nothing left to detach */
    check_equal(g->live, kept, "detach after the move");
    catch_up_equal(g, detached, "detached, at the end");
    folio_sched_state_free(kept);
    folio_sched_state_free(detached);
    folio_journal_close(g->j);
    g->j = NULL;
    folio_free(path);
    gen_free(g);
}

/* ---- the tests ------------------------------------------------------------------ */

static void
test_model_matches_live(void **state)
{
    (void)state;
    compare_model(G);
    uint32_t statuses[FOLIO_STATUS_COUNT] = {0};
    for (uint32_t u = 0; u < G->next_task; u++)
        if (G->t[u].exists)
            statuses[G->t[u].status]++;
    fprintf(stderr, "history: %" PRIu64 " events, %u task uids (%" PRIu64 " living: %u enqueued, "
                    "%u processing, %u succeeded, %u failed, %u canceled), %" PRIu64 " batches, "
                    "%d checkpoints\n",
            G->seq, G->next_task, folio_sched_state_task_count(G->live), statuses[0], statuses[1],
            statuses[2], statuses[3], statuses[4], folio_sched_state_batch_count(G->live), G->nckpt);
    /* the history must have exercised what it claims to */
    for (int e = FOLIO_EV_TASK_REGISTERED; e <= FOLIO_EV_SERVER_STARTED; e++) {
        if (G->ev_count[e] == 0)
            fprintf(stderr, "no %s event in the history\n", folio_event_type_name(e));
        assert_true(G->ev_count[e] > 0);
    }
    fprintf(stderr, "canceled: %u enqueued, %u processing; %u renames, %u uid gaps, %u clock steps back\n",
            G->canceled_enqueued, G->canceled_processing, G->renames, G->uid_gaps,
            G->clock_steps_back);
    assert_true(G->canceled_enqueued > 0);
    assert_true(G->canceled_processing > 0);
    assert_true(G->renames > 0);
    assert_true(G->uid_gaps > 0);
    assert_true(G->clock_steps_back > 0);
    assert_true(G->next_task - folio_sched_state_task_count(G->live) > 20); /* deletions */
}

static void
test_replays_equal_live(void **state)
{
    (void)state;
    check_replays(G);
}

static void
test_queries_match_oracle(void **state)
{
    (void)state;
    run_queries(G, 1500, 700);
}

static void
test_many_small_histories(void **state)
{
    (void)state;
    for (int i = 0; i < 12; i++) {
        struct gen *g = gen_new(tu_rand(&G->rng), 20 + (uint32_t)(i * 7), "sched-small");
        compare_model(g);
        check_replays(g);
        run_queries(g, 60, 30);
        gen_free(g);
    }
}

static int
group_setup(void **state)
{
    (void)state;
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    G = gen_new(tu_seed(), TARGET_TASKS, "sched-replay");
    fprintf(stderr, "generated in %.2f s of CPU\n", (double)clock() / CLOCKS_PER_SEC - t0);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    gen_free(G);
    G = NULL;
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_matches_live),
        cmocka_unit_test(test_replays_equal_live),
        cmocka_unit_test(test_queries_match_oracle),
        cmocka_unit_test(test_checkpoint_fallback),
        cmocka_unit_test(test_checkpoint_disagrees),
        cmocka_unit_test(test_checkpoint_write_faults),
        cmocka_unit_test(test_checkpoint_memory_released),
        cmocka_unit_test(test_many_small_histories),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
