/* Reliability under faults against two real masters (target two-4 / two-5,
 * doc/reliability.md):
 *  - kill -9 of broker-b during rate-limited sync and async sends: every
 *    call returns or calls back exactly once, every acknowledged message is
 *    read back, sends move to broker-a within a bound, and reach broker-b
 *    again after its restart;
 *  - name servers down: cached routes keep producer and consumer working;
 *    a dead name server first in namesrvAddr is invisible;
 *  - consumer chaos: child processes (push and lite pull consumers) are
 *    SIGKILLed and replaced while they consume; every message is seen,
 *    duplicates are counted and bounded.
 * The consumer children are this binary re-executed with --chaos-child. */
#include "it.h"
#include "rmq.h"
#include "test.h"
#include "util/time.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <unistd.h>

static it_env_t env;

static rmq_conf_t *conf_kv(const char *ns, const char *const *kv) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", ns, NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  for (; kv && kv[0]; kv += 2) {
    char err[200];
    if (rmq_conf_set(c, kv[0], kv[1], err, sizeof(err)) != RMQ_OK) {
      fprintf(stderr, "%s=%s: %s\n", kv[0], kv[1], err);
      abort();
    }
  }
  return c;
}

static void make_topic(char *topic, size_t n, const char *prefix) {
  char args[300];
  it_unique(topic, n, prefix);
  snprintf(args, sizeof(args), "%s --queues 4", topic);
  if (it_harness(&env, "topic", args, NULL) != 0)
    abort();
}

static void sleep_ms(int64_t ms) {
  if (ms > 0)
    usleep((useconds_t)(ms * 1000));
}

/* Waits (up to @p max_ms) until *v >= want. */
static int wait_at_least(atomic_int *v, int want, int64_t max_ms) {
  int64_t end = rmqi_now_ms() + max_ms;
  while (atomic_load(v) < want && rmqi_now_ms() < end)
    sleep_ms(10);
  return atomic_load(v) >= want;
}

/* ---- read back: a fresh group reads the topic from its first offset ------ */

/* Polls @p topic until every index with want[i] set has been seen (or 60 s
 * pass); seen[i] counts reads of index i, *bad counts foreign bodies. */
