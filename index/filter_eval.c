/*
 * Evaluating a parsed filter (filter_parse.c) against the `facets` database:
 * each condition becomes the bitmap of the documents it holds for, combined
 * with AND (intersection), OR (union) and NOT (the universe - every
 * document - minus it).
 *
 * Semantics, as Meilisearch's:
 *   - every attribute of the filter must be filterable (checked first, in
 *     the order they appear; the first one that is not is the error);
 *   - `a = v` holds when a has the string v (compared in facet normal form:
 *     NFKC, case folded, trimmed) or, when v reads as a finite number, the
 *     number v; `a != v` is NOT (a = v), so it also holds where a is missing;
 *   - `>`, `>=`, `<`, `<=` and `TO` compare numbers when the values read as
 *     numbers, and strings (bytewise, in facet normal form) in any case;
 *   - `a IN [x, y]` is a = x OR a = y; `a EXISTS` holds when the document
 *     has the attribute, whatever its value (null and [] included).
 * A value reads as a number when it is a decimal with an optional sign,
 * fraction and exponent (1, -2.5, 3e8): what Rust's f64 parser accepts,
 * without inf and NaN.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

struct feval {
    MDB_txn *txn;
    struct folio_index *idx;
    const roaring_bitmap_t *universe;
    struct folio_index_error *err;
};

/* ---- filterability ------------------------------------------------------- */

static int
not_filterable(const struct search_config *cfg, const char *filter, const struct ftoken *attr,
               struct folio_index_error *err)
{
    char list[320];
    size_t n = 0;
    list[0] = '\0';
    for (size_t i = 0; i < cfg->filterable_count && n < sizeof(list); i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s`%s`", i > 0 ? ", " : "",
                              cfg->filterable[i]);
    if (cfg->filterable_count == 0)
        return filter_error(err, filter, attr->start, attr->end,
                            "Attribute `%.100s` is not filterable. This index does not have "
                            "configured filterable attributes.",
                            attr->text);
    return filter_error(err, filter, attr->start, attr->end,
                        "Attribute `%.100s` is not filterable. Available filterable attributes "
                        "are: %s.",
                        attr->text, list);
}

static int
check_filterable(const struct search_config *cfg, const char *filter, const struct fnode *n,
                 struct folio_index_error *err)
{
    if (n->kind == FN_AND || n->kind == FN_OR || n->kind == FN_NOT) {
        for (size_t i = 0; i < n->kid_count; i++) {
            int rc = check_filterable(cfg, filter, n->kids[i], err);
            if (rc != FOLIO_OK)
                return rc;
        }
        return FOLIO_OK;
    }
    if (!search_config_filterable(cfg, n->attr.text, n->attr.len))
        return not_filterable(cfg, filter, &n->attr, err);
    return FOLIO_OK;
}

/* ---- values ------------------------------------------------------------------ */

