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
 * Every connection costs a file descriptor, and a soft RLIMIT_NOFILE of 1024
 * (the usual default) is less than the server's connection cap plus its own
 * files, so foliod raises its soft limit to the hard one at start.
 *
 * With --import-snapshot it first makes the data directory from a
 * whole-instance snapshot (folio_sched_import_instance, Meilisearch's
 * --ignore-* rules); with --schedule-snapshot a thread registers a
 * snapshotCreation task every SECONDS.
 *
 * Exit status: 0 after a clean shutdown, 1 when it cannot start (address,
 * data directory, snapshot import), 2 for a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
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
    const char *search_threads;
    const char *max_connections;
    const char *import_snapshot;
    const char *ignore_missing_snapshot;        /* flags: "true" when given */
    const char *ignore_snapshot_if_db_exists;
    const char *schedule_snapshot;
    const char *snapshot_compression;
    const char *snapshot_level;
    const char *snapshot_threads;
    const char *background_nice;
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
    OPT_SEARCH_THREADS,
    OPT_MAX_CONNECTIONS,
    OPT_IMPORT_SNAPSHOT,
    OPT_IGNORE_MISSING_SNAPSHOT,
    OPT_IGNORE_SNAPSHOT_IF_DB_EXISTS,
    OPT_SCHEDULE_SNAPSHOT,
    OPT_SNAPSHOT_COMPRESSION,
    OPT_SNAPSHOT_LEVEL,
    OPT_SNAPSHOT_THREADS,
    OPT_BACKGROUND_NICE,
    OPT_HELP,
    OPT_VERSION,
};

/* One table drives getopt, the environment and --help. arg NULL: a flag (env: true/false). */
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
    {"http-max-connections", OPT_MAX_CONNECTIONS, "FOLIO_HTTP_MAX_CONNECTIONS", "N", "1024",
     "connections served at once; past them a client is answered 503 too_many_connections"},
    {"search-threads", OPT_SEARCH_THREADS, "FOLIO_SEARCH_THREADS", "N", "online CPUs",
     "threads running searches (1 to 256)"},
    {"import-snapshot", OPT_IMPORT_SNAPSHOT, "FOLIO_IMPORT_SNAPSHOT", "FILE", "none",
     "start from this whole-instance snapshot (the db path must be missing or empty)"},
    {"ignore-missing-snapshot", OPT_IGNORE_MISSING_SNAPSHOT, "FOLIO_IGNORE_MISSING_SNAPSHOT",
     NULL, "false", "with --import-snapshot: a missing FILE is not an error"},
    {"ignore-snapshot-if-db-exists", OPT_IGNORE_SNAPSHOT_IF_DB_EXISTS,
     "FOLIO_IGNORE_SNAPSHOT_IF_DB_EXISTS", NULL, "false",
     "with --import-snapshot: if the db path holds data, start from it instead"},
    {"schedule-snapshot", OPT_SCHEDULE_SNAPSHOT, "FOLIO_SCHEDULE_SNAPSHOT", "SECS", "0 (off)",
     "register a snapshotCreation task every SECS seconds"},
    {"snapshot-compression", OPT_SNAPSHOT_COMPRESSION, "FOLIO_SNAPSHOT_COMPRESSION", "CODEC",
     "zstd", "compression of the snapshot archives folio writes: zstd, gzip or none"},
    {"snapshot-compression-level", OPT_SNAPSHOT_LEVEL, "FOLIO_SNAPSHOT_COMPRESSION_LEVEL", "N",
     "0", "compression level (zstd 1-19, gzip 1-9); 0: the codec's default"},
    {"snapshot-threads", OPT_SNAPSHOT_THREADS, "FOLIO_SNAPSHOT_THREADS", "N", "0",
     "zstd worker threads for snapshot archives (0-256); 0: one per online CPU"},
    {"background-nice", OPT_BACKGROUND_NICE, "FOLIO_BACKGROUND_NICE", "N", "10",
     "nice value (0-19) of the threads that process tasks, so that answering requests comes "
     "first under load; 0: the same priority as the rest"},
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
        snprintf(left, sizeof(left), "--%s %s", d->name, d->arg != NULL ? d->arg : "");
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
    case OPT_SEARCH_THREADS: return &o->search_threads;
    case OPT_MAX_CONNECTIONS: return &o->max_connections;
    case OPT_IMPORT_SNAPSHOT: return &o->import_snapshot;
    case OPT_IGNORE_MISSING_SNAPSHOT: return &o->ignore_missing_snapshot;
    case OPT_IGNORE_SNAPSHOT_IF_DB_EXISTS: return &o->ignore_snapshot_if_db_exists;
    case OPT_SCHEDULE_SNAPSHOT: return &o->schedule_snapshot;
    case OPT_SNAPSHOT_COMPRESSION: return &o->snapshot_compression;
    case OPT_SNAPSHOT_LEVEL: return &o->snapshot_level;
    case OPT_SNAPSHOT_THREADS: return &o->snapshot_threads;
    case OPT_BACKGROUND_NICE: return &o->background_nice;
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
    if (!parse_int(o->background_nice, 0, 19, &so->background_nice)) {
        fprintf(stderr, "foliod: invalid --background-nice `%s`: give 0 to 19\n",
                o->background_nice);
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
        longopts[i] = (struct option){option_docs[i].name,
                                      option_docs[i].arg != NULL ? required_argument : no_argument,
                                      NULL, option_docs[i].id};
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
        *slot = optarg != NULL ? optarg : "true";
    }
    if (optind < argc) {
        fprintf(stderr, "foliod: unexpected argument `%s`\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* A flag's value: given on the command line, or FOLIO_...=true/1/yes (false/0/no: off). */
static int
parse_flag(const char *name, const char *v, bool *out)
{
    *out = false;
    if (v == NULL || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
        strcasecmp(v, "no") == 0)
        return 0;
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0) {
        *out = true;
        return 0;
    }
    fprintf(stderr, "foliod: invalid value `%s` for --%s: use true or false\n", v, name);
    return -1;
}

/* ---- --schedule-snapshot: a thread registers snapshotCreation every period ---- */

struct snapshot_schedule {
    struct folio_sched *sched;
    uint64_t every_s;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;
    pthread_t thread;
};

static void *
schedule_main(void *arg)
{
    struct snapshot_schedule *ss = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&ss->mu);
    while (!ss->stop) {
        next.tv_sec += (time_t)ss->every_s;
        while (!ss->stop && pthread_cond_timedwait(&ss->cond, &ss->mu, &next) != ETIMEDOUT) {
        }
        if (ss->stop)
            break;
        pthread_mutex_unlock(&ss->mu);
        struct folio_sched_request req = {.kind = FOLIO_KIND_SNAPSHOT_CREATION};
        struct folio_sched_registered reg;
        struct folio_sched_error err;
        if (folio_sched_register(ss->sched, &req, &reg, &err) == 0)
            folio_log(FOLIO_LOG_INFO, "scheduled snapshot", "task_uid=%u", reg.task_uid);
        else
            folio_log(FOLIO_LOG_ERROR, "scheduled snapshot not registered",
                      "code=%s message=\"%s\"", err.code, err.message);
        pthread_mutex_lock(&ss->mu);
    }
    pthread_mutex_unlock(&ss->mu);
    return NULL;
}

