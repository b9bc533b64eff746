/* autoBatch against the mock broker: what leaves as one batch request and
 * when, each member's share of the batch result, exactly-once callbacks
 * (also on flush and on destroy with batches still open), the
 * totalBatchMaxBytes bound, and what Java never batches. */
#include "client/msg.h"
#include "producer/accum.h"
#include "test.h"
#include "test_producer_mock.h"
#include "util/disp.h"
#include "util/time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* Five members: five offset ids, the first member's queue offset. */
static const mock_rule_t batch5_ok = {
    .code = 320,
    .ext = {{"msgId", "OFF0,OFF1,OFF2,OFF3,OFF4"},
            {"queueId", "3"},
            {"queueOffset", "100"},
            {"MSG_REGION", "DefaultRegion"}}};
static const mock_rule_t single_ok = {
    .code = 310,
    .ext = {{"msgId", "SINGLE"}, {"queueId", "1"}, {"queueOffset", "7"}}};

static rmq_producer_t *producer(mock_t *m, const char *const *kv) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", mock_addr(m), NULL, 0);
  rmq_conf_set(c, "producerGroup", "PG", NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_conf_set(c, "autoBatch", "true", NULL, 0);
  char err[256];
  for (; kv && kv[0]; kv += 2)
    if (rmq_conf_set(c, kv[0], kv[1], err, sizeof(err)) != RMQ_OK)
      fprintf(stderr, "conf: %s\n", err);
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  if (p == NULL)
    fprintf(stderr, "producer: %s\n", err);
  rmq_conf_destroy(c);
  return p;
}

static rmq_msg_t *msg(const char *tag, const char *body) {
  rmq_msg_t *m = rmq_msg_new("TopicT");
  rmq_msg_set_body(m, body, strlen(body));
  if (tag)
    rmq_msg_set_tags(m, tag);
  return m;
}

/* What each callback saw, by the index passed as opaque. */
#define MAXN 20000
typedef struct seen {
  _Atomic int calls;
  rmq_err_t err;
  char msg_id[64], off_id[64], body[32];
  int32_t queue_id;
  int64_t queue_offset;
  int64_t at_ms;
} seen_t;
static seen_t seen[MAXN];
static _Atomic int total;

static void reset(void) {
  memset(seen, 0, sizeof(seen));
  atomic_store(&total, 0);
}

static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p;
  seen_t *s = &seen[(intptr_t)op];
  if (atomic_fetch_add(&s->calls, 1) == 0) {
    s->err = err;
    snprintf(s->msg_id, sizeof(s->msg_id), "%s", res->msg_id);
    snprintf(s->off_id, sizeof(s->off_id), "%s",
             res->offset_msg_id ? res->offset_msg_id : "(null)");
    snprintf(s->body, sizeof(s->body), "%.*s", (int)m->body_len,
             (const char *)m->body);
    s->queue_id = res->queue_id;
    s->queue_offset = res->queue_offset;
    s->at_ms = rmqi_now_ms();
  }
  atomic_fetch_add(&total, 1);
}

/* A mock answering routes and @p rule, and an autoBatch producer on it. */
static rmq_producer_t *setup(mock_t **m, const mock_rule_t *rule,
                             const char *const *kv) {
  *m = mock_start();
  route_to(*m);
  mock_add_rule(*m, rule);
  reset();
  return producer(*m, kv);
}

/* Waits until @p n callbacks came (since reset()). That none comes twice
 * is checked by destroy_expect_total(), not by waiting longer. */
static bool wait_total(int n, int ms) {
  int64_t until = rmqi_now_ms() + ms;
  while (atomic_load(&total) < n && rmqi_now_ms() < until)
    usleep(1000);
  return atomic_load(&total) == n;
}

/* Destroys @p p, which completes every callback before it returns, then
 * checks that exactly @p n callbacks came since reset(), one per message:
 * a second call of any would have had to come before destroy returned. */
#define destroy_expect_total(p, timeout_ms, n)                                 \
  do {                                                                         \
    rmq_producer_destroy((p), (timeout_ms));                                   \
    int sum_ = 0, twice_ = 0;                                                  \
    for (int i_ = 0; i_ < MAXN; i_++) {                                        \
      int c_ = atomic_load(&seen[i_].calls);                                   \
      sum_ += c_;                                                              \
      twice_ += c_ > 1;                                                        \
    }                                                                          \
    CHECK_INT(atomic_load(&total), (n));                                       \
    CHECK_INT(sum_, (n));                                                      \
    CHECK_INT(twice_, 0);                                                      \
  } while (0)

