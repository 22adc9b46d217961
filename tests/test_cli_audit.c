/*
 * `folio task show DB UID` and `folio index history DB UID` run as the real
 * program (FOLIO_CLI_PATH) on a data directory whose journal this test writes:
 * tasks over two indexes "books" and "films" (one succeeded, one failed with
 * an error object, one enqueued task canceled by a taskCancelation, one
 * requeued then succeeded, an indexSwap between the two, a taskDeletion that
 * deleted the failed task). The journal is checked to replay, so it is a
 * history the scheduler accepts.
 *
 * The seqs each view must print are collected here while appending (the seq
 * the journal returned for each event, filed under the tasks and indexes it
 * concerns), never taken from the program's output. Also: --json lines parse
 * and carry the right types, unknown uids exit 3, a flipped byte exits 1,
 * --help exits 0.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"
#include "folio/journal.h"
#include "folio/sched.h"
#include "testutil.h"

#define SEQS_MAX 64u
#define T_MAX 8u

/* Expected output, filed while appending. */
struct want {
    uint64_t task[T_MAX][SEQS_MAX];
    size_t task_n[T_MAX];
    uint64_t books[SEQS_MAX], films[SEQS_MAX];
    size_t books_n, films_n;
    const char *task_types[T_MAX][SEQS_MAX]; /* event type of each expected seq */
};

static struct want W;
static struct folio_journal *J;
static char *DB, *JDIR;

enum { TO_BOOKS = 1, TO_FILMS = 2 };

static void
file_task(uint64_t t, uint64_t seq, const char *type)
{
    if (t >= T_MAX)
        return; /* only the first tasks are followed */
    assert_true(W.task_n[t] < SEQS_MAX);
    W.task_types[t][W.task_n[t]] = type;
    W.task[t][W.task_n[t]++] = seq;
}

/*
 * Appends ev; files its seq under tasks ta and tb (UINT64_MAX: none) and
 * under the indexes in idx (TO_BOOKS | TO_FILMS).
 */
static uint64_t
app(struct folio_event *ev, uint64_t ta, uint64_t tb, unsigned idx)
{
    static int64_t clock = 1763800000000000000ll;
    uint8_t *buf = NULL;
    size_t len = 0;
    ev->at_ns = clock += 1000000;
    assert_int_equal(folio_event_encode(ev, &buf, &len), 0);
    struct folio_journal_entry e = {buf, len};
    uint64_t seq = 0;
    assert_int_equal(folio_journal_append(J, &e, 1, &seq), 0);
    folio_free(buf);
    const char *type = folio_event_type_name(ev->type);
    if (ta != UINT64_MAX)
        file_task(ta, seq, type);
    if (tb != UINT64_MAX)
        file_task(tb, seq, type);
    if (idx & TO_BOOKS)
        W.books[W.books_n++] = seq;
    if (idx & TO_FILMS)
        W.films[W.films_n++] = seq;
    return seq;
}

#define NONE UINT64_MAX

static void
reg(uint64_t uid, const struct folio_task_content *c, const char *i0, const char *i1, unsigned idx)
{
    uint8_t *content = NULL;
    size_t clen = 0;
    assert_int_equal(folio_task_content_encode(c, &content, &clen), 0);
    struct folio_str iu[2] = {folio_str_c(i0 ? i0 : ""), folio_str_c(i1 ? i1 : "")};
    struct folio_event ev = {.type = FOLIO_EV_TASK_REGISTERED};
    ev.u.task_registered.task_uid = uid;
    ev.u.task_registered.kind = folio_str_c(folio_task_kind_name(c->kind));
    ev.u.task_registered.index_uids = (struct folio_str_array){iu, i0 ? (i1 ? 2u : 1u) : 0u};
    ev.u.task_registered.enqueued_at_ns = 1763800000000000000ll + (int64_t)uid;
    ev.u.task_registered.content = (struct folio_object){content, (uint32_t)clen};
    app(&ev, uid, NONE, idx);
    folio_free(content);
}

static void
batch(uint64_t b, uint64_t task)
{
    struct folio_event ev = {.type = FOLIO_EV_BATCH_STARTED};
    ev.u.batch_started.batch_uid = b;
    ev.u.batch_started.task_uids = (struct folio_u64_array){&task, 1};
    ev.u.batch_started.reason = folio_str_c("test batch");
    app(&ev, task, NONE, 0);
}

static void
progress(uint64_t b, uint64_t task)
{
    struct folio_event ev = {.type = FOLIO_EV_PROGRESS};
    ev.u.progress.batch_uid = b;
    ev.u.progress.step = folio_str_c("processing tasks");
    ev.u.progress.step_index = 0;
    ev.u.progress.step_total = 1;
    app(&ev, task, NONE, 0);
}

