/* JSON reader, routes and the heartbeat body against json.md's real
 * fastjson outputs, plus malformed input. */
#include "codec/body.h"
#include "codec/json.h"
#include "codec/route.h"
#include "test.h"

#include <stdlib.h>

static const char route_intkeys[] =
    "{\"brokerDatas\":[{\"brokerAddrs\":{0:\"192.168.0.10:10911\",1:\"192.168."
    "0.11:10911\"},\"brokerName\":\"broker-a\",\"cluster\":\"DefaultCluster\","
    "\"enableActingMaster\":false},{\"brokerAddrs\":{0:\"192.168.0.12:10911\"}"
    ",\"brokerName\":\"broker-b\",\"cluster\":\"DefaultCluster\","
    "\"enableActingMaster\":false}],\"filterServerTable\":{},\"queueDatas\":[{"
    "\"brokerName\":\"broker-a\",\"perm\":6,\"readQueueNums\":4,"
    "\"topicSysFlag\":0,\"writeQueueNums\":4},{\"brokerName\":\"broker-b\","
    "\"perm\":6,\"readQueueNums\":4,\"topicSysFlag\":0,\"writeQueueNums\":4}]}";

static const char route_std[] =
    "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"192.168.0.10:10911\",\"1\":"
    "\"192.168.0.11:10911\"},\"brokerName\":\"broker-a\",\"cluster\":"
    "\"DefaultCluster\",\"enableActingMaster\":false},{\"brokerAddrs\":{\"0\":"
    "\"192.168.0.12:10911\"},\"brokerName\":\"broker-b\",\"cluster\":"
    "\"DefaultCluster\",\"enableActingMaster\":false}],\"filterServerTable\":{"
    "},\"queueDatas\":[{\"brokerName\":\"broker-a\",\"perm\":6,"
    "\"readQueueNums\":4,\"topicSysFlag\":0,\"writeQueueNums\":4},{"
    "\"brokerName\":\"broker-b\",\"perm\":6,\"readQueueNums\":4,"
    "\"topicSysFlag\":0,\"writeQueueNums\":4}]}";

TEST(routes_in_both_encodings_decode_alike) {
  rmqi_route_t a, b;
  rmqi_errbuf_t e;
  REQUIRE(rmqi_route_decode(&a, route_intkeys, sizeof(route_intkeys) - 1, &e) ==
          RMQ_OK);
  REQUIRE(rmqi_route_decode(&b, route_std, sizeof(route_std) - 1, &e) ==
          RMQ_OK);
  CHECK(rmqi_route_equal(&a, &b));
  CHECK_UINT(a.n_brokers, 2);
  CHECK_UINT(a.n_queues, 2);
  CHECK_STR(rmqi_route_addr(&a, "broker-a", 0), "192.168.0.10:10911");
  CHECK_STR(rmqi_route_addr(&a, "broker-a", 1), "192.168.0.11:10911");
  CHECK(rmqi_route_addr(&a, "broker-b", 1) == NULL);
  CHECK_STR(a.brokers[1].cluster, "DefaultCluster");
  rmqi_mq_t *q;
  size_t n = rmqi_route_publish(&a, &q);
  CHECK_UINT(n, 8);
  CHECK_STR(q[0].broker, "broker-a");
  CHECK_INT(q[3].queue_id, 3);
  CHECK_STR(q[4].broker, "broker-b");
  rmqi_route_free(&a);
  rmqi_route_free(&b);
}

TEST(publish_skips_brokers_without_master_and_readonly_queues) {
  static const char j[] =
      "{\"brokerDatas\":[{\"brokerAddrs\":{\"1\":\"h:1\"},\"brokerName\":\"b1"
      "\"},{\"brokerAddrs\":{\"0\":\"h:2\"},\"brokerName\":\"b2\"},{"
      "\"brokerAddrs\":{\"0\":\"h:3\"},\"brokerName\":\"b3\"}],\"queueDatas\":"
      "[{\"brokerName\":\"b3\",\"perm\":6,\"readQueueNums\":2,"
      "\"writeQueueNums\":2},{\"brokerName\":\"b2\",\"perm\":4,"
      "\"readQueueNums\":3,\"writeQueueNums\":3},{\"brokerName\":\"b1\","
      "\"perm\":6,\"readQueueNums\":1,\"writeQueueNums\":1}]}";
  rmqi_route_t r;
  REQUIRE(rmqi_route_decode(&r, j, sizeof(j) - 1, NULL) == RMQ_OK);
  rmqi_mq_t *q;
  CHECK_UINT(rmqi_route_publish(&r, &q), 2); /* b1 no master, b2 read-only */
  CHECK_STR(q[0].broker, "b3");
  CHECK_UINT(rmqi_route_subscribe(&r, &q), 6); /* b1, b2, b3 readable */
  CHECK_STR(q[0].broker, "b1");
  rmqi_route_free(&r);
}

