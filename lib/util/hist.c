#include "hist.h"

#include <stdbool.h>

/* Values below 16 have a bucket each; above, a power of two 2^e (e >= 4)
 * is split into 8 buckets by the three bits below its top bit. */
unsigned rmqi_hist_bucket(uint64_t v) {
  if (v < 16)
    return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v);
  if (e >= 40)
    return RMQI_HIST_BUCKETS - 1;
  unsigned sub = (unsigned)(v >> (e - 3)) & (RMQI_HIST_SUB - 1);
  return 16 + (e - 4) * RMQI_HIST_SUB + sub;
}

uint64_t rmqi_hist_upper(unsigned i) {
  if (i < 16)
    return i;
  unsigned e = 4 + (i - 16) / RMQI_HIST_SUB;
  uint64_t sub = (i - 16) % RMQI_HIST_SUB;
  return ((uint64_t)(RMQI_HIST_SUB + sub + 1) << (e - 3)) - 1;
}

void rmqi_hist_add(rmqi_hist_t *h, uint64_t v) {
  atomic_fetch_add_explicit(&h->b[rmqi_hist_bucket(v)], 1,
                            memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
  uint64_t m = atomic_load_explicit(&h->max, memory_order_relaxed);
  while (v > m &&
         !atomic_compare_exchange_weak_explicit(
             &h->max, &m, v, memory_order_relaxed, memory_order_relaxed)) {
  }
  uint64_t v1 = v < UINT64_MAX ? v + 1 : v;
  m = atomic_load_explicit(&h->min1, memory_order_relaxed);
  while ((m == 0 || v1 < m) &&
         !atomic_compare_exchange_weak_explicit(
             &h->min1, &m, v1, memory_order_relaxed, memory_order_relaxed)) {
  }
}

rmqi_hist_sum_t rmqi_hist_summary(const rmqi_hist_t *h) {
  rmqi_hist_sum_t s = {0};
  uint64_t b[RMQI_HIST_BUCKETS], n = 0;
  for (unsigned i = 0; i < RMQI_HIST_BUCKETS; i++) {
    b[i] = atomic_load_explicit(&h->b[i], memory_order_relaxed);
    n += b[i];
  }
  if (n == 0)
    return s;
  s.count = n;
  s.max = atomic_load_explicit(&h->max, memory_order_relaxed);
  uint64_t sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
  s.mean = (double)sum / (double)n;
  /* the k-th smallest value, k = ceil(q * n), as its bucket's bound */
  const double q[4] = {0.50, 0.90, 0.99, 0.999};
  uint64_t *out[4] = {&s.p50, &s.p90, &s.p99, &s.p999};
  uint64_t seen = 0;
  uint64_t m1 = atomic_load_explicit(&h->min1, memory_order_relaxed);
  s.min = m1 ? m1 - 1 : 0;
  if (s.min > s.max) /* a value being recorded: min set, max not yet */
    s.max = s.min;
  unsigned j = 0;
  for (unsigned i = 0; i < RMQI_HIST_BUCKETS && j < 4; i++) {
    seen += b[i];
    while (b[i] && j < 4 && (double)seen >= q[j] * (double)n) {
      uint64_t up = rmqi_hist_upper(i);
      *out[j++] = up > s.max ? s.max : up < s.min ? s.min : up;
    }
  }
  for (; j < 4; j++) /* rounding: the rest are the largest */
    *out[j] = s.max;
  return s;
}
