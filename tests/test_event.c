/*
 * Tests of the event codec (include/folio/event.h).
 *
 * Expectations come from the contract, not from the code: the wire keys and
 * which are required are restated below in spec[] from event.h's structs; the
 * golden bytes and expected JSON lines were worked out by hand from the
 * msgpack spec. Malformed inputs are built with msgpack-c's own unpacker and
 * packer (rebuild()), so the reject tests do not lean on the decoder under
 * test to produce their inputs. Every decode of a damaged buffer reads from
 * an exactly sized heap copy, so ASan catches any over-read.
 */
#include "testutil.h"

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"

/* ---- the contract, restated -------------------------------------------- */

enum tkind { T_U64, T_I64, T_U32, T_STR, T_STRS, T_U64S, T_OBJ };

struct tfield {
    const char *key;
    enum tkind kind;
    int optional;
};

struct ttype {
    enum folio_event_type type;
    const char *name;
    struct tfield fields[10]; /* after "seq", "type", "at"; ends at key == NULL */
};

#define OUTCOME_FIELDS                                                                     \
    {"task_uid", T_U64, 0}, {"batch_uid", T_U64, 0}, {"finished_at", T_I64, 0},              \
        {"details", T_OBJ, 1}
#define INDEX_CHANGE_FIELDS                                                                \
    {                                                                                      \
        {"index_uid", T_STR, 0}, {"index_uuid", T_STR, 0}, {"primary_key", T_STR, 1},        \
            {"task_uid", T_U64, 0}, {"changed_at", T_I64, 0},                               \
    }

static const struct ttype spec[] = {
    {FOLIO_EV_TASK_REGISTERED, "task_registered",
     {{"task_uid", T_U64, 0}, {"kind", T_STR, 0}, {"index_uids", T_STRS, 1},
      {"enqueued_at", T_I64, 0}, {"content", T_OBJ, 1}}},
    {FOLIO_EV_BATCH_STARTED, "batch_started",
     {{"batch_uid", T_U64, 0}, {"task_uids", T_U64S, 0}, {"reason", T_STR, 0}}},
    {FOLIO_EV_PROGRESS, "progress",
     {{"batch_uid", T_U64, 0}, {"step", T_STR, 0}, {"step_index", T_U32, 0},
      {"step_total", T_U32, 0}}},
    {FOLIO_EV_TASK_SUCCEEDED, "task_succeeded", {OUTCOME_FIELDS}},
    {FOLIO_EV_TASK_FAILED, "task_failed", {OUTCOME_FIELDS, {"error", T_OBJ, 0}}},
    {FOLIO_EV_TASK_CANCELED, "task_canceled", {OUTCOME_FIELDS, {"canceled_by", T_U64, 0}}},
    {FOLIO_EV_INDEX_CREATED, "index_created", INDEX_CHANGE_FIELDS},
    {FOLIO_EV_INDEX_DELETED, "index_deleted", INDEX_CHANGE_FIELDS},
    {FOLIO_EV_INDEX_UPDATED, "index_updated", INDEX_CHANGE_FIELDS},
    {FOLIO_EV_INDEXES_SWAPPED, "indexes_swapped",
     {{"index_uids", T_STRS, 0}, {"task_uid", T_U64, 0}}},
    {FOLIO_EV_INDEX_IMPORTED, "index_imported",
     {{"index_uid", T_STR, 0}, {"index_uuid", T_STR, 0}, {"primary_key", T_STR, 1},
      {"task_uid", T_U64, 0}, {"source_instance_uid", T_STR, 0}, {"source_seq", T_U64, 0},
      {"archive_checksum", T_STR, 0}}},
    {FOLIO_EV_TASKS_DELETED, "tasks_deleted", {{"task_uid", T_U64, 0}, {"task_uids", T_U64S, 0}}},
    {FOLIO_EV_TASK_REQUEUED, "task_requeued",
     {{"task_uid", T_U64, 0}, {"batch_uid", T_U64, 0}, {"reason", T_STR, 0}}},
    {FOLIO_EV_CHECKPOINT_WRITTEN, "checkpoint_written",
     {{"checkpoint_seq", T_U64, 0}, {"state_hash", T_U64, 0}, {"file", T_STR, 0}}},
    {FOLIO_EV_SERVER_STARTED, "server_started",
     {{"instance_uid", T_STR, 0}, {"version", T_STR, 0}, {"pid", T_U64, 0}}},
    {FOLIO_EV_JOURNAL_RECOVERED, "journal_recovered",
     {{"segment", T_STR, 0}, {"offset", T_U64, 0}, {"bytes_dropped", T_U64, 0},
      {"quarantine", T_STR, 1}, {"reason", T_STR, 0}, {"last_valid_seq", T_U64, 0}}},
    {FOLIO_EV_FILES_REMOVED, "files_removed",
     {{"reason", T_STR, 0}, {"paths", T_STRS, 0}, {"bytes", T_U64, 0}}},
};

/* ---- sample events ------------------------------------------------------ */

/* {"file":"abc","size":1234} */
static const uint8_t content_obj[] = {0x82, 0xa4, 'f', 'i', 'l', 'e', 0xa3, 'a', 'b', 'c',
                                      0xa4, 's',  'i', 'z', 'e', 0xcd, 0x04, 0xd2};
/* {"received":2} */
static const uint8_t details_obj[] = {0x81, 0xa8, 'r', 'e', 'c', 'e', 'i', 'v', 'e', 'd', 0x02};
/* {"message":"boom","code":"internal"} */
static const uint8_t error_obj[] = {0x82, 0xa7, 'm', 'e', 's', 's', 'a', 'g', 'e', 0xa4, 'b',
                                    'o',  'o',  'm', 0xa4, 'c', 'o', 'd', 'e', 0xa8, 'i', 'n',
                                    't',  'e',  'r', 'n',  'a', 'l'};

static const struct folio_str two_uids[] = {{"movies", 6}, {"b\xc3\xa9" "books", 8}};
static const struct folio_str four_uids[] = {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}};
static const uint64_t task_uid_list[] = {3, 4, 500000, UINT64_MAX};
static const struct folio_str removed_paths[] = {
    {"indexes/0b7b8e4c-0f7b-4c1e-9a53-1d2f3e4a5b6c", 44}, {"content/17", 10}, {"tmp/x", 5}};

#define OBJ(a) ((struct folio_object){a, sizeof(a)})
#define STR(s) folio_str_c(s)

static void
sample_outcome(struct folio_event *ev, int full)
{
    struct folio_ev_task_outcome *o = &ev->u.task_outcome;
    o->task_uid = 11;
    o->batch_uid = 5;
    o->finished_at_ns = -1;
    if (full)
        o->details = OBJ(details_obj);
    if (ev->type == FOLIO_EV_TASK_FAILED)
        o->error = OBJ(error_obj);
    if (ev->type == FOLIO_EV_TASK_CANCELED)
        o->canceled_by = full ? 77 : 0;
}

static void
sample_index(struct folio_event *ev, int full)
{
    struct folio_ev_index_change *c = &ev->u.index_change;
    c->index_uid = STR("movies");
    c->index_uuid = STR("0b7b8e4c-0f7b-4c1e-9a53-1d2f3e4a5b6c");
    if (full)
        c->primary_key = STR("id");
    c->task_uid = 12;
    c->changed_at_ns = 1700000000000000002;
}

static void
sample_imported(struct folio_event *ev, int full)
{
    struct folio_ev_index_imported *m = &ev->u.index_imported;
    m->index_uid = STR("movies");
    m->index_uuid = STR("0b7b8e4c-0f7b-4c1e-9a53-1d2f3e4a5b6c");
    if (full)
        m->primary_key = STR("id");
    m->task_uid = 13;
    m->source_instance_uid = STR("7d0b1a1e-8d4e-4b1a-b1f1-0a0b0c0d0e0f");
    m->source_seq = UINT64_MAX;
    m->archive_checksum = STR("00112233445566778899aabbccddeeff");
}

static void
sample_misc(struct folio_event *ev, int full)
{
    switch (ev->type) {
    case FOLIO_EV_TASKS_DELETED:
        ev->u.tasks_deleted.task_uid = 14;
        if (full)
            ev->u.tasks_deleted.task_uids = (struct folio_u64_array){task_uid_list, 4};
        break;
    case FOLIO_EV_TASK_REQUEUED:
        ev->u.task_requeued = (struct folio_ev_task_requeued){15, 6, STR("crash")};
        break;
    case FOLIO_EV_CHECKPOINT_WRITTEN:
        ev->u.checkpoint_written =
            (struct folio_ev_checkpoint_written){999, 0xfedcba9876543210ull, STR("999.ckpt")};
        break;
    case FOLIO_EV_SERVER_STARTED:
        ev->u.server_started = (struct folio_ev_server_started){
            STR("7d0b1a1e-8d4e-4b1a-b1f1-0a0b0c0d0e0f"), STR("0.1.0"), 4242};
        break;
    case FOLIO_EV_JOURNAL_RECOVERED: {
        struct folio_ev_journal_recovered *r = &ev->u.journal_recovered;
        r->segment = STR("00000000000000000001.seg");
        r->offset = 8192;
        r->bytes_dropped = 0;
        if (full)
            r->quarantine = STR("quarantine-1");
        r->reason = STR("torn tail");
        r->last_valid_seq = 41;
        break;
    }
    case FOLIO_EV_FILES_REMOVED: {
        struct folio_ev_files_removed *r = &ev->u.files_removed;
        r->reason = STR(full ? "orphan index directory (no mapping entry)" : "");
        r->paths = (struct folio_str_array){removed_paths, full ? 3 : 1};
        r->bytes = full ? UINT64_MAX : 0;
        break;
    }
    default:
        fail_msg("no sample for type %d", ev->type);
    }
}

/* A valid event of each type; full sets every optional field, !full none. */
static void
sample_event(enum folio_event_type type, int full, struct folio_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->seq = full ? 123456789 : 0;
    ev->at_ns = full ? 1700000000123456789 : INT64_MIN;
    switch (type) {
    case FOLIO_EV_TASK_REGISTERED: {
        struct folio_ev_task_registered *r = &ev->u.task_registered;
        r->task_uid = 11;
        r->kind = STR("indexCreation");
        if (full) {
            r->index_uids = (struct folio_str_array){two_uids, 2};
            r->content = OBJ(content_obj);
        }
        r->enqueued_at_ns = 1700000000000000001;
        break;
    }
    case FOLIO_EV_BATCH_STARTED:
        ev->u.batch_started.batch_uid = 5;
        ev->u.batch_started.task_uids = (struct folio_u64_array){task_uid_list, full ? 4 : 1};
        ev->u.batch_started.reason = STR(full ? "same index, same kind" : "");
        break;
    case FOLIO_EV_PROGRESS:
        ev->u.progress = (struct folio_ev_progress){5, STR("indexing"), 1, UINT32_MAX};
        break;
    case FOLIO_EV_TASK_SUCCEEDED:
    case FOLIO_EV_TASK_FAILED:
    case FOLIO_EV_TASK_CANCELED:
        sample_outcome(ev, full);
        break;
    case FOLIO_EV_INDEX_CREATED:
    case FOLIO_EV_INDEX_DELETED:
    case FOLIO_EV_INDEX_UPDATED:
        sample_index(ev, full);
        break;
    case FOLIO_EV_INDEXES_SWAPPED:
        ev->u.indexes_swapped.index_uids = (struct folio_str_array){four_uids, full ? 4 : 2};
        ev->u.indexes_swapped.task_uid = 16;
        break;
    case FOLIO_EV_INDEX_IMPORTED:
        sample_imported(ev, full);
        break;
    default:
        sample_misc(ev, full);
        break;
    }
}

/* ---- helpers ------------------------------------------------------------ */

static uint8_t *
encode_ok(const struct folio_event *ev, size_t *len)
{
    uint8_t *buf = NULL;
    int rc = folio_event_encode(ev, &buf, len);
    assert_int_equal(rc, FOLIO_OK);
    assert_non_null(buf);
    return buf;
}

/* An exactly sized heap copy, so ASan flags any read past len. */
static uint8_t *
exact_copy(const uint8_t *p, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    assert_non_null(c);
    if (len)
        memcpy(c, p, len);
    return c;
}

static int
decode_copy(const uint8_t *p, size_t len, struct folio_event *ev)
{
    uint8_t *c = exact_copy(p, len);
    int rc = folio_event_decode(c, len, ev);
    free(c);
    return rc;
}

