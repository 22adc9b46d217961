/*
 * Tests of the field distribution the index store keeps (`fields`,
 * docs/index-format.md "Field distribution"): folio_index_stats_get's
 * field_names / field_documents, on real LMDB envs in temporary directories.
 *
 * Expected distributions are written by hand from the documents each test
 * sends, or, in the randomized test, counted by the test itself from its own
 * model of the stored documents (replace: the new body; update: the stored
 * members, new ones appended; delete, clear), never read back from index/.
 * The upgrade and verify tests change envs with raw LMDB calls.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "indexutil.h"

#include <jansson.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"

static struct folio_index_error E;
static struct folio_index *
mk_index(char **dir)
{
    *dir = tu_mkdtemp("fields");
    struct folio_index *idx = NULL;
    struct folio_index_marker m = iu_next_marker();
    assert_int_equal(folio_index_create(*dir, NULL, "id", &m, &idx, &E), 0);
    return idx;
}

static void
add(struct folio_index *idx, const char *json, enum folio_index_method method)
{
    int rc = iu_add_json(idx, json, method, &E);
    if (rc != 0)
        fail_msg("add %.200s: %s", json, E.message);
}

static void
delete_ids(struct folio_index *idx, const char *const *ids, size_t n)
{
    struct folio_index_marker m = iu_next_marker();
    assert_int_equal(folio_index_documents_delete(idx, ids, n, &m, NULL, &E), 0);
}

static void
clear_all(struct folio_index *idx)
{
    struct folio_index_marker m = iu_next_marker();
    assert_int_equal(folio_index_documents_clear(idx, &m, NULL, &E), 0);
}

static void
expect_dist(struct folio_index *idx, const char *want)
{
    char *got = iu_dist_text(idx);
    if (strcmp(got, want) != 0)
        fail_msg("field distribution: got `%s`, want `%s`", got, want);
    folio_free(got);
    iu_assert_verified(idx);
}

static void
raw_open(const char *dir, unsigned flags, MDB_env **env, MDB_txn **txn)
{
    assert_int_equal(mdb_env_create(env), 0);
    assert_int_equal(mdb_env_set_maxdbs(*env, 16), 0);
    assert_int_equal(mdb_env_open(*env, dir, flags, 0600), 0);
    assert_int_equal(mdb_txn_begin(*env, NULL, flags & MDB_RDONLY, txn), 0);
}

static uint32_t
raw_format_version(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, MDB_RDONLY, &env, &txn);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {14, "format_version"}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    assert_int_equal(v.mv_size, 4);
    uint32_t version = folio_load_le32(v.mv_data);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return version;
}

/* ---- writes keep the counts ------------------------------------------------------------- */

static void
test_add_replace_update_delete_clear(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir);
    expect_dist(idx, "");
    add(idx, "[{\"id\":1,\"title\":\"a\",\"year\":1},{\"id\":2,\"title\":\"b\"},{\"id\":3}]",
        FOLIO_INDEX_REPLACE);
    expect_dist(idx, "id:3 title:2 year:1");
    /* Replace: 1 loses year and title, gains genre. */
    add(idx, "{\"id\":1,\"genre\":\"x\"}", FOLIO_INDEX_REPLACE);
    expect_dist(idx, "genre:1 id:3 title:1");
    /* Update (merge): 2 keeps title and gains year; 4 is new. */
    add(idx, "[{\"id\":2,\"year\":5},{\"id\":4,\"title\":null}]", FOLIO_INDEX_UPDATE);
    expect_dist(idx, "genre:1 id:4 title:2 year:1");
    /* The same document twice in one payload, and a replace that keeps its fields. */
    add(idx, "[{\"id\":3,\"a\":1},{\"id\":3,\"b\":1},{\"id\":2,\"title\":\"c\",\"year\":6}]",
        FOLIO_INDEX_REPLACE);
    expect_dist(idx, "b:1 genre:1 id:4 title:2 year:1");
    /* Delete: 2 (title, year) and an id that is not there. */
    static const char *const ids[] = {"2", "nope"};
    delete_ids(idx, ids, 2);
    expect_dist(idx, "b:1 genre:1 id:3 title:1");
    /* A write that fails in its last document changes nothing. */
    assert_int_equal(iu_add_json(idx, "[{\"id\":9,\"z\":1},{\"nid\":1}]", FOLIO_INDEX_REPLACE, &E),
                     FOLIO_E_MISSING_DOCUMENT_ID);
    expect_dist(idx, "b:1 genre:1 id:3 title:1");
    clear_all(idx);
    expect_dist(idx, "");
    add(idx, "{\"id\":5,\"title\":\"again\"}", FOLIO_INDEX_UPDATE);
    expect_dist(idx, "id:1 title:1");
    /* Reopened, the counts are what was committed. */
    folio_index_free(idx);
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    expect_dist(idx, "id:1 title:1");
    iu_remove(idx, dir);
}

