/*
 * Shared pieces of the folio CLI: exit codes, the parsed options of the
 * journal subcommands, and the output helpers every subcommand uses.
 *
 * Exit codes are part of the CLI's contract (folio --help and
 * docs/journal-format.md, "Tools"): scripts branch on them, so a code's
 * meaning never changes.
 */
#ifndef FOLIO_CLI_H
#define FOLIO_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "folio/event.h"
#include "folio/journal.h"

enum cli_exit {
    CLI_OK = 0,          /* success (also: stopped by SIGINT/SIGTERM, reader went away) */
    CLI_CORRUPT = 1,     /* corruption, verification failure, unsupported version */
    CLI_TORN = 2,        /* the journal ends in a torn tail that recovery would repair */
    CLI_NOT_FOUND = 3,   /* task show / index history: no event mentions the uid */
    CLI_USAGE = 64,      /* bad command line (EX_USAGE) */
    CLI_NO_JOURNAL = 66, /* no journal at DIR (EX_NOINPUT) */
    CLI_IO = 74,         /* I/O error (EX_IOERR) */
};

/* Options of `folio journal <cmd>`; which ones a command accepts is its own business. */
struct cli_journal_opts {
    const char *dir_arg; /* DIR as given */
    char dir[4096];      /* the journal directory DIR resolves to */
    uint64_t from_seq;   /* --from (1 if not given) */
    bool from_set;
    uint64_t to_seq;    /* --to (UINT64_MAX if not given) */
    uint64_t lines;     /* tail -n (default 10) */
    uint32_t type_mask; /* --type: bit per enum folio_event_type; 0 = all */
    bool json;
    bool follow;
    bool verify;        /* replay --verify */
};

/* ---- subcommands (cli_journal.c, cli_verify.c) --------------------------- */

int cli_journal_main(int argc, char **argv);
int cli_journal_inspect(struct cli_journal_opts *o);
int cli_journal_tail(struct cli_journal_opts *o);
int cli_journal_verify(struct cli_journal_opts *o);
int cli_journal_stats(struct cli_journal_opts *o);
int cli_journal_replay(struct cli_journal_opts *o); /* cli_replay.c */

/* `folio task show`, `folio index history` (cli_audit.c); argv[0] is the group. */
int cli_task_main(int argc, char **argv);
int cli_index_main(int argc, char **argv);

/* `folio snapshot inspect|verify` (cli_snapshot.c); argv[0] is the group. */
int cli_snapshot_main(int argc, char **argv);

/* ---- output helpers (cli_out.c) ------------------------------------------ */

/* Parses a decimal u64, nothing else allowed. */
bool cli_parse_u64(const char *s, uint64_t *out);

/*
 * The journal directory for a DIR/DB argument: arg/journal when arg is a data
 * directory, else arg itself. Reports and returns CLI_NO_JOURNAL, CLI_IO or
 * CLI_USAGE when it cannot; CLI_OK otherwise.
 */
int cli_resolve_dir(const char *arg, char *dir, size_t dir_len);

/* Exit code for a folio error code (FOLIO_E_CORRUPT -> 1, ...). */
int cli_exit_for(int err);

/*
 * Writes s as a JSON string (quoted, escaped) to f. Bytes >= 0x80 are copied
 * when they form valid UTF-8 and become \ufffd otherwise, so the output is
 * always valid JSON.
 */
void cli_json_str(FILE *f, const char *s);
/* Writes an RFC 3339 time as a JSON string, or null when have is false. */
void cli_json_time(FILE *f, int64_t unix_ns, bool have);

/* Prints "folio: <prefix>segment S offset N seq N: reason" to stderr. */
void cli_diag_print(const char *prefix, const struct folio_journal_diag *d);

/*
 * Flushes stdout and reports how writing went: CLI_OK, or the exit code to
 * stop with. A reader that went away (EPIPE) is not an error: the command
 * stops quietly with CLI_OK, like `git log | head`; *stop is set then too.
 */
int cli_out_flush(bool *stop);
/* Like cli_out_flush without flushing: has an earlier write failed? */
bool cli_out_failed(void);

/*
 * Prints one event read from the journal: the text line or the --json
 * object (docs/journal-format.md, "Tools"). Returns CLI_OK, or CLI_CORRUPT
 * after printing a diagnostic if the event does not decode.
 */
int cli_print_event(const struct folio_journal_record *rec, bool json);

/* Does the event's type pass the --type filter? *err gets a peek error. */
bool cli_type_selected(const struct folio_journal_record *rec, uint32_t type_mask, int *err);

#endif
