/*
 * foliod: the folio server (DESIGN §10).
 *
 * Reads its options from the command line, then from FOLIO_* environment
 * variables, then defaults; binds the HTTP address (so a taken port fails
 * before the data directory is touched), opens the data directory with the
 * running scheduler, prints "foliod: listening on http://HOST:PORT" on stdout
 * once it serves (the real port when port 0 was asked), and serves until
 * SIGINT or SIGTERM. Then it finishes the requests in flight, closes the
 * scheduler (draining the journal) and exits 0.
 *
 * Exit status: 0 after a clean shutdown, 1 when it cannot start (address,
 * data directory), 2 for a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "folio/error.h"
#include "folio/sched_run.h"
#include "folio/server.h"

#ifndef FOLIO_VERSION_STRING
#define FOLIO_VERSION_STRING "unknown"
#endif

struct foliod_opts {
    const char *db_path;
    const char *http_addr;
    const char *master_key;
    const char *snapshot_dir;
    const char *payload_limit;
    const char *log_level;
    const char *keep_alive_timeout;
    const char *request_timeout;
    const char *snapshot_compression;
    const char *snapshot_level;
    const char *snapshot_threads;
};

enum {
    OPT_DB_PATH = 1000,
    OPT_HTTP_ADDR,
    OPT_MASTER_KEY,
    OPT_SNAPSHOT_DIR,
    OPT_PAYLOAD_LIMIT,
    OPT_LOG_LEVEL,
    OPT_KEEP_ALIVE,
    OPT_REQUEST_TIMEOUT,
    OPT_SNAPSHOT_COMPRESSION,
    OPT_SNAPSHOT_LEVEL,
    OPT_SNAPSHOT_THREADS,
    OPT_HELP,
    OPT_VERSION,
};

/* One table drives getopt, the environment and --help. */
static const struct option_doc {
    const char *name;
    int id;
    const char *env;
    const char *arg;
    const char *def;
    const char *help;
} option_docs[] = {
    {"db-path", OPT_DB_PATH, "FOLIO_DB_PATH", "PATH", "./folio.db", "data directory"},
    {"http-addr", OPT_HTTP_ADDR, "FOLIO_HTTP_ADDR", "HOST:PORT", FOLIO_SERVER_ADDR_DEFAULT,
     "address to listen on; port 0 picks a free port"},
    {"master-key", OPT_MASTER_KEY, "FOLIO_MASTER_KEY", "KEY", "none",
     "require `Authorization: Bearer KEY` on every route but /health"},
    {"snapshot-dir", OPT_SNAPSHOT_DIR, "FOLIO_SNAPSHOT_DIR", "DIR", "./snapshots",
     "directory of snapshot files"},
    {"http-payload-size-limit", OPT_PAYLOAD_LIMIT, "FOLIO_HTTP_PAYLOAD_SIZE_LIMIT", "SIZE",
     "100 MB", "largest request body (B, kB, MB, GB, KiB, MiB, GiB)"},
    {"log-level", OPT_LOG_LEVEL, "FOLIO_LOG_LEVEL", "LEVEL", "info", "error, warn, info or debug"},
    {"http-keep-alive-timeout", OPT_KEEP_ALIVE, "FOLIO_HTTP_KEEP_ALIVE_TIMEOUT", "SECS", "30",
     "close a keep-alive connection idle this long"},
    {"http-request-timeout", OPT_REQUEST_TIMEOUT, "FOLIO_HTTP_REQUEST_TIMEOUT", "SECS", "30",
     "a request's headers must arrive, and its body progress, within this (408)"},
    {"snapshot-compression", OPT_SNAPSHOT_COMPRESSION, "FOLIO_SNAPSHOT_COMPRESSION", "CODEC",
     "zstd", "compression of the snapshot archives folio writes: zstd, gzip or none"},
    {"snapshot-compression-level", OPT_SNAPSHOT_LEVEL, "FOLIO_SNAPSHOT_COMPRESSION_LEVEL", "N",
     "0", "compression level (zstd 1-19, gzip 1-9); 0: the codec's default"},
    {"snapshot-threads", OPT_SNAPSHOT_THREADS, "FOLIO_SNAPSHOT_THREADS", "N", "0",
     "zstd worker threads for snapshot archives (0-256); 0: one per online CPU"},
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: foliod [OPTION]...\n\n"
               "Serves a folio data directory over a Meilisearch-compatible HTTP API.\n\n"
               "Options (each also read from its environment variable):\n");
    for (size_t i = 0; i < sizeof(option_docs) / sizeof(option_docs[0]); i++) {
        const struct option_doc *d = &option_docs[i];
        char left[64];
        snprintf(left, sizeof(left), "--%s %s", d->name, d->arg);
        fprintf(f, "  %-36s %s\n  %-36s [%s; default %s]\n", left, d->help, "", d->env, d->def);
    }
    fprintf(f, "  %-36s %s\n  %-36s %s\n\n", "--help", "show this help", "--version",
            "show the version");
    fprintf(f, "Exit status: 0 after SIGINT/SIGTERM and a clean shutdown, 1 if it cannot start,\n"
               "2 for a usage error.\n");
}

