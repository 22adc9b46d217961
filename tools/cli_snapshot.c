/*
 * `folio snapshot inspect|verify FILE`: what a snapshot archive holds, and
 * whether it is sound (docs/snapshot-format.md, "Tools").
 *
 * inspect reads only the archive's head (the manifest entry) and lists the
 * files from the manifest, so it is instant on any size; verify streams the
 * whole archive through every check an import makes, writing nothing.
 * Neither changes a byte. Errors go to stderr with the error's stable name;
 * --json output is one complete JSON object per line on stdout.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/snapshot.h"

static const char snapshot_usage[] =
    "usage: folio snapshot <command> FILE [--json]\n"
    "\n"
    "  inspect   the manifest and the files it lists (reads only the archive's head)\n"
    "  verify    every check an import makes, every checksum; exit 0 only if sound\n"
    "\n"
    "'folio snapshot <command> --help' describes each; 'folio --help' lists exit codes.\n";

static const char inspect_help[] =
    "usage: folio snapshot inspect FILE [--json]\n"
    "\n"
    "Prints the manifest of the snapshot archive FILE (kind, versions, creation time,\n"
    "source instance, seq, task uid, the index's uid, primary key, document count and\n"
    "settings, or an instance snapshot's indexes) and the files it lists, with sizes\n"
    "and XXH3-128 checksums. Only the archive's first entry is read: nothing is\n"
    "verified beyond the manifest itself (use verify for that).\n"
    "\n"
    "  --json   one JSON object per line: first {\"type\":\"manifest\", ...} with the\n"
    "           manifest's fields (camelCase, as in the archive) plus file, bytes and\n"
    "           compression; then one {\"type\":\"file\",\"name\",\"size\",\"xxh3_128\"}\n"
    "           per file\n"
    "\n"
    "Exit 0 if the manifest was read; 1 if it is missing, malformed or of another\n"
    "format or engine major version; 66 if FILE does not exist; 74 on I/O errors.\n";

static const char verify_help[] =
    "usage: folio snapshot verify FILE [--json]\n"
    "\n"
    "Reads the whole snapshot archive FILE and makes every check an import makes:\n"
    "the manifest (first entry, well-formed, this format and engine major version),\n"
    "then every entry (a regular file, named and sized exactly as the manifest lists,\n"
    "in its order; no links, devices, directories or extra entries) and every file's\n"
    "XXH3-128. Nothing is written. Prints one line: 'ok: FILE ...' with the archive's\n"
    "own XXH3-128, or the problem on stderr. A progress bar is drawn on stderr when\n"
    "it is a terminal.\n"
    "\n"
    "  --json   one object: {\"status\":\"ok\",\"file\",\"kind\",\"files\",\"dataBytes\",\n"
    "           \"archiveBytes\",\"archiveXxh3_128\"} or {\"status\":\"failed\",\"file\",\n"
    "           \"error\":STABLE_NAME,\"message\"}\n"
    "\n"
    "Exit 0 only if the archive is sound; 1 if it is not (snapshot_invalid,\n"
    "snapshot_checksum_mismatch, snapshot_version_mismatch: the error names which);\n"
    "66 if FILE does not exist; 74 on I/O errors.\n";

struct snap_opts {
    const char *file;
    bool json;
};

/* Exit code for a snapshot error. */
static int
snap_exit(int err)
{
    switch (err) {
    case FOLIO_OK:
        return CLI_OK;
    case FOLIO_E_SNAPSHOT_INVALID:
    case FOLIO_E_SNAPSHOT_CHECKSUM:
    case FOLIO_E_SNAPSHOT_VERSION:
        return CLI_CORRUPT;
    case FOLIO_E_NOT_FOUND:
        return CLI_NO_JOURNAL; /* 66: no such input */
    default:
        return CLI_IO;
    }
}

static int
report(const struct snap_opts *o, const char *cmd, int rc,
       const struct folio_snapshot_error *err)
{
    fprintf(stderr, "folio snapshot %s: %s: %s: %s\n", cmd, o->file, folio_err_name(rc),
            err->message);
    if (o->json && strcmp(cmd, "verify") == 0) {
        fputs("{\"status\":\"failed\",\"file\":", stdout);
        cli_json_str(stdout, o->file);
        fputs(",\"error\":", stdout);
        cli_json_str(stdout, folio_err_name(rc));
        fputs(",\"message\":", stdout);
        cli_json_str(stdout, err->message);
        fputs("}\n", stdout);
    }
    int out = cli_out_flush(NULL);
    return out != CLI_OK ? out : snap_exit(rc);
}

