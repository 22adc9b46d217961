/*
 * The scheduler's state: tasks, batches and the index mapping, as a pure
 * function of the journal.
 *
 * Nothing here writes the journal or runs a task. This header is the part of
 * the scheduler every other piece reads: the task model (kinds, statuses, the
 * msgpack content, details and error objects each kind carries), the state
 * rebuilt by applying events (folio_sched_state_apply), the replay of a
 * journal with or without a checkpoint, the checkpoint files, and the task and
 * batch queries of GET /tasks and GET /batches served from in-memory sets.
 *
 * docs/scheduler.md is the reference for the objects and for the checkpoint
 * file format; it also lists the rule each event must satisfy to be applied.
 *
 * Uids. Events carry u64 uids; the state keeps task and batch uids below
 * FOLIO_SCHED_UID_MAX (they index 32-bit roaring bitmaps, as Meilisearch's
 * u32 task uids do). A larger uid is an error when applied.
 *
 * Threads. A state is not locked: one thread applies events; readers must be
 * serialised with it by the caller.
 */
#ifndef FOLIO_SCHED_H
#define FOLIO_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "folio/event.h"

/* ---- task model ------------------------------------------------------- */

/*
 * Task kinds in Meilisearch's canonical order (the order error messages list
 * them in), with their JSON `type` names.
 */
#define FOLIO_TASK_KINDS(X)                                                                    \
    X(DOCUMENT_ADDITION_OR_UPDATE,    "documentAdditionOrUpdate")                              \
    X(DOCUMENT_DELETION,              "documentDeletion")                                      \
    X(SETTINGS_UPDATE,                "settingsUpdate")                                        \
    X(INDEX_CREATION,                 "indexCreation")                                         \
    X(INDEX_DELETION,                 "indexDeletion")                                         \
    X(INDEX_UPDATE,                   "indexUpdate")                                           \
    X(INDEX_SWAP,                     "indexSwap")                                             \
    X(TASK_CANCELATION,               "taskCancelation")                                       \
    X(TASK_DELETION,                  "taskDeletion")                                          \
    X(SNAPSHOT_CREATION,              "snapshotCreation")                                      \
    X(SINGLE_INDEX_SNAPSHOT_CREATION, "singleIndexSnapshotCreation")                           \
    X(SINGLE_INDEX_SNAPSHOT_IMPORT,   "singleIndexSnapshotImport")

enum folio_task_kind {
#define FOLIO_KIND_ENUM(name, json) FOLIO_KIND_##name,
    FOLIO_TASK_KINDS(FOLIO_KIND_ENUM)
#undef FOLIO_KIND_ENUM
    FOLIO_KIND_COUNT
};

#define FOLIO_TASK_STATUSES(X)                                                                 \
    X(ENQUEUED,   "enqueued")                                                                  \
    X(PROCESSING, "processing")                                                                \
    X(SUCCEEDED,  "succeeded")                                                                 \
    X(FAILED,     "failed")                                                                    \
    X(CANCELED,   "canceled")

enum folio_task_status {
#define FOLIO_STATUS_ENUM(name, json) FOLIO_STATUS_##name,
    FOLIO_TASK_STATUSES(FOLIO_STATUS_ENUM)
#undef FOLIO_STATUS_ENUM
    FOLIO_STATUS_COUNT
};

/* JSON name ("indexCreation", "enqueued"), or NULL for a value out of range. */
const char *folio_task_kind_name(enum folio_task_kind kind);
const char *folio_task_status_name(enum folio_task_status status);

/*
 * Parses a JSON name, ignoring ASCII case as Meilisearch's query parser does
 * ("INDEXCREATION" is indexCreation). 0, or FOLIO_E_INVALID.
 * The journal is stricter: an event's kind must be the exact camelCase name.
 */
int folio_task_kind_parse(const char *name, size_t len, enum folio_task_kind *out);
int folio_task_status_parse(const char *name, size_t len, enum folio_task_status *out);

/* True for kinds bound to exactly one index (Meilisearch's related_to_one_index). */
bool folio_task_kind_one_index(enum folio_task_kind kind);
/* True for succeeded, failed and canceled. */
bool folio_task_status_finished(enum folio_task_status status);