static const char **
opt_slot(struct foliod_opts *o, int id)
{
    switch (id) {
    case OPT_DB_PATH: return &o->db_path;
    case OPT_HTTP_ADDR: return &o->http_addr;
    case OPT_MASTER_KEY: return &o->master_key;
    case OPT_SNAPSHOT_DIR: return &o->snapshot_dir;
    case OPT_PAYLOAD_LIMIT: return &o->payload_limit;
    case OPT_LOG_LEVEL: return &o->log_level;
    case OPT_KEEP_ALIVE: return &o->keep_alive_timeout;
    case OPT_REQUEST_TIMEOUT: return &o->request_timeout;
    case OPT_SNAPSHOT_COMPRESSION: return &o->snapshot_compression;
    case OPT_SNAPSHOT_LEVEL: return &o->snapshot_level;
    case OPT_SNAPSHOT_THREADS: return &o->snapshot_threads;
    default: return NULL;
    }
}

/* "100 MB", "64KiB", "1048576": bytes (decimal and binary units). */
static bool
parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno != 0 || s[0] == '-')
        return false;
    while (*end == ' ')
        end++;
    static const struct {
        const char *unit;
        uint64_t mul;
    } units[] = {{"", 1},         {"b", 1},           {"kb", 1000},     {"mb", 1000000},
                 {"gb", 1000000000}, {"kib", 1ull << 10}, {"mib", 1ull << 20}, {"gib", 1ull << 30}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcasecmp(end, units[i].unit) == 0) {
            if (v == 0 || v > UINT64_MAX / units[i].mul)
                return false;
            *out = v * units[i].mul;
            return true;
        }
    return false;
}

/* Seconds (fractions allowed) into milliseconds, 1 ms to one day. */
static bool
parse_seconds(const char *s, uint32_t *out_ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < 0.001 || v > 86400)
        return false;
    *out_ms = (uint32_t)llround(v * 1000.0);
    return true;
}

/* A whole decimal integer in [lo, hi]. */
static bool
parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

/* --snapshot-compression, -level, -threads into the scheduler's options. */
static int
snapshot_opts(const struct foliod_opts *o, struct folio_sched_opts *so)
{
    if (folio_snapshot_compression_parse(o->snapshot_compression, &so->snapshot_compression) !=
        0) {
        fprintf(stderr, "foliod: invalid --snapshot-compression `%s`: use zstd, gzip or none\n",
                o->snapshot_compression);
        return -1;
    }
    int level_max = so->snapshot_compression == FOLIO_SNAPSHOT_ZSTD   ? 19
                    : so->snapshot_compression == FOLIO_SNAPSHOT_GZIP ? 9
                                                                      : 0;
    if (!parse_int(o->snapshot_level, 0, level_max, &so->snapshot_level)) {
        fprintf(stderr, "foliod: invalid --snapshot-compression-level `%s`: %s takes 0 to %d\n",
                o->snapshot_level, o->snapshot_compression, level_max);
        return -1;
    }
    if (!parse_int(o->snapshot_threads, 0, 256, &so->snapshot_threads)) {
        fprintf(stderr, "foliod: invalid --snapshot-threads `%s`: give 0 to 256\n",
                o->snapshot_threads);
        return -1;
    }
    return 0;
}

/* Creates the snapshot directory and missing parents, 0700 (DESIGN §3). */
static int
make_snapshot_dir(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return ENAMETOOLONG;
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return errno;
    struct stat st;
    if (stat(path, &st) != 0)
        return errno;
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

static int
parse_args(int argc, char **argv, struct foliod_opts *o)
{
    size_t n = sizeof(option_docs) / sizeof(option_docs[0]);
    struct option longopts[sizeof(option_docs) / sizeof(option_docs[0]) + 3];
    for (size_t i = 0; i < n; i++) {
        longopts[i] = (struct option){option_docs[i].name, required_argument, NULL,
                                      option_docs[i].id};
        const char *env = getenv(option_docs[i].env);
        if (env != NULL && env[0] != '\0')
            *opt_slot(o, option_docs[i].id) = env;
    }
    longopts[n] = (struct option){"help", no_argument, NULL, OPT_HELP};
    longopts[n + 1] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    longopts[n + 2] = (struct option){NULL, 0, NULL, 0};
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == OPT_HELP) {
            usage(stdout);
            exit(0);
        }
        if (ch == OPT_VERSION) {
            printf("foliod %s\n", FOLIO_VERSION_STRING);
            exit(0);
        }
        const char **slot = opt_slot(o, ch);
        if (slot == NULL) {
            fprintf(stderr, "foliod: unknown or incomplete option `%s`\n", argv[optind - 1]);
            return -1;
        }
        *slot = optarg;
    }
    if (optind < argc) {
        fprintf(stderr, "foliod: unexpected argument `%s`\n", argv[optind]);
        return -1;
    }
    return 0;
}