/* Decode must fail with want and leave no trace. */
static void
expect_decode_error(const uint8_t *p, size_t len, int want)
{
    struct folio_event ev;
    memset(&ev, 0xa5, sizeof(ev));
    int rc = decode_copy(p, len, &ev);
    if (rc != want)
        fail_msg("decode returned %s, want %s", folio_err_name(rc), folio_err_name(want));
    assert_int_equal(ev.type, FOLIO_EV_NONE);
    assert_null(ev.owned_);
    char *json = (char *)"untouched";
    assert_int_equal(folio_event_to_json(p, len, &json), want);
    assert_null(json);
}

static void
assert_str_equal_n(struct folio_str want, struct folio_str got)
{
    assert_int_equal(want.len, got.len);
    if (want.len == 0)
        return;
    assert_memory_equal(want.ptr, got.ptr, want.len);
    assert_int_equal(got.ptr[got.len], '\0'); /* decoded strings are NUL-terminated */
}

static void
assert_obj_equal(struct folio_object want, struct folio_object got)
{
    assert_int_equal(want.len, got.len);
    if (want.len)
        assert_memory_equal(want.ptr, got.ptr, want.len);
}

static void
assert_strs_equal(struct folio_str_array want, struct folio_str_array got)
{
    assert_int_equal(want.count, got.count);
    for (uint32_t i = 0; i < want.count; i++)
        assert_str_equal_n(want.items[i], got.items[i]);
}

static void
assert_u64s_equal(struct folio_u64_array want, struct folio_u64_array got)
{
    assert_int_equal(want.count, got.count);
    for (uint32_t i = 0; i < want.count; i++)
        assert_true(want.items[i] == got.items[i]);
}

#define EQ_INT(m) assert_true(a->m == b->m)
#define EQ_STR(m) assert_str_equal_n(a->m, b->m)

static void
assert_outcome_equal(const struct folio_ev_task_outcome *a, const struct folio_ev_task_outcome *b)
{
    EQ_INT(task_uid);
    EQ_INT(batch_uid);
    EQ_INT(finished_at_ns);
    EQ_INT(canceled_by);
    assert_obj_equal(a->details, b->details);
    assert_obj_equal(a->error, b->error);
}

static void
assert_index_equal(const struct folio_ev_index_change *a, const struct folio_ev_index_change *b)
{
    EQ_STR(index_uid);
    EQ_STR(index_uuid);
    EQ_STR(primary_key);
    EQ_INT(task_uid);
    EQ_INT(changed_at_ns);
}

static void
assert_imported_equal(const struct folio_ev_index_imported *a,
                      const struct folio_ev_index_imported *b)
{
    EQ_STR(index_uid);
    EQ_STR(index_uuid);
    EQ_STR(primary_key);
    EQ_INT(task_uid);
    EQ_STR(source_instance_uid);
    EQ_INT(source_seq);
    EQ_STR(archive_checksum);
}

static void
assert_misc_equal(const struct folio_event *want, const struct folio_event *got)
{
    switch (want->type) {
    case FOLIO_EV_TASKS_DELETED: {
        const struct folio_ev_tasks_deleted *a = &want->u.tasks_deleted, *b = &got->u.tasks_deleted;
        EQ_INT(task_uid);
        assert_u64s_equal(a->task_uids, b->task_uids);
        break;
    }
    case FOLIO_EV_TASK_REQUEUED: {
        const struct folio_ev_task_requeued *a = &want->u.task_requeued, *b = &got->u.task_requeued;
        EQ_INT(task_uid);
        EQ_INT(batch_uid);
        EQ_STR(reason);
        break;
    }
    case FOLIO_EV_CHECKPOINT_WRITTEN: {
        const struct folio_ev_checkpoint_written *a = &want->u.checkpoint_written,
                                                 *b = &got->u.checkpoint_written;
        EQ_INT(checkpoint_seq);
        EQ_INT(state_hash);
        EQ_STR(file);
        break;
    }
    case FOLIO_EV_SERVER_STARTED: {
        const struct folio_ev_server_started *a = &want->u.server_started,
                                             *b = &got->u.server_started;
        EQ_STR(instance_uid);
        EQ_STR(version);
        EQ_INT(pid);
        break;
    }
    case FOLIO_EV_JOURNAL_RECOVERED: {
        const struct folio_ev_journal_recovered *a = &want->u.journal_recovered,
                                                *b = &got->u.journal_recovered;
        EQ_STR(segment);
        EQ_INT(offset);
        EQ_INT(bytes_dropped);
        EQ_STR(quarantine);
        EQ_STR(reason);
        EQ_INT(last_valid_seq);
        break;
    }
    case FOLIO_EV_FILES_REMOVED: {
        const struct folio_ev_files_removed *a = &want->u.files_removed,
                                            *b = &got->u.files_removed;
        EQ_STR(reason);
        assert_strs_equal(a->paths, b->paths);
        EQ_INT(bytes);
        break;
    }
    default:
        fail_msg("unexpected type %d", want->type);
    }
}

/* Compares every field of the event's type. */
static void
assert_event_equal(const struct folio_event *want, const struct folio_event *got)
{
    assert_int_equal(want->type, got->type);
    assert_true(want->seq == got->seq);
    assert_true(want->at_ns == got->at_ns);
    switch (want->type) {
    case FOLIO_EV_TASK_REGISTERED: {
        const struct folio_ev_task_registered *a = &want->u.task_registered,
                                              *b = &got->u.task_registered;
        EQ_INT(task_uid);
        EQ_STR(kind);
        assert_strs_equal(a->index_uids, b->index_uids);
        EQ_INT(enqueued_at_ns);
        assert_obj_equal(a->content, b->content);
        break;
    }
    case FOLIO_EV_BATCH_STARTED: {
        const struct folio_ev_batch_started *a = &want->u.batch_started,
                                            *b = &got->u.batch_started;
        EQ_INT(batch_uid);
        assert_u64s_equal(a->task_uids, b->task_uids);
        EQ_STR(reason);
        break;
    }
    case FOLIO_EV_PROGRESS: {
        const struct folio_ev_progress *a = &want->u.progress, *b = &got->u.progress;
        EQ_INT(batch_uid);
        EQ_STR(step);
        EQ_INT(step_index);
        EQ_INT(step_total);
        break;
    }
    case FOLIO_EV_TASK_SUCCEEDED:
    case FOLIO_EV_TASK_FAILED:
    case FOLIO_EV_TASK_CANCELED:
        assert_outcome_equal(&want->u.task_outcome, &got->u.task_outcome);
        break;
    case FOLIO_EV_INDEX_CREATED:
    case FOLIO_EV_INDEX_DELETED:
    case FOLIO_EV_INDEX_UPDATED:
        assert_index_equal(&want->u.index_change, &got->u.index_change);
        break;
    case FOLIO_EV_INDEXES_SWAPPED:
        assert_strs_equal(want->u.indexes_swapped.index_uids, got->u.indexes_swapped.index_uids);
        assert_true(want->u.indexes_swapped.task_uid == got->u.indexes_swapped.task_uid);
        break;
    case FOLIO_EV_INDEX_IMPORTED:
        assert_imported_equal(&want->u.index_imported, &got->u.index_imported);
        break;
    default:
        assert_misc_equal(want, got);
        break;
    }
}

static const struct tfield at_field = {"at", T_I64, 0};

static int
spec_field_count(const struct ttype *t)
{
    int n = 0;
    while (n < 10 && t->fields[n].key != NULL)
        n++;
    return n;
}

/* ---- rebuilding events with msgpack-c ---------------------------------- */

enum edit_op { E_NONE, E_DROP, E_DUP, E_REPLACE, E_ADD, E_MOVE_LAST, E_ADD_RAW };

/* One change to an encoded event; val packs the new value (or key and value for E_ADD_RAW). */
struct edit {
    enum edit_op op;
    const char *key;
    void (*val)(msgpack_packer *pk);
};

static void
pack_key(msgpack_packer *pk, const char *key)
{
    msgpack_pack_str_with_body(pk, key, strlen(key));
}

static int
edit_entry(msgpack_packer *pk, const struct edit *e, msgpack_object key, msgpack_object val,
           msgpack_object *moved)
{
    int match = e->key != NULL && key.type == MSGPACK_OBJECT_STR &&
                key.via.str.size == strlen(e->key) &&
                memcmp(key.via.str.ptr, e->key, key.via.str.size) == 0;
    if (match && (e->op == E_DROP || e->op == E_MOVE_LAST)) {
        *moved = val;
        return 0;
    }
    msgpack_pack_object(pk, key);
    if (match && e->op == E_REPLACE)
        e->val(pk);
    else
        msgpack_pack_object(pk, val);
    if (!(match && e->op == E_DUP))
        return 1;
    msgpack_pack_object(pk, key);
    msgpack_pack_object(pk, val);
    return 2;
}

/*
 * Re-packs an encoded event (unpacked by msgpack-c) with one edit, keeping
 * folio's prefix and the given seq. The caller frees the result.
 */
static uint8_t *
rebuild(const uint8_t *buf, size_t len, const struct edit *e, size_t *out_len)
{
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, (const char *)buf, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    msgpack_object map = u.data;
    assert_int_equal(map.type, MSGPACK_OBJECT_MAP);
    uint64_t seq = map.via.map.ptr[0].val.via.u64;

    msgpack_sbuffer body;
    msgpack_packer pk;
    msgpack_sbuffer_init(&body);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    unsigned count = 1;
    msgpack_object moved = {.type = MSGPACK_OBJECT_NIL};
    for (uint32_t i = 1; i < map.via.map.size; i++)
        count += edit_entry(&pk, e, map.via.map.ptr[i].key, map.via.map.ptr[i].val, &moved);
    if (e->op == E_MOVE_LAST) {
        pack_key(&pk, e->key);
        msgpack_pack_object(&pk, moved);
        count++;
    } else if (e->op == E_ADD || e->op == E_ADD_RAW) {
        if (e->op == E_ADD)
            pack_key(&pk, e->key);
        e->val(&pk);
        count++;
    }
    uint8_t *out = malloc(16 + body.size);
    uint8_t prefix[16] = {0xde, (uint8_t)(count >> 8), (uint8_t)count, 0xa3, 's', 'e', 'q', 0xcf};
    for (int i = 0; i < 8; i++)
        prefix[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
    memcpy(out, prefix, 16);
    memcpy(out + 16, body.data, body.size);
    *out_len = 16 + body.size;
    msgpack_sbuffer_destroy(&body);
    msgpack_unpacked_destroy(&u);
    return out;
}

/* Applies e to the given sample and checks the decode result. */
static void
expect_edit(enum folio_event_type type, int full, struct edit e, int want)
{
    struct folio_event ev;
    size_t len, elen;
    sample_event(type, full, &ev);
    uint8_t *buf = encode_ok(&ev, &len);
    uint8_t *ebuf = rebuild(buf, len, &e, &elen);
    if (want == FOLIO_OK) {
        struct folio_event got;
        int rc = decode_copy(ebuf, elen, &got);
        if (rc != FOLIO_OK)
            fail_msg("%s key %s: decode failed: %s", folio_event_type_name(type),
                     e.key ? e.key : "-", folio_err_name(rc));
        folio_event_clear(&got);
    } else {
        expect_decode_error(ebuf, elen, want);
    }
    free(ebuf);
    folio_free(buf);
}

/* Value packers for edits. */
static void v_int5(msgpack_packer *pk) { msgpack_pack_int(pk, 5); }
static void v_neg1(msgpack_packer *pk) { msgpack_pack_int(pk, -1); }
static void v_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void v_true(msgpack_packer *pk) { msgpack_pack_true(pk); }
static void v_float(msgpack_packer *pk) { msgpack_pack_double(pk, 1.5); }
static void v_str(msgpack_packer *pk) { pack_key(pk, "x"); }
static void v_bin(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, "x", 1); }
static void v_map(msgpack_packer *pk) { msgpack_pack_map(pk, 0); }
static void v_u64_max(msgpack_packer *pk) { msgpack_pack_uint64(pk, UINT64_MAX); }
static void v_u32_over(msgpack_packer *pk) { msgpack_pack_uint64(pk, (uint64_t)UINT32_MAX + 1); }
static void v_u32_max(msgpack_packer *pk) { msgpack_pack_uint64(pk, UINT32_MAX); }
static void v_i64_min(msgpack_packer *pk) { msgpack_pack_int64(pk, INT64_MIN); }
static void v_arr_int(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, 2);
}
static void v_arr_str(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pack_key(pk, "x");
    pack_key(pk, "y");
}
static void v_arr_neg(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_int(pk, -1);
}
static void v_arr_nil(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_nil(pk);
    msgpack_pack_nil(pk);
}
/* 5 packed in int64's 9-byte signed form: a non-negative signed int is a valid u64. */
static void
v_signed_form5(msgpack_packer *pk)
{
    static const char b[9] = {(char)0xd3, 0, 0, 0, 0, 0, 0, 0, 5};
    msgpack_sbuffer_write(pk->data, b, 9);
}

