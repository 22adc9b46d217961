/*
 * How writes keep the search structures in step with documents and
 * settings (docs/index-format.md, "Search structures"). Every hook runs
 * inside the caller's write transaction, so the posting lists change in the
 * same transaction as the documents, settings and marker, or not at all.
 *
 * Invariants kept here:
 *   - after every committed write, `words`, `word_ranks`, `facets` and
 *     `document_ids` are exactly what postings_doc makes of the stored
 *     documents under the stored settings (search_verify checks it);
 *   - a change of the effective searchableAttributes rebuilds `words` and
 *     `word_ranks`, one of filterableAttributes rebuilds `facets`, in the
 *     settings write itself; other settings change no posting list;
 *   - the change set of a write is created lazily with the settings stored
 *     in its transaction, applied by the runner (search_write_finish) after
 *     the operation succeeded, and thrown away when it failed;
 *   - in a batch, a document write's change set is not applied to its nested
 *     transaction but, once that transaction has committed into the parent,
 *     merged into the batch's set (search_batch_merge), which env.c applies to
 *     the parent before anything can look at the lists: before a write that
 *     may rebuild or drop them (every write but document additions and
 *     deletions), before the batch thread reads, when the set is full, and
 *     before the batch commits. So a list is read, decoded and written once
 *     per batch instead of once per task (the list of every document id, in
 *     a batch of one-document tasks, once instead of a thousand times), and
 *     the durable state after each commit is exactly as without batching.
 *     The write's field distribution deltas (fields.c) travel with its set
 *     and are applied with the batch's.
 */
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

int
search_dbis_open(MDB_txn *txn, struct folio_index *idx, bool create,
                 struct folio_index_error *err)
{
    static const char *const names[] = {INDEX_DB_WORDS, INDEX_DB_WORD_RANKS, INDEX_DB_FACETS};
    MDB_dbi *dbis[] = {&idx->dbi_words, &idx->dbi_word_ranks, &idx->dbi_facets};
    idx->has_search = false;
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(names); i++) {
        int rc = mdb_dbi_open(txn, names[i], create ? MDB_CREATE : 0, dbis[i]);
        if (rc == MDB_NOTFOUND)
            return index_errorf(err, FOLIO_E_CORRUPT,
                                "The index is damaged: the `%s` database is missing.", names[i]);
        if (rc == MDB_INCOMPATIBLE)
            return index_errorf(err, FOLIO_E_CORRUPT, "The `%s` database is not a folio one.",
                                names[i]);
        if (rc != 0)
            return index_mdb_error(err, rc, "opening the search databases");
    }
    idx->has_search = true;
    return FOLIO_OK;
}

static int
postings_of(struct wtxn *w, struct postings **out)
{
    if (w->postings == NULL && w->idx->batch_postings != NULL) {
        /*
         * A batch's set exists only while the stored settings are the ones it
         * was made with (a settings write applies and drops it first).
         */
        w->postings = postings_new_like(w->idx->batch_postings);
    } else if (w->postings == NULL) {
        json_t *overrides = NULL;
        int rc = meta_settings_load(w->txn, w->idx->dbi_meta, &overrides, w->err);
        if (rc != FOLIO_OK)
            return rc;
        w->postings = postings_new(overrides, POSTINGS_ALL);
        json_decref(overrides);
    }
    *out = w->postings;
    return FOLIO_OK;
}

int
search_doc_changed(struct wtxn *w, const uint8_t iid[4], const json_t *doc, bool add)
{
    FOLIO_ASSERT(w->idx->has_search);
    struct postings *p = NULL;
    int rc = postings_of(w, &p);
    if (rc == FOLIO_OK)
        rc = postings_doc(p, index_iid_decode(iid), doc, add, w->err);
    if (rc == FOLIO_OK && postings_full(p)) {
        rc = search_batch_into_write(w);
        if (rc == FOLIO_OK)
            rc = postings_flush(p, w->txn, w->idx, w->err);
    }
    return rc;
}

int
search_batch_into_write(struct wtxn *w)
{
    /*
     * A batch's earlier writes go first, or theirs would land after this
     * one's. Into this transaction, and kept: if it aborts they are still
     * pending; if it commits, the runner drops the batch's set (with its
     * field deltas, applied here too).
     */
    struct postings *batch = w->idx->batch_postings;
    int rc = FOLIO_OK;
    if (w->defer && batch != NULL && !w->batch_in_txn) {
        rc = postings_apply(batch, w->txn, w->idx, w->err);
        w->batch_in_txn = true;
    }
    return rc;
}

int
search_write_finish(struct wtxn *w)
{
    int rc = FOLIO_OK;
    if (w->postings != NULL)
        rc = postings_flush(w->postings, w->txn, w->idx, w->err);
    if (rc == FOLIO_OK)
        rc = fields_write_finish(w); /* the field distribution (fields.c) */
    search_write_discard(w);
    return rc;
}

int
search_write_defer(struct wtxn *w, struct postings **deferred)
{
    *deferred = w->postings; /* applied later by search_batch_flush, or dropped */
    w->postings = NULL;
    int rc = FOLIO_OK;
    if (*deferred != NULL && w->fields != NULL) {
        postings_take_fields(*deferred, w->fields); /* the field deltas go along */
        w->fields = NULL;
    } else {
        rc = fields_write_finish(w);
    }
    search_write_discard(w);
    return rc;
}

