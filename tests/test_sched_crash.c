/*
 * Crash recovery of the running scheduler with real processes and real
 * SIGKILLs (DESIGN §6 "Exactly once", §11 invariants 1–3).
 *
 * A forked child opens a data directory with folio_sched_open and registers
 * a workload through folio_sched_register: several indexes, document
 * additions with explicit ids (replace and update, JSON/NDJSON/CSV, inline
 * and in content files), deletions by id, clears, settings updates and
 * resets, index creation and deletion and primary key updates. Around each
 * registration it writes, with write(2) + fsync(2) to a witness file outside
 * the data directory, an intent (op, the uid it expects) and then the
 * acknowledgement (op, uid) once folio_sched_register has returned. The
 * workload is designed so that applying a task twice shows: deletions follow
 * additions, clears are followed by additions (new internal ids), every
 * addition carries documents unique to it, and the details of each outcome
 * (indexedDocuments, deletedDocuments) are predicted exactly.
 *
 * The child dies by
 *  (a) SIGKILL from the parent at a random moment (many rounds): after a
 *      random number of witness records, plus a random delay;
 *  (b) each named crash point (content-written, batch-started,
 *      index-committed, index-created, outcome-durable) at its Nth hit for
 *      several N;
 *  (c) the I/O seam, with a checkpoint every few events so that checkpoint
 *      writing is interrupted at every step: before and after (power loss:
 *      lose_unsynced) the Nth rename for every N, after sampled fsyncs with
 *      power loss, and torn writes (checkpoint, content and journal frames;
 *      the torn journal tails must be recovered).
 *
 * After each round the parent reopens the directory (folio_sched_open),
 * waits for the queue to drain and checks: every acknowledged task exists and
 * no unknown task does; every task ends finished, with exactly one outcome
 * event; the outcomes and details equal those of a model that applies the
 * tasks in uid order, and every index's documents, primary key, next
 * internal id and settings equal the model (so no task was applied twice or
 * lost); the journal verifies; the live state equals a full replay from seq
 * 1 and the newest checkpoint + tail; what open reports (tasks finished,
 * requeued, files removed) fits how the child died; and after close no
 * orphan content file, index directory or tmp/ entry is left.
 *
 * Seed: fixed by default, FOLIO_TEST_SEED=... replays or varies it.
 * FOLIO_SCHED_CRASH_ROUNDS multiplies the number of rounds (default 1).
 */
#define _GNU_SOURCE
#include "jtest.h"

#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"
#include "folio/index.h"
#include "folio/io.h"
#include "folio/journal.h"
#include "folio/sched.h"
#include "folio/sched_run.h"
#include "testutil.h"

#define POOL 4
#define ID_SPACE 24
#define OPS_PER_ROUND 36
#define ROUNDS_PER_DB 6
#define DEFAULT_SEED 0xc0ffee5eedull
#define WAIT_MS 120000

static const char *const NAMES[POOL] = {"books", "films", "songs", "maps"};
enum { PK_NONE = 0, PK_ID, PK_REF };
static const char *const PK_NAMES[3] = {NULL, "id", "ref"};

/* ---- failures ------------------------------------------------------------ */

static unsigned long g_fail_count;
static uint64_t g_seed;
static char g_label[128];

static void chk_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
chk_fail(const char *fmt, ...)
{
    g_fail_count++;
    if (g_fail_count > 60)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL [%s]: ", g_label);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

#define CHK(cond, ...)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            chk_fail(__VA_ARGS__);                                                                 \
    } while (0)

/* ---- the workload ------------------------------------------------------- */

struct op {
    enum folio_task_kind kind;
    int idx;
    enum folio_doc_method method;
    enum folio_index_format format;
    int pk;
    json_t *docs;
    char *payload;
    size_t payload_len;
    int nids;
    char ids[8][8];
    bool clear;
    json_t *settings;
    char *settings_text;
    bool reset;
};

static uint64_t
rnd(uint64_t *rng, uint64_t n)
{
    return n ? tu_rand(rng) % n : 0;
}

static json_t *
gen_doc(uint64_t *rng, int tag, enum folio_doc_method method, bool csv, bool fresh)
{
    /* fresh documents get ids no earlier task used: unique to this task */
    int id = fresh ? ID_SPACE + tag : (int)rnd(rng, ID_SPACE);
    char ref[24];
    snprintf(ref, sizeof(ref), "r%d", id);
    json_t *d = json_object();
    json_object_set_new(d, "id", json_integer(id));
    json_object_set_new(d, "ref", json_string(ref));
    if (method == FOLIO_DOC_REPLACE) {
        json_object_set_new(d, "op", json_integer(tag));
        json_object_set_new(d, "n", json_integer((json_int_t)rnd(rng, 1000)));
        if (!csv && rnd(rng, 6) == 0) {
            size_t len = 300 + rnd(rng, 900);
            char *pad = folio_malloc(len + 1);
            for (size_t i = 0; i < len; i++)
                pad[i] = (char)('a' + (i + (size_t)tag) % 26);
            pad[len] = 0;
            json_object_set_new(d, "pad", json_string(pad));
            folio_free(pad);
        }
    } else {
        json_object_set_new(d, "u", json_integer(tag));
    }
    return d;
}

static void
payload_build(struct op *o)
{
    size_t n = json_array_size(o->docs);
    if (o->format == FOLIO_INDEX_FORMAT_JSON) {
        char *t = json_dumps(n == 1 ? json_array_get(o->docs, 0) : o->docs, JSON_COMPACT);
        o->payload = folio_strdup(t);
        free(t);
    } else if (o->format == FOLIO_INDEX_FORMAT_NDJSON) {
        size_t cap = 256, len = 0;
        char *buf = folio_malloc(cap);
        for (size_t i = 0; i < n; i++) {
            char *t = json_dumps(json_array_get(o->docs, i), JSON_COMPACT);
            size_t tl = strlen(t);
            while (len + tl + 2 > cap)
                buf = folio_realloc(buf, cap *= 2);
            memcpy(buf + len, t, tl);
            len += tl;
            buf[len++] = '\n';
            free(t);
        }
        buf[len] = 0;
        o->payload = buf;
    } else {
        size_t cap = 128 + n * 64, len = 0;
        char *buf = folio_malloc(cap);
        len += (size_t)snprintf(buf + len, cap - len, "id:number,ref,op:number,n:number\n");
        for (size_t i = 0; i < n; i++) {
            json_t *d = json_array_get(o->docs, i);
            len += (size_t)snprintf(buf + len, cap - len,
                                    "%" JSON_INTEGER_FORMAT ",%s,%" JSON_INTEGER_FORMAT
                                    ",%" JSON_INTEGER_FORMAT "\n",
                                    json_integer_value(json_object_get(d, "id")),
                                    json_string_value(json_object_get(d, "ref")),
                                    json_integer_value(json_object_get(d, "op")),
                                    json_integer_value(json_object_get(d, "n")));
        }
        o->payload = buf;
    }
    o->payload_len = strlen(o->payload);
}

