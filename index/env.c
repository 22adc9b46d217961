/*
 * The LMDB environment of one index: create, open, close, and the two ways
 * in: the write runner (one write transaction per call, map growth and
 * retry) and read transactions (counted by the gate).
 *
 * Invariants kept here:
 *   - every write stores the caller's marker, its outcome (outcome.c), the
 *     meta counters and the posting lists of the documents it changed
 *     (search_store.c) in the same transaction as its changes (index_write),
 *     or stores nothing;
 *   - mdb_env_set_mapsize runs only with no transaction of this process
 *     active: the writer holds write_mu and has aborted its own transaction,
 *     and the gate is closed with no reader inside (see index_int.h);
 *   - MDB_MAP_FULL never reaches a caller: the map doubles (up to
 *     map_bytes_max) and the whole operation runs again from the start, so
 *     an operation must not change its inputs.
 */
#include <string.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

void
folio_index_options_default(struct folio_index_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->map_bytes_initial = INDEX_MAP_BYTES_DEFAULT;
    opts->map_bytes_max = INDEX_MAP_BYTES_MAX_DEFAULT;
}

int
index_options_normalise(const struct folio_index_options *in, struct folio_index_options *out,
                  struct folio_index_error *err)
{
    folio_index_options_default(out);
    if (in != NULL)
        *out = *in;
    if (out->map_bytes_initial == 0)
        out->map_bytes_initial = INDEX_MAP_BYTES_DEFAULT;
    if (out->map_bytes_max == 0)
        out->map_bytes_max = INDEX_MAP_BYTES_MAX_DEFAULT;
    out->map_bytes_initial = FOLIO_ALIGN_UP(out->map_bytes_initial, (uint64_t)4096);
    out->map_bytes_max = FOLIO_ALIGN_UP(out->map_bytes_max, (uint64_t)4096);
    if (out->map_bytes_initial < INDEX_MAP_BYTES_MIN ||
        out->map_bytes_max < out->map_bytes_initial || out->map_bytes_max > ((uint64_t)1 << 46))
        return index_errorf(err, FOLIO_E_INVALID,
                            "Invalid index map sizes: initial %llu, maximum %llu bytes.",
                            (unsigned long long)out->map_bytes_initial,
                            (unsigned long long)out->map_bytes_max);
    if (out->no_lock && !out->read_only)
        return index_errorf(err, FOLIO_E_INVALID, "no_lock is only allowed with read_only.");
    return FOLIO_OK;
}

/* ---- the gate ------------------------------------------------------------ */

void
index_gate_enter(struct index_gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (g->closed)
        pthread_cond_wait(&g->cv, &g->mu);
    g->readers++;
    pthread_mutex_unlock(&g->mu);
}

