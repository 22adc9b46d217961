/*
 * Tests of the index store (include/folio/index.h) on real LMDB envs in
 * temporary directories.
 *
 * Expected values come from the contract and from Meilisearch's documented
 * rules (reference/meilisearch-reference.md): merge vs replace, primary key
 * inference, id rules and their messages, settings defaults and reset
 * semantics. Expected JSON texts are written by hand as compact JSON of the
 * documents sent. After every failing call the test checks that nothing
 * changed: documents, count, marker, updated_at.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <jansson.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"

/* ---- helpers -------------------------------------------------------------- */

static struct folio_index_error E;

static struct folio_index_marker
mk_marker(uint64_t task_uid)
{
    struct folio_index_marker m = {.task_uid = task_uid, .batch_seq = task_uid * 10 + 7};
    return m;
}

static struct folio_index *
mk_index(char **dir, const char *pk)
{
    *dir = tu_mkdtemp("index");
    struct folio_index *idx = NULL;
    struct folio_index_marker m = mk_marker(1);
    int rc = folio_index_create(*dir, NULL, pk, &m, &idx, &E);
    if (rc != 0)
        fprintf(stderr, "create: %s\n", E.message);
    assert_int_equal(rc, 0);
    return idx;
}

static void
rm_index(struct folio_index *idx, char *dir)
{
    folio_index_free(idx);
    tu_rmrf(dir);
    folio_free(dir);
}

static int
add_fmt(struct folio_index *idx, enum folio_index_format f, const char *body,
        enum folio_index_method method, const char *pk, uint64_t task)
{
    struct folio_index_payload p = {.format = f, .data = body, .len = strlen(body)};
    struct folio_index_marker m = mk_marker(task);
    memset(&E, 0, sizeof(E));
    return folio_index_documents_add(idx, &p, method, pk, &m, NULL, &E);
}

static int
add(struct folio_index *idx, const char *json, enum folio_index_method method, const char *pk,
    uint64_t task)
{
    return add_fmt(idx, FOLIO_INDEX_FORMAT_JSON, json, method, pk, task);
}

static void
add_ok(struct folio_index *idx, const char *json, enum folio_index_method method, const char *pk,
       uint64_t task)
{
    int rc = add(idx, json, method, pk, task);
    if (rc != 0)
        fprintf(stderr, "add %s: %s\n", json, E.message);
    assert_int_equal(rc, 0);
}

/* The stored document as text, or NULL when absent (caller frees). */
static char *
doc_text(struct folio_index *idx, const char *id)
{
    char *json = NULL;
    size_t len = 0;
    int rc = folio_index_document_get(idx, id, NULL, 0, &json, &len, &E);
    if (rc == FOLIO_E_DOCUMENT_NOT_FOUND)
        return NULL;
    assert_int_equal(rc, 0);
    assert_int_equal(strlen(json), len);
    return json;
}

static void
assert_doc(struct folio_index *idx, const char *id, const char *expected)
{
    char *got = doc_text(idx, id);
    if (expected == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, expected);
    folio_free(got);
}

static struct folio_index_stats *
stats(struct folio_index *idx)
{
    struct folio_index_stats *s = NULL;
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    return s;
}

static uint64_t
doc_count(struct folio_index *idx)
{
    struct folio_index_stats *s = stats(idx);
    uint64_t n = s->document_count;
    folio_index_stats_free(s);
    return n;
}

static void
assert_marker(struct folio_index *idx, uint64_t task)
{
    struct folio_index_marker m;
    assert_int_equal(folio_index_marker_get(idx, &m, &E), 0);
    assert_int_equal(m.task_uid, task);
    assert_int_equal(m.batch_seq, task * 10 + 7);
}

static char *
all_docs(struct folio_index *idx, uint64_t *total)
{
    char *json = NULL;
    assert_int_equal(folio_index_documents_get(idx, 0, UINT64_MAX, NULL, 0, &json, NULL, total,
                                               &E),
                     0);
    return json;
}

static void
assert_verified(struct folio_index *idx)
{
    int rc = folio_index_verify(idx, &E);
    if (rc != 0)
        fprintf(stderr, "verify: %s\n", E.message);
    assert_int_equal(rc, 0);
}

static void
assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL) {
        fprintf(stderr, "expected \"%s\" in \"%s\"\n", needle, haystack);
        fail();
    }
}

static int settings_update(struct folio_index *idx, const char *json, uint64_t task);

/* ---- create, open, close --------------------------------------------------- */

static void
test_create_open(void **state)
{
    char *dir = tu_mkdtemp("index");
    struct folio_index *idx = NULL;
    struct folio_index_marker m = {.task_uid = 42, .batch_seq = 4200};
    folio_clock_set_fixed(1000000, 1);
    assert_int_equal(folio_index_create(dir, NULL, "isbn", &m, &idx, &E), 0);
    folio_clock_set(NULL, NULL);
    struct folio_index_stats *s = stats(idx);
    assert_int_equal(s->document_count, 0);
    assert_true(s->has_primary_key);
    assert_string_equal(s->primary_key, "isbn");
    assert_int_equal(s->created_at_ns, 1000000);
    assert_int_equal(s->updated_at_ns, 1000000);
    assert_int_equal(s->marker.task_uid, 42);
    assert_int_equal(s->marker.batch_seq, 4200);
    assert_int_equal(s->next_internal_id, 0);
    folio_index_stats_free(s);

    /* A second index in the same place is refused; the first is untouched. */
    struct folio_index *again = NULL;
    assert_int_equal(folio_index_create(dir, NULL, NULL, &m, &again, &E), FOLIO_E_EXISTS);
    assert_null(again);
    folio_index_free(idx);

    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    s = stats(idx);
    assert_string_equal(s->primary_key, "isbn");
    assert_int_equal(s->marker.task_uid, 42);
    assert_int_equal(s->created_at_ns, 1000000);
    folio_index_stats_free(s);
    assert_verified(idx);
    folio_index_free(idx);
    tu_rmrf(dir);
    folio_free(dir);
}

