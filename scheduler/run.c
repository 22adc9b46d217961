/*
 * The running scheduler: open and close, the one path by which events reach
 * the journal and then the state, open index envs, waits and checkpoints.
 *
 * Every event goes through run_append_async: it is encoded, handed to the
 * journal as one atomic append, and applied to the in-memory state by the
 * journal's acknowledgement callback, on the writer thread, in seq order. So
 * the state is always exactly the durable journal (DESIGN §6: a pure function
 * of the events), and a reader that sees a task sees a durable one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "run_int.h"
#include "sched_int.h"

char *
run_path(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = folio_malloc(la + lb + 2);
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

void
folio_sched_opts_default(struct folio_sched_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
}

/* ---- appends -------------------------------------------------------------- */

/*
 * Whether the events can let the snapshot lane start something: anything but
 * registrations of tasks it never runs nor waits for. Under a stream of
 * document additions it then sleeps instead of querying the state per frame.
 */
static bool
run_events_concern_snapshots(const struct folio_event *events, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (events[i].type != FOLIO_EV_TASK_REGISTERED)
            return true;
        struct folio_str k = events[i].u.task_registered.kind;
        enum folio_task_kind kind;
        if (folio_task_kind_parse(k.ptr, k.len, &kind) != 0 ||
            kind == FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION || kind == FOLIO_KIND_TASK_CANCELATION)
            return true;
    }
    return false;
}

void
run_broadcast(struct folio_sched *s)
{
    pthread_cond_broadcast(&s->cond);
    pthread_cond_broadcast(&s->snap_cond);
}

/*
 * Acknowledgement of a durable append (journal writer thread): the state
 * applies its events before the caller hears of them, so an answered request
 * can read its own task. Waking the lanes and the waiters on applied_gen is
 * left to run_after_acks, once per journal frame: a frame of a hundred
 * registrations costs one lock of mu and one broadcast, not a hundred. The
 * ack_* fields are only touched on the writer thread.
 */
static void
run_ack(void *ctx, int err, uint64_t first_seq)
{
    struct run_append *a = ctx;
    struct folio_sched *s = a->s;
    if (err == 0) {
        pthread_rwlock_wrlock(&s->state_lock);
        for (size_t i = 0; i < a->count; i++) {
            struct folio_sched_diag diag;
            int rc = folio_sched_state_apply(s->state, first_seq + i, 0, &a->events[i], &diag);
            if (rc != 0)
                FOLIO_PANIC("the state refuses durable event seq %" PRIu64 " (%s): %s",
                            first_seq + i, folio_err_name(rc), diag.reason);
        }
        pthread_rwlock_unlock(&s->state_lock);
        s->ack_events += a->count;
        if (!s->ack_snap && run_events_concern_snapshots(a->events, a->count))
            s->ack_snap = true;
    }
    if (a->done != NULL)
        a->done(a, err, first_seq);
}

/* After a frame's acknowledgements (writer thread): one wake-up for all of them. */
static void
run_after_acks(void *ctx)
{
    struct folio_sched *s = ctx;
    if (s->ack_events == 0)
        return;
    pthread_mutex_lock(&s->mu);
    s->applied_gen++;
    if (s->ack_snap) {
        s->snap_gen++;
        pthread_cond_broadcast(&s->snap_cond);
    }
    s->events_since_ckpt += s->ack_events;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    s->ack_events = 0;
    s->ack_snap = false;
}

/*
 * The lanes run below the threads that answer requests (opts.background_nice):
 * on Linux a nice value belongs to one thread, and the threads it starts (zstd
 * workers) and the processes it spawns (the index check) inherit it. Lowering
 * one's own priority is always allowed; should it fail anyway, the lane runs
 * at the normal priority, which only costs latency.
 */
static void
lane_lower_priority(const struct folio_sched *s)
{
    if (s->opts.background_nice <= 0)
        return;
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int now = getpriority(PRIO_PROCESS, tid);
    if (now == -1 && errno != 0)
        return;
    int want = now + s->opts.background_nice;
    (void)setpriority(PRIO_PROCESS, tid, want > 19 ? 19 : want);
}

