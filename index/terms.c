/*
 * Query terms: the words of q (normalised as documents are: text.c) and,
 * for each, the indexed words it matches, found in `words`, with their
 * posting lists.
 *
 * A term matches an indexed word:
 *   - exactly (0 typos);
 *   - when it is the prefix term (the last word of q, no separator after
 *     it), as a prefix: "sta" matches "star" with 0 typos;
 *   - with typos when the term has at least 5 characters (1 typo) or 9 (2):
 *     the Damerau-Levenshtein distance (optimal string alignment: a swap of
 *     two neighbours is one typo) in code points; for the prefix term, the
 *     distance to the closest prefix of the indexed word, so "strwb" finds
 *     "strawberry" with one typo, as Meilisearch's prefix automaton does.
 * A term longer than INDEX_WORD_BYTES_MAX bytes matches nothing.
 *
 * Typo matching walks `words` in key order and computes the distance rows
 * incrementally, sharing the rows of the prefix a key has in common with the
 * previous key. When every cell of a row exceeds the budget (and, for the
 * prefix term, no prefix so far was close enough), no key with that prefix
 * can match: the walk seeks past them all (the prefix with its last byte
 * incremented). A row whose minimum exceeds the budget makes every later row
 * exceed it too, transpositions included, so the skip loses nothing. The
 * keys come from the in-memory vocabulary of the transaction's snapshot
 * (vocab.c) when `words` is small enough to copy, else from a cursor. Over
 * the vocabulary, what a walk accepted is remembered with it (a walk memo),
 * and the same term, prefix flag and budget in the same snapshot replay it:
 * the same words in the same order, so the term comes out the same.
 */
#include <string.h>
#include <utf8proc.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

#define CP_MAX INDEX_WORD_BYTES_MAX /* a word of at most 250 bytes has at most 250 code points */

int
typos_allowed(size_t code_points)
{
    return code_points >= 9 ? 2 : code_points >= 5 ? 1 : 0;
}

/* ---- q into terms ------------------------------------------------------- */

struct qsplit {
    struct query *q;
    bool truncated;
};

static int
query_word(void *ctx, const char *word, size_t len)
{
    struct qsplit *s = ctx;
    if (s->q->term_count == FOLIO_INDEX_QUERY_WORDS_MAX) {
        s->truncated = true;
        return TEXT_WORDS_STOP;
    }
    struct term *t = &s->q->terms[s->q->term_count++];
    memset(t, 0, sizeof(*t));
    t->word = folio_strndup(word, len);
    t->len = len;
    int32_t cps[CP_MAX];
    size_t n = CP_MAX + 1;
    if (len <= INDEX_WORD_BYTES_MAX && text_decode(word, len, cps, CP_MAX, &n) != FOLIO_OK)
        n = CP_MAX + 1;
    t->typos_max = typos_allowed(n);
    return FOLIO_OK;
}

int
query_parse(const char *q, struct query *out, struct folio_index_error *err)
{
    memset(out, 0, sizeof(*out));
    if (q == NULL)
        return FOLIO_OK;
    size_t len = strlen(q);
    if (!text_valid_utf8(q, len))
        return index_errorf(err, FOLIO_E_INVALID_SEARCH_Q, "The query `q` is not valid UTF-8.");
    out->terms = folio_calloc(FOLIO_INDEX_QUERY_WORDS_MAX, sizeof(*out->terms));
    struct qsplit s = {.q = out};
    bool ends_in_word = false;
    int rc = text_words(q, len, query_word, &s, &ends_in_word);
    if (rc != FOLIO_OK) {
        query_release(out);
        return index_errorf(err, FOLIO_E_INVALID_SEARCH_Q, "The query `q` is not valid UTF-8.");
    }
    if (out->term_count > 0 && ends_in_word && !s.truncated)
        out->terms[out->term_count - 1].prefix = true;
    return FOLIO_OK;
}

