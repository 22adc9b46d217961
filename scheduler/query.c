/*
 * GET /tasks and GET /batches: filters, pagination and ordering with
 * Meilisearch's semantics (reference §2.1-§2.2, §3.1).
 *
 * A query is a chain of bitmap intersections: every filter is turned into a
 * set by a union of the per-status, per-kind, per-index-uid, per-batch or
 * per-canceler bitmaps, or by a range of a sorted date index (built from the
 * smaller side of the range), and intersected with the candidates. No filter
 * looks at every task. Pagination then walks the result from `from`, newest
 * first unless reversed, fetching limit + 1 to know `next`.
 *
 * Semantics kept from Meilisearch: values within a filter are ORed and
 * filters ANDed; an explicit empty list or a canceledBy matching nothing
 * gives nothing; date bounds are strict on both sides; a started-at filter
 * keeps processing tasks by their batch's start; an indexUids filter drops
 * tasks of kinds not bound to exactly one index.
 */
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "sched_int.h"

static roaring_bitmap_t *
union_of(roaring_bitmap_t *const *sets, unsigned count, uint32_t mask)
{
    roaring_bitmap_t *u = roaring_bitmap_create();
    for (unsigned i = 0; i < count; i++)
        if ((mask >> i) & 1)
            roaring_bitmap_or_inplace(u, sets[i]);
    return u;
}

static roaring_bitmap_t *
iuid_union(const struct folio_sched_state *s, const struct folio_sched_query *q, bool batches)
{
    roaring_bitmap_t *u = roaring_bitmap_create();
    for (uint32_t i = 0; i < q->index_uid_count; i++) {
        const struct iuid *x = iuid_find(s, &q->index_uids[i]);
        if (x != NULL)
            roaring_bitmap_or_inplace(u, batches ? x->batches : x->tasks);
    }
    return u;
}

/* The filter sets of a query, intersected smallest first (filter_sets_and). */
struct filter_set {
    roaring_bitmap_t *set;              /* or NULL: the union of members[mask] */
    bool owned;                         /* set is the query's, else the state's (read only) */
    roaring_bitmap_t *const *members;   /* the state's per-status or per-kind sets */
    unsigned member_count;
    uint32_t mask;
    uint64_t card;                      /* for a union, the sum of its members' */
};

struct filter_sets {
    struct filter_set v[12];
    unsigned n;
};

static void
filter_add(struct filter_sets *f, roaring_bitmap_t *set)
{
    FOLIO_ASSERT(f->n < FOLIO_ARRAY_LEN(f->v));
    f->v[f->n++] = (struct filter_set){.set = set, .owned = true,
                                       .card = roaring_bitmap_get_cardinality(set)};
}

/* The union of the masked sets, borrowed: made only if it is the smallest filter. */
static void
filter_add_union(struct filter_sets *f, roaring_bitmap_t *const *sets, unsigned count,
                 uint32_t mask)
{
    FOLIO_ASSERT(f->n < FOLIO_ARRAY_LEN(f->v));
    struct filter_set fs = {.members = sets, .member_count = count, .mask = mask};
    for (unsigned i = 0; i < count; i++)
        if ((mask >> i) & 1)
            fs.card += roaring_bitmap_get_cardinality(sets[i]);
    f->v[f->n++] = fs;
}

static int
card_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct filter_set *)a)->card, y = ((const struct filter_set *)b)->card;
    return (x > y) - (x < y);
}

/* r ∩ fs; a union is intersected member by member, so it is never copied whole. */
static roaring_bitmap_t *
filter_apply(roaring_bitmap_t *r, const struct filter_set *fs)
{
    if (fs->set != NULL) {
        roaring_bitmap_and_inplace(r, fs->set);
        if (fs->owned)
            roaring_bitmap_free(fs->set);
        return r;
    }
    roaring_bitmap_t *acc = roaring_bitmap_create();
    for (unsigned i = 0; i < fs->member_count; i++) {
        if (!((fs->mask >> i) & 1))
            continue;
        roaring_bitmap_t *part = roaring_bitmap_and(r, fs->members[i]);
        roaring_bitmap_or_inplace(acc, part);
        roaring_bitmap_free(part);
    }
    roaring_bitmap_free(r);
    return acc;
}

/*
 * The intersection of the sets and of all (every owned set is freed).
 * Starting from the smallest keeps a query for the few enqueued snapshot
 * tasks among a million from copying the million.
 */
