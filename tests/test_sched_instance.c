/*
 * Whole-instance snapshots (snapshotCreation, folio_sched_import_instance;
 * docs/scheduler.md "Whole-instance snapshots") on real data directories:
 * a real journal, real LMDB indexes, real archives, real crashes.
 *
 * Covered:
 *  - round trip: two indexes with documents and settings, finished tasks (one
 *    failed), enqueued tasks (with content files) and a snapshotCreation
 *    task; the archive imported into a new db path opens with the same tasks
 *    (status, kind, details, error, batch, dates: the JSON views captured
 *    before the snapshot ran), the same indexes and documents, a new
 *    instance uid; the snapshot task is finished (succeeded) at the first
 *    start and never run again (no archive in the new snapshot dir, no new
 *    batch for it); the enqueued tasks then run to completion; the journal
 *    verifies, and a replay from seq 1 equals the checkpoint + tail;
 *  - import rules (Meilisearch's): a missing file, with and without
 *    --ignore-missing-snapshot; a db path that holds data, with and without
 *    --ignore-snapshot-if-db-exists; an empty directory as db path; a corrupt
 *    and a truncated archive: nothing is created (no db path, no .import-tmp);
 *    the same through foliod's --import-snapshot, --ignore-missing-snapshot
 *    (by its FOLIO_* variable), --ignore-snapshot-if-db-exists, and usage
 *    errors of these and --schedule-snapshot;
 *  - a crash in the middle of creation (at the staged copy, or just before
 *    the archive's rename) leaves no archive; the next start removes the
 *    temporary archive and the staging directory and runs the snapshot again;
 *  - registrations from four threads while the snapshot is made: the
 *    archive is consistent (journal cut at a frame the checkpoint matches,
 *    content files of every enqueued task) and the restored instance runs
 *    every task it holds.
 *
 * FOLIO_TEST_KEEP=1 keeps the temporary directories.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
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
#include "folio/io.h"
#include "folio/index.h"
#include "folio/journal.h"
#include "folio/sched.h"
#include "folio/sched_run.h"
#include "testutil.h"

#define WAIT_MS 60000

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("%s:%d: check failed: %s\n    ", __FILE__, __LINE__, #cond);               \
            print_error(__VA_ARGS__);                                                              \
            print_error("\n");                                                                     \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* ---- fixture -------------------------------------------------------------------- */

static char *ROOT; /* the running test's temp dir */

static char *
fx_root(const char *tag)
{
    ROOT = tu_mkdtemp(tag);
    return ROOT;
}

static int
teardown(void **state)
{
    (void)state;
    if (ROOT == NULL)
        return 0;
    const char *keep = getenv("FOLIO_TEST_KEEP");
    if (keep && *keep && strcmp(keep, "0") != 0)
        print_message("kept %s\n", ROOT);
    else
        tu_rmrf(ROOT);
    folio_free(ROOT);
    ROOT = NULL;
    return 0;
}

static struct folio_sched *
open_at(const char *db, const char *snap, bool paused, struct folio_sched_open_info *info)
{
    struct folio_sched_opts o;
    folio_sched_opts_default(&o);
    o.db_path = db;
    o.snapshot_dir = snap;
    o.paused = paused;
    o.inline_payload_max = 64; /* bigger payloads go to content files */
    o.snapshot_threads = 1;
    /* A batch's outcome events are appended atomically (up to 2000 per append): with
       64 KiB segments (16 KiB frames) a batch must stay small enough to fit one frame. */
    o.batch_tasks_max = 32;
    /* small segments: archives hold sealed segments and a cut one */
    struct folio_journal_opts jo;
    folio_journal_opts_default(&jo);
    jo.segment_bytes = 64u << 10;
    o.journal = &jo;
    struct folio_sched *s = NULL;
    struct folio_sched_diag d = {0};
    struct folio_sched_open_info local;
    int rc = folio_sched_open(&o, &s, info != NULL ? info : &local, &d);
    CHECK(rc == 0, "open %s: %s (%s)", db, folio_err_name(rc), d.reason);
    return s;
}

static uint32_t
reg(struct folio_sched *s, struct folio_sched_request r)
{
    struct folio_sched_registered out;
    struct folio_sched_error err;
    int rc = folio_sched_register(s, &r, &out, &err);
    CHECK(rc == 0, "register %s: %s (%s)", folio_task_kind_name(r.kind), err.code, err.message);
    return out.task_uid;
}

static struct folio_sched_request
rq(enum folio_task_kind kind, const char *uid)
{
    struct folio_sched_request r;
    memset(&r, 0, sizeof(r));
    r.kind = kind;
    if (uid != NULL)
        r.index_uid = folio_str_c(uid);
    return r;
}

static struct folio_sched_request
rq_docs(const char *uid, const char *json)
{
    struct folio_sched_request r = rq(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, uid);
    r.payload = json;
    r.payload_len = strlen(json);
    r.format = FOLIO_INDEX_FORMAT_JSON;
    r.method = FOLIO_DOC_REPLACE;
    return r;
}

static struct folio_sched_request
rq_create(const char *uid, const char *pk)
{
    struct folio_sched_request r = rq(FOLIO_KIND_INDEX_CREATION, uid);
    r.primary_key = folio_str_c(pk);
    return r;
}

