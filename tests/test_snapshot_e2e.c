/*
 * Single-index snapshots end to end, between two real foliod processes.
 *
 * Server A and server B have their own data and snapshot directories. On A
 * the test creates index `movies` (primary key, searchable and filterable
 * attributes) with a fixed generated set of documents, snapshots it (POST
 * /indexes/movies/snapshots, the path read from the finished task's details),
 * copies the archive into B's snapshot directory and imports it on B as
 * `films`. Then the documents (all of them, in order), the settings, the
 * stats (numberOfDocuments, fieldDistribution), and the answers to a fixed
 * set of searches must be the same on A's `movies` and B's `films`, and the
 * documents must be the ones the test generated; documents added to `films`
 * afterwards are found. Sizes: no document, one, and 100,000 (only in the
 * `slow` run: FOLIO_TEST_SLOW=1, ctest label slow; the time of each step is
 * printed).
 *
 * Then hostile and broken archives, built by this file with libarchive's
 * writer from the entries of a good archive (its manifest edited as JSON):
 * each import must fail with its error code and leave B as it was: the same
 * GET /indexes, the same entries in the data directory's indexes/, an empty
 * tmp/, nothing written where a hostile name points, and exactly one more
 * task. A path outside the snapshot directory is refused at registration
 * (400, no task).
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/index.h"
#include "srvutil.h"
#include "testutil.h"

#define IO_TIMEOUT_MS 120000 /* a request's wait for its response */
#define TASK_TIMEOUT_MS 120000
#define SLOW_TASK_TIMEOUT_MS 900000
#define SLOW_DOCS 100000

struct fixture {
    char *dir;
    struct su_server a, b;
};

static char *
fpath(struct fixture *f, const char *rel)
{
    return tu_path(f->dir, rel);
}

static void
start_server(struct fixture *f, struct su_server *s, const char *name)
{
    char db[64], snaps[64], log[64];
    snprintf(db, sizeof(db), "%s/db", name);
    snprintf(snaps, sizeof(snaps), "%s/snapshots", name);
    snprintf(log, sizeof(log), "%s.log", name);
    char *d = fpath(f, db), *sn = fpath(f, snaps), *l = fpath(f, log);
    static const char *const extra[] = {"--log-level", "debug", NULL};
    s->io_timeout_ms = IO_TIMEOUT_MS;
    su_start_at(s, d, sn, l, extra);
    folio_free(d);
    folio_free(sn);
    folio_free(l);
}

static int
setup(void **state)
{
    struct fixture *f = folio_calloc(1, sizeof(*f));
    f->dir = tu_mkdtemp("snape2e");
    start_server(f, &f->a, "A");
    start_server(f, &f->b, "B");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    int rc = 0;
    if (su_cleanup(&f->a) != 0)
        rc = -1;
    if (su_cleanup(&f->b) != 0)
        rc = -1;
    if (getenv("FOLIO_TEST_KEEP") == NULL)
        tu_rmrf(f->dir);
    else
        fprintf(stderr, "kept %s\n", f->dir);
    folio_free(f->dir);
    folio_free(f);
    return rc;
}

/* ---- the documents --------------------------------------------------------------------- */

static const char *const words[] = {
    "galaxy",  "river",   "shadow", "garden", "empire", "winter", "harbor",  "signal",
    "machine", "silence", "thunder", "crystal", "desert", "island", "lantern", "meadow",
    "orbit",   "phantom", "quarry", "rocket",  "saddle", "temple", "velvet",  "wander",
    "zephyr",  "anchor",  "bridge", "canyon",  "dragon", "falcon", "glacier", "horizon",
};
static const char *const genres[] = {"drama", "comedy", "horror", "western", "animation"};
#define WORD(n) words[(n) % FOLIO_ARRAY_LEN(words)]

/* Document i (0-based): id i+1. The same function gives the test's expectations. */
static json_t *
make_doc(size_t i)
{
    char title[128], overview[256];
    snprintf(title, sizeof(title), "%s %s %s", WORD(i), WORD(i * 7 + 3), WORD(i * 13 + 5));
    snprintf(overview, sizeof(overview), "the story of a %s and a %s near the %s", WORD(i / 3 + 1),
             WORD(i * 5 + 2), WORD(i * 11 + 7));
    return json_pack("{s:I, s:s, s:s, s:s, s:I, s:[s,s]}", "id", (json_int_t)(i + 1), "title",
                     title, "overview", overview, "genre", genres[i % FOLIO_ARRAY_LEN(genres)],
                     "year", (json_int_t)(1950 + i % 70), "tags", WORD(i + 9), WORD(i + 17));
}

static void
add_docs(struct su_server *s, const char *uid, size_t from, size_t to, int timeout_ms)
{
    json_t *arr = json_array();
    for (size_t i = from; i < to; i++)
        json_array_append_new(arr, make_doc(i));
    char *body = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    char path[128];
    snprintf(path, sizeof(path), "/indexes/%s/documents", uid);
    json_decref(su_run(s, "POST", path, body, "documentAdditionOrUpdate", uid, timeout_ms));
    free(body);
}

