/*
 * Index batches in the running scheduler (scheduler/run_process.c, "Index
 * batches"; DESIGN §6 "Exactly once"): a batch's document tasks cost one
 * durable LMDB commit together, with the same documents and per-task
 * outcomes as one commit each, and a kill inside the batched apply loses or
 * repeats nothing.
 *
 * Real data directories, real journal and LMDB envs; kills are real (the
 * crash points _exit the forked child). LMDB commits are counted with LMDB
 * itself: the env's last transaction id, read while the scheduler is closed.
 * Expected documents, details and errors come from the requests (each task
 * adds one document with an id of its own; known failures and deletions),
 * never from what the code produced.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"
#include "folio/io.h"
#include "folio/journal.h"
#include "folio/sched.h"
#include "folio/sched_run.h"

#define WAIT_MS 120000
#define IDX "books"

struct fx {
    char *root, *db;
    struct folio_sched_opts opts;
    struct folio_journal_opts jopts;
    struct folio_sched *s;
    struct folio_sched_open_info info;
};

static void
fx_init(struct fx *f, const char *tag)
{
    memset(f, 0, sizeof(*f));
    f->root = tu_mkdtemp(tag);
    f->db = tu_path(f->root, "db");
    folio_sched_opts_default(&f->opts);
    f->opts.db_path = f->db;
    f->opts.checkpoint_every_ms = UINT32_MAX;
    folio_journal_opts_default(&f->jopts);
}

static void
fx_open(struct fx *f, bool paused)
{
    struct folio_sched_diag d;
    memset(&d, 0, sizeof(d));
    f->opts.paused = paused;
    int rc = folio_sched_open(&f->opts, &f->s, &f->info, &d);
    if (rc != 0)
        fprintf(stderr, "open %s: %s (%s)\n", f->db, folio_err_name(rc), d.reason);
    assert_int_equal(rc, 0);
}

static void
fx_close(struct fx *f)
{
    folio_sched_close(f->s);
    f->s = NULL;
}

static void
fx_free(struct fx *f)
{
    if (f->s != NULL)
        fx_close(f);
    tu_rmrf(f->root);
    folio_free(f->root);
    folio_free(f->db);
}

static void
run_all(struct fx *f)
{
    folio_sched_resume(f->s);
    int rc = folio_sched_wait_idle(f->s, WAIT_MS);
    assert_int_equal(rc, 0);
}

static uint32_t
reg(struct fx *f, struct folio_sched_request *r)
{
    struct folio_sched_registered out;
    struct folio_sched_error e;
    memset(&e, 0, sizeof(e));
    int rc = folio_sched_register(f->s, r, &out, &e);
    if (rc != 0)
        fprintf(stderr, "register: %s %s\n", folio_err_name(rc), e.message);
    assert_int_equal(rc, 0);
    return out.task_uid;
}

static uint32_t
reg_create(struct fx *f)
{
    struct folio_sched_request r;
    memset(&r, 0, sizeof(r));
    r.kind = FOLIO_KIND_INDEX_CREATION;
    r.index_uid = folio_str_c(IDX);
    r.primary_key = folio_str_c("id");
    return reg(f, &r);
}

static uint32_t
reg_doc(struct fx *f, const char *json)
{
    struct folio_sched_request r;
    memset(&r, 0, sizeof(r));
    r.kind = FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
    r.index_uid = folio_str_c(IDX);
    r.payload = json;
    r.payload_len = strlen(json);
    r.format = FOLIO_INDEX_FORMAT_JSON;
    r.method = FOLIO_DOC_REPLACE;
    return reg(f, &r);
}

static uint32_t
reg_delete(struct fx *f, const char *id)
{
    struct folio_str ids[1] = {folio_str_c(id)};
    struct folio_sched_request r;
    memset(&r, 0, sizeof(r));
    r.kind = FOLIO_KIND_DOCUMENT_DELETION;
    r.index_uid = folio_str_c(IDX);
    r.ids = ids;
    r.id_count = 1;
    return reg(f, &r);
}

/* The task as Meilisearch's JSON (new reference), and its status and batch. */
static json_t *
task_json(struct fx *f, uint32_t uid, enum folio_task_status *status, uint32_t *batch)
{
    const struct folio_sched_state *st = folio_sched_read_lock(f->s);
    struct folio_task_view v;
    int rc = folio_sched_task_get(st, uid, &v);
    json_t *j = NULL;
    if (rc == 0) {
        *status = v.status;
        *batch = v.batch_uid;
        rc = folio_task_view_to_json(&v, &j);
    }
    folio_sched_read_unlock(f->s);
    assert_int_equal(rc, 0);
    return j;
}

