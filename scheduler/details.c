/*
 * Task details and errors: the objects task outcomes carry
 * (docs/scheduler.md "Task details", "Task errors").
 *
 * Details use Meilisearch's public keys, per kind; every key is optional and
 * the counters that Meilisearch shows as null until a task finishes may be
 * nil. settingsUpdate details are the settings themselves (any keys). An
 * error is Meilisearch's {message, code, type, link}.
 *
 * As with content, checking is the single statement of the rules and the
 * encoders re-check what they wrote.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "sched_int.h"

static const char *const detail_names[FOLIO_DETAIL_COUNT] = {
#define DETAIL_NAME(name, key) key,
    FOLIO_TASK_DETAILS(DETAIL_NAME)
#undef DETAIL_NAME
};

const char *
folio_task_detail_name(enum folio_task_detail d)
{
    return (unsigned)d < FOLIO_DETAIL_COUNT ? detail_names[d] : NULL;
}

enum dtype { DT_U64, DT_STR, DT_INDEX_UID, DT_SWAPS };

static enum dtype
detail_type(enum folio_task_detail d)
{
    switch (d) {
    case FOLIO_DETAIL_ORIGINAL_FILTER:
    case FOLIO_DETAIL_PRIMARY_KEY:
    case FOLIO_DETAIL_SNAPSHOT_PATH:
        return DT_STR;
    case FOLIO_DETAIL_OLD_INDEX_UID:
    case FOLIO_DETAIL_NEW_INDEX_UID:
    case FOLIO_DETAIL_INDEX_UID:
        return DT_INDEX_UID;
    case FOLIO_DETAIL_SWAPS:
        return DT_SWAPS;
    default:
        return DT_U64;
    }
}

#define D(x) (1ull << FOLIO_DETAIL_##x)

/* Keys each kind may report, and those of them that may be nil. */
struct detail_rule {
    uint64_t allowed;
    uint64_t nullable;
};

static const struct detail_rule detail_rules[FOLIO_KIND_COUNT] = {
    [FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE] = {D(RECEIVED_DOCUMENTS) | D(INDEXED_DOCUMENTS),
                                                D(INDEXED_DOCUMENTS)},
    [FOLIO_KIND_DOCUMENT_DELETION] = {D(PROVIDED_IDS) | D(DELETED_DOCUMENTS) | D(ORIGINAL_FILTER),
                                      D(DELETED_DOCUMENTS) | D(ORIGINAL_FILTER)},
    [FOLIO_KIND_SETTINGS_UPDATE] = {0, 0}, /* open: the settings */
    [FOLIO_KIND_INDEX_CREATION] = {D(PRIMARY_KEY), D(PRIMARY_KEY)},
    [FOLIO_KIND_INDEX_DELETION] = {D(DELETED_DOCUMENTS), D(DELETED_DOCUMENTS)},
    [FOLIO_KIND_INDEX_UPDATE] = {D(PRIMARY_KEY) | D(OLD_INDEX_UID) | D(NEW_INDEX_UID),
                                 D(PRIMARY_KEY)},
    [FOLIO_KIND_INDEX_SWAP] = {D(SWAPS), 0},
    [FOLIO_KIND_TASK_CANCELATION] = {D(MATCHED_TASKS) | D(CANCELED_TASKS) | D(ORIGINAL_FILTER),
                                     D(CANCELED_TASKS) | D(ORIGINAL_FILTER)},
    [FOLIO_KIND_TASK_DELETION] = {D(MATCHED_TASKS) | D(DELETED_TASKS) | D(ORIGINAL_FILTER),
                                  D(DELETED_TASKS) | D(ORIGINAL_FILTER)},
    [FOLIO_KIND_SNAPSHOT_CREATION] = {0, 0},
    [FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION] = {D(INDEX_UID) | D(SNAPSHOT_PATH),
                                                   D(SNAPSHOT_PATH)},
    [FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT] = {D(SNAPSHOT_PATH) | D(INDEX_UID) |
                                                     D(NEW_INDEX_UID) | D(IMPORTED_DOCUMENTS),
                                                 D(INDEX_UID) | D(NEW_INDEX_UID) |
                                                     D(IMPORTED_DOCUMENTS)},
};