static void read_back(const char *topic, int n, const char *want, int *seen,
                      int *bad) {
  char group[128];
  it_unique(group, sizeof(group), "it_rel_rb");
  const char *kv[] = {"consumerGroup",
                      group,
                      "consumeFromWhere",
                      "CONSUME_FROM_FIRST_OFFSET",
                      "rebalanceInterval",
                      "1000",
                      NULL};
  rmq_conf_t *c = conf_kv(env.namesrv, kv);
  char err[256];
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  REQUIRE(pc != NULL);
  CHECK_ERR(rmq_pull_consumer_subscribe(pc, topic, "*"), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  int missing = 0;
  for (int i = 0; i < n; i++)
    missing += want[i] != 0;
  int64_t end = rmqi_now_ms() + 60000;
  while (missing > 0 && rmqi_now_ms() < end) {
    rmq_msg_t *got[64];
    int k = rmq_pull_consumer_poll(pc, got, 64, 500);
    for (int j = 0; j < k; j++) {
      size_t len;
      const char *b = rmq_msg_body(got[j], &len);
      char tmp[16];
      int i = -1;
      if (len > 0 && len < sizeof(tmp)) {
        memcpy(tmp, b, len);
        tmp[len] = '\0';
        i = atoi(tmp);
      }
      if (i < 0 || i >= n)
        (*bad)++;
      else if (seen[i]++ == 0 && want[i])
        missing--;
      rmq_msg_destroy(got[j]);
    }
  }
  rmq_pull_consumer_destroy(pc, 5000);
}

/* ---- broker kill during sends -------------------------------------------- */

enum { N_SENDS = 20000, RATE = 1500 /* sends per second, each mode */ };

typedef struct run {
  rmq_producer_t *p;
  const char *topic;
  int n, base;       /* bodies base..base+n-1 */
  int64_t t0;        /* when sending began */
  atomic_int *calls; /* returns / callbacks per index */
  atomic_int *where; /* 0: not acknowledged, 1: broker-a, 2: broker-b */
  _Atomic int64_t *done_ms;
  atomic_int issued, completed, failed, busy;
  _Atomic int64_t first_fail_ms, last_fail_ms;
  int async;
} run_t;

static void record(run_t *r, int i, rmq_err_t err, const rmq_send_result_t *res,
                   const char *why) {
  int64_t now = rmqi_now_ms();
  atomic_fetch_add(&r->calls[i], 1);
  if (err == RMQ_OK && res->status == RMQ_SEND_OK) {
    atomic_store(&r->where[i],
                 strcmp(res->broker_name, "broker-b") == 0 ? 2 : 1);
  } else {
    if (atomic_fetch_add(&r->failed, 1) < 5)
      fprintf(stderr, "send %d failed: %s\n", i, why ? why : "?");
    /* a loaded broker's flow control (SYSTEM_BUSY) may refuse a send at any
     * time (Java: no retry for an async send); the failover bound is about
     * the other failures */
    if (why && strstr(why, "SYSTEM_BUSY")) {
      atomic_fetch_add(&r->busy, 1);
      goto done;
    }
    int64_t z = 0;
    atomic_compare_exchange_strong(&r->first_fail_ms, &z, now);
    atomic_store(&r->last_fail_ms, now);
  }
done:
  atomic_store(&r->done_ms[i], now);
  atomic_fetch_add(&r->completed, 1);
}

static run_t *g_run; /* the run of the async callbacks */

static void on_sent_run(rmq_producer_t *p, rmq_err_t err,
                        const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p;
  (void)m;
  record(g_run, (int)(intptr_t)op, err, res, res ? res->error : NULL);
}

static rmq_msg_t *indexed_msg(const char *topic, int i) {
  rmq_msg_t *m = rmq_msg_new(topic);
  char b[16];
  int len = snprintf(b, sizeof(b), "%d", i);
  rmq_msg_set_body(m, b, (size_t)len);
  return m;
}

static void *sender(void *arg) {
  run_t *r = arg;
  int64_t t0 = r->t0 = rmqi_now_ms();
  for (int i = 0; i < r->n; i++) {
    sleep_ms(t0 + (int64_t)i * 1000 / RATE - rmqi_now_ms());
    rmq_msg_t *m = indexed_msg(r->topic, r->base + i);
    atomic_fetch_add(&r->issued, 1);
    if (r->async) {
      rmq_err_t rc =
          rmq_producer_send_async(r->p, m, on_sent_run, (void *)(intptr_t)i);
      if (rc != RMQ_OK) { /* refused: no callback will come */
        rmq_send_result_t z = {0};
        z.error = "refused";
        record(r, i, rc, &z, "send_async refused");
        rmq_msg_destroy(m);
      }
    } else {
      rmq_send_result_t res;
      rmq_err_t rc = rmq_producer_send(r->p, m, &res);
      record(r, i, rc, &res, res.error);
      rmq_send_result_clear(&res);
      rmq_msg_destroy(m);
    }
  }
  return NULL;
}

static void run_init(run_t *r, const char *topic, int async) {
  /* the async producer keeps at most 128 sends in flight (back pressure),
   * so a loaded broker slows the run down instead of timing sends out */
  const char *kv[] = {"pollNameServerInterval",
                      "1000",
                      "enableBackpressureForAsyncMode",
                      "true",
                      "backPressureForAsyncSendNum",
                      "128",
                      NULL};
  rmq_conf_t *c = conf_kv(env.namesrv, kv);
  memset(r, 0, sizeof(*r));
  r->p = rmq_producer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  REQUIRE(r->p != NULL);
  r->topic = topic;
  r->n = N_SENDS;
  r->base = async ? N_SENDS : 0;
  r->async = async;
  r->calls = calloc(N_SENDS, sizeof(*r->calls));
  r->where = calloc(N_SENDS, sizeof(*r->where));
  r->done_ms = calloc(N_SENDS, sizeof(*r->done_ms));
  REQUIRE(r->calls && r->where && r->done_ms);
}

/* Checks one run after the kill at @p t_kill (broker-b dead from @p t_dead
 * until @p t_restart; up again at @p t_up); returns the acks on broker-b
 * after its restart. */
static int run_check(run_t *r, int64_t t_kill, int64_t t_dead,
                     int64_t t_restart, int64_t t_up) {
  int not_once = 0, acked = 0, on_b_dead = 0, on_b_after = 0;
  int64_t max_gap = 0, prev = t_kill;
  for (int i = 0; i < r->n; i++) {
    not_once += atomic_load(&r->calls[i]) != 1;
    int w = atomic_load(&r->where[i]);
    int64_t d = atomic_load(&r->done_ms[i]);
    acked += w != 0;
    on_b_dead += w == 2 && d > t_dead && d < t_restart;
    on_b_after += w == 2 && d > t_up;
    /* sync: completions come in order; the longest stall after the kill */
    if (!r->async && d > t_kill) {
      if (d - prev > max_gap)
        max_gap = d - prev;
      prev = d;
    }
  }
  int64_t first_fail = atomic_load(&r->first_fail_ms);
  int64_t last_fail = atomic_load(&r->last_fail_ms);
  int64_t failover_ms = last_fail ? last_fail - t_kill : 0;
  fprintf(stderr,
          "%s: %d sends, %d acked, %d failed (%d SYSTEM_BUSY; others first "
          "%+lld ms, last %+lld ms after the kill), longest stall after the "
          "kill %lld ms, %d acked on broker-b after its restart\n",
          r->async ? "async" : "sync", r->n, acked, atomic_load(&r->failed),
          atomic_load(&r->busy),
          (long long)(first_fail ? first_fail - t_kill : 0),
          (long long)failover_ms, (long long)max_gap, on_b_after);
  CHECK_INT(not_once, 0);  /* every call returned / called back once */
  CHECK_INT(on_b_dead, 0); /* the kill was real */
  /* failures (other than flow control) only after the kill, and gone
   * within 10 s: sends moved to broker-a */
  CHECK(first_fail == 0 || first_fail >= t_kill);
  CHECK(failover_ms < 10000);
  CHECK(max_gap < 10000);
  /* failures from the kill: under 1%. A broker's flow control (SYSTEM_BUSY:
   * a request waited past waitTimeMillsInSendQueue, 200 ms, on a loaded
   * machine) refuses without storing, whether or not a broker was killed
   * (CI's two-master round saw 1.5% on 5.5.0 with four JVMs on two cores):
   * counted apart, and bounded apart */
  CHECK(atomic_load(&r->failed) - atomic_load(&r->busy) < r->n / 100);
  CHECK(atomic_load(&r->busy) < r->n / 10);
  return on_b_after;
}

TEST(kill_broker_during_sync_and_async_sends) {
  REQUIRE(env.broker_b[0] != '\0');
  char topic[128];
  make_topic(topic, sizeof(topic), "it_rel_kill");
  /* sync sends carry bodies 0..N-1, async ones N..2N-1, side by side */
  run_t runs[2];
  run_init(&runs[0], topic, 0);
  run_init(&runs[1], topic, 1);
  g_run = &runs[1];
  pthread_t th[2];
  for (int k = 0; k < 2; k++)
    REQUIRE(pthread_create(&th[k], NULL, sender, &runs[k]) == 0);

  /* kill -9 broker-b a fifth into the run, restart it halfway */
  CHECK(wait_at_least(&runs[0].completed, N_SENDS / 5, 60000));
  int64_t t_kill = rmqi_now_ms();
  CHECK_INT(it_harness(&env, "kill-broker", "b", NULL), 0);
  int64_t t_dead = rmqi_now_ms();
  CHECK(wait_at_least(&runs[0].issued, N_SENDS / 2, 60000));
  int64_t t_restart = rmqi_now_ms();
  CHECK_INT(it_harness(&env, "start-broker", "b", NULL), 0);
  int64_t t_up = rmqi_now_ms();
  for (int k = 0; k < 2; k++)
    pthread_join(th[k], NULL);
  CHECK_ERR(rmq_producer_flush(runs[1].p, 30000), RMQ_OK);
  fprintf(stderr,
          "broker-b killed %lld ms into the run, restart took %lld ms\n",
          (long long)(t_kill - runs[0].t0), (long long)(t_up - t_restart));
  int on_b_after = 0;
  for (int k = 0; k < 2; k++)
    on_b_after += run_check(&runs[k], t_kill, t_dead, t_restart, t_up);

  /* after the restart sends reach broker-b again (more if the run ended) */
  int64_t first_b_after = 0, end = rmqi_now_ms() + 30000;
  while (on_b_after == 0 && rmqi_now_ms() < end) {
    rmq_msg_t *m = indexed_msg(topic, 2 * N_SENDS); /* outside the set */
    rmq_send_result_t res;
    if (rmq_producer_send(runs[0].p, m, &res) == RMQ_OK &&
        strcmp(res.broker_name, "broker-b") == 0) {
      on_b_after++;
      first_b_after = rmqi_now_ms();
    }
    rmq_send_result_clear(&res);
    rmq_msg_destroy(m);
    sleep_ms(20);
  }
  CHECK(on_b_after > 0);
  if (first_b_after) {
    fprintf(stderr, "first send on broker-b %lld ms after its restart\n",
            (long long)(first_b_after - t_up));
    CHECK(first_b_after - t_up < 15000);
  }
  for (int k = 0; k < 2; k++)
    rmq_producer_destroy(runs[k].p, 5000);

  /* 0 acknowledged messages lost: every acked body is read back */
  int total = 2 * N_SENDS + 1;
  char *want = calloc((size_t)total, 1);
  int *seen = calloc((size_t)total, sizeof(int));
  REQUIRE(want && seen);
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < N_SENDS; i++)
      want[runs[k].base + i] = atomic_load(&runs[k].where[i]) != 0;
  int bad = 0, lost = 0, extra = 0;
  read_back(topic, total, want, seen, &bad);
  for (int i = 0; i < 2 * N_SENDS; i++) {
    lost += want[i] && !seen[i];
    extra += !want[i] && seen[i]; /* stored, but the send reported failure */
  }
  fprintf(stderr, "read back: %d lost, %d unacknowledged but stored\n", lost,
          extra);
  CHECK_INT(lost, 0);
  CHECK_INT(bad, 0);
  free(want);
  free(seen);
  for (int k = 0; k < 2; k++) {
    free(runs[k].calls);
    free(runs[k].where);
    free((void *)runs[k].done_ms);
  }
}