static void
outcome(enum folio_event_type type, uint64_t task, uint64_t b, uint64_t canceled_by,
        const struct folio_object *details, const struct folio_object *error, unsigned idx)
{
    struct folio_event ev = {.type = type};
    ev.u.task_outcome.task_uid = task;
    ev.u.task_outcome.batch_uid = b;
    ev.u.task_outcome.finished_at_ns = 1763900000000000000ll + (int64_t)task;
    if (details)
        ev.u.task_outcome.details = *details;
    if (error)
        ev.u.task_outcome.error = *error;
    ev.u.task_outcome.canceled_by = canceled_by;
    app(&ev, task, type == FOLIO_EV_TASK_CANCELED ? canceled_by : NONE, idx);
}

static void
index_change(enum folio_event_type type, const char *uid, const char *uuid, uint64_t task,
             unsigned idx)
{
    struct folio_event ev = {.type = type};
    ev.u.index_change.index_uid = folio_str_c(uid);
    ev.u.index_change.index_uuid = folio_str_c(uuid);
    ev.u.index_change.primary_key = folio_str_c("id");
    ev.u.index_change.task_uid = task;
    ev.u.index_change.changed_at_ns = 1763800000000000000ll;
    app(&ev, task, NONE, idx);
}

#define UUID_BOOKS "00000000-0000-4000-8000-000000000001"
#define UUID_FILMS "00000000-0000-4000-8000-000000000002"

/*
 * Tasks: 0 create books (succeeds), 1 create films (succeeds), 2 update books
 * (fails), 3 update films (requeued, then succeeds), 4 update books (canceled
 * while enqueued by 5), 5 taskCancelation, 6 indexSwap books<->films,
 * 7 taskDeletion of task 2.
 */
