/*
 * Whole-instance snapshots (DESIGN §8, docs/scheduler.md "Whole-instance
 * snapshots"): the snapshotCreation batch and the first start of an
 * imported instance.
 *
 * Creation runs in the processing thread, the only writer of index envs, so
 * no index changes while it runs. Its consistency point S is the last event of
 * a journal frame, seen by the state while it held exactly that event: under
 * one read lock of the state the checkpoint of S is written into the staging
 * directory (tmp/instance-<batch>/) and the index mapping and the content
 * files still needed at S are read. The journal copy is every segment before
 * the one holding S plus that segment's bytes up to the end of S's frame,
 * zero-filled to its full size: a clean journal whose last event is S. So the
 * copy replays to exactly the checkpointed state, and every index and content
 * file that state names is in the archive. The batch's own tasks are
 * processing at S; the archive's `snapshot-tasks` file lists them and the
 * first start of the imported instance appends their task_succeeded (once:
 * then the file is removed), so an import never runs them again.
 *
 * Import is run_import.c.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
#include "sched_int.h"

#define TASKS_FILE RUN_SNAPSHOT_TASKS_FILE
#define TASKS_MAGIC "folio-snapshot-tasks 1"
#define COPY_CHUNK (1u << 20)

/* ---- small file helpers (the staging directory is work space: no fsync) ---- */

/* Copies the first len bytes of src to a new file dst, then extends it with zeros to size. */
static int
copy_prefix(const char *src, const char *dst, uint64_t len, uint64_t size)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return folio_err_from_errno(errno);
    int out = folio_io_open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = out < 0 ? folio_err_from_errno(errno) : 0;
    char *buf = folio_malloc(COPY_CHUNK);
    for (uint64_t at = 0; rc == 0 && at < len;) {
        size_t want = len - at < COPY_CHUNK ? (size_t)(len - at) : COPY_CHUNK;
        ssize_t got = folio_io_pread_all(in, buf, want, (off_t)at);
        if (got < 0 || (size_t)got != want)
            rc = got < 0 ? folio_err_from_errno(errno) : FOLIO_E_IO;
        else if (folio_io_pwrite_all(out, buf, want, (off_t)at) != 0)
            rc = folio_err_from_errno(errno);
        at += want;
    }
    if (rc == 0 && size > len && folio_io_ftruncate(out, (off_t)size) != 0)
        rc = folio_err_from_errno(errno);
    folio_free(buf);
    close(in);
    if (out >= 0)
        close(out);
    return rc;
}

/* A file folio never rewrites in place (sealed segment, content file): link, or copy. */
static int
link_or_copy(const char *src, const char *dst)
{
    if (link(src, dst) == 0)
        return 0;
    struct stat st;
    if (stat(src, &st) != 0)
        return folio_err_from_errno(errno);
    return copy_prefix(src, dst, (uint64_t)st.st_size, (uint64_t)st.st_size);
}

static int
write_text(const char *path, const char *text)
{
    int fd = folio_io_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0 || folio_io_pwrite_all(fd, text, strlen(text), 0) != 0)
        rc = folio_err_from_errno(errno);
    if (fd >= 0)
        close(fd);
    return rc;
}

static char *
read_text(const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > max) {
        close(fd);
        errno = EFBIG;
        return NULL;
    }
    size_t want = (size_t)st.st_size;
    char *buf = folio_malloc(want + 1);
    ssize_t n = folio_io_pread_all(fd, buf, want, 0);
    close(fd);
    if (n < 0) {
        folio_free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int
mkdir_in(const char *parent, const char *name, char **out)
{
    char *p = run_path(parent, name);
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
        int rc = folio_err_from_errno(errno);
        folio_free(p);
        return rc;
    }
    if (out != NULL)
        *out = p;
    else
        folio_free(p);
    return 0;
}

