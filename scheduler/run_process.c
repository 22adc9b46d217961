/*
 * The main processing thread: one batch at a time, chosen by run_batch_next
 * (single-index snapshot creations run on the snapshot lane, run_snapshot.c,
 * and the main lane leaves the indexes they hold alone).
 *
 * For each batch: batch_started (durable) → for each task, in uid order, its
 * work; every write to an index env stores the applied marker {task uid, seq
 * of batch_started} and the task's outcome in the same LMDB transaction (a
 * task that fails with the index open stores its failure with
 * folio_index_mark); the document, deletion and settings tasks share one
 * index batch (nested transactions, one durable commit: "Index batches"
 * below), committed before any of their outcomes is appended → the outcome
 * events, with the mapping events a task causes, appended atomically per
 * task (and many tasks per append, as many as fit a journal frame) →
 * leftovers (content files, a deleted index's directory) removed. run_dir.c
 * finishes or requeues what a crash interrupts, from those markers.
 *
 * A cancelation that matches a task of the running batch raises must_stop
 * (so does closing the scheduler): the batch stops before its next task, or
 * inside a long index write (a document addition, a deletion by filter, a
 * settings change that rebuilds: folio_index_set_stop, asked between
 * documents), which then changes nothing. The tasks not yet applied, the
 * stopped one included, are requeued (task_requeued), and the cancelation,
 * which has priority, cancels them. Applied tasks keep their outcome: they
 * cannot be undone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
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

/* ---- outcome and error objects -------------------------------------------- */

int
run_outcome_encode(bool failed, const uint8_t *details, size_t details_len, const uint8_t *error,
                   size_t error_len, uint8_t **out, size_t *len)
{
    struct mpw w;
    mpw_init(&w, FOLIO_INDEX_OUTCOME_BYTES_MAX);
    mpw_map(&w, 3);
    mpw_cstr(&w, "failed");
    mpw_bool(&w, failed);
    mpw_cstr(&w, "details");
    if (details_len > 0)
        mpw_raw(&w, details, details_len);
    else
        mpw_nil(&w);
    mpw_cstr(&w, "error");
    if (error_len > 0)
        mpw_raw(&w, error, error_len);
    else
        mpw_nil(&w);
    if (w.err != 0) {
        int err = w.err;
        mpw_free(&w);
        return err;
    }
    *out = mpw_take(&w, len);
    return 0;
}

/* The raw bytes of the next value (a map), or len 0 for nil. */
static int
raw_value(struct mpr *r, struct folio_object *o)
{
    struct mpr probe = *r;
    struct mpv v;
    if (mpr_next(&probe, &v) != 0)
        return FOLIO_E_DECODE;
    if (v.kind == MPK_NIL) {
        *r = probe;
        *o = (struct folio_object){NULL, 0};
        return 0;
    }
    const uint8_t *start = r->p;
    if (v.kind != MPK_MAP || mpr_skip(r, FOLIO_EVENT_OBJECT_DEPTH_MAX) != 0)
        return FOLIO_E_DECODE;
    *o = (struct folio_object){start, (uint32_t)(r->p - start)};
    return 0;
}

int
run_outcome_decode(const uint8_t *buf, size_t len, bool *failed, struct folio_object *details,
                   struct folio_object *error)
{
    struct mpr r = {buf, buf + len};
    uint32_t n;
    if (mpr_container(&r, MPK_MAP, &n) != 0 || n != 3)
        return FOLIO_E_DECODE;
    const uint8_t *k;
    uint32_t kl;
    struct mpv v;
    if (mpr_str(&r, &k, &kl) != 0 || !mp_str_eq(k, kl, "failed") || mpr_next(&r, &v) != 0 ||
        v.kind != MPK_BOOL)
        return FOLIO_E_DECODE;
    *failed = v.b;
    if (mpr_str(&r, &k, &kl) != 0 || !mp_str_eq(k, kl, "details") || raw_value(&r, details) != 0)
        return FOLIO_E_DECODE;
    if (mpr_str(&r, &k, &kl) != 0 || !mp_str_eq(k, kl, "error") || raw_value(&r, error) != 0)
        return FOLIO_E_DECODE;
    if (r.p != r.end || (*failed && error->len == 0))
        return FOLIO_E_DECODE;
    return 0;
}

int
run_error_object(const char *code, const char *type, const char *message, uint8_t **out,
                 size_t *len)
{
    struct folio_task_error e = {folio_str_c(message), folio_str_c(code), folio_str_c(type),
                                 {NULL, 0}};
    return folio_task_error_encode(&e, out, len);
}

/*
 * Meilisearch's to_failed(): the registration-time details of a task that
 * will never run, with the counters of the work (null until then) set to 0.
 * Returns a new object (caller frees) or NULL if details is not a map.
 */
uint8_t *
run_details_to_failed(const uint8_t *details, size_t len, size_t *out_len)
{
    static const char *const counters[] = {"indexedDocuments", "deletedDocuments",
                                           "canceledTasks", "deletedTasks", "importedDocuments"};
    struct mpr r = {details, details + len};
    uint32_t n;
    if (len == 0 || mpr_container(&r, MPK_MAP, &n) != 0)
        return NULL;
    struct mpw w;
    mpw_init(&w, FOLIO_EVENT_OBJECT_BYTES_MAX);
    mpw_map(&w, n);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *k;
        uint32_t kl;
        if (mpr_str(&r, &k, &kl) != 0) {
            mpw_free(&w);
            return NULL;
        }
        mpw_str(&w, k, kl);
        const uint8_t *vstart = r.p;
        struct mpr probe = r;
        struct mpv v;
        if (mpr_next(&probe, &v) != 0 || mpr_skip(&r, FOLIO_EVENT_OBJECT_DEPTH_MAX) != 0) {
            mpw_free(&w);
            return NULL;
        }
        bool counter = false;
        for (unsigned c = 0; c < FOLIO_ARRAY_LEN(counters); c++)
            counter |= mp_str_eq(k, kl, counters[c]);
        if (v.kind == MPK_NIL && counter)
            mpw_u64(&w, 0);
        else
            mpw_raw(&w, vstart, (size_t)(r.p - vstart));
    }
    if (w.err != 0) {
        mpw_free(&w);
        return NULL;
    }
    return mpw_take(&w, out_len);
}

/* ---- the events of a batch -------------------------------------------------- */

struct outbuf {
    struct folio_event *ev;
    size_t count, cap;
    size_t bytes;                    /* rough size of what is pending */
    void **owned;
    size_t owned_count, owned_cap;
    /* content files to remove once the outcomes are durable */
    char **files;
    size_t file_count, file_cap;
};

static struct folio_event *
ob_push(struct outbuf *o, enum folio_event_type type)
{
    if (o->count == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 32;
        o->ev = folio_reallocarray(o->ev, o->cap, sizeof(*o->ev));
    }
    struct folio_event *ev = &o->ev[o->count++];
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    o->bytes += 128;
    return ev;
}

static void *
ob_keep(struct outbuf *o, void *p, size_t bytes)
{
    if (o->owned_count == o->owned_cap) {
        o->owned_cap = o->owned_cap ? o->owned_cap * 2 : 32;
        o->owned = folio_reallocarray(o->owned, o->owned_cap, sizeof(*o->owned));
    }
    o->owned[o->owned_count++] = p;
    o->bytes += bytes;
    return p;
}

static struct folio_str
ob_str(struct outbuf *o, const char *p, size_t n)
{
    char *c = ob_keep(o, folio_strndup(p, n), n);
    return (struct folio_str){c, (uint32_t)n};
}

/* Where the pending events stand (ob_mark), to go back there (ob_rewind). */
struct ob_pos {
    size_t count, owned, bytes, files;
};

static struct ob_pos
ob_mark(const struct outbuf *o)
{
    return (struct ob_pos){o->count, o->owned_count, o->bytes, o->file_count};
}

