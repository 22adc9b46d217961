/*
 * Snapshot routes (DESIGN §8, §9): folio's single-index snapshot extension and
 * Meilisearch's POST /snapshots.
 *
 *   POST /indexes/{uid}/snapshots   singleIndexSnapshotCreation (202)
 *   POST /snapshots                 snapshotCreation (202)
 *   POST /snapshots/import          singleIndexSnapshotImport (202)
 *   GET  /indexes/{uid}/snapshots   archives <snapshot-dir>/indexes/<uid>/NAME.idx.snapshot
 *   GET  /snapshots                 archives <snapshot-dir>/NAME.snapshot (whole-instance)
 *                                   and every <snapshot-dir>/indexes/<uid>/NAME.idx.snapshot
 *
 * The enqueuing routes only check the body's shape here; everything that
 * needs the state or the file system (the index exists, the path resolves
 * inside the snapshot directory to a readable regular file, the target uid is
 * free) is checked by the scheduler's registration, which answers with its
 * own Meilisearch-style code (invalid_snapshot_path, snapshot_file_not_found,
 * index_already_exists, index_not_found).
 *
 * The listings read the snapshot directory and, for the page asked, each
 * archive's manifest (folio_snapshot_read_manifest: the head of the archive
 * only). They never follow a symbolic link, neither a file's nor
 * `indexes/<uid>`'s, so they read nothing outside the snapshot directory
 * (DESIGN §11, invariant 6). This file I/O is bounded (one page of manifests
 * of at most FOLIO_SNAPSHOT_MANIFEST_BYTES_MAX each) but not free, and a disk
 * may be slow: it runs on a read worker (pool.c), never on the loop.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"
#include "folio/snapshot.h"
#include "server_int.h"

#define SNAP_LIST_MAX 100000u         /* archives one listing looks at */
#define SNAP_PAGE_MAX 1000u           /* archives one page reads the manifest of */

/* ---- enqueuing routes ------------------------------------------------------------------ */

/* An empty body or an empty object; false when the error is answered. */
static bool
no_fields_body(struct srv_ctx *x)
{
    struct srv_req *r = x->req;
    size_t i = 0;
    while (i < r->body.len && (r->body.ptr[i] == ' ' || r->body.ptr[i] == '\n' ||
                               r->body.ptr[i] == '\r' || r->body.ptr[i] == '\t'))
        i++;
    if (i == r->body.len)
        return true;
    json_t *body;
    if (body_json(x, &body) != 0)
        return false;
    bool ok = false;
    if (!json_is_object(body)) {
        resp_value_type(x, "bad_request", "", "an object", body);
    } else if (json_object_size(body) > 0) {
        const char *key = json_object_iter_key(json_object_iter(body));
        resp_error(r, 400, "bad_request", "Unknown field `%.200s`: this route takes no fields.",
                   key);
    } else {
        ok = true;
    }
    json_decref(body);
    return ok;
}

void
h_index_snapshot_create(struct srv_ctx *x)
{
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]) || !no_fields_body(x))
        return;
    struct folio_sched_request req = {.kind = FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION};
    req.index_uid = (struct folio_str){x->args[0], (uint32_t)x->arg_lens[0]};
    srv_register(x, &req, 202);
}

void
h_snapshot_create(struct srv_ctx *x)
{
    if (!no_fields_body(x))
        return;
    struct folio_sched_request req = {.kind = FOLIO_KIND_SNAPSHOT_CREATION};
    srv_register(x, &req, 202);
}

/* An optional uid field (null allowed); false when the error is answered. */
static bool
import_uid(struct srv_ctx *x, json_t *body, const char *key, struct folio_str *out)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL || json_is_null(v))
        return true;
    char where[32];
    snprintf(where, sizeof(where), ".%s", key);
    if (!json_is_string(v)) {
        resp_value_type(x, "invalid_index_uid", where, "a string", v);
        return false;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (!folio_index_uid_valid(s, len)) {
        resp_error(x->req, 400, "invalid_index_uid",
                   "Invalid value at `%s`: `%.*s` is not a valid index uid. Index uid can be an "
                   "integer or a string containing only alphanumeric characters, hyphens (-) "
                   "and underscores (_), and can not be more than %u bytes.",
                   where, (int)(len > 450 ? 450 : len), s, FOLIO_INDEX_UID_MAX);
        return false;
    }
    *out = (struct folio_str){s, (uint32_t)len};
    return true;
}

