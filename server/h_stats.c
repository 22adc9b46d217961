/*
 * GET /stats and GET /indexes/{uid}/stats, in Meilisearch's shapes.
 *
 * An index's stats are {numberOfDocuments, rawDocumentDbSize,
 * avgDocumentSize, indexSize, usedIndexSize, isIndexing, numberOfEmbeddings,
 * numberOfEmbeddedDocuments, fieldDistribution}; /stats adds {databaseSize, usedDatabaseSize,
 * lastUpdate} and every index under `indexes`.
 *
 * Where each number comes from:
 * - numberOfDocuments, rawDocumentDbSize (the pages of the documents
 *   database), avgDocumentSize (their quotient, 0 for an empty index): the
 *   index env's stats, one read transaction;
 * - indexSize: the size of the index env's data.mdb (indexes/<uuid>/),
 *   usedIndexSize: the bytes of it allocated on disk (at most indexSize);
 * - isIndexing: a task of the processing batch touches the index (scheduler
 *   state, under the read lock);
 * - numberOfEmbeddings, numberOfEmbeddedDocuments: always 0 (folio has no
 *   vectors);
 * - fieldDistribution: top-level field name -> documents that have it, as
 *   the index store keeps it (index/fields.c), from the same read
 *   transaction as numberOfDocuments: exact at any size, and its cost is
 *   the number of distinct names, not of documents;
 * - databaseSize: the bytes of every file under the data directory (journal
 *   segments are preallocated, so they count whole); usedDatabaseSize: the
 *   bytes those files occupy on disk (st_blocks);
 * - lastUpdate: the latest updatedAt of the indexes (null without indexes),
 *   as Meilisearch takes the latest of its indexes' update times.
 *
 * No number above needs a pass over the documents, but /stats walks the
 * data directory and both open index envs: they run on a read worker
 * (pool.c), and the loop only answers.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"
#include "server_int.h"

/* ---- isIndexing ------------------------------------------------------------------------ */

/* The uids of the indexes the processing tasks touch (a new array of strings). */
static char **
indexing_uids(struct folio_sched *sched, size_t *count)
{
    struct folio_sched_query q = {.statuses = 1u << FOLIO_STATUS_PROCESSING};
    char **out = NULL;
    size_t n = 0, cap = 0;
    const struct folio_sched_state *st = folio_sched_read_lock(sched);
    uint32_t *uids = NULL;
    size_t uid_count = 0;
    if (folio_sched_match_tasks(st, &q, &uids, &uid_count) == 0) {
        for (size_t i = 0; i < uid_count; i++) {
            struct folio_task_view t;
            if (folio_sched_task_get(st, uids[i], &t) != 0)
                continue;
            for (uint32_t k = 0; k < t.index_count; k++) {
                bool seen = false;
                for (size_t j = 0; j < n && !seen; j++)
                    seen = strlen(out[j]) == t.index_uids[k].len &&
                           memcmp(out[j], t.index_uids[k].ptr, t.index_uids[k].len) == 0;
                if (seen)
                    continue;
                if (n == cap) {
                    cap = cap ? cap * 2 : 4;
                    out = folio_realloc(out, cap * sizeof(*out));
                }
                out[n++] = folio_strndup(t.index_uids[k].ptr, t.index_uids[k].len);
            }
        }
    }
    folio_sched_read_unlock(sched);
    folio_free(uids);
    *count = n;
    return out;
}

static bool
strings_have(char *const *s, size_t n, const char *v)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i], v) == 0)
            return true;
    return false;
}

/* ---- fieldDistribution ------------------------------------------------------------------ */

/*
 * Field -> document count, as the index store keeps it (already in byte
 * order, Meilisearch's BTreeMap order). An env that keeps none (format 2
 * open read-only; foliod opens read-write, which upgrades) answers {}.
 */
static json_t *
field_distribution(const struct folio_index_stats *st)
{
    json_t *counts = json_object();
    for (size_t i = 0; i < st->field_count; i++)
        json_object_set_new(counts, st->field_names[i],
                            json_integer((json_int_t)st->field_documents[i]));
    return counts;
}

/* ---- one index -------------------------------------------------------------------------- */

/*
 * The stats object of index uid; *updated_at_ns gets the time of its last
 * change. FOLIO_E_NOT_FOUND if it is not in the mapping any more.
 */
