/* The producer against real brokers, checked by the official Java client
 * (tests/interop/peer) consuming what we sent, field by field. */
#include "client/msg.h"
#include "codec/json.h"
#include "it.h"
#include "it_peer_consume.h"
#include "producer/wire.h"
#include "test.h"
#include "util/time.h"

#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static it_env_t env;

/* A producer with one setting @p k = @p v (none when NULL), and a second
 * @p k2 = @p v2 (none when NULL). */
static rmq_producer_t *producer2(const char *k, const char *v, const char *k2,
                                 const char *v2) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "producerGroup", "it_producer", NULL, 0);
  rmq_conf_set(c, "logLevel", "warn", NULL, 0);
  if (k)
    rmq_conf_set(c, k, v, NULL, 0);
  if (k2)
    rmq_conf_set(c, k2, v2, NULL, 0);
  char err[256];
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  if (p == NULL)
    fprintf(stderr, "producer: %s\n", err);
  rmq_conf_destroy(c);
  return p;
}

static rmq_producer_t *producer(const char *k, const char *v) {
  return producer2(k, v, NULL, NULL);
}

static void new_topic(char *t, size_t n, const char *prefix, int queues) {
  it_unique(t, n, prefix);
  char args[256];
  snprintf(args, sizeof(args), "%s --queues %d", t, queues);
  if (it_harness(&env, "topic", args, NULL) != 0)
    rmqt_fail(__FILE__, __LINE__, "cannot create topic %s", t);
}

/* The Java consumer saw exactly what we sent. */
static void expect_same(consumed_t *c, const char *msg_id, const rmq_msg_t *m) {
  const rmqi_jval_t *j = by_id(c, msg_id);
  if (j == NULL) {
    rmqt_fail(__FILE__, __LINE__, "Java consumer did not receive %s", msg_id);
    return;
  }
  size_t len;
  const void *body = rmq_msg_body(m, &len);
  char sha[65];
  sha256_hex(body, len, sha);
  CHECK_STR(rmqi_json_str(j, "bodySha256"), sha);
  CHECK_STR(rmqi_json_str(j, "tags"), rmq_msg_tags(m));
  CHECK_STR(rmqi_json_str(j, "keys"), rmq_msg_keys(m));
  const rmqi_jval_t *up = rmqi_json_get(j, "userProps");
  size_t user = 0;
  for (size_t i = 0; i < rmq_msg_property_count(m); i++) {
    const char *k, *v;
    rmq_msg_property_at(m, i, &k, &v);
    if (rmqi_prop_is_reserved(k))
      continue;
    user++;
    CHECK_STR(rmqi_json_str(up, k), v);
  }
  CHECK_UINT(up ? up->n : 0, user);
}

static rmq_msg_t *make(const char *topic, const void *body, size_t len,
                       const char *tag) {
  rmq_msg_t *m = rmq_msg_new(topic);
  rmq_msg_set_body(m, body, len);
  if (tag)
    rmq_msg_set_tags(m, tag);
  return m;
}

static _Atomic int async_ok, async_calls;
static char async_id[64];
static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p;
  (void)m;
  (void)op;
  if (err == RMQ_OK) {
    snprintf(async_id, sizeof(async_id), "%s", res->msg_id);
    atomic_fetch_add(&async_ok, 1);
  }
  atomic_fetch_add(&async_calls, 1);
}

/* Every send mode, its messages as Java reads them; @p ser: the headers'
 * encoding (serializeType). */
