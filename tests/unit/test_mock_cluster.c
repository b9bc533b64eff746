/* The public mock cluster (include/rmq_mock.h) as an application uses it:
 * only rmq.h and rmq_mock.h drive the client and the cluster (the
 * statistics JSON is read with the test's JSON path helper). A producer,
 * a push consumer and a lite pull consumer round-trip messages through
 * two brokers; injected SYSTEM_BUSY answers are retried and counted in the
 * statistics; a broker taken down makes sends move to the other, and is
 * used again once up; answers slower than sendMsgTimeout end every send
 * with ERR_TIMEOUT, each callback exactly once; a refused send-back falls
 * back to a send to %RETRY%<group>, and when that fails too the message is
 * consumed again here after 5 s, holding its queue's offset. */
#include "jpath.h"
#include "rmq.h"
#include "rmq_mock.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { RC_SEND_V2 = 310, RC_PULL = 11, RC_SEND_BACK = 36, RC_HEARTBEAT = 34 };

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static rmq_mock_cluster_t *cluster(int n) {
  char err[256] = "";
  rmq_mock_cluster_t *c = rmq_mock_cluster_new(n, err, sizeof(err));
  if (c == NULL)
    fprintf(stderr, "cluster: %s\n", err);
  return c;
}

static rmq_conf_t *conf_for(rmq_mock_cluster_t *c) {
  rmq_conf_t *conf = rmq_conf_new();
  rmq_conf_set(conf, "namesrvAddr", rmq_mock_cluster_namesrv(c), NULL, 0);
  rmq_conf_set(conf, "logLevel", "error", NULL, 0);
  return conf;
}

/* A producer of group PG with up to two more keys (NULL-terminated). */
static rmq_producer_t *producer(rmq_mock_cluster_t *c, const char *const *kv) {
  rmq_conf_t *conf = conf_for(c);
  rmq_conf_set(conf, "producerGroup", "PG", NULL, 0);
  for (; kv && kv[0]; kv += 2)
    rmq_conf_set(conf, kv[0], kv[1], NULL, 0);
  char err[256] = "";
  rmq_producer_t *p = rmq_producer_new(NULL, conf, err, sizeof(err));
  if (p == NULL)
    fprintf(stderr, "producer: %s\n", err);
  rmq_conf_destroy(conf);
  return p;
}

static rmq_msg_t *text_msg(const char *topic, const char *body) {
  rmq_msg_t *m = rmq_msg_new(topic);
  rmq_msg_set_body(m, body, strlen(body));
  rmq_msg_set_tags(m, "TagA");
  return m;
}

/* ---- what consumers saw -------------------------------------------------- */

#define N_SYNC 60
#define N_ASYNC 60
#define N_BATCH 10
#define N_ALL (N_SYNC + N_ASYNC + N_BATCH)

typedef struct expect {
  char id[64];
  char body[32];
  atomic_int seen, bad_body;
} expect_t;

typedef struct book {
  expect_t e[N_ALL];
  size_t n;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int distinct;   /* ids seen at least once */
  int unknown;    /* ids nobody sent */
  int retried;    /* deliveries with reconsume times 1 of the retried id */
  int fail_first; /* index whose first delivery the listener refuses */
} book_t;

static void book_init(book_t *b) {
  memset(b, 0, sizeof(*b));
  pthread_mutex_init(&b->mu, NULL);
  pthread_cond_init(&b->cv, NULL);
  b->fail_first = -1;
}

static void book_destroy(book_t *b) {
  pthread_mutex_destroy(&b->mu);
  pthread_cond_destroy(&b->cv);
}

static void book_add(book_t *b, const char *id, const char *body) {
  expect_t *e = &b->e[b->n++];
  snprintf(e->id, sizeof(e->id), "%s", id);
  snprintf(e->body, sizeof(e->body), "%s", body);
}

/* Files one delivery; returns its entry's index, or -1. */
static int book_see(book_t *b, const rmq_msg_t *m) {
  const char *id = rmq_msg_id(m);
  size_t len = 0;
  const char *body = rmq_msg_body(m, &len);
  pthread_mutex_lock(&b->mu);
  int found = -1;
  for (size_t i = 0; i < b->n && found < 0; i++)
    if (strcmp(b->e[i].id, id) == 0)
      found = (int)i;
  if (found < 0) {
    b->unknown++;
  } else {
    expect_t *e = &b->e[found];
    if (len != strlen(e->body) || memcmp(body, e->body, len) != 0)
      e->bad_body++;
    if (e->seen++ == 0)
      b->distinct++;
    if (found == b->fail_first && rmq_msg_reconsume_times(m) == 1)
      b->retried++;
  }
  pthread_cond_broadcast(&b->cv);
  pthread_mutex_unlock(&b->mu);
  return found;
}

/* Waits until every id was seen (and the retried one came back). */
static bool book_wait(book_t *b, int ms) {
  int64_t end = now_ms() + ms;
  pthread_mutex_lock(&b->mu);
  while ((b->distinct < (int)b->n || (b->fail_first >= 0 && !b->retried)) &&
         now_ms() < end) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&b->cv, &b->mu, &ts);
  }
  bool all = b->distinct == (int)b->n;
  pthread_mutex_unlock(&b->mu);
  return all;
}

/* Every id at least once with its exact body, nothing unknown. */
static void book_check(book_t *b, const char *who) {
  CHECK_INT(b->n, N_ALL);
  CHECK_INT(b->unknown, 0);
  for (size_t i = 0; i < b->n; i++) {
    if (b->e[i].seen < 1 || b->e[i].bad_body)
      fprintf(stderr, "%s: %s (%s) seen %d times, %d bad bodies\n", who,
              b->e[i].id, b->e[i].body, (int)b->e[i].seen,
              (int)b->e[i].bad_body);
    CHECK(b->e[i].seen >= 1);
    CHECK_INT(b->e[i].bad_body, 0);
  }
}

/* ---- sending ------------------------------------------------------------- */

typedef struct async_rec {
  book_t *book;
  int idx;
  atomic_int calls;
  atomic_int err;
  char id[64];
} async_rec_t;

static atomic_int async_done;

static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *msg,
                    void *opaque) {
  (void)p;
  (void)msg;
  async_rec_t *r = opaque;
  r->err = err;
  if (err == RMQ_OK && res && res->msg_id)
    snprintf(r->id, sizeof(r->id), "%s", res->msg_id);
  r->calls++;
  async_done++;
}

static bool wait_async(int want, int ms) {
  int64_t end = now_ms() + ms;
  while (async_done < want && now_ms() < end)
    usleep(2000);
  return async_done >= want;
}

/* Sends @p n messages asynchronously ("<prefix>-<i>"), one record each,
 * and waits up to @p ms for every callback. */
static bool send_async_n(rmq_producer_t *p, const char *topic,
                         const char *prefix, async_rec_t *recs, int n, int ms) {
  async_done = 0;
  for (int i = 0; i < n; i++) {
    memset(&recs[i], 0, sizeof(recs[i]));
    char body[32];
    snprintf(body, sizeof(body), "%s-%d", prefix, i);
    rmq_msg_t *m = text_msg(topic, body);
    rmq_err_t rc = rmq_producer_send_async(p, m, on_sent, &recs[i]);
    CHECK_ERR(rc, RMQ_OK);
    if (rc != RMQ_OK) {
      rmq_msg_destroy(m);
      async_done++;
    }
  }
  return wait_async(n, ms);
}

/* Sends N_SYNC sync, N_ASYNC async and one batch of N_BATCH to @p topic
 * and files every id with its body; counts the results per broker. */
static void send_all(rmq_producer_t *p, const char *topic, book_t *b,
                     int per_broker[2]) {
  char body[32];
  rmq_send_result_t res;
  for (int i = 0; i < N_SYNC; i++) {
    snprintf(body, sizeof(body), "sync-%d", i);
    rmq_msg_t *m = text_msg(topic, body);
    memset(&res, 0, sizeof(res));
    CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK);
    if (res.msg_id) {
      book_add(b, res.msg_id, body);
      per_broker[strcmp(res.broker_name, "broker-a") == 0 ? 0 : 1]++;
    }
    rmq_send_result_clear(&res);
    rmq_msg_destroy(m);
  }
  static async_rec_t recs[N_ASYNC];
  CHECK(send_async_n(p, topic, "async", recs, N_ASYNC, 10000));
  for (int i = 0; i < N_ASYNC; i++) {
    CHECK_INT(recs[i].calls, 1);
    CHECK_ERR(recs[i].err, RMQ_OK);
    snprintf(body, sizeof(body), "async-%d", i);
    book_add(b, recs[i].id, body);
  }
  rmq_msg_t *batch[N_BATCH];
  for (int i = 0; i < N_BATCH; i++) {
    snprintf(body, sizeof(body), "batch-%d", i);
    batch[i] = text_msg(topic, body);
  }
  memset(&res, 0, sizeof(res));
  CHECK_ERR(rmq_producer_send_batch(p, batch, N_BATCH, &res), RMQ_OK);
  /* the batch's ids, comma-separated, in the messages' order */
  const char *ids = res.msg_id ? res.msg_id : "";
  for (int i = 0; i < N_BATCH; i++) {
    size_t n = strcspn(ids, ",");
    char id[64];
    snprintf(id, sizeof(id), "%.*s", (int)n, ids);
    snprintf(body, sizeof(body), "batch-%d", i);
    book_add(b, id, body);
    ids += n + (ids[n] == ',');
    rmq_msg_destroy(batch[i]);
  }
  rmq_send_result_clear(&res);
}

/* ---- consumers ----------------------------------------------------------- */

static rmq_consume_status_t on_push(rmq_push_consumer_t *c,
                                    rmq_msg_t *const *msgs, size_t n,
                                    rmq_consume_ctx_t *ctx, void *opaque) {
  (void)c;
  (void)ctx;
  book_t *b = opaque;
  rmq_consume_status_t st = RMQ_CONSUME_SUCCESS;
  for (size_t i = 0; i < n; i++) {
    int k = book_see(b, msgs[i]);
    if (k >= 0 && k == b->fail_first && rmq_msg_reconsume_times(msgs[i]) == 0)
      st = RMQ_CONSUME_RETRY_LATER; /* once: it comes back from %RETRY% */
  }
  return st;
}

