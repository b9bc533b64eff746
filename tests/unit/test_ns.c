/* Namespaces (Java NamespaceUtil / ClientConfig.getNamespace, with the
 * cases of Java's NamespaceUtilTest), the address server's answer and URL
 * (namesrvDomain), and the sessionCredentials / accessChannel keys. */
#include "client/addrsrv.h"
#include "client/conf.h"
#include "client/ns.h"
#include "client/nslist.h"
#include "codec/nsaddr.h"
#include "test.h"

#include <stdlib.h>

static const char *wrap(const char *ns, const char *r) {
  static char buf[RMQI_NS_NAME_MAX];
  const char *w = rmqi_ns_wrap(ns, r, buf, sizeof(buf));
  return w ? w : "(null)";
}

static const char *unwrap(const char *ns, const char *r) {
  static char buf[RMQI_NS_NAME_MAX];
  return rmqi_ns_unwrap(ns, r, buf, sizeof(buf));
}

TEST(ns_wrap_as_java) {
  CHECK_STR(wrap("MQ_INST_XXX", "TOPIC_XXX"), "MQ_INST_XXX%TOPIC_XXX");
  CHECK_STR(wrap("MQ_INST_XXX", "MQ_INST_XXX%TOPIC_XXX"),
            "MQ_INST_XXX%TOPIC_XXX"); /* already wrapped */
  CHECK_STR(wrap("MQ_INST_XXX", "%RETRY%GID_XXX"),
            "%RETRY%MQ_INST_XXX%GID_XXX");
  CHECK_STR(wrap("MQ_INST_XXX", "%RETRY%MQ_INST_XXX%GID_XXX"),
            "%RETRY%MQ_INST_XXX%GID_XXX");
  CHECK_STR(wrap("MQ_INST_XXX", "%DLQ%GID_XXX"), "%DLQ%MQ_INST_XXX%GID_XXX");
  CHECK_STR(wrap("MQ_INST_XXX", "%DLQ%MQ_INST_XXX%GID_XXX"),
            "%DLQ%MQ_INST_XXX%GID_XXX");
  /* another namespace's name is wrapped again, as Java does */
  CHECK_STR(wrap("A", "B%t"), "A%B%t");
  /* a prefix of the namespace is not the namespace */
  CHECK_STR(wrap("MQ", "MQ_INST%t"), "MQ%MQ_INST%t");
  /* system topics and groups stay */
  CHECK_STR(wrap("N", "rmq_sys_topic"), "rmq_sys_topic");
  CHECK_STR(wrap("N", "TBW102"), "TBW102");
  CHECK_STR(wrap("N", "SCHEDULE_TOPIC_XXXX"), "SCHEDULE_TOPIC_XXXX");
  CHECK_STR(wrap("N", "RMQ_SYS_TRANS_HALF_TOPIC"), "RMQ_SYS_TRANS_HALF_TOPIC");
  CHECK_STR(wrap("N", "OFFSET_MOVED_EVENT"), "OFFSET_MOVED_EVENT");
  CHECK_STR(wrap("N", "CID_RMQ_SYS_group"), "CID_RMQ_SYS_group");
  /* ... but not DEFAULT_PRODUCER (not a system resource in Java) */
  CHECK_STR(wrap("N", "DEFAULT_PRODUCER"), "N%DEFAULT_PRODUCER");
  /* nothing to do */
  CHECK_STR(wrap("", "t"), "t");
  CHECK_STR(wrap(NULL, "t"), "t");
  CHECK_STR(wrap("N", ""), "");
  /* too long for the buffer */
  char small[8];
  CHECK(rmqi_ns_wrap("NS", "topic", small, sizeof(small)) == NULL);
  CHECK_STR(rmqi_ns_wrap("NS", "tpc", small, sizeof(small)), "NS%tpc");
}