static bool
is_segment_name(const char *name)
{
    if (strlen(name) != 24 || strcmp(name + 20, ".seg") != 0)
        return false;
    for (int i = 0; i < 20; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    return true;
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the snapshot-tasks file ---------------------------------------------- */

static char *
snap_tasks_format(const struct run_snap_tasks *t)
{
    size_t cap = 128 + (size_t)t->count * 24;
    char *text = folio_malloc(cap);
    int n =
        snprintf(text, cap, "%s\nseq %" PRIu64 "\nbatch %" PRIu32 "\nfinished_at_ns %" PRId64 "\n",
                 TASKS_MAGIC, t->seq, t->batch_uid, t->finished_at_ns);
    for (uint32_t i = 0; i < t->count; i++)
        n += snprintf(text + n, cap - (size_t)n, "task %" PRIu32 "\n", t->tasks[i]);
    return text;
}

/* 0, or FOLIO_E_CORRUPT if text is not a snapshot-tasks file. */
static int
snap_tasks_parse(char *text, struct run_snap_tasks *t)
{
    memset(t, 0, sizeof(*t));
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    if (line == NULL || strcmp(line, TASKS_MAGIC) != 0)
        return FOLIO_E_CORRUPT;
    int have = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        unsigned long long v;
        long long sv;
        char end;
        if (sscanf(line, "seq %llu%c", &v, &end) == 1) {
            t->seq = v;
            have |= 1;
        } else if (sscanf(line, "batch %llu%c", &v, &end) == 1 && v <= FOLIO_SCHED_UID_MAX) {
            t->batch_uid = (uint32_t)v;
            have |= 2;
        } else if (sscanf(line, "finished_at_ns %lld%c", &sv, &end) == 1) {
            t->finished_at_ns = sv;
            have |= 4;
        } else if (sscanf(line, "task %llu%c", &v, &end) == 1 && v <= FOLIO_SCHED_UID_MAX &&
                   t->count < FOLIO_SCHED_TASKS_MAX) {
            t->tasks = folio_reallocarray(t->tasks, t->count + 1, sizeof(*t->tasks));
            t->tasks[t->count++] = (uint32_t)v;
        } else {
            return FOLIO_E_CORRUPT;
        }
    }
    return have == 7 && t->count > 0 ? 0 : FOLIO_E_CORRUPT;
}

int
run_snap_tasks_read(const char *dir, struct run_snap_tasks *t)
{
    memset(t, 0, sizeof(*t));
    char *path = run_path(dir, TASKS_FILE);
    char *text = read_text(path, 64u << 20);
    int err = errno;
    folio_free(path);
    if (text == NULL)
        return err == ENOENT ? FOLIO_E_NOT_FOUND : folio_err_from_errno(err);
    int rc = snap_tasks_parse(text, t);
    folio_free(text);
    if (rc != 0) {
        folio_free(t->tasks);
        memset(t, 0, sizeof(*t));
    }
    return rc;
}

/* ---- creation ------------------------------------------------------------------ */

struct stage {
    struct folio_sched *s;
    char *dir; /* tmp/instance-<batch uid> */
    uint32_t batch_uid;
    const uint32_t *tasks;
    uint32_t count;
    struct folio_journal_frame_pos pos; /* the frame ending at the consistency point */
    char **index_uids, **index_uuids;
    uint32_t index_count;
    char **content;
    size_t content_count;
    char **files; /* archive entries, in order */
    size_t file_count, file_cap;
    char msg[400]; /* what failed, for the task's error */
};

__attribute__((format(printf, 2, 3))) static void
stage_msg(struct stage *g, const char *fmt, ...)
{
    if (g->msg[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->msg, sizeof(g->msg), fmt, ap);
    va_end(ap);
}

static void
stage_file(struct stage *g, const char *dir, const char *name)
{
    if (g->file_count == g->file_cap) {
        g->file_cap = g->file_cap ? g->file_cap * 2 : 64;
        g->files = folio_reallocarray(g->files, g->file_cap, sizeof(*g->files));
    }
    g->files[g->file_count++] = dir != NULL ? run_path(dir, name) : folio_strdup(name);
}

static void
stage_free(struct stage *g)
{
    if (g->dir != NULL)
        run_rmrf(g->dir, NULL);
    folio_free(g->dir);
    for (uint32_t i = 0; i < g->index_count; i++) {
        folio_free(g->index_uids[i]);
        folio_free(g->index_uuids[i]);
    }
    folio_free(g->index_uids);
    folio_free(g->index_uuids);
    for (size_t i = 0; i < g->content_count; i++)
        folio_free(g->content[i]);
    folio_free(g->content);
    for (size_t i = 0; i < g->file_count; i++)
        folio_free(g->files[i]);
    folio_free(g->files);
}

static void
step(struct stage *g, const char *name, uint32_t index, uint32_t total)
{
    struct folio_event ev = {.type = FOLIO_EV_PROGRESS};
    ev.u.progress.batch_uid = g->batch_uid;
    ev.u.progress.step = folio_str_c(name);
    ev.u.progress.step_index = index;
    ev.u.progress.step_total = total;
    (void)run_append_wait(g->s, &ev, 1, NULL);
}

/* Waits until the state has applied seq (it is durable: its acknowledgement is coming). */
static void
wait_applied(struct folio_sched *s, uint64_t seq)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        uint64_t gen = s->applied_gen;
        pthread_mutex_unlock(&s->mu);
        pthread_rwlock_rdlock(&s->state_lock);
        uint64_t last = folio_sched_state_last_seq(s->state);
        pthread_rwlock_unlock(&s->state_lock);
        pthread_mutex_lock(&s->mu);
        if (last >= seq)
            break;
        if (gen == s->applied_gen) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 50 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cond, &s->mu, &ts);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* Mapping and content files of the state (read-locked by the caller). */
static int
collect_at(struct stage *g, const struct folio_sched_state *st)
{
    struct folio_index_view *views = NULL;
    size_t n = 0;
    int rc = folio_sched_index_list(st, &views, &n);
    if (rc != 0)
        return rc;
    g->index_uids = folio_calloc(n + 1, sizeof(char *));
    g->index_uuids = folio_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        g->index_uids[i] = folio_strndup(views[i].uid.ptr, views[i].uid.len);
        g->index_uuids[i] = folio_strndup(views[i].uuid.ptr, views[i].uuid.len);
    }
    g->index_count = (uint32_t)n;
    folio_free(views);

    struct folio_sched_query q = {0};
    q.statuses = (1u << FOLIO_STATUS_ENQUEUED) | (1u << FOLIO_STATUS_PROCESSING);
    q.kinds = 1u << FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
    uint32_t *uids = NULL;
    size_t count = 0;
    rc = folio_sched_match_tasks(st, &q, &uids, &count);
    g->content = folio_calloc(count + 1, sizeof(char *));
    for (size_t i = 0; i < count && rc == 0; i++) {
        struct folio_task_view t;
        struct folio_task_content c;
        if (folio_sched_task_get(st, uids[i], &t) != 0)
            continue;
        rc = folio_task_content_decode(t.kind, t.content.ptr, t.content.len, &c);
        if (rc == 0 && c.content_file.len > 0)
            g->content[g->content_count++] = folio_strndup(c.content_file.ptr, c.content_file.len);
        folio_task_content_clear(&c);
    }
    folio_free(uids);
    return rc;
}

