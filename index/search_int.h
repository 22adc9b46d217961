/*
 * Private contract of the index's search side: text normalisation (text.c),
 * posting lists on disk (bitmap.c), the search configuration taken from the
 * settings (search_config.c), the posting-list change sets that writes
 * accumulate and apply (postings.c), filters (filter_parse.c,
 * filter_eval.c), query terms and their derivations (terms.c) over the
 * in-memory vocabulary (vocab.c), ranking (rank.c), the hits (hits.c) and the
 * response (search.c). The on-disk layout is docs/index-format.md, "Search
 * structures".
 *
 * CRoaring's header defines _GNU_SOURCE and friends; every file that
 * includes this one has included its system headers already (through
 * index_int.h), so those definitions change nothing.
 */
#ifndef FOLIO_INDEX_SEARCH_INT_H
#define FOLIO_INDEX_SEARCH_INT_H

#include "index_int.h"

#include <roaring/roaring.h>

/* ---- bitmap.c: checked portable roaring bitmaps ------------------------ */

bool bitmap_check(const uint8_t *p, size_t n);
/* Decodes a checked value; FOLIO_E_CORRUPT names `what` (a database). */
int bitmap_decode(const void *data, size_t len, roaring_bitmap_t **out,
                  struct folio_index_error *err, const char *what);
/* 1 and *out (caller frees), 0 (absent, *out NULL) or an error. */
int bitmap_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t key_len, roaring_bitmap_t **out,
               struct folio_index_error *err, const char *what);
/*
 * Stores bm (run-optimised) under key through cur, or deletes key when bm is
 * empty; found: key is stored and cur is on it (MDB_SET found it).
 */
int bitmap_cursor_put(MDB_cursor *cur, const void *key, size_t key_len, bool found,
                      roaring_bitmap_t *bm, struct folio_index_error *err);

/* ---- search_config.c ----------------------------------------------------- */

/* What the posting lists and filters depend on, from the effective settings. */
struct search_config {
    json_t *effective;          /* owned; the strings below point into it */
    bool searchable_all;        /* searchableAttributes holds "*" */
    const char **searchable;    /* in rank order */
    size_t searchable_count;
    bool filterable_all;        /* filterableAttributes holds "*" */
    const char **filterable;    /* sorted */
    size_t filterable_count;
    const char **displayed;     /* NULL: "*" */
    size_t displayed_count;
};

/* A copy of src sharing its settings object (one thread uses both). */
void search_config_copy(struct search_config *dst, const struct search_config *src);
/* Takes a reference to overrides' effective view. */
void search_config_init(struct search_config *cfg, const json_t *overrides);
int search_config_load(MDB_txn *txn, struct folio_index *idx, struct search_config *cfg,
                       struct folio_index_error *err);
void search_config_release(struct search_config *cfg);
/* path is `attr` or below it (`attr.x...`). */
bool attribute_covers(const char *attr, const char *path, size_t path_len);
/* The searchable rank of a leaf path (top: index of its top-level field), or -1. */
int search_config_rank(const struct search_config *cfg, const char *path, size_t path_len,
                       size_t top_index);
bool search_config_filterable(const struct search_config *cfg, const char *path,
                              size_t path_len);

/* ---- postings.c ------------------------------------------------------------ */

enum postings_parts {
    POSTINGS_WORDS = 1u << 0,  /* words, word_ranks */
    POSTINGS_FACETS = 1u << 1, /* facets */
    POSTINGS_IDS = 1u << 2,    /* meta document_ids */
    POSTINGS_ALL = POSTINGS_WORDS | POSTINGS_FACETS | POSTINGS_IDS,
};

/* Key tags of the change set: which database a key goes to. */
#define PTAG_WORD 'w'
#define PTAG_RANK 'r'
#define PTAG_FACET 'f'
#define PTAG_IDS 'i'

/* Facet key types, after the attribute path and a NUL. */
#define FACET_EXISTS 'e'
#define FACET_NUMBER 'n'
#define FACET_STRING 's'

/*
 * facets.c: facetDistribution (attribute -> value name -> count) and
 * facetStats (attribute -> {min, max}) of the candidates for the asked
 * attributes ("*": every filterable one). FOLIO_E_INVALID_SEARCH_FACETS when
 * one is not filterable (Meilisearch's message). Both outputs owned.
 */
int facets_compute(MDB_txn *txn, struct folio_index *idx, const struct search_config *cfg,
                   const char *const *asked, size_t asked_count,
                   const roaring_bitmap_t *candidates, json_t **out_distribution,
                   json_t **out_stats, struct folio_index_error *err);

