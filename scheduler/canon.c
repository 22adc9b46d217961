/*
 * The canonical serialisation of the state (docs/scheduler.md "Canonical
 * state"): the bytes the state hash covers and the body of a checkpoint.
 *
 * Only the primary state is written (tasks, batches, indexes, counters), in
 * a fixed order (tasks and batches by uid, indexes by uid bytes) with the
 * shortest msgpack forms, so equal states give equal bytes whatever their
 * history. The derived sets (bitmaps, date indexes, batch task sets) are not
 * written: reading rebuilds them, so no roaring bitmap is ever deserialised
 * from a file.
 *
 * Reading checks the form of every field and every cross-reference: a
 * task's fields agree with its status, its batch exists and started when it
 * did, a batch's counts agree with each other and with its tasks, index uids
 * and uuids are valid, unique and in order, uids ascend. It does not decode
 * the task objects (content, details, error) again: each passed its kind's
 * checker when the event that brought it was applied, a checkpoint only
 * holds the objects of such a state, and the checksum over the whole file
 * vouches that these are the bytes that were written. (Decoding a million
 * contents was most of the time a load took.) Whatever reads an object later
 * checks it as it decodes it, so a bad one could fail a request, never read
 * out of bounds.
 *
 * Reading is built for a million tasks in well under a second: the objects
 * stay in the file's bytes (borrowed, not copied), the tasks go into an
 * arena, each is linked into the sets while it is in the cache, the sets
 * are filled in bulk, and the maps are sized from the counts up front.
 *
 * Reading may run on bytes whose checksum is still being computed
 * (checkpoint.c hashes them just ahead of the decoder, and drops the result
 * if the checksum fails). So it takes any bytes: every read is bounded,
 * every count is checked against the bytes left, and a count sizes only
 * best-effort reservations, never an allocation that must succeed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "sched_int.h"

#define CANON_FORMAT "folio-sched-state"
#define CANON_VERSION 1
#define TASK_FIELDS 12
#define BATCH_FIELDS 12
#define INDEX_FIELDS 9

/* ---- writing ----------------------------------------------------------- */

static void
w_blob(struct mpw *w, const struct blob *b)
{
    if (b->len == 0)
        mpw_nil(w);
    else
        mpw_bin(w, b->ptr, b->len);
}

static void
w_opt_u32(struct mpw *w, uint32_t v)
{
    if (v == FOLIO_SCHED_NONE)
        mpw_nil(w);
    else
        mpw_u64(w, v);
}

static void
w_opt_time(struct mpw *w, bool set, int64_t ns)
{
    if (set)
        mpw_i64(w, ns);
    else
        mpw_nil(w);
}

static void
w_opt_str(struct mpw *w, struct folio_str s)
{
    if (s.len == 0)
        mpw_nil(w);
    else
        mpw_fstr(w, s);
}

static void
write_task(struct mpw *w, const struct stask *t)
{
    mpw_array(w, TASK_FIELDS);
    mpw_u64(w, t->uid);
    mpw_cstr(w, folio_task_kind_name(t->kind));
    mpw_cstr(w, folio_task_status_name(t->status));
    mpw_array(w, t->index_count);
    for (uint32_t i = 0; i < t->index_count; i++)
        mpw_fstr(w, t->index_uids[i]);
    w_opt_u32(w, t->batch_uid);
    w_opt_u32(w, t->canceled_by);
    mpw_i64(w, t->enqueued_at_ns);
    w_opt_time(w, t->started, t->started_at_ns);
    w_opt_time(w, t->finished, t->finished_at_ns);
    w_blob(w, &t->content);
    w_blob(w, &t->details);
    w_blob(w, &t->error);
}

/* Nonzero counts as {name: count}, in enum order. */
static void
write_counts(struct mpw *w, const uint32_t *counts, unsigned n,
             const char *(*name)(unsigned))
{
    uint32_t k = 0;
    for (unsigned i = 0; i < n; i++)
        k += counts[i] > 0;
    mpw_map(w, k);
    for (unsigned i = 0; i < n; i++)
        if (counts[i] > 0) {
            mpw_cstr(w, name(i));
            mpw_u64(w, counts[i]);
        }
}