/*
 * The consistency point: a state whose last event ends its journal frame.
 * Writes its checkpoint into the staging directory and reads what it names.
 */
static int
stage_state(struct stage *g)
{
    struct folio_sched *s = g->s;
    char *ckdir = NULL;
    int rc = mkdir_in(g->dir, "checkpoints", &ckdir);
    if (rc != 0) {
        stage_msg(g, "cannot create the staging directory: %s", folio_err_message(rc));
        return rc;
    }
    char name[64] = "";
    for (int attempt = 0;; attempt++) {
        pthread_rwlock_rdlock(&s->state_lock);
        uint64_t last = folio_sched_state_last_seq(s->state);
        pthread_rwlock_unlock(&s->state_lock);
        struct folio_journal_diag jd;
        rc = folio_journal_frame_at(s->journal_dir, last, &g->pos, &jd);
        if (rc != 0) {
            stage_msg(g, "cannot find seq %" PRIu64 " in the journal: %s (%s)", last,
                      folio_err_message(rc), jd.reason);
            break;
        }
        wait_applied(s, g->pos.last_seq);
        /* Under the lock only what reads the state; the checkpoint file is written after. */
        struct ckpt_encoded enc = {0};
        struct folio_sched_diag d;
        memset(&d, 0, sizeof(d));
        int crc = 0;
        pthread_rwlock_rdlock(&s->state_lock);
        bool at_end = folio_sched_state_last_seq(s->state) == g->pos.last_seq;
        if (at_end) {
            crc = ckpt_encode(s->state, &enc, &d);
            if (crc == 0)
                rc = collect_at(g, s->state);
        }
        pthread_rwlock_unlock(&s->state_lock);
        if (at_end && crc == 0 && rc == 0)
            crc = ckpt_store(ckdir, s->journal_dir, &enc, name, sizeof(name), &d);
        if (crc != 0) {
            stage_msg(g, "cannot write the checkpoint: %s", d.reason);
            rc = crc;
        }
        if (at_end)
            ckpt_encoded_free(&enc);
        if (at_end || rc != 0)
            break;
        if (attempt == 10000) {
            rc = FOLIO_E_TIMEOUT;
            stage_msg(g, "%s", "the state never rested at the end of a journal frame");
            break;
        }
    }
    folio_free(ckdir);
    if (rc == 0)
        stage_file(g, "checkpoints", name);
    return rc;
}

