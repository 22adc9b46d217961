/*
 * The vocabulary cache: the keys of `words` in order, copied into memory,
 * for the typo walk (terms.c), which visits thousands of keys and seeks
 * hundreds of times per query word. In memory a visit costs a few
 * nanoseconds instead of a B-tree step.
 *
 * Invariants kept here:
 *   - a vocabulary is exactly the keys of `words` in the snapshot of the
 *     LMDB transaction id it records (mdb_txn_id): every write commit gets a
 *     new id, so a reader whose transaction has the same id sees the same
 *     keys, and one with another id never uses it (it builds its own);
 *   - the handle keeps at most one, the newest it has seen; readers hold
 *     references, so a vocabulary replaced while in use is freed by its last
 *     user (all counts under vocab_mu);
 *   - a `words` database of more than VOCAB_WORDS_MAX keys is not copied
 *     (vocab_get returns none and the walk reads LMDB), so the memory it
 *     takes (about 20 bytes a word) and the time a rebuild after a write
 *     costs (one pass over the keys) stay bounded;
 *   - a vocabulary also remembers the typo walks made over it (walk memos:
 *     the words a walk accepted, by index, and their typos), so a query word
 *     searched again in the same snapshot replays the walk's answer instead
 *     of walking. A memo is the walk's result over these very keys, so it is
 *     right exactly as long as the vocabulary is: it lives and dies with it.
 *     Memos are immutable once added (under memo_mu) and bounded in number
 *     and bytes (WALK_MEMOS_MAX, WALK_MEMO_BYTES_MAX); past the bounds walks
 *     are simply not remembered.
 */
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

#define VOCAB_WORDS_MAX (256u << 10)
#define WALK_MEMO_SLOTS 1024           /* hash buckets */
#define WALK_MEMOS_MAX 8192            /* memos per vocabulary */
#define WALK_MEMO_BYTES_MAX (8u << 20) /* their bytes per vocabulary */

static uint64_t walk_memo_hits; /* replays, process-wide (tests) */

/*
 * The most keys copied: VOCAB_WORDS_MAX, or FOLIO_INDEX_VOCAB_WORDS_MAX from
 * the environment (a test seam: 0 makes every walk read LMDB, so tests cover
 * both ways).
 */
static size_t
vocab_words_max(void)
{
    const char *s = getenv("FOLIO_INDEX_VOCAB_WORDS_MAX");
    if (s == NULL || *s < '0' || *s > '9')
        return VOCAB_WORDS_MAX;
    return (size_t)strtoull(s, NULL, 10);
}

struct walk_memo {
    struct walk_memo *next; /* in its slot */
    uint64_t hash;
    bool prefix;
    int budget;
    size_t term_len;
    const char *term;         /* the bytes after words */
    struct walk_memo_words w; /* pos and typos point into this allocation */
};

struct vocab {
    unsigned refs; /* under idx->vocab_mu */
    size_t txn_id;
    size_t count;
    uint32_t *starts; /* count + 1 byte offsets into bytes: word i is [starts[i], starts[i+1]) */
    char *bytes;
    bool memo_on; /* FOLIO_INDEX_WALK_MEMO=0 turns memos off (tests, benchmarks) */
    pthread_mutex_t memo_mu;
    struct walk_memo **memo_slots; /* WALK_MEMO_SLOTS, allocated with the first memo */
    size_t memo_count, memo_bytes;
};

static void
vocab_free(struct vocab *v)
{
    for (size_t i = 0; v->memo_slots != NULL && i < WALK_MEMO_SLOTS; i++)
        for (struct walk_memo *m = v->memo_slots[i], *next; m != NULL; m = next) {
            next = m->next;
            folio_free(m);
        }
    folio_free(v->memo_slots);
    pthread_mutex_destroy(&v->memo_mu);
    folio_free(v->starts);
    folio_free(v->bytes);
    folio_free(v);
}