static struct folio_sched_request
rq_settings(const char *uid, const char *json)
{
    struct folio_sched_request r = rq(FOLIO_KIND_SETTINGS_UPDATE, uid);
    r.settings_json = json;
    r.settings_len = strlen(json);
    return r;
}

/* n documents {id: base+i, title: "<word> i", pad: ...}, large enough for a content file. */
static char *
docs_json(int base, int n, const char *word)
{
    size_t cap = (size_t)n * 200 + 16;
    char *p = folio_malloc(cap);
    size_t at = (size_t)snprintf(p, cap, "[");
    for (int i = 0; i < n; i++)
        at += (size_t)snprintf(p + at, cap - at,
                               "%s{\"id\":%d,\"title\":\"%s %d\",\"pad\":\"%0100d\"}", i ? "," : "",
                               base + i, word, i, i);
    snprintf(p + at, cap - at, "]");
    return p;
}

static void
wait_task(struct folio_sched *s, uint32_t uid)
{
    int rc = folio_sched_wait_task(s, uid, WAIT_MS);
    CHECK(rc == 0, "wait task %u: %s", uid, folio_err_name(rc));
}

/* The view of task uid (its fields that are not pointers stay valid unlocked). */
static struct folio_task_view
view_of(struct folio_sched *s, uint32_t uid)
{
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    struct folio_task_view v;
    int rc = folio_sched_task_get(st, uid, &v);
    folio_sched_read_unlock(s);
    CHECK(rc == 0, "task %u: %s", uid, folio_err_name(rc));
    return v;
}

static enum folio_task_status
status_of(struct folio_sched *s, uint32_t uid)
{
    return view_of(s, uid).status;
}

/* The JSON view of every task, one string per uid (NULL for gaps). */
static char **
task_views(struct folio_sched *s, uint32_t *count)
{
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    uint32_t n = (uint32_t)folio_sched_state_next_task_uid(st);
    char **out = folio_calloc(n + 1, sizeof(char *));
    for (uint32_t uid = 0; uid < n; uid++) {
        struct folio_task_view v;
        if (folio_sched_task_get(st, uid, &v) != 0)
            continue;
        json_t *j = NULL;
        CHECK(folio_task_view_to_json(&v, &j) == 0, "view of task %u", uid);
        char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
        out[uid] = folio_strdup(text);
        free(text);
        json_decref(j);
    }
    folio_sched_read_unlock(s);
    *count = n;
    return out;
}

static void
views_free(char **v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        folio_free(v[i]);
    folio_free(v);
}

static uint64_t
doc_count(struct folio_sched *s, const char *uid)
{
    struct folio_index *idx = NULL;
    int rc = folio_sched_index_acquire(s, uid, strlen(uid), &idx);
    CHECK(rc == 0, "acquire %s: %s", uid, folio_err_name(rc));
    struct folio_index_stats *stats = NULL;
    struct folio_index_error ierr;
    rc = folio_index_stats_get(idx, &stats, &ierr);
    CHECK(rc == 0, "stats %s: %s", uid, ierr.message);
    uint64_t n = stats->document_count;
    folio_index_stats_free(stats);
    folio_sched_index_release(s, idx);
    return n;
}

/* The document's title, or NULL if the document does not exist (caller frees). */
static char *
doc_title(struct folio_sched *s, const char *uid, const char *id)
{
    struct folio_index *idx = NULL;
    CHECK(folio_sched_index_acquire(s, uid, strlen(uid), &idx) == 0, "acquire %s", uid);
    char *json = NULL;
    size_t len = 0;
    struct folio_index_error ierr;
    int rc = folio_index_document_get(idx, id, NULL, 0, &json, &len, &ierr);
    folio_sched_index_release(s, idx);
    if (rc == FOLIO_E_NOT_FOUND || rc == FOLIO_E_DOCUMENT_NOT_FOUND)
        return NULL;
    CHECK(rc == 0, "get %s/%s: %s", uid, id, ierr.message);
    json_t *j = json_loadb(json, len, 0, NULL);
    folio_free(json);
    CHECK(j != NULL, "document %s does not parse", id);
    char *title = folio_strdup(json_string_value(json_object_get(j, "title")));
    json_decref(j);
    return title;
}

static char *
settings_of(struct folio_sched *s, const char *uid)
{
    struct folio_index *idx = NULL;
    CHECK(folio_sched_index_acquire(s, uid, strlen(uid), &idx) == 0, "acquire %s", uid);
    char *json = NULL;
    size_t len = 0;
    struct folio_index_error ierr;
    int rc = folio_index_settings_get(idx, &json, &len, &ierr);
    folio_sched_index_release(s, idx);
    CHECK(rc == 0, "settings of %s: %s", uid, ierr.message);
    return json;
}

/* Names in dir ending in suffix (NULL: every entry); *first receives the first one's path. */
static int
count_files(const char *dir, const char *suffix, char **first)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        size_t l = strlen(de->d_name);
        if (suffix != NULL &&
            (l < strlen(suffix) || strcmp(de->d_name + l - strlen(suffix), suffix) != 0))
            continue;
        if (n++ == 0 && first != NULL)
            *first = tu_path(dir, de->d_name);
    }
    closedir(d);
    return n;
}

