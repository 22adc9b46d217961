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

struct pentry {
    uint8_t *key; /* tag byte, then the database key */
    uint32_t key_len;
    uint64_t hash;
    roaring_bitmap_t *add;
    roaring_bitmap_t *del;
};

struct postings {
    struct search_config cfg;
    unsigned parts;
    struct pentry *slots; /* open addressing, linear probing; key NULL = free */
    size_t cap;           /* a power of two */
    size_t count;
    uint64_t ops;
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
postings_new_like(const struct postings *model)
{
    struct postings *p = postings_empty(model->parts);
    search_config_copy(&p->cfg, &model->cfg);
    return p;
}

static void
entries_free(struct postings *p)
{
    for (size_t i = 0; i < p->cap; i++) {
        struct pentry *e = &p->slots[i];
        if (e->key == NULL)
            continue;
        folio_free(e->key);
        if (e->add != NULL)
            roaring_bitmap_free(e->add);
        if (e->del != NULL)
            roaring_bitmap_free(e->del);
        memset(e, 0, sizeof(*e));
    }
    p->count = 0;
    p->ops = 0;
}

void
postings_free(struct postings *p)
{
    if (p == NULL)
        return;
    entries_free(p);
    folio_free(p->slots);
    search_config_release(&p->cfg);
    folio_free(p);
}

bool
postings_full(const struct postings *p)
{
    return p->count >= POSTINGS_ENTRIES_MAX || p->ops >= POSTINGS_OPS_MAX;
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

/* The entry of key (tag + bytes), made when absent and make is set. */
static struct pentry *
table_find(struct postings *p, const uint8_t *key, size_t len, bool make)
{
    uint64_t h = XXH3_64bits(key, len);
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
        return table_find(p, key, len, make);
    }
    struct pentry *e = &p->slots[j];
    e->key = folio_malloc(len);
    memcpy(e->key, key, len);
    e->key_len = (uint32_t)len;
    e->hash = h;
    p->count++;
    return e;
}

static void
table_change(struct postings *p, const uint8_t *key, size_t len, uint32_t iid, bool add)
{
    struct pentry *e = table_find(p, key, len, true);
    roaring_bitmap_t **to = add ? &e->add : &e->del;
    roaring_bitmap_t *from = add ? e->del : e->add;
    if (*to == NULL)
        *to = roaring_bitmap_create();
    roaring_bitmap_add(*to, iid);
    if (from != NULL)
        roaring_bitmap_remove(from, iid);
    p->ops++;
}

/* to |= *take, moving *take when to has no bitmap yet. */
static void
bitmap_take(roaring_bitmap_t **to, roaring_bitmap_t **take)
{
    if (*take == NULL)
        return;
    if (*to == NULL) {
        *to = *take;
        *take = NULL;
    } else {
        roaring_bitmap_or_inplace(*to, *take);
    }
}

void
postings_merge(struct postings *dst, struct postings *src)
{
    FOLIO_ASSERT(dst->parts == src->parts);
    for (size_t i = 0; i < src->cap; i++) {
        struct pentry *e = &src->slots[i];
        if (e->key == NULL)
            continue;
        struct pentry *d = table_find(dst, e->key, e->key_len, true);
        /* The later change wins: what src adds leaves dst's del, what it removes dst's add. */
        if (d->del != NULL && e->add != NULL)
            roaring_bitmap_andnot_inplace(d->del, e->add);
        if (d->add != NULL && e->del != NULL)
            roaring_bitmap_andnot_inplace(d->add, e->del);
        bitmap_take(&d->add, &e->add);
        bitmap_take(&d->del, &e->del);
    }
    dst->ops += src->ops;
    entries_free(src);
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

/* The text of a number as the document stores it (integers exactly). */
static size_t
number_text(const json_t *v, char *buf, size_t cap)
{
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

static double
number_value(const json_t *v)
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
        facet_number_encode(number_value(v), enc);
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
    struct walk *wk = folio_malloc(sizeof(*wk));
    wk->p = p;
    wk->iid = iid;
    wk->add = add;
    wk->path_len = 0;
    wk->rank = -1;
    int rc = walk_object(wk, doc, true, 0, err);
    folio_free(wk);
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

static int
entry_apply(MDB_txn *txn, struct folio_index *idx, struct pentry *e,
            struct folio_index_error *err)
{
    MDB_dbi dbi;
    MDB_val key;
    const char *name;
    entry_target(idx, e, &dbi, &key, &name);
    roaring_bitmap_t *stored = NULL;
    int rc = bitmap_get(txn, dbi, key.mv_data, key.mv_size, &stored, err, name);
    if (rc < 0)
        return rc;
    if (stored == NULL) {
        if (e->add == NULL || roaring_bitmap_is_empty(e->add))
            return FOLIO_OK; /* removing from nothing */
        stored = roaring_bitmap_create();
    }
    if (e->del != NULL)
        roaring_bitmap_andnot_inplace(stored, e->del);
    if (e->add != NULL)
        roaring_bitmap_or_inplace(stored, e->add);
    rc = bitmap_put(txn, dbi, key.mv_data, key.mv_size, stored, err);
    roaring_bitmap_free(stored);
    return rc;
}

int
postings_flush(struct postings *p, MDB_txn *txn, struct folio_index *idx,
               struct folio_index_error *err)
{
    int rc = postings_apply(p, txn, idx, err);
    entries_free(p);
    return rc;
}

int
postings_apply(struct postings *p, MDB_txn *txn, struct folio_index *idx,
               struct folio_index_error *err)
{
    FOLIO_ASSERT(idx->has_search);
    if (p->count == 0)
        return FOLIO_OK;
    /* In key order: LMDB writes its pages in order, the cheapest way. */
    struct pentry **order = folio_calloc(p->count, sizeof(*order));
    size_t n = 0;
    for (size_t i = 0; i < p->cap; i++)
        if (p->slots[i].key != NULL)
            order[n++] = &p->slots[i];
    FOLIO_ASSERT(n == p->count);
    qsort(order, n, sizeof(*order), entry_cmp);
    int rc = FOLIO_OK;
    for (size_t i = 0; i < n && rc == FOLIO_OK; i++)
        rc = entry_apply(txn, idx, order[i], err);
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
    return e == NULL ? NULL : e->add;
}

size_t
postings_nonempty_count(const struct postings *p, char tag)
{
    size_t n = 0;
    for (size_t i = 0; i < p->cap; i++) {
        const struct pentry *e = &p->slots[i];
        if (e->key != NULL && e->key[0] == (uint8_t)tag && e->add != NULL &&
            !roaring_bitmap_is_empty(e->add))
            n++;
    }
    return n;
}
