/*
 * The running scheduler against an in-memory model, on a randomized workload.
 *
 * A generator (seed printed; FOLIO_TEST_SEED=... replays it, the default is
 * a fixed seed) registers a few thousand mixed tasks on six index uids
 * through folio_sched_register: document additions (replace and update, JSON,
 * NDJSON and CSV payloads, inline and in content files, explicit and
 * inferred primary keys, with and without index creation rights), deletions
 * by ids, clears, settings updates and resets, index creation, deletion,
 * primary key updates and renames, swaps (with and without rename), task
 * cancelations and task deletions. The real scheduler runs them in-process.
 * Chunks alternate between "paused" (the queue is idle, processing is paused
 * while the chunk is registered, so a cancelation finds its targets still
 * enqueued) and "live" (processing runs while tasks arrive). A checkpoint is
 * written midway with folio_sched_checkpoint_now, then more tasks follow.
 *
 * At the end, with the queue idle:
 *  - the journal is read back: every task has exactly one outcome; the
 *    outcomes of index tasks are those of a model that applies, in uid
 *    order, every task that was not canceled (Meilisearch's semantics:
 *    tasks of an index in uid order, a task on a missing index without
 *    creation rights fails with index_not_found, indexCreation of an
 *    existing uid fails with index_already_exists, a swap exchanges two
 *    existing indexes or renames one into a free uid, ...), with the details
 *    the model predicts (indexedDocuments, deletedDocuments, ...);
 *  - cancelations: a canceled task was matched by its canceler (a larger
 *    uid); in paused chunks every enqueued task a successful cancelation
 *    matched is canceled; canceledTasks counts what it canceled;
 *  - task deletions: only matched tasks that were finished are deleted, all
 *    of those that were finished are, and they are gone from the state;
 *  - every index's documents (in internal id order), primary key, next
 *    internal id and the settings the workload touches equal the model, and
 *    the mapping holds exactly the model's indexes;
 *  - the live state, a full replay from seq 1 and the newest checkpoint +
 *    tail are equal field by field (folio_sched_state_equal) and by hash.
 *
 * Then the directory is closed and reopened: the reopened state equals a full
 * replay and the indexes still equal the model.
 *
 * FOLIO_SCHED_RANDOM_TASKS sets the number of tasks of a run (default 3000),
 * FOLIO_SCHED_RANDOM_RUNS the number of runs (default 3; run i uses seed + i;
 * run 0 checkpoints only through folio_sched_checkpoint_now);
 * FOLIO_SCHED_RANDOM_TRACE=1 prints each task as the model applies it, with
 * the batch that ran it (to find the first divergence).
 */
#define _GNU_SOURCE
#include "jtest.h"

#include <jansson.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"
#include "folio/index.h"
#include "folio/journal.h"
#include "folio/sched.h"
#include "folio/sched_run.h"
#include "testutil.h"

#define POOL 6
#define ID_SPACE 40
#define DEFAULT_TASKS 3000
#define DEFAULT_RUNS 3
#define DEFAULT_SEED 0x5eedf0110ull
#define WAIT_MS 120000

static const char *const NAMES[POOL] = {"alpha", "beta", "gamma", "delta", "eps", "zeta"};
enum { PK_NONE = 0, PK_ID, PK_REF };
static const char *const PK_NAMES[3] = {NULL, "id", "ref"};

/* ---- failures ------------------------------------------------------------ */

static unsigned long g_fail_count;
static uint64_t g_seed;
static bool g_trace;
/* how often the checks that need a particular history ran */
static struct {
    uint32_t paused_cancels, deleted, kept_unfinished, canceled;
} g_cov;

static void chk_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
chk_fail(const char *fmt, ...)
{
    g_fail_count++;
    if (g_fail_count > 60)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
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
    int idx; /* NAMES index of a one-index kind */
    /* documentAdditionOrUpdate */
    enum folio_doc_method method;
    enum folio_index_format format;
    int pk;       /* explicit primary key (PK_*) */
    bool forbid;  /* allowIndexCreation false (documents, settings) */
    json_t *docs; /* array, payload order */
    char *payload;
    size_t payload_len;
    /* documentDeletion */
    int nids;
    char ids[8][8];
    bool clear;
    /* settingsUpdate */
    json_t *settings;
    char *settings_text;
    bool reset;
    /* indexCreation / indexUpdate */
    int new_idx; /* indexUpdate rename target, -1 */
    /* indexSwap */
    int nswaps;
    int swap_a[2], swap_b[2];
    bool swap_rename[2];
    /* taskCancelation / taskDeletion filter */
    uint32_t fuids[24];
    uint32_t nfuids;
    bool fuids_set;
    uint32_t fstatuses, fkinds;
    int fidx; /* indexUids filter, -1 */
    char query[512];
    /* registration */
    bool registered;
    uint32_t uid;
    char reg_code[64];
    bool paused; /* registered while processing was paused on an idle queue */
    int chunk;
};

struct run {
    uint64_t rng;
    struct folio_sched *s;
    char *base, *db;
    struct op *ops;
    size_t nops, cap;
    int chunk;
    /* uid -> op index (-1: none) */
    int *by_uid;
    size_t by_uid_cap;
    uint32_t refused[FOLIO_KIND_COUNT];
    char refused_codes[256];
    uint64_t ckpt_every;
    uint32_t batch_max;
};

static uint64_t
rnd(struct run *r, uint64_t n)
{
    return n ? tu_rand(&r->rng) % n : 0;
}

static int
pick_index(struct run *r)
{
    /* five busy indexes, the sixth mostly a rename and swap target */
    return rnd(r, 12) == 0 ? 5 : (int)rnd(r, 5);
}

static json_t *
gen_doc(struct run *r, int op_k, enum folio_doc_method method, bool csv)
{
    int id = (int)rnd(r, ID_SPACE);
    char ref[16];
    snprintf(ref, sizeof(ref), "r%d", id);
    json_t *d = json_object();
    json_object_set_new(d, "id", json_integer(id));
    json_object_set_new(d, "ref", json_string(ref));
    if (method == FOLIO_DOC_REPLACE) {
        json_object_set_new(d, "op", json_integer(op_k));
        json_object_set_new(d, "n", json_integer((json_int_t)rnd(r, 1000)));
        if (!csv && rnd(r, 8) == 0) {
            /* a big field pushes the payload past the inline bound into a content file */
            size_t len = 600 + rnd(r, 1500);
            char *pad = folio_malloc(len + 1);
            for (size_t i = 0; i < len; i++)
                pad[i] = (char)('a' + (i + (size_t)op_k) % 26);
            pad[len] = 0;
            json_object_set_new(d, "pad", json_string(pad));
            folio_free(pad);
        }
    } else {
        json_object_set_new(d, "u", json_integer(op_k));
        if (rnd(r, 2))
            json_object_set_new(d, "m", json_integer((json_int_t)rnd(r, 100)));
    }
    return d;
}

static void
payload_build(struct op *o)
{
    size_t n = json_array_size(o->docs);
    if (o->format == FOLIO_INDEX_FORMAT_JSON) {
        json_t *v = n == 1 ? json_array_get(o->docs, 0) : o->docs;
        char *t = json_dumps(v, JSON_COMPACT);
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
        /* CSV: typed number columns so values are the same JSON as the model's */
        bool rep = o->method == FOLIO_DOC_REPLACE;
        size_t cap = 256 + n * 64, len = 0;
        char *buf = folio_malloc(cap);
        len +=
            (size_t)snprintf(buf + len, cap - len, "%s\n",
                             rep ? "id:number,ref,op:number,n:number" : "id:number,ref,u:number");
        for (size_t i = 0; i < n; i++) {
            json_t *d = json_array_get(o->docs, i);
            if (rep)
                len += (size_t)snprintf(buf + len, cap - len,
                                        "%" JSON_INTEGER_FORMAT ",%s,%" JSON_INTEGER_FORMAT
                                        ",%" JSON_INTEGER_FORMAT "\n",
                                        json_integer_value(json_object_get(d, "id")),
                                        json_string_value(json_object_get(d, "ref")),
                                        json_integer_value(json_object_get(d, "op")),
                                        json_integer_value(json_object_get(d, "n")));
            else
                len += (size_t)snprintf(buf + len, cap - len,
                                        "%" JSON_INTEGER_FORMAT ",%s,%" JSON_INTEGER_FORMAT "\n",
                                        json_integer_value(json_object_get(d, "id")),
                                        json_string_value(json_object_get(d, "ref")),
                                        json_integer_value(json_object_get(d, "u")));
        }
        o->payload = buf;
    }
    o->payload_len = strlen(o->payload);
}

