/* Transactions against real brokers (the harness shortens the broker's
 * check interval: transactionTimeOut 2 s, transactionCheckInterval 3 s):
 * a committed message is visible and a rolled-back one never is; an
 * unknown state brings a check-back whose commit makes the message
 * visible; a check reaches a new producer of the group after the first is
 * gone. What is visible is read back with the library's pull consumer
 * (raw pulls of the topic's one queue). */
#include "it.h"
#include "rmq.h"
#include "test.h"
#include "util/time.h"

#include <pthread.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static it_env_t env;
static char the_topic[128]; /* one topic for every case: mqadmin is slow */

static rmq_producer_t *producer(const char *group) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "producerGroup", group, NULL, 0);
  rmq_conf_set(c, "logLevel", "warn", NULL, 0);
  char err[256];
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  if (p == NULL)
    fprintf(stderr, "producer: %s\n", err);
  rmq_conf_destroy(c);
  return p;
}

/* ---- the listener ---------------------------------------------------------
 * execute answers what the send's arg points to; check answers COMMIT and
 * records which producer was asked about which message. */

static _Atomic int n_checks;
static rmq_producer_t *_Atomic checked_by;
static char checked_id[80], checked_txid[80];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static rmq_tx_state_t on_exec(rmq_producer_t *p, rmq_msg_t *m, void *arg,
                              void *opaque) {
  (void)p;
  (void)m;
  (void)opaque;
  return *(rmq_tx_state_t *)arg;
}

static rmq_tx_state_t on_check(rmq_producer_t *p, const rmq_msg_t *m,
                               void *opaque) {
  (void)opaque;
  pthread_mutex_lock(&mu);
  snprintf(checked_id, sizeof(checked_id), "%s", rmq_msg_id(m));
  const char *t = rmq_msg_transaction_id(m);
  snprintf(checked_txid, sizeof(checked_txid), "%s", t ? t : "");
  pthread_mutex_unlock(&mu);
  atomic_store(&checked_by, p);
  atomic_fetch_add(&n_checks, 1);
  return RMQ_TX_COMMIT;
}

static void reset(void) {
  atomic_store(&n_checks, 0);
  atomic_store(&checked_by, NULL);
  checked_id[0] = checked_txid[0] = '\0';
}

/* Sends @p body in a transaction whose local state is @p st; the id in
 * @p id. */
static rmq_err_t send_tx(rmq_producer_t *p, const char *topic, const char *body,
                         rmq_tx_state_t st, char *id, size_t n, char *broker,
                         size_t bn) {
  rmq_msg_t *m = rmq_msg_new(topic);
  rmq_msg_set_body(m, body, strlen(body));
  rmq_send_result_t r;
  rmq_tx_state_t got = (rmq_tx_state_t)-1;
  rmq_err_t rc = rmq_producer_send_in_transaction(p, m, &st, &r, &got);
  if (rc == RMQ_OK) {
    CHECK_INT(got, st);
    CHECK_INT(r.status, RMQ_SEND_OK);
    CHECK(r.transaction_id && strcmp(r.transaction_id, r.msg_id) == 0);
    snprintf(id, n, "%s", r.msg_id);
    if (broker)
      snprintf(broker, bn, "%s", r.broker_name);
  } else {
    fprintf(stderr, "send_in_transaction: %s %s\n", rmq_err_name(rc),
            r.error ? r.error : "");
  }
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
  return rc;
}

static rmq_err_t send_plain(rmq_producer_t *p, const char *topic, char *id,
                            size_t n) {
  rmq_msg_t *m = rmq_msg_new(topic);
  rmq_msg_set_body(m, "marker", 6);
  rmq_send_result_t r;
  rmq_err_t rc = rmq_producer_send(p, m, &r);
  if (rc == RMQ_OK)
    snprintf(id, n, "%s", r.msg_id);
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
  return rc;
}

/* ---- what a consumer sees --------------------------------------------------
 */

typedef struct seen {
  char ids[64][64];
  int n;
} seen_t;

static int count_of(const seen_t *s, const char *id) {
  int k = 0;
  for (int i = 0; i < s->n; i++)
    k += strcmp(s->ids[i], id) == 0;
  return k;
}

/* Pulls queue 0 of @p topic from the start until every id of @p want is
 * there and @p quiet_ms passed with nothing new, or @p timeout_ms. */
static void collect(const char *topic, const char *broker,
                    const char *const *want, int n_want, int quiet_ms,
                    int timeout_ms, seen_t *s) {
  s->n = 0;
  char group[128];
  it_unique(group, sizeof(group), "it_tx_reader");
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "consumerGroup", group, NULL, 0);
  rmq_conf_set(c, "logLevel", "warn", NULL, 0);
  char err[256];
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  if (pc == NULL) {
    rmqt_fail(__FILE__, __LINE__, "consumer: %s", err);
    return;
  }
  rmq_queue_t q = {topic, broker, 0};
  int64_t offset = 0, end = rmqi_now_ms() + timeout_ms, quiet_since = -1;
  while (rmqi_now_ms() < end) {
    rmq_pull_result_t r;
    rmq_err_t rc = rmq_pull_consumer_pull(pc, &q, "*", offset, 32, 3000, &r);
    bool fresh = false;
    if (rc == RMQ_OK && r.status == RMQ_PULL_FOUND) {
      for (size_t i = 0; i < r.n_msgs && s->n < 64; i++)
        snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s",
                 rmq_msg_id(r.msgs[i]));
      fresh = r.n_msgs > 0;
    }
    if (rc == RMQ_OK)
      offset = r.next_begin_offset;
    rmq_pull_result_clear(&r);
    bool all = true;
    for (int i = 0; i < n_want; i++)
      all = all && count_of(s, want[i]) > 0;
    if (fresh || !all) {
      quiet_since = -1;
    } else if (quiet_since < 0) {
      quiet_since = rmqi_now_ms();
    } else if (rmqi_now_ms() - quiet_since >= quiet_ms) {
      break;
    }
    if (!fresh)
      usleep(200 * 1000);
  }
  rmq_pull_consumer_destroy(pc, 1000);
}

