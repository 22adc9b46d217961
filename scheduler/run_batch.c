/*
 * Which batch runs next: Meilisearch's create_next_batch priority and its
 * autobatcher, as reference §4.2–§4.4 describe them, on the state's sets.
 *
 *  1. the enqueued taskCancelation with the largest uid, alone;
 *  2. every enqueued taskDeletion, together;
 *  3. every enqueued snapshotCreation, together; then the oldest
 *     singleIndexSnapshotImport, alone;
 *  4. index tasks: the oldest enqueued task picks the index (an indexSwap,
 *     which has no single index, runs alone); then that index's enqueued tasks
 *     in uid order, as long as they can join (see autobatch()).
 *
 * singleIndexSnapshotCreation tasks run on the snapshot lane
 * (run_batch_next_snapshot, run_snapshot.c), with priority over the tasks of
 * their index: while one is enqueued or running, the main lane takes no task
 * that touches its index (they stay enqueued), and no task that would
 * overtake such a task on another index. Tasks of other indexes go on.
 *
 * A batch's tasks are applied one by one, in uid order, each in its own index
 * transaction, so batching changes what shares a batch uid, never the result.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "run_int.h"

bool
run_task_touches(const struct folio_task_view *t, struct folio_str index_uid)
{
    for (uint32_t i = 0; i < t->index_count; i++)
        if (t->index_uids[i].len == index_uid.len &&
            memcmp(t->index_uids[i].ptr, index_uid.ptr, index_uid.len) == 0)
            return true;
    return false;
}

bool
run_index_creator_pending(const struct folio_sched_state *st, struct folio_str index_uid,
                          uint32_t before)
{
    struct folio_sched_query q = {0};
    q.statuses = (1u << FOLIO_STATUS_ENQUEUED) | (1u << FOLIO_STATUS_PROCESSING);
    q.kinds = (1u << FOLIO_KIND_INDEX_CREATION) | (1u << FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE) |
              (1u << FOLIO_KIND_SETTINGS_UPDATE) | (1u << FOLIO_KIND_INDEX_UPDATE) |
              (1u << FOLIO_KIND_INDEX_SWAP) | (1u << FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT);
    /* Not an indexUids filter: a swap's public indexUid is null, yet it may create the uid. */
    uint32_t *uids = NULL;
    size_t n = 0;
    if (folio_sched_match_tasks(st, &q, &uids, &n) != 0)
        return true;
    bool any = false;
    for (size_t i = 0; i < n && !any; i++) {
        struct folio_task_view tv;
        any = uids[i] < before && folio_sched_task_get(st, uids[i], &tv) == 0 &&
              run_task_touches(&tv, index_uid);
    }
    folio_free(uids);
    return any;
}

/*
 * A singleIndexSnapshotCreation of an index that does not exist yet, while a
 * task registered before it would create it: the creation waits for that
 * task (its priority would otherwise run it first, only to fail with
 * index_not_found) and holds nothing meanwhile.
 */
static bool
creation_waits_for_index(const struct folio_sched_state *st, const struct folio_task_view *t)
{
    struct folio_index_view v;
    if (t->index_count == 0 ||
        folio_sched_index_get(st, t->index_uids[0].ptr, t->index_uids[0].len, &v) == 0)
        return false;
    return run_index_creator_pending(st, t->index_uids[0], t->uid);
}

void
run_batch_clear(struct run_batch *b)
{
    folio_free(b->tasks);
    memset(b, 0, sizeof(*b));
}

static int
match(const struct folio_sched_state *st, uint32_t kinds, const struct folio_str *index_uid,
      uint32_t **out, size_t *count)
{
    struct folio_sched_query q = {0};
    q.statuses = 1u << FOLIO_STATUS_ENQUEUED;
    q.kinds = kinds;
    if (index_uid != NULL) {
        q.index_uids = index_uid;
        q.index_uid_count = 1;
        q.index_uids_set = true;
    }
    return folio_sched_match_tasks(st, &q, out, count);
}

