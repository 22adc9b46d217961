/*
 * Single-index snapshots through the running scheduler (folio/sched_run.h):
 * singleIndexSnapshotCreation on the snapshot lane and
 * singleIndexSnapshotImport in the main lane, on real data directories, real
 * LMDB indexes and real archives (folio/snapshot.h). Nothing is mocked.
 *
 * Expectations come from DESIGN.md §3 (0600 files, 0700 directories), §6
 * (per-index locking, exactly once), §8 (steps, manifest, errors) and §11
 * (invariants 4 and 5), and the brief's archive naming
 * `<uid>_<YYYYMMDDTHHMMSS.ffffffZ>.idx.snapshot`. Independent facts are used
 * where the code could agree with itself: the manifest's task uid is the uid
 * this test registered last on the index, its seq is checked against the
 * journal's batch_started event of that task's batch; imported data is
 * compared with the source index document by document, setting by setting
 * and search by search.
 *
 * Crash tests fork a child that opens the scheduler with a named crash point
 * (FOLIO_CRASH_POINT semantics through folio_crash_point_set), registers the
 * task and is killed by SIGKILL at that point; the parent reopens the data
 * directory and checks that nothing partial is left and that the task is
 * requeued and then succeeds.
 *
 * FOLIO_TEST_KEEP=1 keeps the temporary directories.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"
#include "folio/index.h"
#include "folio/io.h"
#include "folio/journal.h"
#include "folio/sched.h"
#include "folio/sched_run.h"
#include "folio/snapshot.h"
#include "testutil.h"

#define WAIT_MS 120000

#define CHECKL(line, cond, ...)                                                                    \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("%s:%d: check failed: %s\n    ", __FILE__, (line), #cond);                 \
            print_error(__VA_ARGS__);                                                              \
            print_error("\n");                                                                     \
            fail();                                                                                \
        }                                                                                          \
    } while (0)
#define CHECK(cond, ...) CHECKL(__LINE__, cond, __VA_ARGS__)

/* ---- fixture ---------------------------------------------------------------------- */

struct fx {
    char *root, *db, *db2, *snap;
    struct folio_sched_opts opts;
    struct folio_sched *s;
    struct folio_sched_open_info info;
};

static struct fx *CUR;

static struct fx *
fx_new(const char *tag)
{
    struct fx *f = folio_calloc(1, sizeof(*f));
    f->root = tu_mkdtemp(tag);
    f->db = tu_path(f->root, "db");
    f->db2 = tu_path(f->root, "db2");
    f->snap = tu_path(f->root, "snapshots");
    CHECK(mkdir(f->snap, 0700) == 0, "mkdir %s: %s", f->snap, strerror(errno));
    folio_sched_opts_default(&f->opts);
    f->opts.db_path = f->db;
    f->opts.snapshot_dir = f->snap;
    f->opts.snapshot_threads = 1;
    CUR = f;
    return f;
}

static struct folio_sched *
open_at(struct fx *f, const char *db, bool paused, int line)
{
    struct folio_sched_opts o = f->opts;
    o.db_path = db;
    o.paused = paused;
    struct folio_sched_diag d;
    memset(&d, 0, sizeof(d));
    memset(&f->info, 0, sizeof(f->info));
    struct folio_sched *s = NULL;
    int rc = folio_sched_open(&o, &s, &f->info, &d);
    CHECKL(line, rc == 0, "folio_sched_open(%s): %s (%s)", db, folio_err_name(rc), d.reason);
    return s;
}
#define fx_open(f, paused) ((f)->s = open_at(f, (f)->db, paused, __LINE__))

static int
teardown(void **state)
{
    (void)state;
    struct fx *f = CUR;
    CUR = NULL;
    if (f == NULL)
        return 0;
    folio_sched_close(f->s);
    const char *keep = getenv("FOLIO_TEST_KEEP");
    if (keep && *keep && strcmp(keep, "0") != 0)
        print_message("kept %s\n", f->root);
    else
        tu_rmrf(f->root);
    folio_free(f->root);
    folio_free(f->db);
    folio_free(f->db2);
    folio_free(f->snap);
    folio_free(f);
    return 0;
}

/* ---- requests ---------------------------------------------------------------------- */

static struct folio_sched_request
rq(enum folio_task_kind kind, const char *uid)
{
    struct folio_sched_request r;
    memset(&r, 0, sizeof(r));
    r.kind = kind;
    if (uid)
        r.index_uid = folio_str_c(uid);
    return r;
}

static uint32_t
reg_at(struct folio_sched *s, struct folio_sched_request r, int line)
{
    struct folio_sched_registered out;
    struct folio_sched_error e;
    memset(&out, 0, sizeof(out));
    memset(&e, 0, sizeof(e));
    int rc = folio_sched_register(s, &r, &out, &e);
    CHECKL(line, rc == 0, "register %s: %s [%s] %s", folio_task_kind_name(r.kind),
           folio_err_name(rc), e.code, e.message);
    return out.task_uid;
}
#define REG(s, r) reg_at(s, r, __LINE__)

static uint32_t
reg_docs_at(struct folio_sched *s, const char *uid, const char *json, int line)
{
    struct folio_sched_request r = rq(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, uid);
    r.payload = json;
    r.payload_len = strlen(json);
    r.format = FOLIO_INDEX_FORMAT_JSON;
    r.method = FOLIO_DOC_REPLACE;
    return reg_at(s, r, line);
}
#define REG_DOCS(s, uid, json) reg_docs_at(s, uid, json, __LINE__)

static uint32_t
reg_settings_at(struct folio_sched *s, const char *uid, const char *json, int line)
{
    struct folio_sched_request r = rq(FOLIO_KIND_SETTINGS_UPDATE, uid);
    r.settings_json = json;
    r.settings_len = strlen(json);
    return reg_at(s, r, line);
}
#define REG_SETTINGS(s, uid, json) reg_settings_at(s, uid, json, __LINE__)

#define REG_CREATE_SNAPSHOT(s, uid) REG(s, rq(FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION, uid))

static struct folio_sched_request
rq_import(const char *path, const char *asserted, const char *target)
{
    struct folio_sched_request r = rq(FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT, NULL);
    r.snapshot_path = folio_str_c(path);
    if (asserted)
        r.source_index_uid = folio_str_c(asserted);
    if (target)
        r.new_index_uid = folio_str_c(target);
    return r;
}

/* Documents {id, title, genre, body} as a JSON array; caller frees. */
static char *
make_docs(uint32_t first, uint32_t n, size_t body_bytes, uint64_t seed)
{
    static const char *const words[] = {"river",  "stone",  "garden", "lantern", "harbor",
                                        "meadow", "copper", "violet", "thunder", "orchard"};
    static const char *const genres[] = {"novel", "poetry", "essay"};
    size_t cap = (size_t)n * (body_bytes + 160) + 16;
    char *out = folio_malloc(cap);
    size_t at = 0;
    out[at++] = '[';
    uint64_t st = seed;
    for (uint32_t i = 0; i < n; i++) {
        at += (size_t)snprintf(out + at, cap - at,
                               "%s{\"id\":%u,\"title\":\"%s %s %u\",\"genre\":\"%s\",\"body\":\"",
                               i ? "," : "", first + i, words[(first + i) % 10],
                               words[(first + i) / 10 % 10], first + i, genres[(first + i) % 3]);
        size_t b = 0;
        while (b < body_bytes) {
            char w[24];
            int k = snprintf(w, sizeof(w), "%s%llx ", words[tu_rand(&st) % 10],
                             (unsigned long long)(tu_rand(&st) % 4096));
            memcpy(out + at, w, (size_t)k);
            at += (size_t)k;
            b += (size_t)k;
        }
        at += (size_t)snprintf(out + at, cap - at, "\"}");
    }
    out[at++] = ']';
    out[at] = '\0';
    FOLIO_ASSERT(at < cap);
    return out;
}

/* ---- looking at tasks -------------------------------------------------------------- */

struct tinfo {
    enum folio_task_status status;
    uint32_t batch_uid;
    int64_t started_at_ns, finished_at_ns;
    json_t *json;
};

static void
tinfo_get_at(struct folio_sched *s, uint32_t uid, struct tinfo *t, int line)
{
    memset(t, 0, sizeof(*t));
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    struct folio_task_view v;
    int rc = folio_sched_task_get(st, uid, &v);
    int jrc = -1;
    if (rc == 0) {
        t->status = v.status;
        t->batch_uid = v.batch_uid;
        t->started_at_ns = v.started_at_ns;
        t->finished_at_ns = v.finished_at_ns;
        jrc = folio_task_view_to_json(&v, &t->json);
    }
    folio_sched_read_unlock(s);
    CHECKL(line, rc == 0 && jrc == 0, "task %u: %s", uid, folio_err_name(rc));
}

static char *
jdump(const json_t *j)
{
    static char buf[4][4096];
    static int next;
    char *out = buf[next++ % 4];
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(out, sizeof(buf[0]), "%s", s ? s : "(none)");
    free(s);
    return out;
}

