/* Statistics: the latency histogram (lib/util/hist.c), the JSON writer
 * (lib/codec/jw.c), and the client's JSON (lib/client/stats.c) after
 * scripted answers of the mock broker, counted exactly. The same document
 * against the real brokers: tests/it/test_it_stats.c. */
#include "codec/json.h"
#include "codec/jw.h"
#include "jpath.h"
#include "test.h"
#include "test_producer_mock.h"
#include "util/hist.h"
#include "util/time.h"

#include <stdatomic.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>

TEST(hist_buckets_are_contiguous_and_tight) {
  /* every value falls in a bucket whose bound is >= it and < 1.125x + 1 */
  unsigned prev = 0;
  for (uint64_t v = 0; v < 200000; v++) {
    unsigned i = rmqi_hist_bucket(v);
    if (i != prev && v) {
      CHECK_UINT(i, prev + 1);                  /* no bucket skipped */
      CHECK_UINT(rmqi_hist_upper(prev), v - 1); /* the last one ended */
    }
    prev = i;
    if (rmqi_hist_upper(i) < v || (double)rmqi_hist_upper(i) > v * 1.125 + 1) {
      CHECK(!"bucket bound out of range");
      break;
    }
  }
  CHECK_UINT(rmqi_hist_bucket(UINT64_MAX), RMQI_HIST_BUCKETS - 1);
  CHECK_UINT(rmqi_hist_bucket((uint64_t)1 << 40), RMQI_HIST_BUCKETS - 1);
  CHECK(rmqi_hist_bucket(((uint64_t)1 << 40) - 1) < RMQI_HIST_BUCKETS);
}

TEST(hist_percentiles_within_an_eighth) {
  rmqi_hist_t *h = calloc(1, sizeof(*h));
  /* 1..10000 once each: the true p50 is 5000, p99 9900, p999 9990 */
  for (uint64_t v = 1; v <= 10000; v++)
    rmqi_hist_add(h, v);
  rmqi_hist_sum_t s = rmqi_hist_summary(h);
  CHECK_UINT(s.count, 10000);
  CHECK_UINT(s.min, 1);
  CHECK_UINT(s.max, 10000);
  CHECK(s.mean > 5000.4 && s.mean < 5000.6);
  CHECK(s.p50 >= 5000 && s.p50 <= 5000 * 1.125);
  CHECK(s.p90 >= 9000 && s.p90 <= 9000 * 1.125);
  CHECK(s.p99 >= 9900 && s.p99 <= 10000);
  CHECK(s.p999 >= 9990 && s.p999 <= 10000);
  free(h);
}

TEST(hist_empty_and_single) {
  rmqi_hist_t *h = calloc(1, sizeof(*h));
  rmqi_hist_sum_t s = rmqi_hist_summary(h);
  CHECK_UINT(s.count, 0);
  CHECK_UINT(s.p99, 0);
  rmqi_hist_add(h, 777);
  s = rmqi_hist_summary(h);
  CHECK_UINT(s.count, 1);
  CHECK_UINT(s.min, 777);
  CHECK_UINT(s.p50, 777); /* clamped to [min, max] */
  CHECK_UINT(s.p999, 777);
  rmqi_hist_add(h, UINT64_MAX); /* the last bucket, no overflow of min */
  s = rmqi_hist_summary(h);
  CHECK_UINT(s.max, UINT64_MAX);
  CHECK_UINT(s.min, 777);
  free(h);
}

