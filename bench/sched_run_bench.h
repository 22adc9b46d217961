/* bench_scheduler's section on the running scheduler (bench/sched_run.c). */
#ifndef FOLIO_SCHED_RUN_BENCH_H
#define FOLIO_SCHED_RUN_BENCH_H

/* Prints the registration and document tables; scratch is a work directory. */
int bench_sched_run(const char *scratch, double seconds);

#endif