/* ---- comparisons --------------------------------------------------------------------- */

static json_t *get_json(struct su_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_t *
get_json(struct su_server *s, const char *fmt, ...)
{
    char path[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    struct su_resp r;
    su_get_ok(s, path, &r);
    json_t *j = json_incref(r.json);
    su_resp_free(&r);
    return j;
}

static void
expect_same(const char *what, json_t *a, json_t *b)
{
    if (!json_equal(a, b)) {
        char *da = json_dumps(a, JSON_COMPACT), *db = json_dumps(b, JSON_COMPACT);
        fail_msg("%s differ:\nA: %.3000s\nB: %.3000s", what, da, db);
    }
}

/* A's documents are the generated ones, B's the same in the same order. */
static void
compare_documents(struct fixture *f, size_t n)
{
    json_t *a = get_json(&f->a, "/indexes/%s/documents?limit=%zu", "movies", n + 10);
    json_t *b = get_json(&f->b, "/indexes/%s/documents?limit=%zu", "films", n + 10);
    json_t *ra = json_object_get(a, "results");
    assert_int_equal(json_array_size(ra), n);
    assert_int_equal(json_integer_value(json_object_get(a, "total")), n);
    bool *seen = folio_calloc(n + 1, 1);
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(ra, i);
        json_int_t id = json_integer_value(json_object_get(d, "id"));
        assert_true(id >= 1 && (size_t)id <= n && !seen[id]);
        seen[id] = true;
        json_t *want = make_doc((size_t)id - 1);
        expect_same("a stored document and the generated one", d, want);
        json_decref(want);
    }
    folio_free(seen);
    expect_same("the documents", ra, json_object_get(b, "results"));
    assert_int_equal(json_integer_value(json_object_get(b, "total")), n);
    json_decref(a);
    json_decref(b);
}

static void
compare_settings_stats(struct fixture *f, size_t n)
{
    json_t *a = get_json(&f->a, "/indexes/%s/settings", "movies");
    json_t *b = get_json(&f->b, "/indexes/%s/settings", "films");
    json_t *want = json_pack("[s,s]", "title", "overview");
    expect_same("searchableAttributes", json_object_get(a, "searchableAttributes"), want);
    json_decref(want);
    expect_same("the settings", a, b);
    json_decref(a);
    json_decref(b);
    a = get_json(&f->a, "/indexes/%s/stats", "movies");
    b = get_json(&f->b, "/indexes/%s/stats", "films");
    assert_int_equal(json_integer_value(json_object_get(a, "numberOfDocuments")), n);
    expect_same("numberOfDocuments", json_object_get(a, "numberOfDocuments"),
                json_object_get(b, "numberOfDocuments"));
    expect_same("fieldDistribution", json_object_get(a, "fieldDistribution"),
                json_object_get(b, "fieldDistribution"));
    /* The index store keeps the field distribution exact at any size (index/fields.c). */
    json_t *fd = json_object_get(a, "fieldDistribution");
    assert_int_equal(json_object_size(fd), n > 0 ? 6 : 0);
    if (n > 0)
        assert_int_equal(json_integer_value(json_object_get(fd, "title")), n);
    json_decref(a);
    json_decref(b);
    a = get_json(&f->b, "/indexes/%s", "films");
    assert_string_equal(su_jstr(a, "primaryKey"), "id");
    json_decref(a);
}

static const char *const queries[] = {
    "{\"q\":\"galaxy\"}",
    "{\"q\":\"galxy\"}",
    "{\"q\":\"thundr river\"}",
    "{\"q\":\"gla\"}",
    "{\"q\":\"\",\"filter\":\"genre = drama\"}",
    "{\"q\":\"story\",\"filter\":\"year > 1990 AND genre = comedy\"}",
    "{\"q\":\"\",\"offset\":5,\"limit\":7}",
    "{\"q\":\"the story\",\"limit\":50,\"offset\":3}",
};

/* One search; the answer without the fields that may differ between A and B. */
static json_t *
search(struct su_server *s, const char *uid, const char *body)
{
    char path[128];
    snprintf(path, sizeof(path), "/indexes/%s/search", uid);
    struct su_resp r;
    su_json(s, "POST", path, body, &r);
    if (r.status != 200 || r.json == NULL)
        fail_msg("search %s %s: %d %s", uid, body, r.status, r.body);
    json_t *out = json_incref(r.json);
    json_object_del(out, "processingTimeMs");
    json_object_del(out, "indexUid");
    su_resp_free(&r);
    return out;
}

static void
compare_searches(struct fixture *f, size_t n)
{
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(queries); i++) {
        json_t *a = search(&f->a, "movies", queries[i]);
        json_t *b = search(&f->b, "films", queries[i]);
        expect_same(queries[i], a, b);
        /* The generated set has answers to every query once it has a few hundred documents. */
        if ((n > 0 && i == 0) || n >= 500)
            if (json_array_size(json_object_get(a, "hits")) == 0)
                fail_msg("no hit for %s among %zu documents", queries[i], n);
        json_decref(a);
        json_decref(b);
    }
}

