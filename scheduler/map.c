/*
 * The containers behind the state: a uint32 -> pointer hash map (tasks,
 * batches, cancelers by uid), a string -> pointer hash map (indexes, interned
 * index uids) and sorted (time, uid) arrays that answer the date filters of
 * GET /tasks and GET /batches.
 *
 * Both maps use open addressing with linear probing, a load factor of at
 * most 1/2 and backward-shift deletion (no tombstones), so lookups stay short
 * however many tasks come and go. A slot holds key and value side by side:
 * a lookup in a map of a million tasks costs one cache miss, not two. Their
 * size is bounded by the state's own limits (FOLIO_SCHED_TASKS_MAX living
 * tasks).
 *
 * An arena hands out zeroed memory in large chunks and frees it all at
 * once: the tasks loaded from a checkpoint live in one.
 *
 * A date index is mostly appended to (time moves forward), so inserting at
 * the end is O(1); an out-of-order time costs one memmove.
 */
#define _DEFAULT_SOURCE /* madvise */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "folio/common.h"
#include "sched_int.h"

static inline size_t
u32_slot(uint32_t key, size_t cap)
{
    return (size_t)((key * 0x9E3779B1u) ^ (key >> 16)) & (cap - 1);
}

/*
 * A large table is looked up at random (a million tasks: 32 MiB of slots),
 * and with small pages nearly every lookup is a TLB miss, expensive under
 * virtualisation; filling fresh memory also costs a page fault per 4 KiB.
 * So large tables and arena chunks ask for transparent huge pages; where
 * the kernel gives none, they work as before.
 */
#define HUGE_PAGE_BYTES (2u << 20)

/*
 * Zeroed memory, in huge pages where the kernel allows; freed with
 * folio_free; NULL if there is none. A large calloc is fresh zero pages not
 * yet touched, so advising its 2 MiB-aligned part before use is enough (and
 * nothing is zeroed twice).
 */
static void
huge_advise(void *p, size_t bytes)
{
    uintptr_t from = ((uintptr_t)p + HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(HUGE_PAGE_BYTES - 1);
    uintptr_t to = ((uintptr_t)p + bytes) & ~(uintptr_t)(HUGE_PAGE_BYTES - 1);
    if (to > from)
        (void)madvise((void *)from, to - from, MADV_HUGEPAGE); /* advice only */
}

static void *
huge_calloc_try(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (p != NULL)
        huge_advise(p, bytes);
    return p;
}

static void *
huge_calloc(size_t bytes)
{
    void *p = huge_calloc_try(bytes);
    if (p == NULL)
        FOLIO_PANIC("out of memory allocating %zu bytes", bytes);
    return p;
}

/* Rehashes into new_cap zeroed slots (a power of two above twice the entries). */
static void
u32map_rehash(struct u32map *m, struct u32map_slot *slots, size_t new_cap)
{
    size_t old_cap = m->cap;
    struct u32map_slot *old = m->slots;
    m->cap = new_cap;
    m->slots = slots;
    m->n = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].val != NULL)
            u32map_put(m, old[i].key, old[i].val);
    folio_free(old);
}

static void
u32map_grow(struct u32map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    u32map_rehash(m, huge_calloc(cap * sizeof(*m->slots)), cap);
}

/*
 * Best effort: n may come from a file not verified yet, so room that cannot
 * be had is not taken (the map then grows as it goes).
 */
void
u32map_reserve(struct u32map *m, size_t n)
{
    size_t cap = m->cap ? m->cap : 16;
    while (cap < 2 * (m->n + n) && cap <= SIZE_MAX / 4 / sizeof(*m->slots))
        cap *= 2;
    struct u32map_slot *slots = cap > m->cap ? huge_calloc_try(cap * sizeof(*slots)) : NULL;
    if (slots != NULL)
        u32map_rehash(m, slots, cap);
}

void
u32map_prefetch(const struct u32map *m, uint32_t key)
{
    if (m->cap > 0)
        __builtin_prefetch(&m->slots[u32_slot(key, m->cap)], 1);
}

