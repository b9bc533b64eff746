/*
 * Message trace: the records are Java's TraceDataEncoder bytes, field by
 * field (expected strings written from encoderFromContextBean; the IT test
 * has Java's decoderFromTraceDataString read what the library sends), and
 * the dispatcher is bounded: a full queue drops and counts, close keeps
 * its deadline.
 */
#include "client/client.h"
#include "codec/trace.h"
#include "jpath.h"
#include "producer/trace.h"
#include "test.h"
#include "util/time.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define C "\x01"
#define F "\x02"

static void check_encoded(const rmqi_trace_ctx_t *ctx, const char *want,
                          const char *want_keys) {
  rmqi_buf_t d, k;
  rmqi_buf_init(&d);
  rmqi_buf_init(&k);
  rmqi_trace_encode(ctx, &d, &k);
  CHECK(rmqi_buf_ok(&d) && rmqi_buf_ok(&k));
  CHECK_MEM(d.data, d.len, want, strlen(want));
  CHECK_MEM(k.data, k.len, want_keys, strlen(want_keys));
  rmqi_buf_free(&d);
  rmqi_buf_free(&k);
}

TEST(pub_record_is_javas) {
  rmqi_trace_bean_t b = {.topic = "TopicA",
                         .msg_id = "7F0000010001000000000001",
                         .offset_msg_id = "7F00000100002A9F0000000000000010",
                         .tags = "TagA",
                         .keys = "k1 k2",
                         .store_host = "127.0.0.1:10911",
                         .body_length = 14,
                         .msg_type = RMQI_TRACE_MSG_NORMAL};
  rmqi_trace_ctx_t c = {.type = RMQI_TRACE_PUB,
                        .timestamp = 1700000000123,
                        .region_id = "DefaultRegion",
                        .group = "PG",
                        .cost_time = 7,
                        .success = true,
                        .beans = &b,
                        .n_beans = 1};
  check_encoded(&c,
                "Pub" C "1700000000123" C "DefaultRegion" C "PG" C "TopicA" C
                "7F0000010001000000000001" C "TagA" C "k1 k2" C
                "127.0.0.1:10911" C "14" C "7" C "0" C
                "7F00000100002A9F0000000000000010" C "true" F,
                "7F0000010001000000000001 k1 k2 ");
}

TEST(null_fields_are_written_as_java_writes_null) {
  rmqi_trace_bean_t b = {.topic = "T",
                         .msg_id = "ID",
                         .store_host = "h:1",
                         .body_length = 1,
                         .msg_type = RMQI_TRACE_MSG_DELAY};
  rmqi_trace_ctx_t c = {.type = RMQI_TRACE_PUB,
                        .timestamp = 5,
                        .region_id = "R",
                        .group = "G",
                        .cost_time = 0,
                        .success = false,
                        .beans = &b,
                        .n_beans = 1};
  check_encoded(&c,
                "Pub" C "5" C "R" C "G" C "T" C "ID" C "null" C "null" C "h:1" C
                "1" C "0" C "3" C "null" C "false" F,
                "ID ");
}

TEST(sub_before_and_after_write_one_record_per_message) {
  rmqi_trace_bean_t b[2] = {{.msg_id = "M1", .keys = "a b a", .retry_times = 0},
                            {.msg_id = "M2", .keys = NULL, .retry_times = 3}};
  rmqi_trace_ctx_t c = {.type = RMQI_TRACE_SUB_BEFORE,
                        .timestamp = 42,
                        .region_id = NULL, /* no MSG_REGION: Java's null */
                        .group = "CG",
                        .request_id = "REQ",
                        .beans = b,
                        .n_beans = 2};
  check_encoded(&c,
                "SubBefore" C "42" C "null" C "CG" C "REQ" C "M1" C "0" C
                "a b a" F "SubBefore" C "42" C "null" C "CG" C "REQ" C "M2" C
                "3" C "null" F,
                "M1 a b M2 ");
  c.type = RMQI_TRACE_SUB_AFTER;
  c.timestamp = 50;
  c.cost_time = 4;
  c.success = false;
  c.context_code = RMQI_TRACE_RETURN_FAILED;
  check_encoded(&c,
                "SubAfter" C "REQ" C "M1" C "4" C "false" C "a b a" C "4" C
                "50" C "CG" F "SubAfter" C "REQ" C "M2" C "4" C "false" C
                "null" C "4" C "50" C "CG" F,
                "M1 a b M2 ");
}

