/* The public message object. */
#include "client/msg.h"
#include "test.h"

#include <stdlib.h>

TEST(new_message_waits_for_store_like_java) {
  rmq_msg_t *m = rmq_msg_new("TopicA");
  REQUIRE(m != NULL);
  CHECK_STR(rmq_msg_topic(m), "TopicA");
  CHECK_STR(rmq_msg_property(m, "WAIT"), "true");
  CHECK_UINT(rmq_msg_property_count(m), 1);
  size_t len = 99;
  CHECK(rmq_msg_body(m, &len) == NULL);
  CHECK_UINT(len, 0);
  rmq_msg_destroy(m);
  CHECK(rmq_msg_new(NULL) == NULL);
}

/* A new message starts as one block (topic and WAIT inside it): each way
 * out of it copies what changes and leaves the rest readable (run under
 * ASan/valgrind for the frees). */
TEST(new_message_block_changes_copy_out) {
  rmq_msg_t *m = rmq_msg_new("TopicA");
  CHECK_ERR(rmqi_msg_put_prop(m, "WAIT", "false"), RMQ_OK); /* replace */
  CHECK_STR(rmq_msg_property(m, "WAIT"), "false");
  CHECK_STR(rmq_msg_topic(m), "TopicA");
  rmq_msg_destroy(m);

  m = rmq_msg_new("TopicA");
  rmqi_msg_del_prop(m, "WAIT"); /* remove from the block's list */
  CHECK_UINT(rmq_msg_property_count(m), 0);
  CHECK_ERR(rmqi_msg_set_topic(m, "TopicB"), RMQ_OK);
  CHECK_ERR(rmqi_msg_set_topic(m, "TopicC"), RMQ_OK); /* frees TopicB */
  CHECK_STR(rmq_msg_topic(m), "TopicC");
  rmq_msg_destroy(m);

  m = rmq_msg_new("TopicA"); /* a new topic, properties left in the block */
  CHECK_ERR(rmqi_msg_set_topic(m, "TopicB"), RMQ_OK);
  CHECK_STR(rmq_msg_property(m, "WAIT"), "true");
  rmq_msg_destroy(m);
}

TEST(setters_replace_and_keep_order) {
  rmq_msg_t *m = rmq_msg_new("T");
  CHECK_ERR(rmq_msg_set_tags(m, "TagA"), RMQ_OK);
  CHECK_ERR(rmq_msg_set_keys(m, "k1 k2"), RMQ_OK);
  CHECK_ERR(rmq_msg_set_property(m, "color", "红"), RMQ_OK);
  CHECK_ERR(rmq_msg_set_tags(m, "TagB"), RMQ_OK);
  CHECK_STR(rmq_msg_tags(m), "TagB");
  CHECK_STR(rmq_msg_keys(m), "k1 k2");
  const char *n, *v;
  CHECK_ERR(rmq_msg_property_at(m, 1, &n, &v), RMQ_OK);
  CHECK_STR(n, "TAGS");
  CHECK_STR(v, "TagB");
  CHECK_ERR(rmq_msg_property_at(m, 3, &n, &v), RMQ_OK);
  CHECK_STR(n, "color");
  CHECK_ERR(rmq_msg_property_at(m, 4, &n, &v), RMQ_ERR_NOT_FOUND);
  CHECK_ERR(rmq_msg_set_tags(m, ""), RMQ_OK); /* empty clears */
  CHECK(rmq_msg_tags(m) == NULL);
  rmq_msg_destroy(m);
}

TEST(reserved_and_unencodable_properties_are_refused) {
  rmq_msg_t *m = rmq_msg_new("T");
  CHECK_ERR(rmq_msg_set_property(m, "UNIQ_KEY", "x"), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_msg_set_property(m, "TAGS", "x"), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_msg_set_property(m, "DELAY", "1"), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_msg_set_property(m, "a\x01", "x"), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_msg_set_property(m, "a", "x\x02y"), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_msg_set_property(m, "", "x"), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_msg_set_property(m, "a", ""), RMQ_ERR_INVALID_ARG);
  /* blank after Java's String.trim(): every byte up to 0x20 */
  CHECK_ERR(rmq_msg_set_property(m, " ", "x"), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_msg_set_property(m, "a", " \t\r\n"), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_msg_set_property(m, "\x1f\x0b", "x"), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_msg_set_property(m, "a", "\x7f"), RMQ_OK);  /* not trimmed */
  CHECK_ERR(rmq_msg_set_property(m, " b ", " y "), RMQ_OK); /* kept whole */
  CHECK_STR(rmq_msg_property(m, " b "), " y ");
  CHECK_ERR(rmq_msg_set_tags(m, "a\x01"), RMQ_ERR_INVALID_ARG);
  /* Not reserved in Java: applications set these themselves. */
  CHECK_ERR(rmq_msg_set_property(m, "CHECK_IMMUNITY_TIME_IN_SECONDS", "5"),
            RMQ_OK);
  CHECK_ERR(rmq_msg_set_property(m, "__SHARDINGKEY", "s"), RMQ_OK);
  CHECK_UINT(rmq_msg_property_count(m), 5);
  rmq_msg_destroy(m);
}

/* 13,000 distinct properties: setting them is linear (the names are
 * indexed once there are more than RMQI_MSG_INDEX_MIN; the old linear
 * lookup per set made it quadratic), lookups, replacing and removing
 * still see every one. The send path refuses the 64 KiB string they
 * make (tests/unit/test_props.c, lib/producer/wire.c). */
