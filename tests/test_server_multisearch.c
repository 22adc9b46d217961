/*
 * POST /multi-search (non-federated) over a real foliod (server/h_search.c).
 *
 * Two indexes are filled with documents the test makes from a seed
 * (FOLIO_TEST_SEED replays a run): a title of two words from small word
 * lists, a genre and a year, every field in the same order. The queries are
 * chosen so the expected hits follow from those documents alone: a q of one
 * word shorter than 5 letters (no typo allowed) that is the prefix of no
 * other word, always found in the title, so every match ranks alike and
 * comes in insertion order; filters on genre and year; offset and limit;
 * attributesToRetrieve. Each result of a multi-search must equal both that
 * expectation and the single search route's answer for the same parameters.
 *
 * The errors are checked for status, code and Meilisearch's exact message,
 * and a request that fails is checked to leave the tasks and the documents
 * as they were.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "srvutil.h"
#include "testutil.h"

/* How long a request waits for its response (foliod under ASan on a busy machine). */
#define IO_TIMEOUT_MS 120000
#define TASK_TIMEOUT_MS 60000

static int
setup(void **state)
{
    return su_fixture_setup(state, "srvmulti");
}

static void
start(struct su_fixture *f, const char *const *extra)
{
    const char *args[16] = {"--search-threads", "2"};
    size_t n = 2;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 15; i++)
        args[n++] = extra[i];
    su_fixture_start(f, args, IO_TIMEOUT_MS);
}

/* ---- the documents and what a search of them finds -------------------------------------------- */

/* No word is a prefix of another, none has 5 letters or more (so no typo is allowed). */
static const char *const colors[] = {"red", "blue", "gold", "pink", "teal"};
static const char *const animals[] = {"fox", "owl", "yak", "emu", "cat", "elk"};
static const char *const genres[] = {"drama", "fable", "dance"};

#define BOOKS 40
#define FILMS 25

struct doc {
    json_t *obj; /* {"id", "title", "genre", "year"} */
    const char *color, *genre;
    int year;
};

struct corpus {
    const char *uid;
    struct doc docs[BOOKS > FILMS ? BOOKS : FILMS];
    size_t count;
};

static void
corpus_make(struct corpus *c, const char *uid, size_t count, bool string_ids, uint64_t *rng)
{
    c->uid = uid;
    c->count = count;
    for (size_t i = 0; i < count; i++) {
        struct doc *d = &c->docs[i];
        d->color = colors[tu_rand(rng) % FOLIO_ARRAY_LEN(colors)];
        d->genre = genres[tu_rand(rng) % FOLIO_ARRAY_LEN(genres)];
        d->year = 1990 + (int)(tu_rand(rng) % 30);
        char title[64];
        snprintf(title, sizeof(title), "%s %s", d->color,
                 animals[tu_rand(rng) % FOLIO_ARRAY_LEN(animals)]);
        json_t *id = NULL;
        if (string_ids) {
            char s[32];
            snprintf(s, sizeof(s), "f-%zu", i);
            id = json_string(s);
        } else {
            id = json_integer((json_int_t)(100 + i));
        }
        d->obj = json_object();
        json_object_set_new(d->obj, "id", id);
        json_object_set_new(d->obj, "title", json_string(title));
        json_object_set_new(d->obj, "genre", json_string(d->genre));
        json_object_set_new(d->obj, "year", json_integer(d->year));
    }
}

static void
corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->count; i++)
        json_decref(c->docs[i].obj);
}

/* Index c->uid with c's documents, genre and year filterable, every task done. */
static void
corpus_load(struct su_fixture *f, const struct corpus *c)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < c->count; i++)
        json_array_append(arr, c->docs[i].obj);
    char *body = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    char path[128];
    snprintf(path, sizeof(path), "/indexes/%s/documents?primaryKey=id", c->uid);
    json_decref(su_run(&f->srv, "POST", path, body, "documentAdditionOrUpdate", c->uid,
                       TASK_TIMEOUT_MS));
    free(body);
    snprintf(path, sizeof(path), "/indexes/%s/settings", c->uid);
    json_decref(su_run(&f->srv, "PATCH", path,
                       "{\"filterableAttributes\":[\"genre\",\"year\"]}", "settingsUpdate", c->uid,
                       TASK_TIMEOUT_MS));
}

/* One query of the tests, in the test's own terms (NULL / -1: not sent). */
struct query {
    const struct corpus *c;
    const char *color;    /* q */
    const char *genre;    /* filter genre = g (array form when year_min is also set) */
    int year_min;         /* filter year >= n */
    long offset, limit;
    bool title_only;      /* attributesToRetrieve ["title"] */
};

static bool
doc_matches(const struct doc *d, const struct query *q)
{
    return (q->color == NULL || strcmp(d->color, q->color) == 0) &&
           (q->genre == NULL || strcmp(d->genre, q->genre) == 0) &&
           (q->year_min < 0 || d->year >= q->year_min);
}

/* The search body of q (with "indexUid" first when multi); caller frees. */
static json_t *
query_body(const struct query *q, bool multi)
{
    json_t *o = json_object();
    if (multi)
        json_object_set_new(o, "indexUid", json_string(q->c->uid));
    if (q->color != NULL)
        json_object_set_new(o, "q", json_string(q->color));
    char expr[64];
    if (q->genre != NULL && q->year_min >= 0) {
        json_t *arr = json_array();
        snprintf(expr, sizeof(expr), "genre = %s", q->genre);
        json_array_append_new(arr, json_string(expr));
        snprintf(expr, sizeof(expr), "year >= %d", q->year_min);
        json_array_append_new(arr, json_pack("[s]", expr));
        json_object_set_new(o, "filter", arr);
    } else if (q->genre != NULL) {
        snprintf(expr, sizeof(expr), "genre = '%s'", q->genre);
        json_object_set_new(o, "filter", json_string(expr));
    } else if (q->year_min >= 0) {
        snprintf(expr, sizeof(expr), "year >= %d", q->year_min);
        json_object_set_new(o, "filter", json_string(expr));
    }
    if (q->offset >= 0)
        json_object_set_new(o, "offset", json_integer(q->offset));
    if (q->limit >= 0)
        json_object_set_new(o, "limit", json_integer(q->limit));
    if (q->title_only)
        json_object_set_new(o, "attributesToRetrieve", json_pack("[s]", "title"));
    return o;
}