TEST(end_transaction_record_is_javas) {
  rmqi_trace_bean_t b = {.topic = "TX",
                         .msg_id = "UNIQ",
                         .tags = "t",
                         .keys = "k",
                         .store_host = "10.0.0.1:10911",
                         .msg_type = RMQI_TRACE_MSG_TRANS_COMMIT,
                         .transaction_id = "UNIQ",
                         .transaction_state = "ROLLBACK_MESSAGE",
                         .from_transaction_check = true};
  rmqi_trace_ctx_t c = {.type = RMQI_TRACE_END_TX,
                        .timestamp = -1,
                        .region_id = "DefaultRegion",
                        .group = "TG",
                        .beans = &b,
                        .n_beans = 1};
  check_encoded(&c,
                "EndTransaction" C "-1" C "DefaultRegion" C "TG" C "TX" C
                "UNIQ" C "t" C "k" C "10.0.0.1:10911" C "2" C "UNIQ" C
                "ROLLBACK_MESSAGE" C "true" F,
                "UNIQ k ");
}

TEST(no_message_no_record) {
  rmqi_trace_ctx_t c = {.type = RMQI_TRACE_SUB_BEFORE, .n_beans = 0};
  check_encoded(&c, "", "");
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char dropped_line[512];

static void on_log(void *opaque, rmq_log_level_t level, const char *comp,
                   const char *msg) {
  (void)opaque;
  pthread_mutex_lock(&log_mu);
  if (level == RMQ_LOG_WARN && strcmp(comp, "trace") == 0 &&
      strstr(msg, "dropped in all") && dropped_line[0] == '\0')
    snprintf(dropped_line, sizeof(dropped_line), "%s", msg);
  pthread_mutex_unlock(&log_mu);
}

static rmq_conf_t *unreachable_conf(const char *trace) {
  rmq_conf_t *c = rmq_conf_new();
  /* a closed port: route lookups fail at once */
  rmq_conf_set(c, "namesrvAddr", "127.0.0.1:1", NULL, 0);
  rmq_conf_set(c, "logLevel", "warn", NULL, 0);
  rmq_conf_set_log_cb(c, on_log, NULL);
  if (trace) /* NULL: a client's conf (no producer or consumer key) */
    rmq_conf_set(c, "enableMsgTrace", trace, NULL, 0);
  return c;
}

static rmq_client_t *unreachable_client(void) {
  rmq_conf_t *c = unreachable_conf(NULL);
  char err[256];
  rmq_client_t *cl = rmq_client_new(c, err, sizeof(err));
  if (cl == NULL)
    fprintf(stderr, "client: %s\n", err);
  rmq_conf_destroy(c);
  return cl;
}

TEST(tracer_is_off_by_default) {
  rmq_conf_t *c = unreachable_conf("false");
  char err[256];
  rmq_client_t *cl = unreachable_client();
  REQUIRE(cl != NULL);
  rmqi_tracer_t *t = (rmqi_tracer_t *)1;
  CHECK_ERR(rmqi_tracer_new(cl, c, "G", false, &t, err, sizeof(err)), RMQ_OK);
  CHECK(t == NULL);
  rmq_client_destroy(cl, 1000);
  rmq_conf_destroy(c);
}

/* A producer's statistics carry its tracer's counts (`trace`), a producer
 * without trace zeros. */
TEST(producer_statistics_show_the_tracer) {
  for (int on = 0; on < 2; on++) {
    rmq_conf_t *c = unreachable_conf(on ? "true" : "false");
    rmq_conf_set(c, "producerGroup", "TPG", NULL, 0);
    char err[256];
    rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
    rmq_conf_destroy(c);
    REQUIRE(p != NULL);
    char *js = rmq_client_stats_json(rmq_producer_client(p));
    rmqi_json_t doc;
    REQUIRE(js && rmqi_json_parse(&doc, js, strlen(js), NULL) == RMQ_OK);
    int found = 0;
    for (int i = 0; i < 4; i++) {
      char path[64];
      snprintf(path, sizeof(path), "producers.%d.group", i);
      if (strcmp(jstr(doc.root, path), "TPG") != 0)
        continue;
      found++;
      snprintf(path, sizeof(path), "producers.%d.trace.enabled", i);
      const rmqi_jval_t *e = jpath(doc.root, path);
      CHECK(e && e->type == RMQI_JBOOL && e->b == (on == 1));
      snprintf(path, sizeof(path), "producers.%d.trace.topic", i);
      CHECK_STR(jstr(doc.root, path), on ? "RMQ_SYS_TRACE_TOPIC" : "");
      snprintf(path, sizeof(path), "producers.%d.trace.dropped", i);
      CHECK_INT(jint(doc.root, path), 0);
      snprintf(path, sizeof(path), "producers.%d.trace.failed", i);
      CHECK_INT(jint(doc.root, path), 0);
    }
    CHECK_INT(found, 1);
    rmqi_json_free(&doc);
    rmq_free(js);
    rmq_producer_destroy(p, 1000);
  }
}

/* The tracer's `trace` member of the statistics JSON, parsed; the value
 * of @p key in it, or -12345. */
static int64_t trace_json(rmqi_tracer_t *t, const char *key) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_jw_t w;
  rmqi_jw_init(&w, &b);
  rmqi_jw_obj(&w, NULL);
  rmqi_tracer_json(t, &w);
  rmqi_jw_end_obj(&w);
  int64_t v = -12345;
  rmqi_json_t doc;
  if (rmqi_buf_ok(&b) &&
      rmqi_json_parse(&doc, (const char *)b.data, b.len, NULL) == RMQ_OK) {
    char path[64];
    snprintf(path, sizeof(path), "trace.%s", key);
    const rmqi_jval_t *x = jpath(doc.root, path);
    if (x && x->type == RMQI_JBOOL)
      v = x->b;
    else if (x && x->type == RMQI_JSTR)
      v = strcmp(x->s, "RMQ_SYS_TRACE_TOPIC") == 0 ? 1 : x->n == 0 ? 0 : -1;
    else
      v = jint(doc.root, path);
    rmqi_json_free(&doc);
  }
  rmqi_buf_free(&b);
  return v;
}

