/* Configuration: the property table, validation, and the generated doc. */
#include "client/conf.h"
#include "test.h"
#include "vectors.h"

#include <stdlib.h>

static char *get(rmq_conf_t *c, const char *key) {
  static char out[1024];
  size_t n = sizeof(out);
  CHECK_ERR(rmq_conf_get(c, key, out, &n), RMQ_OK);
  return out;
}

TEST(defaults_are_the_java_clients) {
  rmq_conf_t *c = rmq_conf_new();
  REQUIRE(c != NULL);
  CHECK_STR(get(c, "sendMsgTimeout"), "3000");
  CHECK_STR(get(c, "retryTimesWhenSendFailed"), "2");
  CHECK_STR(get(c, "compressMsgBodyOverHowmuch"), "4096");
  CHECK_STR(get(c, "maxMessageSize"), "4194304");
  CHECK_STR(get(c, "instanceName"), "DEFAULT");
  CHECK_STR(get(c, "createTopicKey"), "TBW102");
  CHECK_STR(get(c, "pollNameServerInterval"), "30000");
  CHECK_STR(get(c, "retryAnotherBrokerWhenNotStoreOK"), "false");
  CHECK_STR(get(c, "callbackMode"), "pool");
  CHECK_STR(get(c, "logLevel"), "warn");
  CHECK_INT(c->v.send_timeout_ms, 3000);
  CHECK_INT(c->v.log_level, RMQ_LOG_WARN);
  rmq_conf_destroy(c);
}

TEST(set_and_get_round_trip) {
  rmq_conf_t *c = rmq_conf_new();
  char err[256];
  CHECK_ERR(rmq_conf_set(c, "sendMsgTimeout", "1500", err, sizeof(err)),
            RMQ_OK);
  CHECK_INT(c->v.send_timeout_ms, 1500);
  CHECK_ERR(rmq_conf_set(c, "namesrvAddr",
                         "127.0.0.1:9876;[::1]:9877;ns.example:1", err,
                         sizeof(err)),
            RMQ_OK);
  CHECK_STR(get(c, "namesrvAddr"), "127.0.0.1:9876;[::1]:9877;ns.example:1");
  CHECK_ERR(rmq_conf_set(c, "callbackMode", "POLL", err, sizeof(err)), RMQ_OK);
  CHECK_STR(get(c, "callbackMode"), "poll");
  CHECK_ERR(rmq_conf_set(c, "logLevel", "debug", err, sizeof(err)), RMQ_OK);
  CHECK_INT(c->v.log_level, RMQ_LOG_DEBUG);
  CHECK_ERR(rmq_conf_set(c, "sendLatencyFaultEnable", "true", err, sizeof(err)),
            RMQ_OK);
  CHECK(c->v.send_latency_fault_enable);
  rmq_conf_destroy(c);
}

TEST(unknown_key_is_an_error) {
  rmq_conf_t *c = rmq_conf_new();
  char err[256];
  CHECK_ERR(rmq_conf_set(c, "sendMsgTimeOut", "1", err, sizeof(err)),
            RMQ_ERR_CONF_UNKNOWN);
  CHECK_STR(err, "unknown configuration key \"sendMsgTimeOut\"");
  size_t n = 10;
  CHECK_ERR(rmq_conf_get(c, "nope", NULL, &n), RMQ_ERR_CONF_UNKNOWN);
  rmq_conf_destroy(c);
}

