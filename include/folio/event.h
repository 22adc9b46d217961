/*
 * Journal events: the msgpack encoding of everything that happens in folio.
 *
 * Every event is one msgpack map with string keys, so a generic tool can print
 * any event as JSON. Every map starts with the same fixed prefix:
 *
 *   de NN NN                 map16 header (always map16, even for few keys)
 *   a3 73 65 71              "seq"
 *   cf <8 bytes big-endian>  uint64 seq
 *
 * so the journal can stamp the sequence number into an encoded event at
 * FOLIO_EVENT_SEQ_OFFSET without decoding it (folio_event_patch_seq). The
 * keys "type" (string) and "at" (unix nanoseconds) follow, then the fields of
 * the event's type as listed in docs/journal-format.md ("Events").
 *
 * Decoding is strict and bounded: an unknown type, an unknown or repeated key,
 * a missing required field, a wrong msgpack type, a string longer than
 * FOLIO_EVENT_STR_MAX, an array longer than FOLIO_EVENT_ARRAY_MAX (or shorter
 * than its type allows, or, for files_removed's paths, holding ""), a nested
 * object deeper than FOLIO_EVENT_OBJECT_DEPTH_MAX or larger than
 * FOLIO_EVENT_OBJECT_BYTES_MAX, or trailing bytes are each an error; decoding
 * never reads outside [buf, buf + len).
 */
#ifndef FOLIO_EVENT_H
#define FOLIO_EVENT_H

#include <stddef.h>
#include <stdint.h>

/* Bounds. An encoded event is at most FOLIO_EVENT_BYTES_MAX. */
#define FOLIO_EVENT_BYTES_MAX (1u << 20)
#define FOLIO_EVENT_STR_MAX 4096u
#define FOLIO_EVENT_ARRAY_MAX 100000u
#define FOLIO_EVENT_OBJECT_BYTES_MAX (512u * 1024u)
#define FOLIO_EVENT_OBJECT_DEPTH_MAX 32u
#define FOLIO_EVENT_SEQ_OFFSET 8u
#define FOLIO_EVENT_PREFIX_LEN 16u

/*       enum suffix          wire name */
#define FOLIO_EVENT_TYPES(X)                                                                   \
    X(TASK_REGISTERED,     "task_registered")                                                  \
    X(BATCH_STARTED,       "batch_started")                                                    \
    X(PROGRESS,            "progress")                                                         \
    X(TASK_SUCCEEDED,      "task_succeeded")                                                   \
    X(TASK_FAILED,         "task_failed")                                                      \
    X(TASK_CANCELED,       "task_canceled")                                                    \
    X(INDEX_CREATED,       "index_created")                                                    \
    X(INDEX_DELETED,       "index_deleted")                                                    \
    X(INDEX_UPDATED,       "index_updated")                                                    \
    X(INDEXES_SWAPPED,     "indexes_swapped")                                                  \
    X(INDEX_IMPORTED,      "index_imported")                                                   \
    X(TASKS_DELETED,       "tasks_deleted")                                                    \
    X(TASK_REQUEUED,       "task_requeued")                                                    \
    X(CHECKPOINT_WRITTEN,  "checkpoint_written")                                               \
    X(SERVER_STARTED,      "server_started")                                                   \
    X(JOURNAL_RECOVERED,   "journal_recovered")                                                \
    X(FILES_REMOVED,       "files_removed")

enum folio_event_type {
    FOLIO_EV_NONE = 0,
#define FOLIO_EV_ENUM(name, wire) FOLIO_EV_##name,
    FOLIO_EVENT_TYPES(FOLIO_EV_ENUM)
#undef FOLIO_EV_ENUM
    FOLIO_EV_TYPE_COUNT
};

/* A string. Encoding reads ptr/len; a decoded string is also NUL-terminated. */
struct folio_str {
    const char *ptr;
    uint32_t len;
};

struct folio_u64_array {
    const uint64_t *items;
    uint32_t count;
};

struct folio_str_array {
    const struct folio_str *items;
    uint32_t count;
};

