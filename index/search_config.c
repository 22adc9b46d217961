/*
 * The search configuration: which attribute paths are searchable (and their
 * rank), which are filterable, which are displayed, from the effective
 * settings. A path is dotted (`a.b` for {"a":{"b":..}}); an attribute names
 * itself and everything below it, as in Meilisearch: searchable `a` covers
 * `a.b`, filterable `a` makes `a.b` filterable. "*" in searchableAttributes
 * means every attribute, ranked by the position of its top-level field in
 * the document; "*" in filterableAttributes makes every attribute
 * filterable.
 */
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

bool
attribute_covers(const char *attr, const char *path, size_t path_len)
{
    size_t n = strlen(attr);
    if (n > path_len || memcmp(attr, path, n) != 0)
        return false;
    return n == path_len || path[n] == '.';
}

/* The strings of array v (from the effective settings: always strings). */
static const char **
string_list(const json_t *v, size_t *count, bool *star)
{
    size_t n = json_array_size(v);
    const char **out = folio_calloc(n + 1, sizeof(*out));
    *star = false;
    for (size_t i = 0; i < n; i++) {
        out[i] = json_string_value(json_array_get(v, i));
        FOLIO_ASSERT(out[i] != NULL);
        if (strcmp(out[i], "*") == 0)
            *star = true;
    }
    *count = n;
    return out;
}

void
search_config_init(struct search_config *cfg, const json_t *overrides)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->effective = settings_effective(overrides);
    bool star = false;
    cfg->searchable = string_list(json_object_get(cfg->effective, "searchableAttributes"),
                                  &cfg->searchable_count, &cfg->searchable_all);
    cfg->filterable = string_list(json_object_get(cfg->effective, "filterableAttributes"),
                                  &cfg->filterable_count, &cfg->filterable_all);
    cfg->displayed = string_list(json_object_get(cfg->effective, "displayedAttributes"),
                                 &cfg->displayed_count, &star);
    if (star) {
        folio_free(cfg->displayed);
        cfg->displayed = NULL;
        cfg->displayed_count = 0;
    }
}

int
search_config_load(MDB_txn *txn, struct folio_index *idx, struct search_config *cfg,
                   struct folio_index_error *err)
{
    json_t *overrides = NULL;
    memset(cfg, 0, sizeof(*cfg));
    int rc = meta_settings_load(txn, idx->dbi_meta, &overrides, err);
    if (rc != FOLIO_OK)
        return rc;
    search_config_init(cfg, overrides);
    json_decref(overrides);
    return FOLIO_OK;
}

static const char **
list_copy(const char *const *list, size_t count)
{
    if (list == NULL)
        return NULL;
    const char **out = folio_calloc(count + 1, sizeof(*out));
    memcpy(out, list, count * sizeof(*out));
    return out;
}

void
search_config_copy(struct search_config *dst, const struct search_config *src)
{
    *dst = *src;
    dst->effective = json_incref(src->effective); /* the strings point into it */
    dst->searchable = list_copy(src->searchable, src->searchable_count);
    dst->filterable = list_copy(src->filterable, src->filterable_count);
    dst->displayed = list_copy(src->displayed, src->displayed_count);
}

void
search_config_release(struct search_config *cfg)
{
    folio_free(cfg->searchable);
    folio_free(cfg->filterable);
    folio_free(cfg->displayed);
    json_decref(cfg->effective);
    memset(cfg, 0, sizeof(*cfg));
}

int
search_config_rank(const struct search_config *cfg, const char *path, size_t path_len,
                   size_t top_index)
{
    if (cfg->searchable_all)
        return top_index > INDEX_RANK_MAX ? (int)INDEX_RANK_MAX : (int)top_index;
    for (size_t i = 0; i < cfg->searchable_count; i++)
        if (attribute_covers(cfg->searchable[i], path, path_len))
            return i > INDEX_RANK_MAX ? (int)INDEX_RANK_MAX : (int)i;
    return -1;
}

bool
search_config_filterable(const struct search_config *cfg, const char *path, size_t path_len)
{
    if (cfg->filterable_all)
        return true;
    for (size_t i = 0; i < cfg->filterable_count; i++)
        if (attribute_covers(cfg->filterable[i], path, path_len))
            return true;
    return false;
}