/* ---- tests --------------------------------------------------------------- */

/* Type names match the contract and parse back; bad input maps to NONE/NULL. */
static void
test_type_names(void **state)
{
    assert_int_equal(FOLIO_ARRAY_LEN(spec), FOLIO_EV_TYPE_COUNT - 1);
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(spec); i++) {
        assert_string_equal(folio_event_type_name(spec[i].type), spec[i].name);
        assert_int_equal(folio_event_type_parse(spec[i].name, strlen(spec[i].name)),
                         spec[i].type);
    }
    assert_null(folio_event_type_name(FOLIO_EV_NONE));
    assert_null(folio_event_type_name(FOLIO_EV_TYPE_COUNT));
    assert_null(folio_event_type_name((enum folio_event_type)-1));
    assert_int_equal(folio_event_type_parse("progres", 7), FOLIO_EV_NONE);
    assert_int_equal(folio_event_type_parse("progress", 7), FOLIO_EV_NONE);
    assert_int_equal(folio_event_type_parse("progressx", 9), FOLIO_EV_NONE);
    assert_int_equal(folio_event_type_parse("", 0), FOLIO_EV_NONE);
    assert_int_equal(folio_event_type_parse(NULL, 0), FOLIO_EV_NONE);

    struct folio_str s = folio_str_c("héllo");
    assert_int_equal(s.len, 6);
    s = folio_str_c(NULL);
    assert_null(s.ptr);
    assert_int_equal(s.len, 0);
}

static void
roundtrip(enum folio_event_type type, int full)
{
    struct folio_event ev, got, again;
    size_t len, len2;
    sample_event(type, full, &ev);
    uint8_t *buf = encode_ok(&ev, &len);
    assert_true(len <= FOLIO_EVENT_BYTES_MAX);
    uint8_t *copy = exact_copy(buf, len);
    assert_int_equal(folio_event_decode(copy, len, &got), FOLIO_OK);
    memset(copy, 0xee, len); /* decoded event must not point into the input */
    free(copy);
    assert_event_equal(&ev, &got);

    /* Re-encoding a decoded event reproduces the bytes. */
    uint8_t *buf2 = encode_ok(&got, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    assert_int_equal(folio_event_decode(buf2, len2, &again), FOLIO_OK);
    assert_event_equal(&ev, &again);

    folio_event_clear(&got);
    assert_null(got.owned_);
    assert_int_equal(got.type, FOLIO_EV_NONE);
    folio_event_clear(&again);
    folio_free(buf);
    folio_free(buf2);
}

/* Every type, every optional field present: encode -> decode -> every field equal. */
static void
test_roundtrip_full(void **state)
{
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(spec); i++)
        roundtrip(spec[i].type, 1);
}

/* Every type, every optional field absent (and edge values: INT64_MIN, count 0). */
static void
test_roundtrip_minimal(void **state)
{
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(spec); i++)
        roundtrip(spec[i].type, 0);
}

static void
check_wire_keys(const struct ttype *t, int full)
{
    struct folio_event ev;
    size_t len, off = 0;
    sample_event(t->type, full, &ev);
    uint8_t *buf = encode_ok(&ev, &len);
    static const uint8_t seq_key[] = {0xa3, 's', 'e', 'q', 0xcf};
    assert_int_equal(buf[0], 0xde); /* map16 even for few keys */
    assert_memory_equal(buf + 3, seq_key, 5);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, (const char *)buf, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
    const msgpack_object_map *m = &u.data.via.map;
    assert_int_equal(m->size, ((unsigned)buf[1] << 8) | buf[2]);
    const char *want[16] = {"seq", "type", "at"};
    size_t n = 3;
    for (int i = 0; i < spec_field_count(t); i++)
        if (full || !t->fields[i].optional)
            want[n++] = t->fields[i].key;
    assert_int_equal(m->size, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(m->ptr[i].key.type, MSGPACK_OBJECT_STR);
        assert_int_equal(m->ptr[i].key.via.str.size, strlen(want[i]));
        assert_memory_equal(m->ptr[i].key.via.str.ptr, want[i], strlen(want[i]));
    }
    assert_int_equal(m->ptr[1].val.type, MSGPACK_OBJECT_STR);
    assert_memory_equal(m->ptr[1].val.via.str.ptr, t->name, strlen(t->name));
    msgpack_unpacked_destroy(&u);
    folio_free(buf);
}

/* Keys on the wire, read back by msgpack-c: seq, type, at, then the struct's fields in order. */
static void
test_wire_keys(void **state)
{
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(spec); i++) {
        check_wire_keys(&spec[i], 1);
        check_wire_keys(&spec[i], 0);
    }
}

/* Exact bytes of one event, worked out by hand from the msgpack spec. */
static void
test_golden_bytes(void **state)
{
    static const uint8_t want[] = {
        0xde, 0x00, 0x06,                                     /* map16, 6 entries */
        0xa3, 's', 'e', 'q', 0xcf, 0, 0, 0, 0, 0, 0, 0, 1,    /* "seq": uint64 1 */
        0xa4, 't', 'y', 'p', 'e',                             /* "type" */
        0xb2, 'c', 'h', 'e', 'c', 'k', 'p', 'o', 'i', 'n', 't', '_', 'w', 'r', 'i', 't', 't',
        'e', 'n',                                             /* "checkpoint_written" */
        0xa2, 'a', 't', 0xff,                                 /* "at": -1 */
        0xae, 'c', 'h', 'e', 'c', 'k', 'p', 'o', 'i', 'n', 't', '_', 's', 'e', 'q', 0x03,
        0xaa, 's', 't', 'a', 't', 'e', '_', 'h', 'a', 's', 'h',
        0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* UINT64_MAX */
        0xa4, 'f', 'i', 'l', 'e', 0xa1, 'c',
    };
    struct folio_event ev = {.type = FOLIO_EV_CHECKPOINT_WRITTEN, .seq = 1, .at_ns = -1};
    ev.u.checkpoint_written = (struct folio_ev_checkpoint_written){3, UINT64_MAX, STR("c")};
    size_t len;
    uint8_t *buf = encode_ok(&ev, &len);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    folio_free(buf);

    struct folio_event got;
    assert_int_equal(folio_event_decode(want, sizeof(want), &got), FOLIO_OK);
    assert_event_equal(&ev, &got);
    folio_event_clear(&got);
}

static void
expect_json(const struct folio_event *ev, const char *want)
{
    size_t len;
    char *json = NULL;
    uint8_t *buf = encode_ok(ev, &len);
    assert_int_equal(folio_event_to_json(buf, len, &json), FOLIO_OK);
    assert_string_equal(json, want);
    folio_free(json);
    folio_free(buf);
}

/* JSON lines written by hand from the spec for a few types. */
static void
test_json_expected(void **state)
{
    struct folio_event ev = {.type = FOLIO_EV_PROGRESS, .seq = 42, .at_ns = 1700000000123456789};
    ev.u.progress = (struct folio_ev_progress){7, STR("indexing"), 2, 5};
    expect_json(&ev, "{\"seq\":42,\"type\":\"progress\",\"at\":1700000000123456789,"
                     "\"batch_uid\":7,\"step\":\"indexing\",\"step_index\":2,\"step_total\":5}");

    sample_event(FOLIO_EV_TASK_REGISTERED, 1, &ev);
    ev.u.task_registered.enqueued_at_ns = -5;
    expect_json(&ev, "{\"seq\":123456789,\"type\":\"task_registered\",\"at\":1700000000123456789,"
                     "\"task_uid\":11,\"kind\":\"indexCreation\","
                     "\"index_uids\":[\"movies\",\"b\xc3\xa9" "books\"],\"enqueued_at\":-5,"
                     "\"content\":{\"file\":\"abc\",\"size\":1234}}");

    sample_event(FOLIO_EV_TASK_FAILED, 0, &ev);
    expect_json(&ev, "{\"seq\":0,\"type\":\"task_failed\",\"at\":-9223372036854775808,"
                     "\"task_uid\":11,\"batch_uid\":5,\"finished_at\":-1,"
                     "\"error\":{\"message\":\"boom\",\"code\":\"internal\"}}");

    sample_event(FOLIO_EV_TASK_CANCELED, 0, &ev); /* canceled_by 0 is still written */
    expect_json(&ev, "{\"seq\":0,\"type\":\"task_canceled\",\"at\":-9223372036854775808,"
                     "\"task_uid\":11,\"batch_uid\":5,\"finished_at\":-1,\"canceled_by\":0}");

    sample_event(FOLIO_EV_INDEX_CREATED, 0, &ev); /* no primary_key key at all */
    expect_json(&ev, "{\"seq\":0,\"type\":\"index_created\",\"at\":-9223372036854775808,"
                     "\"index_uid\":\"movies\","
                     "\"index_uuid\":\"0b7b8e4c-0f7b-4c1e-9a53-1d2f3e4a5b6c\","
                     "\"task_uid\":12,\"changed_at\":1700000000000000002}");

    sample_event(FOLIO_EV_TASKS_DELETED, 0, &ev);
    ev.at_ns = 0;
    expect_json(&ev, "{\"seq\":0,\"type\":\"tasks_deleted\",\"at\":0,\"task_uid\":14,"
                     "\"task_uids\":[]}");
}

/* Generic rendering of nested values: every msgpack kind, escapes, non-string keys. */
static void
test_json_nested_values(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 12);
    pack_key(&pk, "s");
    msgpack_pack_str_with_body(&pk, "q\"b\\s/\n\x01\x7f", 9);
    pack_key(&pk, "bad");
    msgpack_pack_str_with_body(&pk, "a\xff" "b\xc3", 4); /* invalid UTF-8 is allowed nested */
    pack_key(&pk, "utf8");
    msgpack_pack_str_with_body(&pk, "\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e", 9);
    pack_key(&pk, "bin");
    msgpack_pack_bin_with_body(&pk, "\xde\xad\x00\xff", 4);
    pack_key(&pk, "nums");
    msgpack_pack_array(&pk, 6);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_double(&pk, 0.1);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_true(&pk);
    msgpack_pack_false(&pk);
    msgpack_pack_int(&pk, 1); /* non-string keys, rendered as strings */
    pack_key(&pk, "one");
    msgpack_pack_int(&pk, -2);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_map(&pk, 0);
    msgpack_pack_nil(&pk);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    pack_key(&pk, "a");
    msgpack_pack_int(&pk, 3);
    msgpack_pack_bin_with_body(&pk, "\x01", 1);
    msgpack_pack_int(&pk, 4);
    pack_key(&pk, "inf");
    msgpack_pack_double(&pk, INFINITY);

    struct folio_event ev = {.type = FOLIO_EV_TASK_SUCCEEDED, .seq = 1, .at_ns = 2};
    ev.u.task_outcome = (struct folio_ev_task_outcome){
        .task_uid = 3, .batch_uid = 4, .finished_at_ns = 5,
        .details = {(const uint8_t *)sb.data, (uint32_t)sb.size}};
    expect_json(&ev,
                "{\"seq\":1,\"type\":\"task_succeeded\",\"at\":2,\"task_uid\":3,\"batch_uid\":4,"
                "\"finished_at\":5,\"details\":{"
                "\"s\":\"q\\\"b\\\\s/\\u000a\\u0001\x7f\","
                "\"bad\":\"a\\ufffdb\\ufffd\","
                "\"utf8\":\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\","
                "\"bin\":\"dead00ff\","
                "\"nums\":[-9223372036854775808,18446744073709551615,0.10000000000000001,1.5,"
                "true,false],"
                "\"1\":\"one\",\"-2\":null,\"true\":{},\"null\":[],"
                "\"[1,\\\"a\\\"]\":3,\"01\":4,\"inf\":null}}");
    msgpack_sbuffer_destroy(&sb);
}

/*
 * Maps used as map keys render as strings of their JSON, so each level escapes
 * the one below again and the text doubles per level: a valid event whose
 * JSON would pass the output bound is FOLIO_E_TOO_LARGE, not a giant string.
 */