static long long
detail(json_t *task, const char *key)
{
    json_t *v = json_object_get(json_object_get(task, "details"), key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

static void
expect_succeeded(struct fx *f, uint32_t uid, const char *key, long long value)
{
    enum folio_task_status st;
    uint32_t batch;
    json_t *j = task_json(f, uid, &st, &batch);
    if (st != FOLIO_STATUS_SUCCEEDED || detail(j, key) != value) {
        char *txt = json_dumps(j, JSON_COMPACT);
        fprintf(stderr, "task %u: %s (want succeeded, %s = %lld)\n", uid, txt, key, value);
        free(txt);
    }
    assert_int_equal(st, FOLIO_STATUS_SUCCEEDED);
    assert_int_equal(detail(j, key), value);
    json_decref(j);
}

static void
expect_failed(struct fx *f, uint32_t uid, const char *code)
{
    enum folio_task_status st;
    uint32_t batch;
    json_t *j = task_json(f, uid, &st, &batch);
    assert_int_equal(st, FOLIO_STATUS_FAILED);
    const char *got = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    assert_non_null(got);
    assert_string_equal(got, code);
    assert_int_equal(detail(j, "indexedDocuments"), 0);
    json_decref(j);
}

struct istats {
    uint64_t docs, next_iid;
    char uuid[64];
};

static void
index_stats(struct fx *f, struct istats *out)
{
    struct folio_index *idx = NULL;
    assert_int_equal(folio_sched_index_acquire(f->s, IDX, strlen(IDX), &idx), 0);
    struct folio_index_stats *st = NULL;
    struct folio_index_error e;
    assert_int_equal(folio_index_stats_get(idx, &st, &e), 0);
    out->docs = st->document_count;
    out->next_iid = st->next_internal_id;
    folio_index_stats_free(st);
    folio_sched_index_release(f->s, idx);
    const struct folio_sched_state *s = folio_sched_read_lock(f->s);
    struct folio_index_view v;
    assert_int_equal(folio_sched_index_get(s, IDX, strlen(IDX), &v), 0);
    snprintf(out->uuid, sizeof(out->uuid), "%.*s", (int)v.uuid.len, v.uuid.ptr);
    folio_sched_read_unlock(f->s);
}

static bool
has_doc(struct fx *f, int id)
{
    struct folio_index *idx = NULL;
    assert_int_equal(folio_sched_index_acquire(f->s, IDX, strlen(IDX), &idx), 0);
    char sid[16], *json = NULL;
    size_t len;
    snprintf(sid, sizeof(sid), "%d", id);
    struct folio_index_error e;
    int rc = folio_index_document_get(idx, sid, NULL, 0, &json, &len, &e);
    folio_sched_index_release(f->s, idx);
    folio_free(json);
    assert_true(rc == 0 || rc == FOLIO_E_DOCUMENT_NOT_FOUND);
    return rc == 0;
}

/* The last committed LMDB transaction id of an index env (scheduler closed). */
static uint64_t
last_txnid(struct fx *f, const char *uuid)
{
    char *ix = tu_path(f->db, "indexes");
    char *dir = tu_path(ix, uuid);
    MDB_env *env = NULL;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(env, &info), 0);
    mdb_env_close(env);
    folio_free(ix);
    folio_free(dir);
    return info.me_last_txnid;
}

/* ---- 200 one-document tasks: right results, few commits ----------------------- */

static void
test_batch_of_200(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "sbatch200");
    fx_open(&f, true);
    reg_create(&f);
    run_all(&f);
    struct istats st;
    index_stats(&f, &st);
    fx_close(&f);
    uint64_t txn0 = last_txnid(&f, st.uuid);

    fx_open(&f, true);
    enum { N = 200 };
    uint32_t uids[N];
    char doc[128];
    for (int k = 0; k < N; k++) {
        if (k == 77) {
            uids[k] = reg_doc(&f, "{\"title\":\"no id\"}"); /* fails alone */
        } else if (k == 120) {
            uids[k] = reg_delete(&f, "3");
        } else if (k == 150) {
            /* the second document is bad: the first must not stay either */
            uids[k] = reg_doc(&f, "[{\"id\":1150,\"t\":\"x\"},{\"id\":\"bad id!\"}]");
        } else {
            snprintf(doc, sizeof(doc), "{\"id\":%d,\"title\":\"book %d\"}", k, k);
            uids[k] = reg_doc(&f, doc);
        }
    }
    run_all(&f);
    uint32_t batches[N];
    for (int k = 0; k < N; k++) {
        enum folio_task_status s;
        json_decref(task_json(&f, uids[k], &s, &batches[k]));
        if (k == 77)
            expect_failed(&f, uids[k], "missing_document_id");
        else if (k == 150)
            expect_failed(&f, uids[k], "invalid_document_id");
        else if (k == 120)
            expect_succeeded(&f, uids[k], "deletedDocuments", 1);
        else
            expect_succeeded(&f, uids[k], "indexedDocuments", 1);
    }
    uint32_t distinct = 1;
    for (int k = 1; k < N; k++)
        distinct += batches[k] != batches[k - 1];
    for (int k = 0; k < N; k++)
        assert_int_equal(has_doc(&f, k), k != 3 && k != 77 && k != 120 && k != 150);
    assert_false(has_doc(&f, 1150));
    index_stats(&f, &st);
    assert_int_equal(st.docs, N - 4);
    assert_int_equal(st.next_iid, N - 3); /* ids 0..199 but 77, 120, 150 */
    fx_close(&f);
    uint64_t txns = last_txnid(&f, st.uuid) - txn0;
    fprintf(stderr, "200 tasks: %u batch(es), %" PRIu64 " LMDB commit(s)\n", distinct, txns);
    /* one commit per batch (one more if a batch had to start before the index opened) */
    assert_true(txns <= 2 * (uint64_t)distinct);
    assert_true(txns <= 4);
    fx_free(&f);
}

