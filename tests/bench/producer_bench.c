/*
 * Producer benchmark (not a test): the workloads of the Java side
 * (tests/interop peer bench-produce) with librmq, printing the same JSON.
 * Usage: producer_bench NAMESRV TOPIC COUNT SIZE async|sync|tx|batch THREADS
 *        WINDOW [KEY=VALUE...]   (client and producer configuration,
 *        e.g. autoBatch=true; four keys are the benchmark's own: batch=N,
 *        the messages per rmq_producer_send_batch in mode batch (default
 *        64), warmup=N, the synchronous sends before measuring (2000),
 *        topics=N, messages spread round-robin over the N topics
 *        TOPIC_0..TOPIC_{N-1} instead of TOPIC itself, and producers=P, P
 *        producers (groups BenchCPG, BenchCPG_1, ...) on one client
 *        instance, sends spread round-robin over them (default 1))
 * sync, tx and batch run THREADS senders, sender t on producer t mod P;
 * async one sender with at most WINDOW sends in flight, send i on producer
 * i mod P. Send i goes to topic i mod N. The warm-up sends go to every
 * (producer, topic) pair when warmup >= P * N, so route look-ups and topic
 * creation stay outside the measured part. Latency is per send call (per
 * batch in mode batch); CPU is the process's user+system time over the
 * measured sends; peakRssKiB is VmHWM, rssKiB VmRSS after the sends. MBps =
 * 10^6 body bytes per second.
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

#define MAX_PRODUCERS 64
#define MAX_THREADS 64

static rmq_client_t *client;
static rmq_producer_t *ps[MAX_PRODUCERS];
static int n_producers = 1;
static char **topics; /* n_topics names: TOPIC, or TOPIC_0..TOPIC_{N-1} */
static int n_topics;
static size_t size;
static char *body;
static int count, per = 64, sends; /* per: messages a batch (mode batch) */
static int64_t *lat, *start;
static _Atomic int next_i, failed;
static sem_t window;

/* A message of the i-th send (its topic: i mod N). */
static rmq_msg_t *make(int i) {
  rmq_msg_t *m = rmq_msg_new(topics[i % n_topics]);
  rmq_msg_set_body_owned(m, body, size, NULL); /* borrowed, no copy */
  return m;
}

/* Counts n failed messages; the first failure of the run is named on
 * stderr. */
static void fail(int n, rmq_err_t err) {
  if (atomic_fetch_add(&failed, n) == 0)
    fprintf(stderr, "first failed send: %s (%s)\n", rmq_err_name(err),
            rmq_err_str(err));
}

static void on_sent(rmq_producer_t *pr, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)pr;
  (void)res;
  (void)m;
  intptr_t i = (intptr_t)op;
  lat[i] = now_ns() - start[i];
  if (err != RMQ_OK)
    fail(1, err);
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
  rmq_producer_t *p = ps[(intptr_t)arg % n_producers];
  int i;
  rmq_msg_t **ms = calloc((size_t)per, sizeof(*ms));
  while ((i = atomic_fetch_add(&next_i, 1)) < sends) {
    int n = count - i * per < per ? count - i * per : per;
    for (int k = 0; k < n; k++)
      ms[k] = make(i);
    int64_t s = now_ns();
    rmq_err_t err = rmq_producer_send_batch(p, ms, (size_t)n, NULL);
    if (err != RMQ_OK)
      fail(n, err);
    lat[i] = now_ns() - s;
    for (int k = 0; k < n; k++)
      rmq_msg_destroy(ms[k]);
  }
  free(ms);
  return NULL;
}