/* A started lite pull consumer of @p group on @p topic (rebalanced), from
 * the first offset. */
static rmq_pull_consumer_t *
lite_subscribed(rmq_mock_cluster_t *c, const char *group, const char *topic) {
  rmq_conf_t *conf = conf_for(c);
  rmq_conf_set(conf, "consumerGroup", group, NULL, 0);
  rmq_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  char err[256] = "";
  rmq_pull_consumer_t *lc = rmq_pull_consumer_new(NULL, conf, err, sizeof(err));
  rmq_conf_destroy(conf);
  if (lc == NULL) {
    fprintf(stderr, "lite pull consumer: %s\n", err);
    return NULL;
  }
  if (rmq_pull_consumer_subscribe(lc, topic, "*") != RMQ_OK ||
      rmq_pull_consumer_start(lc) != RMQ_OK) {
    rmq_pull_consumer_destroy(lc, 0);
    return NULL;
  }
  return lc;
}

TEST(producer_push_and_lite_pull_round_trip) {
  rmq_mock_cluster_t *c = cluster(2);
  REQUIRE(c);
  CHECK_INT(rmq_mock_cluster_broker_count(c), 2);
  CHECK_STR(rmq_mock_broker_name(c, 1), "broker-b");
  CHECK_ERR(rmq_mock_topic_create(c, "TopicRT", 4), RMQ_OK);
  CHECK_ERR(rmq_mock_topic_create(c, "TopicRT", 4), RMQ_TOPIC_EXIST_ALREADY);
  static book_t sent, pushed, pulled;
  book_init(&sent);
  book_init(&pushed);
  book_init(&pulled);
  rmq_producer_t *p = producer(c, NULL);
  REQUIRE(p);
  int per_broker[2] = {0, 0};
  send_all(p, "TopicRT", &sent, per_broker);
  REQUIRE(sent.n == N_ALL);
  CHECK(per_broker[0] > 0); /* round robin over both brokers' queues */
  CHECK(per_broker[1] > 0);
  CHECK_INT(rmq_mock_topic_message_count(c, RMQ_MOCK_ANY, "TopicRT"), N_ALL);
  CHECK_INT(rmq_mock_topic_message_count(c, RMQ_MOCK_ANY, "NoSuchTopic"), -1);
  for (size_t i = 0; i < sent.n; i++) {
    book_add(&pushed, sent.e[i].id, sent.e[i].body);
    book_add(&pulled, sent.e[i].id, sent.e[i].body);
  }

  /* the push consumer: one message refused once comes back as a retry */
  pushed.fail_first = 7;
  rmq_conf_t *conf = conf_for(c);
  rmq_conf_set(conf, "consumerGroup", "GPush", NULL, 0);
  rmq_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  char err[256] = "";
  rmq_push_consumer_t *pc = rmq_push_consumer_new(NULL, conf, err, sizeof(err));
  rmq_conf_destroy(conf);
  REQUIRE(pc);
  CHECK_ERR(rmq_push_consumer_set_listener(pc, on_push, &pushed), RMQ_OK);
  CHECK_ERR(rmq_push_consumer_subscribe(pc, "TopicRT", "*"), RMQ_OK);
  CHECK_ERR(rmq_push_consumer_start(pc), RMQ_OK);
  CHECK(book_wait(&pushed, 30000));
  rmq_push_consumer_destroy(pc, 5000);
  book_check(&pushed, "push");
  CHECK_INT(pushed.retried >= 1, 1);
  CHECK(rmq_mock_request_count(c, RMQ_MOCK_ANY, RC_SEND_BACK) >= 1);
  CHECK(rmq_mock_topic_message_count(c, RMQ_MOCK_ANY, "%RETRY%GPush") >= 1);

  /* the lite pull consumer, subscribed (rebalance over both brokers) */
  rmq_pull_consumer_t *lc = lite_subscribed(c, "GLite", "TopicRT");
  REQUIRE(lc);
  int64_t end = now_ms() + 30000;
  while (pulled.distinct < N_ALL && now_ms() < end) {
    rmq_msg_t *msgs[32];
    int n = rmq_pull_consumer_poll(lc, msgs, 32, 200);
    for (int i = 0; i < n; i++) {
      book_see(&pulled, msgs[i]);
      rmq_msg_destroy(msgs[i]);
    }
  }
  rmq_pull_consumer_destroy(lc, 5000);
  book_check(&pulled, "lite pull");
  CHECK(rmq_mock_request_count(c, 0, RC_PULL) > 0);
  CHECK(rmq_mock_request_count(c, 1, RC_PULL) > 0);
  rmq_producer_destroy(p, 5000);
  rmq_mock_cluster_destroy(c);
  book_destroy(&sent);
  book_destroy(&pushed);
  book_destroy(&pulled);
}

/* ---- large bodies ----------------------------------------------------------
 */

#define N_LARGE 40
#define LARGE_LEN (256 * 1024)

/* Body i: its index in the first bytes (property-free lookup), then bytes
 * that differ by message and position, so a frame cut or spliced at a
 * partial write shows. */
static void large_body(uint8_t *b, size_t n, int i) {
  for (size_t j = 0; j < n; j++)
    b[j] = (uint8_t)(j * 31 + j / 251 + (size_t)i * 7);
  memcpy(b, &i, sizeof(i));
}

/* Many large async sends at once, uncompressed, through the producer:
 * every body reaches the broker whole (read back by a lite pull consumer,
 * compared byte for byte). Partial writes to a slow reader are covered at
 * the connection level (test_rpc, large_frames_through_partial_writes_...). */
TEST(large_async_bodies_arrive_whole) {
  rmq_mock_cluster_t *c = cluster(1);
  REQUIRE(c);
  CHECK_ERR(rmq_mock_topic_create(c, "TopicLarge", 4), RMQ_OK);
  static const char *const kv[] = {"compressMsgBodyOverHowmuch", "2147483647",
                                   NULL};
  rmq_producer_t *p = producer(c, kv);
  REQUIRE(p);
  static uint8_t bodies[N_LARGE][LARGE_LEN];
  static async_rec_t recs[N_LARGE];
  async_done = 0;
  for (int i = 0; i < N_LARGE; i++) {
    large_body(bodies[i], LARGE_LEN, i);
    rmq_msg_t *m = rmq_msg_new("TopicLarge");
    REQUIRE(rmq_msg_set_body(m, bodies[i], LARGE_LEN) == RMQ_OK);
    CHECK_ERR(rmq_producer_send_async(p, m, on_sent, &recs[i]), RMQ_OK);
  }
  CHECK(wait_async(N_LARGE, 30000));
  for (int i = 0; i < N_LARGE; i++) {
    CHECK_INT(recs[i].calls, 1);
    CHECK_ERR(recs[i].err, RMQ_OK);
  }
  CHECK_INT(rmq_mock_topic_message_count(c, RMQ_MOCK_ANY, "TopicLarge"),
            N_LARGE);
  rmq_pull_consumer_t *lc = lite_subscribed(c, "GLarge", "TopicLarge");
  REQUIRE(lc);
  int seen[N_LARGE] = {0}, distinct = 0, bad = 0;
  int64_t end = now_ms() + 30000;
  while (distinct < N_LARGE && now_ms() < end) {
    rmq_msg_t *msgs[8];
    int n = rmq_pull_consumer_poll(lc, msgs, 8, 200);
    for (int k = 0; k < n; k++) {
      size_t len = 0;
      const uint8_t *b = rmq_msg_body(msgs[k], &len);
      int i = -1;
      if (len == LARGE_LEN)
        memcpy(&i, b, sizeof(i));
      if (i < 0 || i >= N_LARGE || memcmp(b, bodies[i], LARGE_LEN) != 0)
        bad++;
      else if (seen[i]++ == 0)
        distinct++;
      rmq_msg_destroy(msgs[k]);
    }
  }
  rmq_pull_consumer_destroy(lc, 5000);
  CHECK_INT(bad, 0);
  CHECK_INT(distinct, N_LARGE);
  rmq_producer_destroy(p, 5000);
  rmq_mock_cluster_destroy(c);
}

#define N_Z 32
#define Z_THREADS 4
static uint8_t zbodies[N_Z][4096 + N_Z * 8000];

static size_t zlen(int i) { return 4096 + (size_t)i * 8000; }

typedef struct zsender {
  rmq_producer_t *p;
  int t, failed;
} zsender_t;

static void *zsend(void *v) {
  zsender_t *z = v;
  for (int i = z->t; i < N_Z; i += Z_THREADS) {
    rmq_msg_t *m = rmq_msg_new("TopicZ");
    rmq_send_result_t res = {0};
    if (rmq_msg_set_body(m, zbodies[i], zlen(i)) != RMQ_OK ||
        rmq_producer_send(z->p, m, &res) != RMQ_OK)
      z->failed++;
    rmq_send_result_clear(&res);
    rmq_msg_destroy(m);
  }
  return NULL;
}

/* Compressed bodies of 4 KiB to 250 KiB sent at once from four threads
 * through one producer, so its pooled deflate streams are shared, reset
 * between bodies of other sizes and made anew when all are taken: each
 * one inflates back to its exact bytes. */