/* ---- one round trip ------------------------------------------------------------------------- */

static void
copy_file(const char *from, const char *to)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\" && cp '%s' '%s'", to, from, to);
    assert_int_equal(tu_system(cmd, NULL), 0);
}

/* Creates movies with n documents on A and snapshots it; returns the archive's relative path. */
static char *
snapshot_on_a(struct fixture *f, size_t n, int timeout_ms)
{
    json_decref(su_run(&f->a, "POST", "/indexes", "{\"uid\":\"movies\",\"primaryKey\":\"id\"}",
                       "indexCreation", "movies", timeout_ms));
    json_decref(su_run(&f->a, "PATCH", "/indexes/movies/settings",
                       "{\"searchableAttributes\":[\"title\",\"overview\"],"
                       "\"filterableAttributes\":[\"genre\",\"year\"]}",
                       "settingsUpdate", "movies", timeout_ms));
    int64_t t0 = su_now_ms();
    if (n > 0)
        add_docs(&f->a, "movies", 0, n, timeout_ms);
    int64_t t1 = su_now_ms();
    json_t *t = su_run(&f->a, "POST", "/indexes/movies/snapshots", NULL,
                       "singleIndexSnapshotCreation", "movies", timeout_ms);
    int64_t t2 = su_now_ms();
    json_t *d = json_object_get(t, "details");
    assert_string_equal(su_jstr(d, "indexUid"), "movies");
    char *rel = folio_strdup(su_jstr(d, "snapshotPath"));
    json_decref(t);
    assert_true(strncmp(rel, "indexes/movies/", 15) == 0);
    char *abs = tu_path(f->a.snapshot_dir, rel);
    struct stat st;
    assert_int_equal(stat(abs, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    printf("%zu documents: indexing %lld ms, snapshot %lld ms, archive %lld bytes\n", n,
           (long long)(t1 - t0), (long long)(t2 - t1), (long long)st.st_size);
    folio_free(abs);
    return rel;
}

static void
round_trip(struct fixture *f, size_t n, int timeout_ms)
{
    char *rel = snapshot_on_a(f, n, timeout_ms);
    char *from = tu_path(f->a.snapshot_dir, rel), *to = tu_path(f->b.snapshot_dir, rel);
    copy_file(from, to);
    folio_free(from);
    folio_free(to);

    /* The listing on B shows the archive and its manifest. */
    json_t *l = get_json(&f->b, "/indexes/%s/snapshots", "movies");
    assert_int_equal(json_integer_value(json_object_get(l, "total")), 1);
    json_t *m = json_object_get(json_array_get(json_object_get(l, "results"), 0), "manifest");
    assert_string_equal(su_jstr(m, "indexUid"), "movies");
    assert_int_equal(su_jint(m, "documentCount"), n);
    json_decref(l);

    char body[512];
    snprintf(body, sizeof(body), "{\"snapshotPath\":\"%s\",\"newIndexUid\":\"films\"}", rel);
    int64_t t0 = su_now_ms();
    json_t *t = su_run(&f->b, "POST", "/snapshots/import", body, "singleIndexSnapshotImport",
                       "films", timeout_ms);
    printf("%zu documents: import %lld ms\n", n, (long long)(su_now_ms() - t0));
    json_t *d = json_object_get(t, "details");
    assert_string_equal(su_jstr(d, "snapshotPath"), rel);
    assert_string_equal(su_jstr(d, "indexUid"), "movies");
    assert_string_equal(su_jstr(d, "newIndexUid"), "films");
    assert_int_equal(su_jint(d, "importedDocuments"), n);
    json_decref(t);
    folio_free(rel);

    compare_documents(f, n);
    compare_settings_stats(f, n);
    compare_searches(f, n);

    /* films lives on by itself: new documents are stored and found. */
    add_docs(&f->b, "films", n, n + 3, timeout_ms);
    json_t *doc = get_json(&f->b, "/indexes/%s/documents/%lld", "films", (long long)n + 2);
    json_t *want = make_doc(n + 1);
    expect_same("a document added after the import", doc, want);
    json_decref(doc);
    json_decref(want);
    json_t *st = get_json(&f->b, "/indexes/%s/stats", "films");
    assert_int_equal(su_jint(st, "numberOfDocuments"), n + 3);
    json_decref(st);
    char q[128];
    json_t *added = make_doc(n + 1);
    snprintf(q, sizeof(q), "{\"q\":\"%s\",\"filter\":\"year = %lld\",\"limit\":1000}",
             su_jstr(added, "title"), (long long)su_jint(added, "year"));
    json_t *hits = search(&f->b, "films", q);
    bool found = false;
    json_t *h;
    size_t i;
    json_array_foreach(json_object_get(hits, "hits"), i, h)
        found |= json_integer_value(json_object_get(h, "id")) == (json_int_t)n + 2;
    assert_true(found);
    json_decref(hits);
    json_decref(added);
}

static void
test_empty_index(void **state)
{
    round_trip(*state, 0, TASK_TIMEOUT_MS);
}

static void
test_one_document(void **state)
{
    round_trip(*state, 1, TASK_TIMEOUT_MS);
}

static void
test_many_documents(void **state)
{
    round_trip(*state, 500, TASK_TIMEOUT_MS);
}

static void
test_slow_100k(void **state)
{
    int64_t t0 = su_now_ms();
    round_trip(*state, SLOW_DOCS, SLOW_TASK_TIMEOUT_MS);
    printf("100,000 documents: whole round trip %lld ms\n", (long long)(su_now_ms() - t0));
}

/* ---- hostile archives ---------------------------------------------------------------------- */

struct tentry {
    char *name;
    char kind;                        /* 'f' file, 'l' symlink, 'h' hardlink, 'c' char device */
    char *link;
    uint8_t *data;
    size_t len;
};

struct tarball {
    struct tentry e[16];
    size_t n;
};

static void
tarball_free(struct tarball *t)
{
    for (size_t i = 0; i < t->n; i++) {
        folio_free(t->e[i].name);
        folio_free(t->e[i].link);
        folio_free(t->e[i].data);
    }
    t->n = 0;
}

static struct tentry *
tarball_add(struct tarball *t, const char *name, char kind, const void *data, size_t len)
{
    assert_true(t->n < FOLIO_ARRAY_LEN(t->e));
    struct tentry *e = &t->e[t->n++];
    memset(e, 0, sizeof(*e));
    e->name = folio_strdup(name);
    e->kind = kind;
    e->data = folio_malloc(len ? len : 1);
    if (len)
        memcpy(e->data, data, len);
    e->len = len;
    return e;
}

/* Reads every entry of a good archive (any filter libarchive knows). */
static void
tarball_read(const char *path, struct tarball *t)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    assert_int_equal(archive_read_open_filename(a, path, 1 << 16), ARCHIVE_OK);
    struct archive_entry *ae;
    while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
        size_t len = (size_t)archive_entry_size(ae);
        uint8_t *buf = folio_malloc(len ? len : 1);
        assert_int_equal(archive_read_data(a, buf, len), (la_ssize_t)len);
        tarball_add(t, archive_entry_pathname(ae), 'f', buf, len);
        folio_free(buf);
    }
    archive_read_free(a);
    assert_true(t->n >= 1);
    assert_string_equal(t->e[0].name, "manifest.json");
}