/* Op `tag` (unique in the data directory's life) drawn from rng. */
static void
gen_op(uint64_t *rng, struct op *o, int tag)
{
    memset(o, 0, sizeof(*o));
    o->idx = (int)rnd(rng, POOL);
    unsigned w = (unsigned)rnd(rng, 100);
    if (w < 45) {
        o->kind = FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
        o->method = rnd(rng, 3) == 0 ? FOLIO_DOC_UPDATE : FOLIO_DOC_REPLACE;
        o->format = (enum folio_index_format)rnd(rng, 3);
        if (o->method == FOLIO_DOC_UPDATE && o->format == FOLIO_INDEX_FORMAT_CSV)
            o->format = FOLIO_INDEX_FORMAT_JSON;
        o->pk = rnd(rng, 6) == 0 ? PK_ID : PK_NONE;
        bool csv = o->format == FOLIO_INDEX_FORMAT_CSV;
        o->docs = json_array();
        int n = 1 + (int)rnd(rng, 5);
        for (int i = 0; i < n; i++)
            json_array_append_new(o->docs, gen_doc(rng, tag, o->method, csv, false));
        if (o->method == FOLIO_DOC_REPLACE)
            json_array_append_new(o->docs, gen_doc(rng, tag, o->method, csv, true));
        payload_build(o);
    } else if (w < 63) {
        o->kind = FOLIO_KIND_DOCUMENT_DELETION;
        o->nids = 1 + (int)rnd(rng, 6);
        for (int i = 0; i < o->nids; i++)
            snprintf(o->ids[i], sizeof(o->ids[i]), "%d", (int)rnd(rng, ID_SPACE));
    } else if (w < 69) {
        o->kind = FOLIO_KIND_DOCUMENT_DELETION;
        o->clear = true;
    } else if (w < 79) {
        o->kind = FOLIO_KIND_SETTINGS_UPDATE;
        o->reset = rnd(rng, 4) == 0;
        o->settings = json_object();
        if (!o->reset) {
            static const char *const da[] = {"n", "ref", "op"};
            static const char *const sw[] = {"a", "of", "the"};
            if (rnd(rng, 2))
                json_object_set_new(o->settings, "distinctAttribute", json_string(da[rnd(rng, 3)]));
            json_t *a = json_array();
            for (int i = 0; i < 3; i++)
                if (rnd(rng, 2))
                    json_array_append_new(a, json_string(sw[i]));
            json_object_set_new(o->settings, "stopWords", a);
        }
        char *t = json_dumps(o->settings, JSON_COMPACT);
        o->settings_text = folio_strdup(t);
        free(t);
    } else if (w < 89) {
        o->kind = FOLIO_KIND_INDEX_CREATION;
        o->pk = rnd(rng, 3) == 0 ? PK_NONE : PK_ID;
    } else if (w < 95) {
        o->kind = FOLIO_KIND_INDEX_DELETION;
    } else {
        o->kind = FOLIO_KIND_INDEX_UPDATE;
        o->pk = rnd(rng, 2) ? PK_ID : PK_REF;
    }
}

static void
op_free(struct op *o)
{
    if (o->docs)
        json_decref(o->docs);
    if (o->settings)
        json_decref(o->settings);
    folio_free(o->payload);
    folio_free(o->settings_text);
}

static int
register_op(struct folio_sched *s, const struct op *o, struct folio_sched_registered *reg,
            struct folio_sched_error *err)
{
    struct folio_sched_request req;
    memset(&req, 0, sizeof(req));
    req.kind = o->kind;
    req.index_uid = folio_str_c(NAMES[o->idx]);
    struct folio_str ids[8];
    switch (o->kind) {
    case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE:
        req.method = o->method;
        req.payload = o->payload;
        req.payload_len = o->payload_len;
        req.format = o->format;
        if (o->pk != PK_NONE)
            req.primary_key = folio_str_c(PK_NAMES[o->pk]);
        break;
    case FOLIO_KIND_DOCUMENT_DELETION:
        if (o->clear) {
            req.clear = true;
        } else {
            for (int i = 0; i < o->nids; i++)
                ids[i] = folio_str_c(o->ids[i]);
            req.ids = ids;
            req.id_count = (uint32_t)o->nids;
        }
        break;
    case FOLIO_KIND_SETTINGS_UPDATE:
        req.settings_json = o->settings_text;
        req.settings_len = strlen(o->settings_text);
        req.settings_reset = o->reset;
        break;
    case FOLIO_KIND_INDEX_CREATION:
    case FOLIO_KIND_INDEX_UPDATE:
        if (o->pk != PK_NONE)
            req.primary_key = folio_str_c(PK_NAMES[o->pk]);
        break;
    default:
        break;
    }
    memset(reg, 0, sizeof(*reg));
    memset(err, 0, sizeof(*err));
    return folio_sched_register(s, &req, reg, err);
}

/* ---- the model ----------------------------------------------------------- */

struct mdoc {
    char key[24];
    uint64_t iid;
    json_t *obj;
};

struct midx {
    bool exists;
    int pk;
    uint64_t next_iid;
    struct mdoc *docs;
    int n, cap;
    json_t *distinct, *stop_words;
};

struct model {
    struct midx ix[POOL];
};

static void
midx_clear_docs(struct midx *m)
{
    for (int i = 0; i < m->n; i++)
        json_decref(m->docs[i].obj);
    m->n = 0;
}

static void
midx_reset(struct midx *m)
{
    midx_clear_docs(m);
    folio_free(m->docs);
    if (m->distinct)
        json_decref(m->distinct);
    if (m->stop_words)
        json_decref(m->stop_words);
    memset(m, 0, sizeof(*m));
}

static void
midx_create(struct midx *m, int pk)
{
    midx_reset(m);
    m->exists = true;
    m->pk = pk;
}

static int
midx_find(const struct midx *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->docs[i].key, key) == 0)
            return i;
    return -1;
}

static void
midx_put(struct midx *m, const json_t *d, enum folio_doc_method method)
{
    char key[24];
    json_t *v = json_object_get(d, PK_NAMES[m->pk]);
    if (json_is_integer(v))
        snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(key, sizeof(key), "%s", json_string_value(v));
    int at = midx_find(m, key);
    if (at >= 0) {
        if (method == FOLIO_DOC_REPLACE) {
            json_decref(m->docs[at].obj);
            m->docs[at].obj = json_deep_copy(d);
        } else {
            json_object_update(m->docs[at].obj, (json_t *)d);
        }
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 32;
        m->docs = folio_reallocarray(m->docs, (size_t)m->cap, sizeof(*m->docs));
    }
    struct mdoc *nd = &m->docs[m->n++];
    snprintf(nd->key, sizeof(nd->key), "%s", key);
    nd->iid = m->next_iid++;
    nd->obj = json_deep_copy(d);
}

struct expect {
    bool succeed;
    const char *code;
    int64_t indexed, received, deleted, provided;
};

static void
setting_set(json_t **slot, json_t *v)
{
    if (*slot)
        json_decref(*slot);
    *slot = (v == NULL || json_is_null(v)) ? NULL : json_deep_copy(v);
}