/* The compression, from the archive's first bytes (as libarchive would bid). */
static const char *
compression_of(const char *path, uint64_t *bytes)
{
    unsigned char m[4] = {0};
    FILE *f = fopen(path, "rb");
    struct stat st;
    *bytes = 0;
    if (f == NULL)
        return "unknown";
    size_t n = fread(m, 1, sizeof(m), f);
    if (fstat(fileno(f), &st) == 0)
        *bytes = (uint64_t)st.st_size;
    fclose(f);
    if (n == 4 && memcmp(m, "\x28\xb5\x2f\xfd", 4) == 0)
        return "zstd";
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
        return "gzip";
    return "none";
}

static const char *
kind_name(enum folio_snapshot_kind k)
{
    return k == FOLIO_SNAPSHOT_KIND_INDEX ? "index" : "instance";
}

static uint64_t
data_bytes(const struct folio_snapshot_manifest *m)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < m->file_count; i++)
        total += m->files[i].size;
    return total;
}

static void
hex128(const uint8_t d[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void
inspect_text(const struct snap_opts *o, const struct folio_snapshot_manifest *m,
             const char *compression, uint64_t bytes)
{
    char t[FOLIO_RFC3339_LEN];
    printf("file:        %s\n", o->file);
    printf("bytes:       %" PRIu64 " (%s)\n", bytes, compression);
    printf("format:      %s %" PRIu32 "\n", FOLIO_SNAPSHOT_FORMAT_NAME, m->format_version);
    printf("engine:      folio %s\n", m->engine_version);
    printf("kind:        %s\n", kind_name(m->kind));
    printf("created:     %s\n", folio_clock_format_rfc3339(m->created_at_ns, t, sizeof(t)));
    printf("source:      instance %s\n", m->source_instance_uid);
    printf("seq:         %" PRIu64 "\n", m->seq);
    printf("task uid:    %" PRIu64 "\n", m->task_uid);
    if (m->kind == FOLIO_SNAPSHOT_KIND_INDEX) {
        printf("index uid:   %s\n", m->index_uid);
        printf("primary key: %s\n", m->primary_key ? m->primary_key : "(none)");
        printf("documents:   %" PRIu64 "\n", m->document_count);
        printf("settings:    %s\n", m->settings_json);
    } else {
        printf("indexes:     %" PRIu32 "\n", m->index_count);
        for (uint32_t i = 0; i < m->index_count; i++)
            printf("  %s  %s\n", m->index_uids[i], m->index_uuids[i]);
    }
    printf("files:       %" PRIu32 " (%" PRIu64 " bytes)\n", m->file_count, data_bytes(m));
    for (uint32_t i = 0; i < m->file_count; i++) {
        char hex[33];
        hex128(m->files[i].xxh128, hex);
        printf("  %12" PRIu64 "  %s  %s\n", m->files[i].size, hex, m->files[i].name);
    }
}

static void
inspect_json(const struct snap_opts *o, const struct folio_snapshot_manifest *m,
             const char *compression, uint64_t bytes)
{
    fputs("{\"type\":\"manifest\",\"file\":", stdout);
    cli_json_str(stdout, o->file);
    printf(",\"bytes\":%" PRIu64 ",\"compression\":\"%s\",\"format\":\"%s\","
           "\"formatVersion\":%" PRIu32 ",\"engineVersion\":",
           bytes, compression, FOLIO_SNAPSHOT_FORMAT_NAME, m->format_version);
    cli_json_str(stdout, m->engine_version);
    printf(",\"kind\":\"%s\",\"createdAt\":", kind_name(m->kind));
    cli_json_time(stdout, m->created_at_ns, true);
    fputs(",\"sourceInstanceUid\":", stdout);
    cli_json_str(stdout, m->source_instance_uid);
    printf(",\"seq\":%" PRIu64 ",\"taskUid\":%" PRIu64, m->seq, m->task_uid);
    if (m->kind == FOLIO_SNAPSHOT_KIND_INDEX) {
        fputs(",\"indexUid\":", stdout);
        cli_json_str(stdout, m->index_uid);
        fputs(",\"primaryKey\":", stdout);
        if (m->primary_key != NULL)
            cli_json_str(stdout, m->primary_key);
        else
            fputs("null", stdout);
        /* settings_json is the parser's own compact re-encoding: valid JSON. */
        printf(",\"settings\":%s,\"documentCount\":%" PRIu64, m->settings_json,
               m->document_count);
    } else {
        fputs(",\"indexes\":[", stdout);
        for (uint32_t i = 0; i < m->index_count; i++) {
            fputs(i ? ",{\"uid\":" : "{\"uid\":", stdout);
            cli_json_str(stdout, m->index_uids[i]);
            fputs(",\"uuid\":", stdout);
            cli_json_str(stdout, m->index_uuids[i]);
            fputc('}', stdout);
        }
        fputc(']', stdout);
    }
    printf(",\"fileCount\":%" PRIu32 ",\"dataBytes\":%" PRIu64 "}\n", m->file_count,
           data_bytes(m));
    for (uint32_t i = 0; i < m->file_count; i++) {
        char hex[33];
        hex128(m->files[i].xxh128, hex);
        fputs("{\"type\":\"file\",\"name\":", stdout);
        cli_json_str(stdout, m->files[i].name);
        printf(",\"size\":%" PRIu64 ",\"xxh3_128\":\"%s\"}\n", m->files[i].size, hex);
    }
}

static int
cmd_inspect(const struct snap_opts *o)
{
    struct folio_snapshot_manifest *m = NULL;
    struct folio_snapshot_error err = {0};
    int rc = folio_snapshot_read_manifest(o->file, &m, &err);
    if (rc != FOLIO_OK)
        return report(o, "inspect", rc, &err);
    uint64_t bytes = 0;
    const char *compression = compression_of(o->file, &bytes);
    if (o->json)
        inspect_json(o, m, compression, bytes);
    else
        inspect_text(o, m, compression, bytes);
    folio_snapshot_manifest_free(m);
    return cli_out_flush(NULL);
}

/* ---- verify, with a progress bar on a terminal ------------------------------- */

struct bar {
    int last_permille;
    bool drawn;
};

static void
draw_bar(void *ctx, uint64_t done, uint64_t total)
{
    struct bar *b = ctx;
    if (total == 0)
        return;
    int permille = (int)(done >= total ? 1000 : done * 1000 / total);
    if (permille == b->last_permille)
        return;
    b->last_permille = permille;
    char cells[41];
    int full = permille * 40 / 1000;
    for (int i = 0; i < 40; i++)
        cells[i] = i < full ? '#' : '.';
    cells[40] = '\0';
    fprintf(stderr, "\rverifying [%s] %3d.%d%%  %" PRIu64 "/%" PRIu64 " MiB", cells,
            permille / 10, permille % 10, done >> 20, total >> 20);
    fflush(stderr);
    b->drawn = true;
}

static int
cmd_verify(const struct snap_opts *o)
{
    struct folio_snapshot_manifest *m = NULL;
    struct folio_snapshot_error err = {0};
    /* The kind comes from the manifest: verify takes either. */
    int rc = folio_snapshot_read_manifest(o->file, &m, &err);
    if (rc != FOLIO_OK)
        return report(o, "verify", rc, &err);
    struct folio_snapshot_read_opts ro;
    folio_snapshot_read_opts_default(&ro);
    ro.kind = m->kind;
    folio_snapshot_manifest_free(m);
    m = NULL;
    struct bar bar = {.last_permille = -1};
    if (isatty(STDERR_FILENO)) {
        ro.progress = draw_bar;
        ro.progress_ctx = &bar;
    }
    char hex[33];
    rc = folio_snapshot_verify(o->file, &ro, &m, hex, &err);
    if (bar.drawn)
        fputs("\r\033[K", stderr);
    if (rc != FOLIO_OK)
        return report(o, "verify", rc, &err);
    uint64_t bytes = 0;
    compression_of(o->file, &bytes);
    if (o->json) {
        fputs("{\"status\":\"ok\",\"file\":", stdout);
        cli_json_str(stdout, o->file);
        printf(",\"kind\":\"%s\",\"files\":%" PRIu32 ",\"dataBytes\":%" PRIu64
               ",\"archiveBytes\":%" PRIu64 ",\"archiveXxh3_128\":\"%s\"}\n",
               kind_name(m->kind), m->file_count, data_bytes(m), bytes, hex);
    } else {
        printf("ok: %s (%s snapshot, %" PRIu32 " file%s, %" PRIu64 " bytes of data, %" PRIu64
               " archive bytes, archive XXH3-128 %s)\n",
               o->file, kind_name(m->kind), m->file_count, m->file_count == 1 ? "" : "s",
               data_bytes(m), bytes, hex);
    }
    folio_snapshot_manifest_free(m);
    return cli_out_flush(NULL);
}

int
cli_snapshot_main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(snapshot_usage, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(snapshot_usage, stdout);
        return cli_out_flush(NULL);
    }
    bool inspect = strcmp(cmd, "inspect") == 0;
    if (!inspect && strcmp(cmd, "verify") != 0) {
        fprintf(stderr, "folio snapshot: unknown command '%s'\n\n%s", cmd, snapshot_usage);
        return CLI_USAGE;
    }
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct snap_opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(inspect ? inspect_help : verify_help, stdout);
            return cli_out_flush(NULL);
        }
        if (c != 'j')
            return CLI_USAGE; /* getopt already said what was wrong */
        o.json = true;
    }
    if (optind + 1 != argc - 1) {
        fprintf(stderr, "folio snapshot %s: %s (see --help)\n", cmd,
                optind == argc - 1 ? "FILE is missing" : "too many arguments");
        return CLI_USAGE;
    }
    o.file = argv[1 + optind];
    return inspect ? cmd_inspect(&o) : cmd_verify(&o);
}
