/*
 * The snapshot routes of foliod over a real socket (server/h_snapshots.c):
 * POST /indexes/{uid}/snapshots, POST /snapshots, POST /snapshots/import,
 * GET /indexes/{uid}/snapshots, GET /snapshots, their errors, the master
 * key, and foliod's snapshot options.
 *
 * Each test starts its own foliod (port 0, fresh data and snapshot
 * directories under one temp dir) and stops it with SIGTERM, expecting exit
 * 0. Expected values come from what the test did: the files it placed in the
 * snapshot directory, the manifests it wrote (through the snapshot module's
 * writer, with values the test chose), the mtimes it set, the task uids a
 * fresh directory gives (0, 1, ...). Registration errors are also checked to
 * leave no task behind (GET /tasks total unchanged).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/snapshot.h"
#include "srvutil.h"
#include "testutil.h"

/* How long a request waits for its response (foliod under ASan on a busy machine). */
#define IO_TIMEOUT_MS 120000

static int
setup(void **state)
{
    return su_fixture_setup(state, "srvsnap");
}

static char *
fpath(struct su_fixture *f, const char *rel)
{
    return tu_path(f->dir, rel);
}

static void
start(struct su_fixture *f, const char *const *extra)
{
    su_fixture_start(f, extra, IO_TIMEOUT_MS);
}

static void
mkdirs(struct su_fixture *f, const char *rel)
{
    char *p = fpath(f, rel);
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", p);
    assert_int_equal(tu_system(cmd, NULL), 0);
    folio_free(p);
}

static void
put_file(struct su_fixture *f, const char *rel, const char *content)
{
    char *p = fpath(f, rel);
    tu_write_file(p, content, strlen(content));
    folio_free(p);
}

static void
expect_error(struct su_fixture *f, const char *method, const char *path, const char *body, int status,
             const char *code)
{
    struct su_resp r;
    su_json(&f->srv, method, path, body, &r);
    su_expect_error_type(&r, status, code, "invalid_request");
    su_resp_free(&r);
}

static long long
enqueue(struct su_fixture *f, const char *method, const char *path, const char *body,
        const char *type, const char *index_uid)
{
    return su_enqueue(&f->srv, method, path, body, type, index_uid);
}

static long long
task_total(struct su_fixture *f)
{
    struct su_resp r;
    su_get_ok(&f->srv, "/tasks?limit=1", &r);
    long long n = su_jint(r.json, "total");
    su_resp_free(&r);
    return n;
}

/* ---- creation routes --------------------------------------------------------------------- */

static void
test_create_routes(void **state)
{
    struct su_fixture *f = *state;
    start(f, NULL);
    json_t *t = su_run(&f->srv, "POST", "/indexes", "{\"uid\":\"movies\",\"primaryKey\":\"id\"}",
                       "indexCreation", "movies", 30000);
    json_decref(t);

    /* No body, an empty object, whitespace: all accepted. */
    struct su_resp r;
    su_req(&f->srv, "POST", "/indexes/movies/snapshots", NULL, NULL, &r);
    assert_int_equal(su_expect_enqueued(&r, "singleIndexSnapshotCreation", "movies"), 1);
    su_resp_free(&r);
    assert_int_equal(enqueue(f, "POST", "/indexes/movies/snapshots", "{}",
                             "singleIndexSnapshotCreation", "movies"),
                     2);
    assert_int_equal(enqueue(f, "POST", "/indexes/movies/snapshots", " \n ",
                             "singleIndexSnapshotCreation", "movies"),
                     3);
    assert_int_equal(enqueue(f, "POST", "/snapshots", NULL, "snapshotCreation", NULL), 4);
    assert_int_equal(enqueue(f, "POST", "/snapshots", "{}", "snapshotCreation", NULL), 5);

    /* The task as GET /tasks shows it. */
    su_get_ok(&f->srv, "/tasks/1", &r);
    assert_string_equal(su_jstr(r.json, "type"), "singleIndexSnapshotCreation");
    assert_string_equal(su_jstr(r.json, "indexUid"), "movies");
    assert_string_equal(su_jstr(json_object_get(r.json, "details"), "indexUid"), "movies");
    su_resp_free(&r);
    su_get_ok(&f->srv, "/tasks?types=singleIndexSnapshotCreation", &r);
    assert_int_equal(su_jint(r.json, "total"), 3);
    su_resp_free(&r);

    long long before = task_total(f);
    expect_error(f, "POST", "/indexes/movies/snapshots", "{\"snapshotPath\":\"x\"}", 400,
                 "bad_request");
    expect_error(f, "POST", "/indexes/movies/snapshots", "[]", 400, "bad_request");
    expect_error(f, "POST", "/indexes/movies/snapshots", "{", 400, "malformed_payload");
    expect_error(f, "POST", "/indexes/ghost/snapshots", NULL, 404, "index_not_found");
    expect_error(f, "POST", "/indexes/bad%20uid/snapshots", NULL, 400, "invalid_index_uid");
    expect_error(f, "POST", "/snapshots", "{\"indexUid\":\"movies\"}", 400, "bad_request");
    expect_error(f, "POST", "/snapshots", "3", 400, "bad_request");
    expect_error(f, "PUT", "/snapshots", NULL, 405, "method_not_allowed");
    expect_error(f, "DELETE", "/indexes/movies/snapshots", NULL, 405, "method_not_allowed");
    expect_error(f, "GET", "/snapshots/import", NULL, 405, "method_not_allowed");
    assert_int_equal(task_total(f), before);
}