static void
test_create_open_errors(void **state)
{
    char *dir = tu_mkdtemp("index");
    char *missing = tu_path(dir, "missing");
    struct folio_index *idx = NULL;
    struct folio_index_marker m = {.task_uid = 1, .batch_seq = 1};

    assert_int_equal(folio_index_create(missing, NULL, NULL, &m, &idx, &E), FOLIO_E_NOT_FOUND);
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), FOLIO_E_NOT_FOUND);
    assert_int_equal(folio_index_open(missing, NULL, &idx, &E), FOLIO_E_NOT_FOUND);

    /* An invalid primary key fails before any file is made. */
    assert_int_equal(folio_index_create(dir, NULL, "", &m, &idx, &E),
                     FOLIO_E_INVALID_PRIMARY_KEY);
    char *data = tu_path(dir, "data.mdb");
    assert_int_equal(tu_file_size(data), -1);

    /* Bad options. */
    struct folio_index_options o;
    folio_index_options_default(&o);
    o.map_bytes_initial = 4096;
    assert_int_equal(folio_index_create(dir, &o, NULL, &m, &idx, &E), FOLIO_E_INVALID);
    assert_int_equal(tu_file_size(data), -1);

    /* A data.mdb that is not an LMDB env. */
    char junk[8192];
    memset(junk, 'x', sizeof(junk));
    tu_write_file(data, junk, sizeof(junk));
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), FOLIO_E_CORRUPT);
    assert_null(idx);

    /* An LMDB env that is not a folio index. */
    unlink(data);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    MDB_val k = {1, "k"}, v = {1, "v"};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), FOLIO_E_CORRUPT);
    assert_contains(E.message, "not a folio index");

    folio_free(data);
    folio_free(missing);
    tu_rmrf(dir);
    folio_free(dir);
}

/* ---- replace and merge ---------------------------------------------------- */

static void
test_replace_and_update(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add_ok(idx, "[{\"id\":1,\"a\":1,\"b\":2},{\"id\":2,\"a\":3}]", FOLIO_INDEX_REPLACE, NULL, 2);
    assert_doc(idx, "1", "{\"id\":1,\"a\":1,\"b\":2}");

    /* Replace drops the fields not sent; update keeps them and adds the new. */
    add_ok(idx, "[{\"id\":1,\"c\":3}]", FOLIO_INDEX_REPLACE, NULL, 3);
    assert_doc(idx, "1", "{\"id\":1,\"c\":3}");
    add_ok(idx, "[{\"id\":2,\"b\":9,\"a\":4}]", FOLIO_INDEX_UPDATE, NULL, 4);
    assert_doc(idx, "2", "{\"id\":2,\"a\":4,\"b\":9}");
    /* Merging is top-level: a nested object is replaced whole. */
    add_ok(idx, "{\"id\":2,\"o\":{\"x\":1,\"y\":2}}", FOLIO_INDEX_UPDATE, NULL, 5);
    add_ok(idx, "{\"id\":2,\"o\":{\"z\":3}}", FOLIO_INDEX_UPDATE, NULL, 6);
    assert_doc(idx, "2", "{\"id\":2,\"a\":4,\"b\":9,\"o\":{\"z\":3}}");
    /* Update of an absent document inserts it as sent. */
    add_ok(idx, "[{\"id\":3,\"z\":true}]", FOLIO_INDEX_UPDATE, NULL, 7);
    assert_doc(idx, "3", "{\"id\":3,\"z\":true}");

    /* Duplicates inside one payload: the later one wins / is merged in. */
    add_ok(idx, "[{\"id\":5,\"x\":1},{\"id\":5,\"y\":2}]", FOLIO_INDEX_REPLACE, NULL, 8);
    assert_doc(idx, "5", "{\"id\":5,\"y\":2}");
    add_ok(idx, "[{\"id\":6,\"x\":1},{\"id\":6,\"y\":2}]", FOLIO_INDEX_UPDATE, NULL, 9);
    assert_doc(idx, "6", "{\"id\":6,\"x\":1,\"y\":2}");
    assert_int_equal(doc_count(idx), 5);

    /* Replaced and merged documents keep their place (internal id). */
    uint64_t total = 0;
    char *all = all_docs(idx, &total);
    assert_int_equal(total, 5);
    assert_string_equal(all, "[{\"id\":1,\"c\":3},{\"id\":2,\"a\":4,\"b\":9,\"o\":{\"z\":3}},"
                             "{\"id\":3,\"z\":true},{\"id\":5,\"y\":2},{\"id\":6,\"x\":1,\"y\":2}]");
    folio_free(all);
    struct folio_index_stats *s = stats(idx);
    assert_int_equal(s->next_internal_id, 5);
    folio_index_stats_free(s);

    /* The integer 1 and the string "1" are the same document. */
    add_ok(idx, "{\"id\":\"1\",\"d\":1}", FOLIO_INDEX_UPDATE, NULL, 10);
    assert_doc(idx, "1", "{\"id\":\"1\",\"c\":3,\"d\":1}");
    assert_int_equal(doc_count(idx), 5);
    assert_verified(idx);
    rm_index(idx, dir);
}

static void
test_exact_output(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, "id");
    /* Reals come back with the fewest digits that read back exactly. */
    add_ok(idx,
           "[{\"id\":1,\"f\":0.1,\"g\":3.0,\"h\":1e300,\"i\":-0.0,\"p\":0.30000000000000004,"
           "\"s\":\"q\\\"\\\\\\n\\u0001\\u00e9/\",\"n\":null,\"t\":true,\"a\":[1,2.5,{}],"
           "\"big\":-9223372036854775808}]",
           FOLIO_INDEX_REPLACE, NULL, 2);
    assert_doc(idx, "1",
               "{\"id\":1,\"f\":0.1,\"g\":3.0,\"h\":1e+300,\"i\":-0.0,\"p\":0.30000000000000004,"
               "\"s\":\"q\\\"\\\\\\n\\u0001\xc3\xa9/\",\"n\":null,\"t\":true,\"a\":[1,2.5,{}],"
               "\"big\":-9223372036854775808}");
    rm_index(idx, dir);
}

/* ---- primary key ------------------------------------------------------------ */

static char *
primary_key_of(struct folio_index *idx)
{
    struct folio_index_stats *s = stats(idx);
    char *pk = s->has_primary_key ? folio_strdup(s->primary_key) : NULL;
    folio_index_stats_free(s);
    return pk;
}

