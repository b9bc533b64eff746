/* Master and slave (target ms-4 / ms-5: broker-a's master and its slave,
 * brokerId 1, from `harness start ms`; doc/reliability.md):
 *  - the master is killed (kill -9) with every message on the slave:
 *    consumers that were reading from the master go on from the slave,
 *    consumers started during the outage read everything from it, push and
 *    lite pull alike (every id compared); their commits reach the slave;
 *  - an orderly push consumer started during the outage consumes nothing
 *    (as Java's, it locks queues at the master only) and, once the master
 *    is back, reads every message, each queue in order;
 *  - when the master is back, the committed offsets reach it (its own
 *    QUERY_CONSUMER_OFFSET answers and mqadmin consumerProgress), and what
 *    is sent after its return is consumed too;
 *  - producers: while the master is down every send fails within its
 *    timeout with "no writable queue", every callback once; after the
 *    restart sends succeed again.
 * Times are measured and printed; the asserted bounds are loose (a loaded
 * two-core CI machine), the printed numbers go to doc/reliability.md.
 * RMQ_IT_LOG_LEVEL=warn shows the clients' failed pulls and commits. */
#include "client/client.h"
#include "consumer/offsets.h"
#include "it.h"
#include "rmq.h"
#include "test.h"
#include "util/time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static it_env_t env;

enum {
  N1 = 2000,         /* sent before the kill */
  N2 = 200,          /* sent after the master's return */
  NT = N1 + N2,      /* ids 0..NT-1 */
  NQ = 4,            /* queues of the topic, all on broker-a */
  THRESHOLD = 20,    /* pullThresholdForQueue: what a consumer holds ahead */
  BATCH = 10,        /* pullBatchSize */
  REFRESH_MS = 2000, /* pollNameServerInterval of every client here */
  PERSIST_MS = 2000, /* persistConsumerOffsetInterval */
};

static rmq_conf_t *conf_kv(const char *const *kv) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  /* RMQ_IT_LOG_LEVEL=warn shows the clients' failed pulls and commits */
  const char *lv = getenv("RMQ_IT_LOG_LEVEL");
  rmq_conf_set(c, "logLevel", lv ? lv : "error", NULL, 0);
  for (; kv && kv[0]; kv += 2) {
    char err[200];
    if (rmq_conf_set(c, kv[0], kv[1], err, sizeof(err)) != RMQ_OK) {
      fprintf(stderr, "%s=%s: %s\n", kv[0], kv[1], err);
      abort();
    }
  }
  return c;
}

static void sleep_ms(int64_t ms) {
  if (ms > 0)
    usleep((useconds_t)(ms * 1000));
}

static void make_topic(char *topic, size_t n, const char *prefix) {
  char args[300];
  it_unique(topic, n, prefix);
  snprintf(args, sizeof(args), "%s --queues %d", topic, NQ);
  if (it_harness(&env, "topic", args, NULL) != 0)
    abort();
}

static rmq_msg_t *indexed_msg(const char *topic, int i) {
  rmq_msg_t *m = rmq_msg_new(topic);
  char b[16];
  int len = snprintf(b, sizeof(b), "%d", i);
  rmq_msg_set_body(m, b, (size_t)len);
  return m;
}

static int body_id(const rmq_msg_t *m) {
  size_t len;
  const char *b = rmq_msg_body(m, &len);
  char tmp[16];
  if (len == 0 || len >= sizeof(tmp))
    return -1;
  memcpy(tmp, b, len);
  tmp[len] = '\0';
  char *end;
  long v = strtol(tmp, &end, 10);
  return *end == '\0' && v >= 0 && v < NT ? (int)v : -1;
}

/* ---- the broker's own view: offsets asked of one address ---------------- */

static rmq_client_t *admin; /* a bare client for the queries below */

/* The sum over the topic's queues of the max offsets (the number of
 * messages) at @p addr; -1 when one could not be read. */
static int64_t max_sum(const char *addr, const char *topic, int64_t *per_q) {
  int64_t sum = 0;
  for (int q = 0; q < NQ; q++) {
    int64_t off;
    char err[256];
    if (rmqi_queue_offset(admin, addr, RMQI_OFF_MAX, topic, "broker-a", q, 0,
                          &off, err, sizeof(err)) != RMQ_OK)
      return -1;
    if (per_q)
      per_q[q] = off;
    sum += off;
  }
  return sum;
}

/* Whether every queue's committed offset of @p group at @p addr equals
 * @p want (per queue); *sum gets the sum of the committed offsets (queues
 * without one count 0). */
static bool committed_at(const char *addr, const char *group, const char *topic,
                         const int64_t *want, int64_t *sum) {
  bool all = true;
  *sum = 0;
  for (int q = 0; q < NQ; q++) {
    int64_t off = 0;
    char err[256];
    rmq_err_t rc = rmqi_consumer_offset(admin, addr, group, topic, "broker-a",
                                        q, &off, err, sizeof(err));
    if (rc != RMQ_OK)
      off = 0;
    *sum += off;
    all = all && rc == RMQ_OK && off == want[q];
  }
  return all;
}

/* Waits (up to @p max_ms) until the name server's route of @p topic has
 * broker-a's master again (it registers when it starts); returns when,
 * 0 if it never did. */
static int64_t wait_master_listed(const char *topic, int64_t max_ms) {
  int64_t end = rmqi_now_ms() + max_ms;
  do {
    rmqi_client_route_forget(admin, topic); /* ask the name server */
    rmqi_snap_t *snap = NULL;
    char err[256];
    if (rmqi_client_route_sub(admin, topic, rmqi_now_ms() + 3000, &snap, err,
                              sizeof(err)) == RMQ_OK) {
      bool back = rmqi_route_addr(&snap->route, "broker-a", 0) != NULL;
      rmqi_snap_release(snap);
      if (back)
        return rmqi_now_ms();
    }
    sleep_ms(50);
  } while (rmqi_now_ms() < end);
  return 0;
}

/* ---- consumers that record every id they get ---------------------------- */

typedef struct sink {
  const char *kind; /* "push", "orderly" (push) or "lite" */
  char group[128];
  atomic_int count[NT]; /* deliveries per id */
  atomic_int unique, total, bad;
  atomic_int after_kill;   /* ids first seen while the master was dead */
  atomic_int slow_us;      /* "processing" time per message */
  _Atomic int64_t last_ms; /* when the last new id came */
  rmq_push_consumer_t *push;
  rmq_pull_consumer_t *lite;
  pthread_t th;
  atomic_bool stop;
  int last_id[NQ];     /* orderly: the last id per queue (its one thread) */
  atomic_int disorder; /* orderly: ids that came after a larger one */
  struct {             /* an id's first deliveries: where they came from */
    atomic_int qid, port;
    _Atomic int64_t offset, ms;
  } seen[NT][3];
  pthread_mutex_t log_mu; /* the client's INFO and worse lines, the last
                             LOG_LINES, printed when the case fails */
  char log[64][200];
  unsigned log_n;
} sink_t;