static const char *
status_name_u(unsigned i)
{
    return folio_task_status_name((enum folio_task_status)i);
}

static const char *
kind_name_u(unsigned i)
{
    return folio_task_kind_name((enum folio_task_kind)i);
}

static void
write_batch(struct mpw *w, const struct sbatch *b)
{
    mpw_array(w, BATCH_FIELDS);
    mpw_u64(w, b->uid);
    mpw_fstr(w, b->reason);
    mpw_i64(w, b->started_at_ns);
    mpw_bool(w, b->finished);
    w_opt_time(w, b->has_outcome, b->finished_at_ns);
    mpw_i64(w, b->enqueued_first_ns);
    mpw_i64(w, b->enqueued_last_ns);
    mpw_array(w, b->step_count);
    for (uint32_t i = 0; i < b->step_count; i++) {
        mpw_array(w, 3);
        mpw_fstr(w, b->steps[i].name);
        mpw_u64(w, b->steps[i].finished);
        mpw_u64(w, b->steps[i].total);
    }
    mpw_u64(w, b->total_tasks);
    write_counts(w, b->status_counts, FOLIO_STATUS_COUNT, status_name_u);
    write_counts(w, b->kind_counts, FOLIO_KIND_COUNT, kind_name_u);
    mpw_array(w, b->index_count);
    for (uint32_t i = 0; i < b->index_count; i++) {
        mpw_array(w, 2);
        mpw_fstr(w, b->index_counts[i].index_uid);
        mpw_u64(w, b->index_counts[i].count);
    }
}

static void
write_index(struct mpw *w, const struct folio_index_view *v)
{
    mpw_array(w, INDEX_FIELDS);
    mpw_fstr(w, v->uid);
    mpw_fstr(w, v->uuid);
    w_opt_str(w, v->primary_key);
    mpw_i64(w, v->created_at_ns);
    mpw_i64(w, v->updated_at_ns);
    mpw_bool(w, v->imported);
    w_opt_str(w, v->source_instance_uid);
    mpw_u64(w, v->source_seq);
    w_opt_str(w, v->archive_checksum);
}

int
canon_write(const struct folio_sched_state *s, struct mpw *w)
{
    roaring_uint32_iterator_t it;
    mpw_map(w, 8);
    mpw_cstr(w, "format");
    mpw_cstr(w, CANON_FORMAT);
    mpw_cstr(w, "version");
    mpw_u64(w, CANON_VERSION);
    mpw_cstr(w, "last_seq");
    mpw_u64(w, s->last_seq);
    mpw_cstr(w, "next_task_uid");
    mpw_u64(w, s->next_task_uid);
    mpw_cstr(w, "next_batch_uid");
    mpw_u64(w, s->next_batch_uid);
    mpw_cstr(w, "tasks");
    mpw_array(w, (uint32_t)s->tasks.n);
    for (roaring_init_iterator(s->all_tasks, &it); it.has_value && w->err == 0;
         roaring_advance_uint32_iterator(&it))
        write_task(w, u32map_get(&s->tasks, it.current_value));
    mpw_cstr(w, "batches");
    mpw_array(w, (uint32_t)s->batches.n);
    for (roaring_init_iterator(s->all_batches, &it); it.has_value && w->err == 0;
         roaring_advance_uint32_iterator(&it))
        write_batch(w, u32map_get(&s->batches, it.current_value));
    mpw_cstr(w, "indexes");
    struct folio_index_view *ix = NULL;
    size_t n = 0;
    folio_sched_index_list(s, &ix, &n);
    mpw_array(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        write_index(w, &ix[i]);
    folio_free(ix);
    return w->err;
}

/* ---- reading ----------------------------------------------------------- */

#define NAMES_MAX 16u
_Static_assert((unsigned)FOLIO_KIND_COUNT <= NAMES_MAX && (unsigned)FOLIO_STATUS_COUNT <= NAMES_MAX,
               "struct names holds every kind and status");

/* The names of an enum, with their lengths, and the one matched last (names repeat in runs). */
struct names {
    struct folio_str v[NAMES_MAX];
    unsigned count;
    unsigned last;
};

/*
 * What tasks say about their batch, kept so the batches read later need not
 * look at the tasks again: a run of tasks with consecutive uids in the same
 * batch (a batch's tasks mostly come in one run).
 */
struct batch_run {
    uint32_t batch_uid;
    uint32_t first_uid;
    uint32_t count;
    uint32_t processing;
    int64_t started_at_ns;
};

struct rd {
    struct mpr r;
    struct folio_sched_state *s;
    char *why;
    size_t why_len;
    struct names kinds, statuses;
    struct task_linker *linker;
    struct batch_run *runs;    /* the batches of the tasks, in uid order */
    uint32_t run_count;
    uint32_t run_cap;
    const struct canon_feed *feed;
    const uint8_t *fed;        /* the bytes before this went to feed */
};

/* How far ahead of the reader the feed runs: a few hundred tasks, well within the L2 cache. */
#define FEED_AHEAD (64u << 10)

/* Hands feed the bytes up to FEED_AHEAD past where the reader is (all of them with at_end). */
static void
feed_ahead(struct rd *d, bool at_end)
{
    const uint8_t *to = d->r.end;
    if (!at_end && (size_t)(d->r.end - d->r.p) > FEED_AHEAD)
        to = d->r.p + FEED_AHEAD;
    if (to > d->fed) {
        if (d->feed != NULL)
            d->feed->bytes(d->feed->ctx, d->fed, (size_t)(to - d->fed));
        d->fed = to;
    }
}

/* The smallest task: a fixarray header and 12 one-byte fields. */
#define TASK_BYTES_MIN (1u + TASK_FIELDS)

__attribute__((format(printf, 2, 3))) static int
bad(struct rd *d, const char *fmt, ...)
{
    if (d->why != NULL && d->why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->why, d->why_len, fmt, ap);
        va_end(ap);
    }
    return FOLIO_E_CORRUPT;
}

