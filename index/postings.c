/*
 * Posting-list change sets. A write records, for each document it adds or
 * removes, which posting lists gain or lose that document's internal id; at
 * the end (or when the set grows large) the set is applied to the env:
 * stored = (stored - removed) | added, an empty result deletes the key.
 * Keeping the changes in memory means one read-modify-write per touched
 * list per write instead of one per document.
 *
 * Invariants kept here:
 *   - for one key, an id is in at most one of `add` and `del`: the latest
 *     change wins, so removing then re-adding a document (a replace) in one
 *     write is right whatever the stored list held;
 *   - a document's entries are derived from its JSON and the search
 *     configuration only (postings_doc), so removing a stored document with
 *     the configuration it was indexed with removes exactly what adding it
 *     put there (a configuration change rebuilds the lists: search_store.c);
 *   - the change set stays bounded: postings_full says when to flush.
 *
 * Cost: a write of one small document touches a few dozen keys with one id
 * each, and a batch merges thousands of such sets, mostly with ids in
 * increasing order. So the ids of a key are an idset (below: a sorted array,
 * the first two inline, a roaring bitmap only once it is large), keys live in
 * an arena freed all at once, and the empty set of a merged write is kept for
 * the batch's next write (postings_recycle) instead of being freed and made
 * again.
 *
 * What a document contributes (docs/index-format.md, "Search structures"):
 * for each string or number leaf under a searchable path, each word of its
 * text in `words` and in `word_ranks` at the path's rank; for each
 * filterable path, an `exists` entry for every node (objects, arrays and
 * null included) and a value entry for each scalar (strings and booleans as
 * normalised strings, numbers as doubles); its id in `document_ids`.
 * Paths longer than INDEX_PATH_BYTES_MAX bytes are not indexed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

#define POSTINGS_ENTRIES_MAX (1u << 20)
#define POSTINGS_OPS_MAX (1u << 25)

/* ---- id sets ----------------------------------------------------------------- */

#define IDSET_INLINE 2u
#define IDSET_BITMAP UINT32_MAX

static uint32_t *
idset_ids(struct idset *s)
{
    return s->cap == 0 ? s->u.inl : s->u.ids;
}

static const uint32_t *
idset_cids(const struct idset *s)
{
    return s->cap == 0 ? s->u.inl : s->u.ids;
}

static bool
idset_is_bitmap(const struct idset *s)
{
    return s->cap == IDSET_BITMAP;
}

void
idset_release(struct idset *s)
{
    if (idset_is_bitmap(s))
        roaring_bitmap_free(s->u.bm);
    else if (s->cap != 0)
        folio_free(s->u.ids);
    memset(s, 0, sizeof(*s));
}

bool
idset_is_empty(const struct idset *s)
{
    return idset_is_bitmap(s) ? roaring_bitmap_is_empty(s->u.bm) : s->n == 0;
}

uint64_t
idset_count(const struct idset *s)
{
    return idset_is_bitmap(s) ? roaring_bitmap_get_cardinality(s->u.bm) : s->n;
}

/* The position of id in the array, or where it would go; *found says which. */
static uint32_t
idset_find(const struct idset *s, uint32_t id, bool *found)
{
    const uint32_t *a = idset_cids(s);
    uint32_t lo = 0, hi = s->n;
    if (hi > 0 && a[hi - 1] < id) { /* appending: the common case */
        *found = false;
        return hi;
    }
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->n && a[lo] == id;
    return lo;
}

bool
idset_contains(const struct idset *s, uint32_t id)
{
    if (idset_is_bitmap(s))
        return roaring_bitmap_contains(s->u.bm, id);
    bool found;
    idset_find(s, id, &found);
    return found;
}

/* Makes s a bitmap (an empty one too). */
roaring_bitmap_t *
idset_bitmap(struct idset *s)
{
    if (idset_is_bitmap(s))
        return s->u.bm;
    roaring_bitmap_t *bm = roaring_bitmap_of_ptr(s->n, idset_cids(s));
    if (s->cap != 0)
        folio_free(s->u.ids);
    s->n = 0;
    s->cap = IDSET_BITMAP;
    s->u.bm = bm;
    return bm;
}