static int64_t t_case; /* the case's start: times printed are from it */

static atomic_bool master_dead;

static void record(sink_t *s, rmq_msg_t *const *m, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int id = body_id(m[i]);
    atomic_fetch_add(&s->total, 1);
    if (id < 0) {
      atomic_fetch_add(&s->bad, 1);
      continue;
    }
    int k = atomic_fetch_add(&s->count[id], 1);
    if (k < 3) {
      const char *host = rmq_msg_store_host(m[i]);
      const char *colon = host ? strrchr(host, ':') : NULL;
      atomic_store(&s->seen[id][k].qid, rmq_msg_queue_id(m[i]));
      atomic_store(&s->seen[id][k].port, colon ? atoi(colon + 1) : -1);
      atomic_store(&s->seen[id][k].offset, rmq_msg_queue_offset(m[i]));
      atomic_store(&s->seen[id][k].ms, rmqi_now_ms() - t_case);
    }
    if (k == 0) {
      atomic_fetch_add(&s->unique, 1);
      atomic_store(&s->last_ms, rmqi_now_ms());
      if (atomic_load(&master_dead))
        atomic_fetch_add(&s->after_kill, 1);
    }
  }
  int us = atomic_load(&s->slow_us);
  if (us > 0)
    usleep((useconds_t)(us * (int)n));
}

static rmq_consume_status_t on_msgs(rmq_push_consumer_t *c, rmq_msg_t *const *m,
                                    size_t n, rmq_consume_ctx_t *ctx,
                                    void *op) {
  (void)c;
  (void)ctx;
  record(op, m, n);
  return RMQ_CONSUME_SUCCESS;
}

/* Orderly: one queue at a time, its ids in the order they were sent (one
 * producer, one send at a time: each queue's ids grow). */
static rmq_consume_status_t on_ordered(rmq_push_consumer_t *c,
                                       rmq_msg_t *const *m, size_t n,
                                       rmq_consume_ctx_t *ctx, void *op) {
  sink_t *s = op;
  for (size_t i = 0; i < n; i++) {
    int q = rmq_msg_queue_id(m[i]), id = body_id(m[i]);
    if (q < 0 || q >= NQ || id < 0)
      continue;
    if (id <= s->last_id[q])
      atomic_fetch_add(&s->disorder, 1);
    s->last_id[q] = id;
  }
  return on_msgs(c, m, n, ctx, op);
}

/* The lite pull consumer's application: polls until stopped; each poll
 * also commits what the previous ones returned (autoCommit). */
static void *lite_main(void *arg) {
  sink_t *s = arg;
  while (!atomic_load(&s->stop)) {
    rmq_msg_t *m[32];
    int k = rmq_pull_consumer_poll(s->lite, m, 32, 200);
    if (k > 0) {
      record(s, m, (size_t)k);
      for (int i = 0; i < k; i++)
        rmq_msg_destroy(m[i]);
    }
  }
  return NULL;
}

static void on_log(void *op, rmq_log_level_t level, const char *comp,
                   const char *msg) {
  sink_t *s = op;
  (void)level;
  pthread_mutex_lock(&s->log_mu);
  snprintf(s->log[s->log_n++ % 64], sizeof(s->log[0]), "+%lld ms [%s] %s",
           (long long)(rmqi_now_ms() - t_case), comp, msg);
  pthread_mutex_unlock(&s->log_mu);
}

/* Where each of the first ids read more than once came from, and what the
 * client logged: lines CI's summary shows. */
static void print_dup_details(sink_t *s, const char *prefix) {
  for (int id = 0, shown = 0; id < NT && shown < 5; id++) {
    int c = atomic_load(&s->count[id]);
    if (c < 2)
      continue;
    shown++;
    for (int k = 0; k < c && k < 3; k++)
      fprintf(stderr, "%s id %d delivery %d: queue %d offset %lld from port "
              "%d at +%lld ms\n", prefix, id, k + 1,
              atomic_load(&s->seen[id][k].qid),
              (long long)atomic_load(&s->seen[id][k].offset),
              atomic_load(&s->seen[id][k].port),
              (long long)atomic_load(&s->seen[id][k].ms));
  }
  pthread_mutex_lock(&s->log_mu);
  for (unsigned i = s->log_n > 64 ? s->log_n - 64 : 0; i < s->log_n; i++)
    fprintf(stderr, "%s log: %s\n", prefix, s->log[i % 64]);
  pthread_mutex_unlock(&s->log_mu);
}

static sink_t *sink_start(const char *kind, const char *topic, int slow_us,
                          bool auto_commit) {
  sink_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    abort();
  s->kind = kind;
  pthread_mutex_init(&s->log_mu, NULL);
  bool push = strcmp(kind, "lite") != 0;
  bool orderly = strcmp(kind, "orderly") == 0;
  for (int q = 0; q < NQ; q++)
    s->last_id[q] = -1;
  it_unique(s->group, sizeof(s->group), push ? "it_ms_push" : "it_ms_lite");
  atomic_store(&s->slow_us, slow_us);
  char thr[16], batch[16], refresh[16], persist[16];
  snprintf(thr, sizeof(thr), "%d", THRESHOLD);
  snprintf(batch, sizeof(batch), "%d", BATCH);
  snprintf(refresh, sizeof(refresh), "%d", REFRESH_MS);
  snprintf(persist, sizeof(persist), "%d", PERSIST_MS);
  /* little pulled ahead, so that most messages are pulled after the kill */
  const char *common[] = {"consumerGroup",
                          s->group,
                          "consumeFromWhere",
                          "CONSUME_FROM_FIRST_OFFSET",
                          "pullThresholdForQueue",
                          thr,
                          "pullBatchSize",
                          batch,
                          "pollNameServerInterval",
                          refresh,
                          "persistConsumerOffsetInterval",
                          persist,
                          NULL};
  rmq_conf_t *c = conf_kv(common);
  rmq_conf_set(c, "logLevel", "info", NULL, 0);
  rmq_conf_set_log_cb(c, on_log, s);
  char err[256] = "";
  if (push) {
    rmq_conf_set(c, "consumeThreadMin", "2", NULL, 0);
    s->push = rmq_push_consumer_new(NULL, c, err, sizeof(err));
    if (s->push == NULL ||
        (orderly
             ? rmq_push_consumer_set_listener_orderly(s->push, on_ordered, s)
             : rmq_push_consumer_set_listener(s->push, on_msgs, s)) != RMQ_OK ||
        rmq_push_consumer_subscribe(s->push, topic, "*") != RMQ_OK ||
        rmq_push_consumer_start(s->push) != RMQ_OK) {
      fprintf(stderr, "push consumer: %s\n", err);
      abort();
    }
  } else {
    rmq_conf_set(c, "autoCommitIntervalMillis", "1000", NULL, 0);
    rmq_conf_set(c, "autoCommit", auto_commit ? "true" : "false", NULL, 0);
    s->lite = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
    if (s->lite == NULL ||
        rmq_pull_consumer_subscribe(s->lite, topic, "*") != RMQ_OK ||
        rmq_pull_consumer_start(s->lite) != RMQ_OK ||
        pthread_create(&s->th, NULL, lite_main, s) != 0) {
      fprintf(stderr, "lite pull consumer: %s\n", err);
      abort();
    }
  }
  rmq_conf_destroy(c);
  return s;
}

