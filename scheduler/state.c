/*
 * The scheduler state's memory: creating and freeing it, and the building
 * blocks apply and checkpoint loading share to put a task, a batch or an
 * index into the state and take it out again.
 *
 * Invariant kept here: a living task is in the uid map, in all_tasks, in
 * exactly one status bitmap and one kind bitmap, in the task set of every
 * index uid it touches, in its canceler's set if it has one, in the enqueued
 * date index, and in the started and finished date indexes when it has those
 * times. A batch is in all_batches and in the status, kind and index-uid
 * batch sets for which its stats count is non-zero. Only the functions below
 * change these sets, so they cannot drift apart.
 *
 * A task loaded from a checkpoint lives in the state's arena and borrows its
 * objects from the checkpoint's bytes; loaded_living counts those in the
 * state, and the arena and the bytes go when that count falls low enough
 * (the tasks left move out first).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "folio/common.h"
#include "folio/error.h"
#include "sched_int.h"

void
diag_set(struct folio_sched_diag *d, uint64_t seq, const char *fmt, ...)
{
    if (d == NULL)
        return;
    d->seq = seq;
    d->file[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
    va_end(ap);
}

char *
str_dup_n(const char *p, size_t n)
{
    char *s = folio_malloc(n + 1);
    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

void
blob_set(struct blob *b, const uint8_t *p, size_t len)
{
    if (!b->borrowed)
        folio_free(b->ptr);
    *b = (struct blob){NULL, 0, false};
    if (len == 0)
        return;
    b->ptr = folio_malloc(len);
    memcpy(b->ptr, p, len);
    b->len = (uint32_t)len;
}

void
blob_borrow(struct blob *b, const uint8_t *p, size_t len)
{
    FOLIO_ASSERT(b->ptr == NULL && len <= UINT32_MAX);
    if (len > 0)
        *b = (struct blob){(uint8_t *)p, (uint32_t)len, true};
}

void
blob_free(struct blob *b)
{
    blob_set(b, NULL, 0);
}

static roaring_bitmap_t **
bitmaps_new(roaring_bitmap_t **v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        v[i] = roaring_bitmap_create();
    return v;
}

struct folio_sched_state *
folio_sched_state_new(void)
{
    struct folio_sched_state *s = folio_calloc(1, sizeof(*s));
    s->all_tasks = roaring_bitmap_create();
    s->all_batches = roaring_bitmap_create();
    bitmaps_new(s->task_status, FOLIO_STATUS_COUNT);
    bitmaps_new(s->task_kind, FOLIO_KIND_COUNT);
    bitmaps_new(s->batch_status, FOLIO_STATUS_COUNT);
    bitmaps_new(s->batch_kind, FOLIO_KIND_COUNT);
    return s;
}

static void
bitmaps_free(roaring_bitmap_t **v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        roaring_bitmap_free(v[i]);
}

/* ---- tasks loaded from a checkpoint ------------------------------------ */

/*
 * A state loaded from a checkpoint keeps the file's bytes (its tasks'
 * objects point into them) and an arena with the tasks' structs. When few
 * of those tasks are left (deleted since), or when the owner asks, the rest
 * move to memory of their own and both go, so neither the memory nor the
 * file's disk space outlives the history they held.
 */
void
ckpt_mem_free(struct ckpt_mem *m)
{
    if (m->map_bytes > 0) {
        int rc = munmap(m->base, m->map_bytes);
        FOLIO_ASSERT(rc == 0);
    } else {
        folio_free(m->base);
    }
    *m = (struct ckpt_mem){NULL, 0};
}

void
state_adopt_file(struct folio_sched_state *s, struct ckpt_mem *mem)
{
    FOLIO_ASSERT(s->file.base == NULL);
    s->file = *mem;
    *mem = (struct ckpt_mem){NULL, 0};
    if (s->loaded_living == 0)
        ckpt_mem_free(&s->file);
}

static void
blob_own(struct blob *b)
{
    if (b->borrowed) {
        const uint8_t *p = b->ptr;
        b->borrowed = false;
        b->ptr = NULL;
        blob_set(b, p, b->len);
    }
}

/*
 * Moves every loaded task still in the state to memory of its own (struct,
 * index uids and objects) and frees the arena and the checkpoint. Only the
 * uid map holds task pointers across changes of the state, and it is
 * updated here: code must not keep a struct stask pointer across
 * task_unlink_free, which may get here.
 */
