/*
 * Map growth of the index store: an index started with a 64 KiB LMDB map
 * must take megabytes of documents by doubling its map transparently, keep
 * every document intact, stop with FOLIO_E_MAP_FULL_MAX (changing nothing)
 * at the configured maximum, and let reader and copy threads run while the
 * map is resized under them (the gate in index/index_int.h). A resize with a
 * read transaction open would unmap pages a reader is using: ASan (or a
 * crash) would show it.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "indexutil.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"

#define PAD_BYTES 1000

static struct folio_index_error E;

/* Document i of generation g, as JSON text into buf. */
static size_t
doc_json(char *buf, size_t cap, uint64_t i, uint64_t g)
{
    char pad[PAD_BYTES + 1];
    for (size_t k = 0; k < PAD_BYTES; k++)
        pad[k] = (char)('a' + (i * 7 + g * 13 + k) % 26);
    pad[PAD_BYTES] = '\0';
    int n = snprintf(buf, cap, "{\"id\":%llu,\"gen\":%llu,\"pad\":\"%s\"}", (unsigned long long)i,
                     (unsigned long long)g, pad);
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

/* Adds documents [first, first + count) of generation g in one call. */
static int
add_range(struct folio_index *idx, uint64_t first, uint64_t count, uint64_t g, uint64_t task)
{
    size_t cap = (size_t)count * (PAD_BYTES + 64) + 16;
    char *body = folio_malloc(cap);
    size_t o = 0;
    body[o++] = '[';
    for (uint64_t i = 0; i < count; i++) {
        if (i > 0)
            body[o++] = ',';
        o += doc_json(body + o, cap - o, first + i, g);
    }
    body[o++] = ']';
    struct folio_index_payload p = {.format = FOLIO_INDEX_FORMAT_JSON, .data = body, .len = o};
    struct folio_index_marker m = {.task_uid = task, .batch_seq = task + 1000};
    uint64_t indexed = 0;
    int rc = folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, &indexed, &E);
    if (rc == 0)
        assert_int_equal(indexed, count);
    folio_free(body);
    return rc;
}

static void
assert_docs(struct folio_index *idx, uint64_t count, uint64_t g)
{
    char expected[PAD_BYTES + 128];
    char id[32];
    for (uint64_t i = 0; i < count; i++) {
        snprintf(id, sizeof(id), "%llu", (unsigned long long)i);
        char *got = NULL;
        assert_int_equal(folio_index_document_get(idx, id, NULL, 0, &got, NULL, &E), 0);
        doc_json(expected, sizeof(expected), i, g);
        assert_string_equal(got, expected);
        folio_free(got);
    }
    struct folio_index_stats *s = NULL;
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    assert_int_equal(s->document_count, count);
    folio_index_stats_free(s);
    int rc = folio_index_verify(idx, &E);
    if (rc != 0)
        fprintf(stderr, "verify: %s\n", E.message);
    assert_int_equal(rc, 0);
}

static uint64_t
map_bytes(struct folio_index *idx)
{
    struct folio_index_stats *s = NULL;
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    uint64_t n = s->map_bytes;
    folio_index_stats_free(s);
    return n;
}

static struct folio_index *
tiny_index(const char *dir, uint64_t max)
{
    struct folio_index_options o;
    folio_index_options_default(&o);
    o.map_bytes_initial = 64u << 10;
    o.map_bytes_max = max;
    struct folio_index *idx = NULL;
    struct folio_index_marker m = {.task_uid = 1, .batch_seq = 1};
    assert_int_equal(folio_index_create(dir, &o, "id", &m, &idx, &E), 0);
    assert_int_equal(map_bytes(idx), 64u << 10);
    return idx;
}