TEST(compressed_bodies_from_many_threads_arrive_whole) {
  rmq_mock_cluster_t *c = cluster(1);
  REQUIRE(c);
  CHECK_ERR(rmq_mock_topic_create(c, "TopicZ", 4), RMQ_OK);
  rmq_producer_t *p = producer(c, NULL); /* compression over 4096 bytes */
  REQUIRE(p);
  for (int i = 0; i < N_Z; i++)
    large_body(zbodies[i], zlen(i), i);
  pthread_t th[Z_THREADS];
  zsender_t zs[Z_THREADS];
  for (int t = 0; t < Z_THREADS; t++) {
    zs[t] = (zsender_t){p, t, 0};
    REQUIRE(pthread_create(&th[t], NULL, zsend, &zs[t]) == 0);
  }
  for (int t = 0; t < Z_THREADS; t++) {
    pthread_join(th[t], NULL);
    CHECK_INT(zs[t].failed, 0);
  }
  rmq_pull_consumer_t *lc = lite_subscribed(c, "GZ", "TopicZ");
  REQUIRE(lc);
  int seen[N_Z] = {0}, distinct = 0, bad = 0;
  int64_t end = now_ms() + 30000;
  while (distinct < N_Z && now_ms() < end) {
    rmq_msg_t *msgs[8];
    int n = rmq_pull_consumer_poll(lc, msgs, 8, 200);
    for (int k = 0; k < n; k++) {
      size_t len = 0;
      const uint8_t *b = rmq_msg_body(msgs[k], &len);
      int i = -1;
      if (len >= sizeof(i))
        memcpy(&i, b, sizeof(i));
      if (i < 0 || i >= N_Z || len != zlen(i) ||
          memcmp(b, zbodies[i], len) != 0)
        bad++;
      else if (seen[i]++ == 0)
        distinct++;
      rmq_msg_destroy(msgs[k]);
    }
  }
  rmq_pull_consumer_destroy(lc, 5000);
  CHECK_INT(bad, 0);
  CHECK_INT(distinct, N_Z);
  rmq_producer_destroy(p, 5000);
  rmq_mock_cluster_destroy(c);
}

/* ---- faults -------------------------------------------------------------- */

static long long stat_of(rmq_producer_t *p, const char *path) {
  char *js = rmq_client_stats_json(rmq_producer_client(p));
  long long v = -1;
  rmqi_json_t doc;
  if (js && rmqi_json_parse(&doc, js, strlen(js), NULL) == RMQ_OK) {
    const rmqi_jval_t *x = jpath(doc.root, path);
    if (x && x->type == RMQI_JNUM && x->is_int)
      v = x->i;
    rmqi_json_free(&doc);
  }
  rmq_free(js);
  return v;
}

TEST(system_busy_is_retried_and_counted) {
  rmq_mock_cluster_t *c = cluster(2);
  REQUIRE(c);
  rmq_producer_t *p = producer(c, NULL);
  REQUIRE(p);
  /* the first attempt on each broker is refused: the send's first two
   * attempts (one per broker, as the retry avoids the last broker) fail,
   * the third is stored */
  CHECK_ERR(rmq_mock_push_request_errors(c, 0, RC_SEND_V2, 1, RMQ_SYSTEM_BUSY),
            RMQ_OK);
  CHECK_ERR(rmq_mock_push_request_errors(c, 1, RC_SEND_V2, 1, RMQ_SYSTEM_BUSY),
            RMQ_OK);
  rmq_msg_t *m = text_msg("TopicBusy", "busy");
  rmq_send_result_t res = {0};
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK);
  CHECK_INT(res.attempts, 3);
  CHECK_INT(rmq_mock_request_count(c, RMQ_MOCK_ANY, RC_SEND_V2), 3);
  CHECK_INT(rmq_mock_topic_message_count(c, RMQ_MOCK_ANY, "TopicBusy"), 1);
  rmq_send_result_clear(&res);
  CHECK_INT(stat_of(p, "producers.0.retries"), 2);
  CHECK_INT(stat_of(p, "producers.0.requests"), 3);
  CHECK_INT(stat_of(p, "producers.0.errors.SYSTEM_BUSY"), 2);
  CHECK_INT(stat_of(p, "producers.0.msgs_ok"), 1);
  CHECK_INT(stat_of(p, "producers.0.msgs_failed"), 0);

  /* more refusals than attempts: the send fails with the broker's code */
  CHECK_ERR(rmq_mock_push_request_errors(c, 0, RC_SEND_V2, 2, RMQ_SYSTEM_BUSY,
                                         RMQ_SYSTEM_BUSY),
            RMQ_OK);
  CHECK_ERR(rmq_mock_push_request_errors(c, 1, RC_SEND_V2, 2, RMQ_SYSTEM_BUSY,
                                         RMQ_SYSTEM_BUSY),
            RMQ_OK);
  memset(&res, 0, sizeof(res));
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_SYSTEM_BUSY);
  CHECK_INT(res.broker_code, RMQ_SYSTEM_BUSY);
  rmq_send_result_clear(&res);
  CHECK_INT(rmq_mock_request_count(c, RMQ_MOCK_ANY, RC_SEND_V2), 6);
  CHECK_INT(stat_of(p, "producers.0.errors.SYSTEM_BUSY"), 5);
  CHECK_INT(stat_of(p, "producers.0.msgs_failed"), 1);
  /* one refusal is still pending on one broker: cleared, all is served */
  CHECK_ERR(rmq_mock_clear_request_errors(c, RMQ_MOCK_NAMESRV, RMQ_MOCK_ANY),
            RMQ_OK);
  CHECK_ERR(rmq_mock_clear_request_errors(c, 0, RMQ_MOCK_ANY), RMQ_OK);
  CHECK_ERR(rmq_mock_clear_request_errors(c, 1, RC_SEND_V2), RMQ_OK);
  memset(&res, 0, sizeof(res));
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK);
  CHECK_INT(res.attempts, 1);
  rmq_send_result_clear(&res);
  rmq_msg_destroy(m);
  rmq_producer_destroy(p, 5000);
  rmq_mock_cluster_destroy(c);
}

/* ---- send-back failures ------------------------------------------------- */

/* What a push listener saw, one entry per delivery (it always answers
 * RETRY_LATER, or SUCCESS from delivery `ok_from` on). */
typedef struct seen {
  pthread_mutex_t mu;
  int n, ok_from;
  char id[4][64], topic[4][64], retry_topic[4][64], origin[4][64], delay[4][8];
  int times[4];
  int64_t at[4];
} seen_t;

static void copy_prop(char *dst, size_t cap, const rmq_msg_t *m,
                      const char *k) {
  const char *v = rmq_msg_property(m, k);
  snprintf(dst, cap, "%s", v ? v : "(none)");
}

static rmq_consume_status_t on_seen(rmq_push_consumer_t *c,
                                    rmq_msg_t *const *msgs, size_t n,
                                    rmq_consume_ctx_t *ctx, void *opaque) {
  (void)c;
  seen_t *s = opaque;
  ctx->delay_level = 5; /* for the send-back; the fallback uses 3 + times */
  pthread_mutex_lock(&s->mu);
  bool ok = s->ok_from >= 0 && s->n >= s->ok_from;
  for (size_t i = 0; i < n && s->n < 4; i++) {
    int k = s->n++;
    const rmq_msg_t *m = msgs[i];
    snprintf(s->id[k], sizeof(s->id[k]), "%s", rmq_msg_id(m));
    snprintf(s->topic[k], sizeof(s->topic[k]), "%s", rmq_msg_topic(m));
    copy_prop(s->retry_topic[k], sizeof(s->retry_topic[k]), m, "RETRY_TOPIC");
    copy_prop(s->origin[k], sizeof(s->origin[k]), m, "ORIGIN_MESSAGE_ID");
    copy_prop(s->delay[k], sizeof(s->delay[k]), m, "DELAY");
    s->times[k] = rmq_msg_reconsume_times(m);
    s->at[k] = now_ms();
  }
  pthread_mutex_unlock(&s->mu);
  return ok ? RMQ_CONSUME_SUCCESS : RMQ_CONSUME_RETRY_LATER;
}

/* Orderly: every call suspended, for 10 ms. */
static rmq_consume_status_t on_seen_suspend(rmq_push_consumer_t *c,
                                            rmq_msg_t *const *msgs, size_t n,
                                            rmq_consume_ctx_t *ctx,
                                            void *opaque) {
  on_seen(c, msgs, n, ctx, opaque);
  ctx->suspend_ms = 10;
  return RMQ_CONSUME_SUSPEND;
}

static int seen_count(seen_t *s) {
  pthread_mutex_lock(&s->mu);
  int n = s->n;
  pthread_mutex_unlock(&s->mu);
  return n;
}

static rmq_push_consumer_t *seen_consumer_cb(rmq_mock_cluster_t *c,
                                             const char *group,
                                             const char *topic, seen_t *s,
                                             const char *max_re, bool orderly) {
  rmq_conf_t *conf = conf_for(c);
  rmq_conf_set(conf, "consumerGroup", group, NULL, 0);
  rmq_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  rmq_conf_set(conf, "maxReconsumeTimes", max_re, NULL, 0);
  char err[256] = "";
  rmq_push_consumer_t *pc = rmq_push_consumer_new(NULL, conf, err, sizeof(err));
  rmq_conf_destroy(conf);
  if (pc == NULL) {
    fprintf(stderr, "push consumer: %s\n", err);
    return NULL;
  }
  if (orderly)
    rmq_push_consumer_set_listener_orderly(pc, on_seen_suspend, s);
  else
    rmq_push_consumer_set_listener(pc, on_seen, s);
  rmq_push_consumer_subscribe(pc, topic, "*");
  if (rmq_push_consumer_start(pc) != RMQ_OK) {
    rmq_push_consumer_destroy(pc, 1000);
    return NULL;
  }
  return pc;
}

static rmq_push_consumer_t *seen_consumer(rmq_mock_cluster_t *c,
                                          const char *group, const char *topic,
                                          seen_t *s, const char *max_re) {
  return seen_consumer_cb(c, group, topic, s, max_re, false);
}

