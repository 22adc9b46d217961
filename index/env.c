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
 *
 * Batches (folio_index_batch_begin). The calling thread holds write_mu from
 * begin to commit or abort and keeps one parent write transaction open; each
 * write runs exactly as above but in a nested transaction of the parent, so a
 * failing write aborts only its own changes. The parent is committed (one
 * durable LMDB commit) only by folio_index_batch_commit: there is no durable
 * state between the batch's begin and its commit. The map cannot grow while
 * the parent is open, so a nested write that meets MDB_MAP_FULL (or one too
 * large for what the parent already holds) rolls the batch back instead: the
 * parent is aborted, the map grows, the batch is "lost" (its later calls and
 * its commit fail with FOLIO_E_AGAIN) and the caller runs its writes again
 * in a new batch, or one per batch. A parent that holds nothing yet is simply
 * begun again after the growth. A commit that fails for want of map space is
 * a rollback too (the map grows, FOLIO_E_AGAIN).
 * Reads by the batch's thread (index_read_begin) use the parent, so they see
 * the batch's own writes; other threads read committed states only. Which
 * handle the calling thread batches on is thread-local (tl_batch), so the
 * check needs no lock; one thread has at most one batch open.
 */
#include <string.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"
#include "search_int.h"

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

/* The handle this thread has a batch open on, or NULL. */
static _Thread_local struct folio_index *tl_batch;

static bool
batch_mine(const struct folio_index *idx)
{
    return tl_batch == idx;
}

bool
index_txn_is_batch(const struct folio_index *idx, const MDB_txn *txn)
{
    return batch_mine(idx) && idx->batch_txn != NULL && idx->batch_txn == txn;
}

static int batch_postings_apply(struct folio_index *idx, struct folio_index_error *err);

int
index_read_begin(struct folio_index *idx, MDB_txn **txn, struct folio_index_error *err)
{
    if (batch_mine(idx)) {
        /* The batch's own thread reads what the batch wrote (write_mu is ours). */
        if (idx->batch_txn != NULL) {
            int rc = batch_postings_apply(idx, err);
            if (rc != FOLIO_OK)
                return rc;
            *txn = idx->batch_txn;
            return FOLIO_OK;
        }
    }
    for (int attempt = 0;; attempt++) {
        index_gate_enter(&idx->gate);
        int rc = mdb_txn_begin(idx->env, NULL, MDB_RDONLY, txn);
        if (rc == 0)
            return FOLIO_OK;
        index_gate_leave(&idx->gate);
        if (rc != MDB_MAP_RESIZED || attempt >= 8)
            return index_mdb_error(err, rc, "beginning a read transaction");
        /* Another process grew the map: adopt its size, as a writer would. */
        bool mine = batch_mine(idx); /* then write_mu is already ours */
        if (!mine)
            pthread_mutex_lock(&idx->write_mu);
        int grc = map_resize(idx, 0, err);
        if (!mine)
            pthread_mutex_unlock(&idx->write_mu);
        if (grc != FOLIO_OK)
            return grc;
    }
}

void
index_read_end(struct folio_index *idx, MDB_txn *txn)
{
    if (index_txn_is_batch(idx, txn))
        return; /* the batch's parent: it lives on */
    mdb_txn_abort(txn);
    index_gate_leave(&idx->gate);
}

/*
 * One attempt: begin (nested in parent when not NULL), run fn, store meta,
 * commit. INDEX_E_MAP_FULL means retry.
 */
static int
write_attempt(struct folio_index *idx, MDB_txn *parent, index_write_fn fn, void *arg,
              const struct folio_index_marker *marker, unsigned flags,
              struct folio_index_error *err)
{
    struct wtxn w = {.idx = idx, .err = err};
    w.defer = parent != NULL && (flags & WRITE_DEFER_POSTINGS);
    int rc = mdb_txn_begin(idx->env, parent, 0, &w.txn);
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
    struct postings *deferred = NULL;
    if (rc == FOLIO_OK && w.defer)
        rc = search_write_defer(&w, &deferred); /* merged into the batch's set below */
    else if (rc == FOLIO_OK)
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
        postings_free(deferred);
        return rc;
    }
    rc = mdb_txn_commit(w.txn); /* frees the txn, also when it fails; nested: into parent */
    if (rc != 0) {
        postings_free(deferred);
        return index_mdb_error(err, rc, "committing");
    }
    if (w.batch_in_txn)
        search_batch_discard(idx); /* the batch's set went into the parent with this write */
    search_batch_merge(idx, deferred); /* only now: its changes are in the parent */
    return FOLIO_OK;
}

/*
 * Headroom for a parent (write_mu held, no transaction open): when the
 * committed pages fill more than half the map, it grows now, while it still
 * can, so that a parent rarely meets the end of the map. Best effort: at
 * map_bytes_max it stays.
 */