/* ---- name servers down ----------------------------------------------------
 */

static atomic_int n_errors; /* error-level log lines */
static void count_errors(void *op, rmq_log_level_t level, const char *comp,
                         const char *msg) {
  (void)op;
  if (level <= RMQ_LOG_ERROR) {
    atomic_fetch_add(&n_errors, 1);
    fprintf(stderr, "error log: %s: %s\n", comp, msg);
  }
}

/* @p n sync sends with bodies first..first+n-1; returns how many were acked,
 * counting them per broker. */
static int send_sync(rmq_producer_t *p, const char *topic, int first, int n,
                     int *on_a, int *on_b) {
  int ok = 0;
  for (int i = first; i < first + n; i++) {
    rmq_msg_t *m = indexed_msg(topic, i);
    rmq_send_result_t res;
    if (rmq_producer_send(p, m, &res) == RMQ_OK) {
      ok++;
      if (strcmp(res.broker_name, "broker-b") == 0)
        (*on_b)++;
      else
        (*on_a)++;
    } else {
      fprintf(stderr, "send %d: %s\n", i, res.error);
    }
    rmq_send_result_clear(&res);
    rmq_msg_destroy(m);
  }
  return ok;
}

/* Polls until bodies first..first+n-1 were all seen (up to 30 s). */
static int consume_range(rmq_pull_consumer_t *pc, int first, int n) {
  char *seen = calloc((size_t)n, 1);
  int got = 0;
  int64_t end = rmqi_now_ms() + 30000;
  while (got < n && rmqi_now_ms() < end) {
    rmq_msg_t *m[64];
    int k = rmq_pull_consumer_poll(pc, m, 64, 500);
    for (int j = 0; j < k; j++) {
      size_t len;
      const char *b = rmq_msg_body(m[j], &len);
      char tmp[16] = {0};
      memcpy(tmp, b, len < 15 ? len : 15);
      int i = atoi(tmp) - first;
      if (i >= 0 && i < n && !seen[i]) {
        seen[i] = 1;
        got++;
      }
      rmq_msg_destroy(m[j]);
    }
  }
  free(seen);
  return got;
}

