/*
 * Tests of full-text search and filters (folio_index_search, index.h) on
 * real LMDB envs in temporary directories.
 *
 * Expected values come from the contract in include/folio/index.h and from
 * Meilisearch's documented behaviour (reference/meilisearch-reference.md §7
 * and Meilisearch's filter-parser tests, whose messages are quoted here):
 * normalisation, prefix and typo rules, the ranking order, filter semantics
 * and error wording. Hit lists are written by hand from those rules. The
 * randomized test compares every search with a brute-force search over all
 * documents, written here independently of index/ (its own tokenizer for
 * ASCII text, its own edit distance, its own filter evaluator), after random
 * adds, replaces, merges, deletes, clears, settings changes and reopens; it
 * prints its seed (FOLIO_TEST_SEED=... replays a run).
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "indexutil.h"

#include <ctype.h>
#include <jansson.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"

/* ---- helpers -------------------------------------------------------------- */

static struct folio_index_error E;
static struct folio_index *
mk_index(char **dir, const char *pk)
{
    *dir = tu_mkdtemp("search");
    struct folio_index *idx = NULL;
    struct folio_index_marker m = iu_next_marker();
    int rc = folio_index_create(*dir, NULL, pk, &m, &idx, &E);
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

static void
add_method(struct folio_index *idx, const char *json, enum folio_index_method method)
{
    int rc = iu_add_json(idx, json, method, &E);
    if (rc != 0)
        fprintf(stderr, "add %s: %s\n", json, E.message);
    assert_int_equal(rc, 0);
}

static void
add(struct folio_index *idx, const char *json)
{
    add_method(idx, json, FOLIO_INDEX_REPLACE);
}

static void
settings(struct folio_index *idx, const char *json)
{
    struct folio_index_marker m = iu_next_marker();
    int rc = folio_index_settings_update(idx, json, strlen(json), &m, &E);
    if (rc != 0)
        fprintf(stderr, "settings %s: %s\n", json, E.message);
    assert_int_equal(rc, 0);
}

static void
delete_ids(struct folio_index *idx, const char *const *ids, size_t n)
{
    struct folio_index_marker m = iu_next_marker();
    assert_int_equal(folio_index_documents_delete(idx, ids, n, &m, NULL, &E), 0);
}

static void
clear(struct folio_index *idx)
{
    struct folio_index_marker m = iu_next_marker();
    assert_int_equal(folio_index_documents_clear(idx, &m, NULL, &E), 0);
}

/* Runs a search; returns the rc and, on success, the parsed response in *out. */
static int
search_full(struct folio_index *idx, const char *q, const char *filter, uint64_t offset,
            uint64_t limit, const char *const *attrs, size_t attr_count, json_t **out)
{
    struct folio_index_search_req req;
    folio_index_search_req_default(&req);
    req.q = q;
    req.filter = filter;
    req.offset = offset;
    req.limit = limit;
    req.attributes_to_retrieve = attrs;
    req.attributes_to_retrieve_count = attr_count;
    char *json = NULL;
    size_t len = 0;
    memset(&E, 0, sizeof(E));
    int rc = folio_index_search(idx, &req, &json, &len, &E);
    *out = NULL;
    if (rc == 0) {
        assert_non_null(json);
        assert_int_equal(strlen(json), len);
        json_error_t jerr;
        *out = json_loads(json, 0, &jerr);
        if (*out == NULL)
            fprintf(stderr, "bad response %s: %s\n", json, jerr.text);
        assert_non_null(*out);
    } else {
        assert_null(json);
    }
    folio_free(json);
    return rc;
}

/* The ids of the hits, comma separated ("" when none); caller frees. */
static char *
hit_ids(const json_t *resp)
{
    json_t *hits = json_object_get(resp, "hits");
    assert_true(json_is_array(hits));
    size_t cap = 16 + 24 * json_array_size(hits), n = 0;
    char *s = folio_calloc(cap, 1);
    for (size_t i = 0; i < json_array_size(hits); i++) {
        json_t *id = json_object_get(json_array_get(hits, i), "id");
        if (json_is_integer(id))
            n += (size_t)snprintf(s + n, cap - n, "%s%lld", i ? "," : "",
                                  (long long)json_integer_value(id));
        else if (json_is_string(id))
            n += (size_t)snprintf(s + n, cap - n, "%s%s", i ? "," : "", json_string_value(id));
        else
            n += (size_t)snprintf(s + n, cap - n, "%s?", i ? "," : "");
    }
    return s;
}

/* Searches and checks the hit ids, in order, and the total. */
static void
expect_paged(struct folio_index *idx, const char *q, const char *filter, uint64_t offset,
             uint64_t limit, const char *ids, long long total)
{
    json_t *resp = NULL;
    int rc = search_full(idx, q, filter, offset, limit, NULL, 0, &resp);
    if (rc != 0)
        fprintf(stderr, "search q=%s filter=%s: %s\n", q ? q : "(null)", filter ? filter : "(null)",
                E.message);
    assert_int_equal(rc, 0);
    char *got = hit_ids(resp);
    long long got_total = json_integer_value(json_object_get(resp, "estimatedTotalHits"));
    if (strcmp(got, ids) != 0 || (total >= 0 && got_total != total))
        fprintf(stderr, "q=%s filter=%s: hits [%s] total %lld, expected [%s] total %lld\n",
                q ? q : "(null)", filter ? filter : "(null)", got, got_total, ids, total);
    assert_string_equal(got, ids);
    if (total >= 0)
        assert_int_equal(got_total, total);
    folio_free(got);
    json_decref(resp);
}

static void
expect_hits(struct folio_index *idx, const char *q, const char *ids)
{
    expect_paged(idx, q, NULL, 0, 1000, ids, -1);
}

static void
expect_filter(struct folio_index *idx, const char *filter, const char *ids)
{
    expect_paged(idx, NULL, filter, 0, 1000, ids, -1);
}

/* A filter error: code and the exact message. */
static void
expect_filter_error(struct folio_index *idx, const char *filter, const char *message)
{
    json_t *resp = NULL;
    int rc = search_full(idx, NULL, filter, 0, 20, NULL, 0, &resp);
    if (rc != FOLIO_E_INVALID_SEARCH_FILTER || strcmp(E.message, message) != 0)
        fprintf(stderr, "filter %s: rc %d message\n%s\nexpected\n%s\n", filter, rc, E.message,
                message);
    assert_int_equal(rc, FOLIO_E_INVALID_SEARCH_FILTER);
    assert_string_equal(E.message, message);
    assert_string_equal(folio_err_name(rc), "invalid_search_filter");
}

/* ---- the response ------------------------------------------------------- */

static char *
raw_search(struct folio_index *idx, const struct folio_index_search_req *req)
{
    char *json = NULL;
    size_t len = 0;
    int rc = folio_index_search(idx, req, &json, &len, &E);
    if (rc != 0)
        fprintf(stderr, "search: %s\n", E.message);
    assert_int_equal(rc, 0);
    return json;
}

static void
test_response_shape(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add(idx, "[{\"id\":1,\"title\":\"Star Wars\",\"x\":0.1},{\"id\":2,\"title\":\"Star Trek\"}]");
    struct folio_index_search_req req;
    folio_index_search_req_default(&req);
    assert_int_equal(req.limit, 20);
    assert_int_equal(req.offset, 0);
    assert_null(req.q);
    req.q = "star";
    char *json = raw_search(idx, &req);
    /* Meilisearch's keys in Meilisearch's order; documents as stored. */
    static const char head[] =
        "{\"hits\":[{\"id\":1,\"title\":\"Star Wars\",\"x\":0.1},{\"id\":2,\"title\":\"Star "
        "Trek\"}],\"query\":\"star\",\"processingTimeMs\":";
    static const char tail[] = ",\"limit\":20,\"offset\":0,\"estimatedTotalHits\":2}";
    assert_memory_equal(json, head, strlen(head));
    const char *p = json + strlen(head);
    while (*p >= '0' && *p <= '9')
        p++;
    assert_true(p > json + strlen(head));
    assert_string_equal(p, tail);
    folio_free(json);

    /* No q: the query is "", every document; q is echoed as sent, escaped. */
    req.q = NULL;
    req.limit = 1;
    req.offset = 1;
    json = raw_search(idx, &req);
    assert_non_null(strstr(json, "{\"hits\":[{\"id\":2,\"title\":\"Star Trek\"}],\"query\":\"\","));
    assert_non_null(strstr(json, ",\"limit\":1,\"offset\":1,\"estimatedTotalHits\":2}"));
    folio_free(json);
    req.q = "  \"Star\"\t";
    json = raw_search(idx, &req);
    assert_non_null(strstr(json, "\"query\":\"  \\\"Star\\\"\\t\""));
    folio_free(json);

    /* q must be UTF-8. */
    req.q = "caf\xc3";
    char *none = NULL;
    assert_int_equal(folio_index_search(idx, &req, &none, NULL, &E), FOLIO_E_INVALID_SEARCH_Q);
    assert_null(none);
    assert_string_equal(folio_err_name(FOLIO_E_INVALID_SEARCH_Q), "invalid_search_q");
    rm_index(idx, dir);
}

/* ---- words ----------------------------------------------------------------- */

static void
test_normalisation(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add(idx, "[{\"id\":1,\"t\":\"Caf\xc3\xa9 Cr\xc3\xa8me\"}," /* Café Crème */
             "{\"id\":2,\"t\":\"\xc3\x89"
             "COLE\"},"                                                   /* ÉCOLE */
             "{\"id\":3,\"t\":\"\xef\xac\x81nance\"},"                    /* U+FB01 ligature fi */
             "{\"id\":4,\"t\":\"\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3\"}," /* full-width ABC */
             "{\"id\":5,\"t\":\"Stra\xc3\x9f"
             "e\"}," /* Straße */
             /* 北京大学 */
             "{\"id\":6,\"t\":\"\xe5\x8c\x97\xe4\xba\xac\xe5\xa4\xa7\xe5\xad\xa6\"},"
             "{\"id\":7,\"t\":\"hello-world don't\"},"
             "{\"id\":8,\"t\":\"A\xcc\x8angstr\xc3\xb6m\"}," /* A + U+030A ring, ö */
             "{\"id\":9,\"t\":\"\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0"
             "\xa5\x87\"}]"); /* नमस्ते */
    /* Accents of Latin letters go, case folds, compatibility forms decompose. */
    expect_hits(idx, "cafe ", "1");
    expect_hits(idx, "CAF\xc3\x89 ", "1");
    expect_hits(idx, "creme", "1");
    expect_hits(idx, "ecole", "2");
    expect_hits(idx,
                "\xc3\xa9"
                "cole",
                "2");
    expect_hits(idx, "finance", "3");
    expect_hits(idx, "\xef\xac\x81nance", "3");
    expect_hits(idx, "abc", "4");
    expect_hits(idx, "\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3", "4");
    expect_hits(idx, "STRASSE", "5");
    expect_hits(idx, "\xc3\x85ngstrom", "8");
    expect_hits(idx, "angstr\xc3\x96M ", "8");
    /* Each Han character is a word; separators split words. */
    expect_hits(idx, "\xe5\x8c\x97\xe4\xba\xac", "6");
    expect_hits(idx, "\xe5\xa4\xa7", "6");
    expect_hits(idx, "\xe4\xb8\x9c", "");
    expect_hits(idx, "world", "7");
    expect_hits(idx, "hello ", "7");
    expect_hits(idx, "don t ", "7");
    expect_hits(idx, "helloworld ", "");
    /* Marks of other scripts are part of their letters and stay. */
    expect_hits(idx, "\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87",
                "9");
    /* ASCII text (its own fast path) and the same text beside non-ASCII agree. */
    add(idx, "[{\"id\":10,\"t\":\"Mixed_CASE tab\\there 3.14 x-Y\"},"
             "{\"id\":11,\"t\":\"Mixed_CASE tab\\there 3.14 x-Y \xc3\xbc\"}]");
    expect_hits(idx, "mixed case tab here 3 14 x y ", "10,11");
    expect_hits(idx, "MIXED_case", "10,11");
    expect_hits(idx, "mixedcase ", "");
    expect_hits(idx, "ttab ", "");
    /* A q of separators only is a placeholder search. */
    expect_paged(idx, " -- ! ", NULL, 0, 2, "1,2", 11);
    rm_index(idx, dir);
}

static void
test_prefix(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add(idx, "[{\"id\":1,\"t\":\"star\"},{\"id\":2,\"t\":\"stars\"},{\"id\":3,\"t\":\"start\"},"
             "{\"id\":4,\"t\":\"stellar\"},{\"id\":5,\"t\":\"the star wars\"}]");
    /* The last word is a prefix: every word starting with it. */
    expect_hits(idx, "sta", "1,2,3,5");
    expect_hits(idx, "st", "1,2,3,4,5");
    /* Documents with the word itself before those with a longer word. */
    expect_hits(idx, "star", "1,5,2,3");
    /* A separator after the last word: no prefix. */
    expect_hits(idx, "star ", "1,5");
    expect_hits(idx, "sta ", "");
    /* Only the last word is a prefix. */
    expect_hits(idx, "sta wars", "");
    expect_hits(idx, "star wa", "5");
    expect_hits(idx, "wars star", "5");
    /* Five characters allow a typo, also against prefixes of longer words. */
    expect_hits(idx, "stars", "2,1,3,5");
    /* The first ten words count; after a cut, the tenth is not a prefix. */
    add(idx, "{\"id\":6,\"t\":\"one two three four five six seven eight nine ten\"}");
    expect_hits(idx, "one two three four five six seven eight nine ten", "6");
    expect_hits(idx, "one two three four five six seven eight nine ten zzz", "6");
    expect_hits(idx, "one two three four five six seven eight nine te", "6");
    expect_hits(idx, "one two three four five six seven eight nine te zzz", "");
    expect_hits(idx, "one two three four five six seven eight nine zzz ten", "");
    rm_index(idx, dir);
}

static void
test_typos(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add(idx, "[{\"id\":1,\"t\":\"abcd\"},{\"id\":2,\"t\":\"abcdefgh\"},"
             "{\"id\":3,\"t\":\"abcdefghi\"},{\"id\":4,\"t\":\"hello\"},"
             "{\"id\":5,\"t\":\"strawberry\"}]");
    /* Four characters: no typo. */
    expect_hits(idx, "abcd ", "1");
    expect_hits(idx, "abce ", "");
    expect_hits(idx, "helo ", "");
    /* Five to eight: one (substitution, insertion, deletion, transposition). */
    expect_hits(idx, "hallo ", "4");
    expect_hits(idx, "helloo ", "4");
    expect_hits(idx, "hllo", ""); /* 4 characters */
    expect_hits(idx, "hlelo ", "4");
    expect_hits(idx, "hxllx ", "");
    expect_hits(idx, "abcdefgx ", "2");
    expect_hits(idx, "abcdefxx ", "");
    /* Nine and more: two. */
    expect_hits(idx, "abcdefgxx ", "2,3");
    expect_hits(idx, "abcdefxxx ", "");
    expect_hits(idx, "strawbery ", "5"); /* 9 characters, 1 typo */
    expect_hits(idx, "strwbeery ", "5"); /* 9 characters, 2 typos */
    expect_hits(idx, "strwbery ", "");   /* 8 characters, 2 typos */
    /* The prefix word: typos against the closest prefix. */
    expect_hits(idx, "strwb", "5");
    expect_hits(idx, "strwbx", "");
    expect_hits(idx, "strw", "");
    /* Fewer typos first. */
    add(idx, "{\"id\":6,\"t\":\"hellp\"}");
    expect_hits(idx, "hellp ", "6,4");
    expect_hits(idx, "hello ", "4,6");
    /* Typos add up over the words: 2 + 1 (7) after 0 + 1 (8) after 0 + 0 (9). */
    add(idx, "[{\"id\":7,\"t\":\"abcdefghi hello\"},{\"id\":8,\"t\":\"abcdefgxx hello\"},"
             "{\"id\":9,\"t\":\"abcdefgxx hellp\"}]");
    expect_hits(idx, "abcdefgxx hellp ", "9,8,7");
    /*
     * The walk skips the keys under a prefix that cannot match ("hxlln": two
     * typos already) by seeking to the prefix with its last byte incremented,
     * "hxllo": which is a word, and matches. Nothing may skip it.
     */
    add(idx, "{\"id\":20,\"t\":\"hxllna hxllnb hxllnc hxllnd hxllne hxllnf hxllo\"}");
    expect_hits(idx, "hello ", "4,7,8,6,9,20");
    rm_index(idx, dir);
}

static void
test_ranking_order(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add(idx, "[{\"id\":1,\"title\":\"x\",\"body\":\"quick brownie\"},"
             "{\"id\":2,\"title\":\"quick brown\",\"body\":\"x\"},"
             "{\"id\":3,\"title\":\"x\",\"body\":\"quick brown\"},"
             "{\"id\":4,\"title\":\"quack brown\",\"body\":\"x\"},"
             "{\"id\":5,\"title\":\"quick brwn\",\"body\":\"x\"},"
             "{\"id\":6,\"title\":\"quick\",\"body\":\"brown\"},"
             "{\"id\":7,\"title\":\"quick brown\",\"body\":\"y\"}]");
    /*
     * typos 0: 1 2 3 6 7, of which 2 3 6 7 hold "brown" itself; attribute
     * sums (id 0, title 1, body 2): 2 and 7 -> 2, 6 -> 3, 3 -> 4; then 1.
     * typos 1: 4 (quack, brown itself), 5 (brwn: not the word itself).
     */
    expect_hits(idx, "quick brown", "2,7,6,3,1,4,5");
    expect_paged(idx, "quick brown", NULL, 2, 3, "6,3,1", 7);
    expect_paged(idx, "quick brown", NULL, 5, 5, "4,5", 7);
    /* Every word must match. */
    expect_hits(idx, "quick brown zebra", "");
    rm_index(idx, dir);
}

static void
test_attribute_ranking(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add(idx, "[{\"id\":1,\"body\":\"apple\",\"title\":\"x\"},{\"id\":2,\"title\":\"apple\"},"
             "{\"id\":3,\"other\":\"apple\"},{\"id\":4,\"meta\":{\"title\":\"apple\"}}]");
    /* "*": the position of the top-level field in each document. */
    expect_hits(idx, "apple ", "1,2,3,4");
    settings(idx, "{\"searchableAttributes\":[\"title\",\"body\"]}");
    iu_assert_verified(idx);
    expect_hits(idx, "apple ", "2,1");
    settings(idx, "{\"searchableAttributes\":[\"body\",\"title\"]}");
    expect_hits(idx, "apple ", "1,2");
    /* A nested attribute, and an attribute covering what is below it. */
    settings(idx, "{\"searchableAttributes\":[\"meta.title\",\"body\"]}");
    expect_hits(idx, "apple ", "4,1");
    settings(idx, "{\"searchableAttributes\":[\"meta\",\"other\"]}");
    expect_hits(idx, "apple ", "4,3");
    iu_assert_verified(idx);
    settings(idx, "{\"searchableAttributes\":null}");
    expect_hits(idx, "apple ", "1,2,3,4");
    /* A document changed after a settings change is indexed the new way. */
    settings(idx, "{\"searchableAttributes\":[\"title\"]}");
    add(idx, "{\"id\":5,\"body\":\"apple\",\"title\":\"apple pie\"}");
    expect_hits(idx, "apple ", "2,5");
    expect_hits(idx, "pie", "5");
    iu_assert_verified(idx);
    rm_index(idx, dir);
}

/* Documents of 50 fields: attribute ranks up to 49, so sums of three words pass 120. */
static void
test_attribute_ranking_many_fields(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, "id");
    static const struct {
        int id;
        int kiwi, lime, plum; /* fields holding each word (all three in one: the same) */
    } docs[] = {{10, 40, 41, 42}, {11, 1, 2, 43}, {12, 44, 44, 44}, {13, 2, 1, 43}, {14, 1, 2, 3}};
    char body[8192];
    size_t n = (size_t)sprintf(body, "[");
    for (size_t d = 0; d < FOLIO_ARRAY_LEN(docs); d++) {
        n += (size_t)sprintf(body + n, "%s{\"id\":%d", d ? "," : "", docs[d].id);
        for (int f = 1; f < 50; f++) {
            bool late = docs[d].id == 14 && f == 47; /* 14 holds them again, far off */
            n += (size_t)sprintf(
                body + n, ",\"f%d\":\"pad%s%s%s\"", f, docs[d].kiwi == f || late ? " kiwi" : "",
                docs[d].lime == f || late ? " lime" : "", docs[d].plum == f || late ? " plum" : "");
        }
        n += (size_t)sprintf(body + n, "}");
    }
    sprintf(body + n, "]");
    add(idx, body);
    /*
     * Sums of the best ranks: 6 (14: its best, not its later fields), 46 (11, 13),
     * 123 (10), 132 (12); ties by id. Two words are ranked with bitmaps, three
     * (more than RANK_SUM_OPS_MAX operations) document by document. With two
     * words, 11, 13 and 14 all sum to 3.
     */
    expect_hits(idx, "kiwi lime ", "11,13,14,10,12");
    expect_hits(idx, "kiwi lime plum ", "14,11,13,10,12");
    expect_hits(idx, "plum lime kiwi", "14,11,13,10,12");
    expect_paged(idx, "kiwi lime plum ", NULL, 2, 2, "13,10", 5);
    expect_hits(idx, "plum ", "14,10,11,13,12");
    rm_index(idx, dir);
}

