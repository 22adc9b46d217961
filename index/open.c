/*
 * Creating, opening and closing an index env.
 *
 * Create makes the env in a directory the caller made, opens the named
 * databases and writes the whole meta record (format version, primary key,
 * counters, times, marker) in one transaction, then fsyncs the directory; on
 * failure it removes the files it made. Open checks that the env is a folio
 * index of a known format version before handing it out, and brings an older
 * env up to date (read-write opens only): one written before the `outcomes`
 * database existed gets an empty one (read-only, it holds no outcome), one
 * of format 1 gets its search structures (read-only, it cannot be searched),
 * one of format 1 or 2 its field distribution (read-only, its stats have
 * none).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "index_int.h"

static struct folio_index *
index_alloc(const struct folio_index_options *opts)
{
    struct folio_index *idx = folio_calloc(1, sizeof(*idx));
    idx->opts = *opts;
    pthread_mutex_init(&idx->write_mu, NULL);
    pthread_mutex_init(&idx->vocab_mu, NULL);
    pthread_mutex_init(&idx->gate.mu, NULL);
    pthread_cond_init(&idx->gate.cv, NULL);
    return idx;
}

void
folio_index_free(struct folio_index *idx)
{
    if (idx == NULL)
        return;
    if (idx->env != NULL)
        mdb_env_close(idx->env);
    FOLIO_ASSERT(idx->gate.readers == 0);
    vocab_drop(idx);
    pthread_mutex_destroy(&idx->vocab_mu);
    pthread_cond_destroy(&idx->gate.cv);
    pthread_mutex_destroy(&idx->gate.mu);
    pthread_mutex_destroy(&idx->write_mu);
    folio_free(idx);
}

static int
env_setup(struct folio_index *idx, const char *dir, struct folio_index_error *err)
{
    int rc = mdb_env_create(&idx->env);
    if (rc != 0)
        return index_mdb_error(err, rc, "creating the LMDB environment");
    rc = mdb_env_set_maxdbs(idx->env, INDEX_MAXDBS);
    if (rc == 0)
        rc = mdb_env_set_mapsize(idx->env, (size_t)idx->opts.map_bytes_initial);
    unsigned flags = MDB_NOTLS;
    if (idx->opts.read_only)
        flags |= MDB_RDONLY;
    if (idx->opts.no_lock)
        flags |= MDB_NOLOCK;
    if (rc == 0)
        rc = mdb_env_open(idx->env, dir, flags, 0600);
    if (rc != 0) {
        mdb_env_close(idx->env);
        idx->env = NULL;
        if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
            return index_errorf(err, FOLIO_E_CORRUPT, "`%s` does not hold a valid index: %s.",
                                dir, mdb_strerror(rc));
        return index_mdb_error(err, rc, "opening the index");
    }
    MDB_envinfo info;
    mdb_env_info(idx->env, &info);
    idx->map_bytes = info.me_mapsize;
    return FOLIO_OK;
}

static int
dbis_open(MDB_txn *txn, struct folio_index *idx, unsigned flags, struct folio_index_error *err)
{
    static const char *const names[] = {INDEX_DB_DOCUMENTS, INDEX_DB_EXTERNAL_IDS, INDEX_DB_META};
    MDB_dbi *dbis[] = {&idx->dbi_documents, &idx->dbi_external_ids, &idx->dbi_meta};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(names); i++) {
        int rc = mdb_dbi_open(txn, names[i], flags, dbis[i]);
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE)
            return index_errorf(err, FOLIO_E_CORRUPT,
                                "This is not a folio index: the `%s` database is missing.",
                                names[i]);
        if (rc != 0)
            return index_mdb_error(err, rc, "opening the index databases");
    }
    /* `outcomes` came later: an older env lacks it (created on open, below). */
    int rc = outcome_dbi_open(txn, idx, (flags & MDB_CREATE) != 0, err);
    /* The search databases: a new env gets them; open() looks at the version first. */
    if (rc == FOLIO_OK && (flags & MDB_CREATE))
        rc = search_dbis_open(txn, idx, true, err);
    if (rc == FOLIO_OK && (flags & MDB_CREATE))
        rc = fields_dbi_open(txn, idx, true, err);
    return rc;
}

struct create_args {
    const char *primary_key;
};

static int
create_op(struct wtxn *w, void *argp)
{
    const struct create_args *a = argp;
    int rc = dbis_open(w->txn, w->idx, MDB_CREATE, w->err);
    if (rc != FOLIO_OK)
        return rc;
    if (a->primary_key != NULL) {
        w->meta.has_primary_key = true;
        snprintf(w->meta.primary_key, sizeof(w->meta.primary_key), "%s", a->primary_key);
    }
    json_t *empty = json_object();
    rc = meta_settings_store(w->txn, w->idx->dbi_meta, empty, w->err);
    json_decref(empty);
    return rc;
}

static int
path_join(char *buf, size_t cap, const char *dir, const char *name, struct folio_index_error *err)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return index_errorf(err, FOLIO_E_INVALID, "The index path is too long.");
    return FOLIO_OK;
}

static int
create_check_dir(const char *dir, struct folio_index_error *err)
{
    struct stat st;
    char path[PATH_MAX];
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return index_errorf(err, FOLIO_E_NOT_FOUND, "The index directory `%s` does not exist.",
                            dir);
    int rc = path_join(path, sizeof(path), dir, "data.mdb", err);
    if (rc != FOLIO_OK)
        return rc;
    if (lstat(path, &st) == 0)
        return index_errorf(err, FOLIO_E_EXISTS, "An index already exists in `%s`.", dir);
    return FOLIO_OK;
}

