/*
 * Registration (DESIGN §6): validate everything first, then make the payload
 * durable without an fsync of its own, then append task_registered and answer
 * once it is durable.
 *
 * Payloads up to opts.inline_payload_max travel inside the event. Larger ones
 * go to content/<uuid>: the file is written (not synced) before the event is
 * queued and its descriptor handed to the journal's before_sync hook, which
 * fdatasyncs every pending content file and the content directory right
 * before the frame holding the event is made durable. So when the event is
 * durable, so is its payload, and a hundred concurrent registrations share one
 * group commit. A registration that fails after writing its file removes it;
 * one interrupted by a crash leaves a file no task names, removed at start-up.
 *
 * Task uids are assigned and events queued under reg_mu, so uids reach the
 * journal in increasing order (the state refuses a uid below the next one).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "run_int.h"
#include "sched_int.h"

/* ---- errors ----------------------------------------------------------------- */

__attribute__((format(printf, 5, 6))) static int
reg_error(struct folio_sched_error *err, int folio_err, int http, const char *code,
          const char *fmt, ...)
{
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
        err->folio_err = folio_err;
        err->http_status = http;
        snprintf(err->code, sizeof(err->code), "%s", code);
        snprintf(err->type, sizeof(err->type), "%s",
                 http >= 500 ? "internal" : (http == 422 ? "system" : "invalid_request"));
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return folio_err;
}

void
run_error_code(int folio_err, const char **code, const char **type, int *http_status)
{
    const char *c = "internal", *t = "internal";
    int h = 500;
    switch (folio_err) {
    case FOLIO_E_NOSPC: c = "no_space_left_on_device"; t = "system"; h = 422; break;
    case FOLIO_E_IO: c = "io_error"; t = "system"; h = 422; break;
    case FOLIO_E_MAP_FULL_MAX: c = "database_size_limit_reached"; break;
    case FOLIO_E_MISSING_DOCUMENT_ID:
    case FOLIO_E_INVALID_DOCUMENT_ID:
    case FOLIO_E_PRIMARY_KEY_NO_CANDIDATE:
    case FOLIO_E_PRIMARY_KEY_MULTIPLE_CANDIDATES:
    case FOLIO_E_PRIMARY_KEY_ALREADY_PRESENT:
    case FOLIO_E_INVALID_PRIMARY_KEY:
    case FOLIO_E_MALFORMED_PAYLOAD:
    case FOLIO_E_MISSING_PAYLOAD:
        c = folio_err_name(folio_err);
        t = "invalid_request";
        h = 400;
        break;
    case FOLIO_E_PAYLOAD_TOO_LARGE: c = "payload_too_large"; t = "invalid_request"; h = 413; break;
    case FOLIO_E_INVALID_SETTINGS:
    case FOLIO_E_UNKNOWN_SETTING: c = "invalid_settings"; t = "invalid_request"; h = 400; break;
    case FOLIO_E_DOCUMENT_NOT_FOUND: c = "document_not_found"; t = "invalid_request"; h = 404; break;
    default: break;
    }
    if (folio_err == FOLIO_E_UNKNOWN_SETTING)
        c = "bad_request";
    *code = c;
    *type = t;
    *http_status = h;
}

/*
 * Meilisearch's code for a bad settings value names the setting the validator
 * names (index/settings.c): stopWords → invalid_settings_stop_words. A bad
 * body that names no setting (not an object) is bad_request, as there.
 */
static void
settings_error_code(const char *setting, char *code, size_t code_len)
{
    if (setting[0] == '\0') {
        snprintf(code, code_len, "bad_request");
        return;
    }
    size_t n = (size_t)snprintf(code, code_len, "invalid_settings_");
    for (const char *p = setting; *p != '\0' && n + 3 < code_len; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            code[n++] = '_';
            code[n++] = (char)(*p - 'A' + 'a');
        } else {
            code[n++] = *p;
        }
    }
    code[n] = '\0';
}

static int
reg_index_error(struct folio_sched_error *err, int rc, const struct folio_index_error *ierr)
{
    const char *code, *type;
    int http;
    run_error_code(rc, &code, &type, &http);
    char settings_code[64];
    if (rc == FOLIO_E_INVALID_SETTINGS) {
        settings_error_code(ierr->setting, settings_code, sizeof(settings_code));
        code = settings_code;
    }
    return reg_error(err, rc, http, code, "%s", ierr->message);
}

/* ---- content files and their group-committed fsync ------------------------- */

