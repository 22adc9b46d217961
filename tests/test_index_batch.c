/*
 * Tests of index batches (include/folio/index.h, "batches"): many writes in
 * nested transactions of one parent, one durable commit, on real LMDB envs.
 *
 * Expected values come from the contract: every successful write of a batch
 * is kept with its outcome, a failed one changes nothing (its failure is
 * stored by folio_index_mark), the marker is the last applied write's, the
 * batch costs one LMDB commit (counted with LMDB itself: the env's last
 * transaction id, read with the index closed), nothing is visible to other
 * threads before the commit and nothing survives an abort, and a map that
 * must grow inside a batch rolls the whole batch back (FOLIO_E_AGAIN), grows,
 * and the same writes run again succeed.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "indexutil.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"

static struct folio_index_error E;

static struct folio_index *
open_index(const char *dir, uint64_t map_initial)
{
    struct folio_index_options o;
    folio_index_options_default(&o);
    if (map_initial != 0)
        o.map_bytes_initial = map_initial;
    struct folio_index *idx = NULL;
    int rc = folio_index_open(dir, &o, &idx, &E);
    if (rc != 0)
        fprintf(stderr, "open: %s\n", E.message);
    assert_int_equal(rc, 0);
    return idx;
}

static char *
mk_index(uint64_t map_initial)
{
    char *dir = tu_mkdtemp("ibatch");
    struct folio_index_options o;
    folio_index_options_default(&o);
    if (map_initial != 0)
        o.map_bytes_initial = map_initial;
    struct folio_index *idx = NULL;
    struct folio_index_marker m = iu_marker(1, 10, "created");
    int rc = folio_index_create(dir, &o, "id", &m, &idx, &E);
    if (rc != 0)
        fprintf(stderr, "create: %s\n", E.message);
    assert_int_equal(rc, 0);
    folio_index_free(idx);
    return dir;
}

/* The env's last committed transaction id, read with LMDB alone (index closed). */
static uint64_t
last_txnid(const char *dir)
{
    MDB_env *env = NULL;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(env, &info), 0);
    mdb_env_close(env);
    return info.me_last_txnid;
}

static int
add(struct folio_index *idx, const char *json, struct folio_index_marker m)
{
    struct folio_index_payload p = {
        .format = FOLIO_INDEX_FORMAT_JSON, .data = json, .len = strlen(json)};
    return folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E);
}

/* What another thread sees meanwhile: committed states only. */
struct peek {
    struct folio_index *idx;
    uint64_t count;
    bool has_a;
};

static void *
peek_main(void *arg)
{
    struct peek *p = arg;
    struct folio_index_error e;
    struct folio_index_stats *s = NULL;
    if (folio_index_stats_get(p->idx, &s, &e) == 0) {
        p->count = s->document_count;
        folio_index_stats_free(s);
    }
    char *json = NULL;
    size_t len;
    p->has_a = folio_index_document_get(p->idx, "a", NULL, 0, &json, &len, &e) == 0;
    folio_free(json);
    return NULL;
}

/* ---- a failing write in the middle ------------------------------------------ */