/* Index uid syntax: 1..400 bytes of [A-Za-z0-9_-]. */
#define FOLIO_INDEX_UID_MAX 400u
bool folio_index_uid_valid(const char *uid, size_t len);
/* Document id syntax: 1..511 bytes of [A-Za-z0-9_-] (an integer id is its decimal form). */
#define FOLIO_DOCUMENT_ID_MAX 511u
bool folio_document_id_valid(const char *id, size_t len);

/*
 * What a task carries in task_registered.content, per kind (docs/scheduler.md
 * "Task content"). Fields not used by the task's kind must be left zero.
 * Strings are not required to be NUL-terminated on encode; a decoded content
 * owns NUL-terminated copies of everything.
 */
enum folio_doc_method {
    FOLIO_DOC_REPLACE = 0,       /* "replace": POST documents */
    FOLIO_DOC_UPDATE = 1,        /* "update": PUT documents */
};

/* Payload formats (key `format`; absent means json). Same order as folio_index_format. */
enum folio_doc_format {
    FOLIO_DOC_JSON = 0,
    FOLIO_DOC_NDJSON = 1,
    FOLIO_DOC_CSV = 2,
};

struct folio_task_swap {
    struct folio_str indexes[2];
    bool rename;
};

struct folio_task_content {
    enum folio_task_kind kind;
    /* indexCreation, indexUpdate, documentAdditionOrUpdate: optional */
    struct folio_str primary_key;
    /* indexUpdate (rename), singleIndexSnapshotImport: optional */
    struct folio_str new_index_uid;
    /* documentAdditionOrUpdate */
    enum folio_doc_method method;
    enum folio_doc_format format;
    char csv_delimiter;                   /* csv only; 0: absent (',') */
    struct folio_str content_file;        /* id of the payload file in content/, or */
    const uint8_t *payload;               /* the payload itself, inline (small payloads) */
    uint32_t payload_len;
    uint64_t content_bytes;
    struct folio_str content_checksum;    /* 32 lowercase hex digits: XXH3-128 of the payload */
    bool documents_count_set;
    uint64_t documents_count;
    /* documentAdditionOrUpdate, settingsUpdate: absent means true */
    bool allow_index_creation_set;
    bool allow_index_creation;
    /* documentDeletion: ids (at least one), or clear, or filter */
    struct folio_str_array ids;
    bool clear;
    struct folio_str filter;              /* the JSON text of the filter value ("\"a = 1\"") */
    /* settingsUpdate */
    struct folio_object settings;         /* a msgpack map */
    bool is_deletion;
    /* indexSwap (may be empty) */
    const struct folio_task_swap *swaps;
    uint32_t swap_count;
    /* taskCancelation, taskDeletion */
    struct folio_str query;               /* the original query string, "?uids=1,2" */
    struct folio_u64_array matched_tasks; /* strictly ascending, all below the task's own uid */
    /* singleIndexSnapshotCreation (optional), singleIndexSnapshotImport (required) */
    struct folio_str snapshot_path;
    /* singleIndexSnapshotImport: the uid inside the snapshot, optional */
    struct folio_str index_uid;
    void *owned_;                         /* private: storage of a decoded content */
};

/*
 * Encodes c into a new msgpack map (caller frees *out with folio_free). A kind
 * with nothing to say encodes to len 0 (content absent). FOLIO_E_INVALID if a
 * field breaks the kind's rules (docs/scheduler.md).
 */
int folio_task_content_encode(const struct folio_task_content *c, uint8_t **out, size_t *len);
/*
 * Decodes and checks the content of a task of kind (len 0: absent). On
 * success c owns its strings and arrays until folio_task_content_clear(c).
 * FOLIO_E_DECODE if it does not follow the kind's rules.
 */
int folio_task_content_decode(enum folio_task_kind kind, const uint8_t *buf, size_t len,
                              struct folio_task_content *c);
void folio_task_content_clear(struct folio_task_content *c);

/*
 * The indexes a task touches (task_registered.index_uids), derived from its
 * content and the index uid it was registered on (index_uid: NULL/0 for
 * kinds with no index): [index_uid] for one-index kinds, [index_uid,
 * new_index_uid] for an indexUpdate rename, the swap pairs in order for
 * indexSwap, nothing for global kinds. *count receives the number written
 * into out (at most out_max; FOLIO_E_TOO_LARGE if more are needed).
 */
