/*
 * The index store: one LMDB environment per index holding its documents, its
 * primary key, its settings, the applied-task marker and the search
 * structures (posting lists), which every write keeps in step with the
 * documents and settings in its own transaction.
 *
 * The on-disk layout (named databases, keys, values, meta fields) is in
 * docs/index-format.md. This header is the programming contract.
 *
 * Writes. Every mutating call is one LMDB write transaction: all of it
 * happens or none of it does, and the applied-task marker the caller passes
 * (never NULL) is stored in that same transaction (DESIGN.md §6 "Exactly
 * once"). A failed
 * call leaves documents, settings, primary key, counters and the marker
 * exactly as they were. Calls on one handle are serialised by a writer lock.
 * When the LMDB map is full, the call is retried transparently after the map
 * has grown (doubling, up to map_bytes_max); only reaching that maximum is an
 * error the caller sees.
 *
 * Reads. Each read call runs in one LMDB read transaction, so what it returns
 * (documents and total, or all stats fields) is one consistent state. No read
 * transaction outlives the call; returned data is copied out of LMDB.
 *
 * Threads. A handle may be shared by any number of threads: reads run
 * concurrently with each other and with the writer.
 *
 * Outcomes. A marker may carry an outcome: opaque bytes (the details of the
 * task, or its error) that are stored with it in the same transaction, so that
 * after a crash the caller can report a task it finds applied exactly as it
 * ended (DESIGN.md §6 "Exactly once"). The index keeps the outcomes of the
 * tasks of the latest batch_seq only: a write whose marker.batch_seq differs
 * from the stored marker's first drops every stored outcome; then, when
 * marker.outcome_len > 0, it stores the outcome under marker.task_uid
 * (replacing one stored for that uid; outcome_len 0 leaves it alone). This
 * holds for every write, folio_index_create and folio_index_mark included. A
 * failed write stores no outcome, as it stores no marker: the caller records
 * the outcome of a failed task with folio_index_mark.
 *
 * Errors. Every function returns 0 or a negative folio error code
 * (folio/error.h) and, when err is not NULL, a human message in the style of
 * Meilisearch's (what was wrong and where). Raw LMDB codes and errno values
 * never leave this module. The knowledge of the journal and the scheduler
 * stays outside it: a marker is two opaque numbers and opaque outcome bytes
 * here.
 *
 * "The storage errors", which any write may return besides its own:
 * FOLIO_E_MAP_FULL_MAX (map_bytes_max reached; Meilisearch's
 * database_size_limit_reached), FOLIO_E_TOO_LARGE (the change does not fit in
 * one LMDB transaction), FOLIO_E_INVALID (read-only handle), FOLIO_E_CORRUPT,
 * FOLIO_E_IO, FOLIO_E_NOSPC; and FOLIO_E_TOO_LARGE also when
 * marker->outcome_len is above FOLIO_INDEX_OUTCOME_BYTES_MAX (checked before
 * anything is written). Reads may return FOLIO_E_CORRUPT, FOLIO_E_IO and
 * FOLIO_E_AGAIN (all LMDB reader slots in use).
 */
#ifndef FOLIO_INDEX_H
#define FOLIO_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct folio_index;      /* an open index; thread-safe */

/* Filled by every call that can fail (when not NULL). Always NUL-terminated. */
struct folio_index_error {
    char message[512];
    /* FOLIO_E_INVALID_SETTINGS: the setting whose value is bad ("" when none is) */
    char setting[32];
};

/*
 * The applied-task marker: the uid of the last task applied to the index and
 * the journal seq of that task's batch. The index stores what it is given; the
 * caller decides what the numbers mean and keeps them ordered.
 *
 * outcome/outcome_len: the task's outcome (see "Outcomes" above), borrowed
 * for the call only and never interpreted; at most FOLIO_INDEX_OUTCOME_BYTES_MAX
 * bytes, else the write fails with FOLIO_E_TOO_LARGE; outcome_len 0 (outcome
 * may then be NULL) stores none. Initialise a marker whole: designated
 * initialisers ({.task_uid = u, .batch_seq = s}) leave these NULL/0 (a
 * positional {u, s} does too, but warns under -Wextra). A marker read back
 * (folio_index_marker_get, folio_index_stats) always has outcome NULL and
 * outcome_len 0: read outcomes with folio_index_outcome_get.
 */