static void
test_failing_middle_write(void **state)
{
    (void)state;
    char *dir = mk_index(0);
    struct folio_index *idx = open_index(dir, 0);
    assert_int_equal(add(idx, "{\"id\":\"old\",\"v\":0}", iu_marker(2, 20, "old")), 0);
    folio_index_free(idx);
    uint64_t before = last_txnid(dir);
    idx = open_index(dir, 0);

    assert_false(folio_index_batch_open(idx));
    assert_int_equal(folio_index_batch_begin(idx, &E), 0);
    assert_true(folio_index_batch_open(idx));
    assert_int_equal(add(idx, "{\"id\":\"a\",\"v\":1}", iu_marker(3, 30, "ok 3")), 0);
    /* task 4: its second document has no id: the whole write fails alone */
    assert_int_equal(add(idx, "[{\"id\":\"b\",\"v\":2},{\"v\":3}]", iu_marker(4, 30, "ok 4")),
                     FOLIO_E_MISSING_DOCUMENT_ID);
    struct folio_index_marker f = iu_marker(4, 30, "failed 4");
    assert_int_equal(folio_index_mark(idx, &f, &E), 0);
    /* task 5 deletes `old`, task 6 sets a setting */
    const char *ids[] = {"old", "missing"};
    uint64_t deleted = 0;
    struct folio_index_marker m5 = iu_marker(5, 30, "ok 5");
    assert_int_equal(folio_index_documents_delete(idx, ids, 2, &m5, &deleted, &E), 0);
    assert_int_equal(deleted, 1);
    struct folio_index_marker m6 = iu_marker(6, 30, "ok 6");
    const char *set = "{\"filterableAttributes\":[\"v\"]}";
    assert_int_equal(folio_index_settings_update(idx, set, strlen(set), &m6, &E), 0);

    /* this thread reads the batch's writes ... */
    assert_true(iu_has_doc(idx, "a"));
    assert_false(iu_has_doc(idx, "b"));
    assert_false(iu_has_doc(idx, "old"));
    assert_int_equal(iu_doc_count(idx), 1);
    iu_assert_marker(idx, 6, 30);
    /* ... another thread only the committed state */
    struct peek p = {.idx = idx, .count = 99};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, peek_main, &p), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(p.count, 1); /* `old` */
    assert_false(p.has_a);

    assert_int_equal(folio_index_batch_commit(idx, &E), 0);
    assert_false(folio_index_batch_open(idx));

    assert_true(iu_has_doc(idx, "a"));
    assert_false(iu_has_doc(idx, "b"));
    assert_false(iu_has_doc(idx, "old"));
    assert_int_equal(iu_doc_count(idx), 1);
    iu_assert_marker(idx, 6, 30);
    iu_assert_outcome(idx, 2, NULL); /* an older batch_seq: dropped */
    iu_assert_outcome(idx, 3, "ok 3");
    iu_assert_outcome(idx, 4, "failed 4");
    iu_assert_outcome(idx, 5, "ok 5");
    iu_assert_outcome(idx, 6, "ok 6");
    char *settings = NULL;
    size_t slen;
    assert_int_equal(folio_index_settings_get(idx, &settings, &slen, &E), 0);
    assert_non_null(strstr(settings, "\"filterableAttributes\":[\"v\"]"));
    folio_free(settings);
    /* the search structures followed: a filter on v finds a */
    struct folio_index_search_req req;
    folio_index_search_req_default(&req);
    req.filter = "v = 1";
    char *res = NULL;
    size_t rlen;
    assert_int_equal(folio_index_search(idx, &req, &res, &rlen, &E), 0);
    assert_non_null(strstr(res, "\"estimatedTotalHits\":1"));
    folio_free(res);
    iu_assert_verified(idx);
    folio_index_free(idx);

    /* five writes, one LMDB commit */
    assert_int_equal(last_txnid(dir) - before, 1);
    tu_rmrf(dir);
    folio_free(dir);
}

/* ---- abort, and a batch where every write fails ----------------------------- */

static void
test_abort_and_empty(void **state)
{
    (void)state;
    char *dir = mk_index(0);
    uint64_t before = last_txnid(dir);
    struct folio_index *idx = open_index(dir, 0);
    assert_int_equal(folio_index_batch_begin(idx, &E), 0);
    assert_int_equal(add(idx, "{\"id\":\"a\"}", iu_marker(2, 20, "ok 2")), 0);
    assert_int_equal(iu_doc_count(idx), 1);
    folio_index_batch_abort(idx);
    assert_int_equal(iu_doc_count(idx), 0);
    iu_assert_marker(idx, 1, 10);
    iu_assert_outcome(idx, 1, "created");
    iu_assert_outcome(idx, 2, NULL);

    /* only failures: nothing to commit */
    assert_int_equal(folio_index_batch_begin(idx, &E), 0);
    assert_int_equal(add(idx, "{\"id\":\"not valid!\"}", iu_marker(3, 30, "ok 3")),
                     FOLIO_E_INVALID_DOCUMENT_ID);
    assert_int_equal(folio_index_batch_commit(idx, &E), 0);
    iu_assert_marker(idx, 1, 10);
    iu_assert_verified(idx);
    folio_index_free(idx);
    assert_int_equal(last_txnid(dir), before);

    /* a per-call write after a batch is its own commit again */
    idx = open_index(dir, 0);
    assert_int_equal(add(idx, "{\"id\":\"b\"}", iu_marker(4, 40, "ok 4")), 0);
    assert_int_equal(add(idx, "{\"id\":\"c\"}", iu_marker(5, 40, "ok 5")), 0);
    folio_index_free(idx);
    assert_int_equal(last_txnid(dir) - before, 2);
    tu_rmrf(dir);
    folio_free(dir);
}

