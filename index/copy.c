/*
 * Compacted copies of an index env, for snapshots (DESIGN.md §8).
 *
 * mdb_env_copy2(MDB_CP_COMPACT) writes a copy of one read transaction's
 * state, without free pages, to DEST/data.mdb (created O_EXCL, so the
 * directory must exist and hold no data.mdb). LMDB does not fsync the copy;
 * this file does, and then the directory, through the I/O seam, so the copy
 * is durable when the call returns. A failed copy leaves no data.mdb behind.
 * The copy's read transaction counts at the gate like any reader, so the map
 * cannot be resized under it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "index_int.h"

static int
copy_sync(const char *path, const char *dest_dir, struct folio_index_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || folio_io_fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return index_errorf(err, folio_err_from_errno(e), "Could not sync `%s`: %s.", path,
                            strerror(e));
    }
    close(fd);
    if (folio_io_fsync_dir(dest_dir) != 0)
        return index_errorf(err, folio_err_from_errno(errno), "Could not sync `%s`: %s.",
                            dest_dir, strerror(errno));
    return FOLIO_OK;
}

int
folio_index_copy_compact(struct folio_index *idx, const char *dest_dir,
                         struct folio_index_error *err)
{
    char path[PATH_MAX];
    struct stat st;
    int n = snprintf(path, sizeof(path), "%s/data.mdb", dest_dir);
    if (n < 0 || (size_t)n >= sizeof(path))
        return index_errorf(err, FOLIO_E_INVALID, "The copy path is too long.");
    if (stat(dest_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return index_errorf(err, FOLIO_E_NOT_FOUND, "The directory `%s` does not exist.",
                            dest_dir);
    if (lstat(path, &st) == 0)
        return index_errorf(err, FOLIO_E_EXISTS, "`%s` already exists.", path);
    index_gate_enter(&idx->gate);
    int mrc = mdb_env_copy2(idx->env, dest_dir, MDB_CP_COMPACT);
    index_gate_leave(&idx->gate);
    int rc = FOLIO_OK;
    if (mrc == EEXIST)
        return index_errorf(err, FOLIO_E_EXISTS, "`%s` already exists.", path);
    if (mrc != 0)
        rc = index_mdb_error(err, mrc, "copying the index");
    if (rc == FOLIO_OK)
        rc = copy_sync(path, dest_dir, err);
    if (rc != FOLIO_OK)
        unlink(path);
    return rc;
}