static void
gen_documents(struct run *r, struct op *o, int k)
{
    o->kind = FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
    o->idx = pick_index(r);
    o->method = rnd(r, 3) == 0 ? FOLIO_DOC_UPDATE : FOLIO_DOC_REPLACE;
    o->format = (enum folio_index_format)rnd(r, 3);
    o->pk = rnd(r, 4) == 0 ? (rnd(r, 3) == 0 ? PK_REF : PK_ID) : PK_NONE;
    o->forbid = rnd(r, 7) == 0;
    bool csv = o->format == FOLIO_INDEX_FORMAT_CSV;
    if (csv && o->method == FOLIO_DOC_UPDATE)
        o->format = FOLIO_INDEX_FORMAT_NDJSON, csv = false;
    o->docs = json_array();
    int n = 1 + (int)rnd(r, rnd(r, 6) == 0 ? 12 : 4);
    for (int i = 0; i < n; i++)
        json_array_append_new(o->docs, gen_doc(r, k, o->method, csv));
    payload_build(o);
}

static void
gen_settings(struct run *r, struct op *o)
{
    o->kind = FOLIO_KIND_SETTINGS_UPDATE;
    o->idx = pick_index(r);
    o->forbid = rnd(r, 7) == 0;
    o->reset = rnd(r, 5) == 0;
    o->settings = json_object();
    if (!o->reset) {
        int what = (int)rnd(r, 3);
        if (what != 1) {
            static const char *const d[] = {"n", "ref", "op"};
            int c = (int)rnd(r, 4);
            json_object_set_new(o->settings, "distinctAttribute",
                                c == 3 ? json_null() : json_string(d[c]));
        }
        if (what != 0) {
            static const char *const w[] = {"a", "of", "the", "x"};
            if (rnd(r, 4) == 0) {
                json_object_set_new(o->settings, "stopWords", json_null());
            } else {
                json_t *a = json_array();
                for (int i = 0; i < 4; i++)
                    if (rnd(r, 2))
                        json_array_append_new(a, json_string(w[i]));
                json_object_set_new(o->settings, "stopWords", a);
            }
        }
    }
    char *t = json_dumps(o->settings, JSON_COMPACT);
    o->settings_text = folio_strdup(t);
    free(t);
}