/* ---- import: body checks and registration errors ------------------------------------------ */

static void
test_import_errors(void **state)
{
    struct su_fixture *f = *state;
    mkdirs(f, "snapshots/indexes/movies");
    mkdirs(f, "outside");
    put_file(f, "snapshots/indexes/movies/a.idx.snapshot", "not really an archive");
    put_file(f, "outside/x.idx.snapshot", "outside the snapshot directory");
    put_file(f, "x", "next to the snapshot directory");
    char *target = fpath(f, "outside/x.idx.snapshot");
    char *link = fpath(f, "snapshots/indexes/movies/link.idx.snapshot");
    assert_int_equal(symlink(target, link), 0);
    folio_free(target);
    folio_free(link);
    char *dlink = fpath(f, "snapshots/out");
    char *dtarget = fpath(f, "outside");
    assert_int_equal(symlink(dtarget, dlink), 0);
    folio_free(dlink);
    folio_free(dtarget);
    start(f, NULL);
    json_decref(su_run(&f->srv, "POST", "/indexes", "{\"uid\":\"films\"}", "indexCreation",
                       "films", 30000));
    json_decref(su_run(&f->srv, "POST", "/indexes", "{\"uid\":\"movies\"}", "indexCreation",
                       "movies", 30000));
    long long before = task_total(f);
    assert_int_equal(before, 2);

    const char *p = "/snapshots/import";
    /* Body shape. No body at all, with its JSON Content-Type (without, 415: test_server.c). */
    {
        struct su_resp r;
        su_req(&f->srv, "POST", p, "application/json", "", &r);
        su_expect_error_type(&r, 400, "missing_payload", "invalid_request");
        su_resp_free(&r);
    }
    expect_error(f, "POST", p, "{\"snapshotPath\":", 400, "malformed_payload");
    expect_error(f, "POST", p, "[\"a\"]", 400, "bad_request");
    expect_error(f, "POST", p, "{\"snapshotPath\":\"indexes/movies/a.idx.snapshot\",\"uid\":\"m\"}",
                 400, "bad_request");
    expect_error(f, "POST", p, "{\"newIndexUid\":\"m2\"}", 400, "missing_snapshot_path");
    expect_error(f, "POST", p, "{\"snapshotPath\":5,\"newIndexUid\":\"m2\"}", 400,
                 "invalid_snapshot_path");
    expect_error(f, "POST", p, "{\"snapshotPath\":null,\"newIndexUid\":\"m2\"}", 400,
                 "invalid_snapshot_path");
    expect_error(f, "POST", p, "{\"snapshotPath\":\"indexes/movies/a.idx.snapshot\",\"indexUid\":5}",
                 400, "invalid_index_uid");
    expect_error(f, "POST", p,
                 "{\"snapshotPath\":\"indexes/movies/a.idx.snapshot\",\"newIndexUid\":[\"m\"]}",
                 400, "invalid_index_uid");
    expect_error(f, "POST", p,
                 "{\"snapshotPath\":\"indexes/movies/a.idx.snapshot\",\"newIndexUid\":\"a b\"}",
                 400, "invalid_index_uid");
    expect_error(f, "POST", p, "{\"snapshotPath\":\"indexes/movies/a.idx.snapshot\"}", 400,
                 "missing_index_uid");

    /* Paths that leave the snapshot directory, whether the file exists or not. */
    static const char *const escapes[] = {
        "../x", "../outside/x.idx.snapshot", "/etc/passwd", "indexes/../../x",
        "indexes/movies/link.idx.snapshot", "out/x.idx.snapshot", "../../../../../../etc/passwd",
        "indexes/../../nothing-here", "",
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(escapes); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"snapshotPath\":\"%s\",\"newIndexUid\":\"m2\"}",
                 escapes[i]);
        expect_error(f, "POST", p, body, 400, "invalid_snapshot_path");
    }
    /* Absent, or not a regular file. */
    expect_error(f, "POST", p, "{\"snapshotPath\":\"indexes/movies/b.idx.snapshot\","
                               "\"newIndexUid\":\"m2\"}",
                 404, "snapshot_file_not_found");
    expect_error(f, "POST", p, "{\"snapshotPath\":\"indexes/movies\",\"newIndexUid\":\"m2\"}", 404,
                 "snapshot_file_not_found");
    /* The target exists: the uid given, or the source uid kept. */
    expect_error(f, "POST", p, "{\"snapshotPath\":\"indexes/movies/a.idx.snapshot\","
                               "\"newIndexUid\":\"films\"}",
                 409, "index_already_exists");
    expect_error(f, "POST", p, "{\"snapshotPath\":\"indexes/movies/a.idx.snapshot\","
                               "\"indexUid\":\"movies\"}",
                 409, "index_already_exists");
    expect_error(f, "POST", p, "{\"snapshotPath\":\"indexes/movies/a.idx.snapshot\","
                               "\"indexUid\":\"movies\",\"newIndexUid\":null}",
                 409, "index_already_exists");
    assert_int_equal(task_total(f), before);

    /* Accepted: relative, and absolute inside the directory; the details keep it relative. */
    long long t1 = enqueue(f, "POST", p, "{\"snapshotPath\":\"indexes/movies/a.idx.snapshot\","
                                         "\"indexUid\":\"movies\",\"newIndexUid\":\"m2\"}",
                           "singleIndexSnapshotImport", "m2");
    char abs_body[1200];
    snprintf(abs_body, sizeof(abs_body),
             "{\"snapshotPath\":\"%s/indexes/movies/a.idx.snapshot\",\"newIndexUid\":\"m3\"}",
             f->srv.snapshot_dir);
    long long t2 = enqueue(f, "POST", p, abs_body, "singleIndexSnapshotImport", "m3");
    assert_int_equal(task_total(f), before + 2);
    for (long long uid = t1; uid <= t2; uid++) {
        /* Not an archive: the task fails; the index never appears. */
        json_t *t = su_wait_task(&f->srv, uid, 60000);
        assert_string_equal(su_jstr(t, "status"), "failed");
        json_t *d = json_object_get(t, "details");
        assert_string_equal(su_jstr(d, "snapshotPath"), "indexes/movies/a.idx.snapshot");
        assert_string_equal(su_jstr(d, "newIndexUid"), uid == t1 ? "m2" : "m3");
        assert_true(strlen(su_jstr(json_object_get(t, "error"), "code")) > 0);
        json_decref(t);
    }
    struct su_resp r;
    su_get_ok(&f->srv, "/indexes", &r);
    assert_int_equal(su_jint(r.json, "total"), 2);
    su_resp_free(&r);
}