int
run_before_sync(void *ctx)
{
    struct folio_sched *s = ctx;
    pthread_mutex_lock(&s->sync_mu);
    int *fds = s->sync_fds;
    size_t n = s->sync_count;
    s->sync_fds = NULL;
    s->sync_count = s->sync_cap = 0;
    pthread_mutex_unlock(&s->sync_mu);
    int rc = 0;
    /* Start writeback of every file first, so their blocks are allocated in one
       filesystem transaction and the first fdatasync commits them all. */
    for (size_t i = 0; n > 1 && i < n; i++)
        (void)sync_file_range(fds[i], 0, 0, SYNC_FILE_RANGE_WRITE);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && folio_io_fdatasync(fds[i]) != 0)
            rc = -1;
        close(fds[i]);
    }
    folio_free(fds);
    if (rc == 0 && n > 0 && folio_io_fsync_dir(s->content_dir) != 0)
        rc = -1;
    return rc;
}

static void
sync_push(struct folio_sched *s, int fd)
{
    pthread_mutex_lock(&s->sync_mu);
    if (s->sync_count == s->sync_cap) {
        s->sync_cap = s->sync_cap ? s->sync_cap * 2 : 16;
        s->sync_fds = folio_reallocarray(s->sync_fds, s->sync_cap, sizeof(int));
    }
    s->sync_fds[s->sync_count++] = fd;
    pthread_mutex_unlock(&s->sync_mu);
}

void
run_content_unlink(struct folio_sched *s, const char *content_file)
{
    char *path = run_path(s->content_dir, content_file);
    folio_io_unlink(path);
    folio_free(path);
}

static int
content_write(struct folio_sched *s, const char *data, size_t len, char name[RUN_UUID_LEN + 1],
              struct folio_sched_error *err)
{
    run_uuid_new(name);
    char *path = run_path(s->content_dir, name);
    int fd = folio_io_open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0 || folio_io_pwrite_all(fd, data, len, 0) != 0) {
        int e = errno;
        rc = folio_err_from_errno(e);
        if (fd >= 0) {
            close(fd);
            folio_io_unlink(path);
        }
        folio_free(path);
        if (rc == FOLIO_E_NOSPC)
            return reg_error(err, rc, 422, "no_space_left_on_device",
                             "folio cannot store this payload: no space is left on the device.");
        return reg_error(err, rc, 422, "io_error", "folio cannot store this payload: %s.",
                         strerror(e));
    }
    folio_free(path);
    folio_crash_point("content-written");
    sync_push(s, fd);
    return 0;
}

/* ---- JSON to msgpack (settings) --------------------------------------------- */