static void
model_apply(struct model *M, const struct op *o, struct expect *e)
{
    memset(e, 0, sizeof(*e));
    e->succeed = true;
    e->indexed = e->received = e->deleted = e->provided = -1;
    struct midx *m = &M->ix[o->idx];
    switch (o->kind) {
    case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE: {
        size_t n = json_array_size(o->docs);
        e->received = (int64_t)n;
        if (!m->exists)
            midx_create(m, PK_NONE);
        if (m->pk != PK_NONE && o->pk != PK_NONE && o->pk != m->pk) {
            e->succeed = false;
            e->code = "index_primary_key_already_exists";
            break;
        }
        if (m->pk == PK_NONE)
            m->pk = o->pk != PK_NONE ? o->pk : PK_ID;
        for (size_t i = 0; i < n; i++)
            midx_put(m, json_array_get(o->docs, i), o->method);
        e->indexed = (int64_t)n;
        break;
    }
    case FOLIO_KIND_DOCUMENT_DELETION:
        if (!o->clear)
            e->provided = o->nids;
        if (!m->exists) {
            e->succeed = false;
            e->code = "index_not_found";
        } else if (o->clear) {
            e->deleted = m->n;
            midx_clear_docs(m);
        } else {
            int64_t deleted = 0;
            for (int i = 0; i < o->nids && m->pk != PK_NONE; i++) {
                /* with primary key "ref" the numeric ids name nothing */
                int at = m->pk == PK_ID ? midx_find(m, o->ids[i]) : -1;
                if (at >= 0) {
                    json_decref(m->docs[at].obj);
                    memmove(&m->docs[at], &m->docs[at + 1],
                            (size_t)(m->n - at - 1) * sizeof(m->docs[0]));
                    m->n--;
                    deleted++;
                }
            }
            e->deleted = deleted;
        }
        break;
    case FOLIO_KIND_SETTINGS_UPDATE:
        if (!m->exists)
            midx_create(m, PK_NONE);
        if (o->reset) {
            setting_set(&m->distinct, NULL);
            setting_set(&m->stop_words, NULL);
        } else {
            json_t *v;
            if ((v = json_object_get(o->settings, "distinctAttribute")) != NULL)
                setting_set(&m->distinct, v);
            if ((v = json_object_get(o->settings, "stopWords")) != NULL)
                setting_set(&m->stop_words, v);
        }
        break;
    case FOLIO_KIND_INDEX_CREATION:
        if (m->exists) {
            e->succeed = false;
            e->code = "index_already_exists";
        } else {
            midx_create(m, o->pk);
        }
        break;
    case FOLIO_KIND_INDEX_DELETION:
        if (!m->exists) {
            e->succeed = false;
            e->code = "index_not_found";
        } else {
            e->deleted = m->n;
            midx_reset(m);
        }
        break;
    case FOLIO_KIND_INDEX_UPDATE:
        if (!m->exists) {
            e->succeed = false;
            e->code = "index_not_found";
        } else if (m->n > 0 && m->pk != o->pk) {
            e->succeed = false;
            e->code = "index_primary_key_already_exists";
        } else {
            m->pk = o->pk;
        }
        break;
    default:
        FOLIO_ASSERT(0);
    }
}

/* ---- the journal, read back ------------------------------------------------ */

struct jtask {
    bool registered;
    enum folio_task_kind kind;
    char index0[32];
    int outcomes;
    enum folio_event_type out_type;
    uint64_t batch;
    json_t *details;
    char code[64];
    int requeued;
    bool requeue_after_outcome;
};

struct journal_view {
    struct jtask *t;
    size_t nt;
    uint64_t last_seq;
};

static void
jv_free(struct journal_view *v)
{
    for (size_t i = 0; i < v->nt; i++)
        if (v->t[i].details)
            json_decref(v->t[i].details);
    folio_free(v->t);
    memset(v, 0, sizeof(*v));
}

static struct jtask *
jv_task(struct journal_view *v, uint64_t uid)
{
    FOLIO_ASSERT(uid < 10000000);
    if (uid >= v->nt) {
        size_t n = v->nt ? v->nt : 512;
        while (n <= uid)
            n *= 2;
        v->t = folio_reallocarray(v->t, n, sizeof(*v->t));
        memset(v->t + v->nt, 0, (n - v->nt) * sizeof(*v->t));
        v->nt = n;
    }
    return &v->t[uid];
}

static json_t *
object_json(const struct folio_object *o)
{
    json_t *j = NULL;
    if (o->len == 0 || folio_object_to_json(o->ptr, o->len, &j) != 0)
        return NULL;
    return j;
}

static void
jv_event(struct journal_view *v, const struct folio_event *ev)
{
    switch (ev->type) {
    case FOLIO_EV_TASK_REGISTERED: {
        const struct folio_ev_task_registered *tr = &ev->u.task_registered;
        struct jtask *t = jv_task(v, tr->task_uid);
        CHK(!t->registered, "journal: task %" PRIu64 " registered twice", tr->task_uid);
        t->registered = true;
        enum folio_task_kind k = FOLIO_KIND_COUNT;
        CHK(folio_task_kind_parse(tr->kind.ptr, tr->kind.len, &k) == 0, "journal: kind");
        t->kind = k;
        if (tr->index_uids.count)
            snprintf(t->index0, sizeof(t->index0), "%s", tr->index_uids.items[0].ptr);
        break;
    }
    case FOLIO_EV_TASK_SUCCEEDED:
    case FOLIO_EV_TASK_FAILED:
    case FOLIO_EV_TASK_CANCELED: {
        const struct folio_ev_task_outcome *to = &ev->u.task_outcome;
        struct jtask *t = jv_task(v, to->task_uid);
        t->outcomes++;
        t->out_type = ev->type;
        t->batch = to->batch_uid;
        if (t->details)
            json_decref(t->details);
        t->details = object_json(&to->details);
        t->code[0] = 0;
        if (ev->type == FOLIO_EV_TASK_FAILED) {
            json_t *err = object_json(&to->error);
            const char *code = json_string_value(json_object_get(err, "code"));
            snprintf(t->code, sizeof(t->code), "%s", code ? code : "?");
            if (err)
                json_decref(err);
        }
        break;
    }
    case FOLIO_EV_TASK_REQUEUED: {
        struct jtask *t = jv_task(v, ev->u.task_requeued.task_uid);
        t->requeued++;
        if (t->outcomes > 0)
            t->requeue_after_outcome = true;
        break;
    }
    default:
        break;
    }
}

static int
jv_read_once(const char *journal_dir, struct journal_view *v, struct folio_journal_diag *dg)
{
    memset(v, 0, sizeof(*v));
    struct folio_journal_reader *rd = NULL;
    struct folio_journal_diag d;
    int rc = folio_journal_reader_open(journal_dir, 1, 0, &rd, &d);
    if (rc != 0) {
        *dg = d;
        return rc;
    }
    struct folio_journal_record rec;
    while ((rc = folio_journal_reader_next(rd, &rec, &d)) == 0) {
        CHK(rec.seq == v->last_seq + 1, "journal: seq %" PRIu64 " after %" PRIu64, rec.seq,
            v->last_seq);
        v->last_seq = rec.seq;
        struct folio_event ev;
        int err = folio_event_decode(rec.data, rec.len, &ev);
        CHK(err == 0, "journal: event %" PRIu64 " does not decode", rec.seq);
        if (err == 0) {
            jv_event(v, &ev);
            folio_event_clear(&ev);
        }
    }
    *dg = d;
    folio_journal_reader_close(rd);
    return rc;
}

/*
 * Reads the whole journal. The scheduler may be appending (checkpoint_written
 * between batches, ...) and a reader that does not follow sees a frame being
 * written as a torn tail: read again. The journal is verified after close.
 */
static void
jv_read(const char *journal_dir, struct journal_view *v)
{
    for (int attempt = 0;; attempt++) {
        struct folio_journal_diag d;
        memset(&d, 0, sizeof(d));
        int rc = jv_read_once(journal_dir, v, &d);
        if (rc == FOLIO_E_END)
            return;
        if (rc == FOLIO_E_TORN_TAIL && attempt < 200) {
            jv_free(v);
            usleep(10000);
            continue;
        }
        chk_fail("journal reader ended with %s: %s", folio_err_name(rc), d.reason);
        return;
    }
}

/* ---- a data directory and the rounds run on it ----------------------------- */

