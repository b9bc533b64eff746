/* Message trace against real brokers, read back by the Java client: sends
 * (sync, async, transactional) and consumes (push and lite pull) with
 * enableMsgTrace on; the Java peer (`trace-decode`) reads the trace topic
 * and decodes every record with TraceDataEncoder.decoderFromTraceDataString;
 * each of our records must be there with the right type, topic, msgId,
 * keys, tags, group, success flag and a sane cost time. Both the default
 * RMQ_SYS_TRACE_TOPIC (made by the harness, as brokers only make it with
 * traceTopicEnable=true) and a customizedTraceTopic (auto-created). */
#include "codec/json.h"
#include "it.h"
#include "rmq.h"
#include "test.h"
#include "util/time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static it_env_t env;
static char topic[128];       /* the messages */
static char trace_topic[128]; /* customizedTraceTopic of the first cases */
static char pgroup[128];
static char ids[3][80]; /* sync, async, transactional */
static char offset_ids[3][80];

/* ---- the Java side ------------------------------------------------------ */

typedef struct lines {
  rmqi_json_t v[64];
  size_t n;
} lines_t;

/* `peer trace-decode` of @p ttopic for @p want records of @p msg_ids. */
static void decode(const char *ttopic, const char *msg_ids, int want,
                   lines_t *ls) {
  char args[2048];
  snprintf(args, sizeof(args),
           "trace-decode --topic %s --msg-ids %s --count %d --timeout-ms "
           "30000",
           ttopic, msg_ids, want);
  char *out = NULL;
  int64_t t0 = rmqi_now_ms();
  int st = it_peer(&env, args, NULL, &out);
  fprintf(stderr, "trace-decode of %s: %lld ms\n", ttopic,
          (long long)(rmqi_now_ms() - t0));
  CHECK_INT(st, 0);
  memset(ls, 0, sizeof(*ls));
  for (const char *p = out; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len && *p == '{' && ls->n < 64 &&
        rmqi_json_parse(&ls->v[ls->n], p, len, NULL) == RMQ_OK) {
      if (rmqi_json_get(ls->v[ls->n].root, "summary"))
        rmqi_json_free(&ls->v[ls->n]);
      else
        ls->n++;
    }
    p = nl ? nl + 1 : NULL;
  }
  if (st != 0)
    fprintf(stderr, "peer output:\n%s\n", out ? out : "");
  free(out);
}

static void lines_free(lines_t *ls) {
  for (size_t i = 0; i < ls->n; i++)
    rmqi_json_free(&ls->v[i]);
}

/* The record of @p type for @p id (NULL if none). */
static const rmqi_jval_t *find(const lines_t *ls, const char *type,
                               const char *id) {
  for (size_t i = 0; i < ls->n; i++) {
    const char *t = rmqi_json_str(ls->v[i].root, "traceType");
    const char *m = rmqi_json_str(ls->v[i].root, "msgId");
    if (t && m && strcmp(t, type) == 0 && strcmp(m, id) == 0)
      return ls->v[i].root;
  }
  return NULL;
}

static void check_str(const rmqi_jval_t *r, const char *key, const char *want) {
  const char *got = rmqi_json_str(r, key);
  if (got == NULL || strcmp(got, want) != 0)
    rmqt_fail(__FILE__, __LINE__, "%s: \"%s\" != \"%s\"", key,
              got ? got : "(absent)", want);
}

static void check_cost(const rmqi_jval_t *r) {
  int64_t cost = -1;
  CHECK(rmqi_json_int(r, "costTime", &cost));
  CHECK(cost >= 0 && cost < 10000);
}

static void check_bool(const rmqi_jval_t *r, const char *key, bool want) {
  bool got = !want;
  CHECK(rmqi_json_bool(r, key, &got));
  CHECK_INT(got, want);
}

/* ---- our side ----------------------------------------------------------- */