TEST(order_topic_conf_decides_publish_queues) {
  static const char j[] =
      "{\"orderTopicConf\":\"broker-b:2;broker-a:1;bad;x:0\",\"brokerDatas\":[]"
      ",\"queueDatas\":[]}";
  rmqi_route_t r;
  REQUIRE(rmqi_route_decode(&r, j, sizeof(j) - 1, NULL) == RMQ_OK);
  rmqi_mq_t *q;
  REQUIRE(rmqi_route_publish(&r, &q) == 3);
  CHECK_STR(q[0].broker, "broker-b");
  CHECK_INT(q[1].queue_id, 1);
  CHECK_STR(q[2].broker, "broker-a");
  rmqi_route_free(&r);
}

TEST(fastjson_object_keys_and_unicode) {
  static const char j[] =
      "{\"offsetTable\":{{\"brokerName\":\"a\",\"queueId\":0,\"topic\":\"T\"}:"
      "12},\"s\":\"\\u4e2d\\uD83D\\uDE00\",\"n\":-9223372036854775808,"
      "\"big\":9223372036854775808,\"f\":1.5e3,\"arr\":[true,false,null]}";
  rmqi_json_t d;
  REQUIRE(rmqi_json_parse(&d, j, sizeof(j) - 1, NULL) == RMQ_OK);
  const rmqi_jval_t *t = rmqi_json_get(d.root, "offsetTable");
  REQUIRE(t && t->type == RMQI_JOBJ && t->n == 1);
  CHECK_STR(rmqi_json_str(t->members[0].key, "topic"), "T");
  CHECK_INT(t->members[0].val->i, 12);
  CHECK_STR(rmqi_json_str(d.root, "s"), "\xe4\xb8\xad\xf0\x9f\x98\x80");
  int64_t v;
  CHECK(rmqi_json_int(d.root, "n", &v) && v == INT64_MIN);
  CHECK(!rmqi_json_int(d.root, "big", &v)); /* not an exact int64 */
  CHECK(!rmqi_json_int(d.root, "f", &v));
  CHECK_UINT(rmqi_json_get(d.root, "arr")->n, 3);
  rmqi_json_free(&d);
}

TEST(malformed_json_is_rejected_at_every_cut) {
  for (size_t cut = 0; cut < sizeof(route_std) - 1; cut++) {
    rmqi_json_t d;
    rmqi_errbuf_t e;
    if (rmqi_json_parse(&d, route_std, cut, &e) == RMQ_OK) {
      rmqt_fail(__FILE__, __LINE__, "accepted a cut at %zu", cut);
      rmqi_json_free(&d);
    }
  }
  static const char *const bad[] = {
      "{\"a\":01}", "{\"a\":1,}",          "[1 2]",   "{\"a\" 1}", "\"\\x\"",
      "tru",        "{\"a\":\"\\ud800\"}", "{a:1}",   "[1]x",      "{\"a\":-}",
      "{\"a\":1.}", "{\"a\":\"\x01\"}",    "{[1]:2}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    rmqi_json_t d;
    if (rmqi_json_parse(&d, bad[i], strlen(bad[i]), NULL) == RMQ_OK) {
      rmqt_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
      rmqi_json_free(&d);
    }
  }
  char deep[300];
  memset(deep, '[', 150);
  memset(deep + 150, ']', 150);
  rmqi_json_t d;
  rmqi_errbuf_t e;
  CHECK_ERR(rmqi_json_parse(&d, deep, 300, &e), RMQ_ERR_TOO_DEEP);
}