void
idset_add(struct idset *s, uint32_t id)
{
    if (idset_is_bitmap(s)) {
        roaring_bitmap_add(s->u.bm, id);
        return;
    }
    bool found;
    uint32_t at = idset_find(s, id, &found);
    if (found)
        return;
    if (s->n >= IDSET_ARRAY_MAX) {
        roaring_bitmap_add(idset_bitmap(s), id);
        return;
    }
    uint32_t cap = s->cap == 0 ? IDSET_INLINE : s->cap;
    if (s->n == cap) {
        uint32_t grown = cap * 2 > IDSET_ARRAY_MAX ? IDSET_ARRAY_MAX : cap * 2;
        uint32_t *ids = folio_reallocarray(s->cap == 0 ? NULL : s->u.ids, grown, sizeof(*ids));
        if (s->cap == 0)
            memcpy(ids, s->u.inl, s->n * sizeof(*ids));
        s->u.ids = ids;
        s->cap = grown;
    }
    uint32_t *a = idset_ids(s);
    memmove(a + at + 1, a + at, (s->n - at) * sizeof(*a));
    a[at] = id;
    s->n++;
}

void
idset_remove(struct idset *s, uint32_t id)
{
    if (idset_is_bitmap(s)) {
        roaring_bitmap_remove(s->u.bm, id);
        return;
    }
    bool found;
    uint32_t at = idset_find(s, id, &found);
    if (!found)
        return;
    uint32_t *a = idset_ids(s);
    memmove(a + at, a + at + 1, (s->n - at - 1) * sizeof(*a));
    s->n--;
}

void
idset_andnot(struct idset *dst, const struct idset *src)
{
    if (idset_is_empty(dst) || idset_is_empty(src))
        return;
    if (idset_is_bitmap(src)) {
        if (idset_is_bitmap(dst)) {
            roaring_bitmap_andnot_inplace(dst->u.bm, src->u.bm);
            return;
        }
        uint32_t *a = idset_ids(dst), kept = 0;
        for (uint32_t i = 0; i < dst->n; i++)
            if (!roaring_bitmap_contains(src->u.bm, a[i]))
                a[kept++] = a[i];
        dst->n = kept;
        return;
    }
    if (idset_is_bitmap(dst)) {
        roaring_bitmap_remove_many(dst->u.bm, src->n, idset_cids(src));
        return;
    }
    /* Two sorted arrays: one pass. */
    uint32_t *a = idset_ids(dst), kept = 0;
    const uint32_t *b = idset_cids(src);
    uint32_t j = 0;
    for (uint32_t i = 0; i < dst->n; i++) {
        while (j < src->n && b[j] < a[i])
            j++;
        if (j < src->n && b[j] == a[i])
            continue;
        a[kept++] = a[i];
    }
    dst->n = kept;
}

void
idset_take(struct idset *dst, struct idset *src)
{
    if (idset_is_empty(src)) {
        idset_release(src);
        return;
    }
    if (idset_is_empty(dst)) {
        idset_release(dst);
        *dst = *src;
        memset(src, 0, sizeof(*src));
        return;
    }
    if (idset_is_bitmap(src)) {
        roaring_bitmap_or_inplace(idset_bitmap(dst), src->u.bm);
    } else if (idset_is_bitmap(dst)) {
        roaring_bitmap_add_many(dst->u.bm, src->n, idset_cids(src));
    } else {
        const uint32_t *b = idset_cids(src);
        for (uint32_t i = 0; i < src->n; i++)
            idset_add(dst, b[i]);
    }
    idset_release(src);
}

/* bm = (bm - del) | add. */
static void
idset_apply_to(roaring_bitmap_t *bm, const struct idset *del, const struct idset *add)
{
    if (idset_is_bitmap(del))
        roaring_bitmap_andnot_inplace(bm, del->u.bm);
    else if (del->n > 0)
        roaring_bitmap_remove_many(bm, del->n, idset_cids(del));
    if (idset_is_bitmap(add))
        roaring_bitmap_or_inplace(bm, add->u.bm);
    else if (add->n > 0)
        roaring_bitmap_add_many(bm, add->n, idset_cids(add));
}