static void
batch_headroom(struct folio_index *idx)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(idx->env, &info) != 0 || mdb_env_stat(idx->env, &st) != 0)
        return;
    uint64_t used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    struct folio_index_error ignored;
    if (used > idx->map_bytes / 2 && idx->map_bytes < idx->opts.map_bytes_max)
        (void)map_grow(idx, &ignored);
}

/* The write runner without a batch; write_mu held. */
static int
index_write_locked(struct folio_index *idx, index_write_fn fn, void *arg,
                   const struct folio_index_marker *marker, unsigned flags,
                   struct folio_index_error *err)
{
    for (;;) {
        int rc = write_attempt(idx, NULL, fn, arg, marker, flags, err);
        if (rc == INDEX_E_RETRY)
            continue;
        if (rc != INDEX_E_MAP_FULL)
            return rc;
        rc = map_grow(idx, err);
        if (rc != FOLIO_OK)
            return rc;
    }
}

/* Begins the batch's parent transaction (write_mu held, none open). */
static int
batch_parent_begin(struct folio_index *idx, struct folio_index_error *err)
{
    FOLIO_ASSERT(idx->batch_txn == NULL);
    batch_headroom(idx);
    for (int attempt = 0;; attempt++) {
        int rc = mdb_txn_begin(idx->env, NULL, 0, &idx->batch_txn);
        if (rc == 0) {
            idx->batch_dirty = false;
            return FOLIO_OK;
        }
        idx->batch_txn = NULL;
        if (rc != MDB_MAP_RESIZED || attempt >= 8)
            return index_mdb_error(err, rc, "beginning a write transaction");
        rc = map_resize(idx, 0, err);
        if (rc != FOLIO_OK)
            return rc;
    }
}

/* Rolls the batch back (write_mu held): every later call of it fails. */
static void
batch_rollback(struct folio_index *idx)
{
    if (idx->batch_txn != NULL)
        mdb_txn_abort(idx->batch_txn);
    idx->batch_txn = NULL;
    idx->batch_dirty = false;
    idx->batch_lost = true;
    search_batch_discard(idx);
}

/*
 * Applies the posting lists the batch's document writes deferred to the
 * parent (no nested transaction open). A failure rolls the batch back: the
 * parent may hold part of the lists. Out of map space (or too much for one
 * transaction), the map grows where it can and the caller gets FOLIO_E_AGAIN,
 * as for a failed commit, and runs the writes again.
 */
static int
batch_postings_apply(struct folio_index *idx, struct folio_index_error *err)
{
    if (idx->batch_postings == NULL)
        return FOLIO_OK;
    FOLIO_ASSERT(idx->batch_txn != NULL);
    int rc = search_batch_flush(idx, idx->batch_txn, err);
    if (rc == FOLIO_OK)
        return FOLIO_OK;
    batch_rollback(idx);
    if (rc != INDEX_E_MAP_FULL && rc != FOLIO_E_TOO_LARGE)
        return rc;
    if (rc == INDEX_E_MAP_FULL) {
        rc = map_grow(idx, err);
        if (rc != FOLIO_OK)
            return rc;
    }
    return index_errorf(err, FOLIO_E_AGAIN,
                        "The batch was rolled back: its posting lists did not fit; run its "
                        "writes again.");
}

/* Commits the parent, if any: the one durable commit. No parent is left open. */
static int
batch_parent_commit(struct folio_index *idx, struct folio_index_error *err)
{
    int prc = batch_postings_apply(idx, err);
    if (prc != FOLIO_OK)
        return prc;
    MDB_txn *txn = idx->batch_txn;
    idx->batch_txn = NULL;
    if (txn == NULL)
        return FOLIO_OK;
    if (!idx->batch_dirty) {
        mdb_txn_abort(txn); /* nothing to make durable */
        return FOLIO_OK;
    }
    idx->batch_dirty = false;
    int rc = mdb_txn_commit(txn);
    if (rc == 0)
        return FOLIO_OK;
    /* The batch's writes are gone: rolled back. Out of map space: grow for the next run. */
    idx->batch_lost = true;
    rc = index_mdb_error(err, rc, "committing a batch");
    if (rc == INDEX_E_MAP_FULL) {
        rc = map_grow(idx, err);
        if (rc == FOLIO_OK)
            rc = index_errorf(err, FOLIO_E_AGAIN,
                              "The index map was full when a batch committed: the batch was "
                              "rolled back and the map has grown.");
    }
    return rc;
}