static rmq_conf_t *conf(const char *group_key, const char *group,
                        const char *ttopic) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, group_key, group, NULL, 0);
  rmq_conf_set(c, "logLevel", "warn", NULL, 0);
  CHECK_ERR(rmq_conf_set(c, "enableMsgTrace", "true", NULL, 0), RMQ_OK);
  if (ttopic)
    CHECK_ERR(rmq_conf_set(c, "customizedTraceTopic", ttopic, NULL, 0), RMQ_OK);
  return c;
}

static rmq_msg_t *message(int i) {
  rmq_msg_t *m = rmq_msg_new(topic);
  char body[32], key[64];
  snprintf(body, sizeof(body), "trace body %d", i);
  snprintf(key, sizeof(key), "key%d_a key%d_b", i, i);
  rmq_msg_set_body(m, body, strlen(body));
  rmq_msg_set_tags(m, i == 1 ? "TagAsync" : "TagSync");
  rmq_msg_set_keys(m, key);
  return m;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool async_done;

static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *r, rmq_msg_t *msg, void *opaque) {
  (void)p;
  (void)msg;
  (void)opaque;
  pthread_mutex_lock(&mu);
  CHECK_ERR(err, RMQ_OK);
  if (err == RMQ_OK) {
    snprintf(ids[1], sizeof(ids[1]), "%s", r->msg_id);
    snprintf(offset_ids[1], sizeof(offset_ids[1]), "%s", r->offset_msg_id);
  }
  async_done = true;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static rmq_tx_state_t on_exec(rmq_producer_t *p, rmq_msg_t *m, void *arg,
                              void *opaque) {
  (void)p, (void)m, (void)arg, (void)opaque;
  return RMQ_TX_COMMIT;
}

static rmq_tx_state_t on_check(rmq_producer_t *p, const rmq_msg_t *m,
                               void *opaque) {
  (void)p, (void)m, (void)opaque;
  return RMQ_TX_COMMIT;
}

TEST(sends_are_traced_in_javas_format) {
  rmq_conf_t *c = conf("producerGroup", pgroup, trace_topic);
  char err[256];
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  REQUIRE(p != NULL);
  REQUIRE(rmq_producer_set_transaction_listener(p, on_exec, on_check, NULL) ==
          RMQ_OK);
  rmq_msg_t *m = message(0);
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, m, &r), RMQ_OK);
  snprintf(ids[0], sizeof(ids[0]), "%s", r.msg_id ? r.msg_id : "");
  snprintf(offset_ids[0], sizeof(offset_ids[0]), "%s",
           r.offset_msg_id ? r.offset_msg_id : "");
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
  CHECK_ERR(rmq_producer_send_async(p, message(1), on_sent, NULL), RMQ_OK);
  m = message(2);
  rmq_tx_state_t st;
  CHECK_ERR(rmq_producer_send_in_transaction(p, m, NULL, &r, &st), RMQ_OK);
  CHECK_INT(st, RMQ_TX_COMMIT);
  snprintf(ids[2], sizeof(ids[2]), "%s", r.msg_id ? r.msg_id : "");
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
  pthread_mutex_lock(&mu);
  while (!async_done)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  int64_t t0 = rmqi_now_ms();
  rmq_producer_destroy(p, 5000); /* the records leave by then */
  fprintf(stderr, "producer destroy with trace flush: %lld ms\n",
          (long long)(rmqi_now_ms() - t0));
  REQUIRE(ids[0][0] && ids[1][0] && ids[2][0]);

  char list[512];
  snprintf(list, sizeof(list), "%s,%s,%s", ids[0], ids[1], ids[2]);
  lines_t ls;
  decode(trace_topic, list, 4, &ls); /* 3 Pub + 1 EndTransaction */
  CHECK_INT(ls.n, 4);
  for (int i = 0; i < 3; i++) {
    const rmqi_jval_t *x = find(&ls, "Pub", ids[i]);
    if (x == NULL) {
      rmqt_fail(__FILE__, __LINE__, "no Pub record for %s", ids[i]);
      continue;
    }
    check_str(x, "topic", topic);
    check_str(x, "tags", i == 1 ? "TagAsync" : "TagSync");
    char key[64];
    snprintf(key, sizeof(key), "key%d_a key%d_b", i, i);
    check_str(x, "keys", key);
    check_str(x, "groupName", pgroup);
    check_str(x, "regionId", "DefaultRegion");
    check_str(x, "msgType", i == 2 ? "Trans_Msg_Half" : "Normal_Msg");
    check_str(x, "traceMsgTopic", trace_topic);
    if (i < 2)
      check_str(x, "offsetMsgId", offset_ids[i]);
    check_bool(x, "success", true);
    check_cost(x);
    int64_t len = 0, ts = 0;
    CHECK(rmqi_json_int(x, "bodyLength", &len));
    CHECK_INT(len, 12);
    CHECK(rmqi_json_int(x, "timeStamp", &ts));
    CHECK(ts > rmqi_wall_ms() - 120000 && ts <= rmqi_wall_ms());
    const char *host = rmqi_json_str(x, "storeHost");
    CHECK(host && strchr(host, ':') != NULL);
    const char *keys = rmqi_json_str(x, "traceMsgKeys");
    CHECK(keys && strstr(keys, ids[i]) && strstr(keys, key + 7));
  }
  const rmqi_jval_t *e = find(&ls, "EndTransaction", ids[2]);
  CHECK(e != NULL);
  if (e) {
    check_str(e, "topic", topic);
    check_str(e, "groupName", pgroup);
    check_str(e, "transactionState", "COMMIT_MESSAGE");
    check_str(e, "transactionId", ids[2]);
    check_str(e, "msgType", "Trans_msg_Commit");
    check_str(e, "tags", "TagSync");
    check_str(e, "regionId", "DefaultRegion");
    check_bool(e, "fromTransactionCheck", false);
  }
  lines_free(&ls);
}

