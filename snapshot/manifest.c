/*
 * manifest.json: building it from struct folio_snapshot_manifest and
 * parsing it back with every rule of docs/snapshot-format.md ("The
 * manifest").
 *
 * The parser trusts nothing: the JSON comes from a file anyone may have
 * edited. It rejects duplicate and unknown keys, wrong types, out-of-range
 * numbers, names that break the entry-name rule, duplicate file names and
 * fields of the other kind. Version checks come last, so a sound manifest of
 * another version says "version" and a broken one says "invalid"; if the
 * structure does not match this build's but formatVersion names another
 * version, the answer is "version" too (another version may have other
 * fields, and we cannot judge them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "snapshot_int.h"

static const char *const kind_names[] = {"index", "instance"};

void
folio_snapshot_manifest_free(struct folio_snapshot_manifest *m)
{
    if (m == NULL)
        return;
    folio_free(m->engine_version);
    folio_free(m->source_instance_uid);
    folio_free(m->index_uid);
    folio_free(m->primary_key);
    folio_free(m->settings_json);
    for (uint32_t i = 0; i < m->index_count; i++) {
        folio_free(m->index_uids != NULL ? m->index_uids[i] : NULL);
        folio_free(m->index_uuids != NULL ? m->index_uuids[i] : NULL);
    }
    folio_free(m->index_uids);
    folio_free(m->index_uuids);
    for (uint32_t i = 0; i < m->file_count; i++)
        folio_free(m->files[i].name);
    folio_free(m->files);
    folio_free(m);
}

/* ---- to JSON -------------------------------------------------------------- */

static int
set_new(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL || json_object_set_new(obj, key, v) != 0)
        return FOLIO_E_INVALID;
    return FOLIO_OK;
}

