/*
 * The running scheduler: a data directory (DESIGN §3) opened for work.
 *
 * folio_sched_open() takes a data directory, opens (or creates) its journal,
 * rebuilds the state from the newest usable checkpoint and the journal tail,
 * finishes what a crash interrupted (exactly once, DESIGN §6), removes
 * leftovers, and starts two processing threads: the main lane and the
 * snapshot lane (single-index snapshot creations, which run beside the main
 * lane's batches of other indexes). Registration validates a
 * request, makes its payload durable within the journal's group commit, and
 * reports success only once the task_registered event is durable. The
 * processing thread picks batches by Meilisearch's priority and autobatching
 * rules, applies them to the per-index LMDB stores and records everything as
 * events. docs/scheduler.md "Running" describes the rules; this header is the
 * programming contract.
 *
 * State. The in-memory state (folio/sched.h) is updated only by applying
 * durable events, in seq order, as the journal acknowledges them. Readers
 * take a consistent view with folio_sched_read_lock()/unlock().
 *
 * Threads. Every function may be called from any thread, except that
 * folio_sched_close() must not race with other calls.
 */
#ifndef FOLIO_SCHED_RUN_H
#define FOLIO_SCHED_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "folio/index.h"
#include "folio/journal.h"
#include "folio/sched.h"
#include "folio/snapshot.h"

struct folio_sched;

#define FOLIO_SCHED_INLINE_PAYLOAD_DEFAULT (16u << 10)
#define FOLIO_SCHED_INLINE_PAYLOAD_MAX (256u << 10)

struct folio_sched_opts {
    const char *db_path;             /* data directory; created (0700) if missing */
    const char *snapshot_dir;        /* NULL: snapshot tasks cannot be registered */
    uint64_t payload_bytes_max;      /* 0: 100 MiB (FOLIO_INDEX_PAYLOAD_BYTES_DEFAULT) */
    uint32_t inline_payload_max;     /* payloads up to this travel in the event; 0: 16 KiB;
                                        at most FOLIO_SCHED_INLINE_PAYLOAD_MAX */
    uint64_t checkpoint_every_events;/* 0: 100000, or the state's task count if larger;
                                        UINT64_MAX: never by count */
    bool checkpoint_scale;           /* a count set above also grows to the task count */
    uint32_t checkpoint_every_ms;    /* 0: 300000 (5 min); UINT32_MAX: never by time */
    uint32_t batch_tasks_max;        /* tasks in one index batch; 0: 1000 */
    bool paused;                     /* open without processing (folio_sched_resume) */
    /* snapshot archives written by snapshot tasks (folio/snapshot.h) */
    enum folio_snapshot_compression snapshot_compression; /* default zstd */
    int snapshot_level;              /* 0: the codec's default */
    int snapshot_threads;            /* zstd workers; 0: one per online CPU */
    /*
     * Added to the nice value of the threads that process tasks (the main
     * lane, the snapshot lane, and what they start: zstd workers, the index
     * check), 0 to 19; 0: none. Under load the threads that register tasks
     * and answer searches then get the CPU first, and tasks are processed
     * with what is left.
     */
    int background_nice;
    const struct folio_journal_opts *journal;   /* NULL: defaults (create is forced on) */
    const struct folio_index_options *index;    /* NULL: defaults */
    /*
     * The program that checks an imported index before this process opens it
     * (folio_sched_check_index_main): run as `PROGRAM --check-index DIR`, so
     * that a data.mdb crafted to crash LMDB (with checksums that match: the
     * archive's author chose them) ends that process, not this one. NULL:
     * the check runs in this process (tests of the scheduler alone).
     */
    const char *index_check_program;
};

void folio_sched_opts_default(struct folio_sched_opts *opts);

/* Exit statuses of the index check (any other status, or a signal, is a crash). */
#define FOLIO_CHECK_INDEX_SOUND 0
#define FOLIO_CHECK_INDEX_INVALID 3    /* not a valid folio index: stdout says why */
#define FOLIO_CHECK_INDEX_UNCHECKED 4  /* could not be checked (I/O, memory) */
#define FOLIO_CHECK_INDEX_NOSPC 5      /* no room for the compacted copy */

/*
 * The index check: opens the env in dir read-only, without its lock file,
 * and runs folio_index_verify on all of it; prints the reason to stdout when
 * it is not sound. Returns the exit status above. For a program's main (foliod
 * --check-index DIR); it touches nothing but dir.
 */
int folio_sched_check_index_main(const char *dir);

/* What open found and did (optional out parameter of folio_sched_open). */
struct folio_sched_open_info {
    struct folio_sched_replay_info replay;
    bool journal_recovered;          /* a torn tail was quarantined */
    uint32_t tasks_finished;         /* processing tasks finished from the applied marker */
    uint32_t tasks_requeued;         /* processing tasks requeued */
    uint32_t files_removed;          /* orphan index dirs, content files, tmp entries */
    char instance_uid[37];
};