/* consumers[0].queues[i].consumed of @p topic's queue 0 */
static long long consumed_of(rmq_push_consumer_t *pc, const char *topic) {
  char *js = rmq_client_stats_json(rmq_push_consumer_client(pc));
  long long v = -2;
  rmqi_json_t doc;
  if (js && rmqi_json_parse(&doc, js, strlen(js), NULL) == RMQ_OK) {
    for (int i = 0; i < 8; i++) {
      char path[64];
      snprintf(path, sizeof(path), "consumers.0.queues.%d.topic", i);
      const rmqi_jval_t *t = jpath(doc.root, path);
      if (t == NULL)
        break;
      if (t->type != RMQI_JSTR || strcmp(t->s, topic) != 0)
        continue;
      snprintf(path, sizeof(path), "consumers.0.queues.%d.consumed", i);
      const rmqi_jval_t *x = jpath(doc.root, path);
      if (x && x->type == RMQI_JNUM && x->is_int)
        v = x->i;
    }
    rmqi_json_free(&doc);
  }
  rmq_free(js);
  return v;
}

/* Java's DefaultMQPushConsumerImpl.sendMessageBack: when
 * CONSUMER_SEND_MSG_BACK fails, a copy is sent to %RETRY%<group> with
 * RETRY_TOPIC, ORIGIN_MESSAGE_ID, RECONSUME_TIME (reconsume times + 1),
 * MAX_RECONSUME_TIMES and delay level 3 + reconsume times. */
TEST(failed_send_back_falls_back_to_a_send_to_the_retry_topic) {
  rmq_mock_cluster_t *c = cluster(1);
  REQUIRE(c);
  CHECK_ERR(rmq_mock_topic_create(c, "TopicSB", 1), RMQ_OK);
  rmq_producer_t *p = producer(c, NULL);
  REQUIRE(p);
  rmq_msg_t *m = text_msg("TopicSB", "sb");
  rmq_send_result_t res = {0};
  REQUIRE(rmq_producer_send(p, m, &res) == RMQ_OK);
  char id[64];
  snprintf(id, sizeof(id), "%s", res.msg_id);
  rmq_send_result_clear(&res);
  rmq_msg_destroy(m);
  CHECK_INT(rmq_mock_request_count(c, 0, RC_SEND_V2), 1);
  /* both send-backs refused; maxReconsumeTimes 1: the first fallback
   * (RECONSUME_TIME 1) goes to %RETRY%, the second (2 > 1) to %DLQ%, which
   * shows MAX_RECONSUME_TIMES went along */
  CHECK_ERR(rmq_mock_push_request_errors(c, 0, RC_SEND_BACK, 2,
                                         RMQ_SYSTEM_ERROR, RMQ_SYSTEM_ERROR),
            RMQ_OK);
  static seen_t s;
  memset(&s, 0, sizeof(s));
  pthread_mutex_init(&s.mu, NULL);
  s.ok_from = -1;
  rmq_push_consumer_t *pc = seen_consumer(c, "GSB", "TopicSB", &s, "1");
  REQUIRE(pc);
  int64_t end = now_ms() + 20000;
  while (rmq_mock_topic_message_count(c, 0, "%DLQ%GSB") < 1 && now_ms() < end)
    usleep(20 * 1000);
  CHECK_INT(rmq_mock_topic_message_count(c, 0, "%DLQ%GSB"), 1);
  CHECK_INT(rmq_mock_topic_message_count(c, 0, "%RETRY%GSB"), 1);
  CHECK_INT(rmq_mock_request_count(c, 0, RC_SEND_BACK), 2);
  CHECK_INT(rmq_mock_request_count(c, 0, RC_SEND_V2), 3);
  pthread_mutex_lock(&s.mu);
  CHECK_INT(s.n, 2);
  CHECK_STR(s.id[0], id);
  CHECK_INT(s.times[0], 0);
  CHECK_STR(s.retry_topic[0], "(none)");
  /* the redelivery from %RETRY%GSB: the same id (UNIQ_KEY went along),
   * the original topic, the fallback's properties */
  CHECK_STR(s.id[1], id);
  CHECK_STR(s.topic[1], "TopicSB");
  CHECK_INT(s.times[1], 1);
  CHECK_STR(s.retry_topic[1], "TopicSB");
  CHECK_STR(s.origin[1], id);
  CHECK_STR(s.delay[1], "3");
  pthread_mutex_unlock(&s.mu);
  rmq_push_consumer_destroy(pc, 5000);
  rmq_producer_destroy(p, 5000);
  rmq_mock_cluster_destroy(c);
  pthread_mutex_destroy(&s.mu);
}

/* Both paths refused: the message stays here and is consumed again after
 * 5 s with one more reconsume time (Java's submitConsumeRequestLater);
 * meanwhile the queue's offset stays at it. */
TEST(failed_send_back_and_retry_send_keep_the_message_here) {
  rmq_mock_cluster_t *c = cluster(1);
  REQUIRE(c);
  CHECK_ERR(rmq_mock_topic_create(c, "TopicKeep", 1), RMQ_OK);
  rmq_producer_t *p = producer(c, NULL);
  REQUIRE(p);
  char id[64];
  for (int i = 0; i < 2; i++) { /* offset 0 fails, offset 1 succeeds */
    rmq_msg_t *m = text_msg("TopicKeep", i ? "k1" : "k0");
    rmq_send_result_t res = {0};
    REQUIRE(rmq_producer_send(p, m, &res) == RMQ_OK);
    if (i == 0)
      snprintf(id, sizeof(id), "%s", res.msg_id);
    rmq_send_result_clear(&res);
    rmq_msg_destroy(m);
  }
  /* the send-back and every attempt of the retry send (1 + 2 retries) */
  CHECK_ERR(
      rmq_mock_push_request_errors(c, 0, RC_SEND_BACK, 1, RMQ_SYSTEM_ERROR),
      RMQ_OK);
  CHECK_ERR(rmq_mock_push_request_errors(c, 0, RC_SEND_V2, 3, RMQ_SYSTEM_ERROR,
                                         RMQ_SYSTEM_ERROR, RMQ_SYSTEM_ERROR),
            RMQ_OK);
  static seen_t s;
  memset(&s, 0, sizeof(s));
  pthread_mutex_init(&s.mu, NULL);
  s.ok_from = 1; /* the first delivery fails, every later one succeeds */
  rmq_push_consumer_t *pc = seen_consumer(c, "GKeep", "TopicKeep", &s, "16");
  REQUIRE(pc);
  /* both messages delivered (k1 succeeded), the retry send given up */
  int64_t end = now_ms() + 10000;
  while ((seen_count(&s) < 2 || rmq_mock_request_count(c, 0, RC_SEND_V2) < 5) &&
         now_ms() < end)
    usleep(10 * 1000);
  CHECK_INT(rmq_mock_request_count(c, 0, RC_SEND_BACK), 1);
  CHECK_INT(rmq_mock_request_count(c, 0, RC_SEND_V2), 5);
  /* held at offset 0 while k0 waits, though k1 (offset 1) is done */
  int64_t held_until = 0;
  end = now_ms() + 15000;
  while (seen_count(&s) < 3 && now_ms() < end) {
    long long off = consumed_of(pc, "TopicKeep");
    if (seen_count(&s) < 3) {
      CHECK_INT(off, 0);
      held_until = now_ms();
    }
    usleep(100 * 1000);
  }
  pthread_mutex_lock(&s.mu);
  CHECK_INT(s.n, 3);
  CHECK_STR(s.id[0], id);
  CHECK_INT(s.times[0], 0);
  CHECK_STR(s.id[2], id);
  CHECK_STR(s.topic[2], "TopicKeep");
  CHECK_INT(s.times[2], 1);
  int64_t gap = s.at[2] - s.at[0];
  pthread_mutex_unlock(&s.mu);
  CHECK(gap >= 4900 && gap < 8000);
  CHECK(held_until - s.at[0] >= 4000);
  /* consumed now: the offset passes both */
  end = now_ms() + 5000;
  while (consumed_of(pc, "TopicKeep") != 2 && now_ms() < end)
    usleep(20 * 1000);
  CHECK_INT(consumed_of(pc, "TopicKeep"), 2);
  CHECK_INT(rmq_mock_topic_message_count(c, 0, "%RETRY%GKeep"), 0);
  rmq_push_consumer_destroy(pc, 5000);
  rmq_producer_destroy(p, 5000);
  rmq_mock_cluster_destroy(c);
  pthread_mutex_destroy(&s.mu);
}

/* Orderly, maxReconsumeTimes 2, every call suspended: as Java's
 * checkReconsumeTimes, the message is consumed with reconsume times 0, 1
 * and 2, and only then sent to %RETRY%<group> (RECONSUME_TIME 3, which
 * the broker diverts to %DLQ%<group>). */
TEST(orderly_suspensions_send_back_after_max_reconsume_times) {
  rmq_mock_cluster_t *c = cluster(1);
  REQUIRE(c);
  CHECK_ERR(rmq_mock_topic_create(c, "TopicOrd", 1), RMQ_OK);
  rmq_producer_t *p = producer(c, NULL);
  REQUIRE(p);
  rmq_msg_t *m = text_msg("TopicOrd", "ord");
  rmq_send_result_t res = {0};
  REQUIRE(rmq_producer_send(p, m, &res) == RMQ_OK);
  char id[64];
  snprintf(id, sizeof(id), "%s", res.msg_id);
  rmq_send_result_clear(&res);
  rmq_msg_destroy(m);
  static seen_t s;
  memset(&s, 0, sizeof(s));
  pthread_mutex_init(&s.mu, NULL);
  s.ok_from = -1;
  rmq_push_consumer_t *pc =
      seen_consumer_cb(c, "GOrd", "TopicOrd", &s, "2", true);
  REQUIRE(pc);
  int64_t end = now_ms() + 20000;
  while (rmq_mock_topic_message_count(c, 0, "%DLQ%GOrd") < 1 && now_ms() < end)
    usleep(20 * 1000);
  CHECK_INT(rmq_mock_topic_message_count(c, 0, "%DLQ%GOrd"), 1);
  CHECK_INT(rmq_mock_topic_message_count(c, 0, "%RETRY%GOrd"), 0);
  CHECK_INT(rmq_mock_request_count(c, 0, RC_SEND_V2), 2);
  CHECK_INT(rmq_mock_request_count(c, 0, RC_SEND_BACK), 0);
  pthread_mutex_lock(&s.mu);
  CHECK_INT(s.n, 3);
  for (int k = 0; k < 3 && k < s.n; k++) {
    CHECK_STR(s.id[k], id);
    CHECK_INT(s.times[k], k);
  }
  pthread_mutex_unlock(&s.mu);
  rmq_push_consumer_destroy(pc, 5000);
  rmq_producer_destroy(p, 5000);
  rmq_mock_cluster_destroy(c);
  pthread_mutex_destroy(&s.mu);
}