int folio_task_content_index_uids(const struct folio_task_content *c, struct folio_str index_uid,
                                  struct folio_str *out, uint32_t out_max, uint32_t *count);

/*
 * Details a task reports (task_*.details): Meilisearch's per-kind keys,
 * written in the order of this list. A key is written when its bit (1ull << FOLIO_DETAIL_x) is in `present`;
 * written as nil when its bit is also in `null`.
 */
#define FOLIO_TASK_DETAILS(X)                                                                  \
    X(RECEIVED_DOCUMENTS, "receivedDocuments")                                                 \
    X(INDEXED_DOCUMENTS,  "indexedDocuments")                                                  \
    X(PRIMARY_KEY,        "primaryKey")                                                        \
    X(INDEX_UID,          "indexUid")                                                          \
    X(OLD_INDEX_UID,      "oldIndexUid")                                                       \
    X(NEW_INDEX_UID,      "newIndexUid")                                                       \
    X(SNAPSHOT_PATH,      "snapshotPath")                                                      \
    X(IMPORTED_DOCUMENTS, "importedDocuments")                                                 \
    X(PROVIDED_IDS,       "providedIds")                                                       \
    X(DELETED_DOCUMENTS,  "deletedDocuments")                                                  \
    X(MATCHED_TASKS,      "matchedTasks")                                                      \
    X(CANCELED_TASKS,     "canceledTasks")                                                     \
    X(DELETED_TASKS,      "deletedTasks")                                                      \
    X(ORIGINAL_FILTER,    "originalFilter")                                                    \
    X(SWAPS,              "swaps")

enum folio_task_detail {
#define FOLIO_DETAIL_ENUM(name, key) FOLIO_DETAIL_##name,
    FOLIO_TASK_DETAILS(FOLIO_DETAIL_ENUM)
#undef FOLIO_DETAIL_ENUM
    FOLIO_DETAIL_COUNT
};

struct folio_task_details {
    uint64_t present;
    uint64_t null;
    uint64_t received_documents, indexed_documents, provided_ids, deleted_documents;
    uint64_t matched_tasks, canceled_tasks, deleted_tasks, imported_documents;
    struct folio_str original_filter, primary_key, old_index_uid, new_index_uid;
    struct folio_str index_uid, snapshot_path;
    const struct folio_task_swap *swaps;
    uint32_t swap_count;
    /* settingsUpdate only: a msgpack map whose entries are the details */
    struct folio_object settings;
};

/* Key name of a detail ("receivedDocuments"), or NULL. */
const char *folio_task_detail_name(enum folio_task_detail d);
/*
 * Encodes the details of a task of kind (caller frees *out; len 0 when
 * nothing is present). FOLIO_E_INVALID if a present key does not belong to
 * the kind or may not be null.
 */
int folio_task_details_encode(enum folio_task_kind kind, const struct folio_task_details *d,
                              uint8_t **out, size_t *len);

/* Meilisearch's error object, carried by task_failed.error. */
struct folio_task_error {
    struct folio_str message;
    struct folio_str code;       /* snake_case, e.g. "index_not_found" */
    struct folio_str type;       /* invalid_request | internal | auth | system */
    struct folio_str link;       /* empty: "https://docs.meilisearch.com/errors#<code>" */
};
int folio_task_error_encode(const struct folio_task_error *e, uint8_t **out, size_t *len);

/*
 * Checks an object against the rules of docs/scheduler.md: content of a kind,
 * details of a kind, an error. 0 or FOLIO_E_DECODE; why (may be NULL)
 * receives a sentence.
 */
int folio_task_content_check(enum folio_task_kind kind, const uint8_t *buf, size_t len,
                             char *why, size_t why_len);
int folio_task_details_check(enum folio_task_kind kind, const uint8_t *buf, size_t len,
                             char *why, size_t why_len);
int folio_task_error_check(const uint8_t *buf, size_t len, char *why, size_t why_len);

/* ---- state ------------------------------------------------------------ */

#define FOLIO_SCHED_UID_MAX 0xfffffffeu      /* largest task or batch uid */
#define FOLIO_SCHED_TASKS_MAX 10000000u      /* living tasks in one state */
#define FOLIO_SCHED_STEPS_MAX 8u             /* depth of a batch's progress */