static void
test_json_output_bound(void **state)
{
    enum { LEVELS = 24, QUOTES = 100 };
    uint8_t obj[2 * LEVELS + 2 + QUOTES];
    size_t n = 0;
    for (int i = 0; i < LEVELS; i++)
        obj[n++] = 0x81; /* {key: nil}, the key being the next level */
    obj[n++] = 0xd9;     /* str8 of QUOTES '"' */
    obj[n++] = QUOTES;
    memset(obj + n, '"', QUOTES);
    n += QUOTES;
    for (int i = 0; i < LEVELS; i++)
        obj[n++] = 0xc0;
    struct folio_event ev = {.type = FOLIO_EV_TASK_SUCCEEDED, .seq = 1, .at_ns = 2};
    ev.u.task_outcome.details = (struct folio_object){obj, (uint32_t)n};
    size_t len;
    uint8_t *buf = encode_ok(&ev, &len);
    struct folio_event got;
    assert_int_equal(folio_event_decode(buf, len, &got), FOLIO_OK);
    folio_event_clear(&got);
    char *json = NULL;
    assert_int_equal(folio_event_to_json(buf, len, &json), FOLIO_E_TOO_LARGE);
    assert_null(json);
    folio_free(buf);

    /* Two levels render fine: {"{\"\\\"\":null}":null} for one quote. */
    static const uint8_t two[] = {0x81, 0x81, 0xa1, '"', 0xc0, 0xc0};
    ev.u.task_outcome.details = OBJ(two);
    expect_json(&ev, "{\"seq\":1,\"type\":\"task_succeeded\",\"at\":2,\"task_uid\":0,"
                     "\"batch_uid\":0,\"finished_at\":0,"
                     "\"details\":{\"{\\\"\\\\\\\"\\\":null}\":null}}");
}

/* The seq sits at a fixed offset: patch it in place, peek it without decoding. */
static void
test_seq_patch_and_peek(void **state)
{
    struct folio_event ev, got;
    size_t len;
    sample_event(FOLIO_EV_TASK_REGISTERED, 1, &ev);
    ev.seq = 0;
    uint8_t *buf = encode_ok(&ev, &len);
    uint64_t seq = 99;
    enum folio_event_type type = FOLIO_EV_NONE;
    int64_t at = 0;
    assert_int_equal(folio_event_peek(buf, len, &seq, &type, &at), FOLIO_OK);
    assert_true(seq == 0 && type == FOLIO_EV_TASK_REGISTERED && at == ev.at_ns);

    assert_int_equal(folio_event_patch_seq(buf, len, 0x0102030405060708ull), FOLIO_OK);
    static const uint8_t be[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(buf + FOLIO_EVENT_SEQ_OFFSET, be, 8);
    assert_int_equal(folio_event_peek(buf, len, &seq, NULL, NULL), FOLIO_OK);
    assert_true(seq == 0x0102030405060708ull);
    assert_int_equal(folio_event_peek(buf, len, NULL, NULL, NULL), FOLIO_OK);
    assert_int_equal(folio_event_decode(buf, len, &got), FOLIO_OK);
    assert_true(got.seq == 0x0102030405060708ull);
    folio_event_clear(&got);

    assert_int_equal(folio_event_patch_seq(buf, FOLIO_EVENT_PREFIX_LEN - 1, 1), FOLIO_E_INVALID);
    for (size_t i = 0; i < 8; i++) {
        if (i == 1 || i == 2)
            continue; /* the entry count may be anything */
        uint8_t *bad = exact_copy(buf, len);
        bad[i] ^= 0x01;
        assert_int_equal(folio_event_patch_seq(bad, len, 7), FOLIO_E_INVALID);
        assert_memory_equal(bad + 8, be, 8); /* untouched */
        assert_int_equal(folio_event_peek(bad, len, &seq, &type, &at), FOLIO_E_DECODE);
        free(bad);
    }
    folio_free(buf);
}

/* Peek works when type/at are not the first keys, and reports an unknown type. */
static void
test_peek_key_order_and_errors(void **state)
{
    struct folio_event ev;
    size_t len, elen;
    sample_event(FOLIO_EV_PROGRESS, 1, &ev);
    uint8_t *buf = encode_ok(&ev, &len);
    struct edit e = {E_MOVE_LAST, "type", NULL};
    uint8_t *moved = rebuild(buf, len, &e, &elen);
    struct edit e2 = {E_MOVE_LAST, "at", NULL};
    size_t elen2;
    uint8_t *moved2 = rebuild(moved, elen, &e2, &elen2);
    enum folio_event_type type;
    int64_t at;
    uint64_t seq;
    assert_int_equal(folio_event_peek(moved2, elen2, &seq, &type, &at), FOLIO_OK);
    assert_true(seq == ev.seq && type == FOLIO_EV_PROGRESS && at == ev.at_ns);

    /* Keys in any order decode to the same event. */
    struct folio_event got;
    assert_int_equal(decode_copy(moved2, elen2, &got), FOLIO_OK);
    assert_event_equal(&ev, &got);
    folio_event_clear(&got);
    free(moved);
    free(moved2);

    static const uint8_t unknown[] = {0xde, 0, 3, 0xa3, 's', 'e', 'q', 0xcf, 0, 0, 0, 0, 0, 0,
                                      0, 1, 0xa4, 't', 'y', 'p', 'e', 0xa1, 'x', 0xa2, 'a', 't',
                                      0x01};
    assert_int_equal(folio_event_peek(unknown, sizeof(unknown), NULL, NULL, NULL),
                     FOLIO_E_UNKNOWN_TYPE);
    for (size_t n = 0; n < len; n++) {
        uint8_t *c = exact_copy(buf, n);
        int rc = folio_event_peek(c, n, &seq, &type, &at);
        /* Peek reads through "at"'s value: prefix 16, "type" 5, "progress" 9, "at" 3, 9. */
        assert_int_equal(rc == FOLIO_OK, n >= 42);
        free(c);
    }
    folio_free(buf);
}

/* Every proper prefix of every sample is an error (and never an over-read). */
static void
test_decode_truncated(void **state)
{
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(spec); i++) {
        for (int full = 0; full <= 1; full++) {
            struct folio_event ev;
            size_t len;
            sample_event(spec[i].type, full, &ev);
            uint8_t *buf = encode_ok(&ev, &len);
            for (size_t n = 0; n < len; n++) {
                struct folio_event got;
                int rc = decode_copy(buf, n, &got);
                if (rc != FOLIO_E_DECODE)
                    fail_msg("%s truncated to %zu: %s", spec[i].name, n, folio_err_name(rc));
                uint8_t *c = exact_copy(buf, n);
                char *json = NULL;
                assert_int_not_equal(folio_event_to_json(c, n, &json), FOLIO_OK);
                folio_event_peek(c, n, NULL, NULL, NULL);
                free(c);
            }
            folio_free(buf);
        }
    }
}

static void
v_type_unknown(msgpack_packer *pk)
{
    pack_key(pk, "task_exploded");
}
static void
v_type_prefix(msgpack_packer *pk)
{
    pack_key(pk, "task_");
}
static void
v_type_empty(msgpack_packer *pk)
{
    msgpack_pack_str_with_body(pk, "", 0);
}

/* An unknown type name is FOLIO_E_UNKNOWN_TYPE; a missing or non-string type is malformed. */
static void
test_decode_unknown_type(void **state)
{
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_REPLACE, "type", v_type_unknown},
                FOLIO_E_UNKNOWN_TYPE);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_REPLACE, "type", v_type_prefix},
                FOLIO_E_UNKNOWN_TYPE);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_REPLACE, "type", v_type_empty},
                FOLIO_E_UNKNOWN_TYPE);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_REPLACE, "type", v_int5}, FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_REPLACE, "type", v_bin}, FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_DROP, "type", NULL}, FOLIO_E_DECODE);
    /* The harness itself: an unedited rebuild and a reordering decode fine. */
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_NONE, NULL, NULL}, FOLIO_OK);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_MOVE_LAST, "type", NULL}, FOLIO_OK);
}

static void
v_key_int(msgpack_packer *pk)
{
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, 5);
}
static void
v_key_seq(msgpack_packer *pk)
{
    pack_key(pk, "seq");
    msgpack_pack_uint64(pk, 1);
}

/* Unknown keys, keys of another type sharing the struct, non-string keys, repeats. */
static void
test_decode_unknown_and_repeated_keys(void **state)
{
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_ADD, "bogus", v_int5}, FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_ADD, "Step", v_str}, FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_ADD_RAW, NULL, v_key_int}, FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_ADD_RAW, NULL, v_key_seq}, FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_TASK_SUCCEEDED, 1, (struct edit){E_ADD, "error", v_map}, FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_TASK_SUCCEEDED, 1, (struct edit){E_ADD, "canceled_by", v_int5},
                FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_TASK_FAILED, 1, (struct edit){E_ADD, "canceled_by", v_int5},
                FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_TASK_CANCELED, 1, (struct edit){E_ADD, "error", v_map}, FOLIO_E_DECODE);
    /* Wire keys drop "_ns": the C name is not a key. */
    expect_edit(FOLIO_EV_TASK_FAILED, 1, (struct edit){E_ADD, "finished_at_ns", v_int5},
                FOLIO_E_DECODE);

    for (size_t i = 0; i < FOLIO_ARRAY_LEN(spec); i++) {
        expect_edit(spec[i].type, 1, (struct edit){E_DUP, "type", NULL}, FOLIO_E_DECODE);
        expect_edit(spec[i].type, 1, (struct edit){E_DUP, "at", NULL}, FOLIO_E_DECODE);
        for (int f = 0; f < spec_field_count(&spec[i]); f++)
            expect_edit(spec[i].type, 1, (struct edit){E_DUP, spec[i].fields[f].key, NULL},
                        FOLIO_E_DECODE);
    }
}

/* Dropping a required key fails for every type; dropping an optional one does not. */
static void
test_decode_missing_fields(void **state)
{
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(spec); i++) {
        expect_edit(spec[i].type, 1, (struct edit){E_DROP, "at", NULL}, FOLIO_E_DECODE);
        for (int f = 0; f < spec_field_count(&spec[i]); f++) {
            const struct tfield *tf = &spec[i].fields[f];
            expect_edit(spec[i].type, 1, (struct edit){E_DROP, tf->key, NULL},
                        tf->optional ? FOLIO_OK : FOLIO_E_DECODE);
        }
    }
}

typedef void (*packer_fn)(msgpack_packer *pk);

/* Values of the wrong msgpack type for each field kind. */
static const packer_fn wrong_u64[] = {v_str, v_nil, v_neg1, v_float, v_true, v_arr_int, v_map,
                                      v_bin, NULL};
static const packer_fn wrong_i64[] = {v_str, v_nil, v_float, v_true, v_u64_max, v_arr_int,
                                      v_map, NULL};
static const packer_fn wrong_u32[] = {v_str, v_nil, v_neg1, v_float, v_u32_over, v_map, NULL};
static const packer_fn wrong_str[] = {v_int5, v_nil, v_bin, v_arr_str, v_map, v_true, NULL};
static const packer_fn wrong_strs[] = {v_str, v_int5, v_nil, v_arr_int, v_arr_nil, v_map, NULL};
static const packer_fn wrong_u64s[] = {v_int5, v_str, v_nil, v_arr_str, v_arr_neg, v_arr_nil,
                                       v_map, NULL};
static const packer_fn wrong_obj[] = {v_int5, v_str, v_true, v_arr_int, v_bin, v_float, NULL};

static const packer_fn *
wrong_values(enum tkind k)
{
    switch (k) {
    case T_U64: return wrong_u64;
    case T_I64: return wrong_i64;
    case T_U32: return wrong_u32;
    case T_STR: return wrong_str;
    case T_STRS: return wrong_strs;
    case T_U64S: return wrong_u64s;
    case T_OBJ: return wrong_obj;
    }
    return NULL;
}

static void
check_wrong_values(enum folio_event_type type, const struct tfield *tf)
{
    for (const packer_fn *v = wrong_values(tf->kind); *v != NULL; v++)
        expect_edit(type, 1, (struct edit){E_REPLACE, tf->key, *v}, FOLIO_E_DECODE);
}

/* Every field of every type rejects every msgpack type its kind does not allow. */
static void
test_decode_wrong_types(void **state)
{
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(spec); i++) {
        check_wrong_values(spec[i].type, &at_field);
        for (int f = 0; f < spec_field_count(&spec[i]); f++)
            check_wrong_values(spec[i].type, &spec[i].fields[f]);
    }
    /* And the right types in their other forms are accepted. */
    expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "content", v_nil}, FOLIO_OK);
    expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "content", v_map}, FOLIO_OK);
    expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "task_uid", v_signed_form5},
                FOLIO_OK);
    expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "enqueued_at", v_i64_min},
                FOLIO_OK);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_REPLACE, "step_index", v_u32_max}, FOLIO_OK);
    expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "task_uid", v_u64_max},
                FOLIO_OK);
}