/* ---- the change set: a hash table of keys ---------------------------------------- */

struct pentry {
    uint8_t *key; /* tag byte, then the database key (in the arena) */
    uint32_t key_len;
    uint64_t hash;
    struct idset add;
    struct idset del;
};

/* Keys are allocated from chunks freed together (entries_free). */
struct key_chunk {
    struct key_chunk *next;
    size_t cap;
    uint8_t bytes[];
};

#define KEY_CHUNK_MIN 1024u
#define KEY_CHUNK_MAX (256u << 10)
#define RECYCLE_CAP_MAX 1024u /* a write's set larger than this is not kept for reuse */

struct postings {
    struct search_config cfg;
    unsigned parts;
    struct pentry *slots; /* open addressing, linear probing; key NULL = free */
    size_t cap;           /* a power of two */
    size_t count;
    uint64_t ops;
    struct key_chunk *chunks; /* newest first; keys are in chunks->bytes[0, used) */
    size_t used;
    struct postings *spare; /* an empty set like this one, for postings_new_like */
    struct field_tally *fields; /* a batch's deferred field distribution deltas, or NULL */
    struct field_tally *spare_fields; /* an empty tally for the batch's next write */
};

/* An empty set; its cfg is the caller's to fill. */
static struct postings *
postings_empty(unsigned parts)
{
    struct postings *p = folio_calloc(1, sizeof(*p));
    p->parts = parts;
    p->cap = 64; /* most change sets are one small document's: grown on demand */
    p->slots = folio_calloc(p->cap, sizeof(*p->slots));
    return p;
}

struct postings *
postings_new(const json_t *overrides, unsigned parts)
{
    struct postings *p = postings_empty(parts);
    search_config_init(&p->cfg, overrides);
    return p;
}

struct postings *
postings_new_like(struct postings *model)
{
    struct postings *p = model->spare;
    if (p != NULL) {
        model->spare = NULL;
        FOLIO_ASSERT(p->count == 0 && p->parts == model->parts);
        return p;
    }
    p = postings_empty(model->parts);
    search_config_copy(&p->cfg, &model->cfg);
    return p;
}

static uint8_t *
key_alloc(struct postings *p, size_t len)
{
    struct key_chunk *c = p->chunks;
    if (c == NULL || c->cap - p->used < len) {
        size_t cap = c == NULL ? KEY_CHUNK_MIN : c->cap * 2;
        if (cap > KEY_CHUNK_MAX)
            cap = KEY_CHUNK_MAX;
        if (cap < len)
            cap = len;
        struct key_chunk *n = folio_malloc(sizeof(*n) + cap);
        n->next = c;
        n->cap = cap;
        p->chunks = n;
        p->used = 0;
        c = n;
    }
    uint8_t *k = c->bytes + p->used;
    p->used += len;
    return k;
}

/* Empties the set; the newest key chunk stays (small sets reuse it). */
static void
entries_free(struct postings *p)
{
    if (p->count > 0) {
        for (size_t i = 0; i < p->cap; i++) {
            struct pentry *e = &p->slots[i];
            if (e->key == NULL)
                continue;
            idset_release(&e->add);
            idset_release(&e->del);
            e->key = NULL;
        }
    }
    struct key_chunk *c = p->chunks;
    if (c != NULL) {
        struct key_chunk *older = c->next;
        c->next = NULL;
        while (older != NULL) {
            struct key_chunk *next = older->next;
            folio_free(older);
            older = next;
        }
    }
    p->used = 0;
    p->count = 0;
    p->ops = 0;
}

void
postings_free(struct postings *p)
{
    if (p == NULL)
        return;
    postings_free(p->spare);
    field_tally_free(p->fields);
    field_tally_free(p->spare_fields);
    entries_free(p);
    folio_free(p->chunks);
    folio_free(p->slots);
    search_config_release(&p->cfg);
    folio_free(p);
}

