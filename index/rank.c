/*
 * Ranking: which candidates are the hits [offset, offset + limit), in
 * order. The order is total and deterministic (include/folio/index.h):
 *
 *   1. typos: the sum over the terms of the fewest typos with which each
 *      term matches a word of the document;
 *   2. exactness: documents holding the last query word itself (as a whole
 *      word) before the others;
 *   3. attribute: the sum over the terms of the best (lowest) rank of a
 *      searchable attribute holding a match of the term (`word_ranks`);
 *   4. internal id, ascending.
 *
 * Rules 1 and 2 work on bitmaps: the documents of each typo sum are built by
 * dynamic programming over the terms (at most 2 * terms + 1 buckets), then
 * split by exactness. Buckets that lie wholly before offset are skipped by
 * their size alone; only the buckets that overlap the page are ranked by
 * attribute: again by dynamic programming over the terms (the documents
 * whose best ranks add up to each sum) when that takes few bitmap
 * operations, else document by document. Bitmaps iterate in id order, so
 * rule 4 comes for free. A placeholder search (no terms) is id order.
 */
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

#define RANK_NONE (INDEX_RANK_MAX + 1u)

struct page {
    uint64_t skip;  /* hits still to skip */
    uint64_t want;  /* hits still to take */
    uint32_t *ids;
    size_t count;
};

static void
page_take(struct page *pg, uint32_t id)
{
    if (pg->skip > 0) {
        pg->skip--;
        return;
    }
    if (pg->want == 0)
        return;
    pg->ids[pg->count++] = id;
    pg->want--;
}

/* ---- attribute ranks ----------------------------------------------------------- */

/* Loads t->ranks from `word_ranks`: for each rank, the documents with a match there. */
static int
ranks_load(MDB_txn *txn, struct folio_index *idx, struct term *t, struct folio_index_error *err)
{
    MDB_cursor *cur;
    uint8_t key[INDEX_WORD_BYTES_MAX + 1];
    int mrc = mdb_cursor_open(txn, idx->dbi_word_ranks, &cur);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "reading the word ranks");
    int rc = FOLIO_OK;
    for (size_t i = 0; i < t->match_count && rc == FOLIO_OK; i++) {
        const struct term_word *m = &t->matches[i];
        memcpy(key, m->word, m->len);
        key[m->len] = 0;
        MDB_val k = {m->len + 1, key}, v;
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && rc == FOLIO_OK;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size != m->len + 3 || memcmp(k.mv_data, key, m->len + 1) != 0)
                break;
            const uint8_t *r = (const uint8_t *)k.mv_data + m->len + 1;
            size_t rank = ((size_t)r[0] << 8) | r[1];
            roaring_bitmap_t *bm = NULL;
            rc = bitmap_decode(v.mv_data, v.mv_size, &bm, err, INDEX_DB_WORD_RANKS);
            if (rc != FOLIO_OK)
                break;
            if (rank >= t->rank_count) {
                t->ranks = folio_reallocarray(t->ranks, rank + 1, sizeof(*t->ranks));
                memset(t->ranks + t->rank_count, 0, (rank + 1 - t->rank_count) * sizeof(*t->ranks));
                t->rank_count = rank + 1;
            }
            if (t->ranks[rank] == NULL) {
                t->ranks[rank] = bm;
            } else {
                roaring_bitmap_or_inplace(t->ranks[rank], bm);
                roaring_bitmap_free(bm);
            }
        }
        if (rc == FOLIO_OK && mrc != 0 && mrc != MDB_NOTFOUND)
            rc = index_mdb_error(err, mrc, "reading the word ranks");
    }
    mdb_cursor_close(cur);
    t->ranks_loaded = rc == FOLIO_OK;
    return rc;
}

struct scored {
    uint32_t id;
    uint32_t attribute; /* summed best ranks */
};

struct best_ctx {
    const uint32_t *docs;
    size_t count;
    uint32_t *best;
    uint32_t rank;
};

