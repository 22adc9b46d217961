/*
 * Documents by filter: a filter value given as JSON (Meilisearch's string or
 * array form) turned into one expression, the page of documents a filter
 * matches, and the deletion of every document it matches (contracts in
 * include/folio/index.h).
 *
 * The array form is the AND of its elements, each a string or an array of
 * strings that are ORed; blank strings and empty arrays drop out. Each string
 * must stand on its own, as in Meilisearch: it is parsed alone before the
 * whole expression (every string in parentheses) is, so a syntax error's
 * message and columns are those of the string at fault.
 *
 * Matching reuses the search's filter (filter_parse.c, filter_eval.c) over
 * the `facets` database, so a filter means here exactly what it means to a
 * search. The deletion evaluates it inside its own write transaction; in a
 * batch, the lists the batch's earlier writes deferred are applied first
 * (WRITE_READS_POSTINGS), so documents added earlier in the batch match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

/* ---- the JSON value into an expression ----------------------------------------- */

struct fexpr {
    struct dbuf text;   /* the whole expression */
    char **parts;       /* array form: each string of it, to parse alone */
    size_t part_count;
};

static bool
blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return *s == '\0';
}

/* "Invalid syntax for the filter parameter: `expected String, Array, found: 42`." */
static int
type_error(struct folio_index_error *err, const char *expected, const json_t *v)
{
    char *found = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = found != NULL ? strlen(found) : 0;
    index_errorf(err, FOLIO_E_INVALID_SEARCH_FILTER,
                 "Invalid syntax for the filter parameter: `expected %s, found: %.300s%s`.",
                 expected, found != NULL ? found : "", len > 300 ? "..." : "");
    free(found);
    return FOLIO_E_INVALID_SEARCH_FILTER;
}

static int
part_add(struct fexpr *e, const char *s)
{
    e->parts = folio_realloc(e->parts, (e->part_count + 1) * sizeof(char *));
    e->parts[e->part_count++] = folio_strdup(s);
    int rc = dbuf_append(&e->text, "(", 1);
    if (rc == FOLIO_OK)
        rc = dbuf_append(&e->text, s, strlen(s));
    if (rc == FOLIO_OK)
        rc = dbuf_append(&e->text, ")", 1);
    return rc;
}

/* One element of the array form: a string, or an array of strings to OR. */
static int
element_add(struct fexpr *e, const json_t *el, struct folio_index_error *err)
{
    if (json_is_string(el)) {
        if (blank(json_string_value(el)))
            return FOLIO_OK;
        int rc = e->text.len > 0 ? dbuf_append(&e->text, " AND ", 5) : FOLIO_OK;
        return rc == FOLIO_OK ? part_add(e, json_string_value(el)) : rc;
    }
    if (!json_is_array(el))
        return type_error(err, "String, [String]", el);
    size_t i, used = 0;
    json_t *o;
    json_array_foreach(el, i, o) {
        if (!json_is_string(o))
            return type_error(err, "String", o);
        used += !blank(json_string_value(o));
    }
    if (used == 0)
        return FOLIO_OK;
    int rc = dbuf_append(&e->text, e->text.len > 0 ? " AND (" : "(", e->text.len > 0 ? 6 : 1);
    used = 0;
    json_array_foreach(el, i, o) {
        if (rc != FOLIO_OK || blank(json_string_value(o)))
            continue;
        if (used++ > 0)
            rc = dbuf_append(&e->text, " OR ", 4);
        if (rc == FOLIO_OK)
            rc = part_add(e, json_string_value(o));
    }
    return rc == FOLIO_OK ? dbuf_append(&e->text, ")", 1) : rc;
}

static int
value_add(struct fexpr *e, const json_t *v, struct folio_index_error *err)
{
    if (json_is_null(v))
        return FOLIO_OK;
    if (json_is_string(v))
        return dbuf_append(&e->text, json_string_value(v), json_string_length(v));
    if (!json_is_array(v))
        return type_error(err, "String, Array", v);
    size_t i;
    json_t *el;
    json_array_foreach(v, i, el) {
        int rc = element_add(e, el, err);
        if (rc != FOLIO_OK)
            return rc;
    }
    return FOLIO_OK;
}