static void
test_primary_key_inference(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);

    assert_int_equal(add(idx, "[{\"name\":\"x\",\"idea\":1}]", FOLIO_INDEX_REPLACE, NULL, 2),
                     FOLIO_E_PRIMARY_KEY_NO_CANDIDATE);
    assert_string_equal(E.message,
                        "The primary key inference failed as the engine did not find any field "
                        "ending with `id` in its name. Please specify the primary key manually "
                        "using the `primaryKey` query parameter.");
    assert_int_equal(add(idx, "[]", FOLIO_INDEX_REPLACE, NULL, 2),
                     FOLIO_E_PRIMARY_KEY_NO_CANDIDATE);
    assert_int_equal(add(idx, "[{\"id\":1,\"author_id\":2}]", FOLIO_INDEX_REPLACE, NULL, 2),
                     FOLIO_E_PRIMARY_KEY_MULTIPLE_CANDIDATES);
    assert_string_equal(E.message,
                        "The primary key inference failed as the engine found 2 fields ending "
                        "with `id` in their names: 'author_id' and 'id'. Please specify the "
                        "primary key manually using the `primaryKey` query parameter.");
    assert_null(primary_key_of(idx));
    assert_marker(idx, 1);

    /* Only the first document is looked at; the match is case-insensitive. */
    add_ok(idx, "[{\"ISBN_ID\":\"a\",\"t\":1},{\"ISBN_ID\":\"b\",\"id\":2}]", FOLIO_INDEX_REPLACE,
           NULL, 3);
    char *pk = primary_key_of(idx);
    assert_string_equal(pk, "ISBN_ID");
    folio_free(pk);
    assert_doc(idx, "b", "{\"ISBN_ID\":\"b\",\"id\":2}");

    /* Once stored, the primary key is used; another explicit one is refused. */
    add_ok(idx, "[{\"ISBN_ID\":\"c\",\"movieId\":3}]", FOLIO_INDEX_REPLACE, NULL, 4);
    add_ok(idx, "[{\"ISBN_ID\":\"d\"}]", FOLIO_INDEX_REPLACE, "ISBN_ID", 5);
    assert_int_equal(add(idx, "[{\"ISBN_ID\":\"e\"}]", FOLIO_INDEX_REPLACE, "id", 6),
                     FOLIO_E_PRIMARY_KEY_ALREADY_PRESENT);
    assert_string_equal(E.message, "Index already has a primary key: `ISBN_ID`.");
    assert_doc(idx, "e", NULL);
    assert_int_equal(doc_count(idx), 4);
    rm_index(idx, dir);

    /* Explicit primary key overrides inference, even with candidates. */
    idx = mk_index(&dir, NULL);
    add_ok(idx, "[{\"id\":1,\"sku\":\"x-1\"}]", FOLIO_INDEX_REPLACE, "sku", 2);
    pk = primary_key_of(idx);
    assert_string_equal(pk, "sku");
    folio_free(pk);
    assert_doc(idx, "x-1", "{\"id\":1,\"sku\":\"x-1\"}");
    assert_doc(idx, "1", NULL);
    rm_index(idx, dir);

    /* An explicit primary key with an empty payload is stored. */
    idx = mk_index(&dir, NULL);
    add_ok(idx, "[]", FOLIO_INDEX_REPLACE, "ref", 2);
    pk = primary_key_of(idx);
    assert_string_equal(pk, "ref");
    folio_free(pk);
    assert_int_equal(add(idx, "[{\"id\":1}]", FOLIO_INDEX_REPLACE, NULL, 3),
                     FOLIO_E_MISSING_DOCUMENT_ID);
    rm_index(idx, dir);

    /* A single "id" is inferred. */
    idx = mk_index(&dir, NULL);
    add_ok(idx, "{\"title\":\"t\",\"id\":7}", FOLIO_INDEX_REPLACE, NULL, 2);
    pk = primary_key_of(idx);
    assert_string_equal(pk, "id");
    folio_free(pk);
    rm_index(idx, dir);
}

static void
test_nested_primary_key(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, "a.b");
    add_ok(idx, "[{\"a\":{\"b\":\"x\"},\"v\":1},{\"a.b\":\"y\"}]", FOLIO_INDEX_REPLACE, NULL, 2);
    assert_doc(idx, "x", "{\"a\":{\"b\":\"x\"},\"v\":1}");
    assert_doc(idx, "y", "{\"a.b\":\"y\"}");
    assert_int_equal(add(idx, "[{\"a\":{\"b\":\"z\"},\"a.b\":\"w\"}]", FOLIO_INDEX_REPLACE,
                         NULL, 3),
                     FOLIO_E_INVALID_DOCUMENT_ID);
    assert_contains(E.message, "more than one `a.b` attribute");
    assert_int_equal(doc_count(idx), 2);
    /* A merge that would give the document a second id is refused. */
    assert_int_equal(add(idx, "{\"a.b\":\"x\",\"w\":1}", FOLIO_INDEX_UPDATE, NULL, 4),
                     FOLIO_E_INVALID_DOCUMENT_ID);
    assert_doc(idx, "x", "{\"a\":{\"b\":\"x\"},\"v\":1}");
    add_ok(idx, "{\"a\":{\"b\":\"x\"},\"w\":1}", FOLIO_INDEX_UPDATE, NULL, 5);
    assert_doc(idx, "x", "{\"a\":{\"b\":\"x\"},\"v\":1,\"w\":1}");
    assert_verified(idx);
    rm_index(idx, dir);
}

static void
test_primary_key_set(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    struct folio_index_marker m = mk_marker(2);
    assert_int_equal(folio_index_primary_key_set(idx, "", &m, &E), FOLIO_E_INVALID_PRIMARY_KEY);
    assert_marker(idx, 1);
    assert_int_equal(folio_index_primary_key_set(idx, "sku", &m, &E), 0);
    assert_marker(idx, 2);
    m = mk_marker(3);
    /* No documents yet: it may still change. */
    assert_int_equal(folio_index_primary_key_set(idx, "ref", &m, &E), 0);
    char *pk = primary_key_of(idx);
    assert_string_equal(pk, "ref");
    folio_free(pk);
    add_ok(idx, "{\"ref\":1}", FOLIO_INDEX_REPLACE, NULL, 4);
    m = mk_marker(5);
    assert_int_equal(folio_index_primary_key_set(idx, "sku", &m, &E),
                     FOLIO_E_PRIMARY_KEY_ALREADY_PRESENT);
    assert_string_equal(E.message, "Index already has a primary key: `ref`.");
    assert_marker(idx, 4);
    assert_int_equal(folio_index_primary_key_set(idx, "ref", &m, &E), 0);
    assert_marker(idx, 5);
    /* After deleting every document it may change again. */
    m = mk_marker(6);
    assert_int_equal(folio_index_documents_clear(idx, &m, NULL, &E), 0);
    m = mk_marker(7);
    assert_int_equal(folio_index_primary_key_set(idx, "sku", &m, &E), 0);
    pk = primary_key_of(idx);
    assert_string_equal(pk, "sku");
    folio_free(pk);
    rm_index(idx, dir);
}

/* ---- document ids ------------------------------------------------------------- */

#define INVALID_TAIL                                                                         \
    " is invalid. A document identifier can be of type integer or string, only composed of " \
    "alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be " \
    "more than 511 bytes."

