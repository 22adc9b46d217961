/*
 * What each event type looks like on the wire: one schema table per type,
 * listing its fields in encoding order with their kind, the struct
 * folio_event member that holds them, and whether they are optional. The
 * encoder and the decoder are both driven by these tables, so adding a field
 * is one line here plus the struct member in event.h (and the test's spec).
 *
 * Every table starts with "at"; "seq" and "type" are implied (the fixed
 * prefix and the type name). Wire keys are the C member names, except that
 * names ending in _ns drop the suffix. Rules a table cannot express (a field
 * of a shared struct that one type must not carry, even pairs) live in the
 * small check functions below.
 */
#include <stddef.h>

#include "folio/common.h"
#include "event_int.h"

#define REQ 0
#define OPT 1
#define FIELD_X(key_, kind_, member_, opt_, min_, max_, items_nonempty_)                      \
    {                                                                                      \
        .key = key_, .key_len = sizeof(key_) - 1, .kind = FK_##kind_, .optional = opt_,     \
        .key_mask = {EV_KEY_MASK(sizeof(key_) - 1, 0), EV_KEY_MASK(sizeof(key_) - 1, 1)},   \
        .offset = offsetof(struct folio_event, member_), .min = min_, .max = max_,          \
        .items_nonempty = items_nonempty_,                                                 \
    }
#define FIELD(key_, kind_, member_, opt_, min_, max_)                                        \
    FIELD_X(key_, kind_, member_, opt_, min_, max_, 0)
#define SCALAR(key_, kind_, member_) FIELD(key_, kind_, member_, REQ, 0, 0)
#define STR(key_, member_, opt_) FIELD(key_, STR, member_, opt_, 0, FOLIO_EVENT_STR_MAX)
#define OBJ(key_, member_, opt_) FIELD(key_, OBJECT, member_, opt_, 0, FOLIO_EVENT_OBJECT_BYTES_MAX)
#define ARR(key_, kind_, member_, opt_, min_)                                               \
    FIELD(key_, kind_, member_, opt_, min_, FOLIO_EVENT_ARRAY_MAX)
/* A [str] whose items must not be empty (paths: "" would name nothing). */
#define NONEMPTY_STRS(key_, member_, opt_, min_)                                            \
    FIELD_X(key_, STR_ARRAY, member_, opt_, min_, FOLIO_EVENT_ARRAY_MAX, 1)
#define AT SCALAR("at", I64, at_ns)

#define TR(m) u.task_registered.m
static const struct field_desc task_registered_fields[] = {
    AT,
    SCALAR("task_uid", U64, TR(task_uid)),
    STR("kind", TR(kind), REQ),
    ARR("index_uids", STR_ARRAY, TR(index_uids), OPT, 0),
    SCALAR("enqueued_at", I64, TR(enqueued_at_ns)),
    OBJ("content", TR(content), OPT),
};

#define BS(m) u.batch_started.m
static const struct field_desc batch_started_fields[] = {
    AT,
    SCALAR("batch_uid", U64, BS(batch_uid)),
    ARR("task_uids", U64_ARRAY, BS(task_uids), REQ, 1),
    STR("reason", BS(reason), REQ),
};

#define PG(m) u.progress.m
static const struct field_desc progress_fields[] = {
    AT,
    SCALAR("batch_uid", U64, PG(batch_uid)),
    STR("step", PG(step), REQ),
    SCALAR("step_index", U32, PG(step_index)),
    SCALAR("step_total", U32, PG(step_total)),
};

#define TO(m) u.task_outcome.m
#define OUTCOME_COMMON                                                                     \
    AT, SCALAR("task_uid", U64, TO(task_uid)), SCALAR("batch_uid", U64, TO(batch_uid)),      \
        SCALAR("finished_at", I64, TO(finished_at_ns)), OBJ("details", TO(details), OPT)
static const struct field_desc task_succeeded_fields[] = {
    OUTCOME_COMMON,
};
static const struct field_desc task_failed_fields[] = {
    OUTCOME_COMMON,
    OBJ("error", TO(error), REQ),
};
static const struct field_desc task_canceled_fields[] = {
    OUTCOME_COMMON,
    SCALAR("canceled_by", U64, TO(canceled_by)),
};

#define IC(m) u.index_change.m
static const struct field_desc index_change_fields[] = {
    AT,
    STR("index_uid", IC(index_uid), REQ),
    STR("index_uuid", IC(index_uuid), REQ),
    STR("primary_key", IC(primary_key), OPT),
    SCALAR("task_uid", U64, IC(task_uid)),
    SCALAR("changed_at", I64, IC(changed_at_ns)),
};

#define SW(m) u.indexes_swapped.m
static const struct field_desc indexes_swapped_fields[] = {
    AT,
    ARR("index_uids", STR_ARRAY, SW(index_uids), REQ, 2),
    SCALAR("task_uid", U64, SW(task_uid)),
};

#define II(m) u.index_imported.m
static const struct field_desc index_imported_fields[] = {
    AT,
    STR("index_uid", II(index_uid), REQ),
    STR("index_uuid", II(index_uuid), REQ),
    STR("primary_key", II(primary_key), OPT),
    SCALAR("task_uid", U64, II(task_uid)),
    STR("source_instance_uid", II(source_instance_uid), REQ),
    SCALAR("source_seq", U64, II(source_seq)),
    STR("archive_checksum", II(archive_checksum), REQ),
};

#define TD(m) u.tasks_deleted.m
static const struct field_desc tasks_deleted_fields[] = {
    AT,
    SCALAR("task_uid", U64, TD(task_uid)),
    ARR("task_uids", U64_ARRAY, TD(task_uids), REQ, 0),
};

