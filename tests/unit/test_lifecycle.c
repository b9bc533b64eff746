/* Shutdown order, object lifetimes and misuse that must not crash (issue
 * 10): a client destroyed before its producer, callbacks that call the
 * library while a destroy drains them, destroys that honour their timeout
 * against a silent broker, poll mode waits on the polling thread, a route
 * without writable queues, server codes that must not pose as local
 * errors, heartbeats that name every group. Against the mock broker. */
#include "client/client.h"
#include "mock.h"
#include "test.h"
#include "util/disp.h"
#include "util/time.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

enum { RC_SEND = 310, RC_ROUTE = 105, RC_HEARTBEAT = 34, RC_UNREGISTER = 35 };

static char route_json[512];

/* A send the mock stores: queue 1, offset 5. */
static const mock_rule_t send_ok = {
    .code = RC_SEND,
    .ext = {{"msgId", "X"}, {"queueId", "1"}, {"queueOffset", "5"}}};

/* TopicT on broker-a (the mock itself) with @p perm (6: read and write, 4:
 * read only) and 4 queues; heartbeats answered. */
static void route_to(mock_t *m, int perm) {
  snprintf(route_json, sizeof(route_json),
           "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"%s\"},\"brokerName\":"
           "\"broker-a\",\"cluster\":\"C\"}],\"queueDatas\":[{\"brokerName\":"
           "\"broker-a\",\"perm\":%d,\"readQueueNums\":4,\"writeQueueNums\":4,"
           "\"topicSysFlag\":0}]}",
           mock_addr(m), perm);
  mock_add_rule(m, &(mock_rule_t){.code = RC_ROUTE,
                                  .body = (const uint8_t *)route_json,
                                  .body_len = strlen(route_json)});
  mock_add_rule(m, &(mock_rule_t){.code = RC_HEARTBEAT});
}

/* @p group: "producerGroup", "consumerGroup" or NULL (a client's conf:
 * every constructor refuses the keys of another scope). */
static rmq_conf_t *conf(mock_t *m, const char *group, const char *const *kv) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", mock_addr(m), NULL, 0);
  if (group)
    rmq_conf_set(c, group, group[0] == 'p' ? "PG" : "CG", NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  for (; kv && kv[0]; kv += 2) {
    char err[200];
    if (rmq_conf_set(c, kv[0], kv[1], err, sizeof(err)) != RMQ_OK)
      rmqt_fail(__FILE__, __LINE__, "conf %s=%s: %s", kv[0], kv[1], err);
  }
  return c;
}

static rmq_client_t *client(mock_t *m, const char *const *kv) {
  rmq_conf_t *c = conf(m, NULL, kv);
  char err[256];
  rmq_client_t *cl = rmq_client_new(c, err, sizeof(err));
  if (cl == NULL)
    fprintf(stderr, "client: %s\n", err);
  rmq_conf_destroy(c);
  return cl;
}

static rmq_producer_t *producer(rmq_client_t *cl, mock_t *m,
                                const char *const *kv) {
  rmq_conf_t *c = conf(m, "producerGroup", kv);
  char err[256];
  rmq_producer_t *p = rmq_producer_new(cl, c, err, sizeof(err));
  if (p == NULL)
    fprintf(stderr, "producer: %s\n", err);
  rmq_conf_destroy(c);
  return p;
}

static rmq_msg_t *msg(const char *body) {
  rmq_msg_t *x = rmq_msg_new("TopicT");
  rmq_msg_set_body(x, body, strlen(body));
  return x;
}

/* ---- a route without writable queues ------------------------------------ */

static int pick_first(size_t n, const char *const *names, const int32_t *ids,
                      const rmq_msg_t *m, void *arg) {
  (void)n, (void)names, (void)ids, (void)m, (void)arg;
  return 0;
}

static atomic_int async_calls;
static void count_cb(rmq_producer_t *p, rmq_err_t err,
                     const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p, (void)err, (void)res, (void)m, (void)op;
  atomic_fetch_add(&async_calls, 1);
}

/* A pull consumer on @p cl that has fetched (and so cached) the route of
 * TopicT, which has @p queues readable queues. */