static bool
schedule_start(struct snapshot_schedule *ss)
{
    pthread_mutex_init(&ss->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ss->cond, &ca);
    pthread_condattr_destroy(&ca);
    return pthread_create(&ss->thread, NULL, schedule_main, ss) == 0;
}

static void
schedule_stop(struct snapshot_schedule *ss)
{
    pthread_mutex_lock(&ss->mu);
    ss->stop = true;
    pthread_cond_signal(&ss->cond);
    pthread_mutex_unlock(&ss->mu);
    pthread_join(ss->thread, NULL);
    pthread_mutex_destroy(&ss->mu);
    pthread_cond_destroy(&ss->cond);
}

/* --import-snapshot and its flags: 0 (imported, skipped or not asked) or -1 (reported). */
static int
import_snapshot(const struct foliod_opts *o, unsigned flags, const char *check_program)
{
    if (o->import_snapshot == NULL)
        return 0;
    struct folio_sched_import_info info;
    struct folio_sched_diag diag;
    int rc = folio_sched_import_instance(o->import_snapshot, o->db_path, flags, check_program,
                                         &info, &diag);
    if (rc != 0) {
        fprintf(stderr, "foliod: cannot import snapshot %s: %s: %s\n", o->import_snapshot,
                folio_err_message(rc), diag.reason);
        return -1;
    }
    static const char *const outcome[] = {"imported", "skipped: no such file",
                                          "skipped: the db path holds data"};
    folio_log(FOLIO_LOG_INFO, "snapshot import", "file=\"%s\" outcome=\"%s\" seq=%llu indexes=%u",
              o->import_snapshot, outcome[info.outcome], (unsigned long long)info.seq,
              info.index_count);
    return 0;
}