static void send_n(rmq_producer_t *p, const char *tag, int from, int n) {
  for (int i = from; i < from + n; i++) {
    char b[16];
    snprintf(b, sizeof(b), "body-%04d", i); /* 9 bytes */
    CHECK_ERR(
        rmq_producer_send_async(p, msg(tag, b), on_sent, (void *)(intptr_t)i),
        RMQ_OK);
  }
}

TEST(full_batches_leave_at_once_and_split_the_result) {
  mock_t *m;
  /* 5 x 9 B = 45 > 44: every fifth message closes a batch. */
  rmq_producer_t *p = setup(&m, &batch5_ok,
                            (const char *[]){"batchMaxBytes", "44",
                                             "batchMaxDelayMs", "30000", NULL});
  send_n(p, "TagA", 0, 10);
  CHECK(wait_total(10, 3000));
  CHECK_INT(mock_count(m, 320), 2);
  CHECK_INT(mock_count(m, 310), 0);
  for (int i = 0; i < 10; i++) {
    CHECK_INT(atomic_load(&seen[i].calls), 1);
    CHECK_ERR(seen[i].err, RMQ_OK);
    char off[8], body[16];
    snprintf(off, sizeof(off), "OFF%d", i % 5);
    snprintf(body, sizeof(body), "body-%04d", i);
    CHECK_STR(seen[i].off_id, off);
    CHECK_STR(seen[i].body, body);
    CHECK_INT(seen[i].queue_id, 3);
    CHECK_INT(seen[i].queue_offset, 100 + i % 5);
    CHECK_UINT(strlen(seen[i].msg_id), 32);
    for (int k = 0; k < i; k++)
      CHECK(strcmp(seen[i].msg_id, seen[k].msg_id) != 0);
  }
  char v[256];
  CHECK(mock_last_ext(m, 320, "m", v, sizeof(v)));
  CHECK_STR(v, "true");
  CHECK(mock_last_ext(m, 320, "b", v, sizeof(v)));
  CHECK_STR(v, "TopicT");
  CHECK(mock_last_ext(m, 320, "i", v, sizeof(v)));
  CHECK_STR(v, "WAIT\001true\002");
  destroy_expect_total(p, 1000, 10);
  mock_stop(m);
}

TEST(a_batch_leaves_after_batch_max_delay) {
  mock_t *m;
  rmq_producer_t *p = setup(
      &m,
      &(mock_rule_t){.code = 320,
                     .ext = {{"msgId", "X0,X1,X2"}, {"queueOffset", "5"}}},
      (const char *[]){"batchMaxDelayMs", "150", NULL});
  int64_t t0 = rmqi_now_ms();
  send_n(p, "TagA", 0, 3);
  usleep(80000);
  CHECK_INT(mock_count(m, 320), 0); /* still open */
  CHECK(wait_total(3, 3000));
  CHECK_INT(mock_count(m, 320), 1);
  CHECK(seen[0].at_ms - t0 >= 145);
  CHECK(seen[0].at_ms - t0 < 1000);
  CHECK_STR(seen[2].off_id, "X2");
  CHECK_INT(seen[2].queue_offset, 7);
  destroy_expect_total(p, 1000, 3);
  mock_stop(m);
}

TEST(tags_and_wait_flag_key_the_batches_like_java) {
  mock_t *m;
  rmq_producer_t *p = setup(&m, &(mock_rule_t){.code = 320},
                            (const char *[]){"batchMaxDelayMs", "30000", NULL});
  send_n(p, "TagA", 0, 2);
  send_n(p, "TagB", 2, 2);
  send_n(p, NULL, 4, 2);
  rmq_msg_t *x = msg("TagA", "no-wait");
  rmqi_msg_put_prop(x, "WAIT", "false");
  CHECK_ERR(rmq_producer_send_async(p, x, on_sent, (void *)(intptr_t)6),
            RMQ_OK);
  CHECK_ERR(rmq_producer_flush(p, 3000), RMQ_OK);
  CHECK(wait_total(7, 3000));
  CHECK_INT(mock_count(m, 320), 4);
  char v[64];
  CHECK(mock_last_ext(m, 320, "i", v, sizeof(v)));
  CHECK_STR(v, "WAIT\001false\002");
  /* A reply without offset ids leaves them empty but succeeds. */
  CHECK_ERR(seen[0].err, RMQ_OK);
  CHECK_STR(seen[0].off_id, "");
  destroy_expect_total(p, 1000, 7);
  mock_stop(m);
}