/* Past 1024 queued records appends are dropped and counted, never
 * blocking; close sends (here: fails to) and returns by its deadline. */
TEST(full_queue_drops_and_counts_and_close_keeps_its_deadline) {
  rmq_conf_t *c = unreachable_conf("true");
  char err[256];
  rmq_client_t *cl = unreachable_client();
  REQUIRE(cl != NULL);
  rmqi_tracer_t *t = NULL;
  CHECK_ERR(rmqi_tracer_new(cl, c, "G", false, &t, err, sizeof(err)), RMQ_OK);
  REQUIRE(t != NULL);
  CHECK_STR(rmqi_tracer_topic(t), "RMQ_SYS_TRACE_TOPIC");
  /* ~60 bytes each: 1034 stay under one batch (118 000 bytes), so the
   * thread waits 500 ms for the oldest before it takes any */
  rmqi_trace_bean_t b = {.topic = "T", .msg_id = "I", .store_host = "h"};
  rmqi_trace_ctx_t x = {.type = RMQI_TRACE_PUB,
                        .timestamp = 1,
                        .region_id = "R",
                        .group = "G",
                        .beans = &b,
                        .n_beans = 1};
  int64_t t0 = rmqi_now_ms();
  for (int i = 0; i < RMQI_TRACE_QUEUE_MAX + 10; i++)
    rmqi_tracer_append(t, &x);
  int64_t took = rmqi_now_ms() - t0;
  rmqi_trace_counts_t k;
  rmqi_tracer_counts(t, &k);
  if (took < RMQI_TRACE_WAIT_MS) { /* else the thread may have taken some */
    CHECK_UINT(k.appended, RMQI_TRACE_QUEUE_MAX);
    CHECK_UINT(k.dropped, 10);
    /* the statistics JSON shows them (producers[].trace) */
    CHECK_INT(trace_json(t, "enabled"), 1);
    CHECK_INT(trace_json(t, "topic"), 1);
    CHECK_INT(trace_json(t, "appended"), RMQI_TRACE_QUEUE_MAX);
    CHECK_INT(trace_json(t, "dropped"), 10);
    pthread_mutex_lock(&log_mu); /* the first drop is logged */
    CHECK_STR(dropped_line, "1 trace record(s) dropped in all (queue full)");
    pthread_mutex_unlock(&log_mu);
  }
  t0 = rmqi_now_ms();
  rmqi_tracer_close(t, t0 + 1500);
  CHECK(rmqi_now_ms() - t0 < 2500);
  rmqi_tracer_append(t, &x); /* closed: dropped */
  rmqi_tracer_counts(t, &k);
  CHECK_UINT(k.sent, 0);
  CHECK_UINT(k.appended + 10 + 1, RMQI_TRACE_QUEUE_MAX + 10 + 1);
  CHECK_UINT(k.failed + k.dropped, RMQI_TRACE_QUEUE_MAX + 10 + 1);
  CHECK_INT(trace_json(t, "sent"), 0);
  CHECK_INT(trace_json(t, "failed"), (int64_t)k.failed);
  CHECK_INT(trace_json(t, "dropped"), (int64_t)k.dropped);
  CHECK_INT(trace_json(t, "failed") + trace_json(t, "dropped"),
            RMQI_TRACE_QUEUE_MAX + 10 + 1);
  CHECK_INT(trace_json(NULL, "enabled"), 0); /* trace off: zeros */
  CHECK_INT(trace_json(NULL, "topic"), 0);
  CHECK_INT(trace_json(NULL, "dropped"), 0);
  rmqi_tracer_free(t);
  rmq_client_destroy(cl, 1000);
  rmq_conf_destroy(c);
}

TEST(trace_topic_key_is_validated) {
  rmq_conf_t *c = rmq_conf_new();
  char err[256];
  CHECK_ERR(
      rmq_conf_set(c, "customizedTraceTopic", "bad topic!", err, sizeof(err)),
      RMQ_ERR_CONF_INVALID);
  CHECK_ERR(
      rmq_conf_set(c, "customizedTraceTopic", "my_trace", err, sizeof(err)),
      RMQ_OK);
  char v[64];
  size_t n = sizeof(v);
  CHECK_ERR(rmq_conf_get(c, "enableMsgTrace", v, &n), RMQ_OK);
  CHECK_STR(v, "false");
  rmq_conf_destroy(c);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(pub_record_is_javas),
      TCASE(null_fields_are_written_as_java_writes_null),
      TCASE(sub_before_and_after_write_one_record_per_message),
      TCASE(end_transaction_record_is_javas),
      TCASE(no_message_no_record),
      TCASE(tracer_is_off_by_default),
      TCASE(full_queue_drops_and_counts_and_close_keeps_its_deadline),
      TCASE(producer_statistics_show_the_tracer),
      TCASE(trace_topic_key_is_validated)};
  return RUN_TESTS(cases);
}
