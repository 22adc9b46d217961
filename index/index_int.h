/*
 * Private structures of the index module: the open handle with its locks, the
 * write and read transaction contexts, the meta record, and the helpers the
 * module's files share (JSON output, payload readers, document ids,
 * settings). The on-disk layout is documented in docs/index-format.md.
 *
 * Locking (why mdb_env_set_mapsize is safe). LMDB allows resizing the map
 * only while no transaction of this process is active. Two locks make that
 * true:
 *   - write_mu serialises writers: at most one write transaction exists, and
 *     the writer that grows the map has already aborted its own;
 *   - the gate counts read transactions (reads, compact copies). A resize
 *     closes the gate, waits until the count drops to zero, resizes, reopens.
 *     Readers arriving meanwhile wait at the gate; no read transaction ever
 *     outlives the public call that began it.
 * Lock order: write_mu, then the gate (exclusively). A reader holding the gate
 * never waits for write_mu.
 */
#ifndef FOLIO_INDEX_INT_H
#define FOLIO_INDEX_INT_H

#include <jansson.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "folio/index.h"

/* ---- on-disk constants (docs/index-format.md) ------------------------- */

#define INDEX_FORMAT_VERSION 3u
/* Format 1 had no search structures: read-only it opens, read-write it is upgraded. */
#define INDEX_FORMAT_VERSION_NO_SEARCH 1u
/* Format 2 had no field distribution: read-only it opens, read-write it is upgraded. */
#define INDEX_FORMAT_VERSION_NO_FIELDS 2u
#define INDEX_MAXDBS 16u
#define INDEX_DB_DOCUMENTS "documents"
#define INDEX_DB_EXTERNAL_IDS "external_ids"
#define INDEX_DB_META "meta"
#define INDEX_DB_OUTCOMES "outcomes" /* u64 BE task uid -> opaque outcome bytes */
#define INDEX_DB_WORDS "words"        /* word -> bitmap of internal ids */
#define INDEX_DB_WORD_RANKS "word_ranks" /* word, NUL, u16 BE rank -> bitmap */
#define INDEX_DB_FACETS "facets"      /* path, NUL, type, value -> bitmap */
#define INDEX_DB_FIELDS "fields"      /* top-level field name -> u64 LE document count */
#define INDEX_OUTCOME_KEY_BYTES 8u

/* Search structures (docs/index-format.md, "Search structures"). */
#define INDEX_WORD_BYTES_MAX 250u          /* longer words are not indexed */
#define INDEX_PATH_BYTES_MAX 255u          /* attribute paths indexed at most this long */
#define INDEX_FACET_STRING_BYTES_MAX 240u  /* facet strings are cut to this */
#define INDEX_RANK_MAX 0xFFFFu             /* attribute ranks are clamped to this */
#define INDEX_FIELD_NAME_BYTES_MAX 511u    /* longer top-level names are not counted */

#define META_FORMAT_VERSION "format_version"   /* u32 LE */
#define META_PRIMARY_KEY "primary_key"         /* UTF-8 bytes, absent if none */
#define META_SETTINGS "settings"               /* compact JSON object of overrides */
#define META_DOCUMENT_COUNT "document_count"   /* u64 LE */
#define META_NEXT_INTERNAL_ID "next_internal_id" /* u64 LE, <= 2^32 */
#define META_CREATED_AT "created_at_ns"        /* i64 LE */
#define META_UPDATED_AT "updated_at_ns"        /* i64 LE */
#define META_APPLIED_MARKER "applied_marker"   /* u64 LE task_uid, u64 LE batch_seq */
#define META_DOCUMENT_IDS "document_ids"       /* bitmap of every internal id; absent: none */

#define INDEX_MARKER_BYTES 16u
#define INDEX_INTERNAL_IDS_MAX (1ull << 32)

#define INDEX_MAP_BYTES_MIN (32ull << 10)
#define INDEX_MAP_BYTES_DEFAULT (64ull << 20)
#define INDEX_MAP_BYTES_MAX_DEFAULT (1ull << 40)
#define INDEX_CSV_FIELDS_MAX 65536u
#define INDEX_SETTINGS_BYTES_MAX (16u << 20)

/*
 * Internal: LMDB said MDB_MAP_FULL. Only the write runner sees it (it grows
 * the map and retries); it never leaves the module.
 */
#define INDEX_E_MAP_FULL (-1000)
/* Internal: the map was resized by another process; begin again. */
#define INDEX_E_RETRY (-1001)

/* ---- the handle --------------------------------------------------------- */

struct index_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned readers;  /* read transactions in flight */
    bool closed;       /* a resize is waiting for, or doing, its work */
};