/* Sealed segments before the consistency point's, and that one cut after its frame. */
static int
stage_journal(struct stage *g)
{
    struct folio_sched *s = g->s;
    char *jdir = NULL;
    int rc = mkdir_in(g->dir, "journal", &jdir);
    DIR *d = rc == 0 ? opendir(s->journal_dir) : NULL;
    if (rc == 0 && d == NULL)
        rc = folio_err_from_errno(errno);
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        if (!is_segment_name(de->d_name) || strcmp(de->d_name, g->pos.segment) > 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = folio_reallocarray(names, cap, sizeof(*names));
        }
        names[n++] = folio_strdup(de->d_name);
    }
    if (d != NULL)
        closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_name);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *src = run_path(s->journal_dir, names[i]), *dst = run_path(jdir, names[i]);
        if (strcmp(names[i], g->pos.segment) == 0)
            rc = copy_prefix(src, dst, g->pos.end, g->pos.segment_bytes);
        else
            rc = link_or_copy(src, dst);
        if (rc == 0)
            stage_file(g, "journal", names[i]);
        else
            stage_msg(g, "cannot copy journal segment %s: %s", names[i], folio_err_message(rc));
        folio_free(src);
        folio_free(dst);
    }
    for (size_t i = 0; i < n; i++)
        folio_free(names[i]);
    folio_free(names);
    folio_free(jdir);
    if (rc != 0)
        stage_msg(g, "cannot copy the journal: %s", folio_err_message(rc));
    return rc;
}

static int
stage_content(struct stage *g)
{
    char *cdir = NULL;
    int rc = mkdir_in(g->dir, "content", &cdir);
    for (size_t i = 0; i < g->content_count && rc == 0; i++) {
        char *src = run_path(g->s->content_dir, g->content[i]);
        char *dst = run_path(cdir, g->content[i]);
        rc = link_or_copy(src, dst);
        if (rc == 0)
            stage_file(g, "content", g->content[i]);
        else
            stage_msg(g, "cannot copy content file %s: %s", g->content[i], folio_err_message(rc));
        folio_free(src);
        folio_free(dst);
    }
    folio_free(cdir);
    return rc;
}

static int
stage_indexes(struct stage *g)
{
    char *idir = NULL;
    int rc = mkdir_in(g->dir, "indexes", &idir);
    char stepname[FOLIO_INDEX_UID_MAX + 64];
    for (uint32_t i = 0; i < g->index_count && rc == 0; i++) {
        if (atomic_load(&g->s->must_stop)) {
            rc = FOLIO_E_CANCELED;
            break;
        }
        snprintf(stepname, sizeof(stepname), "processing tasks > snapshot the indexes > %s",
                 g->index_uids[i]);
        step(g, stepname, i, g->index_count);
        char *dest = NULL;
        struct folio_index *idx = NULL;
        struct folio_index_error ierr = {0};
        rc = mkdir_in(idir, g->index_uuids[i], &dest);
        if (rc == 0)
            rc = run_index_get(g->s, g->index_uuids[i], &idx);
        if (rc == 0)
            rc = folio_index_copy_compact(idx, dest, &ierr);
        run_index_put(g->s, idx);
        folio_free(dest);
        if (rc != 0) {
            stage_msg(g, "cannot copy index `%s`: %s%s%s", g->index_uids[i], folio_err_message(rc),
                      ierr.message[0] ? ": " : "", ierr.message);
            break;
        }
        char rel[RUN_UUID_LEN + 16];
        snprintf(rel, sizeof(rel), "%s/data.mdb", g->index_uuids[i]);
        stage_file(g, "indexes", rel);
    }
    folio_free(idir);
    return rc;
}