static void
loaded_release(struct folio_sched_state *s)
{
    for (size_t i = 0; s->loaded_living > 0 && i < s->tasks.cap; i++) {
        struct stask *t = s->tasks.slots[i].val;
        if (t == NULL || !t->loaded)
            continue;
        struct stask *own = folio_malloc(sizeof(*own));
        *own = *t;
        own->loaded = false;
        own->index_uids = folio_calloc(t->index_count ? t->index_count : 1, sizeof(*t->index_uids));
        memcpy(own->index_uids, t->index_uids, t->index_count * sizeof(*own->index_uids));
        blob_own(&own->content);
        blob_own(&own->details);
        blob_own(&own->error);
        s->tasks.slots[i].val = own;
        s->loaded_living--;
    }
    FOLIO_ASSERT(s->loaded_living == 0);
    arena_free(&s->arena);
    ckpt_mem_free(&s->file);
    s->loaded_count = 0;
}

/* A loaded task is about to go. */
static void
loaded_unref(struct folio_sched_state *s)
{
    FOLIO_ASSERT(s->loaded_living > 0);
    s->loaded_living--;
    if (s->loaded_living == 0 || s->loaded_living < s->loaded_count / 4)
        loaded_release(s);
}

void
folio_sched_checkpoint_detach(struct folio_sched_state *s)
{
    if (s->loaded_count > 0 || s->file.base != NULL)
        loaded_release(s);
}

void
folio_sched_state_free(struct folio_sched_state *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->tasks.cap; i++)
        if (s->tasks.slots[i].val != NULL)
            task_free(s->tasks.slots[i].val);
    for (size_t i = 0; i < s->batches.cap; i++)
        if (s->batches.slots[i].val != NULL)
            batch_free(s->batches.slots[i].val);
    for (size_t i = 0; i < s->canceled.cap; i++)
        if (s->canceled.slots[i].val != NULL)
            roaring_bitmap_free(s->canceled.slots[i].val);
    for (size_t i = 0; i < s->iuids.cap; i++) {
        struct iuid *u = s->iuids.slots[i].val;
        if (u != NULL) {
            roaring_bitmap_free(u->tasks);
            roaring_bitmap_free(u->batches);
            folio_free((void *)u->name.ptr);
            folio_free(u);
        }
    }
    for (size_t i = 0; i < s->indexes.cap; i++)
        if (s->indexes.slots[i].val != NULL)
            sindex_free(s->indexes.slots[i].val);
    u32map_free(&s->tasks);
    u32map_free(&s->batches);
    u32map_free(&s->canceled);
    strmap_free(&s->iuids);
    strmap_free(&s->indexes);
    strmap_free(&s->uuids);
    roaring_bitmap_free(s->all_tasks);
    roaring_bitmap_free(s->all_batches);
    bitmaps_free(s->task_status, FOLIO_STATUS_COUNT);
    bitmaps_free(s->task_kind, FOLIO_KIND_COUNT);
    bitmaps_free(s->batch_status, FOLIO_STATUS_COUNT);
    bitmaps_free(s->batch_kind, FOLIO_KIND_COUNT);
    tindex_free(&s->t_enqueued);
    tindex_free(&s->t_started);
    tindex_free(&s->t_finished);
    tindex_free(&s->b_enqueued);
    tindex_free(&s->b_started);
    tindex_free(&s->b_finished);
    /* After the tasks: they live in the arena and point into the file. */
    arena_free(&s->arena);
    ckpt_mem_free(&s->file);
    folio_free(s);
}

/* ---- index uids -------------------------------------------------------- */

/* Interned names live as long as the state, so the last one can be remembered. */
struct iuid *
iuid_intern(struct folio_sched_state *s, const char *name, size_t len)
{
    struct iuid *u = s->iuid_last;
    if (u != NULL && u->name.len == len &&
        (u->name.ptr == name || memcmp(u->name.ptr, name, len) == 0))
        return u;
    u = strmap_get(&s->iuids, name, len);
    if (u == NULL) {
        u = folio_calloc(1, sizeof(*u));
        u->name = (struct folio_str){str_dup_n(name, len), (uint32_t)len};
        u->tasks = roaring_bitmap_create();
        u->batches = roaring_bitmap_create();
        strmap_put(&s->iuids, u->name.ptr, len, u);
    }
    s->iuid_last = u;
    return u;
}

struct iuid *
iuid_find(const struct folio_sched_state *s, const struct folio_str *name)
{
    return strmap_get(&s->iuids, name->ptr, name->len);
}

