/*
 * folio_index_search: one search in one read transaction (contract in
 * include/folio/index.h).
 *
 * Steps: parse q into terms and the filter into a tree (both before the
 * transaction: a malformed request never touches the index), then in the
 * transaction: the settings, the universe (meta `document_ids`), the filter's
 * documents, each term's matching words and documents; the candidates are
 * the documents every term matches and the filter keeps; rank them
 * (rank.c), emit the page of hits (hits.c). The response's numbers come
 * last, so processingTimeMs covers all of it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

void
folio_index_search_req_default(struct folio_index_search_req *req)
{
    memset(req, 0, sizeof(*req));
    req->limit = FOLIO_INDEX_SEARCH_LIMIT_DEFAULT;
    req->page = 1;
    req->hits_per_page = FOLIO_INDEX_SEARCH_LIMIT_DEFAULT;
}

/*
 * The window of ranked hits the request asks for: offset and limit, or with
 * pages, page p of hits_per_page hits (p >= 1; page 0 has none, as in
 * Meilisearch). An offset past every possible hit saturates.
 */
static void
search_window(const struct folio_index_search_req *req, uint64_t *offset, uint64_t *limit)
{
    if (!req->paged) {
        *offset = req->offset;
        *limit = req->limit;
        return;
    }
    if (req->page == 0) {
        *offset = *limit = 0;
        return;
    }
    uint64_t pages_before = req->page - 1;
    *limit = req->hits_per_page;
    *offset = req->hits_per_page != 0 && pages_before > UINT64_MAX / req->hits_per_page
                  ? UINT64_MAX
                  : pages_before * req->hits_per_page;
}

struct search_run {
    struct folio_index *idx;
    const struct folio_index_search_req *req;
    struct query query;
    struct fnode *filter;
    struct search_config cfg;
    roaring_bitmap_t *universe;
    roaring_bitmap_t *candidates;
    uint32_t *ids;
    size_t id_count;
    json_t *facet_distribution; /* req->facets: facets_compute's */
    json_t *facet_stats;
};

static int
candidates_find(MDB_txn *txn, struct search_run *s, struct folio_index_error *err)
{
    roaring_bitmap_t *filtered = NULL;
    int rc = FOLIO_OK;
    if (s->filter != NULL)
        rc = filter_eval(txn, s->idx, &s->cfg, s->req->filter, s->filter, s->universe,
                         &filtered, err);
    if (rc == FOLIO_OK)
        rc = query_match(txn, s->idx, &s->query, err);
    if (rc != FOLIO_OK)
        goto out;
    s->candidates = roaring_bitmap_copy(filtered != NULL ? filtered : s->universe);
    for (size_t i = 0; i < s->query.term_count; i++)
        roaring_bitmap_and_inplace(s->candidates, s->query.terms[i].docs);
out:
    if (filtered != NULL)
        roaring_bitmap_free(filtered);
    return rc;
}

static int
search_in(MDB_txn *txn, struct search_run *s, struct dbuf *b, struct folio_index_error *err)
{
    if (!s->idx->has_search)
        return index_errorf(err, FOLIO_E_VERSION,
                            "This index was written in format 1, before search existed, and is "
                            "open read-only: open it read-write once to build its search "
                            "structures.");
    int rc = search_config_load(txn, s->idx, &s->cfg, err);
    if (rc != FOLIO_OK)
        return rc;
    rc = bitmap_get(txn, s->idx->dbi_meta, META_DOCUMENT_IDS, strlen(META_DOCUMENT_IDS),
                    &s->universe, err, "document_ids");
    if (rc < 0)
        return rc;
    if (s->universe == NULL)
        s->universe = roaring_bitmap_create();
    rc = candidates_find(txn, s, err);
    /* Facets first: a facet that is not filterable fails before any ranking. */
    if (rc == FOLIO_OK && s->req->facets != NULL)
        rc = facets_compute(txn, s->idx, &s->cfg, s->req->facets, s->req->facet_count,
                            s->candidates, &s->facet_distribution, &s->facet_stats, err);
    uint64_t offset, limit;
    search_window(s->req, &offset, &limit);
    if (rc == FOLIO_OK)
        rc = rank_hits(txn, s->idx, &s->query, s->candidates, offset, limit, &s->ids,
                       &s->id_count, err);
    if (rc == FOLIO_OK)
        rc = dbuf_append(b, "{\"hits\":[", 9);
    if (rc == FOLIO_OK)
        rc = hits_emit(txn, s->idx, &s->cfg, s->req, s->ids, s->id_count, b, err);
    return rc;
}

