/*
 * Task content: the kind-specific msgpack map a task_registered event carries
 * (docs/scheduler.md "Task content").
 *
 * Decoding is the one place the rules live: a key the kind does not have, a
 * missing required key, a value of the wrong type or syntax (index uids,
 * document ids, the payload checksum, swaps naming an index twice, matched
 * tasks out of order) are each an error. folio_task_content_check is a decode
 * that throws the result away, and encoding re-decodes what it wrote, so the
 * encoder can never write what the decoder would refuse.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "sched_int.h"

enum cfield {
    CF_METHOD, CF_FORMAT, CF_CSV_DELIMITER, CF_PAYLOAD, CF_PRIMARY_KEY, CF_CONTENT_FILE, CF_CONTENT_BYTES, CF_CONTENT_CHECKSUM,
    CF_DOCUMENTS_COUNT, CF_ALLOW_INDEX_CREATION, CF_IDS, CF_CLEAR, CF_SETTINGS, CF_IS_DELETION,
    CF_NEW_INDEX_UID, CF_SWAPS, CF_QUERY, CF_MATCHED_TASKS, CF_SNAPSHOT_PATH, CF_INDEX_UID,
    CF_FILTER, CF_COUNT
};

static const char *const cfield_names[CF_COUNT] = {
    "method", "format", "csvDelimiter", "payload", "primaryKey", "contentFile", "contentBytes", "contentChecksum", "documentsCount",
    "allowIndexCreation", "ids", "clear", "settings", "isDeletion", "newIndexUid", "swaps",
    "query", "matchedTasks", "snapshotPath", "indexUid", "filter",
};

#define B(f) (1u << CF_##f)

/* Keys each kind may carry, in the order the encoder writes them, and those it must. */
struct kind_rule {
    const enum cfield *order;
    unsigned count;
    uint32_t required;
};

static const enum cfield o_doc_add[] = {CF_METHOD, CF_FORMAT, CF_CSV_DELIMITER, CF_PRIMARY_KEY,
                                        CF_CONTENT_FILE, CF_PAYLOAD,
                                        CF_CONTENT_BYTES, CF_CONTENT_CHECKSUM,
                                        CF_DOCUMENTS_COUNT, CF_ALLOW_INDEX_CREATION};
static const enum cfield o_doc_del[] = {CF_IDS, CF_CLEAR, CF_FILTER};
static const enum cfield o_settings[] = {CF_SETTINGS, CF_IS_DELETION, CF_ALLOW_INDEX_CREATION};
static const enum cfield o_idx_create[] = {CF_PRIMARY_KEY};
static const enum cfield o_idx_update[] = {CF_PRIMARY_KEY, CF_NEW_INDEX_UID};
static const enum cfield o_swap[] = {CF_SWAPS};
static const enum cfield o_query[] = {CF_QUERY, CF_MATCHED_TASKS};
static const enum cfield o_si_create[] = {CF_SNAPSHOT_PATH};
static const enum cfield o_si_import[] = {CF_SNAPSHOT_PATH, CF_INDEX_UID, CF_NEW_INDEX_UID};

#define RULE(arr, req) {arr, FOLIO_ARRAY_LEN(arr), req}
static const struct kind_rule kind_rules[FOLIO_KIND_COUNT] = {
    [FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE] =
        RULE(o_doc_add, B(METHOD) | B(CONTENT_BYTES) | B(CONTENT_CHECKSUM)),
    [FOLIO_KIND_DOCUMENT_DELETION] = RULE(o_doc_del, 0),
    [FOLIO_KIND_SETTINGS_UPDATE] = RULE(o_settings, B(SETTINGS)),
    [FOLIO_KIND_INDEX_CREATION] = RULE(o_idx_create, 0),
    [FOLIO_KIND_INDEX_DELETION] = {NULL, 0, 0},
    [FOLIO_KIND_INDEX_UPDATE] = RULE(o_idx_update, 0),
    [FOLIO_KIND_INDEX_SWAP] = RULE(o_swap, B(SWAPS)),
    [FOLIO_KIND_TASK_CANCELATION] = RULE(o_query, B(QUERY) | B(MATCHED_TASKS)),
    [FOLIO_KIND_TASK_DELETION] = RULE(o_query, B(QUERY) | B(MATCHED_TASKS)),
    [FOLIO_KIND_SNAPSHOT_CREATION] = {NULL, 0, 0},
    [FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION] = RULE(o_si_create, 0),
    [FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT] = RULE(o_si_import, B(SNAPSHOT_PATH)),
};

