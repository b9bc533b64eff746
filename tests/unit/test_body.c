/* Queue and group bodies against json.md's real fastjson outputs, plus
 * malformed input. */
#include "codec/body_mq.h"
#include "codec/json.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define CID "192.168.0.2@12345#2783495722"

static void check_buf(rmqi_buf_t *b, const char *want) {
  CHECK(rmqi_buf_ok(b));
  CHECK_MEM(b->data, b->len, want, strlen(want));
}

TEST(lock_request_matches_json_md) {
  const rmqi_mqo_t mqs[] = {{"TopicTest", "broker-a", 1, 0},
                            {"TopicTest", "broker-a", 0, 0}};
  rmqi_lock_req_t r = {"cg1", CID, mqs, 2, false};
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_lock_req_encode(&b, &r);
  check_buf(&b, "{\"clientId\":\"" CID "\",\"consumerGroup\":\"cg1\",\"mqSet\":"
                "[{\"brokerName\":\"broker-a\",\"queueId\":1,\"topic\":"
                "\"TopicTest\"},{\"brokerName\":\"broker-a\",\"queueId\":0,"
                "\"topic\":\"TopicTest\"}],\"onlyThisBroker\":false}");
  /* No queues, true flag, an escaped name. */
  rmqi_buf_reset(&b);
  r.n_mqs = 0;
  r.only_this_broker = true;
  r.group = "g\"1";
  rmqi_lock_req_encode(&b, &r);
  check_buf(&b, "{\"clientId\":\"" CID "\",\"consumerGroup\":\"g\\\"1\","
                "\"mqSet\":[],\"onlyThisBroker\":true}");
  rmqi_buf_free(&b);
}

TEST(assign_and_check_requests) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_assign_req_t a = {CID, "cg1", "CLUSTERING", "AVG", "TopicTest"};
  rmqi_assign_req_encode(&b, &a);
  check_buf(&b, "{\"clientId\":\"" CID "\",\"consumerGroup\":\"cg1\","
                "\"messageModel\":\"CLUSTERING\",\"strategyName\":\"AVG\","
                "\"topic\":\"TopicTest\"}");
  rmqi_buf_reset(&b);
  rmqi_check_req_t c = {CID, "cg1", NULL, "T", "a > 1", "SQL92", 17};
  rmqi_check_req_encode(&b, &c);
  check_buf(&b, "{\"clientId\":\"" CID "\",\"group\":\"cg1\","
                "\"subscriptionData\":{\"classFilterMode\":false,\"codeSet\":"
                "[],\"expressionType\":\"SQL92\",\"subString\":\"a > 1\","
                "\"subVersion\":17,\"tagsSet\":[],\"topic\":\"T\"}}");
  /* And it is JSON our own reader accepts. */
  rmqi_json_t d;
  CHECK_ERR(rmqi_json_parse(&d, (const char *)b.data, b.len, NULL), RMQ_OK);
  rmqi_json_free(&d);
  rmqi_buf_free(&b);
}

TEST(lock_response_decodes_sorted_and_unique) {
  const char *j = "{\"lockOKMQSet\":[{\"brokerName\":\"broker-b\",\"queueId\":"
                  "0,\"topic\":\"T\"},{\"brokerName\":\"broker-a\",\"queueId\":"
                  "3,\"topic\":\"T\"},{\"brokerName\":\"broker-a\",\"queueId\":"
                  "\"2\",\"topic\":\"T\"},{\"brokerName\":\"broker-a\","
                  "\"queueId\":3,\"topic\":\"T\"}]}";
  rmqi_mqlist_t l;
  REQUIRE(rmqi_lock_resp_decode(&l, j, strlen(j), NULL) == RMQ_OK);
  REQUIRE(l.n == 3);
  CHECK_STR(l.v[0].broker, "broker-a");
  CHECK_INT(l.v[0].queue_id, 2);
  CHECK_INT(l.v[1].queue_id, 3);
  CHECK_STR(l.v[2].broker, "broker-b");
  CHECK_STR(l.v[2].topic, "T");
  rmqi_mqlist_free(&l);
  /* Empty set, absent set. */
  REQUIRE(rmqi_lock_resp_decode(&l, "{\"lockOKMQSet\":[]}", 18, NULL) == 0);
  CHECK_INT(l.n, 0);
  rmqi_mqlist_free(&l);
  REQUIRE(rmqi_lock_resp_decode(&l, "{}", 2, NULL) == RMQ_OK);
  CHECK_INT(l.n, 0);
  rmqi_mqlist_free(&l);
}

