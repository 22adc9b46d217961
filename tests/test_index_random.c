/*
 * Randomised test of the index store against an in-memory model.
 *
 * Thousands of operations - replace and update batches (JSON or NDJSON, with
 * duplicate ids, integer and string forms of the same id, nested values,
 * arbitrary doubles), deletes with absent and invalid ids, clears, batches
 * with one bad document, marker-only writes - run on a real index that
 * starts with a 64 KiB map. The model applies Meilisearch's semantics
 * independently (replace, top-level merge, internal ids handed out once).
 * After every operation the counters and marker are compared and a few
 * documents are spot-checked; every 100 operations, and after a reopen and a
 * compact copy at the end, every document is compared in internal id order.
 * The seed is printed (FOLIO_TEST_SEED=... replays a run).
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"

#define ID_SPACE 300
#define OPS 3000

struct mdoc {
    bool live;
    uint64_t iid;
    json_t *doc;
};

struct model {
    struct mdoc docs[ID_SPACE];
    uint64_t next_iid;
    uint64_t count;
    uint64_t task;
};

static struct folio_index_error E;
static uint64_t rng;

static uint64_t
rnd(uint64_t n)
{
    return tu_rand(&rng) % n;
}

static json_t *
rand_string(void)
{
    static const char *const parts[] = {"a", "b", "Z", "0", " ", "\"", "\\", "\n", "\t",
                                        "\x01", "\xC3\xA9", "\xE2\x82\xAC", "/", "id"};
    char buf[64] = "";
    size_t n = rnd(6);
    for (size_t i = 0; i < n; i++)
        strcat(buf, parts[rnd(FOLIO_ARRAY_LEN(parts))]);
    return json_string(buf);
}

static json_t *
rand_real(void)
{
    if (rnd(2) == 0)
        return json_real((double)((int64_t)rnd(2001) - 1000) / 8.0);
    for (;;) {
        uint64_t bits = tu_rand(&rng);
        double d;
        memcpy(&d, &bits, sizeof(d));
        if (isfinite(d))
            return json_real(d);
    }
}

static json_t *
rand_value(int depth)
{
    switch (rnd(depth < 2 ? 8 : 6)) {
    case 0: return json_integer((json_int_t)tu_rand(&rng));
    case 1: return json_integer((json_int_t)rnd(100));
    case 2: return rand_string();
    case 3: return rand_real();
    case 4: return json_boolean(rnd(2));
    case 5: return json_null();
    case 6: {
        json_t *a = json_array();
        for (uint64_t i = rnd(4); i > 0; i--)
            json_array_append_new(a, rand_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint64_t i = rnd(4); i > 0; i--) {
            char key[8];
            snprintf(key, sizeof(key), "k%d", (int)rnd(5));
            json_object_set_new(o, key, rand_value(depth + 1));
        }
        return o;
    }
    }
}

static json_t *
rand_doc(uint64_t id)
{
    json_t *doc = json_object();
    char field[8];
    /* The same document id, sent as an integer or as a string. */
    if (rnd(2) == 0) {
        json_object_set_new(doc, "id", json_integer((json_int_t)id));
    } else {
        char s[32];
        snprintf(s, sizeof(s), "%llu", (unsigned long long)id);
        json_object_set_new(doc, "id", json_string(s));
    }
    for (uint64_t i = rnd(6); i > 0; i--) {
        snprintf(field, sizeof(field), "f%d", (int)rnd(8));
        json_object_set_new(doc, field, rand_value(0));
    }
    return doc;
}

/* A document whose id breaks the rules in one of several ways. */
static json_t *
rand_bad_doc(int *expected)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "f0", json_integer(1));
    switch (rnd(4)) {
    case 0:
        json_object_set_new(doc, "id", json_real(1.5));
        *expected = FOLIO_E_INVALID_DOCUMENT_ID;
        break;
    case 1:
        json_object_set_new(doc, "id", json_string("bad id"));
        *expected = FOLIO_E_INVALID_DOCUMENT_ID;
        break;
    case 2:
        json_object_set_new(doc, "id", json_true());
        *expected = FOLIO_E_INVALID_DOCUMENT_ID;
        break;
    default:
        *expected = FOLIO_E_MISSING_DOCUMENT_ID;
        break;
    }
    return doc;
}

/* ---- the model ----------------------------------------------------------------- */

static uint64_t
doc_id(const json_t *doc)
{
    const json_t *id = json_object_get(doc, "id");
    if (json_is_integer(id))
        return (uint64_t)json_integer_value(id);
    return strtoull(json_string_value(id), NULL, 10);
}

static void
model_put(struct model *m, json_t *doc, enum folio_index_method method)
{
    struct mdoc *d = &m->docs[doc_id(doc)];
    if (!d->live) {
        d->live = true;
        d->iid = m->next_iid++;
        d->doc = json_deep_copy(doc);
        m->count++;
    } else if (method == FOLIO_INDEX_REPLACE) {
        json_decref(d->doc);
        d->doc = json_deep_copy(doc);
    } else {
        json_object_update(d->doc, doc);
    }
}