/*
 * A nested value kept as its raw msgpack encoding (task content, details,
 * errors). len == 0 means absent. The value must be a msgpack map or nil when
 * encoding; decoding checks depth and size bounds and that it is one complete
 * msgpack value.
 */
struct folio_object {
    const uint8_t *ptr;
    uint32_t len;
};

/*
 * Field names below are the msgpack keys, except that C names ending in _ns
 * drop the suffix on the wire ("enqueued_at_ns" is key "enqueued_at"), and
 * every *_ns value is signed unix nanoseconds. Fields marked "optional" may be
 * absent (len/count 0, or *_set = 0); all others are required.
 */
struct folio_ev_task_registered {
    uint64_t task_uid;
    struct folio_str kind;               /* camelCase task kind, e.g. "indexCreation" */
    struct folio_str_array index_uids;   /* optional: 0..n indexes the task touches */
    int64_t enqueued_at_ns;
    struct folio_object content;         /* optional: kind-specific content */
};

struct folio_ev_batch_started {
    uint64_t batch_uid;
    struct folio_u64_array task_uids;    /* at least one */
    struct folio_str reason;             /* why these tasks were batched together */
};

struct folio_ev_progress {
    uint64_t batch_uid;
    struct folio_str step;               /* step name */
    uint32_t step_index;                 /* 0-based */
    uint32_t step_total;
};

/* task_succeeded, task_failed and task_canceled share one shape. */
struct folio_ev_task_outcome {
    uint64_t task_uid;
    uint64_t batch_uid;
    int64_t finished_at_ns;
    struct folio_object details;         /* optional */
    struct folio_object error;           /* task_failed: required; others: absent */
    uint64_t canceled_by;                /* task_canceled: required; others: absent */
};

/* index_created, index_deleted and index_updated share one shape. */
struct folio_ev_index_change {
    struct folio_str index_uid;
    struct folio_str index_uuid;         /* 36-character UUID of the index's directory */
    struct folio_str primary_key;        /* optional */
    uint64_t task_uid;
    int64_t changed_at_ns;
};

struct folio_ev_indexes_swapped {
    struct folio_str_array index_uids;   /* pairs: [a0, b0, a1, b1, ...], even count >= 2 */
    uint64_t task_uid;
};

struct folio_ev_index_imported {
    struct folio_str index_uid;
    struct folio_str index_uuid;
    struct folio_str primary_key;        /* optional */
    uint64_t task_uid;
    struct folio_str source_instance_uid;
    uint64_t source_seq;
    struct folio_str archive_checksum;   /* hex XXH3-128 of the archive file */
};

struct folio_ev_tasks_deleted {
    uint64_t task_uid;                   /* the taskDeletion task */
    struct folio_u64_array task_uids;    /* the deleted tasks (may be empty) */
};

struct folio_ev_task_requeued {
    uint64_t task_uid;
    uint64_t batch_uid;
    struct folio_str reason;
};

struct folio_ev_checkpoint_written {
    uint64_t checkpoint_seq;             /* the state covers events up to this seq */
    uint64_t state_hash;
    struct folio_str file;               /* file name inside checkpoints/ */
};

struct folio_ev_server_started {
    struct folio_str instance_uid;
    struct folio_str version;
    uint64_t pid;
};

struct folio_ev_journal_recovered {
    struct folio_str segment;            /* segment file name */
    uint64_t offset;                     /* byte offset of the first dropped byte */
    uint64_t bytes_dropped;              /* bytes zeroed (0 if the file was only cut short) */
    struct folio_str quarantine;         /* optional: quarantine file name */
    struct folio_str reason;
    uint64_t last_valid_seq;             /* seq of the last event kept (0 if none) */
};

/*
 * Leftovers removed from the data directory at start-up, put on record:
 * orphan index directories ("indexes/<uuid>"), content files no living task
 * needs ("content/<id>"), anything in tmp/ ("tmp/<name>"). Each path is a
 * non-empty string of at most FOLIO_EVENT_STR_MAX bytes.
 */
struct folio_ev_files_removed {
    struct folio_str reason;             /* why, for people, e.g. "orphan index directory" */
    struct folio_str_array paths;        /* at least one; relative to the data directory */
    uint64_t bytes;                      /* total bytes removed (0 if unknown) */
};

