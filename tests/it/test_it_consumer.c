/* The lite pull consumer against real brokers: exact messages with their
 * metadata, tag filters, the group split (and the assignment callbacks
 * and mqadmin consumerStatus of a lite consumer), seek and commit across a
 * restart (visible to the admin tool), consume-from-timestamp, raw pulls. */
#include "it.h"
#include "rmq.h"
#include "test.h"
#include "util/common.h"
#include "util/time.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static it_env_t env;
/* The header encoding of every client a case makes (serializeType). */
static const char *ser = "JSON";

static rmq_conf_t *conf(const char *group) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_conf_set(c, "serializeType", ser, NULL, 0);
  if (group)
    rmq_conf_set(c, "consumerGroup", group, NULL, 0);
  return c;
}

static rmq_producer_t *producer(void) {
  rmq_conf_t *c = conf(NULL);
  rmq_producer_t *p = rmq_producer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  return p;
}

static rmq_pull_consumer_t *consumer(const char *group, const char *from,
                                     const char *ts) {
  rmq_conf_t *c = conf(group);
  char err[256];
  if (from)
    rmq_conf_set(c, "consumeFromWhere", from, err, sizeof(err));
  if (ts)
    rmq_conf_set(c, "consumeTimestamp", ts, err, sizeof(err));
  rmq_conf_set(c, "rebalanceInterval", "1000", NULL, 0);
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
  if (pc == NULL)
    fprintf(stderr, "consumer: %s\n", err);
  rmq_conf_destroy(c);
  return pc;
}

static void make_topic(char *topic, size_t n, const char *prefix, int queues) {
  char args[300];
  it_unique(topic, n, prefix);
  snprintf(args, sizeof(args), "%s --queues %d", topic, queues);
  if (it_harness(&env, "topic", args, NULL) != 0)
    abort();
}

/* Sends message i: body "body-<i>" (or 5000 bytes of 'z' when big), tag
 * Tag<A|B|C>, key, property. Returns the msgId in @p id. */
static void send_one(rmq_producer_t *p, const char *topic, int i,
                     const char *tag, bool big, char id[64]) {
  rmq_msg_t *m = rmq_msg_new(topic);
  char body[5000], v[32];
  size_t len = (size_t)snprintf(body, 64, "body-%d", i);
  if (big) {
    memset(body, 'z', sizeof(body));
    len = sizeof(body);
  }
  rmq_msg_set_body(m, body, len);
  rmq_msg_set_tags(m, tag);
  snprintf(v, sizeof(v), "key-%d", i);
  rmq_msg_set_keys(m, v);
  snprintf(v, sizeof(v), "%d", i);
  rmq_msg_set_property(m, "i", v);
  rmq_msg_set_property(m, "名前", "値 ✓");
  rmq_send_result_t r;
  if (rmq_producer_send(p, m, &r) != RMQ_OK)
    abort();
  snprintf(id, 64, "%s", r.msg_id);
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
}

/* Polls until @p want messages came or @p ms passed; stores them. */
static size_t poll_n(rmq_pull_consumer_t *pc, rmq_msg_t **out, size_t want,
                     int ms) {
  size_t n = 0;
  int64_t end = rmqi_now_ms() + ms;
  while (n < want && rmqi_now_ms() < end) {
    int k = rmq_pull_consumer_poll(pc, out + n, want - n, 500);
    if (k < 0)
      break;
    n += (size_t)k;
  }
  return n;
}

/* The message's property "i" (send_one's index), or -1 when it has none. */
static int prop_i(const rmq_msg_t *m) {
  const char *v = rmq_msg_property(m, "i");
  if (v == NULL) {
    rmqt_fail(__FILE__, __LINE__, "message %s has no property i",
              rmq_msg_id(m) ? rmq_msg_id(m) : "(no id)");
    return -1;
  }
  return atoi(v);
}

/* Polls until @p want messages came (or @p ms passed), then on until 1 s
 * passes without another (up to @p cap in all): a duplicate or a stray
 * past the expected count is returned too, for the caller to count. */
static size_t poll_quiet(rmq_pull_consumer_t *pc, rmq_msg_t **out, size_t want,
                         size_t cap, int ms) {
  size_t n = poll_n(pc, out, want, ms);
  while (n == want && n < cap) {
    int k = rmq_pull_consumer_poll(pc, out + n, cap - n, 1000);
    if (k <= 0)
      break;
    n += (size_t)k;
  }
  return n;
}

static void destroy_all(rmq_msg_t **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    rmq_msg_destroy(v[i]);
}