static roaring_bitmap_t *
filter_sets_and(struct filter_sets *f, const roaring_bitmap_t *all)
{
    if (f->n == 0)
        return roaring_bitmap_copy(all);
    qsort(f->v, f->n, sizeof(f->v[0]), card_cmp);
    const struct filter_set *first = &f->v[0];
    roaring_bitmap_t *r;
    if (first->set == NULL)
        r = union_of(first->members, first->member_count, first->mask);
    else
        r = first->owned ? first->set : roaring_bitmap_copy(first->set);
    for (unsigned i = 1; i < f->n; i++)
        r = filter_apply(r, &f->v[i]);
    roaring_bitmap_and_inplace(r, all);
    return r;
}

static bool
query_has_dates(const struct folio_sched_query *q)
{
    return q->after_enqueued_at.set || q->before_enqueued_at.set || q->after_started_at.set ||
           q->before_started_at.set || q->after_finished_at.set || q->before_finished_at.set;
}

/* The three date filters, each against the uids its index holds. */
static void
date_filters(struct filter_sets *f, const struct tindex *ti[3], roaring_bitmap_t *domain[3],
             const struct folio_sched_query *q)
{
    const struct folio_sched_time_bound *after[3] = {&q->after_enqueued_at, &q->after_started_at,
                                                     &q->after_finished_at};
    const struct folio_sched_time_bound *before[3] = {&q->before_enqueued_at, &q->before_started_at,
                                                      &q->before_finished_at};
    for (int i = 0; i < 3; i++)
        if (after[i]->set || before[i]->set)
            filter_add(f, tindex_range(ti[i], after[i], before[i], domain[i]));
}

static roaring_bitmap_t *
task_set(const struct folio_sched_state *s, const struct folio_sched_query *q)
{
    struct filter_sets f = {.n = 0};
    if (q->uids_set)
        filter_add(&f, roaring_bitmap_of_ptr(q->uid_count, q->uids));
    if (q->batch_uids_set) {
        roaring_bitmap_t *u = roaring_bitmap_create();
        for (uint32_t i = 0; i < q->batch_uid_count; i++) {
            const struct sbatch *b = u32map_get(&s->batches, q->batch_uids[i]);
            if (b != NULL)
                roaring_bitmap_or_inplace(u, b->tasks);
        }
        filter_add(&f, u);
    }
    if (q->canceled_by_set) {
        roaring_bitmap_t *u = roaring_bitmap_create();
        for (uint32_t i = 0; i < q->canceled_by_count; i++) {
            const roaring_bitmap_t *x = u32map_get(&s->canceled, q->canceled_by[i]);
            if (x != NULL)
                roaring_bitmap_or_inplace(u, x);
        }
        filter_add(&f, u);
    }
    if (q->statuses != 0)
        filter_add_union(&f, (roaring_bitmap_t *const *)s->task_status, FOLIO_STATUS_COUNT,
                         q->statuses);
    if (q->kinds != 0)
        filter_add_union(&f, (roaring_bitmap_t *const *)s->task_kind, FOLIO_KIND_COUNT,
                         q->kinds);
    if (q->index_uids_set)
        filter_add(&f, iuid_union(s, q, false));
    roaring_bitmap_t *domain[3] = {NULL, NULL, NULL};
    if (query_has_dates(q)) {
        const struct tindex *ti[3] = {&s->t_enqueued, &s->t_started, &s->t_finished};
        domain[0] = s->all_tasks;
        domain[1] = roaring_bitmap_andnot(s->all_tasks, s->task_status[FOLIO_STATUS_ENQUEUED]);
        domain[2] = union_of((roaring_bitmap_t *const *)s->task_status, FOLIO_STATUS_COUNT,
                             (1u << FOLIO_STATUS_SUCCEEDED) | (1u << FOLIO_STATUS_FAILED) |
                                 (1u << FOLIO_STATUS_CANCELED));
        date_filters(&f, ti, domain, q);
    }
    roaring_bitmap_t *r = filter_sets_and(&f, s->all_tasks);
    for (int i = 1; i < 3; i++)
        if (domain[i] != NULL) /* CRoaring 0.2 does not take NULL */
            roaring_bitmap_free(domain[i]);
    if (q->index_uids_set)
        for (unsigned k = 0; k < FOLIO_KIND_COUNT; k++)
            if (!folio_task_kind_one_index((enum folio_task_kind)k))
                roaring_bitmap_andnot_inplace(r, s->task_kind[k]);
    return r;
}