/* Drops what was pushed since pos. */
static void
ob_rewind(struct outbuf *o, const struct ob_pos *pos)
{
    for (size_t k = pos->owned; k < o->owned_count; k++)
        folio_free(o->owned[k]);
    o->owned_count = pos->owned;
    o->count = pos->count;
    o->bytes = pos->bytes;
    for (size_t k = pos->files; k < o->file_count; k++)
        folio_free(o->files[k]);
    o->file_count = pos->files;
}

static void
ob_reset(struct outbuf *o)
{
    for (size_t i = 0; i < o->owned_count; i++)
        folio_free(o->owned[i]);
    o->owned_count = 0;
    o->count = 0;
    o->bytes = 0;
}

static void
ob_free(struct outbuf *o)
{
    ob_reset(o);
    for (size_t i = 0; i < o->file_count; i++)
        folio_free(o->files[i]);
    folio_free(o->files);
    folio_free(o->owned);
    folio_free(o->ev);
}

static bool
ev_is_mapping(const struct folio_event *ev)
{
    return ev->type == FOLIO_EV_INDEX_CREATED || ev->type == FOLIO_EV_INDEX_DELETED ||
           ev->type == FOLIO_EV_INDEX_UPDATED || ev->type == FOLIO_EV_INDEXES_SWAPPED ||
           ev->type == FOLIO_EV_TASKS_DELETED;
}

/* The frame body bytes of one event: its encoding and its length prefix. */
static uint64_t
ev_frame_bytes(struct folio_event *ev, int64_t now)
{
    if (ev->at_ns == 0)
        ev->at_ns = now; /* as run_append_async would: the size depends on it */
    uint8_t *buf = NULL;
    size_t len = 0;
    if (folio_event_encode(ev, &buf, &len) != 0)
        FOLIO_PANIC("cannot encode a %s event", folio_event_type_name(ev->type));
    folio_free(buf);
    return 4u + (uint64_t)len;
}

/*
 * Appends what is pending (the events of whole tasks), durably. Each append
 * is atomic, so it holds whole units (a task's mapping events with the
 * outcome after them), as many as fit one journal frame (the journal's own
 * limits: small segments make small frames).
 */
static int
ob_flush(struct folio_sched *s, struct outbuf *o)
{
    uint32_t body_max, events_max;
    folio_journal_append_limits(s->journal, &body_max, &events_max);
    if (events_max > 4096)
        events_max = 4096; /* run_append_async's bound */
    int64_t now = folio_clock_now_ns();
    int rc = 0;
    size_t at = 0;
    while (at < o->count && rc == 0) {
        size_t n = 0;
        uint64_t bytes = 0;
        while (at + n < o->count) {
            size_t u = 0;
            uint64_t ub = 0;
            while (at + n + u < o->count && ev_is_mapping(&o->ev[at + n + u]))
                ub += ev_frame_bytes(&o->ev[at + n + u++], now);
            if (at + n + u < o->count)
                ub += ev_frame_bytes(&o->ev[at + n + u++], now);
            if (n > 0 && (n + u > events_max || bytes + ub > body_max))
                break;
            n += u;
            bytes += ub;
        }
        rc = run_append_wait(s, o->ev + at, n, NULL);
        at += n;
    }
    if (rc != 0)
        FOLIO_PANIC("cannot record the outcome of a batch: %s", folio_err_message(rc));
    ob_reset(o);
    folio_crash_point("outcome-durable");
    for (size_t i = 0; i < o->file_count; i++) {
        run_content_unlink(s, o->files[i]);
        folio_free(o->files[i]);
    }
    o->file_count = 0;
    return 0;
}

static void
ob_file(struct outbuf *o, const char *name)
{
    if (o->file_count == o->file_cap) {
        o->file_cap = o->file_cap ? o->file_cap * 2 : 16;
        o->files = folio_reallocarray(o->files, o->file_cap, sizeof(*o->files));
    }
    o->files[o->file_count++] = folio_strdup(name);
}

/* ---- progress ---------------------------------------------------------------- */

struct progress_op {
    struct run_append a;
    struct folio_event ev;
    char step[FOLIO_INDEX_UID_MAX + 128];
};

static void
progress_done(struct run_append *a, int err, uint64_t first_seq)
{
    (void)err;
    (void)first_seq;
    folio_free(a->ctx);
}

void
run_progress(struct folio_sched *s, uint32_t batch_uid, const char *step, uint32_t index,
             uint32_t total)
{
    struct progress_op *op = folio_calloc(1, sizeof(*op));
    snprintf(op->step, sizeof(op->step), "%.*s", (int)(sizeof(op->step) - 1), step);
    op->ev.type = FOLIO_EV_PROGRESS;
    op->ev.u.progress.batch_uid = batch_uid;
    op->ev.u.progress.step = folio_str_c(op->step);
    op->ev.u.progress.step_index = index;
    op->ev.u.progress.step_total = total;
    op->a.events = &op->ev;
    op->a.count = 1;
    op->a.done = progress_done;
    op->a.ctx = op;
    if (run_append_async(s, &op->a) != 0)
        folio_free(op);
}

/* ---- one batch ---------------------------------------------------------------- */

struct batch_ctx {
    struct folio_sched *s;
    uint32_t uid;
    uint64_t seq;                    /* of batch_started: the markers' batch_seq */
    struct outbuf out;
    /* the batch's index */
    char index_uid[FOLIO_INDEX_UID_MAX + 1];
    char uuid[RUN_UUID_LEN + 1];     /* "" while it does not exist */
    struct folio_index *idx;         /* acquired, or NULL */
    bool index_has_pk;
    /*
     * The open index batch on idx (ib_begin), and what to go back to when it
     * is rolled back: its first task and the pending events before it.
     */
    bool ib_open;
    uint32_t ib_from;
    struct ob_pos ib_pos;
    bool ib_has_pk;
    uint32_t solo_end;               /* tasks up to it commit one by one (after a rollback) */
    bool stopped;                    /* a write stopped part-way (must_stop): nothing applied */
};

/* A copy of one task: view fields and its decoded content. */
struct task_copy {
    uint32_t uid;
    enum folio_task_kind kind;
    uint8_t *content_bytes;
    struct folio_task_content c;
};

static int
task_load(struct folio_sched *s, uint32_t uid, struct task_copy *t)
{
    memset(t, 0, sizeof(*t));
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    struct folio_task_view v;
    int rc = folio_sched_task_get(st, uid, &v);
    if (rc == 0) {
        t->uid = uid;
        t->kind = v.kind;
        t->content_bytes = folio_malloc(v.content.len ? v.content.len : 1);
        if (v.content.len > 0)
            memcpy(t->content_bytes, v.content.ptr, v.content.len);
        rc = folio_task_content_decode(v.kind, t->content_bytes, v.content.len, &t->c);
    }
    folio_sched_read_unlock(s);
    return rc;
}

static void
tcopy_free(struct task_copy *t)
{
    folio_task_content_clear(&t->c);
    folio_free(t->content_bytes);
}

static void
add_outcome(struct batch_ctx *b, uint32_t task_uid, bool failed, const uint8_t *details,
            size_t dlen, const uint8_t *error, size_t elen)
{
    struct folio_event *ev = ob_push(&b->out, failed ? FOLIO_EV_TASK_FAILED : FOLIO_EV_TASK_SUCCEEDED);
    ev->u.task_outcome.task_uid = task_uid;
    ev->u.task_outcome.batch_uid = b->uid;
    ev->u.task_outcome.finished_at_ns = folio_clock_now_ns();
    if (dlen > 0) {
        uint8_t *d = ob_keep(&b->out, folio_malloc(dlen), dlen);
        memcpy(d, details, dlen);
        ev->u.task_outcome.details = (struct folio_object){d, (uint32_t)dlen};
    }
    if (failed) {
        uint8_t *e = ob_keep(&b->out, folio_malloc(elen), elen);
        memcpy(e, error, elen);
        ev->u.task_outcome.error = (struct folio_object){e, (uint32_t)elen};
    }
}