static bool
path_exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* ---- a source instance and its archive ------------------------------------------- */

struct source {
    char *db, *snap, *archive;
    uint32_t snapshot_task;
    uint32_t enqueued[3]; /* tasks left enqueued at the snapshot */
    uint32_t failed_task;
    char **views; /* task views just before the snapshot ran */
    uint32_t view_count;
    char *books_settings;
    char instance_uid[64];
};

/*
 * books (pk id, filterable genre; 30 documents, 3 of them replaced), films
 * (10 documents); a failed indexCreation; then, paused: documents for books
 * and films and a settings update (left enqueued: the snapshot task has
 * priority over index tasks), and the snapshotCreation task, which runs
 * alone. Leaves the source open and paused in *out.
 */
static struct folio_sched *
make_source(struct source *src)
{
    src->db = tu_path(ROOT, "src-db");
    src->snap = tu_path(ROOT, "src-snapshots");
    struct folio_sched_open_info info;
    struct folio_sched *s = open_at(src->db, src->snap, false, &info);
    snprintf(src->instance_uid, sizeof(src->instance_uid), "%s", info.instance_uid);
    reg(s, rq_create("books", "id"));
    char *d1 = docs_json(0, 30, "book");
    reg(s, rq_docs("books", d1));
    folio_free(d1);
    reg(s, rq_settings("books", "{\"filterableAttributes\":[\"title\"]}"));
    char *d2 = docs_json(0, 3, "rebound");
    reg(s, rq_docs("books", d2));
    folio_free(d2);
    reg(s, rq_create("films", "id"));
    char *d3 = docs_json(100, 10, "film");
    uint32_t last = reg(s, rq_docs("films", d3));
    folio_free(d3);
    /* History enough to fill the first 64 KiB segment: the archive holds a sealed one. */
    struct folio_str none_id = folio_str_c("no-such-document");
    for (int i = 0; i < 120; i++) {
        struct folio_sched_request del = rq(FOLIO_KIND_DOCUMENT_DELETION, "films");
        del.ids = &none_id;
        del.id_count = 1;
        wait_task(s, reg(s, del));
    }
    src->failed_task = reg(s, rq_create("books", "id")); /* index_already_exists */
    wait_task(s, last);
    wait_task(s, src->failed_task);
    CHECK(folio_sched_wait_idle(s, WAIT_MS) == 0, "idle");
    CHECK(status_of(s, src->failed_task) == FOLIO_STATUS_FAILED, "the second creation fails");

    folio_sched_pause(s);
    char *d4 = docs_json(1000, 20, "later");
    src->enqueued[0] = reg(s, rq_docs("books", d4));
    folio_free(d4);
    char *d5 = docs_json(2000, 5, "latefilm");
    src->enqueued[1] = reg(s, rq_docs("films", d5));
    folio_free(d5);
    src->enqueued[2] = reg(s, rq_settings("films", "{\"searchableAttributes\":[\"title\"]}"));
    src->snapshot_task = reg(s, rq(FOLIO_KIND_SNAPSHOT_CREATION, NULL));
    src->views = task_views(s, &src->view_count);
    src->books_settings = settings_of(s, "books");
    return s;
}

static void
source_free(struct source *src)
{
    views_free(src->views, src->view_count);
    folio_free(src->books_settings);
    folio_free(src->db);
    folio_free(src->snap);
    folio_free(src->archive);
}

/* The batch of task uid (FOLIO_SCHED_NONE while it is enqueued). */
static uint32_t
batch_of(struct folio_sched *s, uint32_t uid)
{
    return view_of(s, uid).batch_uid;
}

/*
 * Runs the snapshot task, alone: the index tasks registered with it wait, as
 * it has priority over them. Once it has finished, the main lane may take
 * the next batch before folio_sched_pause() stops it, so a task that is no
 * longer enqueued must have run in a later batch (that the archive holds
 * them enqueued, test_round_trip checks).
 */
static void
run_snapshot(struct folio_sched *s, struct source *src)
{
    folio_sched_resume(s);
    wait_task(s, src->snapshot_task);
    folio_sched_pause(s);
    CHECK(status_of(s, src->snapshot_task) == FOLIO_STATUS_SUCCEEDED, "snapshot task succeeded");
    uint32_t snap_batch = batch_of(s, src->snapshot_task);
    for (int i = 0; i < 3; i++) {
        uint32_t b = batch_of(s, src->enqueued[i]);
        CHECK(status_of(s, src->enqueued[i]) == FOLIO_STATUS_ENQUEUED ||
                  (b != FOLIO_SCHED_NONE && b > snap_batch),
              "task %u ran before the snapshot (batch %u, the snapshot's %u)", src->enqueued[i],
              b, snap_batch);
    }
    int n = count_files(src->snap, ".snapshot", &src->archive);
    CHECK(n == 1, "%d archives in %s", n, src->snap);
    struct stat st;
    CHECK(stat(src->archive, &st) == 0 && (st.st_mode & 0777) == 0600, "archive mode %o",
          (unsigned)(st.st_mode & 0777));
    const char *base = strrchr(src->archive, '/') + 1;
    /* <YYYYMMDDTHHMMSS.ffffffZ>.snapshot */
    CHECK(strlen(base) == 23 + 9 && base[8] == 'T' && base[15] == '.' && base[22] == 'Z',
          "archive name %s", base);
}

