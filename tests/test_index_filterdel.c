/*
 * Tests of documents by filter (include/folio/index.h):
 * folio_index_documents_fetch, folio_index_documents_delete_by_filter and
 * folio_index_filter_from_json, on real LMDB envs.
 *
 * Expected values come from a model: the documents are generated from their
 * number by fixed rules, and each filter comes with a C predicate written
 * from Meilisearch's filter semantics (a != b is NOT a = b, so it holds where
 * a is missing; strings compare case-folded; an array holds each of its
 * values; EXISTS holds for any value). The code under test never produces an
 * expected value: the model's matching ids, in insertion (internal id) order,
 * are what fetch must list and what a delete must remove. After every delete
 * folio_index_verify must pass (posting lists, counters and field counts
 * follow the documents) and a search with the same filter finds nothing.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"

#define DOCS 300

static struct folio_index_error E;

struct mdoc {
    int id;
    bool alive;
    bool has_n;
    int n;
    const char *s;  /* NULL: absent */
    bool has_tags;
    char tag2[8];   /* tags: ["x", tag2] */
};

static struct mdoc model[DOCS + 100];
static int model_count;

static const char *const colors[] = {"red", "green", "blue", "Blue"};

static void
model_doc(int id)
{
    struct mdoc *d = &model[model_count++];
    memset(d, 0, sizeof(*d));
    d->id = id;
    d->alive = true;
    d->has_n = id % 7 != 0;
    d->n = id % 21;
    d->s = id % 5 != 0 ? colors[id % 4] : NULL;
    d->has_tags = id % 3 == 0;
    snprintf(d->tag2, sizeof(d->tag2), "y%d", id % 2);
}

/* The JSON payload of model documents [from, to). */
static char *
payload_of(int from, int to)
{
    json_t *arr = json_array();
    for (int i = from; i < to; i++) {
        const struct mdoc *d = &model[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(d->id));
        if (d->has_n)
            json_object_set_new(o, "n", json_integer(d->n));
        if (d->s != NULL)
            json_object_set_new(o, "s", json_string(d->s));
        if (d->has_tags)
            json_object_set_new(o, "tags", json_pack("[ss]", "x", d->tag2));
        json_object_set_new(o, "secret", json_integer(d->id % 2));
        json_array_append_new(arr, o);
    }
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

static bool s_is(const struct mdoc *d, const char *v) { return d->s && !strcasecmp(d->s, v); }
static bool p_n_gt_10(const struct mdoc *d) { return d->has_n && d->n > 10; }
static bool p_n3_or_red(const struct mdoc *d) { return (d->has_n && d->n == 3) || s_is(d, "red"); }
static bool p_not_blue(const struct mdoc *d) { return !s_is(d, "blue"); }
static bool p_ne_green(const struct mdoc *d) { return !s_is(d, "green"); }
static bool
p_in_and_le(const struct mdoc *d)
{
    return (s_is(d, "red") || s_is(d, "green")) && d->has_n && d->n <= 5;
}
static bool p_tags_exist(const struct mdoc *d) { return d->has_tags; }
static bool p_n_missing(const struct mdoc *d) { return !d->has_n; }
static bool p_n_3_to_7(const struct mdoc *d) { return d->has_n && d->n >= 3 && d->n <= 7; }
static bool p_tag_y1(const struct mdoc *d) { return d->has_tags && !strcmp(d->tag2, "y1"); }
static bool
p_nested(const struct mdoc *d)
{
    return (s_is(d, "blue") && !d->has_tags) || (d->has_n && d->n >= 19);
}

struct fcase {
    const char *filter;
    bool (*match)(const struct mdoc *d);
};

/* Applied in this order on one index: each deletes from what the ones before left. */
static const struct fcase cases[] = {
    {"n > 10", p_n_gt_10},
    {"n = 3 OR s = red", p_n3_or_red},
    {"s IN [red, green] AND n <= 5", p_in_and_le},
    {"n 3 TO 7", p_n_3_to_7},
    {"tags = y1", p_tag_y1},
    {"n NOT EXISTS", p_n_missing},
    {"(s = 'blue' AND NOT tags EXISTS) OR n >= 19", p_nested},
    {"tags EXISTS", p_tags_exist},
    {"s != green", p_ne_green},
    {"NOT s = blue", p_not_blue},
};

static struct folio_index_marker
mk(uint64_t task_uid, uint64_t batch_seq)
{
    return (struct folio_index_marker){.task_uid = task_uid, .batch_seq = batch_seq};
}

static void
ok(int rc, const char *what)
{
    if (rc != 0)
        fprintf(stderr, "%s: %s (%s)\n", what, folio_err_name(rc), E.message);
    assert_int_equal(rc, 0);
}

static struct folio_index *
make_index(char **dir_out)
{
    char *dir = tu_mkdtemp("ifdel");
    struct folio_index *idx = NULL;
    struct folio_index_marker m = mk(1, 1);
    ok(folio_index_create(dir, NULL, "id", &m, &idx, &E), "create");
    m = mk(2, 2);
    const char *settings = "{\"filterableAttributes\":[\"n\",\"s\",\"tags\",\"id\"]}";
    ok(folio_index_settings_update(idx, settings, strlen(settings), &m, &E), "settings");
    *dir_out = dir;
    return idx;
}

static void
add_docs(struct folio_index *idx, int from, int to, uint64_t uid)
{
    char *text = payload_of(from, to);
    struct folio_index_payload p = {.format = FOLIO_INDEX_FORMAT_JSON, .data = text,
                                    .len = strlen(text)};
    struct folio_index_marker m = mk(uid, uid);
    uint64_t indexed = 0;
    ok(folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, &indexed, &E), "add");
    assert_int_equal(indexed, (uint64_t)(to - from));
    free(text);
}