static void
put_double(struct mpw *w, double d)
{
    uint8_t b[9];
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    b[0] = 0xcb;
    for (int i = 0; i < 8; i++)
        b[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
    mpw_raw(w, b, sizeof(b));
}

static int
json_to_mp(struct mpw *w, const json_t *v, unsigned depth)
{
    if (depth > FOLIO_EVENT_OBJECT_DEPTH_MAX - 1)
        return FOLIO_E_TOO_LARGE;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        mpw_map(w, (uint32_t)json_object_size(v));
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            mpw_cstr(w, k);
            int rc = json_to_mp(w, x, depth + 1);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    case JSON_ARRAY: {
        mpw_array(w, (uint32_t)json_array_size(v));
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            int rc = json_to_mp(w, x, depth + 1);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    case JSON_STRING: mpw_str(w, json_string_value(v), json_string_length(v)); return 0;
    case JSON_INTEGER: mpw_i64(w, (int64_t)json_integer_value(v)); return 0;
    case JSON_REAL: put_double(w, json_real_value(v)); return 0;
    case JSON_TRUE: mpw_bool(w, true); return 0;
    case JSON_FALSE: mpw_bool(w, false); return 0;
    default: mpw_nil(w); return 0;
    }
}

/* ---- validation ---------------------------------------------------------------- */

static bool
str_valid_uid(struct folio_str u)
{
    return folio_index_uid_valid(u.ptr, u.len);
}

static int
bad_uid(struct folio_sched_error *err, struct folio_str u)
{
    return reg_error(err, FOLIO_E_INVALID, 400, "invalid_index_uid",
                     "`%.*s` is not a valid index uid. Index uid can be an integer or a string "
                     "containing only alphanumeric characters, hyphens (-) and underscores (_), "
                     "and can not be more than %u bytes.",
                     (int)(u.len > 450 ? 450 : u.len), u.ptr ? u.ptr : "", FOLIO_INDEX_UID_MAX);
}

static int
check_primary_key(struct folio_str pk, struct folio_sched_error *err)
{
    json_t *j = pk.len > 0 && pk.len <= FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX
                    ? json_stringn(pk.ptr, pk.len)
                    : NULL;
    if (j == NULL || memchr(pk.ptr, '\0', pk.len) != NULL) {
        json_decref(j);
        return reg_error(err, FOLIO_E_INVALID_PRIMARY_KEY, 400, "invalid_index_primary_key",
                         "`%.*s` is not a valid primary key: it must be a UTF-8 string of 1 to "
                         "%u bytes.",
                         (int)(pk.len > 200 ? 200 : pk.len), pk.ptr ? pk.ptr : "",
                         FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX);
    }
    json_decref(j);
    return 0;
}

/*
 * Resolves a snapshot path inside the snapshot directory: *rel receives the
 * path relative to it (caller frees).
 */
static int
resolve_snapshot(struct folio_sched *s, struct folio_str path, char **rel,
                 struct folio_sched_error *err)
{
    *rel = NULL;
    if (s->snapshot_dir == NULL)
        return reg_error(err, FOLIO_E_INVALID, 400, "invalid_snapshot_path",
                         "Snapshot tasks need a snapshot directory: start folio with "
                         "--snapshot-dir.");
    if (path.len == 0 || path.len > 4000 || memchr(path.ptr, '\0', path.len) != NULL)
        return reg_error(err, FOLIO_E_INVALID, 400, "invalid_snapshot_path",
                         "`snapshotPath` must be a non-empty path inside the snapshot directory.");
    char root[PATH_MAX];
    if (realpath(s->snapshot_dir, root) == NULL)
        return reg_error(err, FOLIO_E_NOT_FOUND, 404, "snapshot_file_not_found",
                         "The snapshot directory `%s` does not exist.", s->snapshot_dir);
    char *joined;
    if (path.ptr[0] == '/') {
        joined = folio_strndup(path.ptr, path.len);
    } else {
        char *p = folio_strndup(path.ptr, path.len);
        joined = run_path(root, p);
        folio_free(p);
    }
    char real[PATH_MAX];
    bool found = realpath(joined, real) != NULL;
    int e = errno;
    folio_free(joined);
    size_t rl = strlen(root);
    if (!found) {
        /* A path that leaves the directory is refused even if it does not exist. */
        if (path.ptr[0] == '/' || memmem(path.ptr, path.len, "..", 2) != NULL)
            return reg_error(err, FOLIO_E_INVALID, 400, "invalid_snapshot_path",
                             "`%.*s` is outside the snapshot directory: snapshot paths are "
                             "relative to it and may not leave it.",
                             (int)(path.len > 300 ? 300 : path.len), path.ptr);
        return reg_error(err, FOLIO_E_NOT_FOUND, 404, "snapshot_file_not_found",
                         "Snapshot file `%.*s` not found in the snapshot directory (%s).",
                         (int)(path.len > 300 ? 300 : path.len), path.ptr, strerror(e));
    }
    if (strncmp(real, root, rl) != 0 || real[rl] != '/')
        return reg_error(err, FOLIO_E_INVALID, 400, "invalid_snapshot_path",
                         "`%.*s` is outside the snapshot directory: snapshot paths are relative "
                         "to it and may not leave it.",
                         (int)(path.len > 300 ? 300 : path.len), path.ptr);
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode) || access(real, R_OK) != 0)
        return reg_error(err, FOLIO_E_NOT_FOUND, 404, "snapshot_file_not_found",
                         "Snapshot file `%.*s` is not a readable regular file.",
                         (int)(path.len > 300 ? 300 : path.len), path.ptr);
    *rel = folio_strdup(real + rl + 1);
    return 0;
}

/* May uid exist when the task runs: in the mapping, or a pending task may create it. */
static bool
index_may_exist(const struct folio_sched_state *st, struct folio_str uid)
{
    struct folio_index_view v;
    if (folio_sched_index_get(st, uid.ptr, uid.len, &v) == 0)
        return true;
    return run_index_creator_pending(st, uid, UINT32_MAX);
}

static bool
kind_needs_index(const struct folio_sched_request *req)
{
    switch (req->kind) {
    case FOLIO_KIND_DOCUMENT_DELETION:
    case FOLIO_KIND_INDEX_DELETION:
    case FOLIO_KIND_INDEX_UPDATE:
    case FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION:
        return true;
    case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE:
    case FOLIO_KIND_SETTINGS_UPDATE:
        return req->forbid_index_creation;
    default:
        return false;
    }
}

/* ---- the registration ---------------------------------------------------------- */

