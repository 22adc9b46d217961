/*
 * Structured logs: one line per event on stderr, in logfmt
 * (ts=... level=... msg="..." key=value ...), so both people and log
 * shippers can read them. A line is formatted whole and written with one
 * write(2), so lines from different threads never interleave.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "folio/clock.h"
#include "folio/error.h"
#include "folio/server.h"

static _Atomic int log_level = FOLIO_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
folio_log_set_level(enum folio_log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum folio_log_level
folio_log_get_level(void)
{
    return (enum folio_log_level)atomic_load(&log_level);
}

int
folio_log_level_parse(const char *name, enum folio_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (name != NULL && strcasecmp(name, level_names[i]) == 0) {
            *out = (enum folio_log_level)i;
            return 0;
        }
    return FOLIO_E_INVALID;
}

void
folio_log(enum folio_log_level level, const char *msg, const char *fields_fmt, ...)
{
    if ((int)level > atomic_load(&log_level))
        return;
    char line[2048], ts[FOLIO_RFC3339_LEN + 4];
    folio_clock_format_rfc3339(folio_clock_now_ns(), ts, sizeof(ts));
    int n = snprintf(line, sizeof(line), "ts=%s level=%s msg=\"%s\"", ts,
                     level_names[level <= FOLIO_LOG_DEBUG ? level : FOLIO_LOG_DEBUG], msg);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (fields_fmt != NULL && len + 2 < sizeof(line)) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, fields_fmt);
        int m = vsnprintf(line + len, sizeof(line) - len, fields_fmt, ap);
        va_end(ap);
        if (m > 0)
            len += (size_t)m < sizeof(line) - len ? (size_t)m : sizeof(line) - len - 1;
    }
    if (len >= sizeof(line) - 1)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