void
h_snapshot_import(struct srv_ctx *x)
{
    static const char *const known[] = {"snapshotPath", "indexUid", "newIndexUid", NULL};
    json_t *body;
    if (body_json(x, &body) != 0)
        return;
    struct folio_sched_request req = {.kind = FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT};
    json_t *path = json_object_get(body, "snapshotPath");
    if (!json_is_object(body)) {
        resp_value_type(x, "bad_request", "", "an object", body);
    } else if (!json_fields_known(x, body, known, NULL)) {
        /* answered */
    } else if (path == NULL) {
        resp_error(x->req, 400, "missing_snapshot_path", "Missing field `snapshotPath`");
    } else if (!json_is_string(path)) {
        resp_value_type(x, "invalid_snapshot_path", ".snapshotPath", "a string", path);
    } else if (import_uid(x, body, "indexUid", &req.source_index_uid) &&
               import_uid(x, body, "newIndexUid", &req.new_index_uid)) {
        req.snapshot_path =
            (struct folio_str){json_string_value(path), (uint32_t)json_string_length(path)};
        srv_register(x, &req, 202);
    }
    json_decref(body);
}

/* ---- listings ---------------------------------------------------------------------------- */

struct snap_entry {
    char *rel;                        /* relative to the snapshot directory */
    uint64_t size;
    int64_t mtime_ns;
};

struct snap_list {
    struct snap_entry *items;
    size_t count, cap;
    bool truncated;                   /* more than SNAP_LIST_MAX archives */
};

static void
snap_list_free(struct snap_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        folio_free(l->items[i].rel);
    folio_free(l->items);
}

static bool
has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

/*
 * Adds the regular files of directory fd dfd (consumed) whose names end in
 * suffix, as prefix + name. Symbolic links and temporary files are skipped.
 */
static int
scan_dir(int dfd, const char *prefix, const char *suffix, struct snap_list *l)
{
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return FOLIO_E_IO;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!has_suffix(de->d_name, suffix) || folio_snapshot_is_temp_name(de->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (l->count == SNAP_LIST_MAX) {
            l->truncated = true;
            break;
        }
        if (l->count == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 16;
            l->items = folio_realloc(l->items, l->cap * sizeof(*l->items));
        }
        struct snap_entry *e = &l->items[l->count++];
        size_t len = strlen(prefix) + strlen(de->d_name) + 1;
        e->rel = folio_malloc(len);
        snprintf(e->rel, len, "%s%s", prefix, de->d_name);
        e->size = (uint64_t)st.st_size;
        e->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    }
    closedir(d);
    return 0;
}

/* Newest first; the same time, by path. */
static int
entry_cmp(const void *pa, const void *pb)
{
    const struct snap_entry *a = pa, *b = pb;
    if (a->mtime_ns != b->mtime_ns)
        return a->mtime_ns > b->mtime_ns ? -1 : 1;
    return strcmp(a->rel, b->rel);
}

static json_t *
str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *
manifest_json(const struct folio_snapshot_manifest *m)
{
    char date[64];
    bool index = m->kind == FOLIO_SNAPSHOT_KIND_INDEX;
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(index ? "index" : "instance"));
    json_object_set_new(o, "indexUid", index ? str_or_null(m->index_uid) : json_null());
    json_object_set_new(o, "primaryKey", index ? str_or_null(m->primary_key) : json_null());
    json_object_set_new(o, "documentCount",
                        index ? json_integer((json_int_t)m->document_count) : json_null());
    if (!index) {
        json_t *uids = json_array();
        for (uint32_t i = 0; i < m->index_count; i++)
            json_array_append_new(uids, json_string(m->index_uids[i]));
        json_object_set_new(o, "indexUids", uids);
    }
    json_object_set_new(o, "seq", json_integer((json_int_t)m->seq));
    json_object_set_new(o, "taskUid", json_integer((json_int_t)m->task_uid));
    json_object_set_new(o, "createdAt",
                        json_string(folio_sched_format_date(m->created_at_ns, date, sizeof(date))));
    json_object_set_new(o, "engineVersion", str_or_null(m->engine_version));
    json_object_set_new(o, "formatVersion", json_integer(m->format_version));
    json_object_set_new(o, "sourceInstanceUid", str_or_null(m->source_instance_uid));
    return o;
}