static const char *
jstr(const json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Waits for the task, checks it succeeded; returns its TaskView (caller decrefs). */
static json_t *
wait_ok_at(struct folio_sched *s, uint32_t uid, int line)
{
    int rc = folio_sched_wait_task(s, uid, WAIT_MS);
    CHECKL(line, rc == 0, "wait_task(%u): %s", uid, folio_err_name(rc));
    struct tinfo t;
    tinfo_get_at(s, uid, &t, line);
    CHECKL(line, t.status == FOLIO_STATUS_SUCCEEDED, "task %u is %s: %s", uid,
           folio_task_status_name(t.status), jdump(t.json));
    return t.json;
}
#define WAIT_OK(s, uid) wait_ok_at(s, uid, __LINE__)

/* Waits for the task, checks it failed with code (and a message); returns its TaskView. */
static json_t *
wait_failed_at(struct folio_sched *s, uint32_t uid, const char *code, const char *type, int line)
{
    int rc = folio_sched_wait_task(s, uid, WAIT_MS);
    CHECKL(line, rc == 0, "wait_task(%u): %s", uid, folio_err_name(rc));
    struct tinfo t;
    tinfo_get_at(s, uid, &t, line);
    json_t *err = json_object_get(t.json, "error");
    CHECKL(line, t.status == FOLIO_STATUS_FAILED, "task %u is %s, not failed: %s", uid,
           folio_task_status_name(t.status), jdump(t.json));
    CHECKL(line, jstr(err, "code") && strcmp(jstr(err, "code"), code) == 0,
           "task %u: error code is not %s: %s", uid, code, jdump(err));
    CHECKL(line, type == NULL || (jstr(err, "type") && strcmp(jstr(err, "type"), type) == 0),
           "task %u: error type is not %s: %s", uid, type, jdump(err));
    CHECKL(line, jstr(err, "message") && strlen(jstr(err, "message")) > 20,
           "task %u: no useful message: %s", uid, jdump(err));
    return t.json;
}
#define WAIT_FAILED(s, uid, code, type) wait_failed_at(s, uid, code, type, __LINE__)

/* ---- looking at indexes ------------------------------------------------------------ */

struct idump {
    char *docs, *settings, *search1, *search2;
    uint64_t count;
    struct folio_index_marker marker;
    char pk[FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX + 1];
};

static char *
search_hits(struct folio_index *idx, const char *q, const char *filter)
{
    struct folio_index_search_req req;
    folio_index_search_req_default(&req);
    req.q = q;
    req.filter = filter;
    req.limit = 1000;
    char *out = NULL;
    size_t len;
    struct folio_index_error ierr;
    int rc = folio_index_search(idx, &req, &out, &len, &ierr);
    CHECK(rc == 0, "search `%s`: %s %s", q, folio_err_name(rc), ierr.message);
    /* processingTimeMs differs between runs: keep only the hits */
    json_error_t je;
    json_t *j = json_loadb(out, len, 0, &je);
    CHECK(j != NULL, "search answer is not JSON");
    char *hits = json_dumps(json_object_get(j, "hits"), JSON_COMPACT);
    json_decref(j);
    folio_free(out);
    return hits;
}

static void
idump_get_at(struct folio_sched *s, const char *uid, struct idump *d, int line)
{
    memset(d, 0, sizeof(*d));
    struct folio_index *idx = NULL;
    int rc = folio_sched_index_acquire(s, uid, strlen(uid), &idx);
    CHECKL(line, rc == 0, "acquire index `%s`: %s", uid, folio_err_name(rc));
    struct folio_index_error ierr;
    size_t len;
    rc = folio_index_documents_get(idx, 0, 100000, NULL, 0, &d->docs, &len, &d->count, &ierr);
    CHECKL(line, rc == 0, "documents of `%s`: %s", uid, ierr.message);
    rc = folio_index_settings_get(idx, &d->settings, &len, &ierr);
    CHECKL(line, rc == 0, "settings of `%s`: %s", uid, ierr.message);
    rc = folio_index_marker_get(idx, &d->marker, &ierr);
    CHECKL(line, rc == 0, "marker of `%s`: %s", uid, ierr.message);
    struct folio_index_stats *st = NULL;
    rc = folio_index_stats_get(idx, &st, &ierr);
    CHECKL(line, rc == 0, "stats of `%s`: %s", uid, ierr.message);
    snprintf(d->pk, sizeof(d->pk), "%s", st->has_primary_key ? st->primary_key : "");
    folio_index_stats_free(st);
    d->search1 = search_hits(idx, "garden harb", NULL);
    /* a filtered search where genre is filterable, another query elsewhere */
    bool filterable = strstr(d->settings, "\"filterableAttributes\":[\"genre\"]") != NULL;
    d->search2 = search_hits(idx, "lantern", filterable ? "genre = poetry" : NULL);
    folio_sched_index_release(s, idx);
}
#define IDUMP(s, uid, d) idump_get_at(s, uid, d, __LINE__)

static void
idump_free(struct idump *d)
{
    folio_free(d->docs);
    folio_free(d->settings);
    free(d->search1);
    free(d->search2);
}

static void
same_data_at(const struct idump *a, const struct idump *b, int line)
{
    CHECKL(line, a->count == b->count, "%" PRIu64 " vs %" PRIu64 " documents", a->count, b->count);
    CHECKL(line, strcmp(a->docs, b->docs) == 0, "documents differ");
    CHECKL(line, strcmp(a->settings, b->settings) == 0, "settings differ: %s vs %s", a->settings,
           b->settings);
    CHECKL(line, strcmp(a->pk, b->pk) == 0, "primary key `%s` vs `%s`", a->pk, b->pk);
    CHECKL(line, strcmp(a->search1, b->search1) == 0, "search results differ");
    CHECKL(line, strcmp(a->search2, b->search2) == 0, "filtered search results differ");
}
#define SAME_DATA(a, b) same_data_at(a, b, __LINE__)

/* The mapping entry of uid: 1 found (view strings copied into uuid), 0 not. */
static int
mapping_get(struct folio_sched *s, const char *uid, char uuid[37], bool *imported)
{
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    struct folio_index_view v;
    int found = folio_sched_index_get(st, uid, strlen(uid), &v) == 0;
    if (found && uuid)
        snprintf(uuid, 37, "%.*s", (int)v.uuid.len, v.uuid.ptr);
    if (found && imported)
        *imported = v.imported;
    folio_sched_read_unlock(s);
    return found;
}

/* The mapping as one string "uid=uuid;..." (caller frees). */
static char *
mapping_dump(struct folio_sched *s)
{
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    struct folio_index_view *v = NULL;
    size_t n = 0;
    int rc = folio_sched_index_list(st, &v, &n);
    size_t cap = 64 + n * 512;
    char *out = folio_malloc(cap);
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && rc == 0; i++)
        at += (size_t)snprintf(out + at, cap - at, "%.*s=%.*s;", (int)v[i].uid.len, v[i].uid.ptr,
                               (int)v[i].uuid.len, v[i].uuid.ptr);
    folio_free(v);
    folio_sched_read_unlock(s);
    CHECK(rc == 0, "index_list: %s", folio_err_name(rc));
    return out;
}

/* Sorted names of a directory joined by ';' ("" when empty or missing; caller frees). */
static char *
dir_dump(const char *dir)
{
    char *names[256];
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL && n < 256)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            names[n++] = folio_strdup(de->d_name);
    if (d)
        closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *x = names[j];
            names[j] = names[j - 1];
            names[j - 1] = x;
        }
    char *out = folio_malloc(n * 300 + 1);
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        at += (size_t)sprintf(out + at, "%.290s;", names[i]);
        folio_free(names[i]);
    }
    return out;
}

static char *
sub_dump(const char *a, const char *b)
{
    char *p = tu_path(a, b);
    char *d = dir_dump(p);
    folio_free(p);
    return d;
}

/* 1 if the event at seq is batch_started of batch_uid. */
static bool
seq_is_batch_started(const char *journal_dir, uint64_t seq, uint32_t batch_uid)
{
    struct folio_journal_reader *r = NULL;
    struct folio_journal_diag jd;
    if (folio_journal_reader_open(journal_dir, seq, 0, &r, &jd) != 0)
        return false;
    struct folio_journal_record rec;
    bool ok = false;
    if (folio_journal_reader_next(r, &rec, &jd) == 0 && rec.seq == seq) {
        struct folio_event ev;
        if (folio_event_decode(rec.data, rec.len, &ev) == 0) {
            ok = ev.type == FOLIO_EV_BATCH_STARTED && ev.u.batch_started.batch_uid == batch_uid;
            folio_event_clear(&ev);
        }
    }
    folio_journal_reader_close(r);
    return ok;
}

/* Checks name pattern <uid>_YYYYMMDDTHHMMSS.ffffffZ[-N].idx.snapshot. */
static bool
name_ok(const char *name, const char *uid)
{
    size_t ul = strlen(uid);
    if (strncmp(name, uid, ul) != 0 || name[ul] != '_')
        return false;
    const char *p = name + ul + 1;
    static const char pat[] = "DDDDDDDDTDDDDDD.DDDDDDZ";
    for (size_t i = 0; i < sizeof(pat) - 1; i++) {
        if (pat[i] == 'D' ? !(p[i] >= '0' && p[i] <= '9') : p[i] != pat[i])
            return false;
    }
    p += sizeof(pat) - 1;
    if (*p == '-') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return strcmp(p, FOLIO_SNAPSHOT_SUFFIX) == 0;
}

/* Checks the archive of a succeeded creation; returns its path relative to snap (caller frees). */
static char *
check_archive_at(struct fx *f, json_t *task, const char *uid, int line)
{
    json_t *det = json_object_get(task, "details");
    const char *rel = jstr(det, "snapshotPath");
    CHECKL(line, rel != NULL, "no snapshotPath: %s", jdump(task));
    CHECKL(line, jstr(det, "indexUid") && strcmp(jstr(det, "indexUid"), uid) == 0,
           "details.indexUid: %s", jdump(det));
    char prefix[512];
    snprintf(prefix, sizeof(prefix), "indexes/%s/", uid);
    CHECKL(line, strncmp(rel, prefix, strlen(prefix)) == 0, "snapshotPath `%s`", rel);
    CHECKL(line, name_ok(rel + strlen(prefix), uid), "archive name `%s`", rel);
    char *path = tu_path(f->snap, rel);
    struct stat st;
    CHECKL(line, stat(path, &st) == 0 && S_ISREG(st.st_mode), "%s: %s", path, strerror(errno));
    CHECKL(line, (st.st_mode & 07777) == 0600, "archive mode %o", (unsigned)(st.st_mode & 07777));
    char *top = tu_path(f->snap, "indexes");
    char *dir = tu_path(top, uid);
    CHECKL(line, stat(top, &st) == 0 && (st.st_mode & 07777) == 0700, "%s mode %o", top,
           (unsigned)(st.st_mode & 07777));
    CHECKL(line, stat(dir, &st) == 0 && (st.st_mode & 07777) == 0700, "%s mode %o", dir,
           (unsigned)(st.st_mode & 07777));
    folio_free(top);
    folio_free(dir);
    folio_free(path);
    return folio_strdup(rel);
}
#define CHECK_ARCHIVE(f, task, uid) check_archive_at(f, task, uid, __LINE__)