struct folio_index_marker {
    uint64_t task_uid;
    uint64_t batch_seq;
    const uint8_t *outcome;
    size_t outcome_len;
};

/* Largest outcome stored with a marker. */
#define FOLIO_INDEX_OUTCOME_BYTES_MAX (64u << 10)

/* Bounds on one document (any input format). */
#define FOLIO_INDEX_DOC_BYTES_MAX (16u << 20)    /* compact JSON of one document */
#define FOLIO_INDEX_DOC_DEPTH_MAX 128            /* nesting of objects and arrays */
#define FOLIO_INDEX_ID_BYTES_MAX 511             /* external document id */
#define FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX 511
#define FOLIO_INDEX_PAYLOAD_BYTES_DEFAULT (100ull << 20)
/* Largest JSON text one read call returns (documents_get, document_get). */
#define FOLIO_INDEX_READ_BYTES_MAX (256u << 20)

struct folio_index_options {
    uint64_t map_bytes_initial; /* LMDB map size to start with; 0: 64 MiB; min 32 KiB */
    uint64_t map_bytes_max;     /* the map doubles up to this; 0: 1 TiB */
    bool read_only;             /* open only: no write call is allowed */
    bool no_lock;               /* read_only only: no lock.mdb (a private copy nobody
                                   else opens, e.g. a snapshot being checked) */
};

/* Fills opts with the defaults. */
void folio_index_options_default(struct folio_index_options *opts);

/*
 * Creates a new index in dir, which must exist (the caller makes
 * indexes/<uuid>/) and must not hold an index yet. primary_key may be NULL
 * (inferred at the first document addition). The marker is that of the task
 * creating the index. opts may be NULL. Files are 0600; the directory is
 * fsynced so the new files survive a crash.
 * Errors: FOLIO_E_NOT_FOUND (dir missing), FOLIO_E_EXISTS (an index is there),
 * FOLIO_E_INVALID_PRIMARY_KEY, FOLIO_E_INVALID (options), FOLIO_E_TOO_LARGE
 * (outcome), FOLIO_E_IO, FOLIO_E_NOSPC. On failure no file is left behind.
 * On success *out is owned by the caller: folio_index_free() it.
 */
int folio_index_create(const char *dir, const struct folio_index_options *opts,
                       const char *primary_key, const struct folio_index_marker *marker,
                       struct folio_index **out, struct folio_index_error *err);

/*
 * Opens the index in dir (read-write, or read-only with opts->read_only).
 * Errors: FOLIO_E_NOT_FOUND (no index in dir), FOLIO_E_CORRUPT (not a folio
 * index or damaged), FOLIO_E_VERSION (format version unknown), FOLIO_E_LOCKED,
 * FOLIO_E_IO, and (read-write only) the storage errors: an older env is
 * brought up to date here, in one write transaction that keeps the marker,
 * outcomes and times: one written before outcomes existed gets its empty
 * `outcomes` database, one of format 1 (before search) gets its search
 * structures, built from its documents (a pass over them all). Read-only, a
 * format-1 env opens but cannot be searched (docs/index-format.md, "Version
 * rules"). The same env must not be opened twice in one process (LMDB).
 */
int folio_index_open(const char *dir, const struct folio_index_options *opts,
                     struct folio_index **out, struct folio_index_error *err);

/* Closes the index. NULL is accepted. No call may be running on it. */
void folio_index_free(struct folio_index *idx);

/* ---- payloads ----------------------------------------------------------- */

enum folio_index_format {
    FOLIO_INDEX_FORMAT_JSON = 0, /* one object, or an array of objects */
    FOLIO_INDEX_FORMAT_NDJSON,   /* objects separated by whitespace (one per line) */
    FOLIO_INDEX_FORMAT_CSV,      /* header line of name[:string|number|boolean] */
};

/* A document payload: caller-owned bytes, read but never modified or kept. */
struct folio_index_payload {
    enum folio_index_format format;
    const char *data;
    size_t len;
    size_t bytes_max;    /* len above this: FOLIO_E_PAYLOAD_TOO_LARGE; 0: 100 MiB */
    char csv_delimiter;  /* CSV only; 0 means ',' */
};

