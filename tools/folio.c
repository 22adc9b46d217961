/*
 * main() of the folio CLI: git-style dispatch (`folio <group> <command>`),
 * the top-level help with the exit-code table, and process-wide setup.
 *
 * SIGPIPE is ignored for the whole run so that a reader closing the pipe
 * shows up as EPIPE on a write, which every command turns into a quiet
 * exit 0 (cli_out_flush) instead of dying by a signal.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef FOLIO_VERSION_STRING
#define FOLIO_VERSION_STRING "unknown"
#endif

static const char usage_text[] =
    "usage: folio [--help] [--version] <command> [<args>]\n"
    "\n"
    "Commands:\n"
    "  journal inspect DIR   print events (filter by seq range and type)\n"
    "  journal verify DIR    check every segment, frame, seal, chain link and seq\n"
    "  journal tail DIR      print the newest events; --follow keeps printing new ones\n"
    "  journal stats DIR     segments, bytes, seq and time range, events by type\n"
    "  journal replay DB     rebuild the scheduler state; --verify compares with a full replay\n"
    "  task show DB UID      a task's whole life: registration, batches, progress, outcome\n"
    "  index history DB UID  every event that touched an index, swaps included\n"
    "  snapshot inspect FILE a snapshot archive's manifest and files (reads its head only)\n"
    "  snapshot verify FILE  every check an import makes; exit 0 only if the archive is sound\n"
    "\n"
    "DIR (DB) is a journal directory or a data directory containing journal/.\n"
    "Every command takes --help; --json prints one JSON object per line (NDJSON).\n"
    "\n"
    "Exit codes:\n"
    "   0  success\n"
    "   1  corruption or verification failure (also an unsupported format version;\n"
    "      for snapshots: snapshot_invalid, _checksum_mismatch, _version_mismatch)\n"
    "   2  the journal ends in a torn tail (what recovery on open would repair)\n"
    "   3  task show / index history: no event mentions that task or index\n"
    "  64  usage error\n"
    "  66  no such journal (snapshot commands: no such file)\n"
    "  74  I/O error\n"
    "\n"
    "The on-disk formats and these tools are described in docs/journal-format.md and\n"
    "docs/snapshot-format.md.\n";

static int
usage(FILE *f, int code)
{
    fputs(usage_text, f);
    return code;
}

int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2)
        return usage(stderr, CLI_USAGE);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout, CLI_OK);
        return cli_out_flush(NULL);
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("folio %s\n", FOLIO_VERSION_STRING);
        return cli_out_flush(NULL);
    }
    if (strcmp(cmd, "journal") == 0)
        return cli_journal_main(argc - 1, argv + 1);
    if (strcmp(cmd, "task") == 0)
        return cli_task_main(argc - 1, argv + 1);
    if (strcmp(cmd, "index") == 0)
        return cli_index_main(argc - 1, argv + 1);
    if (strcmp(cmd, "snapshot") == 0)
        return cli_snapshot_main(argc - 1, argv + 1);
    fprintf(stderr, "folio: unknown command '%s'\n\n", cmd);
    return usage(stderr, CLI_USAGE);
}