static bool
best_set(uint32_t id, void *arg)
{
    struct best_ctx *c = arg;
    size_t lo = 0, hi = c->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->docs[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    FOLIO_ASSERT(lo < c->count && c->docs[lo] == id);
    if (c->best[lo] == RANK_NONE)
        c->best[lo] = c->rank;
    return true;
}

static int
scored_cmp(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->attribute != y->attribute)
        return x->attribute < y->attribute ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Takes the documents of bucket into the page in attribute order, sorting them one by one. */
static void
take_sorted(struct query *query, const roaring_bitmap_t *bucket, struct page *pg)
{
    size_t n = (size_t)roaring_bitmap_get_cardinality(bucket);
    uint32_t *docs = folio_calloc(n, sizeof(*docs));
    uint32_t *best = folio_calloc(n, sizeof(*best));
    struct scored *s = folio_calloc(n, sizeof(*s));
    roaring_bitmap_to_uint32_array(bucket, docs);
    for (size_t i = 0; i < n; i++)
        s[i].id = docs[i];
    for (size_t t = 0; t < query->term_count; t++) {
        struct term *term = &query->terms[t];
        for (size_t i = 0; i < n; i++)
            best[i] = RANK_NONE;
        struct best_ctx c = {.docs = docs, .count = n, .best = best};
        for (size_t r = 0; r < term->rank_count; r++) {
            if (term->ranks[r] == NULL)
                continue;
            roaring_bitmap_t *here = roaring_bitmap_and(term->ranks[r], bucket);
            c.rank = (uint32_t)r;
            roaring_iterate(here, best_set, &c);
            roaring_bitmap_free(here);
        }
        for (size_t i = 0; i < n; i++)
            s[i].attribute += best[i];
    }
    qsort(s, n, sizeof(*s), scored_cmp);
    for (size_t i = 0; i < n && pg->want > 0; i++)
        page_take(pg, s[i].id);
    folio_free(s);
    folio_free(best);
    folio_free(docs);
}

/*
 * parts[r]: the documents of bucket whose best rank for t is r (r < t->rank_count), and
 * parts[t->rank_count]: those with none (cannot happen in a consistent index: last).
 */
static roaring_bitmap_t **
best_rank_parts(const struct term *t, const roaring_bitmap_t *bucket)
{
    roaring_bitmap_t **parts = folio_calloc(t->rank_count + 1, sizeof(*parts));
    roaring_bitmap_t *rest = roaring_bitmap_copy(bucket);
    for (size_t r = 0; r < t->rank_count; r++) {
        if (t->ranks[r] == NULL || roaring_bitmap_is_empty(rest))
            continue;
        parts[r] = roaring_bitmap_and(t->ranks[r], rest);
        roaring_bitmap_andnot_inplace(rest, parts[r]);
    }
    parts[t->rank_count] = rest;
    return parts;
}

static void
parts_free(roaring_bitmap_t **parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i] != NULL)
            roaring_bitmap_free(parts[i]);
    folio_free(parts);
}

/* Takes bucket in id order: skipped whole when it ends before the page. */
static void
take_in_id_order(const roaring_bitmap_t *bucket, struct page *pg)
{
    uint64_t n = roaring_bitmap_get_cardinality(bucket);
    if (n <= pg->skip) {
        pg->skip -= n;
        return;
    }
    roaring_uint32_iterator_t *it = roaring_create_iterator(bucket);
    for (; it->has_value && pg->want > 0; roaring_advance_uint32_iterator(it))
        page_take(pg, it->current_value);
    roaring_free_uint32_iterator(it);
}

/*
 * Attribute order with bitmaps: sums[s] holds the documents whose best ranks add up
 * to s, built term by term; sums are then taken in order, each in id order, until
 * the page is full. Worth it while the number of bitmap operations stays small.
 */
