/*
 * The field distribution (Meilisearch's `fieldDistribution`): for each
 * top-level field name, the number of documents that have it, kept in the
 * `fields` database (docs/index-format.md, "`fields`") so stats are exact and
 * cheap at any size.
 *
 * Invariants kept here:
 *   - after every committed write of a format-3 env, `fields` holds exactly
 *     one entry per countable top-level name of the stored documents, its
 *     value the number of documents having it (u64 LE, never 0: an entry
 *     that reaches 0 is deleted); folio_index_verify recounts and compares;
 *   - a write records +1/-1 per name as documents enter (add) and leave
 *     (replace, merge, delete) in a tally kept in its wtxn, and applies it in
 *     the same transaction (fields_write_finish, from search_write_finish),
 *     or early when the tally grows past FIELDS_PENDING_MAX names; a failed
 *     write throws the tally away with the transaction;
 *   - in a batch, a document write's tally travels with its posting-list
 *     change set (search_write_defer): merged into the batch's once the write
 *     has committed into the parent, applied to the parent whenever the
 *     batch's lists are (search_store.c says when), so `fields` is read,
 *     written and checked once per name per batch instead of once per task.
 *     A write that applies its own tally early applies the batch's pending
 *     changes to its transaction first (search_batch_into_write), as one
 *     whose change set fills up does: deltas add up in any order, but a
 *     count must never go below 0 on the way;
 *   - a replace of a document by one with the same fields changes nothing on
 *     disk: its -1 and +1 meet in the tally.
 *
 * Keys: the name's UTF-8 bytes (1-511); the empty name is the single byte
 * 00, which no other name holds (documents never contain U+0000). A name
 * longer than INDEX_FIELD_NAME_BYTES_MAX bytes cannot be an LMDB key and is
 * not counted.
 */
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

#define FIELDS_PENDING_MAX 4096u /* names in a write's tally before it is applied early */

struct field_entry {
    char *name; /* NUL-terminated copy; NULL = free slot */
    size_t len;
    uint64_t hash;
    int64_t count; /* a delta in a write's tally, a count in verify's */
};

struct field_tally {
    struct field_entry *slots; /* open addressing, linear probing */
    size_t cap;                /* a power of two */
    size_t count;
};

struct field_tally *
field_tally_new(void)
{
    struct field_tally *t = folio_calloc(1, sizeof(*t));
    t->cap = 64;
    t->slots = folio_calloc(t->cap, sizeof(*t->slots));
    return t;
}

static void
tally_reset(struct field_tally *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        folio_free(t->slots[i].name);
        memset(&t->slots[i], 0, sizeof(t->slots[i]));
    }
    t->count = 0;
}

void
field_tally_free(struct field_tally *t)
{
    if (t == NULL)
        return;
    tally_reset(t);
    folio_free(t->slots);
    folio_free(t);
}

static void
tally_grow(struct field_tally *t)
{
    struct field_entry *old = t->slots;
    size_t old_cap = t->cap;
    t->cap *= 2;
    t->slots = folio_calloc(t->cap, sizeof(*t->slots));
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].name == NULL)
            continue;
        size_t j = old[i].hash & (t->cap - 1);
        while (t->slots[j].name != NULL)
            j = (j + 1) & (t->cap - 1);
        t->slots[j] = old[i];
    }
    folio_free(old);
}

/* The entry of name, or NULL; with create, a new entry (count 0) when absent. */
static struct field_entry *
tally_find(struct field_tally *t, const char *name, size_t len, bool create)
{
    if (create && (t->count + 1) * 2 > t->cap)
        tally_grow(t);
    uint64_t h = XXH3_64bits(name, len);
    size_t i = h & (t->cap - 1);
    for (; t->slots[i].name != NULL; i = (i + 1) & (t->cap - 1)) {
        struct field_entry *e = &t->slots[i];
        if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0)
            return e;
    }
    if (!create)
        return NULL;
    struct field_entry *e = &t->slots[i];
    e->name = folio_strndup(name, len);
    e->len = len;
    e->hash = h;
    e->count = 0;
    t->count++;
    return e;
}

