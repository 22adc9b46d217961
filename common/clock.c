/*
 * The clock seam: wall-clock time comes from here so tests can fix it.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <string.h>
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

/*
 * Every answer of an enqueuing route and every log line formats a time, so
 * the "YYYY-MM-DDTHH:MM:SS" part of the last second seen is kept per thread
 * and only the nanoseconds are written each time.
 */
static _Thread_local int64_t cached_sec = INT64_MIN;
static _Thread_local char cached_prefix[20];

char *
folio_clock_format_rfc3339(int64_t unix_ns, char *buf, size_t buf_len)
{
    int64_t sec = unix_ns / 1000000000;
    int64_t nsec = unix_ns % 1000000000;
    if (nsec < 0) {
        nsec += 1000000000;
        sec -= 1;
    }
    if (sec != cached_sec || buf_len < 31) {
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        char full[96];
        int n = snprintf(full, sizeof(full), "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec, (long long)nsec);
        if (n != 30 || buf_len < 31) { /* a year outside 0000-9999, or a short buffer */
            size_t m = n < 0 ? 0 : (size_t)n;
            if (buf_len > 0) {
                m = m < buf_len - 1 ? m : buf_len - 1;
                memcpy(buf, full, m);
                buf[m] = '\0';
            }
            return buf;
        }
        memcpy(cached_prefix, full, 19);
        cached_prefix[19] = '\0';
        cached_sec = sec;
    }
    memcpy(buf, cached_prefix, 19);
    buf[19] = '.';
    for (int i = 28; i >= 20; i--) {
        buf[i] = (char)('0' + nsec % 10);
        nsec /= 10;
    }
    buf[29] = 'Z';
    buf[30] = '\0';
    return buf;
}