struct folio_sched_state;

/* Why an apply, a replay or a checkpoint load failed. */
struct folio_sched_diag {
    uint64_t seq;                /* the event's seq (0 if not about one event) */
    char file[64];               /* checkpoint file name, "" if not about one */
    char reason[320];
};

/* A new, empty state (before seq 1). Free with folio_sched_state_free (accepts NULL). */
struct folio_sched_state *folio_sched_state_new(void);
void folio_sched_state_free(struct folio_sched_state *s);

/*
 * Applies one event. seq must be the state's last seq + 1; ev->seq must be 0
 * or seq. frame_hash is the hash of the journal frame holding the event, or 0
 * if the caller does not know it (an event just appended); it is only kept,
 * for checkpoints. Events that do not change tasks, batches or indexes
 * (server_started, ...) only advance the seq.
 *
 * Every rule is checked before anything changes: on error the state is as it
 * was. Errors: FOLIO_E_CORRUPT when the event contradicts the state (an
 * outcome for an unknown task, a task uid that does not increase, ...;
 * docs/scheduler.md lists the rules) or breaks an object's rules;
 * FOLIO_E_INVALID for a seq out of order; FOLIO_E_TOO_LARGE for a uid above
 * FOLIO_SCHED_UID_MAX or more than FOLIO_SCHED_TASKS_MAX living tasks.
 * diag (may be NULL) names the seq and the rule.
 */
int folio_sched_state_apply(struct folio_sched_state *s, uint64_t seq, uint64_t frame_hash,
                            const struct folio_event *ev, struct folio_sched_diag *diag);

uint64_t folio_sched_state_last_seq(const struct folio_sched_state *s);
/* Frame hash of the last applied event, 0 if unknown. */
uint64_t folio_sched_state_frame_hash(const struct folio_sched_state *s);
uint64_t folio_sched_state_next_task_uid(const struct folio_sched_state *s);
uint64_t folio_sched_state_next_batch_uid(const struct folio_sched_state *s);
uint64_t folio_sched_state_task_count(const struct folio_sched_state *s);
uint64_t folio_sched_state_batch_count(const struct folio_sched_state *s);

/*
 * XXH3-64 of the canonical serialisation (docs/scheduler.md): equal states
 * have equal hashes whatever the order of their history in memory. The frame
 * hash is not part of it.
 */
uint64_t folio_sched_state_hash(const struct folio_sched_state *s);

/*
 * Compares two states field by field, the derived query sets included.
 * Returns true if equal; otherwise false and, if diff is not NULL, the first
 * difference as a sentence ("task 17: status succeeded vs failed").
 */
bool folio_sched_state_equal(const struct folio_sched_state *a, const struct folio_sched_state *b,
                             char *diff, size_t diff_len);

/*
 * Applies every event of the journal in journal_dir after the state's last
 * seq, up to the end. Errors: those of the journal reader (FOLIO_E_CORRUPT,
 * FOLIO_E_TORN_TAIL, FOLIO_E_NOT_FOUND, FOLIO_E_IO), of event decoding, of
 * apply, and FOLIO_E_CORRUPT if the journal does not continue at the state's
 * seq. On error the state holds the events applied before the failing one.
 */
int folio_sched_state_catch_up(struct folio_sched_state *s, const char *journal_dir,
                               struct folio_sched_diag *diag);

struct folio_sched_replay_info {
    uint64_t checkpoint_seq;      /* 0: replayed from scratch */
    char checkpoint_file[64];     /* "" if none was used */
    uint32_t checkpoints_skipped; /* files that failed their checksum or format */
    uint64_t events_applied;
    uint64_t last_seq;
};

/*
 * Rebuilds the state: the newest usable checkpoint in checkpoint_dir (NULL:
 * from scratch; see folio_sched_checkpoint_load), then every later event of
 * the journal. *out is owned by the caller. info may be NULL.
 * Errors: those of folio_sched_checkpoint_load and folio_sched_state_catch_up.
 */
int folio_sched_state_replay(const char *journal_dir, const char *checkpoint_dir,
                             struct folio_sched_state **out, struct folio_sched_replay_info *info,
                             struct folio_sched_diag *diag);