/*
 * Parses a whole payload without touching any index and counts its documents
 * (what a registration needs: well-formed, bounded, receivedDocuments). It
 * does not check ids: that needs the index's primary key.
 * Errors: FOLIO_E_MISSING_PAYLOAD (empty), FOLIO_E_PAYLOAD_TOO_LARGE,
 * FOLIO_E_MALFORMED_PAYLOAD (message names line and column, or the CSV line),
 * FOLIO_E_INVALID (bad delimiter).
 */
int folio_index_payload_count(const struct folio_index_payload *payload, uint64_t *out_count,
                              struct folio_index_error *err);

/* ---- writes (each one transaction, or nested in a batch; each stores *marker) */

/*
 * Lets the long writes on idx stop part-way: between two documents, a
 * document addition, a deletion by filter and a settings change that
 * rebuilds the search structures ask stop(ctx); once it answers true the
 * write stops, changes nothing (in a batch, the batch's earlier writes stay)
 * and returns FOLIO_E_CANCELED. stop == NULL (the default) never stops. Set
 * it while no write runs on idx; stop is called on the writing thread.
 */
void folio_index_set_stop(struct folio_index *idx, bool (*stop)(void *ctx), void *ctx);

enum folio_index_method {
    FOLIO_INDEX_REPLACE = 0, /* POST: the new document replaces the stored one */
    FOLIO_INDEX_UPDATE,      /* PUT: its top-level fields are merged into the stored one */
};

/*
 * Adds the payload's documents (in order; a later duplicate id wins, or is
 * merged in with FOLIO_INDEX_UPDATE). The primary key is the stored one; else
 * primary_key (then stored); else inferred from the first document (then
 * stored). A replaced or updated document keeps its internal id; a new one gets
 * the next id (ids are never reused). *out_indexed (may be NULL) = documents
 * in the payload.
 * Errors (nothing changes): the payload errors above,
 * FOLIO_E_PRIMARY_KEY_ALREADY_PRESENT (primary_key differs from the stored one),
 * FOLIO_E_INVALID_PRIMARY_KEY, FOLIO_E_PRIMARY_KEY_NO_CANDIDATE,
 * FOLIO_E_PRIMARY_KEY_MULTIPLE_CANDIDATES, FOLIO_E_MISSING_DOCUMENT_ID,
 * FOLIO_E_INVALID_DOCUMENT_ID, FOLIO_E_MALFORMED_PAYLOAD (a merged document
 * over the size bound), FOLIO_E_MAP_FULL_MAX, FOLIO_E_TOO_LARGE (one LMDB
 * transaction cannot hold it, or the 2^32 internal ids are used up),
 * FOLIO_E_INVALID (read-only handle), FOLIO_E_IO, FOLIO_E_NOSPC.
 */
int folio_index_documents_add(struct folio_index *idx, const struct folio_index_payload *payload,
                              enum folio_index_method method, const char *primary_key,
                              const struct folio_index_marker *marker, uint64_t *out_indexed,
                              struct folio_index_error *err);

/*
 * Deletes the documents with these external ids (integers in decimal form).
 * Ids that are absent or not valid ids are ignored. *out_deleted (may be
 * NULL) = documents actually deleted.
 */
int folio_index_documents_delete(struct folio_index *idx, const char *const *ids, size_t count,
                                 const struct folio_index_marker *marker, uint64_t *out_deleted,
                                 struct folio_index_error *err);

/*
 * Deletes every document the filter expression matches, evaluated inside the
 * write's own transaction (in a batch: after the batch's earlier writes, so
 * documents they added match too). *out_deleted (may be NULL) = documents
 * deleted. Errors (nothing changes): FOLIO_E_INVALID_SEARCH_FILTER (a syntax
 * error, a blank filter, or an attribute that is not filterable: the
 * search's messages), plus the storage errors.
 */
int folio_index_documents_delete_by_filter(struct folio_index *idx, const char *filter,
                                           const struct folio_index_marker *marker,
                                           uint64_t *out_deleted, struct folio_index_error *err);

/* Deletes every document; the primary key and settings stay. */
int folio_index_documents_clear(struct folio_index *idx, const struct folio_index_marker *marker,
                                uint64_t *out_deleted, struct folio_index_error *err);

