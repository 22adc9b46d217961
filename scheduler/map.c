/*
 * The containers behind the state: a uint32 -> pointer hash map (tasks,
 * batches, cancelers by uid), a string -> pointer hash map (indexes, interned
 * index uids) and sorted (time, uid) arrays that answer the date filters of
 * GET /tasks and GET /batches.
 *
 * Both maps use open addressing with linear probing, a load factor of at
 * most 1/2 and backward-shift deletion (no tombstones), so lookups stay short
 * however many tasks come and go. Their size is bounded by the state's own
 * limits (FOLIO_SCHED_TASKS_MAX living tasks).
 *
 * A date index is mostly appended to (time moves forward), so inserting at
 * the end is O(1); an out-of-order time costs one memmove.
 */
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "sched_int.h"

static inline size_t
u32_slot(uint32_t key, size_t cap)
{
    return (size_t)((key * 0x9E3779B1u) ^ (key >> 16)) & (cap - 1);
}

static void
u32map_grow(struct u32map *m)
{
    size_t old_cap = m->cap;
    uint32_t *old_keys = m->keys;
    void **old_vals = m->vals;
    m->cap = old_cap ? old_cap * 2 : 16;
    m->keys = folio_calloc(m->cap, sizeof(*m->keys));
    m->vals = folio_calloc(m->cap, sizeof(*m->vals));
    m->n = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old_vals[i] != NULL)
            u32map_put(m, old_keys[i], old_vals[i]);
    folio_free(old_keys);
    folio_free(old_vals);
}

void *
u32map_get(const struct u32map *m, uint32_t key)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = u32_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->vals[i] == NULL)
            return NULL;
        if (m->keys[i] == key)
            return m->vals[i];
    }
}

void
u32map_put(struct u32map *m, uint32_t key, void *val)
{
    FOLIO_ASSERT(val != NULL);
    if ((m->n + 1) * 2 > m->cap)
        u32map_grow(m);
    size_t i = u32_slot(key, m->cap);
    while (m->vals[i] != NULL && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (m->vals[i] == NULL)
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

void *
u32map_del(struct u32map *m, uint32_t key)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    size_t i = u32_slot(key, m->cap);
    while (m->vals[i] != NULL && m->keys[i] != key)
        i = (i + 1) & mask;
    void *val = m->vals[i];
    if (val == NULL)
        return NULL;
    /* Backward shift: pull later members of the cluster into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->vals[j] != NULL; j = (j + 1) & mask) {
        size_t home = u32_slot(m->keys[j], m->cap);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            hole = j;
        }
    }
    m->vals[hole] = NULL;
    m->n--;
    return val;
}

void
u32map_free(struct u32map *m)
{
    folio_free(m->keys);
    folio_free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---- strings ----------------------------------------------------------- */

static uint32_t
str_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

static void
strmap_grow(struct strmap *m)
{
    size_t old_cap = m->cap;
    struct strmap_slot *old = m->slots;
    m->cap = old_cap ? old_cap * 2 : 16;
    m->slots = folio_calloc(m->cap, sizeof(*m->slots));
    m->n = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].val != NULL)
            strmap_put(m, old[i].key, old[i].len, old[i].val);
    folio_free(old);
}

static size_t
strmap_find(const struct strmap *m, const char *key, size_t len, uint32_t h)
{
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].val != NULL &&
           !(m->slots[i].hash == h && m->slots[i].len == len && memcmp(m->slots[i].key, key, len) == 0))
        i = (i + 1) & mask;
    return i;
}

void *
strmap_get(const struct strmap *m, const char *key, size_t len)
{
    if (m->cap == 0)
        return NULL;
    return m->slots[strmap_find(m, key, len, str_hash(key, len))].val;
}

void
strmap_put(struct strmap *m, const char *key, size_t len, void *val)
{
    FOLIO_ASSERT(val != NULL && len <= UINT32_MAX);
    if ((m->n + 1) * 2 > m->cap)
        strmap_grow(m);
    uint32_t h = str_hash(key, len);
    size_t i = strmap_find(m, key, len, h);
    if (m->slots[i].val == NULL)
        m->n++;
    m->slots[i] = (struct strmap_slot){key, (uint32_t)len, h, val};
}

