/*
 * facetDistribution and facetStats of a search (Meilisearch's `facets`),
 * from the `facets` database and the search's candidates, in the search's
 * read transaction.
 *
 * The asked attributes must be filterable, otherwise invalid_search_facets
 * with Meilisearch's message (v1.13's wording). "*" stands for every
 * filterable attribute (with filterableAttributes ["*"], every attribute path
 * that holds a value), and then the other names are not checked. They are
 * answered sorted, each once (Meilisearch keeps them in a BTreeMap); one that
 * no document holds is left out.
 *
 * For each attribute, facetDistribution lists the values that at least one
 * candidate holds, with how many candidates hold each: numbers first, in
 * numeric order, then strings, in the order of their facet normal form, at
 * most FACET_VALUES_MAX in all (Meilisearch's default maxValuesPerFacet,
 * values sorted "alpha"). A number is named as Rust prints an f64 ("1990",
 * "0.5", never an exponent); a string by its spelling in the first candidate
 * (internal id order) holding it, as Meilisearch names a value by one
 * document's original. facetStats: for each attribute with at least one
 * number among the candidates, the smallest and the largest.
 *
 * Two ways to the same answer (test_facets_scan_equals_walk):
 *  - the key scan reads `facets` in key order: one posting list decoded and
 *    intersected per value met (until FACET_VALUES_MAX are listed), a
 *    backward scan for the largest number, one document parsed per string
 *    listed (for its spelling). Cheap when most values are held by some
 *    candidate;
 *  - the document walk parses every candidate and sorts what it finds: cheap
 *    when few documents match an attribute of many values, where the scan
 *    would visit key after key that none of them holds.
 * Each attribute starts with the scan and switches to the walk once the scan
 * has visited more keys than the walk would cost (see budget_set).
 */
#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

#define FACET_VALUES_MAX 100
/* values_of and number_max: the scan has used its budget (no error code is positive). */
#define SCAN_OVER_BUDGET 1
#define FACET_KEY_BYTES_MAX (INDEX_PATH_BYTES_MAX + 2 + INDEX_FACET_STRING_BYTES_MAX + 8)

struct facet_run {
    MDB_txn *txn;
    struct folio_index *idx;
    const roaring_bitmap_t *candidates;
    uint64_t candidate_count;
    uint64_t budget;  /* keys one attribute's scan may visit; 0: no bound */
    uint64_t visited; /* keys visited by the current attribute's scan */
    struct folio_index_error *err;
};

/* ---- which attributes ---------------------------------------------------------- */

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends a copy of name (len bytes) to the list. */
static void
names_add(char ***list, size_t *count, size_t *cap, const char *name, size_t len)
{
    if (*count == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        *list = folio_reallocarray(*list, *cap, sizeof(char *));
    }
    (*list)[(*count)++] = folio_strndup(name, len);
}

/* Sorts the list and drops repeated names. */
static void
names_sort_unique(char **list, size_t *count)
{
    if (*count == 0)
        return;
    qsort(list, *count, sizeof(char *), name_cmp);
    size_t kept = 1;
    for (size_t i = 1; i < *count; i++) {
        if (strcmp(list[i], list[kept - 1]) == 0)
            folio_free(list[i]);
        else
            list[kept++] = list[i];
    }
    *count = kept;
}

static void
names_free(char **list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        folio_free(list[i]);
    folio_free(list);
}

/* Every attribute path with a key in `facets` (filterableAttributes ["*"]). */
static int
paths_all(struct facet_run *r, char ***list, size_t *count, size_t *cap)
{
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(r->txn, r->idx->dbi_facets, &cur);
    if (mrc != 0)
        return index_mdb_error(r->err, mrc, "reading the facets");
    uint8_t next[INDEX_PATH_BYTES_MAX + 2];
    MDB_val k, v;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;) {
        const uint8_t *nul = memchr(k.mv_data, 0, k.mv_size);
        size_t len = nul != NULL ? (size_t)(nul - (const uint8_t *)k.mv_data) : k.mv_size;
        if (len > INDEX_PATH_BYTES_MAX) /* never written so */
            break;
        names_add(list, count, cap, k.mv_data, len);
        /* The next path: path 01 sorts after every `path 00 ...` and before `path.x`. */
        memcpy(next, k.mv_data, len);
        next[len] = 1;
        k.mv_size = len + 1;
        k.mv_data = next;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }
    mdb_cursor_close(cur);
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return index_mdb_error(r->err, mrc, "reading the facets");
    return FOLIO_OK;
}

