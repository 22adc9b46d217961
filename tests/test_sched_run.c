/*
 * The running scheduler (folio/sched_run.h) through its C API, on real data
 * directories: a real journal, real content files and real LMDB indexes.
 * Nothing is mocked. Expectations come from the header's contract,
 * DESIGN.md §3/§5/§6/§11 and Meilisearch's documented behaviour
 * (reference §1-§4, §6); where those leave a choice open the test says so.
 *
 * Covered:
 *  - open: options, data directory layout, the instance uid, the lock;
 *  - every registration error (code, type, HTTP status, a message naming
 *    the offending value), each shown to write NOTHING: the journal's last
 *    seq, the state's seq / hash / next uid / task count and the content/,
 *    tmp/ and indexes/ directories are unchanged, and the next good
 *    registration takes the next uid without a gap;
 *  - successful registration: uids from 0, enqueuedAt, the durable
 *    task_registered event, enqueued status and registration-time details;
 *    payloads inline vs. content files (the bound itself), content files
 *    removed once their task finished; asynchronous and concurrent
 *    registration; pause / resume / wait_task;
 *  - processing: per-index uid order, autobatching (documents with
 *    deletions, settings apart, singleton kinds, an indexDeletion ending a
 *    document batch), batches that never mix indexes, priority of
 *    cancelation and deletion, batch_tasks_max, batch strategies;
 *  - outcomes: index creation (and index_already_exists), documents added /
 *    merged / replaced / deleted / cleared in uid order within one batch and
 *    read back from the index, settings and their reset, primary key update,
 *    inference and conflicts, renames (indexUpdate, swap with rename), swap
 *    (older tasks' index uids follow), index deletion (mapping and
 *    directory), failed additions leaving the index unchanged, tasks on a
 *    missing index failing with index_not_found;
 *  - cancelation and task deletion (Meilisearch §2.3, §2.4), also while a
 *    batch of the matched tasks is running;
 *  - task queries after real processing, against hand-known answers and a
 *    brute-force filter over every task (random filters, fixed seed printed;
 *    FOLIO_TEST_SEED overrides it);
 *  - restart: the reopened state equals the old one (hash, event by event
 *    replay of the journal), documents survive, enqueued tasks and their
 *    content files survive and run, uids continue; checkpoints written while
 *    batches run; close while a batch runs, then every task exactly once.
 *
 * FOLIO_TEST_KEEP=1 keeps the temporary directories; FOLIO_TEST_FILTER=<pattern>
 * runs only the matching tests.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
#include "testutil.h"

#define WAIT_MS 60000
#define NONE FOLIO_SCHED_NONE

/* ---- checks that say what failed ------------------------------------------- */

#define CHECKL(line, cond, ...)                                                                \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            print_error("%s:%d: check failed: %s\n    ", __FILE__, (line), #cond);           \
            print_error(__VA_ARGS__);                                                          \
            print_error("\n");                                                                 \
            fail();                                                                            \
        }                                                                                      \
    } while (0)
#define CHECK(cond, ...) CHECKL(__LINE__, cond, __VA_ARGS__)

/*
 * A check whose failure is reported at once but fails the test only at its
 * end (SOFT_DONE), so that one run shows every deviation of a test, not only
 * the first. Used for secondary facts (detail counters) only.
 */
static int soft_failures;
#define SOFT(cond, ...)                                                                        \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            print_error("%s:%d: check failed (continuing): %s\n    ", __FILE__, __LINE__,      \
                        #cond);                                                                \
            print_error(__VA_ARGS__);                                                          \
            print_error("\n");                                                                 \
            soft_failures++;                                                                   \
        }                                                                                      \
    } while (0)
#define SOFT_DONE() CHECK(soft_failures == 0, "%d check(s) above failed", soft_failures)

/* ---- fixture ------------------------------------------------------------------ */

struct fx {
    char *root;  /* temp dir */
    char *db;    /* root/db */
    char *snap;  /* root/snapshots, or NULL */
    struct folio_sched_opts opts;
    struct folio_sched *s;
    struct folio_sched_open_info info;
};

static struct fx *CUR; /* the running test's fixture, closed by teardown */

static struct fx *
fx_new(const char *tag)
{
    struct fx *f = folio_calloc(1, sizeof(*f));
    f->root = tu_mkdtemp(tag);
    f->db = tu_path(f->root, "db");
    folio_sched_opts_default(&f->opts);
    f->opts.db_path = f->db;
    CUR = f;
    soft_failures = 0;
    return f;
}

static void
fx_snapshot_dir(struct fx *f)
{
    f->snap = tu_path(f->root, "snapshots");
    CHECK(mkdir(f->snap, 0700) == 0, "mkdir %s: %s", f->snap, strerror(errno));
    f->opts.snapshot_dir = f->snap;
}

static void
fx_open_at(struct fx *f, bool paused, int line)
{
    struct folio_sched_diag d;
    memset(&d, 0, sizeof(d));
    memset(&f->info, 0, sizeof(f->info));
    f->opts.paused = paused;
    int rc = folio_sched_open(&f->opts, &f->s, &f->info, &d);
    CHECKL(line, rc == 0, "folio_sched_open(%s): %s (%s)", f->db, folio_err_name(rc), d.reason);
}
#define fx_open(f, paused) fx_open_at(f, paused, __LINE__)

static void
fx_close(struct fx *f)
{
    folio_sched_close(f->s);
    f->s = NULL;
}

static int
teardown(void **state)
{
    (void)state;
    struct fx *f = CUR;
    CUR = NULL;
    if (f == NULL)
        return 0;
    fx_close(f);
    const char *keep = getenv("FOLIO_TEST_KEEP");
    if (keep && *keep && strcmp(keep, "0") != 0)
        print_message("kept %s\n", f->root);
    else
        tu_rmrf(f->root);
    folio_free(f->root);
    folio_free(f->db);
    folio_free(f->snap);
    folio_free(f);
    return 0;
}

/* Lets the scheduler run everything registered so far, then pauses it again. */
static void
settle_at(struct fx *f, int line)
{
    folio_sched_resume(f->s);
    int rc = folio_sched_wait_idle(f->s, WAIT_MS);
    CHECKL(line, rc == 0, "wait_idle: %s", folio_err_name(rc));
    folio_sched_pause(f->s);
}
#define settle(f) settle_at(f, __LINE__)

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- requests ------------------------------------------------------------------ */

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

static struct folio_sched_request
rq_docs_fmt(const char *uid, const char *payload, size_t len, enum folio_index_format fmt,
            enum folio_doc_method method)
{
    struct folio_sched_request r = rq(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, uid);
    r.payload = payload;
    r.payload_len = len;
    r.format = fmt;
    r.method = method;
    return r;
}

static struct folio_sched_request
rq_docs(const char *uid, const char *json)
{
    return rq_docs_fmt(uid, json, strlen(json), FOLIO_INDEX_FORMAT_JSON, FOLIO_DOC_REPLACE);
}

static struct folio_sched_request
rq_update_docs(const char *uid, const char *json)
{
    return rq_docs_fmt(uid, json, strlen(json), FOLIO_INDEX_FORMAT_JSON, FOLIO_DOC_UPDATE);
}