/* The values decode to what was packed, whatever int form was used. */
static void
test_decode_int_forms(void **state)
{
    struct folio_event ev, got;
    size_t len, elen;
    sample_event(FOLIO_EV_PROGRESS, 1, &ev);
    uint8_t *buf = encode_ok(&ev, &len);
    struct edit e = {E_REPLACE, "batch_uid", v_signed_form5};
    uint8_t *ebuf = rebuild(buf, len, &e, &elen);
    assert_int_equal(decode_copy(ebuf, elen, &got), FOLIO_OK);
    assert_int_equal(got.u.progress.batch_uid, 5);
    assert_int_equal(got.u.progress.step_total, UINT32_MAX);
    folio_event_clear(&got);
    free(ebuf);
    folio_free(buf);
}

static size_t str_len_param;
static void
v_long_str(msgpack_packer *pk)
{
    char *s = malloc(str_len_param);
    memset(s, 'k', str_len_param);
    msgpack_pack_str_with_body(pk, s, str_len_param);
    free(s);
}
static void
v_arr_long_str(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pack_key(pk, "ok");
    v_long_str(pk);
}
static uint32_t array_len_param;
static void
v_long_u64_array(msgpack_packer *pk)
{
    msgpack_pack_array(pk, array_len_param);
    for (uint32_t i = 0; i < array_len_param; i++)
        msgpack_pack_uint64(pk, i);
}
static size_t obj_len_param;
/* {"b": bin(n)} of exactly obj_len_param bytes (1 + 2 + 5 bytes of headers). */
static void
v_big_object(msgpack_packer *pk)
{
    size_t n = obj_len_param - 8;
    uint8_t *b = calloc(1, n);
    msgpack_pack_map(pk, 1);
    pack_key(pk, "b");
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, b, n);
    free(b);
}
static unsigned depth_param;
/* depth_param maps nested in each other: {"a":{"a":...{}}}, ending in an empty array inside. */
static void
v_deep_object(msgpack_packer *pk)
{
    for (unsigned i = 1; i < depth_param; i++) {
        msgpack_pack_map(pk, 1);
        pack_key(pk, "a");
    }
    msgpack_pack_array(pk, 0);
}

/* Strings, arrays and objects at their limits pass; one past them is FOLIO_E_TOO_LARGE. */
static void
test_decode_bounds(void **state)
{
    str_len_param = FOLIO_EVENT_STR_MAX;
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_REPLACE, "step", v_long_str}, FOLIO_OK);
    expect_edit(FOLIO_EV_INDEXES_SWAPPED, 1, (struct edit){E_REPLACE, "index_uids",
                v_arr_long_str}, FOLIO_OK);
    str_len_param = FOLIO_EVENT_STR_MAX + 1;
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_REPLACE, "step", v_long_str},
                FOLIO_E_TOO_LARGE);
    expect_edit(FOLIO_EV_INDEXES_SWAPPED, 1, (struct edit){E_REPLACE, "index_uids",
                v_arr_long_str}, FOLIO_E_TOO_LARGE);

    array_len_param = FOLIO_EVENT_ARRAY_MAX;
    expect_edit(FOLIO_EV_TASKS_DELETED, 1, (struct edit){E_REPLACE, "task_uids",
                v_long_u64_array}, FOLIO_OK);
    array_len_param = FOLIO_EVENT_ARRAY_MAX + 1;
    expect_edit(FOLIO_EV_TASKS_DELETED, 1, (struct edit){E_REPLACE, "task_uids",
                v_long_u64_array}, FOLIO_E_TOO_LARGE);

    obj_len_param = FOLIO_EVENT_OBJECT_BYTES_MAX;
    expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "content", v_big_object},
                FOLIO_OK);
    obj_len_param = FOLIO_EVENT_OBJECT_BYTES_MAX + 1;
    expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "content", v_big_object},
                FOLIO_E_TOO_LARGE);

    depth_param = FOLIO_EVENT_OBJECT_DEPTH_MAX;
    expect_edit(FOLIO_EV_TASK_FAILED, 1, (struct edit){E_REPLACE, "error", v_deep_object},
                FOLIO_OK);
    depth_param = FOLIO_EVENT_OBJECT_DEPTH_MAX + 1;
    expect_edit(FOLIO_EV_TASK_FAILED, 1, (struct edit){E_REPLACE, "error", v_deep_object},
                FOLIO_E_TOO_LARGE);

    /* A whole event over FOLIO_EVENT_BYTES_MAX. */
    uint8_t *huge = calloc(1, FOLIO_EVENT_BYTES_MAX + 1);
    expect_decode_error(huge, FOLIO_EVENT_BYTES_MAX + 1, FOLIO_E_TOO_LARGE);
    assert_int_equal(folio_event_peek(huge, FOLIO_EVENT_BYTES_MAX + 1, NULL, NULL, NULL),
                     FOLIO_E_TOO_LARGE);
    free(huge);
}

/* Extra bytes after the map, or a map count larger than its entries. */
static void
test_decode_trailing_and_count(void **state)
{
    struct folio_event ev;
    size_t len;
    sample_event(FOLIO_EV_TASK_REQUEUED, 1, &ev);
    uint8_t *buf = encode_ok(&ev, &len);
    uint8_t *more = malloc(len + 1);
    memcpy(more, buf, len);
    more[len] = 0xc0;
    expect_decode_error(more, len + 1, FOLIO_E_DECODE);
    more[len] = 0x00;
    expect_decode_error(more, len + 1, FOLIO_E_DECODE);
    more[2]++; /* one more entry than present: "nil" is not a key */
    expect_decode_error(more, len + 1, FOLIO_E_DECODE);
    free(more);

    uint8_t *c = exact_copy(buf, len);
    c[2]++;
    expect_decode_error(c, len, FOLIO_E_DECODE);
    c[2] -= 2; /* one fewer: the last entry becomes trailing bytes */
    expect_decode_error(c, len, FOLIO_E_DECODE);
    free(c);
    folio_free(buf);
}

static const char *utf8_param;
static void
v_utf8(msgpack_packer *pk)
{
    pack_key(pk, utf8_param);
}
static void
v_arr_utf8(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pack_key(pk, "ok");
    pack_key(pk, utf8_param);
}

/* Top-level strings must be well-formed UTF-8. */
static void
test_decode_invalid_utf8(void **state)
{
    static const char *bad[] = {
        "\x80",             /* lone continuation */
        "a\xc3",            /* truncated 2-byte sequence */
        "\xe2\x82",         /* truncated 3-byte sequence */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xf0\x80\x80\xaf", /* overlong 4-byte */
        "\xed\xa0\x80",     /* UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* beyond U+10FFFF */
        "\xf5\x80\x80\x80", /* invalid lead */
        "\xff",
        "abcdefgh\xe9xyz", /* after an all-ASCII word */
    };
    static const char *good[] = {"\xc3\xa9", "\xe2\x82\xac", "\xef\xbf\xbf", "\xf0\x9d\x84\x9e",
                                 "\xf4\x8f\xbf\xbf", "\x7f", "abcdefghijklmnop\xc3\xa9"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(bad); i++) {
        utf8_param = bad[i];
        expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "kind", v_utf8},
                    FOLIO_E_DECODE);
        expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "index_uids",
                    v_arr_utf8}, FOLIO_E_DECODE);
    }
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(good); i++) {
        utf8_param = good[i];
        expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "kind", v_utf8},
                    FOLIO_OK);
        expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "index_uids",
                    v_arr_utf8}, FOLIO_OK);
    }
}

static void
v_arr_empty(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 0);
}
static void
v_arr_str3(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    pack_key(pk, "a");
    pack_key(pk, "b");
    pack_key(pk, "c");
}

/* Array lengths the contract forbids: no tasks in a batch, no or odd swap pairs. */
static void
test_decode_array_counts(void **state)
{
    expect_edit(FOLIO_EV_BATCH_STARTED, 1, (struct edit){E_REPLACE, "task_uids", v_arr_empty},
                FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_INDEXES_SWAPPED, 1, (struct edit){E_REPLACE, "index_uids", v_arr_empty},
                FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_INDEXES_SWAPPED, 1, (struct edit){E_REPLACE, "index_uids", v_arr_str3},
                FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_INDEXES_SWAPPED, 1, (struct edit){E_REPLACE, "index_uids", v_arr_str},
                FOLIO_OK);
    expect_edit(FOLIO_EV_TASKS_DELETED, 1, (struct edit){E_REPLACE, "task_uids", v_arr_empty},
                FOLIO_OK);
    /* An optional array may be present and empty; it reads as absent. */
    expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "index_uids", v_arr_empty},
                FOLIO_OK);
}

/* Negative numbers for unsigned fields, and numbers too big for their field. */
static void
test_decode_integer_ranges(void **state)
{
    expect_edit(FOLIO_EV_TASK_REGISTERED, 1, (struct edit){E_REPLACE, "task_uid", v_neg1},
                FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_TASKS_DELETED, 1, (struct edit){E_REPLACE, "task_uids", v_arr_neg},
                FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_REPLACE, "step_total", v_u32_over},
                FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_REPLACE, "at", v_u64_max}, FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_PROGRESS, 1, (struct edit){E_REPLACE, "at", v_neg1}, FOLIO_OK);
}

static void
pack_prefixless(msgpack_packer *pk, int map32, int small_seq)
{
    if (map32) {
        static const char hdr[5] = {(char)0xdf, 0, 0, 0, 3};
        msgpack_sbuffer_write(pk->data, hdr, 5);
    } else {
        msgpack_pack_map(pk, 3); /* fixmap */
    }
    pack_key(pk, "seq");
    if (small_seq)
        msgpack_pack_uint64(pk, 1);
    else
        msgpack_sbuffer_write(pk->data, "\xcf\0\0\0\0\0\0\0\x01", 9);
    pack_key(pk, "type");
    pack_key(pk, "server_started");
    pack_key(pk, "at");
    msgpack_pack_int(pk, 1);
}

/* Without the exact 16-byte prefix nothing decodes, even an otherwise fine map. */
static void
test_decode_requires_prefix(void **state)
{
    for (int variant = 0; variant < 3; variant++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        pack_prefixless(&pk, variant == 1, variant == 2);
        expect_decode_error((const uint8_t *)sb.data, sb.size, FOLIO_E_DECODE);
        assert_int_equal(folio_event_patch_seq((uint8_t *)sb.data, sb.size, 5), FOLIO_E_INVALID);
        msgpack_sbuffer_destroy(&sb);
    }
    struct folio_event ev;
    size_t len;
    sample_event(FOLIO_EV_SERVER_STARTED, 1, &ev);
    uint8_t *buf = encode_ok(&ev, &len);
    static const size_t flips[] = {0, 3, 4, 5, 6, 7};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(flips); i++) {
        uint8_t *c = exact_copy(buf, len);
        c[flips[i]] ^= 0x20; /* e.g. "seq" -> "SEQ", map16 -> fixmap range */
        expect_decode_error(c, len, FOLIO_E_DECODE);
        free(c);
    }
    expect_decode_error(buf, 0, FOLIO_E_DECODE);
    expect_decode_error(NULL, 0, FOLIO_E_DECODE);
    folio_free(buf);
}

static void
v_ext_object(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pack_key(pk, "e");
    msgpack_pack_ext_with_body(pk, "ab", 2, 7);
}
static void
v_c1_object(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pack_key(pk, "e");
    msgpack_sbuffer_write(pk->data, "\xc1", 1);
}

/* Nested objects: ext values and the reserved 0xc1 byte are malformed. */
static void
test_decode_bad_objects(void **state)
{
    expect_edit(FOLIO_EV_TASK_SUCCEEDED, 1, (struct edit){E_REPLACE, "details", v_ext_object},
                FOLIO_E_DECODE);
    expect_edit(FOLIO_EV_TASK_SUCCEEDED, 1, (struct edit){E_REPLACE, "details", v_c1_object},
                FOLIO_E_DECODE);
}

/* ---- the decoder's fast paths against every form the contract allows ---- */

/* An integer packed in one particular msgpack form, and its value. */
struct int_form {
    uint8_t bytes[9];
    size_t len;
    int negative; /* the value is i if set, else u */
    uint64_t u;
    int64_t i;
};

