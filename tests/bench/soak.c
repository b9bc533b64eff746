/* Soak (issue 15, doc/reliability.md): one process produces asynchronously
 * at a steady rate and consumes the same topic with a push consumer for
 * a set time, while tests/bench/soak.sh restarts brokers under it. Every
 * sample period it prints a row: what was sent, acknowledged, failed and
 * consumed, and the process's resident memory, the bytes the library
 * holds from malloc (the soak's own tables left out), threads and open
 * file descriptors. At the end it stops sending, consumes until every
 * acknowledged message has arrived (or 120 s), and exits 1 if a callback
 * fired other than once or an acknowledged message was never consumed.
 *
 *   soak NAMESRV TOPIC SECONDS RATE SAMPLE_SECONDS
 */
#include "rmq.h"

#include <dirent.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct soak {
  int64_t n_max;          /* ids 0..n_max-1 */
  _Atomic uint8_t *acks;  /* callbacks per id (saturating at 255) */
  _Atomic uint8_t *ok;    /* 1: acknowledged */
  _Atomic uint32_t *seen; /* deliveries per id */
  atomic_llong sent, acked, failed, unique, deliveries;
  double own_mib; /* the tables above, left out of the heap column */
} soak_t;

static soak_t S;

static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p;
  (void)res;
  (void)m;
  int64_t id = (int64_t)(intptr_t)op;
  if (atomic_fetch_add(&S.acks[id], 1) == 255)
    atomic_store(&S.acks[id], 255);
  if (err == RMQ_OK) {
    atomic_store(&S.ok[id], 1);
    atomic_fetch_add(&S.acked, 1);
  } else {
    atomic_fetch_add(&S.failed, 1);
  }
}

static rmq_consume_status_t on_msgs(rmq_push_consumer_t *c,
                                    rmq_msg_t *const *msgs, size_t n,
                                    rmq_consume_ctx_t *ctx, void *op) {
  (void)c;
  (void)ctx;
  (void)op;
  for (size_t i = 0; i < n; i++) {
    size_t len;
    const char *b = rmq_msg_body(msgs[i], &len);
    char tmp[24] = {0};
    memcpy(tmp, b, len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1);
    long long id = atoll(tmp);
    if (id < 0 || id >= S.n_max)
      continue;
    atomic_fetch_add(&S.deliveries, 1);
    if (atomic_fetch_add(&S.seen[id], 1) == 0)
      atomic_fetch_add(&S.unique, 1);
  }
  return RMQ_CONSUME_SUCCESS;
}

/* VmRSS (KiB) and Threads from /proc/self/status, open fds from
 * /proc/self/fd. */
static void self_usage(long *rss_kb, long *threads, long *fds) {
  *rss_kb = *threads = *fds = -1;
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof(line), f)) {
    if (strncmp(line, "VmRSS:", 6) == 0)
      *rss_kb = atol(line + 6);
    else if (strncmp(line, "Threads:", 8) == 0)
      *threads = atol(line + 8);
  }
  if (f)
    fclose(f);
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    long n = 0;
    while (readdir(d))
      n++;
    closedir(d);
    *fds = n - 3; /* ., .. and the directory's own fd */
  }
}