static void *sync_worker(void *arg) {
  rmq_producer_t *p = ps[(intptr_t)arg % n_producers];
  int i;
  while ((i = atomic_fetch_add(&next_i, 1)) < count) {
    rmq_msg_t *m = make(i);
    int64_t s = now_ns();
    rmq_tx_state_t st = RMQ_TX_COMMIT;
    rmq_err_t err = tx ? rmq_producer_send_in_transaction(p, m, NULL, NULL, &st)
                       : rmq_producer_send(p, m, NULL);
    if (err != RMQ_OK || st != RMQ_TX_COMMIT)
      fail(1, err);
    lat[i] = now_ns() - s;
    rmq_msg_destroy(m);
  }
  return NULL;
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* TOPIC itself, or with n > 0 the n names TOPIC_0..TOPIC_{n-1}. */
static void make_topics(const char *topic, int n) {
  n_topics = n > 0 ? n : 1;
  topics = calloc((size_t)n_topics, sizeof(*topics));
  for (int t = 0; t < n_topics; t++) {
    size_t len = strlen(topic) + 16;
    topics[t] = malloc(len);
    if (n > 0)
      snprintf(topics[t], len, "%s_%d", topic, t);
    else
      snprintf(topics[t], len, "%s", topic);
  }
}

/* The client instance and its n_producers producers, each in its own group
 * (BenchCPG, BenchCPG_1, ...), from one configuration: the client takes its
 * keys, each producer the producer keys. */
static int make_producers(rmq_conf_t *c) {
  char err[256];
  client = rmq_client_new(c, err, sizeof(err));
  for (int k = 0; client != NULL && k < n_producers; k++) {
    char group[32] = "BenchCPG";
    if (k > 0)
      snprintf(group, sizeof(group), "BenchCPG_%d", k);
    rmq_conf_set(c, "producerGroup", group, NULL, 0);
    ps[k] = rmq_producer_new(client, c, err, sizeof(err));
    if (ps[k] == NULL)
      break;
    if (tx && rmq_producer_set_transaction_listener(ps[k], tx_exec, tx_check,
                                                    NULL) != RMQ_OK) {
      snprintf(err, sizeof(err), "transaction listener refused");
      break;
    }
    if (k == n_producers - 1)
      return 0;
  }
  fprintf(stderr, "%s\n", err);
  return 1;
}

/* Warm-up j goes through producer j mod P to topic (j / P) mod N: every
 * pair when warmup >= P * N, so each producer has looked up (and, with the
 * broker's autoCreateTopicEnable, created) every topic before measuring. */
static void warm_up(int warmup) {
  for (int j = 0; j < warmup; j++) {
    rmq_msg_t *m = make(j / n_producers);
    rmq_producer_send(ps[j % n_producers], m, NULL);
    rmq_msg_destroy(m);
  }
}

static void run_async(int win) {
  sem_init(&window, 0, (unsigned)win);
  for (intptr_t i = 0; i < count; i++) {
    sem_wait(&window);
    start[i] = now_ns();
    rmq_msg_t *m = make((int)i);
    rmq_err_t err =
        rmq_producer_send_async(ps[i % n_producers], m, on_sent, (void *)i);
    if (err != RMQ_OK) {
      rmq_msg_destroy(m);
      fail(1, err);
      sem_post(&window);
    }
  }
  for (int k = 0; k < n_producers; k++)
    rmq_producer_flush(ps[k], 60000);
}

static void run_threads(int threads, void *(*worker)(void *)) {
  pthread_t th[MAX_THREADS];
  for (intptr_t t = 0; t < threads; t++)
    pthread_create(&th[t], NULL, worker, (void *)t);
  for (int t = 0; t < threads; t++)
    pthread_join(th[t], NULL);
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr,
            "usage: %s NAMESRV TOPIC COUNT SIZE async|sync|tx|batch THREADS "
            "WINDOW [KEY=VALUE...]\n",
            argv[0]);
    return 2;
  }
  count = atoi(argv[3]);
  size = (size_t)atoi(argv[4]);
  const char *mode = argv[5];
  int threads = atoi(argv[6]), win = atoi(argv[7]);
  int warmup = 2000, n_topic_opt = 0;
  body = malloc(size ? size : 1);
  memset(body, 'x', size);
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", argv[1], NULL, 0);
  char err[256], label[256] = "";
  for (int i = 8; i < argc; i++) {
    char key[128];
    const char *eq = strchr(argv[i], '=');
    snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - argv[i]) : 0, argv[i]);
    /* the benchmark's own keys (in the JSON fields, not the label) */
    const char *own[] = {"batch", "warmup", "topics", "producers"};
    int *own_v[] = {&per, &warmup, &n_topic_opt, &n_producers};
    size_t o = 0;
    while (o < 4 && strcmp(key, own[o]) != 0)
      o++;
    if (o < 4) {
      *own_v[o] = atoi(eq + 1);
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
  if (count < 1 || threads < 1 || threads > MAX_THREADS || win < 1 || per < 1 ||
      n_topic_opt < 0 || n_producers < 1 || n_producers > MAX_PRODUCERS) {
    fprintf(stderr, "COUNT, WINDOW and batch must be >= 1, THREADS and "
                    "producers 1..64, topics >= 0\n");
    return 2;
  }
  if (!batch)
    per = 1;
  sends = (count + per - 1) / per;
  lat = calloc((size_t)sends, sizeof(*lat));
  start = calloc((size_t)sends, sizeof(*start));
  make_topics(argv[2], n_topic_opt);
  tx = strcmp(mode, "tx") == 0;
  int rc = make_producers(c);
  rmq_conf_destroy(c);
  if (rc != 0)
    return 1;
  warm_up(warmup);
  int64_t cpu0 = cpu_ns(), t0 = now_ns();
  if (strcmp(mode, "sync") == 0 || tx || batch)
    run_threads(threads, batch ? batch_worker : sync_worker);
  else
    run_async(win);
  int64_t elapsed = now_ns() - t0, cpu = cpu_ns() - cpu0;
  long rss = rss_kib(), peak = status_kib("VmHWM:");
  for (int k = 0; k < n_producers; k++)
    rmq_producer_destroy(ps[k], 5000);
  rmq_client_destroy(client, 5000);
  qsort(lat, (size_t)sends, sizeof(*lat), cmp64);
  /* rate and CPU per acknowledged message: failed sends are not throughput */
  int ok = count - atomic_load(&failed);
  double rate = ok / (elapsed / 1e9);
  printf(
      "{\"client\":\"librmq %s%s\",\"mode\":\"%s\",\"count\":%d,\"size\":%zu,"
      "\"threads\":%d,\"window\":%d,\"batch\":%d,\"topics\":%d,"
      "\"producers\":%d,\"failed\":%d,"
      "\"elapsedMs\":%lld,\"msgsPerSec\":%.0f,\"MBps\":%.2f,\"p50us\":%lld,"
      "\"p99us\":%lld,\"p999us\":%lld,\"cpuUsPerMsg\":%.2f,\"rssKiB\":%ld,"
      "\"peakRssKiB\":%ld}\n",
      rmq_version(), label, mode, count, size, threads, win, per, n_topics,
      n_producers, atomic_load(&failed), (long long)(elapsed / 1000000), rate,
      rate * (double)size / 1e6, (long long)(lat[sends / 2] / 1000),
      (long long)(lat[(int)(sends * 0.99)] / 1000),
      (long long)(lat[(int)(sends * 0.999)] / 1000),
      cpu / 1e3 / (ok > 0 ? ok : 1), rss, peak);
  for (int t = 0; t < n_topics; t++)
    free(topics[t]);
  free(topics);
  free(body);
  free(lat);
  free(start);
  return atomic_load(&failed) ? 1 : 0;
}
