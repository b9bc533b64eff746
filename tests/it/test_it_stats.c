/* The client's statistics JSON against real traffic on the real brokers:
 * one client with a producer (sync, async, batch, one message the broker
 * refuses) and a push consumer; the counts in the document must be what
 * the test sent and what its listener saw, the periodic reports must come
 * and parse, and the document and doc/statistics.md must list the same
 * members (so the schema page cannot fall behind the code). */
#include "codec/json.h"
#include "it.h"
#include "jpath.h"
#include "rmq.h"
#include "test.h"
#include "util/time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static it_env_t env;

/* ---- periodic reports ------------------------------------------------- */

typedef struct reports {
  pthread_mutex_t lock;
  int n, bad;
  int64_t last_ts;
  atomic_bool destroyed; /* the client's destroy returned */
  int after_destroy;
} reports_t;

static void on_stats(rmq_client_t *c, const char *json, size_t len,
                     void *opaque) {
  (void)c;
  reports_t *r = opaque;
  rmqi_json_t doc;
  bool ok =
      strlen(json) == len && rmqi_json_parse(&doc, json, len, NULL) == RMQ_OK;
  int64_t ts = ok ? jint(doc.root, "ts") : -1;
  if (ok)
    rmqi_json_free(&doc);
  pthread_mutex_lock(&r->lock);
  r->n++;
  if (!ok || ts < r->last_ts) /* reports come in order */
    r->bad++;
  r->last_ts = ts;
  if (atomic_load(&r->destroyed))
    r->after_destroy++;
  pthread_mutex_unlock(&r->lock);
}

/* ---- the consumer's side ---------------------------------------------- */

enum { N_SYNC = 300, N_ASYNC = 300, N_BATCHES = 10, BATCH = 10 };
enum { N = N_SYNC + N_ASYNC + N_BATCHES * BATCH };

typedef struct seen {
  atomic_int calls_ok; /* messages the listener returned success for */
  atomic_int count[N];
  atomic_long last_ms;
} seen_t;

static rmq_consume_status_t on_msgs(rmq_push_consumer_t *c,
                                    rmq_msg_t *const *msgs, size_t n,
                                    rmq_consume_ctx_t *ctx, void *op) {
  (void)c, (void)ctx;
  seen_t *s = op;
  for (size_t i = 0; i < n; i++) {
    const char *v = rmq_msg_property(msgs[i], "i");
    int k = v ? atoi(v) : -1;
    if (k >= 0 && k < N)
      atomic_fetch_add(&s->count[k], 1);
  }
  atomic_fetch_add(&s->calls_ok, (int)n);
  atomic_store(&s->last_ms, rmqi_now_ms());
  return RMQ_CONSUME_SUCCESS;
}

static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p, (void)res, (void)m;
  if (err != RMQ_OK)
    atomic_fetch_add((atomic_int *)op, 1);
}

static rmq_msg_t *msg(const char *topic, int i) {
  rmq_msg_t *m = rmq_msg_new(topic);
  char b[32], v[16];
  int n = snprintf(b, sizeof(b), "stats-%d", i);
  rmq_msg_set_body(m, b, (size_t)n);
  snprintf(v, sizeof(v), "%d", i);
  rmq_msg_set_property(m, "i", v);
  return m;
}

/* ---- the schema check -------------------------------------------------- */

typedef struct paths {
  char **v;
  size_t n, cap;
} paths_t;

static void paths_add(paths_t *p, const char *s) {
  for (size_t i = 0; i < p->n; i++)
    if (strcmp(p->v[i], s) == 0)
      return;
  if (p->n == p->cap) {
    p->cap = p->cap ? 2 * p->cap : 64;
    p->v = realloc(p->v, p->cap * sizeof(*p->v));
  }
  p->v[p->n++] = strdup(s);
}

static bool paths_has(const paths_t *p, const char *s) {
  for (size_t i = 0; i < p->n; i++)
    if (strcmp(p->v[i], s) == 0)
      return true;
  return false;
}