static void
test_document_ids(void **state)
{
    static const struct {
        const char *value; /* JSON text of the id */
        const char *id;    /* canonical id, NULL if invalid */
    } cases[] = {
        {"1", "1"},           {"0", "0"},           {"-5", "-5"},
        {"9223372036854775807", "9223372036854775807"},
        {"\"abc-_9XZ\"", "abc-_9XZ"},
        {"1.5", NULL},        {"1.0", NULL},        {"1e3", NULL},
        {"\"\"", NULL},       {"\"a b\"", NULL},    {"\"a/b\"", NULL},
        {"\"a.b\"", NULL},    {"\"\\u00e9\"", NULL}, {"\" 1\"", NULL},
        {"true", NULL},       {"null", NULL},       {"[1]", NULL},
        {"{\"x\":1}", NULL},
    };
    char *dir;
    struct folio_index *idx = mk_index(&dir, "id");
    char body[256];
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        snprintf(body, sizeof(body), "[{\"id\":%s,\"n\":%zu}]", cases[i].value, i);
        int rc = add(idx, body, FOLIO_INDEX_REPLACE, NULL, 10 + i);
        if (cases[i].id != NULL) {
            assert_int_equal(rc, 0);
            char expected[256];
            snprintf(expected, sizeof(expected), "{\"id\":%s,\"n\":%zu}", cases[i].value, i);
            assert_doc(idx, cases[i].id, expected);
        } else {
            assert_int_equal(rc, FOLIO_E_INVALID_DOCUMENT_ID);
            assert_contains(E.message, INVALID_TAIL);
        }
    }
    assert_int_equal(doc_count(idx), 5);

    /* The message quotes the value as JSON. */
    assert_int_equal(add(idx, "{\"id\":\"a b\"}", FOLIO_INDEX_REPLACE, NULL, 50),
                     FOLIO_E_INVALID_DOCUMENT_ID);
    assert_string_equal(E.message, "Document identifier `\"a b\"`" INVALID_TAIL);
    assert_int_equal(add(idx, "{\"id\":1.5}", FOLIO_INDEX_REPLACE, NULL, 50),
                     FOLIO_E_INVALID_DOCUMENT_ID);
    assert_string_equal(E.message, "Document identifier `1.5`" INVALID_TAIL);

    /* Missing id. */
    assert_int_equal(add(idx, "{\"name\":\"x\"}", FOLIO_INDEX_REPLACE, NULL, 51),
                     FOLIO_E_MISSING_DOCUMENT_ID);
    assert_string_equal(E.message, "Document doesn't have a `id` attribute: `{\"name\":\"x\"}`.");

    /* 511 bytes is the longest id, 512 is one too many. */
    char *big = folio_malloc(700);
    memset(big, 'a', 511);
    big[511] = '\0';
    char *doc = folio_malloc(1200);
    snprintf(doc, 1200, "{\"id\":\"%s\"}", big);
    add_ok(idx, doc, FOLIO_INDEX_REPLACE, NULL, 52);
    char *got = doc_text(idx, big);
    assert_string_equal(got, doc);
    folio_free(got);
    memset(big, 'b', 512);
    big[512] = '\0';
    snprintf(doc, 1200, "{\"id\":\"%s\"}", big);
    assert_int_equal(add(idx, doc, FOLIO_INDEX_REPLACE, NULL, 53), FOLIO_E_INVALID_DOCUMENT_ID);
    assert_true(strlen(E.message) < sizeof(E.message));
    assert_contains(E.message, "...");
    assert_int_equal(doc_count(idx), 6);
    /* An id that cannot be valid is simply not found. */
    assert_int_equal(folio_index_document_get(idx, big, NULL, 0, &got, NULL, &E),
                     FOLIO_E_DOCUMENT_NOT_FOUND);
    assert_int_equal(folio_index_document_get(idx, "", NULL, 0, &got, NULL, &E),
                     FOLIO_E_DOCUMENT_NOT_FOUND);
    folio_free(big);
    folio_free(doc);
    assert_verified(idx);
    rm_index(idx, dir);
}

/* ---- all or nothing --------------------------------------------------------- */

static void
test_bad_document_changes_nothing(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add_ok(idx, "[{\"id\":1,\"v\":\"one\"},{\"id\":2,\"v\":\"two\"},{\"id\":3}]",
           FOLIO_INDEX_REPLACE, NULL, 5);
    struct folio_index_stats *before = stats(idx);
    char *docs_before = all_docs(idx, NULL);

    static const char *const bad[] = {
        "[{\"id\":1,\"v\":\"new\"},{\"id\":9},{\"id\":\"bad id\"}]",
        "[{\"id\":1,\"v\":\"new\"},{\"id\":9},{\"v\":\"no id\"}]",
        "[{\"id\":1,\"v\":\"new\"},{\"id\":9},{\"id\":[1]}]",
        "[{\"id\":1,\"v\":\"new\"},{\"id\":9},{\"id\":10,]",
        "[{\"id\":1,\"v\":\"new\"},{\"id\":9},7]",
    };
    for (int method = 0; method < 2; method++) {
        for (size_t i = 0; i < FOLIO_ARRAY_LEN(bad); i++) {
            assert_true(add(idx, bad[i], (enum folio_index_method)method, NULL, 6) < 0);
            struct folio_index_stats *after = stats(idx);
            assert_int_equal(after->document_count, 3);
            assert_int_equal(after->next_internal_id, before->next_internal_id);
            assert_int_equal(after->updated_at_ns, before->updated_at_ns);
            assert_int_equal(after->marker.task_uid, 5);
            folio_index_stats_free(after);
            char *docs_after = all_docs(idx, NULL);
            assert_string_equal(docs_after, docs_before);
            folio_free(docs_after);
        }
    }
    assert_marker(idx, 5);
    assert_doc(idx, "9", NULL);
    assert_doc(idx, "1", "{\"id\":1,\"v\":\"one\"}");
    folio_index_stats_free(before);
    folio_free(docs_before);
    assert_verified(idx);
    rm_index(idx, dir);
}

/* ---- the marker ----------------------------------------------------------------- */

