/* Transactions against real brokers (the harness shortens the broker's
 * check interval: transactionTimeOut 2 s, transactionCheckInterval 3 s):
 * a committed message is visible and a rolled-back one never is; an
 * unknown state brings a check-back whose commit makes the message
 * visible; a check reaches a new producer of the group after the first is
 * gone; Java's TransactionMQProducer and ours in one group each get their
 * own message decided by their own check (ours answers UNKNOWN for Java's,
 * Java UNKNOWN for ours: ours commits, Java rolls back). What is visible
 * is read back with the library's pull consumer (raw pulls of the topic's
 * one queue) and, for committed against rolled back, with Java's consumer
 * too. */
#include "it.h"
#include "it_peer_consume.h"
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
  pthread_mutex_lock(&mu);
  checked_id[0] = checked_txid[0] = '\0';
  pthread_mutex_unlock(&mu);
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
  /* Java's consumer (a new group, the topic from its first offset, until
   * quiet) sees the same: the committed one once, the rolled-back never */
  consumed_t jc;
  consume(&env, &jc, the_topic, 2, NULL);
  CHECK_INT(consumed_count_id(&jc, commit_id), 1);
  CHECK_INT(consumed_count_id(&jc, marker), 1);
  CHECK_INT(consumed_count_id(&jc, rollback_id), 0);
  const rmqi_jval_t *got = by_id(&jc, commit_id);
  const char *body = got ? rmqi_json_str(got, "bodyText") : NULL;
  CHECK_STR(body ? body : "(none)", "commit me");
  consumed_free(&jc);
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

/* The msgId of the JSON line of @p out that contains @p key, or "". */
static void json_line_id(const char *out, const char *key, char *id, size_t n) {
  id[0] = '\0';
  for (const char *l = out; l && *l;) {
    const char *e = strchr(l, '\n');
    size_t len = e ? (size_t)(e - l) : strlen(l);
    const char *k = strstr(l, key), *v = strstr(l, "\"msgId\":\"");
    if (k && v && k < l + len && v < l + len) {
      v += 9;
      const char *q = strchr(v, '"');
      snprintf(id, n, "%.*s", q ? (int)(q - v) : 0, v);
      return;
    }
    l = e ? e + 1 : NULL;
  }
}

/* ---- a Java TransactionMQProducer in the same group ------------------------
 * The Java client registers its producer with the broker only with its
 * periodic heartbeat (every 30 s), so its part starts in the background
 * before the other cases and is checked last. */

static struct {
  rmq_producer_t *p;
  char group[128], id[64], broker[64], out[800], rc[820];
  int64_t t0;
  pthread_mutex_t mu;
  int ours, foreign; /* checks of our message, of others (mu) */
  bool ours_wrong;
} mx = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Ours answers COMMIT for its own message and UNKNOWN for the Java
 * producer's (not ours to decide: the broker asks again, and sooner or
 * later the Java producer, which rolls its own back and answers UNKNOWN
 * for ours): each message can only end as its own producer decides. */
static rmq_tx_state_t mixed_check(rmq_producer_t *p, const rmq_msg_t *m,
                                  void *opaque) {
  (void)p;
  (void)opaque;
  pthread_mutex_lock(&mx.mu);
  bool mine = strcmp(rmq_msg_id(m), mx.id) == 0;
  if (mine)
    mx.ours++;
  else
    mx.foreign++;
  pthread_mutex_unlock(&mx.mu);
  return mine ? RMQ_TX_COMMIT : RMQ_TX_UNKNOWN;
}