/* ---- tests ----------------------------------------------------------------------- */

static void
test_round_trip(void **state)
{
    (void)state;
    fx_root("instsnap");
    struct source src = {0};
    struct folio_sched *s = make_source(&src);
    run_snapshot(s, &src);
    /* The source goes on: its enqueued tasks run after the snapshot. */
    folio_sched_resume(s);
    CHECK(folio_sched_wait_idle(s, WAIT_MS) == 0, "source idle");
    CHECK(doc_count(s, "books") == 50, "source books: %" PRIu64, doc_count(s, "books"));
    folio_sched_close(s);

    char *db2 = tu_path(ROOT, "restored-db"), *snap2 = tu_path(ROOT, "restored-snapshots");
    struct folio_sched_import_info ii;
    struct folio_sched_diag d;
    int rc = folio_sched_import_instance(src.archive, db2, 0, NULL, &ii, &d);
    CHECK(rc == 0, "import: %s (%s)", folio_err_name(rc), d.reason);
    CHECK(ii.outcome == FOLIO_SCHED_IMPORTED && ii.index_count == 2 && ii.seq > 0,
          "outcome %d, %u indexes, seq %" PRIu64, ii.outcome, ii.index_count, ii.seq);
    CHECK(strcmp(ii.source_instance_uid, src.instance_uid) == 0, "source %s",
          ii.source_instance_uid);
    char *tmp = folio_malloc(strlen(db2) + 16);
    sprintf(tmp, "%s.import-tmp", db2);
    CHECK(!path_exists(tmp), "%s left behind", tmp);

    struct folio_sched_open_info info;
    struct folio_sched *r = open_at(db2, snap2, true, &info);
    CHECK(strcmp(info.instance_uid, src.instance_uid) != 0, "a copy is another instance");
    CHECK(info.tasks_finished == 1 && info.tasks_requeued == 0,
          "first start: %u finished, %u requeued", info.tasks_finished, info.tasks_requeued);
    CHECK(info.replay.checkpoint_seq == ii.seq, "started from the archive's checkpoint %" PRIu64,
          info.replay.checkpoint_seq);

    /* Every task as it was just before the snapshot ran; the snapshot task itself succeeded. */
    uint32_t n = 0;
    char **views = task_views(r, &n);
    CHECK(n == src.view_count, "%u tasks, source had %u", n, src.view_count);
    for (uint32_t uid = 0; uid < n; uid++) {
        if (uid == src.snapshot_task)
            continue;
        CHECK(
            views[uid] != NULL && src.views[uid] != NULL && strcmp(views[uid], src.views[uid]) == 0,
            "task %u differs:\n    restored %s\n    source   %s", uid, views[uid], src.views[uid]);
    }
    views_free(views, n);
    CHECK(status_of(r, src.snapshot_task) == FOLIO_STATUS_SUCCEEDED, "snapshot task finished");
    CHECK(status_of(r, src.failed_task) == FOLIO_STATUS_FAILED, "failed task stays failed");

    /* Indexes and documents as at the snapshot. */
    CHECK(doc_count(r, "books") == 30 && doc_count(r, "films") == 10,
          "books %" PRIu64 " films %" PRIu64, doc_count(r, "books"), doc_count(r, "films"));
    char *t = doc_title(r, "books", "1");
    CHECK(t != NULL && strcmp(t, "rebound 1") == 0, "books/1 title %s", t ? t : "(none)");
    folio_free(t);
    t = doc_title(r, "books", "1000");
    CHECK(t == NULL, "books/1000 exists before its task ran");
    char *set = settings_of(r, "books");
    CHECK(strcmp(set, src.books_settings) == 0, "settings %s vs %s", set, src.books_settings);
    folio_free(set);

    /* The enqueued tasks run; the snapshot task does not. */
    folio_sched_resume(r);
    CHECK(folio_sched_wait_idle(r, WAIT_MS) == 0, "restored idle");
    for (int i = 0; i < 3; i++)
        CHECK(status_of(r, src.enqueued[i]) == FOLIO_STATUS_SUCCEEDED, "task %u: %d",
              src.enqueued[i], status_of(r, src.enqueued[i]));
    CHECK(doc_count(r, "books") == 50 && doc_count(r, "films") == 15, "after: books %" PRIu64,
          doc_count(r, "books"));
    t = doc_title(r, "books", "1000");
    CHECK(t != NULL && strcmp(t, "later 0") == 0, "books/1000 title %s", t ? t : "(none)");
    folio_free(t);
    CHECK(count_files(snap2, NULL, NULL) == 0, "the restored instance wrote a snapshot");
    const struct folio_sched_state *st = folio_sched_read_lock(r);
    struct folio_task_view v;
    CHECK(folio_sched_task_get(st, src.snapshot_task, &v) == 0 &&
              v.status == FOLIO_STATUS_SUCCEEDED,
          "snapshot task");
    uint32_t snap_batch = v.batch_uid;
    /* every batch after the snapshot's holds only the enqueued tasks */
    for (int i = 0; i < 3; i++) {
        CHECK(folio_sched_task_get(st, src.enqueued[i], &v) == 0 && v.batch_uid > snap_batch,
              "task %u batch %u", src.enqueued[i], v.batch_uid);
    }
    uint64_t live_hash = folio_sched_state_hash(st);
    folio_sched_read_unlock(r);
    folio_sched_close(r);

    /* The restored journal verifies; replay from seq 1 and from the checkpoint agree. */
    char *jdir = tu_path(db2, "journal"), *cdir = tu_path(db2, "checkpoints");
    char *nock = tu_path(ROOT, "no-checkpoints");
    CHECK(mkdir(nock, 0700) == 0, "mkdir");
    struct folio_journal_verify_info vi;
    struct folio_journal_diag jd;
    rc = folio_journal_verify(jdir, &vi, &jd);
    CHECK(rc == 0, "verify: %s (%s)", folio_err_name(rc), jd.reason);
    CHECK(vi.sealed_segments >= 1 && vi.first_seq == 1,
          "%" PRIu64 " sealed segments, first seq %" PRIu64, vi.sealed_segments, vi.first_seq);
    struct folio_sched_state *full = NULL, *part = NULL;
    struct folio_sched_replay_info ri;
    rc = folio_sched_state_replay(jdir, nock, &full, &ri, &d);
    CHECK(rc == 0 && ri.checkpoint_seq == 0, "full replay: %s (%s)", folio_err_name(rc), d.reason);
    rc = folio_sched_state_replay(jdir, cdir, &part, &ri, &d);
    CHECK(rc == 0 && ri.checkpoint_seq > 0, "replay from checkpoint: %s (%s)", folio_err_name(rc),
          d.reason);
    CHECK(folio_sched_state_hash(full) == folio_sched_state_hash(part), "replays disagree");
    CHECK(folio_sched_state_hash(full) == live_hash, "replay differs from the live state");
    folio_sched_state_free(full);
    folio_sched_state_free(part);

    /* A second start finds nothing to finish. */
    r = open_at(db2, snap2, true, &info);
    CHECK(info.tasks_finished == 0 && info.tasks_requeued == 0, "second start: %u finished",
          info.tasks_finished);
    folio_sched_close(r);
    char *marker = tu_path(db2, "snapshot-tasks");
    CHECK(!path_exists(marker), "snapshot-tasks still there");
    folio_free(marker);
    folio_free(jdir);
    folio_free(cdir);
    folio_free(nock);
    folio_free(tmp);
    folio_free(db2);
    folio_free(snap2);
    source_free(&src);
}

