/*
 * The data directory (DESIGN §3) at start-up: its layout and identity files,
 * the tasks a crash left processing (DESIGN §6 "Exactly once"), and the
 * leftovers nobody needs any more.
 *
 * A task left processing is finished from its index's applied marker when the
 * marker proves it was applied in that very batch (the marker's batch_seq is
 * the seq of the batch's batch_started event): its outcome was stored with the
 * marker, in the same LMDB transaction as the change, and is replayed into a
 * task_succeeded / task_failed event. Otherwise the task never touched its
 * index in that batch and is requeued (task_requeued). Tasks whose effects are
 * recorded only in the journal (index creation, deletion, swap, cancelation,
 * deletion of tasks) have their effect and their outcome in one atomic append,
 * so if they are still processing nothing of them happened: requeued.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "run_int.h"

#define RUN_FORMAT_VERSION 1

void
run_uuid_new(char out[RUN_UUID_LEN + 1])
{
    uint8_t b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            FOLIO_PANIC("getrandom: %s", strerror(errno));
        }
        got += (size_t)n;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, RUN_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

static bool
is_uuid(const char *s)
{
    if (strlen(s) != RUN_UUID_LEN)
        return false;
    for (unsigned i = 0; i < RUN_UUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

static __thread uint64_t rm_bytes;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) == 0 ? 0 : -1;
    if (flag == FTW_F || flag == FTW_SL || flag == FTW_SLN)
        rm_bytes += (uint64_t)st->st_size;
    return unlink(path) == 0 ? 0 : -1;
}

int
run_rmrf(const char *path, uint64_t *bytes)
{
    rm_bytes = 0;
    int rc = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (bytes != NULL)
        *bytes = rm_bytes;
    if (rc != 0 && errno != ENOENT)
        return folio_err_from_errno(errno);
    return 0;
}

static int
make_dir(const char *path, struct folio_sched_diag *diag)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        errno = ENOTDIR;
    }
    int err = errno;
    snprintf(diag->reason, sizeof(diag->reason), "cannot create directory %s: %s", path,
             strerror(err));
    return folio_err_from_errno(err);
}

/* Writes path atomically: temp file, fsync, rename, fsync of the directory. */
static int
write_file_atomic(const char *dir, const char *name, const char *text)
{
    char *path = run_path(dir, name);
    size_t tlen = strlen(name) + 5;
    char *tname = folio_malloc(tlen);
    snprintf(tname, tlen, "%s.tmp", name);
    char *tmp = run_path(dir, tname);
    folio_free(tname);
    int rc = 0;
    int fd = folio_io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || folio_io_pwrite_all(fd, text, strlen(text), 0) != 0 || folio_io_fsync(fd) != 0 ||
        folio_io_rename(tmp, path) != 0 || folio_io_fsync_dir(dir) != 0)
        rc = folio_err_from_errno(errno);
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    folio_free(tmp);
    folio_free(path);
    return rc;
}