__attribute__((format(printf, 3, 4))) static int
why_set(char *why, size_t why_len, const char *fmt, ...)
{
    if (why != NULL && why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return FOLIO_E_DECODE;
}

/* Opens an object: one complete value, a map (keys) or nil (0 keys). */
static int
open_object(const uint8_t *buf, size_t len, struct mpr *r, uint32_t *keys)
{
    *r = (struct mpr){buf, buf + len};
    *keys = 0;
    if (len == 0)
        return 0;
    struct mpv v;
    if (len > FOLIO_EVENT_OBJECT_BYTES_MAX || !mp_one_value(buf, len, FOLIO_EVENT_OBJECT_DEPTH_MAX) ||
        mpr_next(r, &v) != 0 || (v.kind != MPK_MAP && v.kind != MPK_NIL))
        return FOLIO_E_DECODE;
    *keys = v.kind == MPK_MAP ? v.len : 0;
    return 0;
}

static int
check_swaps_value(struct mpr *r)
{
    uint32_t n;
    if (mpr_container(r, MPK_ARRAY, &n) != 0)
        return FOLIO_E_DECODE;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t keys, two;
        bool have = false;
        if (mpr_container(r, MPK_MAP, &keys) != 0)
            return FOLIO_E_DECODE;
        for (uint32_t k = 0; k < keys; k++) {
            const uint8_t *key, *p;
            uint32_t klen, len;
            struct mpv v;
            if (mpr_str(r, &key, &klen) != 0)
                return FOLIO_E_DECODE;
            if (mp_str_eq(key, klen, "indexes") && !have) {
                if (mpr_container(r, MPK_ARRAY, &two) != 0 || two != 2)
                    return FOLIO_E_DECODE;
                for (int j = 0; j < 2; j++)
                    if (mpr_str(r, &p, &len) != 0 || !folio_index_uid_valid((const char *)p, len))
                        return FOLIO_E_DECODE;
                have = true;
            } else if (!mp_str_eq(key, klen, "rename") || mpr_next(r, &v) != 0 ||
                       v.kind != MPK_BOOL) {
                return FOLIO_E_DECODE;
            }
        }
        if (!have)
            return FOLIO_E_DECODE;
    }
    return 0;
}

static int
check_detail_value(struct mpr *r, enum folio_task_detail d, bool nullable)
{
    struct mpr probe = *r;
    struct mpv v;
    if (mpr_next(&probe, &v) != 0)
        return FOLIO_E_DECODE;
    if (v.kind == MPK_NIL) {
        *r = probe;
        return nullable ? 0 : FOLIO_E_DECODE;
    }
    switch (detail_type(d)) {
    case DT_U64:
        *r = probe;
        return v.kind == MPK_UINT ? 0 : FOLIO_E_DECODE;
    case DT_STR:
        *r = probe;
        return v.kind == MPK_STR && v.len <= FOLIO_EVENT_STR_MAX ? 0 : FOLIO_E_DECODE;
    case DT_INDEX_UID:
        *r = probe;
        return v.kind == MPK_STR && folio_index_uid_valid((const char *)v.ptr, v.len)
                   ? 0
                   : FOLIO_E_DECODE;
    case DT_SWAPS:
        return check_swaps_value(r);
    }
    return FOLIO_E_DECODE;
}

static int
find_detail(const uint8_t *key, uint32_t klen)
{
    for (int i = 0; i < FOLIO_DETAIL_COUNT; i++)
        if (mp_str_eq(key, klen, detail_names[i]))
            return i;
    return -1;
}