static struct folio_sched_request
rq_create(const char *uid, const char *pk)
{
    struct folio_sched_request r = rq(FOLIO_KIND_INDEX_CREATION, uid);
    if (pk)
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

static struct folio_sched_request
rq_del_ids(const char *uid, const struct folio_str *ids, uint32_t n)
{
    struct folio_sched_request r = rq(FOLIO_KIND_DOCUMENT_DELETION, uid);
    r.ids = ids;
    r.id_count = n;
    return r;
}

static struct folio_sched_request
rq_clear(const char *uid)
{
    struct folio_sched_request r = rq(FOLIO_KIND_DOCUMENT_DELETION, uid);
    r.clear = true;
    return r;
}

static struct folio_sched_request
rq_swap(const struct folio_task_swap *swaps, uint32_t n)
{
    struct folio_sched_request r = rq(FOLIO_KIND_INDEX_SWAP, NULL);
    r.swaps = swaps;
    r.swap_count = n;
    return r;
}

/* taskCancelation / taskDeletion over a uids filter (q must outlive the call). */
static struct folio_sched_request
rq_tasks(enum folio_task_kind kind, struct folio_sched_query *q, const uint32_t *uids,
         uint32_t n, const char *query)
{
    memset(q, 0, sizeof(*q));
    q->uids = uids;
    q->uid_count = n;
    q->uids_set = true;
    struct folio_sched_request r = rq(kind, NULL);
    r.filter = q;
    r.query = folio_str_c(query);
    return r;
}

static int
reg(struct fx *f, const struct folio_sched_request *r, struct folio_sched_registered *out,
    struct folio_sched_error *e)
{
    memset(out, 0, sizeof(*out));
    memset(e, 0, sizeof(*e));
    return folio_sched_register(f->s, r, out, e);
}

static uint32_t
reg_ok_at(struct fx *f, struct folio_sched_request r, int line)
{
    struct folio_sched_registered out;
    struct folio_sched_error e;
    int rc = reg(f, &r, &out, &e);
    CHECKL(line, rc == 0, "register %s on `%.*s`: %s [%s, %d] %s", folio_task_kind_name(r.kind),
           (int)(r.index_uid.len > 60 ? 60 : r.index_uid.len),
           r.index_uid.ptr ? r.index_uid.ptr : "", folio_err_name(rc), e.code, e.http_status,
           e.message);
    CHECKL(line, out.kind == r.kind, "registered kind %d, asked %d", out.kind, r.kind);
    return out.task_uid;
}
#define REG(f, r) reg_ok_at(f, r, __LINE__)

/* ---- looking at the state -------------------------------------------------------- */

struct tinfo {
    bool exists;
    enum folio_task_kind kind;
    enum folio_task_status status;
    uint32_t batch_uid, canceled_by;
    int64_t enqueued_at_ns, started_at_ns, finished_at_ns;
    bool started, finished;
    uint32_t index_count;
    char index_uids[4][FOLIO_INDEX_UID_MAX + 1];
    json_t *json; /* the TaskView */
};

static void
tinfo_get_at(struct fx *f, uint32_t uid, struct tinfo *t, int line)
{
    memset(t, 0, sizeof(*t));
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    struct folio_task_view v;
    int rc = folio_sched_task_get(st, uid, &v);
    int jrc = 0;
    if (rc == 0) {
        t->exists = true;
        t->kind = v.kind;
        t->status = v.status;
        t->batch_uid = v.batch_uid;
        t->canceled_by = v.canceled_by;
        t->enqueued_at_ns = v.enqueued_at_ns;
        t->started = v.started;
        t->started_at_ns = v.started_at_ns;
        t->finished = v.finished;
        t->finished_at_ns = v.finished_at_ns;
        t->index_count = v.index_count;
        for (uint32_t i = 0; i < v.index_count && i < 4; i++)
            snprintf(t->index_uids[i], sizeof(t->index_uids[i]), "%.*s", (int)v.index_uids[i].len,
                     v.index_uids[i].ptr);
        jrc = folio_task_view_to_json(&v, &t->json);
    }
    folio_sched_read_unlock(f->s);
    CHECKL(line, rc == 0 || rc == FOLIO_E_NOT_FOUND, "task_get(%u): %s", uid, folio_err_name(rc));
    CHECKL(line, jrc == 0, "task %u: to_json: %s", uid, folio_err_name(jrc));
}

static void
tinfo_clear(struct tinfo *t)
{
    json_decref(t->json);
    t->json = NULL;
}

static char *
jdump(const json_t *j)
{
    static char buf[8][4096];
    static int next;
    char *out = buf[next++ % 8];
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(out, sizeof(buf[0]), "%s", s ? s : "(none)");
    free(s);
    return out;
}

/* A task's TaskView as a new reference; the task must exist. */
static json_t *
tjson_at(struct fx *f, uint32_t uid, int line)
{
    struct tinfo t;
    tinfo_get_at(f, uid, &t, line);
    CHECKL(line, t.exists, "task %u does not exist", uid);
    return t.json;
}
#define tjson(f, uid) tjson_at(f, uid, __LINE__)

/* An integer of an object: the value, -1 for null, -2 when absent or not an integer. */
static long long
jint(const json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    if (v == NULL)
        return -2;
    if (json_is_null(v))
        return -1;
    return json_is_integer(v) ? (long long)json_integer_value(v) : -2;
}

static const char *
jstr(const json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool
jstr_is(const json_t *o, const char *key, const char *want)
{
    const char *s = jstr(o, key);
    return s && strcmp(s, want) == 0;
}

static bool
jnull(const json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return v && json_is_null(v);
}

static void
expect_status_at(struct fx *f, uint32_t uid, enum folio_task_status want, int line)
{
    struct tinfo t;
    tinfo_get_at(f, uid, &t, line);
    CHECKL(line, t.exists, "task %u does not exist", uid);
    CHECKL(line, t.status == want, "task %u is %s, expected %s: %s", uid,
           folio_task_status_name(t.status), folio_task_status_name(want), jdump(t.json));
    CHECKL(line, jstr_is(t.json, "status", folio_task_status_name(want)), "task %u JSON: %s", uid,
           jdump(t.json));
    if (folio_task_status_finished(want)) {
        CHECKL(line, t.finished && t.started && t.batch_uid != NONE,
               "finished task %u lacks batch/startedAt/finishedAt: %s", uid, jdump(t.json));
        CHECKL(line, t.finished_at_ns >= t.started_at_ns && t.started_at_ns >= t.enqueued_at_ns,
               "task %u times out of order: %s", uid, jdump(t.json));
        CHECKL(line, jstr(t.json, "duration") != NULL, "task %u has no duration: %s", uid,
               jdump(t.json));
    }
    if (want == FOLIO_STATUS_SUCCEEDED)
        CHECKL(line, jnull(t.json, "error"), "succeeded task %u has an error: %s", uid,
               jdump(t.json));
    tinfo_clear(&t);
}
#define EXPECT_STATUS(f, uid, st) expect_status_at(f, uid, FOLIO_STATUS_##st, __LINE__)

static void
expect_failed_at(struct fx *f, uint32_t uid, const char *code, int line)
{
    expect_status_at(f, uid, FOLIO_STATUS_FAILED, line);
    json_t *j = tjson_at(f, uid, line);
    json_t *e = json_object_get(j, "error");
    CHECKL(line, jstr_is(e, "code", code), "task %u: error code, expected `%s`: %s", uid, code,
           jdump(j));
    CHECKL(line, jstr(e, "message") && jstr(e, "message")[0], "task %u: empty message: %s", uid,
           jdump(j));
    CHECKL(line, jstr_is(e, "type", "invalid_request"), "task %u: error type: %s", uid, jdump(j));
    const char *link = jstr(e, "link");
    CHECKL(line, link && strstr(link, code), "task %u: link: %s", uid, jdump(j));
    json_decref(j);
}
#define EXPECT_FAILED(f, uid, code) expect_failed_at(f, uid, code, __LINE__)

struct iinfo {
    bool exists;
    char uuid[64];
    char primary_key[FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX + 1];
    bool has_primary_key;
};

static void
index_info(struct fx *f, const char *uid, struct iinfo *out)
{
    memset(out, 0, sizeof(*out));
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    struct folio_index_view v;
    int rc = folio_sched_index_get(st, uid, strlen(uid), &v);
    if (rc == 0) {
        out->exists = true;
        snprintf(out->uuid, sizeof(out->uuid), "%.*s", (int)v.uuid.len, v.uuid.ptr);
        out->has_primary_key = v.primary_key.len > 0;
        snprintf(out->primary_key, sizeof(out->primary_key), "%.*s", (int)v.primary_key.len,
                 v.primary_key.ptr ? v.primary_key.ptr : "");
    }
    folio_sched_read_unlock(f->s);
    CHECK(rc == 0 || rc == FOLIO_E_NOT_FOUND, "index_get(%s): %s", uid, folio_err_name(rc));
}

static char *
index_dir(struct fx *f, const char *uuid)
{
    char *ix = tu_path(f->db, "indexes");
    char *p = tu_path(ix, uuid);
    folio_free(ix);
    return p;
}

static bool
path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* The documents of an index, as parsed JSON (new reference). */
static json_t *
docs_at(struct fx *f, const char *uid, uint64_t *total, int line)
{
    struct folio_index *idx = NULL;
    int rc = folio_sched_index_acquire(f->s, uid, strlen(uid), &idx);
    CHECKL(line, rc == 0, "index_acquire(%s): %s", uid, folio_err_name(rc));
    char *txt = NULL;
    size_t len = 0;
    uint64_t tot = 0;
    struct folio_index_error e;
    rc = folio_index_documents_get(idx, 0, 100000, NULL, 0, &txt, &len, &tot, &e);
    folio_sched_index_release(f->s, idx);
    CHECKL(line, rc == 0, "documents_get(%s): %s %s", uid, folio_err_name(rc), e.message);
    json_error_t je;
    json_t *j = json_loadb(txt, len, 0, &je);
    CHECKL(line, j != NULL, "documents of %s are not JSON: %s", uid, txt);
    folio_free(txt);
    if (total)
        *total = tot;
    return j;
}

static void
expect_docs_at(struct fx *f, const char *uid, const char *want, int line)
{
    uint64_t total = 0;
    json_t *got = docs_at(f, uid, &total, line);
    json_t *exp = json_loads(want, 0, NULL);
    CHECKL(line, exp != NULL, "bad expected JSON %s", want);
    CHECKL(line, json_equal(got, exp), "documents of `%s`:\n      got  %s\n      want %s", uid,
           jdump(got), want);
    CHECKL(line, total == json_array_size(exp), "documents of `%s`: total %" PRIu64 ", want %zu",
           uid, total, json_array_size(exp));
    json_decref(got);
    json_decref(exp);
}
#define EXPECT_DOCS(f, uid, want) expect_docs_at(f, uid, want, __LINE__)

static char *
settings_of(struct fx *f, const char *uid)
{
    struct folio_index *idx = NULL;
    int rc = folio_sched_index_acquire(f->s, uid, strlen(uid), &idx);
    CHECK(rc == 0, "index_acquire(%s): %s", uid, folio_err_name(rc));
    char *txt = NULL;
    size_t len = 0;
    struct folio_index_error e;
    rc = folio_index_settings_get(idx, &txt, &len, &e);
    folio_sched_index_release(f->s, idx);
    CHECK(rc == 0, "settings_get(%s): %s", uid, e.message);
    return txt;
}

static uint64_t
next_task_uid(struct fx *f)
{
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    uint64_t n = folio_sched_state_next_task_uid(st);
    folio_sched_read_unlock(f->s);
    return n;
}

/* ---- "nothing was written" --------------------------------------------------------- */

static long
count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    long n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static long
count_in_db(struct fx *f, const char *sub)
{
    char *p = tu_path(f->db, sub);
    long n = count_entries(p);
    folio_free(p);
    return n;
}

/*
 * Entries of a db subdirectory once it is empty or 5 s passed. The batch's
 * clean-up (content files, a deleted index's directory) runs after its
 * outcome events are applied, so wait_idle may return a moment before it is
 * done: the contract only says no task is enqueued or processing.
 */
static long
await_empty(struct fx *f, const char *sub)
{
    long n = count_in_db(f, sub);
    for (int i = 0; i < 500 && n != 0; i++) {
        usleep(10000);
        n = count_in_db(f, sub);
    }
    return n;
}

/* The one file of content/ (there must be exactly one); caller frees. */
static char *
only_content_file(struct fx *f)
{
    char *dir = tu_path(f->db, "content");
    DIR *d = opendir(dir);
    CHECK(d != NULL, "opendir %s: %s", dir, strerror(errno));
    char *found = NULL;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n++;
        folio_free(found);
        found = tu_path(dir, de->d_name);
    }
    closedir(d);
    folio_free(dir);
    CHECK(n == 1, "content/ holds %d entries, expected 1", n);
    return found;
}

struct mark {
    uint64_t state_seq, journal_seq, next_task, tasks, batches;
    uint64_t state_hash;
    long content, tmp, indexes;
};

static void
mark_take_at(struct fx *f, struct mark *m, int line)
{
    memset(m, 0, sizeof(*m));
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    m->state_seq = folio_sched_state_last_seq(st);
    m->next_task = folio_sched_state_next_task_uid(st);
    m->tasks = folio_sched_state_task_count(st);
    m->batches = folio_sched_state_batch_count(st);
    m->state_hash = folio_sched_state_hash(st);
    folio_sched_read_unlock(f->s);
    struct folio_journal_verify_info vi;
    struct folio_journal_diag d;
    memset(&vi, 0, sizeof(vi));
    memset(&d, 0, sizeof(d));
    int rc = folio_journal_verify(folio_sched_journal_dir(f->s), &vi, &d);
    CHECKL(line, rc == 0, "journal verify: %s (%s at %s+%" PRIu64 ")", folio_err_name(rc),
           d.reason, d.segment, d.offset);
    m->journal_seq = vi.last_seq;
    m->content = count_in_db(f, "content");
    m->tmp = count_in_db(f, "tmp");
    m->indexes = count_in_db(f, "indexes");
}

static void
mark_same_at(const struct mark *a, const struct mark *b, int line, const char *what)
{
    CHECKL(line, a->journal_seq == b->journal_seq,
           "%s: journal last seq %" PRIu64 " -> %" PRIu64 " (something was written)", what,
           a->journal_seq, b->journal_seq);
    CHECKL(line, a->state_seq == b->state_seq, "%s: state seq %" PRIu64 " -> %" PRIu64, what,
           a->state_seq, b->state_seq);
    CHECKL(line, a->next_task == b->next_task && a->tasks == b->tasks,
           "%s: next task uid %" PRIu64 " -> %" PRIu64 ", tasks %" PRIu64 " -> %" PRIu64, what,
           a->next_task, b->next_task, a->tasks, b->tasks);
    CHECKL(line, a->state_hash == b->state_hash, "%s: the state changed", what);
    CHECKL(line, a->content == b->content, "%s: content/ entries %ld -> %ld", what, a->content,
           b->content);
    CHECKL(line, a->tmp == b->tmp, "%s: tmp/ entries %ld -> %ld", what, a->tmp, b->tmp);
    CHECKL(line, a->indexes == b->indexes, "%s: indexes/ entries %ld -> %ld", what, a->indexes,
           b->indexes);
}

/* code pattern: alternatives separated by '|', each may end in '*' (prefix). */
static bool
code_matches(const char *pattern, const char *code)
{
    const char *p = pattern;
    while (*p) {
        const char *end = strchr(p, '|');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0 && p[n - 1] == '*') {
            if (strncmp(code, p, n - 1) == 0)
                return true;
        } else if (strlen(code) == n && strncmp(code, p, n) == 0) {
            return true;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

static bool
message_names(const char *msg, const char *needles)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", needles);
    char *save = NULL;
    for (char *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
        if (strstr(msg, tok))
            return true;
    return false;
}

/*
 * Registers r, which must be refused with code (pattern; NULL: any
 * snake_case code), HTTP status (0: any 4xx), folio error (0: any) and a
 * message containing one of needles ('|'-separated; NULL: any non-empty
 * message), and checks that nothing was written.
 */
static void
expect_reg_err_at(struct fx *f, struct folio_sched_request r, const char *code, int http,
                  int ferr, const char *needles, int line, const char *what)
{
    struct mark before, after;
    mark_take_at(f, &before, line);
    struct folio_sched_registered out;
    struct folio_sched_error e;
    int rc = reg(f, &r, &out, &e);
    CHECKL(line, rc < 0, "%s: registration succeeded (task %u), expected %s", what, out.task_uid,
           code ? code : "an error");
    print_message("    %-44s -> %d %s: %s\n", what, e.http_status, e.code, e.message);
    CHECKL(line, rc == e.folio_err, "%s: returned %s but err.folio_err is %s", what,
           folio_err_name(rc), folio_err_name(e.folio_err));
    if (ferr)
        CHECKL(line, rc == ferr, "%s: returned %s, expected %s", what, folio_err_name(rc),
               folio_err_name(ferr));
    CHECKL(line, e.code[0] != 0 && strspn(e.code, "abcdefghijklmnopqrstuvwxyz0123456789_") ==
                                       strlen(e.code),
           "%s: code `%s` is not a snake_case code", what, e.code);
    if (code)
        CHECKL(line, code_matches(code, e.code), "%s: code `%s`, expected `%s` (%s)", what,
               e.code, code, e.message);
    if (http)
        CHECKL(line, e.http_status == http, "%s: HTTP %d, expected %d (%s)", what, e.http_status,
               http, e.code);
    else
        CHECKL(line, e.http_status >= 400 && e.http_status < 500, "%s: HTTP %d, expected 4xx",
               what, e.http_status);
    CHECKL(line, strcmp(e.type, "invalid_request") == 0, "%s: type `%s`, expected invalid_request",
           what, e.type);
    CHECKL(line, e.message[0] != 0, "%s: empty message", what);
    CHECKL(line, memchr(e.message, 0, sizeof(e.message)) != NULL, "%s: message not terminated",
           what);
    if (needles)
        CHECKL(line, message_names(e.message, needles), "%s: message `%s` does not name `%s`",
               what, e.message, needles);
    mark_take_at(f, &after, line);
    mark_same_at(&before, &after, line, what);
}
#define EXPECT_REG_ERR(f, r, code, http, ferr, needles, what)                                     \
    expect_reg_err_at(f, r, code, http, ferr, needles, __LINE__, what)

/* ---- journal ----------------------------------------------------------------------- */

static void
event_at(struct fx *f, uint64_t seq, struct folio_event *ev)
{
    struct folio_journal_reader *r = NULL;
    struct folio_journal_diag d;
    memset(&d, 0, sizeof(d));
    int rc = folio_journal_reader_open(folio_sched_journal_dir(f->s), seq, 0, &r, &d);
    CHECK(rc == 0, "reader_open: %s %s", folio_err_name(rc), d.reason);
    struct folio_journal_record rec;
    rc = folio_journal_reader_next(r, &rec, &d);
    CHECK(rc == 0, "reader_next at %" PRIu64 ": %s %s", seq, folio_err_name(rc), d.reason);
    CHECK(rec.seq == seq, "reader returned seq %" PRIu64 ", wanted %" PRIu64, rec.seq, seq);
    rc = folio_event_decode(rec.data, rec.len, ev);
    CHECK(rc == 0, "event %" PRIu64 " does not decode: %s", seq, folio_err_name(rc));
    folio_journal_reader_close(r);
}

/* ---- batches ------------------------------------------------------------------------ */

static uint32_t
batch_of(struct fx *f, uint32_t task)
{
    struct tinfo t;
    tinfo_get_at(f, task, &t, __LINE__);
    CHECK(t.exists, "task %u does not exist", task);
    tinfo_clear(&t);
    return t.batch_uid;
}

/* Living tasks of a batch; returns the count. */
static uint32_t
batch_tasks(struct fx *f, uint32_t batch, uint32_t *out, uint32_t max)
{
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    uint32_t n = folio_sched_batch_tasks(st, batch, out, max);
    folio_sched_read_unlock(f->s);
    return n;
}

/*
 * Invariants over every task and batch: each batch has a strategy; the
 * tasks of a batch that were not canceled by another task touch one index
 * (or are one global task) and are at most batch_max (0: unchecked); the
 * tasks of one index run in uid order (batch uid and startedAt never go
 * back). Returns the number of batches seen.
 */
static uint32_t
check_batches_at(struct fx *f, uint32_t batch_max, int line)
{
    uint64_t n = next_task_uid(f);
    uint32_t batches_seen = 0;
    uint32_t *seen = folio_calloc(n + 1, sizeof(uint32_t));
    for (uint32_t u = 0; u < n; u++) {
        struct tinfo t;
        tinfo_get_at(f, u, &t, line);
        if (!t.exists || t.batch_uid == NONE) {
            tinfo_clear(&t);
            continue;
        }
        /* batch-level checks, once per batch */
        bool done = false;
        for (uint32_t i = 0; i < batches_seen; i++)
            done |= seen[i] == t.batch_uid;
        if (!done) {
            seen[batches_seen++] = t.batch_uid;
            const struct folio_sched_state *st = folio_sched_read_lock(f->s);
            struct folio_batch_view bv;
            int rc = folio_sched_batch_get(st, t.batch_uid, &bv);
            uint32_t rlen = rc == 0 ? bv.reason.len : 0;
            folio_sched_read_unlock(f->s);
            CHECKL(line, rc == 0, "batch %u of task %u: %s", t.batch_uid, u, folio_err_name(rc));
            CHECKL(line, rlen > 0, "batch %u has an empty batchStrategy", t.batch_uid);
            uint32_t tasks_max = (uint32_t)n + 1;
            uint32_t *tasks = folio_calloc(tasks_max, sizeof(uint32_t));
            uint32_t m = batch_tasks(f, t.batch_uid, tasks, tasks_max);
            CHECKL(line, m >= 1 && m <= tasks_max, "batch %u has %u tasks", t.batch_uid, m);
            const char *idx0 = NULL;
            char idx0buf[FOLIO_INDEX_UID_MAX + 1] = "";
            uint32_t own = 0, global = 0;
            for (uint32_t i = 0; i < m; i++) {
                struct tinfo x;
                tinfo_get_at(f, tasks[i], &x, line);
                CHECKL(line, x.exists && x.batch_uid == t.batch_uid,
                       "batch %u lists task %u which is not in it", t.batch_uid, tasks[i]);
                bool canceled_here = x.status == FOLIO_STATUS_CANCELED && x.canceled_by != NONE &&
                                     x.canceled_by != tasks[i];
                if (!canceled_here) {
                    own++;
                    if (!folio_task_kind_one_index(x.kind)) {
                        global++;
                    } else if (idx0 == NULL) {
                        snprintf(idx0buf, sizeof(idx0buf), "%s", x.index_uids[0]);
                        idx0 = idx0buf;
                    } else {
                        CHECKL(line, strcmp(idx0, x.index_uids[0]) == 0,
                               "batch %u mixes indexes `%s` and `%s` (task %u)", t.batch_uid, idx0,
                               x.index_uids[0], tasks[i]);
                    }
                }
                tinfo_clear(&x);
            }
            CHECKL(line, global == 0 || idx0 == NULL,
                   "batch %u mixes a global task with index tasks", t.batch_uid);
            folio_free(tasks);
            if (batch_max)
                CHECKL(line, own <= batch_max, "batch %u holds %u tasks, limit %u", t.batch_uid,
                       own, batch_max);
        }
        tinfo_clear(&t);
    }
    /* per-index order */
    for (uint32_t a = 0; a < n; a++) {
        struct tinfo ta;
        tinfo_get_at(f, a, &ta, line);
        if (!ta.exists || ta.batch_uid == NONE || !folio_task_kind_one_index(ta.kind) ||
            ta.status == FOLIO_STATUS_CANCELED) {
            tinfo_clear(&ta);
            continue;
        }
        for (uint32_t b = a + 1; b < n; b++) {
            struct tinfo tb;
            tinfo_get_at(f, b, &tb, line);
            if (tb.exists && tb.batch_uid != NONE && folio_task_kind_one_index(tb.kind) &&
                tb.status != FOLIO_STATUS_CANCELED &&
                strcmp(ta.index_uids[0], tb.index_uids[0]) == 0) {
                CHECKL(line, ta.batch_uid <= tb.batch_uid && ta.started_at_ns <= tb.started_at_ns,
                       "index `%s`: task %u (batch %u) ran after task %u (batch %u)",
                       ta.index_uids[0], a, ta.batch_uid, b, tb.batch_uid);
            }
            tinfo_clear(&tb);
        }
        tinfo_clear(&ta);
    }
    folio_free(seen);
    return batches_seen;
}
#define CHECK_BATCHES(f, max) check_batches_at(f, max, __LINE__)

/* ---- payload builders ---------------------------------------------------------------- */

/* n documents {"id":first+i,"title":"t<i>","pad":"xxxx"} as a JSON array; caller frees. */
static char *
make_docs(uint32_t first, uint32_t n, size_t pad)
{
    size_t cap = 64 + (size_t)n * (64 + pad);
    char *buf = folio_malloc(cap);
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (uint32_t i = 0; i < n; i++) {
        used += (size_t)snprintf(buf + used, cap - used, "%s{\"id\":%u,\"title\":\"t%u\",\"pad\":\"",
                                 i ? "," : "", first + i, first + i);
        memset(buf + used, 'x', pad);
        used += pad;
        used += (size_t)snprintf(buf + used, cap - used, "\"}");
    }
    snprintf(buf + used, cap - used, "]");
    return buf;
}

/* A valid JSON payload of exactly len bytes (len >= 32). */
static char *
json_of_len(size_t len)
{
    const char *head = "[{\"id\":1,\"pad\":\"";
    const char *tail = "\"}]";
    size_t fixed = strlen(head) + strlen(tail);
    char *buf = folio_malloc(len + 1);
    memcpy(buf, head, strlen(head));
    memset(buf + strlen(head), 'p', len - fixed);
    memcpy(buf + len - strlen(tail), tail, strlen(tail));
    buf[len] = 0;
    return buf;
}

/* =========================================================================================
 * 0. open
 * ======================================================================================= */

static void
test_open_layout_and_lock(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-open");

    /* An inline payload bound above the maximum is a bad option. */
    f->opts.inline_payload_max = FOLIO_SCHED_INLINE_PAYLOAD_MAX + 1;
    struct folio_sched *s = NULL;
    int rc = folio_sched_open(&f->opts, &s, NULL, NULL);
    CHECK(rc == FOLIO_E_INVALID, "inline_payload_max above the maximum: %s", folio_err_name(rc));
    if (rc == 0)
        folio_sched_close(s);
    f->opts.inline_payload_max = 0;

    f->opts.db_path = NULL;
    rc = folio_sched_open(&f->opts, &s, NULL, NULL);
    CHECK(rc == FOLIO_E_INVALID, "no db_path: %s", folio_err_name(rc));
    f->opts.db_path = f->db;

    /* The data directory is created, 0700, with DESIGN §3's layout. */
    fx_open(f, true);
    struct stat st;
    CHECK(stat(f->db, &st) == 0 && S_ISDIR(st.st_mode), "%s was not created", f->db);
    CHECK((st.st_mode & 0777) == 0700, "data directory mode %o, expected 0700",
          st.st_mode & 0777);
    CHECK(strcmp(folio_sched_db_path(f->s), f->db) == 0, "db_path `%s`", folio_sched_db_path(f->s));
    char *jdir = tu_path(f->db, "journal");
    CHECK(strcmp(folio_sched_journal_dir(f->s), jdir) == 0, "journal dir `%s`, expected `%s`",
          folio_sched_journal_dir(f->s), jdir);
    folio_free(jdir);
    const char *iuid = folio_sched_instance_uid(f->s);
    CHECK(iuid && strlen(iuid) == 36, "instance uid `%s`", iuid ? iuid : "(null)");
    CHECK(strcmp(iuid, f->info.instance_uid) == 0, "open info instance uid `%s` vs `%s`",
          f->info.instance_uid, iuid);
    char *ipath = tu_path(f->db, "instance-uid");
    size_t ilen = 0;
    uint8_t *ibytes = tu_read_file(ipath, &ilen);
    CHECK(ibytes != NULL, "no %s", ipath);
    CHECK(ilen >= 36 && memcmp(ibytes, iuid, 36) == 0, "instance-uid file holds `%.*s`",
          (int)ilen, (const char *)ibytes);
    folio_free(ibytes);
    folio_free(ipath);
    char *vpath = tu_path(f->db, "VERSION");
    CHECK(tu_file_size(vpath) > 0, "no VERSION file");
    folio_free(vpath);
    char saved_iuid[37];
    snprintf(saved_iuid, sizeof(saved_iuid), "%s", iuid);

    /* Unknown tasks and indexes. */
    CHECK(folio_sched_wait_task(f->s, 0, 10) == FOLIO_E_NOT_FOUND, "wait_task on nothing");
    CHECK(folio_sched_wait_idle(f->s, 1000) == 0, "an empty scheduler is idle");
    struct folio_index *idx = NULL;
    rc = folio_sched_index_acquire(f->s, "nope", 4, &idx);
    CHECK(rc == FOLIO_E_NOT_FOUND, "acquire of a missing index: %s", folio_err_name(rc));

    /* A second open of the same data directory is refused while the first holds it. */
    struct folio_sched *s2 = NULL;
    f->opts.paused = true;
    rc = folio_sched_open(&f->opts, &s2, NULL, NULL);
    CHECK(rc == FOLIO_E_LOCKED, "second open: %s", folio_err_name(rc));
    if (rc == 0)
        folio_sched_close(s2);

    /* Reopen: the same instance. */
    fx_close(f);
    fx_open(f, true);
    CHECK(strcmp(folio_sched_instance_uid(f->s), saved_iuid) == 0, "instance uid changed: %s -> %s",
          saved_iuid, folio_sched_instance_uid(f->s));
}

/* =========================================================================================
 * 1. registration errors
 * ======================================================================================= */

static void
test_reg_err_index_uid(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-uid");
    f->opts.inline_payload_max = 16; /* any payload would become a content file */
    fx_open(f, true);

    char long_uid[402];
    memset(long_uid, 'a', 401);
    long_uid[401] = 0;
    char prefix[41];
    memcpy(prefix, long_uid, 40);
    prefix[40] = 0;

    struct {
        const char *uid;
        uint32_t len;
        const char *needle;
    } bad[] = {
        {"", 0, NULL},
        {long_uid, 401, prefix},
        {"bad uid!", 8, "bad uid!"},
        {"a/b", 3, "a/b"},
        {"a.b", 3, "a.b"},
        {"..", 2, NULL},
        {"caf\xc3\xa9", 5, "caf"},
        {"ab\0c", 4, NULL}, /* a NUL inside the counted string */
    };
    const char *docs = "[{\"id\":1,\"title\":\"a long enough title to pass the inline bound\"}]";
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(bad); i++) {
        struct folio_str u = {bad[i].uid, bad[i].len};
        enum folio_task_kind kinds[] = {FOLIO_KIND_INDEX_CREATION,
                                        FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE,
                                        FOLIO_KIND_SETTINGS_UPDATE, FOLIO_KIND_INDEX_DELETION,
                                        FOLIO_KIND_INDEX_UPDATE, FOLIO_KIND_DOCUMENT_DELETION};
        for (size_t k = 0; k < FOLIO_ARRAY_LEN(kinds); k++) {
            struct folio_sched_request r = rq(kinds[k], NULL);
            r.index_uid = u;
            r.payload = docs;
            r.payload_len = strlen(docs);
            r.settings_json = "{\"stopWords\":[\"a\"]}";
            r.settings_len = strlen(r.settings_json);
            r.clear = true;
            char what[96];
            snprintf(what, sizeof(what), "%s, uid #%zu (%u bytes)", folio_task_kind_name(kinds[k]),
                     i, bad[i].len);
            EXPECT_REG_ERR(f, r, "invalid_index_uid", 400, FOLIO_E_INVALID, bad[i].needle, what);
        }
    }

    /* 400 bytes is still valid, and nothing refused consumed a uid. */
    long_uid[400] = 0;
    uint32_t u0 = REG(f, rq_create(long_uid, NULL));
    CHECK(u0 == 0, "first task after refused registrations has uid %u, expected 0", u0);
    uint32_t u1 = REG(f, rq_create("A-z_09", NULL));
    CHECK(u1 == 1, "second task uid %u", u1);
}

static void
test_reg_err_index_not_found(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-notfound");
    f->opts.inline_payload_max = 16;
    fx_open(f, true);

    const char *docs = "[{\"id\":1,\"title\":\"Dune\"},{\"id\":2,\"title\":\"Emma\"}]";
    struct folio_str ids[] = {{"1", 1}, {"2", 1}};

    struct folio_sched_request r = rq_docs("missing", docs);
    r.forbid_index_creation = true;
    EXPECT_REG_ERR(f, r, "index_not_found", 404, FOLIO_E_NOT_FOUND, "`missing`",
                   "documents, no index creation");
    r = rq_update_docs("missing", docs);
    r.forbid_index_creation = true;
    EXPECT_REG_ERR(f, r, "index_not_found", 404, FOLIO_E_NOT_FOUND, "`missing`",
                   "documents update, no index creation");
    r = rq_settings("missing", "{\"filterableAttributes\":[\"title\"]}");
    r.forbid_index_creation = true;
    EXPECT_REG_ERR(f, r, "index_not_found", 404, FOLIO_E_NOT_FOUND, "`missing`",
                   "settings, no index creation");
    EXPECT_REG_ERR(f, rq_del_ids("missing", ids, 2), "index_not_found", 404, FOLIO_E_NOT_FOUND,
                   "`missing`", "documentDeletion by ids");
    EXPECT_REG_ERR(f, rq_clear("missing"), "index_not_found", 404, FOLIO_E_NOT_FOUND, "`missing`",
                   "documentDeletion clear");
    EXPECT_REG_ERR(f, rq(FOLIO_KIND_INDEX_DELETION, "missing"), "index_not_found", 404,
                   FOLIO_E_NOT_FOUND, "`missing`", "indexDeletion");
    r = rq(FOLIO_KIND_INDEX_UPDATE, "missing");
    r.primary_key = folio_str_c("id");
    EXPECT_REG_ERR(f, r, "index_not_found", 404, FOLIO_E_NOT_FOUND, "`missing`", "indexUpdate");

    /* A pending indexCreation may create it: all of the above are accepted. */
    uint32_t c = REG(f, rq_create("later", "id"));
    CHECK(c == 0, "uid %u after refusals", c);
    r = rq_docs("later", docs);
    r.forbid_index_creation = true;
    REG(f, r);
    r = rq_settings("later", "{\"filterableAttributes\":[\"title\"]}");
    r.forbid_index_creation = true;
    REG(f, r);
    REG(f, rq_del_ids("later", ids, 2));
    REG(f, rq_clear("later"));
    r = rq(FOLIO_KIND_INDEX_UPDATE, "later");
    r.primary_key = folio_str_c("id");
    REG(f, r);
    REG(f, rq(FOLIO_KIND_INDEX_DELETION, "later"));

    /* A pending document addition that may create its index counts too. */
    REG(f, rq_docs("implicit", docs));
    REG(f, rq(FOLIO_KIND_INDEX_DELETION, "implicit"));
    REG(f, rq_del_ids("implicit", ids, 1));
    /* ... and so does a settings update that may create it. */
    REG(f, rq_settings("implicit2", "{\"stopWords\":[\"the\"]}"));
    REG(f, rq(FOLIO_KIND_INDEX_DELETION, "implicit2"));

    /* Without creation rights, documents on a missing index with no creator stay refused. */
    r = rq_docs("still-missing", docs);
    r.forbid_index_creation = true;
    EXPECT_REG_ERR(f, r, "index_not_found", 404, FOLIO_E_NOT_FOUND, "still-missing",
                   "documents, other indexes pending");
}

static void
test_reg_err_payload(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-payload");
    f->opts.inline_payload_max = 16;
    f->opts.payload_bytes_max = 2048;
    fx_open(f, true);

    char *good = make_docs(1, 3, 40);
    size_t glen = strlen(good);
    /* malformed JSON: the same documents, cut short */
    char *cut = folio_strndup(good, glen - 5);
    EXPECT_REG_ERR(f, rq_docs("books", cut), "malformed_payload", 400, FOLIO_E_MALFORMED_PAYLOAD,
                   NULL, "JSON cut short");
    EXPECT_REG_ERR(f, rq_docs("books", "[{\"id\":1,\"title\":\"x\"}, {\"id\":2 \"title\":\"y\"}]"),
                   "malformed_payload", 400, FOLIO_E_MALFORMED_PAYLOAD, NULL, "JSON missing comma");
    EXPECT_REG_ERR(f, rq_docs("books", "[1, 2, 3, \"not documents at all\"]"),
                   "malformed_payload", 400, FOLIO_E_MALFORMED_PAYLOAD, NULL,
                   "JSON array of non-objects");
    const char *nd = "{\"id\":1,\"title\":\"first line is fine\"}\n{\"id\":2,\"title\":\n";
    EXPECT_REG_ERR(f,
                   rq_docs_fmt("books", nd, strlen(nd), FOLIO_INDEX_FORMAT_NDJSON,
                               FOLIO_DOC_REPLACE),
                   "malformed_payload", 400, FOLIO_E_MALFORMED_PAYLOAD, NULL, "NDJSON broken line");
    const char *csv = "id,title\n1,first record is fine\n2,second,has,too,many,fields\n";
    EXPECT_REG_ERR(f,
                   rq_docs_fmt("books", csv, strlen(csv), FOLIO_INDEX_FORMAT_CSV,
                               FOLIO_DOC_REPLACE),
                   "malformed_payload", 400, FOLIO_E_MALFORMED_PAYLOAD, NULL, "CSV extra fields");

    /* empty payloads */
    EXPECT_REG_ERR(f, rq_docs_fmt("books", "", 0, FOLIO_INDEX_FORMAT_JSON, FOLIO_DOC_REPLACE),
                   "missing_payload", 400, FOLIO_E_MISSING_PAYLOAD, NULL, "empty JSON");
    EXPECT_REG_ERR(f, rq_docs_fmt("books", NULL, 0, FOLIO_INDEX_FORMAT_NDJSON, FOLIO_DOC_UPDATE),
                   "missing_payload", 400, FOLIO_E_MISSING_PAYLOAD, NULL, "NULL NDJSON");
    EXPECT_REG_ERR(f, rq_docs_fmt("books", "", 0, FOLIO_INDEX_FORMAT_CSV, FOLIO_DOC_REPLACE),
                   "missing_payload", 400, FOLIO_E_MISSING_PAYLOAD, NULL, "empty CSV");

    /* size bound: 2049 bytes refused, 2048 accepted */
    char *big = json_of_len(2049);
    EXPECT_REG_ERR(f, rq_docs("books", big), "payload_too_large", 413,
                   FOLIO_E_PAYLOAD_TOO_LARGE, "2 KiB|2048|2.0 KiB", "payload over the bound");
    char *huge = json_of_len(1 << 20);
    EXPECT_REG_ERR(f, rq_docs("books", huge), "payload_too_large", 413,
                   FOLIO_E_PAYLOAD_TOO_LARGE, "2 KiB|2048|2.0 KiB", "payload far over the bound");

    /* bad primary keys */
    char pk[600];
    memset(pk, 'k', 599);
    pk[599] = 0;
    char pkneedle[41];
    memcpy(pkneedle, pk, 40);
    pkneedle[40] = 0;
    struct folio_sched_request r = rq_docs("books", good);
    r.primary_key = folio_str_c(pk);
    EXPECT_REG_ERR(f, r, "invalid_index_primary_key", 400, 0, pkneedle,
                   "documents, 599-byte primary key");
    EXPECT_REG_ERR(f, rq_create("books", pk), "invalid_index_primary_key", 400, 0, pkneedle,
                   "indexCreation, 599-byte primary key");
    r = rq_create("books", NULL);
    r.primary_key = (struct folio_str){"\xff\xfe", 2};
    EXPECT_REG_ERR(f, r, "invalid_index_primary_key", 400, 0, NULL,
                   "indexCreation, primary key not UTF-8");

    /* document ids of a deletion (DESIGN §9: integer or [A-Za-z0-9_-], 1-511 bytes) */
    REG(f, rq_create("ids", "id"));
    struct folio_str badids[] = {{"ok-1", 4}, {"not ok!", 7}};
    EXPECT_REG_ERR(f, rq_del_ids("ids", badids, 2), "invalid_document_id", 400, 0, "not ok!",
                   "deletion of an invalid document id");
    char longid[513];
    memset(longid, '7', 512);
    longid[512] = 0;
    struct folio_str longids[] = {{longid, 512}};
    EXPECT_REG_ERR(f, rq_del_ids("ids", longids, 1), "invalid_document_id", 400, 0, NULL,
                   "deletion of a 512-byte document id");
    struct folio_str okids[] = {{longid, 511}, {"A_b-9", 5}};
    REG(f, rq_del_ids("ids", okids, 2));

    /* a CSV delimiter that cannot be one */
    struct folio_sched_request rc_ = rq_docs_fmt("books", "id;title\n1;x\n", 13,
                                                 FOLIO_INDEX_FORMAT_CSV, FOLIO_DOC_REPLACE);
    rc_.csv_delimiter = '"';
    EXPECT_REG_ERR(f, rc_, NULL, 400, 0, NULL, "CSV delimiter '\"'");

    /* nothing refused consumed a uid; exactly at the bound is fine */
    char *at = json_of_len(2048);
    uint32_t u = REG(f, rq_docs("books", at));
    CHECK(u == 2, "uid %u (after indexCreation 0 and deletion 1)", u);
    r = rq(FOLIO_KIND_INDEX_UPDATE, "books");
    r.primary_key = (struct folio_str){"\xc3\x28", 2};
    EXPECT_REG_ERR(f, r, "invalid_index_primary_key", 400, 0, NULL,
                   "indexUpdate, primary key not UTF-8");
    r = rq_docs_fmt("books", "id;title\n1;x\n", 13, FOLIO_INDEX_FORMAT_CSV, FOLIO_DOC_REPLACE);
    r.csv_delimiter = ';';
    CHECK(REG(f, r) == 3, "uid after refusals");

    folio_free(good);
    folio_free(cut);
    folio_free(big);
    folio_free(huge);
    folio_free(at);
}

static void
test_reg_err_settings(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-settings");
    fx_open(f, true);
    EXPECT_REG_ERR(f, rq_settings("books", "{\"sortableAttributes\": 5}"), "invalid_settings*", 400,
                   0, "sortableAttributes", "sortableAttributes not an array");
    EXPECT_REG_ERR(f, rq_settings("books", "{\"rankingRules\": [\"words\", \"bogusRule\"]}"),
                   "invalid_settings*", 400, 0, "bogusRule", "unknown ranking rule");
    EXPECT_REG_ERR(f, rq_settings("books", "{\"notASetting\": true}"),
                   "bad_request", 400, 0, "notASetting",
                   "unknown settings key");
    EXPECT_REG_ERR(f, rq_settings("books", "[\"filterableAttributes\"]"),
                   "bad_request|invalid_settings*|malformed_payload", 400, 0, NULL,
                   "settings not an object");
    EXPECT_REG_ERR(f, rq_settings("books", "{\"stopWords\": [\"a\""),
                   "bad_request|malformed_payload|invalid_settings*", 400, 0, NULL,
                   "settings not JSON");
    /* forbid creation on a missing index: the index check */
    struct folio_sched_request r = rq_settings("books", "{\"stopWords\": [\"a\"]}");
    r.forbid_index_creation = true;
    EXPECT_REG_ERR(f, r, "index_not_found", 404, FOLIO_E_NOT_FOUND, "books",
                   "settings on a missing index");
    CHECK(REG(f, rq_settings("books", "{\"stopWords\": [\"a\"], \"distinctAttribute\": null}")) ==
              0,
          "first good settings task");
    r = rq(FOLIO_KIND_SETTINGS_UPDATE, "books");
    r.settings_reset = true;
    CHECK(REG(f, r) == 1, "settings reset");
}

static void
test_reg_err_task_filters_and_swap(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-filters");
    fx_open(f, true);

    struct folio_sched_query none;
    memset(&none, 0, sizeof(none));
    struct folio_sched_request r = rq(FOLIO_KIND_TASK_CANCELATION, NULL);
    r.filter = &none;
    EXPECT_REG_ERR(f, r, "missing_task_filters", 400, 0, NULL, "cancelation without a filter");
    r.kind = FOLIO_KIND_TASK_DELETION;
    EXPECT_REG_ERR(f, r, "missing_task_filters", 400, 0, NULL, "deletion without a filter");
    /* limit / from / reverse are not filters (Meilisearch: cancel/delete do not take them) */
    none.limit_set = true;
    none.limit = 5;
    none.reverse = true;
    EXPECT_REG_ERR(f, r, "missing_task_filters", 400, 0, NULL, "deletion with only limit/reverse");

    /* indexes to swap exist (processed) */
    REG(f, rq_create("swap-a", NULL));
    REG(f, rq_create("swap-b", NULL));
    REG(f, rq_create("swap-c", NULL));
    settle(f);
    struct folio_task_swap sw[2];
    memset(sw, 0, sizeof(sw));
    sw[0].indexes[0] = folio_str_c("swap-a");
    sw[0].indexes[1] = folio_str_c("swap-b");
    sw[1].indexes[0] = folio_str_c("swap-b");
    sw[1].indexes[1] = folio_str_c("swap-c");
    EXPECT_REG_ERR(f, rq_swap(sw, 2), "invalid_swap_duplicate_index_found", 400, 0, "swap-b",
                   "swap naming swap-b twice");
    sw[0].indexes[1] = folio_str_c("swap-a");
    EXPECT_REG_ERR(f, rq_swap(sw, 1), "invalid_swap_duplicate_index_found", 400, 0, "swap-a",
                   "swap of an index with itself");
    sw[0].indexes[1] = folio_str_c("bad uid!");
    EXPECT_REG_ERR(f, rq_swap(sw, 1), NULL, 400, 0, "bad uid!", "swap with an invalid uid");

    /* the good ones */
    uint32_t fil[] = {0};
    struct folio_sched_query q;
    uint32_t u = REG(f, rq_tasks(FOLIO_KIND_TASK_DELETION, &q, fil, 1, "?uids=0"));
    CHECK(u == 3, "uid %u", u);
    sw[0].indexes[1] = folio_str_c("swap-b");
    CHECK(REG(f, rq_swap(sw, 1)) == 4, "swap uid");
}

static void
test_reg_err_snapshots(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-snapreg");
    fx_open(f, true);
    REG(f, rq_create("books", NULL));
    settle(f);

    /* No snapshot directory configured: no snapshot task can be registered
       (snapshotCreation is checked last, below). */
    EXPECT_REG_ERR(f, rq(FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION, "books"), NULL, 0, 0, NULL,
                   "singleIndexSnapshotCreation, no snapshot dir");
    /* The header names new_index_uid the import's target; index_uid is set to the same
       uid too, so these cases do not depend on which of the two the code reads. */
    struct folio_sched_request r = rq(FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT, "imported");
    r.snapshot_path = folio_str_c("books.idx.snapshot");
    r.new_index_uid = folio_str_c("imported");
    EXPECT_REG_ERR(f, r, NULL, 0, 0, NULL, "singleIndexSnapshotImport, no snapshot dir");
    fx_close(f);

    fx_snapshot_dir(f);
    fx_open(f, true);
    /* a file outside the snapshot dir, and one inside it */
    char *outside = tu_path(f->root, "outside.idx.snapshot");
    tu_write_file(outside, "not an archive", 14);
    char *inside = tu_path(f->snap, "inside.idx.snapshot");
    tu_write_file(inside, "not an archive", 14);
    char *link = tu_path(f->snap, "link.idx.snapshot");
    CHECK(symlink(outside, link) == 0, "symlink: %s", strerror(errno));

    r.snapshot_path = folio_str_c("missing.idx.snapshot");
    EXPECT_REG_ERR(f, r, "snapshot_file_not_found", 404, FOLIO_E_NOT_FOUND, "missing.idx.snapshot",
                   "import of a missing file");
    r.snapshot_path = folio_str_c("indexes/books/missing.idx.snapshot");
    EXPECT_REG_ERR(f, r, "snapshot_file_not_found", 404, FOLIO_E_NOT_FOUND, "missing.idx.snapshot",
                   "import of a missing file in a subdir");
    r.snapshot_path = folio_str_c("../outside.idx.snapshot");
    EXPECT_REG_ERR(f, r, NULL, 0, 0, "../outside.idx.snapshot", "import of ../outside");
    r.snapshot_path = folio_str_c("indexes/../../outside.idx.snapshot");
    EXPECT_REG_ERR(f, r, NULL, 0, 0, "outside.idx.snapshot", "import of dir/../../outside");
    r.snapshot_path = folio_str_c(outside);
    EXPECT_REG_ERR(f, r, NULL, 0, 0, "outside.idx.snapshot", "import of an absolute path outside");
    r.snapshot_path = folio_str_c("link.idx.snapshot");
    EXPECT_REG_ERR(f, r, NULL, 0, 0, NULL, "import through a symlink leading outside");
    r.snapshot_path = folio_str_c("");
    EXPECT_REG_ERR(f, r, NULL, 0, 0, NULL, "import without a path");
    r.snapshot_path = folio_str_c("inside.idx.snapshot");
    r.new_index_uid = folio_str_c("bad uid!");
    r.index_uid = folio_str_c("bad uid!");
    EXPECT_REG_ERR(f, r, "invalid_index_uid", 400, 0, "bad uid!", "import as an invalid uid");
    r.index_uid = folio_str_c("imported");
    r.new_index_uid = folio_str_c("imported");
    r.source_index_uid = folio_str_c("bad uid!");
    EXPECT_REG_ERR(f, r, "invalid_index_uid", 400, 0, "bad uid!", "import asserting an invalid source uid");

    EXPECT_REG_ERR(f, rq(FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION, "nope"), "index_not_found", 404,
                   FOLIO_E_NOT_FOUND, "nope", "singleIndexSnapshotCreation of a missing index");
    EXPECT_REG_ERR(f, rq(FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION, "bad uid!"),
                   "invalid_index_uid", 400, 0, "bad uid!",
                   "singleIndexSnapshotCreation of an invalid uid");

    /* POST /snapshots/import carries no index uid of its own: the target is
       newIndexUid (header: "singleIndexSnapshotImport target"), index_uid unset. */
    struct folio_sched_request imp = rq(FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT, NULL);
    imp.snapshot_path = folio_str_c("inside.idx.snapshot");
    imp.new_index_uid = folio_str_c("imported2");
    struct folio_sched_registered iout;
    struct folio_sched_error ierr;
    int irc = reg(f, &imp, &iout, &ierr);
    SOFT(irc == 0, "import with new_index_uid only (index_uid unset): %s [%s] %s",
         folio_err_name(irc), ierr.code, ierr.message);
    if (irc == 0)
        SOFT(strcmp(iout.index_uid, "imported2") == 0, "import registered on `%s`",
             iout.index_uid);

    fx_close(f);
    f->opts.snapshot_dir = NULL;
    fx_open(f, true);
    EXPECT_REG_ERR(f, rq(FOLIO_KIND_SNAPSHOT_CREATION, NULL), NULL, 0, 0, NULL,
                   "snapshotCreation, no snapshot dir");
    folio_free(outside);
    folio_free(inside);
    folio_free(link);
    SOFT_DONE();
}

/* =========================================================================================
 * 2. successful registration
 * ======================================================================================= */

static void
test_register_success(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-reg");
    fx_open(f, true);
    const char *jdir = folio_sched_journal_dir(f->s);

    int64_t t0 = now_ns();
    struct folio_sched_request r = rq_create("books", "isbn");
    struct folio_sched_registered out;
    struct folio_sched_error e;
    int rc = reg(f, &r, &out, &e);
    int64_t t1 = now_ns();
    CHECK(rc == 0, "register: %s %s", folio_err_name(rc), e.message);
    CHECK(out.task_uid == 0, "first uid %u", out.task_uid);
    CHECK(out.kind == FOLIO_KIND_INDEX_CREATION, "kind %d", out.kind);
    CHECK(strcmp(out.index_uid, "books") == 0, "index uid `%s`", out.index_uid);
    CHECK(out.enqueued_at_ns >= t0 - 50000000 && out.enqueued_at_ns <= t1 + 50000000,
          "enqueued_at %" PRId64 " outside [%" PRId64 ", %" PRId64 "]", out.enqueued_at_ns, t0, t1);
    /* durable and applied before the call returned */
    struct folio_journal_verify_info vi;
    CHECK(folio_journal_verify(jdir, &vi, NULL) == 0, "journal verify");
    CHECK(out.seq >= 1 && out.seq <= vi.last_seq, "seq %" PRIu64 " not durable (last %" PRIu64 ")",
          out.seq, vi.last_seq);
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    uint64_t last = folio_sched_state_last_seq(st);
    folio_sched_read_unlock(f->s);
    CHECK(last >= out.seq, "state seq %" PRIu64 " behind the registration %" PRIu64, last, out.seq);
    struct folio_event ev;
    event_at(f, out.seq, &ev);
    CHECK(ev.type == FOLIO_EV_TASK_REGISTERED, "event %" PRIu64 " is %s", out.seq,
          folio_event_type_name(ev.type));
    CHECK(ev.u.task_registered.task_uid == 0 && ev.u.task_registered.enqueued_at_ns ==
                                                     out.enqueued_at_ns,
          "task_registered event: uid %" PRIu64, ev.u.task_registered.task_uid);
    CHECK(ev.u.task_registered.index_uids.count == 1 &&
              strcmp(ev.u.task_registered.index_uids.items[0].ptr, "books") == 0,
          "index uids of the event");
    folio_event_clear(&ev);

    struct tinfo t;
    tinfo_get_at(f, 0, &t, __LINE__);
    CHECK(t.exists && t.status == FOLIO_STATUS_ENQUEUED && t.kind == FOLIO_KIND_INDEX_CREATION,
          "task 0: %s", jdump(t.json));
    CHECK(t.batch_uid == NONE && t.canceled_by == NONE && !t.started && !t.finished,
          "task 0 enqueued but: %s", jdump(t.json));
    CHECK(t.enqueued_at_ns == out.enqueued_at_ns, "enqueued_at in state differs");
    CHECK(jint(t.json, "uid") == 0 && jnull(t.json, "batchUid") && jstr_is(t.json, "indexUid", "books") &&
              jstr_is(t.json, "type", "indexCreation") && jnull(t.json, "canceledBy") &&
              jnull(t.json, "error") && jnull(t.json, "duration") && jnull(t.json, "startedAt") &&
              jnull(t.json, "finishedAt") && jstr(t.json, "enqueuedAt"),
          "TaskView of an enqueued task: %s", jdump(t.json));
    CHECK(jstr_is(json_object_get(t.json, "details"), "primaryKey", "isbn"), "details: %s",
          jdump(t.json));
    tinfo_clear(&t);

    /* documents: receivedDocuments counted, indexedDocuments null */
    const char *docs = "[{\"isbn\":\"1\",\"t\":\"a\"},{\"isbn\":\"2\",\"t\":\"b\"},{\"isbn\":\"3\"}]";
    CHECK(REG(f, rq_docs("books", docs)) == 1, "uid 1");
    json_t *j = tjson(f, 1);
    json_t *d = json_object_get(j, "details");
    CHECK(jint(d, "receivedDocuments") == 3 && jnull(d, "indexedDocuments"), "details: %s",
          jdump(j));
    CHECK(jstr_is(j, "status", "enqueued") && jstr_is(j, "type", "documentAdditionOrUpdate"),
          "%s", jdump(j));
    json_decref(j);

    const char *nd = "{\"isbn\":\"4\"}\n{\"isbn\":\"5\"}\n\n";
    CHECK(REG(f, rq_docs_fmt("books", nd, strlen(nd), FOLIO_INDEX_FORMAT_NDJSON,
                             FOLIO_DOC_UPDATE)) == 2,
          "uid 2");
    j = tjson(f, 2);
    CHECK(jint(json_object_get(j, "details"), "receivedDocuments") == 2, "NDJSON details: %s",
          jdump(j));
    json_decref(j);
    const char *csv = "isbn;title;year:number\n6;Dune;1965\n7;Emma;1815\n8;Ulysses;1922\n";
    r = rq_docs_fmt("books", csv, strlen(csv), FOLIO_INDEX_FORMAT_CSV, FOLIO_DOC_REPLACE);
    r.csv_delimiter = ';';
    CHECK(REG(f, r) == 3, "uid 3");
    j = tjson(f, 3);
    CHECK(jint(json_object_get(j, "details"), "receivedDocuments") == 3, "CSV details: %s",
          jdump(j));
    json_decref(j);

    struct folio_str ids[] = {{"1", 1}, {"2", 1}};
    CHECK(REG(f, rq_del_ids("books", ids, 2)) == 4, "uid 4");
    j = tjson(f, 4);
    d = json_object_get(j, "details");
    CHECK(jint(d, "providedIds") == 2 && jnull(d, "deletedDocuments"), "deletion details: %s",
          jdump(j));
    json_decref(j);

    /* a clear: Meilisearch's ClearAll details, {deletedDocuments: null}, no providedIds */
    uint32_t clear_uid = REG(f, rq_clear("books"));
    j = tjson(f, clear_uid);
    d = json_object_get(j, "details");
    CHECK(jnull(d, "deletedDocuments") && jint(d, "providedIds") == -2,
          "clear details: %s", jdump(j));
    json_decref(j);
    CHECK(REG(f, rq_settings("books", "{\"filterableAttributes\":[\"year\"]}")) == 6, "uid 6");
    j = tjson(f, 6);
    d = json_object_get(j, "details");
    json_t *fa = json_object_get(d, "filterableAttributes");
    CHECK(json_is_array(fa) && json_array_size(fa) == 1, "settings details: %s", jdump(j));
    json_decref(j);

    uint32_t fil[] = {1, 2};
    struct folio_sched_query q;
    CHECK(REG(f, rq_tasks(FOLIO_KIND_TASK_CANCELATION, &q, fil, 2, "?uids=1,2")) == 7, "uid 7");
    j = tjson(f, 7);
    d = json_object_get(j, "details");
    CHECK(jnull(j, "indexUid") && jint(d, "matchedTasks") == 2 && jnull(d, "canceledTasks") &&
              jstr_is(d, "originalFilter", "?uids=1,2"),
          "cancel details: %s", jdump(j));
    json_decref(j);

    uint32_t fil2[] = {0, 99};
    CHECK(REG(f, rq_tasks(FOLIO_KIND_TASK_DELETION, &q, fil2, 2, "?uids=0,99")) == 8, "uid 8");
    j = tjson(f, 8);
    d = json_object_get(j, "details");
    CHECK(jint(d, "matchedTasks") == 1 && jnull(d, "deletedTasks") &&
              jstr_is(d, "originalFilter", "?uids=0,99"),
          "deletion details: %s", jdump(j));
    json_decref(j);

    /* matchedTasks only holds existing tasks older than the canceler */
    q.uids = NULL;
    q.uids_set = false;
    q.statuses = 1u << FOLIO_STATUS_ENQUEUED;
    r = rq(FOLIO_KIND_TASK_CANCELATION, NULL);
    r.filter = &q;
    r.query = folio_str_c("?statuses=enqueued");
    CHECK(REG(f, r) == 9, "uid 9");
    j = tjson(f, 9);
    CHECK(jint(json_object_get(j, "details"), "matchedTasks") == 9, "statuses=enqueued matched: %s",
          jdump(j));
    json_decref(j);

    /* still paused: nothing ran */
    CHECK(folio_sched_wait_task(f->s, 0, 50) == FOLIO_E_TIMEOUT, "wait_task while paused");
    CHECK(folio_sched_wait_idle(f->s, 50) == FOLIO_E_TIMEOUT, "wait_idle while paused");
    CHECK(next_task_uid(f) == 10, "next uid %" PRIu64, next_task_uid(f));
    for (uint32_t u = 0; u < 10; u++)
        EXPECT_STATUS(f, u, ENQUEUED);
    CHECK(count_in_db(f, "content") == 0, "payloads under 16 KiB must not make content files");
}

/* Inline payloads vs content files, and their removal. */
static void
test_content_files(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-content");
    f->opts.inline_payload_max = 1024;
    fx_open(f, true);

    char *small = make_docs(1, 2, 10);
    CHECK(strlen(small) < 1024, "small payload %zu bytes", strlen(small));
    REG(f, rq_docs("cf", small));
    CHECK(count_in_db(f, "content") == 0, "a payload under inline_payload_max made a file");

    char *large = make_docs(100, 40, 100); /* ~6 KiB */
    size_t llen = strlen(large);
    CHECK(llen > 4096, "large payload %zu bytes", llen);
    uint32_t tl = REG(f, rq_docs("cf", large));
    CHECK(count_in_db(f, "content") == 1, "content/ holds %ld entries after a large payload",
          count_in_db(f, "content"));
    char *file = only_content_file(f);
    size_t flen = 0;
    uint8_t *fbytes = tu_read_file(file, &flen);
    CHECK(fbytes && flen == llen && memcmp(fbytes, large, llen) == 0,
          "content file %s does not hold the payload (%zu vs %zu bytes)", file, flen, llen);
    struct stat st;
    CHECK(stat(file, &st) == 0 && (st.st_mode & 0077) == 0, "content file mode %o",
          st.st_mode & 0777);
    folio_free(fbytes);
    json_t *j = tjson(f, tl);
    CHECK(jint(json_object_get(j, "details"), "receivedDocuments") == 40, "details: %s", jdump(j));
    json_decref(j);

    char *nd = make_docs(200, 30, 100);
    for (char *p = nd; *p; p++) /* the same documents as NDJSON */
        if (*p == '[' || *p == ']')
            *p = ' ';
        else if (p[0] == '}' && p[1] == ',')
            p[1] = '\n';
    uint32_t tn = REG(f, rq_docs_fmt("cf", nd, strlen(nd), FOLIO_INDEX_FORMAT_NDJSON,
                                      FOLIO_DOC_UPDATE));
    CHECK(count_in_db(f, "content") == 2, "content/ holds %ld entries after two large payloads",
          count_in_db(f, "content"));
    settle(f);
    EXPECT_STATUS(f, 0, SUCCEEDED);
    EXPECT_STATUS(f, tl, SUCCEEDED);
    EXPECT_STATUS(f, tn, SUCCEEDED);
    CHECK(await_empty(f, "content") == 0, "content/ holds %ld entries once the tasks succeeded",
          count_in_db(f, "content"));

    /* a large payload that fails at processing (the second document has no id) */
    char *bad = folio_malloc(4096);
    char pad[3001];
    memset(pad, 'y', 3000);
    pad[3000] = 0;
    snprintf(bad, 4096, "[{\"id\":999,\"x\":1},{\"title\":\"no id\",\"pad\":\"%s\"}]", pad);
    uint32_t tb = REG(f, rq_docs("cf", bad));
    CHECK(count_in_db(f, "content") == 1, "content/ holds %ld entries", count_in_db(f, "content"));
    settle(f);
    EXPECT_FAILED(f, tb, "missing_document_id");
    CHECK(await_empty(f, "content") == 0, "content/ holds %ld entries once the task failed",
          count_in_db(f, "content"));
    uint64_t total = 0;
    json_t *dj = docs_at(f, "cf", &total, __LINE__);
    CHECK(total == 72, "documents %" PRIu64 ", expected 72", total);
    json_decref(dj);
    /* the inline one's event carries no file, and its documents are all there */
    j = tjson(f, 0);
    CHECK(jint(json_object_get(j, "details"), "indexedDocuments") == 2, "details: %s", jdump(j));
    json_decref(j);

    /* the bound itself: "payloads up to inline_payload_max travel in the event" */
    char *at = json_of_len(1024), *over = json_of_len(1025);
    REG(f, rq_docs("cf", at));
    CHECK(count_in_db(f, "content") == 0, "a payload of exactly inline_payload_max made a file");
    REG(f, rq_docs("cf", over));
    CHECK(count_in_db(f, "content") == 1, "a payload one byte over inline_payload_max: %ld files",
          count_in_db(f, "content"));
    settle(f);
    CHECK(await_empty(f, "content") == 0, "content files left");
    folio_free(at);
    folio_free(over);

    folio_free(file);
    folio_free(nd);
    folio_free(small);
    folio_free(large);
    folio_free(bad);
}

struct async_ctx {
    atomic_int calls;
    atomic_int errors;
    atomic_uint last_uid;
    atomic_int out_of_order;
};

static void
async_cb(void *ctx, int err, const struct folio_sched_registered *task)
{
    struct async_ctx *c = ctx;
    if (err != 0 || task == NULL) {
        atomic_fetch_add(&c->errors, 1);
    } else {
        int n = atomic_fetch_add(&c->calls, 1);
        if (task->task_uid != (unsigned)n)
            atomic_fetch_add(&c->out_of_order, 1);
        atomic_store(&c->last_uid, task->task_uid);
    }
}

static void
test_register_async(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-async");
    fx_open(f, true);
    struct async_ctx c;
    atomic_init(&c.calls, 0);
    atomic_init(&c.errors, 0);
    atomic_init(&c.last_uid, 0);
    atomic_init(&c.out_of_order, 0);
    char uid[32];
    for (int i = 0; i < 20; i++) {
        snprintf(uid, sizeof(uid), "async-%d", i % 3);
        struct folio_sched_request r = rq_docs(uid, "[{\"id\":1}]");
        struct folio_sched_error e;
        memset(&e, 0, sizeof(e));
        int rc = folio_sched_register_async(f->s, &r, async_cb, &c, &e);
        CHECK(rc == 0, "async register %d: %s %s", i, folio_err_name(rc), e.message);
    }
    /* a validation error: refused at once, the callback is never called */
    struct folio_sched_request bad = rq_create("bad uid!", NULL);
    struct folio_sched_error e;
    memset(&e, 0, sizeof(e));
    int rc = folio_sched_register_async(f->s, &bad, async_cb, &c, &e);
    CHECK(rc < 0 && strcmp(e.code, "invalid_index_uid") == 0, "async validation: %s `%s`",
          folio_err_name(rc), e.code);
    for (int i = 0; i < 1000 && atomic_load(&c.calls) + atomic_load(&c.errors) < 20; i++)
        usleep(10000);
    CHECK(atomic_load(&c.calls) == 20 && atomic_load(&c.errors) == 0,
          "callbacks: %d ok, %d errors", atomic_load(&c.calls), atomic_load(&c.errors));
    CHECK(atomic_load(&c.out_of_order) == 0, "callbacks out of uid order");
    usleep(50000);
    CHECK(atomic_load(&c.calls) == 20, "extra callback (the refused request?)");
    CHECK(next_task_uid(f) == 20, "next uid %" PRIu64, next_task_uid(f));
    for (uint32_t u = 0; u < 20; u++)
        EXPECT_STATUS(f, u, ENQUEUED);
    settle(f);
    for (uint32_t u = 0; u < 20; u++)
        EXPECT_STATUS(f, u, SUCCEEDED);
}

/* Registrations from several threads while the scheduler runs. */
#define CONC_THREADS 4
#define CONC_EACH 40

struct conc_arg {
    struct fx *f;
    int id;
    uint32_t uids[CONC_EACH];
    int failures;
    int bad_accepted;
};

static void *
conc_main(void *p)
{
    struct conc_arg *a = p;
    char uid[32], doc[64];
    snprintf(uid, sizeof(uid), "conc-%d", a->id);
    for (int i = 0; i < CONC_EACH; i++) {
        snprintf(doc, sizeof(doc), "[{\"id\":%d,\"t\":%d}]", i, a->id);
        struct folio_sched_request r = rq_docs(uid, doc);
        struct folio_sched_registered out;
        struct folio_sched_error e;
        if (reg(a->f, &r, &out, &e) != 0)
            a->failures++;
        a->uids[i] = out.task_uid;
        /* a refused registration between good ones must not take a uid */
        struct folio_sched_request bad = rq_docs(uid, "[{\"id\":1,");
        if (reg(a->f, &bad, &out, &e) == 0)
            a->bad_accepted++;
    }
    return NULL;
}

static void
test_register_concurrent(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-conc");
    f->opts.inline_payload_max = 16; /* every payload a content file */
    fx_open(f, false);
    pthread_t th[CONC_THREADS];
    struct conc_arg args[CONC_THREADS];
    for (int i = 0; i < CONC_THREADS; i++) {
        memset(&args[i], 0, sizeof(args[i]));
        args[i].f = f;
        args[i].id = i;
        CHECK(pthread_create(&th[i], NULL, conc_main, &args[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < CONC_THREADS; i++)
        pthread_join(th[i], NULL);
    bool seen[CONC_THREADS * CONC_EACH];
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < CONC_THREADS; i++) {
        CHECK(args[i].failures == 0 && args[i].bad_accepted == 0,
              "thread %d: %d failures, %d bad payloads accepted", i, args[i].failures,
              args[i].bad_accepted);
        for (int k = 0; k < CONC_EACH; k++) {
            uint32_t u = args[i].uids[k];
            CHECK(u < CONC_THREADS * CONC_EACH && !seen[u], "thread %d got uid %u (duplicate or "
                  "out of range: refused registrations took uids?)", i, u);
            seen[u] = true;
            CHECK(k == 0 || u > args[i].uids[k - 1], "thread %d: uids not increasing", i);
        }
    }
    CHECK(next_task_uid(f) == CONC_THREADS * CONC_EACH, "next uid %" PRIu64, next_task_uid(f));
    uint32_t last = args[0].uids[CONC_EACH - 1];
    int rc = folio_sched_wait_task(f->s, last, WAIT_MS);
    CHECK(rc == 0, "wait_task(%u): %s", last, folio_err_name(rc));
    struct tinfo t;
    tinfo_get_at(f, last, &t, __LINE__);
    CHECK(t.finished, "wait_task returned before task %u finished", last);
    tinfo_clear(&t);
    CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "wait_idle");
    for (uint32_t u = 0; u < CONC_THREADS * CONC_EACH; u++)
        EXPECT_STATUS(f, u, SUCCEEDED);
    char uid[32];
    for (int i = 0; i < CONC_THREADS; i++) {
        snprintf(uid, sizeof(uid), "conc-%d", i);
        uint64_t total = 0;
        json_decref(docs_at(f, uid, &total, __LINE__));
        CHECK(total == CONC_EACH, "%s holds %" PRIu64 " documents", uid, total);
    }
    CHECK_BATCHES(f, 0);
    CHECK(await_empty(f, "content") == 0, "content files left: %ld", count_in_db(f, "content"));
    struct folio_journal_verify_info vi;
    CHECK(folio_journal_verify(folio_sched_journal_dir(f->s), &vi, NULL) == 0, "journal verify");

    /* paused: a registration stays enqueued */
    folio_sched_pause(f->s);
    uint32_t p = REG(f, rq_docs("conc-0", "[{\"id\":1000}]"));
    CHECK(folio_sched_wait_task(f->s, p, 300) == FOLIO_E_TIMEOUT, "processed while paused");
    EXPECT_STATUS(f, p, ENQUEUED);
    folio_sched_resume(f->s);
    CHECK(folio_sched_wait_task(f->s, p, WAIT_MS) == 0, "not processed after resume");
    EXPECT_STATUS(f, p, SUCCEEDED);
}

/* =========================================================================================
 * 3. processing: batching and priority
 * ======================================================================================= */

static void
test_batching_and_priority(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-batch");
    fx_open(f, true);
    uint32_t u[16];
    u[0] = REG(f, rq_create("ba", "id"));
    u[1] = REG(f, rq_create("bb", "id"));
    u[2] = REG(f, rq_docs("ba", "[{\"id\":1,\"v\":\"a1\"}]"));
    u[3] = REG(f, rq_docs("ba", "[{\"id\":2,\"v\":\"a2\"}]"));
    u[4] = REG(f, rq_docs("bb", "[{\"id\":1,\"v\":\"b1\"}]"));
    u[5] = REG(f, rq_docs("ba", "[{\"id\":3,\"v\":\"a3\"}]"));
    u[6] = REG(f, rq_update_docs("ba", "[{\"id\":1,\"w\":\"merged\"}]"));
    u[7] = REG(f, rq_settings("ba", "{\"filterableAttributes\":[\"v\"]}"));
    u[8] = REG(f, rq_settings("ba", "{\"stopWords\":[\"the\"]}"));
    u[9] = REG(f, rq_docs("ba", "[{\"id\":4,\"v\":\"a4\"}]"));
    struct folio_sched_request r = rq(FOLIO_KIND_INDEX_UPDATE, "bb");
    r.primary_key = folio_str_c("id");
    u[10] = REG(f, r);
    u[11] = REG(f, rq_docs("bb", "[{\"id\":2,\"v\":\"b2\"}]"));
    u[12] = REG(f, rq_docs("ba", "[{\"id\":5,\"v\":\"canceled\"}]"));
    uint32_t del_f[] = {0};
    struct folio_sched_query qd, qc;
    u[13] = REG(f, rq_tasks(FOLIO_KIND_TASK_DELETION, &qd, del_f, 1, "?uids=0"));
    uint32_t can_f[] = {12};
    u[14] = REG(f, rq_tasks(FOLIO_KIND_TASK_CANCELATION, &qc, can_f, 1, "?uids=12"));
    for (uint32_t i = 0; i < 15; i++)
        CHECK(u[i] == i, "uid %u for registration %u", u[i], i);
    settle(f);

    for (uint32_t i = 0; i < 12; i++)
        EXPECT_STATUS(f, i, SUCCEEDED);
    EXPECT_STATUS(f, 12, CANCELED);
    EXPECT_STATUS(f, 13, SUCCEEDED);
    EXPECT_STATUS(f, 14, SUCCEEDED);

    uint32_t b[15];
    for (uint32_t i = 0; i < 15; i++)
        b[i] = batch_of(f, i);
    /* cancelation first, then deletion, then every index task (Meilisearch §4.2) */
    CHECK(b[14] < b[13], "cancelation (batch %u) ran after deletion (batch %u)", b[14], b[13]);
    for (uint32_t i = 0; i < 12; i++) {
        CHECK(b[14] < b[i], "task %u (batch %u) ran before the cancelation (batch %u)", i, b[i],
              b[14]);
        CHECK(b[13] < b[i], "task %u (batch %u) ran before the deletion (batch %u)", i, b[i],
              b[13]);
    }
    /* the deletion ran while task 0 was enqueued: it deleted nothing */
    json_t *j = tjson(f, 13);
    json_t *d = json_object_get(j, "details");
    CHECK(jint(d, "matchedTasks") == 1 && jint(d, "deletedTasks") == 0,
          "deletion before its target ran: %s", jdump(j));
    json_decref(j);
    EXPECT_STATUS(f, 0, SUCCEEDED);
    CHECK(b[12] == b[14], "canceled task in batch %u, canceler's batch %u", b[12], b[14]);

    /* singletons */
    uint32_t tasks[64];
    CHECK(batch_tasks(f, b[0], tasks, 64) == 1, "indexCreation not alone");
    CHECK(batch_tasks(f, b[1], tasks, 64) == 1, "indexCreation not alone");
    CHECK(batch_tasks(f, b[10], tasks, 64) == 1, "indexUpdate not alone");
    CHECK(batch_tasks(f, b[13], tasks, 64) == 1, "taskDeletion not alone");
    /* consecutive document additions of ba (replace and update mix) share one batch,
       although a task of bb was registered between them */
    CHECK(b[2] == b[3] && b[3] == b[5], "document additions of ba in batches %u %u %u", b[2], b[3],
          b[5]);
    CHECK(b[5] == b[6], "replace (batch %u) and update (batch %u) did not batch", b[5], b[6]);
    CHECK(batch_tasks(f, b[2], tasks, 64) == 4, "batch of ba's additions has %u tasks",
          batch_tasks(f, b[2], tasks, 64));
    /* settings batch together but never with documents */
    CHECK(b[7] == b[8], "settings updates in batches %u and %u", b[7], b[8]);
    CHECK(b[7] != b[6] && b[9] != b[8], "settings batched with documents (%u %u %u)", b[6], b[7],
          b[9]);
    CHECK(b[4] != b[2], "batch mixes ba and bb");
    CHECK(b[11] != b[10], "document addition batched with indexUpdate");
    CHECK_BATCHES(f, 0);

    /* the canceled task's documents were never applied; the merge was */
    EXPECT_DOCS(f, "ba",
                "[{\"id\":1,\"v\":\"a1\",\"w\":\"merged\"},{\"id\":2,\"v\":\"a2\"},"
                "{\"id\":3,\"v\":\"a3\"},{\"id\":4,\"v\":\"a4\"}]");
    EXPECT_DOCS(f, "bb", "[{\"id\":1,\"v\":\"b1\"},{\"id\":2,\"v\":\"b2\"}]");
}

static void
test_batch_limit(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-limit");
    f->opts.batch_tasks_max = 3;
    fx_open(f, true);
    REG(f, rq_create("lim", NULL));
    char doc[64];
    for (int i = 0; i < 8; i++) {
        snprintf(doc, sizeof(doc), "[{\"id\":%d}]", i);
        REG(f, rq_docs("lim", doc));
    }
    settle(f);
    for (uint32_t u = 0; u < 9; u++)
        EXPECT_STATUS(f, u, SUCCEEDED);
    CHECK_BATCHES(f, 3);
    uint32_t tasks[64];
    uint32_t full = 0;
    for (uint32_t u = 1; u < 9; u++)
        full += batch_tasks(f, batch_of(f, u), tasks, 64) == 3;
    CHECK(full >= 6, "only %u tasks ran in full batches of 3 (8 additions, limit 3)", full);
    uint64_t total = 0;
    json_decref(docs_at(f, "lim", &total, __LINE__));
    CHECK(total == 8, "documents %" PRIu64, total);
}

/* =========================================================================================
 * 4. outcomes
 * ======================================================================================= */

static void
test_outcomes_documents(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-docs");
    fx_open(f, true);

    uint32_t c0 = REG(f, rq_create("books", "id"));
    uint32_t c1 = REG(f, rq_create("books", NULL));
    uint32_t a0 = REG(f, rq_docs("books", "[{\"id\":1,\"title\":\"Dune\",\"year\":1965},"
                                          "{\"id\":2,\"title\":\"Emma\"},"
                                          "{\"id\":\"x-3\",\"title\":\"Ulysses\"}]"));
    settle(f);
    EXPECT_STATUS(f, c0, SUCCEEDED);
    json_t *j = tjson(f, c0);
    CHECK(jstr_is(json_object_get(j, "details"), "primaryKey", "id"), "creation details: %s",
          jdump(j));
    json_decref(j);
    EXPECT_FAILED(f, c1, "index_already_exists");
    {
        uint32_t tk[8];
        CHECK(batch_of(f, c0) != batch_of(f, c1) && batch_tasks(f, batch_of(f, c1), tk, 8) == 1,
              "two indexCreations of one index share a batch");
    }
    j = tjson(f, c1);
    CHECK(strstr(jstr(json_object_get(j, "error"), "message"), "books") != NULL,
          "message does not name the index: %s", jdump(j));
    json_decref(j);
    EXPECT_STATUS(f, a0, SUCCEEDED);
    j = tjson(f, a0);
    json_t *d = json_object_get(j, "details");
    CHECK(jint(d, "receivedDocuments") == 3 && jint(d, "indexedDocuments") == 3, "details: %s",
          jdump(j));
    json_decref(j);
    EXPECT_DOCS(f, "books",
                "[{\"id\":1,\"title\":\"Dune\",\"year\":1965},{\"id\":2,\"title\":\"Emma\"},"
                "{\"id\":\"x-3\",\"title\":\"Ulysses\"}]");
    struct iinfo ii;
    index_info(f, "books", &ii);
    CHECK(ii.exists && strcmp(ii.primary_key, "id") == 0, "mapping of books: pk `%s`",
          ii.primary_key);
    char *dir = index_dir(f, ii.uuid);
    CHECK(path_exists(dir), "index directory %s missing", dir);
    folio_free(dir);

    /* the index's applied marker names the last task applied to it */
    struct folio_index *idx = NULL;
    CHECK(folio_sched_index_acquire(f->s, "books", 5, &idx) == 0, "acquire");
    struct folio_index_marker mk;
    CHECK(folio_index_marker_get(idx, &mk, NULL) == 0, "marker_get");
    folio_sched_index_release(f->s, idx);
    CHECK(mk.task_uid == a0, "marker task %" PRIu64 ", expected %u", mk.task_uid, a0);

    /* an indexCreation of an index that exists now: Meilisearch enqueues it and fails it */
    struct folio_sched_request cr = rq_create("books", NULL);
    struct folio_sched_registered out;
    struct folio_sched_error e;
    int rc = reg(f, &cr, &out, &e);
    if (rc == 0) {
        settle(f);
        EXPECT_FAILED(f, out.task_uid, "index_already_exists");
    } else {
        print_message("    note: indexCreation of an existing index refused at registration: "
                      "%s %d\n", e.code, e.http_status);
        CHECK(strcmp(e.code, "index_already_exists") == 0 && e.http_status == 409, "%s %d",
              e.code, e.http_status);
    }

    /* update merges fields, replace replaces the document */
    uint32_t m = REG(f, rq_update_docs("books", "[{\"id\":1,\"rating\":5,\"year\":1966}]"));
    uint32_t rp = REG(f, rq_docs("books", "[{\"id\":2,\"title\":\"Emma 2\"}]"));
    settle(f);
    EXPECT_STATUS(f, m, SUCCEEDED);
    EXPECT_STATUS(f, rp, SUCCEEDED);
    EXPECT_DOCS(f, "books",
                "[{\"id\":1,\"title\":\"Dune\",\"year\":1966,\"rating\":5},"
                "{\"id\":2,\"title\":\"Emma 2\"},{\"id\":\"x-3\",\"title\":\"Ulysses\"}]");

    /* deletion by ids: one exists, one does not */
    struct folio_str ids[] = {{"x-3", 3}, {"404", 3}};
    uint32_t dl = REG(f, rq_del_ids("books", ids, 2));
    settle(f);
    EXPECT_STATUS(f, dl, SUCCEEDED);
    j = tjson(f, dl);
    d = json_object_get(j, "details");
    CHECK(jint(d, "providedIds") == 2 && jint(d, "deletedDocuments") == 1, "details: %s", jdump(j));
    json_decref(j);
    const char *two = "[{\"id\":1,\"title\":\"Dune\",\"year\":1966,\"rating\":5},"
                      "{\"id\":2,\"title\":\"Emma 2\"}]";
    EXPECT_DOCS(f, "books", two);

    /* settings */
    uint32_t st = REG(f, rq_settings("books", "{\"filterableAttributes\":[\"year\"],"
                                              "\"stopWords\":[\"the\",\"a\"]}"));
    settle(f);
    EXPECT_STATUS(f, st, SUCCEEDED);
    char *sj = settings_of(f, "books");
    json_t *sjo = json_loads(sj, 0, NULL);
    CHECK(sjo != NULL, "settings JSON: %s", sj);
    json_t *want_fa = json_pack("[s]", "year");
    json_t *want_sw = json_pack("[ss]", "a", "the");
    CHECK(json_equal(json_object_get(sjo, "filterableAttributes"), want_fa),
          "filterableAttributes not applied: %s", sj);
    CHECK(json_equal(json_object_get(sjo, "stopWords"), want_sw), "stopWords not applied: %s",
          sj);
    json_decref(want_fa);
    json_decref(want_sw);
    json_decref(sjo);
    folio_free(sj);
    j = tjson(f, st);
    CHECK(json_object_get(json_object_get(j, "details"), "filterableAttributes") != NULL,
          "settings details: %s", jdump(j));
    json_decref(j);

    /* an addition that fails (second document has no id) leaves the index as it was */
    uint32_t bad = REG(f, rq_docs("books", "[{\"id\":7,\"title\":\"fine\"},{\"title\":\"no id\"}]"));
    settle(f);
    EXPECT_FAILED(f, bad, "missing_document_id");
    j = tjson(f, bad);
    d = json_object_get(j, "details");
    SOFT(jint(d, "receivedDocuments") == 2 && jint(d, "indexedDocuments") == 0,
         "failed addition details (Meilisearch to_failed: indexedDocuments 0): %s", jdump(j));
    json_decref(j);
    EXPECT_DOCS(f, "books", two);
    uint32_t badid = REG(f, rq_docs("books", "[{\"id\":\"no spaces allowed\"}]"));
    settle(f);
    EXPECT_FAILED(f, badid, "invalid_document_id");
    EXPECT_DOCS(f, "books", two);

    /* clear */
    uint32_t cl = REG(f, rq_clear("books"));
    settle(f);
    EXPECT_STATUS(f, cl, SUCCEEDED);
    j = tjson(f, cl);
    CHECK(jint(json_object_get(j, "details"), "deletedDocuments") == 2, "clear details: %s",
          jdump(j));
    json_decref(j);
    EXPECT_DOCS(f, "books", "[]");
    index_info(f, "books", &ii);
    CHECK(ii.exists && strcmp(ii.primary_key, "id") == 0, "clear changed the mapping");

    /* an addition creating its index, with the primary key inferred */
    uint32_t im = REG(f, rq_docs("fresh", "[{\"name\":\"x\",\"ref_id\":\"a1\"}]"));
    settle(f);
    EXPECT_STATUS(f, im, SUCCEEDED);
    index_info(f, "fresh", &ii);
    CHECK(ii.exists, "implicitly created index `fresh` not in the mapping");
    struct folio_index *fidx = NULL;
    CHECK(folio_sched_index_acquire(f->s, "fresh", 5, &fidx) == 0, "acquire fresh");
    struct folio_index_stats *fst = NULL;
    rc = folio_index_stats_get(fidx, &fst, NULL);
    folio_sched_index_release(f->s, fidx);
    CHECK(rc == 0 && fst->has_primary_key && strcmp(fst->primary_key, "ref_id") == 0,
          "index `fresh` did not infer the primary key `ref_id`");
    folio_index_stats_free(fst);
    /* the mapping (what GET /indexes shows) must agree with the index */
    SOFT(strcmp(ii.primary_key, "ref_id") == 0,
         "mapping of `fresh`: primary key `%s`, but the index inferred `ref_id`", ii.primary_key);
    EXPECT_DOCS(f, "fresh", "[{\"name\":\"x\",\"ref_id\":\"a1\"}]");
    CHECK(CHECK_BATCHES(f, 0) > 0, "no batches");
    CHECK(await_empty(f, "content") == 0, "content files left");
    SOFT_DONE();
}

static void
test_outcomes_indexes(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-indexes");
    fx_open(f, true);

    /* primary key update on an empty index */
    uint32_t c = REG(f, rq_create("pk", NULL));
    struct folio_sched_request r = rq(FOLIO_KIND_INDEX_UPDATE, "pk");
    r.primary_key = folio_str_c("sku");
    uint32_t up = REG(f, r);
    uint32_t ad = REG(f, rq_docs("pk", "[{\"sku\":\"a1\",\"id\":5}]"));
    settle(f);
    EXPECT_STATUS(f, c, SUCCEEDED);
    EXPECT_STATUS(f, up, SUCCEEDED);
    EXPECT_STATUS(f, ad, SUCCEEDED);
    {
        uint32_t tk[8];
        CHECK(batch_of(f, c) != batch_of(f, up) && batch_tasks(f, batch_of(f, up), tk, 8) == 1 &&
                  batch_tasks(f, batch_of(f, c), tk, 8) == 1,
              "indexCreation and indexUpdate of one index share a batch");
    }
    json_t *j = tjson(f, up);
    CHECK(jstr_is(json_object_get(j, "details"), "primaryKey", "sku"), "indexUpdate details: %s",
          jdump(j));
    json_decref(j);
    struct iinfo ii;
    index_info(f, "pk", &ii);
    CHECK(ii.exists && strcmp(ii.primary_key, "sku") == 0, "mapping pk `%s`", ii.primary_key);
    struct folio_index *idx = NULL;
    CHECK(folio_sched_index_acquire(f->s, "pk", 2, &idx) == 0, "acquire pk");
    char *doc = NULL;
    size_t dlen = 0;
    struct folio_index_error ie;
    int rc = folio_index_document_get(idx, "a1", NULL, 0, &doc, &dlen, &ie);
    struct folio_index_stats *stats = NULL;
    int src = folio_index_stats_get(idx, &stats, &ie);
    folio_sched_index_release(f->s, idx);
    CHECK(rc == 0, "document a1 by primary key sku: %s", folio_err_name(rc));
    folio_free(doc);
    CHECK(src == 0 && stats->has_primary_key && strcmp(stats->primary_key, "sku") == 0,
          "index primary key");
    folio_index_stats_free(stats);
    /* another primary key once there are documents fails */
    r.primary_key = folio_str_c("id");
    uint32_t up2 = REG(f, r);
    settle(f);
    EXPECT_FAILED(f, up2, "index_primary_key_already_exists");
    index_info(f, "pk", &ii);
    CHECK(strcmp(ii.primary_key, "sku") == 0, "failed indexUpdate changed the pk to `%s`",
          ii.primary_key);

    /* rename through indexUpdate */
    char uuid_pk[64];
    snprintf(uuid_pk, sizeof(uuid_pk), "%s", ii.uuid);
    r = rq(FOLIO_KIND_INDEX_UPDATE, "pk");
    r.new_index_uid = folio_str_c("pk2");
    uint32_t rn = REG(f, r);
    settle(f);
    EXPECT_STATUS(f, rn, SUCCEEDED);
    j = tjson(f, rn);
    json_t *d = json_object_get(j, "details");
    CHECK(jstr_is(d, "oldIndexUid", "pk") && jstr_is(d, "newIndexUid", "pk2"),
          "rename details: %s", jdump(j));
    json_decref(j);
    index_info(f, "pk", &ii);
    CHECK(!ii.exists, "`pk` still mapped after the rename");
    index_info(f, "pk2", &ii);
    CHECK(ii.exists && strcmp(ii.uuid, uuid_pk) == 0, "`pk2` uuid `%s`, expected `%s`", ii.uuid,
          uuid_pk);
    EXPECT_DOCS(f, "pk2", "[{\"sku\":\"a1\",\"id\":5}]");

    /* swap */
    REG(f, rq_create("sa", "id"));
    REG(f, rq_create("sb", "id"));
    uint32_t da = REG(f, rq_docs("sa", "[{\"id\":1,\"v\":\"a\"}]"));
    REG(f, rq_docs("sb", "[{\"id\":1,\"v\":\"b\"},{\"id\":2,\"v\":\"b\"}]"));
    settle(f);
    struct iinfo ia, ib;
    index_info(f, "sa", &ia);
    index_info(f, "sb", &ib);
    CHECK(ia.exists && ib.exists && strcmp(ia.uuid, ib.uuid) != 0, "sa/sb mapping");
    struct folio_task_swap sw;
    memset(&sw, 0, sizeof(sw));
    sw.indexes[0] = folio_str_c("sa");
    sw.indexes[1] = folio_str_c("sb");
    uint32_t swt = REG(f, rq_swap(&sw, 1));
    uint32_t after = REG(f, rq_docs("sa", "[{\"id\":3,\"v\":\"after swap\"}]"));
    settle(f);
    EXPECT_STATUS(f, swt, SUCCEEDED);
    uint32_t tasks[8];
    CHECK(batch_tasks(f, batch_of(f, swt), tasks, 8) == 1, "indexSwap not alone in its batch");
    j = tjson(f, swt);
    CHECK(jnull(j, "indexUid"), "indexSwap has an indexUid: %s", jdump(j));
    json_t *swaps = json_object_get(json_object_get(j, "details"), "swaps");
    CHECK(json_is_array(swaps) && json_array_size(swaps) == 1, "swap details: %s", jdump(j));
    json_decref(j);
    struct iinfo ia2, ib2;
    index_info(f, "sa", &ia2);
    index_info(f, "sb", &ib2);
    CHECK(strcmp(ia2.uuid, ib.uuid) == 0 && strcmp(ib2.uuid, ia.uuid) == 0,
          "swap did not exchange the uuids: sa %s sb %s (before %s %s)", ia2.uuid, ib2.uuid,
          ia.uuid, ib.uuid);
    EXPECT_DOCS(f, "sa",
                "[{\"id\":1,\"v\":\"b\"},{\"id\":2,\"v\":\"b\"},{\"id\":3,\"v\":\"after swap\"}]");
    EXPECT_DOCS(f, "sb", "[{\"id\":1,\"v\":\"a\"}]");
    EXPECT_STATUS(f, after, SUCCEEDED);
    /* history follows the data: the older task that filled sa now names sb (Meilisearch) */
    struct tinfo t;
    tinfo_get_at(f, da, &t, __LINE__);
    CHECK(strcmp(t.index_uids[0], "sb") == 0, "task %u still names `%s` after the swap", da,
          t.index_uids[0]);
    tinfo_clear(&t);
    tinfo_get_at(f, after, &t, __LINE__);
    CHECK(strcmp(t.index_uids[0], "sa") == 0, "task %u (after the swap) names `%s`", after,
          t.index_uids[0]);
    tinfo_clear(&t);

    /* swap with a missing index fails at processing (rename false) */
    sw.indexes[1] = folio_str_c("nowhere");
    struct folio_sched_request swr = rq_swap(&sw, 1);
    struct folio_sched_registered swo;
    struct folio_sched_error swe;
    rc = reg(f, &swr, &swo, &swe);
    if (rc == 0) {
        settle(f);
        EXPECT_FAILED(f, swo.task_uid, "index_not_found");
    } else {
        print_message("    note: swap with a missing index refused at registration: %s %d\n",
                      swe.code, swe.http_status);
        CHECK(strcmp(swe.code, "index_not_found") == 0 && swe.http_status == 404, "%s %d",
              swe.code, swe.http_status);
    }
    index_info(f, "sa", &ia);
    CHECK(ia.exists && strcmp(ia.uuid, ia2.uuid) == 0, "failed swap changed sa");
    index_info(f, "nowhere", &ia);
    CHECK(!ia.exists, "failed swap created `nowhere`");

    /* index deletion: mapping and directory go */
    index_info(f, "sa", &ia);
    char *dir = index_dir(f, ia.uuid);
    CHECK(path_exists(dir), "index dir %s missing before deletion", dir);
    uint32_t del = REG(f, rq(FOLIO_KIND_INDEX_DELETION, "sa"));
    settle(f);
    EXPECT_STATUS(f, del, SUCCEEDED);
    j = tjson(f, del);
    CHECK(jint(json_object_get(j, "details"), "deletedDocuments") == 3,
          "indexDeletion details: %s", jdump(j));
    json_decref(j);
    const struct folio_sched_state *stt = folio_sched_read_lock(f->s);
    struct folio_index_view iv;
    rc = folio_sched_index_get(stt, "sa", 2, &iv);
    folio_sched_read_unlock(f->s);
    CHECK(rc == FOLIO_E_NOT_FOUND, "index_get after deletion: %s", folio_err_name(rc));
    CHECK(folio_sched_index_acquire(f->s, "sa", 2, &idx) == FOLIO_E_NOT_FOUND,
          "acquire after deletion");
    bool gone = false;
    for (int i = 0; i < 500 && !(gone = !path_exists(dir)); i++)
        usleep(10000);
    CHECK(gone, "index directory %s still there after the deletion", dir);
    folio_free(dir);
    /* its tasks are kept (Meilisearch) */
    EXPECT_STATUS(f, after, SUCCEEDED);
    /* the uid can be used again */
    uint32_t again = REG(f, rq_docs("sa", "[{\"id\":9}]"));
    settle(f);
    EXPECT_STATUS(f, again, SUCCEEDED);
    EXPECT_DOCS(f, "sa", "[{\"id\":9}]");
    index_info(f, "sa", &ia);
    CHECK(strcmp(ia.uuid, ib.uuid) != 0 && strcmp(ia.uuid, ia2.uuid) != 0,
          "recreated index reuses an old uuid");
    CHECK_BATCHES(f, 0);
}

/*
 * One batch of mixed document operations applies them in uid order, each
 * with its own outcome; an indexDeletion ends a batch of document tasks
 * (Meilisearch §4.3); settings reset; a primary key that disagrees fails.
 */
static void
test_mixed_document_batch(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-mixed");
    fx_open(f, true);
    REG(f, rq_create("mx", "id"));
    settle(f);
    uint32_t a1 = REG(f, rq_docs("mx", "[{\"id\":1,\"v\":\"a\"},{\"id\":2,\"v\":\"b\"},"
                                       "{\"id\":3,\"v\":\"c\"}]"));
    struct folio_str two[] = {{"2", 1}};
    uint32_t d2 = REG(f, rq_del_ids("mx", two, 1));
    uint32_t a2 = REG(f, rq_docs("mx", "[{\"id\":2,\"v\":\"new b\"},{\"id\":4,\"v\":\"d\"},"
                                       "{\"id\":4,\"v\":\"d wins\"}]"));
    uint32_t u1 = REG(f, rq_update_docs("mx", "[{\"id\":1,\"w\":1},{\"id\":9,\"w\":9}]"));
    struct folio_str gone[] = {{"3", 1}, {"3", 1}, {"77", 2}};
    uint32_t d3 = REG(f, rq_del_ids("mx", gone, 3));
    settle(f);
    uint32_t all[] = {a1, d2, a2, u1, d3};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(all); i++)
        EXPECT_STATUS(f, all[i], SUCCEEDED);
    /* 2 was deleted and added again: a new internal id, so it now comes after 1 */
    EXPECT_DOCS(f, "mx",
                "[{\"id\":1,\"v\":\"a\",\"w\":1},{\"id\":2,\"v\":\"new b\"},"
                "{\"id\":4,\"v\":\"d wins\"},{\"id\":9,\"w\":9}]");
    json_t *j = tjson(f, d2);
    CHECK(jint(json_object_get(j, "details"), "deletedDocuments") == 1, "%s", jdump(j));
    json_decref(j);
    j = tjson(f, d3);
    json_t *d = json_object_get(j, "details");
    CHECK(jint(d, "providedIds") == 3 && jint(d, "deletedDocuments") == 1, "%s", jdump(j));
    json_decref(j);
    j = tjson(f, a2);
    d = json_object_get(j, "details");
    CHECK(jint(d, "receivedDocuments") == 3 && jint(d, "indexedDocuments") == 3, "%s", jdump(j));
    json_decref(j);
    CHECK_BATCHES(f, 0);
    print_message("    mixed batch: tasks in batches %u %u %u %u %u\n", batch_of(f, a1),
                  batch_of(f, d2), batch_of(f, a2), batch_of(f, u1), batch_of(f, d3));

    /* clear in the middle of a batch */
    uint32_t c1 = REG(f, rq_docs("mx", "[{\"id\":10}]"));
    uint32_t cl = REG(f, rq_clear("mx"));
    uint32_t c2 = REG(f, rq_docs("mx", "[{\"id\":11}]"));
    settle(f);
    EXPECT_STATUS(f, c1, SUCCEEDED);
    EXPECT_STATUS(f, cl, SUCCEEDED);
    EXPECT_STATUS(f, c2, SUCCEEDED);
    j = tjson(f, cl);
    CHECK(jint(json_object_get(j, "details"), "deletedDocuments") == 5, "clear details: %s",
          jdump(j));
    json_decref(j);
    EXPECT_DOCS(f, "mx", "[{\"id\":11}]");

    /* an explicit primary key that differs from the index's fails, the index unchanged */
    struct folio_sched_request r = rq_docs("mx", "[{\"id\":12,\"other\":\"x\"}]");
    r.primary_key = folio_str_c("other");
    uint32_t pkbad = REG(f, r);
    settle(f);
    EXPECT_FAILED(f, pkbad, "index_primary_key_already_exists");
    EXPECT_DOCS(f, "mx", "[{\"id\":11}]");
    r.primary_key = folio_str_c("id");
    uint32_t pkok = REG(f, r);
    settle(f);
    EXPECT_STATUS(f, pkok, SUCCEEDED);

    /* settings reset */
    uint32_t s1 = REG(f, rq_settings("mx", "{\"stopWords\":[\"x\"],\"distinctAttribute\":\"v\"}"));
    settle(f);
    EXPECT_STATUS(f, s1, SUCCEEDED);
    char *before = settings_of(f, "mx");
    r = rq(FOLIO_KIND_SETTINGS_UPDATE, "mx");
    r.settings_reset = true;
    uint32_t rs = REG(f, r);
    settle(f);
    EXPECT_STATUS(f, rs, SUCCEEDED);
    char *after = settings_of(f, "mx");
    json_t *ja = json_loads(after, 0, NULL), *jb = json_loads(before, 0, NULL);
    json_t *empty_sw = json_array();
    CHECK(ja && json_equal(json_object_get(ja, "stopWords"), empty_sw) &&
              json_is_null(json_object_get(ja, "distinctAttribute")),
          "settings after reset: %s (before %s)", after, before);
    CHECK(jb && !json_equal(ja, jb), "reset changed nothing");
    json_decref(empty_sw);
    json_decref(ja);
    json_decref(jb);
    folio_free(before);
    folio_free(after);

    /* an indexDeletion after document tasks of its index: the batch ends with it, the
       document tasks succeed, the index is gone (Meilisearch) */
    struct iinfo ii;
    index_info(f, "mx", &ii);
    char *dir = index_dir(f, ii.uuid);
    uint32_t e1 = REG(f, rq_docs("mx", "[{\"id\":20}]"));
    uint32_t e2 = REG(f, rq_update_docs("mx", "[{\"id\":21}]"));
    uint32_t ed = REG(f, rq(FOLIO_KIND_INDEX_DELETION, "mx"));
    uint32_t e3 = REG(f, rq_docs("mx", "[{\"id\":30}]")); /* after the deletion: a new index */
    settle(f);
    EXPECT_STATUS(f, e1, SUCCEEDED);
    EXPECT_STATUS(f, e2, SUCCEEDED);
    EXPECT_STATUS(f, ed, SUCCEEDED);
    EXPECT_STATUS(f, e3, SUCCEEDED);
    CHECK(batch_of(f, e1) == batch_of(f, ed) && batch_of(f, e2) == batch_of(f, ed),
          "the indexDeletion did not join the document batch before it (batches %u %u %u)",
          batch_of(f, e1), batch_of(f, e2), batch_of(f, ed));
    CHECK(batch_of(f, e3) > batch_of(f, ed), "the task after the deletion ran in its batch");
    index_info(f, "mx", &ii);
    CHECK(ii.exists, "mx not recreated by the addition after its deletion");
    EXPECT_DOCS(f, "mx", "[{\"id\":30}]");
    for (int i = 0; i < 500 && path_exists(dir); i++)
        usleep(10000);
    CHECK(!path_exists(dir), "old index directory %s left", dir);
    folio_free(dir);
    CHECK_BATCHES(f, 0);
}

/*
 * A cancelation registered while a batch of the tasks it matches is running:
 * the batch stops, what was not applied is requeued and canceled. Whatever
 * the timing, every task ends succeeded (its document is in the index) or
 * canceled (its document is not), never both, and the counts agree.
 */
static void
test_cancel_while_processing(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-cancelrun");
    f->opts.inline_payload_max = 64;
    fx_open(f, true);
    REG(f, rq_create("busy", "id"));
    settle(f);
    enum { N = 300 };
    static uint32_t uids[N];
    char *payload = folio_malloc(64 * 1024);
    for (uint32_t i = 0; i < N; i++) {
        /* 40 documents per task; task i owns ids [i*100, i*100+40) */
        size_t used = (size_t)snprintf(payload, 64 * 1024, "[");
        for (int k = 0; k < 40; k++)
            used += (size_t)snprintf(payload + used, 64 * 1024 - used,
                                     "%s{\"id\":%u,\"text\":\"some words to index %u %d\"}",
                                     k ? "," : "", i * 100 + (uint32_t)k, i, k);
        snprintf(payload + used, 64 * 1024 - used, "]");
        uids[i] = REG(f, rq_docs("busy", payload));
    }
    folio_free(payload);
    folio_sched_resume(f->s);
    /* let the batch start, then cancel everything */
    for (int i = 0; i < 10000; i++) {
        struct tinfo t;
        tinfo_get_at(f, uids[0], &t, __LINE__);
        bool started = t.status != FOLIO_STATUS_ENQUEUED;
        tinfo_clear(&t);
        if (started)
            break;
        usleep(1000);
    }
    struct folio_sched_query q;
    memset(&q, 0, sizeof(q));
    q.statuses = (1u << FOLIO_STATUS_ENQUEUED) | (1u << FOLIO_STATUS_PROCESSING);
    struct folio_str iu[] = {{"busy", 4}};
    q.index_uids = iu;
    q.index_uid_count = 1;
    q.index_uids_set = true;
    struct folio_sched_request r = rq(FOLIO_KIND_TASK_CANCELATION, NULL);
    r.filter = &q;
    r.query = folio_str_c("?statuses=enqueued,processing&indexUids=busy");
    uint32_t k = REG(f, r);
    CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "wait_idle");
    EXPECT_STATUS(f, k, SUCCEEDED);
    json_t *j = tjson(f, k);
    long long matched = jint(json_object_get(j, "details"), "matchedTasks");
    long long canceled = jint(json_object_get(j, "details"), "canceledTasks");
    json_decref(j);
    uint32_t nsucc = 0, ncanc = 0;
    uint64_t total = 0;
    json_t *docs = docs_at(f, "busy", &total, __LINE__);
    bool *present = folio_calloc(N * 100, sizeof(bool));
    for (size_t i = 0; i < json_array_size(docs); i++) {
        json_int_t id = json_integer_value(json_object_get(json_array_get(docs, i), "id"));
        CHECK(id >= 0 && id < N * 100, "document id %lld", (long long)id);
        present[id] = true;
    }
    json_decref(docs);
    uint32_t kb = batch_of(f, k);
    for (uint32_t i = 0; i < N; i++) {
        struct tinfo t;
        tinfo_get_at(f, uids[i], &t, __LINE__);
        bool in = present[i * 100], all_in = true, none_in = true;
        for (int d = 0; d < 40; d++) {
            all_in &= present[i * 100 + (uint32_t)d];
            none_in &= !present[i * 100 + (uint32_t)d];
        }
        CHECK(all_in || none_in, "task %u applied partly", uids[i]);
        if (t.status == FOLIO_STATUS_SUCCEEDED) {
            nsucc++;
            CHECK(in, "task %u succeeded but its documents are missing", uids[i]);
        } else {
            CHECK(t.status == FOLIO_STATUS_CANCELED, "task %u ended %s", uids[i],
                  folio_task_status_name(t.status));
            ncanc++;
            CHECK(!in, "task %u canceled but its documents were applied", uids[i]);
            CHECK(t.canceled_by == k && t.batch_uid == kb, "canceled task %u: canceledBy %u "
                  "batch %u (cancel %u in batch %u)", uids[i], t.canceled_by, t.batch_uid, k, kb);
        }
        tinfo_clear(&t);
    }
    print_message("    cancel while processing: %u succeeded, %u canceled, matched %lld, "
                  "canceledTasks %lld\n", nsucc, ncanc, matched, canceled);
    CHECK(total == (uint64_t)nsucc * 40, "documents %" PRIu64 " for %u succeeded tasks", total,
          nsucc);
    CHECK(canceled == ncanc, "canceledTasks %lld, tasks canceled %u", canceled, ncanc);
    CHECK(nsucc + ncanc == N, "tasks neither succeeded nor canceled");
    /* the cancelation came while the first task ran: a batch of 300 stops early */
    CHECK(ncanc > 0, "the running batch was not stopped by the cancelation");
    CHECK(matched >= ncanc && matched <= N, "matchedTasks %lld", matched);
    folio_free(present);
    CHECK_BATCHES(f, 0);
    CHECK(await_empty(f, "content") == 0, "content files left: %ld", count_in_db(f, "content"));
    /* the state is the journal's */
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    uint64_t h = folio_sched_state_hash(st);
    folio_sched_read_unlock(f->s);
    struct folio_sched_state *rs = NULL;
    struct folio_sched_diag dg;
    memset(&dg, 0, sizeof(dg));
    int rc = folio_sched_state_replay(folio_sched_journal_dir(f->s), NULL, &rs, NULL, &dg);
    CHECK(rc == 0 && folio_sched_state_hash(rs) == h, "replay: %s %s", folio_err_name(rc),
          dg.reason);
    folio_sched_state_free(rs);
}

/* A task deletion registered while a batch runs deletes what is finished when it runs. */
static void
test_delete_while_processing(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-delrun");
    f->opts.batch_tasks_max = 20;
    fx_open(f, true);
    REG(f, rq_create("busy", "id"));
    settle(f);
    enum { N = 200 };
    char doc[128];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(doc, sizeof(doc), "[{\"id\":%u,\"t\":\"words %u\"}]", i, i);
        REG(f, rq_docs("busy", doc));
    }
    folio_sched_resume(f->s);
    for (int i = 0; i < 10000; i++) { /* until the first batch runs */
        struct tinfo t;
        tinfo_get_at(f, 1, &t, __LINE__);
        bool started = t.status != FOLIO_STATUS_ENQUEUED;
        tinfo_clear(&t);
        if (started)
            break;
        usleep(1000);
    }
    uint32_t *all = folio_calloc(N + 1, sizeof(uint32_t));
    for (uint32_t i = 0; i <= N; i++)
        all[i] = i;
    struct folio_sched_query q;
    uint32_t del = REG(f, rq_tasks(FOLIO_KIND_TASK_DELETION, &q, all, N + 1, "?uids=0-200"));
    CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "wait_idle");
    EXPECT_STATUS(f, del, SUCCEEDED);
    struct tinfo dt;
    tinfo_get_at(f, del, &dt, __LINE__);
    long long matched = jint(json_object_get(dt.json, "details"), "matchedTasks");
    long long deleted = jint(json_object_get(dt.json, "details"), "deletedTasks");
    uint32_t remaining = 0;
    for (uint32_t u = 0; u <= N; u++) {
        struct tinfo t;
        tinfo_get_at(f, u, &t, __LINE__);
        if (t.exists) {
            remaining++;
            /* what survived was not finished when the deletion ran: it ran after it */
            CHECK(t.status == FOLIO_STATUS_SUCCEEDED && t.batch_uid > dt.batch_uid,
                  "task %u survived the deletion (batch %u, deletion batch %u, %s)", u,
                  t.batch_uid, dt.batch_uid, folio_task_status_name(t.status));
        }
        tinfo_clear(&t);
    }
    print_message("    delete while processing: matched %lld deleted %lld remaining %u\n",
                  matched, deleted, remaining);
    CHECK(matched == N + 1, "matchedTasks %lld", matched);
    CHECK(remaining > 0 && deleted > 0, "the deletion did not run between batches");
    CHECK(deleted + remaining == (long long)matched, "deleted %lld + remaining %u != matched %lld",
          deleted, remaining, matched);
    tinfo_clear(&dt);
    uint64_t total = 0;
    json_decref(docs_at(f, "busy", &total, __LINE__));
    CHECK(total == N, "documents %" PRIu64, total);
    folio_free(all);
}