TEST(broker_down_moves_sends_and_up_brings_them_back) {
  rmq_mock_cluster_t *c = cluster(2);
  REQUIRE(c);
  CHECK_ERR(rmq_mock_topic_create(c, "TopicDown", 4), RMQ_OK);
  rmq_producer_t *p = producer(c, NULL);
  REQUIRE(p);
  rmq_msg_t *m = text_msg("TopicDown", "x");
  rmq_send_result_t res = {0};
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK); /* connected to both? */
  rmq_send_result_clear(&res);

  CHECK_ERR(rmq_mock_broker_set_down(c, 0), RMQ_OK);
  int64_t a_before = rmq_mock_topic_message_count(c, 0, "TopicDown");
  for (int i = 0; i < 20; i++) {
    memset(&res, 0, sizeof(res));
    CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK);
    CHECK_STR(res.broker_name, "broker-b");
    rmq_send_result_clear(&res);
  }
  CHECK_INT(rmq_mock_topic_message_count(c, 0, "TopicDown"), a_before);

  CHECK_ERR(rmq_mock_broker_set_up(c, 0), RMQ_OK);
  int to_a = 0;
  for (int i = 0; i < 20; i++) {
    memset(&res, 0, sizeof(res));
    CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK);
    to_a += res.broker_name && strcmp(res.broker_name, "broker-a") == 0;
    rmq_send_result_clear(&res);
  }
  CHECK(to_a > 0);
  CHECK_INT(rmq_mock_topic_message_count(c, 0, "TopicDown"), a_before + to_a);
  CHECK_INT(rmq_mock_topic_message_count(c, RMQ_MOCK_ANY, "TopicDown"), 41);
  rmq_msg_destroy(m);
  rmq_producer_destroy(p, 5000);
  rmq_mock_cluster_destroy(c);
}

/* Every broker refuses connections: each async send is retried
 * (retryTimesWhenSendAsyncFailed) and calls back once with the connect
 * error. A refused connect can end the request while its sender is still
 * in the send call, and the retry is made from the completion: completions
 * must not run inside the send call (the retry takes the producer's lock,
 * which a retry that completed inline would hold: the sender hung). */
TEST(async_sends_to_refusing_brokers_retry_and_call_back_once) {
  rmq_mock_cluster_t *c = cluster(2);
  REQUIRE(c);
  CHECK_ERR(rmq_mock_topic_create(c, "TopicRefused", 4), RMQ_OK);
  const char *kv[] = {"retryTimesWhenSendAsyncFailed", "2", NULL};
  rmq_producer_t *p = producer(c, kv);
  REQUIRE(p);
  rmq_msg_t *m = text_msg("TopicRefused", "warm");
  rmq_send_result_t res = {0};
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK); /* the route is known */
  rmq_send_result_clear(&res);
  rmq_msg_destroy(m);
  CHECK_ERR(rmq_mock_broker_set_down(c, 0), RMQ_OK);
  CHECK_ERR(rmq_mock_broker_set_down(c, 1), RMQ_OK);
  enum { N = 200 };
  static async_rec_t recs[N];
  CHECK(send_async_n(p, "TopicRefused", "refused", recs, N, 10000));
  rmq_producer_destroy(p, 5000);
  for (int i = 0; i < N; i++) {
    CHECK_INT(recs[i].calls, 1);
    CHECK_ERR(recs[i].err, RMQ_ERR_CONNECT);
  }
  rmq_mock_cluster_destroy(c);
}

TEST(delay_past_send_timeout_times_out_each_callback_once) {
  rmq_mock_cluster_t *c = cluster(2);
  REQUIRE(c);
  const char *kv[] = {"sendMsgTimeout", "300", NULL};
  rmq_producer_t *p = producer(c, kv);
  REQUIRE(p);
  rmq_msg_t *m = text_msg("TopicSlow", "warm");
  rmq_send_result_t res = {0};
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK); /* route known */
  rmq_send_result_clear(&res);
  CHECK_ERR(rmq_mock_broker_set_rtt(c, 0, 1000), RMQ_OK);
  CHECK_ERR(rmq_mock_broker_set_rtt(c, 1, 1000), RMQ_OK);

  memset(&res, 0, sizeof(res));
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_ERR_TIMEOUT);
  rmq_send_result_clear(&res);
  rmq_msg_destroy(m);

  enum { N = 20 };
  static async_rec_t recs[N];
  CHECK(send_async_n(p, "TopicSlow", "slow", recs, N, 5000));
  /* the late answers arrive meanwhile (the broker still stores the
   * messages): they must not call anything again */
  rmq_mock_wait_request_count(c, RMQ_MOCK_ANY, RC_SEND_V2, 1000000, 1200);
  rmq_producer_destroy(p, 5000); /* no callback can run after this */
  for (int i = 0; i < N; i++) {
    CHECK_INT(recs[i].calls, 1);
    CHECK_ERR(recs[i].err, RMQ_ERR_TIMEOUT);
  }
  CHECK_INT(async_done, N);
  rmq_mock_cluster_destroy(c);
}

/* A raw connection to "127.0.0.1:port". */
static int raw_connect(const char *addr) {
  const char *colon = strrchr(addr, ':');
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)atoi(colon + 1)),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* The mock closes a connection that sends what is no frame, or a frame
 * larger than 16 MiB, and goes on serving everyone else. */
TEST(hostile_input_closes_the_connection_only) {
  rmq_mock_cluster_t *c = cluster(1);
  REQUIRE(c);
  static const char garbage[] = "\x00\x00\x00\x10\x05garbage-garbage!";
  static const uint8_t huge[] = {0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 10};
  const char *addrs[] = {rmq_mock_broker_addr(c, 0),
                         rmq_mock_cluster_namesrv(c)};
  for (int k = 0; k < 4; k++) {
    int fd = raw_connect(addrs[k % 2]);
    REQUIRE(fd >= 0);
    if (k < 2)
      CHECK(send(fd, garbage, sizeof(garbage) - 1, 0) > 0);
    else
      CHECK(send(fd, huge, sizeof(huge), 0) > 0);
    char b[16];
    CHECK_INT(recv(fd, b, sizeof(b), 0), 0); /* closed, nothing answered */
    close(fd);
  }
  rmq_producer_t *p = producer(c, NULL);
  REQUIRE(p);
  rmq_msg_t *m = text_msg("TopicH", "still serving");
  rmq_send_result_t res = {0};
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK);
  rmq_send_result_clear(&res);
  rmq_msg_destroy(m);
  rmq_producer_destroy(p, 5000);
  rmq_mock_cluster_destroy(c);
}

/* Swallowed and cut requests, name-server faults, closed connections,
 * topics that are not created, and the storage limits. */
