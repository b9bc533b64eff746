/* The producer against the mock broker (which also plays the name server):
 * results, retries, timeouts, validation, async exactly-once, shutdown.
 * The real-broker tests are in tests/it/. */
#include "client/msg.h"
#include "codec/msgid.h"
#include "test.h"
#include "test_producer_mock.h"
#include "util/disp.h"
#include "util/time.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static const mock_rule_t send_ok = {
    .code = 310,
    .ext = {{"msgId", "7F00000100002A9F0000000000000042"},
            {"queueId", "2"},
            {"queueOffset", "17"},
            {"MSG_REGION", "DefaultRegion"}}};

static rmq_producer_t *producer(mock_t *m, const char *k, const char *v) {
  return mock_producer(m, k, v);
}

static rmq_msg_t *msg(const char *body) {
  rmq_msg_t *m = rmq_msg_new("TopicT");
  rmq_msg_set_body(m, body, strlen(body));
  rmq_msg_set_tags(m, "TagA");
  return m;
}

TEST(sync_send_fills_the_result) {
  mock_t *m = mock_start();
  route_to(m);
  mock_add_rule(m, &send_ok);
  rmq_producer_t *p = producer(m, NULL, NULL);
  REQUIRE(p != NULL);
  rmq_msg_t *x = msg("hello");
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_OK);
  CHECK_INT(r.status, RMQ_SEND_OK);
  CHECK_STR(r.offset_msg_id, "7F00000100002A9F0000000000000042");
  CHECK_INT(r.queue_id, 2);
  CHECK_INT(r.queue_offset, 17);
  CHECK_STR(r.broker_name, "broker-a");
  CHECK_STR(r.topic, "TopicT");
  CHECK_UINT(strlen(r.msg_id), 32);
  CHECK_INT(r.attempts, 1);
  char v[256];
  CHECK(mock_last_ext(m, 310, "b", v, sizeof(v)));
  CHECK_STR(v, "TopicT");
  CHECK(mock_last_ext(m, 310, "a", v, sizeof(v)));
  CHECK_STR(v, "PG");
  CHECK(mock_last_ext(m, 310, "i", v, sizeof(v)));
  char uniq[80];
  snprintf(uniq, sizeof(uniq), "UNIQ_KEY\x01%s\x02", r.msg_id);
  CHECK(strstr(v, uniq) != NULL);
  CHECK(strstr(v, "TAGS\x01TagA\x02") != NULL);
  CHECK(strstr(v, "WAIT\x01true\x02") != NULL);
  /* the id is Java's: this host's address, our pid, and a counter that a
   * second send moves by one */
  rmqi_uniq_id_t u, u2;
  CHECK_ERR(rmqi_uniq_id_decode(r.msg_id, 32, &u, NULL), RMQ_OK);
  CHECK_UINT(u.ip_len, 4);
  CHECK_UINT(u.pid, (uint16_t)getpid());
  rmq_send_result_t r2;
  CHECK_ERR(rmq_producer_send(p, x, &r2), RMQ_OK);
  CHECK_ERR(rmqi_uniq_id_decode(r2.msg_id, 32, &u2, NULL), RMQ_OK);
  CHECK_UINT(u2.counter, (uint16_t)(u.counter + 1));
  CHECK_UINT(u2.loader_hash, u.loader_hash);
  CHECK(memcmp(u2.ip, u.ip, 4) == 0);
  CHECK(strncmp(r.msg_id, r2.msg_id, 20) == 0); /* ip, pid, discriminator */
  rmq_send_result_clear(&r2);
  rmq_send_result_clear(&r);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