/* ---- tasks ------------------------------------------------------------- */

/* Counted as living once linked (task_linker_add), so a task refused on the way in is not. */
struct stask *
task_new_loaded(struct folio_sched_state *s, uint32_t index_count)
{
    size_t bytes = sizeof(struct stask) + (size_t)index_count * sizeof(struct folio_str);
    struct stask *t = arena_alloc(&s->arena, bytes);
    t->index_uids = (struct folio_str *)(t + 1);
    t->loaded = true;
    return t;
}

/* A loaded task's struct and index uids belong to the arena, its borrowed objects to the file. */
void
task_free(struct stask *t)
{
    if (t == NULL)
        return;
    blob_free(&t->content);
    blob_free(&t->details);
    blob_free(&t->error);
    if (!t->loaded) {
        folio_free(t->index_uids);
        folio_free(t);
    }
}

static void
canceled_add(struct folio_sched_state *s, uint32_t canceler, uint32_t uid)
{
    roaring_bitmap_t *r = u32map_get(&s->canceled, canceler);
    if (r == NULL) {
        r = roaring_bitmap_create();
        u32map_put(&s->canceled, canceler, r);
    }
    roaring_bitmap_add(r, uid);
}

static void
canceled_remove(struct folio_sched_state *s, uint32_t canceler, uint32_t uid)
{
    roaring_bitmap_t *r = u32map_get(&s->canceled, canceler);
    FOLIO_ASSERT(r != NULL);
    roaring_bitmap_remove(r, uid);
    if (roaring_bitmap_is_empty(r)) {
        u32map_del(&s->canceled, canceler);
        roaring_bitmap_free(r);
    }
}

void
task_link(struct folio_sched_state *s, struct stask *t)
{
    FOLIO_ASSERT(u32map_get(&s->tasks, t->uid) == NULL);
    u32map_put(&s->tasks, t->uid, t);
    roaring_bitmap_add(s->all_tasks, t->uid);
    roaring_bitmap_add(s->task_status[t->status], t->uid);
    roaring_bitmap_add(s->task_kind[t->kind], t->uid);
    for (uint32_t i = 0; i < t->index_count; i++) {
        struct iuid *u = iuid_intern(s, t->index_uids[i].ptr, t->index_uids[i].len);
        t->index_uids[i] = u->name; /* from now on the names are the interned ones */
        roaring_bitmap_add(u->tasks, t->uid);
    }
    if (t->canceled_by != FOLIO_SCHED_NONE)
        canceled_add(s, t->canceled_by, t->uid);
    tindex_insert(&s->t_enqueued, t->enqueued_at_ns, t->uid);
    if (t->started)
        tindex_insert(&s->t_started, t->started_at_ns, t->uid);
    if (t->finished)
        tindex_insert(&s->t_finished, t->finished_at_ns, t->uid);
}

/* ---- linking the tasks of a checkpoint in bulk ---------------------------- */

/*
 * A set filled in ascending uid order: uids are buffered and handed to
 * roaring_bitmap_add_many, which appends to the container at hand instead of
 * looking it up for every uid.
 */
#define APPENDER_UIDS 1024u

struct appender {
    roaring_bitmap_t *set;
    uint32_t n;
    uint32_t uids[APPENDER_UIDS];
};

static void
appender_flush(struct appender *a)
{
    if (a->n > 0)
        roaring_bitmap_add_many(a->set, a->n, a->uids);
    a->n = 0;
}

static void
appender_add(struct appender *a, uint32_t uid)
{
    a->uids[a->n++] = uid;
    if (a->n == APPENDER_UIDS)
        appender_flush(a);
}

/*
 * Tasks wait this many adds before they go into the uid map: their slots
 * are fetched when they arrive, and are in the cache when they are filled.
 */
#define LINKER_DELAY 8u

enum { SET_ALL = 0, SET_STATUS = 1, SET_KIND = SET_STATUS + FOLIO_STATUS_COUNT,
       SET_COUNT = SET_KIND + FOLIO_KIND_COUNT };

struct task_linker {
    struct folio_sched_state *s;
    struct appender sets[SET_COUNT];
    struct stask *delayed[LINKER_DELAY];
    uint32_t added;
    uint32_t last_uid;
};

