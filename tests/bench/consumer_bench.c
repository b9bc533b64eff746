/*
 * Consumer benchmark (not a test): what the Java side does (tests/interop
 * peer bench-consume) with librmq's lite pull consumer, printing the same
 * JSON: a fresh group subscribes to a pre-filled topic from its first offset
 * and polls until COUNT messages arrived.
 * Usage: consumer_bench NAMESRV TOPIC COUNT [push] [KEY=VALUE...]
 *        (consumer configuration, e.g. pullBatchSize=32; the group is
 *        BenchCCG_<pid>_<ms> unless consumerGroup= is given). With `push`
 *        the push consumer runs instead (its defaults: one message per
 *        listener call), as the Java side's bench-consume --mode push.
 */
#include "bench.h"

#include <rmq.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct push_count {
  long long want;
  atomic_llong received, bytes;
  _Atomic int64_t first, last;
  /* the main thread sleeps until the last message, as Java's side awaits
   * a CountDownLatch (polling every millisecond cost this side ~2,000
   * context switches a second) */
  pthread_mutex_t mu;
  pthread_cond_t cv;
} push_count_t;

static rmq_consume_status_t on_msgs(rmq_push_consumer_t *pc,
                                    rmq_msg_t *const *msgs, size_t n,
                                    rmq_consume_ctx_t *ctx, void *op) {
  (void)pc, (void)ctx;
  push_count_t *k = op;
  int64_t now = now_ns(), zero = 0;
  atomic_compare_exchange_strong(&k->first, &zero, now);
  long long b = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len;
    rmq_msg_body(msgs[i], &len);
    b += (long long)len;
  }
  atomic_fetch_add(&k->bytes, b);
  if (atomic_fetch_add(&k->received, (long long)n) + (long long)n >= k->want) {
    zero = 0;
    if (atomic_compare_exchange_strong(&k->last, &zero, now)) {
      pthread_mutex_lock(&k->mu);
      pthread_cond_signal(&k->cv);
      pthread_mutex_unlock(&k->mu);
    }
  }
  return RMQ_CONSUME_SUCCESS;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s NAMESRV TOPIC COUNT [KEY=VALUE...]\n", argv[0]);
    return 2;
  }
  const char *topic = argv[2];
  long long count = atoll(argv[3]);
  char group[128], err[256];
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  snprintf(group, sizeof(group), "BenchCCG_%ld_%lld", (long)getpid(),
           (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000);

  int64_t cpu0 = cpu_ns(), t0 = now_ns();
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", argv[1], NULL, 0);
  rmq_conf_set(c, "consumerGroup", group, NULL, 0);
  rmq_conf_set(c, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  rmq_conf_set(c, "pullBatchSize", "32", NULL, 0);
  bool push = argc > 4 && strcmp(argv[4], "push") == 0;
  for (int i = push ? 5 : 4; i < argc; i++) {
    char key[128];
    const char *eq = strchr(argv[i], '=');
    snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - argv[i]) : 0, argv[i]);
    if (eq == NULL ||
        rmq_conf_set(c, key, eq + 1, err, sizeof(err)) != RMQ_OK) {
      fprintf(stderr, "%s: %s\n", argv[i], eq ? err : "expected KEY=VALUE");
      return 2;
    }
  }
  long long received = 0, bytes = 0;
  int64_t first = 0, end = 0, cpu_total = 0, cpu = 0;
  long rss = 0, peak = 0;
  if (push) {
    static push_count_t k = {.mu = PTHREAD_MUTEX_INITIALIZER,
                             .cv = PTHREAD_COND_INITIALIZER};
    k.want = count;
    rmq_push_consumer_t *pc = rmq_push_consumer_new(NULL, c, err, sizeof(err));
    rmq_conf_destroy(c);
    if (pc == NULL ||
        rmq_push_consumer_set_listener(pc, on_msgs, &k) != RMQ_OK ||
        rmq_push_consumer_subscribe(pc, topic, "*") != RMQ_OK ||
        rmq_push_consumer_start(pc) != RMQ_OK) {
      fprintf(stderr, "push consumer: %s\n", pc ? "start failed" : err);
      return 2;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 600;
    pthread_mutex_lock(&k.mu);
    while (atomic_load(&k.last) == 0 &&
           pthread_cond_timedwait(&k.cv, &k.mu, &until) == 0)
      ;
    pthread_mutex_unlock(&k.mu);
    end = atomic_load(&k.last) ? atomic_load(&k.last) : now_ns();
    cpu_total = cpu_ns();
    cpu = cpu_total - cpu0;
    rss = status_kib("VmRSS:");
    peak = status_kib("VmHWM:");
    received = atomic_load(&k.received);
    bytes = atomic_load(&k.bytes);
    first = atomic_load(&k.first);
    rmq_push_consumer_destroy(pc, 3000);
  } else {
    rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
    rmq_conf_destroy(c);
    if (pc == NULL) {
      fprintf(stderr, "consumer: %s\n", err);
      return 2;
    }
    if (rmq_pull_consumer_subscribe(pc, topic, "*") != RMQ_OK ||
        rmq_pull_consumer_start(pc) != RMQ_OK) {
      fprintf(stderr, "subscribe/start failed\n");
      return 2;
    }
    enum { MAX = 1024 };
    static rmq_msg_t *msgs[MAX];
    int64_t deadline = t0 + 600LL * 1000000000;
    while (received < count && now_ns() < deadline) {
      int n = rmq_pull_consumer_poll(pc, msgs, MAX, 1000);
      if (n < 0) {
        fprintf(stderr, "poll: %s\n", rmq_err_str((rmq_err_t)n));
        break;
      }
      if (n > 0 && first == 0)
        first = now_ns();
      for (int i = 0; i < n; i++) {
        size_t len;
        rmq_msg_body(msgs[i], &len);
        bytes += (long long)len;
        rmq_msg_destroy(msgs[i]);
      }
      received += n;
    }
    end = now_ns();
    cpu_total = cpu_ns();
    cpu = cpu_total - cpu0;
    rss = status_kib("VmRSS:");
    peak = status_kib("VmHWM:");
    rmq_pull_consumer_destroy(pc, 3000);
  }

  long long n = received > 0 ? received : 1;
  double rate = first == 0 || end == first
                    ? 0
                    : (double)(received - 1) / ((double)(end - first) / 1e9);
  printf("{\"client\":\"librmq %s\",\"mode\":\"%s\",\"count\":%lld,"
         "\"bytes\":%lld,\"msgsPerSec\":%.0f,\"startToFirstMs\":%lld,"
         "\"elapsedMs\":%lld,\"cpuUsPerMsg\":%.2f,\"cpuTotalUsPerMsg\":%.2f,"
         "\"rssKiB\":%ld,\"peakRssKiB\":%ld}\n",
         rmq_version(), push ? "push" : "lite-pull", received, bytes, rate,
         first ? (long long)((first - t0) / 1000000) : -1LL,
         (long long)((end - t0) / 1000000), (double)cpu / 1e3 / (double)n,
         (double)cpu_total / 1e3 / (double)n, rss, peak);
  return received >= count ? 0 : 1;
}
