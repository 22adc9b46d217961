/*
 * Applying events to the state: the entry point (folio_sched_state_apply)
 * and the task lifecycle events (task_registered, batch_started, progress,
 * the three outcomes, tasks_deleted, task_requeued). Index events are in
 * state_index.c.
 *
 * Every handler first checks all the rules of docs/scheduler.md ("Applying
 * events") against the current state and only then changes it; changes
 * cannot fail (allocation failure aborts), so an event is applied wholly or
 * not at all. A broken rule is FOLIO_E_CORRUPT with a diag naming the seq:
 * the journal's checksums were valid, so the journal holds a history that
 * cannot have happened.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "sched_int.h"

__attribute__((format(printf, 4, 5))) static int
conflict(struct folio_sched_diag *d, uint64_t seq, const struct folio_event *ev, const char *fmt,
         ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    diag_set(d, seq, "seq %" PRIu64 " (%s): %s", seq, folio_event_type_name(ev->type), msg);
    return FOLIO_E_CORRUPT;
}

#define CONFLICT(...) conflict(d, seq, ev, __VA_ARGS__)

static int
uid_check(struct folio_sched_diag *d, uint64_t seq, const struct folio_event *ev, const char *what,
          uint64_t uid)
{
    if (uid <= FOLIO_SCHED_UID_MAX)
        return 0;
    diag_set(d, seq, "seq %" PRIu64 " (%s): %s %" PRIu64 " is above the largest uid %u", seq,
             folio_event_type_name(ev->type), what, uid, FOLIO_SCHED_UID_MAX);
    return FOLIO_E_TOO_LARGE;
}

static struct stask *
task_find(const struct folio_sched_state *s, uint64_t uid)
{
    return uid > FOLIO_SCHED_UID_MAX ? NULL : u32map_get(&s->tasks, (uint32_t)uid);
}

static struct sbatch *
batch_find(const struct folio_sched_state *s, uint64_t uid)
{
    return uid > FOLIO_SCHED_UID_MAX ? NULL : u32map_get(&s->batches, (uint32_t)uid);
}

static bool
kind_from_wire(struct folio_str name, enum folio_task_kind *out)
{
    for (unsigned k = 0; k < FOLIO_KIND_COUNT; k++) {
        const char *n = folio_task_kind_name((enum folio_task_kind)k);
        if (strlen(n) == name.len && memcmp(n, name.ptr, name.len) == 0) {
            *out = (enum folio_task_kind)k;
            return true;
        }
    }
    return false;
}

/* ---- task_registered ---------------------------------------------------- */

/* The event's index uids must be exactly what its kind and content imply. */
static int
check_registered_indexes(const struct folio_ev_task_registered *e,
                         const struct folio_task_content *c, char *why, size_t why_len)
{
    const struct folio_str_array *iu = &e->index_uids;
    for (uint32_t i = 0; i < iu->count; i++)
        if (!folio_index_uid_valid(iu->items[i].ptr, iu->items[i].len)) {
            snprintf(why, why_len, "index uid `%.64s` is not valid", iu->items[i].ptr);
            return FOLIO_E_CORRUPT;
        }
    struct folio_str first = {NULL, 0};
    if (iu->count > 0 && (folio_task_kind_one_index(c->kind)))
        first = iu->items[0];
    uint32_t cap = iu->count + 2, n = 0;
    struct folio_str *want = folio_calloc(cap, sizeof(*want));
    int rc = folio_task_content_index_uids(c, first, want, cap, &n);
    bool same = rc == 0 && n == iu->count;
    for (uint32_t i = 0; same && i < n; i++)
        same = want[i].len == iu->items[i].len &&
               memcmp(want[i].ptr, iu->items[i].ptr, want[i].len) == 0;
    folio_free(want);
    if (!same) {
        snprintf(why, why_len, "index_uids do not match what a %s task with this content touches",
                 folio_task_kind_name(c->kind));
        return FOLIO_E_CORRUPT;
    }
    return 0;
}