struct task_linker *
task_linker_new(struct folio_sched_state *s, size_t n)
{
    struct task_linker *l = folio_calloc(1, sizeof(*l));
    l->s = s;
    l->sets[SET_ALL].set = s->all_tasks;
    for (unsigned i = 0; i < FOLIO_STATUS_COUNT; i++)
        l->sets[SET_STATUS + i].set = s->task_status[i];
    for (unsigned i = 0; i < FOLIO_KIND_COUNT; i++)
        l->sets[SET_KIND + i].set = s->task_kind[i];
    /* Sized once: no regrowth while a million tasks come in (unused room stays untouched). */
    u32map_reserve(&s->tasks, n);
    tindex_reserve(&s->t_enqueued, n);
    tindex_reserve(&s->t_started, n);
    tindex_reserve(&s->t_finished, n);
    return l;
}

static void
linker_map_put(struct task_linker *l, struct stask *t)
{
    FOLIO_ASSERT(u32map_get(&l->s->tasks, t->uid) == NULL);
    u32map_put(&l->s->tasks, t->uid, t);
}

void
task_linker_add(struct task_linker *l, struct stask *t)
{
    struct folio_sched_state *s = l->s;
    FOLIO_ASSERT(l->added == 0 || l->last_uid < t->uid);
    l->last_uid = t->uid;
    if (t->loaded)
        s->loaded_living = ++s->loaded_count;
    u32map_prefetch(&s->tasks, t->uid);
    struct stask **slot = &l->delayed[l->added % LINKER_DELAY];
    if (l->added++ >= LINKER_DELAY)
        linker_map_put(l, *slot);
    *slot = t;
    appender_add(&l->sets[SET_ALL], t->uid);
    appender_add(&l->sets[SET_STATUS + t->status], t->uid);
    appender_add(&l->sets[SET_KIND + t->kind], t->uid);
    for (uint32_t i = 0; i < t->index_count; i++) {
        struct iuid *u = iuid_intern(s, t->index_uids[i].ptr, t->index_uids[i].len);
        t->index_uids[i] = u->name;
        roaring_bitmap_add(u->tasks, t->uid);
    }
    if (t->canceled_by != FOLIO_SCHED_NONE)
        canceled_add(s, t->canceled_by, t->uid);
    tindex_insert(&s->t_enqueued, t->enqueued_at_ns, t->uid);
    if (t->started)
        tindex_insert(&s->t_started, t->started_at_ns, t->uid);
    if (t->finished)
        tindex_insert(&s->t_finished, t->finished_at_ns, t->uid);
}

void
task_linker_finish(struct task_linker *l)
{
    if (l == NULL)
        return;
    uint32_t waiting = l->added < LINKER_DELAY ? l->added : LINKER_DELAY;
    for (uint32_t i = l->added - waiting; i < l->added; i++)
        linker_map_put(l, l->delayed[i % LINKER_DELAY]);
    for (unsigned i = 0; i < SET_COUNT; i++)
        appender_flush(&l->sets[i]);
    folio_free(l);
}

/*
 * Takes a task out of every set and frees it. With dates false the caller
 * has already removed it from the date indexes (tasks_deleted does that for
 * many tasks in one pass).
 */
static void
task_unlink_common(struct folio_sched_state *s, struct stask *t, bool dates)
{
    u32map_del(&s->tasks, t->uid);
    roaring_bitmap_remove(s->all_tasks, t->uid);
    roaring_bitmap_remove(s->task_status[t->status], t->uid);
    roaring_bitmap_remove(s->task_kind[t->kind], t->uid);
    for (uint32_t i = 0; i < t->index_count; i++) {
        struct iuid *u = iuid_find(s, &t->index_uids[i]);
        FOLIO_ASSERT(u != NULL);
        roaring_bitmap_remove(u->tasks, t->uid);
    }
    if (t->canceled_by != FOLIO_SCHED_NONE)
        canceled_remove(s, t->canceled_by, t->uid);
    if (dates) {
        tindex_remove(&s->t_enqueued, t->enqueued_at_ns, t->uid);
        if (t->started)
            tindex_remove(&s->t_started, t->started_at_ns, t->uid);
        if (t->finished)
            tindex_remove(&s->t_finished, t->finished_at_ns, t->uid);
    }
    bool loaded = t->loaded;
    task_free(t);
    if (loaded)
        loaded_unref(s);
}

void
task_unlink_free(struct folio_sched_state *s, struct stask *t)
{
    task_unlink_common(s, t, true);
}

void
task_unlink_free_nodates(struct folio_sched_state *s, struct stask *t)
{
    task_unlink_common(s, t, false);
}