static rmq_pull_consumer_t *route_cached(mock_t *m, rmq_client_t *cl,
                                         size_t queues) {
  rmq_conf_t *cc = conf(m, "consumerGroup", NULL);
  char err[256];
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(cl, cc, err, sizeof(err));
  rmq_conf_destroy(cc);
  if (pc == NULL)
    return NULL;
  rmq_queue_list_t ql = {0};
  CHECK_ERR(rmq_pull_consumer_fetch_queues(pc, "TopicT", &ql), RMQ_OK);
  CHECK_INT(ql.n, queues);
  rmq_queue_list_clear(&ql);
  return pc;
}

/* A consumer caches a read-only route; the producer of the same client
 * then has no queue to send to. It used to select "modulo 0" (SIGFPE). */
TEST(route_without_writable_queue_fails_every_send_path) {
  mock_t *m = mock_start();
  route_to(m, 4);
  rmq_client_t *cl = client(m, NULL);
  REQUIRE(cl != NULL);
  /* readable: the consumer's route is cached */
  rmq_pull_consumer_t *pc = route_cached(m, cl, 4);
  REQUIRE(pc != NULL);
  rmq_producer_t *p = producer(cl, m, NULL);
  REQUIRE(p != NULL);
  rmq_msg_t *x = msg("x");
  rmq_msg_set_sharding_key(x, "k");
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_ERR_NO_ROUTE);
  CHECK(r.error && strstr(r.error, "TopicT") != NULL);
  rmq_send_result_clear(&r);
  CHECK_ERR(rmq_producer_send_orderly(p, x, &r), RMQ_ERR_NO_ROUTE);
  rmq_send_result_clear(&r);
  CHECK_ERR(rmq_producer_send_select(p, x, pick_first, NULL, &r),
            RMQ_ERR_NO_ROUTE);
  rmq_send_result_clear(&r);
  CHECK_ERR(rmq_producer_send_to_queue(p, x, "broker-a", 0, &r),
            RMQ_ERR_NO_ROUTE);
  rmq_send_result_clear(&r);
  CHECK_ERR(rmq_producer_send_batch(p, &x, 1, &r), RMQ_ERR_NO_ROUTE);
  rmq_send_result_clear(&r);
  CHECK_ERR(rmq_producer_send_oneway(p, x), RMQ_ERR_NO_ROUTE);
  atomic_store(&async_calls, 0);
  CHECK_ERR(rmq_producer_send_async(p, x, count_cb, NULL), RMQ_ERR_NO_ROUTE);
  rmq_msg_destroy(x);
  CHECK_INT(mock_count(m, RC_SEND), 0);
  rmq_producer_destroy(p, 1000);
  CHECK_INT(atomic_load(&async_calls), 0); /* refused: no callback */
  rmq_pull_consumer_destroy(pc, 1000);
  rmq_client_destroy(cl, 1000);
  mock_stop(m);
}

/* The same with autoBatch: the route error comes through the callback. */
TEST(route_without_writable_queue_fails_an_auto_batch) {
  mock_t *m = mock_start();
  route_to(m, 4);
  rmq_client_t *cl = client(m, NULL);
  REQUIRE(cl != NULL);
  rmq_conf_t *cc = conf(m, "consumerGroup", NULL);
  char err[256];
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(cl, cc, err, sizeof(err));
  rmq_conf_destroy(cc);
  REQUIRE(pc != NULL);
  rmq_queue_list_t ql = {0};
  CHECK_ERR(rmq_pull_consumer_fetch_queues(pc, "TopicT", &ql), RMQ_OK);
  rmq_queue_list_clear(&ql);
  static const char *const kv[] = {"autoBatch", "true", NULL};
  rmq_producer_t *p = producer(cl, m, kv);
  REQUIRE(p != NULL);
  atomic_store(&async_calls, 0);
  CHECK_ERR(rmq_producer_send_async(p, msg("x"), count_cb, NULL), RMQ_OK);
  CHECK_ERR(rmq_producer_flush(p, 3000), RMQ_OK);
  CHECK_INT(atomic_load(&async_calls), 1);
  rmq_producer_destroy(p, 1000);
  rmq_pull_consumer_destroy(pc, 1000);
  rmq_client_destroy(cl, 1000);
  CHECK_INT(atomic_load(&async_calls), 1);
  mock_stop(m);
}