static void
test_growth(void **state)
{
    char *dir = tu_mkdtemp("growth");
    struct folio_index *idx = tiny_index(dir, 256u << 20);
    uint64_t sizes[64];
    int growths = 0;
    sizes[0] = map_bytes(idx);
    for (uint64_t batch = 0; batch < 30; batch++) {
        int rc = add_range(idx, batch * 100, 100, 0, 2 + batch);
        if (rc != 0)
            fprintf(stderr, "add: %s\n", E.message);
        assert_int_equal(rc, 0);
        uint64_t now = map_bytes(idx);
        if (now != sizes[growths])
            sizes[++growths] = now;
    }
    /* One call larger than the whole map so far, replacing every document. */
    assert_int_equal(add_range(idx, 0, 5000, 1, 40), 0);
    uint64_t now = map_bytes(idx);
    if (now != sizes[growths])
        sizes[++growths] = now;
    fprintf(stderr, "map grew %d times: 64 KiB -> %llu KiB\n", growths,
            (unsigned long long)(now >> 10));
    assert_true(growths >= 5);
    for (int i = 1; i <= growths; i++)
        assert_true(sizes[i] > sizes[i - 1]);
    assert_docs(idx, 5000, 1);
    struct folio_index_marker m;
    assert_int_equal(folio_index_marker_get(idx, &m, &E), 0);
    assert_int_equal(m.task_uid, 40);
    assert_int_equal(m.batch_seq, 1040);

    /* Reopened with the tiny initial size, the index is whole and keeps growing. */
    folio_index_free(idx);
    struct folio_index_options o;
    folio_index_options_default(&o);
    o.map_bytes_initial = 64u << 10;
    o.map_bytes_max = 256u << 20;
    assert_int_equal(folio_index_open(dir, &o, &idx, &E), 0);
    assert_docs(idx, 5000, 1);
    assert_int_equal(add_range(idx, 5000, 3000, 1, 41), 0);
    assert_docs(idx, 8000, 1);
    iu_remove(idx, dir);
}

static void
test_growth_stops_at_max(void **state)
{
    char *dir = tu_mkdtemp("growth");
    struct folio_index *idx = tiny_index(dir, 512u << 10);
    uint64_t added = 0, task = 2;
    int rc;
    while ((rc = add_range(idx, added, 20, 0, task)) == 0) {
        added += 20;
        task++;
        assert_true(added < 10000);
    }
    assert_int_equal(rc, FOLIO_E_MAP_FULL_MAX);
    assert_string_equal(E.message, "Maximum database size has been reached: the index is "
                                   "limited to 524288 bytes.");
    assert_true(added >= 100);
    assert_int_equal(map_bytes(idx), 512u << 10);
    /* Nothing of the failed call is there; the index is whole and readable. */
    struct folio_index_marker m;
    assert_int_equal(folio_index_marker_get(idx, &m, &E), 0);
    assert_int_equal(m.task_uid, task - 1);
    assert_docs(idx, added, 0);
    char id[32];
    snprintf(id, sizeof(id), "%llu", (unsigned long long)added);
    char *got = NULL;
    assert_int_equal(folio_index_document_get(idx, id, NULL, 0, &got, NULL, &E),
                     FOLIO_E_DOCUMENT_NOT_FOUND);
    folio_index_free(idx);

    /* A larger maximum lets the same call through. */
    struct folio_index_options o;
    folio_index_options_default(&o);
    o.map_bytes_initial = 64u << 10;
    o.map_bytes_max = 8u << 20;
    assert_int_equal(folio_index_open(dir, &o, &idx, &E), 0);
    assert_int_equal(add_range(idx, added, 20, 0, task), 0);
    assert_docs(idx, added + 20, 0);
    iu_remove(idx, dir);
}

/* ---- readers and copies while the map grows ------------------------------------------ */

struct shared {
    struct folio_index *idx;
    const char *dir;
    atomic_int stop;
    atomic_int failures;
    atomic_int reads;
    atomic_int copies;
};

static void
note_failure(struct shared *sh, const char *what, const char *msg)
{
    fprintf(stderr, "thread failure: %s: %s\n", what, msg);
    atomic_fetch_add(&sh->failures, 1);
}

