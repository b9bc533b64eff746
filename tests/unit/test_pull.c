/* The pull layer against the mock broker: a corrupt record in a pull
 * response fails that record alone and the rest is read; broker errors and
 * missing offsets are clear errors. */
#include "client/client.h"
#include "consumer/pull.h"
#include "mock.h"
#include "test.h"
#include "util/endian.h"
#include "vectors.h"

#include <stdlib.h>

static rmq_client_t *client(mock_t *m) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", mock_addr(m), NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_client_t *cl = rmq_client_new(c, NULL, 0);
  rmq_conf_destroy(c);
  return cl;
}

static const rmqi_pull_req_t rq = {.group = "G", .topic = "TopicTest",
                                   .queue_id = 1, .offset = 5,
                                   .max_nums = 32, .expression_type = "TAG"};

TEST(a_corrupt_record_fails_alone) {
  /* Three copies of a Java-written record; the middle one's magic broken. */
  char **vers = rmqt_vec_versions();
  REQUIRE(vers && vers[0]);
  char **cases = rmqt_vec_cases(vers[0], "stored_");
  REQUIRE(cases && cases[0]);
  rmqt_vec *v = rmqt_vec_load(vers[0], cases[0]);
  rmqt_strv_free(cases);
  rmqt_strv_free(vers);
  REQUIRE(v && v->bin);
  size_t one = rmqi_load_be32(v->bin);
  uint8_t *body = malloc(3 * one);
  for (int i = 0; i < 3; i++)
    memcpy(body + i * one, v->bin, one);
  body[one + 7] ^= 0x55;
  mock_t *m = mock_start();
  mock_add_rule(m, &(mock_rule_t){.code = 11,
                                  .ext = {{"nextBeginOffset", "8"},
                                          {"minOffset", "0"},
                                          {"maxOffset", "8"},
                                          {"suggestWhichBrokerId", "1"}},
                                  .body = body,
                                  .body_len = 3 * one});
  rmq_client_t *c = client(m);
  rmqi_pull_res_t res;
  char err[256];
  REQUIRE(rmqi_pull_sync(c, mock_addr(m), &rq, 2000, &res, err, sizeof(err)) ==
          RMQ_OK);
  CHECK_INT(res.next_begin, 8);
  CHECK_INT(res.suggest_broker_id, 1);
  size_t pos = 0;
  rmqi_msgrec_t r;
  rmqi_errbuf_t e;
  CHECK_ERR(rmqi_pull_next(&res, &pos, &r, &e), RMQ_OK);
  CHECK_ERR(rmqi_pull_next(&res, &pos, &r, &e), RMQ_ERR_BAD_MESSAGE);
  CHECK(strstr(e.msg, "magic") != NULL);
  CHECK_ERR(rmqi_pull_next(&res, &pos, &r, &e), RMQ_OK); /* goes on */
  CHECK_ERR(rmqi_pull_next(&res, &pos, &r, &e), RMQ_ERR_NOT_FOUND);
  rmqi_pull_res_free(&res);
  /* A broken size ends the batch instead of reading garbage. */
  rmqi_store_be32(body + one, 0x7FFFFFFF);
  mock_clear_rules(m);
  mock_add_rule(m, &(mock_rule_t){.code = 11,
                                  .ext = {{"nextBeginOffset", "8"},
                                          {"minOffset", "0"},
                                          {"maxOffset", "8"}},
                                  .body = body,
                                  .body_len = 3 * one});
  REQUIRE(rmqi_pull_sync(c, mock_addr(m), &rq, 2000, &res, err, sizeof(err)) ==
          RMQ_OK);
  pos = 0;
  CHECK_ERR(rmqi_pull_next(&res, &pos, &r, &e), RMQ_OK);
  CHECK(rmqi_pull_next(&res, &pos, &r, &e) != RMQ_OK);
  CHECK_ERR(rmqi_pull_next(&res, &pos, &r, &e), RMQ_ERR_NOT_FOUND);
  rmqi_pull_res_free(&res);
  rmq_client_destroy(c, 0);
  mock_stop(m);
  free(body);
  rmqt_vec_free(v);
}

TEST(broker_errors_and_bad_responses_are_clear) {
  mock_t *m = mock_start();
  mock_add_rule(m, &(mock_rule_t){.code = 11, .resp_code = 24,
                                  .remark = "subscription not exist",
                                  .times = 1});
  mock_add_rule(m, &(mock_rule_t){.code = 11}); /* no offsets at all */
  rmq_client_t *c = client(m);
  rmqi_pull_res_t res;
  char err[256];
  CHECK_ERR(rmqi_pull_sync(c, mock_addr(m), &rq, 2000, &res, err, sizeof(err)),
            RMQ_SUBSCRIPTION_NOT_EXIST);
  CHECK(strstr(err, "subscription not exist") != NULL);
  CHECK_ERR(rmqi_pull_sync(c, mock_addr(m), &rq, 2000, &res, err, sizeof(err)),
            RMQ_ERR_BAD_RESPONSE);
  rmq_client_destroy(c, 0);
  mock_stop(m);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(a_corrupt_record_fails_alone),
      TCASE(broker_errors_and_bad_responses_are_clear),
  };
  return RUN_TESTS(cases);
}
