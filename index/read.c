/*
 * Reads: the marker, one document, a page of documents, settings, stats.
 *
 * Each public call is one read transaction (index_read_begin/end), so what
 * it returns is one consistent state, and it copies every byte it returns
 * out of the map before the transaction ends. Output buffers are bounded by
 * FOLIO_INDEX_READ_BYTES_MAX.
 */
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

int
folio_index_marker_get(struct folio_index *idx, struct folio_index_marker *out,
                       struct folio_index_error *err)
{
    MDB_txn *txn;
    struct index_meta meta;
    int rc = index_read_begin(idx, &txn, err);
    if (rc != FOLIO_OK)
        return rc;
    rc = meta_load(txn, idx->dbi_meta, &meta, err);
    index_read_end(idx, txn);
    if (rc == FOLIO_OK)
        *out = meta.marker;
    return rc;
}

static bool
fields_all(const char *const *fields, size_t count)
{
    if (fields == NULL)
        return true;
    for (size_t i = 0; i < count; i++)
        if (strcmp(fields[i], "*") == 0)
            return true;
    return false;
}

static bool
field_wanted(const char *key, const char *const *fields, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(fields[i], key) == 0)
            return true;
    return false;
}

/* Appends the stored document v, restricted to fields, to b. */
int
read_document_emit(struct dbuf *b, const MDB_val *v, const char *const *fields, size_t count,
                   struct folio_index_error *err)
{
    int rc;
    if (fields_all(fields, count)) {
        rc = dbuf_append(b, v->mv_data, v->mv_size);
    } else {
        json_error_t jerr;
        json_t *doc = json_in_load(v->mv_data, v->mv_size, 0, &jerr);
        if (doc == NULL || !json_is_object(doc)) {
            json_decref(doc);
            return index_errorf(err, FOLIO_E_CORRUPT, "A stored document is not a JSON object.");
        }
        json_t *picked = json_object();
        const char *key;
        json_t *value;
        json_object_foreach(doc, key, value) {
            if (field_wanted(key, fields, count))
                json_object_set(picked, key, value);
        }
        rc = json_out(b, picked);
        json_decref(picked);
        json_decref(doc);
    }
    if (rc == FOLIO_E_TOO_LARGE)
        return index_errorf(err, FOLIO_E_TOO_LARGE,
                            "The response would exceed %u bytes; ask for fewer documents.",
                            FOLIO_INDEX_READ_BYTES_MAX);
    return rc;
}

int
read_buffer_finish(struct dbuf *b, char **out_json, size_t *out_len)
{
    int rc = dbuf_append(b, "", 0); /* makes room for the NUL */
    if (rc != FOLIO_OK)
        return rc;
    if (b->data == NULL)
        return FOLIO_E_INVALID;
    b->data[b->len] = '\0';
    *out_json = b->data;
    if (out_len != NULL)
        *out_len = b->len;
    b->data = NULL;
    return FOLIO_OK;
}

int
folio_index_document_get(struct folio_index *idx, const char *id, const char *const *fields,
                         size_t field_count, char **out_json, size_t *out_len,
                         struct folio_index_error *err)
{
    MDB_txn *txn = NULL;
    struct dbuf b;
    size_t id_len = strlen(id);
    *out_json = NULL;
    dbuf_init(&b, FOLIO_INDEX_READ_BYTES_MAX);
    if (!docid_valid(id, id_len))
        return index_errorf(err, FOLIO_E_DOCUMENT_NOT_FOUND, "Document `%.200s` not found.", id);
    int rc = index_read_begin(idx, &txn, err);
    if (rc != FOLIO_OK)
        return rc;
    MDB_val k = {id_len, (void *)id}, v;
    int mrc = mdb_get(txn, idx->dbi_external_ids, &k, &v);
    if (mrc == 0 && v.mv_size == 4) {
        k.mv_size = 4;
        k.mv_data = v.mv_data;
        mrc = mdb_get(txn, idx->dbi_documents, &k, &v);
    } else if (mrc == 0) {
        mrc = MDB_CORRUPTED;
    }
    if (mrc == MDB_NOTFOUND)
        rc = index_errorf(err, FOLIO_E_DOCUMENT_NOT_FOUND, "Document `%.200s` not found.", id);
    else if (mrc != 0)
        rc = index_mdb_error(err, mrc, "reading a document");
    else
        rc = read_document_emit(&b, &v, fields, field_count, err);
    index_read_end(idx, txn);
    if (rc == FOLIO_OK)
        rc = read_buffer_finish(&b, out_json, out_len);
    dbuf_release(&b);
    return rc;
}