struct reg_op {
    struct run_append a;
    struct folio_event ev;
    struct folio_str index_uids[2];
    struct folio_str *swap_uids;
    uint8_t *content;
    char content_file[RUN_UUID_LEN + 1];
    bool has_file;
    char *snapshot_rel;
    uint8_t *settings_mp;
    char checksum[33];
    char **uid_copies;               /* the event's index uids, owned */
    uint32_t uid_copy_count;
    struct folio_sched_registered out;
    folio_sched_registered_fn cb;
    void *cb_ctx;
    /* synchronous callers */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool fired;
    int err;
};

static void
reg_op_free(struct reg_op *op)
{
    folio_free(op->swap_uids);
    folio_free(op->content);
    folio_free(op->snapshot_rel);
    folio_free(op->settings_mp);
    for (uint32_t i = 0; i < op->uid_copy_count; i++)
        folio_free(op->uid_copies[i]);
    folio_free(op->uid_copies);
    folio_free(op);
}

static void
reg_done(struct run_append *a, int err, uint64_t first_seq)
{
    struct reg_op *op = a->ctx;
    if (err != 0 && op->has_file)
        run_content_unlink(a->s, op->content_file);
    op->out.seq = err == 0 ? first_seq : 0;
    if (op->cb != NULL) {
        op->cb(op->cb_ctx, err, &op->out);
        reg_op_free(op);
        return;
    }
    pthread_mutex_lock(&op->mu);
    op->err = err;
    op->fired = true;
    pthread_cond_signal(&op->cond);
    pthread_mutex_unlock(&op->mu);
}

/*
 * A deletion by filter: the filter's JSON text must make a filter whose
 * syntax is right (filterability needs the index: checked when processed).
 */
static int
filter_content(struct folio_str json, struct folio_task_content *c,
               struct folio_sched_error *err)
{
    if (json.len > FOLIO_EVENT_STR_MAX)
        return reg_error(err, FOLIO_E_INVALID, 400, "invalid_document_filter",
                         "The filter is %u bytes long; folio takes filters of at most %u bytes.",
                         json.len, FOLIO_EVENT_STR_MAX);
    char *expr = NULL;
    struct folio_index_error ierr;
    int rc = folio_index_filter_from_json(json.ptr, json.len, &expr, &ierr);
    bool empty = rc == 0 && expr == NULL;
    folio_free(expr);
    if (rc != 0)
        return reg_error(err, FOLIO_E_INVALID, 400, "invalid_document_filter", "%s",
                         ierr.message);
    if (empty)
        return reg_error(err, FOLIO_E_INVALID, 400, "invalid_document_filter",
                         "The filter cannot be empty.");
    c->filter = json;
    return 0;
}