static void
test_marker_every_change(void **state)
{
    char *dir;
    folio_clock_set_fixed(5000, 10);
    struct folio_index *idx = mk_index(&dir, NULL);
    assert_marker(idx, 1);
    struct folio_index_marker m;
    int64_t updated = 0;

#define STEP(call, task, touched)                                                           \
    do {                                                                                     \
        m = mk_marker(task);                                                                 \
        assert_int_equal((call), 0);                                                         \
        assert_marker(idx, task);                                                            \
        struct folio_index_stats *s_ = stats(idx);                                           \
        if (touched)                                                                         \
            assert_true(s_->updated_at_ns > updated);                                        \
        else                                                                                 \
            assert_int_equal(s_->updated_at_ns, updated);                                    \
        updated = s_->updated_at_ns;                                                         \
        folio_index_stats_free(s_);                                                          \
    } while (0)
#define FAIL_STEP(call, task, code)                                                         \
    do {                                                                                     \
        m = mk_marker(task);                                                                 \
        assert_int_equal((call), (code));                                                    \
        assert_marker(idx, prev);                                                            \
        struct folio_index_stats *s_ = stats(idx);                                           \
        assert_int_equal(s_->updated_at_ns, updated);                                        \
        folio_index_stats_free(s_);                                                          \
    } while (0)

#define SW "{\"stopWords\":[\"a\"]}"
#define SWBAD "{\"stopWord\":[\"a\"]}"
    static const char docs[] = "[{\"id\":1},{\"id\":2},{\"id\":3}]";
    struct folio_index_payload p = {FOLIO_INDEX_FORMAT_JSON, docs, sizeof(docs) - 1, 0, 0};
    static const char bad_docs[] = "[{\"id\":1.5}]";
    struct folio_index_payload bp = {FOLIO_INDEX_FORMAT_JSON, bad_docs, sizeof(bad_docs) - 1, 0,
                                     0};
    const char *ids[] = {"2"};
    uint64_t prev;

    STEP(folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E), 2, true);
    prev = 2;
    FAIL_STEP(folio_index_documents_add(idx, &bp, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E), 3,
              FOLIO_E_INVALID_DOCUMENT_ID);
    STEP(folio_index_documents_add(idx, &p, FOLIO_INDEX_UPDATE, NULL, &m, NULL, &E), 4, true);
    STEP(folio_index_documents_delete(idx, ids, 1, &m, NULL, &E), 5, true);
    STEP(folio_index_settings_update(idx, SW, strlen(SW), &m, &E), 6, true);
    prev = 6;
    FAIL_STEP(folio_index_settings_update(idx, SWBAD, strlen(SWBAD), &m, &E), 7,
              FOLIO_E_UNKNOWN_SETTING);
    STEP(folio_index_settings_reset(idx, &m, &E), 8, true);
    prev = 8;
    FAIL_STEP(folio_index_primary_key_set(idx, "other", &m, &E), 9,
              FOLIO_E_PRIMARY_KEY_ALREADY_PRESENT);
    STEP(folio_index_primary_key_set(idx, "id", &m, &E), 10, true);
    STEP(folio_index_mark(idx, &m, &E), 11, false);
    STEP(folio_index_documents_clear(idx, &m, NULL, &E), 12, true);
    STEP(folio_index_mark(idx, &m, &E), 13, false);
#undef STEP
#undef FAIL_STEP
#undef SW
#undef SWBAD
    folio_clock_set(NULL, NULL);

    /* The marker survives a reopen. */
    folio_index_free(idx);
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    assert_marker(idx, 13);
    rm_index(idx, dir);
}

/* ---- deletes ------------------------------------------------------------------------ */

static void
test_delete(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, "id");
    add_ok(idx, "[{\"id\":1},{\"id\":2},{\"id\":3},{\"id\":4},{\"id\":5}]", FOLIO_INDEX_REPLACE,
           NULL, 2);
    assert_int_equal(settings_update(idx, "{\"sortableAttributes\":[\"x\"]}", 3), 0);
    const char *ids[] = {"1", "3", "nope", "bad id", "3", ""};
    uint64_t deleted = 99;
    struct folio_index_marker m = mk_marker(4);
    assert_int_equal(folio_index_documents_delete(idx, ids, FOLIO_ARRAY_LEN(ids), &m, &deleted,
                                                  &E),
                     0);
    assert_int_equal(deleted, 2);
    assert_int_equal(doc_count(idx), 3);
    assert_doc(idx, "1", NULL);
    assert_doc(idx, "3", NULL);
    assert_doc(idx, "2", "{\"id\":2}");
    m = mk_marker(5);
    assert_int_equal(folio_index_documents_delete(idx, NULL, 0, &m, &deleted, &E), 0);
    assert_int_equal(deleted, 0);
    assert_marker(idx, 5);

    /* A re-added document gets a new internal id: it now comes last. */
    add_ok(idx, "{\"id\":1,\"back\":true}", FOLIO_INDEX_REPLACE, NULL, 6);
    char *all = all_docs(idx, NULL);
    assert_string_equal(all, "[{\"id\":2},{\"id\":4},{\"id\":5},{\"id\":1,\"back\":true}]");
    folio_free(all);

    m = mk_marker(7);
    assert_int_equal(folio_index_documents_clear(idx, &m, &deleted, &E), 0);
    assert_int_equal(deleted, 4);
    struct folio_index_stats *s = stats(idx);
    assert_int_equal(s->document_count, 0);
    assert_int_equal(s->next_internal_id, 6); /* never reused */
    assert_string_equal(s->primary_key, "id");
    assert_contains(s->settings_json, "\"sortableAttributes\":[\"x\"]");
    folio_index_stats_free(s);
    uint64_t total = 99;
    all = all_docs(idx, &total);
    assert_string_equal(all, "[]");
    assert_int_equal(total, 0);
    folio_free(all);
    add_ok(idx, "{\"id\":2}", FOLIO_INDEX_REPLACE, NULL, 8);
    s = stats(idx);
    assert_int_equal(s->next_internal_id, 7);
    folio_index_stats_free(s);
    assert_verified(idx);
    rm_index(idx, dir);
}

/* ---- settings --------------------------------------------------------------------- */

static const char default_settings[] =
    "{\"displayedAttributes\":[\"*\"],\"searchableAttributes\":[\"*\"],"
    "\"filterableAttributes\":[],\"sortableAttributes\":[],"
    "\"rankingRules\":[\"words\",\"typo\",\"proximity\",\"attribute\",\"sort\",\"exactness\"],"
    "\"stopWords\":[],\"synonyms\":{},\"distinctAttribute\":null}";

static char *
settings_text(struct folio_index *idx)
{
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(folio_index_settings_get(idx, &json, &len, &E), 0);
    assert_int_equal(strlen(json), len);
    return json;
}

static int
settings_update(struct folio_index *idx, const char *json, uint64_t task)
{
    struct folio_index_marker m = mk_marker(task);
    memset(&E, 0, sizeof(E));
    return folio_index_settings_update(idx, json, strlen(json), &m, &E);
}

