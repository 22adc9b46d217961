/*
 * Verification of the search structures, part of folio_index_verify: build
 * in memory what every stored document makes under the stored settings
 * (postings_doc, the function writes use), then check that `words`,
 * `word_ranks`, `facets` and meta `document_ids` hold exactly that: every
 * stored posting list is well-formed (bitmap_check), is expected and equal
 * to its expected list, and no expected list is missing.
 *
 * It needs memory in proportion to the index's posting lists; it is the
 * full check an import runs once, not something to run per request.
 */
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

static int
expected_build(MDB_txn *txn, struct folio_index *idx, struct postings *p,
               struct folio_index_error *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int mrc = mdb_cursor_open(txn, idx->dbi_documents, &cur);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "verifying the search structures");
    int rc = FOLIO_OK;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == FOLIO_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        json_error_t jerr;
        json_t *doc = json_in_load(v.mv_data, v.mv_size, 0, &jerr);
        if (k.mv_size != 4 || doc == NULL || !json_is_object(doc))
            rc = index_errorf(err, FOLIO_E_CORRUPT, "A stored document is damaged.");
        else
            rc = postings_doc(p, index_iid_decode(k.mv_data), doc, true, err);
        json_decref(doc);
    }
    mdb_cursor_close(cur);
    if (rc == FOLIO_OK && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(err, mrc, "verifying the search structures");
    return rc;
}

/* Shows a key for a message: printable ASCII as is, other bytes as \xNN. */
static void
key_shown(const MDB_val *k, char *buf, size_t cap)
{
    size_t n = 0;
    const uint8_t *p = k->mv_data;
    for (size_t i = 0; i < k->mv_size && n + 5 < cap; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7F)
            buf[n++] = (char)p[i];
        else
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", p[i]);
    }
    buf[n] = '\0';
}

static int
one_list(struct postings *p, char tag, const char *name, const MDB_val *k, const MDB_val *v,
         struct folio_index_error *err)
{
    char shown[120];
    roaring_bitmap_t *stored = NULL;
    int rc = bitmap_decode(v->mv_data, v->mv_size, &stored, err, name);
    if (rc != FOLIO_OK)
        return rc;
    const roaring_bitmap_t *expected = postings_expected(p, tag, k->mv_data, k->mv_size);
    if (expected == NULL || !roaring_bitmap_equals(stored, expected)) {
        key_shown(k, shown, sizeof(shown));
        rc = index_errorf(err, FOLIO_E_CORRUPT,
                          "The `%s` entry `%s` lists %llu documents; the documents make %llu.",
                          name, shown, (unsigned long long)roaring_bitmap_get_cardinality(stored),
                          (unsigned long long)(expected == NULL
                                                   ? 0
                                                   : roaring_bitmap_get_cardinality(expected)));
    }
    roaring_bitmap_free(stored);
    return rc;
}

static int
one_database(MDB_txn *txn, MDB_dbi dbi, struct postings *p, char tag, const char *name,
             struct folio_index_error *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    size_t seen = 0;
    int mrc = mdb_cursor_open(txn, dbi, &cur);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "verifying the search structures");
    int rc = FOLIO_OK;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == FOLIO_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), seen++)
        rc = one_list(p, tag, name, &k, &v, err);
    mdb_cursor_close(cur);
    if (rc == FOLIO_OK && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(err, mrc, "verifying the search structures");
    size_t expected = postings_nonempty_count(p, tag);
    if (rc == FOLIO_OK && seen != expected)
        rc = index_errorf(err, FOLIO_E_CORRUPT,
                          "The `%s` database has %zu entries; the documents make %zu.", name,
                          seen, expected);
    return rc;
}

static int
document_ids_check(MDB_txn *txn, struct folio_index *idx, struct postings *p,
                   struct folio_index_error *err)
{
    roaring_bitmap_t *stored = NULL;
    int rc = bitmap_get(txn, idx->dbi_meta, META_DOCUMENT_IDS, strlen(META_DOCUMENT_IDS),
                        &stored, err, "document_ids");
    if (rc < 0)
        return rc;
    uint8_t none = 0;
    const roaring_bitmap_t *expected = postings_expected(p, PTAG_IDS, &none, 0);
    bool ok = stored == NULL ? expected == NULL || roaring_bitmap_is_empty(expected)
                             : expected != NULL && roaring_bitmap_equals(stored, expected);
    if (stored != NULL)
        roaring_bitmap_free(stored);
    if (!ok)
        return index_errorf(err, FOLIO_E_CORRUPT,
                            "Meta `document_ids` is not the set of stored documents.");
    return FOLIO_OK;
}

int
search_verify(MDB_txn *txn, struct folio_index *idx, struct folio_index_error *err)
{
    if (!idx->has_search)
        return FOLIO_OK; /* format 1, read-only: nothing to check */
    json_t *overrides = NULL;
    int rc = meta_settings_load(txn, idx->dbi_meta, &overrides, err);
    if (rc != FOLIO_OK)
        return rc;
    struct postings *p = postings_new(overrides, POSTINGS_ALL);
    json_decref(overrides);
    rc = expected_build(txn, idx, p, err);
    if (rc == FOLIO_OK)
        rc = one_database(txn, idx->dbi_words, p, PTAG_WORD, INDEX_DB_WORDS, err);
    if (rc == FOLIO_OK)
        rc = one_database(txn, idx->dbi_word_ranks, p, PTAG_RANK, INDEX_DB_WORD_RANKS, err);
    if (rc == FOLIO_OK)
        rc = one_database(txn, idx->dbi_facets, p, PTAG_FACET, INDEX_DB_FACETS, err);
    if (rc == FOLIO_OK)
        rc = document_ids_check(txn, idx, p, err);
    postings_free(p);
    return rc;
}
