/*
 * Comparing states: the canonical hash, and a field-by-field comparison that
 * names the first difference (for the replay tests and
 * `folio journal replay --verify`).
 *
 * The comparison covers the derived sets too (status, kind, index-uid and
 * canceler bitmaps, the date indexes, each batch's task set), so a set that
 * apply kept out of step with the primary state shows up as a difference
 * between a live state and a replayed one.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "sched_int.h"

static void
hash_sink(void *ctx, const uint8_t *p, size_t n)
{
    XXH3_64bits_update(ctx, p, n);
}

/* Streams the canonical bytes through XXH3: no copy of a large state is built. */
uint64_t
folio_sched_state_hash(const struct folio_sched_state *s)
{
    XXH3_state_t *st = XXH3_createState();
    FOLIO_ASSERT(st != NULL);
    XXH3_64bits_reset(st);
    struct mpw w;
    mpw_init(&w, SIZE_MAX);
    w.sink = hash_sink;
    w.sink_ctx = st;
    int rc = canon_write(s, &w);
    mpw_flush(&w);
    uint64_t h = rc == 0 ? XXH3_64bits_digest(st) : 0;
    mpw_free(&w);
    XXH3_freeState(st);
    return h;
}

struct cmp {
    char *diff;
    size_t len;
};

__attribute__((format(printf, 2, 3))) static bool
differ(struct cmp *c, const char *fmt, ...)
{
    if (c->diff != NULL && c->len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->diff, c->len, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool
blob_eq(const struct blob *a, const struct blob *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
}

static bool
bitmaps_eq(struct cmp *c, const char *what, const roaring_bitmap_t *a, const roaring_bitmap_t *b)
{
    if (roaring_bitmap_equals(a, b))
        return true;
    roaring_bitmap_t *x = roaring_bitmap_xor(a, b);
    uint32_t first = roaring_bitmap_minimum(x);
    bool in_a = roaring_bitmap_contains(a, first);
    roaring_bitmap_free(x);
    return differ(c, "%s: %u is only in the %s state", what, first, in_a ? "first" : "second");
}

static bool
task_eq(struct cmp *c, const struct stask *a, const struct stask *b)
{
    uint32_t u = a->uid;
    if (a->kind != b->kind)
        return differ(c, "task %u: kind %s vs %s", u, folio_task_kind_name(a->kind),
                      folio_task_kind_name(b->kind));
    if (a->status != b->status)
        return differ(c, "task %u: status %s vs %s", u, folio_task_status_name(a->status),
                      folio_task_status_name(b->status));
    if (a->index_count != b->index_count)
        return differ(c, "task %u: %u vs %u index uids", u, a->index_count, b->index_count);
    for (uint32_t i = 0; i < a->index_count; i++)
        if (str_cmp(&a->index_uids[i], &b->index_uids[i]) != 0)
            return differ(c, "task %u: index uid %u is `%s` vs `%s`", u, i, a->index_uids[i].ptr,
                          b->index_uids[i].ptr);
    if (a->batch_uid != b->batch_uid)
        return differ(c, "task %u: batch %u vs %u", u, a->batch_uid, b->batch_uid);
    if (a->canceled_by != b->canceled_by)
        return differ(c, "task %u: canceledBy %u vs %u", u, a->canceled_by, b->canceled_by);
    if (a->enqueued_at_ns != b->enqueued_at_ns)
        return differ(c, "task %u: enqueuedAt differs", u);
    if (a->started != b->started || (a->started && a->started_at_ns != b->started_at_ns))
        return differ(c, "task %u: startedAt differs", u);
    if (a->finished != b->finished || (a->finished && a->finished_at_ns != b->finished_at_ns))
        return differ(c, "task %u: finishedAt differs", u);
    if (!blob_eq(&a->content, &b->content))
        return differ(c, "task %u: content differs", u);
    if (!blob_eq(&a->details, &b->details))
        return differ(c, "task %u: details differ", u);
    if (!blob_eq(&a->error, &b->error))
        return differ(c, "task %u: error differs", u);
    return true;
}

static bool
batch_stats_eq(struct cmp *c, const struct sbatch *a, const struct sbatch *b)
{
    uint32_t u = a->uid;
    if (a->total_tasks != b->total_tasks ||
        memcmp(a->status_counts, b->status_counts, sizeof(a->status_counts)) != 0 ||
        memcmp(a->kind_counts, b->kind_counts, sizeof(a->kind_counts)) != 0)
        return differ(c, "batch %u: task counts differ", u);
    if (a->index_count != b->index_count)
        return differ(c, "batch %u: %u vs %u index uids in stats", u, a->index_count,
                      b->index_count);
    for (uint32_t i = 0; i < a->index_count; i++)
        if (str_cmp(&a->index_counts[i].index_uid, &b->index_counts[i].index_uid) != 0 ||
            a->index_counts[i].count != b->index_counts[i].count)
            return differ(c, "batch %u: index stats differ at `%s`", u,
                          a->index_counts[i].index_uid.ptr);
    return true;
}

static bool
batch_eq(struct cmp *c, const struct sbatch *a, const struct sbatch *b)
{
    uint32_t u = a->uid;
    if (str_cmp(&a->reason, &b->reason) != 0)
        return differ(c, "batch %u: reason differs", u);
    if (a->started_at_ns != b->started_at_ns)
        return differ(c, "batch %u: startedAt differs", u);
    if (a->finished != b->finished || a->has_outcome != b->has_outcome ||
        (a->has_outcome && a->finished_at_ns != b->finished_at_ns))
        return differ(c, "batch %u: finished state or time differs", u);
    if (a->enqueued_first_ns != b->enqueued_first_ns || a->enqueued_last_ns != b->enqueued_last_ns)
        return differ(c, "batch %u: enqueued range differs", u);
    if (a->step_count != b->step_count)
        return differ(c, "batch %u: %u vs %u progress steps", u, a->step_count, b->step_count);
    for (uint32_t i = 0; i < a->step_count; i++)
        if (str_cmp(&a->steps[i].name, &b->steps[i].name) != 0 ||
            a->steps[i].finished != b->steps[i].finished || a->steps[i].total != b->steps[i].total)
            return differ(c, "batch %u: progress step %u differs", u, i);
    if (a->processing != b->processing)
        return differ(c, "batch %u: %u vs %u processing tasks", u, a->processing, b->processing);
    char what[64];
    snprintf(what, sizeof(what), "batch %u tasks", u);
    return bitmaps_eq(c, what, a->tasks, b->tasks) && batch_stats_eq(c, a, b);
}

static bool
index_eq(struct cmp *c, const struct folio_index_view *a, const struct folio_index_view *b)
{
    if (str_cmp(&a->uuid, &b->uuid) != 0 || str_cmp(&a->primary_key, &b->primary_key) != 0 ||
        a->created_at_ns != b->created_at_ns || a->updated_at_ns != b->updated_at_ns ||
        a->imported != b->imported || a->source_seq != b->source_seq ||
        str_cmp(&a->source_instance_uid, &b->source_instance_uid) != 0 ||
        str_cmp(&a->archive_checksum, &b->archive_checksum) != 0)
        return differ(c, "index `%s` differs", a->uid.ptr);
    return true;
}

static bool
tindex_eq(struct cmp *c, const char *what, const struct tindex *a, const struct tindex *b)
{
    if (a->n != b->n)
        return differ(c, "%s date index: %zu vs %zu entries", what, a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].t != b->v[i].t || a->v[i].uid != b->v[i].uid)
            return differ(c, "%s date index differs at entry %zu (uid %u vs %u)", what, i,
                          a->v[i].uid, b->v[i].uid);
    return true;
}

static bool
primary_eq(struct cmp *c, const struct folio_sched_state *a, const struct folio_sched_state *b)
{
    roaring_uint32_iterator_t it;
    if (a->last_seq != b->last_seq)
        return differ(c, "last seq %" PRIu64 " vs %" PRIu64, a->last_seq, b->last_seq);
    if (a->frame_hash != 0 && b->frame_hash != 0 && a->frame_hash != b->frame_hash)
        return differ(c, "frame hash of seq %" PRIu64 " differs", a->last_seq);
    if (a->next_task_uid != b->next_task_uid || a->next_batch_uid != b->next_batch_uid)
        return differ(c, "next uids differ (task %" PRIu64 " vs %" PRIu64 ", batch %" PRIu64
                         " vs %" PRIu64 ")",
                      a->next_task_uid, b->next_task_uid, a->next_batch_uid, b->next_batch_uid);
    if (!bitmaps_eq(c, "task", a->all_tasks, b->all_tasks) ||
        !bitmaps_eq(c, "batch", a->all_batches, b->all_batches))
        return false;
    for (roaring_init_iterator(a->all_tasks, &it); it.has_value; roaring_advance_uint32_iterator(&it))
        if (!task_eq(c, u32map_get(&a->tasks, it.current_value), u32map_get(&b->tasks, it.current_value)))
            return false;
    for (roaring_init_iterator(a->all_batches, &it); it.has_value; roaring_advance_uint32_iterator(&it))
        if (!batch_eq(c, u32map_get(&a->batches, it.current_value),
                      u32map_get(&b->batches, it.current_value)))
            return false;
    if (a->indexes.n != b->indexes.n)
        return differ(c, "%zu vs %zu indexes", a->indexes.n, b->indexes.n);
    for (size_t i = 0; i < a->indexes.cap; i++) {
        const struct sindex *x = a->indexes.slots[i].val;
        if (x == NULL)
            continue;
        const struct sindex *y = strmap_get(&b->indexes, x->v.uid.ptr, x->v.uid.len);
        if (y == NULL)
            return differ(c, "index `%s` is only in the first state", x->v.uid.ptr);
        if (!index_eq(c, &x->v, &y->v))
            return false;
    }
    return true;
}

/* Every non-empty index-uid set of a must be in b with the same members. */
static bool
iuids_covered(struct cmp *c, const struct folio_sched_state *a, const struct folio_sched_state *b,
              const char *side)
{
    for (size_t i = 0; i < a->iuids.cap; i++) {
        const struct iuid *x = a->iuids.slots[i].val;
        if (x == NULL || (roaring_bitmap_is_empty(x->tasks) && roaring_bitmap_is_empty(x->batches)))
            continue;
        const struct iuid *y = iuid_find(b, &x->name);
        if (y == NULL)
            return differ(c, "index uid `%s` has tasks or batches only in the %s state",
                          x->name.ptr, side);
        char what[480];
        snprintf(what, sizeof(what), "index uid `%s` tasks", x->name.ptr);
        if (!bitmaps_eq(c, what, x->tasks, y->tasks))
            return false;
        snprintf(what, sizeof(what), "index uid `%s` batches", x->name.ptr);
        if (!bitmaps_eq(c, what, x->batches, y->batches))
            return false;
    }
    return true;
}

static bool
canceled_eq(struct cmp *c, const struct folio_sched_state *a, const struct folio_sched_state *b)
{
    if (a->canceled.n != b->canceled.n)
        return differ(c, "%zu vs %zu cancelers", a->canceled.n, b->canceled.n);
    for (size_t i = 0; i < a->canceled.cap; i++) {
        const roaring_bitmap_t *x = a->canceled.slots[i].val;
        if (x == NULL)
            continue;
        const roaring_bitmap_t *y = u32map_get(&b->canceled, a->canceled.slots[i].key);
        if (y == NULL)
            return differ(c, "canceler %u only in the first state", a->canceled.slots[i].key);
        if (!bitmaps_eq(c, "canceledBy", x, y))
            return false;
    }
    return true;
}

static bool
derived_eq(struct cmp *c, const struct folio_sched_state *a, const struct folio_sched_state *b)
{
    char what[64];
    for (unsigned i = 0; i < FOLIO_STATUS_COUNT; i++) {
        snprintf(what, sizeof(what), "%s tasks", folio_task_status_name(i));
        if (!bitmaps_eq(c, what, a->task_status[i], b->task_status[i]))
            return false;
        snprintf(what, sizeof(what), "%s batches", folio_task_status_name(i));
        if (!bitmaps_eq(c, what, a->batch_status[i], b->batch_status[i]))
            return false;
    }
    for (unsigned i = 0; i < FOLIO_KIND_COUNT; i++) {
        snprintf(what, sizeof(what), "%s tasks", folio_task_kind_name(i));
        if (!bitmaps_eq(c, what, a->task_kind[i], b->task_kind[i]))
            return false;
        snprintf(what, sizeof(what), "%s batches", folio_task_kind_name(i));
        if (!bitmaps_eq(c, what, a->batch_kind[i], b->batch_kind[i]))
            return false;
    }
    return canceled_eq(c, a, b) && iuids_covered(c, a, b, "first") &&
           iuids_covered(c, b, a, "second") &&
           tindex_eq(c, "task enqueuedAt", &a->t_enqueued, &b->t_enqueued) &&
           tindex_eq(c, "task startedAt", &a->t_started, &b->t_started) &&
           tindex_eq(c, "task finishedAt", &a->t_finished, &b->t_finished) &&
           tindex_eq(c, "batch enqueuedAt", &a->b_enqueued, &b->b_enqueued) &&
           tindex_eq(c, "batch startedAt", &a->b_started, &b->b_started) &&
           tindex_eq(c, "batch finishedAt", &a->b_finished, &b->b_finished);
}

bool
folio_sched_state_equal(const struct folio_sched_state *a, const struct folio_sched_state *b,
                        char *diff, size_t diff_len)
{
    struct cmp c = {diff, diff_len};
    if (diff != NULL && diff_len > 0)
        diff[0] = '\0';
    return primary_eq(&c, a, b) && derived_eq(&c, a, b);
}