/*
 * Opens the data directory and starts processing (unless opts->paused).
 * Errors: FOLIO_E_LOCKED (another process has it), FOLIO_E_CORRUPT (journal
 * or checkpoint; diag says where), FOLIO_E_VERSION, FOLIO_E_IO,
 * FOLIO_E_NOSPC, FOLIO_E_INVALID (options). *out is owned by the caller.
 */
int folio_sched_open(const struct folio_sched_opts *opts, struct folio_sched **out,
                     struct folio_sched_open_info *info, struct folio_sched_diag *diag);

/*
 * Stops processing (a running batch is finished first, or stopped where that
 * is safe and its tasks are requeued by the next open), drains the journal
 * and closes everything. Accepts NULL.
 */
void folio_sched_close(struct folio_sched *s);

/* Pauses / resumes both processing threads between batches (pause waits for running ones). */
void folio_sched_pause(struct folio_sched *s);
void folio_sched_resume(struct folio_sched *s);

/* ---- registration ------------------------------------------------------ */

/*
 * A registration error as the API answers it: Meilisearch's error code
 * ("index_not_found"), type ("invalid_request") and HTTP status, and a message
 * that says what was wrong. folio_err is the folio error code behind it.
 */
struct folio_sched_error {
    int folio_err;
    int http_status;
    char code[64];
    char type[24];
    char message[768];
};

/*
 * A request to register one task. Fields not used by the kind are ignored.
 * Strings need not be NUL-terminated.
 */
struct folio_sched_request {
    enum folio_task_kind kind;
    struct folio_str index_uid;          /* one-index kinds */
    /* documentAdditionOrUpdate */
    enum folio_doc_method method;
    const char *payload;
    size_t payload_len;
    enum folio_index_format format;
    char csv_delimiter;                  /* 0: ',' */
    struct folio_str primary_key;        /* also indexCreation, indexUpdate */
    bool forbid_index_creation;          /* documents, settings: allowIndexCreation false */
    /* documentDeletion */
    const struct folio_str *ids;
    uint32_t id_count;
    bool clear;
    struct folio_str filter_json;        /* by filter: the JSON text of the filter value */
    /* settingsUpdate: JSON object text; reset = true for DELETE settings */
    const char *settings_json;
    size_t settings_len;
    bool settings_reset;
    /* indexUpdate rename; singleIndexSnapshotImport target */
    struct folio_str new_index_uid;
    /* indexSwap */
    const struct folio_task_swap *swaps;
    uint32_t swap_count;
    /* taskCancelation, taskDeletion: the filter and its query string ("?uids=1") */
    const struct folio_sched_query *filter;
    struct folio_str query;
    /* singleIndexSnapshotCreation (optional), singleIndexSnapshotImport (required) */
    struct folio_str snapshot_path;
    struct folio_str source_index_uid;   /* singleIndexSnapshotImport: asserted source uid */
};

/* What a successful registration returns (Meilisearch's summarized task). */
struct folio_sched_registered {
    uint32_t task_uid;
    enum folio_task_kind kind;
    int64_t enqueued_at_ns;
    uint64_t seq;                        /* of its task_registered event */
    char index_uid[FOLIO_INDEX_UID_MAX + 1]; /* "" for kinds without one */
};

/*
 * Validates req, makes its payload durable (inline in the event, or a content
 * file fsynced in the same group commit as the event), appends
 * task_registered and returns once it is durable and applied to the state.
 * On error nothing is written (a content file is removed again) and err says
 * why. Errors: FOLIO_E_INVALID and the Meilisearch code in err for bad
 * input, FOLIO_E_NOT_FOUND (index_not_found, snapshot_file_not_found),
 * FOLIO_E_PAYLOAD_TOO_LARGE, FOLIO_E_MALFORMED_PAYLOAD, FOLIO_E_MISSING_PAYLOAD,
 * FOLIO_E_NOSPC, FOLIO_E_IO, FOLIO_E_CLOSED.
 */
int folio_sched_register(struct folio_sched *s, const struct folio_sched_request *req,
                         struct folio_sched_registered *out, struct folio_sched_error *err);

/*
 * Called once per asynchronous registration on the journal's writer thread,
 * after the event is durable and applied (err == 0) or when it never will be.
 * It must be quick and must not call into the scheduler.
 */
typedef void (*folio_sched_registered_fn)(void *ctx, int err,
                                          const struct folio_sched_registered *task);

/*
 * Like folio_sched_register but returns once validated and queued: 0 (cb
 * will be called) or a validation error in err (cb will not be called).
 */
int folio_sched_register_async(struct folio_sched *s, const struct folio_sched_request *req,
                               folio_sched_registered_fn cb, void *ctx,
                               struct folio_sched_error *err);

