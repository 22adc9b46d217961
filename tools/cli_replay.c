/*
 * `folio journal replay DB [--verify]`: rebuilds the scheduler state of a
 * stopped server's data directory exactly as start-up does (newest usable
 * checkpoint + the journal after it) and, with --verify, checks it against a
 * full replay from seq 1: DESIGN §6 requires both to give the same state, and
 * this is the operator's way to prove it on real data.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "folio/clock.h"
#include "folio/error.h"
#include "folio/sched.h"

struct replay_run {
    struct folio_sched_state *state;
    struct folio_sched_replay_info info;
    double seconds;
};

static void
replay_diag_print(const char *what, int err, const struct folio_sched_diag *d)
{
    fprintf(stderr, "folio: %s failed: %s", what, folio_err_message(err));
    if (d->file[0] != '\0')
        fprintf(stderr, " (checkpoint %s)", d->file);
    if (d->seq != 0)
        fprintf(stderr, " at seq %" PRIu64, d->seq);
    if (d->reason[0] != '\0')
        fprintf(stderr, ": %s", d->reason);
    fputc('\n', stderr);
}

static int
replay_once(const char *journal_dir, const char *checkpoint_dir, const char *what,
            struct replay_run *run)
{
    struct folio_sched_diag d;
    memset(&d, 0, sizeof(d));
    int64_t t0 = folio_clock_mono_ns();
    int err = folio_sched_state_replay(journal_dir, checkpoint_dir, &run->state, &run->info, &d);
    run->seconds = (double)(folio_clock_mono_ns() - t0) / 1e9;
    if (err != FOLIO_OK) {
        replay_diag_print(what, err, &d);
        return cli_exit_for(err);
    }
    return CLI_OK;
}

static void
replay_print(const char *label, const struct replay_run *run, bool json)
{
    const struct folio_sched_state *s = run->state;
    if (json) {
        printf("{\"replay\":");
        cli_json_str(stdout, label);
        printf(",\"checkpoint\":");
        if (run->info.checkpoint_file[0] != '\0')
            cli_json_str(stdout, run->info.checkpoint_file);
        else
            printf("null");
        printf(",\"checkpoint_seq\":%" PRIu64 ",\"checkpoints_skipped\":%u"
               ",\"events_applied\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",\"tasks\":%" PRIu64
               ",\"batches\":%" PRIu64 ",\"state_hash\":\"%016" PRIx64 "\",\"seconds\":%.6f}\n",
               run->info.checkpoint_seq, run->info.checkpoints_skipped, run->info.events_applied,
               run->info.last_seq, folio_sched_state_task_count(s),
               folio_sched_state_batch_count(s), folio_sched_state_hash(s), run->seconds);
        return;
    }
    printf("%-12s checkpoint %s (seq %" PRIu64 ", %u skipped), %" PRIu64
           " events applied, last seq %" PRIu64 ", %" PRIu64 " tasks, %" PRIu64
           " batches, state hash %016" PRIx64 ", %.3f s\n",
           label, run->info.checkpoint_file[0] ? run->info.checkpoint_file : "none",
           run->info.checkpoint_seq, run->info.checkpoints_skipped, run->info.events_applied,
           run->info.last_seq, folio_sched_state_task_count(s), folio_sched_state_batch_count(s),
           folio_sched_state_hash(s), run->seconds);
}

/* DB/checkpoints when DB is a data directory, else none. */
static const char *
checkpoint_dir_of(const struct cli_journal_opts *o, char *buf, size_t len)
{
    struct stat st;
    snprintf(buf, len, "%s/checkpoints", o->dir_arg);
    return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? buf : NULL;
}

int
cli_journal_replay(struct cli_journal_opts *o)
{
    char ckpt_buf[4096];
    const char *ckpt_dir = checkpoint_dir_of(o, ckpt_buf, sizeof(ckpt_buf));
    struct replay_run start = {0}, full = {0};
    int rc = replay_once(o->dir, ckpt_dir, "replay from the newest checkpoint", &start);
    if (rc == CLI_OK) {
        replay_print("start-up", &start, o->json);
        if (o->verify)
            rc = replay_once(o->dir, NULL, "full replay from seq 1", &full);
    }
    if (rc == CLI_OK && o->verify) {
        replay_print("full", &full, o->json);
        char diff[512] = "";
        if (!folio_sched_state_equal(full.state, start.state, diff, sizeof(diff))) {
            fprintf(stderr, "folio: the two replays differ: %s\n", diff);
            rc = CLI_CORRUPT;
        } else if (!o->json) {
            printf("verify: full replay and checkpoint + tail agree\n");
        }
    }
    folio_sched_state_free(start.state);
    folio_sched_state_free(full.state);
    int out = cli_out_flush(NULL);
    return rc != CLI_OK ? rc : out;
}
