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
 *    duplicates are counted and bounded;
 *  - the same for one group of librmq and Java push consumers (the Java
 *    peer killed too), which must then settle: each queue read by one live
 *    member, nothing read twice.
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

/* how a send ended */
enum { SENT = 0, BUSY, TIMEOUT, OTHER };

typedef struct run {
  rmq_producer_t *p;
  const char *topic;
  int n, base;       /* bodies base..base+n-1 */
  int64_t t0;        /* when sending began */
  atomic_int *calls; /* returns / callbacks per index */
  atomic_int *where; /* 0: not acknowledged, 1: broker-a, 2: broker-b */
  atomic_int *kind;  /* SENT, BUSY, TIMEOUT, OTHER */
  _Atomic int64_t *done_ms;
  atomic_int issued, completed, failed;
  int async;
  /* the first failures other than flow control, shown if a check fails */
  char why[5][200];
  int64_t why_ms[5];
  int why_i[5];
  atomic_int n_why;
} run_t;

static void record(run_t *r, int i, rmq_err_t err, const rmq_send_result_t *res,
                   const char *why) {
  int64_t now = rmqi_now_ms();
  atomic_fetch_add(&r->calls[i], 1);
  int kind = SENT;
  if (err == RMQ_OK && res->status == RMQ_SEND_OK) {
    atomic_store(&r->where[i],
                 strcmp(res->broker_name, "broker-b") == 0 ? 2 : 1);
  } else {
    /* a loaded broker's flow control (SYSTEM_BUSY) may refuse a send at any
     * time (Java: no retry for an async send); a broker starved of CPU may
     * not answer within the send timeout. run_check tells these apart
     * from the kill's failures by time. */
    kind = why && strstr(why, "SYSTEM_BUSY") ? BUSY
           : err == RMQ_ERR_TIMEOUT         ? TIMEOUT
                                            : OTHER;
    if (atomic_fetch_add(&r->failed, 1) < 5)
      fprintf(stderr, "send %d failed: %s\n", i, why ? why : "?");
    if (kind != BUSY) {
      int k = atomic_fetch_add(&r->n_why, 1);
      if (k < 5) {
        snprintf(r->why[k], sizeof(r->why[k]), "%s", why ? why : "?");
        r->why_ms[k] = now;
        r->why_i[k] = i;
      }
    }
  }
  atomic_store(&r->kind[i], kind);
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
  r->kind = calloc(N_SENDS, sizeof(*r->kind));
  r->done_ms = calloc(N_SENDS, sizeof(*r->done_ms));
  REQUIRE(r->calls && r->where && r->kind && r->done_ms);
}

/* Checks one run after the kill at @p t_kill (broker-b dead from @p t_dead
 * until @p t_restart; up again at @p t_up); returns the acks on broker-b
 * after its restart. */