static void check_reset(const char *j, int64_t off0, int64_t off1) {
  rmqi_mqlist_t l;
  rmqi_errbuf_t e;
  rmqi_errbuf_clear(&e);
  rmq_err_t rc = rmqi_reset_offset_decode(&l, j, strlen(j), &e);
  if (rc != RMQ_OK)
    fprintf(stderr, "  %s: %s\n", j, e.msg);
  REQUIRE(rc == RMQ_OK);
  REQUIRE(l.n == 2);
  CHECK_STR(l.v[0].topic, "TopicTest");
  CHECK_STR(l.v[0].broker, "broker-a");
  CHECK_INT(l.v[0].queue_id, 0);
  CHECK_INT(l.v[0].offset, off0);
  CHECK_INT(l.v[1].queue_id, 1);
  CHECK_INT(l.v[1].offset, off1);
  rmqi_mqlist_free(&l);
}

TEST(reset_offset_all_three_forms) {
  /* json.md §6, fastjson's bare object keys. */
  check_reset("{\"offsetTable\":{{\"brokerName\":\"broker-a\",\"queueId\":1,"
              "\"topic\":\"TopicTest\"}:200,{\"brokerName\":\"broker-a\","
              "\"queueId\":0,\"topic\":\"TopicTest\"}:100}}",
              100, 200);
  /* Keys as strings holding the object (fastjson accepts them too). */
  check_reset("{\"offsetTable\":{\"{\\\"brokerName\\\":\\\"broker-a\\\","
              "\\\"queueId\\\":1,\\\"topic\\\":\\\"TopicTest\\\"}\":200,"
              "\"{\\\"brokerName\\\":\\\"broker-a\\\",\\\"queueId\\\":0,"
              "\\\"topic\\\":\\\"TopicTest\\\"}\":100}}",
              100, 200);
  /* ResetOffsetBodyForC. */
  check_reset("{\"offsetTable\":[{\"brokerName\":\"broker-a\",\"offset\":100,"
              "\"queueId\":0,\"topic\":\"TopicTest\"},{\"brokerName\":"
              "\"broker-a\",\"offset\":\"200\",\"queueId\":1,\"topic\":"
              "\"TopicTest\"}]}",
              100, 200);
  /* A duplicate key: the later one wins, as in Java's HashMap. */
  check_reset("{\"offsetTable\":{{\"brokerName\":\"broker-a\",\"queueId\":0,"
              "\"topic\":\"TopicTest\"}:1,{\"brokerName\":\"broker-a\","
              "\"queueId\":1,\"topic\":\"TopicTest\"}:-1,{\"brokerName\":"
              "\"broker-a\",\"queueId\":0,\"topic\":\"TopicTest\"}:"
              "9223372036854775807}}",
              INT64_MAX, -1);
}

TEST(consumer_list_in_order) {
  const char *j = "{\"consumerIdList\":[\"" CID "\",\"192.168.0.3@999#1234\"]}";
  rmqi_strlist_t l;
  REQUIRE(rmqi_consumer_list_decode(&l, j, strlen(j), NULL) == RMQ_OK);
  REQUIRE(l.n == 2);
  CHECK_STR(l.v[0], CID);
  CHECK_STR(l.v[1], "192.168.0.3@999#1234");
  rmqi_strlist_free(&l);
}

typedef rmq_err_t (*mq_dec_t)(rmqi_mqlist_t *, const char *, size_t,
                              rmqi_errbuf_t *);

static void mq_bad(mq_dec_t f, const char *j, rmq_err_t want) {
  rmqi_mqlist_t l;
  rmqi_errbuf_t e;
  rmqi_errbuf_clear(&e);
  rmq_err_t rc = f(&l, j, strlen(j), &e);
  if (rc != want)
    fprintf(stderr, "  input %s\n", j);
  CHECK_ERR(rc, want);
  CHECK(e.msg[0] != '\0');
}