/*
 * A set of internal ids, as a change set holds them: a sorted array while it
 * has at most IDSET_ARRAY_MAX ids (up to two inline, without an allocation),
 * a roaring bitmap after. All zero bytes is the empty set.
 */
#define IDSET_ARRAY_MAX 1024u
struct idset {
    uint32_t n;   /* ids in the array */
    uint32_t cap; /* 0: the array is inl; UINT32_MAX: the set is bm */
    union {
        uint32_t inl[2];
        uint32_t *ids;
        roaring_bitmap_t *bm;
    } u;
};

void idset_release(struct idset *s); /* frees, and leaves s empty */
bool idset_is_empty(const struct idset *s);
uint64_t idset_count(const struct idset *s);
bool idset_contains(const struct idset *s, uint32_t id);
void idset_add(struct idset *s, uint32_t id);
void idset_remove(struct idset *s, uint32_t id);
/* dst -= src. */
void idset_andnot(struct idset *dst, const struct idset *src);
/* dst |= src, and src is left empty (its storage may move to dst). */
void idset_take(struct idset *dst, struct idset *src);
/* Turns s into its bitmap form and returns the bitmap (s still owns it). */
roaring_bitmap_t *idset_bitmap(struct idset *s);

/* A change set; overrides: the settings the lists follow (a reference is kept). */
struct postings *postings_new(const json_t *overrides, unsigned parts);
/*
 * An empty change set with model's settings and parts (no settings to read):
 * the one postings_recycle kept in model, if any.
 */
struct postings *postings_new_like(struct postings *model);
/* Frees p, or keeps it empty in model for model's next postings_new_like. */
void postings_recycle(struct postings *model, struct postings *p);
void postings_free(struct postings *p);
/* Adds (add) or removes doc's entries for internal id iid. */
int postings_doc(struct postings *p, uint32_t iid, const json_t *doc, bool add,
                 struct folio_index_error *err);
/*
 * A batch's deferred field distribution deltas (fields.c) go with its change
 * set: p takes t (and merges it into those it has); postings_merge moves
 * them along, postings_apply applies them too, postings_flush drops them.
 */
void postings_take_fields(struct postings *p, struct field_tally *t);
/* An empty tally p kept from a merged write (NULL if none), for the next write. */
struct field_tally *postings_spare_fields(struct postings *p);
/* Applies the change set to the env and empties it. */
int postings_flush(struct postings *p, MDB_txn *txn, struct folio_index *idx,
                   struct folio_index_error *err);
/* Applies the change set to the env and keeps it. */
int postings_apply(struct postings *p, MDB_txn *txn, struct folio_index *idx,
                   struct folio_index_error *err);
bool postings_full(const struct postings *p);
/*
 * Moves src's changes into dst (same parts and settings) as if src's came
 * after dst's, and empties src.
 */
void postings_merge(struct postings *dst, struct postings *src);
/* For verify: the expected bitmap of a tagged key (NULL: none), and visiting. */
roaring_bitmap_t *postings_expected(struct postings *p, char tag, const void *key, size_t len);
size_t postings_nonempty_count(const struct postings *p, char tag);
/* Order-preserving 8 bytes of a double (-0 is 0). */
void facet_number_encode(double d, uint8_t out[8]);
/* The double a facet number node holds (integers above INT64_MAX included). */
double facet_number_value(const json_t *v);

/* ---- fields.c: tallies that travel with a batch's change set ------------ */

/* Adds t's deltas to `fields` through txn; t stays as it is. */
int field_tally_apply(const struct field_tally *t, MDB_txn *txn, MDB_dbi dbi,
                      struct folio_index_error *err);
/* dst += src, and src is left empty. */
void field_tally_merge(struct field_tally *dst, struct field_tally *src);
/* Holds enough names to be applied now. */
bool field_tally_full(const struct field_tally *t);
/* Small enough to be kept, emptied, for another write. */
bool field_tally_reusable(const struct field_tally *t);

/* ---- search_store.c ------------------------------------------------------- */

/*
 * In a batch, before a document write applies changes of its own early: the
 * batch's pending changes go to the write's transaction first (once), or
 * they would land after the write's.
 */
int search_batch_into_write(struct wtxn *w);

/* ---- filter_parse.c, filter_eval.c -------------------------------------- */

enum fnode_kind {
    FN_AND, FN_OR, FN_NOT, FN_EQ, FN_NE, FN_GT, FN_GE, FN_LT, FN_LE, FN_IN, FN_EXISTS, FN_TO,
};

/* A value or attribute of the filter, with where it was (bytes of the filter). */
struct ftoken {
    char *text; /* unescaped, NUL-terminated, owned */
    size_t len;
    size_t start; /* byte offsets of the span in the filter text */
    size_t end;
};