TEST(flush_sends_open_batches_now) {
  mock_t *m;
  rmq_producer_t *p =
      setup(&m, &batch5_ok, (const char *[]){"batchMaxDelayMs", "30000", NULL});
  send_n(p, "TagA", 0, 5);
  int64_t t0 = rmqi_now_ms();
  CHECK_ERR(rmq_producer_flush(p, 5000), RMQ_OK);
  CHECK(rmqi_now_ms() - t0 < 1000);
  CHECK_INT(atomic_load(&total), 5);
  CHECK_INT(mock_count(m, 320), 1);
  destroy_expect_total(p, 1000, 5);
  mock_stop(m);
}

TEST(destroy_sends_open_batches_each_callback_once) {
  int threads = rmqi_thread_count();
  mock_t *m;
  rmq_producer_t *p =
      setup(&m, &batch5_ok, (const char *[]){"batchMaxDelayMs", "30000", NULL});
  send_n(p, "TagA", 0, 5);
  rmq_producer_destroy(p, 2000);
  CHECK_INT(atomic_load(&total), 5);
  for (int i = 0; i < 5; i++) {
    CHECK_INT(atomic_load(&seen[i].calls), 1);
    CHECK_ERR(seen[i].err, RMQ_OK);
  }
  CHECK_INT(mock_count(m, 320), 1);
  mock_stop(m);
  CHECK_INT(rmqi_thread_count_settled(threads, 1000), threads);
}

TEST(destroy_fails_unanswered_batches_with_shutdown) {
  int threads = rmqi_thread_count();
  mock_t *m;
  rmq_producer_t *p =
      setup(&m, &(mock_rule_t){.code = 320, .action = MOCK_DROP},
            (const char *[]){"batchMaxDelayMs", "30000", "batchMaxBytes", "44",
                             "sendMsgTimeout", "60000", NULL});
  send_n(p, "TagA", 0, 12); /* two batches in flight, one open */
  int64_t t0 = rmqi_now_ms();
  rmq_producer_destroy(p, 300);
  CHECK(rmqi_now_ms() - t0 < 2500);
  CHECK_INT(atomic_load(&total), 12);
  for (int i = 0; i < 12; i++) {
    CHECK_INT(atomic_load(&seen[i].calls), 1);
    CHECK_ERR(seen[i].err, RMQ_ERR_SHUTDOWN);
  }
  mock_stop(m);
  CHECK_INT(rmqi_thread_count_settled(threads, 1000), threads);
}

TEST(a_failed_batch_fails_every_member) {
  mock_t *m;
  rmq_producer_t *p = setup(&m,
                            &(mock_rule_t){.code = 320,
                                           .resp_code = 13,
                                           .remark = "the message is illegal"},
                            (const char *[]){"batchMaxDelayMs", "20", NULL});
  send_n(p, "TagA", 0, 4);
  CHECK(wait_total(4, 3000));
  for (int i = 0; i < 4; i++)
    CHECK_ERR(seen[i].err, RMQ_MESSAGE_ILLEGAL);
  CHECK_INT(mock_count(m, 320), 1); /* Java retries transport faults only */
  /* Offset ids that do not match the members fail the batch, as Java's
   * splitSendResults does. */
  mock_clear_rules(m);
  route_to(m);
  mock_add_rule(m, &(mock_rule_t){.code = 320, .ext = {{"msgId", "A,B"}}});
  reset();
  send_n(p, "TagA", 0, 3);
  CHECK(wait_total(3, 3000));
  for (int i = 0; i < 3; i++)
    CHECK_ERR(seen[i].err, RMQ_ERR_BAD_RESPONSE);
  destroy_expect_total(p, 1000, 3);
  mock_stop(m);
}