static void send_modes(const char *ser) {
  char topic[128];
  new_topic(topic, sizeof(topic), "it_modes", 4);
  rmq_producer_t *p = producer("serializeType", ser);
  REQUIRE(p != NULL);
  /* 1 byte, 4 KiB + 1 (compressed), ~4 MiB of incompressible bytes. */
  size_t big_len = 4 * 1024 * 1024 - 8192;
  uint8_t *big = malloc(big_len);
  uint32_t x = 12345;
  for (size_t i = 0; i < big_len; i++) {
    x = x * 1103515245 + 12345;
    big[i] = (uint8_t)(x >> 16);
  }
  char mid[4097];
  for (size_t i = 0; i < sizeof(mid); i++)
    mid[i] = (char)('a' + i % 26);
  rmq_msg_t *ms[6];
  ms[0] = make(topic, "x", 1, "TagA");
  rmq_msg_set_keys(ms[0], "k1 k2");
  rmq_msg_set_property(ms[0], "color", "红色");
  rmq_msg_set_property(ms[0], "emoji", "😀 ok");
  ms[1] = make(topic, mid, sizeof(mid), "TagB");
  ms[2] = make(topic, big, big_len, NULL);
  ms[3] = make(topic, "oneway body", 11, "TagO");
  ms[4] = make(topic, "batch one", 9, "B1");
  ms[5] = make(topic, "batch two", 9, "B2");
  rmq_msg_set_property(ms[5], "k", "v");
  char ids[8][160];
  rmq_send_result_t r;
  for (int i = 0; i < 3; i++) {
    CHECK_ERR(rmq_producer_send(p, ms[i], &r), RMQ_OK);
    CHECK_INT(r.status, RMQ_SEND_OK);
    CHECK(r.offset_msg_id && strlen(r.offset_msg_id) == 32);
    snprintf(ids[i], sizeof(ids[i]), "%s", r.msg_id);
    rmq_send_result_clear(&r);
  }
  /* oneway: no result, so a key unique to this send finds it again */
  rmq_msg_t *ow = make(topic, "oneway body", 11, "TagO");
  char ow_key[128];
  it_unique(ow_key, sizeof(ow_key), "oneway_key");
  rmq_msg_set_keys(ow, ow_key);
  CHECK_ERR(rmq_producer_send_oneway(p, ow), RMQ_OK);
  CHECK_ERR(rmq_producer_send_batch(p, &ms[4], 2, &r), RMQ_OK);
  char batch_ids[160];
  snprintf(batch_ids, sizeof(batch_ids), "%s", r.msg_id);
  rmq_send_result_clear(&r);
  char *comma = strchr(batch_ids, ',');
  REQUIRE(comma != NULL);
  *comma = '\0';
  snprintf(ids[4], sizeof(ids[4]), "%s", batch_ids);
  snprintf(ids[5], sizeof(ids[5]), "%s", comma + 1);
  atomic_store(&async_ok, 0);
  atomic_store(&async_calls, 0);
  rmq_msg_t *am = make(topic, "async body", 10, "TagAsync");
  rmq_msg_t *am_copy = make(topic, "async body", 10, "TagAsync");
  CHECK_ERR(rmq_producer_send_async(p, am, on_sent, NULL), RMQ_OK);
  CHECK_ERR(rmq_producer_flush(p, 10000), RMQ_OK);
  CHECK_INT(atomic_load(&async_ok), 1);
  consumed_t c;
  consume(&env, &c, topic, 7, NULL);
  /* the oneway message: the one line with its key gives its id */
  const char *ow_id = NULL;
  size_t ow_seen = 0;
  for (size_t i = 0; i < c.n; i++) {
    const char *k = rmqi_json_str(c.docs[i].root, "keys");
    if (k && strcmp(k, ow_key) == 0) {
      ow_seen++;
      ow_id = rmqi_json_str(c.docs[i].root, "msgId");
    }
  }
  CHECK_UINT(ow_seen, 1);
  const char *want[7] = {ids[0],
                         ids[1],
                         ids[2],
                         ids[4],
                         ids[5],
                         async_id,
                         ow_id ? ow_id : "(oneway unseen)"};
  expect_ids(&c, want, 7);
  for (int i = 0; i < 3; i++)
    expect_same(&c, ids[i], ms[i]);
  expect_same(&c, ids[4], ms[4]);
  expect_same(&c, ids[5], ms[5]);
  expect_same(&c, async_id, am_copy);
  if (ow_id)
    expect_same(&c, ow_id, ow);
  /* The 4 KiB + 1 body travelled compressed (zlib bits in sysFlag). */
  const rmqi_jval_t *j = by_id(&c, ids[1]);
  int64_t sf = 0;
  CHECK(j && rmqi_json_int(j, "sysFlag", &sf) && (sf & 0x300) == 0x300);
  consumed_free(&c);
  for (int i = 0; i < 6; i++)
    rmq_msg_destroy(ms[i]);
  rmq_msg_destroy(ow);
  rmq_msg_destroy(am_copy);
  free(big);
  rmq_producer_destroy(p, 5000);
  /* destroy completed every callback: still exactly the one */
  CHECK_INT(atomic_load(&async_calls), 1);
  CHECK_INT(atomic_load(&async_ok), 1);
}

