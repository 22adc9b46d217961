/*
 * Single-index snapshots in the running scheduler (DESIGN §8): the snapshot
 * lane, a second processing thread that runs singleIndexSnapshotCreation
 * tasks, and the singleIndexSnapshotImport processor, which runs in the main
 * lane like any batch.
 *
 * The snapshot lane takes the oldest enqueued creation whose index the main
 * lane's batch does not touch (run_batch_next_snapshot) and runs it as a
 * batch of its own. While it runs, the main lane takes no task of that
 * index (run_batch.c): the copy is of a quiet index, and the tasks behind it
 * show as enqueued. A creation copies the env compacted into tmp/<uuid>/,
 * reads the applied marker from the copy (so the manifest's seq and task uid
 * are exactly what the data holds, invariant 4), hashes it and writes the
 * archive atomically into <snapshot-dir>/indexes/<uid>/. tmp/<uuid>/ goes
 * whatever happens; folio_snapshot_write leaves nothing at the destination
 * on failure. A crash leaves a tmp/ entry and maybe a temporary archive:
 * start-up removes both (run_dir.c) and requeues the task.
 *
 * An import extracts the archive into tmp/<uuid>/ (names, sizes, checksums
 * and versions checked by folio_snapshot_extract), checks the env against
 * the manifest, rewrites its applied marker to the import task and this
 * batch (a foreign marker must never match a local task in the exactly-once
 * recovery), moves it to indexes/<uuid>/ and appends index_imported with the
 * task's task_succeeded in one atomic append. Until that append is durable
 * the moved directory is an orphan, which start-up removes while it requeues
 * the task: an import is complete or leaves no trace (invariant 5).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "folio/snapshot.h"
#include "run_int.h"

#define CREATION_STEPS 6u
#define IMPORT_STEPS 5u
#define NAME_SUFFIX_MAX 1000

/* A copy of the task (the state may change while it runs). */
struct snap_task {
    uint32_t uid;
    enum folio_task_kind kind;
    char index_uid[FOLIO_INDEX_UID_MAX + 1]; /* creation: its index; import: the target */
    char *snapshot_path;                     /* import: relative to the snapshot dir */
    char *asserted_uid;                      /* import: the task's indexUid, or NULL */
    char *new_index_uid;                     /* import: newIndexUid, or NULL */
    uint8_t *defaults;                       /* registration-time details */
    size_t defaults_len;
};

static char *
str_dup_or_null(struct folio_str v)
{
    return v.len > 0 ? folio_strndup(v.ptr, v.len) : NULL;
}

static int
snap_task_load(struct folio_sched *s, uint32_t uid, struct snap_task *t)
{
    memset(t, 0, sizeof(*t));
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    struct folio_task_view v;
    int rc = folio_sched_task_get(st, uid, &v);
    struct folio_task_content c;
    if (rc == 0)
        rc = folio_task_content_decode(v.kind, v.content.ptr, v.content.len, &c);
    if (rc == 0) {
        t->uid = uid;
        t->kind = v.kind;
        if (v.index_count > 0)
            snprintf(t->index_uid, sizeof(t->index_uid), "%.*s", (int)v.index_uids[0].len,
                     v.index_uids[0].ptr);
        t->snapshot_path = str_dup_or_null(c.snapshot_path);
        if (v.kind == FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT) {
            t->asserted_uid = str_dup_or_null(c.index_uid);
            t->new_index_uid = str_dup_or_null(c.new_index_uid);
        }
        folio_task_content_clear(&c);
        rc = folio_task_details_default(&v, &t->defaults, &t->defaults_len);
    }
    folio_sched_read_unlock(s);
    return rc;
}

static void
snap_task_clear(struct snap_task *t)
{
    folio_free(t->snapshot_path);
    folio_free(t->asserted_uid);
    folio_free(t->new_index_uid);
    folio_free(t->defaults);
    memset(t, 0, sizeof(*t));
}

/* ---- outcomes ------------------------------------------------------------- */

/* Appends the events (mapping events first, then the outcome) atomically and durably. */
static void
record(struct folio_sched *s, struct folio_event *events, size_t count)
{
    int rc = run_append_wait(s, events, count, NULL);
    if (rc != 0)
        FOLIO_PANIC("cannot record the outcome of a snapshot task: %s", folio_err_message(rc));
    folio_crash_point("outcome-durable");
}

static void
outcome_event(struct folio_event *ev, uint32_t batch_uid, uint32_t task_uid, bool failed,
              const uint8_t *details, size_t dlen, const uint8_t *error, size_t elen)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = failed ? FOLIO_EV_TASK_FAILED : FOLIO_EV_TASK_SUCCEEDED;
    ev->u.task_outcome.task_uid = task_uid;
    ev->u.task_outcome.batch_uid = batch_uid;
    ev->u.task_outcome.finished_at_ns = folio_clock_now_ns();
    ev->u.task_outcome.details = (struct folio_object){details, (uint32_t)dlen};
    if (failed)
        ev->u.task_outcome.error = (struct folio_object){error, (uint32_t)elen};
}