enum kill_how { KILL_NONE, KILL_DELAY, KILL_POINT, KILL_IO };

struct child_args {
    const char *db;
    const char *witness;
    const struct op *ops; /* this round's ops */
    int first_tag;        /* tag (global op index) of ops[0] */
    int count;
    enum kill_how how;
    uint32_t kill_after; /* KILL_DELAY: witness records to wait for */
    long kill_delay_us;  /* KILL_DELAY: then this long */
    char point[64];      /* crash point spec */
    struct folio_io_fault plan;
};

/* Witness records: written with write(2) + fsync(2), outside the seam. */
enum { W_INTENT = 1, W_ACK = 2, W_REJECT = 3, W_DONE = 4 };
struct wrec {
    uint32_t type;
    uint32_t tag;   /* W_DONE: fsyncs counted */
    uint64_t uid;   /* W_DONE: renames counted */
    uint64_t extra; /* W_DONE: writes counted */
};

struct db {
    char *base, *dir, *witness;
    struct op *ops; /* every op ever generated for this directory, by tag */
    int nops, cap;
    int *tag_of_uid; /* uid -> tag, -1 */
    size_t uid_cap;
    int rounds;
    uint64_t rng;
};

/* Totals over a section, for the report and for "this section hit its target". */
struct tally {
    int rounds, killed, clean;
    uint32_t finished, requeued, removed, recovered_journal;
    int unacked_durable, ckpt_tmp_seen, point_fired;
};

static void
opts_fill(struct folio_sched_opts *opts, struct folio_journal_opts *jo,
          struct folio_index_options *io, const char *db)
{
    folio_sched_opts_default(opts);
    opts->db_path = db;
    opts->inline_payload_max = 256; /* most payloads go to content files */
    opts->checkpoint_every_events = 25;
    opts->checkpoint_every_ms = UINT32_MAX;
    opts->batch_tasks_max = 6;
    folio_journal_opts_default(jo);
    jo->segment_bytes = 256u << 10;
    opts->journal = jo;
    folio_index_options_default(io);
    io->map_bytes_initial = 128u << 10;
    opts->index = io;
}

static void
wwrite(int fd, uint32_t type, uint32_t tag, uint64_t uid, uint64_t extra)
{
    struct wrec w = {type, tag, uid, extra};
    if (write(fd, &w, sizeof(w)) != (ssize_t)sizeof(w) || fsync(fd) != 0)
        _exit(20);
}

static void
child_main(const struct child_args *a)
{
    int wfd = open(a->witness, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (wfd < 0)
        _exit(21);
    if (a->how == KILL_POINT)
        folio_crash_point_set(a->point);
    if (a->how == KILL_IO) {
        folio_io_fault_set(&a->plan);
    } else {
        /* a plan that never fires, to count the calls */
        struct folio_io_fault never = {
            .op = FOLIO_IO_RENAME, .action = FOLIO_IO_ACT_FAIL, .nth = UINT64_MAX};
        folio_io_fault_set(&never);
    }
    struct folio_sched_opts opts;
    struct folio_journal_opts jo;
    struct folio_index_options io;
    opts_fill(&opts, &jo, &io, a->db);
    struct folio_sched *s = NULL;
    struct folio_sched_diag d;
    memset(&d, 0, sizeof(d));
    int rc = folio_sched_open(&opts, &s, NULL, &d);
    if (rc != 0) {
        fprintf(stderr, "child: open: %s: %s\n", folio_err_name(rc), d.reason);
        _exit(22);
    }
    for (int i = 0; i < a->count; i++) {
        const struct folio_sched_state *st = folio_sched_read_lock(s);
        uint64_t expect_uid = folio_sched_state_next_task_uid(st);
        folio_sched_read_unlock(s);
        uint32_t tag = (uint32_t)(a->first_tag + i);
        wwrite(wfd, W_INTENT, tag, expect_uid, 0);
        struct folio_sched_registered reg;
        struct folio_sched_error err;
        rc = register_op(s, &a->ops[i], &reg, &err);
        if (rc == 0)
            wwrite(wfd, W_ACK, tag, reg.task_uid, 0);
        else
            wwrite(wfd, W_REJECT, tag, (uint64_t)(uint32_t)-rc, 0);
    }
    rc = folio_sched_wait_idle(s, WAIT_MS);
    if (rc != 0)
        _exit(23);
    folio_sched_close(s);
    wwrite(wfd, W_DONE, (uint32_t)folio_io_count(FOLIO_IO_FSYNC), folio_io_count(FOLIO_IO_RENAME),
           folio_io_count(FOLIO_IO_WRITE));
    close(wfd);
    _exit(0);
}

/*
 * Forks the child. With KILL_DELAY the parent waits until the witness holds
 * kill_after records (the child is that far into its registrations; it may
 * also have ended), then kill_delay_us more, and kills it. Returns the wait
 * status. Progress rather than wall time picks the moment, so a loaded
 * machine still gets kills spread over the whole run.
 */
static int
run_child(const struct child_args *a)
{
    unlink(a->witness);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child_main(a);
    int status = 0;
    bool reaped = false;
    if (a->how == KILL_DELAY) {
        off_t want = (off_t)(a->kill_after * sizeof(struct wrec));
        while (!reaped && tu_file_size(a->witness) < want) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            reaped = w == pid;
            if (!reaped)
                usleep(200);
        }
        if (!reaped) {
            usleep((useconds_t)a->kill_delay_us);
            kill(pid, SIGKILL);
        }
    }
    while (!reaped && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

static void
db_init(struct db *b, uint64_t seed, int number)
{
    memset(b, 0, sizeof(*b));
    b->base = jt_mkdtemp("schedcrash");
    b->dir = tu_path(b->base, "db");
    b->witness = tu_path(b->base, "witness");
    b->rng = seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(number + 1));
}

static void
db_free(struct db *b, bool keep)
{
    for (int i = 0; i < b->nops; i++)
        op_free(&b->ops[i]);
    folio_free(b->ops);
    folio_free(b->tag_of_uid);
    if (!keep)
        tu_rmrf(b->base);
    else
        fprintf(stderr, "kept %s\n", b->base);
    folio_free(b->base);
    folio_free(b->dir);
    folio_free(b->witness);
    memset(b, 0, sizeof(*b));
}

static void
db_map(struct db *b, uint64_t uid, int tag)
{
    if (uid >= b->uid_cap) {
        size_t cap = b->uid_cap ? b->uid_cap : 512;
        while (cap <= uid)
            cap *= 2;
        b->tag_of_uid = folio_reallocarray(b->tag_of_uid, cap, sizeof(int));
        for (size_t i = b->uid_cap; i < cap; i++)
            b->tag_of_uid[i] = -1;
        b->uid_cap = cap;
    }
    b->tag_of_uid[uid] = tag;
}

static int
db_tag(const struct db *b, uint64_t uid)
{
    return uid < b->uid_cap ? b->tag_of_uid[uid] : -1;
}

/* ---- files on disk --------------------------------------------------------- */

/* Names in dir (not . or ..), into a new array; returns the count (0 if missing). */
static int
list_dir(const char *dir, char ***out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = folio_reallocarray(*out, (size_t)cap, sizeof(char *));
        }
        (*out)[n++] = folio_strdup(e->d_name);
    }
    closedir(d);
    return n;
}

static void
names_free(char **names, int n)
{
    for (int i = 0; i < n; i++)
        folio_free(names[i]);
    folio_free(names);
}