void
field_tally_doc(struct field_tally *t, const json_t *doc, int64_t delta)
{
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)doc, name, v)
    {
        size_t len = strlen(name);
        if (len <= INDEX_FIELD_NAME_BYTES_MAX)
            tally_find(t, name, len, true)->count += delta;
    }
}

/* ---- keys and values ---------------------------------------------------------------- */

static MDB_val
field_key(const struct field_entry *e)
{
    MDB_val k = {e->len, e->name};
    if (e->len == 0)
        k = (MDB_val){1, "\0"};
    return k;
}

/* The name a stored key stands for, checked: 0 and *len, or FOLIO_E_CORRUPT. */
static int
field_name(const MDB_val *k, const char **name, size_t *len, struct folio_index_error *err)
{
    const char *p = k->mv_data;
    if (k->mv_size == 1 && p[0] == '\0') {
        *name = "";
        *len = 0;
        return FOLIO_OK;
    }
    if (k->mv_size == 0 || k->mv_size > INDEX_FIELD_NAME_BYTES_MAX ||
        memchr(p, '\0', k->mv_size) != NULL)
        return index_errorf(err, FOLIO_E_CORRUPT, "A `fields` key is not a field name.");
    *name = p;
    *len = k->mv_size;
    return FOLIO_OK;
}

static int
field_count_decode(const MDB_val *v, uint64_t *count, struct folio_index_error *err)
{
    if (v->mv_size != 8)
        return index_errorf(err, FOLIO_E_CORRUPT, "A `fields` value is %zu bytes long.",
                            v->mv_size);
    *count = folio_load_le64(v->mv_data);
    if (*count == 0)
        return index_errorf(err, FOLIO_E_CORRUPT, "A `fields` entry counts 0 documents.");
    return FOLIO_OK;
}

/* ---- writes --------------------------------------------------------------------------- */

int
fields_dbi_open(MDB_txn *txn, struct folio_index *idx, bool create, struct folio_index_error *err)
{
    idx->has_fields = false;
    int rc = mdb_dbi_open(txn, INDEX_DB_FIELDS, create ? MDB_CREATE : 0, &idx->dbi_fields);
    if (rc == MDB_NOTFOUND)
        return index_errorf(err, FOLIO_E_CORRUPT,
                            "The index is damaged: the `%s` database is missing.", INDEX_DB_FIELDS);
    if (rc == MDB_INCOMPATIBLE)
        return index_errorf(err, FOLIO_E_CORRUPT, "The `%s` database is not a folio one.",
                            INDEX_DB_FIELDS);
    if (rc != 0)
        return index_mdb_error(err, rc, "opening the fields database");
    idx->has_fields = true;
    return FOLIO_OK;
}

/* One name's delta, through cur (a cursor on `fields`): one lookup, then a write in place. */
static int
entry_apply(MDB_cursor *cur, const struct field_entry *e, struct folio_index_error *err)
{
    MDB_val k = field_key(e), v;
    uint64_t stored = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
    bool found = rc == 0;
    if (found) {
        rc = field_count_decode(&v, &stored, err);
        if (rc != FOLIO_OK)
            return rc;
    } else if (rc != MDB_NOTFOUND) {
        return index_mdb_error(err, rc, "reading the field distribution");
    }
    if (e->count < 0 && (uint64_t)-e->count > stored)
        return index_errorf(err, FOLIO_E_CORRUPT,
                            "The field distribution counts %llu documents with `%.200s`, fewer "
                            "than leave.",
                            (unsigned long long)stored, e->name);
    uint64_t now = e->count < 0 ? stored - (uint64_t)-e->count : stored + (uint64_t)e->count;
    k = field_key(e);
    if (now == 0) {
        rc = found ? mdb_cursor_del(cur, 0) : 0;
    } else {
        uint8_t b[8];
        folio_store_le64(b, now);
        v = (MDB_val){sizeof(b), b};
        /* found: the same 8 bytes' place, overwritten where it is */
        rc = mdb_cursor_put(cur, &k, &v, found ? MDB_CURRENT : 0);
    }
    if (rc != 0)
        return index_mdb_error(err, rc, "writing the field distribution");
    return FOLIO_OK;
}