static void mixed_start(void) {
  it_unique(mx.group, sizeof(mx.group), "it_tx_mixed");
  mx.p = producer(mx.group);
  if (mx.p == NULL || rmq_producer_set_transaction_listener(
                          mx.p, on_exec, mixed_check, NULL) != RMQ_OK)
    return;
  pthread_mutex_lock(&mx.mu);
  if (send_tx(mx.p, the_topic, "c unknown", RMQ_TX_UNKNOWN, mx.id,
              sizeof(mx.id), mx.broker, sizeof(mx.broker)) != RMQ_OK)
    mx.id[0] = '\0';
  pthread_mutex_unlock(&mx.mu);
  /* Java leaves its message unknown, rolls it back when asked, answers
   * checks of ours with its default (unknown), and exits 0 once it was
   * asked about its own. */
  char spec[800], cmd[8192];
  snprintf(spec, sizeof(spec), "%s/%s.spec", env.run_dir, mx.group);
  snprintf(mx.out, sizeof(mx.out), "%s/%s.out", env.run_dir, mx.group);
  snprintf(mx.rc, sizeof(mx.rc), "%s.rc", mx.out);
  FILE *f = fopen(spec, "w");
  if (f) {
    fputs("{\"body\":\"java unknown\",\"transaction\":"
          "\"unknown-then-rollback\"}\n",
          f);
    fclose(f);
  }
  snprintf(cmd, sizeof(cmd),
           "(RMQ_NAMESRV='%s' '%s/tests/interop/peer' --version %d produce "
           "--group %s --topic %s --spec '%s' --check-default unknown "
           "--tx-wait-ms 90000 >'%s' 2>'%s.err'; echo $? >'%s') "
           "</dev/null >/dev/null 2>&1 &",
           env.namesrv, env.source_root, env.major, mx.group, the_topic, spec,
           mx.out, mx.out, mx.rc);
  mx.t0 = rmqi_now_ms();
  if (it_sh(cmd, NULL, NULL) != 0)
    fprintf(stderr, "cannot start the Java peer\n");
}

TEST(java_and_c_producers_share_a_group) {
  REQUIRE(mx.p != NULL);
  REQUIRE(mx.id[0] != '\0');
  char *rc = NULL;
  while ((rc = it_slurp(mx.rc)) == NULL && rmqi_now_ms() - mx.t0 < 120000)
    usleep(200 * 1000);
  REQUIRE(rc != NULL);
  int st = atoi(rc);
  free(rc);
  char *out = it_slurp(mx.out);
  CHECK_INT(st, 0); /* 0: Java was asked about its own message */
  char jid[80];
  json_line_id(out ? out : "", "\"localTxState\"", jid, sizeof(jid));
  if (st != 0 || jid[0] == '\0')
    fprintf(stderr, "peer output: %s\n", out ? out : "(none)");
  if (jid[0] == '\0')
    free(out);
  REQUIRE(jid[0] != '\0');
  /* Java's answers: ROLLBACK for its own, UNKNOWN for every check of ours
   * it got (so only our check can have committed ours) */
  int java_own = 0, java_ours = 0, java_bad = 0;
  for (const char *l = out; l && *l;) {
    const char *e = strchr(l, '\n');
    size_t len = e ? (size_t)(e - l) : strlen(l);
    char line[1024];
    snprintf(line, sizeof(line), "%.*s", (int)len, l);
    if (strstr(line, "\"checkBack\"")) {
      bool own = strstr(line, jid) != NULL, ours = strstr(line, mx.id) != NULL;
      java_own += own;
      java_ours += ours;
      java_bad += own ? strstr(line, "\"ROLLBACK_MESSAGE\"") == NULL
                      : ours && strstr(line, "\"UNKNOW\"") == NULL;
    }
    l = e ? e + 1 : NULL;
  }
  CHECK(java_own >= 1);
  CHECK_INT(java_bad, 0);
  free(out);
  int64_t t1 = rmqi_now_ms();
  /* ours is there (committed by our check only); Java's, rolled back by
   * Java, never: read until quiet once ours is there */
  seen_t s;
  const char *want[] = {mx.id};
  collect(the_topic, mx.broker, want, 1, 2000, 40000, &s);
  CHECK(count_of(&s, mx.id) >= 1);
  CHECK_INT(count_of(&s, jid), 0);
  pthread_mutex_lock(&mx.mu);
  CHECK(mx.ours >= 1);
  fprintf(
      stderr,
      "mixed group: Java done after %lld ms, ours read back (quiet) %lld ms "
      "later; "
      "our message checked here %d times (by Java %d), Java's here %d "
      "times (by Java %d)\n",
      (long long)(t1 - mx.t0), (long long)(rmqi_now_ms() - t1), mx.ours,
      java_ours, mx.foreign, java_own);
  pthread_mutex_unlock(&mx.mu);
  rmq_producer_destroy(mx.p, 3000);
  mx.p = NULL;
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
  mixed_start();
  static const rmqt_case cases[] = {
      TCASE(committed_is_visible_and_rolled_back_never),
      TCASE(unknown_is_checked_then_committed),
      TCASE(check_reaches_a_new_producer_of_the_group),
      TCASE(java_and_c_producers_share_a_group),
  };
  return RUN_TESTS(cases);
}