static void
test_top_level_names_only(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir);
    /* Nested objects and arrays of objects count their top-level name only. */
    add(idx,
        "[{\"id\":1,\"a\":{\"b\":{\"c\":1}},\"l\":[{\"x\":1},{\"y\":2}]},"
        "{\"id\":2,\"a\":null,\"a.b\":3},{\"id\":3,\"l\":[]}]",
        FOLIO_INDEX_REPLACE);
    expect_dist(idx, "a:2 a.b:1 id:3 l:2");
    /* The empty name counts (stored as the byte 00, listed first); a 600-byte name does not. */
    char *doc = folio_malloc(700);
    char name[601];
    memset(name, 'n', 600);
    name[600] = '\0';
    snprintf(doc, 700, "{\"id\":4,\"\":1,\"%s\":2,\"\xc3\xa9t\xc3\xa9\":3}", name);
    add(idx, doc, FOLIO_INDEX_REPLACE);
    folio_free(doc);
    expect_dist(idx, ":1 a:2 a.b:1 id:4 l:2 \xc3\xa9t\xc3\xa9:1");
    /* Merging into 4 keeps those names; replacing drops them. */
    add(idx, "{\"id\":4,\"l\":1}", FOLIO_INDEX_UPDATE);
    expect_dist(idx, ":1 a:2 a.b:1 id:4 l:3 \xc3\xa9t\xc3\xa9:1");
    add(idx, "{\"id\":4}", FOLIO_INDEX_REPLACE);
    expect_dist(idx, "a:2 a.b:1 id:4 l:2");
    iu_remove(idx, dir);
}

/*
 * More distinct names than a write keeps pending (4,096), so the deltas are
 * applied early, and then all of them go in one replace.
 */
static void
test_many_names_in_one_write(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir);
    enum { N = 5000 };
    size_t cap = (size_t)N * 40 + 16, len = 0;
    char *body = folio_malloc(cap);
    body[len++] = '[';
    for (int i = 0; i < N; i++)
        len +=
            (size_t)snprintf(body + len, cap - len, "%s{\"id\":%d,\"f%d\":1}", i ? "," : "", i, i);
    body[len++] = ']';
    body[len] = '\0';
    add(idx, body, FOLIO_INDEX_REPLACE);
    struct folio_index_stats *s = NULL;
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    assert_int_equal(s->field_count, N + 1);
    for (size_t i = 0; i < s->field_count; i++)
        assert_int_equal(s->field_documents[i], strcmp(s->field_names[i], "id") == 0 ? N : 1);
    folio_index_stats_free(s);
    iu_assert_verified(idx);
    /* Replace every document: f<i> all go, g0..g4 get 1000 each. */
    len = 0;
    body[len++] = '[';
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(body + len, cap - len, "%s{\"id\":%d,\"g%d\":1}", i ? "," : "", i,
                                i % 5);
    body[len++] = ']';
    body[len] = '\0';
    add(idx, body, FOLIO_INDEX_REPLACE);
    folio_free(body);
    expect_dist(idx, "g0:1000 g1:1000 g2:1000 g3:1000 g4:1000 id:5000");
    iu_remove(idx, dir);
}

/* ---- randomized: the counts against the test's own model ---------------------------------- */

#define R_IDS 24
#define R_NAMES 6

/* The model: for each id, whether it is stored and which names it holds (in order). */
struct rdoc {
    bool present;
    int names[R_NAMES];
    int count;
};

static bool
rdoc_has(const struct rdoc *d, int name)
{
    for (int i = 0; i < d->count; i++)
        if (d->names[i] == name)
            return true;
    return false;
}

