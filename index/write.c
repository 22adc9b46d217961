/*
 * Document writes: add (replace or merge), delete by ids, delete all, set
 * the primary key, and store only the marker. Each public function is one
 * call of the write runner (env.c), so each is one LMDB transaction that
 * also stores the marker, and a failure anywhere - a bad document in the
 * middle of a payload included - leaves the index as it was.
 *
 * Invariants kept here:
 *   - external_ids and documents map one to one, and document_count is the
 *     number of documents;
 *   - an internal id is handed out once (next_internal_id only grows, also
 *     across deletes and clears), so posting lists built later stay valid;
 *   - a replaced or merged document keeps its internal id;
 *   - the posting lists follow: the stored version of a replaced, merged or
 *     deleted document is removed from them and the new one added, in the
 *     same transaction (search_doc_changed, search_store.c), and so does the
 *     field distribution (fields_doc_changed, fields.c).
 * Operations never change their inputs: the runner may run them twice.
 */
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

struct add_args {
    const struct folio_index_payload *payload;
    enum folio_index_method method;
    const char *primary_key;
    uint64_t indexed;
};

static int
resolve_primary_key(struct wtxn *w, const char *requested, const json_t *first,
                    struct folio_index_error *err)
{
    struct index_meta *m = &w->meta;
    if (m->has_primary_key) {
        if (requested != NULL && strcmp(requested, m->primary_key) != 0)
            return index_errorf(err, FOLIO_E_PRIMARY_KEY_ALREADY_PRESENT,
                                "Index already has a primary key: `%.400s`.", m->primary_key);
        return FOLIO_OK;
    }
    int rc;
    if (requested != NULL) {
        rc = docid_check_primary_key(requested, err);
        if (rc == FOLIO_OK)
            snprintf(m->primary_key, sizeof(m->primary_key), "%s", requested);
    } else {
        rc = docid_infer_primary_key(first, m->primary_key, sizeof(m->primary_key), err);
    }
    if (rc == FOLIO_OK)
        m->has_primary_key = true;
    return rc;
}

/* The stored document with internal id key, parsed (a copy out of the txn). */
static int
document_load(struct wtxn *w, MDB_val *key, json_t **out)
{
    MDB_val v;
    int rc = mdb_get(w->txn, w->idx->dbi_documents, key, &v);
    if (rc == MDB_NOTFOUND)
        return index_errorf(w->err, FOLIO_E_CORRUPT, "A document id maps to no document.");
    if (rc != 0)
        return index_mdb_error(w->err, rc, "reading a document");
    json_error_t jerr;
    *out = json_in_load(v.mv_data, v.mv_size, 0, &jerr);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return index_errorf(w->err, FOLIO_E_CORRUPT, "A stored document is not a JSON object.");
    }
    return FOLIO_OK;
}

