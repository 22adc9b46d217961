/*
 * Tests of task outcomes stored with the applied marker (include/folio/index.h,
 * "Outcomes"; docs/index-format.md, "outcomes") on real LMDB envs.
 *
 * Expected values come from the contract: the outcomes of the latest
 * batch_seq only, stored by every kind of write in its own transaction,
 * nothing stored by a failed write, bounded size. Outcome bytes are arbitrary
 * test strings (the index never interprets them). Old envs (written before
 * `outcomes` existed) are made by dropping the database with LMDB alone.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "indexutil.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"

static struct folio_index_error E;

static struct folio_index *
mk_index(char **dir, struct folio_index_marker m)
{
    *dir = tu_mkdtemp("outcome");
    struct folio_index *idx = NULL;
    int rc = folio_index_create(*dir, NULL, NULL, &m, &idx, &E);
    if (rc != 0)
        fprintf(stderr, "create: %s\n", E.message);
    assert_int_equal(rc, 0);
    return idx;
}

static void
rm_index(struct folio_index *idx, char *dir)
{
    iu_remove(idx, dir);
}

static int
add(struct folio_index *idx, const char *json, struct folio_index_marker m)
{
    struct folio_index_payload p = {
        .format = FOLIO_INDEX_FORMAT_JSON, .data = json, .len = strlen(json)};
    return folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E);
}

/* ---- every kind of write stores its outcome -------------------------------- */

static void
test_each_write_stores_outcome(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, iu_marker(1, 10, "created"));
    iu_assert_marker(idx, 1, 10);
    iu_assert_outcome(idx, 1, "created");

    /* Each write is its own batch here: it also drops the previous outcome. */
    struct folio_index_marker m = iu_marker(2, 20, "pk set");
    assert_int_equal(folio_index_primary_key_set(idx, "id", &m, &E), 0);
    iu_assert_outcome(idx, 2, "pk set");
    iu_assert_outcome(idx, 1, NULL);

    assert_int_equal(add(idx, "[{\"id\":1},{\"id\":2},{\"id\":3}]", iu_marker(3, 30, "added 3")),
                     0);
    iu_assert_outcome(idx, 3, "added 3");
    iu_assert_outcome(idx, 2, NULL);

    const char *ids[] = {"1"};
    uint64_t deleted = 0;
    m = iu_marker(4, 40, "deleted 1");
    assert_int_equal(folio_index_documents_delete(idx, ids, 1, &m, &deleted, &E), 0);
    assert_int_equal(deleted, 1);
    iu_assert_outcome(idx, 4, "deleted 1");
    iu_assert_outcome(idx, 3, NULL);

    static const char settings[] = "{\"stopWords\":[\"a\"]}";
    m = iu_marker(5, 50, "settings");
    assert_int_equal(folio_index_settings_update(idx, settings, strlen(settings), &m, &E), 0);
    iu_assert_outcome(idx, 5, "settings");
    iu_assert_outcome(idx, 4, NULL);

    m = iu_marker(6, 60, "reset");
    assert_int_equal(folio_index_settings_reset(idx, &m, &E), 0);
    iu_assert_outcome(idx, 6, "reset");
    iu_assert_outcome(idx, 5, NULL);

    m = iu_marker(7, 70, "cleared 2");
    assert_int_equal(folio_index_documents_clear(idx, &m, &deleted, &E), 0);
    assert_int_equal(deleted, 2);
    iu_assert_outcome(idx, 7, "cleared 2");
    iu_assert_outcome(idx, 6, NULL);

    m = iu_marker(8, 80, "marked");
    assert_int_equal(folio_index_mark(idx, &m, &E), 0);
    iu_assert_outcome(idx, 8, "marked");
    iu_assert_outcome(idx, 7, NULL);
    iu_assert_marker(idx, 8, 80);

    /* Stats report the marker's numbers, never an outcome. */
    struct folio_index_stats *s = NULL;
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    assert_int_equal(s->marker.task_uid, 8);
    assert_int_equal(s->marker.batch_seq, 80);
    assert_null(s->marker.outcome);
    assert_int_equal(s->marker.outcome_len, 0);
    folio_index_stats_free(s);
    iu_assert_verified(idx);
    rm_index(idx, dir);
}

/* ---- one batch, several tasks; a new batch drops them ---------------------- */