/* Builds the content of req into c (borrowing from req and op). */
static int
build_content(struct folio_sched *s, const struct folio_sched_request *req, struct reg_op *op,
              struct folio_task_content *c, struct folio_sched_error *err)
{
    memset(c, 0, sizeof(*c));
    c->kind = req->kind;
    int rc = 0;
    switch (req->kind) {
    case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE: {
        if (req->format > FOLIO_INDEX_FORMAT_CSV)
            return reg_error(err, FOLIO_E_INVALID, 415, "invalid_content_type",
                             "The payload format is not one of JSON, NDJSON or CSV.");
        if (req->csv_delimiter != 0 &&
            (req->format != FOLIO_INDEX_FORMAT_CSV || (unsigned char)req->csv_delimiter < 0x20 ||
             (unsigned char)req->csv_delimiter >= 0x7f || req->csv_delimiter == '"'))
            return reg_error(err, FOLIO_E_INVALID, 400, "invalid_document_csv_delimiter",
                             "`csvDelimiter` must be one printable ASCII character other than a "
                             "double quote, and only goes with CSV payloads.");
        if (req->primary_key.len > 0 && (rc = check_primary_key(req->primary_key, err)) != 0)
            return rc;
        struct folio_index_payload p = {(enum folio_index_format)req->format, req->payload,
                                        req->payload_len, s->opts.payload_bytes_max,
                                        req->csv_delimiter};
        uint64_t docs = 0;
        struct folio_index_error ierr;
        if (req->payload_len > s->opts.payload_bytes_max)
            return reg_error(err, FOLIO_E_PAYLOAD_TOO_LARGE, 413, "payload_too_large",
                             "The provided payload reached the size limit. The maximum accepted "
                             "payload size is %llu bytes.",
                             (unsigned long long)s->opts.payload_bytes_max);
        rc = folio_index_payload_count(&p, &docs, &ierr);
        if (rc != 0)
            return reg_index_error(err, rc, &ierr);
        c->method = req->method;
        c->format = (enum folio_doc_format)req->format;
        c->csv_delimiter = req->csv_delimiter;
        c->primary_key = req->primary_key;
        XXH128_hash_t h = XXH3_128bits(req->payload, req->payload_len);
        snprintf(op->checksum, sizeof(op->checksum), "%016llx%016llx",
                 (unsigned long long)h.high64, (unsigned long long)h.low64);
        c->content_checksum = (struct folio_str){op->checksum, 32};
        c->content_bytes = req->payload_len;
        c->documents_count_set = true;
        c->documents_count = docs;
        if (req->forbid_index_creation) {
            c->allow_index_creation_set = true;
            c->allow_index_creation = false;
        }
        if (req->payload_len <= s->opts.inline_payload_max) {
            c->payload = (const uint8_t *)req->payload;
            c->payload_len = (uint32_t)req->payload_len;
        } else {
            rc = content_write(s, req->payload, req->payload_len, op->content_file, err);
            if (rc != 0)
                return rc;
            op->has_file = true;
            c->content_file = folio_str_c(op->content_file);
        }
        return 0;
    }
    case FOLIO_KIND_DOCUMENT_DELETION:
        if (req->clear) {
            c->clear = true;
            return 0;
        }
        if (req->filter_json.len > 0)
            return filter_content(req->filter_json, c, err);
        if (req->id_count == 0 || req->id_count > FOLIO_EVENT_ARRAY_MAX)
            return reg_error(err, FOLIO_E_INVALID, 400, "invalid_document_ids",
                             "A deletion needs 1 to %u document ids.", FOLIO_EVENT_ARRAY_MAX);
        for (uint32_t i = 0; i < req->id_count; i++)
            if (!folio_document_id_valid(req->ids[i].ptr, req->ids[i].len))
                return reg_error(err, FOLIO_E_INVALID_DOCUMENT_ID, 400, "invalid_document_id",
                                 "Document identifier `%.*s` is invalid. A document identifier "
                                 "can be of type integer or string, only composed of "
                                 "alphanumeric characters (a-z A-Z 0-9), hyphens (-) and "
                                 "underscores (_), and can not be more than 511 bytes.",
                                 (int)(req->ids[i].len > 600 ? 600 : req->ids[i].len),
                                 req->ids[i].ptr ? req->ids[i].ptr : "");
        c->ids = (struct folio_str_array){req->ids, req->id_count};
        return 0;
    case FOLIO_KIND_SETTINGS_UPDATE: {
        const char *text = req->settings_reset ? "{}" : req->settings_json;
        size_t len = req->settings_reset ? 2 : req->settings_len;
        if (text == NULL)
            return reg_error(err, FOLIO_E_MISSING_PAYLOAD, 400, "missing_payload",
                             "A settings update needs a JSON object.");
        struct folio_index_error ierr;
        rc = folio_index_settings_validate(text, len, &ierr);
        if (rc != 0)
            return reg_index_error(err, rc, &ierr);
        json_error_t jerr;
        json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (j == NULL)
            return reg_error(err, FOLIO_E_MALFORMED_PAYLOAD, 400, "malformed_payload",
                             "The settings are not valid JSON: %s.", jerr.text);
        struct mpw w;
        mpw_init(&w, FOLIO_EVENT_OBJECT_BYTES_MAX);
        rc = json_to_mp(&w, j, 0);
        json_decref(j);
        if (rc == 0 && w.err != 0)
            rc = w.err;
        if (rc != 0) {
            mpw_free(&w);
            return reg_error(err, FOLIO_E_PAYLOAD_TOO_LARGE, 413, "payload_too_large",
                             "These settings are too large or too deeply nested for folio "
                             "(at most %u bytes once encoded, %u levels).",
                             FOLIO_EVENT_OBJECT_BYTES_MAX, FOLIO_EVENT_OBJECT_DEPTH_MAX);
        }
        size_t mlen;
        op->settings_mp = mpw_take(&w, &mlen);
        c->settings = (struct folio_object){op->settings_mp, (uint32_t)mlen};
        c->is_deletion = req->settings_reset;
        if (req->forbid_index_creation) {
            c->allow_index_creation_set = true;
            c->allow_index_creation = false;
        }
        return 0;
    }
    case FOLIO_KIND_INDEX_CREATION:
        if (req->primary_key.len > 0 && (rc = check_primary_key(req->primary_key, err)) != 0)
            return rc;
        c->primary_key = req->primary_key;
        return 0;
    case FOLIO_KIND_INDEX_UPDATE:
        if (req->primary_key.len > 0 && (rc = check_primary_key(req->primary_key, err)) != 0)
            return rc;
        if (req->new_index_uid.len > 0) {
            if (!str_valid_uid(req->new_index_uid))
                return bad_uid(err, req->new_index_uid);
            if (req->new_index_uid.len == req->index_uid.len &&
                memcmp(req->new_index_uid.ptr, req->index_uid.ptr, req->index_uid.len) == 0)
                return reg_error(err, FOLIO_E_INVALID, 400, "invalid_index_uid",
                                 "An index cannot be renamed to its own uid `%.*s`.",
                                 (int)req->index_uid.len, req->index_uid.ptr);
        }
        c->primary_key = req->primary_key;
        c->new_index_uid = req->new_index_uid;
        return 0;
    case FOLIO_KIND_INDEX_SWAP:
        for (uint32_t i = 0; i < req->swap_count; i++) {
            for (unsigned k = 0; k < 2; k++)
                if (!str_valid_uid(req->swaps[i].indexes[k]))
                    return bad_uid(err, req->swaps[i].indexes[k]);
            for (uint32_t j = 0; j <= i; j++)
                for (unsigned k = 0; k < 2; k++)
                    for (unsigned l = 0; l < 2; l++) {
                        if (j == i && k >= l)
                            continue;
                        struct folio_str a = req->swaps[i].indexes[l], b = req->swaps[j].indexes[k];
                        if (a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0)
                            return reg_error(err, FOLIO_E_INVALID, 400,
                                             "invalid_swap_duplicate_index_found",
                                             "Indexes must be declared only once during a swap. "
                                             "`%.*s` was specified several times.",
                                             (int)a.len, a.ptr);
                    }
        }
        if (req->swap_count > FOLIO_EVENT_ARRAY_MAX / 2)
            return reg_error(err, FOLIO_E_INVALID, 400, "invalid_swap_indexes",
                             "Too many swaps in one request.");
        c->swaps = req->swaps;
        c->swap_count = req->swap_count;
        return 0;
    case FOLIO_KIND_TASK_CANCELATION:
    case FOLIO_KIND_TASK_DELETION:
        if (req->filter == NULL || req->query.len == 0 ||
            (req->query.len == 1 && req->query.ptr[0] == '?'))
            return reg_error(err, FOLIO_E_INVALID, 400, "missing_task_filters",
                             "Query parameters to filter the tasks to %s are missing. Available "
                             "query parameters are: `uids`, `indexUids`, `statuses`, `types`, "
                             "`canceledBy`, `beforeEnqueuedAt`, `afterEnqueuedAt`, "
                             "`beforeStartedAt`, `afterStartedAt`, `beforeFinishedAt`, "
                             "`afterFinishedAt`.",
                             req->kind == FOLIO_KIND_TASK_CANCELATION ? "cancel" : "delete");
        if (req->query.len > FOLIO_EVENT_STR_MAX)
            return reg_error(err, FOLIO_E_INVALID, 400, "bad_request",
                             "The query string is longer than %u bytes.", FOLIO_EVENT_STR_MAX);
        c->query = req->query;
        return 0;
    case FOLIO_KIND_INDEX_DELETION:
        return 0;
    case FOLIO_KIND_SNAPSHOT_CREATION:
        if (s->snapshot_dir == NULL)
            return reg_error(err, FOLIO_E_INVALID, 400, "invalid_snapshot_path",
                             "Snapshot tasks need a snapshot directory: start folio with "
                             "--snapshot-dir.");
        return 0;
    case FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION:
        if (s->snapshot_dir == NULL)
            return reg_error(err, FOLIO_E_INVALID, 400, "invalid_snapshot_path",
                             "Snapshot tasks need a snapshot directory: start folio with "
                             "--snapshot-dir.");
        return 0;
    case FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT:
        rc = resolve_snapshot(s, req->snapshot_path, &op->snapshot_rel, err);
        if (rc != 0)
            return rc;
        c->snapshot_path = folio_str_c(op->snapshot_rel);
        if (req->source_index_uid.len > 0 && !str_valid_uid(req->source_index_uid))
            return bad_uid(err, req->source_index_uid);
        if (req->new_index_uid.len > 0 && !str_valid_uid(req->new_index_uid))
            return bad_uid(err, req->new_index_uid);
        if (req->source_index_uid.len == 0 && req->new_index_uid.len == 0)
            return reg_error(err, FOLIO_E_INVALID, 400, "missing_index_uid",
                             "An import needs `indexUid` (the index in the snapshot) or "
                             "`newIndexUid` (the uid to import it as).");
        c->index_uid = req->source_index_uid;
        c->new_index_uid = req->new_index_uid;
        return 0;
    default:
        return reg_error(err, FOLIO_E_INVALID, 400, "invalid_task_types", "Unknown task kind.");
    }
}

