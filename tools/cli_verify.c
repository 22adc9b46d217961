/*
 * `folio journal verify` and `folio journal stats`: whole-journal facts.
 *
 * Both rest on folio_journal_verify, which walks every segment with the
 * scanner recovery uses and fully decodes every event, so what they report
 * as sound is exactly what opening the journal would accept. stats adds a
 * count of events by type from a reader (folio_event_peek per event). A
 * failure is printed as "segment S offset N seq N: reason" after the facts
 * gathered up to it; the exit code says which kind of failure it was.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "folio/clock.h"
#include "folio/error.h"

/* Stable word for a verify result, as used in --json "status". */
static const char *
status_name(int err)
{
    if (err == FOLIO_OK)
        return "ok";
    return folio_err_name(err);
}

static int
run_verify(const struct cli_journal_opts *o, struct folio_journal_verify_info *info,
           struct folio_journal_diag *d, int *err)
{
    *err = folio_journal_verify(o->dir, info, d);
    if (*err == FOLIO_E_NOT_FOUND) {
        fprintf(stderr, "folio: no journal in %s: %s\n", o->dir, d->reason);
        return CLI_NO_JOURNAL;
    }
    return CLI_OK;
}

static void
print_facts_text(const struct folio_journal_verify_info *in)
{
    char t[FOLIO_RFC3339_LEN];
    printf("segments: %" PRIu64 " (%" PRIu64 " sealed)\n", in->segments, in->sealed_segments);
    printf("frames: %" PRIu64 "\n", in->frames);
    if (in->events == 0) {
        printf("events: 0\n");
    } else {
        printf("events: %" PRIu64 " (seq %" PRIu64 "..%" PRIu64 ")\n", in->events, in->first_seq,
               in->last_seq);
        printf("first: seq %" PRIu64 " committed %s\n", in->first_seq,
               folio_clock_format_rfc3339(in->first_at_ns, t, sizeof(t)));
        printf("last: seq %" PRIu64 " committed %s\n", in->last_seq,
               folio_clock_format_rfc3339(in->last_at_ns, t, sizeof(t)));
    }
    printf("bytes: %" PRIu64 " used of %" PRIu64 "\n", in->bytes_used, in->bytes_total);
}

/* The facts as JSON members (no braces), shared by verify and stats. */
static void
print_facts_json(const struct folio_journal_verify_info *in)
{
    bool have = in->events != 0;
    printf("\"segments\":%" PRIu64 ",\"sealed_segments\":%" PRIu64 ",\"frames\":%" PRIu64
           ",\"events\":%" PRIu64 ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64,
           in->segments, in->sealed_segments, in->frames, in->events, in->first_seq, in->last_seq);
    fputs(",\"first_at\":", stdout);
    cli_json_time(stdout, in->first_at_ns, have);
    fputs(",\"last_at\":", stdout);
    cli_json_time(stdout, in->last_at_ns, have);
    printf(",\"bytes_used\":%" PRIu64 ",\"bytes_total\":%" PRIu64, in->bytes_used, in->bytes_total);
}

static void
print_problem_json(int err, const struct folio_journal_diag *d)
{
    if (err == FOLIO_OK) {
        fputs(",\"error\":null", stdout);
        return;
    }
    fputs(",\"error\":{\"segment\":", stdout);
    cli_json_str(stdout, d->segment);
    printf(",\"offset\":%" PRIu64 ",\"seq\":%" PRIu64 ",\"reason\":", d->offset, d->seq);
    cli_json_str(stdout, d->reason);
    fputc('}', stdout);
}

static void
print_problem_text(int err, const struct folio_journal_diag *d)
{
    if (err == FOLIO_OK)
        return;
    printf("segment %s offset %" PRIu64 " seq %" PRIu64 ": %s\n", d->segment[0] ? d->segment : "-",
           d->offset, d->seq, d->reason);
}

int
cli_journal_verify(struct cli_journal_opts *o)
{
    struct folio_journal_verify_info info;
    struct folio_journal_diag d;
    int err;
    int code = run_verify(o, &info, &d, &err);
    if (code != CLI_OK)
        return code;
    if (o->json) {
        fputs("{\"status\":", stdout);
        cli_json_str(stdout, status_name(err));
        fputs(",\"journal\":", stdout);
        cli_json_str(stdout, o->dir);
        fputc(',', stdout);
        print_facts_json(&info);
        print_problem_json(err, &d);
        fputs("}\n", stdout);
    } else {
        printf("journal: %s\nstatus: %s\n", o->dir,
               err == FOLIO_OK            ? "ok"
               : err == FOLIO_E_TORN_TAIL ? "torn tail"
                                          : "FAILED");
        print_facts_text(&info);
        print_problem_text(err, &d);
    }
    code = cli_out_flush(NULL);
    return err != FOLIO_OK ? cli_exit_for(err) : code;
}

/* Counts events by type with a reader; stops quietly at damage (verify reports it). */
static void
count_types(const struct cli_journal_opts *o, uint64_t counts[FOLIO_EV_TYPE_COUNT])
{
    struct folio_journal_reader *r = NULL;
    struct folio_journal_record rec;
    memset(counts, 0, FOLIO_EV_TYPE_COUNT * sizeof(counts[0]));
    if (folio_journal_reader_open(o->dir, 1, 0, &r, NULL) != FOLIO_OK)
        return;
    while (folio_journal_reader_next(r, &rec, NULL) == FOLIO_OK) {
        enum folio_event_type type = FOLIO_EV_NONE;
        if (folio_event_peek(rec.data, rec.len, NULL, &type, NULL) == FOLIO_OK)
            counts[type]++;
    }
    folio_journal_reader_close(r);
}

static void
print_types(const uint64_t counts[FOLIO_EV_TYPE_COUNT], bool json)
{
    bool first = true;
    fputs(json ? ",\"by_type\":{" : "events by type:\n", stdout);
    for (int t = FOLIO_EV_NONE + 1; t < FOLIO_EV_TYPE_COUNT; t++) {
        const char *name = folio_event_type_name((enum folio_event_type)t);
        if (counts[t] == 0)
            continue;
        if (json)
            printf("%s\"%s\":%" PRIu64, first ? "" : ",", name, counts[t]);
        else
            printf("  %-20s %" PRIu64 "\n", name, counts[t]);
        first = false;
    }
    if (json)
        fputc('}', stdout);
}

int
cli_journal_stats(struct cli_journal_opts *o)
{
    struct folio_journal_verify_info info;
    struct folio_journal_diag d;
    uint64_t counts[FOLIO_EV_TYPE_COUNT];
    int err;
    int code = run_verify(o, &info, &d, &err);
    if (code != CLI_OK)
        return code;
    count_types(o, counts);
    if (o->json) {
        fputs("{\"status\":", stdout);
        cli_json_str(stdout, status_name(err));
        fputc(',', stdout);
        print_facts_json(&info);
        print_types(counts, true);
        print_problem_json(err, &d);
        fputs("}\n", stdout);
    } else {
        print_facts_text(&info);
        print_types(counts, false);
        print_problem_text(err, &d);
    }
    code = cli_out_flush(NULL);
    return err != FOLIO_OK ? cli_exit_for(err) : code;
}