static void
test_batch_keeps_its_tasks(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, iu_marker(1, 5, NULL));
    iu_assert_outcome(idx, 1, NULL);

    /* Batch 100: tasks 10, 11 (with outcomes) and 12 (without). */
    assert_int_equal(add(idx, "{\"id\":1}", iu_marker(10, 100, "ten")), 0);
    assert_int_equal(add(idx, "{\"id\":2}", iu_marker(11, 100, "eleven")), 0);
    struct folio_index_marker m = iu_marker(12, 100, NULL);
    assert_int_equal(folio_index_mark(idx, &m, &E), 0);
    iu_assert_outcome(idx, 10, "ten");
    iu_assert_outcome(idx, 11, "eleven");
    iu_assert_outcome(idx, 12, NULL);

    /* The same task uid again in the same batch replaces its outcome only. */
    m = iu_marker(11, 100, "eleven, again");
    assert_int_equal(folio_index_mark(idx, &m, &E), 0);
    iu_assert_outcome(idx, 10, "ten");
    iu_assert_outcome(idx, 11, "eleven, again");
    /* ...and a write without an outcome leaves the stored one alone. */
    m = iu_marker(11, 100, NULL);
    assert_int_equal(folio_index_mark(idx, &m, &E), 0);
    iu_assert_outcome(idx, 11, "eleven, again");
    iu_assert_verified(idx);

    /* Batch 101, even with no outcome of its own, drops all of batch 100. */
    assert_int_equal(add(idx, "{\"id\":3}", iu_marker(13, 101, NULL)), 0);
    iu_assert_outcome(idx, 10, NULL);
    iu_assert_outcome(idx, 11, NULL);
    iu_assert_outcome(idx, 13, NULL);
    iu_assert_marker(idx, 13, 101);
    assert_int_equal(iu_doc_count(idx), 3);
    iu_assert_verified(idx);
    rm_index(idx, dir);
}

/* ---- a failed write stores nothing; mark records the failure --------------- */

static void
test_failed_write_stores_nothing(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, iu_marker(1, 1, NULL));
    assert_int_equal(add(idx, "{\"id\":1}", iu_marker(10, 100, "ten")), 0);

    /* Another batch whose write fails: no marker, no outcome, no drop. */
    assert_int_equal(add(idx, "[{\"id\":2},{\"name\":\"no id\"}]", iu_marker(11, 200, "eleven")),
                     FOLIO_E_MISSING_DOCUMENT_ID);
    iu_assert_marker(idx, 10, 100);
    iu_assert_outcome(idx, 10, "ten");
    iu_assert_outcome(idx, 11, NULL);
    assert_int_equal(iu_doc_count(idx), 1);

    static const char bad[] = "{\"sortableAttributes\":7}";
    struct folio_index_marker m = iu_marker(11, 200, "eleven");
    assert_int_equal(folio_index_settings_update(idx, bad, strlen(bad), &m, &E),
                     FOLIO_E_INVALID_SETTINGS);
    m = iu_marker(11, 200, "eleven");
    assert_int_equal(folio_index_primary_key_set(idx, "other", &m, &E),
                     FOLIO_E_PRIMARY_KEY_ALREADY_PRESENT);
    iu_assert_marker(idx, 10, 100);
    iu_assert_outcome(idx, 10, "ten");
    iu_assert_outcome(idx, 11, NULL);

    /* The caller records the failure and its error with mark. */
    m = iu_marker(11, 200, "error: missing_document_id");
    assert_int_equal(folio_index_mark(idx, &m, &E), 0);
    iu_assert_marker(idx, 11, 200);
    iu_assert_outcome(idx, 11, "error: missing_document_id");
    iu_assert_outcome(idx, 10, NULL);
    assert_int_equal(iu_doc_count(idx), 1);
    iu_assert_verified(idx);
    rm_index(idx, dir);
}

/* ---- the size bound -------------------------------------------------------- */