/* ---- small journal segments: the outcomes of a big batch fit its frames --------- */

static void
test_small_segments(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "sbatchseg");
    f.jopts.segment_bytes = 64u << 10; /* frames of at most 16 KiB */
    f.opts.journal = &f.jopts;
    fx_open(&f, true);
    reg_create(&f);
    enum { N = 300 };
    uint32_t uids[N];
    char doc[128];
    for (int k = 0; k < N; k++) {
        snprintf(doc, sizeof(doc), "{\"id\":%d,\"title\":\"book %d\"}", k, k);
        uids[k] = reg_doc(&f, doc);
    }
    run_all(&f);
    for (int k = 0; k < N; k++)
        expect_succeeded(&f, uids[k], "indexedDocuments", 1);
    struct istats st;
    index_stats(&f, &st);
    assert_int_equal(st.docs, N);
    fx_close(&f);
    /* and the journal they went to reopens and replays */
    fx_open(&f, true);
    for (int k = 0; k < N; k += 37)
        expect_succeeded(&f, uids[k], "indexedDocuments", 1);
    fx_free(&f);
}

/* ---- a map that must grow inside a batch: rollback, the tasks run again ---------- */

static void
test_rollback_small_map(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "sbatchmap");
    struct folio_index_options io;
    folio_index_options_default(&io);
    io.map_bytes_initial = 32u << 10;
    f.opts.index = &io;
    fx_open(&f, true);
    reg_create(&f);
    enum { N = 150 };
    uint32_t uids[N];
    size_t cap = 1600;
    char *doc = folio_malloc(cap);
    for (int k = 0; k < N; k++) {
        if (k == 60) {
            uids[k] = reg_delete(&f, "5");
        } else if (k == 61) {
            uids[k] = reg_doc(&f, "{\"id\":5,\"title\":\"back\"}");
        } else if (k == 90) {
            uids[k] = reg_doc(&f, "{\"title\":\"no id\"}");
        } else {
            int len = snprintf(doc, cap, "{\"id\":%d,\"text\":\"", k);
            for (int c = 0; c < 1200; c++)
                doc[len++] = (char)('a' + (c * 7 + k) % 26);
            snprintf(doc + len, cap - (size_t)len, " w%d\"}", k);
            uids[k] = reg_doc(&f, doc);
        }
    }
    folio_free(doc);
    run_all(&f);
    for (int k = 0; k < N; k++) {
        if (k == 90)
            expect_failed(&f, uids[k], "missing_document_id");
        else if (k == 60)
            expect_succeeded(&f, uids[k], "deletedDocuments", 1);
        else
            expect_succeeded(&f, uids[k], "indexedDocuments", 1);
    }
    for (int k = 0; k < N; k++)
        assert_int_equal(has_doc(&f, k), k != 60 && k != 61 && k != 90);
    struct istats st;
    index_stats(&f, &st);
    assert_int_equal(st.docs, N - 3);
    assert_int_equal(st.next_iid, N - 3 + 1); /* 5 twice; 60, 61, 90 never */
    struct folio_index *idx = NULL;
    assert_int_equal(folio_sched_index_acquire(f.s, IDX, strlen(IDX), &idx), 0);
    struct folio_index_stats *is = NULL;
    struct folio_index_error e;
    assert_int_equal(folio_index_stats_get(idx, &is, &e), 0);
    assert_true(is->map_bytes >= (256u << 10)); /* it had to grow inside the batch */
    folio_index_stats_free(is);
    assert_int_equal(folio_index_verify(idx, &e), 0);
    folio_sched_index_release(f.s, idx);
    fx_free(&f);
}