static void
alone(struct run_batch *b, uint32_t uid, enum folio_task_kind kind)
{
    b->tasks = folio_malloc(sizeof(uint32_t));
    b->tasks[0] = uid;
    b->count = 1;
    b->kind = kind;
    snprintf(b->reason, sizeof(b->reason),
             "created batch containing only task with id %u of type `%s` that cannot be "
             "batched with any other task.",
             uid, folio_task_kind_name(kind));
}

#define K(x) (1u << FOLIO_KIND_##x)

enum group { G_DOCS, G_SETTINGS, G_DELETE_INDEX, G_ALONE };

static enum group
group_of(enum folio_task_kind k)
{
    switch (k) {
    case FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE:
    case FOLIO_KIND_DOCUMENT_DELETION: return G_DOCS;
    case FOLIO_KIND_SETTINGS_UPDATE: return G_SETTINGS;
    case FOLIO_KIND_INDEX_DELETION: return G_DELETE_INDEX;
    default: return G_ALONE;
    }
}

/* What autobatching needs to know of a task. */
struct cand {
    uint32_t uid;
    enum folio_task_kind kind;
    bool allow_creation;
    char pk[FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX + 1];
};

static int
cand_load(const struct folio_sched_state *st, uint32_t uid, struct cand *c)
{
    struct folio_task_view t;
    int rc = folio_sched_task_get(st, uid, &t);
    if (rc != 0)
        return rc;
    memset(c, 0, sizeof(*c));
    c->uid = uid;
    c->kind = t.kind;
    c->allow_creation = true;
    if (t.kind == FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE || t.kind == FOLIO_KIND_SETTINGS_UPDATE) {
        struct folio_task_content content;
        rc = folio_task_content_decode(t.kind, t.content.ptr, t.content.len, &content);
        if (rc != 0)
            return rc;
        if (content.allow_index_creation_set)
            c->allow_creation = content.allow_index_creation;
        if (content.primary_key.len > 0)
            snprintf(c->pk, sizeof(c->pk), "%s", content.primary_key.ptr);
        folio_task_content_clear(&content);
    }
    return 0;
}

static int
autobatch(struct folio_sched *s, const struct folio_sched_state *st, struct folio_str index_uid,
          const uint32_t *uids, size_t n, struct run_batch *b)
{
    struct folio_index_view iv;
    bool exists = folio_sched_index_get(st, index_uid.ptr, index_uid.len, &iv) == 0;
    bool index_has_pk = exists && iv.primary_key.len > 0;
    struct cand first;
    int rc = cand_load(st, uids[0], &first);
    if (rc != 0)
        return rc;
    b->kind = first.kind;
    b->tasks = folio_calloc(n < s->opts.batch_tasks_max ? n : s->opts.batch_tasks_max,
                            sizeof(uint32_t));
    b->tasks[b->count++] = first.uid;
    enum group g = group_of(first.kind);
    if (g == G_ALONE) {
        folio_free(b->tasks);
        b->tasks = NULL;
        b->count = 0;
        alone(b, first.uid, first.kind);
        return 0;
    }
    if (g == G_DELETE_INDEX) {
        snprintf(b->reason, sizeof(b->reason),
                 "stopped after task with id %u because it deletes the index", first.uid);
        return 0;
    }
    char pk[FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX + 1];
    snprintf(pk, sizeof(pk), "%s", first.pk);
    for (size_t i = 1; i < n; i++) {
        if (b->count >= s->opts.batch_tasks_max) {
            snprintf(b->reason, sizeof(b->reason),
                     "batched up to configured batch limit of %u tasks", s->opts.batch_tasks_max);
            return 0;
        }
        struct cand c;
        rc = cand_load(st, uids[i], &c);
        if (rc != 0)
            return rc;
        enum group cg = group_of(c.kind);
        if (cg == G_ALONE) {
            snprintf(b->reason, sizeof(b->reason),
                     "stopped batching before task with id %u because it is a task of type `%s` "
                     "that cannot be batched with any other task.",
                     c.uid, folio_task_kind_name(c.kind));
            return 0;
        }
        if (cg == G_DELETE_INDEX) {
            b->tasks[b->count++] = c.uid;
            snprintf(b->reason, sizeof(b->reason),
                     "stopped after task with id %u because it deletes the index", c.uid);
            return 0;
        }
        if (cg != g) {
            snprintf(b->reason, sizeof(b->reason),
                     cg == G_SETTINGS
                         ? "stopped before task with id %u because it is a settings change "
                           "which cannot be batched with document operations"
                         : "stopped before task with id %u because it is a document operation "
                           "which cannot be batched with settings changes",
                     c.uid);
            return 0;
        }
        if (!exists && c.allow_creation != first.allow_creation) {
            snprintf(b->reason, sizeof(b->reason),
                     "stopped batching before task with id %u because its index creation rules "
                     "differ from the ones from the batch",
                     c.uid);
            return 0;
        }
        if (!index_has_pk && c.kind == FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE && c.pk[0] != '\0') {
            if (pk[0] == '\0' && b->count > 0 && first.kind == FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE &&
                first.pk[0] == '\0') {
                snprintf(b->reason, sizeof(b->reason),
                         "stopped batching before task with id %u because it is setting the `%.200s` "
                         "primary key and the batch infers its primary key",
                         c.uid, c.pk);
                return 0;
            }
            if (pk[0] != '\0' && strcmp(pk, c.pk) != 0) {
                snprintf(b->reason, sizeof(b->reason),
                         "stopped batching before task with id %u because it is setting the `%.180s` "
                         "primary key and the batch is setting the `%.180s` primary key",
                         c.uid, c.pk, pk);
                return 0;
            }
            snprintf(pk, sizeof(pk), "%s", c.pk);
        }
        b->tasks[b->count++] = c.uid;
    }
    snprintf(b->reason, sizeof(b->reason), "batched all enqueued tasks for index `%.*s`",
             (int)index_uid.len, index_uid.ptr);
    return 0;
}