static json_t *
files_to_json(const struct folio_snapshot_manifest *m)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; i < m->file_count; i++) {
        char hex[33];
        snap_hex128(m->files[i].xxh128, hex);
        json_t *f = json_pack("{s:s, s:I, s:s}", "name", m->files[i].name ? m->files[i].name : "",
                              "size", (json_int_t)m->files[i].size, "xxh3_128", hex);
        if (f == NULL || json_array_append_new(arr, f) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static int
kind_fields_to_json(const struct folio_snapshot_manifest *m, json_t *o)
{
    int rc = FOLIO_OK;
    if (m->kind == FOLIO_SNAPSHOT_KIND_INDEX) {
        json_t *settings = json_object();
        if (m->settings_json != NULL) {
            json_decref(settings);
            settings = json_loads(m->settings_json, JSON_REJECT_DUPLICATES, NULL);
            if (settings == NULL || !json_is_object(settings)) {
                json_decref(settings);
                return FOLIO_E_INVALID;
            }
        }
        rc = set_new(o, "indexUid", json_string(m->index_uid ? m->index_uid : ""));
        if (rc == FOLIO_OK)
            rc = set_new(o, "primaryKey",
                         m->primary_key ? json_string(m->primary_key) : json_null());
        if (rc == FOLIO_OK)
            rc = set_new(o, "settings", settings);
        else
            json_decref(settings);
        if (rc == FOLIO_OK)
            rc = set_new(o, "documentCount", json_integer((json_int_t)m->document_count));
        return rc;
    }
    json_t *arr = json_array();
    for (uint32_t i = 0; i < m->index_count && rc == FOLIO_OK; i++) {
        json_t *e = json_pack("{s:s, s:s}", "uid", m->index_uids[i] ? m->index_uids[i] : "",
                              "uuid", m->index_uuids[i] ? m->index_uuids[i] : "");
        if (e == NULL || json_array_append_new(arr, e) != 0)
            rc = FOLIO_E_INVALID;
    }
    if (rc != FOLIO_OK) {
        json_decref(arr);
        return rc;
    }
    return set_new(o, "indexes", arr);
}

int
folio_snapshot_manifest_to_json(const struct folio_snapshot_manifest *m, char **out,
                                size_t *out_len)
{
    if ((unsigned)m->kind >= FOLIO_ARRAY_LEN(kind_names) ||
        m->seq > (uint64_t)INT64_MAX || m->task_uid > (uint64_t)INT64_MAX ||
        m->document_count > (uint64_t)INT64_MAX)
        return FOLIO_E_INVALID;
    for (uint32_t i = 0; i < m->file_count; i++)
        if (m->files[i].size > (uint64_t)INT64_MAX)
            return FOLIO_E_INVALID;
    char created[FOLIO_RFC3339_LEN];
    folio_clock_format_rfc3339(m->created_at_ns, created, sizeof(created));
    json_t *o = json_object();
    int rc = set_new(o, "format", json_string(FOLIO_SNAPSHOT_FORMAT_NAME));
    if (rc == FOLIO_OK)
        rc = set_new(o, "formatVersion", json_integer(m->format_version));
    if (rc == FOLIO_OK)
        rc = set_new(o, "engineVersion",
                     json_string(m->engine_version ? m->engine_version : FOLIO_VERSION_STRING));
    if (rc == FOLIO_OK)
        rc = set_new(o, "kind", json_string(kind_names[m->kind]));
    if (rc == FOLIO_OK)
        rc = set_new(o, "createdAt", json_string(created));
    if (rc == FOLIO_OK)
        rc = set_new(o, "sourceInstanceUid",
                     json_string(m->source_instance_uid ? m->source_instance_uid : ""));
    if (rc == FOLIO_OK)
        rc = set_new(o, "seq", json_integer((json_int_t)m->seq));
    if (rc == FOLIO_OK)
        rc = set_new(o, "taskUid", json_integer((json_int_t)m->task_uid));
    if (rc == FOLIO_OK)
        rc = kind_fields_to_json(m, o);
    if (rc == FOLIO_OK)
        rc = set_new(o, "files", files_to_json(m));
    char *s = NULL;
    if (rc == FOLIO_OK && (s = json_dumps(o, JSON_INDENT(2))) == NULL)
        rc = FOLIO_E_INVALID;
    json_decref(o);
    if (rc != FOLIO_OK)
        return rc;
    size_t len = strlen(s);
    /* One trailing newline: the file reads well with cat. */
    *out = folio_malloc(len + 2);
    memcpy(*out, s, len);
    (*out)[len] = '\n';
    (*out)[len + 1] = '\0';
    free(s);
    if (out_len != NULL)
        *out_len = len + 1;
    return FOLIO_OK;
}

/* ---- parse ---------------------------------------------------------------- */

/* Parsing state: the object and the first problem seen. */
struct mparse {
    json_t *root;
    struct folio_snapshot_error *err;
    int rc;
};

static bool bad(struct mparse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool
bad(struct mparse *p, const char *fmt, ...)
{
    if (p->rc == FOLIO_OK) {
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snap_fail(p->err, FOLIO_E_SNAPSHOT_INVALID, "manifest: %s", msg);
        p->rc = FOLIO_E_SNAPSHOT_INVALID;
    }
    return false;
}

static bool
char_ok(unsigned char c, const char *extra)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr(extra, c) != NULL);
}

/* A string field of 1..max bytes from the set [A-Za-z0-9] + extra (extra NULL: any but NUL). */
static char *
get_str(struct mparse *p, json_t *obj, const char *key, size_t max, const char *extra)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return bad(p, "missing field \"%s\"", key), NULL;
    if (!json_is_string(v))
        return bad(p, "field \"%s\" must be a string", key), NULL;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0 || len > max || strlen(s) != len)
        return bad(p, "field \"%s\" is empty, too long or holds a NUL", key), NULL;
    for (size_t i = 0; extra != NULL && i < len; i++)
        if (!char_ok((unsigned char)s[i], extra))
            return bad(p, "field \"%s\" holds a character it may not", key), NULL;
    return folio_strndup(s, len);
}

static bool
get_u64(struct mparse *p, json_t *obj, const char *key, uint64_t max, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return bad(p, "missing field \"%s\"", key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max)
        return bad(p, "field \"%s\" must be an integer in range", key);
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool
digits(const char *s, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Exactly "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", 1970 <= YYYY <= 2261. */
static bool
parse_rfc3339_ns(const char *s, int64_t *out)
{
    unsigned y, mo, d, h, mi, se, ns;
    if (strlen(s) != 30 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != '.' || s[29] != 'Z')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se) ||
        !digits(s + 20, 9, &ns))
        return false;
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 59)
        return false;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    *out = secs * 1000000000 + ns;
    return true;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True if a sorted array of strings has a duplicate; *dup gets it. */
