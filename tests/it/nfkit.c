/* Shared by the network-fault tests (nfkit.h). */
#include "nfkit.h"

#include "util/time.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

it_env_t env;
netwire_t *wire;
char topic[128];

/* ---- the host side ------------------------------------------------------ */


typedef struct hcall {
  const char *verb, *args;
} hcall_t;

static int hcall_run(void *arg) {
  hcall_t *h = arg;
  return it_harness(&env, h->verb, h->args, NULL);
}

/* A harness command, run in the host's namespace (it reaches 127.0.0.1). */
int host_harness(const char *verb, const char *args) {
  hcall_t h = {verb, args};
  return netwire_in_host(wire, hcall_run, &h);
}

void sleep_ms(int64_t ms) {
  if (ms > 0)
    usleep((useconds_t)(ms * 1000));
}

void set_kv(rmq_conf_t *c, const char *const *kv) {
  for (; kv && kv[0]; kv += 2) {
    char err[200];
    if (rmq_conf_set(c, kv[0], kv[1], err, sizeof(err)) != RMQ_OK) {
      fprintf(stderr, "%s=%s: %s\n", kv[0], kv[1], err);
      abort();
    }
  }
}

rmq_conf_t *conf_kv(const char *const *kv) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  /* RMQ_IT_LOG_LEVEL=info shows the clients' rebalances and reconnects */
  const char *lv = getenv("RMQ_IT_LOG_LEVEL");
  rmq_conf_set(c, "logLevel", lv ? lv : "error", NULL, 0);
  set_kv(c, kv);
  return c;
}

/* A producer of a new group; @p more: further keys (client scope too when
 * @p client is NULL). */
rmq_producer_t *producer_kv(rmq_client_t *client, const char *timeout_ms,
                                   const char *const *more) {
  char group[128];
  it_unique(group, sizeof(group), "it_nf_p");
  const char *kv[] = {"producerGroup", group, "sendMsgTimeout", timeout_ms,
                      NULL};
  rmq_conf_t *c = client ? rmq_conf_new() : conf_kv(NULL);
  set_kv(c, kv);
  set_kv(c, more);
  char err[256] = "";
  rmq_producer_t *p = rmq_producer_new(client, c, err, sizeof(err));
  rmq_conf_destroy(c);
  if (p == NULL)
    fprintf(stderr, "producer: %s\n", err);
  return p;
}

rmq_producer_t *producer(rmq_client_t *client, const char *timeout_ms) {
  return producer_kv(client, timeout_ms, NULL);
}

rmq_msg_t *indexed_msg_to(const char *to, int i) {
  rmq_msg_t *m = rmq_msg_new(to);
  char b[16];
  int len = snprintf(b, sizeof(b), "%d", i);
  rmq_msg_set_body(m, b, (size_t)len);
  return m;
}

rmq_msg_t *indexed_msg(int i) {
  return indexed_msg_to(topic, i);
}

/* The index of a message's body, minus @p base; -1 when it is none. */
int body_index(const rmq_msg_t *m, int base) {
  size_t len;
  const char *b = rmq_msg_body(m, &len);
  char tmp[16] = "";
  if (len == 0 || len >= sizeof(tmp))
    return -1;
  memcpy(tmp, b, len);
  return atoi(tmp) - base;
}

/* ---- sends, each tracked by index ------------------------------------- */


void track_init(track_t *t, int n, int base) {
  memset(t, 0, sizeof(*t));
  t->n = n;
  t->base = base;
  t->slots = calloc((size_t)n, sizeof(*t->slots));
  t->calls = calloc((size_t)n, sizeof(*t->calls));
  t->acked = calloc((size_t)n, sizeof(*t->acked));
  t->err = calloc((size_t)n, sizeof(*t->err));
  t->t_call = calloc((size_t)n, sizeof(*t->t_call));
  t->t_end = calloc((size_t)n, sizeof(*t->t_end));
  t->broker = calloc((size_t)n, sizeof(*t->broker));
  if (!t->slots || !t->calls || !t->acked || !t->err || !t->t_call ||
      !t->t_end || !t->broker)
    abort();
  for (int i = 0; i < n; i++)
    t->slots[i] = (slot_t){t, i};
}

void track_free(track_t *t) {
  free(t->slots);
  free(t->calls);
  free(t->acked);
  free(t->err);
  free(t->t_call);
  free((void *)t->t_end);
  free(t->broker);
}

static void track_end(track_t *t, int i, rmq_err_t err,
                      const rmq_send_result_t *res) {
  atomic_store(&t->t_end[i], rmqi_now_ns());
  if (err == RMQ_OK && res && res->status == RMQ_SEND_OK) {
    size_t k = res->broker_name ? strlen(res->broker_name) : 0;
    atomic_store(&t->broker[i], k ? res->broker_name[k - 1] : 0);
    atomic_store(&t->acked[i], 1);
  } else {
    atomic_store(&t->err[i], err != RMQ_OK ? (int)err : -1);
  }
  atomic_fetch_add(&t->calls[i], 1);
}