/* The rest of the response, after the hits. */
static int
response_tail(struct dbuf *b, const struct search_run *s, int64_t started_ns)
{
    const char *q = s->req->q != NULL ? s->req->q : "";
    json_t *query = json_string(q); /* q was checked to be UTF-8 */
    int rc = dbuf_append(b, "],\"query\":", 10);
    if (rc == FOLIO_OK)
        rc = json_out(b, query);
    json_decref(query);
    char tail[240];
    int64_t elapsed_ms = (folio_clock_mono_ns() - started_ns) / 1000000;
    uint64_t total = roaring_bitmap_get_cardinality(s->candidates);
    const struct folio_index_search_req *req = s->req;
    int n;
    if (req->paged) {
        /* Meilisearch's exhaustive pagination: the exact count, and pages of it. */
        uint64_t hpp = req->hits_per_page;
        uint64_t pages = hpp == 0 ? 0 : total / hpp + (total % hpp != 0);
        n = snprintf(tail, sizeof(tail),
                     ",\"processingTimeMs\":%" PRId64 ",\"hitsPerPage\":%" PRIu64
                     ",\"page\":%" PRIu64 ",\"totalPages\":%" PRIu64 ",\"totalHits\":%" PRIu64,
                     elapsed_ms, hpp, req->page, pages, total);
    } else {
        n = snprintf(tail, sizeof(tail),
                     ",\"processingTimeMs\":%" PRId64 ",\"limit\":%" PRIu64 ",\"offset\":%" PRIu64
                     ",\"estimatedTotalHits\":%" PRIu64,
                     elapsed_ms, req->limit, req->offset, total);
    }
    if (rc == FOLIO_OK)
        rc = dbuf_append(b, tail, (size_t)n);
    if (rc == FOLIO_OK && s->facet_distribution != NULL) {
        rc = dbuf_append(b, ",\"facetDistribution\":", 21);
        if (rc == FOLIO_OK)
            rc = json_out(b, s->facet_distribution);
        if (rc == FOLIO_OK)
            rc = dbuf_append(b, ",\"facetStats\":", 14);
        if (rc == FOLIO_OK)
            rc = json_out(b, s->facet_stats);
    }
    if (rc == FOLIO_OK)
        rc = dbuf_append(b, "}", 1);
    if (rc == FOLIO_OK)
        rc = dbuf_append(b, "", 0); /* room for the NUL */
    return rc;
}

static void
run_release(struct search_run *s)
{
    query_release(&s->query);
    filter_free(s->filter);
    search_config_release(&s->cfg);
    if (s->universe != NULL)
        roaring_bitmap_free(s->universe);
    if (s->candidates != NULL)
        roaring_bitmap_free(s->candidates);
    folio_free(s->ids);
    json_decref(s->facet_distribution);
    json_decref(s->facet_stats);
}

int
folio_index_search(struct folio_index *idx, const struct folio_index_search_req *req,
                   char **out_json, size_t *out_len, struct folio_index_error *err)
{
    int64_t started_ns = folio_clock_mono_ns();
    struct search_run s = {.idx = idx, .req = req};
    struct dbuf b;
    MDB_txn *txn = NULL;
    *out_json = NULL;
    dbuf_init(&b, FOLIO_INDEX_READ_BYTES_MAX);
    int rc = query_parse(req->q, &s.query, err);
    if (rc == FOLIO_OK && req->filter != NULL)
        rc = filter_parse(req->filter, &s.filter, err);
    if (rc == FOLIO_OK)
        rc = index_read_begin(idx, &txn, err);
    if (rc == FOLIO_OK) {
        rc = search_in(txn, &s, &b, err);
        index_read_end(idx, txn);
    }
    if (rc == FOLIO_OK)
        rc = response_tail(&b, &s, started_ns);
    if (rc == FOLIO_E_TOO_LARGE)
        rc = index_errorf(err, FOLIO_E_TOO_LARGE,
                          "The response would exceed %u bytes; ask for fewer hits.",
                          FOLIO_INDEX_READ_BYTES_MAX);
    if (rc == FOLIO_OK) {
        b.data[b.len] = '\0';
        *out_json = b.data;
        if (out_len != NULL)
            *out_len = b.len;
        b.data = NULL;
    }
    dbuf_release(&b);
    run_release(&s);
    return rc;
}
