/*
 * Applying the index mapping events: index_created, index_deleted,
 * index_updated, indexes_swapped and index_imported.
 *
 * Every change of the mapping is made by a task that is processing. A swap
 * exchanges the uids of two indexes (or, when only one of the two exists,
 * renames it) and, as Meilisearch does, rewrites the index uids of every
 * older task of the two indexes, so that GET /tasks?indexUids=a keeps
 * showing the history of the data now called a. As in state_apply.c, all
 * rules are checked before anything changes.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "sched_int.h"

__attribute__((format(printf, 4, 5))) static int
conflict(struct folio_sched_diag *d, uint64_t seq, const struct folio_event *ev, const char *fmt,
         ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    diag_set(d, seq, "seq %" PRIu64 " (%s): %s", seq, folio_event_type_name(ev->type), msg);
    return FOLIO_E_CORRUPT;
}

#define CONFLICT(...) conflict(d, seq, ev, __VA_ARGS__)

static bool
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 8-4-4-4-12 hex digits (checked on apply and on checkpoint load: it names a directory). */
bool
sched_uuid_valid(struct folio_str u)
{
    if (u.len != 36)
        return false;
    for (unsigned i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? u.ptr[i] != '-' : !is_hex(u.ptr[i]))
            return false;
    }
    return true;
}

static struct sindex *
index_find(const struct folio_sched_state *s, struct folio_str uid)
{
    return strmap_get(&s->indexes, uid.ptr, uid.len);
}

static int
check_changer(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
              struct folio_sched_diag *d, uint64_t task_uid, int kind)
{
    const struct stask *t =
        task_uid > FOLIO_SCHED_UID_MAX ? NULL : u32map_get(&s->tasks, (uint32_t)task_uid);
    if (t == NULL || t->status != FOLIO_STATUS_PROCESSING)
        return CONFLICT("task %" PRIu64 " is not a processing task", task_uid);
    if (kind >= 0 && t->kind != kind)
        return CONFLICT("task %" PRIu64 " is a %s task, not %s", task_uid,
                        folio_task_kind_name(t->kind), folio_task_kind_name(kind));
    return 0;
}

static int
check_new_index(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
                struct folio_sched_diag *d, struct folio_str uid, struct folio_str uuid)
{
    if (!folio_index_uid_valid(uid.ptr, uid.len))
        return CONFLICT("index uid `%.64s` is not valid", uid.ptr);
    if (!sched_uuid_valid(uuid))
        return CONFLICT("index uuid `%.64s` is not a UUID", uuid.ptr);
    if (index_find(s, uid) != NULL)
        return CONFLICT("index `%s` already exists", uid.ptr);
    if (strmap_get(&s->uuids, uuid.ptr, uuid.len) != NULL)
        return CONFLICT("index uuid %s is already in use", uuid.ptr);
    return 0;
}

static int
apply_index_change(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
                   struct folio_sched_diag *d)
{
    const struct folio_ev_index_change *e = &ev->u.index_change;
    int rc = check_changer(s, seq, ev, d, e->task_uid, -1);
    if (rc != 0)
        return rc;
    if (ev->type == FOLIO_EV_INDEX_CREATED) {
        rc = check_new_index(s, seq, ev, d, e->index_uid, e->index_uuid);
        if (rc != 0)
            return rc;
        struct sindex *ix = sindex_new(&e->index_uid, &e->index_uuid, &e->primary_key);
        ix->v.created_at_ns = ix->v.updated_at_ns = e->changed_at_ns;
        sindex_link(s, ix);
        return 0;
    }
    struct sindex *ix = index_find(s, e->index_uid);
    if (ix == NULL)
        return CONFLICT("index `%.64s` does not exist", e->index_uid.ptr);
    if (str_cmp(&ix->v.uuid, &e->index_uuid) != 0)
        return CONFLICT("index `%s` has uuid %s, not %.64s", ix->v.uid.ptr, ix->v.uuid.ptr,
                        e->index_uuid.ptr);
    if (ev->type == FOLIO_EV_INDEX_DELETED) {
        sindex_unlink(s, ix);
        sindex_free(ix);
        return 0;
    }
    if (e->primary_key.len > 0)
        sindex_set_str(&ix->v.primary_key, &e->primary_key);
    ix->v.updated_at_ns = e->changed_at_ns;
    return 0;
}

static int
apply_imported(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
               struct folio_sched_diag *d)
{
    const struct folio_ev_index_imported *e = &ev->u.index_imported;
    int rc = check_changer(s, seq, ev, d, e->task_uid, FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT);
    if (rc == 0)
        rc = check_new_index(s, seq, ev, d, e->index_uid, e->index_uuid);
    if (rc != 0)
        return rc;
    bool hex = e->archive_checksum.len == 32;
    for (uint32_t i = 0; hex && i < 32; i++)
        hex = is_hex(e->archive_checksum.ptr[i]);
    if (!hex)
        return CONFLICT("archive checksum `%.64s` is not 32 hex digits", e->archive_checksum.ptr);
    struct sindex *ix = sindex_new(&e->index_uid, &e->index_uuid, &e->primary_key);
    ix->v.created_at_ns = ix->v.updated_at_ns = ev->at_ns;
    ix->v.imported = true;
    sindex_set_str(&ix->v.source_instance_uid, &e->source_instance_uid);
    ix->v.source_seq = e->source_seq;
    sindex_set_str(&ix->v.archive_checksum, &e->archive_checksum);
    sindex_link(s, ix);
    return 0;
}

/* ---- indexes_swapped ---------------------------------------------------- */