static rmq_client_t *sink_client(sink_t *s) {
  return s->push ? rmq_push_consumer_client(s->push)
                 : rmq_pull_consumer_client(s->lite);
}

static void sink_stop(sink_t *s) {
  if (s->push) {
    rmq_push_consumer_destroy(s->push, 5000);
  } else {
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    rmq_pull_consumer_destroy(s->lite, 5000);
  }
  pthread_mutex_destroy(&s->log_mu);
  free(s);
}

/* Waits until every sink has @p want ids (or @p max_ms pass). */
static bool wait_unique(sink_t **s, int n, int want, int64_t max_ms) {
  int64_t end = rmqi_now_ms() + max_ms;
  for (;;) {
    bool all = true;
    for (int i = 0; i < n; i++)
      all = all && atomic_load(&s[i]->unique) >= want;
    if (all)
      return true;
    if (rmqi_now_ms() >= end)
      return false;
    sleep_ms(50);
  }
}

/* Which ids came more than once (the first 20): read before the kill, or
 * sent after the return. */
static void print_dups(sink_t *s, int n, const char *prefix) {
  fprintf(stderr, "%s %s: ids delivered more than once:", prefix, s->kind);
  for (int i = 0, shown = 0; i < n && shown < 20; i++)
    if (atomic_load(&s->count[i]) > 1 && ++shown)
      fprintf(stderr, " %d (x%d)", i, atomic_load(&s->count[i]));
  fprintf(stderr, "\n");
}

/* The ids 0..@p n-1 each seen at least once, nothing foreign; prints and
 * returns the duplicates. */
static int check_ids(sink_t *s, int n, const char *when) {
  int missing = 0, dups = 0, first_missing = -1;
  for (int i = 0; i < n; i++) {
    int c = atomic_load(&s->count[i]);
    if (c == 0 && missing++ == 0)
      first_missing = i;
    dups += c > 1 ? c - 1 : 0;
  }
  fprintf(stderr,
          "%s %s: %d of %d ids, %d deliveries, %d duplicates, %d missing "
          "(first %d), %d foreign\n",
          when, s->kind, atomic_load(&s->unique), n, atomic_load(&s->total),
          dups, missing, first_missing, atomic_load(&s->bad));
  if (dups > 0)
    print_dups(s, n, when);
  CHECK_INT(missing, 0);
  CHECK_INT(atomic_load(&s->bad), 0);
  return dups;
}

/* As wait_committed, for the groups of @p n sinks at once: took[i] is when
 * the i-th group's offsets first were all at max, from @p t0 (-1: never
 * within @p max_ms). */
static void wait_all_committed(const char *addr, sink_t **s, int n,
                               const char *topic, int64_t t0, int64_t max_ms,
                               int64_t *took) {
  int left = n;
  for (int i = 0; i < n; i++)
    took[i] = -1;
  int64_t end = rmqi_now_ms() + max_ms;
  while (left > 0) {
    int64_t max[NQ], sum;
    if (max_sum(addr, topic, max) >= 0)
      for (int i = 0; i < n; i++)
        if (took[i] < 0 && committed_at(addr, s[i]->group, topic, max, &sum)) {
          took[i] = rmqi_now_ms() - t0;
          left--;
        }
    if (left == 0 || rmqi_now_ms() >= end)
      break;
    sleep_ms(100);
  }
  for (int i = 0; i < n; i++)
    if (took[i] < 0) {
      fprintf(stderr, "%s at %s, queue: committed/max:", s[i]->group, addr);
      for (int q = 0; q < NQ; q++) {
        int64_t off = -1, max = -1;
        char err[256] = "";
        rmq_err_t rc =
            rmqi_consumer_offset(admin, addr, s[i]->group, topic, "broker-a", q,
                                 &off, err, sizeof(err));
        rmqi_queue_offset(admin, addr, RMQI_OFF_MAX, topic, "broker-a", q, 0,
                          &max, err, sizeof(err));
        fprintf(stderr, " %d: %lld/%lld (%s)", q, (long long)off,
                (long long)max, rmq_err_name(rc));
      }
      fprintf(stderr, "\n");
    }
}

/* The route @p c holds for @p topic has broker-a at the slave only
 * (brokerId 1): whatever it pulled and committed went there. */
static bool route_slave_only(rmq_client_t *c, const char *topic) {
  rmqi_snap_t *snap = rmqi_client_route_cached(c, topic);
  if (snap == NULL)
    return false;
  const rmqi_bdata_t *b = rmqi_route_broker(&snap->route, "broker-a");
  bool ok = b && b->n_addrs == 1 && b->addrs[0].id == 1 &&
            strcmp(b->addrs[0].addr, env.broker_a_slave) == 0;
  if (!ok)
    fprintf(stderr, "route of broker-a: %zu addresses, first id %lld\n",
            b ? b->n_addrs : 0,
            b && b->n_addrs ? (long long)b->addrs[0].id : -1LL);
  rmqi_snap_release(snap);
  return ok;
}

/* Sends ids first..first+n-1 synchronously; returns how many were
 * acknowledged. */
static int send_ids(rmq_producer_t *p, const char *topic, int first, int n) {
  int ok = 0;
  for (int i = first; i < first + n; i++) {
    rmq_msg_t *m = indexed_msg(topic, i);
    rmq_send_result_t res;
    rmq_err_t rc = rmq_producer_send(p, m, &res);
    if (rc == RMQ_OK && res.status == RMQ_SEND_OK)
      ok++;
    else
      fprintf(stderr, "send %d: %s, status %d: %s\n", i, rmq_err_name(rc),
              (int)res.status, res.error ? res.error : "?");
    rmq_send_result_clear(&res);
    rmq_msg_destroy(m);
  }
  return ok;
}

/* A SYNC_MASTER stores sends but answers SLAVE_NOT_AVAILABLE (4.x) or
 * FLUSH_SLAVE_TIMEOUT (5.x) until its slave has connected and caught up:
 * after the target's start, or after either one's restart. Sends ids
 * @p first.. of @p topic, one every 200 ms, until one is SEND_OK, for at
 * most @p max sends and 30 s. Returns how many were not, or -1. */
static int until_send_ok(rmq_producer_t *p, const char *topic, int first,
                         int max) {
  int64_t t = rmqi_now_ms();
  for (int n = 0; n < max && rmqi_now_ms() - t < 30000; n++) {
    rmq_msg_t *m = indexed_msg(topic, first + n);
    rmq_send_result_t res;
    bool good = rmq_producer_send(p, m, &res) == RMQ_OK &&
                res.status == RMQ_SEND_OK;
    rmq_send_result_clear(&res);
    rmq_msg_destroy(m);
    if (good)
      return n;
    sleep_ms(200);
  }
  return -1;
}

