/*
 * Task outcomes: opaque bytes a caller stores with the applied marker, so a
 * task found applied after a crash can be reported with the details or error
 * it ended with (DESIGN.md §6 "Exactly once"; docs/index-format.md,
 * "outcomes").
 *
 * Invariants kept here:
 *   - outcomes are written only by the write runner, in the transaction that
 *     stores the marker, so an outcome is in the env exactly when its marker
 *     write is;
 *   - the `outcomes` database holds only outcomes of the stored marker's
 *     batch_seq: a write with another batch_seq empties it first;
 *   - every value is 1 to FOLIO_INDEX_OUTCOME_BYTES_MAX bytes, checked before
 *     the write begins and again when read back.
 * An env written before outcomes existed has no `outcomes` database: read
 * there, it holds none; a read-write open creates it (open.c).
 */
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

static void
outcome_key_encode(uint64_t task_uid, uint8_t out[INDEX_OUTCOME_KEY_BYTES])
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(task_uid >> (56 - 8 * i));
}

static uint64_t
outcome_key_decode(const uint8_t in[INDEX_OUTCOME_KEY_BYTES])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

int
outcome_check(const struct folio_index_marker *marker, struct folio_index_error *err)
{
    FOLIO_ASSERT(marker != NULL);
    FOLIO_ASSERT(marker->outcome != NULL || marker->outcome_len == 0);
    if (marker->outcome_len > FOLIO_INDEX_OUTCOME_BYTES_MAX)
        return index_errorf(err, FOLIO_E_TOO_LARGE,
                            "The outcome of task %llu is %zu bytes long; at most %u are stored.",
                            (unsigned long long)marker->task_uid, marker->outcome_len,
                            FOLIO_INDEX_OUTCOME_BYTES_MAX);
    return FOLIO_OK;
}

int
outcome_dbi_open(MDB_txn *txn, struct folio_index *idx, bool create,
                 struct folio_index_error *err)
{
    int rc = mdb_dbi_open(txn, INDEX_DB_OUTCOMES, create ? MDB_CREATE : 0, &idx->dbi_outcomes);
    if (rc == MDB_NOTFOUND && !create) {
        idx->has_outcomes = false;
        return FOLIO_OK;
    }
    if (rc == MDB_INCOMPATIBLE)
        return index_errorf(err, FOLIO_E_CORRUPT, "The `%s` database is not a folio one.",
                            INDEX_DB_OUTCOMES);
    if (rc != 0)
        return index_mdb_error(err, rc, "opening the outcomes database");
    idx->has_outcomes = true;
    return FOLIO_OK;
}

/*
 * Called by the write runner after the operation succeeded and before the new
 * marker replaces w->meta.marker (the stored one).
 */
int
outcome_store(struct wtxn *w, const struct folio_index_marker *marker,
              struct folio_index_error *err)
{
    FOLIO_ASSERT(w->idx->has_outcomes);
    MDB_stat st;
    int rc = 0;
    if (w->meta.marker.batch_seq != marker->batch_seq) {
        /* Empties it and keeps the handle; an empty one is left untouched. */
        rc = mdb_stat(w->txn, w->idx->dbi_outcomes, &st);
        if (rc == 0 && st.ms_entries > 0)
            rc = mdb_drop(w->txn, w->idx->dbi_outcomes, 0);
    }
    if (rc == 0 && marker->outcome_len > 0) {
        FOLIO_ASSERT(marker->outcome_len <= FOLIO_INDEX_OUTCOME_BYTES_MAX);
        uint8_t key[INDEX_OUTCOME_KEY_BYTES];
        outcome_key_encode(marker->task_uid, key);
        MDB_val k = {sizeof(key), key};
        MDB_val v = {marker->outcome_len, (void *)marker->outcome};
        rc = mdb_put(w->txn, w->idx->dbi_outcomes, &k, &v, 0);
    }
    if (rc != 0)
        return index_mdb_error(err, rc, "storing the task outcome");
    return FOLIO_OK;
}

int
folio_index_outcome_get(struct folio_index *idx, uint64_t task_uid, uint8_t **out,
                        size_t *out_len, struct folio_index_error *err)
{
    MDB_txn *txn;
    uint8_t key[INDEX_OUTCOME_KEY_BYTES];
    MDB_val k = {sizeof(key), key}, v;
    *out = NULL;
    *out_len = 0;
    if (!idx->has_outcomes)
        return index_errorf(err, FOLIO_E_NOT_FOUND, "No outcome is stored for task %llu.",
                            (unsigned long long)task_uid);
    outcome_key_encode(task_uid, key);
    int rc = index_read_begin(idx, &txn, err);
    if (rc != FOLIO_OK)
        return rc;
    int mrc = mdb_get(txn, idx->dbi_outcomes, &k, &v);
    if (mrc == MDB_NOTFOUND)
        rc = index_errorf(err, FOLIO_E_NOT_FOUND, "No outcome is stored for task %llu.",
                          (unsigned long long)task_uid);
    else if (mrc != 0)
        rc = index_mdb_error(err, mrc, "reading a task outcome");
    else if (v.mv_size == 0 || v.mv_size > FOLIO_INDEX_OUTCOME_BYTES_MAX)
        rc = index_errorf(err, FOLIO_E_CORRUPT, "The outcome of task %llu is %zu bytes long.",
                          (unsigned long long)task_uid, v.mv_size);
    if (rc == FOLIO_OK) {
        /* Copied out: the LMDB value lives only as long as the transaction. */
        *out = folio_malloc(v.mv_size);
        memcpy(*out, v.mv_data, v.mv_size);
        *out_len = v.mv_size;
    }
    index_read_end(idx, txn);
    return rc;
}

static int
outcome_verify_one(const struct index_meta *meta, const MDB_val *k, const MDB_val *v,
                   struct folio_index_error *err)
{
    if (k->mv_size != INDEX_OUTCOME_KEY_BYTES)
        return index_errorf(err, FOLIO_E_CORRUPT, "An outcome key is %zu bytes long.",
                            k->mv_size);
    uint64_t task_uid = outcome_key_decode(k->mv_data);
    if (task_uid > meta->marker.task_uid)
        return index_errorf(err, FOLIO_E_CORRUPT,
                            "An outcome is stored for task %llu, after the marker's task %llu.",
                            (unsigned long long)task_uid,
                            (unsigned long long)meta->marker.task_uid);
    if (v->mv_size == 0 || v->mv_size > FOLIO_INDEX_OUTCOME_BYTES_MAX)
        return index_errorf(err, FOLIO_E_CORRUPT, "The outcome of task %llu is %zu bytes long.",
                            (unsigned long long)task_uid, v->mv_size);
    return FOLIO_OK;
}

int
outcome_verify(MDB_txn *txn, struct folio_index *idx, const struct index_meta *meta,
               struct folio_index_error *err)
{
    if (!idx->has_outcomes)
        return FOLIO_OK;
    MDB_cursor *cur;
    MDB_val k, v;
    int mrc = mdb_cursor_open(txn, idx->dbi_outcomes, &cur);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "verifying the outcomes");
    int rc = FOLIO_OK;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == FOLIO_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        rc = outcome_verify_one(meta, &k, &v, err);
    mdb_cursor_close(cur);
    if (rc == FOLIO_OK && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(err, mrc, "verifying the outcomes");
    return rc;
}
