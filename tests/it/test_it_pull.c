/* The pull layer against real brokers: what our producer (and the Java
 * client) wrote comes back record by record with full metadata; the four
 * pull outcomes; a tag filter applied by the broker. */
#include "client/client.h"
#include "codec/json.h"
#include "consumer/offsets.h"
#include "consumer/pull.h"
#include "it.h"
#include "test.h"
#include "util/time.h"

#include <stdlib.h>
#include <unistd.h>

static it_env_t env;

static rmq_producer_t *producer(void) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_producer_t *p = rmq_producer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  return p;
}

static rmqi_pull_req_t req(const char *topic, int64_t offset, const char *sub) {
  rmqi_pull_req_t r = {.group = "it_pull_group",
                       .topic = topic,
                       .broker = "broker-a",
                       .queue_id = 0,
                       .offset = offset,
                       .max_nums = 32,
                       .sys_flag = RMQI_PULL_SUBSCRIPTION,
                       .suspend_ms = 0,
                       .subscription = sub,
                       .expression_type = "TAG"};
  return r;
}

TEST(pull_returns_what_was_sent_with_metadata) {
  char topic[128], args[400];
  it_unique(topic, sizeof(topic), "it_pull");
  snprintf(args, sizeof(args), "%s --queues 1", topic);
  REQUIRE(it_harness(&env, "topic", args, NULL) == 0);
  rmq_producer_t *p = producer();
  REQUIRE(p != NULL);
  char ids[6][64];
  for (int i = 0; i < 6; i++) {
    rmq_msg_t *m = rmq_msg_new(topic);
    char body[5000];
    size_t len =
        i == 5 ? sizeof(body) : (size_t)snprintf(body, 64, "pull %d", i);
    if (i == 5)
      memset(body, 'z', sizeof(body)); /* compressed on the way */
    rmq_msg_set_body(m, body, len);
    rmq_msg_set_tags(m, i % 2 ? "TagOdd" : "TagEven");
    rmq_msg_set_property(m, "n", i % 2 ? "odd" : "even");
    rmq_send_result_t r;
    CHECK_ERR(rmq_producer_send(p, m, &r), RMQ_OK);
    snprintf(ids[i], sizeof(ids[i]), "%s", r.msg_id);
    rmq_send_result_clear(&r);
    rmq_msg_destroy(m);
  }
  rmq_client_t *c = rmq_producer_client(p);
  rmqi_snap_t *s;
  char err[256];
  REQUIRE(rmqi_client_route(c, topic, rmqi_now_ms() + 3000, &s, err,
                            sizeof(err)) == RMQ_OK);
  const char *addr = rmqi_route_addr(&s->route, "broker-a", 0);
  REQUIRE(addr != NULL);

  rmqi_pull_req_t rq = req(topic, 0, "*");
  rmqi_pull_res_t res;
  /* A broker acknowledges a send once the commit log has it; its consume
   * queue follows a moment later (the reput service), so on a busy machine
   * a pull right away may see 5 of the 6: ask until the queue has them. */
  for (int t = 0;; t++) {
    REQUIRE(rmqi_pull_sync(c, addr, &rq, 10000, &res, err, sizeof(err)) ==
            RMQ_OK);
    if (res.max_offset >= 6 || t == 50)
      break;
    rmqi_pull_res_free(&res);
    usleep(100 * 1000);
  }
  CHECK_INT(res.status, 0);
  CHECK_INT(res.next_begin, 6);
  CHECK_INT(res.min_offset, 0);
  CHECK_INT(res.max_offset, 6);
  size_t pos = 0;
  int n = 0;
  rmqi_msgrec_t m;
  rmqi_errbuf_t e;
  while (rmqi_pull_next(&res, &pos, &m, &e) == RMQ_OK) {
    CHECK_INT(m.queue_offset, n);
    CHECK_MEM(m.topic, m.topic_len, topic, strlen(topic));
    CHECK_ERR(rmqi_msgrec_check_crc(&m, &e), RMQ_OK);
    size_t vl;
    const char *u = rmqi_props_get(m.props, m.props_len, "UNIQ_KEY", &vl);
    CHECK(u && vl == strlen(ids[n]) && memcmp(u, ids[n], vl) == 0);
    uint8_t *plain;
    size_t pl;
    CHECK_ERR(rmqi_msgrec_inflate(&m, 1 << 20, &plain, &pl, &e), RMQ_OK);
    if (n == 5) {
      CHECK(m.sys_flag & RMQI_SYS_COMPRESSED);
      CHECK_UINT(pl, 5000);
      CHECK(plain && plain[0] == 'z' && plain[4999] == 'z');
    } else {
      char want[32];
      snprintf(want, sizeof(want), "pull %d", n);
      CHECK_MEM(m.body, m.body_len, want, strlen(want));
    }
    free(plain);
    CHECK(m.store_ts >= m.born_ts - 1000);
    CHECK_UINT(m.store.port, (unsigned)atoi(strrchr(addr, ':') + 1));
    n++;
  }
  CHECK_INT(n, 6);
  rmqi_pull_res_free(&res);

  /* Nothing new at the end; an offset past the end has moved. */
  rq = req(topic, 6, "*");
  REQUIRE(rmqi_pull_sync(c, addr, &rq, 10000, &res, err, sizeof(err)) ==
          RMQ_OK);
  CHECK_INT(res.status, RMQ_PULL_NOT_FOUND);
  rmqi_pull_res_free(&res);
  rq = req(topic, 1000, "*");
  REQUIRE(rmqi_pull_sync(c, addr, &rq, 10000, &res, err, sizeof(err)) ==
          RMQ_OK);
  CHECK(res.status == RMQ_PULL_OFFSET_MOVED ||
        res.status == RMQ_PULL_NOT_FOUND);
  CHECK_INT(res.next_begin, 6);
  rmqi_pull_res_free(&res);

  /* The broker filters by tag hash: only the odd ones. */
  rq = req(topic, 0, "TagOdd");
  REQUIRE(rmqi_pull_sync(c, addr, &rq, 10000, &res, err, sizeof(err)) ==
          RMQ_OK);
  CHECK_INT(res.status, 0);
  pos = 0;
  n = 0;
  while (rmqi_pull_next(&res, &pos, &m, &e) == RMQ_OK) {
    size_t vl;
    const char *t = rmqi_props_get(m.props, m.props_len, "TAGS", &vl);
    CHECK(t && vl == 6 && memcmp(t, "TagOdd", 6) == 0);
    n++;
  }
  CHECK_INT(n, 3);
  rmqi_pull_res_free(&res);

  /* Queue offsets, and a committed consumer offset the admin tool sees. */
  int64_t off = -1;
  CHECK_ERR(rmqi_queue_offset(c, addr, RMQI_OFF_MAX, topic, "broker-a", 0, 0,
                              &off, err, sizeof(err)),
            RMQ_OK);
  CHECK_INT(off, 6);
  CHECK_ERR(rmqi_queue_offset(c, addr, RMQI_OFF_MIN, topic, "broker-a", 0, 0,
                              &off, err, sizeof(err)),
            RMQ_OK);
  CHECK_INT(off, 0);
  CHECK_ERR(rmqi_queue_offset(c, addr, RMQI_OFF_BY_TIME, topic, "broker-a", 0,
                              rmqi_wall_ms() + 60000, &off, err, sizeof(err)),
            RMQ_OK);
  /* Nothing stored after that time: 5.x (boundary LOWER) answers the max
   * offset, 4.9 the offset of the last message (observed on 4.9.7). */
  CHECK_INT(off, env.major == 4 ? 5 : 6);
  char group[96];
  it_unique(group, sizeof(group), "it_off_g");
  /* 5.x refuses offsets of a group it does not know (a consumer's heartbeat
   * would create it). */
  REQUIRE(it_harness(&env, "group", group, NULL) == 0);
  CHECK_ERR(rmqi_commit_offset(c, addr, group, topic, "broker-a", 0, 4, false,
                               err, sizeof(err)),
            RMQ_OK);
  CHECK_ERR(rmqi_consumer_offset(c, addr, group, topic, "broker-a", 0, &off,
                                 err, sizeof(err)),
            RMQ_OK);
  CHECK_INT(off, 4);
  rmqi_snap_release(s);
  rmq_producer_destroy(p, 2000);
}

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {
      TCASE(pull_returns_what_was_sent_with_metadata)};
  return RUN_TESTS(cases);
}