static int
apply_registered(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
                 struct folio_sched_diag *d)
{
    const struct folio_ev_task_registered *e = &ev->u.task_registered;
    enum folio_task_kind kind;
    char why[SCHED_WHY_LEN];
    int rc = uid_check(d, seq, ev, "task uid", e->task_uid);
    if (rc != 0)
        return rc;
    if (e->task_uid < s->next_task_uid)
        return CONFLICT("task uid %" PRIu64 " is not above the last registered one (%" PRIu64 ")",
                        e->task_uid, s->next_task_uid - 1);
    if (s->tasks.n >= FOLIO_SCHED_TASKS_MAX) {
        diag_set(d, seq, "seq %" PRIu64 ": more than %u living tasks", seq, FOLIO_SCHED_TASKS_MAX);
        return FOLIO_E_TOO_LARGE;
    }
    if (!kind_from_wire(e->kind, &kind))
        return CONFLICT("unknown task kind `%.64s`", e->kind.ptr);
    struct folio_task_content c;
    if (content_decode(kind, e->content.ptr, e->content.len, &c, why, sizeof(why)) != 0) {
        folio_task_content_clear(&c);
        return CONFLICT("task %" PRIu64 ": %s", e->task_uid, why);
    }
    rc = check_registered_indexes(e, &c, why, sizeof(why));
    if (rc == 0 && c.matched_tasks.count > 0 &&
        c.matched_tasks.items[c.matched_tasks.count - 1] >= e->task_uid) {
        snprintf(why, sizeof(why), "matchedTasks must be older than the task itself");
        rc = FOLIO_E_CORRUPT;
    }
    folio_task_content_clear(&c);
    if (rc != 0)
        return CONFLICT("task %" PRIu64 ": %s", e->task_uid, why);

    struct stask *t = folio_calloc(1, sizeof(*t));
    t->uid = (uint32_t)e->task_uid;
    t->kind = (uint8_t)kind;
    t->status = FOLIO_STATUS_ENQUEUED;
    t->batch_uid = FOLIO_SCHED_NONE;
    t->canceled_by = FOLIO_SCHED_NONE;
    t->enqueued_at_ns = e->enqueued_at_ns;
    t->index_count = e->index_uids.count;
    t->index_uids = folio_calloc(t->index_count ? t->index_count : 1, sizeof(*t->index_uids));
    if (t->index_count > 0)
        memcpy(t->index_uids, e->index_uids.items, t->index_count * sizeof(*t->index_uids));
    blob_set(&t->content, e->content.ptr, e->content.len);
    task_link(s, t);
    s->next_task_uid = e->task_uid + 1;
    return 0;
}

/* ---- batch_started ------------------------------------------------------ */

static int
apply_batch_started(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
                    struct folio_sched_diag *d)
{
    const struct folio_ev_batch_started *e = &ev->u.batch_started;
    int rc = uid_check(d, seq, ev, "batch uid", e->batch_uid);
    if (rc != 0)
        return rc;
    if (e->batch_uid < s->next_batch_uid)
        return CONFLICT("batch uid %" PRIu64 " is not above the last started one (%" PRIu64 ")",
                        e->batch_uid, s->next_batch_uid - 1);
    if (e->task_uids.count == 0)
        return CONFLICT("batch %" PRIu64 " has no task", e->batch_uid);
    roaring_bitmap_t *set = roaring_bitmap_create();
    for (uint32_t i = 0; i < e->task_uids.count && rc == 0; i++) {
        uint64_t uid = e->task_uids.items[i];
        const struct stask *t = task_find(s, uid);
        if (t == NULL)
            rc = CONFLICT("batch %" PRIu64 " names unknown task %" PRIu64, e->batch_uid, uid);
        else if (t->status != FOLIO_STATUS_ENQUEUED)
            rc = CONFLICT("batch %" PRIu64 " names task %" PRIu64 ", which is %s, not enqueued",
                          e->batch_uid, uid, folio_task_status_name(t->status));
        else if (!roaring_bitmap_add_checked(set, (uint32_t)uid))
            rc = CONFLICT("batch %" PRIu64 " names task %" PRIu64 " twice", e->batch_uid, uid);
    }
    if (rc != 0) {
        roaring_bitmap_free(set);
        return rc;
    }

