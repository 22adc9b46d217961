/*
 * Whole-instance snapshot import (DESIGN §8, docs/scheduler.md "Whole-instance
 * snapshots"): folio_sched_import_instance, which foliod --import-snapshot
 * calls before it opens the data directory.
 *
 * The archive is extracted into `<db-path>.import-tmp`; the journal, the
 * checkpoint, the index mapping, the content files and the snapshot's own
 * task list are checked against each other and against the manifest; only
 * then is the directory renamed to the db path. Any failure removes the
 * temporary directory, so the db path is never made by a failed import.
 * Nothing here needs a running scheduler.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "folio/snapshot.h"
#include "run_int.h"

#define TASKS_FILE RUN_SNAPSHOT_TASKS_FILE

/* ---- import ---------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void
import_diag(struct folio_sched_diag *diag, const char *fmt, ...)
{
    if (diag->reason[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->reason, sizeof(diag->reason), fmt, ap);
    va_end(ap);
}

/* A path holds data unless it is missing or an empty directory (Meilisearch's rule). */
static bool
holds_data(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno != ENOENT;
    if (!S_ISDIR(st.st_mode))
        return true;
    DIR *d = opendir(path);
    if (d == NULL)
        return true;
    bool any = false;
    for (struct dirent *de; !any && (de = readdir(d)) != NULL;)
        any = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return any;
}

static bool
exists_in(const char *dir, const char *name)
{
    char *p = run_path(dir, name);
    struct stat st;
    bool ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    folio_free(p);
    return ok;
}

/* The mapping of st is the manifest's, and every env is there. */
static int
check_indexes(const char *dir, const struct folio_sched_state *st,
              const struct folio_snapshot_manifest *m, const char *check_program,
              struct folio_sched_diag *diag)
{
    struct folio_index_view *views = NULL;
    size_t n = 0;
    int rc = folio_sched_index_list(st, &views, &n);
    if (rc == 0 && n != m->index_count) {
        import_diag(diag, "the manifest lists %u indexes, the scheduler state %zu", m->index_count,
                    n);
        rc = FOLIO_E_CORRUPT;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool listed = false;
        for (uint32_t k = 0; k < m->index_count && !listed; k++)
            listed = views[i].uid.len == strlen(m->index_uids[k]) &&
                     memcmp(views[i].uid.ptr, m->index_uids[k], views[i].uid.len) == 0 &&
                     views[i].uuid.len == strlen(m->index_uuids[k]) &&
                     memcmp(views[i].uuid.ptr, m->index_uuids[k], views[i].uuid.len) == 0;
        char rel[RUN_UUID_LEN + 32];
        snprintf(rel, sizeof(rel), "indexes/%.*s/data.mdb", (int)views[i].uuid.len,
                 views[i].uuid.ptr);
        if (!listed || !exists_in(dir, rel)) {
            import_diag(diag, "index `%.*s` (%.*s) is %s", (int)views[i].uid.len, views[i].uid.ptr,
                        (int)views[i].uuid.len, views[i].uuid.ptr,
                        listed ? "missing from the archive" : "not in the manifest");
            rc = FOLIO_E_CORRUPT;
            break;
        }
        /* The whole env, as an index import checks it (in a child when there is a program). */
        char *env = run_path(dir, rel);
        env[strlen(env) - strlen("/data.mdb")] = '\0';
        char why[700];
        rc = run_check_index(check_program, env, NULL, why, sizeof(why));
        folio_free(env);
        if (rc != 0)
            import_diag(diag, "index `%.*s` (%.*s) %s: %s", (int)views[i].uid.len,
                        views[i].uid.ptr, (int)views[i].uuid.len, views[i].uuid.ptr,
                        rc == FOLIO_E_SNAPSHOT_INVALID ? "is not a valid folio index"
                                                       : "cannot be checked",
                        why);
    }
    folio_free(views);
    return rc;
}