/* VERSION, and the list of this batch's tasks for the imported instance's first start. */
static int
stage_identity(struct stage *g)
{
    char *src = run_path(g->s->db_path, "VERSION"), *dst = run_path(g->dir, "VERSION");
    int rc = link_or_copy(src, dst);
    folio_free(src);
    folio_free(dst);
    if (rc == 0)
        stage_file(g, NULL, "VERSION");
    struct run_snap_tasks t = {g->pos.last_seq, g->batch_uid, folio_clock_now_ns(),
                               (uint32_t *)g->tasks, g->count};
    char *text = snap_tasks_format(&t);
    char *path = run_path(g->dir, TASKS_FILE);
    if (rc == 0)
        rc = write_text(path, text);
    folio_free(path);
    folio_free(text);
    if (rc == 0)
        stage_file(g, NULL, TASKS_FILE);
    else
        stage_msg(g, "cannot write the identity files: %s", folio_err_message(rc));
    return rc;
}

/* <snapshot-dir>/<YYYYMMDDTHHMMSS.ffffffZ>.snapshot */
static char *
archive_path(struct folio_sched *s)
{
    int64_t now = folio_clock_now_ns();
    time_t secs = (time_t)(now / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char name[64];
    snprintf(name, sizeof(name), "%04d%02d%02dT%02d%02d%02d.%06dZ%s", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)((now % 1000000000) / 1000), FOLIO_SNAPSHOT_INSTANCE_SUFFIX);
    return run_path(s->snapshot_dir, name);
}

static int
write_archive(struct stage *g)
{
    struct folio_sched *s = g->s;
    struct folio_snapshot_manifest m = {0};
    m.kind = FOLIO_SNAPSHOT_KIND_INSTANCE;
    m.format_version = FOLIO_SNAPSHOT_FORMAT_VERSION;
    m.engine_version = (char *)FOLIO_VERSION_STRING;
    m.created_at_ns = folio_clock_now_ns();
    m.source_instance_uid = s->instance_uid;
    m.seq = g->pos.last_seq;
    m.index_count = g->index_count;
    m.index_uids = g->index_uids;
    m.index_uuids = g->index_uuids;
    m.file_count = (uint32_t)g->file_count;
    m.files = folio_calloc(g->file_count + 1, sizeof(*m.files));
    for (size_t i = 0; i < g->file_count; i++)
        m.files[i].name = g->files[i];
    struct folio_snapshot_error serr = {0};
    int rc = g->file_count > FOLIO_SNAPSHOT_FILES_MAX ? FOLIO_E_TOO_LARGE : 0;
    if (rc != 0)
        stage_msg(g, "%zu files are more than an archive may hold (%u)", g->file_count,
                  (unsigned)FOLIO_SNAPSHOT_FILES_MAX);
    if (rc == 0)
        rc = folio_snapshot_hash_files(g->dir, &m, &s->must_stop, NULL, NULL, &serr);
    folio_crash_point("instance-snapshot-staged");
    if (rc == 0) {
        step(g, "processing tasks > create the tarball", 4, 5);
        if (mkdir(s->snapshot_dir, 0700) != 0 && errno != EEXIST)
            rc = folio_err_from_errno(errno);
    }
    if (rc == 0) {
        struct folio_snapshot_write_opts wo;
        folio_snapshot_write_opts_default(&wo);
        wo.compression = s->opts.snapshot_compression;
        wo.level = s->opts.snapshot_level;
        wo.threads = s->opts.snapshot_threads;
        wo.stop = &s->must_stop;
        char *dest = archive_path(s);
        rc = folio_snapshot_write(dest, &m, g->dir, &wo, NULL, &serr);
        folio_free(dest);
    }
    if (rc != 0)
        stage_msg(g, "%s", serr.message[0] ? serr.message : folio_err_message(rc));
    folio_free(m.files);
    return rc;
}

static int
create_snapshot(struct stage *g)
{
    char name[64];
    snprintf(name, sizeof(name), "instance-%" PRIu32, g->batch_uid);
    g->dir = run_path(g->s->tmp_dir, name);
    run_rmrf(g->dir, NULL);
    if (mkdir(g->dir, 0700) != 0) {
        int rc = folio_err_from_errno(errno);
        stage_msg(g, "cannot create %s: %s", g->dir, strerror(errno));
        return rc;
    }
    step(g, "processing tasks > snapshot the index scheduler", 1, 5);
    int rc = stage_state(g);
    if (rc == 0)
        rc = stage_journal(g);
    if (rc == 0) {
        step(g, "processing tasks > snapshot the update files", 2, 5);
        rc = stage_content(g);
    }
    if (rc == 0) {
        step(g, "processing tasks > snapshot the indexes", 3, 5);
        rc = stage_indexes(g);
    }
    if (rc == 0)
        rc = stage_identity(g);
    if (rc == 0 && atomic_load(&g->s->must_stop))
        rc = FOLIO_E_CANCELED;
    if (rc == 0)
        rc = write_archive(g);
    return rc;
}