/* Meilisearch's message for facets that are not filterable. */
static int
not_filterable(const struct search_config *cfg, char **bad, size_t bad_count,
               struct folio_index_error *err)
{
    if (cfg->filterable_count == 0)
        return index_errorf(err, FOLIO_E_INVALID_SEARCH_FACETS,
                            "Invalid facet distribution, this index does not have configured "
                            "filterable attributes.");
    char msg[sizeof(err->message)];
    size_t n = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < sizeof(msg))                                                                       \
            n += (size_t)snprintf(msg + n, sizeof(msg) - n, __VA_ARGS__);                          \
    } while (0)
    ADD("Invalid facet distribution, %s `", bad_count == 1 ? "attribute" : "attributes");
    for (size_t i = 0; i < bad_count; i++)
        ADD("%s%.100s", i > 0 ? ", " : "", bad[i]);
    ADD("` %s not filterable. The available filterable %s `", bad_count == 1 ? "is" : "are",
        cfg->filterable_count == 1 ? "attribute is" : "attributes are");
    for (size_t i = 0; i < cfg->filterable_count; i++)
        ADD("%s%.100s", i > 0 ? ", " : "", cfg->filterable[i]);
    ADD("`.");
#undef ADD
    return index_errorf(err, FOLIO_E_INVALID_SEARCH_FACETS, "%s", msg);
}

/* The asked names, checked, "*" expanded, sorted and unique (*out owned). */
static int
names_resolve(struct facet_run *r, const struct search_config *cfg, const char *const *asked,
              size_t asked_count, char ***out, size_t *out_count)
{
    char **list = NULL, **bad = NULL;
    size_t count = 0, cap = 0, bad_count = 0, bad_cap = 0;
    int rc = FOLIO_OK;
    bool star = false;
    for (size_t i = 0; i < asked_count; i++) {
        size_t len = strlen(asked[i]);
        if (strcmp(asked[i], "*") == 0)
            star = true;
        else if (search_config_filterable(cfg, asked[i], len))
            names_add(&list, &count, &cap, asked[i], len);
        else
            names_add(&bad, &bad_count, &bad_cap, asked[i], len);
    }
    if (star) { /* every filterable attribute; the other names are not checked (Meilisearch) */
        names_free(list, count);
        list = NULL;
        count = cap = 0;
    }
    if (bad_count > 0 && !star) {
        names_sort_unique(bad, &bad_count);
        rc = not_filterable(cfg, bad, bad_count, r->err);
    } else if (star && cfg->filterable_all) {
        rc = paths_all(r, &list, &count, &cap);
    } else if (star) {
        for (size_t i = 0; i < cfg->filterable_count; i++)
            names_add(&list, &count, &cap, cfg->filterable[i], strlen(cfg->filterable[i]));
    }
    names_free(bad, bad_count);
    if (rc != FOLIO_OK) {
        names_free(list, count);
        return rc;
    }
    names_sort_unique(list, &count);
    *out = list;
    *out_count = count;
    return FOLIO_OK;
}

/* ---- values ---------------------------------------------------------------------- */