/* The hits q must find, worked out from the documents; *total: every match. */
static json_t *
expected_hits(const struct query *q, long long *total)
{
    long offset = q->offset >= 0 ? q->offset : 0, limit = q->limit >= 0 ? q->limit : 20;
    json_t *hits = json_array();
    long n = 0;
    for (size_t i = 0; i < q->c->count; i++) {
        const struct doc *d = &q->c->docs[i];
        if (!doc_matches(d, q))
            continue;
        if (n >= offset && n < offset + limit) {
            if (q->title_only)
                json_array_append_new(hits, json_pack("{sO}", "title",
                                                      json_object_get(d->obj, "title")));
            else
                json_array_append(hits, d->obj);
        }
        n++;
    }
    *total = n;
    return hits;
}

/* A search answer without processingTimeMs (which may differ between two runs). */
static json_t *
without_time(const json_t *answer)
{
    json_t *copy = json_deep_copy(answer);
    assert_true(json_is_integer(json_object_get(copy, "processingTimeMs")));
    json_object_del(copy, "processingTimeMs");
    return copy;
}

static void
expect_json_equal(const json_t *want, const json_t *got, const char *what)
{
    if (json_equal((json_t *)want, (json_t *)got))
        return;
    char *w = json_dumps(want, JSON_COMPACT), *g = json_dumps(got, JSON_COMPACT);
    fail_msg("%s: expected %.1500s\ngot %.1500s", what, w, g);
}

/* One result of a multi-search: the expected hits, and the single route's answer. */
static void
check_result(struct su_fixture *f, const struct query *q, const json_t *result, size_t i)
{
    char what[64];
    snprintf(what, sizeof(what), "result %zu", i);
    assert_string_equal(su_jstr(result, "indexUid"), q->c->uid);
    /* Meilisearch's order: indexUid first. */
    assert_string_equal(json_object_iter_key(json_object_iter((json_t *)result)), "indexUid");
    long long total;
    json_t *hits = expected_hits(q, &total);
    expect_json_equal(hits, json_object_get(result, "hits"), what);
    json_decref(hits);
    assert_int_equal(su_jint(result, "estimatedTotalHits"), total);
    assert_int_equal(su_jint(result, "offset"), q->offset >= 0 ? q->offset : 0);
    assert_int_equal(su_jint(result, "limit"), q->limit >= 0 ? q->limit : 20);
    assert_string_equal(su_jstr(result, "query"), q->color != NULL ? q->color : "");

    /* The single route, same parameters: the same object but indexUid. */
    json_t *body = query_body(q, false);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char path[128];
    snprintf(path, sizeof(path), "/indexes/%s/search", q->c->uid);
    struct su_resp r;
    su_json(&f->srv, "POST", path, text, &r);
    if (r.status != 200 || r.json == NULL)
        fail_msg("search %s: %d %.500s", text, r.status, r.body);
    free(text);
    json_t *single = without_time(r.json), *multi = without_time(result);
    json_object_del(multi, "indexUid");
    expect_json_equal(single, multi, what);
    json_decref(single);
    json_decref(multi);
    su_resp_free(&r);
}

/* POST /multi-search of qs; 200 with one result per query, each checked. */
static void
multi_expect(struct su_fixture *f, const struct query *qs, size_t count)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(arr, query_body(&qs[i], true));
    json_t *body = json_pack("{so}", "queries", arr);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct su_resp r;
    su_json(&f->srv, "POST", "/multi-search", text, &r);
    if (r.status != 200 || r.json == NULL)
        fail_msg("multi-search %.500s: %d %.500s", text, r.status, r.body);
    free(text);
    assert_int_equal(json_object_size(r.json), 1);
    json_t *results = json_object_get(r.json, "results");
    assert_true(json_is_array(results));
    assert_int_equal(json_array_size(results), count);
    for (size_t i = 0; i < count; i++)
        check_result(f, &qs[i], json_array_get(results, i), i);
    su_resp_free(&r);
}

/* ---- results ----------------------------------------------------------------------------------- */

static void
test_results(void **state)
{
    struct su_fixture *f = *state;
    start(f, NULL);
    uint64_t rng = tu_seed();
    static struct corpus books, films;
    corpus_make(&books, "books", BOOKS, false, &rng);
    corpus_make(&films, "films", FILMS, true, &rng);
    corpus_load(f, &books);
    corpus_load(f, &films);

    const struct query qs[] = {
        {&books, NULL, NULL, -1, -1, -1, false},     /* placeholder: the first 20 */
        {&films, NULL, NULL, -1, -1, -1, false},
        {&books, "red", NULL, -1, -1, -1, false},
        {&films, "blue", NULL, -1, -1, -1, false},
        {&books, "gold", "drama", -1, -1, -1, false},
        {&films, NULL, "fable", 2005, -1, -1, false}, /* the filter's array form */
        {&books, NULL, NULL, 2000, 3, 5, false},
        {&books, "teal", NULL, -1, 1, 2, true},
        {&films, "pink", NULL, -1, 0, 0, false},      /* limit 0: no hits, the total */
        {&books, NULL, NULL, -1, 35, 20, true},       /* past the end */
        {&books, "red", NULL, -1, -1, -1, false},     /* the same query twice */
        {&films, "nothing", NULL, -1, -1, -1, false}, /* no word of the documents */
    };
    multi_expect(f, qs, FOLIO_ARRAY_LEN(qs));
    /* One query alone, and each query alone, give the same. */
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(qs); i++)
        multi_expect(f, &qs[i], 1);

    /* The limit: 1000 queries are answered, in order. */
    struct query *many = folio_calloc(1000, sizeof(*many));
    for (size_t i = 0; i < 1000; i++)
        many[i] = (struct query){i % 2 ? &films : &books, colors[i % FOLIO_ARRAY_LEN(colors)],
                                 NULL, -1, (long)(i % 3), 1, i % 4 == 0};
    multi_expect(f, many, 1000);
    folio_free(many);
    corpus_free(&books);
    corpus_free(&films);
}