void
postings_recycle(struct postings *model, struct postings *p)
{
    if (p == NULL)
        return;
    entries_free(p);
    postings_free(p->spare);
    p->spare = NULL;
    field_tally_free(p->fields);
    p->fields = NULL;
    if (model->spare != NULL || p->cap > RECYCLE_CAP_MAX || p->parts != model->parts) {
        postings_free(p);
        return;
    }
    model->spare = p;
}

bool
postings_full(const struct postings *p)
{
    return p->count >= POSTINGS_ENTRIES_MAX || p->ops >= POSTINGS_OPS_MAX ||
           (p->fields != NULL && field_tally_full(p->fields));
}

void
postings_take_fields(struct postings *p, struct field_tally *t)
{
    if (p->fields == NULL) {
        p->fields = t;
        return;
    }
    field_tally_merge(p->fields, t);
    if (p->spare_fields == NULL && field_tally_reusable(t))
        p->spare_fields = t; /* empty now: the next write's */
    else
        field_tally_free(t);
}

struct field_tally *
postings_spare_fields(struct postings *p)
{
    struct field_tally *t = p->spare_fields;
    p->spare_fields = NULL;
    return t;
}

static void
table_grow(struct postings *p)
{
    struct pentry *old = p->slots;
    size_t old_cap = p->cap;
    p->cap *= 2;
    p->slots = folio_calloc(p->cap, sizeof(*p->slots));
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key == NULL)
            continue;
        size_t j = old[i].hash & (p->cap - 1);
        while (p->slots[j].key != NULL)
            j = (j + 1) & (p->cap - 1);
        p->slots[j] = old[i];
    }
    folio_free(old);
}

/* The entry of key (tag + bytes) of hash h, made when absent and make is set. */
static struct pentry *
table_find_hashed(struct postings *p, const uint8_t *key, size_t len, uint64_t h, bool make)
{
    for (;;) {
        size_t j = h & (p->cap - 1);
        for (; p->slots[j].key != NULL; j = (j + 1) & (p->cap - 1)) {
            struct pentry *e = &p->slots[j];
            if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
                return e;
        }
        if (!make)
            return NULL;
        if (2 * (p->count + 1) > p->cap) {
            table_grow(p);
            continue;
        }
        struct pentry *e = &p->slots[j];
        e->key = key_alloc(p, len);
        memcpy(e->key, key, len);
        e->key_len = (uint32_t)len;
        e->hash = h;
        p->count++;
        return e;
    }
}

static struct pentry *
table_find(struct postings *p, const uint8_t *key, size_t len, bool make)
{
    return table_find_hashed(p, key, len, XXH3_64bits(key, len), make);
}

static void
table_change(struct postings *p, const uint8_t *key, size_t len, uint32_t iid, bool add)
{
    struct pentry *e = table_find(p, key, len, true);
    /* The latest change wins: the id leaves the other set. */
    idset_add(add ? &e->add : &e->del, iid);
    idset_remove(add ? &e->del : &e->add, iid);
    p->ops++;
}

void
postings_merge(struct postings *dst, struct postings *src)
{
    FOLIO_ASSERT(dst->parts == src->parts);
    /*
     * dst is large (a batch's), src small (a write's): room first, so that no
     * rehash comes in between, then the slots src's keys start probing at are
     * fetched ahead, while the loop below works on the earlier ones.
     */
    while (2 * (dst->count + src->count) > dst->cap)
        table_grow(dst);
    for (size_t i = 0; i < src->cap; i++)
        if (src->slots[i].key != NULL)
            __builtin_prefetch(&dst->slots[src->slots[i].hash & (dst->cap - 1)]);
    for (size_t i = 0; i < src->cap; i++) {
        struct pentry *e = &src->slots[i];
        if (e->key == NULL)
            continue;
        struct pentry *d = table_find_hashed(dst, e->key, e->key_len, e->hash, true);
        /* The later change wins: what src adds leaves dst's del, what it removes dst's add. */
        idset_andnot(&d->del, &e->add);
        idset_andnot(&d->add, &e->del);
        idset_take(&d->add, &e->add);
        idset_take(&d->del, &e->del);
    }
    dst->ops += src->ops;
    entries_free(src);
    if (src->fields != NULL) {
        postings_take_fields(dst, src->fields);
        src->fields = NULL;
    }
}

