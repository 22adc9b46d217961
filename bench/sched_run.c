/*
 * The running scheduler's part of bench_scheduler: durable registrations per
 * second through folio_sched_register with 1 and 64 concurrent callers
 * (inline payloads, and payloads large enough to go to content files), and
 * documents applied per second for 100,000 small documents.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/journal.h"
#include "folio/sched_run.h"
#include "sched_run_bench.h"

struct reg_thread {
    pthread_t thread;
    struct folio_sched *s;
    size_t payload_bytes;
    int64_t stop_ns;
    uint64_t done;
    int err;
    unsigned id;
};

static void *
reg_thread_main(void *arg)
{
    struct reg_thread *t = arg;
    size_t cap = t->payload_bytes + 128;
    char *payload = folio_malloc(cap);
    uint64_t n = 0;
    while (bench_now_ns() < t->stop_ns) {
        /* one small document, padded to payload_bytes */
        int head = snprintf(payload, cap, "{\"id\":\"t%u-%" PRIu64 "\",\"pad\":\"", t->id, n);
        size_t len = (size_t)head;
        while (len + 2 < t->payload_bytes)
            payload[len++] = 'x';
        payload[len++] = '"';
        payload[len++] = '}';
        struct folio_sched_request req = {0};
        req.kind = FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
        req.index_uid = folio_str_c("bench");
        req.payload = payload;
        req.payload_len = len;
        struct folio_sched_error err;
        int rc = folio_sched_register(t->s, &req, NULL, &err);
        if (rc != 0) {
            fprintf(stderr, "bench: registration failed: %s: %s\n", err.code, err.message);
            t->err = rc;
            break;
        }
        n++;
    }
    t->done = n;
    folio_free(payload);
    return NULL;
}

static int
open_sched(const char *dir, bool paused, struct folio_sched **s)
{
    struct folio_sched_opts o;
    folio_sched_opts_default(&o);
    o.db_path = dir;
    o.paused = paused;
    o.checkpoint_every_events = UINT64_MAX;
    o.checkpoint_every_ms = UINT32_MAX;
    struct folio_sched_diag diag;
    int rc = folio_sched_open(&o, s, NULL, &diag);
    if (rc != 0)
        fprintf(stderr, "bench: folio_sched_open(%s): %s: %s\n", dir, folio_err_name(rc),
                diag.reason);
    return rc;
}

/* Registrations/s with `callers` threads for `seconds`. */
static int
run_registrations(const char *scratch, unsigned callers, size_t payload_bytes, double seconds,
                  double *per_sec)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/reg-%u-%zu", scratch, callers, payload_bytes);
    bench_rmrf(dir);
    struct folio_sched *s = NULL;
    int rc = open_sched(dir, true, &s);
    if (rc != 0)
        return rc;
    struct reg_thread *ts = folio_calloc(callers, sizeof(*ts));
    int64_t t0 = bench_now_ns();
    int64_t stop = t0 + (int64_t)(seconds * 1e9);
    for (unsigned i = 0; i < callers; i++) {
        ts[i] = (struct reg_thread){.s = s, .payload_bytes = payload_bytes, .stop_ns = stop,
                                    .id = i};
        pthread_create(&ts[i].thread, NULL, reg_thread_main, &ts[i]);
    }
    uint64_t total = 0;
    for (unsigned i = 0; i < callers; i++) {
        pthread_join(ts[i].thread, NULL);
        total += ts[i].done;
        if (ts[i].err != 0)
            rc = ts[i].err;
    }
    int64_t t1 = bench_now_ns();
    *per_sec = (double)total / ((double)(t1 - t0) / 1e9);
    folio_free(ts);
    folio_sched_close(s);
    bench_rmrf(dir);
    return rc;
}