static bool
has_duplicate(char **sorted, uint32_t n, const char **dup)
{
    for (uint32_t i = 1; i < n; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            *dup = sorted[i];
            return true;
        }
    }
    return false;
}

static bool
only_keys(struct mparse *p, json_t *obj, const char *const *keys, size_t n, const char *where)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        size_t i = 0;
        while (i < n && strcmp(key, keys[i]) != 0)
            i++;
        if (i == n) {
            char msg[300];
            char safe[128];
            snap_printable(key, safe, sizeof(safe));
            snprintf(msg, sizeof(msg), "unknown field \"%s\" in %s", safe, where);
            return bad(p, "%s", msg);
        }
    }
    return true;
}

static bool
parse_one_file(struct mparse *p, json_t *f, struct folio_snapshot_file *out)
{
    static const char *const keys[] = {"name", "size", "xxh3_128"};
    if (!json_is_object(f))
        return bad(p, "%s entries must be objects", "files");
    if (!only_keys(p, f, keys, FOLIO_ARRAY_LEN(keys), "a files entry"))
        return false;
    out->name = get_str(p, f, "name", FOLIO_SNAPSHOT_NAME_BYTES_MAX, "._-/");
    if (out->name == NULL)
        return false;
    if (!snap_name_valid(out->name, strlen(out->name)) ||
        strcmp(out->name, FOLIO_SNAPSHOT_MANIFEST_NAME) == 0)
        return bad(p, "file name breaks the naming rule (%s)", "'', '.', '..' or manifest.json");
    if (!get_u64(p, f, "size", (uint64_t)INT64_MAX, &out->size))
        return false;
    json_t *h = json_object_get(f, "xxh3_128");
    if (h == NULL || !json_is_string(h) ||
        !snap_unhex128(json_string_value(h), json_string_length(h), out->xxh128))
        return bad(p, "field \"%s\" must be 32 hex digits", "xxh3_128");
    return true;
}

static bool
parse_files(struct mparse *p, struct folio_snapshot_manifest *m)
{
    json_t *arr = json_object_get(p->root, "files");
    if (arr == NULL || !json_is_array(arr))
        return bad(p, "field \"%s\" must be an array", "files");
    size_t n = json_array_size(arr);
    if (n > FOLIO_SNAPSHOT_FILES_MAX)
        return bad(p, "field \"%s\" lists too many files", "files");
    m->files = folio_calloc(n ? n : 1, sizeof(*m->files));
    for (size_t i = 0; i < n; i++) {
        m->file_count = (uint32_t)i + 1;
        if (!parse_one_file(p, json_array_get(arr, i), &m->files[i]))
            return false;
    }
    m->file_count = (uint32_t)n;
    char **names = folio_calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        names[i] = m->files[i].name;
    qsort(names, n, sizeof(char *), cmp_names);
    const char *dup = NULL;
    bool ok = !has_duplicate(names, (uint32_t)n, &dup);
    /* A name that is also another's directory ("a" and "a/b") cannot be extracted. */
    for (size_t i = 1; ok && i < n; i++) {
        size_t l = strlen(names[i - 1]);
        if (strncmp(names[i - 1], names[i], l) == 0 && names[i][l] == '/') {
            dup = names[i];
            ok = false;
        }
    }
    char safe[FOLIO_SNAPSHOT_NAME_BYTES_MAX + 1];
    if (!ok)
        snap_printable(dup, safe, sizeof(safe));
    folio_free(names);
    return ok ? true : bad(p, "file name '%s' listed twice or also used as a directory", safe);
}

static bool
parse_index_fields(struct mparse *p, struct folio_snapshot_manifest *m)
{
    if (json_object_get(p->root, "indexes") != NULL)
        return bad(p, "field \"%s\" is for kind \"instance\" only", "indexes");
    m->index_uid = get_str(p, p->root, "indexUid", SNAP_INDEX_UID_BYTES_MAX, "_-");
    if (m->index_uid == NULL)
        return false;
    json_t *pk = json_object_get(p->root, "primaryKey");
    if (pk == NULL)
        return bad(p, "missing field \"%s\"", "primaryKey");
    if (!json_is_null(pk) &&
        (m->primary_key = get_str(p, p->root, "primaryKey", SNAP_PRIMARY_KEY_BYTES_MAX, NULL)) ==
            NULL)
        return false;
    json_t *settings = json_object_get(p->root, "settings");
    if (settings == NULL || !json_is_object(settings))
        return bad(p, "field \"%s\" must be an object", "settings");
    char *s = json_dumps(settings, JSON_COMPACT);
    if (s == NULL)
        return bad(p, "field \"%s\" cannot be encoded", "settings");
    m->settings_json = folio_strdup(s);
    free(s);
    return get_u64(p, p->root, "documentCount", (uint64_t)INT64_MAX, &m->document_count);
}

