/*
 * Internals of the running scheduler (folio/sched_run.h): run.c (open, close,
 * appends and their application to the state, waits, checkpoints),
 * run_dir.c (data directory, recovery of interrupted batches, leftovers),
 * run_register.c (validation and registration), run_batch.c (which batch is
 * next), run_process.c (the main processing thread and the processors),
 * run_snapshot.c (the snapshot lane: single-index snapshot creation on a
 * second thread, and the single-index snapshot import processor),
 * run_instance.c and run_import.c (whole-instance snapshots).
 */
#ifndef FOLIO_RUN_INT_H
#define FOLIO_RUN_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "folio/event.h"
#include "folio/index.h"
#include "folio/journal.h"
#include "folio/sched.h"
#include "folio/sched_run.h"

#define RUN_UUID_LEN 36u

/* An index env folio has open, by uuid. */
struct run_index {
    char uuid[RUN_UUID_LEN + 1];
    struct folio_index *idx;
    uint32_t refs;                   /* acquired and not released */
    bool doomed;                     /* deleted: close once refs drop to 0 */
    struct run_index *next;
};

struct folio_sched {
    struct folio_sched_opts opts;
    char *db_path, *journal_dir, *ckpt_dir, *content_dir, *indexes_dir, *tmp_dir;
    char *snapshot_dir;              /* NULL if none */
    char *check_program;             /* opts.index_check_program, owned; NULL if none */
    char instance_uid[RUN_UUID_LEN + 1];
    struct folio_journal *journal;
    struct folio_index_options index_opts;

    /* The state, changed only by run_apply on the journal's writer thread. */
    struct folio_sched_state *state;
    pthread_rwlock_t state_lock;

    /* mu guards everything below it and is what cond waits on. */
    pthread_mutex_t mu;
    pthread_cond_t cond;             /* broadcast after every application and flag change */
    pthread_cond_t snap_cond;        /* the snapshot lane's: the same but for plain
                                        registrations (run_broadcast does both) */
    uint64_t applied_gen;            /* increments with every application */
    uint64_t snap_gen;               /* ... except one of plain registrations: what the
                                        snapshot lane waits for */
    bool stopping, paused, worker_busy;
    uint32_t running_batch;          /* FOLIO_SCHED_NONE when none */
    atomic_bool must_stop;           /* a cancelation matched a task of the running batch */
    struct run_index *indexes;
    uint64_t events_since_ckpt;
    bool ckpt_scaled;                /* checkpoint_every_events was left 0: see checkpoint_due */
    /* Written only on the journal writer thread (run_ack, run_after_acks). */
    uint64_t ack_events;             /* events applied since the frame's acks began */
    bool ack_snap;                   /* one of them may concern the snapshot lane */
    int64_t last_ckpt_mono_ns;

    /* Registration order: uids are assigned and queued to the journal under it. */
    pthread_mutex_t reg_mu;
    uint64_t next_task_uid;

    /* Content files written but not yet fsynced (the journal's before_sync hook). */
    pthread_mutex_t sync_mu;
    int *sync_fds;
    size_t sync_count, sync_cap;

    pthread_t worker;
    bool worker_started;

    /*
     * The snapshot lane (run_snapshot.c): a second thread that runs
     * singleIndexSnapshotCreation batches while the main lane goes on with
     * other indexes. pick_mu serialises the two lanes' choices: under it the
     * main lane records the indexes its batch touches and the snapshot lane
     * the index it snapshots, and neither picks a task of the other's index.
     * Lock order: pick_mu, then batch_mu, then the state lock, then mu.
     */
    pthread_mutex_t pick_mu;
    char **main_index_uids;          /* indexes the main lane's batch touches (pick_mu) */
    size_t main_index_count;
    char snap_index_uid[FOLIO_INDEX_UID_MAX + 1]; /* "" when none (pick_mu) */
    /* Batch uids are taken and batch_started appended under it (two lanes start batches). */
    pthread_mutex_t batch_mu;
    bool snap_busy;                  /* mu */
    uint32_t snap_running_batch;     /* mu; FOLIO_SCHED_NONE when none */
    atomic_bool snap_must_stop;      /* a cancelation matched the running creation, or close */
    pthread_t snap_worker;
    bool snap_started;
};