/* index_write inside a batch: a nested transaction of the parent. */
static int
batch_write(struct folio_index *idx, index_write_fn fn, void *arg,
            const struct folio_index_marker *marker, unsigned flags,
            struct folio_index_error *err)
{
    FOLIO_ASSERT((flags & WRITE_FRESH) == 0);
    for (;;) {
        if (idx->batch_lost)
            return index_errorf(err, FOLIO_E_AGAIN,
                                "The batch was rolled back; nothing is written.");
        int rc = FOLIO_OK;
        if (idx->batch_txn == NULL)
            rc = batch_parent_begin(idx, err);
        else if (!(flags & WRITE_DEFER_POSTINGS) || (flags & WRITE_READS_POSTINGS))
            rc = batch_postings_apply(idx, err); /* it may read, rebuild or drop the lists */
        if (rc != FOLIO_OK)
            return rc;
        rc = write_attempt(idx, idx->batch_txn, fn, arg, marker, flags, err);
        if (rc == FOLIO_OK) {
            idx->batch_dirty = true;
            return search_batch_full(idx) ? batch_postings_apply(idx, err) : FOLIO_OK;
        }
        bool full = rc == INDEX_E_MAP_FULL;
        if (!full && !(rc == FOLIO_E_TOO_LARGE && idx->batch_dirty))
            return rc; /* the write failed alone: the parent is as before it */
        if (full && idx->map_bytes >= idx->opts.map_bytes_max)
            return map_grow(idx, err); /* cannot grow: this write fails alone */
        if (!idx->batch_dirty) {
            /* Nothing of the batch to lose: grow and run it again here. */
            mdb_txn_abort(idx->batch_txn);
            idx->batch_txn = NULL;
            rc = map_grow(idx, err);
            if (rc != FOLIO_OK)
                return rc;
            continue;
        }
        batch_rollback(idx);
        if (full) {
            rc = map_grow(idx, err);
            if (rc != FOLIO_OK)
                return rc;
        }
        return index_errorf(err, FOLIO_E_AGAIN,
                            "The batch was rolled back: %s; run its writes again.",
                            full ? "the index map had to grow"
                                 : "this write is too large to share its transaction");
    }
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
    if (batch_mine(idx)) {
        rc = batch_write(idx, fn, arg, marker, flags, err);
        FOLIO_ASSERT(rc != INDEX_E_MAP_FULL && rc != INDEX_E_RETRY);
        return rc;
    }
    pthread_mutex_lock(&idx->write_mu);
    rc = index_write_locked(idx, fn, arg, marker, flags, err);
    pthread_mutex_unlock(&idx->write_mu);
    FOLIO_ASSERT(rc != INDEX_E_MAP_FULL && rc != INDEX_E_RETRY);
    return rc;
}

/* ---- batches -------------------------------------------------------------- */

int
folio_index_batch_begin(struct folio_index *idx, struct folio_index_error *err)
{
    if (idx->opts.read_only)
        return index_errorf(err, FOLIO_E_INVALID, "The index is open read-only.");
    FOLIO_ASSERT(tl_batch == NULL); /* one batch per thread */
    pthread_mutex_lock(&idx->write_mu);
    int rc = batch_parent_begin(idx, err);
    if (rc != FOLIO_OK) {
        pthread_mutex_unlock(&idx->write_mu);
        return rc;
    }
    tl_batch = idx;
    return FOLIO_OK;
}

/* Ends the batch: no parent left, write_mu released. */
static void
batch_end(struct folio_index *idx)
{
    FOLIO_ASSERT(idx->batch_txn == NULL && idx->batch_postings == NULL);
    idx->batch_lost = false;
    tl_batch = NULL;
    pthread_mutex_unlock(&idx->write_mu);
}

int
folio_index_batch_commit(struct folio_index *idx, struct folio_index_error *err)
{
    FOLIO_ASSERT(batch_mine(idx));
    int rc = idx->batch_lost ? index_errorf(err, FOLIO_E_AGAIN, "The batch was rolled back.")
                             : batch_parent_commit(idx, err);
    batch_end(idx);
    return rc;
}

void
folio_index_batch_abort(struct folio_index *idx)
{
    FOLIO_ASSERT(batch_mine(idx));
    batch_rollback(idx); /* batch_end clears batch_lost */
    batch_end(idx);
}

bool
folio_index_batch_open(const struct folio_index *idx)
{
    return batch_mine(idx);
}

bool
folio_index_batch_lost(const struct folio_index *idx)
{
    return batch_mine(idx) && idx->batch_lost;
}

/* ---- stopping long writes ------------------------------------------------- */

void
folio_index_set_stop(struct folio_index *idx, bool (*stop)(void *ctx), void *ctx)
{
    idx->stop = stop;
    idx->stop_ctx = ctx;
}

int
write_stop_check(struct wtxn *w)
{
    struct folio_index *idx = w->idx;
    if (idx->stop == NULL || !idx->stop(idx->stop_ctx))
        return FOLIO_OK;
    return index_errorf(w->err, FOLIO_E_CANCELED,
                        "The write was stopped before it finished; nothing of it was applied.");
}