static void subscribe_poll_exact(void) {
  char topic[128], group[128], ids[40][64];
  make_topic(topic, sizeof(topic), "it_lite", 4);
  it_unique(group, sizeof(group), "it_lite_g");
  rmq_producer_t *p = producer();
  REQUIRE(p != NULL);
  for (int i = 0; i < 40; i++)
    send_one(p, topic, i, "TagA", i == 7, ids[i]);
  rmq_pull_consumer_t *pc = consumer(group, "CONSUME_FROM_FIRST_OFFSET", NULL);
  REQUIRE(pc != NULL);
  CHECK_ERR(rmq_pull_consumer_subscribe(pc, topic, "*"), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  rmq_msg_t *got[64];
  size_t n = poll_n(pc, got, 40, 30000);
  CHECK_INT(n, 40);
  bool seen[40] = {0};
  int64_t now = rmqi_wall_ms();
  for (size_t k = 0; k < n; k++) {
    rmq_msg_t *m = got[k];
    int i = prop_i(m);
    REQUIRE(i >= 0 && i < 40);
    CHECK(!seen[i]);
    seen[i] = true;
    size_t len;
    const char *b = rmq_msg_body(m, &len);
    if (i == 7) {
      CHECK_INT(len, 5000); /* sent compressed, inflated here */
      CHECK(b[0] == 'z' && b[4999] == 'z');
    } else {
      char want[32];
      CHECK_INT(len, (size_t)snprintf(want, sizeof(want), "body-%d", i));
      CHECK_MEM(b, len, want, strlen(want));
    }
    CHECK_STR(rmq_msg_topic(m), topic);
    CHECK_STR(rmq_msg_tags(m), "TagA");
    char key[32];
    snprintf(key, sizeof(key), "key-%d", i);
    CHECK_STR(rmq_msg_keys(m), key);
    CHECK_STR(rmq_msg_property(m, "名前"), "値 ✓");
    CHECK_STR(rmq_msg_id(m), ids[i]);
    CHECK_STR(rmq_msg_broker_name(m), "broker-a");
    CHECK(rmq_msg_queue_id(m) >= 0 && rmq_msg_queue_id(m) < 4);
    CHECK(rmq_msg_queue_offset(m) >= 0 && rmq_msg_queue_offset(m) < 40);
    CHECK(strlen(rmq_msg_offset_id(m)) == 32);
    CHECK(rmq_msg_store_timestamp(m) > now - 120000 &&
          rmq_msg_store_timestamp(m) <= now + 1000);
    CHECK(rmq_msg_born_timestamp(m) <= rmq_msg_store_timestamp(m) + 1000);
    CHECK(strncmp(rmq_msg_store_host(m), "127.0.0.1:", 10) == 0);
    CHECK_INT(rmq_msg_reconsume_times(m), 0);
    /* a received message can be changed and re-sent */
    CHECK_ERR(rmq_msg_set_property(m, "again", "yes"), RMQ_OK);
    CHECK_STR(rmq_msg_property(m, "again"), "yes");
    CHECK_STR(rmq_msg_tags(m), "TagA");
  }
  destroy_all(got, n);
  /* nothing more comes */
  int more = rmq_pull_consumer_poll(pc, got, 64, 1000);
  CHECK_INT(more, 0);
  if (more > 0)
    destroy_all(got, (size_t)more);
  rmq_queue_list_t as = {0};
  CHECK_ERR(rmq_pull_consumer_assignment(pc, &as), RMQ_OK);
  CHECK_INT(as.n, 4); /* alone in the group: every queue */
  rmq_queue_list_clear(&as);
  rmq_pull_consumer_destroy(pc, 5000);
  rmq_producer_destroy(p, 3000);
}

TEST(subscribe_poll_returns_every_message_exactly) { subscribe_poll_exact(); }

/* The same with the binary header encoding (RocketMQSerializable) for
 * every request: route, heartbeat, rebalance, pulls, offsets; a 4.x
 * broker answers in kind, a 5.x one in JSON. */
TEST(subscribe_poll_with_rocketmq_headers_returns_every_message_exactly) {
  ser = "ROCKETMQ";
  subscribe_poll_exact();
  ser = "JSON";
}

TEST(tag_filter_delivers_exactly_the_matching_messages) {
  char topic[128], group[128], id[64];
  make_topic(topic, sizeof(topic), "it_lite_tag", 2);
  it_unique(group, sizeof(group), "it_lite_tag_g");
  rmq_producer_t *p = producer();
  REQUIRE(p != NULL);
  static const char *const tags[] = {"TagA", "TagB", "TagC"};
  for (int i = 0; i < 30; i++)
    send_one(p, topic, i, tags[i % 3], false, id);
  rmq_pull_consumer_t *pc = consumer(group, "CONSUME_FROM_FIRST_OFFSET", NULL);
  REQUIRE(pc != NULL);
  CHECK_ERR(rmq_pull_consumer_subscribe(pc, topic, "TagA || TagC"), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  rmq_msg_t *got[64];
  size_t n = poll_n(pc, got, 20, 30000);
  CHECK_INT(n, 20);
  n += (size_t)RMQI_MAX(rmq_pull_consumer_poll(pc, got + n, 64 - n, 1500), 0);
  CHECK_INT(n, 20);
  for (size_t k = 0; k < n; k++) {
    int i = prop_i(got[k]);
    CHECK(i >= 0 && i < 30 && i % 3 != 1);
    if (i >= 0)
      CHECK_STR(rmq_msg_tags(got[k]), tags[i % 3]);
  }
  destroy_all(got, n);
  rmq_pull_consumer_destroy(pc, 5000);
  rmq_producer_destroy(p, 3000);
}

/* Two consumers of one group split 8 queues as Java's averagely does: the
 * smaller client id takes the first half in (broker, queue) order. */
/* What a consumer's assignment callback saw last (queue ids of broker-a:
 * bit i for queue i), and how often it was called. */
typedef struct assigned {
  pthread_mutex_t mu;
  int calls, all, mine, n_all, bad;
  char topic[128];
} assigned_t;

static void on_assigned(const char *topic, const rmq_queue_t *all, size_t n_all,
                        const rmq_queue_t *mine, size_t n_mine, void *opaque) {
  assigned_t *a = opaque;
  pthread_mutex_lock(&a->mu);
  a->calls++;
  a->bad += strcmp(topic, a->topic) != 0;
  a->all = a->mine = 0;
  a->n_all = (int)n_all;
  for (size_t i = 0; i < n_all; i++)
    if (all[i].queue_id >= 0 && all[i].queue_id < 30)
      a->all |= 1 << all[i].queue_id;
  for (size_t i = 0; i < n_mine; i++) {
    a->bad += strcmp(mine[i].topic, topic) != 0;
    if (mine[i].queue_id >= 0 && mine[i].queue_id < 30)
      a->mine |= 1 << mine[i].queue_id;
  }
  pthread_mutex_unlock(&a->mu);
}

/* Two lite consumers split the topic's queues; their assignment callbacks
 * saw the same split (a partition of the topic's queues); mqadmin
 * consumerStatus shows a lite consumer's running info, statistics
 * included. */
TEST(two_consumers_split_the_queues_averagely) {
  char topic[128], group[128];
  make_topic(topic, sizeof(topic), "it_lite_split", 8);
  it_unique(group, sizeof(group), "it_lite_split_g");
  rmq_pull_consumer_t *pc[2];
  static assigned_t cb[2];
  for (int i = 0; i < 2; i++) {
    memset(&cb[i], 0, sizeof(cb[i]));
    pthread_mutex_init(&cb[i].mu, NULL);
    snprintf(cb[i].topic, sizeof(cb[i].topic), "%s", topic);
    rmq_conf_t *c = conf(group);
    rmq_conf_set(c, "instanceName", i ? "split-b" : "split-a", NULL, 0);
    rmq_conf_set(c, "rebalanceInterval", "500", NULL, 0);
    pc[i] = rmq_pull_consumer_new(NULL, c, NULL, 0);
    rmq_conf_destroy(c);
    REQUIRE(pc[i] != NULL);
    CHECK_ERR(rmq_pull_consumer_set_assignment_cb(pc[i], on_assigned, &cb[i]),
              RMQ_OK);
    CHECK_ERR(rmq_pull_consumer_subscribe(pc[i], topic, "*"), RMQ_OK);
    CHECK_ERR(rmq_pull_consumer_start(pc[i]), RMQ_OK);
  }
  const char *id0 = rmq_client_id(rmq_pull_consumer_client(pc[0]));
  const char *id1 = rmq_client_id(rmq_pull_consumer_client(pc[1]));
  int first = strcmp(id0, id1) < 0 ? 0 : 1;
  int64_t t_split = rmqi_now_ms();
  bool ok = false;
  rmq_queue_list_t as[2] = {{0}, {0}};
  for (int t = 0; t < 60 && !ok; t++) {
    usleep(250 * 1000);
    for (int i = 0; i < 2; i++) {
      rmq_queue_list_clear(&as[i]);
      rmq_pull_consumer_assignment(pc[i], &as[i]);
    }
    ok = as[0].n == 4 && as[1].n == 4;
  }
  CHECK(ok);
  for (int i = 0; i < 2 && ok; i++) {
    int lo = i == first ? 0 : 4;
    bool have[8] = {0};
    for (size_t k = 0; k < as[i].n; k++) {
      int q = as[i].queues[k].queue_id;
      CHECK(q >= lo && q < lo + 4);
      CHECK_STR(as[i].queues[k].broker_name, "broker-a");
      if (q < 0 || q >= 8)
        continue; /* failed above; not an index into have[] */
      CHECK(!have[q]);
      have[q] = true;
    }
  }
  /* the callbacks' last word is the same split: each the consumer's
   * assignment, together every queue of the topic, none twice (callbacks
   * run on a callback thread: wait until they caught up) */
  int mask[2] = {0, 0};
  for (int i = 0; i < 2; i++)
    for (size_t k = 0; k < as[i].n; k++)
      mask[i] |= 1 << as[i].queues[k].queue_id;
  int64_t end = rmqi_now_ms() + 5000;
  bool same = false;
  while (!same && rmqi_now_ms() < end) {
    same = true;
    for (int i = 0; i < 2; i++) {
      pthread_mutex_lock(&cb[i].mu);
      same = same && cb[i].mine == mask[i];
      pthread_mutex_unlock(&cb[i].mu);
    }
    if (!same)
      usleep(50 * 1000);
  }
  for (int i = 0; i < 2; i++) {
    pthread_mutex_lock(&cb[i].mu);
    CHECK(cb[i].calls >= 1);
    CHECK_INT(cb[i].bad, 0);
    CHECK_INT(cb[i].n_all, 8);
    CHECK_INT(cb[i].all, 0xff);
    CHECK_INT(cb[i].mine, mask[i]);
    pthread_mutex_unlock(&cb[i].mu);
  }
  CHECK_INT(cb[0].mine & cb[1].mine, 0);
  CHECK_INT(cb[0].mine | cb[1].mine, 0xff);

  /* messages to every queue; each consumer polls its share */
  rmq_producer_t *p = producer();
  REQUIRE(p != NULL);
  char id[64];
  for (int i = 0; i < 16; i++)
    send_one(p, topic, i, "TagA", false, id);
  rmq_producer_destroy(p, 3000);
  int got[2] = {0, 0};
  end = rmqi_now_ms() + 20000;
  while (got[0] + got[1] < 16 && rmqi_now_ms() < end)
    for (int i = 0; i < 2; i++) {
      rmq_msg_t *m[16];
      int k = rmq_pull_consumer_poll(pc[i], m, 16, 100);
      for (int j = 0; j < k; j++)
        rmq_msg_destroy(m[j]);
      got[i] += k > 0 ? k : 0;
    }
  CHECK_INT(got[0] + got[1], 16);
  fprintf(stderr, "split: assigned, called back, polled 16 after %lld ms\n",
          (long long)(rmqi_now_ms() - t_split));
  CHECK(got[0] > 0 && got[1] > 0);
  /* consumerStatus of one of them: its running info (GET_CONSUMER_RUNNING
   * _INFO), a pull consumer's, with the statistics among the properties */
  const char *cid = rmq_client_id(rmq_pull_consumer_client(pc[0]));
  char args[600], key[300], val[300], *out = NULL;
  snprintf(args, sizeof(args), "consumerStatus -g %s -i %s", group, cid);
  /* the tool finds the group's broker through the route of %RETRY%<group>,
   * which the broker made at our first heartbeat and registers with the
   * name server soon after: asked again until that is done */
  int rc = -1;
  for (int t = 0; t < 5 && rc != 0; t++) {
    if (t)
      usleep(2000 * 1000);
    free(out);
    out = NULL;
    rc = it_harness(&env, "mqadmin", args, &out);
    fprintf(stderr, "consumerStatus: attempt %d exited %d after %lld ms\n",
            t + 1, rc, (long long)(rmqi_now_ms() - t_split));
  }
  CHECK_INT(rc, 0);
  CHECK_STR(it_status_prop(out, "PROP_CONSUME_TYPE", val, sizeof(val)),
            "CONSUME_ACTIVELY");
  CHECK_STR(it_status_prop(out, "consumerGroup", val, sizeof(val)), group);
  snprintf(key, sizeof(key), "stats.%s.processed", topic);
  CHECK_INT(atoi(it_status_prop(out, key, val, sizeof(val))), got[0]);
  snprintf(key, sizeof(key), "stats.%s.failed", topic);
  CHECK_STR(it_status_prop(out, key, val, sizeof(val)), "0");
  int lag0 = 0;
  for (int q = 0; q < 8; q++) {
    snprintf(key, sizeof(key), "stats.%s.broker-a.%d.lag", topic, q);
    lag0 += strcmp(it_status_prop(out, key, val, sizeof(val)), "0") == 0;
    if (!(mask[0] & (1 << q)))
      CHECK_STR(val, ""); /* not its queue */
  }
  CHECK_INT(lag0, 4);
  if (out && strstr(out, "CONSUME_ACTIVELY") == NULL)
    fprintf(stderr, "consumerStatus said: %s\n", out);
  free(out);
  for (int i = 0; i < 2; i++) {
    rmq_queue_list_clear(&as[i]);
    rmq_pull_consumer_destroy(pc[i], 5000);
    pthread_mutex_destroy(&cb[i].mu);
  }
}

/* CONFIG takes exactly the configured queues; the broker knows the
 * consumer's subscription from its heartbeats (what the admin tool shows
 * comes from the broker's consumer table). */
TEST(by_config_strategy_and_subscription_seen_by_the_broker) {
  char topic[128], group[128], args[400];
  make_topic(topic, sizeof(topic), "it_lite_cfg", 8);
  it_unique(group, sizeof(group), "it_lite_cfg_g");
  rmq_conf_t *c = conf(group);
  char err[256];
  CHECK_ERR(rmq_conf_set(c, "allocateMessageQueueStrategy", "CONFIG", err,
                         sizeof(err)),
            RMQ_OK);
  CHECK_ERR(rmq_conf_set(c, "allocateMessageQueueConfig",
                         "broker-a:1;broker-a:6", err, sizeof(err)),
            RMQ_OK);
  CHECK_ERR(rmq_conf_set(c, "allocateMessageQueueConfig", "broker-a", err,
                         sizeof(err)),
            RMQ_ERR_CONF_INVALID);
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  REQUIRE(pc != NULL);
  CHECK_ERR(rmq_pull_consumer_subscribe(pc, topic, "TagX || TagY"), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  rmq_queue_list_t as = {0};
  for (int t = 0; t < 40 && as.n != 2; t++) {
    usleep(250 * 1000);
    rmq_queue_list_clear(&as);
    rmq_pull_consumer_assignment(pc, &as);
  }
  REQUIRE(as.n == 2);
  int a = as.queues[0].queue_id, b = as.queues[1].queue_id;
  CHECK((a == 1 && b == 6) || (a == 6 && b == 1));
  rmq_queue_list_clear(&as);
  char *out = NULL;
  snprintf(args, sizeof(args), "consumerConnection -g %s", group);
  CHECK_INT(it_harness(&env, "mqadmin", args, &out), 0);
  CHECK(out && strstr(out, rmq_client_id(rmq_pull_consumer_client(pc))));
  CHECK(out && strstr(out, topic) && strstr(out, "TagX || TagY"));
  CHECK(out && strstr(out, "CONSUME_ACTIVELY"));
  if (out && !strstr(out, "TagX || TagY"))
    fprintf(stderr, "consumerConnection said: %s\n", out);
  free(out);
  rmq_pull_consumer_destroy(pc, 5000);
  /* unregistered: the broker no longer lists the group's connection */
  out = NULL;
  it_harness(&env, "mqadmin", args, &out);
  CHECK(out == NULL || strstr(out, "CONSUME_ACTIVELY") == NULL);
  free(out);
}

TEST(seek_and_commit_survive_a_restart) {
  char topic[128], group[128], id[64], args[300];
  make_topic(topic, sizeof(topic), "it_lite_seek", 1);
  it_unique(group, sizeof(group), "it_lite_seek_g");
  rmq_producer_t *p = producer();
  REQUIRE(p != NULL);
  for (int i = 0; i < 10; i++)
    send_one(p, topic, i, "TagA", false, id);
  rmq_queue_t q = {topic, "broker-a", 0};
  rmq_conf_t *c = conf(group);
  rmq_conf_set(c, "autoCommit", "false", NULL, 0);
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, NULL, 0);
  REQUIRE(pc != NULL);
  CHECK_ERR(rmq_pull_consumer_assign(pc, &q, 1), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_seek_to_begin(pc, &q), RMQ_OK);
  rmq_msg_t *got[16];
  size_t n = poll_quiet(pc, got, 10, 16, 20000);
  CHECK_INT(n, 10);
  for (size_t k = 0; k < n; k++)
    CHECK_INT(rmq_msg_queue_offset(got[k]), (int64_t)k);
  destroy_all(got, n);
  CHECK_ERR(rmq_pull_consumer_seek(pc, &q, 4), RMQ_OK);
  n = poll_n(pc, got, 1, 10000);
  REQUIRE(n == 1);
  CHECK_INT(rmq_msg_queue_offset(got[0]), 4);
  destroy_all(got, n);
  CHECK_ERR(rmq_pull_consumer_seek(pc, &q, 11), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_pull_consumer_commit_queue(pc, &q, 7), RMQ_OK);
  int64_t off = -1;
  CHECK_ERR(rmq_pull_consumer_committed(pc, &q, &off), RMQ_OK);
  CHECK_INT(off, 7);
  rmq_pull_consumer_destroy(pc, 5000);

  /* a new consumer of the group starts at the committed offset */
  pc = rmq_pull_consumer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  REQUIRE(pc != NULL);
  CHECK_ERR(rmq_pull_consumer_assign(pc, &q, 1), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  n = poll_quiet(pc, got, 3, 16, 20000);
  CHECK_INT(n, 3);
  for (size_t k = 0; k < n; k++)
    CHECK_INT(rmq_msg_queue_offset(got[k]), (int64_t)(7 + k));
  destroy_all(got, n);
  CHECK_ERR(rmq_pull_consumer_commit(pc), RMQ_OK); /* polled up to 10 */
  rmq_pull_consumer_destroy(pc, 5000);

  /* and the admin tool sees it */
  char *out = NULL;
  snprintf(args, sizeof(args), "%s %s", group, topic);
  CHECK_INT(it_harness(&env, "offsets", args, &out), 0);
  /* "#Topic #Broker Name #QID #Broker Offset #Consumer Offset ..." */
  char want[300];
  snprintf(want, sizeof(want), "%s", topic);
  const char *row = out ? strstr(out, want) : NULL;
  long qid = -1, boff = -1, coff = -1;
  char bname[64] = "";
  if (row)
    sscanf(row + strlen(topic), " %63s %ld %ld %ld", bname, &qid, &boff, &coff);
  CHECK_STR(bname, "broker-a");
  CHECK_INT(qid, 0);
  CHECK_INT(boff, 10);
  CHECK_INT(coff, 10);
  if (coff != 10)
    fprintf(stderr, "offsets said: %s\n", out ? out : "");
  free(out);
  rmq_producer_destroy(p, 3000);
}

TEST(offset_for_timestamp_and_seek) {
  char topic[128], group[128], id[64], ts[32];
  make_topic(topic, sizeof(topic), "it_lite_ts", 1);
  it_unique(group, sizeof(group), "it_lite_ts_g");
  rmq_producer_t *p = producer();
  REQUIRE(p != NULL);
  for (int i = 0; i < 5; i++)
    send_one(p, topic, i, "TagA", false, id);
  /* The second half goes out right at second t, 2+ s after the first: a
   * 4.9 broker answers the message stored *closest* to the time (5.x the
   * first at or after it), and both are message 5 then. */
  time_t t = time(NULL) + 3;
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(ts, sizeof(ts), "%Y%m%d%H%M%S", &tm);
  while (time(NULL) < t)
    usleep(2 * 1000);
  for (int i = 5; i < 10; i++)
    send_one(p, topic, i, "TagA", false, id);
  rmq_pull_consumer_t *pc = consumer(group, "CONSUME_FROM_TIMESTAMP", ts);
  REQUIRE(pc != NULL);
  rmq_queue_t q = {topic, "broker-a", 0};
  int64_t off = -1;
  CHECK_ERR(
      rmq_pull_consumer_offset_for_timestamp(pc, &q, (int64_t)t * 1000, &off),
      RMQ_OK);
  CHECK_INT(off, 5);
  /* Seeking there delivers the second half only. (A new group's start on
   * a queue this young is the broker's answer to QUERY_CONSUMER_OFFSET,
   * 0, whatever consumeFromWhere says: Java starts there too; the Java
   * comparison is in test_it_consumer_java.) */
  CHECK_ERR(rmq_pull_consumer_assign(pc, &q, 1), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_seek(pc, &q, off), RMQ_OK);
  rmq_msg_t *got[16];
  size_t n = poll_n(pc, got, 5, 20000);
  n += (size_t)RMQI_MAX(rmq_pull_consumer_poll(pc, got + n, 16 - n, 1000), 0);
  CHECK_INT(n, 5);
  for (size_t k = 0; k < n; k++)
    CHECK_INT(prop_i(got[k]), (int)(5 + k));
  destroy_all(got, n);
  rmq_pull_consumer_destroy(pc, 5000);
  rmq_producer_destroy(p, 3000);
}

/* A paused queue is not pulled; resume() brings its messages. The pause
 * comes before start(), so no pull of the queue is in flight (one in
 * flight before a pause still delivers, as in Java). */
/* destroy() commits what was polled from every queue, and waits for the
 * broker's answers: a new consumer of the group finds each queue's offset
 * where the last one stopped. The broker makes a group's table on its
 * first commit without a compare-and-set (ConsumerOffsetManager
 * .commitOffset): eight first commits sent at once lost one (answered
 * SUCCESS) in 300 rounds of this case on 4.9.7, so destroy sends one
 * first. A fresh group a round, each destroyed before its first periodic
 * commit. */
TEST(destroy_commits_every_queue_of_a_new_group) {
  enum { Q = 8, PER = 2, ROUNDS = 100 };
  char topic[128], group[128];
  make_topic(topic, sizeof(topic), "it_lite_final", Q);
  rmq_producer_t *p = producer();
  REQUIRE(p != NULL);
  rmq_queue_t qs[Q];
  for (int i = 0; i < Q * PER; i++) {
    rmq_msg_t *m = rmq_msg_new(topic);
    char b[16];
    rmq_msg_set_body(m, b, (size_t)snprintf(b, sizeof(b), "f%d", i));
    CHECK_ERR(rmq_producer_send_to_queue(p, m, "broker-a", i % Q, NULL),
              RMQ_OK);
    rmq_msg_destroy(m);
  }
  for (int q = 0; q < Q; q++)
    qs[q] = (rmq_queue_t){topic, "broker-a", q};
  int wrong = 0;
  for (int r = 0; r < ROUNDS; r++) {
    it_unique(group, sizeof(group), "it_lite_final_g");
    rmq_pull_consumer_t *pc =
        consumer(group, "CONSUME_FROM_FIRST_OFFSET", NULL);
    REQUIRE(pc != NULL);
    CHECK_ERR(rmq_pull_consumer_assign(pc, qs, Q), RMQ_OK);
    CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
    rmq_msg_t *got[Q * PER];
    size_t n = poll_n(pc, got, Q * PER, 15000);
    CHECK_INT(n, Q * PER);
    destroy_all(got, n);
    rmq_pull_consumer_destroy(pc, 5000);
    /* what the broker has, asked by a consumer of the group not started */
    rmq_pull_consumer_t *chk = consumer(group, NULL, NULL);
    REQUIRE(chk != NULL);
    for (int q = 0; q < Q; q++) {
      int64_t off = -1;
      rmq_err_t rc = rmq_pull_consumer_committed(chk, &qs[q], &off);
      if (rc != RMQ_OK || off != PER) {
        fprintf(stderr, "round %d queue %d: committed %lld (%s), want %d\n",
                r, q, (long long)off, rmq_err_name(rc), PER);
        wrong++;
      }
    }
    rmq_pull_consumer_destroy(chk, 5000);
  }
  CHECK_INT(wrong, 0);
  rmq_producer_destroy(p, 3000);
}

TEST(pause_and_resume) {
  char topic[128], group[128], id[64];
  make_topic(topic, sizeof(topic), "it_lite_pause", 2);
  it_unique(group, sizeof(group), "it_lite_pause_g");
  rmq_producer_t *p = producer();
  REQUIRE(p != NULL);
  rmq_pull_consumer_t *pc = consumer(group, "CONSUME_FROM_FIRST_OFFSET", NULL);
  REQUIRE(pc != NULL);
  rmq_queue_t qs[2] = {{topic, "broker-a", 0}, {topic, "broker-a", 1}};
  CHECK_ERR(rmq_pull_consumer_assign(pc, qs, 2), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_pause(pc, &qs[1], 1), RMQ_OK);
  rmq_queue_t other = {topic, "broker-a", 7};
  CHECK_ERR(rmq_pull_consumer_pause(pc, &other, 1), RMQ_ERR_STATE);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  for (int i = 0; i < 6; i++) {
    rmq_msg_t *m = rmq_msg_new(topic);
    char b[16];
    rmq_msg_set_body(m, b, (size_t)snprintf(b, sizeof(b), "p%d", i));
    CHECK_ERR(rmq_producer_send_to_queue(p, m, "broker-a", i % 2, NULL),
              RMQ_OK);
    rmq_msg_destroy(m);
  }
  (void)id;
  rmq_msg_t *got[16];
  size_t n = poll_n(pc, got, 3, 15000);
  n += (size_t)RMQI_MAX(rmq_pull_consumer_poll(pc, got + n, 16 - n, 2500), 0);
  CHECK_INT(n, 3); /* queue 0 only */
  for (size_t k = 0; k < n; k++)
    CHECK_INT(rmq_msg_queue_id(got[k]), 0);
  destroy_all(got, n);
  CHECK_ERR(rmq_pull_consumer_resume(pc, &qs[1], 1), RMQ_OK);
  n = poll_quiet(pc, got, 3, 16, 15000);
  CHECK_INT(n, 3);
  for (size_t k = 0; k < n; k++)
    CHECK_INT(rmq_msg_queue_id(got[k]), 1);
  destroy_all(got, n);
  rmq_pull_consumer_destroy(pc, 5000);
  rmq_producer_destroy(p, 3000);
}

TEST(raw_pull_outcomes) {
  char topic[128], group[128], id[64];
  make_topic(topic, sizeof(topic), "it_lite_raw", 2);
  it_unique(group, sizeof(group), "it_lite_raw_g");
  rmq_producer_t *p = producer();
  REQUIRE(p != NULL);
  rmq_pull_consumer_t *pc = consumer(group, NULL, NULL);
  REQUIRE(pc != NULL);
  rmq_queue_list_t qs = {0};
  CHECK_ERR(rmq_pull_consumer_fetch_queues(pc, topic, &qs), RMQ_OK);
  CHECK_INT(qs.n, 2);
  rmq_queue_t q0 = {topic, "broker-a", 0};
  for (int i = 0; i < 6; i++) {
    rmq_msg_t *m = rmq_msg_new(topic);
    char b[16];
    rmq_msg_set_body(m, b, (size_t)snprintf(b, sizeof(b), "r%d", i));
    rmq_msg_set_tags(m, i % 2 ? "TagB" : "TagA");
    CHECK_ERR(rmq_producer_send_to_queue(p, m, "broker-a", 0, NULL), RMQ_OK);
    rmq_msg_destroy(m);
  }
  (void)id;
  rmq_pull_result_t r;
  /* the broker's consume queue follows its commit log a moment later */
  for (int t = 0; t < 30; t++) {
    CHECK_ERR(rmq_pull_consumer_pull(pc, &q0, "*", 0, 32, 5000, &r), RMQ_OK);
    if (r.n_msgs == 6)
      break;
    rmq_pull_result_clear(&r);
    usleep(100 * 1000);
  }
  CHECK_INT(r.status, RMQ_PULL_FOUND);
  CHECK_INT(r.n_msgs, 6);
  CHECK_INT(r.next_begin_offset, 6);
  CHECK_INT(r.max_offset, 6);
  rmq_pull_result_clear(&r);
  CHECK_ERR(rmq_pull_consumer_pull(pc, &q0, "TagB", 0, 32, 5000, &r), RMQ_OK);
  CHECK_INT(r.status, RMQ_PULL_FOUND);
  CHECK_INT(r.n_msgs, 3);
  for (size_t k = 0; k < r.n_msgs; k++)
    CHECK_STR(rmq_msg_tags(r.msgs[k]), "TagB");
  rmq_pull_result_clear(&r);
  CHECK_ERR(rmq_pull_consumer_pull(pc, &q0, NULL, 6, 32, 5000, &r), RMQ_OK);
  CHECK_INT(r.status, RMQ_PULL_NO_NEW_MSG);
  rmq_pull_result_clear(&r);
  CHECK_ERR(rmq_pull_consumer_pull(pc, &q0, NULL, 1000, 32, 5000, &r), RMQ_OK);
  CHECK_INT(r.status, RMQ_PULL_OFFSET_ILLEGAL);
  rmq_pull_result_clear(&r);
  rmq_queue_list_clear(&qs);
  rmq_pull_consumer_destroy(pc, 3000);
  rmq_producer_destroy(p, 3000);
}

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {
      TCASE(subscribe_poll_returns_every_message_exactly),
      TCASE(subscribe_poll_with_rocketmq_headers_returns_every_message_exactly),
      TCASE(tag_filter_delivers_exactly_the_matching_messages),
      TCASE(two_consumers_split_the_queues_averagely),
      TCASE(by_config_strategy_and_subscription_seen_by_the_broker),
      TCASE(seek_and_commit_survive_a_restart),
      TCASE(offset_for_timestamp_and_seek),
      TCASE(destroy_commits_every_queue_of_a_new_group),
      TCASE(pause_and_resume),
      TCASE(raw_pull_outcomes)};
  return RUN_TESTS(cases);
}