/* Import fails and leaves nothing behind: no db path, no temporary directory. */
static void
expect_import_error(const char *archive, const char *db, unsigned flags, int want_a, int want_b)
{
    struct folio_sched_import_info ii;
    struct folio_sched_diag d;
    int rc = folio_sched_import_instance(archive, db, flags, NULL, &ii, &d);
    CHECK(rc == want_a || rc == want_b, "import %s: %s (%s)", archive, folio_err_name(rc),
          d.reason);
    CHECK(d.reason[0] != '\0', "no reason given");
    CHECK(!path_exists(db), "%s created by a failed import", db);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.import-tmp", db);
    CHECK(!path_exists(tmp), "%s left behind", tmp);
}

#ifdef FOLIO_FOLIOD_PATH
static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Runs foliod (env: "NAME=value" or "") until it exits by itself, or until
 * it says it is listening: it is then stopped with SIGTERM, must exit 0, and
 * 124 is returned (it served). Its stdout and stderr in *out (caller frees).
 * The test waits for the "listening on" line rather than giving foliod a
 * fixed time to start (it was `timeout 4`): an import under ASan on a loaded
 * CI machine may take longer than any fixed time, and the wait is what the
 * checks need (the import's outcome is logged before foliod listens).
 */
static int
foliod_run(const char *env, const char *args, char **out)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "exec env %s %s --http-addr 127.0.0.1:0 %s 2>&1", env,
             FOLIO_FOLIOD_PATH, args);
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 1 << 16, len = 0;
    char *buf = folio_malloc(cap);
    buf[0] = '\0';
    bool served = false;
    int64_t deadline = now_ms() + WAIT_MS;
    for (;;) {
        if (!served) {
            const char *at = strstr(buf, "listening on");
            if (at != NULL && strchr(at, '\n') != NULL) {
                CHECK(kill(pid, SIGTERM) == 0, "kill: %s", strerror(errno));
                served = true;
            }
        }
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            CHECK(false, "foliod %s: neither exited nor listened in %d ms: %s", args, WAIT_MS,
                  buf);
        }
        struct pollfd p = {fds[0], POLLIN, 0};
        if (poll(&p, 1, (int)(left < 200 ? left : 200)) <= 0)
            continue;
        if (cap - len < 4096) {
            cap *= 2;
            buf = folio_realloc(buf, cap);
        }
        ssize_t n = read(fds[0], buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    close(fds[0]);
    int ws = 0;
    CHECK(waitpid(pid, &ws, 0) == pid, "waitpid: %s", strerror(errno));
    *out = buf;
    if (served) {
        CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "foliod %s: wait status %#x after SIGTERM: %s",
              args, ws, buf);
        return 124;
    }
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