TEST(total_batch_max_bytes_sends_the_rest_on_its_own) {
  mock_t *m;
  /* Java's tryAddMessage: below the bound a message is held (9 + 9 = 18
   * >= 18), then the next ones go alone. */
  rmq_producer_t *p =
      setup(&m, &(mock_rule_t){.code = 320, .ext = {{"msgId", "A,B"}}},
            (const char *[]){"batchMaxDelayMs", "30000", "totalBatchMaxBytes",
                             "18", NULL});
  mock_add_rule(m, &single_ok);
  send_n(p, "TagA", 0, 4);
  CHECK(wait_total(2, 3000));
  CHECK_INT(mock_count(m, 310), 2);
  CHECK_STR(seen[2].off_id, "SINGLE");
  CHECK_ERR(rmq_producer_flush(p, 3000), RMQ_OK);
  CHECK(wait_total(4, 3000));
  CHECK_INT(mock_count(m, 320), 1);
  CHECK_STR(seen[1].off_id, "B");
  destroy_expect_total(p, 1000, 4);
  mock_stop(m);
}

TEST(a_batch_never_grows_past_max_message_size) {
  mock_t *m;
  rmq_producer_t *p =
      setup(&m, &(mock_rule_t){.code = 320, .ext = {{"msgId", "A,B"}}},
            (const char *[]){"batchMaxDelayMs", "30000", "maxMessageSize",
                             "300", NULL});
  mock_add_rule(m, &single_ok);
  /* Entries of 22 + 40 + 52 (TAGS, UNIQ_KEY) bytes: two fit in 300. */
  char body[41];
  memset(body, 'b', 40);
  body[40] = '\0';
  for (int i = 0; i < 5; i++)
    CHECK_ERR(rmq_producer_send_async(p, msg("TagA", body), on_sent,
                                      (void *)(intptr_t)i),
              RMQ_OK);
  CHECK(wait_total(4, 3000));
  CHECK_INT(mock_count(m, 320), 2);
  CHECK_STR(seen[0].off_id, "A");
  CHECK_STR(seen[1].off_id, "B");
  CHECK_STR(seen[2].off_id, "A");
  CHECK_STR(seen[3].off_id, "B");
  /* A body that fits maxMessageSize but not as a batch entry goes alone. */
  char big[291];
  memset(big, 'g', 290);
  big[290] = '\0';
  CHECK_ERR(rmq_producer_send_async(p, msg("TagA", big), on_sent,
                                    (void *)(intptr_t)5),
            RMQ_OK);
  CHECK(wait_total(5, 3000));
  CHECK_STR(seen[5].off_id, "SINGLE");
  CHECK_ERR(rmq_producer_flush(p, 3000), RMQ_OK);
  CHECK(wait_total(6, 3000));
  CHECK_INT(mock_count(m, 320), 3);
  destroy_expect_total(p, 1000, 6);
  mock_stop(m);
}

TEST(delayed_sync_and_ordered_sends_are_not_batched) {
  mock_t *m;
  rmq_producer_t *p =
      setup(&m, &single_ok, (const char *[]){"batchMaxDelayMs", "30000", NULL});
  mock_add_rule(m, &(mock_rule_t){.code = 320});
  rmq_msg_t *d = msg("TagA", "delayed");
  rmq_msg_set_delay_level(d, 3);
  CHECK_ERR(rmq_producer_send_async(p, d, on_sent, (void *)(intptr_t)0),
            RMQ_OK);
  CHECK(wait_total(1, 3000));
  rmq_msg_t *x = msg("TagA", "sync");
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_OK);
  rmq_send_result_clear(&r);
  rmq_msg_set_sharding_key(x, "k");
  CHECK_ERR(rmq_producer_send_orderly(p, x, &r), RMQ_OK);
  rmq_send_result_clear(&r);
  rmq_msg_destroy(x);
  CHECK_INT(mock_count(m, 310), 3);
  CHECK_INT(mock_count(m, 320), 0);
  /* An invalid message is refused at once; the caller keeps it. */
  rmq_msg_t *e = rmq_msg_new("TopicT");
  CHECK_ERR(rmq_producer_send_async(p, e, on_sent, NULL), RMQ_ERR_MSG_EMPTY);
  rmq_msg_destroy(e);
  destroy_expect_total(p, 1000, 1);
  mock_stop(m);
}

/* Which messages may join a batch (Java's): not one with a delay of any
 * kind above 0, a reply (PGROUP), a typed one (MSG_TYPE) or one for a
 * retry topic; tags, keys and other properties do not matter. */