    struct sbatch *b = batch_new((uint32_t)e->batch_uid);
    roaring_bitmap_free(b->tasks);
    b->tasks = set;
    b->reason = (struct folio_str){str_dup_n(e->reason.ptr, e->reason.len), e->reason.len};
    b->started_at_ns = ev->at_ns;
    b->enqueued_first_ns = INT64_MAX;
    b->enqueued_last_ns = INT64_MIN;
    for (uint32_t i = 0; i < e->task_uids.count; i++) {
        const struct stask *t = task_find(s, e->task_uids.items[i]);
        if (t->enqueued_at_ns < b->enqueued_first_ns)
            b->enqueued_first_ns = t->enqueued_at_ns;
        if (t->enqueued_at_ns > b->enqueued_last_ns)
            b->enqueued_last_ns = t->enqueued_at_ns;
    }
    batch_link(s, b);
    for (uint32_t i = 0; i < e->task_uids.count; i++) {
        struct stask *t = task_find(s, e->task_uids.items[i]);
        task_set_status(s, t, FOLIO_STATUS_PROCESSING);
        t->batch_uid = b->uid;
        t->started = true;
        t->started_at_ns = b->started_at_ns;
        tindex_insert(&s->t_started, t->started_at_ns, t->uid);
        batch_count_task(s, b, t, +1);
        batch_count_status(s, b, FOLIO_STATUS_PROCESSING, +1);
        b->processing++;
    }
    s->next_batch_uid = e->batch_uid + 1;
    return 0;
}

/* ---- progress ----------------------------------------------------------- */

/* Splits "a > b > c" into its components; false if one is empty or too many. */
static bool
split_step(struct folio_str step, struct folio_str *parts, uint32_t *n)
{
    const char *p = step.ptr, *end = step.ptr + step.len;
    *n = 0;
    for (;;) {
        const char *sep = NULL;
        for (const char *q = p; q + 3 <= end; q++)
            if (q[0] == ' ' && q[1] == '>' && q[2] == ' ') {
                sep = q;
                break;
            }
        const char *stop = sep ? sep : end;
        if (stop == p || *n == FOLIO_SCHED_STEPS_MAX)
            return false;
        parts[(*n)++] = (struct folio_str){p, (uint32_t)(stop - p)};
        if (sep == NULL)
            return true;
        p = sep + 3;
    }
}

static int
apply_progress(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
               struct folio_sched_diag *d)
{
    const struct folio_ev_progress *e = &ev->u.progress;
    struct sbatch *b = batch_find(s, e->batch_uid);
    struct folio_str parts[FOLIO_SCHED_STEPS_MAX];
    uint32_t n;
    if (b == NULL)
        return CONFLICT("progress of unknown batch %" PRIu64, e->batch_uid);
    if (b->finished)
        return CONFLICT("progress of batch %" PRIu64 ", which has finished", e->batch_uid);
    if (e->step_index > e->step_total)
        return CONFLICT("step index %u is above its total %u", e->step_index, e->step_total);
    if (!split_step(e->step, parts, &n))
        return CONFLICT("step `%.64s` is not a path of 1..%u non-empty names", e->step.ptr,
                        FOLIO_SCHED_STEPS_MAX);

    /* Outer steps keep their counts while the path still goes through them. */
    struct folio_batch_step next[FOLIO_SCHED_STEPS_MAX];
    bool same_prefix = true;
    for (uint32_t i = 0; i < n; i++) {
        next[i].name = (struct folio_str){str_dup_n(parts[i].ptr, parts[i].len), parts[i].len};
        same_prefix = same_prefix && i < b->step_count && str_cmp(&parts[i], &b->steps[i].name) == 0;
        next[i].finished = same_prefix ? b->steps[i].finished : 0;
        next[i].total = same_prefix ? b->steps[i].total : 0;
    }
    next[n - 1].finished = e->step_index;
    next[n - 1].total = e->step_total;
    steps_clear(b);
    memcpy(steps_slots(b), next, n * sizeof(next[0]));
    b->step_count = n;
    return 0;
}

/* ---- outcomes ----------------------------------------------------------- */

