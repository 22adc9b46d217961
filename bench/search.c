/*
 * bench_search: how fast an index of synthetic documents is built and
 * searched (folio_index_search), one thread.
 *
 * Documents: {"id", "title" (4 words), "body" (30 words), "genre" (one of
 * 20), "year" (1950-2024), "sku" (unique)}; words are drawn from a
 * 20,000-word synthetic vocabulary with a Zipf distribution, as natural text
 * is. genre, year and sku are filterable. The last three rows ask for
 * facets (facetDistribution and facetStats): of genre and year over every
 * document, of genre, year and sku for one word, and of sku for a narrow
 * filter (about 70 documents among 100,000 values: the walk of documents). Each table row runs one kind of query, cycling over 1,000
 * pregenerated queries of that kind for --seconds, and reports queries per
 * second, latency quantiles and the mean estimatedTotalHits.
 *
 * Nothing here checks a timing; a search error ends the program with status 1.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "folio/common.h"
#include "folio/index.h"

#define VOCAB 20000
#define QUERIES 1000
#define BATCH 10000

struct opts {
    const char *dir;
    unsigned docs;
    double seconds;
};

static uint64_t rng = 0x5eed5eedull;
static struct bench_vocab vocab; /* VOCAB words (benchutil.h) */

static uint64_t
next_rand(void)
{
    return bench_rand(&rng);
}

static const char *
zipf_word(void)
{
    return bench_vocab_word(&vocab, &rng);
}

static size_t
append_words(char *buf, size_t n, int count)
{
    return bench_vocab_words(&vocab, &rng, buf, n, (unsigned)count);
}

static int
build(struct folio_index *idx, unsigned docs)
{
    struct folio_index_error err;
    struct folio_index_marker m = {.task_uid = 2, .batch_seq = 2};
    static const char settings[] = "{\"filterableAttributes\":[\"genre\",\"year\",\"sku\"]}";
    if (folio_index_settings_update(idx, settings, strlen(settings), &m, &err) != 0) {
        fprintf(stderr, "settings: %s\n", err.message);
        return -1;
    }
    char *buf = folio_malloc((size_t)BATCH * 600);
    for (unsigned start = 0; start < docs; start += BATCH) {
        size_t n = (size_t)sprintf(buf, "[");
        for (unsigned i = start; i < start + BATCH && i < docs; i++) {
            n += (size_t)sprintf(buf + n, "%s{\"id\":%u,\"title\":\"", i > start ? "," : "", i);
            n = append_words(buf, n, 4);
            n += (size_t)sprintf(buf + n, "\",\"body\":\"");
            n = append_words(buf, n, 30);
            n += (size_t)sprintf(buf + n, "\",\"genre\":\"g%u\",\"year\":%u,\"sku\":\"s%07u\"}",
                                 (unsigned)(next_rand() % 20), 1950 + (unsigned)(next_rand() % 75),
                                 i);
        }
        n += (size_t)sprintf(buf + n, "]");
        struct folio_index_payload p = {.format = FOLIO_INDEX_FORMAT_JSON, .data = buf, .len = n};
        m.task_uid++;
        m.batch_seq++;
        if (folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, "id", &m, NULL, &err) != 0) {
            fprintf(stderr, "add: %s\n", err.message);
            folio_free(buf);
            return -1;
        }
    }
    folio_free(buf);
    return 0;
}

enum kind {
    K_ONE,
    K_PREFIX,
    K_TWO,
    K_TYPO,
    K_FILTERED,
    K_PLACEHOLDER,
    K_FACETS_ALL,
    K_FACETS_WORD,
    K_FACETS_NARROW,
    K_COUNT
};

static const char *const kind_names[] = {
    "1 word",         "1 word, prefix (3 chars)", "2 words",
    "3 words, one typo", "1 word + filter",        "filter only",
    "facets, all documents", "1 word + 3 facets",  "narrow filter + sku facet",
};

static const char *const facets_all[] = {"genre", "year"};
static const char *const facets_word[] = {"genre", "year", "sku"};
static const char *const facets_narrow[] = {"sku"};

struct query {
    char q[96];
    char filter[64];
    const char *const *facets;
    size_t facet_count;
};

static void
typo(char *w)
{
    size_t n = strlen(w);
    if (n >= 5)
        w[1 + next_rand() % (n - 1)] = 'q';
}

static void
query_make(enum kind k, struct query *out)
{
    char w[16];
    out->filter[0] = '\0';
    out->facets = NULL;
    out->facet_count = 0;
    switch (k) {
    case K_ONE:
        snprintf(out->q, sizeof(out->q), "%s ", zipf_word());
        break;
    case K_PREFIX:
        snprintf(out->q, sizeof(out->q), "%.3s", zipf_word());
        break;
    case K_TWO:
        snprintf(out->q, sizeof(out->q), "%s %s", zipf_word(), zipf_word());
        break;
    case K_TYPO:
        do
            snprintf(w, sizeof(w), "%s", zipf_word());
        while (strlen(w) < 5);
        typo(w);
        snprintf(out->q, sizeof(out->q), "%s %s %s", zipf_word(), w, zipf_word());
        break;
    case K_FILTERED:
        snprintf(out->q, sizeof(out->q), "%s", zipf_word());
        snprintf(out->filter, sizeof(out->filter), "genre = g%u AND year > %u",
                 (unsigned)(next_rand() % 20), 1950 + (unsigned)(next_rand() % 75));
        break;
    case K_FACETS_ALL:
        out->q[0] = '\0';
        out->facets = facets_all;
        out->facet_count = FOLIO_ARRAY_LEN(facets_all);
        break;
    case K_FACETS_WORD:
        snprintf(out->q, sizeof(out->q), "%s", zipf_word());
        out->facets = facets_word;
        out->facet_count = FOLIO_ARRAY_LEN(facets_word);
        break;
    case K_FACETS_NARROW:
        out->q[0] = '\0';
        snprintf(out->filter, sizeof(out->filter), "genre = g%u AND year = %u",
                 (unsigned)(next_rand() % 20), 1950 + (unsigned)(next_rand() % 75));
        out->facets = facets_narrow;
        out->facet_count = FOLIO_ARRAY_LEN(facets_narrow);
        break;
    default:
        out->q[0] = '\0';
        snprintf(out->filter, sizeof(out->filter), "genre IN [g%u, g%u] AND year 1990 TO 2000",
                 (unsigned)(next_rand() % 20), (unsigned)(next_rand() % 20));
        break;
    }
}