int
folio_task_details_check(enum folio_task_kind kind, const uint8_t *buf, size_t len, char *why,
                         size_t why_len)
{
    if ((unsigned)kind >= FOLIO_KIND_COUNT)
        return why_set(why, why_len, "unknown task kind %d", (int)kind);
    struct mpr r;
    uint32_t keys;
    if (open_object(buf, len, &r, &keys) != 0)
        return why_set(why, why_len, "details are not one msgpack map");
    if (kind == FOLIO_KIND_SETTINGS_UPDATE)
        return 0; /* the settings: any keys, checked by the index module */
    const struct detail_rule *rule = &detail_rules[kind];
    uint64_t seen = 0;
    for (uint32_t i = 0; i < keys; i++) {
        const uint8_t *key;
        uint32_t klen;
        if (mpr_str(&r, &key, &klen) != 0)
            return why_set(why, why_len, "details have a key that is not a string");
        int d = find_detail(key, klen);
        if (d < 0 || (rule->allowed & (1ull << d)) == 0)
            return why_set(why, why_len, "details of a %s task have no key `%.*s`",
                           folio_task_kind_name(kind), (int)(klen > 64 ? 64 : klen),
                           (const char *)key);
        if ((seen & (1ull << d)) != 0)
            return why_set(why, why_len, "details key `%s` is repeated", detail_names[d]);
        seen |= 1ull << d;
        if (check_detail_value(&r, (enum folio_task_detail)d, (rule->nullable >> d) & 1) != 0)
            return why_set(why, why_len, "details key `%s` has a value of the wrong type",
                           detail_names[d]);
    }
    return 0;
}

/* ---- encoding ---------------------------------------------------------- */

static void
enc_detail(struct mpw *w, const struct folio_task_details *d, enum folio_task_detail k)
{
    mpw_cstr(w, detail_names[k]);
    if ((d->null >> k) & 1) {
        mpw_nil(w);
        return;
    }
    switch (k) {
    case FOLIO_DETAIL_RECEIVED_DOCUMENTS: mpw_u64(w, d->received_documents); break;
    case FOLIO_DETAIL_INDEXED_DOCUMENTS: mpw_u64(w, d->indexed_documents); break;
    case FOLIO_DETAIL_PROVIDED_IDS: mpw_u64(w, d->provided_ids); break;
    case FOLIO_DETAIL_DELETED_DOCUMENTS: mpw_u64(w, d->deleted_documents); break;
    case FOLIO_DETAIL_MATCHED_TASKS: mpw_u64(w, d->matched_tasks); break;
    case FOLIO_DETAIL_CANCELED_TASKS: mpw_u64(w, d->canceled_tasks); break;
    case FOLIO_DETAIL_DELETED_TASKS: mpw_u64(w, d->deleted_tasks); break;
    case FOLIO_DETAIL_IMPORTED_DOCUMENTS: mpw_u64(w, d->imported_documents); break;
    case FOLIO_DETAIL_ORIGINAL_FILTER: mpw_fstr(w, d->original_filter); break;
    case FOLIO_DETAIL_PRIMARY_KEY: mpw_fstr(w, d->primary_key); break;
    case FOLIO_DETAIL_OLD_INDEX_UID: mpw_fstr(w, d->old_index_uid); break;
    case FOLIO_DETAIL_NEW_INDEX_UID: mpw_fstr(w, d->new_index_uid); break;
    case FOLIO_DETAIL_INDEX_UID: mpw_fstr(w, d->index_uid); break;
    case FOLIO_DETAIL_SNAPSHOT_PATH: mpw_fstr(w, d->snapshot_path); break;
    case FOLIO_DETAIL_SWAPS:
        mpw_array(w, d->swap_count);
        for (uint32_t i = 0; i < d->swap_count; i++) {
            mpw_map(w, 2);
            mpw_cstr(w, "indexes");
            mpw_array(w, 2);
            mpw_fstr(w, d->swaps[i].indexes[0]);
            mpw_fstr(w, d->swaps[i].indexes[1]);
            mpw_cstr(w, "rename");
            mpw_bool(w, d->swaps[i].rename);
        }
        break;
    default: FOLIO_ASSERT(!"unknown detail");
    }
}

static int
finish_object(struct mpw *w, uint8_t **out, size_t *len)
{
    if (w->err != 0) {
        int err = w->err;
        mpw_free(w);
        return err;
    }
    *out = mpw_take(w, len);
    return 0;
}

