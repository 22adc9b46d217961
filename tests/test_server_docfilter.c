/*
 * Documents by filter over a real foliod (server/h_documents.c):
 * GET /indexes/{uid}/documents?filter=, POST /indexes/{uid}/documents/fetch
 * and POST /indexes/{uid}/documents/delete, their errors, the
 * documentDeletion task's details before and after, and a restart (the
 * journal's by-filter content replays). One test checks, without a server,
 * the registration-time details a task view shows for that content.
 *
 * Expected values come from the documents the test adds: ten movies whose
 * genre and year follow from their id by the rules in movie_*(), so which
 * ids a filter matches is computed by the test from those rules, never from
 * what the server answered. Every refused request is also checked to leave
 * the tasks and documents as they were.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/sched.h"
#include "srvutil.h"
#include "testutil.h"

#define IO_TIMEOUT_MS 120000
#define TASK_TIMEOUT_MS 60000
#define MOVIES 10

static int
setup(void **state)
{
    return su_fixture_setup(state, "srvdocf");
}

static void
start(struct su_fixture *f)
{
    char *db = tu_path(f->dir, "db"), *snaps = tu_path(f->dir, "snapshots"),
         *log = tu_path(f->dir, "foliod.log");
    const char *args[] = {"--log-level", "debug", NULL};
    f->srv.io_timeout_ms = IO_TIMEOUT_MS;
    su_start_at(&f->srv, db, snaps, log, args);
    folio_free(db);
    folio_free(snaps);
    folio_free(log);
}

/* Movie i (1..MOVIES): its genre and year. */
static const char *
movie_genre(int i)
{
    return i % 3 == 0 ? "drama" : i % 3 == 1 ? "comedy" : "horror";
}

static int
movie_year(int i)
{
    return 1990 + 5 * i;
}

static void
json_free_dump(const char *what, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    fprintf(stderr, "%s: %s\n", what, s);
    free(s);
}

/* Creates `movies` (filterable genre and year) with the ten movies. */
static void
seed(struct su_fixture *f)
{
    json_decref(su_run(&f->srv, "POST", "/indexes", "{\"uid\":\"movies\",\"primaryKey\":\"id\"}",
                       "indexCreation", "movies", TASK_TIMEOUT_MS));
    json_decref(su_run(&f->srv, "PATCH", "/indexes/movies/settings",
                       "{\"filterableAttributes\":[\"genre\",\"year\"]}", "settingsUpdate",
                       "movies", TASK_TIMEOUT_MS));
    json_t *docs = json_array();
    for (int i = 1; i <= MOVIES; i++)
        json_array_append_new(docs, json_pack("{si,ss,si,ss}", "id", i, "genre", movie_genre(i),
                                              "year", movie_year(i), "title", "t"));
    char *body = json_dumps(docs, JSON_COMPACT);
    json_decref(docs);
    json_decref(su_run(&f->srv, "POST", "/indexes/movies/documents", body,
                       "documentAdditionOrUpdate", "movies", TASK_TIMEOUT_MS));
    free(body);
}

