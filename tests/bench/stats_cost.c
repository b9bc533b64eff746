/*
 * Statistics microbenchmark (not a test): what the always-on counters
 * cost per message. One sent message records a request (counters and
 * the latency histogram) and an outcome (counters) in lib/producer/
 * pstats.c; the rpc layer adds a round-trip sample per answered request
 * (one more histogram add). Timed single-threaded and with 2 threads on
 * the same counters (the worst case: every add contends for one line).
 * Each figure is the median of 9 runs, ns per message.
 * Usage: stats_cost [messages per run]
 */
#include "producer/pstats.h"
#include "util/time.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { RUNS = 9 };

static rmqi_pstats_t st;
static rmqi_hist_t rtt;
static size_t iters;

static void *one_message_each(void *arg) {
  (void)arg;
  for (size_t i = 0; i < iters; i++) {
    uint64_t lat = 300 + (i & 1023); /* a spread of latencies */
    rmqi_pstats_request(&st, 1, 256, (int64_t)lat, RMQ_OK);
    rmqi_hist_add(&rtt, lat);
    rmqi_pstats_outcome(&st, 1, 256, 1, RMQ_OK, NULL);
  }
  return NULL;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double run(int threads) {
  double v[RUNS];
  for (int r = 0; r < RUNS; r++) {
    pthread_t th[8];
    int64_t t0 = rmqi_now_ns();
    for (int k = 0; k < threads; k++)
      pthread_create(&th[k], NULL, one_message_each, NULL);
    for (int k = 0; k < threads; k++)
      pthread_join(th[k], NULL);
    /* per message, as each thread sees it */
    v[r] = (double)(rmqi_now_ns() - t0) / (double)iters;
  }
  qsort(v, RUNS, sizeof(v[0]), cmp_d);
  return v[RUNS / 2];
}

int main(int argc, char **argv) {
  iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
  rmqi_pstats_init(&st);
  one_message_each(NULL); /* warm-up */
  printf("statistics per message, 1 thread:  %.1f ns\n", run(1));
  printf("statistics per message, 2 threads: %.1f ns (same counters)\n",
         run(2));
  rmqi_pstats_free(&st);
  return 0;
}