/* ---- destroy order --------------------------------------------------------
 */

/* The client goes first; its producer and consumer are destroyed after it
 * and every call in between answers RMQ_ERR_SHUTDOWN (ASan: no freed
 * memory is touched). */
TEST(client_destroyed_before_its_producer_and_consumer) {
  mock_t *m = mock_start();
  route_to(m, 6);
  mock_add_rule(m, &send_ok);
  rmq_client_t *cl = client(m, NULL);
  REQUIRE(cl != NULL);
  rmq_producer_t *p = producer(cl, m, NULL);
  REQUIRE(p != NULL);
  rmq_conf_t *cc = conf(m, "consumerGroup", NULL);
  char err[256];
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(cl, cc, err, sizeof(err));
  rmq_conf_destroy(cc);
  REQUIRE(pc != NULL);
  CHECK_ERR(rmq_pull_consumer_subscribe(pc, "TopicT", "*"), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  rmq_msg_t *x = msg("x");
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_OK);
  rmq_send_result_clear(&r);
  rmq_client_destroy(cl, 1000);
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_ERR_SHUTDOWN);
  rmq_send_result_clear(&r);
  CHECK_ERR(rmq_producer_send_oneway(p, x), RMQ_ERR_SHUTDOWN);
  atomic_store(&async_calls, 0);
  CHECK_ERR(rmq_producer_send_async(p, x, count_cb, NULL), RMQ_ERR_SHUTDOWN);
  CHECK_ERR(rmq_producer_flush(p, 100), RMQ_OK);
  rmq_msg_t *got[4];
  CHECK(rmq_pull_consumer_poll(pc, got, 4, 0) <= 0);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 1000);
  rmq_pull_consumer_destroy(pc, 1000);
  CHECK_INT(atomic_load(&async_calls), 0);
  mock_stop(m);
}

typedef struct resender {
  rmq_producer_t *p;
  atomic_int calls, shutdown, resent_refused, resent_other;
} resender_t;

static void resend_cb(rmq_producer_t *p, rmq_err_t err,
                      const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)res, (void)m;
  resender_t *s = op;
  atomic_fetch_add(&s->calls, 1);
  if (err != RMQ_ERR_SHUTDOWN)
    return;
  atomic_fetch_add(&s->shutdown, 1);
  /* what an application that retries on any error does */
  rmq_msg_t *again = msg("again");
  rmq_err_t rc = rmq_producer_send_async(p, again, resend_cb, s);
  if (rc == RMQ_ERR_SHUTDOWN)
    atomic_fetch_add(&s->resent_refused, 1);
  else
    atomic_fetch_add(&s->resent_other, 1);
  if (rc != RMQ_OK)
    rmq_msg_destroy(again);
}

/* Sends wait on a silent broker; the client is destroyed; the callbacks
 * (RMQ_ERR_SHUTDOWN) send again while destroy drains them. Each callback
 * fires once and each new send is refused at once. */
TEST(callbacks_that_send_again_during_client_destroy) {
  mock_t *m = mock_start();
  route_to(m, 6);
  mock_add_rule(m, &(mock_rule_t){.code = RC_SEND, .action = MOCK_DROP});
  static const char *const kv[] = {"clientCallbackExecutorThreads", "2", NULL};
  rmq_client_t *cl = client(m, kv);
  REQUIRE(cl != NULL);
  rmq_producer_t *p = producer(cl, m, NULL);
  REQUIRE(p != NULL);
  resender_t s = {.p = p};
  enum { N = 50 };
  for (int i = 0; i < N; i++)
    CHECK_ERR(rmq_producer_send_async(p, msg("x"), resend_cb, &s), RMQ_OK);
  CHECK_INT(mock_wait_count(m, RC_SEND, N, 5000), N);
  int64_t t0 = rmqi_now_ms();
  rmq_client_destroy(cl, 200);
  int64_t took = rmqi_now_ms() - t0;
  CHECK(took < 1500);
  CHECK_INT(atomic_load(&s.calls), N);
  CHECK_INT(atomic_load(&s.shutdown), N);
  CHECK_INT(atomic_load(&s.resent_refused), N);
  CHECK_INT(atomic_load(&s.resent_other), 0);
  rmq_producer_destroy(p, 100);
  CHECK_INT(atomic_load(&s.calls), N); /* and never again */
  mock_stop(m);
}