int
folio_task_details_encode(enum folio_task_kind kind, const struct folio_task_details *d,
                          uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if ((unsigned)kind >= FOLIO_KIND_COUNT || (d->null & ~d->present) != 0)
        return FOLIO_E_INVALID;
    struct mpw w;
    mpw_init(&w, FOLIO_EVENT_OBJECT_BYTES_MAX);
    if (kind == FOLIO_KIND_SETTINGS_UPDATE) {
        if (d->present != 0)
            return FOLIO_E_INVALID;
        if (d->settings.len == 0)
            return 0;
        mpw_raw(&w, d->settings.ptr, d->settings.len);
    } else {
        if (d->present == 0)
            return 0;
        mpw_map(&w, (uint32_t)__builtin_popcountll(d->present));
        for (int k = 0; k < FOLIO_DETAIL_COUNT; k++)
            if ((d->present >> k) & 1)
                enc_detail(&w, d, (enum folio_task_detail)k);
    }
    int rc = finish_object(&w, out, len);
    if (rc == 0 && folio_task_details_check(kind, *out, *len, NULL, 0) != 0) {
        folio_free(*out);
        *out = NULL;
        *len = 0;
        rc = FOLIO_E_INVALID;
    }
    return rc;
}

/* ---- details of a task still running ------------------------------------ */

static void
default_from_content(const struct folio_task_view *t, const struct folio_task_content *c,
                     struct folio_task_details *d)
{
    switch (t->kind) {
    case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE:
        d->present = D(INDEXED_DOCUMENTS) | (c->documents_count_set ? D(RECEIVED_DOCUMENTS) : 0);
        d->null = D(INDEXED_DOCUMENTS);
        d->received_documents = c->documents_count;
        break;
    case FOLIO_KIND_DOCUMENT_DELETION:
        d->present = D(DELETED_DOCUMENTS) | (c->clear ? 0 : D(PROVIDED_IDS) | D(ORIGINAL_FILTER));
        d->null = D(DELETED_DOCUMENTS) | (c->clear || c->filter.len > 0 ? 0 : D(ORIGINAL_FILTER));
        d->provided_ids = c->ids.count;
        d->original_filter = c->filter;
        break;
    case FOLIO_KIND_SETTINGS_UPDATE:
        d->settings = c->settings;
        break;
    case FOLIO_KIND_INDEX_CREATION:
    case FOLIO_KIND_INDEX_UPDATE:
        d->present = D(PRIMARY_KEY);
        d->null = c->primary_key.len ? 0 : D(PRIMARY_KEY);
        d->primary_key = c->primary_key;
        if (t->kind == FOLIO_KIND_INDEX_UPDATE && c->new_index_uid.len > 0 && t->index_count > 0) {
            d->present |= D(OLD_INDEX_UID) | D(NEW_INDEX_UID);
            d->old_index_uid = t->index_uids[0];
            d->new_index_uid = c->new_index_uid;
        }
        break;
    case FOLIO_KIND_INDEX_DELETION:
        d->present = d->null = D(DELETED_DOCUMENTS);
        break;
    case FOLIO_KIND_INDEX_SWAP:
        d->present = D(SWAPS);
        d->swaps = c->swaps;
        d->swap_count = c->swap_count;
        break;
    case FOLIO_KIND_TASK_CANCELATION:
    case FOLIO_KIND_TASK_DELETION: {
        uint64_t counted = t->kind == FOLIO_KIND_TASK_CANCELATION ? D(CANCELED_TASKS) : D(DELETED_TASKS);
        d->present = D(MATCHED_TASKS) | counted | D(ORIGINAL_FILTER);
        d->null = counted;
        d->matched_tasks = c->matched_tasks.count;
        d->original_filter = c->query;
        break;
    }
    case FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION:
        d->present = D(SNAPSHOT_PATH) | (t->index_count > 0 ? D(INDEX_UID) : 0);
        d->null = c->snapshot_path.len ? 0 : D(SNAPSHOT_PATH);
        d->snapshot_path = c->snapshot_path;
        if (t->index_count > 0)
            d->index_uid = t->index_uids[0];
        break;
    case FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT:
        d->present = D(SNAPSHOT_PATH) | D(INDEX_UID) | D(NEW_INDEX_UID) | D(IMPORTED_DOCUMENTS);
        d->null = D(IMPORTED_DOCUMENTS) | (c->index_uid.len ? 0 : D(INDEX_UID)) |
                  (c->new_index_uid.len ? 0 : D(NEW_INDEX_UID));
        d->snapshot_path = c->snapshot_path;
        d->index_uid = c->index_uid;
        d->new_index_uid = c->new_index_uid;
        break;
    default:
        break;
    }
}