static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p;
  (void)m;
  slot_t *s = op;
  track_end(s->t, s->i, err, res);
}

/* Sends index i of @p t asynchronously; a refused call counts as its
 * completion (no callback comes). */
void send_async(rmq_producer_t *p, track_t *t, int i) {
  rmq_msg_t *m = indexed_msg(t->base + i);
  t->t_call[i] = rmqi_now_ns();
  rmq_err_t rc = rmq_producer_send_async(p, m, on_sent, &t->slots[i]);
  if (rc != RMQ_OK) {
    track_end(t, i, rc, NULL);
    rmq_msg_destroy(m);
  }
}

void send_sync(rmq_producer_t *p, track_t *t, int i) {
  rmq_msg_t *m = indexed_msg(t->base + i);
  rmq_send_result_t res;
  t->t_call[i] = rmqi_now_ns();
  rmq_err_t rc = rmq_producer_send(p, m, &res);
  track_end(t, i, rc, &res);
  rmq_send_result_clear(&res);
  rmq_msg_destroy(m);
}

/* After a fault lifted at @p t_lift_ns: sync sends of indices from @p from
 * (at most @p max) until one is acked; returns how many went out, and in
 * @p ms the time from the lift to the last one's completion. */
int probe_until_acked(rmq_producer_t *p, track_t *t, int from, int max,
                             int64_t t_lift_ns, double *ms) {
  int probes = 0;
  while (probes < max) {
    send_sync(p, t, from + probes);
    if (atomic_load(&t->acked[from + probes++]))
      break;
  }
  *ms = (double)(atomic_load(&t->t_end[from + probes - 1]) - t_lift_ns) / 1e6;
  return probes;
}


/* Indices [from, to) of @p t; prints them as @p what. */
summary_t summarize(track_t *t, int from, int to, const char *what) {
  summary_t s = {0, 0, 0, 0, 1e9, 0};
  for (int i = from; i < to; i++) {
    s.once += atomic_load(&t->calls[i]) == 1;
    if (atomic_load(&t->calls[i]) == 0)
      continue;
    s.acked += atomic_load(&t->acked[i]);
    s.failed += !atomic_load(&t->acked[i]);
    s.timeouts += atomic_load(&t->err[i]) == RMQ_ERR_TIMEOUT;
    double ms = (double)(atomic_load(&t->t_end[i]) - t->t_call[i]) / 1e6;
    if (ms < s.min_ms)
      s.min_ms = ms;
    if (ms > s.max_ms)
      s.max_ms = ms;
  }
  fprintf(stderr,
          "%s: %d calls, %d completed once, %d acked, %d failed (%d "
          "ERR_TIMEOUT), call to completion %.1f .. %.1f ms\n",
          what, to - from, s.once, s.acked, s.failed, s.timeouts,
          s.min_ms > s.max_ms ? 0 : s.min_ms, s.max_ms);
  for (int i = from, shown = 0; i < to && shown < 3; i++) {
    int e = atomic_load(&t->err[i]);
    if (atomic_load(&t->calls[i]) && !atomic_load(&t->acked[i]) &&
        e != RMQ_ERR_TIMEOUT) {
      fprintf(stderr, "  index %d failed with %s\n", i,
              e == -1 ? "a status other than SEND_OK"
                      : rmq_err_name((rmq_err_t)e));
      shown++;
    }
  }
  return s;
}

/* ---- reading back --------------------------------------------------------
 * A lite pull consumer in the namespace, of a new group, from the first
 * offset; first_ns[i] is when index base + i was first read. */


static void *reader_run(void *arg) {
  reader_t *r = arg;
  while (!atomic_load(&r->stop)) {
    rmq_msg_t *m[64];
    int k = rmq_pull_consumer_poll(r->c, m, 64, 200);
    for (int j = 0; j < k; j++) {
      int i = body_index(m[j], r->base);
      rmq_msg_destroy(m[j]);
      int64_t z = 0;
      if (i < 0 || i >= r->n)
        continue;
      atomic_fetch_add(&r->reads[i], 1);
      if (atomic_compare_exchange_strong(&r->first_ns[i], &z, rmqi_now_ns()))
        atomic_fetch_add(&r->seen, 1);
    }
  }
  return NULL;
}

int reader_start(reader_t *r, int base, int n) {
  memset(r, 0, sizeof(*r));
  r->base = base;
  r->n = n;
  r->first_ns = calloc((size_t)n, sizeof(*r->first_ns));
  r->reads = calloc((size_t)n, sizeof(*r->reads));
  char group[128];
  it_unique(group, sizeof(group), "it_nf_c");
  const char *kv[] = {"consumerGroup",
                      group,
                      "consumeFromWhere",
                      "CONSUME_FROM_FIRST_OFFSET",
                      "rebalanceInterval",
                      "1000",
                      NULL};
  rmq_conf_t *c = conf_kv(kv);
  char err[256] = "";
  r->c = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  if (r->c == NULL || r->first_ns == NULL || r->reads == NULL) {
    fprintf(stderr, "consumer: %s\n", err);
    return -1;
  }
  if (rmq_pull_consumer_subscribe(r->c, topic, "*") != RMQ_OK ||
      rmq_pull_consumer_start(r->c) != RMQ_OK ||
      pthread_create(&r->th, NULL, reader_run, r) != 0)
    return -1;
  return 0;
}

