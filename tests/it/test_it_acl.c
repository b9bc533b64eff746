/* ACL signing against brokers with ACL on (profile `acl`: 4.9 ACL 1.0, 5.x
 * ACL 2.0): a signed producer is accepted; a wrong secret, no credentials,
 * or a denied topic is refused with the broker's code and remark; the
 * secret key shows in no log line, statistic (the consumer's figures and
 * the client's statistics JSON, on demand and periodic), conf read-back or
 * error. */
#include "codec/json.h"
#include "it.h"
#include "rmq.h"
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static it_env_t env;

static rmq_producer_t *producer(const char *ak, const char *sk) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_conf_set(c, "sendMsgTimeout", "5000", NULL, 0);
  if (ak) {
    rmq_conf_set(c, "accessKey", ak, NULL, 0);
    rmq_conf_set(c, "secretKey", sk, NULL, 0);
  }
  char err[256];
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  if (p == NULL)
    fprintf(stderr, "producer: %s\n", err);
  rmq_conf_destroy(c);
  return p;
}

static rmq_err_t send_one(rmq_producer_t *p, const char *topic, char *why,
                          size_t n) {
  rmq_msg_t *m = rmq_msg_new(topic);
  rmq_msg_set_body(m, "acl", 3);
  rmq_send_result_t r;
  rmq_err_t rc = rmq_producer_send(p, m, &r);
  snprintf(why, n, "%s", r.error ? r.error : "");
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
  return rc;
}

TEST(signed_requests_are_accepted_and_bad_ones_refused) {
  REQUIRE(env.acl_ak[0] && env.acl_sk[0]);
  char topic[128], args[200], why[512];
  it_unique(topic, sizeof(topic), "it_acl");
  snprintf(args, sizeof(args), "%s --queues 2", topic);
  REQUIRE(it_harness(&env, "topic", args, NULL) == 0);

  rmq_producer_t *good = producer(env.acl_ak, env.acl_sk);
  REQUIRE(good != NULL);
  CHECK_ERR(send_one(good, topic, why, sizeof(why)), RMQ_OK);
  /* A topic this account may not publish to. */
  if (env.acl_deny_topic[0]) {
    snprintf(args, sizeof(args), "%s --queues 1", env.acl_deny_topic);
    it_harness(&env, "topic", args, NULL);
    rmq_err_t rc = send_one(good, env.acl_deny_topic, why, sizeof(why));
    CHECK(rc != RMQ_OK);
    fprintf(stderr, "# denied topic: %s: %s\n", rmq_err_name(rc), why);
  }
  rmq_producer_destroy(good, 2000);

  rmq_producer_t *bad = producer(env.acl_ak, "wrong-secret-123");
  REQUIRE(bad != NULL);
  rmq_err_t rc = send_one(bad, topic, why, sizeof(why));
  /* 4.9 ACL answers SYSTEM_ERROR, 5.x NO_PERMISSION; the route lookup on
   * the name server may refuse first. */
  CHECK(rc == RMQ_SYSTEM_ERROR || rc == RMQ_NO_PERMISSION);
  CHECK(why[0] != '\0');
  fprintf(stderr, "# wrong secret: %s: %s\n", rmq_err_name(rc), why);
  rmq_producer_destroy(bad, 2000);

  rmq_producer_t *none = producer(NULL, NULL);
  REQUIRE(none != NULL);
  rc = send_one(none, topic, why, sizeof(why));
  CHECK(rc != RMQ_OK);
  fprintf(stderr, "# no credentials: %s: %s\n", rmq_err_name(rc), why);
  rmq_producer_destroy(none, 2000);
}

/* Everything the library said: log lines (debug), error strings, stats,
 * conf read-backs, one per line. */
typedef struct said {
  pthread_mutex_t mu;
  char *text;
  size_t len, lines;
} said_t;

static void say(said_t *s, const char *what, const char *line) {
  pthread_mutex_lock(&s->mu);
  size_t add = strlen(what) + strlen(line) + 4; /* ": ", "\n", NUL */
  s->text = realloc(s->text, s->len + add);
  s->len += (size_t)snprintf(s->text + s->len, add, "%s: %s\n", what, line);
  s->lines++;
  pthread_mutex_unlock(&s->mu);
}

static void on_log(void *op, rmq_log_level_t lvl, const char *comp,
                   const char *msg) {
  (void)lvl;
  say(op, comp, msg);
}

static _Atomic int periodic_docs; /* statistics documents of the callback */

static void on_stats(rmq_client_t *client, const char *json, size_t len,
                     void *op) {
  (void)client;
  char *doc = malloc(len + 1);
  if (doc == NULL)
    return;
  memcpy(doc, json, len);
  doc[len] = '\0';
  say(op, "stats json (periodic)", doc);
  free(doc);
  periodic_docs++;
}

/* The client's statistics JSON, said; @p failed gets the failed messages
 * of its producer (-1 without one). */
static void say_stats_json(said_t *s, rmq_client_t *client, int64_t *failed) {
  *failed = -1;
  char *json = rmq_client_stats_json(client);
  REQUIRE(json != NULL);
  say(s, "stats json", json);
  rmqi_json_t d;
  CHECK_ERR(rmqi_json_parse(&d, json, strlen(json), NULL), RMQ_OK);
  const rmqi_jval_t *ps = rmqi_json_get(d.root, "producers");
  if (ps && ps->type == RMQI_JARR && ps->n == 1)
    CHECK(rmqi_json_int(ps->items[0], "msgs_failed", failed));
  rmqi_json_free(&d);
  rmq_free(json);
}