static void
test_outcome_too_large(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, iu_marker(1, 1, NULL));
    assert_int_equal(add(idx, "{\"id\":1}", iu_marker(10, 100, "ten")), 0);
    size_t max = FOLIO_INDEX_OUTCOME_BYTES_MAX;
    uint8_t *big = folio_malloc(max + 1);
    for (size_t i = 0; i <= max; i++)
        big[i] = (uint8_t)(i * 7);

    struct folio_index_marker m = {
        .task_uid = 11, .batch_seq = 200, .outcome = big, .outcome_len = max + 1};
    assert_int_equal(add(idx, "{\"id\":2}", m), FOLIO_E_TOO_LARGE);
    assert_int_equal(folio_index_mark(idx, &m, &E), FOLIO_E_TOO_LARGE);
    assert_non_null(strstr(E.message, "65537 bytes"));
    assert_int_equal(folio_index_documents_clear(idx, &m, NULL, &E), FOLIO_E_TOO_LARGE);
    /* Nothing changed, and batch 100's outcome was not dropped. */
    iu_assert_marker(idx, 10, 100);
    iu_assert_outcome(idx, 10, "ten");
    iu_assert_outcome(idx, 11, NULL);
    assert_int_equal(iu_doc_count(idx), 1);

    /* Creation checks it before any file is made. */
    char *dir2 = tu_mkdtemp("outcome");
    struct folio_index *idx2 = NULL;
    assert_int_equal(folio_index_create(dir2, NULL, NULL, &m, &idx2, &E), FOLIO_E_TOO_LARGE);
    assert_null(idx2);
    char *data = tu_path(dir2, "data.mdb");
    struct stat st;
    assert_int_not_equal(stat(data, &st), 0);
    folio_free(data);
    tu_rmrf(dir2);
    folio_free(dir2);

    /* Exactly the maximum is stored and read back whole. */
    m.outcome_len = max;
    assert_int_equal(folio_index_mark(idx, &m, &E), 0);
    uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(folio_index_outcome_get(idx, 11, &got, &len, &E), 0);
    assert_int_equal(len, max);
    assert_memory_equal(got, big, max);
    folio_free(got);
    iu_assert_verified(idx);
    folio_free(big);
    rm_index(idx, dir);
}

/* ---- durability: close and reopen, compact copies -------------------------- */

static void
test_reopen_and_copy(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, iu_marker(1, 1, NULL));
    assert_int_equal(add(idx, "{\"id\":1}", iu_marker(10, 100, "ten")), 0);
    assert_int_equal(add(idx, "{\"id\":2}", iu_marker(11, 100, "eleven")), 0);
    folio_index_free(idx);

    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    iu_assert_marker(idx, 11, 100);
    iu_assert_outcome(idx, 10, "ten");
    iu_assert_outcome(idx, 11, "eleven");

    char *copy = tu_mkdtemp("outcome-copy");
    assert_int_equal(folio_index_copy_compact(idx, copy, &E), 0);
    folio_index_free(idx);

    struct folio_index_options ro;
    folio_index_options_default(&ro);
    ro.read_only = true;
    assert_int_equal(folio_index_open(dir, &ro, &idx, &E), 0);
    iu_assert_outcome(idx, 11, "eleven");
    folio_index_free(idx);

    ro.no_lock = true;
    assert_int_equal(folio_index_open(copy, &ro, &idx, &E), 0);
    iu_assert_marker(idx, 11, 100);
    iu_assert_outcome(idx, 10, "ten");
    iu_assert_outcome(idx, 11, "eleven");
    iu_assert_outcome(idx, 12, NULL);
    iu_assert_verified(idx);
    folio_index_free(idx);
    tu_rmrf(copy);
    folio_free(copy);
    tu_rmrf(dir);
    folio_free(dir);
}

/* ---- raw LMDB access: old envs and damage ---------------------------------- */

static void
raw_open(const char *dir, unsigned flags, MDB_env **env, MDB_txn **txn)
{
    assert_int_equal(mdb_env_create(env), 0);
    assert_int_equal(mdb_env_set_maxdbs(*env, 8), 0);
    assert_int_equal(mdb_env_open(*env, dir, flags, 0600), 0);
    assert_int_equal(mdb_txn_begin(*env, NULL, flags & MDB_RDONLY, txn), 0);
}