/* ---- posting lists of a batch: deferred per task, right at every commit ---- */

/*
 * The document writes of a batch leave their posting-list changes to the
 * batch, which applies them to the parent before a settings change, a clear,
 * a read by the batch's thread and the commit. A model of the documents
 * (which words each id holds, under which searchable attributes) says what
 * every search must find, in the batch and after it; folio_index_verify says
 * the stored lists are exactly what the stored documents make. The ops are a
 * seeded random mix of replaces (often of the same ids, so an id leaves and
 * rejoins lists within a batch), deletions, failing writes, settings changes,
 * clears, reads inside the batch and aborted batches.
 */
#define PM_IDS 24
#define PM_WORDS 12

static const char *const pm_vocab[PM_WORDS] = {"ant", "bee", "cat", "dog", "eel", "fox",
                                               "gnu", "hen", "ibx", "jay", "kit", "lyn"};

struct pm_model {
    bool present[PM_IDS];
    uint16_t t_words[PM_IDS]; /* bit w: pm_vocab[w] is in field t */
    uint16_t u_words[PM_IDS]; /* ... in field u */
    bool only_t;              /* searchableAttributes is ["t"] */
};

static uint64_t pm_rng = 0x2545F4914F6CDD1Dull;

static unsigned
pm_rand(unsigned n)
{
    pm_rng ^= pm_rng << 13;
    pm_rng ^= pm_rng >> 7;
    pm_rng ^= pm_rng << 17;
    return (unsigned)(pm_rng % n);
}

static void
pm_words_json(char *out, size_t cap, uint16_t words)
{
    size_t n = 0;
    out[0] = '\0';
    for (unsigned w = 0; w < PM_WORDS; w++)
        if (words & (1u << w))
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? " " : "", pm_vocab[w]);
}

static uint64_t
pm_expected(const struct pm_model *m, unsigned w)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < PM_IDS; i++)
        if (m->present[i] &&
            (((m->t_words[i] >> w) & 1) || (!m->only_t && ((m->u_words[i] >> w) & 1))))
            n++;
    return n;
}

static uint64_t
pm_search_total(struct folio_index *idx, const char *q)
{
    struct folio_index_search_req req;
    folio_index_search_req_default(&req);
    req.q = q;
    char *res = NULL;
    size_t len;
    int rc = folio_index_search(idx, &req, &res, &len, &E);
    if (rc != 0)
        fprintf(stderr, "search %s: %s\n", q, E.message);
    assert_int_equal(rc, 0);
    const char *k = strstr(res, "\"estimatedTotalHits\":");
    assert_non_null(k);
    uint64_t n = strtoull(k + strlen("\"estimatedTotalHits\":"), NULL, 10);
    folio_free(res);
    return n;
}

static void
pm_check_searches(struct folio_index *idx, const struct pm_model *m)
{
    for (unsigned w = 0; w < PM_WORDS; w++) {
        uint64_t got = pm_search_total(idx, pm_vocab[w]);
        if (got != pm_expected(m, w))
            fprintf(stderr, "word %s: %llu hits, model %llu\n", pm_vocab[w],
                    (unsigned long long)got, (unsigned long long)pm_expected(m, w));
        assert_int_equal(got, pm_expected(m, w));
    }
    uint64_t docs = 0;
    for (unsigned i = 0; i < PM_IDS; i++)
        docs += m->present[i];
    assert_int_equal(iu_doc_count(idx), docs);
}

