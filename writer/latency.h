/* latency.h - percentiles of the last N write durations, for /stats.
 *
 * A fixed ring of samples guarded by a mutex: the writer thread adds, the
 * admin thread reads. */
#ifndef LATENCY_H
#define LATENCY_H

#include <stddef.h>

typedef struct latency latency;

/* window: samples kept (the percentiles cover the last `window` writes).
 * Returns NULL when out of memory. */
latency *latency_new(size_t window);
void latency_free(latency *l);

void latency_add(latency *l, double ms);

/* Percentile p (0..100) of the samples in the window by the nearest-rank
 * method; 0 when there are none. Sets *count to the samples used. */
double latency_percentile(latency *l, double p, size_t *count);

/* p50, p90 and p99 at once (one sort). Returns the samples used. */
size_t latency_summary(latency *l, double *p50, double *p90, double *p99);

#endif