/* ---- filters ---------------------------------------------------------------- */

static void
test_filters(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add(idx, "[{\"id\":1,\"genre\":\"Drama\",\"year\":1999,\"tags\":[\"a\",\"b\"],\"ok\":true},"
             "{\"id\":2,\"genre\":\"comedy\",\"year\":2005,\"tags\":[\"b\"],\"ok\":false,"
             "\"extra\":null},"
             "{\"id\":3,\"genre\":\"Drama Queen\",\"year\":2010.5,\"sub\":{\"x\":5}},"
             "{\"id\":4,\"year\":\"1999\"},"
             "{\"id\":5,\"genre\":\" DRAMA \",\"tags\":[]}]");
    settings(idx, "{\"filterableAttributes\":[\"genre\",\"year\",\"tags\",\"ok\",\"sub\","
                  "\"extra\"]}");
    iu_assert_verified(idx);
    /* Strings compare case-insensitively and trimmed; quotes either way. */
    expect_filter(idx, "genre = drama", "1,5");
    expect_filter(idx, "genre = \"Drama Queen\"", "3");
    expect_filter(idx, "genre = 'drama queen'", "3");
    expect_filter(idx, "genre='DRAMA'", "1,5");
    /* != holds where the attribute is missing too. */
    expect_filter(idx, "genre != drama", "2,3,4");
    /* Numbers; a value that reads as a number matches numbers and strings. */
    expect_filter(idx, "year = 1999", "1,4");
    expect_filter(idx, "year = 1999.0", "1");
    expect_filter(idx, "year > 2000", "2,3");
    expect_filter(idx, "year >= 2005", "2,3");
    expect_filter(idx, "year > 2005", "3");
    expect_filter(idx, "year < 2005", "1,4"); /* the string "1999" < "2005" too */
    expect_filter(idx, "year <= 1999", "1,4");
    expect_filter(idx, "year < 1999", "");
    expect_filter(idx, "year 2000 TO 2010.5", "2,3");
    expect_filter(idx, "year 1999 TO 2005", "1,2,4");
    expect_filter(idx, "year > 1e3", "1,2,3");
    expect_filter(idx, "year >= -5", "1,2,3,4");
    /* IN, NOT IN, arrays. */
    expect_filter(idx, "tags IN [a, c]", "1");
    expect_filter(idx, "tags IN [b]", "1,2");
    expect_filter(idx, "tags IN []", "");
    expect_filter(idx, "tags IN [ 'b' , a , ]", "1,2");
    expect_filter(idx, "tags NOT IN [b]", "3,4,5");
    expect_filter(idx, "genre IN [comedy, \"drama queen\"]", "2,3");
    /* EXISTS: null and [] exist. */
    expect_filter(idx, "extra EXISTS", "2");
    expect_filter(idx, "extra NOT EXISTS", "1,3,4,5");
    expect_filter(idx, "tags EXISTS", "1,2,5");
    expect_filter(idx, "sub EXISTS", "3");
    /* Booleans as strings; nested attributes under a filterable one. */
    expect_filter(idx, "ok = true", "1");
    expect_filter(idx, "ok = false", "2");
    expect_filter(idx, "sub.x = 5", "3");
    expect_filter(idx, "sub.x > 4", "3");
    /* NOT, AND, OR, parentheses, precedence (AND binds tighter). */
    expect_filter(idx, "NOT genre = drama", "2,3,4");
    expect_filter(idx, "NOT NOT genre = comedy", "2");
    expect_filter(idx, "genre = drama AND year > 1990", "1");
    expect_filter(idx, "genre = drama OR year > 2006", "1,3,5");
    expect_filter(idx, "(genre = drama OR genre = comedy) AND NOT ok = true", "2,5");
    expect_filter(idx, "genre = comedy OR genre = drama AND year = 1999", "1,2");
    expect_filter(idx, "(genre = comedy OR genre = drama) AND year = 1999", "1");
    expect_filter(idx, "NOT (year > 2000 OR tags EXISTS)", "4");
    expect_filter(idx, "genre = drama AND (tags IN [a] OR tags NOT EXISTS)", "1");
    /* Blank: no filter. With q: both must hold. */
    expect_filter(idx, "   ", "1,2,3,4,5");
    expect_paged(idx, "drama", "year > 2000", 0, 20, "3", 1);
    expect_paged(idx, "drama", "NOT genre = 'drama queen'", 0, 20, "1,5", 2);
    /* Keywords can be used quoted. */
    add(idx, "{\"id\":6,\"genre\":\"AND\"}");
    expect_filter(idx, "genre = 'AND'", "6");
    iu_assert_verified(idx);
    rm_index(idx, dir);
}

