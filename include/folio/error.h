/*
 * folio error codes.
 *
 * One X-macro list makes the enum, the human message and the stable name.
 * 0 is success, errors are negative, and a code is never renumbered: names
 * and numbers appear in logs, CLI exit reports and (later) the HTTP API's
 * error table.
 */
#ifndef FOLIO_ERROR_H
#define FOLIO_ERROR_H

/*        enum suffix      value  stable name            message */
#define FOLIO_ERRORS(X)                                                                    \
    X(OK,              0,  "ok",                  "success")                              \
    X(NOMEM,          -1,  "out_of_memory",       "out of memory")                        \
    X(IO,             -2,  "io_error",            "input/output error")                   \
    X(INVALID,        -3,  "invalid_argument",    "invalid argument")                     \
    X(NOT_FOUND,      -4,  "not_found",           "not found")                            \
    X(EXISTS,         -5,  "already_exists",      "already exists")                       \
    X(CORRUPT,        -6,  "corrupt",             "data is corrupt")                      \
    X(TORN_TAIL,      -7,  "torn_tail",           "journal ends in a torn write")         \
    X(DECODE,         -8,  "decode_error",        "malformed encoded data")               \
    X(TOO_LARGE,      -9,  "too_large",           "value exceeds its size limit")         \
    X(VERSION,       -10,  "unsupported_version", "unsupported format version")           \
    X(CLOSED,        -11,  "closed",              "closed")                               \
    X(AGAIN,         -12,  "again",               "no data yet, try again")               \
    X(NOSPC,         -13,  "no_space_left",       "no space left on device")              \
    X(LOCKED,        -14,  "locked",              "locked by another process")            \
    X(TIMEOUT,       -15,  "timeout",             "timed out")                            \
    X(END,           -16,  "end",                 "end of data")                          \
    X(UNKNOWN_TYPE,  -17,  "unknown_type",        "unknown type")                         \
    X(CANCELED,      -18,  "canceled",            "stopped on request")                   \
    /* index/ (from -100): names are Meilisearch's codes where one exists */               \
    X(MISSING_DOCUMENT_ID,   -100, "missing_document_id",                                    \
      "a document has no value for the primary key")                                      \
    X(INVALID_DOCUMENT_ID,   -101, "invalid_document_id",  "invalid document identifier")  \
    X(PRIMARY_KEY_NO_CANDIDATE, -102, "index_primary_key_no_candidate_found",               \
      "no attribute ending with id to infer the primary key from")                        \
    X(PRIMARY_KEY_MULTIPLE_CANDIDATES, -103, "index_primary_key_multiple_candidates_found", \
      "several attributes could be the primary key")                                      \
    X(PRIMARY_KEY_ALREADY_PRESENT, -104, "index_primary_key_already_exists",                \
      "the index already has another primary key")                                        \
    X(INVALID_PRIMARY_KEY,   -105, "invalid_index_primary_key", "invalid primary key")     \
    X(MALFORMED_PAYLOAD,     -106, "malformed_payload",    "malformed document payload")   \
    X(MISSING_PAYLOAD,       -107, "missing_payload",      "document payload is missing")  \
    X(PAYLOAD_TOO_LARGE,     -108, "payload_too_large",    "payload exceeds its size limit") \
    X(INVALID_SETTINGS,      -109, "invalid_settings",     "invalid settings value")       \
    X(UNKNOWN_SETTING,       -110, "unknown_setting",      "unknown settings key")         \
    X(DOCUMENT_NOT_FOUND,    -111, "document_not_found",   "document not found")           \
    X(MAP_FULL_MAX,          -112, "database_size_limit_reached",                           \
      "the index reached its maximum size")                                               \
    X(INVALID_SEARCH_FILTER, -113, "invalid_search_filter", "invalid search filter")       \
    X(INVALID_SEARCH_Q,      -114, "invalid_search_q",     "invalid search query")         \
    X(INVALID_SEARCH_FACETS, -115, "invalid_search_facets", "invalid facet distribution")  \
    /* snapshot/ (from -120) */                                                            \
    X(SNAPSHOT_INVALID,      -120, "snapshot_invalid",     "malformed or hostile snapshot") \
    X(SNAPSHOT_CHECKSUM,     -121, "snapshot_checksum_mismatch",                            \
      "snapshot data does not match its manifest")                                        \
    X(SNAPSHOT_VERSION,      -122, "snapshot_version_mismatch",                             \
      "snapshot made by an incompatible version")

enum folio_err {
#define FOLIO_ERR_ENUM(name, value, str, msg) FOLIO_E_##name = (value),
    FOLIO_ERRORS(FOLIO_ERR_ENUM)
#undef FOLIO_ERR_ENUM
};
#define FOLIO_OK FOLIO_E_OK

/* Stable snake_case name of an error code ("corrupt"); "unknown_error" if unknown. */
const char *folio_err_name(int err);
/* Human message of an error code ("data is corrupt"). */
const char *folio_err_message(int err);
/* Maps an errno value to the closest folio error (ENOSPC -> FOLIO_E_NOSPC, ...). */
int folio_err_from_errno(int errnum);

#endif