static struct folio_snapshot_manifest *
manifest_at(struct fx *f, const char *rel, int line)
{
    char *path = tu_path(f->snap, rel);
    struct folio_snapshot_manifest *m = NULL;
    struct folio_snapshot_error err;
    memset(&err, 0, sizeof(err));
    int rc = folio_snapshot_read_manifest(path, &m, &err);
    CHECKL(line, rc == 0, "read_manifest(%s): %s %s", path, folio_err_name(rc), err.message);
    folio_free(path);
    return m;
}
#define MANIFEST(f, rel) manifest_at(f, rel, __LINE__)

static void
tmp_empty_at(const char *db, int line)
{
    char *d = sub_dump(db, "tmp");
    CHECKL(line, d[0] == '\0', "%s/tmp holds: %s", db, d);
    folio_free(d);
}
#define TMP_EMPTY(db) tmp_empty_at(db, __LINE__)

/* Builds index uid with n documents (and settings); returns the last task uid on it. */
static uint32_t
build_index(struct folio_sched *s, const char *uid, uint32_t n, size_t body, bool settings)
{
    uint32_t last = REG(s, rq(FOLIO_KIND_INDEX_CREATION, uid));
    if (settings)
        last = REG_SETTINGS(s, uid,
                            "{\"filterableAttributes\":[\"genre\"],"
                            "\"searchableAttributes\":[\"title\",\"body\"]}");
    for (uint32_t at = 0; at < n;) {
        uint32_t k = n - at > 2000 ? 2000 : n - at;
        char *docs = make_docs(at, k, body, 7 + at);
        last = REG_DOCS(s, uid, docs);
        folio_free(docs);
        at += k;
    }
    json_decref(WAIT_OK(s, last));
    return last;
}

/* ---- tests --------------------------------------------------------------------------- */

/*
 * A snapshot of an index with documents and settings: the archive, its
 * manifest (invariant 4 against the journal), then an import under a new uid
 * in the same scheduler and under the original uid in a second data
 * directory, each holding the same data and answering the same searches.
 */
static void
test_create_import_roundtrip(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-roundtrip");
    fx_open(f, false);
    uint32_t last = build_index(f->s, "books", 300, 60, true);
    struct tinfo lt;
    tinfo_get_at(f->s, last, &lt, __LINE__);
    json_decref(lt.json);

    uint32_t c = REG_CREATE_SNAPSHOT(f->s, "books");
    json_t *task = WAIT_OK(f->s, c);
    char *rel = CHECK_ARCHIVE(f, task, "books");
    json_decref(task);
    TMP_EMPTY(f->db);

    struct folio_snapshot_manifest *m = MANIFEST(f, rel);
    CHECK(m->kind == FOLIO_SNAPSHOT_KIND_INDEX, "kind %d", m->kind);
    CHECK(m->task_uid == last, "manifest task uid %" PRIu64 ", the last task on books is %u",
          m->task_uid, last);
    CHECK(seq_is_batch_started(folio_sched_journal_dir(f->s), m->seq, lt.batch_uid),
          "manifest seq %" PRIu64 " is not the batch_started of batch %u (task %u)", m->seq,
          lt.batch_uid, last);
    CHECK(m->document_count == 300, "document count %" PRIu64, m->document_count);
    CHECK(m->primary_key && strcmp(m->primary_key, "id") == 0, "primary key %s",
          m->primary_key ? m->primary_key : "(null)");
    CHECK(m->settings_json && strstr(m->settings_json, "\"filterableAttributes\":[\"genre\"]"),
          "settings %s", m->settings_json ? m->settings_json : "(null)");
    CHECK(strcmp(m->index_uid, "books") == 0, "index uid %s", m->index_uid);
    CHECK(strcmp(m->source_instance_uid, folio_sched_instance_uid(f->s)) == 0, "source instance %s",
          m->source_instance_uid);
    CHECK(strcmp(m->engine_version, FOLIO_TEST_VERSION) == 0, "engine %s", m->engine_version);
    CHECK(m->file_count == 1 && strcmp(m->files[0].name, "data.mdb") == 0, "files");
    int64_t now = (int64_t)time(NULL) * 1000000000;
    CHECK(m->created_at_ns > now - 600ll * 1000000000 && m->created_at_ns <= now + 1000000000ll,
          "created at %" PRId64, m->created_at_ns);
    uint64_t mseq = m->seq;
    folio_snapshot_manifest_free(m);

    /* same scheduler, new uid */
    uint32_t imp = REG(f->s, rq_import(rel, "books", "books2"));
    task = WAIT_OK(f->s, imp);
    json_t *det = json_object_get(task, "details");
    CHECK(json_integer_value(json_object_get(det, "importedDocuments")) == 300, "details %s",
          jdump(det));
    CHECK(jstr(det, "newIndexUid") && strcmp(jstr(det, "newIndexUid"), "books2") == 0, "details %s",
          jdump(det));
    struct tinfo it;
    tinfo_get_at(f->s, imp, &it, __LINE__);
    json_decref(task);
    char u1[37], u2[37];
    bool imported = false;
    CHECK(mapping_get(f->s, "books", u1, NULL) && mapping_get(f->s, "books2", u2, &imported),
          "mapping");
    CHECK(imported && strcmp(u1, u2) != 0, "books2 imported %d, uuids %s %s", imported, u1, u2);
    {
        /* the mapping carries where the data came from */
        const struct folio_sched_state *st = folio_sched_read_lock(f->s);
        struct folio_index_view v;
        int rc = folio_sched_index_get(st, "books2", 6, &v);
        bool src_ok = rc == 0 && v.source_seq == mseq &&
                      strncmp(v.source_instance_uid.ptr, folio_sched_instance_uid(f->s), 36) == 0 &&
                      v.archive_checksum.len == 32 && v.primary_key.len == 2;
        folio_sched_read_unlock(f->s);
        CHECK(src_ok, "books2's source fields");
    }
    struct idump a, b;
    IDUMP(f->s, "books", &a);
    IDUMP(f->s, "books2", &b);
    SAME_DATA(&a, &b);
    CHECK(b.marker.task_uid == imp, "imported index marker names task %" PRIu64 ", not %u",
          b.marker.task_uid, imp);
    CHECK(seq_is_batch_started(folio_sched_journal_dir(f->s), b.marker.batch_seq, it.batch_uid),
          "imported marker's seq is not the import's batch");
    json_decref(it.json);
    idump_free(&b);
    TMP_EMPTY(f->db);

    /* the imported index takes writes */
    uint32_t more = REG_DOCS(f->s, "books2", "[{\"id\":100000,\"title\":\"garden harbor\"}]");
    json_decref(WAIT_OK(f->s, more));

    /* a second data directory, the original uid */
    struct folio_sched *s2 = open_at(f, f->db2, false, __LINE__);
    imp = REG(s2, rq_import(rel, "books", NULL));
    json_decref(WAIT_OK(s2, imp));
    CHECK(mapping_get(s2, "books", NULL, &imported) && imported, "books in db2");
    IDUMP(s2, "books", &b);
    SAME_DATA(&a, &b);
    idump_free(&b);
    folio_sched_close(s2);
    /* reopened, the imported index is still there and the same */
    s2 = open_at(f, f->db2, false, __LINE__);
    IDUMP(s2, "books", &b);
    SAME_DATA(&a, &b);
    idump_free(&b);
    folio_sched_close(s2);
    idump_free(&a);
    folio_free(rel);

    /* the import survives a checkpoint: checkpoint + tail equals a full replay */
    struct folio_sched_diag d;
    CHECK(folio_sched_checkpoint_now(f->s, &d) == 0, "checkpoint: %s", d.reason);
    folio_sched_close(f->s);
    f->s = NULL;
    char *jdir = tu_path(f->db, "journal"), *cdir = tu_path(f->db, "checkpoints");
    struct folio_sched_state *x = NULL, *y = NULL;
    CHECK(folio_sched_state_replay(jdir, cdir, &x, NULL, &d) == 0, "replay: %s", d.reason);
    CHECK(folio_sched_state_replay(jdir, NULL, &y, NULL, &d) == 0, "replay: %s", d.reason);
    char diff[512] = "";
    CHECK(folio_sched_state_equal(x, y, diff, sizeof(diff)), "states differ: %s", diff);
    folio_sched_state_free(x);
    folio_sched_state_free(y);
    folio_free(jdir);
    folio_free(cdir);
}

/* An empty index and a one-document index; two snapshots of one index get two names. */
static void
test_empty_and_one(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-small");
    fx_open(f, false);
    json_decref(WAIT_OK(f->s, REG(f->s, rq(FOLIO_KIND_INDEX_CREATION, "empty"))));
    build_index(f->s, "one", 1, 10, false);
    const char *uids[2] = {"empty", "one"};
    for (int i = 0; i < 2; i++) {
        uint32_t c1 = REG_CREATE_SNAPSHOT(f->s, uids[i]);
        uint32_t c2 = REG_CREATE_SNAPSHOT(f->s, uids[i]);
        json_t *t1 = WAIT_OK(f->s, c1), *t2 = WAIT_OK(f->s, c2);
        char *r1 = CHECK_ARCHIVE(f, t1, uids[i]), *r2 = CHECK_ARCHIVE(f, t2, uids[i]);
        CHECK(strcmp(r1, r2) != 0, "two snapshots share the name %s", r1);
        struct folio_snapshot_manifest *m = MANIFEST(f, r2);
        CHECK(m->document_count == (uint64_t)i, "%s: %" PRIu64 " documents", uids[i],
              m->document_count);
        folio_snapshot_manifest_free(m);
        char target[32];
        snprintf(target, sizeof(target), "%s-copy", uids[i]);
        json_t *t = WAIT_OK(f->s, REG(f->s, rq_import(r1, NULL, target)));
        CHECK(json_integer_value(
                  json_object_get(json_object_get(t, "details"), "importedDocuments")) == i,
              "%s", jdump(t));
        struct idump a, b;
        IDUMP(f->s, uids[i], &a);
        IDUMP(f->s, target, &b);
        SAME_DATA(&a, &b);
        idump_free(&a);
        idump_free(&b);
        json_decref(t);
        json_decref(t1);
        json_decref(t2);
        folio_free(r1);
        folio_free(r2);
    }
    TMP_EMPTY(f->db);
}