typedef struct slow {
  atomic_int calls;
  atomic_int ok;
} slow_t;

static void slow_cb(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *op) {
  (void)p, (void)res, (void)m;
  slow_t *s = op;
  usleep(300 * 1000); /* a slow application callback */
  if (err == RMQ_OK)
    atomic_fetch_add(&s->ok, 1);
  atomic_fetch_add(&s->calls, 1);
}

/* A producer on a shared client is destroyed while its callbacks are still
 * queued behind a slow one: destroy returns within its bound, the queued
 * callbacks still run once each, and the producer's memory outlives them
 * (ASan). */
TEST(producer_destroy_outlived_by_its_queued_callbacks) {
  mock_t *m = mock_start();
  route_to(m, 6);
  mock_add_rule(m, &send_ok);
  static const char *const kv[] = {"clientCallbackExecutorThreads", "1", NULL};
  rmq_client_t *cl = client(m, kv);
  REQUIRE(cl != NULL);
  rmq_producer_t *p = producer(cl, m, NULL); /* every send is answered */
  REQUIRE(p != NULL);
  slow_t s = {0};
  enum { N = 8 };
  for (int i = 0; i < N; i++)
    CHECK_ERR(rmq_producer_send_async(p, msg("x"), slow_cb, &s), RMQ_OK);
  CHECK_INT(mock_wait_count(m, RC_SEND, N, 5000), N);
  int64_t t0 = rmqi_now_ms();
  rmq_producer_destroy(p, 100);
  int64_t took = rmqi_now_ms() - t0;
  CHECK(took < 1000);
  CHECK(atomic_load(&s.calls) < N); /* the rest are still queued */
  rmq_client_destroy(cl, 1000);     /* drains them */
  CHECK_INT(atomic_load(&s.calls), N);
  CHECK_INT(atomic_load(&s.ok), N);
  mock_stop(m);
}

/* Against a broker that answers nothing at all (sends, unregister), every
 * destroy returns within its timeout plus a little. */
TEST(destroys_honour_their_timeout_on_a_silent_broker) {
  mock_t *m = mock_start();
  route_to(m, 6);
  mock_add_rule(m, &(mock_rule_t){.code = RC_SEND, .action = MOCK_DROP});
  mock_add_rule(m, &(mock_rule_t){.code = RC_UNREGISTER, .action = MOCK_DROP});
  /* a producer with its own client */
  rmq_producer_t *p = producer(NULL, m, NULL);
  REQUIRE(p != NULL);
  atomic_store(&async_calls, 0);
  for (int i = 0; i < 20; i++)
    CHECK_ERR(rmq_producer_send_async(p, msg("x"), count_cb, NULL), RMQ_OK);
  CHECK_INT(mock_wait_count(m, RC_SEND, 20, 5000), 20);
  int64_t t0 = rmqi_now_ms();
  rmq_producer_destroy(p, 300);
  int64_t took = rmqi_now_ms() - t0;
  CHECK(took >= 250);
  CHECK(took < 600);
  CHECK_INT(atomic_load(&async_calls), 20);
  /* a producer on a shared client, then the client */
  rmq_client_t *cl = client(m, NULL);
  REQUIRE(cl != NULL);
  p = producer(cl, m, NULL);
  REQUIRE(p != NULL);
  atomic_store(&async_calls, 0);
  for (int i = 0; i < 20; i++)
    CHECK_ERR(rmq_producer_send_async(p, msg("x"), count_cb, NULL), RMQ_OK);
  CHECK_INT(mock_wait_count(m, RC_SEND, 40, 5000), 40);
  t0 = rmqi_now_ms();
  rmq_producer_destroy(p, 300);
  took = rmqi_now_ms() - t0;
  CHECK(took < 600);
  t0 = rmqi_now_ms();
  rmq_client_destroy(cl, 300);
  took = rmqi_now_ms() - t0;
  CHECK(took < 600);
  CHECK_INT(atomic_load(&async_calls), 20);
  mock_stop(m);
}