/* A failure: error object from code/message, details given (may be empty). */
static void
fail_task(struct batch_ctx *b, const struct task_copy *t, const uint8_t *details, size_t dlen,
          const char *code, const char *type, const char *message)
{
    uint8_t *e = NULL;
    size_t elen = 0;
    if (run_error_object(code, type, message, &e, &elen) != 0)
        FOLIO_PANIC("cannot encode error %s", code);
    add_outcome(b, t->uid, true, details, dlen, e, elen);
    folio_free(e);
}

static void
marker_of(const struct batch_ctx *b, uint32_t uid, const uint8_t *outcome, size_t len,
          struct folio_index_marker *m)
{
    memset(m, 0, sizeof(*m));
    m->task_uid = uid;
    m->batch_seq = b->seq;
    m->outcome = outcome;
    m->outcome_len = len;
}

/* The marker of a task whose success has details ok: *oc owns the encoded outcome. */
static void
success_marker(const struct batch_ctx *b, uint32_t uid, const uint8_t *ok, size_t ok_len,
               uint8_t **oc, struct folio_index_marker *m)
{
    size_t oclen = 0;
    *oc = NULL;
    if (run_outcome_encode(false, ok, ok_len, NULL, 0, oc, &oclen) != 0)
        FOLIO_PANIC("cannot encode the outcome of task %u", uid);
    marker_of(b, uid, *oc, oclen, m);
}

/*
 * True if rc says the task's index write stopped part-way because must_stop
 * was raised (folio_index_set_stop): the task was not applied and gets no
 * outcome; the batch requeues it with the tasks after it.
 */
static bool
write_stopped(struct batch_ctx *b, int rc)
{
    if (rc != FOLIO_E_CANCELED)
        return false;
    b->stopped = true;
    return true;
}

/* Closes b's index (b->idx already put back) and removes its files: b has no index after. */
static void
index_files_remove(struct batch_ctx *b)
{
    run_index_forget(b->s, b->uuid);
    char *dir = run_path(b->s->indexes_dir, b->uuid);
    run_rmrf(dir, NULL);
    folio_free(dir);
    folio_io_fsync_dir(b->s->indexes_dir);
    b->uuid[0] = '\0';
}

/*
 * The stopped task had created b's index (ensure_index, after *before): the
 * index goes again, as if never made, since the task will be requeued (and
 * maybe canceled). Its mapping event is still pending, so it is dropped and
 * nothing durable names the index; a crash meanwhile leaves an orphan
 * directory, which the next open removes.
 */
static void
stopped_undo_creation(struct batch_ctx *b, const struct ob_pos *before)
{
    run_index_put(b->s, b->idx);
    b->idx = NULL;
    ob_rewind(&b->out, before);
    index_files_remove(b);
    b->index_has_pk = false;
}

static void
requeue(struct batch_ctx *b, uint32_t uid, const char *reason)
{
    struct folio_event *ev = ob_push(&b->out, FOLIO_EV_TASK_REQUEUED);
    ev->u.task_requeued.task_uid = uid;
    ev->u.task_requeued.batch_uid = b->uid;
    ev->u.task_requeued.reason = folio_str_c(reason);
}

/* Details object for a kind from (key, u64 or nil) pairs; caller frees. */
static uint8_t *
details_encode(enum folio_task_kind kind, const struct folio_task_details *d, size_t *len)
{
    uint8_t *out = NULL;
    if (folio_task_details_encode(kind, d, &out, len) != 0)
        FOLIO_PANIC("cannot encode the details of a %s task", folio_task_kind_name(kind));
    return out;
}

#define DBIT(x) (1ull << FOLIO_DETAIL_##x)

/* Opens (or creates, if allowed) the batch's index. 0, FOLIO_E_NOT_FOUND or an error. */
static int
ensure_index(struct batch_ctx *b, const struct task_copy *t, bool create,
             const struct folio_index_marker *marker, struct folio_index_error *ierr)
{
    if (b->idx != NULL)
        return 0;
    if (b->uuid[0] != '\0')
        return run_index_get(b->s, b->uuid, &b->idx);
    if (!create)
        return FOLIO_E_NOT_FOUND;
    char uuid[RUN_UUID_LEN + 1];
    run_uuid_new(uuid);
    char *dir = run_path(b->s->indexes_dir, uuid);
    int rc = mkdir(dir, 0700) == 0 ? 0 : folio_err_from_errno(errno);
    if (rc == 0 && folio_io_fsync_dir(b->s->indexes_dir) != 0)
        rc = folio_err_from_errno(errno);
    struct folio_index *idx = NULL;
    const char *pk = t->c.primary_key.len > 0 ? t->c.primary_key.ptr : NULL;
    if (rc == 0)
        rc = folio_index_create(dir, &b->s->index_opts, pk, marker, &idx, ierr);
    if (rc != 0) {
        rmdir(dir);
        folio_free(dir);
        return rc;
    }
    folio_free(dir);
    folio_crash_point("index-created");
    run_index_adopt(b->s, uuid, idx);
    b->idx = idx;
    snprintf(b->uuid, sizeof(b->uuid), "%s", uuid);
    b->index_has_pk = pk != NULL;
    struct folio_event *ev = ob_push(&b->out, FOLIO_EV_INDEX_CREATED);
    ev->u.index_change.index_uid = ob_str(&b->out, b->index_uid, strlen(b->index_uid));
    ev->u.index_change.index_uuid = ob_str(&b->out, uuid, strlen(uuid));
    if (pk != NULL)
        ev->u.index_change.primary_key = ob_str(&b->out, pk, strlen(pk));
    ev->u.index_change.task_uid = t->uid;
    ev->u.index_change.changed_at_ns = folio_clock_now_ns();
    return 0;
}

static void
index_error(int rc, const struct folio_index_error *ierr,
            const char **code, const char **type, const char **msg)
{
    int http;
    run_error_code(rc, code, type, &http);
    *msg = ierr->message[0] ? ierr->message : folio_err_message(rc);
}

/* After a write to b->idx: durable now unless an index batch is open (ib_commit). */
static void
index_applied(const struct batch_ctx *b)
{
    if (!b->ib_open)
        folio_crash_point("index-committed");
}

/* Stores a failure's outcome with the marker (the index is open) and records it. */
static void
fail_marked(struct batch_ctx *b, const struct task_copy *t, const uint8_t *details, size_t dlen,
            const char *code, const char *type, const char *message)
{
    uint8_t *e = NULL, *oc = NULL;
    size_t elen = 0, olen = 0;
    if (run_error_object(code, type, message, &e, &elen) != 0 ||
        run_outcome_encode(true, details, dlen, e, elen, &oc, &olen) != 0)
        FOLIO_PANIC("cannot encode the failure of task %u", t->uid);
    if (b->idx != NULL) {
        struct folio_index_marker m;
        marker_of(b, t->uid, oc, olen, &m);
        struct folio_index_error ierr;
        int rc = folio_index_mark(b->idx, &m, &ierr);
        /* FOLIO_E_AGAIN: the batch was rolled back; the task runs again (ib_rewind). */
        if (rc != 0 && !(rc == FOLIO_E_AGAIN && b->ib_open))
            FOLIO_PANIC("cannot store the applied marker of task %u: %s", t->uid, ierr.message);
        index_applied(b);
    }
    add_outcome(b, t->uid, true, details, dlen, e, elen);
    folio_free(e);
    folio_free(oc);
}

static void
index_not_found(struct batch_ctx *b, const struct task_copy *t, const uint8_t *details,
                size_t dlen)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "Index `%s` not found.", b->index_uid);
    fail_task(b, t, details, dlen, "index_not_found", "invalid_request", msg);
}

/*
 * After a document addition: when the index had no primary key, the one it
 * has now (given or inferred) goes to the mapping (index_updated), as
 * Meilisearch shows an inferred primary key on the index.
 */