TEST(every_send_mode_arrives_byte_exact_in_java) { send_modes("JSON"); }

/* The binary header encoding (RocketMQSerializable): a 4.x broker answers
 * in kind, a 5.x one in JSON; both read it. */
TEST(every_send_mode_with_rocketmq_headers_arrives_byte_exact_in_java) {
  send_modes("ROCKETMQ");
}

/* Async sends of large bodies, which the connection writes from the
 * message's own body (no copy in its output) until the broker has read
 * them: 1 MiB and 256 KiB bodies handed over without a copy
 * (rmq_msg_set_body_owned, freed with the message after its callback),
 * all in flight at once, arrive byte for byte in the Java consumer. */
enum { BIG_N = 12 };
static _Atomic int big_ok, big_calls;
static char big_ids[BIG_N][64];
static void on_big(rmq_producer_t *p, rmq_err_t err,
                   const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p;
  (void)m;
  int i = (int)(intptr_t)op;
  if (err == RMQ_OK && res->msg_id) {
    snprintf(big_ids[i], sizeof(big_ids[i]), "%s", res->msg_id);
    atomic_fetch_add(&big_ok, 1);
  } else {
    fprintf(stderr, "large send %d: %s\n", i, rmq_err_name(err));
  }
  atomic_fetch_add(&big_calls, 1);
}

static void big_body(uint8_t *b, size_t len, int i) {
  uint32_t x = 777u + (uint32_t)i;
  for (size_t k = 0; k < len; k++) {
    x = x * 1103515245 + 12345;
    b[k] = (uint8_t)(x >> 16);
  }
}

TEST(large_async_bodies_arrive_byte_exact_in_java) {
  char topic[128];
  new_topic(topic, sizeof(topic), "it_large", 4);
  /* a broker's first large writes on a loaded machine may be slow: the
   * test is about bytes, not speed */
  rmq_producer_t *p = producer2("compressMsgBodyOverHowmuch", "2147483647",
                                "sendMsgTimeout", "20000");
  REQUIRE(p != NULL);
  rmq_msg_t *copies[BIG_N];
  atomic_store(&big_ok, 0);
  atomic_store(&big_calls, 0);
  for (int i = 0; i < BIG_N; i++) {
    size_t len = i % 2 ? (size_t)256 * 1024 : (size_t)1 << 20;
    uint8_t *b = malloc(len);
    REQUIRE(b);
    big_body(b, len, i);
    copies[i] = make(topic, b, len, "Big");
    rmq_msg_t *m = rmq_msg_new(topic);
    rmq_msg_set_tags(m, "Big");
    REQUIRE(rmq_msg_set_body_owned(m, b, len, free) == RMQ_OK);
    CHECK_ERR(rmq_producer_send_async(p, m, on_big, (void *)(intptr_t)i),
              RMQ_OK);
  }
  CHECK_ERR(rmq_producer_flush(p, 30000), RMQ_OK);
  CHECK_INT(atomic_load(&big_ok), BIG_N);
  consumed_t c;
  consume(&env, &c, topic, BIG_N, NULL);
  const char *want[BIG_N];
  for (int i = 0; i < BIG_N; i++)
    want[i] = big_ids[i];
  expect_ids(&c, want, BIG_N);
  for (int i = 0; i < BIG_N; i++)
    expect_same(&c, big_ids[i], copies[i]);
  consumed_free(&c);
  for (int i = 0; i < BIG_N; i++)
    rmq_msg_destroy(copies[i]);
  rmq_producer_destroy(p, 5000);
  CHECK_INT(atomic_load(&big_calls), BIG_N);
}

