/* Request/reply against the mock broker: the request's properties, the
 * reply pushed with PUSH_REPLY_MESSAGE_TO_CLIENT matched by correlation id
 * (sync and async, pool and poll mode), the answer the broker gets, late
 * and unknown replies, undecodable ones, compressed bodies, timeouts,
 * shutdown, and the reply message a replier builds and sends (code 325).
 * The real-broker tests are in tests/it/test_it_request.c. */
#include "client/client.h"
#include "client/msg.h"
#include "test.h"
#include "test_producer_mock.h"
#include "util/time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

static rmq_producer_t *producer_on(mock_t *m, const char *k, const char *v) {
  return mock_producer(m, k, v);
}

static rmq_msg_t *msg(const char *body) {
  rmq_msg_t *m = rmq_msg_new("TopicT");
  rmq_msg_set_body(m, body, strlen(body));
  return m;
}

/* The value of property @p name in the last request with @p code. */
static bool last_prop(mock_t *m, int code, const char *name, char *out,
                      size_t n) {
  char props[4096];
  if (!mock_last_ext(m, code, "i", props, sizeof(props)))
    return false;
  char key[80];
  snprintf(key, sizeof(key), "%s\x01", name);
  const char *at = strstr(props, key);
  if (at == NULL)
    return false;
  at += strlen(key);
  size_t len = strcspn(at, "\x02");
  snprintf(out, n, "%.*s", (int)len, at);
  return true;
}

/* Pushes a reply for @p corr as a 5.x broker does (ReplyMessageRequestHeader
 * fields and the raw body). */
static void push_reply(mock_t *m, const char *corr, const void *body,
                       size_t len, const char *sysflag) {
  char props[256];
  snprintf(props, sizeof(props),
           "CORRELATION_ID\x01%s\x02MSG_TYPE\x01reply\x02UNIQ_KEY\x01"
           "REPLYID\x02REPLY_TO_CLIENT\x01x\x02",
           corr);
  const char *ext[][2] = {{"producerGroup", "RG"},
                          {"topic", "C_REPLY_TOPIC"},
                          {"queueId", "3"},
                          {"sysFlag", sysflag},
                          {"bornTimestamp", "1700000000000"},
                          {"flag", "0"},
                          {"properties", props},
                          {"reconsumeTimes", "0"},
                          {"bornHost", "10.1.2.3:4567"},
                          {"storeHost", "0:0:0:0:0:0:0:1:10911"},
                          {"storeTimestamp", "1700000000123"},
                          {NULL, NULL}};
  mock_push_req(m, 326, false, ext, body, len);
}

typedef struct replier {
  mock_t *m;
  int nth; /* reply to the nth request (310) */
  const char *body;
} replier_t;

static void *replier_main(void *arg) {
  replier_t *r = arg;
  char corr[80];
  if (mock_wait_count(r->m, 310, r->nth, 3000) >= r->nth &&
      last_prop(r->m, 310, "CORRELATION_ID", corr, sizeof(corr)))
    push_reply(r->m, corr, r->body, strlen(r->body), "0");
  return NULL;
}

static uint64_t unmatched(rmq_producer_t *p) {
  return atomic_load(&rmq_producer_client(p)->replies_unmatched);
}

/* The response code the client sent to the last 326 (waits for it). */
static int reply_answer(mock_t *m, int n) {
  int32_t code = -1;
  char remark[128];
  for (int i = 0;
       i < 300 && mock_last_reply(m, &code, remark, sizeof(remark)) < n; i++)
    usleep(10 * 1000);
  return code;
}