int
folio_task_details_default(const struct folio_task_view *t, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    struct folio_task_content c;
    int rc = folio_task_content_decode(t->kind, t->content.ptr, t->content.len, &c);
    if (rc != 0)
        return rc;
    struct folio_task_details d;
    memset(&d, 0, sizeof(d));
    default_from_content(t, &c, &d);
    rc = folio_task_details_encode(t->kind, &d, out, len);
    folio_task_content_clear(&c);
    return rc;
}

/* ---- errors ------------------------------------------------------------ */

static const char *const error_keys[4] = {"message", "code", "type", "link"};

static bool
error_type_valid(const uint8_t *p, uint32_t n)
{
    return mp_str_eq(p, n, "invalid_request") || mp_str_eq(p, n, "internal") ||
           mp_str_eq(p, n, "auth") || mp_str_eq(p, n, "system");
}

static bool
error_code_valid(const uint8_t *p, uint32_t n)
{
    if (n == 0 || n > 128)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
            return false;
    return true;
}

int
folio_task_error_check(const uint8_t *buf, size_t len, char *why, size_t why_len)
{
    struct mpr r;
    uint32_t keys;
    if (len == 0 || open_object(buf, len, &r, &keys) != 0 || keys != 4)
        return why_set(why, why_len, "an error must be a map of message, code, type and link");
    unsigned seen = 0;
    for (uint32_t i = 0; i < keys; i++) {
        const uint8_t *key, *p;
        uint32_t klen, n;
        if (mpr_str(&r, &key, &klen) != 0)
            return why_set(why, why_len, "an error has a key that is not a string");
        int k = -1;
        for (int j = 0; j < 4; j++)
            if (mp_str_eq(key, klen, error_keys[j]))
                k = j;
        if (k < 0 || (seen & (1u << k)) != 0)
            return why_set(why, why_len, "an error has an unknown or repeated key");
        seen |= 1u << k;
        if (mpr_str(&r, &p, &n) != 0 || n > FOLIO_EVENT_STR_MAX)
            return why_set(why, why_len, "error `%s` must be a string", error_keys[k]);
        if ((k == 1 && !error_code_valid(p, n)) || (k == 2 && !error_type_valid(p, n)) ||
            (k == 0 && n == 0))
            return why_set(why, why_len, "error `%s` has an invalid value", error_keys[k]);
    }
    return 0;
}

int
folio_task_error_encode(const struct folio_task_error *e, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    char link[256];
    struct folio_str l = e->link;
    if (l.len == 0) {
        int n = snprintf(link, sizeof(link), "https://docs.meilisearch.com/errors#%.*s",
                         (int)(e->code.len > 128 ? 128 : e->code.len), e->code.ptr ? e->code.ptr : "");
        l = (struct folio_str){link, (uint32_t)n};
    }
    struct mpw w;
    mpw_init(&w, FOLIO_EVENT_OBJECT_BYTES_MAX);
    mpw_map(&w, 4);
    mpw_cstr(&w, "message");
    mpw_fstr(&w, e->message);
    mpw_cstr(&w, "code");
    mpw_fstr(&w, e->code);
    mpw_cstr(&w, "type");
    mpw_fstr(&w, e->type);
    mpw_cstr(&w, "link");
    mpw_fstr(&w, l);
    int rc = finish_object(&w, out, len);
    if (rc == 0 && folio_task_error_check(*out, *len, NULL, 0) != 0) {
        folio_free(*out);
        *out = NULL;
        *len = 0;
        rc = FOLIO_E_INVALID;
    }
    return rc;
}
