/*
 * Producer benchmark (not a test): the workloads of the Java side
 * (tests/interop peer bench-produce) with librmq, printing the same JSON.
 * Usage: producer_bench NAMESRV TOPIC COUNT SIZE async|sync|tx THREADS WINDOW
 *        [KEY=VALUE...]   (producer configuration, e.g. autoBatch=true)
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
static int count;
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
            "usage: %s NAMESRV TOPIC COUNT SIZE async|sync|tx THREADS "
            "WINDOW [KEY=VALUE...]\n",
            argv[0]);
    return 2;
  }
  topic = argv[2];
  count = atoi(argv[3]);
  size = (size_t)atoi(argv[4]);
  const char *mode = argv[5];
  int threads = atoi(argv[6]), win = atoi(argv[7]);
  body = malloc(size);
  memset(body, 'x', size);
  lat = calloc((size_t)count, sizeof(*lat));
  start = calloc((size_t)count, sizeof(*start));
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", argv[1], NULL, 0);
  rmq_conf_set(c, "producerGroup", "BenchCPG", NULL, 0);
  char err[256], label[256] = "";
  for (int i = 8; i < argc; i++) {
    char key[128];
    const char *eq = strchr(argv[i], '=');
    snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - argv[i]) : 0, argv[i]);
    if (eq == NULL ||
        rmq_conf_set(c, key, eq + 1, err, sizeof(err)) != RMQ_OK) {
      fprintf(stderr, "%s: %s\n", argv[i], eq ? err : "expected KEY=VALUE");
      return 2;
    }
    snprintf(label + strlen(label), sizeof(label) - strlen(label), " %s",
             argv[i]);
  }
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
  for (int i = 0; i < 2000; i++) { /* warm-up: route, connection */
    rmq_msg_t *m = make();
    rmq_producer_send(p, m, NULL);
    rmq_msg_destroy(m);
  }
  int64_t cpu0 = cpu_ns(), t0 = now_ns();
  if (strcmp(mode, "sync") == 0 || tx) {
    pthread_t th[64];
    for (int t = 0; t < threads && t < 64; t++)
      pthread_create(&th[t], NULL, sync_worker, NULL);
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
  long rss = rss_kib();
  rmq_producer_destroy(p, 5000);
  qsort(lat, (size_t)count, sizeof(*lat), cmp64);
  printf(
      "{\"client\":\"librmq %s%s\",\"mode\":\"%s\",\"count\":%d,\"size\":%zu,"
      "\"failed\":%d,\"msgsPerSec\":%.0f,\"p50us\":%lld,\"p99us\":%lld,"
      "\"cpuUsPerMsg\":%.2f,\"rssKiB\":%ld}\n",
      rmq_version(), label, mode, count, size, atomic_load(&failed),
      count / (elapsed / 1e9), (long long)(lat[count / 2] / 1000),
      (long long)(lat[(int)(count * 0.99)] / 1000), cpu / 1e3 / count, rss);
  free(body);
  free(lat);
  free(start);
  return atomic_load(&failed) ? 1 : 0;
}