static void paths_free(paths_t *p) {
  for (size_t i = 0; i < p->n; i++)
    free(p->v[i]);
  free(p->v);
}

/* Every member's path: objects by name, arrays as "[]", the members of
 * `errors` as "<CODE>", those of a latency object as
 * "<latency>.<member>" (the doc lists them once). */
static void walk(const rmqi_jval_t *v, const char *path, paths_t *out,
                 paths_t *latency) {
  if (v->type == RMQI_JARR) {
    char sub[512];
    snprintf(sub, sizeof(sub), "%s[]", path);
    for (size_t i = 0; i < v->n; i++)
      walk(v->items[i], sub, out, latency);
    return;
  }
  if (v->type != RMQI_JOBJ)
    return;
  size_t pl = strlen(path);
  bool errors = pl >= 7 && strcmp(path + pl - 7, ".errors") == 0;
  bool lat = (pl >= 7 && strcmp(path + pl - 7, ".rtt_us") == 0) ||
             (pl >= 11 && strcmp(path + pl - 11, ".latency_us") == 0);
  for (size_t i = 0; i < v->n; i++) {
    const char *key = v->members[i].key->s;
    char sub[512];
    if (lat) {
      paths_add(latency, key);
      continue;
    }
    snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "",
             errors ? "<CODE>" : key);
    paths_add(out, sub);
    walk(v->members[i].val, sub, out, latency);
  }
}

/* The first cell's backticked names of the doc's tables; those of the
 * "Latency objects" table go to @p latency. */
static void doc_paths(const char *doc, paths_t *out, paths_t *latency) {
  bool in_latency = false;
  for (const char *l = doc; l && *l;
       l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    if (strncmp(l, "### ", 4) == 0)
      in_latency = strncmp(l, "### Latency objects", 19) == 0;
    if (strncmp(l, "| `", 3) != 0)
      continue;
    const char *end = strstr(l + 2, " |");
    for (const char *p = l + 2; p && end && p < end;) {
      const char *a = strchr(p, '`');
      if (a == NULL || a >= end)
        break;
      const char *b = strchr(a + 1, '`');
      if (b == NULL || b >= end)
        break;
      char name[256];
      snprintf(name, sizeof(name), "%.*s", (int)(b - a - 1), a + 1);
      paths_add(in_latency ? latency : out, name);
      p = b + 1;
    }
  }
}

static void check_schema(const rmqi_jval_t *root) {
  paths_t got = {0}, got_lat = {0}, doc = {0}, doc_lat = {0};
  walk(root, "", &got, &got_lat);
  char path[700];
  snprintf(path, sizeof(path), "%s/doc/statistics.md", env.source_root);
  char *text = it_slurp(path);
  REQUIRE(text != NULL);
  doc_paths(text, &doc, &doc_lat);
  free(text);
  CHECK(doc.n > 50);
  int undocumented = 0, missing = 0;
  for (size_t i = 0; i < got.n; i++)
    if (!paths_has(&doc, got.v[i])) {
      fprintf(stderr, "in the JSON, not in doc/statistics.md: %s\n", got.v[i]);
      undocumented++;
    }
  for (size_t i = 0; i < got_lat.n; i++)
    if (!paths_has(&doc_lat, got_lat.v[i])) {
      fprintf(stderr, "latency member not documented: %s\n", got_lat.v[i]);
      undocumented++;
    }
  for (size_t i = 0; i < doc.n; i++)
    if (!paths_has(&got, doc.v[i])) {
      fprintf(stderr, "documented, not in the JSON: %s\n", doc.v[i]);
      missing++;
    }
  for (size_t i = 0; i < doc_lat.n; i++)
    if (!paths_has(&got_lat, doc_lat.v[i])) {
      fprintf(stderr, "documented latency member missing: %s\n", doc_lat.v[i]);
      missing++;
    }
  CHECK_INT(undocumented, 0);
  CHECK_INT(missing, 0);
  paths_free(&got);
  paths_free(&got_lat);
  paths_free(&doc);
  paths_free(&doc_lat);
}