/* ---- indexes held by the snapshot lane ------------------------------------- */

struct held {
    struct folio_str *uids;
    size_t count, cap;
};

static bool
held_has(const struct held *h, struct folio_str uid)
{
    for (size_t i = 0; i < h->count; i++)
        if (h->uids[i].len == uid.len && memcmp(h->uids[i].ptr, uid.ptr, uid.len) == 0)
            return true;
    return false;
}

static void
held_add(struct held *h, struct folio_str uid)
{
    if (held_has(h, uid))
        return;
    if (h->count == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 8;
        h->uids = folio_reallocarray(h->uids, h->cap, sizeof(*h->uids));
    }
    h->uids[h->count++] = uid;
}

static bool
task_held(const struct folio_task_view *t, const struct held *h)
{
    for (uint32_t i = 0; i < t->index_count; i++)
        if (held_has(h, t->index_uids[i]))
            return true;
    return false;
}

/*
 * The indexes the main lane must leave alone: the one the snapshot lane
 * runs a creation of, and those of enqueued creations (they have priority),
 * but for a creation that waits for its index to be created.
 * The strings point into the state and s: valid under pick_mu and the lock.
 */
static int
held_load(struct folio_sched *s, const struct folio_sched_state *st, struct held *h)
{
    memset(h, 0, sizeof(*h));
    if (s->snap_index_uid[0] != '\0')
        held_add(h, folio_str_c(s->snap_index_uid));
    uint32_t *uids = NULL;
    size_t n = 0;
    struct folio_sched_query q = {0};
    q.statuses = (1u << FOLIO_STATUS_ENQUEUED) | (1u << FOLIO_STATUS_PROCESSING);
    q.kinds = K(SINGLE_INDEX_SNAPSHOT_CREATION);
    int rc = folio_sched_match_tasks(st, &q, &uids, &n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct folio_task_view t;
        if (folio_sched_task_get(st, uids[i], &t) == 0 && t.index_count > 0 &&
            (t.status == FOLIO_STATUS_PROCESSING || !creation_waits_for_index(st, &t)))
            held_add(h, t.index_uids[0]);
    }
    folio_free(uids);
    return rc;
}

void
run_uids_free(char **uids, size_t count)
{
    for (size_t i = 0; i < count; i++)
        folio_free(uids[i]);
    folio_free(uids);
}