/* ---- run.c ---- */

/*
 * Appends n events as one atomic journal append and, once durable, applies
 * them to the state (in seq order, on the writer thread), then calls done
 * (may be NULL) with the result. The events' memory must stay valid until
 * done runs. Returns 0 if queued, or an error (done not called).
 */
struct run_append;
typedef void (*run_done_fn)(struct run_append *a, int err, uint64_t first_seq);
struct run_append {
    struct folio_sched *s;
    struct folio_event *events;
    size_t count;
    run_done_fn done;
    void *ctx;
    /* for run_append_wait */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool fired;
    int err;
    uint64_t first_seq;
};
int run_append_async(struct folio_sched *s, struct run_append *a);
/* Appends and waits: 0 and *first_seq, or an error. */
int run_append_wait(struct folio_sched *s, struct folio_event *events, size_t count,
                    uint64_t *first_seq);

/* Index envs by uuid: opened on first use. */
int run_index_get(struct folio_sched *s, const char *uuid, struct folio_index **out);
void run_index_put(struct folio_sched *s, struct folio_index *idx);
/* Registers an env just created (refs 1: run_index_put it). */
void run_index_adopt(struct folio_sched *s, const char *uuid, struct folio_index *idx);
/* Closes the env of uuid once unused and forgets it. */
void run_index_forget(struct folio_sched *s, const char *uuid);

/* Broadcasts cond and snap_cond (mu held): a flag or what the lanes may take changed. */
void run_broadcast(struct folio_sched *s);
/*
 * run_check.c: runs `program --check-index dir` (program NULL: the same check
 * in this process); 0 if the env is sound, else FOLIO_E_SNAPSHOT_INVALID (why
 * says what), FOLIO_E_CANCELED (stop was raised: the child is killed), or
 * another error (why says it).
 */
int run_check_index(const char *program, const char *dir, const atomic_bool *stop, char *why,
                    size_t why_len);
void run_wake(struct folio_sched *s);
int run_checkpoint(struct folio_sched *s, struct folio_sched_diag *diag);
char *run_path(const char *a, const char *b);

/* ---- run_dir.c ---- */

int run_dir_prepare(struct folio_sched *s, struct folio_sched_diag *diag);
void run_uuid_new(char out[RUN_UUID_LEN + 1]);
int run_rmrf(const char *path, uint64_t *bytes);
/* Finishes or requeues the tasks a crash left processing. */
int run_recover_processing(struct folio_sched *s, struct folio_sched_open_info *info,
                           struct folio_sched_diag *diag);
/* Removes orphan index dirs, unneeded content files and tmp/ entries; records them. */
int run_remove_leftovers(struct folio_sched *s, struct folio_sched_open_info *info,
                         struct folio_sched_diag *diag);

/* ---- run_register.c ---- */

void run_content_unlink(struct folio_sched *s, const char *content_file);
int run_before_sync(void *ctx);

/* ---- run_batch.c ---- */

struct run_batch {
    uint32_t *tasks;                 /* ascending uids */
    uint32_t count;
    enum folio_task_kind kind;       /* of the first task */
    char index_uid[FOLIO_INDEX_UID_MAX + 1]; /* "" for global batches */
    char reason[512];
};
/* Picks the next batch from the state (read-locked by the caller). 1 if one, 0 if none. */
int run_batch_next(struct folio_sched *s, const struct folio_sched_state *st,
                   struct run_batch *b);
void run_batch_clear(struct run_batch *b);
/* True if the task touches index_uid (its index, a rename target, a swap side). */
bool run_task_touches(const struct folio_task_view *t, struct folio_str index_uid);
/*
 * True if an enqueued or processing task with a uid below `before` may
 * create index_uid (creation, addition, settings, rename, swap, import); true
 * too if the state cannot tell.
 */
bool run_index_creator_pending(const struct folio_sched_state *st, struct folio_str index_uid,
                               uint32_t before);

