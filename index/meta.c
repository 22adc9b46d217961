/*
 * The meta database: format version, primary key, settings, counters, times
 * and the applied-task marker, each under its own string key
 * (docs/index-format.md). Numbers are little-endian; every value read is
 * checked for its exact length and copied out of the transaction before it
 * is used, so nothing here points into the LMDB map after the call.
 */
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

void
index_iid_encode(uint32_t iid, uint8_t out[4])
{
    out[0] = (uint8_t)(iid >> 24);
    out[1] = (uint8_t)(iid >> 16);
    out[2] = (uint8_t)(iid >> 8);
    out[3] = (uint8_t)iid;
}

uint32_t
index_iid_decode(const uint8_t in[4])
{
    return ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) | in[3];
}

static int
meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *data, size_t len,
         struct folio_index_error *err)
{
    MDB_val k = {strlen(key), (void *)key};
    MDB_val v = {len, (void *)data};
    int rc = mdb_put(txn, dbi, &k, &v, 0);
    if (rc != 0)
        return index_mdb_error(err, rc, "writing index metadata");
    return FOLIO_OK;
}

/* Copies the value of key into buf, which must be exactly len bytes long. */
static int
meta_get_exact(MDB_txn *txn, MDB_dbi dbi, const char *key, void *buf, size_t len,
               struct folio_index_error *err)
{
    MDB_val k = {strlen(key), (void *)key};
    MDB_val v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return index_errorf(err, FOLIO_E_CORRUPT, "Index metadata `%s` is missing.", key);
    if (rc != 0)
        return index_mdb_error(err, rc, "reading index metadata");
    if (v.mv_size != len)
        return index_errorf(err, FOLIO_E_CORRUPT,
                            "Index metadata `%s` is %zu bytes long instead of %zu.", key,
                            v.mv_size, len);
    memcpy(buf, v.mv_data, len);
    return FOLIO_OK;
}

static int
meta_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *out,
             struct folio_index_error *err)
{
    uint8_t b[8];
    int rc = meta_get_exact(txn, dbi, key, b, sizeof(b), err);
    if (rc == FOLIO_OK)
        *out = folio_load_le64(b);
    return rc;
}


static int
meta_load_primary_key(MDB_txn *txn, MDB_dbi dbi, struct index_meta *m,
                      struct folio_index_error *err)
{
    MDB_val k = {strlen(META_PRIMARY_KEY), (void *)META_PRIMARY_KEY};
    MDB_val v;
    int rc = mdb_get(txn, dbi, &k, &v);
    m->has_primary_key = false;
    m->primary_key[0] = '\0';
    if (rc == MDB_NOTFOUND)
        return FOLIO_OK;
    if (rc != 0)
        return index_mdb_error(err, rc, "reading the primary key");
    if (v.mv_size == 0 || v.mv_size > FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX ||
        memchr(v.mv_data, '\0', v.mv_size) != NULL)
        return index_errorf(err, FOLIO_E_CORRUPT, "The stored primary key is invalid.");
    memcpy(m->primary_key, v.mv_data, v.mv_size);
    m->primary_key[v.mv_size] = '\0';
    m->has_primary_key = true;
    return FOLIO_OK;
}

int
meta_load(MDB_txn *txn, MDB_dbi dbi, struct index_meta *m, struct folio_index_error *err)
{
    memset(m, 0, sizeof(*m));
    uint64_t created = 0, updated = 0;
    uint8_t marker[INDEX_MARKER_BYTES];
    int rc = meta_load_primary_key(txn, dbi, m, err);
    if (rc == FOLIO_OK)
        rc = meta_get_u64(txn, dbi, META_DOCUMENT_COUNT, &m->document_count, err);
    if (rc == FOLIO_OK)
        rc = meta_get_u64(txn, dbi, META_NEXT_INTERNAL_ID, &m->next_internal_id, err);
    if (rc == FOLIO_OK)
        rc = meta_get_u64(txn, dbi, META_CREATED_AT, &created, err);
    if (rc == FOLIO_OK)
        rc = meta_get_u64(txn, dbi, META_UPDATED_AT, &updated, err);
    if (rc == FOLIO_OK)
        rc = meta_get_exact(txn, dbi, META_APPLIED_MARKER, marker, sizeof(marker), err);
    if (rc != FOLIO_OK)
        return rc;
    if (m->next_internal_id > INDEX_INTERNAL_IDS_MAX || m->document_count > m->next_internal_id)
        return index_errorf(err, FOLIO_E_CORRUPT,
                            "Index counters are inconsistent: %llu documents, next id %llu.",
                            (unsigned long long)m->document_count,
                            (unsigned long long)m->next_internal_id);
    m->created_at_ns = (int64_t)created;
    m->updated_at_ns = (int64_t)updated;
    m->marker.task_uid = folio_load_le64(marker);
    m->marker.batch_seq = folio_load_le64(marker + 8);
    return FOLIO_OK;
}

/*
 * Stores key's value through cur (a cursor on meta) unless it holds it
 * already: most of the record does not change from one write to the next,
 * and a value of the same length is overwritten where it is.
 */