/* ---- kills inside a batched apply ------------------------------------------------- */

enum { KN = 60 };

/* The child: registers the workload (paused), arms the crash point, runs. */
static void
child_run(struct fx *f, const char *point)
{
    fx_open(f, true);
    char doc[128];
    for (int k = 0; k < KN; k++) {
        if (k == 30) {
            reg_delete(f, "0");
        } else if (k == 31) {
            reg_doc(f, "{\"id\":0,\"title\":\"again\"}"); /* a new internal id */
        } else if (k == 40) {
            reg_doc(f, "{\"title\":\"no id\"}");
        } else {
            snprintf(doc, sizeof(doc), "{\"id\":%d,\"title\":\"book %d\"}", k, k);
            reg_doc(f, doc);
        }
    }
    folio_crash_point_set(point);
    folio_sched_resume(f->s);
    folio_sched_wait_idle(f->s, WAIT_MS);
    _exit(3); /* the point did not fire */
}

static void
kill_round(const char *point, int *fired)
{
    struct fx f;
    fx_init(&f, "sbatchkill");
    fx_open(&f, true);
    uint32_t create = reg_create(&f);
    run_all(&f);
    fx_close(&f);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child_run(&f, point);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    bool killed = !(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    *fired += killed;

    fx_open(&f, true);
    uint32_t finished = f.info.tasks_finished, requeued = f.info.tasks_requeued;
    fprintf(stderr, "%s: killed %d, open finished %u, requeued %u\n", point, killed, finished,
            requeued);
    if (killed && strncmp(point, "index-batch-applied", 19) == 0) {
        /* nothing of the batch was durable: all of it runs again */
        assert_int_equal(finished, 0);
        assert_true(requeued >= 2);
    }
    if (killed && strncmp(point, "index-committed", 15) == 0) {
        /* all of the batch was durable: finished from the stored outcomes */
        assert_true(finished >= 2);
        assert_int_equal(requeued, 0);
    }
    run_all(&f);
    /* every task exactly once: outcomes and documents as one run would make them */
    uint32_t first = create + 1;
    for (int k = 0; k < KN; k++) {
        if (k == 40)
            expect_failed(&f, first + (uint32_t)k, "missing_document_id");
        else if (k == 30)
            expect_succeeded(&f, first + (uint32_t)k, "deletedDocuments", 1);
        else
            expect_succeeded(&f, first + (uint32_t)k, "indexedDocuments", 1);
    }
    for (int k = 0; k < KN; k++)
        assert_int_equal(has_doc(&f, k), k != 30 && k != 31 && k != 40);
    struct istats st;
    index_stats(&f, &st);
    assert_int_equal(st.docs, KN - 3);
    /* ids 0..59 but 30, 31, 40, and the re-added 0 once more */
    assert_int_equal(st.next_iid, KN - 3 + 1);
    struct folio_index *idx = NULL;
    assert_int_equal(folio_sched_index_acquire(f.s, IDX, strlen(IDX), &idx), 0);
    struct folio_index_error e;
    assert_int_equal(folio_index_verify(idx, &e), 0);
    folio_sched_index_release(f.s, idx);
    fx_free(&f);
}

static void
test_kill_in_batched_apply(void **state)
{
    (void)state;
    static const char *const points[] = {"index-batch-applied:1", "index-committed:1",
                                         "outcome-durable:1"};
    int fired = 0;
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(points); i++) {
        int before = fired;
        kill_round(points[i], &fired);
        assert_int_equal(fired, before + 1);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_of_200),
        cmocka_unit_test(test_small_segments),
        cmocka_unit_test(test_rollback_small_map),
        cmocka_unit_test(test_kill_in_batched_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