/* Writes a copy of the snapshot snap/src with byte at offset XORed into snap/name. */
static void
corrupt_copy(struct fx *f, const char *src, const char *name, off_t offset, uint8_t mask)
{
    char *p = tu_path(f->snap, src);
    size_t len;
    uint8_t *bytes = tu_read_file(p, &len);
    CHECK(bytes != NULL && len > 0, "read %s", p);
    if (offset < 0)
        offset += (off_t)len;
    CHECK((size_t)offset < len, "offset %lld of %zu", (long long)offset, len);
    bytes[offset] ^= mask;
    char *q = tu_path(f->snap, name);
    tu_write_file(q, bytes, len);
    free(bytes);
    folio_free(p);
    folio_free(q);
}

/*
 * Every import error code, each leaving the mapping, indexes/ and tmp/ as
 * they were.
 */
static void
test_import_errors(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-errors");
    fx_open(f, false);
    build_index(f->s, "books", 200, 80, true);
    json_t *t = WAIT_OK(f->s, REG_CREATE_SNAPSHOT(f->s, "books"));
    char *rel = CHECK_ARCHIVE(f, t, "books");
    json_decref(t);

    char *garbage = tu_path(f->snap, "garbage.idx.snapshot");
    char junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(i * 131 + 7);
    tu_write_file(garbage, junk, sizeof(junk));
    folio_free(garbage);
    /* a flipped byte near the end of the compressed stream (file data, not the manifest) */
    corrupt_copy(f, rel, "flipped.idx.snapshot", -64, 0x10);
    /* a file that will be gone when the task runs */
    corrupt_copy(f, rel, "gone.idx.snapshot", 0, 0);

    char *map0 = mapping_dump(f->s);
    char *idx0 = sub_dump(f->db, "indexes");

    folio_sched_pause(f->s);
    uint32_t g = REG(f->s, rq_import("garbage.idx.snapshot", NULL, "g"));
    uint32_t fl = REG(f->s, rq_import("flipped.idx.snapshot", NULL, "fl"));
    uint32_t mis = REG(f->s, rq_import(rel, "films", "mis"));
    uint32_t gone = REG(f->s, rq_import("gone.idx.snapshot", NULL, "gone"));
    char *gp = tu_path(f->snap, "gone.idx.snapshot");
    CHECK(unlink(gp) == 0, "unlink %s", gp);
    folio_free(gp);
    /* two imports into one free uid: the first wins, the second finds it taken */
    uint32_t d1 = REG(f->s, rq_import(rel, NULL, "dup"));
    uint32_t d2 = REG(f->s, rq_import(rel, NULL, "dup"));
    folio_sched_resume(f->s);

    json_decref(WAIT_FAILED(f->s, g, "snapshot_invalid", "invalid_request"));
    /* the flipped byte is in the zstd stream: its decoder or the file checksum sees it */
    CHECK(folio_sched_wait_task(f->s, fl, WAIT_MS) == 0, "wait");
    struct tinfo ft;
    tinfo_get_at(f->s, fl, &ft, __LINE__);
    const char *fcode = jstr(json_object_get(ft.json, "error"), "code");
    CHECK(ft.status == FOLIO_STATUS_FAILED && fcode &&
              (strcmp(fcode, "snapshot_checksum_mismatch") == 0 ||
               strcmp(fcode, "snapshot_invalid") == 0),
          "flipped byte: %s", jdump(ft.json));
    json_decref(ft.json);
    t = WAIT_FAILED(f->s, mis, "snapshot_invalid", "invalid_request");
    const char *msg = jstr(json_object_get(t, "error"), "message");
    CHECK(msg && strstr(msg, "books") && strstr(msg, "films"), "message names both: %s", msg);
    json_decref(t);
    t = WAIT_FAILED(f->s, gone, "snapshot_file_not_found", NULL);
    CHECK(json_integer_value(json_object_get(json_object_get(t, "details"), "importedDocuments")) ==
              0,
          "failed details: %s", jdump(t));
    json_decref(t);
    json_decref(WAIT_OK(f->s, d1));
    json_decref(WAIT_FAILED(f->s, d2, "index_already_exists", "invalid_request"));

    /* nothing changed but the one successful import */
    char *map1 = mapping_dump(f->s);
    char uuid[37];
    CHECK(mapping_get(f->s, "dup", uuid, NULL), "dup");
    char want[4096];
    snprintf(want, sizeof(want), "%s", map0);
    char *pos = strstr(map1, "dup=");
    CHECK(pos != NULL, "%s", map1);
    char without[4096];
    size_t pre = (size_t)(pos - map1);
    snprintf(without, sizeof(without), "%.*s%s", (int)pre, map1, strchr(pos, ';') + 1);
    CHECK(strcmp(without, want) == 0, "mapping %s, was %s", map1, map0);
    char *idx1 = sub_dump(f->db, "indexes");
    char exp[4096];
    /* indexes/ = the old entries plus dup's uuid (sorted merge by hand) */
    char *names = folio_strdup(idx0);
    size_t have = 0;
    char *list[16];
    for (char *tok = strtok(names, ";"); tok && have < 15; tok = strtok(NULL, ";"))
        list[have++] = tok;
    list[have++] = uuid;
    for (size_t i = 1; i < have; i++)
        for (size_t j = i; j > 0 && strcmp(list[j - 1], list[j]) > 0; j--) {
            char *x = list[j];
            list[j] = list[j - 1];
            list[j - 1] = x;
        }
    size_t at = 0;
    exp[0] = '\0';
    for (size_t i = 0; i < have; i++)
        at += (size_t)snprintf(exp + at, sizeof(exp) - at, "%s;", list[i]);
    CHECK(strcmp(idx1, exp) == 0, "indexes/ holds %s, want %s", idx1, exp);
    folio_free(names);
    TMP_EMPTY(f->db);
    folio_free(map0);
    folio_free(map1);
    folio_free(idx0);
    folio_free(idx1);
    folio_free(rel);
}

/*
 * The snapshot lane next to the main lane: a creation of A runs while a long
 * batch of B runs (neither waits for the other), and the task of A registered
 * behind the creation stays enqueued until the creation finished.
 */
static void
test_lanes(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-lanes");
    fx_open(f, false);
    build_index(f->s, "a", 3000, 200, false);
    json_decref(WAIT_OK(f->s, REG(f->s, rq(FOLIO_KIND_INDEX_CREATION, "b"))));
    char *big = make_docs(0, 20000, 200, 99);

    folio_sched_pause(f->s);
    uint32_t c = REG_CREATE_SNAPSHOT(f->s, "a");
    uint32_t a_docs = REG_DOCS(f->s, "a", "[{\"id\":999999,\"title\":\"after the snapshot\"}]");
    uint32_t b_docs = REG_DOCS(f->s, "b", big);
    folio_free(big);
    folio_sched_resume(f->s);
    json_decref(WAIT_OK(f->s, c));
    json_decref(WAIT_OK(f->s, a_docs));
    json_decref(WAIT_OK(f->s, b_docs));
    struct tinfo tc, ta, tb;
    tinfo_get_at(f->s, c, &tc, __LINE__);
    tinfo_get_at(f->s, a_docs, &ta, __LINE__);
    tinfo_get_at(f->s, b_docs, &tb, __LINE__);
    print_message("creation %.3f..%.3f s, a %.3f..%.3f s, b %.3f..%.3f s\n", 0.0,
                  (double)(tc.finished_at_ns - tc.started_at_ns) / 1e9,
                  (double)(ta.started_at_ns - tc.started_at_ns) / 1e9,
                  (double)(ta.finished_at_ns - tc.started_at_ns) / 1e9,
                  (double)(tb.started_at_ns - tc.started_at_ns) / 1e9,
                  (double)(tb.finished_at_ns - tc.started_at_ns) / 1e9);
    CHECK(tc.batch_uid != tb.batch_uid && tc.batch_uid != ta.batch_uid, "separate batches");
    /* the tasks of a waited for the creation */
    CHECK(ta.started_at_ns >= tc.finished_at_ns, "a's task started before the snapshot ended");
    /* b's long batch started while the creation ran, and the creation did not wait for it */
    CHECK(tb.started_at_ns < tc.finished_at_ns, "b waited for the snapshot of a");
    CHECK(tc.finished_at_ns < tb.finished_at_ns, "the snapshot of a waited for b's batch");
    /* the archive holds a without the later document */
    struct folio_snapshot_manifest *m =
        MANIFEST(f, jstr(json_object_get(tc.json, "details"), "snapshotPath"));
    CHECK(m->document_count == 3000, "%" PRIu64 " documents", m->document_count);
    CHECK(m->task_uid < c, "manifest task %" PRIu64, m->task_uid);
    folio_snapshot_manifest_free(m);
    json_decref(tc.json);
    json_decref(ta.json);
    json_decref(tb.json);
}

/*
 * A creation registered right behind the task that creates its index waits
 * for that task instead of running first (its priority) and failing with
 * index_not_found; a creation of an existing index still goes before the
 * index's earlier tasks.
 */
