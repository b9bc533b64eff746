/* Two masters: stopping one mid-run moves sends to the other, and every
 * send returns within its deadline (target two-4 / two-5). */
#include "it.h"
#include "rmq.h"
#include "test.h"
#include "util/time.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static it_env_t env;

static _Atomic int a_calls, a_ok;
static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p;
  (void)res;
  (void)m;
  (void)op;
  atomic_fetch_add(&a_calls, 1);
  if (err == RMQ_OK)
    atomic_fetch_add(&a_ok, 1);
}

static int send_n(rmq_producer_t *p, const char *topic, int n, int *on_a,
                  int *on_b, int64_t *max_ms) {
  int ok = 0;
  for (int i = 0; i < n; i++) {
    rmq_msg_t *m = rmq_msg_new(topic);
    rmq_msg_set_body(m, "failover", 8);
    rmq_send_result_t r;
    int64_t t0 = rmqi_now_ms();
    rmq_err_t rc = rmq_producer_send(p, m, &r);
    int64_t took = rmqi_now_ms() - t0;
    if (took > *max_ms)
      *max_ms = took;
    if (rc == RMQ_OK) {
      ok++;
      if (strcmp(r.broker_name, "broker-a") == 0)
        (*on_a)++;
      else
        (*on_b)++;
    } else {
      fprintf(stderr, "send %d failed: %s\n", i, r.error);
    }
    rmq_send_result_clear(&r);
    rmq_msg_destroy(m);
  }
  return ok;
}

TEST(sends_move_to_the_surviving_broker) {
  REQUIRE(env.broker_b[0] != '\0');
  char topic[128], args[200];
  it_unique(topic, sizeof(topic), "it_failover");
  snprintf(args, sizeof(args), "%s --queues 4", topic);
  REQUIRE(it_harness(&env, "topic", args, NULL) == 0);
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "sendLatencyFaultEnable", "true", NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_producer_t *p = rmq_producer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  REQUIRE(p != NULL);
  int on_a = 0, on_b = 0;
  int64_t max_ms = 0;
  CHECK_INT(send_n(p, topic, 40, &on_a, &on_b, &max_ms), 40);
  CHECK(on_a > 0 && on_b > 0); /* both brokers in use */
  REQUIRE(it_harness(&env, "stop-broker", "b", NULL) == 0);
  on_a = on_b = 0;
  max_ms = 0;
  int ok = send_n(p, topic, 100, &on_a, &on_b, &max_ms);
  CHECK_INT(ok, 100);      /* each failure is retried on broker-a */
  CHECK_INT(on_b, 0);
  CHECK(max_ms <= 3500);   /* within sendMsgTimeout */
  atomic_store(&a_calls, 0);
  atomic_store(&a_ok, 0);
  for (int i = 0; i < 100; i++) {
    rmq_msg_t *m = rmq_msg_new(topic);
    rmq_msg_set_body(m, "async", 5);
    if (rmq_producer_send_async(p, m, on_sent, NULL) != RMQ_OK)
      rmq_msg_destroy(m);
  }
  CHECK_ERR(rmq_producer_flush(p, 10000), RMQ_OK);
  CHECK_INT(atomic_load(&a_calls), 100);
  CHECK(atomic_load(&a_ok) >= 95);
  rmq_producer_destroy(p, 5000);
  CHECK_INT(it_harness(&env, "start-broker", "b", NULL), 0);
}

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {TCASE(sends_move_to_the_surviving_broker)};
  return RUN_TESTS(cases);
}