#define FF8 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
static const struct int_form int_forms[] = {
    {{0x00}, 1, 0, 0, 0},
    {{0x7f}, 1, 0, 127, 0},
    {{0xcc, 0x05}, 2, 0, 5, 0}, /* small values in wide forms */
    {{0xcd, 0x00, 0x05}, 3, 0, 5, 0},
    {{0xce, 0, 0, 0, 0x05}, 5, 0, 5, 0},
    {{0xcf, 0, 0, 0, 0, 0, 0, 0, 0x05}, 9, 0, 5, 0},
    {{0xcc, 0xff}, 2, 0, 255, 0},
    {{0xcd, 0xff, 0xff}, 3, 0, 65535, 0},
    {{0xce, 0xff, 0xff, 0xff, 0xff}, 5, 0, UINT32_MAX, 0},
    {{0xcf, 0, 0, 0, 0x01, 0, 0, 0, 0}, 9, 0, (uint64_t)UINT32_MAX + 1, 0},
    {{0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, 0, INT64_MAX, 0},
    {{0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9, 0, (uint64_t)INT64_MAX + 1, 0},
    {{0xcf, FF8}, 9, 0, UINT64_MAX, 0},
    {{0xd0, 0x05}, 2, 0, 5, 0}, /* non-negative values in signed forms */
    {{0xd1, 0x00, 0x05}, 3, 0, 5, 0},
    {{0xd2, 0x7f, 0xff, 0xff, 0xff}, 5, 0, INT32_MAX, 0},
    {{0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, 0, INT64_MAX, 0},
    {{0xff}, 1, 1, 0, -1},
    {{0xe0}, 1, 1, 0, -32},
    {{0xd0, 0x80}, 2, 1, 0, -128},
    {{0xd1, 0x80, 0x00}, 3, 1, 0, -32768},
    {{0xd2, 0x80, 0, 0, 0}, 5, 1, 0, INT32_MIN},
    {{0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9, 1, 0, INT64_MIN},
    {{0xd3, FF8}, 9, 1, 0, -1},
};

static const uint8_t *raw_param;
static size_t raw_len_param;
static void
v_raw(msgpack_packer *pk)
{
    msgpack_sbuffer_write(pk->data, (const char *)raw_param, raw_len_param);
}
static void
v_raw_in_array(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 1);
    v_raw(pk);
}

/* What the contract says a field of kind k holds for f: 1 and *want if accepted, else 0. */
static int
int_form_accepted(enum tkind k, const struct int_form *f, uint64_t *want)
{
    *want = f->negative ? (uint64_t)f->i : f->u;
    if (k == T_I64)
        return f->negative || f->u <= INT64_MAX;
    if (k == T_U32)
        return !f->negative && f->u <= UINT32_MAX;
    return !f->negative;
}

/* Progress fields by key, widened to 64 bits (signed ones as their bit pattern). */
static uint64_t
progress_int(const struct folio_event *ev, const char *key)
{
    if (strcmp(key, "at") == 0)
        return (uint64_t)ev->at_ns;
    if (strcmp(key, "batch_uid") == 0)
        return ev->u.progress.batch_uid;
    if (strcmp(key, "step_index") == 0)
        return ev->u.progress.step_index;
    return ev->u.progress.step_total;
}

/* Packs the field in form f into buf (an encoded progress event) and checks the result. */
static void
check_int_form(const uint8_t *buf, size_t len, const struct tfield *tf, const struct int_form *f)
{
    uint64_t want;
    int ok = int_form_accepted(tf->kind, f, &want);
    raw_param = f->bytes;
    raw_len_param = f->len;
    struct edit e = {E_REPLACE, tf->key, v_raw};
    size_t elen;
    uint8_t *ebuf = rebuild(buf, len, &e, &elen);
    struct folio_event got;
    int rc = decode_copy(ebuf, elen, &got);
    if (rc != (ok ? FOLIO_OK : FOLIO_E_DECODE))
        fail_msg("%s as %02x (%zu bytes): %s", tf->key, f->bytes[0], f->len, folio_err_name(rc));
    if (ok && progress_int(&got, tf->key) != want)
        fail_msg("%s as %02x (%zu bytes): wrong value", tf->key, f->bytes[0], f->len);
    folio_event_clear(&got);
    free(ebuf);
}

/*
 * Every integer form for an I64 field (first), a U64, and two U32s (the last
 * one at the very end of the event, where few bytes are left), with the keys
 * as the encoder writes them and with "type" moved last (another order).
 */
static void
test_decode_every_int_form(void **state)
{
    static const struct tfield fields[] = {{"at", T_I64, 0},
                                           {"batch_uid", T_U64, 0},
                                           {"step_index", T_U32, 0},
                                           {"step_total", T_U32, 0}};
    struct folio_event ev;
    size_t len, moved_len;
    sample_event(FOLIO_EV_PROGRESS, 1, &ev);
    uint8_t *buf = encode_ok(&ev, &len);
    struct edit move = {E_MOVE_LAST, "type", NULL};
    uint8_t *moved = rebuild(buf, len, &move, &moved_len);
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(fields); i++) {
        for (size_t f = 0; f < FOLIO_ARRAY_LEN(int_forms); f++) {
            check_int_form(buf, len, &fields[i], &int_forms[f]);
            check_int_form(moved, moved_len, &fields[i], &int_forms[f]);
        }
    }
    /* Items of a u64 array, last in the event. */
    for (size_t f = 0; f < FOLIO_ARRAY_LEN(int_forms); f++) {
        uint64_t want;
        int ok = int_form_accepted(T_U64, &int_forms[f], &want);
        raw_param = int_forms[f].bytes;
        raw_len_param = int_forms[f].len;
        struct edit e = {E_REPLACE, "task_uids", v_raw_in_array};
        expect_edit(FOLIO_EV_TASKS_DELETED, 1, e, ok ? FOLIO_OK : FOLIO_E_DECODE);
    }
    free(moved);
    folio_free(buf);
}

/* A string field by key, for the events the string tests use. */
static struct folio_str
str_field(const struct folio_event *ev, const char *key)
{
    if (strcmp(key, "kind") == 0)
        return ev->u.task_registered.kind;
    if (strcmp(key, "step") == 0)
        return ev->u.progress.step;
    return ev->u.task_requeued.reason;
}

/* s[0..n) packed with a header of the given width (0: the shortest) into key's field. */
static void
pack_str_form(msgpack_packer *pk, const uint8_t *s, size_t n, int width)
{
    uint8_t hdr[5];
    size_t h = 0;
    if (width == 0 && n < 32) {
        hdr[h++] = (uint8_t)(0xa0 | n);
    } else if (width <= 1 && n < 256) {
        hdr[h++] = 0xd9;
        hdr[h++] = (uint8_t)n;
    } else if (width <= 2) {
        hdr[h++] = 0xda;
        hdr[h++] = (uint8_t)(n >> 8);
        hdr[h++] = (uint8_t)n;
    } else {
        hdr[h++] = 0xdb;
        for (int i = 3; i >= 0; i--)
            hdr[h++] = (uint8_t)(n >> (8 * i));
    }
    msgpack_sbuffer_write(pk->data, (const char *)hdr, h);
    msgpack_sbuffer_write(pk->data, (const char *)s, n);
}

static int str_width_param;
static void
v_str_form(msgpack_packer *pk)
{
    pack_str_form(pk, raw_param, raw_len_param, str_width_param);
}

/* Replaces key's string in a sample of type with s[0..n) and checks the result. */
static void
check_str(enum folio_event_type type, const char *key, const uint8_t *s, size_t n, int width,
          int want)
{
    struct folio_event ev, got;
    size_t len, elen;
    sample_event(type, 1, &ev);
    uint8_t *buf = encode_ok(&ev, &len);
    raw_param = s;
    raw_len_param = n;
    str_width_param = width;
    struct edit e = {E_REPLACE, key, v_str_form};
    uint8_t *ebuf = rebuild(buf, len, &e, &elen);
    int rc = decode_copy(ebuf, elen, &got);
    if (rc != want)
        fail_msg("%s of %zu bytes (width %d): %s, want %s", key, n, width, folio_err_name(rc),
                 folio_err_name(want));
    if (rc == FOLIO_OK) {
        struct folio_str str = str_field(&got, key);
        assert_int_equal(str.len, n);
        if (n > 0)
            assert_memory_equal(str.ptr, s, n);
        assert_int_equal(str.ptr[n], '\0');
    }
    folio_free(buf);
    free(ebuf);
    folio_event_clear(&got);
}

/*
 * Strings of every length up to 40 (short ones are checked a word at a
 * time), in the middle of an event and at its very end: all ASCII, in every
 * header width, with a two-byte character at each position, and with an
 * invalid byte at each position.
 */
static void
test_decode_string_every_length(void **state)
{
    static const struct {
        enum folio_event_type type;
        const char *key;
    } where[] = {{FOLIO_EV_TASK_REGISTERED, "kind"}, {FOLIO_EV_PROGRESS, "step"},
                 {FOLIO_EV_TASK_REQUEUED, "reason"}};
    uint8_t s[41];
    for (size_t w = 0; w < FOLIO_ARRAY_LEN(where); w++) {
        for (size_t n = 0; n <= 40; n++) {
            for (size_t i = 0; i < n; i++)
                s[i] = (uint8_t)('a' + i % 26);
            for (int width = 0; width <= 3; width++)
                check_str(where[w].type, where[w].key, s, n, width, FOLIO_OK);
            for (size_t i = 0; i < n; i++) {
                uint8_t keep = s[i];
                s[i] = 0x80; /* a lone continuation byte */
                check_str(where[w].type, where[w].key, s, n, 0, FOLIO_E_DECODE);
                s[i] = 0xff;
                check_str(where[w].type, where[w].key, s, n, 1, FOLIO_E_DECODE);
                if (i + 1 < n) {
                    uint8_t keep2 = s[i + 1];
                    s[i] = 0xc3; /* é */
                    s[i + 1] = 0xa9;
                    check_str(where[w].type, where[w].key, s, n, 0, FOLIO_OK);
                    s[i + 1] = keep2;
                }
                s[i] = keep;
            }
        }
    }
}

/*
 * Re-packs an encoded event with its entries after "seq" in reverse order
 * and/or every key as a str8 instead of a fixstr. The caller frees.
 */
static uint8_t *
rebuild_layout(const uint8_t *buf, size_t len, int reverse, int str8_keys, size_t *out_len)
{
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, (const char *)buf, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    const msgpack_object_map *m = &u.data.via.map;
    msgpack_sbuffer body;
    msgpack_packer pk;
    msgpack_sbuffer_init(&body);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    for (uint32_t n = 1; n < m->size; n++) {
        const msgpack_object_kv *kv = &m->ptr[reverse ? m->size - n : n];
        if (str8_keys)
            pack_str_form(&pk, (const uint8_t *)kv->key.via.str.ptr, kv->key.via.str.size, 1);
        else
            msgpack_pack_object(&pk, kv->key);
        msgpack_pack_object(&pk, kv->val);
    }
    uint8_t *out = malloc(FOLIO_EVENT_PREFIX_LEN + body.size);
    memcpy(out, buf, FOLIO_EVENT_PREFIX_LEN); /* the prefix, entry count included, is unchanged */
    memcpy(out + FOLIO_EVENT_PREFIX_LEN, body.data, body.size);
    *out_len = FOLIO_EVENT_PREFIX_LEN + body.size;
    msgpack_sbuffer_destroy(&body);
    msgpack_unpacked_destroy(&u);
    return out;
}

/* Decodes buf, which must hold the same event as want. */
static void
expect_same_event(const uint8_t *buf, size_t len, const struct folio_event *want, const char *what)
{
    struct folio_event got;
    int rc = decode_copy(buf, len, &got);
    if (rc != FOLIO_OK)
        fail_msg("%s %s: %s", folio_event_type_name(want->type), what, folio_err_name(rc));
    assert_event_equal(want, &got);
    folio_event_clear(&got);
}

/*
 * Every type, with each field moved to the end (after fields with strings,
 * arrays or objects have been read in the encoder's order), with all keys in
 * reverse order and/or as str8: the same event as the encoder's layout.
 */
static void
test_decode_key_layouts(void **state)
{
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(spec); i++) {
        for (int full = 0; full <= 1; full++) {
            struct folio_event ev;
            size_t len;
            sample_event(spec[i].type, full, &ev);
            uint8_t *buf = encode_ok(&ev, &len);
            for (int f = 0; f < spec_field_count(&spec[i]); f++) {
                struct edit e = {E_MOVE_LAST, spec[i].fields[f].key, NULL};
                size_t elen;
                if (!full && spec[i].fields[f].optional)
                    continue; /* absent: nothing to move */
                uint8_t *ebuf = rebuild(buf, len, &e, &elen);
                expect_same_event(ebuf, elen, &ev, spec[i].fields[f].key);
                free(ebuf);
            }
            for (int layout = 1; layout <= 3; layout++) {
                size_t elen;
                uint8_t *ebuf = rebuild_layout(buf, len, layout & 1, layout & 2, &elen);
                expect_same_event(ebuf, elen, &ev, layout & 1 ? "reversed" : "str8 keys");
                /* Still strict: one more entry than the count says is trailing bytes. */
                uint8_t *more = malloc(elen + 2);
                memcpy(more, ebuf, elen);
                memcpy(more + elen, "\xa1x", 2);
                expect_decode_error(more, elen + 2, FOLIO_E_DECODE);
                free(more);
                free(ebuf);
            }
            folio_free(buf);
        }
    }
}

/* Decrements the map16 entry count of an encoded event in place. */
static void
drop_count(uint8_t *buf)
{
    unsigned count = ((unsigned)buf[1] << 8 | buf[2]) - 1;
    buf[1] = (uint8_t)(count >> 8);
    buf[2] = (uint8_t)count;
}

/*
 * The entry count bounds what is read: with one entry fewer than present,
 * the last entry is trailing bytes (FOLIO_E_DECODE) even when its value,
 * had it been read, is too large; whether that field is required or not.
 */
static void
test_decode_count_bounds_entries(void **state)
{
    static const struct {
        enum folio_event_type type;
        const char *key;
        void (*val)(msgpack_packer *pk);
    } last[] = {{FOLIO_EV_TASK_REQUEUED, "reason", v_long_str},
                {FOLIO_EV_TASK_REGISTERED, "content", v_deep_object}};
    str_len_param = FOLIO_EVENT_STR_MAX + 1;
    depth_param = FOLIO_EVENT_OBJECT_DEPTH_MAX + 1;
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(last); i++) {
        struct folio_event ev;
        size_t len, elen;
        sample_event(last[i].type, 1, &ev);
        uint8_t *buf = encode_ok(&ev, &len);
        struct edit e = {E_REPLACE, last[i].key, last[i].val};
        uint8_t *ebuf = rebuild(buf, len, &e, &elen);
        expect_decode_error(ebuf, elen, FOLIO_E_TOO_LARGE);
        drop_count(ebuf);
        expect_decode_error(ebuf, elen, FOLIO_E_DECODE);
        free(ebuf);
        folio_free(buf);
    }
}