/* Writes t as a pax tar, zstd-compressed as folio writes them. */
static void
tarball_write(const struct tarball *t, const char *path)
{
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < t->n; i++) {
        const struct tentry *e = &t->e[i];
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e->name);
        archive_entry_set_perm(ae, 0600);
        archive_entry_set_mtime(ae, 1700000000, 0);
        switch (e->kind) {
        case 'l':
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_symlink(ae, e->link);
            break;
        case 'h':
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_hardlink(ae, e->link);
            break;
        case 'c':
            archive_entry_set_filetype(ae, AE_IFCHR);
            archive_entry_set_rdev(ae, makedev(1, 3));
            break;
        default:
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_size(ae, (la_int64_t)e->len);
        }
        if (archive_write_header(a, ae) != ARCHIVE_OK)
            fail_msg("header of %s: %s", e->name, archive_error_string(a));
        if (e->kind == 'f' && e->len > 0)
            assert_int_equal(archive_write_data(a, e->data, e->len), (la_ssize_t)e->len);
        archive_entry_free(ae);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* Replaces the manifest entry by the JSON of m. */
static void
set_manifest(struct tarball *t, json_t *m)
{
    char *s = json_dumps(m, JSON_INDENT(2));
    folio_free(t->e[0].data);
    t->e[0].len = strlen(s);
    t->e[0].data = folio_malloc(t->e[0].len);
    memcpy(t->e[0].data, s, t->e[0].len);
    free(s);
}

static json_t *
manifest_of(const struct tarball *t)
{
    json_t *m = json_loadb((const char *)t->e[0].data, t->e[0].len, 0, NULL);
    assert_non_null(m);
    return m;
}

/* Sorted names of a directory ("" if it does not exist), for before/after comparisons. */
static char *
dir_listing(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "ls -A '%s' 2>/dev/null | sort", path);
    char *out = NULL;
    tu_system(cmd, &out);
    return out ? out : strdup("");
}

struct b_state {
    char *indexes_json, *indexes_dir;
    long long tasks;
};