#define OPS                                                                                        \
    "Was expecting an operation `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, `TO`, "           \
    "`EXISTS` or `NOT EXISTS`"

static void
test_filter_errors(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add(idx, "{\"id\":1,\"title\":\"a\"}");
    /* Syntax, with Meilisearch's wording and columns (its filter-parser tests). */
    expect_filter_error(idx, "channel = Ponce = 12",
                        "Found unexpected characters at the end of the filter: `= 12`. You "
                        "probably forgot an `OR` or an `AND` rule.\n17:21 channel = Ponce = 12");
    expect_filter_error(idx, "channel =    ",
                        "Was expecting a value but instead got nothing.\n14:14 channel =    ");
    expect_filter_error(idx, "channel = \xf0\x9f\x90\xbb",
                        "Was expecting a value but instead got `\xf0\x9f\x90\xbb`.\n11:12 "
                        "channel = \xf0\x9f\x90\xbb");
    expect_filter_error(idx, "channel = \xf0\x9f\x90\xbb AND followers < 100",
                        "Was expecting a value but instead got `\xf0\x9f\x90\xbb`.\n11:12 "
                        "channel = \xf0\x9f\x90\xbb AND followers < 100");
    expect_filter_error(idx, "'OR'", OPS " at `\\'OR\\'`.\n1:5 'OR'");
    expect_filter_error(idx, "OR",
                        "Was expecting a value but instead got `OR`, which is a reserved "
                        "keyword. To use `OR` as a field name or a value, surround it by "
                        "quotes.\n1:3 OR");
    expect_filter_error(idx, "channel Ponce", OPS " at `channel Ponce`.\n1:14 channel Ponce");
    expect_filter_error(idx, "channel = Ponce OR",
                        OPS " but instead got nothing.\n19:19 channel = Ponce OR");
    expect_filter_error(idx, "channel = 'ponce",
                        "Expression `\\'ponce` is missing the following closing delimiter: "
                        "`'`.\n11:17 channel = 'ponce");
    expect_filter_error(idx, "channel = \"ponce",
                        "Expression `\\\"ponce` is missing the following closing delimiter: "
                        "`\"`.\n11:17 channel = \"ponce");
    expect_filter_error(idx, "channel = mv OR (followers >= 1000",
                        "Expression `(followers >= 1000` is missing the following closing "
                        "delimiter: `)`.\n17:35 channel = mv OR (followers >= 1000");
    expect_filter_error(idx, "channel = mv OR followers >= 1000)",
                        "Found unexpected characters at the end of the filter: `)`. You probably "
                        "forgot an `OR` or an `AND` rule.\n34:35 channel = mv OR followers >= "
                        "1000)");
    expect_filter_error(idx, "colour NOT EXIST",
                        OPS " at `colour NOT EXIST`.\n1:17 colour NOT EXIST");
    expect_filter_error(idx, "subscribers 100 TO1000",
                        OPS " at `subscribers 100 TO1000`.\n1:23 subscribers 100 TO1000");
    expect_filter_error(idx, "channel = ponce ORdog != 'bernese mountain'",
                        "Found unexpected characters at the end of the filter: `ORdog != "
                        "\\'bernese mountain\\'`. You probably forgot an `OR` or an `AND` "
                        "rule.\n17:44 channel = ponce ORdog != 'bernese mountain'");
    expect_filter_error(idx, "colour IN blue, green]",
                        "Expected `[` after `IN` keyword.\n11:23 colour IN blue, green]");
    expect_filter_error(idx, "colour IN [blue, green, 'blue' > 2]",
                        "Expected only comma-separated field names inside `IN[..]` but instead "
                        "found `> 2]`.\n32:36 colour IN [blue, green, 'blue' > 2]");
    expect_filter_error(idx, "colour IN [blue, green, AND]",
                        "Expected only comma-separated field names inside `IN[..]` but instead "
                        "found `AND]`.\n25:29 colour IN [blue, green, AND]");
    expect_filter_error(idx, "colour IN [blue, green",
                        "Expected matching `]` after the list of field names given to "
                        "`IN[`\n23:23 colour IN [blue, green");
    expect_filter_error(idx, "colour IN ['blue, green",
                        "Expression `\\'blue, green` is missing the following closing "
                        "delimiter: `'`.\n12:24 colour IN ['blue, green");
    expect_filter_error(idx, "x = EXISTS",
                        "Was expecting a value but instead got `EXISTS`, which is a reserved "
                        "keyword. To use `EXISTS` as a field name or a value, surround it by "
                        "quotes.\n5:11 x = EXISTS");
    expect_filter_error(idx, "AND = 8",
                        "Was expecting a value but instead got `AND`, which is a reserved "
                        "keyword. To use `AND` as a field name or a value, surround it by "
                        "quotes.\n1:4 AND = 8");
    expect_filter_error(idx, "NOT OR EXISTS AND EXISTS NOT EXISTS",
                        "Was expecting a value but instead got `OR`, which is a reserved "
                        "keyword. To use `OR` as a field name or a value, surround it by "
                        "quotes.\n5:7 NOT OR EXISTS AND EXISTS NOT EXISTS");
    expect_filter_error(idx, "value NULL", OPS " at `value NULL`.\n1:11 value NULL");
    expect_filter_error(idx, "value IS NULL", OPS " at `value IS NULL`.\n1:14 value IS NULL");
    expect_filter_error(idx, "title = a AND", OPS " but instead got nothing.\n14:14 title = a AND");
    /* Nesting: 49 parentheses are fine, 50 are too deep (Meilisearch's limit). */
    char deep[200];
    size_t n = 0;
    for (int i = 0; i < 50; i++)
        deep[n++] = '(';
    n += (size_t)sprintf(deep + n, "x = 1");
    for (int i = 0; i < 50; i++)
        deep[n++] = ')';
    deep[n] = '\0';
    char expected[400];
    snprintf(expected, sizeof(expected),
             "The filter exceeded the maximum depth limit. Try rewriting the filter so that it "
             "contains fewer nested conditions.\n51:106 %s",
             deep);
    expect_filter_error(idx, deep, expected);
    settings(idx, "{\"filterableAttributes\":[\"x\"]}");
    deep[n - 1] = '\0';
    expect_filter(idx, deep + 1, ""); /* 49 on each side */
    /* Not UTF-8. */
    json_t *resp = NULL;
    assert_int_equal(search_full(idx, NULL, "x = \xff", 0, 20, NULL, 0, &resp),
                     FOLIO_E_INVALID_SEARCH_FILTER);
    rm_index(idx, dir);
}

static void
test_filter_not_filterable(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add(idx, "{\"id\":1,\"title\":\"a\"}");
    expect_filter_error(idx, "cid = 1",
                        "Attribute `cid` is not filterable. This index does not have configured "
                        "filterable attributes.\n1:4 cid = 1");
    settings(idx, "{\"filterableAttributes\":[\"title\",\"id\"]}");
    expect_filter_error(idx, "catto = jorts",
                        "Attribute `catto` is not filterable. Available filterable attributes "
                        "are: `id`, `title`.\n1:6 catto = jorts");
    /* The first attribute that is not filterable, wherever it is; quoted names. */
    expect_filter_error(idx, "title = a AND NOT (id = 1 OR many EXISTS)",
                        "Attribute `many` is not filterable. Available filterable attributes "
                        "are: `id`, `title`.\n30:34 title = a AND NOT (id = 1 OR many EXISTS)");
    expect_filter_error(idx, "'dog race' = x",
                        "Attribute `dog race` is not filterable. Available filterable attributes "
                        "are: `id`, `title`.\n2:10 'dog race' = x");
    /* A parent attribute is not filterable because a child is. */
    settings(idx, "{\"filterableAttributes\":[\"a.b\"]}");
    expect_filter_error(idx, "a = 1",
                        "Attribute `a` is not filterable. Available filterable attributes are: "
                        "`a.b`.\n1:2 a = 1");
    expect_filter(idx, "a.b.c = 1", "");
    /* "*" makes everything filterable. */
    settings(idx, "{\"filterableAttributes\":[\"*\"]}");
    expect_filter(idx, "title = A", "1");
    expect_filter(idx, "id = 1", "1");
    iu_assert_verified(idx);
    rm_index(idx, dir);
}

/* ---- pages and attributes ---------------------------------------------------- */