/* Renames: indexUpdate newIndexUid and indexSwap with rename (Meilisearch §4.5). */
static void
test_renames(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-rename");
    fx_open(f, true);
    REG(f, rq_create("r-a", "id"));
    REG(f, rq_create("r-b", "id"));
    REG(f, rq_docs("r-a", "[{\"id\":1,\"of\":\"a\"}]"));
    REG(f, rq_docs("r-b", "[{\"id\":1,\"of\":\"b\"}]"));
    settle(f);
    struct iinfo ia, ib;
    index_info(f, "r-a", &ia);
    index_info(f, "r-b", &ib);

    /* registration: a rename target must be a valid uid */
    struct folio_sched_request r = rq(FOLIO_KIND_INDEX_UPDATE, "r-a");
    r.new_index_uid = folio_str_c("bad uid!");
    EXPECT_REG_ERR(f, r, "invalid_index_uid", 400, 0, "bad uid!", "rename to an invalid uid");

    /* a rename onto an existing index fails at processing, nothing changes */
    r.new_index_uid = folio_str_c("r-b");
    uint32_t clash = REG(f, r);
    settle(f);
    EXPECT_FAILED(f, clash, "index_already_exists");
    struct iinfo x;
    index_info(f, "r-a", &x);
    CHECK(x.exists && strcmp(x.uuid, ia.uuid) == 0, "failed rename changed r-a");
    index_info(f, "r-b", &x);
    CHECK(x.exists && strcmp(x.uuid, ib.uuid) == 0, "failed rename changed r-b");

    /* swap with rename: the target must not exist */
    struct folio_task_swap sw;
    memset(&sw, 0, sizeof(sw));
    sw.indexes[0] = folio_str_c("r-a");
    sw.indexes[1] = folio_str_c("r-c");
    sw.rename = true;
    uint32_t ren = REG(f, rq_swap(&sw, 1));
    uint32_t later = REG(f, rq_docs("r-c", "[{\"id\":2,\"of\":\"c\"}]"));
    settle(f);
    EXPECT_STATUS(f, ren, SUCCEEDED);
    EXPECT_STATUS(f, later, SUCCEEDED);
    index_info(f, "r-a", &x);
    CHECK(!x.exists, "r-a still mapped after its rename to r-c");
    index_info(f, "r-c", &x);
    CHECK(x.exists && strcmp(x.uuid, ia.uuid) == 0, "r-c is not r-a's env (%s vs %s)", x.uuid,
          ia.uuid);
    EXPECT_DOCS(f, "r-c", "[{\"id\":1,\"of\":\"a\"},{\"id\":2,\"of\":\"c\"}]");
    json_t *j = tjson(f, ren);
    json_t *sws = json_object_get(json_object_get(j, "details"), "swaps");
    CHECK(json_is_true(json_object_get(json_array_get(sws, 0), "rename")), "swap details: %s",
          jdump(j));
    json_decref(j);
    sw.indexes[0] = folio_str_c("r-c");
    sw.indexes[1] = folio_str_c("r-b");
    uint32_t ren2 = REG(f, rq_swap(&sw, 1));
    settle(f);
    EXPECT_FAILED(f, ren2, "index_already_exists");
    index_info(f, "r-c", &x);
    CHECK(x.exists && strcmp(x.uuid, ia.uuid) == 0, "failed rename-swap changed r-c");

    /* indexUpdate rename then use of the new name in the same queue */
    r = rq(FOLIO_KIND_INDEX_UPDATE, "r-b");
    r.new_index_uid = folio_str_c("r-d");
    uint32_t rn = REG(f, r);
    uint32_t use = REG(f, rq_docs("r-d", "[{\"id\":3,\"of\":\"d\"}]"));
    struct folio_sched_request fb = rq_docs("r-d", "[{\"id\":4}]");
    fb.forbid_index_creation = true; /* accepted: the pending rename may create r-d */
    uint32_t use2 = REG(f, fb);
    settle(f);
    EXPECT_STATUS(f, rn, SUCCEEDED);
    EXPECT_STATUS(f, use, SUCCEEDED);
    EXPECT_STATUS(f, use2, SUCCEEDED);
    index_info(f, "r-d", &x);
    CHECK(x.exists && strcmp(x.uuid, ib.uuid) == 0, "r-d is not r-b's env");
    EXPECT_DOCS(f, "r-d",
                "[{\"id\":1,\"of\":\"b\"},{\"id\":3,\"of\":\"d\"},{\"id\":4}]");
    index_info(f, "r-b", &x);
    CHECK(!x.exists, "r-b still mapped after the rename");
    CHECK(count_in_db(f, "indexes") == 2, "indexes/ holds %ld entries, expected 2",
          count_in_db(f, "indexes"));
    CHECK_BATCHES(f, 0);
}