static void
pk_to_mapping(struct batch_ctx *b, uint32_t task_uid)
{
    if (b->index_has_pk || b->idx == NULL)
        return;
    struct folio_index_stats *st = NULL;
    struct folio_index_error ierr;
    if (folio_index_stats_get(b->idx, &st, &ierr) != 0)
        return;
    if (st->has_primary_key) {
        b->index_has_pk = true;
        struct folio_event *ev = ob_push(&b->out, FOLIO_EV_INDEX_UPDATED);
        ev->u.index_change.index_uid = ob_str(&b->out, b->index_uid, strlen(b->index_uid));
        ev->u.index_change.index_uuid = ob_str(&b->out, b->uuid, strlen(b->uuid));
        ev->u.index_change.primary_key = ob_str(&b->out, st->primary_key, strlen(st->primary_key));
        ev->u.index_change.task_uid = task_uid;
        ev->u.index_change.changed_at_ns = folio_clock_now_ns();
    }
    folio_index_stats_free(st);
}

/* Loads the payload of a document task (inline or its content file). */
static int
load_payload(struct folio_sched *s, const struct task_copy *t, char **out, size_t *len,
             char *why, size_t why_len)
{
    if (t->c.payload != NULL) {
        *out = folio_malloc(t->c.payload_len + 1);
        memcpy(*out, t->c.payload, t->c.payload_len);
        *len = t->c.payload_len;
    } else {
        char *path = run_path(s->content_dir, t->c.content_file.ptr);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        folio_free(path);
        if (fd < 0) {
            snprintf(why, why_len, "the payload file of task %u is missing: %s", t->uid,
                     strerror(errno));
            return FOLIO_E_NOT_FOUND;
        }
        *out = folio_malloc(t->c.content_bytes + 1);
        ssize_t n = folio_io_pread_all(fd, *out, t->c.content_bytes, 0);
        close(fd);
        if (n < 0 || (uint64_t)n != t->c.content_bytes) {
            folio_free(*out);
            snprintf(why, why_len, "the payload file of task %u is shorter than recorded",
                     t->uid);
            return FOLIO_E_CORRUPT;
        }
        *len = (size_t)n;
    }
    XXH128_hash_t h = XXH3_128bits(*out, *len);
    char hex[33]; /* "%016llx%016llx" of high64, low64 */
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[i] = digits[(h.high64 >> (60 - 4 * i)) & 0xF];
        hex[16 + i] = digits[(h.low64 >> (60 - 4 * i)) & 0xF];
    }
    hex[32] = '\0';
    if (strcmp(hex, t->c.content_checksum.ptr) != 0) {
        folio_free(*out);
        snprintf(why, why_len, "the payload of task %u does not match its recorded checksum",
                 t->uid);
        return FOLIO_E_CORRUPT;
    }
    return 0;
}

static void
do_documents(struct batch_ctx *b, const struct task_copy *t)
{
    struct folio_task_details d = {0};
    d.present = DBIT(RECEIVED_DOCUMENTS) | DBIT(INDEXED_DOCUMENTS);
    d.received_documents = t->c.documents_count;
    d.indexed_documents = t->c.documents_count;
    size_t ok_len, fail_len;
    uint8_t *ok = details_encode(t->kind, &d, &ok_len);
    d.indexed_documents = 0;
    uint8_t *failed = details_encode(t->kind, &d, &fail_len);
    uint8_t *oc;
    struct folio_index_marker m;
    success_marker(b, t->uid, ok, ok_len, &oc, &m);
    struct folio_index_error ierr = {0};
    bool create = !t->c.allow_index_creation_set || t->c.allow_index_creation;
    struct ob_pos before = ob_mark(&b->out);
    bool had_index = b->uuid[0] != '\0';
    int rc = ensure_index(b, t, create, &m, &ierr);
    if (rc == FOLIO_E_NOT_FOUND) {
        index_not_found(b, t, failed, fail_len);
    } else if (rc != 0) {
        const char *code, *type, *msg;
        index_error(rc, &ierr, &code, &type, &msg);
        fail_task(b, t, failed, fail_len, code, type, msg);
    } else {
        char *payload = NULL;
        size_t plen = 0;
        char why[256];
        rc = load_payload(b->s, t, &payload, &plen, why, sizeof(why));
        if (rc != 0) {
            fail_marked(b, t, failed, fail_len, "internal", "internal", why);
        } else {
            struct folio_index_payload p = {(enum folio_index_format)t->c.format, payload, plen,
                                            b->s->opts.payload_bytes_max, t->c.csv_delimiter};
            const char *pk = t->c.primary_key.len > 0 ? t->c.primary_key.ptr : NULL;
            rc = folio_index_documents_add(b->idx, &p, t->c.method == FOLIO_DOC_UPDATE
                                                          ? FOLIO_INDEX_UPDATE
                                                          : FOLIO_INDEX_REPLACE,
                                           pk, &m, NULL, &ierr);
            if (rc == 0) {
                index_applied(b);
                pk_to_mapping(b, t->uid);
                add_outcome(b, t->uid, false, ok, ok_len, NULL, 0);
            } else if (!write_stopped(b, rc)) {
                const char *code, *type, *msg;
                index_error(rc, &ierr, &code, &type, &msg);
                fail_marked(b, t, failed, fail_len, code, type, msg);
            }
            folio_free(payload);
        }
    }
    if (b->stopped && !had_index)
        stopped_undo_creation(b, &before);
    if (t->c.content_file.len > 0 && !b->stopped) /* a requeued task still needs it */
        ob_file(&b->out, t->c.content_file.ptr);
    folio_free(ok);
    folio_free(failed);
    folio_free(oc);
}

/*
 * The documents a deletion by filter will delete: its filter made an
 * expression (*expr, owned) and counted, before the write, by the same
 * evaluation the write runs (this thread is the index's only writer, and in a
 * batch it reads the batch's writes).
 */
static int
filter_count(struct batch_ctx *b, const struct task_copy *t, char **expr, uint64_t *count,
             struct folio_index_error *ierr)
{
    int rc = folio_index_filter_from_json(t->c.filter.ptr, t->c.filter.len, expr, ierr);
    if (rc == 0 && *expr == NULL) { /* registration refuses it: only a hand-made journal */
        snprintf(ierr->message, sizeof(ierr->message), "The filter cannot be empty.");
        rc = FOLIO_E_INVALID_SEARCH_FILTER;
    }
    char *json = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = folio_index_documents_fetch(b->idx, *expr, 0, 0, NULL, 0, &json, &len, count, ierr);
    folio_free(json);
    return rc;
}

/* The error of a failed deletion (a filter's is Meilisearch's invalid_document_filter). */
static void
deletion_failed(struct batch_ctx *b, const struct task_copy *t, int rc,
                const struct folio_index_error *ierr, const uint8_t *failed, size_t fail_len)
{
    const char *code, *type, *msg;
    index_error(rc, ierr, &code, &type, &msg);
    if (rc == FOLIO_E_INVALID_SEARCH_FILTER) {
        code = "invalid_document_filter";
        type = "invalid_request";
    }
    fail_marked(b, t, failed, fail_len, code, type, msg);
}

/* The count is known before the write: this thread is the index's only writer. */
static int
deletion_count(struct batch_ctx *b, const struct task_copy *t, const char **ids, char **expr,
               uint64_t *deleted, struct folio_index_error *ierr)
{
    int rc = 0;
    *deleted = 0;
    if (t->c.clear) {
        struct folio_index_stats *st = NULL;
        rc = folio_index_stats_get(b->idx, &st, ierr);
        if (rc == 0) {
            *deleted = st->document_count;
            folio_index_stats_free(st);
        }
        return rc;
    }
    if (t->c.filter.len > 0)
        return filter_count(b, t, expr, deleted, ierr);
    for (uint32_t i = 0; i < t->c.ids.count && rc == 0; i++) {
        ids[i] = t->c.ids.items[i].ptr;
        bool dup = false;
        for (uint32_t j = 0; j < i && !dup && t->c.ids.count <= 1000; j++)
            dup = strcmp(ids[j], ids[i]) == 0;
        char *json = NULL;
        size_t jlen;
        int g = folio_index_document_get(b->idx, ids[i], NULL, 0, &json, &jlen, ierr);
        if (g == 0 && !dup)
            (*deleted)++;
        else if (g != 0 && g != FOLIO_E_DOCUMENT_NOT_FOUND)
            rc = g;
        folio_free(json);
    }
    return rc;
}