/* Finds the internal id of an external id: 1 found, 0 absent, or an error. */
static int
external_id_find(struct wtxn *w, const char *id, size_t id_len, uint8_t iid[4])
{
    MDB_val k = {id_len, (void *)id};
    MDB_val v;
    int rc = mdb_get(w->txn, w->idx->dbi_external_ids, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return index_mdb_error(w->err, rc, "looking up a document id");
    if (v.mv_size != 4)
        return index_errorf(w->err, FOLIO_E_CORRUPT, "A document id maps to %zu bytes.",
                            v.mv_size);
    memcpy(iid, v.mv_data, 4);
    return 1;
}

static int
document_store(struct wtxn *w, const uint8_t iid[4], const json_t *doc)
{
    char *text = NULL;
    size_t len = 0;
    if (json_out_alloc(doc, FOLIO_INDEX_DOC_BYTES_MAX, &text, &len) != FOLIO_OK) {
        char shown[200];
        json_snippet(doc, shown, sizeof(shown));
        return index_errorf(w->err, FOLIO_E_MALFORMED_PAYLOAD,
                            "A document is larger than %u bytes: `%s`.",
                            FOLIO_INDEX_DOC_BYTES_MAX, shown);
    }
    MDB_val k = {4, (void *)iid};
    MDB_val v = {len, text};
    int rc = mdb_put(w->txn, w->idx->dbi_documents, &k, &v, 0);
    folio_free(text);
    if (rc != 0)
        return index_mdb_error(w->err, rc, "writing a document");
    return FOLIO_OK;
}

static int
add_one(struct wtxn *w, enum folio_index_method method, const json_t *doc)
{
    char id[FOLIO_INDEX_ID_BYTES_MAX + 1];
    size_t id_len = 0;
    uint8_t iid[4];
    json_t *merged = NULL;
    int rc = docid_extract(doc, w->meta.primary_key, id, &id_len, w->err);
    if (rc != FOLIO_OK)
        return rc;
    /*
     * One lookup: the id is stored with the next internal id unless it is
     * there already, and then LMDB hands back the one it has (a new id
     * counts below, after the checks of the found case that may fail).
     */
    int found;
    bool stored_new = false;
    if (w->meta.next_internal_id < INDEX_INTERNAL_IDS_MAX) {
        index_iid_encode((uint32_t)w->meta.next_internal_id, iid);
        MDB_val k = {id_len, id};
        MDB_val v = {4, iid};
        int mrc = mdb_put(w->txn, w->idx->dbi_external_ids, &k, &v, MDB_NOOVERWRITE);
        if (mrc == 0) {
            found = 0;
            stored_new = true;
        } else if (mrc == MDB_KEYEXIST) {
            if (v.mv_size != 4)
                return index_errorf(w->err, FOLIO_E_CORRUPT, "A document id maps to %zu bytes.",
                                    v.mv_size);
            memcpy(iid, v.mv_data, 4);
            found = 1;
        } else {
            return index_mdb_error(w->err, mrc, "writing a document id");
        }
    } else {
        found = external_id_find(w, id, id_len, iid);
        if (found < 0)
            return found;
    }
    if (found) {
        /* The stored version leaves the posting lists; the new one enters below. */
        MDB_val k = {4, iid};
        rc = document_load(w, &k, &merged);
        if (rc == FOLIO_OK)
            rc = search_doc_changed(w, iid, merged, false);
        if (rc == FOLIO_OK)
            rc = fields_doc_changed(w, merged, false);
        if (rc != FOLIO_OK || method == FOLIO_INDEX_REPLACE) {
            json_decref(merged);
            merged = NULL;
        }
        if (rc != FOLIO_OK)
            return rc;
    }
    if (found && method == FOLIO_INDEX_UPDATE) {
        json_object_update(merged, (json_t *)doc);
        doc = merged;
        /* A merge must not give the document a second (or another) id. */
        char merged_id[FOLIO_INDEX_ID_BYTES_MAX + 1];
        size_t merged_len = 0;
        rc = docid_extract(merged, w->meta.primary_key, merged_id, &merged_len, w->err);
        if (rc == FOLIO_OK && (merged_len != id_len || memcmp(merged_id, id, id_len) != 0))
            rc = index_errorf(w->err, FOLIO_E_INVALID_DOCUMENT_ID,
                              "Updating document `%s` would change its identifier.", id);
        if (rc != FOLIO_OK) {
            json_decref(merged);
            return rc;
        }
    }
    if (!found) {
        if (!stored_new)
            return index_errorf(w->err, FOLIO_E_TOO_LARGE,
                                "The index has used all 2^32 internal document ids.");
        w->meta.next_internal_id++;
        w->meta.document_count++;
    }
    rc = document_store(w, iid, doc);
    if (rc == FOLIO_OK)
        rc = search_doc_changed(w, iid, doc, true);
    if (rc == FOLIO_OK)
        rc = fields_doc_changed(w, doc, true);
    json_decref(merged);
    return rc;
}

static int
add_op(struct wtxn *w, void *argp)
{
    struct add_args *a = argp;
    struct payload_reader r;
    json_t *doc = NULL;
    a->indexed = 0;
    int rc = payload_reader_open(&r, a->payload, w->err);
    if (rc != FOLIO_OK)
        goto out;
    rc = payload_reader_next(&r, &doc, w->err);
    if (rc < 0)
        goto out;
    rc = resolve_primary_key(w, a->primary_key, doc, w->err);
    while (rc == FOLIO_OK && doc != NULL) {
        rc = write_stop_check(w);
        if (rc == FOLIO_OK)
            rc = add_one(w, a->method, doc);
        json_decref(doc);
        doc = NULL;
        if (rc != FOLIO_OK)
            break;
        a->indexed++;
        rc = payload_reader_next(&r, &doc, w->err);
        if (rc > 0)
            rc = FOLIO_OK;
    }
out:
    json_decref(doc);
    payload_reader_close(&r);
    return rc < 0 ? rc : FOLIO_OK;
}

int
folio_index_documents_add(struct folio_index *idx, const struct folio_index_payload *payload,
                          enum folio_index_method method, const char *primary_key,
                          const struct folio_index_marker *marker, uint64_t *out_indexed,
                          struct folio_index_error *err)
{
    FOLIO_ASSERT(payload != NULL);
    FOLIO_ASSERT(method == FOLIO_INDEX_REPLACE || method == FOLIO_INDEX_UPDATE);
    struct add_args a = {.payload = payload, .method = method, .primary_key = primary_key};
    int rc = index_write(idx, add_op, &a, marker, WRITE_TOUCH | WRITE_DEFER_POSTINGS, err);
    if (rc == FOLIO_OK && out_indexed != NULL)
        *out_indexed = a.indexed;
    return rc;
}

struct delete_args {
    const char *const *ids;
    size_t count;
    uint64_t deleted;
};

int
write_document_remove(struct wtxn *w, const uint8_t iid[4], const char *id, size_t id_len)
{
    char found_id[FOLIO_INDEX_ID_BYTES_MAX + 1];
    MDB_val dk = {4, (void *)iid};
    json_t *old = NULL;
    int rc = document_load(w, &dk, &old);
    if (rc == FOLIO_OK && id == NULL) {
        rc = docid_extract(old, w->meta.primary_key, found_id, &id_len, w->err);
        if (rc != FOLIO_OK)
            rc = index_errorf(w->err, FOLIO_E_CORRUPT, "A stored document has no valid id.");
        id = found_id;
    }
    if (rc == FOLIO_OK)
        rc = search_doc_changed(w, iid, old, false);
    if (rc == FOLIO_OK)
        rc = fields_doc_changed(w, old, false);
    json_decref(old);
    if (rc != FOLIO_OK)
        return rc;
    MDB_val ek = {id_len, (void *)id};
    rc = mdb_del(w->txn, w->idx->dbi_external_ids, &ek, NULL);
    if (rc == 0)
        rc = mdb_del(w->txn, w->idx->dbi_documents, &dk, NULL);
    if (rc == MDB_NOTFOUND)
        return index_errorf(w->err, FOLIO_E_CORRUPT, "A document id maps to no document.");
    if (rc != 0)
        return index_mdb_error(w->err, rc, "deleting a document");
    FOLIO_ASSERT(w->meta.document_count > 0);
    w->meta.document_count--;
    return FOLIO_OK;
}

static int
delete_op(struct wtxn *w, void *argp)
{
    struct delete_args *a = argp;
    a->deleted = 0;
    for (size_t i = 0; i < a->count; i++) {
        const char *id = a->ids[i];
        size_t id_len = strlen(id);
        uint8_t iid[4];
        if (!docid_valid(id, id_len))
            continue; /* it cannot be in the index */
        int found = external_id_find(w, id, id_len, iid);
        if (found < 0)
            return found;
        if (!found)
            continue;
        int rc = write_document_remove(w, iid, id, id_len);
        if (rc != FOLIO_OK)
            return rc;
        a->deleted++;
    }
    return FOLIO_OK;
}

int
folio_index_documents_delete(struct folio_index *idx, const char *const *ids, size_t count,
                             const struct folio_index_marker *marker, uint64_t *out_deleted,
                             struct folio_index_error *err)
{
    FOLIO_ASSERT(ids != NULL || count == 0);
    struct delete_args a = {.ids = ids, .count = count};
    int rc = index_write(idx, delete_op, &a, marker, WRITE_TOUCH | WRITE_DEFER_POSTINGS, err);
    if (rc == FOLIO_OK && out_deleted != NULL)
        *out_deleted = a.deleted;
    return rc;
}

static int
clear_op(struct wtxn *w, void *argp)
{
    uint64_t *deleted = argp;
    int rc = mdb_drop(w->txn, w->idx->dbi_documents, 0);
    if (rc == 0)
        rc = mdb_drop(w->txn, w->idx->dbi_external_ids, 0);
    if (rc != 0)
        return index_mdb_error(w->err, rc, "deleting all documents");
    rc = search_clear(w);
    if (rc == FOLIO_OK)
        rc = fields_clear(w);
    if (rc != FOLIO_OK)
        return rc;
    *deleted = w->meta.document_count;
    w->meta.document_count = 0; /* next_internal_id stays: ids are never reused */
    return FOLIO_OK;
}

int
folio_index_documents_clear(struct folio_index *idx, const struct folio_index_marker *marker,
                            uint64_t *out_deleted, struct folio_index_error *err)
{
    uint64_t deleted = 0;
    int rc = index_write(idx, clear_op, &deleted, marker, WRITE_TOUCH, err);
    if (rc == FOLIO_OK && out_deleted != NULL)
        *out_deleted = deleted;
    return rc;
}

static int
primary_key_op(struct wtxn *w, void *argp)
{
    const char *pk = argp;
    struct index_meta *m = &w->meta;
    if (m->has_primary_key && strcmp(m->primary_key, pk) == 0)
        return FOLIO_OK;
    if (m->document_count > 0)
        return index_errorf(w->err, FOLIO_E_PRIMARY_KEY_ALREADY_PRESENT,
                            "Index already has a primary key: `%.400s`.", m->primary_key);
    snprintf(m->primary_key, sizeof(m->primary_key), "%s", pk);
    m->has_primary_key = true;
    return FOLIO_OK;
}

int
folio_index_primary_key_set(struct folio_index *idx, const char *primary_key,
                            const struct folio_index_marker *marker,
                            struct folio_index_error *err)
{
    FOLIO_ASSERT(primary_key != NULL);
    int rc = docid_check_primary_key(primary_key, err);
    if (rc != FOLIO_OK)
        return rc;
    return index_write(idx, primary_key_op, (void *)primary_key, marker, WRITE_TOUCH, err);
}

static int
mark_op(struct wtxn *w, void *arg)
{
    return FOLIO_OK;
}

int
folio_index_mark(struct folio_index *idx, const struct folio_index_marker *marker,
                 struct folio_index_error *err)
{
    return index_write(idx, mark_op, NULL, marker, 0, err);
}
