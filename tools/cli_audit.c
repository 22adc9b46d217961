/*
 * The audit views of a stopped server's data directory, read straight from
 * the journal (no state, no checkpoint, no lock):
 *
 *   folio task show DB UID      every event of one task's life
 *   folio index history DB UID  every event that touched one index uid
 *
 * Both make one pass with a verifying reader. Each event's type is peeked
 * first and only the types a view can match are decoded. What matches may
 * depend on earlier events (the batches a task ran in, the tasks registered
 * on an index), and the journal is in causal order, so one pass is enough.
 *
 * Output follows `journal inspect`: --json prints each matching event as
 * inspect --json does (NDJSON) and nothing else; the text lines start with
 * seq=, at= (the event's time, RFC 3339) and type=, then a sentence.
 * Exit 0 if something matched, CLI_NOT_FOUND (3) if nothing did, the journal
 * codes (1, 2, 66, 74) if it could not be read to the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/sched.h"

#define TYPE_BIT(t) (1u << FOLIO_EV_##t)
#define OUTCOME_BITS (TYPE_BIT(TASK_SUCCEEDED) | TYPE_BIT(TASK_FAILED) | TYPE_BIT(TASK_CANCELED))
#define INDEX_CHANGE_BITS                                                                          \
    (TYPE_BIT(INDEX_CREATED) | TYPE_BIT(INDEX_DELETED) | TYPE_BIT(INDEX_UPDATED) |                 \
     TYPE_BIT(INDEX_IMPORTED) | TYPE_BIT(INDEXES_SWAPPED))

/* Uids listed in one text line before "..." */
#define TEXT_UIDS_MAX 20u

enum audit_mode { AUDIT_TASK, AUDIT_INDEX };

/* A growable set of u64; `unsorted` once an element was added out of order. */
struct u64_set {
    uint64_t *v;
    size_t n, cap;
    bool unsorted;
};

static void
set_add(struct u64_set *s, uint64_t x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = folio_reallocarray(s->v, s->cap, sizeof(*s->v));
    }
    if (s->n > 0 && x <= s->v[s->n - 1])
        s->unsorted = true;
    s->v[s->n++] = x;
}

static bool
set_has_linear(const struct u64_set *s, uint64_t x)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == x)
            return true;
    return false;
}

static void
set_remove(struct u64_set *s, uint64_t x)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == x) {
            s->v[i] = s->v[--s->n];
            return;
        }
}

/*
 * Binary search while the set was filled in ascending order, as task uids are
 * registered (the scheduler refuses a uid that does not increase); linear on
 * a journal that breaks that rule.
 */