/* The ids of the model's live documents that f matches, in insertion order. */
static size_t
model_matches(bool (*match)(const struct mdoc *), int *ids)
{
    size_t n = 0;
    for (int i = 0; i < model_count; i++)
        if (model[i].alive && match(&model[i]))
            ids[n++] = model[i].id;
    return n;
}

static size_t
model_alive(void)
{
    size_t n = 0;
    for (int i = 0; i < model_count; i++)
        n += model[i].alive;
    return n;
}

/* fetch lists exactly the expected ids, in order, and the exact total. */
static void
assert_fetch(struct folio_index *idx, const char *filter, const int *ids, size_t count)
{
    char *json = NULL;
    size_t len = 0;
    uint64_t total = 0;
    static const char *const fields[] = {"id"};
    ok(folio_index_documents_fetch(idx, filter, 0, 1000, fields, 1, &json, &len, &total, &E),
       filter);
    assert_int_equal(total, count);
    json_t *arr = json_loadb(json, len, 0, NULL);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), count);
    for (size_t i = 0; i < count; i++) {
        json_t *o = json_array_get(arr, i);
        assert_int_equal(json_object_size(o), 1); /* fields: only id */
        assert_int_equal(json_integer_value(json_object_get(o, "id")), ids[i]);
    }
    json_decref(arr);
    folio_free(json);
    if (count > 2) {
        /* A page inside: offset 1, limit 2. */
        ok(folio_index_documents_fetch(idx, filter, 1, 2, NULL, 0, &json, &len, &total, &E),
           filter);
        arr = json_loadb(json, len, 0, NULL);
        assert_int_equal(total, count);
        assert_int_equal(json_array_size(arr), 2);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "id")),
                         ids[1]);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 1), "id")),
                         ids[2]);
        assert_true(json_object_get(json_array_get(arr, 0), "secret") != NULL);
        json_decref(arr);
        folio_free(json);
    }
}

/* Every model document is stored exactly when it is alive; verify passes. */
static void
assert_state(struct folio_index *idx)
{
    for (int i = 0; i < model_count; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", model[i].id);
        char *json = NULL;
        size_t len;
        int rc = folio_index_document_get(idx, id, NULL, 0, &json, &len, &E);
        assert_int_equal(rc, model[i].alive ? 0 : FOLIO_E_DOCUMENT_NOT_FOUND);
        folio_free(json);
    }
    struct folio_index_stats *st = NULL;
    ok(folio_index_stats_get(idx, &st, &E), "stats");
    assert_int_equal(st->document_count, model_alive());
    folio_index_stats_free(st);
    ok(folio_index_verify(idx, &E), "verify");
}

static uint64_t
search_total(struct folio_index *idx, const char *filter)
{
    struct folio_index_search_req req;
    folio_index_search_req_default(&req);
    req.filter = filter;
    char *json = NULL;
    size_t len;
    ok(folio_index_search(idx, &req, &json, &len, &E), "search");
    json_t *o = json_loadb(json, len, 0, NULL);
    uint64_t total = (uint64_t)json_integer_value(json_object_get(o, "estimatedTotalHits"));
    json_decref(o);
    folio_free(json);
    return total;
}