/* ---- reading tasks, batches and indexes ------------------------------- */

#define FOLIO_SCHED_NONE UINT32_MAX   /* no batch, no canceledBy */

/* A task as the state holds it. Everything is borrowed until the state changes. */
struct folio_task_view {
    uint32_t uid;
    enum folio_task_kind kind;
    enum folio_task_status status;
    const struct folio_str *index_uids;   /* the indexes it touches */
    uint32_t index_count;
    uint32_t batch_uid;                   /* FOLIO_SCHED_NONE if none */
    uint32_t canceled_by;                 /* FOLIO_SCHED_NONE if none */
    int64_t enqueued_at_ns;
    bool started;                         /* started_at_ns is set */
    int64_t started_at_ns;
    bool finished;                        /* finished_at_ns is set */
    int64_t finished_at_ns;
    struct folio_object content;          /* len 0: absent */
    struct folio_object details;          /* as reported by the outcome; len 0: none yet */
    struct folio_object error;            /* failed tasks */
};

/* The public `indexUid` of a task: its index for one-index kinds, else NULL. */
const struct folio_str *folio_task_view_index_uid(const struct folio_task_view *t);

/*
 * The details of a task that has no outcome yet, from its content, as
 * Meilisearch shows them: what registration knew (receivedDocuments,
 * providedIds, matchedTasks, ...), the counters of the work null. Caller
 * frees *out; len 0 when the kind has none. FOLIO_E_DECODE if the content is
 * not the kind's.
 */
int folio_task_details_default(const struct folio_task_view *t, uint8_t **out, size_t *len);

/* 0, or FOLIO_E_NOT_FOUND (never registered, or deleted). */
int folio_sched_task_get(const struct folio_sched_state *s, uint64_t uid,
                         struct folio_task_view *out);

struct folio_batch_step {
    struct folio_str name;
    uint32_t finished;                    /* step index as last seen */
    uint32_t total;
};

struct folio_batch_index_count {
    struct folio_str index_uid;
    uint32_t count;
};

/* A batch. Everything is borrowed until the state changes. */
struct folio_batch_view {
    uint32_t uid;
    struct folio_str reason;              /* batchStrategy */
    int64_t started_at_ns;
    bool finished;                        /* every task of it has an outcome */
    int64_t finished_at_ns;               /* latest finished_at of its tasks */
    int64_t enqueued_first_ns;            /* earliest and latest enqueuedAt of its tasks */
    int64_t enqueued_last_ns;
    uint32_t task_count;                  /* living (not deleted) tasks */
    const struct folio_batch_step *steps; /* progress, outermost first; none once finished */
    uint32_t step_count;
    /* stats, as Meilisearch keeps them: counted when tasks join and finish, kept after deletion */
    uint32_t total_tasks;
    uint32_t status_counts[FOLIO_STATUS_COUNT];
    uint32_t kind_counts[FOLIO_KIND_COUNT];
    const struct folio_batch_index_count *index_counts; /* sorted by index uid */
    uint32_t index_count;
};

/* 0, or FOLIO_E_NOT_FOUND. */
int folio_sched_batch_get(const struct folio_sched_state *s, uint64_t uid,
                          struct folio_batch_view *out);
/*
 * Living task uids of a batch, ascending, into out (up to out_max);
 * returns how many the batch has (may exceed out_max), or 0 if it is unknown.
 */
uint32_t folio_sched_batch_tasks(const struct folio_sched_state *s, uint64_t batch_uid,
                                 uint32_t *out, uint32_t out_max);
/* Progress percentage as Meilisearch computes it (0 with no steps). */
double folio_batch_view_percentage(const struct folio_batch_view *b);

/* One entry of the index mapping. Borrowed until the state changes. */
struct folio_index_view {
    struct folio_str uid;
    struct folio_str uuid;
    struct folio_str primary_key;         /* len 0: none */
    int64_t created_at_ns;
    int64_t updated_at_ns;
    bool imported;                        /* came from a single-index snapshot */
    struct folio_str source_instance_uid;
    uint64_t source_seq;
    struct folio_str archive_checksum;
};

/* 0, or FOLIO_E_NOT_FOUND. */
int folio_sched_index_get(const struct folio_sched_state *s, const char *uid, size_t len,
                          struct folio_index_view *out);