void
search_batch_merge(struct folio_index *idx, struct postings *deferred)
{
    if (deferred == NULL)
        return;
    if (idx->batch_postings == NULL) {
        idx->batch_postings = deferred;
        return;
    }
    postings_merge(idx->batch_postings, deferred);
    postings_recycle(idx->batch_postings, deferred); /* the batch's next write reuses it */
}

bool
search_batch_full(const struct folio_index *idx)
{
    return idx->batch_postings != NULL && postings_full(idx->batch_postings);
}

int
search_batch_flush(struct folio_index *idx, MDB_txn *txn, struct folio_index_error *err)
{
    if (idx->batch_postings == NULL)
        return FOLIO_OK;
    int rc = postings_flush(idx->batch_postings, txn, idx, err);
    search_batch_discard(idx);
    return rc;
}

void
search_batch_discard(struct folio_index *idx)
{
    postings_free(idx->batch_postings);
    idx->batch_postings = NULL;
}

void
search_write_discard(struct wtxn *w)
{
    postings_free(w->postings);
    w->postings = NULL;
    fields_write_discard(w);
}

static int
drop_parts(struct wtxn *w, unsigned parts)
{
    struct folio_index *idx = w->idx;
    int rc = 0;
    if (parts & POSTINGS_WORDS) {
        rc = mdb_drop(w->txn, idx->dbi_words, 0);
        if (rc == 0)
            rc = mdb_drop(w->txn, idx->dbi_word_ranks, 0);
    }
    if (rc == 0 && (parts & POSTINGS_FACETS))
        rc = mdb_drop(w->txn, idx->dbi_facets, 0);
    if (rc == 0 && (parts & POSTINGS_IDS)) {
        MDB_val k = {strlen(META_DOCUMENT_IDS), (void *)META_DOCUMENT_IDS};
        rc = mdb_del(w->txn, idx->dbi_meta, &k, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc != 0)
        return index_mdb_error(w->err, rc, "emptying the search structures");
    return FOLIO_OK;
}

int
search_clear(struct wtxn *w)
{
    search_write_discard(w); /* whatever was recorded is about nothing now */
    return drop_parts(w, POSTINGS_ALL);
}

/* Empties `parts` and fills them again from every stored document under overrides. */
static int
rebuild(struct wtxn *w, const json_t *overrides, unsigned parts)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = search_write_finish(w); /* nothing may stay pending across the drop */
    if (rc == FOLIO_OK)
        rc = drop_parts(w, parts);
    if (rc != FOLIO_OK)
        return rc;
    struct postings *p = postings_new(overrides, parts);
    int mrc = mdb_cursor_open(w->txn, w->idx->dbi_documents, &cur);
    for (mrc = mrc ? mrc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == FOLIO_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        rc = write_stop_check(w);
        if (rc != FOLIO_OK)
            break;
        json_error_t jerr;
        json_t *doc = json_in_load(v.mv_data, v.mv_size, 0, &jerr);
        if (k.mv_size != 4 || doc == NULL || !json_is_object(doc))
            rc = index_errorf(w->err, FOLIO_E_CORRUPT, "A stored document is damaged.");
        else
            rc = postings_doc(p, index_iid_decode(k.mv_data), doc, true, w->err);
        json_decref(doc);
        if (rc == FOLIO_OK && postings_full(p))
            rc = postings_flush(p, w->txn, w->idx, w->err);
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (rc == FOLIO_OK && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(w->err, mrc, "reading the documents");
    if (rc == FOLIO_OK)
        rc = postings_flush(p, w->txn, w->idx, w->err);
    postings_free(p);
    return rc;
}

static bool
setting_differs(const json_t *a, const json_t *b, const char *name)
{
    return !json_equal(json_object_get(a, name), json_object_get(b, name));
}

int
search_settings_changed(struct wtxn *w, const json_t *old_overrides, const json_t *new_overrides)
{
    FOLIO_ASSERT(w->idx->has_search);
    json_t *before = settings_effective(old_overrides);
    json_t *after = settings_effective(new_overrides);
    unsigned parts = 0;
    if (setting_differs(before, after, "searchableAttributes"))
        parts |= POSTINGS_WORDS;
    if (setting_differs(before, after, "filterableAttributes"))
        parts |= POSTINGS_FACETS;
    json_decref(before);
    json_decref(after);
    return parts == 0 ? FOLIO_OK : rebuild(w, new_overrides, parts);
}

int
search_upgrade(struct wtxn *w)
{
    json_t *overrides = NULL;
    int rc = search_dbis_open(w->txn, w->idx, true, w->err);
    if (rc == FOLIO_OK)
        rc = meta_settings_load(w->txn, w->idx->dbi_meta, &overrides, w->err);
    if (rc == FOLIO_OK)
        rc = rebuild(w, overrides, POSTINGS_ALL);
    json_decref(overrides);
    if (rc == FOLIO_OK)
        rc = meta_put_format(w->txn, w->idx->dbi_meta, w->err);
    return rc;
}
