/* The broadcasting offset file: Java's format, crash-safe replacement,
 * falling back to the previous copy. */
#include "consumer/offset_file.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/rmq-offsets-XXXXXX";
static char path[256];

static void setup(void) {
  if (path[0] == '\0') {
    if (mkdtemp(dir) == NULL)
      abort();
    snprintf(path, sizeof(path), "%s/offsets.json", dir);
  }
  unlink(path);
  char bak[300];
  snprintf(bak, sizeof(bak), "%s.bak", path);
  unlink(bak);
}

TEST(save_then_load_round_trips) {
  setup();
  rmqi_mqo_t in[] = {{"TopicA", "broker-a", 0, 12},
                     {"TopicA", "broker-b", 3, 99999999999LL},
                     {"%RETRY%g", "broker-a", 0, 0}};
  char err[256];
  CHECK_ERR(rmqi_offset_file_save(path, in, 3, err, sizeof(err)), RMQ_OK);
  rmqi_mqo_t *out;
  size_t n;
  CHECK_ERR(rmqi_offset_file_load(path, &out, &n, err, sizeof(err)), RMQ_OK);
  REQUIRE(n == 3);
  for (size_t i = 0; i < n; i++) {
    CHECK_STR(out[i].topic, in[i].topic);
    CHECK_STR(out[i].broker, in[i].broker);
    CHECK_INT(out[i].queue_id, in[i].queue_id);
    CHECK_INT(out[i].offset, in[i].offset);
  }
  free(out);
}

TEST(javas_file_format_loads) {
  setup();
  FILE *f = fopen(path, "w");
  fputs("{\"offsetTable\":{{\"brokerName\":\"broker-a\",\"queueId\":1,"
        "\"topic\":\"T\"}:42,{\"brokerName\":\"broker-a\",\"queueId\":0,"
        "\"topic\":\"T\"}:7}}",
        f);
  fclose(f);
  rmqi_mqo_t *out;
  size_t n;
  char err[256];
  CHECK_ERR(rmqi_offset_file_load(path, &out, &n, err, sizeof(err)), RMQ_OK);
  REQUIRE(n == 2);
  CHECK_INT(out[0].queue_id, 1);
  CHECK_INT(out[0].offset, 42);
  CHECK_INT(out[1].offset, 7);
  free(out);
}

TEST(a_corrupt_file_falls_back_to_the_previous_copy) {
  setup();
  rmqi_mqo_t v1[] = {{"T", "b", 0, 1}}, v2[] = {{"T", "b", 0, 2}};
  char err[256];
  CHECK_ERR(rmqi_offset_file_save(path, v1, 1, err, sizeof(err)), RMQ_OK);
  CHECK_ERR(rmqi_offset_file_save(path, v2, 1, err, sizeof(err)), RMQ_OK);
  /* A crash that left the main file half written. */
  FILE *f = fopen(path, "w");
  fputs("{\"offsetTable\":{{\"brokerN", f);
  fclose(f);
  rmqi_mqo_t *out;
  size_t n;
  CHECK_ERR(rmqi_offset_file_load(path, &out, &n, err, sizeof(err)), RMQ_OK);
  REQUIRE(n == 1);
  CHECK_INT(out[0].offset, 1); /* the .bak from before the last save */
  free(out);
  setup();
  CHECK_ERR(rmqi_offset_file_load(path, &out, &n, err, sizeof(err)),
            RMQ_ERR_NOT_FOUND);
}

/* The in-memory table: every queue found again after many were added
 * (the index grows and rehashes), an update replaces in place, an unknown
 * queue is not found. */
TEST(table_finds_and_updates_many_queues) {
  enum { N = 20000 };
  rmqi_mqo_tab_t t = {0};
  char topic[32], broker[32];
  for (int i = 0; i < N; i++) {
    snprintf(topic, sizeof(topic), "T%d", i % 100);
    snprintf(broker, sizeof(broker), "b%d", (i / 100) % 10);
    CHECK_ERR(rmqi_mqo_tab_put(&t, topic, broker, i / 1000, i), RMQ_OK);
  }
  CHECK_INT(t.n, N);
  for (int i = 0; i < N; i++) {
    snprintf(topic, sizeof(topic), "T%d", i % 100);
    snprintf(broker, sizeof(broker), "b%d", (i / 100) % 10);
    const rmqi_mqo_t *m = rmqi_mqo_tab_find(&t, topic, broker, i / 1000);
    REQUIRE(m != NULL);
    CHECK_INT(m->offset, i);
  }
  CHECK_ERR(rmqi_mqo_tab_put(&t, "T7", "b0", 0, 99), RMQ_OK);
  CHECK_INT(t.n, N);
  CHECK_INT(rmqi_mqo_tab_find(&t, "T7", "b0", 0)->offset, 99);
  CHECK(rmqi_mqo_tab_find(&t, "T7", "b0", 20) == NULL);
  CHECK(rmqi_mqo_tab_find(&t, "T100", "b0", 0) == NULL);
  rmqi_mqo_tab_free(&t);
  CHECK(rmqi_mqo_tab_find(&t, "T7", "b0", 0) == NULL);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(save_then_load_round_trips),
      TCASE(table_finds_and_updates_many_queues),
      TCASE(javas_file_format_loads),
      TCASE(a_corrupt_file_falls_back_to_the_previous_copy),
  };
  int rc = RUN_TESTS(cases);
  setup();
  rmdir(dir);
  return rc;
}