TEST(retryable_code_is_retried_and_others_are_not) {
  mock_t *m = mock_start();
  route_to(m);
  mock_add_rule(m, &(mock_rule_t){.code = 310,
                                  .resp_code = 2,
                                  .remark = "[OVERLOAD] busy",
                                  .times = 1});
  mock_add_rule(m, &send_ok);
  rmq_producer_t *p = producer(m, NULL, NULL);
  rmq_msg_t *x = msg("retry me");
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_OK);
  CHECK_INT(r.attempts, 2);
  CHECK_INT(mock_count(m, 310), 2);
  rmq_send_result_clear(&r);
  mock_clear_rules(m);
  route_to(m);
  mock_add_rule(m, &(mock_rule_t){.code = 310,
                                  .resp_code = 13,
                                  .remark = "the message is illegal"});
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_MESSAGE_ILLEGAL);
  CHECK_INT(r.broker_code, 13);
  CHECK(strstr(r.error, "the message is illegal") != NULL);
  CHECK_INT(r.attempts, 1);
  rmq_send_result_clear(&r);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

TEST(one_deadline_covers_every_retry) {
  mock_t *m = mock_start();
  route_to(m);
  mock_add_rule(m, &(mock_rule_t){.code = 310, .action = MOCK_DROP});
  rmq_producer_t *p = producer(m, "sendMsgTimeout", "400");
  rmq_msg_t *x = msg("never answered");
  rmq_send_result_t r;
  int64_t t0 = rmqi_now_ms();
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_ERR_TIMEOUT);
  int64_t took = rmqi_now_ms() - t0;
  CHECK(took >= 390 && took < 900);
  CHECK(r.error && r.error[0]);
  /* it went out, so it may be stored: the result names its id */
  CHECK(r.msg_id && strlen(r.msg_id) == 32);
  rmq_send_result_clear(&r);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 100);
  mock_stop(m);
}

static char timed_out_id[64];
static void on_timed_out(rmq_producer_t *p, rmq_err_t err,
                         const rmq_send_result_t *res, rmq_msg_t *m,
                         void *opaque) {
  (void)p, (void)m, (void)opaque;
  snprintf(timed_out_id, sizeof(timed_out_id), "%s:%s", rmq_err_name(err),
           res->msg_id ? res->msg_id : "(null)");
}

TEST(a_timed_out_async_send_names_the_id_it_went_out_with) {
  mock_t *m = mock_start();
  route_to(m);
  mock_add_rule(m, &(mock_rule_t){.code = 310, .action = MOCK_DROP});
  rmq_producer_t *p = producer(m, "sendMsgTimeout", "300");
  timed_out_id[0] = '\0';
  CHECK_ERR(rmq_producer_send_async(p, msg("late"), on_timed_out, NULL),
            RMQ_OK);
  CHECK_ERR(rmq_producer_flush(p, 3000), RMQ_OK);
  rmq_producer_destroy(p, 1000);
  CHECK_INT((int)strlen(timed_out_id), 12 + 32); /* "ERR_TIMEOUT:" + id */
  CHECK(strncmp(timed_out_id, "ERR_TIMEOUT:", 12) == 0);
  mock_stop(m);
}

TEST(invalid_messages_are_refused_before_the_network) {
  mock_t *m = mock_start();
  route_to(m);
  rmq_producer_t *p = producer(m, "maxMessageSize", "10");
  rmq_msg_t *x = rmq_msg_new("TopicT");
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_ERR_MSG_EMPTY);
  CHECK_STR(r.error, "the message body length is zero");
  CHECK(r.msg_id == NULL); /* never went out */
  rmq_send_result_clear(&r);
  rmq_msg_set_body(x, "01234567890", 11);
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_ERR_MSG_TOO_LARGE);
  rmq_send_result_clear(&r);
  rmq_msg_t *y = rmq_msg_new("bad topic");
  rmq_msg_set_body(y, "a", 1);
  CHECK_ERR(rmq_producer_send(p, y, &r), RMQ_ERR_INVALID_ARG);
  rmq_send_result_clear(&r);
  rmq_msg_t *z = rmq_msg_new("TBW102");
  rmq_msg_set_body(z, "a", 1);
  CHECK_ERR(rmq_producer_send(p, z, &r), RMQ_ERR_INVALID_ARG);
  rmq_send_result_clear(&r);
  CHECK_INT(mock_count(m, 310), 0);
  rmq_msg_destroy(x);
  rmq_msg_destroy(y);
  rmq_msg_destroy(z);
  rmq_producer_destroy(p, 100);
  mock_stop(m);
}