void
index_gate_leave(struct index_gate *g)
{
    pthread_mutex_lock(&g->mu);
    FOLIO_ASSERT(g->readers > 0);
    if (--g->readers == 0)
        pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Caller holds write_mu. Returns with no reader inside and none let in. */
static void
gate_close(struct index_gate *g)
{
    pthread_mutex_lock(&g->mu);
    FOLIO_ASSERT(!g->closed);
    g->closed = true;
    while (g->readers > 0)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void
gate_open(struct index_gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->closed = false;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/*
 * Sets the map size (0: adopt the size another process committed). Caller
 * holds write_mu and has no transaction open.
 */
static int
map_resize(struct folio_index *idx, uint64_t bytes, struct folio_index_error *err)
{
    gate_close(&idx->gate);
    int rc = mdb_env_set_mapsize(idx->env, (size_t)bytes);
    MDB_envinfo info;
    if (mdb_env_info(idx->env, &info) == 0)
        idx->map_bytes = info.me_mapsize;
    gate_open(&idx->gate);
    if (rc != 0)
        return index_mdb_error(err, rc, "resizing the index map");
    return FOLIO_OK;
}

static int
map_grow(struct folio_index *idx, struct folio_index_error *err)
{
    uint64_t max = idx->opts.map_bytes_max;
    if (idx->map_bytes >= max)
        return index_errorf(err, FOLIO_E_MAP_FULL_MAX,
                            "Maximum database size has been reached: the index is limited to "
                            "%llu bytes.",
                            (unsigned long long)max);
    uint64_t next = idx->map_bytes * 2;
    if (next > max || next < idx->map_bytes)
        next = max;
    return map_resize(idx, next, err);
}

/* ---- transactions -------------------------------------------------------- */

int
index_read_begin(struct folio_index *idx, MDB_txn **txn, struct folio_index_error *err)
{
    for (int attempt = 0;; attempt++) {
        index_gate_enter(&idx->gate);
        int rc = mdb_txn_begin(idx->env, NULL, MDB_RDONLY, txn);
        if (rc == 0)
            return FOLIO_OK;
        index_gate_leave(&idx->gate);
        if (rc != MDB_MAP_RESIZED || attempt >= 8)
            return index_mdb_error(err, rc, "beginning a read transaction");
        /* Another process grew the map: adopt its size, as a writer would. */
        pthread_mutex_lock(&idx->write_mu);
        int grc = map_resize(idx, 0, err);
        pthread_mutex_unlock(&idx->write_mu);
        if (grc != FOLIO_OK)
            return grc;
    }
}

void
index_read_end(struct folio_index *idx, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    index_gate_leave(&idx->gate);
}

/* One attempt: begin, run fn, store meta, commit. INDEX_E_MAP_FULL means retry. */
static int
write_attempt(struct folio_index *idx, index_write_fn fn, void *arg,
              const struct folio_index_marker *marker, unsigned flags,
              struct folio_index_error *err)
{
    struct wtxn w = {.idx = idx, .err = err};
    int rc = mdb_txn_begin(idx->env, NULL, 0, &w.txn);
    if (rc == MDB_MAP_RESIZED) {
        rc = map_resize(idx, 0, err);
        return rc == FOLIO_OK ? INDEX_E_RETRY : rc;
    }
    if (rc != 0)
        return index_mdb_error(err, rc, "beginning a write transaction");
    int64_t now = folio_clock_now_ns();
    if (flags & WRITE_FRESH) {
        /* A new env: fn opens the databases, then the meta record is whole. */
        w.meta.created_at_ns = now;
        w.meta.updated_at_ns = now;
        rc = fn(&w, arg);
        if (rc == FOLIO_OK)
            rc = meta_put_format(w.txn, idx->dbi_meta, err);
    } else {
        rc = meta_load(w.txn, idx->dbi_meta, &w.meta, err);
        if (rc == FOLIO_OK)
            rc = fn(&w, arg);
    }
    if (rc == FOLIO_OK)
        rc = search_write_finish(&w); /* the posting lists of what fn changed */
    search_write_discard(&w);
    bool keep = (flags & WRITE_KEEP_MARKER) != 0;
    if (rc == FOLIO_OK && !keep)
        rc = outcome_store(&w, marker, err); /* before the stored marker is replaced */
    if (rc == FOLIO_OK) {
        /* Only the two numbers go to meta; the outcome went to `outcomes`. */
        if (!keep) {
            w.meta.marker.task_uid = marker->task_uid;
            w.meta.marker.batch_seq = marker->batch_seq;
        }
        if (flags & WRITE_TOUCH)
            w.meta.updated_at_ns = now;
        rc = meta_store(w.txn, idx->dbi_meta, &w.meta, err);
    }
    if (rc != FOLIO_OK) {
        mdb_txn_abort(w.txn);
        return rc;
    }
    rc = mdb_txn_commit(w.txn); /* frees the txn, also when it fails */
    if (rc != 0)
        return index_mdb_error(err, rc, "committing");
    return FOLIO_OK;
}

int
index_write(struct folio_index *idx, index_write_fn fn, void *arg,
            const struct folio_index_marker *marker, unsigned flags,
            struct folio_index_error *err)
{
    int rc = outcome_check(marker, err);
    if (rc != FOLIO_OK)
        return rc;
    if (idx->opts.read_only)
        return index_errorf(err, FOLIO_E_INVALID, "The index is open read-only.");
    pthread_mutex_lock(&idx->write_mu);
    for (;;) {
        rc = write_attempt(idx, fn, arg, marker, flags, err);
        if (rc == INDEX_E_RETRY)
            continue;
        if (rc != INDEX_E_MAP_FULL)
            break;
        rc = map_grow(idx, err);
        if (rc != FOLIO_OK)
            break;
    }
    pthread_mutex_unlock(&idx->write_mu);
    FOLIO_ASSERT(rc != INDEX_E_MAP_FULL && rc != INDEX_E_RETRY);
    return rc;
}