static rmq_producer_t *producer(void) {
  char refresh[16];
  snprintf(refresh, sizeof(refresh), "%d", REFRESH_MS);
  const char *kv[] = {"pollNameServerInterval", refresh, NULL};
  rmq_conf_t *c = conf_kv(kv);
  rmq_producer_t *p = rmq_producer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  return p;
}

/* The harness's consumerProgress rows of @p topic for @p group: every
 * queue's consumer offset equals its broker offset (mqadmin asks the
 * master). Returns the number of such rows; the tool is asked up to three
 * times (a loaded machine may miss its 3 s timeout). */
static int progress_rows_done(const char *group, const char *topic) {
  char args[400];
  snprintf(args, sizeof(args), "%s %s", group, topic);
  int done = 0;
  for (int attempt = 0; attempt < 3 && done != NQ; attempt++) {
    char *out = NULL;
    int rc = it_harness(&env, "offsets", args, &out);
    done = 0;
    char *copy = out ? strdup(out) : NULL;
    for (char *line = copy ? strtok(copy, "\n") : NULL; line;
         line = strtok(NULL, "\n")) {
      char t[200], b[64];
      long long q, boff, coff;
      if (sscanf(line, "%199s %63s %lld %lld %lld", t, b, &q, &boff, &coff) ==
              5 &&
          strcmp(t, topic) == 0 && boff == coff)
        done++;
    }
    if (done != NQ)
      fprintf(stderr, "harness offsets %s (exit %d, %d rows done):\n%s\n",
              group, rc, done, out ? out : "");
    free(copy);
    free(out);
  }
  return done;
}

/* ---- consumers: from the master, from the slave, back to the master ----- */