/* ---- walking a document ------------------------------------------------- */

struct walk {
    struct postings *p;
    uint32_t iid;
    bool add;
    char path[INDEX_PATH_BYTES_MAX + 1];
    size_t path_len;
    int rank; /* of the current leaf; -1: not searchable */
    uint8_t key[1 + INDEX_PATH_BYTES_MAX + 2 + INDEX_FACET_STRING_BYTES_MAX + 8];
};

static int
word_seen(void *ctx, const char *word, size_t len)
{
    struct walk *wk = ctx;
    if (len > INDEX_WORD_BYTES_MAX)
        return FOLIO_OK;
    uint8_t key[1 + INDEX_WORD_BYTES_MAX + 3];
    key[0] = PTAG_WORD;
    memcpy(key + 1, word, len);
    table_change(wk->p, key, 1 + len, wk->iid, wk->add);
    key[0] = PTAG_RANK;
    key[1 + len] = 0;
    key[2 + len] = (uint8_t)(wk->rank >> 8);
    key[3 + len] = (uint8_t)wk->rank;
    table_change(wk->p, key, 4 + len, wk->iid, wk->add);
    return FOLIO_OK;
}

/* The decimal digits of an integer, as json_out writes it ("%lld"). */
static size_t
integer_text(json_int_t i, char *buf)
{
    char tmp[24];
    size_t n = 0, len = 0;
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (i < 0)
        buf[len++] = '-';
    while (n > 0)
        buf[len++] = tmp[--n];
    return len;
}

/* The text of a number as the document stores it (integers exactly). */
static size_t
number_text(const json_t *v, char *buf, size_t cap)
{
    if (json_is_integer(v)) /* the common case, without a buffer to allocate */
        return integer_text(json_integer_value(v), buf);
    struct dbuf b;
    dbuf_init(&b, cap - 1);
    size_t n = 0;
    if (json_out(&b, v) == FOLIO_OK) {
        n = b.len;
        memcpy(buf, b.data, n);
    }
    dbuf_release(&b);
    return n;
}

static int
index_text(struct walk *wk, const json_t *v, struct folio_index_error *err)
{
    if (wk->rank < 0 || !(wk->p->parts & POSTINGS_WORDS))
        return FOLIO_OK;
    if (json_is_string(v) && !json_is_u64(v)) {
        int rc = text_words(json_string_value(v), json_string_length(v), word_seen, wk, NULL);
        if (rc != FOLIO_OK)
            return index_errorf(err, FOLIO_E_CORRUPT, "A stored document holds invalid UTF-8.");
        return FOLIO_OK;
    }
    if (json_is_number(v) || json_is_u64(v)) {
        char num[64];
        size_t n = number_text(v, num, sizeof(num));
        return text_words(num, n, word_seen, wk, NULL);
    }
    return FOLIO_OK;
}

/* Key of a facet entry of the current path: tag, path, NUL, type, value. */
static void
facet_change(struct walk *wk, char type, const void *value, size_t value_len)
{
    uint8_t *k = wk->key;
    k[0] = PTAG_FACET;
    memcpy(k + 1, wk->path, wk->path_len);
    k[1 + wk->path_len] = 0;
    k[2 + wk->path_len] = (uint8_t)type;
    if (value_len > 0)
        memcpy(k + 3 + wk->path_len, value, value_len);
    table_change(wk->p, k, 3 + wk->path_len + value_len, wk->iid, wk->add);
}

void
facet_number_encode(double d, uint8_t out[8])
{
    if (d == 0)
        d = 0; /* -0.0 and 0.0 are one value */
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    bits = (bits >> 63) ? ~bits : bits | (1ull << 63);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(bits >> (56 - 8 * i));
}

