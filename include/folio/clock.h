/*
 * The clock seam. Every timestamp folio records comes from here, so tests can
 * pin time (deterministic golden files, date-bound queries) without touching
 * the system clock.
 */
#ifndef FOLIO_CLOCK_H
#define FOLIO_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock time, unix nanoseconds (CLOCK_REALTIME unless overridden). */
int64_t folio_clock_now_ns(void);
/* Monotonic time in nanoseconds, for durations and timeouts (never overridden). */
int64_t folio_clock_mono_ns(void);

/*
 * Replaces the wall clock. fn == NULL restores the system clock. A fixed clock
 * (folio_clock_set_fixed) returns start_ns, then start_ns + step_ns, ...
 * Not thread-safe against concurrent readers; set it before starting threads.
 */
typedef int64_t (*folio_clock_fn)(void *ctx);
void folio_clock_set(folio_clock_fn fn, void *ctx);
void folio_clock_set_fixed(int64_t start_ns, int64_t step_ns);

/*
 * Formats unix nanoseconds as RFC 3339 UTC with nanoseconds
 * ("2026-11-22T11:14:38.123456789Z") into buf (at least 36 bytes).
 * Returns buf.
 */
#define FOLIO_RFC3339_LEN 36
char *folio_clock_format_rfc3339(int64_t unix_ns, char *buf, size_t buf_len);

#endif