/* One listed archive, its manifest read from the file. */
static json_t *
entry_json(const char *snapshot_dir, const struct snap_entry *e)
{
    char date[64];
    json_t *o = json_object();
    json_object_set_new(o, "snapshotPath", json_string(e->rel));
    json_object_set_new(o, "size", json_integer((json_int_t)e->size));
    json_object_set_new(o, "createdAt",
                        json_string(folio_sched_format_date(e->mtime_ns, date, sizeof(date))));
    struct folio_snapshot_manifest *m = NULL;
    struct folio_snapshot_error err;
    memset(&err, 0, sizeof(err));
    /* Beneath the snapshot directory: a file swapped for a link since the scan is refused. */
    int rc = folio_snapshot_read_manifest_in(snapshot_dir, e->rel, &m, &err);
    if (rc == 0) {
        json_object_set_new(o, "manifest", manifest_json(m));
    } else {
        json_t *e_obj = json_object();
        json_object_set_new(e_obj, "code", json_string(folio_err_name(err.code ? err.code : rc)));
        json_object_set_new(e_obj, "message",
                            json_string(err.message[0] ? err.message : folio_err_message(rc)));
        json_object_set_new(o, "manifest", json_null());
        json_object_set_new(o, "error", e_obj);
    }
    folio_snapshot_manifest_free(m);
    return o;
}

static bool
param_u32(struct srv_ctx *x, const char *name, const char *code, uint32_t *out)
{
    const struct srv_param *p = param_get(x, name);
    if (p == NULL)
        return true;
    if (parse_u32(p->val, p->val_len, out))
        return true;
    resp_param_error(x, code, name, "could not parse `%.200s` as a positive integer", p->val);
    return false;
}

/*
 * Opens the directory the listing reads: the snapshot directory itself
 * (uid_name NULL) or its indexes/<uid name>, without following a link below the
 * snapshot directory. -1 with errno ENOENT when it does not exist.
 */
static int
open_listing_dir(const char *snapshot_dir, const char *uid_name)
{
    int root = open(snapshot_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0 || uid_name == NULL)
        return root;
    const int nofollow = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int idx = openat(root, "indexes", nofollow);
    int e = errno;
    close(root);
    if (idx < 0) {
        errno = e;
        return -1;
    }
    int dfd = openat(idx, uid_name, nofollow);
    e = errno;
    close(idx);
    errno = e;
    return dfd;
}

/*
 * Adds the archives of every indexes/<uid name>/ (a directory, not a link,
 * whose name is one folio_snapshot_uid_name gives) to l, for the listing of
 * all snapshots.
 */