static void
test_creation_waits_for_its_index(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-fresh");
    fx_open(f, false);
    folio_sched_pause(f->s);
    uint32_t add = REG_DOCS(f->s, "fresh", "[{\"id\":1,\"title\":\"first\"}]");
    uint32_t c = REG_CREATE_SNAPSHOT(f->s, "fresh");
    folio_sched_resume(f->s);
    json_decref(WAIT_OK(f->s, add));
    json_t *t = WAIT_OK(f->s, c);
    struct folio_snapshot_manifest *m =
        MANIFEST(f, jstr(json_object_get(t, "details"), "snapshotPath"));
    CHECK(m->document_count == 1 && m->task_uid == add,
          "manifest: %" PRIu64 " documents at task %" PRIu64, m->document_count, m->task_uid);
    folio_snapshot_manifest_free(m);
    json_decref(t);

    /* The index exists now: the next creation goes before the addition registered first. */
    folio_sched_pause(f->s);
    uint32_t add2 = REG_DOCS(f->s, "fresh", "[{\"id\":2,\"title\":\"second\"}]");
    uint32_t c2 = REG_CREATE_SNAPSHOT(f->s, "fresh");
    folio_sched_resume(f->s);
    t = WAIT_OK(f->s, c2);
    json_decref(WAIT_OK(f->s, add2));
    m = MANIFEST(f, jstr(json_object_get(t, "details"), "snapshotPath"));
    CHECK(m->document_count == 1 && m->task_uid == add,
          "manifest: %" PRIu64 " documents at task %" PRIu64, m->document_count, m->task_uid);
    folio_snapshot_manifest_free(m);
    json_decref(t);
    TMP_EMPTY(f->db);
}

/* Files of snap/indexes/<uid>/ (count) and whether one is a temporary archive. */
static size_t
archives(struct fx *f, const char *uid, bool *temp)
{
    char *top = tu_path(f->snap, "indexes");
    char *dir = tu_path(top, uid);
    DIR *d = opendir(dir);
    size_t n = 0;
    *temp = false;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        n++;
        if (folio_snapshot_is_temp_name(de->d_name) || !name_ok(de->d_name, uid))
            *temp = true;
    }
    if (d)
        closedir(d);
    folio_free(top);
    folio_free(dir);
    return n;
}

static bool wait_processing(struct folio_sched *s, uint32_t uid);

/*
 * While a creation runs (slowly: zstd level 19), a task of its index stays
 * enqueued although the main lane is idle, and starts only after it. Then a
 * cancelation of a processing creation stops it: canceled, no archive, no
 * temporary file.
 */
static void
test_cancel_creation(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-cancel");
    f->opts.snapshot_level = 19; /* slow on purpose: the creation must still run when canceled */
    fx_open(f, false);
    build_index(f->s, "big", 6000, 1000, false);

    uint32_t c0 = REG_CREATE_SNAPSHOT(f->s, "big");
    uint32_t after = REG_DOCS(f->s, "big", "[{\"id\":7777777,\"title\":\"behind\"}]");
    CHECK(wait_processing(f->s, c0), "creation never ran");
    struct tinfo ta, tc;
    tinfo_get_at(f->s, after, &ta, __LINE__);
    CHECK(ta.status == FOLIO_STATUS_ENQUEUED, "the task behind the creation is %s",
          folio_task_status_name(ta.status));
    json_decref(ta.json);
    json_decref(WAIT_OK(f->s, c0));
    json_decref(WAIT_OK(f->s, after));
    tinfo_get_at(f->s, c0, &tc, __LINE__);
    tinfo_get_at(f->s, after, &ta, __LINE__);
    CHECK(ta.started_at_ns >= tc.finished_at_ns,
          "the index's task started before the snapshot ended");
    struct folio_snapshot_manifest *m =
        MANIFEST(f, jstr(json_object_get(tc.json, "details"), "snapshotPath"));
    CHECK(m->document_count == 6000, "%" PRIu64 " documents in the snapshot", m->document_count);
    folio_snapshot_manifest_free(m);
    char *top = tu_path(f->snap, "indexes/big");
    char *p = tu_path(f->snap, jstr(json_object_get(tc.json, "details"), "snapshotPath"));
    CHECK(unlink(p) == 0, "unlink %s", p);
    folio_free(p);
    folio_free(top);
    json_decref(ta.json);
    json_decref(tc.json);

    uint32_t c = REG_CREATE_SNAPSHOT(f->s, "big");
    struct tinfo t;
    for (int i = 0; i < 60000; i++) {
        tinfo_get_at(f->s, c, &t, __LINE__);
        json_decref(t.json);
        if (t.status != FOLIO_STATUS_ENQUEUED)
            break;
        usleep(1000);
    }
    CHECK(t.status == FOLIO_STATUS_PROCESSING, "creation is %s", folio_task_status_name(t.status));
    struct folio_sched_query q;
    memset(&q, 0, sizeof(q));
    uint32_t uids[1] = {c};
    q.uids = uids;
    q.uid_count = 1;
    q.uids_set = true;
    struct folio_sched_request r = rq(FOLIO_KIND_TASK_CANCELATION, NULL);
    r.filter = &q;
    r.query = folio_str_c("?uids=1");
    uint32_t cancel = REG(f->s, r);
    json_decref(WAIT_OK(f->s, cancel));
    CHECK(folio_sched_wait_task(f->s, c, WAIT_MS) == 0, "wait");
    tinfo_get_at(f->s, c, &t, __LINE__);
    CHECK(t.status == FOLIO_STATUS_CANCELED, "creation is %s: %s", folio_task_status_name(t.status),
          jdump(t.json));
    json_decref(t.json);
    CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "idle");
    bool temp;
    size_t n = archives(f, "big", &temp);
    CHECK(n == 0, "%zu files in the snapshot directory after a canceled creation", n);
    TMP_EMPTY(f->db);
    /* the index is free again */
    json_decref(WAIT_OK(f->s, REG_DOCS(f->s, "big", "[{\"id\":1,\"title\":\"x\"}]")));
}

/* Waits until task uid is processing (polling the state; the work is slow on purpose). */
static bool
wait_processing(struct folio_sched *s, uint32_t uid)
{
    for (int i = 0; i < 120000; i++) {
        struct tinfo t;
        tinfo_get_at(s, uid, &t, __LINE__);
        json_decref(t.json);
        if (t.status == FOLIO_STATUS_PROCESSING)
            return true;
        if (t.status != FOLIO_STATUS_ENQUEUED)
            return false;
        usleep(1000);
    }
    return false;
}

/*
 * Two batches processing at once (one per lane): both visible with their
 * progress steps, a checkpoint written meanwhile, close while both run; the
 * state rebuilt from that checkpoint equals a replay from seq 1, and the
 * interrupted creation runs again after reopening.
 */
static void
test_two_batches_checkpoint(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-two");
    f->opts.snapshot_level = 19;
    fx_open(f, false);
    build_index(f->s, "big", 6000, 1000, false);
    json_decref(WAIT_OK(f->s, REG(f->s, rq(FOLIO_KIND_INDEX_CREATION, "b"))));
    char *docs = make_docs(0, 30000, 200, 5);
    folio_sched_pause(f->s);
    uint32_t c = REG_CREATE_SNAPSHOT(f->s, "big");
    uint32_t bd = REG_DOCS(f->s, "b", docs);
    folio_free(docs);
    folio_sched_resume(f->s);
    CHECK(wait_processing(f->s, c) && wait_processing(f->s, bd), "both processing");
    /* both batches, with steps, as GET /batches shows them */
    struct tinfo tc, tb;
    tinfo_get_at(f->s, c, &tc, __LINE__);
    tinfo_get_at(f->s, bd, &tb, __LINE__);
    CHECK(tc.status == FOLIO_STATUS_PROCESSING && tb.status == FOLIO_STATUS_PROCESSING,
          "creation %s, documents %s", folio_task_status_name(tc.status),
          folio_task_status_name(tb.status));
    json_decref(tc.json);
    json_decref(tb.json);
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    struct folio_batch_view bc, bb;
    int rc1 = folio_sched_batch_get(st, tc.batch_uid, &bc);
    int rc2 = folio_sched_batch_get(st, tb.batch_uid, &bb);
    bool unfinished = rc1 == 0 && rc2 == 0 && !bc.finished && !bb.finished;
    bool steps = rc1 == 0 && bc.step_count > 0;
    folio_sched_read_unlock(f->s);
    CHECK(unfinished, "two unfinished batches (%d %d)", rc1, rc2);
    (void)steps; /* the step may still be on its way to the journal */
    struct folio_sched_diag d;
    int rc = folio_sched_checkpoint_now(f->s, &d);
    CHECK(rc == 0, "checkpoint: %s %s", folio_err_name(rc), d.reason);
    folio_sched_close(f->s); /* stops the creation: requeued */
    f->s = NULL;

    char *jdir = tu_path(f->db, "journal"), *cdir = tu_path(f->db, "checkpoints");
    struct folio_sched_state *from_ckpt = NULL, *from_scratch = NULL;
    struct folio_sched_replay_info ri;
    rc = folio_sched_state_replay(jdir, cdir, &from_ckpt, &ri, &d);
    CHECK(rc == 0 && ri.checkpoint_seq > 0, "replay from checkpoint: %s %s", folio_err_name(rc),
          d.reason);
    rc = folio_sched_state_replay(jdir, NULL, &from_scratch, NULL, &d);
    CHECK(rc == 0, "replay from scratch: %s %s", folio_err_name(rc), d.reason);
    char diff[512] = "";
    CHECK(folio_sched_state_equal(from_ckpt, from_scratch, diff, sizeof(diff)),
          "checkpoint + tail differs from a full replay: %s", diff);
    folio_sched_state_free(from_ckpt);
    folio_sched_state_free(from_scratch);
    folio_free(jdir);
    folio_free(cdir);

    fx_open(f, false);
    json_t *t = WAIT_OK(f->s, c);
    char *rel = CHECK_ARCHIVE(f, t, "big");
    json_decref(t);
    json_decref(WAIT_OK(f->s, bd));
    bool temp;
    CHECK(archives(f, "big", &temp) == 1 && !temp, "one archive");
    TMP_EMPTY(f->db);
    folio_free(rel);
}

/* ---- crashes --------------------------------------------------------------------------- */

struct crash_args {
    struct fx *f;
    const char *point;
    struct folio_sched_request req;
};

