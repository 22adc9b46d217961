/*
 * `folio journal ...`: dispatch, option parsing and DIR resolution for the
 * journal subcommands, and the two that print events, inspect and tail.
 *
 * Both read through folio_journal_reader_*, so every frame they print has
 * passed the same checks recovery applies; they take no lock and never
 * change a byte. Events before a problem are printed (and flushed) before
 * the diagnostic, so the output shows exactly how far the journal is sound.
 * tail --follow switches from catch-up to live through the reader itself
 * (FOLIO_READER_FOLLOW), which guarantees no gap and no duplicate.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "folio/common.h"
#include "folio/error.h"

_Static_assert(FOLIO_EV_TYPE_COUNT <= 32, "--type mask holds one bit per event type");

/* Set by SIGINT/SIGTERM while tail --follow runs. */
static volatile sig_atomic_t stop_requested;

enum opt_bits {
    OPT_FROM = 1u << 0,
    OPT_TO = 1u << 1,
    OPT_TYPE = 1u << 2,
    OPT_FOLLOW = 1u << 3,
    OPT_LINES = 1u << 4,
    OPT_VERIFY = 1u << 5,
};

struct subcommand {
    const char *name;
    int (*run)(struct cli_journal_opts *o);
    unsigned opts; /* enum opt_bits it accepts (--json and --help: all) */
    const char *help;
};

static const struct subcommand subcommands[] = {
    {"inspect", cli_journal_inspect, OPT_FROM | OPT_TO | OPT_TYPE,
     "usage: folio journal inspect DIR [--from SEQ] [--to SEQ] [--type T[,T...]] [--json]\n"
     "\n"
     "Prints the events of the journal in DIR, oldest first, one per line:\n"
     "  seq=N at=RFC3339 type=T segment=NAME offset=N {the event's other fields as JSON}\n"
     "at is the event's own time; offset is the byte offset of its frame in the segment.\n"
     "\n"
     "  --from SEQ   start at this seq (default 1)\n"
     "  --to SEQ     stop after this seq (inclusive)\n"
     "  --type T     only events of type T; repeat it or give a comma list\n"
     "  --json       one object per line:\n"
     "               {\"seq\":N,\"segment\":NAME,\"offset\":N,\"frame_at\":NS,\"event\":{...}}\n"
     "\n"
     "Every frame read is verified. If the journal is damaged, the events before the\n"
     "damage are printed, then 'segment S offset N seq N: reason' on stderr, and the\n"
     "exit code is 2 (torn tail) or 1 (corruption).\n"},
    {"replay", cli_journal_replay, OPT_VERIFY,
     "usage: folio journal replay DB [--verify] [--json]\n"
     "\n"
     "Rebuilds the scheduler's state from the data directory DB (its journal/ and\n"
     "checkpoints/) on a stopped server, the way start-up does: the newest checkpoint\n"
     "that validates and matches the journal, then every later event. Prints what was\n"
     "used, the events applied, tasks, batches, the state hash and the time taken.\n"
     "\n"
     "  --verify   also replay every event from seq 1, without a checkpoint, and\n"
     "             compare the two states field by field; on a difference print the\n"
     "             first one and exit 1\n"
     "\n"
     "Exit 0 if the state was rebuilt (and, with --verify, both agree); 1 if an\n"
     "event contradicts the state, a checkpoint disagrees with the journal or the\n"
     "two replays differ; 2 if the journal ends in a torn tail.\n"},
    {"verify", cli_journal_verify, 0,
     "usage: folio journal verify DIR [--json]\n"
     "\n"
     "Checks every segment header, frame, seal, hash-chain link, seq and event of the\n"
     "journal in DIR without changing it, and prints a summary: segments (sealed),\n"
     "frames, events, first and last seq with their commit times, bytes used and total.\n"
     "On failure it also prints 'segment S offset N seq N: reason'.\n"
     "Exit 0 only if the journal is sound; 2 if its only problem is a torn tail that\n"
     "opening it for writing would repair; 1 for corruption.\n"
     "--json prints one object: {\"status\":\"ok\"|\"torn_tail\"|\"corrupt\", ...}.\n"},
    {"tail", cli_journal_tail, OPT_FROM | OPT_TYPE | OPT_FOLLOW | OPT_LINES,
     "usage: folio journal tail DIR [-n N] [--from SEQ] [--follow] [--type T] [--json]\n"
     "\n"
     "Prints the last N events of the journal in DIR (default 10), in the format of\n"
     "'folio journal inspect'.\n"
     "\n"
     "  -n, --lines N   start N events before the end (counted before --type)\n"
     "  --from SEQ      start at this seq instead\n"
     "  -f, --follow    keep running and print each event once it is durable, until\n"
     "                  SIGINT or SIGTERM (exit 0); output is flushed after each batch\n"
     "  --type T        only events of type T; repeat it or give a comma list\n"
     "  --json          one JSON object per line, as inspect --json\n"},
    {"stats", cli_journal_stats, 0,
     "usage: folio journal stats DIR [--json]\n"
     "\n"
     "Prints segments (count, sealed), frames, events by type, bytes used and total,\n"
     "and the first and last seq with their commit times (RFC 3339).\n"
     "Exit codes as for verify: the journal is verified while it is counted.\n"},
};