#define CONTENT_FILE_MAX 128u
#define CONTENT_INLINE_MAX (256u << 10) /* FOLIO_SCHED_INLINE_PAYLOAD_MAX */

/* ---- owned storage of a decoded content -------------------------------- */

struct chunk {
    struct chunk *next;
    _Alignas(16) uint8_t data[];
};

static void *
owned_alloc(struct folio_task_content *c, size_t n)
{
    struct chunk *k = folio_malloc(sizeof(*k) + (n ? n : 1));
    k->next = c->owned_;
    c->owned_ = k;
    return k->data;
}

static struct folio_str
owned_str(struct folio_task_content *c, const uint8_t *p, uint32_t len)
{
    char *s = owned_alloc(c, (size_t)len + 1);
    memcpy(s, p, len);
    s[len] = '\0';
    return (struct folio_str){s, len};
}

void
folio_task_content_clear(struct folio_task_content *c)
{
    if (c == NULL)
        return;
    for (struct chunk *k = c->owned_, *next; k != NULL; k = next) {
        next = k->next;
        folio_free(k);
    }
    memset(c, 0, sizeof(*c));
}

/* ---- decoding ---------------------------------------------------------- */

struct cdec {
    struct folio_task_content *c;
    struct mpr r;
    char *why;
    size_t why_len;
};

__attribute__((format(printf, 2, 3))) static int
fail(struct cdec *d, const char *fmt, ...)
{
    if (d->why != NULL && d->why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->why, d->why_len, fmt, ap);
        va_end(ap);
    }
    return FOLIO_E_DECODE;
}

static bool
is_hex_lower(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

/* A non-empty string key value, optionally with a syntax rule. */
static int
dec_str(struct cdec *d, enum cfield f, struct folio_str *out)
{
    const uint8_t *p;
    uint32_t n;
    if (mpr_str(&d->r, &p, &n) != 0)
        return fail(d, "content key `%s` must be a string", cfield_names[f]);
    if (n == 0 || n > FOLIO_EVENT_STR_MAX)
        return fail(d, "content key `%s` must be 1..%u bytes", cfield_names[f], FOLIO_EVENT_STR_MAX);
    bool ok = true;
    switch (f) {
    case CF_NEW_INDEX_UID:
    case CF_INDEX_UID:
        ok = folio_index_uid_valid((const char *)p, n);
        break;
    case CF_CONTENT_FILE:
        ok = n <= CONTENT_FILE_MAX && folio_document_id_valid((const char *)p, n);
        break;
    case CF_CONTENT_CHECKSUM:
        ok = n == 32 && is_hex_lower(p, n);
        break;
    case CF_METHOD:
        ok = mp_str_eq(p, n, "replace") || mp_str_eq(p, n, "update");
        break;
    case CF_FORMAT:
        ok = mp_str_eq(p, n, "json") || mp_str_eq(p, n, "ndjson") || mp_str_eq(p, n, "csv");
        break;
    case CF_CSV_DELIMITER:
        ok = n == 1 && p[0] >= 0x20 && p[0] < 0x7f && p[0] != '"';
        break;
    default:
        break;
    }
    if (!ok)
        return fail(d, "content key `%s` has an invalid value `%.*s`", cfield_names[f],
                    (int)(n > 64 ? 64 : n), (const char *)p);
    *out = owned_str(d->c, p, n);
    return 0;
}

static int
dec_bool(struct cdec *d, enum cfield f, bool *out)
{
    struct mpv v;
    if (mpr_next(&d->r, &v) != 0 || v.kind != MPK_BOOL)
        return fail(d, "content key `%s` must be a boolean", cfield_names[f]);
    *out = v.b;
    return 0;
}

static int
dec_ids(struct cdec *d)
{
    uint32_t n;
    if (mpr_container(&d->r, MPK_ARRAY, &n) != 0 || n == 0 || n > FOLIO_EVENT_ARRAY_MAX)
        return fail(d, "content key `ids` must be an array of 1..%u document ids",
                    FOLIO_EVENT_ARRAY_MAX);
    struct folio_str *ids = owned_alloc(d->c, (size_t)n * sizeof(*ids));
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p;
        uint32_t len;
        if (mpr_str(&d->r, &p, &len) != 0 || !folio_document_id_valid((const char *)p, len))
            return fail(d, "content key `ids`: item %u is not a valid document id", i);
        ids[i] = owned_str(d->c, p, len);
    }
    d->c->ids = (struct folio_str_array){ids, n};
    return 0;
}