TEST(actions_and_limits) {
  rmq_mock_cluster_t *c = cluster(1);
  REQUIRE(c);
  CHECK_ERR(rmq_mock_set_auto_create_queues(c, 0), RMQ_OK);
  const char *kv[] = {"sendMsgTimeout", "500", NULL};
  rmq_producer_t *p = producer(c, kv);
  REQUIRE(p);
  rmq_msg_t *m = text_msg("TopicAct", "a");
  rmq_send_result_t res = {0};
  /* not created, no automatic creation: the name server knows no route */
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_TOPIC_NOT_EXIST);
  rmq_send_result_clear(&res);
  CHECK_ERR(rmq_mock_topic_create(c, "TopicAct", 1), RMQ_OK);
  /* the name server refuses the first lookup, then answers */
  CHECK_ERR(rmq_mock_push_request_errors(c, RMQ_MOCK_NAMESRV, 105, 1,
                                         RMQ_SYSTEM_ERROR),
            RMQ_OK);
  memset(&res, 0, sizeof(res));
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_SYSTEM_ERROR);
  rmq_send_result_clear(&res);
  memset(&res, 0, sizeof(res));
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK);
  CHECK_INT(res.queue_offset, 0);
  rmq_send_result_clear(&res);
  /* swallowed: the one attempt waits out the whole timeout */
  CHECK_ERR(
      rmq_mock_push_request_errors(c, 0, RC_SEND_V2, 1, RMQ_MOCK_NO_RESPONSE),
      RMQ_OK);
  int64_t sends = rmq_mock_request_count(c, 0, RC_SEND_V2);
  memset(&res, 0, sizeof(res));
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_ERR_TIMEOUT);
  CHECK_INT(rmq_mock_request_count(c, 0, RC_SEND_V2), sends + 1);
  rmq_send_result_clear(&res);
  /* the connection cut instead of an answer: retried on a new one */
  int64_t before = rmq_mock_request_count(c, 0, RC_SEND_V2);
  CHECK_ERR(rmq_mock_push_request_errors(c, 0, RC_SEND_V2, 1, RMQ_MOCK_CLOSE),
            RMQ_OK);
  memset(&res, 0, sizeof(res));
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK);
  CHECK_INT(res.attempts, 2);
  CHECK_INT(rmq_mock_request_count(c, 0, RC_SEND_V2), before + 2);
  rmq_send_result_clear(&res);
  CHECK_ERR(rmq_mock_broker_close_connections(c, 0), RMQ_OK);
  memset(&res, 0, sizeof(res));
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK); /* reconnects */
  rmq_send_result_clear(&res);
  /* a delay of one answer only, within the timeout */
  CHECK_ERR(rmq_mock_push_request_error_rtts(c, 0, RC_SEND_V2, 1, 0, 100),
            RMQ_OK);
  memset(&res, 0, sizeof(res));
  int64_t t0 = now_ms();
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK);
  CHECK(now_ms() - t0 >= 100);
  rmq_send_result_clear(&res);
  int64_t stored = rmq_mock_topic_message_count(c, 0, "TopicAct");
  /* the byte bound: a send past it is SERVICE_NOT_AVAILABLE (retried, so
   * three requests) and nothing more is stored */
  CHECK_ERR(rmq_mock_set_storage_limits(c, 0, 1), RMQ_OK);
  memset(&res, 0, sizeof(res));
  CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_SERVICE_NOT_AVAILABLE);
  rmq_send_result_clear(&res);
  CHECK_INT(rmq_mock_topic_message_count(c, 0, "TopicAct"), stored);
  /* the count bound: the oldest go, the min offset moves */
  CHECK_ERR(rmq_mock_set_storage_limits(c, 2, (size_t)64 << 20), RMQ_OK);
  for (int i = 0; i < 3; i++) {
    memset(&res, 0, sizeof(res));
    CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK);
    CHECK_INT(res.queue_offset, stored + i);
    rmq_send_result_clear(&res);
  }
  rmq_queue_t q = {"TopicAct", "broker-a", 0};
  rmq_conf_t *conf = conf_for(c);
  rmq_conf_set(conf, "consumerGroup", "GLim", NULL, 0);
  char err[256];
  rmq_pull_consumer_t *lc = rmq_pull_consumer_new(NULL, conf, err, sizeof(err));
  rmq_conf_destroy(conf);
  REQUIRE(lc);
  rmq_pull_result_t pr = {0};
  CHECK_ERR(rmq_pull_consumer_pull(lc, &q, NULL, 0, 32, 2000, &pr), RMQ_OK);
  CHECK_INT(pr.status, RMQ_PULL_OFFSET_ILLEGAL);
  CHECK_INT(pr.min_offset, stored + 1);
  CHECK_INT(pr.max_offset, stored + 3);
  CHECK_INT(pr.next_begin_offset, stored + 1);
  rmq_pull_result_clear(&pr);
  /* tags are filtered: nothing is TagB */
  CHECK_ERR(rmq_pull_consumer_pull(lc, &q, "TagB", stored + 1, 32, 2000, &pr),
            RMQ_OK);
  CHECK_INT(pr.status, RMQ_PULL_NO_MATCHED_MSG);
  CHECK_INT(pr.next_begin_offset, stored + 3);
  rmq_pull_result_clear(&pr);
  CHECK_ERR(
      rmq_pull_consumer_pull(lc, &q, "TagB || TagA", stored + 1, 32, 2000, &pr),
      RMQ_OK);
  CHECK_INT(pr.status, RMQ_PULL_FOUND);
  CHECK_INT(pr.n_msgs, 2);
  for (size_t i = 0; i < pr.n_msgs; i++)
    CHECK_INT(rmq_msg_queue_offset(pr.msgs[i]), stored + 1 + (int64_t)i);
  rmq_pull_result_clear(&pr);
  rmq_pull_consumer_destroy(lc, 2000);
  rmq_msg_destroy(m);
  rmq_producer_destroy(p, 5000);
  rmq_mock_cluster_destroy(c);
}

/* An orderly listener counting per queue, the calls after a moment. */
typedef struct lockq {
  atomic_int calls[2];
  atomic_int late[2]; /* calls for messages sent after the lock went */
  atomic_int out_of_order;
  atomic_int last[2];
} lockq_t;

static rmq_consume_status_t on_orderly(rmq_push_consumer_t *c,
                                       rmq_msg_t *const *msgs, size_t n,
                                       rmq_consume_ctx_t *ctx, void *opaque) {
  (void)c;
  lockq_t *x = opaque;
  int q = ctx->queue.queue_id & 1;
  for (size_t i = 0; i < n; i++) {
    const char *b = rmq_msg_property(msgs[i], "seq");
    int k = b ? atoi(b) : -1;
    if (k <= atomic_load(&x->last[q]))
      atomic_fetch_add(&x->out_of_order, 1);
    atomic_store(&x->last[q], k);
    atomic_fetch_add(&x->calls[q], 1);
    if (k >= 100)
      atomic_fetch_add(&x->late[q], 1);
  }
  return RMQ_CONSUME_SUCCESS;
}

static void send_seq(rmq_producer_t *p, int qid, int from, int to) {
  for (int i = from; i < to; i++) {
    char v[16];
    snprintf(v, sizeof(v), "%d", i);
    rmq_msg_t *m = text_msg("TopicLock", v);
    rmq_msg_set_property(m, "seq", v);
    rmq_send_result_t r;
    CHECK_ERR(rmq_producer_send_to_queue(p, m, "broker-a", qid, &r), RMQ_OK);
    rmq_send_result_clear(&r);
    rmq_msg_destroy(m);
  }
}

/* A cluster with TopicLock (2 queues) holding seq 0..9 in each queue, and
 * its producer; @p x ready. */
static rmq_mock_cluster_t *lock_cluster(rmq_producer_t **p, lockq_t *x) {
  rmq_mock_cluster_t *c = cluster(1);
  if (c == NULL || rmq_mock_topic_create(c, "TopicLock", 2) != RMQ_OK ||
      (*p = producer(c, NULL)) == NULL) {
    if (c)
      rmq_mock_cluster_destroy(c);
    return NULL;
  }
  atomic_store(&x->last[0], -1);
  atomic_store(&x->last[1], -1);
  send_seq(*p, 0, 0, 10);
  send_seq(*p, 1, 0, 10);
  return c;
}

/* An orderly consumer of TopicLock from its first offset (@p conf, taken),
 * started, once it has consumed seq 0..9 of both queues. */
static rmq_push_consumer_t *lock_consumer(rmq_conf_t *conf, rmq_consume_cb *cb,
                                          lockq_t *x) {
  rmq_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  char err[256] = "";
  rmq_push_consumer_t *pc = rmq_push_consumer_new(NULL, conf, err, sizeof(err));
  rmq_conf_destroy(conf);
  if (pc == NULL)
    return NULL;
  CHECK_ERR(rmq_push_consumer_set_listener_orderly(pc, cb, x), RMQ_OK);
  CHECK_ERR(rmq_push_consumer_subscribe(pc, "TopicLock", "*"), RMQ_OK);
  CHECK_ERR(rmq_push_consumer_start(pc), RMQ_OK);
  for (int t = 0; t < 500 && (atomic_load(&x->calls[0]) < 10 ||
                              atomic_load(&x->calls[1]) < 10);
       t++)
    usleep(10 * 1000);
  CHECK_INT(atomic_load(&x->calls[0]), 10);
  CHECK_INT(atomic_load(&x->calls[1]), 10);
  return pc;
}

/* An orderly consumer whose lock on queue 0 goes to another client (its
 * renewal, 20 s after start, comes back without the queue): queue 0's
 * listener calls stop while queue 1 goes on; once the lock is ours again
 * it resumes, in order. */
TEST(orderly_listener_stops_on_a_lost_lock) {
  enum { RC_LOCK = 41 };
  static lockq_t x;
  rmq_producer_t *p = NULL;
  rmq_mock_cluster_t *c = lock_cluster(&p, &x);
  REQUIRE(c);
  rmq_conf_t *conf = conf_for(c);
  rmq_conf_set(conf, "consumerGroup", "GLock", NULL, 0);
  rmq_conf_set(conf, "rebalanceInterval", "500", NULL, 0);
  rmq_push_consumer_t *pc = lock_consumer(conf, on_orderly, &x);
  REQUIRE(pc);
  int64_t locks = rmq_mock_request_count(c, 0, RC_LOCK);
  CHECK_ERR(
      rmq_mock_queue_lock_give(c, 0, "TopicLock", 0, "GLock", "someone-else"),
      RMQ_OK);
  /* the renewal (one request for both queues) loses queue 0; the request
   * after it tries to lock queue 0 again, in vain */
  CHECK(rmq_mock_wait_request_count(c, 0, RC_LOCK, locks + 2, 30000) >=
        locks + 2);
  send_seq(p, 0, 100, 110);
  send_seq(p, 1, 100, 110);
  for (int t = 0; t < 500 && atomic_load(&x.late[1]) < 10; t++)
    usleep(10 * 1000);
  /* queue 1 went on; queue 0, pulled or not, was not consumed (quiet: a
   * second more, while the consumer asks for the lock again each time) */
  int64_t now = rmq_mock_request_count(c, 0, RC_LOCK);
  CHECK(rmq_mock_wait_request_count(c, 0, RC_LOCK, now + 2, 10000) >= now + 2);
  CHECK_INT(atomic_load(&x.late[1]), 10);
  CHECK_INT(atomic_load(&x.late[0]), 0);
  CHECK_INT(atomic_load(&x.calls[0]), 10);
  /* the lock is ours again: queue 0 resumes where it stopped */
  CHECK_ERR(
      rmq_mock_queue_lock_give(c, 0, "TopicLock", 0, "GLock",
                               rmq_client_id(rmq_push_consumer_client(pc))),
      RMQ_OK);
  for (int t = 0; t < 1000 && atomic_load(&x.late[0]) < 10; t++)
    usleep(10 * 1000);
  CHECK_INT(atomic_load(&x.late[0]), 10);
  CHECK_INT(atomic_load(&x.out_of_order), 0);
  CHECK_ERR(rmq_mock_queue_lock_give(c, 0, "NoTopic", 0, "GLock", "x"),
            RMQ_ERR_NOT_FOUND);
  CHECK_ERR(rmq_mock_queue_lock_give(c, 0, "TopicLock", 2, "GLock", "x"),
            RMQ_ERR_NOT_FOUND);
  CHECK_ERR(rmq_mock_queue_lock_give(c, 1, "TopicLock", 0, "GLock", "x"),
            RMQ_ERR_INVALID_ARG);
  rmq_push_consumer_destroy(pc, 5000);
  rmq_producer_destroy(p, 2000);
  rmq_mock_cluster_destroy(c);
}