/* Tasks older than the swap that touch uid (a new bitmap; empty if none). */
static roaring_bitmap_t *
older_tasks(const struct folio_sched_state *s, const struct folio_str *uid, uint32_t swap_uid)
{
    roaring_bitmap_t *r = roaring_bitmap_create();
    const struct iuid *u = iuid_find(s, uid);
    if (u != NULL && swap_uid > 0) {
        roaring_bitmap_or_inplace(r, u->tasks);
        roaring_bitmap_remove_range(r, swap_uid, (uint64_t)UINT32_MAX + 1);
    }
    return r;
}

static int
check_swap(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
           struct folio_sched_diag *d)
{
    const struct folio_ev_indexes_swapped *e = &ev->u.indexes_swapped;
    int rc = check_changer(s, seq, ev, d, e->task_uid, FOLIO_KIND_INDEX_SWAP);
    if (rc != 0)
        return rc;
    if (e->index_uids.count < 2 || e->index_uids.count % 2 != 0)
        return CONFLICT("index_uids must be pairs");
    struct strmap seen = {0};
    for (uint32_t i = 0; i < e->index_uids.count && rc == 0; i++) {
        const struct folio_str *u = &e->index_uids.items[i];
        if (!folio_index_uid_valid(u->ptr, u->len))
            rc = CONFLICT("index uid `%.64s` is not valid", u->ptr);
        else if (strmap_get(&seen, u->ptr, u->len) != NULL)
            rc = CONFLICT("index `%s` is swapped twice", u->ptr);
        else
            strmap_put(&seen, u->ptr, u->len, (void *)u);
        if (rc == 0 && i % 2 == 1 && index_find(s, e->index_uids.items[i - 1]) == NULL &&
            index_find(s, *u) == NULL)
            rc = CONFLICT("neither `%s` nor `%s` exists", e->index_uids.items[i - 1].ptr, u->ptr);
        if (rc != 0)
            break;
        roaring_bitmap_t *older = older_tasks(s, u, (uint32_t)e->task_uid);
        roaring_bitmap_and_inplace(older, s->task_status[FOLIO_STATUS_PROCESSING]);
        if (!roaring_bitmap_is_empty(older))
            rc = CONFLICT("task %u of index `%s` is processing during the swap",
                          roaring_bitmap_minimum(older), u->ptr);
        roaring_bitmap_free(older);
    }
    strmap_free(&seen);
    return rc;
}

static void
rename_refs(struct folio_sched_state *s, const roaring_bitmap_t *tasks, struct iuid *a,
            struct iuid *b)
{
    roaring_uint32_iterator_t it;
    for (roaring_init_iterator(tasks, &it); it.has_value; roaring_advance_uint32_iterator(&it)) {
        struct stask *t = u32map_get(&s->tasks, it.current_value);
        for (uint32_t i = 0; i < t->index_count; i++) {
            if (str_cmp(&t->index_uids[i], &a->name) == 0)
                t->index_uids[i] = b->name;
            else if (str_cmp(&t->index_uids[i], &b->name) == 0)
                t->index_uids[i] = a->name;
        }
    }
}

static void
swap_pair(struct folio_sched_state *s, const struct folio_str *x, const struct folio_str *y,
          uint32_t swap_uid)
{
    struct sindex *ix = index_find(s, *x), *iy = index_find(s, *y);
    if (ix != NULL)
        sindex_unlink(s, ix);
    if (iy != NULL)
        sindex_unlink(s, iy);
    if (ix != NULL)
        sindex_set_str(&ix->v.uid, y);
    if (iy != NULL)
        sindex_set_str(&iy->v.uid, x);
    if (ix != NULL)
        sindex_link(s, ix);
    if (iy != NULL)
        sindex_link(s, iy);

    roaring_bitmap_t *tx = older_tasks(s, x, swap_uid), *ty = older_tasks(s, y, swap_uid);
    struct iuid *ux = iuid_intern(s, x->ptr, x->len), *uy = iuid_intern(s, y->ptr, y->len);
    roaring_bitmap_t *both = roaring_bitmap_or(tx, ty);
    rename_refs(s, both, ux, uy);
    roaring_bitmap_andnot_inplace(ux->tasks, tx);
    roaring_bitmap_or_inplace(ux->tasks, ty);
    roaring_bitmap_andnot_inplace(uy->tasks, ty);
    roaring_bitmap_or_inplace(uy->tasks, tx);
    roaring_bitmap_free(both);
    roaring_bitmap_free(tx);
    roaring_bitmap_free(ty);
}

static int
apply_swapped(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
              struct folio_sched_diag *d)
{
    const struct folio_ev_indexes_swapped *e = &ev->u.indexes_swapped;
    int rc = check_swap(s, seq, ev, d);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i + 1 < e->index_uids.count; i += 2)
        swap_pair(s, &e->index_uids.items[i], &e->index_uids.items[i + 1], (uint32_t)e->task_uid);
    return 0;
}

int
apply_index_event(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
                  struct folio_sched_diag *d)
{
    switch (ev->type) {
    case FOLIO_EV_INDEX_CREATED:
    case FOLIO_EV_INDEX_DELETED:
    case FOLIO_EV_INDEX_UPDATED: return apply_index_change(s, seq, ev, d);
    case FOLIO_EV_INDEXES_SWAPPED: return apply_swapped(s, seq, ev, d);
    case FOLIO_EV_INDEX_IMPORTED: return apply_imported(s, seq, ev, d);
    default: return CONFLICT("not an index event");
    }
}