/*
 * The snapshot lane's choice: the oldest enqueued singleIndexSnapshotCreation
 * whose index the main lane's batch does not touch, none while a
 * taskCancelation is enqueued or processing (it has priority). Called under
 * pick_mu with the state read-locked. 1 if one, 0 if none.
 */
int run_batch_next_snapshot(struct folio_sched *s, const struct folio_sched_state *st,
                            struct run_batch *b);
/* The index uids a batch's tasks touch (copies; free with run_uids_free). */
void run_batch_touched(const struct folio_sched_state *st, const struct run_batch *b,
                       char ***out, size_t *count);
void run_uids_free(char **uids, size_t count);

/* ---- run_process.c ---- */

void *run_worker_main(void *arg);

/*
 * Appends batch_started for b with the next batch uid (under batch_mu, so
 * two lanes' batch uids reach the journal in increasing order): 0 and *uid,
 * *seq, or FOLIO_E_CLOSED. Any other failure is fatal.
 */
int run_batch_start(struct folio_sched *s, const struct run_batch *b, uint32_t *uid,
                    uint64_t *seq);
/* Appends a progress event of the batch (asynchronously; a failure is ignored). */
void run_progress(struct folio_sched *s, uint32_t batch_uid, const char *step, uint32_t index,
                  uint32_t total);
/* A task's registration-time details with its work counters set to 0 (caller frees). */
uint8_t *run_details_to_failed(const uint8_t *details, size_t len, size_t *out_len);

/* ---- run_snapshot.c ---- */

/* The snapshot lane's thread. */
void *run_snap_main(void *arg);
/*
 * Runs one singleIndexSnapshotImport task of a main-lane batch; records its
 * outcome (and index_imported) durably before it returns, or requeues the
 * task when stop is raised.
 */
void run_snapshot_import(struct folio_sched *s, uint32_t batch_uid, uint64_t batch_seq,
                         uint32_t task_uid, const atomic_bool *stop);
/* Removes temporary archives a crash left under <snapshot-dir>/indexes/<uid>/. */
int run_snapshot_leftovers(struct folio_sched *s, char ***paths, size_t *count,
                           uint64_t *bytes);

/* Outcome stored with the applied marker: msgpack {status, details?, error?}. */
int run_outcome_encode(bool failed, const uint8_t *details, size_t details_len,
                       const uint8_t *error, size_t error_len, uint8_t **out, size_t *len);
int run_outcome_decode(const uint8_t *buf, size_t len, bool *failed, struct folio_object *details,
                       struct folio_object *error);

/* Meilisearch error object (msgpack) for a folio error code and message. */
int run_error_object(const char *code, const char *type, const char *message, uint8_t **out,
                     size_t *len);
/* Maps a folio error to Meilisearch's code, type and HTTP status. */
void run_error_code(int folio_err, const char **code, const char **type, int *http_status);

/* ---- run_instance.c ---- */

/* Processes a snapshotCreation batch (its tasks ascending) and records its outcome. */
void run_instance_snapshot(struct folio_sched *s, uint32_t batch_uid, const uint32_t *tasks,
                           uint32_t count);
/*
 * At start-up: an imported instance's first start finishes the snapshot's own
 * tasks (once); archives a crash left half-written in the snapshot dir go.
 */
int run_instance_start(struct folio_sched *s, struct folio_sched_open_info *info,
                       struct folio_sched_diag *diag);

/* The snapshot's own tasks, a text file of instance archives (docs/scheduler.md). */
#define RUN_SNAPSHOT_TASKS_FILE "snapshot-tasks"
struct run_snap_tasks {
    uint64_t seq;                    /* the archive's consistency point */
    uint32_t batch_uid;
    int64_t finished_at_ns;
    uint32_t *tasks;                 /* folio_free */
    uint32_t count;
};
/* Reads dir/snapshot-tasks: 0, FOLIO_E_NOT_FOUND, FOLIO_E_CORRUPT or an I/O error. */
int run_snap_tasks_read(const char *dir, struct run_snap_tasks *t);

#endif