static void
test_pagination(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    char body[4096];
    size_t n = (size_t)sprintf(body, "[");
    for (int i = 1; i <= 30; i++)
        n += (size_t)sprintf(body + n, "%s{\"id\":%d,\"t\":\"common %s\",\"n\":%d}",
                             i > 1 ? "," : "", i, i % 3 == 0 ? "three" : "other", i);
    sprintf(body + n, "]");
    add(idx, body);
    settings(idx, "{\"filterableAttributes\":[\"n\"]}");
    expect_paged(idx, "common", NULL, 0, 20, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20",
                 30);
    expect_paged(idx, "common", NULL, 25, 10, "26,27,28,29,30", 30);
    expect_paged(idx, "common", NULL, 29, 1, "30", 30);
    expect_paged(idx, "common", NULL, 30, 10, "", 30);
    expect_paged(idx, "common", NULL, 1ull << 62, 1ull << 62, "", 30);
    expect_paged(idx, "common", NULL, 3, 0, "", 30);
    expect_paged(idx, "common three", NULL, 2, 3, "9,12,15", 10);
    expect_paged(idx, "three", "n > 20", 0, 20, "21,24,27,30", 4);
    expect_paged(idx, "three", "n > 20", 1, 2, "24,27", 4);
    /* Placeholder: id order, filtered or not. */
    expect_paged(idx, NULL, NULL, 5, 3, "6,7,8", 30);
    expect_paged(idx, "", NULL, 28, 5, "29,30", 30);
    expect_paged(idx, NULL, "n <= 10 AND NOT n = 5", 6, 20, "8,9,10", 9);
    expect_paged(idx, NULL, "n > 100", 0, 20, "", 0);
    expect_paged(idx, "nothing", NULL, 0, 20, "", 0);
    /* After deletes the total follows. */
    static const char *const gone[] = {"3", "6", "30"};
    delete_ids(idx, gone, 3);
    expect_paged(idx, "three", NULL, 0, 20, "9,12,15,18,21,24,27", 7);
    expect_paged(idx, NULL, NULL, 0, 3, "1,2,4", 27);
    rm_index(idx, dir);
}

static void
expect_retrieved(struct folio_index *idx, const char *const *attrs, size_t count,
                 const char *expected)
{
    struct folio_index_search_req req;
    folio_index_search_req_default(&req);
    req.attributes_to_retrieve = attrs;
    req.attributes_to_retrieve_count = count;
    char *json = raw_search(idx, &req);
    char head[1024];
    snprintf(head, sizeof(head), "{\"hits\":[%s],", expected);
    if (strncmp(json, head, strlen(head)) != 0)
        fprintf(stderr, "got %s\nexpected %s\n", json, head);
    assert_memory_equal(json, head, strlen(head));
    folio_free(json);
}

static void
test_attributes_to_retrieve(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    static const char doc[] = "{\"id\":1,\"title\":\"T\",\"meta\":{\"a\":1,\"b\":2},"
                              "\"list\":[{\"x\":1,\"y\":2},{\"x\":3},5]}";
    add(idx, doc);
    expect_retrieved(idx, NULL, 0, doc);
    static const char *const star[] = {"title", "*"};
    expect_retrieved(idx, star, 2, doc);
    static const char *const title[] = {"title"};
    expect_retrieved(idx, title, 1, "{\"title\":\"T\"}");
    static const char *const nested[] = {"list.x", "meta.a"};
    expect_retrieved(idx, nested, 2, "{\"meta\":{\"a\":1},\"list\":[{\"x\":1},{\"x\":3}]}");
    static const char *const none[] = {"nope"};
    expect_retrieved(idx, none, 1, "{}");
    expect_retrieved(idx, none, 0, "{}"); /* an empty list retrieves nothing */
    /* displayedAttributes limits what any request gets. */
    settings(idx, "{\"displayedAttributes\":[\"id\",\"meta\"]}");
    expect_retrieved(idx, NULL, 0, "{\"id\":1,\"meta\":{\"a\":1,\"b\":2}}");
    static const char *const title_id[] = {"title", "id"};
    expect_retrieved(idx, title_id, 2, "{\"id\":1}");
    static const char *const meta_b[] = {"meta.b"};
    expect_retrieved(idx, meta_b, 1, "{\"meta\":{\"b\":2}}");
    settings(idx, "{\"displayedAttributes\":[\"meta.a\",\"title\"]}");
    expect_retrieved(idx, NULL, 0, "{\"title\":\"T\",\"meta\":{\"a\":1}}");
    settings(idx, "{\"displayedAttributes\":null}");
    expect_retrieved(idx, NULL, 0, doc);
    rm_index(idx, dir);
}

/* ---- posting lists follow every write ------------------------------------------ */

static void
test_writes_keep_postings(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    settings(idx, "{\"filterableAttributes\":[\"color\"]}");
    add(idx, "[{\"id\":1,\"t\":\"alpha beta\",\"color\":\"red\"},"
             "{\"id\":2,\"t\":\"gamma\",\"color\":\"blue\"}]");
    expect_hits(idx, "alpha ", "1");
    expect_filter(idx, "color = red", "1");
    /* Replace: the old words and values go, the new ones come. */
    add(idx, "{\"id\":1,\"t\":\"delta\",\"color\":\"green\"}");
    expect_hits(idx, "alpha ", "");
    expect_hits(idx, "beta ", "");
    expect_hits(idx, "delta ", "1");
    expect_filter(idx, "color = red", "");
    expect_filter(idx, "color = green", "1");
    iu_assert_verified(idx);
    /* Update: merged, kept words stay. */
    add_method(idx, "{\"id\":1,\"u\":\"epsilon\"}", FOLIO_INDEX_UPDATE);
    expect_hits(idx, "delta epsilon", "1");
    expect_filter(idx, "color = green", "1");
    add_method(idx, "{\"id\":1,\"color\":\"blue\"}", FOLIO_INDEX_UPDATE);
    expect_filter(idx, "color = blue", "1,2");
    expect_filter(idx, "color = green", "");
    iu_assert_verified(idx);
    /* One payload replacing the same document twice: the last version wins. */
    add(idx, "[{\"id\":2,\"t\":\"one\"},{\"id\":2,\"t\":\"two\",\"color\":\"red\"}]");
    expect_hits(idx, "one ", "");
    expect_hits(idx, "gamma ", "");
    expect_hits(idx, "two ", "2");
    expect_filter(idx, "color = red", "2");
    iu_assert_verified(idx);
    /* Delete. */
    static const char *const one[] = {"1"};
    delete_ids(idx, one, 1);
    expect_hits(idx, "delta ", "");
    expect_filter(idx, "color = blue", "");
    expect_filter(idx, "NOT color = red", "");
    expect_paged(idx, NULL, NULL, 0, 20, "2", 1);
    iu_assert_verified(idx);
    /* Clear; ids are not reused, the new documents are found. */
    clear(idx);
    expect_hits(idx, "two ", "");
    expect_paged(idx, NULL, NULL, 0, 20, "", 0);
    expect_filter(idx, "NOT color = red", "");
    iu_assert_verified(idx);
    add(idx, "[{\"id\":3,\"t\":\"two\"},{\"id\":2,\"t\":\"zeta\"}]");
    expect_hits(idx, "two ", "3");
    expect_hits(idx, "zeta", "2");
    expect_paged(idx, NULL, NULL, 0, 20, "3,2", 2); /* internal id order */
    iu_assert_verified(idx);
    /* A failed write changes no posting list. */
    struct folio_index_payload bad = {.format = FOLIO_INDEX_FORMAT_JSON,
                                      .data = "[{\"id\":4,\"t\":\"omega\"},{\"t\":\"x\"}]"};
    bad.len = strlen(bad.data);
    struct folio_index_marker m = iu_next_marker();
    assert_int_equal(folio_index_documents_add(idx, &bad, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E),
                     FOLIO_E_MISSING_DOCUMENT_ID);
    expect_hits(idx, "omega", "");
    iu_assert_verified(idx);
    rm_index(idx, dir);
}

static void
test_settings_rebuild(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add(idx, "[{\"id\":1,\"title\":\"red apple\",\"body\":\"fruit\",\"genre\":\"food\"},"
             "{\"id\":2,\"title\":\"blue car\",\"body\":\"apple fruit\",\"genre\":\"auto\"}]");
    expect_filter_error(idx, "genre = food",
                        "Attribute `genre` is not filterable. This index does not have "
                        "configured filterable attributes.\n1:6 genre = food");
    settings(idx, "{\"filterableAttributes\":[\"genre\"]}");
    expect_filter(idx, "genre = food", "1");
    iu_assert_verified(idx);
    settings(idx, "{\"searchableAttributes\":[\"title\"]}");
    expect_hits(idx, "fruit", "");
    expect_hits(idx, "apple", "1");
    expect_filter(idx, "genre = auto", "2"); /* facets untouched */
    iu_assert_verified(idx);
    /* A reset brings every default back, and the lists with them. */
    struct folio_index_marker m = iu_next_marker();
    assert_int_equal(folio_index_settings_reset(idx, &m, &E), 0);
    expect_hits(idx, "fruit", "1,2");
    expect_filter_error(idx, "genre = food",
                        "Attribute `genre` is not filterable. This index does not have "
                        "configured filterable attributes.\n1:6 genre = food");
    iu_assert_verified(idx);
    /* A failed settings update rebuilds nothing. */
    static const char bad[] = "{\"filterableAttributes\":[\"genre\"],\"rankingRules\":[\"x\"]}";
    m = iu_next_marker();
    assert_int_equal(folio_index_settings_update(idx, bad, strlen(bad), &m, &E),
                     FOLIO_E_INVALID_SETTINGS);
    expect_filter_error(idx, "genre = food",
                        "Attribute `genre` is not filterable. This index does not have "
                        "configured filterable attributes.\n1:6 genre = food");
    iu_assert_verified(idx);
    rm_index(idx, dir);
}

/* ---- reopening, format 1, damage ------------------------------------------------- */

static void
raw_open(const char *dir, unsigned flags, MDB_env **env, MDB_txn **txn)
{
    assert_int_equal(mdb_env_create(env), 0);
    assert_int_equal(mdb_env_set_maxdbs(*env, 16), 0);
    assert_int_equal(mdb_env_open(*env, dir, flags, 0600), 0);
    assert_int_equal(mdb_txn_begin(*env, NULL, flags & MDB_RDONLY, txn), 0);
}

/* Makes a closed env what a format-1 build wrote: no search structures or fields, version 1. */
static void
make_format1(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, 0, &env, &txn);
    static const char *const names[] = {"words", "word_ranks", "facets", "fields"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(mdb_dbi_open(txn, names[i], 0, &dbi), 0);
        assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    }
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {12, "document_ids"}, v = {4, "\x01\0\0\0"};
    assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    k.mv_size = 14;
    k.mv_data = "format_version";
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
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

static void
test_reopen_and_format1(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add(idx, "[{\"id\":1,\"t\":\"alpha\",\"c\":\"x\"},{\"id\":2,\"t\":\"beta\",\"c\":\"y\"}]");
    settings(idx, "{\"filterableAttributes\":[\"c\"]}");
    struct folio_index_stats *s = NULL;
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    struct folio_index_marker marker = s->marker;
    int64_t updated_at_ns = s->updated_at_ns;
    folio_index_stats_free(s);
    folio_index_free(idx);
    assert_int_equal(raw_format_version(dir), 3);

    /* Reopened: everything is still there. */
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    expect_hits(idx, "alpha", "1");
    expect_filter(idx, "c = y", "2");
    iu_assert_verified(idx);
    folio_index_free(idx);

    /* Format 1 read-only: opens, verifies, cannot be searched, is not changed. */
    make_format1(dir);
    struct folio_index_options ro;
    folio_index_options_default(&ro);
    ro.read_only = true;
    assert_int_equal(folio_index_open(dir, &ro, &idx, &E), 0);
    iu_assert_verified(idx);
    json_t *resp = NULL;
    assert_int_equal(search_full(idx, "alpha", NULL, 0, 20, NULL, 0, &resp), FOLIO_E_VERSION);
    assert_non_null(strstr(E.message, "open it read-write once"));
    folio_index_free(idx);
    assert_int_equal(raw_format_version(dir), 1);

    /* Read-write: upgraded in one write that keeps the marker and the times. */
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    assert_int_equal(raw_format_version(dir), 3);
    expect_hits(idx, "alpha", "1");
    expect_filter(idx, "c = y", "2");
    expect_paged(idx, NULL, "NOT c = y", 0, 20, "1", 1);
    iu_assert_verified(idx);
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    assert_int_equal(s->marker.task_uid, marker.task_uid);
    assert_int_equal(s->marker.batch_seq, marker.batch_seq);
    assert_int_equal(s->updated_at_ns, updated_at_ns);
    folio_index_stats_free(s);
    /* Later writes keep it up to date. */
    add(idx, "{\"id\":3,\"t\":\"alphabet\",\"c\":\"y\"}");
    expect_hits(idx, "alpha", "1,3");
    iu_assert_verified(idx);
    /* A version this build does not know is refused. */
    folio_index_free(idx);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, 0, &env, &txn);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {14, "format_version"}, v = {4, "\x04\0\0\0"};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), FOLIO_E_VERSION);
    tu_rmrf(dir);
    folio_free(dir);
}