TEST(bad_values_keep_the_old_value) {
  rmq_conf_t *c = rmq_conf_new();
  char err[256];
  static const char *const bad[][2] = {
      {"sendMsgTimeout", "abc"},         {"sendMsgTimeout", "0"},
      {"sendMsgTimeout", "12x"},         {"sendMsgTimeout", ""},
      {"compressLevel", "10"},           {"retryTimesWhenSendFailed", "-1"},
      {"sendLatencyFaultEnable", "yes"}, {"callbackMode", "threads"},
      {"namesrvAddr", "127.0.0.1"},      {"namesrvAddr", "a:0"},
      {"namesrvAddr", "a:70000"},        {"namesrvAddr", "a:1;;b:2"},
      {"namesrvAddr", ":9876"},          {"maxMessageSize", "99999999999"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = 0;
    rmq_err_t rc = rmq_conf_set(c, bad[i][0], bad[i][1], err, sizeof(err));
    if (rc != RMQ_ERR_CONF_INVALID)
      rmqt_fail(__FILE__, __LINE__, "%s=%s accepted (%s)", bad[i][0], bad[i][1],
                rmq_err_name(rc));
    CHECK(err[0] != '\0');
  }
  CHECK_STR(get(c, "sendMsgTimeout"), "3000");
  CHECK_STR(get(c, "namesrvAddr"), "");
  CHECK_ERR(rmq_conf_set(c, NULL, "1", err, sizeof(err)), RMQ_ERR_INVALID_ARG);
  rmq_conf_destroy(c);
}

TEST(get_reports_needed_size) {
  rmq_conf_t *c = rmq_conf_new();
  size_t n = 0;
  CHECK_ERR(rmq_conf_get(c, "producerGroup", NULL, &n), RMQ_OK);
  CHECK_UINT(n, sizeof("DEFAULT_PRODUCER"));
  char small[4];
  n = sizeof(small);
  CHECK_ERR(rmq_conf_get(c, "producerGroup", small, &n), RMQ_OK);
  CHECK_UINT(n, sizeof("DEFAULT_PRODUCER"));
  CHECK_STR(small, "");
  /* A value longer than the internal scratch buffer. */
  char longv[2000];
  memset(longv, 'g', sizeof(longv) - 1);
  longv[sizeof(longv) - 1] = 0;
  CHECK_ERR(rmq_conf_set(c, "producerGroup", longv, NULL, 0), RMQ_OK);
  char out[2100];
  n = sizeof(out);
  CHECK_ERR(rmq_conf_get(c, "producerGroup", out, &n), RMQ_OK);
  CHECK_STR(out, longv);
  rmq_conf_destroy(c);
}

TEST(dup_is_deep) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", "h:1", NULL, 0);
  rmq_conf_t *d = rmq_conf_dup(c);
  REQUIRE(d != NULL);
  rmq_conf_set(c, "namesrvAddr", "h:2", NULL, 0);
  CHECK_STR(get(d, "namesrvAddr"), "h:1");
  rmq_conf_destroy(c);
  rmq_conf_destroy(d);
  rmq_conf_destroy(NULL);
}

static char *render_doc(size_t *len) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_conf_doc(&b);
  *len = b.len;
  return (char *)b.data;
}

/* ---- scopes: a key the object would ignore is an error ---------------- */

static rmq_conf_t *conf_kv(const char *const *kv) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", "127.0.0.1:1", NULL, 0); /* closed port */
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  for (; kv && kv[0]; kv += 2)
    CHECK_ERR(rmq_conf_set(c, kv[0], kv[1], NULL, 0), RMQ_OK);
  return c;
}

/* Each constructor on @p kv: NULL with @p key named, or (key NULL) made. */
static void expect_client(const char *const *kv, const char *key) {
  rmq_conf_t *c = conf_kv(kv);
  char err[256] = "";
  rmq_client_t *cl = rmq_client_new(c, err, sizeof(err));
  if (key) {
    CHECK(cl == NULL);
    CHECK(strstr(err, key) != NULL);
  } else {
    CHECK(cl != NULL);
  }
  if (cl)
    rmq_client_destroy(cl, 1000);
  rmq_conf_destroy(c);
}

static void expect_producer(rmq_client_t *cl, const char *const *kv,
                            const char *key) {
  rmq_conf_t *c = conf_kv(kv);
  char err[256] = "";
  rmq_producer_t *p = rmq_producer_new(cl, c, err, sizeof(err));
  if (key) {
    CHECK(p == NULL);
    if (strstr(err, key) == NULL)
      rmqt_fail(__FILE__, __LINE__, "\"%s\" does not name %s", err, key);
  } else if (p == NULL) {
    rmqt_fail(__FILE__, __LINE__, "producer refused: %s", err);
  }
  if (p)
    rmq_producer_destroy(p, 1000);
  rmq_conf_destroy(c);
}

static void expect_consumers(rmq_client_t *cl, const char *const *kv,
                             const char *key) {
  rmq_conf_t *c = conf_kv(kv);
  rmq_conf_set(c, "consumerGroup", "CG", NULL, 0);
  char err[256] = "", err2[256] = "";
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(cl, c, err, sizeof(err));
  if (pc)
    rmq_pull_consumer_destroy(pc, 1000);
  rmq_push_consumer_t *pu = rmq_push_consumer_new(cl, c, err2, sizeof(err2));
  if (pu)
    rmq_push_consumer_destroy(pu, 1000);
  if (key) {
    CHECK(pc == NULL && pu == NULL);
    if (strstr(err, key) == NULL || strstr(err2, key) == NULL)
      rmqt_fail(__FILE__, __LINE__, "\"%s\" / \"%s\" do not name %s", err, err2,
                key);
  } else if (pc == NULL || pu == NULL) {
    rmqt_fail(__FILE__, __LINE__, "consumer refused: %s / %s", err, err2);
  }
  rmq_conf_destroy(c);
}

