/*
 * Tests of folio_index_set_stop (include/folio/index.h): the long writes
 * (document additions, deletions by filter, settings changes that rebuild)
 * ask the stop function between documents and, once it answers true, stop
 * with FOLIO_E_CANCELED and change nothing; in a batch the batch's earlier
 * writes stay and commit. On real LMDB environments.
 *
 * The stop function here answers true at its Nth call, so each test stops a
 * write at a known document. What "changed nothing" means is checked against
 * what the test wrote before: the document count, which ids exist, the
 * settings text, the marker, and folio_index_verify (the search structures
 * are exactly what the documents and settings make).
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "indexutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"

static struct folio_index_error E;

/* Answers true from its at-th call on (at == 0: never). */
struct stop_at {
    unsigned calls;
    unsigned at;
};

static bool
stop_fn(void *ctx)
{
    struct stop_at *s = ctx;
    s->calls++;
    return s->at != 0 && s->calls >= s->at;
}

static struct folio_index *
mk_index(char **dir)
{
    *dir = tu_mkdtemp("istop");
    struct folio_index_options o;
    folio_index_options_default(&o);
    o.map_bytes_initial = 1ull << 31; /* the map must not grow mid-batch (that rolls back) */
    struct folio_index *idx = NULL;
    struct folio_index_marker m = iu_marker(1, 10, "created");
    int rc = folio_index_create(*dir, &o, "id", &m, &idx, &E);
    if (rc != 0)
        fprintf(stderr, "create: %s\n", E.message);
    assert_int_equal(rc, 0);
    return idx;
}

/* A JSON array of n documents {"id":"<prefix><i>","t":"<word> w<i%97>","g":i%5}. */
static char *
docs_json(const char *prefix, const char *word, int n)
{
    size_t cap = 64 + (size_t)n * (strlen(prefix) + strlen(word) + 64);
    char *buf = folio_malloc(cap);
    size_t len = 0;
    buf[len++] = '[';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s{\"id\":\"%s%d\",\"t\":\"%s w%d\",\"g\":%d}",
                                i > 0 ? "," : "", prefix, i, word, i % 97, i % 5);
    buf[len++] = ']';
    buf[len] = '\0';
    return buf;
}

static int
add_docs(struct folio_index *idx, const char *prefix, const char *word, int n, uint64_t task)
{
    char *json = docs_json(prefix, word, n);
    struct folio_index_payload p = {
        .format = FOLIO_INDEX_FORMAT_JSON, .data = json, .len = strlen(json)};
    struct folio_index_marker m = iu_marker(task, 100 + task, "ok");
    int rc = folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E);
    folio_free(json);
    return rc;
}

/* estimatedTotalHits of a search for q (exact in folio). */
static uint64_t
search_total(struct folio_index *idx, const char *q)
{
    struct folio_index_search_req req;
    folio_index_search_req_default(&req);
    req.q = q;
    char *json = NULL;
    size_t len;
    assert_int_equal(folio_index_search(idx, &req, &json, &len, &E), 0);
    const char *p = strstr(json, "\"estimatedTotalHits\":");
    assert_non_null(p);
    uint64_t n = strtoull(p + strlen("\"estimatedTotalHits\":"), NULL, 10);
    folio_free(json);
    return n;
}

static char *
settings_text(struct folio_index *idx)
{
    char *json = NULL;
    size_t len;
    assert_int_equal(folio_index_settings_get(idx, &json, &len, &E), 0);
    return json;
}

/* ---- alone ------------------------------------------------------------------- */