TEST(missing_topic_without_template_is_topic_not_exist) {
  mock_t *m = mock_start();
  mock_add_rule(m, &(mock_rule_t){.code = 105,
                                  .resp_code = 17,
                                  .remark = "No topic route info"});
  rmq_producer_t *p = producer(m, NULL, NULL);
  rmq_msg_t *x = msg("x");
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_TOPIC_NOT_EXIST);
  CHECK(strstr(r.error, "No topic route info") != NULL);
  rmq_send_result_clear(&r);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 100);
  mock_stop(m);
}

static _Atomic int cb_ok, cb_err, cb_shutdown, cb_total;
static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *opaque) {
  (void)p;
  (void)res;
  (void)m;
  (void)opaque;
  atomic_fetch_add(&cb_total, 1);
  if (err == RMQ_OK)
    atomic_fetch_add(&cb_ok, 1);
  else if (err == RMQ_ERR_SHUTDOWN)
    atomic_fetch_add(&cb_shutdown, 1);
  else
    atomic_fetch_add(&cb_err, 1);
}

/* Calls per message of async_callbacks_fire_exactly_once. */
static _Atomic int calls_of[2000];
static void on_sent_i(rmq_producer_t *p, rmq_err_t err,
                      const rmq_send_result_t *res, rmq_msg_t *m,
                      void *opaque) {
  atomic_fetch_add(&calls_of[(intptr_t)opaque], 1);
  on_sent(p, err, res, m, NULL);
}

TEST(async_callbacks_fire_exactly_once) {
  mock_t *m = mock_start();
  route_to(m);
  mock_add_rule(m, &send_ok);
  rmq_producer_t *p = producer(m, NULL, NULL);
  atomic_store(&cb_ok, 0);
  atomic_store(&cb_total, 0);
  for (int i = 0; i < 2000; i++)
    atomic_store(&calls_of[i], 0);
  for (int i = 0; i < 2000; i++)
    CHECK_ERR(rmq_producer_send_async(p, msg("async"), on_sent_i,
                                      (void *)(intptr_t)i),
              RMQ_OK);
  CHECK_ERR(rmq_producer_flush(p, 5000), RMQ_OK);
  CHECK_INT(atomic_load(&cb_ok), 2000);
  /* Destroy completes every callback before it returns: a second call of
   * any would have come by now, so the counts are final. */
  rmq_producer_destroy(p, 1000);
  CHECK_INT(atomic_load(&cb_total), 2000);
  CHECK_INT(atomic_load(&cb_ok), 2000);
  int not_once = 0;
  for (int i = 0; i < 2000; i++)
    not_once += atomic_load(&calls_of[i]) != 1;
  CHECK_INT(not_once, 0);
  mock_stop(m);
}

TEST(destroy_fails_in_flight_within_its_bound) {
  int threads = rmqi_thread_count();
  mock_t *m = mock_start();
  route_to(m);
  mock_add_rule(m, &(mock_rule_t){.code = 310, .action = MOCK_DROP});
  rmq_producer_t *p = producer(m, "sendMsgTimeout", "60000");
  atomic_store(&cb_total, 0);
  atomic_store(&cb_shutdown, 0);
  for (int i = 0; i < 100; i++)
    rmq_producer_send_async(p, msg("stuck"), on_sent, NULL);
  int64_t t0 = rmqi_now_ms();
  rmq_producer_destroy(p, 300);
  CHECK(rmqi_now_ms() - t0 < 2500);
  CHECK_INT(atomic_load(&cb_total), 100);
  CHECK_INT(atomic_load(&cb_shutdown), 100);
  mock_stop(m);
  CHECK_INT(rmqi_thread_count_settled(threads, 1000), threads);
}