/* All indexes sorted by uid into a new array (caller frees with folio_free). */
int folio_sched_index_list(const struct folio_sched_state *s, struct folio_index_view **out,
                           size_t *count);

/* ---- JSON views (DESIGN §9) ------------------------------------------ */

struct json_t; /* jansson's json_t */

/*
 * Meilisearch's TaskView: uid, batchUid, indexUid, status, type, canceledBy,
 * details (left out when none; for a task without an outcome, the
 * registration-time details of folio_task_details_default), error, duration,
 * enqueuedAt, startedAt, finishedAt. *out is a new reference.
 * FOLIO_E_DECODE if an object of the task does not decode.
 */
int folio_task_view_to_json(const struct folio_task_view *t, struct json_t **out);
/*
 * Meilisearch's BatchView: uid, progress (null once finished), details
 * (always {}: folio does not accumulate the tasks' details yet), stats
 * (totalNbTasks, status, types, indexUids), duration, startedAt, finishedAt,
 * batchStrategy.
 */
int folio_batch_view_to_json(const struct folio_batch_view *b, struct json_t **out);
/* One msgpack object (a map, or any value) as JSON; binary becomes hex. */
int folio_object_to_json(const uint8_t *buf, size_t len, struct json_t **out);
/* RFC 3339 UTC, fraction without trailing zeros ("2025-03-01T10:05:00.1Z"). buf >= 40 bytes. */
char *folio_sched_format_date(int64_t unix_ns, char *buf, size_t len);
/* Meilisearch's duration ("PT0.004518S", "P1DT5S"); NULL when ns < 0. buf >= 48 bytes. */
char *folio_sched_format_duration(int64_t ns, char *buf, size_t len);

/* ---- queries (GET /tasks, GET /batches) ------------------------------- */

/* A date bound: exclusive, unix nanoseconds. */
struct folio_sched_time_bound {
    bool set;
    int64_t ns;
};

/*
 * Filters of GET /tasks and GET /batches. Zero-initialised = no filter,
 * default limit, newest first. A list filter applies when its _set flag is
 * true (an empty list then matches nothing); "*" is the same as leaving it
 * unset. Values within a filter are ORed, filters are ANDed (Meilisearch).
 * For batches, `uids` are task uids (batches holding them) and `batch_uids`
 * batch uids.
 */
struct folio_sched_query {
    const uint32_t *uids;
    uint32_t uid_count;
    bool uids_set;
    const uint32_t *batch_uids;
    uint32_t batch_uid_count;
    bool batch_uids_set;
    const uint32_t *canceled_by;
    uint32_t canceled_by_count;
    bool canceled_by_set;
    uint32_t statuses;                    /* bit (1u << status); 0: any */
    uint32_t kinds;                       /* bit (1u << kind); 0: any */
    const struct folio_str *index_uids;
    uint32_t index_uid_count;
    bool index_uids_set;
    struct folio_sched_time_bound before_enqueued_at, after_enqueued_at;
    struct folio_sched_time_bound before_started_at, after_started_at;
    struct folio_sched_time_bound before_finished_at, after_finished_at;
    bool limit_set;                       /* false: 20 */
    uint32_t limit;
    bool from_set;
    uint32_t from;
    bool reverse;                         /* oldest first */
};

#define FOLIO_SCHED_LIMIT_DEFAULT 20u
#define FOLIO_SCHED_LIMIT_MAX 100000u     /* a larger limit is clamped to this */

/* One page, as GET /tasks answers: results, total, limit, from, next. */
struct folio_sched_page {
    uint32_t *uids;                       /* the results in answer order; owned */
    uint32_t count;
    uint64_t total;                       /* matches ignoring from and limit */
    uint32_t limit;
    bool has_from;                        /* from = uid of the first result */
    uint32_t from;
    bool has_next;
    uint32_t next;
};
void folio_sched_page_clear(struct folio_sched_page *p);

/*
 * Runs a query. Filters are evaluated on bitmaps and sorted date indexes, never
 * by looking at every task. 0 (out filled, folio_sched_page_clear it).
 */
int folio_sched_query_tasks(const struct folio_sched_state *s, const struct folio_sched_query *q,
                            struct folio_sched_page *out);