static int
build_opts(const struct foliod_opts *o, struct folio_server_opts *so, enum folio_log_level *level,
           unsigned *import_flags, uint64_t *schedule_every_s)
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
    bool ignore_missing, ignore_exists;
    if (parse_flag("ignore-missing-snapshot", o->ignore_missing_snapshot, &ignore_missing) != 0 ||
        parse_flag("ignore-snapshot-if-db-exists", o->ignore_snapshot_if_db_exists,
                   &ignore_exists) != 0)
        return -1;
    if ((ignore_missing || ignore_exists) && o->import_snapshot == NULL) {
        fprintf(stderr, "foliod: --ignore-missing-snapshot and --ignore-snapshot-if-db-exists "
                        "need --import-snapshot\n");
        return -1;
    }
    *import_flags = (ignore_missing ? FOLIO_SCHED_IMPORT_IGNORE_MISSING : 0u) |
                    (ignore_exists ? FOLIO_SCHED_IMPORT_IGNORE_IF_DB_EXISTS : 0u);
    char *end = NULL;
    errno = 0;
    unsigned long long every =
        o->schedule_snapshot != NULL ? strtoull(o->schedule_snapshot, &end, 10) : 0;
    if (o->schedule_snapshot != NULL &&
        (end == o->schedule_snapshot || *end != '\0' || errno != 0 ||
         o->schedule_snapshot[0] == '-' || every > 10ull * 365 * 86400)) {
        fprintf(stderr, "foliod: invalid --schedule-snapshot `%s`: give whole seconds (0: off)\n",
                o->schedule_snapshot);
        return -1;
    }
    *schedule_every_s = every;
    if (!parse_seconds(o->keep_alive_timeout, &so->keep_alive_timeout_ms) ||
        !parse_seconds(o->request_timeout, &so->request_timeout_ms)) {
        fprintf(stderr, "foliod: invalid timeout: give seconds between 0.001 and 86400\n");
        return -1;
    }
    if (o->search_threads != NULL) {
        char *tend;
        errno = 0;
        unsigned long n = strtoul(o->search_threads, &tend, 10);
        if (tend == o->search_threads || *tend != '\0' || errno != 0 || o->search_threads[0] == '-' ||
            n < 1 || n > FOLIO_SERVER_SEARCH_THREADS_MAX) {
            fprintf(stderr, "foliod: invalid --search-threads `%s`: give 1 to %u\n",
                    o->search_threads, FOLIO_SERVER_SEARCH_THREADS_MAX);
            return -1;
        }
        so->search_threads = (uint32_t)n;
    }
    if (o->max_connections != NULL) {
        char *cend;
        errno = 0;
        unsigned long n = strtoul(o->max_connections, &cend, 10);
        if (cend == o->max_connections || *cend != '\0' || errno != 0 ||
            o->max_connections[0] == '-' || n < 1 || n > FOLIO_SERVER_CONNECTIONS_MAX) {
            fprintf(stderr, "foliod: invalid --http-max-connections `%s`: give 1 to %u\n",
                    o->max_connections, FOLIO_SERVER_CONNECTIONS_MAX);
            return -1;
        }
        so->connections_max = (uint32_t)n;
    }
    return 0;
}

/* Soft RLIMIT_NOFILE up to the hard limit; the limit in force afterwards (logged). */
static void
raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t before = rl.rlim_cur;
    /* An unlimited hard limit still stops at the kernel's fs.nr_open (1 Mi by default). */
    rlim_t target = rl.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < target) {
        rl.rlim_cur = target;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            folio_log(FOLIO_LOG_WARN, "cannot raise the open files limit",
                      "soft=%llu hard=%llu error=\"%s\"", (unsigned long long)before,
                      (unsigned long long)rl.rlim_max, strerror(errno));
            return;
        }
    }
    folio_log(FOLIO_LOG_DEBUG, "open files limit", "soft=%llu was=%llu",
              (unsigned long long)rl.rlim_cur, (unsigned long long)before);
}

int
main(int argc, char **argv)
{
    /* The child that checks an imported index (scheduler/run_check.c): nothing else runs. */
    if (argc == 3 && strcmp(argv[1], "--check-index") == 0)
        return folio_sched_check_index_main(argv[2]);
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
        .background_nice = "10",
    };
    struct folio_server_opts so;
    enum folio_log_level level;
    struct folio_sched_opts sched_opts;
    folio_sched_opts_default(&sched_opts);
    unsigned import_flags = 0;
    uint64_t schedule_every_s = 0;
    if (parse_args(argc, argv, &o) != 0 ||
        build_opts(&o, &so, &level, &import_flags, &schedule_every_s) != 0 ||
        snapshot_opts(&o, &sched_opts) != 0) {
        fprintf(stderr, "Try `foliod --help`.\n");
        return 2;
    }
    folio_log_set_level(level);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile_limit();
    /* SIGINT and SIGTERM wait, blocked in every thread, until the server's loop watches them
       (folio_server_run unblocks them): one sent as soon as the "listening" line is out, or
       during start-up, is a clean shutdown, not the signal's default death. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

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
    char self[4096];
    ssize_t self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (self_len > 0) { /* imported indexes are checked by this program, in a child */
        self[self_len] = '\0';
        sched_opts.index_check_program = self;
    } else {
        folio_log(FOLIO_LOG_WARN, "no index check program",
                  "reason=\"/proc/self/exe: %s\" effect=\"imports are checked in process\"",
                  strerror(errno));
    }
    if (import_snapshot(&o, import_flags, sched_opts.index_check_program) != 0) {
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
    struct snapshot_schedule schedule = {.sched = sched, .every_s = schedule_every_s};
    bool scheduled = schedule_every_s > 0 && schedule_start(&schedule);
    printf("foliod: listening on http://%s\n", folio_server_address(srv));
    fflush(stdout);

    rc = folio_server_run(srv, sched);
    if (scheduled)
        schedule_stop(&schedule);
    folio_server_free(srv);
    folio_sched_close(sched);
    folio_log(FOLIO_LOG_INFO, "closed", "db_path=\"%s\"", o.db_path);
    return rc == 0 ? 0 : 1;
}