/* Replaces the value of `words` key word in a closed env. */
static void
damage_word(const char *dir, const char *word, const void *value, size_t len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, 0, &env, &txn);
    assert_int_equal(mdb_dbi_open(txn, "words", 0, &dbi), 0);
    MDB_val k = {strlen(word), (void *)word}, v = {len, (void *)value};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void
test_posting_list_bytes(void **state)
{
    char *dir;
    struct folio_index *idx = mk_index(&dir, NULL);
    add(idx, "[{\"id\":1,\"t\":\"alpha\"},{\"id\":2,\"t\":\"beta\"},{\"id\":3,\"t\":\"gamma\"}]");
    folio_index_free(idx);
    /*
     * The portable roaring format written by hand (docs/index-format.md):
     * cookie 12346, one container, key 0, cardinality - 1, offset 16, then
     * the sorted 16-bit values. {0, 2}: "alpha" now finds documents 1 and 3.
     */
    static const uint8_t good[] = {0x3a, 0x30, 0,  0, 1, 0, 0, 0, 0, 0,
                                   1,    0,    16, 0, 0, 0, 0, 0, 2, 0};
    damage_word(dir, "alpha", good, sizeof(good));
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    expect_hits(idx, "alpha", "1,3");
    assert_int_equal(folio_index_verify(idx, &E), FOLIO_E_CORRUPT);
    assert_non_null(strstr(E.message, "`words` entry `alpha` lists 2 documents; the documents "
                                      "make 1"));
    folio_index_free(idx);

    /* Malformed values are refused before CRoaring sees them (it would print or crash). */
    struct {
        const char *what;
        uint8_t bytes[24];
        size_t len;
    } bad[] = {
        {"unsorted", {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 2, 0, 0, 0}, 20},
        {"card", {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 16, 0, 0, 0, 0, 0, 2, 0}, 20},
        {"offset", {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 17, 0, 0, 0, 0, 0, 2, 0}, 20},
        {"trailing", {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 0, 0, 2, 0, 0}, 21},
        {"short", {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 0, 0}, 18},
        {"cookie", {0x3b, 0x31, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 0, 0, 2, 0}, 20},
        {"runs overlap", {0x3b, 0x30, 0, 0, 1, 0, 0, 3, 0, 2, 0, 0, 0, 1, 0, 1, 0, 1, 0}, 19},
        {"empty", {0}, 0},
    };
    char *err_path = tu_path(dir, "stderr.txt");
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(bad); i++) {
        damage_word(dir, "alpha", bad[i].bytes, bad[i].len);
        assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
        fflush(stderr);
        FILE *saved = fdopen(dup(2), "w");
        assert_non_null(freopen(err_path, "w", stderr));
        json_t *resp = NULL;
        int rc = search_full(idx, "alpha", NULL, 0, 20, NULL, 0, &resp);
        int vrc = folio_index_verify(idx, &E);
        fflush(stderr);
        dup2(fileno(saved), 2);
        fclose(saved);
        if (rc != FOLIO_E_CORRUPT)
            fprintf(stderr, "%s: rc %d\n", bad[i].what, rc);
        assert_int_equal(rc, FOLIO_E_CORRUPT);
        assert_int_equal(vrc, FOLIO_E_CORRUPT);
        assert_non_null(strstr(E.message, "A posting list of words is damaged"));
        assert_int_equal(tu_file_size(err_path), 0); /* nothing printed by the library */
        /* Other words still work. */
        expect_hits(idx, "beta", "2");
        folio_index_free(idx);
    }
    folio_free(err_path);
    tu_rmrf(dir);
    folio_free(dir);
}

/* ---- the randomized comparison with a brute-force search ---------------------- */

#define R_IDS 40
#define R_VOCAB 60
#define R_STEPS 70
#define R_QUERIES 14
#define R_SEED_DEFAULT 20260613ull

static uint64_t rng;
static char vocab[R_VOCAB][12];

static unsigned
rnd(unsigned n)
{
    return (unsigned)(tu_rand(&rng) % n);
}

/* Words over a small alphabet, many sharing prefixes: typos and prefixes meet often. */
static void
vocab_make(void)
{
    for (int i = 0; i < R_VOCAB; i++) {
        int len = 3 + (int)rnd(8);
        if (i > 0 && rnd(3) == 0) { /* a neighbour of an earlier word */
            memcpy(vocab[i], vocab[rnd((unsigned)i)], 12);
            len = (int)strlen(vocab[i]);
            int at = (int)rnd((unsigned)len);
            if (rnd(2) == 0 && len < 10) {
                vocab[i][len + 1] = '\0';
                vocab[i][len] = (char)('a' + rnd(6));
            } else {
                vocab[i][at] = (char)('a' + rnd(6));
            }
            continue;
        }
        for (int j = 0; j < len; j++)
            vocab[i][j] = (char)('a' + rnd(6));
        vocab[i][len] = '\0';
    }
}

/* A vocabulary word, sometimes capitalised (the index folds case). */
static void
append_word(char *buf, size_t *n)
{
    const char *w = vocab[rnd(R_VOCAB)];
    bool upper = rnd(5) == 0;
    for (size_t i = 0; w[i]; i++)
        buf[(*n)++] = upper && i == 0 ? (char)toupper((unsigned char)w[i]) : w[i];
    buf[*n] = '\0';
}

static json_t *
rand_text(int max_words)
{
    char buf[256];
    size_t n = 0;
    int words = 1 + (int)rnd((unsigned)max_words);
    for (int i = 0; i < words; i++) {
        if (i > 0)
            buf[n++] = rnd(4) == 0 ? ',' : ' ';
        append_word(buf, &n);
    }
    return json_string(buf);
}

static json_t *
rand_field(const char *name)
{
    static const char *const colors[] = {"red", "Red", "BLUE", "green", " green "};
    if (strcmp(name, "title") == 0)
        return rand_text(4);
    if (strcmp(name, "body") == 0)
        return rand_text(6);
    if (strcmp(name, "tags") == 0) {
        json_t *a = json_array();
        for (unsigned i = rnd(4); i > 0; i--) {
            char buf[16];
            size_t n = 0;
            append_word(buf, &n);
            json_array_append_new(a, json_string(buf));
        }
        return a;
    }
    if (strcmp(name, "n") == 0)
        return rnd(4) == 0 ? json_real(rnd(20) + 0.5) : json_integer(rnd(21));
    if (strcmp(name, "color") == 0)
        return json_string(colors[rnd(5)]);
    if (strcmp(name, "extra") == 0)
        return json_null();
    json_t *meta = json_object(); /* "meta" */
    json_object_set_new(meta, "w", rand_text(2));
    return meta;
}

static json_t *
rand_doc(unsigned id, bool partial)
{
    static const char *const fields[] = {"title", "body", "tags", "n", "color", "extra", "meta"};
    json_t *doc = json_object();
    json_object_set_new(doc, "id", json_integer(id));
    unsigned start = rnd(7);
    for (unsigned i = 0; i < 7; i++) {
        const char *f = fields[(start + i) % 7];
        if (rnd(partial ? 4 : 3) != 0 || strcmp(f, "title") == 0)
            if (!partial || rnd(2) == 0)
                json_object_set_new(doc, f, rand_field(f));
    }
    return doc;
}

/* ---- the model -------------------------------------------------------------------- */

struct mdoc {
    bool live;
    unsigned id;
    json_t *doc;
};

struct model {
    struct mdoc docs[4096]; /* by internal id */
    unsigned next_iid;
    json_t *searchable; /* array of strings */
    json_t *filterable;
};

static struct mdoc *
model_find(struct model *m, unsigned id)
{
    for (unsigned i = 0; i < m->next_iid; i++)
        if (m->docs[i].live && m->docs[i].id == id)
            return &m->docs[i];
    return NULL;
}

static void
model_add(struct model *m, json_t *doc, bool update)
{
    unsigned id = (unsigned)json_integer_value(json_object_get(doc, "id"));
    struct mdoc *d = model_find(m, id);
    if (d == NULL) {
        assert_true(m->next_iid < 4096);
        d = &m->docs[m->next_iid++];
        d->live = true;
        d->id = id;
        d->doc = json_deep_copy(doc);
    } else if (update) {
        json_object_update(d->doc, doc);
    } else {
        json_decref(d->doc);
        d->doc = json_deep_copy(doc);
    }
}

static void
model_delete(struct model *m, unsigned id)
{
    struct mdoc *d = model_find(m, id);
    if (d != NULL) {
        d->live = false;
        json_decref(d->doc);
        d->doc = NULL;
    }
}

/* ---- the brute-force search ------------------------------------------------------- */

/* Optimal string alignment distance, by the book. */
static int
osa(const char *a, size_t n, const char *b, size_t m)
{
    int d[32][32];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

/* Typos of term against word, or -1 when beyond the budget. */
static int
term_typos(const char *term, bool prefix, const char *word)
{
    size_t n = strlen(term), m = strlen(word);
    int budget = n >= 9 ? 2 : n >= 5 ? 1 : 0;
    int best = osa(term, n, word, m);
    if (prefix)
        for (size_t len = 0; len < m; len++) {
            int d = osa(term, n, word, len);
            if (d < best)
                best = d;
        }
    return best <= budget ? best : -1;
}

struct mword {
    char text[64];
    int rank;
};

struct mwords {
    struct mword w[256];
    size_t count;
};

static void
tokens_add(struct mwords *ws, const char *s, int rank)
{
    size_t i = 0;
    while (s[i]) {
        while (s[i] && !isalnum((unsigned char)s[i]))
            i++;
        size_t n = 0;
        while (s[i] && isalnum((unsigned char)s[i]) && n < 63)
            ws->w[ws->count].text[n++] = (char)tolower((unsigned char)s[i++]);
        if (n > 0) {
            ws->w[ws->count].text[n] = '\0';
            ws->w[ws->count].rank = rank;
            assert_true(++ws->count < 256);
        }
    }
}

static int
model_rank(const struct model *m, const char *path, int top)
{
    for (size_t i = 0; i < json_array_size(m->searchable); i++) {
        const char *a = json_string_value(json_array_get(m->searchable, i));
        if (strcmp(a, "*") == 0)
            return top;
        size_t n = strlen(a);
        if (strncmp(a, path, n) == 0 && (path[n] == '\0' || path[n] == '.'))
            return (int)i;
    }
    return -1;
}

static void
words_of_value(const struct model *m, const json_t *v, const char *path, int top, struct mwords *ws)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            words_of_value(m, json_array_get(v, i), path, top, ws);
        return;
    }
    if (json_is_object(v)) {
        const char *key;
        json_t *x;
        json_object_foreach((json_t *)v, key, x)
        {
            char sub[128];
            snprintf(sub, sizeof(sub), "%s.%s", path, key);
            words_of_value(m, x, sub, top, ws);
        }
        return;
    }
    int rank = model_rank(m, path, top);
    if (rank < 0)
        return;
    char num[64] = "";
    if (json_is_string(v))
        snprintf(num, sizeof(num), "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) /* always k + 0.5 here: one decimal is exact */
        snprintf(num, sizeof(num), "%.1f", json_real_value(v));
    tokens_add(ws, num, rank);
}