/* Fails the task: its registration-time details with the counters at 0, and the error. */
static void
fail(struct folio_sched *s, uint32_t batch_uid, const struct snap_task *t, const char *code,
     const char *type, const char *message)
{
    uint8_t *e = NULL;
    size_t elen = 0, dlen = 0;
    if (run_error_object(code, type, message, &e, &elen) != 0)
        FOLIO_PANIC("cannot encode error %s", code);
    uint8_t *d = run_details_to_failed(t->defaults, t->defaults_len, &dlen);
    struct folio_event ev;
    outcome_event(&ev, batch_uid, t->uid, true, d, d != NULL ? dlen : 0, e, elen);
    record(s, &ev, 1);
    folio_free(d);
    folio_free(e);
}

static void
requeue(struct folio_sched *s, uint32_t batch_uid, uint32_t task_uid)
{
    struct folio_event ev = {.type = FOLIO_EV_TASK_REQUEUED};
    ev.u.task_requeued.task_uid = task_uid;
    ev.u.task_requeued.batch_uid = batch_uid;
    ev.u.task_requeued.reason = folio_str_c("the batch was stopped (a cancelation or shutdown) "
                                            "before this task finished; nothing of it was kept");
    record(s, &ev, 1);
}

/* ---- small file helpers --------------------------------------------------------- */

/*
 * mkdir 0700 (an existing directory is fine, a link to one is not: archives
 * are never written through a link out of the snapshot directory), then
 * fsync of the parent.
 */
static int
make_dir(const char *parent, const char *name, char **out)
{
    char *path = run_path(parent, name);
    int rc = 0;
    if (mkdir(path, 0700) == 0) {
        if (folio_io_fsync_dir(parent) != 0)
            rc = folio_err_from_errno(errno);
    } else if (errno != EEXIST) {
        rc = folio_err_from_errno(errno);
    } else {
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = FOLIO_E_IO;
    }
    if (rc != 0) {
        folio_free(path);
        path = NULL;
    }
    *out = path;
    return rc;
}

/* A fresh, empty work directory tmp/<uuid>/. */
static int
work_dir_new(struct folio_sched *s, char uuid[RUN_UUID_LEN + 1], char **out)
{
    run_uuid_new(uuid);
    *out = run_path(s->tmp_dir, uuid);
    if (mkdir(*out, 0700) == 0)
        return 0;
    int rc = folio_err_from_errno(errno);
    folio_free(*out);
    *out = NULL;
    return rc;
}

static void
work_dir_remove(struct folio_sched *s, char *work)
{
    if (work == NULL)
        return;
    run_rmrf(work, NULL);
    folio_io_fsync_dir(s->tmp_dir);
    folio_free(work);
}

/* ---- creation ---------------------------------------------------------------- */

/* Why a creation failed: the step, the folio error and a detail. */
struct why {
    int rc;
    const char *step;
    char detail[600];
};

static int
why_set(struct why *w, int rc, const char *step, const char *detail)
{
    w->rc = rc;
    w->step = step;
    snprintf(w->detail, sizeof(w->detail), "%s",
             detail != NULL && detail[0] ? detail : folio_err_message(rc));
    return rc;
}