/* Content files of the enqueued document tasks, and the snapshot's own tasks. */
static int
check_tasks(const char *dir, const struct folio_sched_state *st, struct folio_sched_diag *diag)
{
    struct folio_sched_query q = {0};
    q.statuses = (1u << FOLIO_STATUS_ENQUEUED) | (1u << FOLIO_STATUS_PROCESSING);
    q.kinds = 1u << FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
    uint32_t *uids = NULL;
    size_t count = 0;
    int rc = folio_sched_match_tasks(st, &q, &uids, &count);
    char *cdir = run_path(dir, "content");
    for (size_t i = 0; i < count && rc == 0; i++) {
        struct folio_task_view t;
        struct folio_task_content c;
        if (folio_sched_task_get(st, uids[i], &t) != 0)
            continue;
        rc = folio_task_content_decode(t.kind, t.content.ptr, t.content.len, &c);
        if (rc == 0 && c.content_file.len > 0) {
            char *name = folio_strndup(c.content_file.ptr, c.content_file.len);
            if (!exists_in(cdir, name)) {
                import_diag(diag, "task %u needs content file %s, missing from the archive",
                            uids[i], name);
                rc = FOLIO_E_CORRUPT;
            }
            folio_free(name);
        }
        folio_task_content_clear(&c);
    }
    folio_free(cdir);
    folio_free(uids);

    struct run_snap_tasks t = {0};
    if (rc == 0 && run_snap_tasks_read(dir, &t) != 0) {
        import_diag(diag, "%s is missing or malformed", TASKS_FILE);
        rc = FOLIO_E_CORRUPT;
    }
    for (uint32_t i = 0; i < t.count && rc == 0; i++) {
        struct folio_task_view v;
        if (folio_sched_task_get(st, t.tasks[i], &v) != 0 || v.status != FOLIO_STATUS_PROCESSING ||
            v.batch_uid != t.batch_uid) {
            import_diag(diag,
                        "snapshot task %u is not processing in batch %u at the snapshot's seq",
                        t.tasks[i], t.batch_uid);
            rc = FOLIO_E_CORRUPT;
        }
    }
    folio_free(t.tasks);
    return rc;
}

/* The extracted directory is a data directory at the manifest's seq. */
static int
check_extracted(const char *dir, const struct folio_snapshot_manifest *m,
                const char *check_program, struct folio_sched_diag *diag)
{
    if (!exists_in(dir, "VERSION") || !exists_in(dir, TASKS_FILE)) {
        import_diag(diag, "the archive lacks VERSION or %s", TASKS_FILE);
        return FOLIO_E_SNAPSHOT_INVALID;
    }
    char *jdir = run_path(dir, "journal"), *cdir = run_path(dir, "checkpoints");
    struct folio_journal_verify_info vi;
    struct folio_journal_diag jd = {0};
    int rc = folio_journal_verify(jdir, &vi, &jd);
    if (rc != 0)
        import_diag(diag,
                    "the archive's journal does not verify: %s (segment %s, offset %" PRIu64
                    ", seq %" PRIu64 ")",
                    jd.reason, jd.segment, jd.offset, jd.seq);
    else if (vi.last_seq != m->seq) {
        import_diag(diag,
                    "the archive's journal ends at seq %" PRIu64 ", its manifest says %" PRIu64,
                    vi.last_seq, m->seq);
        rc = FOLIO_E_CORRUPT;
    }
    struct folio_sched_state *st = NULL;
    struct folio_sched_replay_info ri = {0};
    if (rc == 0)
        rc = folio_sched_state_replay(jdir, cdir, &st, &ri, diag);
    if (rc == 0 && (ri.checkpoint_seq != m->seq || ri.last_seq != m->seq)) {
        import_diag(diag,
                    "the archive's checkpoint covers seq %" PRIu64 ", its manifest says %" PRIu64,
                    ri.checkpoint_seq, m->seq);
        rc = FOLIO_E_CORRUPT;
    }
    if (rc == 0)
        rc = check_indexes(dir, st, m, check_program, diag);
    if (rc == 0)
        rc = check_tasks(dir, st, diag);
    folio_sched_state_free(st);
    folio_free(jdir);
    folio_free(cdir);
    return rc == FOLIO_E_TORN_TAIL ? FOLIO_E_CORRUPT : rc;
}