TEST(consumers_read_from_the_slave_and_commit_to_the_returning_master) {
  REQUIRE(env.broker_a_slave[0] != '\0');
  t_case = rmqi_now_ms();
  char topic[128];
  make_topic(topic, sizeof(topic), "it_ms");
  rmq_producer_t *p = producer();
  REQUIRE(p != NULL);
  if (strcmp(env.master_role, "SYNC_MASTER") == 0) {
    /* a target just started: its slave may not be in step yet (the probes
     * go to a topic of their own: the consumers here count every id) */
    char probe[128];
    make_topic(probe, sizeof(probe), "it_ms_probe");
    int64_t t = rmqi_now_ms();
    int not_ok = until_send_ok(p, probe, 0, 150);
    fprintf(stderr, "SYNC_MASTER: SEND_OK after %lld ms, %d sends before\n",
            (long long)(rmqi_now_ms() - t), not_ok);
    REQUIRE(not_ok >= 0);
  }
  REQUIRE(send_ids(p, topic, 0, N1) == N1);

  /* the slave has every message before the master dies (ASYNC_MASTER:
   * the slave copies the commit log a moment later) */
  int64_t t0 = rmqi_now_ms();
  while (max_sum(env.broker_a_slave, topic, NULL) != N1 &&
         rmqi_now_ms() - t0 < 30000)
    sleep_ms(50);
  REQUIRE(max_sum(env.broker_a_slave, topic, NULL) == N1);
  REQUIRE(max_sum(env.broker_a, topic, NULL) == N1);
  fprintf(stderr, "%d messages on the slave %lld ms after the last send\n", N1,
          (long long)(rmqi_now_ms() - t0));

  /* a consumer that has read everything and committed it, synchronously,
   * to the master just before the kill: a master killed with kill -9
   * loses the offsets it took since its last flush (every 5 s) */
  sink_t *s[5];
  s[4] = sink_start("lite", topic, 0, false);
  REQUIRE(wait_unique(s + 4, 1, N1, 60000));
  /* two consumers reading from the master at about 1,000 messages/s
   * (push: two threads at 2 ms a message; lite: 1 ms a message) */
  s[0] = sink_start("push", topic, 2000, true);
  s[1] = sink_start("lite", topic, 1000, true);
  REQUIRE(wait_unique(s, 2, N1 / 4, 60000));
  CHECK_ERR(rmq_pull_consumer_commit(s[4]->lite), RMQ_OK);
  int at_kill[2];
  for (int i = 0; i < 2; i++)
    at_kill[i] = atomic_load(&s[i]->unique);
  atomic_store(&master_dead, true);
  int64_t t_kill = rmqi_now_ms();
  REQUIRE(it_harness(&env, "kill-broker", "a", NULL) == 0);
  for (int i = 0; i < 2; i++)
    atomic_store(&s[i]->slow_us, 0);
  fprintf(stderr, "master killed with push at %d, lite at %d of %d\n",
          at_kill[0], at_kill[1], N1);
  /* and two consumers that start with the master gone */
  s[2] = sink_start("push", topic, 0, true);
  s[3] = sink_start("lite", topic, 0, true);
  int64_t t_new = rmqi_now_ms();
  /* and an orderly one, which, like Java's, locks its queues at the master
   * only: it cannot lock them now, so it consumes nothing until the master
   * is back (a lock taken at the slave would not keep out a consumer that
   * locks at the master later) */
  sink_t *ord = sink_start("orderly", topic, 0, true);

  CHECK(wait_unique(s, 4, N1, 60000));
  for (int i = 0; i < 4; i++) {
    int64_t from = i < 2 ? t_kill : t_new;
    if (atomic_load(&s[i]->unique) == N1)
      fprintf(stderr, "%s (%s): all %d %lld ms after the %s\n", s[i]->kind,
              i < 2 ? "reading when the master died" : "started after the kill",
              N1, (long long)(atomic_load(&s[i]->last_ms) - from),
              i < 2 ? "kill" : "start");
    check_ids(s[i], N1, "outage");
    /* the master was dead: whatever came beyond what a consumer may hold
     * pulled ahead (THRESHOLD + BATCH per queue) was pulled from the slave */
    int ahead = i < 2 ? at_kill[i] + NQ * (THRESHOLD + BATCH) : 0;
    CHECK(atomic_load(&s[i]->after_kill) >= N1 - ahead);
    CHECK(route_slave_only(sink_client(s[i]), topic));
  }
  fprintf(stderr,
          "orderly consumer started after the kill: %d consumed in %lld ms "
          "of the outage\n",
          atomic_load(&ord->unique), (long long)(rmqi_now_ms() - t_new));
  CHECK_INT(atomic_load(&ord->unique), 0);
  /* commits made during the outage go to the slave (Java does the same:
   * the master first, else any node of the broker) */
  int64_t took[5], t_all = rmqi_now_ms();
  wait_all_committed(env.broker_a_slave, s, 5, topic, t_all, 15000, took);
  for (int i = 0; i < 5; i++) {
    fprintf(stderr,
            "%s %d: the slave's committed offsets at max %lld ms after all "
            "were consumed\n",
            s[i]->kind, i, (long long)took[i]);
    CHECK(took[i] >= 0);
  }

  /* the master returns: the consumers' commits reach it */
  int64_t t_restart = rmqi_now_ms();
  REQUIRE(it_harness(&env, "start-broker", "a", NULL) == 0);
  int64_t t_up = rmqi_now_ms();
  atomic_store(&master_dead, false);
  /* the master's registration: broker and name server, not the client */
  int64_t t_listed = wait_master_listed(topic, 30000);
  REQUIRE(t_listed != 0);
  fprintf(stderr, "the name server lists the master %lld ms after its start\n",
          (long long)(t_listed - t_up));
  int64_t max[NQ], sum = 0;
  bool back = max_sum(env.broker_a, topic, max) == N1;
  committed_at(env.broker_a, s[4]->group, topic, max, &sum);
  fprintf(stderr,
          "master restarted in %lld ms, with %d messages, and %lld of %d "
          "offsets committed just before the kill (%s)\n",
          (long long)(t_up - t_restart), back ? N1 : -1, (long long)sum, N1,
          sum < N1 ? "lost: must be committed again" : "kept");
  CHECK(back);
  wait_all_committed(env.broker_a, s, 5, topic, t_listed, 30000, took);
  for (int i = 0; i < 5; i++) {
    fprintf(stderr,
            "%s %d: the master's committed offsets at max %lld ms after "
            "the name server listed it\n",
            s[i]->kind, i, (long long)took[i]);
    CHECK(took[i] >= 0);
    /* a route refresh brings the master back (and a heartbeat that tells
     * it the group), the next persist commits */
    CHECK(took[i] < 2 * (REFRESH_MS + PERSIST_MS) + 5000);
  }

  /* what is sent after the return is consumed too */
  /* (a master just back may still time a send out: the application sends
   * again; a timed-out send may have been stored, and be read twice) */
  int64_t t_send = rmqi_now_ms();
  int resent = 0, acked = 0;
  for (int id = N1; id < NT; id++)
    for (int attempt = 0; attempt < 5; attempt++) {
      if (send_ids(p, topic, id, 1) == 1) {
        acked++;
        break;
      }
      resent++;
    }
  if (resent)
    fprintf(stderr, "%d sends after the return failed and were sent again\n",
            resent);
  CHECK_INT(acked, N2);
  CHECK(wait_unique(s, 5, NT, 30000));
  fprintf(stderr, "%d sent after the return, all consumed in %lld ms\n", N2,
          (long long)(rmqi_now_ms() - t_send));
  /* the orderly consumer locks at the returned master and reads it all,
   * each queue in order */
  CHECK(wait_unique(&ord, 1, NT, 30000));
  fprintf(stderr,
          "orderly: all %d %lld ms after the name server listed the master, "
          "%d out of order\n",
          NT, (long long)(atomic_load(&ord->last_ms) - t_listed),
          atomic_load(&ord->disorder));
  CHECK_INT(atomic_load(&ord->disorder), 0);
  CHECK_ERR(rmq_pull_consumer_commit(s[4]->lite), RMQ_OK);
  wait_all_committed(env.broker_a, s, 5, topic, rmqi_now_ms(), 15000, took);
  for (int i = 0; i < 5; i++)
    CHECK(took[i] >= 0);
  /* no consumer lost its place: each read every message the broker
   * stored once, no more. A send that failed (a timeout, or a SYNC_MASTER
   * whose slave was not back: FLUSH_SLAVE_TIMEOUT) may have been stored,
   * and was sent again: then the broker has that id twice, and every
   * group reads it twice. What the broker holds is read by a new group
   * from the first offset, until it has as many messages as the queues'
   * max offsets say. */
  int64_t stored = max_sum(env.broker_a, topic, NULL);
  sink_t *all = sink_start("lite", topic, 0, true);
  int64_t t_read = rmqi_now_ms();
  while (atomic_load(&all->total) < stored && rmqi_now_ms() - t_read < 30000)
    sleep_ms(50);
  int stored_twice = check_ids(all, NT, "stored");
  fprintf(stderr,
          "the broker stored %lld messages for %d ids (%d sends after the "
          "return sent again)\n",
          (long long)stored, NT, resent);
  CHECK_INT(atomic_load(&all->total), stored);
  CHECK(stored_twice <= resent);
  sink_t *who[6] = {s[0], s[1], s[2], s[3], s[4], ord};
  for (int i = 0; i < 6; i++) /* the orderly one may still be at it */
    while (atomic_load(&who[i]->total) < stored &&
           rmqi_now_ms() - t_read < 30000)
      sleep_ms(50);
  for (int i = 0; i < 6; i++) {
    int more = 0, fewer = 0;
    check_ids(who[i], NT, "end");
    for (int id = 0; id < NT; id++) {
      int got = atomic_load(&who[i]->count[id]);
      int want = atomic_load(&all->count[id]);
      more += got > want ? got - want : 0;
      fewer += got < want;
    }
    CHECK_INT(more, 0);
    CHECK_INT(fewer, 0);
    if (more || fewer) { /* CI's summary shows the lines that say FAIL */
      fprintf(stderr, "FAIL detail: %s %d: %d deliveries beyond the stored "
              "copies, %d ids with fewer\n", who[i]->kind, i, more, fewer);
      print_dups(who[i], NT, "FAIL detail:");
      print_dup_details(who[i], "FAIL detail:");
      fprintf(stderr, "FAIL detail: master killed at +%lld ms, started at "
              "+%lld, listed at +%lld; sends after its return from +%lld "
              "(%d sent again)\n", (long long)(t_kill - t_case),
              (long long)(t_restart - t_case), (long long)(t_listed - t_case),
              (long long)(t_send - t_case), resent);
    }
  }
  sink_stop(all);
  /* mqadmin consumerProgress, the broker's own tool, agrees */
  for (int i = 0; i < 5; i++)
    CHECK_INT(progress_rows_done(s[i]->group, topic), NQ);
  for (int i = 0; i < 5; i++)
    sink_stop(s[i]);
  sink_stop(ord);
  rmq_producer_destroy(p, 5000);
}

/* ---- producers: no writable queue while the master is down -------------- */

typedef struct acall {
  atomic_int calls, ok, no_route;
  _Atomic int64_t sent_ms, done_ms;
} acall_t;

static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p;
  (void)m;
  acall_t *a = op;
  atomic_store(&a->done_ms, rmqi_now_ms());
  if (err == RMQ_OK)
    atomic_fetch_add(&a->ok, 1);
  else if (err == RMQ_ERR_NO_ROUTE)
    atomic_fetch_add(&a->no_route, 1);
  else if (atomic_load(&a->calls) - atomic_load(&a->ok) < 3)
    fprintf(stderr, "async send: %s (%s)\n", rmq_err_name(err),
            res && res->error ? res->error : "");
  atomic_fetch_add(&a->calls, 1);
}

enum {
  SEND_TIMEOUT_MS = 3000,
  /* sends go on this long after the kill: past two route refreshes */
  OUTAGE_MS = 2 * REFRESH_MS + 3000,
  OUTAGE_SENDS = OUTAGE_MS / 100 + 10,
};

/* One synchronous send; *took its time. Prints, per @p who (0-3), the
 * first errors and each change of error. */