/*
 * Close while a batch runs (header: the batch is finished, or stopped where
 * safe and requeued by the next open); after reopening every task runs
 * exactly once.
 */
static void
test_close_while_processing(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-closerun");
    f->opts.inline_payload_max = 64;
    fx_open(f, true);
    REG(f, rq_create("cl", "id"));
    enum { N = 150 };
    char *payload = folio_malloc(16384);
    for (uint32_t i = 0; i < N; i++) {
        size_t used = (size_t)snprintf(payload, 16384, "[");
        for (int k = 0; k < 30; k++)
            used += (size_t)snprintf(payload + used, 16384 - used, "%s{\"id\":%u,\"n\":%u}",
                                     k ? "," : "", i * 100 + (uint32_t)k, i);
        snprintf(payload + used, 16384 - used, "]");
        REG(f, rq_docs("cl", payload));
    }
    folio_free(payload);
    folio_sched_resume(f->s);
    for (int i = 0; i < 10000; i++) {
        struct tinfo t;
        tinfo_get_at(f, 1, &t, __LINE__);
        bool started = t.status != FOLIO_STATUS_ENQUEUED;
        tinfo_clear(&t);
        if (started)
            break;
        usleep(1000);
    }
    fx_close(f);
    fx_open(f, false);
    print_message("    close while processing: reopen finished %u, requeued %u, removed %u\n",
                  f->info.tasks_finished, f->info.tasks_requeued, f->info.files_removed);
    CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "wait_idle after reopen");
    for (uint32_t u = 0; u <= N; u++)
        EXPECT_STATUS(f, u, SUCCEEDED);
    uint64_t total = 0;
    json_t *docs = docs_at(f, "cl", &total, __LINE__);
    CHECK(total == (uint64_t)N * 30, "documents %" PRIu64 ", expected %u", total, N * 30);
    json_decref(docs);
    struct folio_index *idx = NULL;
    CHECK(folio_sched_index_acquire(f->s, "cl", 2, &idx) == 0, "acquire");
    struct folio_index_error ie;
    int rc = folio_index_verify(idx, &ie);
    struct folio_index_marker mk;
    folio_index_marker_get(idx, &mk, NULL);
    folio_sched_index_release(f->s, idx);
    CHECK(rc == 0, "index verify: %s", ie.message);
    CHECK(mk.task_uid == N, "applied marker names task %" PRIu64 ", expected %u", mk.task_uid, N);
    CHECK(await_empty(f, "content") == 0, "content files left: %ld", count_in_db(f, "content"));
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    uint64_t h = folio_sched_state_hash(st);
    folio_sched_read_unlock(f->s);
    struct folio_sched_state *rs = NULL;
    struct folio_sched_diag dg;
    memset(&dg, 0, sizeof(dg));
    rc = folio_sched_state_replay(folio_sched_journal_dir(f->s), NULL, &rs, NULL, &dg);
    CHECK(rc == 0 && folio_sched_state_hash(rs) == h, "replay: %s %s", folio_err_name(rc),
          dg.reason);
    folio_sched_state_free(rs);
    CHECK_BATCHES(f, 0);
}