/* ---- tests ------------------------------------------------------------------
 */

TEST(committed_is_visible_and_rolled_back_never) {
  reset();
  char group[128];
  it_unique(group, sizeof(group), "it_tx_pg");
  rmq_producer_t *p = producer(group);
  REQUIRE(p != NULL);
  REQUIRE(rmq_producer_set_transaction_listener(p, on_exec, on_check, NULL) ==
          RMQ_OK);
  char commit_id[64], rollback_id[64], marker[64], broker[64];
  REQUIRE(send_tx(p, the_topic, "commit me", RMQ_TX_COMMIT, commit_id,
                  sizeof(commit_id), broker, sizeof(broker)) == RMQ_OK);
  REQUIRE(send_tx(p, the_topic, "roll me back", RMQ_TX_ROLLBACK, rollback_id,
                  sizeof(rollback_id), NULL, 0) == RMQ_OK);
  REQUIRE(send_plain(p, the_topic, marker, sizeof(marker)) == RMQ_OK);
  seen_t s;
  const char *want[] = {commit_id, marker};
  collect(the_topic, broker, want, 2, 1500, 20000, &s);
  CHECK_INT(count_of(&s, commit_id), 1);
  CHECK_INT(count_of(&s, marker), 1);
  CHECK_INT(count_of(&s, rollback_id), 0);
  CHECK_INT(atomic_load(&n_checks), 0); /* both were decided at once */
  rmq_producer_destroy(p, 3000);
}

TEST(unknown_is_checked_then_committed) {
  reset();
  char group[128];
  it_unique(group, sizeof(group), "it_tx_pg");
  rmq_producer_t *p = producer(group);
  REQUIRE(p != NULL);
  REQUIRE(rmq_producer_set_transaction_listener(p, on_exec, on_check, NULL) ==
          RMQ_OK);
  char id[64], broker[64];
  int64_t t0 = rmqi_now_ms();
  REQUIRE(send_tx(p, the_topic, "decide later", RMQ_TX_UNKNOWN, id, sizeof(id),
                  broker, sizeof(broker)) == RMQ_OK);
  seen_t s;
  const char *want[] = {id};
  collect(the_topic, broker, want, 1, 500, 40000, &s);
  CHECK(atomic_load(&n_checks) >= 1);
  CHECK(atomic_load(&checked_by) == p);
  pthread_mutex_lock(&mu);
  CHECK_STR(checked_id, id);
  CHECK_STR(checked_txid, id);
  pthread_mutex_unlock(&mu);
  /* The broker may check again before the commit lands (README of
   * tests/broker): then the message is there twice, never missing. */
  CHECK(count_of(&s, id) >= 1);
  fprintf(stderr, "check-back and commit after %lld ms (%d checks)\n",
          (long long)(rmqi_now_ms() - t0), atomic_load(&n_checks));
  rmq_producer_destroy(p, 3000);
}

TEST(check_reaches_a_new_producer_of_the_group) {
  reset();
  char group[128];
  it_unique(group, sizeof(group), "it_tx_pg");
  rmq_producer_t *p1 = producer(group);
  REQUIRE(p1 != NULL);
  REQUIRE(rmq_producer_set_transaction_listener(p1, on_exec, on_check, NULL) ==
          RMQ_OK);
  char id[64], broker[64], marker[64];
  REQUIRE(send_tx(p1, the_topic, "left unknown", RMQ_TX_UNKNOWN, id, sizeof(id),
                  broker, sizeof(broker)) == RMQ_OK);
  rmq_producer_destroy(p1, 3000); /* before the first check (2 s) */
  int early = atomic_load(&n_checks);
  rmq_producer_t *p2 = producer(group);
  REQUIRE(p2 != NULL);
  REQUIRE(rmq_producer_set_transaction_listener(p2, on_exec, on_check, NULL) ==
          RMQ_OK);
  /* a route to the topic's broker, so that heartbeats register p2 there */
  REQUIRE(send_plain(p2, the_topic, marker, sizeof(marker)) == RMQ_OK);
  seen_t s;
  const char *want[] = {id, marker};
  collect(the_topic, broker, want, 2, 500, 40000, &s);
  CHECK_INT(early, 0);
  CHECK(atomic_load(&n_checks) >= 1);
  CHECK(atomic_load(&checked_by) == p2);
  pthread_mutex_lock(&mu);
  CHECK_STR(checked_id, id);
  pthread_mutex_unlock(&mu);
  CHECK(count_of(&s, id) >= 1);
  rmq_producer_destroy(p2, 3000);
}

int main(void) {
  it_setup(&env);
  it_unique(the_topic, sizeof(the_topic), "it_tx");
  char args[256];
  snprintf(args, sizeof(args), "%s --queues 1", the_topic);
  if (it_harness(&env, "topic", args, NULL) != 0) {
    fprintf(stderr, "cannot create topic %s\n", the_topic);
    return 1;
  }
  static const rmqt_case cases[] = {
      TCASE(committed_is_visible_and_rolled_back_never),
      TCASE(unknown_is_checked_then_committed),
      TCASE(check_reaches_a_new_producer_of_the_group),
  };
  return RUN_TESTS(cases);
}