/* Removes the `outcomes` database: the env as a build before outcomes wrote it. */
static void
make_old(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, 0, &env, &txn);
    assert_int_equal(mdb_dbi_open(txn, "outcomes", 0, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static bool
raw_has_outcomes(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, MDB_RDONLY, &env, &txn);
    int rc = mdb_dbi_open(txn, "outcomes", 0, &dbi);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    assert_true(rc == 0 || rc == MDB_NOTFOUND);
    return rc == 0;
}

static void
test_old_env(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, iu_marker(1, 1, NULL));
    assert_int_equal(add(idx, "{\"id\":1}", iu_marker(10, 100, "ten")), 0);
    struct folio_index_stats *s = NULL;
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    int64_t updated_at_ns = s->updated_at_ns;
    folio_index_stats_free(s);
    folio_index_free(idx);
    make_old(dir);
    assert_false(raw_has_outcomes(dir));

    /* Read-only: works, holds no outcome, verifies, and stays as it is. */
    struct folio_index_options ro;
    folio_index_options_default(&ro);
    ro.read_only = true;
    assert_int_equal(folio_index_open(dir, &ro, &idx, &E), 0);
    iu_assert_marker(idx, 10, 100);
    iu_assert_outcome(idx, 10, NULL);
    iu_assert_verified(idx);
    folio_index_free(idx);
    assert_false(raw_has_outcomes(dir));

    /* Read-write: the empty database appears; marker and times are unchanged. */
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    assert_true(raw_has_outcomes(dir));
    iu_assert_marker(idx, 10, 100);
    iu_assert_outcome(idx, 10, NULL);
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    assert_int_equal(s->updated_at_ns, updated_at_ns);
    assert_int_equal(s->document_count, 1);
    folio_index_stats_free(s);
    assert_int_equal(add(idx, "{\"id\":2}", iu_marker(11, 100, "eleven")), 0);
    iu_assert_outcome(idx, 11, "eleven");
    iu_assert_verified(idx);
    rm_index(idx, dir);
}

static void
damage(const char *dir, const void *key, size_t key_len, const void *value, size_t value_len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, 0, &env, &txn);
    assert_int_equal(mdb_dbi_open(txn, "outcomes", 0, &dbi), 0);
    MDB_val k = {key_len, (void *)key}, v = {value_len, (void *)value};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void
test_verify_outcomes(void **state)
{
    static const uint8_t task10[8] = {0, 0, 0, 0, 0, 0, 0, 10};
    static const uint8_t task11[8] = {0, 0, 0, 0, 0, 0, 0, 11};
    static const uint8_t task_high[8] = {1, 0, 0, 0, 0, 0, 0, 10};
    static const uint8_t seven[7] = {0};
    uint8_t *big = folio_calloc(FOLIO_INDEX_OUTCOME_BYTES_MAX + 1, 1);
    const struct {
        const void *key;
        size_t key_len;
        const void *value;
        size_t value_len;
        const char *says;
    } cases[] = {
        {seven, 7, "x", 1, "An outcome key is 7 bytes long"},
        {task11, 8, "x", 1, "stored for task 11, after the marker's task 10"},
        {task_high, 8, "x", 1, "stored for task 72057594037927946"},
        {task10, 8, "", 0, "The outcome of task 10 is 0 bytes long"},
        {task10, 8, big, FOLIO_INDEX_OUTCOME_BYTES_MAX + 1, "is 65537 bytes long"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        char *dir;
        struct folio_index *idx = mk_index(&dir, iu_marker(1, 1, NULL));
        assert_int_equal(add(idx, "{\"id\":1}", iu_marker(10, 100, "ten")), 0);
        iu_assert_verified(idx);
        folio_index_free(idx);
        damage(dir, cases[i].key, cases[i].key_len, cases[i].value, cases[i].value_len);
        assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
        assert_int_equal(folio_index_verify(idx, &E), FOLIO_E_CORRUPT);
        if (strstr(E.message, cases[i].says) == NULL)
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, E.message, cases[i].says);
        rm_index(idx, dir);
    }
    /* A read of a bad-sized outcome is an error, not a copy. */
    char *dir;
    struct folio_index *idx = mk_index(&dir, iu_marker(1, 1, NULL));
    folio_index_free(idx);
    damage(dir, task10, 8, "", 0);
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(folio_index_outcome_get(idx, 10, &got, &len, &E), FOLIO_E_CORRUPT);
    assert_null(got);
    folio_free(big);
    rm_index(idx, dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_write_stores_outcome),
        cmocka_unit_test(test_batch_keeps_its_tasks),
        cmocka_unit_test(test_failed_write_stores_nothing),
        cmocka_unit_test(test_outcome_too_large),
        cmocka_unit_test(test_reopen_and_copy),
        cmocka_unit_test(test_old_env),
        cmocka_unit_test(test_verify_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