/* ---- listings ------------------------------------------------------------------------------- */

#define SOURCE_UID "0b6d2f3e-1c4a-4e8f-9a51-3d2e7c9b8a10"

/* Writes an archive with the snapshot module's writer; the values are the test's. */
static void
write_archive(struct su_fixture *f, const char *rel, enum folio_snapshot_kind kind,
              const char *index_uid, uint64_t docs, uint64_t seq, uint64_t task_uid)
{
    char *src = fpath(f, "src");
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s/indexes/1b2c'", src, src);
    assert_int_equal(tu_system(cmd, NULL), 0);
    char *data = tu_path(src, kind == FOLIO_SNAPSHOT_KIND_INDEX ? "data.mdb"
                                                                : "indexes/1b2c/data.mdb");
    tu_write_file(data, "payload bytes of the test", 25);
    folio_free(data);
    struct folio_snapshot_file file = {
        .name = kind == FOLIO_SNAPSHOT_KIND_INDEX ? "data.mdb" : "indexes/1b2c/data.mdb"};
    char *uids[1] = {(char *)"movies"}, *uuids[1] = {(char *)"1b2c"};
    struct folio_snapshot_manifest m = {
        .kind = kind,
        .format_version = FOLIO_SNAPSHOT_FORMAT_VERSION,
        .engine_version = (char *)FOLIO_TEST_VERSION,
        .created_at_ns = 1700000000123456789LL,
        .source_instance_uid = (char *)SOURCE_UID,
        .seq = seq,
        .task_uid = task_uid,
        .files = &file,
        .file_count = 1,
    };
    if (kind == FOLIO_SNAPSHOT_KIND_INDEX) {
        m.index_uid = (char *)index_uid;
        m.primary_key = (char *)"id";
        m.settings_json = (char *)"{}";
        m.document_count = docs;
    } else {
        m.index_count = 1;
        m.index_uids = uids;
        m.index_uuids = uuids;
    }
    struct folio_snapshot_error err;
    if (folio_snapshot_hash_files(src, &m, NULL, NULL, NULL, &err) != 0)
        fail_msg("hash: %s", err.message);
    struct folio_snapshot_write_opts o;
    folio_snapshot_write_opts_default(&o);
    o.threads = 1;
    char *dest = fpath(f, rel);
    if (folio_snapshot_write(dest, &m, src, &o, NULL, &err) != 0)
        fail_msg("write %s: %s", dest, err.message);
    folio_free(dest);
    folio_free(src);
}