/* Adds the tally's deltas to `fields` (the tally stays as it is). */
int
field_tally_apply(const struct field_tally *t, MDB_txn *txn, MDB_dbi dbi,
                  struct folio_index_error *err)
{
    int rc = FOLIO_OK;
    if (t->count == 0)
        return FOLIO_OK;
    MDB_cursor *cur = NULL;
    int mrc = mdb_cursor_open(txn, dbi, &cur);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "writing the field distribution");
    for (size_t i = 0; i < t->cap && rc == FOLIO_OK; i++) {
        const struct field_entry *e = &t->slots[i];
        if (e->name != NULL && e->count != 0)
            rc = entry_apply(cur, e, err);
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Adds the tally's deltas to `fields` and empties it. */
static int
tally_apply(struct field_tally *t, MDB_txn *txn, MDB_dbi dbi, struct folio_index_error *err)
{
    int rc = field_tally_apply(t, txn, dbi, err);
    tally_reset(t);
    return rc;
}

void
field_tally_merge(struct field_tally *dst, struct field_tally *src)
{
    for (size_t i = 0; i < src->cap; i++) {
        const struct field_entry *e = &src->slots[i];
        if (e->name != NULL && e->count != 0)
            tally_find(dst, e->name, e->len, true)->count += e->count;
    }
    tally_reset(src);
}

bool
field_tally_full(const struct field_tally *t)
{
    return t->count >= FIELDS_PENDING_MAX;
}

bool
field_tally_reusable(const struct field_tally *t)
{
    return t->count == 0 && t->cap <= 256;
}

int
fields_doc_changed(struct wtxn *w, const json_t *doc, bool add)
{
    FOLIO_ASSERT(w->idx->has_fields);
    if (w->fields == NULL && w->defer && w->idx->batch_postings != NULL)
        w->fields = postings_spare_fields(w->idx->batch_postings); /* one a merged write left */
    if (w->fields == NULL)
        w->fields = field_tally_new();
    field_tally_doc(w->fields, doc, add ? 1 : -1);
    if (w->fields->count >= FIELDS_PENDING_MAX) {
        int rc = search_batch_into_write(w); /* the batch's earlier deltas first */
        if (rc == FOLIO_OK)
            rc = tally_apply(w->fields, w->txn, w->idx->dbi_fields, w->err);
        return rc;
    }
    return FOLIO_OK;
}

int
fields_write_finish(struct wtxn *w)
{
    int rc = FOLIO_OK;
    if (w->fields != NULL)
        rc = tally_apply(w->fields, w->txn, w->idx->dbi_fields, w->err);
    fields_write_discard(w);
    return rc;
}

void
fields_write_discard(struct wtxn *w)
{
    field_tally_free(w->fields);
    w->fields = NULL;
}

int
fields_clear(struct wtxn *w)
{
    FOLIO_ASSERT(w->idx->has_fields);
    fields_write_discard(w); /* whatever was recorded is about nothing now */
    int rc = mdb_drop(w->txn, w->idx->dbi_fields, 0);
    if (rc != 0)
        return index_mdb_error(w->err, rc, "emptying the field distribution");
    return FOLIO_OK;
}

int
fields_upgrade(struct wtxn *w)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = fields_dbi_open(w->txn, w->idx, true, w->err);
    if (rc == FOLIO_OK)
        rc = fields_clear(w); /* a format-1 env of this build may hold one already */
    if (rc != FOLIO_OK)
        return rc;
    int mrc = mdb_cursor_open(w->txn, w->idx->dbi_documents, &cur);
    for (mrc = mrc ? mrc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == FOLIO_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        json_error_t jerr;
        json_t *doc = json_in_load(v.mv_data, v.mv_size, 0, &jerr);
        if (doc == NULL || !json_is_object(doc))
            rc = index_errorf(w->err, FOLIO_E_CORRUPT, "A stored document is damaged.");
        else
            rc = fields_doc_changed(w, doc, true);
        json_decref(doc);
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (rc == FOLIO_OK && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(w->err, mrc, "reading the documents");
    if (rc == FOLIO_OK)
        rc = fields_write_finish(w);
    if (rc == FOLIO_OK)
        rc = meta_put_format(w->txn, w->idx->dbi_meta, w->err);
    return rc;
}

/* ---- reads ---------------------------------------------------------------------------- */

int
fields_verify(MDB_txn *txn, struct folio_index *idx, struct field_tally *counted,
              struct folio_index_error *err)
{
    if (!idx->has_fields)
        return FOLIO_OK; /* a format-2 env open read-only keeps none */
    MDB_cursor *cur;
    MDB_val k, v;
    int mrc = mdb_cursor_open(txn, idx->dbi_fields, &cur);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "verifying the field distribution");
    int rc = FOLIO_OK;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == FOLIO_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *name = "";
        size_t len = 0;
        uint64_t stored = 0;
        rc = field_name(&k, &name, &len, err);
        if (rc == FOLIO_OK)
            rc = field_count_decode(&v, &stored, err);
        if (rc != FOLIO_OK)
            break;
        struct field_entry *e = tally_find(counted, name, len, false);
        uint64_t have = e != NULL ? (uint64_t)e->count : 0;
        if (have != stored)
            rc = index_errorf(err, FOLIO_E_CORRUPT,
                              "The field distribution says %llu documents have `%.*s`; %llu do.",
                              (unsigned long long)stored, (int)(len > 200 ? 200 : len), name,
                              (unsigned long long)have);
        else
            e->count = -1; /* matched */
    }
    mdb_cursor_close(cur);
    if (rc == FOLIO_OK && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(err, mrc, "verifying the field distribution");
    for (size_t i = 0; i < counted->cap && rc == FOLIO_OK; i++) {
        const struct field_entry *e = &counted->slots[i];
        if (e->name != NULL && e->count > 0)
            rc = index_errorf(err, FOLIO_E_CORRUPT,
                              "%lld documents have `%.200s`; the field distribution misses it.",
                              (long long)e->count, e->name);
    }
    return rc;
}

int
fields_stats_fill(MDB_txn *txn, struct folio_index *idx, struct folio_index_stats *s,
                  struct folio_index_error *err)
{
    MDB_stat st;
    MDB_cursor *cur;
    MDB_val k, v;
    s->has_field_distribution = idx->has_fields;
    if (!idx->has_fields)
        return FOLIO_OK;
    int mrc = mdb_stat(txn, idx->dbi_fields, &st);
    if (mrc == 0)
        mrc = mdb_cursor_open(txn, idx->dbi_fields, &cur);
    if (mrc != 0)
        return index_mdb_error(err, mrc, "reading the field distribution");
    size_t cap =
        st.ms_entries < FOLIO_INDEX_STATS_FIELDS_MAX ? st.ms_entries : FOLIO_INDEX_STATS_FIELDS_MAX;
    s->field_names = folio_calloc(cap ? cap : 1, sizeof(*s->field_names));
    s->field_documents = folio_calloc(cap ? cap : 1, sizeof(*s->field_documents));
    int rc = FOLIO_OK;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == FOLIO_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (s->field_count == cap) {
            s->field_distribution_truncated = true;
            break;
        }
        const char *name = "";
        size_t len = 0;
        uint64_t count = 0;
        rc = field_name(&k, &name, &len, err);
        if (rc == FOLIO_OK)
            rc = field_count_decode(&v, &count, err);
        if (rc != FOLIO_OK)
            break;
        s->field_names[s->field_count] = folio_strndup(name, len);
        s->field_documents[s->field_count] = count;
        s->field_count++;
    }
    mdb_cursor_close(cur);
    if (rc == FOLIO_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = index_mdb_error(err, mrc, "reading the field distribution");
    return rc;
}

void
fields_stats_release(struct folio_index_stats *s)
{
    for (size_t i = 0; i < s->field_count; i++)
        folio_free(s->field_names[i]);
    folio_free(s->field_names);
    folio_free(s->field_documents);
    s->field_names = NULL;
    s->field_documents = NULL;
    s->field_count = 0;
}