/* A client that knows more brokers than any fixed table would hold (the
 * old unregister stopped at 64): destroying a producer and then a
 * consumer sends UNREGISTER_CLIENT to every one of them, all at once. */
TEST(unregister_reaches_every_one_of_many_brokers) {
  enum { N = 70 };
  mock_t *m = mock_start();
  REQUIRE(m != NULL);
  static char json[N * 200 + 64];
  size_t o = 0;
  o += (size_t)snprintf(json + o, sizeof(json) - o, "{\"brokerDatas\":[");
  for (int i = 0; i < N; i++) {
    int port = mock_listen_more(m);
    REQUIRE(port > 0);
    o += (size_t)snprintf(json + o, sizeof(json) - o,
                          "%s{\"brokerAddrs\":{\"0\":\"127.0.0.1:%d\"},"
                          "\"brokerName\":\"b%d\",\"cluster\":\"C\"}",
                          i ? "," : "", port, i);
  }
  o += (size_t)snprintf(json + o, sizeof(json) - o, "],\"queueDatas\":[");
  for (int i = 0; i < N; i++)
    o += (size_t)snprintf(json + o, sizeof(json) - o,
                          "%s{\"brokerName\":\"b%d\",\"perm\":6,"
                          "\"readQueueNums\":1,\"writeQueueNums\":1,"
                          "\"topicSysFlag\":0}",
                          i ? "," : "", i);
  o += (size_t)snprintf(json + o, sizeof(json) - o, "]}");
  REQUIRE(o < sizeof(json));
  mock_add_rule(m, &(mock_rule_t){.code = RC_ROUTE,
                                  .body = (const uint8_t *)json,
                                  .body_len = o});
  mock_add_rule(m, &(mock_rule_t){.code = RC_HEARTBEAT});
  rmq_client_t *cl = client(m, NULL);
  REQUIRE(cl != NULL);
  /* the route is cached: N brokers known */
  rmq_pull_consumer_t *pc = route_cached(m, cl, N);
  REQUIRE(pc != NULL);
  rmq_producer_t *p = producer(cl, m, NULL);
  REQUIRE(p != NULL);
  int64_t t0 = rmqi_now_ms();
  rmq_producer_destroy(p, 3000);
  CHECK_INT(mock_count(m, RC_UNREGISTER), N);
  rmq_pull_consumer_destroy(pc, 3000);
  CHECK_INT(mock_count(m, RC_UNREGISTER), 2 * N);
  CHECK(rmqi_now_ms() - t0 < 3000);
  rmq_client_destroy(cl, 1000);
  mock_stop(m);
}

/* ---- the dispatcher -------------------------------------------------------
 */

static atomic_int ran;
static void bump(void *arg) {
  (void)arg;
  atomic_fetch_add(&ran, 1);
}

TEST(dispatcher_refuses_work_once_closing) {
  for (size_t threads = 0; threads <= 2; threads += 2) {
    rmqi_disp_t d;
    REQUIRE(rmqi_disp_init(&d, threads) == RMQ_OK);
    atomic_store(&ran, 0);
    CHECK_ERR(rmqi_disp_submit(&d, bump, NULL), RMQ_OK);
    CHECK_ERR(rmqi_disp_close(&d), RMQ_OK);
    CHECK_INT(atomic_load(&ran), 1); /* queued before: ran */
    CHECK_ERR(rmqi_disp_submit(&d, bump, NULL), RMQ_ERR_SHUTDOWN);
    CHECK_INT(atomic_load(&ran), 1);
    rmqi_disp_destroy(&d);
  }
}

/* ---- poll mode -------------------------------------------------------------
 */

/* flush and back pressure on the thread that polls serve the callbacks
 * they wait for (they used to time out: only rmq_poll runs them). */