void *
u32map_get(const struct u32map *m, uint32_t key)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = u32_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].val == NULL)
            return NULL;
        if (m->slots[i].key == key)
            return m->slots[i].val;
    }
}

void
u32map_put(struct u32map *m, uint32_t key, void *val)
{
    FOLIO_ASSERT(val != NULL);
    if ((m->n + 1) * 2 > m->cap)
        u32map_grow(m);
    size_t i = u32_slot(key, m->cap);
    while (m->slots[i].val != NULL && m->slots[i].key != key)
        i = (i + 1) & (m->cap - 1);
    if (m->slots[i].val == NULL)
        m->n++;
    m->slots[i] = (struct u32map_slot){key, val};
}

void *
u32map_del(struct u32map *m, uint32_t key)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    size_t i = u32_slot(key, m->cap);
    while (m->slots[i].val != NULL && m->slots[i].key != key)
        i = (i + 1) & mask;
    void *val = m->slots[i].val;
    if (val == NULL)
        return NULL;
    /* Backward shift: pull later members of the cluster into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->slots[j].val != NULL; j = (j + 1) & mask) {
        size_t home = u32_slot(m->slots[j].key, m->cap);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole] = (struct u32map_slot){0, NULL};
    m->n--;
    return val;
}

void
u32map_free(struct u32map *m)
{
    folio_free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* ---- arenas ------------------------------------------------------------ */

/*
 * A chunk of an arena: the memory follows the header. Chunks are large and
 * in huge pages, so a million small objects cost a few page faults and no
 * allocator calls.
 */
struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    size_t cap;
    _Alignas(16) uint8_t mem[];
};
_Static_assert(sizeof(struct arena_chunk) % 16 == 0, "arena memory starts 16-aligned");

#define ARENA_CHUNK_BYTES (8u << 20)

void *
arena_alloc(struct arena *a, size_t bytes)
{
    bytes = (bytes + 7) & ~(size_t)7;
    struct arena_chunk *c = a->chunks;
    if (c == NULL || c->cap - c->used < bytes) {
        size_t cap = ARENA_CHUNK_BYTES - sizeof(*c);
        if (bytes > cap)
            cap = bytes;
        c = huge_calloc(sizeof(*c) + cap);
        c->cap = cap;
        c->next = a->chunks;
        a->chunks = c;
    }
    void *p = c->mem + c->used;
    c->used += bytes;
    return p;
}

void
arena_free(struct arena *a)
{
    for (struct arena_chunk *c = a->chunks, *next; c != NULL; c = next) {
        next = c->next;
        folio_free(c);
    }
    a->chunks = NULL;
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

/* Best effort, as u32map_reserve. */
void
tindex_reserve(struct tindex *ti, size_t n)
{
    if (ti->cap - ti->n >= n || n > SIZE_MAX / sizeof(*ti->v) - ti->n)
        return;
    struct tentry *v = realloc(ti->v, (ti->n + n) * sizeof(*v));
    if (v != NULL) {
        huge_advise(v + ti->n, n * sizeof(*v)); /* the room not written yet */
        ti->v = v;
        ti->cap = ti->n + n;
    }
}

void
tindex_insert(struct tindex *ti, int64_t t, uint32_t uid)
{
    if (ti->n == ti->cap) {
        ti->cap = ti->cap ? ti->cap * 2 : 64;
        ti->v = folio_reallocarray(ti->v, ti->cap, sizeof(*ti->v));
    }
    size_t pos = ti->n;
    if (!ti->bulk && ti->n > 0 && tentry_less(t, uid, &ti->v[ti->n - 1])) {
        pos = tindex_lower(ti, t, uid);
        memmove(&ti->v[pos + 1], &ti->v[pos], (ti->n - pos) * sizeof(*ti->v));
    }
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

/*
 * Times mostly grow with uids, and a load appends in uid order, so the
 * index is often sorted already: one pass to check is cheaper than a sort.
 */
void
tindex_sort(struct tindex *ti)
{
    size_t i = 1;
    while (i < ti->n && !tentry_less(ti->v[i].t, ti->v[i].uid, &ti->v[i - 1]))
        i++;
    if (i < ti->n)
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