static rmq_err_t timed_send(rmq_producer_t *p, const char *topic, int id,
                            int64_t *took, int who) {
  static const char *const names[] = {"warm producer", "fresh producer",
                                      "warm, after the restart",
                                      "fresh, after the restart"};
  static int printed[4];
  static rmq_err_t last[4];
  rmq_msg_t *m = indexed_msg(topic, id);
  rmq_send_result_t res;
  int64_t t = rmqi_now_ms();
  rmq_err_t rc = rmq_producer_send(p, m, &res);
  *took = rmqi_now_ms() - t;
  if (rc != RMQ_OK && (printed[who]++ < 3 || rc != last[who]))
    fprintf(stderr, "%s: %s (%s) after %lld ms\n", names[who], rmq_err_name(rc),
            res.error ? res.error : "", (long long)*took);
  if (rc != RMQ_OK)
    last[who] = rc;
  rmq_send_result_clear(&res);
  rmq_msg_destroy(m);
  return rc;
}

TEST(sends_fail_fast_while_the_master_is_down_and_resume) {
  char topic[128];
  make_topic(topic, sizeof(topic), "it_ms_send");
  rmq_producer_t *warm = producer(); /* knows the master before the kill */
  REQUIRE(warm != NULL);
  CHECK_INT(send_ids(warm, topic, 0, 10), 10);
  int64_t t_kill = rmqi_now_ms();
  REQUIRE(it_harness(&env, "kill-broker", "a", NULL) == 0);
  rmq_producer_t *fresh = producer(); /* first asks with the master gone */
  REQUIRE(fresh != NULL);

  /* a sync send from each and an async one every 100 ms: none may succeed,
   * none may take longer than its timeout, every callback once */
  static acall_t a[OUTAGE_SENDS];
  memset(a, 0, sizeof(a));
  int ok = 0, slow = 0, refused = 0, late_not_route = 0, n_async = 0;
  int64_t max_took = 0;
  for (int i = 0; i < OUTAGE_SENDS && rmqi_now_ms() - t_kill < OUTAGE_MS; i++) {
    n_async++;
    int64_t took;
    for (int k = 0; k < 2; k++) {
      rmq_err_t rc = timed_send(k ? fresh : warm, topic, 10 + i, &took, k);
      ok += rc == RMQ_OK;
      slow += took > SEND_TIMEOUT_MS + 500;
      max_took = took > max_took ? took : max_took;
      /* once its route was refreshed (REFRESH_MS) the warm producer knows
       * there is no master: the error says so */
      if (rc != RMQ_ERR_NO_ROUTE &&
          (k || rmqi_now_ms() - t_kill > REFRESH_MS * 2 + 1000))
        late_not_route++;
    }
    rmq_msg_t *m = indexed_msg(topic, 10 + i);
    atomic_store(&a[i].sent_ms, rmqi_now_ms());
    if (rmq_producer_send_async(warm, m, on_sent, &a[i]) != RMQ_OK) {
      rmq_msg_destroy(m);
      refused++; /* refused at the call: no callback */
      atomic_store(&a[i].calls, 1);
    }
    sleep_ms(100);
  }
  CHECK_ERR(rmq_producer_flush(warm, 10000), RMQ_OK);
  int not_once = 0, async_ok = 0, async_slow = 0;
  for (int i = 0; i < n_async; i++) {
    not_once += atomic_load(&a[i].calls) != 1;
    async_ok += atomic_load(&a[i].ok);
    int64_t d = atomic_load(&a[i].done_ms);
    async_slow += d && d - atomic_load(&a[i].sent_ms) > SEND_TIMEOUT_MS + 500;
  }
  fprintf(stderr,
          "master down: %d sync sends, %d succeeded, longest %lld ms, %d not "
          "\"no route\" after the refresh; %d async, %d refused at the call, "
          "%d succeeded\n",
          2 * n_async, ok, (long long)max_took, late_not_route, n_async,
          refused, async_ok);
  CHECK_INT(ok, 0);
  CHECK_INT(slow, 0);
  CHECK_INT(late_not_route, 0);
  CHECK_INT(not_once, 0);
  CHECK_INT(async_ok, 0);
  CHECK_INT(async_slow, 0);

  /* the master returns: both producers send again */
  REQUIRE(it_harness(&env, "start-broker", "a", NULL) == 0);
  int64_t t_up = rmqi_now_ms();
  int64_t first_ok[2] = {0, 0};
  int64_t t_listed = 0;
  for (int id = 100;
       (!first_ok[0] || !first_ok[1]) && rmqi_now_ms() - t_up < 30000; id++) {
    for (int k = 0; k < 2; k++) {
      int64_t took;
      if (!first_ok[k] &&
          timed_send(k ? fresh : warm, topic, id, &took, 2 + k) == RMQ_OK)
        first_ok[k] = rmqi_now_ms();
    }
    if (t_listed == 0) /* when the name server lists the master */
      t_listed = wait_master_listed(topic, 0);
    sleep_ms(50);
  }
  if (t_listed == 0)
    t_listed = wait_master_listed(topic, 30000);
  REQUIRE(t_listed != 0);
  fprintf(stderr, "the name server lists the master %lld ms after its start\n",
          (long long)(t_listed - t_up));
  for (int k = 0; k < 2; k++) {
    fprintf(stderr,
            "%s producer: first send ok %lld ms after the restart, %lld ms "
            "after the name server listed the master\n",
            k ? "fresh" : "warm",
            (long long)(first_ok[k] ? first_ok[k] - t_up : -1),
            (long long)(first_ok[k] ? first_ok[k] - t_listed : -1));
    CHECK(first_ok[k] != 0);
    /* the warm producer's route refresh, the fresh one asks each time */
    CHECK(first_ok[k] - t_listed < 2 * REFRESH_MS + 2000);
  }
  if (strcmp(env.master_role, "SYNC_MASTER") == 0) {
    /* a SYNC_MASTER stores sends but answers SLAVE_NOT_AVAILABLE (4.x) or
     * FLUSH_SLAVE_TIMEOUT (5.x) until its slave has connected again */
    int64_t t = rmqi_now_ms();
    int not_ok = until_send_ok(warm, topic, 150, 50);
    fprintf(stderr,
            "SYNC_MASTER: SEND_OK again %lld ms later, %d sends before\n",
            (long long)(rmqi_now_ms() - t), not_ok);
    CHECK(not_ok >= 0);
  }
  CHECK_INT(send_ids(warm, topic, 200, 100), 100);
  CHECK_INT(send_ids(fresh, topic, 300, 100), 100);
  static acall_t after;
  memset(&after, 0, sizeof(after));
  for (int i = 0; i < 100; i++) {
    rmq_msg_t *m = indexed_msg(topic, 400 + i);
    rmq_err_t rc = rmq_producer_send_async(warm, m, on_sent, &after);
    if (rc != RMQ_OK) {
      fprintf(stderr, "async send %d refused: %s\n", i, rmq_err_name(rc));
      rmq_msg_destroy(m);
    }
  }
  CHECK_ERR(rmq_producer_flush(warm, 10000), RMQ_OK);
  CHECK_INT(atomic_load(&after.ok), 100);
  rmq_producer_destroy(warm, 5000);
  rmq_producer_destroy(fresh, 5000);
}

