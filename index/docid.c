/*
 * Primary keys and document ids, by Meilisearch's rules
 * (reference/meilisearch-reference.md §7):
 *   - inference looks at the first document's top-level attributes whose
 *     name ends with "id" (ASCII case-insensitive), sorted; exactly one is
 *     the primary key, none or several is an error;
 *   - a primary key may name a nested attribute with dots ("a.b"); every
 *     split of the path is tried and more than one value is an error;
 *   - an id is an integer from INT64_MIN to UINT64_MAX (stored as its
 *     decimal text, so 1 and "1" are the same document; negative integers are
 *     allowed, floats are not) or a string of 1..511 bytes of [A-Za-z0-9_-].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

#define INVALID_ID_TEXT                                                                    \
    "is invalid. A document identifier can be of type integer or string, only composed of " \
    "alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not "  \
    "be more than 511 bytes."

bool
folio_index_docid_valid(const char *id, size_t len)
{
    return docid_valid(id, len);
}

bool
docid_valid(const char *id, size_t len)
{
    if (len == 0 || len > FOLIO_INDEX_ID_BYTES_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

int
docid_check_primary_key(const char *pk, struct folio_index_error *err)
{
    size_t n = strlen(pk);
    json_t *utf8 = n > 0 && n <= FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX ? json_stringn(pk, n) : NULL;
    if (utf8 == NULL)
        return index_errorf(err, FOLIO_E_INVALID_PRIMARY_KEY,
                            "`%.100s` is not a valid primary key: it must be a UTF-8 string of "
                            "1 to %d bytes.",
                            pk, FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX);
    json_decref(utf8);
    return FOLIO_OK;
}

static bool
ends_with_id(const char *key)
{
    size_t n = strlen(key);
    return n >= 2 && (key[n - 2] == 'i' || key[n - 2] == 'I') &&
           (key[n - 1] == 'd' || key[n - 1] == 'D');
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
docid_infer_primary_key(const json_t *first_doc, char *out, size_t out_size,
                        struct folio_index_error *err)
{
    size_t n = 0;
    const char **candidates = NULL;
    const char *key;
    json_t *value;
    if (first_doc != NULL) {
        candidates = folio_calloc(json_object_size(first_doc) + 1, sizeof(*candidates));
        json_object_foreach((json_t *)first_doc, key, value) {
            if (ends_with_id(key))
                candidates[n++] = key;
        }
    }
    int rc = FOLIO_OK;
    if (n == 0) {
        rc = index_errorf(err, FOLIO_E_PRIMARY_KEY_NO_CANDIDATE,
                          "The primary key inference failed as the engine did not find any "
                          "field ending with `id` in its name. Please specify the primary key "
                          "manually using the `primaryKey` query parameter.");
        goto out;
    }
    qsort(candidates, n, sizeof(*candidates), cmp_str);
    if (n > 1) {
        rc = index_errorf(err, FOLIO_E_PRIMARY_KEY_MULTIPLE_CANDIDATES,
                          "The primary key inference failed as the engine found %zu fields "
                          "ending with `id` in their names: '%.80s' and '%.80s'. Please specify "
                          "the primary key manually using the `primaryKey` query parameter.",
                          n, candidates[0], candidates[1]);
        goto out;
    }
    rc = docid_check_primary_key(candidates[0], err);
    if (rc != FOLIO_OK)
        goto out;
    FOLIO_ASSERT(strlen(candidates[0]) < out_size);
    snprintf(out, out_size, "%s", candidates[0]);
out:
    folio_free(candidates);
    return rc;
}

/* Collects up to two values at the (possibly dotted) path. */
static void
find_values(const json_t *obj, const char *path, size_t path_len, const json_t **found, int *n)
{
    const json_t *v = json_object_getn(obj, path, path_len);
    if (v != NULL && *n < 2)
        found[(*n)++] = v;
    for (size_t i = 0; i < path_len && *n < 2; i++) {
        if (path[i] != '.')
            continue;
        const json_t *child = json_object_getn(obj, path, i);
        if (child != NULL && json_is_object(child))
            find_values(child, path + i + 1, path_len - i - 1, found, n);
    }
}

static int
id_from_value(const json_t *v, char id[FOLIO_INDEX_ID_BYTES_MAX + 1], size_t *id_len,
              struct folio_index_error *err)
{
    if (json_is_integer(v)) {
        int n = snprintf(id, FOLIO_INDEX_ID_BYTES_MAX + 1, "%" JSON_INTEGER_FORMAT,
                         json_integer_value(v));
        *id_len = (size_t)n;
        return FOLIO_OK;
    }
    if (json_is_u64(v)) { /* an integer in (INT64_MAX, UINT64_MAX] (json_in.c) */
        const char *digits = json_u64_digits(v, id_len);
        memcpy(id, digits, *id_len);
        id[*id_len] = '\0';
        return FOLIO_OK;
    }
    if (json_is_string(v) && docid_valid(json_string_value(v), json_string_length(v))) {
        *id_len = json_string_length(v);
        memcpy(id, json_string_value(v), *id_len);
        id[*id_len] = '\0';
        return FOLIO_OK;
    }
    char shown[220];
    json_snippet(v, shown, sizeof(shown));
    return index_errorf(err, FOLIO_E_INVALID_DOCUMENT_ID, "Document identifier `%s` " INVALID_ID_TEXT,
                        shown);
}

int
docid_extract(const json_t *doc, const char *pk, char id[FOLIO_INDEX_ID_BYTES_MAX + 1],
              size_t *id_len, struct folio_index_error *err)
{
    const json_t *found[2];
    int n = 0;
    find_values(doc, pk, strlen(pk), found, &n);
    if (n == 1)
        return id_from_value(found[0], id, id_len, err);
    char shown[300];
    json_snippet(doc, shown, sizeof(shown));
    if (n == 0)
        return index_errorf(err, FOLIO_E_MISSING_DOCUMENT_ID,
                            "Document doesn't have a `%.100s` attribute: `%s`.", pk, shown);
    return index_errorf(err, FOLIO_E_INVALID_DOCUMENT_ID,
                        "Document has more than one `%.100s` attribute: `%s`.", pk, shown);
}