/* The response is {results, offset, limit, total} with exactly these ids, in order. */
static void
expect_page(const struct su_resp *r, const int *ids, size_t n, long long offset, long long limit,
            long long total)
{
    if (r->status != 200 || r->json == NULL)
        fail_msg("expected a page, got %d: %.500s", r->status, r->body);
    assert_int_equal(json_object_size(r->json), 4);
    assert_int_equal(su_jint(r->json, "offset"), offset);
    assert_int_equal(su_jint(r->json, "limit"), limit);
    assert_int_equal(su_jint(r->json, "total"), total);
    json_t *results = json_object_get(r->json, "results");
    if (json_array_size(results) != n)
        json_free_dump("results", results);
    assert_int_equal(json_array_size(results), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(su_jint(json_array_get(results, i), "id"), ids[i]);
}

/* Ids of the movies (still there: alive) matching pred, ascending. */
static size_t
movies_where(bool (*pred)(int), const bool *alive, int *ids)
{
    size_t n = 0;
    for (int i = 1; i <= MOVIES; i++)
        if ((alive == NULL || alive[i]) && pred(i))
            ids[n++] = i;
    return n;
}

static bool is_drama(int i) { return strcmp(movie_genre(i), "drama") == 0; }
static bool after_2010(int i) { return movie_year(i) > 2010; }
static bool
after_2010_comedy_or_horror(int i)
{
    return after_2010(i) && !is_drama(i);
}
static bool any(int i) { return i > 0; }

static long long
tasks_total(struct su_fixture *f)
{
    struct su_resp r;
    su_get_ok(&f->srv, "/tasks?limit=1", &r);
    long long total = su_jint(r.json, "total");
    su_resp_free(&r);
    return total;
}

static void
expect_all_documents(struct su_fixture *f, const bool *alive)
{
    int ids[MOVIES];
    size_t n = movies_where(any, alive, ids);
    struct su_resp r;
    su_get_ok(&f->srv, "/indexes/movies/documents?limit=100", &r);
    expect_page(&r, ids, n, 0, 100, (long long)n);
    su_resp_free(&r);
}

static void
test_fetch_and_get(void **state)
{
    struct su_fixture *f = *state;
    start(f);
    seed(f);
    struct su_resp r;
    int ids[MOVIES];
    size_t n = movies_where(is_drama, NULL, ids);
    assert_true(n >= 3);

    su_json(&f->srv, "POST", "/indexes/movies/documents/fetch", "{\"filter\":\"genre = drama\"}",
            &r);
    expect_page(&r, ids, n, 0, 20, (long long)n);
    su_resp_free(&r);

    /* offset, limit, fields: the page moves, the total stays; only the asked fields. */
    su_json(&f->srv, "POST", "/indexes/movies/documents/fetch",
            "{\"filter\":\"genre = drama\",\"offset\":1,\"limit\":1,\"fields\":[\"id\",\"year\"]}",
            &r);
    expect_page(&r, ids + 1, 1, 1, 1, (long long)n);
    json_t *doc = json_array_get(json_object_get(r.json, "results"), 0);
    assert_int_equal(json_object_size(doc), 2);
    assert_int_equal(su_jint(doc, "year"), movie_year(ids[1]));
    su_resp_free(&r);

    /* The array form: AND of the elements, OR inside an inner array. */
    n = movies_where(after_2010_comedy_or_horror, NULL, ids);
    assert_true(n >= 2);
    su_json(&f->srv, "POST", "/indexes/movies/documents/fetch",
            "{\"filter\":[\"year > 2010\",[\"genre = comedy\",\"genre = horror\"]],\"limit\":50}",
            &r);
    expect_page(&r, ids, n, 0, 50, (long long)n);
    su_resp_free(&r);

    /* GET ?filter=: a string, with offset, limit and fields. */
    n = movies_where(is_drama, NULL, ids);
    su_get_ok(&f->srv, "/indexes/movies/documents?filter=genre%20%3D%20drama&offset=2&limit=5"
                       "&fields=id",
              &r);
    expect_page(&r, ids + 2, n - 2, 2, 5, (long long)n);
    assert_int_equal(json_object_size(json_array_get(json_object_get(r.json, "results"), 0)), 1);
    su_resp_free(&r);
    /* GET ?filter= as JSON: the array form works there too. */
    n = movies_where(after_2010, NULL, ids);
    su_get_ok(&f->srv, "/indexes/movies/documents?filter=%5B%22year%20%3E%202010%22%5D", &r);
    expect_page(&r, ids, n, 0, 20, (long long)n);
    su_resp_free(&r);
    /* No filter, null and blank filters: every document. */
    n = movies_where(any, NULL, ids);
    su_json(&f->srv, "POST", "/indexes/movies/documents/fetch", "{\"filter\":null}", &r);
    expect_page(&r, ids, n, 0, 20, MOVIES);
    su_resp_free(&r);
    su_json(&f->srv, "POST", "/indexes/movies/documents/fetch", "{\"filter\":\" \"}", &r);
    expect_page(&r, ids, n, 0, 20, MOVIES);
    su_resp_free(&r);
    su_json(&f->srv, "POST", "/indexes/movies/documents/fetch", "{}", &r);
    expect_page(&r, ids, n, 0, 20, MOVIES);
    su_resp_free(&r);
    /* A filter matching nothing. */
    su_json(&f->srv, "POST", "/indexes/movies/documents/fetch", "{\"filter\":\"year = 1\"}", &r);
    expect_page(&r, ids, 0, 0, 20, 0);
    su_resp_free(&r);
}

static void
expect_error_containing(const struct su_resp *r, int status, const char *code, const char *text)
{
    su_expect_error_type(r, status, code, "invalid_request");
    const char *msg = su_jstr(r->json, "message");
    if (strstr(msg, text) == NULL)
        fail_msg("message `%s` lacks `%s`", msg, text);
}

/*
 * ids: only the listed documents, in internal id (insertion) order whatever
 * the order of the list, narrowed by the filter; ids that are not stored or
 * cannot be ids are ignored. Movie 0 is added after 1..10, so it comes last.
 */
static void
test_fetch_by_ids(void **state)
{
    struct su_fixture *f = *state;
    start(f);
    seed(f);
    json_decref(su_run(&f->srv, "POST", "/indexes/movies/documents",
                       "[{\"id\":0,\"genre\":\"drama\",\"year\":1990,\"title\":\"t\"}]",
                       "documentAdditionOrUpdate", "movies", TASK_TIMEOUT_MS));
    struct su_resp r;
    /* GET: comma-separated, empty pieces dropped, ids that are not stored ignored. */
    su_get_ok(&f->srv, "/indexes/movies/documents?ids=7,0,2,,nope,3,7,", &r);
    expect_page(&r, (const int[]){2, 3, 7, 0}, 4, 0, 20, 4);
    su_resp_free(&r);
    /* With a filter: the listed dramas only (the test's own rule says which). */
    int want[MOVIES + 1];
    size_t n = 0;
    static const int listed[] = {2, 3, 6, 7, 9};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(listed); i++)
        if (is_drama(listed[i]))
            want[n++] = listed[i];
    want[n++] = 0; /* a drama too */
    assert_true(n >= 3);
    su_get_ok(&f->srv, "/indexes/movies/documents?ids=0,2,3,6,7,9&filter=genre%20%3D%20drama",
              &r);
    expect_page(&r, want, n, 0, 20, (long long)n);
    su_resp_free(&r);
    /* POST: strings and integers alike, a repeated id once; offset and limit over the listed. */
    su_json(&f->srv, "POST", "/indexes/movies/documents/fetch",
            "{\"ids\":[\"9\",0,1,\"1\"],\"offset\":1,\"limit\":1,\"fields\":[\"id\"]}", &r);
    expect_page(&r, (const int[]){9}, 1, 1, 1, 3);
    assert_int_equal(json_object_size(json_array_get(json_object_get(r.json, "results"), 0)), 1);
    su_resp_free(&r);
    su_json(&f->srv, "POST", "/indexes/movies/documents/fetch",
            "{\"ids\":[6,3,0],\"filter\":\"genre = drama\"}", &r);
    n = 0;
    for (int i = 1; i <= MOVIES; i++)
        if ((i == 3 || i == 6) && is_drama(i))
            want[n++] = i;
    want[n++] = 0;
    expect_page(&r, want, n, 0, 20, (long long)n);
    su_resp_free(&r);
    /* An empty list lists nothing; null is no restriction. */
    su_json(&f->srv, "POST", "/indexes/movies/documents/fetch", "{\"ids\":[]}", &r);
    expect_page(&r, NULL, 0, 0, 20, 0);
    su_resp_free(&r);
    su_json(&f->srv, "POST", "/indexes/movies/documents/fetch", "{\"ids\":null,\"limit\":2}", &r);
    expect_page(&r, (const int[]){1, 2}, 2, 0, 2, MOVIES + 1);
    su_resp_free(&r);
    /* A deleted document is no longer listed. */
    json_decref(su_run(&f->srv, "DELETE", "/indexes/movies/documents/2", NULL, "documentDeletion",
                       "movies", TASK_TIMEOUT_MS));
    su_get_ok(&f->srv, "/indexes/movies/documents?ids=2,3", &r);
    expect_page(&r, (const int[]){3}, 1, 0, 20, 1);
    su_resp_free(&r);
    /* Not an array, or an element that is no document id: invalid_document_ids, as Meilisearch. */
    long long tasks = tasks_total(f);
#define ID_RULE                                                                                   \
    " is invalid. A document identifier can be of type integer or string, only composed of "    \
    "alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be "    \
    "more than 511 bytes."
    static const struct {
        const char *body, *path, *text;
    } bad[] = {
        {"{\"ids\":\"1\"}", NULL,
         "Invalid value type at `.ids`: expected an array, but found a string: `\"1\"`"},
        {"{\"ids\":{}}", NULL, "Invalid value type at `.ids`: expected an array"},
        {"{\"ids\":[1,1.5]}", NULL, "In `.ids[1]`: Document identifier `1.5`" ID_RULE},
        {"{\"ids\":[true]}", NULL, "In `.ids[0]`: Document identifier `true`" ID_RULE},
        {"{\"ids\":[[1]]}", NULL, "In `.ids[0]`: Document identifier `[1]`" ID_RULE},
        {"{\"ids\":[\"2\",\"a/b\"]}", NULL,
         "In `.ids[1]`: Document identifier `\"a/b\"`" ID_RULE},
        {"{\"ids\":[\"\"]}", NULL, "In `.ids[0]`: Document identifier `\"\"`" ID_RULE},
        {NULL, "/indexes/movies/documents?ids=1,,%202", "In `.ids[1]`: Document identifier `\" 2\"`" ID_RULE},
        {NULL, "/indexes/movies/documents?ids=a%2Fb", "In `.ids[0]`: Document identifier `\"a/b\"`" ID_RULE},
    };
#undef ID_RULE
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(bad); i++) {
        if (bad[i].body != NULL)
            su_json(&f->srv, "POST", "/indexes/movies/documents/fetch", bad[i].body, &r);
        else
            su_req(&f->srv, "GET", bad[i].path, NULL, NULL, &r);
        expect_error_containing(&r, 400, "invalid_document_ids", bad[i].text);
        su_resp_free(&r);
    }
    assert_int_equal(tasks_total(f), tasks);
}