static const char journal_usage[] =
    "usage: folio journal <command> DIR [<options>]\n"
    "\n"
    "  inspect   print events (--from, --to, --type)\n"
    "  verify    check the whole journal; exit 0 only if it is sound\n"
    "  tail      print the newest events; --follow keeps printing new ones\n"
    "  stats     segments, bytes, seq and time range, events by type\n"
    "  replay    rebuild the scheduler state; --verify: full replay vs checkpoint + tail\n"
    "\n"
    "DIR is a journal directory or a data directory containing journal/.\n"
    "'folio journal <command> --help' describes each; 'folio --help' lists exit codes.\n";

static int
usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "folio journal %s: %s (see --help)\n", cmd, msg);
    return CLI_USAGE;
}


/* Adds the comma-separated type names in s to *mask. */
static bool
parse_types(const char *s, uint32_t *mask)
{
    while (*s != '\0') {
        size_t n = strcspn(s, ",");
        enum folio_event_type t = folio_event_type_parse(s, n);
        if (t == FOLIO_EV_NONE) {
            fprintf(stderr, "folio: unknown event type '%.*s'; known types:", (int)n, s);
            for (int i = FOLIO_EV_NONE + 1; i < FOLIO_EV_TYPE_COUNT; i++)
                fprintf(stderr, " %s", folio_event_type_name((enum folio_event_type)i));
            fputc('\n', stderr);
            return false;
        }
        *mask |= 1u << t;
        s += n + (s[n] == ',');
    }
    return true;
}

/* One option; returns CLI_OK or CLI_USAGE. */
static int
apply_option(const struct subcommand *sc, int c, const char *arg, struct cli_journal_opts *o)
{
    switch (c) {
    case 'F':
        if (!cli_parse_u64(arg, &o->from_seq))
            return usage_error(sc->name, "--from takes a sequence number");
        o->from_set = true;
        return CLI_OK;
    case 'T':
        if (!cli_parse_u64(arg, &o->to_seq))
            return usage_error(sc->name, "--to takes a sequence number");
        return CLI_OK;
    case 'y':
        return parse_types(arg, &o->type_mask) ? CLI_OK : CLI_USAGE;
    case 'n':
        if (!cli_parse_u64(arg, &o->lines))
            return usage_error(sc->name, "-n takes a number of events");
        return CLI_OK;
    case 'f':
        o->follow = true;
        return CLI_OK;
    case 'V':
        o->verify = true;
        return CLI_OK;
    case 'j':
        o->json = true;
        return CLI_OK;
    default:
        return CLI_USAGE; /* getopt already said what was wrong */
    }
}