/* Parses s as a filter only to check it. */
static int
syntax_check(const char *s, struct folio_index_error *err)
{
    struct fnode *root = NULL;
    int rc = filter_parse(s, &root, err);
    filter_free(root);
    return rc;
}

int
folio_index_filter_from_json(const char *json, size_t len, char **out_expr,
                             struct folio_index_error *err)
{
    struct fexpr e = {0};
    json_t *v = NULL;
    *out_expr = NULL;
    dbuf_init(&e.text, FOLIO_INDEX_FILTER_BYTES_MAX);
    int rc = FOLIO_OK;
    if (len > FOLIO_INDEX_FILTER_BYTES_MAX) {
        rc = index_errorf(err, FOLIO_E_INVALID_SEARCH_FILTER,
                          "The filter is longer than %u bytes.", FOLIO_INDEX_FILTER_BYTES_MAX);
        goto out;
    }
    json_error_t jerr;
    v = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        rc = index_errorf(err, FOLIO_E_INVALID_SEARCH_FILTER, "The filter is not JSON: %s.",
                          jerr.text);
        goto out;
    }
    rc = value_add(&e, v, err);
    if (rc == FOLIO_E_TOO_LARGE)
        rc = index_errorf(err, FOLIO_E_INVALID_SEARCH_FILTER,
                          "The filter is longer than %u bytes.", FOLIO_INDEX_FILTER_BYTES_MAX);
    for (size_t i = 0; i < e.part_count && rc == FOLIO_OK; i++)
        rc = syntax_check(e.parts[i], err);
    if (rc == FOLIO_OK && e.text.len > 0) {
        rc = dbuf_append(&e.text, "", 0); /* room for the NUL */
        if (rc == FOLIO_OK) {
            e.text.data[e.text.len] = '\0';
            rc = syntax_check(e.text.data, err);
        }
    }
    if (rc == FOLIO_OK && e.text.len > 0 && !blank(e.text.data)) {
        *out_expr = e.text.data;
        e.text.data = NULL;
    }
out:
    json_decref(v);
    for (size_t i = 0; i < e.part_count; i++)
        folio_free(e.parts[i]);
    folio_free(e.parts);
    dbuf_release(&e.text);
    return rc;
}

/* ---- matching --------------------------------------------------------------------- */

/* The documents of txn that root (parsed from filter) matches (*out owned). */
static int
filter_matches(MDB_txn *txn, struct folio_index *idx, const char *filter,
               const struct fnode *root, roaring_bitmap_t **out, struct folio_index_error *err)
{
    struct search_config cfg;
    roaring_bitmap_t *universe = NULL;
    *out = NULL;
    if (!idx->has_search)
        return index_errorf(err, FOLIO_E_VERSION,
                            "This index was written in format 1, before filters existed, and is "
                            "open read-only: open it read-write once to build its filters.");
    int rc = search_config_load(txn, idx, &cfg, err);
    if (rc != FOLIO_OK)
        return rc;
    rc = bitmap_get(txn, idx->dbi_meta, META_DOCUMENT_IDS, strlen(META_DOCUMENT_IDS), &universe,
                    err, "document_ids");
    if (rc >= 0) {
        if (universe == NULL)
            universe = roaring_bitmap_create();
        rc = filter_eval(txn, idx, &cfg, filter, root, universe, out, err);
    }
    if (universe != NULL)
        roaring_bitmap_free(universe);
    search_config_release(&cfg);
    return rc;
}

/* ---- fetch --------------------------------------------------------------------------- */