/* Type names are compared a word at a time: a change to any one byte is another name. */
static void
test_type_name_every_byte(void **state)
{
    char name[32];
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(spec); i++) {
        size_t n = strlen(spec[i].name);
        memcpy(name, spec[i].name, n);
        for (size_t k = 0; k < n; k++) {
            char keep = name[k];
            name[k] = '#';
            assert_int_equal(folio_event_type_parse(name, n), FOLIO_EV_NONE);
            name[k] = keep;
        }
        assert_int_equal(folio_event_type_parse(name, n), spec[i].type);
        for (size_t k = 0; k < n; k++) /* every proper prefix */
            assert_int_equal(folio_event_type_parse(name, k), FOLIO_EV_NONE);
        name[n] = 'x';
        assert_int_equal(folio_event_type_parse(name, n + 1), FOLIO_EV_NONE);
    }
}

/* A failed decode leaves ev zeroed; clear() is safe on a cleared or zeroed event. */
static void
test_decode_error_leaves_clear(void **state)
{
    struct folio_event ev;
    memset(&ev, 0x5a, sizeof(ev));
    static const uint8_t junk[] = {0xde, 0x00};
    assert_int_equal(folio_event_decode(junk, sizeof(junk), &ev), FOLIO_E_DECODE);
    assert_int_equal(ev.type, FOLIO_EV_NONE);
    assert_null(ev.owned_);
    folio_event_clear(&ev);
    folio_event_clear(&ev);
    folio_event_clear(NULL);
}

static void
expect_encode(const struct folio_event *ev, int want)
{
    uint8_t *buf = (uint8_t *)"untouched";
    size_t len = 99;
    int rc = folio_event_encode(ev, &buf, &len);
    if (rc != want)
        fail_msg("encode returned %s, want %s", folio_err_name(rc), folio_err_name(want));
    if (rc != FOLIO_OK) {
        assert_null(buf);
        assert_int_equal(len, 0);
    }
    folio_free(rc == FOLIO_OK ? buf : NULL);
}

static void
check_encode_objects(void)
{
    static const uint8_t not_map[] = {0x05};
    static const uint8_t array[] = {0x90};
    static const uint8_t trailing[] = {0x80, 0xc0};
    static const uint8_t truncated[] = {0x81, 0xa1};
    static const uint8_t ext[] = {0x81, 0xa1, 'e', 0xd4, 0x01, 0x00};
    static const uint8_t nil[] = {0xc0};
    struct folio_event ev;
    sample_event(FOLIO_EV_TASK_REGISTERED, 1, &ev);
    ev.u.task_registered.content = OBJ(not_map);
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.u.task_registered.content = OBJ(array);
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.u.task_registered.content = OBJ(trailing);
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.u.task_registered.content = OBJ(truncated);
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.u.task_registered.content = OBJ(ext);
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.u.task_registered.content = (struct folio_object){NULL, 3};
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.u.task_registered.content = OBJ(nil);
    expect_encode(&ev, FOLIO_OK);

    uint8_t deep[2 * FOLIO_EVENT_OBJECT_DEPTH_MAX + 1];
    for (unsigned i = 0; i < FOLIO_EVENT_OBJECT_DEPTH_MAX; i++) {
        deep[2 * i] = 0x81;     /* {nil: ...} */
        deep[2 * i + 1] = 0xc0;
    }
    deep[2 * FOLIO_EVENT_OBJECT_DEPTH_MAX] = 0x80; /* one level too many */
    ev.u.task_registered.content = OBJ(deep);
    expect_encode(&ev, FOLIO_E_INVALID);
    deep[2 * FOLIO_EVENT_OBJECT_DEPTH_MAX - 2] = 0x80; /* the 32nd map empty: exactly the limit */
    ev.u.task_registered.content =
        (struct folio_object){deep, 2 * FOLIO_EVENT_OBJECT_DEPTH_MAX - 1};
    expect_encode(&ev, FOLIO_OK);
}

static void
check_encode_outcomes(void)
{
    static const uint8_t err[] = {0x80};
    struct folio_event ev;
    sample_event(FOLIO_EV_TASK_FAILED, 1, &ev);
    ev.u.task_outcome.error = (struct folio_object){NULL, 0};
    expect_encode(&ev, FOLIO_E_INVALID); /* failed needs error */
    sample_event(FOLIO_EV_TASK_FAILED, 1, &ev);
    ev.u.task_outcome.canceled_by = 3;
    expect_encode(&ev, FOLIO_E_INVALID);
    sample_event(FOLIO_EV_TASK_SUCCEEDED, 1, &ev);
    ev.u.task_outcome.error = OBJ(err);
    expect_encode(&ev, FOLIO_E_INVALID);
    sample_event(FOLIO_EV_TASK_SUCCEEDED, 1, &ev);
    ev.u.task_outcome.canceled_by = 3;
    expect_encode(&ev, FOLIO_E_INVALID);
    sample_event(FOLIO_EV_TASK_CANCELED, 1, &ev);
    ev.u.task_outcome.error = OBJ(err);
    expect_encode(&ev, FOLIO_E_INVALID);
}

static void
check_encode_arrays(void)
{
    struct folio_event ev;
    sample_event(FOLIO_EV_INDEXES_SWAPPED, 1, &ev);
    for (uint32_t n = 0; n <= 4; n++) {
        ev.u.indexes_swapped.index_uids.count = n;
        expect_encode(&ev, n == 2 || n == 4 ? FOLIO_OK : FOLIO_E_INVALID);
    }
    sample_event(FOLIO_EV_BATCH_STARTED, 1, &ev);
    ev.u.batch_started.task_uids.count = 0;
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.u.batch_started.task_uids = (struct folio_u64_array){NULL, 2};
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.u.batch_started.task_uids = (struct folio_u64_array){task_uid_list,
                                                            FOLIO_EVENT_ARRAY_MAX + 1};
    expect_encode(&ev, FOLIO_E_INVALID);
    sample_event(FOLIO_EV_TASK_REGISTERED, 1, &ev);
    static const struct folio_str holes[] = {{"a", 1}, {NULL, 0}};
    ev.u.task_registered.index_uids = (struct folio_str_array){holes, 2};
    expect_encode(&ev, FOLIO_E_INVALID);
    static const struct folio_str bad_utf8[] = {{"\xff", 1}};
    ev.u.task_registered.index_uids = (struct folio_str_array){bad_utf8, 1};
    expect_encode(&ev, FOLIO_E_INVALID);
}

/* Encoding refuses what decoding would refuse, so no bad event reaches the journal. */
static void
test_encode_rejects(void **state)
{
    struct folio_event ev;
    sample_event(FOLIO_EV_PROGRESS, 1, &ev);
    ev.type = FOLIO_EV_NONE;
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.type = FOLIO_EV_TYPE_COUNT;
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.type = (enum folio_event_type)-3;
    expect_encode(&ev, FOLIO_E_INVALID);

    sample_event(FOLIO_EV_TASK_REGISTERED, 1, &ev);
    ev.u.task_registered.kind = (struct folio_str){NULL, 0}; /* required string missing */
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.u.task_registered.kind = (struct folio_str){NULL, 3};
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.u.task_registered.kind = STR("a\xc0\xafz");
    expect_encode(&ev, FOLIO_E_INVALID);
    char *long_str = malloc(FOLIO_EVENT_STR_MAX + 1);
    memset(long_str, 'x', FOLIO_EVENT_STR_MAX + 1);
    ev.u.task_registered.kind = (struct folio_str){long_str, FOLIO_EVENT_STR_MAX + 1};
    expect_encode(&ev, FOLIO_E_INVALID);
    ev.u.task_registered.kind = (struct folio_str){long_str, FOLIO_EVENT_STR_MAX};
    expect_encode(&ev, FOLIO_OK);
    free(long_str);

    sample_event(FOLIO_EV_JOURNAL_RECOVERED, 0, &ev);
    ev.u.journal_recovered.reason = (struct folio_str){NULL, 0};
    expect_encode(&ev, FOLIO_E_INVALID);
    sample_event(FOLIO_EV_JOURNAL_RECOVERED, 0, &ev);
    ev.u.journal_recovered.reason = STR(""); /* present but empty is a value */
    expect_encode(&ev, FOLIO_OK);

    check_encode_objects();
    check_encode_outcomes();
    check_encode_arrays();
}

/* An event over FOLIO_EVENT_BYTES_MAX is FOLIO_E_TOO_LARGE, not a huge buffer. */
static void
test_encode_too_large(void **state)
{
    size_t n = FOLIO_EVENT_BYTES_MAX / FOLIO_EVENT_STR_MAX + 2;
    char *s = malloc(FOLIO_EVENT_STR_MAX);
    memset(s, 'u', FOLIO_EVENT_STR_MAX);
    struct folio_str *uids = calloc(n, sizeof(*uids));
    for (size_t i = 0; i < n; i++)
        uids[i] = (struct folio_str){s, FOLIO_EVENT_STR_MAX};
    struct folio_event ev;
    sample_event(FOLIO_EV_INDEXES_SWAPPED, 1, &ev);
    ev.u.indexes_swapped.index_uids = (struct folio_str_array){uids, (uint32_t)n};
    expect_encode(&ev, FOLIO_E_TOO_LARGE);
    /* Half of it fits. */
    ev.u.indexes_swapped.index_uids.count = (uint32_t)(n / 2) & ~1u;
    expect_encode(&ev, FOLIO_OK);
    free(uids);
    free(s);
}

/* ---- files_removed ------------------------------------------------------ */

static void
v_arr_with_empty(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pack_key(pk, "tmp/a");
    msgpack_pack_str_with_body(pk, "", 0);
}
static void
v_arr_only_empty(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_str_with_body(pk, "", 0);
}
/* array_len_param one-byte strings. */
static void
v_long_str_array(msgpack_packer *pk)
{
    msgpack_pack_array(pk, array_len_param);
    for (uint32_t i = 0; i < array_len_param; i++)
        pack_key(pk, "p");
}