/*
 * Events of this type in the whole journal; for task_requeued, only those of
 * task uid (ANY_TASK: all).
 */
#define ANY_TASK UINT32_MAX
static unsigned
events_in_journal(struct fx *f, enum folio_event_type type, uint32_t uid)
{
    struct folio_journal_reader *r = NULL;
    struct folio_journal_diag d;
    memset(&d, 0, sizeof(d));
    int rc = folio_journal_reader_open(folio_sched_journal_dir(f->s), 1, 0, &r, &d);
    CHECK(rc == 0, "reader_open: %s %s", folio_err_name(rc), d.reason);
    unsigned n = 0;
    struct folio_journal_record rec;
    while ((rc = folio_journal_reader_next(r, &rec, &d)) == 0) {
        struct folio_event ev;
        CHECK(folio_event_decode(rec.data, rec.len, &ev) == 0, "event %" PRIu64, rec.seq);
        n += ev.type == type && (uid == ANY_TASK || (type == FOLIO_EV_TASK_REQUEUED &&
                                                      ev.u.task_requeued.task_uid == uid));
        folio_event_clear(&ev);
    }
    CHECK(rc == FOLIO_E_END, "reader_next: %s %s", folio_err_name(rc), d.reason);
    folio_journal_reader_close(r);
    return n;
}