/* The batch's outcome: every task succeeded, failed with rc, or requeued (stopped). */
static void
record_outcome(struct stage *g, int rc)
{
    uint8_t *error = NULL;
    size_t error_len = 0;
    if (rc != 0 && rc != FOLIO_E_CANCELED) {
        const char *code, *type;
        int http;
        run_error_code(rc, &code, &type, &http);
        char message[600];
        snprintf(message, sizeof(message), "The snapshot could not be created: %s.",
                 g->msg[0] ? g->msg : folio_err_message(rc));
        if (run_error_object(code, type, message, &error, &error_len) != 0)
            FOLIO_PANIC("cannot encode the error of batch %u", g->batch_uid);
    }
    int64_t now = folio_clock_now_ns();
    for (uint32_t at = 0; at < g->count;) {
        uint32_t n = g->count - at > 1000 ? 1000 : g->count - at;
        struct folio_event *ev = folio_calloc(n, sizeof(*ev));
        for (uint32_t i = 0; i < n; i++) {
            uint32_t uid = g->tasks[at + i];
            if (rc == FOLIO_E_CANCELED) {
                ev[i].type = FOLIO_EV_TASK_REQUEUED;
                ev[i].u.task_requeued.task_uid = uid;
                ev[i].u.task_requeued.batch_uid = g->batch_uid;
                ev[i].u.task_requeued.reason = folio_str_c(
                    "the batch was stopped (a cancelation or shutdown) before the snapshot was "
                    "written");
                continue;
            }
            ev[i].type = rc == 0 ? FOLIO_EV_TASK_SUCCEEDED : FOLIO_EV_TASK_FAILED;
            ev[i].u.task_outcome.task_uid = uid;
            ev[i].u.task_outcome.batch_uid = g->batch_uid;
            ev[i].u.task_outcome.finished_at_ns = now;
            if (rc != 0)
                ev[i].u.task_outcome.error = (struct folio_object){error, (uint32_t)error_len};
        }
        int arc = run_append_wait(g->s, ev, n, NULL);
        folio_free(ev);
        if (arc != 0 && arc != FOLIO_E_CLOSED)
            FOLIO_PANIC("cannot record the outcome of batch %u: %s", g->batch_uid,
                        folio_err_message(arc));
        at += n;
    }
    folio_free(error);
}

void
run_instance_snapshot(struct folio_sched *s, uint32_t batch_uid, const uint32_t *tasks,
                      uint32_t count)
{
    struct stage g = {.s = s, .batch_uid = batch_uid, .tasks = tasks, .count = count};
    step(&g, "processing tasks > start the snapshot creation", 0, 5);
    int rc = s->snapshot_dir != NULL ? create_snapshot(&g) : FOLIO_E_INVALID;
    if (s->snapshot_dir == NULL)
        stage_msg(&g, "%s", "folio runs without a snapshot directory");
    if (rc == 0)
        step(&g, "writing tasks to disk", 1, 2);
    record_outcome(&g, rc);
    stage_free(&g);
}

/* ---- the first start of an imported instance ----------------------------------- */