struct folio_index {
    MDB_env *env;
    MDB_dbi dbi_documents;
    MDB_dbi dbi_external_ids;
    MDB_dbi dbi_meta;
    MDB_dbi dbi_outcomes;      /* valid only when has_outcomes */
    bool has_outcomes;         /* the env holds `outcomes`; fixed once open returns */
    MDB_dbi dbi_words;         /* the three search databases: valid only when has_search */
    MDB_dbi dbi_word_ranks;
    MDB_dbi dbi_facets;
    bool has_search;           /* format 2 (search structures kept); fixed once open returns */
    MDB_dbi dbi_fields;        /* valid only when has_fields */
    bool has_fields;           /* format 3 (field distribution kept); fixed once open returns */
    pthread_mutex_t vocab_mu;  /* guards vocab and every vocabulary's reference count */
    struct vocab *vocab;       /* the newest vocabulary of `words` seen (vocab.c), or NULL */
    struct folio_index_options opts;
    uint64_t map_bytes;        /* changed only under write_mu + closed gate */
    pthread_mutex_t write_mu;
    struct index_gate gate;
    /* An open batch (env.c): touched only by its thread, which holds write_mu. */
    MDB_txn *batch_txn;        /* the parent transaction, or NULL */
    bool batch_dirty;          /* a nested write was committed into it */
    bool batch_lost;           /* a commit failed: the batch's later calls fail */
    struct postings *batch_postings; /* document writes' lists not yet in the parent, or NULL */
    /* folio_index_set_stop: asked between documents by the long writes. */
    bool (*stop)(void *ctx);
    void *stop_ctx;
};

/* The meta record as one struct (settings are read and written separately). */
struct index_meta {
    bool has_primary_key;
    char primary_key[FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX + 1];
    uint64_t document_count;
    uint64_t next_internal_id;
    int64_t created_at_ns;
    int64_t updated_at_ns;
    struct folio_index_marker marker; /* outcome always NULL/0 here */
};

struct postings; /* a change set of posting lists (search_int.h) */
struct field_tally; /* field name -> count or delta (fields.c) */
struct vocab;    /* the keys of `words` in memory (search_int.h) */
/* vocab.c: releases the handle's vocabulary (folio_index_free). */
void vocab_drop(struct folio_index *idx);

/*
 * A write transaction in progress; ops change meta, the runner stores it.
 * Ops that change documents record them in postings (search_store.c), which
 * the runner applies before it stores meta.
 */
struct wtxn {
    struct folio_index *idx;
    MDB_txn *txn;
    struct index_meta meta;
    struct folio_index_error *err;
    struct postings *postings; /* NULL until a document changes */
    struct field_tally *fields; /* field distribution deltas; NULL until a document changes */
    bool defer;                /* a document write in a batch: postings go to the batch's set */
    bool batch_in_txn;         /* ... whose set was applied to this transaction (it filled up) */
};

typedef int (*index_write_fn)(struct wtxn *w, void *arg);

/* FOLIO_E_CANCELED (message in w->err) once the index's stop answers true, else FOLIO_OK. */
int write_stop_check(struct wtxn *w);

enum index_write_flags {
    WRITE_TOUCH = 1u << 0, /* set updated_at to now */
    WRITE_FRESH = 1u << 1, /* a new env: do not load meta, write it whole */
    WRITE_KEEP_MARKER = 1u << 2, /* keep the stored marker and outcomes (marker unused) */
    WRITE_DEFER_POSTINGS = 1u << 3, /* in a batch: merge the lists into the batch's set */
    /* in a batch: the op reads the posting lists, so the batch's deferred ones go first */
    WRITE_READS_POSTINGS = 1u << 4,
};

/* env.c */
int index_options_normalise(const struct folio_index_options *in, struct folio_index_options *out,
                            struct folio_index_error *err);
int index_write(struct folio_index *idx, index_write_fn fn, void *arg,
                const struct folio_index_marker *marker, unsigned flags,
                struct folio_index_error *err);
int index_read_begin(struct folio_index *idx, MDB_txn **txn, struct folio_index_error *err);
void index_read_end(struct folio_index *idx, MDB_txn *txn);
/* txn is the parent of the batch the calling thread has open on idx (never cache it). */
bool index_txn_is_batch(const struct folio_index *idx, const MDB_txn *txn);
void index_gate_enter(struct index_gate *g);
void index_gate_leave(struct index_gate *g);

/* outcome.c */
int outcome_check(const struct folio_index_marker *marker, struct folio_index_error *err);
int outcome_dbi_open(MDB_txn *txn, struct folio_index *idx, bool create,
                     struct folio_index_error *err);
int outcome_store(struct wtxn *w, const struct folio_index_marker *marker,
                  struct folio_index_error *err);
