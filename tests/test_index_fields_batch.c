/*
 * The field distribution (`fields`) of writes inside index batches, on real
 * LMDB envs: in a batch, a document write's field deltas travel with its
 * posting-list change set and reach `fields` when the batch's lists do (at
 * commit, when the batch thread reads, before a write that is not a document
 * addition or deletion, or early inside a write that holds many names).
 *
 * Expected distributions come from the test's own model of the stored
 * documents (which ids are stored, which top-level names each holds), never
 * from index/: folio_index_stats_get's distribution must equal the model
 * after every commit and abort, when the batch's own thread reads mid-batch,
 * and folio_index_verify must agree with the documents.
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
static struct folio_index *
mk_index(char **dir, uint64_t map_initial)
{
    *dir = tu_mkdtemp("fieldsb");
    struct folio_index_options o;
    folio_index_options_default(&o);
    if (map_initial != 0)
        o.map_bytes_initial = map_initial;
    struct folio_index *idx = NULL;
    struct folio_index_marker m = iu_next_marker();
    assert_int_equal(folio_index_create(*dir, &o, "id", &m, &idx, &E), 0);
    return idx;
}

/* ---- randomized batches against a model ---------------------------------------------------- */

#define R_IDS 20
#define R_NAMES 6

struct rdoc {
    bool present;
    unsigned names; /* bit n: holds "n<n>" */
};

static void
expect_model(struct folio_index *idx, const struct rdoc *docs, const char *when)
{
    int ids = 0, counts[R_NAMES] = {0};
    for (int d = 0; d < R_IDS; d++) {
        ids += docs[d].present;
        for (int n = 0; n < R_NAMES; n++)
            counts[n] += docs[d].present && (docs[d].names & (1u << n));
    }
    iu_expect_model_dist(idx, ids, counts, R_NAMES, when);
}

/* One random write inside the batch; the model follows what must happen. */
static void
random_write(struct folio_index *idx, struct rdoc *docs, uint64_t *rng, int step)
{
    char body[2048];
    unsigned op = (unsigned)(tu_rand(rng) % 20);
    if (op < 13) {
        /* 1-3 documents, replace or update; op 12 ends with an invalid one: nothing changes */
        bool update = op >= 7 && op < 12;
        bool fails = op == 12;
        struct rdoc after[R_IDS];
        memcpy(after, docs, sizeof(after));
        int n = 1 + (int)(tu_rand(rng) % 3);
        size_t len = 0;
        body[len++] = '[';
        for (int k = 0; k < n; k++) {
            int id = (int)(tu_rand(rng) % R_IDS);
            struct rdoc *d = &after[id];
            unsigned mask = (unsigned)(tu_rand(rng) % (1u << R_NAMES));
            d->names = update && d->present ? d->names | mask : mask;
            d->present = true;
            len +=
                (size_t)snprintf(body + len, sizeof(body) - len, "%s{\"id\":%d", k ? "," : "", id);
            for (int nm = 0; nm < R_NAMES; nm++)
                if (mask & (1u << nm))
                    len +=
                        (size_t)snprintf(body + len, sizeof(body) - len, ",\"n%d\":%d", nm, step);
            body[len++] = '}';
        }
        if (fails)
            len += (size_t)snprintf(body + len, sizeof(body) - len, ",{\"id\":\"no good!\"}");
        body[len++] = ']';
        body[len] = '\0';
        int rc = iu_add_json(idx, body, update ? FOLIO_INDEX_UPDATE : FOLIO_INDEX_REPLACE, &E);
        if (fails) {
            assert_int_equal(rc, FOLIO_E_INVALID_DOCUMENT_ID);
        } else {
            if (rc != 0)
                fail_msg("add %s: %s", body, E.message);
            memcpy(docs, after, sizeof(after));
        }
    } else if (op < 18) {
        char a[16], b[16];
        snprintf(a, sizeof(a), "%d", (int)(tu_rand(rng) % R_IDS));
        snprintf(b, sizeof(b), "%d", (int)(tu_rand(rng) % R_IDS));
        const char *ids[2] = {a, b};
        struct folio_index_marker m = iu_next_marker();
        assert_int_equal(folio_index_documents_delete(idx, ids, 2, &m, NULL, &E), 0);
        docs[atoi(a)].present = false;
        docs[atoi(b)].present = false;
    } else if (op == 18) {
        expect_model(idx, docs, "the batch's thread, mid-batch");
    } else {
        /* a write that is not a document addition: the batch's deltas go first */
        struct folio_index_marker m = iu_next_marker();
        if (tu_rand(rng) % 3 == 0) {
            assert_int_equal(folio_index_documents_clear(idx, &m, NULL, &E), 0);
            for (int d = 0; d < R_IDS; d++)
                docs[d].present = false;
        } else {
            assert_int_equal(folio_index_mark(idx, &m, &E), 0);
        }
    }
}