static void
words_of_doc(const struct model *m, const json_t *doc, struct mwords *ws)
{
    const char *key;
    json_t *v;
    int top = 0;
    ws->count = 0;
    json_object_foreach((json_t *)doc, key, v)
    {
        words_of_value(m, v, key, top, ws);
        top++;
    }
}

struct mhit {
    unsigned iid;
    int typos, inexact, attribute;
};

static int
mhit_cmp(const void *a, const void *b)
{
    const struct mhit *x = a, *y = b;
    if (x->typos != y->typos)
        return x->typos - y->typos;
    if (x->inexact != y->inexact)
        return x->inexact - y->inexact;
    if (x->attribute != y->attribute)
        return x->attribute - y->attribute;
    return (x->iid > y->iid) - (x->iid < y->iid);
}

/* Whether the document matches the query, and its ranking key. */
static bool
doc_matches(const struct model *m, const json_t *doc, char terms[][64], size_t count,
            bool last_prefix, struct mhit *h)
{
    struct mwords ws;
    words_of_doc(m, doc, &ws);
    h->typos = h->attribute = 0;
    h->inexact = 1;
    for (size_t t = 0; t < count; t++) {
        bool prefix = last_prefix && t + 1 == count;
        int best_typos = -1, best_rank = -1;
        for (size_t i = 0; i < ws.count; i++) {
            int d = term_typos(terms[t], prefix, ws.w[i].text);
            if (d < 0)
                continue;
            if (best_typos < 0 || d < best_typos)
                best_typos = d;
            if (best_rank < 0 || ws.w[i].rank < best_rank)
                best_rank = ws.w[i].rank;
            if (t + 1 == count && strcmp(ws.w[i].text, terms[t]) == 0)
                h->inexact = 0;
        }
        if (best_typos < 0)
            return false;
        h->typos += best_typos;
        h->attribute += best_rank;
    }
    return true;
}

/* ---- random filters and their brute-force evaluation ------------------------------- */

struct mfilter {
    char text[512];
};

static bool
model_filterable(const struct model *m, const char *attr)
{
    for (size_t i = 0; i < json_array_size(m->filterable); i++)
        if (strcmp(json_string_value(json_array_get(m->filterable, i)), attr) == 0)
            return true;
    return false;
}

/* An atom over a filterable attribute, or false when none is filterable. */
static bool
rand_atom(const struct model *m, char *out, size_t cap)
{
    static const char *const attrs[] = {"n", "color", "tags", "extra"};
    const char *usable[4];
    unsigned count = 0;
    for (int i = 0; i < 4; i++)
        if (model_filterable(m, attrs[i]))
            usable[count++] = attrs[i];
    if (count == 0)
        return false;
    const char *attr = usable[rnd(count)];
    static const char *const ops[] = {">", ">=", "<", "<=", "=", "!="};
    static const char *const colors[] = {"red", "'GREEN'", "blue", "\"Red\"", "pink"};
    if (strcmp(attr, "n") == 0 && rnd(5) == 0)
        snprintf(out, cap, "n %u TO %u%s", rnd(10), 5 + rnd(15), rnd(2) ? ".5" : "");
    else if (strcmp(attr, "n") == 0)
        snprintf(out, cap, "n %s %u%s", ops[rnd(6)], rnd(21), rnd(3) == 0 ? ".5" : "");
    else if (strcmp(attr, "color") == 0 && rnd(3) == 0)
        snprintf(out, cap, "color %sIN [%s, %s]", rnd(2) ? "NOT " : "", colors[rnd(5)],
                 colors[rnd(5)]);
    else if (strcmp(attr, "color") == 0)
        snprintf(out, cap, "color %s %s", rnd(2) ? "=" : "!=", colors[rnd(5)]);
    else if (strcmp(attr, "tags") == 0 && rnd(2) == 0)
        snprintf(out, cap, "tags IN [%s, %s]", vocab[rnd(R_VOCAB)], vocab[rnd(R_VOCAB)]);
    else if (strcmp(attr, "tags") == 0)
        snprintf(out, cap, "tags = %s", vocab[rnd(R_VOCAB)]);
    else
        snprintf(out, cap, "%s %sEXISTS", attr, rnd(2) ? "NOT " : "");
    return true;
}

/* snprintf without gcc's truncation guesses (the pieces are short: see rand_atom). */
static void __attribute__((format(printf, 3, 4)))
text_printf(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < cap);
}

static bool
rand_filter(const struct model *m, char *out, size_t cap, int depth)
{
    char a[240], b[240];
    if (!rand_atom(m, a, sizeof(a)))
        return false;
    unsigned shape = depth > 1 ? 0 : rnd(5);
    if (shape <= 1) {
        text_printf(out, cap, "%s%s", shape == 1 ? "NOT " : "", a);
        return true;
    }
    rand_filter(m, a, sizeof(a), depth + 1);
    rand_filter(m, b, sizeof(b), depth + 1);
    text_printf(out, cap, "(%s) %s (%s)", a, shape == 2 ? "AND" : "OR", b);
    return true;
}

/* Brute force, on the JSON: one atom. */
static void
norm_string(const char *s, char *out)
{
    while (*s == ' ')
        s++;
    size_t n = 0;
    for (; *s; s++)
        out[n++] = (char)tolower((unsigned char)*s);
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

static bool
value_equal(const json_t *v, const char *raw)
{
    char want[64], have[64];
    norm_string(raw, want);
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (value_equal(json_array_get(v, i), raw))
                return true;
        return false;
    }
    if (json_is_string(v)) {
        norm_string(json_string_value(v), have);
        return strcmp(have, want) == 0;
    }
    if (json_is_number(v)) {
        char *end;
        double d = strtod(raw, &end);
        return *end == '\0' && *raw != '\0' && d == json_number_value(v);
    }
    return false;
}

/* A value token of the filter text at *p (quoted or bare); advances *p. */
static void
filter_value(const char **p, char *out)
{
    while (**p == ' ' || **p == '[' || **p == ',')
        (*p)++;
    size_t n = 0;
    if (**p == '\'' || **p == '"') {
        char q = *(*p)++;
        while (**p != q)
            out[n++] = *(*p)++;
        (*p)++;
    } else {
        while (**p && **p != ' ' && **p != ',' && **p != ']' && **p != ')')
            out[n++] = *(*p)++;
    }
    out[n] = '\0';
}

static bool eval_filter(const json_t *doc, const char **p);

static bool
eval_atom(const json_t *doc, const char **p)
{
    char attr[32], op[8], v1[64], v2[64];
    filter_value(p, attr);
    while (**p == ' ')
        (*p)++;
    size_t n = 0;
    while (**p && **p != ' ' && **p != ')')
        op[n++] = *(*p)++;
    op[n] = '\0';
    const json_t *v = json_object_get(doc, attr);
    bool negate = false;
    if (strcmp(op, "NOT") == 0) {
        negate = true;
        (*p)++;
        for (n = 0; **p && **p != ' ' && **p != '[' && **p != ')';)
            op[n++] = *(*p)++;
        op[n] = '\0';
    }
    bool r;
    if (strcmp(op, "EXISTS") == 0) {
        r = v != NULL;
    } else if (strcmp(op, "IN") == 0) {
        r = false;
        while (**p == ' ')
            (*p)++;
        assert_int_equal(**p, '[');
        while (**p != ']') {
            filter_value(p, v1);
            if (v1[0] != '\0' && v != NULL && value_equal(v, v1))
                r = true;
            while (**p == ' ')
                (*p)++;
        }
        (*p)++;
    } else if (strcmp(op, "=") == 0 || strcmp(op, "!=") == 0) {
        filter_value(p, v1);
        r = v != NULL && value_equal(v, v1);
        negate = strcmp(op, "!=") == 0;
    } else if (strcmp(op, "TO") != 0 && isdigit((unsigned char)op[0])) {
        /* n A TO B: op holds A */
        filter_value(p, v1); /* "TO" */
        filter_value(p, v2);
        double d = json_number_value(v);
        r = json_is_number(v) && d >= strtod(op, NULL) && d <= strtod(v2, NULL);
    } else {
        filter_value(p, v1);
        double x = strtod(v1, NULL), d = json_number_value(v);
        r = json_is_number(v) &&
            ((strcmp(op, ">") == 0 && d > x) || (strcmp(op, ">=") == 0 && d >= x) ||
             (strcmp(op, "<") == 0 && d < x) || (strcmp(op, "<=") == 0 && d <= x));
    }
    return negate ? !r : r;
}

/* The generated shapes only: atom | NOT atom | (f) AND (f) | (f) OR (f). */
static bool
eval_filter(const json_t *doc, const char **p)
{
    while (**p == ' ')
        (*p)++;
    if (strncmp(*p, "NOT ", 4) == 0) {
        *p += 4;
        return !eval_atom(doc, p);
    }
    if (**p != '(')
        return eval_atom(doc, p);
    (*p)++;
    bool a = eval_filter(doc, p);
    assert_int_equal(*(*p)++, ')');
    while (**p == ' ')
        (*p)++;
    bool and = strncmp(*p, "AND", 3) == 0;
    *p += and? 3 : 2;
    while (**p == ' ')
        (*p)++;
    assert_int_equal(*(*p)++, '(');
    bool b = eval_filter(doc, p);
    assert_int_equal(*(*p)++, ')');
    return and? a && b : a || b;
}

/* ---- the randomized run ----------------------------------------------------------- */

/*
 * A query: words of one live document (mostly) or of the vocabulary, some cut,
 * misspelt or capitalised; maybe a trailing space.
 */
static void
rand_query(const struct model *m, char *out, size_t cap)
{
    size_t n = 0;
    unsigned words = rnd(6) == 0 ? 0 : rnd(3) != 0 ? 1 + rnd(2) : 3;
    struct mwords ws = {.count = 0};
    unsigned live[4096], live_count = 0;
    for (unsigned i = 0; i < m->next_iid; i++)
        if (m->docs[i].live)
            live[live_count++] = i;
    if (live_count > 0 && rnd(3) != 0)
        words_of_doc(m, m->docs[live[rnd(live_count)]].doc, &ws);
    for (unsigned i = 0; i < words; i++) {
        char w[64];
        snprintf(w, sizeof(w), "%s",
                 ws.count > 0 ? ws.w[rnd((unsigned)ws.count)].text : vocab[rnd(R_VOCAB)]);
        size_t len = strlen(w);
        switch (rnd(9)) {
        case 0: /* cut: a prefix */
            w[1 + rnd((unsigned)len)] = '\0';
            break;
        case 1: /* a substitution */
            w[rnd((unsigned)len)] = (char)('a' + rnd(6));
            break;
        case 2: /* a swap */
            if (len > 1) {
                unsigned at = rnd((unsigned)len - 1);
                char c = w[at];
                w[at] = w[at + 1];
                w[at + 1] = c;
            }
            break;
        case 3:
            w[0] = (char)toupper((unsigned char)w[0]);
            break;
        default:
            break;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i > 0 ? " " : "", w);
    }
    if (words > 0 && rnd(4) == 0)
        n += (size_t)snprintf(out + n, cap - n, " ");
    out[n] = '\0';
}