static void client_pair(const char *ns, const char *topic, rmq_producer_t **p,
                        rmq_pull_consumer_t **pc) {
  char group[128];
  it_unique(group, sizeof(group), "it_rel_ns");
  /* a conf each: a producer refuses consumer keys and the other way */
  const char *pkv[] = {"pollNameServerInterval", "1000", "logLevel", "warn",
                       NULL};
  const char *ckv[] = {"pollNameServerInterval",
                       "1000",
                       "consumerGroup",
                       group,
                       "consumeFromWhere",
                       "CONSUME_FROM_FIRST_OFFSET",
                       "rebalanceInterval",
                       "1000",
                       "logLevel",
                       "warn",
                       NULL};
  char err[256] = "";
  rmq_conf_t *c = conf_kv(ns, pkv);
  rmq_conf_set_log_cb(c, count_errors, NULL);
  *p = rmq_producer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  if (*p == NULL)
    fprintf(stderr, "producer: %s\n", err);
  c = conf_kv(ns, ckv);
  rmq_conf_set_log_cb(c, count_errors, NULL);
  *pc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  if (*pc == NULL)
    fprintf(stderr, "consumer: %s\n", err);
  REQUIRE(*p && *pc);
  CHECK_ERR(rmq_pull_consumer_subscribe(*pc, topic, "*"), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(*pc), RMQ_OK);
}

TEST(cached_routes_survive_namesrv_down) {
  char topic[128];
  make_topic(topic, sizeof(topic), "it_rel_nsdown");
  rmq_producer_t *p;
  rmq_pull_consumer_t *pc;
  client_pair(env.namesrv, topic, &p, &pc);
  int on_a = 0, on_b = 0;
  CHECK_INT(send_sync(p, topic, 0, 100, &on_a, &on_b), 100);
  CHECK_INT(consume_range(pc, 0, 100), 100);
  CHECK_INT(it_harness(&env, "stop-namesrv", "", NULL), 0);
  /* let route polls, heartbeats' name server lookups and rebalances run
   * against the dead name server (1 s intervals) before the check */
  sleep_ms(3000);
  on_a = on_b = 0;
  CHECK_INT(send_sync(p, topic, 100, 200, &on_a, &on_b), 200);
  CHECK(on_a > 0 && on_b > 0); /* both cached brokers still in use */
  CHECK_INT(consume_range(pc, 100, 200), 200);
  CHECK_INT(it_harness(&env, "start-namesrv", "", NULL), 0);
  on_a = on_b = 0;
  CHECK_INT(send_sync(p, topic, 300, 50, &on_a, &on_b), 50);
  CHECK_INT(consume_range(pc, 300, 50), 50);
  rmq_pull_consumer_destroy(pc, 5000);
  rmq_producer_destroy(p, 5000);
}