static double
number_decode(const uint8_t in[8])
{
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | in[i];
    bits = (bits >> 63) ? bits & ~(1ull << 63) : ~bits;
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

/*
 * v as Rust's Display prints an f64: the fewest significant digits that read
 * back to v, positional (no exponent), no ".0" for an integer.
 */
static void
facet_number_name(double v, char *out, size_t cap)
{
    char e[48];
    for (int p = 1; p <= 17; p++) {
        snprintf(e, sizeof(e), "%.*e", p - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e is [-]d[.ddd]e(+|-)xx: collect the digits and the exponent. */
    char digits[24];
    size_t n = 0;
    const char *s = e;
    bool negative = *s == '-';
    if (negative)
        s++;
    for (; *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && n < sizeof(digits))
            digits[n++] = *s;
    int exp10 = atoi(s + 1);
    while (n > 1 && digits[n - 1] == '0') /* %.*e pads with zeros */
        n--;
    size_t o = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (o + 1 < cap)                                                                           \
            out[o++] = (c);                                                                        \
    } while (0)
    if (negative && !(n == 1 && digits[0] == '0'))
        PUT('-');
    if (exp10 < 0) {
        PUT('0');
        PUT('.');
        for (int z = 0; z < -exp10 - 1; z++)
            PUT('0');
        for (size_t i = 0; i < n; i++)
            PUT(digits[i]);
    } else {
        for (size_t i = 0; i < n || (int)i <= exp10; i++) {
            if ((int)i == exp10 + 1)
                PUT('.');
            PUT(i < n ? digits[i] : '0');
        }
    }
#undef PUT
    out[o] = '\0';
}

/*
 * Calls fn for every scalar at `path` in a document: arrays are walked
 * through (their elements share the path), as postings.c indexes them.
 */
typedef bool (*leaf_fn)(void *ctx, const json_t *v); /* true: stop */

struct path_walk {
    const char *path;
    size_t path_len;
    char cur[INDEX_PATH_BYTES_MAX + 1];
    size_t cur_len;
    leaf_fn fn;
    void *ctx;
    bool stop;
};

static void walk_node(struct path_walk *w, const json_t *v);

static void
walk_members(struct path_walk *w, const json_t *obj)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        size_t saved = w->cur_len, dot = saved > 0, n = strlen(key);
        if (saved + dot + n > INDEX_PATH_BYTES_MAX)
            continue;
        if (dot)
            w->cur[saved] = '.';
        memcpy(w->cur + saved + dot, key, n);
        w->cur_len = saved + dot + n;
        /* Only down toward the path sought (a key may hold dots itself). */
        /* (An empty top-level key adds nothing to the path, as in postings.c's path_push.) */
        if (w->cur_len <= w->path_len && memcmp(w->cur, w->path, w->cur_len) == 0 &&
            (w->cur_len == 0 || w->cur_len == w->path_len || w->path[w->cur_len] == '.'))
            walk_node(w, value);
        w->cur_len = saved;
        if (w->stop)
            return;
    }
}

static void
walk_node(struct path_walk *w, const json_t *v)
{
    if (json_is_object(v))
        walk_members(w, v);
    else if (json_is_array(v))
        for (size_t i = 0; i < json_array_size(v) && !w->stop; i++)
            walk_node(w, json_array_get(v, i));
    else if (w->cur_len == w->path_len)
        w->stop = w->fn(w->ctx, v);
}

static void
walk_document(const json_t *doc, const char *path, size_t path_len, leaf_fn fn, void *ctx)
{
    struct path_walk w = {.path = path, .path_len = path_len, .fn = fn, .ctx = ctx};
    if (json_is_object(doc))
        walk_members(&w, doc);
}

/* The facet string of a string or boolean node into norm; false for other nodes. */
static bool
leaf_string(const json_t *v, char norm[INDEX_FACET_STRING_BYTES_MAX], size_t *n)
{
    if (json_is_string(v) && !json_is_u64(v))
        return text_facet_string(json_string_value(v), json_string_length(v), norm, n) == 0;
    if (json_is_boolean(v)) {
        *n = json_is_true(v) ? 4 : 5;
        memcpy(norm, json_is_true(v) ? "true" : "false", *n);
        return true;
    }
    return false;
}

/* The name of a string or boolean node: its text, "true" or "false"; owned. */
static char *
leaf_name(const json_t *v)
{
    if (json_is_string(v))
        return folio_strndup(json_string_value(v), json_string_length(v));
    return folio_strdup(json_is_true(v) ? "true" : "false");
}

struct orig_find {
    const char *norm; /* facet normal form sought */
    size_t norm_len;
    const json_t *found;
};

