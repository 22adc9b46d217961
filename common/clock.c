/*
 * The clock seam: wall-clock time comes from here so tests can fix it.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>

#include "folio/clock.h"

static folio_clock_fn clock_override;
static void *clock_override_ctx;
static int64_t fixed_next_ns;
static int64_t fixed_step_ns;

static int64_t
clock_read(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
folio_clock_now_ns(void)
{
    if (clock_override != NULL)
        return clock_override(clock_override_ctx);
    return clock_read(CLOCK_REALTIME);
}

int64_t
folio_clock_mono_ns(void)
{
    return clock_read(CLOCK_MONOTONIC);
}

void
folio_clock_set(folio_clock_fn fn, void *ctx)
{
    clock_override = fn;
    clock_override_ctx = ctx;
}

static int64_t
fixed_clock(void *ctx)
{
    (void)ctx;
    int64_t now = __atomic_fetch_add(&fixed_next_ns, fixed_step_ns, __ATOMIC_RELAXED);
    return now;
}

void
folio_clock_set_fixed(int64_t start_ns, int64_t step_ns)
{
    fixed_next_ns = start_ns;
    fixed_step_ns = step_ns;
    folio_clock_set(fixed_clock, NULL);
}

char *
folio_clock_format_rfc3339(int64_t unix_ns, char *buf, size_t buf_len)
{
    int64_t sec = unix_ns / 1000000000;
    int64_t nsec = unix_ns % 1000000000;
    if (nsec < 0) {
        nsec += 1000000000;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, buf_len, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)nsec);
    return buf;
}