TEST(dead_namesrv_in_list_is_invisible) {
  char topic[128], ns[300];
  make_topic(topic, sizeof(topic), "it_rel_nsdead");
  /* 127.0.0.1:1 refuses connections; listed first, and last */
  snprintf(ns, sizeof(ns), "127.0.0.1:1;%s", env.namesrv);
  atomic_store(&n_errors, 0);
  for (int round = 0; round < 2; round++) {
    rmq_producer_t *p;
    rmq_pull_consumer_t *pc;
    client_pair(ns, topic, &p, &pc);
    int on_a = 0, on_b = 0;
    CHECK_INT(send_sync(p, topic, round * 200, 200, &on_a, &on_b), 200);
    CHECK(on_a > 0 && on_b > 0);
    CHECK_INT(consume_range(pc, round * 200, 200), 200);
    rmq_pull_consumer_destroy(pc, 5000);
    rmq_producer_destroy(p, 5000);
    snprintf(ns, sizeof(ns), "%s;127.0.0.1:1", env.namesrv);
  }
  CHECK_INT(atomic_load(&n_errors), 0);
}

/* ---- consumers started right after a name-server restart ----------------
 * A restarted name server knows no broker until each re-registers (every
 * 30 s, registerNameServerPeriod; 10 s in the harness's brokers): routes
 * fetched in between lack the brokers not yet back. Consumers started then must
 * still end up with every queue, and the group must consume every message. */

#define N_AFTER 4000
static int64_t after_t0;
typedef struct after_ctx {
  atomic_int count[N_AFTER];
  atomic_int unique, total;
  _Atomic int64_t full_ms[2]; /* when a consumer first saw all 8 queues */
} after_ctx_t;
static after_ctx_t *after;

static rmq_consume_status_t after_listener(rmq_push_consumer_t *pc,
                                           rmq_msg_t *const *msgs, size_t n,
                                           rmq_consume_ctx_t *ctx, void *op) {
  (void)pc;
  (void)ctx;
  (void)op;
  for (size_t i = 0; i < n; i++) {
    size_t len;
    const char *b = rmq_msg_body(msgs[i], &len);
    char tmp[16] = {0};
    memcpy(tmp, b, len < 15 ? len : 15);
    int v = atoi(tmp);
    if (v >= 0 && v < N_AFTER) {
      atomic_fetch_add(&after->total, 1);
      if (atomic_fetch_add(&after->count[v], 1) == 0)
        atomic_fetch_add(&after->unique, 1);
    }
  }
  return RMQ_CONSUME_SUCCESS;
}

static void after_assigned(const char *topic, const rmq_queue_t *all,
                           size_t n_all, const rmq_queue_t *assigned,
                           size_t n_assigned, void *op) {
  (void)all;
  (void)assigned;
  int k = (int)(intptr_t)op;
  int64_t now = rmqi_now_ms();
  if (strncmp(topic, "%RETRY%", 7) == 0)
    return;
  fprintf(stderr, "+%lld ms consumer %d: %zu queues in the route, %zu held\n",
          (long long)(now - after_t0), k, n_all, n_assigned);
  int64_t none = 0;
  if (n_all == 8)
    atomic_compare_exchange_strong(&after->full_ms[k], &none, now);
}

/* Sync sends of bodies @p from..@p to - 1, each retried until
 * acknowledged or @p give_up; counts the acknowledged ones and those that
 * went to broker-b. */
static void send_until_acked(rmq_producer_t *p, const char *topic, int from,
                             int to, int64_t give_up, int *acked, int *on_b) {
  for (int i = from; i < to && rmqi_now_ms() < give_up;) {
    rmq_msg_t *m = indexed_msg(topic, i);
    rmq_send_result_t res;
    if (rmq_producer_send(p, m, &res) == RMQ_OK) {
      (*acked)++;
      *on_b += strcmp(res.broker_name, "broker-b") == 0;
      i++;
    } else {
      sleep_ms(100);
    }
    rmq_send_result_clear(&res);
    rmq_msg_destroy(m);
  }
}