static void
test_settings(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    char *s = settings_text(idx);
    assert_string_equal(s, default_settings);
    folio_free(s);

    assert_int_equal(settings_update(idx,
                                     "{\"filterableAttributes\":[\"b\",\"a\",\"b\"],"
                                     "\"searchableAttributes\":[\"title\",\"body\"],"
                                     "\"rankingRules\":[\"price:asc\",\"words\"],"
                                     "\"distinctAttribute\":\"sku\","
                                     "\"synonyms\":{\"tv\":[\"television\"]}}",
                                     2),
                     0);
    static const char updated[] =
        "{\"displayedAttributes\":[\"*\"],\"searchableAttributes\":[\"title\",\"body\"],"
        "\"filterableAttributes\":[\"a\",\"b\"],\"sortableAttributes\":[],"
        "\"rankingRules\":[\"price:asc\",\"words\"],"
        "\"stopWords\":[],\"synonyms\":{\"tv\":[\"television\"]},\"distinctAttribute\":\"sku\"}";
    s = settings_text(idx);
    assert_string_equal(s, updated);
    folio_free(s);

    /* Every failure leaves everything as it was, valid keys in the same patch too. */
    static const struct {
        const char *json;
        int code;
        const char *says;
    } bad[] = {
        {"{\"foo\":1}", FOLIO_E_UNKNOWN_SETTING, "Unknown field `foo`"},
        {"{\"stopWords\":[\"x\"],\"foo\":1}", FOLIO_E_UNKNOWN_SETTING, "`displayedAttributes`"},
        {"{\"sortableAttributes\":\"x\"}", FOLIO_E_INVALID_SETTINGS,
         "Invalid value type at `.sortableAttributes`: expected an array, but found a string"},
        {"{\"stopWords\":[\"x\"],\"displayedAttributes\":[1]}", FOLIO_E_INVALID_SETTINGS,
         "`.displayedAttributes[0]`: expected a string"},
        {"{\"rankingRules\":[\"bogus\"]}", FOLIO_E_INVALID_SETTINGS,
         "`bogus` ranking rule is invalid"},
        {"{\"rankingRules\":[\":asc\"]}", FOLIO_E_INVALID_SETTINGS, "ranking rule is invalid"},
        {"{\"synonyms\":{\"a\":\"b\"}}", FOLIO_E_INVALID_SETTINGS, "`.synonyms.a`"},
        {"{\"distinctAttribute\":5}", FOLIO_E_INVALID_SETTINGS, "expected a string"},
        {"[1]", FOLIO_E_INVALID_SETTINGS, "expected an object"},
        {"{bad", FOLIO_E_MALFORMED_PAYLOAD, "line 1"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(bad); i++) {
        assert_int_equal(settings_update(idx, bad[i].json, 3), bad[i].code);
        assert_contains(E.message, bad[i].says);
        assert_int_equal(folio_index_settings_validate(bad[i].json, strlen(bad[i].json), &E),
                         bad[i].code);
        s = settings_text(idx);
        assert_string_equal(s, updated);
        folio_free(s);
        assert_marker(idx, 2);
    }
    assert_int_equal(folio_index_settings_validate("{\"stopWords\":null}", 18, &E), 0);
    assert_int_equal(folio_index_settings_validate("{}", 2, &E), 0);

    /* null resets one setting; absent ones stay. */
    assert_int_equal(settings_update(idx, "{\"searchableAttributes\":null,\"rankingRules\":null}",
                                     4),
                     0);
    s = settings_text(idx);
    assert_string_equal(s, "{\"displayedAttributes\":[\"*\"],\"searchableAttributes\":[\"*\"],"
                           "\"filterableAttributes\":[\"a\",\"b\"],\"sortableAttributes\":[],"
                           "\"rankingRules\":[\"words\",\"typo\",\"proximity\",\"attribute\","
                           "\"sort\",\"exactness\"],\"stopWords\":[],"
                           "\"synonyms\":{\"tv\":[\"television\"]},\"distinctAttribute\":\"sku\"}");
    folio_free(s);
    /* An empty patch changes nothing but still records the task. */
    assert_int_equal(settings_update(idx, "{}", 5), 0);
    assert_marker(idx, 5);

    /* Settings persist. */
    folio_index_free(idx);
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    s = settings_text(idx);
    assert_contains(s, "\"filterableAttributes\":[\"a\",\"b\"]");
    folio_free(s);

    struct folio_index_marker m = mk_marker(6);
    assert_int_equal(folio_index_settings_reset(idx, &m, &E), 0);
    s = settings_text(idx);
    assert_string_equal(s, default_settings);
    folio_free(s);
    assert_marker(idx, 6);
    rm_index(idx, dir);
}

/* ---- reads ------------------------------------------------------------------------ */

static void
test_reads(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, "id");
    char body[4096] = "[";
    for (int i = 0; i < 10; i++)
        snprintf(body + strlen(body), sizeof(body) - strlen(body),
                 "%s{\"id\":%d,\"title\":\"t%d\",\"n\":%d}", i ? "," : "", i, i, i * i);
    strcat(body, "]");
    add_ok(idx, body, FOLIO_INDEX_REPLACE, NULL, 2);

    const char *fields[] = {"title", "missing"};
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(folio_index_document_get(idx, "3", fields, 2, &json, &len, &E), 0);
    assert_string_equal(json, "{\"title\":\"t3\"}");
    assert_int_equal(len, strlen(json));
    folio_free(json);
    const char *star[] = {"n", "*"};
    assert_int_equal(folio_index_document_get(idx, "3", star, 2, &json, NULL, &E), 0);
    assert_string_equal(json, "{\"id\":3,\"title\":\"t3\",\"n\":9}");
    folio_free(json);
    assert_int_equal(folio_index_document_get(idx, "3", fields, 0, &json, NULL, &E), 0);
    assert_string_equal(json, "{}");
    folio_free(json);
    assert_int_equal(folio_index_document_get(idx, "10", NULL, 0, &json, NULL, &E),
                     FOLIO_E_DOCUMENT_NOT_FOUND);
    assert_string_equal(E.message, "Document `10` not found.");
    assert_null(json);

    uint64_t total = 0;
    const char *f2[] = {"id"};
    assert_int_equal(folio_index_documents_get(idx, 3, 4, f2, 1, &json, &len, &total, &E), 0);
    assert_string_equal(json, "[{\"id\":3},{\"id\":4},{\"id\":5},{\"id\":6}]");
    assert_int_equal(total, 10);
    folio_free(json);
    assert_int_equal(folio_index_documents_get(idx, 8, 5, NULL, 0, &json, NULL, &total, &E), 0);
    assert_string_equal(json, "[{\"id\":8,\"title\":\"t8\",\"n\":64},{\"id\":9,\"title\":\"t9\","
                              "\"n\":81}]");
    folio_free(json);
    assert_int_equal(folio_index_documents_get(idx, 20, 5, NULL, 0, &json, NULL, &total, &E), 0);
    assert_string_equal(json, "[]");
    assert_int_equal(total, 10);
    folio_free(json);
    assert_int_equal(folio_index_documents_get(idx, 0, 0, NULL, 0, &json, NULL, &total, &E), 0);
    assert_string_equal(json, "[]");
    folio_free(json);

    struct folio_index_stats *s = stats(idx);
    assert_true(s->raw_document_bytes >= 4096);
    assert_true(s->map_bytes >= (64u << 20));
    folio_index_stats_free(s);
    rm_index(idx, dir);
}