/* ---- reading ------------------------------------------------------------ */

/*
 * Shared lock on the state: everything the state returns is valid until the
 * matching unlock. Hold it briefly: event application waits for it.
 */
const struct folio_sched_state *folio_sched_read_lock(struct folio_sched *s);
void folio_sched_read_unlock(struct folio_sched *s);

/*
 * The open index env of an index uid in the mapping, with a reference taken
 * (folio_sched_index_release it): reads (documents, search, stats) go
 * straight to it. FOLIO_E_NOT_FOUND if the uid is not in the mapping.
 */
int folio_sched_index_acquire(struct folio_sched *s, const char *uid, size_t len,
                              struct folio_index **out);
void folio_sched_index_release(struct folio_sched *s, struct folio_index *idx);

/*
 * Waits until task uid is finished (0), or timeout_ms passed (FOLIO_E_TIMEOUT;
 * < 0: forever). FOLIO_E_NOT_FOUND if it does not exist.
 */
int folio_sched_wait_task(struct folio_sched *s, uint32_t uid, int timeout_ms);
/* Waits until no task is enqueued or processing (0) or FOLIO_E_TIMEOUT. */
int folio_sched_wait_idle(struct folio_sched *s, int timeout_ms);

/* The journal (for readers such as GET /journal) and data directory paths. */
const char *folio_sched_db_path(const struct folio_sched *s);
const char *folio_sched_journal_dir(const struct folio_sched *s);
const char *folio_sched_instance_uid(const struct folio_sched *s);

/* Writes a checkpoint now (what the processing thread does periodically). */
int folio_sched_checkpoint_now(struct folio_sched *s, struct folio_sched_diag *diag);

/* ---- whole-instance snapshots ---------------------------------------------- */

/* folio_sched_import_instance flags (foliod's --ignore-* options). */
#define FOLIO_SCHED_IMPORT_IGNORE_MISSING (1u << 0)       /* no archive: start without it */
#define FOLIO_SCHED_IMPORT_IGNORE_IF_DB_EXISTS (1u << 1)  /* db holds data: keep it */

enum folio_sched_import_outcome {
    FOLIO_SCHED_IMPORTED = 0,
    FOLIO_SCHED_IMPORT_SKIPPED_MISSING,     /* the archive is missing and that was allowed */
    FOLIO_SCHED_IMPORT_SKIPPED_DB_EXISTS,   /* the db path holds data and that was allowed */
};

struct folio_sched_import_info {
    enum folio_sched_import_outcome outcome;
    uint64_t seq;                    /* journal seq the imported instance starts from */
    uint32_t index_count;
    char source_instance_uid[64];    /* the instance the archive was made from */
    char archive_xxh128[33];         /* XXH3-128 of the archive file, hex */
};

/*
 * Makes db_path a data directory from a whole-instance snapshot archive
 * (kind "instance", written by a snapshotCreation task), as foliod
 * --import-snapshot does before folio_sched_open. Meilisearch's rules: a
 * db_path that exists and is not an empty directory holds data, which is
 * FOLIO_E_EXISTS unless FOLIO_SCHED_IMPORT_IGNORE_IF_DB_EXISTS (then 0 with
 * outcome SKIPPED_DB_EXISTS, nothing touched); a missing archive is
 * FOLIO_E_NOT_FOUND unless FOLIO_SCHED_IMPORT_IGNORE_MISSING (0, SKIPPED_MISSING).
 * Otherwise the archive is extracted into `<db_path>.import-tmp` (verified
 * entry by entry), its journal verified, its checkpoint replayed and checked
 * against the journal, the manifest's indexes and the content files of the
 * enqueued tasks found, every index env opened and verified whole (by
 * `index_check_program --check-index DIR` in a child when it is not NULL, see
 * folio_sched_opts.index_check_program; else in this process), then the directory is renamed to db_path and the
 * parent fsynced. The imported instance gets a new instance uid at its first
 * open, which also records the snapshot's own tasks as succeeded (they are
 * never run again). Errors: FOLIO_E_EXISTS, FOLIO_E_NOT_FOUND,
 * FOLIO_E_SNAPSHOT_INVALID, FOLIO_E_SNAPSHOT_CHECKSUM, FOLIO_E_SNAPSHOT_VERSION,
 * FOLIO_E_CORRUPT (the contents disagree), FOLIO_E_IO, FOLIO_E_NOSPC,
 * FOLIO_E_INVALID; diag->reason says what, for an operator. On any error
 * nothing is left at db_path (an empty directory that was there stays) nor
 * at the temporary path. info and diag may be NULL.
 */
int folio_sched_import_instance(const char *archive_path, const char *db_path, unsigned flags,
                                const char *index_check_program,
                                struct folio_sched_import_info *info,
                                struct folio_sched_diag *diag);

#endif