static void
names_init(struct names *nm, const char *(*name)(unsigned), unsigned count)
{
    FOLIO_ASSERT(count <= FOLIO_ARRAY_LEN(nm->v));
    for (unsigned i = 0; i < count; i++)
        nm->v[i] = folio_str_c(name(i));
    nm->count = count;
    nm->last = 0;
}

/*
 * Names are short and compared a few million times per load: eight bytes
 * at a time, inline, rather than a call to memcmp each.
 */
static inline bool
name_is(const struct folio_str *name, const uint8_t *p, uint32_t n)
{
    const uint8_t *q = (const uint8_t *)name->ptr;
    if (name->len != n)
        return false;
    for (; n >= 8; n -= 8, p += 8, q += 8) {
        uint64_t x, y;
        memcpy(&x, p, 8);
        memcpy(&y, q, 8);
        if (x != y)
            return false;
    }
    for (; n > 0; n--)
        if (*p++ != *q++)
            return false;
    return true;
}

static bool
r_nil(struct rd *d)
{
    if (d->r.p < d->r.end && *d->r.p == 0xc0) {
        d->r.p++;
        return true;
    }
    return false;
}

static int
r_opt_u32(struct rd *d, uint32_t *v)
{
    uint64_t x;
    *v = FOLIO_SCHED_NONE;
    if (r_nil(d))
        return 0;
    if (mpr_u64(&d->r, &x) != 0 || x > FOLIO_SCHED_UID_MAX)
        return FOLIO_E_CORRUPT;
    *v = (uint32_t)x;
    return 0;
}

static int
r_opt_time(struct rd *d, bool *set, int64_t *v)
{
    *set = false;
    *v = 0;
    if (r_nil(d))
        return 0;
    *set = true;
    return mpr_i64(&d->r, v) == 0 ? 0 : FOLIO_E_CORRUPT;
}

/*
 * A task object, left in the body (borrowed) rather than copied. Its bytes
 * are not looked at here (see canon_read): every reader of an object checks
 * it is one well-formed value before it decodes it.
 */
static int
r_opt_blob(struct rd *d, struct blob *b)
{
    const uint8_t *p;
    uint32_t len;
    if (r_nil(d))
        return 0;
    if (mpr_bin(&d->r, &p, &len) != 0 || len == 0 || len > FOLIO_EVENT_OBJECT_BYTES_MAX)
        return FOLIO_E_CORRUPT;
    blob_borrow(b, p, len);
    return 0;
}