int folio_sched_query_batches(const struct folio_sched_state *s,
                              const struct folio_sched_query *q, struct folio_sched_page *out);
/*
 * Every task matching the filters (limit, from and reverse ignored),
 * ascending, into a new array (caller frees): what taskCancelation and
 * taskDeletion registrations capture as matchedTasks.
 */
int folio_sched_match_tasks(const struct folio_sched_state *s, const struct folio_sched_query *q,
                            uint32_t **uids, size_t *count);

/* ---- checkpoints (docs/scheduler.md "Checkpoint files") -------------- */

#define FOLIO_CKPT_HEADER_BYTES 64u
#define FOLIO_CKPT_BODY_MAX (1ull << 32)
#define FOLIO_CKPT_KEEP 2u

struct folio_ckpt_header {
    uint16_t version;
    uint64_t seq;
    uint64_t frame_hash;
    uint64_t state_hash;
    uint64_t body_bytes;
    uint64_t checksum;
};

/*
 * Writes a checkpoint of s into checkpoint_dir (created 0700 if missing):
 * ckpt-<20-digit seq>.tmp, fsync, rename to .bin, fsync the directory, then
 * removes all but the newest FOLIO_CKPT_KEEP checkpoints and any .tmp left
 * over. The frame hash is read from the journal's frame holding the state's
 * last seq (and must equal the state's if it knows one). All writes, fsyncs,
 * renames and unlinks go through folio/io.h. name (may be NULL) receives the
 * file name. Errors: FOLIO_E_INVALID (empty state), FOLIO_E_CORRUPT (the
 * journal does not hold the state's last seq, or another frame hash),
 * FOLIO_E_IO, FOLIO_E_NOSPC, FOLIO_E_TOO_LARGE, reader errors.
 */
int folio_sched_checkpoint_write(const char *checkpoint_dir, const char *journal_dir,
                                 const struct folio_sched_state *s, char *name, size_t name_len,
                                 struct folio_sched_diag *diag);

/*
 * Reads and checks one checkpoint file without looking at a journal: header,
 * checksum over header and body, body, state hash. hdr (may be NULL) is
 * filled as soon as the header is read. Errors: FOLIO_E_CORRUPT (bad magic,
 * size, checksum or body; diag says which), FOLIO_E_VERSION, FOLIO_E_IO,
 * FOLIO_E_NOT_FOUND.
 */
int folio_sched_checkpoint_read(const char *path, struct folio_sched_state **out,
                                struct folio_ckpt_header *hdr, struct folio_sched_diag *diag);

/*
 * Loads the newest checkpoint of checkpoint_dir whose checksum validates and
 * whose (seq, frame hash) is the journal's. A file that fails its checksum,
 * magic, size or version is skipped (counted in info->checkpoints_skipped)
 * for the next older one. FOLIO_E_NOT_FOUND: no usable checkpoint (replay
 * from scratch). FOLIO_E_CORRUPT: a checkpoint validates but disagrees with
 * the journal (its seq is missing or held by a frame with another hash), or
 * its body contradicts its own state hash; diag names file and seq.
 */
int folio_sched_checkpoint_load(const char *checkpoint_dir, const char *journal_dir,
                                struct folio_sched_state **out,
                                struct folio_sched_replay_info *info,
                                struct folio_sched_diag *diag);

/*
 * A state loaded from a checkpoint (folio_sched_checkpoint_read, _load,
 * folio_sched_state_replay) keeps a read-only mapping of that file: its
 * tasks' content, details and errors are read from it, not copied at
 * start-up. So the file must not be truncated or rewritten in place while
 * the state lives (folio never does: checkpoints are written to a .tmp and
 * renamed, and pruning only unlinks), and an unlinked file keeps its disk
 * space until the mapping goes. It goes when the state is freed, when fewer
 * than a quarter of the tasks loaded from it are left, or here: every task
 * loaded from it gets memory of its own and a copy of its objects, and the
 * file is unmapped (seconds for a million tasks: call it when a pause does
 * no harm, e.g. once the file has been pruned). No-op for a state that
 * holds no checkpoint.
 */
void folio_sched_checkpoint_detach(struct folio_sched_state *s);

#endif