static bool
parse_instance_fields(struct mparse *p, struct folio_snapshot_manifest *m)
{
    static const char *const index_only[] = {"indexUid", "primaryKey", "settings",
                                             "documentCount"};
    static const char *const keys[] = {"uid", "uuid"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(index_only); i++)
        if (json_object_get(p->root, index_only[i]) != NULL)
            return bad(p, "field \"%s\" is for kind \"index\" only", index_only[i]);
    json_t *arr = json_object_get(p->root, "indexes");
    if (arr == NULL || !json_is_array(arr))
        return bad(p, "field \"%s\" must be an array", "indexes");
    size_t n = json_array_size(arr);
    if (n > FOLIO_SNAPSHOT_FILES_MAX)
        return bad(p, "field \"%s\" lists too many indexes", "indexes");
    m->index_uids = folio_calloc(n ? n : 1, sizeof(char *));
    m->index_uuids = folio_calloc(n ? n : 1, sizeof(char *));
    m->index_count = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e))
            return bad(p, "%s entries must be objects", "indexes");
        if (!only_keys(p, e, keys, FOLIO_ARRAY_LEN(keys), "an indexes entry"))
            return false;
        m->index_uids[i] = get_str(p, e, "uid", SNAP_INDEX_UID_BYTES_MAX, "_-");
        m->index_uuids[i] = get_str(p, e, "uuid", SNAP_UUID_BYTES_MAX, "-");
        if (m->index_uids[i] == NULL || m->index_uuids[i] == NULL)
            return false;
    }
    char **sorted[2] = {folio_calloc(n ? n : 1, sizeof(char *)),
                        folio_calloc(n ? n : 1, sizeof(char *))};
    memcpy(sorted[0], m->index_uids, n * sizeof(char *));
    memcpy(sorted[1], m->index_uuids, n * sizeof(char *));
    qsort(sorted[0], n, sizeof(char *), cmp_names);
    qsort(sorted[1], n, sizeof(char *), cmp_names);
    const char *dup = NULL;
    bool ok = !has_duplicate(sorted[0], (uint32_t)n, &dup) &&
              !has_duplicate(sorted[1], (uint32_t)n, &dup);
    folio_free(sorted[0]);
    folio_free(sorted[1]);
    return ok ? true : bad(p, "%s lists an index uid or uuid twice", "indexes");
}

static bool
parse_common(struct mparse *p, struct folio_snapshot_manifest *m)
{
    static const char *const keys[] = {
        "format", "formatVersion", "engineVersion", "kind", "createdAt", "sourceInstanceUid",
        "seq", "taskUid", "indexUid", "primaryKey", "settings", "documentCount", "indexes",
        "files"};
    if (!only_keys(p, p->root, keys, FOLIO_ARRAY_LEN(keys), "the manifest"))
        return false;
    uint64_t v;
    if (!get_u64(p, p->root, "formatVersion", UINT32_MAX, &v))
        return false;
    m->format_version = (uint32_t)v;
    if ((m->engine_version = get_str(p, p->root, "engineVersion", SNAP_VERSION_BYTES_MAX,
                                     ".-+")) == NULL)
        return false;
    if (folio_snapshot_engine_major(m->engine_version) < 0)
        return bad(p, "field \"%s\" is not MAJOR.MINOR.PATCH", "engineVersion");
    json_t *kind = json_object_get(p->root, "kind");
    const char *ks = json_is_string(kind) ? json_string_value(kind) : "";
    if (strcmp(ks, "index") == 0)
        m->kind = FOLIO_SNAPSHOT_KIND_INDEX;
    else if (strcmp(ks, "instance") == 0)
        m->kind = FOLIO_SNAPSHOT_KIND_INSTANCE;
    else
        return bad(p, "field \"%s\" must be \"index\" or \"instance\"", "kind");
    json_t *created = json_object_get(p->root, "createdAt");
    if (!json_is_string(created) || !parse_rfc3339_ns(json_string_value(created),
                                                      &m->created_at_ns))
        return bad(p, "field \"%s\" must be YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", "createdAt");
    if ((m->source_instance_uid =
             get_str(p, p->root, "sourceInstanceUid", SNAP_UUID_BYTES_MAX, "-")) == NULL)
        return false;
    if (!get_u64(p, p->root, "seq", (uint64_t)INT64_MAX, &m->seq) ||
        !get_u64(p, p->root, "taskUid", (uint64_t)INT64_MAX, &m->task_uid))
        return false;
    bool ok = m->kind == FOLIO_SNAPSHOT_KIND_INDEX ? parse_index_fields(p, m)
                                                   : parse_instance_fields(p, m);
    return ok && parse_files(p, m);
}