/* A string copied out as a folio_str (owned, NUL-terminated); nil allowed if opt. */
static int
r_str(struct rd *d, struct folio_str *out, bool opt)
{
    const uint8_t *p;
    uint32_t n;
    bool nil = false;
    *out = (struct folio_str){NULL, 0};
    if (mpr_str_or_nil(&d->r, &p, &n, &nil) != 0 || (nil && !opt) || n > FOLIO_EVENT_STR_MAX)
        return FOLIO_E_CORRUPT;
    if (!nil)
        *out = (struct folio_str){str_dup_n((const char *)p, n), n};
    return 0;
}

static int
r_name(struct rd *d, struct names *nm, unsigned *out)
{
    const uint8_t *p;
    uint32_t n;
    if (mpr_str(&d->r, &p, &n) != 0)
        return FOLIO_E_CORRUPT;
    if (name_is(&nm->v[nm->last], p, n)) {
        *out = nm->last;
        return 0;
    }
    for (unsigned i = 0; i < nm->count; i++)
        if (name_is(&nm->v[i], p, n)) {
            *out = nm->last = i;
            return 0;
        }
    return FOLIO_E_CORRUPT;
}

/*
 * An index uid, interned. Every name in a state being loaded was checked
 * when it was interned, so only a new one is checked here.
 */
static struct iuid *
r_iuid(struct rd *d)
{
    const uint8_t *p;
    uint32_t len;
    if (mpr_str(&d->r, &p, &len) != 0)
        return NULL;
    const struct iuid *last = d->s->iuid_last;
    if ((last == NULL || !name_is(&last->name, p, len)) &&
        strmap_get(&d->s->iuids, (const char *)p, len) == NULL &&
        !folio_index_uid_valid((const char *)p, len))
        return NULL;
    return iuid_intern(d->s, (const char *)p, len);
}

static int
r_index_uids(struct rd *d, struct stask *t, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct iuid *u = r_iuid(d);
        if (u == NULL)
            return FOLIO_E_CORRUPT;
        t->index_uids[i] = u->name;
        t->index_count = i + 1;
    }
    return 0;
}

/* A task's fields must agree with each other as apply would have left them. */
static bool
task_consistent(const struct stask *t)
{
    bool enq = t->status == FOLIO_STATUS_ENQUEUED;
    bool fin = folio_task_status_finished((enum folio_task_status)t->status);
    return t->started != enq && t->finished == fin && (t->batch_uid == FOLIO_SCHED_NONE) == enq &&
           (t->canceled_by != FOLIO_SCHED_NONE) == (t->status == FOLIO_STATUS_CANCELED) &&
           (t->error.len > 0) == (t->status == FOLIO_STATUS_FAILED);
}

/* One task into *out (a new task, also on failure: the caller frees it). */
static int
read_task(struct rd *d, struct stask **out)
{
    uint64_t uid;
    unsigned kind, status;
    uint32_t n, index_count;
    *out = NULL;
    if (mpr_container(&d->r, MPK_ARRAY, &n) != 0 || n != TASK_FIELDS ||
        mpr_u64(&d->r, &uid) != 0 || uid > FOLIO_SCHED_UID_MAX ||
        r_name(d, &d->kinds, &kind) != 0 || r_name(d, &d->statuses, &status) != 0 ||
        mpr_container(&d->r, MPK_ARRAY, &index_count) != 0 || index_count > FOLIO_EVENT_ARRAY_MAX)
        return FOLIO_E_CORRUPT;
    struct stask *t = task_new_loaded(d->s, index_count);
    *out = t;
    t->uid = (uint32_t)uid;
    t->kind = (uint8_t)kind;
    t->status = (uint8_t)status;
    if (r_index_uids(d, t, index_count) != 0 || r_opt_u32(d, &t->batch_uid) != 0 ||
        r_opt_u32(d, &t->canceled_by) != 0 || mpr_i64(&d->r, &t->enqueued_at_ns) != 0 ||
        r_opt_time(d, &t->started, &t->started_at_ns) != 0 ||
        r_opt_time(d, &t->finished, &t->finished_at_ns) != 0 || r_opt_blob(d, &t->content) != 0 ||
        r_opt_blob(d, &t->details) != 0 || r_opt_blob(d, &t->error) != 0 || !task_consistent(t))
        return FOLIO_E_CORRUPT;
    return 0;
}