TEST(a_key_of_another_scope_set_explicitly_is_an_error) {
  /* a client reads its keys and leaves the others to the objects made on
   * it with the same conf: one conf for the client and its producer */
  expect_client((const char *const[]){"mqClientApiTimeout", "500", NULL}, NULL);
  expect_client((const char *const[]){"producerGroup", "PG", "pullBatchSize",
                                      "5", "enableMsgTrace", "false", NULL},
                NULL);
  /* a producer with its own client reads client and producer keys */
  expect_producer(NULL,
                  (const char *const[]){"producerGroup", "PG", "sendMsgTimeout",
                                        "500", "mqClientApiTimeout", "500",
                                        "enableMsgTrace", "false", NULL},
                  NULL);
  expect_producer(NULL, (const char *const[]){"consumerGroup", "CG", NULL},
                  "consumerGroup");
  expect_producer(NULL, (const char *const[]){"autoCommit", "false", NULL},
                  "autoCommit");
  /* consumers: consumer and client keys; a producer key is named */
  expect_consumers(
      NULL,
      (const char *const[]){"pullBatchSize", "5", "callbackMode", "poll", NULL},
      NULL);
  expect_consumers(NULL, (const char *const[]){"sendMsgTimeout", "500", NULL},
                   "sendMsgTimeout");
  expect_consumers(NULL, (const char *const[]){"producerGroup", "PG", NULL},
                   "producerGroup");
}

TEST(defaults_of_another_scope_do_not_count) {
  /* a key read back or set to... nothing: only rmq_conf_set marks it */
  rmq_conf_t *c = conf_kv(NULL);
  char v[64];
  size_t n = sizeof(v);
  CHECK_ERR(rmq_conf_get(c, "consumerGroup", v, &n), RMQ_OK);
  char err[256] = "";
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  CHECK(p != NULL);
  rmq_producer_destroy(p, 1000);
  /* a dup keeps which keys were set */
  rmq_conf_set(c, "consumerGroup", "CG", NULL, 0);
  rmq_conf_t *d = rmq_conf_dup(c);
  CHECK(rmq_producer_new(NULL, d, err, sizeof(err)) == NULL);
  CHECK(strstr(err, "consumerGroup") != NULL);
  rmq_conf_destroy(d);
  rmq_conf_destroy(c);
}

TEST(on_a_shared_client_client_keys_must_match_it) {
  rmq_conf_t *cc = conf_kv((const char *const[]){
      "mqClientApiTimeout", "700", "sessionCredentials", "ak,sk", NULL});
  char err[256];
  rmq_client_t *cl = rmq_client_new(cc, err, sizeof(err));
  REQUIRE(cl != NULL);
  rmq_conf_destroy(cc);
  /* the same values (one conf for both calls): fine */
  const char *const same[] = {"mqClientApiTimeout", "700", "sessionCredentials",
                              "ak,sk", NULL};
  expect_producer(cl, same, NULL);
  expect_consumers(cl, same, NULL);
  /* a value the object would ignore for its client's: named */
  expect_producer(cl, (const char *const[]){"mqClientApiTimeout", "800", NULL},
                  "mqClientApiTimeout");
  expect_consumers(cl,
                   (const char *const[]){"namesrvAddr", "127.0.0.1:2", NULL},
                   "namesrvAddr");
  expect_producer(cl,
                  (const char *const[]){"sessionCredentials", "ak,other", NULL},
                  "sessionCredentials");
  /* a client key the client has at its default, set to another value */
  expect_producer(cl, (const char *const[]){"callbackMode", "poll", NULL},
                  "callbackMode");
  rmq_client_destroy(cl, 1000);
}

/* ---- rmq_conf_dump ------------------------------------------------------- */

typedef struct dumped {
  int n, n_set;
  char names[200][64];
  char secret_seen;
  char line[8][160]; /* a few keys' lines, see want() */
} dumped_t;

static const char *const watched[] = {
    "namesrvAddr",   "sendMsgTimeout",     "secretKey", "tlsKeyPassword",
    "securityToken", "sessionCredentials", "accessKey", "enableMsgTrace"};

