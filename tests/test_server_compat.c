/*
 * HTTP edges where foliod must answer as Meilisearch does, over a real foliod
 * (srvutil.c): CORS (browsers run the official clients), HEAD, task date
 * filters far outside the years tasks have, a NUL in a document id, integer
 * ids in delete-batch, an empty primaryKey, the error code of a bad setting,
 * a \u0000 in a payload, and snapshots of indexes whose uid is longer than a
 * file name may be.
 *
 * Every refused request is also checked to have registered nothing.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "srvutil.h"
#include "testutil.h"

#define IO_TIMEOUT_MS 120000
#define TASK_TIMEOUT_MS 60000

static int
setup(void **state)
{
    return su_fixture_setup(state, "srvcompat");
}

static void
start(struct su_fixture *f, const char *const *extra)
{
    su_fixture_start(f, extra, IO_TIMEOUT_MS);
}

/* The number of tasks GET /tasks reports. */
static long long
task_total(const struct su_server *s)
{
    struct su_resp r;
    su_get_ok(s, "/tasks?limit=0", &r);
    long long total = su_jint(r.json, "total");
    su_resp_free(&r);
    return total;
}

/* One request with extra header lines (each ending in \r\n); the answer in r. */
static void
raw_req(const struct su_server *s, const char *method, const char *path, const char *headers,
        struct su_resp *r)
{
    struct su_conn c;
    assert_int_equal(su_open(&c, s->port), 0);
    assert_int_equal(su_sendf(&c, "%s %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n",
                              method, path, headers),
                     0);
    assert_int_equal(su_read(&c, r, IO_TIMEOUT_MS), 0);
    su_close(&c);
}

static void
expect_header(const struct su_resp *r, const char *name, const char *value)
{
    char got[512];
    if (su_header(r, name, got, sizeof(got)) == NULL)
        fail_msg("no %s header in:\n%s", name, r->head);
    if (strcmp(got, value) != 0)
        fail_msg("%s: `%s`, expected `%s`", name, got, value);
}

static void
expect_no_header(const struct su_resp *r, const char *name)
{
    char got[512];
    if (su_header(r, name, got, sizeof(got)) != NULL)
        fail_msg("unexpected %s: %s in:\n%s", name, got, r->head);
}

/*
 * CORS, allowing what Meilisearch's actix-cors allows (any origin, method
 * and header): a preflight is answered before auth with the origin, the
 * methods folio serves and the asked-for headers allowed; every answer to a
 * request with an Origin allows any origin, errors included. (actix-cors
 * lists every method, and answers a non-preflight OPTIONS 400.)
 */