static int
index_stats_json(struct folio_sched *sched, const char *uid, const char *uuid, bool indexing,
                 json_t **out, int64_t *updated_at_ns)
{
    char path[4096];
    struct stat sb;
    uint64_t size = 0, used = 0;
    snprintf(path, sizeof(path), "%s/indexes/%s/data.mdb", folio_sched_db_path(sched), uuid);
    if (stat(path, &sb) == 0) {
        size = (uint64_t)sb.st_size;
        used = (uint64_t)sb.st_blocks * 512u;
        if (used > size)
            used = size;
    }
    struct folio_index *idx;
    int rc = folio_sched_index_acquire(sched, uid, strlen(uid), &idx);
    if (rc != 0)
        return rc;
    struct folio_index_stats *st = NULL;
    struct folio_index_error ierr;
    rc = folio_index_stats_get(idx, &st, &ierr);
    if (rc == 0) {
        json_t *o = json_object();
        uint64_t docs = st->document_count, raw = st->raw_document_bytes;
        json_object_set_new(o, "numberOfDocuments", json_integer((json_int_t)docs));
        json_object_set_new(o, "rawDocumentDbSize", json_integer((json_int_t)raw));
        json_object_set_new(o, "avgDocumentSize",
                            json_integer(docs > 0 ? (json_int_t)(raw / docs) : 0));
        json_object_set_new(o, "indexSize", json_integer((json_int_t)size));
        json_object_set_new(o, "usedIndexSize", json_integer((json_int_t)used));
        json_object_set_new(o, "isIndexing", json_boolean(indexing));
        json_object_set_new(o, "numberOfEmbeddings", json_integer(0));
        json_object_set_new(o, "numberOfEmbeddedDocuments", json_integer(0));
        json_object_set_new(o, "fieldDistribution", field_distribution(st));
        *out = o;
        *updated_at_ns = st->updated_at_ns;
    }
    folio_index_stats_free(st);
    folio_sched_index_release(sched, idx);
    return rc;
}

/* ---- the job ---------------------------------------------------------------------------- */

struct stats_job {
    struct srv_job job; /* first: the pool hands back &job */
    struct folio_sched *sched;
    char *uid;          /* GET /indexes/{uid}/stats; NULL: GET /stats */
    /* set by the worker */
    int rc;             /* FOLIO_E_NOT_FOUND: no index uid */
    json_t *out;
    char message[512];  /* rc != 0 and != FOLIO_E_NOT_FOUND */
};

static void
stats_done(struct srv_job *job)
{
    struct stats_job *j = (struct stats_job *)job;
    struct srv_req *r = job->req;
    if (j->rc == FOLIO_E_NOT_FOUND) /* only an index's stats say it (stats_run never) */
        resp_error(r, 404, "index_not_found", "Index `%s` not found.", j->uid);
    else if (j->rc != 0)
        resp_error(r, 500, "internal", "%s", j->message);
    else
        resp_json(r, 200, j->out);
    folio_free(j->uid);
    folio_free(j);
}

static void
stats_submit(struct srv_ctx *x, const char *uid, size_t uid_len, void (*run)(struct srv_job *))
{
    struct stats_job *j = folio_calloc(1, sizeof(*j));
    j->job.run = run;
    j->job.done = stats_done;
    j->sched = x->sched;
    j->uid = uid != NULL ? folio_strndup(uid, uid_len) : NULL;
    srv_job_submit(x, &j->job);
}

static void
index_stats_run(struct srv_job *job)
{
    struct stats_job *j = (struct stats_job *)job;
    char uuid[FOLIO_INDEX_UID_MAX + 1] = "";
    struct folio_index_view v;
    const struct folio_sched_state *st = folio_sched_read_lock(j->sched);
    int rc = folio_sched_index_get(st, j->uid, strlen(j->uid), &v);
    if (rc == 0)
        snprintf(uuid, sizeof(uuid), "%.*s", (int)v.uuid.len, v.uuid.ptr);
    folio_sched_read_unlock(j->sched);
    size_t n = 0;
    char **indexing = indexing_uids(j->sched, &n);
    int64_t updated = 0;
    if (rc == 0)
        rc = index_stats_json(j->sched, j->uid, uuid, strings_have(indexing, n, j->uid), &j->out,
                              &updated);
    str_list_free(indexing, n);
    if (rc != 0 && rc != FOLIO_E_NOT_FOUND)
        snprintf(j->message, sizeof(j->message), "Reading the stats of index `%s` failed: %s.",
                 j->uid, folio_err_message(rc));
    j->rc = rc;
}