static int
vocab_build(MDB_txn *txn, struct folio_index *idx, size_t entries, struct vocab **out,
            struct folio_index_error *err)
{
    MDB_cursor *cur;
    MDB_val k, val;
    int mrc = mdb_cursor_open(txn, idx->dbi_words, &cur);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "reading the words");
    struct vocab *v = folio_calloc(1, sizeof(*v));
    pthread_mutex_init(&v->memo_mu, NULL);
    const char *memo = getenv("FOLIO_INDEX_WALK_MEMO");
    v->memo_on = memo == NULL || strcmp(memo, "0") != 0;
    size_t cap = 16 * entries + 16, used = 0;
    v->starts = folio_calloc(entries + 1, sizeof(*v->starts));
    v->bytes = folio_malloc(cap);
    bool odd = false; /* more keys than mdb_stat said, or a key too long: damage */
    for (mrc = mdb_cursor_get(cur, &k, &val, MDB_FIRST); mrc == 0 && !odd;
         mrc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
        odd = v->count == entries || k.mv_size > INDEX_WORD_BYTES_MAX;
        if (odd)
            break;
        if (used + k.mv_size > cap) {
            cap = 2 * cap + k.mv_size;
            v->bytes = folio_realloc(v->bytes, cap);
        }
        memcpy(v->bytes + used, k.mv_data, k.mv_size);
        v->starts[v->count++] = (uint32_t)used;
        used += k.mv_size;
    }
    mdb_cursor_close(cur);
    if (odd || mrc != MDB_NOTFOUND) {
        vocab_free(v);
        return odd ? index_errorf(err, FOLIO_E_CORRUPT, "The `words` database is damaged.")
                   : index_mdb_error(err, mrc, "reading the words");
    }
    v->starts[v->count] = (uint32_t)used;
    v->txn_id = mdb_txn_id(txn);
    *out = v;
    return FOLIO_OK;
}

int
vocab_get(MDB_txn *txn, struct folio_index *idx, struct vocab **out, struct folio_index_error *err)
{
    size_t id = mdb_txn_id(txn);
    *out = NULL;
    if (index_txn_is_batch(idx, txn))
        return FOLIO_OK; /* uncommitted words: the walk reads LMDB, nothing is cached */
    pthread_mutex_lock(&idx->vocab_mu);
    struct vocab *v = idx->vocab;
    if (v != NULL && v->txn_id == id)
        v->refs++;
    pthread_mutex_unlock(&idx->vocab_mu);
    if (v != NULL && v->txn_id == id) {
        *out = v;
        return FOLIO_OK;
    }
    MDB_stat st;
    int mrc = mdb_stat(txn, idx->dbi_words, &st);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "reading the words");
    if (st.ms_entries > vocab_words_max())
        return FOLIO_OK; /* too large: the walk reads LMDB */
    int rc = vocab_build(txn, idx, st.ms_entries, &v, err);
    if (rc != FOLIO_OK)
        return rc;
    v->refs = 1; /* ours */
    pthread_mutex_lock(&idx->vocab_mu);
    struct vocab *old = idx->vocab;
    if (old == NULL || old->txn_id < id) {
        idx->vocab = v; /* the newest: the handle keeps it */
        v->refs++;
        if (old != NULL && --old->refs == 0)
            vocab_free(old);
    }
    pthread_mutex_unlock(&idx->vocab_mu);
    *out = v;
    return FOLIO_OK;
}

void
vocab_put(struct folio_index *idx, struct vocab *v)
{
    if (v == NULL)
        return;
    pthread_mutex_lock(&idx->vocab_mu);
    FOLIO_ASSERT(v->refs > 0);
    bool last = --v->refs == 0;
    pthread_mutex_unlock(&idx->vocab_mu);
    if (last)
        vocab_free(v);
}

void
vocab_drop(struct folio_index *idx)
{
    if (idx->vocab != NULL)
        vocab_put(idx, idx->vocab);
    idx->vocab = NULL;
}

size_t
vocab_count(const struct vocab *v)
{
    return v->count;
}

void
vocab_word(const struct vocab *v, size_t i, MDB_val *k)
{
    FOLIO_ASSERT(i < v->count);
    k->mv_data = v->bytes + v->starts[i];
    k->mv_size = v->starts[i + 1] - v->starts[i];
}

/* Word i sorts before key (bytewise, as LMDB orders keys). */
static bool
vocab_before(const struct vocab *v, size_t i, const void *key, size_t len)
{
    MDB_val w;
    vocab_word(v, i, &w);
    size_t n = w.mv_size < len ? w.mv_size : len;
    int c = memcmp(w.mv_data, key, n);
    return c < 0 || (c == 0 && w.mv_size < len);
}