TEST(poll_mode_waits_on_the_polling_thread_serve_the_queue) {
  mock_t *m = mock_start();
  route_to(m, 6);
  mock_add_rule(m, &send_ok);
  static const char *const kv[] = {"callbackMode",
                                   "poll",
                                   "backPressureForAsyncSendNum",
                                   "2",
                                   "sendMsgTimeout",
                                   "2000",
                                   NULL};
  rmq_producer_t *p = producer(NULL, m, kv);
  REQUIRE(p != NULL);
  rmq_client_t *cl = rmq_producer_client(p);
  CHECK_INT(rmq_poll(cl, 0), 0); /* this thread polls */
  atomic_store(&async_calls, 0);
  int64_t t0 = rmqi_now_ms();
  for (int i = 0; i < 10; i++) /* past the back-pressure limit of 2 */
    CHECK_ERR(rmq_producer_send_async(p, msg("x"), count_cb, NULL), RMQ_OK);
  CHECK_ERR(rmq_producer_flush(p, 2000), RMQ_OK);
  CHECK_INT(atomic_load(&async_calls), 10);
  CHECK(rmqi_now_ms() - t0 < 1500);
  rmq_producer_destroy(p, 1000);
  CHECK_INT(atomic_load(&async_calls), 10);
  mock_stop(m);
}

/* ---- what the broker says ---------------------------------------------------
 */

/* A negative response code is no local error (-20 would read as
 * RMQ_ERR_TIMEOUT and be retried). */
TEST(negative_server_code_is_a_bad_response_not_a_local_error) {
  mock_t *m = mock_start();
  route_to(m, 6);
  mock_add_rule(m, &(mock_rule_t){.code = RC_SEND, .resp_code = -20});
  rmq_producer_t *p = producer(NULL, m, NULL);
  REQUIRE(p != NULL);
  rmq_msg_t *x = msg("x");
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_ERR_BAD_RESPONSE);
  CHECK_INT(r.attempts, 1);
  CHECK_INT(r.broker_code, -20);
  rmq_send_result_clear(&r);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

/* Heartbeats name every producer group of the client (64 used to be the
 * silent limit). */
TEST(heartbeat_names_every_producer_group) {
  mock_t *m = mock_start();
  route_to(m, 6);
  mock_add_rule(m, &send_ok);
  rmq_client_t *cl = client(m, NULL);
  REQUIRE(cl != NULL);
  enum { N = 100 };
  rmq_producer_t *ps[N];
  for (int i = 0; i < N; i++) {
    char g[32];
    snprintf(g, sizeof(g), "Group%03d", i);
    const char *kv[] = {"producerGroup", g, NULL};
    ps[i] = producer(cl, m, kv);
    REQUIRE(ps[i] != NULL);
  }
  rmq_msg_t *x = msg("x");
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(ps[0], x, &r), RMQ_OK); /* a broker known */
  rmq_send_result_clear(&r);
  rmq_msg_destroy(x);
  int before = mock_count(m, RC_HEARTBEAT);
  rmqi_client_heartbeat_sync(cl, 2000);
  CHECK(mock_count(m, RC_HEARTBEAT) > before);
  static char body[64 * 1024];
  CHECK(mock_last_body(m, RC_HEARTBEAT, body, sizeof(body)) > 0);
  for (int i = 0; i < N; i++) {
    char g[48];
    snprintf(g, sizeof(g), "\"Group%03d\"", i);
    if (strstr(body, g) == NULL) {
      rmqt_fail(__FILE__, __LINE__, "heartbeat lacks %s", g);
      break;
    }
  }
  for (int i = 0; i < N; i++)
    rmq_producer_destroy(ps[i], 1000);
  rmq_client_destroy(cl, 1000);
  mock_stop(m);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(route_without_writable_queue_fails_every_send_path),
      TCASE(route_without_writable_queue_fails_an_auto_batch),
      TCASE(client_destroyed_before_its_producer_and_consumer),
      TCASE(callbacks_that_send_again_during_client_destroy),
      TCASE(producer_destroy_outlived_by_its_queued_callbacks),
      TCASE(destroys_honour_their_timeout_on_a_silent_broker),
      TCASE(unregister_reaches_every_one_of_many_brokers),
      TCASE(dispatcher_refuses_work_once_closing),
      TCASE(poll_mode_waits_on_the_polling_thread_serve_the_queue),
      TCASE(negative_server_code_is_a_bad_response_not_a_local_error),
      TCASE(heartbeat_names_every_producer_group),
  };
  return RUN_TESTS(cases);
}