TEST(thirteen_thousand_properties_are_indexed) {
  rmq_msg_t *m = rmq_msg_new("T");
  char k[16], v[16];
  for (int i = 0; i < 13000; i++) {
    snprintf(k, sizeof(k), "k%d", i);
    snprintf(v, sizeof(v), "v%d", i);
    CHECK_ERR(rmq_msg_set_property(m, k, v), RMQ_OK);
  }
  CHECK(m->index != NULL);
  CHECK_UINT(rmq_msg_property_count(m), 13001);
  CHECK_STR(rmq_msg_property(m, "k12999"), "v12999");
  CHECK_STR(rmq_msg_property(m, "WAIT"), "true");
  CHECK_ERR(rmq_msg_set_property(m, "k7", "again"), RMQ_OK);
  CHECK_UINT(rmq_msg_property_count(m), 13001);
  CHECK_STR(rmq_msg_property(m, "k7"), "again");
  CHECK_ERR(rmq_msg_set_keys(m, ""), RMQ_OK); /* absent: no change */
  rmqi_msg_del_prop(m, "k5");
  CHECK(rmq_msg_property(m, "k5") == NULL);
  CHECK_STR(rmq_msg_property(m, "k6"), "v6");
  CHECK_ERR(rmq_msg_set_property(m, "k5", "back"), RMQ_OK);
  CHECK(m->index != NULL);
  CHECK_STR(rmq_msg_property(m, "k5"), "back");
  CHECK_STR(rmq_msg_property(m, "k12999"), "v12999");
  CHECK_UINT(rmq_msg_property_count(m), 13001);
  rmq_msg_destroy(m);
}

TEST(delay_and_timer_properties) {
  rmq_msg_t *m = rmq_msg_new("T");
  CHECK_ERR(rmq_msg_set_delay_level(m, 3), RMQ_OK);
  CHECK_STR(rmq_msg_property(m, "DELAY"), "3");
  CHECK_INT(rmq_msg_delay_level(m), 3);
  CHECK_ERR(rmq_msg_set_delay_level(m, 0), RMQ_OK);
  CHECK(rmq_msg_property(m, "DELAY") == NULL);
  CHECK_ERR(rmq_msg_set_delay_level(m, -2), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_msg_set_deliver_time(m, 1700000000123LL), RMQ_OK);
  CHECK_STR(rmq_msg_property(m, "TIMER_DELIVER_MS"), "1700000000123");
  CHECK_ERR(rmq_msg_set_delay_ms(m, 2500), RMQ_OK);
  CHECK_STR(rmq_msg_property(m, "TIMER_DELAY_MS"), "2500");
  /* A garbage DELAY from the network reads as 0, not UB. */
  rmqi_msg_put_prop(m, "DELAY", "99999999999999999999");
  CHECK_INT(rmq_msg_delay_level(m), 0);
  rmqi_msg_put_prop(m, "DELAY", "-1");
  CHECK_INT(rmq_msg_delay_level(m), -1);
  rmq_msg_destroy(m);
}

static int freed;
static void count_free(void *p) {
  freed++;
  free(p);
}

TEST(bodies_copied_or_handed_over) {
  rmq_msg_t *m = rmq_msg_new("T");
  char data[] = "hello";
  CHECK_ERR(rmq_msg_set_body(m, data, 5), RMQ_OK);
  data[0] = 'J';
  size_t len;
  const char *b = rmq_msg_body(m, &len);
  CHECK_MEM(b, len, "hello", 5);
  char *owned = malloc(3);
  memcpy(owned, "abc", 3);
  freed = 0;
  CHECK_ERR(rmq_msg_set_body_owned(m, owned, 3, count_free), RMQ_OK);
  CHECK(rmq_msg_body(m, &len) == owned);
  CHECK_ERR(rmq_msg_set_body(m, "x", 1), RMQ_OK);
  CHECK_INT(freed, 1);
  static const char borrowed[] = "static";
  CHECK_ERR(rmq_msg_set_body_owned(m, (void *)borrowed, 6, NULL), RMQ_OK);
  rmq_msg_destroy(m); /* must not free the borrowed body */
  CHECK_ERR(rmq_msg_set_body(NULL, "x", 1), RMQ_ERR_INVALID_ARG);
}

TEST(topic_validation_matches_java) {
  char err[128];
  CHECK(rmqi_topic_valid("Topic_A-1%|", err, sizeof(err)));
  CHECK(!rmqi_topic_valid("", err, sizeof(err)));
  CHECK(!rmqi_topic_valid("with space", err, sizeof(err)));
  CHECK(!rmqi_topic_valid("dot.topic", err, sizeof(err)));
  char longt[129];
  memset(longt, 'a', 128);
  longt[128] = 0;
  CHECK(!rmqi_topic_valid(longt, err, sizeof(err)));
  longt[127] = 0;
  CHECK(rmqi_topic_valid(longt, err, sizeof(err)));
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(new_message_waits_for_store_like_java),
      TCASE(new_message_block_changes_copy_out),
      TCASE(setters_replace_and_keep_order),
      TCASE(reserved_and_unencodable_properties_are_refused),
      TCASE(thirteen_thousand_properties_are_indexed),
      TCASE(delay_and_timer_properties),
      TCASE(bodies_copied_or_handed_over),
      TCASE(topic_validation_matches_java),
  };
  return RUN_TESTS(cases);
}