TEST(route_errors_name_the_problem) {
  static const char *const bad[] = {
      "{}",
      "{\"queueDatas\":[],\"brokerDatas\":{}}",
      "{\"queueDatas\":[{\"brokerName\":\"a\"}],\"brokerDatas\":[]}",
      "{\"queueDatas\":[],\"brokerDatas\":[{\"brokerName\":\"a\","
      "\"brokerAddrs\":{\"x\":\"h:1\"}}]}",
      "{\"queueDatas\":[{\"brokerName\":\"a\",\"perm\":6,\"readQueueNums\":-1,"
      "\"writeQueueNums\":1}],\"brokerDatas\":[]}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    rmqi_route_t r;
    rmqi_errbuf_t e = {0};
    rmq_err_t rc = rmqi_route_decode(&r, bad[i], strlen(bad[i]), &e);
    if (rc == RMQ_OK) {
      rmqt_fail(__FILE__, __LINE__, "accepted route #%zu", i);
      rmqi_route_free(&r);
    }
    CHECK(e.msg[0] != '\0');
  }
}

/* A 201-byte route announced 65,536 read queues; the decoder now refuses
 * more than RMQI_ROUTE_MAX_QUEUE_NUMS per QueueData, more than
 * RMQI_ROUTE_MAX_QUEUES in all and more than RMQI_ROUTE_MAX_ENTRIES
 * entries, naming the field. The caps themselves still decode. */
static rmq_err_t route_with(int nq, const char *rq, const char *wq, int nb,
                            rmqi_errbuf_t *e) {
  size_t cap = 64 + (size_t)(nq + nb) * 100;
  char *j = malloc(cap);
  size_t n = (size_t)snprintf(j, cap, "{\"queueDatas\":[");
  for (int i = 0; i < nq; i++)
    n += (size_t)snprintf(j + n, cap - n,
                          "%s{\"brokerName\":\"b%d\",\"perm\":6,"
                          "\"readQueueNums\":%s,\"writeQueueNums\":%s}",
                          i ? "," : "", i, rq, wq);
  n += (size_t)snprintf(j + n, cap - n, "],\"brokerDatas\":[");
  for (int i = 0; i < nb; i++)
    n += (size_t)snprintf(j + n, cap - n,
                          "%s{\"brokerName\":\"b%d\",\"brokerAddrs\":{\"0\":"
                          "\"h:1\"}}",
                          i ? "," : "", i);
  n += (size_t)snprintf(j + n, cap - n, "]}");
  rmqi_route_t r;
  rmq_err_t rc = rmqi_route_decode(&r, j, n, e);
  if (rc == RMQ_OK) {
    rmqi_mq_t *q;
    CHECK_UINT(rmqi_route_subscribe(&r, &q), (size_t)nq * (size_t)atoi(rq));
    rmqi_route_free(&r);
  }
  free(j);
  return rc;
}

TEST(route_queue_counts_and_entries_are_capped) {
  rmqi_errbuf_t e = {0};
  CHECK_ERR(route_with(1, "65536", "4", 1, &e), RMQ_ERR_BAD_ROUTE);
  CHECK(strstr(e.msg, "readQueueNums 65536") != NULL);
  CHECK_ERR(route_with(1, "4", "4097", 1, &e), RMQ_ERR_BAD_ROUTE);
  CHECK(strstr(e.msg, "writeQueueNums 4097") != NULL);
  CHECK_ERR(route_with(1, "4096", "4096", 1, &e), RMQ_OK);
  CHECK_ERR(route_with(16, "4096", "1", 16, &e), RMQ_OK); /* 65536 in all */
  CHECK_ERR(route_with(17, "4096", "1", 17, &e), RMQ_ERR_BAD_ROUTE);
  CHECK(strstr(e.msg, "65536 read queues") != NULL);
  CHECK_ERR(route_with(1024, "1", "1", 1024, &e), RMQ_OK);
  CHECK_ERR(route_with(1025, "1", "1", 1, &e), RMQ_ERR_BAD_ROUTE);
  CHECK(strstr(e.msg, "1025 queueDatas") != NULL);
  CHECK_ERR(route_with(1, "1", "1", 1025, &e), RMQ_ERR_BAD_ROUTE);
  CHECK(strstr(e.msg, "1025 brokerDatas") != NULL);
  /* ClusterInfo: at most 1024 brokers */
  for (int nb = 1024; nb <= 1025; nb++) {
    size_t cap = 64 + (size_t)nb * 80, n = 0;
    char *j = malloc(cap);
    n += (size_t)snprintf(j, cap, "{\"brokerAddrTable\":{");
    for (int i = 0; i < nb; i++)
      n +=
          (size_t)snprintf(j + n, cap - n,
                           "%s\"b%d\":{\"brokerName\":\"b%d\",\"brokerAddrs\":{"
                           "\"0\":\"h:1\"}}",
                           i ? "," : "", i, i);
    n += (size_t)snprintf(j + n, cap - n, "}}");
    rmqi_cluster_t c;
    rmq_err_t rc = rmqi_cluster_decode(&c, j, n, &e);
    rmq_err_t want = nb == 1024 ? RMQ_OK : RMQ_ERR_BAD_ROUTE;
    CHECK_ERR(rc, want);
    if (rc == RMQ_OK) {
      CHECK_UINT(c.n_brokers, 1024);
      rmqi_cluster_free(&c);
    }
    free(j);
  }
  CHECK(strstr(e.msg, "1025 brokers") != NULL);
}