static int
register_op(struct folio_sched *s, const struct folio_sched_request *req, struct reg_op *op,
            struct folio_sched_error *err)
{
    struct folio_sched_error local;
    if (err == NULL)
        err = &local;
    memset(err, 0, sizeof(*err));
    if ((unsigned)req->kind >= FOLIO_KIND_COUNT)
        return reg_error(err, FOLIO_E_INVALID, 400, "invalid_task_types", "Unknown task kind.");
    bool import = req->kind == FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT;
    bool one = folio_task_kind_one_index(req->kind) && !import;
    if (one && !str_valid_uid(req->index_uid))
        return bad_uid(err, req->index_uid);

    struct folio_task_content c;
    int rc = build_content(s, req, op, &c, err);
    if (rc != 0)
        return rc;

    /* The index uids the task touches. */
    struct folio_str *uids = op->index_uids;
    uint32_t uid_max = 2, uid_count = 0;
    if (req->kind == FOLIO_KIND_INDEX_SWAP) {
        uid_max = req->swap_count * 2;
        op->swap_uids = uid_max ? folio_calloc(uid_max, sizeof(*uids)) : NULL;
        uids = op->swap_uids;
    }
    struct folio_str own = one ? req->index_uid : (struct folio_str){NULL, 0};
    rc = folio_task_content_index_uids(&c, own, uids, uid_max, &uid_count);
    if (rc != 0) {
        rc = reg_error(err, FOLIO_E_INVALID, 400, "bad_request", "The task names invalid indexes.");
        goto undo;
    }
    /* The event outlives req (asynchronous callers): it names copies. */
    op->uid_copies = uid_count ? folio_calloc(uid_count, sizeof(char *)) : NULL;
    for (uint32_t i = 0; i < uid_count; i++) {
        op->uid_copies[i] = folio_strndup(uids[i].ptr, uids[i].len);
        uids[i].ptr = op->uid_copies[i];
    }
    op->uid_copy_count = uid_count;