static void row(int64_t t0) {
  long rss, th, fds;
  self_usage(&rss, &th, &fds);
  /* bytes malloc handed out and not freed (glibc): a leak grows this,
   * arena fragmentation only the RSS */
  struct mallinfo2 mi = mallinfo2();
  double heap = (double)(mi.uordblks + mi.hblkhd) / 1048576.0;
  printf("%7.1f %10lld %10lld %8lld %10lld %10lld %8ld %8.1f %7ld %5ld\n",
         (double)(now_ms() - t0) / 60000.0, atomic_load(&S.sent),
         atomic_load(&S.acked), atomic_load(&S.failed), atomic_load(&S.unique),
         atomic_load(&S.deliveries), rss / 1024, heap - S.own_mib, th, fds);
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: soak NAMESRV TOPIC SECONDS RATE SAMPLE_SECONDS\n");
    return 2;
  }
  const char *ns = argv[1], *topic = argv[2];
  int64_t secs = atoll(argv[3]), rate = atoll(argv[4]),
          sample = atoll(argv[5]) * 1000;
  S.n_max = secs * rate + 1;
  /* the tables are written through now, so that their pages count in
   * the first row's RSS, not in the growth over time */
  size_t n = (size_t)S.n_max;
  S.acks = malloc(n);
  S.ok = malloc(n);
  S.seen = malloc(n * sizeof(*S.seen));
  if (!S.acks || !S.ok || !S.seen || rate <= 0 || sample <= 0)
    return 2;
  /* zeroed and each page written through a volatile pointer: the
   * compiler turns malloc + memset(0) into calloc, whose pages come in
   * only as the ids reach them (11 MB over a 30-minute run) */
  memset((void *)S.acks, 0, n);
  memset((void *)S.ok, 0, n);
  memset((void *)S.seen, 0, n * sizeof(*S.seen));
  for (size_t i = 0; i < n; i += 4096) {
    ((volatile uint8_t *)S.acks)[i] = 0;
    ((volatile uint8_t *)S.ok)[i] = 0;
  }
  for (size_t i = 0; i < n * sizeof(*S.seen); i += 4096)
    ((volatile uint8_t *)S.seen)[i] = 0;
  S.own_mib = (double)(n * (2 + sizeof(*S.seen))) / 1048576.0;
  char err[256], group[64];
  snprintf(group, sizeof(group), "soak_%d", (int)getpid());

  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", ns, NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_conf_set(c, "consumerGroup", group, NULL, 0);
  rmq_conf_set(c, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  rmq_push_consumer_t *pc = rmq_push_consumer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  if (pc == NULL || rmq_push_consumer_set_listener(pc, on_msgs, NULL) ||
      rmq_push_consumer_subscribe(pc, topic, "*") ||
      rmq_push_consumer_start(pc)) {
    fprintf(stderr, "consumer: %s\n", err);
    return 2;
  }
  c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", ns, NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  if (p == NULL) {
    fprintf(stderr, "producer: %s\n", err);
    return 2;
  }

  printf("%7s %10s %10s %8s %10s %10s %8s %8s %7s %5s\n", "minutes", "sent",
         "acked", "failed", "consumed", "delivered", "RSS_MiB", "heap_MiB",
         "threads", "fds");
  int64_t t0 = now_ms(), next_row = t0;
  for (int64_t id = 0; id < S.n_max - 1; id++) {
    int64_t due = t0 + id * 1000 / rate, now;
    while ((now = now_ms()) < due) {
      if (now >= next_row) {
        row(t0);
        next_row += sample;
      }
      usleep((useconds_t)((due - now) * 1000 > 20000 ? 20000
                                                     : (due - now) * 1000));
    }
    rmq_msg_t *m = rmq_msg_new(topic);
    char body[24];
    int len = snprintf(body, sizeof(body), "%lld", (long long)id);
    rmq_msg_set_body(m, body, (size_t)len);
    rmq_err_t rc;
    while ((rc = rmq_producer_send_async(
                p, m, on_sent, (void *)(intptr_t)id)) == RMQ_ERR_QUEUE_FULL)
      usleep(1000);
    if (rc != RMQ_OK) { /* refused at once: no callback comes */
      atomic_fetch_add(&S.acks[id], 1);
      atomic_fetch_add(&S.failed, 1);
      rmq_msg_destroy(m);
    }
    atomic_fetch_add(&S.sent, 1);
  }
  rmq_producer_flush(p, 30000);
  rmq_producer_destroy(p, 5000);
  /* consume until every acknowledged message arrived, or 120 s */
  int64_t end = now_ms() + 120000;
  while (atomic_load(&S.unique) < atomic_load(&S.acked) && now_ms() < end) {
    if (now_ms() >= next_row) {
      row(t0);
      next_row += sample;
    }
    usleep(100000);
  }
  row(t0);
  rmq_push_consumer_destroy(pc, 5000);
  row(t0);
  long long not_once = 0, lost = 0, extra = 0;
  for (int64_t id = 0; id < S.n_max - 1; id++) {
    not_once += atomic_load(&S.acks[id]) != 1;
    lost += atomic_load(&S.ok[id]) && atomic_load(&S.seen[id]) == 0;
    extra += !atomic_load(&S.ok[id]) && atomic_load(&S.seen[id]) > 0;
  }
  printf("summary: %lld sent, %lld acked, %lld failed, callbacks not exactly "
         "once: %lld, acked but never consumed: %lld, failed but stored: "
         "%lld, duplicates: %lld\n",
         atomic_load(&S.sent), atomic_load(&S.acked), atomic_load(&S.failed),
         not_once, lost, extra,
         atomic_load(&S.deliveries) - atomic_load(&S.unique));
  free((void *)S.acks);
  free((void *)S.ok);
  free((void *)S.seen);
  return not_once || lost ? 1 : 0;
}