static void
take_by_sums(struct query *query, const roaring_bitmap_t *bucket, struct page *pg,
             size_t sums_max)
{
    roaring_bitmap_t **sums = folio_calloc(sums_max, sizeof(*sums));
    size_t reach = 1; /* sums[0, reach) may be non-empty */
    sums[0] = roaring_bitmap_copy(bucket);
    for (size_t t = 0; t < query->term_count; t++) {
        const struct term *term = &query->terms[t];
        size_t parts_n = term->rank_count + 1;
        roaring_bitmap_t **parts = best_rank_parts(term, bucket);
        roaring_bitmap_t **next = folio_calloc(sums_max, sizeof(*next));
        for (size_t s = 0; s < reach; s++) {
            for (size_t r = 0; sums[s] != NULL && r < parts_n; r++) {
                if (parts[r] == NULL || roaring_bitmap_is_empty(parts[r]))
                    continue;
                roaring_bitmap_t *x = roaring_bitmap_and(sums[s], parts[r]);
                if (next[s + r] == NULL)
                    next[s + r] = x;
                else {
                    roaring_bitmap_or_inplace(next[s + r], x);
                    roaring_bitmap_free(x);
                }
            }
        }
        parts_free(parts, parts_n);
        parts_free(sums, sums_max);
        sums = next;
        reach += parts_n - 1;
    }
    for (size_t s = 0; s < reach && pg->want > 0; s++)
        if (sums[s] != NULL)
            take_in_id_order(sums[s], pg);
    parts_free(sums, sums_max);
}

#define RANK_SUM_OPS_MAX 4096 /* bitmap intersections take_by_sums may do */

/* Takes the documents of bucket into the page in attribute order. */
static int
take_by_attribute(MDB_txn *txn, struct folio_index *idx, struct query *query,
                  const roaring_bitmap_t *bucket, struct page *pg, struct folio_index_error *err)
{
    size_t sums_max = 1, ops = 0;
    for (size_t t = 0; t < query->term_count; t++) {
        struct term *term = &query->terms[t];
        if (!term->ranks_loaded) {
            int rc = ranks_load(txn, idx, term, err);
            if (rc != FOLIO_OK)
                return rc;
        }
        ops += sums_max * (term->rank_count + 1);
        sums_max += term->rank_count; /* ranks 0..rank_count, the last for "none" */
    }
    if (ops <= RANK_SUM_OPS_MAX)
        take_by_sums(query, bucket, pg, sums_max);
    else
        take_sorted(query, bucket, pg);
    return FOLIO_OK;
}

/* Takes a bucket: skipped whole when it ends before the page, else ranked. */
static int
take_bucket(MDB_txn *txn, struct folio_index *idx, struct query *query,
            const roaring_bitmap_t *bucket, struct page *pg, struct folio_index_error *err)
{
    uint64_t n = roaring_bitmap_get_cardinality(bucket);
    if (n == 0 || pg->want == 0)
        return FOLIO_OK;
    if (n <= pg->skip) {
        pg->skip -= n;
        return FOLIO_OK;
    }
    return take_by_attribute(txn, idx, query, bucket, pg, err);
}

/* ---- typo buckets ------------------------------------------------------------- */

/* best[d]: candidates whose fewest typos for t is d. */
static void
term_best_typos(const struct term *t, const roaring_bitmap_t *candidates, roaring_bitmap_t *best[3])
{
    roaring_bitmap_t *seen = roaring_bitmap_create();
    for (int d = 0; d < 3; d++) {
        best[d] = t->by_typos[d] == NULL ? roaring_bitmap_create()
                                         : roaring_bitmap_and(t->by_typos[d], candidates);
        roaring_bitmap_andnot_inplace(best[d], seen);
        roaring_bitmap_or_inplace(seen, best[d]);
    }
    roaring_bitmap_free(seen);
}