/* Notes what attach_tasks will need of t once the batches are read. */
static void
note_batch(struct rd *d, const struct stask *t)
{
    if (t->batch_uid == FOLIO_SCHED_NONE)
        return;
    struct batch_run *run = d->run_count > 0 ? &d->runs[d->run_count - 1] : NULL;
    if (run == NULL || run->batch_uid != t->batch_uid ||
        run->started_at_ns != t->started_at_ns || run->first_uid + run->count != t->uid) {
        if (d->run_count == d->run_cap) {
            d->run_cap = d->run_cap ? 2 * d->run_cap : 1024;
            d->runs = folio_reallocarray(d->runs, d->run_cap, sizeof(*d->runs));
        }
        run = &d->runs[d->run_count++];
        *run = (struct batch_run){t->batch_uid, t->uid, 0, 0, t->started_at_ns};
    }
    run->count++;
    run->processing += t->status == FOLIO_STATUS_PROCESSING;
}

/*
 * The tasks, each linked into the state as soon as it is read (while it is
 * in the cache). The count comes from bytes not verified yet (see
 * canon_read), so it sizes nothing that must be had.
 */
static int
read_tasks(struct rd *d)
{
    uint32_t n;
    if (mpr_container(&d->r, MPK_ARRAY, &n) != 0 || n > FOLIO_SCHED_TASKS_MAX ||
        n > (size_t)(d->r.end - d->r.p) / TASK_BYTES_MIN)
        return bad(d, "the task list is malformed");
    d->linker = task_linker_new(d->s, n);
    int64_t prev = -1;
    for (uint32_t i = 0; i < n; i++) {
        struct stask *t;
        if (d->fed < d->r.end && (d->r.p >= d->fed || (size_t)(d->fed - d->r.p) < FEED_AHEAD / 2))
            feed_ahead(d, false);
        int rc = read_task(d, &t);
        if (rc == 0 && ((int64_t)t->uid <= prev || t->uid >= d->s->next_task_uid))
            rc = FOLIO_E_CORRUPT;
        if (rc != 0) {
            task_free(t);
            return bad(d, "task #%u (after uid %lld) is malformed", i, (long long)prev);
        }
        prev = t->uid;
        task_linker_add(d->linker, t);
        note_batch(d, t);
    }
    return 0;
}

static int
r_counts(struct rd *d, uint32_t *counts, struct names *nm)
{
    uint32_t n;
    if (mpr_container(&d->r, MPK_MAP, &n) != 0 || n > nm->count)
        return FOLIO_E_CORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        unsigned k;
        uint64_t v;
        if (r_name(d, nm, &k) != 0 || counts[k] != 0 || mpr_u64(&d->r, &v) != 0 ||
            v == 0 || v > UINT32_MAX)
            return FOLIO_E_CORRUPT;
        counts[k] = (uint32_t)v;
    }
    return 0;
}

static int
r_steps(struct rd *d, struct sbatch *b)
{
    uint32_t n;
    if (mpr_container(&d->r, MPK_ARRAY, &n) != 0 || n > FOLIO_SCHED_STEPS_MAX)
        return FOLIO_E_CORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t three;
        uint64_t fin, total;
        struct folio_batch_step *st = &steps_slots(b)[i];
        if (mpr_container(&d->r, MPK_ARRAY, &three) != 0 || three != 3 ||
            r_str(d, &st->name, false) != 0)
            return FOLIO_E_CORRUPT;
        b->step_count = i + 1;
        if (st->name.len == 0 || mpr_u64(&d->r, &fin) != 0 || mpr_u64(&d->r, &total) != 0 ||
            total > UINT32_MAX || fin > total)
            return FOLIO_E_CORRUPT;
        st->finished = (uint32_t)fin;
        st->total = (uint32_t)total;
    }
    return 0;
}

