/* autoBatch against real brokers: the official Java client consumes every
 * auto-batched message byte-exact, with its tags, keys and properties, and
 * sees each one under the msgId, offset msgId, queue and queue offset its
 * own callback reported; open batches leave on destroy. */
#include "it.h"
#include "it_peer_consume.h"
#include "test.h"
#include "util/time.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static it_env_t env;

static rmq_producer_t *producer(const char *delay_ms) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "producerGroup", "it_autobatch", NULL, 0);
  rmq_conf_set(c, "logLevel", "warn", NULL, 0);
  rmq_conf_set(c, "autoBatch", "true", NULL, 0);
  rmq_conf_set(c, "batchMaxDelayMs", delay_ms, NULL, 0);
  char err[256];
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  if (p == NULL)
    fprintf(stderr, "producer: %s\n", err);
  rmq_conf_destroy(c);
  return p;
}

static void new_topic(char *t, size_t n) {
  it_unique(t, n, "it_autobatch");
  char args[256];
  snprintf(args, sizeof(args), "%s --queues 4", t);
  if (it_harness(&env, "topic", args, NULL) != 0)
    rmqt_fail(__FILE__, __LINE__, "cannot create topic %s", t);
}

#define MAXM 48

/* Each message as sent, and what its callback said. */
typedef struct sent {
  char body[4200];
  size_t len;
  char tag[8], keys[64], pval[64];
  _Atomic int calls;
  rmq_err_t err;
  char msg_id[64], off_id[64];
  int32_t queue_id;
  int64_t queue_offset;
} sent_t;
static sent_t sent[MAXM];

static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p;
  (void)m;
  sent_t *s = &sent[(intptr_t)op];
  if (atomic_fetch_add(&s->calls, 1) == 0) {
    s->err = err;
    snprintf(s->msg_id, sizeof(s->msg_id), "%s", res->msg_id);
    snprintf(s->off_id, sizeof(s->off_id), "%s", res->offset_msg_id);
    s->queue_id = res->queue_id;
    s->queue_offset = res->queue_offset;
  }
}

/* 1 B, 4 KiB + 1 (batches are never compressed) and 300 B bodies, two
 * tags, unicode keys and properties. */
static rmq_msg_t *make(const char *topic, int i) {
  sent_t *s = &sent[i];
  s->len = i % 3 == 0 ? 1 : i % 3 == 1 ? 4097 : 300;
  for (size_t k = 0; k < s->len; k++)
    s->body[k] = (char)(k * 31 + (size_t)i * 7 + 1);
  snprintf(s->tag, sizeof(s->tag), "%s", i % 2 ? "TagA" : "TagB");
  snprintf(s->keys, sizeof(s->keys), "ключ-%d 键%d", i, i);
  snprintf(s->pval, sizeof(s->pval), "värde-%d ✓", i);
  rmq_msg_t *m = rmq_msg_new(topic);
  rmq_msg_set_body(m, s->body, s->len);
  rmq_msg_set_tags(m, s->tag);
  rmq_msg_set_keys(m, s->keys);
  rmq_msg_set_property(m, "prop-é", s->pval);
  return m;
}

/* Java consumed exactly the first @p n messages' ids, each once. */
static void expect_all(consumed_t *c, int n) {
  const char *ids[MAXM];
  for (int i = 0; i < n; i++)
    ids[i] = sent[i].msg_id;
  expect_ids(c, ids, (size_t)n);
}

/* Java saw message @p i as sent, where its callback said it went. */
static void expect_same(consumed_t *c, int i) {
  sent_t *s = &sent[i];
  const rmqi_jval_t *j = by_id(c, s->msg_id);
  if (j == NULL) {
    rmqt_fail(__FILE__, __LINE__, "Java did not receive %d (%s)", i, s->msg_id);
    return;
  }
  char sha[65];
  sha256_hex(s->body, s->len, sha);
  CHECK_STR(rmqi_json_str(j, "bodySha256"), sha);
  CHECK_STR(rmqi_json_str(j, "tags"), s->tag);
  CHECK_STR(rmqi_json_str(j, "keys"), s->keys);
  const rmqi_jval_t *up = rmqi_json_get(j, "userProps");
  CHECK_STR(rmqi_json_str(up, "prop-é"), s->pval);
  CHECK_UINT(up ? up->n : 0, 1);
  CHECK_STR(rmqi_json_str(j, "offsetMsgId"), s->off_id);
  int64_t v;
  CHECK(rmqi_json_int(j, "queueId", &v) && v == s->queue_id);
  CHECK(rmqi_json_int(j, "queueOffset", &v) && v == s->queue_offset);
}

TEST(autobatched_sends_arrive_byte_exact_in_java) {
  char topic[128];
  new_topic(topic, sizeof(topic));
  rmq_producer_t *p = producer("50");
  REQUIRE(p != NULL);
  memset(sent, 0, sizeof(sent));
  for (int i = 0; i < MAXM; i++) {
    rmq_msg_t *m = make(topic, i);
    CHECK_ERR(rmq_producer_send_async(p, m, on_sent, (void *)(intptr_t)i),
              RMQ_OK);
  }
  CHECK_ERR(rmq_producer_flush(p, 15000), RMQ_OK);
  int together = 0;
  for (int i = 0; i < MAXM; i++) {
    CHECK_INT(atomic_load(&sent[i].calls), 1);
    CHECK_ERR(sent[i].err, RMQ_OK);
    /* One batch, one queue, consecutive offsets; round-robin single
     * sends would have put the next message of the tag elsewhere. */
    if (i + 2 < MAXM && sent[i + 2].queue_id == sent[i].queue_id &&
        sent[i + 2].queue_offset == sent[i].queue_offset + 1)
      together++;
  }
  CHECK(together >= MAXM / 2);
  consumed_t c;
  consume(&env, &c, topic, MAXM, NULL);
  expect_all(&c, MAXM);
  for (int i = 0; i < MAXM; i++)
    expect_same(&c, i);
  consumed_free(&c);
  rmq_producer_destroy(p, 5000);
  /* destroy completed every callback: still exactly one each */
  for (int i = 0; i < MAXM; i++)
    CHECK_INT(atomic_load(&sent[i].calls), 1);
}

TEST(destroy_sends_what_is_still_open) {
  char topic[128];
  new_topic(topic, sizeof(topic));
  rmq_producer_t *p = producer("30000");
  REQUIRE(p != NULL);
  memset(sent, 0, sizeof(sent));
  for (int i = 0; i < 10; i++)
    CHECK_ERR(rmq_producer_send_async(p, make(topic, i), on_sent,
                                      (void *)(intptr_t)i),
              RMQ_OK);
  int64_t t0 = rmqi_now_ms();
  rmq_producer_destroy(p, 10000);
  CHECK(rmqi_now_ms() - t0 < 10000);
  for (int i = 0; i < 10; i++) {
    CHECK_INT(atomic_load(&sent[i].calls), 1);
    CHECK_ERR(sent[i].err, RMQ_OK);
  }
  consumed_t c;
  consume(&env, &c, topic, 10, NULL);
  expect_all(&c, 10);
  for (int i = 0; i < 10; i++)
    expect_same(&c, i);
  consumed_free(&c);
}

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {
      TCASE(autobatched_sends_arrive_byte_exact_in_java),
      TCASE(destroy_sends_what_is_still_open),
  };
  return RUN_TESTS(cases);
}
