/* The lite pull consumer follows the broker's suggestWhichBrokerId: when
 * the master answers a pull with "ask broker 1", the next pulls of that
 * queue go to broker 1's address (a slave), as Java's PullAPIWrapper does.
 * Two mock brokers stand in for the master and the slave; a third mock is
 * the name server. */
#include "mock.h"
#include "rmq.h"
#include "test.h"
#include "util/time.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A consumer of @p group with the name server at @p ns and, unless NULL,
 * one more configuration key. */
static rmq_pull_consumer_t *consumer(mock_t *ns, const char *group,
                                     const char *key, const char *val) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", mock_addr(ns), NULL, 0);
  rmq_conf_set(c, "consumerGroup", group, NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  if (key)
    rmq_conf_set(c, key, val, NULL, 0);
  char err[256] = "";
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
  if (pc == NULL)
    fprintf(stderr, "consumer: %s\n", err);
  rmq_conf_destroy(c);
  return pc;
}

TEST(pulls_move_to_the_suggested_broker) {
  mock_t *ns = mock_start(), *master = mock_start(), *slave = mock_start();
  REQUIRE(ns && master && slave);
  mock_serve_route(ns, "broker-a", mock_addr(master), mock_addr(slave), 1);
  mock_rule_t r_off = {
      .code = 14, .action = MOCK_REPLY, .ext = {{"offset", "0"}}};
  mock_add_rule(master, &r_off);
  /* the master: nothing new, ask broker 1; the slave: nothing new, and
   * it holds each pull a little as a long-polling broker would */
  mock_rule_t r_pull = {.code = 11,
                        .action = MOCK_REPLY,
                        .resp_code = 19,
                        .ext = {{"nextBeginOffset", "0"},
                                {"minOffset", "0"},
                                {"maxOffset", "0"},
                                {"suggestWhichBrokerId", "1"}}};
  mock_add_rule(master, &r_pull);
  mock_rule_t r_pull_slave = {.code = 11,
                              .action = MOCK_REPLY,
                              .resp_code = 19,
                              .delay_ms = 50,
                              .ext = {{"nextBeginOffset", "0"},
                                      {"minOffset", "0"},
                                      {"maxOffset", "0"},
                                      {"suggestWhichBrokerId", "1"}}};
  mock_add_rule(slave, &r_pull_slave);

  rmq_pull_consumer_t *pc = consumer(ns, "suggest_group", NULL, NULL);
  REQUIRE(pc != NULL);
  rmq_queue_t q = {"SuggestTopic", "broker-a", 0};
  CHECK_ERR(rmq_pull_consumer_assign(pc, &q, 1), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  mock_wait_count(slave, 11, 3, 5000);
  CHECK(mock_count(master, 11) >= 1);
  CHECK(mock_count(slave, 11) >= 3);
  /* after the first answer every pull went to the slave */
  CHECK_INT(mock_count(master, 11), 1);
  rmq_msg_t *m[4];
  CHECK_INT(rmq_pull_consumer_poll(pc, m, 4, 0), 0);
  int64_t t0 = rmqi_now_ms();
  rmq_pull_consumer_destroy(pc, 2000);
  CHECK(rmqi_now_ms() - t0 < 2500);
  mock_stop(ns);
  mock_stop(master);
  mock_stop(slave);
}

/* broker-a with its slave only (brokerId 1 at @p slave): what a name
 * server answers while the master is down. The body must outlive the
 * rule: it is written into @p buf. */
static void serve_slave_only(mock_t *ns, const char *slave, char *buf,
                             size_t n) {
  int len = snprintf(buf, n,
                     "{\"brokerDatas\":[{\"brokerAddrs\":{\"1\":\"%s\"},"
                     "\"brokerName\":\"broker-a\",\"cluster\":\"C\"}],"
                     "\"queueDatas\":[{\"brokerName\":\"broker-a\",\"perm\":6,"
                     "\"readQueueNums\":1,\"topicSysFlag\":0,"
                     "\"writeQueueNums\":1}]}",
                     slave);
  mock_add_rule(ns, &(mock_rule_t){.code = 105,
                                   .body = (const uint8_t *)buf,
                                   .body_len = (size_t)len});
}

/* A pull answer with nothing new, after @p delay_ms (long polling), that
 * names the master as the node to ask next. */
static void serve_no_new(mock_t *m, int delay_ms) {
  mock_add_rule(m, &(mock_rule_t){.code = 11,
                                  .action = MOCK_REPLY,
                                  .resp_code = 19,
                                  .delay_ms = delay_ms,
                                  .ext = {{"nextBeginOffset", "0"},
                                          {"minOffset", "0"},
                                          {"maxOffset", "0"},
                                          {"suggestWhichBrokerId", "0"}}});
}

/* The master is gone from the route (the name server lists broker-a's
 * slave only): the periodic route refresh installs that route, and pulls
 * move to the slave. Before, a refreshed route without a writable queue
 * was thrown away, so the consumer kept pulling from the dead master's
 * address for as long as it was down. */
TEST(a_route_without_the_master_moves_pulls_to_the_slave) {
  mock_t *ns = mock_start(), *master = mock_start(), *slave = mock_start();
  REQUIRE(ns && master && slave);
  mock_serve_route(ns, "broker-a", mock_addr(master), mock_addr(slave), 1);
  mock_rule_t r_off = {
      .code = 14, .action = MOCK_REPLY, .ext = {{"offset", "0"}}};
  mock_add_rule(master, &r_off);
  serve_no_new(master, 50);
  serve_no_new(slave, 50);
  rmq_pull_consumer_t *pc =
      consumer(ns, "no_master_group", "pollNameServerInterval", "100");
  REQUIRE(pc != NULL);
  rmq_queue_t q = {"NoMasterTopic", "broker-a", 0};
  CHECK_ERR(rmq_pull_consumer_assign(pc, &q, 1), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  CHECK(mock_wait_count(master, 11, 2, 5000) >= 2);
  CHECK_INT(mock_count(slave, 11), 0);
  static char route[512];
  mock_clear_rules(ns);
  serve_slave_only(ns, mock_addr(slave), route, sizeof(route));
  CHECK(mock_wait_count(slave, 11, 3, 5000) >= 3);
  int at_master = mock_count(master, 11);
  usleep(300 * 1000);
  CHECK_INT(mock_count(master, 11), at_master); /* no longer asked */
  rmq_pull_consumer_destroy(pc, 2000);
  mock_stop(ns);
  mock_stop(master);
  mock_stop(slave);
}

/* Requests with @p code that wait for an answer. */
static int two_way(mock_t *m, int32_t code) {
  return mock_count_twoway(m, code);
}

/* With the master down, commits go to the slave (Java: the master, else
 * any node), which takes them; but the master never learns them from the
 * slave. So a commit a slave took is sent again at each commit until the
 * master, back in the route, has taken it; after that it is not sent
 * again. Before, the slave's SUCCESS marked it done: the restarted master
 * kept its old offsets for good. */
TEST(a_commit_a_slave_took_is_sent_again_until_the_master_has_it) {
  mock_t *ns = mock_start(), *master = mock_start(), *slave = mock_start();
  REQUIRE(ns && master && slave);
  static char route[512];
  serve_slave_only(ns, mock_addr(slave), route, sizeof(route));
  mock_rule_t r_off = {
      .code = 14, .action = MOCK_REPLY, .ext = {{"offset", "0"}}};
  mock_add_rule(slave, &r_off);
  mock_add_rule(master, &r_off);
  /* the queue's min and max offsets (seek checks its target) */
  mock_rule_t r_min = {
      .code = 31, .action = MOCK_REPLY, .ext = {{"offset", "0"}}};
  mock_rule_t r_max = {
      .code = 30, .action = MOCK_REPLY, .ext = {{"offset", "10"}}};
  mock_add_rule(slave, &r_min);
  mock_add_rule(slave, &r_max);
  serve_no_new(slave, 50);
  serve_no_new(master, 50);
  rmq_pull_consumer_t *pc =
      consumer(ns, "slave_commit_group", "pollNameServerInterval", "100");
  REQUIRE(pc != NULL);
  rmq_queue_t q = {"SlaveCommitTopic", "broker-a", 0};
  CHECK_ERR(rmq_pull_consumer_assign(pc, &q, 1), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  REQUIRE(mock_wait_count(slave, 11, 1, 5000) >= 1); /* seeded, pulling */
  CHECK_ERR(rmq_pull_consumer_seek(pc, &q, 5), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_commit(pc), RMQ_OK);
  CHECK_INT(two_way(slave, 15), 1);
  char off[32] = "";
  CHECK(mock_last_ext(slave, 15, "commitOffset", off, sizeof(off)));
  CHECK_STR(off, "5");
  CHECK_ERR(rmq_pull_consumer_commit(pc), RMQ_OK);
  CHECK_INT(two_way(slave, 15), 2); /* the master does not have it */
  /* the master is back in the route */
  mock_clear_rules(ns);
  mock_serve_route(ns, "broker-a", mock_addr(master), mock_addr(slave), 1);
  CHECK(mock_wait_count(master, 11, 1, 5000) >= 1); /* the route moved */
  CHECK_ERR(rmq_pull_consumer_commit(pc), RMQ_OK);
  CHECK_INT(two_way(master, 15), 1);
  CHECK(mock_last_ext(master, 15, "commitOffset", off, sizeof(off)));
  CHECK_STR(off, "5");
  CHECK_ERR(rmq_pull_consumer_commit(pc), RMQ_OK);
  CHECK_INT(two_way(master, 15), 1); /* taken: not sent again */
  CHECK_INT(two_way(slave, 15), 2);
  rmq_pull_consumer_destroy(pc, 2000);
  mock_stop(ns);
  mock_stop(master);
  mock_stop(slave);
}

/* An offset the broker took is sent again, one-way, at every periodic
 * commit (Java resends every offset each period), for a broker may have
 * lost it: one killed with kill -9 comes back without the offsets it took
 * since its last flush (every 5 s), and the first commits of a group
 * arriving together overwrite each other (ConsumerOffsetManager creates
 * the group's table without a compare-and-set; 11 of 640 such commits,
 * each answered SUCCESS, were lost in a test against 5.5.0). Before, an
 * idle queue's offset was never sent again. A moved offset is still sent
 * as a request whose answer decides, once. */
TEST(a_taken_offset_is_sent_again_one_way_every_period) {
  mock_t *ns = mock_start(), *b = mock_start();
  REQUIRE(ns && b);
  mock_serve_route(ns, "broker-a", mock_addr(b), NULL, 1);
  mock_rule_t r_off = {
      .code = 14, .action = MOCK_REPLY, .ext = {{"offset", "0"}}};
  mock_rule_t r_min = {
      .code = 31, .action = MOCK_REPLY, .ext = {{"offset", "0"}}};
  mock_rule_t r_max = {
      .code = 30, .action = MOCK_REPLY, .ext = {{"offset", "10"}}};
  mock_add_rule(b, &r_off);
  mock_add_rule(b, &r_min);
  mock_add_rule(b, &r_max);
  serve_no_new(b, 50);
  rmq_pull_consumer_t *pc =
      consumer(ns, "refresh_group", "persistConsumerOffsetInterval", "200");
  REQUIRE(pc != NULL);
  rmq_queue_t q = {"RefreshTopic", "broker-a", 0};
  CHECK_ERR(rmq_pull_consumer_assign(pc, &q, 1), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  REQUIRE(mock_wait_count(b, 11, 1, 5000) >= 1);
  CHECK_INT(mock_count(b, 15), 0); /* nothing to commit yet */
  CHECK_ERR(rmq_pull_consumer_seek(pc, &q, 5), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_commit(pc), RMQ_OK);
  CHECK_INT(two_way(b, 15), 1);
  /* the periods after it: one-way, with the same offset */
  int64_t end = rmqi_now_ms() + 5000;
  while (mock_count_oneway(b, 15) < 3 && rmqi_now_ms() < end)
    usleep(20 * 1000);
  CHECK(mock_count_oneway(b, 15) >= 3);
  char off[32] = "";
  CHECK(mock_last_ext(b, 15, "commitOffset", off, sizeof(off)));
  CHECK_STR(off, "5");
  CHECK_INT(two_way(b, 15), 1); /* taken: no answer awaited again */
  rmq_pull_consumer_destroy(pc, 2000);
  mock_stop(ns);
  mock_stop(b);
}

/* A route refresh that brings a broker back (the master restarted) sends
 * a heartbeat at once: the master learns the consumer's group without
 * waiting for heartbeatBrokerInterval (a 5.x master refuses commits of a
 * group it does not know: SUBSCRIPTION_GROUP_NOT_EXIST). */
TEST(a_route_change_heartbeats_the_new_brokers_at_once) {
  mock_t *ns = mock_start(), *master = mock_start(), *slave = mock_start();
  REQUIRE(ns && master && slave);
  static char route[512];
  serve_slave_only(ns, mock_addr(slave), route, sizeof(route));
  mock_rule_t r_off = {
      .code = 14, .action = MOCK_REPLY, .ext = {{"offset", "0"}}};
  mock_add_rule(slave, &r_off);
  mock_add_rule(master, &r_off);
  serve_no_new(slave, 50);
  serve_no_new(master, 50);
  rmq_pull_consumer_t *pc =
      consumer(ns, "hb_route_group", "pollNameServerInterval", "100");
  REQUIRE(pc != NULL);
  rmq_queue_t q = {"HbRouteTopic", "broker-a", 0};
  CHECK_ERR(rmq_pull_consumer_assign(pc, &q, 1), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  REQUIRE(mock_wait_count(slave, 11, 1, 5000) >= 1); /* running */
  /* past the first periodic heartbeat (1 s after the start); the next is
   * 30 s away */
  usleep(1500 * 1000);
  CHECK_INT(mock_count(master, 34), 0);
  mock_clear_rules(ns);
  mock_serve_route(ns, "broker-a", mock_addr(master), mock_addr(slave), 1);
  /* heartbeatBrokerInterval is 30 s: this one is the route change's */
  CHECK(mock_wait_count(master, 34, 1, 3000) >= 1);
  rmq_pull_consumer_destroy(pc, 2000);
  mock_stop(ns);
  mock_stop(master);
  mock_stop(slave);
}

/* NOTIFY_CONSUMER_IDS_CHANGED from a broker starts a rebalance at once:
 * with the periodic one 60 s away, the group's member list is asked for
 * again within a moment of the notification. */
TEST(notify_consumer_ids_changed_rebalances_at_once) {
  mock_t *ns = mock_start(), *b = mock_start();
  REQUIRE(ns && b);
  mock_serve_route(ns, "broker-a", mock_addr(b), NULL, 2);
  static const char ids[] = "{\"consumerIdList\":[\"x@y\"]}";
  mock_rule_t r_ids = {.code = 38,
                       .action = MOCK_REPLY,
                       .body = (const uint8_t *)ids,
                       .body_len = sizeof(ids) - 1};
  mock_add_rule(b, &r_ids);
  rmq_pull_consumer_t *pc =
      consumer(ns, "notify_group", "rebalanceInterval", "60000");
  REQUIRE(pc != NULL);
  CHECK_ERR(rmq_pull_consumer_subscribe(pc, "NotifyTopic", "*"), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  REQUIRE(mock_wait_count(b, 38, 1, 5000) == 1); /* the first rebalance */
  usleep(300 * 1000);
  CHECK_INT(mock_count(b, 38), 1); /* and no other until told */
  /* the broker's one-way notification, with the group in its header */
  mock_push_ext(b, 40, "consumerGroup", "notify_group");
  CHECK_INT(mock_wait_count(b, 38, 2, 3000), 2);
  /* another group's notification is not ours */
  mock_push_ext(b, 40, "consumerGroup", "other_group");
  usleep(500 * 1000);
  CHECK_INT(mock_count(b, 38), 2);
  rmq_pull_consumer_destroy(pc, 2000);
  mock_stop(ns);
  mock_stop(b);
}

/* destroy() keeps its timeout while the service thread waits on a broker
 * that never answers (the group's member list, apiTimeout 10 s here): the
 * thread's call is abandoned, not waited out. */
TEST(destroy_abandons_the_service_threads_blocked_call) {
  mock_t *ns = mock_start(), *b = mock_start();
  REQUIRE(ns && b);
  mock_serve_route(ns, "broker-a", mock_addr(b), NULL, 2);
  mock_rule_t r_ids = {.code = 38, .action = MOCK_DROP};
  mock_add_rule(b, &r_ids);
  rmq_pull_consumer_t *pc =
      consumer(ns, "abandon_group", "mqClientApiTimeout", "10000");
  REQUIRE(pc != NULL);
  CHECK_ERR(rmq_pull_consumer_subscribe(pc, "AbandonTopic", "*"), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  REQUIRE(mock_wait_count(b, 38, 1, 5000) == 1); /* the service thread waits */
  int64_t t0 = rmqi_now_ms();
  rmq_pull_consumer_destroy(pc, 1000);
  int64_t took = rmqi_now_ms() - t0;
  CHECK(took < 1500);
  if (took >= 1500)
    fprintf(stderr, "destroy took %lld ms\n", (long long)took);
  mock_stop(ns);
  mock_stop(b);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(pulls_move_to_the_suggested_broker),
      TCASE(a_route_without_the_master_moves_pulls_to_the_slave),
      TCASE(a_commit_a_slave_took_is_sent_again_until_the_master_has_it),
      TCASE(a_taken_offset_is_sent_again_one_way_every_period),
      TCASE(a_route_change_heartbeats_the_new_brokers_at_once),
      TCASE(notify_consumer_ids_changed_rebalances_at_once),
      TCASE(destroy_abandons_the_service_threads_blocked_call)};
  return RUN_TESTS(cases);
}