TEST(ordered_sends_pick_javas_queue_in_order) {
  char topic[128];
  new_topic(topic, sizeof(topic), "it_order", 8);
  rmq_producer_t *p = producer(NULL, NULL);
  REQUIRE(p != NULL);
  static const char *const keys[] = {"ORDER_1", "订单-2", "k😀"};
  char *hash_out = NULL, sent_ids[9][64];
  char args[256];
  snprintf(args, sizeof(args), "hash --queues 8 ORDER_1 订单-2 k😀");
  CHECK_INT(it_peer(&env, args, NULL, &hash_out), 0);
  for (int round = 0; round < 3; round++)
    for (int k = 0; k < 3; k++) {
      char body[64];
      snprintf(body, sizeof(body), "%s step %d", keys[k], round);
      rmq_msg_t *m = make(topic, body, strlen(body), "O");
      rmq_msg_set_sharding_key(m, keys[k]);
      rmq_send_result_t r;
      CHECK_ERR(rmq_producer_send_orderly(p, m, &r), RMQ_OK);
      snprintf(sent_ids[round * 3 + k], sizeof(sent_ids[0]), "%s",
               r.msg_id ? r.msg_id : "(send failed)");
      /* Java's SelectMessageQueueByHash index, from the peer. */
      char want[128];
      snprintf(want, sizeof(want), "\"queueIndex\":%d", r.queue_id);
      int32_t h = rmqi_java_hash(keys[k], strlen(keys[k]));
      char hs[64];
      snprintf(hs, sizeof(hs), "\"hashCode\":%d", (int)h);
      CHECK(hash_out && strstr(hash_out, hs) != NULL);
      char *line = hash_out ? strstr(hash_out, hs) : NULL;
      char *eol = line ? strchr(line, '\n') : NULL;
      if (eol)
        *eol = '\0';
      CHECK(line && strstr(line, want) != NULL);
      if (eol)
        *eol = '\n';
      rmq_send_result_clear(&r);
      rmq_msg_destroy(m);
    }
  free(hash_out);
  consumed_t c;
  consume(&env, &c, topic, 9, NULL);
  const char *want[9];
  for (int i = 0; i < 9; i++)
    want[i] = sent_ids[i];
  expect_ids(&c, want, 9);
  /* Within one key, queue offsets grow in send order. */
  for (int k = 0; k < 3; k++) {
    int64_t last = -1, queue = -1;
    for (int round = 0; round < 3; round++) {
      char body[64];
      snprintf(body, sizeof(body), "%s step %d", keys[k], round);
      for (size_t i = 0; i < c.n; i++) {
        const char *t = rmqi_json_str(c.docs[i].root, "bodyText");
        if (t == NULL || strcmp(t, body) != 0)
          continue;
        int64_t off = -1, q = -1;
        CHECK(rmqi_json_int(c.docs[i].root, "queueOffset", &off));
        CHECK(rmqi_json_int(c.docs[i].root, "queueId", &q));
        CHECK(off > last);
        CHECK(queue < 0 || q == queue);
        last = off;
        queue = q;
      }
    }
  }
  consumed_free(&c);
  rmq_producer_destroy(p, 5000);
}

TEST(delayed_message_is_not_visible_early) {
  char topic[128];
  new_topic(topic, sizeof(topic), "it_delay", 1);
  rmq_producer_t *p = producer(NULL, NULL);
  rmq_msg_t *m = make(topic, "later", 5, "D");
  rmq_msg_set_delay_level(m, 2); /* 5 s */
  int64_t sent = rmqi_wall_ms();
  rmq_send_result_t r;
  char delayed_id[64] = "(send failed)", timer_id[64] = "(send failed)";
  CHECK_ERR(rmq_producer_send(p, m, &r), RMQ_OK);
  if (r.msg_id)
    snprintf(delayed_id, sizeof(delayed_id), "%s", r.msg_id);
  rmq_send_result_clear(&r);
  consumed_t c;
  consume(&env, &c, topic, 1, NULL);
  const char *one[1] = {delayed_id};
  expect_ids(&c, one, 1);
  REQUIRE(c.n == 1);
  int64_t got = 0;
  rmqi_json_int(c.docs[0].root, "receivedMs", &got);
  CHECK(got - sent >= 4500);
  consumed_free(&c);
  if (env.major >= 5) { /* 5.x timer wheel: an absolute delivery time */
    rmq_msg_t *t = make(topic, "timer", 5, "T");
    rmq_msg_set_deliver_time(t, rmqi_wall_ms() + 3000);
    sent = rmqi_wall_ms();
    CHECK_ERR(rmq_producer_send(p, t, &r), RMQ_OK);
    if (r.msg_id)
      snprintf(timer_id, sizeof(timer_id), "%s", r.msg_id);
    rmq_send_result_clear(&r);
    consume(&env, &c, topic, 2, NULL); /* a new group sees both */
    const char *both[2] = {delayed_id, timer_id};
    expect_ids(&c, both, 2);
    bool found = false;
    for (size_t i = 0; i < c.n; i++) {
      const char *b = rmqi_json_str(c.docs[i].root, "bodyText");
      if (b && strcmp(b, "timer") == 0) {
        rmqi_json_int(c.docs[i].root, "storeTimestamp", &got);
        found = true;
        CHECK(got - sent >= 2000); /* stored in the queue when due */
      }
    }
    CHECK(found);
    consumed_free(&c);
    rmq_msg_destroy(t);
  }
  rmq_msg_destroy(m);
  rmq_producer_destroy(p, 5000);
}