static int
dec_matched(struct cdec *d)
{
    uint32_t n;
    if (mpr_container(&d->r, MPK_ARRAY, &n) != 0 || n > FOLIO_EVENT_ARRAY_MAX)
        return fail(d, "content key `matchedTasks` must be an array of at most %u uids",
                    FOLIO_EVENT_ARRAY_MAX);
    uint64_t *v = owned_alloc(d->c, (size_t)n * sizeof(*v));
    for (uint32_t i = 0; i < n; i++) {
        if (mpr_u64(&d->r, &v[i]) != 0 || v[i] > FOLIO_SCHED_UID_MAX || (i > 0 && v[i] <= v[i - 1]))
            return fail(d, "content key `matchedTasks` must hold strictly ascending task uids");
    }
    d->c->matched_tasks = (struct folio_u64_array){v, n};
    return 0;
}

/* One swap: {indexes: [a, b], rename?: bool}. */
static int
dec_swap(struct cdec *d, uint32_t i, struct folio_task_swap *sw)
{
    uint32_t keys;
    bool have_indexes = false;
    if (mpr_container(&d->r, MPK_MAP, &keys) != 0)
        return fail(d, "content key `swaps`: item %u must be a map", i);
    for (uint32_t k = 0; k < keys; k++) {
        const uint8_t *key;
        uint32_t klen, n;
        if (mpr_str(&d->r, &key, &klen) != 0)
            return fail(d, "content key `swaps`: item %u has a non-string key", i);
        if (mp_str_eq(key, klen, "indexes") && !have_indexes) {
            if (mpr_container(&d->r, MPK_ARRAY, &n) != 0 || n != 2)
                return fail(d, "content key `swaps`: item %u needs `indexes` of two uids", i);
            for (unsigned j = 0; j < 2; j++) {
                const uint8_t *p;
                uint32_t len;
                if (mpr_str(&d->r, &p, &len) != 0 || !folio_index_uid_valid((const char *)p, len))
                    return fail(d, "content key `swaps`: item %u names an invalid index uid", i);
                sw->indexes[j] = owned_str(d->c, p, len);
            }
            have_indexes = true;
        } else if (mp_str_eq(key, klen, "rename")) {
            struct mpv v;
            if (mpr_next(&d->r, &v) != 0 || v.kind != MPK_BOOL)
                return fail(d, "content key `swaps`: item %u: `rename` must be a boolean", i);
            sw->rename = v.b;
        } else {
            return fail(d, "content key `swaps`: item %u has an unknown or repeated key", i);
        }
    }
    if (!have_indexes)
        return fail(d, "content key `swaps`: item %u has no `indexes`", i);
    return 0;
}

static int
dec_swaps(struct cdec *d)
{
    uint32_t n;
    if (mpr_container(&d->r, MPK_ARRAY, &n) != 0 || n > FOLIO_EVENT_ARRAY_MAX / 2)
        return fail(d, "content key `swaps` must be an array of swaps");
    struct folio_task_swap *sw = owned_alloc(d->c, (size_t)n * sizeof(*sw));
    memset(sw, 0, (size_t)n * sizeof(*sw));
    struct strmap seen = {0};
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        rc = dec_swap(d, i, &sw[i]);
        for (unsigned j = 0; j < 2 && rc == 0; j++) {
            struct folio_str *u = &sw[i].indexes[j];
            if (strmap_get(&seen, u->ptr, u->len) != NULL)
                rc = fail(d, "content key `swaps` names index `%s` more than once", u->ptr);
            else
                strmap_put(&seen, u->ptr, u->len, u);
        }
    }
    strmap_free(&seen);
    d->c->swaps = sw;
    d->c->swap_count = n;
    return rc;
}