/*
 * Applies a settings object (JSON text): keys present are set, a null value
 * resets that setting to its default, absent keys are left alone. A change of
 * searchableAttributes or filterableAttributes rebuilds the search structures
 * that follow it from every document, in the same transaction. Known keys:
 * displayedAttributes, searchableAttributes (default ["*"]),
 * filterableAttributes, sortableAttributes, stopWords (default [], stored
 * sorted and deduplicated), rankingRules (Meilisearch's six default rules),
 * synonyms (default {}), distinctAttribute (default null).
 * Errors (nothing changes): FOLIO_E_MALFORMED_PAYLOAD (not JSON, or nested
 * deeper than FOLIO_INDEX_DOC_DEPTH_MAX), FOLIO_E_PAYLOAD_TOO_LARGE (over
 * 16 MiB), FOLIO_E_UNKNOWN_SETTING (Meilisearch's bad_request),
 * FOLIO_E_INVALID_SETTINGS (not an object, or a bad value: the message names
 * the setting, e.g. "`.sortableAttributes`"), plus the storage errors.
 */
int folio_index_settings_update(struct folio_index *idx, const char *json, size_t len,
                                const struct folio_index_marker *marker,
                                struct folio_index_error *err);

/* Resets every setting to its default. */
int folio_index_settings_reset(struct folio_index *idx, const struct folio_index_marker *marker,
                               struct folio_index_error *err);

/* Checks a settings object as folio_index_settings_update would, without an index. */
int folio_index_settings_validate(const char *json, size_t len, struct folio_index_error *err);

/*
 * Sets the primary key. Allowed while the index has no documents; with
 * documents, the same value is a no-op and another one is
 * FOLIO_E_PRIMARY_KEY_ALREADY_PRESENT. Errors also: FOLIO_E_INVALID_PRIMARY_KEY.
 */
int folio_index_primary_key_set(struct folio_index *idx, const char *primary_key,
                                const struct folio_index_marker *marker,
                                struct folio_index_error *err);

/*
 * Stores only the marker and its outcome (a task that failed or changed
 * nothing still advances it, and its error or details are kept for recovery).
 * updated_at is left alone.
 */
int folio_index_mark(struct folio_index *idx, const struct folio_index_marker *marker,
                     struct folio_index_error *err);

/* ---- batches: many writes, one durable commit ------------------------------ */

/*
 * Opens a batch on idx for the calling thread: until folio_index_batch_commit
 * or folio_index_batch_abort, every write above called by this thread on idx
 * (documents add/delete/clear, settings update/reset, primary key set, mark)
 * runs in a nested LMDB transaction of one parent transaction. Each write
 * still stores its marker and outcome with its changes, or, when it fails,
 * changes nothing (the others stay applied). Nothing is durable before the
 * commit, which is one LMDB commit for the whole batch. Reads by this thread
 * on idx see the batch's writes; other threads see the last committed state,
 * and their writes wait for the batch to end. A thread has at most one batch
 * open; no call on idx other than reads and writes may run on this thread
 * meanwhile.
 *
 * Rollback. The map cannot grow while the parent is open. When a write needs
 * a larger map (or is too large to share a transaction with the writes
 * before it), the whole batch is rolled back, the map grows, and that write
 * and every later call of the batch (its commit included) fail with
 * FOLIO_E_AGAIN: the index is exactly as before folio_index_batch_begin. The
 * caller then ends the batch (commit or abort) and runs its writes again
 * (folio_index_batch_lost tells it happened). A write that cannot fit even in
 * the largest map fails alone with FOLIO_E_MAP_FULL_MAX.
 * Errors: FOLIO_E_INVALID (read-only handle), the storage errors (then no
 * batch is open).
 */
int folio_index_batch_begin(struct folio_index *idx, struct folio_index_error *err);

/*
 * Commits the batch (one durable LMDB commit; none if no write succeeded)
 * and ends it, also on error. FOLIO_E_AGAIN: the batch was rolled back
 * (above, or the commit itself ran out of map space: the map has grown);
 * nothing of it is in the index. Other errors (FOLIO_E_IO, FOLIO_E_NOSPC,
 * FOLIO_E_MAP_FULL_MAX): nothing of it is in the index either.
 */
int folio_index_batch_commit(struct folio_index *idx, struct folio_index_error *err);

/* Drops the batch's writes and ends it. */
void folio_index_batch_abort(struct folio_index *idx);

/* Whether the calling thread has a batch open on idx. */
bool folio_index_batch_open(const struct folio_index *idx);