static int
check_outcome_objects(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
                      struct folio_sched_diag *d, const struct stask *t)
{
    const struct folio_ev_task_outcome *e = &ev->u.task_outcome;
    char why[SCHED_WHY_LEN];
    (void)s;
    if (e->details.len > 0 &&
        folio_task_details_check((enum folio_task_kind)t->kind, e->details.ptr, e->details.len,
                                 why, sizeof(why)) != 0)
        return CONFLICT("task %" PRIu64 ": %s", e->task_uid, why);
    if (ev->type == FOLIO_EV_TASK_FAILED &&
        folio_task_error_check(e->error.ptr, e->error.len, why, sizeof(why)) != 0)
        return CONFLICT("task %" PRIu64 ": %s", e->task_uid, why);
    return 0;
}

static int
check_canceled(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
               struct folio_sched_diag *d, const struct stask *t, const struct sbatch *b)
{
    const struct folio_ev_task_outcome *e = &ev->u.task_outcome;
    const struct stask *by = task_find(s, e->canceled_by);
    if (by == NULL || by->kind != FOLIO_KIND_TASK_CANCELATION)
        return CONFLICT("task %" PRIu64 " canceled by %" PRIu64 ", which is not a known taskCancelation",
                        e->task_uid, e->canceled_by);
    if (by->uid <= t->uid)
        return CONFLICT("task %" PRIu64 " canceled by a task that is not newer (%u)", e->task_uid,
                        by->uid);
    if (t->status == FOLIO_STATUS_ENQUEUED && (b == NULL || b->finished))
        return CONFLICT("enqueued task %" PRIu64 " canceled into batch %" PRIu64
                        ", which is not running",
                        e->task_uid, e->batch_uid);
    return 0;
}

static int
check_outcome(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
              struct folio_sched_diag *d, struct stask **tp, struct sbatch **bp)
{
    const struct folio_ev_task_outcome *e = &ev->u.task_outcome;
    struct stask *t = task_find(s, e->task_uid);
    struct sbatch *b = batch_find(s, e->batch_uid);
    if (t == NULL)
        return CONFLICT("outcome for unknown task %" PRIu64, e->task_uid);
    bool processing = t->status == FOLIO_STATUS_PROCESSING;
    if (ev->type == FOLIO_EV_TASK_CANCELED) {
        if (!processing && t->status != FOLIO_STATUS_ENQUEUED)
            return CONFLICT("task %" PRIu64 " is already %s", e->task_uid,
                            folio_task_status_name(t->status));
        int rc = check_canceled(s, seq, ev, d, t, b);
        if (rc != 0)
            return rc;
    } else if (!processing) {
        return CONFLICT("task %" PRIu64 " is %s, not processing", e->task_uid,
                        folio_task_status_name(t->status));
    }
    if (processing && t->batch_uid != e->batch_uid)
        return CONFLICT("task %" PRIu64 " is processing in batch %u, not %" PRIu64, e->task_uid,
                        t->batch_uid, e->batch_uid);
    *tp = t;
    *bp = b;
    return check_outcome_objects(s, seq, ev, d, t);
}

/* An enqueued task canceled by a running cancelation joins that batch. */
static void
join_batch(struct folio_sched_state *s, struct sbatch *b, struct stask *t)
{
    t->batch_uid = b->uid;
    t->started = true;
    t->started_at_ns = b->started_at_ns;
    tindex_insert(&s->t_started, t->started_at_ns, t->uid);
    roaring_bitmap_add(b->tasks, t->uid);
    batch_count_task(s, b, t, +1);
    if (t->enqueued_at_ns < b->enqueued_first_ns) {
        tindex_remove(&s->b_enqueued, b->enqueued_first_ns, b->uid);
        b->enqueued_first_ns = t->enqueued_at_ns;
        tindex_insert(&s->b_enqueued, b->enqueued_first_ns, b->uid);
    }
    if (t->enqueued_at_ns > b->enqueued_last_ns)
        b->enqueued_last_ns = t->enqueued_at_ns;
}

static enum folio_task_status
outcome_status(enum folio_event_type type)
{
    return type == FOLIO_EV_TASK_SUCCEEDED ? FOLIO_STATUS_SUCCEEDED
           : type == FOLIO_EV_TASK_FAILED  ? FOLIO_STATUS_FAILED
                                           : FOLIO_STATUS_CANCELED;
}