TEST(jw_writes_what_the_reader_reads) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_jw_t w;
  rmqi_jw_init(&w, &b);
  rmqi_jw_obj(&w, NULL);
  rmqi_jw_str(&w, "s", "a\"b\\c\n\x01");
  rmqi_jw_str(&w, "null", NULL);
  rmqi_jw_i64(&w, "neg", INT64_MIN);
  rmqi_jw_u64(&w, "big", UINT64_MAX);
  rmqi_jw_dbl(&w, "half", 2.5);
  rmqi_jw_dbl(&w, "int", 3.0);
  rmqi_jw_dbl(&w, "nan", 0.0 / 0.0);
  rmqi_jw_bool(&w, "t", true);
  rmqi_jw_arr(&w, "a");
  rmqi_jw_i64(&w, NULL, 1);
  rmqi_jw_obj(&w, NULL);
  rmqi_jw_end_obj(&w);
  rmqi_jw_arr(&w, NULL);
  rmqi_jw_end_arr(&w);
  rmqi_jw_end_arr(&w);
  rmqi_jw_obj(&w, "o");
  rmqi_jw_i64(&w, "x", 1);
  rmqi_jw_end_obj(&w);
  rmqi_jw_end_obj(&w);
  REQUIRE(rmqi_buf_ok(&b));
  static const char want[] =
      "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"null\":null,"
      "\"neg\":-9223372036854775808,\"big\":18446744073709551615,"
      "\"half\":2.5,\"int\":3,\"nan\":null,\"t\":true,"
      "\"a\":[1,{},[]],\"o\":{\"x\":1}}";
  CHECK_MEM(b.data, b.len, want, sizeof(want) - 1);
  rmqi_json_t doc;
  CHECK_ERR(rmqi_json_parse(&doc, (const char *)b.data, b.len, NULL), RMQ_OK);
  rmqi_json_free(&doc);
  rmqi_buf_free(&b);
}

static atomic_int reports;
static atomic_int bad_reports;
static void on_stats(rmq_client_t *c, const char *json, size_t len,
                     void *opaque) {
  (void)c, (void)opaque;
  rmqi_json_t doc;
  if (strlen(json) != len || rmqi_json_parse(&doc, json, len, NULL) != RMQ_OK) {
    atomic_fetch_add(&bad_reports, 1);
    return;
  }
  if (jint(doc.root, "ts") <= 0 || jpath(doc.root, "producers.0") == NULL)
    atomic_fetch_add(&bad_reports, 1);
  rmqi_json_free(&doc);
  atomic_fetch_add(&reports, 1);
}

static void on_async(rmq_producer_t *p, rmq_err_t err,
                     const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p, (void)err, (void)res, (void)m, (void)op;
}

static rmq_msg_t *msg(const char *body) {
  rmq_msg_t *m = rmq_msg_new("TopicT");
  rmq_msg_set_body(m, body, strlen(body));
  return m;
}