/* Whether the calling thread's batch on idx was rolled back (see "Rollback"). */
bool folio_index_batch_lost(const struct folio_index *idx);

/* ---- reads ---------------------------------------------------------------- */

/*
 * The applied-task marker of the last successful write (outcome NULL,
 * outcome_len 0: see folio_index_outcome_get).
 */
int folio_index_marker_get(struct folio_index *idx, struct folio_index_marker *out,
                           struct folio_index_error *err);

/*
 * The outcome stored for task_uid (only tasks of the stored marker's
 * batch_seq have one: see "Outcomes" above). On success *out is a copy of
 * *out_len (1 to FOLIO_INDEX_OUTCOME_BYTES_MAX) bytes owned by the caller:
 * folio_free() it. On error *out is NULL and *out_len 0.
 * Errors: FOLIO_E_NOT_FOUND (no outcome stored for task_uid, also in an index
 * written before outcomes existed), FOLIO_E_CORRUPT (a stored outcome of a bad
 * size), and the read errors.
 */
int folio_index_outcome_get(struct folio_index *idx, uint64_t task_uid, uint8_t **out,
                            size_t *out_len, struct folio_index_error *err);

/*
 * One document as compact JSON text (*out_json NUL-terminated, owned by the
 * caller: folio_free() it). fields == NULL, or a list containing "*", returns
 * every field; otherwise only the listed top-level fields (in stored order).
 * Errors: FOLIO_E_DOCUMENT_NOT_FOUND (also for an id that cannot be valid).
 */
int folio_index_document_get(struct folio_index *idx, const char *id, const char *const *fields,
                             size_t field_count, char **out_json, size_t *out_len,
                             struct folio_index_error *err);

/*
 * Documents [offset, offset + limit) in internal id order, as one JSON array
 * text (owned by the caller: folio_free() it), and the total document count,
 * from one read transaction. fields as in folio_index_document_get.
 * Errors: FOLIO_E_TOO_LARGE (the array would exceed FOLIO_INDEX_READ_BYTES_MAX).
 */
int folio_index_documents_get(struct folio_index *idx, uint64_t offset, uint64_t limit,
                              const char *const *fields, size_t field_count, char **out_json,
                              size_t *out_len, uint64_t *out_total,
                              struct folio_index_error *err);

/*
 * Documents by filter. filter is an expression of Meilisearch's filter
 * language (see folio_index_search_req.filter; folio_index_filter_from_json
 * makes one from the JSON forms). folio_index_documents_fetch: the matching
 * documents [offset, offset + limit) in internal id order, as
 * folio_index_documents_get returns them (fields alike), and *out_total the
 * exact number of matching documents, from one read transaction. A NULL or
 * blank filter matches every document.
 * Errors: FOLIO_E_INVALID_SEARCH_FILTER (a syntax error, or an attribute that
 * is not filterable: the search's messages), FOLIO_E_VERSION (as the search),
 * FOLIO_E_TOO_LARGE, and the read errors.
 */
int folio_index_documents_fetch(struct folio_index *idx, const char *filter, uint64_t offset,
                                uint64_t limit, const char *const *fields, size_t field_count,
                                char **out_json, size_t *out_len, uint64_t *out_total,
                                struct folio_index_error *err);

/* A valid document id: 1 to FOLIO_INDEX_ID_BYTES_MAX bytes of [A-Za-z0-9_-]. */
bool folio_index_docid_valid(const char *id, size_t len);

/*
 * folio_index_documents_fetch among the documents whose external ids are in
 * ids[0..id_count) (NULL: no such restriction; an empty list matches
 * nothing). Ids that are not stored, or cannot be document ids, are ignored,
 * as Meilisearch does; the order stays the internal id order, whatever the
 * order of the list; the filter, if any, narrows the listed documents.
 */
int folio_index_documents_fetch_ids(struct folio_index *idx, const char *filter,
                                    const char *const *ids, size_t id_count, uint64_t offset,
                                    uint64_t limit, const char *const *fields,
                                    size_t field_count, char **out_json, size_t *out_len,
                                    uint64_t *out_total, struct folio_index_error *err);

/* All settings with defaults filled in, as JSON text (caller frees with folio_free). */
int folio_index_settings_get(struct folio_index *idx, char **out_json, size_t *out_len,
                             struct folio_index_error *err);

