/*
 * A full consistency check of one index, in one read transaction: what an
 * import runs before it trusts an env, and what the tests run after every
 * batch of random operations.
 *
 * It proves: every document is a JSON object whose primary key value is a
 * valid id; that id maps back (external_ids) to the document's internal id;
 * no internal id is at or above next_internal_id; and documents,
 * external_ids and document_count all count the same. Together these make
 * external_ids and documents a bijection. Stored outcomes (outcome.c) have
 * 8-byte keys at or below the marker's task uid and bounded sizes. The
 * search structures are exactly what the documents make (search_verify.c),
 * and so is the field distribution: the documents' top-level names are
 * counted while they are read and compared with `fields` (fields.c).
 */
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

static int
verify_document(MDB_txn *txn, struct folio_index *idx, const struct index_meta *meta,
                const MDB_val *k, const MDB_val *v, struct field_tally *fields,
                struct folio_index_error *err)
{
    if (k->mv_size != 4)
        return index_errorf(err, FOLIO_E_CORRUPT, "A document key is %zu bytes long.",
                            k->mv_size);
    uint32_t iid = index_iid_decode(k->mv_data);
    if (iid >= meta->next_internal_id)
        return index_errorf(err, FOLIO_E_CORRUPT,
                            "Document %u is at or above the next internal id %llu.", iid,
                            (unsigned long long)meta->next_internal_id);
    if (!meta->has_primary_key)
        return index_errorf(err, FOLIO_E_CORRUPT, "The index has documents but no primary key.");
    json_error_t jerr;
    json_t *doc = json_in_load(v->mv_data, v->mv_size, 0, &jerr);
    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        return index_errorf(err, FOLIO_E_CORRUPT, "Document %u is not a JSON object.", iid);
    }
    char id[FOLIO_INDEX_ID_BYTES_MAX + 1];
    size_t id_len = 0;
    int rc = docid_extract(doc, meta->primary_key, id, &id_len, NULL);
    field_tally_doc(fields, doc, 1);
    json_decref(doc);
    if (rc != FOLIO_OK)
        return index_errorf(err, FOLIO_E_CORRUPT, "Document %u has no valid id.", iid);
    MDB_val ek = {id_len, id}, ev;
    int mrc = mdb_get(txn, idx->dbi_external_ids, &ek, &ev);
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return index_mdb_error(err, mrc, "verifying the index");
    if (mrc == MDB_NOTFOUND || ev.mv_size != 4 || memcmp(ev.mv_data, k->mv_data, 4) != 0)
        return index_errorf(err, FOLIO_E_CORRUPT,
                            "Document %u (id `%.200s`) is not what its id maps to.", iid, id);
    return FOLIO_OK;
}

static int
verify_documents(MDB_txn *txn, struct folio_index *idx, const struct index_meta *meta,
                 uint64_t *count, struct field_tally *fields, struct folio_index_error *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int mrc = mdb_cursor_open(txn, idx->dbi_documents, &cur);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "verifying the index");
    int rc = FOLIO_OK;
    *count = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == FOLIO_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        rc = verify_document(txn, idx, meta, &k, &v, fields, err);
        (*count)++;
    }
    mdb_cursor_close(cur);
    if (rc == FOLIO_OK && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(err, mrc, "verifying the index");
    return rc;
}

int
folio_index_verify(struct folio_index *idx, struct folio_index_error *err)
{
    MDB_txn *txn;
    struct index_meta meta;
    MDB_stat st;
    uint64_t documents = 0;
    int rc = index_read_begin(idx, &txn, err);
    if (rc != FOLIO_OK)
        return rc;
    struct field_tally *fields = field_tally_new();
    rc = meta_load(txn, idx->dbi_meta, &meta, err);
    if (rc == FOLIO_OK)
        rc = verify_documents(txn, idx, &meta, &documents, fields, err);
    if (rc == FOLIO_OK) {
        int mrc = mdb_stat(txn, idx->dbi_external_ids, &st);
        if (mrc != 0)
            rc = index_mdb_error(err, mrc, "verifying the index");
    }
    if (rc == FOLIO_OK && (documents != meta.document_count || st.ms_entries != documents))
        rc = index_errorf(err, FOLIO_E_CORRUPT,
                          "Counts disagree: %llu documents stored, %llu ids, document_count "
                          "says %llu.",
                          (unsigned long long)documents, (unsigned long long)st.ms_entries,
                          (unsigned long long)meta.document_count);
    if (rc == FOLIO_OK)
        rc = outcome_verify(txn, idx, &meta, err);
    if (rc == FOLIO_OK)
        rc = search_verify(txn, idx, err);
    if (rc == FOLIO_OK)
        rc = fields_verify(txn, idx, fields, err);
    field_tally_free(fields);
    index_read_end(idx, txn);
    return rc;
}