static void
test_batches_random_against_model(void **state)
{
    (void)state;
    uint64_t rng = tu_seed();
    char *dir;
    struct folio_index *idx = mk_index(&dir, 0);
    struct rdoc docs[R_IDS];
    memset(docs, 0, sizeof(docs));
    for (int round = 0; round < 60; round++) {
        struct rdoc before[R_IDS];
        memcpy(before, docs, sizeof(docs));
        assert_int_equal(folio_index_batch_begin(idx, &E), 0);
        int writes = 1 + (int)(tu_rand(&rng) % 30);
        for (int i = 0; i < writes; i++)
            random_write(idx, docs, &rng, round * 100 + i);
        if (tu_rand(&rng) % 5 == 0) {
            folio_index_batch_abort(idx);
            memcpy(docs, before, sizeof(docs));
            expect_model(idx, docs, "after an abort");
        } else {
            int rc = folio_index_batch_commit(idx, &E);
            if (rc != 0)
                fail_msg("commit: %s", E.message);
            expect_model(idx, docs, "after a commit");
        }
        iu_assert_verified(idx);
    }
    iu_remove(idx, dir);
}

/*
 * A write with so many names that its own deltas are applied inside it,
 * early: the batch's earlier deltas must be in its transaction first. Task 1
 * adds x with `late`; task 2 replaces x without it (late: -1) and adds 5,000
 * documents with names of their own. Had task 2's -1 reached `fields` before
 * task 1's +1, `late` would have counted fewer documents than leave.
 */
static void
test_early_apply_after_batch_deltas(void **state)
{
    (void)state;
    char *dir;
    struct folio_index *idx = mk_index(&dir, 1ull << 30);
    assert_int_equal(folio_index_batch_begin(idx, &E), 0);
    assert_int_equal(iu_add_json(idx, "[{\"id\":\"x\",\"late\":1}]", FOLIO_INDEX_REPLACE, &E), 0);
    enum { N = 5000 };
    size_t cap = (size_t)N * 40 + 64, len = 0;
    char *body = folio_malloc(cap);
    len += (size_t)snprintf(body, cap, "[{\"id\":\"x\",\"other\":1}");
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(body + len, cap - len, ",{\"id\":%d,\"f%05d\":1}", i, i);
    len += (size_t)snprintf(body + len, cap - len, "]");
    int rc = iu_add_json(idx, body, FOLIO_INDEX_REPLACE, &E);
    if (rc != 0)
        fail_msg("the large task: %s", E.message);
    folio_free(body);
    assert_int_equal(folio_index_batch_commit(idx, &E), 0);
    struct folio_index_stats *s = NULL;
    assert_int_equal(folio_index_stats_get(idx, &s, &E), 0);
    assert_int_equal(s->field_count, N + 2); /* f00000.. f04999, id, other */
    for (size_t i = 0; i < s->field_count; i++) {
        const char *name = s->field_names[i];
        assert_true(strcmp(name, "late") != 0);
        assert_int_equal(s->field_documents[i], strcmp(name, "id") == 0 ? N + 1 : 1);
    }
    folio_index_stats_free(s);
    iu_assert_verified(idx);
    iu_remove(idx, dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_random_against_model),
        cmocka_unit_test(test_early_apply_after_batch_deltas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