/* ---- the slave killed while the master serves ----------------------------
 * ASYNC_MASTER: nothing the client sees changes. SYNC_MASTER: the master
 * still stores each message but answers SLAVE_NOT_AVAILABLE (4.x) or, after
 * its slaveTimeout, FLUSH_SLAVE_TIMEOUT (5.x); the send succeeds with that
 * status and is not retried elsewhere (retryAnotherBrokerWhenNotStoreOK is
 * off, as in Java). Either way every message is consumed once, and when
 * the slave is back it catches up and sends are SEND_OK again. The sends
 * are asynchronous: a 5.x SYNC_MASTER holds each one for its slaveTimeout. */
typedef struct stcount {
  atomic_int st[4], failed, calls;
  /* refused by the broker's flow control (SYSTEM_BUSY: a send waited too
   * long in its queue on a loaded machine; not stored): sent again, as an
   * application would */
  atomic_int busy, n_again;
  int again[256];
} stcount_t;

static void on_status(rmq_producer_t *p, rmq_err_t err,
                      const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p;
  stcount_t *c = op;
  int id = body_id(m);
  if (err == RMQ_SYSTEM_BUSY && id >= 0) {
    atomic_fetch_add(&c->busy, 1);
    int k = atomic_fetch_add(&c->n_again, 1);
    if (k < 256)
      c->again[k] = id;
    fprintf(stderr, "send %d: %s, sent again\n", id,
            res && res->error ? res->error : "");
  } else if (err != RMQ_OK) {
    if (atomic_fetch_add(&c->failed, 1) < 3)
      fprintf(stderr, "send: %s (%s)\n", rmq_err_name(err),
              res && res->error ? res->error : "");
  } else if ((int)res->status >= 0 && (int)res->status < 4) {
    atomic_fetch_add(&c->st[res->status], 1);
  }
  atomic_fetch_add(&c->calls, 1);
}

TEST(slave_killed_while_the_master_serves) {
  REQUIRE(env.broker_a_slave[0] != '\0');
  bool sync_master = strcmp(env.master_role, "SYNC_MASTER") == 0;
  fprintf(stderr, "master role: %s\n",
          env.master_role[0] ? env.master_role : "ASYNC_MASTER");
  enum { K = 100 };
  char topic[128];
  make_topic(topic, sizeof(topic), "it_ms_slave");
  rmq_producer_t *p = producer();
  REQUIRE(p != NULL);
  sink_t *s = sink_start("push", topic, 0, true);
  REQUIRE(send_ids(p, topic, 0, K) == K);
  REQUIRE(it_harness(&env, "kill-broker", "a-slave", NULL) == 0);

  /* rounds: 0 with the slave dead, 1 after its return */
  for (int round = 0; round < 2; round++) {
    static stcount_t c;
    memset(&c, 0, sizeof(c));
    int64_t t = rmqi_now_ms();
    int ids[K], n = K;
    for (int i = 0; i < K; i++)
      ids[i] = (round + 1) * K + i;
    for (int pass = 0; pass < 5 && n > 0; pass++) {
      atomic_store(&c.n_again, 0);
      for (int i = 0; i < n; i++) {
        rmq_msg_t *m = indexed_msg(topic, ids[i]);
        if (rmq_producer_send_async(p, m, on_status, &c) != RMQ_OK) {
          rmq_msg_destroy(m);
          atomic_fetch_add(&c.failed, 1);
          atomic_fetch_add(&c.calls, 1);
        }
      }
      CHECK_ERR(rmq_producer_flush(p, 15000), RMQ_OK);
      n = RMQI_MIN(atomic_load(&c.n_again), K);
      memcpy(ids, c.again, (size_t)n * sizeof(int));
    }
    fprintf(stderr,
            "%s: %d SEND_OK, %d FLUSH_SLAVE_TIMEOUT, %d SLAVE_NOT_AVAILABLE, "
            "%d failed, %d SYSTEM_BUSY sent again, in %lld ms\n",
            round ? "slave back" : "slave dead",
            atomic_load(&c.st[RMQ_SEND_OK]),
            atomic_load(&c.st[RMQ_SEND_FLUSH_SLAVE_TIMEOUT]),
            atomic_load(&c.st[RMQ_SEND_SLAVE_NOT_AVAILABLE]),
            atomic_load(&c.failed), atomic_load(&c.busy),
            (long long)(rmqi_now_ms() - t));
    CHECK_INT(atomic_load(&c.calls), K + atomic_load(&c.busy));
    CHECK_INT(atomic_load(&c.failed), 0);
    CHECK_INT(n, 0); /* none still refused after five passes */
    if (round == 0 && sync_master)
      CHECK_INT(
          atomic_load(&c.st[env.major == 4 ? RMQ_SEND_SLAVE_NOT_AVAILABLE
                                           : RMQ_SEND_FLUSH_SLAVE_TIMEOUT]),
          K);
    else
      CHECK_INT(atomic_load(&c.st[RMQ_SEND_OK]), K);
    /* every message is stored at the master, and consumed from there */
    CHECK(wait_unique(&s, 1, (round + 2) * K, 30000));
    if (round == 0) {
      REQUIRE(it_harness(&env, "start-broker", "a-slave", NULL) == 0);
      /* the slave catches up with what it missed */
      int64_t up = rmqi_now_ms();
      while (max_sum(env.broker_a_slave, topic, NULL) != 2 * K &&
             rmqi_now_ms() - up < 60000)
        sleep_ms(100);
      CHECK(max_sum(env.broker_a_slave, topic, NULL) == 2 * K);
      fprintf(stderr, "the slave has all %d %lld ms after its start\n", 2 * K,
              (long long)(rmqi_now_ms() - up));
    }
  }
  CHECK_INT(check_ids(s, 3 * K, "slave"), 0);
  sink_stop(s);
  rmq_producer_destroy(p, 5000);
}

/* ---- 5.x: the slave acting for its dead master ---------------------------
 * Target ms-5a (harness RMQ_ACTING_MASTER=1: supportActingMaster on the
 * name server, enableSlaveActingMaster on both brokers). With the master
 * killed the name server lists the slave as broker-a's id 0, and the slave
 * takes locks and offsets. An orderly consumer that was reading goes on
 * (it locks its queues at the acting master), and one started during the
 * outage reads everything, each queue in order; their commits land on the
 * acting master. Without it, an orderly consumer started during the
 * outage consumes nothing (the first case). After the master's return,
 * what is sent is consumed too, and each consumer read every stored
 * message once. */

/* Waits (up to @p max_ms) until the name server gives @p addr as
 * broker-a's id 0 for @p topic; returns when, 0 if it never did. */