static void
model_delete(struct model *m, uint64_t id)
{
    struct mdoc *d = &m->docs[id];
    if (d->live) {
        d->live = false;
        json_decref(d->doc);
        d->doc = NULL;
        m->count--;
    }
}

/* ---- operations ------------------------------------------------------------------- */

static char *
payload_text(json_t *docs, enum folio_index_format *format)
{
    if (rnd(2) == 0) {
        *format = FOLIO_INDEX_FORMAT_JSON;
        return json_dumps(docs, JSON_COMPACT);
    }
    *format = FOLIO_INDEX_FORMAT_NDJSON;
    size_t cap = 1024, len = 0;
    char *text = malloc(cap);
    text[0] = '\0';
    for (size_t i = 0; i < json_array_size(docs); i++) {
        char *line = json_dumps(json_array_get(docs, i), JSON_COMPACT);
        size_t n = strlen(line);
        while (len + n + 2 > cap)
            text = realloc(text, cap *= 2);
        memcpy(text + len, line, n);
        len += n;
        text[len++] = '\n';
        text[len] = '\0';
        free(line);
    }
    return text;
}

static int
send_docs(struct folio_index *idx, json_t *docs, enum folio_index_method method, uint64_t task)
{
    enum folio_index_format format;
    char *text = payload_text(docs, &format);
    struct folio_index_payload p = {.format = format, .data = text, .len = strlen(text)};
    struct folio_index_marker mk = {.task_uid = task, .batch_seq = task * 3};
    uint64_t indexed = 0;
    int rc = folio_index_documents_add(idx, &p, method, NULL, &mk, &indexed, &E);
    if (rc == 0)
        assert_int_equal(indexed, json_array_size(docs));
    free(text);
    return rc;
}

static void
op_add(struct folio_index *idx, struct model *m, enum folio_index_method method, bool bad)
{
    json_t *docs = json_array();
    uint64_t n = 1 + rnd(15);
    int expected = 0;
    uint64_t bad_at = rnd(n);
    for (uint64_t i = 0; i < n; i++) {
        if (bad && i == bad_at)
            json_array_append_new(docs, rand_bad_doc(&expected));
        else
            json_array_append_new(docs, rand_doc(rnd(ID_SPACE)));
    }
    m->task++;
    int rc = send_docs(idx, docs, method, m->task);
    if (rc != expected)
        fprintf(stderr, "add: expected %d, got %d: %s\n", expected, rc, E.message);
    assert_int_equal(rc, expected);
    if (bad) {
        m->task--; /* a failed call leaves the marker where it was */
    } else {
        for (size_t i = 0; i < json_array_size(docs); i++)
            model_put(m, json_array_get(docs, i), method);
    }
    json_decref(docs);
}

static void
op_delete(struct folio_index *idx, struct model *m)
{
    char buf[12][24];
    const char *ids[12];
    uint64_t n = rnd(12), expected = 0;
    bool seen[ID_SPACE] = {false};
    for (uint64_t i = 0; i < n; i++) {
        uint64_t kind = rnd(10);
        if (kind == 0) {
            snprintf(buf[i], sizeof(buf[i]), "not valid");
        } else if (kind == 1) {
            snprintf(buf[i], sizeof(buf[i]), "%d", 100000 + (int)rnd(100));
        } else {
            uint64_t id = rnd(ID_SPACE);
            snprintf(buf[i], sizeof(buf[i]), "%llu", (unsigned long long)id);
            if (m->docs[id].live && !seen[id])
                expected++;
            seen[id] = true;
        }
        ids[i] = buf[i];
    }
    m->task++;
    struct folio_index_marker mk = {.task_uid = m->task, .batch_seq = m->task * 3};
    uint64_t deleted = 99;
    assert_int_equal(folio_index_documents_delete(idx, ids, n, &mk, &deleted, &E), 0);
    assert_int_equal(deleted, expected);
    for (uint64_t id = 0; id < ID_SPACE; id++)
        if (seen[id])
            model_delete(m, id);
}

static void
op_clear(struct folio_index *idx, struct model *m)
{
    uint64_t deleted = 0, before = m->count;
    m->task++;
    struct folio_index_marker mk = {.task_uid = m->task, .batch_seq = m->task * 3};
    assert_int_equal(folio_index_documents_clear(idx, &mk, &deleted, &E), 0);
    assert_int_equal(deleted, before);
    for (uint64_t id = 0; id < ID_SPACE; id++)
        model_delete(m, id);
}

static void
op_mark(struct folio_index *idx, struct model *m)
{
    m->task++;
    struct folio_index_marker mk = {.task_uid = m->task, .batch_seq = m->task * 3};
    assert_int_equal(folio_index_mark(idx, &mk, &E), 0);
}

/* ---- comparisons ------------------------------------------------------------------ */