/* ---- pages ------------------------------------------------------------------------------------- */

/* Starts foliod with `books`: BOOKS documents from the seed (printed), genre and year filterable. */
static void
start_with_books(struct su_fixture *f, struct corpus *books)
{
    start(f, NULL);
    uint64_t rng = tu_seed();
    corpus_make(books, "books", BOOKS, false, &rng);
    corpus_load(f, books);
}

/*
 * The answer of a paged search: page `page` of `hpp` hits of what q (offset
 * and limit unset) matches, worked out from the documents, and exactly
 * Meilisearch's fields in its order.
 */
static void
expect_page(const json_t *answer, const struct query *q, long page, long hpp, const char *what)
{
    struct query all = *q;
    all.offset = page == 0 ? 0 : (page - 1) * hpp;
    all.limit = page == 0 ? 0 : hpp;
    long long total;
    json_t *hits = expected_hits(&all, &total);
    expect_json_equal(hits, json_object_get(answer, "hits"), what);
    json_decref(hits);
    static const char *const keys[] = {"hits",        "query", "processingTimeMs", "hitsPerPage",
                                       "page", "totalPages", "totalHits"};
    void *it = json_object_iter((json_t *)answer);
    for (size_t k = 0; k < FOLIO_ARRAY_LEN(keys); k++, it = json_object_iter_next((json_t *)answer, it)) {
        if (it == NULL || strcmp(json_object_iter_key(it), keys[k]) != 0)
            fail_msg("%s: field %zu is %s, expected %s", what, k,
                     it != NULL ? json_object_iter_key(it) : "(none)", keys[k]);
    }
    assert_null(it);
    assert_int_equal(su_jint(answer, "hitsPerPage"), hpp);
    assert_int_equal(su_jint(answer, "page"), page);
    assert_int_equal(su_jint(answer, "totalHits"), total);
    assert_int_equal(su_jint(answer, "totalPages"), hpp == 0 ? 0 : (total + hpp - 1) / hpp);
}

/* page and hitsPerPage (Meilisearch's exhaustive pagination), by POST, GET and multi-search. */
static void
test_pages(void **state)
{
    struct su_fixture *f = *state;
    static struct corpus books;
    start_with_books(f, &books);
    const struct query qs[] = {
        {&books, NULL, NULL, -1, -1, -1, false},
        {&books, "red", NULL, -1, -1, -1, false},
        {&books, "gold", "drama", -1, -1, -1, false},
        {&books, NULL, NULL, 2000, -1, -1, true},
    };
    static const long hpps[] = {1, 3, 7, 20, 0};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(qs); i++) {
        for (size_t h = 0; h < FOLIO_ARRAY_LEN(hpps); h++) {
            long hpp = hpps[h];
            long long total;
            json_decref(expected_hits(&qs[i], &total));
            long last = hpp == 0 ? 2 : (long)(total + hpp - 1) / hpp + 1; /* one past the end */
            for (long page = 0; page <= last; page++) {
                char what[96];
                snprintf(what, sizeof(what), "query %zu, page %ld of %ld", i, page, hpp);
                /* POST; offset and limit are ignored once pages are asked for. */
                json_t *body = query_body(&qs[i], false);
                json_object_set_new(body, "page", json_integer(page));
                json_object_set_new(body, "hitsPerPage", json_integer(hpp));
                json_object_set_new(body, "offset", json_integer(1));
                json_object_set_new(body, "limit", json_integer(2));
                char *text = json_dumps(body, JSON_COMPACT);
                struct su_resp r;
                su_json(&f->srv, "POST", "/indexes/books/search", text, &r);
                if (r.status != 200 || r.json == NULL)
                    fail_msg("%s: %d %.500s", text, r.status, r.body);
                free(text);
                expect_page(r.json, &qs[i], page, hpp, what);
                su_resp_free(&r);
                /* The same inside a multi-search. */
                json_object_set_new(body, "indexUid", json_string("books"));
                json_t *multi = json_pack("{s[O]}", "queries", body);
                text = json_dumps(multi, JSON_COMPACT);
                json_decref(multi);
                json_decref(body);
                su_json(&f->srv, "POST", "/multi-search", text, &r);
                if (r.status != 200 || r.json == NULL)
                    fail_msg("%s: %d %.500s", text, r.status, r.body);
                free(text);
                json_t *one = json_deep_copy(json_array_get(json_object_get(r.json, "results"), 0));
                assert_string_equal(su_jstr(one, "indexUid"), "books");
                json_object_del(one, "indexUid");
                expect_page(one, &qs[i], page, hpp, what);
                json_decref(one);
                su_resp_free(&r);
            }
        }
    }
    /* GET, with only one of the two: the other at its default (page 1, 20 per page). */
    struct su_resp r;
    su_get_ok(&f->srv, "/indexes/books/search?q=red&hitsPerPage=3&page=2", &r);
    expect_page(r.json, &qs[1], 2, 3, "GET page 2 of 3");
    su_resp_free(&r);
    su_get_ok(&f->srv, "/indexes/books/search?page=2", &r);
    expect_page(r.json, &qs[0], 2, 20, "GET page 2");
    su_resp_free(&r);
    su_json(&f->srv, "POST", "/indexes/books/search", "{\"q\":\"red\",\"hitsPerPage\":2}", &r);
    expect_page(r.json, &qs[1], 1, 2, "POST hitsPerPage 2");
    su_resp_free(&r);
    /* null is not asking for pages: offset and limit as usual. */
    su_json(&f->srv, "POST", "/indexes/books/search",
            "{\"page\":null,\"hitsPerPage\":null,\"offset\":1,\"limit\":2}", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(su_jint(r.json, "offset"), 1);
    assert_int_equal(su_jint(r.json, "limit"), 2);
    assert_null(json_object_get(r.json, "totalHits"));
    su_resp_free(&r);
    /* Far past the end: no hits, no overflow. */
    su_json(&f->srv, "POST", "/indexes/books/search",
            "{\"page\":9223372036854775807,\"hitsPerPage\":9223372036854775807}", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "hits")), 0);
    assert_int_equal(su_jint(r.json, "totalHits"), BOOKS);
    assert_int_equal(su_jint(r.json, "totalPages"), 1);
    su_resp_free(&r);
    /* Wrong values. */
    static const struct {
        const char *method, *path, *body, *code, *message;
    } bad[] = {
        {"POST", "/indexes/books/search", "{\"page\":-1}", "invalid_search_page",
         "Invalid value type at `.page`: expected a positive integer, but found a negative "
         "integer: `-1`"},
        {"POST", "/indexes/books/search", "{\"hitsPerPage\":\"2\"}",
         "invalid_search_hits_per_page",
         "Invalid value type at `.hitsPerPage`: expected a positive integer, but found a string: "
         "`\"2\"`"},
        {"POST", "/indexes/books/search", "{\"hitsPerPage\":1.5}", "invalid_search_hits_per_page",
         "Invalid value type at `.hitsPerPage`: expected a positive integer, but found a "
         "number: `1.5`"},
        {"GET", "/indexes/books/search?page=x", NULL, "invalid_search_page",
         "Invalid value in parameter `page`: could not parse `x` as a positive integer"},
        {"GET", "/indexes/books/search?hitsPerPage=-3", NULL, "invalid_search_hits_per_page",
         "Invalid value in parameter `hitsPerPage`: could not parse `-3` as a positive integer"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(bad); i++) {
        if (bad[i].body != NULL)
            su_json(&f->srv, bad[i].method, bad[i].path, bad[i].body, &r);
        else
            su_req(&f->srv, bad[i].method, bad[i].path, NULL, NULL, &r);
        su_expect_error_type(&r, 400, bad[i].code, "invalid_request");
        if (strcmp(su_jstr(r.json, "message"), bad[i].message) != 0)
            fail_msg("%s %s: expected message %s\ngot %s", bad[i].method, bad[i].path,
                     bad[i].message, su_jstr(r.json, "message"));
        su_resp_free(&r);
    }
    corpus_free(&books);
}