static void
model_delete(bool (*match)(const struct mdoc *))
{
    for (int i = 0; i < model_count; i++)
        if (model[i].alive && match(&model[i]))
            model[i].alive = false;
}

static void
test_delete_matches_model(void **state)
{
    (void)state;
    model_count = 0;
    for (int i = 1; i <= DOCS; i++)
        model_doc(i);
    char *dir;
    struct folio_index *idx = make_index(&dir);
    add_docs(idx, 0, DOCS, 3);
    int ids[DOCS + 100];
    uint64_t uid = 10;
    for (size_t c = 0; c < FOLIO_ARRAY_LEN(cases); c++) {
        size_t n = model_matches(cases[c].match, ids);
        if (n == 0)
            fprintf(stderr, "case `%s` matches nothing\n", cases[c].filter);
        assert_true(n > 0); /* every case deletes something, or it proves little */
        assert_fetch(idx, cases[c].filter, ids, n);
        assert_int_equal(search_total(idx, cases[c].filter), n);
        struct folio_index_marker m = mk(uid, uid);
        uint64_t deleted = 99999;
        ok(folio_index_documents_delete_by_filter(idx, cases[c].filter, &m, &deleted, &E),
           cases[c].filter);
        if (deleted != n)
            fprintf(stderr, "%s: deleted %llu, model %zu\n", cases[c].filter,
                    (unsigned long long)deleted, n);
        assert_int_equal(deleted, n);
        model_delete(cases[c].match);
        struct folio_index_marker got;
        ok(folio_index_marker_get(idx, &got, &E), "marker");
        assert_int_equal(got.task_uid, uid);
        assert_int_equal(search_total(idx, cases[c].filter), 0);
        assert_fetch(idx, cases[c].filter, ids, 0);
        assert_state(idx);
        uid++;
    }
    assert_int_equal(model_alive(), 0);
    folio_index_free(idx);
    tu_rmrf(dir);
    free(dir);
}

static void
test_delete_errors_change_nothing(void **state)
{
    (void)state;
    model_count = 0;
    for (int i = 1; i <= 50; i++)
        model_doc(i);
    char *dir;
    struct folio_index *idx = make_index(&dir);
    add_docs(idx, 0, 50, 3);
    struct folio_index_marker m = mk(9, 9);
    uint64_t deleted = 0;
    int rc = folio_index_documents_delete_by_filter(idx, "secret = 1 OR n > 2", &m, &deleted, &E);
    assert_int_equal(rc, FOLIO_E_INVALID_SEARCH_FILTER);
    assert_non_null(strstr(E.message, "Attribute `secret` is not filterable."));
    assert_non_null(strstr(E.message, "`id`, `n`, `s`, `tags`"));
    rc = folio_index_documents_delete_by_filter(idx, "n >", &m, &deleted, &E);
    assert_int_equal(rc, FOLIO_E_INVALID_SEARCH_FILTER);
    rc = folio_index_documents_delete_by_filter(idx, "   ", &m, &deleted, &E);
    assert_int_equal(rc, FOLIO_E_INVALID_SEARCH_FILTER);
    /* fetch: the same errors. */
    char *json = NULL;
    size_t len;
    uint64_t total;
    rc = folio_index_documents_fetch(idx, "secret = 1", 0, 10, NULL, 0, &json, &len, &total, &E);
    assert_int_equal(rc, FOLIO_E_INVALID_SEARCH_FILTER);
    assert_null(json);
    struct folio_index_marker got;
    ok(folio_index_marker_get(idx, &got, &E), "marker");
    assert_int_equal(got.task_uid, 3); /* the failed writes stored no marker */
    assert_state(idx);
    /* A filter matching nothing deletes nothing but stores its marker. */
    ok(folio_index_documents_delete_by_filter(idx, "n = 999", &m, &deleted, &E), "none");
    assert_int_equal(deleted, 0);
    ok(folio_index_marker_get(idx, &got, &E), "marker");
    assert_int_equal(got.task_uid, 9);
    assert_state(idx);
    folio_index_free(idx);
    tu_rmrf(dir);
    free(dir);
}

/*
 * In a batch: documents added by an earlier write of the same batch (their
 * posting lists deferred) are matched and deleted, and a later write sees
 * the deletion.
 */