static void
do_deletion(struct batch_ctx *b, const struct task_copy *t)
{
    struct folio_task_details d = {0};
    bool by_filter = t->c.filter.len > 0;
    if (!t->c.clear) {
        d.present = DBIT(PROVIDED_IDS) | DBIT(DELETED_DOCUMENTS);
        d.provided_ids = t->c.ids.count;
    } else {
        d.present = DBIT(DELETED_DOCUMENTS);
    }
    if (by_filter) {
        d.present |= DBIT(ORIGINAL_FILTER);
        d.original_filter = t->c.filter;
    }
    size_t fail_len;
    uint8_t *failed = details_encode(t->kind, &d, &fail_len);
    struct folio_index_error ierr = {0};
    int rc = ensure_index(b, t, false, NULL, &ierr);
    if (rc != 0) {
        if (rc == FOLIO_E_NOT_FOUND) {
            index_not_found(b, t, failed, fail_len);
        } else {
            const char *code, *type, *msg;
            index_error(rc, &ierr, &code, &type, &msg);
            fail_task(b, t, failed, fail_len, code, type, msg);
        }
        folio_free(failed);
        return;
    }
    uint64_t deleted = 0;
    const char **ids = t->c.ids.count ? folio_calloc(t->c.ids.count, sizeof(*ids)) : NULL;
    char *expr = NULL;
    rc = deletion_count(b, t, ids, &expr, &deleted, &ierr);
    if (rc == 0) {
        d.deleted_documents = deleted;
        size_t ok_len;
        uint8_t *ok = details_encode(t->kind, &d, &ok_len), *oc;
        struct folio_index_marker m;
        success_marker(b, t->uid, ok, ok_len, &oc, &m);
        uint64_t actual = 0;
        if (t->c.clear)
            rc = folio_index_documents_clear(b->idx, &m, &actual, &ierr);
        else if (by_filter)
            rc = folio_index_documents_delete_by_filter(b->idx, expr, &m, &actual, &ierr);
        else
            rc = folio_index_documents_delete(b->idx, ids, t->c.ids.count, &m, &actual, &ierr);
        if (rc == 0) {
            index_applied(b);
            FOLIO_ASSERT(t->c.ids.count > 1000 || actual == deleted);
            add_outcome(b, t->uid, false, ok, ok_len, NULL, 0);
        }
        folio_free(ok);
        folio_free(oc);
    }
    if (rc != 0 && !write_stopped(b, rc))
        deletion_failed(b, t, rc, &ierr, failed, fail_len);
    folio_free(expr);
    folio_free(ids);
    folio_free(failed);
}

static void
do_settings(struct batch_ctx *b, const struct task_copy *t)
{
    struct folio_task_details d = {0};
    d.settings = t->c.settings;
    size_t ok_len;
    uint8_t *ok = details_encode(t->kind, &d, &ok_len), *oc;
    struct folio_index_marker m;
    success_marker(b, t->uid, ok, ok_len, &oc, &m);
    struct folio_index_error ierr = {0};
    bool create = !t->c.allow_index_creation_set || t->c.allow_index_creation;
    struct ob_pos before = ob_mark(&b->out);
    bool had_index = b->uuid[0] != '\0';
    int rc = ensure_index(b, t, create, &m, &ierr);
    if (rc == FOLIO_E_NOT_FOUND) {
        index_not_found(b, t, ok, ok_len);
    } else if (rc != 0) {
        const char *code, *type, *msg;
        index_error(rc, &ierr, &code, &type, &msg);
        fail_task(b, t, ok, ok_len, code, type, msg);
    } else {
        char *json = NULL;
        if (t->c.is_deletion) {
            rc = folio_index_settings_reset(b->idx, &m, &ierr);
        } else {
            json_t *j = NULL;
            rc = folio_object_to_json(t->c.settings.ptr, t->c.settings.len, &j);
            json = rc == 0 ? json_dumps(j, JSON_COMPACT) : NULL;
            json_decref(j);
            if (json == NULL) {
                rc = FOLIO_E_INVALID_SETTINGS;
                snprintf(ierr.message, sizeof(ierr.message), "the recorded settings of task %u "
                         "do not convert to JSON", t->uid);
            } else {
                rc = folio_index_settings_update(b->idx, json, strlen(json), &m, &ierr);
            }
        }
        free(json);
        if (rc == 0) {
            index_applied(b);
            add_outcome(b, t->uid, false, ok, ok_len, NULL, 0);
        } else if (!write_stopped(b, rc)) {
            const char *code, *type, *msg;
            index_error(rc, &ierr, &code, &type, &msg);
            fail_marked(b, t, ok, ok_len, code, type, msg);
        }
    }
    if (b->stopped && !had_index)
        stopped_undo_creation(b, &before);
    folio_free(ok);
    folio_free(oc);
}

static void
do_index_creation(struct batch_ctx *b, const struct task_copy *t)
{
    struct folio_task_details d = {0};
    d.present = DBIT(PRIMARY_KEY);
    if (t->c.primary_key.len > 0)
        d.primary_key = t->c.primary_key;
    else
        d.null = DBIT(PRIMARY_KEY);
    size_t ok_len;
    uint8_t *ok = details_encode(t->kind, &d, &ok_len), *oc = NULL;
    if (b->uuid[0] != '\0') {
        char msg[512];
        snprintf(msg, sizeof(msg), "Index `%s` already exists.", b->index_uid);
        fail_task(b, t, ok, ok_len, "index_already_exists", "invalid_request", msg);
    } else {
        struct folio_index_marker m;
        success_marker(b, t->uid, ok, ok_len, &oc, &m);
        struct folio_index_error ierr = {0};
        int rc = ensure_index(b, t, true, &m, &ierr);
        if (rc == 0) {
            add_outcome(b, t->uid, false, ok, ok_len, NULL, 0);
        } else {
            const char *code, *type, *msg;
            index_error(rc, &ierr, &code, &type, &msg);
            fail_task(b, t, ok, ok_len, rc == FOLIO_E_INVALID_PRIMARY_KEY ? code : "index_creation_failed",
                      type, msg);
        }
    }
    folio_free(ok);
    folio_free(oc);
}

static bool
mapping_has(struct folio_sched *s, const char *uid, char uuid[RUN_UUID_LEN + 1], char *pk,
            size_t pk_len)
{
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    struct folio_index_view v;
    bool found = folio_sched_index_get(st, uid, strlen(uid), &v) == 0;
    if (found && uuid != NULL)
        snprintf(uuid, RUN_UUID_LEN + 1, "%.*s", (int)v.uuid.len, v.uuid.ptr);
    if (found && pk != NULL)
        snprintf(pk, pk_len, "%.*s", (int)v.primary_key.len, v.primary_key.len ? v.primary_key.ptr : "");
    folio_sched_read_unlock(s);
    return found;
}