/* Exact bytes and JSON of a files_removed event, worked out by hand. */
static void
test_files_removed_golden(void **state)
{
    static const uint8_t want[] = {
        0xde, 0x00, 0x06,                                     /* map16, 6 entries */
        0xa3, 's', 'e', 'q', 0xcf, 0, 0, 0, 0, 0, 0, 0, 2,    /* "seq": uint64 2 */
        0xa4, 't', 'y', 'p', 'e',                             /* "type" */
        0xad, 'f', 'i', 'l', 'e', 's', '_', 'r', 'e', 'm', 'o', 'v', 'e', 'd',
        0xa2, 'a', 't', 0x05,                                 /* "at": 5 */
        0xa6, 'r', 'e', 'a', 's', 'o', 'n', 0xa1, 'r',        /* "reason": "r" */
        0xa5, 'p', 'a', 't', 'h', 's', 0x91,                  /* "paths": [ */
        0xa5, 't', 'm', 'p', '/', 'a',                        /*   "tmp/a" ] */
        0xa5, 'b', 'y', 't', 'e', 's', 0xcd, 0x01, 0x2c,      /* "bytes": uint16 300 */
    };
    static const struct folio_str one_path[] = {{"tmp/a", 5}};
    struct folio_event ev = {.type = FOLIO_EV_FILES_REMOVED, .seq = 2, .at_ns = 5};
    ev.u.files_removed =
        (struct folio_ev_files_removed){STR("r"), (struct folio_str_array){one_path, 1}, 300};
    size_t len;
    uint8_t *buf = encode_ok(&ev, &len);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    folio_free(buf);

    struct folio_event got;
    assert_int_equal(folio_event_decode(want, sizeof(want), &got), FOLIO_OK);
    assert_event_equal(&ev, &got);
    folio_event_clear(&got);
    expect_json(&ev, "{\"seq\":2,\"type\":\"files_removed\",\"at\":5,\"reason\":\"r\","
                     "\"paths\":[\"tmp/a\"],\"bytes\":300}");

    sample_event(FOLIO_EV_FILES_REMOVED, 1, &ev);
    expect_json(&ev, "{\"seq\":123456789,\"type\":\"files_removed\",\"at\":1700000000123456789,"
                     "\"reason\":\"orphan index directory (no mapping entry)\","
                     "\"paths\":[\"indexes/0b7b8e4c-0f7b-4c1e-9a53-1d2f3e4a5b6c\","
                     "\"content/17\",\"tmp/x\"],\"bytes\":18446744073709551615}");

    static const struct folio_str odd[] = {{"tmp/a\"b\\c", 9}, {"tmp/\xc3\xa9", 6}};
    sample_event(FOLIO_EV_FILES_REMOVED, 0, &ev);
    ev.u.files_removed.paths = (struct folio_str_array){odd, 2};
    expect_json(&ev, "{\"seq\":0,\"type\":\"files_removed\",\"at\":-9223372036854775808,"
                     "\"reason\":\"\",\"paths\":[\"tmp/a\\\"b\\\\c\",\"tmp/\xc3\xa9\"],"
                     "\"bytes\":0}");
}

/* Decoding files_removed: every key, type, bound and the non-empty paths rule. */
static void
test_files_removed_decode_strict(void **state)
{
    const enum folio_event_type t = FOLIO_EV_FILES_REMOVED;
    static const char *keys[] = {"reason", "paths", "bytes"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(keys); i++) {
        expect_edit(t, 1, (struct edit){E_DROP, keys[i], NULL}, FOLIO_E_DECODE);
        expect_edit(t, 1, (struct edit){E_DUP, keys[i], NULL}, FOLIO_E_DECODE);
        expect_edit(t, 1, (struct edit){E_MOVE_LAST, keys[i], NULL}, FOLIO_OK);
    }
    expect_edit(t, 1, (struct edit){E_ADD, "path", v_arr_str}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_ADD, "segment", v_str}, FOLIO_E_DECODE); /* another type's */
    expect_edit(t, 1, (struct edit){E_ADD, "bytes_dropped", v_int5}, FOLIO_E_DECODE);

    /* Wrong msgpack types. */
    expect_edit(t, 1, (struct edit){E_REPLACE, "reason", v_int5}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "reason", v_nil}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_str}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_arr_int}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_arr_nil}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_map}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "bytes", v_neg1}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "bytes", v_float}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "bytes", v_str}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "bytes", v_u64_max}, FOLIO_OK);
    expect_edit(t, 1, (struct edit){E_REPLACE, "bytes", v_signed_form5}, FOLIO_OK);

    /* paths: at least one, none empty; the rule is this field's, not every [str]'s. */
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_arr_empty}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_arr_only_empty}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_arr_with_empty}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_arr_str}, FOLIO_OK);
    expect_edit(FOLIO_EV_TASK_REGISTERED, 1,
                (struct edit){E_REPLACE, "index_uids", v_arr_with_empty}, FOLIO_OK);
    expect_edit(FOLIO_EV_INDEXES_SWAPPED, 1,
                (struct edit){E_REPLACE, "index_uids", v_arr_with_empty}, FOLIO_OK);
    /* An empty reason is a value, as for the other types' reasons. */
    expect_edit(t, 1, (struct edit){E_REPLACE, "reason", v_type_empty}, FOLIO_OK);

    /* Bounds: string length, item count, UTF-8. */
    str_len_param = FOLIO_EVENT_STR_MAX;
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_arr_long_str}, FOLIO_OK);
    expect_edit(t, 1, (struct edit){E_REPLACE, "reason", v_long_str}, FOLIO_OK);
    str_len_param = FOLIO_EVENT_STR_MAX + 1;
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_arr_long_str}, FOLIO_E_TOO_LARGE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "reason", v_long_str}, FOLIO_E_TOO_LARGE);
    array_len_param = FOLIO_EVENT_ARRAY_MAX;
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_long_str_array}, FOLIO_OK);
    array_len_param = FOLIO_EVENT_ARRAY_MAX + 1;
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_long_str_array}, FOLIO_E_TOO_LARGE);
    utf8_param = "\xc0\xaf"; /* overlong '/' */
    expect_edit(t, 1, (struct edit){E_REPLACE, "paths", v_arr_utf8}, FOLIO_E_DECODE);
    expect_edit(t, 1, (struct edit){E_REPLACE, "reason", v_utf8}, FOLIO_E_DECODE);
}

/* Encoding refuses every files_removed that decoding would refuse. */
static void
test_files_removed_encode_strict(void **state)
{
    struct folio_event ev;
    struct folio_ev_files_removed *r = &ev.u.files_removed;
    static const struct folio_str empty_last[] = {{"tmp/a", 5}, {"", 0}};
    static const struct folio_str null_item[] = {{"tmp/a", 5}, {NULL, 0}};
    static const struct folio_str bad_utf8[] = {{"tmp/\xff", 5}};
    char *long_str = malloc(FOLIO_EVENT_STR_MAX + 1);
    memset(long_str, 'p', FOLIO_EVENT_STR_MAX + 1);
    struct folio_str long_path[1] = {{long_str, FOLIO_EVENT_STR_MAX + 1}};

    sample_event(FOLIO_EV_FILES_REMOVED, 1, &ev);
    expect_encode(&ev, FOLIO_OK);
    r->paths.count = 0;
    expect_encode(&ev, FOLIO_E_INVALID);
    r->paths = (struct folio_str_array){NULL, 1};
    expect_encode(&ev, FOLIO_E_INVALID);
    r->paths = (struct folio_str_array){empty_last, 2};
    expect_encode(&ev, FOLIO_E_INVALID);
    r->paths = (struct folio_str_array){empty_last, 1};
    expect_encode(&ev, FOLIO_OK);
    r->paths = (struct folio_str_array){null_item, 2};
    expect_encode(&ev, FOLIO_E_INVALID);
    r->paths = (struct folio_str_array){bad_utf8, 1};
    expect_encode(&ev, FOLIO_E_INVALID);
    r->paths = (struct folio_str_array){long_path, 1};
    expect_encode(&ev, FOLIO_E_INVALID);
    long_path[0].len = FOLIO_EVENT_STR_MAX;
    expect_encode(&ev, FOLIO_OK);
    r->paths = (struct folio_str_array){removed_paths, FOLIO_EVENT_ARRAY_MAX + 1};
    expect_encode(&ev, FOLIO_E_INVALID); /* the count is refused before any item is read */

    sample_event(FOLIO_EV_FILES_REMOVED, 1, &ev);
    r->reason = (struct folio_str){NULL, 0}; /* required string missing */
    expect_encode(&ev, FOLIO_E_INVALID);
    r->reason = (struct folio_str){long_str, FOLIO_EVENT_STR_MAX + 1};
    expect_encode(&ev, FOLIO_E_INVALID);
    r->reason = STR("a\xc0\xafz");
    expect_encode(&ev, FOLIO_E_INVALID);
    r->reason = STR("");
    expect_encode(&ev, FOLIO_OK);
    free(long_str);

    /* Other [str] fields keep accepting empty items. */
    static const struct folio_str empty_uid[] = {{"", 0}};
    sample_event(FOLIO_EV_TASK_REGISTERED, 1, &ev);
    ev.u.task_registered.index_uids = (struct folio_str_array){empty_uid, 1};
    expect_encode(&ev, FOLIO_OK);
}

static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                      0xc0, 0xc1, 0xc4, 0xc6, 0xc7, 0xca, 0xcb, 0xcf, 0xd3,
                                      0xd4, 0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0,
                                      0xff};

/* Whatever decode accepts must be a valid event: it re-encodes, renders and round-trips. */
static void
check_accepted(const uint8_t *buf, size_t len, const struct folio_event *got)
{
    uint8_t *again;
    size_t again_len;
    struct folio_event ev2;
    char *json = NULL;
    assert_int_equal(folio_event_encode(got, &again, &again_len), FOLIO_OK);
    assert_int_equal(folio_event_decode(again, again_len, &ev2), FOLIO_OK);
    assert_event_equal(got, &ev2);
    folio_event_clear(&ev2);
    folio_free(again);
    int rc = folio_event_to_json(buf, len, &json);
    assert_true(rc == FOLIO_OK || rc == FOLIO_E_TOO_LARGE);
    folio_free(json);
}

/* Hundreds of thousands of random 1-3 byte mutations: errors, never crashes (run under ASan). */
static void
test_decode_mutations(void **state)
{
    uint64_t rng = tu_seed();
    size_t accepted = 0, rounds = 0;
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(spec); i++) {
        for (int full = 0; full <= 1; full++) {
            struct folio_event ev;
            size_t len;
            sample_event(spec[i].type, full, &ev);
            uint8_t *buf = encode_ok(&ev, &len);
            uint8_t *m = malloc(len);
            for (int r = 0; r < 10000; r++, rounds++) {
                memcpy(m, buf, len);
                int flips = 1 + (int)(tu_rand(&rng) % 3);
                for (int f = 0; f < flips; f++) {
                    uint64_t x = tu_rand(&rng);
                    uint8_t v = (x >> 32) & 1 ? interesting[(x >> 40) % sizeof(interesting)]
                                              : (uint8_t)(x >> 48);
                    m[x % len] = v;
                }
                struct folio_event got;
                folio_event_peek(m, len, NULL, NULL, NULL);
                if (folio_event_decode(m, len, &got) == FOLIO_OK) {
                    accepted++;
                    check_accepted(m, len, &got);
                    folio_event_clear(&got);
                }
            }
            free(m);
            folio_free(buf);
        }
    }
    print_message("mutations: %zu rounds, %zu still decodable\n", rounds, accepted);
    assert_true(accepted > 0 && accepted < rounds);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_roundtrip_full),
        cmocka_unit_test(test_roundtrip_minimal),
        cmocka_unit_test(test_wire_keys),
        cmocka_unit_test(test_golden_bytes),
        cmocka_unit_test(test_json_expected),
        cmocka_unit_test(test_json_nested_values),
        cmocka_unit_test(test_json_output_bound),
        cmocka_unit_test(test_seq_patch_and_peek),
        cmocka_unit_test(test_peek_key_order_and_errors),
        cmocka_unit_test(test_decode_truncated),
        cmocka_unit_test(test_decode_unknown_type),
        cmocka_unit_test(test_decode_unknown_and_repeated_keys),
        cmocka_unit_test(test_decode_missing_fields),
        cmocka_unit_test(test_decode_wrong_types),
        cmocka_unit_test(test_decode_int_forms),
        cmocka_unit_test(test_decode_bounds),
        cmocka_unit_test(test_decode_trailing_and_count),
        cmocka_unit_test(test_decode_invalid_utf8),
        cmocka_unit_test(test_decode_integer_ranges),
        cmocka_unit_test(test_decode_array_counts),
        cmocka_unit_test(test_decode_requires_prefix),
        cmocka_unit_test(test_decode_bad_objects),
        cmocka_unit_test(test_decode_every_int_form),
        cmocka_unit_test(test_decode_string_every_length),
        cmocka_unit_test(test_decode_key_layouts),
        cmocka_unit_test(test_decode_count_bounds_entries),
        cmocka_unit_test(test_type_name_every_byte),
        cmocka_unit_test(test_decode_error_leaves_clear),
        cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_encode_too_large),
        cmocka_unit_test(test_files_removed_golden),
        cmocka_unit_test(test_files_removed_decode_strict),
        cmocka_unit_test(test_files_removed_encode_strict),
        cmocka_unit_test(test_decode_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