/*
 * Files a start-up must remove, judged from a full replay of the journal:
 * content files no unfinished task needs, index directories the mapping does
 * not name, anything in tmp/. -1 if the journal cannot be replayed as it is
 * (a torn tail that open will quarantine).
 */
static int
count_orphans(const char *db, int *processing_mapped)
{
    char *jdir = tu_path(db, "journal");
    struct folio_sched_state *st = NULL;
    int rc = folio_sched_state_replay(jdir, NULL, &st, NULL, NULL);
    folio_free(jdir);
    if (processing_mapped)
        *processing_mapped = -1;
    if (rc != 0)
        return -1;
    int orphans = 0;
    if (processing_mapped) {
        /* processing tasks whose index is in the mapping: their index env holds the marker */
        *processing_mapped = 0;
        uint64_t next = folio_sched_state_next_task_uid(st);
        for (uint64_t uid = 0; uid < next; uid++) {
            struct folio_task_view t;
            struct folio_index_view iv;
            if (folio_sched_task_get(st, uid, &t) == 0 && t.status == FOLIO_STATUS_PROCESSING &&
                t.index_count > 0 &&
                folio_sched_index_get(st, t.index_uids[0].ptr, t.index_uids[0].len, &iv) == 0)
                (*processing_mapped)++;
        }
    }
    char **names;
    char *cdir = tu_path(db, "content");
    int n = list_dir(cdir, &names);
    for (int i = 0; i < n; i++) {
        bool needed = false;
        uint64_t next = folio_sched_state_next_task_uid(st);
        for (uint64_t uid = 0; uid < next && !needed; uid++) {
            struct folio_task_view t;
            if (folio_sched_task_get(st, uid, &t) != 0 || folio_task_status_finished(t.status) ||
                t.kind != FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE)
                continue;
            struct folio_task_content c;
            if (folio_task_content_decode(t.kind, t.content.ptr, t.content.len, &c) != 0)
                continue;
            needed = c.content_file.len > 0 && strcmp(c.content_file.ptr, names[i]) == 0;
            folio_task_content_clear(&c);
        }
        orphans += !needed;
    }
    names_free(names, n);
    folio_free(cdir);
    char *idir = tu_path(db, "indexes");
    n = list_dir(idir, &names);
    struct folio_index_view *list = NULL;
    size_t count = 0;
    if (folio_sched_index_list(st, &list, &count) == 0) {
        for (int i = 0; i < n; i++) {
            bool mapped = false;
            for (size_t k = 0; k < count; k++)
                mapped = mapped || (list[k].uuid.len == strlen(names[i]) &&
                                    memcmp(list[k].uuid.ptr, names[i], list[k].uuid.len) == 0);
            orphans += !mapped;
        }
    }
    folio_free(list);
    names_free(names, n);
    folio_free(idir);
    char *tdir = tu_path(db, "tmp");
    n = list_dir(tdir, &names);
    orphans += n;
    names_free(names, n);
    folio_free(tdir);
    folio_sched_state_free(st);
    return orphans;
}

/* A checkpoint file being written (ckpt-*.tmp) is in checkpoints/. */
static bool
checkpoint_tmp_present(const char *db)
{
    char *cdir = tu_path(db, "checkpoints");
    char **names;
    int n = list_dir(cdir, &names);
    bool found = false;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        found = found || (strncmp(names[i], "ckpt-", 5) == 0 && l > 4 &&
                          strcmp(names[i] + l - 4, ".tmp") == 0);
    }
    names_free(names, n);
    folio_free(cdir);
    return found;
}

/* ---- the checks after a round ------------------------------------------------ */

static void
check_outcomes(struct db *b, struct folio_sched *s, const struct journal_view *v, struct model *M)
{
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    uint64_t next = folio_sched_state_next_task_uid(st);
    for (uint64_t uid = 0; uid < next; uid++) {
        struct folio_task_view tv;
        int got = folio_sched_task_get(st, uid, &tv);
        int tag = db_tag(b, uid);
        if (tag < 0) {
            CHK(got == FOLIO_E_NOT_FOUND, "task %" PRIu64 " exists but nobody registered it", uid);
            continue;
        }
        CHK(got == 0, "task %" PRIu64 " (acknowledged or durable) is missing", uid);
        if (got != 0)
            continue;
        CHK(folio_task_status_finished(tv.status), "task %" PRIu64 " is still %s after idle", uid,
            folio_task_status_name(tv.status));
        CHK(tv.status != FOLIO_STATUS_CANCELED, "task %" PRIu64 " was canceled by nobody", uid);
    }
    folio_sched_read_unlock(s);

    for (uint64_t uid = 0; uid < next; uid++) {
        int tag = db_tag(b, uid);
        if (tag < 0)
            continue;
        const struct op *o = &b->ops[tag];
        const struct jtask *t = uid < v->nt ? &v->t[uid] : NULL;
        if (t == NULL || !t->registered) {
            chk_fail("task %" PRIu64 " has no task_registered event", uid);
            continue;
        }
        CHK(t->kind == o->kind && strcmp(t->index0, NAMES[o->idx]) == 0,
            "task %" PRIu64 ": journal has %s on %s, op %d was %s on %s", uid,
            folio_task_kind_name(t->kind), t->index0, tag, folio_task_kind_name(o->kind),
            NAMES[o->idx]);
        CHK(t->outcomes == 1, "task %" PRIu64 " (%s on %s) has %d outcome events", uid,
            folio_task_kind_name(o->kind), NAMES[o->idx], t->outcomes);
        CHK(!t->requeue_after_outcome, "task %" PRIu64 " requeued after its outcome", uid);
        struct expect e;
        model_apply(M, o, &e);
        bool ok = t->out_type == (e.succeed ? FOLIO_EV_TASK_SUCCEEDED : FOLIO_EV_TASK_FAILED);
        CHK(ok, "task %" PRIu64 " (%s on %s, requeued %d): %s %s, model says %s %s", uid,
            folio_task_kind_name(o->kind), NAMES[o->idx], t->requeued,
            t->out_type == FOLIO_EV_TASK_SUCCEEDED ? "succeeded" : "failed", t->code,
            e.succeed ? "succeeded" : "failed", e.code ? e.code : "");
        if (!ok)
            continue;
        if (!e.succeed) {
            CHK(strcmp(t->code, e.code) == 0, "task %" PRIu64 ": failed with %s, model says %s",
                uid, t->code, e.code);
            continue;
        }
        struct {
            const char *key;
            int64_t want;
        } dk[] = {{"receivedDocuments", e.received},
                  {"indexedDocuments", e.indexed},
                  {"deletedDocuments", e.deleted},
                  {"providedIds", e.provided}};
        for (size_t i = 0; i < FOLIO_ARRAY_LEN(dk); i++) {
            if (dk[i].want < 0)
                continue;
            json_t *jv = json_object_get(t->details, dk[i].key);
            int64_t got = json_is_integer(jv) ? (int64_t)json_integer_value(jv) : -1;
            CHK(got == dk[i].want,
                "task %" PRIu64 " (%s on %s, requeued %d): details.%s = %" PRId64
                ", model says %" PRId64 " (applied twice?)",
                uid, folio_task_kind_name(o->kind), NAMES[o->idx], t->requeued, dk[i].key, got,
                dk[i].want);
        }
    }
}