static void
b_state_read(struct fixture *f, struct b_state *s)
{
    struct su_resp r;
    su_get_ok(&f->b, "/indexes", &r);
    s->indexes_json = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
    su_resp_free(&r);
    char *p = tu_path(f->b.db_path, "indexes");
    s->indexes_dir = dir_listing(p);
    folio_free(p);
    su_get_ok(&f->b, "/tasks?limit=1", &r);
    s->tasks = su_jint(r.json, "total");
    su_resp_free(&r);
}

static void
b_state_free(struct b_state *s)
{
    free(s->indexes_json);
    free(s->indexes_dir);
}

/*
 * Imports snapshots/<name>.idx.snapshot on B: the task fails with code (one of
 * two when alt is not NULL) and B is left as it was, with one more task.
 */
static void
expect_rejected(struct fixture *f, const char *name, const char *code, const char *alt)
{
    struct b_state before, after;
    b_state_read(f, &before);
    char body[512];
    snprintf(body, sizeof(body),
             "{\"snapshotPath\":\"hostile/%s.idx.snapshot\",\"newIndexUid\":\"evil\"}", name);
    struct su_resp r;
    su_json(&f->b, "POST", "/snapshots/import", body, &r);
    long long uid = su_expect_enqueued(&r, "singleIndexSnapshotImport", "evil");
    su_resp_free(&r);
    json_t *t = su_wait_task(&f->b, uid, TASK_TIMEOUT_MS);
    const char *status = su_jstr(t, "status");
    json_t *err = json_object_get(t, "error");
    const char *got = json_is_object(err) ? su_jstr(err, "code") : "";
    if (strcmp(status, "failed") != 0 ||
        (strcmp(got, code) != 0 && (alt == NULL || strcmp(got, alt) != 0)))
        fail_msg("%s: expected failed with %s, got %s", name, code, json_dumps(t, JSON_COMPACT));
    printf("%-22s -> %s: %s\n", name, got, su_jstr(err, "message"));
    json_decref(t);
    b_state_read(f, &after);
    assert_string_equal(after.indexes_json, before.indexes_json);
    assert_string_equal(after.indexes_dir, before.indexes_dir);
    assert_int_equal(after.tasks, before.tasks + 1);
    char *tmp = tu_path(f->b.db_path, "tmp");
    char *left = dir_listing(tmp);
    if (left[0] != '\0')
        fail_msg("%s: tmp/ of B is not empty after the import: %s", name, left);
    free(left);
    folio_free(tmp);
    b_state_free(&before);
    b_state_free(&after);
}

static void
write_variant(struct fixture *f, const struct tarball *t, const char *name)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "hostile/%s.idx.snapshot", name);
    char *p = tu_path(f->b.snapshot_dir, rel);
    tarball_write(t, p);
    folio_free(p);
}

/* A deep copy of good. */
static void
copy_tarball(const struct tarball *good, struct tarball *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < good->n; i++)
        tarball_add(out, good->e[i].name, good->e[i].kind, good->e[i].data, good->e[i].len);
}

/* The index of the entry named data.mdb in t. */
static size_t
data_entry(const struct tarball *t)
{
    for (size_t i = 1; i < t->n; i++)
        if (strcmp(t->e[i].name, "data.mdb") == 0)
            return i;
    fail_msg("no data.mdb in the archive");
    return 0;
}

static void
variant_manifest(struct fixture *f, const struct tarball *good, const char *name,
                 const char *field, json_t *value)
{
    struct tarball t;
    copy_tarball(good, &t);
    json_t *m = manifest_of(&t);
    json_object_set_new(m, field, value);
    set_manifest(&t, m);
    json_decref(m);
    write_variant(f, &t, name);
    tarball_free(&t);
}

/* Keeps the manifest; entry data.mdb is replaced by the given kind (and appended ones). */
static void
variant_entry(struct fixture *f, const struct tarball *good, const char *name, const char *ename,
              char kind, const char *link, int extra_bytes, bool duplicate)
{
    struct tarball t;
    copy_tarball(good, &t);
    struct tentry *e = &t.e[data_entry(&t)];
    folio_free(e->name);
    e->name = folio_strdup(ename);
    e->kind = kind;
    e->link = link ? folio_strdup(link) : NULL;
    if (extra_bytes > 0) {
        e->data = folio_realloc(e->data, e->len + (size_t)extra_bytes);
        memset(e->data + e->len, 'x', (size_t)extra_bytes);
        e->len += (size_t)extra_bytes;
    }
    if (duplicate) {
        const struct tentry *d = &good->e[data_entry(good)];
        tarball_add(&t, d->name, 'f', d->data, d->len);
    }
    write_variant(f, &t, name);
    tarball_free(&t);
}