static char *
read_small(const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = folio_malloc(max + 1);
    ssize_t n = folio_io_pread_all(fd, buf, max, 0);
    close(fd);
    if (n < 0) {
        folio_free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int
run_dir_prepare(struct folio_sched *s, struct folio_sched_diag *diag)
{
    int rc = make_dir(s->db_path, diag);
    const char *dirs[] = {s->ckpt_dir, s->content_dir, s->indexes_dir, s->tmp_dir};
    for (unsigned i = 0; i < FOLIO_ARRAY_LEN(dirs) && rc == 0; i++)
        rc = make_dir(dirs[i], diag);
    if (rc != 0)
        return rc;

    char *vpath = run_path(s->db_path, "VERSION");
    char *have = read_small(vpath, 256);
    folio_free(vpath);
    if (have == NULL) {
        char text[128];
        snprintf(text, sizeof(text), "engine %s\nformat %d\n", FOLIO_VERSION_STRING,
                 RUN_FORMAT_VERSION);
        rc = write_file_atomic(s->db_path, "VERSION", text);
    } else {
        const char *f = strstr(have, "format ");
        int format = f != NULL ? atoi(f + 7) : -1;
        if (format != RUN_FORMAT_VERSION) {
            snprintf(diag->reason, sizeof(diag->reason),
                     "%s/VERSION says data format %d; this folio reads format %d", s->db_path,
                     format, RUN_FORMAT_VERSION);
            rc = FOLIO_E_VERSION;
        }
        folio_free(have);
    }
    if (rc != 0) {
        if (diag->reason[0] == '\0')
            snprintf(diag->reason, sizeof(diag->reason), "cannot write %s/VERSION: %s",
                     s->db_path, folio_err_message(rc));
        return rc;
    }

    char *ipath = run_path(s->db_path, "instance-uid");
    char *uid = read_small(ipath, 64);
    folio_free(ipath);
    if (uid != NULL) {
        uid[strcspn(uid, "\n")] = '\0';
        if (!is_uuid(uid)) {
            snprintf(diag->reason, sizeof(diag->reason),
                     "%s/instance-uid does not hold a UUID", s->db_path);
            folio_free(uid);
            return FOLIO_E_CORRUPT;
        }
        snprintf(s->instance_uid, sizeof(s->instance_uid), "%s", uid);
        folio_free(uid);
        return 0;
    }
    run_uuid_new(s->instance_uid);
    char text[RUN_UUID_LEN + 2];
    snprintf(text, sizeof(text), "%s\n", s->instance_uid);
    rc = write_file_atomic(s->db_path, "instance-uid", text);
    if (rc != 0)
        snprintf(diag->reason, sizeof(diag->reason), "cannot write %s/instance-uid: %s",
                 s->db_path, folio_err_message(rc));
    return rc;
}

/* ---- tasks left processing ---------------------------------------------- */

/* 1 if the event at seq is batch_started of batch_uid, 0 if not, or an error. */
static int
seq_is_batch(struct folio_sched *s, uint64_t seq, uint32_t batch_uid)
{
    struct folio_journal_reader *r = NULL;
    struct folio_journal_diag jd;
    int rc = folio_journal_reader_open(s->journal_dir, seq, 0, &r, &jd);
    if (rc != 0)
        return rc;
    struct folio_journal_record rec;
    rc = folio_journal_reader_next(r, &rec, &jd);
    int result = 0;
    if (rc == 0 && rec.seq == seq) {
        struct folio_event ev;
        if (folio_event_decode(rec.data, rec.len, &ev) == 0) {
            result = ev.type == FOLIO_EV_BATCH_STARTED && ev.u.batch_started.batch_uid == batch_uid;
            folio_event_clear(&ev);
        }
    } else if (rc != 0 && rc != FOLIO_E_END) {
        result = rc;
    }
    folio_journal_reader_close(r);
    return result;
}

struct rec_events {
    struct folio_event *ev;
    size_t count, cap;
    void **owned;
    size_t owned_count, owned_cap;
};

static struct folio_event *
rec_push(struct rec_events *e)
{
    if (e->count == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->ev = folio_reallocarray(e->ev, e->cap, sizeof(*e->ev));
    }
    struct folio_event *ev = &e->ev[e->count++];
    memset(ev, 0, sizeof(*ev));
    return ev;
}

static void *
rec_keep(struct rec_events *e, void *p)
{
    if (e->owned_count == e->owned_cap) {
        e->owned_cap = e->owned_cap ? e->owned_cap * 2 : 16;
        e->owned = folio_reallocarray(e->owned, e->owned_cap, sizeof(*e->owned));
    }
    e->owned[e->owned_count++] = p;
    return p;
}

static void
rec_free(struct rec_events *e)
{
    for (size_t i = 0; i < e->owned_count; i++)
        folio_free(e->owned[i]);
    folio_free(e->owned);
    folio_free(e->ev);
}

/* Appends the events in chunks of at most 1000 (each task's events stay together). */
static int
rec_flush(struct folio_sched *s, struct rec_events *e)
{
    size_t at = 0;
    while (at < e->count) {
        size_t n = e->count - at;
        if (n > 1000) {
            n = 1000;
            /* never split an index_updated from the outcome after it */
            if (e->ev[at + n - 1].type == FOLIO_EV_INDEX_UPDATED)
                n--;
        }
        int rc = run_append_wait(s, e->ev + at, n, NULL);
        if (rc != 0)
            return rc;
        at += n;
    }
    return 0;
}

static bool
kind_writes_index(enum folio_task_kind k)
{
    return k == FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE || k == FOLIO_KIND_DOCUMENT_DELETION ||
           k == FOLIO_KIND_SETTINGS_UPDATE || k == FOLIO_KIND_INDEX_UPDATE;
}

/*
 * Decides one processing task: fills the events to append. The state is
 * read-locked by the caller.
 */
static int
recover_task(struct folio_sched *s, const struct folio_sched_state *st, uint32_t uid,
             struct rec_events *e, struct folio_sched_open_info *info,
             struct folio_sched_diag *diag)
{
    struct folio_task_view t;
    int rc = folio_sched_task_get(st, uid, &t);
    if (rc != 0)
        return rc;
    const struct folio_str *iuid = folio_task_view_index_uid(&t);
    uint8_t *outcome = NULL;
    size_t outcome_len = 0;
    char pk[FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX + 1] = "";
    bool has_pk = false;
    struct folio_index_view iv;
    char uuid[RUN_UUID_LEN + 1] = "";
    if (kind_writes_index(t.kind) && iuid != NULL &&
        folio_sched_index_get(st, iuid->ptr, iuid->len, &iv) == 0) {
        snprintf(uuid, sizeof(uuid), "%.*s", (int)iv.uuid.len, iv.uuid.ptr);
        struct folio_index *idx = NULL;
        rc = run_index_get(s, uuid, &idx);
        if (rc != 0) {
            snprintf(diag->reason, sizeof(diag->reason),
                     "task %u: cannot open index `%s` (%s) to read its applied marker: %s", uid,
                     iuid->ptr, uuid, folio_err_message(rc));
            return rc;
        }
        struct folio_index_marker m;
        struct folio_index_error ierr;
        rc = folio_index_marker_get(idx, &m, &ierr);
        if (rc == 0 && m.task_uid >= uid) {
            int same = seq_is_batch(s, m.batch_seq, t.batch_uid);
            if (same < 0) {
                rc = same;
            } else if (same == 0) {
                snprintf(diag->reason, sizeof(diag->reason),
                         "task %u is processing in batch %u but index `%s` says task %" PRIu64
                         " was applied in the batch started at seq %" PRIu64,
                         uid, t.batch_uid, iuid->ptr, m.task_uid, m.batch_seq);
                rc = FOLIO_E_CORRUPT;
            } else {
                rc = folio_index_outcome_get(idx, uid, &outcome, &outcome_len, &ierr);
                if (rc == FOLIO_E_NOT_FOUND) {
                    snprintf(diag->reason, sizeof(diag->reason),
                             "task %u was applied to index `%s` but its outcome is missing", uid,
                             iuid->ptr);
                    rc = FOLIO_E_CORRUPT;
                }
            }
        }
        bool doc_pk = t.kind == FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE && iv.primary_key.len == 0;
        if (rc == 0 && outcome != NULL && (t.kind == FOLIO_KIND_INDEX_UPDATE || doc_pk)) {
            struct folio_index_stats *stats = NULL;
            rc = folio_index_stats_get(idx, &stats, &ierr);
            if (rc == 0) {
                has_pk = stats->has_primary_key;
                snprintf(pk, sizeof(pk), "%s", stats->primary_key);
                folio_index_stats_free(stats);
            }
        }
        run_index_put(s, idx);
        if (rc != 0) {
            if (diag->reason[0] == '\0')
                snprintf(diag->reason, sizeof(diag->reason), "task %u: index `%.100s`: %.180s",
                         uid, iuid->ptr, ierr.message);
            folio_free(outcome);
            return rc;
        }
    }
    if (outcome == NULL) {
        struct folio_event *ev = rec_push(e);
        ev->type = FOLIO_EV_TASK_REQUEUED;
        ev->u.task_requeued.task_uid = uid;
        ev->u.task_requeued.batch_uid = t.batch_uid;
        ev->u.task_requeued.reason =
            folio_str_c("folio stopped while the task was processing; it had not been applied");
        info->tasks_requeued++;
        return 0;
    }
    rec_keep(e, outcome);
    bool failed;
    struct folio_object details, error;
    rc = run_outcome_decode(outcome, outcome_len, &failed, &details, &error);
    if (rc != 0) {
        snprintf(diag->reason, sizeof(diag->reason),
                 "task %u: the outcome stored in index `%s` does not decode", uid, iuid->ptr);
        return FOLIO_E_CORRUPT;
    }
    bool pk_learned = t.kind == FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE && has_pk && !failed;
    if ((t.kind == FOLIO_KIND_INDEX_UPDATE && !failed) || pk_learned) {
        struct folio_event *ev = rec_push(e);
        ev->type = FOLIO_EV_INDEX_UPDATED;
        ev->u.index_change.index_uid =
            folio_str_c(rec_keep(e, folio_strndup(iuid->ptr, iuid->len)));
        ev->u.index_change.index_uuid = folio_str_c(rec_keep(e, folio_strdup(uuid)));
        if (has_pk)
            ev->u.index_change.primary_key = folio_str_c(rec_keep(e, folio_strdup(pk)));
        ev->u.index_change.task_uid = uid;
        ev->u.index_change.changed_at_ns = folio_clock_now_ns();
    }
    struct folio_event *ev = rec_push(e);
    ev->type = failed ? FOLIO_EV_TASK_FAILED : FOLIO_EV_TASK_SUCCEEDED;
    ev->u.task_outcome.task_uid = uid;
    ev->u.task_outcome.batch_uid = t.batch_uid;
    ev->u.task_outcome.finished_at_ns = folio_clock_now_ns();
    ev->u.task_outcome.details = details;
    if (failed)
        ev->u.task_outcome.error = error;
    info->tasks_finished++;
    return 0;
}

int
run_recover_processing(struct folio_sched *s, struct folio_sched_open_info *info,
                       struct folio_sched_diag *diag)
{
    struct folio_sched_query q = {0};
    q.statuses = 1u << FOLIO_STATUS_PROCESSING;
    uint32_t *uids = NULL;
    size_t count = 0;
    pthread_rwlock_rdlock(&s->state_lock);
    int rc = folio_sched_match_tasks(s->state, &q, &uids, &count);
    struct rec_events e = {0};
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = recover_task(s, s->state, uids[i], &e, info, diag);
    /* The events own copies of every string (the state changes as they apply). */
    pthread_rwlock_unlock(&s->state_lock);
    folio_free(uids);
    if (rc == 0 && e.count > 0)
        rc = rec_flush(s, &e);
    rec_free(&e);
    return rc;
}

/* ---- leftovers ------------------------------------------------------------ */

struct removed {
    char **paths;
    size_t count, cap;
    uint64_t bytes;
};

static void
removed_add(struct removed *r, const char *prefix, const char *name, uint64_t bytes)
{
    if (r->count == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->paths = folio_reallocarray(r->paths, r->cap, sizeof(*r->paths));
    }
    r->paths[r->count++] = run_path(prefix, name);
    r->bytes += bytes;
}

static int
record_removed(struct folio_sched *s, struct removed *r, const char *reason)
{
    int rc = 0;
    for (size_t at = 0; at < r->count && rc == 0;) {
        size_t n = r->count - at > 1000 ? 1000 : r->count - at;
        struct folio_str *paths = folio_calloc(n, sizeof(*paths));
        for (size_t i = 0; i < n; i++)
            paths[i] = folio_str_c(r->paths[at + i]);
        struct folio_event ev = {.type = FOLIO_EV_FILES_REMOVED};
        ev.u.files_removed.reason = folio_str_c(reason);
        ev.u.files_removed.paths = (struct folio_str_array){paths, (uint32_t)n};
        ev.u.files_removed.bytes = at == 0 ? r->bytes : 0;
        rc = run_append_wait(s, &ev, 1, NULL);
        folio_free(paths);
        at += n;
    }
    for (size_t i = 0; i < r->count; i++)
        folio_free(r->paths[i]);
    folio_free(r->paths);
    memset(r, 0, sizeof(*r));
    return rc;
}

/* Content files the enqueued and processing tasks still need. */
static int
needed_content(struct folio_sched *s, char ***out, size_t *out_count)
{
    struct folio_sched_query q = {0};
    q.statuses = (1u << FOLIO_STATUS_ENQUEUED) | (1u << FOLIO_STATUS_PROCESSING);
    q.kinds = 1u << FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
    uint32_t *uids = NULL;
    size_t count = 0;
    pthread_rwlock_rdlock(&s->state_lock);
    int rc = folio_sched_match_tasks(s->state, &q, &uids, &count);
    char **names = count ? folio_calloc(count, sizeof(*names)) : NULL;
    size_t n = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        struct folio_task_view t;
        struct folio_task_content c;
        if (folio_sched_task_get(s->state, uids[i], &t) != 0)
            continue;
        rc = folio_task_content_decode(t.kind, t.content.ptr, t.content.len, &c);
        if (rc == 0 && c.content_file.len > 0)
            names[n++] = folio_strdup(c.content_file.ptr);
        folio_task_content_clear(&c);
    }
    pthread_rwlock_unlock(&s->state_lock);
    folio_free(uids);
    *out = names;
    *out_count = n;
    return rc;
}

static int
scan_dir(const char *dir, bool (*keep)(const char *name, void *ctx), void *ctx,
         const char *prefix, struct removed *r)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return folio_err_from_errno(errno);
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (keep != NULL && keep(de->d_name, ctx))
            continue;
        char *path = run_path(dir, de->d_name);
        uint64_t bytes = 0;
        rc = run_rmrf(path, &bytes);
        folio_free(path);
        if (rc != 0)
            break;
        removed_add(r, prefix, de->d_name, bytes);
    }
    closedir(d);
    if (rc == 0 && r->count > 0 && folio_io_fsync_dir(dir) != 0)
        rc = folio_err_from_errno(errno);
    return rc;
}