static void
do_index_deletion(struct batch_ctx *b, const struct task_copy *t)
{
    struct folio_task_details d = {0};
    d.present = DBIT(DELETED_DOCUMENTS);
    if (b->uuid[0] == '\0') {
        size_t len;
        uint8_t *det = details_encode(t->kind, &d, &len);
        index_not_found(b, t, det, len);
        folio_free(det);
        return;
    }
    struct folio_index_error ierr;
    if (b->idx == NULL && run_index_get(b->s, b->uuid, &b->idx) != 0)
        b->idx = NULL;
    if (b->idx != NULL) {
        struct folio_index_stats *st = NULL;
        if (folio_index_stats_get(b->idx, &st, &ierr) == 0) {
            d.deleted_documents = st->document_count;
            folio_index_stats_free(st);
        }
        run_index_put(b->s, b->idx);
        b->idx = NULL;
    }
    size_t len;
    uint8_t *det = details_encode(t->kind, &d, &len);
    struct folio_event *ev = ob_push(&b->out, FOLIO_EV_INDEX_DELETED);
    ev->u.index_change.index_uid = ob_str(&b->out, b->index_uid, strlen(b->index_uid));
    ev->u.index_change.index_uuid = ob_str(&b->out, b->uuid, strlen(b->uuid));
    ev->u.index_change.task_uid = t->uid;
    ev->u.index_change.changed_at_ns = folio_clock_now_ns();
    add_outcome(b, t->uid, false, det, len, NULL, 0);
    folio_free(det);
    /* The mapping change is durable before the files go. */
    ob_flush(b->s, &b->out);
    index_files_remove(b);
}

static void
do_index_update(struct batch_ctx *b, const struct task_copy *t)
{
    struct folio_task_details d = {0};
    d.present = DBIT(PRIMARY_KEY);
    if (t->c.primary_key.len > 0)
        d.primary_key = t->c.primary_key;
    else
        d.null = DBIT(PRIMARY_KEY);
    if (t->c.new_index_uid.len > 0) {
        d.present |= DBIT(OLD_INDEX_UID) | DBIT(NEW_INDEX_UID);
        d.old_index_uid = folio_str_c(b->index_uid);
        d.new_index_uid = t->c.new_index_uid;
    }
    size_t ok_len;
    uint8_t *ok = details_encode(t->kind, &d, &ok_len);
    if (b->uuid[0] == '\0') {
        index_not_found(b, t, ok, ok_len);
        folio_free(ok);
        return;
    }
    if (t->c.new_index_uid.len > 0 && mapping_has(b->s, t->c.new_index_uid.ptr, NULL, NULL, 0)) {
        char msg[512];
        snprintf(msg, sizeof(msg), "Index `%s` already exists.", t->c.new_index_uid.ptr);
        fail_task(b, t, ok, ok_len, "index_already_exists", "invalid_request", msg);
        folio_free(ok);
        return;
    }
    struct folio_index_error ierr = {0};
    int rc = 0;
    char pk[FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX + 1] = "";
    mapping_has(b->s, b->index_uid, NULL, pk, sizeof(pk));
    if (t->c.primary_key.len > 0) {
        uint8_t *oc;
        struct folio_index_marker m;
        success_marker(b, t->uid, ok, ok_len, &oc, &m);
        rc = ensure_index(b, t, false, NULL, &ierr);
        if (rc == 0)
            rc = folio_index_primary_key_set(b->idx, t->c.primary_key.ptr, &m, &ierr);
        folio_free(oc);
        if (rc != 0) {
            const char *code, *type, *msg;
            index_error(rc, &ierr, &code, &type, &msg);
            if (b->idx != NULL)
                fail_marked(b, t, ok, ok_len, code, type, msg);
            else
                fail_task(b, t, ok, ok_len, code, type, msg);
            folio_free(ok);
            return;
        }
        index_applied(b);
        snprintf(pk, sizeof(pk), "%s", t->c.primary_key.ptr);
    }
    struct folio_event *ev = ob_push(&b->out, FOLIO_EV_INDEX_UPDATED);
    ev->u.index_change.index_uid = ob_str(&b->out, b->index_uid, strlen(b->index_uid));
    ev->u.index_change.index_uuid = ob_str(&b->out, b->uuid, strlen(b->uuid));
    if (pk[0] != '\0')
        ev->u.index_change.primary_key = ob_str(&b->out, pk, strlen(pk));
    ev->u.index_change.task_uid = t->uid;
    ev->u.index_change.changed_at_ns = folio_clock_now_ns();
    if (t->c.new_index_uid.len > 0) {
        ev = ob_push(&b->out, FOLIO_EV_INDEX_DELETED);
        ev->u.index_change.index_uid = ob_str(&b->out, b->index_uid, strlen(b->index_uid));
        ev->u.index_change.index_uuid = ob_str(&b->out, b->uuid, strlen(b->uuid));
        ev->u.index_change.task_uid = t->uid;
        ev->u.index_change.changed_at_ns = folio_clock_now_ns();
        ev = ob_push(&b->out, FOLIO_EV_INDEX_CREATED);
        ev->u.index_change.index_uid =
            ob_str(&b->out, t->c.new_index_uid.ptr, t->c.new_index_uid.len);
        ev->u.index_change.index_uuid = ob_str(&b->out, b->uuid, strlen(b->uuid));
        if (pk[0] != '\0')
            ev->u.index_change.primary_key = ob_str(&b->out, pk, strlen(pk));
        ev->u.index_change.task_uid = t->uid;
        ev->u.index_change.changed_at_ns = folio_clock_now_ns();
    }
    add_outcome(b, t->uid, false, ok, ok_len, NULL, 0);
    folio_free(ok);
}

static void
do_swap(struct batch_ctx *b, const struct task_copy *t)
{
    struct folio_task_details d = {0};
    d.present = DBIT(SWAPS);
    d.swaps = t->c.swaps;
    d.swap_count = t->c.swap_count;
    size_t ok_len;
    uint8_t *ok = details_encode(t->kind, &d, &ok_len);
    for (uint32_t i = 0; i < t->c.swap_count; i++) {
        const struct folio_task_swap *sw = &t->c.swaps[i];
        bool a = mapping_has(b->s, sw->indexes[0].ptr, NULL, NULL, 0);
        bool c = mapping_has(b->s, sw->indexes[1].ptr, NULL, NULL, 0);
        char msg[1024];
        if (!sw->rename && (!a || !c)) {
            snprintf(msg, sizeof(msg), "Index `%s` not found.",
                     !a ? sw->indexes[0].ptr : sw->indexes[1].ptr);
            fail_task(b, t, ok, ok_len, "index_not_found", "invalid_request", msg);
            folio_free(ok);
            return;
        }
        if (sw->rename && (!a || c)) {
            if (!a)
                snprintf(msg, sizeof(msg), "Index `%s` not found.", sw->indexes[0].ptr);
            else
                snprintf(msg, sizeof(msg),
                         "Index `%s` already exists: a swap with `rename: true` needs a target "
                         "uid that does not exist.",
                         sw->indexes[1].ptr);
            fail_task(b, t, ok, ok_len, !a ? "index_not_found" : "index_already_exists",
                      "invalid_request", msg);
            folio_free(ok);
            return;
        }
    }
    if (t->c.swap_count > 0) {
        struct folio_event *ev = ob_push(&b->out, FOLIO_EV_INDEXES_SWAPPED);
        struct folio_str *pairs =
            ob_keep(&b->out, folio_calloc(t->c.swap_count * 2u, sizeof(struct folio_str)), 0);
        for (uint32_t i = 0; i < t->c.swap_count; i++) {
            pairs[2 * i] = ob_str(&b->out, t->c.swaps[i].indexes[0].ptr, t->c.swaps[i].indexes[0].len);
            pairs[2 * i + 1] =
                ob_str(&b->out, t->c.swaps[i].indexes[1].ptr, t->c.swaps[i].indexes[1].len);
        }
        ev->u.indexes_swapped.index_uids = (struct folio_str_array){pairs, t->c.swap_count * 2u};
        ev->u.indexes_swapped.task_uid = t->uid;
    }
    add_outcome(b, t->uid, false, ok, ok_len, NULL, 0);
    folio_free(ok);
}