static unsigned
requeues_of(struct fx *f, uint32_t uid)
{
    return events_in_journal(f, FOLIO_EV_TASK_REQUEUED, uid);
}

/* One addition of n small documents (ids 0..n-1) to index uid; returns its task uid. */
static uint32_t
reg_long_addition(struct fx *f, const char *uid, int n)
{
    size_t cap = (size_t)n * 64 + 16, used = 0;
    char *payload = folio_malloc(cap);
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(payload + used, cap - used,
                                 "%s{\"id\":%d,\"t\":\"word%d alpha beta\"}", i ? "," : "[", i,
                                 i % 1000);
    snprintf(payload + used, cap - used, "]");
    uint32_t t = REG(f, rq_docs(uid, payload));
    folio_free(payload);
    return t;
}

/* Resumes and waits until task uid is no longer enqueued (up to about 10 s). */
static void
resume_until_started(struct fx *f, uint32_t uid)
{
    folio_sched_resume(f->s);
    for (int i = 0; i < 10000; i++) {
        struct tinfo t;
        tinfo_get_at(f, uid, &t, __LINE__);
        bool started = t.status != FOLIO_STATUS_ENQUEUED;
        tinfo_clear(&t);
        if (started)
            return;
        usleep(1000);
    }
    CHECK(false, "task %u never started", uid);
}

/* A scheduler with index `long` whose 100,000-document addition (*t) is being applied. */
static struct fx *
fx_long_addition_running(const char *tag, uint32_t *t)
{
    struct fx *f = fx_new(tag);
    fx_open(f, true);
    REG(f, rq_create("long", "id"));
    settle(f);
    *t = reg_long_addition(f, "long", 100000);
    resume_until_started(f, *t);
    return f;
}

/* Cancels task t by uid, waits for the queue to drain, checks t ended canceled by it. */
static void
cancel_and_expect_canceled(struct fx *f, uint32_t t)
{
    struct folio_sched_query q;
    char query[32];
    snprintf(query, sizeof(query), "?uids=%u", t);
    uint32_t k = REG(f, rq_tasks(FOLIO_KIND_TASK_CANCELATION, &q, &t, 1, query));
    CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "wait_idle");
    EXPECT_STATUS(f, k, SUCCEEDED);
    struct tinfo ti;
    tinfo_get_at(f, t, &ti, __LINE__);
    CHECK(ti.status == FOLIO_STATUS_CANCELED && ti.canceled_by == k,
          "task %u ended %s, canceledBy %u (cancelation %u)", t,
          folio_task_status_name(ti.status), ti.canceled_by, k);
    tinfo_clear(&ti);
}

/*
 * A cancelation of the task being applied stops its index write part-way
 * (folio_index_set_stop): the task is requeued and canceled, none of its
 * documents is in the index, its content file goes. Before the write could
 * stop, this single-task batch finished its 100,000 documents and the task
 * succeeded: the requeue is the proof that it stopped inside the write.
 */
static void
test_cancel_stops_a_long_addition(void **state)
{
    (void)state;
    uint32_t t;
    struct fx *f = fx_long_addition_running("run-cancellong", &t);
    cancel_and_expect_canceled(f, t);
    CHECK(requeues_of(f, t) == 1, "the addition was requeued %u times", requeues_of(f, t));
    uint64_t total = 7;
    json_decref(docs_at(f, "long", &total, __LINE__));
    CHECK(total == 0, "%" PRIu64 " documents of the canceled addition are in the index", total);
    struct folio_index *idx = NULL;
    CHECK(folio_sched_index_acquire(f->s, "long", 4, &idx) == 0, "acquire");
    struct folio_index_error ie;
    int rc = folio_index_verify(idx, &ie);
    folio_sched_index_release(f->s, idx);
    CHECK(rc == 0, "index verify: %s", ie.message);
    CHECK(await_empty(f, "content") == 0, "content files left: %ld", count_in_db(f, "content"));
    /*
     * An addition that creates its index and is stopped leaves no index: the
     * creation was part of the task, which is canceled.
     */
    folio_sched_pause(f->s);
    long dirs = count_in_db(f, "indexes");
    uint32_t fresh = reg_long_addition(f, "fresh", 100000);
    resume_until_started(f, fresh);
    cancel_and_expect_canceled(f, fresh);
    CHECK(folio_sched_index_acquire(f->s, "fresh", 5, &idx) == FOLIO_E_NOT_FOUND,
          "index `fresh` exists after its creating addition was stopped and canceled");
    CHECK(count_in_db(f, "indexes") == dirs, "indexes/ holds %ld entries, expected %ld",
          count_in_db(f, "indexes"), dirs);
    /* The index takes the same addition afterwards. */
    folio_sched_pause(f->s);
    uint32_t again = reg_long_addition(f, "long", 2000);
    settle(f);
    EXPECT_STATUS(f, again, SUCCEEDED);
    json_decref(docs_at(f, "long", &total, __LINE__));
    CHECK(total == 2000, "documents %" PRIu64 ", expected 2000", total);
    CHECK_BATCHES(f, 0);
}

/*
 * Closing the scheduler while a long addition is applied stops the write
 * part-way instead of waiting for it: the task is requeued (before, it
 * finished first), and after reopening it runs once, whole.
 */
static void
test_close_stops_a_long_addition(void **state)
{
    (void)state;
    uint32_t t;
    struct fx *f = fx_long_addition_running("run-closelong", &t);
    int64_t t0 = now_ns();
    fx_close(f);
    print_message("    close during a 100,000-document addition took %.1f ms\n",
                  (double)(now_ns() - t0) / 1e6);
    fx_open(f, false);
    CHECK(f->info.tasks_requeued == 0 && f->info.tasks_finished == 0,
          "reopen finished %u and requeued %u: the close left the task processing",
          f->info.tasks_finished, f->info.tasks_requeued);
    CHECK(requeues_of(f, t) == 1, "the addition was requeued %u times", requeues_of(f, t));
    CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "wait_idle after reopen");
    EXPECT_STATUS(f, t, SUCCEEDED);
    uint64_t total = 0;
    json_decref(docs_at(f, "long", &total, __LINE__));
    CHECK(total == 100000, "documents %" PRIu64 ", expected 100000", total);
    CHECK(await_empty(f, "content") == 0, "content files left: %ld", count_in_db(f, "content"));
    CHECK_BATCHES(f, 0);
}

/*
 * checkpoint_scale (and the default count): the events between checkpoints
 * grow to the state's task count. The same 80 one-task batches, checkpointed
 * every 10 events, then with the count growing: with 80 tasks in the end a
 * gap reaches 80 events, so less than half as many checkpoints, and start-up
 * still uses the newest one.
 */
static void
test_checkpoint_interval_grows_with_state(void **state)
{
    (void)state;
    unsigned counts[2];
    for (int scale = 0; scale < 2; scale++) {
        struct fx *f = fx_new(scale ? "run-ckscale" : "run-ckfixed");
        f->opts.checkpoint_every_events = 10;
        f->opts.checkpoint_every_ms = UINT32_MAX;
        f->opts.checkpoint_scale = scale != 0;
        fx_open(f, true);
        REG(f, rq_create("cs", "id"));
        settle(f);
        for (int i = 0; i < 80; i++) {
            char doc[64];
            snprintf(doc, sizeof(doc), "[{\"id\":%d}]", i);
            REG(f, rq_docs("cs", doc));
            settle(f);
        }
        counts[scale] = events_in_journal(f, FOLIO_EV_CHECKPOINT_WRITTEN, ANY_TASK);
        fx_close(f);
        fx_open(f, true);
        CHECK(f->info.replay.checkpoint_seq > 0, "start-up did not use a checkpoint");
        EXPECT_STATUS(f, 80, SUCCEEDED);
        teardown(NULL);
    }
    print_message("    checkpoints: %u every 10 events, %u growing with the state\n", counts[0],
                  counts[1]);
    /* seen: 36-40 and 12-14 (a one-task batch appends about 5 events; the gaps grow to 80) */
    CHECK(counts[0] >= 15, "only %u checkpoints every 10 events", counts[0]);
    CHECK(counts[1] >= 2 && counts[1] * 2 < counts[0],
          "%u checkpoints with the count growing, %u without", counts[1], counts[0]);
}

struct ckpt_call {
    struct folio_sched *s;
    int rc;
};

static void *
ckpt_main(void *arg)
{
    struct ckpt_call *c = arg;
    c->rc = folio_sched_checkpoint_now(c->s, NULL);
    return NULL;
}

struct reg_call {
    struct fx *f;
    struct folio_sched_request r;
    atomic_int done; /* 1: returned */
    int rc;
};

static void *
reg_main(void *arg)
{
    struct reg_call *c = arg;
    struct folio_sched_registered out;
    struct folio_sched_error e;
    c->rc = reg(c->f, &c->r, &out, &e);
    atomic_store(&c->done, 1);
    return NULL;
}

/*
 * A checkpoint holds the state's lock only while it encodes: its file's
 * write, fsync and rename must not hold back the journal writer, which needs
 * the lock to acknowledge appends. The checkpoint is held at its rename (the
 * I/O seam's hold action) while a registration is made: it must be
 * acknowledged meanwhile. Before, the registration waited for the rename.
 */
static void
test_checkpoint_does_not_hold_acks(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-ckptlock");
    fx_open(f, false);
    REG(f, rq_create("ck", "id"));
    CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "wait_idle");
    struct folio_io_fault hold = {.op = FOLIO_IO_RENAME, .action = FOLIO_IO_ACT_HOLD, .nth = 1};
    folio_io_fault_set(&hold);
    struct ckpt_call cc = {.s = f->s, .rc = -1};
    pthread_t ct;
    CHECK(pthread_create(&ct, NULL, ckpt_main, &cc) == 0, "thread");
    for (int i = 0; i < 10000 && !folio_io_hold_waiting(); i++)
        usleep(1000);
    bool held = folio_io_hold_waiting();
    struct reg_call rcall = {.f = f, .r = rq_docs("ck", "[{\"id\":1}]"), .rc = -1};
    atomic_init(&rcall.done, 0);
    pthread_t rt;
    CHECK(pthread_create(&rt, NULL, reg_main, &rcall) == 0, "thread");
    /* A deadline for a wait that never ends when the lock is held, not a timing. */
    for (int i = 0; i < 20000 && !atomic_load(&rcall.done); i++)
        usleep(1000);
    bool acked_while_held = atomic_load(&rcall.done) != 0;
    folio_io_hold_release();
    pthread_join(rt, NULL);
    pthread_join(ct, NULL);
    folio_io_fault_set(NULL);
    CHECK(held, "the checkpoint never reached its rename");
    CHECK(acked_while_held, "a registration waited for the checkpoint's rename");
    CHECK(rcall.rc == 0, "register: %s", folio_err_name(rcall.rc));
    CHECK(cc.rc == 0, "checkpoint: %s", folio_err_name(cc.rc));
    CHECK(count_in_db(f, "checkpoints") >= 1, "no checkpoint file");
    CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "wait_idle");
    EXPECT_DOCS(f, "ck", "[{\"id\":1}]");
}