static void
check_counters(struct folio_index *idx, const struct model *m)
{
    struct folio_index_stats *s = NULL;
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    assert_int_equal(s->document_count, m->count);
    assert_int_equal(s->next_internal_id, m->next_iid);
    assert_int_equal(s->marker.task_uid, m->task);
    assert_int_equal(s->marker.batch_seq, m->task * 3);
    folio_index_stats_free(s);
}

static void
check_doc(struct folio_index *idx, const struct model *m, uint64_t id)
{
    char key[24];
    char *text = NULL;
    snprintf(key, sizeof(key), "%llu", (unsigned long long)id);
    int rc = folio_index_document_get(idx, key, NULL, 0, &text, NULL, &E);
    if (!m->docs[id].live) {
        assert_int_equal(rc, FOLIO_E_DOCUMENT_NOT_FOUND);
        return;
    }
    assert_int_equal(rc, 0);
    json_t *got = json_loads(text, 0, NULL);
    assert_non_null(got);
    if (!json_equal(got, m->docs[id].doc)) {
        char *want = json_dumps(m->docs[id].doc, JSON_COMPACT);
        fprintf(stderr, "document %s:\n got  %s\n want %s\n", key, text, want);
        free(want);
        fail();
    }
    json_decref(got);
    folio_free(text);
}

static int
cmp_iid(const void *a, const void *b)
{
    const struct mdoc *x = *(const struct mdoc *const *)a, *y = *(const struct mdoc *const *)b;
    return (x->iid > y->iid) - (x->iid < y->iid);
}

static void
check_all(struct folio_index *idx, const struct model *m)
{
    char *text = NULL;
    uint64_t total = 0;
    assert_int_equal(folio_index_documents_get(idx, 0, ID_SPACE * 2, NULL, 0, &text, NULL,
                                               &total, &E),
                     0);
    assert_int_equal(total, m->count);
    const struct mdoc *order[ID_SPACE];
    size_t n = 0;
    for (size_t id = 0; id < ID_SPACE; id++)
        if (m->docs[id].live)
            order[n++] = &m->docs[id];
    qsort(order, n, sizeof(order[0]), cmp_iid);
    json_t *arr = json_loads(text, 0, NULL);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++)
        assert_true(json_equal(json_array_get(arr, i), order[i]->doc));
    json_decref(arr);
    folio_free(text);
    int rc = folio_index_verify(idx, &E);
    if (rc != 0)
        fprintf(stderr, "verify: %s\n", E.message);
    assert_int_equal(rc, 0);
    check_counters(idx, m);
}

static void
run_ops(struct folio_index *idx, struct model *m)
{
    for (int op = 0; op < OPS; op++) {
        uint64_t r = rnd(100);
        if (r < 40)
            op_add(idx, m, FOLIO_INDEX_REPLACE, false);
        else if (r < 70)
            op_add(idx, m, FOLIO_INDEX_UPDATE, false);
        else if (r < 85)
            op_delete(idx, m);
        else if (r < 86)
            op_clear(idx, m);
        else if (r < 95)
            op_add(idx, m, rnd(2) ? FOLIO_INDEX_UPDATE : FOLIO_INDEX_REPLACE, true);
        else
            op_mark(idx, m);
        check_counters(idx, m);
        for (int k = 0; k < 3; k++)
            check_doc(idx, m, rnd(ID_SPACE));
        if (op % 100 == 99)
            check_all(idx, m);
    }
}

static void
test_random_against_model(void **state)
{
    rng = tu_seed();
    char *dir = tu_mkdtemp("random");
    char *index_dir = tu_path(dir, "index");
    char *copy_dir = tu_path(dir, "copy");
    assert_int_equal(mkdir(index_dir, 0700), 0);
    assert_int_equal(mkdir(copy_dir, 0700), 0);
    struct folio_index_options o;
    folio_index_options_default(&o);
    o.map_bytes_initial = 64u << 10;
    struct folio_index *idx = NULL;
    struct model *m = calloc(1, sizeof(*m));
    m->task = 1;
    struct folio_index_marker mk = {.task_uid = 1, .batch_seq = 3};
    assert_int_equal(folio_index_create(index_dir, &o, "id", &mk, &idx, &E), 0);

    run_ops(idx, m);
    check_all(idx, m);

    folio_index_free(idx);
    assert_int_equal(folio_index_open(index_dir, &o, &idx, &E), 0);
    check_all(idx, m);
    assert_int_equal(folio_index_copy_compact(idx, copy_dir, &E), 0);
    folio_index_free(idx);
    o.read_only = true;
    assert_int_equal(folio_index_open(copy_dir, &o, &idx, &E), 0);
    check_all(idx, m);
    folio_index_free(idx);

    for (size_t id = 0; id < ID_SPACE; id++)
        json_decref(m->docs[id].doc);
    free(m);
    tu_rmrf(dir);
    folio_free(copy_dir);
    folio_free(index_dir);
    folio_free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