static int
scan_index_dirs(const char *snapshot_dir, struct snap_list *l)
{
    int idx = open_listing_dir(snapshot_dir, NULL);
    if (idx < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : FOLIO_E_IO;
    int root = idx;
    idx = openat(root, "indexes", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(root);
    if (idx < 0)
        return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : FOLIO_E_IO;
    DIR *d = fdopendir(idx);
    if (d == NULL) {
        close(idx);
        return FOLIO_E_IO;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && !l->truncated && (de = readdir(d)) != NULL) {
        if (!folio_snapshot_uid_name_valid(de->d_name))
            continue;
        int dfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
            continue; /* not a directory, or a link: not listed */
        char prefix[FOLIO_INDEX_UID_MAX + 16];
        snprintf(prefix, sizeof(prefix), "indexes/%s/", de->d_name);
        rc = scan_dir(dfd, prefix, FOLIO_SNAPSHOT_SUFFIX, l);
    }
    closedir(d);
    return rc;
}

/*
 * The page of a listing as its response body, or NULL with *why set (an I/O
 * error). It touches nothing of the loop: a read worker runs it.
 */
static json_t *
listing_page(const char *snapshot_dir, const char *index_uid, uint32_t offset, uint32_t limit,
             char *why, size_t why_len)
{
    struct snap_list l = {0};
    char prefix[FOLIO_INDEX_UID_MAX + 16] = "";
    char uid_name[FOLIO_SNAPSHOT_UID_NAME_BYTES];
    if (index_uid != NULL) {
        folio_snapshot_uid_name(index_uid, strlen(index_uid), uid_name);
        snprintf(prefix, sizeof(prefix), "indexes/%s/", uid_name);
    }
    /* No directory (or a link where indexes/<uid name> should be): nothing to list. */
    int dfd = snapshot_dir != NULL
                  ? open_listing_dir(snapshot_dir, index_uid != NULL ? uid_name : NULL)
                  : -1;
    if (dfd < 0 && snapshot_dir != NULL && errno != ENOENT && errno != ENOTDIR &&
        errno != ELOOP) {
        snprintf(why, why_len, "%s", strerror(errno));
        return NULL;
    }
    const char *suffix = index_uid ? FOLIO_SNAPSHOT_SUFFIX : FOLIO_SNAPSHOT_INSTANCE_SUFFIX;
    int rc = dfd >= 0 ? scan_dir(dfd, prefix, suffix, &l) : 0;
    /* A long uid's archives written before folio_snapshot_uid_name sit under the whole uid. */
    size_t uid_len = index_uid != NULL ? strlen(index_uid) : 0;
    if (rc == 0 && snapshot_dir != NULL && uid_len > FOLIO_SNAPSHOT_UID_NAME_MAX &&
        uid_len <= FOLIO_SNAPSHOT_UID_NAME_LEGACY_MAX) {
        int old = open_listing_dir(snapshot_dir, index_uid);
        if (old >= 0) {
            char old_prefix[FOLIO_INDEX_UID_MAX + 16];
            snprintf(old_prefix, sizeof(old_prefix), "indexes/%s/", index_uid);
            rc = scan_dir(old, old_prefix, suffix, &l);
        }
    }
    /* GET /snapshots lists every index's archives too. */
    if (rc == 0 && index_uid == NULL && snapshot_dir != NULL)
        rc = scan_index_dirs(snapshot_dir, &l);
    if (rc != 0) {
        snap_list_free(&l);
        snprintf(why, why_len, "%s", folio_err_message(rc));
        return NULL;
    }
    if (l.truncated)
        folio_log(FOLIO_LOG_WARN, "snapshot listing truncated", "dir=\"%s/%s\" max=%u",
                  snapshot_dir, prefix, SNAP_LIST_MAX);
    if (l.count > 1)
        qsort(l.items, l.count, sizeof(*l.items), entry_cmp);
    json_t *results = json_array();
    for (size_t i = offset; i < l.count && i - offset < limit; i++)
        json_array_append_new(results, entry_json(snapshot_dir, &l.items[i]));
    json_t *o = json_object();
    json_object_set_new(o, "results", results);
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "limit", json_integer(limit));
    json_object_set_new(o, "total", json_integer((json_int_t)l.count));
    snap_list_free(&l);
    return o;
}

/* A listing on a read worker: it opens every archive of the page to read its manifest. */
struct list_job {
    struct srv_job job; /* first: the pool hands back &job */
    const char *snapshot_dir; /* the server's option: outlives the job */
    char *index_uid;          /* NULL: the whole-instance listing */
    uint32_t offset, limit;
    /* set by the worker */
    char *text;               /* the response body, or NULL with why set */
    char why[256];
};

static void
list_run(struct srv_job *job)
{
    struct list_job *j = (struct list_job *)job;
    json_t *o = listing_page(j->snapshot_dir, j->index_uid, j->offset, j->limit, j->why,
                             sizeof(j->why));
    if (o == NULL)
        return;
    j->text = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(o);
    if (j->text == NULL)
        snprintf(j->why, sizeof(j->why), "the response could not be encoded as JSON");
}

static void
list_done(struct srv_job *job)
{
    struct list_job *j = (struct list_job *)job;
    if (j->text == NULL)
        resp_error(job->req, 500, "internal", "Reading the snapshot directory failed: %s.",
                   j->why);
    else
        resp_body(job->req, 200, "application/json", j->text, strlen(j->text));
    free(j->text); /* jansson's allocation */
    folio_free(j->index_uid);
    folio_free(j);
}

static void
list_snapshots(struct srv_ctx *x, const char *index_uid)
{
    static const char *const known[] = {"offset", "limit", NULL};
    uint32_t offset = 0, limit = 20;
    if (!params_known(x, known) || !param_u32(x, "offset", "invalid_snapshot_offset", &offset) ||
        !param_u32(x, "limit", "invalid_snapshot_limit", &limit))
        return;
    /* Each listed archive is opened to read its manifest: one page stays bounded. */
    if (limit > SNAP_PAGE_MAX)
        limit = SNAP_PAGE_MAX;
    struct list_job *j = folio_calloc(1, sizeof(*j));
    j->job.run = list_run;
    j->job.done = list_done;
    j->snapshot_dir = x->srv->opts.snapshot_dir;
    j->index_uid = index_uid != NULL ? folio_strdup(index_uid) : NULL;
    j->offset = offset;
    j->limit = limit;
    srv_job_submit(x, &j->job);
}

void
h_snapshots_list(struct srv_ctx *x)
{
    list_snapshots(x, NULL);
}

void
h_index_snapshots_list(struct srv_ctx *x)
{
    /* The index need not exist: the archives of a deleted index are still listed. */
    if (!check_index_uid(x, x->args[0], x->arg_lens[0]))
        return;
    list_snapshots(x, x->args[0]);
}