/* A document of @p n copies of @p item in an array. */
static char *repeat_array(const char *item, size_t n, size_t *len) {
  size_t il = strlen(item), k = 0;
  char *j = malloc(n * (il + 1) + 2);
  j[k++] = '[';
  for (size_t i = 0; i < n; i++) {
    if (i)
      j[k++] = ',';
    memcpy(j + k, item, il);
    k += il;
  }
  j[k++] = ']';
  *len = k;
  return j;
}

/* The tree, with the parser's scratch, may take 16 bytes per input byte
 * + 64 KiB and never more than 64 MiB (it was 64x + 64 KiB with no
 * ceiling: 64 GiB for a 1 GiB frameMaxLength). Dense tiny values and
 * many empty objects reach the bound and fail with RMQ_ERR_LIMIT;
 * documents of strings and objects as RocketMQ sends them take a few
 * bytes per byte. */
TEST(parser_memory_is_bounded) {
  rmqi_json_t d;
  rmqi_errbuf_t e = {0};
  size_t len;
  char *j = repeat_array("0", 512 * 1024, &len); /* 1 MiB */
  CHECK_ERR(rmqi_json_parse(&d, j, len, &e), RMQ_ERR_LIMIT);
  char want[64];
  snprintf(want, sizeof(want), "needs more than %zu bytes", len * 16 + 65536);
  CHECK(strstr(e.msg, want) != NULL);
  free(j);
  j = repeat_array("{}", 350 * 1024, &len);
  CHECK_ERR(rmqi_json_parse(&d, j, len, &e), RMQ_ERR_LIMIT);
  free(j);
  j = repeat_array("[[[]]]", 150 * 1024, &len);
  CHECK_ERR(rmqi_json_parse(&d, j, len, &e), RMQ_ERR_LIMIT);
  free(j);
  /* 5 MiB: 16x would be 80 MiB, the ceiling says 64 */
  j = repeat_array("{}", 5 * 1024 * 1024 / 3, &len);
  CHECK_ERR(rmqi_json_parse(&d, j, len, &e), RMQ_ERR_LIMIT);
  CHECK(strstr(e.msg, "more than 67108864 bytes") != NULL);
  free(j);
  /* small documents of tiny values fit in the 64 KiB base */
  j = repeat_array("0", 1000, &len);
  CHECK_ERR(rmqi_json_parse(&d, j, len, &e), RMQ_OK);
  CHECK_UINT(d.root->n, 1000);
  rmqi_json_free(&d);
  free(j);
  /* 8 MiB of client ids (a consumer list) stays far under the bound */
  j = repeat_array("\"192.168.0.10@12345#1234567890123456789\"", 200 * 1024,
                   &len);
  CHECK_ERR(rmqi_json_parse(&d, j, len, &e), RMQ_OK);
  CHECK(d.arena.used < len * 3);
  rmqi_json_free(&d);
  free(j);
  /* a route (short keys, small integers) stays under half the bound */
  CHECK_ERR(rmqi_json_parse(&d, route_std, sizeof(route_std) - 1, &e), RMQ_OK);
  CHECK(d.arena.used < (sizeof(route_std) - 1) * 8); /* 5.4x */
  rmqi_json_free(&d);
}