static int
extract_and_check(const char *archive, const char *tmp, const char *check_program,
                  struct folio_sched_import_info *info, struct folio_sched_diag *diag)
{
    struct folio_snapshot_read_opts ro;
    folio_snapshot_read_opts_default(&ro);
    ro.kind = FOLIO_SNAPSHOT_KIND_INSTANCE;
    ro.room_for_copy = true; /* the check compacts each env next to itself (run_check.c) */
    struct folio_snapshot_manifest *m = NULL;
    struct folio_snapshot_error serr = {0};
    int rc = folio_snapshot_extract(archive, tmp, &ro, &m, info->archive_xxh128, &serr);
    if (rc != 0) {
        import_diag(diag, "%s", serr.message[0] ? serr.message : folio_err_message(rc));
        return rc;
    }
    rc = check_extracted(tmp, m, check_program, diag);
    if (rc == 0) {
        info->seq = m->seq;
        info->index_count = m->index_count;
        snprintf(info->source_instance_uid, sizeof(info->source_instance_uid), "%s",
                 m->source_instance_uid != NULL ? m->source_instance_uid : "");
    }
    folio_snapshot_manifest_free(m);
    return rc;
}

int
folio_sched_import_instance(const char *archive_path, const char *db_path, unsigned flags,
                            const char *index_check_program, struct folio_sched_import_info *info,
                            struct folio_sched_diag *diag)
{
    struct folio_sched_import_info local_info;
    struct folio_sched_diag local_diag;
    if (info == NULL)
        info = &local_info;
    if (diag == NULL)
        diag = &local_diag;
    memset(info, 0, sizeof(*info));
    memset(diag, 0, sizeof(*diag));
    if (archive_path == NULL || db_path == NULL || db_path[0] == '\0') {
        import_diag(diag, "%s", "an import needs a snapshot file and a db path");
        return FOLIO_E_INVALID;
    }
    if (holds_data(db_path)) {
        if (flags & FOLIO_SCHED_IMPORT_IGNORE_IF_DB_EXISTS) {
            info->outcome = FOLIO_SCHED_IMPORT_SKIPPED_DB_EXISTS;
            return 0;
        }
        import_diag(diag, "database already exists at %s, try to delete it or rename it", db_path);
        return FOLIO_E_EXISTS;
    }
    struct stat st;
    if (stat(archive_path, &st) != 0) {
        int err = errno;
        if (err == ENOENT && (flags & FOLIO_SCHED_IMPORT_IGNORE_MISSING)) {
            info->outcome = FOLIO_SCHED_IMPORT_SKIPPED_MISSING;
            return 0;
        }
        import_diag(diag, "snapshot doesn't exist at %s (%s)", archive_path, strerror(err));
        return err == ENOENT ? FOLIO_E_NOT_FOUND : folio_err_from_errno(err);
    }
    size_t len = strlen(db_path);
    char *tmp = folio_malloc(len + 16);
    snprintf(tmp, len + 16, "%s.import-tmp", db_path);
    run_rmrf(tmp, NULL); /* an import that was interrupted */
    int rc = mkdir(tmp, 0700) == 0 ? 0 : folio_err_from_errno(errno);
    if (rc != 0)
        import_diag(diag, "cannot create %s: %s", tmp, strerror(errno));
    if (rc == 0)
        rc = extract_and_check(archive_path, tmp, index_check_program, info, diag);
    if (rc == 0 && folio_io_rename(tmp, db_path) != 0) {
        rc = folio_err_from_errno(errno);
        import_diag(diag, "cannot rename %s to %s: %s", tmp, db_path, strerror(errno));
    }
    if (rc == 0) {
        char *parent_buf = folio_strdup(db_path);
        if (folio_io_fsync_dir(dirname(parent_buf)) != 0) {
            rc = folio_err_from_errno(errno);
            import_diag(diag, "cannot fsync the parent of %s: %s", db_path, strerror(errno));
        }
        folio_free(parent_buf);
        if (rc != 0)
            run_rmrf(db_path, NULL);
    }
    if (rc != 0)
        run_rmrf(tmp, NULL);
    folio_free(tmp);
    return rc;
}