static roaring_bitmap_t *
batch_set(const struct folio_sched_state *s, const struct folio_sched_query *q)
{
    struct filter_sets f = {.n = 0};
    if (q->uids_set) {
        roaring_bitmap_t *u = roaring_bitmap_create();
        for (uint32_t i = 0; i < q->uid_count; i++) {
            const struct stask *t = u32map_get(&s->tasks, q->uids[i]);
            if (t != NULL && t->batch_uid != FOLIO_SCHED_NONE)
                roaring_bitmap_add(u, t->batch_uid);
        }
        filter_add(&f, u);
    }
    if (q->batch_uids_set)
        filter_add(&f, roaring_bitmap_of_ptr(q->batch_uid_count, q->batch_uids));
    if (q->canceled_by_set) {
        roaring_bitmap_t *u = roaring_bitmap_create();
        for (uint32_t i = 0; i < q->canceled_by_count; i++) {
            const roaring_bitmap_t *x = u32map_get(&s->canceled, q->canceled_by[i]);
            roaring_uint32_iterator_t it;
            if (x == NULL)
                continue;
            for (roaring_init_iterator(x, &it); it.has_value; roaring_advance_uint32_iterator(&it))
                roaring_bitmap_add(u, ((const struct stask *)u32map_get(&s->tasks, it.current_value))->batch_uid);
        }
        filter_add(&f, u);
    }
    if (q->statuses != 0)
        filter_add_union(&f, (roaring_bitmap_t *const *)s->batch_status, FOLIO_STATUS_COUNT,
                         q->statuses);
    if (q->kinds != 0)
        filter_add_union(&f, (roaring_bitmap_t *const *)s->batch_kind, FOLIO_KIND_COUNT,
                         q->kinds);
    if (q->index_uids_set)
        filter_add(&f, iuid_union(s, q, true));
    if (query_has_dates(q)) {
        const struct tindex *ti[3] = {&s->b_enqueued, &s->b_started, &s->b_finished};
        roaring_bitmap_t *domain[3] = {s->all_batches, s->all_batches, NULL};
        domain[2] =
            roaring_bitmap_andnot(s->all_batches, s->batch_status[FOLIO_STATUS_PROCESSING]);
        date_filters(&f, ti, domain, q);
        roaring_bitmap_free(domain[2]);
    }
    return filter_sets_and(&f, s->all_batches);
}

void
folio_sched_page_clear(struct folio_sched_page *p)
{
    if (p == NULL)
        return;
    folio_free(p->uids);
    memset(p, 0, sizeof(*p));
}

/* Meilisearch's pagination: limit + 1 from `from`, the extra one becomes `next`. */
static void
paginate(roaring_bitmap_t *r, const struct folio_sched_query *q, struct folio_sched_page *out)
{
    memset(out, 0, sizeof(*out));
    out->total = roaring_bitmap_get_cardinality(r);
    uint32_t limit = q->limit_set ? q->limit : FOLIO_SCHED_LIMIT_DEFAULT;
    if (limit > FOLIO_SCHED_LIMIT_MAX)
        limit = FOLIO_SCHED_LIMIT_MAX;
    out->limit = limit;
    if (q->from_set) {
        if (q->reverse)
            roaring_bitmap_remove_range(r, 0, q->from);
        else
            roaring_bitmap_remove_range(r, (uint64_t)q->from + 1, (uint64_t)UINT32_MAX + 1);
    }
    out->uids = folio_malloc(((size_t)limit + 1) * sizeof(*out->uids));
    uint32_t got = 0;
    roaring_uint32_iterator_t it;
    if (q->reverse)
        roaring_init_iterator(r, &it);
    else
        roaring_init_iterator_last(r, &it);
    while (it.has_value && got < limit + 1) {
        out->uids[got++] = it.current_value;
        if (q->reverse)
            roaring_advance_uint32_iterator(&it);
        else
            roaring_previous_uint32_iterator(&it);
    }
    if (got == limit + 1) {
        out->has_next = true;
        out->next = out->uids[--got];
    }
    out->count = got;
    if (got > 0) {
        out->has_from = true;
        out->from = out->uids[0];
    }
}

int
folio_sched_query_tasks(const struct folio_sched_state *s, const struct folio_sched_query *q,
                        struct folio_sched_page *out)
{
    roaring_bitmap_t *r = task_set(s, q);
    paginate(r, q, out);
    roaring_bitmap_free(r);
    return 0;
}

int
folio_sched_query_batches(const struct folio_sched_state *s, const struct folio_sched_query *q,
                          struct folio_sched_page *out)
{
    roaring_bitmap_t *r = batch_set(s, q);
    paginate(r, q, out);
    roaring_bitmap_free(r);
    return 0;
}

int
folio_sched_match_tasks(const struct folio_sched_state *s, const struct folio_sched_query *q,
                        uint32_t **uids, size_t *count)
{
    roaring_bitmap_t *r = task_set(s, q);
    size_t n = (size_t)roaring_bitmap_get_cardinality(r);
    *uids = folio_malloc((n ? n : 1) * sizeof(**uids));
    roaring_bitmap_to_uint32_array(r, *uids);
    *count = n;
    roaring_bitmap_free(r);
    return 0;
}