/* An inline payload: msgpack bin, 1..FOLIO_SCHED_INLINE_PAYLOAD_MAX bytes. */
static int
dec_payload(struct cdec *d)
{
    struct mpv v;
    if (mpr_next(&d->r, &v) != 0 || v.kind != MPK_BIN || v.len == 0 ||
        v.len > CONTENT_INLINE_MAX)
        return fail(d, "content key `payload` must be binary of 1..%u bytes", CONTENT_INLINE_MAX);
    uint8_t *copy = owned_alloc(d->c, v.len);
    memcpy(copy, v.ptr, v.len);
    d->c->payload = copy;
    d->c->payload_len = v.len;
    return 0;
}

static int
dec_settings(struct cdec *d)
{
    const uint8_t *start = d->r.p;
    struct mpv v;
    struct mpr probe = d->r;
    if (mpr_next(&probe, &v) != 0 || v.kind != MPK_MAP ||
        mpr_skip(&d->r, FOLIO_EVENT_OBJECT_DEPTH_MAX) != 0)
        return fail(d, "content key `settings` must be a map");
    size_t n = (size_t)(d->r.p - start);
    uint8_t *copy = owned_alloc(d->c, n);
    memcpy(copy, start, n);
    d->c->settings = (struct folio_object){copy, (uint32_t)n};
    return 0;
}

static int
dec_field(struct cdec *d, enum cfield f)
{
    struct folio_task_content *c = d->c;
    switch (f) {
    case CF_METHOD: {
        struct folio_str m;
        int rc = dec_str(d, f, &m);
        c->method = rc == 0 && strcmp(m.ptr, "update") == 0 ? FOLIO_DOC_UPDATE : FOLIO_DOC_REPLACE;
        return rc;
    }
    case CF_FORMAT: {
        struct folio_str m;
        int rc = dec_str(d, f, &m);
        if (rc == 0)
            c->format = strcmp(m.ptr, "csv") == 0      ? FOLIO_DOC_CSV
                        : strcmp(m.ptr, "ndjson") == 0 ? FOLIO_DOC_NDJSON
                                                       : FOLIO_DOC_JSON;
        return rc;
    }
    case CF_CSV_DELIMITER: {
        struct folio_str m;
        int rc = dec_str(d, f, &m);
        if (rc == 0)
            c->csv_delimiter = m.ptr[0];
        return rc;
    }
    case CF_PAYLOAD: return dec_payload(d);
    case CF_PRIMARY_KEY: return dec_str(d, f, &c->primary_key);
    case CF_CONTENT_FILE: return dec_str(d, f, &c->content_file);
    case CF_CONTENT_CHECKSUM: return dec_str(d, f, &c->content_checksum);
    case CF_NEW_INDEX_UID: return dec_str(d, f, &c->new_index_uid);
    case CF_QUERY: return dec_str(d, f, &c->query);
    case CF_SNAPSHOT_PATH: return dec_str(d, f, &c->snapshot_path);
    case CF_INDEX_UID: return dec_str(d, f, &c->index_uid);
    case CF_FILTER: return dec_str(d, f, &c->filter);
    case CF_CONTENT_BYTES:
        return mpr_u64(&d->r, &c->content_bytes) == 0 ? 0 : fail(d, "content key `contentBytes` must be an unsigned integer");
    case CF_DOCUMENTS_COUNT:
        c->documents_count_set = true;
        return mpr_u64(&d->r, &c->documents_count) == 0 ? 0 : fail(d, "content key `documentsCount` must be an unsigned integer");
    case CF_ALLOW_INDEX_CREATION:
        c->allow_index_creation_set = true;
        return dec_bool(d, f, &c->allow_index_creation);
    case CF_CLEAR: return dec_bool(d, f, &c->clear);
    case CF_IS_DELETION: return dec_bool(d, f, &c->is_deletion);
    case CF_IDS: return dec_ids(d);
    case CF_MATCHED_TASKS: return dec_matched(d);
    case CF_SWAPS: return dec_swaps(d);
    case CF_SETTINGS: return dec_settings(d);
    default: return fail(d, "internal: unknown content field");
    }
}