TEST(refusals_are_clear) {
  rmq_producer_t *p = producer("createTopicKey", "NoSuchTemplateTopic");
  char topic[128];
  it_unique(topic, sizeof(topic), "it_missing");
  rmq_msg_t *m = make(topic, "x", 1, NULL);
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, m, &r), RMQ_TOPIC_NOT_EXIST);
  CHECK(r.error && strstr(r.error, topic) != NULL);
  rmq_send_result_clear(&r);
  rmq_msg_t *e = rmq_msg_new("TopicX");
  CHECK_ERR(rmq_producer_send(p, e, &r), RMQ_ERR_MSG_EMPTY);
  rmq_send_result_clear(&r);
  uint8_t *big = calloc(1, 4194305);
  rmq_msg_set_body(e, big, 4194305);
  CHECK_ERR(rmq_producer_send(p, e, &r), RMQ_ERR_MSG_TOO_LARGE);
  rmq_send_result_clear(&r);
  free(big);
  rmq_msg_destroy(e);
  rmq_msg_destroy(m);
  rmq_producer_destroy(p, 1000);
}

TEST(several_clients_and_producers_in_one_process) {
  char topic[128];
  new_topic(topic, sizeof(topic), "it_multi", 4);
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "logLevel", "warn", NULL, 0);
  rmq_client_t *shared = rmq_client_new(c, NULL, 0);
  REQUIRE(shared != NULL);
  rmq_conf_set(c, "producerGroup", "it_pg_a", NULL, 0);
  rmq_producer_t *a = rmq_producer_new(shared, c, NULL, 0);
  rmq_conf_set(c, "producerGroup", "it_pg_b", NULL, 0);
  rmq_producer_t *b = rmq_producer_new(shared, c, NULL, 0);
  rmq_producer_t *own = producer(NULL, NULL);
  REQUIRE(a && b && own);
  rmq_producer_t *ps[] = {a, b, own};
  char sent_ids[30][64];
  for (int i = 0; i < 30; i++) {
    rmq_msg_t *m = make(topic, "multi", 5, "M");
    rmq_send_result_t r;
    CHECK_ERR(rmq_producer_send(ps[i % 3], m, &r), RMQ_OK);
    snprintf(sent_ids[i], sizeof(sent_ids[i]), "%s",
             r.msg_id ? r.msg_id : "(send failed)");
    rmq_send_result_clear(&r);
    rmq_msg_destroy(m);
  }
  rmq_producer_destroy(a, 1000);
  rmq_producer_destroy(b, 1000);
  rmq_producer_destroy(own, 1000);
  rmq_client_destroy(shared, 1000);
  rmq_conf_destroy(c);
  consumed_t got;
  consume(&env, &got, topic, 30, NULL);
  const char *want[30];
  for (int i = 0; i < 30; i++)
    want[i] = sent_ids[i];
  expect_ids(&got, want, 30);
  consumed_free(&got);
}

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {
      TCASE(every_send_mode_arrives_byte_exact_in_java),
      TCASE(every_send_mode_with_rocketmq_headers_arrives_byte_exact_in_java),
      TCASE(large_async_bodies_arrive_byte_exact_in_java),
      TCASE(ordered_sends_pick_javas_queue_in_order),
      TCASE(delayed_message_is_not_visible_early),
      TCASE(refusals_are_clear),
      TCASE(several_clients_and_producers_in_one_process),
  };
  return RUN_TESTS(cases);
}