static int64_t wait_id0(const char *topic, const char *addr, int64_t max_ms) {
  int64_t end = rmqi_now_ms() + max_ms;
  do {
    rmqi_client_route_forget(admin, topic); /* ask the name server */
    rmqi_snap_t *snap = NULL;
    char err[256];
    if (rmqi_client_route_sub(admin, topic, rmqi_now_ms() + 3000, &snap, err,
                              sizeof(err)) == RMQ_OK) {
      const char *a = rmqi_route_addr(&snap->route, "broker-a", 0);
      bool is = a && strcmp(a, addr) == 0;
      rmqi_snap_release(snap);
      if (is)
        return rmqi_now_ms();
    }
    sleep_ms(50);
  } while (rmqi_now_ms() < end);
  return 0;
}

TEST(acting_master_keeps_orderly_consumers_going) {
  REQUIRE(env.acting_master && env.broker_a_slave[0] != '\0');
  t_case = rmqi_now_ms();
  char topic[128];
  make_topic(topic, sizeof(topic), "it_msa");
  rmq_producer_t *p = producer();
  REQUIRE(p != NULL);
  REQUIRE(send_ids(p, topic, 0, N1) == N1);
  int64_t t0 = rmqi_now_ms();
  while (max_sum(env.broker_a_slave, topic, NULL) != N1 &&
         rmqi_now_ms() - t0 < 30000)
    sleep_ms(50);
  REQUIRE(max_sum(env.broker_a_slave, topic, NULL) == N1);
  /* reading from the master, about 400 messages/s (one thread a queue,
   * two threads, 5 ms a message) */
  sink_t *o[2];
  o[0] = sink_start("orderly", topic, 5000, true);
  REQUIRE(wait_unique(o, 1, N1 / 4, 60000));
  int at_kill = atomic_load(&o[0]->unique);
  atomic_store(&master_dead, true);
  int64_t t_kill = rmqi_now_ms();
  REQUIRE(it_harness(&env, "kill-broker", "a", NULL) == 0);
  atomic_store(&o[0]->slow_us, 0);
  o[1] = sink_start("orderly", topic, 0, true);
  int64_t t_new = rmqi_now_ms();
  int64_t t_acting = wait_id0(topic, env.broker_a_slave, 30000);
  fprintf(stderr,
          "master killed with the orderly consumer at %d of %d; the name "
          "server lists the slave as id 0 %lld ms after the kill\n",
          at_kill, N1, t_acting ? (long long)(t_acting - t_kill) : -1LL);
  REQUIRE(t_acting != 0);
  CHECK(wait_unique(o, 2, N1, 60000));
  for (int i = 0; i < 2; i++) {
    int64_t from = i == 0 ? t_kill : t_new;
    fprintf(stderr,
            "orderly %s: %d of %d, the last %lld ms after the %s, %d out of "
            "order\n",
            i == 0 ? "reading when the master died" : "started after the kill",
            atomic_load(&o[i]->unique), N1,
            (long long)(atomic_load(&o[i]->last_ms) - from),
            i == 0 ? "kill" : "start", atomic_load(&o[i]->disorder));
    check_ids(o[i], N1, "outage");
    CHECK_INT(atomic_load(&o[i]->disorder), 0);
  }
  /* beyond what it held pulled ahead, the first read during the outage */
  CHECK(atomic_load(&o[0]->after_kill) >= N1 - at_kill - NQ * (THRESHOLD + BATCH));
  int64_t took[2];
  wait_all_committed(env.broker_a_slave, o, 2, topic, rmqi_now_ms(), 15000,
                     took);
  for (int i = 0; i < 2; i++) {
    fprintf(stderr,
            "orderly %d: the acting master's committed offsets at max %lld ms "
            "after all were consumed\n",
            i, (long long)took[i]);
    CHECK(took[i] >= 0);
  }

  /* the master returns */
  REQUIRE(it_harness(&env, "start-broker", "a", NULL) == 0);
  atomic_store(&master_dead, false);
  int64_t t_listed = wait_id0(topic, env.broker_a, 60000);
  REQUIRE(t_listed != 0);
  int resent = 0, acked = 0;
  for (int id = N1; id < NT; id++)
    for (int attempt = 0; attempt < 5; attempt++) {
      if (send_ids(p, topic, id, 1) == 1) {
        acked++;
        break;
      }
      resent++;
    }
  CHECK_INT(acked, N2);
  CHECK(wait_unique(o, 2, NT, 30000));
  wait_all_committed(env.broker_a, o, 2, topic, rmqi_now_ms(), 30000, took);
  for (int i = 0; i < 2; i++)
    CHECK(took[i] >= 0); /* the master has them too */
  /* each read what the broker stored, once: a new group from the first
   * offset tells how many copies of each id the broker holds */
  int64_t stored = max_sum(env.broker_a, topic, NULL);
  sink_t *all = sink_start("lite", topic, 0, true);
  int64_t t_read = rmqi_now_ms();
  while (atomic_load(&all->total) < stored && rmqi_now_ms() - t_read < 30000)
    sleep_ms(50);
  CHECK_INT(atomic_load(&all->total), stored);
  for (int i = 0; i < 2; i++) {
    while (atomic_load(&o[i]->total) < stored &&
           rmqi_now_ms() - t_read < 30000)
      sleep_ms(50);
    int more = 0, fewer = 0;
    check_ids(o[i], NT, "end");
    for (int id = 0; id < NT; id++) {
      int got = atomic_load(&o[i]->count[id]);
      int want = atomic_load(&all->count[id]);
      more += got > want ? got - want : 0;
      fewer += got < want;
    }
    fprintf(stderr,
            "orderly %d after the return: %d deliveries beyond the stored "
            "copies, %d ids with fewer, %d out of order (%d sends again)\n",
            i, more, fewer, atomic_load(&o[i]->disorder), resent);
    CHECK_INT(more, 0);
    CHECK_INT(fewer, 0);
    CHECK_INT(atomic_load(&o[i]->disorder), 0);
  }
  sink_stop(all);
  for (int i = 0; i < 2; i++)
    sink_stop(o[i]);
  rmq_producer_destroy(p, 5000);
}

int main(void) {
  it_setup(&env);
  rmq_conf_t *c = conf_kv(NULL);
  admin = rmq_client_new(c, NULL, 0);
  rmq_conf_destroy(c);
  if (admin == NULL)
    return 1;
  static const rmqt_case cases[] = {
      TCASE(consumers_read_from_the_slave_and_commit_to_the_returning_master),
      TCASE(sends_fail_fast_while_the_master_is_down_and_resume),
      TCASE(slave_killed_while_the_master_serves)};
  /* a target whose slave acts for its dead master behaves otherwise */
  static const rmqt_case acting[] = {
      TCASE(acting_master_keeps_orderly_consumers_going)};
  int rc = env.acting_master ? RUN_TESTS(acting) : RUN_TESTS(cases);
  rmq_client_destroy(admin, 5000);
  struct rusage ru; /* this process alone (the tools' JVMs are children) */
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    fprintf(stderr, "test process CPU: user %ld.%03ld s, system %ld.%03ld s\n",
            (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec / 1000,
            (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec / 1000);
  return rc;
}