static void
add_filter_uid(struct op *o, uint32_t uid)
{
    for (uint32_t i = 0; i < o->nfuids; i++)
        if (o->fuids[i] == uid)
            return;
    if (o->nfuids < FOLIO_ARRAY_LEN(o->fuids))
        o->fuids[o->nfuids++] = uid;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void
filter_query_string(struct op *o)
{
    size_t len = 0, cap = sizeof(o->query);
    o->query[0] = 0;
    const char *sep = "?";
    if (o->fuids_set) {
        qsort(o->fuids, o->nfuids, sizeof(uint32_t), cmp_u32);
        len += (size_t)snprintf(o->query + len, cap - len, "%suids=", sep);
        for (uint32_t i = 0; i < o->nfuids && len < cap - 16; i++)
            len += (size_t)snprintf(o->query + len, cap - len, "%s%u", i ? "," : "", o->fuids[i]);
        sep = "&";
    }
    if (o->fstatuses) {
        len += (size_t)snprintf(o->query + len, cap - len, "%sstatuses=", sep);
        bool first = true;
        for (int st = 0; st < FOLIO_STATUS_COUNT; st++)
            if (o->fstatuses & (1u << st)) {
                len += (size_t)snprintf(o->query + len, cap - len, "%s%s", first ? "" : ",",
                                        folio_task_status_name((enum folio_task_status)st));
                first = false;
            }
        sep = "&";
    }
    if (o->fkinds) {
        len += (size_t)snprintf(o->query + len, cap - len, "%stypes=", sep);
        bool first = true;
        for (int k = 0; k < FOLIO_KIND_COUNT; k++)
            if (o->fkinds & (1u << k)) {
                len += (size_t)snprintf(o->query + len, cap - len, "%s%s", first ? "" : ",",
                                        folio_task_kind_name((enum folio_task_kind)k));
                first = false;
            }
        sep = "&";
    }
    if (o->fidx >= 0)
        snprintf(o->query + len, cap - len, "%sindexUids=%s", sep, NAMES[o->fidx]);
}

/* Uids of registered index tasks among the last `back` ops (or of this chunk). */
static void
filter_recent(struct run *r, struct op *o, size_t back, int chunk_only, int want)
{
    size_t from = r->nops > back ? r->nops - back : 0;
    for (int tries = 0; tries < want * 3 && (int)o->nfuids < want; tries++) {
        size_t i = from + rnd(r, r->nops - from + 1);
        if (i >= r->nops)
            continue;
        const struct op *p = &r->ops[i];
        if (!p->registered || (chunk_only && p->chunk != r->chunk))
            continue;
        if (!folio_task_kind_one_index(p->kind) && p->kind != FOLIO_KIND_INDEX_SWAP)
            continue;
        add_filter_uid(o, p->uid);
    }
}

static void
gen_cancel(struct run *r, struct op *o, bool paused)
{
    o->kind = FOLIO_KIND_TASK_CANCELATION;
    o->fidx = -1;
    int style = (int)rnd(r, 4);
    if (paused && style == 0) {
        /* everything enqueued on one index */
        o->fstatuses = 1u << FOLIO_STATUS_ENQUEUED;
        o->fidx = pick_index(r);
    } else {
        o->fuids_set = true;
        filter_recent(r, o, paused ? 80 : 12, paused, 1 + (int)rnd(r, 6));
        if (rnd(r, 10) == 0)
            add_filter_uid(o, (uint32_t)rnd(r, r->nops + 5)); /* maybe a finished or unknown one */
        if (style == 1)
            o->fstatuses = (1u << FOLIO_STATUS_ENQUEUED) | (1u << FOLIO_STATUS_PROCESSING);
    }
    filter_query_string(o);
}

static void
gen_task_deletion(struct run *r, struct op *o, bool paused)
{
    o->kind = FOLIO_KIND_TASK_DELETION;
    o->fidx = -1;
    int style = (int)rnd(r, 5);
    if (style == 0) {
        o->fstatuses = 1u << (FOLIO_STATUS_SUCCEEDED + (int)rnd(r, 3));
        if (rnd(r, 2))
            o->fidx = pick_index(r);
    } else if (style == 1) {
        o->fkinds = 1u << rnd(r, 6);
        o->fstatuses = (1u << FOLIO_STATUS_SUCCEEDED) | (1u << FOLIO_STATUS_FAILED) |
                       (1u << FOLIO_STATUS_CANCELED);
    } else {
        o->fuids_set = true;
        int want = 1 + (int)rnd(r, 10);
        for (int i = 0; i < want; i++)
            add_filter_uid(o, (uint32_t)rnd(r, r->nops + 3));
        if (style == 2)
            o->fstatuses = (1u << FOLIO_STATUS_SUCCEEDED) | (1u << FOLIO_STATUS_FAILED);
    }
    (void)paused;
    filter_query_string(o);
}

static void
gen_op(struct run *r, struct op *o, int k, bool paused)
{
    memset(o, 0, sizeof(*o));
    o->new_idx = -1;
    o->fidx = -1;
    o->paused = paused;
    o->chunk = r->chunk;
    unsigned w = (unsigned)rnd(r, 100);
    if (w < 36) {
        gen_documents(r, o, k);
    } else if (w < 48) {
        o->kind = FOLIO_KIND_DOCUMENT_DELETION;
        o->idx = pick_index(r);
        o->nids = 1 + (int)rnd(r, 6);
        for (int i = 0; i < o->nids; i++) {
            int id = (int)rnd(r, ID_SPACE);
            if (rnd(r, 3) == 0)
                snprintf(o->ids[i], sizeof(o->ids[i]), "r%d", id);
            else
                snprintf(o->ids[i], sizeof(o->ids[i]), "%d", id);
        }
    } else if (w < 52) {
        o->kind = FOLIO_KIND_DOCUMENT_DELETION;
        o->idx = pick_index(r);
        o->clear = true;
    } else if (w < 60) {
        gen_settings(r, o);
    } else if (w < 68) {
        o->kind = FOLIO_KIND_INDEX_CREATION;
        o->idx = pick_index(r);
        o->pk = (int)rnd(r, 3);
    } else if (w < 73) {
        o->kind = FOLIO_KIND_INDEX_DELETION;
        o->idx = pick_index(r);
    } else if (w < 78) {
        o->kind = FOLIO_KIND_INDEX_UPDATE;
        o->idx = pick_index(r);
        if (rnd(r, 3) == 0) {
            do
                o->new_idx = (int)rnd(r, POOL);
            while (o->new_idx == o->idx);
        } else {
            o->pk = 1 + (int)rnd(r, 2);
        }
    } else if (w < 84) {
        o->kind = FOLIO_KIND_INDEX_SWAP;
        o->nswaps = rnd(r, 4) == 0 ? 2 : 1;
        int perm[POOL];
        for (int i = 0; i < POOL; i++)
            perm[i] = i;
        for (int i = POOL - 1; i > 0; i--) {
            int j = (int)rnd(r, (uint64_t)i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int i = 0; i < o->nswaps; i++) {
            o->swap_a[i] = perm[2 * i];
            o->swap_b[i] = perm[2 * i + 1];
            o->swap_rename[i] = rnd(r, 4) == 0;
        }
    } else if (w < 90 || (w < 94 && paused)) {
        gen_cancel(r, o, paused);
    } else if (w < 96) {
        gen_task_deletion(r, o, paused);
    } else {
        gen_documents(r, o, k);
    }
}

/* ---- registration ------------------------------------------------------- */

static void
by_uid_set(struct run *r, uint32_t uid, int opi)
{
    if (uid >= r->by_uid_cap) {
        size_t cap = r->by_uid_cap ? r->by_uid_cap : 1024;
        while (cap <= uid)
            cap *= 2;
        r->by_uid = folio_reallocarray(r->by_uid, cap, sizeof(int));
        for (size_t i = r->by_uid_cap; i < cap; i++)
            r->by_uid[i] = -1;
        r->by_uid_cap = cap;
    }
    r->by_uid[uid] = opi;
}

static int
op_of_uid(const struct run *r, uint64_t uid)
{
    return uid < r->by_uid_cap ? r->by_uid[uid] : -1;
}

/* Registration may refuse only what Meilisearch would refuse for a request this well-formed. */
static bool
refusal_allowed(const struct op *o, const struct folio_sched_error *e)
{
    if (strcmp(e->code, "index_not_found") != 0)
        return false;
    switch (o->kind) {
    case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE:
    case FOLIO_KIND_SETTINGS_UPDATE:
        return o->forbid;
    case FOLIO_KIND_DOCUMENT_DELETION:
    case FOLIO_KIND_INDEX_DELETION:
    case FOLIO_KIND_INDEX_UPDATE:
    case FOLIO_KIND_INDEX_SWAP:
        return true;
    default:
        return false;
    }
}

static bool
index_in_mapping(struct run *r, int idx)
{
    const struct folio_sched_state *st = folio_sched_read_lock(r->s);
    struct folio_index_view v;
    bool found = folio_sched_index_get(st, NAMES[idx], strlen(NAMES[idx]), &v) == 0;
    folio_sched_read_unlock(r->s);
    return found;
}

static void
register_op(struct run *r, size_t opi)
{
    struct op *o = &r->ops[opi];
    struct folio_sched_request req;
    memset(&req, 0, sizeof(req));
    req.kind = o->kind;
    if (folio_task_kind_one_index(o->kind))
        req.index_uid = folio_str_c(NAMES[o->idx]);
    struct folio_str ids[8];
    struct folio_task_swap swaps[2];
    struct folio_str fidx;
    struct folio_sched_query q;
    memset(&q, 0, sizeof(q));
    switch (o->kind) {
    case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE:
        req.method = o->method;
        req.payload = o->payload;
        req.payload_len = o->payload_len;
        req.format = o->format;
        if (o->pk != PK_NONE)
            req.primary_key = folio_str_c(PK_NAMES[o->pk]);
        req.forbid_index_creation = o->forbid;
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
        req.forbid_index_creation = o->forbid;
        break;
    case FOLIO_KIND_INDEX_CREATION:
    case FOLIO_KIND_INDEX_UPDATE:
        if (o->pk != PK_NONE)
            req.primary_key = folio_str_c(PK_NAMES[o->pk]);
        if (o->new_idx >= 0)
            req.new_index_uid = folio_str_c(NAMES[o->new_idx]);
        break;
    case FOLIO_KIND_INDEX_SWAP:
        for (int i = 0; i < o->nswaps; i++) {
            swaps[i].indexes[0] = folio_str_c(NAMES[o->swap_a[i]]);
            swaps[i].indexes[1] = folio_str_c(NAMES[o->swap_b[i]]);
            swaps[i].rename = o->swap_rename[i];
        }
        req.swaps = swaps;
        req.swap_count = (uint32_t)o->nswaps;
        break;
    case FOLIO_KIND_TASK_CANCELATION:
    case FOLIO_KIND_TASK_DELETION:
        q.uids = o->fuids;
        q.uid_count = o->nfuids;
        q.uids_set = o->fuids_set;
        q.statuses = o->fstatuses;
        q.kinds = o->fkinds;
        if (o->fidx >= 0) {
            fidx = folio_str_c(NAMES[o->fidx]);
            q.index_uids = &fidx;
            q.index_uid_count = 1;
            q.index_uids_set = true;
        }
        req.filter = &q;
        req.query = folio_str_c(o->query);
        break;
    default:
        break;
    }
    struct folio_sched_registered reg;
    struct folio_sched_error err;
    memset(&reg, 0, sizeof(reg));
    memset(&err, 0, sizeof(err));
    int rc = folio_sched_register(r->s, &req, &reg, &err);
    if (rc == 0) {
        o->registered = true;
        o->uid = reg.task_uid;
        CHK(reg.kind == o->kind, "op %zu: registered kind %d, asked %d", opi, reg.kind, o->kind);
        CHK(op_of_uid(r, reg.task_uid) < 0, "op %zu: uid %u handed out twice", opi, reg.task_uid);
        by_uid_set(r, reg.task_uid, (int)opi);
        return;
    }
    snprintf(o->reg_code, sizeof(o->reg_code), "%s", err.code);
    r->refused[o->kind]++;
    if (!strstr(r->refused_codes, err.code) && strlen(r->refused_codes) < 200) {
        strcat(r->refused_codes, " ");
        strcat(r->refused_codes, err.code);
    }
    if (!refusal_allowed(o, &err)) {
        chk_fail("op %zu (%s on %s): registration refused: %s (%s) %s: %s", opi,
                 folio_task_kind_name(o->kind), NAMES[o->idx], folio_err_name(rc), err.code,
                 err.type, err.message);
    } else if (o->paused && folio_task_kind_one_index(o->kind)) {
        /* while paused the mapping cannot change: the refusal must be about a missing index */
        CHK(!index_in_mapping(r, o->idx), "op %zu: %s refused with index_not_found but %s exists",
            opi, folio_task_kind_name(o->kind), NAMES[o->idx]);
    }
}

/* ---- the model of the indexes ------------------------------------------- */

struct mdoc {
    char key[16];
    uint64_t iid;
    json_t *obj;
};

struct midx {
    bool exists;
    int pk; /* PK_* */
    uint64_t next_iid;
    struct mdoc docs[2 * ID_SPACE];
    int n;
    json_t *distinct;   /* NULL: default (null) */
    json_t *stop_words; /* NULL: default ([]) */
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

static bool
doc_key(const json_t *d, int pk, char key[16])
{
    json_t *v = json_object_get(d, PK_NAMES[pk]);
    if (json_is_integer(v))
        snprintf(key, 16, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_string(v))
        snprintf(key, 16, "%s", json_string_value(v));
    else
        return false;
    return true;
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
    char key[16];
    FOLIO_ASSERT(doc_key(d, m->pk, key));
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
    FOLIO_ASSERT(m->n < (int)FOLIO_ARRAY_LEN(m->docs));
    struct mdoc *nd = &m->docs[m->n++];
    snprintf(nd->key, sizeof(nd->key), "%s", key);
    nd->iid = m->next_iid++;
    nd->obj = json_deep_copy(d);
}

static void
midx_delete_at(struct midx *m, int at)
{
    json_decref(m->docs[at].obj);
    memmove(&m->docs[at], &m->docs[at + 1], (size_t)(m->n - at - 1) * sizeof(m->docs[0]));
    m->n--;
}

/* What the model says a task must end with. */
struct expect {
    bool succeed;
    const char *code; /* failures */
    /* details to compare when >= 0 */
    int64_t indexed, received, deleted, provided;
    bool check_pk;
    int pk; /* indexCreation details primaryKey */
};

static void
expect_init(struct expect *e)
{
    memset(e, 0, sizeof(*e));
    e->succeed = true;
    e->indexed = e->received = e->deleted = e->provided = -1;
}

static void
fail_with(struct expect *e, const char *code)
{
    e->succeed = false;
    e->code = code;
}

static void
model_documents(struct model *M, const struct op *o, struct expect *e)
{
    struct midx *m = &M->ix[o->idx];
    size_t n = json_array_size(o->docs);
    e->received = (int64_t)n;
    if (!m->exists) {
        if (o->forbid) {
            fail_with(e, "index_not_found");
            return;
        }
        midx_create(m, PK_NONE);
    }
    if (m->pk != PK_NONE && o->pk != PK_NONE && o->pk != m->pk) {
        fail_with(e, "index_primary_key_already_exists");
        return;
    }
    if (m->pk == PK_NONE)
        m->pk = o->pk != PK_NONE ? o->pk : PK_ID; /* inference: "id" is the only *id field */
    for (size_t i = 0; i < n; i++)
        midx_put(m, json_array_get(o->docs, i), o->method);
    e->indexed = (int64_t)n;
}

static void
model_deletion(struct model *M, const struct op *o, struct expect *e)
{
    struct midx *m = &M->ix[o->idx];
    if (!o->clear)
        e->provided = o->nids;
    if (!m->exists) {
        fail_with(e, "index_not_found");
        return;
    }
    if (o->clear) {
        e->deleted = m->n;
        midx_clear_docs(m);
        return;
    }
    int64_t deleted = 0;
    for (int i = 0; i < o->nids && m->pk != PK_NONE; i++) {
        int at = midx_find(m, o->ids[i]);
        if (at >= 0) {
            midx_delete_at(m, at);
            deleted++;
        }
    }
    e->deleted = deleted;
}

static void
setting_set(json_t **slot, json_t *v)
{
    if (*slot)
        json_decref(*slot);
    *slot = json_is_null(v) ? NULL : json_deep_copy(v);
}

static void
model_settings(struct model *M, const struct op *o, struct expect *e)
{
    struct midx *m = &M->ix[o->idx];
    if (!m->exists) {
        if (o->forbid) {
            fail_with(e, "index_not_found");
            return;
        }
        midx_create(m, PK_NONE);
    }
    if (o->reset) {
        setting_set(&m->distinct, json_null());
        setting_set(&m->stop_words, json_null());
        return;
    }
    json_t *v;
    if ((v = json_object_get(o->settings, "distinctAttribute")) != NULL)
        setting_set(&m->distinct, v);
    if ((v = json_object_get(o->settings, "stopWords")) != NULL)
        setting_set(&m->stop_words, v);
}

static void
midx_move(struct midx *to, struct midx *from)
{
    *to = *from;
    memset(from, 0, sizeof(*from));
}

static void
model_swap(struct model *M, const struct op *o, struct expect *e)
{
    for (int i = 0; i < o->nswaps; i++) {
        bool ea = M->ix[o->swap_a[i]].exists, eb = M->ix[o->swap_b[i]].exists;
        if (!ea || (!o->swap_rename[i] && !eb)) {
            fail_with(e, "index_not_found");
            return;
        }
        if (o->swap_rename[i] && eb) {
            fail_with(e, "index_already_exists");
            return;
        }
    }
    for (int i = 0; i < o->nswaps; i++) {
        struct midx tmp;
        midx_move(&tmp, &M->ix[o->swap_a[i]]);
        midx_move(&M->ix[o->swap_a[i]], &M->ix[o->swap_b[i]]);
        midx_move(&M->ix[o->swap_b[i]], &tmp);
    }
}

/* Applies one not-canceled task of an index kind to the model. */
static void
model_apply(struct model *M, const struct op *o, struct expect *e)
{
    expect_init(e);
    struct midx *m = folio_task_kind_one_index(o->kind) ? &M->ix[o->idx] : NULL;
    switch (o->kind) {
    case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE:
        model_documents(M, o, e);
        break;
    case FOLIO_KIND_DOCUMENT_DELETION:
        model_deletion(M, o, e);
        break;
    case FOLIO_KIND_SETTINGS_UPDATE:
        model_settings(M, o, e);
        break;
    case FOLIO_KIND_INDEX_CREATION:
        if (m->exists) {
            fail_with(e, "index_already_exists");
            break;
        }
        midx_create(m, o->pk);
        e->check_pk = true;
        e->pk = o->pk;
        break;
    case FOLIO_KIND_INDEX_DELETION:
        if (!m->exists) {
            fail_with(e, "index_not_found");
            break;
        }
        e->deleted = m->n;
        midx_reset(m);
        break;
    case FOLIO_KIND_INDEX_UPDATE:
        if (!m->exists) {
            fail_with(e, "index_not_found");
        } else if (o->new_idx >= 0) {
            if (M->ix[o->new_idx].exists)
                fail_with(e, "index_already_exists");
            else
                midx_move(&M->ix[o->new_idx], m);
        } else if (o->pk != PK_NONE) {
            if (m->n > 0 && m->pk != o->pk)
                fail_with(e, "index_primary_key_already_exists");
            else
                m->pk = o->pk;
        }
        break;
    case FOLIO_KIND_INDEX_SWAP:
        model_swap(M, o, e);
        break;
    default:
        FOLIO_ASSERT(0);
    }
}

/* ---- reading the journal back --------------------------------------------- */

struct jtask {
    bool registered;
    uint64_t reg_seq;
    enum folio_task_kind kind;
    char index0[32];
    uint64_t *matched;
    uint32_t nmatched;
    int outcomes;
    enum folio_event_type out_type;
    uint64_t out_seq;
    uint64_t batch;
    json_t *details;
    char code[64];
    uint64_t canceled_by;
    int requeued;
    bool requeue_after_outcome;
    bool deleted;
    uint64_t deleted_seq;
    uint64_t deleted_by;
    /* a taskDeletion's tasks_deleted event */
    bool has_del_event;
    uint64_t del_event_seq;
    uint64_t *del_list;
    uint32_t ndel;
    uint32_t canceled_count; /* a cancelation: tasks it canceled */
};

struct journal_view {
    struct jtask *t;
    size_t nt;
    uint64_t last_seq;
    uint64_t events;
};

static void
jv_free(struct journal_view *v)
{
    for (size_t i = 0; i < v->nt; i++) {
        folio_free(v->t[i].matched);
        folio_free(v->t[i].del_list);
        if (v->t[i].details)
            json_decref(v->t[i].details);
    }
    folio_free(v->t);
    memset(v, 0, sizeof(*v));
}

static struct jtask *
jv_task(struct journal_view *v, uint64_t uid)
{
    FOLIO_ASSERT(uid < 10000000);
    if (uid >= v->nt) {
        size_t n = v->nt ? v->nt : 1024;
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
    if (o->len == 0)
        return NULL;
    json_t *j = NULL;
    if (folio_object_to_json(o->ptr, o->len, &j) != 0)
        return NULL;
    return j;
}

static void
jv_registered(struct journal_view *v, const struct folio_event *ev)
{
    const struct folio_ev_task_registered *tr = &ev->u.task_registered;
    struct jtask *t = jv_task(v, tr->task_uid);
    CHK(!t->registered, "journal: task %" PRIu64 " registered twice", tr->task_uid);
    t->registered = true;
    t->reg_seq = ev->seq;
    enum folio_task_kind kind = FOLIO_KIND_COUNT;
    CHK(folio_task_kind_parse(tr->kind.ptr, tr->kind.len, &kind) == 0, "journal: kind %s",
        tr->kind.ptr);
    t->kind = kind;
    if (tr->index_uids.count > 0)
        snprintf(t->index0, sizeof(t->index0), "%s", tr->index_uids.items[0].ptr);
    if (kind == FOLIO_KIND_TASK_CANCELATION || kind == FOLIO_KIND_TASK_DELETION) {
        struct folio_task_content c;
        memset(&c, 0, sizeof(c));
        int rc = folio_task_content_decode(kind, tr->content.ptr, tr->content.len, &c);
        CHK(rc == 0, "journal: task %" PRIu64 " content does not decode", tr->task_uid);
        if (rc == 0) {
            t->nmatched = c.matched_tasks.count;
            t->matched = folio_calloc(t->nmatched + 1, sizeof(uint64_t));
            if (t->nmatched > 0)
                memcpy(t->matched, c.matched_tasks.items, t->nmatched * sizeof(uint64_t));
            folio_task_content_clear(&c);
        }
    }
}

static void
jv_outcome(struct journal_view *v, const struct folio_event *ev)
{
    const struct folio_ev_task_outcome *to = &ev->u.task_outcome;
    struct jtask *t = jv_task(v, to->task_uid);
    t->outcomes++;
    t->out_type = ev->type;
    t->out_seq = ev->seq;
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
    if (ev->type == FOLIO_EV_TASK_CANCELED) {
        t->canceled_by = to->canceled_by;
        jv_task(v, to->canceled_by)->canceled_count++;
    }
}

static void
jv_event(struct journal_view *v, const struct folio_event *ev)
{
    switch (ev->type) {
    case FOLIO_EV_TASK_REGISTERED:
        jv_registered(v, ev);
        break;
    case FOLIO_EV_TASK_SUCCEEDED:
    case FOLIO_EV_TASK_FAILED:
    case FOLIO_EV_TASK_CANCELED:
        jv_outcome(v, ev);
        break;
    case FOLIO_EV_TASK_REQUEUED: {
        struct jtask *t = jv_task(v, ev->u.task_requeued.task_uid);
        t->requeued++;
        t->requeue_after_outcome = t->requeue_after_outcome || t->outcomes > 0;
        break;
    }
    case FOLIO_EV_TASKS_DELETED: {
        const struct folio_ev_tasks_deleted *td = &ev->u.tasks_deleted;
        struct jtask *d = jv_task(v, td->task_uid);
        CHK(!d->has_del_event, "journal: two tasks_deleted events for task %" PRIu64, td->task_uid);
        d->has_del_event = true;
        d->del_event_seq = ev->seq;
        d->ndel = td->task_uids.count;
        d->del_list = folio_calloc(d->ndel + 1, sizeof(uint64_t));
        if (d->ndel > 0)
            memcpy(d->del_list, td->task_uids.items, d->ndel * sizeof(uint64_t));
        for (uint32_t i = 0; i < td->task_uids.count; i++) {
            struct jtask *t = jv_task(v, td->task_uids.items[i]);
            CHK(!t->deleted, "journal: task %" PRIu64 " deleted twice", td->task_uids.items[i]);
            t->deleted = true;
            t->deleted_seq = ev->seq;
            t->deleted_by = td->task_uid;
        }
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
        v->events++;
        struct folio_event ev;
        int err = folio_event_decode(rec.data, rec.len, &ev);
        CHK(err == 0, "journal: event %" PRIu64 " does not decode: %s", rec.seq,
            folio_err_name(err));
        if (err != 0)
            continue;
        jv_event(v, &ev);
        folio_event_clear(&ev);
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

/* ---- checks -------------------------------------------------------------- */

static int64_t
detail_u64(const json_t *details, const char *key)
{
    json_t *v = json_object_get(details, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static void
check_detail(uint32_t uid, const char *kind, const json_t *details, const char *key, int64_t want)
{
    if (want < 0)
        return;
    int64_t got = detail_u64(details, key);
    CHK(got == want, "task %u (%s): details.%s = %" PRId64 ", model says %" PRId64, uid, kind, key,
        got, want);
}

/* Compares a task's journal outcome with the model's expectation. */
static void
check_outcome(const struct journal_view *v, uint32_t uid, const struct op *o,
              const struct expect *e)
{
    const struct jtask *t = &v->t[uid];
    const char *kind = folio_task_kind_name(o->kind);
    const char *want = e->succeed ? "succeeded" : "failed";
    const char *got = t->out_type == FOLIO_EV_TASK_SUCCEEDED ? "succeeded"
                      : t->out_type == FOLIO_EV_TASK_FAILED  ? "failed"
                                                             : "other";
    if (strcmp(want, got) != 0) {
        chk_fail("task %u (%s on %s, op chunk %d%s): %s (%s), model says %s%s%s", uid, kind,
                 folio_task_kind_one_index(o->kind) ? NAMES[o->idx] : "-", o->chunk,
                 o->paused ? " paused" : "", got, t->code, want, e->code ? " with " : "",
                 e->code ? e->code : "");
        return;
    }
    if (!e->succeed) {
        CHK(strcmp(t->code, e->code) == 0, "task %u (%s on %s): failed with %s, model says %s", uid,
            kind, NAMES[o->idx], t->code, e->code);
        return;
    }
    /*
     * Exact even in a batch that ends with an indexDeletion: folio applies a
     * batch's tasks one by one in uid order (scheduler/run_batch.c), so
     * batching never changes what a task reports.
     */
    check_detail(uid, kind, t->details, "receivedDocuments", e->received);
    check_detail(uid, kind, t->details, "indexedDocuments", e->indexed);
    check_detail(uid, kind, t->details, "providedIds", e->provided);
    check_detail(uid, kind, t->details, "deletedDocuments", e->deleted);
    if (e->check_pk) {
        json_t *pk = json_object_get(t->details, "primaryKey");
        const char *s = json_string_value(pk);
        bool ok = e->pk == PK_NONE ? (pk == NULL || json_is_null(pk))
                                   : (s && strcmp(s, PK_NAMES[e->pk]) == 0);
        CHK(ok, "task %u (indexCreation): details.primaryKey %s, model says %s", uid,
            s ? s : "null", e->pk ? PK_NAMES[e->pk] : "null");
    }
}

static bool
u64_in(const uint64_t *a, uint32_t n, uint64_t x)
{
    for (uint32_t i = 0; i < n; i++)
        if (a[i] == x)
            return true;
    return false;
}

static void
check_cancelation(const struct run *r, const struct journal_view *v, uint32_t uid)
{
    const struct jtask *c = &v->t[uid];
    if (c->out_type == FOLIO_EV_TASK_CANCELED)
        return; /* canceled by a newer cancelation before it ran */
    CHK(c->out_type == FOLIO_EV_TASK_SUCCEEDED, "cancelation %u did not succeed (%s)", uid,
        c->code);
    check_detail(uid, "taskCancelation", c->details, "matchedTasks", c->nmatched);
    check_detail(uid, "taskCancelation", c->details, "canceledTasks", c->canceled_count);
    const struct op *o = &r->ops[op_of_uid(r, uid)];
    for (uint32_t i = 0; i < c->nmatched; i++) {
        uint64_t m = c->matched[i];
        CHK(m < uid, "cancelation %u matched a newer task %" PRIu64, uid, m);
        if (!o->paused || m >= v->nt || !v->t[m].registered)
            continue;
        int mi = op_of_uid(r, m);
        /* registered earlier in the same paused chunk: still enqueued when this one ran */
        if (mi >= 0 && r->ops[mi].chunk == o->chunk && r->ops[mi].paused && ++g_cov.paused_cancels)
            CHK(v->t[m].out_type == FOLIO_EV_TASK_CANCELED,
                "paused chunk %d: task %" PRIu64 " (%s) matched by successful cancelation %u "
                "was enqueued but ended %s",
                o->chunk, m, folio_task_kind_name(r->ops[mi].kind), uid,
                folio_event_type_name(v->t[m].out_type));
    }
    if (o->fuids_set)
        for (uint32_t i = 0; i < c->nmatched; i++) {
            bool asked = false;
            for (uint32_t j = 0; j < o->nfuids; j++)
                asked = asked || o->fuids[j] == c->matched[i];
            CHK(asked, "cancelation %u matched %" PRIu64 " which its uids filter does not name",
                uid, c->matched[i]);
        }
}

static void
check_task_deletion(const struct journal_view *v, uint32_t uid)
{
    const struct jtask *d = &v->t[uid];
    if (d->out_type == FOLIO_EV_TASK_CANCELED)
        return;
    CHK(d->out_type == FOLIO_EV_TASK_SUCCEEDED, "taskDeletion %u did not succeed (%s)", uid,
        d->code);
    CHK(d->has_del_event || d->ndel == 0, "taskDeletion %u: no tasks_deleted event", uid);
    check_detail(uid, "taskDeletion", d->details, "matchedTasks", d->nmatched);
    check_detail(uid, "taskDeletion", d->details, "deletedTasks", d->ndel);
    for (uint32_t i = 0; i < d->ndel; i++) {
        uint64_t x = d->del_list[i];
        CHK(u64_in(d->matched, d->nmatched, x), "taskDeletion %u deleted unmatched task %" PRIu64,
            uid, x);
        CHK(x < v->nt && v->t[x].outcomes > 0 && v->t[x].out_seq < d->del_event_seq,
            "taskDeletion %u deleted task %" PRIu64 " that was not finished", uid, x);
    }
    if (!d->has_del_event)
        return;
    for (uint32_t i = 0; i < d->nmatched; i++) {
        uint64_t m = d->matched[i];
        if (m >= v->nt || !v->t[m].registered)
            continue;
        const struct jtask *t = &v->t[m];
        bool finished_then = t->outcomes > 0 && t->out_seq < d->del_event_seq;
        bool deleted_before = t->deleted && t->deleted_seq < d->del_event_seq;
        if (!finished_then)
            g_cov.kept_unfinished++;
        if (finished_then && !deleted_before && ++g_cov.deleted)
            CHK(t->deleted && t->deleted_by == uid,
                "taskDeletion %u: matched task %" PRIu64 " was finished but not deleted", uid, m);
    }
}

/* FOLIO_SCHED_RANDOM_TRACE=1: one line per task the model applies, with its batch. */
static void
trace_task(uint32_t uid, const struct op *o, const struct expect *e, const struct jtask *t,
           const struct model *M)
{
    fprintf(stderr, "trace: task %u %s %s", uid, folio_task_kind_name(o->kind),
            folio_task_kind_one_index(o->kind) ? NAMES[o->idx] : "");
    for (int q = 0; o->kind == FOLIO_KIND_INDEX_SWAP && q < o->nswaps; q++)
        fprintf(stderr, " (%s,%s%s)", NAMES[o->swap_a[q]], NAMES[o->swap_b[q]],
                o->swap_rename[q] ? ",rename" : "");
    if (o->new_idx >= 0)
        fprintf(stderr, " -> %s", NAMES[o->new_idx]);
    fprintf(stderr, ": model %s%s%s, batch %" PRIu64 " |", e->succeed ? "succeeds" : "fails ",
            e->code ? e->code : "", "", t->batch);
    for (int q = 0; q < POOL; q++)
        fprintf(stderr, " %s:%d", NAMES[q], M->ix[q].exists ? M->ix[q].n : -1);
    fprintf(stderr, "\n");
}

/* Every task in the journal against the model and the live state. */
static void
check_tasks(struct run *r, const struct journal_view *v, struct model *M)
{
    const struct folio_sched_state *st = folio_sched_read_lock(r->s);
    uint64_t next = folio_sched_state_next_task_uid(st);
    uint32_t requeued = 0;
    for (uint32_t uid = 0; uid < next; uid++) {
        int opi = op_of_uid(r, uid);
        const struct jtask *t = uid < v->nt ? &v->t[uid] : NULL;
        struct folio_task_view tv;
        int got = folio_sched_task_get(st, uid, &tv);
        if (opi < 0) {
            CHK(t == NULL || !t->registered, "task %u in the journal was never registered by us",
                uid);
            CHK(got == FOLIO_E_NOT_FOUND, "task %u in the state was never registered by us", uid);
            continue;
        }
        const struct op *o = &r->ops[opi];
        if (t == NULL || !t->registered) {
            chk_fail("task %u (acknowledged) has no task_registered event", uid);
            continue;
        }
        CHK(t->kind == o->kind, "task %u: journal kind %s, registered as %s", uid,
            folio_task_kind_name(t->kind), folio_task_kind_name(o->kind));
        if (folio_task_kind_one_index(o->kind) && o->kind != FOLIO_KIND_INDEX_SWAP)
            (void)0; /* index uids may have been rewritten by a later swap: not compared */
        CHK(t->outcomes == 1, "task %u (%s): %d outcome events", uid, folio_task_kind_name(o->kind),
            t->outcomes);
        /* a cancelation stops a running batch: its unapplied tasks are requeued, never others */
        CHK(!t->requeue_after_outcome, "task %u: requeued after its outcome", uid);
        requeued += t->requeued > 0;
        if (t->deleted) {
            CHK(got == FOLIO_E_NOT_FOUND, "task %u was deleted but is still in the state", uid);
        } else {
            CHK(got == 0, "task %u is missing from the state (%s)", uid, folio_err_name(got));
            if (got == 0) {
                enum folio_task_status want =
                    t->out_type == FOLIO_EV_TASK_SUCCEEDED ? FOLIO_STATUS_SUCCEEDED
                    : t->out_type == FOLIO_EV_TASK_FAILED  ? FOLIO_STATUS_FAILED
                                                           : FOLIO_STATUS_CANCELED;
                CHK(tv.status == want, "task %u: state says %s, journal outcome %s", uid,
                    folio_task_status_name(tv.status), folio_task_status_name(want));
                if (want == FOLIO_STATUS_CANCELED)
                    CHK(tv.canceled_by == t->canceled_by, "task %u: canceledBy %u vs %" PRIu64, uid,
                        tv.canceled_by, t->canceled_by);
            }
        }
    }
    folio_sched_read_unlock(r->s);

    /* Index tasks in uid order, through the model; then the global kinds. */
    uint32_t counts[4] = {0};
    for (uint32_t uid = 0; uid < next; uid++) {
        int opi = op_of_uid(r, uid);
        if (opi < 0 || uid >= v->nt || !v->t[uid].registered)
            continue;
        const struct op *o = &r->ops[opi];
        const struct jtask *t = &v->t[uid];
        if (o->kind == FOLIO_KIND_TASK_CANCELATION) {
            check_cancelation(r, v, uid);
            continue;
        }
        if (o->kind == FOLIO_KIND_TASK_DELETION) {
            check_task_deletion(v, uid);
            continue;
        }
        if (t->out_type == FOLIO_EV_TASK_CANCELED) {
            uint64_t c = t->canceled_by;
            CHK(c > uid && c < v->nt && v->t[c].kind == FOLIO_KIND_TASK_CANCELATION &&
                    u64_in(v->t[c].matched, v->t[c].nmatched, uid),
                "task %u canceled by %" PRIu64 " which is not a newer cancelation matching it", uid,
                c);
            g_cov.canceled++;
            counts[3]++;
            continue;
        }
        struct expect e;
        model_apply(M, o, &e);
        if (g_trace)
            trace_task(uid, o, &e, t, M);
        counts[e.succeed ? 0 : 1]++;
        check_outcome(v, uid, o, &e);
    }
    fprintf(stderr, "model: %u succeeded, %u failed, %u canceled index tasks; %u requeued\n",
            counts[0], counts[1], counts[3], requeued);
}

static void
check_index(struct run *r, int i, const struct midx *m)
{
    struct folio_index *idx = NULL;
    int rc = folio_sched_index_acquire(r->s, NAMES[i], strlen(NAMES[i]), &idx);
    if (!m->exists) {
        CHK(rc == FOLIO_E_NOT_FOUND, "index %s: acquire %s, model says it does not exist", NAMES[i],
            folio_err_name(rc));
        if (rc == 0)
            folio_sched_index_release(r->s, idx);
        return;
    }
    CHK(rc == 0, "index %s: acquire %s, model says it exists", NAMES[i], folio_err_name(rc));
    if (rc != 0)
        return;
    struct folio_index_error ie;
    char *text = NULL;
    uint64_t total = 0;
    rc = folio_index_documents_get(idx, 0, 100000, NULL, 0, &text, NULL, &total, &ie);
    CHK(rc == 0, "index %s: documents_get %s: %s", NAMES[i], folio_err_name(rc), ie.message);
    json_t *arr = rc == 0 ? json_loads(text, 0, NULL) : NULL;
    folio_free(text);
    /* model documents in internal id order */
    int order[2 * ID_SPACE];
    for (int k = 0; k < m->n; k++)
        order[k] = k;
    for (int a = 1; a < m->n; a++)
        for (int b = a; b > 0 && m->docs[order[b - 1]].iid > m->docs[order[b]].iid; b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    CHK(arr && json_array_size(arr) == (size_t)m->n && total == (uint64_t)m->n,
        "index %s: %zu documents (total %" PRIu64 "), model has %d", NAMES[i],
        arr ? json_array_size(arr) : 0, total, m->n);
    for (int k = 0; arr && k < m->n && k < (int)json_array_size(arr); k++) {
        json_t *got = json_array_get(arr, (size_t)k);
        if (!json_equal(got, m->docs[order[k]].obj)) {
            char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
            char *w = json_dumps(m->docs[order[k]].obj, JSON_COMPACT | JSON_SORT_KEYS);
            chk_fail("index %s: document %d (internal id order) is %.300s, model says %.300s",
                     NAMES[i], k, g, w);
            free(g);
            free(w);
            break;
        }
    }
    if (arr)
        json_decref(arr);
    struct folio_index_stats *stats = NULL;
    rc = folio_index_stats_get(idx, &stats, &ie);
    CHK(rc == 0, "index %s: stats %s", NAMES[i], folio_err_name(rc));
    if (rc == 0) {
        const char *want_pk = m->pk ? PK_NAMES[m->pk] : NULL;
        CHK(want_pk ? stats->has_primary_key && strcmp(stats->primary_key, want_pk) == 0
                    : !stats->has_primary_key,
            "index %s: primary key %s, model says %s", NAMES[i],
            stats->has_primary_key ? stats->primary_key : "none", want_pk ? want_pk : "none");
        CHK(stats->next_internal_id == m->next_iid,
            "index %s: next internal id %" PRIu64 ", model says %" PRIu64
            " (a document task applied twice or not at all?)",
            NAMES[i], stats->next_internal_id, m->next_iid);
        json_t *set = json_loadb(stats->settings_json, stats->settings_len, 0, NULL);
        json_t *want_d = m->distinct ? m->distinct : json_null();
        json_t *want_s = m->stop_words ? json_incref(m->stop_words) : json_array();
        CHK(set && json_equal(json_object_get(set, "distinctAttribute"), want_d),
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
    folio_sched_index_release(r->s, idx);
}

static void
check_mapping(struct run *r, const struct model *M)
{
    const struct folio_sched_state *st = folio_sched_read_lock(r->s);
    struct folio_index_view *list = NULL;
    size_t n = 0;
    assert_int_equal(folio_sched_index_list(st, &list, &n), 0);
    size_t want = 0;
    for (int i = 0; i < POOL; i++)
        want += M->ix[i].exists;
    CHK(n == want, "mapping holds %zu indexes, model %zu", n, want);
    for (size_t k = 0; k < n; k++) {
        int i = -1;
        for (int j = 0; j < POOL; j++)
            if (strcmp(NAMES[j], list[k].uid.ptr) == 0)
                i = j;
        CHK(i >= 0 && M->ix[i].exists, "mapping has %s, the model does not", list[k].uid.ptr);
        if (i < 0 || !M->ix[i].exists)
            continue;
        const char *want_pk = M->ix[i].pk ? PK_NAMES[M->ix[i].pk] : "";
        CHK(list[k].primary_key.len == strlen(want_pk) &&
                (want_pk[0] == '\0' ||
                 memcmp(list[k].primary_key.ptr, want_pk, strlen(want_pk)) == 0),
            "mapping: %s has primary key '%.*s', model '%s'", NAMES[i],
            (int)list[k].primary_key.len, list[k].primary_key.ptr ? list[k].primary_key.ptr : "",
            want_pk);
    }
    folio_free(list);
    folio_sched_read_unlock(r->s);
}

/* Live state == full replay == checkpoint + tail. */
static void
check_replays(struct run *r)
{
    char *cdir = tu_path(r->db, "checkpoints");
    const char *jdir = folio_sched_journal_dir(r->s);
    for (int attempt = 0;; attempt++) {
        struct folio_sched_state *full = NULL, *ckpt = NULL;
        struct folio_sched_replay_info fi, ci;
        struct folio_sched_diag d;
        int rc = folio_sched_state_replay(jdir, NULL, &full, &fi, &d);
        struct folio_sched_diag d1 = d;
        int rc2 = folio_sched_state_replay(jdir, cdir, &ckpt, &ci, &d);
        if ((rc == FOLIO_E_TORN_TAIL || rc2 == FOLIO_E_TORN_TAIL) && attempt < 20) {
            /* a frame being appended, seen by a reader that does not follow */
            folio_sched_state_free(full);
            folio_sched_state_free(ckpt);
            usleep(50000);
            continue;
        }
        CHK(rc == 0, "full replay: %s at seq %" PRIu64 ": %s", folio_err_name(rc), d1.seq,
            d1.reason);
        CHK(rc2 == 0, "checkpoint replay: %s at seq %" PRIu64 " %s: %s", folio_err_name(rc2), d.seq,
            d.file, d.reason);
        const struct folio_sched_state *live = folio_sched_read_lock(r->s);
        bool same_seq = rc == 0 && rc2 == 0 &&
                        folio_sched_state_last_seq(live) == folio_sched_state_last_seq(full) &&
                        folio_sched_state_last_seq(ckpt) == folio_sched_state_last_seq(full);
        if (!same_seq && attempt < 20 && rc == 0 && rc2 == 0) {
            /* something was appended between the replays and the lock: try again */
            folio_sched_read_unlock(r->s);
            folio_sched_state_free(full);
            folio_sched_state_free(ckpt);
            usleep(50000);
            continue;
        }
        if (rc == 0 && rc2 == 0) {
            char diff[512];
            CHK(same_seq, "last seqs: live %" PRIu64 ", full %" PRIu64 ", checkpoint %" PRIu64,
                folio_sched_state_last_seq(live), folio_sched_state_last_seq(full),
                folio_sched_state_last_seq(ckpt));
            CHK(folio_sched_state_equal(live, full, diff, sizeof(diff)),
                "live state != full replay: %s", diff);
            CHK(folio_sched_state_equal(full, ckpt, diff, sizeof(diff)),
                "full replay != checkpoint + tail: %s", diff);
            CHK(folio_sched_state_hash(live) == folio_sched_state_hash(full) &&
                    folio_sched_state_hash(full) == folio_sched_state_hash(ckpt),
                "state hashes differ");
            CHK(ci.checkpoint_seq > 0 && ci.checkpoint_seq < ci.last_seq,
                "checkpoint replay used checkpoint seq %" PRIu64 " (file '%s') of %" PRIu64
                ": not checkpoint + tail",
                ci.checkpoint_seq, ci.checkpoint_file, ci.last_seq);
            fprintf(stderr,
                    "replay: %" PRIu64 " events; checkpoint %s at seq %" PRIu64 " + %" PRIu64
                    " events\n",
                    fi.events_applied, ci.checkpoint_file, ci.checkpoint_seq, ci.events_applied);
        }
        folio_sched_read_unlock(r->s);
        folio_sched_state_free(full);
        folio_sched_state_free(ckpt);
        break;
    }
    folio_free(cdir);
}

/* ---- the run ----------------------------------------------------------- */

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

static void
sched_open(struct run *r, bool paused)
{
    struct folio_sched_opts opts;
    folio_sched_opts_default(&opts);
    opts.db_path = r->db;
    opts.inline_payload_max = 1024;
    opts.checkpoint_every_events = r->ckpt_every;
    opts.checkpoint_every_ms = UINT32_MAX;
    opts.batch_tasks_max = r->batch_max;
    opts.paused = paused;
    struct folio_journal_opts jo;
    folio_journal_opts_default(&jo);
    jo.segment_bytes = 1u << 20;
    opts.journal = &jo;
    struct folio_index_options io;
    folio_index_options_default(&io);
    io.map_bytes_initial = 256u << 10;
    opts.index = &io;
    struct folio_sched_open_info info;
    struct folio_sched_diag d;
    memset(&d, 0, sizeof(d));
    int rc = folio_sched_open(&opts, &r->s, &info, &d);
    if (rc != 0)
        fail_msg("folio_sched_open: %s (seq %" PRIu64 " %s: %s)", folio_err_name(rc), d.seq, d.file,
                 d.reason);
    fprintf(stderr, "opened %s (batch_tasks_max %u)\n", r->db, opts.batch_tasks_max);
}

static void
wait_idle(struct run *r)
{
    int rc = folio_sched_wait_idle(r->s, WAIT_MS);
    if (rc != 0)
        fail_msg("wait_idle: %s (seed %" PRIu64 ")", folio_err_name(rc), g_seed);
}

static struct op *
new_op(struct run *r)
{
    if (r->nops == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->ops = folio_reallocarray(r->ops, r->cap, sizeof(*r->ops));
    }
    return &r->ops[r->nops];
}

/* Closes and reopens: the state is rebuilt from the checkpoint + tail and the indexes are kept. */
/* Closes and reopens: the state is rebuilt from the checkpoint + tail and the indexes are kept. */
static void
check_reopen(struct run *r, const struct model *M)
{
    const struct folio_sched_state *st = folio_sched_read_lock(r->s);
    uint64_t tasks = folio_sched_state_task_count(st);
    uint64_t batches = folio_sched_state_batch_count(st);
    folio_sched_read_unlock(r->s);
    folio_sched_close(r->s);
    r->s = NULL;
    sched_open(r, true);
    st = folio_sched_read_lock(r->s);
    CHK(folio_sched_state_task_count(st) == tasks && folio_sched_state_batch_count(st) == batches,
        "reopen: %" PRIu64 " tasks and %" PRIu64 " batches, had %" PRIu64 " and %" PRIu64,
        folio_sched_state_task_count(st), folio_sched_state_batch_count(st), tasks, batches);
    folio_sched_read_unlock(r->s);
    check_replays(r);
    for (int i = 0; i < POOL; i++)
        check_index(r, i, &M->ix[i]);
    check_mapping(r, M);
}

static void
run_one(uint64_t seed, size_t target, int number)
{
    struct run *r = folio_calloc(1, sizeof(*r));
    r->rng = seed;
    r->base = jt_mkdtemp("schedrand");
    r->db = tu_path(r->base, "db");
    r->ckpt_every = number == 0 ? UINT64_MAX : 1000 + 500 * (uint64_t)number;
    r->batch_max = 1 + (uint32_t)rnd(r, 12);
    sched_open(r, false);
    double t0 = jt_now();
    bool checkpointed = false;
    uint32_t chunks_paused = 0, chunks_live = 0;
    while (r->nops < target) {
        r->chunk++;
        bool paused = rnd(r, 3) == 0;
        if (paused) {
            wait_idle(r);
            folio_sched_pause(r->s);
            chunks_paused++;
        } else {
            chunks_live++;
        }
        size_t len = 5 + rnd(r, 60);
        for (size_t i = 0; i < len && r->nops < target; i++) {
            struct op *o = new_op(r);
            gen_op(r, o, (int)r->nops, paused);
            r->nops++;
            register_op(r, r->nops - 1);
            if (!paused && rnd(r, 25) == 0)
                usleep((useconds_t)rnd(r, 3000));
        }
        if (paused)
            folio_sched_resume(r->s);
        if (!checkpointed && r->nops >= target / 2) {
            struct folio_sched_diag d;
            int rc = folio_sched_checkpoint_now(r->s, &d);
            CHK(rc == 0, "checkpoint_now: %s: %s", folio_err_name(rc), d.reason);
            checkpointed = true;
        }
        if (rnd(r, 4) == 0)
            wait_idle(r);
    }
    wait_idle(r);
    folio_sched_pause(r->s);
    fprintf(stderr, "run %d: %zu ops in %d chunks (%u paused, %u live) in %.1fs\n", number, r->nops,
            r->chunk, chunks_paused, chunks_live, jt_now() - t0);
    uint32_t refused = 0;
    for (int k = 0; k < FOLIO_KIND_COUNT; k++)
        if (r->refused[k]) {
            fprintf(stderr, "registration refused %u %s (codes:%s)\n", r->refused[k],
                    folio_task_kind_name((enum folio_task_kind)k), r->refused_codes);
            refused += r->refused[k];
        }

    struct journal_view v;
    jv_read(folio_sched_journal_dir(r->s), &v);
    struct model M;
    memset(&M, 0, sizeof(M));
    check_tasks(r, &v, &M);
    for (int i = 0; i < POOL; i++)
        check_index(r, i, &M.ix[i]);
    check_mapping(r, &M);
    check_replays(r);
    fprintf(stderr, "journal: %" PRIu64 " events; %u registrations refused\n", v.events, refused);
    check_reopen(r, &M);

    jv_free(&v);
    for (int i = 0; i < POOL; i++)
        midx_reset(&M.ix[i]);
    folio_sched_close(r->s);
    for (size_t i = 0; i < r->nops; i++)
        op_free(&r->ops[i]);
    folio_free(r->ops);
    folio_free(r->by_uid);
    if (g_fail_count == 0)
        tu_rmrf(r->base);
    else
        fprintf(stderr, "kept %s\n", r->base);
    folio_free(r->base);
    folio_free(r->db);
    folio_free(r);
}

static void
test_random_workload(void **state)
{
    (void)state;
    const char *env_seed = getenv("FOLIO_TEST_SEED");
    g_seed = env_seed ? tu_seed() : DEFAULT_SEED;
    if (!env_seed)
        fprintf(stderr, "seed: FOLIO_TEST_SEED=%" PRIu64 " (default)\n", g_seed);
    const char *env_n = getenv("FOLIO_SCHED_RANDOM_TASKS");
    size_t target = env_n ? strtoull(env_n, NULL, 10) : DEFAULT_TASKS;
    const char *env_runs = getenv("FOLIO_SCHED_RANDOM_RUNS");
    int runs = env_runs ? atoi(env_runs) : DEFAULT_RUNS;
    g_fail_count = 0;
    g_trace = getenv("FOLIO_SCHED_RANDOM_TRACE") != NULL;
    memset(&g_cov, 0, sizeof(g_cov));
    for (int i = 0; i < runs && g_fail_count == 0; i++)
        run_one(g_seed + (uint64_t)i, target, i);
    fprintf(stderr,
            "checked: %u tasks canceled (%u in paused chunks, must be), %u deleted by a "
            "taskDeletion, %u matched but still unfinished when it ran\n",
            g_cov.canceled, g_cov.paused_cancels, g_cov.deleted, g_cov.kept_unfinished);
    CHK(g_cov.paused_cancels > 0 && g_cov.deleted > 0 && g_cov.canceled > 0,
        "the workload did not exercise cancelations and deletions");
    if (g_fail_count > 0)
        fail_msg("%lu check(s) failed; replay with FOLIO_TEST_SEED=%" PRIu64, g_fail_count, g_seed);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_workload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