static void
test_delete_in_batch(void **state)
{
    (void)state;
    model_count = 0;
    for (int i = 1; i <= 120; i++)
        model_doc(i);
    char *dir;
    struct folio_index *idx = make_index(&dir);
    add_docs(idx, 0, 60, 3);
    ok(folio_index_batch_begin(idx, &E), "begin");
    add_docs(idx, 60, 120, 4);
    int ids[200];
    size_t n = model_matches(p_n3_or_red, ids);
    assert_true(n > 0 && ids[n - 1] > 60); /* some of the batch's own documents match */
    struct folio_index_marker m = mk(5, 5);
    uint64_t deleted = 0;
    ok(folio_index_documents_delete_by_filter(idx, "n = 3 OR s = red", &m, &deleted, &E),
       "delete in batch");
    assert_int_equal(deleted, n);
    model_delete(p_n3_or_red);
    /* A second delete of the batch sees the first one's result. */
    n = model_matches(p_tags_exist, ids);
    m = mk(6, 5);
    ok(folio_index_documents_delete_by_filter(idx, "tags EXISTS", &m, &deleted, &E), "second");
    assert_int_equal(deleted, n);
    model_delete(p_tags_exist);
    /* An update after it, in the same batch, then a fetch by this thread. */
    for (int i = 0; i < 2; i++)
        model_doc(500 + i);
    add_docs(idx, model_count - 2, model_count, 7);
    n = model_matches(p_n_gt_10, ids);
    assert_fetch(idx, "n > 10", ids, n);
    ok(folio_index_batch_commit(idx, &E), "commit");
    assert_state(idx);
    n = model_matches(p_n_gt_10, ids);
    assert_fetch(idx, "n > 10", ids, n);
    folio_index_free(idx);
    /* Reopened: the same. */
    idx = NULL;
    ok(folio_index_open(dir, NULL, &idx, &E), "open");
    assert_state(idx);
    folio_index_free(idx);
    tu_rmrf(dir);
    free(dir);
}

static void
expect_expr(const char *json, const char *expected)
{
    char *expr = NULL;
    ok(folio_index_filter_from_json(json, strlen(json), &expr, &E), json);
    if (expected == NULL) {
        assert_null(expr);
    } else {
        assert_non_null(expr);
        assert_string_equal(expr, expected);
    }
    folio_free(expr);
}

static void
expect_bad(const char *json, const char *in_message)
{
    char *expr = NULL;
    int rc = folio_index_filter_from_json(json, strlen(json), &expr, &E);
    assert_int_equal(rc, FOLIO_E_INVALID_SEARCH_FILTER);
    assert_null(expr);
    if (strstr(E.message, in_message) == NULL)
        fprintf(stderr, "%s: message `%s` lacks `%s`\n", json, E.message, in_message);
    assert_non_null(strstr(E.message, in_message));
}

static void
test_filter_from_json(void **state)
{
    (void)state;
    expect_expr("\"a = 1\"", "a = 1");
    expect_expr("null", NULL);
    expect_expr("\"  \"", NULL);
    expect_expr("[]", NULL);
    expect_expr("[\"\", []]", NULL);
    expect_expr("[\"a = 1\", \"b = 2\"]", "(a = 1) AND (b = 2)");
    expect_expr("[[\"a = 1\", \"a = 2\"], \"b = 2\"]", "((a = 1) OR (a = 2)) AND (b = 2)");
    expect_expr("[\"a = 1\", [\"c = 3\"]]", "(a = 1) AND ((c = 3))");
    expect_bad("42", "`expected String, Array, found: 42`");
    expect_bad("{\"a\":1}", "`expected String, Array, found: {\"a\":1}`");
    expect_bad("[1]", "`expected String, [String], found: 1`");
    expect_bad("[[\"a = 1\", true]]", "`expected String, found: true`");
    /* A syntax error names the string at fault, with its own columns. */
    expect_bad("[\"a = 1\", \"b =\"]", "\n4:4 b =");
    expect_bad("\"a = 1 AND\"", "a = 1 AND");
    /* Each string must stand on its own: an open parenthesis does not reach the next one. */
    expect_bad("[\"(a = 1\", \"b = 2)\"]", "(a = 1");
    expect_bad("not json", "not JSON");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delete_matches_model),
        cmocka_unit_test(test_delete_errors_change_nothing),
        cmocka_unit_test(test_delete_in_batch),
        cmocka_unit_test(test_filter_from_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