static int
dec_key(struct cdec *d, const struct kind_rule *rule, enum cfield *out)
{
    const uint8_t *key;
    uint32_t klen;
    if (mpr_str(&d->r, &key, &klen) != 0)
        return fail(d, "content has a key that is not a string");
    for (unsigned i = 0; i < rule->count; i++) {
        if (mp_str_eq(key, klen, cfield_names[rule->order[i]])) {
            *out = rule->order[i];
            return 0;
        }
    }
    return fail(d, "content of a %s task has no key `%.*s`", folio_task_kind_name(d->c->kind),
                (int)(klen > 64 ? 64 : klen), (const char *)key);
}

static int
dec_cross_rules(struct cdec *d)
{
    struct folio_task_content *c = d->c;
    if (c->kind == FOLIO_KIND_DOCUMENT_DELETION) {
        if ((c->ids.count > 0) + c->clear + (c->filter.len > 0) != 1)
            return fail(d, "documentDeletion content needs one of `ids`, `clear: true` or "
                           "`filter`");
    }
    if (c->kind == FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE) {
        if ((c->content_file.len > 0) == (c->payload != NULL))
            return fail(d, "documentAdditionOrUpdate content needs either `contentFile` or "
                           "`payload`");
        if (c->payload != NULL && c->content_bytes != c->payload_len)
            return fail(d, "content key `contentBytes` must equal the inline payload's size");
        if (c->csv_delimiter != 0 && c->format != FOLIO_DOC_CSV)
            return fail(d, "content key `csvDelimiter` needs `format: \"csv\"`");
    }
    return 0;
}

int
content_decode(enum folio_task_kind kind, const uint8_t *buf, size_t len,
               struct folio_task_content *c, char *why, size_t why_len)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    struct cdec d = {c, {buf, len ? buf + len : buf}, why, why_len};
    if ((unsigned)kind >= FOLIO_KIND_COUNT)
        return fail(&d, "unknown task kind %d", (int)kind);
    const struct kind_rule *rule = &kind_rules[kind];
    uint32_t seen = 0, keys = 0;
    int rc = 0;
    if (len > 0) {
        struct mpv v;
        if (len > FOLIO_EVENT_OBJECT_BYTES_MAX || !mp_one_value(buf, len, FOLIO_EVENT_OBJECT_DEPTH_MAX) ||
            mpr_next(&d.r, &v) != 0 || (v.kind != MPK_MAP && v.kind != MPK_NIL)) {
            rc = fail(&d, "content is not one msgpack map");
            goto out;
        }
        keys = v.kind == MPK_MAP ? v.len : 0;
    }
    for (uint32_t i = 0; i < keys && rc == 0; i++) {
        enum cfield f = CF_COUNT;
        rc = dec_key(&d, rule, &f);
        if (rc != 0)
            break;
        FOLIO_ASSERT(f < CF_COUNT);
        if ((seen & (1u << f)) != 0)
            rc = fail(&d, "content key `%s` is repeated", cfield_names[f]);
        seen |= 1u << f;
        if (rc == 0)
            rc = dec_field(&d, f);
    }
    for (unsigned i = 0; i < rule->count && rc == 0; i++) {
        enum cfield f = rule->order[i];
        if ((rule->required & (1u << f)) != 0 && (seen & (1u << f)) == 0)
            rc = fail(&d, "content of a %s task needs key `%s`", folio_task_kind_name(kind),
                      cfield_names[f]);
    }
    if (rc == 0)
        rc = dec_cross_rules(&d);
out:
    if (rc != 0) {
        folio_task_content_clear(c);
        c->kind = kind;
    }
    return rc;
}