struct folio_index_stats {
    uint64_t document_count;
    bool has_primary_key;
    char primary_key[FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX + 1];
    int64_t created_at_ns;     /* unix ns */
    int64_t updated_at_ns;     /* unix ns; last successful change (not folio_index_mark) */
    struct folio_index_marker marker; /* outcome NULL, outcome_len 0 */
    uint64_t next_internal_id; /* ids below it were handed out once */
    uint64_t raw_document_bytes; /* pages of the documents database, in bytes */
    uint64_t map_bytes;        /* current LMDB map size */
    char *settings_json;       /* effective settings, as folio_index_settings_get */
    size_t settings_len;
    /*
     * The field distribution: field_names[i] (a top-level field name, UTF-8,
     * NUL-terminated) is in field_documents[i] documents (never 0), names in
     * byte order, at most FOLIO_INDEX_STATS_FIELDS_MAX of them (the first in
     * that order; field_distribution_truncated says some were left out).
     * Names longer than 511 bytes are not counted. has_field_distribution is
     * false (and field_count 0) only for a format-2 env opened read-only,
     * which keeps no distribution (docs/index-format.md, "Version rules").
     */
    bool has_field_distribution;
    bool field_distribution_truncated;
    size_t field_count;
    char **field_names;
    uint64_t *field_documents;
};

/* Names listed at most by folio_index_stats_get. */
#define FOLIO_INDEX_STATS_FIELDS_MAX (1u << 20)

/* Everything above from one read transaction. Free with folio_index_stats_free. */
int folio_index_stats_get(struct folio_index *idx, struct folio_index_stats **out,
                          struct folio_index_error *err);
void folio_index_stats_free(struct folio_index_stats *stats);

/* ---- search ---------------------------------------------------------------- */

/*
 * A search request (Meilisearch's POST /indexes/{uid}/search subset). Start
 * from folio_index_search_req_default (offset 0, limit 20, everything else
 * NULL); every pointer is borrowed for the call only.
 *
 * q: UTF-8 text or NULL. Its words are normalised as the documents' are
 * (NFKC, case folding, Latin accents dropped; split on what is not a letter,
 * digit or mark; each Han/kana character is a word of its own); the first
 * FOLIO_INDEX_QUERY_WORDS_MAX count. Every word must match a word of a
 * searchable attribute; the last one also matches as a prefix unless q ends
 * with a separator. Typos: a query word of 5 or more characters may match
 * with 1 typo, one of 9 or more with 2 (Damerau-Levenshtein on characters;
 * for the prefix word, the distance to the closest prefix of the indexed
 * word). A q without words (NULL, "", "  ") is a placeholder search: every
 * document, in internal id order.
 *
 * Ranking, for a q with words: fewer typos (summed over the query words),
 * then the documents that hold the last query word as a whole word before
 * those that match it only as a prefix or with typos, then the best
 * attributes (summed over the query words: the rank in searchableAttributes
 * of the best attribute holding the word; with ["*"], the position of the
 * top-level field in the document), then internal id (insertion order).
 *
 * filter: Meilisearch's filter expression (=, !=, >, >=, <, <=, IN [...],
 * NOT IN [...], EXISTS, NOT EXISTS, a TO b, AND, OR, NOT, parentheses; values
 * bare, 'quoted' or "quoted") over filterableAttributes, or NULL/blank.
 * attributes_to_retrieve: NULL (or one holding "*") returns every displayed
 * attribute; otherwise only these (dotted paths select nested fields), and
 * only those displayedAttributes also allows.
 */
struct folio_index_search_req {
    const char *q;
    uint64_t offset;
    uint64_t limit;
    const char *filter;
    const char *const *attributes_to_retrieve;
    size_t attributes_to_retrieve_count;
    /*
     * Pages instead of offset/limit (Meilisearch's page/hitsPerPage): hits
     * [(page - 1) * hits_per_page, page * hits_per_page), none for page 0;
     * offset and limit are then ignored.
     */
    bool paged;
    uint64_t page;          /* default 1 */
    uint64_t hits_per_page; /* default FOLIO_INDEX_SEARCH_LIMIT_DEFAULT */
    /*
     * Attributes whose facetDistribution and facetStats to add ("*": every
     * filterable one); NULL: none asked (no such fields in the answer).
     */
    const char *const *facets;
    size_t facet_count;
};