static void
check_index(struct folio_sched *s, int i, const struct midx *m)
{
    struct folio_index *idx = NULL;
    int rc = folio_sched_index_acquire(s, NAMES[i], strlen(NAMES[i]), &idx);
    if (!m->exists) {
        CHK(rc == FOLIO_E_NOT_FOUND, "index %s exists, the model deleted it", NAMES[i]);
        if (rc == 0)
            folio_sched_index_release(s, idx);
        return;
    }
    CHK(rc == 0, "index %s: acquire %s", NAMES[i], folio_err_name(rc));
    if (rc != 0)
        return;
    struct folio_index_error ie;
    char *text = NULL;
    uint64_t total = 0;
    rc = folio_index_documents_get(idx, 0, 1000000, NULL, 0, &text, NULL, &total, &ie);
    CHK(rc == 0, "index %s: documents_get %s", NAMES[i], folio_err_name(rc));
    json_t *arr = rc == 0 ? json_loads(text, 0, NULL) : NULL;
    folio_free(text);
    int *order = folio_calloc((size_t)m->n + 1, sizeof(int));
    for (int k = 0; k < m->n; k++)
        order[k] = k;
    for (int a = 1; a < m->n; a++)
        for (int c = a; c > 0 && m->docs[order[c - 1]].iid > m->docs[order[c]].iid; c--) {
            int t = order[c];
            order[c] = order[c - 1];
            order[c - 1] = t;
        }
    CHK(arr && json_array_size(arr) == (size_t)m->n, "index %s: %zu documents, model has %d",
        NAMES[i], arr ? json_array_size(arr) : 0, m->n);
    for (int k = 0; arr && k < m->n && k < (int)json_array_size(arr); k++) {
        if (!json_equal(json_array_get(arr, (size_t)k), m->docs[order[k]].obj)) {
            char *g = json_dumps(json_array_get(arr, (size_t)k), JSON_COMPACT | JSON_SORT_KEYS);
            char *w = json_dumps(m->docs[order[k]].obj, JSON_COMPACT | JSON_SORT_KEYS);
            chk_fail("index %s: document %d is %.200s, model says %.200s", NAMES[i], k, g, w);
            free(g);
            free(w);
            break;
        }
    }
    folio_free(order);
    if (arr)
        json_decref(arr);
    struct folio_index_stats *stats = NULL;
    rc = folio_index_stats_get(idx, &stats, &ie);
    CHK(rc == 0, "index %s: stats %s", NAMES[i], folio_err_name(rc));
    if (rc == 0) {
        const char *want_pk = m->pk ? PK_NAMES[m->pk] : NULL;
        CHK(want_pk ? stats->has_primary_key && strcmp(stats->primary_key, want_pk) == 0
                    : !stats->has_primary_key,
            "index %s: primary key %s, model %s", NAMES[i],
            stats->has_primary_key ? stats->primary_key : "none", want_pk ? want_pk : "none");
        CHK(stats->next_internal_id == m->next_iid,
            "index %s: next internal id %" PRIu64 ", model %" PRIu64 " (applied twice?)", NAMES[i],
            stats->next_internal_id, m->next_iid);
        json_t *set = json_loadb(stats->settings_json, stats->settings_len, 0, NULL);
        json_t *want_s = m->stop_words ? json_incref(m->stop_words) : json_array();
        CHK(set && json_equal(json_object_get(set, "distinctAttribute"),
                              m->distinct ? m->distinct : json_null()),
            "index %s: distinctAttribute differs from the model", NAMES[i]);
        CHK(set && json_equal(json_object_get(set, "stopWords"), want_s),
            "index %s: stopWords differ from the model", NAMES[i]);
        json_decref(want_s);
        if (set)
            json_decref(set);
        folio_index_stats_free(stats);
    }
    rc = folio_index_verify(idx, &ie);
    CHK(rc == 0, "index %s: verify %s: %s", NAMES[i], folio_err_name(rc), ie.message);
    folio_sched_index_release(s, idx);
}

static void
check_replays(struct db *b, struct folio_sched *s)
{
    const char *jdir = folio_sched_journal_dir(s);
    char *cdir = tu_path(b->dir, "checkpoints");
    for (int attempt = 0; attempt < 30; attempt++) {
        struct folio_sched_state *full = NULL, *ck = NULL;
        struct folio_sched_replay_info ci;
        struct folio_sched_diag d;
        int rc = folio_sched_state_replay(jdir, NULL, &full, NULL, &d);
        struct folio_sched_diag d2;
        int rc2 = folio_sched_state_replay(jdir, cdir, &ck, &ci, &d2);
        if ((rc == FOLIO_E_TORN_TAIL || rc2 == FOLIO_E_TORN_TAIL) && attempt < 29) {
            /* a frame being appended, seen by a reader that does not follow */
            folio_sched_state_free(full);
            folio_sched_state_free(ck);
            usleep(20000);
            continue;
        }
        CHK(rc == 0, "full replay: %s at %" PRIu64 ": %s", folio_err_name(rc), d.seq, d.reason);
        CHK(rc2 == 0, "checkpoint replay: %s %s at %" PRIu64 ": %s", folio_err_name(rc2), d2.file,
            d2.seq, d2.reason);
        if (rc != 0 || rc2 != 0) {
            folio_sched_state_free(full);
            folio_sched_state_free(ck);
            break;
        }
        const struct folio_sched_state *live = folio_sched_read_lock(s);
        uint64_t ls = folio_sched_state_last_seq(live);
        bool same = ls == folio_sched_state_last_seq(full) && ls == folio_sched_state_last_seq(ck);
        if (same || attempt == 29) {
            char diff[512];
            CHK(same, "last seq: live %" PRIu64 ", replay %" PRIu64, ls,
                folio_sched_state_last_seq(full));
            CHK(folio_sched_state_equal(live, full, diff, sizeof(diff)),
                "live state != full replay: %s", diff);
            CHK(folio_sched_state_equal(full, ck, diff, sizeof(diff)),
                "full replay != checkpoint %s + tail: %s", ci.checkpoint_file, diff);
        }
        folio_sched_read_unlock(s);
        folio_sched_state_free(full);
        folio_sched_state_free(ck);
        if (same)
            break;
        usleep(20000);
    }
    folio_free(cdir);
}

/* After close: no content file, no unmapped index dir, nothing in tmp/. */
static void
check_no_leftovers(struct db *b)
{
    int orphans = count_orphans(b->dir, NULL);
    CHK(orphans == 0, "%d leftover files after recovery, idle and close", orphans);
}

/* Reads the witness: maps acknowledged uids; *pending gets the intent left unanswered. */
static void
read_witness(struct db *b, int *acked, int *pending_tag, uint64_t *pending_uid, bool *done,
             uint64_t counts[3])
{
    size_t len = 0;
    struct wrec *w = (struct wrec *)(void *)tu_read_file(b->witness, &len);
    *acked = 0;
    *pending_tag = -1;
    *done = false;
    size_t n = w ? len / sizeof(*w) : 0;
    uint64_t expect = 0;
    for (size_t i = 0; i < n; i++) {
        switch (w[i].type) {
        case W_INTENT:
            *pending_tag = (int)w[i].tag;
            *pending_uid = expect = w[i].uid;
            break;
        case W_ACK:
            CHK(w[i].uid == expect, "op %u acknowledged as uid %" PRIu64 ", expected %" PRIu64,
                w[i].tag, w[i].uid, expect);
            db_map(b, w[i].uid, (int)w[i].tag);
            (*acked)++;
            *pending_tag = -1;
            break;
        case W_REJECT:
            *pending_tag = -1;
            break;
        case W_DONE:
            *done = true;
            counts[0] = w[i].uid;
            counts[1] = w[i].tag;
            counts[2] = w[i].extra;
            break;
        default:
            chk_fail("witness record type %u", w[i].type);
        }
    }
    folio_free(w);
}