/* Parses argv (argv[0] is the subcommand); CLI_OK, CLI_USAGE, or -1 after --help. */
static int
parse_args(const struct subcommand *sc, int argc, char **argv, struct cli_journal_opts *o)
{
    /* Options a command does not take are left out of its table, so getopt rejects them. */
    const struct {
        struct option opt;
        unsigned bit;
    } all[] = {
        {{"from", required_argument, NULL, 'F'}, OPT_FROM},
        {{"to", required_argument, NULL, 'T'}, OPT_TO},
        {{"type", required_argument, NULL, 'y'}, OPT_TYPE},
        {{"follow", no_argument, NULL, 'f'}, OPT_FOLLOW},
        {{"lines", required_argument, NULL, 'n'}, OPT_LINES},
        {{"verify", no_argument, NULL, 'V'}, OPT_VERIFY},
        {{"json", no_argument, NULL, 'j'}, 0},
        {{"help", no_argument, NULL, 'h'}, 0},
    };
    struct option longopts[FOLIO_ARRAY_LEN(all) + 1];
    size_t n = 0;
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(all); i++)
        if (all[i].bit == 0 || (sc->opts & all[i].bit))
            longopts[n++] = all[i].opt;
    memset(&longopts[n], 0, sizeof(longopts[n]));
    const char *shortopts = (sc->opts & OPT_FOLLOW) ? "hfn:" : "h";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(sc->help, stdout);
            return -1;
        }
        if (apply_option(sc, c, optarg, o) != CLI_OK)
            return CLI_USAGE;
    }
    if (optind + 1 != argc)
        return usage_error(sc->name, optind == argc ? "DIR is missing" : "too many arguments");
    o->dir_arg = argv[optind];
    return CLI_OK;
}


int
cli_journal_main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(journal_usage, stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(journal_usage, stdout);
        return cli_out_flush(NULL);
    }
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(subcommands); i++) {
        const struct subcommand *sc = &subcommands[i];
        if (strcmp(argv[1], sc->name) != 0)
            continue;
        struct cli_journal_opts o = {.from_seq = 1, .to_seq = UINT64_MAX, .lines = 10};
        int rc = parse_args(sc, argc - 1, argv + 1, &o);
        if (rc == -1)
            return cli_out_flush(NULL);
        if (rc == CLI_OK)
            rc = cli_resolve_dir(o.dir_arg, o.dir, sizeof(o.dir));
        if (rc == CLI_OK)
            rc = sc->run(&o);
        return rc;
    }
    fprintf(stderr, "folio journal: unknown command '%s'\n\n%s", argv[1], journal_usage);
    return CLI_USAGE;
}

/* ---- printing events ------------------------------------------------------ */

static int
reader_open_or_report(const struct cli_journal_opts *o, uint64_t from, unsigned flags,
                      struct folio_journal_reader **r)
{
    struct folio_journal_diag d;
    int err = folio_journal_reader_open(o->dir, from ? from : 1, flags, r, &d);
    if (err == FOLIO_E_NOT_FOUND)
        fprintf(stderr, "folio: no journal in %s: %s\n", o->dir, d.reason);
    else if (err != FOLIO_OK)
        cli_diag_print("", &d);
    return cli_exit_for(err);
}

/*
 * Prints events from r until it has none for now. *rc gets the reader's last
 * result (FOLIO_E_END or FOLIO_E_AGAIN when all went well); *stop is set when
 * nothing more should be read (--to passed, the reader went away). Returns
 * CLI_OK or the exit code to stop with, after reporting why.
 */
