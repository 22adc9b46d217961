/*
 * `folio journal replay DB [--verify]` on real data directories: a journal of
 * task lifecycles plus a checkpoint written part-way. The replay from the
 * checkpoint and the full replay must agree (exit 0, same state hash in the
 * --json lines); an event that contradicts the state makes it exit 1 naming
 * the event's seq; a missing DB exits 66.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/journal.h"
#include "folio/sched.h"
#include "testutil.h"

static void
append_event(struct folio_journal *j, const struct folio_event *ev)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(folio_event_encode(ev, &buf, &len), 0);
    struct folio_journal_entry e = {buf, len};
    assert_int_equal(folio_journal_append(j, &e, 1, NULL), 0);
    folio_free(buf);
}

static void
append_register(struct folio_journal *j, uint64_t uid, const char *index_uid)
{
    struct folio_task_content c = {.kind = FOLIO_KIND_INDEX_CREATION};
    uint8_t *content = NULL;
    size_t content_len = 0;
    assert_int_equal(folio_task_content_encode(&c, &content, &content_len), 0);
    struct folio_str iu = folio_str_c(index_uid);
    struct folio_event ev = {.type = FOLIO_EV_TASK_REGISTERED, .at_ns = 1000};
    ev.u.task_registered.task_uid = uid;
    ev.u.task_registered.kind = folio_str_c("indexCreation");
    ev.u.task_registered.index_uids = (struct folio_str_array){&iu, 1};
    ev.u.task_registered.enqueued_at_ns = 1000 + (int64_t)uid;
    ev.u.task_registered.content = (struct folio_object){content, (uint32_t)content_len};
    append_event(j, &ev);
    folio_free(content);
}

/* Batch, index_created and success for an indexCreation task. */
static void
append_run(struct folio_journal *j, uint64_t task, uint64_t batch, const char *index_uid,
           const char *uuid)
{
    uint64_t tasks[] = {task};
    struct folio_event ev = {.type = FOLIO_EV_BATCH_STARTED, .at_ns = 2000};
    ev.u.batch_started.batch_uid = batch;
    ev.u.batch_started.task_uids = (struct folio_u64_array){tasks, 1};
    ev.u.batch_started.reason = folio_str_c("one indexCreation");
    append_event(j, &ev);
    struct folio_event ic = {.type = FOLIO_EV_INDEX_CREATED, .at_ns = 3000};
    ic.u.index_change.index_uid = folio_str_c(index_uid);
    ic.u.index_change.index_uuid = folio_str_c(uuid);
    ic.u.index_change.task_uid = task;
    ic.u.index_change.changed_at_ns = 3000;
    append_event(j, &ic);
    struct folio_event ok = {.type = FOLIO_EV_TASK_SUCCEEDED, .at_ns = 4000};
    ok.u.task_outcome.task_uid = task;
    ok.u.task_outcome.batch_uid = batch;
    ok.u.task_outcome.finished_at_ns = 4000 + (int64_t)task;
    append_event(j, &ok);
}

static struct folio_journal *
journal_open(const char *journal_dir)
{
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = 64 * 1024;
    o.create = true;
    struct folio_journal *j = NULL;
    assert_int_equal(folio_journal_open(journal_dir, &o, &j, NULL, NULL), 0);
    return j;
}

/* A data directory: 3 indexes created, a checkpoint after the second, one task enqueued. */
static char *
make_db(void)
{
    char *db = tu_mkdtemp("replaycli");
    char *jdir = tu_path(db, "journal"), *cdir = tu_path(db, "checkpoints");
    struct folio_journal *j = journal_open(jdir);
    append_register(j, 0, "books");
    append_register(j, 1, "films");
    append_run(j, 0, 0, "books", "00000000-0000-4000-8000-000000000001");
    append_run(j, 1, 1, "films", "00000000-0000-4000-8000-000000000002");
    folio_journal_close(j);

    struct folio_sched_state *s = NULL;
    assert_int_equal(folio_sched_state_replay(jdir, NULL, &s, NULL, NULL), 0);
    assert_int_equal(mkdir(cdir, 0700), 0);
    char name[128];
    struct folio_sched_diag d;
    assert_int_equal(folio_sched_checkpoint_write(cdir, jdir, s, name, sizeof(name), &d), 0);
    folio_sched_state_free(s);

    j = journal_open(jdir);
    append_register(j, 2, "songs");
    append_run(j, 2, 2, "songs", "00000000-0000-4000-8000-000000000003");
    append_register(j, 3, "games");
    folio_journal_close(j);
    folio_free(jdir);
    folio_free(cdir);
    return db;
}

static int
run_cli(const char *args, char **out)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "%s %s 2>&1", FOLIO_CLI_PATH, args);
    return tu_system(cmd, out);
}