struct fnode {
    enum fnode_kind kind;
    struct fnode **kids; /* AND, OR: two or more; NOT: one */
    size_t kid_count;
    struct ftoken attr;  /* conditions */
    struct ftoken *values; /* EQ..LE: 1; IN: any; TO: 2 */
    size_t value_count;
};

/* NULL *out: a blank filter. Errors: FOLIO_E_INVALID_SEARCH_FILTER. */
int filter_parse(const char *filter, struct fnode **out, struct folio_index_error *err);
void filter_free(struct fnode *n);
/* The message of an error at filter[start, end), Meilisearch's layout. */
int filter_error(struct folio_index_error *err, const char *filter, size_t start, size_t end,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Checks filterability, then computes the matching documents (*out owned). */
int filter_eval(MDB_txn *txn, struct folio_index *idx, const struct search_config *cfg,
                const char *filter, const struct fnode *root, const roaring_bitmap_t *universe,
                roaring_bitmap_t **out, struct folio_index_error *err);

/* ---- terms.c: query words and the indexed words they match ------------- */

struct term_word {
    char *word; /* an indexed word this term matches (owned) */
    size_t len;
    uint8_t typos;
};

struct term {
    char *word;          /* normalised query word */
    size_t len;
    bool prefix;         /* the last word, not followed by a separator */
    int typos_max;
    struct term_word *matches;
    size_t match_count, match_cap;
    roaring_bitmap_t *docs;        /* documents holding any match */
    roaring_bitmap_t *by_typos[3]; /* documents holding a match with exactly n typos */
    roaring_bitmap_t *whole;       /* documents holding the query word itself */
    roaring_bitmap_t **ranks;      /* ranks[r]: documents holding a match at rank r */
    size_t rank_count;             /* 0: not loaded yet */
    bool ranks_loaded;
};

struct query {
    struct term *terms;
    size_t term_count;
};

/* Splits q into terms. Errors: FOLIO_E_INVALID_SEARCH_Q (not UTF-8). */
int query_parse(const char *q, struct query *out, struct folio_index_error *err);
/* Finds every indexed word each term matches and its documents. */
int query_match(MDB_txn *txn, struct folio_index *idx, struct query *query,
                struct folio_index_error *err);
void query_release(struct query *query);
/* Damerau-Levenshtein (optimal string alignment) limits of a query word. */
int typos_allowed(size_t code_points);

/* ---- vocab.c: the keys of `words` in memory, per LMDB snapshot ---------------- */

/*
 * A reference to the vocabulary of txn's snapshot (vocab_put it), or *out
 * NULL when `words` is too large to copy. Errors: the read errors,
 * FOLIO_E_CORRUPT.
 */
int vocab_get(MDB_txn *txn, struct folio_index *idx, struct vocab **out,
              struct folio_index_error *err);
void vocab_put(struct folio_index *idx, struct vocab *v);
size_t vocab_count(const struct vocab *v);
/* Word i, borrowed for as long as the reference. */
void vocab_word(const struct vocab *v, size_t i, MDB_val *k);
/* The index of the first word at or after key in LMDB's order (vocab_count if none). */
size_t vocab_seek(const struct vocab *v, size_t from, const void *key, size_t len);
/* What a typo walk accepted over a vocabulary: word indexes (ascending) and their typos. */
struct walk_memo_words {
    const uint32_t *pos;
    const uint8_t *typos;
    size_t count;
};
/*
 * The memo of the walk for (term, prefix, budget) over v, or NULL: valid while
 * the caller holds its reference to v. vocab_memo_add remembers one (if there
 * is room). Thread-safe.
 */
const struct walk_memo_words *vocab_memo_find(struct vocab *v, const char *term, size_t len,
                                              bool prefix, int budget);
void vocab_memo_add(struct vocab *v, const char *term, size_t len, bool prefix, int budget,
                    const uint32_t *pos, const uint8_t *typos, size_t count);
/* Walks replayed from a memo so far, in this process (tests). */
uint64_t vocab_memo_hits(void);

/* ---- rank.c, hits.c ---------------------------------------------------------- */

/*
 * The ids of the hits [offset, offset + limit) of candidates in ranking
 * order (*out owned, *out_count of them).
 */
int rank_hits(MDB_txn *txn, struct folio_index *idx, struct query *query,
              const roaring_bitmap_t *candidates, uint64_t offset, uint64_t limit,
              uint32_t **out, size_t *out_count, struct folio_index_error *err);
/* Appends the documents of ids, as JSON objects separated by commas, to b. */
int hits_emit(MDB_txn *txn, struct folio_index *idx, const struct search_config *cfg,
              const struct folio_index_search_req *req, const uint32_t *ids, size_t count,
              struct dbuf *b, struct folio_index_error *err);

#endif