TEST(ns_unwrap_as_java) {
  CHECK_STR(unwrap("MQ_INST_XXX", "MQ_INST_XXX%TOPIC_XXX"), "TOPIC_XXX");
  CHECK_STR(unwrap("MQ_INST_XXX", "MQ_INST_XXX%GID_XXX"), "GID_XXX");
  CHECK_STR(unwrap("MQ_INST_XXX", "%RETRY%MQ_INST_XXX%GID_XXX"),
            "%RETRY%GID_XXX");
  CHECK_STR(unwrap("MQ_INST_XXX", "%DLQ%MQ_INST_XXX%GID_XXX"), "%DLQ%GID_XXX");
  /* another namespace's names are left as they are */
  CHECK_STR(unwrap("MQ_INST_XXX1", "%RETRY%MQ_INST_XXX%GID_XXX"),
            "%RETRY%MQ_INST_XXX%GID_XXX");
  CHECK_STR(unwrap("B", "A%B%t"), "A%B%t");
  CHECK_STR(unwrap("A", "A%B%t"), "B%t");
  CHECK_STR(unwrap("N", "plain"), "plain");
  CHECK_STR(unwrap("", "N%t"), "N%t");
  CHECK_STR(unwrap("N", "rmq_sys_N%x"), "rmq_sys_N%x");
  /* a round trip */
  char *w = rmqi_ns_wrap_dup("N1", "%RETRY%g");
  REQUIRE(w != NULL);
  CHECK_STR(w, "%RETRY%N1%g");
  char *u = rmqi_ns_unwrap_dup("N1", w);
  CHECK_STR(u, "%RETRY%g");
  free(w);
  free(u);
}

TEST(ns_from_endpoint_as_java) {
  char ns[RMQI_NS_MAX + 1];
  rmqi_ns_resolve("given", "http://MQ_INST_1_abc.mq.example.com:80", ns);
  CHECK_STR(ns, "given");
  rmqi_ns_resolve("", "http://MQ_INST_1_abc.mq.example.com:80", ns);
  CHECK_STR(ns, "MQ_INST_1_abc");
  rmqi_ns_resolve("", "MQ_INST_xx_yy.host:9876", ns);
  CHECK_STR(ns, "MQ_INST_xx_yy");
  rmqi_ns_resolve("", "MQ_INST_xx.host:9876", ns); /* no inner '_' */
  CHECK_STR(ns, "");
  rmqi_ns_resolve("", "127.0.0.1:9876", ns);
  CHECK_STR(ns, "");
  rmqi_ns_resolve(NULL, NULL, ns);
  CHECK_STR(ns, "");
  CHECK_STR(rmqi_ns_endpoint_addr("http://MQ_INST_1_a.h:80"),
            "MQ_INST_1_a.h:80");
  CHECK_STR(rmqi_ns_endpoint_addr("h:1;g:2"), "h:1;g:2");
  CHECK(rmqi_ns_valid("MQ_INST_1-a|b", NULL, 0));
  CHECK(!rmqi_ns_valid("a%b", NULL, 0));
  CHECK(!rmqi_ns_valid("a b", NULL, 0));
}

static const char *get(rmq_conf_t *c, const char *k) {
  static char buf[512];
  size_t n = sizeof(buf);
  return rmq_conf_get(c, k, buf, &n) == RMQ_OK ? buf : "(error)";
}

TEST(conf_namespace_keys) {
  rmq_conf_t *c = rmq_conf_new();
  char err[256];
  CHECK_ERR(rmq_conf_set(c, "nameSpace", "N1", err, sizeof(err)), RMQ_OK);
  CHECK_ERR(rmq_conf_set(c, "nameSpace", "N%1", err, sizeof(err)),
            RMQ_ERR_CONF_INVALID);
  CHECK_STR(get(c, "nameSpace"), "N1");
  CHECK_ERR(rmq_conf_set(c, "accessChannel", "CLOUD", NULL, 0), RMQ_OK);
  CHECK_ERR(rmq_conf_set(c, "accessChannel", "SKY", NULL, 0),
            RMQ_ERR_CONF_INVALID);
  CHECK_ERR(rmq_conf_set(c, "namesrvDomain", "addr.example:8081", NULL, 0),
            RMQ_OK);
  CHECK_ERR(rmq_conf_set(c, "namesrvDomain", "a/b", NULL, 0),
            RMQ_ERR_CONF_INVALID);
  CHECK_ERR(rmq_conf_set(c, "namesrvDomain", "a b", NULL, 0),
            RMQ_ERR_CONF_INVALID);
  CHECK_STR(get(c, "namesrvDomainSubgroup"), "nsaddr");
  CHECK_STR(get(c, "namesrvDomainRefreshInterval"), "120000");
  CHECK_ERR(rmq_conf_set(c, "namesrvAddr", "http://MQ_INST_1_a.h:80", NULL, 0),
            RMQ_OK);
  /* the group and the namespace settle as Java's start() does */
  rmq_conf_t *d = rmq_conf_dup(c);
  rmq_conf_set(d, "nameSpace", "", NULL, 0);
  rmq_conf_set(d, "consumerGroup", "g1", NULL, 0);
  CHECK_ERR(rmqi_conf_namespace(d, &d->v.consumer_group), RMQ_OK);
  CHECK_STR(d->v.name_space, "MQ_INST_1_a");
  CHECK_STR(d->v.consumer_group, "MQ_INST_1_a%g1");
  rmq_conf_destroy(d);
  rmq_conf_destroy(c);
}