TEST(malformed_bodies_are_rejected) {
  mq_dec_t lk = rmqi_lock_resp_decode, rs = rmqi_reset_offset_decode;
  mq_bad(lk, "[]", RMQ_ERR_BAD_RESPONSE);
  mq_bad(lk, "{\"lockOKMQSet\":{}}", RMQ_ERR_BAD_RESPONSE);
  mq_bad(lk, "{\"lockOKMQSet\":[1]}", RMQ_ERR_BAD_RESPONSE);
  mq_bad(lk, "{\"lockOKMQSet\":[{\"topic\":\"T\"}]}", RMQ_ERR_BAD_RESPONSE);
  mq_bad(lk, "{\"lockOKMQSet\":[{\"topic\":\"T\",\"brokerName\":\"b\","
             "\"queueId\":4294967296}]}",
         RMQ_ERR_BAD_RESPONSE);
  mq_bad(lk, "{\"lockOKMQSet\":[{\"topic\":\"T\",\"brokerName\":\"b\","
             "\"queueId\":1.5}]}",
         RMQ_ERR_BAD_RESPONSE);
  mq_bad(lk, "{\"lockOKMQSet\":[", RMQ_ERR_BAD_JSON);
  mq_bad(rs, "{}", RMQ_ERR_BAD_RESPONSE);
  mq_bad(rs, "{\"offsetTable\":{1:2}}", RMQ_ERR_BAD_RESPONSE);
  mq_bad(rs, "{\"offsetTable\":{\"x\":2}}", RMQ_ERR_BAD_RESPONSE);
  mq_bad(rs, "{\"offsetTable\":{\"[1]\":2}}", RMQ_ERR_BAD_RESPONSE);
  mq_bad(rs, "{\"offsetTable\":{{\"topic\":\"T\",\"brokerName\":\"b\"}:\"x\"}}",
         RMQ_ERR_BAD_RESPONSE);
  mq_bad(rs, "{\"offsetTable\":{{\"topic\":\"T\",\"brokerName\":\"b\"}:"
             "99999999999999999999}}",
         RMQ_ERR_BAD_RESPONSE);
  mq_bad(rs, "{\"offsetTable\":[{\"topic\":\"T\",\"brokerName\":\"b\"}]}",
         RMQ_ERR_BAD_RESPONSE);
  rmqi_strlist_t s;
  CHECK_ERR(rmqi_consumer_list_decode(&s, "{\"consumerIdList\":[1]}", 22, NULL),
            RMQ_ERR_BAD_RESPONSE);
  CHECK_ERR(rmqi_consumer_list_decode(&s, "{\"consumerIdList\":\"a\"}", 22,
                                      NULL),
            RMQ_ERR_BAD_RESPONSE);
  CHECK_ERR(rmqi_consumer_list_decode(&s, "\"a\"", 3, NULL),
            RMQ_ERR_BAD_RESPONSE);
}

TEST(every_cut_of_a_valid_body_fails_cleanly) {
  const char *j = "{\"offsetTable\":{{\"brokerName\":\"broker-a\",\"queueId\":1,"
                  "\"topic\":\"TopicTest\"}:200}}";
  size_t n = strlen(j);
  for (size_t cut = 0; cut < n; cut++) {
    /* A private copy so ASan sees any read past the cut. */
    char *p = malloc(cut ? cut : 1);
    memcpy(p, j, cut);
    rmqi_mqlist_t l;
    CHECK(rmqi_reset_offset_decode(&l, p, cut, NULL) != RMQ_OK);
    CHECK(rmqi_lock_resp_decode(&l, p, cut, NULL) != RMQ_OK);
    rmqi_strlist_t s;
    CHECK(rmqi_consumer_list_decode(&s, p, cut, NULL) != RMQ_OK);
    free(p);
  }
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(lock_request_matches_json_md),
      TCASE(assign_and_check_requests),
      TCASE(lock_response_decodes_sorted_and_unique),
      TCASE(reset_offset_all_three_forms),
      TCASE(consumer_list_in_order),
      TCASE(malformed_bodies_are_rejected),
      TCASE(every_cut_of_a_valid_body_fails_cleanly),
  };
  return RUN_TESTS(cases);
}