double
facet_number_value(const json_t *v)
{
    if (json_is_u64(v)) {
        size_t n = 0;
        const char *digits = json_u64_digits(v, &n);
        char buf[32];
        memcpy(buf, digits, n);
        buf[n] = '\0';
        return strtod(buf, NULL);
    }
    return json_number_value(v);
}

static int
index_facet(struct walk *wk, const json_t *v, struct folio_index_error *err)
{
    if (!(wk->p->parts & POSTINGS_FACETS) ||
        !search_config_filterable(&wk->p->cfg, wk->path, wk->path_len))
        return FOLIO_OK;
    facet_change(wk, FACET_EXISTS, NULL, 0);
    if (json_is_u64(v) || json_is_number(v)) {
        uint8_t enc[8];
        facet_number_encode(facet_number_value(v), enc);
        facet_change(wk, FACET_NUMBER, enc, sizeof(enc));
    } else if (json_is_string(v)) {
        char norm[INDEX_FACET_STRING_BYTES_MAX];
        size_t n = 0;
        if (text_facet_string(json_string_value(v), json_string_length(v), norm, &n) != FOLIO_OK)
            return index_errorf(err, FOLIO_E_CORRUPT, "A stored document holds invalid UTF-8.");
        facet_change(wk, FACET_STRING, norm, n);
    } else if (json_is_boolean(v)) {
        facet_change(wk, FACET_STRING, json_is_true(v) ? "true" : "false",
                     json_is_true(v) ? 4 : 5);
    }
    return FOLIO_OK;
}

static int walk_value(struct walk *wk, const json_t *v, size_t top, struct folio_index_error *err);

/* Appends .key (or key at the top) to the path; false when it gets too long. */
static bool
path_push(struct walk *wk, const char *key, size_t *saved)
{
    size_t n = strlen(key);
    size_t dot = wk->path_len > 0 ? 1 : 0;
    *saved = wk->path_len;
    if (wk->path_len + dot + n > INDEX_PATH_BYTES_MAX)
        return false;
    if (dot)
        wk->path[wk->path_len] = '.';
    memcpy(wk->path + wk->path_len + dot, key, n);
    wk->path_len += dot + n;
    return true;
}

static int
walk_object(struct walk *wk, const json_t *obj, bool top_level, size_t top,
            struct folio_index_error *err)
{
    const char *key;
    json_t *value;
    size_t position = 0;
    int rc = FOLIO_OK;
    json_object_foreach((json_t *)obj, key, value) {
        size_t saved;
        if (path_push(wk, key, &saved))
            rc = walk_value(wk, value, top_level ? position : top, err);
        wk->path_len = saved;
        position++;
        if (rc != FOLIO_OK)
            break;
    }
    return rc;
}

/* A node at the current path (never the root). */
static int
walk_value(struct walk *wk, const json_t *v, size_t top, struct folio_index_error *err)
{
    int rc = index_facet(wk, v, err); /* exists for every node; values for scalars */
    if (rc != FOLIO_OK)
        return rc;
    if (json_is_object(v))
        return walk_object(wk, v, false, top, err);
    if (json_is_array(v)) {
        /* Elements share the array's path (their `exists` entry is the array's). */
        for (size_t i = 0; i < json_array_size(v) && rc == FOLIO_OK; i++)
            rc = walk_value(wk, json_array_get(v, i), top, err);
        return rc;
    }
    wk->rank = search_config_rank(&wk->p->cfg, wk->path, wk->path_len, top);
    return index_text(wk, v, err);
}

int
postings_doc(struct postings *p, uint32_t iid, const json_t *doc, bool add,
             struct folio_index_error *err)
{
    FOLIO_ASSERT(json_is_object(doc));
    struct walk walk, *wk = &walk; /* under a kilobyte */
    wk->p = p;
    wk->iid = iid;
    wk->add = add;
    wk->path_len = 0;
    wk->rank = -1;
    int rc = walk_object(wk, doc, true, 0, err);
    if (rc == FOLIO_OK && (p->parts & POSTINGS_IDS)) {
        uint8_t tag = PTAG_IDS;
        table_change(p, &tag, 1, iid, add);
    }
    return rc;
}