static void
do_cancelation(struct batch_ctx *b, const struct task_copy *t)
{
    uint32_t canceled = 0;
    const struct folio_sched_state *st = folio_sched_read_lock(b->s);
    for (uint32_t i = 0; i < t->c.matched_tasks.count; i++) {
        struct folio_task_view v;
        if (folio_sched_task_get(st, t->c.matched_tasks.items[i], &v) != 0 ||
            v.status != FOLIO_STATUS_ENQUEUED)
            continue;
        uint8_t *def = NULL, *det = NULL;
        size_t deflen = 0, dlen = 0;
        if (folio_task_details_default(&v, &def, &deflen) != 0)
            FOLIO_PANIC("task %u: details", v.uid);
        if (deflen > 0) {
            det = run_details_to_failed(def, deflen, &dlen);
            if (det == NULL)
                FOLIO_PANIC("task %u: details", v.uid);
        }
        folio_free(def);
        struct folio_event *ev = ob_push(&b->out, FOLIO_EV_TASK_CANCELED);
        ev->u.task_outcome.task_uid = v.uid;
        ev->u.task_outcome.batch_uid = b->uid;
        ev->u.task_outcome.finished_at_ns = folio_clock_now_ns();
        ev->u.task_outcome.canceled_by = t->uid;
        if (dlen > 0)
            ev->u.task_outcome.details =
                (struct folio_object){ob_keep(&b->out, det, dlen), (uint32_t)dlen};
        struct folio_task_content c;
        if (v.kind == FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE &&
            folio_task_content_decode(v.kind, v.content.ptr, v.content.len, &c) == 0) {
            if (c.content_file.len > 0)
                ob_file(&b->out, c.content_file.ptr);
            folio_task_content_clear(&c);
        }
        canceled++;
    }
    folio_sched_read_unlock(b->s);
    struct folio_task_details d = {0};
    d.present = DBIT(MATCHED_TASKS) | DBIT(CANCELED_TASKS) | DBIT(ORIGINAL_FILTER);
    d.matched_tasks = t->c.matched_tasks.count;
    d.canceled_tasks = canceled;
    d.original_filter = t->c.query;
    size_t len;
    uint8_t *det = details_encode(t->kind, &d, &len);
    add_outcome(b, t->uid, false, det, len, NULL, 0);
    folio_free(det);
}

static void
do_task_deletions(struct batch_ctx *b, const uint32_t *uids, uint32_t count)
{
    /* tasks deleted by an earlier deletion of this batch */
    uint32_t *gone = NULL;
    size_t gone_count = 0, gone_cap = 0;
    for (uint32_t k = 0; k < count; k++) {
        struct task_copy t;
        if (task_load(b->s, uids[k], &t) != 0)
            FOLIO_PANIC("task %u vanished", uids[k]);
        uint64_t *del = folio_calloc(t.c.matched_tasks.count + 1, sizeof(uint64_t));
        uint32_t n = 0;
        const struct folio_sched_state *st = folio_sched_read_lock(b->s);
        for (uint32_t i = 0; i < t.c.matched_tasks.count; i++) {
            uint32_t u = (uint32_t)t.c.matched_tasks.items[i];
            struct folio_task_view v;
            if (folio_sched_task_get(st, u, &v) != 0 || !folio_task_status_finished(v.status))
                continue;
            bool already = false;
            for (size_t g = 0; g < gone_count && !already; g++)
                already = gone[g] == u;
            if (already)
                continue;
            del[n++] = u;
        }
        folio_sched_read_unlock(b->s);
        for (uint32_t i = 0; i < n; i++) {
            if (gone_count == gone_cap) {
                gone_cap = gone_cap ? gone_cap * 2 : 64;
                gone = folio_reallocarray(gone, gone_cap, sizeof(*gone));
            }
            gone[gone_count++] = (uint32_t)del[i];
        }
        struct folio_event *ev = ob_push(&b->out, FOLIO_EV_TASKS_DELETED);
        ev->u.tasks_deleted.task_uid = t.uid;
        ev->u.tasks_deleted.task_uids =
            (struct folio_u64_array){ob_keep(&b->out, del, (size_t)n * 8), n};
        struct folio_task_details d = {0};
        d.present = DBIT(MATCHED_TASKS) | DBIT(DELETED_TASKS) | DBIT(ORIGINAL_FILTER);
        d.matched_tasks = t.c.matched_tasks.count;
        d.deleted_tasks = n;
        d.original_filter = t.c.query;
        size_t len;
        uint8_t *det = details_encode(t.kind, &d, &len);
        add_outcome(b, t.uid, false, det, len, NULL, 0);
        folio_free(det);
        tcopy_free(&t);
        /* tasks_deleted must apply before the next deletion looks at the state */
        ob_flush(b->s, &b->out);
    }
    folio_free(gone);
}

static bool
should_stop(struct folio_sched *s)
{
    return atomic_load(&s->must_stop);
}

/*
 * Index batches. The document, deletion and settings tasks of a batch run
 * inside one folio_index_batch on its index, so they cost one durable LMDB
 * commit together instead of one each. Nothing of them is durable before
 * ib_commit, and ib_commit comes before every ob_flush: the journal never
 * says a task finished before its index write is durable (DESIGN §6). Tasks
 * of other kinds (index creation, deletion, update, swap) commit the open
 * batch first and run alone. When the index rolls a batch back (its map had
 * to grow, or a write was too large to share a transaction), the pending
 * events of its tasks are dropped and those tasks run again, each in a batch
 * of its own (solo_end); the index is then exactly as before the batch.
 */
static bool
ib_kind(enum folio_task_kind kind)
{
    return kind == FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE ||
           kind == FOLIO_KIND_DOCUMENT_DELETION || kind == FOLIO_KIND_SETTINGS_UPDATE;
}

/* Opens an index batch on b->idx before task i, if none is open. */
static void
ib_begin(struct batch_ctx *b, uint32_t i)
{
    if (b->ib_open || b->idx == NULL)
        return;
    struct folio_index_error ierr;
    if (folio_index_batch_begin(b->idx, &ierr) != 0)
        return; /* then each write is its own transaction, as without batches */
    b->ib_open = true;
    b->ib_from = i;
    b->ib_pos = ob_mark(&b->out);
    b->ib_has_pk = b->index_has_pk;
}

/* The batch was rolled back: drop what its tasks left pending; they run again. */
static void
ib_rewind(struct batch_ctx *b, uint32_t *i)
{
    ob_rewind(&b->out, &b->ib_pos);
    b->index_has_pk = b->ib_has_pk;
    if (*i > b->solo_end)
        b->solo_end = *i;
    *i = b->ib_from;
}

/*
 * Commits the open index batch (tasks [ib_from, *i) ran in it). False if it
 * was rolled back: then *i is back at its first task.
 */
static bool
ib_commit(struct batch_ctx *b, uint32_t *i)
{
    if (!b->ib_open)
        return true;
    bool any = *i > b->ib_from && !folio_index_batch_lost(b->idx);
    if (any)
        folio_crash_point("index-batch-applied");
    struct folio_index_error ierr;
    int rc = folio_index_batch_commit(b->idx, &ierr);
    b->ib_open = false;
    if (rc == FOLIO_E_AGAIN) {
        ib_rewind(b, i);
        return false;
    }
    if (rc != 0)
        FOLIO_PANIC("cannot commit the index writes of batch %u: %s", b->uid, ierr.message);
    if (any)
        folio_crash_point("index-committed");
    return true;
}