TEST(consumers_right_after_namesrv_restart) {
  REQUIRE(env.broker_b[0] != '\0');
  char topic[128], group[128];
  make_topic(topic, sizeof(topic), "it_rel_nsnew");
  it_unique(group, sizeof(group), "it_rel_nsnew_g");
  after = calloc(1, sizeof(*after));
  REQUIRE(after);
  CHECK_INT(it_harness(&env, "stop-namesrv", "", NULL), 0);
  /* not waiting for the brokers: the consumers start while the name
   * server knows none, and each broker registers on its own schedule */
  CHECK_INT(it_harness(&env, "start-namesrv", "--no-wait", NULL), 0);
  after_t0 = rmqi_now_ms();
  /* Java's defaults but the rebalance period (20 s): 1 s, so that the
   * time measured is the routes' */
  const char *ckv[] = {"consumerGroup",
                       group,
                       "consumeFromWhere",
                       "CONSUME_FROM_FIRST_OFFSET",
                       "rebalanceInterval",
                       "1000",
                       NULL};
  rmq_push_consumer_t *pc[2];
  for (int k = 0; k < 2; k++) {
    rmq_conf_t *c = conf_kv(env.namesrv, ckv);
    pc[k] = rmq_push_consumer_new(NULL, c, NULL, 0);
    rmq_conf_destroy(c);
    REQUIRE(pc[k]);
    CHECK_ERR(rmq_push_consumer_set_listener(pc[k], after_listener, NULL),
              RMQ_OK);
    CHECK_ERR(rmq_push_consumer_set_assignment_cb(pc[k], after_assigned,
                                                  (void *)(intptr_t)k),
              RMQ_OK);
    CHECK_ERR(rmq_push_consumer_subscribe(pc[k], topic, "*"), RMQ_OK);
    /* the topic may have no route yet: start succeeds and retries */
    CHECK_ERR(rmq_push_consumer_start(pc[k]), RMQ_OK);
  }
  /* sends retried until each is acknowledged: no route until a broker
   * has registered again */
  rmq_conf_t *c = conf_kv(env.namesrv, NULL);
  rmq_producer_t *p = rmq_producer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  REQUIRE(p);
  int acked = 0, on_b = 0;
  int64_t give_up = rmqi_now_ms() + 90000;
  send_until_acked(p, topic, 0, N_AFTER / 2, give_up, &acked, &on_b);
  int64_t t_sent = rmqi_now_ms();
  CHECK_INT(acked, N_AFTER / 2);
  /* every queue reaches the consumers' routes: the brokers register
   * within 10 s, the consumers' next route poll (pollNameServerInterval,
   * 30 s) and rebalance (1 s) pick them up */
  int64_t end = rmqi_now_ms() + 60000;
  while (
      (!atomic_load(&after->full_ms[0]) || !atomic_load(&after->full_ms[1])) &&
      rmqi_now_ms() < end)
    sleep_ms(100);
  int64_t f0 = atomic_load(&after->full_ms[0]),
          f1 = atomic_load(&after->full_ms[1]);
  /* the second half, sent once the consumers have the whole route */
  send_until_acked(p, topic, N_AFTER / 2, N_AFTER, give_up + 60000, &acked,
                   &on_b);
  rmq_producer_destroy(p, 5000);
  CHECK_INT(acked, N_AFTER);
  end = rmqi_now_ms() + 60000;
  while (atomic_load(&after->unique) < N_AFTER && rmqi_now_ms() < end)
    sleep_ms(100);
  int64_t t_all = rmqi_now_ms();
  for (int k = 0; k < 2; k++)
    rmq_push_consumer_destroy(pc[k], 5000);
  fprintf(stderr,
          "after the restart: first half sent at +%lld ms, every queue in the "
          "consumers' routes at +%lld / +%lld ms, %d of %d consumed at +%lld "
          "ms (%d deliveries, %d sent to broker-b)\n",
          (long long)(t_sent - after_t0), (long long)(f0 ? f0 - after_t0 : -1),
          (long long)(f1 ? f1 - after_t0 : -1), atomic_load(&after->unique),
          N_AFTER, (long long)(t_all - after_t0), atomic_load(&after->total),
          on_b);
  CHECK_INT(atomic_load(&after->unique), N_AFTER);
  /* registration 10 s + route poll 30 s + rebalance 1 s, and slack */
  CHECK(f0 > 0 && f0 - after_t0 < 50000);
  CHECK(f1 > 0 && f1 - after_t0 < 50000);
  CHECK(on_b > 0);
  free(after);
}

/* ---- consumer chaos --------------------------------------------------------
 * Children consume a topic in one group and append each message's index to
 * a shared file (O_APPEND, one write per batch) BEFORE acknowledging it
 * (returning from the listener / polling again), so whatever a killed child
 * committed is in the file. */

enum { N_CHAOS = 50000, CHILDREN = 3, KILLS = 6 };

static volatile sig_atomic_t child_stop;
static int child_fd;

static void child_write(rmq_msg_t *const *m, size_t n, int us_per_msg) {
  /* "process" first (slow consumers, ~2000 messages/s each, so the kills
   * land mid-run, most of them mid-batch), then record, then acknowledge */
  usleep((useconds_t)n * (useconds_t)us_per_msg);
  char buf[800 * 12];
  size_t len = 0;
  for (size_t j = 0; j < n; j++) {
    size_t bl;
    const char *b = rmq_msg_body(m[j], &bl);
    if (bl > 10)
      bl = 10;
    if (len + bl + 1 > sizeof(buf)) {
      if (write(child_fd, buf, len) != (ssize_t)len)
        _exit(3);
      len = 0;
    }
    memcpy(buf + len, b, bl);
    len += bl;
    buf[len++] = '\n';
  }
  if (len && write(child_fd, buf, len) != (ssize_t)len)
    _exit(3);
}

static rmq_consume_status_t child_listener(rmq_push_consumer_t *c,
                                           rmq_msg_t *const *m, size_t n,
                                           rmq_consume_ctx_t *ctx, void *op) {
  (void)c;
  (void)ctx;
  (void)op;
  child_write(m, n, 1000); /* two consume threads */
  return RMQ_CONSUME_SUCCESS;
}