/* One round: generate ops, run the child, kill it as told, recover and check. */
static void
round_run(struct db *b, struct child_args *a, struct tally *t, uint64_t counts_out[3])
{
    int first = b->nops;
    for (int i = 0; i < OPS_PER_ROUND; i++) {
        if (b->nops == b->cap) {
            b->cap = b->cap ? b->cap * 2 : 256;
            b->ops = folio_reallocarray(b->ops, (size_t)b->cap, sizeof(*b->ops));
        }
        gen_op(&b->rng, &b->ops[b->nops], b->nops);
        b->nops++;
    }
    a->db = b->dir;
    a->witness = b->witness;
    a->ops = &b->ops[first];
    a->first_tag = first;
    a->count = OPS_PER_ROUND;
    int status = run_child(a);
    b->rounds++;
    t->rounds++;
    bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    CHK(killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0), "child ended with status 0x%x",
        status);
    t->killed += killed;
    t->clean += !killed;
    int acked, pending_tag;
    uint64_t pending_uid = 0, counts[3] = {0, 0, 0};
    bool done;
    read_witness(b, &acked, &pending_tag, &pending_uid, &done, counts);
    if (counts_out)
        memcpy(counts_out, counts, sizeof(counts));
    bool tmp_ckpt = checkpoint_tmp_present(b->dir);
    t->ckpt_tmp_seen += killed && tmp_ckpt;
    int processing_mapped = -1;
    int orphans = count_orphans(b->dir, &processing_mapped);
    /* recover */
    struct folio_sched_opts opts;
    struct folio_journal_opts jo;
    struct folio_index_options io;
    opts_fill(&opts, &jo, &io, b->dir);
    struct folio_sched *s = NULL;
    struct folio_sched_open_info info;
    struct folio_sched_diag d;
    memset(&info, 0, sizeof(info));
    memset(&d, 0, sizeof(d));
    int rc = folio_sched_open(&opts, &s, &info, &d);
    if (rc != 0) {
        chk_fail("reopen: %s (seq %" PRIu64 " %s: %s)", folio_err_name(rc), d.seq, d.file,
                 d.reason);
        return;
    }
    t->finished += info.tasks_finished;
    t->requeued += info.tasks_requeued;
    t->removed += info.files_removed;
    t->recovered_journal += info.journal_recovered;
    if (orphans > 0)
        CHK(info.files_removed >= (uint32_t)orphans, "open removed %u files, %d were orphans",
            info.files_removed, orphans);
    if (!killed)
        CHK(info.tasks_finished == 0 && info.tasks_requeued == 0,
            "after a clean close open finished %u and requeued %u tasks", info.tasks_finished,
            info.tasks_requeued);
    if (a->how == KILL_POINT && killed) {
        t->point_fired++;
        const char *p = a->point;
        uint32_t touched = info.tasks_finished + info.tasks_requeued;
        if (strncmp(p, "batch-started", 13) == 0 || strncmp(p, "index-committed", 15) == 0 ||
            strncmp(p, "index-created", 13) == 0)
            CHK(touched >= 1, "killed at %s: open finished %u and requeued %u tasks", p,
                info.tasks_finished, info.tasks_requeued);
        /*
         * Killed right after an index transaction committed: the task it applied is
         * processing, and if its index is mapped the env's marker names it, so open
         * must finish it from the stored outcome, not run it again.
         */
        if (strncmp(p, "index-committed", 15) == 0 && processing_mapped > 0)
            CHK(info.tasks_finished >= 1,
                "killed at %s with %d processing tasks on a mapped index: open finished none "
                "(requeued %u)",
                p, processing_mapped, info.tasks_requeued);
        if (strncmp(p, "batch-started", 13) == 0 || strncmp(p, "index-created", 13) == 0)
            CHK(info.tasks_requeued >= 1, "killed at %s: nothing requeued", p);
        if (strncmp(p, "index-created", 13) == 0 || strncmp(p, "content-written", 15) == 0)
            CHK(info.files_removed >= 1, "killed at %s: no orphan removed", p);
        if (strncmp(p, "outcome-durable", 15) == 0)
            CHK(touched == 0, "killed at %s: open finished %u and requeued %u tasks", p,
                info.tasks_finished, info.tasks_requeued);
    }
    rc = folio_sched_wait_idle(s, WAIT_MS);
    CHK(rc == 0, "wait_idle after recovery: %s", folio_err_name(rc));

    /* the task in flight when the child died: durable (then it is known) or not */
    const struct folio_sched_state *st = folio_sched_read_lock(s);
    struct folio_task_view tv;
    bool pending_exists = pending_tag >= 0 && folio_sched_task_get(st, pending_uid, &tv) == 0;
    uint64_t next = folio_sched_state_next_task_uid(st);
    folio_sched_read_unlock(s);
    if (pending_exists) {
        db_map(b, pending_uid, pending_tag);
        t->unacked_durable++;
    }
    if (a->how == KILL_POINT && killed && strncmp(a->point, "content-written", 15) == 0)
        CHK(pending_tag >= 0 && !pending_exists,
            "killed at content-written, yet the task in flight (uid %" PRIu64 ") is registered",
            pending_uid);
    CHK(next <= b->uid_cap && (next == 0 || db_tag(b, next - 1) >= 0),
        "the newest task %" PRIu64 " maps to no op of the workload", next - 1);

    struct journal_view v;
    jv_read(folio_sched_journal_dir(s), &v);
    struct model M;
    memset(&M, 0, sizeof(M));
    check_outcomes(b, s, &v, &M);
    for (int i = 0; i < POOL; i++)
        check_index(s, i, &M.ix[i]);
    check_replays(b, s);
    jv_free(&v);
    for (int i = 0; i < POOL; i++)
        midx_reset(&M.ix[i]);
    char *jdir = folio_strdup(folio_sched_journal_dir(s));
    folio_sched_close(s);
    struct folio_journal_diag jd;
    rc = folio_journal_verify(jdir, NULL, &jd);
    CHK(rc == 0, "journal verify: %s at %s+%" PRIu64 ": %s", folio_err_name(rc), jd.segment,
        jd.offset, jd.reason);
    folio_free(jdir);
    check_no_leftovers(b);
    (void)acked;
}

static int
rounds_factor(void)
{
    const char *f = getenv("FOLIO_SCHED_CRASH_ROUNDS");
    int n = f ? atoi(f) : 1;
    return n < 1 ? 1 : n;
}

static void
seed_init(void)
{
    const char *env_seed = getenv("FOLIO_TEST_SEED");
    g_seed = env_seed ? tu_seed() : DEFAULT_SEED;
    if (!env_seed)
        fprintf(stderr, "seed: FOLIO_TEST_SEED=%" PRIu64 " (default)\n", g_seed);
    g_fail_count = 0;
}

static void
report(const char *what, const struct tally *t, double secs)
{
    fprintf(stderr,
            "%s: %d rounds (%d killed, %d ran to the end) in %.1fs; recovery finished %u and "
            "requeued %u tasks, removed %u files, recovered %u torn journals; %d unacknowledged "
            "but durable tasks; %d kills left a checkpoint .tmp\n",
            what, t->rounds, t->killed, t->clean, secs, t->finished, t->requeued, t->removed,
            t->recovered_journal, t->unacked_durable, t->ckpt_tmp_seen);
}