static void
set_mtime(struct su_fixture *f, const char *rel, time_t sec)
{
    char *p = fpath(f, rel);
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
    folio_free(p);
}

static json_t *
result(const json_t *list, size_t i)
{
    json_t *e = json_array_get(json_object_get(list, "results"), i);
    assert_non_null(e);
    return e;
}

static void
test_listing(void **state)
{
    struct su_fixture *f = *state;
    mkdirs(f, "snapshots/indexes/movies/sub.idx.snapshot");
    mkdirs(f, "snapshots/indexes/books");
    mkdirs(f, "outside/ghost");
    write_archive(f, "snapshots/indexes/movies/movies_1.idx.snapshot", FOLIO_SNAPSHOT_KIND_INDEX,
                  "movies", 42, 17, 9);
    write_archive(f, "snapshots/indexes/movies/movies_2.idx.snapshot", FOLIO_SNAPSHOT_KIND_INDEX,
                  "movies", 43, 21, 12);
    write_archive(f, "snapshots/full.snapshot", FOLIO_SNAPSHOT_KIND_INSTANCE, NULL, 0, 99, 0);
    write_archive(f, "outside/ghost/g.idx.snapshot", FOLIO_SNAPSHOT_KIND_INDEX, "ghost", 1, 1, 1);
    put_file(f, "snapshots/indexes/movies/bad.idx.snapshot", "garbage, not a tar stream");
    put_file(f, "snapshots/indexes/movies/empty.idx.snapshot", "");
    put_file(f, "snapshots/indexes/movies/notes.txt", "not an archive name");
    const char *temp = "movies_3.idx.snapshot.tmp-0123456789abcdef";
    assert_true(folio_snapshot_is_temp_name(temp));
    char rel[256];
    snprintf(rel, sizeof(rel), "snapshots/indexes/movies/%s", temp);
    put_file(f, rel, "half-written");
    char *target = fpath(f, "outside/ghost/g.idx.snapshot");
    char *link = fpath(f, "snapshots/indexes/movies/link.idx.snapshot");
    assert_int_equal(symlink(target, link), 0);
    folio_free(link);
    link = fpath(f, "snapshots/indexes/ghost");
    char *ghost = fpath(f, "outside/ghost");
    assert_int_equal(symlink(ghost, link), 0);
    folio_free(ghost);
    folio_free(link);
    link = fpath(f, "snapshots/linked.snapshot");
    assert_int_equal(symlink(target, link), 0);
    folio_free(link);
    folio_free(target);
    set_mtime(f, "snapshots/indexes/movies/movies_1.idx.snapshot", 1704164645); /* 2024-01-02T03:04:05Z */
    set_mtime(f, "snapshots/indexes/movies/movies_2.idx.snapshot", 1704251045); /* +1 day */
    set_mtime(f, "snapshots/indexes/movies/bad.idx.snapshot", 1704000000);
    set_mtime(f, "snapshots/indexes/movies/empty.idx.snapshot", 1704000000);
    start(f, NULL);

    struct su_resp r;
    su_get_ok(&f->srv, "/indexes/movies/snapshots", &r);
    assert_int_equal(su_jint(r.json, "total"), 4);
    assert_int_equal(su_jint(r.json, "offset"), 0);
    assert_int_equal(su_jint(r.json, "limit"), 20);
    assert_int_equal(json_array_size(json_object_get(r.json, "results")), 4);
    /* Newest first: movies_2, movies_1, then bad and empty (same time, by path). */
    json_t *e = result(r.json, 0);
    assert_string_equal(su_jstr(e, "snapshotPath"), "indexes/movies/movies_2.idx.snapshot");
    assert_string_equal(su_jstr(e, "createdAt"), "2024-01-03T03:04:05Z");
    json_t *m = json_object_get(e, "manifest");
    assert_int_equal(su_jint(m, "documentCount"), 43);
    assert_int_equal(su_jint(m, "seq"), 21);
    assert_int_equal(su_jint(m, "taskUid"), 12);
    assert_null(json_object_get(e, "error"));
    e = result(r.json, 1);
    assert_string_equal(su_jstr(e, "snapshotPath"), "indexes/movies/movies_1.idx.snapshot");
    assert_string_equal(su_jstr(e, "createdAt"), "2024-01-02T03:04:05Z");
    char *path = fpath(f, "snapshots/indexes/movies/movies_1.idx.snapshot");
    assert_int_equal(su_jint(e, "size"), tu_file_size(path));
    folio_free(path);
    m = json_object_get(e, "manifest");
    assert_int_equal(json_object_size(m), 10);
    assert_string_equal(su_jstr(m, "kind"), "index");
    assert_string_equal(su_jstr(m, "indexUid"), "movies");
    assert_string_equal(su_jstr(m, "primaryKey"), "id");
    assert_int_equal(su_jint(m, "documentCount"), 42);
    assert_int_equal(su_jint(m, "seq"), 17);
    assert_int_equal(su_jint(m, "taskUid"), 9);
    assert_string_equal(su_jstr(m, "createdAt"), "2023-11-14T22:13:20.123456789Z");
    assert_string_equal(su_jstr(m, "engineVersion"), FOLIO_TEST_VERSION);
    assert_int_equal(su_jint(m, "formatVersion"), FOLIO_SNAPSHOT_FORMAT_VERSION);
    assert_string_equal(su_jstr(m, "sourceInstanceUid"), SOURCE_UID);
    for (size_t i = 2; i < 4; i++) {
        e = result(r.json, i);
        assert_string_equal(su_jstr(e, "snapshotPath"), i == 2
                                                            ? "indexes/movies/bad.idx.snapshot"
                                                            : "indexes/movies/empty.idx.snapshot");
        assert_true(json_is_null(json_object_get(e, "manifest")));
        json_t *err = json_object_get(e, "error");
        assert_string_equal(su_jstr(err, "code"), "snapshot_invalid");
        assert_true(strlen(su_jstr(err, "message")) > 0);
    }
    su_resp_free(&r);

    /* Pagination. */
    su_get_ok(&f->srv, "/indexes/movies/snapshots?offset=1&limit=2", &r);
    assert_int_equal(su_jint(r.json, "total"), 4);
    assert_int_equal(json_array_size(json_object_get(r.json, "results")), 2);
    assert_string_equal(su_jstr(result(r.json, 0), "snapshotPath"),
                        "indexes/movies/movies_1.idx.snapshot");
    su_resp_free(&r);
    su_get_ok(&f->srv, "/indexes/movies/snapshots?offset=9", &r);
    assert_int_equal(su_jint(r.json, "total"), 4);
    assert_int_equal(json_array_size(json_object_get(r.json, "results")), 0);
    su_resp_free(&r);
    expect_error(f, "GET", "/indexes/movies/snapshots?limit=-1", NULL, 400,
                 "invalid_snapshot_limit");
    expect_error(f, "GET", "/snapshots?offset=x", NULL, 400, "invalid_snapshot_offset");
    expect_error(f, "GET", "/snapshots?sort=name", NULL, 400, "bad_request");
    expect_error(f, "GET", "/indexes/a%20b/snapshots", NULL, 400, "invalid_index_uid");

    /* No archives, no directory, a directory that is a link out: empty lists. */
    static const char *const empty[] = {"/indexes/books/snapshots", "/indexes/nothing/snapshots",
                                        "/indexes/ghost/snapshots"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(empty); i++) {
        su_get_ok(&f->srv, empty[i], &r);
        assert_int_equal(su_jint(r.json, "total"), 0);
        assert_int_equal(json_array_size(json_object_get(r.json, "results")), 0);
        su_resp_free(&r);
    }

    /* Every archive: the whole-instance ones at the top and every index's; links skipped
       (linked.snapshot, indexes/ghost). full.snapshot is the newest. A limit above 1000
       is lowered to 1000: each listed archive is opened. */
    su_get_ok(&f->srv, "/snapshots?limit=5000", &r);
    assert_int_equal(su_jint(r.json, "total"), 5);
    assert_int_equal(su_jint(r.json, "limit"), 1000);
    assert_int_equal(json_array_size(json_object_get(r.json, "results")), 5);
    static const char *const all[] = {"indexes/movies/movies_2.idx.snapshot",
                                      "indexes/movies/movies_1.idx.snapshot",
                                      "indexes/movies/bad.idx.snapshot",
                                      "indexes/movies/empty.idx.snapshot"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(all); i++)
        assert_string_equal(su_jstr(result(r.json, i + 1), "snapshotPath"), all[i]);
    e = result(r.json, 0);
    assert_string_equal(su_jstr(e, "snapshotPath"), "full.snapshot");
    m = json_object_get(e, "manifest");
    assert_string_equal(su_jstr(m, "kind"), "instance");
    assert_true(json_is_null(json_object_get(m, "indexUid")));
    assert_true(json_is_null(json_object_get(m, "documentCount")));
    assert_int_equal(su_jint(m, "seq"), 99);
    json_t *uids = json_object_get(m, "indexUids");
    assert_int_equal(json_array_size(uids), 1);
    assert_string_equal(json_string_value(json_array_get(uids, 0)), "movies");
    su_resp_free(&r);
}