/* One random op of the batch (task uid), applied to the index and the model. */
static void
pm_op(struct folio_index *idx, struct pm_model *m, uint64_t uid)
{
    struct folio_index_marker mark = iu_marker(uid, uid, "ok");
    unsigned kind = pm_rand(100);
    if (kind < 55) { /* replace 1-3 documents */
        char json[2048], t[128], u[128];
        size_t n = (size_t)snprintf(json, sizeof(json), "[");
        struct pm_model next = *m;
        unsigned count = 1 + pm_rand(3);
        for (unsigned k = 0; k < count; k++) {
            unsigned id = pm_rand(PM_IDS);
            uint16_t tw = (uint16_t)(1u << pm_rand(PM_WORDS) | 1u << pm_rand(PM_WORDS));
            uint16_t uw = (uint16_t)(pm_rand(2) ? 1u << pm_rand(PM_WORDS) : 0);
            pm_words_json(t, sizeof(t), tw);
            pm_words_json(u, sizeof(u), uw);
            n +=
                (size_t)snprintf(json + n, sizeof(json) - n,
                                 "%s{\"id\":%u,\"t\":\"%s\",\"u\":\"%s\"}", k ? "," : "", id, t, u);
            next.present[id] = true;
            next.t_words[id] = tw;
            next.u_words[id] = uw;
        }
        snprintf(json + n, sizeof(json) - n, "]");
        assert_int_equal(add(idx, json, mark), 0);
        *m = next;
    } else if (kind < 72) { /* delete 1-2 ids, present or not */
        char a[16], b[16];
        unsigned x = pm_rand(PM_IDS), y = pm_rand(PM_IDS);
        snprintf(a, sizeof(a), "%u", x);
        snprintf(b, sizeof(b), "%u", y);
        const char *ids[] = {a, b};
        uint64_t deleted = 0;
        assert_int_equal(folio_index_documents_delete(idx, ids, 2, &mark, &deleted, &E), 0);
        m->present[x] = m->present[y] = false;
    } else if (kind < 84) { /* a write that fails after changing a document: nothing of it stays */
        char json[256];
        snprintf(json, sizeof(json), "[{\"id\":%u,\"t\":\"%s\"},{\"id\":\"no good!\"}]",
                 pm_rand(PM_IDS), pm_vocab[pm_rand(PM_WORDS)]);
        assert_int_equal(add(idx, json, mark), FOLIO_E_INVALID_DOCUMENT_ID);
        struct folio_index_marker f = iu_marker(uid, uid, "failed");
        assert_int_equal(folio_index_mark(idx, &f, &E), 0);
    } else if (kind < 90) { /* searchable attributes change: the lists are rebuilt */
        m->only_t = !m->only_t;
        const char *set =
            m->only_t ? "{\"searchableAttributes\":[\"t\"]}" : "{\"searchableAttributes\":[\"*\"]}";
        assert_int_equal(folio_index_settings_update(idx, set, strlen(set), &mark, &E), 0);
    } else if (kind < 93) {
        uint64_t deleted = 0;
        assert_int_equal(folio_index_documents_clear(idx, &mark, &deleted, &E), 0);
        memset(m->present, 0, sizeof(m->present));
    } else { /* the batch's thread reads its own writes */
        unsigned w = pm_rand(PM_WORDS);
        assert_int_equal(pm_search_total(idx, pm_vocab[w]), pm_expected(m, w));
    }
}

static void
test_batch_postings_model(void **state)
{
    (void)state;
    char *dir = mk_index(0);
    struct folio_index *idx = open_index(dir, 0);
    struct pm_model m = {0};
    uint64_t uid = 2;
    for (int round = 0; round < 24; round++) {
        struct pm_model before = m;
        assert_int_equal(folio_index_batch_begin(idx, &E), 0);
        unsigned ops = 1 + pm_rand(60);
        for (unsigned i = 0; i < ops; i++)
            pm_op(idx, &m, uid++);
        if (round % 5 == 4) {
            folio_index_batch_abort(idx);
            m = before;
        } else {
            int rc = folio_index_batch_commit(idx, &E);
            if (rc != 0)
                fprintf(stderr, "commit: %s\n", E.message);
            assert_int_equal(rc, 0);
        }
        pm_check_searches(idx, &m);
        iu_assert_verified(idx);
    }
    /* what was committed is what a fresh handle finds */
    folio_index_free(idx);
    idx = open_index(dir, 0);
    pm_check_searches(idx, &m);
    iu_assert_verified(idx);
    iu_remove(idx, dir);
}