static int
build_opts(const struct foliod_opts *o, struct folio_server_opts *so, enum folio_log_level *level)
{
    memset(so, 0, sizeof(*so));
    so->http_addr = o->http_addr;
    so->master_key = o->master_key;
    if (folio_log_level_parse(o->log_level, level) != 0) {
        fprintf(stderr, "foliod: invalid --log-level `%s`: use error, warn, info or debug\n",
                o->log_level);
        return -1;
    }
    if (!parse_size(o->payload_limit, &so->payload_bytes_max)) {
        fprintf(stderr, "foliod: invalid --http-payload-size-limit `%s` (e.g. 100MB, 1GiB)\n",
                o->payload_limit);
        return -1;
    }
    if (!parse_seconds(o->keep_alive_timeout, &so->keep_alive_timeout_ms) ||
        !parse_seconds(o->request_timeout, &so->request_timeout_ms)) {
        fprintf(stderr, "foliod: invalid timeout: give seconds between 0.001 and 86400\n");
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct foliod_opts o = {
        .db_path = "./folio.db",
        .http_addr = FOLIO_SERVER_ADDR_DEFAULT,
        .snapshot_dir = "./snapshots",
        .payload_limit = "100MB",
        .log_level = "info",
        .keep_alive_timeout = "30",
        .request_timeout = "30",
        .snapshot_compression = "zstd",
        .snapshot_level = "0",
        .snapshot_threads = "0",
    };
    struct folio_server_opts so;
    enum folio_log_level level;
    struct folio_sched_opts sched_opts;
    folio_sched_opts_default(&sched_opts);
    if (parse_args(argc, argv, &o) != 0 || build_opts(&o, &so, &level) != 0 ||
        snapshot_opts(&o, &sched_opts) != 0) {
        fprintf(stderr, "Try `foliod --help`.\n");
        return 2;
    }
    folio_log_set_level(level);
    signal(SIGPIPE, SIG_IGN);

    char why[400];
    struct folio_server *srv = NULL;
    so.snapshot_dir = o.snapshot_dir;
    if (folio_server_new(&so, &srv, why, sizeof(why)) != 0) {
        fprintf(stderr, "foliod: %s\n", why);
        return 1;
    }
    int mk = make_snapshot_dir(o.snapshot_dir);
    if (mk != 0) {
        fprintf(stderr, "foliod: cannot create the snapshot directory %s: %s\n", o.snapshot_dir,
                strerror(mk));
        folio_server_free(srv);
        return 1;
    }
    sched_opts.db_path = o.db_path;
    sched_opts.snapshot_dir = o.snapshot_dir;
    sched_opts.payload_bytes_max = so.payload_bytes_max;
    struct folio_sched *sched = NULL;
    struct folio_sched_open_info info;
    struct folio_sched_diag diag;
    memset(&diag, 0, sizeof(diag));
    int rc = folio_sched_open(&sched_opts, &sched, &info, &diag);
    if (rc != 0) {
        fprintf(stderr, "foliod: cannot open %s: %s%s%s\n", o.db_path, folio_err_message(rc),
                diag.reason[0] ? ": " : "", diag.reason);
        folio_server_free(srv);
        return 1;
    }
    folio_log(FOLIO_LOG_INFO, "opened", "db_path=\"%s\" instance=%s last_seq=%llu requeued=%u",
              o.db_path, info.instance_uid, (unsigned long long)info.replay.last_seq,
              info.tasks_requeued);
    printf("foliod: listening on http://%s\n", folio_server_address(srv));
    fflush(stdout);

    rc = folio_server_run(srv, sched);
    folio_server_free(srv);
    folio_sched_close(sched);
    folio_log(FOLIO_LOG_INFO, "closed", "db_path=\"%s\"", o.db_path);
    return rc == 0 ? 0 : 1;
}