/* SubBefore and SubAfter of one consumer for ids[0] and ids[1]. */
static void check_consumed(const lines_t *ls, const char *group) {
  for (int i = 0; i < 2; i++) {
    const rmqi_jval_t *b = find(ls, "SubBefore", ids[i]);
    const rmqi_jval_t *a = find(ls, "SubAfter", ids[i]);
    if (b == NULL || a == NULL) {
      rmqt_fail(__FILE__, __LINE__, "%s: no SubBefore/SubAfter for %s", group,
                ids[i]);
      continue;
    }
    char key[64];
    snprintf(key, sizeof(key), "key%d_a key%d_b", i, i);
    check_str(b, "groupName", group);
    check_str(b, "keys", key);
    check_str(a, "groupName", group);
    check_str(a, "keys", key);
    check_bool(a, "success", true);
    check_cost(a);
    int64_t code = -1, retry = -1;
    CHECK(rmqi_json_int(a, "contextCode", &code));
    CHECK_INT(code, 0);
    CHECK(rmqi_json_int(b, "retryTimes", &retry));
    CHECK_INT(retry, 0);
    const char *rb = rmqi_json_str(b, "requestId"),
               *ra = rmqi_json_str(a, "requestId");
    CHECK(rb && ra && strlen(rb) >= 32 && strcmp(rb, ra) == 0);
  }
}

static _Atomic int n_seen;

static rmq_consume_status_t on_msgs(rmq_push_consumer_t *c,
                                    rmq_msg_t *const *msgs, size_t n,
                                    rmq_consume_ctx_t *ctx, void *opaque) {
  (void)c, (void)ctx, (void)opaque;
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < 2; k++)
      if (strcmp(rmq_msg_id(msgs[i]), ids[k]) == 0)
        atomic_fetch_add(&n_seen, 1);
  return RMQ_CONSUME_SUCCESS;
}