static void
process_index_batch(struct batch_ctx *b, const struct run_batch *rb)
{
    snprintf(b->index_uid, sizeof(b->index_uid), "%s", rb->index_uid);
    char pk[FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX + 1] = "";
    if (!mapping_has(b->s, b->index_uid, b->uuid, pk, sizeof(pk)))
        b->uuid[0] = '\0';
    b->index_has_pk = pk[0] != '\0';
    /* Open now, so the first task can already join an index batch (else ensure_index). */
    if (b->uuid[0] != '\0' && run_index_get(b->s, b->uuid, &b->idx) != 0)
        b->idx = NULL;
    char step[FOLIO_INDEX_UID_MAX + 64];
    uint32_t i = 0;
    for (;;) {
        bool stop = i < rb->count && (b->stopped || should_stop(b->s));
        if (i == rb->count || stop) {
            for (uint32_t j = i; stop && j < rb->count; j++)
                requeue(b, rb->tasks[j], "the batch was stopped (a cancelation or shutdown) "
                                         "before this task was applied");
            if (!ib_commit(b, &i))
                continue;
            break;
        }
        struct task_copy t;
        if (task_load(b->s, rb->tasks[i], &t) != 0)
            FOLIO_PANIC("task %u vanished", rb->tasks[i]);
        if (!ib_kind(t.kind) && !ib_commit(b, &i)) {
            tcopy_free(&t);
            continue;
        }
        if (ib_kind(t.kind))
            ib_begin(b, i);
        snprintf(step, sizeof(step), "processing tasks > %s", folio_task_kind_name(t.kind));
        run_progress(b->s, b->uid, step, i, rb->count);
        switch (t.kind) {
        case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE: do_documents(b, &t); break;
        case FOLIO_KIND_DOCUMENT_DELETION: do_deletion(b, &t); break;
        case FOLIO_KIND_SETTINGS_UPDATE: do_settings(b, &t); break;
        case FOLIO_KIND_INDEX_CREATION: do_index_creation(b, &t); break;
        case FOLIO_KIND_INDEX_DELETION: do_index_deletion(b, &t); break;
        case FOLIO_KIND_INDEX_UPDATE: do_index_update(b, &t); break;
        case FOLIO_KIND_INDEX_SWAP: do_swap(b, &t); break;
        default: FOLIO_PANIC("task %u of kind %s in an index batch", t.uid, folio_task_kind_name(t.kind));
        }
        tcopy_free(&t);
        if (b->stopped)
            continue; /* task i was not applied: requeued with the rest above */
        i++;
        bool lost = b->ib_open && folio_index_batch_lost(b->idx);
        if ((lost || i <= b->solo_end) && !ib_commit(b, &i))
            continue;
        if (b->out.bytes > (256u << 10)) {
            if (!ib_commit(b, &i))
                continue;
            ob_flush(b->s, &b->out);
        }
    }
}

int
run_batch_start(struct folio_sched *s, const struct run_batch *rb, uint32_t *uid, uint64_t *seq)
{
    uint64_t *uids = folio_calloc(rb->count, sizeof(uint64_t));
    for (uint32_t i = 0; i < rb->count; i++)
        uids[i] = rb->tasks[i];
    struct folio_event ev = {.type = FOLIO_EV_BATCH_STARTED};
    ev.u.batch_started.task_uids = (struct folio_u64_array){uids, rb->count};
    ev.u.batch_started.reason = folio_str_c(rb->reason);
    pthread_mutex_lock(&s->batch_mu);
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    *uid = (uint32_t)folio_sched_state_next_batch_uid(st);
    folio_sched_read_unlock(s);
    ev.u.batch_started.batch_uid = *uid;
    int rc = run_append_wait(s, &ev, 1, seq);
    pthread_mutex_unlock(&s->batch_mu);
    folio_free(uids);
    if (rc != 0 && rc != FOLIO_E_CLOSED)
        FOLIO_PANIC("cannot record batch %u: %s", *uid, folio_err_message(rc));
    if (rc == 0)
        folio_crash_point("batch-started");
    return rc;
}

static void
process_batch(struct folio_sched *s, struct run_batch *rb)
{
    struct batch_ctx b = {.s = s};
    if (run_batch_start(s, rb, &b.uid, &b.seq) != 0)
        return;
    pthread_mutex_lock(&s->mu);
    s->running_batch = b.uid;
    pthread_mutex_unlock(&s->mu);

    switch (rb->kind) {
    case FOLIO_KIND_TASK_CANCELATION: {
        run_progress(s, b.uid, "processing tasks > updating tasks", 0, 1);
        struct task_copy t;
        if (task_load(s, rb->tasks[0], &t) != 0)
            FOLIO_PANIC("task %u vanished", rb->tasks[0]);
        do_cancelation(&b, &t);
        tcopy_free(&t);
        break;
    }
    case FOLIO_KIND_TASK_DELETION:
        run_progress(s, b.uid, "processing tasks > deleting tasks", 0, 1);
        do_task_deletions(&b, rb->tasks, rb->count);
        break;
    case FOLIO_KIND_SNAPSHOT_CREATION:
        run_instance_snapshot(s, b.uid, rb->tasks, rb->count);
        break;
    case FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT:
        run_snapshot_import(s, b.uid, b.seq, rb->tasks[0], &s->must_stop);
        break;
    default:
        process_index_batch(&b, rb);
        break;
    }
    if (b.idx != NULL)
        run_index_put(s, b.idx);
    b.idx = NULL;
    /* Only while the batch still has a task without an outcome (pending events). */
    if (b.out.count > 0)
        run_progress(s, b.uid, "writing tasks to disk", 1, 2);
    ob_flush(s, &b.out);
    ob_free(&b.out);
    pthread_mutex_lock(&s->mu);
    s->running_batch = FOLIO_SCHED_NONE;
    pthread_mutex_unlock(&s->mu);
}

/*
 * A checkpoint encodes the whole state under its lock, which holds back every
 * acknowledgement meanwhile (run_checkpoint). With the default count, the
 * events between two checkpoints grow with the state (at least 100,000, at
 * least as many as it has tasks), so checkpoints cost a bounded amount per
 * event however many tasks there are, and the tail a start-up replays stays
 * a few events per task. A count set in the options is kept as it is,
 * unless checkpoint_scale asks for the same growth.
 */
static bool
checkpoint_due(struct folio_sched *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t since = s->events_since_ckpt;
    bool timed = s->opts.checkpoint_every_ms != UINT32_MAX &&
                 folio_clock_mono_ns() - s->last_ckpt_mono_ns >=
                     (int64_t)s->opts.checkpoint_every_ms * 1000000;
    pthread_mutex_unlock(&s->mu);
    if (since == 0 || timed)
        return since > 0;
    if (since < s->opts.checkpoint_every_events || !s->ckpt_scaled)
        return since >= s->opts.checkpoint_every_events;
    /* Only now the state's size: the lock is not taken after every batch. */
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    uint64_t tasks = folio_sched_state_task_count(st);
    folio_sched_read_unlock(s);
    return since >= tasks;
}

void *
run_worker_main(void *arg)
{
    struct folio_sched *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->stopping && s->paused)
            pthread_cond_wait(&s->cond, &s->mu);
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        uint64_t gen = s->applied_gen;
        s->worker_busy = true;
        atomic_store(&s->must_stop, false);
        pthread_mutex_unlock(&s->mu);

        struct run_batch rb;
        pthread_mutex_lock(&s->pick_mu);
        const struct folio_sched_state *st = folio_sched_read_lock(s);
        int found = run_batch_next(s, st, &rb);
        if (found > 0)
            run_batch_touched(st, &rb, &s->main_index_uids, &s->main_index_count);
        folio_sched_read_unlock(s);
        pthread_mutex_unlock(&s->pick_mu);
        if (found < 0)
            FOLIO_PANIC("choosing the next batch failed: %s", folio_err_message(found));
        if (found > 0) {
            process_batch(s, &rb);
            /* The snapshot lane may now take a creation of these indexes. */
            pthread_mutex_lock(&s->pick_mu);
            run_uids_free(s->main_index_uids, s->main_index_count);
            s->main_index_uids = NULL;
            s->main_index_count = 0;
            pthread_mutex_unlock(&s->pick_mu);
            pthread_mutex_lock(&s->mu);
            s->applied_gen++;
            s->snap_gen++;
            run_broadcast(s);
            pthread_mutex_unlock(&s->mu);
        }
        run_batch_clear(&rb);
        if (checkpoint_due(s)) {
            struct folio_sched_diag diag;
            int rc = run_checkpoint(s, &diag);
            if (rc != 0)
                fprintf(stderr, "folio: checkpoint failed: %s: %s\n", folio_err_name(rc),
                        diag.reason);
        }

        pthread_mutex_lock(&s->mu);
        s->worker_busy = false;
        run_broadcast(s);
        if (found == 0 && !s->stopping && gen == s->applied_gen) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&s->cond, &s->mu, &ts);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}