static int run_check(run_t *r, int64_t t_kill, int64_t t_dead,
                     int64_t t_restart, int64_t t_up) {
  int not_once = 0, acked = 0, on_b_dead = 0, on_b_after = 0;
  int busy = 0, before = 0, before_other = 0, after = 0;
  int64_t max_gap = 0, prev = t_kill, last_after = 0;
  for (int i = 0; i < r->n; i++) {
    not_once += atomic_load(&r->calls[i]) != 1;
    int w = atomic_load(&r->where[i]);
    int kind = atomic_load(&r->kind[i]);
    int64_t d = atomic_load(&r->done_ms[i]);
    acked += w != 0;
    on_b_dead += w == 2 && d > t_dead && d < t_restart;
    on_b_after += w == 2 && d > t_up;
    busy += kind == BUSY;
    if (kind == TIMEOUT || kind == OTHER) {
      if (d < t_kill) {
        before++;
        before_other += kind == OTHER;
      } else {
        after++;
        if (d > last_after)
          last_after = d;
      }
    }
    /* sync: completions come in order; the longest stall after the kill */
    if (!r->async && d > t_kill) {
      if (d - prev > max_gap)
        max_gap = d - prev;
      prev = d;
    }
  }
  int64_t failover_ms = last_after ? last_after - t_kill : 0;
  fprintf(stderr,
          "%s: %d sends, %d acked, %d failed (%d SYSTEM_BUSY; before the "
          "kill %d (%d not timeouts); after it %d, the last %+lld ms after "
          "the kill), longest stall after the kill %lld ms, %d acked on "
          "broker-b after its restart\n",
          r->async ? "async" : "sync", r->n, acked, atomic_load(&r->failed),
          busy, before, before_other, after, (long long)failover_ms,
          (long long)max_gap, on_b_after);
  if (before_other > 0 || before >= r->n / 10 || after >= r->n / 100 ||
      failover_ms >= 10000 || busy >= r->n / 10) {
    /* CI shows only the lines naming a failure: these say what failed */
    fprintf(stderr,
            "FAIL detail: %s run: %d SYSTEM_BUSY, %d failed before the kill "
            "(%d not timeouts), %d after it (sending began %+lld ms after "
            "the kill)\n",
            r->async ? "async" : "sync", busy, before, before_other, after,
            (long long)(r->t0 - t_kill));
    int nw = atomic_load(&r->n_why);
    for (int k = 0; k < nw && k < 5; k++)
      fprintf(stderr, "FAIL detail: send %d at %+lld ms after the kill: %s\n",
              r->why_i[k], (long long)(r->why_ms[k] - t_kill), r->why[k]);
  }
  CHECK_INT(not_once, 0);  /* every call returned / called back once */
  CHECK_INT(on_b_dead, 0); /* the kill was real */
  /* Before the kill only a machine too loaded for its brokers fails sends:
   * flow control (SYSTEM_BUSY: a request waited past
   * waitTimeMillsInSendQueue, 200 ms; CI's two-master round saw 1.5% on
   * 5.5.0 with four JVMs on two cores) or a broker that did not answer
   * within the send timeout (CI once saw over 1% of a run's sends fail
   * before the kill; this round with two busy loops added, a load of 50
   * to 78, had async sends time out 128 at a time, the producer's
   * window). Anything else before the kill is a fault. Each kind bounded
   * apart. */
  CHECK_INT(before_other, 0);
  CHECK(before < r->n / 10);
  CHECK(busy < r->n / 10);
  /* the kill's failures: under 1%, and gone within 10 s (sends moved to
   * broker-a) */
  CHECK(after < r->n / 100);
  CHECK(failover_ms < 10000);
  CHECK(max_gap < 10000);
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
    free(runs[k].kind);
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
  /* the second half, sent once the consumers have the whole route, by a
   * new producer: the first keeps the route of its first send until its
   * own route poll (30 s, as Java's), which may hold broker-a alone (TSan
   * once sent all 4000 there), and the second half must reach broker-b's
   * queues to show that the consumers read them */
  rmq_producer_destroy(p, 5000);
  c = conf_kv(env.namesrv, NULL);
  p = rmq_producer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  REQUIRE(p);
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
/* the mixed group: phase 1 and 2 messages, processing per message (µs, per
 * consume thread: two threads, so 500 messages/s per member) */
enum { N_MIX = 30000, N_MIX2 = 2000, MIX_US = 4000 };
/* the lite pull members' processing per message (one polling thread: 500
 * messages/s per member, as the push members) */
enum { MIX_LITE_US = 2000 };

static volatile sig_atomic_t child_stop;
static int child_fd;
static int child_us = 1000; /* processing per message and consume thread */

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
  child_write(m, n, child_us); /* two consume threads */
  return RMQ_CONSUME_SUCCESS;
}

/* The queues a mixed-group child holds of its topic (@p op; not of the
 * group's retry topic, which a push consumer subscribes to as well), as the
 * Java peer prints them:
 * {"assignment":[{"broker":"broker-a","queueId":0},...]}, one write. */
static void child_assignment(const char *topic, const rmq_queue_t *all,
                             size_t n_all, const rmq_queue_t *a, size_t n,
                             void *op) {
  (void)all;
  (void)n_all;
  if (strcmp(topic, op) != 0)
    return;
  char buf[4096];
  size_t len = (size_t)snprintf(buf, sizeof(buf), "{\"assignment\":[");
  for (size_t i = 0; i < n && len < sizeof(buf) - 200; i++)
    len += (size_t)snprintf(buf + len, sizeof(buf) - len,
                            "%s{\"broker\":\"%.100s\",\"queueId\":%d}",
                            i ? "," : "", a[i].broker_name, (int)a[i].queue_id);
  len += (size_t)snprintf(buf + len, sizeof(buf) - len, "]}\n");
  if (write(child_fd, buf, len) != (ssize_t)len)
    _exit(3);
}

static void on_term(int sig) {
  (void)sig;
  child_stop = 1;
}

/* argv: --chaos-child push|lite|mixed|mixed-orderly|mixed-lite NAMESRV
 * GROUP TOPIC FILE; mixed: a push consumer of the mixed group (slower, and
 * it writes its assignment), with an orderly listener for mixed-orderly;
 * mixed-lite: a lite pull consumer of the mixed group (as slow, writing
 * its assignment) */