static void
finish(const char *what, struct db *b)
{
    bool failed = g_fail_count > 0;
    db_free(b, failed);
    if (failed)
        fail_msg("%s: %lu check(s) failed; replay with FOLIO_TEST_SEED=%" PRIu64, what,
                 g_fail_count, g_seed);
}

/* (a) SIGKILL after a random delay. */
static void
test_kill_at_random_times(void **state)
{
    (void)state;
    seed_init();
    uint64_t rng = g_seed;
    int rounds = 200 * rounds_factor();
    struct tally t = {0};
    struct db b;
    int dbn = 0;
    db_init(&b, g_seed, dbn++);
    double t0 = jt_now();
    for (int i = 0; i < rounds && g_fail_count == 0; i++) {
        if (b.rounds >= ROUNDS_PER_DB) {
            db_free(&b, false);
            db_init(&b, g_seed, dbn++);
        }
        struct child_args a = {.how = KILL_DELAY};
        /* anywhere in the registrations (odd: between intent and acknowledgement) ... */
        a.kill_after = (uint32_t)rnd(&rng, 2 * OPS_PER_ROUND + 1);
        /* ... then a little later, or (one in four) well into the processing */
        a.kill_delay_us = (long)rnd(&rng, rnd(&rng, 4) == 0 ? 150000 : 3000);
        snprintf(g_label, sizeof(g_label), "random kill %d after %u records + %ldus", i,
                 a.kill_after, a.kill_delay_us);
        round_run(&b, &a, &t, NULL);
    }
    report("random kills", &t, jt_now() - t0);
    if (g_fail_count == 0)
        /* proves the kills happen; how many land before a round ends depends on the machine */
        CHK(t.killed >= rounds / 4, "only %d of %d rounds were killed", t.killed, rounds);
    finish("random kills", &b);
}

/* (b) every named crash point, at several hits. */
static void
test_kill_at_crash_points(void **state)
{
    (void)state;
    seed_init();
    static const char *const points[] = {"content-written", "batch-started", "index-committed",
                                         "index-created", "outcome-durable"};
    static const int nths[] = {1, 2, 3, 5, 8, 13, 21, 34};
    int nn = rounds_factor() > 1 ? (int)FOLIO_ARRAY_LEN(nths) : 6;
    struct tally total = {0};
    double t0 = jt_now();
    int dbn = 100;
    for (size_t p = 0; p < FOLIO_ARRAY_LEN(points); p++) {
        struct tally t = {0};
        struct db b;
        db_init(&b, g_seed, dbn++);
        for (int k = 0; k < nn * rounds_factor() && g_fail_count == 0; k++) {
            if (b.rounds >= ROUNDS_PER_DB) {
                db_free(&b, false);
                db_init(&b, g_seed, dbn++);
            }
            struct child_args a = {.how = KILL_POINT};
            /* a round creates only one or two index envs: keep hitting the first ones */
            int nth = strcmp(points[p], "index-created") == 0 ? 1 + k % 2 : nths[k % nn];
            snprintf(a.point, sizeof(a.point), "%s:%d", points[p], nth);
            snprintf(g_label, sizeof(g_label), "crash point %s", a.point);
            round_run(&b, &a, &t, NULL);
        }
        report(points[p], &t, jt_now() - t0);
        if (g_fail_count == 0)
            CHK(t.point_fired >= 1, "crash point %s never fired", points[p]);
        total.rounds += t.rounds;
        total.killed += t.killed;
        total.clean += t.clean;
        total.finished += t.finished;
        total.requeued += t.requeued;
        total.removed += t.removed;
        total.recovered_journal += t.recovered_journal;
        total.unacked_durable += t.unacked_durable;
        db_free(&b, g_fail_count > 0);
        if (g_fail_count > 0)
            break;
    }
    report("crash points", &total, jt_now() - t0);
    if (g_fail_count > 0)
        fail_msg("crash points: %lu check(s) failed; replay with FOLIO_TEST_SEED=%" PRIu64,
                 g_fail_count, g_seed);
}

/* (c) death inside checkpoint writing: the Nth rename and fsync, with power loss too. */
static void
test_kill_during_checkpoints(void **state)
{
    (void)state;
    seed_init();
    struct tally t = {0};
    double t0 = jt_now();
    int dbn = 200;
    struct db b;
    db_init(&b, g_seed, dbn++);
    /* a clean round counts the calls */
    struct child_args a = {.how = KILL_NONE};
    uint64_t counts[3] = {0, 0, 0};
    snprintf(g_label, sizeof(g_label), "count");
    round_run(&b, &a, &t, counts);
    uint64_t renames = counts[0], fsyncs = counts[1], writes = counts[2];
    fprintf(stderr,
            "a clean round makes %" PRIu64 " renames, %" PRIu64 " fsyncs and %" PRIu64 " writes\n",
            renames, fsyncs, writes);
    CHK(renames > 0 && fsyncs > 0 && writes > 0, "no renames, fsyncs or writes counted");
    uint64_t per = (uint64_t)(25 * rounds_factor());
    struct {
        enum folio_io_op op;
        enum folio_io_action action;
        int lose;
        uint64_t max;
    } plans[] = {
        /* before the rename of ckpt-*.tmp (and of segments, content, ...) */
        {FOLIO_IO_RENAME, FOLIO_IO_ACT_BEFORE, 0, renames + 4},
        /* right after a rename, with everything unsynced lost */
        {FOLIO_IO_RENAME, FOLIO_IO_ACT_CRASH, 1, renames + 4},
        /* after an fsync (checkpoint file, directory, journal, content), power lost */
        {FOLIO_IO_FSYNC, FOLIO_IO_ACT_CRASH, 1, fsyncs + 8},
        /* a torn write (a checkpoint, content file or journal frame half written) */
        {FOLIO_IO_WRITE, FOLIO_IO_ACT_TEAR, 0, writes + 8},
    };
    for (size_t p = 0; p < FOLIO_ARRAY_LEN(plans) && g_fail_count == 0; p++) {
        uint64_t step = plans[p].max / per + 1;
        for (uint64_t nth = 1 + p % step; nth <= plans[p].max && g_fail_count == 0; nth += step) {
            if (b.rounds >= ROUNDS_PER_DB) {
                db_free(&b, false);
                db_init(&b, g_seed, dbn++);
            }
            a = (struct child_args){.how = KILL_IO};
            a.plan = (struct folio_io_fault){.op = plans[p].op,
                                             .action = plans[p].action,
                                             .nth = nth,
                                             .bytes = 40,
                                             .lose_unsynced = plans[p].lose};
            snprintf(g_label, sizeof(g_label), "%s %s nth=%" PRIu64 "%s",
                     folio_io_op_name(plans[p].op),
                     plans[p].action == FOLIO_IO_ACT_BEFORE ? "before"
                     : plans[p].action == FOLIO_IO_ACT_TEAR ? "tear"
                                                            : "crash",
                     nth, plans[p].lose ? " power loss" : "");
            round_run(&b, &a, &t, NULL);
        }
    }
    report("checkpoint/io kills", &t, jt_now() - t0);
    if (g_fail_count == 0) {
        CHK(t.ckpt_tmp_seen >= 1, "no kill landed inside a checkpoint write (no ckpt-*.tmp seen)");
        CHK(t.recovered_journal >= 1, "no torn journal tail was recovered");
    }
    finish("checkpoint kills", &b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_at_random_times),
        cmocka_unit_test(test_kill_at_crash_points),
        cmocka_unit_test(test_kill_during_checkpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