#define FOLIO_INDEX_SEARCH_LIMIT_DEFAULT 20
#define FOLIO_INDEX_QUERY_WORDS_MAX 10

void folio_index_search_req_default(struct folio_index_search_req *req);

/*
 * Runs one search in one read transaction. On success *out_json is the
 * response, NUL-terminated and owned by the caller (folio_free() it), in
 * Meilisearch's shape:
 *   {"hits":[...],"query":"...","processingTimeMs":N,"limit":N,"offset":N,
 *    "estimatedTotalHits":N}
 * where estimatedTotalHits is the exact number of matching documents; with
 * req->paged the last three are "hitsPerPage":N,"page":N,"totalPages":N,
 * "totalHits":N instead (totalHits exact, totalPages its pages of
 * hits_per_page, 0 when hits_per_page is 0). With req->facets, then
 * "facetDistribution":{attr:{value:count}},"facetStats":{attr:{"min","max"}}
 * over every matching document (index/facets.c says how values are named).
 * Errors: FOLIO_E_INVALID_SEARCH_FILTER (a syntax error, or an attribute that
 * is not filterable; the message is Meilisearch's, ending with a line
 * "start:end filter" that gives the 1-based character columns of the
 * culprit), FOLIO_E_INVALID_SEARCH_Q (q is not UTF-8),
 * FOLIO_E_INVALID_SEARCH_FACETS (a facet that is not filterable), FOLIO_E_VERSION (a
 * read-only handle on an index written before search existed, format 1:
 * open it read-write once), FOLIO_E_TOO_LARGE (the response would exceed
 * FOLIO_INDEX_READ_BYTES_MAX), and the read errors.
 */
int folio_index_search(struct folio_index *idx, const struct folio_index_search_req *req,
                       char **out_json, size_t *out_len, struct folio_index_error *err);

/* Longest filter folio_index_filter_from_json takes (JSON text, in bytes). */
#define FOLIO_INDEX_FILTER_BYTES_MAX (64u << 10)

/*
 * Makes one filter expression of a filter value given as JSON text: null, a
 * string (the expression itself), or Meilisearch's array form (the AND of its
 * elements, each a string or an array of strings that are ORed; blank strings
 * and empty arrays drop out). Each string is checked alone, then the whole,
 * so a syntax error names the string at fault. Filterability is not checked:
 * that needs an index. On success *out_expr is the expression (owned by the
 * caller: folio_free() it), or NULL when the value says no filter (null,
 * blank, empty). Errors: FOLIO_E_INVALID_SEARCH_FILTER (not JSON, a value of
 * the wrong type: "Invalid syntax for the filter parameter: `expected String,
 * Array, found: 42`.", over FOLIO_INDEX_FILTER_BYTES_MAX, or a syntax error
 * with the search's message).
 */
int folio_index_filter_from_json(const char *json, size_t len, char **out_expr,
                                 struct folio_index_error *err);

/* ---- copies and checks ---------------------------------------------------- */

/*
 * Writes a compacted copy of the env, outcomes included (mdb_env_copy2 with
 * MDB_CP_COMPACT, one consistent read transaction) into dest_dir, which must
 * exist and not hold a data.mdb, then fsyncs dest_dir/data.mdb and dest_dir.
 * While it runs, a write that must grow the map waits for it.
 * Errors: FOLIO_E_NOT_FOUND (dest_dir missing), FOLIO_E_EXISTS, FOLIO_E_IO,
 * FOLIO_E_NOSPC.
 */
int folio_index_copy_compact(struct folio_index *idx, const char *dest_dir,
                             struct folio_index_error *err);

/*
 * Checks the whole index: every document parses and carries the primary key
 * whose id maps back to it, the id maps and counters agree, no internal id is
 * at or above next_internal_id; every stored outcome has an 8-byte key at or
 * below marker.task_uid and 1 to FOLIO_INDEX_OUTCOME_BYTES_MAX bytes; the
 * search structures are exactly what the documents and settings make (they
 * are rebuilt in memory to compare: memory grows with the posting lists).
 * Errors: FOLIO_E_CORRUPT (message says what).
 */
int folio_index_verify(struct folio_index *idx, struct folio_index_error *err);

#endif