static void
crash_child(void *arg)
{
    struct crash_args *a = arg;
    folio_crash_point_set(a->point);
    struct folio_sched_opts o = a->f->opts;
    struct folio_sched *s = NULL;
    struct folio_sched_diag d;
    if (folio_sched_open(&o, &s, NULL, &d) != 0)
        _exit(3);
    struct folio_sched_registered out;
    struct folio_sched_error e;
    if (folio_sched_register(s, &a->req, &out, &e) != 0)
        _exit(4);
    folio_sched_wait_task(s, out.task_uid, WAIT_MS);
    /* the crash point may come after the outcome is applied: wait for the lane to finish */
    folio_sched_wait_idle(s, WAIT_MS);
    _exit(5); /* the crash point did not fire */
}

static void
crash_at(struct fx *f, const char *point, struct folio_sched_request req)
{
    struct crash_args a = {f, point, req};
    int status = tu_run_child(crash_child, &a);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child at crash point %s: status %#x",
          point, status);
}

/* Crash points of a creation: the task is requeued, no partial file stays, then it succeeds. */
static void
test_crash_creation(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-crash-create");
    fx_open(f, false);
    build_index(f->s, "books", 500, 100, true);
    struct idump src;
    IDUMP(f->s, "books", &src);
    folio_sched_close(f->s);
    f->s = NULL;
    static const char *const points[] = {"batch-started", "snapshot-copied", "snapshot-written",
                                         "outcome-durable"};
    size_t expected = 0;
    for (unsigned i = 0; i < FOLIO_ARRAY_LEN(points); i++) {
        crash_at(f, points[i], rq(FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION, "books"));
        /* a crash after the rename leaves one complete archive of the interrupted run */
        if (strcmp(points[i], "snapshot-written") == 0 || strcmp(points[i], "outcome-durable") == 0)
            expected++;
        fx_open(f, true);
        bool finished_before = strcmp(points[i], "outcome-durable") == 0;
        CHECK(f->info.tasks_requeued == (finished_before ? 0u : 1u), "%s: %u requeued", points[i],
              f->info.tasks_requeued);
        TMP_EMPTY(f->db);
        bool temp;
        size_t n = archives(f, "books", &temp);
        CHECK(!temp, "%s: a temporary or partial archive is left", points[i]);
        CHECK(n == expected, "%s: %zu archives, want %zu", points[i], n, expected);
        folio_sched_resume(f->s);
        CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "idle");
        if (!finished_before)
            expected++;
        n = archives(f, "books", &temp);
        CHECK(n == expected && !temp, "%s: %zu archives after the rerun, want %zu", points[i], n,
              expected);
        folio_sched_close(f->s);
        f->s = NULL;
    }
    /* every archive imports to the same data */
    fx_open(f, false);
    char *top = tu_path(f->snap, "indexes/books");
    DIR *d = opendir(top);
    struct dirent *de;
    int k = 0;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char rel[512], target[32];
        snprintf(rel, sizeof(rel), "indexes/books/%s", de->d_name);
        snprintf(target, sizeof(target), "copy%d", k++);
        json_decref(WAIT_OK(f->s, REG(f->s, rq_import(rel, NULL, target))));
        struct idump b;
        IDUMP(f->s, target, &b);
        SAME_DATA(&src, &b);
        idump_free(&b);
    }
    if (d)
        closedir(d);
    CHECK(k == (int)expected, "%d archives imported", k);
    folio_free(top);
    idump_free(&src);
}

/* A temporary archive left in the snapshot directory goes at start-up, recorded. */
static void
test_leftover_temp_archive(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-leftover");
    fx_open(f, false);
    build_index(f->s, "books", 10, 20, false);
    json_t *t = WAIT_OK(f->s, REG_CREATE_SNAPSHOT(f->s, "books"));
    char *rel = CHECK_ARCHIVE(f, t, "books");
    json_decref(t);
    folio_sched_close(f->s);
    f->s = NULL;
    /* the name folio_snapshot_write gives its temporary file: <dest>.tmp-<random> */
    char tmpname[600];
    snprintf(tmpname, sizeof(tmpname), "%s.tmp-0123456789abcdef", strrchr(rel, '/') + 1);
    CHECK(folio_snapshot_is_temp_name(tmpname), "%s is not a temporary name", tmpname);
    char *dir = tu_path(f->snap, "indexes/books");
    char *p = tu_path(dir, tmpname);
    tu_write_file(p, "partial", 7);
    fx_open(f, false);
    CHECK(f->info.files_removed == 1, "%u files removed", f->info.files_removed);
    CHECK(tu_file_size(p) < 0, "%s is still there", p);
    bool temp;
    CHECK(archives(f, "books", &temp) == 1 && !temp, "the real archive stays");
    folio_free(p);
    folio_free(dir);
    folio_free(rel);
}

/*
 * Crash points of an import: after start-up there is no index, no mapping
 * entry and no file of the import, or the complete import; the requeued task
 * then succeeds.
 */
static void
test_crash_import(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-crash-import");
    fx_open(f, false);
    build_index(f->s, "books", 400, 100, true);
    json_t *t = WAIT_OK(f->s, REG_CREATE_SNAPSHOT(f->s, "books"));
    char *rel = CHECK_ARCHIVE(f, t, "books");
    json_decref(t);
    struct idump src;
    IDUMP(f->s, "books", &src);
    folio_sched_close(f->s);
    f->s = NULL;
    static const char *const points[] = {"batch-started", "import-extracted", "import-moved",
                                         "outcome-durable"};
    for (unsigned i = 0; i < FOLIO_ARRAY_LEN(points); i++) {
        char target[32];
        snprintf(target, sizeof(target), "imp%u", i);
        fx_open(f, true);
        char *idx0 = sub_dump(f->db, "indexes");
        folio_sched_close(f->s);
        f->s = NULL;
        crash_at(f, points[i], rq_import(rel, "books", target));
        fx_open(f, true);
        bool done = strcmp(points[i], "outcome-durable") == 0;
        char *idx1 = sub_dump(f->db, "indexes");
        TMP_EMPTY(f->db);
        if (!done) {
            CHECK(!mapping_get(f->s, target, NULL, NULL), "%s: %s is in the mapping", points[i],
                  target);
            CHECK(strcmp(idx0, idx1) == 0, "%s: indexes/ %s, was %s", points[i], idx1, idx0);
            CHECK(f->info.tasks_requeued == 1, "%s: %u requeued", points[i],
                  f->info.tasks_requeued);
        } else {
            CHECK(mapping_get(f->s, target, NULL, NULL), "%s: %s is not in the mapping", points[i],
                  target);
        }
        folio_sched_resume(f->s);
        CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "idle");
        struct idump b;
        IDUMP(f->s, target, &b);
        SAME_DATA(&src, &b);
        idump_free(&b);
        folio_free(idx0);
        folio_free(idx1);
        folio_sched_close(f->s);
        f->s = NULL;
    }
    idump_free(&src);
    folio_free(rel);
}

static void
two_lanes_child(void *arg)
{
    struct fx *f = arg;
    struct folio_sched *s = NULL;
    struct folio_sched_diag d;
    struct folio_sched_opts o = f->opts;
    o.paused = true;
    if (folio_sched_open(&o, &s, NULL, &d) != 0)
        _exit(3);
    struct folio_sched_registered out;
    struct folio_sched_error e;
    struct folio_sched_request r = rq(FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION, "big");
    if (folio_sched_register(s, &r, &out, &e) != 0)
        _exit(4);
    uint32_t c = out.task_uid;
    char *docs = make_docs(0, 20000, 200, 3);
    r = rq(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, "b");
    r.payload = docs;
    r.payload_len = strlen(docs);
    if (folio_sched_register(s, &r, &out, &e) != 0)
        _exit(4);
    folio_sched_resume(s);
    for (int i = 0; i < 120000; i++) {
        const struct folio_sched_state *st = folio_sched_read_lock(s);
        struct folio_task_view a, b;
        bool both = folio_sched_task_get(st, c, &a) == 0 &&
                    folio_sched_task_get(st, out.task_uid, &b) == 0 &&
                    a.status == FOLIO_STATUS_PROCESSING && b.status == FOLIO_STATUS_PROCESSING;
        folio_sched_read_unlock(s);
        if (both)
            kill(getpid(), SIGKILL);
        usleep(1000);
    }
    _exit(5);
}

/* A crash while both lanes run a batch: both tasks are resolved at start-up, then succeed once. */
static void
test_crash_two_lanes(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-crash-two");
    f->opts.snapshot_level = 19;
    fx_open(f, false);
    build_index(f->s, "big", 4000, 1000, false);
    json_decref(WAIT_OK(f->s, REG(f->s, rq(FOLIO_KIND_INDEX_CREATION, "b"))));
    folio_sched_close(f->s);
    f->s = NULL;
    int status = tu_run_child(two_lanes_child, f);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %#x", status);
    fx_open(f, true);
    CHECK(f->info.tasks_requeued + f->info.tasks_finished == 2, "%u requeued, %u finished",
          f->info.tasks_requeued, f->info.tasks_finished);
    CHECK(f->info.tasks_requeued >= 1, "the creation was not requeued");
    TMP_EMPTY(f->db);
    folio_sched_resume(f->s);
    CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "idle");
    bool temp;
    CHECK(archives(f, "big", &temp) == 1 && !temp, "one archive");
    struct idump b;
    IDUMP(f->s, "b", &b);
    CHECK(b.count == 20000, "%" PRIu64 " documents in b", b.count);
    idump_free(&b);
}

/*
 * The snapshot path is resolved inside the snapshot directory when the
 * import is registered; by the time it runs a component may have been
 * swapped for a symbolic link that leaves the directory. Processing must not
 * follow it (DESIGN §11, invariant 6): the task fails, nothing is imported.
 */