static void
expect_model(struct folio_index *idx, const struct rdoc *docs)
{
    int ids = 0, counts[R_NAMES] = {0};
    for (int d = 0; d < R_IDS; d++) {
        ids += docs[d].present;
        for (int n = 0; n < R_NAMES; n++)
            counts[n] += docs[d].present && rdoc_has(&docs[d], n);
    }
    iu_expect_model_dist(idx, ids, counts, R_NAMES, "random writes");
    iu_assert_verified(idx);
}

static void
test_random_against_model(void **state)
{
    uint64_t seed = tu_seed();
    uint64_t rng = seed;
    char *dir;
    struct folio_index *idx = mk_index(&dir);
    struct rdoc docs[R_IDS];
    memset(docs, 0, sizeof(docs));
    char body[4096];
    for (int step = 0; step < 300; step++) {
        unsigned op = (unsigned)(tu_rand(&rng) % 10);
        if (op < 7) {
            /* A payload of 1-4 documents, replace or update. */
            bool update = op >= 4;
            int n = 1 + (int)(tu_rand(&rng) % 4);
            size_t len = 0;
            body[len++] = '[';
            for (int k = 0; k < n; k++) {
                int id = (int)(tu_rand(&rng) % R_IDS);
                struct rdoc *d = &docs[id];
                if (!update || !d->present)
                    d->count = 0;
                d->present = true;
                len += (size_t)snprintf(body + len, sizeof(body) - len, "%s{\"id\":%d",
                                        k ? "," : "", id);
                unsigned mask = (unsigned)(tu_rand(&rng) % (1u << R_NAMES));
                for (int nm = 0; nm < R_NAMES; nm++) {
                    if (!(mask & (1u << nm)))
                        continue;
                    len += (size_t)snprintf(body + len, sizeof(body) - len, ",\"n%d\":{\"x\":%d}",
                                            nm, step);
                    if (!rdoc_has(d, nm))
                        d->names[d->count++] = nm;
                }
                body[len++] = '}';
            }
            body[len++] = ']';
            body[len] = '\0';
            add(idx, body, update ? FOLIO_INDEX_UPDATE : FOLIO_INDEX_REPLACE);
        } else if (op < 9) {
            char a[16], b[16];
            snprintf(a, sizeof(a), "%d", (int)(tu_rand(&rng) % R_IDS));
            snprintf(b, sizeof(b), "%d", (int)(tu_rand(&rng) % R_IDS));
            const char *ids[2] = {a, b};
            delete_ids(idx, ids, 2);
            docs[atoi(a)].present = false;
            docs[atoi(b)].present = false;
        } else if (tu_rand(&rng) % 4 == 0) {
            clear_all(idx);
            for (int d = 0; d < R_IDS; d++)
                docs[d].present = false;
        }
        expect_model(idx, docs);
    }
    iu_remove(idx, dir);
}

/* ---- format 2 and its upgrade ------------------------------------------------------------ */