/* ---- the case ----------------------------------------------------------- */

TEST(counts_match_real_traffic_and_the_schema_page) {
  char topic[128], group[128];
  it_unique(topic, sizeof(topic), "it_stats");
  it_unique(group, sizeof(group), "it_stats_g");
  char args[300];
  snprintf(args, sizeof(args), "%s --queues 4", topic);
  REQUIRE(it_harness(&env, "topic", args, NULL) == 0);

  reports_t rep = {.lock = PTHREAD_MUTEX_INITIALIZER};
  rmq_conf_t *cc = rmq_conf_new();
  rmq_conf_set(cc, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(cc, "logLevel", "error", NULL, 0);
  rmq_conf_set(cc, "statisticsIntervalMs", "200", NULL, 0);
  rmq_conf_set_stats_cb(cc, on_stats, &rep);
  char err[256];
  rmq_client_t *client = rmq_client_new(cc, err, sizeof(err));
  rmq_conf_destroy(cc);
  REQUIRE(client != NULL);

  rmq_conf_t *pcf = rmq_conf_new();
  rmq_conf_set(pcf, "producerGroup", "it_stats_pg", NULL, 0);
  rmq_conf_set(pcf, "maxMessageSize", "8388608", NULL, 0);
  rmq_producer_t *p = rmq_producer_new(client, pcf, err, sizeof(err));
  rmq_conf_destroy(pcf);
  REQUIRE(p != NULL);

  seen_t *s = calloc(1, sizeof(*s));
  rmq_conf_t *ccf = rmq_conf_new();
  rmq_conf_set(ccf, "consumerGroup", group, NULL, 0);
  rmq_conf_set(ccf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  rmq_conf_set(ccf, "persistConsumerOffsetInterval", "500", NULL, 0);
  rmq_push_consumer_t *pc =
      rmq_push_consumer_new(client, ccf, err, sizeof(err));
  rmq_conf_destroy(ccf);
  REQUIRE(pc != NULL);
  CHECK_ERR(rmq_push_consumer_set_listener(pc, on_msgs, s), RMQ_OK);
  CHECK_ERR(rmq_push_consumer_subscribe(pc, topic, "*"), RMQ_OK);
  CHECK_ERR(rmq_push_consumer_start(pc), RMQ_OK);

  /* what the producer sends; a send that fails is retried by the test, so
   * the expected counts follow the failures it saw */
  int sync_failed = 0;
  for (int i = 0; i < N_SYNC; i++) {
    rmq_msg_t *m = msg(topic, i);
    rmq_send_result_t r;
    while (rmq_producer_send(p, m, &r) != RMQ_OK && sync_failed < 20) {
      sync_failed++;
      rmq_send_result_clear(&r);
    }
    rmq_send_result_clear(&r);
    rmq_msg_destroy(m);
  }
  atomic_int async_failed = 0;
  for (int i = N_SYNC; i < N_SYNC + N_ASYNC; i++)
    CHECK_ERR(rmq_producer_send_async(p, msg(topic, i), on_sent, &async_failed),
              RMQ_OK);
  CHECK_ERR(rmq_producer_flush(p, 30000), RMQ_OK);
  REQUIRE(atomic_load(&async_failed) == 0); /* else the counts below move */
  for (int b = 0; b < N_BATCHES; b++) {
    rmq_msg_t *v[BATCH];
    for (int k = 0; k < BATCH; k++)
      v[k] = msg(topic, N_SYNC + N_ASYNC + b * BATCH + k);
    rmq_send_result_t r;
    CHECK_ERR(rmq_producer_send_batch(p, v, BATCH, &r), RMQ_OK);
    rmq_send_result_clear(&r);
    for (int k = 0; k < BATCH; k++)
      rmq_msg_destroy(v[k]);
  }
  /* 5 MB of incompressible bytes: past the broker's 4 MB maxMessageSize,
   * so the broker refuses it (a code in `errors`, a failed send) */
  size_t big_n = 5u << 20;
  uint8_t *big = malloc(big_n);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < big_n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    big[i] = (uint8_t)x;
  }
  rmq_msg_t *bm = rmq_msg_new(topic);
  rmq_msg_set_body(bm, big, big_n);
  rmq_send_result_t r;
  rmq_err_t big_rc = rmq_producer_send(p, bm, &r);
  CHECK(big_rc != RMQ_OK);
  fprintf(stderr, "stats: the 5 MB message: %s (%s)\n", rmq_err_name(big_rc),
          r.error ? r.error : "");
  rmq_send_result_clear(&r);
  rmq_msg_destroy(bm);
  free(big);

  /* consume until every message came and the group is quiet */
  int64_t end = rmqi_now_ms() + 60000;
  int missing = N;
  while (rmqi_now_ms() < end) {
    missing = 0;
    for (int i = 0; i < N; i++)
      missing += atomic_load(&s->count[i]) == 0;
    if (missing == 0 && rmqi_now_ms() - atomic_load(&s->last_ms) > 2000)
      break;
    usleep(50 * 1000);
  }
  CHECK_INT(missing, 0);
  /* the lag is 0 once the last pulls have seen the final max offsets */
  rmq_consumer_stats_t cs;
  end = rmqi_now_ms() + 10000;
  do {
    usleep(100 * 1000);
    CHECK_ERR(rmq_push_consumer_stats(pc, &cs), RMQ_OK);
    int64_t lag = cs.total_lag;
    rmq_consumer_stats_clear(&cs);
    if (lag == 0)
      break;
  } while (rmqi_now_ms() < end);

  char *json = rmq_client_stats_json(client);
  REQUIRE(json != NULL);
  rmqi_json_t doc;
  REQUIRE(rmqi_json_parse(&doc, json, strlen(json), NULL) == RMQ_OK);
  const rmqi_jval_t *j = doc.root;
  CHECK_STR(jstr(j, "client_id"), rmq_client_id(client));
  /* the producer: exact outcomes; requests = sends + retries */
  int64_t retries = jint(j, "producers.0.retries");
  CHECK_STR(jstr(j, "producers.0.group"), "it_stats_pg");
  CHECK_INT(jint(j, "producers.0.msgs_ok"), N);
  CHECK_INT(jint(j, "producers.0.msgs_failed"), sync_failed + 1);
  CHECK_INT(jint(j, "producers.0.sends_ok"), N_SYNC + N_ASYNC + N_BATCHES);
  CHECK_INT(jint(j, "producers.0.sends_failed"), sync_failed + 1);
  CHECK_INT(jint(j, "producers.0.requests"),
            N_SYNC + N_ASYNC + N_BATCHES + sync_failed + 1 + retries);
  CHECK(jint(j, "producers.0.request_msgs") >= N + 1);
  CHECK(jint(j, "producers.0.latency_us.count") >=
        N_SYNC + N_ASYNC + N_BATCHES + 1);
  CHECK(jint(j, "producers.0.latency_us.p50") > 0);
  CHECK(jint(j, "producers.0.latency_us.p50") <=
        jint(j, "producers.0.latency_us.p999"));
  CHECK(jint(j, "producers.0.bytes_ok") > N * 7);
  CHECK_INT(jint(j, "producers.0.inflight_msgs"), 0);
  /* no message trace here: the tracer's member says so, with zeros */
  CHECK(jpath(j, "producers.0.trace.enabled") &&
        jpath(j, "producers.0.trace.enabled")->type == RMQI_JBOOL &&
        !jpath(j, "producers.0.trace.enabled")->b);
  CHECK_INT(jint(j, "producers.0.trace.dropped"), 0);
  CHECK_INT(jint(j, "consumers.0.trace.failed"), 0);
  const rmqi_jval_t *errs = jpath(j, "producers.0.errors");
  CHECK(errs && errs->type == RMQI_JOBJ && errs->n >= 1);
  CHECK(strstr(jstr(j, "producers.0.last_error"), rmq_err_name(big_rc)) !=
        NULL);
  /* the consumer: processed is what the listener returned success for;
   * the committed position covers every message of the 4 queues */
  CHECK_STR(jstr(j, "consumers.0.group"), group);
  CHECK_STR(jstr(j, "consumers.0.type"), "push");
  CHECK_STR(jstr(j, "consumers.0.model"), "CLUSTERING");
  CHECK_INT(jint(j, "consumers.0.processed"), atomic_load(&s->calls_ok));
  CHECK_INT(jint(j, "consumers.0.failed"), 0);
  CHECK(jint(j, "consumers.0.first_msg_ts") > 0);
  CHECK(jint(j, "consumers.0.last_msg_ts") >=
        jint(j, "consumers.0.first_msg_ts"));
  CHECK_INT(jint(j, "consumers.0.total_lag"), 0);
  /* (the group's retry topic may be assigned too: a 5.x broker makes it
   * with the subscription) */
  int64_t consumed = 0, mine = 0;
  const rmqi_jval_t *qs = jpath(j, "consumers.0.queues");
  for (size_t i = 0; qs && i < qs->n; i++) {
    const rmqi_jval_t *q = qs->items[i];
    if (strcmp(jstr(q, "topic"), topic) == 0) {
      mine++;
      consumed += jint(q, "consumed");
      CHECK_STR(jstr(q, "broker"), "broker-a");
    } else {
      CHECK(strncmp(jstr(q, "topic"), "%RETRY%", 7) == 0);
    }
  }
  CHECK_INT(mine, 4);
  CHECK_INT(consumed, N);
  /* the broker and the name server, both connected */
  bool broker = false, namesrv = false;
  const rmqi_jval_t *bs = jpath(j, "brokers");
  for (size_t i = 0; bs && i < bs->n; i++) {
    const rmqi_jval_t *b = bs->items[i];
    if (strcmp(jstr(b, "addr"), env.broker_a) == 0) {
      broker = true;
      CHECK_STR(jstr(b, "role"), "broker");
      CHECK_STR(jstr(b, "name"), "broker-a");
      CHECK_INT(jint(b, "broker_id"), 0);
      CHECK_STR(jstr(b, "state"), "up");
      CHECK(jint(b, "requests") >= jint(j, "producers.0.requests"));
      CHECK(jint(b, "rtt_us.count") > 0);
      CHECK_INT(jint(b, "timeouts"), 0);
    } else if (strcmp(jstr(b, "addr"), env.namesrv) == 0) {
      namesrv = true;
      CHECK_STR(jstr(b, "role"), "namesrv");
      CHECK(jint(b, "responses") > 0);
    }
  }
  CHECK(broker && namesrv);
  check_schema(j);
  rmqi_json_free(&doc);
  rmq_free(json);

  rmq_push_consumer_destroy(pc, 5000);
  rmq_producer_destroy(p, 5000);
  rmq_client_destroy(client, 5000);
  atomic_store(&rep.destroyed, true);
  pthread_mutex_lock(&rep.lock);
  fprintf(stderr, "stats: %d periodic reports\n", rep.n);
  CHECK(rep.n >= 3); /* every 200 ms over several seconds */
  CHECK_INT(rep.bad, 0);
  CHECK_INT(rep.after_destroy, 0);
  pthread_mutex_unlock(&rep.lock);
  free(s);
}

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {
      TCASE(counts_match_real_traffic_and_the_schema_page),
  };
  return RUN_TESTS(cases);
}