TEST(sync_request_gets_its_reply) {
  mock_t *m = mock_start();
  route_to(m);
  rmq_producer_t *p = producer_on(m, NULL, NULL);
  REQUIRE(p != NULL);
  replier_t rp = {m, 1, "pong"};
  pthread_t t;
  pthread_create(&t, NULL, replier_main, &rp);
  rmq_msg_t *x = msg("ping"), *reply = NULL;
  CHECK_ERR(rmq_producer_request(p, x, 3000, &reply), RMQ_OK);
  pthread_join(t, NULL);
  REQUIRE(reply != NULL);
  size_t n;
  const void *b = rmq_msg_body(reply, &n);
  CHECK_MEM(b, n, "pong", 4);
  CHECK_STR(rmq_msg_topic(reply), "C_REPLY_TOPIC");
  CHECK_STR(rmq_msg_property(reply, "MSG_TYPE"), "reply");
  CHECK_STR(rmq_msg_id(reply), "REPLYID");
  CHECK(rmq_msg_property(reply, "ARRIVE_TIME") != NULL);
  CHECK_INT(rmq_msg_queue_id(reply), 3);
  CHECK_INT(rmq_msg_born_timestamp(reply), 1700000000000LL);
  CHECK_INT(rmq_msg_store_timestamp(reply), 1700000000123LL);
  CHECK_STR(rmq_msg_born_host(reply), "10.1.2.3:4567");
  CHECK_STR(rmq_msg_store_host(reply), "[0:0:0:0:0:0:0:1]:10911");
  /* the request as Java's prepareSendRequest marks it */
  char v[128];
  CHECK(last_prop(m, 310, "REPLY_TO_CLIENT", v, sizeof(v)));
  CHECK_STR(v, rmq_client_id(rmq_producer_client(p)));
  CHECK(last_prop(m, 310, "TTL", v, sizeof(v)));
  CHECK_STR(v, "3000");
  CHECK(last_prop(m, 310, "CORRELATION_ID", v, sizeof(v)));
  CHECK_STR(rmq_msg_property(x, "CORRELATION_ID"), v);
  CHECK_STR(rmq_msg_property(reply, "CORRELATION_ID"), v);
  CHECK_INT(reply_answer(m, 1), 0); /* SUCCESS to the broker */
  CHECK_UINT(unmatched(p), 0);
  rmq_msg_destroy(reply);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

TEST(timeout_then_late_reply_is_dropped) {
  mock_t *m = mock_start();
  route_to(m);
  rmq_producer_t *p = producer_on(m, NULL, NULL);
  REQUIRE(p != NULL);
  rmq_msg_t *x = msg("ping"), *reply = (rmq_msg_t *)1;
  int64_t t0 = rmqi_now_ms();
  CHECK_ERR(rmq_producer_request(p, x, 300, &reply), RMQ_ERR_TIMEOUT);
  int64_t took = rmqi_now_ms() - t0;
  CHECK(took >= 290 && took < 1500);
  CHECK(reply == NULL);
  char corr[80];
  REQUIRE(last_prop(m, 310, "CORRELATION_ID", corr, sizeof(corr)));
  push_reply(m, corr, "late", 4, "0"); /* after the timeout */
  CHECK_INT(reply_answer(m, 1), 0);    /* Java answers SUCCESS anyway */
  CHECK_UINT(unmatched(p), 1);
  push_reply(m, "NOT-OURS", "x", 1, "0");
  CHECK_INT(reply_answer(m, 2), 0);
  CHECK_UINT(unmatched(p), 2);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

TEST(undecodable_reply_gets_system_error) {
  mock_t *m = mock_start();
  route_to(m);
  rmq_producer_t *p = producer_on(m, NULL, NULL);
  REQUIRE(p != NULL);
  rmq_msg_t *x = msg("x");
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, x, &r), RMQ_OK); /* a connection */
  rmq_send_result_clear(&r);
  const char *no_topic[][2] = {{"queueId", "1"}, {NULL, NULL}};
  mock_push_req(m, 326, false, no_topic, (const uint8_t *)"b", 1);
  CHECK_INT(reply_answer(m, 1), RMQ_SYSTEM_ERROR);
  const char *bad_num[][2] = {{"topic", "T"}, {"sysFlag", "12x"}, {NULL, NULL}};
  mock_push_req(m, 326, false, bad_num, NULL, 0);
  CHECK_INT(reply_answer(m, 2), RMQ_SYSTEM_ERROR);
  CHECK_UINT(atomic_load(&rmq_producer_client(p)->replies_bad), 2);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

/* ---- asynchronous ------------------------------------------------------- */

static _Atomic int n_cb, last_err;
static char cb_body[64];
static size_t cb_len;
static pthread_mutex_t cb_mu = PTHREAD_MUTEX_INITIALIZER;

static void on_reply(rmq_producer_t *p, rmq_err_t err, rmq_msg_t *reply,
                     void *opaque) {
  (void)p;
  (void)opaque;
  pthread_mutex_lock(&cb_mu);
  cb_body[0] = '\0';
  if (reply) {
    size_t n;
    const void *b = rmq_msg_body(reply, &n);
    snprintf(cb_body, sizeof(cb_body), "%.*s", (int)n, (const char *)b);
    cb_len = n;
  }
  pthread_mutex_unlock(&cb_mu);
  atomic_store(&last_err, err);
  atomic_fetch_add(&n_cb, 1);
}

static bool wait_cb(int n, int ms, rmq_client_t *poll_client) {
  for (int i = 0; i < ms / 5 && atomic_load(&n_cb) < n; i++) {
    if (poll_client)
      rmq_poll(poll_client, 5);
    else
      usleep(5 * 1000);
  }
  return atomic_load(&n_cb) >= n;
}

static void async_round(bool poll) {
  atomic_store(&n_cb, 0);
  mock_t *m = mock_start();
  route_to(m);
  rmq_producer_t *p =
      producer_on(m, poll ? "callbackMode" : NULL, poll ? "poll" : NULL);
  REQUIRE(p != NULL);
  rmq_client_t *pc = poll ? rmq_producer_client(p) : NULL;
  /* a reply: the callback once, with it */
  CHECK_ERR(rmq_producer_request_async(p, msg("ping"), 3000, on_reply, NULL),
            RMQ_OK);
  REQUIRE(mock_wait_count(m, 310, 1, 3000) == 1);
  char corr[80];
  REQUIRE(last_prop(m, 310, "CORRELATION_ID", corr, sizeof(corr)));
  /* a compressed body, as a Java replier sends one over 4 KiB */
  char big[6000];
  memset(big, 'r', sizeof(big));
  uLongf zl = compressBound(sizeof(big));
  uint8_t *z = malloc(zl);
  compress2(z, &zl, (const uint8_t *)big, sizeof(big), 5);
  push_reply(m, corr, z, zl, "769"); /* COMPRESSED | ZLIB */
  free(z);
  CHECK(wait_cb(1, 3000, pc));
  CHECK_ERR(atomic_load(&last_err), RMQ_OK);
  pthread_mutex_lock(&cb_mu);
  CHECK_INT(cb_len, sizeof(big));
  CHECK(cb_body[0] == 'r' && cb_body[62] == 'r');
  pthread_mutex_unlock(&cb_mu);
  push_reply(m, corr, "again", 5, "0"); /* a second reply: dropped */
  CHECK_INT(reply_answer(m, 2), 0);
  CHECK_UINT(unmatched(p), 1);
  /* no reply: RMQ_ERR_TIMEOUT from the tick, within its period */
  int64_t t0 = rmqi_now_ms();
  CHECK_ERR(rmq_producer_request_async(p, msg("ping"), 200, on_reply, NULL),
            RMQ_OK);
  CHECK(wait_cb(2, 3000, pc));
  int64_t took = rmqi_now_ms() - t0;
  CHECK(took >= 195 && took < 200 + RMQI_REPLY_TICK_MS + 500);
  CHECK_ERR(atomic_load(&last_err), RMQ_ERR_TIMEOUT);
  /* destroy: RMQ_ERR_SHUTDOWN once, after the drain time */
  CHECK_ERR(rmq_producer_request_async(p, msg("ping"), 60000, on_reply, NULL),
            RMQ_OK);
  rmq_producer_destroy(p, 200);
  if (poll) /* the private client went with it and ran the callback */
    CHECK_INT(atomic_load(&n_cb), 3);
  CHECK(wait_cb(3, 3000, NULL));
  CHECK_ERR(atomic_load(&last_err), RMQ_ERR_SHUTDOWN);
  usleep(100 * 1000);
  CHECK_INT(atomic_load(&n_cb), 3); /* each exactly once */
  mock_stop(m);
}

TEST(async_request_reply_timeout_shutdown) {
  async_round(false);
}

TEST(async_request_in_poll_mode) {
  async_round(true);
}

/* A synchronous caller waiting when the producer is destroyed. */
static void *destroy_later(void *arg) {
  usleep(200 * 1000);
  rmq_producer_destroy(arg, 100);
  return NULL;
}

TEST(sync_request_fails_on_destroy) {
  mock_t *m = mock_start();
  route_to(m);
  rmq_producer_t *p = producer_on(m, NULL, NULL);
  REQUIRE(p != NULL);
  pthread_t t;
  pthread_create(&t, NULL, destroy_later, p);
  rmq_msg_t *x = msg("ping"), *reply = NULL;
  int64_t t0 = rmqi_now_ms();
  CHECK_ERR(rmq_producer_request(p, x, 10000, &reply), RMQ_ERR_SHUTDOWN);
  CHECK(rmqi_now_ms() - t0 < 2000);
  pthread_join(t, NULL);
  rmq_msg_destroy(x);
  mock_stop(m);
}

TEST(bad_arguments) {
  mock_t *m = mock_start();
  route_to(m);
  rmq_producer_t *p = producer_on(m, NULL, NULL);
  REQUIRE(p != NULL);
  rmq_msg_t *x = msg("x"), *reply;
  CHECK_ERR(rmq_producer_request(p, x, 0, &reply), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_producer_request(p, x, 100, NULL), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_producer_request(NULL, x, 100, &reply), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_producer_request_async(p, x, 100, NULL, NULL),
            RMQ_ERR_INVALID_ARG);
  rmq_msg_t *bad = rmq_msg_new("bad topic!");
  rmq_msg_set_body(bad, "x", 1);
  CHECK_ERR(rmq_producer_request_async(p, bad, 100, on_reply, NULL),
            RMQ_ERR_INVALID_ARG); /* the caller keeps it */
  CHECK_ERR(rmq_producer_request(p, bad, 100, &reply), RMQ_ERR_INVALID_ARG);
  rmq_msg_destroy(bad);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

/* ---- the replier's side ------------------------------------------------- */

static _Atomic int n_sent;
static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *m, void *o) {
  (void)p;
  (void)res;
  (void)m;
  (void)o;
  if (err == RMQ_OK)
    atomic_fetch_add(&n_sent, 1);
}

TEST(reply_message_is_built_and_sent_as_325) {
  rmq_msg_t *req = msg("q"), *reply = NULL;
  CHECK_ERR(rmq_msg_new_reply(req, "a", 1, &reply), RMQ_ERR_INVALID_ARG);
  CHECK(reply == NULL); /* no CLUSTER: not from a broker */
  rmqi_msg_put_prop(req, "CLUSTER", "DefaultCluster");
  rmqi_msg_put_prop(req, "CORRELATION_ID", "CID-1");
  rmqi_msg_put_prop(req, "REPLY_TO_CLIENT", "1.2.3.4@9#1");
  rmqi_msg_put_prop(req, "TTL", "3000");
  CHECK_ERR(rmq_msg_new_reply(req, "answer", 6, &reply), RMQ_OK);
  REQUIRE(reply != NULL);
  CHECK_STR(rmq_msg_topic(reply), "DefaultCluster_REPLY_TOPIC");
  CHECK_STR(rmq_msg_property(reply, "MSG_TYPE"), "reply");
  CHECK_STR(rmq_msg_property(reply, "CORRELATION_ID"), "CID-1");
  CHECK_STR(rmq_msg_property(reply, "REPLY_TO_CLIENT"), "1.2.3.4@9#1");
  CHECK_STR(rmq_msg_property(reply, "TTL"), "3000");
  size_t n;
  const void *b = rmq_msg_body(reply, &n);
  CHECK_MEM(b, n, "answer", 6);
  mock_t *m = mock_start();
  route_to(m);
  rmq_producer_t *p = producer_on(m, "autoBatch", "true");
  REQUIRE(p != NULL);
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(p, reply, &r), RMQ_OK);
  rmq_send_result_clear(&r);
  CHECK_INT(mock_count(m, 325), 1); /* SEND_REPLY_MESSAGE_V2, as Java */
  CHECK_INT(mock_count(m, 310), 0);
  char v[64];
  CHECK(last_prop(m, 325, "CORRELATION_ID", v, sizeof(v)));
  CHECK_STR(v, "CID-1");
  /* autoBatch leaves replies alone */
  rmq_msg_t *again = NULL;
  CHECK_ERR(rmq_msg_new_reply(req, "answer", 6, &again), RMQ_OK);
  atomic_store(&n_sent, 0);
  CHECK_ERR(rmq_producer_send_async(p, again, on_sent, NULL), RMQ_OK);
  CHECK_ERR(rmq_producer_flush(p, 3000), RMQ_OK);
  CHECK_INT(atomic_load(&n_sent), 1);
  CHECK_INT(mock_count(m, 325), 2);
  CHECK_INT(mock_count(m, 320), 0);
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
  rmq_msg_destroy(reply);
  rmq_msg_destroy(req);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(sync_request_gets_its_reply),
      TCASE(timeout_then_late_reply_is_dropped),
      TCASE(undecodable_reply_gets_system_error),
      TCASE(async_request_reply_timeout_shutdown),
      TCASE(async_request_in_poll_mode),
      TCASE(sync_request_fails_on_destroy),
      TCASE(bad_arguments),
      TCASE(reply_message_is_built_and_sent_as_325),
  };
  return RUN_TESTS(cases);
}