/*
 * One task of a batch so large that its own change set fills up (more than
 * 2^20 lists: here 600,000 distinct words, two lists each) and is applied to
 * its transaction before the task ends. The batch's earlier changes must be
 * applied first, or they would land after it: task 2 adds document x with
 * word `ant`, task 3 (the large one) replaces x with `bee` first; had the
 * batch's "x joins ant" been applied after task 3's "x leaves ant", x would
 * stay in `ant`'s list. Then a failing task of the same size leaves nothing.
 */
static void
test_batch_large_task(void **state)
{
    (void)state;
    char *dir = mk_index(1ull << 31); /* room: the map must not grow mid-batch */
    struct folio_index *idx = open_index(dir, 1ull << 31);
    assert_int_equal(folio_index_batch_begin(idx, &E), 0);
    assert_int_equal(add(idx, "{\"id\":\"x\",\"t\":\"ant\"}", iu_marker(2, 20, "ok 2")), 0);
    enum { DOCS = 60, WORDS_PER_DOC = 10000 };
    size_t cap = (size_t)DOCS * WORDS_PER_DOC * 9 + 4096;
    char *big = folio_malloc(cap);
    size_t n = (size_t)snprintf(big, cap, "[{\"id\":\"x\",\"t\":\"bee\"}");
    for (int d = 0; d < DOCS; d++) {
        n += (size_t)snprintf(big + n, cap - n, ",{\"id\":\"d%d\",\"t\":\"", d);
        for (int k = 0; k < WORDS_PER_DOC; k++)
            n += (size_t)snprintf(big + n, cap - n, "%sq%06d", k ? " " : "", d * WORDS_PER_DOC + k);
        n += (size_t)snprintf(big + n, cap - n, "\"}");
    }
    n += (size_t)snprintf(big + n, cap - n, "]");
    assert_true(n < cap);
    assert_int_equal(add(idx, big, iu_marker(3, 20, "ok 3")), 0);
    /* the same size again, but failing at its end: none of it stays */
    big[n - 1] = '\0';
    char *bad = folio_malloc(n + 64);
    snprintf(bad, n + 64, "%s,{\"id\":\"not valid!\"}]", big);
    for (char *p = strstr(bad, "\"id\":\"d"); p != NULL; p = strstr(p + 1, "\"id\":\"d"))
        p[6] = 'e';                              /* other documents, e0.. e59, and x untouched */
    bad[strstr(bad, "\"bee\"") - bad + 1] = 'c'; /* x -> "cee" in the failing task */
    int brc = add(idx, bad, iu_marker(4, 20, "ok 4"));
    if (brc != FOLIO_E_INVALID_DOCUMENT_ID)
        fail_msg("the failing task: %d %s", brc, E.message);
    assert_int_equal(folio_index_batch_commit(idx, &E), 0);
    folio_free(bad);
    folio_free(big);

    assert_int_equal(iu_doc_count(idx), 1 + DOCS);
    struct folio_index_search_req req;
    folio_index_search_req_default(&req);
    const char *const words[] = {"ant", "bee", "cee", "q000000", "q599999"};
    const int expected[] = {0, 1, 0, 1, 1};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(words); i++) {
        req.q = words[i];
        char *res = NULL;
        size_t rlen;
        assert_int_equal(folio_index_search(idx, &req, &res, &rlen, &E), 0);
        char want[64];
        snprintf(want, sizeof(want), "\"estimatedTotalHits\":%d", expected[i]);
        if (strstr(res, want) == NULL)
            fail_msg("%s: %s, not %s", words[i], strstr(res, "\"estimatedTotalHits\""), want);
        folio_free(res);
    }
    iu_assert_verified(idx);
    iu_remove(idx, dir);
}