/* ---- facets ------------------------------------------------------------------------------------ */

/* POST a search of index uid; the 200 answer (caller frees). */
static json_t *
search_ok(struct su_fixture *f, const char *uid, const char *body)
{
    char path[128];
    snprintf(path, sizeof(path), "/indexes/%s/search", uid);
    struct su_resp r;
    su_json(&f->srv, "POST", path, body, &r);
    if (r.status != 200 || r.json == NULL)
        fail_msg("search %s: %d %.500s", body, r.status, r.body);
    json_t *answer = json_incref(r.json);
    su_resp_free(&r);
    return answer;
}

/* got's field equals want, key order included (compared as compact text); frees want. */
static void
expect_field_text(const json_t *got, const char *field, json_t *want, const char *what)
{
    json_t *g = json_object_get(got, field);
    char *gt = g != NULL ? json_dumps(g, JSON_COMPACT) : NULL;
    char *wt = json_dumps(want, JSON_COMPACT);
    if (gt == NULL || strcmp(gt, wt) != 0)
        fail_msg("%s: %s: expected %.1500s\ngot %.1500s", what, field, wt, gt ? gt : "(none)");
    free(gt);
    free(wt);
    json_decref(want);
}

/* The genre and year facets of q's matches, worked out from the documents. */
static void
expected_facets(const struct query *q, json_t **dist, json_t **stats)
{
    long genre_n[FOLIO_ARRAY_LEN(genres)] = {0}, year_n[30] = {0};
    int min = 0, max = 0;
    bool any = false;
    for (size_t i = 0; i < q->c->count; i++) {
        const struct doc *d = &q->c->docs[i];
        if (!doc_matches(d, q))
            continue;
        for (size_t g = 0; g < FOLIO_ARRAY_LEN(genres); g++)
            genre_n[g] += strcmp(d->genre, genres[g]) == 0;
        year_n[d->year - 1990]++;
        min = !any || d->year < min ? d->year : min;
        max = !any || d->year > max ? d->year : max;
        any = true;
    }
    /* Values in the order of their text (genres sorted here), years as numbers. */
    size_t order[FOLIO_ARRAY_LEN(genres)];
    for (size_t k = 0; k < FOLIO_ARRAY_LEN(genres); k++) {
        size_t at = k;
        while (at > 0 && strcmp(genres[order[at - 1]], genres[k]) > 0) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = k;
    }
    json_t *g = json_object(), *y = json_object();
    for (size_t k = 0; k < FOLIO_ARRAY_LEN(genres); k++)
        if (genre_n[order[k]] > 0)
            json_object_set_new(g, genres[order[k]], json_integer(genre_n[order[k]]));
    for (int i = 0; i < 30; i++) {
        char name[16];
        snprintf(name, sizeof(name), "%d", 1990 + i);
        if (year_n[i] > 0)
            json_object_set_new(y, name, json_integer(year_n[i]));
    }
    *dist = json_pack("{soso}", "genre", g, "year", y);
    *stats = any ? json_pack("{s{sfsf}}", "year", "min", (double)min, "max", (double)max)
                 : json_object();
}