/* After the structure: format and engine major version. */
static int
check_versions(const struct folio_snapshot_manifest *m, struct folio_snapshot_error *err)
{
    if (m->format_version != FOLIO_SNAPSHOT_FORMAT_VERSION)
        return snap_fail(err, FOLIO_E_SNAPSHOT_VERSION,
                         "manifest: snapshot format version %u; this folio (%s) reads version %d",
                         m->format_version, FOLIO_VERSION_STRING, FOLIO_SNAPSHOT_FORMAT_VERSION);
    int theirs = folio_snapshot_engine_major(m->engine_version);
    int ours = folio_snapshot_engine_major(FOLIO_VERSION_STRING);
    if (theirs != ours)
        return snap_fail(err, FOLIO_E_SNAPSHOT_VERSION,
                         "manifest: snapshot made by folio %s (engine major %d); this is folio "
                         "%s (engine major %d)",
                         m->engine_version, theirs, FOLIO_VERSION_STRING, ours);
    return FOLIO_OK;
}

/* formatVersion as a number if it is an integer other than ours; else 0. */
static json_int_t
other_format_version(json_t *root)
{
    json_t *v = json_object_get(root, "formatVersion");
    if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
        json_integer_value(v) == FOLIO_SNAPSHOT_FORMAT_VERSION)
        return 0;
    return json_integer_value(v);
}

int
folio_snapshot_manifest_parse(const char *json, size_t len,
                              struct folio_snapshot_manifest **out,
                              struct folio_snapshot_error *err)
{
    *out = NULL;
    if (len > FOLIO_SNAPSHOT_MANIFEST_BYTES_MAX)
        return snap_fail(err, FOLIO_E_SNAPSHOT_INVALID,
                         "manifest: %zu bytes, more than the limit of %u", len,
                         FOLIO_SNAPSHOT_MANIFEST_BYTES_MAX);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return snap_fail(err, FOLIO_E_SNAPSHOT_INVALID, "manifest: not JSON: line %d column %d: %s",
                         je.line, je.column, je.text);
    struct mparse p = {.root = root, .err = err, .rc = FOLIO_OK};
    json_t *format = json_object_get(root, "format");
    if (!json_is_object(root))
        bad(&p, "%s", "not a JSON object");
    else if (!json_is_string(format) ||
             strcmp(json_string_value(format), FOLIO_SNAPSHOT_FORMAT_NAME) != 0)
        bad(&p, "field \"format\" is not \"%s\"", FOLIO_SNAPSHOT_FORMAT_NAME);
    if (p.rc != FOLIO_OK) {
        json_decref(root);
        return p.rc;
    }
    struct folio_snapshot_manifest *m = folio_calloc(1, sizeof(*m));
    int rc;
    if (!parse_common(&p, m)) {
        json_int_t other = other_format_version(root);
        rc = p.rc;
        if (other != 0) {
            char why[sizeof(err->message)];
            snprintf(why, sizeof(why), "%s", err ? err->message : "");
            rc = snap_fail(err, FOLIO_E_SNAPSHOT_VERSION,
                           "manifest: snapshot format version %lld; this folio (%s) reads "
                           "version %d (%.300s)",
                           (long long)other, FOLIO_VERSION_STRING,
                           FOLIO_SNAPSHOT_FORMAT_VERSION, why);
        }
    } else {
        rc = check_versions(m, err);
    }
    json_decref(root);
    if (rc != FOLIO_OK) {
        folio_snapshot_manifest_free(m);
        return rc;
    }
    *out = m;
    return FOLIO_OK;
}