/* foliod's four options: usage errors, import errors, skips and an import. */
static void
foliod_options(const char *archive, const char *missing)
{
    char *db = tu_path(ROOT, "foliod-db"), args[4096], *out = NULL;
    snprintf(args, sizeof(args), "--db-path %s --ignore-missing-snapshot", db);
    int rc = foliod_run("", args, &out);
    CHECK(rc == 2 && strstr(out, "need --import-snapshot") != NULL, "rc %d: %s", rc, out);
    folio_free(out);
    snprintf(args, sizeof(args), "--db-path %s --schedule-snapshot soon", db);
    rc = foliod_run("", args, &out);
    CHECK(rc == 2 && strstr(out, "--schedule-snapshot") != NULL, "rc %d: %s", rc, out);
    folio_free(out);
    snprintf(args, sizeof(args), "--db-path %s --import-snapshot %s", db, missing);
    rc = foliod_run("", args, &out);
    CHECK(rc == 1 && strstr(out, "doesn't exist") != NULL, "rc %d: %s", rc, out);
    CHECK(!path_exists(db), "a failed import made the db path");
    folio_free(out);
    /* the flag by its environment variable: foliod starts without the snapshot */
    rc = foliod_run("FOLIO_IGNORE_MISSING_SNAPSHOT=true", args, &out);
    CHECK(rc == 124 && strstr(out, "listening on") != NULL && strstr(out, "skipped") != NULL,
          "rc %d: %s", rc, out);
    folio_free(out);
    tu_rmrf(db);
    snprintf(args, sizeof(args), "--db-path %s --import-snapshot %s", db, archive);
    rc = foliod_run("", args, &out);
    CHECK(rc == 124 && strstr(out, "outcome=\"imported\"") != NULL &&
              strstr(out, "listening on") != NULL,
          "rc %d: %s", rc, out);
    folio_free(out);
    /* now the db holds data: an error, unless the flag says to keep it */
    rc = foliod_run("", args, &out);
    CHECK(rc == 1 && strstr(out, "already exists") != NULL, "rc %d: %s", rc, out);
    folio_free(out);
    snprintf(args, sizeof(args), "--db-path %s --import-snapshot %s --ignore-snapshot-if-db-exists",
             db, archive);
    rc = foliod_run("", args, &out);
    CHECK(rc == 124 && strstr(out, "the db path holds data") != NULL, "rc %d: %s", rc, out);
    folio_free(out);
    struct folio_sched_open_info info;
    /* foliod ran the enqueued tasks (or the rest of them runs now) */
    struct folio_sched *s = open_at(db, NULL, false, &info);
    CHECK(folio_sched_wait_idle(s, WAIT_MS) == 0, "idle");
    CHECK(doc_count(s, "books") == 50, "books imported through foliod: %" PRIu64,
          doc_count(s, "books"));
    folio_sched_close(s);
    folio_free(db);
}
#endif

static void
test_import_rules(void **state)
{
    (void)state;
    fx_root("instimport");
    struct source src = {0};
    struct folio_sched *s = make_source(&src);
    run_snapshot(s, &src);
    folio_sched_close(s);
    struct folio_sched_import_info ii;
    struct folio_sched_diag d;

    /* Missing file. */
    char *missing = tu_path(ROOT, "no-such.snapshot");
    char *db = tu_path(ROOT, "db-a");
    expect_import_error(missing, db, 0, FOLIO_E_NOT_FOUND, FOLIO_E_NOT_FOUND);
    CHECK(folio_sched_import_instance(missing, db, FOLIO_SCHED_IMPORT_IGNORE_MISSING, NULL, &ii, &d) ==
                  0 &&
              ii.outcome == FOLIO_SCHED_IMPORT_SKIPPED_MISSING,
          "ignore missing: %s", d.reason);
    CHECK(!path_exists(db), "skipping a missing snapshot made the db path");

    /* A db path that holds data wins only with the flag; a missing file then does not matter. */
    CHECK(mkdir(db, 0700) == 0, "mkdir");
    char *f = tu_path(db, "something");
    tu_write_file(f, "x", 1);
    int rc = folio_sched_import_instance(src.archive, db, 0, NULL, &ii, &d);
    CHECK(rc == FOLIO_E_EXISTS, "db exists: %s", folio_err_name(rc));
    CHECK(strstr(d.reason, "already exists") != NULL, "reason: %s", d.reason);
    rc = folio_sched_import_instance(src.archive, db, FOLIO_SCHED_IMPORT_IGNORE_IF_DB_EXISTS, NULL, &ii,
                                     &d);
    CHECK(rc == 0 && ii.outcome == FOLIO_SCHED_IMPORT_SKIPPED_DB_EXISTS, "ignore: %s", d.reason);
    rc = folio_sched_import_instance(missing, db, FOLIO_SCHED_IMPORT_IGNORE_IF_DB_EXISTS, NULL, &ii, &d);
    CHECK(rc == 0 && ii.outcome == FOLIO_SCHED_IMPORT_SKIPPED_DB_EXISTS, "ignore: %s", d.reason);
    size_t len = 0;
    uint8_t *kept = tu_read_file(f, &len);
    CHECK(kept != NULL && len == 1 && kept[0] == 'x', "the existing db was touched");
    folio_free(kept);
    folio_free(f);

    /* An empty directory is no data: the import goes into it. */
    char *empty = tu_path(ROOT, "db-empty");
    CHECK(mkdir(empty, 0700) == 0, "mkdir");
    rc = folio_sched_import_instance(src.archive, empty, 0, NULL, &ii, &d);
    CHECK(rc == 0 && ii.outcome == FOLIO_SCHED_IMPORTED, "into an empty dir: %s (%s)",
          folio_err_name(rc), d.reason);
    struct folio_sched *r = open_at(empty, NULL, true, NULL);
    CHECK(doc_count(r, "books") == 30, "books in the import");
    folio_sched_close(r);

    /* A corrupt and a truncated archive create nothing. */
    size_t alen = 0;
    uint8_t *bytes = tu_read_file(src.archive, &alen);
    CHECK(bytes != NULL && alen > 4096, "archive of %zu bytes", alen);
    char *bad = tu_path(ROOT, "bad.snapshot");
    char *dbb = tu_path(ROOT, "db-b");
    bytes[alen / 2] ^= 0x5a;
    bytes[alen / 2 + 1] ^= 0xa5;
    tu_write_file(bad, bytes, alen);
    expect_import_error(bad, dbb, 0, FOLIO_E_SNAPSHOT_INVALID, FOLIO_E_SNAPSHOT_CHECKSUM);
    bytes[alen / 2] ^= 0x5a;
    bytes[alen / 2 + 1] ^= 0xa5;
    tu_write_file(bad, bytes, alen * 2 / 3);
    expect_import_error(bad, dbb, 0, FOLIO_E_SNAPSHOT_INVALID, FOLIO_E_SNAPSHOT_CHECKSUM);
    /* Not an archive at all. */
    tu_write_file(bad, "hello", 5);
    expect_import_error(bad, dbb, 0, FOLIO_E_SNAPSHOT_INVALID, FOLIO_E_SNAPSHOT_INVALID);
    folio_free(bytes);
    folio_free(bad);
    folio_free(dbb);
    folio_free(empty);
#ifdef FOLIO_FOLIOD_PATH
    foliod_options(src.archive, missing);
#endif
    folio_free(missing);
    folio_free(db);
    source_free(&src);
}