    uint64_t *matched = NULL;
    bool stop_running = false, stop_snapshot = false;
    bool query_kind =
        req->kind == FOLIO_KIND_TASK_CANCELATION || req->kind == FOLIO_KIND_TASK_DELETION;
    size_t clen = 0;
    /* Content that does not depend on the state is encoded before taking the lock. */
    if (!query_kind) {
        rc = folio_task_content_encode(&c, &op->content, &clen);
        if (rc != 0) {
            rc = reg_error(err, rc, 413, "payload_too_large",
                           "The task is too large to be recorded (%s).", folio_err_message(rc));
            goto undo;
        }
    }
    pthread_mutex_lock(&s->reg_mu);
    /*
     * next_task_uid is never below the state's next uid (it starts there and
     * only registrations, serialised here, raise either), so the state is
     * locked only for the checks that read it.
     */
    bool need_state = kind_needs_index(req) || import || query_kind;
    const struct folio_sched_state *st = need_state ? folio_sched_read_lock(s) : NULL;
    uint64_t uid = s->next_task_uid;
    if (uid > FOLIO_SCHED_UID_MAX) {
        rc = reg_error(err, FOLIO_E_TOO_LARGE, 422, "no_space_left_on_device",
                       "folio has used every task uid.");
    } else if (kind_needs_index(req) && !index_may_exist(st, req->index_uid)) {
        rc = reg_error(err, FOLIO_E_NOT_FOUND, 404, "index_not_found", "Index `%.*s` not found.",
                       (int)req->index_uid.len, req->index_uid.ptr);
    } else if (req->kind == FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT) {
        struct folio_index_view v;
        if (folio_sched_index_get(st, uids[0].ptr, uids[0].len, &v) == 0)
            rc = reg_error(err, FOLIO_E_EXISTS, 409, "index_already_exists",
                           "Index `%.*s` already exists: import the snapshot under another uid "
                           "with `newIndexUid`, or delete the index first.",
                           (int)uids[0].len, uids[0].ptr);
    } else if (query_kind) {
        uint32_t *m = NULL;
        size_t mcount = 0;
        rc = folio_sched_match_tasks(st, req->filter, &m, &mcount);
        if (rc == 0 && mcount > FOLIO_EVENT_ARRAY_MAX) {
            rc = reg_error(err, FOLIO_E_TOO_LARGE, 400, "bad_request",
                           "The filter matches %zu tasks; folio %s at most %u tasks per request: "
                           "narrow the filter.",
                           mcount,
                           req->kind == FOLIO_KIND_TASK_CANCELATION ? "cancels" : "deletes",
                           FOLIO_EVENT_ARRAY_MAX);
        } else if (rc == 0) {
            matched = mcount ? folio_calloc(mcount, sizeof(*matched)) : NULL;
            for (size_t i = 0; i < mcount; i++) {
                matched[i] = m[i];
                struct folio_task_view tv;
                if (req->kind == FOLIO_KIND_TASK_CANCELATION &&
                    folio_sched_task_get(st, m[i], &tv) == 0 &&
                    tv.status == FOLIO_STATUS_PROCESSING) {
                    /* A creation runs on the snapshot lane, everything else on the main one. */
                    if (tv.kind == FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION)
                        stop_snapshot = true;
                    else
                        stop_running = true;
                }
            }
            c.matched_tasks = (struct folio_u64_array){matched, (uint32_t)mcount};
        } else {
            rc = reg_error(err, rc, 500, "internal", "Matching the tasks failed: %s.",
                           folio_err_message(rc));
        }
        folio_free(m);
    }
    if (need_state)
        folio_sched_read_unlock(s);
    if (rc == 0 && query_kind) {
        rc = folio_task_content_encode(&c, &op->content, &clen);
        if (rc != 0)
            rc = reg_error(err, rc, 413, "payload_too_large",
                           "The task is too large to be recorded (%s).", folio_err_message(rc));
    }
    if (rc == 0) {
        int64_t now = folio_clock_now_ns();
        op->ev.type = FOLIO_EV_TASK_REGISTERED;
        op->ev.at_ns = now;
        op->ev.u.task_registered.task_uid = uid;
        op->ev.u.task_registered.kind = folio_str_c(folio_task_kind_name(req->kind));
        op->ev.u.task_registered.index_uids = (struct folio_str_array){uids, uid_count};
        op->ev.u.task_registered.enqueued_at_ns = now;
        op->ev.u.task_registered.content = (struct folio_object){op->content, (uint32_t)clen};
        op->out.task_uid = (uint32_t)uid;
        op->out.kind = req->kind;
        op->out.enqueued_at_ns = now;
        if (one || import)
            snprintf(op->out.index_uid, sizeof(op->out.index_uid), "%.*s", (int)uids[0].len,
                     uids[0].ptr);
        op->a.events = &op->ev;
        op->a.count = 1;
        op->a.done = reg_done;
        op->a.ctx = op;
        rc = run_append_async(s, &op->a);
        if (rc == 0)
            s->next_task_uid = uid + 1;
        else
            rc = reg_error(err, rc, rc == FOLIO_E_NOSPC ? 422 : 503,
                           rc == FOLIO_E_NOSPC ? "no_space_left_on_device" : "internal",
                           "The task could not be recorded: %s.", folio_err_message(rc));
    }
    pthread_mutex_unlock(&s->reg_mu);
    folio_free(matched);
    /* op->content and the event now belong to the append (freed with op) */
    if (rc == 0) {
        if (stop_running)
            atomic_store(&s->must_stop, true);
        if (stop_snapshot)
            atomic_store(&s->snap_must_stop, true);
        return 0;
    }
undo:
    if (op->has_file) {
        run_content_unlink(s, op->content_file);
        op->has_file = false;
    }
    return rc;
}