TEST(batch_eligibility_follows_each_property) {
  static const struct {
    const char *k, *v;
    bool ok;
  } cases[] = {
      {NULL, NULL, true},
      {"DELAY", "0", true},
      {"DELAY", "3", false},
      {"TIMER_DELAY_MS", "100", false},
      {"TIMER_DELAY_SEC", "0", true},
      {"TIMER_DELAY_SEC", "5", false},
      {"TIMER_DELIVER_MS", "1", false},
      {"PGROUP", "g", false},
      {"MSG_TYPE", "reply", false},
      {"MSG_REGION", "r", true},
      {"TAGS", "t", true},
      {"WAIT", "false", true},
      {"TRACE_ON", "true", true},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    rmq_msg_t *x = msg("TagA", "b");
    rmq_msg_set_keys(x, "k1");
    if (cases[i].k)
      REQUIRE(rmqi_msg_put_prop(x, cases[i].k, cases[i].v) == RMQ_OK);
    if (rmqi_accum_eligible(x) != cases[i].ok)
      rmqt_fail(__FILE__, __LINE__, "%s=%s: eligible should be %d",
                cases[i].k ? cases[i].k : "-", cases[i].v ? cases[i].v : "-",
                cases[i].ok);
    rmq_msg_destroy(x);
  }
  rmq_msg_t *r = rmq_msg_new("%RETRY%g");
  rmq_msg_set_body(r, "b", 1);
  CHECK(!rmqi_accum_eligible(r));
  rmq_msg_destroy(r);
}

static rmq_producer_t *shared;
static void *sender(void *arg) {
  int base = (int)(intptr_t)arg;
  for (int i = base; i < base + 5000; i++) {
    rmq_msg_t *x = msg(i % 2 ? "TagA" : "TagB", "concurrent");
    rmq_producer_send_async(shared, x, on_sent, (void *)(intptr_t)i);
  }
  return NULL;
}

TEST(concurrent_senders_get_every_callback_once) {
  mock_t *m = mock_start();
  route_to(m);
  mock_add_rule(m, &(mock_rule_t){.code = 320, .ext = {{"queueId", "0"}}});
  shared = producer(m, (const char *[]){"batchMaxBytes", "2000", NULL});
  reset();
  pthread_t th[4];
  for (int t = 0; t < 4; t++)
    pthread_create(&th[t], NULL, sender, (void *)(intptr_t)(t * 5000));
  for (int t = 0; t < 4; t++)
    pthread_join(th[t], NULL);
  CHECK_ERR(rmq_producer_flush(shared, 10000), RMQ_OK);
  CHECK(wait_total(20000, 5000));
  int bad = 0;
  for (int i = 0; i < 20000; i++)
    bad += atomic_load(&seen[i].calls) != 1 || seen[i].err != RMQ_OK;
  CHECK_INT(bad, 0);
  int batches = mock_count(m, 320);
  CHECK(batches >= 20000 * 10 / 2000 && batches < 20000);
  destroy_expect_total(shared, 1000, 20000);
  mock_stop(m);
}

TEST(the_keys_are_validated_like_java) {
  rmq_conf_t *c = rmq_conf_new();
  CHECK_ERR(rmq_conf_set(c, "batchMaxDelayMs", "0", NULL, 0),
            RMQ_ERR_CONF_INVALID);
  CHECK_ERR(rmq_conf_set(c, "batchMaxDelayMs", "30001", NULL, 0),
            RMQ_ERR_CONF_INVALID);
  CHECK_ERR(rmq_conf_set(c, "batchMaxBytes", "2097153", NULL, 0),
            RMQ_ERR_CONF_INVALID);
  CHECK_ERR(rmq_conf_set(c, "totalBatchMaxBytes", "0", NULL, 0),
            RMQ_ERR_CONF_INVALID);
  CHECK_ERR(rmq_conf_set(c, "batchMaxBytes", "2097152", NULL, 0), RMQ_OK);
  rmq_conf_destroy(c);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(full_batches_leave_at_once_and_split_the_result),
      TCASE(a_batch_leaves_after_batch_max_delay),
      TCASE(tags_and_wait_flag_key_the_batches_like_java),
      TCASE(batch_eligibility_follows_each_property),
      TCASE(flush_sends_open_batches_now),
      TCASE(destroy_sends_open_batches_each_callback_once),
      TCASE(destroy_fails_unanswered_batches_with_shutdown),
      TCASE(a_failed_batch_fails_every_member),
      TCASE(total_batch_max_bytes_sends_the_rest_on_its_own),
      TCASE(a_batch_never_grows_past_max_message_size),
      TCASE(delayed_sync_and_ordered_sends_are_not_batched),
      TCASE(concurrent_senders_get_every_callback_once),
      TCASE(the_keys_are_validated_like_java),
  };
  return RUN_TESTS(cases);
}
