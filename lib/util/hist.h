/*
 * A latency histogram for statistics: log-linear buckets (8 per power of
 * two, so a percentile is within 12.5% of the true value), lock-free
 * recording from any thread (relaxed atomic adds), fixed size (no
 * allocation), values in microseconds up to 2^40 (12 days; larger ones
 * land in the last bucket).
 */
#ifndef RMQI_UTIL_HIST_H
#define RMQI_UTIL_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define RMQI_HIST_SUB 8 /* buckets per power of two (3 bits) */
#define RMQI_HIST_BUCKETS (16 + (40 - 4) * RMQI_HIST_SUB)

typedef struct rmqi_hist {
  _Atomic uint64_t sum, max; /* the count is the buckets' sum */
  _Atomic uint64_t min1;     /* the minimum + 1; 0 before the first value */
  _Atomic uint64_t b[RMQI_HIST_BUCKETS];
} rmqi_hist_t;

/* What a snapshot reports: count, exact min, max and mean; percentiles
 * are the upper bound of the bucket they fall in, clamped to [min, max].
 * All 0 when count is 0. */
typedef struct rmqi_hist_sum {
  uint64_t count, min, max, p50, p90, p99, p999;
  double mean;
} rmqi_hist_sum_t;

void rmqi_hist_add(rmqi_hist_t *h, uint64_t v);
/* Reads @p h while other threads may record: each bucket is read once,
 * so the summary is of a consistent-enough moment. */
rmqi_hist_sum_t rmqi_hist_summary(const rmqi_hist_t *h);

/* The bucket of @p v, and the largest value of bucket @p i (for tests). */
unsigned rmqi_hist_bucket(uint64_t v);
uint64_t rmqi_hist_upper(unsigned i);

#endif
