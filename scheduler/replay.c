/*
 * Rebuilding the state from the journal: catch-up (apply every event after
 * the state's seq) and replay (newest usable checkpoint, then catch-up).
 *
 * Replay never re-runs work: it decodes each event completely (the reader
 * has already verified its frame) and applies it. The journal must continue
 * exactly at the state's next seq; a journal that starts later (segments
 * removed) or an event that does not decode is corruption, reported with
 * the seq.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/journal.h"
#include "sched_int.h"

static void
diag_from_journal(struct folio_sched_diag *d, const struct folio_journal_diag *jd, int err)
{
    diag_set(d, jd->seq, "journal: %s%s%" PRIu64 " (seq %" PRIu64 "): %s: %s", jd->segment,
             jd->segment[0] ? " offset " : "offset ", jd->offset, jd->seq, folio_err_name(err),
             jd->reason[0] ? jd->reason : folio_err_message(err));
}

static int
apply_record(struct folio_sched_state *s, const struct folio_journal_record *rec,
             struct folio_sched_diag *d)
{
    if (rec->seq != s->last_seq + 1) {
        diag_set(d, rec->seq,
                 "the journal continues at seq %" PRIu64 " but the state needs seq %" PRIu64,
                 rec->seq, s->last_seq + 1);
        return FOLIO_E_CORRUPT;
    }
    struct folio_event ev;
    int rc = folio_event_decode(rec->data, rec->len, &ev);
    if (rc != 0) {
        diag_set(d, rec->seq, "seq %" PRIu64 ": the event does not decode (%s)", rec->seq,
                 folio_err_name(rc));
        return FOLIO_E_CORRUPT;
    }
    rc = folio_sched_state_apply(s, rec->seq, rec->frame_hash, &ev, d);
    folio_event_clear(&ev);
    return rc;
}

int
folio_sched_state_catch_up(struct folio_sched_state *s, const char *journal_dir,
                           struct folio_sched_diag *d)
{
    struct folio_journal_reader *r = NULL;
    struct folio_journal_diag jd;
    memset(&jd, 0, sizeof(jd));
    int rc = folio_journal_reader_open(journal_dir, s->last_seq + 1, 0, &r, &jd);
    if (rc != 0) {
        diag_from_journal(d, &jd, rc);
        return rc;
    }
    for (;;) {
        struct folio_journal_record rec;
        rc = folio_journal_reader_next(r, &rec, &jd);
        if (rc == FOLIO_E_END) {
            rc = 0;
            break;
        }
        if (rc != 0) {
            diag_from_journal(d, &jd, rc);
            break;
        }
        rc = apply_record(s, &rec, d);
        if (rc != 0)
            break;
    }
    folio_journal_reader_close(r);
    return rc;
}

int
folio_sched_state_replay(const char *journal_dir, const char *checkpoint_dir,
                         struct folio_sched_state **out, struct folio_sched_replay_info *info,
                         struct folio_sched_diag *d)
{
    struct folio_sched_replay_info local;
    if (info == NULL)
        info = &local;
    memset(info, 0, sizeof(*info));
    *out = NULL;
    struct folio_sched_state *s = NULL;
    int rc = FOLIO_E_NOT_FOUND;
    if (checkpoint_dir != NULL)
        rc = folio_sched_checkpoint_load(checkpoint_dir, journal_dir, &s, info, d);
    if (rc == FOLIO_E_NOT_FOUND)
        s = folio_sched_state_new();
    else if (rc != 0)
        return rc;
    uint64_t from = s->last_seq;
    rc = folio_sched_state_catch_up(s, journal_dir, d);
    info->events_applied = s->last_seq - from;
    info->last_seq = s->last_seq;
    if (rc != 0) {
        folio_sched_state_free(s);
        return rc;
    }
    *out = s;
    return 0;
}
