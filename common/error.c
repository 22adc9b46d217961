/*
 * Error names and messages, generated from the one list in error.h, and the
 * single place where errno values become folio errors.
 */
#include <errno.h>

#include "folio/error.h"

const char *
folio_err_name(int err)
{
    switch (err) {
#define FOLIO_ERR_NAME(name, value, str, msg)                                                  \
    case (value):                                                                          \
        return str;
        FOLIO_ERRORS(FOLIO_ERR_NAME)
#undef FOLIO_ERR_NAME
    }
    return "unknown_error";
}

const char *
folio_err_message(int err)
{
    switch (err) {
#define FOLIO_ERR_MSG(name, value, str, msg)                                                   \
    case (value):                                                                          \
        return msg;
        FOLIO_ERRORS(FOLIO_ERR_MSG)
#undef FOLIO_ERR_MSG
    }
    return "unknown error";
}

int
folio_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0:
        return FOLIO_OK;
    case ENOMEM:
        return FOLIO_E_NOMEM;
    case ENOENT:
        return FOLIO_E_NOT_FOUND;
    case EEXIST:
        return FOLIO_E_EXISTS;
    case ENOSPC:
    case EDQUOT:
        return FOLIO_E_NOSPC;
    case EINVAL:
        return FOLIO_E_INVALID;
    case EAGAIN:
        return FOLIO_E_LOCKED;
    default:
        return FOLIO_E_IO;
    }
}