static void on_dump(void *opaque, const char *key, const char *value,
                    const char *dflt, const char *scope, int is_set) {
  dumped_t *d = opaque;
  if (d->n < 200)
    snprintf(d->names[d->n], sizeof(d->names[0]), "%s", key);
  d->n++;
  d->n_set += is_set != 0;
  if (strstr(value, "s3cr3t") || strstr(value, "p4ss") ||
      strstr(value, "t0ken"))
    d->secret_seen = 1;
  for (size_t i = 0; i < RMQI_ARRAY_LEN(watched); i++)
    if (strcmp(key, watched[i]) == 0)
      snprintf(d->line[i], sizeof(d->line[i]), "%s|%s|%s|%d", value, dflt,
               scope, is_set);
}

TEST(dump_lists_every_key_with_value_default_and_scope) {
  rmq_conf_t *c = rmq_conf_new();
  dumped_t d = {0};
  CHECK_ERR(rmq_conf_dump(c, on_dump, &d), RMQ_OK);
  REQUIRE(d.n > 50 && d.n <= 200);
  CHECK_INT(d.n_set, 0);
  /* every key once, and each a key rmq_conf_get knows */
  for (int i = 0; i < d.n; i++) {
    size_t n = 0;
    CHECK_ERR(rmq_conf_get(c, d.names[i], NULL, &n), RMQ_OK);
    for (int j = 0; j < i; j++)
      CHECK(strcmp(d.names[i], d.names[j]) != 0);
  }
  CHECK_STR(d.line[0], "||client|0");
  CHECK_STR(d.line[1], "3000|3000|producer|0");
  CHECK_STR(d.line[2], "||client|0"); /* an empty secret is shown empty */
  CHECK_STR(d.line[7], "false|false|producer,consumer|0");

  rmq_conf_set(c, "namesrvAddr", "127.0.0.1:9876", NULL, 0);
  rmq_conf_set(c, "sendMsgTimeout", "1234", NULL, 0);
  rmq_conf_set(c, "tlsKeyPassword", "p4ss", NULL, 0);
  rmq_conf_set(c, "securityToken", "t0ken", NULL, 0);
  rmq_conf_set(c, "sessionCredentials", "AK,s3cr3t", NULL, 0);
  dumped_t e = {0};
  CHECK_ERR(rmq_conf_dump(c, on_dump, &e), RMQ_OK);
  CHECK_INT(e.n, d.n);
  CHECK_INT(e.n_set, 5);
  CHECK(!e.secret_seen);
  CHECK_STR(e.line[0], "127.0.0.1:9876||client|1");
  CHECK_STR(e.line[1], "1234|3000|producer|1");
  CHECK_STR(e.line[2], "***||client|0"); /* set through sessionCredentials */
  CHECK_STR(e.line[3], "***||client|1");
  CHECK_STR(e.line[4], "***||client|1");
  CHECK_STR(e.line[5], "AK,***,LOCAL||client|1");
  CHECK_STR(e.line[6], "AK||client|0");
  CHECK_ERR(rmq_conf_dump(NULL, on_dump, &e), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_conf_dump(c, NULL, &e), RMQ_ERR_INVALID_ARG);
  rmq_conf_destroy(c);
}

TEST(doc_configuration_md_is_current) {
  char path[1024];
  const char *root = getenv("RMQ_SOURCE_ROOT");
  snprintf(path, sizeof(path), "%s/doc/configuration.md", root ? root : ".");
  size_t have_len = 0, want_len;
  uint8_t *have = rmqt_read_file(path, &have_len);
  char *want = render_doc(&want_len);
  if (have == NULL)
    rmqt_fail(__FILE__, __LINE__, "cannot read %s", path);
  else if (have_len != want_len || memcmp(have, want, want_len) != 0)
    rmqt_fail(__FILE__, __LINE__, "%s is stale: run test_conf --write-doc %s",
              path, path);
  free(have);
  free(want);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write-doc") == 0) {
    size_t n;
    char *doc = render_doc(&n);
    FILE *f = fopen(argv[2], "wb");
    if (f == NULL || fwrite(doc, 1, n, f) != n)
      return 1;
    fclose(f);
    free(doc);
    return 0;
  }
  static const rmqt_case cases[] = {
      TCASE(defaults_are_the_java_clients),
      TCASE(set_and_get_round_trip),
      TCASE(unknown_key_is_an_error),
      TCASE(bad_values_keep_the_old_value),
      TCASE(get_reports_needed_size),
      TCASE(dup_is_deep),
      TCASE(doc_configuration_md_is_current),
      TCASE(a_key_of_another_scope_set_explicitly_is_an_error),
      TCASE(defaults_of_another_scope_do_not_count),
      TCASE(on_a_shared_client_client_keys_must_match_it),
      TCASE(dump_lists_every_key_with_value_default_and_scope),
  };
  return RUN_TESTS(cases);
}
