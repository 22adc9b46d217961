/*
 * The task model's names and syntax rules: kinds and statuses with their
 * JSON names (parsed ignoring ASCII case, as Meilisearch's query parser
 * does), which kinds are bound to one index, and the index uid and document
 * id syntax of Meilisearch.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "folio/error.h"
#include "folio/sched.h"

static const char *const kind_names[FOLIO_KIND_COUNT] = {
#define KIND_NAME(name, json) json,
    FOLIO_TASK_KINDS(KIND_NAME)
#undef KIND_NAME
};

static const char *const status_names[FOLIO_STATUS_COUNT] = {
#define STATUS_NAME(name, json) json,
    FOLIO_TASK_STATUSES(STATUS_NAME)
#undef STATUS_NAME
};

const char *
folio_task_kind_name(enum folio_task_kind kind)
{
    return (unsigned)kind < FOLIO_KIND_COUNT ? kind_names[kind] : NULL;
}

const char *
folio_task_status_name(enum folio_task_status status)
{
    return (unsigned)status < FOLIO_STATUS_COUNT ? status_names[status] : NULL;
}

static int
parse_name(const char *const *names, unsigned count, const char *name, size_t len,
           unsigned *out)
{
    if (name == NULL)
        return FOLIO_E_INVALID;
    for (unsigned i = 0; i < count; i++) {
        if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0) {
            *out = i;
            return 0;
        }
    }
    return FOLIO_E_INVALID;
}

int
folio_task_kind_parse(const char *name, size_t len, enum folio_task_kind *out)
{
    unsigned v;
    int rc = parse_name(kind_names, FOLIO_KIND_COUNT, name, len, &v);
    if (rc == 0)
        *out = (enum folio_task_kind)v;
    return rc;
}

int
folio_task_status_parse(const char *name, size_t len, enum folio_task_status *out)
{
    unsigned v;
    int rc = parse_name(status_names, FOLIO_STATUS_COUNT, name, len, &v);
    if (rc == 0)
        *out = (enum folio_task_status)v;
    return rc;
}

bool
folio_task_kind_one_index(enum folio_task_kind kind)
{
    switch (kind) {
    case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE:
    case FOLIO_KIND_DOCUMENT_DELETION:
    case FOLIO_KIND_SETTINGS_UPDATE:
    case FOLIO_KIND_INDEX_CREATION:
    case FOLIO_KIND_INDEX_DELETION:
    case FOLIO_KIND_INDEX_UPDATE:
    case FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION:
    case FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT:
        return true;
    default:
        return false;
    }
}

bool
folio_task_status_finished(enum folio_task_status status)
{
    return status == FOLIO_STATUS_SUCCEEDED || status == FOLIO_STATUS_FAILED ||
           status == FOLIO_STATUS_CANCELED;
}

static bool
id_chars_valid(const char *s, size_t len, size_t max)
{
    if (s == NULL || len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

bool
folio_index_uid_valid(const char *uid, size_t len)
{
    return id_chars_valid(uid, len, FOLIO_INDEX_UID_MAX);
}

bool
folio_document_id_valid(const char *id, size_t len)
{
    return id_chars_valid(id, len, FOLIO_DOCUMENT_ID_MAX);
}