/* Turns a closed env into what a format-2 build wrote: no `fields`, version 2. */
static void
make_format2(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, 0, &env, &txn);
    assert_int_equal(mdb_dbi_open(txn, "fields", 0, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {14, "format_version"}, v = {4, "\x02\0\0\0"};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(raw_format_version(dir), 2);
}

static void
test_upgrade_from_format2(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir);
    add(idx, "[{\"id\":1,\"t\":\"alpha\",\"o\":{\"p\":1}},{\"id\":2,\"t\":\"beta\"},{\"id\":3}]",
        FOLIO_INDEX_REPLACE);
    struct folio_index_stats *s = NULL;
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    struct folio_index_marker marker = s->marker;
    int64_t updated_at_ns = s->updated_at_ns;
    folio_index_stats_free(s);
    folio_index_free(idx);
    make_format2(dir);

    /* Read-only: opens, verifies, searches, has no distribution, is not changed. */
    struct folio_index_options ro;
    folio_index_options_default(&ro);
    ro.read_only = true;
    assert_int_equal(folio_index_open(dir, &ro, &idx, &E), 0);
    iu_assert_verified(idx);
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    assert_false(s->has_field_distribution);
    assert_int_equal(s->field_count, 0);
    assert_int_equal(s->document_count, 3);
    folio_index_stats_free(s);
    folio_index_free(idx);
    assert_int_equal(raw_format_version(dir), 2);

    /* Read-write: upgraded in one write that keeps the marker and the times. */
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    assert_int_equal(raw_format_version(dir), 3);
    expect_dist(idx, "id:3 o:1 t:2");
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    assert_int_equal(s->marker.task_uid, marker.task_uid);
    assert_int_equal(s->marker.batch_seq, marker.batch_seq);
    assert_int_equal(s->updated_at_ns, updated_at_ns);
    folio_index_stats_free(s);
    /* Later writes keep it up to date. */
    add(idx, "{\"id\":3,\"t\":\"gamma\"}", FOLIO_INDEX_UPDATE);
    expect_dist(idx, "id:3 o:1 t:3");
    folio_index_free(idx);

    /* An empty format-2 env upgrades to an empty distribution. */
    tu_rmrf(dir);
    folio_free(dir);
    idx = mk_index(&dir);
    folio_index_free(idx);
    make_format2(dir);
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    assert_int_equal(raw_format_version(dir), 3);
    expect_dist(idx, "");
    iu_remove(idx, dir);
}

/* ---- verify ------------------------------------------------------------------------------- */

/* Puts (value != NULL) or deletes key in `fields` of a closed env. */
static void
raw_fields_set(const char *dir, const char *key, size_t key_len, const void *value,
               size_t value_len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, 0, &env, &txn);
    assert_int_equal(mdb_dbi_open(txn, "fields", 0, &dbi), 0);
    MDB_val k = {key_len, (void *)key}, v = {value_len, (void *)value};
    if (value != NULL)
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    else
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Opens dir and expects verify to fail with FOLIO_E_CORRUPT naming `needle`. */
static void
expect_corrupt(const char *dir, const char *needle)
{
    struct folio_index *idx = NULL;
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    int rc = folio_index_verify(idx, &E);
    if (rc != FOLIO_E_CORRUPT || strstr(E.message, needle) == NULL)
        fail_msg("verify: %d `%s`, want FOLIO_E_CORRUPT naming `%s`", rc, E.message, needle);
    folio_index_free(idx);
}

static void
test_verify_detects_wrong_counts(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir);
    add(idx, "[{\"id\":1,\"a\":1},{\"id\":2,\"a\":2,\"b\":3}]", FOLIO_INDEX_REPLACE);
    expect_dist(idx, "a:2 b:1 id:2");
    folio_index_free(idx);
    static const uint8_t two[8] = {2}, three[8] = {3}, one[8] = {1}, zero[8] = {0};

    raw_fields_set(dir, "a", 1, three, 8); /* a count too high */
    expect_corrupt(dir, "`a`");
    raw_fields_set(dir, "a", 1, one, 8); /* too low */
    expect_corrupt(dir, "`a`");
    raw_fields_set(dir, "a", 1, two, 8);
    raw_fields_set(dir, "b", 1, NULL, 0); /* a counted name missing */
    expect_corrupt(dir, "`b`");
    raw_fields_set(dir, "b", 1, one, 8);
    raw_fields_set(dir, "c", 1, one, 8); /* a name no document has */
    expect_corrupt(dir, "`c`");
    raw_fields_set(dir, "c", 1, NULL, 0);
    raw_fields_set(dir, "b", 1, zero, 8); /* a count of 0 */
    expect_corrupt(dir, "0 documents");
    raw_fields_set(dir, "b", 1, one, 4); /* a value of the wrong size */
    expect_corrupt(dir, "4 bytes");
    raw_fields_set(dir, "b", 1, one, 8);

    /* Repaired, it verifies again, and writes go on from the right counts. */
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    expect_dist(idx, "a:2 b:1 id:2");
    add(idx, "{\"id\":2}", FOLIO_INDEX_REPLACE);
    expect_dist(idx, "a:1 id:2");
    iu_remove(idx, dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_replace_update_delete_clear),
        cmocka_unit_test(test_top_level_names_only),
        cmocka_unit_test(test_many_names_in_one_write),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_upgrade_from_format2),
        cmocka_unit_test(test_verify_detects_wrong_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