static void
test_cors(void **state)
{
    struct su_fixture *f = *state;
    const char *extra[] = {"--master-key", "0123456789abcdef0123", NULL};
    start(f, extra);
    struct su_resp r;

    raw_req(&f->srv, "OPTIONS", "/indexes/movies/search",
            "Origin: http://example.com\r\nAccess-Control-Request-Method: POST\r\n"
            "Access-Control-Request-Headers: content-type, authorization, x-meilisearch-client\r\n",
            &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    expect_header(&r, "Access-Control-Allow-Origin", "*");
    expect_header(&r, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE");
    expect_header(&r, "Access-Control-Allow-Headers",
                  "content-type, authorization, x-meilisearch-client");
    expect_header(&r, "Access-Control-Max-Age", "86400");
    su_resp_free(&r);

    /* A header list that is not plain tokens is not echoed. */
    raw_req(&f->srv, "OPTIONS", "/health",
            "Origin: http://example.com\r\nAccess-Control-Request-Method: GET\r\n"
            "Access-Control-Request-Headers: a;b=\"c\"\r\n",
            &r);
    assert_int_equal(r.status, 200);
    expect_no_header(&r, "Access-Control-Allow-Headers");
    su_resp_free(&r);

    /* Not a preflight (no Access-Control-Request-Method): routed, 405. */
    raw_req(&f->srv, "OPTIONS", "/health", "Origin: http://example.com\r\n", &r);
    assert_int_equal(r.status, 405);
    expect_header(&r, "Access-Control-Allow-Origin", "*");
    su_resp_free(&r);

    raw_req(&f->srv, "GET", "/health", "Origin: http://example.com\r\n", &r);
    assert_int_equal(r.status, 200);
    expect_header(&r, "Access-Control-Allow-Origin", "*");
    su_resp_free(&r);
    /* The browser reads errors too: 401 without the key. */
    raw_req(&f->srv, "GET", "/indexes", "Origin: http://example.com\r\n", &r);
    assert_int_equal(r.status, 401);
    expect_header(&r, "Access-Control-Allow-Origin", "*");
    su_resp_free(&r);
    raw_req(&f->srv, "GET", "/health", "", &r);
    assert_int_equal(r.status, 200);
    expect_no_header(&r, "Access-Control-Allow-Origin");
    su_resp_free(&r);
}

/* The answer to HEAD has headers and no content, so the next answer on the connection is intact. */
static void
test_head_has_no_body(void **state)
{
    struct su_fixture *f = *state;
    start(f, NULL);
    struct su_conn c;
    assert_int_equal(su_open(&c, f->srv.port), 0);
    assert_int_equal(su_sendf(&c, "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                     0);
    assert_true(su_closed(&c, IO_TIMEOUT_MS));
    assert_non_null(c.buf);
    const char *end = strstr(c.buf, "\r\n\r\n");
    assert_non_null(end);
    assert_true(strncmp(c.buf, "HTTP/1.1 405", 12) == 0);
    assert_non_null(strcasestr(c.buf, "Content-Length: "));
    if (strncmp(end + 4, "HTTP/1.1 200", 12) != 0)
        fail_msg("the answer to HEAD carried a body:\n%s", c.buf);
    su_close(&c);
}

static json_t *
tasks_where(const struct su_server *s, const char *query)
{
    struct su_resp r;
    char path[256];
    snprintf(path, sizeof(path), "/tasks?limit=1000&%s", query);
    su_get_ok(s, path, &r);
    json_t *out = json_incref(r.json);
    su_resp_free(&r);
    return out;
}

static void
expect_task_count(const struct su_server *s, const char *query, long long want)
{
    json_t *t = tasks_where(s, query);
    long long got = su_jint(t, "total");
    json_decref(t);
    if (got != want)
        fail_msg("GET /tasks?%s: total %lld, expected %lld", query, got, want);
}

/* A task deletion or cancelation (200, as Meilisearch answers them), run to success. */
static json_t *
task_op_run(const struct su_server *s, const char *method, const char *path)
{
    struct su_resp r;
    su_req(s, method, path, NULL, NULL, &r);
    if (r.status != 200 || r.json == NULL)
        fail_msg("%s %s: %d %.300s", method, path, r.status, r.body);
    long long uid = su_jint(r.json, "taskUid");
    su_resp_free(&r);
    return su_wait_succeeded(s, uid, TASK_TIMEOUT_MS);
}

/*
 * Dates a task cannot have (before 1677 or after 2262, past int64
 * nanoseconds) bound the filters as they say: none is before year 1000, all
 * are before 9999. A deletion or cancelation by such a date must not take
 * every task. A date-time without an offset is refused (RFC 3339).
 */
static void
test_task_dates_out_of_range(void **state)
{
    struct su_fixture *f = *state;
    start(f, NULL);
    for (int i = 0; i < 3; i++) {
        char body[64], uid[8];
        snprintf(uid, sizeof(uid), "i%d", i);
        snprintf(body, sizeof(body), "{\"uid\":\"%s\"}", uid);
        json_decref(
            su_run(&f->srv, "POST", "/indexes", body, "indexCreation", uid, TASK_TIMEOUT_MS));
    }
    const char *bounds[] = {"1000-01-01", "1677-09-20T00:00:00Z", "0000-01-01T00:00:00%2B23:59"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(bounds); i++) {
        char q[128];
        snprintf(q, sizeof(q), "beforeEnqueuedAt=%s", bounds[i]);
        expect_task_count(&f->srv, q, 0);
        snprintf(q, sizeof(q), "afterEnqueuedAt=%s", bounds[i]);
        expect_task_count(&f->srv, q, 3);
        snprintf(q, sizeof(q), "beforeFinishedAt=%s", bounds[i]);
        expect_task_count(&f->srv, q, 0);
    }
    const char *late[] = {"9999-12-31", "2262-04-12T00:00:00Z", "9999-12-31T23:59:59.999999999Z"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(late); i++) {
        char q[128];
        snprintf(q, sizeof(q), "beforeEnqueuedAt=%s", late[i]);
        expect_task_count(&f->srv, q, 3);
        snprintf(q, sizeof(q), "afterEnqueuedAt=%s", late[i]);
        expect_task_count(&f->srv, q, 0);
        snprintf(q, sizeof(q), "afterStartedAt=%s", late[i]);
        expect_task_count(&f->srv, q, 0);
    }
    /* A deletion by a date before every task deletes none; a cancelation after all, none. */
    json_t *t = task_op_run(&f->srv, "DELETE", "/tasks?beforeEnqueuedAt=1000-01-01");
    json_t *d = json_object_get(t, "details");
    assert_int_equal(su_jint(d, "matchedTasks"), 0);
    assert_int_equal(su_jint(d, "deletedTasks"), 0);
    json_decref(t);
    t = task_op_run(&f->srv, "POST", "/tasks/cancel?afterEnqueuedAt=9999-12-31");
    assert_int_equal(su_jint(json_object_get(t, "details"), "matchedTasks"), 0);
    json_decref(t);
    expect_task_count(&f->srv, "indexUids=i0,i1,i2", 3);

    long long before = task_total(&f->srv);
    struct su_resp r;
    su_req(&f->srv, "GET", "/tasks?beforeEnqueuedAt=2025-01-01T00:00:00", NULL, NULL, &r);
    su_expect_error(&r, 400, "invalid_task_before_enqueued_at");
    su_resp_free(&r);
    su_req(&f->srv, "DELETE", "/tasks?afterFinishedAt=2025-01-01T00:00:00.5", NULL, NULL, &r);
    su_expect_error(&r, 400, "invalid_task_after_finished_at");
    su_resp_free(&r);
    assert_int_equal(task_total(&f->srv), before);
}

/* A document id with a NUL is no document's id; it must not stand for its prefix. */
static void
test_nul_in_names(void **state)
{
    struct su_fixture *f = *state;
    start(f, NULL);
    json_decref(su_run(&f->srv, "POST", "/indexes/n/documents",
                       "[{\"id\":\"abc\",\"title\":\"one\",\"titles\":\"two\"}]",
                       "documentAdditionOrUpdate", "n", TASK_TIMEOUT_MS));
    struct su_resp r;
    su_get_ok(&f->srv, "/indexes/n/documents/abc", &r);
    su_resp_free(&r);
    su_req(&f->srv, "GET", "/indexes/n/documents/abc%00def", NULL, NULL, &r);
    su_expect_error(&r, 404, "document_not_found");
    assert_non_null(strstr(su_jstr(r.json, "message"), "abc\\u0000def"));
    su_resp_free(&r);
    su_req(&f->srv, "GET", "/indexes/n/documents/abc%00", NULL, NULL, &r);
    su_expect_error(&r, 404, "document_not_found");
    su_resp_free(&r);
    su_req(&f->srv, "GET", "/indexes/none/documents/abc%00", NULL, NULL, &r);
    su_expect_error(&r, 404, "index_not_found");
    su_resp_free(&r);
    su_req(&f->srv, "GET", "/indexes/n/search?attributesToRetrieve=title%00s", NULL, NULL, &r);
    su_expect_error(&r, 400, "invalid_search_attributes_to_retrieve");
    su_resp_free(&r);

    /* A \u0000 in a payload is refused with words, not jansson's flag name. */
    long long before = task_total(&f->srv);
    su_json(&f->srv, "POST", "/indexes/n/documents", "[{\"id\":\"x\",\"t\":\"a\\u0000b\"}]", &r);
    su_expect_error(&r, 400, "malformed_payload");
    assert_null(strstr(su_jstr(r.json, "message"), "JSON_ALLOW_NUL"));
    assert_non_null(strstr(su_jstr(r.json, "message"), "NUL character"));
    su_resp_free(&r);
    su_json(&f->srv, "POST", "/indexes/n/search", "{\"q\":\"a\\u0000b\"}", &r);
    su_expect_error(&r, 400, "malformed_payload");
    assert_null(strstr(su_jstr(r.json, "message"), "JSON_ALLOW_NUL"));
    su_resp_free(&r);
    assert_int_equal(task_total(&f->srv), before);
}

static bool
has_doc(const struct su_server *s, const char *path)
{
    struct su_resp r;
    su_req(s, "GET", path, NULL, NULL, &r);
    int status = r.status;
    su_resp_free(&r);
    if (status != 200 && status != 404)
        fail_msg("GET %s: %d", path, status);
    return status == 200;
}

/* delete-batch takes what an addition takes: an integer id stands for its decimal text. */
static void
test_delete_batch_integer_ids(void **state)
{
    struct su_fixture *f = *state;
    start(f, NULL);
    json_decref(su_run(&f->srv, "POST", "/indexes/d/documents",
                       "[{\"id\":-1},{\"id\":5},{\"id\":9223372036854775807},{\"id\":\"x\"}]",
                       "documentAdditionOrUpdate", "d", TASK_TIMEOUT_MS));
    assert_true(has_doc(&f->srv, "/indexes/d/documents/-1"));
    json_t *t = su_run(&f->srv, "POST", "/indexes/d/documents/delete-batch",
                       "[-1,9223372036854775807]", "documentDeletion", "d", TASK_TIMEOUT_MS);
    assert_int_equal(su_jint(json_object_get(t, "details"), "deletedDocuments"), 2);
    json_decref(t);
    assert_false(has_doc(&f->srv, "/indexes/d/documents/-1"));
    assert_false(has_doc(&f->srv, "/indexes/d/documents/9223372036854775807"));
    assert_true(has_doc(&f->srv, "/indexes/d/documents/5"));
    assert_true(has_doc(&f->srv, "/indexes/d/documents/x"));

    long long before = task_total(&f->srv);
    struct su_resp r;
    su_json(&f->srv, "POST", "/indexes/d/documents/delete-batch", "[\"x\",true]", &r);
    su_expect_error(&r, 400, "invalid_document_id");
    assert_non_null(strstr(su_jstr(r.json, "message"), "Document identifier `true` is invalid."));
    su_resp_free(&r);
    su_json(&f->srv, "POST", "/indexes/d/documents/delete-batch", "[1.5]", &r);
    su_expect_error(&r, 400, "invalid_document_id");
    su_resp_free(&r);
    assert_int_equal(task_total(&f->srv), before);
    assert_true(has_doc(&f->srv, "/indexes/d/documents/x"));
}

/* primaryKey "" is refused, not taken for "none". */
static void
test_empty_primary_key(void **state)
{
    struct su_fixture *f = *state;
    start(f, NULL);
    json_decref(su_run(&f->srv, "POST", "/indexes", "{\"uid\":\"p\",\"primaryKey\":\"id\"}",
                       "indexCreation", "p", TASK_TIMEOUT_MS));
    long long before = task_total(&f->srv);
    struct su_resp r;
    su_json(&f->srv, "POST", "/indexes", "{\"uid\":\"q\",\"primaryKey\":\"\"}", &r);
    su_expect_error(&r, 400, "invalid_index_primary_key");
    su_resp_free(&r);
    su_json(&f->srv, "PATCH", "/indexes/p", "{\"primaryKey\":\"\"}", &r);
    su_expect_error(&r, 400, "invalid_index_primary_key");
    su_resp_free(&r);
    su_json(&f->srv, "POST", "/indexes/r/documents?primaryKey=", "[{\"id\":1}]", &r);
    su_expect_error(&r, 400, "invalid_index_primary_key");
    su_resp_free(&r);
    assert_int_equal(task_total(&f->srv), before);
    /* null is still "none". */
    json_decref(su_run(&f->srv, "POST", "/indexes", "{\"uid\":\"s\",\"primaryKey\":null}",
                       "indexCreation", "s", TASK_TIMEOUT_MS));
}

/* A bad settings value has Meilisearch's code for that setting. */
static void
test_settings_error_codes(void **state)
{
    struct su_fixture *f = *state;
    start(f, NULL);
    json_decref(su_run(&f->srv, "POST", "/indexes", "{\"uid\":\"s\"}", "indexCreation", "s",
                       TASK_TIMEOUT_MS));
    static const struct {
        const char *body, *code;
    } cases[] = {
        {"{\"displayedAttributes\":[1]}", "invalid_settings_displayed_attributes"},
        {"{\"searchableAttributes\":\"x\"}", "invalid_settings_searchable_attributes"},
        {"{\"filterableAttributes\":{}}", "invalid_settings_filterable_attributes"},
        {"{\"sortableAttributes\":5}", "invalid_settings_sortable_attributes"},
        {"{\"rankingRules\":[\"words\",\"nope\"]}", "invalid_settings_ranking_rules"},
        {"{\"stopWords\":[null]}", "invalid_settings_stop_words"},
        {"{\"synonyms\":{\"a\":[1]}}", "invalid_settings_synonyms"},
        {"{\"distinctAttribute\":[]}", "invalid_settings_distinct_attribute"},
        {"{\"nope\":1}", "bad_request"},
        {"[]", "bad_request"},
    };
    long long before = task_total(&f->srv);
    struct su_resp r;
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        su_json(&f->srv, "PATCH", "/indexes/s/settings", cases[i].body, &r);
        su_expect_error(&r, 400, cases[i].code);
        char link[160];
        snprintf(link, sizeof(link), "https://docs.meilisearch.com/errors#%s", cases[i].code);
        assert_string_equal(su_jstr(r.json, "link"), link);
        su_resp_free(&r);
    }
    su_json(&f->srv, "PUT", "/indexes/s/settings/ranking-rules", "[\"bogus\"]", &r);
    su_expect_error(&r, 400, "invalid_settings_ranking_rules");
    su_resp_free(&r);
    assert_int_equal(task_total(&f->srv), before);
}

static char *
long_uid(size_t len, char fill)
{
    char *u = folio_malloc(len + 1);
    memset(u, fill, len);
    u[len] = '\0';
    return u;
}

/*
 * Index uids may have 400 bytes, file names 255: the archive of a long uid
 * is written under a shortened name, listed under its index, and imports.
 */
static void
test_long_uid_snapshots(void **state)
{
    struct su_fixture *f = *state;
    start(f, NULL);
    const size_t lens[] = {128, 129, 199, 400};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(lens); i++) {
        char *uid = long_uid(lens[i], (char)('a' + i));
        char path[600], body[2048];
        snprintf(path, sizeof(path), "/indexes/%s/documents", uid);
        json_decref(su_run(&f->srv, "POST", path, "[{\"id\":1},{\"id\":2},{\"id\":3}]",
                           "documentAdditionOrUpdate", uid, TASK_TIMEOUT_MS));
        snprintf(path, sizeof(path), "/indexes/%s/snapshots", uid);
        json_t *t = su_run(&f->srv, "POST", path, NULL, "singleIndexSnapshotCreation", uid,
                           TASK_TIMEOUT_MS);
        const char *rel = su_jstr(json_object_get(t, "details"), "snapshotPath");
        const char *dir = rel + strlen("indexes/");
        const char *slash = strchr(dir, '/');
        assert_non_null(slash);
        size_t dir_len = (size_t)(slash - dir);
        if (lens[i] <= 128) {
            assert_int_equal(dir_len, lens[i]);
            assert_memory_equal(dir, uid, lens[i]);
        } else {
            /* 96 bytes of the uid, `~`, 16 hex digits. */
            assert_int_equal(dir_len, 96 + 1 + 16);
            assert_memory_equal(dir, uid, 96);
            assert_int_equal(dir[96], '~');
        }
        assert_true(strlen(slash + 1) < 256);
        assert_memory_equal(slash + 1, dir, dir_len);

        /* Listed under the index and among all snapshots. */
        struct su_resp r;
        su_get_ok(&f->srv, path, &r);
        assert_int_equal(su_jint(r.json, "total"), 1);
        assert_string_equal(
            su_jstr(json_array_get(json_object_get(r.json, "results"), 0), "snapshotPath"), rel);
        su_resp_free(&r);

        char new_uid[32];
        snprintf(new_uid, sizeof(new_uid), "copy%zu", i);
        snprintf(body, sizeof(body),
                 "{\"snapshotPath\":\"%s\",\"indexUid\":\"%s\",\"newIndexUid\":\"%s\"}", rel, uid,
                 new_uid);
        json_decref(t);
        t = su_run(&f->srv, "POST", "/snapshots/import", body, "singleIndexSnapshotImport", new_uid,
                   TASK_TIMEOUT_MS);
        json_decref(t);
        snprintf(path, sizeof(path), "/indexes/%s/documents?limit=0", new_uid);
        su_get_ok(&f->srv, path, &r);
        assert_int_equal(su_jint(r.json, "total"), 3);
        su_resp_free(&r);
        folio_free(uid);
    }
    struct su_resp r;
    su_get_ok(&f->srv, "/snapshots?limit=100", &r);
    assert_int_equal(su_jint(r.json, "total"), (long long)FOLIO_ARRAY_LEN(lens));
    su_resp_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cors, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_head_has_no_body, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_task_dates_out_of_range, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_nul_in_names, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_delete_batch_integer_ids, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_empty_primary_key, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_settings_error_codes, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_long_uid_snapshots, setup, su_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