static int
apply_outcome(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
              struct folio_sched_diag *d)
{
    const struct folio_ev_task_outcome *e = &ev->u.task_outcome;
    struct stask *t = NULL;
    struct sbatch *b = NULL;
    int rc = check_outcome(s, seq, ev, d, &t, &b);
    if (rc != 0)
        return rc;
    enum folio_task_status st = outcome_status(ev->type);
    if (t->status == FOLIO_STATUS_PROCESSING) {
        batch_count_status(s, b, FOLIO_STATUS_PROCESSING, -1);
        b->processing--;
    } else {
        join_batch(s, b, t);
    }
    batch_count_status(s, b, st, +1);
    task_set_status(s, t, st);
    if (ev->type == FOLIO_EV_TASK_CANCELED)
        task_set_canceled_by(s, t, (uint32_t)e->canceled_by);
    t->finished = true;
    t->finished_at_ns = e->finished_at_ns;
    tindex_insert(&s->t_finished, t->finished_at_ns, t->uid);
    blob_set(&t->details, e->details.ptr, e->details.len);
    blob_set(&t->error, e->error.ptr, e->error.len);
    if (!b->has_outcome || e->finished_at_ns > b->finished_at_ns)
        b->finished_at_ns = e->finished_at_ns;
    b->has_outcome = true;
    if (b->processing == 0)
        batch_set_finished(s, b);
    return 0;
}

/* ---- tasks_deleted ------------------------------------------------------ */

static int
check_deleted(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
              struct folio_sched_diag *d, roaring_bitmap_t *gone)
{
    const struct folio_ev_tasks_deleted *e = &ev->u.tasks_deleted;
    const struct stask *by = task_find(s, e->task_uid);
    if (by == NULL || by->kind != FOLIO_KIND_TASK_DELETION || by->status != FOLIO_STATUS_PROCESSING)
        return CONFLICT("deleting task %" PRIu64 " is not a processing taskDeletion", e->task_uid);
    for (uint32_t i = 0; i < e->task_uids.count; i++) {
        uint64_t uid = e->task_uids.items[i];
        const struct stask *t = task_find(s, uid);
        if (t == NULL)
            return CONFLICT("deletes unknown task %" PRIu64, uid);
        if (!folio_task_status_finished((enum folio_task_status)t->status))
            return CONFLICT("deletes task %" PRIu64 ", which is %s, not finished", uid,
                            folio_task_status_name(t->status));
        if (!roaring_bitmap_add_checked(gone, (uint32_t)uid))
            return CONFLICT("deletes task %" PRIu64 " twice", uid);
    }
    return 0;
}

static int
apply_tasks_deleted(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
                    struct folio_sched_diag *d)
{
    const struct folio_ev_tasks_deleted *e = &ev->u.tasks_deleted;
    roaring_bitmap_t *gone = roaring_bitmap_create();
    int rc = check_deleted(s, seq, ev, d, gone);
    if (rc != 0) {
        roaring_bitmap_free(gone);
        return rc;
    }
    /* Many deletions: one pass over each date index instead of one memmove per task. */
    bool bulk = e->task_uids.count > 32;
    if (bulk) {
        tindex_remove_set(&s->t_enqueued, gone);
        tindex_remove_set(&s->t_started, gone);
        tindex_remove_set(&s->t_finished, gone);
    }
    for (uint32_t i = 0; i < e->task_uids.count; i++) {
        struct stask *t = task_find(s, e->task_uids.items[i]);
        struct sbatch *b = batch_find(s, t->batch_uid);
        FOLIO_ASSERT(b != NULL);
        roaring_bitmap_remove(b->tasks, t->uid);
        if (bulk)
            task_unlink_free_nodates(s, t);
        else
            task_unlink_free(s, t);
        /* A batch without a living task goes too (Meilisearch); its stats went with it. */
        if (roaring_bitmap_is_empty(b->tasks))
            batch_unlink_free(s, b);
    }
    roaring_bitmap_free(gone);
    return 0;
}

/* ---- task_requeued ------------------------------------------------------ */

