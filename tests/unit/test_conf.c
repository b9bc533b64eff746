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
  CHECK_ERR(rmq_conf_set(c, "callbackMode", "POLL", err, sizeof(err)),
            RMQ_OK);
  CHECK_STR(get(c, "callbackMode"), "poll");
  CHECK_ERR(rmq_conf_set(c, "logLevel", "debug", err, sizeof(err)), RMQ_OK);
  CHECK_INT(c->v.log_level, RMQ_LOG_DEBUG);
  CHECK_ERR(rmq_conf_set(c, "sendLatencyFaultEnable", "true", err,
                         sizeof(err)),
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
      {"sendMsgTimeout", "abc"},     {"sendMsgTimeout", "0"},
      {"sendMsgTimeout", "12x"},     {"sendMsgTimeout", ""},
      {"compressLevel", "10"},       {"retryTimesWhenSendFailed", "-1"},
      {"sendLatencyFaultEnable", "yes"}, {"callbackMode", "threads"},
      {"namesrvAddr", "127.0.0.1"},  {"namesrvAddr", "a:0"},
      {"namesrvAddr", "a:70000"},    {"namesrvAddr", "a:1;;b:2"},
      {"namesrvAddr", ":9876"},      {"maxMessageSize", "99999999999"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = 0;
    rmq_err_t rc = rmq_conf_set(c, bad[i][0], bad[i][1], err, sizeof(err));
    if (rc != RMQ_ERR_CONF_INVALID)
      rmqt_fail(__FILE__, __LINE__, "%s=%s accepted (%s)", bad[i][0],
                bad[i][1], rmq_err_name(rc));
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
    rmqt_fail(__FILE__, __LINE__,
              "%s is stale: run test_conf --write-doc %s", path, path);
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
      TCASE(defaults_are_the_java_clients), TCASE(set_and_get_round_trip),
      TCASE(unknown_key_is_an_error),       TCASE(bad_values_keep_the_old_value),
      TCASE(get_reports_needed_size),       TCASE(dup_is_deep),
      TCASE(doc_configuration_md_is_current),
  };
  return RUN_TESTS(cases);
}
