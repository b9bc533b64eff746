/*
 * Producer benchmark (not a test): the workloads of the Java side
 * (tests/interop peer bench-produce) with librmq, printing the same JSON.
 * Usage: producer_bench NAMESRV TOPIC COUNT SIZE async|sync|tx|batch THREADS
 *        WINDOW [KEY=VALUE...]   (producer configuration, e.g.
 *        autoBatch=true; two keys are the benchmark's own: batch=N, the
 *        messages per rmq_producer_send_batch in mode batch (default 64),
 *        and warmup=N, the synchronous sends before measuring (2000))
 * sync, tx and batch run THREADS senders; async one sender with at most
 * WINDOW sends in flight. Latency is per send call (per batch in mode
 * batch); CPU is the process's user+system time over the measured sends;
 * peakRssKiB is VmHWM, rssKiB VmRSS after the sends. MBps = 10^6 body
 * bytes per second.
 */
#include "bench.h"

#include <rmq.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static rmq_producer_t *p;
static const char *topic;
static size_t size;
static char *body;
static int count, per = 1, sends;
static int64_t *lat, *start;
static _Atomic int next_i, failed;
static sem_t window;

static rmq_msg_t *make(void) {
  rmq_msg_t *m = rmq_msg_new(topic);
  rmq_msg_set_body_owned(m, body, size, NULL); /* borrowed, no copy */
  return m;
}

static void on_sent(rmq_producer_t *pr, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)pr;
  (void)res;
  (void)m;
  intptr_t i = (intptr_t)op;
  lat[i] = now_ns() - start[i];
  if (err != RMQ_OK)
    atomic_fetch_add(&failed, 1);
  sem_post(&window);
}

static rmq_tx_state_t tx_exec(rmq_producer_t *pr, rmq_msg_t *m, void *arg,
                              void *op) {
  (void)pr;
  (void)m;
  (void)arg;
  (void)op;
  return RMQ_TX_COMMIT;
}

static rmq_tx_state_t tx_check(rmq_producer_t *pr, const rmq_msg_t *m,
                               void *op) {
  (void)pr;
  (void)m;
  (void)op;
  return RMQ_TX_COMMIT;
}

static bool tx; /* mode tx: sync workers sending in transactions */

static void *batch_worker(void *arg) {
  (void)arg;
  int i;
  rmq_msg_t **ms = calloc((size_t)per, sizeof(*ms));
  while ((i = atomic_fetch_add(&next_i, 1)) < sends) {
    int n = count - i * per < per ? count - i * per : per;
    for (int k = 0; k < n; k++)
      ms[k] = make();
    int64_t s = now_ns();
    if (rmq_producer_send_batch(p, ms, (size_t)n, NULL) != RMQ_OK)
      atomic_fetch_add(&failed, n);
    lat[i] = now_ns() - s;
    for (int k = 0; k < n; k++)
      rmq_msg_destroy(ms[k]);
  }
  free(ms);
  return NULL;
}