static int
apply_requeued(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
               struct folio_sched_diag *d)
{
    const struct folio_ev_task_requeued *e = &ev->u.task_requeued;
    struct stask *t = task_find(s, e->task_uid);
    if (t == NULL)
        return CONFLICT("requeues unknown task %" PRIu64, e->task_uid);
    if (t->status != FOLIO_STATUS_PROCESSING || t->batch_uid != e->batch_uid)
        return CONFLICT("requeues task %" PRIu64 ", which is not processing in batch %" PRIu64,
                        e->task_uid, e->batch_uid);
    struct sbatch *b = batch_find(s, t->batch_uid);
    FOLIO_ASSERT(b != NULL);
    roaring_bitmap_remove(b->tasks, t->uid);
    b->processing--;
    batch_count_status(s, b, FOLIO_STATUS_PROCESSING, -1);
    batch_count_task(s, b, t, -1);
    task_set_status(s, t, FOLIO_STATUS_ENQUEUED);
    t->batch_uid = FOLIO_SCHED_NONE;
    tindex_remove(&s->t_started, t->started_at_ns, t->uid);
    t->started = false;
    t->started_at_ns = 0;
    /* A batch left with no task never happened for the API; one whose other tasks all finished is done. */
    if (roaring_bitmap_is_empty(b->tasks))
        batch_unlink_free(s, b);
    else if (b->processing == 0)
        batch_set_finished(s, b);
    return 0;
}

/* ---- entry point -------------------------------------------------------- */

int
apply_task_event(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
                 struct folio_sched_diag *d)
{
    switch (ev->type) {
    case FOLIO_EV_TASK_REGISTERED: return apply_registered(s, seq, ev, d);
    case FOLIO_EV_BATCH_STARTED: return apply_batch_started(s, seq, ev, d);
    case FOLIO_EV_PROGRESS: return apply_progress(s, seq, ev, d);
    case FOLIO_EV_TASK_SUCCEEDED:
    case FOLIO_EV_TASK_FAILED:
    case FOLIO_EV_TASK_CANCELED: return apply_outcome(s, seq, ev, d);
    case FOLIO_EV_TASKS_DELETED: return apply_tasks_deleted(s, seq, ev, d);
    case FOLIO_EV_TASK_REQUEUED: return apply_requeued(s, seq, ev, d);
    default: return CONFLICT("not a task event");
    }
}

int
folio_sched_state_apply(struct folio_sched_state *s, uint64_t seq, uint64_t frame_hash,
                        const struct folio_event *ev, struct folio_sched_diag *d)
{
    int rc = 0;
    if (seq != s->last_seq + 1 || (ev->seq != 0 && ev->seq != seq)) {
        diag_set(d, seq, "seq %" PRIu64 " (%s) does not follow the state's last seq %" PRIu64, seq,
                 folio_event_type_name(ev->type) ? folio_event_type_name(ev->type) : "?",
                 s->last_seq);
        return FOLIO_E_INVALID;
    }
    switch (ev->type) {
    case FOLIO_EV_INDEX_CREATED:
    case FOLIO_EV_INDEX_DELETED:
    case FOLIO_EV_INDEX_UPDATED:
    case FOLIO_EV_INDEXES_SWAPPED:
    case FOLIO_EV_INDEX_IMPORTED:
        rc = apply_index_event(s, seq, ev, d);
        break;
    case FOLIO_EV_CHECKPOINT_WRITTEN:
        if (ev->u.checkpoint_written.checkpoint_seq >= seq)
            rc = CONFLICT("announces a checkpoint at seq %" PRIu64 ", not before it",
                          ev->u.checkpoint_written.checkpoint_seq);
        break;
    case FOLIO_EV_SERVER_STARTED:
    case FOLIO_EV_JOURNAL_RECOVERED:
    case FOLIO_EV_FILES_REMOVED:
        break;
    case FOLIO_EV_NONE:
    case FOLIO_EV_TYPE_COUNT:
        diag_set(d, seq, "seq %" PRIu64 ": event without a valid type", seq);
        rc = FOLIO_E_INVALID;
        break;
    default:
        rc = apply_task_event(s, seq, ev, d);
        break;
    }
    if (rc == 0) {
        s->last_seq = seq;
        s->frame_hash = frame_hash;
    }
    return rc;
}