/* The brute-force hits of (q, filter), in order; returns their count. */
static size_t
model_search(const struct model *m, const char *q, const char *filter, struct mhit *hits)
{
    char terms[FOLIO_INDEX_QUERY_WORDS_MAX][64];
    size_t count = 0, n = 0;
    struct mwords qw = {.count = 0};
    tokens_add(&qw, q, 0);
    for (size_t i = 0; i < qw.count && count < FOLIO_INDEX_QUERY_WORDS_MAX; i++)
        strcpy(terms[count++], qw.w[i].text);
    size_t qlen = strlen(q);
    bool prefix =
        qlen > 0 && isalnum((unsigned char)q[qlen - 1]) && qw.count <= FOLIO_INDEX_QUERY_WORDS_MAX;
    for (unsigned iid = 0; iid < m->next_iid; iid++) {
        const struct mdoc *d = &m->docs[iid];
        if (!d->live)
            continue;
        const char *p = filter;
        if (filter != NULL && !eval_filter(d->doc, &p))
            continue;
        struct mhit h = {.iid = iid};
        if (count > 0 && !doc_matches(m, d->doc, terms, count, prefix, &h))
            continue;
        hits[n++] = h;
    }
    if (count > 0)
        qsort(hits, n, sizeof(*hits), mhit_cmp);
    return n;
}

/* What the run exercised, printed at the end: a run that found nothing proves little. */
static struct {
    unsigned queries, with_hits, filtered, filtered_hits, typo_hits, inexact_hits, hits;
} cover;

static void
compare_search(struct folio_index *idx, const struct model *m, const char *q, const char *filter,
               struct mhit *hits)
{
    size_t n = model_search(m, q, filter, hits);
    cover.queries++;
    cover.with_hits += n > 0;
    cover.filtered += filter != NULL;
    cover.filtered_hits += filter != NULL && n > 0;
    cover.hits += (unsigned)n;
    for (size_t i = 0; i < n; i++) {
        cover.typo_hits += hits[i].typos > 0;
        cover.inexact_hits += hits[i].inexact > 0 && q[0] != '\0';
    }
    uint64_t offset = rnd(3) == 0 ? rnd((unsigned)n + 2) : 0;
    uint64_t limit = rnd(3) == 0 ? rnd(6) : 1000;
    json_t *resp = NULL;
    int rc = search_full(idx, q, filter, offset, limit, NULL, 0, &resp);
    if (rc != 0)
        fprintf(stderr, "q=\"%s\" filter=%s: %s\n", q, filter ? filter : "-", E.message);
    assert_int_equal(rc, 0);
    json_t *got = json_object_get(resp, "hits");
    size_t want = offset >= n ? 0 : (n - offset < limit ? n - offset : limit);
    bool same = json_array_size(got) == want &&
                json_integer_value(json_object_get(resp, "estimatedTotalHits")) == (json_int_t)n;
    for (size_t i = 0; same && i < want; i++)
        same = json_equal(json_array_get(got, i), m->docs[hits[offset + i].iid].doc);
    if (!same) {
        char *ids = hit_ids(resp);
        fprintf(stderr, "q=\"%s\" filter=%s offset %llu limit %llu: got [%s] of %lld; expected", q,
                filter ? filter : "-", (unsigned long long)offset, (unsigned long long)limit, ids,
                (long long)json_integer_value(json_object_get(resp, "estimatedTotalHits")));
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "%s%u(t%d e%d a%d)", i ? "," : " ", m->docs[hits[i].iid].id,
                    hits[i].typos, hits[i].inexact, hits[i].attribute);
        fprintf(stderr, " of %zu\n", n);
        folio_free(ids);
    }
    assert_true(same);
    json_decref(resp);
}

static void
random_settings(struct folio_index *idx, struct model *m)
{
    static const char *const searchable[] = {
        "[\"*\"]",
        "[\"title\",\"body\"]",
        "[\"body\",\"meta.w\",\"tags\"]",
        "[\"tags\",\"meta\",\"title\"]",
    };
    static const char *const filterable[] = {
        "[\"color\",\"extra\",\"n\",\"tags\"]",
        "[\"n\"]",
        "[]",
        "[\"color\",\"tags\"]",
    };
    char body[256];
    const char *s = searchable[rnd(4)], *f = filterable[rnd(4)];
    snprintf(body, sizeof(body), "{\"searchableAttributes\":%s,\"filterableAttributes\":%s}", s, f);
    settings(idx, body);
    json_decref(m->searchable);
    json_decref(m->filterable);
    m->searchable = json_loads(s, 0, NULL);
    m->filterable = json_loads(f, 0, NULL);
}

static void
random_step(struct folio_index **idx, const char *dir, struct model *m)
{
    unsigned what = rnd(20);
    if (what < 9 || what == 9) { /* add or update */
        bool update = what == 9 || rnd(4) == 0;
        json_t *docs = json_array();
        for (unsigned i = 1 + rnd(5); i > 0; i--)
            json_array_append_new(docs, rand_doc(rnd(R_IDS), update));
        char *text = json_dumps(docs, JSON_COMPACT);
        add_method(*idx, text, update ? FOLIO_INDEX_UPDATE : FOLIO_INDEX_REPLACE);
        for (size_t i = 0; i < json_array_size(docs); i++)
            model_add(m, json_array_get(docs, i), update);
        free(text);
        json_decref(docs);
    } else if (what < 14) {
        char ids[4][8];
        const char *list[4];
        unsigned n = 1 + rnd(4);
        for (unsigned i = 0; i < n; i++) {
            snprintf(ids[i], sizeof(ids[i]), "%u", rnd(R_IDS));
            list[i] = ids[i];
        }
        delete_ids(*idx, list, n);
        for (unsigned i = 0; i < n; i++)
            model_delete(m, (unsigned)atoi(ids[i]));
    } else if (what < 17) {
        random_settings(*idx, m);
    } else if (what < 18) {
        clear(*idx);
        for (unsigned i = 0; i < m->next_iid; i++)
            model_delete(m, m->docs[i].id);
    } else {
        folio_index_free(*idx);
        assert_int_equal(folio_index_open(dir, NULL, idx, &E), 0);
    }
}

static void
random_run(void)
{
    const char *env = getenv("FOLIO_TEST_SEED");
    rng = env != NULL ? strtoull(env, NULL, 0) : R_SEED_DEFAULT;
    fprintf(stderr, "seed: FOLIO_TEST_SEED=%llu\n", (unsigned long long)rng);
    vocab_make();
    char *dir;
    struct folio_index *idx = mk_index(&dir, "id");
    static struct model m;
    memset(&m, 0, sizeof(m));
    m.searchable = json_loads("[\"*\"]", 0, NULL);
    m.filterable = json_array();
    struct mhit *hits = folio_calloc(4096, sizeof(*hits));
    for (int step = 0; step < R_STEPS; step++) {
        random_step(&idx, dir, &m);
        iu_assert_verified(idx);
        for (int i = 0; i < R_QUERIES; i++) {
            char q[128], filter[512];
            rand_query(&m, q, sizeof(q));
            bool filtered = rnd(3) == 0 && rand_filter(&m, filter, sizeof(filter), 0);
            compare_search(idx, &m, q, filtered ? filter : NULL, hits);
        }
    }
    fprintf(stderr,
            "%u queries, %u with hits (%u hits: %u with typos, %u without the last word "
            "itself), %u filtered (%u with hits)\n",
            cover.queries, cover.with_hits, cover.hits, cover.typo_hits, cover.inexact_hits,
            cover.filtered, cover.filtered_hits);
    assert_true(cover.with_hits > cover.queries / 3 && cover.typo_hits > 0 &&
                cover.filtered_hits > 0);
    folio_free(hits);
    for (unsigned i = 0; i < m.next_iid; i++)
        json_decref(m.docs[i].doc);
    json_decref(m.searchable);
    json_decref(m.filterable);
    rm_index(idx, dir);
    memset(&cover, 0, sizeof(cover));
}

static void
test_random_against_brute_force(void **state)
{
    random_run(); /* typo walks over the in-memory vocabulary */
}

static void
test_random_against_brute_force_no_vocab(void **state)
{
    setenv("FOLIO_INDEX_VOCAB_WORDS_MAX", "0", 1); /* typo walks read LMDB */
    random_run();
    unsetenv("FOLIO_INDEX_VOCAB_WORDS_MAX");
}

/*
 * The typo walk seeks far ahead in a large vocabulary: 6,000 words over four
 * letters, lengths 5 to 9, so whole subtrees are skipped. Every query's
 * answer through the in-memory vocabulary (galloping seeks) must equal its
 * answer through an LMDB cursor (MDB_SET_RANGE), an independent way to seek.
 */
#define LV_WORDS 6000
#define LV_QUERIES 400

static void
lv_word(char *w, uint64_t *r)
{
    int len = 5 + (int)(tu_rand(r) % 5);
    for (int i = 0; i < len; i++)
        w[i] = "acgt"[tu_rand(r) % 4];
    w[len] = '\0';
}

/* The answers to the queries, processingTimeMs left out. */
static json_t *
lv_answers(struct folio_index *idx, char (*queries)[16])
{
    json_t *all = json_array();
    for (int i = 0; i < LV_QUERIES; i++) {
        struct folio_index_search_req req;
        folio_index_search_req_default(&req);
        req.q = queries[i];
        req.limit = 50;
        char *res = NULL;
        size_t len;
        assert_int_equal(folio_index_search(idx, &req, &res, &len, &E), 0);
        json_t *o = json_loadb(res, len, 0, NULL);
        assert_non_null(o);
        json_object_del(o, "processingTimeMs");
        json_array_append_new(all, o);
        folio_free(res);
    }
    return all;
}

/* index/vocab.c (search_int.h): typo walks replayed from a memo, process-wide. */
uint64_t vocab_memo_hits(void);

static void
test_typo_walk_large_vocabulary(void **state)
{
    (void)state;
    uint64_t r = 0x5DEECE66Dull;
    char *dir;
    struct folio_index *idx = mk_index(&dir, "id");
    size_t cap = 64 + (size_t)LV_WORDS * 40;
    char *json = folio_malloc(cap);
    size_t n = (size_t)snprintf(json, cap, "[");
    for (int i = 0; i < LV_WORDS; i++) {
        char w[16];
        lv_word(w, &r);
        n += (size_t)snprintf(json + n, cap - n, "%s{\"id\":%d,\"t\":\"%s\"}", i ? "," : "", i, w);
    }
    snprintf(json + n, cap - n, "]");
    add(idx, json);
    folio_free(json);
    static char queries[LV_QUERIES][16];
    for (int i = 0; i < LV_QUERIES; i++) {
        lv_word(queries[i], &r);
        if (i % 2 == 0) /* half of them not a prefix */
            strcat(queries[i], " ");
    }
    uint64_t hits0 = vocab_memo_hits();
    json_t *by_vocab = lv_answers(idx, queries); /* walks (a repeated query replays) */
    uint64_t hits1 = vocab_memo_hits();
    json_t *by_memo = lv_answers(idx, queries); /* the same snapshot: every walk replays */
    uint64_t hits2 = vocab_memo_hits();
    assert_int_equal(hits2 - hits1, LV_QUERIES); /* one term of 5+ characters per query */
    assert_true(hits1 - hits0 < LV_QUERIES / 4);
    assert_true(json_equal(by_memo, by_vocab));

    /* A write makes a new snapshot: a memo of the old one must not answer for it. */
    struct folio_index_search_req req;
    folio_index_search_req_default(&req);
    req.q = "zzzzz";
    for (int round = 0; round < 2; round++) {
        char *res = NULL;
        size_t len;
        assert_int_equal(folio_index_search(idx, &req, &res, &len, &E), 0);
        json_t *o = json_loadb(res, len, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(o, "estimatedTotalHits")), round);
        json_decref(o);
        folio_free(res);
        if (round == 0)
            add(idx, "{\"id\":999999,\"t\":\"zzzzyq\"}"); /* one typo from zzzzz as a prefix */
    }
    json_decref(by_memo);
    folio_index_free(idx);
    setenv("FOLIO_INDEX_VOCAB_WORDS_MAX", "0", 1); /* typo walks read LMDB */
    assert_int_equal(folio_index_open(dir, NULL, &idx, &E), 0);
    json_t *cursor = lv_answers(idx, queries);
    unsetenv("FOLIO_INDEX_VOCAB_WORDS_MAX");
    size_t typo_hits = 0;
    for (int i = 0; i < LV_QUERIES; i++) {
        json_t *a = json_array_get(by_vocab, (size_t)i), *b = json_array_get(cursor, (size_t)i);
        if (!json_equal(a, b)) {
            char *x = json_dumps(a, JSON_COMPACT), *y = json_dumps(b, JSON_COMPACT);
            fail_msg("query \"%s\": vocabulary %.300s, cursor %.300s", queries[i], x, y);
        }
        typo_hits += json_integer_value(json_object_get(a, "estimatedTotalHits"));
    }
    assert_true(typo_hits > LV_QUERIES); /* the queries do match, typos included */
    json_decref(by_vocab);
    json_decref(cursor);
    rm_index(idx, dir);
}

