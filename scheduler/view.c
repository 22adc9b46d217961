/*
 * Read access to the state: counters, one task, one batch, the index
 * mapping. Views borrow the state's memory; they stay valid until the next
 * change of the state.
 */
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "sched_int.h"

uint64_t
folio_sched_state_last_seq(const struct folio_sched_state *s)
{
    return s->last_seq;
}

uint64_t
folio_sched_state_frame_hash(const struct folio_sched_state *s)
{
    return s->frame_hash;
}

uint64_t
folio_sched_state_next_task_uid(const struct folio_sched_state *s)
{
    return s->next_task_uid;
}

uint64_t
folio_sched_state_next_batch_uid(const struct folio_sched_state *s)
{
    return s->next_batch_uid;
}

uint64_t
folio_sched_state_task_count(const struct folio_sched_state *s)
{
    return s->tasks.n;
}

uint64_t
folio_sched_state_batch_count(const struct folio_sched_state *s)
{
    return s->batches.n;
}

const struct folio_str *
folio_task_view_index_uid(const struct folio_task_view *t)
{
    if (!folio_task_kind_one_index(t->kind) || t->index_count == 0)
        return NULL;
    return &t->index_uids[0];
}

int
folio_sched_task_get(const struct folio_sched_state *s, uint64_t uid, struct folio_task_view *out)
{
    memset(out, 0, sizeof(*out));
    if (uid > FOLIO_SCHED_UID_MAX)
        return FOLIO_E_NOT_FOUND;
    const struct stask *t = u32map_get(&s->tasks, (uint32_t)uid);
    if (t == NULL)
        return FOLIO_E_NOT_FOUND;
    out->uid = t->uid;
    out->kind = (enum folio_task_kind)t->kind;
    out->status = (enum folio_task_status)t->status;
    out->index_uids = t->index_uids;
    out->index_count = t->index_count;
    out->batch_uid = t->batch_uid;
    out->canceled_by = t->canceled_by;
    out->enqueued_at_ns = t->enqueued_at_ns;
    out->started = t->started;
    out->started_at_ns = t->started_at_ns;
    out->finished = t->finished;
    out->finished_at_ns = t->finished_at_ns;
    out->content = (struct folio_object){t->content.ptr, t->content.len};
    out->details = (struct folio_object){t->details.ptr, t->details.len};
    out->error = (struct folio_object){t->error.ptr, t->error.len};
    return 0;
}

int
folio_sched_batch_get(const struct folio_sched_state *s, uint64_t uid,
                      struct folio_batch_view *out)
{
    memset(out, 0, sizeof(*out));
    if (uid > FOLIO_SCHED_UID_MAX)
        return FOLIO_E_NOT_FOUND;
    const struct sbatch *b = u32map_get(&s->batches, (uint32_t)uid);
    if (b == NULL)
        return FOLIO_E_NOT_FOUND;
    out->uid = b->uid;
    out->reason = b->reason;
    out->started_at_ns = b->started_at_ns;
    out->finished = b->finished;
    out->finished_at_ns = b->finished ? b->finished_at_ns : 0;
    out->enqueued_first_ns = b->enqueued_first_ns;
    out->enqueued_last_ns = b->enqueued_last_ns;
    out->task_count = (uint32_t)roaring_bitmap_get_cardinality(b->tasks);
    out->steps = b->steps;
    out->step_count = b->step_count;
    out->total_tasks = b->total_tasks;
    memcpy(out->status_counts, b->status_counts, sizeof(out->status_counts));
    memcpy(out->kind_counts, b->kind_counts, sizeof(out->kind_counts));
    out->index_counts = b->index_counts;
    out->index_count = b->index_count;
    return 0;
}

uint32_t
folio_sched_batch_tasks(const struct folio_sched_state *s, uint64_t batch_uid, uint32_t *out,
                        uint32_t out_max)
{
    if (batch_uid > FOLIO_SCHED_UID_MAX)
        return 0;
    const struct sbatch *b = u32map_get(&s->batches, (uint32_t)batch_uid);
    if (b == NULL)
        return 0;
    roaring_uint32_iterator_t it;
    roaring_init_iterator(b->tasks, &it);
    roaring_read_uint32_iterator(&it, out, out_max);
    return (uint32_t)roaring_bitmap_get_cardinality(b->tasks);
}

double
folio_batch_view_percentage(const struct folio_batch_view *b)
{
    /* Meilisearch: each level divides the one above it into `total` parts. */
    double factor = 1.0, pct = 0.0;
    for (uint32_t i = 0; i < b->step_count; i++) {
        if (b->steps[i].total == 0)
            break;
        factor *= b->steps[i].total;
        pct += b->steps[i].finished / factor;
    }
    return pct * 100.0;
}

int
folio_sched_index_get(const struct folio_sched_state *s, const char *uid, size_t len,
                      struct folio_index_view *out)
{
    memset(out, 0, sizeof(*out));
    const struct sindex *ix = strmap_get(&s->indexes, uid, len);
    if (ix == NULL)
        return FOLIO_E_NOT_FOUND;
    *out = ix->v;
    return 0;
}

static int
index_view_cmp(const void *a, const void *b)
{
    const struct folio_index_view *x = a, *y = b;
    return str_cmp(&x->uid, &y->uid);
}

int
folio_sched_index_list(const struct folio_sched_state *s, struct folio_index_view **out,
                       size_t *count)
{
    struct folio_index_view *v = folio_calloc(s->indexes.n ? s->indexes.n : 1, sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < s->indexes.cap; i++) {
        const struct sindex *ix = s->indexes.slots[i].val;
        if (ix != NULL)
            v[n++] = ix->v;
    }
    qsort(v, n, sizeof(*v), index_view_cmp);
    *out = v;
    *count = n;
    return 0;
}