/* ---- compact copy and read-only open ------------------------------------------------ */

static void
test_copy_compact(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, "id");
    char *body = folio_malloc(200000);
    for (int round = 0; round < 5; round++) {
        strcpy(body, "[");
        for (int i = 0; i < 100; i++)
            snprintf(body + strlen(body), 200000 - strlen(body),
                     "%s{\"id\":%d,\"pad\":\"%0500d\"}", i ? "," : "", round * 100 + i, i);
        strcat(body, "]");
        add_ok(idx, body, FOLIO_INDEX_REPLACE, NULL, 2 + round);
    }
    const char *ids[200];
    char idbuf[200][8];
    for (int i = 0; i < 200; i++) {
        snprintf(idbuf[i], sizeof(idbuf[i]), "%d", i * 2);
        ids[i] = idbuf[i];
    }
    struct folio_index_marker m = {.task_uid = 77, .batch_seq = 7777};
    assert_int_equal(folio_index_documents_delete(idx, ids, 200, &m, NULL, &E), 0);
    assert_int_equal(settings_update(idx, "{\"filterableAttributes\":[\"pad\"]}", 78), 0);

    char *copy_dir = tu_path(dir, "copy");
    assert_int_equal(folio_index_copy_compact(idx, copy_dir, &E), FOLIO_E_NOT_FOUND);
    assert_int_equal(mkdir(copy_dir, 0700), 0);
    assert_int_equal(folio_index_copy_compact(idx, copy_dir, &E), 0);
    assert_int_equal(folio_index_copy_compact(idx, copy_dir, &E), FOLIO_E_EXISTS);
    char *src_file = tu_path(dir, "data.mdb");
    char *copy_file = tu_path(copy_dir, "data.mdb");
    assert_true(tu_file_size(copy_file) > 0);
    assert_true(tu_file_size(copy_file) <= tu_file_size(src_file));

    struct folio_index_options o;
    folio_index_options_default(&o);
    o.read_only = true;
    o.no_lock = true;
    struct folio_index *ro = NULL;
    assert_int_equal(folio_index_open(copy_dir, &o, &ro, &E), 0);
    char *lock_file = tu_path(copy_dir, "lock.mdb");
    assert_int_equal(tu_file_size(lock_file), -1);
    assert_verified(ro);
    uint64_t t1 = 0, t2 = 0;
    char *a = all_docs(idx, &t1), *b = all_docs(ro, &t2);
    assert_int_equal(t1, 300);
    assert_int_equal(t2, 300);
    assert_string_equal(a, b);
    folio_free(a);
    folio_free(b);
    struct folio_index_stats *s1 = stats(idx), *s2 = stats(ro);
    assert_int_equal(s2->marker.task_uid, 78);
    assert_int_equal(s2->marker.batch_seq, 787);
    assert_int_equal(s1->created_at_ns, s2->created_at_ns);
    assert_int_equal(s1->updated_at_ns, s2->updated_at_ns);
    assert_int_equal(s1->next_internal_id, s2->next_internal_id);
    assert_string_equal(s1->settings_json, s2->settings_json);
    assert_string_equal(s2->primary_key, "id");
    folio_index_stats_free(s1);
    folio_index_stats_free(s2);

    /* A read-only index refuses every write and changes nothing. */
    assert_int_equal(add(ro, "{\"id\":1}", FOLIO_INDEX_REPLACE, NULL, 99), FOLIO_E_INVALID);
    m = mk_marker(99);
    assert_int_equal(folio_index_mark(ro, &m, &E), FOLIO_E_INVALID);
    assert_int_equal(doc_count(ro), 300);
    folio_index_free(ro);

    /* A read-only open with the lock file also works, on the live index too. */
    o.no_lock = false;
    assert_int_equal(folio_index_open(copy_dir, &o, &ro, &E), 0);
    assert_int_equal(doc_count(ro), 300);
    folio_index_free(ro);

    folio_free(lock_file);
    folio_free(src_file);
    folio_free(copy_file);
    folio_free(copy_dir);
    folio_free(body);
    rm_index(idx, dir);
}

/* ---- verify sees damage -------------------------------------------------------------- */

