/*
 * Index settings: validation, the patch semantics of Meilisearch's PATCH
 * /settings (present keys set, null resets, absent keys unchanged), and the
 * effective view with defaults filled in.
 *
 * Only overrides are stored (meta "settings", a JSON object): a setting that
 * was never set or was reset is absent, so a default added later applies to
 * old indexes too. Sets (filterableAttributes, sortableAttributes,
 * stopWords) are stored sorted and without duplicates, as Meilisearch
 * returns them; ordered lists keep the caller's order. A change of
 * searchableAttributes or filterableAttributes rebuilds the posting lists
 * that follow them in the same write (search_store.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

enum setting_kind { SK_LIST, SK_SET, SK_RANKING, SK_SYNONYMS, SK_STRING };

struct setting_def {
    const char *name;
    enum setting_kind kind;
    const char *default_json;
};

/* In the order settings_effective returns them (Meilisearch's GET order). */
static const struct setting_def settings_defs[] = {
    {"displayedAttributes", SK_LIST, "[\"*\"]"},
    {"searchableAttributes", SK_LIST, "[\"*\"]"},
    {"filterableAttributes", SK_SET, "[]"},
    {"sortableAttributes", SK_SET, "[]"},
    {"rankingRules", SK_RANKING,
     "[\"words\",\"typo\",\"proximity\",\"attribute\",\"sort\",\"exactness\"]"},
    {"stopWords", SK_SET, "[]"},
    {"synonyms", SK_SYNONYMS, "{}"},
    {"distinctAttribute", SK_STRING, "null"},
};

static const struct setting_def *
setting_find(const char *name)
{
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(settings_defs); i++)
        if (strcmp(settings_defs[i].name, name) == 0)
            return &settings_defs[i];
    return NULL;
}

static int
type_error(struct folio_index_error *err, const char *path, const char *expected,
           const json_t *found)
{
    char shown[160];
    json_snippet(found, shown, sizeof(shown));
    return index_errorf(err, FOLIO_E_INVALID_SETTINGS,
                        "Invalid value type at `.%.100s`: expected %s, but found %s: `%s`.", path,
                        expected, json_type_phrase(found), shown);
}

static int
check_string_array(const char *name, const json_t *v, struct folio_index_error *err)
{
    char path[160];
    if (!json_is_array(v))
        return type_error(err, name, "an array", v);
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (!json_is_string(json_array_get(v, i))) {
            snprintf(path, sizeof(path), "%s[%zu]", name, i);
            return type_error(err, path, "a string", json_array_get(v, i));
        }
    }
    return FOLIO_OK;
}

static bool
ranking_rule_ok(const char *rule)
{
    static const char *const builtin[] = {"words", "typo", "proximity", "attribute", "sort",
                                          "exactness"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(builtin); i++)
        if (strcmp(rule, builtin[i]) == 0)
            return true;
    const char *colon = strrchr(rule, ':');
    return colon != NULL && colon != rule && (strcmp(colon, ":asc") == 0 ||
                                              strcmp(colon, ":desc") == 0);
}

static int
cmp_json_string(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    size_t lx = json_string_length(x), ly = json_string_length(y);
    int c = memcmp(json_string_value(x), json_string_value(y), lx < ly ? lx : ly);
    return c != 0 ? c : (lx > ly) - (lx < ly);
}

/* A new array: the strings of v sorted bytewise, duplicates dropped. */
static json_t *
sorted_set(const json_t *v)
{
    size_t n = json_array_size(v);
    json_t **items = folio_calloc(n + 1, sizeof(*items));
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(v, i);
    qsort(items, n, sizeof(*items), cmp_json_string);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        if (i == 0 || cmp_json_string(&items[i - 1], &items[i]) != 0)
            json_array_append(out, items[i]);
    folio_free(items);
    return out;
}

static int
check_synonyms(const json_t *v, struct folio_index_error *err)
{
    char path[200];
    const char *key;
    json_t *value;
    if (!json_is_object(v))
        return type_error(err, "synonyms", "an object", v);
    json_object_foreach((json_t *)v, key, value) {
        snprintf(path, sizeof(path), "synonyms.%.100s", key);
        int rc = check_string_array(path, value, err);
        if (rc != FOLIO_OK)
            return rc;
    }
    return FOLIO_OK;
}

/* Validates one non-null value and returns its normalised copy in *out. */
static int
setting_normalise(const struct setting_def *def, const json_t *v, json_t **out,
                  struct folio_index_error *err)
{
    int rc = FOLIO_OK;
    *out = NULL;
    switch (def->kind) {
    case SK_LIST:
    case SK_SET:
    case SK_RANKING:
        rc = check_string_array(def->name, v, err);
        break;
    case SK_SYNONYMS:
        rc = check_synonyms(v, err);
        break;
    case SK_STRING:
        if (!json_is_string(v))
            rc = type_error(err, def->name, "a string", v);
        break;
    }
    for (size_t i = 0; rc == FOLIO_OK && def->kind == SK_RANKING && i < json_array_size(v); i++) {
        const char *rule = json_string_value(json_array_get(v, i));
        if (!ranking_rule_ok(rule))
            rc = index_errorf(err, FOLIO_E_INVALID_SETTINGS,
                              "Invalid value at `.rankingRules[%zu]`: `%.100s` ranking rule is "
                              "invalid. Valid ranking rules are words, typo, sort, proximity, "
                              "attribute, exactness and custom ranking rules.",
                              i, rule);
    }
    if (rc == FOLIO_OK)
        *out = def->kind == SK_SET ? sorted_set(v) : json_deep_copy(v);
    return rc;
}

