/* bench_scheduler's section on the running scheduler (bench/sched_run.c). */
#ifndef FOLIO_SCHED_RUN_BENCH_H
#define FOLIO_SCHED_RUN_BENCH_H

#include <stdint.h>

/* Prints the registration and document tables; scratch is a work directory. */
int bench_sched_run(const char *scratch, double seconds);
/* Prints table 7 alone: `runs` runs of `tasks` one-document tasks applied. */
int bench_sched_one_doc(const char *scratch, uint32_t tasks, unsigned runs);

#endif