void
run_batch_touched(const struct folio_sched_state *st, const struct run_batch *b, char ***out,
                  size_t *count)
{
    struct held h = {0};
    for (uint32_t i = 0; i < b->count; i++) {
        struct folio_task_view t;
        if (folio_sched_task_get(st, b->tasks[i], &t) != 0)
            continue;
        for (uint32_t k = 0; k < t.index_count; k++)
            held_add(&h, t.index_uids[k]);
    }
    *out = h.count ? folio_calloc(h.count, sizeof(char *)) : NULL;
    for (size_t i = 0; i < h.count; i++)
        (*out)[i] = folio_strndup(h.uids[i].ptr, h.uids[i].len);
    *count = h.count;
    folio_free(h.uids);
}

int
run_batch_next_snapshot(struct folio_sched *s, const struct folio_sched_state *st,
                        struct run_batch *b)
{
    memset(b, 0, sizeof(*b));
    uint32_t *uids = NULL;
    size_t n = 0;
    struct folio_sched_query q = {0};
    q.statuses = (1u << FOLIO_STATUS_ENQUEUED) | (1u << FOLIO_STATUS_PROCESSING);
    q.kinds = K(TASK_CANCELATION);
    q.limit_set = true;
    q.limit = 1;
    struct folio_sched_page page;
    int rc = folio_sched_query_tasks(st, &q, &page);
    if (rc != 0)
        return rc;
    bool cancelation = page.total > 0;
    folio_sched_page_clear(&page);
    if (cancelation)
        return 0;
    rc = match(st, K(SINGLE_INDEX_SNAPSHOT_CREATION), NULL, &uids, &n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct folio_task_view t;
        rc = folio_sched_task_get(st, uids[i], &t);
        if (rc != 0 || t.index_count == 0 || creation_waits_for_index(st, &t))
            continue;
        bool busy = false;
        for (size_t k = 0; k < s->main_index_count && !busy; k++)
            busy = strlen(s->main_index_uids[k]) == t.index_uids[0].len &&
                   memcmp(s->main_index_uids[k], t.index_uids[0].ptr, t.index_uids[0].len) == 0;
        if (busy)
            continue;
        alone(b, t.uid, t.kind);
        snprintf(b->index_uid, sizeof(b->index_uid), "%.*s", (int)t.index_uids[0].len,
                 t.index_uids[0].ptr);
        folio_free(uids);
        return 1;
    }
    folio_free(uids);
    return rc;
}

/*
 * 1 if the cancelation matches a creation processing on the snapshot lane:
 * the lane stops it (registration raised snap_must_stop) and requeues it, and
 * only then may the cancelation run, or it would find the task processing and
 * leave it alone. 0 if it may run now.
 */
static int
cancelation_waits(const struct folio_sched_state *st, uint32_t uid)
{
    struct folio_task_view t;
    int rc = folio_sched_task_get(st, uid, &t);
    struct folio_task_content c;
    if (rc == 0)
        rc = folio_task_content_decode(t.kind, t.content.ptr, t.content.len, &c);
    if (rc != 0)
        return rc;
    int wait = 0;
    for (uint32_t i = 0; i < c.matched_tasks.count && !wait; i++) {
        struct folio_task_view v;
        wait = folio_sched_task_get(st, (uint32_t)c.matched_tasks.items[i], &v) == 0 &&
               v.status == FOLIO_STATUS_PROCESSING &&
               v.kind == FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_CREATION;
    }
    folio_task_content_clear(&c);
    return wait;
}