/* ---- master key ----------------------------------------------------------------------------- */

static void
test_auth(void **state)
{
    struct su_fixture *f = *state;
    static const char *const extra[] = {"--master-key", "s3cret-key", NULL};
    start(f, extra);
    static const struct {
        const char *method, *path;
    } routes[] = {
        {"GET", "/snapshots"},
        {"POST", "/snapshots"},
        {"POST", "/snapshots/import"},
        {"GET", "/indexes/movies/snapshots"},
        {"POST", "/indexes/movies/snapshots"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(routes); i++) {
        struct su_resp r;
        f->srv.key = NULL;
        su_json(&f->srv, routes[i].method, routes[i].path, NULL, &r);
        su_expect_error_type(&r, 401, "missing_authorization_header", "auth");
        su_resp_free(&r);
        f->srv.key = "wrong";
        su_json(&f->srv, routes[i].method, routes[i].path, NULL, &r);
        su_expect_error_type(&r, 403, "invalid_api_key", "auth");
        su_resp_free(&r);
    }
    struct su_resp r;
    f->srv.key = "s3cret-key";
    su_get_ok(&f->srv, "/snapshots", &r);
    assert_int_equal(su_jint(r.json, "total"), 0);
    su_resp_free(&r);
    json_decref(su_run(&f->srv, "POST", "/indexes", "{\"uid\":\"movies\"}", "indexCreation",
                       "movies", 30000));
    assert_int_equal(enqueue(f, "POST", "/indexes/movies/snapshots", NULL,
                             "singleIndexSnapshotCreation", "movies"),
                     1);
    expect_error(f, "POST", "/snapshots/import", "{\"snapshotPath\":\"../x\",\"newIndexUid\":\"a\"}",
                 400, "invalid_snapshot_path");
}

/* ---- options --------------------------------------------------------------------------------- */

/* Runs foliod with args (and env, "NAME=value" or NULL); returns the exit status. */
static int
run_foliod(struct su_fixture *f, const char *env, const char *args, char **out)
{
    char cmd[2048];
    char *db = fpath(f, "optdb");
    snprintf(cmd, sizeof(cmd), "%s '%s' --db-path '%s' --http-addr 127.0.0.1:0 %s 2>&1",
             env ? env : "", FOLIO_FOLIOD_PATH, db, args);
    folio_free(db);
    return tu_system(cmd, out);
}

static void
test_options(void **state)
{
    struct su_fixture *f = *state;
    char *out = NULL;
    assert_int_equal(run_foliod(f, NULL, "--help", &out), 0);
    static const char *const help[] = {"--snapshot-compression", "FOLIO_SNAPSHOT_COMPRESSION",
                                       "--snapshot-compression-level",
                                       "FOLIO_SNAPSHOT_COMPRESSION_LEVEL", "--snapshot-threads",
                                       "FOLIO_SNAPSHOT_THREADS", "--snapshot-dir"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(help); i++)
        if (strstr(out, help[i]) == NULL)
            fail_msg("--help does not mention %s:\n%s", help[i], out);
    free(out);

    static const struct {
        const char *env, *args, *says;
    } bad[] = {
        {NULL, "--snapshot-compression lz4", "--snapshot-compression"},
        {NULL, "--snapshot-compression zstd --snapshot-compression-level 20", "level"},
        {NULL, "--snapshot-compression gzip --snapshot-compression-level 10", "level"},
        {NULL, "--snapshot-compression none --snapshot-compression-level 3", "level"},
        {NULL, "--snapshot-compression-level x", "level"},
        {NULL, "--snapshot-threads -1", "--snapshot-threads"},
        {NULL, "--snapshot-threads 257", "--snapshot-threads"},
        {"FOLIO_SNAPSHOT_COMPRESSION=brotli", "", "--snapshot-compression"},
        {"FOLIO_SNAPSHOT_THREADS=many", "", "--snapshot-threads"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(bad); i++) {
        out = NULL;
        int rc = run_foliod(f, bad[i].env, bad[i].args, &out);
        if (rc != 2 || strstr(out, bad[i].says) == NULL)
            fail_msg("`%s %s` exited %d: %s", bad[i].env ? bad[i].env : "", bad[i].args, rc, out);
        free(out);
    }
    /* The options are taken as given; the snapshot directory is made, 0700, parents too. */
    char *snaps = fpath(f, "deep/er/snaps");
    char *db = fpath(f, "db"), *log = fpath(f, "foliod.log");
    static const char *const extra[] = {"--log-level", "debug", "--snapshot-compression", "gzip",
                                        "--snapshot-compression-level", "9", "--snapshot-threads",
                                        "2", NULL};
    f->srv.io_timeout_ms = IO_TIMEOUT_MS;
    su_start_at(&f->srv, db, snaps, log, extra);
    struct stat st;
    assert_int_equal(stat(snaps, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    folio_free(snaps);
    folio_free(db);
    folio_free(log);
    struct su_resp r;
    su_get_ok(&f->srv, "/snapshots", &r);
    assert_int_equal(su_jint(r.json, "total"), 0);
    su_resp_free(&r);
    /* The archive is gzip: its first bytes are gzip's magic (zstd's would be 28 b5 2f fd). */
    json_decref(su_run(&f->srv, "POST", "/indexes", "{\"uid\":\"movies\"}", "indexCreation",
                       "movies", 30000));
    json_t *t = su_run(&f->srv, "POST", "/indexes/movies/snapshots", NULL,
                       "singleIndexSnapshotCreation", "movies", 60000);
    char *archive = tu_path(f->srv.snapshot_dir,
                            su_jstr(json_object_get(t, "details"), "snapshotPath"));
    json_decref(t);
    size_t len = 0;
    uint8_t *bytes = tu_read_file(archive, &len);
    assert_true(bytes != NULL && len > 2);
    assert_int_equal(bytes[0], 0x1f);
    assert_int_equal(bytes[1], 0x8b);
    folio_free(bytes);
    folio_free(archive);
    assert_int_equal(su_cleanup(&f->srv), 0);
    /* A snapshot directory that cannot be made: exit 1. */
    put_file(f, "afile", "x");
    char args[1200];
    char *bad_dir = fpath(f, "afile/snaps");
    snprintf(args, sizeof(args), "--snapshot-dir '%s'", bad_dir);
    folio_free(bad_dir);
    out = NULL;
    assert_int_equal(run_foliod(f, NULL, args, &out), 1);
    assert_non_null(strstr(out, "snapshot directory"));
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_routes, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_import_errors, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_listing, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, su_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_options, setup, su_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