static void
make_db(void)
{
    memset(&W, 0, sizeof(W));
    DB = tu_mkdtemp("auditcli");
    JDIR = tu_path(DB, "journal");
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = 64 * 1024;
    o.create = true;
    assert_int_equal(folio_journal_open(JDIR, &o, &J, NULL, NULL), 0);

    struct folio_task_content create = {.kind = FOLIO_KIND_INDEX_CREATION};
    struct folio_task_content update = {.kind = FOLIO_KIND_INDEX_UPDATE,
                                        .primary_key = folio_str_c("id")};
    reg(0, &create, "books", NULL, TO_BOOKS);
    reg(1, &create, "films", NULL, TO_FILMS);
    batch(0, 0);
    progress(0, 0);
    index_change(FOLIO_EV_INDEX_CREATED, "books", UUID_BOOKS, 0, TO_BOOKS);
    outcome(FOLIO_EV_TASK_SUCCEEDED, 0, 0, 0, NULL, NULL, TO_BOOKS);
    batch(1, 1);
    index_change(FOLIO_EV_INDEX_CREATED, "films", UUID_FILMS, 1, TO_FILMS);
    outcome(FOLIO_EV_TASK_SUCCEEDED, 1, 1, 0, NULL, NULL, TO_FILMS);

    /* 2 fails with an error object. */
    reg(2, &update, "books", NULL, TO_BOOKS);
    batch(2, 2);
    progress(2, 2);
    struct folio_task_error te = {.message = folio_str_c("primary key already set"),
                                  .code = folio_str_c("index_primary_key_already_exists"),
                                  .type = folio_str_c("invalid_request")};
    uint8_t *err = NULL;
    size_t err_len = 0;
    assert_int_equal(folio_task_error_encode(&te, &err, &err_len), 0);
    struct folio_object err_obj = {err, (uint32_t)err_len};
    outcome(FOLIO_EV_TASK_FAILED, 2, 2, 0, NULL, &err_obj, TO_BOOKS);
    folio_free(err);

    /* 3 is requeued out of batch 3, then runs in batch 4. */
    reg(3, &update, "films", NULL, TO_FILMS);
    batch(3, 3);
    progress(3, 3);
    struct folio_event rq = {.type = FOLIO_EV_TASK_REQUEUED};
    rq.u.task_requeued.task_uid = 3;
    rq.u.task_requeued.batch_uid = 3;
    rq.u.task_requeued.reason = folio_str_c("server stopping");
    app(&rq, 3, NONE, 0);
    batch(4, 3);
    progress(4, 3);
    index_change(FOLIO_EV_INDEX_UPDATED, "films", UUID_FILMS, 3, TO_FILMS);
    outcome(FOLIO_EV_TASK_SUCCEEDED, 3, 4, 0, NULL, NULL, TO_FILMS);

    /* 4 is canceled while enqueued by taskCancelation 5. */
    reg(4, &update, "books", NULL, TO_BOOKS);
    uint64_t matched4[] = {4};
    struct folio_task_content cancel = {.kind = FOLIO_KIND_TASK_CANCELATION,
                                        .query = folio_str_c("?uids=4"),
                                        .matched_tasks = {matched4, 1}};
    reg(5, &cancel, NULL, NULL, 0);
    batch(5, 5);
    outcome(FOLIO_EV_TASK_CANCELED, 4, 5, 5, NULL, NULL, TO_BOOKS);
    struct folio_task_details cd = {.present = (1ull << FOLIO_DETAIL_MATCHED_TASKS) |
                                               (1ull << FOLIO_DETAIL_CANCELED_TASKS),
                                    .matched_tasks = 1,
                                    .canceled_tasks = 1};
    uint8_t *det = NULL;
    size_t det_len = 0;
    assert_int_equal(folio_task_details_encode(FOLIO_KIND_TASK_CANCELATION, &cd, &det, &det_len),
                     0);
    struct folio_object det_obj = {det, (uint32_t)det_len};
    outcome(FOLIO_EV_TASK_SUCCEEDED, 5, 5, 0, &det_obj, NULL, 0);
    folio_free(det);

    /* 6 swaps books and films. */
    struct folio_task_swap sw = {.indexes = {folio_str_c("books"), folio_str_c("films")}};
    struct folio_task_content swap = {.kind = FOLIO_KIND_INDEX_SWAP, .swaps = &sw, .swap_count = 1};
    reg(6, &swap, "books", "films", TO_BOOKS | TO_FILMS);
    batch(6, 6);
    struct folio_str pair[] = {folio_str_c("books"), folio_str_c("films")};
    struct folio_event se = {.type = FOLIO_EV_INDEXES_SWAPPED};
    se.u.indexes_swapped.index_uids = (struct folio_str_array){pair, 2};
    se.u.indexes_swapped.task_uid = 6;
    app(&se, 6, NONE, TO_BOOKS | TO_FILMS);
    outcome(FOLIO_EV_TASK_SUCCEEDED, 6, 6, 0, NULL, NULL, TO_BOOKS | TO_FILMS);

    /* 7 deletes the failed task 2. */
    uint64_t matched7[] = {2};
    struct folio_task_content del = {.kind = FOLIO_KIND_TASK_DELETION,
                                     .query = folio_str_c("?uids=2"),
                                     .matched_tasks = {matched7, 1}};
    reg(7, &del, NULL, NULL, 0);
    batch(7, 7);
    struct folio_event td = {.type = FOLIO_EV_TASKS_DELETED};
    td.u.tasks_deleted.task_uid = 7;
    td.u.tasks_deleted.task_uids = (struct folio_u64_array){matched7, 1};
    app(&td, 7, 2, 0);
    outcome(FOLIO_EV_TASK_SUCCEEDED, 7, 7, 0, NULL, NULL, 0);
    folio_journal_close(J);
    J = NULL;

    /* The history must be one the scheduler accepts. */
    struct folio_sched_state *s = NULL;
    struct folio_sched_diag d;
    memset(&d, 0, sizeof(d));
    int rc = folio_sched_state_replay(JDIR, NULL, &s, NULL, &d);
    if (rc != 0)
        fprintf(stderr, "replay: %s\n", d.reason);
    assert_int_equal(rc, 0);
    folio_sched_state_free(s);
}

static int
setup(void **state)
{
    (void)state;
    make_db();
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    tu_rmrf(DB);
    folio_free(DB);
    folio_free(JDIR);
    return 0;
}

/* Runs "folio <args>"; returns the exit code, *out its stdout. */
__attribute__((format(printf, 2, 3))) static int
cli(char **out, const char *fmt, ...)
{
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "'%s' %s", FOLIO_CLI_PATH, args);
    return tu_system(cmd, out);
}

/* Asserts the text lines of out name exactly the seqs in want, in order. */
static void
assert_text_seqs(const char *out, const uint64_t *want, size_t n, const char *const *types)
{
    size_t k = 0;
    for (const char *p = out; *p != '\0'; k++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_true(k < n);
        assert_memory_equal(p, "seq=", 4);
        char *end;
        assert_int_equal(strtoull(p + 4, &end, 10), want[k]);
        assert_memory_equal(end, " at=20", 6);
        if (types != NULL) {
            char t[64];
            snprintf(t, sizeof(t), " type=%s ", types[k]);
            char *line = strndup(p, (size_t)(nl - p));
            assert_non_null(strstr(line, t));
            free(line);
        }
        p = nl + 1;
    }
    assert_int_equal(k, n);
}