TEST(poll_mode_runs_callbacks_on_the_caller) {
  mock_t *m = mock_start();
  route_to(m);
  mock_add_rule(m, &send_ok);
  rmq_producer_t *p = producer(m, "callbackMode", "poll");
  rmq_client_t *c = rmq_producer_client(p);
  CHECK(rmq_poll_fd(c) >= 0);
  atomic_store(&cb_total, 0);
  for (int i = 0; i < 10; i++)
    rmq_producer_send_async(p, msg("polled"), on_sent, NULL);
  int ran = 0;
  int64_t until = rmqi_now_ms() + 3000;
  while (ran < 10 && rmqi_now_ms() < until)
    ran += rmq_poll(c, 100);
  CHECK_INT(ran, 10);
  CHECK_INT(atomic_load(&cb_total), 10);
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

TEST(every_error_code_is_clear_and_retried_like_java) {
  mock_t *m = mock_start();
  rmq_producer_t *p = producer(m, NULL, NULL);
  static const struct {
    int code;
    int attempts; /* Java retries its retry set, not the others */
  } cases[] = {{1, 3},   {2, 3},   {14, 3},   {16, 3}, {17, 3},
               {204, 3}, {205, 3}, {1500, 3}, {13, 1}, {15, 1},
               {26, 1},  {29, 1},  {215, 1},  {3, 1}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    mock_clear_rules(m);
    route_to(m);
    char remark[64];
    snprintf(remark, sizeof(remark), "remark for %d", cases[i].code);
    mock_add_rule(m, &(mock_rule_t){.code = 310,
                                    .resp_code = cases[i].code,
                                    .remark = remark});
    rmq_msg_t *x = msg("code");
    rmq_send_result_t r;
    rmq_err_t rc = rmq_producer_send(p, x, &r);
    CHECK_INT(rc, cases[i].code);
    CHECK_INT(r.broker_code, cases[i].code);
    CHECK_INT(r.attempts, cases[i].attempts);
    CHECK(r.error && strstr(r.error, remark) != NULL);
    rmq_send_result_clear(&r);
    rmq_msg_destroy(x);
  }
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

TEST(transport_faults_fail_the_send_clearly) {
  mock_t *m = mock_start();
  rmq_producer_t *p = producer(m, "sendMsgTimeout", "2000");
  mock_action_t acts[] = {MOCK_CLOSE_MIDFRAME, MOCK_GARBAGE, MOCK_OVERSIZE,
                          MOCK_CLOSE};
  for (size_t i = 0; i < 4; i++) {
    mock_clear_rules(m);
    route_to(m);
    mock_add_rule(m, &(mock_rule_t){.code = 310, .action = acts[i]});
    rmq_msg_t *x = msg("fault");
    rmq_send_result_t r;
    int64_t t0 = rmqi_now_ms();
    rmq_err_t rc = rmq_producer_send(p, x, &r);
    CHECK(rc != RMQ_OK);
    CHECK(rmqi_now_ms() - t0 < 2500);
    CHECK(r.error && r.error[0]);
    CHECK_INT(r.attempts, 3); /* transport failures are retried */
    rmq_send_result_clear(&r);
    rmq_msg_destroy(x);
  }
  /* And the producer recovers once the broker behaves. */
  mock_clear_rules(m);
  route_to(m);
  mock_add_rule(m, &send_ok);
  rmq_msg_t *x = msg("fine");
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_OK);
  rmq_send_result_clear(&r);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(sync_send_fills_the_result),
      TCASE(retryable_code_is_retried_and_others_are_not),
      TCASE(one_deadline_covers_every_retry),
      TCASE(a_timed_out_async_send_names_the_id_it_went_out_with),
      TCASE(invalid_messages_are_refused_before_the_network),
      TCASE(missing_topic_without_template_is_topic_not_exist),
      TCASE(async_callbacks_fire_exactly_once),
      TCASE(destroy_fails_in_flight_within_its_bound),
      TCASE(poll_mode_runs_callbacks_on_the_caller),
      TCASE(every_error_code_is_clear_and_retried_like_java),
      TCASE(transport_faults_fail_the_send_clearly),
  };
  return RUN_TESTS(cases);
}