/* Waits (up to @p max_ms) until every acked index of @p t was read; returns
 * how many are still missing. */
int reader_wait(reader_t *r, track_t *t, int64_t max_ms) {
  int64_t end = rmqi_now_ms() + max_ms;
  for (;;) {
    int missing = 0;
    for (int i = 0; i < t->n; i++)
      missing += atomic_load(&t->acked[i]) &&
                 atomic_load(&r->first_ns[t->base - r->base + i]) == 0;
    if (missing == 0 || rmqi_now_ms() >= end)
      return missing;
    sleep_ms(50);
  }
}

/* Stops the reader thread and destroys its consumer; returns how long the
 * destroy took, ms. */
int64_t reader_stop(reader_t *r, int timeout_ms) {
  atomic_store(&r->stop, 1);
  pthread_join(r->th, NULL);
  int64_t t0 = rmqi_now_ms();
  rmq_pull_consumer_destroy(r->c, timeout_ms);
  int64_t took = rmqi_now_ms() - t0;
  free((void *)r->first_ns);
  free(r->reads);
  return took;
}

/* The earliest and the latest of first_ns[from, to) (0: none read). */
void first_last(_Atomic int64_t *first_ns, int from, int to,
                       int64_t *first, int64_t *last) {
  *first = *last = 0;
  for (int i = from; i < to; i++) {
    int64_t f = atomic_load(&first_ns[i]);
    if (f && (!*first || f < *first))
      *first = f;
    if (f > *last)
      *last = f;
  }
}

/* Read and stored, but the send reported failure (at least once: a timeout
 * cannot tell). */
int unacked_but_read(reader_t *r, track_t *t) {
  int k = 0;
  for (int i = 0; i < t->n; i++)
    k += !atomic_load(&t->acked[i]) &&
         atomic_load(&r->first_ns[t->base - r->base + i]) != 0;
  return k;
}

/* The link's packets since the last call. */
void print_wire(const char *when) {
  static netwire_stats_t last;
  netwire_stats_t st;
  netwire_stats(wire, &st);
  fprintf(
      stderr,
      "link %s: out %llu passed / %llu dropped, in %llu passed / %llu "
      "dropped\n",
      when,
      (unsigned long long)(st.passed[NETWIRE_OUT] - last.passed[NETWIRE_OUT]),
      (unsigned long long)(st.dropped[NETWIRE_OUT] - last.dropped[NETWIRE_OUT]),
      (unsigned long long)(st.passed[NETWIRE_IN] - last.passed[NETWIRE_IN]),
      (unsigned long long)(st.dropped[NETWIRE_IN] - last.dropped[NETWIRE_IN]));
  last = st;
}

int addr_port(const char *addr) {
  const char *c = strrchr(addr, ':');
  return c ? atoi(c + 1) : 0;
}

int nfkit_open(void) {
  if (strncmp(env.namesrv, "127.", 4) == 0) {
    fprintf(stderr,
            "FAIL: target %s registers 127.0.0.1, which the test's "
            "namespace cannot reach: start it with "
            "RMQ_BROKER_IP=host\n",
            env.target);
    return 1;
  }
  char err[300];
  wire = netwire_open(err, sizeof(err));
  if (wire == NULL) {
    const char *req = getenv("RMQ_REQUIRE_BROKER");
    int required = req && strcmp(req, "1") == 0;
    fprintf(stderr, "%s: %s (needs root and /dev/net/tun)\n",
            required ? "FAIL" : "SKIP", err);
    return required ? 1 : 77;
  }
  fprintf(stderr, "# namespace address %s, name server %s, brokers %s %s\n",
          netwire_addr(wire), env.namesrv, env.broker_a, env.broker_b);
  return 0;
}

typedef struct second_topic {
  const char *name;
  int queues, rc;
} second_topic_t;

static void *second_topic_make(void *arg) {
  second_topic_t *t = arg;
  char args[200];
  snprintf(args, sizeof(args), "%s --queues %d", t->name, t->queues);
  t->rc = host_harness("topic", args);
  return NULL;
}

int nfkit_make_topics(const char *second, int second_queues, int *second_rc) {
  /* both at once (mqadmin takes seconds on a loaded machine); a thread
   * made now starts in the namespace and moves itself to the host's */
  second_topic_t st = {second, second_queues, -1};
  pthread_t th;
  if (pthread_create(&th, NULL, second_topic_make, &st) != 0)
    return 1;
  char args[200];
  snprintf(args, sizeof(args), "%s --queues 4", topic);
  int rc = host_harness("topic", args);
  pthread_join(th, NULL);
  *second_rc = st.rc;
  if (rc != 0)
    fprintf(stderr, "FAIL: could not create topic %s\n", topic);
  return rc != 0;
}