TEST(heartbeat_matches_json_md_example) {
  static const char want[] =
      "{\"clientID\":\"192.168.0.2@12345#2783495722\",\"consumerDataSet\":[{"
      "\"consumeFromWhere\":\"CONSUME_FROM_LAST_OFFSET\",\"consumeType\":"
      "\"CONSUME_PASSIVELY\",\"groupName\":\"cg1\",\"messageModel\":"
      "\"CLUSTERING\",\"subscriptionDataSet\":[{\"classFilterMode\":false,"
      "\"codeSet\":[],\"expressionType\":\"TAG\",\"subString\":\"*\","
      "\"subVersion\":1700000000001,\"tagsSet\":[],\"topic\":\"%RETRY%cg1\"},{"
      "\"classFilterMode\":false,\"codeSet\":[2598919,2598920],"
      "\"expressionType\":\"TAG\",\"subString\":\"TagA || TagB\","
      "\"subVersion\":1700000000000,\"tagsSet\":[\"TagA\",\"TagB\"],\"topic\":"
      "\"TopicTest\"}],\"unitMode\":false}],\"heartbeatFingerprint\":0,"
      "\"producerDataSet\":[{\"groupName\":\"please_rename_unique_group_name\"}"
      ",{\"groupName\":\"CLIENT_INNER_PRODUCER\"}],\"withoutSub\":false}";
  static const char *const tags[] = {"TagA", "TagB"};
  static const int32_t codes[] = {2598919, 2598920};
  rmqi_hb_sub_t subs[] = {
      {"%RETRY%cg1", "*", "TAG", NULL, NULL, 0, 1700000000001},
      {"TopicTest", "TagA || TagB", "TAG", tags, codes, 2, 1700000000000}};
  rmqi_hb_consumer_t cons = {"cg1",
                             "CONSUME_PASSIVELY",
                             "CLUSTERING",
                             "CONSUME_FROM_LAST_OFFSET",
                             false,
                             subs,
                             2};
  static const char *const groups[] = {"please_rename_unique_group_name",
                                       "CLIENT_INNER_PRODUCER"};
  rmqi_heartbeat_t hb = {"192.168.0.2@12345#2783495722", groups, 2, &cons, 1};
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_heartbeat_encode(&b, &hb);
  CHECK_MEM(b.data, b.len, want, sizeof(want) - 1);
  rmqi_buf_free(&b);
}

TEST(numbers_and_booleans_given_as_strings_bind_like_fastjson) {
  static const char j[] =
      "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"h:1\"},\"brokerName\":\"b\","
      "\"cluster\":\"c\"}],\"queueDatas\":[{\"brokerName\":\"b\",\"perm\":"
      "\"6\","
      "\"readQueueNums\":\"3\",\"topicSysFlag\":\"1\",\"writeQueueNums\":2}]}";
  rmqi_route_t r;
  REQUIRE(rmqi_route_decode(&r, j, sizeof(j) - 1, NULL) == RMQ_OK);
  REQUIRE(r.n_queues == 1);
  CHECK_INT(r.queues[0].perm, 6);
  CHECK_INT(r.queues[0].read_nums, 3);
  CHECK_INT(r.queues[0].write_nums, 2);
  CHECK_INT(r.queues[0].sysflag, 1);
  rmqi_route_free(&r);
  rmqi_json_t d;
  static const char o[] =
      "{\"a\":\"true\",\"b\":\"x\",\"c\":\"12x\",\"d\":\"-7\"}";
  REQUIRE(rmqi_json_parse(&d, o, sizeof(o) - 1, NULL) == RMQ_OK);
  bool bv = false;
  int64_t iv = 0;
  CHECK(rmqi_json_bool(d.root, "a", &bv) && bv);
  CHECK(!rmqi_json_bool(d.root, "b", &bv));
  CHECK(!rmqi_json_int(d.root, "c", &iv));
  CHECK(rmqi_json_int(d.root, "d", &iv) && iv == -7);
  rmqi_json_free(&d);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(routes_in_both_encodings_decode_alike),
      TCASE(publish_skips_brokers_without_master_and_readonly_queues),
      TCASE(order_topic_conf_decides_publish_queues),
      TCASE(fastjson_object_keys_and_unicode),
      TCASE(malformed_json_is_rejected_at_every_cut),
      TCASE(route_errors_name_the_problem),
      TCASE(route_queue_counts_and_entries_are_capped),
      TCASE(parser_memory_is_bounded),
      TCASE(heartbeat_matches_json_md_example),
      TCASE(numbers_and_booleans_given_as_strings_bind_like_fastjson),
  };
  return RUN_TESTS(cases);
}