#define RQ(m) u.task_requeued.m
static const struct field_desc task_requeued_fields[] = {
    AT,
    SCALAR("task_uid", U64, RQ(task_uid)),
    SCALAR("batch_uid", U64, RQ(batch_uid)),
    STR("reason", RQ(reason), REQ),
};

#define CW(m) u.checkpoint_written.m
static const struct field_desc checkpoint_written_fields[] = {
    AT,
    SCALAR("checkpoint_seq", U64, CW(checkpoint_seq)),
    SCALAR("state_hash", U64, CW(state_hash)),
    STR("file", CW(file), REQ),
};

#define SS(m) u.server_started.m
static const struct field_desc server_started_fields[] = {
    AT,
    STR("instance_uid", SS(instance_uid), REQ),
    STR("version", SS(version), REQ),
    SCALAR("pid", U64, SS(pid)),
};

#define JR(m) u.journal_recovered.m
static const struct field_desc journal_recovered_fields[] = {
    AT,
    STR("segment", JR(segment), REQ),
    SCALAR("offset", U64, JR(offset)),
    SCALAR("bytes_dropped", U64, JR(bytes_dropped)),
    STR("quarantine", JR(quarantine), OPT),
    STR("reason", JR(reason), REQ),
    SCALAR("last_valid_seq", U64, JR(last_valid_seq)),
};

#define FR(m) u.files_removed.m
static const struct field_desc files_removed_fields[] = {
    AT,
    STR("reason", FR(reason), REQ),
    NONEMPTY_STRS("paths", FR(paths), REQ, 1),
    SCALAR("bytes", U64, FR(bytes)),
};

/*
 * The three outcomes share one struct, so a caller can fill a member its type
 * does not carry; encoding it silently would lose it, so it is refused.
 */
static int
outcome_check(const struct folio_event *ev)
{
    const struct folio_ev_task_outcome *o = &ev->u.task_outcome;
    if (ev->type != FOLIO_EV_TASK_FAILED && o->error.len != 0)
        return -1;
    if (ev->type != FOLIO_EV_TASK_CANCELED && o->canceled_by != 0)
        return -1;
    return 0;
}

/* Swaps name pairs of indexes: an odd count has a half pair. */
static int
swap_check(const struct folio_event *ev)
{
    return ev->u.indexes_swapped.index_uids.count % 2 == 0 ? 0 : -1;
}

#define SCHEMA(fields_, check_)                                                            \
    {                                                                                      \
        .field_count = FOLIO_ARRAY_LEN(fields_), .fields = fields_, .check = check_,       \
    }

const struct event_schema ev_schemas[FOLIO_EV_TYPE_COUNT] = {
    [FOLIO_EV_TASK_REGISTERED] = SCHEMA(task_registered_fields, NULL),
    [FOLIO_EV_BATCH_STARTED] = SCHEMA(batch_started_fields, NULL),
    [FOLIO_EV_PROGRESS] = SCHEMA(progress_fields, NULL),
    [FOLIO_EV_TASK_SUCCEEDED] = SCHEMA(task_succeeded_fields, outcome_check),
    [FOLIO_EV_TASK_FAILED] = SCHEMA(task_failed_fields, outcome_check),
    [FOLIO_EV_TASK_CANCELED] = SCHEMA(task_canceled_fields, outcome_check),
    [FOLIO_EV_INDEX_CREATED] = SCHEMA(index_change_fields, NULL),
    [FOLIO_EV_INDEX_DELETED] = SCHEMA(index_change_fields, NULL),
    [FOLIO_EV_INDEX_UPDATED] = SCHEMA(index_change_fields, NULL),
    [FOLIO_EV_INDEXES_SWAPPED] = SCHEMA(indexes_swapped_fields, swap_check),
    [FOLIO_EV_INDEX_IMPORTED] = SCHEMA(index_imported_fields, NULL),
    [FOLIO_EV_TASKS_DELETED] = SCHEMA(tasks_deleted_fields, NULL),
    [FOLIO_EV_TASK_REQUEUED] = SCHEMA(task_requeued_fields, NULL),
    [FOLIO_EV_CHECKPOINT_WRITTEN] =
        SCHEMA(checkpoint_written_fields, NULL),
    [FOLIO_EV_SERVER_STARTED] = SCHEMA(server_started_fields, NULL),
    [FOLIO_EV_JOURNAL_RECOVERED] =
        SCHEMA(journal_recovered_fields, NULL),
    [FOLIO_EV_FILES_REMOVED] = SCHEMA(files_removed_fields, NULL),
};

/* Wire names come from event.h's X-macro so the two lists cannot drift. */
const struct ev_wire_name ev_wire_names[FOLIO_EV_TYPE_COUNT] = {
#define EV_WIRE_NAME(name_, wire_) [FOLIO_EV_##name_] = {wire_, sizeof(wire_) - 1},
    FOLIO_EVENT_TYPES(EV_WIRE_NAME)
#undef EV_WIRE_NAME
};

const char *
folio_event_type_name(enum folio_event_type type)
{
    return ev_schema(type) != NULL ? ev_wire_names[type].name : NULL;
}

enum folio_event_type
folio_event_type_parse(const char *name, size_t len)
{
    return name != NULL ? ev_type_lookup((const uint8_t *)name, len) : FOLIO_EV_NONE;
}

struct folio_str
folio_str_c(const char *s)
{
    struct folio_str str = {s, 0};
    if (s != NULL) {
        size_t len = strlen(s);
        FOLIO_ASSERT(len <= UINT32_MAX);
        str.len = (uint32_t)len;
    }
    return str;
}