static bool
set_has(const struct u64_set *s, uint64_t x)
{
    if (s->unsorted)
        return set_has_linear(s, x);
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid] == x)
            return true;
        if (s->v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool
u64_array_has(const struct folio_u64_array *a, uint64_t x)
{
    for (uint32_t i = 0; i < a->count; i++)
        if (a->items[i] == x)
            return true;
    return false;
}

static bool
str_eq(const struct folio_str *s, const char *c)
{
    return s->len == strlen(c) && memcmp(s->ptr, c, s->len) == 0;
}

static bool
str_array_has(const struct folio_str_array *a, const char *c)
{
    for (uint32_t i = 0; i < a->count; i++)
        if (str_eq(&a->items[i], c))
            return true;
    return false;
}

struct audit {
    enum audit_mode mode;
    const char *dir_arg;
    char dir[4096];
    const char *uid_arg;
    uint64_t task_uid; /* AUDIT_TASK */
    bool json;
    uint32_t type_mask;     /* types worth decoding */
    struct u64_set batches; /* AUDIT_TASK: batches the task is running in */
    struct u64_set tasks;   /* AUDIT_INDEX: tasks registered on the index (ascending) */
    uint64_t matched;
};

/* ---- matching -------------------------------------------------------------- */

static bool
task_match(struct audit *a, const struct folio_event *ev)
{
    uint64_t u = a->task_uid;
    switch (ev->type) {
    case FOLIO_EV_TASK_REGISTERED:
        return ev->u.task_registered.task_uid == u;
    case FOLIO_EV_BATCH_STARTED:
        if (!u64_array_has(&ev->u.batch_started.task_uids, u))
            return false;
        set_add(&a->batches, ev->u.batch_started.batch_uid);
        return true;
    case FOLIO_EV_PROGRESS:
        return set_has_linear(&a->batches, ev->u.progress.batch_uid);
    case FOLIO_EV_TASK_SUCCEEDED:
    case FOLIO_EV_TASK_FAILED:
    case FOLIO_EV_TASK_CANCELED:
        if (ev->u.task_outcome.task_uid == u) {
            set_remove(&a->batches, ev->u.task_outcome.batch_uid);
            return true;
        }
        return ev->type == FOLIO_EV_TASK_CANCELED && ev->u.task_outcome.canceled_by == u;
    case FOLIO_EV_TASK_REQUEUED:
        if (ev->u.task_requeued.task_uid != u)
            return false;
        set_remove(&a->batches, ev->u.task_requeued.batch_uid);
        return true;
    case FOLIO_EV_TASKS_DELETED:
        return ev->u.tasks_deleted.task_uid == u ||
               u64_array_has(&ev->u.tasks_deleted.task_uids, u);
    case FOLIO_EV_INDEX_CREATED:
    case FOLIO_EV_INDEX_DELETED:
    case FOLIO_EV_INDEX_UPDATED:
        return ev->u.index_change.task_uid == u;
    case FOLIO_EV_INDEX_IMPORTED:
        return ev->u.index_imported.task_uid == u;
    case FOLIO_EV_INDEXES_SWAPPED:
        return ev->u.indexes_swapped.task_uid == u;
    default:
        return false;
    }
}

static bool
index_match(struct audit *a, const struct folio_event *ev)
{
    const char *uid = a->uid_arg;
    switch (ev->type) {
    case FOLIO_EV_TASK_REGISTERED:
        if (!str_array_has(&ev->u.task_registered.index_uids, uid))
            return false;
        set_add(&a->tasks, ev->u.task_registered.task_uid);
        return true;
    case FOLIO_EV_TASK_SUCCEEDED:
    case FOLIO_EV_TASK_FAILED:
    case FOLIO_EV_TASK_CANCELED:
        return set_has(&a->tasks, ev->u.task_outcome.task_uid);
    case FOLIO_EV_INDEX_CREATED:
    case FOLIO_EV_INDEX_DELETED:
    case FOLIO_EV_INDEX_UPDATED:
        return str_eq(&ev->u.index_change.index_uid, uid);
    case FOLIO_EV_INDEX_IMPORTED:
        return str_eq(&ev->u.index_imported.index_uid, uid);
    case FOLIO_EV_INDEXES_SWAPPED:
        return str_array_has(&ev->u.indexes_swapped.index_uids, uid);
    default:
        return false;
    }
}

/* ---- text lines ------------------------------------------------------------ */

static void
put_time(int64_t ns)
{
    char buf[FOLIO_RFC3339_LEN];
    fputs(folio_clock_format_rfc3339(ns, buf, sizeof(buf)), stdout);
}

static void
put_str(const struct folio_str *s)
{
    cli_json_str(stdout, s->ptr != NULL ? s->ptr : "");
}

/* A name (kind, uuid) as is when it is plain [A-Za-z0-9_-], else quoted. */
static void
put_word(const struct folio_str *s)
{
    const char *p = s->ptr != NULL ? s->ptr : "";
    bool plain = *p != '\0';
    for (const char *q = p; *q != '\0' && plain; q++)
        plain = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
                *q == '_' || *q == '-';
    if (plain)
        fputs(p, stdout);
    else
        put_str(s);
}

/* " <label> <object as JSON>" for a present nested object. */
static void
put_object(const char *label, const struct folio_object *o)
{
    if (o->len == 0)
        return;
    json_t *j = NULL;
    char *s = NULL;
    if (folio_object_to_json(o->ptr, o->len, &j) == FOLIO_OK)
        s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    printf(" %s %s", label, s != NULL ? s : "(unreadable)");
    free(s);
    json_decref(j);
}

static void
put_uids(const struct folio_u64_array *a)
{
    printf("[");
    for (uint32_t i = 0; i < a->count && i < TEXT_UIDS_MAX; i++)
        printf("%s%" PRIu64, i ? "," : "", a->items[i]);
    if (a->count > TEXT_UIDS_MAX)
        printf(",... %" PRIu32 " in all", a->count);
    printf("]");
}

static void
put_index_change(const struct folio_str *uid, const struct folio_str *uuid,
                 const struct folio_str *pk, uint64_t task)
{
    printf("index ");
    put_str(uid);
    printf(" uuid ");
    put_word(uuid);
    if (pk->len > 0) {
        printf(" primary key ");
        put_str(pk);
    }
    printf(" by task %" PRIu64, task);
}

/* The swap pairs; in an index history, "with <other side>" first. */
static void
put_swap(const struct audit *a, const struct folio_ev_indexes_swapped *s)
{
    if (a->mode == AUDIT_INDEX) {
        for (uint32_t i = 0; i + 1 < s->index_uids.count; i += 2) {
            const struct folio_str *x = &s->index_uids.items[i], *y = &s->index_uids.items[i + 1];
            if (str_eq(x, a->uid_arg) || str_eq(y, a->uid_arg)) {
                printf("swapped with ");
                put_str(str_eq(x, a->uid_arg) ? y : x);
                printf(", ");
                break;
            }
        }
    }
    printf("pairs");
    for (uint32_t i = 0; i + 1 < s->index_uids.count; i += 2) {
        printf("%s ", i ? "," : "");
        put_str(&s->index_uids.items[i]);
        printf(" <-> ");
        put_str(&s->index_uids.items[i + 1]);
    }
    printf(" by task %" PRIu64, s->task_uid);
}

static void
print_text(const struct audit *a, const struct folio_journal_record *rec,
           const struct folio_event *ev)
{
    printf("seq=%" PRIu64 " at=", rec->seq);
    put_time(ev->at_ns);
    printf(" type=%s ", folio_event_type_name(ev->type));
    switch (ev->type) {
    case FOLIO_EV_TASK_REGISTERED: {
        const struct folio_ev_task_registered *t = &ev->u.task_registered;
        printf("task %" PRIu64 " ", t->task_uid);
        put_word(&t->kind);
        printf(" on [");
        for (uint32_t i = 0; i < t->index_uids.count; i++) {
            fputs(i ? "," : "", stdout);
            put_str(&t->index_uids.items[i]);
        }
        printf("] enqueued ");
        put_time(t->enqueued_at_ns);
        put_object("content", &t->content);
        break;
    }
    case FOLIO_EV_BATCH_STARTED:
        printf("batch %" PRIu64 " tasks ", ev->u.batch_started.batch_uid);
        put_uids(&ev->u.batch_started.task_uids);
        printf(" reason ");
        put_str(&ev->u.batch_started.reason);
        break;
    case FOLIO_EV_PROGRESS:
        printf("batch %" PRIu64 " step ", ev->u.progress.batch_uid);
        put_str(&ev->u.progress.step);
        printf(" %" PRIu32 "/%" PRIu32, ev->u.progress.step_index, ev->u.progress.step_total);
        break;
    case FOLIO_EV_TASK_SUCCEEDED:
    case FOLIO_EV_TASK_FAILED:
    case FOLIO_EV_TASK_CANCELED: {
        const struct folio_ev_task_outcome *o = &ev->u.task_outcome;
        printf("task %" PRIu64 " batch %" PRIu64 " finished ", o->task_uid, o->batch_uid);
        put_time(o->finished_at_ns);
        if (ev->type == FOLIO_EV_TASK_CANCELED)
            printf(" canceled by task %" PRIu64, o->canceled_by);
        put_object("details", &o->details);
        put_object("error", &o->error);
        break;
    }
    case FOLIO_EV_TASK_REQUEUED:
        printf("task %" PRIu64 " left batch %" PRIu64 " reason ", ev->u.task_requeued.task_uid,
               ev->u.task_requeued.batch_uid);
        put_str(&ev->u.task_requeued.reason);
        break;
    case FOLIO_EV_TASKS_DELETED:
        printf("task %" PRIu64 " deleted tasks ", ev->u.tasks_deleted.task_uid);
        put_uids(&ev->u.tasks_deleted.task_uids);
        break;
    case FOLIO_EV_INDEX_CREATED:
    case FOLIO_EV_INDEX_DELETED:
    case FOLIO_EV_INDEX_UPDATED: {
        const struct folio_ev_index_change *c = &ev->u.index_change;
        put_index_change(&c->index_uid, &c->index_uuid, &c->primary_key, c->task_uid);
        break;
    }
    case FOLIO_EV_INDEX_IMPORTED: {
        const struct folio_ev_index_imported *m = &ev->u.index_imported;
        put_index_change(&m->index_uid, &m->index_uuid, &m->primary_key, m->task_uid);
        printf(" from instance ");
        put_str(&m->source_instance_uid);
        printf(" seq %" PRIu64, m->source_seq);
        break;
    }
    case FOLIO_EV_INDEXES_SWAPPED:
        put_swap(a, &ev->u.indexes_swapped);
        break;
    default:
        break;
    }
    fputc('\n', stdout);
}

/* ---- the pass -------------------------------------------------------------- */

static int
event_diag(const struct folio_journal_record *rec, int err)
{
    struct folio_journal_diag d = {.offset = rec->frame_offset, .seq = rec->seq};
    snprintf(d.segment, sizeof(d.segment), "%s", rec->segment);
    snprintf(d.reason, sizeof(d.reason), "event does not decode: %s", folio_err_message(err));
    cli_out_flush(NULL);
    cli_diag_print("", &d);
    return CLI_CORRUPT;
}

/* One record: CLI_OK, or the code to stop with; *stop when output went away. */
static int
audit_record(struct audit *a, const struct folio_journal_record *rec, bool *stop)
{
    enum folio_event_type type = FOLIO_EV_NONE;
    int err = folio_event_peek(rec->data, rec->len, NULL, &type, NULL);
    if (err != FOLIO_OK)
        return event_diag(rec, err);
    if ((a->type_mask & (1u << type)) == 0)
        return CLI_OK;
    struct folio_event ev;
    err = folio_event_decode(rec->data, rec->len, &ev);
    if (err != FOLIO_OK)
        return event_diag(rec, err);
    bool hit = a->mode == AUDIT_TASK ? task_match(a, &ev) : index_match(a, &ev);
    int code = CLI_OK;
    if (hit) {
        a->matched++;
        if (a->json) {
            code = cli_print_event(rec, true);
        } else {
            errno = 0;
            print_text(a, rec, &ev);
            /* errno tells a closed pipe from a full disk (as cli_print_event notes it). */
            if (cli_out_failed() && errno == EPIPE)
                *stop = true;
        }
        if (code == CLI_OK && !*stop && cli_out_failed())
            code = cli_out_flush(stop);
    }
    folio_event_clear(&ev);
    return code;
}

static int
audit_run(struct audit *a)
{
    struct folio_journal_reader *r = NULL;
    struct folio_journal_record rec;
    struct folio_journal_diag d;
    memset(&d, 0, sizeof(d));
    int err = folio_journal_reader_open(a->dir, 1, 0, &r, &d);
    if (err == FOLIO_E_NOT_FOUND) {
        fprintf(stderr, "folio: no journal in %s: %s\n", a->dir, d.reason);
        return CLI_NO_JOURNAL;
    }
    if (err != FOLIO_OK) {
        cli_diag_print("", &d);
        return cli_exit_for(err);
    }
    int code = CLI_OK;
    bool stop = false;
    while ((err = folio_journal_reader_next(r, &rec, &d)) == FOLIO_OK) {
        code = audit_record(a, &rec, &stop);
        if (code != CLI_OK || stop)
            break;
    }
    folio_journal_reader_close(r);
    if (stop)
        return code;
    if (code != CLI_OK)
        return code;
    if (err != FOLIO_E_END) {
        cli_out_flush(NULL);
        cli_diag_print("", &d);
        return cli_exit_for(err);
    }
    code = cli_out_flush(&stop);
    if (code != CLI_OK || stop)
        return code;
    if (a->matched == 0) {
        fprintf(stderr, "folio: no event mentions %s %s\n",
                a->mode == AUDIT_TASK ? "task" : "index", a->uid_arg);
        return CLI_NOT_FOUND;
    }
    return CLI_OK;
}

/* ---- command line ---------------------------------------------------------- */

static const char task_usage[] =
    "usage: folio task show DB UID [--json]\n"
    "\n"
    "Prints the life of task UID from the journal of the data directory DB (or a\n"
    "journal directory), oldest first: its task_registered (kind, indexes, enqueued\n"
    "time, content), each batch_started that included it, the progress of that batch\n"
    "while the task was in it, task_requeued, its outcome (task_succeeded,\n"
    "task_failed or task_canceled: details, error, canceled by, finished time), the\n"
    "tasks_deleted that removed it, and what the task itself did: index_created,\n"
    "index_updated, index_deleted, index_imported, indexes_swapped, tasks_deleted and\n"
    "task_canceled events written for it (canceled by UID).\n"
    "\n"
    "Text lines: seq=N at=RFC3339 type=T and a description. --json prints each event\n"
    "as 'folio journal inspect --json' does, one object per line, and nothing else.\n"
    "\n"
    "Exit 0 if an event mentions the task; 3 if none does; 1 if the journal is\n"
    "corrupt, 2 if it ends in a torn tail (events before the damage are printed),\n"
    "66 if DB holds no journal.\n";

static const char index_usage[] =
    "usage: folio index history DB UID [--json]\n"
    "\n"
    "Prints every event that touched index UID from the journal of the data\n"
    "directory DB (or a journal directory), oldest first: task_registered events\n"
    "naming it, index_created, index_updated, index_deleted and index_imported (uuid,\n"
    "primary key), indexes_swapped involving it (the text line says the other side),\n"
    "and the outcomes of the tasks registered on it. History follows the uid as\n"
    "written in each event: after a swap, the uid names the other index's data.\n"
    "\n"
    "Text lines: seq=N at=RFC3339 type=T and a description. --json prints each event\n"
    "as 'folio journal inspect --json' does, one object per line, and nothing else.\n"
    "\n"
    "Exit 0 if an event mentions the index; 3 if none does; 1 if the journal is\n"
    "corrupt, 2 if it ends in a torn tail (events before the damage are printed),\n"
    "66 if DB holds no journal.\n";



/*
 * `folio <group> <cmd> ...`: argv[0] is the group, argv[1] the command.
 * Returns the exit code.
 */
static int
audit_main(enum audit_mode mode, int argc, char **argv)
{
    const char *group = mode == AUDIT_TASK ? "task" : "index";
    const char *cmd = mode == AUDIT_TASK ? "show" : "history";
    const char *help = mode == AUDIT_TASK ? task_usage : index_usage;
    if (argc < 2) {
        fputs(help, stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(help, stdout);
        return cli_out_flush(NULL);
    }
    if (strcmp(argv[1], cmd) != 0) {
        fprintf(stderr, "folio %s: unknown command '%s'\n\n%s", group, argv[1], help);
        return CLI_USAGE;
    }
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct audit a = {.mode = mode};
    int c;
    argc--;
    argv++;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(help, stdout);
            return cli_out_flush(NULL);
        }
        if (c != 'j')
            return CLI_USAGE; /* getopt said what was wrong */
        a.json = true;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "folio %s %s: %s (see --help)\n", group, cmd,
                argc - optind < 2 ? "DB and UID are required" : "too many arguments");
        return CLI_USAGE;
    }
    a.dir_arg = argv[optind];
    a.uid_arg = argv[optind + 1];
    if (mode == AUDIT_TASK) {
        if (!cli_parse_u64(a.uid_arg, &a.task_uid)) {
            fprintf(stderr, "folio task show: UID must be a task uid (a number)\n");
            return CLI_USAGE;
        }
        a.type_mask = TYPE_BIT(TASK_REGISTERED) | TYPE_BIT(BATCH_STARTED) | TYPE_BIT(PROGRESS) |
                      OUTCOME_BITS | TYPE_BIT(TASK_REQUEUED) | TYPE_BIT(TASKS_DELETED) |
                      INDEX_CHANGE_BITS;
    } else {
        if (!folio_index_uid_valid(a.uid_arg, strlen(a.uid_arg))) {
            fprintf(stderr,
                    "folio index history: '%s' is not an index uid "
                    "(1-400 of A-Z a-z 0-9 _ -)\n",
                    a.uid_arg);
            return CLI_USAGE;
        }
        a.type_mask = TYPE_BIT(TASK_REGISTERED) | OUTCOME_BITS | INDEX_CHANGE_BITS;
    }
    int rc = cli_resolve_dir(a.dir_arg, a.dir, sizeof(a.dir));
    if (rc == CLI_OK)
        rc = audit_run(&a);
    folio_free(a.batches.v);
    folio_free(a.tasks.v);
    return rc;
}

int
cli_task_main(int argc, char **argv)
{
    return audit_main(AUDIT_TASK, argc, argv);
}

int
cli_index_main(int argc, char **argv)
{
    return audit_main(AUDIT_INDEX, argc, argv);
}