static void *sync_worker(void *arg) {
  (void)arg;
  int i;
  while ((i = atomic_fetch_add(&next_i, 1)) < count) {
    rmq_msg_t *m = make();
    int64_t s = now_ns();
    rmq_tx_state_t st = RMQ_TX_COMMIT;
    if ((tx ? rmq_producer_send_in_transaction(p, m, NULL, NULL, &st)
            : rmq_producer_send(p, m, NULL)) != RMQ_OK ||
        st != RMQ_TX_COMMIT)
      atomic_fetch_add(&failed, 1);
    lat[i] = now_ns() - s;
    rmq_msg_destroy(m);
  }
  return NULL;
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr,
            "usage: %s NAMESRV TOPIC COUNT SIZE async|sync|tx|batch THREADS "
            "WINDOW [KEY=VALUE...]\n",
            argv[0]);
    return 2;
  }
  topic = argv[2];
  count = atoi(argv[3]);
  size = (size_t)atoi(argv[4]);
  const char *mode = argv[5];
  int threads = atoi(argv[6]), win = atoi(argv[7]);
  int warmup = 2000;
  body = malloc(size ? size : 1);
  memset(body, 'x', size);
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", argv[1], NULL, 0);
  rmq_conf_set(c, "producerGroup", "BenchCPG", NULL, 0);
  char err[256], label[256] = "";
  for (int i = 8; i < argc; i++) {
    char key[128];
    const char *eq = strchr(argv[i], '=');
    snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - argv[i]) : 0, argv[i]);
    if (strcmp(key, "batch") == 0 || strcmp(key, "warmup") == 0) {
      *(key[0] == 'b' ? &per : &warmup) = atoi(eq + 1);
      continue;
    }
    if (eq == NULL ||
        rmq_conf_set(c, key, eq + 1, err, sizeof(err)) != RMQ_OK) {
      fprintf(stderr, "%s: %s\n", argv[i], eq ? err : "expected KEY=VALUE");
      return 2;
    }
    snprintf(label + strlen(label), sizeof(label) - strlen(label), " %s",
             argv[i]);
  }
  bool batch = strcmp(mode, "batch") == 0;
  if (count < 1 || threads < 1 || win < 1 || per < 1) {
    fprintf(stderr, "COUNT, THREADS, WINDOW and batch must be >= 1\n");
    return 2;
  }
  if (!batch)
    per = 1;
  sends = (count + per - 1) / per;
  lat = calloc((size_t)sends, sizeof(*lat));
  start = calloc((size_t)sends, sizeof(*start));
  p = rmq_producer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  if (p == NULL) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  tx = strcmp(mode, "tx") == 0;
  if (tx && rmq_producer_set_transaction_listener(p, tx_exec, tx_check, NULL) !=
                RMQ_OK)
    return 1;
  for (int i = 0; i < warmup; i++) { /* warm-up: route, connection */
    rmq_msg_t *m = make();
    rmq_producer_send(p, m, NULL);
    rmq_msg_destroy(m);
  }
  int64_t cpu0 = cpu_ns(), t0 = now_ns();
  if (strcmp(mode, "sync") == 0 || tx || batch) {
    pthread_t th[64];
    for (int t = 0; t < threads && t < 64; t++)
      pthread_create(&th[t], NULL, batch ? batch_worker : sync_worker, NULL);
    for (int t = 0; t < threads && t < 64; t++)
      pthread_join(th[t], NULL);
  } else {
    sem_init(&window, 0, (unsigned)win);
    for (intptr_t i = 0; i < count; i++) {
      sem_wait(&window);
      start[i] = now_ns();
      rmq_msg_t *m = make();
      if (rmq_producer_send_async(p, m, on_sent, (void *)i) != RMQ_OK) {
        rmq_msg_destroy(m);
        atomic_fetch_add(&failed, 1);
        sem_post(&window);
      }
    }
    rmq_producer_flush(p, 60000);
  }
  int64_t elapsed = now_ns() - t0, cpu = cpu_ns() - cpu0;
  long rss = rss_kib(), peak = status_kib("VmHWM:");
  rmq_producer_destroy(p, 5000);
  qsort(lat, (size_t)sends, sizeof(*lat), cmp64);
  /* rate and CPU per acknowledged message: failed sends are not throughput */
  int ok = count - atomic_load(&failed);
  double rate = ok / (elapsed / 1e9);
  printf(
      "{\"client\":\"librmq %s%s\",\"mode\":\"%s\",\"count\":%d,\"size\":%zu,"
      "\"threads\":%d,\"window\":%d,\"batch\":%d,\"failed\":%d,"
      "\"elapsedMs\":%lld,\"msgsPerSec\":%.0f,\"MBps\":%.2f,\"p50us\":%lld,"
      "\"p99us\":%lld,\"p999us\":%lld,\"cpuUsPerMsg\":%.2f,\"rssKiB\":%ld,"
      "\"peakRssKiB\":%ld}\n",
      rmq_version(), label, mode, count, size, threads, win, per,
      atomic_load(&failed), (long long)(elapsed / 1000000), rate,
      rate * (double)size / 1e6, (long long)(lat[sends / 2] / 1000),
      (long long)(lat[(int)(sends * 0.99)] / 1000),
      (long long)(lat[(int)(sends * 0.999)] / 1000), cpu / 1e3 / (ok > 0 ? ok : 1), rss,
      peak);
  free(body);
  free(lat);
  free(start);
  return atomic_load(&failed) ? 1 : 0;
}