static void
test_hostile_archives(void **state)
{
    struct fixture *f = *state;
    char *rel = snapshot_on_a(f, 1, TASK_TIMEOUT_MS);
    char *good_path = tu_path(f->a.snapshot_dir, rel);
    struct tarball good = {0};
    tarball_read(good_path, &good);
    size_t di = data_entry(&good);
    char *hostile = tu_path(f->b.snapshot_dir, "hostile");
    assert_int_equal(mkdir(hostile, 0700), 0);

    /* The good archive itself imports (the variants differ from it in one thing each). */
    char *copy = tu_path(hostile, "good.idx.snapshot");
    copy_file(good_path, copy);
    folio_free(copy);
    json_decref(su_run(&f->b, "POST", "/snapshots/import",
                       "{\"snapshotPath\":\"hostile/good.idx.snapshot\",\"newIndexUid\":\"fine\"}",
                       "singleIndexSnapshotImport", "fine", TASK_TIMEOUT_MS));

    /* Truncated: the first half of the file. */
    size_t len = 0;
    uint8_t *bytes = tu_read_file(good_path, &len);
    assert_non_null(bytes);
    char *p = tu_path(hostile, "truncated.idx.snapshot");
    tu_write_file(p, bytes, len / 2);
    folio_free(p);
    /* One byte of the compressed file flipped, in the middle. */
    bytes[len / 2] ^= 0x20;
    p = tu_path(hostile, "flipped-file.idx.snapshot");
    tu_write_file(p, bytes, len);
    folio_free(p);
    folio_free(bytes);

    /* One byte of data.mdb flipped, the manifest unchanged. */
    struct tarball t;
    copy_tarball(&good, &t);
    t.e[di].data[t.e[di].len / 3] ^= 0x01;
    write_variant(f, &t, "flipped-data");
    tarball_free(&t);

    variant_manifest(f, &good, "edited-manifest", "documentCount", json_integer(7));
    variant_manifest(f, &good, "format-version", "formatVersion", json_integer(99));
    variant_manifest(f, &good, "engine-major", "engineVersion", json_string("9.0.0"));
    variant_manifest(f, &good, "bad-manifest", "seq", json_string("seventeen"));

    char abs_target[1200];
    snprintf(abs_target, sizeof(abs_target), "%s/absolute-evil.mdb", f->dir);
    variant_entry(f, &good, "dotdot", "../data.mdb", 'f', NULL, 0, false);
    variant_entry(f, &good, "dotdot-deep", "x/../../../evil.mdb", 'f', NULL, 0, false);
    variant_entry(f, &good, "absolute", abs_target, 'f', NULL, 0, false);
    variant_entry(f, &good, "symlink", "data.mdb", 'l', "/etc/passwd", 0, false);
    variant_entry(f, &good, "hardlink", "data.mdb", 'h', "manifest.json", 0, false);
    variant_entry(f, &good, "device", "data.mdb", 'c', NULL, 0, false);
    variant_entry(f, &good, "duplicate", "data.mdb", 'f', NULL, 0, true);
    variant_entry(f, &good, "oversize", "data.mdb", 'f', NULL, 4096, false);
    variant_entry(f, &good, "unlisted", "other.mdb", 'f', NULL, 0, false);
    copy_tarball(&good, &t);
    folio_free(t.e[di].name);
    folio_free(t.e[di].data);
    t.e[di] = t.e[--t.n];
    write_variant(f, &t, "missing-file");
    tarball_free(&t);

    static const struct {
        const char *name, *code, *alt;
    } cases[] = {
        {"truncated", "snapshot_invalid", NULL},
        {"flipped-file", "snapshot_invalid", "snapshot_checksum_mismatch"},
        {"flipped-data", "snapshot_checksum_mismatch", NULL},
        {"edited-manifest", "snapshot_invalid", NULL},
        {"format-version", "snapshot_version_mismatch", NULL},
        {"engine-major", "snapshot_version_mismatch", NULL},
        {"bad-manifest", "snapshot_invalid", NULL},
        {"dotdot", "snapshot_invalid", NULL},
        {"dotdot-deep", "snapshot_invalid", NULL},
        {"absolute", "snapshot_invalid", NULL},
        {"symlink", "snapshot_invalid", NULL},
        {"hardlink", "snapshot_invalid", NULL},
        {"device", "snapshot_invalid", NULL},
        {"duplicate", "snapshot_invalid", NULL},
        {"oversize", "snapshot_invalid", NULL},
        {"unlisted", "snapshot_invalid", NULL},
        {"missing-file", "snapshot_invalid", NULL},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++)
        expect_rejected(f, cases[i].name, cases[i].code, cases[i].alt);

    /* Nothing was written where the hostile names point. */
    struct stat st;
    assert_int_equal(lstat(abs_target, &st), -1);
    char *out = tu_path(f->b.db_path, "data.mdb");
    assert_int_equal(lstat(out, &st), -1);
    folio_free(out);
    out = tu_path(f->b.db_path, "evil.mdb");
    assert_int_equal(lstat(out, &st), -1);
    folio_free(out);

    /* A path outside B's snapshot directory: refused at registration, no task. */
    struct b_state before, after;
    b_state_read(f, &before);
    char body[2048];
    snprintf(body, sizeof(body), "{\"snapshotPath\":\"../../A/snapshots/%s\",\"newIndexUid\":\"x\"}",
             rel);
    struct su_resp r;
    su_json(&f->b, "POST", "/snapshots/import", body, &r);
    su_expect_error_type(&r, 400, "invalid_snapshot_path", "invalid_request");
    su_resp_free(&r);
    snprintf(body, sizeof(body), "{\"snapshotPath\":\"%s\",\"newIndexUid\":\"x\"}", good_path);
    su_json(&f->b, "POST", "/snapshots/import", body, &r);
    su_expect_error_type(&r, 400, "invalid_snapshot_path", "invalid_request");
    su_resp_free(&r);
    b_state_read(f, &after);
    assert_string_equal(after.indexes_json, before.indexes_json);
    assert_int_equal(after.tasks, before.tasks);
    b_state_free(&before);
    b_state_free(&after);

    /* B still works: the good import is there, and another good one goes in. */
    json_t *st_fine = get_json(&f->b, "/indexes/%s/stats", "fine");
    assert_int_equal(su_jint(st_fine, "numberOfDocuments"), 1);
    json_decref(st_fine);
    tarball_free(&good);
    folio_free(hostile);
    folio_free(good_path);
    folio_free(rel);
}