int
folio_task_content_decode(enum folio_task_kind kind, const uint8_t *buf, size_t len,
                          struct folio_task_content *c)
{
    return content_decode(kind, buf, len, c, NULL, 0);
}

int
folio_task_content_check(enum folio_task_kind kind, const uint8_t *buf, size_t len, char *why,
                         size_t why_len)
{
    struct folio_task_content c;
    int rc = content_decode(kind, buf, len, &c, why, why_len);
    folio_task_content_clear(&c);
    return rc;
}

/* ---- encoding ---------------------------------------------------------- */

static bool
content_has(const struct folio_task_content *c, const struct kind_rule *rule, enum cfield f)
{
    if ((rule->required & (1u << f)) != 0)
        return true;
    switch (f) {
    case CF_FORMAT: return c->format != FOLIO_DOC_JSON;
    case CF_CSV_DELIMITER: return c->csv_delimiter != 0;
    case CF_CONTENT_FILE: return c->content_file.len > 0;
    case CF_PAYLOAD: return c->payload != NULL;
    case CF_PRIMARY_KEY: return c->primary_key.len > 0;
    case CF_DOCUMENTS_COUNT: return c->documents_count_set;
    case CF_ALLOW_INDEX_CREATION: return c->allow_index_creation_set;
    case CF_IDS: return c->ids.count > 0;
    case CF_CLEAR: return c->clear;
    case CF_IS_DELETION: return c->is_deletion;
    case CF_NEW_INDEX_UID: return c->new_index_uid.len > 0;
    case CF_SNAPSHOT_PATH: return c->snapshot_path.len > 0;
    case CF_INDEX_UID: return c->index_uid.len > 0;
    case CF_FILTER: return c->filter.len > 0;
    default: return false;
    }
}

static void
enc_swaps(struct mpw *w, const struct folio_task_swap *sw, uint32_t n)
{
    mpw_array(w, n);
    for (uint32_t i = 0; i < n; i++) {
        mpw_map(w, sw[i].rename ? 2 : 1);
        mpw_cstr(w, "indexes");
        mpw_array(w, 2);
        mpw_fstr(w, sw[i].indexes[0]);
        mpw_fstr(w, sw[i].indexes[1]);
        if (sw[i].rename) {
            mpw_cstr(w, "rename");
            mpw_bool(w, true);
        }
    }
}

static void
enc_field(struct mpw *w, const struct folio_task_content *c, enum cfield f)
{
    mpw_cstr(w, cfield_names[f]);
    switch (f) {
    case CF_METHOD: mpw_cstr(w, c->method == FOLIO_DOC_UPDATE ? "update" : "replace"); break;
    case CF_FORMAT:
        mpw_cstr(w, c->format == FOLIO_DOC_CSV ? "csv" : c->format == FOLIO_DOC_NDJSON ? "ndjson" : "json");
        break;
    case CF_CSV_DELIMITER: mpw_str(w, &c->csv_delimiter, 1); break;
    case CF_PAYLOAD: mpw_bin(w, c->payload, c->payload_len); break;
    case CF_PRIMARY_KEY: mpw_fstr(w, c->primary_key); break;
    case CF_CONTENT_FILE: mpw_fstr(w, c->content_file); break;
    case CF_CONTENT_BYTES: mpw_u64(w, c->content_bytes); break;
    case CF_CONTENT_CHECKSUM: mpw_fstr(w, c->content_checksum); break;
    case CF_DOCUMENTS_COUNT: mpw_u64(w, c->documents_count); break;
    case CF_ALLOW_INDEX_CREATION: mpw_bool(w, c->allow_index_creation); break;
    case CF_IDS:
        mpw_array(w, c->ids.count);
        for (uint32_t i = 0; i < c->ids.count; i++)
            mpw_fstr(w, c->ids.items[i]);
        break;
    case CF_CLEAR: mpw_bool(w, c->clear); break;
    case CF_SETTINGS:
        if (c->settings.len > 0)
            mpw_raw(w, c->settings.ptr, c->settings.len);
        else
            mpw_nil(w); /* refused by the check below */
        break;
    case CF_IS_DELETION: mpw_bool(w, c->is_deletion); break;
    case CF_NEW_INDEX_UID: mpw_fstr(w, c->new_index_uid); break;
    case CF_SWAPS: enc_swaps(w, c->swaps, c->swap_count); break;
    case CF_QUERY: mpw_fstr(w, c->query); break;
    case CF_MATCHED_TASKS:
        mpw_array(w, c->matched_tasks.count);
        for (uint32_t i = 0; i < c->matched_tasks.count; i++)
            mpw_u64(w, c->matched_tasks.items[i]);
        break;
    case CF_SNAPSHOT_PATH: mpw_fstr(w, c->snapshot_path); break;
    case CF_INDEX_UID: mpw_fstr(w, c->index_uid); break;
    case CF_FILTER: mpw_fstr(w, c->filter); break;
    default: FOLIO_ASSERT(!"unknown content field");
    }
}