static int
page_emit(MDB_txn *txn, struct folio_index *idx, const roaring_bitmap_t *matched,
          uint64_t offset, uint64_t limit, const char *const *fields, size_t field_count,
          struct dbuf *b, struct folio_index_error *err)
{
    uint64_t total = roaring_bitmap_get_cardinality(matched);
    uint64_t n = offset < total ? total - offset : 0;
    if (n > limit)
        n = limit;
    uint32_t *ids = folio_calloc(n ? (size_t)n : 1, sizeof(uint32_t));
    int rc = dbuf_append(b, "[", 1);
    if (n > 0 && !roaring_bitmap_range_uint32_array(matched, (size_t)offset, (size_t)n, ids))
        rc = index_errorf(err, FOLIO_E_NOMEM, "Out of memory listing the matching documents.");
    for (uint64_t i = 0; i < n && rc == FOLIO_OK; i++) {
        uint8_t key[4];
        index_iid_encode(ids[i], key);
        MDB_val k = {4, key}, v;
        int mrc = mdb_get(txn, idx->dbi_documents, &k, &v);
        if (mrc == MDB_NOTFOUND)
            rc = index_errorf(err, FOLIO_E_CORRUPT,
                              "The filter lists document %u, which is not stored.", ids[i]);
        else if (mrc != 0)
            rc = index_mdb_error(err, mrc, "reading a document");
        if (rc == FOLIO_OK && i > 0)
            rc = dbuf_append(b, ",", 1);
        if (rc == FOLIO_OK)
            rc = read_document_emit(b, &v, fields, field_count, err);
    }
    if (rc == FOLIO_OK)
        rc = dbuf_append(b, "]", 1);
    if (rc == FOLIO_E_TOO_LARGE)
        rc = index_errorf(err, FOLIO_E_TOO_LARGE,
                          "The response would exceed %u bytes; ask for fewer documents.",
                          FOLIO_INDEX_READ_BYTES_MAX);
    folio_free(ids);
    return rc;
}

/*
 * The internal ids of the stored documents among the external ids (*out
 * owned); an id that is not stored, or could not be one, adds nothing.
 */
static int
ids_lookup(MDB_txn *txn, struct folio_index *idx, const char *const *ids, size_t id_count,
           roaring_bitmap_t **out, struct folio_index_error *err)
{
    roaring_bitmap_t *set = roaring_bitmap_create();
    int rc = FOLIO_OK;
    for (size_t i = 0; i < id_count && rc == FOLIO_OK; i++) {
        size_t len = strlen(ids[i]);
        if (!docid_valid(ids[i], len))
            continue;
        MDB_val k = {len, (void *)ids[i]}, v;
        int mrc = mdb_get(txn, idx->dbi_external_ids, &k, &v);
        if (mrc == 0 && v.mv_size != 4)
            mrc = MDB_CORRUPTED;
        if (mrc == 0)
            roaring_bitmap_add(set, index_iid_decode(v.mv_data));
        else if (mrc != MDB_NOTFOUND)
            rc = index_mdb_error(err, mrc, "looking up a document id");
    }
    if (rc != FOLIO_OK) {
        roaring_bitmap_free(set);
        set = NULL;
    }
    *out = set;
    return rc;
}

int
folio_index_documents_fetch(struct folio_index *idx, const char *filter, uint64_t offset,
                            uint64_t limit, const char *const *fields, size_t field_count,
                            char **out_json, size_t *out_len, uint64_t *out_total,
                            struct folio_index_error *err)
{
    return folio_index_documents_fetch_ids(idx, filter, NULL, 0, offset, limit, fields,
                                           field_count, out_json, out_len, out_total, err);
}