static void on_term(int sig) {
  (void)sig;
  child_stop = 1;
}

/* argv: --chaos-child push|lite NAMESRV GROUP TOPIC FILE */
static int chaos_child(char **argv) {
  child_fd = open(argv[6], O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (child_fd < 0)
    return 2;
  signal(SIGTERM, on_term);
  int64_t give_up = rmqi_now_ms() + 300000; /* the test is long gone */
  const char *kv[] = {"consumerGroup",
                      argv[4],
                      "consumeFromWhere",
                      "CONSUME_FROM_FIRST_OFFSET",
                      "rebalanceInterval",
                      "1000",
                      "persistConsumerOffsetInterval",
                      "200",
                      "autoCommitIntervalMillis",
                      "1000",
                      "consumeThreadMin",
                      "2",
                      "consumeThreadMax",
                      "2",
                      NULL};
  rmq_conf_t *c = conf_kv(argv[3], kv);
  char err[256];
  if (strcmp(argv[2], "push") == 0) {
    rmq_push_consumer_t *pc = rmq_push_consumer_new(NULL, c, err, sizeof(err));
    rmq_conf_destroy(c);
    if (!pc || rmq_push_consumer_set_listener(pc, child_listener, NULL) ||
        rmq_push_consumer_subscribe(pc, argv[5], "*") ||
        rmq_push_consumer_start(pc))
      return 2;
    while (!child_stop && rmqi_now_ms() < give_up)
      usleep(50000);
    rmq_push_consumer_destroy(pc, 5000);
  } else {
    rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
    rmq_conf_destroy(c);
    if (!pc || rmq_pull_consumer_subscribe(pc, argv[5], "*") ||
        rmq_pull_consumer_start(pc))
      return 2;
    while (!child_stop && rmqi_now_ms() < give_up) {
      /* batches of up to 800 (0.4 s of processing): an auto-commit
       * during a batch must not cover it */
      static rmq_msg_t *m[800];
      int k = rmq_pull_consumer_poll(pc, m, 800, 200);
      if (k > 0) {
        child_write(m, (size_t)k, 500);
        for (int j = 0; j < k; j++)
          rmq_msg_destroy(m[j]);
      }
    }
    rmq_pull_consumer_destroy(pc, 5000);
  }
  return 0;
}

typedef struct chaos_group {
  const char *kind;
  char group[128];
  char file[600];
  pid_t kids[CHILDREN];
  int started, killed, crashed; /* crashed: exited by themselves */
  int *count;                   /* records per index */
  long read_off;
  int unique, total;
} chaos_group_t;

static char self_exe[600];

static atomic_int n_acked;
static char chaos_acked[N_CHAOS]; /* 1: the send was acknowledged */
static void count_acked(rmq_producer_t *p, rmq_err_t err,
                        const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p;
  (void)m;
  (void)res;
  if (err == RMQ_OK) {
    chaos_acked[(intptr_t)op] = 1;
    atomic_fetch_add(&n_acked, 1);
  }
}

static pid_t spawn_child(chaos_group_t *g, const char *topic) {
  pid_t pid = fork();
  if (pid == 0) {
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
#endif
    execl(self_exe, self_exe, "--chaos-child", g->kind, env.namesrv, g->group,
          topic, g->file, (char *)NULL);
    _exit(127);
  }
  g->started++;
  return pid;
}

/* SIGKILLs a child; one that had already exited on its own counts as
 * crashed. */
static void reap(chaos_group_t *g, pid_t pid) {
  int st = 0;
  kill(pid, SIGKILL);
  if (waitpid(pid, &st, 0) == pid && WIFEXITED(st)) {
    fprintf(stderr, "%s consumer %d exited with %d\n", g->kind, (int)pid,
            WEXITSTATUS(st));
    g->crashed++;
  }
}

/* Reads the group's file from where the last call stopped (whole lines). */
static void chaos_scan(chaos_group_t *g) {
  int fd = open(g->file, O_RDONLY);
  if (fd < 0)
    return;
  char buf[65536];
  for (;;) {
    ssize_t k = pread(fd, buf, sizeof(buf), g->read_off);
    if (k <= 0)
      break;
    ssize_t end = k;
    while (end > 0 && buf[end - 1] != '\n')
      end--;
    if (end == 0)
      break;
    for (ssize_t s = 0; s < end;) {
      int v = atoi(buf + s);
      if (v >= 0 && v < N_CHAOS) {
        g->total++;
        if (g->count[v]++ == 0 && chaos_acked[v])
          g->unique++;
      }
      while (buf[s] != '\n')
        s++;
      s++;
    }
    g->read_off += end;
  }
  close(fd);
}

TEST(consumer_chaos_kill_9) {
  char topic[128];
  make_topic(topic, sizeof(topic), "it_rel_chaos");
  {
    const char *kv[] = {"enableBackpressureForAsyncMode", "true",
                        "backPressureForAsyncSendNum", "256", NULL};
    rmq_conf_t *c = conf_kv(env.namesrv, kv);
    rmq_producer_t *p = rmq_producer_new(NULL, c, NULL, 0);
    rmq_conf_destroy(c);
    REQUIRE(p != NULL);
    atomic_store(&n_acked, 0);
    for (int i = 0; i < N_CHAOS; i++) {
      rmq_msg_t *m = indexed_msg(topic, i);
      rmq_err_t rc;
      while ((rc = rmq_producer_send_async(p, m, count_acked,
                                           (void *)(intptr_t)i)) ==
             RMQ_ERR_QUEUE_FULL)
        ;
      REQUIRE(rc == RMQ_OK);
    }
    CHECK_ERR(rmq_producer_flush(p, 60000), RMQ_OK);
    rmq_producer_destroy(p, 5000);
    /* a busy broker may refuse some (SYSTEM_BUSY): the acked ones count */
    REQUIRE(atomic_load(&n_acked) >= N_CHAOS * 9 / 10);
  }
  ssize_t k = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
  REQUIRE(k > 0);
  self_exe[k] = '\0';
  chaos_group_t g[2] = {{.kind = "push"}, {.kind = "lite"}};
  for (int j = 0; j < 2; j++) {
    it_unique(g[j].group, sizeof(g[j].group), "it_rel_chaos_g");
    snprintf(g[j].file, sizeof(g[j].file), "/tmp/%s.ids", g[j].group);
    unlink(g[j].file);
    g[j].count = calloc(N_CHAOS, sizeof(int));
    REQUIRE(g[j].count);
    for (int i = 0; i < CHILDREN; i++)
      g[j].kids[i] = spawn_child(&g[j], topic);
  }
  /* every 1.2 s SIGKILL one child of each group and start a replacement,
   * while the group is still consuming */
  for (int round = 0; round < KILLS; round++) {
    int64_t until = rmqi_now_ms() + 1200;
    while (rmqi_now_ms() < until) {
      sleep_ms(100);
      for (int j = 0; j < 2; j++)
        chaos_scan(&g[j]);
    }
    for (int j = 0; j < 2; j++) {
      if (g[j].unique >= atomic_load(&n_acked))
        continue;
      int v = round % CHILDREN;
      reap(&g[j], g[j].kids[v]);
      g[j].killed++;
      g[j].kids[v] = spawn_child(&g[j], topic);
    }
  }
  int n = atomic_load(&n_acked);
  /* the children consume at the client's speed (slower under valgrind) */
  int64_t end = rmqi_now_ms() + 60000 * rmqt_slowdown();
  while ((g[0].unique < n || g[1].unique < n) && rmqi_now_ms() < end) {
    sleep_ms(200);
    for (int j = 0; j < 2; j++)
      chaos_scan(&g[j]);
  }
  for (int j = 0; j < 2; j++) {
    for (int i = 0; i < CHILDREN; i++) {
      reap(&g[j], g[j].kids[i]);
    }
    chaos_scan(&g[j]);
    int dups = 0;
    for (int v = 0; v < N_CHAOS; v++)
      dups += g[j].count[v] > 1 ? g[j].count[v] - 1 : 0;
    fprintf(stderr,
            "%s: %d messages acked, %d of them seen, %d deliveries, %d "
            "duplicates; %d consumers started, %d killed (-9)\n",
            g[j].kind, n, g[j].unique, g[j].total, dups, g[j].started,
            g[j].killed);
    CHECK_INT(g[j].unique, n); /* 0 lost */
    CHECK(g[j].killed >= 3);   /* the kills landed mid-consumption */
    /* a kill replays what the child consumed since its last commit
     * (autoCommitIntervalMillis / persistConsumerOffsetInterval plus the
     * batch in hand: up to ~1.6 s of ~2000 messages/s); a consumer joining
     * moves queues, replaying the batches their holders had in hand */
    CHECK(dups <= g[j].killed * 3500 + g[j].started * 1500);
    CHECK_INT(g[j].crashed, 0);
    unlink(g[j].file);
    free(g[j].count);
  }
}

int main(int argc, char **argv) {
  if (argc == 7 && strcmp(argv[1], "--chaos-child") == 0)
    return chaos_child(argv);
  it_setup(&env);
  static const rmqt_case cases[] = {
      /* chaos before the name-server restart: right after it, both groups
       * once stalled with ~11,000 of 50,000 messages unseen for 60 s on
       * 4.9.7 (under investigation, doc/reliability.md) */
      TCASE(kill_broker_during_sync_and_async_sends),
      TCASE(consumer_chaos_kill_9), TCASE(dead_namesrv_in_list_is_invisible),
      TCASE(cached_routes_survive_namesrv_down),
      TCASE(consumers_right_after_namesrv_restart)};
  return RUN_TESTS(cases);
}