static int
finish_imported(struct folio_sched *s, struct folio_sched_open_info *info,
                struct folio_sched_diag *diag)
{
    struct run_snap_tasks t;
    int rc = run_snap_tasks_read(s->db_path, &t);
    if (rc == FOLIO_E_NOT_FOUND)
        return 0;
    if (rc != 0)
        snprintf(diag->reason, sizeof(diag->reason), "%s/%s: %s", s->db_path, TASKS_FILE,
                 rc == FOLIO_E_CORRUPT ? "not a snapshot task list" : folio_err_message(rc));
    char *path = run_path(s->db_path, TASKS_FILE);
    struct folio_event *ev = rc == 0 ? folio_calloc(t.count + 1, sizeof(*ev)) : NULL;
    size_t n = 0;
    pthread_rwlock_rdlock(&s->state_lock);
    for (uint32_t i = 0; i < t.count && rc == 0; i++) {
        struct folio_task_view v;
        /* Only what is still processing in that batch: a second start finds nothing to do. */
        if (folio_sched_task_get(s->state, t.tasks[i], &v) != 0 ||
            v.status != FOLIO_STATUS_PROCESSING || v.batch_uid != t.batch_uid ||
            v.kind != FOLIO_KIND_SNAPSHOT_CREATION)
            continue;
        ev[n].type = FOLIO_EV_TASK_SUCCEEDED;
        ev[n].u.task_outcome.task_uid = t.tasks[i];
        ev[n].u.task_outcome.batch_uid = t.batch_uid;
        ev[n].u.task_outcome.finished_at_ns = t.finished_at_ns;
        n++;
    }
    pthread_rwlock_unlock(&s->state_lock);
    for (size_t at = 0; at < n && rc == 0;) {
        size_t k = n - at > 1000 ? 1000 : n - at;
        rc = run_append_wait(s, ev + at, k, NULL);
        at += k;
    }
    if (rc == 0) {
        info->tasks_finished += (uint32_t)n;
        if (folio_io_unlink(path) != 0 || folio_io_fsync_dir(s->db_path) != 0)
            rc = folio_err_from_errno(errno);
        if (rc != 0)
            snprintf(diag->reason, sizeof(diag->reason), "cannot remove %s: %s", path,
                     folio_err_message(rc));
    }
    folio_free(ev);
    folio_free(t.tasks);
    folio_free(path);
    return rc;
}

#define TEMP_ROUND_MAX 64u

/*
 * Archives a crash left half-written at the top of the snapshot directory:
 * up to TEMP_ROUND_MAX per files_removed event; *removed says how many.
 */
static int
remove_temp_round(struct folio_sched *s, struct folio_sched_open_info *info,
                  struct folio_sched_diag *diag, uint32_t *removed)
{
    *removed = 0;
    DIR *d = s->snapshot_dir != NULL ? opendir(s->snapshot_dir) : NULL;
    if (d == NULL)
        return 0; /* none configured, or not made yet */
    struct folio_str paths[TEMP_ROUND_MAX];
    char *owned[TEMP_ROUND_MAX];
    uint32_t n = 0;
    uint64_t bytes = 0;
    int rc = 0;
    for (struct dirent *de; rc == 0 && n < TEMP_ROUND_MAX && (de = readdir(d)) != NULL;) {
        if (!folio_snapshot_is_temp_name(de->d_name))
            continue;
        char *path = run_path(s->snapshot_dir, de->d_name);
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            folio_free(path);
            continue;
        }
        if (folio_io_unlink(path) != 0) {
            rc = folio_err_from_errno(errno);
            snprintf(diag->reason, sizeof(diag->reason), "cannot remove %s: %s", path,
                     strerror(errno));
            folio_free(path);
            break;
        }
        bytes += (uint64_t)st.st_size;
        owned[n] = path;
        paths[n] = folio_str_c(path);
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 0 && folio_io_fsync_dir(s->snapshot_dir) != 0)
        rc = folio_err_from_errno(errno);
    if (rc == 0 && n > 0) {
        struct folio_event ev = {.type = FOLIO_EV_FILES_REMOVED};
        ev.u.files_removed.reason =
            folio_str_c("temporary file of a snapshot archive whose writing was interrupted");
        ev.u.files_removed.paths = (struct folio_str_array){paths, n};
        ev.u.files_removed.bytes = bytes;
        rc = run_append_wait(s, &ev, 1, NULL);
        info->files_removed += n;
    }
    for (uint32_t i = 0; i < n; i++)
        folio_free(owned[i]);
    *removed = n;
    return rc;
}

/* Every such archive, in rounds (a removed file is gone from the next round's listing). */
static int
remove_temp_archives(struct folio_sched *s, struct folio_sched_open_info *info,
                     struct folio_sched_diag *diag)
{
    uint32_t n;
    int rc;
    do
        rc = remove_temp_round(s, info, diag, &n);
    while (rc == 0 && n == TEMP_ROUND_MAX);
    return rc;
}

int
run_instance_start(struct folio_sched *s, struct folio_sched_open_info *info,
                   struct folio_sched_diag *diag)
{
    int rc = finish_imported(s, info, diag);
    if (rc == 0)
        rc = remove_temp_archives(s, info, diag);
    return rc;
}