/*
 * The first word at or after key, at index from or later: count if none.
 * The typo walk seeks a little way past where it is, so the search gallops
 * from there (1, 2, 4, ... words ahead) and then bisects what it stepped
 * over: a few comparisons instead of a bisection of the whole vocabulary.
 */
size_t
vocab_seek(const struct vocab *v, size_t from, const void *key, size_t len)
{
    size_t lo = from < v->count ? from : v->count, hi = v->count, step = 1;
    while (lo + step < v->count && vocab_before(v, lo + step, key, len)) {
        lo += step;
        step *= 2;
    }
    if (lo + step < v->count)
        hi = lo + step + 1; /* word lo + step is at or after key */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (vocab_before(v, mid, key, len))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- walk memos ----------------------------------------------------------- */

static uint64_t
memo_hash(const char *term, size_t len, bool prefix, int budget)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(prefix ? 0x100 : 0) ^ (uint64_t)budget;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)term[i]) * 0x100000001b3ull;
    return h;
}

const struct walk_memo_words *
vocab_memo_find(struct vocab *v, const char *term, size_t len, bool prefix, int budget)
{
    if (!v->memo_on)
        return NULL;
    uint64_t h = memo_hash(term, len, prefix, budget);
    const struct walk_memo_words *found = NULL;
    pthread_mutex_lock(&v->memo_mu);
    for (struct walk_memo *m = v->memo_slots ? v->memo_slots[h % WALK_MEMO_SLOTS] : NULL;
         m != NULL && found == NULL; m = m->next)
        if (m->hash == h && m->prefix == prefix && m->budget == budget && m->term_len == len &&
            memcmp(m->term, term, len) == 0)
            found = &m->w;
    pthread_mutex_unlock(&v->memo_mu);
    if (found != NULL)
        __atomic_add_fetch(&walk_memo_hits, 1, __ATOMIC_RELAXED);
    return found; /* immutable, and freed only with v, which the caller holds */
}

void
vocab_memo_add(struct vocab *v, const char *term, size_t len, bool prefix, int budget,
               const uint32_t *pos, const uint8_t *typos, size_t count)
{
    if (!v->memo_on)
        return;
    size_t bytes = sizeof(struct walk_memo) + count * (sizeof(uint32_t) + 1) + len;
    uint64_t h = memo_hash(term, len, prefix, budget);
    pthread_mutex_lock(&v->memo_mu);
    bool room = v->memo_count < WALK_MEMOS_MAX && v->memo_bytes + bytes <= WALK_MEMO_BYTES_MAX;
    bool dup = false;
    for (struct walk_memo *m = v->memo_slots ? v->memo_slots[h % WALK_MEMO_SLOTS] : NULL;
         m != NULL && !dup; m = m->next)
        dup = m->hash == h && m->prefix == prefix && m->budget == budget && m->term_len == len &&
              memcmp(m->term, term, len) == 0;
    if (room && !dup) { /* two threads may walk the same word at once: the first memo stays */
        if (v->memo_slots == NULL)
            v->memo_slots = folio_calloc(WALK_MEMO_SLOTS, sizeof(*v->memo_slots));
        struct walk_memo *m = folio_malloc(bytes);
        uint32_t *p = (uint32_t *)(m + 1);
        uint8_t *t = (uint8_t *)(p + count);
        char *w = (char *)(t + count);
        if (count > 0) {
            memcpy(p, pos, count * sizeof(*p));
            memcpy(t, typos, count);
        }
        memcpy(w, term, len);
        *m = (struct walk_memo){.hash = h,
                                .prefix = prefix,
                                .budget = budget,
                                .term_len = len,
                                .term = w,
                                .w = {p, t, count}};
        m->next = v->memo_slots[h % WALK_MEMO_SLOTS];
        v->memo_slots[h % WALK_MEMO_SLOTS] = m;
        v->memo_count++;
        v->memo_bytes += bytes;
    }
    pthread_mutex_unlock(&v->memo_mu);
}

uint64_t
vocab_memo_hits(void)
{
    return __atomic_load_n(&walk_memo_hits, __ATOMIC_RELAXED);
}