static int
documents_page(MDB_txn *txn, struct folio_index *idx, uint64_t offset, uint64_t limit,
               const char *const *fields, size_t field_count, struct dbuf *b,
               struct folio_index_error *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int mrc = mdb_cursor_open(txn, idx->dbi_documents, &cur);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "reading documents");
    int rc = dbuf_append(b, "[", 1);
    uint64_t pos = 0, emitted = 0;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == FOLIO_OK && mrc == 0 && emitted < limit) {
        if (pos >= offset) {
            if (emitted > 0)
                rc = dbuf_append(b, ",", 1);
            if (rc == FOLIO_OK)
                rc = read_document_emit(b, &v, fields, field_count, err);
            emitted++;
        }
        pos++;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == FOLIO_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(err, mrc, "reading documents");
    if (rc == FOLIO_OK)
        rc = dbuf_append(b, "]", 1);
    if (rc == FOLIO_E_TOO_LARGE)
        rc = index_errorf(err, FOLIO_E_TOO_LARGE,
                          "The response would exceed %u bytes; ask for fewer documents.",
                          FOLIO_INDEX_READ_BYTES_MAX);
    return rc;
}

int
folio_index_documents_get(struct folio_index *idx, uint64_t offset, uint64_t limit,
                          const char *const *fields, size_t field_count, char **out_json,
                          size_t *out_len, uint64_t *out_total, struct folio_index_error *err)
{
    MDB_txn *txn = NULL;
    struct index_meta meta;
    struct dbuf b;
    *out_json = NULL;
    dbuf_init(&b, FOLIO_INDEX_READ_BYTES_MAX);
    int rc = index_read_begin(idx, &txn, err);
    if (rc != FOLIO_OK)
        return rc;
    rc = meta_load(txn, idx->dbi_meta, &meta, err);
    if (rc == FOLIO_OK)
        rc = documents_page(txn, idx, offset, limit, fields, field_count, &b, err);
    index_read_end(idx, txn);
    if (rc == FOLIO_OK)
        rc = read_buffer_finish(&b, out_json, out_len);
    if (rc == FOLIO_OK && out_total != NULL)
        *out_total = meta.document_count;
    dbuf_release(&b);
    return rc;
}

static int
settings_text(MDB_txn *txn, struct folio_index *idx, char **out, size_t *out_len,
              struct folio_index_error *err)
{
    json_t *overrides = NULL;
    int rc = meta_settings_load(txn, idx->dbi_meta, &overrides, err);
    if (rc != FOLIO_OK)
        return rc;
    json_t *all = settings_effective(overrides);
    rc = json_out_alloc(all, INDEX_SETTINGS_BYTES_MAX * 2, out, out_len);
    json_decref(all);
    json_decref(overrides);
    if (rc != FOLIO_OK)
        return index_errorf(err, FOLIO_E_CORRUPT, "The stored settings are too large.");
    return FOLIO_OK;
}

int
folio_index_settings_get(struct folio_index *idx, char **out_json, size_t *out_len,
                         struct folio_index_error *err)
{
    MDB_txn *txn;
    *out_json = NULL;
    int rc = index_read_begin(idx, &txn, err);
    if (rc != FOLIO_OK)
        return rc;
    rc = settings_text(txn, idx, out_json, out_len, err);
    index_read_end(idx, txn);
    return rc;
}

static int
stats_fill(MDB_txn *txn, struct folio_index *idx, struct folio_index_stats *s,
           struct folio_index_error *err)
{
    struct index_meta meta;
    MDB_stat st;
    int rc = meta_load(txn, idx->dbi_meta, &meta, err);
    if (rc != FOLIO_OK)
        return rc;
    int mrc = mdb_stat(txn, idx->dbi_documents, &st);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "reading index statistics");
    s->document_count = meta.document_count;
    s->has_primary_key = meta.has_primary_key;
    memcpy(s->primary_key, meta.primary_key, sizeof(s->primary_key));
    s->created_at_ns = meta.created_at_ns;
    s->updated_at_ns = meta.updated_at_ns;
    s->marker = meta.marker;
    s->next_internal_id = meta.next_internal_id;
    s->raw_document_bytes =
        (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
    rc = settings_text(txn, idx, &s->settings_json, &s->settings_len, err);
    if (rc == FOLIO_OK)
        rc = fields_stats_fill(txn, idx, s, err);
    return rc;
}

int
folio_index_stats_get(struct folio_index *idx, struct folio_index_stats **out,
                      struct folio_index_error *err)
{
    MDB_txn *txn;
    *out = NULL;
    struct folio_index_stats *s = folio_calloc(1, sizeof(*s));
    int rc = index_read_begin(idx, &txn, err);
    if (rc == FOLIO_OK) {
        s->map_bytes = idx->map_bytes; /* stable while we are inside the gate */
        rc = stats_fill(txn, idx, s, err);
        index_read_end(idx, txn);
    }
    if (rc != FOLIO_OK) {
        folio_index_stats_free(s);
        return rc;
    }
    *out = s;
    return FOLIO_OK;
}

void
folio_index_stats_free(struct folio_index_stats *stats)
{
    if (stats == NULL)
        return;
    folio_free(stats->settings_json);
    fields_stats_release(stats);
    folio_free(stats);
}