static int
r_index_counts(struct rd *d, struct sbatch *b)
{
    uint32_t n;
    if (mpr_container(&d->r, MPK_ARRAY, &n) != 0 || n > FOLIO_EVENT_ARRAY_MAX)
        return FOLIO_E_CORRUPT;
    b->index_counts = folio_calloc(n ? n : 1, sizeof(*b->index_counts));
    b->index_cap = n ? n : 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t two;
        const struct iuid *u;
        uint64_t count;
        if (mpr_container(&d->r, MPK_ARRAY, &two) != 0 || two != 2 || (u = r_iuid(d)) == NULL ||
            mpr_u64(&d->r, &count) != 0 || count == 0 || count > UINT32_MAX)
            return FOLIO_E_CORRUPT;
        struct folio_str name = u->name;
        if (i > 0 && str_cmp(&b->index_counts[i - 1].index_uid, &name) >= 0)
            return FOLIO_E_CORRUPT;
        b->index_counts[i] = (struct folio_batch_index_count){name, (uint32_t)count};
        b->index_count = i + 1;
    }
    return 0;
}

static int
read_batch_fields(struct rd *d, struct sbatch *b)
{
    uint32_t n;
    uint64_t uid, total;
    bool fin;
    struct mpv v;
    if (mpr_container(&d->r, MPK_ARRAY, &n) != 0 || n != BATCH_FIELDS ||
        mpr_u64(&d->r, &uid) != 0 || uid > FOLIO_SCHED_UID_MAX || r_str(d, &b->reason, false) != 0 ||
        mpr_i64(&d->r, &b->started_at_ns) != 0 || mpr_next(&d->r, &v) != 0 || v.kind != MPK_BOOL)
        return FOLIO_E_CORRUPT;
    b->uid = (uint32_t)uid;
    fin = v.b;
    if (r_opt_time(d, &b->has_outcome, &b->finished_at_ns) != 0 ||
        mpr_i64(&d->r, &b->enqueued_first_ns) != 0 || mpr_i64(&d->r, &b->enqueued_last_ns) != 0 ||
        r_steps(d, b) != 0 || mpr_u64(&d->r, &total) != 0 || total > UINT32_MAX ||
        r_counts(d, b->status_counts, &d->statuses) != 0 ||
        r_counts(d, b->kind_counts, &d->kinds) != 0 || r_index_counts(d, b) != 0)
        return FOLIO_E_CORRUPT;
    b->finished = fin;
    b->total_tasks = (uint32_t)total;
    return 0;
}