static rmq_conf_t *logged_conf(said_t *s, const char *creds, bool producer) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "logLevel", "debug", NULL, 0);
  if (producer)
    rmq_conf_set(c, "sendMsgTimeout", "3000", NULL, 0);
  rmq_conf_set_log_cb(c, on_log, s);
  rmq_conf_set(c, "statisticsIntervalMs", "100", NULL, 0);
  rmq_conf_set_stats_cb(c, on_stats, s);
  char err[256] = "", v[256];
  CHECK_ERR(rmq_conf_set(c, "sessionCredentials", creds, err, sizeof(err)),
            RMQ_OK);
  size_t n = sizeof(v);
  CHECK_ERR(rmq_conf_get(c, "sessionCredentials", v, &n), RMQ_OK);
  say(s, "conf", v);
  CHECK(strstr(v, "***") != NULL);
  return c;
}

static void send_logged(said_t *s, rmq_producer_t *p, const char *topic) {
  rmq_msg_t *m = rmq_msg_new(topic);
  rmq_msg_set_body(m, "acl", 3);
  rmq_send_result_t r;
  rmq_err_t rc = rmq_producer_send(p, m, &r);
  say(s, rmq_err_name(rc), r.error ? r.error : "");
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
}

TEST(secret_never_in_logs_stats_or_errors) {
  REQUIRE(env.acl_ak[0] && env.acl_sk[0]);
  static said_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
  const char *wrong = "wrongSecretXq7Zp";
  char topic[128], group[128], args[200], creds[256], err[256];
  it_unique(topic, sizeof(topic), "it_acl_sk");
  it_unique(group, sizeof(group), "it_acl_sk_g");
  snprintf(args, sizeof(args), "%s --queues 2", topic);
  REQUIRE(it_harness(&env, "topic", args, NULL) == 0);
  /* a bad value that holds a secret: the error does not quote it */
  rmq_conf_t *c = rmq_conf_new();
  snprintf(creds, sizeof(creds), "%s,%s,NOWHERE", env.acl_ak, env.acl_sk);
  CHECK(rmq_conf_set(c, "sessionCredentials", creds, err, sizeof(err)) !=
        RMQ_OK);
  say(&s, "conf error", err);
  rmq_conf_destroy(c);
  for (int k = 0; k < 2; k++) { /* the right secret, then a wrong one */
    snprintf(creds, sizeof(creds), "%s,%s,LOCAL", env.acl_ak,
             k == 0 ? env.acl_sk : wrong);
    c = logged_conf(&s, creds, true);
    rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
    REQUIRE(p != NULL);
    send_logged(&s, p, topic);
    if (env.acl_deny_topic[0])
      send_logged(&s, p, env.acl_deny_topic);
    /* the statistics of sends that failed (every send with the wrong
     * secret, the denied topic with the right one): they hold the
     * broker's error texts */
    int64_t failed;
    say_stats_json(&s, rmq_producer_client(p), &failed);
    CHECK_INT(failed, (k == 0 ? 0 : 1) + (env.acl_deny_topic[0] ? 1 : 0));
    rmq_producer_destroy(p, 2000);
    /* a consumer (a conf of its own: a consumer refuses producer keys):
     * its errors and its statistics */
    rmq_conf_destroy(c);
    c = logged_conf(&s, creds, false);
    rmq_conf_set(c, "consumerGroup", group, NULL, 0);
    rmq_conf_set(c, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
    rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
    REQUIRE(pc != NULL);
    rmq_err_t rc = rmq_pull_consumer_subscribe(pc, topic, "*");
    if (rc == RMQ_OK)
      rc = rmq_pull_consumer_start(pc);
    say(&s, "consumer start", rmq_err_name(rc));
    rmq_msg_t *v[4];
    int got = rmq_pull_consumer_poll(pc, v, 4, 2000);
    for (int i = 0; i < got; i++)
      rmq_msg_destroy(v[i]);
    rmq_consumer_stats_t st;
    if (rmq_pull_consumer_stats(pc, &st) == RMQ_OK) {
      say(&s, "stats", st.last_error);
      for (size_t i = 0; i < st.n_queues; i++)
        say(&s, "stats queue", st.queues[i].queue.topic);
      rmq_consumer_stats_clear(&st);
    }
    say_stats_json(&s, rmq_pull_consumer_client(pc), &failed);
    rmq_pull_consumer_destroy(pc, 2000);
    rmq_conf_destroy(c);
  }
  /* the run said a lot, signing included, and never either secret; the
   * statistics JSON was searched too (the producers' error texts, the
   * brokers' and name server's last errors) */
  CHECK(s.lines > 20);
  CHECK(periodic_docs > 0);
  CHECK(strstr(s.text, "\"msgs_failed\"") != NULL);
  CHECK(strstr(s.text, "\"last_error\"") != NULL);
  CHECK(strstr(s.text, env.acl_ak) != NULL);
  CHECK(strstr(s.text, env.acl_sk) == NULL);
  CHECK(strstr(s.text, wrong) == NULL);
  fprintf(stderr, "# %zu lines (%d periodic statistics), %zu bytes searched\n",
          s.lines, (int)periodic_docs, s.len);
  free(s.text);
}

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {
      TCASE(signed_requests_are_accepted_and_bad_ones_refused),
      TCASE(secret_never_in_logs_stats_or_errors)};
  return RUN_TESTS(cases);
}