static void
test_addition_stops_and_changes_nothing(void **state)
{
    (void)state;
    char *dir;
    struct folio_index *idx = mk_index(&dir);
    assert_int_equal(add_docs(idx, "old", "apple", 3, 2), 0);
    struct stop_at st = {0, 0};
    folio_index_set_stop(idx, stop_fn, &st);
    /* Stopped at the 1st, 2nd, 500th and 1000th (last) of 1,000 documents. */
    const unsigned ats[] = {1, 2, 500, 1000};
    for (size_t k = 0; k < sizeof(ats) / sizeof(ats[0]); k++) {
        st = (struct stop_at){0, ats[k]};
        E.message[0] = '\0';
        assert_int_equal(add_docs(idx, "new", "pear", 1000, 3 + k), FOLIO_E_CANCELED);
        assert_int_equal(st.calls, ats[k]); /* asked once per document, until it said stop */
        assert_non_null(strstr(E.message, "stopped"));
        assert_int_equal(iu_doc_count(idx), 3);
        assert_false(iu_has_doc(idx, "new0"));
        assert_false(iu_has_doc(idx, "new999"));
        assert_int_equal(search_total(idx, "pear"), 0);
        assert_int_equal(search_total(idx, "apple"), 3);
        iu_assert_marker(idx, 2, 102);
        iu_assert_outcome(idx, 3 + k, NULL);
        iu_assert_verified(idx);
    }
    /* The same write, never stopped, applies all of it. */
    st = (struct stop_at){0, 0};
    assert_int_equal(add_docs(idx, "new", "pear", 1000, 9), 0);
    assert_int_equal(st.calls, 1000);
    assert_int_equal(iu_doc_count(idx), 1003);
    assert_int_equal(search_total(idx, "pear"), 1000);
    iu_assert_marker(idx, 9, 109);
    iu_assert_verified(idx);
    /* Unset: nothing is asked. */
    folio_index_set_stop(idx, NULL, NULL);
    st = (struct stop_at){0, 1};
    assert_int_equal(add_docs(idx, "more", "plum", 10, 10), 0);
    assert_int_equal(st.calls, 0);
    assert_int_equal(iu_doc_count(idx), 1013);
    iu_remove(idx, dir);
}

static void
test_filter_deletion_stops(void **state)
{
    (void)state;
    char *dir;
    struct folio_index *idx = mk_index(&dir);
    const char *filterable = "{\"filterableAttributes\":[\"g\"]}";
    struct folio_index_marker m = iu_marker(2, 102, "ok");
    assert_int_equal(folio_index_settings_update(idx, filterable, strlen(filterable), &m, &E), 0);
    assert_int_equal(add_docs(idx, "d", "fig", 1000, 3), 0);
    struct stop_at st = {0, 100};
    folio_index_set_stop(idx, stop_fn, &st);
    m = iu_marker(4, 104, "ok");
    uint64_t deleted = 7;
    assert_int_equal(folio_index_documents_delete_by_filter(idx, "g = 1", &m, &deleted, &E),
                     FOLIO_E_CANCELED);
    assert_int_equal(st.calls, 100);
    assert_int_equal(iu_doc_count(idx), 1000);
    assert_true(iu_has_doc(idx, "d1"));
    assert_true(iu_has_doc(idx, "d996"));
    iu_assert_marker(idx, 3, 103);
    iu_assert_verified(idx);
    st = (struct stop_at){0, 0};
    m = iu_marker(5, 105, "ok");
    assert_int_equal(folio_index_documents_delete_by_filter(idx, "g = 1", &m, &deleted, &E), 0);
    assert_int_equal(deleted, 200); /* ids 1, 6, 11, ... */
    assert_int_equal(st.calls, 200);
    assert_int_equal(iu_doc_count(idx), 800);
    assert_false(iu_has_doc(idx, "d1"));
    iu_assert_verified(idx);
    iu_remove(idx, dir);
}

static void
test_settings_rebuild_stops(void **state)
{
    (void)state;
    char *dir;
    struct folio_index *idx = mk_index(&dir);
    assert_int_equal(add_docs(idx, "s", "kiwi", 600, 2), 0);
    char *before = settings_text(idx);
    struct stop_at st = {0, 300};
    folio_index_set_stop(idx, stop_fn, &st);
    /* Searching only `id` drops the words of `t`: a rebuild over every document. */
    const char *change = "{\"searchableAttributes\":[\"id\"],\"filterableAttributes\":[\"g\"]}";
    struct folio_index_marker m = iu_marker(3, 103, "ok");
    assert_int_equal(folio_index_settings_update(idx, change, strlen(change), &m, &E),
                     FOLIO_E_CANCELED);
    assert_int_equal(st.calls, 300);
    char *after = settings_text(idx);
    assert_string_equal(after, before);
    folio_free(after);
    assert_int_equal(search_total(idx, "kiwi"), 600);
    iu_assert_marker(idx, 2, 102);
    iu_assert_verified(idx);
    /* A change that rebuilds nothing asks nothing. */
    st = (struct stop_at){0, 1};
    const char *plain = "{\"displayedAttributes\":[\"id\",\"t\"]}";
    m = iu_marker(4, 104, "ok");
    assert_int_equal(folio_index_settings_update(idx, plain, strlen(plain), &m, &E), 0);
    assert_int_equal(st.calls, 0);
    st = (struct stop_at){0, 0};
    m = iu_marker(5, 105, "ok");
    assert_int_equal(folio_index_settings_update(idx, change, strlen(change), &m, &E), 0);
    assert_int_equal(search_total(idx, "kiwi"), 0);
    iu_assert_verified(idx);
    folio_free(before);
    iu_remove(idx, dir);
}