TEST(push_and_lite_pull_consumes_are_traced) {
  REQUIRE(ids[0][0] && ids[1][0]);
  char ttopic[128], g1[128], g2[128];
  it_unique(ttopic, sizeof(ttopic), "it_trace_c");
  it_unique(g1, sizeof(g1), "it_trace_push");
  it_unique(g2, sizeof(g2), "it_trace_lite");
  char err[256];
  /* push */
  rmq_conf_t *c = conf("consumerGroup", g1, ttopic);
  rmq_conf_set(c, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  rmq_push_consumer_t *pc = rmq_push_consumer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  REQUIRE(pc != NULL);
  CHECK_ERR(rmq_push_consumer_set_listener(pc, on_msgs, NULL), RMQ_OK);
  CHECK_ERR(rmq_push_consumer_subscribe(pc, topic, "*"), RMQ_OK);
  CHECK_ERR(rmq_push_consumer_start(pc), RMQ_OK);
  /* lite pull */
  c = conf("consumerGroup", g2, ttopic);
  rmq_conf_set(c, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  rmq_pull_consumer_t *lc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  REQUIRE(lc != NULL);
  CHECK_ERR(rmq_pull_consumer_subscribe(lc, topic, "*"), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(lc), RMQ_OK);
  int lite_seen = 0;
  int64_t until = rmqi_now_ms() + 40000;
  while ((lite_seen < 2 || atomic_load(&n_seen) < 2) && rmqi_now_ms() < until) {
    rmq_msg_t *v[16];
    int n = rmq_pull_consumer_poll(lc, v, 16, 200);
    for (int i = 0; i < n; i++) {
      for (int k = 0; k < 2; k++)
        lite_seen += strcmp(rmq_msg_id(v[i]), ids[k]) == 0;
      rmq_msg_destroy(v[i]);
    }
  }
  fprintf(stderr, "consumed in %lld ms\n",
          (long long)(rmqi_now_ms() - (until - 40000)));
  CHECK_INT(lite_seen, 2);
  CHECK_INT(atomic_load(&n_seen), 2);
  rmq_pull_consumer_destroy(lc, 5000);
  rmq_push_consumer_destroy(pc, 5000);

  char list[256];
  snprintf(list, sizeof(list), "%s,%s", ids[0], ids[1]);
  lines_t ls;
  decode(ttopic, list, 8, &ls); /* 2 consumers x 2 messages x 2 records */
  CHECK_INT(ls.n, 8);
  lines_t mine = {.n = 0};
  for (const char *g = g1; g; g = g == g1 ? g2 : NULL) {
    mine.n = 0; /* borrowed views of the lines of group g */
    for (size_t i = 0; i < ls.n; i++) {
      const char *name = rmqi_json_str(ls.v[i].root, "groupName");
      if (name && strcmp(name, g) == 0)
        mine.v[mine.n++] = ls.v[i];
    }
    CHECK_INT(mine.n, 4);
    check_consumed(&mine, g);
  }
  lines_free(&ls);
}

TEST(default_topic_is_rmq_sys_trace_topic) {
  char g[128];
  it_unique(g, sizeof(g), "it_trace_default");
  rmq_conf_t *c = conf("producerGroup", g, NULL);
  char err[256];
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  REQUIRE(p != NULL);
  rmq_msg_t *m = message(0);
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, m, &r), RMQ_OK);
  char id[80];
  snprintf(id, sizeof(id), "%s", r.msg_id ? r.msg_id : "");
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
  rmq_producer_destroy(p, 5000);
  lines_t ls;
  decode("RMQ_SYS_TRACE_TOPIC", id, 1, &ls);
  CHECK_INT(ls.n, 1);
  const rmqi_jval_t *x = find(&ls, "Pub", id);
  CHECK(x != NULL);
  if (x) {
    check_str(x, "traceMsgTopic", "RMQ_SYS_TRACE_TOPIC");
    check_str(x, "groupName", g);
    check_str(x, "topic", topic);
    check_bool(x, "success", true);
  }
  lines_free(&ls);
}

int main(void) {
  it_setup(&env);
  it_unique(topic, sizeof(topic), "it_trace");
  it_unique(trace_topic, sizeof(trace_topic), "it_trace_t");
  it_unique(pgroup, sizeof(pgroup), "it_trace_pg");
  static const rmqt_case cases[] = {
      TCASE(sends_are_traced_in_javas_format),
      TCASE(push_and_lite_pull_consumes_are_traced),
      TCASE(default_topic_is_rmq_sys_trace_topic),
  };
  return RUN_TESTS(cases);
}
