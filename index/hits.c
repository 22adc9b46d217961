/*
 * The documents of a search response: each hit as stored, restricted to
 * the attributes both displayedAttributes and the request's
 * attributesToRetrieve allow ("*", or no list, allows everything).
 *
 * A selector names an attribute path: `a` keeps the member `a` whole, `a.b`
 * keeps only `b` inside the object `a` (inside each object of an array `a`),
 * as Meilisearch's permissive selection does. Members keep their stored
 * order; a hit whose attributes are all filtered out is `{}`.
 */
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

struct selectors {
    const char *const *list;
    size_t count;
};

static bool
selected(const struct selectors *s, const char *path, size_t len)
{
    for (size_t i = 0; i < s->count; i++)
        if (attribute_covers(s->list[i], path, len))
            return true;
    return false;
}

/* Some selector names something below path. */
static bool
selected_below(const struct selectors *s, const char *path, size_t len)
{
    for (size_t i = 0; i < s->count; i++) {
        const char *sel = s->list[i];
        if (strlen(sel) > len && memcmp(sel, path, len) == 0 && sel[len] == '.')
            return true;
    }
    return false;
}

static json_t *select_object(const json_t *obj, const char *prefix, size_t plen,
                             const struct selectors *s);

static json_t *
select_array(const json_t *arr, const char *path, size_t len, const struct selectors *s)
{
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        json_t *sub = NULL;
        if (json_is_object(e))
            sub = select_object(e, path, len, s);
        else if (json_is_array(e))
            sub = select_array(e, path, len, s);
        if (sub != NULL && json_is_object(sub) && json_object_size(sub) == 0)
            json_decref(sub);
        else if (sub != NULL)
            json_array_append_new(out, sub);
    }
    return out;
}

static json_t *
select_object(const json_t *obj, const char *prefix, size_t plen, const struct selectors *s)
{
    json_t *out = json_object();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        size_t klen = strlen(key), len = plen + (plen > 0) + klen;
        char *path = folio_malloc(len + 1);
        memcpy(path, prefix, plen);
        if (plen > 0)
            path[plen] = '.';
        memcpy(path + plen + (plen > 0), key, klen + 1);
        if (selected(s, path, len)) {
            json_object_set(out, key, value);
        } else if (selected_below(s, path, len) &&
                   (json_is_object(value) || json_is_array(value))) {
            json_t *sub = json_is_object(value) ? select_object(value, path, len, s)
                                                : select_array(value, path, len, s);
            if ((json_is_object(sub) && json_object_size(sub) > 0) ||
                (json_is_array(sub) && json_array_size(sub) > 0))
                json_object_set_new(out, key, sub);
            else
                json_decref(sub);
        }
        folio_free(path);
    }
    return out;
}

static bool
all_of(const char *const *list, size_t count)
{
    if (list == NULL)
        return true;
    for (size_t i = 0; i < count; i++)
        if (strcmp(list[i], "*") == 0)
            return true;
    return false;
}

static int
hit_emit(const MDB_val *v, const struct selectors *displayed, const struct selectors *wanted,
         struct dbuf *b, struct folio_index_error *err)
{
    if (displayed == NULL && wanted == NULL)
        return dbuf_append(b, v->mv_data, v->mv_size);
    json_error_t jerr;
    json_t *doc = json_in_load(v->mv_data, v->mv_size, 0, &jerr);
    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        return index_errorf(err, FOLIO_E_CORRUPT, "A stored document is not a JSON object.");
    }
    if (displayed != NULL) {
        json_t *shown = select_object(doc, "", 0, displayed);
        json_decref(doc);
        doc = shown;
    }
    if (wanted != NULL) {
        json_t *kept = select_object(doc, "", 0, wanted);
        json_decref(doc);
        doc = kept;
    }
    int rc = json_out(b, doc);
    json_decref(doc);
    return rc;
}

int
hits_emit(MDB_txn *txn, struct folio_index *idx, const struct search_config *cfg,
          const struct folio_index_search_req *req, const uint32_t *ids, size_t count,
          struct dbuf *b, struct folio_index_error *err)
{
    struct selectors displayed = {cfg->displayed, cfg->displayed_count};
    struct selectors wanted = {req->attributes_to_retrieve, req->attributes_to_retrieve_count};
    bool all_wanted = all_of(req->attributes_to_retrieve, req->attributes_to_retrieve_count);
    int rc = FOLIO_OK;
    for (size_t i = 0; i < count && rc == FOLIO_OK; i++) {
        uint8_t key[4];
        index_iid_encode(ids[i], key);
        MDB_val k = {4, key}, v;
        int mrc = mdb_get(txn, idx->dbi_documents, &k, &v);
        if (mrc == MDB_NOTFOUND)
            return index_errorf(err, FOLIO_E_CORRUPT,
                                "A posting list names document %u, which is not stored.", ids[i]);
        if (mrc != 0)
            return index_mdb_error(err, mrc, "reading a document");
        if (i > 0)
            rc = dbuf_append(b, ",", 1);
        if (rc == FOLIO_OK)
            rc = hit_emit(&v, cfg->displayed != NULL ? &displayed : NULL,
                          all_wanted ? NULL : &wanted, b, err);
    }
    return rc;
}