/* ---- the map grows inside a batch: rollback, then the caller runs again ---- */

static void
test_map_growth_in_batch(void **state)
{
    (void)state;
    const uint64_t map0 = 32u << 10;
    char *dir = mk_index(map0);
    struct folio_index *idx = open_index(dir, map0);
    const int n = 300;
    char *filler = folio_malloc(1201);
    for (int i = 0; i < 1200; i++)
        filler[i] = (char)('a' + (i * 7 + i / 13) % 26);
    filler[1200] = '\0';
    size_t cap = 1400;
    char *doc = folio_malloc(cap);
    char outcome[32];
    int rollbacks = 0, commits = 0;
    /* batches of 100 writes; a rolled-back batch runs again from its start */
    for (int from = 0; from < n;) {
        assert_int_equal(iu_doc_count(idx), (uint64_t)from);
        assert_int_equal(folio_index_batch_begin(idx, &E), 0);
        int to = from + 100 < n ? from + 100 : n;
        bool lost = false;
        for (int i = from; i < to && !lost; i++) {
            snprintf(doc, cap, "{\"id\":%d,\"text\":\"w%d %.*s\"}", i, i, 1000 + i % 200, filler);
            snprintf(outcome, sizeof(outcome), "ok %d", i);
            int rc = add(idx, doc, iu_marker(100 + (uint64_t)i, 50, outcome));
            if (rc == FOLIO_E_AGAIN) {
                assert_true(folio_index_batch_lost(idx));
                /* rolled back: this thread reads the state before the batch */
                assert_int_equal(iu_doc_count(idx), (uint64_t)from);
                lost = true;
                break;
            }
            if (rc != 0)
                fprintf(stderr, "add %d: %s\n", i, E.message);
            assert_int_equal(rc, 0);
            if (i % 50 == 25) {
                /* a failing write now and then: it fails alone */
                assert_int_equal(
                    add(idx, "{\"id\":\"no good\"}", iu_marker(1000 + (uint64_t)i, 50, "bad")),
                    FOLIO_E_INVALID_DOCUMENT_ID);
            }
        }
        int rc = folio_index_batch_commit(idx, &E);
        assert_false(folio_index_batch_open(idx));
        if (lost || rc == FOLIO_E_AGAIN) {
            assert_int_equal(rc, FOLIO_E_AGAIN);
            rollbacks++;
            assert_true(rollbacks < 40);
            continue;
        }
        assert_int_equal(rc, 0);
        commits++;
        from = to;
    }
    assert_int_equal(commits, 3);
    assert_true(rollbacks >= 1);
    struct folio_index_stats *st = NULL;
    assert_int_equal(folio_index_stats_get(idx, &st, &E), 0);
    assert_int_equal(st->document_count, (uint64_t)n);
    assert_true(st->map_bytes >= 8 * map0); /* it did grow, several times */
    assert_int_equal(st->marker.task_uid, 100 + n - 1);
    folio_index_stats_free(st);
    for (int i = 200; i < n; i++) {
        snprintf(outcome, sizeof(outcome), "ok %d", i);
        iu_assert_outcome(idx, 100 + (uint64_t)i, outcome);
    }
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i);
        assert_true(iu_has_doc(idx, id));
    }
    iu_assert_outcome(idx, 1225, NULL); /* a failed write stores nothing unless marked */
    iu_assert_verified(idx);
    folio_index_free(idx);
    fprintf(stderr, "map growth: %d rollbacks, %d commits, last txn id %llu\n", rollbacks, commits,
            (unsigned long long)last_txnid(dir));
    /* the create and three batches: rollbacks commit nothing */
    assert_int_equal(last_txnid(dir), 4);
    folio_free(doc);
    folio_free(filler);
    tu_rmrf(dir);
    folio_free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failing_middle_write), cmocka_unit_test(test_abort_and_empty),
        cmocka_unit_test(test_map_growth_in_batch),  cmocka_unit_test(test_batch_postings_model),
        cmocka_unit_test(test_batch_large_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