static bool
orig_leaf(void *ctx, const json_t *v)
{
    struct orig_find *f = ctx;
    char norm[INDEX_FACET_STRING_BYTES_MAX];
    size_t n = 0;
    if (leaf_string(v, norm, &n) && n == f->norm_len && memcmp(norm, f->norm, n) == 0)
        f->found = v;
    return f->found != NULL;
}

/* Document iid parsed (*out NULL when it is not stored or does not parse). */
static int
document_load(struct facet_run *r, uint32_t iid, json_t **out)
{
    uint8_t key[4];
    index_iid_encode(iid, key);
    MDB_val k = {4, key}, v;
    *out = NULL;
    int mrc = mdb_get(r->txn, r->idx->dbi_documents, &k, &v);
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return index_mdb_error(r->err, mrc, "reading a document");
    if (mrc == 0) {
        json_error_t jerr;
        *out = json_in_load(v.mv_data, v.mv_size, 0, &jerr);
    }
    return FOLIO_OK;
}

/*
 * The name of a string value: its spelling at `path` in document iid (the
 * facet string itself when the document does not have it, which a sound
 * index never shows). *out owned.
 */
static int
string_name(struct facet_run *r, uint32_t iid, const char *path, size_t path_len,
            const char *norm, size_t norm_len, char **out)
{
    json_t *doc = NULL;
    int rc = document_load(r, iid, &doc);
    if (rc != FOLIO_OK)
        return rc;
    struct orig_find f = {.norm = norm, .norm_len = norm_len};
    if (doc != NULL)
        walk_document(doc, path, path_len, orig_leaf, &f);
    *out = f.found != NULL ? leaf_name(f.found) : folio_strndup(norm, norm_len);
    json_decref(doc);
    return FOLIO_OK;
}

/* Key prefix `path 00 type`; its length. */
static size_t
prefix_of(const char *path, size_t path_len, char type, uint8_t *key)
{
    memcpy(key, path, path_len);
    key[path_len] = 0;
    key[path_len + 1] = (uint8_t)type;
    return path_len + 2;
}

/* Whether any document holds the attribute at all (a key `path 00 ...` exists). */
static int
path_present(struct facet_run *r, MDB_cursor *cur, const char *path, bool *present)
{
    uint8_t prefix[INDEX_PATH_BYTES_MAX + 1];
    size_t len = strlen(path);
    *present = false;
    if (len > INDEX_PATH_BYTES_MAX)
        return FOLIO_OK;
    memcpy(prefix, path, len);
    prefix[len] = 0;
    MDB_val k = {len + 1, prefix}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return index_mdb_error(r->err, mrc, "reading the facets");
    *present = mrc == 0 && k.mv_size > len && memcmp(k.mv_data, prefix, len + 1) == 0;
    return FOLIO_OK;
}

