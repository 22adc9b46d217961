/*
 * Error messages of the index module, and the one place where LMDB return
 * codes become folio error codes. Raw MDB_* codes and errno values stop here:
 * they survive only as text in the message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "folio/error.h"
#include "index_int.h"

int
index_errorf(struct folio_index_error *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        err->setting[0] = '\0';
    }
    return code;
}

static int
mdb_code_map(int rc)
{
    switch (rc) {
    case MDB_MAP_FULL:
        return INDEX_E_MAP_FULL;
    case MDB_TXN_FULL:
    case MDB_BAD_VALSIZE:
        return FOLIO_E_TOO_LARGE;
    case MDB_NOTFOUND:
        return FOLIO_E_NOT_FOUND;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_INCOMPATIBLE:
    case MDB_BAD_DBI:
        return FOLIO_E_CORRUPT;
    case MDB_VERSION_MISMATCH:
        return FOLIO_E_VERSION;
    case MDB_READERS_FULL:
    case MDB_TLS_FULL:
        return FOLIO_E_AGAIN;
    case EAGAIN:
    case EBUSY:
        return FOLIO_E_LOCKED;
    default:
        break;
    }
    if (rc > 0)
        return folio_err_from_errno(rc);
    return FOLIO_E_IO;
}

int
index_mdb_error(struct folio_index_error *err, int mdb_rc, const char *what)
{
    int code = mdb_code_map(mdb_rc);
    if (mdb_rc == MDB_TXN_FULL)
        return index_errorf(err, code,
                            "The operation is too large for one index transaction while %s; "
                            "split it into smaller ones.",
                            what);
    return index_errorf(err, code, "Index storage error while %s: %s.", what,
                        mdb_strerror(mdb_rc));
}