static void
test_replay_verify_agrees(void **state)
{
    char *db = make_db();
    char args[4200], *out = NULL;
    snprintf(args, sizeof(args), "journal replay '%s' --verify", db);
    int rc = run_cli(args, &out);
    if (rc != 0)
        fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "checkpoint ckpt-"));
    assert_non_null(strstr(out, "agree"));
    /* 4 tasks, 3 batches; the full replay applied all 13 events. */
    assert_non_null(strstr(out, "13 events applied"));
    assert_non_null(strstr(out, "4 tasks, 3 batches"));
    folio_free(out);

    snprintf(args, sizeof(args), "journal replay '%s' --verify --json", db);
    assert_int_equal(run_cli(args, &out), 0);
    char *first = strstr(out, "\"state_hash\":\"");
    assert_non_null(first);
    char *second = strstr(first + 1, "\"state_hash\":\"");
    assert_non_null(second);
    assert_memory_equal(first, second, 31);
    assert_non_null(strstr(out, "\"checkpoint_seq\":8"));
    folio_free(out);
    tu_rmrf(db);
    folio_free(db);
}

static void
test_replay_contradiction_exits_1(void **state)
{
    char *db = make_db();
    char *jdir = tu_path(db, "journal");
    struct folio_journal *j = journal_open(jdir);
    /* Task 3 never started: an outcome for it in batch 2 contradicts the state. */
    struct folio_event bad = {.type = FOLIO_EV_TASK_SUCCEEDED, .at_ns = 5000};
    bad.u.task_outcome.task_uid = 3;
    bad.u.task_outcome.batch_uid = 2;
    bad.u.task_outcome.finished_at_ns = 5000;
    append_event(j, &bad);
    folio_journal_close(j);
    char args[4200], *out = NULL;
    snprintf(args, sizeof(args), "journal replay '%s'", db);
    assert_int_equal(run_cli(args, &out), 1);
    assert_non_null(strstr(out, "seq 14"));
    folio_free(out);
    folio_free(jdir);
    tu_rmrf(db);
    folio_free(db);
}

static void
test_replay_missing_db(void **state)
{
    char *out = NULL;
    assert_int_equal(run_cli("journal replay /nonexistent/folio-db --verify", &out), 66);
    folio_free(out);
    assert_int_equal(run_cli("journal replay --help", &out), 0);
    assert_non_null(strstr(out, "--verify"));
    folio_free(out);
}

/*
 * A checkpoint whose checksums are right but whose index uuid is a path
 * ("../" x 9 + "tmp/pwned", 36 bytes) must be refused: indexes live under
 * indexes/<uuid>/, and XXH3 is no MAC.
 */
static void
test_checkpoint_hostile_uuid_refused(void **state)
{
    char *db = make_db();
    char *cdir = tu_path(db, "checkpoints");
    DIR *dh = opendir(cdir);
    assert_non_null(dh);
    struct dirent *e;
    char *path = NULL;
    while ((e = readdir(dh)) != NULL)
        if (strstr(e->d_name, ".bin") != NULL)
            path = tu_path(cdir, e->d_name);
    closedir(dh);
    assert_non_null(path);
    struct folio_sched_state *st = NULL;
    assert_int_equal(folio_sched_checkpoint_read(path, &st, NULL, NULL), 0);
    folio_sched_state_free(st);

    size_t len = 0;
    uint8_t *buf = tu_read_file(path, &len);
    const char *uuid = "00000000-0000-4000-8000-000000000001";
    const char *evil = "../../../../../../../../../tmp/pwned";
    assert_int_equal(strlen(evil), 36);
    uint8_t *at = memmem(buf, len, uuid, 36);
    assert_non_null(at);
    memcpy(at, evil, 36);
    /* Re-seal: state hash = XXH3(body) at 32, checksum = XXH3(header[0,56) + body) at 56. */
    const size_t hdr = 64;
    uint64_t state_hash = XXH3_64bits(buf + hdr, len - hdr);
    for (int i = 0; i < 8; i++)
        buf[32 + i] = (uint8_t)(state_hash >> (8 * i));
    XXH3_state_t *x = XXH3_createState();
    XXH3_64bits_reset(x);
    XXH3_64bits_update(x, buf, 56);
    XXH3_64bits_update(x, buf + hdr, len - hdr);
    uint64_t sum = XXH3_64bits_digest(x);
    XXH3_freeState(x);
    for (int i = 0; i < 8; i++)
        buf[56 + i] = (uint8_t)(sum >> (8 * i));
    tu_write_file(path, buf, len);
    folio_free(buf);

    struct folio_sched_diag d;
    st = NULL;
    assert_int_equal(folio_sched_checkpoint_read(path, &st, NULL, &d), FOLIO_E_CORRUPT);
    assert_null(st);
    folio_free(path);
    folio_free(cdir);
    tu_rmrf(db);
    folio_free(db);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_verify_agrees),
        cmocka_unit_test(test_replay_contradiction_exits_1),
        cmocka_unit_test(test_replay_missing_db),
        cmocka_unit_test(test_checkpoint_hostile_uuid_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