static int
print_available(struct folio_journal_reader *r, const struct cli_journal_opts *o, int *rc,
                bool *stop)
{
    struct folio_journal_record rec;
    struct folio_journal_diag d;
    while ((*rc = folio_journal_reader_next(r, &rec, &d)) == FOLIO_OK) {
        if (rec.seq > o->to_seq) {
            *stop = true;
            return CLI_OK;
        }
        int err;
        if (cli_type_selected(&rec, o->type_mask, &err)) {
            int code = cli_print_event(&rec, o->json);
            if (code != CLI_OK)
                return code;
        } else if (err != FOLIO_OK) {
            snprintf(d.segment, sizeof(d.segment), "%s", rec.segment);
            d.offset = rec.frame_offset;
            d.seq = rec.seq;
            snprintf(d.reason, sizeof(d.reason), "event does not decode: %s",
                     folio_err_message(err));
            cli_diag_print("", &d);
            return CLI_CORRUPT;
        }
        if (cli_out_failed() || stop_requested)
            return cli_out_flush(stop);
        if (rec.seq == o->to_seq) {
            /* Done: reading on could only report damage beyond what was asked for. */
            *stop = true;
            return CLI_OK;
        }
    }
    if (*rc == FOLIO_E_END || *rc == FOLIO_E_AGAIN)
        return CLI_OK;
    cli_out_flush(NULL);
    cli_diag_print("", &d);
    return cli_exit_for(*rc);
}

int
cli_journal_inspect(struct cli_journal_opts *o)
{
    struct folio_journal_reader *r = NULL;
    int rc, code = reader_open_or_report(o, o->from_seq, 0, &r);
    bool stop = false;
    if (code != CLI_OK)
        return code;
    code = print_available(r, o, &rc, &stop);
    folio_journal_reader_close(r);
    if (code != CLI_OK)
        return code;
    return cli_out_flush(NULL);
}

/* First seq of the newest segment in dir, 0 if none (names: <20 digits>.seg). */
static uint64_t
newest_segment_first(const char *dir)
{
    uint64_t newest = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t first;
        char digits[21];
        if (strlen(e->d_name) != 24 || strcmp(e->d_name + 20, ".seg") != 0)
            continue;
        memcpy(digits, e->d_name, 20);
        digits[20] = '\0';
        if (cli_parse_u64(digits, &first) && first > newest)
            newest = first;
    }
    closedir(d);
    return newest;
}

/*
 * Where `tail -n N` starts: N events before the end. Only the newest segment
 * is read to find the end; damage there is left for the real read to report.
 */
static uint64_t
tail_start(const struct cli_journal_opts *o)
{
    uint64_t first = newest_segment_first(o->dir), last = 0;
    struct folio_journal_reader *r = NULL;
    struct folio_journal_record rec;
    if (first == 0 || folio_journal_reader_open(o->dir, first, 0, &r, NULL) != FOLIO_OK)
        return 1;
    last = first - 1;
    while (folio_journal_reader_next(r, &rec, NULL) == FOLIO_OK)
        last = rec.seq;
    folio_journal_reader_close(r);
    return last >= o->lines ? last - o->lines + 1 : 1;
}

static void
on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void
stop_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked write returns so we notice the stop */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int
cli_journal_tail(struct cli_journal_opts *o)
{
    struct folio_journal_reader *r = NULL;
    uint64_t from = o->from_set ? o->from_seq : tail_start(o);
    int rc = FOLIO_OK, code;
    bool stop = false;
    if (o->follow)
        stop_signals_install();
    code = reader_open_or_report(o, from, o->follow ? FOLIO_READER_FOLLOW : 0, &r);
    if (code != CLI_OK)
        return code;
    for (;;) {
        code = print_available(r, o, &rc, &stop);
        if (stop_requested) {
            code = CLI_OK; /* a write cut short by the signal is not an error */
            break;
        }
        if (code != CLI_OK || stop || !o->follow)
            break;
        /* A batch is printed: hand it on before waiting for the next one. */
        code = cli_out_flush(&stop);
        if (code != CLI_OK || stop)
            break;
        folio_journal_reader_wait(r, 100);
        if (stop_requested)
            break;
    }
    folio_journal_reader_close(r);
    if (code != CLI_OK)
        return code;
    code = cli_out_flush(NULL);
    return stop_requested ? CLI_OK : code;
}