TEST(producer_counts_match_what_the_broker_answered) {
  mock_t *m = mock_start();
  route_to(m);
  /* the first send is refused once (retried), then all are stored */
  mock_add_rule(m, &(mock_rule_t){.code = 310,
                                  .resp_code = 14,
                                  .remark = "[SERVICE_NOT_AVAILABLE] busy",
                                  .times = 1});
  mock_add_rule(m, &(mock_rule_t){.code = 310, .times = 10});
  mock_add_rule(m, &(mock_rule_t){.code = 320, .times = 1}); /* batch */
  mock_add_rule(m, &(mock_rule_t){.code = 310,
                                  .resp_code = 13,
                                  .remark = "the message is illegal"});
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", mock_addr(m), NULL, 0);
  rmq_conf_set(c, "producerGroup", "PG", NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  char err[256];
  CHECK_ERR(rmq_conf_set(c, "statisticsIntervalMs", "50", err, sizeof(err)),
            RMQ_ERR_CONF_INVALID);
  CHECK(strstr(err, "below 100") != NULL);
  CHECK_ERR(rmq_conf_set(c, "statisticsIntervalMs", "100", NULL, 0), RMQ_OK);
  rmq_conf_set_stats_cb(c, on_stats, NULL);
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  REQUIRE(p != NULL);
  rmq_send_result_t r;
  rmq_msg_t *x = msg("0123456789"); /* borrowed by synchronous sends */
  for (int i = 0; i < 9; i++) {     /* 9 sync: 10 requests with the retry */
    CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_OK);
    rmq_send_result_clear(&r);
  }
  rmq_msg_destroy(x);
  CHECK_ERR(rmq_producer_send_async(p, msg("0123456789"), on_async, NULL),
            RMQ_OK);
  CHECK_ERR(rmq_producer_flush(p, 3000), RMQ_OK);
  rmq_msg_t *b[5];
  for (int i = 0; i < 5; i++)
    b[i] = msg("01234");
  CHECK_ERR(rmq_producer_send_batch(p, b, 5, &r), RMQ_OK);
  rmq_send_result_clear(&r);
  for (int i = 0; i < 5; i++)
    rmq_msg_destroy(b[i]);
  x = msg("x");
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_MESSAGE_ILLEGAL);
  rmq_send_result_clear(&r);
  rmq_msg_destroy(x);
  x = msg("one");
  CHECK_ERR(rmq_producer_send_oneway(p, x), RMQ_OK);
  rmq_msg_destroy(x);
  /* reports come every 100 ms while this runs */
  int64_t until = rmqi_now_ms() + 3000;
  while (atomic_load(&reports) < 2 && rmqi_now_ms() < until)
    usleep(10 * 1000);
  CHECK(atomic_load(&reports) >= 2);
  char *json = rmq_client_stats_json(rmq_producer_client(p));
  REQUIRE(json != NULL);
  rmqi_json_t doc;
  REQUIRE(rmqi_json_parse(&doc, json, strlen(json), NULL) == RMQ_OK);
  const rmqi_jval_t *j = doc.root;
  CHECK_STR(jstr(j, "version"), rmq_version());
  CHECK_STR(jstr(j, "producers.0.group"), "PG");
  CHECK_INT(jint(j, "producers.0.msgs_ok"), 9 + 1 + 5);
  CHECK_INT(jint(j, "producers.0.msgs_failed"), 1);
  CHECK_INT(jint(j, "producers.0.sends_ok"), 11);
  CHECK_INT(jint(j, "producers.0.sends_failed"), 1);
  CHECK_INT(jint(j, "producers.0.bytes_ok"), 10 * 10 + 5 * 5);
  CHECK_INT(jint(j, "producers.0.retries"), 1);
  CHECK_INT(jint(j, "producers.0.oneway_msgs"), 1);
  /* requests: 9 sync + 1 retry + 1 async + 1 batch + 1 refused */
  CHECK_INT(jint(j, "producers.0.requests"), 13);
  CHECK_INT(jint(j, "producers.0.request_msgs"), 9 + 1 + 1 + 5 + 1);
  CHECK_INT(jint(j, "producers.0.latency_us.count"), 13);
  CHECK(jint(j, "producers.0.latency_us.p50") <=
        jint(j, "producers.0.latency_us.p99"));
  CHECK(jint(j, "producers.0.latency_us.p99") <=
        jint(j, "producers.0.latency_us.max"));
  CHECK_INT(jint(j, "producers.0.errors.SERVICE_NOT_AVAILABLE"), 1);
  CHECK_INT(jint(j, "producers.0.errors.MESSAGE_ILLEGAL"), 1);
  CHECK(strstr(jstr(j, "producers.0.last_error"), "MESSAGE_ILLEGAL") != NULL);
  CHECK_INT(jint(j, "producers.0.inflight_msgs"), 0);
  double rate = jnum(j, "producers.0.success_rate");
  CHECK(rate >= 0.937 && rate <= 0.938); /* 15 of 16, 3 decimals */
  CHECK(jpath(j, "producers.1") == NULL);
  CHECK(jpath(j, "consumers.0") == NULL);
  /* the mock is name server and broker at one address */
  CHECK_STR(jstr(j, "brokers.0.addr"), mock_addr(m));
  CHECK_STR(jstr(j, "brokers.0.name"), "broker-a");
  CHECK_STR(jstr(j, "brokers.0.state"), "up");
  CHECK_INT(jint(j, "brokers.0.inflight"), 0);
  CHECK_INT(jint(j, "brokers.0.timeouts"), 0);
  CHECK_INT(jint(j, "brokers.0.oneways"), 1);
  CHECK_INT(jint(j, "brokers.0.connects"), 1);
  /* every request that expects an answer: the sends, route lookups and
   * heartbeats, each answered */
  CHECK(jint(j, "brokers.0.requests") >= 13 + 1);
  CHECK_INT(jint(j, "brokers.0.requests"), jint(j, "brokers.0.responses"));
  CHECK_INT(jint(j, "brokers.0.rtt_us.count"), jint(j, "brokers.0.responses"));
  rmqi_json_free(&doc);
  rmq_free(json);
  rmq_producer_destroy(p, 1000);
  CHECK_INT(atomic_load(&bad_reports), 0);
  mock_stop(m);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(hist_buckets_are_contiguous_and_tight),
      TCASE(hist_percentiles_within_an_eighth),
      TCASE(hist_empty_and_single),
      TCASE(jw_writes_what_the_reader_reads),
      TCASE(producer_counts_match_what_the_broker_answered),
  };
  return RUN_TESTS(cases);
}
