/*
 * Statistics microbenchmark (not a test): what the always-on counters
 * cost per message. One sent message records a request (counters and
 * the latency histogram) and an outcome (counters) in lib/producer/
 * pstats.c; the rpc layer adds a round-trip sample per answered request
 * (one more histogram add). Timed on one thread (synchronous sends), with
 * requests and outcomes on two threads (asynchronous sends: the I/O
 * thread and a callback thread), and with two threads each doing both
 * (the worst case: every add contends for the same lines).
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

static void record_request(size_t i) {
  uint64_t lat = 300 + (i & 1023); /* a spread of latencies */
  rmqi_pstats_request(&st, 1, 256, (int64_t)lat, RMQ_OK);
  rmqi_hist_add(&rtt, lat); /* the rpc layer's round-trip sample */
}

static void record_outcome(void) {
  rmqi_pstats_outcome(&st, 1, 256, 1, RMQ_OK, NULL);
}

/* One thread does all of it (synchronous sends from one thread). */
static void *both(void *arg) {
  (void)arg;
  for (size_t i = 0; i < iters; i++) {
    record_request(i);
    record_outcome();
  }
  return NULL;
}

/* Asynchronous sends: the I/O thread records requests, a callback thread
 * the outcomes, at once. */
static void *requests_only(void *arg) {
  (void)arg;
  for (size_t i = 0; i < iters; i++)
    record_request(i);
  return NULL;
}

static void *outcomes_only(void *arg) {
  (void)arg;
  for (size_t i = 0; i < iters; i++)
    record_outcome();
  return NULL;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median over RUNS of the wall time per message with @p fns running in
 * parallel threads. */
static double run(void *(*const *fns)(void *), int n) {
  double v[RUNS];
  for (int r = 0; r < RUNS; r++) {
    pthread_t th[4];
    int64_t t0 = rmqi_now_ns();
    for (int k = 0; k < n; k++)
      pthread_create(&th[k], NULL, fns[k], NULL);
    for (int k = 0; k < n; k++)
      pthread_join(th[k], NULL);
    v[r] = (double)(rmqi_now_ns() - t0) / (double)iters;
  }
  qsort(v, RUNS, sizeof(v[0]), cmp_d);
  return v[RUNS / 2];
}

int main(int argc, char **argv) {
  iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
  rmqi_pstats_init(&st);
  both(NULL); /* warm-up */
  static void *(*const one[])(void *) = {both};
  static void *(*const split[])(void *) = {requests_only, outcomes_only};
  static void *(*const two[])(void *) = {both, both};
  printf("statistics per message, one thread: %.1f ns\n", run(one, 1));
  printf("statistics per message, requests and outcomes on two threads "
         "(async sends): %.1f ns\n",
         run(split, 2));
  printf("statistics per message, two threads each doing both (worst "
         "case): %.1f ns\n",
         run(two, 2));
  rmqi_pstats_free(&st);
  return 0;
}