int
run_batch_next(struct folio_sched *s, const struct folio_sched_state *st, struct run_batch *b)
{
    memset(b, 0, sizeof(*b));
    uint32_t *uids = NULL;
    size_t n = 0;
    int rc = match(st, K(TASK_CANCELATION), NULL, &uids, &n);
    if (rc == 0 && n > 0) {
        /* A creation it stops on the snapshot lane is requeued first, then canceled. */
        int wait = cancelation_waits(st, uids[n - 1]);
        if (wait > 0) /* also when registration saw the task still enqueued */
            atomic_store(&s->snap_must_stop, true);
        if (wait == 0)
            alone(b, uids[n - 1], FOLIO_KIND_TASK_CANCELATION);
        folio_free(uids);
        return wait < 0 ? wait : !wait;
    }
    folio_free(uids);
    uids = NULL;
    static const enum folio_task_kind together[] = {FOLIO_KIND_TASK_DELETION,
                                                    FOLIO_KIND_SNAPSHOT_CREATION};
    for (unsigned k = 0; k < FOLIO_ARRAY_LEN(together) && rc == 0; k++) {
        rc = match(st, 1u << together[k], NULL, &uids, &n);
        if (rc == 0 && n > 0) {
            if (n > s->opts.batch_tasks_max)
                n = s->opts.batch_tasks_max;
            b->tasks = uids;
            b->count = (uint32_t)n;
            b->kind = together[k];
            snprintf(b->reason, sizeof(b->reason),
                     "stopped after the last task of type `%s` because they cannot be batched "
                     "with tasks of any other type.",
                     folio_task_kind_name(together[k]));
            return 1;
        }
        folio_free(uids);
        uids = NULL;
    }
    struct held h;
    if (rc == 0)
        rc = held_load(s, st, &h);
    else
        memset(&h, 0, sizeof(h));
    if (rc == 0)
        rc = match(st, K(SINGLE_INDEX_SNAPSHOT_IMPORT), NULL, &uids, &n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct folio_task_view t;
        rc = folio_sched_task_get(st, uids[i], &t);
        if (rc != 0 || task_held(&t, &h))
            continue;
        alone(b, uids[i], t.kind);
        snprintf(b->index_uid, sizeof(b->index_uid), "%.*s",
                 t.index_count ? (int)t.index_uids[0].len : 0,
                 t.index_count ? t.index_uids[0].ptr : "");
        folio_free(uids);
        folio_free(h.uids);
        return 1;
    }
    folio_free(uids);
    uids = NULL;
    if (rc != 0) {
        folio_free(h.uids);
        return rc;
    }

    uint32_t index_kinds = K(DOCUMENT_ADDITION_OR_UPDATE) | K(DOCUMENT_DELETION) |
                           K(SETTINGS_UPDATE) | K(INDEX_CREATION) | K(INDEX_DELETION) |
                           K(INDEX_UPDATE) | K(INDEX_SWAP);
    rc = match(st, index_kinds, NULL, &uids, &n);
    /*
     * The oldest task that touches no held index. A task passed over holds
     * its other indexes too, so no later task overtakes it on them.
     */
    struct folio_task_view t;
    bool chosen = false;
    for (size_t i = 0; i < n && rc == 0 && !chosen; i++) {
        rc = folio_sched_task_get(st, uids[i], &t);
        if (rc != 0)
            break;
        if (!task_held(&t, &h)) {
            chosen = true;
        } else {
            for (uint32_t k = 0; k < t.index_count; k++)
                held_add(&h, t.index_uids[k]);
        }
    }
    folio_free(uids);
    uids = NULL;
    folio_free(h.uids);
    if (rc != 0 || !chosen)
        return rc;
    if (t.kind == FOLIO_KIND_INDEX_SWAP || t.index_count == 0) {
        alone(b, t.uid, t.kind);
        return 1;
    }
    struct folio_str index_uid = t.index_uids[0];
    snprintf(b->index_uid, sizeof(b->index_uid), "%.*s", (int)index_uid.len, index_uid.ptr);
    /*
     * The index's enqueued tasks in uid order: every task that touches it,
     * swaps and renames included (an indexUids filter would skip a swap, whose
     * public indexUid is null, and let later tasks overtake it).
     */
    rc = match(st, index_kinds, NULL, &uids, &n);
    size_t kept = 0;
    for (size_t i = 0; i < n && rc == 0 && kept <= s->opts.batch_tasks_max; i++) {
        struct folio_task_view v;
        if (folio_sched_task_get(st, uids[i], &v) == 0 && run_task_touches(&v, index_uid))
            uids[kept++] = uids[i];
    }
    if (rc == 0 && kept > 0 && uids[0] == t.uid)
        rc = autobatch(s, st, index_uid, uids, kept, b);
    else if (rc == 0)
        alone(b, t.uid, t.kind);
    folio_free(uids);
    if (rc != 0) {
        run_batch_clear(b);
        return rc;
    }
    return 1;
}