int outcome_verify(MDB_txn *txn, struct folio_index *idx, const struct index_meta *meta,
                   struct folio_index_error *err);

/* error.c */
int index_errorf(struct folio_index_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int index_mdb_error(struct folio_index_error *err, int mdb_rc, const char *what);

/* meta.c */
int meta_load(MDB_txn *txn, MDB_dbi dbi, struct index_meta *m, struct folio_index_error *err);
int meta_store(MDB_txn *txn, MDB_dbi dbi, const struct index_meta *m,
               struct folio_index_error *err);
int meta_check_format(MDB_txn *txn, MDB_dbi dbi, uint32_t *version,
                      struct folio_index_error *err);
int meta_put_format(MDB_txn *txn, MDB_dbi dbi, struct folio_index_error *err);
int meta_settings_load(MDB_txn *txn, MDB_dbi dbi, json_t **out, struct folio_index_error *err);
int meta_settings_store(MDB_txn *txn, MDB_dbi dbi, const json_t *overrides,
                        struct folio_index_error *err);
void index_iid_encode(uint32_t iid, uint8_t out[4]);
uint32_t index_iid_decode(const uint8_t in[4]);

/* json_out.c: compact JSON with shortest round-trip reals, bounded. */
struct dbuf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};
void dbuf_init(struct dbuf *b, size_t max);
void dbuf_release(struct dbuf *b);
int dbuf_append(struct dbuf *b, const void *p, size_t n);
int json_out(struct dbuf *b, const json_t *v);
int json_out_alloc(const json_t *v, size_t max, char **out, size_t *out_len);
void json_snippet(const json_t *v, char *buf, size_t cap);
bool json_depth_ok(const json_t *v, int depth_left);
const char *json_type_phrase(const json_t *v);

/*
 * json_in.c: documents are parsed with json_in_load (json_loadb's contract),
 * which also takes integers in (INT64_MAX, UINT64_MAX]; such an integer is a
 * JSON_STRING holding a NUL byte and its decimal digits (json_is_u64), which
 * json_out prints as the number. Code that looks at document values must test
 * json_is_u64 before json_is_string.
 */
json_t *json_in_load(const char *buf, size_t len, size_t flags, json_error_t *jerr);
bool json_is_u64(const json_t *v);
const char *json_u64_digits(const json_t *v, size_t *len);

/* payload.c, csv.c: one document at a time from a payload. */
struct csv_column {
    char *name;
    int type; /* CSV_STRING, CSV_NUMBER, CSV_BOOLEAN */
};

struct payload_reader {
    const struct folio_index_payload *payload;
    const char *buf;
    size_t len;
    size_t off;
    int json_state;
    uint64_t line;              /* CSV: line number at off (1-based) */
    char delimiter;
    struct csv_column *columns;
    size_t column_count;
    struct dbuf field_bytes;    /* CSV: unescaped bytes of one record */
    size_t *field_ends;         /* CSV: end offset of each field in field_bytes */
    size_t field_cap;
};

int payload_reader_open(struct payload_reader *r, const struct folio_index_payload *payload,
                        struct folio_index_error *err);
/* 1 and *doc (caller decrefs), 0 at the end, or a negative error. */
int payload_reader_next(struct payload_reader *r, json_t **doc, struct folio_index_error *err);
void payload_reader_close(struct payload_reader *r);
const char *payload_format_name(enum folio_index_format f);
void payload_line_col(const char *buf, size_t pos, uint64_t *line, uint64_t *col);
int csv_open(struct payload_reader *r, struct folio_index_error *err);
int csv_next(struct payload_reader *r, json_t **doc, struct folio_index_error *err);
void csv_close(struct payload_reader *r);

/*
 * json_scan.c: true and *out_count when a JSON (ndjson false) or NDJSON
 * payload is certainly accepted by payload_reader_next with that many
 * documents; false means "not sure" (maybe malformed, maybe merely unusual):
 * the caller parses it with payload_reader_next, which says why. No allocation.
 */
bool json_scan_count(const char *buf, size_t len, bool ndjson, uint64_t *out_count);

/* docid.c */
int docid_check_primary_key(const char *pk, struct folio_index_error *err);
int docid_infer_primary_key(const json_t *first_doc, char *out, size_t out_size,
                            struct folio_index_error *err);
int docid_extract(const json_t *doc, const char *pk, char id[FOLIO_INDEX_ID_BYTES_MAX + 1],
                  size_t *id_len, struct folio_index_error *err);
bool docid_valid(const char *id, size_t len);