/* ---- a crash in the middle of creation ----------------------------------------------- */

struct crash_arg {
    const char *db, *snap;
    bool at_rename; /* die before the archive's rename, else at the crash point */
};

static void
crash_child(void *p)
{
    struct crash_arg *a = p;
    struct folio_sched *s = open_at(a->db, a->snap, false, NULL);
    reg(s, rq_create("books", "id"));
    char *docs = docs_json(0, 10, "book");
    uint32_t last = reg(s, rq_docs("books", docs));
    folio_free(docs);
    wait_task(s, last);
    if (a->at_rename) {
        /* renames from here: the staged checkpoint's, then the archive's */
        struct folio_io_fault f = {FOLIO_IO_RENAME, FOLIO_IO_ACT_BEFORE, 2, 0, 0, 0};
        folio_io_fault_set(&f);
    } else {
        folio_crash_point_set("instance-snapshot-staged");
    }
    uint32_t snap = reg(s, rq(FOLIO_KIND_SNAPSHOT_CREATION, NULL));
    folio_sched_wait_task(s, snap, WAIT_MS);
    _exit(3); /* the crash point did not fire */
}

static void
crash_and_rerun(bool at_rename)
{
    struct crash_arg a = {tu_path(ROOT, "db"), tu_path(ROOT, "snapshots"), at_rename};
    int ws = tu_run_child(crash_child, &a);
    CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL, "child status %#x (not killed at the point)",
          ws);
    CHECK(count_files(a.snap, ".snapshot", NULL) == 0, "the crash left an archive");
    /* before the rename: the archive's temporary file, complete but never renamed */
    CHECK(count_files(a.snap, NULL, NULL) == (at_rename ? 1 : 0),
          "the crash left %d file(s) in the snapshot dir", count_files(a.snap, NULL, NULL));
    char *tmp = tu_path(a.db, "tmp");
    CHECK(count_files(tmp, NULL, NULL) == 1, "the staging directory is in tmp/");

    struct folio_sched_open_info info;
    struct folio_sched *s = open_at(a.db, a.snap, false, &info);
    CHECK(info.tasks_requeued == 1, "snapshot task requeued: %u", info.tasks_requeued);
    CHECK(count_files(tmp, NULL, NULL) == 0, "tmp/ emptied at start");
    CHECK(info.files_removed == (at_rename ? 2u : 1u), "files removed at start: %u",
          info.files_removed);
    CHECK(folio_sched_wait_idle(s, WAIT_MS) == 0, "idle");
    CHECK(status_of(s, 2) == FOLIO_STATUS_SUCCEEDED, "snapshot task %d", status_of(s, 2));
    folio_sched_close(s);
    char *archive = NULL;
    CHECK(count_files(a.snap, ".snapshot", &archive) == 1, "one archive after the rerun");
    CHECK(count_files(a.snap, NULL, NULL) == 1, "nothing else in the snapshot dir");
    char *db2 = tu_path(ROOT, "restored");
    struct folio_sched_diag d;
    int rc = folio_sched_import_instance(archive, db2, 0, NULL, NULL, &d);
    CHECK(rc == 0, "import: %s (%s)", folio_err_name(rc), d.reason);
    s = open_at(db2, NULL, true, &info);
    CHECK(info.tasks_finished == 1, "finished %u", info.tasks_finished);
    CHECK(doc_count(s, "books") == 10, "documents");
    folio_sched_close(s);
    folio_free(db2);
    folio_free(archive);
    folio_free(tmp);
    folio_free((char *)a.db);
    folio_free((char *)a.snap);
}