static uint64_t replay_hash_upto(const char *jdir, uint64_t upto, uint64_t *hash_end,
                                 uint64_t *last_seq, uint32_t *bad_tail_events);

/* Checkpoints written while batches run; a restart from them gives the journal's state. */
static void
test_checkpoints_during_processing(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-ckpt");
    f->opts.checkpoint_every_events = 7;
    fx_open(f, true);
    char doc[64];
    for (int round = 0; round < 4; round++) {
        REG(f, rq_create(round % 2 ? "ck-b" : "ck-a", NULL));
        for (int i = 0; i < 10; i++) {
            snprintf(doc, sizeof(doc), "[{\"id\":%d}]", round * 100 + i);
            REG(f, rq_docs(round % 2 ? "ck-b" : "ck-a", doc));
        }
        uint32_t fil[] = {(uint32_t)(round * 11)};
        struct folio_sched_query q;
        REG(f, rq_tasks(FOLIO_KIND_TASK_DELETION, &q, fil, 1, "?uids=x"));
        settle(f);
    }
    long nck = count_in_db(f, "checkpoints");
    CHECK(nck >= 1 && nck <= (long)FOLIO_CKPT_KEEP, "checkpoints/ holds %ld files", nck);
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    uint64_t h0 = folio_sched_state_hash(st);
    uint64_t seq0 = folio_sched_state_last_seq(st);
    folio_sched_read_unlock(f->s);
    struct folio_sched_state *full = NULL;
    struct folio_sched_diag d;
    memset(&d, 0, sizeof(d));
    int rc = folio_sched_state_replay(folio_sched_journal_dir(f->s), NULL, &full, NULL, &d);
    CHECK(rc == 0, "full replay: %s %s", folio_err_name(rc), d.reason);
    CHECK(folio_sched_state_last_seq(full) == seq0 && folio_sched_state_hash(full) == h0,
          "the live state differs from a full replay of its journal");
    folio_sched_state_free(full);
    fx_close(f);
    fx_open(f, true);
    CHECK(f->info.replay.checkpoint_seq > 0, "start-up did not use a checkpoint");
    uint64_t hend = 0, last = 0;
    uint32_t bad_tail = 0;
    uint64_t hmid = replay_hash_upto(folio_sched_journal_dir(f->s), seq0, &hend, &last, &bad_tail);
    st = folio_sched_read_lock(f->s);
    uint64_t h1 = folio_sched_state_hash(st);
    folio_sched_read_unlock(f->s);
    CHECK(hmid == h0 && hend == h1 && bad_tail == 0,
          "state after a restart from a checkpoint differs from the journal");
    EXPECT_DOCS(f, "ck-a", "[{\"id\":0},{\"id\":1},{\"id\":2},{\"id\":3},{\"id\":4},"
                           "{\"id\":5},{\"id\":6},{\"id\":7},{\"id\":8},{\"id\":9},"
                           "{\"id\":200},{\"id\":201},{\"id\":202},{\"id\":203},"
                           "{\"id\":204},{\"id\":205},{\"id\":206},{\"id\":207},"
                           "{\"id\":208},{\"id\":209}]");
}

/* Tasks accepted because a pending task could create the index, which then does not exist. */
static void
test_missing_index_at_processing(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-ghost");
    fx_open(f, true);
    uint32_t c = REG(f, rq_create("ghost", NULL));
    uint32_t del = REG(f, rq(FOLIO_KIND_INDEX_DELETION, "ghost"));
    struct folio_sched_request r = rq_docs("ghost", "[{\"id\":1}]");
    r.forbid_index_creation = true;
    uint32_t docs = REG(f, r);
    r = rq_settings("ghost", "{\"stopWords\":[\"x\"]}");
    r.forbid_index_creation = true;
    uint32_t set = REG(f, r);
    r = rq(FOLIO_KIND_INDEX_UPDATE, "ghost");
    r.primary_key = folio_str_c("id");
    uint32_t upd = REG(f, r);
    struct folio_str ids[] = {{"1", 1}};
    uint32_t dd = REG(f, rq_del_ids("ghost", ids, 1));
    settle(f);
    EXPECT_STATUS(f, c, SUCCEEDED);
    EXPECT_STATUS(f, del, SUCCEEDED);
    EXPECT_FAILED(f, docs, "index_not_found");
    EXPECT_FAILED(f, set, "index_not_found");
    EXPECT_FAILED(f, upd, "index_not_found");
    EXPECT_FAILED(f, dd, "index_not_found");
    json_t *j = tjson(f, docs);
    CHECK(strstr(jstr(json_object_get(j, "error"), "message"), "ghost") != NULL,
          "message does not name the index: %s", jdump(j));
    SOFT(jint(json_object_get(j, "details"), "indexedDocuments") == 0,
         "failed addition details (Meilisearch to_failed: indexedDocuments 0): %s", jdump(j));
    json_decref(j);
    struct iinfo ii;
    index_info(f, "ghost", &ii);
    CHECK(!ii.exists, "ghost exists");
    CHECK(await_empty(f, "indexes") == 0, "indexes/ holds %ld entries",
          count_in_db(f, "indexes"));
    CHECK_BATCHES(f, 0);
    SOFT_DONE();
}

/* =========================================================================================
 * 5. cancelation and deletion
 * ======================================================================================= */

static void
test_cancelation(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-cancel");
    f->opts.inline_payload_max = 64; /* payloads go to content files */
    fx_open(f, true);
    uint32_t c = REG(f, rq_create("c", "id"));
    settle(f);
    EXPECT_STATUS(f, c, SUCCEEDED);
    uint32_t cbatch = batch_of(f, c);
    struct tinfo before;
    tinfo_get_at(f, c, &before, __LINE__);

    char *p1 = make_docs(1, 3, 50), *p2 = make_docs(10, 2, 50);
    uint32_t a1 = REG(f, rq_docs("c", p1));
    uint32_t a2 = REG(f, rq_docs("c", p2));
    uint32_t s3 = REG(f, rq_settings("c", "{\"stopWords\":[\"x\"]}"));
    CHECK(count_in_db(f, "content") == 2, "content files %ld", count_in_db(f, "content"));
    /* uid 5 does not exist yet: only 0, 1, 2 are matched */
    uint32_t fil[] = {c, a1, a2, 5};
    struct folio_sched_query q;
    uint32_t k = REG(f, rq_tasks(FOLIO_KIND_TASK_CANCELATION, &q, fil, 4, "?uids=0,1,2,5"));
    CHECK(k == 4, "cancel uid %u", k);
    uint32_t late = REG(f, rq_docs("c", "[{\"id\":99}]"));
    CHECK(late == 5, "late uid %u", late);
    settle(f);

    EXPECT_STATUS(f, k, SUCCEEDED);
    uint32_t kb = batch_of(f, k);
    json_t *j = tjson(f, k);
    json_t *d = json_object_get(j, "details");
    CHECK(jint(d, "matchedTasks") == 3 && jint(d, "canceledTasks") == 2 &&
              jstr_is(d, "originalFilter", "?uids=0,1,2,5"),
          "cancel details (matched 3, canceled 2): %s", jdump(j));
    CHECK(jnull(j, "indexUid") && jnull(j, "canceledBy"), "%s", jdump(j));
    json_decref(j);
    for (uint32_t u = a1; u <= a2; u++) {
        EXPECT_STATUS(f, u, CANCELED);
        struct tinfo t;
        tinfo_get_at(f, u, &t, __LINE__);
        CHECK(t.canceled_by == k && jint(t.json, "canceledBy") == k, "task %u canceledBy: %s", u,
              jdump(t.json));
        CHECK(t.batch_uid == kb && jint(t.json, "batchUid") == kb,
              "canceled task %u in batch %u, canceler's batch %u", u, t.batch_uid, kb);
        CHECK(jnull(t.json, "error"), "canceled task has an error: %s", jdump(t.json));
        json_t *td = json_object_get(t.json, "details");
        SOFT(jint(td, "receivedDocuments") == (u == a1 ? 3 : 2) &&
                 jint(td, "indexedDocuments") == 0,
              "canceled task details (Meilisearch to_failed): %s", jdump(t.json));
        tinfo_clear(&t);
    }
    /* finished tasks untouched */
    struct tinfo after;
    tinfo_get_at(f, c, &after, __LINE__);
    CHECK(after.status == FOLIO_STATUS_SUCCEEDED && after.batch_uid == cbatch &&
              after.canceled_by == NONE && after.finished_at_ns == before.finished_at_ns,
          "finished task touched by the cancelation: %s", jdump(after.json));
    CHECK(json_equal(after.json, before.json), "finished task changed:\n  %s\n  %s",
          jdump(before.json), jdump(after.json));
    tinfo_clear(&after);
    tinfo_clear(&before);
    EXPECT_STATUS(f, s3, SUCCEEDED);
    EXPECT_STATUS(f, late, SUCCEEDED);
    CHECK(batch_of(f, s3) > kb, "settings ran before the cancelation");
    /* nothing of the canceled tasks reached the index; their content files are gone */
    EXPECT_DOCS(f, "c", "[{\"id\":99}]");
    CHECK(await_empty(f, "content") == 0, "content files left: %ld", count_in_db(f, "content"));

    /* the batch of the cancelation counts the canceled tasks */
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    struct folio_batch_view bv;
    int rc = folio_sched_batch_get(st, kb, &bv);
    uint32_t tot = rc == 0 ? bv.total_tasks : 0, ncan = rc == 0 ? bv.status_counts[FOLIO_STATUS_CANCELED] : 0;
    folio_sched_read_unlock(f->s);
    CHECK(rc == 0 && tot == 3 && ncan == 2, "cancel batch stats: total %u canceled %u", tot, ncan);

    /* canceling only finished tasks cancels nothing */
    uint32_t fil2[] = {c, a1};
    uint32_t k2 = REG(f, rq_tasks(FOLIO_KIND_TASK_CANCELATION, &q, fil2, 2, "?uids=0,1"));
    settle(f);
    j = tjson(f, k2);
    d = json_object_get(j, "details");
    CHECK(jint(d, "matchedTasks") == 2 && jint(d, "canceledTasks") == 0,
          "cancel of finished tasks: %s", jdump(j));
    json_decref(j);
    EXPECT_STATUS(f, a1, CANCELED);
    tinfo_get_at(f, a1, &after, __LINE__);
    CHECK(after.canceled_by == k, "canceledBy rewritten to %u", after.canceled_by);
    tinfo_clear(&after);

    /* cancel by status and index: only c2's enqueued tasks */
    REG(f, rq_create("c2", NULL));
    REG(f, rq_create("c3", NULL));
    settle(f);
    uint32_t x1 = REG(f, rq_docs("c2", "[{\"id\":1}]"));
    uint32_t x2 = REG(f, rq_docs("c3", "[{\"id\":1}]"));
    uint32_t x3 = REG(f, rq_settings("c2", "{\"stopWords\":[\"y\"]}"));
    memset(&q, 0, sizeof(q));
    struct folio_str iu[] = {{"c2", 2}};
    q.statuses = 1u << FOLIO_STATUS_ENQUEUED;
    q.index_uids = iu;
    q.index_uid_count = 1;
    q.index_uids_set = true;
    struct folio_sched_request r = rq(FOLIO_KIND_TASK_CANCELATION, NULL);
    r.filter = &q;
    r.query = folio_str_c("?statuses=enqueued&indexUids=c2");
    uint32_t k3 = REG(f, r);
    settle(f);
    EXPECT_STATUS(f, x1, CANCELED);
    EXPECT_STATUS(f, x3, CANCELED);
    EXPECT_STATUS(f, x2, SUCCEEDED);
    j = tjson(f, k3);
    d = json_object_get(j, "details");
    CHECK(jint(d, "matchedTasks") == 2 && jint(d, "canceledTasks") == 2, "details: %s", jdump(j));
    json_decref(j);
    CHECK_BATCHES(f, 0);
    folio_free(p1);
    folio_free(p2);
    SOFT_DONE();
}

static void
test_task_deletion(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-tdel");
    fx_open(f, true);
    uint32_t t0 = REG(f, rq_create("d", NULL));
    uint32_t t1 = REG(f, rq_create("d", NULL)); /* fails */
    uint32_t t2 = REG(f, rq_docs("d", "[{\"id\":1}]"));
    settle(f);
    EXPECT_STATUS(f, t0, SUCCEEDED);
    EXPECT_FAILED(f, t1, "index_already_exists");
    uint32_t b0 = batch_of(f, t0);
    uint32_t t3 = REG(f, rq_docs("d", "[{\"id\":2}]")); /* enqueued when the deletion runs */
    uint32_t fil[] = {t0, t1, t2, t3};
    struct folio_sched_query q;
    uint32_t del = REG(f, rq_tasks(FOLIO_KIND_TASK_DELETION, &q, fil, 4, "?uids=0,1,2,3"));
    settle(f);

    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    struct folio_task_view v;
    int r0 = folio_sched_task_get(st, t0, &v);
    int r1 = folio_sched_task_get(st, t1, &v);
    int r2 = folio_sched_task_get(st, t2, &v);
    struct folio_batch_view bv;
    int rb = folio_sched_batch_get(st, b0, &bv);
    uint64_t count = folio_sched_state_task_count(st);
    folio_sched_read_unlock(f->s);
    CHECK(r0 == FOLIO_E_NOT_FOUND && r1 == FOLIO_E_NOT_FOUND && r2 == FOLIO_E_NOT_FOUND,
          "finished tasks not deleted: %s %s %s", folio_err_name(r0), folio_err_name(r1),
          folio_err_name(r2));
    CHECK(rb == FOLIO_E_NOT_FOUND, "batch %u kept after its only task was deleted", b0);
    CHECK(count == 2, "%" PRIu64 " tasks left, expected 2 (the enqueued one and the deletion)",
          count);
    EXPECT_STATUS(f, t3, SUCCEEDED); /* it was enqueued at deletion time, then ran */
    EXPECT_STATUS(f, del, SUCCEEDED);
    CHECK(batch_of(f, del) < batch_of(f, t3), "deletion did not run before the enqueued task");
    json_t *j = tjson(f, del);
    json_t *d = json_object_get(j, "details");
    CHECK(jint(d, "matchedTasks") == 4 && jint(d, "deletedTasks") == 3 &&
              jstr_is(d, "originalFilter", "?uids=0,1,2,3"),
          "deletion details: %s", jdump(j));
    json_decref(j);
    CHECK(folio_sched_wait_task(f->s, t0, 10) == FOLIO_E_NOT_FOUND, "wait_task on a deleted task");
    /* the index and its documents are not affected */
    EXPECT_DOCS(f, "d", "[{\"id\":1},{\"id\":2}]");
    /* uids are never reused */
    uint32_t n = REG(f, rq_docs("d", "[{\"id\":3}]"));
    CHECK(n == del + 1, "uid %u after deletion, expected %u", n, del + 1);

    /* deleting a deletion task; a second deletion matching deleted uids deletes nothing */
    uint32_t fil2[] = {t0, t1, del};
    uint32_t del2 = REG(f, rq_tasks(FOLIO_KIND_TASK_DELETION, &q, fil2, 3, "?uids=0,1,4"));
    settle(f);
    j = tjson(f, del2);
    d = json_object_get(j, "details");
    CHECK(jint(d, "matchedTasks") == 1 && jint(d, "deletedTasks") == 1, "details: %s", jdump(j));
    json_decref(j);
    st = folio_sched_read_lock(f->s);
    r0 = folio_sched_task_get(st, del, &v);
    folio_sched_read_unlock(f->s);
    CHECK(r0 == FOLIO_E_NOT_FOUND, "deletion task %u not deleted", del);
    CHECK_BATCHES(f, 0);
}

/* =========================================================================================
 * 6. queries after real processing
 * ======================================================================================= */

struct qcase {
    const char *name;
    struct folio_sched_query q;
    const uint32_t *want;
    uint32_t nwant;
    uint64_t total;
};

static void
run_query_at(struct fx *f, const struct folio_sched_query *q, struct folio_sched_page *p, int line)
{
    memset(p, 0, sizeof(*p));
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    int rc = folio_sched_query_tasks(st, q, p);
    folio_sched_read_unlock(f->s);
    CHECKL(line, rc == 0, "query: %s", folio_err_name(rc));
}

static void
page_str(const struct folio_sched_page *p, char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (uint32_t i = 0; i < p->count && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%u", i ? "," : "", p->uids[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, "] total %" PRIu64 " from %s%u next %s%u", p->total,
                 p->has_from ? "" : "-", p->has_from ? p->from : 0, p->has_next ? "" : "-",
                 p->has_next ? p->next : 0);
}

static void
expect_page_at(struct fx *f, const char *name, const struct folio_sched_query *q,
               const uint32_t *want, uint32_t nwant, uint64_t total, bool has_next, uint32_t next,
               int line)
{
    struct folio_sched_page p;
    run_query_at(f, q, &p, line);
    char got[1024];
    page_str(&p, got, sizeof(got));
    bool ok = p.count == nwant && p.total == total && p.has_next == has_next &&
              (!has_next || p.next == next) && p.has_from == (nwant > 0) &&
              (nwant == 0 || p.from == want[0]);
    for (uint32_t i = 0; ok && i < nwant; i++)
        ok = p.uids[i] == want[i];
    CHECKL(line, ok, "query %s: got %s", name, got);
    folio_sched_page_clear(&p);
}
#define EXPECT_PAGE(f, name, q, total, has_next, next, ...)                                         \
    do {                                                                                           \
        const uint32_t want_[] = {__VA_ARGS__};                                                    \
        expect_page_at(f, name, q, want_, FOLIO_ARRAY_LEN(want_), total, has_next, next, __LINE__); \
    } while (0)
#define EXPECT_EMPTY(f, name, q)                                                                   \
    expect_page_at(f, name, q, NULL, 0, 0, false, 0, __LINE__)

/* Brute force: the expected page from every task's view. */
struct bt {
    uint32_t uid;
    enum folio_task_kind kind;
    enum folio_task_status status;
    uint32_t batch, canceled_by;
    char idx[2][FOLIO_INDEX_UID_MAX + 1];
    uint32_t nidx;
};

static bool
bt_match(const struct bt *t, const struct folio_sched_query *q)
{
    if (q->statuses && !(q->statuses & (1u << t->status)))
        return false;
    if (q->kinds && !(q->kinds & (1u << t->kind)))
        return false;
    if (q->uids_set) {
        bool hit = false;
        for (uint32_t i = 0; i < q->uid_count; i++)
            hit |= q->uids[i] == t->uid;
        if (!hit)
            return false;
    }
    if (q->batch_uids_set) {
        bool hit = false;
        for (uint32_t i = 0; i < q->batch_uid_count; i++)
            hit |= t->batch != NONE && q->batch_uids[i] == t->batch;
        if (!hit)
            return false;
    }
    if (q->canceled_by_set) {
        bool hit = false;
        for (uint32_t i = 0; i < q->canceled_by_count; i++)
            hit |= t->canceled_by != NONE && q->canceled_by[i] == t->canceled_by;
        if (!hit)
            return false;
    }
    if (q->index_uids_set) {
        if (!folio_task_kind_one_index(t->kind))
            return false;
        bool hit = false;
        for (uint32_t i = 0; i < q->index_uid_count; i++)
            for (uint32_t k = 0; k < t->nidx; k++)
                hit |= strlen(t->idx[k]) == q->index_uids[i].len &&
                       memcmp(t->idx[k], q->index_uids[i].ptr, q->index_uids[i].len) == 0;
        if (!hit)
            return false;
    }
    return true;
}

static void
brute_check(struct fx *f, const struct bt *all, uint32_t n, const struct folio_sched_query *q,
            const char *label)
{
    uint32_t *m = folio_calloc(n + 1, sizeof(uint32_t));
    uint32_t nm = 0;
    for (uint32_t i = 0; i < n; i++)
        if (bt_match(&all[i], q))
            m[nm++] = all[i].uid;
    /* all[] ascending; order and window */
    uint32_t *ord = folio_calloc(n + 1, sizeof(uint32_t));
    uint32_t no = 0;
    for (uint32_t i = 0; i < nm; i++) {
        uint32_t u = q->reverse ? m[i] : m[nm - 1 - i];
        if (q->from_set && (q->reverse ? u < q->from : u > q->from))
            continue;
        ord[no++] = u;
    }
    uint32_t limit = q->limit_set ? q->limit : FOLIO_SCHED_LIMIT_DEFAULT;
    uint32_t take = no < limit ? no : limit;
    struct folio_sched_page p;
    run_query_at(f, q, &p, __LINE__);
    bool ok = p.total == nm && p.count == take && p.limit == limit &&
              p.has_next == (no > limit) && (!p.has_next || p.next == ord[limit]) &&
              p.has_from == (take > 0) && (take == 0 || p.from == ord[0]);
    for (uint32_t i = 0; ok && i < take; i++)
        ok = p.uids[i] == ord[i];
    if (!ok) {
        char got[1024];
        page_str(&p, got, sizeof(got));
        char exp[1024];
        size_t used = (size_t)snprintf(exp, sizeof(exp), "[");
        for (uint32_t i = 0; i < take && used < sizeof(exp); i++)
            used += (size_t)snprintf(exp + used, sizeof(exp) - used, "%s%u", i ? "," : "", ord[i]);
        if (used < sizeof(exp))
            snprintf(exp + used, sizeof(exp) - used, "] total %u next %s%u", nm,
                     no > limit ? "" : "-", no > limit ? ord[limit] : 0);
        CHECK(ok, "%s: got %s, expected %s", label, got, exp);
    }
    folio_sched_page_clear(&p);
    folio_free(m);
    folio_free(ord);
}