void
query_release(struct query *query)
{
    for (size_t i = 0; i < query->term_count; i++) {
        struct term *t = &query->terms[i];
        folio_free(t->word);
        for (size_t j = 0; j < t->match_count; j++)
            folio_free(t->matches[j].word);
        folio_free(t->matches);
        if (t->docs != NULL)
            roaring_bitmap_free(t->docs);
        if (t->whole != NULL)
            roaring_bitmap_free(t->whole);
        for (int d = 0; d < 3; d++)
            if (t->by_typos[d] != NULL)
                roaring_bitmap_free(t->by_typos[d]);
        for (size_t r = 0; r < t->rank_count; r++)
            if (t->ranks[r] != NULL)
                roaring_bitmap_free(t->ranks[r]);
        folio_free(t->ranks);
    }
    folio_free(query->terms);
    memset(query, 0, sizeof(*query));
}

/* ---- matches -------------------------------------------------------------- */

/* Records that t matches the indexed word k (posting list v) with typos. */
static int
term_accept(struct term *t, const MDB_val *k, const MDB_val *v, int typos,
            struct folio_index_error *err)
{
    roaring_bitmap_t *bm = NULL;
    int rc = bitmap_decode(v->mv_data, v->mv_size, &bm, err, INDEX_DB_WORDS);
    if (rc != FOLIO_OK)
        return rc;
    FOLIO_ASSERT(typos >= 0 && typos <= 2);
    if (t->by_typos[typos] == NULL)
        t->by_typos[typos] = roaring_bitmap_create();
    roaring_bitmap_or_inplace(t->by_typos[typos], bm);
    if (k->mv_size == t->len && memcmp(k->mv_data, t->word, t->len) == 0)
        t->whole = bm;
    else
        roaring_bitmap_free(bm);
    if (t->match_count == t->match_cap) {
        t->match_cap = t->match_cap ? 2 * t->match_cap : 16;
        t->matches = folio_reallocarray(t->matches, t->match_cap, sizeof(*t->matches));
    }
    struct term_word *m = &t->matches[t->match_count++];
    m->word = folio_strndup(k->mv_data, k->mv_size);
    m->len = k->mv_size;
    m->typos = (uint8_t)typos;
    return FOLIO_OK;
}

static int
match_exact(MDB_txn *txn, struct folio_index *idx, struct term *t, struct folio_index_error *err)
{
    MDB_val k = {t->len, t->word}, v;
    int mrc = mdb_get(txn, idx->dbi_words, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return FOLIO_OK;
    if (mrc != 0)
        return index_mdb_error(err, mrc, "reading the words");
    return term_accept(t, &k, &v, 0, err);
}

static int
match_prefix(MDB_txn *txn, struct folio_index *idx, struct term *t, struct folio_index_error *err)
{
    MDB_cursor *cur;
    MDB_val k = {t->len, t->word}, v;
    int mrc = mdb_cursor_open(txn, idx->dbi_words, &cur);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "reading the words");
    int rc = FOLIO_OK;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && rc == FOLIO_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < t->len || memcmp(k.mv_data, t->word, t->len) != 0)
            break;
        rc = term_accept(t, &k, &v, 0, err);
    }
    mdb_cursor_close(cur);
    if (rc == FOLIO_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(err, mrc, "reading the words");
    return rc;
}

/* ---- typo matching: the walk over `words` ----------------------------------- */

struct lev {
    const int32_t *q;
    size_t m;   /* code points of the term */
    int budget; /* typos allowed */
    bool prefix;
    int32_t key[CP_MAX];      /* code points whose rows are computed */
    size_t valid;             /* rows 0..valid are computed for key[0, valid) */
    uint8_t *rows;            /* (CP_MAX + 1) rows of m + 1 cells */
    uint8_t best[CP_MAX + 1]; /* best[j]: min over rows 0..j of the last cell */
};

static uint8_t *
row(struct lev *l, size_t j)
{
    return l->rows + j * (l->m + 1);
}