/* Documents applied per second: `tasks` tasks of docs/tasks small documents each. */
static int
run_documents(const char *scratch, uint32_t docs, uint32_t tasks, double *per_sec,
              double *register_seconds)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/docs-%u-%u", scratch, docs, tasks);
    bench_rmrf(dir);
    struct folio_sched *s = NULL;
    int rc = open_sched(dir, true, &s);
    if (rc != 0)
        return rc;
    uint32_t per_task = docs / tasks;
    size_t cap = (size_t)per_task * 96 + 16;
    char *payload = folio_malloc(cap);
    int64_t r0 = bench_now_ns();
    uint32_t last = 0;
    for (uint32_t t = 0; t < tasks && rc == 0; t++) {
        size_t len = 0;
        payload[len++] = '[';
        for (uint32_t i = 0; i < per_task; i++) {
            uint32_t id = t * per_task + i;
            len += (size_t)snprintf(payload + len, cap - len,
                                    "%s{\"id\":%u,\"title\":\"book %u\",\"year\":%u}",
                                    i ? "," : "", id, id, 1900 + id % 120);
        }
        payload[len++] = ']';
        struct folio_sched_request req = {0};
        req.kind = FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
        req.index_uid = folio_str_c("books");
        req.payload = payload;
        req.payload_len = len;
        struct folio_sched_error err;
        struct folio_sched_registered out;
        rc = folio_sched_register(s, &req, &out, &err);
        if (rc != 0)
            fprintf(stderr, "bench: registration failed: %s: %s\n", err.code, err.message);
        last = out.task_uid;
    }
    *register_seconds = (double)(bench_now_ns() - r0) / 1e9;
    folio_free(payload);
    int64_t t0 = bench_now_ns();
    folio_sched_resume(s);
    if (rc == 0)
        rc = folio_sched_wait_idle(s, 600000);
    int64_t t1 = bench_now_ns();
    if (rc == 0) {
        const struct folio_sched_state *st = folio_sched_read_lock(s);
        struct folio_task_view v;
        if (folio_sched_task_get(st, last, &v) != 0 || v.status != FOLIO_STATUS_SUCCEEDED)
            rc = FOLIO_E_CORRUPT;
        folio_sched_read_unlock(s);
    }
    *per_sec = (double)docs / ((double)(t1 - t0) / 1e9);
    folio_sched_close(s);
    bench_rmrf(dir);
    return rc;
}

int
bench_sched_run(const char *scratch, double seconds)
{
    printf("\n5. Registrations through folio_sched_register (documentAdditionOrUpdate, one\n"
           "   document each; processing paused), %.0f s per row\n\n", seconds);
    printf("| callers | payload | where | registrations/s |\n|---:|---:|---|---:|\n");
    static const unsigned callers[] = {1, 64};
    static const size_t sizes[] = {128, 32768};
    int rc = 0;
    double target_row = 0;
    for (unsigned si = 0; si < 2 && rc == 0; si++) {
        for (unsigned ci = 0; ci < 2 && rc == 0; ci++) {
            double r = 0;
            rc = run_registrations(scratch, callers[ci], sizes[si], seconds, &r);
            printf("| %u | %zu B | %s | %.0f |\n", callers[ci], sizes[si],
                   sizes[si] <= FOLIO_SCHED_INLINE_PAYLOAD_DEFAULT ? "inline in the event"
                                                                    : "content file",
                   r);
            fflush(stdout);
            if (si == 0 && callers[ci] == 64)
                target_row = r;
        }
    }
    printf("\n64 callers, inline payloads: %.0f registrations/s (target >= 50,000: %s)\n",
           target_row, target_row >= 50000 ? "met" : "MISSED");
    printf("\n6. Documents applied (100,000 small documents, registered first, then\n"
           "   processing resumed and timed until idle)\n\n");
    printf("| tasks | documents/task | documents/s | registration s |\n|---:|---:|---:|---:|\n");
    static const uint32_t task_counts[] = {1, 100, 1000};
    for (unsigned i = 0; i < 3 && rc == 0; i++) {
        double r = 0, reg = 0;
        rc = run_documents(scratch, 100000, task_counts[i], &r, &reg);
        printf("| %u | %u | %.0f | %.2f |\n", task_counts[i], 100000 / task_counts[i], r, reg);
        fflush(stdout);
    }
    return rc;
}