static void
test_fetch_errors(void **state)
{
    struct su_fixture *f = *state;
    start(f);
    seed(f);
    long long tasks = tasks_total(f);
    static const struct {
        const char *method, *path, *body;
        int status;
        const char *code, *text;
    } cases[] = {
        {"POST", "/indexes/movies/documents/fetch", "{\"filter\":\"year >\"}", 400,
         "invalid_document_filter", "Was expecting a value but instead got nothing.\n7:7 year >"},
        {"POST", "/indexes/movies/documents/fetch", "{\"filter\":\"title = t\"}", 400,
         "invalid_document_filter",
         "Attribute `title` is not filterable. Available filterable attributes are: `genre`, "
         "`year`.\n1:6 title = t"},
        {"POST", "/indexes/movies/documents/fetch", "{\"filter\":42}", 400,
         "invalid_document_filter",
         "Invalid syntax for the filter parameter: `expected String, Array, found: 42`."},
        {"POST", "/indexes/movies/documents/fetch", "{\"filter\":[\"year > 1\", 7]}", 400,
         "invalid_document_filter", "`expected String, [String], found: 7`"},
        {"POST", "/indexes/movies/documents/fetch", "{\"offset\":-1}", 400,
         "invalid_document_offset",
         "Invalid value type at `.offset`: expected a positive integer, but found a negative "
         "integer: `-1`"},
        {"POST", "/indexes/movies/documents/fetch", "{\"limit\":\"5\"}", 400,
         "invalid_document_limit", "Invalid value type at `.limit`: expected a positive integer"},
        {"POST", "/indexes/movies/documents/fetch", "{\"fields\":\"id\"}", 400,
         "invalid_document_fields", "Invalid value type at `.fields`: expected an array"},
        {"POST", "/indexes/movies/documents/fetch", "{\"fields\":[1]}", 400,
         "invalid_document_fields", "`.fields[0]`"},
        {"POST", "/indexes/movies/documents/fetch", "{\"q\":\"x\"}", 400, "bad_request",
         "Unknown field `q`: expected one of `offset`, `limit`, `fields`, `retrieveVectors`, "
         "`filter`"},
        {"POST", "/indexes/movies/documents/fetch", "[]", 400, "bad_request",
         "expected an object"},
        {"POST", "/indexes/nope/documents/fetch", "{\"filter\":\"year > 1\"}", 404,
         "index_not_found", "Index `nope` not found."},
        {"GET", "/indexes/movies/documents?filter=year%20%3E", NULL, 400,
         "invalid_document_filter", "7:7 year >"},
        {"GET", "/indexes/movies/documents?filter=title%20%3D%20t", NULL, 400,
         "invalid_document_filter", "Attribute `title` is not filterable."},
        {"GET", "/indexes/movies/documents?filter=genre%20%3D%20drama&offset=x", NULL, 400,
         "invalid_document_offset", "offset"},
        {"GET", "/indexes/movies/documents?filter=genre%20%3D%20drama&limit=-2", NULL, 400,
         "invalid_document_limit", "limit"},
        {"GET", "/indexes/movies/documents?filters=genre%20%3D%20drama", NULL, 400,
         "bad_request", "filters"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        struct su_resp r;
        if (cases[i].body != NULL)
            su_json(&f->srv, cases[i].method, cases[i].path, cases[i].body, &r);
        else
            su_req(&f->srv, cases[i].method, cases[i].path, NULL, NULL, &r);
        expect_error_containing(&r, cases[i].status, cases[i].code, cases[i].text);
        su_resp_free(&r);
    }
    /* A body that is not JSON-typed. */
    struct su_resp r;
    su_req(&f->srv, "POST", "/indexes/movies/documents/fetch", "text/plain", "{}", &r);
    su_expect_error(&r, 415, "invalid_content_type");
    su_resp_free(&r);
    assert_int_equal(tasks_total(f), tasks);
    expect_all_documents(f, NULL);
}

/* The task's details are exactly {providedIds: 0, deletedDocuments, originalFilter}. */
static void
expect_deletion_details(const json_t *task, long long deleted, const char *original)
{
    json_t *d = json_object_get(task, "details");
    json_t *want = json_pack("{si,sI,ss}", "providedIds", 0, "deletedDocuments",
                             (json_int_t)deleted, "originalFilter", original);
    if (!json_equal(d, want)) {
        json_free_dump("details", d);
        json_free_dump("expected", want);
    }
    assert_true(json_equal(d, want));
    json_decref(want);
}

static void
test_delete_by_filter(void **state)
{
    struct su_fixture *f = *state;
    start(f);
    seed(f);
    bool alive[MOVIES + 1];
    for (int i = 0; i <= MOVIES; i++)
        alive[i] = true;
    int ids[MOVIES];
    size_t n = movies_where(is_drama, alive, ids);

    json_t *t = su_run(&f->srv, "POST", "/indexes/movies/documents/delete",
                       "{\"filter\":\"genre = drama\"}", "documentDeletion", "movies",
                       TASK_TIMEOUT_MS);
    expect_deletion_details(t, (long long)n, "\"genre = drama\"");
    assert_true(json_is_null(json_object_get(t, "error")));
    json_decref(t);
    for (size_t i = 0; i < n; i++)
        alive[ids[i]] = false;
    expect_all_documents(f, alive);
    /* The search agrees. */
    struct su_resp r;
    su_json(&f->srv, "POST", "/indexes/movies/search", "{\"filter\":\"genre = drama\"}", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(su_jint(r.json, "estimatedTotalHits"), 0);
    su_resp_free(&r);

    /* The array form: originalFilter is its compact JSON text. */
    n = movies_where(after_2010, alive, ids);
    assert_true(n > 0);
    t = su_run(&f->srv, "POST", "/indexes/movies/documents/delete",
               "{\"filter\": [\"year > 2010\", [\"genre = comedy\", \"genre = horror\"]]}",
               "documentDeletion", "movies", TASK_TIMEOUT_MS);
    expect_deletion_details(t, (long long)n,
                            "[\"year > 2010\",[\"genre = comedy\",\"genre = horror\"]]");
    json_decref(t);
    for (size_t i = 0; i < n; i++)
        alive[ids[i]] = false;
    expect_all_documents(f, alive);

    /* Not filterable: registered, then failed at processing; nothing deleted. */
    su_json(&f->srv, "POST", "/indexes/movies/documents/delete", "{\"filter\":\"title = t\"}", &r);
    long long uid = su_expect_enqueued(&r, "documentDeletion", "movies");
    su_resp_free(&r);
    t = su_wait_task(&f->srv, uid, TASK_TIMEOUT_MS);
    assert_string_equal(su_jstr(t, "status"), "failed");
    expect_deletion_details(t, 0, "\"title = t\"");
    json_t *err = json_object_get(t, "error");
    assert_string_equal(su_jstr(err, "code"), "invalid_document_filter");
    assert_string_equal(su_jstr(err, "type"), "invalid_request");
    assert_non_null(strstr(su_jstr(err, "message"), "Attribute `title` is not filterable."));
    json_decref(t);
    expect_all_documents(f, alive);

    /* Refused at registration: no task, nothing changes. */
    long long tasks = tasks_total(f);
    static const struct {
        const char *path, *body;
        int status;
        const char *code, *text;
    } refused[] = {
        {"/indexes/movies/documents/delete", "{}", 400, "missing_document_filter",
         "Missing field `filter`"},
        {"/indexes/movies/documents/delete", "{\"filter\":null}", 400, "missing_document_filter",
         "filter"},
        {"/indexes/movies/documents/delete", "{\"filter\":\"year >\"}", 400,
         "invalid_document_filter", "7:7 year >"},
        {"/indexes/movies/documents/delete", "{\"filter\":\"\"}", 400, "invalid_document_filter",
         "The filter cannot be empty."},
        {"/indexes/movies/documents/delete", "{\"filter\":[]}", 400, "invalid_document_filter",
         "The filter cannot be empty."},
        {"/indexes/movies/documents/delete", "{\"filter\":true}", 400, "invalid_document_filter",
         "`expected String, Array, found: true`"},
        {"/indexes/movies/documents/delete", "{\"filter\":\"year > 1\",\"ids\":[1]}", 400,
         "bad_request", "Unknown field `ids`: expected one of `filter`"},
        {"/indexes/movies/documents/delete", "\"year > 1\"", 400, "bad_request",
         "expected an object"},
        {"/indexes/nope/documents/delete", "{\"filter\":\"year > 1\"}", 404, "index_not_found",
         "nope"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(refused); i++) {
        su_json(&f->srv, "POST", refused[i].path, refused[i].body, &r);
        expect_error_containing(&r, refused[i].status, refused[i].code, refused[i].text);
        su_resp_free(&r);
    }
    assert_int_equal(tasks_total(f), tasks);
    expect_all_documents(f, alive);

    /* A restart replays the journal: the same tasks, the same documents. */
    assert_int_equal(su_stop(&f->srv), 0);
    start(f);
    su_get_ok(&f->srv, "/tasks?types=documentDeletion", &r);
    json_t *results = json_object_get(r.json, "results");
    assert_int_equal(json_array_size(results), 3);
    n = movies_where(is_drama, NULL, ids);
    expect_deletion_details(json_array_get(results, 2), (long long)n, "\"genre = drama\"");
    su_resp_free(&r);
    expect_all_documents(f, alive);
}

/*
 * Exactly once: foliod is killed (crash point index-committed) right after the
 * deletion's index write committed, before its outcome was recorded. On
 * restart the task is finished from the index's marker with the details
 * stored with it: deletedDocuments is the count of the one application (a
 * second run would delete nothing and report 0).
 */
static void
test_delete_killed_after_commit(void **state)
{
    struct su_fixture *f = *state;
    start(f);
    seed(f);
    assert_int_equal(su_stop(&f->srv), 0);
    long long uid = 3; /* after the seed's three tasks */
    setenv("FOLIO_CRASH_POINT", "index-committed", 1);
    start(f);
    unsetenv("FOLIO_CRASH_POINT");
    struct su_conn c;
    assert_int_equal(su_open(&c, f->srv.port), 0);
    const char *body = "{\"filter\":\"genre = drama OR year > 2030\"}";
    assert_int_equal(su_sendf(&c,
                              "POST /indexes/movies/documents/delete HTTP/1.1\r\nHost: x\r\n"
                              "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                              strlen(body), body),
                     0);
    struct su_resp r = {0};
    if (su_read(&c, &r, IO_TIMEOUT_MS) == 0) /* it may die before it answers */
        assert_int_equal(su_jint(r.json, "taskUid"), uid);
    su_resp_free(&r);
    su_close(&c);
    int status = su_wait_exit(&f->srv, TASK_TIMEOUT_MS);
    assert_int_not_equal(status, -1); /* it died at the crash point */
    start(f);
    json_t *t = su_wait_succeeded(&f->srv, uid, TASK_TIMEOUT_MS);
    bool alive[MOVIES + 1];
    int n = 0;
    for (int i = 1; i <= MOVIES; i++) {
        alive[i] = !(is_drama(i) || movie_year(i) > 2030);
        n += !alive[i];
    }
    assert_true(n > 3);
    expect_deletion_details(t, n, "\"genre = drama OR year > 2030\"");
    json_decref(t);
    expect_all_documents(f, alive);
}

/*
 * Documents added by a task of the same batch are matched: a large addition
 * keeps the scheduler busy while an addition and a deletion by filter are
 * registered behind it, so the two form the next batch.
 */
static void
test_delete_after_addition_in_batch(void **state)
{
    struct su_fixture *f = *state;
    start(f);
    seed(f);
    struct {
        char *p;
        size_t len;
    } big = {0};
    FILE *mem = open_memstream(&big.p, &big.len);
    fputc('[', mem);
    for (int k = 0; k < 30000; k++)
        fprintf(mem, "%s{\"id\":%d,\"genre\":\"filler\",\"year\":1800,\"title\":\"words of %d\"}",
                k ? "," : "", 1000 + k, k);
    fputc(']', mem);
    fclose(mem);
    struct su_resp r;
    su_json(&f->srv, "POST", "/indexes/movies/documents", big.p, &r);
    long long a = su_expect_enqueued(&r, "documentAdditionOrUpdate", "movies");
    su_resp_free(&r);
    free(big.p);
    su_json(&f->srv, "POST", "/indexes/movies/documents",
            "[{\"id\":100,\"genre\":\"drama\",\"year\":2050},{\"id\":101,\"genre\":\"x\","
            "\"year\":2060}]",
            &r);
    long long b = su_expect_enqueued(&r, "documentAdditionOrUpdate", "movies");
    su_resp_free(&r);
    su_json(&f->srv, "POST", "/indexes/movies/documents/delete",
            "{\"filter\":\"genre = drama OR year >= 2060\"}", &r);
    long long c = su_expect_enqueued(&r, "documentDeletion", "movies");
    su_resp_free(&r);
    json_t *ta = su_wait_succeeded(&f->srv, a, TASK_TIMEOUT_MS);
    json_t *tb = su_wait_succeeded(&f->srv, b, TASK_TIMEOUT_MS);
    json_t *tc = su_wait_succeeded(&f->srv, c, TASK_TIMEOUT_MS);
    int ids[MOVIES];
    long long n = (long long)movies_where(is_drama, NULL, ids) + 2; /* and 100, 101 */
    expect_deletion_details(tc, n, "\"genre = drama OR year >= 2060\"");
    long long batch_b = su_jint(tb, "batchUid"), batch_c = su_jint(tc, "batchUid");
    if (batch_b != batch_c)
        fprintf(stderr, "note: tasks %lld and %lld ran in batches %lld and %lld (a %lld)\n", b, c,
                batch_b, batch_c, su_jint(ta, "batchUid"));
    assert_int_equal(batch_b, batch_c);
    json_decref(ta);
    json_decref(tb);
    json_decref(tc);
    su_get_ok(&f->srv, "/indexes/movies/documents?filter=year%20%3E%3D%202050", &r);
    expect_page(&r, ids, 0, 0, 20, 0);
    su_resp_free(&r);
    su_json(&f->srv, "POST", "/indexes/movies/documents/fetch", "{\"limit\":0}", &r);
    assert_int_equal(su_jint(r.json, "total"), MOVIES - (n - 2) + 30000);
    su_resp_free(&r);
}

/* What a documentDeletion by filter shows while enqueued, from its content alone. */
static void
test_enqueued_details(void **state)
{
    (void)state;
    const char *filter = "[\"a = 1\",[\"b = 2\"]]";
    struct folio_task_content c = {.kind = FOLIO_KIND_DOCUMENT_DELETION};
    c.filter = folio_str_c(filter);
    uint8_t *content = NULL;
    size_t len = 0;
    assert_int_equal(folio_task_content_encode(&c, &content, &len), 0);
    struct folio_task_content back;
    assert_int_equal(folio_task_content_decode(FOLIO_KIND_DOCUMENT_DELETION, content, len, &back),
                     0);
    assert_int_equal(back.filter.len, strlen(filter));
    assert_memory_equal(back.filter.ptr, filter, back.filter.len);
    assert_int_equal(back.ids.count, 0);
    assert_false(back.clear);
    folio_task_content_clear(&back);

    struct folio_str uid = folio_str_c("movies");
    struct folio_task_view v = {.uid = 4, .kind = FOLIO_KIND_DOCUMENT_DELETION,
                                .status = FOLIO_STATUS_ENQUEUED, .index_uids = &uid,
                                .index_count = 1, .batch_uid = FOLIO_SCHED_NONE,
                                .canceled_by = FOLIO_SCHED_NONE};
    v.content = (struct folio_object){content, (uint32_t)len};
    json_t *j = NULL;
    assert_int_equal(folio_task_view_to_json(&v, &j), 0);
    json_t *want = json_pack("{si,sn,ss}", "providedIds", 0, "deletedDocuments", "originalFilter",
                             filter);
    if (!json_equal(json_object_get(j, "details"), want))
        json_free_dump("details", json_object_get(j, "details"));
    assert_true(json_equal(json_object_get(j, "details"), want));
    json_decref(want);
    json_decref(j);
    folio_free(content);

    /* Two ways at once is not a content: a filter with ids, or with clear. */
    struct folio_str id = folio_str_c("1");
    c.ids = (struct folio_str_array){&id, 1};
    assert_int_not_equal(folio_task_content_encode(&c, &content, &len), 0);
    c.ids = (struct folio_str_array){NULL, 0};
    c.clear = true;
    assert_int_not_equal(folio_task_content_encode(&c, &content, &len), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fetch_and_get, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_errors, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_by_ids, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_delete_by_filter, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_delete_killed_after_commit, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_delete_after_addition_in_batch, setup, su_fixture_teardown),
        cmocka_unit_test(test_enqueued_details),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