/* Computes row j (1-based) for key code point key[j - 1]; returns its minimum. */
static int
row_compute(struct lev *l, size_t j)
{
    uint8_t *r = row(l, j), *up = row(l, j - 1);
    int32_t c = l->key[j - 1];
    int minimum = r[0] = (uint8_t)j;
    for (size_t i = 1; i <= l->m; i++) {
        int v = up[i] + 1;
        if (r[i - 1] + 1 < v)
            v = r[i - 1] + 1;
        if (up[i - 1] + (l->q[i - 1] != c) < v)
            v = up[i - 1] + (l->q[i - 1] != c);
        if (i > 1 && j > 1 && l->q[i - 1] == l->key[j - 2] && l->q[i - 2] == c &&
            row(l, j - 2)[i - 2] + 1 < v)
            v = row(l, j - 2)[i - 2] + 1;
        r[i] = (uint8_t)(v > 250 ? 250 : v);
        if (r[i] < minimum)
            minimum = r[i];
    }
    l->best[j] = r[l->m] < l->best[j - 1] ? r[l->m] : l->best[j - 1];
    return minimum;
}

/*
 * Extends the rows over key cps[0, n). Returns the 1-based position of the
 * code point at which the key died (no key with that prefix can match), or 0.
 */
static size_t
lev_extend(struct lev *l, const int32_t *cps, size_t n)
{
    size_t common = 0;
    while (common < l->valid && common < n && l->key[common] == cps[common])
        common++;
    l->valid = common;
    for (size_t j = common + 1; j <= n; j++) {
        l->key[j - 1] = cps[j - 1];
        int minimum = row_compute(l, j);
        l->valid = j;
        if (minimum > l->budget && (!l->prefix || l->best[j] > l->budget))
            return j;
    }
    return 0;
}

struct walk_buf {
    int32_t cps[CP_MAX];               /* the current key's code points */
    size_t ends[CP_MAX];               /* the byte end of each */
    size_t n;                          /* code points decoded */
    uint8_t key[INDEX_WORD_BYTES_MAX]; /* the current key's bytes */
    size_t key_len;
    uint8_t seek[INDEX_WORD_BYTES_MAX + 1];
};

/*
 * Decodes a key of `words` into b, reusing the code points of the bytes it
 * shares with the previous key (keys come in order, so most of a key is
 * usually shared). ASCII needs no decoder.
 */
static int
key_decode(const MDB_val *k, struct walk_buf *b, struct folio_index_error *err)
{
    const uint8_t *s = k->mv_data;
    if (k->mv_size > INDEX_WORD_BYTES_MAX)
        return index_errorf(err, FOLIO_E_CORRUPT, "A key of `words` is too long.");
    size_t same = 0;
    while (same < b->key_len && same < k->mv_size && s[same] == b->key[same])
        same++;
    size_t count = 0;
    while (count < b->n && b->ends[count] <= same)
        count++;
    size_t i = count > 0 ? b->ends[count - 1] : 0;
    while (i < k->mv_size) {
        int32_t cp = s[i];
        size_t step = 1;
        if (cp >= 0x80) {
            utf8proc_ssize_t got = utf8proc_iterate(s + i, (utf8proc_ssize_t)(k->mv_size - i), &cp);
            if (got <= 0)
                return index_errorf(err, FOLIO_E_CORRUPT, "A key of `words` is not UTF-8.");
            step = (size_t)got;
        }
        i += step;
        b->cps[count] = cp;
        b->ends[count++] = i;
    }
    memcpy(b->key + same, s + same, k->mv_size - same);
    b->key_len = k->mv_size;
    b->n = count;
    return FOLIO_OK;
}

/*
 * Where the walk reads the keys of `words`: the vocabulary in memory
 * (vocab.c) when there is one, else an LMDB cursor. Both return 0 with the
 * key in *k, or MDB_NOTFOUND past the last key.
 */
struct keys {
    MDB_txn *txn;
    struct folio_index *idx;
    MDB_cursor *cur; /* NULL: in memory */
    struct vocab *vocab;
    size_t pos;
    MDB_val value; /* the cursor's value of the current key */
};

static int
keys_at(struct keys *s, MDB_val *k)
{
    if (s->pos >= vocab_count(s->vocab))
        return MDB_NOTFOUND;
    vocab_word(s->vocab, s->pos, k);
    return 0;
}

static int
keys_first(struct keys *s, MDB_val *k)
{
    if (s->cur != NULL)
        return mdb_cursor_get(s->cur, k, &s->value, MDB_FIRST);
    s->pos = 0;
    return keys_at(s, k);
}