static void
create_cleanup(const char *dir)
{
    char path[PATH_MAX];
    if (path_join(path, sizeof(path), dir, "data.mdb", NULL) == FOLIO_OK)
        unlink(path);
    if (path_join(path, sizeof(path), dir, "lock.mdb", NULL) == FOLIO_OK)
        unlink(path);
}

int
folio_index_create(const char *dir, const struct folio_index_options *opts_in,
                   const char *primary_key, const struct folio_index_marker *marker,
                   struct folio_index **out, struct folio_index_error *err)
{
    struct folio_index_options opts;
    struct folio_index *idx = NULL;
    bool made = false;
    *out = NULL;
    int rc = index_options_normalise(opts_in, &opts, err);
    if (rc == FOLIO_OK && opts.read_only)
        rc = index_errorf(err, FOLIO_E_INVALID, "An index cannot be created read-only.");
    if (rc == FOLIO_OK && primary_key != NULL)
        rc = docid_check_primary_key(primary_key, err);
    if (rc == FOLIO_OK)
        rc = outcome_check(marker, err); /* before any file is made */
    if (rc == FOLIO_OK)
        rc = create_check_dir(dir, err);
    if (rc != FOLIO_OK)
        goto out;
    idx = index_alloc(&opts);
    made = true;
    rc = env_setup(idx, dir, err);
    if (rc != FOLIO_OK)
        goto out;
    struct create_args args = {.primary_key = primary_key};
    rc = index_write(idx, create_op, &args, marker, WRITE_FRESH | WRITE_TOUCH, err);
    if (rc == FOLIO_OK && folio_io_fsync_dir(dir) != 0)
        rc = index_errorf(err, folio_err_from_errno(errno),
                          "Could not sync the index directory `%s`: %s.", dir, strerror(errno));
out:
    if (rc != FOLIO_OK) {
        folio_index_free(idx);
        if (made)
            create_cleanup(dir);
        return rc;
    }
    *out = idx;
    return FOLIO_OK;
}

static int
upgrade_op(struct wtxn *w, void *arg)
{
    const uint32_t *version = arg;
    int rc = FOLIO_OK;
    if (!w->idx->has_outcomes)
        rc = outcome_dbi_open(w->txn, w->idx, true, w->err);
    if (rc == FOLIO_OK && *version == INDEX_FORMAT_VERSION_NO_SEARCH)
        rc = search_upgrade(w);
    if (rc == FOLIO_OK && *version != INDEX_FORMAT_VERSION)
        rc = fields_upgrade(w);
    return rc;
}

/*
 * Brings an older env up to date in one write that keeps the marker
 * (whatever it is by then) and times: an env written before outcomes
 * existed gets its empty `outcomes` database; one of format 1 gets its
 * search structures, built from its documents; one of format 1 or 2 its
 * field distribution, counted from its documents; and both format 3.
 */
static int
upgrade(struct folio_index *idx, uint32_t version, struct folio_index_error *err)
{
    static const struct folio_index_marker unused;
    int rc = index_write(idx, upgrade_op, &version, &unused, WRITE_KEEP_MARKER, err);
    if (rc != FOLIO_OK) {
        idx->has_search = false; /* the handles of an aborted transaction are gone */
        idx->has_fields = false;
    }
    return rc;
}

int
folio_index_open(const char *dir, const struct folio_index_options *opts_in,
                 struct folio_index **out, struct folio_index_error *err)
{
    struct folio_index_options opts;
    struct folio_index *idx = NULL;
    MDB_txn *txn = NULL;
    char path[PATH_MAX];
    struct stat st;
    *out = NULL;
    int rc = index_options_normalise(opts_in, &opts, err);
    if (rc == FOLIO_OK)
        rc = path_join(path, sizeof(path), dir, "data.mdb", err);
    if (rc != FOLIO_OK)
        return rc;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return index_errorf(err, FOLIO_E_NOT_FOUND, "There is no index in `%s`.", dir);
    idx = index_alloc(&opts);
    rc = env_setup(idx, dir, err);
    if (rc != FOLIO_OK)
        goto out;
    int mrc = mdb_txn_begin(idx->env, NULL, MDB_RDONLY, &txn);
    if (mrc != 0) {
        rc = index_mdb_error(err, mrc, "beginning a read transaction");
        goto out;
    }
    uint32_t version = 0;
    rc = dbis_open(txn, idx, 0, err);
    if (rc == FOLIO_OK)
        rc = meta_check_format(txn, idx->dbi_meta, &version, err);
    if (rc == FOLIO_OK && version != INDEX_FORMAT_VERSION_NO_SEARCH)
        rc = search_dbis_open(txn, idx, false, err);
    if (rc == FOLIO_OK && version == INDEX_FORMAT_VERSION)
        rc = fields_dbi_open(txn, idx, false, err);
    if (rc == FOLIO_OK) {
        struct index_meta meta;
        rc = meta_load(txn, idx->dbi_meta, &meta, err);
    }
    if (rc == FOLIO_OK) {
        /* Committing a read txn keeps the database handles it opened. */
        mrc = mdb_txn_commit(txn);
        txn = NULL;
        if (mrc != 0)
            rc = index_mdb_error(err, mrc, "opening the index databases");
    }
    bool old = !idx->has_outcomes || version != INDEX_FORMAT_VERSION;
    if (rc == FOLIO_OK && old && !opts.read_only)
        rc = upgrade(idx, version, err);
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (rc != FOLIO_OK) {
        folio_index_free(idx);
        return rc;
    }
    *out = idx;
    return FOLIO_OK;
}