TEST(session_credentials_never_show_the_secret) {
  rmq_conf_t *c = rmq_conf_new();
  char err[256];
  CHECK_ERR(rmq_conf_set(c, "sessionCredentials", "AK1,S3cr3tValue,CLOUD", err,
                         sizeof(err)),
            RMQ_OK);
  CHECK_STR(get(c, "accessKey"), "AK1");
  CHECK_STR(get(c, "secretKey"), "S3cr3tValue");
  CHECK_STR(get(c, "accessChannel"), "CLOUD");
  CHECK_STR(get(c, "sessionCredentials"), "AK1,***,CLOUD");
  CHECK_ERR(rmq_conf_set(c, "sessionCredentials", "AK2,S2", NULL, 0), RMQ_OK);
  CHECK_STR(get(c, "accessChannel"), "CLOUD"); /* kept */
  CHECK_STR(get(c, "secretKey"), "S2");
  /* refusals name the problem, never the value */
  static const char *const bad[] = {"OnlyTheKey", ",S3cr3tValue",
                                    "AK,S3cr3tValue,MOON",
                                    "AK,S3cr3tValue,LOCAL,x", "AK,,LOCAL"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CHECK_ERR(rmq_conf_set(c, "sessionCredentials", bad[i], err, sizeof(err)),
              RMQ_ERR_CONF_INVALID);
    CHECK(strstr(err, "S3cr3t") == NULL);
    CHECK(err[0] != '\0');
  }
  CHECK_STR(get(c, "secretKey"), "S2"); /* unchanged by refusals */
  rmq_conf_destroy(c);
}

static rmq_err_t parse(const char *resp, char *out, size_t n) {
  const char *l;
  size_t k;
  rmqi_errbuf_t e;
  rmq_err_t rc = rmqi_nsaddr_parse(resp, strlen(resp), &l, &k, &e);
  snprintf(out, n, "%.*s", rc == RMQ_OK ? (int)k : 0, rc == RMQ_OK ? l : "");
  return rc;
}

TEST(nsaddr_response_parsing) {
  char out[256];
  CHECK_ERR(parse("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                  "a:1;b:2\n",
                  out, sizeof(out)),
            RMQ_OK);
  CHECK_STR(out, "a:1;b:2");
  /* clearNewLine: trimmed, cut at the first line break */
  CHECK_ERR(parse("HTTP/1.1 200 OK\n\n  a:1 \r\nb:2\n", out, sizeof(out)),
            RMQ_OK);
  CHECK_STR(out, "a:1");
  CHECK_ERR(parse("HTTP/1.0 200\r\n\r\n", out, sizeof(out)), RMQ_OK);
  CHECK_STR(out, "");
  CHECK_ERR(parse("HTTP/1.0 404 Not Found\r\n\r\na:1", out, sizeof(out)),
            RMQ_ERR_BAD_RESPONSE);
  CHECK_ERR(parse("HTTP/1.0 2000 OK\r\n\r\na:1", out, sizeof(out)),
            RMQ_ERR_BAD_RESPONSE);
  CHECK_ERR(parse("SSH-2.0-OpenSSH\r\n\r\n", out, sizeof(out)),
            RMQ_ERR_BAD_RESPONSE);
  CHECK_ERR(parse("HTTP/1.0 200 OK\r\nServer: x\r\n", out, sizeof(out)),
            RMQ_ERR_TRUNCATED);
  CHECK_ERR(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\na:1\r\n0\r\n\r\n",
                  out, sizeof(out)),
            RMQ_ERR_BAD_RESPONSE);
  const char *l;
  size_t k;
  CHECK_ERR(rmqi_nsaddr_parse("HTTP/1.0 200 OK\r\n\r\n", RMQI_NSADDR_MAX + 1,
                              &l, &k, NULL),
            RMQ_ERR_LIMIT);
  char req[256];
  size_t n =
      rmqi_nsaddr_request("h:8080", "/rocketmq/nsaddr", req, sizeof(req));
  CHECK_STR(req, "GET /rocketmq/nsaddr HTTP/1.0\r\nHost: h:8080\r\n"
                 "Accept: text/plain\r\nConnection: close\r\n\r\n");
  CHECK_UINT(n, strlen(req));
  CHECK_UINT(rmqi_nsaddr_request("h", "/p", req, 10), 0);
}