static int
keys_next(struct keys *s, MDB_val *k)
{
    if (s->cur != NULL)
        return mdb_cursor_get(s->cur, k, &s->value, MDB_NEXT);
    s->pos++;
    return keys_at(s, k);
}

/* The first key at or after seek[0, len). */
static int
keys_seek(struct keys *s, const uint8_t *seek, size_t len, MDB_val *k)
{
    if (s->cur != NULL) {
        k->mv_data = (void *)seek;
        k->mv_size = len;
        return mdb_cursor_get(s->cur, k, &s->value, MDB_SET_RANGE);
    }
    s->pos = vocab_seek(s->vocab, s->pos, seek, len); /* seek is after the current word */
    return keys_at(s, k);
}

/* The posting list of the current key. */
static int
keys_value(struct keys *s, const MDB_val *k, MDB_val *v, struct folio_index_error *err)
{
    if (s->cur != NULL) {
        *v = s->value;
        return FOLIO_OK;
    }
    MDB_val key = *k;
    int mrc = mdb_get(s->txn, s->idx->dbi_words, &key, v);
    if (mrc == MDB_NOTFOUND) /* the vocabulary is of this very snapshot */
        return index_errorf(err, FOLIO_E_CORRUPT, "A word of the vocabulary is not in `words`.");
    if (mrc != 0)
        return index_mdb_error(err, mrc, "reading the words");
    return FOLIO_OK;
}

#define SKIP_STEPS_MAX 4 /* keys stepped over before a seek is cheaper */

/*
 * Moves past every key that starts with the first len bytes of the current
 * key. Dead subtrees are often a key or two, and stepping is cheaper than a
 * B-tree descent, so it steps a few keys first, then seeks to the prefix with
 * its last byte incremented (the last byte of UTF-8 is below 0xC0).
 */
static int
skip_prefix(struct keys *s, struct walk_buf *b, size_t len, MDB_val *k)
{
    for (int step = 0; step < SKIP_STEPS_MAX; step++) {
        int mrc = keys_next(s, k);
        if (mrc != 0 || k->mv_size < len || memcmp(k->mv_data, b->key, len) != 0)
            return mrc;
    }
    memcpy(b->seek, b->key, len);
    b->seek[len - 1]++;
    return keys_seek(s, b->seek, len, k);
}

/* What a walk over the vocabulary accepted, for its memo (vocab.c). */
struct walk_record {
    uint32_t *pos;
    uint8_t *typos;
    size_t count, cap;
};

static void
record_push(struct walk_record *r, size_t pos, int typos)
{
    if (r->count == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->pos = folio_reallocarray(r->pos, r->cap, sizeof(*r->pos));
        r->typos = folio_reallocarray(r->typos, r->cap, sizeof(*r->typos));
    }
    r->pos[r->count] = (uint32_t)pos;
    r->typos[r->count++] = (uint8_t)typos;
}