static void
test_import_path_swapped(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-swap");
    fx_open(f, false);
    build_index(f->s, "books", 40, 40, false);
    json_t *t = WAIT_OK(f->s, REG_CREATE_SNAPSHOT(f->s, "books"));
    char *rel = CHECK_ARCHIVE(f, t, "books");
    json_decref(t);
    /* The same archives outside the snapshot directory. */
    char *outside = tu_path(f->root, "outside");
    CHECK(mkdir(outside, 0700) == 0, "mkdir %s", outside);
    char *in_idx = tu_path(f->snap, "indexes"), *out_idx = tu_path(outside, "indexes");
    char *real_idx = tu_path(f->snap, "indexes-real");
    tu_copy_tree(in_idx, out_idx);
    char *map0 = mapping_dump(f->s);
    char *idx0 = sub_dump(f->db, "indexes");

    /* A directory component swapped for a link to the outside copy. */
    folio_sched_pause(f->s);
    uint32_t dir_swap = REG(f->s, rq_import(rel, NULL, "swapped-dir"));
    CHECK(rename(in_idx, real_idx) == 0, "rename: %s", strerror(errno));
    CHECK(symlink(out_idx, in_idx) == 0, "symlink: %s", strerror(errno));
    folio_sched_resume(f->s);
    json_decref(WAIT_FAILED(f->s, dir_swap, "invalid_snapshot_path", "invalid_request"));
    CHECK(unlink(in_idx) == 0 && rename(real_idx, in_idx) == 0, "restore: %s", strerror(errno));

    /* The archive itself swapped for a link to the outside copy. */
    char *file = tu_path(f->snap, rel), *out_file = tu_path(outside, rel);
    folio_sched_pause(f->s);
    uint32_t file_swap = REG(f->s, rq_import(rel, NULL, "swapped-file"));
    CHECK(unlink(file) == 0 && symlink(out_file, file) == 0, "swap: %s", strerror(errno));
    folio_sched_resume(f->s);
    json_decref(WAIT_FAILED(f->s, file_swap, "invalid_snapshot_path", "invalid_request"));

    char *map1 = mapping_dump(f->s), *idx1 = sub_dump(f->db, "indexes");
    CHECK(strcmp(map0, map1) == 0, "mapping %s, was %s", map1, map0);
    CHECK(strcmp(idx0, idx1) == 0, "indexes/ %s, was %s", idx1, idx0);
    TMP_EMPTY(f->db);
    folio_free(map0);
    folio_free(map1);
    folio_free(idx0);
    folio_free(idx1);
    folio_free(file);
    folio_free(out_file);
    folio_free(in_idx);
    folio_free(out_idx);
    folio_free(real_idx);
    folio_free(outside);
    folio_free(rel);
}

/* Writes snap/name: the index archive rel re-made with manifest fields changed by edit. */
static void
remade_archive(struct fx *f, const char *rel, const char *name,
               void (*edit)(struct folio_snapshot_manifest *m, const char *src))
{
    char *src = tu_path(f->root, "remade-src");
    tu_rmrf(src);
    CHECK(mkdir(src, 0700) == 0, "mkdir %s", src);
    char *path = tu_path(f->snap, rel);
    struct folio_snapshot_manifest *m = NULL;
    struct folio_snapshot_error err;
    memset(&err, 0, sizeof(err));
    int rc = folio_snapshot_extract(path, src, NULL, &m, NULL, &err);
    CHECK(rc == 0, "extract %s: %s", path, err.message);
    edit(m, src);
    rc = folio_snapshot_hash_files(src, m, NULL, NULL, NULL, &err);
    CHECK(rc == 0, "hash: %s", err.message);
    char *dest = tu_path(f->snap, name);
    rc = folio_snapshot_write(dest, m, src, NULL, NULL, &err);
    CHECK(rc == 0, "write %s: %s", dest, err.message);
    folio_snapshot_manifest_free(m);
    tu_rmrf(src);
    folio_free(src);
    folio_free(path);
    folio_free(dest);
}

/* An extra file next to data.mdb, listed in the manifest. */
static void
edit_extra_file(struct folio_snapshot_manifest *m, const char *src)
{
    char *p = tu_path(src, "lock.mdb");
    tu_write_file(p, "not a lock file", 15);
    folio_free(p);
    m->files = folio_reallocarray(m->files, 2, sizeof(*m->files));
    memset(&m->files[1], 0, sizeof(m->files[1]));
    m->files[1].name = folio_strdup("lock.mdb");
    m->file_count = 2;
}

/* Settings in the manifest that are not the index's. */
static void
edit_settings(struct folio_snapshot_manifest *m, const char *src)
{
    (void)src;
    folio_free(m->settings_json);
    m->settings_json = folio_strdup("{\"filterableAttributes\":[\"title\"]}");
}

/*
 * An index archive is `data.mdb` and a manifest that describes it: one with
 * another file, or whose settings are not the env's, is refused
 * (snapshot_invalid) and leaves nothing, though every checksum matches.
 */
static void
test_import_foreign_content(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-foreign");
    fx_open(f, false);
    build_index(f->s, "books", 40, 40, true);
    json_t *t = WAIT_OK(f->s, REG_CREATE_SNAPSHOT(f->s, "books"));
    char *rel = CHECK_ARCHIVE(f, t, "books");
    json_decref(t);
    remade_archive(f, rel, "extra.idx.snapshot", edit_extra_file);
    remade_archive(f, rel, "settings.idx.snapshot", edit_settings);
    char *map0 = mapping_dump(f->s);
    char *idx0 = sub_dump(f->db, "indexes");
    uint32_t extra = REG(f->s, rq_import("extra.idx.snapshot", NULL, "extra"));
    uint32_t sett = REG(f->s, rq_import("settings.idx.snapshot", NULL, "sett"));
    t = WAIT_FAILED(f->s, extra, "snapshot_invalid", "invalid_request");
    CHECK(strstr(jstr(json_object_get(t, "error"), "message"), "lock.mdb") != NULL, "%s", jdump(t));
    json_decref(t);
    t = WAIT_FAILED(f->s, sett, "snapshot_invalid", "invalid_request");
    CHECK(strstr(jstr(json_object_get(t, "error"), "message"), "settings") != NULL, "%s", jdump(t));
    json_decref(t);
    /* the archive re-made unchanged imports: the refusals are about content, not re-making */
    json_decref(WAIT_OK(f->s, REG(f->s, rq_import(rel, NULL, "same"))));
    char *map1 = mapping_dump(f->s), *idx1 = sub_dump(f->db, "indexes");
    char uuid[37];
    CHECK(mapping_get(f->s, "same", uuid, NULL), "same imported");
    CHECK(!mapping_get(f->s, "extra", NULL, NULL) && !mapping_get(f->s, "sett", NULL, NULL),
          "mapping %s, was %s", map1, map0);
    CHECK(strlen(idx1) == strlen(idx0) + strlen(uuid) + 1, "indexes/ %s, was %s", idx1, idx0);
    char *same = tu_path(f->db, "indexes");
    char *sdir = tu_path(same, uuid);
    char *files = dir_dump(sdir);
    CHECK(strcmp(files, "data.mdb;") == 0 || strcmp(files, "data.mdb;lock.mdb;") == 0, "%s",
          files);
    TMP_EMPTY(f->db);
    folio_free(files);
    folio_free(same);
    folio_free(sdir);
    folio_free(map0);
    folio_free(map1);
    folio_free(idx0);
    folio_free(idx1);
    folio_free(rel);
}

/*
 * Start-up removes temporary archives below <snapshot-dir>/indexes/<uid>/,
 * but never through a link: neither indexes/<uid> nor indexes itself may
 * lead it to delete a file outside the snapshot directory (invariant 6).
 */
static void
test_leftovers_not_through_links(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-leftover-link");
    char *outside = tu_path(f->root, "outside");
    CHECK(mkdir(outside, 0700) == 0, "mkdir %s", outside);
    char *victim = tu_path(outside, "x.idx.snapshot.tmp-0123456789abcdef");
    tu_write_file(victim, "keep", 4);
    char *top = tu_path(f->snap, "indexes");
    CHECK(mkdir(top, 0700) == 0, "mkdir %s", top);
    char *link = tu_path(top, "evil");
    CHECK(symlink(outside, link) == 0, "symlink: %s", strerror(errno));
    fx_open(f, false);
    CHECK(f->info.files_removed == 0, "%u files removed", f->info.files_removed);
    CHECK(tu_file_size(victim) == 4, "%s was removed through indexes/evil", victim);
    folio_sched_close(f->s);
    f->s = NULL;
    /* indexes itself a link to the outside */
    char *real_out = tu_path(outside, "sub");
    CHECK(mkdir(real_out, 0700) == 0, "mkdir");
    char *victim2 = tu_path(real_out, "y.idx.snapshot.tmp-0123456789abcdef");
    tu_write_file(victim2, "keep", 4);
    tu_rmrf(top);
    CHECK(symlink(outside, top) == 0, "symlink: %s", strerror(errno));
    fx_open(f, false);
    CHECK(f->info.files_removed == 0, "%u files removed", f->info.files_removed);
    CHECK(tu_file_size(victim2) == 4, "%s was removed through indexes", victim2);
    folio_free(victim);
    folio_free(victim2);
    folio_free(real_out);
    folio_free(link);
    folio_free(top);
    folio_free(outside);
}

/*
 * A creation writes its archive below <snapshot-dir>/indexes/<uid>/, never
 * through a link planted there: the task fails and nothing is written
 * outside the snapshot directory (invariant 6).
 */
static void
test_create_not_through_links(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-create-link");
    fx_open(f, false);
    build_index(f->s, "books", 10, 20, false);
    char *outside = tu_path(f->root, "outside");
    CHECK(mkdir(outside, 0700) == 0, "mkdir %s", outside);
    char *top = tu_path(f->snap, "indexes");
    CHECK(mkdir(top, 0700) == 0, "mkdir %s", top);
    char *link = tu_path(top, "books");
    CHECK(symlink(outside, link) == 0, "symlink: %s", strerror(errno));
    json_decref(WAIT_FAILED(f->s, REG_CREATE_SNAPSHOT(f->s, "books"),
                            "single_index_snapshot_creation_failed", "internal"));
    char *out = dir_dump(outside);
    CHECK(out[0] == '\0', "written outside the snapshot directory: %s", out);
    folio_free(out);
    /* indexes itself a link */
    CHECK(unlink(link) == 0 && rmdir(top) == 0 && symlink(outside, top) == 0, "relink: %s",
          strerror(errno));
    json_decref(WAIT_FAILED(f->s, REG_CREATE_SNAPSHOT(f->s, "books"),
                            "single_index_snapshot_creation_failed", "internal"));
    out = dir_dump(outside);
    CHECK(out[0] == '\0', "written outside the snapshot directory: %s", out);
    folio_free(out);
    TMP_EMPTY(f->db);
    folio_free(link);
    folio_free(top);
    folio_free(outside);
}