static long long
total_hits(const char *json)
{
    const char *p = strstr(json, "\"estimatedTotalHits\":");
    return p == NULL ? -1 : atoll(p + 21);
}

static int
run_kind(struct folio_index *idx, enum kind k, double seconds)
{
    struct query *qs = folio_calloc(QUERIES, sizeof(*qs));
    for (int i = 0; i < QUERIES; i++)
        query_make(k, &qs[i]);
    struct bench_hist h;
    bench_hist_init(&h);
    struct folio_index_error err;
    double hits = 0;
    int64_t start = bench_now_ns(), end = start + (int64_t)(seconds * 1e9);
    uint64_t n = 0;
    int rc = 0;
    while (rc == 0 && (bench_now_ns() < end || n < QUERIES / 10)) {
        struct query *q = &qs[n % QUERIES];
        struct folio_index_search_req req;
        folio_index_search_req_default(&req);
        req.q = q->q;
        req.filter = q->filter[0] ? q->filter : NULL;
        req.facets = q->facets;
        req.facet_count = q->facet_count;
        char *json = NULL;
        int64_t t0 = bench_now_ns();
        rc = folio_index_search(idx, &req, &json, NULL, &err);
        bench_hist_add(&h, (uint64_t)(bench_now_ns() - t0));
        if (rc != 0)
            fprintf(stderr, "search %s / %s: %s\n", q->q, q->filter, err.message);
        else
            hits += (double)total_hits(json);
        folio_free(json);
        n++;
    }
    double elapsed = (double)(bench_now_ns() - start) / 1e9;
    char c1[32], c2[32];
    printf("| %-26s | %10s | %8.3f | %8.3f | %8.3f | %10s |\n", kind_names[k],
           bench_fmt_count(c1, (double)n / elapsed), bench_hist_quantile_ns(&h, 0.5) / 1e6,
           bench_hist_quantile_ns(&h, 0.99) / 1e6, (double)h.max_ns / 1e6,
           bench_fmt_count(c2, hits / (double)n));
    bench_hist_free(&h);
    folio_free(qs);
    return rc;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
    o->dir = ".";
    o->docs = 100000;
    o->seconds = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            o->docs = 10000;
            o->seconds = 0.3;
        } else if (strcmp(a, "--dir") == 0 && v != NULL) {
            o->dir = v;
            i++;
        } else if (strcmp(a, "--docs") == 0 && v != NULL) {
            o->docs = (unsigned)strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--seconds") == 0 && v != NULL) {
            o->seconds = strtod(v, NULL);
            i++;
        } else {
            fprintf(stderr, "usage: bench_search [--dir DIR] [--docs N] [--seconds S] [--quick]\n");
            return -1;
        }
    }
    return o->docs > 0 && o->seconds > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    bench_print_machine(o.dir, FOLIO_BENCH_BUILD_TYPE);
    char *dir = bench_mkdtemp(o.dir);
    if (dir == NULL)
        return 1;
    bench_vocab_init(&vocab, VOCAB, &rng);
    struct folio_index *idx = NULL;
    struct folio_index_error err;
    struct folio_index_marker m = {.task_uid = 1, .batch_seq = 1};
    int rc = folio_index_create(dir, NULL, "id", &m, &idx, &err);
    if (rc != 0)
        fprintf(stderr, "create: %s\n", err.message);
    int64_t t0 = bench_now_ns();
    double cpu0 = bench_cpu_seconds();
    if (rc == 0)
        rc = build(idx, o.docs);
    if (rc == 0) {
        double s = (double)(bench_now_ns() - t0) / 1e9;
        char c[32];
        printf("\nindexing: %u documents (36 words each) in batches of %u: %.2f s wall, %.2f s "
               "CPU, %s documents/s\n\n",
               o.docs, BATCH, s, bench_cpu_seconds() - cpu0, bench_fmt_count(c, o.docs / s));
        printf("| %-26s | %10s | %8s | %8s | %8s | %10s |\n", "query", "queries/s", "p50 ms",
               "p99 ms", "max ms", "mean total");
        printf("|%s|%s|%s|%s|%s|%s|\n", "----------------------------", "------------",
               "----------", "----------", "----------", "------------");
        for (int k = 0; k < K_COUNT && rc == 0; k++)
            rc = run_kind(idx, (enum kind)k, o.seconds);
    }
    folio_index_free(idx);
    bench_rmrf(dir);
    folio_free(dir);
    return rc == 0 ? 0 : 1;
}
