/* Namespaces and name-server discovery against the real brokers: a
 * producer in namespace N1 writes "N1%T" on the wire and its results say
 * T; a consumer in N1 reads T back as T; a consumer in N2 on the same
 * cluster sees only N2's message; a client that knows only namesrvDomain
 * (a local HTTP server serving the list) works, and moves to a new list
 * served later without a restart. */
#include "rmq.h"
#include "it.h"
#include "test.h"
#include "util/time.h"

#include <signal.h>
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

static void send_n(const char *ns, const char *topic, const char *prefix,
                   int n) {
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
    rmq_send_result_clear(&r);
    rmq_msg_destroy(m);
  }
  rmq_producer_destroy(p, 3000);
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

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {
      TCASE(namespace_wraps_on_the_wire_and_isolates),
      TCASE(namesrv_domain_discovers_and_moves),
  };
  return RUN_TESTS(cases);
}