/* facets over the seeded corpus, against the model; alone and in a multi-search. */
static void
facets_model(struct su_fixture *f, const struct corpus *books)
{
    const struct query qs[] = {
        {books, NULL, NULL, -1, -1, 0, false},
        {books, "red", NULL, -1, -1, 0, false},
        {books, "gold", "drama", -1, -1, 0, false},
        {books, NULL, NULL, 2005, -1, 3, false},
        {books, "nothing", NULL, -1, -1, 0, false},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(qs); i++) {
        char what[32];
        snprintf(what, sizeof(what), "facets query %zu", i);
        json_t *body = query_body(&qs[i], false);
        /* Asked out of order and twice: answered sorted, once. */
        json_object_set_new(body, "facets", json_pack("[sss]", "year", "genre", "year"));
        char *text = json_dumps(body, JSON_COMPACT);
        json_t *answer = search_ok(f, "books", text);
        free(text);
        json_t *dist, *stats;
        expected_facets(&qs[i], &dist, &stats);
        expect_field_text(answer, "facetDistribution", json_incref(dist), what);
        expect_field_text(answer, "facetStats", json_incref(stats), what);
        /* Meilisearch's order: the facets after the hits' counts. */
        void *it = json_object_iter_at(answer, "estimatedTotalHits");
        it = json_object_iter_next(answer, it);
        assert_string_equal(json_object_iter_key(it), "facetDistribution");
        json_decref(answer);
        /* The same in a multi-search. */
        json_object_set_new(body, "indexUid", json_string("books"));
        json_t *multi = json_pack("{s[O]}", "queries", body);
        text = json_dumps(multi, JSON_COMPACT);
        json_decref(multi);
        struct su_resp r;
        su_json(&f->srv, "POST", "/multi-search", text, &r);
        if (r.status != 200 || r.json == NULL)
            fail_msg("%s: %d %.500s", text, r.status, r.body);
        free(text);
        json_t *one = json_array_get(json_object_get(r.json, "results"), 0);
        expect_field_text(one, "facetDistribution", dist, what);
        expect_field_text(one, "facetStats", stats, what);
        su_resp_free(&r);
        json_decref(body);
    }
}

/* The errors of facets: invalid_search_facets with Meilisearch's messages. */
static void
facets_errors(struct su_fixture *f)
{
    static const struct {
        const char *uid, *body, *message;
    } bad[] = {
        {"shop", "{\"facets\":[\"id\"]}",
         "Invalid facet distribution, attribute `id` is not filterable. The available "
         "filterable attributes are `color, ghost, meta, price, size, stock, tags`."},
        {"shop", "{\"facets\":[\"zz\",\"color\",\"id\",\"zz\"]}",
         "Invalid facet distribution, attributes `id, zz` are not filterable. The available "
         "filterable attributes are `color, ghost, meta, price, size, stock, tags`."},
        {"books", "{\"facets\":[\"title\"]}",
         "Invalid facet distribution, attribute `title` is not filterable. The available "
         "filterable attributes are `genre, year`."},
        {"shop", "{\"facets\":\"color\"}",
         "Invalid value type at `.facets`: expected an array, but found a string: `\"color\"`"},
        {"shop", "{\"facets\":[\"color\",7]}",
         "Invalid value type at `.facets[1]`: expected a string, but found a positive integer: "
         "`7`"},
        {"bare", "{\"facets\":[\"a\"]}",
         "Invalid facet distribution, this index does not have configured filterable "
         "attributes."},
    };
    json_decref(su_run(&f->srv, "POST", "/indexes", "{\"uid\":\"bare\"}", "indexCreation", "bare",
                       TASK_TIMEOUT_MS));
    struct su_resp r;
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(bad); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/indexes/%s/search", bad[i].uid);
        su_json(&f->srv, "POST", path, bad[i].body, &r);
        su_expect_error_type(&r, 400, "invalid_search_facets", "invalid_request");
        if (strcmp(su_jstr(r.json, "message"), bad[i].message) != 0)
            fail_msg("%s: expected message %s\ngot %s", bad[i].body, bad[i].message,
                     su_jstr(r.json, "message"));
        su_resp_free(&r);
    }
    /* A message cut inside a UTF-8 character is still the message (the cut character dropped). */
    char body[400] = "{\"facets\":[\"a";
    for (int i = 0; i < 60; i++)
        strcat(body, "\xc3\xa9");
    strcat(body, "\"]}");
    su_json(&f->srv, "POST", "/indexes/shop/search", body, &r);
    su_expect_error_type(&r, 400, "invalid_search_facets", "invalid_request");
    const char *msg = su_jstr(r.json, "message");
    if (strncmp(msg, "Invalid facet distribution, attribute `a\xc3\xa9\xc3\xa9", 42) != 0 ||
        strstr(msg, "` is not filterable.") == NULL)
        fail_msg("message: %s", msg);
    su_resp_free(&r);
    su_req(&f->srv, "GET", "/indexes/shop/search?facets=co%00lor", NULL, NULL, &r);
    su_expect_error_type(&r, 400, "invalid_search_facets", "invalid_request");
    su_resp_free(&r);
}

/* At most 100 values per attribute, numbers first; the stats still see them all. */
static void
facets_bounded(struct su_fixture *f)
{
    json_t *docs = json_array();
    for (int i = 0; i < 150; i++) {
        char sv[16];
        snprintf(sv, sizeof(sv), "v%03d", i);
        json_array_append_new(docs, json_pack("{sisisiss}", "id", i, "n", 2 * i, "m", i % 3,
                                              "s", sv));
    }
    char *text = json_dumps(docs, JSON_COMPACT);
    json_decref(docs);
    json_decref(su_run(&f->srv, "POST", "/indexes/many/documents?primaryKey=id", text,
                       "documentAdditionOrUpdate", "many", TASK_TIMEOUT_MS));
    free(text);
    json_decref(su_run(&f->srv, "PATCH", "/indexes/many/settings",
                       "{\"filterableAttributes\":[\"n\",\"s\",\"m\"]}", "settingsUpdate", "many",
                       TASK_TIMEOUT_MS));
    json_t *a = search_ok(f, "many", "{\"limit\":0,\"facets\":[\"n\",\"s\",\"m\"]}");
    json_t *d = json_object_get(a, "facetDistribution");
    json_t *n = json_object(), *sv = json_object();
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof(name), "%d", 2 * i);
        json_object_set_new(n, name, json_integer(1));
        snprintf(name, sizeof(name), "v%03d", i);
        json_object_set_new(sv, name, json_integer(1));
    }
    expect_field_text(d, "n", n, "many n");
    expect_field_text(d, "s", sv, "many s");
    expect_field_text(d, "m", json_pack("{sisisi}", "0", 50, "1", 50, "2", 50), "many m");
    expect_field_text(a, "facetStats",
                      json_pack("{s{sfsf}s{sfsf}}", "m", "min", 0.0, "max", 2.0, "n", "min", 0.0,
                                "max", 298.0),
                      "many stats");
    json_decref(a);
    /* n = 2i >= 251 with i % 3 == 1: i = 127, 130, ..., 148. */
    a = search_ok(f, "many",
                  "{\"limit\":0,\"filter\":\"n >= 251 AND m = 1\",\"facets\":[\"n\"]}");
    n = json_object();
    for (int i = 127; i < 150; i += 3) {
        char name[16];
        snprintf(name, sizeof(name), "%d", 2 * i);
        json_object_set_new(n, name, json_integer(1));
    }
    expect_field_text(json_object_get(a, "facetDistribution"), "n", n, "many n >= 251");
    expect_field_text(a, "facetStats", json_pack("{s{sfsf}}", "n", "min", 254.0, "max", 296.0),
                      "many n >= 251 stats");
    json_decref(a);
}