void *
strmap_del(struct strmap *m, const char *key, size_t len)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    size_t i = strmap_find(m, key, len, str_hash(key, len));
    void *val = m->slots[i].val;
    if (val == NULL)
        return NULL;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->slots[j].val != NULL; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    memset(&m->slots[hole], 0, sizeof(m->slots[hole]));
    m->n--;
    return val;
}

void
strmap_free(struct strmap *m)
{
    folio_free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* ---- date indexes ------------------------------------------------------ */

static inline bool
tentry_less(int64_t t, uint32_t uid, const struct tentry *e)
{
    return t < e->t || (t == e->t && uid < e->uid);
}

/* First position whose entry is not less than (t, uid). */
static size_t
tindex_lower(const struct tindex *ti, int64_t t, uint32_t uid)
{
    size_t lo = 0, hi = ti->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct tentry *e = &ti->v[mid];
        if (e->t < t || (e->t == t && e->uid < uid))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void
tindex_insert(struct tindex *ti, int64_t t, uint32_t uid)
{
    if (ti->n == ti->cap) {
        ti->cap = ti->cap ? ti->cap * 2 : 64;
        ti->v = folio_reallocarray(ti->v, ti->cap, sizeof(*ti->v));
    }
    size_t pos = ti->n;
    if (!ti->bulk && ti->n > 0 && tentry_less(t, uid, &ti->v[ti->n - 1]))
        pos = tindex_lower(ti, t, uid);
    memmove(&ti->v[pos + 1], &ti->v[pos], (ti->n - pos) * sizeof(*ti->v));
    ti->v[pos] = (struct tentry){t, uid};
    ti->n++;
}

void
tindex_remove(struct tindex *ti, int64_t t, uint32_t uid)
{
    size_t pos = tindex_lower(ti, t, uid);
    FOLIO_ASSERT(pos < ti->n && ti->v[pos].t == t && ti->v[pos].uid == uid);
    memmove(&ti->v[pos], &ti->v[pos + 1], (ti->n - pos - 1) * sizeof(*ti->v));
    ti->n--;
}

void
tindex_remove_set(struct tindex *ti, const roaring_bitmap_t *gone)
{
    size_t k = 0;
    for (size_t i = 0; i < ti->n; i++)
        if (!roaring_bitmap_contains(gone, ti->v[i].uid))
            ti->v[k++] = ti->v[i];
    ti->n = k;
}

static int
tentry_cmp(const void *a, const void *b)
{
    const struct tentry *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

void
tindex_sort(struct tindex *ti)
{
    if (ti->n > 1)
        qsort(ti->v, ti->n, sizeof(*ti->v), tentry_cmp);
    ti->bulk = false;
}

void
tindex_free(struct tindex *ti)
{
    folio_free(ti->v);
    memset(ti, 0, sizeof(*ti));
}

/* First position with time > t. */
static size_t
tindex_after(const struct tindex *ti, int64_t t)
{
    if (t == INT64_MAX)
        return ti->n;
    return tindex_lower(ti, t + 1, 0);
}

static void
add_uids(roaring_bitmap_t *r, const struct tentry *v, size_t n)
{
    uint32_t buf[256];
    while (n > 0) {
        size_t k = n < 256 ? n : 256;
        for (size_t i = 0; i < k; i++)
            buf[i] = v[i].uid;
        roaring_bitmap_add_many(r, k, buf);
        v += k;
        n -= k;
    }
}

roaring_bitmap_t *
tindex_range(const struct tindex *ti, const struct folio_sched_time_bound *after,
             const struct folio_sched_time_bound *before, const roaring_bitmap_t *all)
{
    size_t lo = after->set ? tindex_after(ti, after->ns) : 0;
    size_t hi = before->set ? tindex_lower(ti, before->ns, 0) : ti->n;
    if (hi < lo)
        hi = lo;
    size_t inside = hi - lo;
    if (inside <= ti->n - inside) {
        roaring_bitmap_t *r = roaring_bitmap_create();
        add_uids(r, ti->v + lo, inside);
        return r;
    }
    /* Most of the index matches: take the few that fall outside out of `all`. */
    roaring_bitmap_t *out = roaring_bitmap_create();
    add_uids(out, ti->v, lo);
    add_uids(out, ti->v + hi, ti->n - hi);
    roaring_bitmap_t *r = roaring_bitmap_andnot(all, out);
    roaring_bitmap_free(out);
    return r;
}