static int
lev_walk(struct keys *s, struct lev *l, struct term *t, struct walk_buf *b, struct walk_record *rec,
         struct folio_index_error *err)
{
    MDB_val k, v;
    int rc = FOLIO_OK;
    int mrc = keys_first(s, &k);
    while (mrc == 0 && rc == FOLIO_OK) {
        rc = key_decode(&k, b, err);
        if (rc != FOLIO_OK)
            break;
        size_t dead = lev_extend(l, b->cps, b->n);
        if (dead > 0) {
            mrc = skip_prefix(s, b, b->ends[dead - 1], &k);
            continue;
        }
        int dist = l->prefix ? l->best[b->n] : row(l, b->n)[l->m];
        if (dist <= l->budget) {
            rc = keys_value(s, &k, &v, err);
            if (rc == FOLIO_OK)
                rc = term_accept(t, &k, &v, dist, err);
            if (rc == FOLIO_OK && rec != NULL)
                record_push(rec, s->pos, dist);
        }
        mrc = keys_next(s, &k);
    }
    if (rc == FOLIO_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(err, mrc, "reading the words");
    return rc;
}

/* Replays a memo: the words the walk accepted, in the walk's order. */
static int
match_memo(struct keys *s, struct term *t, const struct walk_memo_words *m,
           struct folio_index_error *err)
{
    int rc = FOLIO_OK;
    for (size_t i = 0; i < m->count && rc == FOLIO_OK; i++) {
        MDB_val k, v;
        vocab_word(s->vocab, m->pos[i], &k);
        rc = keys_value(s, &k, &v, err);
        if (rc == FOLIO_OK)
            rc = term_accept(t, &k, &v, m->typos[i], err);
    }
    return rc;
}

static int
match_typos(struct keys *s, struct term *t, struct folio_index_error *err)
{
    if (s->vocab != NULL) {
        const struct walk_memo_words *m =
            vocab_memo_find(s->vocab, t->word, t->len, t->prefix, t->typos_max);
        if (m != NULL)
            return match_memo(s, t, m, err);
    }
    int32_t q[CP_MAX];
    struct lev l = {.q = q, .budget = t->typos_max, .prefix = t->prefix};
    int drc = text_decode(t->word, t->len, q, CP_MAX, &l.m); /* checked by query_parse */
    FOLIO_ASSERT(drc == FOLIO_OK);
    l.rows = folio_malloc((CP_MAX + 1) * (l.m + 1));
    for (size_t i = 0; i <= l.m; i++)
        l.rows[i] = (uint8_t)i;
    l.best[0] = (uint8_t)l.m;
    struct walk_buf *b = folio_calloc(1, sizeof(*b));
    struct walk_record rec = {0};
    int rc = lev_walk(s, &l, t, b, s->vocab != NULL ? &rec : NULL, err);
    if (rc == FOLIO_OK && s->vocab != NULL)
        vocab_memo_add(s->vocab, t->word, t->len, t->prefix, t->typos_max, rec.pos, rec.typos,
                       rec.count);
    folio_free(rec.pos);
    folio_free(rec.typos);
    folio_free(b);
    folio_free(l.rows);
    return rc;
}

/* Opens where the typo walks read: the vocabulary, or a cursor when it is too large. */
static int
keys_open(MDB_txn *txn, struct folio_index *idx, struct keys *s, struct folio_index_error *err)
{
    memset(s, 0, sizeof(*s));
    s->txn = txn;
    s->idx = idx;
    struct vocab *v = NULL;
    int rc = vocab_get(txn, idx, &v, err);
    if (rc != FOLIO_OK)
        return rc;
    s->vocab = v;
    if (v != NULL)
        return FOLIO_OK;
    int mrc = mdb_cursor_open(txn, idx->dbi_words, &s->cur);
    return mrc == 0 ? FOLIO_OK : index_mdb_error(err, mrc, "reading the words");
}

static void
keys_close(struct keys *s)
{
    if (s->cur != NULL)
        mdb_cursor_close(s->cur);
    vocab_put(s->idx, s->vocab);
    memset(s, 0, sizeof(*s));
}

int
query_match(MDB_txn *txn, struct folio_index *idx, struct query *query,
            struct folio_index_error *err)
{
    int rc = FOLIO_OK;
    struct keys keys = {.txn = NULL};
    for (size_t i = 0; i < query->term_count && rc == FOLIO_OK; i++) {
        struct term *t = &query->terms[i];
        if (t->typos_max > 0 && t->len <= INDEX_WORD_BYTES_MAX && keys.txn == NULL)
            rc = keys_open(txn, idx, &keys, err);
        /* A term longer than any indexed word matches nothing. */
        if (rc == FOLIO_OK && t->len <= INDEX_WORD_BYTES_MAX && t->typos_max > 0)
            rc = match_typos(&keys, t, err);
        else if (rc == FOLIO_OK && t->len <= INDEX_WORD_BYTES_MAX && t->prefix)
            rc = match_prefix(txn, idx, t, err);
        else if (rc == FOLIO_OK && t->len <= INDEX_WORD_BYTES_MAX)
            rc = match_exact(txn, idx, t, err);
        t->docs = roaring_bitmap_create();
        for (int d = 0; d < 3; d++)
            if (t->by_typos[d] != NULL)
                roaring_bitmap_or_inplace(t->docs, t->by_typos[d]);
    }
    if (keys.txn != NULL)
        keys_close(&keys);
    return rc;
}