/* <uid name>_<YYYYMMDDTHHMMSS.ffffffZ>[-N].idx.snapshot (folio_snapshot_uid_name) */
static void
archive_name(const char *uid, int64_t now_ns, unsigned n, char *out, size_t out_len)
{
    time_t secs = (time_t)(now_ns / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
    long micros = (long)((now_ns % 1000000000) / 1000);
    char suffix[16] = "";
    if (n > 1)
        snprintf(suffix, sizeof(suffix), "-%u", n);
    snprintf(out, out_len, "%s_%s.%06ldZ%s%s", uid, stamp, micros, suffix, FOLIO_SNAPSHOT_SUFFIX);
}

/* The manifest of the copy in work (kind index, one file: data.mdb). */
static int
manifest_from_copy(struct folio_sched *s, const char *index_uid, const char *work,
                   struct folio_snapshot_manifest **out, struct why *w)
{
    *out = NULL;
    struct folio_index_options o = s->index_opts;
    o.read_only = true;
    o.no_lock = true;
    struct folio_index *copy = NULL;
    struct folio_index_error ierr = {0};
    struct folio_index_stats *stats = NULL;
    int rc = folio_index_open(work, &o, &copy, &ierr);
    if (rc == 0)
        rc = folio_index_stats_get(copy, &stats, &ierr);
    folio_index_free(copy);
    if (rc != 0)
        return why_set(w, rc, "reading the applied marker of the copy", ierr.message);
    struct folio_snapshot_manifest *m = folio_calloc(1, sizeof(*m));
    m->kind = FOLIO_SNAPSHOT_KIND_INDEX;
    m->format_version = FOLIO_SNAPSHOT_FORMAT_VERSION;
    m->engine_version = folio_strdup(FOLIO_VERSION_STRING);
    m->created_at_ns = folio_clock_now_ns();
    m->source_instance_uid = folio_strdup(s->instance_uid);
    m->seq = stats->marker.batch_seq;
    m->task_uid = stats->marker.task_uid;
    m->index_uid = folio_strdup(index_uid);
    m->primary_key = stats->has_primary_key ? folio_strdup(stats->primary_key) : NULL;
    m->settings_json = folio_strndup(stats->settings_json, stats->settings_len);
    m->document_count = stats->document_count;
    m->files = folio_calloc(1, sizeof(*m->files));
    m->files[0].name = folio_strdup("data.mdb");
    m->file_count = 1;
    folio_index_stats_free(stats);
    *out = m;
    return 0;
}

/*
 * Writes the archive into <snapshot-dir>/indexes/<uid name>/ under a fresh name;
 * *rel receives its path relative to the snapshot directory.
 */
static int
write_archive(struct folio_sched *s, const char *index_uid, const char *work,
              const struct folio_snapshot_manifest *m, char **rel, struct why *w)
{
    *rel = NULL;
    char *top = NULL, *dir = NULL;
    char uid_name[FOLIO_SNAPSHOT_UID_NAME_BYTES];
    folio_snapshot_uid_name(index_uid, strlen(index_uid), uid_name);
    int rc = make_dir(s->snapshot_dir, "indexes", &top);
    if (rc == 0)
        rc = make_dir(top, uid_name, &dir);
    folio_free(top);
    if (rc != 0) {
        char msg[600];
        snprintf(msg, sizeof(msg),
                 "cannot create `%s/indexes/%s/` (or it is not a directory: a "
                 "symbolic link is refused): %s",
                 s->snapshot_dir, uid_name, folio_err_message(rc));
        return why_set(w, rc, "writing the archive", msg);
    }
    struct folio_snapshot_write_opts wo;
    folio_snapshot_write_opts_default(&wo);
    wo.compression = s->opts.snapshot_compression;
    wo.level = s->opts.snapshot_level;
    wo.threads = s->opts.snapshot_threads;
    wo.stop = &s->snap_must_stop;
    int64_t now = folio_clock_now_ns();
    char name[FOLIO_INDEX_UID_MAX + 64];
    rc = FOLIO_E_EXISTS;
    for (unsigned n = 1; n <= NAME_SUFFIX_MAX && rc == FOLIO_E_EXISTS; n++) {
        archive_name(uid_name, now, n, name, sizeof(name));
        char *path = run_path(dir, name);
        struct stat st;
        if (lstat(path, &st) == 0) {
            folio_free(path);
            continue;
        }
        struct folio_snapshot_error serr = {0};
        rc = folio_snapshot_write(path, m, work, &wo, NULL, &serr);
        folio_free(path);
        if (rc != 0 && rc != FOLIO_E_EXISTS)
            why_set(w, rc, "writing the archive", serr.message);
    }
    folio_free(dir);
    if (rc == FOLIO_E_EXISTS)
        return why_set(w, rc, "writing the archive", "no free archive name");
    if (rc == 0) {
        size_t len = strlen(uid_name) + strlen(name) + 16;
        *rel = folio_malloc(len);
        snprintf(*rel, len, "indexes/%s/%s", uid_name, name);
    }
    return rc;
}

/* The steps of a creation up to a written archive (*rel); the caller removes work. */
static int
create_steps(struct folio_sched *s, uint32_t batch_uid, const struct snap_task *t, const char *uuid,
             const char *work, char **rel, struct why *w)
{
    run_progress(s, batch_uid, "copying the index", 1, CREATION_STEPS);
    struct folio_index *idx = NULL;
    struct folio_index_error ierr = {0};
    int rc = run_index_get(s, uuid, &idx);
    if (rc == 0) {
        rc = folio_index_copy_compact(idx, work, &ierr);
        run_index_put(s, idx);
    }
    if (rc != 0)
        return why_set(w, rc, "copying the index", ierr.message);
    folio_crash_point("snapshot-copied");
    if (atomic_load(&s->snap_must_stop))
        return why_set(w, FOLIO_E_CANCELED, "copying the index", NULL);

    run_progress(s, batch_uid, "reading the applied marker", 2, CREATION_STEPS);
    struct folio_snapshot_manifest *m = NULL;
    rc = manifest_from_copy(s, t->index_uid, work, &m, w);
    if (rc != 0)
        return rc;

    run_progress(s, batch_uid, "hashing files", 3, CREATION_STEPS);
    struct folio_snapshot_error serr = {0};
    rc = folio_snapshot_hash_files(work, m, &s->snap_must_stop, NULL, NULL, &serr);
    if (rc != 0)
        why_set(w, rc, "hashing files", serr.message);

    if (rc == 0) {
        run_progress(s, batch_uid, "writing the archive", 4, CREATION_STEPS);
        rc = write_archive(s, t->index_uid, work, m, rel, w);
    }
    folio_snapshot_manifest_free(m);
    if (rc == 0)
        folio_crash_point("snapshot-written");
    return rc;
}

static void
create_failed(struct folio_sched *s, uint32_t batch_uid, const struct snap_task *t,
              const struct why *w)
{
    char msg[2048];
    if (w->rc == FOLIO_E_NOSPC) {
        snprintf(msg, sizeof(msg),
                 "No space left on device while %s for the snapshot of index `%s`: %s. Nothing "
                 "was kept; free space in the data directory (tmp/) and the snapshot directory, "
                 "then create the snapshot again.",
                 w->step, t->index_uid, w->detail);
        fail(s, batch_uid, t, "no_space_left_on_device", "system", msg);
        return;
    }
    snprintf(msg, sizeof(msg),
             "Creating the snapshot of index `%s` failed while %s: %s. Nothing was kept; check "
             "that the snapshot directory is writable and the index is readable, then create the "
             "snapshot again.",
             t->index_uid, w->step, w->detail);
    fail(s, batch_uid, t, "single_index_snapshot_creation_failed", "internal", msg);
}

static void
create_snapshot(struct folio_sched *s, uint32_t batch_uid, const struct snap_task *t)
{
    run_progress(s, batch_uid, "starting", 0, CREATION_STEPS);
    char uuid[RUN_UUID_LEN + 1] = "";
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    struct folio_index_view v;
    bool found = folio_sched_index_get(st, t->index_uid, strlen(t->index_uid), &v) == 0;
    if (found)
        snprintf(uuid, sizeof(uuid), "%.*s", (int)v.uuid.len, v.uuid.ptr);
    folio_sched_read_unlock(s);
    if (!found) {
        char msg[FOLIO_INDEX_UID_MAX + 64];
        snprintf(msg, sizeof(msg), "Index `%s` not found.", t->index_uid);
        fail(s, batch_uid, t, "index_not_found", "invalid_request", msg);
        return;
    }
    struct why w = {0};
    char work_uuid[RUN_UUID_LEN + 1];
    char *work = NULL, *rel = NULL;
    int rc;
    if (s->snapshot_dir == NULL)
        rc = why_set(&w, FOLIO_E_INVALID, "starting",
                     "folio runs without a snapshot directory (--snapshot-dir)");
    else if ((rc = work_dir_new(s, work_uuid, &work)) != 0)
        why_set(&w, rc, "making its work directory in tmp/", NULL);
    else
        rc = create_steps(s, batch_uid, t, uuid, work, &rel, &w);
    work_dir_remove(s, work);
    if (rc == FOLIO_E_CANCELED) {
        requeue(s, batch_uid, t->uid);
    } else if (rc != 0) {
        create_failed(s, batch_uid, t, &w);
    } else {
        run_progress(s, batch_uid, "finalizing", 5, CREATION_STEPS);
        struct folio_task_details d = {0};
        d.present = (1ull << FOLIO_DETAIL_INDEX_UID) | (1ull << FOLIO_DETAIL_SNAPSHOT_PATH);
        d.index_uid = folio_str_c(t->index_uid);
        d.snapshot_path = folio_str_c(rel);
        uint8_t *det = NULL;
        size_t dlen = 0;
        if (folio_task_details_encode(t->kind, &d, &det, &dlen) != 0)
            FOLIO_PANIC("cannot encode the details of task %u", t->uid);
        struct folio_event ev;
        outcome_event(&ev, batch_uid, t->uid, false, det, dlen, NULL, 0);
        record(s, &ev, 1);
        folio_free(det);
    }
    folio_free(rel);
}

/* ---- the snapshot lane ------------------------------------------------------------ */

static void
lane_run(struct folio_sched *s, struct run_batch *rb, uint32_t batch_uid)
{
    pthread_mutex_lock(&s->mu);
    s->snap_running_batch = batch_uid;
    pthread_mutex_unlock(&s->mu);
    struct snap_task t;
    if (snap_task_load(s, rb->tasks[0], &t) != 0)
        FOLIO_PANIC("task %u vanished", rb->tasks[0]);
    create_snapshot(s, batch_uid, &t);
    snap_task_clear(&t);
    pthread_mutex_lock(&s->mu);
    s->snap_running_batch = FOLIO_SCHED_NONE;
    pthread_mutex_unlock(&s->mu);
}

void *
run_snap_main(void *arg)
{
    struct folio_sched *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->stopping && s->paused)
            pthread_cond_wait(&s->snap_cond, &s->mu);
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        uint64_t gen = s->snap_gen;
        s->snap_busy = true;
        atomic_store(&s->snap_must_stop, false);
        pthread_mutex_unlock(&s->mu);

        /*
         * The choice and its batch_started under pick_mu: once the main lane
         * can pick again, the creation is processing (a cancelation can no
         * longer cancel it as enqueued) and snap_index_uid holds its index.
         */
        struct run_batch rb;
        uint32_t batch_uid = 0;
        uint64_t batch_seq = 0;
        pthread_mutex_lock(&s->pick_mu);
        const struct folio_sched_state *st = folio_sched_read_lock(s);
        int found = run_batch_next_snapshot(s, st, &rb);
        folio_sched_read_unlock(s);
        if (found < 0)
            FOLIO_PANIC("choosing the next snapshot batch failed: %s", folio_err_message(found));
        if (found > 0) {
            snprintf(s->snap_index_uid, sizeof(s->snap_index_uid), "%s", rb.index_uid);
            if (run_batch_start(s, &rb, &batch_uid, &batch_seq) != 0) {
                s->snap_index_uid[0] = '\0';
                found = 0;
            }
        }
        pthread_mutex_unlock(&s->pick_mu);
        if (found > 0) {
            lane_run(s, &rb, batch_uid);
            pthread_mutex_lock(&s->pick_mu);
            s->snap_index_uid[0] = '\0';
            pthread_mutex_unlock(&s->pick_mu);
        }
        run_batch_clear(&rb);

        pthread_mutex_lock(&s->mu);
        s->snap_busy = false;
        if (found > 0) {
            s->applied_gen++; /* the main lane may take the index's tasks now */
            s->snap_gen++;
        }
        pthread_cond_broadcast(&s->cond);
        if (found == 0) {
            /* Until something concerning snapshots changed (or a second passed, or a flag). */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1;
            bool paused = s->paused;
            while (!s->stopping && gen == s->snap_gen && paused == s->paused &&
                   pthread_cond_timedwait(&s->snap_cond, &s->mu, &ts) == 0)
                ;
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* ---- import ------------------------------------------------------------------------ */

/* An import failure: Meilisearch code and type for the folio error, and the message. */
struct import_why {
    int rc;
    char message[900];
};

__attribute__((format(printf, 3, 4))) static int
iwhy(struct import_why *w, int rc, const char *fmt, ...)
{
    w->rc = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->message, sizeof(w->message), fmt, ap);
    va_end(ap);
    return rc;
}

static void
import_code(int rc, const char **code, const char **type)
{
    *type = "invalid_request";
    switch (rc) {
    case FOLIO_E_INVALID:
        *code = "invalid_snapshot_path";
        break;
    case FOLIO_E_SNAPSHOT_INVALID:
        *code = "snapshot_invalid";
        break;
    case FOLIO_E_SNAPSHOT_CHECKSUM:
        *code = "snapshot_checksum_mismatch";
        break;
    case FOLIO_E_SNAPSHOT_VERSION:
        *code = "snapshot_version_mismatch";
        break;
    case FOLIO_E_NOT_FOUND:
        *code = "snapshot_file_not_found";
        break;
    case FOLIO_E_EXISTS:
        *code = "index_already_exists";
        break;
    case FOLIO_E_NOSPC:
        *code = "no_space_left_on_device";
        *type = "system";
        break;
    default:
        *code = "single_index_snapshot_import_failed";
        *type = "internal";
        break;
    }
}

/* The import's success details and the outcome stored with its marker. */
static void
import_details(const struct snap_task *t, const struct folio_snapshot_manifest *m, uint8_t **det,
               size_t *dlen)
{
    struct folio_task_details d = {0};
    d.present = (1ull << FOLIO_DETAIL_SNAPSHOT_PATH) | (1ull << FOLIO_DETAIL_INDEX_UID) |
                (1ull << FOLIO_DETAIL_NEW_INDEX_UID) | (1ull << FOLIO_DETAIL_IMPORTED_DOCUMENTS);
    d.snapshot_path = folio_str_c(t->snapshot_path);
    d.index_uid = folio_str_c(t->asserted_uid != NULL ? t->asserted_uid : m->index_uid);
    if (t->new_index_uid != NULL)
        d.new_index_uid = folio_str_c(t->new_index_uid);
    else
        d.null = 1ull << FOLIO_DETAIL_NEW_INDEX_UID;
    d.imported_documents = m->document_count;
    if (folio_task_details_encode(t->kind, &d, det, dlen) != 0)
        FOLIO_PANIC("cannot encode the details of task %u", t->uid);
}

/* Two settings objects (compact JSON) are the same JSON value. */
static bool
same_settings(const char *a, size_t alen, const char *b)
{
    json_t *ja = json_loadb(a, alen, 0, NULL);
    json_t *jb = b != NULL ? json_loads(b, 0, NULL) : NULL;
    bool same = ja != NULL && jb != NULL && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return same;
}

/*
 * Opens the extracted env, checks it against the manifest, and rewrites its
 * marker to {this task, this batch} with the success outcome.
 */
static int
import_check(struct folio_sched *s, uint64_t batch_seq, const struct snap_task *t, const char *work,
             const struct folio_snapshot_manifest *m, const uint8_t *det, size_t dlen, char *pk,
             size_t pk_len, const atomic_bool *stop, struct import_why *w)
{
    if (t->asserted_uid != NULL && strcmp(t->asserted_uid, m->index_uid) != 0)
        return iwhy(w, FOLIO_E_SNAPSHOT_INVALID,
                    "The snapshot `%s` holds index `%s`, not `%s` as the task's `indexUid` says.",
                    t->snapshot_path, m->index_uid, t->asserted_uid);
    /* An index archive holds its env and nothing else: no other file goes to indexes/<uuid>/. */
    for (uint32_t i = 0; i < m->file_count; i++)
        if (strcmp(m->files[i].name, "data.mdb") != 0)
            return iwhy(w, FOLIO_E_SNAPSHOT_INVALID,
                        "The snapshot `%s` holds `%.200s`: an index snapshot holds `data.mdb` "
                        "only.",
                        t->snapshot_path, m->files[i].name);
    if (m->file_count != 1)
        return iwhy(w, FOLIO_E_SNAPSHOT_INVALID, "The snapshot `%s` holds no `data.mdb`.",
                    t->snapshot_path);
    /*
     * The whole env checked and replaced by a verified compacted copy of
     * itself, in a child when there is a program for it, else here
     * (run_check.c): only then is it opened read-write.
     */
    char why[700];
    int crc = run_check_index(s->opts.index_check_program, work, stop, why, sizeof(why));
    if (crc == FOLIO_E_CANCELED)
        return crc;
    if (crc != 0)
        return iwhy(w, crc, "The index in snapshot `%s` %s: %s", t->snapshot_path,
                    crc == FOLIO_E_SNAPSHOT_INVALID ? "is not a valid folio index"
                                                    : "cannot be checked",
                    why);
    struct folio_index *idx = NULL;
    struct folio_index_error ierr = {0};
    struct folio_index_stats *stats = NULL;
    int rc = folio_index_open(work, &s->index_opts, &idx, &ierr);
    if (rc == 0)
        rc = folio_index_stats_get(idx, &stats, &ierr);
    if (rc != 0) {
        folio_index_stats_free(stats);
        folio_index_free(idx);
        bool bad = rc == FOLIO_E_CORRUPT || rc == FOLIO_E_VERSION || rc == FOLIO_E_NOT_FOUND;
        return iwhy(w, bad ? FOLIO_E_SNAPSHOT_INVALID : rc, "The index in snapshot `%s` %s: %s",
                    t->snapshot_path, bad ? "is not a valid folio index" : "cannot be checked",
                    ierr.message);
    }
    const char *mpk = m->primary_key != NULL ? m->primary_key : "";
    const char *ipk = stats->has_primary_key ? stats->primary_key : "";
    if (stats->document_count != m->document_count)
        rc = iwhy(w, FOLIO_E_SNAPSHOT_INVALID,
                  "The index in snapshot `%s` holds %" PRIu64
                  " documents; its manifest says %" PRIu64 ".",
                  t->snapshot_path, stats->document_count, m->document_count);
    else if (stats->marker.task_uid != m->task_uid || stats->marker.batch_seq != m->seq)
        rc = iwhy(w, FOLIO_E_SNAPSHOT_INVALID,
                  "The index in snapshot `%s` was last written by task %" PRIu64 " at seq %" PRIu64
                  "; its manifest says task %" PRIu64 " at seq %" PRIu64 ".",
                  t->snapshot_path, stats->marker.task_uid, stats->marker.batch_seq, m->task_uid,
                  m->seq);
    else if (strcmp(mpk, ipk) != 0)
        rc =
            iwhy(w, FOLIO_E_SNAPSHOT_INVALID,
                 "The index in snapshot `%s` has primary key `%.200s`; its manifest says `%.200s`.",
                 t->snapshot_path, ipk, mpk);
    else if (!same_settings(stats->settings_json, stats->settings_len, m->settings_json))
        rc = iwhy(w, FOLIO_E_SNAPSHOT_INVALID,
                  "The index in snapshot `%s` has settings %.*s; its manifest says %.300s.",
                  t->snapshot_path, (int)(stats->settings_len < 300 ? stats->settings_len : 300),
                  stats->settings_json, m->settings_json);
    snprintf(pk, pk_len, "%s", ipk);
    folio_index_stats_free(stats);
    if (rc == 0) {
        uint8_t *oc = NULL;
        size_t oclen = 0;
        if (run_outcome_encode(false, det, dlen, NULL, 0, &oc, &oclen) != 0)
            FOLIO_PANIC("cannot encode the outcome of task %u", t->uid);
        struct folio_index_marker mk = {
            .task_uid = t->uid, .batch_seq = batch_seq, .outcome = oc, .outcome_len = oclen};
        rc = folio_index_mark(idx, &mk, &ierr);
        folio_free(oc);
        if (rc != 0)
            iwhy(w, rc, "Recording the import in the index of snapshot `%s` failed: %s",
                 t->snapshot_path, ierr.message);
    }
    folio_index_free(idx);
    if (rc == 0 && folio_io_fsync_dir(work) != 0)
        rc = iwhy(w, folio_err_from_errno(errno), "Syncing the imported index failed: %s.",
                  strerror(errno));
    return rc;
}

static int
import_extract(struct folio_sched *s, const struct snap_task *t, const char *work,
               const atomic_bool *stop, struct folio_snapshot_manifest **m, char hex[33],
               struct import_why *w)
{
    if (s->snapshot_dir == NULL || t->snapshot_path == NULL)
        return iwhy(w, FOLIO_E_INVALID,
                    "folio runs without a snapshot directory (--snapshot-dir): the snapshot "
                    "cannot be read.");
    /*
     * Registration resolved the path inside the snapshot directory; it is
     * opened beneath it again here, following no link, so a component
     * swapped since then cannot lead outside (invariant 6).
     */
    struct folio_snapshot_read_opts ro;
    folio_snapshot_read_opts_default(&ro);
    ro.stop = stop;
    ro.kind = FOLIO_SNAPSHOT_KIND_INDEX;
    ro.root_dir = s->snapshot_dir;
    ro.room_for_copy = true; /* the check compacts each env next to itself (run_check.c) */
    struct folio_snapshot_error serr = {0};
    int rc = folio_snapshot_extract(t->snapshot_path, work, &ro, m, hex, &serr);
    if (rc == FOLIO_E_INVALID)
        return iwhy(w, rc,
                    "Snapshot path `%s` no longer resolves inside the snapshot directory: %s",
                    t->snapshot_path, serr.message);
    if (rc == FOLIO_E_NOT_FOUND)
        return iwhy(w, rc, "Snapshot file `%s` not found in the snapshot directory: %s",
                    t->snapshot_path, serr.message);
    if (rc != 0)
        return iwhy(w, rc, "Importing snapshot `%s` failed: %s", t->snapshot_path,
                    serr.message[0] ? serr.message : folio_err_message(rc));
    return 0;
}

/* Moves work to indexes/<uuid>/ durably. */
static int
import_move(struct folio_sched *s, const char *work, const char *uuid, struct import_why *w)
{
    char *dest = run_path(s->indexes_dir, uuid);
    int rc = 0;
    if (folio_io_rename(work, dest) != 0 || folio_io_fsync_dir(s->indexes_dir) != 0 ||
        folio_io_fsync_dir(s->tmp_dir) != 0)
        rc = iwhy(w, folio_err_from_errno(errno),
                  "Moving the imported index into place failed: %s.", strerror(errno));
    folio_free(dest);
    return rc;
}

static void
import_record(struct folio_sched *s, uint32_t batch_uid, const struct snap_task *t,
              const char *uuid, const char *pk, const struct folio_snapshot_manifest *m,
              const char *hex, const uint8_t *det, size_t dlen)
{
    struct folio_event ev[2];
    memset(&ev[0], 0, sizeof(ev[0]));
    ev[0].type = FOLIO_EV_INDEX_IMPORTED;
    struct folio_ev_index_imported *e = &ev[0].u.index_imported;
    e->index_uid = folio_str_c(t->index_uid);
    e->index_uuid = folio_str_c(uuid);
    if (pk[0] != '\0')
        e->primary_key = folio_str_c(pk);
    e->task_uid = t->uid;
    e->source_instance_uid = folio_str_c(m->source_instance_uid);
    e->source_seq = m->seq;
    e->archive_checksum = folio_str_c(hex);
    outcome_event(&ev[1], batch_uid, t->uid, false, det, dlen, NULL, 0);
    record(s, ev, 2);
}

static bool
target_taken(struct folio_sched *s, const char *uid)
{
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    struct folio_index_view v;
    bool taken = folio_sched_index_get(st, uid, strlen(uid), &v) == 0;
    folio_sched_read_unlock(s);
    return taken;
}

void
run_snapshot_import(struct folio_sched *s, uint32_t batch_uid, uint64_t batch_seq,
                    uint32_t task_uid, const atomic_bool *stop)
{
    struct snap_task t;
    if (snap_task_load(s, task_uid, &t) != 0)
        FOLIO_PANIC("task %u vanished", task_uid);
    run_progress(s, batch_uid, "starting", 0, IMPORT_STEPS);
    struct import_why w = {0};
    struct folio_snapshot_manifest *m = NULL;
    char uuid[RUN_UUID_LEN + 1], hex[33] = "", pk[FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX + 1] = "";
    char *work = NULL;
    uint8_t *det = NULL;
    size_t dlen = 0;
    /* The main lane is the mapping's only writer: the target cannot be taken after this. */
    int rc = target_taken(s, t.index_uid)
                 ? iwhy(&w, FOLIO_E_EXISTS,
                        "Index `%s` already exists: import the snapshot under another uid with "
                        "`newIndexUid`, or delete the index first.",
                        t.index_uid)
                 : 0;
    if (rc == 0 && (rc = work_dir_new(s, uuid, &work)) != 0)
        iwhy(&w, rc, "Making the import's work directory in tmp/ failed: %s.",
             folio_err_message(rc));
    if (rc == 0) {
        run_progress(s, batch_uid, "extracting the archive", 1, IMPORT_STEPS);
        rc = import_extract(s, &t, work, stop, &m, hex, &w);
        folio_crash_point("import-extracted");
    }
    if (rc == 0) {
        run_progress(s, batch_uid, "checking the index", 2, IMPORT_STEPS);
        import_details(&t, m, &det, &dlen);
        rc = import_check(s, batch_seq, &t, work, m, det, dlen, pk, sizeof(pk), stop, &w);
    }
    if (rc == 0 && atomic_load(stop))
        rc = FOLIO_E_CANCELED;
    if (rc == 0) {
        run_progress(s, batch_uid, "moving the index", 3, IMPORT_STEPS);
        rc = import_move(s, work, uuid, &w);
    }
    if (rc == 0) {
        folio_free(work);
        work = NULL;
        folio_crash_point("import-moved");
        run_progress(s, batch_uid, "finalizing", 4, IMPORT_STEPS);
        import_record(s, batch_uid, &t, uuid, pk, m, hex, det, dlen);
    } else {
        work_dir_remove(s, work);
        if (rc == FOLIO_E_CANCELED) {
            requeue(s, batch_uid, t.uid);
        } else {
            const char *code, *type;
            import_code(rc, &code, &type);
            fail(s, batch_uid, &t, code, type, w.message[0] ? w.message : folio_err_message(rc));
        }
    }
    folio_free(det);
    folio_snapshot_manifest_free(m);
    snap_task_clear(&t);
}

/* ---- start-up ------------------------------------------------------------------------ */

/*
 * Temporary archives a crash left in <snapshot-dir>/indexes/<uid>/. The
 * walk follows no link (indexes and each <uid> are opened O_NOFOLLOW, files
 * are judged with fstatat(AT_SYMLINK_NOFOLLOW) and removed with unlinkat on
 * the opened directory), so a link planted there cannot make start-up delete
 * a file outside the snapshot directory (invariant 6).
 */
int
run_snapshot_leftovers(struct folio_sched *s, char ***paths, size_t *count, uint64_t *bytes)
{
    *paths = NULL;
    *count = 0;
    *bytes = 0;
    if (s->snapshot_dir == NULL)
        return 0;
    const int dir_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int root = open(s->snapshot_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int top_fd = root >= 0 ? openat(root, "indexes", dir_flags) : -1;
    if (root >= 0)
        close(root);
    DIR *d = top_fd >= 0 ? fdopendir(top_fd) : NULL;
    if (d == NULL) {
        if (top_fd >= 0)
            close(top_fd);
        return 0; /* no single-index snapshot was ever written here (or a link: not ours) */
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        int sub_fd = openat(dirfd(d), de->d_name, dir_flags);
        DIR *sd = sub_fd >= 0 ? fdopendir(sub_fd) : NULL;
        if (sd == NULL && sub_fd >= 0)
            close(sub_fd);
        bool removed = false;
        struct dirent *fe;
        while (sd != NULL && rc == 0 && (fe = readdir(sd)) != NULL) {
            if (!folio_snapshot_is_temp_name(fe->d_name))
                continue;
            struct stat st;
            if (fstatat(dirfd(sd), fe->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(st.st_mode))
                continue;
            if (unlinkat(dirfd(sd), fe->d_name, 0) != 0) {
                rc = folio_err_from_errno(errno);
                break;
            }
            removed = true;
            *bytes += (uint64_t)st.st_size;
            if (*count == cap) {
                cap = cap ? cap * 2 : 8;
                *paths = folio_reallocarray(*paths, cap, sizeof(**paths));
            }
            size_t len = strlen(de->d_name) + strlen(fe->d_name) + 16;
            char *rel = folio_malloc(len);
            snprintf(rel, len, "indexes/%s/%s", de->d_name, fe->d_name);
            (*paths)[(*count)++] = rel;
        }
        if (removed && rc == 0 && folio_io_fsync(dirfd(sd)) != 0)
            rc = folio_err_from_errno(errno);
        if (sd != NULL)
            closedir(sd);
    }
    closedir(d);
    return rc;
}