/* Holds the listener while relock_hold is set, in the call of seq 100. */
static atomic_int relock_hold;
static rmq_consume_status_t on_orderly_held(rmq_push_consumer_t *c,
                                            rmq_msg_t *const *msgs, size_t n,
                                            rmq_consume_ctx_t *ctx,
                                            void *opaque) {
  const char *b = n ? rmq_msg_property(msgs[0], "seq") : NULL;
  while (b && atoi(b) == 100 && atomic_load(&relock_hold))
    usleep(1000);
  return on_orderly(c, msgs, n, ctx, opaque);
}

/* An orderly consumer has pulled queue 0's messages 100..109 (offsets
 * 10..19) and is in the call of 100 when its lock goes to another member,
 * which consumes up to offset 15 and commits it. While the lock is not its
 * own the consumer commits nothing of queue 0 (its offset, 11, would move
 * the group's back). When the lock comes back it starts where the group
 * is: 105..109, not its pulled 101..104, which Java would consume again
 * after their successors. */
TEST(orderly_relock_starts_where_the_group_is) {
  enum { RC_LOCK = 41, RC_UPDATE_OFFSET = 15 };
  static lockq_t x;
  rmq_producer_t *p = NULL;
  rmq_mock_cluster_t *c = lock_cluster(&p, &x);
  REQUIRE(c);
  rmq_conf_t *conf = conf_for(c);
  rmq_conf_set(conf, "consumerGroup", "GRelock", NULL, 0);
  rmq_conf_set(conf, "rebalanceLockInterval", "300", NULL, 0);
  rmq_conf_set(conf, "rebalanceLockMaxLiveTime", "1000", NULL, 0);
  rmq_conf_set(conf, "persistConsumerOffsetInterval", "200", NULL, 0);
  rmq_push_consumer_t *pc = lock_consumer(conf, on_orderly_held, &x);
  REQUIRE(pc);
  atomic_store(&relock_hold, 1);
  send_seq(p, 0, 100, 110); /* pulled at once; the call of 100 is held */
  /* the other member takes the lock, consumes 10..14 and commits 15 */
  CHECK_ERR(
      rmq_mock_queue_lock_give(c, 0, "TopicLock", 0, "GRelock", "someone-else"),
      RMQ_OK);
  int64_t locks = rmq_mock_request_count(c, 0, RC_LOCK);
  CHECK(rmq_mock_wait_request_count(c, 0, RC_LOCK, locks + 2, 10000) >=
        locks + 2);
  /* (not started: no member of the group, it only commits) */
  conf = conf_for(c);
  rmq_conf_set(conf, "consumerGroup", "GRelock", NULL, 0);
  char err[256] = "";
  rmq_pull_consumer_t *other =
      rmq_pull_consumer_new(NULL, conf, err, sizeof(err));
  rmq_conf_destroy(conf);
  REQUIRE(other);
  rmq_queue_t q0 = {.topic = "TopicLock", .broker_name = "broker-a",
                    .queue_id = 0};
  CHECK_ERR(rmq_pull_consumer_commit_queue(other, &q0, 15), RMQ_OK);
  /* 100's call ends; then several periodic commits (of queue 1) go out */
  atomic_store(&relock_hold, 0);
  for (int t = 0; t < 500 && atomic_load(&x.calls[0]) < 11; t++)
    usleep(10 * 1000);
  int64_t commits = rmq_mock_request_count(c, 0, RC_UPDATE_OFFSET);
  CHECK(rmq_mock_wait_request_count(c, 0, RC_UPDATE_OFFSET, commits + 4,
                                    10000) >= commits + 4);
  int64_t off = -1;
  CHECK_ERR(rmq_pull_consumer_committed(other, &q0, &off), RMQ_OK);
  CHECK_INT((int)off, 15); /* not moved back to 11 */
  CHECK_INT(atomic_load(&x.calls[0]), 11);
  /* the lock comes back: 105..109 follow, nothing of 101..104 */
  CHECK_ERR(
      rmq_mock_queue_lock_give(c, 0, "TopicLock", 0, "GRelock",
                               rmq_client_id(rmq_push_consumer_client(pc))),
      RMQ_OK);
  for (int t = 0; t < 1000 && atomic_load(&x.last[0]) < 109; t++)
    usleep(10 * 1000);
  CHECK_INT(atomic_load(&x.last[0]), 109);
  CHECK_INT(atomic_load(&x.late[0]), 6); /* 100, then 105..109 */
  CHECK_INT(atomic_load(&x.out_of_order), 0);
  rmq_pull_consumer_destroy(other, 2000);
  rmq_push_consumer_destroy(pc, 5000);
  rmq_producer_destroy(p, 2000);
  rmq_mock_cluster_destroy(c);
}

/* A consumer made and subscribed but not started is no member of its
 * group (Java registers one in start()): the broker would list it, and
 * the members would leave it a share of the queues that nobody consumes.
 * Its client heartbeats meanwhile, for a producer, ten times over; once
 * started it is a member and takes a queue. */
TEST(a_consumer_not_started_is_no_member) {
  static lockq_t x, y;
  rmq_producer_t *p = NULL;
  rmq_mock_cluster_t *c = lock_cluster(&p, &x);
  REQUIRE(c);
  rmq_conf_t *conf = conf_for(c);
  rmq_conf_set(conf, "consumerGroup", "GIdle", NULL, 0);
  rmq_push_consumer_t *a = lock_consumer(conf, on_orderly, &x);
  REQUIRE(a);
  conf = conf_for(c);
  rmq_conf_set(conf, "heartbeatBrokerInterval", "100", NULL, 0);
  char err[256] = "";
  rmq_client_t *cl = rmq_client_new(conf, err, sizeof(err));
  rmq_conf_destroy(conf);
  REQUIRE(cl);
  conf = rmq_conf_new();
  rmq_conf_set(conf, "consumerGroup", "GIdle", NULL, 0);
  rmq_push_consumer_t *b = rmq_push_consumer_new(cl, conf, err, sizeof(err));
  rmq_conf_destroy(conf);
  conf = rmq_conf_new();
  rmq_conf_set(conf, "producerGroup", "PGIdle", NULL, 0);
  rmq_producer_t *bp = rmq_producer_new(cl, conf, err, sizeof(err));
  rmq_conf_destroy(conf);
  if (!b || !bp)
    fprintf(stderr, "%s\n", err);
  REQUIRE(b && bp);
  /* a route: the client now knows the broker, and heartbeats to it */
  CHECK_ERR(rmq_mock_topic_create(c, "TopicHb", 1), RMQ_OK);
  rmq_msg_t *m = text_msg("TopicHb", "x");
  rmq_send_result_t r;
  CHECK_ERR(rmq_producer_send(bp, m, &r), RMQ_OK);
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
  atomic_store(&y.last[0], 99);
  atomic_store(&y.last[1], 99);
  CHECK_ERR(rmq_push_consumer_set_listener_orderly(b, on_orderly, &y), RMQ_OK);
  CHECK_ERR(rmq_push_consumer_subscribe(b, "TopicLock", "*"), RMQ_OK);
  int64_t hb = rmq_mock_request_count(c, 0, RC_HEARTBEAT);
  CHECK(rmq_mock_wait_request_count(c, 0, RC_HEARTBEAT, hb + 10, 10000) >=
        hb + 10);
  /* A holds both queues still */
  send_seq(p, 0, 100, 101);
  send_seq(p, 1, 100, 101);
  for (int t = 0; t < 500 && (atomic_load(&x.late[0]) < 1 ||
                              atomic_load(&x.late[1]) < 1);
       t++)
    usleep(10 * 1000);
  CHECK_INT(atomic_load(&x.late[0]), 1);
  CHECK_INT(atomic_load(&x.late[1]), 1);
  /* started, B is a member: it gets a queue and consumes what comes */
  CHECK_ERR(rmq_push_consumer_start(b), RMQ_OK);
  for (int i = 0; i < 500 && atomic_load(&y.calls[0]) +
                                     atomic_load(&y.calls[1]) ==
                                 0;
       i++) {
    if (i % 20 == 0) {
      send_seq(p, 0, 101 + i / 20, 102 + i / 20);
      send_seq(p, 1, 101 + i / 20, 102 + i / 20);
    }
    usleep(10 * 1000);
  }
  CHECK(atomic_load(&y.calls[0]) + atomic_load(&y.calls[1]) > 0);
  CHECK_INT(atomic_load(&x.out_of_order) + atomic_load(&y.out_of_order), 0);
  rmq_push_consumer_destroy(b, 5000);
  rmq_producer_destroy(bp, 2000);
  rmq_client_destroy(cl, 2000);
  rmq_push_consumer_destroy(a, 5000);
  rmq_producer_destroy(p, 2000);
  rmq_mock_cluster_destroy(c);
}

/* ---- flow control per queue and pull pacing ---------------------------
 * Client-side throttles (Java's pullThresholdForQueue,
 * pullThresholdSizeForQueue, pullInterval, pullBatchSize): the broker only
 * answers the pulls the consumer chose to send, so the mock shows them as
 * a real broker would. */

static atomic_int flow_hold = 1; /* listeners block while set */
/* @p op: the consumer's own count of delivered messages */
static rmq_consume_status_t on_flow(rmq_push_consumer_t *c,
                                    rmq_msg_t *const *msgs, size_t n,
                                    rmq_consume_ctx_t *ctx, void *op) {
  (void)c;
  (void)msgs;
  (void)ctx;
  atomic_fetch_add((atomic_int *)op, (int)n);
  while (atomic_load(&flow_hold))
    usleep(5000);
  return RMQ_CONSUME_SUCCESS;
}