static void
reader_round(struct shared *sh, struct folio_index_error *err)
{
    char *json = NULL;
    uint64_t total = 0;
    if (folio_index_documents_get(sh->idx, 0, 20, NULL, 0, &json, NULL, &total, err) != 0) {
        note_failure(sh, "documents_get", err->message);
        return;
    }
    json_error_t jerr;
    json_t *arr = json_loads(json, 0, &jerr);
    uint64_t want = total < 20 ? total : 20;
    if (arr == NULL || json_array_size(arr) != want)
        note_failure(sh, "documents_get", "page does not match the total");
    for (size_t i = 0; arr != NULL && i < json_array_size(arr); i++)
        if (json_integer_value(json_object_get(json_array_get(arr, i), "id")) != (json_int_t)i)
            note_failure(sh, "documents_get", "documents out of order");
    json_decref(arr);
    folio_free(json);
    struct folio_index_stats *s = NULL;
    if (folio_index_stats_get(sh->idx, &s, err) != 0)
        note_failure(sh, "stats", err->message);
    else if (s->document_count > s->next_internal_id || s->map_bytes < (64u << 10))
        note_failure(sh, "stats", "inconsistent counters");
    folio_index_stats_free(s);
    int rc = folio_index_document_get(sh->idx, "0", NULL, 0, &json, NULL, err);
    if (rc != 0 && rc != FOLIO_E_DOCUMENT_NOT_FOUND)
        note_failure(sh, "document_get", err->message);
    if (rc == 0)
        folio_free(json);
    atomic_fetch_add(&sh->reads, 1);
}

static void *
reader_main(void *arg)
{
    struct shared *sh = arg;
    struct folio_index_error err;
    while (!atomic_load(&sh->stop))
        reader_round(sh, &err);
    return NULL;
}

static void
copy_round(struct shared *sh, int n, struct folio_index_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/copy%d", sh->dir, n);
    if (mkdir(path, 0700) != 0 || folio_index_copy_compact(sh->idx, path, err) != 0) {
        note_failure(sh, "copy", err->message);
        return;
    }
    struct folio_index_options o;
    folio_index_options_default(&o);
    o.read_only = true;
    o.no_lock = true;
    struct folio_index *ro = NULL;
    if (folio_index_open(path, &o, &ro, err) != 0 || folio_index_verify(ro, err) != 0)
        note_failure(sh, "copy verify", err->message);
    folio_index_free(ro);
    atomic_fetch_add(&sh->copies, 1);
}

static void *
copier_main(void *arg)
{
    struct shared *sh = arg;
    struct folio_index_error err;
    for (int n = 0; !atomic_load(&sh->stop) && n < 20; n++)
        copy_round(sh, n, &err);
    return NULL;
}

static void
test_growth_with_readers(void **state)
{
    char *dir = tu_mkdtemp("growth");
    char *index_dir = tu_path(dir, "index");
    assert_int_equal(mkdir(index_dir, 0700), 0);
    struct shared sh = {.dir = dir};
    sh.idx = tiny_index(index_dir, 256u << 20);
    pthread_t readers[3], copier;
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, reader_main, &sh), 0);
    assert_int_equal(pthread_create(&copier, NULL, copier_main, &sh), 0);
    for (uint64_t batch = 0; batch < 40; batch++)
        assert_int_equal(add_range(sh.idx, batch * 50, 50, 0, 2 + batch), 0);
    atomic_store(&sh.stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(readers[i], NULL);
    pthread_join(copier, NULL);
    fprintf(stderr, "reads %d, copies %d, map %llu KiB\n", atomic_load(&sh.reads),
            atomic_load(&sh.copies), (unsigned long long)(map_bytes(sh.idx) >> 10));
    assert_int_equal(atomic_load(&sh.failures), 0);
    assert_true(atomic_load(&sh.reads) > 0);
    assert_true(atomic_load(&sh.copies) > 0);
    assert_true(map_bytes(sh.idx) >= (2u << 20));
    assert_docs(sh.idx, 2000, 0);
    folio_index_free(sh.idx);
    tu_rmrf(dir);
    folio_free(index_dir);
    folio_free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_growth_stops_at_max),
        cmocka_unit_test(test_growth_with_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