static void
test_facets(void **state)
{
    struct su_fixture *f = *state;
    static struct corpus books;
    start_with_books(f, &books);
    facets_model(f, &books);
    corpus_free(&books);

    /*
     * Values by hand: original spellings (the first document's), arrays,
     * nested paths, booleans, numbers as Rust prints an f64, strings in the
     * order of their folded form, attributes sorted.
     */
    json_decref(su_run(&f->srv, "POST", "/indexes/shop/documents?primaryKey=id",
                       "[{\"id\":1,\"color\":\"Red\",\"size\":10,\"tags\":[\"Sale\",\"new\"],"
                       "\"price\":0.5},"
                       "{\"id\":2,\"color\":\"red\",\"size\":12,\"tags\":\"sale\"},"
                       "{\"id\":3,\"color\":\"Blue\",\"size\":10.25,\"meta\":{\"brand\":\"Acme\"}},"
                       "{\"id\":4,\"color\":[\"Red\",\"Green\"],\"size\":-3,\"stock\":true},"
                       "{\"id\":5,\"color\":\"green\",\"size\":1e21}]",
                       "documentAdditionOrUpdate", "shop", TASK_TIMEOUT_MS));
    json_decref(su_run(&f->srv, "PATCH", "/indexes/shop/settings",
                       "{\"filterableAttributes\":[\"color\",\"size\",\"tags\",\"meta\","
                       "\"stock\",\"price\",\"ghost\"]}",
                       "settingsUpdate", "shop", TASK_TIMEOUT_MS));
    json_t *a = search_ok(f, "shop",
                          "{\"limit\":0,\"facets\":[\"tags\",\"size\",\"color\",\"meta.brand\","
                          "\"stock\",\"price\"]}");
    expect_field_text(
        a, "facetDistribution",
        json_loads("{\"color\":{\"Blue\":1,\"Green\":2,\"Red\":3},\"meta.brand\":{\"Acme\":1},"
                   "\"price\":{\"0.5\":1},"
                   "\"size\":{\"-3\":1,\"10\":1,\"10.25\":1,\"12\":1,\"1000000000000000000000\":1},"
                   "\"stock\":{\"true\":1},\"tags\":{\"new\":1,\"Sale\":2}}",
                   0, NULL),
        "shop");
    expect_field_text(a, "facetStats",
                      json_pack("{s{sfsf}s{sfsf}}", "price", "min", 0.5, "max", 0.5, "size", "min",
                                -3.0, "max", 1e21),
                      "shop stats");
    json_decref(a);
    /* A filter narrows the counts; "*" is every filterable attribute. */
    a = search_ok(f, "shop", "{\"limit\":0,\"filter\":\"color = RED\",\"facets\":[\"*\"]}");
    expect_field_text(a, "facetDistribution",
                      json_loads("{\"color\":{\"Green\":1,\"Red\":3},\"meta\":{},"
                                 "\"price\":{\"0.5\":1},\"size\":{\"-3\":1,\"10\":1,\"12\":1},"
                                 "\"stock\":{\"true\":1},\"tags\":{\"new\":1,\"Sale\":2}}",
                                 0, NULL),
                      "shop, color = red");
    json_decref(a);
    /* An attribute no document holds is left out; next to "*", other names are not checked. */
    a = search_ok(f, "shop", "{\"limit\":0,\"facets\":[\"ghost\",\"stock\"]}");
    expect_field_text(a, "facetDistribution", json_loads("{\"stock\":{\"true\":1}}", 0, NULL),
                      "ghost");
    json_decref(a);
    a = search_ok(f, "shop", "{\"limit\":0,\"filter\":\"size < 0\",\"facets\":[\"nope\",\"*\"]}");
    expect_field_text(a, "facetDistribution",
                      json_loads("{\"color\":{\"Green\":1,\"Red\":1},\"meta\":{},"
                                 "\"price\":{},\"size\":{\"-3\":1},\"stock\":{\"true\":1},"
                                 "\"tags\":{}}",
                                 0, NULL),
                      "* and nope");
    json_decref(a);
    /* facets: [] answers both objects empty; without facets, neither is there. */
    a = search_ok(f, "shop", "{\"facets\":[]}");
    expect_field_text(a, "facetDistribution", json_object(), "facets []");
    expect_field_text(a, "facetStats", json_object(), "facets []");
    json_decref(a);
    a = search_ok(f, "shop", "{\"facets\":null}");
    assert_null(json_object_get(a, "facetDistribution"));
    assert_null(json_object_get(a, "facetStats"));
    json_decref(a);
    /* GET: a comma list. */
    struct su_resp r;
    su_get_ok(&f->srv, "/indexes/shop/search?q=red&facets=stock,%20color&limit=0", &r);
    expect_field_text(r.json, "facetDistribution",
                      json_loads("{\"color\":{\"Green\":1,\"Red\":3},\"stock\":{\"true\":1}}", 0,
                                 NULL),
                      "GET");
    su_resp_free(&r);
    facets_bounded(f);
    facets_errors(f);
}

/* ---- errors ------------------------------------------------------------------------------------ */

