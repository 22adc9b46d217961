/* Table 1c of bench_journal: blocking producers' sleep and wake-up alone (journal_wake.c). */
#ifndef FOLIO_BENCH_JOURNAL_WAKE_H
#define FOLIO_BENCH_JOURNAL_WAKE_H

struct wake_bench_result {
    double wakes_per_s;          /* producer round trips (queue, sleep, woken) per second */
    double wakes_per_take;       /* round trips per take of the waker (table 1's ev/frame) */
    double cpu_pct;
    double cpu_us_per_wake;      /* process CPU time per round trip */
    double csw_per_wake;         /* context switches (all threads) per round trip */
};

/* Runs `producers` threads and one waker for `seconds`. */
void wake_bench_run(unsigned producers, double seconds, struct wake_bench_result *out);

#endif