void
h_index_stats(struct srv_ctx *x)
{
    if (check_index_uid(x, x->args[0], x->arg_lens[0]))
        stats_submit(x, x->args[0], x->arg_lens[0], index_stats_run);
}

/* ---- the whole instance ---------------------------------------------------------------- */

/* The sizes of the regular files under a directory (links are not followed). */
struct du {
    uint64_t bytes, used;
};

#define DU_DEPTH_MAX 16

/* Walks the directory open at fd (taken over: closed here). */
static void
du_walk(int fd, struct du *d, int depth)
{
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat sb;
        if (fstatat(dirfd(dir), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* removed meanwhile */
        if (S_ISREG(sb.st_mode)) {
            d->bytes += (uint64_t)sb.st_size;
            d->used += (uint64_t)sb.st_blocks * 512u;
        } else if (S_ISDIR(sb.st_mode) && depth < DU_DEPTH_MAX) {
            int sub = openat(dirfd(dir), e->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                du_walk(sub, d, depth + 1);
        }
    }
    closedir(dir);
}

static void
stats_run(struct srv_job *job)
{
    struct stats_job *j = (struct stats_job *)job;
    struct folio_sched *sched = j->sched;
    /* Index uids first (the mapping, under the read lock), then each env without it. */
    struct folio_index_view *views = NULL;
    size_t count = 0;
    char **uids = NULL, **uuids = NULL;
    int64_t *mapped_at = NULL;
    const struct folio_sched_state *st = folio_sched_read_lock(sched);
    int rc = folio_sched_index_list(st, &views, &count);
    if (rc == 0) {
        uids = folio_calloc(count ? count : 1, sizeof(*uids));
        uuids = folio_calloc(count ? count : 1, sizeof(*uuids));
        mapped_at = folio_calloc(count ? count : 1, sizeof(*mapped_at));
        for (size_t i = 0; i < count; i++) {
            uids[i] = folio_strndup(views[i].uid.ptr, views[i].uid.len);
            uuids[i] = folio_strndup(views[i].uuid.ptr, views[i].uuid.len);
            mapped_at[i] = views[i].updated_at_ns;
        }
    }
    folio_sched_read_unlock(sched);
    folio_free(views);
    if (rc != 0) {
        j->rc = rc == FOLIO_E_NOT_FOUND ? FOLIO_E_IO : rc; /* not "no such index" */
        snprintf(j->message, sizeof(j->message), "Listing the indexes failed: %s.",
                 folio_err_message(rc));
        return;
    }
    size_t n = 0;
    char **indexing = indexing_uids(sched, &n);
    json_t *indexes = json_object();
    int64_t last = 0;
    bool any = false;
    for (size_t i = 0; i < count && rc == 0; i++) {
        json_t *o = NULL;
        int64_t updated = 0;
        int err = index_stats_json(sched, uids[i], uuids[i], strings_have(indexing, n, uids[i]),
                                   &o, &updated);
        if (err == FOLIO_E_NOT_FOUND) /* deleted meanwhile */
            continue;
        if (err != 0) {
            rc = err == FOLIO_E_NOT_FOUND ? FOLIO_E_IO : err; /* not "no such index" */
            snprintf(j->message, sizeof(j->message),
                     "Reading the stats of index `%s` failed: %s.", uids[i],
                     folio_err_message(err));
            break;
        }
        json_object_set_new(indexes, uids[i], o);
        if (mapped_at[i] > updated) /* as GET /indexes/{uid} shows updatedAt */
            updated = mapped_at[i];
        if (!any || updated > last)
            last = updated;
        any = true;
    }
    str_list_free(indexing, n);
    str_list_free(uids, count);
    str_list_free(uuids, count);
    folio_free(mapped_at);
    if (rc != 0) {
        j->rc = rc;
        json_decref(indexes);
        return;
    }
    struct du d = {0, 0};
    int fd = open(folio_sched_db_path(sched), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0)
        du_walk(fd, &d, 0);
    json_t *o = json_object();
    json_object_set_new(o, "databaseSize", json_integer((json_int_t)d.bytes));
    json_object_set_new(o, "usedDatabaseSize", json_integer((json_int_t)d.used));
    char date[64];
    json_object_set_new(o, "lastUpdate",
                        any ? json_string(folio_sched_format_date(last, date, sizeof(date)))
                            : json_null());
    json_object_set_new(o, "indexes", indexes);
    j->out = o;
}

void
h_stats(struct srv_ctx *x)
{
    stats_submit(x, NULL, 0, stats_run);
}