/* The request gets this error with exactly this message. */
static void
expect_error_msg(struct su_fixture *f, const char *body, int status, const char *code,
                 const char *message)
{
    struct su_resp r;
    su_json(&f->srv, "POST", "/multi-search", body, &r);
    su_expect_error_type(&r, status, code, "invalid_request");
    if (strcmp(su_jstr(r.json, "message"), message) != 0)
        fail_msg("%.300s:\nexpected message %s\ngot %s", body, message, su_jstr(r.json, "message"));
    su_resp_free(&r);
}

/* The request gets this error, its message starting with prefix. */
static void
expect_error_prefix(struct su_fixture *f, const char *body, int status, const char *code,
                    const char *prefix)
{
    struct su_resp r;
    su_json(&f->srv, "POST", "/multi-search", body, &r);
    su_expect_error_type(&r, status, code, "invalid_request");
    if (strncmp(su_jstr(r.json, "message"), prefix, strlen(prefix)) != 0)
        fail_msg("%.300s:\nexpected a message starting %s\ngot %s", body, prefix,
                 su_jstr(r.json, "message"));
    su_resp_free(&r);
}

/* What a failed request must leave as it was: the tasks and both indexes' documents. */
static char *
state_text(struct su_fixture *f)
{
    struct su_resp r;
    su_get_ok(&f->srv, "/tasks?limit=1000", &r);
    json_t *all = json_pack("{sO}", "tasks", json_object_get(r.json, "results"));
    su_resp_free(&r);
    const char *uids[] = {"books", "films"};
    for (size_t i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof(path), "/indexes/%s/documents?limit=1000", uids[i]);
        su_get_ok(&f->srv, path, &r);
        json_object_set(all, uids[i], json_object_get(r.json, "results"));
        su_resp_free(&r);
    }
    char *text = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(all);
    return text;
}

#define VALID_UID_RULE                                                                           \
    "is not a valid index uid. Index uid can be an integer or a string containing only "         \
    "alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 "    \
    "bytes."