TEST(addrsrv_url_as_java) {
  char host[300], path[300];
  rmqi_addrsrv_url("jmenv.example", "nsaddr", "", host, sizeof(host), path,
                   sizeof(path));
  CHECK_STR(host, "jmenv.example:8080");
  CHECK_STR(path, "/rocketmq/nsaddr");
  rmqi_addrsrv_url("127.0.0.1:18080", "sub", "unitA", host, sizeof(host), path,
                   sizeof(path));
  CHECK_STR(host, "127.0.0.1:18080");
  CHECK_STR(path, "/rocketmq/sub-unitA?nofix=1");
}

TEST(nslist_replace_switches_only_on_change) {
  rmqi_nslist_t l;
  CHECK_ERR(rmqi_nslist_init_empty(&l, 3), RMQ_OK);
  char buf[RMQI_NSLIST_ADDR_MAX];
  CHECK(rmqi_nslist_current(&l, buf) == NULL);
  bool changed;
  CHECK_ERR(rmqi_nslist_replace(&l, "h:1", &changed), RMQ_OK);
  CHECK(changed);
  CHECK_STR(rmqi_nslist_current(&l, buf), "h:1");
  CHECK_ERR(rmqi_nslist_replace(&l, "h:1", &changed), RMQ_OK);
  CHECK(!changed);
  CHECK_ERR(rmqi_nslist_replace(&l, "bad entry", &changed),
            RMQ_ERR_CONF_INVALID);
  CHECK(!changed);
  CHECK_STR(rmqi_nslist_current(&l, buf), "h:1");
  CHECK_ERR(rmqi_nslist_replace(&l, "g:2;", &changed), RMQ_OK);
  CHECK(changed);
  CHECK_STR(rmqi_nslist_current(&l, buf), "g:2");
  CHECK_UINT(rmqi_nslist_count(&l), 1);
  rmqi_nslist_free(&l);
}

/* Java's TopicValidator.isSystemTopic: the named set and the rmq_sys_
 * prefix; names that only share a length or a prefix are not. */
TEST(system_topics_as_java) {
  static const char *yes[] = {
      "TBW102",          "SCHEDULE_TOPIC_XXXX",         "BenchmarkTest",
      "RMQ_SYS_TRANS_HALF_TOPIC", "RMQ_SYS_TRACE_TOPIC",
      "RMQ_SYS_TRANS_OP_HALF_TOPIC", "TRANS_CHECK_MAX_TIME_TOPIC",
      "SELF_TEST_TOPIC", "OFFSET_MOVED_EVENT",          "CHECKPOINT_TOPIC",
      "rmq_sys_",        "rmq_sys_anything"};
  static const char *no[] = {"",        "T",         "TBW10",  "TBW1023",
                             "TBW103",  "rmq_sys",   "RMQ_SYS_", "tbw102",
                             "SELF_TEST_TOPIX", "BenchmarkTes"};
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
    if (!rmqi_topic_is_system(yes[i]))
      rmqt_fail(__FILE__, __LINE__, "%s should be a system topic", yes[i]);
  for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
    if (rmqi_topic_is_system(no[i]))
      rmqt_fail(__FILE__, __LINE__, "%s should not be a system topic", no[i]);
  CHECK(!rmqi_topic_is_system(NULL));
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(ns_wrap_as_java),
      TCASE(system_topics_as_java),
      TCASE(ns_unwrap_as_java),
      TCASE(ns_from_endpoint_as_java),
      TCASE(conf_namespace_keys),
      TCASE(session_credentials_never_show_the_secret),
      TCASE(nsaddr_response_parsing),
      TCASE(addrsrv_url_as_java),
      TCASE(nslist_replace_switches_only_on_change),
  };
  return RUN_TESTS(cases);
}