/* ---- applying a change set ------------------------------------------------ */

static int
entry_cmp(const void *a, const void *b)
{
    const struct pentry *x = *(struct pentry *const *)a, *y = *(struct pentry *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c != 0 ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* The first 8 bytes of e's key, big-endian, zero-padded: ordered as the keys are, or equal. */
static uint64_t
key_prefix(const struct pentry *e)
{
    uint64_t v = 0;
    size_t n = e->key_len < 8 ? e->key_len : 8;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)e->key[i] << (56 - 8 * i);
    return v;
}

#define ORDER_RUN_INSERTION_MAX 16u

/*
 * Sorts entries by key (entry_cmp's order): a radix sort of the 8-byte
 * prefixes, byte by byte from the last, skipping bytes all prefixes share;
 * then each run of equal prefixes by the whole key.
 */
static void
order_sort(struct pentry **order, size_t n)
{
    if (n < 2)
        return;
    uint64_t *pre = folio_malloc(2 * n * sizeof(*pre));
    struct pentry **tmp = folio_malloc(n * sizeof(*tmp));
    uint64_t *pre_tmp = pre + n;
    for (size_t i = 0; i < n; i++)
        pre[i] = key_prefix(order[i]);
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(pre[i] >> shift) & 0xFF]++;
        if (count[(pre[0] >> shift) & 0xFF] == n)
            continue; /* one value for every prefix: nothing to move */
        size_t at = 0;
        for (unsigned b = 0; b < 256; b++) {
            size_t c = count[b];
            count[b] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++) {
            size_t to = count[(pre[i] >> shift) & 0xFF]++;
            tmp[to] = order[i];
            pre_tmp[to] = pre[i];
        }
        memcpy(order, tmp, n * sizeof(*order));
        memcpy(pre, pre_tmp, n * sizeof(*pre));
    }
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && pre[b] == pre[a])
            b++;
        if (b - a > ORDER_RUN_INSERTION_MAX) {
            qsort(order + a, b - a, sizeof(*order), entry_cmp);
        } else {
            for (size_t i = a + 1; i < b; i++) {
                struct pentry *e = order[i];
                size_t j = i;
                for (; j > a && entry_cmp(&order[j - 1], &e) > 0; j--)
                    order[j] = order[j - 1];
                order[j] = e;
            }
        }
        a = b;
    }
#ifndef NDEBUG
    for (size_t i = 1; i < n; i++) /* the keys of a set are distinct */
        FOLIO_ASSERT(entry_cmp(&order[i - 1], &order[i]) < 0);
#endif
    folio_free(tmp);
    folio_free(pre);
}

/* The database, key and name of a tagged key. */
static void
entry_target(const struct folio_index *idx, const struct pentry *e, MDB_dbi *dbi,
             MDB_val *key, const char **name)
{
    key->mv_data = e->key + 1;
    key->mv_size = e->key_len - 1;
    switch (e->key[0]) {
    case PTAG_WORD:
        *dbi = idx->dbi_words;
        *name = INDEX_DB_WORDS;
        break;
    case PTAG_RANK:
        *dbi = idx->dbi_word_ranks;
        *name = INDEX_DB_WORD_RANKS;
        break;
    case PTAG_FACET:
        *dbi = idx->dbi_facets;
        *name = INDEX_DB_FACETS;
        break;
    default:
        FOLIO_ASSERT(e->key[0] == PTAG_IDS);
        *dbi = idx->dbi_meta;
        key->mv_data = (void *)META_DOCUMENT_IDS;
        key->mv_size = strlen(META_DOCUMENT_IDS);
        *name = "document_ids";
        break;
    }
}

/*
 * Applies e through cur, a cursor on e's database: one lookup finds the
 * stored list, and the write that follows starts from where the cursor is
 * (in key order, mostly the same page).
 */
