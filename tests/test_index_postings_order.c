/*
 * Posting lists whose keys share their first bytes, on real LMDB envs. A
 * change set is applied in key order, sorted by the keys' first 8 bytes and
 * then, among keys that share them, by the whole key (index/postings.c,
 * order_sort; a Debug build checks the order it makes). Here one write, and
 * then a batch of one-document writes, touch hundreds of keys that share
 * their first 8 bytes: words `sharedprefix000`.. and the facet values of
 * `genre` (whose keys all start with the tag, "genre", a NUL and the type).
 *
 * Expected results come from the documents the test writes: every genre
 * value is in exactly the document given it, the shared words in all, and
 * folio_index_verify finds every list (the words' too) equal to what the
 * stored documents make.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "indexutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"

static struct folio_index_error E;
static void
add(struct folio_index *idx, const char *json)
{
    struct folio_index_payload p = {
        .format = FOLIO_INDEX_FORMAT_JSON, .data = json, .len = strlen(json)};
    struct folio_index_marker m = iu_next_marker();
    int rc = folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E);
    if (rc != 0)
        fail_msg("add %.200s: %s", json, E.message);
}

static long long
total(struct folio_index *idx, const char *q, const char *filter)
{
    struct folio_index_search_req req;
    folio_index_search_req_default(&req);
    req.q = q;
    req.filter = filter;
    char *res = NULL;
    size_t len = 0;
    int rc = folio_index_search(idx, &req, &res, &len, &E);
    if (rc != 0)
        fail_msg("search %s / %s: %s", q ? q : "", filter ? filter : "", E.message);
    json_error_t jerr;
    json_t *resp = json_loadb(res, len, 0, &jerr);
    assert_non_null(resp);
    long long n = json_integer_value(json_object_get(resp, "estimatedTotalHits"));
    json_decref(resp);
    folio_free(res);
    return n;
}

enum { DOCS = 300, SECOND = 100 };

/* Document i: its own word and genre value, and a word every document has. */
static size_t
doc_json(char *buf, size_t cap, int i, int version)
{
    return (size_t)snprintf(buf, cap,
                            "{\"id\":%d,\"t\":\"sharedprefix%03d common v%d\","
                            "\"genre\":\"genrevalue%03d\"}",
                            i, i, version, i);
}

static void
check_all(struct folio_index *idx, int version_from, int versions_upto)
{
    char q[64], f[96];
    for (int i = 0; i < DOCS; i += 7) {
        /* (a word query would match its neighbours too: typos and prefixes) */
        snprintf(f, sizeof(f), "genre = genrevalue%03d", i);
        assert_int_equal(total(idx, NULL, f), 1);
    }
    assert_int_equal(total(idx, "common", NULL), DOCS);
    long long seen = 0;
    for (int v = version_from; v <= versions_upto; v++) {
        snprintf(q, sizeof(q), "v%d", v);
        seen += total(idx, q, NULL);
    }
    assert_int_equal(seen, DOCS);
    int rc = folio_index_verify(idx, &E);
    if (rc != 0)
        fail_msg("verify: %s", E.message);
}

static void
test_shared_prefixes(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("porder");
    struct folio_index *idx = NULL;
    struct folio_index_marker m = iu_next_marker();
    assert_int_equal(folio_index_create(dir, NULL, "id", &m, &idx, &E), 0);
    const char *set = "{\"filterableAttributes\":[\"genre\"]}";
    m = iu_next_marker();
    assert_int_equal(folio_index_settings_update(idx, set, strlen(set), &m, &E), 0);

    /* one write of every document */
    size_t cap = (size_t)DOCS * 128 + 16, len = 0;
    char *body = folio_malloc(cap);
    body[len++] = '[';
    for (int i = 0; i < DOCS; i++) {
        if (i > 0)
            body[len++] = ',';
        len += doc_json(body + len, cap - len, i, 1);
    }
    body[len++] = ']';
    body[len] = '\0';
    add(idx, body);
    folio_free(body);
    check_all(idx, 1, 1);

    /* a batch of one-document writes replacing the first SECOND documents */
    assert_int_equal(folio_index_batch_begin(idx, &E), 0);
    char one[256];
    for (int i = 0; i < SECOND; i++) {
        doc_json(one, sizeof(one), i, 2);
        add(idx, one);
    }
    assert_int_equal(folio_index_batch_commit(idx, &E), 0);
    check_all(idx, 1, 2);
    assert_int_equal(total(idx, "v2", NULL), SECOND);

    iu_remove(idx, dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