static rmq_push_consumer_t *flow_consumer(rmq_mock_cluster_t *c,
                                          const char *group,
                                          const char *const *kv,
                                          atomic_int *delivered) {
  rmq_conf_t *conf = conf_for(c);
  rmq_conf_set(conf, "consumerGroup", group, NULL, 0);
  rmq_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  rmq_conf_set(conf, "consumeThreadMin", "1", NULL, 0);
  rmq_conf_set(conf, "consumeThreadMax", "1", NULL, 0);
  for (; kv && kv[0]; kv += 2)
    CHECK_ERR(rmq_conf_set(conf, kv[0], kv[1], NULL, 0), RMQ_OK);
  rmq_push_consumer_t *pc = rmq_push_consumer_new(NULL, conf, NULL, 0);
  rmq_conf_destroy(conf);
  if (pc && (rmq_push_consumer_set_listener(pc, on_flow, delivered) != RMQ_OK ||
             rmq_push_consumer_subscribe(pc, "TopicFlow", "*") != RMQ_OK ||
             rmq_push_consumer_start(pc) != RMQ_OK)) {
    rmq_push_consumer_destroy(pc, 1000);
    pc = NULL;
  }
  return pc;
}

/* The cached messages and bytes of the consumer's queue of TopicFlow
 * (its retry topic's queues are listed too). */
static void flow_cached(rmq_push_consumer_t *pc, uint64_t *msgs,
                        uint64_t *bytes) {
  rmq_consumer_stats_t st = {0};
  *msgs = *bytes = 0;
  if (rmq_push_consumer_stats(pc, &st) == RMQ_OK)
    for (size_t i = 0; i < st.n_queues; i++)
      if (strcmp(st.queues[i].queue.topic, "TopicFlow") == 0) {
        *msgs = st.queues[i].cached_msgs;
        *bytes = st.queues[i].cached_bytes;
      }
  rmq_consumer_stats_clear(&st);
}

TEST(queue_thresholds_and_pull_interval_pace_pulling) {
  rmq_mock_cluster_t *c = cluster(1);
  REQUIRE(c);
  CHECK_ERR(rmq_mock_topic_create(c, "TopicFlow", 1), RMQ_OK);
  rmq_producer_t *p = producer(c, NULL);
  REQUIRE(p);
  enum { N = 200, BODY = 64 << 10 };
  char *body = malloc(BODY);
  REQUIRE(body);
  /* incompressible: the size threshold counts bodies as stored */
  uint32_t x = 2463534242u;
  for (int i = 0; i < BODY; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    body[i] = (char)x;
  }
  for (int i = 0; i < N; i++) {
    rmq_msg_t *m = rmq_msg_new("TopicFlow");
    rmq_msg_set_body(m, body, BODY);
    rmq_send_result_t res = {0};
    CHECK_ERR(rmq_producer_send(p, m, &res), RMQ_OK);
    rmq_send_result_clear(&res);
    rmq_msg_destroy(m);
  }
  free(body);
  atomic_store(&flow_hold, 1);

  /* by count: 10 cached at most, plus the one pull (of 4) in flight when
   * the threshold was crossed; the listener holds one */
  static atomic_int na, nb, nd;
  const char *by_count[] = {"pullThresholdForQueue", "10", "pullBatchSize", "4",
                            NULL};
  rmq_push_consumer_t *a = flow_consumer(c, "GFlowCount", by_count, &na);
  /* by size: 1 MiB cached at most (16 bodies of 64 KiB), plus one pull of
   * 32 at most (the mock's 256 KiB cap per pull: 4 bodies) */
  const char *by_size[] = {"pullThresholdSizeForQueue", "1", NULL};
  rmq_push_consumer_t *b = flow_consumer(c, "GFlowSize", by_size, &nb);
  REQUIRE(a && b);
  int64_t end = now_ms() + 3000;
  uint64_t am = 0, ab = 0, bm = 0, bb = 0, am_max = 0, bb_max = 0;
  while (now_ms() < end) {
    flow_cached(a, &am, &ab);
    flow_cached(b, &bm, &bb);
    am_max = am > am_max ? am : am_max;
    bb_max = bb > bb_max ? bb : bb_max;
    usleep(20 * 1000);
  }
  fprintf(stderr,
          "# cached at most: %llu messages (threshold 10, batch 4), %llu "
          "bytes (threshold 1 MiB)\n",
          (unsigned long long)am_max, (unsigned long long)bb_max);
  CHECK(am_max >= 10); /* it did pull up to the threshold */
  CHECK(am_max <= 10 + 4);
  CHECK(bb_max >= (1u << 20) - BODY);
  CHECK(bb_max <= (1u << 20) + 4 * (uint64_t)BODY);

  /* each listener had one call, holding one message */
  CHECK_INT(atomic_load(&na), 1);
  CHECK_INT(atomic_load(&nb), 1);
  atomic_store(&flow_hold, 0);
  rmq_push_consumer_destroy(a, 5000);
  rmq_push_consumer_destroy(b, 5000);

  /* pacing: with pullInterval 400 ms and batches of 4, a consumer of the
   * same 200 messages gets at most 4 per interval (plus the first pull);
   * unpaced it takes them all within a few pulls of 32 */
  const char *paced[] = {"pullInterval", "400", "pullBatchSize", "4", NULL};
  int64_t t0 = now_ms();
  rmq_push_consumer_t *d = flow_consumer(c, "GFlowPaced", paced, &nd);
  REQUIRE(d);
  end = t0 + 10000;
  while (atomic_load(&nd) < 8 && now_ms() < end)
    usleep(5000);
  usleep(1600 * 1000);
  int got = atomic_load(&nd);
  int64_t took = now_ms() - t0;
  int most = (int)(took / 400 + 1) * 4;
  fprintf(stderr, "# paced: %d delivered in %lld ms (at most %d)\n", got,
          (long long)took, most);
  CHECK(got >= 8);
  CHECK(got <= most);
  CHECK(got < N);
  rmq_push_consumer_destroy(d, 5000);
  rmq_producer_destroy(p, 5000);
  rmq_mock_cluster_destroy(c);
}

TEST(api_refuses_bad_arguments) {
  char err[128] = "";
  CHECK(rmq_mock_cluster_new(0, err, sizeof(err)) == NULL);
  CHECK(strstr(err, "n_brokers") != NULL);
  CHECK(rmq_mock_cluster_new(RMQ_MOCK_MAX_BROKERS + 1, NULL, 0) == NULL);
  rmq_mock_cluster_t *c = cluster(1);
  REQUIRE(c);
  CHECK_ERR(rmq_mock_topic_create(c, "bad topic", 4), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_mock_topic_create(c, "T", 0), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_mock_broker_set_down(c, 1), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_mock_push_request_errors(c, 5, 10, 1, 2), RMQ_ERR_INVALID_ARG);
  CHECK_INT(rmq_mock_request_count(c, 3, RMQ_MOCK_ANY), -1);
  CHECK(rmq_mock_broker_addr(c, 1) == NULL);
  CHECK(rmq_mock_broker_addr(c, RMQ_MOCK_NAMESRV) != NULL);
  CHECK_STR(rmq_mock_broker_addr(c, RMQ_MOCK_NAMESRV),
            rmq_mock_cluster_namesrv(c));
  rmq_mock_cluster_destroy(c);
  rmq_mock_cluster_destroy(NULL);
}

/* The client finds each topic's route by name in an index that grows as
 * topics come (16 slots, doubled at half full): 300 topics, auto-created
 * by the mock on first use, take it through five growths; every send lands
 * in its own topic, and after its first send each topic's route is found
 * again (no more route look-ups at the name server: a topic lost by the
 * index would be looked up anew). */
TEST(sends_to_many_topics_each_reach_their_topic) {
  enum { N = 300, RC_ROUTE = 105 };
  rmq_mock_cluster_t *c = cluster(1);
  CHECK(c != NULL);
  /* no periodic route refresh during the test */
  const char *kv[] = {"pollNameServerInterval", "3600000", NULL};
  rmq_producer_t *p = producer(c, kv);
  CHECK(p != NULL);
  char topic[32];
  int64_t lookups = 0;
  for (int round = 0; round < 3; round++) {
    for (int k = 0; k < N; k++) {
      if (round > k % 3) /* topic k gets k % 3 + 1 messages */
        continue;
      snprintf(topic, sizeof(topic), "ManyT_%d", k);
      rmq_msg_t *m = text_msg(topic, "x");
      CHECK_ERR(rmq_producer_send(p, m, NULL), RMQ_OK);
      rmq_msg_destroy(m);
    }
    if (round == 0)
      lookups = rmq_mock_request_count(c, RMQ_MOCK_NAMESRV, RC_ROUTE);
  }
  CHECK(lookups >= N);
  CHECK_INT(rmq_mock_request_count(c, RMQ_MOCK_NAMESRV, RC_ROUTE), lookups);
  for (int k = 0; k < N; k++) {
    snprintf(topic, sizeof(topic), "ManyT_%d", k);
    CHECK_INT(rmq_mock_topic_message_count(c, RMQ_MOCK_ANY, topic), k % 3 + 1);
  }
  rmq_producer_destroy(p, 2000);
  rmq_mock_cluster_destroy(c);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(producer_push_and_lite_pull_round_trip),
      TCASE(large_async_bodies_arrive_whole),
      TCASE(compressed_bodies_from_many_threads_arrive_whole),
      TCASE(system_busy_is_retried_and_counted),
      TCASE(failed_send_back_falls_back_to_a_send_to_the_retry_topic),
      TCASE(failed_send_back_and_retry_send_keep_the_message_here),
      TCASE(orderly_suspensions_send_back_after_max_reconsume_times),
      TCASE(broker_down_moves_sends_and_up_brings_them_back),
      TCASE(async_sends_to_refusing_brokers_retry_and_call_back_once),
      TCASE(delay_past_send_timeout_times_out_each_callback_once),
      TCASE(hostile_input_closes_the_connection_only),
      TCASE(actions_and_limits),
      TCASE(orderly_listener_stops_on_a_lost_lock),
      TCASE(orderly_relock_starts_where_the_group_is),
      TCASE(a_consumer_not_started_is_no_member),
      TCASE(queue_thresholds_and_pull_interval_pace_pulling),
      TCASE(api_refuses_bad_arguments),
      TCASE(sends_to_many_topics_each_reach_their_topic),
  };
  return RUN_TESTS(cases);
}