static void *
worker_lane_main(void *arg)
{
    lane_lower_priority(arg);
    return run_worker_main(arg);
}

static void *
snap_lane_main(void *arg)
{
    lane_lower_priority(arg);
    return run_snap_main(arg);
}

int
run_append_async(struct folio_sched *s, struct run_append *a)
{
    FOLIO_ASSERT(a->count > 0 && a->count <= 4096);
    a->s = s;
    struct folio_journal_entry stack_entries[8];
    uint8_t *stack_bufs[8];
    struct folio_journal_entry *entries =
        a->count <= 8 ? stack_entries : folio_calloc(a->count, sizeof(*entries));
    uint8_t **bufs = a->count <= 8 ? stack_bufs : folio_calloc(a->count, sizeof(*bufs));
    int rc = 0;
    size_t n = 0;
    int64_t now = folio_clock_now_ns();
    for (; n < a->count && rc == 0; n++) {
        if (a->events[n].at_ns == 0)
            a->events[n].at_ns = now;
        size_t len;
        rc = folio_event_encode(&a->events[n], &bufs[n], &len);
        if (rc == 0)
            entries[n] = (struct folio_journal_entry){bufs[n], len};
        else
            bufs[n] = NULL;
    }
    if (rc == 0)
        rc = folio_journal_append_async(s->journal, entries, a->count, run_ack, a);
    for (size_t i = 0; i < n; i++)
        folio_free(bufs[i]);
    if (entries != stack_entries) {
        folio_free(entries);
        folio_free(bufs);
    }
    return rc;
}

static void
wait_done(struct run_append *a, int err, uint64_t first_seq)
{
    pthread_mutex_lock(&a->mu);
    a->err = err;
    a->first_seq = first_seq;
    a->fired = true;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->mu);
}

int
run_append_wait(struct folio_sched *s, struct folio_event *events, size_t count,
                uint64_t *first_seq)
{
    struct run_append a = {.events = events, .count = count, .done = wait_done};
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.cond, NULL);
    int rc = run_append_async(s, &a);
    if (rc == 0) {
        pthread_mutex_lock(&a.mu);
        while (!a.fired)
            pthread_cond_wait(&a.cond, &a.mu);
        pthread_mutex_unlock(&a.mu);
        rc = a.err;
        if (rc == 0 && first_seq != NULL)
            *first_seq = a.first_seq;
    }
    pthread_mutex_destroy(&a.mu);
    pthread_cond_destroy(&a.cond);
    return rc;
}

void
run_wake(struct folio_sched *s)
{
    pthread_mutex_lock(&s->mu);
    run_broadcast(s);
    pthread_mutex_unlock(&s->mu);
}

/* ---- index envs ----------------------------------------------------------- */

static struct run_index *
find_index(struct folio_sched *s, const char *uuid)
{
    for (struct run_index *r = s->indexes; r != NULL; r = r->next)
        if (strcmp(r->uuid, uuid) == 0)
            return r;
    return NULL;
}

/* folio_index_set_stop's question for the indexes the scheduler writes. */
static bool
run_index_stop(void *ctx)
{
    struct folio_sched *s = ctx;
    return atomic_load(&s->must_stop);
}

/*
 * Keeps idx as the open handle of uuid (s->mu held). The main lane's long
 * writes on it stop part-way once must_stop is raised.
 */
static struct run_index *
index_link(struct folio_sched *s, const char *uuid, struct folio_index *idx)
{
    folio_index_set_stop(idx, run_index_stop, s);
    struct run_index *r = folio_calloc(1, sizeof(*r));
    snprintf(r->uuid, sizeof(r->uuid), "%s", uuid);
    r->idx = idx;
    r->next = s->indexes;
    s->indexes = r;
    return r;
}