int
folio_index_documents_fetch_ids(struct folio_index *idx, const char *filter,
                                const char *const *ids, size_t id_count, uint64_t offset,
                                uint64_t limit, const char *const *fields, size_t field_count,
                                char **out_json, size_t *out_len, uint64_t *out_total,
                                struct folio_index_error *err)
{
    struct fnode *root = NULL;
    *out_json = NULL;
    int rc = filter != NULL ? filter_parse(filter, &root, err) : FOLIO_OK;
    if (rc != FOLIO_OK)
        return rc;
    if (root == NULL && ids == NULL) /* no filter, or a blank one, and no ids: every document */
        return folio_index_documents_get(idx, offset, limit, fields, field_count, out_json,
                                         out_len, out_total, err);
    MDB_txn *txn = NULL;
    roaring_bitmap_t *matched = NULL;
    struct dbuf b;
    dbuf_init(&b, FOLIO_INDEX_READ_BYTES_MAX);
    rc = index_read_begin(idx, &txn, err);
    if (rc == FOLIO_OK) {
        roaring_bitmap_t *listed = NULL;
        if (ids != NULL)
            rc = ids_lookup(txn, idx, ids, id_count, &listed, err);
        if (rc == FOLIO_OK && root != NULL)
            rc = filter_matches(txn, idx, filter, root, &matched, err);
        if (rc == FOLIO_OK && listed != NULL && matched != NULL)
            roaring_bitmap_and_inplace(matched, listed);
        else if (rc == FOLIO_OK && listed != NULL) {
            matched = listed;
            listed = NULL;
        }
        if (listed != NULL)
            roaring_bitmap_free(listed);
        if (rc == FOLIO_OK)
            rc = page_emit(txn, idx, matched, offset, limit, fields, field_count, &b, err);
        index_read_end(idx, txn);
    }
    if (rc == FOLIO_OK)
        rc = read_buffer_finish(&b, out_json, out_len);
    if (rc == FOLIO_OK && out_total != NULL)
        *out_total = roaring_bitmap_get_cardinality(matched);
    if (matched != NULL)
        roaring_bitmap_free(matched);
    dbuf_release(&b);
    filter_free(root);
    return rc;
}

/* ---- delete ------------------------------------------------------------------------- */

struct filter_delete_args {
    const char *filter;
    const struct fnode *root;
    uint64_t deleted;
};

static int
filter_delete_op(struct wtxn *w, void *argp)
{
    struct filter_delete_args *a = argp;
    roaring_bitmap_t *matched = NULL;
    a->deleted = 0;
    int rc = filter_matches(w->txn, w->idx, a->filter, a->root, &matched, w->err);
    if (rc != FOLIO_OK)
        return rc;
    roaring_uint32_iterator_t it;
    roaring_init_iterator(matched, &it);
    /* The set was taken before the first removal: the op's own changes are still pending. */
    for (; it.has_value && rc == FOLIO_OK; roaring_advance_uint32_iterator(&it)) {
        uint8_t iid[4];
        index_iid_encode(it.current_value, iid);
        rc = write_stop_check(w);
        if (rc == FOLIO_OK)
            rc = write_document_remove(w, iid, NULL, 0);
        if (rc == FOLIO_OK)
            a->deleted++;
    }
    roaring_bitmap_free(matched);
    return rc;
}

int
folio_index_documents_delete_by_filter(struct folio_index *idx, const char *filter,
                                       const struct folio_index_marker *marker,
                                       uint64_t *out_deleted, struct folio_index_error *err)
{
    FOLIO_ASSERT(filter != NULL);
    struct fnode *root = NULL;
    int rc = filter_parse(filter, &root, err);
    if (rc == FOLIO_OK && root == NULL)
        rc = index_errorf(err, FOLIO_E_INVALID_SEARCH_FILTER, "The filter cannot be empty.");
    if (rc != FOLIO_OK) {
        filter_free(root);
        return rc;
    }
    struct filter_delete_args a = {.filter = filter, .root = root};
    rc = index_write(idx, filter_delete_op, &a, marker,
                     WRITE_TOUCH | WRITE_DEFER_POSTINGS | WRITE_READS_POSTINGS, err);
    if (rc == FOLIO_OK && out_deleted != NULL)
        *out_deleted = a.deleted;
    filter_free(root);
    return rc;
}