static int
entry_apply(MDB_cursor *cur, struct pentry *e, const MDB_val *key, const char *name,
            struct folio_index_error *err)
{
    MDB_val k = *key, v;
    roaring_bitmap_t *stored = NULL;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
    bool found = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return index_mdb_error(err, rc, "reading a posting list");
    if (found) {
        rc = bitmap_decode(v.mv_data, v.mv_size, &stored, err, name);
        if (rc != FOLIO_OK)
            return rc;
    } else {
        if (idset_is_empty(&e->add))
            return FOLIO_OK; /* removing from nothing */
        stored = roaring_bitmap_create();
    }
    idset_apply_to(stored, &e->del, &e->add);
    rc = bitmap_cursor_put(cur, key->mv_data, key->mv_size, found, stored, err);
    roaring_bitmap_free(stored);
    return rc;
}

int
postings_flush(struct postings *p, MDB_txn *txn, struct folio_index *idx,
               struct folio_index_error *err)
{
    int rc = postings_apply(p, txn, idx, err);
    entries_free(p);
    field_tally_free(p->fields);
    p->fields = NULL;
    return rc;
}

static int lists_apply(struct postings *p, MDB_txn *txn, struct folio_index *idx,
                       struct folio_index_error *err);

int
postings_apply(struct postings *p, MDB_txn *txn, struct folio_index *idx,
               struct folio_index_error *err)
{
    FOLIO_ASSERT(idx->has_search);
    int rc = lists_apply(p, txn, idx, err);
    if (rc == FOLIO_OK && p->fields != NULL) {
        FOLIO_ASSERT(idx->has_fields);
        rc = field_tally_apply(p->fields, txn, idx->dbi_fields, err);
    }
    return rc;
}

/* The posting lists of postings_apply. */
static int
lists_apply(struct postings *p, MDB_txn *txn, struct folio_index *idx,
            struct folio_index_error *err)
{
    if (p->count == 0)
        return FOLIO_OK;
    /* In key order: LMDB writes its pages in order, the cheapest way. */
    struct pentry **order = folio_calloc(p->count, sizeof(*order));
    size_t n = 0;
    for (size_t i = 0; i < p->cap; i++)
        if (p->slots[i].key != NULL)
            order[n++] = &p->slots[i];
    FOLIO_ASSERT(n == p->count);
    order_sort(order, n);
    int rc = FOLIO_OK;
    MDB_cursor *cur = NULL;
    MDB_dbi cur_dbi = 0;
    for (size_t i = 0; i < n && rc == FOLIO_OK; i++) {
        MDB_dbi dbi;
        MDB_val key;
        const char *name;
        entry_target(idx, order[i], &dbi, &key, &name);
        if (cur == NULL || dbi != cur_dbi) { /* keys are grouped by database (tag) */
            if (cur != NULL)
                mdb_cursor_close(cur);
            cur = NULL;
            int mrc = mdb_cursor_open(txn, dbi, &cur);
            if (mrc != 0) {
                rc = index_mdb_error(err, mrc, "writing a posting list");
                break;
            }
            cur_dbi = dbi;
        }
        rc = entry_apply(cur, order[i], &key, name, err);
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    folio_free(order);
    return rc;
}

/* ---- for verify: the change set of a fresh build, as the expected lists ---- */

roaring_bitmap_t *
postings_expected(struct postings *p, char tag, const void *key, size_t len)
{
    uint8_t *k = folio_malloc(len + 1);
    k[0] = (uint8_t)tag;
    memcpy(k + 1, key, len);
    struct pentry *e = table_find(p, k, len + 1, false);
    folio_free(k);
    return e == NULL ? NULL : idset_bitmap(&e->add);
}

size_t
postings_nonempty_count(const struct postings *p, char tag)
{
    size_t n = 0;
    for (size_t i = 0; i < p->cap; i++) {
        const struct pentry *e = &p->slots[i];
        if (e->key != NULL && e->key[0] == (uint8_t)tag && !idset_is_empty(&e->add))
            n++;
    }
    return n;
}
