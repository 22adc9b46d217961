/*
 * Tests of the id sets of posting-list change sets (index/postings.c,
 * "id sets"): sorted arrays with two ids inline that turn into roaring
 * bitmaps past IDSET_ARRAY_MAX ids. Every operation is checked against a
 * plain model (one flag per id) after every step, with seeded random
 * operations over id ranges that make both arrays and bitmaps, appends and
 * inserts in the middle. A second test runs the change-set rule of
 * postings_merge (the later change of an id wins) over random writes merged
 * into a batch, against a model that keeps each id's latest change.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search_int.h"

#define IDS 4096u /* ids 0..IDS-1: enough for sets past IDSET_ARRAY_MAX */
#define SETS 4

static uint64_t rng_state;

static uint32_t
rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((rng_state >> 33) % n);
}

/* An id: near the top of the set (appends) or anywhere in a range. */
static uint32_t
rnd_id(uint32_t range, const bool *model)
{
    if (rnd(2) == 0) {
        uint32_t top = 0;
        for (uint32_t i = 0; i < range; i++)
            if (model[i])
                top = i;
        uint32_t id = top + rnd(3);
        return id < range ? id : range - 1;
    }
    return rnd(range);
}

static void
check(struct idset *s, const bool *model, const char *what, int step)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < IDS; i++) {
        n += model[i];
        if (idset_contains(s, i) != model[i])
            fail_msg("%s, step %d: id %u: set says %d, model %d", what, step, i,
                     idset_contains(s, i), model[i]);
    }
    assert_int_equal(idset_count(s), n);
    assert_int_equal(idset_is_empty(s), n == 0);
}

static void
test_idset_model(void **state)
{
    (void)state;
    unsigned bitmaps = 0; /* sets seen in their bitmap form */
    for (unsigned seed = 1; seed <= 9; seed++) {
        rng_state = seed;
        struct idset sets[SETS];
        static bool model[SETS][IDS];
        memset(sets, 0, sizeof(sets));
        memset(model, 0, sizeof(model));
        /* small ranges keep arrays; IDS lets sets pass IDSET_ARRAY_MAX */
        uint32_t range = seed % 3 == 0 ? 8 : seed % 3 == 1 ? 300 : IDS;
        for (int step = 0; step < 1500; step++) {
            unsigned a = rnd(SETS), b = rnd(SETS);
            unsigned op = rnd(100);
            if (op < 5) { /* many at once, to pass IDSET_ARRAY_MAX */
                for (unsigned k = 0; k < 150; k++) {
                    uint32_t id = rnd(range);
                    idset_add(&sets[a], id);
                    model[a][id] = true;
                }
            } else if (op < 55) {
                uint32_t id = rnd_id(range, model[a]);
                idset_add(&sets[a], id);
                model[a][id] = true;
            } else if (op < 80) {
                uint32_t id = rnd_id(range, model[a]);
                idset_remove(&sets[a], id);
                model[a][id] = false;
            } else if (op < 88 && a != b) {
                idset_andnot(&sets[a], &sets[b]);
                for (uint32_t i = 0; i < IDS; i++)
                    model[a][i] = model[a][i] && !model[b][i];
                check(&sets[b], model[b], "andnot's operand", step);
            } else if (op < 94 && a != b) {
                idset_take(&sets[a], &sets[b]);
                for (uint32_t i = 0; i < IDS; i++) {
                    model[a][i] = model[a][i] || model[b][i];
                    model[b][i] = false;
                }
                check(&sets[b], model[b], "take's emptied operand", step);
            } else if (op < 97) {
                roaring_bitmap_t *bm = idset_bitmap(&sets[a]);
                assert_int_equal(roaring_bitmap_get_cardinality(bm), idset_count(&sets[a]));
            } else {
                idset_release(&sets[a]);
                memset(model[a], 0, sizeof(model[a]));
            }
            check(&sets[a], model[a], "operated set", step);
            bitmaps += sets[a].cap == UINT32_MAX;
        }
        for (unsigned i = 0; i < SETS; i++)
            idset_release(&sets[i]);
    }
    assert_true(bitmaps > 100);
}

/* A change set's pair for one key: ids gained and ids lost. */
struct pair {
    struct idset add, del;
};

static void
pair_change(struct pair *p, uint32_t id, bool add)
{
    idset_add(add ? &p->add : &p->del, id);
    idset_remove(add ? &p->del : &p->add, id);
}

/* postings_merge's rule for one key: src's changes come after dst's. */
static void
pair_merge(struct pair *dst, struct pair *src)
{
    idset_andnot(&dst->del, &src->add);
    idset_andnot(&dst->add, &src->del);
    idset_take(&dst->add, &src->add);
    idset_take(&dst->del, &src->del);
}

static void
test_idset_merge_rule(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 10; seed++) {
        rng_state = 1000 + seed;
        uint32_t range = seed % 2 == 0 ? 40 : IDS;
        static signed char latest[IDS]; /* 1 added, -1 removed, 0 untouched */
        memset(latest, 0, sizeof(latest));
        struct pair batch = {0};
        for (int write = 0; write < 400; write++) {
            struct pair w = {0};
            signed char mine[IDS];
            memset(mine, 0, sizeof(mine));
            unsigned changes = 1 + rnd(seed % 3 == 0 ? 200 : 6);
            for (unsigned c = 0; c < changes; c++) {
                /* mostly new ids in order, as a batch of additions makes them */
                uint32_t id = rnd(4) ? (uint32_t)(write * 7 + c) % range : rnd(range);
                bool add = rnd(3) != 0;
                pair_change(&w, id, add);
                mine[id] = add ? 1 : -1;
            }
            if (rnd(10) == 0) { /* a failed write: thrown away, not merged */
                idset_release(&w.add);
                idset_release(&w.del);
                continue;
            }
            pair_merge(&batch, &w);
            assert_true(idset_is_empty(&w.add) && idset_is_empty(&w.del));
            idset_release(&w.add);
            idset_release(&w.del);
            for (uint32_t i = 0; i < IDS; i++)
                if (mine[i] != 0)
                    latest[i] = mine[i];
            for (uint32_t i = 0; i < IDS; i++) {
                bool in_add = idset_contains(&batch.add, i), in_del = idset_contains(&batch.del, i);
                if (in_add != (latest[i] == 1) || in_del != (latest[i] == -1))
                    fail_msg("seed %u, write %d, id %u: add %d del %d, latest %d", seed, write,
                             i, in_add, in_del, latest[i]);
            }
        }
        idset_release(&batch.add);
        idset_release(&batch.del);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idset_model),
        cmocka_unit_test(test_idset_merge_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