/* Changes one record behind the index's back (value NULL: deletes it). */
static void
damage(const char *dir, const char *db, const void *key, size_t key_len, const void *value,
       size_t value_len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    MDB_val k = {key_len, (void *)key};
    if (value == NULL) {
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    } else {
        MDB_val v = {value_len, (void *)value};
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void
test_verify_detects_damage(void **state)
{
    static const uint8_t iid1[4] = {0, 0, 0, 1};
    static const uint8_t two[8] = {2, 0, 0, 0, 0, 0, 0, 0};
    static const struct {
        const char *db;
        const void *key;
        size_t key_len;
        const void *value;
        size_t value_len;
        const char *says;
    } cases[] = {
        {"external_ids", "a", 1, NULL, 0, "Document 0 (id `a`) is not what its id maps to"},
        {"external_ids", "z", 1, iid1, 4, "Counts disagree: 3 documents stored, 4 ids"},
        {"documents", iid1, 4, "{\"id\":\"a\"}", 10, "is not what its id maps to"},
        {"documents", iid1, 4, "[1]", 3, "is not a JSON object"},
        {"documents", iid1, 4, "{\"x\":1}", 7, "has no valid id"},
        {"meta", "document_count", 14, two, 8, "document_count says 2"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        char *dir;
        struct folio_index *idx = mk_index(&dir, "id");
        add_ok(idx, "[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"c\"}]", FOLIO_INDEX_REPLACE, NULL,
               2);
        assert_verified(idx);
        folio_index_free(idx);
        damage(dir, cases[i].db, cases[i].key, cases[i].key_len, cases[i].value,
               cases[i].value_len);
        assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
        assert_int_equal(folio_index_verify(idx, &E), FOLIO_E_CORRUPT);
        assert_contains(E.message, cases[i].says);
        rm_index(idx, dir);
    }
}

/* ---- the on-disk format (docs/index-format.md, worked example) ---------------------- */

static void
expect_record(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t key_len, const void *value,
              size_t value_len)
{
    MDB_val k = {key_len, (void *)key}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    assert_int_equal(v.mv_size, value_len);
    assert_memory_equal(v.mv_data, value, value_len);
}

static void
test_format_pinned(void **state)
{
    char *dir = tu_mkdtemp("index");
    struct folio_index *idx = NULL;
    struct folio_index_marker m = {.task_uid = 7, .batch_seq = 9};
    /* created_at = 0x0102030405060708 ns; each later write reads the clock once more. */
    folio_clock_set_fixed(0x0102030405060708ll, 1);
    /* The creation's outcome is dropped by the add (another batch seq). */
    m.outcome = (const uint8_t *)"made";
    m.outcome_len = 4;
    assert_int_equal(folio_index_create(dir, NULL, NULL, &m, &idx, &E), 0);
    assert_int_equal(add(idx, "[{\"id\":\"a\"},{\"id\":7,\"x\":0.1}]", FOLIO_INDEX_REPLACE,
                         NULL, 0x1122334455667788ull),
                     0);
    static const char settings[] =
        "{\"sortableAttributes\":[\"x\"],\"filterableAttributes\":[\"x\"]}";
    struct folio_index_marker sm = {.task_uid = 0x10, .batch_seq = 0xa7,
                                    .outcome = (const uint8_t *)"done", .outcome_len = 4};
    assert_int_equal(folio_index_settings_update(idx, settings, strlen(settings), &sm, &E), 0);
    folio_clock_set(NULL, NULL);
    folio_index_free(idx);

    /* The bytes, read with LMDB alone, as the format document gives them. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi docs, ids, meta, outcomes, words, word_ranks, facets, fields, main_db;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "documents", 0, &docs), 0);
    assert_int_equal(mdb_dbi_open(txn, "external_ids", 0, &ids), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "outcomes", 0, &outcomes), 0);
    assert_int_equal(mdb_dbi_open(txn, "words", 0, &words), 0);
    assert_int_equal(mdb_dbi_open(txn, "word_ranks", 0, &word_ranks), 0);
    assert_int_equal(mdb_dbi_open(txn, "facets", 0, &facets), 0);
    assert_int_equal(mdb_dbi_open(txn, "fields", 0, &fields), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &main_db), 0);
    static const uint8_t iid0[4] = {0, 0, 0, 0}, iid1[4] = {0, 0, 0, 1};
    expect_record(txn, docs, iid0, 4, "{\"id\":\"a\"}", 10);
    expect_record(txn, docs, iid1, 4, "{\"id\":7,\"x\":0.1}", 16);
    expect_record(txn, ids, "a", 1, iid0, 4);
    expect_record(txn, ids, "7", 1, iid1, 4);
    expect_record(txn, meta, "format_version", 14, "\x03\0\0\0", 4);
    expect_record(txn, meta, "primary_key", 11, "id", 2);
    expect_record(txn, meta, "document_count", 14, "\x02\0\0\0\0\0\0\0", 8);
    expect_record(txn, meta, "next_internal_id", 16, "\x02\0\0\0\0\0\0\0", 8);
    expect_record(txn, meta, "created_at_ns", 13, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    expect_record(txn, meta, "updated_at_ns", 13, "\x0a\x07\x06\x05\x04\x03\x02\x01", 8);
    /* Written by the settings update (task 0x10, batch seq 0x10 * 10 + 7 = 0xa7). */
    expect_record(txn, meta, "applied_marker", 14,
                  "\x10\0\0\0\0\0\0\0\xa7\0\0\0\0\0\0\0", 16);
    expect_record(txn, meta, "settings", 8,
                  "{\"sortableAttributes\":[\"x\"],\"filterableAttributes\":[\"x\"]}", 57);
    /* Posting lists: portable roaring bitmaps, no runs, one container, key 0. */
    static const uint8_t set0[] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0};
    static const uint8_t set1[] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 1, 0};
    static const uint8_t set01[] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0,
                                    1,    0,    16, 0, 0, 0, 0, 0, 1, 0};
    expect_record(txn, meta, "document_ids", 12, set01, sizeof(set01));
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, meta, &st), 0);
    assert_int_equal(st.ms_entries, 9);
    expect_record(txn, words, "0", 1, set1, sizeof(set1));
    expect_record(txn, words, "1", 1, set1, sizeof(set1));
    expect_record(txn, words, "7", 1, set1, sizeof(set1));
    expect_record(txn, words, "a", 1, set0, sizeof(set0));
    assert_int_equal(mdb_stat(txn, words, &st), 0);
    assert_int_equal(st.ms_entries, 4);
    expect_record(txn, word_ranks, "0\0\0\x01", 4, set1, sizeof(set1));
    expect_record(txn, word_ranks, "1\0\0\x01", 4, set1, sizeof(set1));
    expect_record(txn, word_ranks, "7\0\0\0", 4, set1, sizeof(set1));
    expect_record(txn, word_ranks, "a\0\0\0", 4, set0, sizeof(set0));
    assert_int_equal(mdb_stat(txn, word_ranks, &st), 0);
    assert_int_equal(st.ms_entries, 4);
    expect_record(txn, facets, "x\0e", 3, set1, sizeof(set1));
    expect_record(txn, facets, "x\0n\xbf\xb9\x99\x99\x99\x99\x99\x9a", 11, set1, sizeof(set1));
    assert_int_equal(mdb_stat(txn, facets, &st), 0);
    assert_int_equal(st.ms_entries, 2);
    static const uint8_t task16[8] = {0, 0, 0, 0, 0, 0, 0, 0x10};
    expect_record(txn, outcomes, task16, 8, "done", 4);
    assert_int_equal(mdb_stat(txn, outcomes, &st), 0);
    assert_int_equal(st.ms_entries, 1);
    /* The field distribution: `id` in both documents, `x` in one. */
    expect_record(txn, fields, "id", 2, "\x02\0\0\0\0\0\0\0", 8);
    expect_record(txn, fields, "x", 1, "\x01\0\0\0\0\0\0\0", 8);
    assert_int_equal(mdb_stat(txn, fields, &st), 0);
    assert_int_equal(st.ms_entries, 2);
    /* The eight named databases and nothing else. */
    assert_int_equal(mdb_stat(txn, main_db, &st), 0);
    assert_int_equal(st.ms_entries, 8);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    tu_rmrf(dir);
    folio_free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_open),
        cmocka_unit_test(test_create_open_errors),
        cmocka_unit_test(test_replace_and_update),
        cmocka_unit_test(test_exact_output),
        cmocka_unit_test(test_primary_key_inference),
        cmocka_unit_test(test_nested_primary_key),
        cmocka_unit_test(test_primary_key_set),
        cmocka_unit_test(test_document_ids),
        cmocka_unit_test(test_bad_document_changes_nothing),
        cmocka_unit_test(test_marker_every_change),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_reads),
        cmocka_unit_test(test_copy_compact),
        cmocka_unit_test(test_verify_detects_damage),
        cmocka_unit_test(test_format_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