int
folio_sched_register(struct folio_sched *s, const struct folio_sched_request *req,
                     struct folio_sched_registered *out, struct folio_sched_error *err)
{
    struct reg_op *op = folio_calloc(1, sizeof(*op));
    pthread_mutex_init(&op->mu, NULL);
    pthread_cond_init(&op->cond, NULL);
    int rc = register_op(s, req, op, err);
    if (rc == 0) {
        pthread_mutex_lock(&op->mu);
        while (!op->fired)
            pthread_cond_wait(&op->cond, &op->mu);
        pthread_mutex_unlock(&op->mu);
        rc = op->err;
        if (rc != 0)
            reg_error(err, rc, rc == FOLIO_E_NOSPC ? 422 : 503,
                      rc == FOLIO_E_NOSPC ? "no_space_left_on_device" : "internal",
                      "The task could not be recorded: %s.", folio_err_message(rc));
        else if (out != NULL)
            *out = op->out;
    }
    pthread_mutex_destroy(&op->mu);
    pthread_cond_destroy(&op->cond);
    reg_op_free(op);
    return rc;
}

int
folio_sched_register_async(struct folio_sched *s, const struct folio_sched_request *req,
                           folio_sched_registered_fn cb, void *ctx, struct folio_sched_error *err)
{
    struct reg_op *op = folio_calloc(1, sizeof(*op));
    op->cb = cb;
    op->cb_ctx = ctx;
    int rc = register_op(s, req, op, err);
    if (rc != 0)
        reg_op_free(op);
    return rc;
}