/* ---- threads: searches while a writer adds documents ---------------------------- */

#define C_DOCS 150
#define C_READERS 2

struct concurrent {
    struct folio_index *idx;
    int failures;
    volatile int writer_done;
};

static void *
writer_main(void *arg)
{
    struct concurrent *c = arg;
    static const char *const words[] = {"strawberry", "raspberry", "blueberry", "cranberry"};
    for (int i = 0; i < C_DOCS; i++) {
        char body[160];
        snprintf(body, sizeof(body), "{\"id\":%d,\"t\":\"%s word%d\",\"n\":%d}", i, words[i % 4], i,
                 i);
        struct folio_index_payload p = {
            .format = FOLIO_INDEX_FORMAT_JSON, .data = body, .len = strlen(body)};
        struct folio_index_marker m = {.task_uid = 1000 + (uint64_t)i, .batch_seq = 1000};
        struct folio_index_error err;
        if (folio_index_documents_add(c->idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &err) != 0)
            __atomic_add_fetch(&c->failures, 1, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&c->writer_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void *
reader_main(void *arg)
{
    struct concurrent *c = arg;
    static const char *const queries[] = {"strawbery", "rasberry word1", "bluebery ", "cranbery"};
    uint64_t last_total = 0;
    for (int i = 0; !__atomic_load_n(&c->writer_done, __ATOMIC_SEQ_CST) || i < 20; i++) {
        struct folio_index_search_req req;
        folio_index_search_req_default(&req);
        req.q = queries[i % 4];
        req.filter = i % 3 == 0 ? "n >= 0" : NULL;
        char *json = NULL;
        struct folio_index_error err;
        int rc = folio_index_search(c->idx, &req, &json, NULL, &err);
        const char *total = json == NULL ? NULL : strstr(json, "\"estimatedTotalHits\":");
        if (rc != 0 || total == NULL)
            __atomic_add_fetch(&c->failures, 1, __ATOMIC_SEQ_CST);
        else if (i % 4 == 0) { /* strawberry: documents are only added, never fewer */
            uint64_t n = strtoull(total + 21, NULL, 10);
            if (n < last_total)
                __atomic_add_fetch(&c->failures, 1, __ATOMIC_SEQ_CST);
            last_total = n;
        }
        folio_free(json);
    }
    return NULL;
}

static void
test_concurrent_searches(void **state)
{
    char *dir;
    struct concurrent c = {.idx = mk_index(&dir, "id")};
    settings(c.idx, "{\"filterableAttributes\":[\"n\"]}");
    pthread_t writer, readers[C_READERS];
    assert_int_equal(pthread_create(&writer, NULL, writer_main, &c), 0);
    for (int i = 0; i < C_READERS; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, reader_main, &c), 0);
    pthread_join(writer, NULL);
    for (int i = 0; i < C_READERS; i++)
        pthread_join(readers[i], NULL);
    assert_int_equal(c.failures, 0);
    iu_assert_verified(c.idx);
    expect_paged(c.idx, "strawbery", "n < 1000", 0, 0, "", C_DOCS / 4 + 1);
    rm_index(c.idx, dir);
}

/* ---- facets: the key scan and the document walk agree -------------------------- */

/* A random value for a facet attribute: strings in several spellings, numbers, arrays, booleans. */
static json_t *
facet_value(uint64_t *frng, int depth)
{
    static const char *const words[] = {"Red", "red", " RED ", "blue", "Blue", "\xc3\x89" "cole",
                                        "\xc3\xa9" "cole", "x y", "", "true", "12", "ma\xc3\x9f"};
    char longer[320]; /* past the 240 bytes a facet string keeps: two spellings, one value */
    memset(longer, 'L', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    switch (tu_rand(frng) % 9) {
    case 0:
    case 1: return json_string(words[tu_rand(frng) % FOLIO_ARRAY_LEN(words)]);
    case 8:
        longer[250 + tu_rand(frng) % 60] = tu_rand(frng) % 2 ? 'l' : 'M';
        return json_string(longer);
    case 2: return json_integer((json_int_t)(tu_rand(frng) % 101) - 50);
    case 3: return json_real((double)((int)(tu_rand(frng) % 41) - 20) / 4);
    case 4: return json_boolean(tu_rand(frng) % 2);
    case 5: return json_null();
    default: {
        json_t *a = json_array();
        size_t n = tu_rand(frng) % 4;
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, depth < 2 ? facet_value(frng, depth + 1) : json_integer(7));
        return a;
    }
    }
}

static char *
search_facets(struct folio_index *idx, const char *filter, const char *const *facets, size_t n,
              const char *mode)
{
    setenv("FOLIO_INDEX_FACET_WALK", mode, 1);
    struct folio_index_search_req req;
    folio_index_search_req_default(&req);
    req.filter = filter;
    req.limit = 0;
    req.facets = facets;
    req.facet_count = n;
    char *out = NULL;
    int rc = folio_index_search(idx, &req, &out, NULL, &E);
    unsetenv("FOLIO_INDEX_FACET_WALK");
    if (rc != 0)
        fail_msg("search %s: %s", filter ? filter : "(none)", E.message);
    json_t *v = json_loads(out, 0, NULL);
    assert_non_null(v);
    folio_free(out);
    json_object_del(v, "processingTimeMs");
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return text;
}

/*
 * facetDistribution and facetStats are the same whether `facets` is read key
 * by key or the matching documents are walked (FOLIO_INDEX_FACET_WALK), over
 * random documents with mixed types, spellings, arrays and nesting, after
 * replacements and deletions, for random filters; and the default (a scan
 * that may switch to the walk) gives the same again.
 */
static void
test_facets_scan_equals_walk(void **state)
{
    (void)state;
    char *dir;
    struct folio_index *idx = mk_index(&dir, "id");
    settings(idx, "{\"filterableAttributes\":[\"a\",\"n\",\"o\",\"t\"]}");
    uint64_t frng = tu_seed();
    for (int round = 0; round < 3; round++) {
        json_t *docs = json_array();
        for (int i = 0; i < 300; i++) {
            json_t *d = json_object();
            json_object_set_new(d, "id", json_integer(tu_rand(&frng) % 400));
            if (tu_rand(&frng) % 5 != 0)
                json_object_set_new(d, "a", facet_value(&frng, 0));
            if (tu_rand(&frng) % 4 != 0)
                json_object_set_new(d, "n", facet_value(&frng, 0));
            if (tu_rand(&frng) % 3 == 0)
                json_object_set_new(d, "o", json_pack("{so}", "b", facet_value(&frng, 0)));
            /* The same path o.b by a dotted key and under an empty top-level key. */
            if (tu_rand(&frng) % 6 == 0)
                json_object_set_new(d, "o.b", facet_value(&frng, 0));
            if (tu_rand(&frng) % 6 == 0)
                json_object_set_new(d, "", json_pack("{s{so}}", "o", "b", facet_value(&frng, 0)));
            char t[16];
            snprintf(t, sizeof(t), "v%llu", (unsigned long long)(tu_rand(&frng) % 3000));
            json_object_set_new(d, "t", json_string(t));
            json_array_append_new(docs, d);
        }
        char *text = json_dumps(docs, JSON_COMPACT);
        json_decref(docs);
        add(idx, text);
        free(text);
        char del[64];
        snprintf(del, sizeof(del), "%llu", (unsigned long long)(tu_rand(&frng) % 400));
        const char *ids[] = {del};
        struct folio_index_marker m = iu_next_marker();
        assert_int_equal(folio_index_documents_delete(idx, ids, 1, &m, NULL, &E), 0);
    }
    static const char *const filters[] = {
        NULL, "n > 0", "n <= -10", "a = red", "a = blue OR o.b EXISTS", "t = v7", "n = 12",
        "a = true", "NOT a EXISTS", "t IN [v1, v2, v3, v4, v5]", "n >= -50 AND n < 50",
        "a = ''", "o.b EXISTS",
    };
    static const char *const facets[] = {"t", "n", "a", "o.b", "o"};
    size_t listed = 0; /* queries whose answers list values: something was compared */
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(filters); i++) {
        char *scan = search_facets(idx, filters[i], facets, FOLIO_ARRAY_LEN(facets), "never");
        char *walk = search_facets(idx, filters[i], facets, FOLIO_ARRAY_LEN(facets), "always");
        char *mixed = search_facets(idx, filters[i], facets, FOLIO_ARRAY_LEN(facets), "");
        if (strcmp(scan, walk) != 0 || strcmp(scan, mixed) != 0)
            fail_msg("filter %s:\nscan  %.3000s\nwalk  %.3000s\nmixed %.3000s",
                     filters[i] ? filters[i] : "(none)", scan, walk, mixed);
        listed += strstr(scan, "\"a\":{\"") != NULL && strstr(scan, "\"t\":{\"") != NULL;
        free(scan);
        free(walk);
        free(mixed);
    }
    assert_true(listed >= FOLIO_ARRAY_LEN(filters) / 2);
    rm_index(idx, dir);

    /* The walk's first value an empty string (its pool still empty). */
    idx = mk_index(&dir, "id");
    settings(idx, "{\"filterableAttributes\":[\"a\"]}");
    add(idx, "[{\"id\":1,\"a\":\"\"},{\"id\":2,\"a\":[\"\",\"B\"]}]");
    const char *a_only[] = {"a"};
    char *scan = search_facets(idx, NULL, a_only, 1, "never");
    char *walk = search_facets(idx, NULL, a_only, 1, "always");
    assert_string_equal(scan, walk);
    assert_non_null(strstr(scan, "\"facetDistribution\":{\"a\":{\"\":2,\"B\":1}}"));
    free(scan);
    free(walk);
    rm_index(idx, dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_response_shape),
        cmocka_unit_test(test_normalisation),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_typos),
        cmocka_unit_test(test_ranking_order),
        cmocka_unit_test(test_attribute_ranking),
        cmocka_unit_test(test_attribute_ranking_many_fields),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_filter_errors),
        cmocka_unit_test(test_filter_not_filterable),
        cmocka_unit_test(test_pagination),
        cmocka_unit_test(test_attributes_to_retrieve),
        cmocka_unit_test(test_writes_keep_postings),
        cmocka_unit_test(test_settings_rebuild),
        cmocka_unit_test(test_reopen_and_format1),
        cmocka_unit_test(test_posting_list_bytes),
        cmocka_unit_test(test_random_against_brute_force),
        cmocka_unit_test(test_random_against_brute_force_no_vocab),
        cmocka_unit_test(test_typo_walk_large_vocabulary),
        cmocka_unit_test(test_concurrent_searches),
        cmocka_unit_test(test_facets_scan_equals_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
