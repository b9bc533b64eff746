/* Namespaces and name-server discovery against the real brokers: a
 * producer in namespace N1 writes "N1%T" on the wire and its results say
 * T; a consumer in N1 reads T back as T; a consumer in N2 on the same
 * cluster sees only N2's message; a client that knows only namesrvDomain
 * (a local HTTP server serving the list) works, and moves to a new list
 * served later without a restart; the Java client in the same namespace
 * reads what C sent and C reads what Java sent, by id, under the plain
 * topic name; a push consumer's RECONSUME_LATER goes through the
 * namespace's retry topic and comes back unwrapped. */
#include "it.h"
#include "it_peer_consume.h"
#include "rmq.h"
#include "test.h"
#include "util/time.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static it_env_t env;

static rmq_conf_t *conf(const char *ns) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  if (ns)
    rmq_conf_set(c, "nameSpace", ns, NULL, 0);
  return c;
}

static rmq_pull_consumer_t *consumer(const char *ns, const char *group,
                                     const char *topic) {
  rmq_conf_t *c = conf(ns);
  rmq_conf_set(c, "consumerGroup", group, NULL, 0);
  rmq_conf_set(c, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  if (pc && (rmq_pull_consumer_subscribe(pc, topic, "*") != RMQ_OK ||
             rmq_pull_consumer_start(pc) != RMQ_OK)) {
    rmq_pull_consumer_destroy(pc, 1000);
    return NULL;
  }
  return pc;
}

/* Sends @p n messages "<prefix>-<i>"; their ids in @p ids (malloc'd) when
 * not NULL. */
static void send_ids(const char *ns, const char *topic, const char *prefix,
                     int n, char **ids) {
  rmq_conf_t *c = conf(ns);
  rmq_producer_t *p = rmq_producer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  REQUIRE(p != NULL);
  for (int i = 0; i < n; i++) {
    rmq_msg_t *m = rmq_msg_new(topic);
    char body[64];
    snprintf(body, sizeof(body), "%s-%d", prefix, i);
    rmq_msg_set_body(m, body, strlen(body));
    rmq_send_result_t r;
    CHECK_ERR(rmq_producer_send(p, m, &r), RMQ_OK);
    CHECK_STR(r.topic, topic); /* the application's name */
    if (ids)
      ids[i] = strdup(r.msg_id ? r.msg_id : "");
    rmq_send_result_clear(&r);
    rmq_msg_destroy(m);
  }
  rmq_producer_destroy(p, 3000);
}

static void send_n(const char *ns, const char *topic, const char *prefix,
                   int n) {
  send_ids(ns, topic, prefix, n, NULL);
}

/* Polls until @p want messages arrived or 20 s passed; checks each topic
 * and body prefix. Returns how many arrived. */
static int receive(rmq_pull_consumer_t *pc, int want, const char *topic,
                   const char *prefix) {
  int got = 0;
  int64_t end = rmqi_now_ms() + 20000;
  while (got < want && rmqi_now_ms() < end) {
    rmq_msg_t *v[16];
    int k = rmq_pull_consumer_poll(pc, v, 16, 500);
    for (int i = 0; i < k; i++) {
      size_t len;
      const char *b = rmq_msg_body(v[i], &len);
      CHECK_STR(rmq_msg_topic(v[i]), topic);
      CHECK(len >= strlen(prefix) && memcmp(b, prefix, strlen(prefix)) == 0);
      rmq_msg_destroy(v[i]);
    }
    got += k > 0 ? k : 0;
  }
  return got;
}

TEST(namespace_wraps_on_the_wire_and_isolates) {
  char t[96], n1[64], n2[64], wrapped[200], g[96];
  it_unique(t, sizeof(t), "itns_t");
  it_unique(n1, sizeof(n1), "N1");
  it_unique(n2, sizeof(n2), "N2");
  it_unique(g, sizeof(g), "itns_g");
  snprintf(wrapped, sizeof(wrapped), "%s%%%s --queues 2", n1, t);
  REQUIRE(it_harness(&env, "topic", wrapped, NULL) == 0);
  snprintf(wrapped, sizeof(wrapped), "%s%%%s --queues 2", n2, t);
  REQUIRE(it_harness(&env, "topic", wrapped, NULL) == 0);
  send_n(n1, t, "one", 3);
  /* on the wire: topic N1%T, seen as such by a consumer without one */
  snprintf(wrapped, sizeof(wrapped), "%s%%%s", n1, t);
  rmq_pull_consumer_t *raw = consumer(NULL, g, wrapped);
  REQUIRE(raw != NULL);
  CHECK_INT(receive(raw, 3, wrapped, "one-"), 3);
  rmq_pull_consumer_destroy(raw, 3000);
  /* the same group name in N1 is another group (N1%G): it reads all 3,
   * under the application's name */
  rmq_pull_consumer_t *c1 = consumer(n1, g, t);
  REQUIRE(c1 != NULL);
  CHECK_INT(receive(c1, 3, t, "one-"), 3);
  rmq_queue_list_t qs = {0};
  CHECK_ERR(rmq_pull_consumer_assignment(c1, &qs), RMQ_OK);
  CHECK(qs.n > 0);
  for (size_t i = 0; i < qs.n; i++)
    CHECK_STR(qs.queues[i].topic, t);
  rmq_queue_list_clear(&qs);
  rmq_pull_consumer_destroy(c1, 3000);
  /* N2 sees its own message and none of N1's */
  rmq_pull_consumer_t *c2 = consumer(n2, g, t);
  REQUIRE(c2 != NULL);
  send_n(n2, t, "two", 1);
  CHECK_INT(receive(c2, 1, t, "two-"), 1);
  rmq_msg_t *extra[4];
  CHECK_INT(rmq_pull_consumer_poll(c2, extra, 4, 1000), 0);
  rmq_pull_consumer_destroy(c2, 3000);
}

/* A topic T and a namespace N, unique, with N%T created (2 queues). */
static void ns_topic(char *t, char *ns, const char *prefix) {
  char args[256];
  it_unique(t, 96, prefix);
  it_unique(ns, 64, "NS");
  snprintf(args, sizeof(args), "%s%%%s --queues 2", ns, t);
  REQUIRE(it_harness(&env, "topic", args, NULL) == 0);
}

TEST(java_consumer_in_namespace_reads_c_messages) {
  char t[96], ns[64], extra[128];
  ns_topic(t, ns, "itns_c2j");
  char *ids[4];
  send_ids(ns, t, "c2j", 4, ids);
  /* Java's push consumer in N (group N%<g>): the same ids, topic T */
  consumed_t jc;
  snprintf(extra, sizeof(extra), "--mode push --namespace %s", ns);
  consume(&env, &jc, t, 4, extra);
  expect_ids(&jc, (const char *const *)ids, 4);
  for (size_t i = 0; i < jc.n; i++)
    CHECK_STR(rmqi_json_str(jc.docs[i].root, "topic"), t);
  consumed_free(&jc);
  for (int i = 0; i < 4; i++)
    free(ids[i]);
}

TEST(c_consumer_in_namespace_reads_java_messages) {
  char t[96], ns[64], g[96], args[512];
  ns_topic(t, ns, "itns_j2c");
  it_unique(g, sizeof(g), "itns_j2c_g");
  snprintf(args, sizeof(args),
           "produce --namespace %s --group %s --topic %s --spec -", ns, g, t);
  char *out = NULL;
  CHECK_INT(it_peer(&env, args,
                    "{\"body\":\"j2c-0\"}\n{\"body\":\"j2c-1\"}\n"
                    "{\"body\":\"j2c-2\"}\n{\"body\":\"j2c-3\"}\n",
                    &out),
            0);
  char ids[4][64];
  int n = 0;
  for (char *line = out; line && *line;) {
    char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    rmqi_json_t d;
    if (len && rmqi_json_parse(&d, line, len, NULL) == RMQ_OK) {
      const char *id = rmqi_json_str(d.root, "msgId");
      CHECK_STR(rmqi_json_str(d.root, "status"), "SEND_OK");
      if (id && n < 4)
        snprintf(ids[n++], sizeof(ids[0]), "%s", id);
      rmqi_json_free(&d);
    }
    line = nl ? nl + 1 : NULL;
  }
  free(out);
  REQUIRE(n == 4);
  /* C in N reads exactly those ids under T */
  rmq_pull_consumer_t *pc = consumer(ns, g, t);
  REQUIRE(pc != NULL);
  int got = 0, seen[4] = {0};
  for (int64_t end = rmqi_now_ms() + 20000; got < 4 && rmqi_now_ms() < end;) {
    rmq_msg_t *v[8];
    int k = rmq_pull_consumer_poll(pc, v, 8, 500);
    for (int i = 0; i < k; i++) {
      CHECK_STR(rmq_msg_topic(v[i]), t);
      int which = -1;
      for (int j = 0; j < 4; j++)
        if (strcmp(rmq_msg_id(v[i]), ids[j]) == 0)
          which = j;
      CHECK(which >= 0);
      if (which >= 0)
        seen[which]++;
      rmq_msg_destroy(v[i]);
    }
    got += k > 0 ? k : 0;
  }
  rmq_msg_t *extra[4];
  CHECK_INT(rmq_pull_consumer_poll(pc, extra, 4, 1000), 0);
  rmq_pull_consumer_destroy(pc, 3000);
  for (int j = 0; j < 4; j++)
    CHECK_INT(seen[j], 1);
}

typedef struct retry_rec {
  pthread_mutex_t mu;
  int calls;
  int reconsume[3];
  char topic[3][128], id[3][64];
} retry_rec_t;

/* Records each delivery; the first one is answered RETRY_LATER (level 1,
 * 1 s), the rest succeed. */
static rmq_consume_status_t retry_once(rmq_push_consumer_t *c,
                                       rmq_msg_t *const *msgs, size_t n,
                                       rmq_consume_ctx_t *ctx, void *op) {
  (void)c;
  retry_rec_t *r = op;
  pthread_mutex_lock(&r->mu);
  int k = r->calls++;
  if (k < 3 && n == 1) {
    r->reconsume[k] = rmq_msg_reconsume_times(msgs[0]);
    snprintf(r->topic[k], sizeof(r->topic[k]), "%s", rmq_msg_topic(msgs[0]));
    snprintf(r->id[k], sizeof(r->id[k]), "%s", rmq_msg_id(msgs[0]));
  }
  pthread_mutex_unlock(&r->mu);
  if (k == 0) {
    ctx->delay_level = 1;
    return RMQ_CONSUME_RETRY_LATER;
  }
  return RMQ_CONSUME_SUCCESS;
}

TEST(push_retry_later_in_namespace_comes_back_unwrapped) {
  char t[96], ns[64], g[96];
  ns_topic(t, ns, "itns_retry");
  it_unique(g, sizeof(g), "itns_retry_g");
  char *ids[1];
  send_ids(ns, t, "retry", 1, ids);
  retry_rec_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
  rmq_conf_t *c = conf(ns);
  rmq_conf_set(c, "consumerGroup", g, NULL, 0);
  rmq_conf_set(c, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  char err[256];
  rmq_push_consumer_t *pc = rmq_push_consumer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  REQUIRE(pc != NULL);
  CHECK_ERR(rmq_push_consumer_set_listener(pc, retry_once, &r), RMQ_OK);
  CHECK_ERR(rmq_push_consumer_subscribe(pc, t, "*"), RMQ_OK);
  CHECK_ERR(rmq_push_consumer_start(pc), RMQ_OK);
  int calls = 0;
  for (int64_t end = rmqi_now_ms() + 40000; calls < 2 && rmqi_now_ms() < end;
       usleep(50 * 1000)) {
    pthread_mutex_lock(&r.mu);
    calls = r.calls;
    pthread_mutex_unlock(&r.mu);
  }
  rmq_push_consumer_destroy(pc, 5000);
  CHECK_INT(r.calls, 2);
  CHECK_INT(r.reconsume[0], 0);
  CHECK_INT(r.reconsume[1], 1);
  for (int k = 0; k < 2; k++) {
    CHECK_STR(r.topic[k], t);
    CHECK_STR(r.id[k], ids[0]);
  }
  /* it went through the namespace's retry topic, %RETRY%N%G */
  char args[300];
  snprintf(args, sizeof(args), "topicRoute -t '%%RETRY%%%s%%%s'", ns, g);
  char *route = NULL;
  CHECK_INT(it_harness(&env, "mqadmin", args, &route), 0);
  CHECK(route && strstr(route, "\"brokerName\"") != NULL);
  free(route);
  free(ids[0]);
}

/* A local address server: python3's http.server over @p dir. */
static int serve(const char *dir, int *port, long *pid) {
  for (int attempt = 0; attempt < 5; attempt++) {
    *port = 20000 + (int)((getpid() * 7 + attempt * 131) % 20000);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "python3 -m http.server %d --bind 127.0.0.1 --directory %s "
             ">/dev/null 2>&1 & echo $!",
             *port, dir);
    char *out = NULL;
    if (it_sh(cmd, NULL, &out) != 0 || out == NULL)
      return -1;
    *pid = strtol(out, NULL, 10);
    free(out);
    /* ready when it answers */
    for (int i = 0; i < 100; i++) {
      snprintf(cmd, sizeof(cmd),
               "python3 -c 'import urllib.request,sys; "
               "urllib.request.urlopen(\"http://127.0.0.1:%d/rocketmq/nsaddr\""
               ",timeout=1)' 2>/dev/null",
               *port);
      if (it_sh(cmd, NULL, NULL) == 0)
        return 0;
      if (kill((pid_t)*pid, 0) != 0)
        break; /* port taken: another one */
      usleep(100 * 1000);
    }
    kill((pid_t)*pid, SIGTERM);
  }
  return -1;
}

static void write_list(const char *dir, const char *list) {
  char path[600], tmp[620];
  snprintf(path, sizeof(path), "%s/rocketmq/nsaddr", dir);
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  fprintf(f, "%s\n", list);
  fclose(f);
  rename(tmp, path); /* atomic: the server never serves half a list */
}

static rmq_err_t try_send(rmq_producer_t *p, const char *topic) {
  rmq_msg_t *m = rmq_msg_new(topic);
  rmq_msg_set_body(m, "d", 1);
  rmq_err_t rc = rmq_producer_send(p, m, NULL);
  rmq_msg_destroy(m);
  return rc;
}

TEST(namesrv_domain_discovers_and_moves) {
  char dir[] = "/tmp/rmq-it-addrsrv-XXXXXX";
  REQUIRE(mkdtemp(dir) != NULL);
  char sub[600];
  snprintf(sub, sizeof(sub), "%s/rocketmq", dir);
  mkdir(sub, 0700);
  /* first a list whose only server does not exist */
  write_list(dir, "127.0.0.1:1");
  int port;
  long pid;
  REQUIRE(serve(dir, &port, &pid) == 0);
  char t[96], domain[64];
  it_unique(t, sizeof(t), "itns_d");
  REQUIRE(it_harness(&env, "topic", t, NULL) == 0);
  snprintf(domain, sizeof(domain), "127.0.0.1:%d", port);
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  CHECK_ERR(rmq_conf_set(c, "namesrvDomain", domain, NULL, 0), RMQ_OK);
  CHECK_ERR(rmq_conf_set(c, "namesrvDomainRefreshInterval", "300", NULL, 0),
            RMQ_OK);
  rmq_conf_set(c, "sendMsgTimeout", "1000", NULL, 0);
  rmq_conf_set(c, "mqClientApiTimeout", "1000", NULL, 0);
  unsetenv("NAMESRV_ADDR");
  rmq_producer_t *p = rmq_producer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  REQUIRE(p != NULL);
  /* the served server is dead: no route */
  CHECK(try_send(p, t) != RMQ_OK);
  /* a new answer, bad entry first: the client moves without a restart */
  char list[300];
  snprintf(list, sizeof(list), "127.0.0.1:1;%s", env.namesrv);
  write_list(dir, list);
  rmq_err_t rc = RMQ_ERR_TIMEOUT;
  for (int64_t end = rmqi_now_ms() + 20000;
       rc != RMQ_OK && rmqi_now_ms() < end;)
    rc = try_send(p, t);
  CHECK_ERR(rc, RMQ_OK);
  rmq_producer_destroy(p, 3000);
  kill((pid_t)pid, SIGTERM);
  char cmd[700];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  it_sh(cmd, NULL, NULL);
}

/* The store port in an offset message id (IPv4: ip 8 hex, port 8 hex). */
static int store_port(const char *offset_id) {
  char hex[9] = {0};
  if (offset_id == NULL || strlen(offset_id) != 32)
    return -1;
  memcpy(hex, offset_id + 8, 8);
  return (int)strtol(hex, NULL, 16);
}

/* Sends one message; the store port of its broker, -1 on failure. */
static int send_port(rmq_producer_t *p, const char *topic) {
  rmq_msg_t *m = rmq_msg_new(topic);
  rmq_msg_set_body(m, "d", 1);
  rmq_send_result_t r;
  int port =
      rmq_producer_send(p, m, &r) == RMQ_OK ? store_port(r.offset_msg_id) : -1;
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
  return port;
}

/* namesrvDomain between two real clusters: the served list moves from this
 * target's name server to the other version's (single-4 <-> single-5); a
 * topic that exists only there is then served by the other broker. */
TEST(namesrv_domain_moves_between_two_clusters) {
  const char *other =
      strcmp(env.target, "single-4") == 0 ? "single-5" : "single-4";
  const char *root = getenv("RMQ_RUN_ROOT");
  char path[600], ons[128] = "", obroker[128] = "";
  snprintf(path, sizeof(path), "%s/%s/env", root ? root : "/tmp/librmq-run",
           other);
  char *oenv = it_slurp(path);
  REQUIRE(oenv != NULL); /* both single targets run in CI */
  for (char *l = strtok(oenv, "\n"); l; l = strtok(NULL, "\n")) {
    if (strncmp(l, "RMQ_NAMESRV=", 12) == 0)
      snprintf(ons, sizeof(ons), "%s", l + 12);
    if (strncmp(l, "RMQ_BROKER_A=", 13) == 0)
      snprintf(obroker, sizeof(obroker), "%s", l + 13);
  }
  free(oenv);
  REQUIRE(ons[0] && strchr(obroker, ':') && strchr(env.broker_a, ':'));
  int here_port = atoi(strchr(env.broker_a, ':') + 1);
  int there_port = atoi(strchr(obroker, ':') + 1);
  char here_t[96], there_t[96], cmd[1200];
  it_unique(here_t, sizeof(here_t), "itns_here");
  it_unique(there_t, sizeof(there_t), "itns_there");
  REQUIRE(it_harness(&env, "topic", here_t, NULL) == 0);
  snprintf(cmd, sizeof(cmd), "'%s/tests/broker/harness' topic %s %s",
           env.source_root, other, there_t);
  REQUIRE(it_sh(cmd, NULL, NULL) == 0);

  char dir[] = "/tmp/rmq-it-addrsrv-XXXXXX";
  REQUIRE(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/rocketmq", dir);
  mkdir(path, 0700);
  write_list(dir, env.namesrv);
  int port;
  long pid;
  REQUIRE(serve(dir, &port, &pid) == 0);
  char domain[64];
  snprintf(domain, sizeof(domain), "127.0.0.1:%d", port);
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_conf_set(c, "namesrvDomain", domain, NULL, 0);
  rmq_conf_set(c, "namesrvDomainRefreshInterval", "300", NULL, 0);
  rmq_conf_set(c, "pollNameServerInterval", "1000", NULL, 0);
  rmq_conf_set(c, "sendMsgTimeout", "2000", NULL, 0);
  unsetenv("NAMESRV_ADDR");
  rmq_producer_t *p = rmq_producer_new(NULL, c, NULL, 0);
  rmq_conf_destroy(c);
  REQUIRE(p != NULL);
  CHECK_INT(send_port(p, here_t), here_port);
  write_list(dir, ons);
  int got = -1;
  for (int64_t end = rmqi_now_ms() + 20000;
       got != there_port && rmqi_now_ms() < end;)
    got = send_port(p, there_t);
  CHECK_INT(got, there_port);
  rmq_producer_destroy(p, 3000);
  kill((pid_t)pid, SIGTERM);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  it_sh(cmd, NULL, NULL);
}

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {
      TCASE(namespace_wraps_on_the_wire_and_isolates),
      TCASE(namesrv_domain_discovers_and_moves),
      TCASE(java_consumer_in_namespace_reads_c_messages),
      TCASE(c_consumer_in_namespace_reads_java_messages),
      TCASE(push_retry_later_in_namespace_comes_back_unwrapped),
      TCASE(namesrv_domain_moves_between_two_clusters),
  };
  return RUN_TESTS(cases);
}