/* text.c: words and facet strings (search_int.h explains the rules). */
#define TEXT_WORDS_STOP 1 /* a word callback's "enough": text_words returns 0 */
typedef int (*text_word_fn)(void *ctx, const char *word, size_t len);
/*
 * Calls fn for each word of s (any length; fn may return TEXT_WORDS_STOP).
 * *ends_in_word (may be NULL): no separator after the last word.
 */
int text_words(const char *s, size_t len, text_word_fn fn, void *ctx, bool *ends_in_word);
/* out: INDEX_FACET_STRING_BYTES_MAX bytes. FOLIO_E_INVALID: not UTF-8. */
int text_facet_string(const char *s, size_t len, char *out, size_t *out_len);
int text_decode(const char *s, size_t len, int32_t *out, size_t cap, size_t *out_n);
bool text_valid_utf8(const char *s, size_t len);
bool text_is_word_char(int32_t cp);

/*
 * search_store.c: the hooks by which writes keep the search structures in
 * step with documents and settings, in the write's own transaction.
 */
int search_dbis_open(MDB_txn *txn, struct folio_index *idx, bool create,
                     struct folio_index_error *err);
/* A document was added (add) or is about to go (!add). */
int search_doc_changed(struct wtxn *w, const uint8_t iid[4], const json_t *doc, bool add);
/* Applies what the op recorded; called by the runner after the op succeeded. */
int search_write_finish(struct wtxn *w);
void search_write_discard(struct wtxn *w);
/*
 * Batches (env.c): the runner of a nested document write takes its change set
 * instead of applying it (fields are finished), merges it into the batch's
 * set once the nested commit succeeded, and applies that set to the parent
 * with search_batch_flush before anything may read or rebuild the lists.
 */
int search_write_defer(struct wtxn *w, struct postings **deferred);
void search_batch_merge(struct folio_index *idx, struct postings *deferred);
bool search_batch_full(const struct folio_index *idx);
int search_batch_flush(struct folio_index *idx, MDB_txn *txn, struct folio_index_error *err);
void search_batch_discard(struct folio_index *idx);
/* Every document is gone. */
int search_clear(struct wtxn *w);
/* The settings go from old to new overrides: rebuild what depends on them. */
int search_settings_changed(struct wtxn *w, const json_t *old_overrides,
                            const json_t *new_overrides);
/* Format 1 to 2: create and fill the search databases, store the version. */
int search_upgrade(struct wtxn *w);
/* verify: the search structures are exactly what the documents make. */
int search_verify(MDB_txn *txn, struct folio_index *idx, struct folio_index_error *err);

/*
 * fields.c: the field distribution (`fields`), kept in step with the
 * documents in the write's own transaction. Writes call fields_doc_changed
 * where a document enters (add) or leaves (!add), next to
 * search_doc_changed; search_write_finish applies the deltas and
 * search_write_discard drops them.
 */
int fields_dbi_open(MDB_txn *txn, struct folio_index *idx, bool create,
                    struct folio_index_error *err);
int fields_doc_changed(struct wtxn *w, const json_t *doc, bool add);
int fields_write_finish(struct wtxn *w);
void fields_write_discard(struct wtxn *w);
/* Every document is gone. */
int fields_clear(struct wtxn *w);
/* Format 2 (or 1) to 3: create `fields`, count the documents, store the version. */
int fields_upgrade(struct wtxn *w);
/* verify: counted (field_tally_doc of every document, delta 1) equals `fields`. */
struct field_tally *field_tally_new(void);
void field_tally_free(struct field_tally *t);
void field_tally_doc(struct field_tally *t, const json_t *doc, int64_t delta);
int fields_verify(MDB_txn *txn, struct folio_index *idx, struct field_tally *counted,
                  struct folio_index_error *err);
/* stats: the distribution (nothing when the env keeps none); released by the next. */
int fields_stats_fill(MDB_txn *txn, struct folio_index *idx, struct folio_index_stats *s,
                      struct folio_index_error *err);
void fields_stats_release(struct folio_index_stats *s);

/* read.c: a stored document (restricted to top-level fields) into b; b's text as *out_json. */
int read_document_emit(struct dbuf *b, const MDB_val *v, const char *const *fields, size_t count,
                       struct folio_index_error *err);
int read_buffer_finish(struct dbuf *b, char **out_json, size_t *out_len);

/*
 * write.c: removes the document with internal id iid (its external id, its
 * posting lists and field counts follow). id: its external id, or NULL to
 * take it from the document and the primary key.
 */
int write_document_remove(struct wtxn *w, const uint8_t iid[4], const char *id, size_t id_len);

/* settings.c */
int settings_apply_patch(const json_t *overrides, const json_t *patch, json_t **out,
                         struct folio_index_error *err);
json_t *settings_effective(const json_t *overrides);

#endif
