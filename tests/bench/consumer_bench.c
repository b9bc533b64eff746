/*
 * Consumer benchmark (not a test): what the Java side does (tests/interop
 * peer bench-consume) with librmq's lite pull consumer, printing the same
 * JSON: a fresh group subscribes to a pre-filled topic from its first offset
 * and polls until COUNT messages arrived.
 * Usage: consumer_bench NAMESRV TOPIC COUNT [KEY=VALUE...]
 *        (consumer configuration, e.g. pullBatchSize=32; the group is
 *        BenchCCG_<pid>_<ms> unless consumerGroup= is given)
 */
#include "bench.h"

#include <rmq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
  for (int i = 4; i < argc; i++) {
    char key[128];
    const char *eq = strchr(argv[i], '=');
    snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - argv[i]) : 0, argv[i]);
    if (eq == NULL ||
        rmq_conf_set(c, key, eq + 1, err, sizeof(err)) != RMQ_OK) {
      fprintf(stderr, "%s: %s\n", argv[i], eq ? err : "expected KEY=VALUE");
      return 2;
    }
  }
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
  long long received = 0, bytes = 0;
  int64_t first = 0, deadline = t0 + 600LL * 1000000000;
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
  int64_t end = now_ns(), cpu_total = cpu_ns(), cpu = cpu_total - cpu0;
  long rss = status_kib("VmRSS:"), peak = status_kib("VmHWM:");
  rmq_pull_consumer_destroy(pc, 3000);

  long long n = received > 0 ? received : 1;
  double rate = first == 0 || end == first
                    ? 0
                    : (double)(received - 1) / ((double)(end - first) / 1e9);
  printf("{\"client\":\"librmq %s\",\"mode\":\"lite-pull\",\"count\":%lld,"
         "\"bytes\":%lld,\"msgsPerSec\":%.0f,\"startToFirstMs\":%lld,"
         "\"elapsedMs\":%lld,\"cpuUsPerMsg\":%.2f,\"cpuTotalUsPerMsg\":%.2f,"
         "\"rssKiB\":%ld,\"peakRssKiB\":%ld}\n",
         rmq_version(), received, bytes, rate,
         first ? (long long)((first - t0) / 1000000) : -1LL,
         (long long)((end - t0) / 1000000), (double)cpu / 1e3 / (double)n,
         (double)cpu_total / 1e3 / (double)n, rss, peak);
  return received >= count ? 0 : 1;
}