struct folio_event {
    enum folio_event_type type;
    uint64_t seq;                        /* 0 until the journal assigns it */
    int64_t at_ns;
    union {
        struct folio_ev_task_registered task_registered;
        struct folio_ev_batch_started batch_started;
        struct folio_ev_progress progress;
        struct folio_ev_task_outcome task_outcome;       /* SUCCEEDED, FAILED, CANCELED */
        struct folio_ev_index_change index_change;       /* CREATED, DELETED, UPDATED */
        struct folio_ev_indexes_swapped indexes_swapped;
        struct folio_ev_index_imported index_imported;
        struct folio_ev_tasks_deleted tasks_deleted;
        struct folio_ev_task_requeued task_requeued;
        struct folio_ev_checkpoint_written checkpoint_written;
        struct folio_ev_server_started server_started;
        struct folio_ev_journal_recovered journal_recovered;
        struct folio_ev_files_removed files_removed;
    } u;
    void *owned_;                        /* private: storage of a decoded event */
};

/* Wire name of a type ("task_registered"), or NULL for an invalid type. */
const char *folio_event_type_name(enum folio_event_type type);
/* Type for a wire name, or FOLIO_EV_NONE. */
enum folio_event_type folio_event_type_parse(const char *name, size_t len);

/* Makes a folio_str from a C string (borrowed). */
struct folio_str folio_str_c(const char *s);

/*
 * Encodes ev (seq is written as given, usually 0) into a new buffer the caller
 * frees with folio_free(). Errors: FOLIO_E_INVALID (bad type, missing required
 * field, field out of bounds), FOLIO_E_TOO_LARGE (result over
 * FOLIO_EVENT_BYTES_MAX).
 */
int folio_event_encode(const struct folio_event *ev, uint8_t **out, size_t *out_len);

/*
 * Decodes one event that occupies exactly buf[0..len). On success ev owns
 * copies of everything (buf may be freed) until folio_event_clear(ev).
 * Errors: FOLIO_E_DECODE (malformed, wrong types, unknown/missing/repeated key,
 * trailing bytes), FOLIO_E_UNKNOWN_TYPE, FOLIO_E_TOO_LARGE (a bound exceeded).
 * On error ev is left cleared.
 */
int folio_event_decode(const uint8_t *buf, size_t len, struct folio_event *ev);
void folio_event_clear(struct folio_event *ev);

/*
 * Reads seq, type and at from the fixed prefix and the two keys after it,
 * without decoding the rest. Any out pointer may be NULL. Same errors as decode
 * for the part it reads.
 */
int folio_event_peek(const uint8_t *buf, size_t len, uint64_t *seq,
                     enum folio_event_type *type, int64_t *at_ns);

/*
 * Reads the seq from the fixed prefix without looking further: 1 if buf
 * starts with folio's event prefix (the journal's per-event check on replay,
 * where the frame checksum already vouches for the bytes), else 0.
 */
static inline int
folio_event_prefix_seq(const uint8_t *buf, size_t len, uint64_t *seq)
{
    if (len < FOLIO_EVENT_PREFIX_LEN || buf[0] != 0xde || buf[3] != 0xa3 || buf[4] != 's' ||
        buf[5] != 'e' || buf[6] != 'q' || buf[7] != 0xcf)
        return 0;
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v = (v << 8) | buf[FOLIO_EVENT_SEQ_OFFSET + i];
    *seq = v;
    return 1;
}

/* Overwrites the seq in an encoded event. FOLIO_E_INVALID if the prefix is not folio's. */
int folio_event_patch_seq(uint8_t *buf, size_t len, uint64_t seq);

/*
 * Renders an encoded event as one line of JSON (no trailing newline) into a
 * new NUL-terminated string the caller frees with folio_free(). Keys appear in
 * encoded order; nested objects become JSON objects; binary becomes a hex
 * string; strings are escaped (invalid UTF-8 becomes U+FFFD). The event is
 * fully decoded (validated) first. Errors as folio_event_decode.
 */
int folio_event_to_json(const uint8_t *buf, size_t len, char **out);

#endif