/* ---- a data.mdb crafted to crash LMDB, with checksums that match ---------------------------- */

static uint64_t crash_rng = 0x9E3779B97F4A7C15ull;

static uint64_t
crash_rand(void)
{
    crash_rng ^= crash_rng << 13;
    crash_rng ^= crash_rng >> 7;
    crash_rng ^= crash_rng << 17;
    return crash_rng;
}

/*
 * Whether opening the env in dir, reading its stats and verifying it, as the
 * import did in process before the check moved to a child, crashes: it runs
 * in a forked child of this (single-threaded) test, which answers 10 for
 * sound, 11 for refused.
 */
static bool
env_crashes_verify(const char *dir)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /*
         * The test runner's handlers would catch the crash and go on running
         * tests in this copy of the process (stopping the servers in their
         * teardown): a crash must end the child.
         */
        const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        for (size_t i = 0; i < FOLIO_ARRAY_LEN(fatal); i++)
            signal(fatal[i], SIG_DFL);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2); /* a sanitizer's report of the crash is not this test's output */
        alarm(60);
        struct folio_index *idx = NULL;
        struct folio_index_error e;
        struct folio_index_stats *stats = NULL;
        int rc = folio_index_open(dir, NULL, &idx, &e); /* as the import opens it */
        if (rc == 0)
            rc = folio_index_stats_get(idx, &stats, &e);
        if (rc == 0)
            rc = folio_index_verify(idx, &e);
        _exit(rc == 0 ? 10 : 11);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return !(WIFEXITED(st) && (WEXITSTATUS(st) == 10 || WEXITSTATUS(st) == 11));
}

/*
 * A hostile archive no checksum can catch: its author rewrote bytes of a
 * real index's data.mdb (random ones, until a version crashes LMDB when it
 * is opened and verified) and wrote the manifest's size and XXH3-128 for the
 * result. B must fail the import with snapshot_invalid and keep serving: the
 * env is checked by a child process, which the crash ends.
 */