static void
test_errors(void **state)
{
    struct su_fixture *f = *state;
    start(f, NULL);
    uint64_t rng = tu_seed();
    static struct corpus books, films;
    corpus_make(&books, "books", 8, false, &rng);
    corpus_make(&films, "films", 5, true, &rng);
    corpus_load(f, &books);
    corpus_load(f, &films);
    char *before = state_text(f);

    /* The body. */
    expect_error_msg(f, "[]", 400, "bad_request",
                     "Invalid value type: expected an object, but found an array: `[]`");
    expect_error_msg(f, "{}", 400, "bad_request", "Missing field `queries`");
    expect_error_msg(f, "{\"federation\":null}", 400, "bad_request", "Missing field `queries`");
    expect_error_msg(f, "{\"queries\":{}}", 400, "bad_request",
                     "Invalid value type at `.queries`: expected an array, but found an object: "
                     "`{}`");
    expect_error_msg(f, "{\"queries\":null}", 400, "bad_request",
                     "Invalid value type at `.queries`: expected an array, but found null");
    expect_error_msg(f, "{\"queries\":[],\"limit\":1}", 400, "bad_request",
                     "Unknown field `limit`: expected one of `queries`, `federation`");
    expect_error_prefix(f, "{\"queries\":[],\"federation\":{}}", 400, "bad_request",
                        "folio does not support federated search (`federation`)");
    expect_error_prefix(f, "{\"federation\":{\"limit\":5},\"queries\":[]}", 400, "bad_request",
                        "folio does not support federated search");
    expect_error_msg(f, "{\"queries\":[{\"indexUid\":\"books\"},7]}", 400, "bad_request",
                     "Invalid value type at `.queries[1]`: expected an object, but found a "
                     "positive integer: `7`");
    {
        struct su_resp r;
        su_json(&f->srv, "POST", "/multi-search", NULL, &r);
        su_expect_error(&r, 415, "missing_content_type");
        su_resp_free(&r);
        su_req(&f->srv, "POST", "/multi-search", "application/json", "", &r);
        su_expect_error(&r, 400, "missing_payload");
        su_resp_free(&r);
        su_req(&f->srv, "POST", "/multi-search", "application/json", "{\"queries\":[", &r);
        su_expect_error(&r, 400, "malformed_payload");
        su_resp_free(&r);
        su_req(&f->srv, "GET", "/multi-search", NULL, NULL, &r);
        su_expect_error(&r, 405, "method_not_allowed");
        su_resp_free(&r);
    }

    /* The index uid of a query. */
    expect_error_msg(f, "{\"queries\":[{\"indexUid\":\"books\"},{\"q\":\"red\"}]}", 400,
                     "missing_index_uid", "Missing field `indexUid` inside `.queries[1]`");
    expect_error_msg(f, "{\"queries\":[{\"indexUid\":\"bad uid\"}]}", 400, "invalid_index_uid",
                     "Invalid value at `.queries[0].indexUid`: `bad uid` " VALID_UID_RULE);
    expect_error_msg(f, "{\"queries\":[{\"indexUid\":12}]}", 400, "invalid_index_uid",
                     "Invalid value type at `.queries[0].indexUid`: expected a string, but found a "
                     "positive integer: `12`");
    expect_error_msg(f, "{\"queries\":[{\"indexUid\":\"books\"},{\"indexUid\":\"nope\"}]}", 404,
                     "index_not_found", "Inside `.queries[1]`: Index `nope` not found.");

    /* A query's parameters: deserializer errors carry their location, the others the prefix. */
    expect_error_msg(f, "{\"queries\":[{\"indexUid\":\"books\",\"q\":5}]}", 400,
                     "invalid_search_q",
                     "Invalid value type at `.queries[0].q`: expected a string, but found a "
                     "positive integer: `5`");
    expect_error_msg(f, "{\"queries\":[{\"indexUid\":\"films\"},{\"indexUid\":\"books\",\"limit\":-1}]}",
                     400, "invalid_search_limit",
                     "Invalid value type at `.queries[1].limit`: expected a positive integer, but "
                     "found a negative integer: `-1`");
    expect_error_msg(f, "{\"queries\":[{\"indexUid\":\"books\",\"attributesToRetrieve\":[\"a\",1]}]}",
                     400, "invalid_search_attributes_to_retrieve",
                     "Invalid value type at `.queries[0].attributesToRetrieve[1]`: expected a "
                     "string, but found a positive integer: `1`");
    expect_error_prefix(f, "{\"queries\":[{\"indexUid\":\"books\",\"foo\":1}]}", 400,
                        "bad_request",
                        "Unknown field `foo` inside `.queries[0]`: expected one of `indexUid`, "
                        "`q`, ");
    expect_error_msg(f, "{\"queries\":[{\"indexUid\":\"books\",\"filter\":42}]}", 400,
                     "invalid_search_filter",
                     "Inside `.queries[0]`: Invalid syntax for the filter parameter: `expected "
                     "String, Array, found: 42`.");
    /* title is not filterable: the index's message, prefixed. */
    expect_error_prefix(f,
                        "{\"queries\":[{\"indexUid\":\"books\"},{\"indexUid\":\"films\","
                        "\"filter\":\"title = x\"}]}",
                        400, "invalid_search_filter",
                        "Inside `.queries[1]`: Attribute `title` is not filterable.");
    expect_error_msg(f, "{\"queries\":[{\"indexUid\":\"books\",\"sort\":[\"year:asc\"]}]}", 400,
                     "invalid_search_sort",
                     "Inside `.queries[0]`: folio does not support `sort` yet: leave it out, or "
                     "send its default value `[]`.");
    expect_error_msg(f,
                     "{\"queries\":[{\"indexUid\":\"books\"},{\"indexUid\":\"films\","
                     "\"federationOptions\":{\"weight\":2}}]}",
                     400, "invalid_multi_search_federation_options",
                     "Inside `.queries[1]`: Using `federationOptions` is not allowed in a "
                     "non-federated search.\n - Hint: remove `federationOptions` from query #1 or "
                     "add `federation` to the request.");
    /* The first error answers: query 1's, not query 2's. */
    expect_error_msg(f,
                     "{\"queries\":[{\"indexUid\":\"books\"},{\"indexUid\":\"gone\"},"
                     "{\"indexUid\":\"books\",\"filter\":\"title = x\"}]}",
                     404, "index_not_found", "Inside `.queries[1]`: Index `gone` not found.");

    /* null where Meilisearch takes null; no queries at all. */
    struct su_resp r;
    su_json(&f->srv, "POST", "/multi-search",
            "{\"federation\":null,\"queries\":[{\"indexUid\":\"films\",\"q\":null,\"filter\":null,"
            "\"federationOptions\":null,\"attributesToRetrieve\":null,\"sort\":null}]}",
            &r);
    if (r.status != 200)
        fail_msg("nulls: %d %.500s", r.status, r.body);
    json_t *result = json_array_get(json_object_get(r.json, "results"), 0);
    assert_int_equal(su_jint(result, "estimatedTotalHits"), 5);
    su_resp_free(&r);
    su_json(&f->srv, "POST", "/multi-search", "{\"queries\":[]}", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"results\":[]}");
    su_resp_free(&r);

    /* Over the limit: 1001 queries. */
    struct su_resp big;
    const char *one = "{\"indexUid\":\"books\"}";
    size_t cap = 1001 * (strlen(one) + 1) + 32, n = 0;
    char *body = folio_malloc(cap);
    n += (size_t)snprintf(body + n, cap - n, "{\"queries\":[");
    for (size_t i = 0; i < 1001; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s%s", i ? "," : "", one);
    snprintf(body + n, cap - n, "]}");
    su_json(&f->srv, "POST", "/multi-search", body, &big);
    su_expect_error_type(&big, 400, "bad_request", "invalid_request");
    assert_string_equal(su_jstr(big.json, "message"),
                        "Too many queries in `.queries`: folio runs at most 1000 in one "
                        "multi-search, found 1001. Split them over several requests.");
    su_resp_free(&big);
    folio_free(body);

    /* Nothing above changed anything. */
    char *after = state_text(f);
    assert_string_equal(before, after);
    free(before);
    free(after);
    corpus_free(&books);
    corpus_free(&films);
}

/* ---- the master key ---------------------------------------------------------------------------- */

static void
test_auth(void **state)
{
    struct su_fixture *f = *state;
    static const char *const extra[] = {"--master-key", "multi-s3cret", NULL};
    start(f, extra);
    f->srv.key = "multi-s3cret";
    json_decref(su_run(&f->srv, "POST", "/indexes/books/documents?primaryKey=id",
                       "[{\"id\":1,\"title\":\"red fox\"}]", "documentAdditionOrUpdate", "books",
                       TASK_TIMEOUT_MS));
    const char *body = "{\"queries\":[{\"indexUid\":\"books\",\"q\":\"red\"}]}";
    struct su_resp r;
    f->srv.key = NULL;
    su_json(&f->srv, "POST", "/multi-search", body, &r);
    su_expect_error_type(&r, 401, "missing_authorization_header", "auth");
    su_resp_free(&r);
    f->srv.key = "wrong";
    su_json(&f->srv, "POST", "/multi-search", body, &r);
    su_expect_error_type(&r, 403, "invalid_api_key", "auth");
    su_resp_free(&r);
    /* Authentication comes first, before the body is looked at. */
    su_json(&f->srv, "POST", "/multi-search", "not json", &r);
    su_expect_error_type(&r, 403, "invalid_api_key", "auth");
    su_resp_free(&r);
    f->srv.key = "multi-s3cret";
    su_json(&f->srv, "POST", "/multi-search", body, &r);
    if (r.status != 200)
        fail_msg("with the key: %d %.500s", r.status, r.body);
    json_t *result = json_array_get(json_object_get(r.json, "results"), 0);
    assert_string_equal(su_jstr(result, "indexUid"), "books");
    assert_int_equal(su_jint(result, "estimatedTotalHits"), 1);
    su_resp_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_results, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_pages, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_facets, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, su_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