/* ---- in a batch -------------------------------------------------------------- */

static void
test_stop_in_batch_keeps_earlier_writes(void **state)
{
    (void)state;
    char *dir;
    struct folio_index *idx = mk_index(&dir);
    assert_int_equal(add_docs(idx, "old", "apple", 5, 2), 0);
    struct stop_at st = {0, 0};
    folio_index_set_stop(idx, stop_fn, &st);
    assert_int_equal(folio_index_batch_begin(idx, &E), 0);
    assert_int_equal(add_docs(idx, "a", "cherry", 50, 3), 0);
    st = (struct stop_at){0, 2500};
    assert_int_equal(add_docs(idx, "b", "grape", 3000, 4), FOLIO_E_CANCELED);
    assert_int_equal(st.calls, 2500);
    assert_false(folio_index_batch_lost(idx));
    /*
     * 110 documents of 10,000 distinct words each: their posting lists
     * overflow the write's change set twice (at the 53rd and the 106th
     * document, seen with a print), so the batch's lists and part of this
     * write's go into its transaction before the stop at the 108th; the stop
     * must take this write's share back out and leave the batch's.
     */
    enum { DOCS = 110, WORDS = 10000 };
    size_t cap = (size_t)DOCS * WORDS * 9 + 4096, n = 0;
    char *big = folio_malloc(cap);
    for (int d = 0; d < DOCS; d++) {
        n += (size_t)snprintf(big + n, cap - n, "%s{\"id\":\"c%d\",\"t\":\"", d ? "," : "[", d);
        for (int k = 0; k < WORDS; k++)
            n += (size_t)snprintf(big + n, cap - n, "%sq%07d", k ? " " : "", d * WORDS + k);
        n += (size_t)snprintf(big + n, cap - n, "\"}");
    }
    n += (size_t)snprintf(big + n, cap - n, "]");
    assert_true(n < cap);
    st = (struct stop_at){0, 108};
    struct folio_index_payload p = {.format = FOLIO_INDEX_FORMAT_JSON, .data = big, .len = n};
    struct folio_index_marker m = iu_marker(5, 105, "ok");
    assert_int_equal(folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E),
                     FOLIO_E_CANCELED);
    assert_int_equal(st.calls, 108);
    folio_free(big);
    assert_false(folio_index_batch_lost(idx));
    assert_int_equal(folio_index_batch_commit(idx, &E), 0);
    assert_int_equal(iu_doc_count(idx), 55);
    assert_true(iu_has_doc(idx, "a49"));
    assert_false(iu_has_doc(idx, "b0"));
    assert_int_equal(search_total(idx, "cherry"), 50);
    assert_int_equal(search_total(idx, "grape"), 0);
    assert_int_equal(search_total(idx, "q0000000"), 0);
    assert_int_equal(search_total(idx, "q1079999"), 0);
    iu_assert_marker(idx, 3, 103);
    iu_assert_outcome(idx, 3, "ok");
    iu_assert_outcome(idx, 4, NULL);
    iu_assert_outcome(idx, 5, NULL);
    iu_assert_verified(idx);
    iu_remove(idx, dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addition_stops_and_changes_nothing),
        cmocka_unit_test(test_filter_deletion_stops),
        cmocka_unit_test(test_settings_rebuild_stops),
        cmocka_unit_test(test_stop_in_batch_keeps_earlier_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