/* Asserts out is NDJSON naming exactly want's seqs, each event of types[i]. */
static void
assert_json_seqs(const char *out, const uint64_t *want, size_t n, const char *const *types)
{
    size_t k = 0;
    for (const char *p = out; *p != '\0'; k++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_true(k < n);
        json_error_t je;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je);
        assert_non_null(o);
        assert_true(json_is_object(o));
        assert_int_equal(json_integer_value(json_object_get(o, "seq")), want[k]);
        json_t *ev = json_object_get(o, "event");
        assert_non_null(ev);
        assert_int_equal(json_integer_value(json_object_get(ev, "seq")), want[k]);
        if (types != NULL)
            assert_string_equal(json_string_value(json_object_get(ev, "type")), types[k]);
        json_decref(o);
        p = nl + 1;
    }
    assert_int_equal(k, n);
}

static void
check_task(uint64_t t)
{
    char *out = NULL;
    assert_int_equal(cli(&out, "task show '%s' %" PRIu64, DB, t), 0);
    assert_text_seqs(out, W.task[t], W.task_n[t], W.task_types[t]);
    folio_free(out);
    assert_int_equal(cli(&out, "task show --json '%s' %" PRIu64, DB, t), 0);
    assert_json_seqs(out, W.task[t], W.task_n[t], W.task_types[t]);
    folio_free(out);
}

static void
test_task_show(void **state)
{
    (void)state;
    for (uint64_t t = 0; t < T_MAX; t++)
        check_task(t);

    char *out = NULL;
    /* The failed task: its error object, and the deletion that removed it. */
    assert_int_equal(cli(&out, "task show '%s' 2", DB), 0);
    assert_non_null(strstr(out, "type=task_failed"));
    assert_non_null(strstr(out, "\"code\":\"index_primary_key_already_exists\""));
    assert_non_null(strstr(out, "type=tasks_deleted task 7 deleted tasks [2]"));
    folio_free(out);
    /* The canceled task names its canceler; the requeued one its reason. */
    assert_int_equal(cli(&out, "task show '%s' 4", DB), 0);
    assert_non_null(strstr(out, "canceled by task 5"));
    folio_free(out);
    assert_int_equal(cli(&out, "task show '%s' 3", DB), 0);
    assert_non_null(
        strstr(out, "type=task_requeued task 3 left batch 3 reason \"server stopping\""));
    folio_free(out);
    /* The journal directory itself works as DB too. */
    assert_int_equal(cli(&out, "task show '%s' 0 --json", JDIR), 0);
    assert_json_seqs(out, W.task[0], W.task_n[0], W.task_types[0]);
    folio_free(out);
}

static void
test_index_history(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(cli(&out, "index history '%s' books", DB), 0);
    assert_text_seqs(out, W.books, W.books_n, NULL);
    assert_non_null(strstr(out, "type=indexes_swapped swapped with \"films\""));
    assert_non_null(strstr(out, "type=index_created index \"books\" uuid " UUID_BOOKS));
    folio_free(out);
    assert_int_equal(cli(&out, "index history --json '%s' books", DB), 0);
    assert_json_seqs(out, W.books, W.books_n, NULL);
    assert_non_null(strstr(out, "\"type\":\"indexes_swapped\""));
    folio_free(out);

    assert_int_equal(cli(&out, "index history '%s' films", DB), 0);
    assert_text_seqs(out, W.films, W.films_n, NULL);
    assert_non_null(strstr(out, "type=indexes_swapped swapped with \"books\""));
    folio_free(out);
    assert_int_equal(cli(&out, "index history '%s' films --json", DB), 0);
    assert_json_seqs(out, W.films, W.films_n, NULL);
    folio_free(out);
}