static int
meta_cursor_put(MDB_cursor *cur, const char *key, const void *data, size_t len,
                struct folio_index_error *err)
{
    MDB_val k = {strlen(key), (void *)key};
    MDB_val v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
    if (rc == 0 && v.mv_size == len && memcmp(v.mv_data, data, len) == 0)
        return FOLIO_OK;
    unsigned flags = rc == 0 && v.mv_size == len ? MDB_CURRENT : 0;
    if (rc == 0 || rc == MDB_NOTFOUND) {
        v = (MDB_val){len, (void *)data};
        rc = mdb_cursor_put(cur, &k, &v, flags);
    }
    if (rc != 0)
        return index_mdb_error(err, rc, "writing index metadata");
    return FOLIO_OK;
}

static int
meta_cursor_put_u64(MDB_cursor *cur, const char *key, uint64_t value,
                    struct folio_index_error *err)
{
    uint8_t b[8];
    folio_store_le64(b, value);
    return meta_cursor_put(cur, key, b, sizeof(b), err);
}

int
meta_store(MDB_txn *txn, MDB_dbi dbi, const struct index_meta *m, struct folio_index_error *err)
{
    FOLIO_ASSERT(m->document_count <= m->next_internal_id);
    FOLIO_ASSERT(m->next_internal_id <= INDEX_INTERNAL_IDS_MAX);
    uint8_t marker[INDEX_MARKER_BYTES];
    folio_store_le64(marker, m->marker.task_uid);
    folio_store_le64(marker + 8, m->marker.batch_seq);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return index_mdb_error(err, rc, "writing index metadata");
    if (m->has_primary_key)
        rc = meta_cursor_put(cur, META_PRIMARY_KEY, m->primary_key, strlen(m->primary_key), err);
    if (rc == FOLIO_OK)
        rc = meta_cursor_put_u64(cur, META_DOCUMENT_COUNT, m->document_count, err);
    if (rc == FOLIO_OK)
        rc = meta_cursor_put_u64(cur, META_NEXT_INTERNAL_ID, m->next_internal_id, err);
    if (rc == FOLIO_OK)
        rc = meta_cursor_put_u64(cur, META_CREATED_AT, (uint64_t)m->created_at_ns, err);
    if (rc == FOLIO_OK)
        rc = meta_cursor_put_u64(cur, META_UPDATED_AT, (uint64_t)m->updated_at_ns, err);
    if (rc == FOLIO_OK)
        rc = meta_cursor_put(cur, META_APPLIED_MARKER, marker, sizeof(marker), err);
    mdb_cursor_close(cur);
    return rc;
}

int
meta_put_format(MDB_txn *txn, MDB_dbi dbi, struct folio_index_error *err)
{
    uint8_t b[4];
    folio_store_le32(b, INDEX_FORMAT_VERSION);
    return meta_put(txn, dbi, META_FORMAT_VERSION, b, sizeof(b), err);
}

/* Accepts the current version and formats 1 and 2 (which open.c upgrades). */
int
meta_check_format(MDB_txn *txn, MDB_dbi dbi, uint32_t *version, struct folio_index_error *err)
{
    _Static_assert(INDEX_FORMAT_VERSION_NO_SEARCH + 1 == INDEX_FORMAT_VERSION_NO_FIELDS &&
                       INDEX_FORMAT_VERSION_NO_FIELDS + 1 == INDEX_FORMAT_VERSION,
                   "the versions read are a range");
    uint8_t b[4];
    int rc = meta_get_exact(txn, dbi, META_FORMAT_VERSION, b, sizeof(b), err);
    if (rc != FOLIO_OK)
        return rc;
    *version = folio_load_le32(b);
    if (*version < INDEX_FORMAT_VERSION_NO_SEARCH || *version > INDEX_FORMAT_VERSION)
        return index_errorf(err, FOLIO_E_VERSION,
                            "Index format version %u is not supported (this build reads %u to "
                            "%u).",
                            *version, INDEX_FORMAT_VERSION_NO_SEARCH, INDEX_FORMAT_VERSION);
    return FOLIO_OK;
}

int
meta_settings_load(MDB_txn *txn, MDB_dbi dbi, json_t **out, struct folio_index_error *err)
{
    MDB_val k = {strlen(META_SETTINGS), (void *)META_SETTINGS};
    MDB_val v;
    *out = NULL;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *out = json_object();
        return FOLIO_OK;
    }
    if (rc != 0)
        return index_mdb_error(err, rc, "reading the settings");
    json_error_t jerr;
    /* json_loadb copies what it parses: nothing points into the map afterwards. */
    json_t *j = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return index_errorf(err, FOLIO_E_CORRUPT, "The stored settings are not a JSON object.");
    }
    *out = j;
    return FOLIO_OK;
}

int
meta_settings_store(MDB_txn *txn, MDB_dbi dbi, const json_t *overrides,
                    struct folio_index_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = json_out_alloc(overrides, INDEX_SETTINGS_BYTES_MAX, &text, &len);
    if (rc != FOLIO_OK)
        return index_errorf(err, FOLIO_E_INVALID_SETTINGS, "The settings are too large.");
    rc = meta_put(txn, dbi, META_SETTINGS, text, len, err);
    folio_free(text);
    return rc;
}
