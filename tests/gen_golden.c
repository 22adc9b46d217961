/*
 * Generator of the golden journal in tests/data/golden-journal/ (built as
 * folio-golden-gen, run once by hand; its output is checked in and frozen).
 *
 *   folio-golden-gen OUTDIR      # OUTDIR must not exist
 *   cp OUTDIR/00000000000000000001.seg tests/data/golden-journal/
 *
 * It writes, through the real journal, one smallest-size (64 KiB) segment
 * holding four frames and five events: the life of one indexCreation task.
 * The wall clock is fixed (start GOLDEN_T0_NS, step 1 ms), so the segment's
 * created_ns is T0 and frame k (1-based) is stamped T0 + k ms; the journal
 * uid and segment salt are random, which is fine because the file is then
 * frozen. The values below are the ones tests/test_golden.c checks, written
 * there again by hand, and shown in docs/journal-format.md's worked example.
 * Only the .seg file is meant to be kept: LOCK, head and next.tmp are
 * removed here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"
#include "folio/journal.h"

#define GOLDEN_T0_NS 1763800000000000000ll /* 2025-11-22T08:26:40Z */
#define GOLDEN_STEP_NS 1000000ll
#define TASK_UID 12u
#define BATCH_UID 5u
#define INDEX_UUID "5f0c9a52-3b1e-4d7a-9c61-2e8b7f4a0d13"

/* {"primaryKey":"id"} as msgpack: fixmap(1), fixstr(10), fixstr(2). */
static const uint8_t content_primary_key[] = {0x81, 0xaa, 'p', 'r', 'i',  'm', 'a', 'r',
                                              'y',  'K',  'e', 'y', 0xa2, 'i', 'd'};
/* {"indexUid":"movies","primaryKey":"id"}: fixmap(2) of fixstr pairs. */
static const uint8_t details_index[] = {0x82, 0xa8, 'i', 'n', 'd', 'e', 'x',  'U', 'i', 'd', 0xa6,
                                        'm',  'o',  'v', 'i', 'e', 's', 0xaa, 'p', 'r', 'i', 'm',
                                        'a',  'r',  'y', 'K', 'e', 'y', 0xa2, 'i', 'd'};

/* Encodes the events of one frame and appends them as one atomic append. */
static int
append_frame(struct folio_journal *j, const struct folio_event *evs, size_t n)
{
    struct folio_journal_entry entries[2];
    uint8_t *bufs[2] = {NULL, NULL};
    int err = FOLIO_OK;
    for (size_t i = 0; i < n && err == FOLIO_OK; i++) {
        err = folio_event_encode(&evs[i], &bufs[i], &entries[i].len);
        entries[i].data = bufs[i];
    }
    if (err == FOLIO_OK)
        err = folio_journal_append(j, entries, n, NULL);
    for (size_t i = 0; i < n; i++)
        folio_free(bufs[i]);
    return err;
}

static int
write_events(struct folio_journal *j)
{
    struct folio_str movies = folio_str_c("movies");
    uint64_t task_uids[1] = {TASK_UID};
    struct folio_event reg = {.type = FOLIO_EV_TASK_REGISTERED, .at_ns = 1763800000000500000ll};
    reg.u.task_registered.task_uid = TASK_UID;
    reg.u.task_registered.kind = folio_str_c("indexCreation");
    reg.u.task_registered.index_uids = (struct folio_str_array){&movies, 1};
    reg.u.task_registered.enqueued_at_ns = 1763800000000500000ll;
    reg.u.task_registered.content =
        (struct folio_object){content_primary_key, sizeof(content_primary_key)};

    struct folio_event batch[2] = {
        {.type = FOLIO_EV_BATCH_STARTED, .at_ns = 1763800000001500000ll},
        {.type = FOLIO_EV_PROGRESS, .at_ns = 1763800000001600000ll},
    };
    batch[0].u.batch_started.batch_uid = BATCH_UID;
    batch[0].u.batch_started.task_uids = (struct folio_u64_array){task_uids, 1};
    batch[0].u.batch_started.reason = folio_str_c("indexCreation of movies");
    batch[1].u.progress.batch_uid = BATCH_UID;
    batch[1].u.progress.step = folio_str_c("creating index");
    batch[1].u.progress.step_index = 0;
    batch[1].u.progress.step_total = 1;

    struct folio_event created = {.type = FOLIO_EV_INDEX_CREATED, .at_ns = 1763800000002500000ll};
    created.u.index_change.index_uid = movies;
    created.u.index_change.index_uuid = folio_str_c(INDEX_UUID);
    created.u.index_change.primary_key = folio_str_c("id");
    created.u.index_change.task_uid = TASK_UID;
    created.u.index_change.changed_at_ns = 1763800000002500000ll;

    struct folio_event done = {.type = FOLIO_EV_TASK_SUCCEEDED, .at_ns = 1763800000003500000ll};
    done.u.task_outcome.task_uid = TASK_UID;
    done.u.task_outcome.batch_uid = BATCH_UID;
    done.u.task_outcome.finished_at_ns = 1763800000003500000ll;
    done.u.task_outcome.details = (struct folio_object){details_index, sizeof(details_index)};

    int err = append_frame(j, &reg, 1);
    if (err == FOLIO_OK)
        err = append_frame(j, batch, 2);
    if (err == FOLIO_OK)
        err = append_frame(j, &created, 1);
    if (err == FOLIO_OK)
        err = append_frame(j, &done, 1);
    return err;
}

/* Removes what is not part of the golden data (the writer's lock, head hint, spare segment). */
static void
remove_extras(const char *dir)
{
    static const char *const extras[] = {"LOCK", "head", "next.tmp"};
    char path[4096];
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(extras); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, extras[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            fprintf(stderr, "folio-golden-gen: unlink %s: %s\n", path, strerror(errno));
    }
}

int
main(int argc, char **argv)
{
    struct folio_journal_opts opts;
    struct folio_journal_diag diag;
    struct folio_journal *j = NULL;
    struct stat st;
    if (argc != 2) {
        fprintf(stderr, "usage: folio-golden-gen OUTDIR\n");
        return 64;
    }
    if (stat(argv[1], &st) == 0) {
        fprintf(stderr, "folio-golden-gen: %s exists; give a new directory\n", argv[1]);
        return 64;
    }
    folio_clock_set_fixed(GOLDEN_T0_NS, GOLDEN_STEP_NS);
    folio_journal_opts_default(&opts);
    opts.segment_bytes = 64u * 1024u;
    opts.create = true;
    int err = folio_journal_open(argv[1], &opts, &j, NULL, &diag);
    if (err == FOLIO_OK) {
        err = write_events(j);
        folio_journal_close(j);
    }
    if (err != FOLIO_OK) {
        fprintf(stderr, "folio-golden-gen: %s (%s)\n", folio_err_message(err), diag.reason);
        return 1;
    }
    remove_extras(argv[1]);
    printf("wrote %s/00000000000000000001.seg\n", argv[1]);
    return 0;
}