void
task_set_status(struct folio_sched_state *s, struct stask *t, enum folio_task_status st)
{
    roaring_bitmap_remove(s->task_status[t->status], t->uid);
    roaring_bitmap_add(s->task_status[st], t->uid);
    t->status = (uint8_t)st;
}

void
task_set_canceled_by(struct folio_sched_state *s, struct stask *t, uint32_t canceler)
{
    FOLIO_ASSERT(t->canceled_by == FOLIO_SCHED_NONE);
    t->canceled_by = canceler;
    canceled_add(s, canceler, t->uid);
}

/* ---- batches ----------------------------------------------------------- */

struct sbatch *
batch_new(uint32_t uid)
{
    struct sbatch *b = folio_calloc(1, sizeof(*b));
    b->uid = uid;
    b->tasks = roaring_bitmap_create();
    return b;
}

void
steps_clear(struct sbatch *b)
{
    for (uint32_t i = 0; i < b->step_count; i++)
        folio_free((void *)b->steps[i].name.ptr);
    b->step_count = 0;
    folio_free(b->steps);
    b->steps = NULL;
}

struct folio_batch_step *
steps_slots(struct sbatch *b)
{
    if (b->steps == NULL)
        b->steps = folio_calloc(FOLIO_SCHED_STEPS_MAX, sizeof(*b->steps));
    return b->steps;
}

void
batch_free(struct sbatch *b)
{
    if (b == NULL)
        return;
    steps_clear(b);
    folio_free((void *)b->reason.ptr);
    roaring_bitmap_free(b->tasks);
    folio_free(b->index_counts);
    folio_free(b);
}

void
batch_link(struct folio_sched_state *s, struct sbatch *b)
{
    FOLIO_ASSERT(u32map_get(&s->batches, b->uid) == NULL);
    u32map_put(&s->batches, b->uid, b);
    roaring_bitmap_add(s->all_batches, b->uid);
    tindex_insert(&s->b_enqueued, b->enqueued_first_ns, b->uid);
    tindex_insert(&s->b_started, b->started_at_ns, b->uid);
    if (b->finished)
        tindex_insert(&s->b_finished, b->finished_at_ns, b->uid);
    for (unsigned i = 0; i < FOLIO_STATUS_COUNT; i++)
        if (b->status_counts[i] > 0)
            roaring_bitmap_add(s->batch_status[i], b->uid);
    for (unsigned i = 0; i < FOLIO_KIND_COUNT; i++)
        if (b->kind_counts[i] > 0)
            roaring_bitmap_add(s->batch_kind[i], b->uid);
    for (uint32_t i = 0; i < b->index_count; i++) {
        struct iuid *u = iuid_intern(s, b->index_counts[i].index_uid.ptr,
                                     b->index_counts[i].index_uid.len);
        b->index_counts[i].index_uid = u->name;
        roaring_bitmap_add(u->batches, b->uid);
    }
}

void
batch_unlink_free(struct folio_sched_state *s, struct sbatch *b)
{
    u32map_del(&s->batches, b->uid);
    roaring_bitmap_remove(s->all_batches, b->uid);
    tindex_remove(&s->b_enqueued, b->enqueued_first_ns, b->uid);
    tindex_remove(&s->b_started, b->started_at_ns, b->uid);
    if (b->finished)
        tindex_remove(&s->b_finished, b->finished_at_ns, b->uid);
    for (unsigned i = 0; i < FOLIO_STATUS_COUNT; i++)
        roaring_bitmap_remove(s->batch_status[i], b->uid);
    for (unsigned i = 0; i < FOLIO_KIND_COUNT; i++)
        roaring_bitmap_remove(s->batch_kind[i], b->uid);
    for (uint32_t i = 0; i < b->index_count; i++) {
        struct iuid *u = iuid_find(s, &b->index_counts[i].index_uid);
        FOLIO_ASSERT(u != NULL);
        roaring_bitmap_remove(u->batches, b->uid);
    }
    batch_free(b);
}

static void
count_step(roaring_bitmap_t *set, uint32_t *count, uint32_t uid, int delta)
{
    FOLIO_ASSERT(delta > 0 || *count > 0);
    *count = (uint32_t)((int64_t)*count + delta);
    if (*count == 0)
        roaring_bitmap_remove(set, uid);
    else if (delta > 0 && *count == (uint32_t)delta)
        roaring_bitmap_add(set, uid);
}

void
batch_count_status(struct folio_sched_state *s, struct sbatch *b, unsigned status, int delta)
{
    count_step(s->batch_status[status], &b->status_counts[status], b->uid, delta);
}