static int
unknown_setting(const char *key, struct folio_index_error *err)
{
    char names[400] = "";
    size_t used = 0;
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(settings_defs) && used < sizeof(names); i++)
        used += (size_t)snprintf(names + used, sizeof(names) - used, "%s`%s`", i ? ", " : "",
                                 settings_defs[i].name);
    return index_errorf(err, FOLIO_E_UNKNOWN_SETTING, "Unknown field `%.60s`: expected one of %s",
                        key, names);
}

/*
 * Applies patch to a copy of overrides: *out is the new overrides object.
 * Nothing is returned unless every key of the patch is valid.
 */
int
settings_apply_patch(const json_t *overrides, const json_t *patch, json_t **out,
                     struct folio_index_error *err)
{
    const char *key;
    json_t *value;
    *out = NULL;
    if (!json_is_object(patch))
        return type_error(err, "", "an object", patch);
    json_t *next = json_deep_copy(overrides);
    json_object_foreach((json_t *)patch, key, value) {
        const struct setting_def *def = setting_find(key);
        if (def == NULL) {
            json_decref(next);
            return unknown_setting(key, err);
        }
        if (json_is_null(value)) {
            json_object_del(next, key);
            continue;
        }
        json_t *norm = NULL;
        int rc = setting_normalise(def, value, &norm, err);
        if (rc != FOLIO_OK && err != NULL)
            snprintf(err->setting, sizeof(err->setting), "%s", def->name);
        if (rc != FOLIO_OK) {
            json_decref(next);
            return rc;
        }
        json_object_set_new(next, key, norm);
    }
    *out = next;
    return FOLIO_OK;
}

json_t *
settings_effective(const json_t *overrides)
{
    json_t *all = json_object();
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(settings_defs); i++) {
        const struct setting_def *def = &settings_defs[i];
        json_t *v = json_object_get(overrides, def->name);
        if (v != NULL) {
            json_object_set(all, def->name, v);
        } else {
            json_t *d = json_loads(def->default_json, JSON_DECODE_ANY, NULL);
            FOLIO_ASSERT(d != NULL);
            json_object_set_new(all, def->name, d);
        }
    }
    return all;
}

static int
settings_parse(const char *json, size_t len, json_t **out, struct folio_index_error *err)
{
    json_error_t jerr;
    if (len > INDEX_SETTINGS_BYTES_MAX)
        return index_errorf(err, FOLIO_E_PAYLOAD_TOO_LARGE, "The settings payload is too large.");
    *out = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
    if (*out == NULL)
        return index_errorf(err, FOLIO_E_MALFORMED_PAYLOAD,
                            "The settings payload is malformed: %s (line %d, column %d).",
                            jerr.text, jerr.line, jerr.column);
    if (!json_depth_ok(*out, FOLIO_INDEX_DOC_DEPTH_MAX)) {
        json_decref(*out);
        *out = NULL;
        return index_errorf(err, FOLIO_E_MALFORMED_PAYLOAD, "The settings are nested too deep.");
    }
    return FOLIO_OK;
}

int
folio_index_settings_validate(const char *json, size_t len, struct folio_index_error *err)
{
    json_t *patch = NULL, *next = NULL, *empty = json_object();
    int rc = settings_parse(json, len, &patch, err);
    if (rc == FOLIO_OK)
        rc = settings_apply_patch(empty, patch, &next, err);
    json_decref(next);
    json_decref(patch);
    json_decref(empty);
    return rc;
}

struct settings_args {
    const json_t *patch; /* NULL: reset everything */
};

static int
settings_op(struct wtxn *w, void *argp)
{
    const struct settings_args *a = argp;
    json_t *current = NULL, *next = NULL;
    int rc = meta_settings_load(w->txn, w->idx->dbi_meta, &current, w->err);
    if (rc == FOLIO_OK && a->patch == NULL)
        next = json_object();
    else if (rc == FOLIO_OK)
        rc = settings_apply_patch(current, a->patch, &next, w->err);
    if (rc == FOLIO_OK)
        rc = meta_settings_store(w->txn, w->idx->dbi_meta, next, w->err);
    if (rc == FOLIO_OK) /* posting lists that depend on a changed setting, rebuilt */
        rc = search_settings_changed(w, current, next);
    json_decref(current);
    json_decref(next);
    return rc;
}

int
folio_index_settings_update(struct folio_index *idx, const char *json, size_t len,
                            const struct folio_index_marker *marker,
                            struct folio_index_error *err)
{
    json_t *patch = NULL;
    int rc = settings_parse(json, len, &patch, err);
    if (rc != FOLIO_OK)
        return rc;
    struct settings_args a = {.patch = patch};
    rc = index_write(idx, settings_op, &a, marker, WRITE_TOUCH, err);
    json_decref(patch);
    return rc;
}

int
folio_index_settings_reset(struct folio_index *idx, const struct folio_index_marker *marker,
                           struct folio_index_error *err)
{
    struct settings_args a = {.patch = NULL};
    return index_write(idx, settings_op, &a, marker, WRITE_TOUCH, err);
}