static int
batch_uid_cmp(const void *a, const void *b)
{
    const struct sbatch *x = *(const struct sbatch *const *)a, *y = *(const struct sbatch *const *)b;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Uids of a batch to add to its task set, gathered for roaring_bitmap_add_many. */
#define ATTACH_UIDS 256u

/* Adds run's uids to its batch's task set (as arrays of uids, like apply's adds). */
static void
attach_run(struct sbatch *b, const struct batch_run *run)
{
    uint32_t uids[ATTACH_UIDS];
    for (uint32_t done = 0; done < run->count;) {
        uint32_t n = run->count - done < ATTACH_UIDS ? run->count - done : ATTACH_UIDS;
        for (uint32_t i = 0; i < n; i++)
            uids[i] = run->first_uid + done + i;
        roaring_bitmap_add_many(b->tasks, n, uids);
        done += n;
    }
    b->processing += run->processing;
}

/*
 * Gives each batch its living tasks; false if a task names a batch that is
 * not there or started at another time. Runs mostly follow each other in
 * batch order, so the batch found last is tried first.
 */
static bool
attach_tasks(const struct rd *d, struct sbatch **v, uint32_t n)
{
    struct sbatch *b = NULL;
    for (uint32_t i = 0; i < d->run_count; i++) {
        const struct batch_run *run = &d->runs[i];
        if (b == NULL || b->uid != run->batch_uid) {
            struct sbatch key = {.uid = run->batch_uid}, *kp = &key;
            struct sbatch **found = n > 0 ? bsearch(&kp, v, n, sizeof(*v), batch_uid_cmp) : NULL;
            if (found == NULL)
                return false;
            b = *found;
        }
        if (run->started_at_ns != b->started_at_ns)
            return false;
        attach_run(b, run);
    }
    return true;
}

/* The counts a batch keeps must agree with each other and with its tasks. */
static bool
batch_consistent(const struct sbatch *b)
{
    uint64_t by_status = 0, by_kind = 0;
    for (unsigned i = 0; i < FOLIO_STATUS_COUNT; i++)
        by_status += b->status_counts[i];
    for (unsigned i = 0; i < FOLIO_KIND_COUNT; i++)
        by_kind += b->kind_counts[i];
    return !roaring_bitmap_is_empty(b->tasks) && b->processing == b->status_counts[FOLIO_STATUS_PROCESSING] &&
           b->finished == (b->processing == 0) && (!b->finished || b->has_outcome) &&
           (!b->finished || b->step_count == 0) && by_status == b->total_tasks &&
           by_kind == b->total_tasks && b->enqueued_first_ns <= b->enqueued_last_ns;
}

static int
read_batches(struct rd *d)
{
    uint32_t n;
    int rc = 0;
    if (mpr_container(&d->r, MPK_ARRAY, &n) != 0 || n > FOLIO_SCHED_TASKS_MAX)
        return bad(d, "the batch list is malformed");
    struct sbatch **v = NULL;
    uint32_t got = 0, cap = 0;
    for (; got < n && rc == 0; got++) {
        if (got == cap) { /* grown as batches come: n is not verified yet (see canon_read) */
            cap = cap ? 2 * cap : 1024;
            v = folio_reallocarray(v, cap, sizeof(*v));
        }
        v[got] = batch_new(0);
        rc = read_batch_fields(d, v[got]);
        if (rc == 0 && ((got > 0 && v[got]->uid <= v[got - 1]->uid) ||
                        v[got]->uid >= d->s->next_batch_uid))
            rc = FOLIO_E_CORRUPT;
        if (rc != 0)
            rc = bad(d, "batch #%u is malformed", got);
    }
    if (rc == 0 && !attach_tasks(d, v, n))
        rc = bad(d, "a task names a batch that is missing or started at another time");
    for (uint32_t i = 0; i < n && rc == 0; i++)
        if (!batch_consistent(v[i]))
            rc = bad(d, "batch %u disagrees with its tasks or its own counts", v[i]->uid);
    for (uint32_t i = 0; i < got; i++) {
        if (rc == 0)
            batch_link(d->s, v[i]);
        else
            batch_free(v[i]);
    }
    folio_free(v);
    return rc;
}

static int
read_index(struct rd *d, struct sindex *ix)
{
    uint32_t n;
    struct mpv v;
    struct folio_index_view *x = &ix->v;
    if (mpr_container(&d->r, MPK_ARRAY, &n) != 0 || n != INDEX_FIELDS ||
        r_str(d, &x->uid, false) != 0 || r_str(d, &x->uuid, false) != 0 ||
        r_str(d, &x->primary_key, true) != 0 || mpr_i64(&d->r, &x->created_at_ns) != 0 ||
        mpr_i64(&d->r, &x->updated_at_ns) != 0 || mpr_next(&d->r, &v) != 0 || v.kind != MPK_BOOL)
        return FOLIO_E_CORRUPT;
    x->imported = v.b;
    if (r_str(d, &x->source_instance_uid, true) != 0 || mpr_u64(&d->r, &x->source_seq) != 0 ||
        r_str(d, &x->archive_checksum, true) != 0)
        return FOLIO_E_CORRUPT;
    if (!folio_index_uid_valid(x->uid.ptr, x->uid.len) || !sched_uuid_valid(x->uuid) ||
        strmap_get(&d->s->indexes, x->uid.ptr, x->uid.len) != NULL ||
        strmap_get(&d->s->uuids, x->uuid.ptr, x->uuid.len) != NULL)
        return FOLIO_E_CORRUPT;
    return 0;
}

static int
read_indexes(struct rd *d)
{
    uint32_t n;
    if (mpr_container(&d->r, MPK_ARRAY, &n) != 0 || n > FOLIO_SCHED_TASKS_MAX)
        return bad(d, "the index list is malformed");
    const struct sindex *prev = NULL;
    for (uint32_t i = 0; i < n; i++) {
        struct sindex *ix = folio_calloc(1, sizeof(*ix));
        /* Canonical order (uid bytes) keeps "equal state => equal bytes" true for loaded files. */
        if (read_index(d, ix) != 0 || (prev != NULL && str_cmp(&prev->v.uid, &ix->v.uid) >= 0)) {
            sindex_free(ix);
            return bad(d, "index #%u is malformed, repeated or out of order", i);
        }
        sindex_link(d->s, ix);
        prev = ix;
    }
    return 0;
}

static int
r_key(struct rd *d, const char *key)
{
    const uint8_t *p;
    uint32_t n;
    if (mpr_str(&d->r, &p, &n) != 0 || !mp_str_eq(p, n, key))
        return bad(d, "expected key `%s`", key);
    return 0;
}

static int
read_header(struct rd *d)
{
    uint32_t n;
    const uint8_t *p;
    uint64_t version;
    struct folio_sched_state *s = d->s;
    if (mpr_container(&d->r, MPK_MAP, &n) != 0 || n != 8)
        return bad(d, "the state is not a map of 8 keys");
    if (r_key(d, "format") != 0 || mpr_str(&d->r, &p, &n) != 0 || !mp_str_eq(p, n, CANON_FORMAT))
        return bad(d, "not a `%s` serialisation", CANON_FORMAT);
    if (r_key(d, "version") != 0 || mpr_u64(&d->r, &version) != 0 || version != CANON_VERSION)
        return bad(d, "unknown state version");
    if (r_key(d, "last_seq") != 0 || mpr_u64(&d->r, &s->last_seq) != 0 ||
        r_key(d, "next_task_uid") != 0 || mpr_u64(&d->r, &s->next_task_uid) != 0 ||
        r_key(d, "next_batch_uid") != 0 || mpr_u64(&d->r, &s->next_batch_uid) != 0 ||
        s->next_task_uid > (uint64_t)FOLIO_SCHED_UID_MAX + 1 ||
        s->next_batch_uid > (uint64_t)FOLIO_SCHED_UID_MAX + 1)
        return bad(d, "malformed counters");
    return 0;
}

int
canon_read(const uint8_t *body, size_t len, struct ckpt_mem *mem, const struct canon_feed *feed,
           struct folio_sched_state **out, char *why, size_t why_len)
{
    struct folio_sched_state *s = folio_sched_state_new();
    struct rd d = {.r = {body, body + len}, .s = s, .why = why, .why_len = why_len,
                   .feed = feed, .fed = body};
    names_init(&d.kinds, kind_name_u, FOLIO_KIND_COUNT);
    names_init(&d.statuses, status_name_u, FOLIO_STATUS_COUNT);
    struct tindex *all[] = {&s->t_enqueued, &s->t_started, &s->t_finished,
                            &s->b_enqueued, &s->b_started, &s->b_finished};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(all); i++)
        all[i]->bulk = true;
    int rc = read_header(&d);
    if (rc == 0)
        rc = r_key(&d, "tasks") == 0 ? read_tasks(&d) : FOLIO_E_CORRUPT;
    if (rc == 0)
        rc = r_key(&d, "batches") == 0 ? read_batches(&d) : FOLIO_E_CORRUPT;
    if (rc == 0)
        rc = r_key(&d, "indexes") == 0 ? read_indexes(&d) : FOLIO_E_CORRUPT;
    if (rc == 0 && d.r.p != d.r.end)
        rc = bad(&d, "bytes after the state");
    feed_ahead(&d, true);
    task_linker_finish(d.linker); /* also after a failure: the state then frees the tasks */
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(all); i++)
        tindex_sort(all[i]);
    folio_free(d.runs);
    if (rc != 0) {
        folio_sched_state_free(s); /* its tasks borrow from *mem, which it does not own yet */
        return FOLIO_E_CORRUPT;
    }
    state_adopt_file(s, mem);
    *out = s;
    return 0;
}