static void
test_not_found_and_usage(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(cli(&out, "task show '%s' 42 2>/dev/null", DB), 3);
    assert_string_equal(out, "");
    folio_free(out);
    assert_int_equal(cli(&out, "task show --json '%s' 42 2>/dev/null", DB), 3);
    assert_string_equal(out, "");
    folio_free(out);
    assert_int_equal(cli(&out, "index history '%s' songs 2>/dev/null", DB), 3);
    assert_string_equal(out, "");
    folio_free(out);
    assert_int_equal(cli(&out, "task show /nonexistent/folio-db 1 2>/dev/null"), 66);
    folio_free(out);
    assert_int_equal(cli(&out, "task show '%s' notanumber 2>/dev/null", DB), 64);
    folio_free(out);
    assert_int_equal(cli(&out, "index history '%s' 2>/dev/null", DB), 64);
    folio_free(out);
    assert_int_equal(cli(&out, "task frob '%s' 1 2>/dev/null", DB), 64);
    folio_free(out);

    assert_int_equal(cli(&out, "task show --help"), 0);
    assert_non_null(strstr(out, "usage: folio task show DB UID"));
    folio_free(out);
    assert_int_equal(cli(&out, "index history --help"), 0);
    assert_non_null(strstr(out, "usage: folio index history DB UID"));
    folio_free(out);
    assert_int_equal(cli(&out, "--help"), 0);
    assert_non_null(strstr(out, "task show DB UID"));
    assert_non_null(strstr(out, "index history DB UID"));
    assert_non_null(strstr(out, "   3  "));
    folio_free(out);
}

/* A flipped byte inside the last frame's event: the frame checksum fails. */
static void
test_corrupt_exits_1(void **state)
{
    (void)state;
    char *seg = tu_path(JDIR, "00000000000000000001.seg");
    size_t len = 0;
    uint8_t *bytes = tu_read_file(seg, &len);
    assert_non_null(bytes);
    /* Find the end of the frames: the last non-zero byte. */
    size_t end = len;
    while (end > 4096 && bytes[end - 1] == 0)
        end--;
    assert_true(end > 4096 + 200);
    /* A byte well inside the frames (not the last frame, which a reader might call torn). */
    size_t at = 4096 + (end - 4096) / 2;
    bytes[at] ^= 0x40;
    tu_write_file(seg, bytes, len);
    folio_free(bytes);
    folio_free(seg);
    char *out = NULL;
    assert_int_equal(cli(&out, "task show '%s' 7 2>/dev/null", DB), 1);
    folio_free(out);
    assert_int_equal(cli(&out, "index history '%s' books --json 2>/dev/null", DB), 1);
    folio_free(out);
}

/* The newest segment cut inside its last frame: a torn tail, exit 2, matches before it printed. */
static void
test_torn_tail_exits_2(void **state)
{
    (void)state;
    char *seg = tu_path(JDIR, "00000000000000000001.seg");
    size_t len = 0;
    uint8_t *bytes = tu_read_file(seg, &len);
    assert_non_null(bytes);
    size_t end = len;
    while (end > 4096 && bytes[end - 1] == 0)
        end--;
    tu_write_file(seg, bytes, end - 8);
    folio_free(bytes);
    folio_free(seg);
    char *out = NULL;
    /* Task 7's outcome is the last event: everything before it is still printed. */
    assert_int_equal(cli(&out, "task show '%s' 7 2>/dev/null", DB), 2);
    assert_text_seqs(out, W.task[7], W.task_n[7] - 1, W.task_types[7]);
    folio_free(out);
    assert_int_equal(cli(&out, "task show '%s' 0 --json 2>/dev/null", DB), 2);
    assert_json_seqs(out, W.task[0], W.task_n[0], W.task_types[0]);
    folio_free(out);
}

/* A reader that goes away early (| head -n 1) ends the command with exit 0. */
static void
test_closed_pipe_exits_0(void **state)
{
    (void)state;
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = 64 * 1024;
    assert_int_equal(folio_journal_open(JDIR, &o, &J, NULL, NULL), 0);
    struct folio_task_content create = {.kind = FOLIO_KIND_INDEX_CREATION};
    for (uint64_t uid = 8; uid < 4000; uid++)
        reg(uid, &create, "books", NULL, 0);
    folio_journal_close(J);
    J = NULL;
    for (int json = 0; json < 2; json++) {
        char *out = NULL, *rcfile = tu_path(DB, "rc"), cmd[9000];
        snprintf(cmd, sizeof(cmd),
                 "{ '%s' index history '%s' books %s; echo $? > '%s'; } | head -n 1",
                 FOLIO_CLI_PATH, DB, json ? "--json" : "", rcfile);
        assert_int_equal(tu_system(cmd, &out), 0);
        assert_non_null(strstr(out, json ? "{\"seq\":1," : "seq=1 "));
        folio_free(out);
        size_t n = 0;
        char *rc = (char *)tu_read_file(rcfile, &n);
        assert_non_null(rc);
        assert_true(n >= 2);
        assert_memory_equal(rc, "0\n", 2);
        folio_free(rc);
        folio_free(rcfile);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_task_show, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_and_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_exits_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_exits_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_pipe_exits_0, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