struct name_set {
    char **names;
    size_t count;
};

static bool
keep_named(const char *name, void *ctx)
{
    const struct name_set *ns = ctx;
    for (size_t i = 0; i < ns->count; i++)
        if (strcmp(ns->names[i], name) == 0)
            return true;
    return false;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
keep_sorted(const char *name, void *ctx)
{
    const struct name_set *ns = ctx;
    if (ns->count == 0)
        return false;
    return bsearch(&name, ns->names, ns->count, sizeof(char *), cmp_str) != NULL;
}

int
run_remove_leftovers(struct folio_sched *s, struct folio_sched_open_info *info,
                     struct folio_sched_diag *diag)
{
    struct removed r = {0};
    /* indexes/: directories with no mapping entry */
    struct folio_index_view *views = NULL;
    size_t nviews = 0;
    pthread_rwlock_rdlock(&s->state_lock);
    int rc = folio_sched_index_list(s->state, &views, &nviews);
    struct name_set uuids = {nviews ? folio_calloc(nviews, sizeof(char *)) : NULL, nviews};
    for (size_t i = 0; i < nviews && rc == 0; i++)
        uuids.names[i] = folio_strndup(views[i].uuid.ptr, views[i].uuid.len);
    pthread_rwlock_unlock(&s->state_lock);
    folio_free(views);
    if (rc == 0)
        rc = scan_dir(s->indexes_dir, keep_named, &uuids, "indexes", &r);
    for (size_t i = 0; i < uuids.count; i++)
        folio_free(uuids.names[i]);
    folio_free(uuids.names);
    info->files_removed += (uint32_t)r.count;
    if (rc == 0 && r.count > 0)
        rc = record_removed(s, &r,
                            "orphan index directory: no index of the mapping uses it (an index "
                            "creation or import that did not complete, or a deleted index)");

    /* content/: payloads no enqueued or processing task needs */
    struct name_set need = {0};
    if (rc == 0)
        rc = needed_content(s, &need.names, &need.count);
    if (rc == 0) {
        if (need.count > 1)
            qsort(need.names, need.count, sizeof(char *), cmp_str);
        rc = scan_dir(s->content_dir, keep_sorted, &need, "content", &r);
    }
    for (size_t i = 0; i < need.count; i++)
        folio_free(need.names[i]);
    folio_free(need.names);
    info->files_removed += (uint32_t)r.count;
    if (rc == 0 && r.count > 0)
        rc = record_removed(s, &r,
                            "content file no enqueued or processing task needs (its task "
                            "finished, or its registration never became durable)");

    /* tmp/: work space, emptied at start */
    if (rc == 0)
        rc = scan_dir(s->tmp_dir, NULL, NULL, "tmp", &r);
    info->files_removed += (uint32_t)r.count;
    if (rc == 0 && r.count > 0)
        rc = record_removed(s, &r, "work space of an interrupted snapshot or import (tmp/)");

    /* <snapshot-dir>/indexes/<uid>/: temporary archives of an interrupted creation */
    if (rc == 0) {
        char **paths = NULL;
        size_t n = 0;
        uint64_t bytes = 0;
        rc = run_snapshot_leftovers(s, &paths, &n, &bytes);
        for (size_t i = 0; i < n; i++) {
            removed_add(&r, "snapshots", paths[i], 0);
            folio_free(paths[i]);
        }
        folio_free(paths);
        r.bytes = bytes;
        info->files_removed += (uint32_t)r.count;
        if (rc == 0 && r.count > 0)
            rc = record_removed(s, &r,
                                "temporary archive of an interrupted single-index snapshot "
                                "creation (in the snapshot directory)");
    }
    if (rc != 0) {
        for (size_t i = 0; i < r.count; i++)
            folio_free(r.paths[i]);
        folio_free(r.paths);
        if (diag->reason[0] == '\0')
            snprintf(diag->reason, sizeof(diag->reason), "removing leftovers: %s",
                     folio_err_message(rc));
    }
    return rc;
}
