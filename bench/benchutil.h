/*
 * Helpers shared by folio's benchmark programs: monotonic time, bounded
 * latency histograms, medians of repeated runs, number formatting, the
 * machine header every benchmark prints, scratch directories and dropping a
 * directory's files from the page cache.
 *
 * Benchmarks print tables; nothing here asserts on a timing.
 */
#ifndef FOLIO_BENCHUTIL_H
#define FOLIO_BENCHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* splitmix64: the benchmarks' reproducible random numbers (*state advances). */
uint64_t bench_rand(uint64_t *state);

/*
 * A vocabulary of pronounceable words of 1 to 4 syllables whose frequencies
 * follow Zipf's law (word i drawn with weight 1 / (i + 1)), so generated
 * text and queries look like natural language to the index. The words are
 * drawn from *rng; the same seed gives the same words in every benchmark.
 */
struct bench_vocab {
    size_t count;
    char (*words)[16];
    double *cdf; /* cumulative weights, cdf[count - 1] == 1 */
};

void bench_vocab_init(struct bench_vocab *v, size_t count, uint64_t *rng);
void bench_vocab_free(struct bench_vocab *v);
/* One word, drawn with its Zipf frequency. */
const char *bench_vocab_word(const struct bench_vocab *v, uint64_t *rng);
/* Appends count words separated by spaces at buf + n; returns the new length. */
size_t bench_vocab_words(const struct bench_vocab *v, uint64_t *rng, char *buf, size_t n,
                         unsigned count);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns(void);
void bench_sleep_ns(int64_t ns);
/* User + system CPU seconds this process has used so far. */
double bench_cpu_seconds(void);

/*
 * A log-linear histogram of nanosecond values: exact below 64 ns, then 64
 * buckets per power of two (relative error under 1.6%). Its size is fixed
 * (BENCH_HIST_BUCKETS counters), however many values are added, and
 * histograms of different threads merge exactly.
 */
#define BENCH_HIST_SUB_BITS 6u
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_BUCKETS ((64u - BENCH_HIST_SUB_BITS + 1u) * BENCH_HIST_SUB)

struct bench_hist {
    uint64_t *counts; /* BENCH_HIST_BUCKETS counters */
    uint64_t total;
    uint64_t max_ns;
};

void bench_hist_init(struct bench_hist *h);
void bench_hist_free(struct bench_hist *h);
void bench_hist_reset(struct bench_hist *h);
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/* Value at quantile q (0 < q <= 1), as the midpoint of its bucket; 0 if empty. */
uint64_t bench_hist_quantile_ns(const struct bench_hist *h, double q);

static inline unsigned
bench_hist_index(uint64_t v_ns)
{
    if (v_ns < BENCH_HIST_SUB)
        return (unsigned)v_ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(v_ns); /* >= BENCH_HIST_SUB_BITS */
    unsigned sub = (unsigned)(v_ns >> (e - BENCH_HIST_SUB_BITS)) - BENCH_HIST_SUB;
    return (e - BENCH_HIST_SUB_BITS + 1u) * BENCH_HIST_SUB + sub;
}

static inline void
bench_hist_add(struct bench_hist *h, uint64_t v_ns)
{
    h->counts[bench_hist_index(v_ns)]++;
    h->total++;
    if (v_ns > h->max_ns)
        h->max_ns = v_ns;
}

/* Median, minimum and maximum of n values (n >= 1); v is not changed. */
double bench_median(const double *v, size_t n);
double bench_min(const double *v, size_t n);
double bench_max(const double *v, size_t n);

/* Formats v with thousands separators ("1,234,567") into buf; returns buf. */
const char *bench_fmt_count(char buf[32], double v);

/* The 1-minute load average (other work on a shared machine skews timings); -1 if unknown. */
double bench_loadavg(void);

/* Prints the machine header: CPUs, memory, kernel, load, and dir's filesystem. */
void bench_print_machine(const char *dir, const char *build_type);

/* Creates "<parent>/folio-bench-XXXXXX"; returns its absolute path (folio_free) or NULL. */
char *bench_mkdtemp(const char *parent);
/* Removes path and everything under it (no symlinks followed). 0 or -1. */
int bench_rmrf(const char *path);

/*
 * Drops the files directly inside dir from the page cache: fsync and
 * posix_fadvise(POSIX_FADV_DONTNEED) on each, then, if allowed, writes 3 to
 * /proc/sys/vm/drop_caches. *global_dropped says whether the latter worked.
 * Returns the number of files advised.
 */
int bench_drop_caches(const char *dir, bool *global_dropped);

#endif