/*
 * LMDB's free-page list is read by write transactions only, so a check that
 * opens an env read-only cannot vouch for it. An archive whose env carries a
 * forged free list (one record claiming 8,388,608 free pages and holding
 * one: the write that allocates a page reads past it) passes every read-only
 * check; the import's first write to it (the marker) then crashed the
 * process. The import must refuse it, in its check child, and the scheduler
 * must go on: the env a server opens is a compacted copy with no free list.
 */
#define LMDB_PAGE 4096u
#define META_OFF 16u               /* MDB_meta after the page header */
#define META_FREE_DB (META_OFF + 24u)
#define META_LAST_PG (META_OFF + 120u)
#define META_TXNID (META_OFF + 128u)

static uint64_t
le64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void
set64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static void
set16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

/*
 * Appends a free-list leaf to dir/data.mdb and makes the newest meta page
 * point at it. Forged: its one record claims 8,388,608 free page numbers and
 * holds one. Honest: a free page is appended too, and the record lists it
 * alone (a list as a non-compacted env has one). Returns the new file size.
 */
static size_t
forge_free_list(const char *dir, bool honest)
{
    char *path = tu_path(dir, "data.mdb");
    size_t len = 0;
    uint8_t *old = tu_read_file(path, &len);
    CHECK(old != NULL && len >= 2 * LMDB_PAGE && len % LMDB_PAGE == 0, "data.mdb of %zu bytes",
          len);
    uint8_t *db = folio_calloc(1, len + 2 * LMDB_PAGE);
    memcpy(db, old, len);
    folio_free(old);
    uint8_t *meta = le64_at(db + META_TXNID) >= le64_at(db + LMDB_PAGE + META_TXNID)
                        ? db
                        : db + LMDB_PAGE;
    CHECK(le64_at(meta + META_LAST_PG) + 1 == len / LMDB_PAGE, "last page %" PRIu64 " of %zu",
          le64_at(meta + META_LAST_PG), len / LMDB_PAGE);
    uint64_t free_pg = len / LMDB_PAGE;
    if (honest) {
        set64(db + len, free_pg); /* a page nothing uses */
        len += LMDB_PAGE;
    }
    uint64_t pg = len / LMDB_PAGE;
    uint8_t *page = db + len;
    set64(page, pg);                          /* mp_pgno */
    set16(page + 10, 0x02);                   /* P_LEAF */
    set16(page + 12, 16 + 2);                 /* mp_lower: one node pointer */
    uint16_t node = LMDB_PAGE - (8 + 8 + 16); /* node header, txnid key, IDL of 2 words */
    set16(page + 14, node);                   /* mp_upper */
    set16(page + 16, node);                   /* mp_ptrs[0] */
    set16(page + node, 16);                   /* data size */
    set16(page + node + 6, 8);                /* key size */
    set64(page + node + 8, 1);                /* key: freed by txn 1, so any writer may use it */
    set64(page + node + 16, honest ? 1 : 8388608); /* the IDL's count... */
    set64(page + node + 24, honest ? free_pg : 3);  /* ...and its one page number */
    uint8_t *free_db = meta + META_FREE_DB;
    set16(free_db + 6, 1);                    /* depth */
    set64(free_db + 16, 1);                   /* leaf pages */
    set64(free_db + 32, 1);                   /* entries */
    set64(free_db + 40, pg);                  /* root */
    set64(meta + META_LAST_PG, pg);
    len += LMDB_PAGE;
    tu_write_file(path, db, len);
    folio_free(db);
    folio_free(path);
    return len;
}

/* Writes snap/name: the archive at rel with its env's free list forged (or honest); its env's size. */
static size_t
forged_archive(struct fx *f, const char *rel, const char *name, bool honest)
{
    char *src = tu_path(f->snap, rel);
    char *work = tu_path(f->root, name);
    CHECK(mkdir(work, 0700) == 0, "mkdir %s", work);
    struct folio_snapshot_manifest *m = NULL;
    struct folio_snapshot_error err;
    memset(&err, 0, sizeof(err));
    CHECK(folio_snapshot_extract(src, work, NULL, &m, NULL, &err) == 0, "extract: %s",
          err.message);
    size_t size = forge_free_list(work, honest);
    CHECK(folio_snapshot_hash_files(work, m, NULL, NULL, NULL, &err) == 0, "hash: %s",
          err.message);
    struct folio_snapshot_write_opts wo;
    folio_snapshot_write_opts_default(&wo);
    wo.threads = 1;
    char *dest = tu_path(f->snap, name);
    CHECK(folio_snapshot_write(dest, m, work, &wo, NULL, &err) == 0, "write: %s", err.message);
    folio_snapshot_manifest_free(m);
    memset(&err, 0, sizeof(err));
    CHECK(folio_snapshot_verify(dest, NULL, NULL, NULL, &err) == 0,
          "the archive itself is sound: %s", err.message);
    folio_free(dest);
    folio_free(work);
    folio_free(src);
    return size;
}

static void
test_import_forged_free_list(void **state)
{
    (void)state;
    struct fx *f = fx_new("snap-freelist");
#ifdef FOLIO_FOLIOD_PATH
    f->opts.index_check_program = FOLIO_FOLIOD_PATH; /* a crash in the check ends only the child */
#endif
    fx_open(f, false);
    build_index(f->s, "books", 300, 80, true);
    json_t *t = WAIT_OK(f->s, REG_CREATE_SNAPSHOT(f->s, "books"));
    char *rel = CHECK_ARCHIVE(f, t, "books");
    json_decref(t);
    forged_archive(f, rel, "forged.idx.snapshot", false);
    size_t honest_size = forged_archive(f, rel, "honest.idx.snapshot", true);

    char *map0 = mapping_dump(f->s);
    t = WAIT_FAILED(f->s, REG(f->s, rq_import("forged.idx.snapshot", NULL, "forged")),
                    "snapshot_invalid", "invalid_request");
    json_decref(t);
    char *map1 = mapping_dump(f->s);
    CHECK(strcmp(map0, map1) == 0, "the mapping changed: %s -> %s", map0, map1);
    TMP_EMPTY(f->db);

    /* An honest free list imports; the env put in place is a compacted copy, and takes writes. */
    json_decref(WAIT_OK(f->s, REG(f->s, rq_import("honest.idx.snapshot", NULL, "honest"))));
    char uuid[37];
    CHECK(mapping_get(f->s, "honest", uuid, NULL), "honest is not in the mapping");
    char *idx_dir = tu_path(f->db, "indexes");
    char *env_dir = tu_path(idx_dir, uuid);
    char *env = tu_path(env_dir, "data.mdb");
    /*
     * Page n + 1 held the list's leaf. Had the archive's file been kept, the
     * import's marker write would have left that page alone (pages it frees
     * are reused only after it commits), so the record would still be there.
     */
    size_t env_len = 0;
    uint8_t *bytes = tu_read_file(env, &env_len);
    uint64_t n = honest_size / LMDB_PAGE - 2;
    const uint8_t *leaf = bytes + (n + 1) * LMDB_PAGE;
    uint16_t node = LMDB_PAGE - (8 + 8 + 16);
    bool kept = env_len >= (n + 2) * LMDB_PAGE && le64_at(leaf) == n + 1 &&
                le64_at(leaf + node + 8) == 1 && le64_at(leaf + node + 16) == 1 &&
                le64_at(leaf + node + 24) == n;
    CHECK(!kept, "the imported env is the archive's file, free list and all (%zu bytes)",
          env_len);
    folio_free(bytes);
    char *dump = dir_dump(env_dir);
    CHECK(strstr(dump, ".compact") == NULL, "%s holds %s", env_dir, dump);
    folio_free(dump);
    char *docs = make_docs(2000, 10, 40, 5);
    json_decref(WAIT_OK(f->s, REG_DOCS(f->s, "honest", docs)));
    folio_free(docs);
    /* The scheduler goes on with the other indexes too. */
    docs = make_docs(1000, 10, 40, 3);
    json_decref(WAIT_OK(f->s, REG_DOCS(f->s, "books", docs)));
    folio_free(docs);
    TMP_EMPTY(f->db);
    folio_free(env);
    folio_free(env_dir);
    folio_free(idx_dir);
    folio_free(map0);
    folio_free(map1);
    folio_free(rel);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_create_import_roundtrip, teardown),
        cmocka_unit_test_teardown(test_empty_and_one, teardown),
        cmocka_unit_test_teardown(test_import_errors, teardown),
        cmocka_unit_test_teardown(test_leftover_temp_archive, teardown),
        cmocka_unit_test_teardown(test_lanes, teardown),
        cmocka_unit_test_teardown(test_creation_waits_for_its_index, teardown),
        cmocka_unit_test_teardown(test_cancel_creation, teardown),
        cmocka_unit_test_teardown(test_two_batches_checkpoint, teardown),
        cmocka_unit_test_teardown(test_crash_creation, teardown),
        cmocka_unit_test_teardown(test_crash_import, teardown),
        cmocka_unit_test_teardown(test_crash_two_lanes, teardown),
        cmocka_unit_test_teardown(test_import_path_swapped, teardown),
        cmocka_unit_test_teardown(test_import_forged_free_list, teardown),
        cmocka_unit_test_teardown(test_import_foreign_content, teardown),
        cmocka_unit_test_teardown(test_leftovers_not_through_links, teardown),
        cmocka_unit_test_teardown(test_create_not_through_links, teardown),
    };
    if (getenv("FOLIO_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("FOLIO_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