static void
test_crash_leaves_no_archive(void **state)
{
    (void)state;
    fx_root("instcrash");
    crash_and_rerun(false);
}

/* Killed just before the archive's rename: the next start removes the temporary file. */
static void
test_crash_before_archive_rename(void **state)
{
    (void)state;
    fx_root("instrename");
    crash_and_rerun(true);
}

/* ---- registrations while the snapshot is made ------------------------------------------ */

struct producer {
    struct folio_sched *s;
    int id;
    atomic_bool *stop;
    uint32_t registered;
};

static void *
producer_main(void *p)
{
    struct producer *pr = p;
    for (int i = 0; !atomic_load(pr->stop) && i < 400; i++) {
        char *docs = docs_json(pr->id * 100000 + i * 10, 2, "concurrent");
        struct folio_sched_request r = rq_docs("books", docs);
        struct folio_sched_registered out;
        struct folio_sched_error err;
        if (folio_sched_register(pr->s, &r, &out, &err) == 0)
            pr->registered++;
        folio_free(docs);
    }
    return NULL;
}

/*
 * Four threads register document tasks (content files, grouped frames) while
 * the snapshot is made: the archive's journal ends at a frame boundary the
 * checkpoint matches, every enqueued task in it has its content file, and
 * the restored instance runs them all.
 */
static void
test_snapshot_under_registrations(void **state)
{
    (void)state;
    fx_root("instconc");
    char *db = tu_path(ROOT, "db"), *snap = tu_path(ROOT, "snapshots");
    struct folio_sched *s = open_at(db, snap, false, NULL);
    wait_task(s, reg(s, rq_create("books", "id")));
    folio_sched_pause(s);
    atomic_bool stop = false;
    struct producer pr[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        pr[i] = (struct producer){s, i + 1, &stop, 0};
        CHECK(pthread_create(&th[i], NULL, producer_main, &pr[i]) == 0, "thread");
    }
    usleep(20000);
    uint32_t snap_uid = reg(s, rq(FOLIO_KIND_SNAPSHOT_CREATION, NULL));
    folio_sched_resume(s);
    wait_task(s, snap_uid);
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK(status_of(s, snap_uid) == FOLIO_STATUS_SUCCEEDED, "snapshot task");
    CHECK(folio_sched_wait_idle(s, WAIT_MS) == 0, "idle");
    folio_sched_close(s);

    char *archive = NULL;
    CHECK(count_files(snap, ".snapshot", &archive) == 1, "archive");
    char *db2 = tu_path(ROOT, "restored");
    struct folio_sched_import_info ii;
    struct folio_sched_diag d;
    int rc = folio_sched_import_instance(archive, db2, 0, NULL, &ii, &d);
    CHECK(rc == 0, "import: %s (%s)", folio_err_name(rc), d.reason);
    struct folio_sched_open_info info;
    struct folio_sched *r = open_at(db2, NULL, false, &info);
    CHECK(info.tasks_finished == 1, "finished %u", info.tasks_finished);
    CHECK(folio_sched_wait_idle(r, WAIT_MS) == 0, "restored idle");
    /* Every document task of the restored instance ran: 2 documents each. */
    struct folio_sched_query q = {0};
    q.kinds = 1u << FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
    uint32_t *uids = NULL;
    size_t count = 0;
    const struct folio_sched_state *st = folio_sched_read_lock(r);
    CHECK(folio_sched_match_tasks(st, &q, &uids, &count) == 0, "match");
    size_t ok = 0;
    for (size_t i = 0; i < count; i++) {
        struct folio_task_view v;
        if (folio_sched_task_get(st, uids[i], &v) == 0 && v.status == FOLIO_STATUS_SUCCEEDED)
            ok++;
    }
    folio_sched_read_unlock(r);
    folio_free(uids);
    CHECK(ok == count, "%zu of %zu document tasks succeeded", ok, count);
    CHECK(doc_count(r, "books") == 2 * count, "%" PRIu64 " documents for %zu tasks",
          doc_count(r, "books"), count);
    print_message("%zu document tasks in the snapshot (registered %u during it)\n", count,
                  pr[0].registered + pr[1].registered + pr[2].registered + pr[3].registered);
    folio_sched_close(r);
    folio_free(archive);
    folio_free(db2);
    folio_free(db);
    folio_free(snap);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_round_trip, teardown),
        cmocka_unit_test_teardown(test_import_rules, teardown),
        cmocka_unit_test_teardown(test_crash_leaves_no_archive, teardown),
        cmocka_unit_test_teardown(test_crash_before_archive_rename, teardown),
        cmocka_unit_test_teardown(test_snapshot_under_registrations, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