static void
test_queries(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-query");
    fx_open(f, true);
    /* 0 */ REG(f, rq_create("q1", "id"));
    /* 1 */ REG(f, rq_create("q2", "id"));
    /* 2 */ REG(f, rq_docs("q1", "[{\"id\":1}]"));
    /* 3 */ REG(f, rq_docs("q2", "[{\"id\":1}]"));
    /* 4 */ REG(f, rq_create("q1", NULL)); /* fails: index_already_exists */
    /* 5 */ REG(f, rq_settings("q2", "{\"stopWords\":[\"a\"]}"));
    settle(f);
    /* 6 */ REG(f, rq_docs("q1", "[{\"id\":2}]"));
    /* 7 */ REG(f, rq_docs("q2", "[{\"id\":2}]"));
    uint32_t cf[] = {6};
    struct folio_sched_query cq;
    /* 8 */ REG(f, rq_tasks(FOLIO_KIND_TASK_CANCELATION, &cq, cf, 1, "?uids=6"));
    settle(f);
    /* 9 */ REG(f, rq_docs("q1", "[{\"id\":3}]"));
    settle(f);
    CHECK(next_task_uid(f) == 10, "next uid %" PRIu64, next_task_uid(f));
    EXPECT_FAILED(f, 4, "index_already_exists");
    EXPECT_STATUS(f, 6, CANCELED);

    struct folio_sched_query q;
    memset(&q, 0, sizeof(q));
    EXPECT_PAGE(f, "all", &q, 10, false, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    q.limit_set = true;
    q.limit = 3;
    EXPECT_PAGE(f, "limit 3", &q, 10, true, 6, 9, 8, 7);
    q.from_set = true;
    q.from = 6;
    EXPECT_PAGE(f, "limit 3 from 6", &q, 10, true, 3, 6, 5, 4);
    q.from = 2;
    EXPECT_PAGE(f, "limit 3 from 2", &q, 10, false, 0, 2, 1, 0);
    q.from = 50;
    EXPECT_PAGE(f, "from beyond the newest", &q, 10, true, 6, 9, 8, 7);
    q.reverse = true;
    q.from = 5;
    q.limit = 2;
    EXPECT_PAGE(f, "reverse from 5 limit 2", &q, 10, true, 7, 5, 6);
    q.from_set = false;
    q.limit = 4;
    EXPECT_PAGE(f, "reverse limit 4", &q, 10, true, 4, 0, 1, 2, 3);
    q.limit = 0;
    {
        struct folio_sched_page p;
        run_query_at(f, &q, &p, __LINE__);
        CHECK(p.count == 0 && p.total == 10 && p.has_next, "limit 0: count %u total %" PRIu64
              " next %d", p.count, p.total, p.has_next);
        folio_sched_page_clear(&p);
    }

    memset(&q, 0, sizeof(q));
    q.statuses = 1u << FOLIO_STATUS_FAILED;
    EXPECT_PAGE(f, "statuses=failed", &q, 1, false, 0, 4);
    q.statuses = 1u << FOLIO_STATUS_CANCELED;
    EXPECT_PAGE(f, "statuses=canceled", &q, 1, false, 0, 6);
    q.statuses = (1u << FOLIO_STATUS_SUCCEEDED) | (1u << FOLIO_STATUS_FAILED);
    EXPECT_PAGE(f, "statuses=succeeded,failed", &q, 9, false, 0, 9, 8, 7, 5, 4, 3, 2, 1, 0);
    q.statuses = 1u << FOLIO_STATUS_ENQUEUED;
    EXPECT_EMPTY(f, "statuses=enqueued", &q);

    memset(&q, 0, sizeof(q));
    q.kinds = 1u << FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
    EXPECT_PAGE(f, "types=documentAdditionOrUpdate", &q, 5, false, 0, 9, 7, 6, 3, 2);
    q.kinds |= 1u << FOLIO_KIND_TASK_CANCELATION;
    EXPECT_PAGE(f, "types=documentAdditionOrUpdate,taskCancelation", &q, 6, false, 0, 9, 8, 7, 6,
                3, 2);

    memset(&q, 0, sizeof(q));
    struct folio_str iq2[] = {{"q2", 2}};
    q.index_uids = iq2;
    q.index_uid_count = 1;
    q.index_uids_set = true;
    EXPECT_PAGE(f, "indexUids=q2", &q, 4, false, 0, 7, 5, 3, 1);
    struct folio_str iq12[] = {{"q1", 2}, {"q2", 2}};
    q.index_uids = iq12;
    q.index_uid_count = 2;
    EXPECT_PAGE(f, "indexUids=q1,q2 (the cancel task is dropped)", &q, 9, false, 0, 9, 7, 6, 5, 4,
                3, 2, 1, 0);
    struct folio_str inone[] = {{"zz", 2}};
    q.index_uids = inone;
    q.index_uid_count = 1;
    EXPECT_EMPTY(f, "indexUids=zz", &q);

    memset(&q, 0, sizeof(q));
    uint32_t us[] = {1, 4, 8, 100};
    q.uids = us;
    q.uid_count = 4;
    q.uids_set = true;
    EXPECT_PAGE(f, "uids=1,4,8,100", &q, 3, false, 0, 8, 4, 1);
    q.uid_count = 0;
    EXPECT_EMPTY(f, "uids set but empty", &q);

    memset(&q, 0, sizeof(q));
    uint32_t cb8[] = {8};
    q.canceled_by = cb8;
    q.canceled_by_count = 1;
    q.canceled_by_set = true;
    EXPECT_PAGE(f, "canceledBy=8", &q, 1, false, 0, 6);
    uint32_t cb5[] = {5};
    q.canceled_by = cb5;
    EXPECT_EMPTY(f, "canceledBy=5 (matches nothing: nothing, not everything)", &q);

    memset(&q, 0, sizeof(q));
    q.kinds = 1u << FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
    q.statuses = 1u << FOLIO_STATUS_SUCCEEDED;
    struct folio_str iq1[] = {{"q1", 2}};
    q.index_uids = iq1;
    q.index_uid_count = 1;
    q.index_uids_set = true;
    EXPECT_PAGE(f, "types+statuses+indexUids", &q, 2, false, 0, 9, 2);

    memset(&q, 0, sizeof(q));
    uint32_t bu[] = {batch_of(f, 8)};
    q.batch_uids = bu;
    q.batch_uid_count = 1;
    q.batch_uids_set = true;
    EXPECT_PAGE(f, "batchUids=<batch of the cancel>", &q, 2, false, 0, 8, 6);

    /* date bounds: everything was enqueued after the first task's enqueuedAt - 1 */
    struct tinfo t0, t9;
    tinfo_get_at(f, 0, &t0, __LINE__);
    tinfo_get_at(f, 9, &t9, __LINE__);
    memset(&q, 0, sizeof(q));
    q.after_enqueued_at.set = true;
    q.after_enqueued_at.ns = t0.enqueued_at_ns - 1;
    {
        struct folio_sched_page p;
        run_query_at(f, &q, &p, __LINE__);
        CHECK(p.total == 10, "afterEnqueuedAt first-1: total %" PRIu64, p.total);
        folio_sched_page_clear(&p);
    }
    q.after_enqueued_at.ns = t9.enqueued_at_ns; /* strict */
    EXPECT_EMPTY(f, "afterEnqueuedAt = newest (strict)", &q);
    memset(&q, 0, sizeof(q));
    q.after_finished_at.set = true;
    q.after_finished_at.ns = t9.finished_at_ns - 1;
    EXPECT_PAGE(f, "afterFinishedAt newest-1", &q, 1, false, 0, 9);
    tinfo_clear(&t0);
    tinfo_clear(&t9);

    /* walking all pages with from = next visits every task once, newest first */
    memset(&q, 0, sizeof(q));
    q.limit_set = true;
    q.limit = 3;
    uint32_t seen[16], ns = 0;
    for (int guard = 0; guard < 10; guard++) {
        struct folio_sched_page p;
        run_query_at(f, &q, &p, __LINE__);
        for (uint32_t i = 0; i < p.count && ns < 16; i++)
            seen[ns++] = p.uids[i];
        bool more = p.has_next;
        q.from_set = true;
        q.from = p.next;
        folio_sched_page_clear(&p);
        if (!more)
            break;
    }
    CHECK(ns == 10, "paging visited %u tasks", ns);
    for (uint32_t i = 0; i < ns; i++)
        CHECK(seen[i] == 9 - i, "page walk position %u: %u", i, seen[i]);

    /* random filters against a brute force over every task's view (fixed seed) */
    uint64_t seed = 0x5eed5c4edu;
    const char *env = getenv("FOLIO_TEST_SEED");
    if (env && *env)
        seed = strtoull(env, NULL, 0);
    print_message("    test_queries seed %" PRIu64 " (FOLIO_TEST_SEED)\n", seed);
    uint64_t rng = seed;
    struct bt all[10];
    uint32_t n = 0;
    for (uint32_t u = 0; u < 10; u++) {
        struct tinfo t;
        tinfo_get_at(f, u, &t, __LINE__);
        if (!t.exists)
            continue;
        all[n].uid = u;
        all[n].kind = t.kind;
        all[n].status = t.status;
        all[n].batch = t.batch_uid;
        all[n].canceled_by = t.canceled_by;
        all[n].nidx = t.index_count < 2 ? t.index_count : 2;
        for (uint32_t k = 0; k < all[n].nidx; k++)
            snprintf(all[n].idx[k], sizeof(all[n].idx[k]), "%s", t.index_uids[k]);
        n++;
        tinfo_clear(&t);
    }
    struct folio_str pool[] = {{"q1", 2}, {"q2", 2}, {"zz", 2}};
    for (int it = 0; it < 400; it++) {
        memset(&q, 0, sizeof(q));
        uint32_t uids[6], cbs[2], bus[3];
        struct folio_str ius[3];
        if (tu_rand(&rng) % 3 == 0)
            q.statuses = (uint32_t)(tu_rand(&rng) % (1u << FOLIO_STATUS_COUNT));
        if (tu_rand(&rng) % 3 == 0)
            q.kinds = (uint32_t)(tu_rand(&rng) % (1u << FOLIO_KIND_COUNT));
        if (tu_rand(&rng) % 4 == 0) {
            q.uids_set = true;
            q.uid_count = (uint32_t)(tu_rand(&rng) % 6);
            for (uint32_t i = 0; i < q.uid_count; i++)
                uids[i] = (uint32_t)(tu_rand(&rng) % 12);
            q.uids = uids;
        }
        if (tu_rand(&rng) % 5 == 0) {
            q.canceled_by_set = true;
            q.canceled_by_count = 1 + (uint32_t)(tu_rand(&rng) % 2);
            cbs[0] = tu_rand(&rng) % 2 ? 8 : (uint32_t)(tu_rand(&rng) % 10);
            cbs[1] = (uint32_t)(tu_rand(&rng) % 10);
            q.canceled_by = cbs;
        }
        if (tu_rand(&rng) % 5 == 0) {
            q.batch_uids_set = true;
            q.batch_uid_count = 1 + (uint32_t)(tu_rand(&rng) % 3);
            for (uint32_t i = 0; i < q.batch_uid_count; i++)
                bus[i] = (uint32_t)(tu_rand(&rng) % 12);
            q.batch_uids = bus;
        }
        if (tu_rand(&rng) % 3 == 0) {
            q.index_uids_set = true;
            q.index_uid_count = (uint32_t)(tu_rand(&rng) % 3);
            for (uint32_t i = 0; i < q.index_uid_count; i++)
                ius[i] = pool[tu_rand(&rng) % 3];
            q.index_uids = ius;
        }
        if (tu_rand(&rng) % 2) {
            q.limit_set = true;
            q.limit = (uint32_t)(tu_rand(&rng) % 6);
        }
        if (tu_rand(&rng) % 2) {
            q.from_set = true;
            q.from = (uint32_t)(tu_rand(&rng) % 12);
        }
        q.reverse = tu_rand(&rng) % 2;
        char label[64];
        snprintf(label, sizeof(label), "random query #%d (seed %" PRIu64 ")", it, seed);
        brute_check(f, all, n, &q, label);
    }
}

/* =========================================================================================
 * 7. restart
 * ======================================================================================= */

/* Replays the journal into a fresh state event by event; returns its hash at seq `upto`. */
static uint64_t
replay_hash_upto(const char *jdir, uint64_t upto, uint64_t *hash_end, uint64_t *last_seq,
                 uint32_t *bad_tail_events)
{
    struct folio_sched_state *st = folio_sched_state_new();
    struct folio_journal_reader *r = NULL;
    struct folio_journal_diag jd;
    memset(&jd, 0, sizeof(jd));
    int rc = folio_journal_reader_open(jdir, 1, 0, &r, &jd);
    CHECK(rc == 0, "reader_open: %s", folio_err_name(rc));
    uint64_t h_upto = upto == 0 ? folio_sched_state_hash(st) : 0;
    *bad_tail_events = 0;
    for (;;) {
        struct folio_journal_record rec;
        rc = folio_journal_reader_next(r, &rec, &jd);
        if (rc == FOLIO_E_END)
            break;
        CHECK(rc == 0, "reader_next: %s %s", folio_err_name(rc), jd.reason);
        struct folio_event ev;
        rc = folio_event_decode(rec.data, rec.len, &ev);
        CHECK(rc == 0, "decode %" PRIu64 ": %s", rec.seq, folio_err_name(rc));
        struct folio_sched_diag d;
        memset(&d, 0, sizeof(d));
        if (rec.seq > upto && ev.type != FOLIO_EV_SERVER_STARTED &&
            ev.type != FOLIO_EV_CHECKPOINT_WRITTEN)
            (*bad_tail_events)++;
        rc = folio_sched_state_apply(st, rec.seq, rec.frame_hash, &ev, &d);
        folio_event_clear(&ev);
        CHECK(rc == 0, "apply %" PRIu64 ": %s %s", rec.seq, folio_err_name(rc), d.reason);
        if (rec.seq == upto)
            h_upto = folio_sched_state_hash(st);
    }
    folio_journal_reader_close(r);
    *hash_end = folio_sched_state_hash(st);
    *last_seq = folio_sched_state_last_seq(st);
    folio_sched_state_free(st);
    return h_upto;
}

static void
test_restart(void **state)
{
    (void)state;
    struct fx *f = fx_new("run-restart");
    f->opts.inline_payload_max = 256;
    fx_open(f, true);
    REG(f, rq_create("r1", "id"));
    REG(f, rq_docs("r1", "[{\"id\":1,\"t\":\"one\"},{\"id\":2,\"t\":\"two\"}]"));
    REG(f, rq_settings("r1", "{\"filterableAttributes\":[\"t\"]}"));
    REG(f, rq_create("r1", NULL)); /* fails */
    REG(f, rq_docs("r2", "[{\"id\":7}]"));
    settle(f);
    uint32_t cf[] = {3};
    struct folio_sched_query q;
    REG(f, rq_tasks(FOLIO_KIND_TASK_DELETION, &q, cf, 1, "?uids=3"));
    settle(f);
    /* left enqueued across the restart, one with a content file */
    char *big = make_docs(100, 10, 60);
    uint32_t pending = REG(f, rq_docs("r1", big));
    uint32_t pending2 = REG(f, rq_docs("r2", "[{\"id\":8}]"));
    CHECK(count_in_db(f, "content") == 1, "content files %ld", count_in_db(f, "content"));

    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    uint64_t h0 = folio_sched_state_hash(st);
    uint64_t seq0 = folio_sched_state_last_seq(st);
    uint64_t next0 = folio_sched_state_next_task_uid(st);
    uint64_t nb0 = folio_sched_state_next_batch_uid(st);
    folio_sched_read_unlock(f->s);
    json_t *views0 = json_array();
    for (uint32_t u = 0; u < next0; u++) {
        struct tinfo t;
        tinfo_get_at(f, u, &t, __LINE__);
        json_array_append_new(views0, t.exists ? json_incref(t.json) : json_null());
        tinfo_clear(&t);
    }
    json_t *docs0 = docs_at(f, "r1", NULL, __LINE__);
    fx_close(f);

    fx_open(f, true);
    st = folio_sched_read_lock(f->s);
    uint64_t h1 = folio_sched_state_hash(st);
    uint64_t seq1 = folio_sched_state_last_seq(st);
    uint64_t next1 = folio_sched_state_next_task_uid(st);
    uint64_t nb1 = folio_sched_state_next_batch_uid(st);
    folio_sched_read_unlock(f->s);
    print_message("    restart: seq %" PRIu64 " -> %" PRIu64 ", requeued %u finished %u\n", seq0,
                  seq1, f->info.tasks_requeued, f->info.tasks_finished);
    CHECK(seq1 >= seq0, "state went back: seq %" PRIu64 " -> %" PRIu64, seq0, seq1);
    if (seq1 == seq0)
        CHECK(h1 == h0, "same seq, different state hash after reopen");
    /* the journal, replayed event by event: at seq0 it is the state we closed, at its end
       the state we reopened, and what came after seq0 changes no task */
    uint64_t hend = 0, last = 0;
    uint32_t bad_tail = 0;
    uint64_t hmid = replay_hash_upto(folio_sched_journal_dir(f->s), seq0, &hend, &last, &bad_tail);
    CHECK(hmid == h0, "replay to seq %" PRIu64 " differs from the state before close", seq0);
    CHECK(last == seq1 && hend == h1, "reopened state differs from the journal's replay");
    CHECK(bad_tail == 0, "%u task events were written by close/open", bad_tail);
    CHECK(next1 == next0 && nb1 == nb0, "next uids changed: task %" PRIu64 "->%" PRIu64
          " batch %" PRIu64 "->%" PRIu64, next0, next1, nb0, nb1);
    for (uint32_t u = 0; u < next0; u++) {
        struct tinfo t;
        tinfo_get_at(f, u, &t, __LINE__);
        json_t *was = json_array_get(views0, u);
        json_t *now = t.exists ? t.json : json_null();
        CHECK(json_equal(was, now), "task %u changed across the restart:\n  %s\n  %s", u,
              jdump(was), jdump(now));
        tinfo_clear(&t);
    }
    json_decref(views0);
    json_t *docs1 = docs_at(f, "r1", NULL, __LINE__);
    CHECK(json_equal(docs0, docs1), "documents changed across the restart:\n  %s\n  %s",
          jdump(docs0), jdump(docs1));
    json_decref(docs0);
    json_decref(docs1);
    EXPECT_STATUS(f, pending, ENQUEUED);
    CHECK(count_in_db(f, "content") == 1, "the pending task's content file did not survive");
    char *sj = settings_of(f, "r1");
    json_t *sjo = json_loads(sj, 0, NULL);
    json_t *want_fa = json_pack("[s]", "t");
    CHECK(sjo && json_equal(json_object_get(sjo, "filterableAttributes"), want_fa),
          "settings lost: %s", sj);
    json_decref(want_fa);
    json_decref(sjo);
    folio_free(sj);

    /* uids continue; the tasks left enqueued run after the restart */
    uint32_t nu = REG(f, rq_docs("r2", "[{\"id\":9}]"));
    CHECK(nu == next0, "uid %u after restart, expected %" PRIu64, nu, next0);
    fx_close(f);
    fx_open(f, false);
    CHECK(folio_sched_wait_idle(f->s, WAIT_MS) == 0, "wait_idle after reopen");
    EXPECT_STATUS(f, pending, SUCCEEDED);
    EXPECT_STATUS(f, pending2, SUCCEEDED);
    EXPECT_STATUS(f, nu, SUCCEEDED);
    CHECK(await_empty(f, "content") == 0, "content files left: %ld", count_in_db(f, "content"));
    uint64_t total = 0;
    json_decref(docs_at(f, "r1", &total, __LINE__));
    CHECK(total == 12, "r1 documents %" PRIu64, total);
    EXPECT_DOCS(f, "r2", "[{\"id\":7},{\"id\":8},{\"id\":9}]");
    CHECK(batch_of(f, nu) >= nb0, "batch uids reused");

    /* and once more, with a checkpoint: the state still comes back equal */
    struct folio_sched_diag d;
    memset(&d, 0, sizeof(d));
    int rc = folio_sched_checkpoint_now(f->s, &d);
    CHECK(rc == 0, "checkpoint_now: %s %s", folio_err_name(rc), d.reason);
    CHECK(count_in_db(f, "checkpoints") >= 1, "no checkpoint file");
    st = folio_sched_read_lock(f->s);
    h0 = folio_sched_state_hash(st);
    seq0 = folio_sched_state_last_seq(st);
    folio_sched_read_unlock(f->s);
    fx_close(f);
    fx_open(f, true);
    CHECK(f->info.replay.checkpoint_seq > 0, "reopen did not use the checkpoint");
    st = folio_sched_read_lock(f->s);
    h1 = folio_sched_state_hash(st);
    seq1 = folio_sched_state_last_seq(st);
    folio_sched_read_unlock(f->s);
    hmid = replay_hash_upto(folio_sched_journal_dir(f->s), seq0, &hend, &last, &bad_tail);
    CHECK(hmid == h0 && hend == h1 && last == seq1 && bad_tail == 0,
          "state after a checkpointed restart differs from the journal");
    EXPECT_DOCS(f, "r2", "[{\"id\":7},{\"id\":8},{\"id\":9}]");
    folio_free(big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_open_layout_and_lock, teardown),
        cmocka_unit_test_teardown(test_reg_err_index_uid, teardown),
        cmocka_unit_test_teardown(test_reg_err_index_not_found, teardown),
        cmocka_unit_test_teardown(test_reg_err_payload, teardown),
        cmocka_unit_test_teardown(test_reg_err_settings, teardown),
        cmocka_unit_test_teardown(test_reg_err_task_filters_and_swap, teardown),
        cmocka_unit_test_teardown(test_reg_err_snapshots, teardown),
        cmocka_unit_test_teardown(test_register_success, teardown),
        cmocka_unit_test_teardown(test_content_files, teardown),
        cmocka_unit_test_teardown(test_register_async, teardown),
        cmocka_unit_test_teardown(test_register_concurrent, teardown),
        cmocka_unit_test_teardown(test_batching_and_priority, teardown),
        cmocka_unit_test_teardown(test_batch_limit, teardown),
        cmocka_unit_test_teardown(test_outcomes_documents, teardown),
        cmocka_unit_test_teardown(test_outcomes_indexes, teardown),
        cmocka_unit_test_teardown(test_missing_index_at_processing, teardown),
        cmocka_unit_test_teardown(test_mixed_document_batch, teardown),
        cmocka_unit_test_teardown(test_renames, teardown),
        cmocka_unit_test_teardown(test_cancel_while_processing, teardown),
        cmocka_unit_test_teardown(test_delete_while_processing, teardown),
        cmocka_unit_test_teardown(test_cancelation, teardown),
        cmocka_unit_test_teardown(test_task_deletion, teardown),
        cmocka_unit_test_teardown(test_queries, teardown),
        cmocka_unit_test_teardown(test_restart, teardown),
        cmocka_unit_test_teardown(test_checkpoints_during_processing, teardown),
        cmocka_unit_test_teardown(test_checkpoint_does_not_hold_acks, teardown),
        cmocka_unit_test_teardown(test_checkpoint_interval_grows_with_state, teardown),
        cmocka_unit_test_teardown(test_close_while_processing, teardown),
        cmocka_unit_test_teardown(test_cancel_stops_a_long_addition, teardown),
        cmocka_unit_test_teardown(test_close_stops_a_long_addition, teardown),
    };
    /* FOLIO_TEST_FILTER=test_restart runs only the tests matching the pattern */
    const char *filter = getenv("FOLIO_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