static int chaos_child(char **argv) {
  int orderly = strcmp(argv[2], "mixed-orderly") == 0;
  int mixed_lite = strcmp(argv[2], "mixed-lite") == 0;
  int mixed = orderly || strcmp(argv[2], "mixed") == 0;
  if (mixed)
    child_us = MIX_US;
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
  if (strcmp(argv[2], "push") == 0 || mixed) {
    rmq_push_consumer_t *pc = rmq_push_consumer_new(NULL, c, err, sizeof(err));
    rmq_conf_destroy(c);
    if (!pc ||
        (orderly
             ? rmq_push_consumer_set_listener_orderly(pc, child_listener, NULL)
             : rmq_push_consumer_set_listener(pc, child_listener, NULL)) ||
        (mixed &&
         rmq_push_consumer_set_assignment_cb(pc, child_assignment, argv[5])) ||
        rmq_push_consumer_subscribe(pc, argv[5], "*") ||
        rmq_push_consumer_start(pc))
      return 2;
    while (!child_stop && rmqi_now_ms() < give_up)
      usleep(50000);
    rmq_push_consumer_destroy(pc, 5000);
  } else {
    rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
    rmq_conf_destroy(c);
    if (!pc ||
        (mixed_lite && rmq_pull_consumer_set_assignment_cb(
                           pc, child_assignment, argv[5])) ||
        rmq_pull_consumer_subscribe(pc, argv[5], "*") ||
        rmq_pull_consumer_start(pc))
      return 2;
    while (!child_stop && rmqi_now_ms() < give_up) {
      /* batches of up to 800 (0.4 s of processing): an auto-commit
       * during a batch must not cover it */
      static rmq_msg_t *m[800];
      int k = rmq_pull_consumer_poll(pc, m, mixed_lite ? 100 : 800, 200);
      if (k > 0) {
        child_write(m, (size_t)k, mixed_lite ? MIX_LITE_US : 500);
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
/* where each acknowledged one was stored: broker index (the last letter of
 * its name, a = 0) * 8 + queue id; its queue offset */
static int8_t chaos_qbit[N_CHAOS];
static int64_t chaos_off[N_CHAOS];
static void count_acked(rmq_producer_t *p, rmq_err_t err,
                        const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p;
  (void)m;
  if (err == RMQ_OK) {
    const char *b = res->broker_name ? res->broker_name : "";
    size_t bl = strlen(b);
    int bi = bl ? b[bl - 1] - 'a' : -1;
    chaos_qbit[(intptr_t)op] =
        (int8_t)(bi >= 0 && bi < 4 && res->queue_id >= 0 && res->queue_id < 8
                     ? bi * 8 + res->queue_id
                     : -1);
    chaos_off[(intptr_t)op] = res->queue_offset;
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

/* Calls @p line_fn for each whole line of @p path from *off on (the line
 * without its newline, NUL-terminated) and moves *off past them; a partial
 * last line (a writer killed mid-line) waits for its end. */
static void scan_lines(const char *path, long *off,
                       void (*line_fn)(char *line, void *arg), void *arg) {
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return;
  static char buf[1 << 16];
  for (;;) {
    ssize_t k = pread(fd, buf, sizeof(buf), *off);
    if (k <= 0)
      break;
    ssize_t end = k;
    while (end > 0 && buf[end - 1] != '\n')
      end--;
    if (end == 0)
      break;
    for (ssize_t s = 0; s < end;) {
      char *nl = memchr(buf + s, '\n', (size_t)(end - s));
      *nl = '\0';
      line_fn(buf + s, arg);
      s = nl - buf + 1;
    }
    *off += end;
  }
  close(fd);
}

static void chaos_line(char *line, void *arg) {
  chaos_group_t *g = arg;
  int v = atoi(line);
  if (v >= 0 && v < N_CHAOS) {
    g->total++;
    if (g->count[v]++ == 0 && chaos_acked[v])
      g->unique++;
  }
}

/* Reads the group's file from where the last call stopped. */
static void chaos_scan(chaos_group_t *g) {
  scan_lines(g->file, &g->read_off, chaos_line, g);
}

/* Sends bodies base..base+n-1 asynchronously (back pressure at 256 in
 * flight), marking chaos_acked[] for each acknowledged one; returns how many
 * were. */
static int send_indexed(const char *topic, int base, int n) {
  const char *kv[] = {"enableBackpressureForAsyncMode", "true",
                      "backPressureForAsyncSendNum", "256", NULL};
  rmq_conf_t *c = conf_kv(env.namesrv, kv);
  rmq_producer_t *p = rmq_producer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  if (p == NULL)
    return 0;
  int before = atomic_load(&n_acked);
  for (int i = base; i < base + n; i++) {
    rmq_msg_t *m = indexed_msg(topic, i);
    rmq_err_t rc;
    while ((rc = rmq_producer_send_async(p, m, count_acked,
                                         (void *)(intptr_t)i)) ==
           RMQ_ERR_QUEUE_FULL)
      ;
    if (rc != RMQ_OK) {
      CHECK_ERR(rc, RMQ_OK);
      rmq_msg_destroy(m);
      break;
    }
  }
  CHECK_ERR(rmq_producer_flush(p, 60000), RMQ_OK);
  rmq_producer_destroy(p, 5000);
  return atomic_load(&n_acked) - before;
}

TEST(consumer_chaos_kill_9) {
  char topic[128];
  make_topic(topic, sizeof(topic), "it_rel_chaos");
  atomic_store(&n_acked, 0);
  memset(chaos_acked, 0, sizeof(chaos_acked));
  /* a busy broker may refuse some (SYSTEM_BUSY): the acked ones count */
  REQUIRE(send_indexed(topic, 0, N_CHAOS) >= N_CHAOS * 9 / 10);
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
  /* the children consume at the client's speed (slower under valgrind),
   * within 60 s; a broker that registered a killed member again (its
   * heartbeat read before the kill, handled after the channel closed:
   * "A broker race" in doc/reliability.md) lists it until its channel
   * expiry (120 s, and the scan), and the queues allocated to it wait that
   * long: 150 s in all, the group's progress shown from 60 s on */
  int64_t t_calm = rmqi_now_ms();
  int64_t end = t_calm + 150000 * rmqt_slowdown();
  bool shown = false;
  while ((g[0].unique < n || g[1].unique < n) && rmqi_now_ms() < end) {
    sleep_ms(200);
    for (int j = 0; j < 2; j++)
      chaos_scan(&g[j]);
    if (!shown && rmqi_now_ms() - t_calm > 60000 * rmqt_slowdown()) {
      shown = true;
      for (int j = 0; j < 2; j++) {
        if (g[j].unique >= n)
          continue;
        fprintf(stderr, "%s: %d of %d seen 60 s after the last kill; the "
                "group's queues now:\n", g[j].kind, g[j].unique, n);
        char args[400], *out = NULL;
        snprintf(args, sizeof(args), "%s %s", g[j].group, topic);
        it_harness(&env, "offsets", args, &out);
        fprintf(stderr, "%s\n", out ? out : "(harness offsets failed)");
        free(out);
        /* the members a broker lists (a client id holds its pid), against
         * the children alive */
        out = NULL;
        snprintf(args, sizeof(args), "consumerConnection -g %s", g[j].group);
        it_harness(&env, "mqadmin", args, &out);
        fprintf(stderr, "%s\nalive:", out ? out : "(consumerConnection failed)");
        free(out);
        for (int i = 0; i < CHILDREN; i++)
          fprintf(stderr, " %d", (int)g[j].kids[i]);
        fprintf(stderr, "\n");
      }
    }
  }
  for (int j = 0; j < 2; j++)
    if (g[j].unique >= n && shown)
      fprintf(stderr, "%s: all %d seen, more than 60 s after the last kill\n",
              g[j].kind, n);
  fprintf(stderr, "calm after the kills: %lld ms until the end of the wait\n",
          (long long)(rmqi_now_ms() - t_calm));
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

/* ---- a mixed Java/C group under chaos ------------------------------------
 * Two librmq push consumers (this binary, --chaos-child mixed) and two Java
 * push consumers (tests/interop/peer consume --mode push, the official
 * client) share one group; every 2.5 s one of them, C and Java in turn,
 * gets SIGKILL and a new one of its kind takes its place. Every member
 * writes to a file of its own each message it processed, before
 * acknowledging it, and each change of its queues as an {"assignment":[...]}
 * line. Phase 1: the chaos, then every acknowledged message must be in some
 * file. Phase 2, once the group has settled (the live members' assignments
 * split the topic's queues exactly), 2,000 more: each must be processed
 * exactly once, by the member holding its queue, every member taking part:
 * a queue read by two live members would show as a duplicate. */

enum {
  MIX_EACH = 2, /* members of each kind at a time */
  MIX_KILLS = 6,
  MIX_START_FAILS = 2, /* Java members that may fail to start (below) */
  MIX_MAX = 2 * MIX_EACH + MIX_KILLS + MIX_START_FAILS /* started in all */
};

typedef struct member {
  int java;
  pid_t pid; /* 0 once reaped */
  char file[600];
  long off;
  unsigned queues; /* last assignment reported: a bit per queue */
  int reported;
  int fatal; /* the peer printed {"fatal":...} */
  int total, phase2; /* deliveries; of them phase-2 messages */
  /* orderly: per queue (chaos_qbit), the offset of its last phase-2
   * message this member processed; bit set once there is one */
  int64_t p2_last[32];
  unsigned p2_seen;
} member_t;

typedef struct mix {
  member_t m[MIX_MAX];
  int n_members;
  int live[2][MIX_EACH]; /* [java][slot]: the member's index */
  const char *group, *topic;
  int64_t last_start;
  int start_fails; /* Java members that failed to start, replaced */
  char brokers[4][64]; /* queue bit = broker index * 8 + queue id */
  int n_brokers;
  int *count;
  int unique, unique2; /* acknowledged ids seen: all, of phase 2 */
  int strays;          /* lines naming no id we sent */
  int64_t last_msg_ms; /* when a scan last found a message line */
  int crashed;
  int n_queues;
  /* since when (0: not now) the live members' assignments have split the
   * queues exactly / each queue has been held by two; the longest that */
  int64_t settled_since, overlap_since[32], overlap_max;
  int orderly;  /* orderly listeners, C and Java */
  int lite;     /* lite pull consumers, C and Java (not push) */
  int disorder; /* orderly: phase-2 messages not right after the last one
                   of their queue that their member processed */
  int in_order; /* orderly: phase-2 messages checked so */
  unsigned last_sig; /* of the assignments last printed while overlapping */
  int overlap_lines;
} mix_t;

typedef struct mix_at {
  mix_t *x;
  member_t *m;
} mix_at_t;

static int mix_queue_bit(mix_t *x, const char *broker, size_t len, int qid) {
  int b = 0;
  while (b < x->n_brokers &&
         (strlen(x->brokers[b]) != len || memcmp(x->brokers[b], broker, len)))
    b++;
  if (b == x->n_brokers) {
    if (b == 4 || len >= sizeof(x->brokers[0]))
      return -1;
    memcpy(x->brokers[b], broker, len);
    x->brokers[b][len] = '\0';
    x->n_brokers++;
  }
  return qid >= 0 && qid < 8 ? b * 8 + qid : -1;
}

/* A member's line: an id (C), a Java message line ("bodyText":"<id>"), or
 * an assignment (both). */
static void mix_line(char *line, void *arg) {
  mix_t *x = ((mix_at_t *)arg)->x;
  member_t *m = ((mix_at_t *)arg)->m;
  if (strncmp(line, "{\"assignment\":", 14) == 0) {
    unsigned q = 0;
    for (char *p = line; (p = strstr(p, "\"broker\":\"")) != NULL;) {
      p += 10;
      char *e = strchr(p, '"');
      char *id = e ? strstr(e, "\"queueId\":") : NULL;
      if (!id)
        break;
      int bit = mix_queue_bit(x, p, (size_t)(e - p), atoi(id + 10));
      if (bit < 0)
        x->strays++;
      else
        q |= 1u << bit;
      p = id;
    }
    m->queues = q;
    m->reported = 1;
    return;
  }
  const char *id = line;
  if (line[0] == '{') {
    if (strncmp(line, "{\"summary\"", 10) == 0)
      return;
    if (strncmp(line, "{\"fatal\"", 8) == 0) {
      fprintf(stderr, "Java member %d: %s\n", (int)m->pid, line);
      m->fatal = 1;
      return;
    }
    id = strstr(line, "\"bodyText\":\"");
    if (!id) {
      x->strays++;
      return;
    }
    id += 12;
  }
  int v = atoi(id);
  if (v < 0 || v >= N_MIX + N_MIX2 || !(id[0] >= '0' && id[0] <= '9')) {
    x->strays++;
    return;
  }
  m->total++;
  m->phase2 += v >= N_MIX;
  int qb = chaos_acked[v] ? chaos_qbit[v] : -1;
  if (x->orderly && v >= N_MIX && qb >= 0) {
    /* the group settled before phase 2: each queue's holder gets all of
     * its new messages, one after another */
    if (m->p2_seen >> qb & 1) {
      x->in_order++;
      x->disorder += chaos_off[v] != m->p2_last[qb] + 1;
    }
    m->p2_last[qb] = chaos_off[v];
    m->p2_seen |= 1u << qb;
  }
  x->last_msg_ms = rmqi_now_ms();
  if (x->count[v]++ == 0 && chaos_acked[v]) {
    x->unique++;
    x->unique2 += v >= N_MIX;
  }
}

static void mix_scan(mix_t *x) {
  for (int i = 0; i < x->n_members; i++) {
    mix_at_t at = {x, &x->m[i]};
    scan_lines(x->m[i].file, &x->m[i].off, mix_line, &at);
  }
}

/* Starts a member of the kind @p java in @p slot (which it takes over). */
static member_t *mix_spawn(mix_t *x, int java, int slot) {
  const char *group = x->group, *topic = x->topic;
  member_t *m = &x->m[x->n_members];
  memset(m, 0, sizeof(*m));
  m->java = java;
  snprintf(m->file, sizeof(m->file), "/tmp/%s.%d.%s", group, x->n_members,
           java ? "java" : "c");
  unlink(m->file);
  char ver[8];
  snprintf(ver, sizeof(ver), "%d", env.major);
  char us[16];
  snprintf(us, sizeof(us), "%d", MIX_US);
  char peer[700];
  snprintf(peer, sizeof(peer), "%s/tests/interop/peer", env.source_root);
  pid_t pid = fork();
  if (pid == 0) {
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
#endif
    if (java) {
      /* the wrapper execs the JVM: the pid stays the consumer's */
      int fd = open(m->file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || dup2(fd, 1) < 0 || setenv("RMQ_NAMESRV", env.namesrv, 1))
        _exit(126);
      if (x->lite) {
        snprintf(us, sizeof(us), "%d", MIX_LITE_US);
        execl(peer, peer, "--version", ver, "consume-lite", "--group", group,
              "--topic", topic, "--process-us", us, "--assign-ms", "100",
              "--timeout-ms", "300000", (char *)NULL);
        _exit(127);
      }
      execl(peer, peer, "--version", ver, "consume", "--mode", "push",
            "--group", group, "--topic", topic, "--threads", "2",
            "--process-us", us, "--assign-ms", "100", "--timeout-ms",
            "300000", x->orderly ? "--orderly" : (char *)NULL, (char *)NULL);
    } else {
      execl(self_exe, self_exe, "--chaos-child",
            x->lite      ? "mixed-lite"
            : x->orderly ? "mixed-orderly"
                         : "mixed",
            env.namesrv, group, topic, m->file, (char *)NULL);
    }
    _exit(127);
  }
  m->pid = pid;
  x->live[java][slot] = x->n_members++;
  x->last_start = rmqi_now_ms();
  return m;
}

static void mix_reap(mix_t *x, member_t *m) {
  int st = 0;
  if (m->pid <= 0) /* gone already (kill(0) would hit our process group) */
    return;
  kill(m->pid, SIGKILL);
  if (waitpid(m->pid, &st, 0) == m->pid && WIFEXITED(st)) {
    fprintf(stderr, "%s member %d exited with %d\n", m->java ? "Java" : "C",
            (int)m->pid, WEXITSTATUS(st));
    x->crashed++;
  }
  m->pid = 0;
}

/* The live members' assignments split all queues exactly (each held by one
 * member, every member reported); *twice: the queues two of them hold. */
static int mix_settled(const mix_t *x, unsigned *twice) {
  unsigned all = 0;
  int held = 0, ok = 1;
  *twice = 0;
  for (int i = 0; i < x->n_members; i++) {
    const member_t *m = &x->m[i];
    if (!m->pid)
      continue;
    ok &= m->reported;
    *twice |= all & m->queues;
    all |= m->queues;
    held += __builtin_popcount(m->queues);
  }
  return ok && !*twice && held == x->n_queues;
}

/* Members that exited by themselves: a Java member that failed to start
 * (the peer printed a fatal error before any delivery: on a loaded
 * machine its first request to the name server can fail) is replaced, up
 * to MIX_START_FAILS times; any other counts as crashed. */
static void mix_check_exits(mix_t *x) {
  for (int java = 0; java < 2; java++)
    for (int slot = 0; slot < MIX_EACH; slot++) {
      member_t *m = &x->m[x->live[java][slot]];
      int st = 0;
      if (!m->pid || waitpid(m->pid, &st, WNOHANG) != m->pid)
        continue;
      scan_lines(m->file, &m->off, mix_line, &(mix_at_t){x, m});
      fprintf(stderr, "%s member %d exited by itself (status %d)\n",
              java ? "Java" : "C", (int)m->pid,
              WIFEXITED(st) ? WEXITSTATUS(st) : -1);
      m->pid = 0;
      if (java && m->fatal && m->total == 0 &&
          x->start_fails < MIX_START_FAILS && x->n_members < MIX_MAX) {
        x->start_fails++;
        mix_spawn(x, java, slot);
      } else {
        x->crashed++;
      }
    }
}

static void mix_print(const mix_t *x, const char *when) {
  fprintf(stderr, "%s:", when);
  for (int i = 0; i < x->n_members; i++)
    if (x->m[i].pid)
      fprintf(stderr, " %s%d=%03x", x->m[i].java ? "J" : "C", i,
              x->m[i].queues);
  fprintf(stderr, "\n");
}

/* Scans the members' files and follows the group's state over time. */
static void mix_tick(mix_t *x) {
  mix_scan(x);
  mix_check_exits(x);
  int64_t now = rmqi_now_ms();
  unsigned twice;
  int settled = mix_settled(x, &twice);
  if (!settled)
    x->settled_since = 0;
  else if (!x->settled_since)
    x->settled_since = now;
  /* the assignments while queues are held twice, at each change (what
   * a failure of the overlap bound needs) */
  unsigned sig = twice;
  for (int i = 0; i < x->n_members; i++)
    if (x->m[i].pid)
      sig = sig * 31u + x->m[i].queues;
  if (twice && sig != x->last_sig && x->overlap_lines < 40) {
    char when[64];
    snprintf(when, sizeof(when), "held twice %03x at +%lld ms", twice,
             (long long)(now - x->last_start));
    mix_print(x, when);
    x->overlap_lines++;
  }
  x->last_sig = twice ? sig : 0;
  for (int q = 0; q < 32; q++) {
    if (!(twice >> q & 1)) {
      x->overlap_since[q] = 0;
      continue;
    }
    if (!x->overlap_since[q])
      x->overlap_since[q] = now;
    if (now - x->overlap_since[q] > x->overlap_max)
      x->overlap_max = now - x->overlap_since[q];
  }
}

/* A broker may register a killed member again: a heartbeat it read before
 * the kill and handled after the connection's close (its log then shows the
 * closed channel, "!", in a "new consumer connected" line). Until the
 * channel expires (the broker's channelExpiredTimeout, 120 s, scanned every
 * 10 s) that broker lists a member that is gone, and members asking it for
 * the group's ids allocate for one more than those asking the other one.
 * Returns whether a broker of the target logged that for @p group. */
static int mix_dead_member_registered(const char *group) {
  char cmd[1600];
  snprintf(cmd, sizeof(cmd),
           "grep -h -F 'new consumer connected, group: %s ' "
           "'%s'/broker-*/logs/rocketmqlogs/*.log 2>/dev/null | "
           "grep -q -F ' ! R:'",
           group, env.run_dir);
  return it_sh(cmd, NULL, NULL) == 0;
}


/* MIX_BROKER: push members as MIX_PUSH, none killed; broker-b gets
 * kill -9 in phase 1 instead, and comes back after BROKER_DOWN_MS */
enum { MIX_PUSH, MIX_ORDERLY, MIX_LITE, MIX_BROKER };
enum { BROKER_DOWN_MS = 5000 };

static void mix_run(int mode) {
  static const char *const names[] = {"concurrent", "orderly", "lite pull",
                                      "concurrent, broker-b killed"};
  static const char *const tp[] = {"it_rel_mix", "it_rel_omix", "it_rel_lmix",
                                   "it_rel_bmix"};
  static const char *const gp[] = {"it_rel_mix_g", "it_rel_omix_g",
                                   "it_rel_lmix_g", "it_rel_bmix_g"};
  int orderly = mode == MIX_ORDERLY;
  char topic[128], group[128];
  make_topic(topic, sizeof(topic), tp[mode]);
  it_unique(group, sizeof(group), gp[mode]);
  atomic_store(&n_acked, 0);
  memset(chaos_acked, 0, sizeof(chaos_acked));
  int64_t t0 = rmqi_now_ms();
  int acked1 = send_indexed(topic, 0, N_MIX);
  REQUIRE(acked1 >= N_MIX * 9 / 10);
  int64_t sent_ms = rmqi_now_ms() - t0;
  ssize_t k = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
  REQUIRE(k > 0);
  self_exe[k] = '\0';
  mix_t *x = calloc(1, sizeof(*x));
  REQUIRE(x);
  x->count = calloc(N_MIX + N_MIX2, sizeof(int));
  REQUIRE(x->count);
  x->n_queues = 4 * (env.broker_b[0] ? 2 : 1);
  x->orderly = orderly;
  x->lite = mode == MIX_LITE;
  x->group = group;
  x->topic = topic;
  for (int s = 0; s < MIX_EACH; s++) {
    mix_spawn(x, 0, s);
    mix_spawn(x, 1, s);
  }
  /* the chaos: C, Java, C, Java...; a kill "mid-run" left messages unseen */
  int mid_kills[2] = {0, 0};
  int broker_mid = 0; /* broker-b killed with messages unread */
  for (int step = 0; mode == MIX_BROKER && step < 2; step++) {
    int64_t until = rmqi_now_ms() + (step ? BROKER_DOWN_MS : 2500);
    while (rmqi_now_ms() < until) {
      sleep_ms(100);
      mix_tick(x);
    }
    if (step == 0)
      broker_mid = x->unique < acked1;
    REQUIRE(it_harness(&env, step ? "start-broker" : "kill-broker", "b",
                       NULL) == 0);
    x->last_start = rmqi_now_ms(); /* the bounds below count from here */
  }
  for (int step = 0; mode != MIX_BROKER && step < MIX_KILLS; step++) {
    int64_t until = rmqi_now_ms() + 2500;
    while (rmqi_now_ms() < until) {
      sleep_ms(100);
      mix_tick(x);
    }
    int java = step % 2, slot = (step / 2) % MIX_EACH;
    member_t *victim = &x->m[x->live[java][slot]];
    mid_kills[java] += x->unique < acked1;
    mix_reap(x, victim);
    mix_spawn(x, java, slot);
  }
  /* phase 1 complete (every acknowledged message processed by someone) and
   * the group settled (the live members split the queues); a dead member a
   * broker registered again (mix_dead_member_registered) keeps the group
   * apart until its channel expires: 130 s, and Java's 20 s rebalance.
   * Orderly: a killed member's queues stay locked on their broker 60 s
   * (rocketmq.broker.rebalance.lockMaxLiveTime), then Java's rebalance. */
  int64_t end = x->last_start + 150000, p1_ms = -1;
  while ((p1_ms < 0 || !x->settled_since) && rmqi_now_ms() < end) {
    sleep_ms(100);
    mix_tick(x);
    if (p1_ms < 0 && x->unique >= acked1)
      p1_ms = rmqi_now_ms() - x->last_start;
  }
  int64_t settle_ms =
      x->settled_since ? x->settled_since - x->last_start : -1;
  mix_print(x, "settled");
  CHECK_INT(x->unique, acked1);
  CHECK(x->settled_since > 0);
  int dups1 = 0;
  for (int v = 0; v < N_MIX; v++)
    dups1 += x->count[v] > 1 ? x->count[v] - 1 : 0;
  /* phase 2: consume until quiet (2 s without a message line after the
   * last acknowledged one was seen), then compare ids */
  int acked2 = send_indexed(topic, N_MIX, N_MIX2);
  CHECK(acked2 >= N_MIX2 * 9 / 10);
  end = rmqi_now_ms() + 60000;
  int64_t settled_at = x->settled_since;
  while (rmqi_now_ms() < end &&
         (x->unique2 < acked2 || rmqi_now_ms() - x->last_msg_ms < 2000)) {
    sleep_ms(100);
    mix_tick(x);
  }
  mix_print(x, "after phase 2");
  CHECK(x->settled_since == settled_at); /* nothing moved */
  CHECK_INT(x->disorder, 0);
  CHECK(!orderly || x->in_order >= acked2 / 2);
  CHECK_INT(x->unique2, acked2);
  int dups2 = 0, stored2 = 0;
  for (int v = N_MIX; v < N_MIX + N_MIX2; v++) {
    dups2 += x->count[v] > 1 ? x->count[v] - 1 : 0;
    stored2 += x->count[v] > 0;
  }
  CHECK_INT(dups2, 0);
  int total[2] = {0, 0}, started[2] = {0, 0};
  for (int i = 0; i < x->n_members; i++) {
    member_t *m = &x->m[i];
    total[m->java] += m->total;
    started[m->java]++;
    if (m->pid) {
      CHECK(m->phase2 > 0); /* every live member holds queues and reads */
      mix_reap(x, m);
    }
  }
  mix_scan(x);
  fprintf(stderr,
          "mixed group: %d + %d acked (sent in %lld ms), %d + %d seen; "
          "phase 1 duplicates %d, deliveries C %d / Java %d; %d C and %d "
          "Java consumers started, kills mid-run C %d / Java %d; phase 1 "
          "complete %lld ms and group settled %lld ms after the last start; "
          "a queue held by two live members for %lld ms at most; "
          "phase 2: %d consumed (%d unacked), 0 duplicates wanted, got %d; "
          "Java members that failed to start: %d; %s (phase 2: %d checked "
          "against their queue's previous one, %d out of order)\n",
          acked1, acked2, (long long)sent_ms, x->unique - x->unique2,
          x->unique2, dups1, total[0], total[1], started[0], started[1],
          mid_kills[0], mid_kills[1], (long long)p1_ms, (long long)settle_ms,
          (long long)x->overlap_max, stored2, stored2 - x->unique2, dups2,
          x->start_fails, names[mode], x->in_order,
          x->disorder);
  CHECK_INT(x->strays, 0);
  CHECK_INT(x->crashed, 0);
  CHECK(total[0] > 0 && total[1] > 0); /* both kinds took part */
  if (mode == MIX_BROKER)
    CHECK(broker_mid);
  else
    CHECK(mid_kills[0] >= 2 && mid_kills[1] >= 2);
  /* a C kill replays what its member processed since its last commit
   * (persistConsumerOffsetInterval 200 ms; lite: autoCommitIntervalMillis
   * 1 s, and the 100 of a poll in hand), a Java kill since Java's (5 s,
   * its default: up to 2,500 at 500 messages/s); a member joining moves
   * queues, replaying what their holders had in hand */
  /* lite: a C member's moved queues replay its poll in hand and up to 1 s
   * of auto-commit; a Java member's, up to its store's 5 s persist */
  int per_c_kill = x->lite ? 1000 : 500, per_start = x->lite ? 1000 : 500;
  /* broker-b killed: members keep their places in memory and commit them
   * again; what it loses is the commits it took since it last wrote them
   * out (flushConsumerOffsetInterval, 5 s), which a member reading its
   * queues anew (a rebalance while the brokers disagree on the group)
   * reads again: at most 5 s of its queues, half the group's 2,000/s */
  /* (and a member the restarted broker does not know yet: librmq's tell
   * it at their next heartbeat, up to heartbeatBrokerInterval, 30 s, and
   * members that ask it meanwhile take their queues: seen 4,311-5,153) */
  if (mode == MIX_BROKER)
    CHECK(dups1 <= 15000);
  else
    CHECK(dups1 <= MIX_KILLS / 2 * per_c_kill + MIX_KILLS / 2 * 3000 +
                       (started[0] + started[1]) * per_start);
  /* members rebalance when the broker tells them the group changed; a
   * member left to its periodic rebalance (Java's: 20 s) would hold a queue
   * another one reads for that long. Not when a broker listed a dead member:
   * members that asked it (Java asks a broker at random at each rebalance)
   * and members that asked the other one disagree until it expires. */
  if (mix_dead_member_registered(group))
    fprintf(stderr, "a broker registered a killed member again (a heartbeat "
                    "handled after its connection closed): no bound on "
                    "overlaps\n");
  else if (mode == MIX_BROKER)
    /* a restarted broker lists the members that have sent it a heartbeat
     * since (the peer every 2 s, librmq's at their next, up to 30 s): a
     * Java member whose rebalance asked it in between keeps that view
     * until its next periodic rebalance, 20 s later (seen: 18-20 s, a Java
     * member holding a queue of a C member's) */
    CHECK(x->overlap_max < 35000); /* or a C member's 30 s heartbeat */
  else
    CHECK(x->overlap_max < 15000);
  for (int i = 0; i < x->n_members; i++)
    unlink(x->m[i].file);
  free(x->count);
  free(x);
}

TEST(mixed_java_c_group_chaos) {
  mix_run(MIX_PUSH);
}

/* The same with orderly listeners on both sides: librmq's and Java's queue
 * locks decide between them, and in phase 2 each queue's new messages are
 * processed by its holder one after another, in queue order. */
TEST(mixed_java_c_orderly_group_chaos) {
  mix_run(MIX_ORDERLY);
}

/* The same with lite pull consumers (librmq's rmq_pull_consumer_poll,
 * Java's DefaultLitePullConsumer through the peer's consume-lite), each
 * processing 500 messages/s on its polling thread. */
TEST(mixed_java_c_lite_group_chaos) {
  mix_run(MIX_LITE);
}

/* A mixed group of push consumers (two of each language, none killed)
 * while broker-b, holding half the topic's queues, gets kill -9 and comes
 * back 5 s later. */
TEST(mixed_java_c_group_broker_killed) {
  mix_run(MIX_BROKER);
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
      TCASE(consumer_chaos_kill_9), TCASE(mixed_java_c_group_chaos),
      TCASE(mixed_java_c_orderly_group_chaos),
      TCASE(mixed_java_c_lite_group_chaos),
      TCASE(mixed_java_c_group_broker_killed),
      TCASE(dead_namesrv_in_list_is_invisible),
      TCASE(cached_routes_survive_namesrv_down),
      TCASE(consumers_right_after_namesrv_restart)};
  return RUN_TESTS(cases);
}