static bool
number_of(const struct ftoken *t, double *out)
{
    const char *s = t->text;
    size_t i = 0, digits = 0;
    if (s[i] == '+' || s[i] == '-')
        i++;
    for (; s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (s[i] == '.')
        for (i++; s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (digits == 0)
        return false;
    if (s[i] == 'e' || s[i] == 'E') {
        size_t exp_digits = 0;
        i++;
        if (s[i] == '+' || s[i] == '-')
            i++;
        for (; s[i] >= '0' && s[i] <= '9'; i++)
            exp_digits++;
        if (exp_digits == 0)
            return false;
    }
    if (i != t->len)
        return false;
    *out = strtod(s, NULL);
    return isfinite(*out);
}

/* Facet key prefix of attr and type into key; its length, or 0 when attr is too long. */
static size_t
facet_prefix(const struct ftoken *attr, char type, uint8_t *key)
{
    if (attr->len > INDEX_PATH_BYTES_MAX || memchr(attr->text, '\0', attr->len) != NULL)
        return 0;
    memcpy(key, attr->text, attr->len);
    key[attr->len] = 0;
    key[attr->len + 1] = (uint8_t)type;
    return attr->len + 2;
}

/* The facet string of a token; false when it is not UTF-8 (cannot happen: checked). */
static bool
string_of(const struct ftoken *t, uint8_t *out, size_t *len)
{
    return text_facet_string(t->text, t->len, (char *)out, len) == FOLIO_OK;
}

#define FACET_KEY_MAX (INDEX_PATH_BYTES_MAX + 2 + INDEX_FACET_STRING_BYTES_MAX + 8)

/* ORs into acc the list of one exact facet key. */
static int
or_key(struct feval *e, const uint8_t *key, size_t len, roaring_bitmap_t *acc)
{
    roaring_bitmap_t *bm = NULL;
    int rc = bitmap_get(e->txn, e->idx->dbi_facets, key, len, &bm, e->err, INDEX_DB_FACETS);
    if (rc <= 0)
        return rc;
    roaring_bitmap_or_inplace(acc, bm);
    roaring_bitmap_free(bm);
    return FOLIO_OK;
}

static int
eval_equal(struct feval *e, const struct ftoken *attr, const struct ftoken *value,
           roaring_bitmap_t *acc)
{
    uint8_t key[FACET_KEY_MAX];
    size_t n = facet_prefix(attr, FACET_STRING, key), vlen = 0;
    if (n == 0)
        return FOLIO_OK;
    int rc = FOLIO_OK;
    if (string_of(value, key + n, &vlen))
        rc = or_key(e, key, n + vlen, acc);
    double d;
    if (rc == FOLIO_OK && number_of(value, &d)) {
        key[n - 1] = FACET_NUMBER;
        facet_number_encode(d, key + n);
        rc = or_key(e, key, n + 8, acc);
    }
    return rc;
}

/* A bound of a range: value bytes, and whether it is included; NULL data: open. */
struct bound {
    const uint8_t *data;
    size_t len;
    bool inclusive;
};

static int
bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c != 0 ? c : (an > bn) - (an < bn);
}

/* ORs into acc the lists of the keys prefix+value with lo <= value <= hi. */
static int
or_range(struct feval *e, const uint8_t *prefix, size_t plen, struct bound lo, struct bound hi,
         roaring_bitmap_t *acc)
{
    uint8_t start[FACET_KEY_MAX];
    MDB_cursor *cur;
    memcpy(start, prefix, plen);
    if (lo.data != NULL)
        memcpy(start + plen, lo.data, lo.len);
    MDB_val k = {plen + (lo.data != NULL ? lo.len : 0), start}, v;
    int mrc = mdb_cursor_open(e->txn, e->idx->dbi_facets, &cur);
    if (mrc != 0)
        return index_mdb_error(e->err, mrc, "reading the facets");
    int rc = FOLIO_OK;
    roaring_bitmap_t **found = NULL; /* ORed at once at the end: faster than one by one */
    size_t count = 0, cap = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && rc == FOLIO_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        const uint8_t *val = (const uint8_t *)k.mv_data + plen;
        size_t vlen = k.mv_size - plen;
        if (lo.data != NULL && !lo.inclusive && bytes_cmp(val, vlen, lo.data, lo.len) == 0)
            continue;
        if (hi.data != NULL) {
            int c = bytes_cmp(val, vlen, hi.data, hi.len);
            if (c > 0 || (c == 0 && !hi.inclusive))
                break;
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            found = folio_reallocarray(found, cap + 1, sizeof(*found));
        }
        rc = bitmap_decode(v.mv_data, v.mv_size, &found[count], e->err, INDEX_DB_FACETS);
        count += rc == FOLIO_OK;
    }
    mdb_cursor_close(cur);
    if (count > 0) {
        found[count++] = acc;
        roaring_bitmap_t *all = roaring_bitmap_or_many(count, (const roaring_bitmap_t **)found);
        if (!roaring_bitmap_overwrite(acc, all))
            FOLIO_PANIC("out of memory"); /* as folio_malloc does */
        roaring_bitmap_free(all);
        count--;
    }
    for (size_t i = 0; i < count; i++)
        roaring_bitmap_free(found[i]);
    folio_free(found);
    if (rc == FOLIO_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(e->err, mrc, "reading the facets");
    return rc;
}

/* lo/hi: the range's values (NULL: open), for numbers and for strings. */
static int
eval_range(struct feval *e, const struct ftoken *attr, const struct ftoken *lo, bool lo_incl,
           const struct ftoken *hi, bool hi_incl, roaring_bitmap_t *acc)
{
    uint8_t prefix[INDEX_PATH_BYTES_MAX + 2], lo_b[INDEX_FACET_STRING_BYTES_MAX + 8],
        hi_b[INDEX_FACET_STRING_BYTES_MAX + 8];
    size_t plen = facet_prefix(attr, FACET_NUMBER, prefix);
    if (plen == 0)
        return FOLIO_OK;
    struct bound l = {NULL, 0, lo_incl}, h = {NULL, 0, hi_incl};
    double dl = 0, dh = 0;
    int rc = FOLIO_OK;
    if ((lo == NULL || number_of(lo, &dl)) && (hi == NULL || number_of(hi, &dh))) {
        if (lo != NULL) {
            facet_number_encode(dl, lo_b);
            l.data = lo_b;
            l.len = 8;
        }
        if (hi != NULL) {
            facet_number_encode(dh, hi_b);
            h.data = hi_b;
            h.len = 8;
        }
        rc = or_range(e, prefix, plen, l, h, acc);
    }
    prefix[plen - 1] = FACET_STRING;
    l.data = h.data = NULL;
    if (lo != NULL && string_of(lo, lo_b, &l.len))
        l.data = lo_b;
    if (hi != NULL && string_of(hi, hi_b, &h.len))
        h.data = hi_b;
    if (rc == FOLIO_OK)
        rc = or_range(e, prefix, plen, l, h, acc);
    return rc;
}

static int eval_node(struct feval *e, const struct fnode *n, roaring_bitmap_t **out);

static int
eval_condition(struct feval *e, const struct fnode *n, roaring_bitmap_t *acc)
{
    const struct ftoken *a = &n->attr, *v = n->values;
    uint8_t key[FACET_KEY_MAX];
    switch (n->kind) {
    case FN_EQ:
        return eval_equal(e, a, v, acc);
    case FN_IN: {
        int rc = FOLIO_OK;
        for (size_t i = 0; i < n->value_count && rc == FOLIO_OK; i++)
            rc = eval_equal(e, a, &v[i], acc);
        return rc;
    }
    case FN_EXISTS: {
        size_t len = facet_prefix(a, FACET_EXISTS, key);
        return len == 0 ? FOLIO_OK : or_key(e, key, len, acc);
    }
    case FN_GT: return eval_range(e, a, v, false, NULL, false, acc);
    case FN_GE: return eval_range(e, a, v, true, NULL, false, acc);
    case FN_LT: return eval_range(e, a, NULL, false, v, false, acc);
    case FN_LE: return eval_range(e, a, NULL, false, v, true, acc);
    case FN_TO: return eval_range(e, a, &v[0], true, &v[1], true, acc);
    default: break;
    }
    FOLIO_PANIC("filter node kind %d is not a condition", (int)n->kind);
}

/* *out: the documents n holds for (owned). */
static int
eval_node(struct feval *e, const struct fnode *n, roaring_bitmap_t **out)
{
    int rc = FOLIO_OK;
    roaring_bitmap_t *acc = NULL, *kid = NULL;
    switch (n->kind) {
    case FN_AND:
    case FN_OR:
        for (size_t i = 0; i < n->kid_count && rc == FOLIO_OK; i++) {
            rc = eval_node(e, n->kids[i], &kid);
            if (rc != FOLIO_OK)
                break;
            if (acc == NULL)
                acc = kid;
            else if (n->kind == FN_AND)
                roaring_bitmap_and_inplace(acc, kid);
            else
                roaring_bitmap_or_inplace(acc, kid);
            if (acc != kid)
                roaring_bitmap_free(kid);
            kid = NULL;
        }
        break;
    case FN_NOT:
    case FN_NE:
        if (n->kind == FN_NOT) {
            rc = eval_node(e, n->kids[0], &kid);
        } else {
            kid = roaring_bitmap_create();
            rc = eval_equal(e, &n->attr, n->values, kid);
        }
        if (rc == FOLIO_OK)
            acc = roaring_bitmap_andnot(e->universe, kid);
        break;
    default:
        acc = roaring_bitmap_create();
        rc = eval_condition(e, n, acc);
        break;
    }
    if (kid != NULL)
        roaring_bitmap_free(kid);
    if (rc != FOLIO_OK && acc != NULL) {
        roaring_bitmap_free(acc);
        acc = NULL;
    }
    *out = acc;
    return rc;
}

int
filter_eval(MDB_txn *txn, struct folio_index *idx, const struct search_config *cfg,
            const char *filter, const struct fnode *root, const roaring_bitmap_t *universe,
            roaring_bitmap_t **out, struct folio_index_error *err)
{
    *out = NULL;
    int rc = check_filterable(cfg, filter, root, err);
    if (rc != FOLIO_OK)
        return rc;
    struct feval e = {.txn = txn, .idx = idx, .universe = universe, .err = err};
    return eval_node(&e, root, out);
}