int
str_cmp(const struct folio_str *a, const struct folio_str *b)
{
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->ptr, b->ptr, n) : 0;
    if (c != 0)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* Position of name in the batch's sorted index counts, or where it would go. */
static uint32_t
index_count_find(const struct sbatch *b, const struct folio_str *name, bool *found)
{
    uint32_t lo = 0, hi = b->index_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(&b->index_counts[mid].index_uid, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

void
batch_count_index(struct folio_sched_state *s, struct sbatch *b, const struct folio_str *name,
                  int delta)
{
    bool found;
    uint32_t pos = index_count_find(b, name, &found);
    struct iuid *u = iuid_intern(s, name->ptr, name->len);
    if (!found) {
        FOLIO_ASSERT(delta > 0);
        if (b->index_count == b->index_cap) {
            b->index_cap = b->index_cap ? b->index_cap * 2 : 4;
            b->index_counts = folio_reallocarray(b->index_counts, b->index_cap,
                                                 sizeof(*b->index_counts));
        }
        memmove(&b->index_counts[pos + 1], &b->index_counts[pos],
                (b->index_count - pos) * sizeof(*b->index_counts));
        b->index_counts[pos] = (struct folio_batch_index_count){u->name, 0};
        b->index_count++;
    }
    struct folio_batch_index_count *e = &b->index_counts[pos];
    FOLIO_ASSERT(delta > 0 || e->count >= (uint32_t)-delta);
    e->count = (uint32_t)((int64_t)e->count + delta);
    if (e->count == 0) {
        memmove(e, e + 1, (b->index_count - pos - 1) * sizeof(*e));
        b->index_count--;
        roaring_bitmap_remove(u->batches, b->uid);
    } else {
        roaring_bitmap_add(u->batches, b->uid);
    }
}

void
batch_count_task(struct folio_sched_state *s, struct sbatch *b, const struct stask *t, int delta)
{
    FOLIO_ASSERT(delta > 0 || b->total_tasks > 0);
    b->total_tasks = (uint32_t)((int64_t)b->total_tasks + delta);
    count_step(s->batch_kind[t->kind], &b->kind_counts[t->kind], b->uid, delta);
    for (uint32_t i = 0; i < t->index_count; i++)
        batch_count_index(s, b, &t->index_uids[i], delta);
}

void
batch_set_finished(struct folio_sched_state *s, struct sbatch *b)
{
    FOLIO_ASSERT(!b->finished && b->has_outcome);
    b->finished = true;
    steps_clear(b);
    tindex_insert(&s->b_finished, b->finished_at_ns, b->uid);
}

/* ---- indexes ----------------------------------------------------------- */

static struct folio_str
fstr_dup(const struct folio_str *v)
{
    if (v == NULL || v->len == 0)
        return (struct folio_str){NULL, 0};
    return (struct folio_str){str_dup_n(v->ptr, v->len), v->len};
}

struct sindex *
sindex_new(const struct folio_str *uid, const struct folio_str *uuid,
           const struct folio_str *primary_key)
{
    struct sindex *ix = folio_calloc(1, sizeof(*ix));
    ix->v.uid = fstr_dup(uid);
    ix->v.uuid = fstr_dup(uuid);
    ix->v.primary_key = fstr_dup(primary_key);
    return ix;
}

void
sindex_set_str(struct folio_str *field, const struct folio_str *v)
{
    folio_free((void *)field->ptr);
    *field = fstr_dup(v);
}

void
sindex_free(struct sindex *ix)
{
    if (ix == NULL)
        return;
    folio_free((void *)ix->v.uid.ptr);
    folio_free((void *)ix->v.uuid.ptr);
    folio_free((void *)ix->v.primary_key.ptr);
    folio_free((void *)ix->v.source_instance_uid.ptr);
    folio_free((void *)ix->v.archive_checksum.ptr);
    folio_free(ix);
}

void
sindex_link(struct folio_sched_state *s, struct sindex *ix)
{
    strmap_put(&s->indexes, ix->v.uid.ptr, ix->v.uid.len, ix);
    strmap_put(&s->uuids, ix->v.uuid.ptr, ix->v.uuid.len, ix);
}

void
sindex_unlink(struct folio_sched_state *s, struct sindex *ix)
{
    strmap_del(&s->indexes, ix->v.uid.ptr, ix->v.uid.len);
    strmap_del(&s->uuids, ix->v.uuid.ptr, ix->v.uuid.len);
}