/* The largest number among the candidates, scanning back from the end of the prefix. */
static int
number_max(struct facet_run *r, MDB_cursor *cur, const uint8_t *prefix, size_t plen, double *max)
{
    uint8_t end[FACET_KEY_BYTES_MAX];
    memcpy(end, prefix, plen);
    end[plen - 1] = (uint8_t)(FACET_NUMBER + 1); /* just past every key of the prefix */
    MDB_val k = {plen, end}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    mrc = mrc == 0              ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
          : mrc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
                                : mrc;
    int rc = FOLIO_OK;
    for (; mrc == 0 && rc == FOLIO_OK; mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        if (k.mv_size != plen + 8 || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (r->budget > 0 && ++r->visited > r->budget)
            return SCAN_OVER_BUDGET;
        roaring_bitmap_t *bm = NULL;
        rc = bitmap_decode(v.mv_data, v.mv_size, &bm, r->err, INDEX_DB_FACETS);
        if (rc != FOLIO_OK)
            break;
        bool held = roaring_bitmap_intersect(bm, r->candidates);
        roaring_bitmap_free(bm);
        if (held) {
            *max = number_decode((const uint8_t *)k.mv_data + plen);
            return FOLIO_OK;
        }
    }
    if (rc == FOLIO_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(r->err, mrc, "reading the facets");
    return rc;
}

/*
 * The values of one type of one attribute into vals (name -> count) while it
 * has fewer than FACET_VALUES_MAX names (two values of one name, as 12 and
 * "12", count as one name, the later count replacing the earlier, as in
 * Meilisearch's map); the numbers' smallest and largest into *stats (NULL:
 * none). SCAN_OVER_BUDGET when the scan has visited r->budget keys.
 */
static int
values_of(struct facet_run *r, MDB_cursor *cur, const char *path, json_t *vals, char type,
          json_t **stats)
{
    uint8_t prefix[INDEX_PATH_BYTES_MAX + 2];
    size_t path_len = strlen(path);
    if (path_len > INDEX_PATH_BYTES_MAX)
        return FOLIO_OK; /* such paths are never indexed */
    size_t plen = prefix_of(path, path_len, type, prefix);
    MDB_val k = {plen, prefix}, v;
    int rc = FOLIO_OK, mrc;
    bool any = false, stopped = false;
    double min = 0, max = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && rc == FOLIO_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (json_object_size(vals) >= FACET_VALUES_MAX) {
            stopped = true;
            break;
        }
        if (r->budget > 0 && ++r->visited > r->budget) {
            rc = SCAN_OVER_BUDGET; /* the documents will be quicker */
            break;
        }
        roaring_bitmap_t *bm = NULL;
        rc = bitmap_decode(v.mv_data, v.mv_size, &bm, r->err, INDEX_DB_FACETS);
        if (rc != FOLIO_OK)
            break;
        uint64_t held = roaring_bitmap_and_cardinality(bm, r->candidates);
        const uint8_t *val = (const uint8_t *)k.mv_data + plen;
        size_t vlen = k.mv_size - plen;
        char *name = NULL;
        if (held > 0 && type == FACET_NUMBER && vlen == 8) {
            double d = number_decode(val);
            char text[400];
            facet_number_name(d, text, sizeof(text));
            name = folio_strdup(text);
            if (!any)
                min = d;
            max = d;
            any = true;
        } else if (held > 0 && type == FACET_STRING) {
            roaring_bitmap_t *both = roaring_bitmap_and(bm, r->candidates);
            rc = string_name(r, roaring_bitmap_minimum(both), path, path_len, (const char *)val,
                             vlen, &name);
            roaring_bitmap_free(both);
        }
        roaring_bitmap_free(bm);
        if (name != NULL) {
            json_object_set_new(vals, name, json_integer((json_int_t)held));
            folio_free(name);
        }
    }
    if (rc == FOLIO_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(r->err, mrc, "reading the facets");
    if (rc == FOLIO_OK && type == FACET_NUMBER && stopped)
        rc = number_max(r, cur, prefix, plen, &max); /* the first number is the smallest */
    if (rc == FOLIO_OK && type == FACET_NUMBER && any && stats != NULL)
        *stats = json_pack("{s:f,s:f}", "min", min, "max", max);
    return rc;
}

/* ---- few candidates: from their documents ------------------------------------------- */

/*
 * One value of one candidate: its key in the order of `facets` (type byte,
 * then the encoded number or the facet string) in r->pool, the candidate,
 * and for strings the spelling in r->pool.
 */
struct occ {
    uint32_t doc;
    uint32_t seq;       /* order met in the walk: a document's first spelling wins */
    uint32_t key_off, key_len;
    uint32_t name_off, name_len;
};

struct doc_walk {
    struct occ *occs;
    size_t count, cap;
    char *pool;
    size_t pool_len, pool_cap;
    uint32_t doc;
};

static uint32_t
pool_add(struct doc_walk *w, const void *p, size_t n)
{
    if (n == 0)
        return (uint32_t)w->pool_len;
    if (w->pool_len + n > w->pool_cap) {
        w->pool_cap = (w->pool_len + n) * 2 + 4096;
        w->pool = folio_realloc(w->pool, w->pool_cap);
    }
    memcpy(w->pool + w->pool_len, p, n);
    w->pool_len += n;
    return (uint32_t)(w->pool_len - n);
}

static bool
occ_leaf(void *ctx, const json_t *v)
{
    struct doc_walk *w = ctx;
    uint8_t key[1 + INDEX_FACET_STRING_BYTES_MAX];
    size_t n = 0;
    struct occ o = {.doc = w->doc, .seq = (uint32_t)w->count};
    if (json_is_u64(v) || json_is_number(v)) {
        key[0] = FACET_NUMBER;
        facet_number_encode(facet_number_value(v), key + 1);
        n = 1 + 8;
    } else if (leaf_string(v, (char *)key + 1, &n)) {
        key[0] = FACET_STRING;
        n += 1;
        char *name = leaf_name(v);
        o.name_len = (uint32_t)strlen(name);
        o.name_off = pool_add(w, name, o.name_len);
        folio_free(name);
    } else {
        return false;
    }
    o.key_off = pool_add(w, key, n);
    o.key_len = (uint32_t)n;
    if (w->count == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 256;
        w->occs = folio_reallocarray(w->occs, w->cap, sizeof(*w->occs));
    }
    w->occs[w->count++] = o;
    return false;
}

/* Key order (as `facets` sorts them), then candidate, then order met. */
static int
occ_cmp(const void *a, const void *b, void *ctx)
{
    const struct occ *x = a, *y = b;
    const char *pool = ctx;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(pool + x->key_off, pool + y->key_off, n);
    if (c == 0)
        c = (x->key_len > y->key_len) - (x->key_len < y->key_len);
    if (c == 0)
        c = (x->doc > y->doc) - (x->doc < y->doc);
    if (c == 0)
        c = (x->seq > y->seq) - (x->seq < y->seq);
    return c;
}

/*
 * values_of for both types at once, from the candidates' documents: what the
 * key scan would answer, in the same order and with the same names.
 */
static int
values_walked(struct facet_run *r, const char *path, json_t *vals, json_t **stats)
{
    struct doc_walk w = {0};
    size_t path_len = strlen(path);
    int rc = FOLIO_OK;
    roaring_uint32_iterator_t it;
    roaring_init_iterator(r->candidates, &it);
    for (; it.has_value && rc == FOLIO_OK; roaring_advance_uint32_iterator(&it)) {
        json_t *doc = NULL;
        rc = document_load(r, it.current_value, &doc);
        w.doc = it.current_value;
        if (doc != NULL)
            walk_document(doc, path, path_len, occ_leaf, &w);
        json_decref(doc);
    }
    if (rc == FOLIO_OK && w.count > 0)
        qsort_r(w.occs, w.count, sizeof(*w.occs), occ_cmp, w.pool);
    bool any = false;
    double min = 0, max = 0;
    for (size_t i = 0; i < w.count && rc == FOLIO_OK;) {
        const struct occ *first = &w.occs[i];
        uint64_t held = 0;
        uint32_t last_doc = 0;
        size_t j = i;
        for (; j < w.count && w.occs[j].key_len == first->key_len &&
               memcmp(w.pool + w.occs[j].key_off, w.pool + first->key_off, first->key_len) == 0;
             j++) {
            held += j == i || w.occs[j].doc != last_doc; /* a document counts once */
            last_doc = w.occs[j].doc;
        }
        const uint8_t *key = (const uint8_t *)w.pool + first->key_off;
        char *name = NULL;
        if (key[0] == FACET_NUMBER) {
            double d = number_decode(key + 1);
            if (!any)
                min = d;
            max = d;
            any = true;
            if (json_object_size(vals) < FACET_VALUES_MAX) {
                char text[400];
                facet_number_name(d, text, sizeof(text));
                name = folio_strdup(text);
            }
        } else if (json_object_size(vals) < FACET_VALUES_MAX) {
            name = folio_strndup(w.pool + first->name_off, first->name_len); /* lowest candidate */
        }
        if (name != NULL) {
            json_object_set_new(vals, name, json_integer((json_int_t)held));
            folio_free(name);
        }
        i = j;
    }
    if (rc == FOLIO_OK && any)
        *stats = json_pack("{s:f,s:f}", "min", min, "max", max);
    folio_free(w.occs);
    folio_free(w.pool);
    return rc;
}

/*
 * Facets read `facets` key by key, but when few documents match and the
 * attribute has many values, most keys hold none of them: the scan of one
 * attribute may then visit at most FACET_SCAN_PER_CANDIDATE x candidates +
 * FACET_SCAN_SLACK keys before it is dropped for a walk of the candidates'
 * documents (at most FACET_WALK_CANDIDATES_MAX of them), so that the scan
 * wasted costs about what the walk does: at worst twice the better way. FOLIO_INDEX_FACET_WALK=always|never
 * forces one way, for tests and measurements.
 */
#define FACET_SCAN_SLACK 256u
#define FACET_SCAN_PER_CANDIDATE 16u /* a key costs about 1/16 of a parsed document */
#define FACET_WALK_CANDIDATES_MAX 5000u

/* Sets the scan's budget; false: walk the documents straight away. */
static bool
budget_set(struct facet_run *r)
{
    const char *mode = getenv("FOLIO_INDEX_FACET_WALK");
    r->visited = 0;
    if (mode != NULL && strcmp(mode, "always") == 0)
        return false;
    if (mode != NULL && strcmp(mode, "never") == 0)
        r->budget = 0;
    else
        r->budget = r->candidate_count <= FACET_WALK_CANDIDATES_MAX
                        ? FACET_SCAN_PER_CANDIDATE * r->candidate_count + FACET_SCAN_SLACK
                        : 0;
    return true;
}

/* One attribute's values and stats, by key scan or, past the budget, by document walk. */
static int
attribute_values(struct facet_run *r, MDB_cursor *cur, const char *path, json_t **out_vals,
                 json_t **out_stats)
{
    json_t *vals = json_object(), *st = NULL;
    int rc = SCAN_OVER_BUDGET;
    if (budget_set(r)) {
        rc = values_of(r, cur, path, vals, FACET_NUMBER, &st);
        if (rc == FOLIO_OK)
            rc = values_of(r, cur, path, vals, FACET_STRING, NULL);
    }
    if (rc == SCAN_OVER_BUDGET) {
        json_decref(vals);
        json_decref(st);
        vals = json_object();
        st = NULL;
        rc = values_walked(r, path, vals, &st);
    }
    if (rc != FOLIO_OK) {
        json_decref(vals);
        json_decref(st);
        return rc;
    }
    *out_vals = vals;
    *out_stats = st;
    return FOLIO_OK;
}

int
facets_compute(MDB_txn *txn, struct folio_index *idx, const struct search_config *cfg,
               const char *const *asked, size_t asked_count, const roaring_bitmap_t *candidates,
               json_t **out_distribution, json_t **out_stats, struct folio_index_error *err)
{
    struct facet_run r = {.txn = txn,
                          .idx = idx,
                          .candidates = candidates,
                          .candidate_count = roaring_bitmap_get_cardinality(candidates),
                          .err = err};
    char **names = NULL;
    size_t count = 0;
    *out_distribution = *out_stats = NULL;
    int rc = names_resolve(&r, cfg, asked, asked_count, &names, &count);
    if (rc != FOLIO_OK)
        return rc;
    MDB_cursor *cur = NULL;
    if (count > 0) {
        int mrc = mdb_cursor_open(txn, idx->dbi_facets, &cur);
        if (mrc != 0)
            rc = index_mdb_error(err, mrc, "reading the facets");
    }
    json_t *dist = json_object(), *stats = json_object();
    for (size_t i = 0; i < count && rc == FOLIO_OK; i++) {
        /* An attribute no document holds is left out, as Meilisearch leaves out unknown fields. */
        bool present = false;
        rc = path_present(&r, cur, names[i], &present);
        if (rc != FOLIO_OK || !present)
            continue;
        json_t *vals = NULL, *st = NULL;
        rc = attribute_values(&r, cur, names[i], &vals, &st);
        if (rc != FOLIO_OK)
            break;
        json_object_set_new(dist, names[i], vals);
        if (st != NULL)
            json_object_set_new(stats, names[i], st);
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    names_free(names, count);
    if (rc != FOLIO_OK) {
        json_decref(dist);
        json_decref(stats);
        return rc;
    }
    *out_distribution = dist;
    *out_stats = stats;
    return FOLIO_OK;
}