/* sums[s]: candidates whose typos over all terms add up to s (0 <= s <= 2 * terms). */
static roaring_bitmap_t **
typo_sums(const struct query *query, const roaring_bitmap_t *candidates, size_t *count)
{
    size_t n = 2 * query->term_count + 1;
    roaring_bitmap_t **sums = folio_calloc(n, sizeof(*sums));
    sums[0] = roaring_bitmap_copy(candidates);
    for (size_t i = 1; i < n; i++)
        sums[i] = roaring_bitmap_create();
    for (size_t t = 0; t < query->term_count; t++) {
        roaring_bitmap_t *best[3];
        term_best_typos(&query->terms[t], candidates, best);
        roaring_bitmap_t **next = folio_calloc(n, sizeof(*next));
        for (size_t i = 0; i < n; i++)
            next[i] = roaring_bitmap_create();
        for (size_t s = 0; s <= 2 * t; s++) /* after t terms, sums reach 2t */
            for (size_t d = 0; d < 3 && s + d < n; d++) {
                roaring_bitmap_t *x = roaring_bitmap_and(sums[s], best[d]);
                roaring_bitmap_or_inplace(next[s + d], x);
                roaring_bitmap_free(x);
            }
        for (size_t i = 0; i < n; i++)
            roaring_bitmap_free(sums[i]);
        folio_free(sums);
        sums = next;
        for (int d = 0; d < 3; d++)
            roaring_bitmap_free(best[d]);
    }
    *count = n;
    return sums;
}

static int
rank_terms(MDB_txn *txn, struct folio_index *idx, struct query *query,
           const roaring_bitmap_t *candidates, struct page *pg, struct folio_index_error *err)
{
    size_t n = 0;
    roaring_bitmap_t **sums = typo_sums(query, candidates, &n);
    const roaring_bitmap_t *whole = query->terms[query->term_count - 1].whole;
    int rc = FOLIO_OK;
    for (size_t s = 0; s < n && rc == FOLIO_OK && pg->want > 0; s++) {
        roaring_bitmap_t *exact = whole == NULL ? roaring_bitmap_create()
                                                : roaring_bitmap_and(sums[s], whole);
        roaring_bitmap_t *rest = roaring_bitmap_andnot(sums[s], exact);
        rc = take_bucket(txn, idx, query, exact, pg, err);
        if (rc == FOLIO_OK)
            rc = take_bucket(txn, idx, query, rest, pg, err);
        roaring_bitmap_free(exact);
        roaring_bitmap_free(rest);
    }
    for (size_t s = 0; s < n; s++)
        roaring_bitmap_free(sums[s]);
    folio_free(sums);
    return rc;
}

/* Placeholder search: ids in order from the offset-th on. */
static void
rank_placeholder(const roaring_bitmap_t *candidates, struct page *pg)
{
    uint32_t first;
    if (pg->skip > UINT32_MAX || !roaring_bitmap_select(candidates, (uint32_t)pg->skip, &first))
        return;
    pg->skip = 0;
    roaring_uint32_iterator_t *it = roaring_create_iterator(candidates);
    roaring_move_uint32_iterator_equalorlarger(it, first);
    for (; it->has_value && pg->want > 0; roaring_advance_uint32_iterator(it))
        page_take(pg, it->current_value);
    roaring_free_uint32_iterator(it);
}

int
rank_hits(MDB_txn *txn, struct folio_index *idx, struct query *query,
          const roaring_bitmap_t *candidates, uint64_t offset, uint64_t limit, uint32_t **out,
          size_t *out_count, struct folio_index_error *err)
{
    uint64_t total = roaring_bitmap_get_cardinality(candidates);
    uint64_t room = offset >= total ? 0 : total - offset;
    struct page pg = {.skip = offset, .want = limit < room ? limit : room};
    pg.ids = folio_calloc((size_t)pg.want + 1, sizeof(*pg.ids));
    int rc = FOLIO_OK;
    if (pg.want > 0 && query->term_count == 0)
        rank_placeholder(candidates, &pg);
    else if (pg.want > 0)
        rc = rank_terms(txn, idx, query, candidates, &pg, err);
    if (rc != FOLIO_OK) {
        folio_free(pg.ids);
        pg.ids = NULL;
        pg.count = 0;
    }
    *out = pg.ids;
    *out_count = pg.count;
    return rc;
}