int
run_index_get(struct folio_sched *s, const char *uuid, struct folio_index **out)
{
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    struct run_index *r = find_index(s, uuid);
    int rc = 0;
    if (r != NULL && r->doomed) {
        rc = FOLIO_E_NOT_FOUND;
    } else if (r == NULL) {
        char *dir = run_path(s->indexes_dir, uuid);
        struct folio_index *idx = NULL;
        struct folio_index_error ierr;
        rc = folio_index_open(dir, &s->index_opts, &idx, &ierr);
        folio_free(dir);
        if (rc == 0)
            r = index_link(s, uuid, idx);
    }
    if (rc == 0) {
        r->refs++;
        *out = r->idx;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void
run_index_adopt(struct folio_sched *s, const char *uuid, struct folio_index *idx)
{
    pthread_mutex_lock(&s->mu);
    FOLIO_ASSERT(find_index(s, uuid) == NULL);
    index_link(s, uuid, idx)->refs = 1;
    pthread_mutex_unlock(&s->mu);
}

void
run_index_put(struct folio_sched *s, struct folio_index *idx)
{
    if (idx == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    for (struct run_index *r = s->indexes; r != NULL; r = r->next) {
        if (r->idx == idx) {
            FOLIO_ASSERT(r->refs > 0);
            r->refs--;
            if (r->refs == 0)
                run_broadcast(s);
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void
run_index_forget(struct folio_sched *s, const char *uuid)
{
    pthread_mutex_lock(&s->mu);
    struct run_index *r = find_index(s, uuid);
    if (r != NULL) {
        r->doomed = true;
        while (r->refs > 0)
            pthread_cond_wait(&s->cond, &s->mu);
        for (struct run_index **pp = &s->indexes; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == r) {
                *pp = r->next;
                break;
            }
        }
        folio_index_free(r->idx);
        folio_free(r);
    }
    pthread_mutex_unlock(&s->mu);
}

int
folio_sched_index_acquire(struct folio_sched *s, const char *uid, size_t len,
                          struct folio_index **out)
{
    char uuid[RUN_UUID_LEN + 1];
    *out = NULL;
    pthread_rwlock_rdlock(&s->state_lock);
    struct folio_index_view v;
    int rc = folio_sched_index_get(s->state, uid, len, &v);
    if (rc == 0)
        snprintf(uuid, sizeof(uuid), "%.*s", (int)v.uuid.len, v.uuid.ptr);
    pthread_rwlock_unlock(&s->state_lock);
    if (rc != 0)
        return rc;
    rc = run_index_get(s, uuid, out);
    return rc == FOLIO_E_NOT_FOUND ? FOLIO_E_NOT_FOUND : rc;
}

void
folio_sched_index_release(struct folio_sched *s, struct folio_index *idx)
{
    run_index_put(s, idx);
}

/* ---- reading and waiting -------------------------------------------------- */

const struct folio_sched_state *
folio_sched_read_lock(struct folio_sched *s)
{
    pthread_rwlock_rdlock(&s->state_lock);
    return s->state;
}

void
folio_sched_read_unlock(struct folio_sched *s)
{
    pthread_rwlock_unlock(&s->state_lock);
}

static void
deadline_after(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* 1 finished, 0 not yet, or an error. */
static int
task_finished(struct folio_sched *s, uint32_t uid)
{
    pthread_rwlock_rdlock(&s->state_lock);
    struct folio_task_view v;
    int rc = folio_sched_task_get(s->state, uid, &v);
    if (rc == 0)
        rc = folio_task_status_finished(v.status) ? 1 : 0;
    pthread_rwlock_unlock(&s->state_lock);
    return rc;
}

static int
queue_empty(struct folio_sched *s)
{
    struct folio_sched_query q = {0};
    q.statuses = (1u << FOLIO_STATUS_ENQUEUED) | (1u << FOLIO_STATUS_PROCESSING);
    q.limit_set = true;
    q.limit = 1;
    struct folio_sched_page page;
    pthread_rwlock_rdlock(&s->state_lock);
    int rc = folio_sched_query_tasks(s->state, &q, &page);
    pthread_rwlock_unlock(&s->state_lock);
    if (rc != 0)
        return rc;
    bool empty = page.total == 0;
    folio_sched_page_clear(&page);
    return empty ? 1 : 0;
}

static int
wait_for(struct folio_sched *s, int (*check)(struct folio_sched *, uint32_t), uint32_t arg,
         int timeout_ms)
{
    struct timespec deadline;
    if (timeout_ms >= 0)
        deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&s->mu);
    int rc;
    for (;;) {
        uint64_t gen = s->applied_gen;
        pthread_mutex_unlock(&s->mu);
        rc = check(s, arg);
        pthread_mutex_lock(&s->mu);
        if (rc != 0)
            break;
        if (gen != s->applied_gen)
            continue;
        if (timeout_ms < 0) {
            pthread_cond_wait(&s->cond, &s->mu);
        } else if (pthread_cond_timedwait(&s->cond, &s->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&s->mu);
            rc = check(s, arg);
            return rc == 0 ? FOLIO_E_TIMEOUT : (rc > 0 ? 0 : rc);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc > 0 ? 0 : rc;
}

int
folio_sched_wait_task(struct folio_sched *s, uint32_t uid, int timeout_ms)
{
    return wait_for(s, task_finished, uid, timeout_ms);
}

/* Idle: no task enqueued or processing, and the worker has finished its batch's cleanup. */
static int
idle_check(struct folio_sched *s, uint32_t unused)
{
    (void)unused;
    int rc = queue_empty(s);
    if (rc == 1) {
        pthread_mutex_lock(&s->mu);
        bool busy = (s->worker_busy || s->snap_busy) && !s->paused;
        pthread_mutex_unlock(&s->mu);
        if (busy)
            rc = 0;
    }
    return rc;
}

int
folio_sched_wait_idle(struct folio_sched *s, int timeout_ms)
{
    return wait_for(s, idle_check, 0, timeout_ms);
}

const char *
folio_sched_db_path(const struct folio_sched *s)
{
    return s->db_path;
}

const char *
folio_sched_journal_dir(const struct folio_sched *s)
{
    return s->journal_dir;
}

const char *
folio_sched_instance_uid(const struct folio_sched *s)
{
    return s->instance_uid;
}

/* ---- checkpoints ------------------------------------------------------------ */

int
run_checkpoint(struct folio_sched *s, struct folio_sched_diag *diag)
{
    char name[64];
    /*
     * Only the encoding holds the state's lock: the journal writer needs it
     * to acknowledge every append, and the file's write and fsync take as
     * long as the disk wants (hundreds of ms on a busy one).
     */
    struct ckpt_encoded enc;
    pthread_rwlock_rdlock(&s->state_lock);
    uint64_t seq = folio_sched_state_last_seq(s->state);
    uint64_t hash = folio_sched_state_hash(s->state);
    int rc = ckpt_encode(s->state, &enc, diag);
    pthread_rwlock_unlock(&s->state_lock);
    if (rc == 0)
        rc = ckpt_store(s->ckpt_dir, s->journal_dir, &enc, name, sizeof(name), diag);
    ckpt_encoded_free(&enc);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&s->mu);
    s->events_since_ckpt = 0;
    s->last_ckpt_mono_ns = folio_clock_mono_ns();
    pthread_mutex_unlock(&s->mu);
    struct folio_event ev = {.type = FOLIO_EV_CHECKPOINT_WRITTEN};
    ev.u.checkpoint_written.checkpoint_seq = seq;
    ev.u.checkpoint_written.state_hash = hash;
    ev.u.checkpoint_written.file = folio_str_c(name);
    return run_append_wait(s, &ev, 1, NULL);
}

int
folio_sched_checkpoint_now(struct folio_sched *s, struct folio_sched_diag *diag)
{
    struct folio_sched_diag local;
    return run_checkpoint(s, diag != NULL ? diag : &local);
}

/* ---- open and close ----------------------------------------------------- */

static void
sched_free(struct folio_sched *s)
{
    if (s == NULL)
        return;
    folio_journal_close(s->journal);
    while (s->indexes != NULL) {
        struct run_index *r = s->indexes;
        s->indexes = r->next;
        folio_index_free(r->idx);
        folio_free(r);
    }
    for (size_t i = 0; i < s->sync_count; i++)
        close(s->sync_fds[i]);
    folio_free(s->sync_fds);
    folio_sched_state_free(s->state);
    pthread_rwlock_destroy(&s->state_lock);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->snap_cond);
    pthread_mutex_destroy(&s->reg_mu);
    pthread_mutex_destroy(&s->sync_mu);
    pthread_mutex_destroy(&s->pick_mu);
    pthread_mutex_destroy(&s->batch_mu);
    run_uids_free(s->main_index_uids, s->main_index_count);
    folio_free(s->db_path);
    folio_free(s->journal_dir);
    folio_free(s->ckpt_dir);
    folio_free(s->content_dir);
    folio_free(s->indexes_dir);
    folio_free(s->tmp_dir);
    folio_free(s->snapshot_dir);
    folio_free(s->check_program);
    folio_free(s);
}

int
folio_sched_open(const struct folio_sched_opts *opts, struct folio_sched **out,
                 struct folio_sched_open_info *info, struct folio_sched_diag *diag)
{
    struct folio_sched_open_info local_info;
    struct folio_sched_diag local_diag;
    if (info == NULL)
        info = &local_info;
    if (diag == NULL)
        diag = &local_diag;
    memset(info, 0, sizeof(*info));
    memset(diag, 0, sizeof(*diag));
    *out = NULL;
    if (opts == NULL || opts->db_path == NULL || opts->db_path[0] == '\0' ||
        opts->inline_payload_max > FOLIO_SCHED_INLINE_PAYLOAD_MAX) {
        diag_set(diag, 0, "%s", "invalid scheduler options (db_path missing or inline payload too large)");
        return FOLIO_E_INVALID;
    }
    struct folio_sched *s = folio_calloc(1, sizeof(*s));
    s->opts = *opts;
    if (s->opts.payload_bytes_max == 0)
        s->opts.payload_bytes_max = FOLIO_INDEX_PAYLOAD_BYTES_DEFAULT;
    if (s->opts.inline_payload_max == 0)
        s->opts.inline_payload_max = FOLIO_SCHED_INLINE_PAYLOAD_DEFAULT;
    s->ckpt_scaled = s->opts.checkpoint_every_events == 0 || s->opts.checkpoint_scale;
    if (s->opts.checkpoint_every_events == 0)
        s->opts.checkpoint_every_events = 100000;
    if (s->opts.checkpoint_every_ms == 0)
        s->opts.checkpoint_every_ms = 300000;
    if (s->opts.batch_tasks_max == 0)
        s->opts.batch_tasks_max = 1000;
    s->opts.journal = NULL;
    s->opts.index = NULL;
    s->db_path = folio_strdup(opts->db_path);
    s->opts.db_path = s->db_path;
    s->snapshot_dir = opts->snapshot_dir != NULL ? folio_strdup(opts->snapshot_dir) : NULL;
    s->opts.snapshot_dir = s->snapshot_dir;
    s->check_program =
        opts->index_check_program != NULL ? folio_strdup(opts->index_check_program) : NULL;
    s->opts.index_check_program = s->check_program;
    s->journal_dir = run_path(s->db_path, "journal");
    s->ckpt_dir = run_path(s->db_path, "checkpoints");
    s->content_dir = run_path(s->db_path, "content");
    s->indexes_dir = run_path(s->db_path, "indexes");
    s->tmp_dir = run_path(s->db_path, "tmp");
    if (opts->index != NULL)
        s->index_opts = *opts->index;
    else
        folio_index_options_default(&s->index_opts);
    s->index_opts.read_only = false;
    s->index_opts.no_lock = false;
    pthread_rwlock_init(&s->state_lock, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_cond_init(&s->snap_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->reg_mu, NULL);
    pthread_mutex_init(&s->sync_mu, NULL);
    pthread_mutex_init(&s->pick_mu, NULL);
    pthread_mutex_init(&s->batch_mu, NULL);
    s->running_batch = FOLIO_SCHED_NONE;
    s->snap_running_batch = FOLIO_SCHED_NONE;
    s->paused = opts->paused;
    s->last_ckpt_mono_ns = folio_clock_mono_ns();

    int rc = run_dir_prepare(s, diag);
    if (rc != 0)
        goto fail;
    snprintf(info->instance_uid, sizeof(info->instance_uid), "%s", s->instance_uid);

    struct folio_journal_opts jopts;
    if (opts->journal != NULL)
        jopts = *opts->journal;
    else
        folio_journal_opts_default(&jopts);
    jopts.create = true;
    jopts.before_sync = run_before_sync;
    jopts.before_sync_ctx = s;
    jopts.after_acks = run_after_acks;
    jopts.after_acks_ctx = s;
    struct folio_journal_open_info jinfo;
    struct folio_journal_diag jdiag;
    memset(&jdiag, 0, sizeof(jdiag));
    rc = folio_journal_open(s->journal_dir, &jopts, &s->journal, &jinfo, &jdiag);
    if (rc != 0) {
        diag->seq = jdiag.seq;
        snprintf(diag->file, sizeof(diag->file), "%s", jdiag.segment);
        snprintf(diag->reason, sizeof(diag->reason), "journal: %.200s (segment %.60s, offset %" PRIu64
                 ", seq %" PRIu64 ")", jdiag.reason[0] ? jdiag.reason : folio_err_message(rc),
                 jdiag.segment, jdiag.offset, jdiag.seq);
        goto fail;
    }
    info->journal_recovered = jinfo.recovered;

    rc = folio_sched_state_replay(s->journal_dir, s->ckpt_dir, &s->state, &info->replay, diag);
    if (rc != 0)
        goto fail;
    s->next_task_uid = folio_sched_state_next_task_uid(s->state);

    struct folio_event ev = {.type = FOLIO_EV_SERVER_STARTED};
    ev.u.server_started.instance_uid = folio_str_c(s->instance_uid);
    ev.u.server_started.version = folio_str_c(FOLIO_VERSION_STRING);
    ev.u.server_started.pid = (uint64_t)getpid();
    rc = run_append_wait(s, &ev, 1, NULL);
    if (rc != 0) {
        diag_set(diag, 0, "appending server_started: %s", folio_err_message(rc));
        goto fail;
    }
    rc = run_recover_processing(s, info, diag);
    if (rc == 0)
        rc = run_remove_leftovers(s, info, diag);
    if (rc != 0)
        goto fail;

    if (pthread_create(&s->worker, NULL, worker_lane_main, s) != 0) {
        rc = FOLIO_E_NOMEM;
        diag_set(diag, 0, "%s", "cannot start the processing thread");
        goto fail;
    }
    s->worker_started = true;
    if (pthread_create(&s->snap_worker, NULL, snap_lane_main, s) != 0) {
        folio_sched_close(s);
        diag_set(diag, 0, "%s", "cannot start the snapshot lane's thread");
        return FOLIO_E_NOMEM;
    }
    s->snap_started = true;
    *out = s;
    return 0;
fail:
    sched_free(s);
    return rc;
}

void
folio_sched_close(struct folio_sched *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    atomic_store(&s->must_stop, true);
    atomic_store(&s->snap_must_stop, true);
    run_broadcast(s);
    pthread_mutex_unlock(&s->mu);
    if (s->worker_started)
        pthread_join(s->worker, NULL);
    if (s->snap_started)
        pthread_join(s->snap_worker, NULL);
    /* Drains the journal: every queued registration is acknowledged. */
    folio_journal_close(s->journal);
    s->journal = NULL;
    sched_free(s);
}

void
folio_sched_pause(struct folio_sched *s)
{
    pthread_mutex_lock(&s->mu);
    s->paused = true;
    while (s->worker_busy || s->snap_busy)
        pthread_cond_wait(&s->cond, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

void
folio_sched_resume(struct folio_sched *s)
{
    pthread_mutex_lock(&s->mu);
    s->paused = false;
    run_broadcast(s);
    pthread_mutex_unlock(&s->mu);
}
