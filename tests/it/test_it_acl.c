/* ACL signing against brokers with ACL on (profile `acl`: 4.9 ACL 1.0, 5.x
 * ACL 2.0): a signed producer is accepted; a wrong secret, no credentials,
 * or a denied topic is refused with the broker's code and remark. */
#include "it.h"
#include "rmq.h"
#include "test.h"

#include <stdlib.h>

static it_env_t env;

static rmq_producer_t *producer(const char *ak, const char *sk) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_conf_set(c, "sendMsgTimeout", "5000", NULL, 0);
  if (ak) {
    rmq_conf_set(c, "accessKey", ak, NULL, 0);
    rmq_conf_set(c, "secretKey", sk, NULL, 0);
  }
  char err[256];
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  if (p == NULL)
    fprintf(stderr, "producer: %s\n", err);
  rmq_conf_destroy(c);
  return p;
}

static rmq_err_t send_one(rmq_producer_t *p, const char *topic, char *why,
                          size_t n) {
  rmq_msg_t *m = rmq_msg_new(topic);
  rmq_msg_set_body(m, "acl", 3);
  rmq_send_result_t r;
  rmq_err_t rc = rmq_producer_send(p, m, &r);
  snprintf(why, n, "%s", r.error ? r.error : "");
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
  return rc;
}

TEST(signed_requests_are_accepted_and_bad_ones_refused) {
  REQUIRE(env.acl_ak[0] && env.acl_sk[0]);
  char topic[128], args[200], why[512];
  it_unique(topic, sizeof(topic), "it_acl");
  snprintf(args, sizeof(args), "%s --queues 2", topic);
  REQUIRE(it_harness(&env, "topic", args, NULL) == 0);

  rmq_producer_t *good = producer(env.acl_ak, env.acl_sk);
  REQUIRE(good != NULL);
  CHECK_ERR(send_one(good, topic, why, sizeof(why)), RMQ_OK);
  /* A topic this account may not publish to. */
  if (env.acl_deny_topic[0]) {
    snprintf(args, sizeof(args), "%s --queues 1", env.acl_deny_topic);
    it_harness(&env, "topic", args, NULL);
    rmq_err_t rc = send_one(good, env.acl_deny_topic, why, sizeof(why));
    CHECK(rc != RMQ_OK);
    fprintf(stderr, "# denied topic: %s: %s\n", rmq_err_name(rc), why);
  }
  rmq_producer_destroy(good, 2000);

  rmq_producer_t *bad = producer(env.acl_ak, "wrong-secret-123");
  REQUIRE(bad != NULL);
  rmq_err_t rc = send_one(bad, topic, why, sizeof(why));
  /* 4.9 ACL answers SYSTEM_ERROR, 5.x NO_PERMISSION; the route lookup on
   * the name server may refuse first. */
  CHECK(rc == RMQ_SYSTEM_ERROR || rc == RMQ_NO_PERMISSION);
  CHECK(why[0] != '\0');
  fprintf(stderr, "# wrong secret: %s: %s\n", rmq_err_name(rc), why);
  rmq_producer_destroy(bad, 2000);

  rmq_producer_t *none = producer(NULL, NULL);
  REQUIRE(none != NULL);
  rc = send_one(none, topic, why, sizeof(why));
  CHECK(rc != RMQ_OK);
  fprintf(stderr, "# no credentials: %s: %s\n", rmq_err_name(rc), why);
  rmq_producer_destroy(none, 2000);
}

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {
      TCASE(signed_requests_are_accepted_and_bad_ones_refused)};
  return RUN_TESTS(cases);
}