int
folio_task_content_encode(const struct folio_task_content *c, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if ((unsigned)c->kind >= FOLIO_KIND_COUNT)
        return FOLIO_E_INVALID;
    const struct kind_rule *rule = &kind_rules[c->kind];
    uint32_t n = 0;
    for (unsigned i = 0; i < rule->count; i++)
        n += content_has(c, rule, rule->order[i]);
    if (n == 0)
        return 0;
    struct mpw w;
    mpw_init(&w, FOLIO_EVENT_OBJECT_BYTES_MAX);
    mpw_map(&w, n);
    for (unsigned i = 0; i < rule->count; i++)
        if (content_has(c, rule, rule->order[i]))
            enc_field(&w, c, rule->order[i]);
    if (w.err != 0) {
        int err = w.err;
        mpw_free(&w);
        return err;
    }
    size_t blen;
    uint8_t *buf = mpw_take(&w, &blen);
    if (folio_task_content_check(c->kind, buf, blen, NULL, 0) != 0) {
        folio_free(buf);
        return FOLIO_E_INVALID;
    }
    *out = buf;
    *len = blen;
    return 0;
}

/* ---- the indexes a task touches ---------------------------------------- */

static int
push_uid(struct folio_str *out, uint32_t out_max, uint32_t *n, struct folio_str u)
{
    if (*n >= out_max)
        return FOLIO_E_TOO_LARGE;
    out[(*n)++] = u;
    return 0;
}

static bool
str_eq(struct folio_str a, struct folio_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

int
folio_task_content_index_uids(const struct folio_task_content *c, struct folio_str index_uid,
                              struct folio_str *out, uint32_t out_max, uint32_t *count)
{
    uint32_t n = 0;
    int rc = 0;
    *count = 0;
    if (c->kind == FOLIO_KIND_INDEX_SWAP) {
        for (uint32_t i = 0; i < c->swap_count && rc == 0; i++) {
            rc = push_uid(out, out_max, &n, c->swaps[i].indexes[0]);
            if (rc == 0)
                rc = push_uid(out, out_max, &n, c->swaps[i].indexes[1]);
        }
    } else if (c->kind == FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT) {
        /* The target: newIndexUid, else indexUid, else what registration read in the manifest. */
        struct folio_str target = c->new_index_uid.len ? c->new_index_uid : c->index_uid;
        if (target.len == 0)
            target = index_uid;
        if (target.len == 0 || (index_uid.len > 0 && !str_eq(index_uid, target)))
            return FOLIO_E_INVALID;
        rc = push_uid(out, out_max, &n, target);
    } else if (folio_task_kind_one_index(c->kind)) {
        if (!folio_index_uid_valid(index_uid.ptr, index_uid.len))
            return FOLIO_E_INVALID;
        rc = push_uid(out, out_max, &n, index_uid);
        if (rc == 0 && c->kind == FOLIO_KIND_INDEX_UPDATE && c->new_index_uid.len > 0) {
            if (str_eq(c->new_index_uid, index_uid))
                return FOLIO_E_INVALID;
            rc = push_uid(out, out_max, &n, c->new_index_uid);
        }
    } else if (index_uid.len > 0) {
        return FOLIO_E_INVALID;
    }
    if (rc == 0)
        *count = n;
    return rc;
}