static void
test_crafted_env(void **state)
{
    struct fixture *f = *state;
    char *rel = snapshot_on_a(f, 300, TASK_TIMEOUT_MS);
    char *good_path = tu_path(f->a.snapshot_dir, rel);
    struct tarball good = {0};
    tarball_read(good_path, &good);
    size_t di = data_entry(&good);
    char *scratch = tu_path(f->dir, "crafted");
    assert_int_equal(mkdir(scratch, 0700), 0);
    char *mdb = tu_path(scratch, "data.mdb");
    uint8_t *bytes = folio_malloc(good.e[di].len);
    int attempts = 0;
    bool found = false;
    while (!found && attempts < 3000) {
        attempts++;
        memcpy(bytes, good.e[di].data, good.e[di].len);
        for (int k = 0; k < 8; k++)
            bytes[crash_rand() % good.e[di].len] = (uint8_t)crash_rand();
        tu_rmrf(scratch);
        assert_int_equal(mkdir(scratch, 0700), 0);
        tu_write_file(mdb, bytes, good.e[di].len);
        found = env_crashes_verify(scratch);
    }
    if (!found)
        fail_msg("no crashing variant of data.mdb in %d attempts", attempts);
    printf("crafted data.mdb: a crashing variant after %d attempt(s)\n", attempts);

    struct tarball t;
    copy_tarball(&good, &t);
    memcpy(t.e[di].data, bytes, t.e[di].len);
    json_t *m = manifest_of(&t);
    json_t *files = json_object_get(m, "files");
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(bytes, t.e[di].len));
    char hex[33];
    for (int k = 0; k < 16; k++)
        snprintf(hex + 2 * k, 3, "%02x", c.digest[k]);
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *fe = json_array_get(files, i);
        if (strcmp(su_jstr(fe, "name"), "data.mdb") == 0)
            json_object_set_new(fe, "xxh3_128", json_string(hex));
    }
    set_manifest(&t, m);
    json_decref(m);
    char *hostile = tu_path(f->b.snapshot_dir, "hostile");
    assert_int_equal(mkdir(hostile, 0700), 0);
    write_variant(f, &t, "crafted-env");
    tarball_free(&t);

    expect_rejected(f, "crafted-env", "snapshot_invalid", NULL);
    /* B is the same process, still serving, and a good import still goes in. */
    char *copy = tu_path(hostile, "good.idx.snapshot");
    copy_file(good_path, copy);
    folio_free(copy);
    json_decref(su_run(&f->b, "POST", "/snapshots/import",
                       "{\"snapshotPath\":\"hostile/good.idx.snapshot\",\"newIndexUid\":\"fine\"}",
                       "singleIndexSnapshotImport", "fine", TASK_TIMEOUT_MS));
    json_t *st_fine = get_json(&f->b, "/indexes/%s/stats", "fine");
    assert_int_equal(su_jint(st_fine, "numberOfDocuments"), 300);
    json_decref(st_fine);

    /*
     * The same env in a whole-instance snapshot of A: foliod --import-snapshot
     * checks every index env in a child too, refuses it and leaves no db.
     */
    json_decref(su_run(&f->a, "POST", "/snapshots", NULL, "snapshotCreation", NULL,
                       TASK_TIMEOUT_MS));
    char *inst = NULL;
    DIR *dir = opendir(f->a.snapshot_dir);
    assert_non_null(dir);
    for (struct dirent *e; (e = readdir(dir)) != NULL && inst == NULL;) {
        size_t nl = strlen(e->d_name);
        if (nl > 9 && strcmp(e->d_name + nl - 9, ".snapshot") == 0)
            inst = tu_path(f->a.snapshot_dir, e->d_name);
    }
    closedir(dir);
    assert_non_null(inst);
    struct tarball it = {0};
    tarball_read(inst, &it);
    size_t ii = 0;
    for (size_t i = 1; i < it.n && ii == 0; i++) {
        size_t nl = strlen(it.e[i].name);
        if (strncmp(it.e[i].name, "indexes/", 8) == 0 && nl > 9 &&
            strcmp(it.e[i].name + nl - 9, "/data.mdb") == 0)
            ii = i;
    }
    assert_true(ii > 0);
    folio_free(it.e[ii].data);
    it.e[ii].data = folio_malloc(good.e[di].len);
    memcpy(it.e[ii].data, bytes, good.e[di].len);
    it.e[ii].len = good.e[di].len;
    m = manifest_of(&it);
    files = json_object_get(m, "files");
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *fe = json_array_get(files, i);
        if (strcmp(su_jstr(fe, "name"), it.e[ii].name) == 0) {
            json_object_set_new(fe, "xxh3_128", json_string(hex));
            json_object_set_new(fe, "size", json_integer((json_int_t)it.e[ii].len));
        }
    }
    set_manifest(&it, m);
    json_decref(m);
    char *crafted_inst = tu_path(f->dir, "crafted-instance.snapshot");
    tarball_write(&it, crafted_inst);
    tarball_free(&it);
    char *cdb = tu_path(f->dir, "C-db"), cmd[4096], *out = NULL;
    snprintf(cmd, sizeof(cmd),
             "timeout -s TERM 60 %s --http-addr 127.0.0.1:0 --db-path %s --snapshot-dir %s "
             "--import-snapshot %s 2>&1",
             FOLIO_FOLIOD_PATH, cdb, f->dir, crafted_inst);
    int crc = tu_system(cmd, &out);
    if (crc != 1 || strstr(out, "is not a valid folio index") == NULL)
        fail_msg("foliod --import-snapshot of the crafted instance: status %d: %s", crc, out);
    printf("crafted instance      -> %s", out);
    struct stat cst;
    assert_int_equal(stat(cdb, &cst), -1); /* no db was made */
    folio_free(out);
    folio_free(cdb);
    folio_free(crafted_inst);
    folio_free(inst);
    folio_free(bytes);
    folio_free(mdb);
    folio_free(scratch);
    folio_free(hostile);
    tarball_free(&good);
    folio_free(good_path);
    folio_free(rel);
}

int
main(void)
{
    if (getenv("FOLIO_TEST_SLOW") != NULL) {
        const struct CMUnitTest slow[] = {
            cmocka_unit_test_setup_teardown(test_slow_100k, setup, teardown),
        };
        return cmocka_run_group_tests(slow, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_documents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_archives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crafted_env, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
